#!/usr/bin/env bash
# bench/scheme_bench.sh BUILD_DIR
#
# The fixed cost of a 1 KiB layer decrypted by layercrypt-decoder as
# containerd runs it (payload on fd 3, CRI's node key model, the key in
# --decryption-keys-path), by the scheme its key is wrapped with:
#   jwe     RSA-2048 JWE (RSA-OAEP-256), the private key file in the keys dir;
#   pkcs7   RSA-2048 PKCS#7 (CMS), the private key and its certificate;
#   pkcs11  RSA-2048 in a SoftHSM2 token, a key YAML in the keys dir and
#           OCICRYPT_CONFIG in the environment (RSA-OAEP with SHA-1:
#           SoftHSM 2.6 does no other OAEP hash); the token lives under the
#           work directory, its key imported and the key file removed;
#   pgp     RSA-2048 OpenPGP (the committed test keyrings of
#           tests/vectors/pgp/, alice: no passphrase), the binary secret
#           keyring in the keys dir; librnp is loaded on first use.
# next to a process start (/bin/true) and the decoder's start (--version).
# Wall time: every kind once per round, interleaved, LAYERCRYPT_BENCH_RUNS
# rounds (default 60); then CPU time (perf stat task-clock) when perf can
# count it, and instructions (perf's counter, else valgrind's callgrind;
# LAYERCRYPT_BENCH_VALGRIND_RUNS runs, default 10, 0 skips it). Prints ms
# per run (median, 10th-90th percentile, fastest), each scheme minus the
# decoder's start in the same round, and the CPU.
#
# A scheme is one name in `schemes` plus a function setup_NAME, run in the
# work directory with rsa2048.pem, rsa2048.pub.pem and the plain image
# `plain` there, that makes the image enc-NAME:v1 and the keys directory
# keys-NAME, and a variable env_NAME: VAR=VALUE words for the decoder's
# environment (may be empty). LAYERCRYPT_BENCH_WORK=DIR keeps the setup.
set -euo pipefail
build=${1:?usage: bench/scheme_bench.sh BUILD_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$build" && pwd)
decoder="$build/tools/layercrypt-decoder"
lc="$build/tools/layercrypt"
py=/usr/bin/python3
runs=${LAYERCRYPT_BENCH_RUNS:-60}
vg_runs=${LAYERCRYPT_BENCH_VALGRIND_RUNS:-10}
# shellcheck source=bench/bench_lib.sh
. "$root/bench/bench_lib.sh"

# The schemes measured, in this order.
schemes=(jwe pkcs7 pkcs11 pgp)

for t in openssl gzip "$py" "$decoder" "$lc"; do
  command -v "$t" >/dev/null || { echo "scheme_bench: $t missing" >&2; exit 1; }
done
if [ -n "${LAYERCRYPT_BENCH_WORK:-}" ]; then
  work=$LAYERCRYPT_BENCH_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/layercrypt-schemebench-XXXXXX")
fi
cleanup() { [ -n "${LAYERCRYPT_BENCH_WORK:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

setup_jwe() {
  "$lc" encrypt --recipient jwe:rsa2048.pub.pem plain:v1 enc-jwe:v1 >/dev/null
  mkdir -p keys-jwe && cp rsa2048.pem keys-jwe/
}
env_jwe=""

setup_pkcs7() {
  openssl req -x509 -new -key rsa2048.pem -subj /CN=bench-node -days 3650 \
    -out pkcs7-cert.pem 2>/dev/null
  "$lc" encrypt --recipient pkcs7:pkcs7-cert.pem plain:v1 enc-pkcs7:v1 >/dev/null
  mkdir -p keys-pkcs7 && cp rsa2048.pem pkcs7-cert.pem keys-pkcs7/
}
env_pkcs7=""

setup_pkcs11() {
  command -v softhsm2-util >/dev/null || { echo "scheme_bench: softhsm2 missing" >&2; exit 1; }
  "$py" - "$root/tests/tools" "$work" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import softhsm
token = softhsm.Token(sys.argv[2] + "/pkcs11", "bench", "52718364")
token.write_yaml(sys.argv[2] + "/keys-pkcs11/node-key.yaml")
EOF
  OCICRYPT_CONFIG=pkcs11/ocicrypt.conf OCICRYPT_OAEP_HASHALG=sha1 \
    "$lc" encrypt --recipient pkcs11:keys-pkcs11/node-key.yaml plain:v1 enc-pkcs11:v1 >/dev/null
}
env_pkcs11="OCICRYPT_CONFIG=$work/pkcs11/ocicrypt.conf"

setup_pgp() {
  "$lc" encrypt --gpg-pubring "$root/tests/vectors/pgp/pubring.gpg" \
    --recipient pgp:alice@example.com plain:v1 enc-pgp:v1 >/dev/null
  mkdir -p keys-pgp && cp "$root/tests/vectors/pgp/alice.sec.gpg" keys-pgp/
}
env_pgp=""

if [ ! -e .ready ]; then
  echo "== setup: a 1 KiB layer, an RSA-2048 key, one image and keys directory per scheme" >&2
  rm -rf -- ./*
  head -c 1024 /dev/urandom | gzip > tiny.tar.gz
  "$py" "$root/bench/one_layer.py" image tiny.tar.gz application/vnd.oci.image.layer.v1.tar+gzip plain
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048.pem 2>/dev/null
  openssl pkey -in rsa2048.pem -pubout -out rsa2048.pub.pem
  for s in "${schemes[@]}"; do "setup_$s"; done
  touch .ready
fi

plain_sum=$(sha256sum < tiny.tar.gz | cut -d' ' -f1)
declare -A layer
for s in "${schemes[@]}"; do
  layer[$s]=$("$py" "$root/bench/one_layer.py" payload "enc-$s" "$s.payload")
done

# decode SCHEME [MEASURE...]: the decoder on SCHEME's layer, as containerd
# runs it, with env_SCHEME exported (in a subshell), run by MEASURE
# (e.g. bench_task_clock_ms) if given.
decode() {
  local s=$1 envs
  shift
  eval "envs=\$env_$s"
  (
    # shellcheck disable=SC2086,SC2163 # envs is VAR=VALUE words
    [ -z "$envs" ] || export $envs
    "$@" "$decoder" --decryption-keys-path "keys-$s" <"${layer[$s]}" 3<"$s.payload"
  )
}
kinds=() cmds=()
add() { kinds+=("$1"); cmds+=("$2"); }
add "process start (/bin/true)" "/bin/true"
add "decoder start (--version, no work)" "$decoder --version"
k_start=1
for s in "${schemes[@]}"; do add "$s" "decode $s"; done
run_kind() { local cmd; read -ra cmd <<<"${cmds[$1]}"; "${cmd[@]}" </dev/null; }
# run_kind's stdin is /dev/null; decode() redirects the layer itself.
for s in "${schemes[@]}"; do
  [ "$(decode "$s" | sha256sum | cut -d' ' -f1)" = "$plain_sum" ] ||
    { echo "scheme_bench: $s: the decoder did not give the plain layer" >&2; exit 1; }
done
pairs=""
for i in "${!kinds[@]}"; do
  [ "$i" -gt "$k_start" ] && pairs+="$i:$k_start:${kinds[$i]} - decoder start, same round;"
done

bench_cpu
times=$(mktemp)
bench_rounds "$runs" "$times"
bench_summary "wall time, 1 KiB layer, by scheme" "$times" "$pairs"
# each_scheme ROUNDS FN: FN ROUND KIND for every scheme, ROUNDS rounds
# (FN runs decode on the scheme's layer).
each_scheme() {
  local r i
  for r in $(seq "$1"); do
    for i in "${!kinds[@]}"; do
      [ "$i" -gt "$k_start" ] && "$2" "$r" "$i" "${kinds[$i]}"
    done
  done
  true
}
if bench_perf_usable; then
  : >"$times"
  cpu() { echo "$1 $2 $(decode "$3" bench_task_clock_ms)" >>"$times"; }
  each_scheme "$runs" cpu
  bench_summary "CPU time (perf stat task-clock), 1 KiB layer" "$times" ""
fi
if [ "$vg_runs" -gt 0 ] && { bench_perf_instructions_usable || command -v valgrind >/dev/null; }; then
  : >"$times"
  instr() { echo "$1 $2 $(decode "$3" bench_instructions_millions)" >>"$times"; }
  each_scheme "$vg_runs" instr
  how=callgrind
  bench_perf_instructions_usable && how="perf stat"
  bench_summary "instructions ($how), millions, 1 KiB layer" "$times" "" | sed 's/(ms, /(/'
fi
rm -f "$times"
bench_cpu
echo "$("$decoder" --version)"
