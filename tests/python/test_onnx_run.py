"""`quarc run` against onnxruntime and ONNX's expected outputs, and its input checks.

- For a few conformance models whose ops the interpreter has (tensors, a sequence, an
  optional, a Loop with a sub-graph), `quarc run` must write output_<j>.pb files equal to
  the test's expected outputs; with --npy the .npy files must hold the same values.
- Inputs may be given in order or as NAME=FILE, as .pb or .npy (numpy writes them).
- Wrong dtype, wrong shape, a missing input, too many inputs and a bad file must fail
  with an error that names the input and the file.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

QUARC = os.environ.get("QUARC")
CONF = os.environ.get("QUARC_CONFORMANCE_DIR")

failures = []

# ml_dtypes types (as onnx's numpy_helper returns them) and what quarc writes to .npy.
WIDENED = {"int4": "int8", "uint4": "uint8", "int2": "int8", "uint2": "uint8",
           "bfloat16": "float32", "float8_e4m3fn": "float32", "float8_e4m3fnuz": "float32",
           "float8_e5m2": "float32", "float8_e5m2fnuz": "float32", "float4_e2m1fn": "float32",
           "float8_e8m0fnu": "float32"}


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what)


def run(args):
    p = subprocess.run([QUARC, "run"] + args, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def read_value(path, type_proto):
    kind = type_proto.WhichOneof("value")
    data = open(path, "rb").read()
    if kind == "sequence_type":
        p = onnx.SequenceProto()
        p.ParseFromString(data)
        return numpy_helper.to_list(p)
    if kind == "optional_type":
        p = onnx.OptionalProto()
        p.ParseFromString(data)
        return numpy_helper.to_optional(p)
    p = onnx.TensorProto()
    p.ParseFromString(data)
    return numpy_helper.to_array(p)


def same(a, b):
    if isinstance(a, list) or isinstance(b, list):
        return isinstance(a, list) and isinstance(b, list) and len(a) == len(b) and all(
            same(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is None and b is None
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return np.allclose(a, b, rtol=1e-3, atol=1e-7, equal_nan=True)
    return np.array_equal(a, b)


def conformance_case(name, tmp, npy_inputs=False, by_name=False):
    d = os.path.join(CONF, "node", name)
    if not os.path.isdir(d):
        d = os.path.join(CONF, "simple", name)
    model = onnx.load(os.path.join(d, "model.onnx"))
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    ds = os.path.join(d, "test_data_set_0")
    args = [os.path.join(d, "model.onnx")]
    for k, vi in enumerate(inputs):
        f = os.path.join(ds, f"input_{k}.pb")
        if npy_inputs and vi.type.WhichOneof("value") == "tensor_type":
            arr = read_value(f, vi.type)
            f = os.path.join(tmp, f"{name}_in{k}.npy")
            np.save(f, arr)
        args += ["-i", f"{vi.name}={f}" if by_name else f]
    if by_name:  # order must not matter when names are given
        pairs = [args[i:i + 2] for i in range(1, len(args), 2)]
        args = [args[0]] + [x for p in reversed(pairs) for x in p]
    out = os.path.join(tmp, name)
    rc, msg = run(args + ["-o", out, "--npy"])
    check(rc == 0, f"{name}: quarc run failed: {msg.strip()}")
    if rc != 0:
        return
    for j, vo in enumerate(model.graph.output):
        want = read_value(os.path.join(ds, f"output_{j}.pb"), vo.type)
        got = read_value(os.path.join(out, f"output_{j}.pb"), vo.type)
        check(same(got, want), f"{name}: output {j} differs from the expected value")
        if vo.type.WhichOneof("value") == "tensor_type":
            arr = np.load(os.path.join(out, f"output_{j}.npy"))
            w = np.asarray(want)
            if w.dtype.name in WIDENED:  # no NumPy type: written as exact wider values
                check(arr.dtype.name == WIDENED[w.dtype.name],
                      f"{name}: output_{j}.npy is {arr.dtype}, expected {WIDENED[w.dtype.name]}")
                w = w.astype(arr.dtype)
            check(same(arr, w), f"{name}: output_{j}.npy differs from the expected value")


def main():
    if not QUARC or not CONF or not os.path.isdir(CONF):
        print("test_onnx_run: QUARC or QUARC_CONFORMANCE_DIR missing; skipping")
        return 0
    with tempfile.TemporaryDirectory(prefix="quarc-run-") as tmp:
        conformance_case("test_add", tmp)
        conformance_case("test_add", tmp, npy_inputs=True, by_name=True)
        conformance_case("test_equal_string", tmp)
        conformance_case("test_identity_sequence", tmp)
        conformance_case("test_identity_opt", tmp)
        conformance_case("test_optional_has_element_empty_optional_input", tmp)
        conformance_case("test_loop11", tmp)
        conformance_case("test_quantizelinear_int4", tmp)
        conformance_case("test_quantizelinear_e4m3fn", tmp)

        d = os.path.join(CONF, "node", "test_add")
        m = os.path.join(d, "model.onnx")
        x = os.path.join(d, "test_data_set_0", "input_0.pb")
        y = os.path.join(d, "test_data_set_0", "input_1.pb")
        out = os.path.join(tmp, "err")
        f64 = os.path.join(tmp, "f64.npy")
        np.save(f64, np.zeros((3, 4, 5), np.float64))
        small = os.path.join(tmp, "small.npy")
        np.save(small, np.zeros((3, 4), np.float32))
        wide = os.path.join(tmp, "wide.npy")
        np.save(wide, np.zeros((3, 4, 6), np.float32))
        junk = os.path.join(tmp, "junk.pb")
        open(junk, "wb").write(b"\xff\xff\xff")
        cases = [
            ([m, "-i", x, "-i", f64, "-o", out],
             ["input 'y'", "f64.npy", "dtype f64 does not match the graph input's f32"]),
            ([m, "-i", x, "-i", small, "-o", out],
             ["input 'y'", "small.npy", "shape f32[3,4] does not match"]),
            ([m, "-i", x, "-i", wide, "-o", out],
             ["input 'y'", "wide.npy", "shape f32[3,4,6] does not match"]),
            ([m, "-i", x, "-o", out], ["input 1 'y' has no file"]),
            ([m, "-i", x, "-i", y, "-i", y, "-o", out], ["has 2 input(s)", "one too many"]),
            ([m, "-i", x, "-i", "x=" + y, "-o", out], ["input 'x' is given twice"]),
            ([m, "-i", x, "-i", junk, "-o", out], ["input 'y'", "junk.pb", "malformed protobuf"]),
            ([m, "-i", x, "-i", os.path.join(tmp, "nope.pb"), "-o", out], ["input 'y'", "nope.pb"]),
            ([m, "-i", x, "-i", y], ["no output directory"]),
        ]
        for args, frags in cases:
            rc, msg = run(args)
            check(rc != 0, f"quarc run {' '.join(args)} succeeded")
            for frag in frags:
                check(frag in msg, f"error for {args[2:]} lacks '{frag}': {msg.strip()}")
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
