#!/usr/bin/env bash
# tests/install/install_test.sh BUILD_DIR SOURCE_DIR: installs the build into
# a temporary prefix, builds tests/install/consumer against the installed
# package only (find_package(layercrypt), no source tree on the include
# path) and runs it; also checks that the installed headers are the
# public ones of every engine folder and kernels/. Then the C API the same
# way, with pkg-config and with find_package(layercrypt).
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d /tmp/layercrypt-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for h in engine/core/status.h engine/stream/layer_cipher.h engine/ocicrypt/annotations.h \
         engine/keywrap/key_wrapper.h engine/image/image_crypt.h engine/containerd/payload.h \
         kernels/aes_ctr.h; do
  [ -f "$tmp/prefix/include/layercrypt/$h" ] || { echo "not installed: $h"; exit 1; }
done
if find "$tmp/prefix/include" -name '*.cc' | grep -q .; then echo "sources installed as headers"; exit 1; fi
cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/consumer" -j2 >/dev/null
if grep -q -- "-I$src" "$tmp/consumer/CMakeFiles/consumer.dir/flags.make"; then
  echo "the consumer was built against the source tree, not the installed one"; exit 1
fi
"$tmp/consumer/consumer"

# The C API: liblayercrypt.so exports lc_* only; a C program builds against
# the installed header and library with pkg-config and with find_package.
lib=$(find "$tmp/prefix" -name 'liblayercrypt.so.0' | head -1)
[ -n "$lib" ] || { echo "liblayercrypt.so.0 not installed"; exit 1; }
[ -f "$tmp/prefix/include/layercrypt.h" ] || { echo "layercrypt.h not installed"; exit 1; }
if nm -D --defined-only "$lib" | awk '$3 !~ /^lc_/ && $3 != "LAYERCRYPT_0" { print $3 }' | grep -q .; then
  echo "liblayercrypt.so exports more than lc_*"; exit 1
fi
pc=$(dirname "$(find "$tmp/prefix" -name layercrypt.pc | head -1)")
keys="$src/tests/vectors/ocicrypt/keys"
PKG_CONFIG_PATH=$pc cc -o "$tmp/c_pkgconfig" "$src/tests/install/c_consumer/main.c" \
  $(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs layercrypt)
LD_LIBRARY_PATH=$(dirname "$lib") "$tmp/c_pkgconfig" "$keys/rsa2048.pub.pem" "$keys/rsa2048.pem"
cmake -S "$src/tests/install/c_consumer" -B "$tmp/c_consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$tmp/c_consumer" -j2 >/dev/null
"$tmp/c_consumer/c_consumer" "$keys/ecp256.pub.pem" "$keys/ecp256.pem"
echo "3 passed, 0 failed"
