#!/usr/bin/python3
"""The pkcs11 scheme through the `layercrypt` CLI and layercrypt-decoder run
as containerd runs it, with an RSA key pair in a SoftHSM2 token made for the
test: encrypt to the token's key (`--recipient pkcs11:key.yaml`), decrypt
with `--key key.yaml` and `--key pkcs11:key.yaml`, with the decoder given a
keys directory holding the key YAML or a payload with `pkcs11-yamls` and
`pkcs11-config`; a wrong PIN, a missing token, a module outside
OCICRYPT_CONFIG's allow-list (by the policy, or by the YAML's module-path),
a truncated or garbage blob, an unknown blob or recipient version and a
cut RSA ciphertext each fail with exit status 1, no output and exactly the
line naming the cause, never the PIN. SoftHSM 2.6 does
RSA-OAEP with SHA-1 only, hence OCICRYPT_OAEP_HASHALG=sha1. Skipped (exit
77) without SoftHSM2.

Usage: pkcs11_scheme_test.py LAYERCRYPT DECODER [unittest args]
"""

import base64
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ocitest  # noqa: E402
import softhsm  # noqa: E402
from skopeo_interop_test import make_tar  # noqa: E402

LAYERCRYPT = DECODER = None
MODULE = softhsm.MODULE
TAR = "application/vnd.oci.image.layer.v1.tar"
TOKEN = "lc-pkcs11-tool"
PIN = "73519264"
WRONG_PIN = "11111111"
PKCS11_KEYS = "org.opencontainers.image.enc.keys.pkcs11"


class Pkcs11Scheme(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = d = tempfile.mkdtemp(prefix="lc-pkcs11-")
        cls.token = softhsm.Token(d, TOKEN, PIN)
        cls.env = cls.token.env
        cls.key_yaml = cls.token.write_yaml(f"{d}/keys/layer-key.yaml")
        cls.wrong_yaml = cls.token.write_yaml(f"{d}/wrong-keys/layer-key.yaml", pin=WRONG_PIN)
        cls.no_token_yaml = cls.token.write_yaml(f"{d}/no-token-keys/layer-key.yaml",
                                                 token="no-such-token")
        # The same module at a path outside the allow-list.
        os.makedirs(f"{d}/modules")
        cls.copied_module = f"{d}/modules/libsofthsm2.so"
        shutil.copy(MODULE, cls.copied_module)
        cls.write(f"{d}/other-module-keys/layer-key.yaml", cls.token.yaml().replace(
            "&module-name=softhsm2", f"&module-path={cls.copied_module}"))
        cls.tar = make_tar([("etc/app.conf", os.urandom(30_000))])
        ocitest.write_image(f"{d}/plain", [(cls.tar, TAR, cls.tar)])
        cls.lc_ok("encrypt", "--recipient", f"pkcs11:{cls.key_yaml}", f"{d}/plain:v1",
                  f"{d}/enc:v1")
        cls.desc = next(ocitest.Layout(f"{d}/enc").layers())
        cls.blob = ocitest.Layout(f"{d}/enc").blob(cls.desc["digest"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @staticmethod
    def write(path, text):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)

    @classmethod
    def lc(cls, *args, env=None):
        return subprocess.run([LAYERCRYPT, *args], capture_output=True, text=True,
                              env=dict(os.environ, **dict(cls.env, **(env or {}))), timeout=120)

    @classmethod
    def lc_ok(cls, *args):
        r = cls.lc(*args)
        if r.returncode != 0:
            raise AssertionError(f"layercrypt {' '.join(args)}: {r.stderr.strip()}")
        return r

    def decode(self, desc=None, keys="keys", payload=None, env=None):
        desc = desc or self.desc
        args = ["--decryption-keys-path", f"{self.dir}/{keys}"] if keys else []
        return ocitest.run_decoder(DECODER, self.blob, payload or ocitest.make_payload(desc),
                                   args, media_type=desc["mediaType"],
                                   env_extra=dict(self.env, **(env or {})))

    def one_line(self, lines, *needles):
        lines = [l for l in lines if l.strip()]
        self.assertEqual(len(lines), 1, lines)
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertNotIn(PIN, lines[0])
        self.assertNotIn(WRONG_PIN, lines[0])
        return lines[0]

    def test_blob_is_gos_form(self):
        blob = json.loads(base64.b64decode(self.desc["annotations"][PKCS11_KEYS]))
        self.assertEqual(blob["version"], 0)
        self.assertEqual(len(blob["recipients"]), 1)
        self.assertEqual(blob["recipients"][0]["hash"], "sha1")
        self.assertEqual(len(base64.b64decode(blob["recipients"][0]["blob"])), 256)

    def test_cli_decrypts_with_the_key_yaml(self):
        for i, key in enumerate((self.key_yaml, f"pkcs11:{self.key_yaml}")):
            out = f"{self.dir}/dec-{i}"
            self.lc_ok("decrypt", "--key", key, f"{self.dir}/enc:v1", f"{out}:v1")
            layer = next(ocitest.Layout(out).layers())
            self.assertEqual(ocitest.Layout(out).blob(layer["digest"]), self.tar)

    def test_decoder_with_keys_directory(self):
        run = self.decode()
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(run.out, self.tar)

    def test_decoder_with_payload_yaml_and_config(self):
        with open(self.key_yaml, "rb") as f:
            yaml = f.read()
        with open(f"{self.dir}/ocicrypt.conf") as f:
            conf = f.read().replace("pkcs11:\n", "").replace("\n  ", "\n").lstrip()
        params = {"pkcs11-yamls": [base64.b64encode(yaml).decode()],
                  "pkcs11-config": [base64.b64encode(conf.encode()).decode()]}
        value = ocitest.go_json({"DecryptConfig": {"Parameters": params},
                                 "Descriptor": self.desc})
        tu = ocitest.PAYLOAD_TYPE_URL
        payload = (b"\x0a" + ocitest.varint(len(tu)) + tu + b"\x12" + ocitest.varint(len(value)) +
                   value)
        # No policy in the decoder's environment: the payload's is used.
        run = self.decode(keys=None, payload=payload,
                          env={"OCICRYPT_CONFIG": f"{self.dir}/none.conf",
                               "HOME": self.dir, "XDG_CONFIG_HOME": ""})
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(run.out, self.tar)

    def unwrap_failure(self, cause, tool="layercrypt-decoder: layer"):
        """The whole line a tool prints when the layer's one pkcs11 blob
        cannot be opened with the one key YAML it was given, for `cause`."""
        return (f"{tool} {self.desc['digest']}: no key could unwrap the layer key: layer has "
                f"pkcs11 blob 1/1: {cause}; tried 0 private keys and 0 certificates and 1 "
                "pkcs11 key")

    def assert_fails(self, cause, keys="keys", desc=None, env=None, cli_key=None):
        """The decoder with the keys directory `keys` (and the CLI with
        --key cli_key) fails with exit status 1, writes nothing and prints
        exactly the line for `cause`, holding no PIN."""
        run = self.decode(desc=desc, keys=keys, env=env)
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(run.out, b"")
        self.assertEqual(self.one_line(run.err_lines), self.unwrap_failure(cause))
        if cli_key is not None:
            r = self.lc("decrypt", "--key", cli_key, f"{self.dir}/enc:v1",
                        f"{self.dir}/dec-failed:v1", env=env)
            self.assertEqual(r.returncode, 1, r)
            self.assertEqual(self.one_line(r.stderr.splitlines()),
                             self.unwrap_failure(cause, "layercrypt: layer 0"))
            self.assertFalse(os.path.exists(f"{self.dir}/dec-failed"))

    def key_cause(self, why):
        return (f'pkcs11 blob, 1 recipient (RSA-OAEP) (pkcs11 key "layer-key" in token '
                f'"{TOKEN}": {why})')

    def test_wrong_pin(self):
        self.assert_fails(self.key_cause("C_Login: CKR_PIN_INCORRECT (wrong PIN: check pin-value "
                                         "or pin-source)"), keys="wrong-keys",
                          cli_key=self.wrong_yaml)

    def test_missing_token(self):
        # Only initialized tokens are named (SoftHSM adds an empty slot).
        cause = self.key_cause(f'no token labelled "no-such-token" in {MODULE} '
                               f'(its tokens: "{TOKEN}")')
        self.assert_fails(cause.replace(f'in token "{TOKEN}"', 'in token "no-such-token"'),
                          keys="no-token-keys", cli_key=self.no_token_yaml)

    def test_module_outside_the_allow_list(self):
        strict = {"OCICRYPT_CONFIG": self.token.strict_policy}
        not_allowed = (f"module {MODULE} is not allowed by OCICRYPT_CONFIG "
                       f"({self.token.strict_policy}): add it, or its directory with a trailing "
                       "'/', to allowed-module-paths")
        self.assert_fails(f"pkcs11 blob, 1 recipient (RSA-OAEP) ({not_allowed})", env=strict,
                          cli_key=self.key_yaml)
        r = self.lc("encrypt", "--recipient", f"pkcs11:{self.key_yaml}", f"{self.dir}/plain:v1",
                    f"{self.dir}/enc-strict:v1", env=strict)
        self.assertEqual(r.returncode, 1)
        self.assertIn(not_allowed, self.one_line(r.stderr.splitlines()))
        self.assertFalse(os.path.exists(f"{self.dir}/enc-strict"))

    def test_yaml_naming_a_module_outside_the_allow_list(self):
        # The same library, copied to a path the policy does not list: it
        # is refused by path, before it is loaded.
        not_allowed = (f"module {self.copied_module} is not allowed by OCICRYPT_CONFIG "
                       f"({self.token.policy}): add it, or its directory with a trailing '/', "
                       "to allowed-module-paths")
        self.assert_fails(f"pkcs11 blob, 1 recipient (RSA-OAEP) ({not_allowed})",
                          keys="other-module-keys",
                          cli_key=f"{self.dir}/other-module-keys/layer-key.yaml")

    def with_blob(self, text: bytes):
        desc = copy.deepcopy(self.desc)
        desc["annotations"][PKCS11_KEYS] = base64.b64encode(text).decode()
        return desc

    def test_truncated_garbage_and_unknown_version(self):
        good = base64.b64decode(self.desc["annotations"][PKCS11_KEYS])
        v1 = json.loads(good)
        v1["version"] = 1
        r1 = json.loads(good)
        r1["recipients"][0]["version"] = 7
        short = json.loads(good)  # valid JSON, the RSA ciphertext cut short
        short["recipients"][0]["blob"] = base64.b64encode(
            base64.b64decode(short["recipients"][0]["blob"])[:100]).decode()
        cut = len(good) // 2
        for text, cause in (
                (good[:cut], f"pkcs11 blob: invalid JSON at offset {cut}: unexpected end of input "
                 "in a string"),
                (b"garbage", "pkcs11 blob: invalid JSON at offset 0: invalid literal"),
                (json.dumps(v1).encode(),
                 'pkcs11 blob: blob version "1" (only version 0 is supported)'),
                (json.dumps(r1).encode(),
                 'pkcs11 blob: recipient version "7" (only version 0 is supported)'),
                (json.dumps(short).encode(),
                 f'pkcs11 blob, 1 recipient (RSA-OAEP) (pkcs11 key "layer-key" in token '
                 f'"{TOKEN}" opens none of the blob\'s 1 recipients)')):
            with self.subTest(cause=cause):
                self.assert_fails(cause, desc=self.with_blob(text))


def main():
    global LAYERCRYPT, DECODER
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    LAYERCRYPT, DECODER = sys.argv[1], sys.argv[2]
    if not softhsm.available():
        print("SoftHSM2 is not installed (apt-get install softhsm2): skipped")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]])


if __name__ == "__main__":
    main()
