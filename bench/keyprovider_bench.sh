#!/usr/bin/env bash
# bench/keyprovider_bench.sh BUILD_DIR [BASE_BUILD_DIR]
#
# The fixed cost of unwrapping a 1 KiB layer's key, as containerd runs
# layercrypt-decoder (payload on fd 3, CRI's node key model), by key source:
#   (a) a key file: RSA-2048 JWE, --decryption-keys-path;
#   (b) a cmd key provider: layercrypt-keyprovider cmd (policy, KEK file);
#   (c) a gRPC key provider: layercrypt-keyprovider serve on 127.0.0.1,
#       plaintext (h2c) and mutual TLS (client certificate CN=bench-client);
#   (d) the decoder with no provider configured, and with
#       OCICRYPT_KEYPROVIDER_CONFIG naming a missing file (containerd 2.x's
#       default processor config), against BASE_BUILD_DIR's decoder (a build
#       from before key providers, e.g. 0bb0e80) on the same key-file layer;
#       besides wall time, as CPU time (perf stat task-clock) and as
#       instructions (valgrind's callgrind), when perf and valgrind are
#       there: on a busy host only the instruction count resolves 0.1 ms.
# And the provider's own time, measured apart:
#   * `layercrypt-keyprovider cmd` alone on the decoder's keyunwrap request
#     (process start, policy and KEK read, unwrap, reply);
#   * the gRPC server through bench/keyprovider_client.py (python3-grpcio):
#     calls on one warm channel (the server's handling plus loopback and the
#     Python client's overhead: an upper bound on the server's time) and each
#     on a new channel (adds connect and, with TLS, the handshake).
# Every kind runs once per round, the kinds interleaved, LAYERCRYPT_BENCH_RUNS
# rounds (default 60), so a shared host's drift hits all of them alike;
# prints ms per run: median, 10th-90th percentile, fastest, with the CPU.
# LAYERCRYPT_BENCH_WORK=DIR keeps the setup (keys, certificates, images).
set -euo pipefail
build=${1:?usage: bench/keyprovider_bench.sh BUILD_DIR [BASE_BUILD_DIR]}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "$build" && pwd)
base=""
if [ -n "${2:-}" ]; then base=$(cd "$2" && pwd)/tools/layercrypt-decoder; fi
decoder="$build/tools/layercrypt-decoder"
lc="$build/tools/layercrypt"
kp="$build/tools/layercrypt-keyprovider"
py=/usr/bin/python3
# shellcheck source=bench/bench_lib.sh
. "$root/bench/bench_lib.sh"
runs=${LAYERCRYPT_BENCH_RUNS:-60}
for t in openssl gzip "$py" "$decoder" "$lc" "$kp" ${base:+"$base"}; do
  command -v "$t" >/dev/null || { echo "keyprovider_bench: $t missing" >&2; exit 1; }
done
"$py" -c 'import grpc' 2>/dev/null || { echo "keyprovider_bench: python3-grpcio missing" >&2; exit 1; }
unset OCICRYPT_KEYPROVIDER_CONFIG
if [ -n "${LAYERCRYPT_BENCH_WORK:-}" ]; then
  work=$LAYERCRYPT_BENCH_WORK
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/layercrypt-kpbench-XXXXXX")
fi
servers=()
cleanup() {
  local pid
  for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${servers[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${LAYERCRYPT_BENCH_WORK:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# cert NAME SUBJECT [EXT]: an EC P-256 key and a certificate signed by ca.
cert() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
    -out "$1.pem" ${3:+-extfile <(printf '%s\n' "$3")} 2>/dev/null
}

setup() {
  echo "== setup: a 1 KiB layer, an RSA-2048 key, a KEK, a CA and two certificates" >&2
  rm -rf -- ./* .ready
  head -c 1024 /dev/urandom | gzip > tiny.tar.gz
  "$py" "$root/bench/one_layer.py" image tiny.tar.gz application/vnd.oci.image.layer.v1.tar+gzip plain
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa2048.pem 2>/dev/null
  openssl pkey -in rsa2048.pem -pubout -out rsa2048.pub.pem
  mkdir keys-rsa2048 && cp rsa2048.pem keys-rsa2048/
  "$kp" keygen-kek bench.kek >/dev/null
  # One key for every transport: local callers (cmd), the mutual-TLS client
  # by its CN, and anyone (plaintext gRPC has no identity).
  printf '%s\n' '{"default-key": "bench", "keys": {"bench": {"kek": {"file": "bench.kek"},' \
    '  "release-to": ["local", "cn:bench-client", "*"]}}}' > policy.json
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench-ca \
    -days 3650 -keyout ca.key -out ca.pem 2>/dev/null
  cert server /CN=localhost "subjectAltName=IP:127.0.0.1,DNS:localhost"
  cert client /CN=bench-client
  printf '{"key-providers": {"lc": {"cmd": {"path": "%s", "args": ["cmd", "--policy", "%s", "--name", "lc"]}}}}\n' \
    "$kp" "$work/policy.json" > cmd.json
  "$lc" encrypt --recipient jwe:rsa2048.pub.pem plain:v1 tiny-jwe:v1 >/dev/null
  "$lc" --keyprovider-config cmd.json encrypt --recipient provider:lc plain:v1 tiny-kp:v1 >/dev/null
  touch .ready
}
[ -e .ready ] || setup

payload() { LAYER=$("$py" "$root/bench/one_layer.py" payload "$1" "$2"); }
payload tiny-jwe jwe.payload; jwe_layer=$LAYER
payload tiny-kp kp.payload; kp_layer=$LAYER
plain_sum=$(sha256sum < tiny.tar.gz | cut -d' ' -f1)
# The keyunwrap request the decoder sends (no keys, so dc.Parameters is
# null, as from ctd-decoder under CRI), for the provider timed alone.
"$py" - "$root/tests/tools" > unwrap.json <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[1])
import ocitest
desc = next(ocitest.Layout("tiny-kp").layers())
ann = desc["annotations"]["org.opencontainers.image.enc.keys.provider.lc"]
sys.stdout.write(json.dumps({"op": "keyunwrap", "keywrapparams": {"ec": None, "optsdata": None},
                             "keyunwrapparams": {"dc": {"Parameters": None}, "annotation": ann}},
                            separators=(",", ":")))
EOF

free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# serve NAME ARGS...: layercrypt-keyprovider serve on a free port; writes
# NAME.json, the ocicrypt config that reaches it (adds grpc-tls with --tls).
serve() {
  local name=$1 port; shift
  port=$(free_port)
  "$kp" serve --listen "127.0.0.1:$port" --policy policy.json --name lc \
    --log-file "$name.log" "$@" >"$name.out" 2>&1 &
  servers+=("$!")
  for _ in $(seq 200); do
    (exec 9<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.05
  done
  if [ $# -gt 0 ]; then
    printf '{"key-providers": {"lc": {"grpc": "127.0.0.1:%s", "grpc-tls": {"root-ca-file": "%s", "cert-file": "%s", "key-file": "%s"}}}}\n' \
      "$port" "$work/ca.pem" "$work/client.pem" "$work/client.key" > "$name.json"
  else
    printf '{"key-providers": {"lc": {"grpc": "127.0.0.1:%s"}}}\n' "$port" > "$name.json"
  fi
  eval "${name}_port=$port"
}
serve h2c
serve mtls --tls-cert server.pem --tls-key server.key --client-ca ca.pem

dec_key() { "$1" --decryption-keys-path keys-rsa2048 <"$jwe_layer" 3<jwe.payload; }
dec_missing() {
  OCICRYPT_KEYPROVIDER_CONFIG="$work/missing.conf" "$decoder" --decryption-keys-path keys-rsa2048 \
    <"$jwe_layer" 3<jwe.payload
}
dec_cfg() { "$decoder" --keyprovider-config "$1" <"$kp_layer" 3<kp.payload; }
kp_alone() { "$kp" cmd --policy policy.json --name lc --log-file cmd.log <unwrap.json; }
kinds=() cmds=()
add() { kinds+=("$1"); cmds+=("$2"); }
last() { echo $((${#kinds[@]} - 1)); }
add "process start (/bin/true)"                  "/bin/true"
add "decoder start (--version, no work)"          "$decoder --version"
add "(a) key file, RSA-2048 JWE (no provider)"    "dec_key $decoder"
k_key=$(last)
add "(b) cmd provider"                            "dec_cfg cmd.json"
add "(b) provider alone: keyprovider cmd"         "kp_alone"
add "    its start (--help, no work)"           "$kp --help"
add "(c) gRPC provider, h2c"                      "dec_cfg h2c.json"
add "(c) gRPC provider, mutual TLS"               "dec_cfg mtls.json"
add "(d) key file, config env names missing file" "dec_missing"
k_missing=$(last)
if [ -n "$base" ]; then
  add "(d) key file, decoder before providers"    "dec_key $base"
  k_base=$(last)
  add "    its start (--version)"                 "$base --version"
fi
run_kind() { local cmd; read -ra cmd <<<"${cmds[$1]}"; "${cmd[@]}" </dev/null; }
# Each decoder must give the plain layer, and the provider a key, before
# anything is timed.
for i in "${!kinds[@]}"; do
  case "${kinds[$i]}" in
    "(b) provider alone"*) run_kind "$i" | grep -q keyunwrapresults ;;
    "("*) [ "$(run_kind "$i" | sha256sum | cut -d' ' -f1)" = "$plain_sum" ] ;;
    *) true ;;
  esac || { echo "keyprovider_bench: ${kinds[$i]}: no plain layer or key" >&2; exit 1; }
done

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
times=$(mktemp)
bench_rounds "$runs" "$times"
# The key file, with and without a missing config, against the decoder
# before providers, round by round.
pairs=""
[ -n "$base" ] && pairs="$k_key:$k_base:(a) - before, same round;$k_missing:$k_base:missing file - before, same round"
bench_summary "wall time, 1 KiB layer" "$times" "$pairs"
# each_d_kind ROUNDS FN: FN ROUND KIND DECODER ARGS... for the key file,
# the missing config file and the decoder before providers, ROUNDS rounds.
each_d_kind() {
  local r
  for r in $(seq "$1"); do
    "$2" "$r" "$k_key" "$decoder" --decryption-keys-path keys-rsa2048
    OCICRYPT_KEYPROVIDER_CONFIG="$work/missing.conf" \
      "$2" "$r" "$k_missing" "$decoder" --decryption-keys-path keys-rsa2048
    "$2" "$r" "$k_base" "$base" --decryption-keys-path keys-rsa2048
  done
}
# The same three on CPU time (perf stat's task-clock: every thread's time on
# a CPU, not the time spent waiting for one), when perf can count it.
if [ -n "$base" ] && bench_perf_usable; then
  : >"$times"
  cpu() {  # ROUND KIND CMD...: CMD's task-clock in ms on the key-file layer
    local r=$1 k=$2; shift 2
    echo "$r $k $(bench_task_clock_ms "$@" <"$jwe_layer" 3<jwe.payload)" >>"$times"
  }
  each_d_kind "$runs" cpu
  bench_summary "CPU time (perf stat task-clock), 1 KiB layer" "$times" "$pairs"
fi
# And on instructions executed (perf's counter, else valgrind's callgrind):
# unlike time, a count a busy host does not change, so a small difference
# shows. LAYERCRYPT_BENCH_VALGRIND_RUNS runs of each (default 10;
# 0 skips it).
vg_runs=${LAYERCRYPT_BENCH_VALGRIND_RUNS:-10}
if [ -n "$base" ] && [ "$vg_runs" -gt 0 ] && command -v valgrind >/dev/null; then
  : >"$times"
  instr() {  # ROUND KIND CMD...: CMD's instructions, in millions
    local r=$1 k=$2; shift 2
    echo "$r $k $(bench_instructions_millions "$@" <"$jwe_layer" 3<jwe.payload)" >>"$times"
  }
  each_d_kind "$vg_runs" instr
  bench_summary "instructions, millions, 1 KiB layer" "$times" "$pairs" | sed 's/(ms, /(/'
fi
rm -f "$times"
echo "gRPC server through bench/keyprovider_client.py (python3-grpcio), $runs calls each:"
printf '%-44s %7s %15s %7s\n' "" median "p10-p90" fastest
for name in h2c mtls; do
  eval "port=\$${name}_port"
  tls=()
  [ "$name" = mtls ] && tls=(--tls ca.pem client.pem client.key)
  while read -r how m p10 p90 f; do
    label="  $name, one warm channel"
    [ "$how" = fresh ] && label="  $name, a new channel per call"
    printf '%-44s %7.2f %7.2f-%-7.2f %7.2f\n' "$label" "$m" "$p10" "$p90" "$f"
  done < <("$py" "$root/bench/keyprovider_client.py" "127.0.0.1:$port" unwrap.json "$runs" "${tls[@]}")
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(bench_cpu); $("$decoder" --version)${base:+; base: $("$base" --version)}"
