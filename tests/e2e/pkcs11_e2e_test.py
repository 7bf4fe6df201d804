#!/usr/bin/python3
"""A containerd node whose key lives in an HSM, end to end.

Usage: pkcs11_e2e_test.py LAYERCRYPT DECODER [TEST_NAME...]

A SoftHSM2 token is made under the test's scratch directory with an RSA
key pair imported into it (the private key file is then removed: the key
is in the token only). The image (the three layers of e2e_common) is
encrypted by `layercrypt encrypt --recipient pkcs11:key.yaml` (with
OCICRYPT_OAEP_HASHALG=sha1: SoftHSM 2.6 does RSA-OAEP with SHA-1 only) and
pushed to a docker-registry on 127.0.0.1. Debian's containerd 1.6 runs
DECODER as its stream processor with a keys directory that holds nothing
but a PKCS#11 key YAML (SOFTHSM2_CONF in the YAML's `module: env:`) and
OCICRYPT_CONFIG, the module policy, in the processors' `env`.

- The node's CRI pull succeeds and the snapshot tree equals `umoci unpack`
  of the plaintext image.
- A node whose key YAML has a wrong PIN, and a node whose OCICRYPT_CONFIG
  allows no module SoftHSM2 is in, both fail the pull; containerd's error
  carries the decoder's one line, which names the cause (wrong PIN; module
  not allowed by OCICRYPT_CONFIG) and holds no PIN.

Every process runs under one scratch directory and is stopped by its PID.
Exit status 77 (CTest: skipped) when the machine cannot run containerd at
all or SoftHSM2 is not installed.
"""

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import peers  # noqa: E402
import softhsm  # noqa: E402
from e2e_common import Image, PullChecks, Run, make_plain_image, sh  # noqa: E402
import e2e_common  # noqa: E402

TOKEN = "lc-e2e-node"
PIN = "48150916"
WRONG_PIN = "99999999"
REPOSITORY, TAG = "e2e/pkcs11", "v1"


@unittest.skipUnless(softhsm.available(), "SoftHSM2 is not installed (apt-get install softhsm2)")
class HsmHeldNodeKey(PullChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t0 = time.monotonic()
        d = Run.scratch.sub("pkcs11")
        cls.token = softhsm.Token(Run.scratch.sub("pkcs11", "hsm"), TOKEN, PIN)
        cls.keys_dir = os.path.join(d, "keys")
        yaml = cls.token.write_yaml(os.path.join(cls.keys_dir, "node-key.yaml"))
        cls.wrong_pin_dir = os.path.join(d, "wrong-pin-keys")
        cls.token.write_yaml(os.path.join(cls.wrong_pin_dir, "node-key.yaml"), pin=WRONG_PIN)

        plain, enc = os.path.join(d, "plain"), os.path.join(d, "enc")
        make_plain_image(plain, "pkcs11")
        sh(Run.layercrypt, "encrypt", "--recipient", f"pkcs11:{yaml}", f"{plain}:{TAG}",
           f"{enc}:{TAG}", env=cls.token.env)
        cls.registry = peers.Registry(Run.scratch)
        ref = cls.registry.push(enc, TAG, REPOSITORY)
        cls.image = Image(enc, plain, yaml, ref, [peers.LAYER_GZIP_ENC, peers.LAYER_ENC,
                                                  peers.LAYER_GZIP_ENC])

        # The nodes: the decoder finds the module policy in its environment
        # (containerd adds the processors' env to its own), SOFTHSM2_CONF in
        # the key YAML.
        cls.node_envs = {"node": {"OCICRYPT_CONFIG": cls.token.policy},
                         "wrong-pin": {"OCICRYPT_CONFIG": cls.token.policy},
                         "strict": {"OCICRYPT_CONFIG": cls.token.strict_policy}}
        cls.node_keys = {"node": cls.keys_dir, "wrong-pin": cls.wrong_pin_dir,
                         "strict": cls.keys_dir}
        cls.nodes = {}
        for name, env in cls.node_envs.items():
            procs = peers.stream_processors(Run.decoder, cls.node_keys[name], env=env)
            cls.nodes[name] = peers.Containerd(Run.scratch, f"node-{name}", cls.registry.host,
                                               procs)
        peers.log(f"pkcs11 world ready in {time.monotonic() - t0:.1f} s: registry "
                  f"{cls.registry.host}, image {ref}")

    @classmethod
    def tearDownClass(cls):
        for node in getattr(cls, "nodes", {}).values():
            node.stop()

    def node_message(self, name):
        """The decoder's one line on node `name`, run directly as containerd
        runs it (that node's keys directory and processor environment)."""
        line = self.decoder_message(self.image, self.node_keys[name], env=self.node_envs[name])
        peers.log(f"  the {name} node's decoder says: {line}")
        for pin in (PIN, WRONG_PIN):
            self.assertNotIn(pin, line)
        return line

    def test_pull_with_the_key_in_the_token(self):
        self.assertEqual(sorted(os.listdir(self.keys_dir)), ["node-key.yaml"])
        for layer in self.image.layers:
            self.assertEqual(sorted(k for k in layer.get("annotations", {})
                                    if k.startswith("org.opencontainers.image.enc.keys.")),
                             ["org.opencontainers.image.enc.keys.pkcs11"])
        self.check_cri_pull(self.nodes["node"], self.image)

    def test_wrong_pin_fails_the_pull(self):
        want = self.node_message("wrong-pin")
        for part in (f'token "{TOKEN}"', "CKR_PIN_INCORRECT",
                     "(wrong PIN: check pin-value or pin-source)"):
            self.assertIn(part, want)
        self.check_cri_pull_fails(self.nodes["wrong-pin"], self.image, want)

    def test_module_outside_the_allow_list_fails_the_pull(self):
        want = self.node_message("strict")
        self.assertIn(f"module {softhsm.MODULE} is not allowed by OCICRYPT_CONFIG "
                      f"({self.token.strict_policy}", want)
        self.check_cri_pull_fails(self.nodes["strict"], self.image, want)


if __name__ == "__main__":
    e2e_common.main(__doc__)
