"""Oracle test: quarc's interpreter kernels for the com.microsoft quantized ops against
ONNX Runtime.

Each case builds a one-node ONNX model, runs it with onnxruntime, builds the same graph
in quarc through the C API (ctypes on libquarc.so), runs quarc's reference interpreter
and compares. Quantized (integer) outputs must match exactly; float outputs within the
tolerance stated per case (ONNX Runtime accumulates in float32, quarc in double).
"""

import ctypes as C
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper
import onnxruntime as ort

# ---- a small ctypes binding of quarc's C API --------------------------------------------------

MAX_RANK = 8


class Tensor(C.Structure):
    _fields_ = [("dtype", C.c_int), ("rank", C.c_int32), ("dims", C.c_int64 * MAX_RANK),
                ("buf", C.c_void_p), ("offset", C.c_size_t)]


class RValue(C.Structure):
    _fields_ = [("kind", C.c_uint8), ("optional", C.c_uint8), ("elem", C.c_int), ("t", Tensor),
                ("n_items", C.c_int32), ("items", C.c_void_p)]


class Type(C.Structure):
    _fields_ = [("kind", C.c_uint8), ("dtype", C.c_int), ("rank", C.c_int32),
                ("dims", C.c_int64 * MAX_RANK)]


def _load():
    build = os.environ.get("QUARC_BUILD_DIR") or os.path.join(
        os.path.dirname(__file__), "..", "..", "build")
    # Lazy binding: parts of the library unrelated to these kernels may still be stubs.
    lib = C.CDLL(os.path.join(build, "libquarc.so"), mode=os.RTLD_LAZY | os.RTLD_LOCAL)
    P, I32, I64 = C.c_void_p, C.c_int32, C.c_int64
    sig = {
        "qc_graph_create": (P, [P, C.POINTER(P)]),
        "qc_graph_destroy": (None, [P]),
        "qc_graph_set_opset": (P, [P, C.c_char_p, I64]),
        "qc_type_unknown": (Type, []),
        "qc_graph_add_input": (P, [P, C.c_char_p, C.POINTER(Type), C.POINTER(I32)]),
        "qc_graph_add_const": (P, [P, C.c_char_p, C.POINTER(Tensor), C.POINTER(I32)]),
        "qc_graph_add_output": (P, [P, I32]),
        "qc_graph_add_node": (P, [P, C.c_uint16, C.c_char_p, I32, C.POINTER(I32), I32,
                                  C.POINTER(C.c_char_p), C.POINTER(I32)]),
        "qc_graph_find": (I32, [P, C.c_char_p]),
        "qc_op_lookup": (C.c_uint16, [C.c_char_p, C.c_char_p]),
        "qc_node_set_int": (P, [P, I32, C.c_char_p, I64]),
        "qc_node_set_float": (P, [P, I32, C.c_char_p, C.c_double]),
        "qc_node_set_ints": (P, [P, I32, C.c_char_p, I32, C.POINTER(I64)]),
        "qc_tensor_alloc": (P, [C.POINTER(Tensor), P, C.c_int, I32, C.POINTER(I64)]),
        "qc_tensor_release": (None, [C.POINTER(Tensor)]),
        "qc_tensor_nbytes": (C.c_size_t, [C.POINTER(Tensor)]),
        "qc_buffer_data": (P, [P]),
        "qc_rvalue_tensor": (RValue, [C.POINTER(Tensor)]),
        "qc_rvalue_release": (None, [C.POINTER(RValue)]),
        "qc_run_graph": (P, [P, P, I32, C.POINTER(RValue), I32, C.POINTER(RValue)]),
        "qc_status_message": (C.c_char_p, [P]),
        "qc_status_free": (None, [P]),
        "qc_dtype_from_onnx": (C.c_int, [C.c_int]),
    }
    for name, (res, args) in sig.items():
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib


LIB = _load()


def check(status):
    if status:
        msg = LIB.qc_status_message(status).decode()
        LIB.qc_status_free(status)
        raise RuntimeError(msg)


def to_qc(arr):
    """A numpy array as a new qc_tensor (the caller releases it)."""
    code = helper.np_dtype_to_tensor_dtype(arr.dtype)
    t = Tensor()
    dims = (C.c_int64 * MAX_RANK)(*arr.shape)
    check(LIB.qc_tensor_alloc(C.byref(t), None, LIB.qc_dtype_from_onnx(code), arr.ndim, dims))
    raw = np.ascontiguousarray(arr).tobytes()
    assert len(raw) == LIB.qc_tensor_nbytes(C.byref(t))
    C.memmove(LIB.qc_buffer_data(t.buf) + t.offset, raw, len(raw))
    return t



def from_qc(t, np_dtype):
    shape = tuple(t.dims[i] for i in range(t.rank))
    n = LIB.qc_tensor_nbytes(C.byref(t))
    raw = C.string_at(LIB.qc_buffer_data(t.buf) + t.offset, n)
    return np.frombuffer(raw, dtype=np_dtype).reshape(shape).copy()


def run_quarc(node, opsets, feeds, out_dtypes):
    """Run one ONNX NodeProto in quarc with the given inputs (name -> array)."""
    g = C.c_void_p()
    check(LIB.qc_graph_create(None, C.byref(g)))
    try:
        for dom, ver in opsets.items():
            check(LIB.qc_graph_set_opset(g, dom.encode(), ver))
        ins, rvals, tensors = [], [], []
        for name in node.input:
            if not name:
                ins.append(-1)
                continue
            v = C.c_int32()
            ty = LIB.qc_type_unknown()
            check(LIB.qc_graph_add_input(g, name.encode(), C.byref(ty), C.byref(v)))
            ins.append(v.value)
            t = to_qc(feeds[name])
            tensors.append(t)
            rvals.append(LIB.qc_rvalue_tensor(C.byref(t)))
        op = LIB.qc_op_lookup(node.domain.encode(), node.op_type.encode())
        assert op != 0xFFFF, node.op_type
        outs = (C.c_char_p * len(node.output))(*[o.encode() for o in node.output])
        nid = C.c_int32()
        check(LIB.qc_graph_add_node(g, op, b"n", len(ins), (C.c_int32 * len(ins))(*ins),
                                    len(node.output), outs, C.byref(nid)))
        for a in node.attribute:
            if a.type == onnx.AttributeProto.INT:
                check(LIB.qc_node_set_int(g, nid, a.name.encode(), a.i))
            elif a.type == onnx.AttributeProto.FLOAT:
                check(LIB.qc_node_set_float(g, nid, a.name.encode(), a.f))
            elif a.type == onnx.AttributeProto.INTS:
                vals = (C.c_int64 * max(1, len(a.ints)))(*a.ints)
                check(LIB.qc_node_set_ints(g, nid, a.name.encode(), len(a.ints), vals))
            else:
                raise ValueError(a.name)
        for o in node.output:
            check(LIB.qc_graph_add_output(g, LIB.qc_graph_find(g, o.encode())))
        n_in = len(rvals)
        rin = (RValue * max(1, n_in))(*rvals)
        rout = (RValue * len(node.output))()
        check(LIB.qc_run_graph(g, None, n_in, rin, len(node.output), rout))
        res = [from_qc(rout[i].t, dt) for i, dt in enumerate(out_dtypes)]
        for i in range(len(node.output)):
            LIB.qc_rvalue_release(C.byref(rout[i]))
        for i in range(n_in):
            LIB.qc_rvalue_release(C.byref(rin[i]))
        for t in tensors:
            LIB.qc_tensor_release(C.byref(t))
        return res
    finally:
        LIB.qc_graph_destroy(g)


def run_ort(node, opsets, feeds, out_types):
    inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(feeds[n].dtype),
                                            feeds[n].shape) for n in node.input if n]
    outputs = [helper.make_tensor_value_info(o, t, None) for o, t in zip(node.output, out_types)]
    graph = helper.make_graph([node], "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v)
                                                    for d, v in opsets.items()])
    model.ir_version = 10
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {n: feeds[n] for n in node.input if n})


OPSETS = {"": 21, "com.microsoft": 1}
FAILURES = []


def compare(name, node, feeds, out_types, atol=0.0, rtol=0.0, int_tol=0):
    expect = run_ort(node, OPSETS, feeds, out_types)
    got = run_quarc(node, OPSETS, feeds, [e.dtype for e in expect])
    for i, (g, e) in enumerate(zip(got, expect)):
        ok = g.shape == e.shape and g.dtype == e.dtype
        if ok and np.issubdtype(e.dtype, np.integer):
            ok = np.max(np.abs(g.astype(np.int64) - e.astype(np.int64)), initial=0) <= int_tol
        elif ok:
            ok = np.allclose(g, e, atol=atol, rtol=rtol)
        if not ok:
            FAILURES.append(name)
            print(f"FAIL {name} output {i}:\n  quarc {g.dtype}{g.shape}\n{g}\n  ort {e.dtype}{e.shape}\n{e}")
            return
    print(f"ok   {name}")


RNG = np.random.default_rng(1234)


def q(dtype, shape):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max + 1, size=shape, dtype=np.int64).astype(dtype)


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def scalar(v, dt):
    return np.array(v, dtype=dt)


# ---- MatMulNBits -------------------------------------------------------------------------------

def pack_bits(codes, bits):
    """LSB-first bit stream of `bits`-bit codes along the last axis, as uint8."""
    flat = codes.reshape(-1, codes.shape[-1]).astype(np.uint32)
    n = flat.shape[1]
    nbytes = (n * bits + 7) // 8
    out = np.zeros((flat.shape[0], nbytes), dtype=np.uint8)
    for i in range(n):
        bit = i * bits
        out[:, bit // 8] |= ((flat[:, i] << (bit % 8)) & 0xFF).astype(np.uint8)
        if bit % 8 + bits > 8:
            out[:, bit // 8 + 1] |= (flat[:, i] >> (8 - bit % 8)).astype(np.uint8)
    return out.reshape(codes.shape[:-1] + (nbytes,))


def matmul_nbits_case(bits, K, N, bs, zp_mode, bias, a_shape, dtype=np.float32):
    kb = (K + bs - 1) // bs
    codes = RNG.integers(0, 1 << bits, size=(N, kb, bs))
    codes[:, -1, K - (kb - 1) * bs:] = 0  # padding of the last block
    B = pack_bits(codes, bits)  # (N, kb, bs*bits/8)
    scales = (RNG.random((N, kb)) * 0.1 + 0.01).astype(dtype)
    feeds = {"A": RNG.standard_normal(a_shape + (K,)).astype(dtype), "B": B, "scales": scales}
    inputs = ["A", "B", "scales"]
    if zp_mode == "packed":
        zc = RNG.integers(0, 1 << bits, size=(N, kb))
        feeds["zp"] = pack_bits(zc, bits)
        inputs.append("zp")
    elif zp_mode == "float":
        feeds["zp"] = (RNG.random((N, kb)) * (1 << bits)).astype(dtype)
        inputs.append("zp")
    if bias:
        inputs += [""] * (4 - len(inputs)) + ["", "bias"]
        feeds["bias"] = RNG.standard_normal(N).astype(dtype)
    node = helper.make_node("MatMulNBits", inputs, ["Y"], domain="com.microsoft", K=K, N=N,
                            bits=bits, block_size=bs)
    tol = 1e-2 if dtype == np.float16 else 1e-4
    compare(f"MatMulNBits bits={bits} K={K} N={N} bs={bs} zp={zp_mode} bias={bias} "
            f"{np.dtype(dtype).name}", node, feeds,
            [helper.np_dtype_to_tensor_dtype(np.dtype(dtype))], atol=tol, rtol=tol)


def test_matmul_nbits():
    matmul_nbits_case(4, 64, 8, 32, "none", False, (3,))
    matmul_nbits_case(4, 40, 6, 16, "packed", True, (2, 3))
    matmul_nbits_case(4, 64, 5, 16, "float", False, (4,))
    matmul_nbits_case(8, 48, 4, 32, "packed", False, (2,))
    matmul_nbits_case(2, 64, 4, 16, "packed", False, (3,))
    matmul_nbits_case(2, 32, 3, 16, "none", True, (1,))
    matmul_nbits_case(4, 32, 4, 16, "packed", False, (2,), np.float16)


# ---- com.microsoft QuantizeLinear / DequantizeLinear -------------------------------------------

def test_ms_quantize_dequantize():
    x = f32(2, 3, 4) * 10
    for dt in (np.uint8, np.int8, np.uint16, np.int16):
        feeds = {"x": x, "s": scalar(0.07, np.float32), "z": scalar(3, dt)}
        node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], domain="com.microsoft")
        compare(f"ms.QuantizeLinear per-tensor {np.dtype(dt).name}", node, feeds,
                [helper.np_dtype_to_tensor_dtype(np.dtype(dt))])
        feeds = {"x": x, "s": np.array([0.05, 0.1, 0.2], np.float32), "z": np.array([1, 2, 3], dt)}
        node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], domain="com.microsoft",
                                axis=1)
        compare(f"ms.QuantizeLinear per-axis {np.dtype(dt).name}", node, feeds,
                [helper.np_dtype_to_tensor_dtype(np.dtype(dt))])
        qx = q(dt, (2, 3, 4))
        feeds = {"x": qx, "s": np.array([0.05, 0.1, 0.2], np.float32), "z": np.array([1, 2, 3], dt)}
        node = helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], domain="com.microsoft",
                                axis=1)
        compare(f"ms.DequantizeLinear per-axis {np.dtype(dt).name}", node, feeds,
                [TensorProto.FLOAT], atol=1e-6, rtol=1e-6)
        feeds = {"x": qx, "s": scalar(0.3, np.float32), "z": scalar(2, dt)}
        node = helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], domain="com.microsoft")
        compare(f"ms.DequantizeLinear per-tensor {np.dtype(dt).name}", node, feeds,
                [TensorProto.FLOAT], atol=1e-6, rtol=1e-6)


# ---- integer matmuls with float outputs ---------------------------------------------------------

def test_matmul_integer_to_float():
    for adt, bdt in ((np.uint8, np.int8), (np.int8, np.int8), (np.uint8, np.uint8)):
        feeds = {"A": q(adt, (2, 3, 5)), "B": q(bdt, (5, 4)), "as": scalar(0.02, np.float32),
                 "bs": (RNG.random(4) * 0.05).astype(np.float32), "az": scalar(7, adt),
                 "bz": q(bdt, (4,)), "bias": f32(4)}
        node = helper.make_node("MatMulIntegerToFloat", ["A", "B", "as", "bs", "az", "bz", "bias"],
                                ["Y"], domain="com.microsoft")
        compare(f"MatMulIntegerToFloat {np.dtype(adt).name}x{np.dtype(bdt).name}", node, feeds,
                [TensorProto.FLOAT], atol=1e-4, rtol=1e-5)


def test_dynamic_quantize_matmul():
    for bdt in (np.int8, np.uint8):
        feeds = {"A": f32(3, 6), "B": q(bdt, (6, 5)), "bs": scalar(0.03, np.float32),
                 "bz": scalar(1, bdt), "bias": f32(5)}
        node = helper.make_node("DynamicQuantizeMatMul", ["A", "B", "bs", "bz", "bias"], ["Y"],
                                domain="com.microsoft")
        compare(f"DynamicQuantizeMatMul {np.dtype(bdt).name}", node, feeds, [TensorProto.FLOAT],
                atol=1e-4, rtol=1e-5)
    feeds = {"A": f32(2, 2, 6), "B": q(np.int8, (6, 3)),
             "bs": (RNG.random(3) * 0.05).astype(np.float32)}
    node = helper.make_node("DynamicQuantizeMatMul", ["A", "B", "bs"], ["Y"], domain="com.microsoft")
    compare("DynamicQuantizeMatMul per-column scale, no zp", node, feeds, [TensorProto.FLOAT],
            atol=1e-4, rtol=1e-5)


# ---- QLinear elementwise ------------------------------------------------------------------------

def test_qlinear_binary():
    for op in ("QLinearAdd", "QLinearMul"):
        for dt in (np.uint8, np.int8):
            feeds = {"A": q(dt, (2, 3, 4)), "as": scalar(0.05, np.float32), "az": scalar(3, dt),
                     "B": q(dt, (3, 1)), "bs": scalar(0.02, np.float32), "bz": scalar(-2 if dt == np.int8 else 9, dt),
                     "cs": scalar(0.11 if op == "QLinearAdd" else 0.4, np.float32),
                     "cz": scalar(5, dt)}
            node = helper.make_node(op, ["A", "as", "az", "B", "bs", "bz", "cs", "cz"], ["C"],
                                    domain="com.microsoft")
            compare(f"{op} {np.dtype(dt).name} broadcast", node, feeds,
                    [helper.np_dtype_to_tensor_dtype(np.dtype(dt))])


def test_qlinear_sigmoid():
    for dt in (np.uint8, np.int8):
        feeds = {"X": np.arange(np.iinfo(dt).min, np.iinfo(dt).max + 1).astype(dt),
                 "xs": scalar(0.05, np.float32), "xz": scalar(10, dt),
                 "ys": scalar(1 / 256, np.float32), "yz": scalar(np.iinfo(dt).min, dt)}
        node = helper.make_node("QLinearSigmoid", ["X", "xs", "xz", "ys", "yz"], ["Y"],
                                domain="com.microsoft")
        compare(f"QLinearSigmoid {np.dtype(dt).name}", node, feeds,
                [helper.np_dtype_to_tensor_dtype(np.dtype(dt))])


def test_qlinear_concat():
    for dt in (np.uint8, np.int8):
        feeds = {"ys": scalar(0.1, np.float32), "yz": scalar(4, dt),
                 "a": q(dt, (2, 2, 3)), "as": scalar(0.1, np.float32), "az": scalar(4, dt),
                 "b": q(dt, (2, 1, 3)), "bs": scalar(0.05, np.float32), "bz": scalar(-1 if dt == np.int8 else 1, dt),
                 "c": q(dt, (2, 3, 3)), "cs": scalar(0.3, np.float32), "cz": scalar(0, dt)}
        node = helper.make_node("QLinearConcat", ["ys", "yz", "a", "as", "az", "b", "bs", "bz",
                                                  "c", "cs", "cz"], ["Y"], domain="com.microsoft",
                                axis=1)
        compare(f"QLinearConcat {np.dtype(dt).name}", node, feeds,
                [helper.np_dtype_to_tensor_dtype(np.dtype(dt))])


def test_qlinear_pools():
    for dt in (np.uint8, np.int8):
        x = q(dt, (2, 3, 5, 6))
        base = {"X": x, "xs": scalar(0.1, np.float32), "xz": scalar(3, dt),
                "ys": scalar(0.07, np.float32), "yz": scalar(-4 if dt == np.int8 else 6, dt)}
        ins = ["X", "xs", "xz", "ys", "yz"]
        node = helper.make_node("QLinearGlobalAveragePool", ins, ["Y"], domain="com.microsoft")
        compare(f"QLinearGlobalAveragePool {np.dtype(dt).name}", node, base,
                [helper.np_dtype_to_tensor_dtype(np.dtype(dt))])
        for pads, cip in (([0, 0, 0, 0], 0), ([1, 1, 1, 0], 0), ([1, 0, 1, 1], 1)):
            node = helper.make_node("QLinearAveragePool", ins, ["Y"], domain="com.microsoft",
                                    kernel_shape=[3, 2], strides=[2, 1], pads=pads,
                                    count_include_pad=cip)
            compare(f"QLinearAveragePool {np.dtype(dt).name} pads={pads} cip={cip}", node, base,
                    [helper.np_dtype_to_tensor_dtype(np.dtype(dt))])
        xl = dict(base, X=np.ascontiguousarray(x.transpose(0, 2, 3, 1)))
        node = helper.make_node("QLinearAveragePool", ins, ["Y"], domain="com.microsoft",
                                kernel_shape=[2, 2], strides=[1, 2], channels_last=1)
        compare(f"QLinearAveragePool {np.dtype(dt).name} channels_last", node, xl,
                [helper.np_dtype_to_tensor_dtype(np.dtype(dt))])


def test_qgemm():
    for adt, bdt in ((np.uint8, np.int8), (np.uint8, np.uint8), (np.int8, np.int8)):
        A = q(adt, (3, 5))
        Bt = q(bdt, (4, 5))
        base = {"A": A, "as": scalar(0.03, np.float32), "az": scalar(5, adt),
                "B": Bt, "bs": (RNG.random(4) * 0.05).astype(np.float32), "bz": q(bdt, (4,)),
                "C": RNG.integers(-500, 500, size=(4,)).astype(np.int32)}
        node = helper.make_node("QGemm", ["A", "as", "az", "B", "bs", "bz", "C"], ["Y"],
                                domain="com.microsoft", transB=1, alpha=0.5)
        compare(f"QGemm {np.dtype(adt).name}x{np.dtype(bdt).name} float out", node, base,
                [TensorProto.FLOAT], atol=1e-4, rtol=1e-5)
        feeds = dict(base, ys=scalar(0.2, np.float32), yz=scalar(3, adt))
        node = helper.make_node("QGemm", ["A", "as", "az", "B", "bs", "bz", "C", "ys", "yz"], ["Y"],
                                domain="com.microsoft", transB=1)
        compare(f"QGemm {np.dtype(adt).name}x{np.dtype(bdt).name} quantized out", node, feeds,
                [helper.np_dtype_to_tensor_dtype(np.dtype(adt))])
    feeds = {"A": q(np.uint8, (6, 2)), "as": scalar(0.03, np.float32), "az": scalar(5, np.uint8),
             "B": q(np.int8, (6, 3)), "bs": scalar(0.01, np.float32), "bz": scalar(0, np.int8)}
    node = helper.make_node("QGemm", ["A", "as", "az", "B", "bs", "bz"], ["Y"],
                            domain="com.microsoft", transA=1)
    compare("QGemm transA, no C", node, feeds, [TensorProto.FLOAT], atol=1e-4, rtol=1e-5)


def main():
    tests = [v for k, v in sorted(globals().items()) if k.startswith("test_") and callable(v)]
    for t in tests:
        t()
    if FAILURES:
        print(f"{len(FAILURES)} case(s) failed: {FAILURES}")
        return 1
    print("all cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
