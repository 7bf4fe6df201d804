#!/usr/bin/python3
"""layercrypt-decoder as containerd 2.x's stream processor, end to end.

Usage: containerd2_e2e_test.py LAYERCRYPT DECODER [TEST_NAME...]
  e.g. ... ReturnsTarGzip DefaultConfig (the decoder returns tar+gzip or
  tar+zstd), ReturnsTar (--decompress)

containerd 2.1 from Debian sid (fetched and unpacked, not installed, into
/var/cache/layercrypt-peers on first use; see peers.containerd2_bin_dir),
config version 3, everything under one temp dir, overlayfs snapshotter,
pulls from Debian's docker-registry on 127.0.0.1 images encrypted by
`layercrypt encrypt` and by skopeo 1.9.3, with gzip, zstd and tar layers
(e2e_common.VARIANTS), and runs DECODER for every encrypted layer.
After each pull `ctr images check` says complete and unpacked and the
overlayfs snapshot tree equals `umoci unpack` of the plaintext image
(containerd itself checks every layer's diff_id). The pulls:

  - CRI PullImage through the transfer service (2.1's default), which hands
    the stream processor no payload on fd 3: the decoder finds the layer's
    descriptor in containerd's content store, whose root it learns from
    its parent containerd's command line (--config CFG, CFG's `root`);
  - CRI PullImage with `use_local_image_pull = true` (the payload reaches
    the ids io.containerd.ocicrypt.decoder.v1.tar and .tar.gzip, not our
    third id .tar.zstd);
  - `ctr images pull` (transfer service) and `ctr images pull --local`
    (client-side unpacker; no payload either), unpacked into overlayfs.

The processors: ...tar.gzip, ...tar and ...tar.zstd, returning tar+gzip
(tar+zstd) for containerd to decompress (ReturnsTarGzip) or, with
`--decompress`, the tar (ReturnsTar). Negative: with the key missing the
transfer-service pull fails and containerd's error carries the decoder's
one-line message.

DefaultConfig: containerd's built-in [stream_processors] (none in the
config file, whose strings are single-quoted as `containerd config default`
writes them: `ctd-decoder` from PATH with `--decryption-keys-path
/etc/containerd/ocicrypt/keys` and OCICRYPT_KEYPROVIDER_CONFIG), checked
with `containerd config dump`; `ctd-decoder` is a symlink to DECODER in the
temp dir, put first on containerd's PATH, and the temp keys directory is
bind-mounted over /etc/containerd/ocicrypt/keys in the test's private mount
namespace only (a missing mount point is made under an overlay whose upper
layer is in the temp dir: nothing outside it changes; peers.Scratch.shield).

Exit status 77 (CTest: skipped) only when the machine cannot run containerd
at all (not root, no overlayfs); a containerd 2 that cannot be fetched is a
failure. Missing Debian packages are installed.
"""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import peers  # noqa: E402
from e2e_common import GZIP_INDEX, PullChecks, Run  # noqa: E402
import e2e_common  # noqa: E402

WORLD = None
VARIANTS = ("layercrypt", "skopeo", "compressed", "zstd", "layercrypt-zstd", "skopeo-zstd")
# containerd's built-in stream processors (cmd/containerd/command/config.go:
# streamProcessors(), under defaults.DefaultConfigDir /etc/containerd), as
# `containerd config default` prints them.
DEFAULT_KEYS = "/etc/containerd/ocicrypt/keys"
DEFAULT_PROCESSOR_ARGS = ["--decryption-keys-path", DEFAULT_KEYS]
DEFAULT_PROCESSOR_ENV = [
    "OCICRYPT_KEYPROVIDER_CONFIG=/etc/containerd/ocicrypt/ocicrypt_keyprovider.conf"]


def build_world():
    global WORLD
    WORLD = e2e_common.world(VARIANTS)
    return WORLD


def add_pull_tests(cls, ways, variants):
    """One test method per (way, image): test_<way>__<image>."""
    for way in ways:
        for variant in variants:
            def test(self, way=way, variant=variant):
                getattr(self, "pull_" + way)(WORLD.images[variant])
            test.__name__ = f"test_{way}__{variant.replace('-', '_')}"
            test.__doc__ = f"{way.replace('_', ' ')} of the image {variant}"
            setattr(cls, test.__name__, test)
    return cls


class Containerd2Pulls(PullChecks):
    """The tests, for one processor configuration (RETURNS_TAR)."""
    RETURNS_TAR = False

    @classmethod
    def setUpClass(cls):
        build_world()
        name = "tar" if cls.RETURNS_TAR else "targz"
        host = WORLD.registry.host
        procs = peers.stream_processors(Run.decoder, WORLD.keys_dir, cls.RETURNS_TAR, zstd=True)
        cls.nodes = []

        def node(label, processors=procs, **kw):
            n = peers.Containerd2(Run.scratch, f"{label}-{name}", host, processors, **kw)
            cls.nodes.append(n)
            return n
        cls.transfer = node("transfer")
        cls.local = node("local", use_local_image_pull=True)
        # ctr pulls in their own containerd each: nothing they need is
        # already in the content store from another pull.
        cls.ctr_transfer = node("ctr")
        cls.ctr_local = node("ctr-local")
        cls.stranger = node("stranger", peers.stream_processors(
            Run.decoder, WORLD.wrong_keys_dir, cls.RETURNS_TAR, zstd=True))

    @classmethod
    def tearDownClass(cls):
        for n in getattr(cls, "nodes", []):
            n.stop()

    def extra_args(self):
        return ["--decompress"] if self.RETURNS_TAR else []

    def pull_cri_transfer_service(self, image):
        self.check_cri_pull(self.transfer, image)

    def pull_cri_local_pull(self, image):
        self.check_cri_pull(self.local, image)

    def check_ctr_pull(self, node, image, local):
        with node.explain():
            node.pull_with_ctr(image.ref, "e2e-ctr", local=local)
            self.assert_pulled(node, "e2e-ctr", image)

    def pull_ctr_pull(self, image):
        self.check_ctr_pull(self.ctr_transfer, image, local=False)

    def pull_ctr_pull_local(self, image):
        self.check_ctr_pull(self.ctr_local, image, local=True)

    def test_image_media_types(self):
        want = {"layercrypt": [peers.LAYER_GZIP_ENC, peers.LAYER_ENC, peers.LAYER_GZIP_ENC],
                "compressed": [peers.LAYER_GZIP_ENC] * 3,
                "zstd": [peers.LAYER_ZSTD_ENC] * 3,
                "skopeo-zstd": [peers.LAYER_ZSTD_ENC, peers.LAYER_ENC, peers.LAYER_ZSTD_ENC]}
        for variant, types in want.items():
            self.assertEqual([l["mediaType"] for l in WORLD.images[variant].layers], types)
        image = WORLD.images["compressed"]
        self.assertTrue(all(GZIP_INDEX in l.get("annotations", {}) for l in image.layers))

    def test_missing_key_fails_with_the_decoder_message(self):
        self.check_missing_key_fails(WORLD)


PULLS = ("cri_transfer_service", "cri_local_pull", "ctr_pull", "ctr_pull_local")


class ReturnsTarGzip(Containerd2Pulls, unittest.TestCase):
    """layercrypt-decoder returns tar+gzip (tar+zstd); containerd decompresses."""
    RETURNS_TAR = False


class ReturnsTar(Containerd2Pulls, unittest.TestCase):
    """layercrypt-decoder --decompress returns the tar."""
    RETURNS_TAR = True


for _cls in (ReturnsTarGzip, ReturnsTar):
    add_pull_tests(_cls, PULLS, VARIANTS)


class DefaultConfig(PullChecks, unittest.TestCase):
    """No [stream_processors] in the config: containerd's defaults run
    `ctd-decoder` (here layercrypt-decoder) with the node's keys directory."""

    @classmethod
    def setUpClass(cls):
        build_world()
        cls.nodes = []
        bin_dir = Run.scratch.sub("default-bin")
        os.symlink(Run.decoder, os.path.join(bin_dir, "ctd-decoder"))
        Run.scratch.bind_over(WORLD.keys_dir, DEFAULT_KEYS)
        env = {"PATH": bin_dir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin")}
        host = WORLD.registry.host
        # Configs written as `containerd config default` writes them
        # (root = '...'): the decoder reads the root from there.
        cls.transfer = peers.Containerd2(Run.scratch, "default", host, None, env=env,
                                         literal_strings=True)
        cls.nodes.append(cls.transfer)
        cls.local = peers.Containerd2(Run.scratch, "default-local", host, None, env=env,
                                      use_local_image_pull=True, literal_strings=True)
        cls.nodes.append(cls.local)

    @classmethod
    def tearDownClass(cls):
        for n in getattr(cls, "nodes", []):
            n.stop()

    def test_built_in_stream_processors(self):
        import tomllib
        with open(self.transfer.config) as f:
            self.assertNotIn("stream_processors", f.read())
        dump = tomllib.loads(peers.run_checked(
            [self.transfer.CONTAINERD, "--config", self.transfer.config, "config", "dump"]))
        procs = dump["stream_processors"]
        self.assertEqual(sorted(procs), [peers.PROCESSOR_TAR, peers.PROCESSOR_TAR_GZIP])
        for pid, accepts, returns in ((peers.PROCESSOR_TAR_GZIP, peers.LAYER_GZIP_ENC, peers.LAYER_GZIP),
                                      (peers.PROCESSOR_TAR, peers.LAYER_ENC, peers.LAYER)):
            self.assertEqual(procs[pid], {"accepts": [accepts], "returns": returns,
                                          "path": "ctd-decoder", "args": DEFAULT_PROCESSOR_ARGS,
                                          "env": DEFAULT_PROCESSOR_ENV}, pid)
        self.assertEqual(sorted(os.listdir(DEFAULT_KEYS)), sorted(os.listdir(WORLD.keys_dir)))

    def pull_cri_transfer_service(self, image):
        self.check_cri_pull(self.transfer, image)

    def pull_cri_local_pull(self, image):
        self.check_cri_pull(self.local, image)


add_pull_tests(DefaultConfig, ("cri_transfer_service", "cri_local_pull"),
               ("layercrypt", "skopeo"))


if __name__ == "__main__":
    e2e_common.main(__doc__, "containerd", prepare=peers.containerd2_bin_dir)
