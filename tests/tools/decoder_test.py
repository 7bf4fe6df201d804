#!/usr/bin/python3
"""layercrypt-decoder under containerd's stream-processor contract.

Usage: decoder_test.py DECODER VECTORS_DIR   (ctest passes both)

Every encrypted layer made by Go ocicrypt (skopeo 1.9.3, ctr-enc 1.1.10) in
tests/vectors/ocicrypt is decrypted the way containerd runs the decoder: the
layer on stdin, the payload protobuf on fd 3 through a pipe, the media type
in STREAM_PROCESSOR_MEDIATYPE; CRI style (no keys in the payload, a keys
directory) and ctr-enc style (keys in the payload). Output digests must equal
the plaintext layers'. Tampering, bad payloads, key-directory and media-type
edge cases must fail with exit 1, one stderr line and, by default, no output.
"""

import base64
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocitest  # noqa: E402

DECODER = None
VEC = None


def read(rel):
    with open(os.path.join(VEC, rel), "rb") as f:
        return f.read()


def read_json(rel):
    with open(os.path.join(VEC, rel)) as f:
        return json.load(f)


def load_expected():
    return read_json("expected.json")


def layout(image):
    """The OCI layout of Go-made image `image` (a key of expected.json's images)."""
    return ocitest.Layout(os.path.join(VEC, "images", image))


def keys_args(key_dir):
    """Decoder arguments for the keys directory `key_dir` (relative to VEC)."""
    return ["--decryption-keys-path", os.path.join(VEC, key_dir)]


def encrypted_layers():
    """(name, image, index, layer, blob) for every encrypted layer of every
    image in expected.json, images by name: image and layer are expected.json
    entries, blob the encrypted layer's bytes."""
    for name, image in sorted(load_expected()["images"].items()):
        for i, layer in enumerate(image["layers"]):
            if layer["encrypted"]:
                yield name, image, i, layer, layout(name).blob(layer["digest"])


class Base(unittest.TestCase):
    def decode(self, layer, payload, args=(), **kw):
        return ocitest.run_decoder(DECODER, layer, payload, args, **kw)

    def assert_ok(self, run, want_digest):
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(ocitest.sha256_digest(run.out), want_digest, run)

    def assert_fails(self, run, *needles, output_allowed=False):
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(len(run.err_lines), 1, run)
        line = run.err_lines[0]
        self.assertTrue(line.startswith("layercrypt-decoder: "), line)
        for n in needles:
            self.assertIn(n, line)
        if not output_allowed:
            self.assertEqual(run.out, b"", "unverified output released")
        return line


class OneLayer(Base):
    """Base for classes that test one encrypted layer. Subclasses set IMAGE,
    LAYER and KEY_DIR; setUpClass loads layer (its expected.json entry), blob
    (the encrypted layer), desc (its payload descriptor JSON), payload (its
    node payload, no keys) and keys (decoder args for keys/dirs/KEY_DIR, or
    None if KEY_DIR is None)."""

    IMAGE = LAYER = KEY_DIR = None

    @classmethod
    def setUpClass(cls):
        cls.layer = load_expected()["images"][cls.IMAGE]["layers"][cls.LAYER]
        cls.blob = layout(cls.IMAGE).blob(cls.layer["digest"])
        cls.desc = read_json(cls.layer["payloads"]["desc"])
        cls.payload = read(cls.layer["payloads"]["node"])
        cls.keys = keys_args("keys/dirs/" + cls.KEY_DIR) if cls.KEY_DIR else None


class GoVectors(Base):
    """Every encrypted layer, every key form, both key delivery styles."""

    def test_node_key_model_with_keys_directory(self):
        runs = 0
        for name, image, i, layer, blob in encrypted_layers():
            payload = read(layer["payloads"]["node"])
            for d in image["key_dirs_that_decrypt"]:
                with self.subTest(image=name, layer=i, keys=d):
                    run = self.decode(blob, payload, keys_args(d), media_type=layer["mediaType"])
                    self.assert_ok(run, layer["expected_output_digest"])
                    runs += 1
        self.assertGreater(runs, 100)

    def test_keys_in_payload_like_ctr_enc(self):
        runs = 0
        for name, _, i, layer, blob in encrypted_layers():
            with self.subTest(image=name, layer=i):
                run = self.decode(blob, read(layer["payloads"]["keyed"]), media_type=layer["mediaType"])
                self.assert_ok(run, layer["expected_output_digest"])
                runs += 1
        self.assertGreater(runs, 30)

    def test_extra_payloads(self):
        exp = load_expected()
        layer = exp["images"]["enc-jwe-rsa2048"]["layers"][3]
        blob = layout("enc-jwe-rsa2048").blob(layer["digest"])
        run = self.decode(blob, read("payloads/enc-jwe-rsa2048/layer3.key-rsa2048-encpem-password.payload"))
        self.assert_ok(run, layer["expected_output_digest"])
        run = self.decode(blob, read("payloads/enc-jwe-rsa2048/layer3.key-rsa2048-encpem-nopassword.payload"))
        self.assert_fails(run, "password")
        p7 = exp["images"]["enc-pkcs7"]["layers"][3]
        p7blob = layout("enc-pkcs7").blob(p7["digest"])
        run = self.decode(p7blob, read("payloads/enc-pkcs7/layer3.key-pkcs7-nocert.payload"))
        self.assert_fails(run, "pkcs7")

    def test_regular_file_stdin_and_stream_mode(self):
        exp = load_expected()
        layer = exp["images"]["enc-jwe-ecp384"]["layers"][0]
        path = layout("enc-jwe-ecp384").blob_path(layer["digest"])
        keys = keys_args("keys/dirs/ecp384")
        payload = read(layer["payloads"]["node"])
        for args in (keys, keys + ["--stream"], keys + ["--spool-memory", "0"]):
            with self.subTest(args=args):
                self.assert_ok(self.decode(b"", payload, args, stdin_file=path),
                               layer["expected_output_digest"])
                with open(path, "rb") as f:
                    self.assert_ok(self.decode(f.read(), payload, args),
                                   layer["expected_output_digest"])


class Tampering(OneLayer):
    """Bit flips, truncation, extension and forged options fail closed."""

    IMAGE, LAYER, KEY_DIR = "enc-jwe-rsa2048", 0, "rsa2048"

    def payload_with_pubopts(self, mutate):
        desc = json.loads(json.dumps(self.desc))
        ann = desc["annotations"]
        pub = json.loads(base64.b64decode(ann[ocitest.PUBOPTS]))
        pub = mutate(pub)
        if pub is None:
            del ann[ocitest.PUBOPTS]
        else:
            ann[ocitest.PUBOPTS] = base64.b64encode(ocitest.go_json(pub)).decode()
        return ocitest.make_payload(desc)

    def test_ciphertext_changes(self):
        payload = ocitest.make_payload(self.desc)
        b = self.blob
        cases = {
            "flip-first": bytes([b[0] ^ 1]) + b[1:],
            "flip-middle": b[:len(b) // 2] + bytes([b[len(b) // 2] ^ 0x80]) + b[len(b) // 2 + 1:],
            "flip-last": b[:-1] + bytes([b[-1] ^ 4]),
            "truncated": b[:-1],
            "truncated-half": b[:len(b) // 2],
            "extended": b + b"\0",
            "empty": b"",
        }
        for name, blob in cases.items():
            for mode in ([], ["--stream"]):
                with self.subTest(case=name, mode=mode):
                    run = self.decode(blob, payload, self.keys + mode)
                    line = self.assert_fails(run, "HMAC", output_allowed=bool(mode))
                    # Expected and computed MACs, in hex.
                    self.assertRegex(line, r"[0-9a-f]{64}.*[0-9a-f]{64}")

    def test_public_nonce_is_rejected(self):
        def add_nonce(pub):
            pub["cipheroptions"] = {"nonce": base64.b64encode(b"\x01" * 16).decode()}
            return pub
        run = self.decode(self.blob, self.payload_with_pubopts(add_nonce), self.keys)
        self.assert_fails(run, "nonce")

    def test_altered_hmac(self):
        def alter(pub):
            mac = bytearray(base64.b64decode(pub["hmac"]))
            mac[0] ^= 1
            pub["hmac"] = base64.b64encode(bytes(mac)).decode()
            return pub
        run = self.decode(self.blob, self.payload_with_pubopts(alter), self.keys)
        self.assert_fails(run, "HMAC")

    def test_unknown_cipher(self):
        def other(pub):
            pub["cipher"] = "AES_256_GCM_STREAM"
            return pub
        run = self.decode(self.blob, self.payload_with_pubopts(other), self.keys)
        self.assert_fails(run, "AES_256_GCM_STREAM")

    def test_missing_pubopts(self):
        run = self.decode(self.blob, self.payload_with_pubopts(lambda p: None), self.keys)
        self.assert_fails(run, "cipher")

    def test_wrong_key(self):
        run = self.decode(self.blob, ocitest.make_payload(self.desc),
                          keys_args("keys/dirs/ecp256"))
        line = self.assert_fails(run, "jwe")
        self.assertIn("1 ", line)  # how many keys were tried
        # Never key bytes: no PEM or base64 blobs in the message.
        self.assertNotIn("BEGIN", line)

    def test_no_key_at_all(self):
        run = self.decode(self.blob, ocitest.make_payload(self.desc))
        self.assert_fails(run, "missing private key")


class Payloads(OneLayer):
    IMAGE, LAYER, KEY_DIR = "enc-jwe-ecp256", 1, "ecp256"

    def test_no_fd3(self):
        # No payload and no content store where containerd's root would be.
        missing = ["--containerd-root", "/nonexistent/containerd-root"]
        run = self.decode(self.blob, None, self.keys + missing)
        self.assert_fails(run, "no decryption payload on fd 3", "io.containerd.ocicrypt.decoder.v1.tar.gzip",
                          "/nonexistent/containerd-root/io.containerd.content.v1.content/blobs/sha256",
                          "does not exist", "--containerd-root", "use_local_image_pull")

    def test_unknown_type_url(self):
        run = self.decode(self.blob, ocitest.make_payload(self.desc, type_url=b"example.com/Other"), self.keys)
        self.assert_fails(run, "example.com/Other")

    def test_garbage_payloads(self):
        good = ocitest.make_payload(self.desc)
        for name, p in {"empty": b"", "truncated": good[:40], "not-protobuf": b"\xff" * 64,
                        "not-json": ocitest.make_payload(self.desc)[:37] + b"\x03abc"}.items():
            with self.subTest(case=name):
                args = self.keys + ["--containerd-root", "/nonexistent/containerd-root"]
                self.assert_fails(self.decode(self.blob, p, args), "payload")

    def test_media_types(self):
        ok = self.layer["expected_output_digest"]
        # Env and descriptor disagree: reported, descriptor wins.
        run = self.decode(self.blob, ocitest.make_payload(self.desc), self.keys,
                          media_type="application/vnd.oci.image.layer.v1.tar+gzip+encrypted")
        self.assert_ok(run, ok)
        self.assertIn("STREAM_PROCESSOR_MEDIATYPE", run.err.decode())
        for mt in ("application/vnd.oci.image.layer.nondistributable.v1.tar+encrypted",
                   "application/vnd.docker.image.rootfs.diff.tar.gzip+encrypted",
                   "application/vnd.oci.image.layer.v1.tar+zstd+encrypted"):
            with self.subTest(media_type=mt):
                desc = dict(self.desc, mediaType=mt)
                self.assert_ok(self.decode(self.blob, ocitest.make_payload(desc), self.keys, media_type=mt), ok)
        desc = dict(self.desc, mediaType="application/vnd.oci.image.layer.v1.tar")
        self.assert_fails(self.decode(self.blob, ocitest.make_payload(desc), self.keys), "media type")


class KeysDirectory(OneLayer):
    """Keys from a directory each test builds (self.tmp)."""

    IMAGE, LAYER = "enc-jwe-ecp256", 0

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="layercrypt-keys-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def put(self, rel, src):
        path = os.path.join(self.tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copy(os.path.join(VEC, "keys", src), path)
        return path

    def run_dir(self, d=None):
        return self.decode(self.blob, self.payload, ["--decryption-keys-path", d or self.tmp])

    def test_unusable_files_are_skipped_with_warnings(self):
        self.put("a-public.pem", "ecp256.pub.pem")
        self.put("b-other.pem", "rsa2048.enc.pem")  # needs a password
        with open(os.path.join(self.tmp, "README"), "w") as f:
            f.write("keys for the cluster\n")
        self.put("sub/dir/z-key.pem", "ecp256.pem")
        run = self.run_dir()
        self.assert_ok(run, self.layer["expected_output_digest"])
        warnings = run.err.decode()
        for name in ("a-public.pem", "b-other.pem", "README"):
            self.assertIn(name, warnings)

    def test_sec1_pem_which_go_rejects(self):
        self.put("ec.pem", "ecp256.sec1.pem")
        self.assert_ok(self.run_dir(), self.layer["expected_output_digest"])

    def test_kubernetes_secret_volume_symlinks(self):
        # A secret volume: ..2026_01_01/key.pem, ..data -> ..2026_01_01, key.pem -> ..data/key.pem
        self.put("..2026_11_23_08_00_00.123/key.pem", "ecp256.pem")
        os.symlink("..2026_11_23_08_00_00.123", os.path.join(self.tmp, "..data"))
        os.symlink("..data/key.pem", os.path.join(self.tmp, "key.pem"))
        run = self.run_dir()
        self.assert_ok(run, self.layer["expected_output_digest"])
        # The root itself may be a symlink, as a mounted secret's path can be.
        link = self.tmp + "-link"
        os.symlink(self.tmp, link)
        try:
            self.assert_ok(self.run_dir(link), self.layer["expected_output_digest"])
        finally:
            os.unlink(link)

    def test_symlink_leaving_the_directory_is_not_followed(self):
        outside = tempfile.mkdtemp(prefix="layercrypt-outside-")
        try:
            shutil.copy(os.path.join(VEC, "keys/ecp256.pem"), os.path.join(outside, "k.pem"))
            os.symlink(os.path.join(outside, "k.pem"), os.path.join(self.tmp, "k.pem"))
            self.assert_fails(self.run_dir(), "missing private key")
        finally:
            shutil.rmtree(outside)

    def test_missing_directory(self):
        self.assert_fails(self.run_dir(os.path.join(self.tmp, "nope")), "does not exist")
        # ... but keys in the payload still work.
        keyed = read(self.layer["payloads"]["keyed"])
        run = self.decode(self.blob, keyed, ["--decryption-keys-path", os.path.join(self.tmp, "nope")])
        self.assert_ok(run, self.layer["expected_output_digest"])

    def test_empty_directory(self):
        self.assert_fails(self.run_dir(), "missing private key")


class Cli(Base):
    def test_version_verbose(self):
        run = ocitest.run_decoder(DECODER, b"", None, ["--version", "--verbose"])
        self.assertEqual(run.rc, 0, run)
        text = run.out.decode()
        self.assertIn("layercrypt-decoder", text)
        self.assertIn("ipsec-mb", text)
        self.assertIn("isa-l", text)

    def test_bad_flag(self):
        run = ocitest.run_decoder(DECODER, b"", None, ["--no-such-flag"])
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(len(run.err_lines), 1, run)


class ContentStore(Base):
    """No payload (containerd 2.1+'s transfer service), or a payload and a
    layer already in containerd's content store: the decoder finds the
    descriptor, or reads the blob, in a containerd root laid out as
    containerd lays it out (<root>/io.containerd.content.v1.content/blobs/
    sha256/<hex>), here filled from the Go-made image layouts."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="lc-ctd-root-")
        self.blobs = os.path.join(self.root, "io.containerd.content.v1.content", "blobs", "sha256")
        os.makedirs(self.blobs)
        self.clock = 1_700_000_000

    def tearDown(self):
        shutil.rmtree(self.root)

    def put(self, data: bytes, digest=None) -> str:
        """Stores `data` (under `digest`, default its own), each newer than the last."""
        digest = digest or ocitest.sha256_digest(data)
        path = os.path.join(self.blobs, digest.split(":", 1)[1])
        with open(path, "wb") as f:
            f.write(data)
        self.clock += 10
        os.utime(path, (self.clock, self.clock))
        return digest

    def put_image(self, image, with_layers=True):
        """Stores `image`'s config and manifest (and layers); returns the manifest."""
        lay = layout(image)
        with open(os.path.join(lay.path, "index.json")) as f:
            mdesc = json.load(f)["manifests"][0]
        manifest = json.loads(lay.blob(mdesc["digest"]))
        if with_layers:
            for l in manifest["layers"]:
                self.put(lay.blob(l["digest"]))
        self.put(lay.blob(manifest["config"]["digest"]))
        self.put(lay.blob(mdesc["digest"]))
        return manifest

    def args(self, key_dir, *extra):
        return keys_args(key_dir) + ["--containerd-root", self.root, "--stats", *extra]

    def layer(self, image, i):
        layer = load_expected()["images"][image]["layers"][i]
        return layer, layout(image).blob(layer["digest"])

    def test_no_payload_descriptor_from_the_store(self):
        for image, keys in (("enc-jwe-ecp256", "keys/dirs/ecp256"), ("enc-pkcs7", "keys/dirs/pkcs7")):
            self.put_image(image)
            for i in range(4):
                layer, blob = self.layer(image, i)
                with self.subTest(image=image, layer=i):
                    run = self.decode(blob, None, self.args(keys), media_type=layer["mediaType"])
                    self.assert_ok(run, layer["expected_output_digest"])
                    err = run.err.decode()
                    self.assertIn("descriptor: from content store manifest sha256:", err)
                    # The blob is in the store: read there, nothing spooled.
                    self.assertIn("input: the content store's blob file", err)
                    self.assertIn("spooled 0 bytes", err)

    def test_no_payload_blob_not_in_the_store_is_spooled(self):
        self.put_image("enc-jwe-ecp256", with_layers=False)
        layer, blob = self.layer("enc-jwe-ecp256", 0)
        run = self.decode(blob, None, self.args("keys/dirs/ecp256"), media_type=layer["mediaType"])
        self.assert_ok(run, layer["expected_output_digest"])
        self.assertIn(f"input: stdin; spooled {len(blob)} bytes (in memory)", run.err.decode())
        # Past the memory bound the spool is a file in $TMPDIR.
        run = self.decode(blob, None, self.args("keys/dirs/ecp256", "--spool-memory", "0"),
                          media_type=layer["mediaType"])
        self.assert_ok(run, layer["expected_output_digest"])
        self.assertIn(f"spooled {len(blob)} bytes (to a file in $TMPDIR)", run.err.decode())

    def test_no_payload_regular_file_stdin(self):
        self.put_image("enc-jwe-ecp256", with_layers=False)
        layer, blob = self.layer("enc-jwe-ecp256", 1)
        path = os.path.join(self.root, "layer")
        with open(path, "wb") as f:
            f.write(blob)
        run = self.decode(blob, None, self.args("keys/dirs/ecp256"), stdin_file=path)
        self.assert_ok(run, layer["expected_output_digest"])
        self.assertIn("spooled 0 bytes", run.err.decode())

    def test_recipient_added_later_tries_every_manifest(self):
        # ctr-enc added an ecp256 recipient to enc-jwe-rsa2048: same layer
        # blobs, two manifests. The newest (read first) has no ecp256 key.
        self.put_image("ctrenc-add-ecp256")
        self.put_image("enc-jwe-rsa2048")
        layer, blob = self.layer("ctrenc-add-ecp256", 0)
        run = self.decode(blob, None, self.args("keys/dirs/ecp256"), media_type=layer["mediaType"])
        self.assert_ok(run, layer["expected_output_digest"])
        self.assertIn("2 descriptors of this layer", run.err.decode())
        # With a key neither opens, the error says how many were tried.
        run = self.decode(blob, None, self.args("keys/dirs/ecp384"), media_type=layer["mediaType"])
        self.assert_fails(run, "tried 2 descriptors")

    def test_digest_in_no_manifest(self):
        self.put_image("enc-jwe-ecp256")
        layer, blob = self.layer("enc-jwe-ecp384", 0)  # another image's layer
        run = self.decode(blob, None, self.args("keys/dirs/ecp384"), media_type=layer["mediaType"])
        line = self.assert_fails(run, "no manifest in containerd's content store lists layer " + layer["digest"],
                                 self.blobs, "--containerd-root", "use_local_image_pull")
        self.assertIn("(root " + self.root + " (--containerd-root))", line)

    def test_corrupted_manifest_is_not_believed(self):
        manifest = self.put_image("enc-jwe-ecp256")
        lay = layout("enc-jwe-ecp256")
        with open(os.path.join(lay.path, "index.json")) as f:
            mdigest = json.load(f)["manifests"][0]["digest"]
        # Same name, one byte changed: it no longer matches its digest.
        data = bytearray(lay.blob(mdigest))
        data[data.index(b'"layers"') + 1] ^= 0x20
        self.put(bytes(data), mdigest)
        layer, blob = self.layer("enc-jwe-ecp256", 0)
        run = self.decode(blob, None, self.args("keys/dirs/ecp256"), media_type=layer["mediaType"])
        self.assert_fails(run, "no manifest in containerd's content store lists layer")
        # Not JSON at all, under its true digest: skipped too.
        self.put(b'{"layers": [ "+encrypted", ' + manifest["layers"][0]["digest"].encode())
        run = self.decode(blob, None, self.args("keys/dirs/ecp256"), media_type=layer["mediaType"])
        self.assert_fails(run, "no manifest in containerd's content store lists layer")

    def test_tampered_annotations_release_nothing(self):
        manifest = self.put_image("enc-jwe-ecp256")
        layer, blob = self.layer("enc-jwe-ecp256", 0)
        # A manifest whose pubopts carry another HMAC, stored under its own
        # (correct) digest and newest: the key unwraps, the MAC fails.
        ann = manifest["layers"][0]["annotations"]
        pub = json.loads(base64.b64decode(ann["org.opencontainers.image.enc.pubopts"]))
        pub["hmac"] = base64.b64encode(bytes(32)).decode()
        ann["org.opencontainers.image.enc.pubopts"] = base64.b64encode(ocitest.go_json(pub)).decode()
        self.put(ocitest.go_json(manifest))
        run = self.decode(blob, None, self.args("keys/dirs/ecp256"), media_type=layer["mediaType"])
        self.assert_fails(run, layer["digest"], "HMAC")

    def test_store_blob_differs_from_stdin(self):
        # A payload, a layer bigger than the memory spool (0 MiB here) and
        # in the content store, and stdin carrying other bytes after the
        # first 64 KiB: the file's MAC verifies, but stdin's digest is not
        # the layer's, so nothing is released.
        layer, blob = self.layer("enc-jwe-ecp256", 0)
        self.assertGreater(len(blob), 70000)
        other = bytearray(blob)
        other[-1] ^= 1
        self.put(blob)
        desc = read_json(layer["payloads"]["desc"])
        run = self.decode(bytes(other), ocitest.make_payload(desc),
                          self.args("keys/dirs/ecp256", "--spool-memory", "0"))
        self.assert_fails(run, "is not the blob " + layer["digest"], "nothing was released")
        # A changed store file: its MAC fails.
        self.put(bytes(other), layer["digest"])
        run = self.decode(blob, ocitest.make_payload(desc), self.args("keys/dirs/ecp256", "--spool-memory", "0"))
        self.assert_fails(run, "HMAC", "no plaintext was released")
        # The right file: read from the store, not spooled.
        self.put(blob)
        run = self.decode(blob, ocitest.make_payload(desc), self.args("keys/dirs/ecp256", "--spool-memory", "0"))
        self.assert_ok(run, layer["expected_output_digest"])
        self.assertIn("descriptor: from payload", run.err.decode())
        self.assertIn("input: the content store's blob file", run.err.decode())
        # A file of another size is not used: stdin is spooled instead.
        self.put(blob + b"x", layer["digest"])
        run = self.decode(blob, ocitest.make_payload(desc), self.args("keys/dirs/ecp256", "--spool-memory", "0"))
        self.assert_ok(run, layer["expected_output_digest"])
        self.assertIn(f"input: stdin; spooled {len(blob)} bytes", run.err.decode())

    def test_many_unrelated_blobs_bound_the_scan(self):
        for i in range(300):
            self.put(b'{"schemaVersion":2,"n":%d}' % i)
        self.put_image("enc-jwe-ecp256")  # newest, as after a fetch
        layer, blob = self.layer("enc-jwe-ecp256", 2)
        run = self.decode(blob, None, self.args("keys/dirs/ecp256"), media_type=layer["mediaType"])
        self.assert_ok(run, layer["expected_output_digest"])
        self.assertRegex(run.err.decode(), r"content store: .*: 3\d\d entries, 3\d\d small blobs, read 256,")

    def test_root_from_the_parent_containerd_config(self):
        # The decoder's parent is not containerd here, so it reads
        # /etc/containerd/config.toml or takes /var/lib/containerd; with
        # --containerd-root absent the message names where it looked.
        layer, blob = self.layer("enc-jwe-ecp256", 0)
        run = self.decode(blob, None, keys_args("keys/dirs/ecp256") + ["--stats"], media_type=layer["mediaType"],
                          env_extra={})
        if run.rc == 0:
            self.skipTest("this machine's containerd content store holds the test layer")
        self.assertIn("(from ", run.err.decode())


if __name__ == "__main__":
    DECODER, VEC = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[3:])
