"""Atomic, resumable preparation; clear failures when opening missing, partial or incompatible stores; the CLI."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

import deepearth_training.prepare as store_mod
import deepearth_training.vision_stream as stream_mod
from deepearth_training.source_tables import VISION_DIR, shard_name
from deepearth_training.source import iter_shard
from deepearth_training.prepare import main, prepare_store
from deepearth_training.store import MANIFEST, PROGRESS, open_store, verify_store


def interrupted_prepare(src, dst, monkeypatch, after=1):
    """Run prepare_store, raising KeyboardInterrupt when shard number `after` starts; return the shards read."""
    seen = []

    def fake(path, grid, batch_rows=None, check_float16=False):
        seen.append(path.name)
        if path.name == shard_name(after):
            raise KeyboardInterrupt
        yield from iter_shard(path, grid, batch_rows, check_float16)

    with monkeypatch.context() as m:
        m.setattr(stream_mod, 'iter_shard', fake)
        with pytest.raises(KeyboardInterrupt):
            prepare_store(src, dst, progress=False)
    return seen


def counting(monkeypatch):
    seen = []

    def fake(path, grid, batch_rows=None, check_float16=False):
        seen.append(path.name)
        yield from iter_shard(path, grid, batch_rows, check_float16)

    monkeypatch.setattr(stream_mod, 'iter_shard', fake)
    return seen


def test_interrupt_then_resume(tiny_source, tiny_store, tmp_path, monkeypatch):
    dst = tmp_path / 'store'
    interrupted_prepare(tiny_source, dst, monkeypatch, after=2)
    part = tmp_path / '.store.partial'
    assert not dst.exists() and part.is_dir() and not (part / MANIFEST).exists()
    done = json.loads((part / PROGRESS).read_text())['done_shards']
    assert done and set(done) <= {0, 1}  # two shards stream at once: the failure of shard 2 may stop shard 1 unfinished
    with pytest.raises(ValueError, match='not a complete store'):
        open_store(part)
    seen = counting(monkeypatch)
    prepare_store(tiny_source, dst, progress=False)
    assert not {shard_name(f) for f in done} & set(seen) and shard_name(2) in seen  # resumed, not restarted
    assert not part.exists() and not (dst / PROGRESS).exists()
    assert open_store(dst).manifest['checksums'] == open_store(tiny_store).manifest['checksums']
    assert verify_store(dst, progress=False)


def test_restart_when_source_changed(tiny_source, tmp_path, monkeypatch):
    src = shutil.copytree(tiny_source, tmp_path / 'src')
    dst = tmp_path / 'store'
    interrupted_prepare(src, dst, monkeypatch, after=1)
    os.utime(src / VISION_DIR / shard_name(0))  # the source changed since: the partial build is stale
    seen = counting(monkeypatch)
    prepare_store(src, dst, progress=False)
    assert shard_name(0) in seen and verify_store(dst, progress=False)


def test_restart_when_options_changed(tiny_source, tmp_path, monkeypatch):
    dst = tmp_path / 'store'
    interrupted_prepare(tiny_source, dst, monkeypatch, after=1)
    prepare_store(tiny_source, dst, dtype='float32', progress=False)
    assert open_store(dst).vision.dtype == np.float32 and verify_store(dst, progress=False)


def test_complete_store_is_reused(tiny_source, tiny_store, monkeypatch):
    before = (tiny_store / MANIFEST).stat().st_mtime_ns
    seen = counting(monkeypatch)
    assert prepare_store(tiny_source, tiny_store, progress=False) == tiny_store
    assert seen == [] and (tiny_store / MANIFEST).stat().st_mtime_ns == before


def test_existing_other_store(tiny_source, tmp_path):
    dst = prepare_store(tiny_source, tmp_path / 'store', progress=False)
    with pytest.raises(FileExistsError, match='overwrite'):
        prepare_store(tiny_source, dst, dtype='float32', progress=False)
    assert open_store(dst).vision.dtype == np.float16
    prepare_store(tiny_source, dst, dtype='float32', overwrite=True, progress=False)
    assert open_store(dst).vision.dtype == np.float32 and not (tmp_path / '.store.old').exists()
    (tmp_path / 'plain').mkdir()
    with pytest.raises(FileExistsError):
        prepare_store(tiny_source, tmp_path / 'plain', progress=False)


def test_open_failures(tiny_store, tmp_path):
    with pytest.raises(FileNotFoundError, match='store not found'):
        open_store(tmp_path / 'nowhere')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='not a complete store'):
        open_store(tmp_path / 'empty')
    s = shutil.copytree(tiny_store, tmp_path / 'copy')
    m = json.loads((s / MANIFEST).read_text())
    (s / MANIFEST).write_text(json.dumps({**m, 'format_version': 99}))
    with pytest.raises(ValueError, match='format version 99'):
        open_store(s)
    (s / MANIFEST).write_text(json.dumps({**m, 'shapes': {**m['shapes'], 'pooled': [1, 2]}}))
    with pytest.raises(ValueError, match='manifest.json: edited since prepare'):
        open_store(s)
    (s / MANIFEST).write_text(json.dumps(m))
    (s / 'vision.npy').unlink()
    with pytest.raises(ValueError, match='missing vision.npy'):
        open_store(s)
    (s / MANIFEST).write_text('{"format_version": 1,')
    with pytest.raises(ValueError, match='unreadable manifest'):
        open_store(s)


def test_verify_detects_corruption(tiny_store, tmp_path):
    s = shutil.copytree(tiny_store, tmp_path / 'copy')
    v = np.load(s / 'vision.npy', mmap_mode='r+')
    v[7, 0, 0, 0, 0] += 1
    v.flush()
    del v
    with pytest.raises(ValueError, match='vision row 7'):
        verify_store(s, progress=False)


def test_shard_subset(tiny_source, tmp_path):
    s = open_store(prepare_store(tiny_source, tmp_path / 'store', shards=[0, 2], progress=False))
    o = s.observations
    assert set(o.file_idx[o.has_vision]) == {0, 2} and s.manifest['counts']['left_out_gbif_observations'] > 0
    assert s.manifest['source']['shards'] == [0, 2] and (~o.has_vision).any()


def test_manifest(tiny_store, tiny_source):
    m = open_store(tiny_store).manifest
    assert m['counts']['vision'] == m['shapes']['vision'][0] and m['shapes']['vision'][1:] == [2, 2, 2, 1408]
    assert m['dtypes'] == {'vision': 'float16', 'pooled': 'float32', 'language': 'float32', 'vision_digests': 'uint8'}
    assert m['source']['path'] == str(tiny_source.resolve()) and set(m['source']['sha256']) == {
        'observations.parquet',
        'vision_index.parquet',
    }
    assert all(v.startswith('sha256') for v in m['checksums'].values())


def test_cli(tiny_source, tmp_path, capsys):
    assert main(['--source', str(tiny_source), '--store', str(tmp_path / 's'), '--quiet']) == 0
    assert 'store ready' in capsys.readouterr().out
    assert main(['--source', str(tmp_path / 'nowhere'), '--store', str(tmp_path / 's2')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and err.count('\n') == 1 and 'nowhere' in err
    for bad in (['--grid', '1,2,3'], ['--grid', '1,0,2,8']):  # checked where parsed: a usage error, exit 2
        with pytest.raises(SystemExit) as e:
            main(['--source', str(tiny_source), '--store', str(tmp_path / 's3'), *bad])
        assert e.value.code == 2
    assert 'T,H,W,C' in capsys.readouterr().err
    assert main(['--store', str(tmp_path / 's4')]) == 2  # neither --source, --download nor --verify
    assert 'one of --source, --download or --verify is required' in capsys.readouterr().err
    assert main(['--verify', '--store', str(tmp_path / 's'), '--quiet']) == 0
    with open(tmp_path / 's' / 'pooled.npy', 'r+b') as f:
        f.seek(200)
        f.write(b'\xff' * 64)
    assert main(['--verify', '--store', str(tmp_path / 's'), '--quiet']) == 2
    assert 'pooled.npy: checksum mismatch' in capsys.readouterr().err


def test_cli_interrupt_exit_code(tiny_source, tmp_path, monkeypatch, capsys):
    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod, 'prepare_store', boom)
    assert main(['--source', str(tiny_source), '--store', str(tmp_path / 's')]) == 130
    assert 'resume' in capsys.readouterr().err


def test_download_without_huggingface_hub(tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, 'huggingface_hub', None)  # makes `import huggingface_hub` fail
    assert main(['--download', 'deepearth/central-florida-native-plants', '--store', str(tmp_path / 's')]) == 2
    assert 'pip install huggingface_hub' in capsys.readouterr().err


def test_console_script(tmp_path):
    r = subprocess.run(
        ['deepearth-prepare', '--source', str(tmp_path / 'missing'), '--store', str(tmp_path / 's')],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.startswith('error: ') and r.stderr.count('\n') == 1
    assert subprocess.run(['deepearth-prepare', '--help'], capture_output=True).returncode == 0


def test_no_vision_needs_grid(tiny_source, tmp_path):
    with pytest.raises(ValueError, match='no vision embeddings to prepare'):
        prepare_store(tiny_source, tmp_path / 'store', shards=[], progress=False)
    assert not (tmp_path / 'store').exists() and not (tmp_path / '.store.partial').exists()
    s = open_store(prepare_store(tiny_source, tmp_path / 'store', shards=[], grid=(2, 2, 2, 1408), progress=False))
    assert (
        len(s.vision) == 0 and s.vision_shape == (2, 2, 2, 1408) and not s.observations.has_vision.any() and len(s) > 0
    )


def _page_cached(path, offset: int) -> bool:
    """Whether the 4 KiB at `offset` of `path` are in the page cache (a read that may not wait for the disk succeeds)."""
    with open(path, 'rb', buffering=0) as f:
        try:
            return os.preadv(f.fileno(), [bytearray(4096)], offset, os.RWF_NOWAIT) > 0
        except BlockingIOError:
            return False
        except OSError as e:  # tmpfs keeps every page in memory and cannot say
            pytest.skip(f'{path}: the file system cannot read without waiting ({e.strerror})')


def test_prepare_leaves_its_files_out_of_the_page_cache(tiny_source, tmp_path):
    """Written row by row, the store's files would stay cached in 4 KiB pages; prepare drops them once synced."""
    store = open_store(prepare_store(tiny_source, tmp_path / 'store', progress=False))
    vision = store.path / 'vision.npy'
    middle = store.vision.nbytes // 2
    page = (store.vision.offset + middle) // 4096 * 4096
    assert not _page_cached(vision, page)
    int(np.asarray(store.vision).reshape(-1).view(np.uint8)[middle])  # read back through the map
    assert _page_cached(vision, page)
