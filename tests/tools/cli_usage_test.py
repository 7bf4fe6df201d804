#!/usr/bin/python3
"""The `layercrypt` command line as a new user meets it: options anywhere,
usage errors in one line with status 2, passwords in every form ocicrypt's
tools accept, `encrypt-layer` that looks at its input, `--compress zstd`,
`keygen --cert`, and messages that say what to do. Peers: skopeo and zstd.

Usage: cli_usage_test.py LAYERCRYPT DECODER
"""

import gzip
import json
import os
import pty
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocitest  # noqa: E402
from cli_test import layer_digests  # noqa: E402
from skopeo_interop_test import make_plain_layout, make_tar  # noqa: E402

LAYERCRYPT = None
DECODER = None


def lc(*args, check=True, **kw):
    r = subprocess.run([LAYERCRYPT, *args], capture_output=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"layercrypt {' '.join(args)} failed: {r.stderr.decode()}")
    return r


def one_line(test, r):
    err = r.stderr.decode()
    test.assertEqual(len(err.strip().splitlines()), 1, err)
    test.assertTrue(err.startswith("layercrypt: "), err)
    return err


def skopeo_decrypt(src, key, dst):
    subprocess.run(["skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
                    "--decryption-key", key, f"oci:{src}:v1", f"oci:{dst}:v1"],
                   check=True, capture_output=True)


class CliUsage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="layercrypt-usage-")
        cls.plain = os.path.join(cls.tmp, "plain")
        make_plain_layout(cls.plain)
        cls.plain_layers, _ = layer_digests(cls.plain)
        base = os.path.join(cls.tmp, "k")
        lc("keygen", "--out", base)
        cls.priv, cls.pub = base + ".pem", base + ".pub.pem"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def out(self, name):
        return os.path.join(self.tmp, name)

    def test_options_after_positionals(self):
        r = lc("encrypt", "-r", "jwe:" + self.pub, f"{self.plain}:v1", self.out("after1"), "--json")
        self.assertEqual(json.loads(r.stdout)["operation"], "encrypted")
        lc("encrypt", "--layer", "1", f"{self.plain}:v1", self.out("after2"), "-r", "jwe:" + self.pub)
        got, _ = layer_digests(self.out("after2"))
        self.assertEqual([mt.endswith("+encrypted") for mt, _ in got], [False, True])
        lc("recipients", "set", "-k", self.priv, "-r", "jwe:" + self.pub, f"{self.out('after2')}:v1",
           "-o", self.out("after3") + ":v1")
        self.assertTrue(os.path.exists(os.path.join(self.out("after3"), "index.json")))
        # Repeated options still repeat.
        lc("encrypt", "-r", "jwe:" + self.pub, "-r", "jwe:" + self.pub, "-l", "0", "-l", "1",
           f"{self.plain}:v1", self.out("after4"))

    def test_usage_errors_are_one_line_and_status_2(self):
        for args in (["encrypt", "-r", "jwe:" + self.pub, f"{self.plain}:v1"],
                     ["encrypt", "-r", "jwe:" + self.pub, "--layer", "x", f"{self.plain}:v1", self.out("u")],
                     ["decrypt", "--nope", f"{self.plain}:v1", self.out("u")],
                     ["recipients"]):
            r = lc(*args, check=False)
            self.assertEqual(r.returncode, 2, args)
            err = one_line(self, r)
            self.assertIn("--help", err)
        r = lc("recipients", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("recipients add", r.stdout.decode())
        self.assertIn("--rekey", r.stdout.decode())
        self.assertNotIn("selfcheck", r.stdout.decode())

    def test_messages_say_what_to_do(self):
        r = lc("encrypt", "-r", "jwe:" + self.pub, f"{self.plain}:v1", "docker://registry.example/app:v1",
               check=False)
        self.assertIn("skopeo copy oci:DIR:TAG docker://registry.example/app:v1", one_line(self, r))
        r = lc("encrypt", "-r", "jwe:" + self.pub, f"{self.plain}:nope", self.out("m1"), check=False)
        self.assertIn("its tags: v1", one_line(self, r))
        r = lc("decrypt", "-k", self.priv, f"{self.plain}:v1", self.out("m2"))
        self.assertIn("is encrypted: nothing was decrypted", r.stderr.decode())

    def test_passwords_as_ocicrypt_spells_them(self):
        enc = self.out("pw-enc")
        lc("encrypt", "-r", "jwe:" + self.pub, f"{self.plain}:v1", enc)
        key = self.out("pw.pem")
        subprocess.run(["openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", self.priv,
                        "-out", key, "-passout", "pass:s3cret"], check=True)
        pwfile = self.out("pw.txt")
        with open(pwfile, "w") as f:
            f.write("s3cret\nignored second line\n")
        for i, spec in enumerate([key + ":s3cret", key + ":pass=s3cret", key + ":file=" + pwfile]):
            lc("decrypt", "-k", spec, f"{enc}:v1", self.out(f"pw-dec{i}"))
        rfd, wfd = os.pipe()
        os.write(wfd, b"s3cret\n")
        os.close(wfd)
        subprocess.run([LAYERCRYPT, "decrypt", "-k", f"{key}:fd={rfd}", f"{enc}:v1", self.out("pw-fd")],
                       check=True, capture_output=True, pass_fds=(rfd,))
        os.close(rfd)
        got, _ = layer_digests(self.out("pw-fd"))
        self.assertEqual(got, self.plain_layers)
        # On a terminal it is asked for, without echo.
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(LAYERCRYPT, [LAYERCRYPT, "decrypt", "-k", key, f"{enc}:v1", self.out("pw-tty")])
        seen = b""
        while b"Password for" not in seen:
            seen += os.read(fd, 1024)
        self.assertIn(key.encode(), seen)
        os.write(fd, b"s3cret\n")
        rest = b""
        try:
            while True:
                chunk = os.read(fd, 1024)
                if not chunk:
                    break
                rest += chunk
        except OSError:  # EIO once the child has exited
            pass
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, rest)
        self.assertNotIn(b"s3cret", rest)
        got, _ = layer_digests(self.out("pw-tty"))
        self.assertEqual(got, self.plain_layers)
        # No password and no terminal: one line naming the file and the forms.
        r = lc("decrypt", "-k", key, f"{enc}:v1", self.out("pw-none"), check=False, stdin=subprocess.DEVNULL,
               start_new_session=True)
        self.assertEqual(r.returncode, 1)
        err = one_line(self, r)
        self.assertIn(key, err)
        self.assertIn(":pass=", err)
        # A wrong password: said once, naming the file.
        r = lc("decrypt", "-k", key + ":wrong", f"{enc}:v1", self.out("pw-wrong"), check=False)
        err = one_line(self, r)
        self.assertIn(key, err)
        self.assertNotIn("private key 1", err)
        self.assertNotIn("s3cret", err)

    def test_compress_zstd_is_read_by_skopeo_and_zstd(self):
        enc = self.out("zstd")
        lc("encrypt", "--compress", "zstd:9", "-r", "jwe:" + self.pub, f"{self.plain}:v1", enc)
        got, m = layer_digests(enc)
        self.assertEqual(got[1][0], "application/vnd.oci.image.layer.v1.tar+zstd+encrypted")
        self.assertEqual(got[0][0], self.plain_layers[0][0] + "+encrypted")  # gzip stays gzip
        dec = self.out("zstd-skopeo")
        skopeo_decrypt(enc, self.priv, dec)
        got, m = layer_digests(dec)
        self.assertEqual(got[1][0], "application/vnd.oci.image.layer.v1.tar+zstd")
        with open(os.path.join(dec, "blobs", "sha256", got[1][1][7:]), "rb") as f:
            tar = subprocess.run(["zstd", "-dc"], input=f.read(), check=True, capture_output=True).stdout
        self.assertEqual(ocitest.sha256_digest(tar), self.plain_layers[1][1])  # the tar is its diff_id
        for bad in ("zstd:0", "zstd:20", "gzip:4", "brotli"):
            r = lc("encrypt", "--compress", bad, "-r", "jwe:" + self.pub, f"{self.plain}:v1",
                   self.out("zbad"), check=False)
            self.assertIn("zstd[:LEVEL]", one_line(self, r))

    def test_encrypt_layer_looks_at_its_input(self):
        tar = make_tar([("etc/hello", b"hello\n" * 1000)])
        tgz = gzip.compress(tar)
        paths = {}
        for name, data in {"l.tar": tar, "l.tgz": tgz, "empty": b"", "notes.txt": b"just text\n" * 200}.items():
            paths[name] = self.out(name)
            with open(paths[name], "wb") as f:
                f.write(data)
        r = lc("encrypt-layer", "-r", "jwe:" + self.pub, "-o", self.out("l.enc"), paths["l.tgz"])
        j = json.loads(r.stdout)
        self.assertEqual(j["descriptor"]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip+encrypted")
        self.assertEqual(j["plainDigest"], ocitest.sha256_digest(tgz))
        self.assertNotEqual(j.get("diffID"), ocitest.sha256_digest(tgz))
        for name, want in (("empty", "is empty"), ("notes.txt", "not a tar, gzip or zstd")):
            r = lc("encrypt-layer", "-r", "jwe:" + self.pub, "-o", self.out("bad.enc"), paths[name], check=False)
            self.assertIn(want, one_line(self, r))
            self.assertFalse(os.path.exists(self.out("bad.enc")))
        r = lc("encrypt-layer", "-r", "jwe:" + self.pub, "--media-type",
               "application/vnd.oci.image.layer.v1.tar", "-o", self.out("bad.enc"), paths["l.tgz"], check=False)
        self.assertIn("is gzip", one_line(self, r))
        # -o - is standard output; the descriptor goes to stderr; the decoder opens the blob.
        cwd = tempfile.mkdtemp(dir=self.tmp)
        r = lc("encrypt-layer", "--compress", "zstd", "-r", "jwe:" + self.pub, "-o", "-", paths["l.tar"], cwd=cwd)
        self.assertEqual(os.listdir(cwd), [])
        j = json.loads(r.stderr)
        self.assertEqual(j["diffID"], ocitest.sha256_digest(tar))
        self.assertEqual(ocitest.sha256_digest(r.stdout), j["descriptor"]["digest"])
        kd = tempfile.mkdtemp(dir=self.tmp)
        shutil.copy(self.priv, kd)
        run = ocitest.run_decoder(DECODER, r.stdout, ocitest.make_payload(j["descriptor"]),
                                  args=["--decryption-keys-path", kd, "--decompress"],
                                  media_type=j["descriptor"]["mediaType"])
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(run.out, tar)

    def test_recipients_list_remove_and_add_again(self):
        base = self.out("rm")
        for n in ("a", "b"):
            lc("keygen", "--out", f"{base}-{n}")
        lc("keygen", "--cert", "--type", "rsa:2048", "--out", f"{base}-c")
        a, b, c = (f"{base}-{n}" for n in ("a", "b", "c"))
        enc = self.out("rm-enc")
        lc("encrypt", "-r", f"jwe:{a}.pub.pem", "-r", f"jwe:{b}.pub.pem", "-r", f"pkcs7:{c}.crt.pem",
           f"{self.plain}:v1", enc)
        before, _ = layer_digests(enc)

        def who():
            rows = json.loads(lc("recipients", "list", "--json", enc).stdout)
            return [sorted(w["id"] for w in r["recipients"]) for r in rows]

        ids = who()
        self.assertEqual(len(ids), 2)
        self.assertTrue(all(len(l) == 3 and all(l) for l in ids), ids)
        # By public key: b's wrapped keys go, nothing else changes.
        r = lc("recipients", "remove", "-r", f"jwe:{b}.pub.pem", f"{enc}:v1")
        self.assertIn("--rekey", r.stderr.decode())
        self.assertEqual([len(l) for l in who()], [2, 2])
        after, _ = layer_digests(enc)
        self.assertEqual(after, before)  # same blobs: removing is not revoking
        self.assertEqual(lc("decrypt", "-k", b + ".pem", f"{enc}:v1", self.out("rm-b"), check=False).returncode, 1)
        skopeo_decrypt(enc, a + ".pem", self.out("rm-skopeo-a"))
        got, _ = layer_digests(self.out("rm-skopeo-a"))
        self.assertEqual(got, self.plain_layers)
        # By id, as list prints it: the pkcs7 RecipientInfo goes.
        p7 = [i for i in who()[0] if i.startswith("pkcs7:")][0]
        lc("recipients", "remove", "-r", p7, f"{enc}:v1")
        left = who()
        self.assertEqual([len(l) for l in left], [1, 1])
        self.assertEqual(left[0], left[1])
        self.assertTrue(left[0][0].startswith("jwe:") and left[0][0] in ids[0], left)
        # The last recipient cannot be removed; the image stays as it was.
        with open(os.path.join(enc, "index.json"), "rb") as f:
            idx = f.read()
        r = lc("recipients", "remove", "-r", f"jwe:{a}.pub.pem", f"{enc}:v1", check=False)
        self.assertIn("no recipient", one_line(self, r))
        with open(os.path.join(enc, "index.json"), "rb") as f:
            self.assertEqual(f.read(), idx)
        # Adding a recipient the layers have says so and adds nothing.
        r = lc("recipients", "add", "-k", a + ".pem", "-r", f"jwe:{a}.pub.pem", f"{enc}:v1")
        self.assertIn("is a recipient already", r.stderr.decode())
        self.assertEqual([len(l) for l in who()], [1, 1])
        # skopeo (Go) wrote no ids: its recipients are unnamed and cannot be removed by key.
        go = self.out("rm-go")
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--encryption-key", f"jwe:{a}.pub.pem",
                        "--encryption-key", f"jwe:{b}.pub.pem", f"oci:{self.plain}:v1", f"oci:{go}:v1"],
                       check=True, capture_output=True)
        self.assertIn("unnamed", lc("recipients", "list", go).stdout.decode())
        r = lc("recipients", "remove", "-r", f"jwe:{b}.pub.pem", f"{go}:v1", check=False)
        self.assertIn("no key id", one_line(self, r))

    def test_skopeo_opens_a_pkcs7_blob_a_recipient_was_taken_off(self):
        # The rewritten EnvelopedData (one RecipientInfo fewer) is read by Go.
        base = self.out("p7rm")
        for n in ("x", "y"):
            lc("keygen", "--cert", "--type", "rsa:2048", "--out", f"{base}-{n}")
        x, y = f"{base}-x", f"{base}-y"
        enc = self.out("p7rm-enc")
        lc("encrypt", "-r", f"pkcs7:{x}.crt.pem", "-r", f"pkcs7:{y}.crt.pem", f"{self.plain}:v1", enc)
        lc("recipients", "remove", "-r", f"pkcs7:{x}.crt.pem", f"{enc}:v1")
        rows = json.loads(lc("recipients", "list", "--json", enc).stdout)
        self.assertEqual([len(r["recipients"]) for r in rows], [1, 1])

        def skopeo(key, name):
            return subprocess.run(["skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
                                   "--decryption-key", key + ".pem", "--decryption-key", key + ".crt.pem",
                                   f"oci:{enc}:v1", f"oci:{self.out(name)}:v1"], capture_output=True)

        self.assertEqual(skopeo(y, "p7rm-y").returncode, 0)
        got, _ = layer_digests(self.out("p7rm-y"))
        self.assertEqual(got, self.plain_layers)
        self.assertNotEqual(skopeo(x, "p7rm-x").returncode, 0)

    def test_keygen_cert_makes_a_pkcs7_recipient_skopeo_opens(self):
        base = self.out("p7")
        r = lc("keygen", "--cert", "--subject", "node-eu-1", "--out", base)
        self.assertIn("p7.crt.pem", r.stdout.decode())
        text = subprocess.run(["openssl", "x509", "-in", base + ".crt.pem", "-noout", "-subject", "-text"],
                              check=True, capture_output=True).stdout.decode()
        self.assertIn("node-eu-1", text)
        self.assertIn("rsaEncryption", text)
        enc = self.out("p7-enc")
        lc("encrypt", "-r", "pkcs7:" + base + ".crt.pem", f"{self.plain}:v1", enc)
        dec = self.out("p7-skopeo")
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
                        "--decryption-key", base + ".pem", "--decryption-key", base + ".crt.pem",
                        f"oci:{enc}:v1", f"oci:{dec}:v1"], check=True, capture_output=True)
        got, _ = layer_digests(dec)
        self.assertEqual(got, self.plain_layers)
        r = lc("keygen", "--cert", "--type", "ec:p256", "--out", self.out("p7ec"), check=False)
        self.assertIn("RSA", one_line(self, r))
        self.assertFalse(os.path.exists(self.out("p7ec.pem")))


if __name__ == "__main__":
    LAYERCRYPT, DECODER = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    unittest.main(argv=sys.argv[:1], verbosity=2)
