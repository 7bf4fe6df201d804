#!/usr/bin/python3
"""Writes a deterministic sample OCI image layout and prints its layer bytes.

Usage: make_sample_image.py OUT_DIR BASE_LAYER_MB
       make_sample_image.py OUT_DIR --small-layers N

Layer 0: tar+gzip of regular files under /usr/lib and /usr/share (sorted,
fixed mtime/owner, at most BASE_LAYER_MB of tar), compressed by `pigz -n`
(its output does not depend on the thread count). Layer 1: a small tar+gzip.
Layer 2: an uncompressed tar. With --small-layers, N tar+gzip layers of
about 100 KB of tar each instead (files of /usr/share/doc, in order), the
shape of an image built one RUN or COPY at a time. Tagged v1; the config
carries the diff_ids. The same machine and arguments always give the same
digests.
"""
import hashlib, io, json, os, subprocess, sys, tarfile


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def tar_of(paths, limit):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for p in paths:
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if not os.path.isfile(p) or os.path.islink(p) or st.st_size > 64 << 20:
                continue
            if buf.tell() + st.st_size > limit:
                break
            info = tarfile.TarInfo(p.lstrip("/"))
            info.size, info.mtime, info.mode = st.st_size, 1700000000, 0o644
            try:
                with open(p, "rb") as f:
                    tar.addfile(info, f)
            except OSError:
                continue
    return buf.getvalue()


def files_under(*roots):
    out = []
    for root in roots:
        for d, dirs, files in os.walk(root):
            dirs.sort()
            out += [os.path.join(d, f) for f in sorted(files)]
    return out


def pigz(data):
    return subprocess.run(["pigz", "-n", "-6", "-c"], input=data, check=True,
                          capture_output=True).stdout


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, "blobs", "sha256"))

    def put(b):
        d = digest(b)
        with open(os.path.join(out, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(b)
        return d

    if sys.argv[2] == "--small-layers":
        files = [p for p in files_under("/usr/share/doc")
                 if os.path.isfile(p) and not os.path.islink(p) and os.path.getsize(p) < 32 << 10]
        tars, group, size = [], [], 0
        for p in files:
            if size + os.path.getsize(p) > 100 << 10:
                tars.append(tar_of(group, 1 << 30))
                group, size = [], 0
                if len(tars) == int(sys.argv[3]):
                    break
            group.append(p)
            size += os.path.getsize(p)
        blobs = [(pigz(t), "tar+gzip") for t in tars]
    else:
        mb = int(sys.argv[2])
        tars = [tar_of(files_under("/usr/lib", "/usr/share"), mb << 20),
                tar_of(files_under("/etc/apt", "/etc/ssl/certs"), 4 << 20),
                tar_of(files_under("/usr/share/doc/openssl", "/usr/share/doc/skopeo"), 2 << 20)]
        blobs = [(pigz(tars[0]), "tar+gzip"), (pigz(tars[1]), "tar+gzip"), (tars[2], "tar")]
    layers = [{"mediaType": "application/vnd.oci.image.layer.v1." + t, "digest": put(b),
               "size": len(b)} for b, t in blobs]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [digest(t) for t in tars]},
                         "config": {"Cmd": ["/bin/sh"]}}, separators=(",", ":")).encode()
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": put(config), "size": len(config)},
                           "layers": layers}, separators=(",", ":")).encode()
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(out, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest),
            "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, f)
    print(sum(l["size"] for l in layers))


if __name__ == "__main__":
    main()
