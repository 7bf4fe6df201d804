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

import os
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import ocitest  # noqa: E402
import peers  # noqa: E402
from e2e_common import EMPTY_DIGEST, GC_ROOT, GZIP_INDEX, PullChecks, Run  # noqa: E402
import e2e_common  # noqa: E402

NS_PAYLOAD = "e2e-payload"
WORLD = None
# Debian 12's containerd 1.6 has no processor for zstd layers here.
VARIANTS = ("layercrypt", "skopeo", "compressed")


def build_world():
    global WORLD
    WORLD = e2e_common.world(VARIANTS)
    return WORLD


class CriPulls(PullChecks):
    """The tests, for one processor configuration (RETURNS_TAR)."""
    RETURNS_TAR = False

    @classmethod
    def setUpClass(cls):
        build_world()
        name = "tar" if cls.RETURNS_TAR else "targz"
        procs = peers.stream_processors(Run.decoder, WORLD.keys_dir, cls.RETURNS_TAR)
        cls.node = peers.Containerd(Run.scratch, f"node-{name}", WORLD.registry.host, procs)
        procs = peers.stream_processors(Run.decoder, WORLD.wrong_keys_dir, cls.RETURNS_TAR)
        cls.stranger = peers.Containerd(Run.scratch, f"stranger-{name}", WORLD.registry.host, procs)

    @classmethod
    def tearDownClass(cls):
        for c in ("node", "stranger"):
            if hasattr(cls, c):
                getattr(cls, c).stop()

    def extra_args(self):
        return ["--decompress"] if self.RETURNS_TAR else []

    def test_image_encrypted_by_layercrypt(self):
        self.check_cri_pull(self.node, WORLD.images["layercrypt"])

    def test_image_encrypted_by_skopeo(self):
        self.check_cri_pull(self.node, WORLD.images["skopeo"])

    def test_image_compressed_and_encrypted_by_layercrypt(self):
        image = WORLD.images["compressed"]
        self.assertTrue(all(GZIP_INDEX in l.get("annotations", {}) for l in image.layers))
        self.check_cri_pull(self.node, image)

    def test_missing_key_fails_with_the_decoder_message(self):
        self.check_missing_key_fails(WORLD)

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
                                            self.decoder_message(image, WORLD.wrong_keys_dir,
                                                                 self.extra_args()))
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


if __name__ == "__main__":
    e2e_common.main(__doc__)
