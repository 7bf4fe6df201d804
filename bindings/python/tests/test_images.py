"""Whole images, and the binding against its peers: what it encrypts,
Debian's skopeo (Go ocicrypt) and the layercrypt CLI decrypt; what they
encrypt, it decrypts."""

import json

import pytest

import layercrypt
from helpers import TAR, blob_path, file_digest, key, layout_layers, ocitest, run


def layer_digests(layout):
    return [l["digest"] for l in layout_layers(layout)]


@pytest.fixture(scope="module")
def plain_digests(plain_layers):
    return [d["digest"] for d, _ in plain_layers]


def test_image_round_trip(tmp_path, plain_image, plain_digests):
    enc, dec = tmp_path / "enc", tmp_path / "dec"
    report = layercrypt.encrypt_image(plain_image, f"oci:{enc}:v1", ["jwe:" + key("ecp384.pub.pem")])
    assert [l["index"] for l in report["layers"]] == [0, 1, 2, 3]
    # layercrypt.h names these from_digest and to_digest; the library writes
    # "from" and "to", as `layercrypt encrypt --json` does.
    assert [l["from"] for l in report["layers"]] == plain_digests
    assert [l["to"] for l in report["layers"]] == layer_digests(enc)
    assert {l["action"] for l in report["layers"]} == {"encrypted"}
    assert report["warnings"] == []
    rows = layercrypt.layer_info(f"oci:{enc}:v1")
    assert [r["encryption"] for r in rows] == ["jwe"] * 4
    assert rows[0]["recipients"] == ["jwe:ECDH-ES+A256KW"]

    with pytest.raises(layercrypt.KeyUnavailableError):
        layercrypt.decrypt_image(f"oci:{enc}:v1", f"oci:{tmp_path / 'never'}:v1", key("ecp256.pem"))
    assert not (tmp_path / "never").exists()
    layercrypt.decrypt_image(f"oci:{enc}:v1", f"oci:{dec}:v1", layercrypt.Keys(key("ecp384.pem")))
    assert layer_digests(dec) == plain_digests
    assert [r["encryption"] for r in layercrypt.layer_info(f"{dec}:v1")] == [""] * 4


def test_archive_and_compression(tmp_path, plain_image, plain_layers):
    archive = tmp_path / "enc.tar"
    layercrypt.encrypt_image(plain_image, f"oci-archive:{archive}:v1", key("rsa2048.pub.pem"),
                             compression="zstd")
    rows = layercrypt.layer_info(f"oci-archive:{archive}:v1")
    assert rows[1]["mediaType"] == TAR + "+zstd+encrypted"  # the tar was compressed
    assert rows[0]["mediaType"] == plain_layers[0][0]["mediaType"] + "+encrypted"  # gzip stays
    layercrypt.decrypt_image(archive, f"oci:{tmp_path / 'dec'}:v1", key("rsa2048.pem"))
    assert layout_layers(tmp_path / "dec")[1]["mediaType"] == TAR + "+zstd"


def skopeo_copy(skopeo, src, dst, *args):
    run(skopeo, "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers", *args,
        f"oci:{src}:v1", f"oci:{dst}:v1")


def test_skopeo_decrypts_what_the_binding_encrypts(tmp_path, skopeo, plain_image, plain_digests):
    enc = tmp_path / "enc"
    layercrypt.encrypt_image(plain_image, f"oci:{enc}:v1",
                             ["jwe:" + key("rsa2048.pub.pem"), "pkcs7:" + key("pkcs7.cert.pem")])
    skopeo_copy(skopeo, enc, tmp_path / "dec-rsa", "--decryption-key", key("rsa2048.pem"))
    assert layer_digests(tmp_path / "dec-rsa") == plain_digests
    skopeo_copy(skopeo, enc, tmp_path / "dec-pkcs7", "--decryption-key", key("pkcs7.key.pem"),
                "--decryption-key", key("pkcs7.cert.pem"))
    assert layer_digests(tmp_path / "dec-pkcs7") == plain_digests
    r = run(skopeo, "--insecure-policy", "copy", "--decryption-key", key("ecp256.pem"),
            f"oci:{enc}:v1", f"oci:{tmp_path / 'wrong'}:v1", check=False)
    assert r.returncode != 0


def test_skopeo_decrypts_an_encrypt_layer_descriptor(tmp_path, skopeo, tar_layer):
    """encrypt_layer's descriptor and diff_id, put into a manifest by hand,
    are what Go's ocicrypt needs."""
    data, digest = tar_layer
    layout = tmp_path / "one"
    blobs = layout / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    desc = layercrypt.encrypt_layer(write_tar(tmp_path, data), blobs / "layer", key("ecp256.pub.pem"),
                                    compression="gzip")
    (blobs / "layer").rename(blobs / desc["digest"][7:])
    config = ocitest.go_json({"architecture": "amd64", "os": "linux",
                              "rootfs": {"type": "layers", "diff_ids": [desc["diff_id"]]}})
    manifest = ocitest.go_json({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": ocitest.write_blob(str(layout), config), "size": len(config)},
        "layers": [{k: v for k, v in desc.items() if k != "diff_id"}]})
    ocitest.write_index(str(layout), manifest, "application/vnd.oci.image.manifest.v1+json")
    skopeo_copy(skopeo, layout, tmp_path / "dec", "--decryption-key", key("ecp256.pem"))
    (plain,) = layout_layers(tmp_path / "dec")
    assert plain["mediaType"] == TAR + "+gzip"
    tar = tmp_path / "tar"
    layercrypt.decrypt_layer(blob_path(layout, desc["digest"]), tar, desc, key("ecp256.pem"),
                             decompress=True)
    assert file_digest(tar) == digest == desc["diff_id"]
    assert plain["digest"] == file_digest(blob_path(tmp_path / "dec", plain["digest"]))


def write_tar(tmp_path, data):
    path = tmp_path / "layer.tar"
    path.write_bytes(data)
    return path


def test_binding_decrypts_what_skopeo_encrypts(tmp_path, skopeo, plain_image, plain_digests):
    enc = tmp_path / "enc"
    skopeo_copy(skopeo, plain_image.split(":")[1], enc, "--encryption-key", "jwe:" + key("ecp256.pub.pem"),
                "--encryption-key", "jwe:" + key("rsa4096.pub.pem"))
    keys = layercrypt.Keys(key("ecp256.pem"))
    for desc, want in zip(layout_layers(enc), plain_digests):
        assert desc["mediaType"].endswith("+encrypted")
        out = tmp_path / "layer"
        plain = layercrypt.decrypt_layer(blob_path(enc, desc["digest"]), out, desc, keys)
        assert plain["digest"] == want == file_digest(out)
    layercrypt.decrypt_image(f"oci:{enc}:v1", f"oci:{tmp_path / 'dec'}:v1", key("rsa4096.pem"))
    assert layer_digests(tmp_path / "dec") == plain_digests


def test_cli_encrypt_layer_to_binding(tmp_path, cli, tar_layer):
    data, digest = tar_layer
    src = write_tar(tmp_path, data)
    out = run(cli, "encrypt-layer", "--compress", "zstd", "-r", "jwe:" + key("rsa2048.pub.pem"),
              "-o", tmp_path / "enc", src).stdout
    made = json.loads(out)
    assert made["diffID"] == digest
    tar = tmp_path / "tar"
    plain = layercrypt.decrypt_layer(tmp_path / "enc", tar, made["descriptor"], key("rsa2048.pem"),
                                     decompress=True)
    assert tar.read_bytes() == data
    assert plain["digest"] == made["plainDigest"]
    assert plain["mediaType"] == TAR + "+zstd"
    # ... and the binding's own encryption of the same tar describes it alike.
    ours = layercrypt.encrypt_layer(src, tmp_path / "enc2", key("rsa2048.pub.pem"), compression="zstd")
    assert ours["mediaType"] == made["descriptor"]["mediaType"]
    assert ours["diff_id"] == made["diffID"]
    assert set(ours["annotations"]) == set(made["descriptor"]["annotations"])


def test_cli_and_binding_images(tmp_path, cli, plain_image, plain_digests):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    layercrypt.encrypt_image(plain_image, f"oci:{ours}:v1", "jwe:" + key("ecp521.pub.pem"))
    run(cli, "decrypt", "--key", key("ecp521.pem"), f"oci:{ours}:v1", f"oci:{tmp_path / 'a'}:v1")
    assert layer_digests(tmp_path / "a") == plain_digests
    run(cli, "encrypt", "-r", "pkcs7:" + key("pkcs7.cert.pem"), plain_image, f"oci:{theirs}:v1")
    layercrypt.decrypt_image(f"oci:{theirs}:v1", f"oci:{tmp_path / 'b'}:v1",
                             [key("pkcs7.key.pem"), key("pkcs7.cert.pem")])
    assert layer_digests(tmp_path / "b") == plain_digests
    listed = json.loads(run(cli, "layerinfo", "--json", f"oci:{theirs}:v1").stdout)
    assert layercrypt.layer_info(f"oci:{theirs}:v1") == listed
