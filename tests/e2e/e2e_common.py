"""What the containerd end-to-end tests share, whatever containerd runs:
the test images (plaintext layouts, encrypted by `layercrypt encrypt` or by
skopeo, pushed to a docker-registry on 127.0.0.1), the checks after a pull
(`ctr images check`, the overlayfs snapshot tree against `umoci unpack` of
the plaintext image), the retry that waits for a failing decoder's message
and the program's main()."""

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


class Run:
    """Set by main(): the binaries under test and the scratch directory."""
    layercrypt = decoder = scratch = None


# Snapshots we make outside a lease: without this label containerd's garbage
# collector may remove them (and their directories) at any moment.
GC_ROOT = {"containerd.io/gc.root": "e2e"}
# Tries until containerd reports a failing decoder's message (see
# expect_decoder_message); each try fails in well under a second.
ATTEMPTS = 10
EMPTY_DIGEST = ocitest.sha256_digest(b"")
# layercrypt's chunk index annotation on the layers it gzipped.
GZIP_INDEX = "dev.layercrypt.gzip.index"
# Removed by the whiteouts and the opaque directory of the upper layers.
WHITED_OUT = ("var/lib/data/old", "opt/app/cache/a", "opt/app/cache/b", "usr/bin/alias")

# The test images: the plaintext's layer kinds (base first), who encrypts
# it, and `layercrypt encrypt --compress` (applies to the tar layers).
# The base layer spans many decoder chunks; the middle one holds a whiteout
# and an opaque directory, the top one another whiteout.
VARIANTS = {
    "layercrypt": (("gzip", "tar", "gzip"), "layercrypt", None),
    "skopeo": (("gzip", "tar", "gzip"), "skopeo", None),
    # Every layer is a tar: layercrypt compresses them while encrypting
    # (gzip: one chunked gzip member each, with the chunk index).
    "compressed": (("tar", "tar", "tar"), "layercrypt", "gzip"),
    "zstd": (("tar", "tar", "tar"), "layercrypt", "zstd"),
    # zstd layers from a builder, encrypted as they are.
    "layercrypt-zstd": (("zstd", "tar", "zstd"), "layercrypt", None),
    "skopeo-zstd": (("zstd", "tar", "zstd"), "skopeo", None),
}
SUFFIX = {"gzip": "+gzip", "tar": "", "zstd": "+zstd"}


def sh(*cmd, timeout=600, env=None):
    """Runs cmd (env: added to the environment); its stdout, or raises."""
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **env) if env else None)
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


def compress(tar, kind):
    """tar as a layer blob of `kind` (gzip, zstd or tar) and its media type."""
    if kind == "gzip":
        return gzip.compress(tar, mtime=0), peers.LAYER_GZIP
    if kind == "zstd":
        r = subprocess.run(["zstd", "-q", "-c", "-3"], input=tar, capture_output=True, check=True)
        return r.stdout, peers.LAYER_ZSTD
    return tar, peers.LAYER


def make_plain_image(layout, variant, kinds=("gzip", "tar", "gzip")):
    """Three layers: a base, one with a whiteout and an opaque directory, a
    small one with another whiteout; kinds says how each is stored (gzip,
    zstd or tar). `variant` goes into /etc/image-id, so that two variants
    share no snapshot (containerd skips layers whose chain it already has)."""
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
    ocitest.write_image(layout, [(*compress(t, k), t) for t, k in zip((base, middle, top), kinds)])


class Image:
    """One encrypted image: its layout, plaintext tree, registry reference."""

    def __init__(self, layout, plain_layout, key_file, ref, media_types):
        """plain_layout: what `umoci unpack` reads (umoci 0.4.7 reads no
        zstd layers: the same tars stored uncompressed stand in)."""
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
    """What every test shares: keys, the images named (VARIANTS), the registry.
    keys_dir holds the private keys of every image; wrong_keys_dir one
    stranger's key."""

    def __init__(self, variants):
        t0 = time.monotonic()
        scratch, lc = Run.scratch, Run.layercrypt
        d = scratch.sub("world")
        keys = scratch.sub("keys")
        self.keys_dir, self.wrong_keys_dir = scratch.sub("keys", "node"), scratch.sub("keys", "wrong")
        sh(lc, "keygen", "--type", "ec:p256", "--out", os.path.join(keys, "ec"))
        sh(lc, "keygen", "--type", "ec:p256", "--out", os.path.join(self.wrong_keys_dir, "stranger"))
        os.remove(os.path.join(self.wrong_keys_dir, "stranger.pub.pem"))
        sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
           "-out", os.path.join(keys, "rsa.pem"))
        sh("openssl", "pkey", "-in", os.path.join(keys, "rsa.pem"), "-pubout",
           "-out", os.path.join(keys, "rsa.pub.pem"))
        for k in ("ec.pem", "rsa.pem"):
            with open(os.path.join(keys, k), "rb") as src, \
                    open(os.path.join(self.keys_dir, k), "wb") as dst:
                dst.write(src.read())
        self.registry = peers.Registry(scratch)
        self.images = {}
        for variant in variants:
            kinds, encryptor, compression = VARIANTS[variant]
            plain, enc = os.path.join(d, variant + "-plain"), os.path.join(d, variant + "-enc")
            make_plain_image(plain, variant, kinds)
            reference = plain
            if "zstd" in kinds:
                reference = os.path.join(d, variant + "-plain-tar")
                make_plain_image(reference, variant, ("tar",) * len(kinds))
            stored = [compression if k == "tar" and compression else k for k in kinds]
            types = [peers.LAYER + SUFFIX[k] + "+encrypted" for k in stored]
            if encryptor == "layercrypt":
                key = os.path.join(keys, "ec.pem")
                sh(lc, "encrypt", *(["--compress", compression] if compression else []),
                   "--recipient", "jwe:" + os.path.join(keys, "ec.pub.pem"),
                   f"{plain}:v1", f"{enc}:v1")
            else:
                key = os.path.join(keys, "rsa.pem")
                sh("skopeo", "--insecure-policy", "copy", "-q", "--dest-oci-accept-uncompressed-layers",
                   "--encryption-key", "jwe:" + os.path.join(keys, "rsa.pub.pem"),
                   f"oci:{plain}:v1", f"oci:{enc}:v1")
            ref = self.registry.push(enc, "v1", f"e2e/{variant}")
            self.images[variant] = Image(enc, reference, key, ref, types)
        peers.log(f"world ready in {time.monotonic() - t0:.1f} s: registry {self.registry.host}, "
                  f"images {', '.join(i.ref for i in self.images.values())}")


_world = None


def world(variants):
    """The shared World, built by the first test class that needs it (once:
    if that fails, every class fails with the same error)."""
    global _world
    if _world is None:
        try:
            _world = World(variants)
        except Exception as e:
            _world = e
            raise
    if isinstance(_world, Exception):
        raise RuntimeError(f"the test images could not be made: {_world}")
    return _world


class PullChecks:
    """Assertions after a pull, mixed into unittest.TestCase classes."""

    def assert_snapshot_tree(self, node, namespace, image):
        """The top snapshot, mounted, equals umoci unpack of the plaintext."""
        key = f"e2e-view-{time.monotonic_ns()}"
        mounts = node.client.view(namespace, "overlayfs", key, image.chains[-1], GC_ROOT)
        target = os.path.join(Run.scratch.sub("mnt"), key)
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

    def assert_pulled(self, node, namespace, image):
        """`ctr images check` says complete and unpacked; the snapshot tree
        equals umoci unpack of the plaintext (containerd itself checked
        every layer's diff_id)."""
        lines = [l.split() for l in node.ctr("images", "check", namespace=namespace)
                 .stdout.splitlines()]
        row = [l for l in lines if l and l[0] == image.ref]
        self.assertEqual(len(row), 1, lines)
        self.assertEqual(row[0][3], "complete", row[0])
        self.assertEqual(row[0][-1], "true", f"not unpacked: {row[0]}")
        self.assert_snapshot_tree(node, namespace, image)

    def check_cri_pull(self, node, image):
        """A CRI PullImage (as the kubelet pulls), then assert_pulled."""
        self.assertEqual([l["mediaType"] for l in image.layers], image.media_types)
        with node.explain():
            t0 = time.monotonic()
            node.client.pull(image.ref)
            peers.log(f"  CRI pull of {image.ref}: {time.monotonic() - t0:.2f} s")
            self.assert_pulled(node, "k8s.io", image)

    def decoder_message(self, image, keys_dir, args=(), env=None):
        """What the decoder says about the base layer with keys_dir (None:
        no keys directory), run directly the way containerd runs it (with
        the payload) with env added to its environment."""
        desc = image.layers[0]
        keys = ["--decryption-keys-path", keys_dir] if keys_dir is not None else []
        run = ocitest.run_decoder(Run.decoder, image.layout.blob(desc["digest"]),
                                  ocitest.make_payload(desc), [*keys, *args],
                                  media_type=desc["mediaType"], env_extra=env)
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

    def check_cri_pull_fails(self, node, image, want):
        """A CRI pull by node fails, containerd's error carries the decoder's
        one line `want`, and nothing is unpacked."""
        import grpc

        def attempt():
            try:
                node.client.pull(image.ref)
            except grpc.RpcError as e:
                if "wrong diff id calculated on extraction" not in e.details():
                    raise
                return e.details()  # the message was lost; the diff_id check failed the pull
            self.fail(f"the pull of {image.ref} succeeded")

        with node.explain():
            self.expect_decoder_message(attempt, want)
            with self.assertRaises(grpc.RpcError) as cm:  # nothing was unpacked
                node.client.view("k8s.io", "overlayfs", "e2e-absent", image.chains[0])
            self.assertEqual(cm.exception.code(), grpc.StatusCode.NOT_FOUND)

    def check_missing_key_fails(self, world):
        """A CRI pull by self.stranger (a containerd whose keys directory
        lacks the key) fails with the decoder's one line (check_cri_pull_fails)."""
        image = world.images["layercrypt"]
        want = self.decoder_message(image, world.wrong_keys_dir, self.extra_args())
        self.check_cri_pull_fails(self.stranger, image, want)


def main(doc, what="containerd", prepare=None, programs=()):
    """Runs the unittest classes named on the command line (after
    LAYERCRYPT DECODER and one path per name in `programs`, set as that
    attribute of Run) of __main__ in a private mount namespace and one
    scratch directory. Exit status 77 (CTest: skipped) when the machine
    cannot run containerd at all (peers.CannotRun) or when every selected
    test was skipped; anything else that stops the tests is a failure,
    prepare() (fetching a peer) raising included."""
    names = ("layercrypt", "decoder", *programs)
    if len(sys.argv) < 1 + len(names):
        print(doc, file=sys.stderr)
        sys.exit(2)
    for i, name in enumerate(names):
        setattr(Run, name, os.path.abspath(sys.argv[1 + i]))
    peers.enter_private_mount_namespace()
    try:
        peers.check_machine()
    except peers.CannotRun as e:
        print(f"SKIPPED: this machine cannot run {what}: {e}", file=sys.stderr)
        sys.exit(77)
    if prepare is not None:
        try:
            prepare()
        except Exception as e:
            print(f"FAILED: {e}", file=sys.stderr)
            sys.exit(1)
    Run.scratch = peers.Scratch()
    status = 1
    t0 = time.monotonic()
    try:
        result = unittest.main(argv=[sys.argv[0], *sys.argv[1 + len(names):]], exit=False,
                               verbosity=2).result
        if result.wasSuccessful():
            # Everything selected was skipped: say so to CTest.
            status = 77 if result.testsRun == 0 and result.skipped else 0
    finally:
        Run.scratch.close()
        peers.log(f"wall time {time.monotonic() - t0:.1f} s")
    sys.exit(status)
