#!/usr/bin/python3
"""The pkcs11 scheme through the `layercrypt` CLI and layercrypt-decoder run
as containerd runs it, with an RSA key pair in a SoftHSM2 token made for the
test: encrypt to the token's key (`--recipient pkcs11:key.yaml`), decrypt
with `--key key.yaml` and `--key pkcs11:key.yaml`, with the decoder given a
keys directory holding the key YAML or a payload with `pkcs11-yamls` and
`pkcs11-config`; a wrong PIN, a module outside OCICRYPT_CONFIG's allow-list,
a truncated or garbage blob and an unknown blob version each fail with exit
status 1 and one line naming the cause, never the PIN. SoftHSM 2.6 does
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
from skopeo_interop_test import make_tar  # noqa: E402

LAYERCRYPT = DECODER = None
MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TAR = "application/vnd.oci.image.layer.v1.tar"
TOKEN = "lc-pkcs11-tool"
PIN = "73519264"
WRONG_PIN = "11111111"
PKCS11_KEYS = "org.opencontainers.image.enc.keys.pkcs11"


class Pkcs11Scheme(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = d = tempfile.mkdtemp(prefix="lc-pkcs11-")
        os.makedirs(f"{d}/tokens")
        cls.write(f"{d}/softhsm2.conf", f"directories.tokendir = {d}/tokens\n"
                  "objectstore.backend = file\nlog.level = ERROR\n")
        cls.env = {"SOFTHSM2_CONF": f"{d}/softhsm2.conf", "OCICRYPT_CONFIG": f"{d}/ocicrypt.conf",
                   "OCICRYPT_OAEP_HASHALG": "sha1"}
        run = dict(check=True, capture_output=True, env=dict(os.environ, **cls.env))
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN,
                        "--so-pin", "1234", "--pin", PIN], **run)
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", f"{d}/key.pem"], **run)
        subprocess.run(["softhsm2-util", "--import", f"{d}/key.pem", "--token", TOKEN,
                        "--label", "layer-key", "--id", "0a0b", "--pin", PIN], **run)
        os.remove(f"{d}/key.pem")  # from now on the key lives in the token only
        cls.write(f"{d}/ocicrypt.conf", "pkcs11:\n  module-directories: [/usr/lib/softhsm/]\n"
                  f"  allowed-module-paths: [{MODULE}]\n")
        cls.write(f"{d}/strict.conf", "pkcs11:\n  module-directories: [/usr/lib/softhsm/]\n"
                  "  allowed-module-paths: [/opt/pkcs11/]\n")
        os.makedirs(f"{d}/keys")
        os.makedirs(f"{d}/wrong-keys")
        cls.key_yaml = f"{d}/keys/layer-key.yaml"
        cls.write(cls.key_yaml, cls.yaml(PIN))
        cls.wrong_yaml = f"{d}/wrong-keys/layer-key.yaml"
        cls.write(cls.wrong_yaml, cls.yaml(WRONG_PIN))
        cls.tar = make_tar([("etc/app.conf", os.urandom(30_000))])
        ocitest.write_image(f"{d}/plain", [(cls.tar, TAR, cls.tar)])
        cls.lc_ok("encrypt", "--recipient", f"pkcs11:{cls.key_yaml}", f"{d}/plain:v1",
                  f"{d}/enc:v1")
        cls.desc = next(ocitest.Layout(f"{d}/enc").layers())
        cls.blob = ocitest.Layout(f"{d}/enc").blob(cls.desc["digest"])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def yaml(cls, pin):
        return (f"pkcs11:\n  uri: pkcs11:token={TOKEN};object=layer-key;id=%0a%0b"
                f"?pin-value={pin}&module-name=softhsm2\n"
                f"module:\n  env:\n    SOFTHSM2_CONF: {cls.dir}/softhsm2.conf\n")

    @staticmethod
    def write(path, text):
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

    def test_wrong_pin(self):
        run = self.decode(keys="wrong-keys")
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(run.out, b"")
        self.one_line(run.err_lines, "CKR_PIN_INCORRECT", "wrong PIN")
        r = self.lc("decrypt", "--key", self.wrong_yaml, f"{self.dir}/enc:v1",
                    f"{self.dir}/dec-wrong:v1")
        self.assertEqual(r.returncode, 1)
        self.one_line(r.stderr.splitlines(), "CKR_PIN_INCORRECT")

    def test_module_outside_the_allow_list(self):
        strict = {"OCICRYPT_CONFIG": f"{self.dir}/strict.conf"}
        run = self.decode(env=strict)
        self.assertEqual(run.rc, 1, run)
        self.one_line(run.err_lines, f"module {MODULE} is not allowed by OCICRYPT_CONFIG")
        r = self.lc("decrypt", "--key", self.key_yaml, f"{self.dir}/enc:v1",
                    f"{self.dir}/dec-strict:v1", env=strict)
        self.assertEqual(r.returncode, 1)
        self.one_line(r.stderr.splitlines(), "is not allowed by OCICRYPT_CONFIG")
        r = self.lc("encrypt", "--recipient", f"pkcs11:{self.key_yaml}", f"{self.dir}/plain:v1",
                    f"{self.dir}/enc-strict:v1", env=strict)
        self.assertEqual(r.returncode, 1)
        self.one_line(r.stderr.splitlines(), "is not allowed by OCICRYPT_CONFIG")

    def with_blob(self, text: bytes):
        desc = copy.deepcopy(self.desc)
        desc["annotations"][PKCS11_KEYS] = base64.b64encode(text).decode()
        return desc

    def test_truncated_garbage_and_unknown_version(self):
        good = base64.b64decode(self.desc["annotations"][PKCS11_KEYS])
        v1 = json.loads(good)
        v1["version"] = 1
        for text, needle in ((good[: len(good) // 2], "pkcs11 blob"),
                             (b"\x00garbage\xff", "pkcs11 blob"),
                             (json.dumps(v1).encode(), "only version 0")):
            run = self.decode(desc=self.with_blob(text))
            self.assertEqual(run.rc, 1, run)
            self.assertEqual(run.out, b"")
            self.one_line(run.err_lines, needle)


def main():
    global LAYERCRYPT, DECODER
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    LAYERCRYPT, DECODER = sys.argv[1], sys.argv[2]
    if shutil.which("softhsm2-util") is None or not os.path.exists(MODULE):
        print("SoftHSM2 is not installed (apt-get install softhsm2): skipped")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]])


if __name__ == "__main__":
    main()
