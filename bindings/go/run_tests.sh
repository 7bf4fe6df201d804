#!/usr/bin/env bash
# bindings/go/run_tests.sh BUILD_DIR [go test arguments...]
#
# Runs the Go binding's tests against the build tree's liblayercrypt.so
# (BUILD_DIR/bindings) and the source header (bindings/c), offline: GOPATH
# mode with Debian's Go packages (/usr/share/gocode: containers/ocicrypt,
# image-spec, go-digest), GOPROXY=off, nothing fetched. GOPATH, GOCACHE and
# GOTMPDIR live under BUILD_DIR/go, so it runs as any user, root included.
# Extra arguments go to `go test`, e.g. the benchmarks:
#
#   bindings/go/run_tests.sh build/release -run '^$' -bench . -benchtime 3x
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [go test arguments...]" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
shift
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LIB="$BUILD/bindings"
GO=${GO:-go}
GOCODE=/usr/share/gocode

die() { echo "run_tests.sh: $*" >&2; exit 1; }
[ -e "$LIB/liblayercrypt.so" ] || die "no $LIB/liblayercrypt.so (build the project first)"
command -v "$GO" >/dev/null || die "no go (apt-get install golang-go)"
for p in github.com/containers/ocicrypt github.com/opencontainers/image-spec github.com/opencontainers/go-digest; do
  [ -d "$GOCODE/src/$p" ] || die "no $GOCODE/src/$p (apt-get install golang-go golang-github-containers-ocicrypt-dev" \
    "golang-github-opencontainers-image-spec-dev golang-github-opencontainers-go-digest-dev)"
done

# The package's import path inside a private GOPATH: a link to the source.
MODULE=github.com/layercrypt/layercrypt
WORK="$BUILD/go"
mkdir -p "$WORK/gopath/src/github.com/layercrypt" "$WORK/cache" "$WORK/tmp"
ln -sfn "$SRC" "$WORK/gopath/src/$MODULE"

export GO111MODULE=off GOPROXY=off GOFLAGS= GOENV=off GOTOOLCHAIN=local
export GOPATH="$WORK/gopath:$GOCODE" GOCACHE="$WORK/cache" GOTMPDIR="$WORK/tmp"
export CGO_ENABLED=1
export CGO_CFLAGS="-g -O2 -I$SRC/bindings/c"
export CGO_LDFLAGS="-g -O2 -L$LIB"
export LD_LIBRARY_PATH="$LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

PKG="$MODULE/bindings/go"
PKGS=("$PKG" "$PKG/config" "$PKG/helpers" "$PKG/examples/ocibuild")
cd "$WORK/gopath/src/$PKG"
"$GO" vet "${PKGS[@]}"
# -count=1: the test cache does not see liblayercrypt.so change.
exec "$GO" test -count=1 "${PKGS[@]}" "$@"
