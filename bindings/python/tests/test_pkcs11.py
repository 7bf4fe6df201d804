"""PKCS#11 keys through the binding, with an RSA key pair in a SoftHSM2
token made for the test (tests/tools/softhsm.py): pkcs11 recipients (the
key YAML, and the plain public key) encrypt, a key YAML decrypts (as a
file, as bytes, in a keys directory) with the key inside the token; the
module policy comes from OCICRYPT_CONFIG or from pkcs11_config, and one
that does not allow the module fails with the cause, never the PIN.
Skipped without SoftHSM2."""

import os

import pytest

import layercrypt
from helpers import TAR, key, make_tar, sha256_digest

import softhsm  # tests/tools, on sys.path through helpers

PIN = "60418275"

pytestmark = pytest.mark.skipif(not softhsm.available(),
                                reason="SoftHSM2 is not installed (apt-get install softhsm2)")


@pytest.fixture(scope="module")
def token(tmp_path_factory):
    return softhsm.Token(str(tmp_path_factory.mktemp("hsm")), "lc-python", PIN)


@pytest.fixture()
def hsm_env(token, monkeypatch):
    """The token's environment (OCICRYPT_CONFIG, SHA-1 OAEP for SoftHSM)."""
    for k, v in token.env.items():
        monkeypatch.setenv(k, v)
    return token


@pytest.fixture(scope="module")
def layer(tmp_path_factory):
    d = tmp_path_factory.mktemp("layer")
    tar = make_tar([("etc/app.conf", os.urandom(20_000))])
    (d / "layer.tar").write_bytes(tar)
    return d / "layer.tar", tar


def test_round_trip_with_the_key_in_the_token(hsm_env, layer, tmp_path):
    token = hsm_env
    src, tar = layer
    yaml = token.write_yaml(str(tmp_path / "keys" / "node.yaml"))
    for i, recipient in enumerate((f"pkcs11:{yaml}", f"pkcs11:{token.public_key}")):
        enc = tmp_path / f"layer-{i}.enc"
        desc = layercrypt.encrypt_layer(src, enc, [recipient], media_type=TAR)
        assert list(k for k in desc["annotations"] if ".enc.keys." in k) == [
            "org.opencontainers.image.enc.keys.pkcs11"]
        yaml_bytes = (tmp_path / "keys" / "node.yaml").read_bytes()
        for keys in (yaml, yaml_bytes, str(tmp_path / "keys")):
            out = tmp_path / f"layer-{i}.tar"
            plain = layercrypt.decrypt_layer(enc, out, desc, keys=keys)
            assert out.read_bytes() == tar
            assert plain["digest"] == sha256_digest(tar)
            out.unlink()


def test_policy_from_the_argument(token, layer, tmp_path, monkeypatch):
    src, tar = layer
    monkeypatch.delenv("OCICRYPT_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.config/ocicrypt.conf either
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("OCICRYPT_OAEP_HASHALG", "sha1")
    monkeypatch.setenv("SOFTHSM2_CONF", token.softhsm2_conf)
    yaml = token.write_yaml(str(tmp_path / "node.yaml"))
    with pytest.raises(layercrypt.KeyUnavailableError, match="no ocicrypt config file was found"):
        layercrypt.encrypt_layer(src, tmp_path / "x.enc", [f"pkcs11:{yaml}"], media_type=TAR)
    enc = tmp_path / "layer.enc"
    desc = layercrypt.encrypt_layer(src, enc, [f"pkcs11:{yaml}"], media_type=TAR,
                                    pkcs11_config=token.policy)
    with pytest.raises(layercrypt.KeyUnavailableError, match="no ocicrypt config file was found"):
        layercrypt.Keys(yaml)
    keys = layercrypt.Keys(yaml, pkcs11_config=token.policy)
    layercrypt.decrypt_layer(enc, tmp_path / "layer.tar", desc, keys=keys)
    assert (tmp_path / "layer.tar").read_bytes() == tar
    # The built-in policy allows /usr/lib/softhsm/ too.
    layercrypt.check_layer_keys(desc, layercrypt.Keys(yaml, pkcs11_config="internal"))
    # add_recipients takes the policy for its pkcs11 recipients and key YAMLs.
    jwe_desc = layercrypt.encrypt_layer(src, tmp_path / "jwe.enc", [f"jwe:{key('rsa2048.pub.pem')}"],
                                        media_type=TAR)
    with pytest.raises(layercrypt.KeyUnavailableError, match="no ocicrypt config file was found"):
        layercrypt.add_recipients(jwe_desc, key("rsa2048.pem"), [f"pkcs11:{yaml}"])
    more = layercrypt.add_recipients(jwe_desc, key("rsa2048.pem"), [f"pkcs11:{yaml}"],
                                     pkcs11_config=token.policy)
    assert "org.opencontainers.image.enc.keys.pkcs11" in more["annotations"]
    layercrypt.decrypt_layer(tmp_path / "jwe.enc", tmp_path / "via-token.tar", more, keys=keys)
    assert (tmp_path / "via-token.tar").read_bytes() == tar
    # ...and the other way round: the token's key opens, a jwe recipient is added.
    back = layercrypt.add_recipients(desc, yaml, [f"jwe:{key('rsa2048.pub.pem')}"],
                                     pkcs11_config=token.policy)
    layercrypt.decrypt_layer(enc, tmp_path / "via-jwe.tar", back, keys=key("rsa2048.pem"))
    assert (tmp_path / "via-jwe.tar").read_bytes() == tar


def test_module_not_allowed_and_wrong_pin(hsm_env, layer, tmp_path):
    token = hsm_env
    src, _ = layer
    yaml = token.write_yaml(str(tmp_path / "node.yaml"))
    desc = layercrypt.encrypt_layer(src, tmp_path / "layer.enc", [f"pkcs11:{yaml}"],
                                    media_type=TAR)
    strict = layercrypt.Keys(yaml, pkcs11_config=token.strict_policy)
    with pytest.raises(layercrypt.KeyUnavailableError) as e:
        layercrypt.check_layer_keys(desc, strict)
    assert (f"module {softhsm.MODULE} is not allowed by OCICRYPT_CONFIG "
            f"({token.strict_policy})") in str(e.value)
    wrong = token.write_yaml(str(tmp_path / "wrong.yaml"), pin="12121212")
    with pytest.raises(layercrypt.KeyUnavailableError) as e:
        layercrypt.check_layer_keys(desc, wrong)
    assert "CKR_PIN_INCORRECT (wrong PIN" in str(e.value)
    for err in (e.value,):
        assert PIN not in str(err) and "12121212" not in str(err)
    with pytest.raises(layercrypt.InvalidArgumentError, match="takes no password"):
        layercrypt.Keys(layercrypt.Key(yaml, "pw"))
