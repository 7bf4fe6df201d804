#!/usr/bin/env bash
# bench/fused_bench.sh BUILD_DIR [TAR_MB]
#
# The fused paths against the two-step pipelines they replace, on the same
# data in the same run (GB/s = 10^9 bytes of TAR per second, median of 3):
#
#  1. decrypt + inflate of a gzip layer made by Go (a tar of /usr/lib,
#     TAR_MB of it, default 600, `pigz -6`, encrypted by `skopeo copy
#     --encryption-key`): `layercrypt-decoder --decompress`, file -> null and
#     pipe -> pipe, against the decoder (or skopeo) followed by `gzip -dc`
#     and `pigz -dc`;
#  2. the same for the same tar compressed by `layercrypt encrypt --compress
#     gzip` (inflated on every core by its chunk index);
#  3. tar -> gzip -> encrypt of the same tar: `layercrypt encrypt-layer
#     --compress gzip` file -> file and `layercrypt encrypt --compress gzip`
#     layout -> layout, against `pigz -6` then `layercrypt encrypt-layer`,
#     and skopeo compressing and encrypting the uncompressed image.
# Prints the CPU model and ISA-L/ipsec-mb paths with the table.
set -euo pipefail
build=${1:?usage: bench/fused_bench.sh BUILD_DIR [TAR_MB]}
mb=${2:-600}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$build" && pwd)
decoder="$build/tools/layercrypt-decoder"
lc="$build/tools/layercrypt"
py=/usr/bin/python3
for t in skopeo pigz gzip "$py"; do
  command -v "$t" >/dev/null || { echo "fused_bench: $t missing (apt-get install skopeo pigz gzip python3)" >&2; exit 1; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/layercrypt-fused-XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "== setup: ${mb} MB tar of /usr/lib; pigz -6; encrypted by skopeo and by layercrypt" >&2
{ tar cf - --sort=name --mtime=@1700000000 --owner=0 --group=0 /usr/lib 2>/dev/null || true; } |
  head -c "$((mb * 1000000))" >layer.tar
pigz -6 -n <layer.tar >layer.tar.gz
tar_bytes=$(stat -c %s layer.tar)
"$lc" keygen --type rsa:2048 --out node >/dev/null
mkdir keys && cp node.pem keys/

# image BLOB MEDIA_TYPE DIR: a one-layer OCI layout whose diff_id is layer.tar's.
image() { "$py" "$root/bench/one_layer.py" image "$1" "$2" "$3" layer.tar; }
# payload DIR OUT: the CRI node-model payload of DIR's layer; prints the blob path.
payload() { "$py" "$root/bench/one_layer.py" payload "$1" "$2"; }
image layer.tar.gz application/vnd.oci.image.layer.v1.tar+gzip gz-plain
image layer.tar application/vnd.oci.image.layer.v1.tar tar-plain
skopeo --insecure-policy copy -q --encryption-key jwe:node.pub.pem oci:gz-plain:v1 oci:gz-enc:v1
"$lc" encrypt --compress gzip -r jwe:node.pub.pem tar-plain:v1 ours-enc:v1 >/dev/null
go_blob=$(payload gz-enc go.payload)
our_blob=$(payload ours-enc ours.payload)

now() { date +%s.%N; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
time3() {
  local t=()
  for _ in 1 2 3; do
    local a; a=$(now); "$@"; t+=("$(awk -v a="$a" -v b="$(now)" 'BEGIN { print b - a }')")
  done
  median3 "${t[@]}"
}
row() {  # LABEL CMD...: one line, GB/s of tar bytes
  local s; s=$(time3 "${@:2}")
  printf '%-64s %8.3f %8.2f\n' "$1" "$s" "$(awk -v b="$tar_bytes" -v s="$s" 'BEGIN { print b / s / 1e9 }')"
}

dec() {  # BLOB PAYLOAD ARGS...: file -> null
  "$decoder" --decryption-keys-path keys "${@:3}" <"$1" 3<"$2" >/dev/null
}
dec_pipe() {
  dd if="$1" bs=1M status=none | "$decoder" --decryption-keys-path keys "${@:3}" 3<"$2" |
    dd of=/dev/null bs=1M status=none
}
dec_then() {  # BLOB PAYLOAD TOOL: decoder | TOOL -dc, as containerd does without --decompress
  "$decoder" --decryption-keys-path keys <"$1" 3<"$2" | "$3" -dc >/dev/null
}
skopeo_then() {  # TOOL: skopeo decrypt to a layout, then TOOL -dc of the layer
  rm -rf dec
  skopeo --insecure-policy copy -q --dest-oci-accept-uncompressed-layers \
    --decryption-key node.pem oci:gz-enc:v1 oci:dec:v1
  "$1" -dc dec/blobs/sha256/"$(basename "$(payload dec /dev/null)")" >/dev/null
}
enc_layer() { "$lc" encrypt-layer --compress gzip -r jwe:node.pub.pem -o out.enc layer.tar >/dev/null; }
enc_image() { rm -rf img-enc; "$lc" encrypt --compress gzip -r jwe:node.pub.pem tar-plain:v1 img-enc:v1 >/dev/null; }
pigz_then_enc() {
  pigz -6 -n <layer.tar >two-step.gz
  "$lc" encrypt-layer --media-type application/vnd.oci.image.layer.v1.tar+gzip \
    -r jwe:node.pub.pem -o out.enc two-step.gz >/dev/null
}
skopeo_enc() {
  rm -rf sk-enc
  skopeo --insecure-policy copy -q --encryption-key jwe:node.pub.pem oci:tar-plain:v1 oci:sk-enc:v1
}

cat layer.tar "$go_blob" "$our_blob" >/dev/null  # warm the page cache
sync
go_size=$(stat -c %s "$go_blob"); our_size=$(stat -c %s "$our_blob")
printf '%-64s %8s %8s\n' "tar of $((tar_bytes / 1000000)) MB; GB/s of tar" "seconds" "GB/s"
echo "-- decrypt + inflate, gzip by pigz -6 ($((go_size / 1000000)) MB), encrypted by skopeo"
row "layercrypt-decoder --decompress, file -> null" dec "$go_blob" go.payload --decompress
row "layercrypt-decoder --decompress, pipe -> pipe" dec_pipe "$go_blob" go.payload --decompress
row "layercrypt-decoder | gzip -dc" dec_then "$go_blob" go.payload gzip
row "layercrypt-decoder | pigz -dc" dec_then "$go_blob" go.payload pigz
row "skopeo copy --decryption-key, then gzip -dc" skopeo_then gzip
row "skopeo copy --decryption-key, then pigz -dc" skopeo_then pigz
echo "-- decrypt + inflate, gzip by layercrypt encrypt --compress ($((our_size / 1000000)) MB)"
row "layercrypt-decoder --decompress, file -> null" dec "$our_blob" ours.payload --decompress
row "layercrypt-decoder --decompress, pipe -> pipe" dec_pipe "$our_blob" ours.payload --decompress
row "layercrypt-decoder | pigz -dc" dec_then "$our_blob" ours.payload pigz
echo "-- tar -> gzip -> encrypt"
row "layercrypt encrypt-layer --compress gzip, file -> file" enc_layer
row "layercrypt encrypt --compress gzip, layout -> layout" enc_image
row "pigz -6, then layercrypt encrypt-layer" pigz_then_enc
row "skopeo copy --encryption-key (Go gzip + ocicrypt)" skopeo_enc
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) threads"
"$lc" --version --verbose | sed -n '1p;/ipsec-mb\|ISA-L/p'
