"""ONNX import -> export round trip over every conformance model (node/ and simple/).

For each model: quarc imports it and writes it back (`quarc opt M -o M2` when the tool
has that command, else tests/conformance/onnx_roundtrip, which also re-imports the
result and checks that the graph is unchanged). Then
  - onnx.checker.check_model must accept the written model;
  - where onnxruntime can run the original on its test data, it must also run the
    written model and give the same outputs.
Models listed in tests/conformance/roundtrip_xfail.txt are expected to fail in quarc
(import errors that are tracked elsewhere); any other failure is a regression and fails
the test. A listed model that now works is reported, not failed.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

SRC = os.environ.get("QUARC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
CONF = os.environ.get("QUARC_CONFORMANCE_DIR")
BUILD = os.environ.get("QUARC_BUILD_DIR")
QUARC = os.environ.get("QUARC")


def exporter():
    """A function (src, dst) -> (ok, message)."""
    if QUARC and subprocess.run([QUARC, "help", "opt"], capture_output=True).returncode == 0:
        def run(src, dst):
            p = subprocess.run([QUARC, "opt", src, "-o", dst], capture_output=True, text=True)
            return p.returncode == 0, p.stderr.strip()
        return "quarc opt", run
    tool = os.path.join(BUILD or "", "tests", "conformance", "onnx_roundtrip")
    if not os.path.exists(tool):
        sys.exit(f"test_onnx_roundtrip: neither `quarc opt` nor {tool} is available")

    def run(src, dst):
        p = subprocess.run([tool, src, dst, "--check"], capture_output=True, text=True)
        return p.returncode == 0, p.stderr.strip()
    return "onnx_roundtrip --check", run


def read_xfail(path):
    names = set()
    if os.path.exists(path):
        for line in open(path):
            line = line.split("#", 1)[0].strip()
            if line:
                names.add(line)
    return names


def load_value(path, type_proto):
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


def feeds_for(model, test_dir):
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    sets = sorted(glob.glob(os.path.join(test_dir, "test_data_set_*")))
    result = []
    for ds in sets:
        feed = {}
        for k, vi in enumerate(inputs):
            f = os.path.join(ds, f"input_{k}.pb")
            if os.path.exists(f):
                feed[vi.name] = load_value(f, vi.type)
        result.append(feed)
    return result


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
        return np.allclose(a, b, rtol=1e-5, atol=1e-7, equal_nan=True)
    return np.array_equal(a, b)


def session(path):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def main():
    if not CONF or not os.path.isdir(CONF):
        print("test_onnx_roundtrip: no conformance data (QUARC_CONFORMANCE_DIR); skipping")
        return 0
    ort.set_default_logger_severity(4)  # models ORT cannot run are skipped, not logged
    how, export = exporter()
    xfail = read_xfail(os.path.join(SRC, "tests", "conformance", "roundtrip_xfail.txt"))
    dirs = sorted(glob.glob(os.path.join(CONF, "node", "*"))) + sorted(
        glob.glob(os.path.join(CONF, "simple", "*")))
    dirs = [d for d in dirs if os.path.exists(os.path.join(d, "model.onnx"))]
    only = sys.argv[1:]
    if only:
        dirs = [d for d in dirs if any(f in os.path.basename(d) for f in only)]
    tmp = tempfile.mkdtemp(prefix="quarc-roundtrip-")
    counts = dict(models=0, exported=0, checker_ok=0, ort_compared=0, ort_same=0,
                  ort_skipped=0, expected_failures=0)
    regressions, fixed = [], []
    try:
        for d in dirs:
            name = os.path.basename(d)
            counts["models"] += 1
            src = os.path.join(d, "model.onnx")
            dst = os.path.join(tmp, name + ".onnx")
            ok, msg = export(src, dst)
            if not ok:
                if name in xfail:
                    counts["expected_failures"] += 1
                else:
                    regressions.append(f"{name}: quarc: {msg}")
                continue
            if name in xfail:
                fixed.append(name)
            counts["exported"] += 1
            try:
                onnx.checker.check_model(onnx.load(dst))
                counts["checker_ok"] += 1
            except Exception as e:  # noqa: BLE001 - any checker complaint is a failure
                regressions.append(f"{name}: onnx.checker: {str(e).splitlines()[0]}")
                continue
            # onnxruntime: only where it runs the original.
            try:
                orig = session(src)
                feeds = feeds_for(onnx.load(src), d)
                want = [orig.run(None, f) for f in feeds]
            except Exception:  # noqa: BLE001 - ORT cannot run this model: nothing to compare
                counts["ort_skipped"] += 1
                continue
            counts["ort_compared"] += 1
            try:
                mine = session(dst)
                got = [mine.run(None, f) for f in feeds]
            except Exception as e:  # noqa: BLE001
                regressions.append(f"{name}: onnxruntime rejects the exported model: "
                                   f"{str(e).splitlines()[0][:300]}")
                continue
            if all(len(g) == len(w) and all(same(x, y) for x, y in zip(g, w))
                   for g, w in zip(got, want)):
                counts["ort_same"] += 1
            else:
                regressions.append(f"{name}: onnxruntime gives different outputs for the "
                                   "exported model")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"round trip via {how}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    for n in fixed:
        print(f"note: {n} now round-trips; remove it from tests/conformance/roundtrip_xfail.txt")
    for r in regressions:
        print("FAIL " + r)
    print(f"{len(regressions)} regression(s)")
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
