"""OpenPGP through the binding, with the keyrings of tests/vectors/pgp
(Alice: no passphrase; Bob: "bob passphrase"): pgp:NAME recipients looked
up in gpg_pubring (binary or armored), secret keyrings as keys (paths,
bytes, Key with a passphrase), pgp next to jwe, whole images and adding a
pgp recipient; and the refusals, each naming its cause and never a
passphrase: a wrong or missing passphrase, no gpg_pubring, a keyring file
that is not there, a name no key matches."""

import pytest

import layercrypt
from helpers import REPO, TAR, key, layout_layers, make_tar, sha256_digest

PGP = REPO / "tests" / "vectors" / "pgp"
PGP_KEYS = "org.opencontainers.image.enc.keys.pgp"
JWE_KEYS = "org.opencontainers.image.enc.keys.jwe"
ALICE, BOB = "0xb0f98cacd6ec252e", "0x8ed46b7d6f9a9101"
BOB_PASS = "bob passphrase"
WRONG_PASS = "not-bobs-passphrase-64"


def vec(name):
    return str(PGP / name)


@pytest.fixture(scope="module")
def layer(tmp_path_factory):
    d = tmp_path_factory.mktemp("pgp")
    tar = make_tar([("etc/app.conf", b"listen = 8080\n" * 2000)])
    (d / "layer.tar").write_bytes(tar)
    return d / "layer.tar", tar


@pytest.fixture(scope="module")
def alice_and_bob(layer, tmp_path_factory):
    """A layer encrypted for pgp:alice@example.com and pgp:Bob: (blob path,
    descriptor)."""
    src, _ = layer
    enc = tmp_path_factory.mktemp("pgp-enc") / "layer.enc"
    desc = layercrypt.encrypt_layer(src, enc, ["pgp:alice@example.com", "pgp:Bob"], media_type=TAR,
                                    gpg_pubring=vec("pubring.gpg"))
    return enc, desc


def decrypts(enc, desc, keys, tar, out):
    plain = layercrypt.decrypt_layer(enc, out, desc, keys=keys)
    assert out.read_bytes() == tar
    assert plain["digest"] == sha256_digest(tar)
    out.unlink()


def test_round_trip_for_alice_and_bob(alice_and_bob, layer, tmp_path):
    enc, desc = alice_and_bob
    _, tar = layer
    assert [k for k in desc["annotations"] if ".enc.keys." in k] == [PGP_KEYS]
    bob = (PGP / "bob.sec.gpg").read_bytes()
    for keys in (vec("alice.sec.gpg"), vec("alice.sec.asc"), (PGP / "alice.sec.gpg").read_bytes(),
                 layercrypt.Key(vec("bob.sec.gpg"), BOB_PASS), layercrypt.Key(bob, BOB_PASS.encode()),
                 layercrypt.Keys([vec("carol.sec.gpg"), layercrypt.Key(vec("bob.sec.gpg"), BOB_PASS)])):
        decrypts(enc, desc, keys, tar, tmp_path / "layer.tar")


def test_armored_pubring_and_image(tmp_path, plain_image, plain_layers):
    enc, dec = tmp_path / "enc", tmp_path / "dec"
    layercrypt.encrypt_image(plain_image, f"oci:{enc}:v1", "pgp:Bob", gpg_pubring=vec("pubring.asc"))
    rows = layercrypt.layer_info(f"oci:{enc}:v1")
    assert {r["encryption"] for r in rows} == {"pgp"}
    assert rows[0]["recipients"] == [f"pgp:{BOB}"]
    layercrypt.decrypt_image(f"oci:{enc}:v1", f"oci:{dec}:v1", layercrypt.Key(vec("bob.sec.gpg"), BOB_PASS))
    assert [l["digest"] for l in layout_layers(dec)] == [d["digest"] for d, _ in plain_layers]


def test_wrong_or_missing_passphrase(alice_and_bob, tmp_path):
    enc, desc = alice_and_bob
    out = tmp_path / "layer.tar"
    for keys, message in ((layercrypt.Key(vec("bob.sec.gpg"), WRONG_PASS), f"wrong passphrase for key {BOB}"),
                          (vec("bob.sec.gpg"), f"key {BOB} is protected by a passphrase and none was given")):
        with pytest.raises(layercrypt.KeyUnavailableError) as e:
            layercrypt.decrypt_layer(enc, out, desc, keys=keys)
        assert message in str(e.value)
        assert WRONG_PASS not in str(e.value) and BOB_PASS not in str(e.value)
        assert not out.exists()
        with pytest.raises(layercrypt.KeyUnavailableError):
            layercrypt.check_layer_keys(desc, keys)
    # Carol's keyring holds neither key: the message names the keys the layer is for.
    with pytest.raises(layercrypt.KeyUnavailableError) as e:
        layercrypt.check_layer_keys(desc, vec("carol.sec.gpg"))
    assert ALICE in str(e.value) and BOB in str(e.value)
    # A public keyring is no key.
    with pytest.raises(layercrypt.KeyUnavailableError, match="no secret key"):
        layercrypt.Keys(vec("pubring.gpg"))


def test_recipients_need_a_pubring_that_matches(layer, tmp_path):
    src, _ = layer
    out = tmp_path / "layer.enc"
    with pytest.raises(layercrypt.KeyUnavailableError) as e:
        layercrypt.encrypt_layer(src, out, ["jwe:" + key("rsa2048.pub.pem"), "pgp:alice@example.com"])
    assert "pgp:alice@example.com" in str(e.value) and "gpg_pubring" in str(e.value)
    with pytest.raises(layercrypt.LayercryptIOError) as e:
        layercrypt.encrypt_layer(src, out, "pgp:alice@example.com", gpg_pubring=tmp_path / "missing.gpg")
    assert "missing.gpg" in str(e.value)
    for name in ("Alice", "ALICE@example.com", "nobody@example.com"):
        with pytest.raises(layercrypt.KeyUnavailableError) as e:
            layercrypt.encrypt_layer(src, out, f"pgp:{name}", gpg_pubring=vec("pubring.gpg"))
        assert f'no key matches pgp recipient "{name}"' in str(e.value)
    assert not out.exists()


def test_jwe_and_pgp_together(layer, tmp_path):
    src, tar = layer
    enc = tmp_path / "layer.enc"
    desc = layercrypt.encrypt_layer(src, enc, ["jwe:" + key("rsa2048.pub.pem"), "pgp:Bob"],
                                    compression="gzip", gpg_pubring=vec("pubring.gpg"))
    assert {JWE_KEYS, PGP_KEYS} <= set(desc["annotations"])
    for keys in (key("rsa2048.pem"), layercrypt.Key(vec("bob.sec.gpg"), BOB_PASS)):
        out = tmp_path / "layer.tar"
        layercrypt.decrypt_layer(enc, out, desc, keys=keys, decompress=True)
        assert out.read_bytes() == tar
        out.unlink()


def test_add_a_pgp_recipient(layer, tmp_path):
    src, tar = layer
    enc = tmp_path / "layer.enc"
    desc = layercrypt.encrypt_layer(src, enc, "jwe:" + key("ecp256.pub.pem"), media_type=TAR)
    with pytest.raises(layercrypt.KeyUnavailableError):
        layercrypt.check_layer_keys(desc, vec("alice.sec.gpg"))
    more = layercrypt.add_recipients(desc, key("ecp256.pem"), "pgp:alice@example.com",
                                     gpg_pubring=vec("pubring.gpg"))
    assert more["digest"] == desc["digest"] and PGP_KEYS in more["annotations"]
    layercrypt.check_layer_keys(more, vec("alice.sec.gpg"))
    decrypts(enc, more, vec("alice.sec.gpg"), tar, tmp_path / "layer.tar")
