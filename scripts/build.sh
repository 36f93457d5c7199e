#!/usr/bin/env bash
# Configure and build quarc into build/ (or the directory given) with the test venv.
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:-"$root/build"}
shift || true
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DQUARC_PYTHON="$root/.venv/bin/python" "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
