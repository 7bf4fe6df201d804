"""A SoftHSM2 token made for a test: an RSA-2048 key pair imported into a
fresh token under the test's own directory (the private key file is removed
once imported: from then on the key lives in the token only), the module
policy files for OCICRYPT_CONFIG and the key YAMLs that name the key.

SoftHSM 2.6 does RSA-OAEP with SHA-1 only: `env` sets
OCICRYPT_OAEP_HASHALG=sha1 for whoever encrypts to the token."""

import os
import shutil
import subprocess

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SO_PIN = "1234"


def available():
    """Whether SoftHSM2 (softhsm2-util and its module) is installed."""
    return shutil.which("softhsm2-util") is not None and os.path.exists(MODULE)


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


class Token:
    """A token labelled `label` with user PIN `pin` under directory `d`,
    holding one RSA key pair labelled `key_label` with CKA_ID `key_id`
    (hex). Files made in `d`: softhsm2.conf, tokens/, ocicrypt.conf (allows
    MODULE), strict.conf (allows no module SoftHSM2 is in) and key.pub.pem
    (the key's public half)."""

    def __init__(self, d, label, pin, key_label="layer-key", key_id="0a0b"):
        self.dir, self.label, self.pin = d, label, pin
        self.key_label, self.key_id = key_label, key_id
        os.makedirs(f"{d}/tokens", exist_ok=True)
        self.softhsm2_conf = f"{d}/softhsm2.conf"
        _write(self.softhsm2_conf, f"directories.tokendir = {d}/tokens\n"
               "objectstore.backend = file\nlog.level = ERROR\n")
        self.policy = f"{d}/ocicrypt.conf"
        _write(self.policy, "pkcs11:\n  module-directories: [/usr/lib/softhsm/]\n"
               f"  allowed-module-paths: [{MODULE}]\n")
        self.strict_policy = f"{d}/strict.conf"
        _write(self.strict_policy, "pkcs11:\n  module-directories: [/usr/lib/softhsm/]\n"
               "  allowed-module-paths: [/opt/pkcs11/]\n")
        # What a process that uses the token needs in its environment.
        self.env = {"SOFTHSM2_CONF": self.softhsm2_conf, "OCICRYPT_CONFIG": self.policy,
                    "OCICRYPT_OAEP_HASHALG": "sha1"}
        run = dict(check=True, capture_output=True, env=dict(os.environ, **self.env))
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                        "--so-pin", SO_PIN, "--pin", pin], **run)
        key = f"{d}/key.pem"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", key], **run)
        subprocess.run(["softhsm2-util", "--import", key, "--token", label, "--label", key_label,
                        "--id", key_id, "--pin", pin], **run)
        self.public_key = f"{d}/key.pub.pem"  # for pkcs11:pub.pem recipients
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", self.public_key], **run)
        os.remove(key)

    def yaml(self, pin=None, token=None):
        """A key YAML naming the key (pin-value `pin`, default the right
        one; token label `token`, default this one's), with SOFTHSM2_CONF in
        its module.env."""
        key_id = "".join(f"%{self.key_id[i:i + 2]}" for i in range(0, len(self.key_id), 2))
        return (f"pkcs11:\n  uri: pkcs11:token={token or self.label};object={self.key_label};"
                f"id={key_id}?pin-value={pin or self.pin}&module-name=softhsm2\n"
                f"module:\n  env:\n    SOFTHSM2_CONF: {self.softhsm2_conf}\n")

    def write_yaml(self, path, pin=None, token=None):
        """Writes yaml(pin, token) to `path` (its directory made) and returns path."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write(path, self.yaml(pin, token))
        return path
