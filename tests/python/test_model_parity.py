"""quarc's model builders against PyTorch: the tiny models of tests/data/models/ (made by
tests/oracle/gen_model_parity.py with transformers, seeded random weights) must give the
outputs transformers computed, in float32 on the CPU.

For every model directory:
  - `quarc run DIR` (the forward graph on the reference interpreter): logits (decoders) or
    last_hidden_state + sentence_embedding (BERT) within 1e-4 of PyTorch's, both as
    max|a-b| / max|b| and element by element (|a-b| <= 1e-4 |b| + 1e-5 max|b|);
  - decoders, `quarc run DIR --kv-cache`: the same logits when the sequence is fed in three
    chunks (6 tokens on an empty cache, then 1, then 5), each chunk's present.* outputs
    becoming the next chunk's past_key_values.* inputs;
  - `quarc opt DIR -o model.onnx` run in ONNX Runtime: the same outputs;
  - the outputs' inferred types keep the symbolic batch and sequence dims.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

SRC = os.environ.get("QUARC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("QUARC_BUILD_DIR", os.path.join(SRC, "build"))
QUARC = os.environ.get("QUARC", os.path.join(BUILD, "quarc"))
MODELS = os.path.join(SRC, "tests", "data", "models")

RTOL = 1e-4
ATOL_REL = 1e-5  # of max|b|: the per-element check's floor for values near zero
CHUNKS = (6, 1, 5)


def model_names():
    return sorted(d for d in os.listdir(MODELS) if os.path.exists(os.path.join(MODELS, d, "config.json")))


def is_encoder(d):
    return os.path.exists(os.path.join(d, "attention_mask.npy"))


def compare(a, b):
    """(max|a-b| / max|b|, worst element's |a-b| / (RTOL |b| + ATOL_REL max|b|))."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.abs(b).max()
    diff = np.abs(a - b)
    return diff.max() / scale, (diff / (RTOL * np.abs(b) + ATOL_REL * scale)).max()


def cache_shape(d):
    """(layers, kv heads, head_dim) from config.json, as the builder reads them."""
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    if c["model_type"] == "gpt2":
        return c["n_layer"], c["n_head"], c["n_embd"] // c["n_head"]
    heads = c["num_attention_heads"]
    kvh = c.get("num_key_value_heads") or heads
    return c["num_hidden_layers"], kvh, c.get("head_dim") or c["hidden_size"] // heads


class ModelParity(unittest.TestCase):
    report = []

    @classmethod
    def tearDownClass(cls):
        print("\nmodel parity (max|a-b|/max|b|; worst element / tolerance):", file=sys.stderr)
        for line in cls.report:
            print("  " + line, file=sys.stderr)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qc_parity_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def quarc(self, *args):
        r = subprocess.run([QUARC, *args], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, f"quarc {' '.join(args)}:\n{r.stderr}")
        return r

    def run_graph(self, d, inputs, out, kv_cache=False):
        """quarc run with named .npy inputs; returns the outputs in graph order."""
        args = ["run", d, "-o", out, "--npy"] + (["--kv-cache"] if kv_cache else [])
        for name, arr in inputs.items():
            p = os.path.join(self.tmp, f"in_{len(os.listdir(self.tmp))}_{name}.npy")
            np.save(p, arr)
            args += ["-i", f"{name}={p}"]
        self.quarc(*args)
        outs, j = [], 0
        while os.path.exists(os.path.join(out, f"output_{j}.npy")):
            outs.append(np.load(os.path.join(out, f"output_{j}.npy")))
            j += 1
        return outs

    def check(self, label, got, want):
        self.assertEqual(got.shape, want.shape, label)
        rel, elem = compare(got, want)
        self.report.append(f"{label:42s} {rel:.2e}  {elem:.3f}")
        self.assertLessEqual(rel, RTOL, f"{label}: max|a-b|/max|b| = {rel:.3e}")
        self.assertLessEqual(elem, 1.0, f"{label}: an element is off by {elem:.2f}x the tolerance")

    def inputs_and_refs(self, d):
        if is_encoder(d):
            names = ("input_ids", "attention_mask", "token_type_ids")
            refs = ("last_hidden_state", "sentence_embedding")
        else:
            names, refs = ("input_ids",), ("logits",)
        ins = {n: np.load(os.path.join(d, n + ".npy")) for n in names}
        return ins, [np.load(os.path.join(d, r + ".npy")) for r in refs], refs

    def test_forward(self):
        for name in model_names():
            with self.subTest(model=name):
                d = os.path.join(MODELS, name)
                ins, refs, ref_names = self.inputs_and_refs(d)
                outs = self.run_graph(d, ins, os.path.join(self.tmp, name))
                self.assertEqual(len(outs), len(refs))
                for got, want, rn in zip(outs, refs, ref_names):
                    self.check(f"{name} {rn}", got, want)

    def test_output_types(self):
        """Shape inference keeps the symbolic batch and sequence dims through every family's
        position arithmetic (OPT's offset included)."""
        for name in model_names():
            with self.subTest(model=name):
                d = os.path.join(MODELS, name)
                out = self.quarc("inspect", d).stdout
                _, refs, ref_names = self.inputs_and_refs(d)
                for ref, rn in zip(refs, ref_names):
                    dims = ["batch", "seq"][:ref.ndim - 1] + [str(ref.shape[-1])]
                    self.assertIn(f"  {rn}: f32[{','.join(dims)}]", out)

    def test_kv_cache_chunks(self):
        for name in model_names():
            d = os.path.join(MODELS, name)
            if is_encoder(d):
                continue
            with self.subTest(model=name):
                ids = np.load(os.path.join(d, "input_ids.npy"))
                want = np.load(os.path.join(d, "logits.npy"))
                self.assertEqual(ids.shape[1], sum(CHUNKS))
                n_layers, kvh, hd = cache_shape(d)
                past = {}
                for i in range(n_layers):
                    for kv in ("key", "value"):
                        past[f"past_key_values.{i}.{kv}"] = np.zeros((ids.shape[0], kvh, 0, hd), np.float32)
                got, start = [], 0
                for c, n in enumerate(CHUNKS):
                    outs = self.run_graph(d, {"input_ids": ids[:, start:start + n], **past},
                                          os.path.join(self.tmp, f"{name}_kv{c}"), kv_cache=True)
                    self.assertEqual(len(outs), 1 + 2 * n_layers)
                    got.append(outs[0])
                    start += n
                    for i in range(n_layers):
                        pk, pv = outs[1 + 2 * i], outs[2 + 2 * i]
                        self.assertEqual(pk.shape, (ids.shape[0], kvh, start, hd))
                        past[f"past_key_values.{i}.key"] = pk
                        past[f"past_key_values.{i}.value"] = pv
                self.check(f"{name} logits, KV cache {'+'.join(map(str, CHUNKS))}",
                           np.concatenate(got, axis=1), want)

    def test_onnx_runtime(self):
        import onnxruntime as ort
        for name in model_names():
            with self.subTest(model=name):
                d = os.path.join(MODELS, name)
                path = os.path.join(self.tmp, name + ".onnx")
                self.quarc("opt", d, "-o", path)
                ins, refs, ref_names = self.inputs_and_refs(d)
                so = ort.SessionOptions()
                so.log_severity_level = 3
                sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
                self.assertEqual(sorted(i.name for i in sess.get_inputs()), sorted(ins))
                outs = sess.run(None, ins)
                for got, want, rn in zip(outs, refs, ref_names):
                    self.check(f"{name} {rn}, ONNX Runtime", got, want)


if __name__ == "__main__":
    unittest.main(verbosity=2)
