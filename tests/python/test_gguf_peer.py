"""quarc's GGUF reader, writer and block dequantization against gguf-py (llama.cpp's
Python package: GGUFReader, GGUFWriter, gguf.quants).

- Random blocks of every type gguf-py dequantizes (Q4_0 .. Q6_K, MXFP4), written by
  GGUFWriter, dequantize in quarc (ir/blocks.c) to the same floats, NaN and Inf included.
- Files GGUFWriter writes (all metadata types, nested arrays, tensors of many types
  including ones quarc cannot compute on) are read by quarc and re-written by quarc
  (ckpt_tool gguf-copy) into a file GGUFReader reads back to the same fields and tensors,
  byte for byte identical to GGUFWriter's own output.
- A file quarc writes from scratch (ckpt_tool gguf-demo: every value type, every tensor type
  quarc quantizes to) reads in GGUFReader to the values quarc wrote; its quantized blocks
  are byte-identical to gguf.quants.quantize of the same floats.
- Seeded mutations of a valid file never crash quarc, and whatever quarc accepts GGUFReader
  accepts too (quarc is the stricter reader).
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

import numpy as np

import gguf
from gguf import GGMLQuantizationType as Q, GGUFValueType as V
from gguf.constants import GGML_QUANT_SIZES
from safetensors.numpy import load_file

BUILD = os.environ.get("QUARC_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
TOOL = os.path.join(BUILD, "tests", "ckpt", "ckpt_tool")

# Block types gguf-py dequantizes, with the byte offsets of their f16 scale fields.
BLOCK_TYPES = {Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0], Q.Q2_K: [80, 82],
               Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208], Q.MXFP4: []}


def tool(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def same_floats(a, b):
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def field_value(f):
    """A ReaderField's value as plain Python (nested arrays as nested lists)."""
    return f.contents()


class GgufPeer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qc_gguf_peer_")
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN/Inf in random blocks

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write(self, name, fill):
        w = gguf.GGUFWriter(self.path(name), "test")
        fill(w)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return self.path(name)

    def test_block_dequantization_matches_gguf_py(self):
        rng = np.random.default_rng(11)
        raw = {}

        def fill(w):
            for q, f16_offsets in BLOCK_TYPES.items():
                blk, nb = GGML_QUANT_SIZES[q]
                # half the rows with sane scales, half entirely random (NaN, Inf, subnormals)
                b = rng.integers(0, 256, size=(16, 8, nb), dtype=np.uint8)
                for o in f16_offsets:
                    b[:8, :, o:o + 2] = rng.uniform(-4, 4, size=(8, 8)).astype(np.float16).view(np.uint8).reshape(8, 8, 2)
                if q == Q.MXFP4:
                    b[0, :4, 0] = [0, 1, 254, 255]
                raw[q] = b.reshape(16, 8 * nb)
                w.add_tensor(q.name, raw[q], raw_dtype=q)
            for name, dt in (("f32", np.float32), ("f16", np.float16)):
                raw[name] = rng.standard_normal((4, 32)).astype(dt)
                w.add_tensor(name, raw[name])
            raw["bf16"] = rng.integers(0, 65536, size=(4, 32), dtype=np.uint16)
            w.add_tensor("bf16", raw["bf16"].view(np.uint8), raw_dtype=Q.BF16)

        src = self.write("blocks.gguf", fill)
        out = self.path("blocks.safetensors")
        r = tool("gguf-to-st", src, out)
        self.assertEqual(r.returncode, 0, r.stdout)
        got = load_file(out)
        for q in BLOCK_TYPES:
            with self.subTest(q.name):
                self.assertTrue(same_floats(gguf.quants.dequantize(raw[q], q), got[q.name]))
        self.assertTrue(same_floats(raw["f32"], got["f32"]))
        self.assertTrue(same_floats(raw["f16"].astype(np.float32), got["f16"]))
        self.assertTrue(same_floats(gguf.quants.dequantize(raw["bf16"].view(np.uint8), Q.BF16), got["bf16"]))

    def gguf_py_file(self):
        rng = np.random.default_rng(5)

        def fill(w):
            w.add_name("peer test \u00e9")
            w.add_uint8("k.u8", 255)
            w.add_int8("k.i8", -128)
            w.add_uint16("k.u16", 65535)
            w.add_int16("k.i16", -32768)
            w.add_uint32("k.u32", 4294967295)
            w.add_int32("k.i32", -2147483648)
            w.add_float32("k.f32", -0.1)
            w.add_bool("k.bool", False)
            w.add_string("k.str", "multi\nline \u4e2d\u6587")
            w.add_uint64("k.u64", 2 ** 64 - 1)
            w.add_int64("k.i64", -2 ** 63)
            w.add_float64("k.f64", 1e-300)
            w.add_array("k.strs", ["a", "", "\U0001f600"])
            w.add_array("k.ints", [1, -2, 3])
            w.add_array("k.floats", [0.5, -1.25])
            w.add_array("k.bools", [True, False])
            w.add_array("k.nested", [[1, 2], [3]])
            w.add_array("k.nested_str", [["x"], ["y", "z"]])
            w.add_key_value("k.u8s", [1, 2, 3], V.ARRAY, sub_type=V.UINT8)
            w.add_quantization_version(2)
            w.add_tensor("t.f32", rng.standard_normal((3, 7)).astype(np.float32))
            w.add_tensor("t.f16", rng.standard_normal((5,)).astype(np.float16))
            w.add_tensor("t.f64", rng.standard_normal((2, 2, 2)).astype(np.float64))
            for dt in (np.int8, np.int16, np.int32, np.int64):
                w.add_tensor(f"t.{np.dtype(dt).name}", rng.integers(-100, 100, size=(4, 3)).astype(dt))
            for q in (Q.Q4_K, Q.Q8_0, Q.MXFP4, Q.IQ2_XXS, Q.BF16):
                blk, nb = GGML_QUANT_SIZES[q]
                w.add_tensor(f"t.{q.name.lower()}", rng.integers(0, 256, size=(2, 2 * nb), dtype=np.uint8), raw_dtype=q)

        return self.write("py.gguf", fill)

    def assert_same_gguf(self, a_path, b_path):
        a, b = gguf.GGUFReader(a_path), gguf.GGUFReader(b_path)
        self.assertEqual(list(a.fields), list(b.fields))
        for k in a.fields:
            self.assertEqual(a.fields[k].types, b.fields[k].types, k)
            self.assertEqual(field_value(a.fields[k]), field_value(b.fields[k]), k)
        self.assertEqual([t.name for t in a.tensors], [t.name for t in b.tensors])
        for ta, tb in zip(a.tensors, b.tensors):
            self.assertEqual(ta.tensor_type, tb.tensor_type, ta.name)
            self.assertEqual(list(ta.shape), list(tb.shape), ta.name)
            self.assertEqual(np.asarray(ta.data).tobytes(), np.asarray(tb.data).tobytes(), ta.name)

    def test_quarc_reads_and_rewrites_gguf_py_files(self):
        src = self.gguf_py_file()
        r = tool("gguf-check", src)
        self.assertEqual(r.returncode, 0, r.stdout)
        dst = self.path("copy.gguf")
        r = tool("gguf-copy", src, dst)
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assert_same_gguf(src, dst)
        # quarc's layout (kv order, padding, offsets) equals GGUFWriter's
        self.assertEqual(read(dst), read(src))
        # quarc's tensors: the same values as gguf-py's
        st = self.path("copy.safetensors")
        self.assertEqual(tool("gguf-to-st", dst, st).returncode, 0)
        got = load_file(st)
        for t in gguf.GGUFReader(src).tensors:
            if t.tensor_type == Q.IQ2_XXS:
                self.assertNotIn(t.name, got)  # described, but quarc cannot compute on it
                continue
            data = np.asarray(t.data)
            want = data if t.tensor_type in (Q.F32, Q.F16, Q.F64, Q.I8, Q.I16, Q.I32, Q.I64) else \
                gguf.quants.dequantize(data, t.tensor_type)
            self.assertTrue(same_floats(want, got[t.name]), t.name)
            self.assertEqual(list(got[t.name].shape), list(reversed([int(x) for x in t.shape])), t.name)

    def test_gguf_py_reads_quarc_files(self):
        out = self.path("demo.gguf")
        r = tool("gguf-demo", out)
        self.assertEqual(r.returncode, 0, r.stdout)
        rd = gguf.GGUFReader(out)
        f = rd.fields
        expect = {
            "general.architecture": ([V.STRING], "demo"),
            "general.name": ([V.STRING], "quarc demo \u00e9\u20ac"),
            "demo.u8": ([V.UINT8], 200), "demo.i8": ([V.INT8], -100), "demo.u16": ([V.UINT16], 60000),
            "demo.i16": ([V.INT16], -30000), "demo.u32": ([V.UINT32], 4000000000),
            "demo.i32": ([V.INT32], -2000000000), "demo.f32": ([V.FLOAT32], 3.25), "demo.bool": ([V.BOOL], True),
            "demo.u64": ([V.UINT64], 18000000000000000000), "demo.i64": ([V.INT64], -9000000000000000000),
            "demo.f64": ([V.FLOAT64], -2.5e300),
            "demo.u8_array": ([V.ARRAY, V.UINT8], [200] * 3), "demo.bool_array": ([V.ARRAY, V.BOOL], [True, False, True]),
            "demo.u64_array": ([V.ARRAY, V.UINT64], [18000000000000000000] * 3),
            "demo.f64_array": ([V.ARRAY, V.FLOAT64], [-2.5e300] * 3),
            "demo.strings": ([V.ARRAY, V.STRING], ["alpha", "", "\u65e5\u672c", "with\nnewline"]),
            "demo.empty": ([V.ARRAY], []),
            "general.quantization_version": ([V.UINT32], 2),
        }
        for k, (types, value) in expect.items():
            with self.subTest(k):
                self.assertEqual(f[k].types[:len(types)], types)
                self.assertEqual(field_value(f[k]), value)
        # nested arrays: GGUFReader keeps the element types; their parts flatten in contents()
        self.assertEqual(f["demo.nested_ints"].types, [V.ARRAY, V.ARRAY, V.INT32])
        self.assertEqual(f["demo.nested_strings"].types, [V.ARRAY, V.ARRAY, V.STRING])
        self.assertEqual(list(f)[:4], ["GGUF.version", "GGUF.tensor_count", "GGUF.kv_count", "general.architecture"])
        # tensors: demo_value of ckpt_tool.c, quantized by quarc, dequantized by gguf-py
        own = self.path("demo.safetensors")
        self.assertEqual(tool("gguf-to-st", out, own).returncode, 0)
        mine = load_file(own)
        tol = {Q.F32: 0, Q.F16: 1e-2, Q.BF16: 6e-2, Q.F64: 0, Q.Q8_0: 0.1, Q.Q4_0: 1.2, Q.Q4_1: 0.6,
               Q.Q5_0: 0.6, Q.Q5_1: 0.3, Q.MXFP4: 1.6}
        names = [t.name for t in rd.tensors]
        self.assertEqual(len(names), 15)
        for k, t in enumerate(rd.tensors):
            if t.name == "demo.rank3":
                self.assertEqual([int(x) for x in t.shape], [32, 3, 2])
                np.testing.assert_array_equal(np.asarray(t.data).reshape(-1), np.arange(192, dtype=np.float32))
                continue
            with self.subTest(t.name):
                self.assertEqual([int(x) for x in t.shape], [64, 3])
                i = np.arange(192)
                x = (np.sin(0.37 * i + k) * (1 + i % 7)).astype(np.float32)
                data = np.asarray(t.data)
                plain = t.tensor_type in (Q.F32, Q.F16, Q.F64, Q.I8, Q.I16, Q.I32, Q.I64)
                got = (data if plain else gguf.quants.dequantize(data, t.tensor_type)).reshape(-1).astype(np.float64)
                if t.tensor_type in (Q.I8, Q.I16, Q.I32, Q.I64):
                    want = np.clip(np.round(x.astype(np.float32) * np.float32(10)),
                                   np.iinfo(np.dtype(t.data.dtype)).min, np.iinfo(np.dtype(t.data.dtype)).max)
                    np.testing.assert_array_equal(got, want)
                else:
                    self.assertLessEqual(np.abs(got - x).max(), tol[t.tensor_type])
                if t.tensor_type in (Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.MXFP4):
                    # quarc's quantizers (ir/blocks.c) give ggml's reference bytes
                    ref = gguf.quants.quantize(x.reshape(3, 64), t.tensor_type)
                    self.assertEqual(ref.tobytes(), data.tobytes())
                self.assertTrue(same_floats(got.astype(np.float32), mine[t.name].reshape(-1)))

    def test_mutations(self):
        src = read(self.gguf_py_file())
        # only the metadata and tensor infos: mutating tensor data changes nothing a reader checks
        data_start = gguf.GGUFReader(self.path("py.gguf")).data_offset
        rng = random.Random(99)
        case = self.path("mut.gguf")
        accepted = 0
        for it in range(600):
            data = bytearray(src)
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(0, data_start)
                r = rng.random()
                if r < 0.6:
                    data[pos] = rng.randrange(256)
                elif r < 0.8:
                    data[pos] ^= 1 << rng.randrange(8)
                else:
                    data[pos:pos + 8] = rng.randrange(1 << 64).to_bytes(8, "little")
            with open(case, "wb") as f:
                f.write(data)
            r = tool("gguf-check", case)
            self.assertIn(r.returncode, (0, 1), f"crash on mutation {it}: {r.stderr}")
            if r.returncode == 0:
                accepted += 1
                try:
                    rd = gguf.GGUFReader(case)
                except Exception as e:
                    self.fail(f"mutation {it}: quarc accepts ({r.stdout.strip()}), gguf-py rejects: {e}")
                _, n_kv, n_t = r.stdout.split()
                self.assertEqual(int(n_t), len(rd.tensors))
                self.assertEqual(int(n_kv), len(rd.fields) - 3)
            else:
                self.assertIn("mut.gguf", r.stdout)
        self.assertGreater(accepted, 0)


if __name__ == "__main__":
    if not os.path.exists(TOOL):
        sys.exit(f"{TOOL} is not built")
    unittest.main()
