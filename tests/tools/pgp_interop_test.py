#!/usr/bin/python3
"""The pgp scheme between layercrypt and Go ocicrypt, both ways: Debian 12's
skopeo 1.9.3 (ocicrypt 1.0.3, on the host) and sid's skopeo 1.22 (ocicrypt
1.1.10, in the Debian sid root of tests/e2e/peers.py).

GnuPG makes two RSA keys in a scratch GNUPGHOME (Go's OpenPGP reader needs
RSA: gnupg 2.4's default ed25519/cv25519 keys fail in skopeo 1.22): Alice's
without a passphrase, Bob's with one. Each skopeo encrypts for
`pgp:alice@example.com` and `pgp:Bob` (it runs `gpg --export` itself: the
host's gpg, or the sid root's for skopeo 1.22) and the `layercrypt` CLI and
layercrypt-decoder (keyring in the keys directory; keyring and passphrase in
the payload) decrypt; the CLI encrypts (--gpg-pubring and --gpg-homedir) and
both skopeos decrypt with `--decryption-key secring.gpg[:PASSPHRASE]`
(skopeo 1.9.3 only Alice's: ocicrypt 1.0.3 takes no passphrase there). Then
one image for pgp, pkcs11 (a SoftHSM2 token key; OCICRYPT_OAEP_HASHALG=sha1
as SoftHSM 2.6 needs), jwe and pkcs7 recipients at once, made by layercrypt
and by skopeo 1.22, is decrypted by skopeo 1.22 and by layercrypt with each
key alone. Decrypted layers are compared by digest with the plain ones.

Usage (root): pgp_interop_test.py LAYERCRYPT DECODER [unittest args]

The program re-executes itself in a private mount namespace (the chroot's
mounts vanish with it). Exit status 77 (skipped) when not root; a machine
that cannot make the sid root fails.
"""

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
from cli_test import layer_digests  # noqa: E402
from skopeo_interop_test import make_plain_layout  # noqa: E402

LAYERCRYPT = DECODER = None
PGP_KEYS = "org.opencontainers.image.enc.keys.pgp"
BOB_PASS = "bob-pass-7f3a"
TOKEN = "lc-pgp-interop"
PIN = "26813579"


def sh(*argv, env=None, stdout=None):
    r = subprocess.run(argv, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {r.stderr.decode().strip()}")
    return r


def gpg_key(home, uid, passphrase):
    """An RSA-2048 signing key with an RSA-2048 encryption subkey."""
    pw = ["--pinentry-mode", "loopback", "--passphrase", passphrase]
    sh("gpg", "--homedir", home, "--batch", *pw, "--quick-gen-key", uid, "rsa2048", "sign", "never")
    out = sh("gpg", "--homedir", home, "--batch", "--with-colons", "--list-keys", f"={uid}")
    fpr = next(l.split(":")[9] for l in out.stdout.decode().splitlines() if l.startswith("fpr:"))
    sh("gpg", "--homedir", home, "--batch", *pw, "--quick-add-key", fpr, "rsa2048", "encr", "never")
    subs = sh("gpg", "--homedir", home, "--batch", "--with-colons", "--list-keys", fpr)
    # The encryption subkey's id: what the blob's PKESK packet names.
    return "0x" + [l.split(":")[4] for l in subs.stdout.decode().splitlines()
                   if l.startswith("sub:")][0].lower()


class PgpInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = d = peers.new_scratch("pgp")
        cls.sid = None
        for tool in ("gpg", "skopeo", "softhsm2-util", "openssl"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not found (./tools/run.sh test installs it)")
        cls.sid = peers.SidSkopeo(shared=[d])
        cls.home = f"{d}/gnupg"
        os.makedirs(cls.home, mode=0o700)
        cls.alice_id = gpg_key(cls.home, "Alice Example <alice@example.com>", "")
        cls.bob_id = gpg_key(cls.home, "Bob <bob@example.org>", BOB_PASS)
        g = ["gpg", "--homedir", cls.home, "--batch"]
        cls.pubring, cls.alice, cls.bob = f"{d}/pubring.gpg", f"{d}/alice.sec.gpg", f"{d}/bob.sec.gpg"
        with open(cls.pubring, "wb") as f:
            sh(*g, "--export", stdout=f)
        with open(cls.alice, "wb") as f:
            sh(*g, "--export-secret-keys", "alice@example.com", stdout=f)
        with open(cls.bob, "wb") as f:
            sh(*g, "--pinentry-mode", "loopback", "--passphrase", BOB_PASS,
               "--export-secret-keys", "bob@example.org", stdout=f)
        # The gpg-agent that key generation started is not needed any more.
        subprocess.run(["gpgconf", "--homedir", cls.home, "--kill", "gpg-agent"],
                       capture_output=True)
        cls.gpg_env = {"GNUPGHOME": cls.home}
        cls.plain = f"{d}/plain"
        make_plain_layout(cls.plain)
        cls.plain_layers = [dg for _, dg in layer_digests(cls.plain)[0]]

    @classmethod
    def tearDownClass(cls):
        if cls.sid:
            cls.sid.close()
        subprocess.run(["gpgconf", "--homedir", cls.home, "--kill", "all"], capture_output=True)
        peers.unmount_all(cls.tmp)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def lc(self, *args, env=None):
        r = subprocess.run([LAYERCRYPT, *args], capture_output=True, text=True,
                           env=dict(os.environ, **(env or {})), timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"layercrypt {' '.join(args)}: {r.stderr.strip()}")
        return r

    def host_skopeo(self, *args, env=None):
        sh("skopeo", "--insecure-policy", "copy", "-q", "--dest-oci-accept-uncompressed-layers",
           *args, env=dict(os.environ, **(env or {})))

    def assert_plain(self, layout):
        self.assertEqual([dg for _, dg in layer_digests(layout)[0]], self.plain_layers)

    def check_we_decrypt(self, enc):
        layers = list(ocitest.Layout(enc).layers())
        self.assertEqual(len(layers), 2)
        for desc in layers:
            self.assertIn(PGP_KEYS, desc["annotations"])
        info = self.lc("layerinfo", f"{enc}:v1").stdout
        self.assertIn(f"pgp:{self.alice_id}", info)
        self.assertIn(f"pgp:{self.bob_id}", info)
        self.lc("decrypt", "--key", self.alice, f"{enc}:v1", f"{enc}-dec-alice:v1")
        self.assert_plain(f"{enc}-dec-alice")
        self.lc("decrypt", "--key", f"{self.bob}:{BOB_PASS}", f"{enc}:v1", f"{enc}-dec-bob:v1")
        self.assert_plain(f"{enc}-dec-bob")
        # The decoder as containerd runs it: Alice's keyring in the keys
        # directory (no passphrase there, as in Go); Bob's with its
        # passphrase in the payload.
        kdir = f"{enc}-keys"
        os.makedirs(kdir)
        shutil.copy(self.alice, kdir)
        with open(self.bob, "rb") as f:
            bob_ring = f.read()
        for i, desc in enumerate(layers):
            blob = ocitest.Layout(enc).blob(desc["digest"])
            run = ocitest.run_decoder(DECODER, blob, ocitest.make_payload(desc),
                                      ["--decryption-keys-path", kdir],
                                      media_type=desc["mediaType"])
            self.assertEqual(run.rc, 0, run)
            self.assertEqual(ocitest.sha256_digest(run.out), self.plain_layers[i])
            # librnp's remarks on Go's messages (short first partial
            # chunks) stay off the decoder's stderr.
            self.assertEqual(run.err_lines, [], run)
            payload = ocitest.make_payload(desc, gpg_keyrings=[(bob_ring, BOB_PASS.encode())])
            run = ocitest.run_decoder(DECODER, blob, payload, media_type=desc["mediaType"])
            self.assertEqual(run.rc, 0, run)
            self.assertEqual(ocitest.sha256_digest(run.out), self.plain_layers[i])
            # Without the passphrase: one line naming the cause.
            payload = ocitest.make_payload(desc, gpg_keyrings=[(bob_ring, None)])
            run = ocitest.run_decoder(DECODER, blob, payload, media_type=desc["mediaType"])
            self.assertNotEqual(run.rc, 0, run)
            self.assertEqual(len(run.err_lines), 1, run)
            self.assertIn(f"key {self.bob_id} is protected by a passphrase", run.err_lines[0])

    def test_skopeo_1_9_encrypts_layercrypt_decrypts(self):
        enc = f"{self.tmp}/sk19-enc"
        self.host_skopeo("--encryption-key", "pgp:alice@example.com", "--encryption-key", "pgp:Bob",
                         f"oci:{self.plain}:v1", f"oci:{enc}:v1", env=self.gpg_env)
        self.check_we_decrypt(enc)

    def test_skopeo_1_22_encrypts_layercrypt_decrypts(self):
        enc = f"{self.tmp}/sk122-enc"
        self.sid.copy(f"oci:{self.plain}:v1", f"oci:{enc}:v1", "--dest-oci-accept-uncompressed-layers",
                      "--encryption-key", "pgp:alice@example.com", "--encryption-key", "pgp:Bob",
                      env=self.gpg_env)
        self.check_we_decrypt(enc)

    def test_layercrypt_encrypts_skopeos_decrypt(self):
        for how, opts in (("ring", ["--gpg-pubring", self.pubring]),
                          ("home", ["--gpg-homedir", self.home])):
            enc = f"{self.tmp}/lc-enc-{how}"
            self.lc("encrypt", *opts, "-r", "pgp:alice@example.com", "-r", "pgp:Bob",
                    f"{self.plain}:v1", f"{enc}:v1")
            # skopeo 1.9.3 (ocicrypt 1.0.3) takes no FILE:PASSPHRASE: Alice's key only.
            dec = f"{enc}-sk19-alice"
            self.host_skopeo("--decryption-key", self.alice, f"oci:{enc}:v1", f"oci:{dec}:v1")
            self.assert_plain(dec)
            for who, key in (("alice", self.alice), ("bob", f"{self.bob}:{BOB_PASS}")):
                dec = f"{enc}-sk122-{who}"
                self.sid.copy(f"oci:{enc}:v1", f"oci:{dec}:v1",
                              "--dest-oci-accept-uncompressed-layers", "--decryption-key", key)
                self.assert_plain(dec)
            # A wrong passphrase fails in Go too: the blob is not opened by luck.
            with self.assertRaises(AssertionError):
                self.sid.copy(f"oci:{enc}:v1", f"oci:{enc}-sk122-wrong:v1",
                              "--dest-oci-accept-uncompressed-layers", "--decryption-key",
                              f"{self.bob}:not-the-passphrase")

    def test_mixed_recipients(self):
        """pgp, pkcs11, jwe and pkcs7 recipients on one image; every key alone opens it."""
        d = self.tmp
        os.makedirs(f"{d}/tokens")
        with open(f"{d}/softhsm2.conf", "w") as f:
            f.write(f"directories.tokendir = {d}/tokens\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
        with open(f"{d}/ocicrypt.conf", "w") as f:
            f.write("pkcs11:\n  module-directories: [/usr/lib/softhsm/]\n"
                    "  allowed-module-paths: [/usr/lib/softhsm/libsofthsm2.so]\n")
        env = {"SOFTHSM2_CONF": f"{d}/softhsm2.conf", "OCICRYPT_CONFIG": f"{d}/ocicrypt.conf",
               "OCICRYPT_OAEP_HASHALG": "sha1", "GNUPGHOME": self.home}
        host = dict(os.environ, **env)
        sh("softhsm2-util", "--init-token", "--free", "--label", TOKEN, "--so-pin", "1234",
           "--pin", PIN, env=host)
        sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
           "-out", f"{d}/hsm.pem")
        sh("softhsm2-util", "--import", f"{d}/hsm.pem", "--token", TOKEN, "--label", "layer-key",
           "--id", "01", "--pin", PIN, env=host)
        os.remove(f"{d}/hsm.pem")
        yaml = f"{d}/hsm-key.yaml"
        with open(yaml, "w") as f:
            f.write(f"pkcs11:\n  uri: pkcs11:token={TOKEN};object=layer-key;id=%01"
                    f"?pin-value={PIN}&module-name=softhsm2\n"
                    f"module:\n  env:\n    SOFTHSM2_CONF: {d}/softhsm2.conf\n")
        rsa, rsa_pub = f"{d}/rsa.pem", f"{d}/rsa.pub.pem"
        sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
           "-out", rsa)
        sh("openssl", "pkey", "-in", rsa, "-pubout", "-out", rsa_pub)
        p7key, p7cert = f"{d}/p7.key.pem", f"{d}/p7.cert.pem"
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p7key,
           "-out", p7cert, "-days", "2", "-subj", "/CN=layercrypt-pgp-interop")
        recipients = ["pgp:alice@example.com", f"pkcs11:{yaml}", f"jwe:{rsa_pub}", f"pkcs7:{p7cert}"]
        alone = {"pgp": [self.alice], "pkcs11": [yaml], "jwe": [rsa], "pkcs7": [p7key, p7cert]}

        ours = f"{d}/mixed-lc"
        args = []
        for r in recipients:
            args += ["-r", r]
        self.lc("encrypt", "--gpg-pubring", self.pubring, *args, f"{self.plain}:v1", f"{ours}:v1",
                env=env)
        theirs = f"{d}/mixed-sk122"
        args = []
        for r in recipients:
            args += ["--encryption-key", r]
        self.sid.copy(f"oci:{self.plain}:v1", f"oci:{theirs}:v1",
                      "--dest-oci-accept-uncompressed-layers", *args, env=env)
        for enc in (ours, theirs):
            for desc in ocitest.Layout(enc).layers():
                for scheme in alone:
                    self.assertIn(f"org.opencontainers.image.enc.keys.{scheme}",
                                  desc["annotations"], (enc, scheme))
            for scheme, keys in alone.items():
                dec = f"{enc}-sk122-{scheme}"
                opts = []
                for k in keys:
                    opts += ["--decryption-key", k]
                self.sid.copy(f"oci:{enc}:v1", f"oci:{dec}:v1",
                              "--dest-oci-accept-uncompressed-layers", *opts, env=env)
                self.assert_plain(dec)
                dec = f"{enc}-lc-{scheme}"
                opts = []
                for k in keys:
                    opts += ["--key", k]
                self.lc("decrypt", *opts, f"{enc}:v1", f"{dec}:v1", env=env)
                self.assert_plain(dec)


def main():
    global LAYERCRYPT, DECODER
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    LAYERCRYPT, DECODER = (os.path.abspath(p) for p in sys.argv[1:3])
    peers.enter_sid_test_namespace("pgp_interop_test")
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]], verbosity=2)


if __name__ == "__main__":
    main()
