#!/usr/bin/python3
"""Images encrypted by Debian's skopeo (Go ocicrypt) decrypt with
layercrypt-decoder under the containerd contract.

Usage: skopeo_interop_test.py DECODER

Builds a plain two-layer OCI layout (tar+gzip and uncompressed tar), makes
fresh keys with openssl (RSA-2048, RSA-4096, P-256, P-384, P-521, and an RSA
key with a self-signed certificate for pkcs7), encrypts with
`skopeo copy --encryption-key`, and decrypts every layer with the decoder in
the CRI node key model (keys directory) and the ctr-enc model (keys in the
payload). skopeo and openssl must be installed (tools/run.sh installs them).
"""

import gzip
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocitest  # noqa: E402

DECODER = None


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def make_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


write_blob = ocitest.write_blob


def make_plain_layout(layout):
    """A two-layer OCI image: tar+gzip, then an uncompressed tar."""
    rnd = os.urandom(200_000)
    text = b"".join(b"line %d of a config file\n" % i for i in range(20000))
    tar0 = make_tar([("usr/share/app/data.bin", rnd), ("usr/share/app/README", text)])
    tar1 = make_tar([("etc/app/app.conf", text[:5000]), ("etc/app/empty", b"")])
    layers = ocitest.write_image(layout, [
        (gzip.compress(tar0, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip", tar0),
        (tar1, "application/vnd.oci.image.layer.v1.tar", tar1)])
    return [l["digest"] for l in layers]


class SkopeoInterop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("skopeo", "openssl"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} not found: apt-get install skopeo openssl "
                                   "(./tools/run.sh test installs it)")
        cls.tmp = tempfile.mkdtemp(prefix="layercrypt-skopeo-")
        cls.plain = os.path.join(cls.tmp, "plain")
        cls.plain_digests = make_plain_layout(cls.plain)
        cls.keys = {}
        k = os.path.join(cls.tmp, "keys")
        os.makedirs(k)
        for name, gen in {
            "rsa2048": ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            "rsa4096": ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
            "ecp256": ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "ecp384": ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
            "ecp521": ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
        }.items():
            priv, pub = os.path.join(k, name + ".pem"), os.path.join(k, name + ".pub.pem")
            sh(*gen, "-out", priv)
            sh("openssl", "pkey", "-in", priv, "-pubout", "-out", pub)
            cls.keys[name] = (priv, pub)
        cls.p7key, cls.p7cert = os.path.join(k, "p7.key.pem"), os.path.join(k, "p7.cert.pem")
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cls.p7key,
           "-out", cls.p7cert, "-days", "2", "-subj", "/CN=layercrypt-test-recipient")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def encrypt(self, name, recipients, extra=()):
        dst = os.path.join(self.tmp, name)
        args = ["skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers"]
        for r in recipients:
            args += ["--encryption-key", r]
        sh(*args, *extra, f"oci:{self.plain}:v1", f"oci:{dst}:v1")
        return ocitest.Layout(dst)

    def key_dir(self, *files):
        d = tempfile.mkdtemp(dir=self.tmp, prefix="kd-")
        for f in files:
            shutil.copy(f, d)
        return d

    def check_decrypts(self, layout, key_files, expect_encrypted=(0, 1)):
        layers = list(layout.layers())
        self.assertEqual(len(layers), 2)
        kdir = self.key_dir(*key_files)
        for i, desc in enumerate(layers):
            encrypted = desc["mediaType"].endswith("+encrypted")
            self.assertEqual(encrypted, i in expect_encrypted, desc["mediaType"])
            if not encrypted:
                self.assertEqual(desc["digest"], self.plain_digests[i])
                continue
            blob = layout.blob(desc["digest"])
            # CRI node key model: keys from the directory.
            run = ocitest.run_decoder(DECODER, blob, ocitest.make_payload(desc),
                                      ["--decryption-keys-path", kdir], media_type=desc["mediaType"])
            self.assertEqual(run.rc, 0, run)
            self.assertEqual(ocitest.sha256_digest(run.out), self.plain_digests[i])
            # ctr-enc model: keys in the payload.
            keys = [(read(f), None) for f in key_files if not f.endswith("cert.pem")]
            certs = [read(f) for f in key_files if f.endswith("cert.pem")]
            run = ocitest.run_decoder(DECODER, blob, ocitest.make_payload(desc, keys, certs),
                                      media_type=desc["mediaType"])
            self.assertEqual(run.rc, 0, run)
            self.assertEqual(ocitest.sha256_digest(run.out), self.plain_digests[i])

    def test_single_recipients(self):
        for name in ("rsa2048", "rsa4096", "ecp256", "ecp384", "ecp521"):
            with self.subTest(key=name):
                priv, pub = self.keys[name]
                layout = self.encrypt("enc-" + name, ["jwe:" + pub])
                self.check_decrypts(layout, [priv])

    def test_multiple_recipients_each_key_alone(self):
        names = ("rsa2048", "ecp256", "ecp521")
        layout = self.encrypt("enc-multi", ["jwe:" + self.keys[n][1] for n in names])
        for n in names:
            with self.subTest(key=n):
                self.check_decrypts(layout, [self.keys[n][0]])

    def test_pkcs7(self):
        layout = self.encrypt("enc-pkcs7", ["pkcs7:" + self.p7cert])
        self.check_decrypts(layout, [self.p7key, self.p7cert])

    def test_selected_layer_and_wrong_key(self):
        layout = self.encrypt("enc-last", ["jwe:" + self.keys["ecp384"][1]],
                              ["--encrypt-layer", "-1"])
        self.check_decrypts(layout, [self.keys["ecp384"][0]], expect_encrypted=(1,))
        desc = list(layout.layers())[1]
        kdir = self.key_dir(self.keys["rsa2048"][0], self.keys["ecp256"][0])
        run = ocitest.run_decoder(DECODER, layout.blob(desc["digest"]), ocitest.make_payload(desc),
                                  ["--decryption-keys-path", kdir])
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(len(run.err_lines), 1, run)
        self.assertEqual(run.out, b"")


if __name__ == "__main__":
    DECODER = sys.argv[1]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[2:])
