#!/usr/bin/env python3
"""Golden vectors for quarc's GGUF block quantizers (ir/blocks.c), made by ggml itself.

Run where llama-cpp-python is installed (it ships libggml-base), never in CI:

    /opt/torchvenv/bin/python tests/oracle/gen_ggml_quant_goldens.py [OUT_DIR]

It quantizes a fixed set of rows with ggml_quantize_chunk (no importance matrix: the
reference quantizers quantize_row_*_ref) for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q6_K and
MXFP4, and writes OUT_DIR (default tests/data/ggml_quant) /input.f32 (the rows, float32 LE)
and /<type>.bin (ggml's bytes). tests/unit/test_export_kquants.c compares quarc's bytes
with them. The rows: 4096 standard-normal values, a heavy-tailed row, an all-zero block, a
constant block, tiny values (1e-30), values near ties, negative-only and positive-only
blocks, and rows of a real weight scale (0.02 * normal).
"""
import ctypes
import glob
import os
import sys

import numpy as np

GGML_TYPES = {"q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "q4_k": 12, "q6_k": 14, "mxfp4": 39}
N_PER_ROW = 256


def load_ggml():
    import llama_cpp

    libdir = os.path.join(os.path.dirname(llama_cpp.__file__), "lib")
    base = sorted(glob.glob(os.path.join(libdir, "libggml-base.so*")))[0]
    lib = ctypes.CDLL(base)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    return lib


def rows():
    rng = np.random.default_rng(1234)
    r = [rng.standard_normal(4096).astype(np.float32)]
    r.append((rng.standard_cauchy(512) * 0.1).astype(np.float32))
    r.append(np.zeros(256, np.float32))
    r.append(np.full(256, 0.75, np.float32))
    r.append((rng.standard_normal(256) * 1e-30).astype(np.float32))
    r.append((np.round(rng.standard_normal(256) * 8) / 8).astype(np.float32))
    r.append(-np.abs(rng.standard_normal(256)).astype(np.float32))
    r.append(np.abs(rng.standard_normal(256)).astype(np.float32))
    r.append((rng.standard_normal(2048) * 0.02).astype(np.float32))
    x = np.concatenate(r)
    assert x.size % N_PER_ROW == 0
    return x


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "data", "ggml_quant")
    os.makedirs(out, exist_ok=True)
    lib = load_ggml()
    x = rows()
    x.tofile(os.path.join(out, "input.f32"))
    nrows = x.size // N_PER_ROW
    for name, t in GGML_TYPES.items():
        size = lib.ggml_row_size(t, N_PER_ROW) * nrows
        dst = ctypes.create_string_buffer(size)
        n = lib.ggml_quantize_chunk(t, x.ctypes.data, dst, 0, nrows, N_PER_ROW, None)
        assert n == size, (name, n, size)
        with open(os.path.join(out, name + ".bin"), "wb") as f:
            f.write(dst.raw)
        print(name, size, "bytes")


if __name__ == "__main__":
    main()
