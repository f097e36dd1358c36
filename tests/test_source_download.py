"""The download path, offline: snapshot_download is replaced by a stand-in that records its arguments."""

import pytest

from deepearth_training.source import download_source
from deepearth_training.prepare import main
from deepearth_training.store import open_store

hub = pytest.importorskip('huggingface_hub')


@pytest.fixture
def fake_hub(monkeypatch, tiny_source):
    calls = []

    def snapshot_download(**kw):
        calls.append(kw)
        return str(tiny_source)

    monkeypatch.setattr(hub, 'snapshot_download', snapshot_download)
    return calls


def test_download_patterns(fake_hub, tiny_source, tmp_path):
    assert download_source('org/data', cache_dir=tmp_path, shards=[0, 12]) == tiny_source
    kw = fake_hub[0]
    assert kw['repo_id'] == 'org/data' and kw['repo_type'] == 'dataset' and kw['cache_dir'] == tmp_path
    assert {
        'observations.parquet',
        'vision_index.parquet',
        'vision_embeddings/embeddings_000000.parquet',
        'vision_embeddings/embeddings_000012.parquet',
    } <= set(kw['allow_patterns'])
    assert not any('*' in p and p.startswith('vision_embeddings') for p in kw['allow_patterns'])
    download_source('org/data')
    assert 'vision_embeddings/*.parquet' in fake_hub[1]['allow_patterns']


def test_cli_download_some_shards(fake_hub, tmp_path):
    assert main(['--download', 'org/data', '--shards', '0,1', '--store', str(tmp_path / 's'), '--quiet']) == 0
    s = open_store(tmp_path / 's')
    assert s.manifest['source']['repo_id'] == 'org/data' and s.manifest['source']['shards'] == [0, 1]
    assert set(s.observations.file_idx[s.observations.has_vision]) == {0, 1}
