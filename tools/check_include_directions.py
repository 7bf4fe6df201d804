#!/usr/bin/env python3
"""Checks that every project #include goes in an allowed direction.

    kernels          -> kernels (thin wrappers; no engine code)
    engine/core      -> core, kernels
    engine/stream    -> stream, core, kernels
    engine/ocicrypt  -> ocicrypt, core, kernels
    engine/keywrap   -> keywrap, ocicrypt, core, kernels
    engine/image     -> image, stream, keywrap, ocicrypt, core, kernels
    engine/containerd-> containerd, image, stream, keywrap, ocicrypt, core, kernels
    engine/keyrelease-> keyrelease, keywrap, ocicrypt, core, kernels
    tools, bindings  -> engine folders (and tools/), never kernels

Tests and benchmarks may include anything. Prints one line per violation
(file:line: what it includes, and what that folder may include) and exits
1 if there is any. Usage: check_include_directions.py [ROOT]
"""

import os
import re
import sys

ENGINE_ALLOWED = {
    "core": {"core"},
    "stream": {"stream", "core"},
    "ocicrypt": {"ocicrypt", "core"},
    "keywrap": {"keywrap", "ocicrypt", "core"},
    "image": {"image", "stream", "keywrap", "ocicrypt", "core"},
    "containerd": {"containerd", "image", "stream", "keywrap", "ocicrypt", "core"},
    "keyrelease": {"keyrelease", "keywrap", "ocicrypt", "core"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def allowed(src, target):
    """Whether file `src` (relative to ROOT) may include `target`."""
    top = src.split("/")[0]
    if top in ("tests", "bench"):
        return True
    tparts = target.split("/")
    if tparts[0] not in ("engine", "kernels", "tools", "bindings"):
        return True  # system or dependency header written with quotes
    if top == "kernels":
        return tparts[0] == "kernels"
    if top in ("tools", "bindings"):
        return tparts[0] in ("engine", top)
    if top == "engine":
        folder = src.split("/")[1]
        if tparts[0] == "kernels":
            return True
        return tparts[0] == "engine" and len(tparts) > 2 and tparts[1] in ENGINE_ALLOWED[folder]
    return True


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    bad = 0
    checked = 0
    for top in ("kernels", "engine", "tools", "bindings"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for name in sorted(files):
                if not name.endswith((".h", ".cc", ".c", ".hpp", ".cpp")):
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, root)
                if rel.startswith("engine/") and rel.count("/") < 2:
                    print(f"{rel}: engine sources belong in a folder of their concern")
                    bad += 1
                    continue
                with open(path, encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        checked += 1
                        if not allowed(rel, m.group(1)):
                            folder = "/".join(rel.split("/")[:2]) if rel.startswith("engine/") else rel.split("/")[0]
                            print(f"{rel}:{n}: includes {m.group(1)}, which {folder} may not "
                                  f"(see tools/check_include_directions.py)")
                            bad += 1
    print(f"include directions: {checked} includes checked, {bad} violations")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
