#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root), builds quarc twice — normal, and with
# AddressSanitizer + UndefinedBehaviorSanitizer — runs the whole test suite on both,
# and runs the fuzz targets for 60 s each. Exits non-zero if anything fails.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
start=$(date +%s)
source scripts/setup.sh

echo "== build (RelWithDebInfo)"
scripts/build.sh build
echo "== tests"
ctest --test-dir build --output-on-failure -j"$(nproc)" -E '^fuzz/'

echo "== build (ASan + UBSan)"
scripts/build.sh build-asan -DQUARC_SANITIZE=ON -DCMAKE_C_COMPILER=clang
echo "== tests under ASan + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -E '^fuzz/' -LE slow

echo "== fuzzing (60 s per target)"
scripts/build.sh build-fuzz -DQUARC_FUZZ=ON -DCMAKE_C_COMPILER=clang
ctest --test-dir build-fuzz --output-on-failure -R '^fuzz/'

echo "== all tests passed in $(( $(date +%s) - start )) s"
