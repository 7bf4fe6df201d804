#!/usr/bin/python3
"""What `layercrypt` leaves behind when it writes an image: no plaintext next
to ciphertext after an in-place encrypt, nothing at all after a failed or
interrupted run (SIGINT, SIGTERM, SIGKILL at random moments, into layouts
and archives), writers that take turns even when they create the same new
layout, and a re-key that really revokes (new blobs that skopeo decrypts,
old keys that open nothing).

Usage: image_write_test.py LAYERCRYPT
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocitest  # noqa: E402
from cli_test import check_layout_complete, layer_digests  # noqa: E402
from skopeo_interop_test import make_plain_layout, make_tar  # noqa: E402

LAYERCRYPT = None
REF = "org.opencontainers.image.ref.name"


def lc(*args, check=True, **kw):
    r = subprocess.run([LAYERCRYPT, *args], capture_output=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"layercrypt {' '.join(args)} failed: {r.stderr.decode()}")
    return r


def blob_names(layout):
    return sorted(os.listdir(os.path.join(layout, "blobs", "sha256")))


def referenced(layout):
    """Every digest reachable from index.json (descriptors in JSON blobs)."""
    with open(os.path.join(layout, "index.json")) as f:
        todo = list(json.load(f)["manifests"])
    seen = set()
    while todo:
        d = todo.pop()
        if d["digest"] in seen:
            continue
        seen.add(d["digest"])
        if d.get("mediaType", "").endswith("json"):
            with open(os.path.join(layout, "blobs", "sha256", d["digest"][7:]), "rb") as f:
                j = json.load(f)
            todo += j.get("manifests", []) + j.get("layers", [])
            if isinstance(j.get("config"), dict) and "digest" in j["config"]:
                todo.append(j["config"])
    return seen


def stray_files(directory):
    """Temporary files and directories layercrypt's writers make."""
    out = []
    for root, dirs, files in os.walk(directory):
        for n in dirs + files:
            if n.endswith(".tmp") or ".tmp-" in n:
                out.append(os.path.join(root, n))
    return out


def index_of(path):
    """index.json of a layout, or the whole archive."""
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return f.read()
    with open(os.path.join(path, "index.json"), "rb") as f:
        return f.read()


def tree_digest(path):
    """A fingerprint of a layout directory or archive file: names and bytes."""
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return ocitest.sha256_digest(f.read())
    parts = []
    for root, _, files in sorted(os.walk(path)):
        for n in sorted(files):
            p = os.path.join(root, n)
            with open(p, "rb") as f:
                parts.append(os.path.relpath(p, path).encode() + b"\0" + f.read())
    return ocitest.sha256_digest(b"\0".join(parts))


class ImageWrite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="layercrypt-write-")
        cls.plain = os.path.join(cls.tmp, "plain")
        make_plain_layout(cls.plain)
        cls.plain_layers, _ = layer_digests(cls.plain)
        cls.keys = {}
        for name in ("a", "b"):
            base = os.path.join(cls.tmp, name)
            lc("keygen", "--type", "ec:p256", "--out", base)
            cls.keys[name] = (base + ".pem", base + ".pub.pem")
        # A bigger image for the kill runs: three ~6 MB layers.
        cls.big = os.path.join(cls.tmp, "big")
        tars = [make_tar([(f"data{i}.bin", os.urandom(6_000_000))]) for i in range(3)]
        ocitest.write_image(cls.big, [(t, "application/vnd.oci.image.layer.v1.tar", t) for t in tars])
        cls.big_enc = os.path.join(cls.tmp, "big-enc")
        lc("encrypt", "-r", "jwe:" + cls.keys["a"][1], f"{cls.big}:v1", f"{cls.big_enc}:v1")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def copy(self, src, name):
        dst = os.path.join(self.tmp, name)
        shutil.copytree(src, dst)
        return dst

    # -- §2: in-place writes leave no plaintext ------------------------------------------

    def test_in_place_encrypt_deletes_the_plaintext_blobs(self):
        img = self.copy(self.plain, "inplace")
        lc("encrypt", "-r", "jwe:" + self.keys["a"][1], f"{img}:v1", f"{img}:v1")
        names = blob_names(img)
        for _, d in self.plain_layers:
            self.assertNotIn(d[7:], names, "plaintext layer left in the layout")
        self.assertEqual(set("sha256:" + n for n in names), referenced(img))
        check_layout_complete(self, img)
        # decrypt and recipients in place collect what they replace too.
        lc("recipients", "set", "--rekey", "-k", self.keys["a"][0], "-r", "jwe:" + self.keys["b"][1],
           f"{img}:v1")
        self.assertEqual(set("sha256:" + n for n in blob_names(img)), referenced(img))
        lc("decrypt", "-k", self.keys["b"][0], f"{img}:v1", f"{img}:v1")
        self.assertEqual(set("sha256:" + n for n in blob_names(img)), referenced(img))
        got, _ = layer_digests(img)
        self.assertEqual([d for _, d in got], [d for _, d in self.plain_layers])

    def test_plaintext_kept_by_another_tag_is_named(self):
        img = self.copy(self.plain, "twotags")
        with open(os.path.join(img, "index.json")) as f:
            idx = json.load(f)
        other = json.loads(json.dumps(idx["manifests"][0]))
        other["annotations"][REF] = "old"
        idx["manifests"].append(other)
        with open(os.path.join(img, "index.json"), "w") as f:
            json.dump(idx, f)
        r = lc("encrypt", "-r", "jwe:" + self.keys["a"][1], f"{img}:v1", f"{img}:v1")
        err = r.stderr.decode()
        self.assertIn("its plaintext is still in", err)
        self.assertIn("'old'", err)
        # The plaintext stays (tag old uses it), the image is complete.
        for _, d in self.plain_layers:
            self.assertIn(d[7:], blob_names(img))
        check_layout_complete(self, img)

    def test_in_place_archive_has_no_plaintext_member(self):
        arc = os.path.join(self.tmp, "inplace.tar")
        subprocess.run(["tar", "-C", self.plain, "-cf", arc, "oci-layout", "index.json", "blobs"],
                       check=True)
        lc("encrypt", "-r", "jwe:" + self.keys["a"][1], f"oci-archive:{arc}:v1", f"oci-archive:{arc}:v1")
        with tarfile.open(arc) as t:
            members = t.getnames()
        for _, d in self.plain_layers:
            self.assertNotIn("blobs/sha256/" + d[7:], members)
        self.assertEqual(stray_files(self.tmp + "/inplace.tar"), [])
        self.assertEqual([n for n in os.listdir(self.tmp) if n.startswith(".inplace.tar")], [])

    # -- §3: re-key revokes; set alone does not ---------------------------------------------

    def test_rekey_revokes_and_skopeo_reads_the_result(self):
        img = os.path.join(self.tmp, "rekey")
        lc("encrypt", "-r", "jwe:" + self.keys["a"][1], f"{self.plain}:v1", f"{img}:v1")
        before, _ = layer_digests(img)
        # set without --rekey keeps every blob: the old key is only unlisted.
        lc("recipients", "set", "-k", self.keys["a"][0], "-r", "jwe:" + self.keys["b"][1], f"{img}:v1")
        same, _ = layer_digests(img)
        self.assertEqual([d for _, d in same], [d for _, d in before])
        lc("recipients", "set", "--rekey", "-k", self.keys["b"][0], "-r", "jwe:" + self.keys["b"][1],
           f"{img}:v1")
        after, _ = layer_digests(img)
        for (_, old), (mt, new) in zip(before, after):
            self.assertNotEqual(old, new)
            self.assertTrue(mt.endswith("+encrypted"))
            self.assertNotIn(old[7:], blob_names(img), "old ciphertext left behind")
        r = lc("decrypt", "-k", self.keys["a"][0], f"{img}:v1", os.path.join(self.tmp, "rekey-old"),
               check=False)
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "rekey-old")))
        out = os.path.join(self.tmp, "rekey-skopeo")
        subprocess.run(["skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
                        "--decryption-key", self.keys["b"][0], f"oci:{img}:v1", f"oci:{out}:v1"],
                       check=True, capture_output=True)
        got, _ = layer_digests(out)
        self.assertEqual([d for _, d in got], [d for _, d in self.plain_layers])

    def test_rekey_of_a_tampered_blob_publishes_nothing(self):
        img = os.path.join(self.tmp, "rekey-bad")
        lc("encrypt", "-r", "jwe:" + self.keys["a"][1], f"{self.plain}:v1", f"{img}:v1")
        layers, _ = layer_digests(img)
        path = os.path.join(img, "blobs", "sha256", layers[0][1][7:])
        with open(path, "r+b") as f:
            f.seek(100)
            b = f.read(1)
            f.seek(100)
            f.write(bytes([b[0] ^ 1]))
        before = tree_digest(img)
        r = lc("recipients", "set", "--rekey", "-k", self.keys["a"][0], "-r",
               "jwe:" + self.keys["b"][1], f"{img}:v1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, r.stderr)
        self.assertIn("does not match its digest", r.stderr.decode())
        self.assertEqual(tree_digest(img), before, "a failed re-key changed the image")
        # rekey with add is refused.
        r = lc("recipients", "add", "--rekey", "-k", self.keys["a"][0], "-r", "jwe:" + self.keys["b"][1],
               f"{img}:v1", check=False)
        self.assertEqual(r.returncode, 2)

    def test_decrypt_of_a_blob_of_the_wrong_length_publishes_nothing(self):
        for name, change in (("longer", lambda f: f.write(b"\0")),
                             ("shorter", lambda f: f.truncate(os.fstat(f.fileno()).st_size - 1))):
            img = os.path.join(self.tmp, f"dec-{name}")
            lc("encrypt", "-r", "jwe:" + self.keys["a"][1], f"{self.plain}:v1", f"{img}:v1")
            layers, _ = layer_digests(img)
            path = os.path.join(img, "blobs", "sha256", layers[0][1][7:])
            size = os.path.getsize(path)
            with open(path, "r+b") as f:
                f.seek(0, os.SEEK_END)
                change(f)
            out = os.path.join(self.tmp, f"dec-{name}-out")
            r = lc("decrypt", "-k", self.keys["a"][0], f"{img}:v1", f"{out}:v1", check=False)
            self.assertEqual(r.returncode, 1, name)
            err = r.stderr.decode().strip().splitlines()
            self.assertEqual(len(err), 1, err)
            self.assertIn(f"{layers[0][1]} is {os.path.getsize(path)} bytes, its descriptor says "
                          f"{size}", err[0])
            self.assertFalse(os.path.exists(out), name)

    # -- §4: platform, failures, concurrency ---------------------------------------------------

    def test_platform_of_a_single_platform_image(self):
        for spec in ("linux/amd64", "linux/x86_64"):
            dst = os.path.join(self.tmp, "plat-" + spec.replace("/", "-"))
            lc("encrypt", "-r", "jwe:" + self.keys["a"][1], "--platform", spec, f"{self.plain}:v1", dst)
            got, _ = layer_digests(dst)
            self.assertTrue(all(mt.endswith("+encrypted") for mt, _ in got), spec)
        dst = os.path.join(self.tmp, "plat-arm")
        r = lc("encrypt", "-r", "jwe:" + self.keys["a"][1], "--platform", "linux/aarch64",
               f"{self.plain}:v1", dst, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("its platforms: linux/amd64", r.stderr.decode())
        self.assertFalse(os.path.exists(dst))

    def test_failed_run_leaves_dst_as_it_was(self):
        src = self.copy(self.plain, "corrupt-src")
        layers, _ = layer_digests(src)
        with open(os.path.join(src, "blobs", "sha256", layers[1][1][7:]), "r+b") as f:
            f.write(b"X")
        # A new DST: absent afterwards, and nothing beside it.
        dst = os.path.join(self.tmp, "fail-new", "img")
        r = lc("encrypt", "-r", "jwe:" + self.keys["a"][1], f"{src}:v1", f"{dst}:v1", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not match its digest", r.stderr.decode())
        self.assertEqual(os.listdir(os.path.dirname(dst)), [])
        # An existing DST: byte for byte as it was.
        dst = os.path.join(self.tmp, "fail-old")
        lc("encrypt", "-r", "jwe:" + self.keys["a"][1], f"{self.plain}:v1", f"{dst}:v1")
        before = tree_digest(dst)
        r = lc("encrypt", "-r", "jwe:" + self.keys["a"][1], f"{src}:v1", f"{dst}:v2", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(tree_digest(dst), before)

    def test_concurrent_writers_of_one_new_layout_take_turns(self):
        dst = os.path.join(self.tmp, "concurrent")
        procs = [subprocess.Popen([LAYERCRYPT, "encrypt", "-r", "jwe:" + self.keys["a"][1],
                                   f"{self.plain}:v1", f"{dst}:t{i}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for i in range(4)]
        for p in procs:
            _, err = p.communicate()
            self.assertEqual(p.returncode, 0, err.decode())
        with open(os.path.join(dst, "index.json")) as f:
            tags = sorted(e["annotations"][REF] for e in json.load(f)["manifests"])
        self.assertEqual(tags, ["t0", "t1", "t2", "t3"])
        check_layout_complete(self, dst)
        self.assertEqual(stray_files(self.tmp + "/concurrent"), [])

    def test_no_space_left_is_named(self):
        mnt = os.path.join(self.tmp, "small")
        os.makedirs(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot mount a small tmpfs (needs root)")
        try:
            dst = os.path.join(mnt, "img")
            r = lc("encrypt", "-r", "jwe:" + self.keys["a"][1], f"{self.big}:v1", f"{dst}:v1", check=False)
            self.assertEqual(r.returncode, 1)
            err = r.stderr.decode()
            self.assertIn("No space left on device", err)
            self.assertNotIn("short write", err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertEqual(os.listdir(mnt), [], "a failed run left files on the full file system")
        finally:
            subprocess.run(["umount", mnt], check=True)

    # -- §4: interrupted runs, 120 of them --------------------------------------------------

    def test_interrupted_runs_leave_src_intact_dst_old_or_new_and_no_debris(self):
        rng = random.Random(12)
        a_pub, a_priv, b_pub = "jwe:" + self.keys["a"][1], self.keys["a"][0], "jwe:" + self.keys["b"][1]
        b_priv = self.keys["b"][0]
        work = os.path.join(self.tmp, "kills")
        os.makedirs(work)
        # (name, SRC maker, command maker); SRC is fresh for in-place runs.
        big_arc = os.path.join(self.tmp, "big-enc.tar")
        subprocess.run(["tar", "-C", self.big_enc, "-cf", big_arc, "oci-layout", "index.json", "blobs"],
                       check=True)
        ops = [
            ("encrypt to a new layout", lambda d: (self.big, [
                "encrypt", "-r", a_pub, f"{self.big}:v1", f"{d}/new:v1"], f"{d}/new")),
            ("encrypt to a new archive", lambda d: (self.big, [
                "encrypt", "-r", a_pub, f"{self.big}:v1", f"oci-archive:{d}/new.tar:v1"], f"{d}/new.tar")),
            ("decrypt to a new layout", lambda d: (self.big_enc, [
                "decrypt", "-k", a_priv, f"{self.big_enc}:v1", f"{d}/dec:v1"], f"{d}/dec")),
            ("re-key in place", lambda d: (shutil.copytree(self.big_enc, f"{d}/img") and f"{d}/img", [
                "recipients", "set", "--rekey", "-k", a_priv, "-k", b_priv, "-r", b_pub, f"{d}/img:v1"],
                f"{d}/img")),
            ("recipients add into an archive in place", lambda d: (
                shutil.copy(big_arc, f"{d}/img.tar") and f"{d}/img.tar", [
                    "recipients", "add", "-k", a_priv, "-r", b_pub, f"oci-archive:{d}/img.tar:v1"],
                f"{d}/img.tar")),
            ("encrypt in place", lambda d: (shutil.copytree(self.big, f"{d}/img") and f"{d}/img", [
                "encrypt", "-r", a_pub, f"{d}/img:v1", f"{d}/img:v1"], f"{d}/img")),
        ]
        timing = {}
        for name, make in ops:
            d = tempfile.mkdtemp(dir=work)
            _, cmd, _ = make(d)
            t0 = time.monotonic()
            lc(*cmd)
            timing[name] = time.monotonic() - t0
            shutil.rmtree(d)
        sigs = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT]
        outcomes = {}
        runs = 0
        for round_ in range(20):
            for name, make in ops:
                sig = sigs[(round_ + runs) % 3]
                d = tempfile.mkdtemp(dir=work)
                src, cmd, dst = make(d)
                in_place = src == dst
                src_before = tree_digest(src) if not in_place else None
                dst_before = index_of(dst) if in_place else None
                p = subprocess.Popen([LAYERCRYPT, *cmd], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
                time.sleep(rng.uniform(0, timing[name] * 1.2))
                p.send_signal(sig)
                _, err = p.communicate()
                runs += 1
                what = f"{name}, {sig.name}, rc {p.returncode}: {err.decode()}"
                self.assertIn(p.returncode, (0, -sig), what)
                if not in_place:
                    self.assertEqual(tree_digest(src), src_before, "SRC changed: " + what)
                # DST: old (absent, or as it was) or new and complete.
                if not os.path.exists(dst):
                    state = "absent"
                elif in_place and index_of(dst) == dst_before:
                    state = "old"
                else:
                    state = "new"
                    if os.path.isdir(dst):
                        check_layout_complete(self, dst)
                    else:
                        with tarfile.open(dst) as t:
                            self.assertIn("index.json", t.getnames(), what)
                outcomes[(sig.name, state)] = outcomes.get((sig.name, state), 0) + 1
                if sig != signal.SIGKILL:
                    self.assertEqual(stray_files(d), [], "debris after " + what)
                    if os.path.isdir(dst):
                        self.assertEqual(set("sha256:" + n for n in blob_names(dst)), referenced(dst),
                                         "unreferenced blobs after " + what)
                else:
                    # The next writer of the same DST collects what kill -9 left.
                    if os.path.exists(dst):
                        ref = ("oci-archive:" if dst.endswith(".tar") else "") + dst
                        lc("decrypt", "-k", a_priv, "-k", b_priv, f"{ref}:v1", f"{ref}:next")
                    else:
                        lc(*cmd)
                    self.assertEqual(stray_files(d), [], "debris after the run after " + what)
                    if os.path.isdir(dst):
                        self.assertEqual(set("sha256:" + n for n in blob_names(dst)), referenced(dst))
                shutil.rmtree(d)
        print(f"{runs} interrupted runs: {sorted(outcomes.items())}", file=sys.stderr)
        self.assertGreaterEqual(runs, 100)
        interrupted = sum(n for (s, state), n in outcomes.items() if state != "new")
        self.assertGreater(interrupted, runs // 4, "too few signals landed mid-run")


if __name__ == "__main__":
    LAYERCRYPT = sys.argv[1]
    import cli_test
    cli_test.LAYERCRYPT = LAYERCRYPT
    unittest.main(argv=sys.argv[:1], verbosity=2)
