"""Helpers for the layercrypt binding's tests (fixtures: conftest.py).

The package under test is the one on sys.path: the module built by CMake
(PYTHONPATH=build/release/bindings/python, as the bindings.python ctest
sets it) or one installed with pip. Data comes from the repository:
tests/vectors/ocicrypt (keys, and images made by Go ocicrypt), and the OCI
layout helpers of tests/tools/ocitest.py.

Environment:
  LAYERCRYPT_CLI            the `layercrypt` CLI, for the interop tests
  LAYERCRYPT_TEST_NO_SKIP=1 a missing CLI or skopeo fails instead of
                            skipping (the ctest run sets it)
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
VECTORS = REPO / "tests" / "vectors" / "ocicrypt"
KEYS = VECTORS / "keys"

sys.path.insert(0, str(REPO / "tests" / "tools"))
import ocitest  # noqa: E402
from skopeo_interop_test import make_tar  # noqa: E402,F401

try:
    import layercrypt  # noqa: E402,F401
    from layercrypt import _layercrypt  # noqa: E402,F401
except ImportError as e:  # a setup problem, said plainly
    raise ImportError(
        f"cannot import layercrypt's extension ({e}): build it (cmake --build, target "
        "layercrypt_python) and set PYTHONPATH=build/release/bindings/python, or "
        "pip install --no-build-isolation ./bindings/python") from e

sha256_digest = ocitest.sha256_digest

TAR = "application/vnd.oci.image.layer.v1.tar"


def file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def key(name) -> str:
    """The path of a key in tests/vectors/ocicrypt/keys."""
    return str(KEYS / name)


def password(name="rsa2048.enc.password") -> str:
    return (KEYS / name).read_text().splitlines()[0]


def require(what, found):
    """Skips (or, with LAYERCRYPT_TEST_NO_SKIP=1, fails) when a tool is missing."""
    if found:
        return
    message = f"{what} not available"
    if os.environ.get("LAYERCRYPT_TEST_NO_SKIP") == "1":
        pytest.fail(message + " (LAYERCRYPT_TEST_NO_SKIP=1)")
    pytest.skip(message)


def run(*cmd, check=True):
    return subprocess.run([str(c) for c in cmd], check=check, capture_output=True)


def layout_layers(layout):
    """The layer descriptors of an OCI layout directory, base first."""
    return list(ocitest.Layout(str(layout)).layers())


def blob_path(layout, digest):
    return Path(ocitest.Layout(str(layout)).blob_path(digest))


def big_tar(mib):
    """A tar of about `mib` MiB: random bytes and text (so that it compresses
    some), deterministic."""
    rnd = hashlib.shake_256(b"layercrypt").digest(mib << 19)
    text = b"".join(b"line %d of a config file\n" % i for i in range((mib << 19) // 24))
    return make_tar([("data.bin", rnd), ("notes.txt", text)])


class ReadOnly:
    """A file object with only read(), returning at most `chunk` bytes."""

    def __init__(self, data, chunk=1000):
        self.data, self.pos, self.chunk, self.calls = data, 0, chunk, 0

    def read(self, n=-1):
        self.calls += 1
        n = min(n, self.chunk) if n >= 0 else self.chunk
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out


class Collect:
    """A file object with only write(), which returns None (a writer that
    does not count) and keeps copies of what it got."""

    def __init__(self):
        self.parts, self.calls = [], 0

    def write(self, b):
        self.calls += 1
        self.parts.append(bytes(b))

    def getvalue(self):
        return b"".join(self.parts)
