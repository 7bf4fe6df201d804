#!/usr/bin/env bash
# tools/run.sh: the project's two entry points on a fresh Debian 12 machine.
#
#   ./tools/run.sh demo   installs what is missing, builds, runs the main job
#   ./tools/run.sh test   installs what is missing, builds, runs every test
#
# Both are idempotent: packages already installed are not touched and the
# build directories under build/ are reused. Run as root (or with sudo).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
JOBS=$(nproc 2>/dev/null || echo 2)

# Build and test dependencies, all Debian 12 packages.
PACKAGES=(
  build-essential cmake pkg-config git ca-certificates clang-format
  libisal-dev libipsec-mb-dev libssl-dev libtbb-dev zlib1g-dev libzstd-dev
  nlohmann-json3-dev libcli11-dev libtomlplusplus-dev libgtest-dev libbenchmark-dev
  libp11-kit-dev softhsm2 libyaml-cpp-dev librnp-dev gnupg
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  gzip pigz isal zstd openssl jq python3 skopeo tar time
  containerd docker-registry umoci python3-grpcio util-linux mount mmdebstrap
  golang-go golang-github-containers-ocicrypt-dev golang-github-opencontainers-image-spec-dev
  golang-github-opencontainers-go-digest-dev
  pybind11-dev python3-pybind11 python3-dev python3-pytest python3-setuptools python3-wheel python3-pip
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'run.sh: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to install packages: run as root or install sudo"; fi
}

install_missing() {
  local missing=() p
  for p in "${PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
      || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build() {  # build PRESET
  log "configure + build ($1)"
  cmake --preset "$1" >/dev/null
  cmake --build --preset "$1" -j "$JOBS"
}

cmd_test() {
  install_missing
  log "include directions (tools/check_include_directions.py)"
  python3 "$ROOT/tools/check_include_directions.py" "$ROOT"
  log "format (tools/check_format.sh)"
  "$ROOT/tools/check_format.sh" "$ROOT"
  build release
  log "tests (release)"
  ctest --preset release -j "$JOBS"
  if [ "${LAYERCRYPT_SKIP_SANITIZERS:-0}" != 1 ]; then
    build debug-asan-ubsan
    # The containerd end-to-end tests (label e2e) and the interop tests whose
    # peer runs from the Debian sid root (label sid) run our binaries as black
    # boxes next to Go peers; the release run above covers them.
    log "tests (debug, AddressSanitizer + UndefinedBehaviorSanitizer; e2e and sid peers in release only)"
    ctest --preset debug-asan-ubsan -j "$JOBS" -LE 'e2e|sid'
  fi
  log "all tests passed"
}

cmd_demo() {
  install_missing
  build release
  local bin="$ROOT/build/release"
  log "layercrypt --version --verbose"
  "$bin/tools/layercrypt" --version --verbose
  log "kernel self-check"
  "$bin/tools/layercrypt" selfcheck
  log "kernel benchmarks (1 MiB buffers, one core; peers measured in the same run)"
  "$ROOT/bench/summary.sh" "$bin/bench"
  log "layercrypt-decoder as containerd runs it, on every layer encrypted by skopeo and ctr-enc (blob, and tar with --decompress)"
  demo_decode "$bin/tools/layercrypt-decoder"
  log "the main job: sample image -> keygen -> encrypt -> decoder (as containerd) -> verify"
  "$ROOT/bench/encrypt_bench.sh" "$bin" "${LAYERCRYPT_DEMO_MB:-600}"
}

# demo_decode DECODER: decrypts every encrypted layer of the Go-made vector
# images (tests/vectors/ocicrypt) with the node key model (payload on fd 3,
# keys directory) and checks each output against the plaintext layer digest,
# then again with --decompress against the layer's diff_id (the tar).
demo_decode() {
  local dec=$1 vec="$ROOT/tests/vectors/ocicrypt" ok=0 bad=0 blob_ok tar_ok
  while IFS=$'\t' read -r image digest media keys payload want diff_id; do
    local blob="$vec/$(jq -r ".images[\"$image\"].layout" "$vec/expected.json")/blobs/sha256/${digest#sha256:}"
    local got tar
    got=$("$dec" --decryption-keys-path "$vec/$keys" <"$blob" 3<"$vec/$payload" | sha256sum | cut -d' ' -f1)
    tar=$("$dec" --decryption-keys-path "$vec/$keys" --decompress <"$blob" 3<"$vec/$payload" | sha256sum | cut -d' ' -f1)
    blob_ok=FAILED; tar_ok=FAILED
    [ "sha256:$got" = "$want" ] && blob_ok=ok
    [ "sha256:$tar" = "$diff_id" ] && tar_ok=ok
    if [ "$blob_ok$tar_ok" = okok ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
    printf '  %-20s %-40s blob %-6s tar (--decompress) %-6s %s\n' "$image" \
      "${media#application/vnd.oci.image.layer.v1.}" "$blob_ok" "$tar_ok" "${want:0:19}"
  done < <(jq -r '.images | to_entries[] | .key as $img | .value as $v | $v.layers[]
                  | select(.encrypted) | [$img, .digest, .mediaType, $v.key_dirs_that_decrypt[0],
                    .payloads.node, .expected_output_digest, .expected_diff_id] | @tsv' "$vec/expected.json")
  echo "decoded $ok layers to their plaintext digests and, with --decompress, to their diff_ids; $bad failed"
  [ "$bad" -eq 0 ]
}

case "${1:-}" in
  demo) cmd_demo ;;
  test) cmd_test ;;
  *) cat >&2 <<'USAGE'
usage: ./tools/run.sh demo | test
  demo   install what is missing, build, run the main job end to end
  test   install what is missing, build, run every test (release + ASan/UBSan)
example:
  ./tools/run.sh test
USAGE
     exit 2 ;;
esac
