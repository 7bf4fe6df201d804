#!/usr/bin/python3
"""layercrypt-decoder starts once per layer, and so does
`layercrypt-keyprovider cmd` (ocicrypt runs it once per layer key), so what
they load at start is part of every layer's fixed cost. They link only the
data-plane libraries; the gRPC client (engine/keywrap/provider/grpc_client.h),
the key provider's gRPC server
(tools/layercrypt-keyprovider/grpc_server_module.h) and PKCS#11 modules are
loaded with dlopen when a request needs them, and so is every scheme's heavy
library. This test reads the program's DT_NEEDED entries and fails on any
library outside that set, and names gRPC, protobuf and abseil apart, so a
heavy dependency cannot slip into the start unnoticed.

Usage: program_libraries_test.py PROGRAM   (layercrypt-decoder, layercrypt-keyprovider)
"""

import os
import re
import subprocess
import sys
import unittest

PROGRAM = None

# The libraries the program may link, by soname prefix.
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

# gRPC and what it brings: only the modules may link these.
GRPC = re.compile(r"^lib(grpc|gpr|protobuf|absl|upb|address_sorting|cares|re2)")


def needed(path):
    out = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def outside_allowed(libs):
    return [lib for lib in libs if not lib.startswith(ALLOWED)]


def grpc_libraries(libs):
    return [lib for lib in libs if GRPC.match(lib)]


class ProgramLibraries(unittest.TestCase):
    def test_no_grpc_library_is_linked(self):
        libs = needed(PROGRAM)
        self.assertIn("libcrypto.so.3", libs)  # readelf's output was understood
        grpc = grpc_libraries(libs)
        self.assertEqual(grpc, [], f"{os.path.basename(PROGRAM)} links {grpc}: "
                         "gRPC belongs in the modules loaded on first use")

    def test_only_data_plane_libraries_are_linked(self):
        extra = outside_allowed(needed(PROGRAM))
        self.assertEqual(extra, [], f"{os.path.basename(PROGRAM)} links {extra}; "
                         "load them on first use instead")

    def test_the_check_flags_the_libraries_loaded_on_demand(self):
        libs = ["libcrypto.so.3", "librnp.so.0", "libgrpc++.so.1.51", "libbotan-2.so.19", "libtbb.so.12",
                "libprotobuf.so.32", "libabsl_synchronization.so.20220623"]
        self.assertEqual(outside_allowed(libs), ["librnp.so.0", "libgrpc++.so.1.51", "libbotan-2.so.19",
                                                 "libprotobuf.so.32", "libabsl_synchronization.so.20220623"])
        self.assertEqual(grpc_libraries(libs), ["libgrpc++.so.1.51", "libprotobuf.so.32",
                                                "libabsl_synchronization.so.20220623"])


if __name__ == "__main__":
    PROGRAM = sys.argv.pop(1)
    unittest.main(verbosity=2)
