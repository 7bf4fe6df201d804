#!/usr/bin/python3
"""bench/pull_bench.py: what an encrypted pull costs containerd, against a plain one.

Usage: bench/pull_bench.py BIN_DIR [--base-mb N] [--repeats N] [--warmup N]
                           [--containerd {1.6,2,both}]

BIN_DIR holds tools/layercrypt and tools/layercrypt-decoder (a build
directory). The script builds the deterministic sample image
(bench/make_sample_image.py: a tar+gzip base layer of system files of up to
N MB of tar, default 600, plus two small layers), encrypts it with
`layercrypt encrypt`, pushes the plain and the encrypted image to Debian's
docker-registry on 127.0.0.1, and pulls through CRI (as the kubelet does),
each pull into a fresh containerd (overlayfs snapshotter), interleaved:
Debian 12's containerd 1.6, and containerd 2.x from Debian sid (fetched
once into /var/cache/layercrypt-peers, see tests/e2e/peers.py) pulling
through its transfer service, its default, which runs the decoder without
a payload (the decoder reads the layer's descriptor from containerd's
content store). The ways, for each containerd (2.x ones prefixed `c2-`):

  plain      the unencrypted image
  enc-targz  encrypted; layercrypt-decoder returns tar+gzip and containerd
             decompresses (1.6 with unpigz when pigz is installed; 2.x with
             ISA-L's igzip when isal is installed, else unpigz)
  enc-tar    encrypted; `layercrypt-decoder --decompress` returns the tar
The decoder runs with --stats (through a wrapper that logs its stderr): each
encrypted pull also reports the bytes the decoder spooled to $TMPDIR (small
layers are kept in memory until their MAC verifies) and how many layers it
read from containerd's content store instead.

For each pull it reports the wall time of the PullImage call and the CPU
seconds of containerd plus its children (utime+stime+cutime+cstime from
/proc/PID/stat, before and after: the decoder, unpigz and containerd's own
untar and digest work); then, per containerd, the medians and their ratios
to that containerd's plain pull. Wall time is noisy on a shared host; CPU
is the steadier figure. Needs root (overlayfs); installs containerd,
docker-registry, skopeo, umoci and python3-grpcio if missing.
"""

import argparse
import os
import re
import platform
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import peers  # noqa: E402


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def run(*cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bin_dir")
    ap.add_argument("--base-mb", type=int, default=600)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--containerd", choices=("1.6", "2", "both"), default="both",
                    help="which containerd pulls (default both, interleaved)")
    a = ap.parse_args()
    bin_dir = os.path.abspath(a.bin_dir)
    lc = os.path.join(bin_dir, "tools", "layercrypt")
    decoder = os.path.join(bin_dir, "tools", "layercrypt-decoder")
    peers.enter_private_mount_namespace()
    try:
        peers.check_machine()
    except peers.CannotRun as e:
        sys.exit(f"pull_bench: this machine cannot run containerd: {e}")
    if a.containerd != "1.6":
        peers.containerd2_bin_dir()  # fetched before anything is timed
    scratch = peers.Scratch()
    try:
        bench(scratch, lc, decoder, a)
    finally:
        scratch.close()


def bench(scratch, lc, decoder, a):
    d = scratch.sub("images")
    plain, enc = os.path.join(d, "plain"), os.path.join(d, "enc")
    peers.log(f"sample image: tar+gzip base layer of up to {a.base_mb} MB of tar, two small layers")
    run(sys.executable, os.path.join(HERE, "make_sample_image.py"), plain, str(a.base_mb))
    keys = scratch.sub("keys")
    run(lc, "keygen", "--type", "ec:p256", "--out", os.path.join(scratch.path, "node"))
    shutil.copy(os.path.join(scratch.path, "node.pem"), keys)
    run(lc, "encrypt", "--recipient", "jwe:" + os.path.join(scratch.path, "node.pub.pem"),
        f"{plain}:v1", f"{enc}:v1")
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "tools"))
    import ocitest
    layers = next(ocitest.Layout(plain).manifests())["layers"]
    enc_layers = next(ocitest.Layout(enc).manifests())["layers"]
    registry = peers.Registry(scratch)
    refs = {"plain": registry.push(plain, "v1", "bench/plain"),
            "enc": registry.push(enc, "v1", "bench/enc")}
    subprocess.run(["sync"])

    # The decoder runs with --stats through a wrapper that execs it (so its
    # parent stays containerd) and appends its stderr to a log: after each
    # pull the log says how many layers were read from containerd's content
    # store and how many bytes were spooled.
    stats_log = os.path.join(scratch.path, "decoder-stats.log")
    wrapper = os.path.join(scratch.path, "layercrypt-decoder-stats")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec {decoder} --stats "$@" 2>>{stats_log}\n')
    os.chmod(wrapper, 0o755)
    spooled = {}  # name -> [(bytes spooled, layers read from the content store)] per run
    decoder = wrapper

    # (name, containerd, reference, [stream_processors])
    ways = []
    if a.containerd != "2":
        ways += [("plain", peers.Containerd, refs["plain"], ""),
                 ("enc-targz", peers.Containerd, refs["enc"],
                  peers.stream_processors(decoder, keys, False)),
                 ("enc-tar", peers.Containerd, refs["enc"],
                  peers.stream_processors(decoder, keys, True))]
    if a.containerd != "1.6":
        ways += [("c2-plain", peers.Containerd2, refs["plain"], ""),
                 ("c2-enc-targz", peers.Containerd2, refs["enc"],
                  peers.stream_processors(decoder, keys, False, zstd=True)),
                 ("c2-enc-tar", peers.Containerd2, refs["enc"],
                  peers.stream_processors(decoder, keys, True, zstd=True))]

    results = {name: [] for name, _, _, _ in ways}
    rounds = [("warmup", i) for i in range(a.warmup)] + [("run", i) for i in range(a.repeats)]
    n = 0
    for kind, i in rounds:
        for name, containerd, ref, procs in ways:
            n += 1
            node = containerd(scratch, f"pull-{n}", registry.host, procs)
            try:
                time.sleep(1)  # let start-up work settle
                node.wait_no_children()
                cpu0, t0 = node.cpu_seconds(), time.monotonic()
                node.client.pull(ref)
                wall = time.monotonic() - t0
                node.wait_no_children()
                cpu = node.cpu_seconds() - cpu0
                row = [l.split() for l in node.ctr("images", "check").stdout.splitlines()]
                row = [l for l in row if l and l[0] == ref]
                if len(row) != 1 or row[0][3] != "complete" or row[0][-1] != "true":
                    sys.exit(f"pull of {ref} is not complete and unpacked: {row}\n{node.log_tail()}")
            except BaseException:
                peers.log(f"--- containerd log tail ---\n{node.log_tail()}")
                raise
            finally:
                node.stop()
                peers.unmount_all(node.dir)
                shutil.rmtree(node.dir, ignore_errors=True)
                subprocess.run(["sync"])
            spool, from_store = 0, 0
            if os.path.exists(stats_log):
                with open(stats_log) as f:
                    for line in f:
                        m = re.search(r"spooled (\d+) bytes", line)
                        if m and "in $TMPDIR" in line:
                            spool += int(m.group(1))
                        from_store += m is not None and "content store's blob file" in line
                os.remove(stats_log)
            tag = "warm-up" if kind == "warmup" else f"round {i + 1}"
            extra = (f"   spooled to $TMPDIR {spool} B, {from_store} layers from the content store"
                     if procs else "")
            print(f"  {tag:8} {name:12} wall {wall:7.2f} s   CPU {cpu:7.2f} s{extra}", flush=True)
            if kind == "run":
                results[name].append((wall, cpu))
                if procs:
                    spooled.setdefault(name, []).append((spool, from_store))

    base_mb = layers[0]["size"] / 1e6
    pigz = "unpigz" if shutil.which("unpigz") else "Go gzip"
    versions = []
    if a.containerd != "2":
        versions.append(f"containerd {run('containerd', '--version').split()[2]} "
                        f"(gunzip by {pigz})")
    if a.containerd != "1.6":
        c2 = os.path.join(peers.containerd2_bin_dir(), "containerd")
        versions.append(f"containerd {run(c2, '--version').split()[2]} (c2-, transfer service, "
                        f"gunzip by {'igzip' if shutil.which('igzip') else pigz})")
    print()
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; {', '.join(versions)}; overlayfs; "
          f"{run(decoder, '--version').strip()}; {time.strftime('%Y-%m-%d')}")
    if base_mb < 200:
        print(f"note: the base layer is {base_mb:.0f} MB, under 200 MB: raise --base-mb")
    print(f"image: base layer {base_mb:.1f} MB tar+gzip "
          f"({layers[0]['size']} B, encrypted {enc_layers[0]['size']} B) + "
          f"{', '.join('%.2f MB' % (l['size'] / 1e6) for l in layers[1:])}; "
          f"{a.repeats} interleaved rounds after {a.warmup} warm-up, fresh containerd root each pull")
    print(f"{'way':14} {'wall median s':>14} {'CPU median s':>13} {'wall ÷ plain':>13} {'CPU ÷ plain':>12}")
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for k, v in results.items()}

    def plain_of(name):  # each containerd's ways against its own plain pull
        return "c2-plain" if name.startswith("c2-") else "plain"
    for name, (w, c) in med.items():
        pw, pc = med[plain_of(name)]
        print(f"{name:14} {w:14.2f} {c:13.2f} {w / pw:13.3f} {c / pc:12.3f}")
    # Per-round ratios (each encrypted pull against the plain pull of its round).
    for name in med:
        if name == plain_of(name):
            continue
        plain = results[plain_of(name)]
        cr = [c / p[1] for (_, c), p in zip(results[name], plain)]
        wr = [w / p[0] for (w, _), p in zip(results[name], plain)]
        print(f"{name}: per-round CPU ratios {', '.join(f'{r:.3f}' for r in cr)} "
              f"(median {statistics.median(cr):.3f}); wall ratios "
              f"{', '.join(f'{r:.3f}' for r in wr)} (median {statistics.median(wr):.3f})")
    for name, runs in spooled.items():
        print(f"{name}: spooled to $TMPDIR {max(b for b, _ in runs)} bytes at most per pull; "
              f"layers read from containerd's content store per pull: "
              f"{', '.join(str(n) for _, n in runs)}")
    if "plain" in med and "c2-plain" in med:
        print(f"c2-plain ÷ plain (containerd 2 against 1.6, unencrypted): wall "
              f"{med['c2-plain'][0] / med['plain'][0]:.3f}, CPU "
              f"{med['c2-plain'][1] / med['plain'][1]:.3f}")

if __name__ == "__main__":
    main()
