#!/usr/bin/python3
"""The `layercrypt` CLI on OCI archives (a tar of a layout, as skopeo's
`oci-archive:` writes), against Debian's skopeo, GNU tar and Python's tarfile;
and the writer lock on layouts.

Usage: archive_test.py LAYERCRYPT
"""

import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocitest  # noqa: E402
from cli_test import check_layout_complete, layer_digests  # noqa: E402
from skopeo_interop_test import make_plain_layout  # noqa: E402

LAYERCRYPT = None
REF = "org.opencontainers.image.ref.name"


def sh(*cmd):
    return subprocess.run(cmd, check=True, capture_output=True)


def lc(*args, check=True):
    r = subprocess.run([LAYERCRYPT, *args], capture_output=True)
    if check and r.returncode != 0:
        raise AssertionError(f"layercrypt {' '.join(args)} failed: {r.stderr.decode()}")
    return r


def read_archive(path):
    """{member name: bytes} of a tar, names as an extractor would see them."""
    out = {}
    with tarfile.open(path) as t:
        for m in t.getmembers():
            if m.isfile():
                name = m.name
                while name.startswith("./"):
                    name = name[2:]
                out[name] = t.extractfile(m).read()
    return out


def archive_image(test, path, tag="v1"):
    """Extracts the archive as skopeo would, checks that every blob its index
    reaches is there with the right digest and size, and returns (manifest,
    {member name: bytes})."""
    files = read_archive(path)
    test.assertEqual(json.loads(files["oci-layout"]), {"imageLayoutVersion": "1.0.0"})
    out = tempfile.mkdtemp(dir=os.path.dirname(path), prefix="x-")
    try:
        for name, data in files.items():
            os.makedirs(os.path.join(out, os.path.dirname(name)), exist_ok=True)
            with open(os.path.join(out, name), "wb") as f:
                f.write(data)
        check_layout_complete(test, out)
        _, manifest = layer_digests(out, tag)
    finally:
        shutil.rmtree(out)
    return manifest, files


def layout_layers(layout, tag="v1"):
    with open(os.path.join(layout, "index.json")) as f:
        idx = json.load(f)
    for e in idx["manifests"]:
        if e.get("annotations", {}).get(REF) == tag:
            with open(os.path.join(layout, "blobs", "sha256", e["digest"][7:]), "rb") as f:
                return [l["digest"] for l in json.load(f)["layers"]]
    raise AssertionError(f"no tag {tag} in {layout}")


def leftovers(directory):
    return [n for n in os.listdir(directory) if n.endswith(".tmp")]


class Archives(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("skopeo") is None:
            raise RuntimeError("skopeo not found: apt-get install skopeo (./tools/run.sh test installs it)")
        cls.tmp = tempfile.mkdtemp(prefix="layercrypt-archive-")
        cls.plain = os.path.join(cls.tmp, "plain")
        make_plain_layout(cls.plain)
        cls.plain_layers = layout_layers(cls.plain)
        # skopeo makes the archive, as a user's pipeline would.
        cls.plain_tar = os.path.join(cls.tmp, "plain.tar")
        sh("skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
           f"oci:{cls.plain}:v1", f"oci-archive:{cls.plain_tar}:v1")
        base = os.path.join(cls.tmp, "node")
        lc("keygen", "--type", "ec:p256", "--out", base)
        cls.key, cls.pub = base + ".pem", base + ".pub.pem"

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def skopeo_decrypt_archive(self, archive, name):
        out = self.path(name)
        sh("skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
           "--decryption-key", self.key, f"oci-archive:{archive}:v1", f"oci:{out}:v1")
        return layout_layers(out)

    def test_skopeo_archive_in_encrypted_archive_out_skopeo_decrypts(self):
        enc = self.path("enc.tar")
        # A bare PATH that is a file is an archive; a new archive DST needs the prefix.
        lc("encrypt", "-r", "jwe:" + self.pub, f"{self.plain_tar}:v1", f"oci-archive:{enc}:v1")
        m, files = archive_image(self, enc)
        self.assertTrue(all(l["mediaType"].endswith("+encrypted") for l in m["layers"]))
        self.assertFalse(any(d[7:] in n for d in self.plain_layers for n in files),
                         "plaintext layers must not be in the encrypted archive")
        # GNU tar reads what we wrote, with no complaint.
        listing = sh("tar", "-tvf", enc).stdout.decode()
        self.assertIn("index.json", listing)
        self.assertEqual(self.skopeo_decrypt_archive(enc, "enc-skopeo-dec"), self.plain_layers)
        # Our decrypt restores the same digests, archive to archive and to a layout.
        lc("decrypt", "--key", self.key, f"{enc}:v1", f"oci-archive:{self.path('enc-dec.tar')}:v1")
        m2, _ = archive_image(self, self.path("enc-dec.tar"))
        self.assertEqual([l["digest"] for l in m2["layers"]], self.plain_layers)
        lc("decrypt", "--key", self.key, f"oci-archive:{enc}:v1", f"oci:{self.path('enc-dec-dir')}:v1")
        self.assertEqual(layout_layers(self.path("enc-dec-dir")), self.plain_layers)
        self.assertEqual(leftovers(self.tmp), [])

    def test_we_decrypt_skopeos_archive_and_layerinfo(self):
        senc = self.path("skopeo-enc.tar")
        sh("skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
           "--encryption-key", "jwe:" + self.pub, f"oci:{self.plain}:v1", f"oci-archive:{senc}:v1")
        rows = json.loads(lc("layerinfo", "--json", f"oci-archive:{senc}:v1").stdout)
        self.assertEqual([r["encryption"] for r in rows], ["jwe", "jwe"])
        self.assertEqual(rows[0]["recipients"], ["jwe:ECDH-ES+A256KW"])
        self.assertEqual(rows[0]["cipher"], "AES_256_CTR_HMAC_SHA256")
        table = lc("layerinfo", senc).stdout.decode()  # bare PATH of a file
        self.assertIn("ENCRYPTION", table.splitlines()[0])
        out = self.path("skopeo-enc-dec.tar")
        lc("decrypt", "--key", self.key, f"{senc}:v1", f"oci-archive:{out}:v1")
        m, _ = archive_image(self, out)
        self.assertEqual([l["digest"] for l in m["layers"]], self.plain_layers)
        # skopeo reads our plain archive back too.
        back = self.path("skopeo-enc-dec-back")
        sh("skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
           f"oci-archive:{out}:v1", f"oci:{back}:v1")
        self.assertEqual(layout_layers(back), self.plain_layers)

    def test_tar_dialects_and_long_names(self):
        # GNU tar in its own and in POSIX format, and Python's tarfile with
        # every name longer than 100 bytes, so that the real names are only
        # in GNU 'L' or PAX 'path' headers.
        archives = {}
        for fmt in ("gnu", "posix", "ustar"):
            p = self.path(f"gnutar-{fmt}.tar")
            sh("tar", f"--format={fmt}", "-cf", p, "-C", self.plain, "oci-layout", "index.json", "blobs")
            archives["GNU tar " + fmt] = p
        for fmt, name in ((tarfile.GNU_FORMAT, "gnu"), (tarfile.PAX_FORMAT, "pax")):
            p = self.path(f"python-{name}.tar")
            gh = {"comment": "a global header"} if fmt == tarfile.PAX_FORMAT else None
            with tarfile.open(p, "w", format=fmt, pax_headers=gh) as t:
                for root, _, files in os.walk(self.plain):
                    for f in files:
                        full = os.path.join(root, f)
                        rel = os.path.relpath(full, self.plain)
                        t.add(full, arcname="./" * 20 + rel)
                # A global PAX header and a long non-blob member are skipped.
                extra = tarfile.TarInfo("docs/" + "x" * 150)
                extra.size = 5
                t.addfile(extra, io.BytesIO(b"hello"))
            with tarfile.open(p) as t:
                self.assertTrue(any(len(m.name) > 100 for m in t.getmembers()))
            archives["Python " + name] = p
        for what, p in archives.items():
            rows = json.loads(lc("layerinfo", "--json", f"oci-archive:{p}:v1").stdout)
            self.assertEqual([r["digest"] for r in rows], self.plain_layers, what)
            enc = p + ".enc"
            lc("encrypt", "-r", "jwe:" + self.pub, f"{p}:v1", f"oci-archive:{enc}:v1")
            self.assertEqual(self.skopeo_decrypt_archive(enc, os.path.basename(p) + "-dec"),
                             self.plain_layers, what)

    def test_in_place_archive(self):
        ip = self.path("inplace.tar")
        shutil.copy(self.plain_tar, ip)
        # A new tag in the same archive: v1 stays as it was, enc is added.
        lc("encrypt", "-r", "jwe:" + self.pub, f"{ip}:v1", f"{ip}:enc")
        m_plain, files = archive_image(self, ip, "v1")
        m_enc, _ = archive_image(self, ip, "enc")
        self.assertEqual([l["digest"] for l in m_plain["layers"]], self.plain_layers)
        self.assertTrue(all(l["mediaType"].endswith("+encrypted") for l in m_enc["layers"]))
        # The whole archive rewritten (no tags): the plaintext is gone.
        ip2 = self.path("inplace2.tar")
        shutil.copy(self.plain_tar, ip2)
        lc("encrypt", "-r", "jwe:" + self.pub, ip2, ip2)
        m, files = archive_image(self, ip2)
        self.assertTrue(all(l["mediaType"].endswith("+encrypted") for l in m["layers"]))
        self.assertFalse(any(d[7:] in n for d in self.plain_layers for n in files))
        self.assertEqual(self.skopeo_decrypt_archive(ip2, "inplace2-dec"), self.plain_layers)
        # recipients set in place on the archive, and -o to a new archive.
        base = self.path("second")
        lc("keygen", "--type", "rsa:2048", "--out", base)
        lc("recipients", "add", "--key", self.key, "-r", "jwe:" + base + ".pub.pem", ip2)
        rows = json.loads(lc("layerinfo", "--json", ip2).stdout)
        self.assertEqual(rows[0]["recipients"], ["jwe:ECDH-ES+A256KW", "jwe:RSA-OAEP"])
        self.assertEqual(json.loads(lc("layerinfo", "--json", ip2).stdout)[0]["digest"],
                         m["layers"][0]["digest"])
        out = self.path("inplace2-set.tar")
        lc("recipients", "set", "--key", self.key, "-r", "jwe:" + base + ".pub.pem",
           "-o", f"oci-archive:{out}", ip2)
        rows = json.loads(lc("layerinfo", "--json", out).stdout)
        self.assertEqual(rows[0]["recipients"], ["jwe:RSA-OAEP"])
        with self.assertRaises(subprocess.CalledProcessError):
            self.skopeo_decrypt_archive(out, "inplace2-set-old-key")
        self.assertEqual(leftovers(self.tmp), [])

    def test_truncated_or_corrupt_archive(self):
        enc = self.path("good.tar")
        lc("encrypt", "-r", "jwe:" + self.pub, f"{self.plain_tar}:v1", f"oci-archive:{enc}:v1")
        data = pathlib.Path(enc).read_bytes()
        with tarfile.open(enc) as t:
            members = {m.name: m for m in t.getmembers()}
        big = max((m for m in members.values() if m.isfile()), key=lambda m: m.size)
        header_at = big.offset
        cases = {
            "inside a blob": (data[: big.offset_data + big.size // 2], "truncated"),
            "without the end blocks": (data[: len(data) - 1024], "truncated"),
            "bad header checksum": (data[:header_at + 3] + bytes([data[header_at + 3] ^ 0x55]) +
                                    data[header_at + 4:], "corrupt tar header"),
            "changed blob byte": (data[:big.offset_data + 10] + bytes([data[big.offset_data + 10] ^ 1]) +
                                  data[big.offset_data + 11:], "does not match"),
            "not a tar": (b"\x1f\x8b" + os.urandom(5000), "not a tar archive"),
        }
        for what, (content, needle) in cases.items():
            d = tempfile.mkdtemp(dir=self.tmp)
            bad = os.path.join(d, "bad.tar")
            with open(bad, "wb") as f:
                f.write(content)
            for args, dst in ((["decrypt", "--key", self.key], os.path.join(d, "out.tar")),
                              (["layerinfo"], None)):
                cmd = [*args, f"oci-archive:{bad}:v1"] + ([f"oci-archive:{dst}:v1"] if dst else [])
                r = lc(*cmd, check=False)
                if what == "changed blob byte" and dst is None:
                    self.assertEqual(r.returncode, 0)  # layerinfo reads no layer data
                    continue
                err = r.stderr.decode()
                self.assertNotEqual(r.returncode, 0, what)
                self.assertEqual(len(err.strip().splitlines()), 1, (what, err))
                self.assertIn(needle, err, what)
            self.assertEqual(sorted(os.listdir(d)), ["bad.tar"], what)  # nothing left behind

    def test_kill_9_leaves_old_archive_and_next_run_cleans_up(self):
        big = self.path("big")
        shutil.copytree(self.plain, big)
        # A layer large enough that the kill lands mid-run.
        import skopeo_interop_test as s
        payload = s.make_tar([("big.bin", os.urandom(40_000_000))])
        digest = s.write_blob(big, payload)
        with open(os.path.join(big, "index.json")) as f:
            idx = json.load(f)
        mdesc = idx["manifests"][0]
        with open(os.path.join(big, "blobs", "sha256", mdesc["digest"][7:]), "rb") as f:
            man = json.load(f)
        man["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                              "digest": digest, "size": len(payload)})
        with open(os.path.join(big, "blobs", "sha256", man["config"]["digest"][7:]), "rb") as f:
            cfg = json.load(f)
        cfg["rootfs"]["diff_ids"].append(digest)
        cfg_bytes = ocitest.go_json(cfg)
        man["config"] = {**man["config"], "digest": s.write_blob(big, cfg_bytes), "size": len(cfg_bytes)}
        mb = ocitest.go_json(man)
        idx["manifests"][0] = {**mdesc, "digest": s.write_blob(big, mb), "size": len(mb)}
        with open(os.path.join(big, "index.json"), "w") as f:
            json.dump(idx, f)
        d = tempfile.mkdtemp(dir=self.tmp)
        src = os.path.join(d, "big.tar")
        sh("tar", "-cf", src, "-C", big, "oci-layout", "index.json", "blobs")
        before = pathlib.Path(src).read_bytes()
        p = subprocess.Popen([LAYERCRYPT, "encrypt", "-r", "jwe:" + self.pub, src, src],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill it once the new archive has been started.
        for _ in range(2000):
            if leftovers(d):
                break
            threading.Event().wait(0.005)
        p.kill()
        p.wait()
        self.assertEqual(pathlib.Path(src).read_bytes(), before, "SRC was changed by a killed in-place run")
        stale = leftovers(d)
        # Whether or not the kill left a temporary, plant one as a killed run would.
        planted = os.path.join(d, ".big.tar.0123456789abcdef.tmp")
        pathlib.Path(planted).write_bytes(b"partial")
        other = os.path.join(d, "unrelated.tmp")
        pathlib.Path(other).write_bytes(b"not ours")
        lc("encrypt", "-r", "jwe:" + self.pub, src, src)
        print(f"temporary archive left by kill -9: {stale}", file=sys.stderr)
        self.assertEqual(leftovers(d), ["unrelated.tmp"])
        m, _ = archive_image(self, src)
        self.assertTrue(all(l["mediaType"].endswith("+encrypted") for l in m["layers"]))

    def test_concurrent_writers_take_turns(self):
        # Two runs add different tags to one layout at the same time: with the
        # writer lock both tags survive (without it the last index.json wins).
        dst = self.path("shared")
        shutil.copytree(self.plain, dst)
        procs = [subprocess.Popen([LAYERCRYPT, "encrypt", "-r", "jwe:" + self.pub,
                                   f"{self.plain}:v1", f"{dst}:t{i}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                 for i in range(4)]
        for p in procs:
            _, err = p.communicate()
            self.assertEqual(p.returncode, 0, err)
        with open(os.path.join(dst, "index.json")) as f:
            names = {e.get("annotations", {}).get(REF) for e in json.load(f)["manifests"]}
        self.assertEqual(names, {"v1", "t0", "t1", "t2", "t3"})
        # A stale temporary blob from a killed run is removed by the next writer.
        stale = os.path.join(dst, "blobs", "sha256", ".blob-0123456789abcdef.tmp")
        pathlib.Path(stale).write_bytes(b"x" * 1000)
        lc("encrypt", "-r", "jwe:" + self.pub, f"{self.plain}:v1", f"{dst}:t4")
        self.assertFalse(os.path.exists(stale))
        self.assertEqual(leftovers(os.path.join(dst, "blobs", "sha256")), [])


if __name__ == "__main__":
    LAYERCRYPT = sys.argv[1]
    unittest.main(argv=sys.argv[:1], verbosity=2)
