#!/usr/bin/env python3
"""quarc's GGUF exports of SmolLM2-135M in llama.cpp: perplexity and speed against quarc's own.

For each type (default Q8_0, Q4_0, Q4_1), quarc exports SmolLM2-135M-Instruct to GGUF:
  - Q4_1 from the Q4_1 GGUF itself (every tensor written as it was, no requantizing);
  - the others from a float Hugging Face directory made from that GGUF by
    tests/oracle/gguf_to_hf.py (its weights are exactly the Q4_1 values), quantized by quarc's
    ggml reference quantizers (`quarc export DIR -o OUT.gguf --gguf-type T`), with the GGUF's
    own metadata and tokenizer copied in (--source MODEL.gguf).
Then `quarc eval ppl` scores the first 256 KB of tinyshakespeare on the exported file (windows
of --seq-len tokens, saved with --save-tokens) and llama.cpp (llama-cpp-python) loads the same
file and scores exactly those windows (bench_ppl.py's llama_cpp_ppl). Prints, per type, both
perplexities and their relative difference (bar: within 0.5%), and both tools' tokens/s.

--tiny instead exports the tests' tiny random Llama in every type (F32 .. MXFP4), and the
committed tiny llama / mistral / qwen2 / qwen3 / smollm2 models as F32, and compares llama.cpp's
logits on each file with quarc's (seconds).

Measured (2 shared cores under load from other jobs, so tokens/s are rough; llama.cpp's
include llama-cpp-python copying every position's logits), seq-len 2048:
    type  windows  ppl quarc  llama.cpp  rel diff  tok/s quarc  llama.cpp
    q8_0     4      36.4833    36.5874    0.285%       60.4        34.0
    q4_0     4      47.2112    47.4458    0.495%       68.3        58.7
    q4_0    12      46.5741    46.7579    0.393%      104.9        64.5
    q4_1     4      36.4168    36.4768    0.165%      128.0        49.5
    q4_1    39 (all of 256 KB)  32.5241    32.6036    0.244%      135.2        44.2
    q4_0    39 (all of 256 KB)  43.0516    43.1817    0.301%       59.5        76.0
    q8_0    39 (all of 256 KB)  32.5713    32.6609    0.274%      175.8       122.4
(Q4_0 is a second rounding of weights that are Q4_1 values, hence its higher perplexity.)

Needs llama-cpp-python, torch, transformers, gguf (run it with /opt/torchvenv/bin/python);
never run by CI. A full run takes several minutes per type on two cores.

    /opt/torchvenv/bin/python tools/bench/bench_gguf_export.py [--types q8_0,q4_0,q4_1]
        [--seq-len 2048] [--max-windows N] [--threads N] [--hf-dir DIR] [--keep DIR]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_ppl  # noqa: E402

ROOT = bench_ppl.ROOT
BAR = 0.005


def run(cmd):
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"failed ({r.returncode}):\n{r.stderr[-4000:]}")
    return r


def export(a, t, hf_dir, out):
    """quarc's GGUF of type t; returns the first line of its report."""
    if t == "q4_1":  # the source's own type: every tensor as it is
        r = run([a.quarc, "export", a.model, "-o", out, "--gguf-type", t])
    else:
        r = run([a.quarc, "export", hf_dir, "-o", out, "--gguf-type", t, "--source", a.model])
    return r.stderr.splitlines()[0] if r.stderr else ""


def byte_chars():
    """GPT-2's byte-level alphabet (bytes_to_unicode), in byte order."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, n = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + n))
            n += 1
    return out


def tiny_types(a):
    """Every --gguf-type of the tests' tiny random Llama, and the committed tiny transformers
    models of each llama family (tests/data/models: llama, mistral, qwen2, qwen3, smollm2) as
    F32, load in llama.cpp, whose logits are printed against quarc's on the same file
    (llama.cpp quantizes activations for its quantized dot products: expect about 1% apart;
    bar: cosine > 0.9995)."""
    from llama_cpp import Llama
    sys.path.insert(0, os.path.join(ROOT, "tests", "python"))
    import numpy as np
    import test_gguf_export as tg

    def compare(tmp, label, src, t, ids_path):
        out = os.path.join(tmp, f"{label}.{t}.gguf")
        run([a.quarc, "export", src, "-o", out, "--gguf-type", t])
        od = os.path.join(tmp, f"out_{label}_{t}")
        run([a.quarc, "run", out, "-i", "input_ids=" + ids_path, "-o", od, "--npy"])
        q = np.load(os.path.join(od, "output_0.npy"))[0].astype(np.float64)
        ids = np.load(ids_path)[0]
        llm = Llama(model_path=out, n_ctx=64, logits_all=True, verbose=False, n_threads=a.threads)
        llm.eval([int(x) for x in ids])
        ll = np.asarray(llm.scores[: len(ids)], np.float64)
        d = float(np.abs(q - ll).max())
        cos = float((q * ll).sum() / np.linalg.norm(q) / np.linalg.norm(ll))
        print(f"{label:8} {t:6} {d:24.4g} {d / np.abs(q).max():9.4f} {cos:10.7f}")
        return cos > 0.9995

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "llama")
        tg.make_llama(src)
        ids_path = os.path.join(tmp, "ids.npy")
        np.save(ids_path, np.random.default_rng(9).integers(0, tg.VOCAB, (1, 12)).astype(np.int64))
        print(f"{'model':8} {'type':6} {'max |quarc - llama.cpp|':>24} {'relative':>9} {'cosine':>10}")
        for t in tg.TYPES:
            ok &= compare(tmp, "tiny", src, t, ids_path)
        for fam in ("llama", "mistral", "qwen2", "qwen3", "smollm2"):
            d = os.path.join(tmp, "family_" + fam)  # llama.cpp wants a tokenizer: GPT-2's 256 byte tokens
            shutil.copytree(os.path.join(tg.FAMILIES, fam), d)
            with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
                json.dump({"model": {"type": "BPE", "vocab": {c: i for i, c in enumerate(byte_chars())},
                                     "merges": []}, "added_tokens": []}, f)
            ok &= compare(tmp, fam, d, "f32", os.path.join(d, "input_ids.npy"))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_ppl.add_common_args(ap)
    ap.add_argument("--types", default="q8_0,q4_0,q4_1")
    ap.add_argument("--hf-dir", help="the float HF directory (made with gguf_to_hf.py if missing)")
    ap.add_argument("--keep", help="write the exported GGUFs here instead of a temporary directory")
    ap.add_argument("--tiny", action="store_true",
                    help="instead: every type of a tiny random Llama in llama.cpp against quarc (seconds)")
    a = ap.parse_args()
    if a.tiny:
        sys.exit(0 if tiny_types(a) else 1)
    types = [t.strip().lower() for t in a.types.split(",") if t.strip()]

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = a.keep or tmp
        os.makedirs(out_dir, exist_ok=True)
        hf_dir = a.hf_dir or os.path.join(tmp, "hf")
        if any(t != "q4_1" for t in types) and not os.path.exists(os.path.join(hf_dir, "config.json")):
            run([sys.executable, os.path.join(ROOT, "tests", "oracle", "gguf_to_hf.py"), a.model, hf_dir])
        text_path = os.path.join(tmp, "text.txt")
        bench_ppl.write_text_head(a.text, a.bytes, text_path)
        for t in types:
            out = os.path.join(out_dir, f"smollm2-135m.{t}.gguf")
            if os.path.exists(out):
                os.remove(out)
            rep = export(a, t, hf_dir, out)
            print(rep, file=sys.stderr)
            tok_path = os.path.join(tmp, f"tokens_{t}.npy")
            q_ppl, q_tps, _, _, windows = bench_ppl.quarc_ppl(a.quarc, out, text_path, a.seq_len, a.threads,
                                                              tok_path, a.max_windows)
            l_ppl, l_tps, _, llm = bench_ppl.llama_cpp_ppl(out, windows, a.threads)
            del llm
            rel = abs(q_ppl - l_ppl) / l_ppl
            rows.append((t, os.path.getsize(out), q_ppl, l_ppl, rel, q_tps, l_tps, windows.shape))
            print(f"{t}: quarc {q_ppl:.4f}  llama.cpp {l_ppl:.4f}  rel {100 * rel:.3f}%  "
                  f"tok/s quarc {q_tps:.1f} llama.cpp {l_tps:.1f}", file=sys.stderr, flush=True)

    print(f"model   {a.model} exported by quarc; text: first {a.bytes} bytes of {os.path.basename(a.text)}, "
          f"{rows[0][7][0] if rows else 0} windows x {a.seq_len} tokens, {a.threads} threads")
    print(f"{'type':6} {'MiB':>7} {'ppl quarc':>10} {'llama.cpp':>10} {'rel diff':>9}  {'tok/s quarc':>11} "
          f"{'llama.cpp':>9}")
    ok = bool(rows)
    for t, size, qp, lp, rel, qt, lt, _ in rows:
        good = rel <= BAR
        ok &= good
        print(f"{t:6} {size / 2**20:7.1f} {qp:10.4f} {lp:10.4f} {100 * rel:8.3f}%  {qt:11.1f} {lt:9.1f}  "
              f"{'PASS' if good else 'FAIL'} (bar {100 * BAR:.1f}%)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
