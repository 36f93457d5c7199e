#!/usr/bin/env python3
"""Draft rows of include/quarc/ops.def from onnx's operator schemas (onnx==1.22.0).

Used once to seed the table; ops.def is the source of truth and is edited by hand.
Run: python3 tools/dev/gen_onnx_ops.py > /tmp/ops_onnx.def
"""
import collections
from onnx import defs

PREFIX = {"": "", "ai.onnx.ml": "ML_", "ai.onnx.preview.training": "TR_", "ai.onnx.preview": "PV_"}
UNARY = set("Abs Acos Acosh Asin Asinh Atan Atanh Ceil Cos Cosh Erf Exp Floor Log Neg Reciprocal Relu Round Sigmoid Sign Sin Sinh Softplus Softsign Sqrt Tan Tanh Elu Selu Celu LeakyRelu HardSigmoid HardSwish Mish ThresholdedRelu Gelu Shrink Not BitwiseNot Identity Swish".split())
BINARY = set("Add Sub Mul Div Pow Mod And Or Xor BitShift BitwiseAnd BitwiseOr BitwiseXor PRelu".split())
COMPARE = set("Equal Greater GreaterOrEqual Less LessOrEqual".split())
VARIADIC_EW = set("Max Min Sum Mean".split())
COMMUT = set("Add Mul And Or Xor Equal Max Min Sum Mean BitwiseAnd BitwiseOr BitwiseXor".split())
RANDOM = set("RandomNormal RandomNormalLike RandomUniform RandomUniformLike Multinomial Bernoulli".split())
SUBGRAPH = set("If Loop Scan SequenceMap".split())
KIND = {"INT": "A_INT", "FLOAT": "A_FLOAT", "STRING": "A_STRING", "INTS": "A_INTS", "FLOATS": "A_FLOATS",
        "STRINGS": "A_STRINGS", "TENSOR": "A_TENSOR", "GRAPH": "A_GRAPH", "TENSORS": "A_TENSORS",
        "GRAPHS": "A_GRAPHS", "TYPE_PROTO": "A_TYPE", "SPARSE_TENSOR": "A_SPARSE"}

hist = collections.defaultdict(list)
for s in defs.get_all_schemas_with_history():
    hist[(s.domain, s.name)].append(s)

for (dom, name), ss in sorted(hist.items(), key=lambda kv: (kv[0][0] != "", kv[0][0], kv[0][1])):
    ss.sort(key=lambda s: s.since_version)
    since = ss[0].since_version
    until = 999
    if ss[-1].deprecated:
        until = ss[-1].since_version - 1
    live = [s for s in ss if not s.deprecated]
    # Only the schemas in force from opset 7 on (quarc reads opsets >= 7).
    at7 = [s for s in live if s.since_version <= 7]
    live = ([at7[-1]] if at7 else []) + [s for s in live if s.since_version > 7]
    if not live: live = [ss[-1]]
    mi = min(s.min_input for s in live); ma = max(s.max_input for s in live)
    mo = min(s.min_output for s in live); mao = max(s.max_output for s in live)
    ma = -1 if ma > 1000 else ma
    mao = -1 if mao > 1000 else mao
    flags = []
    if name in UNARY or name in BINARY or name in COMPARE or name in VARIADIC_EW: flags.append("EW")
    if name in COMMUT: flags.append("COMM")
    if name in RANDOM: flags.append("RAND")
    if name in SUBGRAPH: flags.append("SUBG")
    if dom != "": flags = flags
    fl = "|".join("F_" + f for f in flags) or "0"
    infer = "none"
    if dom == "":
        if name in UNARY: infer = "same"
        elif name in BINARY: infer = "broadcast"
        elif name in COMPARE: infer = "compare"
        elif name in VARIADIC_EW: infer = "broadcast"
    attrs = {}
    for s in live:
        for a, x in s.attributes.items():
            attrs[a] = x
    latest = live[-1].attributes
    parts = []
    for a in sorted(attrs):
        x = attrs[a]
        k = KIND[str(x.type).split(".")[-1]]
        dv = x.default_value
        if k == "A_INT":
            parts.append(f"{k}({a}, {dv.i if dv.name else 0}, {0 if dv.name or not (a in latest and latest[a].required) else 1})" if True else "")
        elif k == "A_FLOAT":
            parts.append(f"{k}({a}, {repr(float(dv.f)) if dv.name else '0.0'}, {0 if dv.name or not (a in latest and latest[a].required) else 1})")
        elif k == "A_STRING":
            sv = dv.s.decode() if dv.name else ""
            parts.append(f'{k}({a}, "{sv}", {0 if dv.name or not (a in latest and latest[a].required) else 1})')
        else:
            parts.append(f"{k}({a}, {1 if (a in latest and latest[a].required) else 0})")
    ident = PREFIX[dom] + name
    print(f'QC_OP({ident}, "{dom}", "{name}", {since}, {until}, {mi}, {ma}, {mo}, {mao}, {fl}, {infer}' +
          ("," if parts else "") + ("\n      " if parts else "") + " ".join(parts) + ")")
