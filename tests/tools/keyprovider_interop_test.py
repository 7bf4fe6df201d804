#!/usr/bin/python3
"""Key providers between layercrypt and skopeo 1.22 (Go ocicrypt 1.1.10, from
a Debian sid root file system), over `cmd` and over gRPC on 127.0.0.1, both
ways: what skopeo encrypts for `provider:NAME`, the `layercrypt` CLI and
layercrypt-decoder decrypt through the same provider; what the CLI encrypts,
skopeo decrypts.

Usage (root): keyprovider_interop_test.py LAYERCRYPT DECODER KEYPROVIDER [unittest args]

Providers:
  - tests/tools/keyprovider_capture.py (cmd and gRPC): records every request,
    so the tests also compare our requests with skopeo's, and can reply with
    byte arrays or hang;
  - KEYPROVIDER (layercrypt-keyprovider, the reference provider), in cmd
    mode and as a plaintext gRPC server, with two KEK-file keys made for the
    run (reference_cmd_argv, reference_grpc_argv).

skopeo runs in the sid root of tests/e2e/peers.py (sid_root(), made once
under /var/cache/layercrypt-peers; a machine that cannot make it fails this
test) with the scratch directory bind-mounted at the same path. A cmd
provider is a wrapper script that runs the host program on the host's root
file system from inside the root (peers.SidChroot.host_command), so one
config file serves skopeo and our programs. The program re-executes itself
in a private mount namespace (the mounts vanish with it); gRPC providers are
stopped by PID.
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import ocitest  # noqa: E402
import peers  # noqa: E402
from cli_test import layer_digests  # noqa: E402
from skopeo_interop_test import make_plain_layout  # noqa: E402

LAYERCRYPT = DECODER = KEYPROVIDER = None
PYTHON = "/usr/bin/python3"
CAPTURE = os.path.join(HERE, "keyprovider_capture.py")
ANNOTATION = "org.opencontainers.image.enc.keys.provider."
PROVIDER_CALL_TIMEOUT = 120


# The reference provider's keys: a default one (provider:NAME) and
# "some-params" (provider:NAME:some-params names it), each with its own KEK.
REFERENCE_KEYS = ("default", "some-params")


def reference_state(keyprovider, state_dir, release_to):
    """Makes (once) the reference provider's KEKs and policy under
    state_dir, releasing every key to `release_to`; returns the policy."""
    policy = os.path.join(state_dir, "policy.json")
    if not os.path.exists(policy):
        for key in REFERENCE_KEYS:
            sh(keyprovider, "keygen-kek", os.path.join(state_dir, f"{key}.kek"))
        with open(policy + ".tmp", "w") as f:
            json.dump({"default-key": REFERENCE_KEYS[0],
                       "keys": {k: {"kek": {"file": f"{k}.kek"}, "release-to": [release_to]}
                                for k in REFERENCE_KEYS}}, f)
        os.replace(policy + ".tmp", policy)
    return policy


def reference_cmd_argv(keyprovider, state_dir, name):
    """argv that runs KEYPROVIDER in cmd mode as provider `name`: one
    request on stdin, one reply on stdout. Its callers (skopeo, our CLI and
    decoder) run it themselves, so its keys are released to `local`."""
    policy = reference_state(keyprovider, state_dir, "local")
    return [keyprovider, "cmd", "--policy", policy, "--name", name,
            "--log-file", os.path.join(state_dir, "decisions.log")]


def reference_grpc_argv(keyprovider, state_dir, name, port):
    """argv that runs KEYPROVIDER as a gRPC server of
    keyprovider.KeyProviderService on 127.0.0.1:port (h2c: skopeo 1.22 has
    no TLS for key providers) until SIGTERM. A plaintext client has no
    identity, so its keys are released to `*`."""
    policy = reference_state(keyprovider, state_dir, "*")
    return [keyprovider, "serve", "--listen", f"127.0.0.1:{port}", "--policy", policy,
            "--name", name, "--log-file", os.path.join(state_dir, "decisions.log")]


def b64(text):
    return base64.b64encode(text.encode()).decode()


def shape(value):
    """The JSON structure of a message without its data: what a peer must
    match (keys present, null versus {} versus [], types)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


class Env:
    """What every test shares: the scratch directory (shared with the sid
    root), skopeo 1.22, a plain two-layer image (tar+gzip, tar) and a JWE key
    pair; closed at exit."""

    def __init__(self):
        self.tmp = peers.new_scratch("kp")
        self.processes = []
        self.sid = None
        self.sid = peers.SidSkopeo(shared=[self.tmp])
        self.plain = self.path("plain")
        make_plain_layout(self.plain)
        self.plain_layers = [d for _, d in layer_digests(self.plain)[0]]
        keys = self.path("keys")
        os.makedirs(keys)
        self.jwe_key = os.path.join(keys, "rsa.pem")
        self.jwe_pub = os.path.join(keys, "rsa.pub.pem")
        sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                   "-out", self.jwe_key)
        sh("openssl", "pkey", "-in", self.jwe_key, "-pubout", "-out", self.jwe_pub)
        self.jwe_key_dir = self.path("decoder-keys")  # the decoder's keys: the private key only
        os.makedirs(self.jwe_key_dir)
        shutil.copy(self.jwe_key, self.jwe_key_dir)
        self.capture_cmd = self.sid.host_command("keyprovider-capture", [PYTHON, CAPTURE])
        self.counter = 0

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def fresh(self, stem):
        self.counter += 1
        return self.path(f"{stem}-{self.counter}")

    def close(self):
        for p in reversed(self.processes):
            p.stop()
        if self.sid:
            self.sid.close()
        peers.unmount_all(self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)


def sh(*argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed: {r.stderr.strip()}")
    return r.stdout


ENV = None


def env():
    global ENV
    if ENV is None:
        ENV = Env()
    return ENV


class Provider:
    """A key provider under `name` in its own config file. record_dir: where
    a capture provider records requests (None for the reference one)."""

    def __init__(self, name, attrs, record_dir=None, process=None):
        self.name, self.record_dir, self.process = name, record_dir, process
        self.config = env().fresh(f"{name}.keyprovider") + ".json"
        with open(self.config, "w") as f:
            json.dump({"key-providers": {name: attrs}}, f)

    def requests(self, op):
        """The requests for op ("keywrap", "keyunwrap") recorded so far, in
        order; forget() empties the record."""
        out = []
        if not self.record_dir or not os.path.isdir(self.record_dir):
            return out
        for n in sorted(os.listdir(self.record_dir)):
            if n.endswith(f"-{op}.request.json"):
                with open(os.path.join(self.record_dir, n), "rb") as f:
                    out.append(json.loads(f.read()))
        return out

    def forget(self):
        if self.record_dir and os.path.isdir(self.record_dir):
            for n in os.listdir(self.record_dir):
                if n[:3].isdigit():
                    os.remove(os.path.join(self.record_dir, n))

    def sleeping_pids(self):
        """Capture providers (cmd) still in their --delay."""
        d = os.path.join(self.record_dir or "", "sleeping")
        return [int(n) for n in os.listdir(d) if peers.pid_alive(int(n))] if os.path.isdir(d) else []


def capture_args(record_dir, encoding, delay):
    return [record_dir, "--reply-encoding", encoding, "--delay", str(delay)]


def capture_cmd_provider(name, encoding="base64", delay=0):
    rec = env().fresh(f"rec-{name}")
    return Provider(name, {"cmd": {"path": env().capture_cmd,
                                   "args": ["cmd", *capture_args(rec, encoding, delay)]}}, rec)


def start_grpc(name, argv_for_port, record_dir=None):
    e = env()
    port = peers.free_port()
    process = peers.Process(f"gRPC key provider {name}", argv_for_port(port),
                            e.fresh(f"{name}.grpc") + ".log")
    e.processes.append(process)
    peers.wait_port(port, process)
    return Provider(name, {"grpc": f"127.0.0.1:{port}"}, record_dir, process)


def capture_grpc_provider(name, encoding="base64", delay=0):
    rec = env().fresh(f"rec-{name}")
    port_file = rec + ".port"
    return start_grpc(name, lambda port: [PYTHON, CAPTURE, "grpc", *capture_args(
        rec, encoding, delay), "--port", str(port), "--port-file", port_file], rec)


def reference_cmd_provider(name):
    state = env().fresh(f"state-{name}")
    os.makedirs(state)
    argv = reference_cmd_argv(KEYPROVIDER, state, name)
    p = Provider(name, {"cmd": {"path": env().sid.host_command(f"{name}-cmd", argv)}})
    p.state = state
    return p


def reference_grpc_provider(name):
    state = env().fresh(f"state-{name}")
    os.makedirs(state)
    p = start_grpc(name, lambda port: reference_grpc_argv(KEYPROVIDER, state, name, port))
    p.state = state
    return p


class Interop:
    """The cases, for the provider that make_provider() gives."""
    make_provider = None
    captures = False  # the provider records requests and has the reply knobs

    @classmethod
    def setUpClass(cls):
        cls.env = env()
        cls.provider = cls.make_provider("kp")

    # --- the peers ---

    def lc(self, *args, provider=None, via_env=False, no_config=False, check=True,
           timeout=PROVIDER_CALL_TIMEOUT):
        """layercrypt [--keyprovider-config CFG] ARGS, or with
        OCICRYPT_KEYPROVIDER_CONFIG=CFG when via_env, or with no provider
        config at all when no_config."""
        p = provider or self.provider
        run_env = dict(os.environ)
        run_env.pop("OCICRYPT_KEYPROVIDER_CONFIG", None)
        pre = []
        if no_config:
            pass
        elif via_env:
            run_env["OCICRYPT_KEYPROVIDER_CONFIG"] = p.config
        else:
            pre = ["--keyprovider-config", p.config]
        r = subprocess.run([LAYERCRYPT, *pre, *args], capture_output=True, text=True,
                           env=run_env, timeout=timeout)
        if check and r.returncode != 0:
            self.fail(f"layercrypt {' '.join(pre + list(args))} failed ({r.returncode}): "
                      f"{r.stderr.strip()}")
        return r

    def skopeo(self, src, dst, *options, provider=None, check=True):
        """skopeo 1.22 copy OPTIONS oci:SRC:v1 oci:DST:v1 (tar layers stay
        tar) with the provider's config."""
        p = provider or self.provider
        r = self.env.sid.skopeo("copy", "-q", "--dest-oci-accept-uncompressed-layers", *options,
                                f"oci:{src}:v1", f"oci:{dst}:v1",
                                env={"OCICRYPT_KEYPROVIDER_CONFIG": p.config})
        if check and r.returncode != 0:
            self.fail(f"skopeo 1.22 copy {' '.join(options)} {src} {dst} failed "
                      f"({r.returncode}): {r.stderr.strip()}")
        return r

    # --- checks ---

    def assert_plain(self, layout, what):
        got = [d for _, d in layer_digests(layout)[0]]
        self.assertEqual(got, self.env.plain_layers, f"{what}: the layers are not the plain ones")

    def assert_decoder_decrypts(self, layout_dir, how, args, env_extra=None):
        """layercrypt-decoder ARGS, run as containerd runs it (CRI's node
        key model: no keys in the payload), gives every plain layer."""
        layout = ocitest.Layout(layout_dir)
        for desc, plain in zip(layout.layers(), self.env.plain_layers):
            run = ocitest.run_decoder(DECODER, layout.blob(desc["digest"]),
                                      ocitest.make_payload(desc), args=args,
                                      media_type=desc["mediaType"], env_extra=env_extra)
            self.assertEqual(run.rc, 0, f"decoder ({how}) on {desc['digest']}: {run}")
            self.assertEqual(ocitest.sha256_digest(run.out), plain, f"decoder ({how})")

    def assert_provider_annotations(self, layout, name=None):
        key = ANNOTATION + (name or self.provider.name)
        for mt, _ in layer_digests(layout)[0]:
            self.assertTrue(mt.endswith("+encrypted"), mt)
        for layer in layer_digests(layout)[1]["layers"]:
            self.assertIn(key, layer.get("annotations", {}), f"{layout}: {layer}")
            base64.b64decode(layer["annotations"][key], validate=True)  # b64 of the raw bytes

    def skopeo_encrypted(self, *recipients):
        enc = self.env.fresh("skopeo-enc")
        self.skopeo(self.env.plain, enc, *[a for r in recipients for a in ("--encryption-key", r)])
        self.assert_provider_annotations(enc)
        return enc

    def our_encrypted(self, *recipients, **kw):
        enc = self.env.fresh("lc-enc")
        self.lc("encrypt", *[a for r in recipients for a in ("--recipient", r)],
                f"{self.env.plain}:v1", f"{enc}:v1", **kw)
        self.assert_provider_annotations(enc)
        return enc

    # --- the control: skopeo alone through the provider ---

    def test_skopeo_round_trip(self):
        """If this fails, the provider or the sid root is broken, not our side."""
        enc = self.skopeo_encrypted(f"provider:{self.provider.name}")
        dec = self.env.fresh("skopeo-dec")
        self.skopeo(enc, dec, "--decryption-key", f"provider:{self.provider.name}")
        self.assert_plain(dec, "skopeo 1.22 decrypting its own")

    # --- skopeo encrypts, we decrypt ---

    def test_skopeo_encrypts_cli_decrypts(self):
        enc = self.skopeo_encrypted(f"provider:{self.provider.name}")
        for via_env in (False, True):
            dec = self.env.fresh("lc-dec")
            self.lc("decrypt", "--key", f"provider:{self.provider.name}", f"{enc}:v1",
                    f"{dec}:v1", via_env=via_env)
            self.assert_plain(dec, f"layercrypt decrypt (config from "
                                   f"{'the environment' if via_env else '--keyprovider-config'})")

    def test_skopeo_encrypts_decoder_decrypts(self):
        """As containerd runs the decoder with CRI's node key model: no keys
        in the payload, the config from the environment (containerd's
        processor `env`) or from --keyprovider-config."""
        enc = self.skopeo_encrypted(f"provider:{self.provider.name}")
        self.assert_decoder_decrypts(enc, "env", [],
                                     {"OCICRYPT_KEYPROVIDER_CONFIG": self.provider.config})
        self.assert_decoder_decrypts(enc, "flag", ["--keyprovider-config", self.provider.config])

    def test_skopeo_encrypts_for_provider_and_jwe(self):
        """One image, two recipients: either key alone opens it, in the CLI
        and in the decoder (the jwe key with no provider configured)."""
        enc = self.skopeo_encrypted(f"provider:{self.provider.name}", f"jwe:{self.env.jwe_pub}")
        for layer in layer_digests(enc)[1]["layers"]:
            self.assertIn("org.opencontainers.image.enc.keys.jwe", layer["annotations"])
        for key, no_config in ((f"provider:{self.provider.name}", False),
                               (self.env.jwe_key, True), (self.env.jwe_key, False)):
            dec = self.env.fresh("lc-dec")
            self.lc("decrypt", "--key", key, f"{enc}:v1", f"{dec}:v1", no_config=no_config)
            self.assert_plain(dec, f"layercrypt decrypt --key {key} "
                                   f"({'no' if no_config else 'with a'} provider config)")
        self.assert_decoder_decrypts(enc, "provider only",
                                     ["--keyprovider-config", self.provider.config])
        self.assert_decoder_decrypts(enc, "jwe key only",
                                     ["--decryption-keys-path", self.env.jwe_key_dir])

    # --- we encrypt, skopeo decrypts ---

    def test_cli_encrypts_skopeo_decrypts(self):
        name = self.provider.name
        for recipient in (f"provider:{name}", f"provider:{name}:some-params"):
            enc = self.our_encrypted(recipient)
            dec = self.env.fresh("skopeo-dec")
            self.skopeo(enc, dec, "--decryption-key", f"provider:{name}")
            self.assert_plain(dec, f"skopeo 1.22 decrypting what we encrypted for {recipient}")

    def test_cli_encrypts_for_provider_and_jwe(self):
        enc = self.our_encrypted(f"provider:{self.provider.name}", f"jwe:{self.env.jwe_pub}")
        for key in (f"provider:{self.provider.name}", self.env.jwe_key):
            dec = self.env.fresh("skopeo-dec")
            self.skopeo(enc, dec, "--decryption-key", key)
            self.assert_plain(dec, f"skopeo 1.22 decrypting with {key}")

    def test_recipients_add_provider(self):
        enc = self.env.fresh("lc-enc-jwe")
        self.lc("encrypt", "--recipient", f"jwe:{self.env.jwe_pub}", f"{self.env.plain}:v1",
                f"{enc}:v1")
        before = layer_digests(enc)[0]
        self.lc("recipients", "add", "--key", self.env.jwe_key,
                "--recipient", f"provider:{self.provider.name}", f"{enc}:v1")
        self.assertEqual(layer_digests(enc)[0], before, "recipients add re-encrypted the layers")
        self.assert_provider_annotations(enc)
        dec = self.env.fresh("skopeo-dec")
        self.skopeo(enc, dec, "--decryption-key", f"provider:{self.provider.name}")
        self.assert_plain(dec, "skopeo 1.22 after recipients add provider:")

    # --- the messages (capture providers only) ---

    def need_capture(self):
        if not self.captures:
            self.skipTest("needs a provider that records its requests")

    def test_wrap_request_is_gos(self):
        """Our keywrap request has the structure of skopeo's for the same
        recipient, and the same parameters."""
        self.need_capture()
        name, p = self.provider.name, self.provider
        recipient = f"provider:{name}:some-params"
        p.forget()
        self.skopeo_encrypted(recipient)
        go = p.requests("keywrap")
        p.forget()
        self.our_encrypted(recipient)
        ours = p.requests("keywrap")
        self.assertEqual(len(go), 2, "skopeo: one call per layer")
        self.assertEqual(len(ours), len(go), "one keywrap call per layer")
        for req in ours:
            self.assertEqual(shape(req), shape(go[0]), json.dumps(req)[:400])
            self.assertEqual(req["keywrapparams"]["ec"]["Parameters"], {name: [b64("some-params")]})
            opts = json.loads(base64.b64decode(req["keywrapparams"]["optsdata"]))
            self.assertEqual(sorted(opts), ["cipheroptions", "digest", "symkey"])

    def test_unwrap_request_is_gos(self):
        self.need_capture()
        name, p = self.provider.name, self.provider
        enc = self.skopeo_encrypted(f"provider:{name}")
        key = f"provider:{name}:some-params"
        p.forget()
        self.skopeo(enc, self.env.fresh("skopeo-dec"), "--decryption-key", key)
        go = p.requests("keyunwrap")
        p.forget()
        self.lc("decrypt", "--key", key, f"{enc}:v1", f"{self.env.fresh('lc-dec')}:v1")
        ours = p.requests("keyunwrap")
        self.assertEqual(len(ours), len(go), "one keyunwrap call per layer")
        annotations = {l["annotations"][ANNOTATION + name] for l in layer_digests(enc)[1]["layers"]}
        for req in ours:
            self.assertEqual(shape(req), shape(go[0]), json.dumps(req)[:400])
            self.assertEqual(req["keyunwrapparams"]["dc"]["Parameters"], {name: [b64("some-params")]})
            self.assertIn(req["keyunwrapparams"]["annotation"], annotations,
                          "the annotation must be sent as it is in the descriptor")

    def test_byte_array_replies(self):
        """Rust providers reply with byte arrays; Go accepts them, so must we."""
        self.need_capture()
        p = self.make_provider("kparray", encoding="array")
        enc = self.env.fresh("lc-enc-array")
        self.lc("encrypt", "--recipient", f"provider:{p.name}", f"{self.env.plain}:v1",
                f"{enc}:v1", provider=p)
        self.assert_provider_annotations(enc, p.name)
        dec = self.env.fresh("skopeo-dec")
        self.skopeo(enc, dec, "--decryption-key", f"provider:{p.name}", provider=p)
        self.assert_plain(dec, "skopeo 1.22 on what we wrapped with byte-array replies")
        dec = self.env.fresh("lc-dec")
        self.lc("decrypt", "--key", f"provider:{p.name}", f"{enc}:v1", f"{dec}:v1", provider=p)
        self.assert_plain(dec, "layercrypt decrypt with byte-array replies")

    def test_timeout(self):
        """Go ocicrypt waits for ever; --keyprovider-timeout bounds a call."""
        self.need_capture()
        p = self.make_provider("kpslow", delay=3600)
        t0 = time.monotonic()
        r = self.lc("--keyprovider-timeout", "3", "encrypt", "--recipient", f"provider:{p.name}",
                    f"{self.env.plain}:v1", f"{self.env.fresh('lc-enc-slow')}:v1", provider=p,
                    check=False, timeout=300)
        took = time.monotonic() - t0
        self.assertNotEqual(r.returncode, 0, "encrypt succeeded through a provider that hangs")
        self.assertTrue(p.requests("keywrap"), f"the provider was never called: {r.stderr.strip()}")
        self.assertLess(took, 60, f"--keyprovider-timeout 3 took {took:.0f} s")
        stderr = r.stderr.replace(p.config, "CONFIG")
        self.assertIn(p.name, stderr, "the error should name the provider")
        self.assertRegex(stderr, "(?i)time", "the error should say the call timed out")
        time.sleep(1)
        left = p.sleeping_pids()
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        self.assertEqual(left, [], "the provider process was left running after the timeout")


class CaptureCmd(Interop, unittest.TestCase):
    make_provider = staticmethod(capture_cmd_provider)
    captures = True


class CaptureGrpc(Interop, unittest.TestCase):
    make_provider = staticmethod(capture_grpc_provider)
    captures = True


class ReferenceChecks:
    """What only the reference provider shows: which key wrapped, and its
    decision log."""

    def wrapped_keys(self, layout):
        """The key id in each layer's provider blob."""
        out = []
        for layer in layer_digests(layout)[1]["layers"]:
            blob = base64.b64decode(layer["annotations"][ANNOTATION + self.provider.name])
            out.append(json.loads(blob)["key"])
        return out

    def decisions(self):
        with open(os.path.join(self.provider.state, "decisions.log")) as f:
            return [l for l in f.read().splitlines() if " keywrap " in l or " keyunwrap " in l]

    def test_key_choice_and_decisions(self):
        name = self.provider.name
        ours = self.our_encrypted(f"provider:{name}:key=some-params")
        self.assertEqual(self.wrapped_keys(ours), ["some-params"] * 2)
        theirs = self.skopeo_encrypted(f"provider:{name}")
        self.assertEqual(self.wrapped_keys(theirs), [REFERENCE_KEYS[0]] * 2, "the default key")
        before = len(self.decisions())
        self.lc("decrypt", "--key", f"provider:{name}", f"{theirs}:v1",
                f"{self.env.fresh('lc-dec')}:v1")
        self.skopeo(ours, self.env.fresh("skopeo-dec"), "--decryption-key", f"provider:{name}")
        new = self.decisions()[before:]
        self.assertEqual(len(new), 4, new)
        identity = "local uid:" if self.provider.process is None else "unauthenticated"
        for line in new:
            self.assertIn(" keyunwrap ", line)
            self.assertIn(" allowed", line)
            self.assertIn(identity, line)
        self.assertEqual(sorted(l.split(" key=")[1].split()[0] for l in new),
                         [REFERENCE_KEYS[0]] * 2 + ["some-params"] * 2)


class ReferenceCmd(ReferenceChecks, Interop, unittest.TestCase):
    make_provider = staticmethod(reference_cmd_provider)


class ReferenceGrpc(ReferenceChecks, Interop, unittest.TestCase):
    make_provider = staticmethod(reference_grpc_provider)


def main():
    global LAYERCRYPT, DECODER, KEYPROVIDER
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("layercrypt")
    ap.add_argument("decoder")
    ap.add_argument("keyprovider")
    args, rest = ap.parse_known_args()
    LAYERCRYPT, DECODER, KEYPROVIDER = (os.path.abspath(p) for p in
                                        (args.layercrypt, args.decoder, args.keyprovider))
    for p in (LAYERCRYPT, DECODER):
        if not os.access(p, os.X_OK):
            raise SystemExit(f"keyprovider_interop_test: {p} is not an executable")
    os.environ.pop("OCICRYPT_KEYPROVIDER_CONFIG", None)  # each run says which config it uses
    peers.enter_sid_test_namespace("keyprovider_interop_test")
    def on_signal(signum, _frame):
        signal.signal(signum, signal.SIG_IGN)
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        result = unittest.main(argv=[sys.argv[0], *rest], verbosity=2, exit=False).result
    finally:
        if ENV is not None:
            ENV.close()
    sys.exit(0 if result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
