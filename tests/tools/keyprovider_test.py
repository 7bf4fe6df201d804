#!/usr/bin/python3
"""layercrypt-keyprovider cmd as Go ocicrypt runs it.

Usage: keyprovider_test.py KEYPROVIDER   (ctest passes it)

Requests are the exact bytes Go ocicrypt writes (spec §A.2): a wrap as
skopeo sends it, unwraps as ctd-decoder sends them (dc with null
Parameters, and with provider:NAME's "Enabled"). Replies must be what Go
reads; refusals, garbage and oversize input must exit non-zero with exactly
one line on stderr (Go shows it) and nothing on stdout.
"""

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import unittest

PROVIDER = None

# Go ocicrypt's own requests, byte for byte (spec §A.2). "YWJj" is "abc":
# skopeo --encryption-key provider:myprov:abc.
GO_WRAP = (b'{"op":"keywrap","keywrapparams":{"ec":{"Parameters":{"myprov":["YWJj"]},'
           b'"DecryptConfig":{"Parameters":{}}},"optsdata":"eyJzeW1rZXkiOiIuLi4ifQ=="},'
           b'"keyunwrapparams":{"dc":null,"annotation":null}}')
GO_OPTSDATA = b'{"symkey":"..."}'
GO_UNWRAP_BLOB = (b'{"op":"keyunwrap","keywrapparams":{"ec":null,"optsdata":null},'
                  b'"keyunwrapparams":{"dc":{"Parameters":null},"annotation":"YmxvYg=="}}')


def go_unwrap(annotation, params=None):
    """An unwrap request as Go writes it for the blob `annotation` (the bytes
    a wrap returned): ctd-decoder's null Parameters, or `params`."""
    dc = {"Parameters": params}
    return (b'{"op":"keyunwrap","keywrapparams":{"ec":null,"optsdata":null},'
            b'"keyunwrapparams":{"dc":' + json.dumps(dc, separators=(",", ":")).encode() +
            b',"annotation":"' + base64.b64encode(annotation) + b'"}}')


def reply_bytes(value):
    """A []byte member of a reply as Go decodes it: base64 or integer array."""
    if value is None:
        return b""
    if isinstance(value, list):
        return bytes(value)
    return base64.b64decode(value, validate=True)


class KeyProviderCmd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="layercrypt-keyprovider-test-")
        self.dir = self.tmp.name
        run = self.run_tool(["keygen-kek", self.path("abc.kek")])
        self.assertEqual(run.returncode, 0, run.stderr)
        self.write_policy(["local"])

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_policy(self, release_to, default_key=None):
        policy = {"keys": {"abc": {"kek": {"file": "abc.kek"}, "release-to": release_to}}}
        if default_key:
            policy["default-key"] = default_key
        tmp = self.path("policy.tmp")
        with open(tmp, "w") as f:
            json.dump(policy, f)
        os.replace(tmp, self.path("policy.json"))

    def run_tool(self, args, stdin=b"", env=None):
        return subprocess.run([PROVIDER] + args, input=stdin, capture_output=True, timeout=60,
                              env=env)

    def cmd(self, request, extra=(), env=None):
        return self.run_tool(["cmd", "--policy", self.path("policy.json"), "--name", "myprov",
                              *extra], request, env)

    def assert_refused(self, run, *needles):
        self.assertNotEqual(run.returncode, 0)
        self.assertEqual(run.stdout, b"")
        err = run.stderr.decode()
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith("layercrypt-keyprovider: "), err)
        for n in needles:
            self.assertIn(n, err)
        return err

    def wrap(self):
        run = self.cmd(GO_WRAP)
        self.assertEqual(run.returncode, 0, run.stderr)
        reply = json.loads(run.stdout)
        annotation = reply_bytes(reply["keywrapresults"]["annotation"])
        blob = json.loads(annotation)
        self.assertEqual(blob["v"], 1)
        self.assertEqual(blob["key"], "abc")
        self.assertEqual(blob["kek"], "file")
        self.assertNotIn(b"symkey", annotation)
        return annotation

    def test_wrap_then_unwrap_as_go_sends_them(self):
        annotation = self.wrap()
        for params in (None, {"myprov": ["RW5hYmxlZA=="]}):
            run = self.cmd(go_unwrap(annotation, params))
            self.assertEqual(run.returncode, 0, run.stderr)
            reply = json.loads(run.stdout)
            self.assertEqual(reply_bytes(reply["keyunwrapresults"]["optsdata"]), GO_OPTSDATA)

    def test_default_key_and_provider_name(self):
        # provider:layercrypt with no parameters ("Enabled") takes the default key.
        self.write_policy(["local"], default_key="abc")
        req = GO_WRAP.replace(b'"myprov":["YWJj"]', b'"myprov":["RW5hYmxlZA=="]')
        run = self.cmd(req)
        self.assertEqual(run.returncode, 0, run.stderr)
        # Without a default, nothing chosen is a refusal naming the way out.
        self.write_policy(["local"])
        self.assert_refused(self.cmd(req), "no key chosen", "provider:myprov:key=ID")

    def test_unknown_key(self):
        req = GO_WRAP.replace(b'"myprov":["YWJj"]', b'"myprov":["a2V5PW5vcGU="]')  # key=nope
        self.assert_refused(self.cmd(req), "no key nope")

    def test_not_on_the_allow_list(self):
        annotation = self.wrap()
        self.write_policy(["cn:node-1"])
        err = self.assert_refused(self.cmd(go_unwrap(annotation)), "key abc", "local uid:")
        self.assertIn("release-to", err)
        # Adding the caller needs no restart and no re-encryption.
        self.write_policy(["cn:node-1", "uid:%d" % os.getuid()])
        run = self.cmd(go_unwrap(annotation))
        self.assertEqual(run.returncode, 0, run.stderr)

    def test_foreign_and_tampered_blobs(self):
        # Go's own example blob ("blob") is not ours.
        self.assert_refused(self.cmd(GO_UNWRAP_BLOB), "invalid wrapped key")
        annotation = bytearray(self.wrap())
        blob = json.loads(annotation)
        ct = bytearray(base64.b64decode(blob["ct"]))
        ct[3] ^= 0x40
        blob["ct"] = base64.b64encode(bytes(ct)).decode()
        tampered = json.dumps(blob, separators=(",", ":")).encode()
        self.assert_refused(self.cmd(go_unwrap(tampered)), "does not open", "abc")

    def test_garbage_and_oversize_input(self):
        self.assert_refused(self.cmd(b""), "no request")
        self.assert_refused(self.cmd(b"{not json"), "invalid request")
        self.assert_refused(self.cmd(b'{"op":"keyfrob"}'), "invalid request")
        self.assert_refused(self.cmd(b"\x00\xff" * 1000), "invalid request")
        self.assert_refused(self.cmd(b" " * ((1 << 20) + 1)), "larger than")

    def test_malformed_policy_refuses_everything(self):
        with open(self.path("policy.json"), "w") as f:
            f.write('{"keys": {"abc": {"kek": {"file": "abc.kek"}, "release-to": ["local"], "x": 1}}}')
        self.assert_refused(self.cmd(GO_WRAP), "no usable policy", "policy.json", '"x"')

    def test_decision_log(self):
        log = self.path("decisions.log")
        annotation = self.wrap()
        self.cmd(go_unwrap(annotation), ["--log-file", log])
        self.write_policy(["cn:node-1"])
        self.cmd(go_unwrap(annotation), ["--log-file", log])
        with open(log) as f:
            lines = f.read().splitlines()
        decisions = [l for l in lines if " keyunwrap " in l]
        self.assertEqual(len(decisions), 2, lines)
        self.assertIn("key=abc allowed", decisions[0])
        self.assertIn("refused", decisions[1])
        self.assertRegex(decisions[0], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z keyunwrap transport=cmd ")
        for l in lines:
            self.assertNotIn("symkey", l)
            self.assertNotIn("eyJzeW1rZXki", l)
        self.assertEqual(stat.S_IMODE(os.stat(log).st_mode) & 0o077, 0)

    def test_keygen_kek(self):
        path = self.path("abc.kek")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            text = f.read()
        self.assertRegex(text, r"^[0-9a-f]{64}\n$")
        run = self.run_tool(["keygen-kek", path])
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("refusing to overwrite", run.stderr.decode())
        with open(path) as f:
            self.assertEqual(f.read(), text)

    def serve_args(self):
        return ["serve", "--listen", "127.0.0.1:0", "--policy", self.path("policy.json"),
                "--log-file", self.path("serve.log")]

    def skip_without_grpc(self):
        env = dict(os.environ, LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE="/nonexistent")
        run = self.run_tool(self.serve_args(), env=env)
        if b"no gRPC transport" in run.stderr:
            self.skipTest("built with LAYERCRYPT_WITH_GRPC=OFF")

    def test_missing_grpc_server_module(self):
        # serve loads the gRPC server module; a missing one is one line naming
        # where it looked and the variable to set. cmd never needs it.
        self.skip_without_grpc()
        missing = self.path("nowhere/liblayercrypt-keyprovider-grpc-server.so")
        env = dict(os.environ, LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE=missing)
        err = self.assert_refused(self.run_tool(self.serve_args(), env=env))
        self.assertEqual(err, "layercrypt-keyprovider: the gRPC server module " + missing +
                         " (LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE) does not exist\n")
        run = self.cmd(GO_WRAP, env=env)
        self.assertEqual(run.returncode, 0, run.stderr)
        annotation = reply_bytes(json.loads(run.stdout)["keywrapresults"]["annotation"])
        run = self.cmd(go_unwrap(annotation), env=env)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(reply_bytes(json.loads(run.stdout)["keyunwrapresults"]["optsdata"]),
                         GO_OPTSDATA)

    def test_only_serve_loads_grpc(self):
        self.skip_without_grpc()
        # cmd: the dynamic loader opens no gRPC library, not even later (dlopen).
        env = dict(os.environ, LD_DEBUG="files")
        env.pop("LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE", None)
        run = self.cmd(GO_WRAP, ["--log-file", self.path("cmd.log")], env=env)
        self.assertEqual(run.returncode, 0, run.stderr)
        opened = [line for line in run.stderr.decode().splitlines() if "file=" in line]
        self.assertTrue(any("libcrypto" in line for line in opened), opened)  # LD_DEBUG worked
        self.assertEqual([line for line in opened if "grpc" in line or "protobuf" in line], [])
        # serve: the module from the build tree (DIR/../lib/layercrypt/), then SIGTERM.
        env = dict(os.environ)
        env.pop("LAYERCRYPT_KEYPROVIDER_GRPC_SERVER_MODULE", None)
        proc = subprocess.Popen([PROVIDER] + self.serve_args(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        try:
            line = proc.stdout.readline().decode()
            if not line.startswith("listening on 127.0.0.1:"):
                proc.kill()
                self.fail(f"serve did not start: {line!r} {proc.stderr.read()!r}")
            with open(f"/proc/{proc.pid}/maps") as f:
                maps = f.read()
            self.assertIn("liblayercrypt-keyprovider-grpc-server.so", maps)
            self.assertIn("libgrpc", maps)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=30), 0, proc.stderr.read())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()

    def test_help_and_usage_errors(self):
        run = self.run_tool(["--help"])
        self.assertEqual(run.returncode, 0)
        self.assertIn("Example", run.stdout.decode())
        run = self.run_tool(["cmd"])
        self.assertNotEqual(run.returncode, 0)
        self.assertEqual(run.stderr.decode().count("\n"), 1)
        self.assertIn("--policy", run.stderr.decode())


if __name__ == "__main__":
    PROVIDER = sys.argv[1]
    unittest.main(argv=[sys.argv[0], "-v"] + sys.argv[2:])
