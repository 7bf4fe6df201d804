#!/usr/bin/python3
"""Makes the key-provider vectors of this directory (README.md says what
they are): skopeo 1.22 of Debian sid (Go ocicrypt 1.1.10) encrypts and
decrypts a small image made by umoci through tests/tools/keyprovider_capture.py,
as a `cmd` provider and as a gRPC provider on 127.0.0.1, and every request
and reply is kept.

Usage (root): capture.py [OUT_DIR]   (default: this directory)

Keys: OUT_DIR/keys/rsa.pem (RSA-2048, PKCS#8) and rsa.pub.pem are made with
openssl when missing and reused otherwise. Each case's files go to
OUT_DIR/CASE/ (replacing what was there); OUT_DIR/MANIFEST.json lists the
cases; OUT_DIR/images/ keeps the plain image and the encrypted ones.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.normpath(os.path.join(HERE, "..", "..", "tools"))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "e2e")))
import peers  # noqa: E402

CAPTURE = os.path.join(TOOLS, "keyprovider_capture.py")
PYTHON = "/usr/bin/python3"
ENC = "org.opencontainers.image.enc."


def sh(*argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {r.stderr.strip()}")
    return r.stdout


def make_keys(keys):
    os.makedirs(keys, exist_ok=True)
    pem, pub = os.path.join(keys, "rsa.pem"), os.path.join(keys, "rsa.pub.pem")
    if not os.path.exists(pem):
        sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
           "-out", pem)
        sh("openssl", "pkey", "-in", pem, "-pubout", "-out", pub)
    return pem, pub


def make_image(work):
    """A two-layer OCI image made by umoci (tar+gzip layers)."""
    layout = os.path.join(work, "plain")
    for sub, name, text in (("a", "etc/app/app.conf", "answer = 42\n"),
                            ("b", "usr/share/app/README", "a small layer\n" * 20)):
        path = os.path.join(work, "files", sub, name)
        os.makedirs(os.path.dirname(path))
        with open(path, "w") as f:
            f.write(text)
    sh("umoci", "init", "--layout", layout)
    sh("umoci", "new", "--image", f"{layout}:v1")
    for sub in ("a", "b"):
        sh("umoci", "insert", "--image", f"{layout}:v1", os.path.join(work, "files", sub), "/")
    sh("umoci", "gc", "--layout", layout)
    return layout


def manifest(layout):
    with open(os.path.join(layout, "index.json")) as f:
        digest = json.load(f)["manifests"][0]["digest"]
    with open(os.path.join(layout, "blobs", *digest.split(":"))) as f:
        return json.load(f)


class Capture:
    def __init__(self, out, work, skopeo, provider_cmd):
        self.out, self.work, self.skopeo = out, work, skopeo
        self.provider_cmd = provider_cmd
        self.cases = []

    def config(self, name, attrs):
        path = os.path.join(self.work, f"{name}.keyprovider.json")
        with open(path, "w") as f:
            json.dump({"key-providers": attrs}, f, indent=1)
        return path

    def run(self, case, about, transport, options, src, dst, encoding="base64"):
        """skopeo copy OPTIONS oci:WORK/SRC:v1 oci:WORK/DST:v1 with the
        capture provider (`capture` over cmd, `capg` over gRPC)."""
        rec = os.path.join(self.work, "rec", case)
        server = None
        if transport == "cmd":
            cfg = self.config(case, {"capture": {"cmd": {
                "path": self.provider_cmd,
                "args": ["cmd", rec, "--reply-encoding", encoding]}}})
        else:
            port_file = os.path.join(self.work, f"{case}.port")
            server = peers.Process(f"capture provider ({case})",
                                   [PYTHON, CAPTURE, "grpc", rec, "--port-file", port_file,
                                    "--reply-encoding", encoding],
                                   os.path.join(self.work, f"{case}.grpc.log"))
            deadline = time.monotonic() + 30
            while not os.path.exists(port_file):
                if not server.alive() or time.monotonic() > deadline:
                    server.stop()
                    raise SystemExit("the gRPC capture provider did not start:\n"
                                     + server.log_tail())
                time.sleep(0.05)
            with open(port_file) as f:
                port = int(f.read())
            cfg = self.config(case, {"capg": {"grpc": f"127.0.0.1:{port}"}})
        src_ref = f"oci:{self.work}/{src}:v1"
        dst_ref = f"oci:{self.work}/{dst}:v1"
        try:
            r = self.skopeo.skopeo("copy", *options, src_ref, dst_ref,
                                   env={"OCICRYPT_KEYPROVIDER_CONFIG": cfg})
        finally:
            if server:
                server.stop()
        d = os.path.join(self.out, case)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        exchanges = []
        if os.path.isdir(rec):
            for n in sorted(os.listdir(rec)):
                if n.startswith("."):
                    continue
                shutil.copy(os.path.join(rec, n), d)
                if n.endswith(".request.json"):
                    exchanges.append(n[:-len(".request.json")])
        with open(cfg) as f:
            config_text = f.read().replace(self.provider_cmd, "$PROVIDER_CMD")
        config_text = config_text.replace(self.work, "$W")
        entry = {"case": case, "about": about, "transport": transport,
                 "reply_encoding": encoding,
                 "skopeo": ["skopeo", "--insecure-policy", "copy",
                            *[o.replace(self.work, "$W") for o in options],
                            src_ref.replace(self.work, "$W"), dst_ref.replace(self.work, "$W")],
                 "config": json.loads(config_text),
                 "exit_status": r.returncode, "stderr": r.stderr.strip().replace(self.work, "$W"),
                 "exchanges": exchanges}
        if r.returncode == 0:
            layers = manifest(os.path.join(self.work, dst))["layers"]
            with open(os.path.join(d, "layers.json"), "w") as f:
                json.dump(layers, f, indent=1)
                f.write("\n")
            entry["layers"] = "layers.json"
        self.cases.append(entry)
        print(f"{case}: exit {r.returncode}, {len(exchanges)} provider calls"
              + (f": {r.stderr.strip()[-300:]}" if r.returncode else ""), file=sys.stderr)
        return r.returncode == 0

    def write_manifest(self, versions):
        with open(os.path.join(self.out, "MANIFEST.json"), "w") as f:
            json.dump({"made_by": "capture.py", "versions": versions, "cases": self.cases}, f,
                      indent=1)
            f.write("\n")


def run_cases(c, pub, pem):
    cmd, grpc = "cmd", "grpc"
    c.run("cmd-wrap", "encrypt every layer for provider:capture", cmd,
          ["--encryption-key", "provider:capture"], "plain", "enc-cmd")
    c.run("cmd-wrap-params-jwe", "encrypt for provider:capture:some-params and a jwe key", cmd,
          ["--encryption-key", "provider:capture:some-params", "--encryption-key", f"jwe:{pub}"],
          "plain", "enc-cmd-jwe")
    c.run("cmd-unwrap", "decrypt with --decryption-key provider:capture", cmd,
          ["--decryption-key", "provider:capture"], "enc-cmd", "dec-cmd")
    c.run("cmd-unwrap-params", "decrypt with --decryption-key provider:capture:some-params", cmd,
          ["--decryption-key", "provider:capture:some-params"], "enc-cmd", "dec-cmd-params")
    c.run("cmd-unwrap-jwe-key-only", "decrypt a provider-only image giving only a jwe private "
          "key: the provider is called all the same", cmd,
          ["--decryption-key", pem], "enc-cmd", "dec-cmd-jwe-key")
    c.run("cmd-unwrap-jwe-and-provider", "decrypt the provider+jwe image with the jwe private "
          "key and provider:capture:some-params", cmd,
          ["--decryption-key", pem, "--decryption-key", "provider:capture:some-params"],
          "enc-cmd-jwe", "dec-cmd-jwe")
    c.run("cmd-wrap-array", "encrypt; the provider replies with a byte array", cmd,
          ["--encryption-key", "provider:capture"], "plain", "enc-cmd-array", "array")
    c.run("cmd-unwrap-array", "decrypt; the provider replies with a byte array", cmd,
          ["--decryption-key", "provider:capture"], "enc-cmd-array", "dec-cmd-array", "array")
    c.run("cmd-wrap-unpadded", "encrypt; the provider replies with unpadded base64", cmd,
          ["--encryption-key", "provider:capture"], "plain", "enc-cmd-unpadded", "unpadded")
    c.run("cmd-unwrap-unpadded", "decrypt; the provider replies with unpadded base64", cmd,
          ["--decryption-key", "provider:capture"], "enc-cmd", "dec-cmd-unpadded", "unpadded")
    c.run("cmd-wrap-null", "encrypt; the provider replies with a null annotation", cmd,
          ["--encryption-key", "provider:capture"], "plain", "enc-cmd-null", "null")
    c.run("cmd-wrap-null-jwe", "encrypt for the provider and a jwe key; the provider replies "
          "with a null annotation", cmd,
          ["--encryption-key", "provider:capture", "--encryption-key", f"jwe:{pub}"],
          "plain", "enc-cmd-null-jwe", "null")
    c.run("cmd-unwrap-null", "decrypt; the provider replies with a null optsdata", cmd,
          ["--decryption-key", "provider:capture"], "enc-cmd", "dec-cmd-null", "null")
    c.run("grpc-wrap", "encrypt every layer for provider:capg (gRPC)", grpc,
          ["--encryption-key", "provider:capg"], "plain", "enc-grpc")
    c.run("grpc-wrap-params-jwe", "encrypt for provider:capg:some-params and a jwe key (gRPC)",
          grpc, ["--encryption-key", "provider:capg:some-params", "--encryption-key", f"jwe:{pub}"],
          "plain", "enc-grpc-jwe")
    c.run("grpc-unwrap", "decrypt with --decryption-key provider:capg (gRPC)", grpc,
          ["--decryption-key", "provider:capg"], "enc-grpc", "dec-grpc")
    c.run("grpc-unwrap-array", "decrypt with --decryption-key provider:capg; byte-array "
          "replies (gRPC)", grpc, ["--decryption-key", "provider:capg"], "enc-grpc",
          "dec-grpc-array", "array")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", nargs="?", default=HERE)
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("capture.py needs root (chroot, mounts)")
    peers.enter_private_mount_namespace()
    out = os.path.abspath(args.out)
    peers.remove_stale_scratch()
    work = tempfile.mkdtemp(prefix=f"{peers.SCRATCH_PREFIX}{os.getpid()}-capture-")
    try:
        pem, pub = make_keys(os.path.join(out, "keys"))
        os.makedirs(os.path.join(work, "keys"))
        for k in (pem, pub):
            shutil.copy(k, os.path.join(work, "keys"))
        pem, pub = (os.path.join(work, "keys", os.path.basename(k)) for k in (pem, pub))
        make_image(work)
        with peers.SidSkopeo(shared=[work]) as skopeo:
            provider = skopeo.host_command("capture-provider", [PYTHON, CAPTURE])
            c = Capture(out, work, skopeo, provider)
            run_cases(c, pub, pem)
            versions = {"skopeo": skopeo.version(),
                        "umoci": sh("umoci", "--version").strip()}
        c.write_manifest(versions)
        images = os.path.join(out, "images")
        shutil.rmtree(images, ignore_errors=True)
        for name in ("plain", "enc-cmd", "enc-cmd-jwe", "enc-grpc"):
            shutil.copytree(os.path.join(work, name), os.path.join(images, name))
        for d, _, files in os.walk(images):
            for n in files:
                os.chmod(os.path.join(d, n), 0o644)  # umoci writes blobs 0600
    finally:
        peers.unmount_all(work)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
