"""Symbolic shape inference on model-like graphs, checked against onnxruntime.

The backend node tests have static shapes. Real exports have symbolic batch and
sequence dims that flow through shape arithmetic (Shape -> Gather -> Concat ->
Reshape, Range for positions, Slice of masks). This test builds small decoder-style
models with onnx.helper, runs tests/infer/dump_types on them, and checks that
  - the outputs keep the symbolic dims they should ($batch, $seq, ...),
  - every static dim and dtype equals what onnxruntime produces for a few concrete
    values of the symbols.
It also loads tiny Hugging Face directories (Llama with grouped-query attention,
GPT-2) that qc_model_load builds into forward graphs, and checks that inference
alone (declared types cleared) gives logits [$batch,$seq,vocab].
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SRC = os.environ.get("QUARC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("QUARC_BUILD_DIR", os.path.join(SRC, "build"))
DUMP = os.path.join(BUILD, "tests", "infer", "dump_types")

rng = np.random.default_rng(0)


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def decoder_block():
    """input_ids [batch, seq] -> logits [batch, seq, 50], present_k [batch, 4, seq, 8]."""
    d, heads, hd, vocab, maxpos = 32, 4, 8, 50, 64
    inits = [
        const("wte", rng.standard_normal((vocab, d)).astype(np.float32)),
        const("wpe", rng.standard_normal((maxpos, d)).astype(np.float32)),
        const("ln_g", np.ones(d, np.float32)),
        const("ln_b", np.zeros(d, np.float32)),
        const("wq", rng.standard_normal((d, d)).astype(np.float32)),
        const("wk", rng.standard_normal((d, d)).astype(np.float32)),
        const("wv_q", rng.integers(-8, 8, (d, d)).astype(np.int8)),
        const("wv_s", np.full(d, 0.05, np.float32)),
        const("wv_z", np.zeros(d, np.int8)),
        const("zero", np.array(0, np.int64)),
        const("one", np.array(1, np.int64)),
        const("zero2", np.array([0, 0], np.int64)),
        const("ax0", np.array([0], np.int64)),
        const("ax01", np.array([0, 1], np.int64)),
        const("heads_hd", np.array([heads, hd], np.int64)),
        const("minus1", np.array([-1], np.int64)),
        const("scale", np.array(hd ** -0.5, np.float32)),
        const("mask_full", np.triu(np.full((maxpos, maxpos), -1e4, np.float32), 1)),
        # lm head as MatMulNBits: N=50, K=32, block 16, 4 bits
        const("lm_b", rng.integers(0, 255, (vocab, 2, 8)).astype(np.uint8)),
        const("lm_s", np.full(vocab * 2, 0.01, np.float32)),
    ]
    n = helper.make_node
    nodes = [
        n("Gather", ["wte", "input_ids"], ["tok"]),
        n("Shape", ["input_ids"], ["ids_shape"]),
        n("Gather", ["ids_shape", "one"], ["seq_len"]),
        n("Gather", ["ids_shape", "zero"], ["batch_len"]),
        n("Range", ["zero", "seq_len", "one"], ["pos"]),
        n("Gather", ["wpe", "pos"], ["pos_emb"]),
        n("Add", ["tok", "pos_emb"], ["h"]),
        n("LayerNormalization", ["h", "ln_g", "ln_b"], ["ln"], axis=-1),
        n("MatMul", ["ln", "wq"], ["q"]),
        n("MatMul", ["ln", "wk"], ["k"]),
        n("DequantizeLinear", ["wv_q", "wv_s", "wv_z"], ["wv"], axis=1),
        n("MatMul", ["ln", "wv"], ["v"]),
        n("Unsqueeze", ["batch_len", "ax0"], ["b1"]),
        n("Unsqueeze", ["seq_len", "ax0"], ["s1"]),
        n("Concat", ["b1", "s1", "heads_hd"], ["qkv_shape"], axis=0),
        n("Reshape", ["q", "qkv_shape"], ["q4"]),
        n("Reshape", ["k", "qkv_shape"], ["k4"]),
        n("Reshape", ["v", "qkv_shape"], ["v4"]),
        n("Transpose", ["q4"], ["qh"], perm=[0, 2, 1, 3]),
        n("Transpose", ["k4"], ["present_k"], perm=[0, 2, 1, 3]),
        n("Transpose", ["k4"], ["kt"], perm=[0, 2, 3, 1]),
        n("Transpose", ["v4"], ["vh"], perm=[0, 2, 1, 3]),
        n("MatMul", ["qh", "kt"], ["scores0"]),
        n("Mul", ["scores0", "scale"], ["scores1"]),
        n("Concat", ["s1", "s1"], ["mask_end"], axis=0),
        n("Slice", ["mask_full", "zero2", "mask_end", "ax01"], ["mask"]),
        n("Add", ["scores1", "mask"], ["scores"]),
        n("Softmax", ["scores"], ["probs"], axis=-1),
        n("MatMul", ["probs", "vh"], ["ctx"]),
        n("Transpose", ["ctx"], ["ctx_t"], perm=[0, 2, 1, 3]),
        n("Concat", ["b1", "s1", "minus1"], ["out_shape"], axis=0),
        n("Reshape", ["ctx_t", "out_shape"], ["attn"]),
        n("Add", ["attn", "h"], ["res"]),
        n("MatMulNBits", ["res", "lm_b", "lm_s"], ["logits"], domain="com.microsoft",
          K=d, N=vocab, bits=4, block_size=16),
    ]
    graph = helper.make_graph(
        nodes, "decoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("present_k", TensorProto.FLOAT, None)],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 10
    expected = ["[$batch,$seq,50]", "[$batch,4,$seq,8]"]
    feeds = [{"input_ids": rng.integers(0, vocab, (b, s)).astype(np.int64)}
             for b, s in ((1, 1), (2, 5), (3, 17))]
    return "decoder", model, expected, feeds


def conv_net():
    """x [n, 3, h, w] -> global pooled logits [n, 10]; spatial dims stay symbolic with 'same' pads."""
    inits = [
        const("w1", rng.standard_normal((8, 3, 3, 3)).astype(np.float32)),
        const("b1", np.zeros(8, np.float32)),
        const("w2", rng.standard_normal((8, 1, 3, 3)).astype(np.float32)),
        const("fc", rng.standard_normal((8, 10)).astype(np.float32)),
        const("flat", np.array([0, -1], np.int64)),
    ]
    n = helper.make_node
    nodes = [
        n("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        n("Relu", ["c1"], ["r1"]),
        n("Conv", ["r1", "w2"], ["c2"], group=8, auto_pad="SAME_UPPER"),
        n("GlobalAveragePool", ["c2"], ["gap"]),
        n("Reshape", ["gap", "flat"], ["feat"]),
        n("MatMul", ["feat", "fc"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes, "convnet",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, "h", "w"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, None),
         helper.make_tensor_value_info("c2", TensorProto.FLOAT, None)],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    expected = ["[$n,10]", "[$n,8,$h,$w]"]
    feeds = [{"x": rng.standard_normal((b, 3, h, w)).astype(np.float32)}
             for b, h, w in ((1, 4, 4), (2, 7, 9))]
    return "convnet", model, expected, feeds


def hf_models(tmp):
    """Tiny Hugging Face model directories (config.json + model.safetensors) that
    qc_model_load builds into forward graphs: (name, dir, expected output types)."""
    try:
        from safetensors.numpy import save_file
    except ImportError:
        return []
    import json
    out = []
    # Llama with grouped-query attention
    d, inter, layers, heads, kv, vocab = 32, 64, 2, 4, 2, 100
    hd = d // heads
    cfg = {"model_type": "llama", "vocab_size": vocab, "hidden_size": d,
           "intermediate_size": inter, "num_hidden_layers": layers, "num_attention_heads": heads,
           "num_key_value_heads": kv, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "tie_word_embeddings": False, "hidden_act": "silu"}
    w = {"model.embed_tokens.weight": (vocab, d), "model.norm.weight": (d,), "lm_head.weight": (vocab, d)}
    for i in range(layers):
        p = "model.layers.%d." % i
        w.update({p + "self_attn.q_proj.weight": (heads * hd, d), p + "self_attn.k_proj.weight": (kv * hd, d),
                  p + "self_attn.v_proj.weight": (kv * hd, d), p + "self_attn.o_proj.weight": (d, heads * hd),
                  p + "mlp.gate_proj.weight": (inter, d), p + "mlp.up_proj.weight": (inter, d),
                  p + "mlp.down_proj.weight": (d, inter), p + "input_layernorm.weight": (d,),
                  p + "post_attention_layernorm.weight": (d,)})
    out.append(("llama", cfg, w, ["[$batch,$seq,%d]" % vocab]))
    # GPT-2 (Conv1D weights in [in, out])
    npos = 64
    cfg = {"model_type": "gpt2", "vocab_size": vocab, "n_embd": d, "n_layer": layers, "n_head": heads,
           "n_positions": npos, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new"}
    w = {"wte.weight": (vocab, d), "wpe.weight": (npos, d), "ln_f.weight": (d,), "ln_f.bias": (d,)}
    for i in range(layers):
        p = "h.%d." % i
        w.update({p + "ln_1.weight": (d,), p + "ln_1.bias": (d,), p + "ln_2.weight": (d,),
                  p + "ln_2.bias": (d,), p + "attn.c_attn.weight": (d, 3 * d),
                  p + "attn.c_attn.bias": (3 * d,), p + "attn.c_proj.weight": (d, d),
                  p + "attn.c_proj.bias": (d,), p + "mlp.c_fc.weight": (d, 4 * d),
                  p + "mlp.c_fc.bias": (4 * d,), p + "mlp.c_proj.weight": (4 * d, d),
                  p + "mlp.c_proj.bias": (d,)})
    out.append(("gpt2", cfg, w, ["[$batch,$seq,%d]" % vocab]))
    res = []
    for name, cfg, shapes, expected in out:
        path = os.path.join(tmp, name)
        os.makedirs(path)
        json.dump(cfg, open(os.path.join(path, "config.json"), "w"))
        save_file({k: rng.standard_normal(v).astype(np.float32) for k, v in shapes.items()},
                  os.path.join(path, "model.safetensors"))
        res.append((name, path, expected))
    return res


def main():
    if not os.path.exists(DUMP):
        print("SKIP: %s is not built" % DUMP)
        return 0
    import onnxruntime as ort
    failures = 0
    with tempfile.TemporaryDirectory(prefix="quarc-infer-models-") as tmp:
        for build in (decoder_block, conv_net):
            name, model, expected, feeds = build()
            path = os.path.join(tmp, name + ".onnx")
            onnx.save(model, path)
            p = subprocess.run([DUMP, path], capture_output=True, text=True)
            lines = [l for l in p.stdout.splitlines() if not l.startswith("==")]
            if p.returncode or any(l.startswith("!!") for l in lines):
                if "cannot tell the model format" in p.stdout:
                    print("SKIP: this build cannot load .onnx models yet")
                    return 0
                print("FAIL %s: %s" % (name, p.stdout.strip() + p.stderr.strip()))
                failures += 1
                continue
            got = [l.split(" ", 3) for l in lines]
            sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            for i, (idx, kind, dt, dims) in enumerate(got):
                if dims != expected[i]:
                    print("FAIL %s output %d: inferred %s, expected %s" % (name, i, dims, expected[i]))
                    failures += 1
            for feed in feeds:
                outs = sess.run(None, feed)
                for i, (idx, kind, dt, dims) in enumerate(got):
                    real = outs[i]
                    want_dt = helper.np_dtype_to_tensor_dtype(real.dtype)
                    inferred = dims[1:-1].split(",") if dims not in ("*", "[]") else []
                    if dt != "?" and int(dt) != want_dt:
                        print("FAIL %s output %d: dtype %s, real %d" % (name, i, dt, want_dt))
                        failures += 1
                    if dims != "*" and len(inferred) != real.ndim:
                        print("FAIL %s output %d: rank of %s, real shape %s" % (name, i, dims, real.shape))
                        failures += 1
                        continue
                    for a, b in zip(inferred, real.shape):
                        if a.isdigit() and int(a) != b:
                            print("FAIL %s output %d: %s vs real %s" % (name, i, dims, real.shape))
                            failures += 1
            print("%s: %s" % (name, ", ".join(l[3] for l in got)))
        for name, path, expected in hf_models(tmp):
            p = subprocess.run([DUMP, path], capture_output=True, text=True)
            got = [l.split(" ", 3)[3] for l in p.stdout.splitlines()
                   if l and not l.startswith(("==", "!!"))]
            if p.returncode or got != expected:
                print("FAIL %s (Hugging Face directory): %s, expected %s" % (name, p.stdout.strip(), expected))
                failures += 1
            else:
                print("%s: %s" % (name, ", ".join(got)))
    print("%d failures" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
