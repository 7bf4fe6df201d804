#!/usr/bin/env bash
# tests/install/install_test.sh BUILD_DIR SOURCE_DIR: installs the build into
# a temporary prefix, builds tests/install/consumer against the installed
# package only (find_package(layercrypt), no source tree on the include
# path) and runs it; also checks that the installed headers are the
# public ones of every engine folder and kernels/.
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
echo "1 passed, 0 failed"
