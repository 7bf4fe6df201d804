#!/usr/bin/python3
"""layercrypt-decoder as containerd's stream processor, end to end.

Usage: containerd_e2e_test.py LAYERCRYPT DECODER [TEST_NAME...]
  e.g. ... ReturnsTarGzip (decoder returns tar+gzip), ReturnsTar (--decompress)

Debian's containerd 1.6 (CRI plugin, overlayfs snapshotter, image
decryption with the node key model) pulls from Debian's docker-registry,
both on 127.0.0.1 under one temp dir, images encrypted by `layercrypt
encrypt` and by `skopeo copy --encryption-key`, and runs DECODER for every
encrypted layer. The image has three layers: tar+gzip, an uncompressed tar
with a whiteout and an opaque directory, and a tar+gzip with another
whiteout. After each pull through CRI (as the kubelet pulls):
`ctr images check` says complete and unpacked, and the snapshot tree,
mounted from containerd's overlayfs snapshotter, equals `umoci unpack` of
the plaintext image (containerd itself checks every layer's diff_id).

Both processor configurations run: the decoder returns tar+gzip (containerd
decompresses), and with `--decompress` it returns the tar (skipped, loudly,
while the decoder has no such flag). Negative: with the key missing from
the keys directory the pull fails and containerd's error carries the
decoder's one-line message. Keys in the payload instead (what `ctr-enc
--key` sends): the test drives containerd's Diff service layer by layer
with such payloads and checks the result the same way.

Exit status 77 (CTest: skipped) when the machine cannot run containerd at
all (not root, no overlayfs), or when every selected test was skipped;
missing packages are installed.
"""

import gzip
import io
import json
import os
import random
import subprocess
import sys
import tarfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import ocitest  # noqa: E402
import peers  # noqa: E402

LAYERCRYPT = DECODER = None
SCRATCH = None
WORLD = None
NS_PAYLOAD = "e2e-payload"
# Snapshots we make outside a lease: without this label containerd's garbage
# collector may remove them (and their directories) at any moment.
GC_ROOT = {"containerd.io/gc.root": "e2e"}
# Tries until containerd reports a failing decoder's message (see
# expect_decoder_message); each try fails in well under a second.
ATTEMPTS = 10
EMPTY_DIGEST = ocitest.sha256_digest(b"")


def sh(*cmd, timeout=600):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def make_tar(entries):
    """A tar from (kind, name, ...) entries: ("dir", name, mode, uid, gid),
    ("file", name, data, mode, uid, gid), ("symlink", name, target),
    ("hardlink", name, target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, *rest in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            data = None
            if kind == "dir":
                info.type, (info.mode, info.uid, info.gid) = tarfile.DIRTYPE, rest
            elif kind == "file":
                data, info.mode, info.uid, info.gid = rest
                info.size = len(data)
            elif kind == "symlink":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, rest[0], 0o777
            elif kind == "hardlink":
                info.type, info.linkname, info.mode = tarfile.LNKTYPE, rest[0], 0o755
            else:
                raise ValueError(kind)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def make_plain_image(layout, variant, all_tar=False):
    """Three layers: tar+gzip base, uncompressed tar with a whiteout and an
    opaque directory, small tar+gzip with another whiteout (with `all_tar`,
    all three uncompressed tar, as builders write fresh layers). `variant`
    goes into /etc/image-id, so that two variants share no snapshot
    (containerd skips layers whose chain it already has)."""
    rnd = random.Random(variant)
    binary = rnd.randbytes(3 << 20)  # spans many decoder chunks
    text = b"".join(b"%d: the quick brown fox jumps over the lazy dog\n" % i for i in range(40000))
    base = make_tar([
        ("dir", "etc", 0o755, 0, 0), ("dir", "usr", 0o755, 0, 0), ("dir", "usr/bin", 0o755, 0, 0),
        ("dir", "usr/share", 0o755, 0, 0), ("dir", "opt", 0o755, 0, 0),
        ("dir", "opt/app", 0o750, 0, 0), ("dir", "opt/app/cache", 0o755, 0, 0),
        ("dir", "var", 0o755, 0, 0), ("dir", "var/lib", 0o755, 0, 0),
        ("dir", "var/lib/data", 0o755, 0, 0), ("dir", "home", 0o755, 0, 0),
        ("dir", "home/user", 0o700, 1000, 1000),
        ("file", "usr/bin/tool", binary, 0o755, 0, 0),
        ("hardlink", "usr/bin/tool-again", "usr/bin/tool"),
        ("symlink", "usr/bin/alias", "tool"),
        ("file", "usr/share/words", text, 0o644, 0, 0),
        ("file", "etc/config", b"setting = 1\n", 0o644, 0, 0),
        ("file", "etc/image-id", variant.encode() + b"\n", 0o644, 0, 0),
        ("file", "opt/app/cache/a", b"cached a\n", 0o644, 0, 0),
        ("file", "opt/app/cache/b", b"cached b\n", 0o644, 0, 0),
        ("file", "var/lib/data/old", b"to be deleted\n", 0o644, 0, 0),
        ("file", "var/lib/data/keep", b"kept\n", 0o644, 0, 0),
        ("file", "home/user/secret", b"user data\n", 0o600, 1000, 1000),
    ])
    middle = make_tar([
        ("file", "var/lib/data/.wh.old", b"", 0o644, 0, 0),
        ("file", "opt/app/cache/.wh..wh..opq", b"", 0o644, 0, 0),
        ("file", "opt/app/cache/c", b"cached c\n", 0o644, 0, 0),
        ("file", "etc/config", b"setting = 2\n", 0o600, 0, 0),
        ("dir", "var/lib/data/added", 0o755, 0, 0),
        ("file", "var/lib/data/added/f", rnd.randbytes(70000), 0o644, 0, 0),
    ])
    top = make_tar([
        ("file", "usr/bin/.wh.alias", b"", 0o644, 0, 0),
        ("dir", "usr/local", 0o755, 0, 0), ("dir", "usr/local/bin", 0o755, 0, 0),
        ("file", "usr/local/bin/late", b"#!/bin/sh\necho late\n", 0o755, 0, 0),
    ])
    def gz(t):
        return (t, peers.LAYER, t) if all_tar else (gzip.compress(t, mtime=0), peers.LAYER_GZIP, t)
    ocitest.write_image(layout, [gz(base), (middle, peers.LAYER, middle), gz(top)])


# layercrypt's chunk index annotation on the layers it gzipped.
GZIP_INDEX = "dev.layercrypt.gzip.index"

# Removed by the whiteouts and the opaque directory of the upper layers.
WHITED_OUT = ("var/lib/data/old", "opt/app/cache/a", "opt/app/cache/b", "usr/bin/alias")


class Image:
    """One encrypted image: its layout, plaintext tree, registry reference."""

    def __init__(self, layout, plain_layout, key_file, ref, media_types):
        self.media_types = media_types
        self.layout = ocitest.Layout(layout)
        manifest = next(self.layout.manifests())
        self.layers = manifest["layers"]
        config = json.loads(self.layout.blob(manifest["config"]["digest"]))
        self.diff_ids = config["rootfs"]["diff_ids"]
        self.chains = peers.chain_ids(self.diff_ids)
        with open(key_file, "rb") as f:
            self.key = f.read()
        self.ref = ref
        bundle = os.path.join(os.path.dirname(layout), os.path.basename(layout) + "-bundle")
        sh("umoci", "unpack", "--image", f"{plain_layout}:v1", bundle)
        self.plain_tree = peers.tree(os.path.join(bundle, "rootfs"))


class World:
    """What every test shares: keys, images, the registry."""

    def __init__(self):
        t0 = time.monotonic()
        d = SCRATCH.sub("world")
        keys = SCRATCH.sub("keys")
        self.keys_dir, self.wrong_keys_dir = SCRATCH.sub("keys", "node"), SCRATCH.sub("keys", "wrong")
        sh(LAYERCRYPT, "keygen", "--type", "ec:p256", "--out", os.path.join(keys, "ec"))
        sh(LAYERCRYPT, "keygen", "--type", "ec:p256", "--out", os.path.join(self.wrong_keys_dir, "stranger"))
        os.remove(os.path.join(self.wrong_keys_dir, "stranger.pub.pem"))
        sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
           "-out", os.path.join(keys, "rsa.pem"))
        sh("openssl", "pkey", "-in", os.path.join(keys, "rsa.pem"), "-pubout",
           "-out", os.path.join(keys, "rsa.pub.pem"))
        for k in ("ec.pem", "rsa.pem"):
            with open(os.path.join(keys, k), "rb") as src, \
                    open(os.path.join(self.keys_dir, k), "wb") as dst:
                dst.write(src.read())
        self.registry = peers.Registry(SCRATCH)
        self.images = {}
        mixed = [peers.LAYER_GZIP_ENC, peers.LAYER_ENC, peers.LAYER_GZIP_ENC]
        for variant in ("layercrypt", "skopeo", "compressed"):
            plain, enc = os.path.join(d, variant + "-plain"), os.path.join(d, variant + "-enc")
            make_plain_image(plain, variant, all_tar=variant == "compressed")
            types = mixed
            if variant == "layercrypt":
                key = os.path.join(keys, "ec.pem")
                sh(LAYERCRYPT, "encrypt", "--recipient", "jwe:" + os.path.join(keys, "ec.pub.pem"),
                   f"{plain}:v1", f"{enc}:v1")
            elif variant == "compressed":
                # Every layer is a tar: layercrypt gzips them while encrypting
                # (one chunked gzip member each, with the chunk index); Go's
                # gunzip reads them in one configuration, our parallel
                # inflater in the other.
                key = os.path.join(keys, "ec.pem")
                sh(LAYERCRYPT, "encrypt", "--compress", "gzip", "--recipient",
                   "jwe:" + os.path.join(keys, "ec.pub.pem"), f"{plain}:v1", f"{enc}:v1")
                types = [peers.LAYER_GZIP_ENC] * 3
            else:
                key = os.path.join(keys, "rsa.pem")
                sh("skopeo", "--insecure-policy", "copy", "-q", "--dest-oci-accept-uncompressed-layers",
                   "--encryption-key", "jwe:" + os.path.join(keys, "rsa.pub.pem"),
                   f"oci:{plain}:v1", f"oci:{enc}:v1")
            ref = self.registry.push(enc, "v1", f"e2e/{variant}")
            self.images[variant] = Image(enc, plain, key, ref, types)
        peers.log(f"world ready in {time.monotonic() - t0:.1f} s: registry {self.registry.host}, "
                  f"images {', '.join(i.ref for i in self.images.values())}")


def build_world():
    """The shared World, built by the first test class that needs it."""
    global WORLD
    if WORLD is None:
        WORLD = World()
    return WORLD


class CriPulls:
    """The tests, for one processor configuration (RETURNS_TAR)."""
    RETURNS_TAR = False

    @classmethod
    def setUpClass(cls):
        build_world()
        name = "tar" if cls.RETURNS_TAR else "targz"
        procs = peers.stream_processors(DECODER, WORLD.keys_dir, cls.RETURNS_TAR)
        cls.node = peers.Containerd(SCRATCH, f"node-{name}", WORLD.registry.host, procs)
        procs = peers.stream_processors(DECODER, WORLD.wrong_keys_dir, cls.RETURNS_TAR)
        cls.stranger = peers.Containerd(SCRATCH, f"stranger-{name}", WORLD.registry.host, procs)

    @classmethod
    def tearDownClass(cls):
        for c in ("node", "stranger"):
            if hasattr(cls, c):
                getattr(cls, c).stop()

    def decoder_args(self, keys_dir):
        return ["--decryption-keys-path", keys_dir] + (["--decompress"] if self.RETURNS_TAR else [])

    def assert_snapshot_tree(self, node, namespace, image):
        """The top snapshot, mounted, equals umoci unpack of the plaintext."""
        key = f"e2e-view-{time.monotonic_ns()}"
        mounts = node.client.view(namespace, "overlayfs", key, image.chains[-1], GC_ROOT)
        target = os.path.join(SCRATCH.sub("mnt"), key)
        peers.mount(mounts, target)
        try:
            got = peers.tree(target)
        finally:
            peers.umount(target)
            node.client.remove_snapshot(namespace, "overlayfs", key)
        entries, links = got
        for gone in WHITED_OUT:
            self.assertNotIn(gone, entries, "a whiteout was not applied")
        for kept in ("opt/app/cache/c", "var/lib/data/keep", "usr/local/bin/late", "etc/image-id"):
            self.assertIn(kept, entries)
        self.assertIn(("usr/bin/tool", "usr/bin/tool-again"), links)
        diffs = peers.tree_differences(got, image.plain_tree)
        self.assertEqual(diffs, [], "the unpacked snapshot differs from umoci unpack:\n"
                         + "\n".join(diffs[:20]))

    def check_cri_pull(self, image):
        self.assertEqual([l["mediaType"] for l in image.layers], image.media_types)
        with self.node.explain():
            t0 = time.monotonic()
            self.node.client.pull(image.ref)
            peers.log(f"  CRI pull of {image.ref}: {time.monotonic() - t0:.2f} s")
            lines = [l.split() for l in self.node.ctr("images", "check").stdout.splitlines()]
            row = [l for l in lines if l and l[0] == image.ref]
            self.assertEqual(len(row), 1, lines)
            self.assertEqual(row[0][3], "complete", row[0])
            self.assertEqual(row[0][-1], "true", f"not unpacked: {row[0]}")
            self.assert_snapshot_tree(self.node, "k8s.io", image)

    def test_image_encrypted_by_layercrypt(self):
        self.check_cri_pull(WORLD.images["layercrypt"])

    def test_image_encrypted_by_skopeo(self):
        self.check_cri_pull(WORLD.images["skopeo"])

    def test_image_compressed_and_encrypted_by_layercrypt(self):
        image = WORLD.images["compressed"]
        self.assertTrue(all(GZIP_INDEX in l.get("annotations", {}) for l in image.layers))
        self.check_cri_pull(image)

    def decoder_message(self, image, keys_dir):
        """What the decoder says about the base layer with keys_dir, run
        directly the way containerd runs it."""
        desc = image.layers[0]
        run = ocitest.run_decoder(DECODER, image.layout.blob(desc["digest"]),
                                  ocitest.make_payload(desc), self.decoder_args(keys_dir),
                                  media_type=desc["mediaType"])
        self.assertNotEqual(run.rc, 0, run)
        self.assertEqual(len(run.err_lines), 1, run)
        return run.err_lines[0]

    def expect_decoder_message(self, attempt, want):
        """Runs attempt() until a failure carries the decoder's message.

        containerd 1.6 checks a stream processor's exit status without
        waiting for it (containerd issue #6914): when the decoder's exit is
        reaped late, the message is lost and containerd only sees the
        empty stream the decoder wrote. attempt() returns None when the
        message was lost but the failure was still caught, or raises."""
        import grpc
        outcomes = []
        for _ in range(ATTEMPTS):
            try:
                lost = attempt()
            except grpc.RpcError as e:
                self.assertIn(want, e.details())
                peers.log(f"  failed with the decoder's message after {len(outcomes)} "
                          f"attempts that lost it: {e.details().strip()}")
                return
            outcomes.append(lost)
        self.fail(f"in {ATTEMPTS} attempts containerd never reported the decoder's message "
                  f"{want!r}: {outcomes}")

    def test_missing_key_fails_with_the_decoder_message(self):
        import grpc
        image = WORLD.images["layercrypt"]
        want = self.decoder_message(image, WORLD.wrong_keys_dir)

        def attempt():
            try:
                self.stranger.client.pull(image.ref)
            except grpc.RpcError as e:
                if "wrong diff id calculated on extraction" not in e.details():
                    raise
                return e.details()  # the message was lost; the diff_id check failed the pull
            self.fail("the pull succeeded without the key")

        with self.stranger.explain():
            self.expect_decoder_message(attempt, want)
            with self.assertRaises(grpc.RpcError) as cm:  # nothing was unpacked
                self.stranger.client.view("k8s.io", "overlayfs", "e2e-absent", image.chains[0])
            self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_keys_in_the_payload_through_the_diff_service(self):
        # What `ctr-enc images pull --key` does: containerd's unpacker calls
        # the Diff service for each layer with the keys in the processors'
        # payload. The stranger's keys directory has no key for the image.
        for name, image in sorted(WORLD.images.items()):
            with self.subTest(image=name), self.stranger.explain():
                client = self.stranger.client
                self.stranger.ctr("content", "fetch", "--hosts-dir", self.stranger.hosts_dir,
                                  image.ref, namespace=NS_PAYLOAD)

                def payloads(desc, keys):
                    value = ocitest.payload_value(desc, keys)
                    return {pid: (ocitest.PAYLOAD_TYPE_URL, value)
                            for pid in (peers.PROCESSOR_TAR_GZIP, peers.PROCESSOR_TAR)}

                # Without keys in the payload (what CRI sends) it fails.
                def attempt():
                    key = f"e2e-{name}-nokey-{time.monotonic_ns()}"
                    mounts = client.prepare(NS_PAYLOAD, "overlayfs", key, "", GC_ROOT)
                    try:
                        applied = client.apply(NS_PAYLOAD, image.layers[0], mounts,
                                               payloads(image.layers[0], ()))
                    finally:
                        client.remove_snapshot(NS_PAYLOAD, "overlayfs", key)
                    # containerd lost the exit status: the decoder released
                    # nothing, and the digest is not the diff_id.
                    self.assertEqual((applied["size"], applied["digest"]), (0, EMPTY_DIGEST))
                    return applied

                self.expect_decoder_message(attempt,
                                            self.decoder_message(image, WORLD.wrong_keys_dir))
                # With the key in the payload, layer by layer as the unpacker does.
                for i, desc in enumerate(image.layers):
                    key = f"e2e-{name}-extract-{i}"
                    mounts = client.prepare(NS_PAYLOAD, "overlayfs", key,
                                            image.chains[i - 1] if i else "", GC_ROOT)
                    applied = client.apply(NS_PAYLOAD, desc, mounts,
                                           payloads(desc, [(image.key, None)]))
                    self.assertEqual(applied["digest"], image.diff_ids[i], f"layer {i}")
                    self.assertEqual(applied["mediaType"], peers.LAYER)
                    client.commit(NS_PAYLOAD, "overlayfs", image.chains[i], key, GC_ROOT)
                self.assert_snapshot_tree(self.stranger, NS_PAYLOAD, image)


class ReturnsTarGzip(CriPulls, unittest.TestCase):
    """layercrypt-decoder returns tar+gzip; containerd decompresses."""
    RETURNS_TAR = False


class ReturnsTar(CriPulls, unittest.TestCase):
    """layercrypt-decoder --decompress returns the tar."""
    RETURNS_TAR = True


def main():
    global LAYERCRYPT, DECODER, SCRATCH
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    LAYERCRYPT, DECODER = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    peers.enter_private_mount_namespace()
    try:
        peers.check_machine()
    except peers.CannotRun as e:
        print(f"SKIPPED: this machine cannot run containerd: {e}", file=sys.stderr)
        sys.exit(77)
    SCRATCH = peers.Scratch()
    status = 1
    try:
        result = unittest.main(argv=[sys.argv[0], *sys.argv[3:]], exit=False,
                               verbosity=2).result
        if result.wasSuccessful():
            # Everything selected was skipped: say so to CTest.
            status = 77 if result.testsRun == 0 and result.skipped else 0
    finally:
        SCRATCH.close()
    sys.exit(status)


if __name__ == "__main__":
    main()
