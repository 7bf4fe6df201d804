"""Helpers for the tool tests: OCI layouts, containerd stream-processor
payloads, and running a decoder exactly as containerd does (stdin = layer,
stdout = plaintext, fd 3 = payload, STREAM_PROCESSOR_MEDIATYPE set)."""

import base64
import hashlib
import json
import os
import subprocess
import threading

PAYLOAD_TYPE_URL = b"io.containerd.ocicrypt.v1.Payload"
PUBOPTS = "org.opencontainers.image.enc.pubopts"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def go_json(obj) -> bytes:
    """Compact JSON as Go's encoding/json writes it for these ASCII values."""
    return json.dumps(obj, separators=(",", ":")).encode()


def payload_value(desc: dict, keys=(), certs=(), gpg_keyrings=()) -> bytes:
    """imgcrypt's Payload JSON for the layer `desc`: the value of the Any
    that containerd hands a stream processor. keys: (bytes, password-or-None)
    pairs, as `ctr-enc --key` sends them; gpg_keyrings: the same for OpenPGP
    secret keyrings (gpg-privatekeys and their passwords); none: what CRI's
    node key model sends (`"Parameters":null`)."""
    params = None
    if keys or certs or gpg_keyrings:
        params = {}
        if gpg_keyrings:
            params["gpg-privatekeys"] = [base64.b64encode(k).decode() for k, _ in gpg_keyrings]
            params["gpg-privatekeys-passwords"] = [
                base64.b64encode(p).decode() if p is not None else None for _, p in gpg_keyrings]
        if keys:
            params["privkeys"] = [base64.b64encode(k).decode() for k, _ in keys]
            params["privkeys-passwords"] = [
                base64.b64encode(p).decode() if p is not None else None for _, p in keys]
        if certs:
            params["x509s"] = [base64.b64encode(c).decode() for c in certs]
    return go_json({"DecryptConfig": {"Parameters": params}, "Descriptor": desc})


def make_payload(desc: dict, keys=(), certs=(), type_url=PAYLOAD_TYPE_URL,
                 gpg_keyrings=()) -> bytes:
    """The fd-3 bytes: a protobuf Any whose value is payload_value(...)."""
    value = payload_value(desc, keys, certs, gpg_keyrings)
    return (b"\x0a" + varint(len(type_url)) + type_url +
            b"\x12" + varint(len(value)) + value)


def write_blob(layout, data: bytes) -> str:
    """Stores data under layout/blobs/sha256; returns its digest."""
    digest = sha256_digest(data)
    path = os.path.join(layout, "blobs", "sha256", digest[7:])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return digest


def write_image(layout, layers, tag="v1") -> list:
    """Writes a single-manifest linux/amd64 OCI image layout tagged `tag`.
    layers: (blob, media type, uncompressed tar) triples, base first; the
    config's diff_ids are the tars' digests. Returns the layer descriptors."""
    os.makedirs(layout, exist_ok=True)
    descs = [{"mediaType": mt, "digest": write_blob(layout, blob), "size": len(blob)}
             for blob, mt, _ in layers]
    config = go_json({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(t) for _, _, t in layers]},
        "config": {"Cmd": ["/bin/sh"]}})
    manifest = go_json({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": write_blob(layout, config), "size": len(config)},
        "layers": descs})
    write_index(layout, manifest, "application/vnd.oci.image.manifest.v1+json", tag)
    return descs


def write_index(layout, top: bytes, media_type, tag="v1"):
    """Writes oci-layout and an index.json with one entry, tagged `tag`:
    the blob `top` (a manifest or an image index of type media_type)."""
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": media_type, "digest": write_blob(layout, top), "size": len(top),
            "annotations": {"org.opencontainers.image.ref.name": tag}}]}, f)


class Layout:
    """Read access to an OCI image layout directory."""

    def __init__(self, path):
        self.path = path

    def blob_path(self, digest):
        algo, hexd = digest.split(":", 1)
        return os.path.join(self.path, "blobs", algo, hexd)

    def blob(self, digest) -> bytes:
        with open(self.blob_path(digest), "rb") as f:
            return f.read()

    def manifests(self):
        with open(os.path.join(self.path, "index.json")) as f:
            index = json.load(f)
        for m in index["manifests"]:
            yield json.loads(self.blob(m["digest"]))

    def layers(self):
        """Every layer descriptor of every manifest (single-platform images)."""
        for m in self.manifests():
            yield from m["layers"]


class Run:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    @property
    def err_lines(self):
        return [l for l in self.err.decode(errors="replace").splitlines() if l.strip()]

    def __repr__(self):
        return f"Run(rc={self.rc}, out={len(self.out)} bytes, err={self.err!r})"


def run_decoder(decoder, layer: bytes, payload, args=(), media_type=None,
                stdin_file=None, env_extra=None, timeout=120) -> Run:
    """Runs `decoder` as containerd does. payload None: no fd 3 at all.
    stdin_file: a path to use as stdin (a regular file) instead of a pipe."""
    env = dict(os.environ)
    if media_type is not None:
        env["STREAM_PROCESSOR_MEDIATYPE"] = media_type
    env.update(env_extra or {})
    r = w = None
    if payload is not None:
        r, w = os.pipe()  # both ends close-on-exec (PEP 446)

    def preexec():
        # fd 3 in the child is the payload pipe, or absent. dup2 clears
        # close-on-exec on the copy only; every other fd of ours stays
        # close-on-exec, so close_fds can stay off (it would close fd 3).
        if r == 3:
            os.set_inheritable(3, True)  # dup2(3, 3) would leave it close-on-exec
        elif r is not None:
            os.dup2(r, 3)
        else:
            try:
                os.close(3)
            except OSError:
                pass

    stdin = open(stdin_file, "rb") if stdin_file else subprocess.PIPE
    proc = subprocess.Popen([decoder, *args], stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, preexec_fn=preexec,
                            close_fds=False)
    if r is not None:
        os.close(r)
        # containerd writes the whole payload, then closes the pipe.
        def feed():
            try:
                os.write(w, payload)
            finally:
                os.close(w)
        t = threading.Thread(target=feed)
        t.start()
    try:
        out, err = proc.communicate(None if stdin_file else layer, timeout=timeout)
    finally:
        if stdin_file:
            stdin.close()
    if r is not None:
        t.join()
    return Run(proc.returncode, out, err)
