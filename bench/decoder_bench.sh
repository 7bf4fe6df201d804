#!/usr/bin/env bash
# bench/decoder_bench.sh BUILD_DIR [LAYER_MB]
#
# layercrypt-decoder on a realistic layer, against skopeo (Go ocicrypt) on the
# same layer in the same run:
#   * a gzip of a tar of /usr/lib (LAYER_MB of tar, default 600), put in an OCI
#     layout and encrypted by `skopeo copy --encryption-key jwe:rsa.pub.pem`;
#   * the decoder run as containerd runs it (payload on fd 3, keys directory),
#     file -> /dev/null and pipe -> pipe (fed and drained by dd with 1 MiB
#     blocks), verify-first (default) and --stream; verify-first through pipes
#     spools to $TMPDIR, measured on the disk (/tmp) and on tmpfs (/dev/shm);
#   * pipe -> pipe with the blob already in a containerd content store (read
#     twice from there, stdin drained and hashed; no spool), with the payload
#     and without one (containerd 2.1+ transfer service: the descriptor is
#     looked up in the store's manifests);
#   * fixed cost on a 1 KiB layer with RSA-2048, RSA-4096 and P-256 keys;
#   * the ceilings: one-stream HMAC-SHA256 (bench_hmac_sha256 in BUILD_DIR),
#     and the pipe harness itself (feeder and drain directly, and with a
#     process between them that only copies);
#   * peak RSS (GNU time) in every mode and for the 1 KiB layer;
#   * `skopeo copy --decryption-key` of the same image.
# Prints GB/s (10^9 bytes/s, median and range of 3 runs) with the CPU model.
# LAYERCRYPT_BENCH_WORK=DIR keeps the setup (layers, keys, images) in DIR and
# reuses it on the next run with the same LAYER_MB.
set -euo pipefail
build=${1:?usage: bench/decoder_bench.sh BUILD_DIR [LAYER_MB]}
mb=${2:-600}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$build" && pwd)
decoder="$build/tools/layercrypt-decoder"
py=/usr/bin/python3
for t in skopeo openssl pigz /usr/bin/time "$py"; do
  command -v "$t" >/dev/null || { echo "decoder_bench: $t missing (apt-get install skopeo openssl pigz time python3)" >&2; exit 1; }
done
if [ -n "${LAYERCRYPT_BENCH_WORK:-}" ]; then
  work=$LAYERCRYPT_BENCH_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/layercrypt-bench-XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi
cd "$work"

# make_image BLOB DIR: a one-layer OCI layout (tar+gzip); prints nothing.
make_image() { "$py" "$root/bench/one_layer.py" image "$1" application/vnd.oci.image.layer.v1.tar+gzip "$2"; }

# payload_for DIR OUT: the CRI node-model payload of DIR's (only) layer; sets
# LAYER to the encrypted blob's path.
payload_for() { LAYER=$("$py" "$root/bench/one_layer.py" payload "$1" "$2"); }

# setup: the layers, keys and encrypted images in the current directory.
setup() {
  echo "== setup: ${mb} MB tar of /usr/lib, gzip -6, encrypted by skopeo" >&2
  rm -rf plain enc dec tiny-plain-* tiny-* keys-* .ready
  { tar cf - /usr/lib 2>/dev/null || true; } | head -c "$((mb * 1000000))" | pigz -6 > layer.tar.gz
  head -c 1024 /dev/urandom | gzip > tiny.tar.gz
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048.pem 2>/dev/null
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out rsa4096.pem 2>/dev/null
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ecp256.pem 2>/dev/null
  for k in rsa2048 rsa4096 ecp256; do
    openssl pkey -in $k.pem -pubout -out $k.pub.pem
    mkdir -p keys-$k && cp $k.pem keys-$k/
  done
  make_image layer.tar.gz plain
  skopeo --insecure-policy copy -q --encryption-key jwe:rsa2048.pub.pem oci:plain:v1 oci:enc:v1
  for k in rsa2048 rsa4096 ecp256; do
    make_image tiny.tar.gz tiny-plain-$k
    skopeo --insecure-policy copy -q --encryption-key jwe:$k.pub.pem oci:tiny-plain-$k:v1 oci:tiny-$k:v1
  done
  echo "$mb" > .ready
}
[ "$(cat .ready 2>/dev/null)" = "$mb" ] || setup
payload_for enc big.payload
big=$LAYER
size=$(stat -c %s "$big")
for k in rsa2048 rsa4096 ecp256; do
  payload_for tiny-$k tiny-$k.payload
  eval "tiny_$k=\$LAYER"
done

now() { echo "$EPOCHREALTIME"; }
gbps() { awk -v b="$size" -v s="$1" 'BEGIN { printf "%.2f", b / s / 1e9 }'; }

# timed CMD...: "median fastest slowest" wall seconds of $runs runs
# (LAYERCRYPT_BENCH_RUNS, default 3; the host may be shared, so the range
# is printed too).
runs=${LAYERCRYPT_BENCH_RUNS:-3}
timed() {
  local t=()
  for _ in $(seq "$runs"); do
    local a; a=$(now); "$@"; t+=("$(awk -v a="$a" -v b="$(now)" 'BEGIN { print b - a }')")
  done
  printf '%s\n' "${t[@]}" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[1], v[NR] }'
}
# row LABEL "MEDIAN FASTEST SLOWEST": one line of the table.
row() {
  local m f s; read -r m f s <<<"$2"
  printf '%-52s %8.3f %8s   %s-%s\n' "$1" "$m" "$(gbps "$m")" "$(gbps "$s")" "$(gbps "$f")"
}
dec_file() { "$decoder" --decryption-keys-path keys-rsa2048 "$@" <"$big" >/dev/null 3<big.payload; }
dec_pipe() {
  dd if="$big" bs=1M status=none |
    "$decoder" --decryption-keys-path keys-rsa2048 "$@" 3<big.payload |
    dd of=/dev/null bs=1M status=none
}
dec_pipe_shm() { TMPDIR=/dev/shm dec_pipe "$@"; }
# A containerd root whose content store holds the encrypted image's blobs
# (hard links), as during a pull.
store=ctd-root/io.containerd.content.v1.content/blobs/sha256
rm -rf ctd-root && mkdir -p "$store" && ln enc/blobs/sha256/* "$store/"
dec_pipe_cs() {
  dd if="$big" bs=1M status=none |
    "$decoder" --decryption-keys-path keys-rsa2048 --containerd-root ctd-root "$@" 3<big.payload |
    dd of=/dev/null bs=1M status=none
}
dec_pipe_nopayload() {
  dd if="$big" bs=1M status=none |
    STREAM_PROCESSOR_MEDIATYPE=application/vnd.oci.image.layer.v1.tar+gzip+encrypted \
    "$decoder" --decryption-keys-path keys-rsa2048 --containerd-root ctd-root "$@" 3<&- |
    dd of=/dev/null bs=1M status=none
}
# The harness's own ceiling: the same feeder and drain with nothing between
# them, and with a process between them that only copies; every pipe 1 MiB,
# as the decoder makes its stdin and stdout (with 64 KiB pipes dd | dd
# swings between 0.4 and 1.9 GB/s on a VM, with the cost of a wake-up).
big_pipes() {  # CMD...: run CMD with its stdin and stdout pipes made 1 MiB
  "$py" -c 'import fcntl, os, sys
for fd in (0, 1):
    try: fcntl.fcntl(fd, 1031, 1 << 20)  # F_SETPIPE_SZ; fails on a non-pipe
    except OSError: pass
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
harness_direct() { dd if="$big" bs=1M status=none | big_pipes dd of=/dev/null bs=1M status=none; }
harness_copy() {
  dd if="$big" bs=1M status=none | big_pipes dd bs=1M status=none | dd of=/dev/null bs=1M status=none
}
skopeo_dec() { rm -rf dec; skopeo --insecure-policy copy -q --decryption-key rsa2048.pem oci:enc:v1 oci:dec:v1; }

cat "$big" >/dev/null  # warm the page cache
sync                   # no dirty pages from the setup left to throttle spool writes
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-52s %8s %8s   %s\n' "layer of $((size / 1000000)) MB (gzip of /usr/lib tar)" "seconds" "GB/s" "range of $runs"
hmac_bench="$build/bench/bench_hmac_sha256"
if [ -x "$hmac_bench" ]; then
  hmac=$("$hmac_bench" --benchmark_filter='^BM_HmacSha256Stream/1048576$' --benchmark_min_time=0.5 \
           --benchmark_format=csv 2>/dev/null | awk -F, '/BM_HmacSha256Stream/ { printf "%.2f", $6 / 1e9 }')
  printf '%-52s %8s %8s\n' "ceiling: HMAC-SHA256, one stream (bench_hmac_sha256)" "" "$hmac"
fi
for h in direct copy; do
  label="ceiling: dd | dd, 1 MiB pipe"
  [ "$h" = copy ] && label="ceiling: dd | copy only | dd, 1 MiB pipes"
  row "$label" "$(timed harness_$h)"
done
for mode in "file:" "file:--stream" "pipe:" "pipe_shm:" "pipe:--stream" "pipe_cs:" "pipe_nopayload:"; do
  kind=${mode%%:*}; flag=${mode#*:}
  label="layercrypt-decoder ${kind%_*} ${flag:-(verify first)}"
  [ "$kind" = pipe ] && [ -z "$flag" ] && label="$label, spool in /tmp"
  [ "$kind" = pipe_shm ] && label="$label, spool in /dev/shm"
  [ "$kind" = pipe_cs ] && label="$label, blob in content store"
  [ "$kind" = pipe_nopayload ] && label="$label, no payload, store lookup"
  row "$label" "$(timed dec_$kind $flag)"
done
row "skopeo copy --decryption-key (Go ocicrypt)" "$(timed skopeo_dec)"

# rss_file / rss_pipe [FLAG]: the decoder's peak RSS in KiB.
rss_file() { /usr/bin/time -f %M "$decoder" --decryption-keys-path keys-rsa2048 "$@" <"$big" 3<big.payload 2>&1 >/dev/null | tail -1; }
rss_pipe() {
  { dd if="$big" bs=1M status=none |
      /usr/bin/time -f %M "$decoder" --decryption-keys-path keys-rsa2048 "$@" 3<big.payload >/dev/null; } 2>&1 | tail -1
}
echo "peak RSS: file $(rss_file) KiB, file --stream $(rss_file --stream) KiB," \
     "pipe $(rss_pipe) KiB, pipe --stream $(rss_pipe --stream) KiB," \
     "1 KiB layer $(/usr/bin/time -f %M "$decoder" --decryption-keys-path keys-rsa2048 <"$tiny_rsa2048" 3<tiny-rsa2048.payload 2>&1 >/dev/null | tail -1) KiB"

# Fixed cost: 50 rounds, each running /bin/true (starting any process here),
# the decoder doing nothing (--version: starting it with its libraries) and
# the decoder on the 1 KiB layer with each key, every run timed. Interleaving
# the kinds keeps a shared host's drift out of the comparison between them.
tiny() { "$decoder" --decryption-keys-path "keys-$1" <"$2" >/dev/null 3<"tiny-$1.payload"; }
version() { "$decoder" --version >/dev/null; }
kinds=("process start (/bin/true)" "decoder start (--version, no work)")
cmds=("/bin/true" "version")
for k in rsa2048 rsa4096 ecp256; do
  eval "blob=\$tiny_$k"
  kinds+=("fixed cost, 1 KiB layer, $k")
  cmds+=("tiny $k $blob")
done
times=$(mktemp)
for _ in $(seq 50); do
  for i in "${!kinds[@]}"; do
    read -ra cmd <<<"${cmds[$i]}"
    a=$EPOCHREALTIME; "${cmd[@]}"; b=$EPOCHREALTIME
    echo "$i $a $b" >>"$times"
  done
done
printf '%-36s %6s %6s %6s  (ms per run, 50 runs)\n' "" mean median fastest
for i in "${!kinds[@]}"; do
  printf '%-36s %s\n' "${kinds[$i]}" "$(awk -v i="$i" '$1 == i { print ($3 - $2) * 1000 }' "$times" | sort -g |
    awk '{ v[NR] = $1; s += $1 } END { printf "%6.2f %6.2f %6.2f", s / NR, v[int((NR + 1) / 2)], v[1] }')"
done
rm -f "$times"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) threads; $("$decoder" --version)"
