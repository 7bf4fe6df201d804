#!/usr/bin/env bash
# bench/encrypt_bench.sh: the builder-to-node path end to end, timed, with
# skopeo (Go ocicrypt) measured on the same image in the same run.
#
#   bench/encrypt_bench.sh BIN_DIR [BASE_LAYER_MB]
#
# BIN_DIR holds tools/layercrypt and tools/layercrypt-decoder (a build
# directory). The script
#   1. builds a deterministic three-layer OCI image in a temp dir: a tar+gzip
#      base layer of system files (/usr/lib, /usr/share, up to BASE_LAYER_MB
#      of tar, default 240), a small tar+gzip layer and an uncompressed tar;
#   2. `layercrypt keygen` makes a P-256 recipient key;
#   3. `layercrypt encrypt` encrypts every layer (and `skopeo copy
#      --encryption-key` does the same, if skopeo is installed; medians of
#      3 runs each), then the same image as an OCI archive (tar) into an
#      OCI archive;
#   4. every encrypted layer goes through `layercrypt-decoder` exactly as
#      containerd runs it (layer on stdin, payload on fd 3, keys directory);
#      the output must have the plaintext layer's digest and, once
#      decompressed, the config's diff_id;
#   5. `layercrypt decrypt` restores the image, digests checked;
#   6. an image of 40 small layers is encrypted and decrypted by
#      layercrypt and by skopeo, 3 runs each, medians.
# It prints one table of times and GB/s. Needs python3, pigz, sha256sum and
# /usr/bin/time; exits non-zero if any check fails.
set -euo pipefail

BIN=${1:?usage: encrypt_bench.sh BIN_DIR [BASE_LAYER_MB]}
BIN=$(cd "$BIN" && pwd)
MB=${2:-240}
LC="$BIN/tools/layercrypt"
DEC="$BIN/tools/layercrypt-decoder"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/layercrypt-demo-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.2f", (s > 0 ? b / s / 1e9 : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "sample image: base layer of up to ${MB} MB of system files (tar+gzip), two small layers"
TOTAL=$(python3 "$HERE/make_sample_image.py" "$WORK/plain" "$MB")
sync  # the sample image's writeback must not land in the timed runs

"$LC" keygen --type ec:p256 --out "$WORK/node" >/dev/null
mkdir -p "$WORK/keys" && cp "$WORK/node.pem" "$WORK/keys/"

# The median of 3 runs (one run swings by 10% here); the CPU time and the
# statistics are the last run's.
median() { sort -n | sed -n 2p; }
for _ in 1 2 3; do
  rm -rf "$WORK/enc"
  t0=$(now)
  /usr/bin/time -f "%U %S" -o "$WORK/cpu" \
    "$LC" encrypt --stats --recipient "jwe:$WORK/node.pub.pem" "$WORK/plain:v1" "$WORK/enc:v1" \
    >/dev/null 2>"$WORK/stats"
  t1=$(now)
  echo "$(secs "$t0" "$t1")" >>"$WORK/enc.times"
  sync
done
LC_ENC=$(median <"$WORK/enc.times")
read -r ENC_USER ENC_SYS <"$WORK/cpu"

# Where the time goes: the same encrypt with DST in memory (no disk), and
# the disk alone (the same bytes copied and fdatasync'd, as a blob commit does).
SHM_ENC="-"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  SHM=$(mktemp -d /dev/shm/layercrypt-demo-XXXXXX)
  t0=$(now)
  "$LC" encrypt --recipient "jwe:$WORK/node.pub.pem" "$WORK/plain:v1" "$SHM/enc:v1" >/dev/null
  t1=$(now)
  SHM_ENC=$(secs "$t0" "$t1")
  rm -rf "$SHM"
fi
t0=$(now)
cat "$WORK"/plain/blobs/sha256/* | dd of="$WORK/disk-only" bs=1M conv=fdatasync status=none
t1=$(now)
DISK_ONLY=$(secs "$t0" "$t1")
DISK_BYTES=$(stat -c %s "$WORK/disk-only")
rm -f "$WORK/disk-only"
sync

tar -cf "$WORK/plain.tar" -C "$WORK/plain" oci-layout index.json blobs
sync
t0=$(now)
"$LC" encrypt --recipient "jwe:$WORK/node.pub.pem" "$WORK/plain.tar:v1" "oci-archive:$WORK/enc.tar:v1" >/dev/null
t1=$(now)
LC_ARC=$(secs "$t0" "$t1")
rm -f "$WORK/plain.tar" "$WORK/enc.tar"
sync

SK_ENC="-"
if command -v skopeo >/dev/null 2>&1; then
  for _ in 1 2 3; do
    rm -rf "$WORK/skopeo-enc"
    t0=$(now)
    skopeo --insecure-policy copy -q --dest-oci-accept-uncompressed-layers \
      --encryption-key "jwe:$WORK/node.pub.pem" "oci:$WORK/plain:v1" "oci:$WORK/skopeo-enc:v1" >/dev/null
    t1=$(now)
    echo "$(secs "$t0" "$t1")" >>"$WORK/skopeo.times"
    sync
  done
  SK_ENC=$(median <"$WORK/skopeo.times")
fi

# The decoder on every encrypted layer, as containerd runs it: layer on
# stdin, payload (the descriptor, keys from the node's directory) on fd 3.
python3 - "$WORK" "$HERE/../tests/tools" <<'PY'
import json, os, sys
work = sys.argv[1]
sys.path.insert(0, sys.argv[2])
import ocitest
def manifest(layout):
    idx = json.load(open(os.path.join(layout, "index.json")))
    e = [e for e in idx["manifests"] if e.get("annotations", {}).get("org.opencontainers.image.ref.name") == "v1"][0]
    return json.load(open(os.path.join(layout, "blobs", "sha256", e["digest"][7:])))
plain, enc = manifest(os.path.join(work, "plain")), manifest(os.path.join(work, "enc"))
config = json.load(open(os.path.join(work, "plain", "blobs", "sha256", plain["config"]["digest"][7:])))
with open(os.path.join(work, "layers.tsv"), "w") as f:
    for i, (p, e) in enumerate(zip(plain["layers"], enc["layers"])):
        with open(os.path.join(work, f"payload{i}"), "wb") as pf:
            pf.write(ocitest.make_payload(e))
        gz = "gzip" if p["mediaType"].endswith("+gzip") else "cat"
        f.write(f"{i}\t{e['digest'][7:]}\t{e['mediaType']}\t{p['digest']}\t{p['size']}\t{gz}\t{config['rootfs']['diff_ids'][i]}\n")
PY
DEC_BYTES=0
DEC_SECS=0
while IFS=$'\t' read -r i blob mt want size gz diff_id; do
  export STREAM_PROCESSOR_MEDIATYPE=$mt
  # Read the layer once so that the decoder, not the disk, is timed (as a
  # pulled layer that containerd hands it is in memory).
  cat "$WORK/enc/blobs/sha256/$blob" >/dev/null
  t0=$(now)
  "$DEC" --decryption-keys-path "$WORK/keys" <"$WORK/enc/blobs/sha256/$blob" 3<"$WORK/payload$i" >/dev/null
  t1=$(now)
  got=$("$DEC" --decryption-keys-path "$WORK/keys" <"$WORK/enc/blobs/sha256/$blob" 3<"$WORK/payload$i" | tee >(sha256sum >"$WORK/sum$i") | { if [ "$gz" = gzip ]; then gzip -dc; else cat; fi; } | sha256sum | cut -d' ' -f1)
  wait
  [ "sha256:$(cut -d' ' -f1 "$WORK/sum$i")" = "$want" ] || { echo "layer $i: decoder output does not have the plaintext digest $want" >&2; exit 1; }
  [ "sha256:$got" = "$diff_id" ] || { echo "layer $i: decompressed output is not the config's diff_id $diff_id" >&2; exit 1; }
  dt=$(secs "$t0" "$t1")
  printf '  decoder layer %s: %8.1f MB  %6.3f s  %5s GB/s  digest and diff_id ok\n' "$i" \
    "$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1e6 }')" "$dt" "$(rate "$size" "$dt")"
  DEC_BYTES=$((DEC_BYTES + size))
  DEC_SECS=$(awk -v a="$DEC_SECS" -v b="$dt" 'BEGIN { printf "%.3f", a + b }')
done <"$WORK/layers.tsv"
unset STREAM_PROCESSOR_MEDIATYPE

t0=$(now)
"$LC" decrypt --key "$WORK/node.pem" "$WORK/enc:v1" "$WORK/dec:v1" >/dev/null
t1=$(now)
LC_DEC=$(secs "$t0" "$t1")
python3 - "$WORK" <<'PY'
import json, os, sys
w = sys.argv[1]
def layers(l):
    idx = json.load(open(os.path.join(w, l, "index.json")))
    e = [e for e in idx["manifests"] if e.get("annotations", {}).get("org.opencontainers.image.ref.name") == "v1"][0]
    m = json.load(open(os.path.join(w, l, "blobs", "sha256", e["digest"][7:])))
    return [x["digest"] for x in m["layers"]]
if layers("plain") != layers("dec"):
    sys.exit("layercrypt decrypt did not restore the plaintext layer digests")
print("  layercrypt decrypt restored every plaintext layer digest")
PY

CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo
echo "image: $(awk -v b="$TOTAL" 'BEGIN { printf "%.1f", b / 1e6 }') MB in 3 layers; CPU: $CPU, $(nproc) cores"
echo "layercrypt encrypt and skopeo (oci -> oci): medians of 3 runs; the other steps: one run"
printf '%-44s %8s %8s\n' "step" "seconds" "GB/s"
printf '%-44s %8s %8s\n' "layercrypt encrypt (oci -> oci)" "$LC_ENC" "$(rate "$TOTAL" "$LC_ENC")"
echo "  CPU time of that run: ${ENC_USER} s user, ${ENC_SYS} s system"
if [ "$SHM_ENC" != "-" ]; then
  printf '%-44s %8s %8s\n' "  the same, DST on tmpfs (no disk)" "$SHM_ENC" "$(rate "$TOTAL" "$SHM_ENC")"
fi
printf '%-44s %8s %8s\n' "  disk alone: copy + fdatasync, same bytes" "$DISK_ONLY" "$(rate "$DISK_BYTES" "$DISK_ONLY")"
echo "  its pipelines (busy = wall time a stage spent on its chunks):"
sed 's/^/    /' "$WORK/stats"
printf '%-44s %8s %8s\n' "layercrypt encrypt (archive -> archive)" "$LC_ARC" "$(rate "$TOTAL" "$LC_ARC")"
if [ "$SK_ENC" != "-" ]; then
  printf '%-44s %8s %8s\n' "skopeo copy --encryption-key (oci -> oci)" "$SK_ENC" "$(rate "$TOTAL" "$SK_ENC")"
  echo "  speed-up over skopeo: $(awk -v a="$SK_ENC" -v b="$LC_ENC" 'BEGIN { printf "%.1fx", a / b }')"
fi
printf '%-44s %8.2f %8s\n' "layercrypt-decoder, all layers (verify first)" "$DEC_SECS" "$(rate "$DEC_BYTES" "$DEC_SECS")"
printf '%-44s %8s %8s\n' "layercrypt decrypt (oci -> oci)" "$LC_DEC" "$(rate "$TOTAL" "$LC_DEC")"

# Many small layers: the shape of an image built one RUN or COPY at a time,
# where what each blob costs to set up, not the hashing, is the time.
# Medians of 3 runs each, interleaved with skopeo's.
SMALL_BYTES=$(python3 "$HERE/make_sample_image.py" "$WORK/small" --small-layers 40)
SMALL_LAYERS=$(python3 -c 'import json, sys; print(len(json.load(sys.stdin)["rootfs"]["diff_ids"]))' \
  <"$(grep -l '"diff_ids"' "$WORK"/small/blobs/sha256/*)")
sync
timed() {
  local t0 t1
  rm -rf "$1"
  t0=$(now)
  "${@:2}" >/dev/null
  t1=$(now)
  secs "$t0" "$t1"
  sync
}
: >"$WORK/small.times"
for _ in 1 2 3; do
  echo "lc_enc $(timed "$WORK/small-enc" "$LC" encrypt --recipient "jwe:$WORK/node.pub.pem" \
    "$WORK/small:v1" "$WORK/small-enc:v1")" >>"$WORK/small.times"
  echo "lc_dec $(timed "$WORK/small-dec" "$LC" decrypt --key "$WORK/node.pem" \
    "$WORK/small-enc:v1" "$WORK/small-dec:v1")" >>"$WORK/small.times"
  if command -v skopeo >/dev/null 2>&1; then
    echo "sk_enc $(timed "$WORK/small-skenc" skopeo --insecure-policy copy -q \
      --encryption-key "jwe:$WORK/node.pub.pem" "oci:$WORK/small:v1" "oci:$WORK/small-skenc:v1")" \
      >>"$WORK/small.times"
    echo "sk_dec $(timed "$WORK/small-skdec" skopeo --insecure-policy copy -q \
      --decryption-key "$WORK/node.pem" "oci:$WORK/small-enc:v1" "oci:$WORK/small-skdec:v1")" \
      >>"$WORK/small.times"
  fi
done
echo
echo "image: $SMALL_LAYERS small layers, $(awk -v b="$SMALL_BYTES" 'BEGIN { printf "%.1f", b / 1e6 }') MB; medians of 3 runs"
printf '%-44s %8s\n' "step" "seconds"
for k in lc_enc:"layercrypt encrypt (oci -> oci)" sk_enc:"skopeo copy --encryption-key" \
  lc_dec:"layercrypt decrypt (oci -> oci)" sk_dec:"skopeo copy --decryption-key"; do
  v=$(awk -v k="${k%%:*}" '$1 == k { print $2 }' "$WORK/small.times" | median)
  if [ -n "$v" ]; then printf '%-44s %8s\n' "${k#*:}" "$v"; fi
done
