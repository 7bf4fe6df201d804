"""Builds layercrypt._layercrypt against liblayercrypt (the C API, layercrypt.h).

Where liblayercrypt is found, first match wins:
  1. LAYERCRYPT_INCLUDE_DIR (holds layercrypt.h) and LAYERCRYPT_LIBRARY_DIR
     (holds liblayercrypt.so), e.g. for a build tree, from the repository:
       LAYERCRYPT_INCLUDE_DIR=bindings/c LAYERCRYPT_LIBRARY_DIR=build/release/bindings
     (relative to the directory pip runs in).
  2. pkg-config layercrypt (an installed layercrypt; PKG_CONFIG_PATH for
     another prefix).
A library outside the system's default directories is found at run time
through an RPATH to its directory.
"""

import os
import shlex
import subprocess

from pybind11.setup_helpers import Pybind11Extension
from setuptools import setup

SYSTEM_LIB_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "layercrypt"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


def env_dir(var, holds):
    """The directory $var names; a relative one is taken from the directory
    pip was started in ($PWD: pip builds in the project's directory)."""
    d = os.path.join(os.environ.get("PWD", os.getcwd()), os.environ[var])
    if not os.path.isfile(os.path.join(d, holds)):
        raise SystemExit(f"layercrypt: {var}={os.environ[var]} has no {holds} (looked in {d})")
    return os.path.normpath(d)


def find_layercrypt():
    """Returns (include_dirs, library_dirs)."""
    inc, lib = os.environ.get("LAYERCRYPT_INCLUDE_DIR"), os.environ.get("LAYERCRYPT_LIBRARY_DIR")
    if inc or lib:
        if not (inc and lib):
            raise SystemExit("layercrypt: set both LAYERCRYPT_INCLUDE_DIR and LAYERCRYPT_LIBRARY_DIR")
        return ([env_dir("LAYERCRYPT_INCLUDE_DIR", "layercrypt.h")],
                [env_dir("LAYERCRYPT_LIBRARY_DIR", "liblayercrypt.so")])
    cflags, libs = pkg_config("--cflags-only-I"), pkg_config("--libs-only-L")
    if cflags is None or libs is None:
        raise SystemExit(
            "layercrypt: liblayercrypt not found. Install layercrypt (cmake --install) so that "
            "`pkg-config layercrypt` finds it, or point LAYERCRYPT_INCLUDE_DIR at bindings/c and "
            "LAYERCRYPT_LIBRARY_DIR at the directory of liblayercrypt.so (build/release/bindings).")
    return ([os.path.normpath(f[2:]) for f in cflags if f.startswith("-I")],
            [os.path.normpath(f[2:]) for f in libs if f.startswith("-L")])


def rpath(library_dirs):
    """The library directories the dynamic loader does not search by default."""
    return [d for d in library_dirs
            if not any(d == s or d.startswith(s + "/") for s in SYSTEM_LIB_DIRS)]


include_dirs, library_dirs = find_layercrypt()
setup(packages=["layercrypt"], ext_modules=[Pybind11Extension(
    "layercrypt._layercrypt",
    ["src/layercrypt_module.cc"],
    include_dirs=include_dirs,
    library_dirs=library_dirs,
    runtime_library_dirs=rpath(library_dirs),
    libraries=["layercrypt"],
    cxx_std=17,
)])
