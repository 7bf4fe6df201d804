#!/usr/bin/python3
"""The `layercrypt` CLI against real peers: what it encrypts, Debian's skopeo
(Go ocicrypt) and our decoder decrypt; what skopeo encrypts, it decrypts.

Usage: cli_test.py LAYERCRYPT DECODER
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocitest  # noqa: E402
from skopeo_interop_test import make_plain_layout, make_tar, write_blob  # noqa: E402

LAYERCRYPT = None
DECODER = None


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw)


def lc(*args, check=True):
    r = subprocess.run([LAYERCRYPT, *args], capture_output=True)
    if check and r.returncode != 0:
        raise AssertionError(f"layercrypt {' '.join(args)} failed: {r.stderr.decode()}")
    return r


def layer_digests(layout, tag="v1"):
    with open(os.path.join(layout, "index.json")) as f:
        idx = json.load(f)
    for e in idx["manifests"]:
        if e.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            with open(os.path.join(layout, "blobs", "sha256", e["digest"][7:]), "rb") as f:
                m = json.load(f)
            return [(l["mediaType"], l["digest"]) for l in m["layers"]], m
    raise AssertionError(f"no tag {tag} in {layout}")


def check_layout_complete(test, layout):
    """Every blob index.json reaches exists and matches its digest."""
    with open(os.path.join(layout, "index.json")) as f:
        idx = json.load(f)

    def blob(desc):
        p = os.path.join(layout, "blobs", "sha256", desc["digest"][7:])
        with open(p, "rb") as f:
            data = f.read()
        test.assertEqual(ocitest.sha256_digest(data), desc["digest"], p)
        test.assertEqual(len(data), desc["size"], p)
        return data

    def visit(desc):
        data = blob(desc)
        j = json.loads(data)
        for c in j.get("manifests", []):
            visit(c)
        if "config" in j:
            blob(j["config"])
        for l in j.get("layers", []):
            blob(l)

    for e in idx["manifests"]:
        visit(e)


class Cli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("skopeo") is None:
            raise RuntimeError("skopeo not found: apt-get install skopeo (./tools/run.sh test installs it)")
        cls.tmp = tempfile.mkdtemp(prefix="layercrypt-cli-")
        cls.plain = os.path.join(cls.tmp, "plain")
        make_plain_layout(cls.plain)
        cls.plain_layers, _ = layer_digests(cls.plain)
        cls.keys = {}
        for t in ("rsa:2048", "ec:p256", "ec:p384"):
            base = os.path.join(cls.tmp, t.replace(":", ""))
            lc("keygen", "--type", t, "--out", base)
            cls.keys[t] = (base + ".pem", base + ".pub.pem")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def skopeo_decrypt(self, src, key, name):
        dst = os.path.join(self.tmp, name)
        sh("skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
           "--decryption-key", key, f"oci:{src}:v1", f"oci:{dst}:v1")
        return dst

    def test_keygen_files(self):
        priv, pub = self.keys["ec:p256"]
        self.assertEqual(os.stat(priv).st_mode & 0o777, 0o600)
        with open(priv) as f:
            self.assertIn("BEGIN PRIVATE KEY", f.read())
        with open(pub) as f:
            self.assertIn("BEGIN PUBLIC KEY", f.read())
        r = lc("keygen", "--type", "ec:p256", "--out", priv[:-4], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--force", r.stderr.decode())

    def test_skopeo_decrypts_ours_two_recipients(self):
        enc = os.path.join(self.tmp, "enc2")
        lc("encrypt", "--recipient", "jwe:" + self.keys["rsa:2048"][1],
           "--recipient", "jwe:" + self.keys["ec:p384"][1], f"{self.plain}:v1", f"{enc}:v1")
        check_layout_complete(self, enc)
        layers, _ = layer_digests(enc)
        self.assertTrue(all(mt.endswith("+encrypted") for mt, _ in layers))
        for i, k in enumerate(("rsa:2048", "ec:p384")):
            out = self.skopeo_decrypt(enc, self.keys[k][0], f"enc2-dec-{i}")
            got, _ = layer_digests(out)
            self.assertEqual([d for _, d in got], [d for _, d in self.plain_layers], k)
        # A key that is not a recipient opens nothing.
        with self.assertRaises(subprocess.CalledProcessError):
            self.skopeo_decrypt(enc, self.keys["ec:p256"][0], "enc2-wrong")

    def test_decoder_and_our_decrypt_open_ours(self):
        enc = os.path.join(self.tmp, "enc-ec")
        lc("encrypt", "-r", "jwe:" + self.keys["ec:p256"][1], f"{self.plain}:v1", f"{enc}:v1")
        layout = ocitest.Layout(enc)
        kd = tempfile.mkdtemp(dir=self.tmp)
        shutil.copy(self.keys["ec:p256"][0], kd)
        for desc, (mt, plain_digest) in zip(layout.layers(), self.plain_layers):
            run = ocitest.run_decoder(DECODER, layout.blob(desc["digest"]),
                                      ocitest.make_payload(desc),
                                      args=["--decryption-keys-path", kd],
                                      media_type=desc["mediaType"])
            self.assertEqual(run.rc, 0, run)
            self.assertEqual(ocitest.sha256_digest(run.out), plain_digest)
        dec = os.path.join(self.tmp, "enc-ec-dec")
        lc("decrypt", "--key", self.keys["ec:p256"][0], f"{enc}:v1", f"{dec}:v1")
        got, m = layer_digests(dec)
        self.assertEqual(got, self.plain_layers)
        for l in m["layers"]:
            self.assertFalse(any(k.startswith("org.opencontainers.image.enc.")
                                 for k in l.get("annotations", {})))
        r = lc("decrypt", "--key", self.keys["rsa:2048"][0], f"{enc}:v1",
               os.path.join(self.tmp, "wrongkey") + ":v1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "wrongkey", "index.json")))

    def test_we_decrypt_skopeos(self):
        enc = os.path.join(self.tmp, "skopeo-enc")
        sh("skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
           "--encryption-key", "jwe:" + self.keys["rsa:2048"][1], f"oci:{self.plain}:v1", f"oci:{enc}:v1")
        dec = os.path.join(self.tmp, "skopeo-enc-dec")
        lc("decrypt", "--key", self.keys["rsa:2048"][0], f"{enc}:v1", f"{dec}:v1")
        got, _ = layer_digests(dec)
        self.assertEqual([d for _, d in got], [d for _, d in self.plain_layers])
        check_layout_complete(self, dec)

    def test_selected_layer_and_layerinfo(self):
        enc = os.path.join(self.tmp, "top")
        lc("encrypt", "-r", "jwe:" + self.keys["rsa:2048"][1], "--layer", "-1",
           f"{self.plain}:v1", f"{enc}:v1")
        rows = json.loads(lc("layerinfo", "--json", f"{enc}:v1").stdout)
        self.assertEqual([r["encryption"] for r in rows], ["", "jwe"])
        self.assertEqual(rows[1]["cipher"], "AES_256_CTR_HMAC_SHA256")
        self.assertEqual(rows[1]["recipients"], ["jwe:RSA-OAEP"])
        self.assertEqual(rows[0]["digest"], self.plain_layers[0][1])
        plain_rows = json.loads(lc("layerinfo", "--json", f"{self.plain}:v1").stdout)
        self.assertEqual([r["encryption"] for r in plain_rows], ["", ""])
        table = lc("layerinfo", f"{enc}:v1").stdout.decode()
        self.assertIn("ENCRYPTION", table.splitlines()[0])
        out = self.skopeo_decrypt(enc, self.keys["rsa:2048"][0], "top-dec")
        got, _ = layer_digests(out)
        self.assertEqual([d for _, d in got], [d for _, d in self.plain_layers])
        # Encrypting an encrypted layer again is refused.
        r = lc("encrypt", "-r", "jwe:" + self.keys["rsa:2048"][1], f"{enc}:v1",
               os.path.join(self.tmp, "again") + ":v1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("already encrypted", r.stderr.decode())

    def test_recipients_add_and_set_keep_the_blobs(self):
        enc = os.path.join(self.tmp, "rewrap")
        lc("encrypt", "-r", "jwe:" + self.keys["rsa:2048"][1], f"{self.plain}:v1", f"{enc}:v1")
        before, _ = layer_digests(enc)
        # add: the EC key gains access, the RSA key keeps it.
        r = lc("recipients", "add", "--key", self.keys["rsa:2048"][0],
               "--recipient", "jwe:" + self.keys["ec:p256"][1], f"{enc}:v1")
        after, m = layer_digests(enc)
        self.assertEqual(after, before)  # same blobs: nothing re-encrypted
        for l in m["layers"]:
            self.assertEqual(l["annotations"]["org.opencontainers.image.enc.keys.jwe"].count(","), 1)
        check_layout_complete(self, enc)
        for k in ("ec:p256", "rsa:2048"):
            out = self.skopeo_decrypt(enc, self.keys[k][0], "rewrap-add-" + k.replace(":", ""))
            got, _ = layer_digests(out)
            self.assertEqual([d for _, d in got], [d for _, d in self.plain_layers], k)
        # set: only P-384 from now on; the RSA key no longer opens the image.
        lc("recipients", "set", "--key", self.keys["ec:p256"][0],
           "--recipient", "jwe:" + self.keys["ec:p384"][1], f"{enc}:v1")
        after, _ = layer_digests(enc)
        self.assertEqual(after, before)
        out = self.skopeo_decrypt(enc, self.keys["ec:p384"][0], "rewrap-set")
        got, _ = layer_digests(out)
        self.assertEqual([d for _, d in got], [d for _, d in self.plain_layers])
        for k in ("rsa:2048", "ec:p256"):
            with self.assertRaises(subprocess.CalledProcessError):
                self.skopeo_decrypt(enc, self.keys[k][0], "rewrap-removed-" + k.replace(":", ""))
        # A key that opens nothing changes nothing.
        with open(os.path.join(enc, "index.json"), "rb") as f:
            idx = f.read()
        r = lc("recipients", "add", "--key", self.keys["rsa:2048"][0],
               "--recipient", "jwe:" + self.keys["rsa:2048"][1], f"{enc}:v1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, r.stderr)
        with open(os.path.join(enc, "index.json"), "rb") as f:
            self.assertEqual(f.read(), idx)

    def test_two_platform_index(self):
        # An index with linux/amd64 and linux/arm64 manifests; only arm64 is
        # encrypted; skopeo --all decrypts the whole index back.
        src = os.path.join(self.tmp, "multi")
        os.makedirs(os.path.join(src, "blobs", "sha256"))
        entries, plain = [], {}
        for arch in ("amd64", "arm64"):
            tar = make_tar([(f"etc/{arch}", (arch * 5000).encode())])
            layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar",
                     "digest": write_blob(src, tar), "size": len(tar)}
            config = ocitest.go_json({"architecture": arch, "os": "linux",
                                      "rootfs": {"type": "layers", "diff_ids": [layer["digest"]]}})
            manifest = ocitest.go_json({
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": write_blob(src, config), "size": len(config)},
                "layers": [layer]})
            entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": write_blob(src, manifest), "size": len(manifest),
                            "platform": {"architecture": arch, "os": "linux"}})
            plain[arch] = layer["digest"]
        index = ocitest.go_json({"schemaVersion": 2,
                                 "mediaType": "application/vnd.oci.image.index.v1+json",
                                 "manifests": entries})
        ocitest.write_index(src, index, "application/vnd.oci.image.index.v1+json")
        enc = os.path.join(self.tmp, "multi-enc")
        lc("encrypt", "-r", "jwe:" + self.keys["ec:p256"][1], "--platform", "linux/arm64",
           f"{src}:v1", f"{enc}:v1")
        check_layout_complete(self, enc)
        rows = json.loads(lc("layerinfo", "--json", f"{enc}:v1").stdout)
        by_platform = {r["platform"]: r for r in rows}
        self.assertEqual(by_platform["linux/amd64"]["encryption"], "")
        self.assertEqual(by_platform["linux/amd64"]["digest"], plain["amd64"])
        self.assertEqual(by_platform["linux/arm64"]["encryption"], "jwe")
        dec = os.path.join(self.tmp, "multi-dec")
        sh("skopeo", "--insecure-policy", "copy", "--all", "--dest-oci-accept-uncompressed-layers",
           "--decryption-key", self.keys["ec:p256"][0], f"oci:{enc}:v1", f"oci:{dec}:v1")
        rows = json.loads(lc("layerinfo", "--json", f"{dec}:v1").stdout)
        self.assertEqual({r["platform"]: r["digest"] for r in rows},
                         {"linux/" + a: d for a, d in plain.items()})
        self.assertTrue(all(r["encryption"] == "" for r in rows))

    def test_docker_schema2_source_becomes_oci(self):
        d2 = os.path.join(self.tmp, "schema2")
        sh("skopeo", "--insecure-policy", "copy", "--format", "v2s2",
           f"oci:{self.plain}:v1", f"oci:{d2}:v1")
        with open(os.path.join(d2, "index.json")) as f:
            self.assertEqual(json.load(f)["manifests"][0]["mediaType"],
                             "application/vnd.docker.distribution.manifest.v2+json")
        enc = os.path.join(self.tmp, "schema2-enc")
        lc("encrypt", "-r", "jwe:" + self.keys["rsa:2048"][1], f"{d2}:v1", f"{enc}:v1")
        layers, m = layer_digests(enc)
        self.assertEqual(m["mediaType"], "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual(m["config"]["mediaType"], "application/vnd.oci.image.config.v1+json")
        self.assertTrue(all(mt.startswith("application/vnd.oci.image.layer.v1.tar")
                            and mt.endswith("+encrypted") for mt, _ in layers))
        out = self.skopeo_decrypt(enc, self.keys["rsa:2048"][0], "schema2-dec")
        got, _ = layer_digests(out)
        self.assertEqual([d for _, d in got], [d for _, d in layer_digests(d2)[0]])

    def test_pkcs7_recipients(self):
        if shutil.which("openssl") is None:
            self.fail("openssl not found: apt-get install openssl")
        key, cert = os.path.join(self.tmp, "p7.key.pem"), os.path.join(self.tmp, "p7.cert.pem")
        sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
           "-out", cert, "-days", "2", "-subj", "/CN=layercrypt-pkcs7-recipient")
        enc = os.path.join(self.tmp, "p7")
        lc("encrypt", "-r", "pkcs7:" + cert, "-r", "jwe:" + self.keys["ec:p256"][1],
           f"{self.plain}:v1", f"{enc}:v1")
        rows = json.loads(lc("layerinfo", "--json", f"{enc}:v1").stdout)
        self.assertTrue(all(r["encryption"] == "jwe,pkcs7" for r in rows), rows)
        # skopeo (smallstep/pkcs7 inside) opens it with the key and certificate.
        dst = os.path.join(self.tmp, "p7-skopeo")
        sh("skopeo", "--insecure-policy", "copy", "--dest-oci-accept-uncompressed-layers",
           "--decryption-key", key, "--decryption-key", cert, f"oci:{enc}:v1", f"oci:{dst}:v1")
        got, _ = layer_digests(dst)
        self.assertEqual([d for _, d in got], [d for _, d in self.plain_layers])
        # And so do we; the JWE recipient still works too.
        dec = os.path.join(self.tmp, "p7-dec")
        lc("decrypt", "--key", key, "--key", cert, f"{enc}:v1", f"{dec}:v1")
        self.assertEqual(layer_digests(dec)[0], self.plain_layers)
        self.skopeo_decrypt(enc, self.keys["ec:p256"][0], "p7-jwe")
        # Rewrap to pkcs7 only: the JWE recipient loses access.
        lc("recipients", "set", "--key", key, "--key", cert, "-r", "pkcs7:" + cert, f"{enc}:v1")
        rows = json.loads(lc("layerinfo", "--json", f"{enc}:v1").stdout)
        self.assertTrue(all(r["encryption"] == "pkcs7" for r in rows), rows)
        with self.assertRaises(subprocess.CalledProcessError):
            self.skopeo_decrypt(enc, self.keys["ec:p256"][0], "p7-jwe-removed")

    def test_bad_recipients_and_inputs(self):
        cases = [
            (["-r", "jwe:" + self.keys["rsa:2048"][0]], "private key"),
            (["-r", "jwe:" + os.path.join(self.tmp, "missing.pub.pem")], "missing.pub.pem"),
            (["-r", "pgp:someone@example.com"], "pgp"),
        ]
        for args, needle in cases:
            r = lc("encrypt", *args, f"{self.plain}:v1", os.path.join(self.tmp, "bad") + ":v1",
                   check=False)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(needle, r.stderr.decode(), args)
            self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, r.stderr)
        # A corrupted blob in SRC is detected by digest and leaves no DST index.
        broken = os.path.join(self.tmp, "broken")
        shutil.copytree(self.plain, broken)
        p = os.path.join(broken, "blobs", "sha256", self.plain_layers[1][1][7:])
        with open(p, "r+b") as f:
            f.seek(100)
            b = f.read(1)
            f.seek(100)
            f.write(bytes([b[0] ^ 1]))
        dst = os.path.join(self.tmp, "broken-enc")
        r = lc("encrypt", "-r", "jwe:" + self.keys["ec:p256"][1], f"{broken}:v1", f"{dst}:v1",
               check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("does not match its digest", r.stderr.decode())
        self.assertFalse(os.path.exists(os.path.join(dst, "index.json")))

    def test_layers_at_once_give_the_same_image(self):
        # Decryption is deterministic: one layer at a time and several at once
        # must give byte-identical manifests.
        enc = os.path.join(self.tmp, "jobs-enc")
        r = lc("encrypt", "-j", "3", "--stats", "-r", "jwe:" + self.keys["ec:p256"][1],
               f"{self.plain}:v1", f"{enc}:v1")
        check_layout_complete(self, enc)
        stats = r.stderr.decode()  # one block per layer, stages with their busy time
        for stage in ("sha256-in", "aes-ctr", "hmac", "sha256-out", "write"):
            self.assertEqual(stats.count(stage), len(self.plain_layers), stats)
        manifests = []
        for jobs in ("1", "4"):
            dec = os.path.join(self.tmp, "jobs-dec-" + jobs)
            lc("decrypt", "-j", jobs, "--key", self.keys["ec:p256"][0], f"{enc}:v1", f"{dec}:v1")
            got, m = layer_digests(dec)
            self.assertEqual(got, self.plain_layers)
            with open(os.path.join(dec, "index.json"), "rb") as f:
                manifests.append(f.read())
        self.assertEqual(manifests[0], manifests[1])
        # A failing layer (a corrupted blob) fails the run and writes no index.
        broken = os.path.join(self.tmp, "jobs-broken")
        shutil.copytree(enc, broken)
        layers, _ = layer_digests(broken)
        p = os.path.join(broken, "blobs", "sha256", layers[0][1][7:])
        with open(p, "r+b") as f:
            f.seek(10)
            b = f.read(1)
            f.seek(10)
            f.write(bytes([b[0] ^ 1]))
        r = lc("decrypt", "-j", "4", "--key", self.keys["ec:p256"][0], f"{broken}:v1",
               os.path.join(self.tmp, "jobs-broken-dec") + ":v1", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(len(r.stderr.decode().strip().splitlines()), 1, r.stderr)
        self.assertIn("layer 0", r.stderr.decode())
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "jobs-broken-dec", "index.json")))

    def test_kill_9_never_leaves_a_damaged_image(self):
        # A bigger image so that kill -9 lands in the middle of the work.
        src = os.path.join(self.tmp, "big")
        tars = [make_tar([(f"data{i}.bin", os.urandom(12_000_000))]) for i in range(3)]
        ocitest.write_image(src, [(t, "application/vnd.oci.image.layer.v1.tar", t) for t in tars])
        t0 = time.monotonic()
        lc("encrypt", "-r", "jwe:" + self.keys["ec:p256"][1], f"{src}:v1",
           os.path.join(self.tmp, "big-timing") + ":v1")
        full = time.monotonic() - t0
        rng = random.Random(7)
        outcomes = {"absent": 0, "complete": 0}
        for n in range(20):
            # Half the runs write a new DST, half encrypt in place (SRC == DST, new tag).
            in_place = n % 2 == 1
            dst = src if in_place else os.path.join(self.tmp, f"kill-{n}")
            tag = f"enc{n}"
            with open(os.path.join(src, "index.json"), "rb") as f:
                src_index = f.read()
            p = subprocess.Popen([LAYERCRYPT, "encrypt", "-r", "jwe:" + self.keys["ec:p256"][1],
                                  f"{src}:v1", f"{dst}:{tag}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0, full * 2.5))
            p.send_signal(signal.SIGKILL)
            rc = p.wait()
            # SRC is intact: its image still verifies.
            check_layout_complete(self, src)
            with open(os.path.join(src, "index.json"), "rb") as f:
                now = f.read()
            if not in_place:
                self.assertEqual(now, src_index)
            else:  # the old entries are all still there, unchanged
                before = json.loads(src_index)["manifests"]
                after = json.loads(now)["manifests"]
                self.assertEqual(after[:len(before)], before)
            idx_path = os.path.join(dst, "index.json")
            if not os.path.exists(idx_path):
                outcomes["absent"] += 1
                self.assertEqual(rc, -signal.SIGKILL, "the encryptor failed on its own")
                continue
            with open(idx_path) as f:
                names = [e.get("annotations", {}).get("org.opencontainers.image.ref.name")
                         for e in json.load(f)["manifests"]]
            check_layout_complete(self, dst)
            if tag in names:
                outcomes["complete"] += 1
                got, _ = layer_digests(dst, tag)
                self.assertTrue(all(mt.endswith("+encrypted") for mt, _ in got))
            else:
                outcomes["absent"] += 1
        # Killed runs may leave temporary blobs (unreferenced, harmless); the
        # next writer of the layout removes them under its lock.
        blobs = os.path.join(src, "blobs", "sha256")
        stale = [n for n in os.listdir(blobs) if n.endswith(".tmp")]
        print(f"kill -9 outcomes: {outcomes}; temporary blobs left in SRC: {len(stale)}",
              file=sys.stderr)
        self.assertEqual(sum(outcomes.values()), 20)
        self.assertGreater(outcomes["absent"], 0, "no kill landed before the index was written")
        lc("encrypt", "-r", "jwe:" + self.keys["ec:p256"][1], f"{src}:v1", f"{src}:after")
        self.assertEqual([n for n in os.listdir(blobs) if n.endswith(".tmp")], [])
        self.assertEqual([n for n in os.listdir(src) if n.endswith(".tmp")], [])
        check_layout_complete(self, src)


if __name__ == "__main__":
    LAYERCRYPT, DECODER = sys.argv[1], sys.argv[2]
    unittest.main(argv=sys.argv[:1], verbosity=2)
