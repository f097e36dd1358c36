"""Hostile inputs to the benchmark: an output path that is both the report and the chart; malformed requests and
many clients at its HTTP server."""

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from deepearth_training.bench_paths import HTTPBatches, serve_batches
from deepearth_training.benchmark import main
from deepearth_training.store import open_store


@pytest.mark.parametrize('extra', [[], ['--chart', 'b.png']])
def test_report_and_chart_on_one_path_refused(extra, tiny_store, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ['--store', str(tiny_store), '--out', 'b.png', '--batch-size', '2', '--runs', '1']
    assert main([*argv, '--modes', 'pooled', '--paths', 'loader', *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('error: --out b.png') and 'same file' in err[0], err
    assert list(tmp_path.iterdir()) == []  # nothing written


def status_of(address, raw: bytes) -> int:
    """Send `raw` bytes to the server at `address` as one request; the status code of its answer."""
    with socket.create_connection(address, timeout=60) as s:
        s.sendall(raw)
        s.shutdown(socket.SHUT_WR)
        head = b''
        while b'\r\n' not in head and (chunk := s.recv(4096)):
            head += chunk
    return int(head.split(b' ', 2)[1])


def post(body: bytes, path: str = '/batch', length: str | None = None) -> bytes:
    """A raw POST request with `body` and a Content-Length (the body's unless `length`)."""
    length = str(len(body)) if length is None else length
    return f'POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n'.encode() + body


MALFORMED = {
    'not json': (post(b'notjson'), 400),
    'json list': (post(b'[]'), 400),
    'no encoding': (post(b'{"ids": ["1_1"], "mode": "pooled"}'), 400),
    'ids not a list': (post(b'{"ids": "1_1", "mode": "pooled", "encoding": "npy"}'), 400),
    'unknown mode': (post(b'{"ids": ["1_1"], "mode": "images", "encoding": "npy"}'), 400),
    'length not a number': (post(b'{}', length='abc'), 400),
    'negative length': (post(b'{}', length='-1'), 400),
    'no length': (b'POST /batch HTTP/1.1\r\nHost: x\r\n\r\n', 400),
    'not utf-8': (post(b'\xff\xfe'), 400),
    'unknown ids': (post(b'{"ids": ["1_1"], "mode": "pooled", "encoding": "npy"}'), 400),
    'unknown path': (post(b'{}', path='/other'), 404),
    'GET unknown path': (b'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n', 404),
    'bad request version': (b'POST /batch HTTP/x.y\r\n\r\n', 400),
    'garbage request line': (b'garbage\r\n\r\n', 400),
}


@pytest.fixture(scope='module')
def server(tiny_store):
    """The benchmark's batch server on the tiny store: (address, store)."""
    store = open_store(tiny_store)
    with serve_batches(store, max_requests=10_000) as address:
        yield address, store


@pytest.mark.parametrize('name', MALFORMED)
def test_malformed_request_is_answered_without_traceback(name, server, capfd):
    raw, code = MALFORMED[name]
    assert status_of(server[0], raw) == code
    err = capfd.readouterr().err
    assert 'Traceback' not in err and 'Error' not in err, err


def test_64_concurrent_clients_are_all_served(server, capfd):
    address, store = server
    ids = store.observations.observation_id[store.observations.has_vision][:4].tolist()
    go = threading.Barrier(64)

    def client(_):
        go.wait()
        c = HTTPBatches(address, 'npy', {})
        try:
            return c.batch(ids, 'pooled')['vision_embeddings'].shape
        finally:
            c.close()

    with ThreadPoolExecutor(64) as pool:
        shapes = list(pool.map(client, range(64)))
    assert shapes == [(4, store.vision_shape[-1])] * 64
    assert 'Traceback' not in capfd.readouterr().err
