#!/usr/bin/python3
"""The fused paths through the tools: layercrypt-decoder --decompress and
layercrypt encrypt-layer --compress.

Usage: decompress_test.py LAYERCRYPT DECODER VECTORS_DIR   (ctest passes them)

The decoder runs as containerd runs it (ocitest.run_decoder). Its
--decompress output must be the layer's tar: sha256 equal to the config's
diff_id for every layer Go ocicrypt encrypted (gzip, zstd and plain tar),
byte-equal to `gzip -dc` / `zstd -dc` of its normal output, and equal to
the tar layercrypt compressed itself, whether the chunk index is used, is
wrong (fallback) or absent. gzip readers (gzip, zlib) take our gzip. A
corrupt stream inside a layer whose MAC is right fails with one line.
"""

import base64
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocitest  # noqa: E402

LAYERCRYPT = DECODER = VEC = None
GZIP_INDEX = "dev.layercrypt.gzip.index"
TAR = "application/vnd.oci.image.layer.v1.tar"
TAR_GZIP = TAR + "+gzip"


def make_tar(size, seed):
    """A deterministic tar of `size`-ish bytes with text and binary files, so
    that it compresses like a real layer and spans several 1 MiB chunks."""
    import io
    import tarfile
    rnd = random.Random(seed)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        n = 0
        while buf.tell() < size:
            if n % 3 == 0:
                data = rnd.randbytes(rnd.randrange(1000, 300000))
            else:
                words = [b"layer", b"crypt", b"gzip", b"chunk", b"index", b"tar", b"node"]
                data = b" ".join(rnd.choice(words) for _ in range(rnd.randrange(100, 60000)))
            info = tarfile.TarInfo(f"dir{n % 7}/file{n}")
            info.size, info.mtime = len(data), 1700000000
            t.addfile(info, io.BytesIO(data))
            n += 1
    return buf.getvalue()


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def expected():
    return json.loads(read(os.path.join(VEC, "expected.json"), "r"))


def sh(*cmd, input=None):
    return subprocess.run(cmd, input=input, capture_output=True, check=True).stdout


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="layercrypt-decompress-test-")
        cls.keys = os.path.join(cls.tmp, "keys")
        os.makedirs(cls.keys)
        sh(LAYERCRYPT, "keygen", "--type", "ec:p256", "--out", os.path.join(cls.tmp, "node"))
        shutil.copy(os.path.join(cls.tmp, "node.pem"), cls.keys)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def encrypt_layer(self, data, *args):
        """layercrypt encrypt-layer of `data`; returns (blob, descriptor, report)."""
        src, out = os.path.join(self.tmp, "in"), os.path.join(self.tmp, "out.enc")
        with open(src, "wb") as f:
            f.write(data)
        rep = json.loads(sh(LAYERCRYPT, "encrypt-layer", "-r",
                            "jwe:" + os.path.join(self.tmp, "node.pub.pem"), "-o", out, *args, src))
        blob = read(out)
        os.remove(out)
        self.assertEqual(ocitest.sha256_digest(blob), rep["descriptor"]["digest"])
        self.assertEqual(len(blob), rep["descriptor"]["size"])
        return blob, rep["descriptor"], rep

    def decode(self, blob, desc, *args):
        return ocitest.run_decoder(DECODER, blob, ocitest.make_payload(desc),
                                   ["--decryption-keys-path", self.keys, *args],
                                   media_type=desc["mediaType"])

    def assert_one_line_failure(self, run, *needles):
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(len(run.err_lines), 1, run)
        for n in needles:
            self.assertIn(n, run.err_lines[0])


class GoMadeLayers(unittest.TestCase):
    """Every layer Go ocicrypt encrypted (skopeo, ctr-enc): gzip, zstd, tar."""

    def test_decompressed_output_is_the_diff_id(self):
        seen = set()
        for name, image in sorted(expected()["images"].items()):
            lay = ocitest.Layout(os.path.join(VEC, "images", name))
            keys = ["--decryption-keys-path", os.path.join(VEC, image["key_dirs_that_decrypt"][0])]
            for i, layer in enumerate(image["layers"]):
                if not layer["encrypted"]:
                    continue
                blob = lay.blob(layer["digest"])
                payload = read(os.path.join(VEC, layer["payloads"]["node"]))
                for mode in ([], ["--stream"]):
                    with self.subTest(image=name, layer=i, mode=mode):
                        run = ocitest.run_decoder(DECODER, blob, payload,
                                                  keys + ["--decompress"] + mode,
                                                  media_type=layer["mediaType"])
                        self.assertEqual(run.rc, 0, run)
                        self.assertEqual(ocitest.sha256_digest(run.out), layer["expected_diff_id"])
                        seen.add(layer["mediaType"])
        self.assertEqual(seen, {TAR + "+encrypted", TAR_GZIP + "+encrypted", TAR + "+zstd+encrypted"})

    def test_equals_gzip_and_zstd_of_the_normal_output(self):
        done = set()
        for name, image in sorted(expected()["images"].items()):
            lay = ocitest.Layout(os.path.join(VEC, "images", name))
            keys = ["--decryption-keys-path", os.path.join(VEC, image["key_dirs_that_decrypt"][0])]
            for layer in image["layers"]:
                tool = {TAR_GZIP + "+encrypted": "gzip", TAR + "+zstd+encrypted": "zstd"}.get(
                    layer["mediaType"])
                if not layer["encrypted"] or tool is None or tool in done:
                    continue
                blob = lay.blob(layer["digest"])
                payload = read(os.path.join(VEC, layer["payloads"]["node"]))
                plain = ocitest.run_decoder(DECODER, blob, payload, keys)
                tar = ocitest.run_decoder(DECODER, blob, payload, keys + ["--decompress"])
                self.assertEqual((plain.rc, tar.rc), (0, 0), (plain, tar))
                self.assertEqual(tar.out, sh(tool, "-dc", input=plain.out))
                done.add(tool)
        self.assertEqual(done, {"gzip", "zstd"})


class OurGzip(Base):
    """Layers layercrypt gzipped while encrypting them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tar = make_tar(6 << 20, 1)

    def test_round_trip_in_parallel_and_readable_by_gzip_and_zlib(self):
        blob, desc, rep = self.encrypt_layer(self.tar, "--compress", "gzip")
        self.assertEqual(desc["mediaType"], TAR_GZIP + "+encrypted")
        self.assertEqual(rep["diffID"], ocitest.sha256_digest(self.tar))
        self.assertIn(GZIP_INDEX, desc["annotations"])
        # The blob as containerd gets it without --decompress: a gzip member
        # that gzip(1) and zlib read, whose digest the private options hold.
        plain = self.decode(blob, desc)
        self.assertEqual(plain.rc, 0, plain)
        self.assertEqual(ocitest.sha256_digest(plain.out), rep["plainDigest"])
        self.assertEqual(sh("gzip", "-dc", input=plain.out), self.tar)
        self.assertEqual(zlib.decompress(plain.out, 16 + zlib.MAX_WBITS), self.tar)
        self.assertLess(len(plain.out), len(self.tar) * 0.8)
        # --decompress inflates it on every core, by the index.
        for mode in ([], ["--stream"]):
            run = self.decode(blob, desc, "--decompress", "--stats", *mode)
            self.assertEqual(run.rc, 0, run)
            self.assertEqual(run.out, self.tar)
            self.assertIn("inflated in parallel by the chunk index", run.err.decode())
            self.assertNotIn("sequential from chunk", run.err.decode())

    def test_every_level_and_an_empty_tar(self):
        for level in range(4):
            blob, desc, _ = self.encrypt_layer(self.tar[: 2 << 20], "--compress", f"gzip:{level}")
            run = self.decode(blob, desc, "--decompress")
            self.assertEqual(run.out, self.tar[: 2 << 20], level)
        # An empty tar is its end-of-archive marker (two zero blocks, what
        # `tar -cf - -T /dev/null` writes); zero bytes are no tar at all.
        empty = b"\0" * 1024
        blob, desc, rep = self.encrypt_layer(empty, "--compress", "gzip")
        self.assertEqual(rep["diffID"], ocitest.sha256_digest(empty))
        run = self.decode(blob, desc, "--decompress")
        self.assertEqual((run.rc, run.out), (0, empty), run)
        self.assertEqual(gzip.decompress(self.decode(blob, desc).out), empty)
        with self.assertRaises(subprocess.CalledProcessError):
            self.encrypt_layer(b"", "--compress", "gzip")

    def test_a_wrong_index_falls_back_or_fails_never_wrong_bytes(self):
        blob, desc, _ = self.encrypt_layer(self.tar, "--compress", "gzip")
        index = desc["annotations"][GZIP_INDEX]
        magic, chunk, size, sizes = index.split(" ")
        raw = base64.b64decode(sizes[len("deflate="):])
        vals, v, shift = [], 0, 0
        for b in raw:
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                vals.append(v)
                v, shift = 0, 0

        def with_sizes(sz):
            enc = b"".join(ocitest.varint(x) for x in sz)
            d = json.loads(json.dumps(desc))
            d["annotations"][GZIP_INDEX] = " ".join(
                [magic, chunk, size, "deflate=" + base64.b64encode(enc).decode()])
            return d

        fell_back = 0
        for k, shift_by in ((0, 1), (1, 4), (2, 3000), (len(vals) - 2, 5)):
            sz = list(vals)
            sz[k] -= shift_by
            sz[k + 1] += shift_by
            run = self.decode(blob, with_sizes(sz), "--decompress", "--stats")
            if run.rc == 0:
                self.assertEqual(run.out, self.tar, (k, shift_by))
                self.assertIn(f"sequential from chunk {k} on", run.err.decode())
                fell_back += 1
            else:
                self.assert_one_line_failure(run)
        self.assertGreaterEqual(fell_back, 3)
        # An index that does not parse, or describes another length: a
        # warning, then one-core inflation of the right bytes.
        for bad in ("gzip-chunks/1 chunk=1 size=2 deflate=", index.replace("size=", "size=1")):
            d = json.loads(json.dumps(desc))
            d["annotations"][GZIP_INDEX] = bad
            run = self.decode(blob, d, "--decompress", "--stats")
            self.assertEqual(run.rc, 0, run)
            self.assertEqual(run.out, self.tar)
            self.assertIn("warning", run.err.decode())
            self.assertIn("decompressed on one core", run.err.decode())
        # Without the annotation at all.
        d = json.loads(json.dumps(desc))
        del d["annotations"][GZIP_INDEX]
        run = self.decode(blob, d, "--decompress")
        self.assertEqual((run.rc, run.out == self.tar), (0, True), run)


class ForeignStreams(Base):
    """Compressed blobs made by other tools, encrypted as they are."""

    def test_two_member_gzip_and_multi_frame_zstd(self):
        a, b = make_tar(300000, 2), make_tar(200000, 3)
        two = gzip.compress(a, mtime=0) + sh("gzip", "-1", "-n", "-c", input=b)
        blob, desc, rep = self.encrypt_layer(two, "--media-type", TAR_GZIP)
        self.assertNotIn("diffID", rep)  # not known without decompressing
        run = self.decode(blob, desc, "--decompress")
        self.assertEqual((run.rc, run.out == a + b), (0, True), run)
        z = sh("zstd", "-q", "-c", input=a) + sh("zstd", "-q", "-19", "-c", input=b)
        blob, desc, _ = self.encrypt_layer(z, "--media-type", TAR + "+zstd")
        run = self.decode(blob, desc, "--decompress")
        self.assertEqual((run.rc, run.out == a + b), (0, True), run)
        # --compress leaves compressed input as it is.
        blob, desc, _ = self.encrypt_layer(two, "--media-type", TAR_GZIP, "--compress", "gzip")
        self.assertNotIn(GZIP_INDEX, desc["annotations"])
        self.assertEqual(self.decode(blob, desc).out, two)

    def test_corrupt_stream_inside_a_valid_mac_fails_with_one_line(self):
        a = make_tar(300000, 4)
        good = gzip.compress(a, mtime=0)
        cases = {
            "crc": good[:-8] + bytes([good[-8] ^ 1]) + good[-7:],
            "truncated": good[:-20],
            "trailing": good + b"\0",
        }
        for what, data in cases.items():
            with self.subTest(what=what):
                blob, desc, _ = self.encrypt_layer(data, "--media-type", TAR_GZIP)
                self.assertEqual(self.decode(blob, desc).rc, 0)  # the MAC is right
                run = self.decode(blob, desc, "--decompress")
                self.assert_one_line_failure(run, "not valid gzip", "HMAC verified")
        blob, desc, _ = self.encrypt_layer(sh("zstd", "-q", "-c", input=a)[:-5],
                                           "--media-type", TAR + "+zstd")
        self.assert_one_line_failure(self.decode(blob, desc, "--decompress"), "not valid zstd")


class ImageCompress(Base):
    """layercrypt encrypt --compress gzip on an image of uncompressed tar
    layers, opened by Debian's skopeo (Go ocicrypt and Go's gzip)."""

    def skopeo_decrypt(self, src, name):
        dst = os.path.join(self.tmp, name)
        sh("skopeo", "--insecure-policy", "copy", "-q", "--dest-oci-accept-uncompressed-layers",
           "--decryption-key", os.path.join(self.tmp, "node.pem"), f"oci:{src}:v1", f"oci:{dst}:v1")
        return ocitest.Layout(dst)

    def test_skopeo_decrypts_the_gzip_layers_and_the_diff_ids_hold(self):
        if shutil.which("skopeo") is None:
            self.fail("skopeo missing: apt-get install skopeo (tools/run.sh installs it)")
        tars = [make_tar(3 << 20, 10), make_tar(50000, 11), make_tar(1 << 20, 12)]
        plain = os.path.join(self.tmp, "img-tar")
        ocitest.write_image(plain, [(t, TAR, t) for t in tars])
        pub = "jwe:" + os.path.join(self.tmp, "node.pub.pem")
        gz_digests = []
        for run in ("a", "b"):
            enc = os.path.join(self.tmp, "img-enc-" + run)
            sh(LAYERCRYPT, "encrypt", "--compress", "gzip", "-r", pub, f"{plain}:v1", f"{enc}:v1")
            layers = list(ocitest.Layout(enc).layers())
            self.assertEqual([l["mediaType"] for l in layers], [TAR_GZIP + "+encrypted"] * 3)
            for l, t in zip(layers, tars):
                run_dec = self.decode(ocitest.Layout(enc).blob(l["digest"]), l, "--decompress")
                self.assertEqual((run_dec.rc, run_dec.out == t), (0, True), run_dec)
            dec = self.skopeo_decrypt(enc, "img-dec-" + run)
            manifest = next(dec.manifests())
            config = json.loads(dec.blob(manifest["config"]["digest"]))
            self.assertEqual(config["rootfs"]["diff_ids"], [ocitest.sha256_digest(t) for t in tars])
            self.assertEqual([l["mediaType"] for l in manifest["layers"]], [TAR_GZIP] * 3)
            for l, t in zip(manifest["layers"], tars):
                self.assertEqual(sh("gzip", "-dc", input=dec.blob(l["digest"])), t)
            gz_digests.append([l["digest"] for l in manifest["layers"]])
            # Our own decrypt gives the same gzip blobs.
            ours = os.path.join(self.tmp, "img-ours-" + run)
            sh(LAYERCRYPT, "decrypt", "--key", os.path.join(self.tmp, "node.pem"),
               f"{enc}:v1", f"{ours}:v1")
            self.assertEqual([l["digest"] for l in ocitest.Layout(ours).layers()], gz_digests[-1])
        # Fresh keys each time, the same gzip bytes: the compressed layer is
        # reproducible.
        self.assertEqual(gz_digests[0], gz_digests[1])


class EncryptLayerCli(Base):
    def test_errors_leave_no_output(self):
        out = os.path.join(self.tmp, "never.enc")
        pub = "jwe:" + os.path.join(self.tmp, "node.pub.pem")
        for args, needle in (
                (["--compress", "zstd:99", os.path.join(self.tmp, "node.pub.pem")], "zstd[:LEVEL]"),
                (["--compress", "gzip:7", os.path.join(self.tmp, "node.pub.pem")], "gzip[:LEVEL]"),
                ([os.path.join(self.tmp, "node.pub.pem")], "not a tar, gzip or zstd stream"),
                ([os.path.join(self.tmp, "missing.tar")], "missing.tar"),
                (["--media-type", "application/json", os.path.join(self.tmp, "node.pub.pem")],
                 "application/json")):
            with self.subTest(args=args):
                r = subprocess.run([LAYERCRYPT, "encrypt-layer", "-r", pub, "-o", out, *args],
                                   capture_output=True)
                self.assertNotEqual(r.returncode, 0)
                err = r.stderr.decode().strip().splitlines()
                self.assertEqual(len(err), 1, err)
                self.assertIn(needle, err[0])
                self.assertFalse(os.path.exists(out))
                self.assertEqual([f for f in os.listdir(self.tmp) if f.startswith(".never")], [])

    def test_stdin(self):
        tar = make_tar(100000, 5)
        out = os.path.join(self.tmp, "stdin.enc")
        rep = json.loads(subprocess.run(
            [LAYERCRYPT, "encrypt-layer", "--compress", "gzip", "-r",
             "jwe:" + os.path.join(self.tmp, "node.pub.pem"), "-o", out, "-"],
            input=tar, capture_output=True, check=True).stdout)
        blob = read(out)
        run = self.decode(blob, rep["descriptor"], "--decompress")
        self.assertEqual(run.out, tar)


def main():
    global LAYERCRYPT, DECODER, VEC
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    LAYERCRYPT, DECODER, VEC = (os.path.abspath(a) for a in sys.argv[1:4])
    for tool in ("gzip", "zstd"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} missing: apt-get install {tool} (tools/run.sh installs it)")
    unittest.main(argv=[sys.argv[0]] + sys.argv[4:], verbosity=2)


if __name__ == "__main__":
    main()
