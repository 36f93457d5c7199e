#!/usr/bin/env python3
"""Check quarc's .pth reader and writer against PyTorch itself.

torch is not a test dependency of quarc (tests/python/test_pth_peer.py checks the format with
pickle and zipfile only), so this script is run by hand where torch is installed:

    python tests/oracle/check_pth_with_torch.py [BUILD_DIR]

It checks that
  1. torch.load(path, weights_only=True) loads what quarc writes (ckpt_tool st-to-pth), for
     every dtype quarc writes, with and without zip64 records, to tensors equal to the source;
  2. quarc reads what torch.save writes (ckpt_tool pth-to-st): a module's state dict with
     _metadata, a Parameter, a non-contiguous view, a view with a storage offset, shared
     storages, nested dicts, float8 and uint16 tensors (_rebuild_tensor_v3);
  3. quarc refuses the legacy (non-zip) format and pickles that call arbitrary globals.
Exits non-zero on the first mismatch.
"""
import os
import subprocess
import sys
import tempfile

import torch
from safetensors.torch import load_file, save_file

BUILD = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
    "QUARC_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
TOOL = os.path.join(BUILD, "tests", "ckpt", "ckpt_tool")


def tool(*args):
    r = subprocess.run([TOOL, *args], capture_output=True, text=True)
    return r.returncode, r.stdout


def check(cond, what):
    if not cond:
        sys.exit(f"FAIL: {what}")
    print(f"ok: {what}")


def same(a, b):
    """Equal dtype, shape and bytes (NaN-safe, and defined for float8 where == is not)."""
    raw = lambda t: t.detach().contiguous().reshape(-1).view(torch.uint8)
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(raw(a), raw(b))


def main():
    tmp = tempfile.mkdtemp(prefix="qc_torch_")
    g = torch.Generator().manual_seed(0)
    # 1. quarc writes, torch loads
    src = {
        "f32": torch.randn(4, 5, generator=g), "f64": torch.randn(3, dtype=torch.float64, generator=g),
        "f16": torch.randn(2, 3, generator=g).half(), "bf16": torch.randn(2, 3, generator=g).bfloat16(),
        "i64": torch.arange(-4, 4), "i32": torch.arange(6, dtype=torch.int32).reshape(2, 3),
        "i16": torch.arange(3, dtype=torch.int16), "i8": torch.arange(-3, 3, dtype=torch.int8),
        "u8": torch.arange(4, dtype=torch.uint8), "bool": torch.tensor([True, False]),
        "c64": torch.randn(3, dtype=torch.complex64, generator=g), "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3), "f8e4m3": torch.randn(8, generator=g).to(torch.float8_e4m3fn),
        "f8e5m2": torch.randn(8, generator=g).to(torch.float8_e5m2),
    }
    for name in ("uint16", "uint32", "uint64", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu",
                 "float4_e2m1fn_x2"):
        dt = getattr(torch, name, None)
        if dt is not None:
            one_byte = torch.empty(0, dtype=dt).element_size() == 1
            src[name] = torch.arange(6, dtype=torch.uint8).view(dt) if one_byte else torch.arange(6).to(dt)
    st = os.path.join(tmp, "src.safetensors")
    save_file(src, st)
    for extra in ([], ["zip64"]):
        pth = os.path.join(tmp, "quarc.pth")
        rc, out = tool("st-to-pth", st, pth, *extra)
        check(rc == 0, f"quarc writes a .pth {extra}: {out}")
        loaded = torch.load(pth, weights_only=True)
        check(set(loaded) == set(src), f"torch.load(weights_only=True) finds every tensor {extra}")
        for k, v in src.items():
            check(same(loaded[k], v), f"{k} {extra}")
        mm = torch.load(pth, weights_only=True, mmap=True)
        check(all(same(mm[k], v) for k, v in src.items()), f"torch.load(mmap=True) {extra}")

    # 2. torch saves, quarc reads
    lin = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    sd = lin.state_dict()
    base = torch.randn(6, 4, generator=g)
    obj = {
        "model": sd,
        "param": torch.nn.Parameter(torch.randn(2, 2, generator=g)),
        "transposed": base.t(),
        "offset": base[2:4],
        "strided": base[:, ::2],
        "shared_a": base, "shared_b": base.view(24),
        "f8": torch.randn(5, generator=g).to(torch.float8_e4m3fn),
        "step": 3, "name": "x",
    }
    if hasattr(torch, "float4_e2m1fn_x2"):
        obj["fp4"] = torch.arange(8, dtype=torch.uint8).view(torch.float4_e2m1fn_x2).reshape(2, 4)
    if hasattr(torch, "uint16"):
        obj["u16"] = torch.arange(5).to(torch.uint16)
    pth = os.path.join(tmp, "torch.pth")
    torch.save(obj, pth)
    out_st = os.path.join(tmp, "read.safetensors")
    rc, out = tool("pth-to-st", pth, out_st)
    check(rc == 0, f"quarc reads torch.save output: {out}")
    got = load_file(out_st)
    want = {f"model.{k}": v for k, v in sd.items()}
    want.update({k: v.detach() for k, v in obj.items() if isinstance(v, torch.Tensor)})
    check(set(got) == set(want), f"tensor names {sorted(set(got) ^ set(want))}")
    for k, v in want.items():
        check(same(got[k], v.contiguous()), k)

    # 3. refusals
    legacy = os.path.join(tmp, "legacy.pth")
    torch.save(sd, legacy, _use_new_zipfile_serialization=False)
    rc, out = tool("pth-check", legacy)
    check(rc == 1 and "legacy torch.save" in out, "the legacy format is refused clearly")

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo should-not-run",))

    evil = os.path.join(tmp, "evil.pth")
    torch.save({"x": Evil()}, evil)
    rc, out = tool("pth-check", evil)
    check(rc == 1 and "is not allowed" in out and "should-not-run" not in out, "a pickle calling os.system is refused")
    print("all torch checks passed")


if __name__ == "__main__":
    main()
