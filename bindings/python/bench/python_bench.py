#!/usr/bin/python3
"""The Python binding against the CLI on the same big layer.

Usage: PYTHONPATH=build/release/bindings/python \\
         bindings/python/bench/python_bench.py CLI_DIR [LAYER_MIB] [--runs N] [--dir DIR]

CLI_DIR holds `layercrypt` and `layercrypt-decoder` (build/release/tools).
The layer is a tar of /usr/lib cut at LAYER_MIB MiB (default 256). Runs
(default 5) interleave the contenders; each row prints the median and range
of wall time and GB/s (10^9 bytes of layer per second), the median CPU
time (all threads; children for the CLI), and the speed relative to its
peer (median against median, best against best), for the same work:

  encrypt one layer, no compression and gzip:
      `layercrypt encrypt-layer -r jwe:KEY -o OUT LAYER`
      encrypt_layer(path, path) / (open files, through the callbacks)
  decrypt one layer, no unverified byte released:
      `layercrypt-decoder` as containerd runs it, stdin the blob file (read
      twice: MAC, then decrypt), stdout a file, payload on fd 3; and, for
      reference, with --stream (one pass, unverified bytes released)
      decrypt_layer(path, path): one pass into a private temporary file,
      renamed into place once the MAC verified
      decrypt_layer(open files): through the callbacks; the C API cannot
      rewind a reader, so the ciphertext is spooled (to DIR) first
  decrypt an image (the one-layer image the CLI encrypted):
      `layercrypt decrypt --key KEY SRC DST`
      decrypt_image(SRC, DST, KEY)

Every output goes to DIR (default a new directory in /dev/shm, where fsync
costs nothing; give a disk directory to include the syncs both sides make).
Spools go to DIR too (TMPDIR). Key: tests/vectors/ocicrypt/keys/rsa2048.
The CLI's times include its process start (a few ms).
"""

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "tools"))
import ocitest  # noqa: E402

import layercrypt  # noqa: E402

KEY = REPO / "tests" / "vectors" / "ocicrypt" / "keys" / "rsa2048.pem"
KEY_DIR = REPO / "tests" / "vectors" / "ocicrypt" / "keys" / "dirs" / "rsa2048"
PUB = "jwe:" + str(REPO / "tests" / "vectors" / "ocicrypt" / "keys" / "rsa2048.pub.pem")
TAR = "application/vnd.oci.image.layer.v1.tar"


def cpu_model():
    model = platform.processor()
    family = cpu_model_id = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k == "model name":
                model = v
            elif k == "cpu family":
                family = v
            elif k == "model" and not cpu_model_id:
                cpu_model_id = v
    return f"{model} (family {family}, model {cpu_model_id}), {os.cpu_count()} CPUs"


def make_layer(path, mib):
    with open(path, "wb") as out:
        tar = subprocess.Popen(["tar", "cf", "-", "/usr/lib"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
        left = mib << 20
        while left:
            chunk = tar.stdout.read(min(left, 1 << 20))
            if not chunk:
                raise SystemExit(f"/usr/lib holds less than {mib} MiB of tar")
            out.write(chunk)
            left -= len(chunk)
        tar.kill()
        tar.wait()


def run_decoder(decoder, blob, payload, out, *args):
    """The decoder as containerd runs it: the payload on fd 3."""
    r, w = os.pipe()
    os.write(w, payload)  # small: fits in the pipe
    os.close(w)
    with open(blob, "rb") as stdin, open(out, "wb") as stdout:
        subprocess.run([decoder, "--decryption-keys-path", str(KEY_DIR), *args], stdin=stdin,
                       stdout=stdout, check=True, pass_fds=(r,), preexec_fn=lambda: os.dup2(r, 3))
    os.close(r)


def cpu_seconds():
    """CPU time of this process (all its threads) and of its waited-for children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Row:
    def __init__(self, name, nbytes):
        self.name, self.nbytes, self.times, self.cpu = name, nbytes, [], []

    def time(self, f):
        cpu, start = cpu_seconds(), time.perf_counter()
        f()
        self.times.append(time.perf_counter() - start)
        self.cpu.append(cpu_seconds() - cpu)

    def gbps(self, t):
        return self.nbytes / t / 1e9

    def line(self, peer=None):
        med = statistics.median(self.times)
        s = (f"  {self.name:<46} {med:6.3f} s {self.gbps(med):5.2f} GB/s "
             f"({self.gbps(max(self.times)):.2f}-{self.gbps(min(self.times)):.2f})  "
             f"cpu {statistics.median(self.cpu):5.2f} s")
        if peer is not None:
            s += (f"  {statistics.median(peer.times) / med * 100:5.1f}% of the CLI's speed, best "
                  f"{min(peer.times) / min(self.times) * 100:5.1f}%")
        return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cli_dir")
    ap.add_argument("mib", nargs="?", type=int, default=256)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir")
    args = ap.parse_args()
    cli = os.path.join(args.cli_dir, "layercrypt")
    decoder = os.path.join(args.cli_dir, "layercrypt-decoder")
    work = Path(args.dir or tempfile.mkdtemp(prefix="layercrypt-pybench-", dir="/dev/shm"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(work)
    tempfile.tempdir = None
    try:
        bench(cli, decoder, work, args)
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


def bench(cli, decoder, work, args):
    layer = work / "layer.tar"
    make_layer(layer, args.mib)
    size = layer.stat().st_size
    ocitest.write_image(str(work / "plain"), [(layer.read_bytes(), TAR, b"")])
    subprocess.run([cli, "encrypt", "-r", PUB, f"oci:{work / 'plain'}:v1", f"oci:{work / 'enc'}:v1"],
                   check=True, stdout=subprocess.DEVNULL)
    (desc,) = ocitest.Layout(str(work / "enc")).layers()
    blob = ocitest.Layout(str(work / "enc")).blob_path(desc["digest"])
    payload = ocitest.make_payload(desc)
    keys = layercrypt.Keys(str(KEY))

    def py_files(f, src, dst, *a, **kw):
        with open(src, "rb") as i, open(dst, "wb") as o:
            return f(i, o, *a, **kw)

    out = work / "out"
    rows = {}
    for compression in ("none", "gzip"):
        flag = [] if compression == "none" else ["--compress", compression]
        rows[f"enc-{compression}"] = [
            (Row(f"encrypt, {compression}: layercrypt encrypt-layer", size),
             lambda flag=flag: subprocess.run([cli, "encrypt-layer", *flag, "-r", PUB, "-o", out, layer],
                                              check=True, stdout=subprocess.DEVNULL)),
            (Row(f"encrypt, {compression}: encrypt_layer(path, path)", size),
             lambda c=compression: layercrypt.encrypt_layer(layer, out, PUB, compression=c)),
            (Row(f"encrypt, {compression}: encrypt_layer(file, file)", size),
             lambda c=compression: py_files(layercrypt.encrypt_layer, layer, out, PUB, compression=c)),
        ]
    rows["dec-layer"] = [
        (Row("decrypt layer: layercrypt-decoder file > file", size),
         lambda: run_decoder(decoder, blob, payload, out)),
        (Row("decrypt layer: layercrypt-decoder --stream", size),
         lambda: run_decoder(decoder, blob, payload, out, "--stream")),
        (Row("decrypt layer: decrypt_layer(path, path)", size),
         lambda: layercrypt.decrypt_layer(blob, out, desc, keys)),
        (Row("decrypt layer: decrypt_layer(file, file)", size),
         lambda: py_files(layercrypt.decrypt_layer, blob, out, desc, keys)),
    ]

    def fresh(name):
        shutil.rmtree(work / name, ignore_errors=True)
        return f"oci:{work / name}:v1"

    rows["dec-image"] = [
        (Row("decrypt image: layercrypt decrypt", size),
         lambda: subprocess.run([cli, "decrypt", "--key", KEY, f"oci:{work / 'enc'}:v1", fresh("dec")],
                                check=True, stdout=subprocess.DEVNULL)),
        (Row("decrypt image: decrypt_image()", size),
         lambda: layercrypt.decrypt_image(f"oci:{work / 'enc'}:v1", fresh("dec"), keys)),
    ]
    for _ in range(args.runs):
        for group in rows.values():
            for row, f in group:
                row.time(f)

    print(f"layercrypt {layercrypt.__version__} Python binding vs CLI, {size / 1e6:.0f} MB layer "
          f"(tar of /usr/lib), {args.runs} runs interleaved, median (range) in GB/s")
    print(f"CPU: {cpu_model()}; load average before: {os.getloadavg()[0]:.2f}; outputs in {work}")
    for group in rows.values():
        peer = group[0][0]
        print(peer.line())
        for row, _ in group[1:]:
            print(row.line(peer))


if __name__ == "__main__":
    main()
