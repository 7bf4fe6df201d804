#!/usr/bin/python3
"""The few CRI and containerd gRPC calls the end-to-end test makes, over
Debian's python3-grpcio without generated stubs: the messages are small and
encoded here by field number (from containerd's and CRI's .proto files).

Usage as a program (run with /usr/bin/python3):
  containerd_client.py SOCKET version
  containerd_client.py SOCKET pull IMAGE_REF
  containerd_client.py SOCKET status IMAGE_REF
  containerd_client.py SOCKET list

CRI calls try runtime.v1 first, then runtime.v1alpha2 (containerd 1.6
serves both). containerd's own services take the namespace from the
`containerd-namespace` metadata key; CRI uses the `k8s.io` namespace.
"""
import os
import sys

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from ocitest import varint  # noqa: E402


def ld(field, payload):
    """One length-delimited field (string, bytes or embedded message)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return varint((field << 3) | 2) + varint(len(payload)) + payload


def vint(field, n):
    """One varint field (int64 and friends, non-negative)."""
    return varint(field << 3) + varint(n)


def string_map(field, entries):
    """A map<string, string> field: one entry message per key."""
    return b"".join(ld(field, ld(1, k) + ld(2, v)) for k, v in sorted(entries.items()))


def parse(buf):
    """One message level as a list of (field, wire type, value)."""
    i, out = 0, []

    def read_varint():
        nonlocal i
        v, shift = 0, 0
        while True:
            b = buf[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return v

    while i < len(buf):
        key = read_varint()
        f, wt = key >> 3, key & 7
        if wt == 0:
            v = read_varint()
        elif wt == 2:
            n = read_varint()
            v = bytes(buf[i:i + n])
            i += n
        elif wt == 1:
            v = bytes(buf[i:i + 8])
            i += 8
        elif wt == 5:
            v = bytes(buf[i:i + 4])
            i += 4
        else:
            raise ValueError("unsupported protobuf wire type %d" % wt)
        out.append((f, wt, v))
    return out


# containerd.types.Descriptor and containerd.types.Mount.

def descriptor(desc):
    """An OCI descriptor dict as containerd.types.Descriptor."""
    return (ld(1, desc["mediaType"]) + ld(2, desc["digest"]) + vint(3, desc["size"]) +
            string_map(5, desc.get("annotations", {})))


def fields(buf, names):
    """One message's fields as a dict: names maps field number to (name,
    default); a list default collects a repeated field. Strings are decoded,
    varints are ints; absent fields keep their default (proto3 omits them)."""
    out = {name: (list(d) if isinstance(d, list) else d) for name, d in names.values()}
    for f, wt, v in parse(buf):
        if f in names:
            name, default = names[f]
            v = v.decode() if wt == 2 else v
            if isinstance(default, list):
                out[name].append(v)
            else:
                out[name] = v
    return out


def parse_descriptor(buf):
    return fields(buf, {1: ("mediaType", ""), 2: ("digest", ""), 3: ("size", 0)})


def mount_message(m):
    return (ld(1, m["type"]) + ld(2, m["source"]) + ld(3, m.get("target", "")) +
            b"".join(ld(4, o) for o in m["options"]))


def parse_mount(buf):
    return fields(buf, {1: ("type", ""), 2: ("source", ""), 3: ("target", ""), 4: ("options", [])})


def image_fields(img):
    return fields(img, {1: ("id", ""), 2: ("repo_tags", []), 3: ("repo_digests", []),
                        4: ("size", 0)})


class Client:
    """A connection to one containerd socket."""

    def __init__(self, socket_path):
        self.channel = grpc.insecure_channel("unix://" + socket_path)

    def close(self):
        self.channel.close()

    def _unary(self, method, request, timeout, namespace=None):
        fn = self.channel.unary_unary(method, request_serializer=lambda x: x,
                                      response_deserializer=lambda x: x)
        metadata = (("containerd-namespace", namespace),) if namespace else None
        return fn(request, timeout=timeout, metadata=metadata)

    def _cri(self, service, method, request, timeout):
        last = None
        for version in ("runtime.v1", "runtime.v1alpha2"):
            try:
                return self._unary(f"/{version}.{service}/{method}", request, timeout)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                    raise
                last = e
        raise last

    # containerd

    def containerd_version(self, timeout=10):
        r = self._unary("/containerd.services.version.v1.Version/Version", b"", timeout)
        return {f: v.decode() for f, _, v in parse(r)}

    def prepare(self, namespace, snapshotter, key, parent="", labels=None, timeout=60):
        """Snapshots.Prepare: an active snapshot on top of parent; its mounts."""
        r = self._unary("/containerd.services.snapshots.v1.Snapshots/Prepare",
                        ld(1, snapshotter) + ld(2, key) + ld(3, parent) +
                        string_map(4, labels or {}), timeout, namespace)
        return [parse_mount(v) for f, _, v in parse(r) if f == 1]

    def view(self, namespace, snapshotter, key, parent, labels=None, timeout=60):
        """Snapshots.View: a read-only view of parent; its mounts."""
        r = self._unary("/containerd.services.snapshots.v1.Snapshots/View",
                        ld(1, snapshotter) + ld(2, key) + ld(3, parent) +
                        string_map(4, labels or {}), timeout, namespace)
        return [parse_mount(v) for f, _, v in parse(r) if f == 1]

    def commit(self, namespace, snapshotter, name, key, labels=None, timeout=60):
        self._unary("/containerd.services.snapshots.v1.Snapshots/Commit",
                    ld(1, snapshotter) + ld(2, name) + ld(3, key) + string_map(4, labels or {}),
                    timeout, namespace)

    def remove_snapshot(self, namespace, snapshotter, key, timeout=60):
        self._unary("/containerd.services.snapshots.v1.Snapshots/Remove",
                    ld(1, snapshotter) + ld(2, key), timeout, namespace)

    def apply(self, namespace, desc, mounts, payloads, timeout=300):
        """Diff.Apply: unpacks the layer `desc` (from the content store) onto
        mounts, handing payloads {processor id: (type_url, value)} to the
        stream processors; returns the applied (uncompressed) descriptor."""
        req = ld(1, descriptor(desc)) + b"".join(ld(2, mount_message(m)) for m in mounts)
        for pid, (type_url, value) in sorted(payloads.items()):
            req += ld(3, ld(1, pid) + ld(2, ld(1, type_url) + ld(2, value)))
        r = self._unary("/containerd.services.diff.v1.Diff/Apply", req, timeout, namespace)
        for f, _, v in parse(r):
            if f == 1:
                return parse_descriptor(v)
        raise AssertionError("Diff.Apply returned no descriptor")

    # CRI (namespace k8s.io)

    def cri_version(self, timeout=10):
        r = self._cri("RuntimeService", "Version", ld(1, "v1"), timeout)
        return {f: v.decode() for f, wt, v in parse(r) if wt == 2}

    def pull(self, ref, timeout=600):
        """ImageService.PullImage, as the kubelet pulls; returns the image ref."""
        r = self._cri("ImageService", "PullImage", ld(1, ld(1, ref)), timeout)
        return dict((f, v.decode()) for f, _, v in parse(r)).get(1, "")

    def image_status(self, ref, timeout=30):
        r = self._cri("ImageService", "ImageStatus", ld(1, ld(1, ref)), timeout)
        imgs = [image_fields(v) for f, _, v in parse(r) if f == 1]
        return imgs[0] if imgs else None

    def list_images(self, timeout=30):
        r = self._cri("ImageService", "ListImages", b"", timeout)
        return [image_fields(v) for f, _, v in parse(r) if f == 1]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    client = Client(sys.argv[1])
    cmd = sys.argv[2]
    try:
        if cmd == "version":
            print(client.cri_version())
        elif cmd == "pull" and len(sys.argv) == 4:
            print("image_ref:", client.pull(sys.argv[3]))
        elif cmd == "status" and len(sys.argv) == 4:
            img = client.image_status(sys.argv[3])
            print(img if img else "NOT FOUND")
            sys.exit(0 if img else 1)
        elif cmd == "list":
            for img in client.list_images():
                print(img)
        else:
            print(__doc__, file=sys.stderr)
            sys.exit(2)
    except grpc.RpcError as e:
        print("RPC error: %s: %s" % (e.code(), e.details()), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
