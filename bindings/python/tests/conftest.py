"""Fixtures for the layercrypt binding's tests (see helpers.py)."""

import json
import os
import shutil

import pytest

from helpers import VECTORS, require


@pytest.fixture(scope="session")
def expected():
    return json.loads((VECTORS / "expected.json").read_text())


@pytest.fixture(scope="session")
def plain_layers(expected):
    """The Go-made plain image's layers: (descriptor, blob path), base first."""
    blobs = VECTORS / "images" / "plain" / "blobs" / "sha256"
    return [(l, blobs / l["digest"][7:]) for l in expected["plain"]["layers"]]


@pytest.fixture(scope="session")
def tar_layer(plain_layers):
    """An uncompressed tar layer: (bytes, its digest)."""
    desc, path = plain_layers[1]
    assert desc["mediaType"].endswith(".tar")
    return path.read_bytes(), desc["digest"]


@pytest.fixture(scope="session")
def plain_image():
    return f"oci:{VECTORS / 'images' / 'plain'}:v1"


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("LAYERCRYPT_CLI")
    require("the layercrypt CLI (set LAYERCRYPT_CLI)", path and os.access(path, os.X_OK))
    return path


@pytest.fixture(scope="session")
def skopeo():
    path = shutil.which("skopeo")
    require("skopeo (apt-get install skopeo)", path)
    return path
