#!/usr/bin/python3
"""tools/check_include_directions.py passes on this tree and catches each
kind of violation it exists for.

Usage: include_directions_test.py ROOT
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = None


def check(root):
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", "check_include_directions.py"), root],
                          capture_output=True, text=True)


class IncludeDirections(unittest.TestCase):
    def test_this_tree_holds_the_directions(self):
        r = check(ROOT)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("0 violations", r.stdout)

    def test_each_kind_of_violation_is_caught(self):
        tmp = tempfile.mkdtemp(prefix="layercrypt-includes-")
        try:
            cases = {
                "engine/keywrap/a.cc": '#include "engine/stream/layer_cipher.h"\n',
                "engine/core/b.h": '#include "engine/ocicrypt/media_types.h"\n',
                "engine/image/c.cc": '#include "engine/containerd/payload.h"\n',
                "kernels/d.cc": '#include "engine/core/status.h"\n',
                "tools/x/e.cc": '#include "kernels/aes_ctr.h"\n',
                "engine/f.cc": "int f();\n",
            }
            ok = {"engine/containerd/g.cc": '#include "engine/image/oci_layout.h"\n#include "kernels/cpu.h"\n',
                  "tests/h.cc": '#include "kernels/aes_ctr.h"\n'}
            for rel, text in {**cases, **ok}.items():
                os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
                with open(os.path.join(tmp, rel), "w") as f:
                    f.write(text)
            r = check(tmp)
            self.assertEqual(r.returncode, 1)
            for rel in cases:
                self.assertIn(rel, r.stdout)
            for rel in ok:
                self.assertNotIn(rel, r.stdout)
            self.assertIn(f"{len(cases)} violations", r.stdout)
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    ROOT = os.path.abspath(sys.argv[1])
    unittest.main(argv=sys.argv[:1], verbosity=2)
