#!/usr/bin/env bash
# tools/check_format.sh [SOURCE_DIR]: fails if a tracked C or C++ file
# differs from what clang-format (Debian 12's clang-format 14, .clang-format
# at the top: Google style, 100 columns) makes of it. Fix with
#   git ls-files '*.cc' '*.h' ':!tests/vectors' | xargs clang-format -i
set -euo pipefail
src=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$src"
command -v clang-format >/dev/null || { echo "check_format: clang-format missing (apt-get install clang-format)" >&2; exit 1; }
if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h' ':!tests/vectors')
else
  mapfile -t files < <(find . -name '*.cc' -o -name '*.h' | grep -v '^./build/\|^./tests/vectors/')
fi
clang-format --dry-run --Werror "${files[@]}"
echo "format: ${#files[@]} files checked, clang-format $(clang-format --version | grep -o '[0-9][0-9.]*' | head -1)"
