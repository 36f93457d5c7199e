"""Every quantization preset, exported to ONNX, runs in ONNX Runtime and gives what
`quarc run` gives on the same file.

For all-MiniLM-L6-v2 (text calibration, lines) and a small random Llama (calibration from a
directory of .npy batches), for each preset:
  1. `quarc quantize` writes the ONNX (and, with --no-lower, the quarc-op form as .qir);
  2. ONNX Runtime (graph optimizations off: the model's own semantics) and `quarc run` run
     the ONNX on the same input; every output and every activation QuantizeLinear ->
     DequantizeLinear result is compared. The first quantized activation must agree except
     where the two runtimes' float ops (Gelu, LayerNorm, sums) left a value so close to a
     rounding boundary that it fell the other way (at most 0.5% of its elements); later ones
     inherit those flips, which coarse formats (fp8: 1/16 steps) amplify layer by layer, so
     they are reported, not asserted. Outputs must agree to a cosine of 0.995 where
     activations are quantized (0.999 for the weight-only presets, whose outputs must also
     agree to float summation order);
  3. `quarc run` on the quarc-op form (Quark's fake quantization) against the ONNX: how far
     the standard-op lowering is from Quark's numerics (reported, not asserted).
Printed: the max abs difference per model and preset.
"""
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import quant_util as qu  # noqa: E402

PRESETS = ["int8", "int8_per_channel_dynamic", "fp8", "int4_wo_128", "uint4_wo_128", "mxfp4",
           "mxfp6_e3m2", "mxfp6_e2m3", "mx6", "mx9", "bfp16", "nvfp4"]
WEIGHT_ONLY = {"int4_wo_128", "uint4_wo_128"}


def with_outputs(src, dst, extra):
    import onnx
    from onnx import helper
    m = onnx.load(src)
    have = {o.name for o in m.graph.output}
    for n in extra:
        if n not in have:
            m.graph.output.append(helper.make_empty_tensor_value_info(n))
    onnx.save(m, dst)


def qdq_values(path):
    """Names of the DequantizeLinear outputs that follow an activation QuantizeLinear."""
    import onnx
    m = onnx.load(path)
    prod = qu.producer_map(m)
    out = []
    for n in m.graph.node:
        if n.op_type == "DequantizeLinear" and n.input[0] in prod and prod[n.input[0]].op_type == "QuantizeLinear":
            out.append(n.output[0])
    return out


def run_quarc(model, feeds, names, tmp):
    ins = []
    for k, v in feeds.items():
        p = os.path.join(tmp, k + ".npy")
        np.save(p, v)
        ins += ["-i", "%s=%s" % (k, p)]
    out = os.path.join(tmp, "out")
    for f in glob.glob(os.path.join(out, "*")):
        os.remove(f)
    qu.quarc("run", model, *ins, "-o", out, "--npy")
    return [np.load(os.path.join(out, "output_%d.npy" % i)) for i in range(len(names))]


def compare(tag, onnx_path, feeds, tmp, weight_only):
    """ORT and quarc on one ONNX file; returns (failures, max abs diff of the outputs)."""
    import onnx
    failures = 0
    m = onnx.load(onnx_path)
    outs = [o.name for o in m.graph.output]
    qdq = qdq_values(onnx_path)
    probe = os.path.join(tmp, "probe.onnx")
    with_outputs(onnx_path, probe, qdq)
    names = outs + [n for n in qdq if n not in outs]
    try:
        ref = qu.ort_session(probe).run(names, feeds)
    except Exception as e:  # noqa: BLE001
        print("FAIL %s: ONNX Runtime cannot run the export: %s" % (tag, str(e)[:400]))
        return 1, float("nan")
    got = run_quarc(probe, feeds, names, tmp)
    worst = 0.0
    first_qdq = True
    fracs = []
    for i, n in enumerate(names):
        a, b = np.asarray(ref[i], np.float64), np.asarray(got[i], np.float64)
        if a.shape != b.shape:
            print("FAIL %s %s: shape %s vs %s" % (tag, n, a.shape, b.shape))
            failures += 1
            continue
        d = np.abs(a - b)
        if i < len(outs):
            worst = max(worst, float(d.max()) if d.size else 0.0)
            c = qu.cosine(a, b)
            limit = 1e-4 * max(1.0, float(np.abs(a).max())) if weight_only else None
            if (limit is not None and d.max() > limit) or c < (0.999 if weight_only else 0.995):
                print("FAIL %s output %s: max abs diff %.3g, cosine %.6f" % (tag, n, d.max(), c))
                failures += 1
        else:
            tol = 1e-6 * max(1.0, float(np.abs(a).max()))
            off = d > tol
            frac = float(off.mean()) if off.size else 0.0
            fracs.append(frac)
            if first_qdq and frac > 5e-3:
                print("FAIL %s %s: %.3f%% of quantized values differ" % (tag, n, 100 * frac))
                failures += 1
            first_qdq = False
    if fracs:
        print("   %s: quantized activations differing: first %.4f%%, worst %.4f%% (of %d tensors)"
              % (tag, 100 * fracs[0], 100 * max(fracs), len(fracs)))
    return failures, worst


def main():
    have_minilm = os.path.exists(os.path.join(qu.MINILM, "model.safetensors")) and os.path.exists(qu.SHAKESPEARE)
    failures = 0
    results = []
    with tempfile.TemporaryDirectory(prefix="quarc-quant-export-") as tmp:
        llama = os.path.join(tmp, "llama")
        cfg = qu.make_tiny_llama(llama)
        lcal = os.path.join(tmp, "llama_calib")
        qu.write_id_batches(lcal, 4, 16, cfg["vocab_size"])
        models = [("llama", llama, ["--calib", lcal],
                   {"input_ids": np.random.default_rng(7).integers(0, cfg["vocab_size"], (1, 24)).astype(np.int64)})]
        if have_minilm:
            mcal = os.path.join(tmp, "calib.txt")
            qu.write_text_head(mcal, 8192)
            ids = np.array([[101, 2034, 6926, 1024, 2077, 2057, 10838, 2151, 2582, 1010, 2963, 2033, 3713, 1012, 102]], np.int64)
            models.append(("minilm", qu.MINILM, ["--calib", mcal, "--batches", "8", "--seq-len", "64"],
                           {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}))
        else:
            print("SKIP minilm: the model or tinyshakespeare is missing")
        for mname, mpath, calib, feeds in models:
            for preset in PRESETS:
                tag = "%s/%s" % (mname, preset)
                opath = os.path.join(tmp, "%s_%s.onnx" % (mname, preset))
                qpath = os.path.join(tmp, "%s_%s.qir" % (mname, preset))
                p = qu.quarc("quantize", mpath, "--scheme", preset, *calib, "-o", opath, check=False)
                if p.returncode:
                    print("FAIL %s: quarc quantize: %s" % (tag, p.stderr.strip().splitlines()[-1:]))
                    failures += 1
                    continue
                qu.quarc("quantize", mpath, "--scheme", preset, *calib, "--no-lower", "-o", qpath)
                if mname == "minilm":
                    qu.expand_bert_mask(opath, opath)
                f, worst = compare(tag, opath, feeds, tmp, preset in WEIGHT_ONLY)
                failures += f
                # Quark's numerics (quarc ops) against the lowered ONNX.
                onames = [o.name for o in qu.ort_session(opath).get_outputs()]
                fq = run_quarc(qpath, feeds, onames, tmp)
                lw = run_quarc(opath, feeds, onames, tmp)
                low = max(float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).max()) for a, b in zip(fq, lw))
                results.append((tag, worst, low))
                print("%s %s: max |ORT - quarc run| %.3g; max |quarc ops - lowered| %.3g"
                      % ("ok" if not f else "FAIL", tag, worst, low))
                sys.stdout.flush()
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
