#!/usr/bin/python3
"""Execution geofencing, end to end: an image that only some nodes can run.

Usage: geofencing_e2e_test.py LAYERCRYPT DECODER KEYPROVIDER [TEST_NAME...]

One docker-registry and several Debian containerd 1.6 instances ("nodes")
on this machine, each running DECODER as its stream processor with no keys
directory and its own key-provider config (OCICRYPT_KEYPROVIDER_CONFIG in
the processors' `env`): a gRPC provider over mutual TLS, with the node's
own client certificate. KEYPROVIDER serves on 127.0.0.1 with a policy
whose key `models` may be wrapped by the builder's certificate only and is
released to cn:eu-node-1 only. The image is encrypted by `layercrypt
encrypt --recipient provider:geo:key=models` alone (no other recipient),
so the provider is the only way to its layer keys.

- The eu node's CRI pull succeeds; its snapshot tree equals `umoci unpack`
  of the plaintext image.
- The us node's CRI pull fails; containerd's error carries the decoder's
  one line, which names the provider's refusal (key, identity, policy).
- The provider's decision log has an `allowed` line for eu-node-1 and a
  `refused` one for us-node-1, and no key material.
- cn:us-node-1 is added to the policy (a new file renamed over it): the us
  node's pull succeeds, with the same manifest in the registry (no
  re-encryption).
- A node whose config trusts another CA cannot reach the provider: its
  pull fails with the decoder's line naming TLS.

Every process (registry, provider, containerd) runs on 127.0.0.1 under one
scratch directory and is stopped by its PID on every exit path. Exit status
77 (CTest: skipped) when the machine cannot run containerd at all.
"""

import hashlib
import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import peers  # noqa: E402
from e2e_common import Image, PullChecks, Run, make_plain_image, sh  # noqa: E402
import e2e_common  # noqa: E402

PROVIDER = "geo"  # the provider's name in every key-provider config
KEY = "models"
SERVER_NAME = "geo-provider.test"
BUILDER, EU, US = "image-builder", "eu-node-1", "us-node-1"
REPOSITORY, TAG = "geo/models", "v1"


class Pki:
    """A CA made with the openssl CLI (P-256, valid two days) under dir,
    and the certificates it signs."""

    def __init__(self, d, name):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        self.key = self._key("ca")
        self.cert = os.path.join(d, "ca.pem")
        sh("openssl", "req", "-x509", "-new", "-key", self.key, "-subj", f"/CN={name}",
           "-days", "2", "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
           "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", self.cert)

    def _key(self, stem):
        path = os.path.join(self.dir, stem + ".key")
        sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-out", path)
        return path

    def issue(self, cn, san, usage):
        """A certificate for CN=cn with subjectAltName san and extended key
        usage `usage` (serverAuth, clientAuth): (cert path, key path)."""
        key = self._key(cn)
        csr, ext, cert = (os.path.join(self.dir, cn + s) for s in (".csr", ".ext", ".pem"))
        sh("openssl", "req", "-new", "-key", key, "-subj", f"/CN={cn}", "-out", csr)
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    f"extendedKeyUsage={usage}\nsubjectAltName={san}\n")
        sh("openssl", "x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
           "-CAcreateserial", "-CAserial", os.path.join(self.dir, "ca.srl"), "-days", "2",
           "-sha256", "-extfile", ext, "-out", cert)
        return cert, key


def fingerprint(cert):
    """What the provider calls a certificate: sha256: and the first 16 hex
    digits of its DER encoding's SHA-256."""
    der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return "sha256:" + hashlib.sha256(der).hexdigest()[:16] + "..."


class Geofencing(PullChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        t0 = time.monotonic()
        d = Run.scratch.sub("geo")
        cls.dir = d
        # Who is who: the provider, the builder and the nodes under one CA.
        pki = Pki(os.path.join(d, "pki"), "geofencing test CA")
        cls.ca = pki.cert
        server = pki.issue(SERVER_NAME, f"DNS:{SERVER_NAME},IP:127.0.0.1", "serverAuth")
        cls.certs = {cn: pki.issue(cn, f"DNS:{cn}.test", "clientAuth")
                     for cn in (BUILDER, EU, US)}
        cls.other_ca = Pki(os.path.join(d, "other-pki"), "unrelated CA").cert

        # The key provider: one KEK, wrapped for by the builder only,
        # released to the eu node only.
        provider_dir = Run.scratch.sub("geo", "provider")
        cls.kek = os.path.join(provider_dir, f"{KEY}.kek")
        sh(Run.keyprovider, "keygen-kek", cls.kek)
        cls.policy = os.path.join(provider_dir, "policy.json")
        cls.write_policy([f"cn:{EU}"])
        cls.decisions = os.path.join(provider_dir, "decisions.log")
        for attempt in range(5):  # another program may take the free port first
            cls.port = peers.free_port()
            cls.provider = peers.Process(
                "layercrypt-keyprovider",
                [Run.keyprovider, "serve", "--name", PROVIDER, "--policy", cls.policy,
                 "--log-file", cls.decisions, "--listen", f"127.0.0.1:{cls.port}",
                 "--tls-cert", server[0], "--tls-key", server[1], "--client-ca", cls.ca],
                os.path.join(provider_dir, "provider.log"))
            Run.scratch.processes.append(cls.provider)
            try:
                peers.wait_port(cls.port, cls.provider)
                break
            except RuntimeError:
                if attempt == 4:
                    raise

        # The image, encrypted for the provider's key only, in the registry.
        plain, enc = os.path.join(d, "plain"), os.path.join(d, "enc")
        make_plain_image(plain, "geofencing")
        sh(Run.layercrypt, "--keyprovider-config", cls.provider_config("builder", BUILDER),
           "encrypt", "--recipient", f"provider:{PROVIDER}:key={KEY}", f"{plain}:{TAG}",
           f"{enc}:{TAG}")
        cls.registry = peers.Registry(Run.scratch)
        ref = cls.registry.push(enc, TAG, REPOSITORY)
        cls.image = Image(enc, plain, cls.kek, ref, [peers.LAYER_GZIP_ENC, peers.LAYER_ENC,
                                                     peers.LAYER_GZIP_ENC])
        cls.manifest_digest = cls.registry.manifest_digest(REPOSITORY, TAG)

        # The nodes: no keys, only their own identity at the provider.
        cls.nodes, cls.node_envs = {}, {}
        for name, cn, ca in (("eu", EU, None), ("us", US, None), ("wrong-ca", EU, cls.other_ca)):
            env = cls.node_envs[name] = {
                "OCICRYPT_KEYPROVIDER_CONFIG": cls.provider_config(name, cn, ca)}
            procs = peers.stream_processors(Run.decoder, None, env=env)
            cls.nodes[name] = peers.Containerd(Run.scratch, f"node-{name}", cls.registry.host,
                                               procs)
        peers.log(f"geofencing world ready in {time.monotonic() - t0:.1f} s: provider "
                  f"127.0.0.1:{cls.port}, registry {cls.registry.host}, image {ref}")

    @classmethod
    def tearDownClass(cls):
        for node in getattr(cls, "nodes", {}).values():
            node.stop()

    @classmethod
    def write_policy(cls, release_to):
        """Replaces the policy file whole (a new file renamed over it): the
        provider sees either policy, never half of one."""
        policy = {"keys": {KEY: {"kek": {"file": os.path.basename(cls.kek)},
                                 "release-to": release_to,
                                 "wrap-by": [f"cn:{BUILDER}"]}}}
        tmp = cls.policy + ".new"
        with open(tmp, "w") as f:
            json.dump(policy, f, indent=2)
        os.replace(tmp, cls.policy)

    @classmethod
    def provider_config(cls, name, cn, ca=None):
        """An ocicrypt key-provider config: PROVIDER over mutual TLS with
        cn's client certificate, trusting ca (default: the test CA)."""
        cert, key = cls.certs[cn]
        path = os.path.join(cls.dir, f"{name}-keyprovider.json")
        with open(path, "w") as f:
            json.dump({"key-providers": {PROVIDER: {
                "grpc": f"127.0.0.1:{cls.port}",
                "grpc-tls": {"root-ca-file": ca or cls.ca, "cert-file": cert, "key-file": key,
                             "server-name": SERVER_NAME}}}}, f, indent=2)
        return path

    def decisions_of(self, identity, op="keyunwrap"):
        """The provider's `op` decision lines for cn:identity."""
        with open(self.decisions) as f:
            lines = f.read().splitlines()
        return [l for l in lines if f" {op} " in l and f"cn:{identity}" in l]

    def assert_no_key_material(self):
        with open(self.kek) as f:
            kek = f.read().strip()
        with open(self.decisions) as f:
            log = f.read()
        for secret in (kek, "symkey", "eyJzeW1rZXki"):  # the KEK; the private options
            self.assertNotIn(secret, log)

    def refused_message(self, node):
        """The decoder's one line on `node` (run directly as containerd
        runs it, with that node's processor environment)."""
        return self.decoder_message(self.image, None, env=self.node_envs[node])

    def test_release_follows_the_policy(self):
        image, eu, us = self.image, self.nodes["eu"], self.nodes["us"]
        self.assertEqual([l["mediaType"] for l in image.layers], image.media_types)
        for layer in image.layers:
            self.assertEqual(sorted(k for k in layer.get("annotations", {})
                                    if k.startswith("org.opencontainers.image.enc.keys.")),
                             [f"org.opencontainers.image.enc.keys.provider.{PROVIDER}"])

        # The builder wrapped each layer's key.
        wraps = self.decisions_of(BUILDER, "keywrap")
        self.assertEqual(len(wraps), len(image.layers), wraps)
        for line in wraps:
            self.assertTrue(line.endswith(f" key={KEY} allowed"), line)

        # eu-node-1 may run it.
        self.check_cri_pull(eu, image)
        allowed = self.decisions_of(EU)
        self.assertTrue(allowed, "no decision for the eu node in the provider's log")
        for line in allowed:
            self.assertTrue(line.endswith(f' identity="cn:{EU} {fingerprint(self.certs[EU][0])}"'
                                          f" key={KEY} allowed"), line)

        # us-node-1 may pull it but not run it.
        want = self.refused_message("us")
        peers.log(f"  the us node's decoder says: {want}")
        us_identity = f"cn:{US} {fingerprint(self.certs[US][0])}"
        for part in (f"key provider {PROVIDER} (grpc 127.0.0.1:{self.port}, TLS): ",
                     f"PERMISSION_DENIED: key {KEY} may not be released to {us_identity} "
                     f"(not in keys.{KEY}.release-to of {self.policy})"):
            self.assertIn(part, want)
        self.check_cri_pull_fails(us, image, want)
        refused = self.decisions_of(US)
        self.assertTrue(refused, "no decision for the us node in the provider's log")
        for line in refused:
            self.assertIn(' transport=grpc peer="ipv4:127.0.0.1:', line)
            self.assertIn(f' identity="{us_identity}" key={KEY} refused (', line)
        self.assert_no_key_material()

        # The us node is added to the allow-list: no re-encryption, no
        # restart; the next pull runs.
        self.write_policy([f"cn:{EU}", f"cn:{US}"])
        self.check_cri_pull(us, image)
        self.assertIn(f"key={KEY} allowed", self.decisions_of(US)[-1])
        self.assertEqual(self.registry.manifest_digest(REPOSITORY, TAG), self.manifest_digest)
        self.assertTrue(self.provider.alive())
        self.assert_no_key_material()

    def test_provider_behind_an_untrusted_certificate(self):
        # A node that trusts another CA does not talk to the provider at all.
        node = self.nodes["wrong-ca"]
        want = self.refused_message("wrong-ca")
        peers.log(f"  the wrong-CA node's decoder says: {want}")
        for part in (f"key provider {PROVIDER} (grpc 127.0.0.1:{self.port}", "TLS"):
            self.assertIn(part, want)
        before = len(self.decisions_of(EU))
        self.check_cri_pull_fails(node, self.image, want)
        self.assertEqual(len(self.decisions_of(EU)), before, "the provider saw a request")


if __name__ == "__main__":
    e2e_common.main(__doc__, programs=("keyprovider",))
