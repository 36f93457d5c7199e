#!/usr/bin/env python3
"""How far apart two scorings of one fp8 model can be: AMD Quark's own perplexity of a
quantized model it exported (`bench_quark_ppl.py --export DIR`), re-imported with
quark.torch's import_model_from_safetensors, with every static input scale multiplied by
1 + eps (torch environment: torch, transformers, amd-quark; never in CI):

    /opt/torchvenv/bin/python tools/bench/bench_quark_fp8_noise.py DIR [--eps 0,1e-6,-1e-6]
        [--eval-windows 32 | 0 for the whole text] [--seq-len 512] [--threads 2]

A scale change of 1e-6 moves no value but those within a float rounding of a fp8 rounding
boundary, and those flip by a whole fp8 step: what another summation order does too. The
spread of the printed perplexities is the noise any fp8 perplexity on these windows carries
(docs/quant.md, "How far apart two scorings of one fp8 model can be"). The windows are quarc's
(`quarc eval ppl --save-tokens`), as bench_quark_ppl.py takes them.
"""
import argparse
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_quark_ppl as bq  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="a Quark safetensors export (bench_quark_ppl.py --export)")
    ap.add_argument("--quarc", default=os.path.join(bq.ROOT, "build", "quarc"))
    ap.add_argument("--text", default=os.path.join(bq.ROOT, "..", "shared", "data", "tinyshakespeare.txt"))
    ap.add_argument("--eps", default="0,1e-6,-1e-6")
    ap.add_argument("--eval-windows", type=int, default=32, help="0: every window of the evaluation text")
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tmp = tempfile.mkdtemp(prefix="quark-noise-")
    raw = open(a.text, "rb").read()
    eval_txt = os.path.join(tmp, "eval.txt")
    open(eval_txt, "wb").write(raw[bq.CALIB_BYTES:bq.CALIB_BYTES + bq.EVAL_BYTES])
    windows = bq.quarc_tokens(a, a.dir, eval_txt, tmp, "eval", a.eval_windows)
    from quark.torch.export.api import import_model_from_safetensors
    model = import_model_from_safetensors(None, a.dir, device="cpu").float().eval()
    quantizers = [m.input_quantizer for _, m in model.named_modules()
                  if getattr(m, "input_quantizer", None) is not None and hasattr(m.input_quantizer, "scale")]
    base = [q.scale.clone() for q in quantizers]
    print("%s: %d windows of %d, %d input scales" % (a.dir, len(windows), a.seq_len, len(quantizers)), flush=True)
    for eps in (float(e) for e in a.eps.split(",")):
        with torch.no_grad():
            for q, b in zip(quantizers, base):
                q.scale.copy_(b * (1 + eps))
        print("input scales x (1 %+g): ppl %.4f" % (eps, bq.ppl(model, windows)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
