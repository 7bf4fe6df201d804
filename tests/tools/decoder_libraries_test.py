#!/usr/bin/python3
"""layercrypt-decoder starts once per layer, so what it loads at start is
part of every layer's fixed cost. It links only the data-plane libraries;
the gRPC client (engine/keywrap/provider/grpc_client.h) and PKCS#11 modules
are loaded with dlopen when a layer needs them, and so is every scheme's
heavy library. This test reads the decoder's DT_NEEDED entries and
fails on any library outside that set, so a heavy dependency cannot slip
into the decoder's start unnoticed.

Usage: decoder_libraries_test.py LAYERCRYPT_DECODER
"""

import re
import subprocess
import sys
import unittest

DECODER = None

# The libraries the decoder may link, by soname prefix.
ALLOWED = (
    "libc.so", "libm.so", "libdl.so", "libpthread.so", "ld-linux", "libgcc_s.so", "libstdc++.so",
    "libcrypto.so",    # OpenSSL: RSA, EC, SHA-256, HMAC
    "libIPSec_MB.so",  # AES-CTR, AES-GCM, multi-buffer HMAC
    "libisal.so",      # gzip inflate, CRC
    "libzstd.so", "libz.so",
    "libtbb.so",       # the chunk pipeline
    "libyaml-cpp.so",  # pkcs11 key YAMLs (LAYERCRYPT_WITH_PKCS11)
    "libasan.so", "libubsan.so", "libtsan.so",  # the sanitizer builds' runtimes
)


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def outside_allowed(libs):
    return [lib for lib in libs if not lib.startswith(ALLOWED)]


class DecoderLibraries(unittest.TestCase):
    def test_only_data_plane_libraries_are_linked(self):
        libs = needed(DECODER)
        self.assertIn("libcrypto.so.3", libs)  # readelf's output was understood
        extra = outside_allowed(libs)
        self.assertEqual(extra, [], f"layercrypt-decoder links {extra}; load them on first use instead")

    def test_the_check_flags_the_libraries_loaded_on_demand(self):
        libs = ["libcrypto.so.3", "librnp.so.0", "libgrpc++.so.1.51", "libbotan-2.so.19", "libtbb.so.12"]
        self.assertEqual(outside_allowed(libs), ["librnp.so.0", "libgrpc++.so.1.51", "libbotan-2.so.19"])


if __name__ == "__main__":
    DECODER = sys.argv.pop(1)
    unittest.main(verbosity=2)
