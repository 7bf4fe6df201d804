#!/usr/bin/python3
"""The pkcs11 scheme between layercrypt and skopeo 1.22 (Go ocicrypt 1.1.10,
from a Debian sid root file system), both ways, with one SoftHSM2 token made
on the host and used from both sides (sid's softhsm2 2.6.1 reads Debian 12's
tokens unchanged): what skopeo encrypts for `pkcs11:key.yaml`, the
`layercrypt` CLI and layercrypt-decoder decrypt with the key YAML; what the
CLI encrypts, skopeo decrypts with `--decryption-key key.yaml`. SoftHSM 2.6
does RSA-OAEP with SHA-1 only, hence OCICRYPT_OAEP_HASHALG=sha1 on both
sides; both read the same OCICRYPT_CONFIG.

Usage (root): pkcs11_interop_test.py LAYERCRYPT DECODER [unittest args]

skopeo runs in the sid root of tests/e2e/peers.py (sid_root(), made once
under /var/cache/layercrypt-peers; a machine that cannot make it fails this
test) with the scratch directory bind-mounted at the same path. The program
re-executes itself in a private mount namespace (the mounts vanish with it).
skopeo copies with --dest-oci-accept-uncompressed-layers (as
keyprovider_interop_test.py does): without it skopeo compresses the
uncompressed layer on the way, and the digest in its private options no
longer matches what decrypts. Exit status 77 (skipped) when not root.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import ocitest  # noqa: E402
import peers  # noqa: E402
import softhsm  # noqa: E402
from cli_test import layer_digests  # noqa: E402
from skopeo_interop_test import make_plain_layout  # noqa: E402

LAYERCRYPT = DECODER = None
TOKEN = "lc-pkcs11-interop"
PIN = "26813579"
PKCS11_KEYS = "org.opencontainers.image.enc.keys.pkcs11"


def sh(*argv, env=None):
    r = subprocess.run(argv, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {r.stderr.strip()}")
    return r


class Pkcs11Interop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = d = peers.new_scratch("p11")
        cls.sid = None
        cls.sid = peers.SidSkopeo(shared=[d])
        cls.token = softhsm.Token(d, TOKEN, PIN, key_id="01")
        cls.env = cls.token.env
        cls.yaml = cls.token.write_yaml(f"{d}/keys/layer-key.yaml")
        cls.plain = f"{d}/plain"
        make_plain_layout(cls.plain)
        cls.plain_layers = [dg for _, dg in layer_digests(cls.plain)[0]]

    @classmethod
    def tearDownClass(cls):
        if cls.sid:
            cls.sid.close()
        peers.unmount_all(cls.tmp)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def lc(self, *args):
        r = subprocess.run([LAYERCRYPT, *args], capture_output=True, text=True,
                           env=dict(os.environ, **self.env), timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"layercrypt {' '.join(args)}: {r.stderr.strip()}")
        return r

    def test_skopeo_encrypts_layercrypt_decrypts(self):
        enc, dec = f"{self.tmp}/sk-enc", f"{self.tmp}/sk-dec"
        self.sid.copy(f"oci:{self.plain}:v1", f"oci:{enc}:v1", "--dest-oci-accept-uncompressed-layers",
                      "--encryption-key", f"pkcs11:{self.yaml}", env=self.env)
        layers = list(ocitest.Layout(enc).layers())
        self.assertEqual(len(layers), 2)
        for desc in layers:
            blob = json.loads(base64.b64decode(desc["annotations"][PKCS11_KEYS]))
            self.assertEqual(blob["version"], 0)
            self.assertEqual(blob["recipients"][0]["hash"], "sha1")
        self.lc("decrypt", "--key", self.yaml, f"{enc}:v1", f"{dec}:v1")
        self.assertEqual([dg for _, dg in layer_digests(dec)[0]], self.plain_layers)
        # The decoder, as containerd runs it, with the key YAML in its keys directory.
        tar_desc = layers[1]
        run = ocitest.run_decoder(DECODER, ocitest.Layout(enc).blob(tar_desc["digest"]),
                                  ocitest.make_payload(tar_desc),
                                  ["--decryption-keys-path", f"{self.tmp}/keys"],
                                  media_type=tar_desc["mediaType"], env_extra=self.env)
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(ocitest.sha256_digest(run.out), self.plain_layers[1])

    def test_layercrypt_encrypts_skopeo_decrypts(self):
        enc, dec = f"{self.tmp}/lc-enc", f"{self.tmp}/lc-dec"
        self.lc("encrypt", "--recipient", f"pkcs11:{self.yaml}", f"{self.plain}:v1", f"{enc}:v1")
        self.sid.copy(f"oci:{enc}:v1", f"oci:{dec}:v1", "--dest-oci-accept-uncompressed-layers",
                      "--decryption-key", self.yaml, env=self.env)
        self.assertEqual([dg for _, dg in layer_digests(dec)[0]], self.plain_layers)


def main():
    global LAYERCRYPT, DECODER
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    LAYERCRYPT, DECODER = (os.path.abspath(p) for p in sys.argv[1:3])
    peers.enter_sid_test_namespace("pkcs11_interop_test")
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)


if __name__ == "__main__":
    main()
