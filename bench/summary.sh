#!/usr/bin/env bash
# bench/summary.sh BENCH_DIR [RESULTS_DIR]
#
# Runs the 1 MiB case of every kernel benchmark together with its peer in the
# same binary and prints one table (GB/s = 10^9 bytes/s, one core). With
# RESULTS_DIR, the raw Google Benchmark JSON of each program is kept there.
set -euo pipefail
dir=${1:?usage: bench/summary.sh BENCH_DIR [RESULTS_DIR]}
out=${2:-}
min_time=${LAYERCRYPT_BENCH_MIN_TIME:-0.3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# program | label | ours (regex) | peer label | peer (regex)
rows=(
  "bench_aes_ctr|AES-256-CTR|^aes256_ctr/ipsec-mb/auto/1048576$|OpenSSL EVP|^aes256_ctr/openssl/1048576$"
  "bench_aes_gcm|AES-256-GCM seal|^aes256_gcm_seal/ipsec-mb/auto/1048576$|OpenSSL EVP|^aes256_gcm_seal/openssl/1048576$"
  "bench_hmac_sha256|HMAC-SHA256, one stream|^BM_HmacSha256Stream/1048576$|OpenSSL HMAC()|^BM_OpenSslHmacOneShot/1048576$"
  "bench_hmac_sha256|HMAC-SHA256, 64 x 16 KiB multi-buffer|^BM_HmacMany/auto/jobs:64/len:16384$|OpenSSL HMAC() loop|^BM_HmacManyOpenSslLoop/jobs:64/len:16384$"
  "bench_deflate|gzip deflate, ISA-L level 1 (input)|^BM_IsalChunked/level:1/bytes:1048576/real_time$|zlib level 6|^BM_Zlib/level:6/bytes:1048576/real_time$"
  "bench_inflate|gzip inflate (output)|^BM_IsalInflate/src:0/bytes:1048576/real_time$|zlib|^BM_ZlibInflate/src:0/bytes:1048576/real_time$"
)

gbps() {  # json name-regex -> GB/s
  jq -r --arg re "$2" '[.benchmarks[] | select(.name | test($re)) | .bytes_per_second][0] // empty
                        | . / 1e9 | . * 100 | round / 100' "$1"
}

printf '%-42s %10s   %-22s %10s %8s\n' "kernel (1 MiB, one core)" "GB/s" "peer, same run" "GB/s" "ratio"
for row in "${rows[@]}"; do
  IFS='|' read -r prog label ours peer_label peer <<<"$row"
  json="$tmp/$prog.$(echo "$label" | tr -c 'a-zA-Z0-9' _).json"
  "$dir/$prog" --benchmark_filter="($ours)|($peer)" --benchmark_min_time="$min_time" \
      --benchmark_format=json >"$json" 2>/dev/null
  a=$(gbps "$json" "$ours"); b=$(gbps "$json" "$peer")
  ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }')
  printf '%-42s %10s   %-22s %10s %8s\n' "$label" "$a" "$peer_label" "$b" "$ratio"
done
cpu=$(jq -r '.context.cpu_model // "unknown"' "$(ls "$tmp"/*.json | head -1)")
arch=$(jq -r '.context.ipsec_mb_auto_arch // "unknown"' "$(ls "$tmp"/*.json | head -1)")
echo "CPU: $cpu; ipsec-mb auto path: $arch; min time per case ${min_time}s"
if [ -n "$out" ]; then mkdir -p "$out" && cp "$tmp"/*.json "$out"/; fi
