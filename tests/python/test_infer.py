"""Shape inference against real outputs: the ONNX backend node tests.

For every node/*/model.onnx and simple/*/model.onnx under QUARC_CONFORMANCE_DIR, tests/infer/dump_types loads the
model (which runs inference against the declared types), clears the types of node
outputs, infers them again from the graph inputs alone, and prints each graph output's
type. Every dtype and static dim printed must equal the real output in
test_data_set_0/output_<i>.pb; symbolic and unknown dims are not checked. The test fails
on any contradiction and on any model that fails to load or infer, except those listed
in tests/infer/xfail.txt (a listed model that passes is reported too: remove it).

It reports how many outputs came out fully static, partially known or unknown
(QUARC_INFER_VERBOSE=1 lists those not fully static).

The node tests feed shapes, axes and sizes as graph inputs, which leaves the rules that
read constant inputs untested. So each model is checked twice: as it is, and with every
tensor input turned into an initializer holding its test data (the "constant" variant),
where inference sees the values of shape tensors, axes, pads, scales and sizes.
"""
import glob
import os
import subprocess
import sys
import tempfile

import onnx
from onnx import TensorProto

SRC = os.environ.get("QUARC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("QUARC_BUILD_DIR", os.path.join(SRC, "build"))
CONF = os.environ.get("QUARC_CONFORMANCE_DIR",
                      os.path.join(SRC, "..", "shared", "conformance", "onnx-backend-v1.22.0"))
DUMP = os.path.join(BUILD, "tests", "infer", "dump_types")
XFAIL = os.path.join(SRC, "tests", "infer", "xfail.txt")


def parse_dump(text):
    """{model path: ("error", message) or ("ok", [(kind, dtype or None, dims or None)])}"""
    res, cur = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            cur = line[3:]
            res[cur] = ("ok", [])
        elif line.startswith("!! "):
            res[cur] = ("error", line[3:])
        elif line.strip():
            idx, kind, dt, dims = line.split(" ", 3)
            dt = None if dt == "?" else int(dt)
            if dims == "*":
                dims = None
            else:
                inner = dims[1:-1]
                dims = [] if not inner else inner.split(",")
                dims = [int(d) if d.lstrip("-").isdigit() else d for d in dims]
            res[cur][1].append((kind, dt, dims))
    return res


def run_dump(models):
    out = {}
    for i in range(0, len(models), 100):
        chunk = models[i:i + 100]
        p = subprocess.run([DUMP] + chunk, capture_output=True, text=True)
        got = parse_dump(p.stdout)
        if p.returncode != 0:
            # a crash: rerun the chunk one model at a time to name the culprit
            for m in chunk:
                if m in got and got[m][0] == "error" or m in got and got[m][1]:
                    continue
                q = subprocess.run([DUMP, m], capture_output=True, text=True)
                one = parse_dump(q.stdout)
                got[m] = one.get(m, ("error", "dump_types crashed (exit %d)" % q.returncode))
                if q.returncode != 0:
                    got[m] = ("error", "dump_types crashed (exit %d)" % q.returncode)
        out.update(got)
    return out


def real_outputs(test_dir, model):
    """[(kind, [(dtype, dims)] of the tensors it holds)] per graph output, None if no data."""
    res = []
    for i, o in enumerate(model.graph.output):
        path = os.path.join(test_dir, "test_data_set_0", "output_%d.pb" % i)
        if not os.path.exists(path):
            res.append(None)
            continue
        data = open(path, "rb").read()
        which = o.type.WhichOneof("value")
        if which == "sequence_type":
            s = onnx.SequenceProto()
            s.ParseFromString(data)
            res.append(("sequence", [(t.data_type, list(t.dims)) for t in s.tensor_values]))
        elif which == "optional_type":
            p = onnx.OptionalProto()
            p.ParseFromString(data)
            if p.HasField("tensor_value"):
                t = p.tensor_value
                res.append(("optional", [(t.data_type, list(t.dims))]))
            elif p.HasField("sequence_value"):
                res.append(("optional_sequence",
                            [(t.data_type, list(t.dims)) for t in p.sequence_value.tensor_values]))
            else:
                res.append(("optional", []))
        else:
            t = TensorProto()
            t.ParseFromString(data)
            res.append(("tensor", [(t.data_type, list(t.dims))]))
    return res


def check_output(inferred, real):
    """A list of contradictions (strings)."""
    kind, dt, dims = inferred
    rkind, tensors = real
    errs = []
    unknown = dt is None and dims is None and kind == "tensor"
    kinds_ok = {("optional", "optional_sequence"), ("optional_sequence", "optional")}
    if not unknown and kind != rkind and (kind, rkind) not in kinds_ok:
        errs.append("kind %s, real %s" % (kind, rkind))
        return errs
    for rdt, rdims in tensors:
        if dt is not None and dt != rdt:
            errs.append("dtype %d, real %d" % (dt, rdt))
        if dims is None:
            continue
        if len(dims) != len(rdims):
            errs.append("rank %d, real %d (%s vs %s)" % (len(dims), len(rdims), dims, rdims))
            continue
        for k, (a, b) in enumerate(zip(dims, rdims)):
            if isinstance(a, int) and a != b:
                errs.append("dim %d is %d, real %d (%s vs %s)" % (k, a, b, dims, rdims))
    return errs


def constant_variant(model_path, out_path):
    """Write the model with its tensor inputs turned into initializers; False if none."""
    model = onnx.load(model_path, load_external_data=False)
    test_dir = os.path.dirname(model_path)
    init_names = {t.name for t in model.graph.initializer}
    keep, changed = [], False
    for i, inp in enumerate(model.graph.input):
        path = os.path.join(test_dir, "test_data_set_0", "input_%d.pb" % i)
        if (inp.name in init_names or inp.type.WhichOneof("value") != "tensor_type"
                or not os.path.exists(path)):
            keep.append(inp)
            continue
        t = TensorProto()
        t.ParseFromString(open(path, "rb").read())
        t.name = inp.name
        model.graph.initializer.append(t)
        changed = True
    if not changed:
        return False
    del model.graph.input[:]
    model.graph.input.extend(keep)
    if model.ir_version < 4:
        model.ir_version = 4  # initializers that are not inputs
    onnx.save(model, out_path)
    return True


def classify(inferred):
    kind, dt, dims = inferred
    if dt is not None and dims is not None and all(isinstance(d, int) for d in dims):
        return "static"
    if dt is None and dims is None and kind == "tensor":
        return "unknown"
    return "partial"


def main():
    node_dir = os.path.join(CONF, "node")
    if not os.path.isdir(node_dir):
        print("SKIP: no conformance data at %s" % node_dir)
        return 0
    if not os.path.exists(DUMP):
        # tests/infer/CMakeLists.txt builds it where the ONNX importer is part of the build
        print("SKIP: %s is not built" % DUMP)
        return 0
    xfail = set()
    if os.path.exists(XFAIL):
        for line in open(XFAIL):
            line = line.split("#")[0].strip()
            if line:
                xfail.add(line)
    models = sorted(glob.glob(os.path.join(node_dir, "*", "model.onnx")) +
                    glob.glob(os.path.join(CONF, "simple", "*", "model.onnx")))
    tmp = tempfile.TemporaryDirectory(prefix="quarc-infer-")
    variants = {}
    for m in models:
        name = os.path.basename(os.path.dirname(m))
        out = os.path.join(tmp.name, name + ".onnx")
        try:
            if constant_variant(m, out):
                variants[m] = out
        except Exception as e:  # a model onnx cannot rewrite is only checked as it is
            print("note: %s: no constant variant (%s)" % (name, e))
    verbose = os.environ.get("QUARC_INFER_VERBOSE")
    dumped = run_dump(models + sorted(variants.values()))
    errors = [dumped.get(m, ("error", ""))[1] for m in models[:20]]
    if all(isinstance(e, str) and "cannot tell the model format" in e for e in errors):
        print("SKIP: this build cannot load .onnx models yet (%s)" % errors[0])
        return 0
    ok = True
    for mode in ("inputs", "constant"):
        counts = {"static": 0, "partial": 0, "unknown": 0}
        failures, surprises, xfailed, n_models = [], [], 0, 0
        for m in models:
            test_dir = os.path.dirname(m)
            name = os.path.basename(test_dir)
            path = m if mode == "inputs" else variants.get(m)
            if path is None:
                continue
            n_models += 1
            status, payload = dumped.get(path, ("error", "no output from dump_types"))
            problems = []
            if status == "error":
                problems.append(payload)
            else:
                model = onnx.load(m, load_external_data=False)
                real = real_outputs(test_dir, model)
                if len(payload) != len(real):
                    problems.append("%d outputs printed, the model has %d" % (len(payload), len(real)))
                for i, (inf, r) in enumerate(zip(payload, real)):
                    cls = classify(inf)
                    counts[cls] += 1
                    if verbose and cls != "static":
                        print("%s %s %s output %d: %s" % (cls.upper(), mode, name, i, inf))
                    if r is None:
                        continue
                    for e in check_output(inf, r):
                        problems.append("output %d: %s" % (i, e))
            key = name if mode == "inputs" else name + " (constant)"
            if key in xfail:
                if problems:
                    xfailed += 1
                else:
                    surprises.append(key)
            elif problems:
                failures.append((key, problems))
        total = sum(counts.values())
        print("%s: %d models, %d outputs: %d fully static, %d partially known, %d unknown"
              % (mode, n_models, total, counts["static"], counts["partial"], counts["unknown"]))
        print("  %d expected failures (tests/infer/xfail.txt)" % xfailed)
        for name, problems in failures:
            print("FAIL %s: %s" % (name, "; ".join(problems)))
        for name in surprises:
            print("UNEXPECTED PASS %s: remove it from tests/infer/xfail.txt" % name)
        print("  %d/%d models passed" % (n_models - len(failures) - xfailed - len(surprises), n_models))
        ok = ok and not failures and not surprises
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
