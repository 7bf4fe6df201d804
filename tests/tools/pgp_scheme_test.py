#!/usr/bin/python3
"""The pgp scheme through the `layercrypt` CLI and layercrypt-decoder run as
containerd runs it, with the keyrings of tests/vectors/pgp/: encrypt for
`pgp:alice@example.com` and `pgp:Bob` (--gpg-pubring, binary or armored;
--gpg-homedir through gpg), `layerinfo` and `recipients list` naming the
key ids, decrypt with binary and armored secret keyrings and passphrases
(`FILE:PASS`, `FILE:file=PASSFILE`), the decoder with a keyring in its keys
directory or in the payload (gpg-privatekeys with its password), taking a
recipient off; and the refusals, each exit status 1 with one line naming the
cause and never a passphrase: no key matches, wrong passphrase, no
passphrase, keys not held, a public keyring, a truncated or garbage blob.

Usage: pgp_scheme_test.py LAYERCRYPT DECODER [unittest args]
"""

import base64
import copy
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
V = os.path.join(HERE, "..", "vectors", "pgp")
TAR = "application/vnd.oci.image.layer.v1.tar"
PGP_KEYS = "org.opencontainers.image.enc.keys.pgp"
ALICE, BOB, CAROL = "0xb0f98cacd6ec252e", "0x8ed46b7d6f9a9101", "0x0a233dae5020792a"
BOB_PASS = "bob passphrase"
WRONG_PASS = "not-bobs-passphrase-91"


def vec(name):
    return os.path.join(V, name)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class PgpScheme(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = d = tempfile.mkdtemp(prefix="lc-pgp-")
        cls.tar = make_tar([("etc/app.conf", os.urandom(30_000))])
        ocitest.write_image(f"{d}/plain", [(cls.tar, TAR, cls.tar)])
        cls.lc_ok("encrypt", "--gpg-pubring", vec("pubring.gpg"), "-r", "pgp:alice@example.com",
                  "-r", "pgp:Bob", f"{d}/plain:v1", f"{d}/enc:v1")
        cls.desc = next(ocitest.Layout(f"{d}/enc").layers())
        cls.blob = ocitest.Layout(f"{d}/enc").blob(cls.desc["digest"])
        cls.truncated = f"{d}/truncated.sec.gpg"
        with open(cls.truncated, "wb") as f:
            f.write(read(vec("alice.sec.gpg"))[:300])
        for name, files in {"keys-alice": ["alice.sec.gpg"], "keys-armored": ["alice.sec.asc"],
                            "keys-bob": ["bob.sec.gpg"],
                            "keys-carol": ["carol.sec.gpg", "pubring.gpg"]}.items():
            os.makedirs(f"{d}/{name}")
            for f in files:
                shutil.copy(vec(f), f"{d}/{name}")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def lc(cls, *args, env=None):
        return subprocess.run([LAYERCRYPT, *args], capture_output=True, text=True,
                              env=dict(os.environ, **(env or {})), timeout=120)

    @classmethod
    def lc_ok(cls, *args, env=None):
        r = cls.lc(*args, env=env)
        if r.returncode != 0:
            raise AssertionError(f"layercrypt {' '.join(args)}: {r.stderr.strip()}")
        return r

    def decode(self, desc=None, keys=None, payload=None):
        desc = desc or self.desc
        args = ["--decryption-keys-path", f"{self.dir}/{keys}"] if keys else []
        return ocitest.run_decoder(DECODER, self.blob, payload or ocitest.make_payload(desc),
                                   args, media_type=desc["mediaType"])

    def one_line(self, lines, *needles):
        lines = [l for l in lines if l.strip()]
        self.assertEqual(len(lines), 1, lines)
        for n in needles:
            self.assertIn(n, lines[0])
        self.assertNotIn(BOB_PASS, lines[0])
        self.assertNotIn(WRONG_PASS, lines[0])
        return lines[0]

    def decrypted(self, out):
        layer = next(ocitest.Layout(out).layers())
        return ocitest.Layout(out).blob(layer["digest"])

    def test_layerinfo_and_list_name_the_key_ids(self):
        info = self.lc_ok("layerinfo", f"{self.dir}/enc:v1").stdout
        self.assertIn(f"pgp:{ALICE}, pgp:{BOB}", info)
        listed = self.lc_ok("recipients", "list", f"{self.dir}/enc:v1").stdout
        self.assertIn(f"pgp:{ALICE}", listed)
        self.assertIn(f"pgp:{BOB}", listed)

    def test_cli_decrypts_with_each_keyring(self):
        passfile = f"{self.dir}/bob.pass"
        with open(passfile, "w") as f:
            f.write(BOB_PASS + "\n")
        for i, key in enumerate((vec("alice.sec.gpg"), vec("alice.sec.asc"),
                                 f"{vec('bob.sec.gpg')}:{BOB_PASS}",
                                 f"{vec('bob.sec.gpg')}:file={passfile}")):
            out = f"{self.dir}/dec-{i}"
            self.lc_ok("decrypt", "--key", key, f"{self.dir}/enc:v1", f"{out}:v1")
            self.assertEqual(self.decrypted(out), self.tar)

    def test_cli_refusals(self):
        enc = f"{self.dir}/enc:v1"
        x = f"{self.dir}/x:v1"
        plain = f"{self.dir}/plain:v1"
        cases = [  # (arguments, what the one line says, exit status)
            (["decrypt", "--key", f"{vec('bob.sec.gpg')}:{WRONG_PASS}", enc, x],
             f"wrong passphrase for key {BOB}", 1),
            (["decrypt", "--key", vec("bob.sec.gpg"), enc, x],
             f"key {BOB} is protected by a passphrase and none was given", 1),
            (["decrypt", "--key", vec("carol.sec.gpg"), enc, x],
             f"the message is for keys {ALICE}, {BOB}, none of which the keyring holds", 1),
            (["decrypt", "--key", vec("pubring.gpg"), enc, x], "is an OpenPGP public keyring", 1),
            # librnp's own diagnostics of a broken keyring stay off stderr.
            (["decrypt", "--key", self.truncated, enc, x], "OpenPGP keyring does not parse", 1),
            (["encrypt", "--gpg-pubring", vec("pubring.gpg"), "-r",
              "pgp:Alice Example <alice@example.com>", plain, x],
             "no key matches pgp recipient \"Alice Example <alice@example.com>\"", 1),
            (["encrypt", "--gpg-pubring", vec("alice.sec.gpg"), "-r", "pgp:Bob", plain, x],
             "no key matches pgp recipient \"Bob\"", 1),  # a secret keyring has no Bob either
            (["encrypt", "--gpg-pubring", vec("missing.gpg"), "-r", "pgp:Bob", plain, x],
             "--gpg-pubring", 2),  # a usage error
        ]
        for args, needle, rc in cases:
            r = self.lc(*args)
            self.assertEqual(r.returncode, rc, (args, r.stderr))
            self.one_line(r.stderr.splitlines(), needle)
        self.assertFalse(os.path.exists(f"{self.dir}/x"))

    def test_armored_pubring_and_a_shared_name(self):
        out = f"{self.dir}/enc-asc"
        self.lc_ok("encrypt", "--gpg-pubring", vec("pubring.asc"), "-r", "pgp:Alice Example",
                   f"{self.dir}/plain:v1", f"{out}:v1")
        info = self.lc_ok("layerinfo", f"{out}:v1").stdout
        self.assertIn(f"pgp:{ALICE}, pgp:{CAROL}", info)  # both keys named Alice Example
        self.lc_ok("decrypt", "--key", vec("carol.sec.gpg"), f"{out}:v1", f"{out}-dec:v1")
        self.assertEqual(self.decrypted(f"{out}-dec"), self.tar)

    def test_gpg_homedir(self):
        if shutil.which("gpg") is None:
            self.skipTest("gpg is not installed")
        home = tempfile.mkdtemp(dir=self.dir, prefix="gnupg-")
        subprocess.run(["gpg", "--homedir", home, "--batch", "--import", vec("pubring.gpg")],
                       check=True, capture_output=True)
        out = f"{self.dir}/enc-home"
        self.lc_ok("encrypt", "--gpg-homedir", home, "-r", "pgp:bob@example.org",
                   f"{self.dir}/plain:v1", f"{out}:v1")
        self.assertIn(f"pgp:{BOB}", self.lc_ok("layerinfo", f"{out}:v1").stdout)
        subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True)

    def test_decoder_with_keys_directory(self):
        for keys in ("keys-alice", "keys-armored"):  # Go skips an armored keyring; we read it
            run = self.decode(keys=keys)
            self.assertEqual(run.rc, 0, run)
            self.assertEqual(run.out, self.tar)
            self.assertEqual(run.err_lines, [], run)
        # A keys directory gives no passphrase (as in Go): Bob's key cannot open it.
        run = self.decode(keys="keys-bob")
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(run.out, b"")
        self.one_line(run.err_lines, f"key {BOB} is protected by a passphrase")
        run = self.decode(keys="keys-carol")
        self.assertEqual(run.rc, 1, run)
        self.one_line(run.err_lines, "none of which the keyring holds")

    def test_decoder_without_the_openpgp_library(self):
        # librnp is loaded on first use; a node without it gets one line naming it.
        run = ocitest.run_decoder(DECODER, self.blob, ocitest.make_payload(self.desc),
                                  ["--decryption-keys-path", f"{self.dir}/keys-alice"],
                                  media_type=self.desc["mediaType"],
                                  env_extra={"LAYERCRYPT_RNP_LIBRARY": "/nonexistent/librnp.so.0"})
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(run.out, b"")
        self.one_line(run.err_lines, "the OpenPGP library could not be loaded (install librnp0)",
                      "/nonexistent/librnp.so.0")

    def test_keyring_in_keys_directory_costs_jwe_layers_nothing(self):
        # A node keeps a PGP keyring beside its JWE key: a JWE layer must not
        # need the OpenPGP library (keyrings are classified by their packets).
        d = tempfile.mkdtemp(prefix="keys-mixed-", dir=self.dir)
        self.lc_ok("keygen", "--type", "ec:p256", "--out", f"{d}/node")
        shutil.copy(vec("alice.sec.gpg"), d)
        enc = f"{self.dir}/enc-jwe"
        self.lc_ok("encrypt", "-r", f"jwe:{d}/node.pub.pem", f"{self.dir}/plain:v1", f"{enc}:v1")
        os.remove(f"{d}/node.pub.pem")
        desc = next(ocitest.Layout(enc).layers())
        no_rnp = {"LAYERCRYPT_RNP_LIBRARY": "/nonexistent/librnp.so.0"}
        run = ocitest.run_decoder(DECODER, ocitest.Layout(enc).blob(desc["digest"]),
                                  ocitest.make_payload(desc), ["--decryption-keys-path", d],
                                  media_type=desc["mediaType"], env_extra=no_rnp)
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(run.out, self.tar)
        self.assertEqual(run.err_lines, [], run)
        # The pgp layer in the same directory still needs it, and says so.
        run = ocitest.run_decoder(DECODER, self.blob, ocitest.make_payload(self.desc),
                                  ["--decryption-keys-path", d], media_type=self.desc["mediaType"],
                                  env_extra=no_rnp)
        self.assertEqual(run.rc, 1, run)
        self.one_line(run.err_lines, "the OpenPGP library could not be loaded")

    def test_decoder_with_payload(self):
        bob = read(vec("bob.sec.gpg"))
        run = self.decode(payload=ocitest.make_payload(
            self.desc, gpg_keyrings=[(read(vec("carol.sec.gpg")), None), (bob, BOB_PASS.encode())]))
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(run.out, self.tar)
        run = self.decode(payload=ocitest.make_payload(
            self.desc, gpg_keyrings=[(bob, WRONG_PASS.encode())]))
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(run.out, b"")
        self.one_line(run.err_lines, f"wrong passphrase for key {BOB}")

    def test_remove_a_recipient(self):
        out = f"{self.dir}/enc-removed"
        shutil.copytree(f"{self.dir}/enc", out)
        self.lc_ok("recipients", "remove", "-r", f"pgp:{ALICE}", f"{out}:v1")
        info = self.lc_ok("layerinfo", f"{out}:v1").stdout
        self.assertNotIn(ALICE, info)
        self.assertIn(f"pgp:{BOB}", info)
        r = self.lc("decrypt", "--key", vec("alice.sec.gpg"), f"{out}:v1", f"{out}-a:v1")
        self.assertEqual(r.returncode, 1)
        self.one_line(r.stderr.splitlines(), f"the message is for key {BOB}, none of which")
        self.lc_ok("decrypt", "--key", f"{vec('bob.sec.gpg')}:{BOB_PASS}", f"{out}:v1",
                   f"{out}-b:v1")
        self.assertEqual(self.decrypted(f"{out}-b"), self.tar)

    def test_truncated_and_garbage_blobs(self):
        good = base64.b64decode(self.desc["annotations"][PGP_KEYS])
        for text in (good[: len(good) // 2], b"\x00garbage\xff", good[:-1]):
            desc = copy.deepcopy(self.desc)
            desc["annotations"][PGP_KEYS] = base64.b64encode(text).decode()
            run = self.decode(desc=desc, keys="keys-alice")
            self.assertEqual(run.rc, 1, run)
            self.assertEqual(run.out, b"")
            self.one_line(run.err_lines, "pgp blob 1/1")


def main():
    global LAYERCRYPT, DECODER
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    LAYERCRYPT, DECODER = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], *sys.argv[3:]])


if __name__ == "__main__":
    main()
