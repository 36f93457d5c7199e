#!/usr/bin/env python3
"""Regenerate the seed corpora of the checkpoint fuzz targets:
tests/fuzz/corpus/{safetensors,gguf,pth}/.

    python tests/ckpt/make_fuzz_seeds.py [BUILD_DIR]

Seeds are small valid files of each format written by the reference packages (safetensors,
gguf-py, CPython's pickle + zipfile in torch.save's layout) and by quarc (ckpt_tool), plus a
few near-misses. They are committed; rerun this only to change them.
"""
import collections
import ctypes
import io
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
TOOL = os.path.join(BUILD, "tests", "ckpt", "ckpt_tool")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
sys.path.insert(0, os.path.join(ROOT, "tests", "python"))


def put(kind, name, data):
    os.makedirs(os.path.join(OUT, kind), exist_ok=True)
    with open(os.path.join(OUT, kind, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def safetensors_seeds(tmp):
    from safetensors import serialize, TensorSpec
    keep = []

    def spec(dt, shape, data):
        buf = ctypes.create_string_buffer(bytes(data), max(1, len(data)))
        keep.append(buf)
        return TensorSpec(dtype=dt, shape=list(shape), data_ptr=ctypes.addressof(buf), data_len=len(data))

    f32 = np.arange(6, dtype=np.float32).tobytes()
    put("safetensors", "serialization", serialize({"attn.0": spec("float32", [1, 2, 3], f32)}, None))
    put("safetensors", "forced_alignment", serialize({"attn0": spec("float32", [1, 1, 2, 3], f32)}, None))
    put("safetensors", "fp4", serialize({"attn.0": spec("float4_e2m1fn_x2", [1, 1], b"\0")}, None))
    put("safetensors", "empty", serialize({}, None))
    put("safetensors", "empty_metadata", serialize({}, {"framework": "pt"}))
    mixed = {"w": spec("bfloat16", [2, 2], bytes(8)), "e\u00e9\"\\n": spec("int64", [], bytes(8)),
             "z": spec("uint8", [0, 3], b""), "f8": spec("float8_e4m3fn", [3], b"\x01\x02\x03"),
             "c": spec("complex64", [1], bytes(8)), "b": spec("bool", [2], b"\x00\x01")}
    put("safetensors", "mixed", serialize(mixed, {"format": "pt", "k": "v"}))
    put("safetensors", "ws_leading", b"\x06\0\0\0\0\0\0\0\x09\x0A{}\x0D\x20")
    h = b'{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]},"b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}'
    put("safetensors", "json_order", len(h).to_bytes(8, "little") + h + bytes(8))
    h = b'{"a":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[0,3]},"__metadata__":null}'
    put("safetensors", "fp6_null_meta", len(h).to_bytes(8, "little") + h + bytes(3))


def gguf_seeds(tmp):
    import gguf
    from gguf import GGMLQuantizationType as Q
    from gguf.constants import GGML_QUANT_SIZES
    rng = np.random.default_rng(0)
    path = os.path.join(tmp, "py.gguf")
    w = gguf.GGUFWriter(path, "llama")
    w.add_uint32("llama.block_count", 2)
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "a"])
    w.add_array("tokenizer.ggml.scores", [0.0, -1.0, 2.5])
    w.add_array("nested", [[1, 2], [3]])
    w.add_uint64("big", 2 ** 40)
    w.add_float64("f64", 0.5)
    w.add_int8("i8", -3)
    w.add_quantization_version(2)
    w.add_tensor("output_norm.weight", rng.standard_normal(32).astype(np.float32))
    w.add_tensor("tok.f16", rng.standard_normal((2, 32)).astype(np.float16))
    for q in (Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K, Q.MXFP4, Q.IQ4_NL):
        blk, nb = GGML_QUANT_SIZES[q]
        w.add_tensor(f"blk.{q.name.lower()}", rng.integers(0, 256, size=(1, nb), dtype=np.uint8), raw_dtype=q)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    put("gguf", "gguf_py", read(path))
    demo = os.path.join(tmp, "demo.gguf")
    subprocess.run([TOOL, "gguf-demo", demo], check=True)
    put("gguf", "quarc_demo", read(demo))
    hdr = b"GGUF" + (2).to_bytes(4, "little") + bytes(16)
    put("gguf", "empty_v2", hdr)


def pth_seeds(tmp):
    import test_pth_peer as tp
    s = tp.Storage("0", "FloatStorage", np.arange(12, dtype=np.float32).tobytes(), 12)
    u = tp.Storage("1", "UntypedStorage", bytes(range(8)), 8)
    sd = collections.OrderedDict()
    sd["w"] = tp.Tensor(s, 0, (3, 4), (4, 1))
    sd["t"] = tp.Tensor(s, 1, (4, 2), (1, 4))
    sd["p"] = tp.Parameter(tp.Tensor(s, 8, (4,), (1,)))
    sd["f8"] = tp.Tensor(u, 0, (2, 4), (4, 1), v3_dtype="float8_e5m2")
    sd["nested"] = {"a": {0: tp.Tensor(s, 0, (), ())}, "n": 1}
    sd._metadata = {"": {"version": 1}}
    path = os.path.join(tmp, "torch_style.pth")
    tp.torch_save(path, sd, [s, u])
    put("pth", "torch_style", read(path))
    tp.torch_save(path, sd, [s, u], zip64=True, prefix="model")
    put("pth", "torch_style_zip64", read(path))
    st = os.path.join(tmp, "src.safetensors")
    from safetensors.numpy import save_file
    save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.arange(3, dtype=np.int64)}, st)
    out = os.path.join(tmp, "quarc.pth")
    subprocess.run([TOOL, "st-to-pth", st, out], check=True)
    put("pth", "quarc", read(out))
    subprocess.run([TOOL, "st-to-pth", st, out, "zip64"], check=True)
    put("pth", "quarc_zip64", read(out))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        safetensors_seeds(tmp)
        gguf_seeds(tmp)
        pth_seeds(tmp)
    for kind in ("safetensors", "gguf", "pth"):
        d = os.path.join(OUT, kind)
        print(kind, sorted((f, os.path.getsize(os.path.join(d, f))) for f in os.listdir(d)))


if __name__ == "__main__":
    main()
