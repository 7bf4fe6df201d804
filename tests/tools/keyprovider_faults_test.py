#!/usr/bin/python3
"""Key providers that misbehave, through the `layercrypt` CLI and
layercrypt-decoder run as containerd runs it: a provider that returns the
wrong key (the MAC fails, nothing is released), refuses, prints garbage,
cannot be reached, hangs; a config that names no such provider, a malformed
config; and the reference provider layercrypt-keyprovider in cmd mode as
the good case. Every failure is exit status 1 with one line naming the
provider and the cause; other recipients are still tried.

Usage: keyprovider_faults_test.py LAYERCRYPT DECODER KEYPROVIDER [unittest args]
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ocitest  # noqa: E402
from skopeo_interop_test import make_tar  # noqa: E402

LAYERCRYPT = DECODER = KEYPROVIDER = None
PYTHON = "/usr/bin/python3"
TAR = "application/vnd.oci.image.layer.v1.tar"

# Returns well-formed private options for a key of its own: they parse, and
# the layer's MAC then fails.
LIAR = r'''
import base64, json, os, sys
r = json.load(sys.stdin)
if r["op"] == "keywrap":
    print(json.dumps({"keywrapresults": {"annotation": list(b"liar")}}))
else:
    opts = {"symkey": base64.b64encode(os.urandom(32)).decode(), "digest": "",
            "cipheroptions": {"nonce": base64.b64encode(os.urandom(16)).decode()}}
    print(json.dumps({"keyunwrapresults": {"optsdata": list(json.dumps(opts).encode())}}))
'''
REFUSER = 'import sys\nsys.stdin.read()\nsys.exit("release refused: node not attested")\n'
GARBAGE = 'import sys\nsys.stdin.read()\nprint("<html>502 Bad Gateway</html>")\n'
HANG = 'import sys, time\nsys.stdin.read()\ntime.sleep(600)\n'


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="lc-kp-faults-")
        d = cls.dir
        # The reference provider, cmd mode, releasing to the local caller.
        subprocess.run([KEYPROVIDER, "keygen-kek", f"{d}/prod.kek"], check=True,
                       capture_output=True)
        cls.write(f"{d}/policy.json", json.dumps({"default-key": "prod", "keys": {
            "prod": {"kek": {"file": "prod.kek"}, "release-to": ["local"]}}}))
        providers = {"ref": {"cmd": {"path": KEYPROVIDER,
                                     "args": ["cmd", "--name", "ref", "--policy",
                                              f"{d}/policy.json",
                                              "--log-file", f"{d}/decisions.log"]}}}
        for name, script in (("liar", LIAR), ("refuser", REFUSER), ("garbage", GARBAGE),
                             ("hang", HANG)):
            path = f"{d}/{name}.py"
            cls.write(path, f"#!{PYTHON}\n{script}")
            os.chmod(path, 0o755)
            providers[name] = {"cmd": {"path": path}}
        providers["down"] = {"grpc": "127.0.0.1:1"}
        cls.good = f"{d}/good.json"
        cls.write(cls.good, json.dumps({"key-providers": {"ref": providers["ref"]}}))
        # Every other provider under the name "ref", to replay a layer wrapped
        # by the reference provider against each of them.
        cls.as_ref = {}
        for name, p in providers.items():
            path = f"{d}/as-{name}.json"
            cls.write(path, json.dumps({"key-providers": {"ref": p}}))
            cls.as_ref[name] = path
        subprocess.run(["openssl", "genrsa", "-out", f"{d}/rsa.pem", "2048"], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", f"{d}/rsa.pem", "-pubout", "-out",
                        f"{d}/rsa.pub.pem"], check=True, capture_output=True)
        cls.tar = make_tar([("etc/app.conf", os.urandom(40_000))])
        ocitest.write_image(f"{d}/plain", [(cls.tar, TAR, cls.tar)])
        cls.lc_ok("--keyprovider-config", cls.good, "encrypt", "--recipient", "provider:ref",
                  f"{d}/plain:v1", f"{d}/enc:v1")
        cls.lc_ok("--keyprovider-config", cls.good, "encrypt", "--recipient", "provider:ref",
                  "--recipient", f"jwe:{d}/rsa.pub.pem", f"{d}/plain:v1", f"{d}/enc2:v1")
        cls.desc = next(ocitest.Layout(f"{d}/enc").layers())
        cls.blob = ocitest.Layout(f"{d}/enc").blob(cls.desc["digest"])
        cls.desc2 = next(ocitest.Layout(f"{d}/enc2").layers())
        cls.blob2 = ocitest.Layout(f"{d}/enc2").blob(cls.desc2["digest"])
        os.makedirs(f"{d}/empty-keys")
        os.makedirs(f"{d}/node-keys")
        shutil.copy(f"{d}/rsa.pem", f"{d}/node-keys/rsa.pem")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @staticmethod
    def write(path, text):
        with open(path, "w") as f:
            f.write(text)

    @staticmethod
    def lc(*args, env=None, timeout=120):
        return subprocess.run([LAYERCRYPT, *args], capture_output=True, text=True,
                              env=dict(os.environ, **(env or {})), timeout=timeout)

    @classmethod
    def lc_ok(cls, *args):
        r = cls.lc(*args)
        if r.returncode != 0:
            raise AssertionError(f"layercrypt {' '.join(args)}: {r.stderr.strip()}")
        return r

    def decode(self, config, desc=None, blob=None, keys="empty-keys", args=()):
        """The decoder as containerd's CRI runs it: the descriptor in the
        payload with no keys, the node's keys directory, the provider config
        from the processor's env."""
        desc, blob = desc or self.desc, blob or self.blob
        return ocitest.run_decoder(
            DECODER, blob, ocitest.make_payload(desc),
            ["--decryption-keys-path", f"{self.dir}/{keys}", *args],
            media_type=desc["mediaType"],
            env_extra={"OCICRYPT_KEYPROVIDER_CONFIG": config} if config else None)

    def one_line(self, run, *needles):
        lines = run.err_lines if hasattr(run, "err_lines") else \
            [l for l in run.stderr.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, lines)
        for n in needles:
            self.assertIn(n, lines[0])
        return lines[0]

    def test_reference_provider_releases(self):
        run = self.decode(self.good)
        self.assertEqual(run.rc, 0, run)
        self.assertEqual(run.out, self.tar)
        out = f"{self.dir}/dec-ref"
        self.lc_ok("--keyprovider-config", self.good, "decrypt", "--key", "provider:ref",
                   f"{self.dir}/enc:v1", f"{out}:v1")
        layer = next(ocitest.Layout(out).layers())
        self.assertEqual(ocitest.Layout(out).blob(layer["digest"]), self.tar)
        with open(f"{self.dir}/decisions.log") as f:
            log = f.read()
        self.assertIn("keyunwrap", log)
        self.assertIn("allowed", log)

    def test_wrong_key_releases_nothing(self):
        run = self.decode(self.as_ref["liar"])
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(run.out, b"", "plaintext released although the MAC failed")
        self.one_line(run, "HMAC")
        out = f"{self.dir}/dec-liar"
        r = self.lc("--keyprovider-config", self.as_ref["liar"], "decrypt", "--key",
                    "provider:ref", f"{self.dir}/enc:v1", f"{out}:v1")
        self.assertEqual(r.returncode, 1)
        self.one_line(r, "HMAC")
        self.assertFalse(os.path.exists(os.path.join(out, "index.json")))

    def test_refusal_names_provider_and_cause(self):
        run = self.decode(self.as_ref["refuser"])
        self.assertEqual(run.rc, 1, run)
        self.assertEqual(run.out, b"")
        self.one_line(run, "key provider ref (cmd ", "exit status 1",
                      "release refused: node not attested")
        # Another recipient still opens it: the node's key file.
        ok = self.decode(self.as_ref["refuser"], self.desc2, self.blob2, keys="node-keys")
        self.assertEqual(ok.rc, 0, ok)
        self.assertEqual(ok.out, self.tar)

    def test_garbage_reply(self):
        run = self.decode(self.as_ref["garbage"])
        self.assertEqual(run.rc, 1, run)
        self.one_line(run, "key provider ref", "invalid reply")

    def test_endpoint_down_fails_fast(self):
        t0 = time.monotonic()
        run = self.decode(self.as_ref["down"])
        self.assertLess(time.monotonic() - t0, 20)
        self.assertEqual(run.rc, 1, run)
        self.one_line(run, "key provider ref (grpc 127.0.0.1:1)")

    def test_hang_is_bounded(self):
        t0 = time.monotonic()
        run = self.decode(self.as_ref["hang"], args=["--keyprovider-timeout", "1"])
        self.assertLess(time.monotonic() - t0, 20)
        self.assertEqual(run.rc, 1, run)
        self.one_line(run, "timed out after 1 s")

    def test_provider_not_configured(self):
        other = f"{self.dir}/other.json"
        self.write(other, json.dumps({"key-providers": {"kms": {"grpc": "127.0.0.1:1"}}}))
        run = self.decode(other)
        self.assertEqual(run.rc, 1, run)
        self.one_line(run, "no key provider ref in " + other, "(it has: kms)")
        missing = self.decode(f"{self.dir}/absent.json")
        self.assertEqual(missing.rc, 1, missing)
        self.one_line(missing, "absent.json (OCICRYPT_KEYPROVIDER_CONFIG) does not exist")
        r = self.lc("--keyprovider-config", other, "encrypt", "--recipient", "provider:ref",
                    f"{self.dir}/plain:v1", f"{self.dir}/never:v1")
        self.assertEqual(r.returncode, 1)
        self.one_line(r, "recipient provider:ref: no key provider ref in")
        self.assertFalse(os.path.exists(f"{self.dir}/never/index.json"))

    def test_malformed_config(self):
        bad = f"{self.dir}/bad.json"
        self.write(bad, '{"key-providers": {"ref": {"cmd": {"path": "relative/prov"}}}}')
        run = self.decode(bad)
        self.assertEqual(run.rc, 1, run)
        self.one_line(run, bad, "key-providers.ref.cmd.path: must be an absolute path")
        r = self.lc("--keyprovider-config", bad, "layerinfo", f"{self.dir}/enc:v1")
        self.assertEqual(r.returncode, 0, r.stderr)  # listing needs no provider


def main():
    global LAYERCRYPT, DECODER, KEYPROVIDER
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    LAYERCRYPT, DECODER, KEYPROVIDER = (os.path.abspath(a) for a in sys.argv[1:4])
    unittest.main(argv=[sys.argv[0], *sys.argv[4:]], verbosity=2)


if __name__ == "__main__":
    main()
