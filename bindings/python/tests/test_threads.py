"""The engine runs with the GIL released: other Python threads keep
running while a big layer is encrypted or decrypted (from paths, and from
file objects, whose callbacks take the GIL for each chunk only), and
threads share one Keys."""

import hashlib
import io
import os
import shutil
import tarfile
import threading
import time

import pytest

import layercrypt
from helpers import file_digest, key

MIB = 1 << 20


@pytest.fixture(scope="module")
def big_layer(tmp_path_factory):
    """A 160 MiB tar of random bytes, encrypted: (descriptor, encrypted
    path, digest of the tar). Removed after the module's tests (pytest
    keeps its temporary directories)."""
    d = tmp_path_factory.mktemp("big")
    tar, enc = d / "layer.tar", d / "layer.enc"
    info = tarfile.TarInfo("random.bin")
    info.size = 160 * MIB
    with tarfile.open(tar, "w") as t:
        t.addfile(info, io.BytesIO(os.urandom(info.size)))
    desc = layercrypt.encrypt_layer(tar, enc, key("rsa2048.pub.pem"))
    yield desc, enc, desc["diff_id"]
    shutil.rmtree(d)


class Spinner:
    """A thread that runs Python bytecode and notes when it does."""

    def __init__(self):
        self.ticks, self._stop = [], threading.Event()
        self._thread = threading.Thread(target=self._spin)

    def _spin(self):
        n = 0
        while not self._stop.is_set():
            n += 1
            if n % 2000 == 0:
                self.ticks.append(time.perf_counter())

    def __enter__(self):
        self._thread.start()
        while not self.ticks:
            time.sleep(0.001)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def ran_during(self, start, end):
        """Whether the thread ran in the middle half of [start, end]."""
        q = (end - start) / 4
        return any(start + q < t < end - q for t in self.ticks)


class HashWriter:
    """write() only: hashes what arrives."""

    def __init__(self):
        self.hash = hashlib.sha256()

    def write(self, b):
        self.hash.update(b)


def timed(f, *args, **kwargs):
    start = time.perf_counter()
    result = f(*args, **kwargs)
    return result, start, time.perf_counter()


def test_python_runs_while_a_path_layer_decrypts(big_layer):
    # To a device: no fsync (which releases the GIL itself) at the end.
    desc, enc, _ = big_layer
    keys = layercrypt.Keys(key("rsa2048.pem"))
    with Spinner() as s:
        plain, start, end = timed(layercrypt.decrypt_layer, enc, "/dev/null", desc, keys)
    assert end - start > 0.05
    assert s.ran_during(start, end), f"no Python ran in {end - start:.3f} s of decryption"
    assert plain["size"] == os.path.getsize(enc)


def test_python_runs_while_a_file_object_layer_encrypts(big_layer):
    _, enc, _ = big_layer
    tar = enc.parent / "layer.tar"
    sink = HashWriter()
    with Spinner() as s, open(tar, "rb") as f:
        desc, start, end = timed(layercrypt.encrypt_layer, f, sink, key("ecp256.pub.pem"))
    assert s.ran_during(start, end), f"no Python ran in {end - start:.3f} s of encryption"
    assert desc["digest"] == "sha256:" + sink.hash.hexdigest()


def test_threads_share_keys(tmp_path, big_layer):
    desc, enc, diff_id = big_layer
    keys = layercrypt.Keys([key("ecp256.pem"), key("rsa2048.pem")])
    results, errors = {}, []

    def work(i):
        try:
            out = tmp_path / f"out{i}"
            layercrypt.decrypt_layer(enc, out, desc, keys, stream=bool(i % 2))
            results[i] = file_digest(out)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        (tmp_path / f"out{i}").unlink(missing_ok=True)
    assert errors == []
    assert results == {i: diff_id for i in range(4)}
