#!/usr/bin/env bash
# bench/decoder_load.sh BUILD_DIR [NUM_LAYERS [LAYER_MB]]
#
# Many layers decrypted at once, as containerd does when it unpacks a large
# image: NUM_LAYERS (default 32) layercrypt-decoder processes started
# together, each on its own layer of LAYER_MB MB (default 16), on however
# few cores the host has.
#   * layer i is the i-th LAYER_MB slice of a tar stream of /usr/lib and
#     /usr/share (uncompressed tar type: the decoder does not look inside),
#     put in a one-layer OCI layout (bench/one_layer.py) and encrypted by
#     `layercrypt encrypt` for its own RSA-2048 recipient key;
#   * every decoder runs as containerd runs it: the blob on stdin through a
#     pipe (cat), the CRI payload on fd 3, its own keys directory, verify
#     first (the default: a pipe is spooled to $TMPDIR and MACed before any
#     plaintext is written), plaintext to its own output file;
#   * each output's SHA-256 must equal the slice's (the script fails
#     otherwise).
# Prints wall time from the first start to the last exit, total plaintext
# bytes, aggregate GB/s (10^9 bytes/s), the peak of the decoders' summed
# VmRSS (sampled every ~20 ms from /proc), each decoder's peak RSS (GNU
# time %M), and the spool: the sum over decoders of the largest spool file
# each had open in $TMPDIR, and the peak of those files' summed sizes at
# one time (the spool is an anonymous O_TMPFILE: it is seen through
# /proc/PID/fd). The sampler is a Python process and takes some CPU itself.
# LAYERCRYPT_BENCH_WORK=DIR keeps the setup in DIR and reuses it on the next
# run with the same arguments; LAYERCRYPT_LOAD_SPOOL_DIR=DIR spools in DIR
# (e.g. on tmpfs) instead of in the work directory.
set -euo pipefail
build=${1:?usage: bench/decoder_load.sh BUILD_DIR [NUM_LAYERS [LAYER_MB]]}
n=${2:-32}
mb=${3:-16}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$build" && pwd)
lc="$build/tools/layercrypt"
decoder="$build/tools/layercrypt-decoder"
py=/usr/bin/python3
for t in openssl /usr/bin/time sha256sum "$py" "$lc" "$decoder"; do
  command -v "$t" >/dev/null || { echo "decoder_load: $t missing (apt-get install openssl time python3; build --target layercrypt layercrypt-decoder)" >&2; exit 1; }
done
if [ -n "${LAYERCRYPT_BENCH_WORK:-}" ]; then
  work=$LAYERCRYPT_BENCH_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/layercrypt-load-XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
cd "$work"
bytes=$((mb * 1000000))

# setup: layer-$i/ (slice, key, plain and encrypted layouts, payload) for
# every i, in the current directory.
setup() {
  echo "== setup: $n layers of $mb MB, each encrypted by layercrypt encrypt for its own key" >&2
  rm -rf layer-* .ready
  { tar cf - /usr/lib /usr/share 2>/dev/null || true; } | head -c "$((n * bytes))" > all.tar
  [ "$(stat -c %s all.tar)" -eq "$((n * bytes))" ] || { echo "decoder_load: /usr has less than $((n * mb)) MB to slice" >&2; exit 1; }
  for i in $(seq 0 $((n - 1))); do
    d=layer-$i
    mkdir -p "$d/keys"
    dd if=all.tar of="$d/plain.bin" bs=1000000 skip="$((i * mb))" count="$mb" status=none
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/keys/node.pem" 2>/dev/null
    openssl pkey -in "$d/keys/node.pem" -pubout -out "$d/node.pub.pem"
    "$py" "$root/bench/one_layer.py" image "$d/plain.bin" application/vnd.oci.image.layer.v1.tar "$d/plain"
    "$lc" encrypt --recipient "jwe:$d/node.pub.pem" "$d/plain:v1" "$d/enc:v1" >/dev/null
    "$py" "$root/bench/one_layer.py" payload "$d/enc" "$d/payload" > "$d/blob-path"
    sha256sum < "$d/plain.bin" | cut -d' ' -f1 > "$d/plain.sha256"
    rm -rf "$d/plain"
  done
  rm -f all.tar
  echo "$n $mb" > .ready
}
[ "$(cat .ready 2>/dev/null)" = "$n $mb" ] || setup

# The decoders' TMPDIR: a directory of its own inside the given one, which
# is the only thing removed (never the given directory itself).
spool_dir=$(mktemp -d "${LAYERCRYPT_LOAD_SPOOL_DIR:-$work}/layercrypt-load-spool.XXXXXX")
trap 'rm -rf "$spool_dir"; [ -n "${LAYERCRYPT_BENCH_WORK:-}" ] || rm -rf "$work"' EXIT
rm -rf out && mkdir -p out
for i in $(seq 0 $((n - 1))); do cat "$(cat layer-$i/blob-path)" >/dev/null; done  # warm the page cache
sync

# The sampler: every ~20 ms, the decoders (processes whose executable is
# $decoder) and their VmRSS and open spool files; prints its summary when
# out/.stop appears.
"$py" - "$decoder" "$spool_dir" out/.stop >out/sampler.txt <<'PY' &
import os, sys, time
exe, spool, stop = os.path.realpath(sys.argv[1]), os.path.realpath(sys.argv[2]), sys.argv[3]
peak_rss = peak_spool = samples = 0
seen, others, spool_max = set(), set(), {}
while not os.path.exists(stop):
    rss = spool_now = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if pid in others:
            continue
        try:
            if os.readlink(f"/proc/{pid}/exe") != exe:
                if samples == 0:
                    others.add(pid)  # there before the decoders: not looked at again
                continue
            seen.add(pid)
            with open(f"/proc/{pid}/status") as f:
                rss += next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(spool + "/"):
                    size = os.stat(f"/proc/{pid}/fd/{fd}").st_size
                    spool_now += size
                    spool_max[pid] = max(spool_max.get(pid, 0), size)
        except (OSError, StopIteration):
            continue  # the process ended while we looked
    peak_rss, peak_spool = max(peak_rss, rss), max(peak_spool, spool_now)
    samples += 1
    time.sleep(0.02)
print(len(seen), samples, peak_rss, sum(spool_max.values()), peak_spool)
PY
sampler=$!

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$EPOCHREALTIME
pids=()
for i in $(seq 0 $((n - 1))); do
  d=layer-$i
  cat "$(cat $d/blob-path)" |
    TMPDIR="$spool_dir" /usr/bin/time -f %M -o "out/rss-$i" \
      "$decoder" --decryption-keys-path "$d/keys" 3<"$d/payload" >"out/plain-$i" &
  pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
end=$EPOCHREALTIME
touch out/.stop
wait "$sampler"
[ "$failed" -eq 0 ] || { echo "decoder_load: $failed of $n decoders failed" >&2; exit 1; }

bad=0
for i in $(seq 0 $((n - 1))); do
  got=$(sha256sum < "out/plain-$i" | cut -d' ' -f1)
  if [ "$got" != "$(cat layer-$i/plain.sha256)" ]; then
    echo "decoder_load: layer $i decrypted to sha256 $got, expected $(cat layer-$i/plain.sha256)" >&2
    bad=$((bad + 1))
  fi
done
[ "$bad" -eq 0 ] || { echo "decoder_load: $bad of $n outputs are wrong" >&2; exit 1; }

read -r seen samples peak_rss spool_sum spool_peak < out/sampler.txt
total=$((n * bytes))
wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }')
rss_list=$(for i in $(seq 0 $((n - 1))); do tail -1 "out/rss-$i"; done | sort -n)
rss_stats=$(awk '{ v[NR] = $1; s += $1 } END { printf "min %d, median %d, max %d KiB; sum %.0f MiB", v[1], v[int((NR + 1) / 2)], v[NR], s / 1024 }' <<<"$rss_list")
printf '%-44s %s\n' "spool directory (TMPDIR)" "$spool_dir ($(stat -f -c %T "$spool_dir"))"
printf '%-44s %s\n' "decoders at once" "$n (each on its own ${mb} MB layer, pipe -> file, verify first)" \
  "outputs checked" "$n of $n SHA-256 equal to the plaintext" \
  "wall time, first start to last exit" "$wall s" \
  "plaintext bytes" "$total" \
  "aggregate" "$(awk -v b="$total" -v s="$wall" 'BEGIN { printf "%.2f GB/s", b / s / 1e9 }')" \
  "peak summed VmRSS (sampled, ~20 ms)" "$(awk -v k="$peak_rss" 'BEGIN { printf "%.0f MiB", k / 1024 }') ($seen decoders seen, $samples samples)" \
  "per-process peak RSS (GNU time)" "$rss_stats" \
  "spool files in TMPDIR (largest seen, summed)" "$(awk -v b="$spool_sum" 'BEGIN { printf "%.1f MB", b / 1e6 }')" \
  "spool files open at once (peak of the sum)" "$(awk -v b="$spool_peak" 'BEGIN { printf "%.1f MB", b / 1e6 }')"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) threads; $("$decoder" --version)"
