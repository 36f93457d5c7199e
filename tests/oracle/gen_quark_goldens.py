#!/usr/bin/env python3
"""Golden numerics from AMD Quark 0.13 (torch on the CPU) for quarc's bit-exact tests.

    /opt/torchvenv/bin/python tests/oracle/gen_quark_goldens.py tests/data/quark_goldens

For every variant (a QTensorConfig, or a list of them, in QConfig.to_dict() form) the script
builds the quantizer exactly as Quark's ModelQuantizer does (FakeQuantizeBase.get_fake_quantize),
calibrates it as ModelQuantizer.calibrate does (observers on, fake quantization off, one call per
batch), then switches it to inference (static observers off, dynamic ones on, fake quantization
on) and runs it on a test tensor. It records the batches, the test tensor, the output, each
stage's scale and zero point, and (for static single specs) Quark's scaled_real_quantize output.

File format (little endian), one file per family, NAME.qgld:
    b"QGLD" u32 version(=1) u32 n_records
    records: u32 header_len, header (UTF-8 JSON), then the arrays the header lists, in order,
             each as raw little-endian elements.
    header: {"name", "specs": [QTensorConfig dicts], "is_list": bool, "model_dtype":
             "float32"|"bfloat16"|"float16", "calib": [array names], "arrays": [{"name",
             "dtype": "f32"|"i32"|"f64", "shape": [...]}, ...], "stage_params": [[scale name,
             zp name] or null per stage], "real": array name or null}
Values of bf16/f16 tensors are stored as float32 (exact).

Variants Quark itself rejects are listed on stderr and in NAME.skipped.txt.
"""
import json
import os

# torch.compile changes nothing in the results (checked once with it on; see docs/quant.md) and
# costs minutes per run.
os.environ.setdefault("QUARK_DISABLE_COMPILE", "1")

import struct
import sys
import traceback

import numpy as np
import torch

from quark.torch.quantization.config.config import QTensorConfig
from quark.torch.quantization.tensor_quantize import (
    FakeQuantizeBase,
    NonScaledFakeQuantize,
    ScaledFakeQuantize,
    SequentialQuantize,
)
from quark.torch.quantization.config.type import QSchemeType
import quark.torch.kernel  # noqa: F401  (registers the ops)

TORCH_DT = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

BASE = {
    "dtype": None, "is_dynamic": None, "qscheme": None, "ch_axis": None, "group_size": None,
    "block_size": None, "symmetric": None, "round_method": None, "scale_type": None,
    "zero_point_type": "int32", "scale_format": None, "scale_calculation_mode": None,
    "mx_element_dtype": None, "observer_cls": None, "is_scale_quant": False,
    "enable_buffer_reuse": False, "max_input_numel": 4194304,
}


def S(**kw):
    d = dict(BASE)
    for k, v in kw.items():
        assert k in d, k
        d[k] = v
    return d


# ---- inputs ------------------------------------------------------------------------------

def rng(seed):
    return np.random.RandomState(seed)


def normal(shape, seed, scale=1.0, tricky=True):
    r = rng(seed)
    x = (r.randn(*shape) * scale).astype(np.float32)
    if tricky:
        f = x.reshape(-1)
        n = f.size
        idx = r.choice(n, size=min(n, 12), replace=False)
        f[idx[0]] = 0.0
        f[idx[1]] = -0.0
        f[idx[2]] = np.float32(1e-40) * (scale if scale < 1e30 else 1)  # subnormal
        f[idx[3]] = -f[idx[4]]  # a pair of opposite values
        f[idx[5]] = f[idx[5]] * 9.0  # outliers
        f[idx[6]] = -abs(f[idx[6]]) * 7.5
        amax = np.abs(f).max()
        f[idx[7]] = amax  # +amax and -amax both present
        f[idx[8]] = -amax
        f[idx[9]] = np.float32(2.0 ** -130)  # below the float32 normal range
    return x


def ties(shape, seed, step=2.0 ** -4, qmax=127):
    """Values (k + 0.5) * step: exact ties after scaling by a power-of-two scale."""
    r = rng(seed)
    k = r.randint(-qmax - 1, qmax, size=shape)
    x = ((k + 0.5) * step).astype(np.float32)
    f = x.reshape(-1)
    f[0] = (qmax + 0.5) * step
    f[1] = -(qmax + 0.5) * step
    return x


def positive(shape, seed, lo=0.25, hi=3.0):
    r = rng(seed)
    return r.uniform(lo, hi, size=shape).astype(np.float32)


def mx_blocks(shape, seed, block=32):
    """Blocks whose amax sits on and around the e8m0 rounding thresholds."""
    r = rng(seed)
    x = r.randn(*shape).astype(np.float32)
    f = x.reshape(-1, shape[-1])
    specials = [1.0, 1.75, 1.7499999, 1.5, 1.9999999, 3.0, 6.0, 7.0, 0.875, 2.0 ** -20, 448.0, 0.0]
    for row in range(f.shape[0]):
        for b in range(f.shape[1] // block):
            blk = f[row, b * block:(b + 1) * block]
            s = specials[(row * 7 + b) % len(specials)] * 2.0 ** r.randint(-6, 7)
            if s == 0.0:
                blk[:] = 0.0
                continue
            blk *= s / max(np.abs(blk).max(), 1e-30) * 0.9
            blk[r.randint(0, block)] = s * (1 if r.rand() < 0.5 else -1)
            blk[r.randint(0, block)] = 0.0
            # exact ties for fp4 after scaling by 2^e: x.25 multiples
            blk[r.randint(0, block)] = np.float32(s * 0.625)
    return x


def to_model(x, md):
    t = torch.from_numpy(np.ascontiguousarray(x))
    return t.to(TORCH_DT[md])


# ---- running Quark ------------------------------------------------------------------------

def stages(q):
    return list(q) if isinstance(q, SequentialQuantize) else [q]


def run(specs, is_list, md, calib, x):
    cfgs = [QTensorConfig.from_dict(s) for s in specs]
    q = FakeQuantizeBase.get_fake_quantize(cfgs if is_list else cfgs[0])
    # ModelQuantizer calibration: observers on, fake quantization off.
    for m in stages(q):
        if isinstance(m, ScaledFakeQuantize):
            m.enable_observer()
            m.disable_fake_quant()
    with torch.no_grad():
        for c in calib:
            q(to_model(c, md))
    # ... then inference: dynamic observers stay on, static ones freeze.
    for m in stages(q):
        if isinstance(m, ScaledFakeQuantize):
            if m.is_dynamic and not (m.is_scale_quant and m.qscheme == QSchemeType.per_tensor):
                m.enable_observer()
            else:
                m.disable_observer()
            m.enable_fake_quant()
        elif isinstance(m, NonScaledFakeQuantize):
            m.enable_fake_quant()
    with torch.no_grad():
        xt = to_model(x, md)
        y = q(xt)
    params = []
    for m in stages(q):
        if isinstance(m, ScaledFakeQuantize):
            if hasattr(m, "scale"):
                params.append((m.scale.detach().clone(), m.zero_point.detach().clone()))
            else:  # DynamicScaledFakeQuantize keeps no buffers: its observer has them.
                s, z = m.observer._calculate_qparams()
                params.append((s.detach().clone(), z.detach().clone()))
        else:
            params.append(None)
    real = None
    m0 = stages(q)[0]
    if (not is_list and isinstance(m0, ScaledFakeQuantize) and hasattr(m0, "scale")
            and cfgs[0].dtype.value not in ("bfloat16", "float16")):
        try:
            zp = m0.zero_point  # as the exporter passes it (realquantizer.py)
            real = quark.torch.kernel.scaled_real_quantize(
                m0.dtype.value, xt, m0.scale, zp, m0.ch_axis, m0.group_size, m0.quant_min,
                m0.quant_max, m0.round_method, m0.qscheme_str_name)
        except Exception as e:  # some layouts are export-only in Quark
            real = None
            print(f"    (no real quantize: {type(e).__name__}: {str(e)[:80]})", file=sys.stderr)
    return y, params, real


# ---- writing ----------------------------------------------------------------------------------

class Writer:
    def __init__(self, path):
        self.path = path
        self.records = []
        self.skipped = []

    def add(self, name, specs, md, calib, x, is_list=None):
        if isinstance(specs, dict):
            specs = [specs]
            is_list = False if is_list is None else is_list
        elif is_list is None:
            is_list = True
        try:
            y, params, real = run(specs, is_list, md, calib, x)
        except Exception as e:
            msg = f"{name}: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
            print("  skipped (Quark raises) " + msg, file=sys.stderr)
            if os.environ.get("QGLD_TRACE"):
                traceback.print_exc()
            self.skipped.append(msg)
            return
        if torch.is_floating_point(y) and torch.isnan(y).any() and "nan" not in name:
            print(f"  note: {name}: output has NaN", file=sys.stderr)
        arrays, blobs = [], []

        def put(aname, t, dt="f32"):
            t = t.detach().cpu()
            if dt == "f32":
                a = t.to(torch.float32).numpy().astype("<f4")
            elif dt == "i32":
                a = t.to(torch.int64).numpy().astype("<i4")
            else:
                a = t.to(torch.float64).numpy().astype("<f8")
            arrays.append({"name": aname, "dtype": dt, "shape": list(t.shape)})
            blobs.append(np.ascontiguousarray(a).tobytes())

        put("x", to_model(x, md))
        cal_names = []
        for i, c in enumerate(calib):
            if c is x:  # weights: calibrated on themselves; stored once
                cal_names.append("x")
                continue
            nm = f"calib{i}"
            put(nm, to_model(c, md))
            cal_names.append(nm)
        put("y", y)
        stage_params = []
        for i, p in enumerate(params):
            if p is None:
                stage_params.append(None)
                continue
            s, z = p
            put(f"scale{i}", s)
            put(f"zp{i}", z, "f32" if torch.is_floating_point(z) else "i32")
            stage_params.append([f"scale{i}", f"zp{i}", str(s.dtype).replace("torch.", "")])
        rname = None
        if real is not None:
            put("real", real)
            rname = "real"
        hdr = {"name": name, "specs": specs, "is_list": is_list, "model_dtype": md,
               "calib": cal_names, "arrays": arrays, "stage_params": stage_params, "real": rname}
        self.records.append((json.dumps(hdr).encode(), blobs))

    def close(self):
        with open(self.path, "wb") as f:
            f.write(b"QGLD" + struct.pack("<II", 1, len(self.records)))
            for h, blobs in self.records:
                f.write(struct.pack("<I", len(h)) + h)
                for b in blobs:
                    f.write(b)
        skip_path = self.path.replace(".qgld", ".skipped.txt")
        if self.skipped:
            with open(skip_path, "w") as f:
                f.write("\n".join(self.skipped) + "\n")
        elif os.path.exists(skip_path):
            os.remove(skip_path)
        print(f"{self.path}: {len(self.records)} variants, {len(self.skipped)} skipped, "
              f"{os.path.getsize(self.path)} bytes")


# ---- variants -------------------------------------------------------------------------------

INT_DTYPES = ["int8", "uint8", "int4", "uint4", "int16", "int3", "int2", "uint2"]
ROUNDS = ["half_even", "round", "floor"]


def gen_int(out):
    w = Writer(os.path.join(out, "int.qgld"))
    W = (4, 64)
    seed = 100
    for dt in INT_DTYPES:
        for sym in (True, False):
            for zpt in (["int32", "float32"] if not sym else ["int32"]):
                for md in ("float32", "bfloat16"):
                    if md == "bfloat16" and dt not in ("int8", "uint4", "int4"):
                        continue
                    seed += 1
                    # per tensor, static, several batches
                    sp = S(dtype=dt, is_dynamic=False, qscheme="per_tensor", symmetric=sym,
                           round_method="half_even", scale_type="float", zero_point_type=zpt,
                           observer_cls="PerTensorMinMaxObserver")
                    S2 = (2, 64)
                    cal = [normal(S2, seed), normal(S2, seed + 1, 2.0), positive(S2, seed + 2)]
                    w.add(f"{dt}_pt_sym{int(sym)}_{zpt}_{md}", sp, md, cal, normal(S2, seed + 3, 2.5))
                    # per channel (weights: ch_axis 0)
                    sp = S(dtype=dt, is_dynamic=False, qscheme="per_channel", ch_axis=0, symmetric=sym,
                           round_method="half_even", scale_type="float", zero_point_type=zpt,
                           observer_cls="PerChannelMinMaxObserver")
                    x = normal(W, seed + 4)
                    w.add(f"{dt}_pc_sym{int(sym)}_{zpt}_{md}", sp, md, [x], x)
                    # per group along the last axis and along axis 0
                    for ax, shape, g in ((-1, W, 32), (1, W, 16), (0, (64, 4), 32)):
                        if True:
                            sp = S(dtype=dt, is_dynamic=False, qscheme="per_group", ch_axis=ax,
                                   group_size=g, symmetric=sym, round_method="half_even",
                                   scale_type="float", zero_point_type=zpt,
                                   observer_cls="PerGroupMinMaxObserver")
                            x = normal(shape, seed + 5 + g)
                            w.add(f"{dt}_pg{g}_ax{ax}_sym{int(sym)}_{zpt}_{md}", sp, md, [x], x)
    # ties: int8 symmetric with a power-of-two scale
    for sch in ("per_tensor", "per_channel"):
        obs = "PerTensorMinMaxObserver" if sch == "per_tensor" else "PerChannelMinMaxObserver"
        sp = S(dtype="int8", is_dynamic=False, qscheme=sch, ch_axis=0 if sch == "per_channel" else None,
               symmetric=True, round_method="half_even", scale_type="float", observer_cls=obs)
        x = ties(W, 7)
        w.add(f"int8_ties_{sch}", sp, "float32", [x], x)
    sp = S(dtype="int4", is_dynamic=False, qscheme="per_group", ch_axis=-1, group_size=32, symmetric=True,
           round_method="half_even", scale_type="float", observer_cls="PerGroupMinMaxObserver")
    x = ties(W, 8, step=2.0 ** -3, qmax=7)
    w.add("int4_ties_pg32", sp, "float32", [x], x)
    # round methods and scale types (Quark's CPU kernels ignore round_method)
    for rm in ROUNDS:
        for st in ("float", "float32", "float16", "bfloat16", "pof2"):
            for sch in ("per_tensor", "per_channel", "per_group"):
                obs = {"per_tensor": "PerTensorMinMaxObserver", "per_channel": "PerChannelMinMaxObserver",
                       "per_group": "PerGroupMinMaxObserver"}[sch]
                sp = S(dtype="int8", is_dynamic=False, qscheme=sch,
                       ch_axis=None if sch == "per_tensor" else (0 if sch == "per_channel" else -1),
                       group_size=32 if sch == "per_group" else None, symmetric=False,
                       round_method=rm, scale_type=st, observer_cls=obs)
                x = ties((2, 64), 9, step=2.0 ** -5)
                for md in ("float32", "float16"):
                    if md == "float16" and st not in ("float", "float32"):
                        continue
                    w.add(f"int8_{rm}_{st}_{sch}_asym_{md}", sp, md, [x], normal((2, 64), 10, 0.5))
    # dynamic: per tensor and per token (ch_axis 1 on [batch, seq, hidden])
    A = (2, 3, 64)
    for dt in ("int8", "uint8", "int4"):
        for sym in (True, False):
            sp = S(dtype=dt, is_dynamic=True, qscheme="per_tensor", symmetric=sym, round_method="half_even",
                   scale_type="float", observer_cls="PerTensorMinMaxObserver")
            w.add(f"{dt}_dyn_pt_sym{int(sym)}", sp, "float32", [normal(A, 11)], normal(A, 12))
            sp = S(dtype=dt, is_dynamic=True, qscheme="per_channel", ch_axis=1, symmetric=sym,
                   round_method="half_even", scale_type="float", observer_cls="PerChannelMinMaxObserver")
            w.add(f"{dt}_dyn_ptok_sym{int(sym)}", sp, "float32", [], normal(A, 13))
            sp = S(dtype=dt, is_dynamic=True, qscheme="per_group", ch_axis=-1, group_size=32, symmetric=sym,
                   round_method="half_even", scale_type="float", observer_cls="PerGroupMinMaxObserver")
            w.add(f"{dt}_dyn_pg32_sym{int(sym)}", sp, "float32", [], normal(A, 14))
    # static activations over a stream of batches, and an out-of-range test input
    sp = S(dtype="int8", is_dynamic=False, qscheme="per_tensor", symmetric=True, round_method="half_even",
           scale_type="float", observer_cls="PerTensorMinMaxObserver")
    w.add("int8_static_stream", sp, "float32", [normal(A, 20 + i, 0.5 + i) for i in range(5)],
          normal(A, 30, 8.0))
    sp = S(dtype="uint8", is_dynamic=False, qscheme="per_tensor", symmetric=False, round_method="half_even",
           scale_type="float", observer_cls="PerTensorMinMaxObserver")
    w.add("uint8_static_stream_huge", sp, "float32", [normal(A, 40 + i) for i in range(3)],
          normal(A, 44, 1e6))
    # zero tensors: the eps clamp
    for sym in (True, False):
        sp = S(dtype="int8", is_dynamic=False, qscheme="per_channel", ch_axis=0, symmetric=sym,
               round_method="half_even", scale_type="float", observer_cls="PerChannelMinMaxObserver")
        z = np.zeros(W, np.float32)
        z[1, :] = 1e-9
        w.add(f"int8_zeros_sym{int(sym)}", sp, "float32", [z], z)
    w.close()


def gen_fp8(out):
    w = Writer(os.path.join(out, "fp8.qgld"))
    W = (8, 64)
    A = (2, 4, 64)
    seed = 500
    for dt in ("fp8_e4m3", "fp8_e5m2"):
        for md in ("float32", "bfloat16", "float16"):
            for st in (None, "float", "float32", "bfloat16", "float16"):
                seed += 1
                sp = S(dtype=dt, is_dynamic=False, qscheme="per_tensor", symmetric=True,
                       round_method="half_even", scale_type=st, observer_cls="PerTensorMinMaxObserver")
                w.add(f"{dt}_pt_{st}_{md}", sp, md, [normal(W, seed), normal(W, seed + 1, 3.0)],
                      normal(W, seed + 2, 4.0))
            sp = S(dtype=dt, is_dynamic=False, qscheme="per_channel", ch_axis=0, symmetric=True,
                   round_method="half_even", scale_type="float", observer_cls="PerChannelMinMaxObserver")
            x = normal(W, seed + 3, 100.0)
            w.add(f"{dt}_pc_{md}", sp, md, [x], x)
            sp = S(dtype=dt, is_dynamic=True, qscheme="per_channel", ch_axis=1, symmetric=True,
                   round_method="half_even", scale_type="float", observer_cls="PerChannelMinMaxObserver")
            w.add(f"{dt}_dyn_ptok_{md}", sp, md, [], normal(A, seed + 4))
            sp = S(dtype=dt, is_dynamic=True, qscheme="per_tensor", symmetric=True, round_method="half_even",
                   scale_type="float", observer_cls="PerTensorMinMaxObserver")
            w.add(f"{dt}_dyn_pt_{md}", sp, md, [], normal(A, seed + 5, 1e-3))
            for g in (32, 128):
                for obs in ("PerGroupMinMaxObserver", "PerBlockMXObserver"):
                    sp = S(dtype=dt, is_dynamic=False, qscheme="per_group", ch_axis=-1, group_size=g,
                           symmetric=True, round_method="half_even", scale_type="float",
                           scale_format="float32" if obs == "PerBlockMXObserver" else None,
                           observer_cls=obs)
                    x = normal((4, 256), seed + 6 + g)
                    w.add(f"{dt}_pg{g}_{obs}_{md}", sp, md, [x], x)
    # fp8_e5m3 per tensor (positive values)
    sp = S(dtype="fp8_e5m3", is_dynamic=False, qscheme="per_tensor", symmetric=True, round_method="half_even",
           scale_type="float32", observer_cls="PerTensorMinMaxObserver")
    w.add("fp8_e5m3_pt", sp, "float32", [positive(W, 600, 0.0, 50.0)], positive(W, 601, 0.0, 60.0))
    w.close()


def gen_fp4(out):
    w = Writer(os.path.join(out, "fp4.qgld"))
    seed = 700
    X = (4, 128)
    for dt in ("fp4", "fp6_e2m3", "fp6_e3m2", "fp8_e4m3", "fp8_e5m2"):
        for mode in ("even", "floor", "ceil", None):
            for dyn in (False, True):
                for md in ("float32", "bfloat16"):
                    if md == "bfloat16" and (dyn or mode is None):
                        continue
                    seed += 1
                    sp = S(dtype=dt, is_dynamic=dyn, qscheme="per_group", ch_axis=-1, group_size=32,
                           round_method="half_even", scale_type="float", scale_format="e8m0",
                           scale_calculation_mode=mode, observer_cls="PerBlockMXObserver")
                    cal = [] if dyn else [mx_blocks(X, seed), mx_blocks(X, seed + 1)]
                    w.add(f"mx_{dt}_{mode}_dyn{int(dyn)}_{md}", sp, md, cal, mx_blocks(X, seed + 2))
        # ch_axis 0 and a padded last block
        sp = S(dtype=dt, is_dynamic=False, qscheme="per_group", ch_axis=0, group_size=32,
               round_method="half_even", scale_type="float", scale_format="e8m0",
               scale_calculation_mode="even", observer_cls="PerBlockMXObserver")
        x = normal((64, 8), seed + 3)
        w.add(f"mx_{dt}_ax0", sp, "float32", [x], x)
        sp = S(dtype=dt, is_dynamic=False, qscheme="per_group", ch_axis=-1, group_size=32,
               round_method="half_even", scale_type="float", scale_format="e8m0",
               scale_calculation_mode="even", observer_cls="PerBlockMXObserver")
        x = normal((3, 40), seed + 4)
        w.add(f"mx_{dt}_pad", sp, "float32", [x], x)
        # MX diffs observer
        sp = S(dtype=dt, is_dynamic=False, qscheme="per_group", ch_axis=-1, group_size=32,
               round_method="half_even", scale_type="float", scale_format="e8m0",
               scale_calculation_mode="even", observer_cls="PerBlockMXDiffsObserver")
        x = mx_blocks(X, seed + 5)
        w.add(f"mxdiffs_{dt}", sp, "float32", [x], x)
    # fp4/fp6 with float32 / e4m3 / e5m3 scale formats, groups of 16 and 32
    for dt in ("fp4", "fp6_e2m3", "fp6_e3m2"):
        for fmt, st in (("float32", "float32"), ("float32", "float"), ("e4m3", "float32"), ("e5m3", "float8_e5m3")):
            for g in (16, 32):
                for dyn in (False, True):
                    seed += 1
                    sp = S(dtype=dt, is_dynamic=dyn, qscheme="per_group", ch_axis=-1, group_size=g,
                           round_method="half_even", scale_type=st, scale_format=fmt,
                           observer_cls="PerBlockMXObserver")
                    cal = [] if dyn else [normal(X, seed)]
                    w.add(f"{dt}_{fmt}_{st}_g{g}_dyn{int(dyn)}", sp, "float32", cal, normal(X, seed + 1))
        # per channel fp4 with a float32 scale format
        sp = S(dtype=dt, is_dynamic=False, qscheme="per_channel", ch_axis=0, round_method="half_even",
               scale_type="float", scale_format="float32", observer_cls="PerChannelMinMaxObserver")
        x = normal((8, 64), seed + 2)
        w.add(f"{dt}_pc_float32", sp, "float32", [x], x)
    # OCP MX with dtype=mx and an element dtype (non-scaled path), incl. MXINT8
    for el in ("int8", "fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4"):
        for mode in ("even", "floor", "ceil"):
            seed += 1
            sp = S(dtype="mx", mx_element_dtype=el, ch_axis=-1, group_size=32, scale_calculation_mode=mode)
            w.add(f"mxdt_{el}_{mode}", sp, "float32", [], mx_blocks(X, seed))
        sp = S(dtype="mx", mx_element_dtype=el, ch_axis=0, group_size=32, scale_calculation_mode="even")
        w.add(f"mxdt_{el}_ax0_bf16", sp, "bfloat16", [], normal((64, 8), seed + 1))
    w.close()


def gen_blocks(out):
    w = Writer(os.path.join(out, "blocks.qgld"))
    seed = 900
    for dt in ("mx6", "mx9"):
        for ax, shape in ((-1, (4, 64)), (0, (32, 6)), (-1, (3, 24))):
            for md in ("float32", "bfloat16"):
                seed += 1
                sp = S(dtype=dt, ch_axis=ax, group_size=16, scale_calculation_mode="even")
                w.add(f"{dt}_ax{ax}_{shape[0]}x{shape[1]}_{md}", sp, md, [], normal(shape, seed))
        sp = S(dtype=dt, ch_axis=-1, group_size=16, scale_calculation_mode="even")
        w.add(f"{dt}_mxblocks", sp, "float32", [], mx_blocks((4, 64), seed + 10, 16))
    for ax, shape in ((-1, (4, 64)), (0, (16, 5)), (-1, (2, 20))):
        for md in ("float32", "bfloat16"):
            seed += 1
            sp = S(dtype="bfp16", ch_axis=ax, group_size=8, scale_calculation_mode="even")
            w.add(f"bfp16_ax{ax}_{shape[0]}x{shape[1]}_{md}", sp, md, [], normal(shape, seed))
    sp = S(dtype="bfp16", ch_axis=-1, group_size=8, scale_calculation_mode="even")
    w.add("bfp16_mxblocks", sp, "float32", [], mx_blocks((4, 64), seed + 5, 8))
    w.add("bfp16_ties", sp, "float32", [], ties((4, 64), seed + 6, 2.0 ** -6, 127))
    # cast-only dtypes
    for dt in ("bfloat16", "float16"):
        sp = S(dtype=dt, observer_cls="PlaceholderObserver")
        w.add(f"cast_{dt}", sp, "float32", [], normal((4, 64), seed + 7, 1e3))
    w.close()


def gen_two_stage(out):
    w = Writer(os.path.join(out, "twostage.qgld"))
    seed = 1100
    X = (4, 128)

    def fp8pt(dt="fp8_e4m3", dyn=False, st="float32", scale_quant=False):
        return S(dtype=dt, is_dynamic=dyn, qscheme="per_tensor", symmetric=True, round_method="half_even",
                 scale_type=st, observer_cls="PerTensorMinMaxObserver", is_scale_quant=scale_quant)

    for g in (16, 32):
        for dyn in (False, True):
            for sdt in ("fp8_e4m3", "fp8_e5m3"):
                seed += 1
                first = S(dtype="fp4", is_dynamic=dyn, qscheme="per_group", ch_axis=-1, group_size=g,
                          round_method="half_even", scale_type="float32", scale_format="float32",
                          observer_cls="PerBlockMXObserver")
                specs = [first, fp8pt(sdt, False, "float32", True)]
                cal = [normal(X, seed + i, 1 + i) for i in range(3)]
                w.add(f"scalequant_fp4_g{g}_{sdt}_dyn{int(dyn)}", specs, "float32", cal, normal(X, seed + 5))
    # progressive: fp8 per tensor then int4 per channel (int4_fp8 weights)
    i4 = S(dtype="int4", is_dynamic=False, qscheme="per_channel", ch_axis=0, symmetric=True,
           round_method="half_even", scale_type="float32", observer_cls="PerChannelMinMaxObserver")
    x = normal((8, 64), seed + 10, 0.05)
    w.add("progressive_fp8_int4", [fp8pt(), i4], "float32", [x], x)
    i8g = S(dtype="int8", is_dynamic=False, qscheme="per_group", ch_axis=-1, group_size=32, symmetric=False,
            round_method="half_even", scale_type="float", observer_cls="PerGroupMinMaxObserver")
    w.add("progressive_fp8_int8g", [fp8pt(), i8g], "float32", [x], x)
    w.close()


def gen_observers(out):
    w = Writer(os.path.join(out, "observers.qgld"))
    A = (2, 4, 64)
    seed = 1300
    for obs in ("PerTensorPercentileObserver", "PerTensorMSEObserver", "PerTensorHistogramObserver"):
        for dt in ("int8", "uint8", "fp8_e4m3", "int4"):
            for sym in (True, False):
                if dt.startswith("fp8") and not sym:
                    continue
                seed += 1
                sp = S(dtype=dt, is_dynamic=False, qscheme="per_tensor", symmetric=sym,
                       round_method="half_even", scale_type="float", observer_cls=obs)
                cal = [normal(A, seed + i, 1.0 + 0.5 * i) for i in range(4)]
                w.add(f"{obs}_{dt}_sym{int(sym)}", sp, "float32", cal, normal(A, seed + 9))
        sp = S(dtype="int8", is_dynamic=False, qscheme="per_tensor", symmetric=True, round_method="half_even",
               scale_type="float", observer_cls=obs)
        # growing ranges extend the histogram (MSE then searches every new bin: keep it small)
        w.add(f"{obs}_int8_growing", sp, "float32", [normal(A, seed + 20 + i, 1.0 * 1.5 ** i) for i in range(3)],
              normal(A, seed + 30))
        w.add(f"{obs}_int8_skewed", sp, "float32", [positive(A, seed + 40 + i, 0.0, 1.0 + i) for i in range(3)],
              normal(A, seed + 44))
    for obs, sch in (("PerTensorPowOf2MinMaxObserver", "per_tensor"), ("PerTensorPowOf2MinMSEObserver", "per_tensor"),
                     ("PerChannelPowOf2MinMaxObserver", "per_channel"),
                     ("PerChannelPowOf2MinMSEObserver", "per_channel")):
        for dt in ("int8", "uint8"):
            for sym in (True, False):
                seed += 1
                sp = S(dtype=dt, is_dynamic=False, qscheme=sch, ch_axis=0 if sch == "per_channel" else None,
                       symmetric=sym, round_method="half_even", scale_type="float", observer_cls=obs)
                shp = (8, 64)
                cal = [normal(shp, seed + i, 1.0 + 0.7 * i) for i in range(5)]
                w.add(f"{obs}_{dt}_sym{int(sym)}", sp, "float32", cal, normal(shp, seed + 9))
    # per-channel min/max over a stream (running min/max per channel)
    sp = S(dtype="int8", is_dynamic=False, qscheme="per_channel", ch_axis=2, symmetric=False,
           round_method="half_even", scale_type="float", observer_cls="PerChannelMinMaxObserver")
    w.add("perchannel_stream_ax2", sp, "float32", [normal(A, seed + 50 + i, 1 + i) for i in range(4)],
          normal(A, seed + 60, 3))
    # static MX over a stream
    sp = S(dtype="fp4", is_dynamic=False, qscheme="per_group", ch_axis=-1, group_size=32,
           round_method="half_even", scale_type="float", scale_format="e8m0",
           scale_calculation_mode="even", observer_cls="PerBlockMXObserver", enable_buffer_reuse=True)
    w.add("mx_stream_buffer_reuse", sp, "float32", [mx_blocks((4, 64), seed + 70 + i) for i in range(4)],
          mx_blocks((4, 64), seed + 80))
    w.close()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    which = sys.argv[2:] or ["int", "fp8", "fp4", "blocks", "twostage", "observers"]
    for fam in which:
        globals()["gen_" + fam.replace("twostage", "two_stage")](out)


if __name__ == "__main__":
    main()
