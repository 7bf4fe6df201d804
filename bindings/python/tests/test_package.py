"""The package itself: versions that agree with the project's, the
exports, and `pip install --no-build-isolation` from the tree without
network access (Debian's setuptools, pybind11 and wheel)."""

import os
import re
import shutil
import subprocess
import sys

import layercrypt
from helpers import REPO, key, require


def test_versions_agree_with_the_project():
    cmake = (REPO / "CMakeLists.txt").read_text()
    version = re.search(r"project\(layercrypt VERSION (\S+)", cmake).group(1)
    assert layercrypt.__version__ == version
    pyproject = (REPO / "bindings" / "python" / "pyproject.toml").read_text()
    assert re.search(r'^version = "(.+)"$', pyproject, re.M).group(1) == version
    header = (REPO / "bindings" / "c" / "layercrypt.h").read_text()
    api = tuple(int(re.search(rf"#define LC_API_VERSION_{p} (\d+)", header).group(1)) for p in ("MAJOR", "MINOR"))
    assert layercrypt.API_VERSION == api


def test_exports_and_cpu_paths():
    for name in layercrypt.__all__:
        assert hasattr(layercrypt, name), name
    paths = layercrypt.cpu_paths()
    assert isinstance(paths, list) and all(isinstance(p, str) and p for p in paths)
    assert any("AES" in p for p in paths), paths


def test_pip_install_without_network(tmp_path):
    """The documented command builds and installs the package against a
    build tree's liblayercrypt (LAYERCRYPT_LIBRARY_DIR, set by ctest)."""
    lib_dir = os.environ.get("LAYERCRYPT_LIBRARY_DIR")
    require("LAYERCRYPT_LIBRARY_DIR (the directory of liblayercrypt.so)", lib_dir)
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    require("pip (apt-get install python3-pip)", pip.returncode == 0)
    # A copy, so that the in-tree build leaves nothing in the source tree.
    src = tmp_path / "src"
    shutil.copytree(REPO / "bindings" / "python", src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "tests", "bench", "*.so"))
    env = dict(os.environ, LAYERCRYPT_INCLUDE_DIR=str(REPO / "bindings" / "c"),
               LAYERCRYPT_LIBRARY_DIR=lib_dir, PIP_NO_INDEX="1")
    env.pop("PYTHONPATH", None)
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                        "--target", str(target), str(src)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    script = (
        "import io, sys, tarfile, layercrypt\n"
        "buf = io.BytesIO()\n"
        "with tarfile.open(fileobj=buf, mode='w') as t:\n"
        "    info = tarfile.TarInfo('f'); info.size = 3; t.addfile(info, io.BytesIO(b'abc'))\n"
        "enc, out = io.BytesIO(), io.BytesIO()\n"
        f"d = layercrypt.encrypt_layer(io.BytesIO(buf.getvalue()), enc, {key('ecp256.pub.pem')!r})\n"
        f"layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), out, d, {key('ecp256.pem')!r})\n"
        "assert out.getvalue() == buf.getvalue()\n"
        "print(layercrypt._layercrypt.__file__)\n")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       env=dict(env, PYTHONPATH=str(target)), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(target))
