"""The layers Go's ocicrypt encrypted (tests/vectors/ocicrypt: skopeo and
ctr-enc images for RSA, EC, PKCS7 and several recipients) decrypt to the
plaintext digests and, with decompress, to the diff_ids expected.json
records; their descriptors need no blob to check the keys."""

import io
import json

import pytest

import layercrypt
from helpers import VECTORS, blob_path, sha256_digest


def encrypted_layers():
    expected = json.loads((VECTORS / "expected.json").read_text())
    for name, image in expected["images"].items():
        for i, layer in enumerate(image["layers"]):
            if layer["encrypted"]:
                yield pytest.param(image, layer, id=f"{name}-layer{i}")


@pytest.mark.parametrize("image,layer", list(encrypted_layers()))
def test_go_made_layer(image, layer):
    desc = (VECTORS / layer["payloads"]["desc"]).read_text()
    blob = blob_path(VECTORS / image["layout"], layer["digest"])
    keys = layercrypt.Keys(str(VECTORS / image["key_dirs_that_decrypt"][0]))
    layercrypt.check_layer_keys(desc, keys)
    out = io.BytesIO()
    plain = layercrypt.decrypt_layer(blob, out, desc, keys)
    assert sha256_digest(out.getvalue()) == layer["expected_output_digest"]
    assert plain["digest"] == layer["expected_output_digest"]
    assert plain["mediaType"] == layer["expected_output_mediaType"]
    assert plain["size"] == len(out.getvalue())
    tar = io.BytesIO()
    layercrypt.decrypt_layer(blob, tar, desc, keys, decompress=True)
    assert sha256_digest(tar.getvalue()) == layer["expected_diff_id"]


def test_every_key_dir_that_should_open_a_layer(expected):
    runs = 0
    for image in expected["images"].values():
        layer = next(l for l in image["layers"] if l["encrypted"])
        desc = (VECTORS / layer["payloads"]["desc"]).read_text()
        for d in image["key_dirs_that_decrypt"]:
            layercrypt.check_layer_keys(desc, str(VECTORS / d))
            runs += 1
    assert runs >= 30
