#!/usr/bin/python3
"""One-layer OCI images and containerd payloads for the bench scripts.

Usage:
  one_layer.py image BLOB MEDIA_TYPE DIR [TAR]
      writes DIR, an OCI layout tagged v1 whose only layer is BLOB (of type
      MEDIA_TYPE); the config's diff_id is the digest of TAR (default BLOB)
  one_layer.py payload DIR OUT
      writes OUT, the CRI node-model fd-3 payload of DIR's only layer, and
      prints the path of that layer's blob
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
import ocitest  # noqa: E402


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main(argv):
    if len(argv) >= 5 and argv[1] == "image":
        blob = read(argv[2])
        tar = read(argv[5]) if len(argv) > 5 else blob
        ocitest.write_image(argv[4], [(blob, argv[3], tar)])
        return 0
    if len(argv) == 4 and argv[1] == "payload":
        lay = ocitest.Layout(argv[2])
        desc = next(lay.layers())
        with open(argv[3], "wb") as f:
            f.write(ocitest.make_payload(desc))
        print(lay.blob_path(desc["digest"]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
