"""One layer at a time: encrypt_layer and decrypt_layer round trips over
paths, descriptors and file objects, every compression, RSA, EC and PKCS7
recipients, and every way of giving keys."""

import io
import json
import os
from pathlib import Path

import pytest

import layercrypt
from helpers import TAR, Collect, ReadOnly, big_tar, file_digest, key, password, sha256_digest

RSA = key("rsa2048.pub.pem")
PKCS7 = "pkcs7:" + key("pkcs7.cert.pem")
PKCS7_KEYS = [key("pkcs7.key.pem"), key("pkcs7.cert.pem")]

ENCRYPTED_TYPE = {
    None: TAR + "+encrypted",
    "none": TAR + "+encrypted",
    "gzip": TAR + "+gzip+encrypted",
    "gzip:1": TAR + "+gzip+encrypted",
    "zstd": TAR + "+zstd+encrypted",
    "zstd:5": TAR + "+zstd+encrypted",
}


@pytest.fixture(scope="module")
def tar(tmp_path_factory):
    """A 3 MiB tar (several pipeline chunks) as (path, bytes)."""
    data = big_tar(3)
    path = tmp_path_factory.mktemp("tar") / "layer.tar"
    path.write_bytes(data)
    return path, data


@pytest.mark.parametrize("compression", list(ENCRYPTED_TYPE))
def test_round_trip_paths_every_compression(tmp_path, tar, compression):
    src, data = tar
    enc = tmp_path / "layer.enc"
    desc = layercrypt.encrypt_layer(src, enc, [RSA, PKCS7], compression=compression)
    assert desc["mediaType"] == ENCRYPTED_TYPE[compression]
    assert desc["size"] == enc.stat().st_size
    assert desc["digest"] == file_digest(enc)
    assert desc["diff_id"] == sha256_digest(data)
    ann = desc["annotations"]
    assert {"org.opencontainers.image.enc.keys.jwe", "org.opencontainers.image.enc.keys.pkcs7",
            "org.opencontainers.image.enc.pubopts"} <= set(ann)
    assert (enc.stat().st_mode & 0o777) == 0o644

    # Either recipient opens it; the blob comes back, or with decompress the tar.
    blob = tmp_path / "layer.blob"
    plain = layercrypt.decrypt_layer(str(enc), str(blob), desc, keys=key("rsa2048.pem"))
    assert plain["mediaType"] == ENCRYPTED_TYPE[compression][:-len("+encrypted")]
    assert plain["digest"] == file_digest(blob)
    assert plain["size"] == blob.stat().st_size
    assert set(plain) == {"mediaType", "digest", "size"}
    if compression in (None, "none"):
        assert blob.read_bytes() == data
    out = tmp_path / "layer.tar"
    layercrypt.decrypt_layer(enc, out, desc, keys=PKCS7_KEYS, decompress=True)
    assert out.read_bytes() == data
    assert (blob.stat().st_mode & 0o777) == (out.stat().st_mode & 0o777) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["layer.blob", "layer.enc", "layer.tar"]  # no temporaries


def test_round_trip_file_objects(tar):
    _, data = tar
    enc = io.BytesIO()
    desc = layercrypt.encrypt_layer(io.BytesIO(data), enc, RSA, compression="gzip")
    assert desc["size"] == len(enc.getvalue())
    assert desc["digest"] == sha256_digest(enc.getvalue())
    # A reader with read() only that returns short reads; a writer that returns None.
    src = ReadOnly(enc.getvalue(), chunk=1000)
    out = Collect()
    layercrypt.decrypt_layer(src, out, desc, key("rsa2048.pem"), decompress=True)
    assert out.getvalue() == data
    assert src.calls > len(enc.getvalue()) // 1000
    # stream=True: one pass, the same bytes.
    out = io.BytesIO()
    plain = layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), out, desc, key("rsa2048.pem"),
                                     stream=True)
    assert plain["digest"] == sha256_digest(out.getvalue())
    assert plain["mediaType"] == TAR + "+gzip"


def test_real_files_and_descriptors(tmp_path, tar):
    """Open binary files and raw file descriptors work as sources and
    destinations; the caller keeps them open."""
    src, data = tar
    enc = tmp_path / "enc"
    with open(src, "rb") as f, open(enc, "wb") as out:
        desc = layercrypt.encrypt_layer(f, out, [RSA], media_type=TAR)
        assert not out.closed
    fd_in = os.open(enc, os.O_RDONLY)
    fd_out = os.open(tmp_path / "plain", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        layercrypt.decrypt_layer(fd_in, fd_out, json.dumps(desc), key("rsa2048.pem"))
        os.fstat(fd_in), os.fstat(fd_out)  # still open
    finally:
        os.close(fd_in)
        os.close(fd_out)
    assert (tmp_path / "plain").read_bytes() == data


class ShortWriter:
    """A raw writer that takes at most 1000 bytes a call and says so."""

    def __init__(self):
        self.out, self.calls = io.BytesIO(), 0

    def write(self, b):
        self.calls += 1
        return self.out.write(b[:1000])


def test_raw_files_and_short_writes(tmp_path, tar):
    """Unbuffered files, and a write() that takes less than it was given:
    the rest goes to further calls."""
    src, data = tar
    with open(src, "rb", buffering=0) as f:
        enc = io.BytesIO()
        desc = layercrypt.encrypt_layer(f, enc, RSA)
    with open(tmp_path / "plain", "wb", buffering=0) as out:
        layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), out, desc, key("rsa2048.pem"))
    assert (tmp_path / "plain").read_bytes() == data
    short = ShortWriter()
    layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), short, desc, key("rsa2048.pem"))
    assert short.out.getvalue() == data
    assert short.calls >= len(data) // 1000


@pytest.mark.parametrize("recipient,keys", [
    ("jwe:" + key("ecp256.pub.pem"), key("ecp256.pem")),
    (key("ecp256.pub.jwk.json"), Path(key("ecp256.jwk.json")).read_bytes()),
    ("jwe:" + key("ecp384.pub.pem"), key("ecp384.sec1.der")),
    ("jwe:" + key("ecp521.pub.pem"), key("dirs/ecp521")),
    ("jwe:" + key("rsa4096.pub.pem"), Path(key("rsa4096.pem"))),
    (key("rsa2048.pub.jwk.json"), key("rsa2048.pkcs1.der")),
    (PKCS7, PKCS7_KEYS),
], ids=["ec-p256", "ec-p256-jwk", "ec-p384-sec1der", "ec-p521-dir", "rsa4096", "rsa2048-jwk", "pkcs7"])
def test_recipients_and_key_forms(tar_layer, recipient, keys):
    data, digest = tar_layer
    enc = io.BytesIO()
    desc = layercrypt.encrypt_layer(io.BytesIO(data), enc, recipient)
    layercrypt.check_layer_keys(desc, keys)
    out = io.BytesIO()
    plain = layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), out, desc, keys)
    assert out.getvalue() == data
    assert plain["digest"] == digest


def test_encrypted_keys_and_keys_objects(tar_layer):
    data, _ = tar_layer
    enc = io.BytesIO()
    desc = layercrypt.encrypt_layer(io.BytesIO(data), enc, RSA)
    pem = Path(key("rsa2048.enc.pem"))
    for keys in (layercrypt.Key(pem, password()),
                 layercrypt.Key(pem.read_bytes(), password()),
                 layercrypt.Key(str(pem), password().encode()),
                 [key("ecp256.pem"), layercrypt.Key(pem, password())]):
        out = io.BytesIO()
        layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), out, desc, keys)
        assert out.getvalue() == data
    assert "***" in repr(layercrypt.Key(pem, password()))
    assert password() not in repr(layercrypt.Key(pem, password()))
    # A Keys is parsed once and serves any number of calls.
    keys = layercrypt.Keys([key("dirs/all")])
    for _ in range(3):
        out = io.BytesIO()
        layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), out, desc, keys)
        assert out.getvalue() == data


def test_compressed_input_is_encrypted_as_it_is(plain_layers):
    desc_in, path = plain_layers[0]  # tar+gzip
    enc = io.BytesIO()
    desc = layercrypt.encrypt_layer(path, enc, RSA, compression="zstd")
    assert desc["mediaType"] == desc_in["mediaType"] + "+encrypted"
    assert desc["diff_id"] is None
    out = io.BytesIO()
    plain = layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), out, desc, key("rsa2048.pem"))
    assert plain["digest"] == desc_in["digest"]
    tar = io.BytesIO()
    layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), tar, desc, key("rsa2048.pem"), decompress=True)
    assert sha256_digest(tar.getvalue()) == desc_in["diff_id"]


def test_destination_paths(tmp_path, tar_layer):
    """An existing file is replaced whole; a device is written in place."""
    data, _ = tar_layer
    enc = tmp_path / "enc"
    enc.write_bytes(b"old contents")
    desc = layercrypt.encrypt_layer(io.BytesIO(data), enc, RSA)
    assert enc.stat().st_size == desc["size"]
    plain = layercrypt.decrypt_layer(enc, "/dev/null", desc, key("rsa2048.pem"))
    assert plain["size"] == len(data)
    assert os.listdir(tmp_path) == ["enc"]


def test_add_recipients_and_check_layer_keys(tar_layer):
    data, _ = tar_layer
    enc = io.BytesIO()
    desc = layercrypt.encrypt_layer(io.BytesIO(data), enc, RSA)
    with pytest.raises(layercrypt.KeyUnavailableError):
        layercrypt.check_layer_keys(desc, key("ecp384.pem"))
    more = layercrypt.add_recipients(desc, key("rsa2048.pem"),
                                     ["jwe:" + key("ecp384.pub.pem"), PKCS7])
    assert {k: more[k] for k in ("mediaType", "digest", "size", "diff_id")} == \
        {k: desc[k] for k in ("mediaType", "digest", "size", "diff_id")}
    layercrypt.check_layer_keys(more, key("ecp384.pem"))
    layercrypt.check_layer_keys(json.dumps(more), PKCS7_KEYS)
    layercrypt.check_layer_keys(more, key("rsa2048.pem"))  # the old recipient stays
    out = io.BytesIO()
    layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), out, more, key("ecp384.pem"))
    assert out.getvalue() == data


def test_descriptor_spellings(tar_layer):
    data, _ = tar_layer
    enc = io.BytesIO()
    desc = layercrypt.encrypt_layer(io.BytesIO(data), enc, RSA)
    desc.pop("diff_id")
    for d in (desc, json.dumps(desc), json.dumps(desc).encode(), bytearray(json.dumps(desc).encode())):
        out = io.BytesIO()
        layercrypt.decrypt_layer(io.BytesIO(enc.getvalue()), out, d, key("rsa2048.pem"))
        assert out.getvalue() == data


TOY_PROVIDER = r'''#!/usr/bin/python3
import base64, json, sys
r = json.load(sys.stdin)
if r["op"] == "keywrap":
    d = base64.b64decode(r["keywrapparams"]["optsdata"])
    print(json.dumps({"keywrapresults": {"annotation": list(d[::-1])}}))
else:
    assert r["keyunwrapparams"]["dc"]["Parameters"] == {"toy": ["bm9kZS03"]}, r
    a = base64.b64decode(r["keyunwrapparams"]["annotation"])
    print(json.dumps({"keyunwrapresults": {"optsdata": list(a[::-1])}}))
'''


def test_key_provider_from_the_environment(tmp_path, tar, monkeypatch):
    """provider:NAME recipients and keys use the providers of
    OCICRYPT_KEYPROVIDER_CONFIG, as Go ocicrypt does; the provider gets
    its own parameters only. The provider here is a toy that protects
    nothing."""
    src, data = tar
    prov = tmp_path / "prov.py"
    prov.write_text(TOY_PROVIDER)
    prov.chmod(0o755)
    conf = tmp_path / "kp.json"
    conf.write_text(json.dumps({"key-providers": {"toy": {"cmd": {"path": str(prov)}}}}))
    monkeypatch.setenv("OCICRYPT_KEYPROVIDER_CONFIG", str(conf))
    enc = tmp_path / "layer.enc"
    desc = layercrypt.encrypt_layer(src, enc, ["provider:toy", RSA])
    assert "org.opencontainers.image.enc.keys.provider.toy" in desc["annotations"]
    out = tmp_path / "layer.tar"
    layercrypt.decrypt_layer(enc, out, desc, "provider:toy:node-7")
    assert out.read_bytes() == data
    with pytest.raises(layercrypt.InvalidArgumentError):
        layercrypt.Keys(layercrypt.Key("provider:toy", password="x"))
    monkeypatch.setenv("OCICRYPT_KEYPROVIDER_CONFIG", str(tmp_path / "absent.json"))
    with pytest.raises(layercrypt.KeyUnavailableError, match="absent.json"):
        layercrypt.decrypt_layer(enc, tmp_path / "never.tar", desc, "provider:toy")
    assert not (tmp_path / "never.tar").exists()
