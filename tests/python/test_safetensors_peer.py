"""quarc's safetensors reader and writer against the reference (the `safetensors` package,
whose serializer and parser are the Rust crate).

- Files the reference writes, re-written by quarc (ckpt_tool st-copy: read with quarc, write
  with quarc), are byte-identical: every dtype, odd names, zero-size and rank-0 tensors,
  metadata, and the reference's own test arrays.
- The reference reads what quarc writes.
- Malformed headers: quarc and the reference accept and reject the same files (crafted
  cases and a few thousand seeded mutations), except where quarc is stricter by design
  (duplicate keys, extra tensor properties, rank > 8, NUL in names).
- Sharded checkpoints follow huggingface_hub's split and read back through the index.
"""
import ctypes
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import safetensors
from safetensors import deserialize, serialize, TensorSpec
from safetensors.numpy import load_file

BUILD = os.environ.get("QUARC_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
TOOL = os.path.join(BUILD, "tests", "ckpt", "ckpt_tool")

# dtype name for TensorSpec -> (header name, bytes per element)
DTYPES = {
    "bool": ("BOOL", 1), "int8": ("I8", 1), "uint8": ("U8", 1), "int16": ("I16", 2), "uint16": ("U16", 2),
    "int32": ("I32", 4), "uint32": ("U32", 4), "int64": ("I64", 8), "uint64": ("U64", 8),
    "float16": ("F16", 2), "float32": ("F32", 4), "float64": ("F64", 8), "bfloat16": ("BF16", 2),
    "float8_e4m3fn": ("F8_E4M3", 1), "float8_e4m3fnuz": ("F8_E4M3FNUZ", 1), "float8_e5m2": ("F8_E5M2", 1),
    "float8_e5m2fnuz": ("F8_E5M2FNUZ", 1), "float8_e8m0fnu": ("F8_E8M0", 1), "complex64": ("C64", 8),
}

# Reasons quarc rejects a file the reference accepts (documented in quarc/safetensors.h).
STRICTER = ("duplicate", "unexpected property", "exceeds quarc's limit", "U+0000", "2^63-1")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def tool(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True)


class Ref:
    """Serialize raw bytes with the reference (TensorSpec needs live buffers)."""

    def __init__(self):
        self.keep = []

    def spec(self, dtype, shape, data):
        buf = ctypes.create_string_buffer(bytes(data), max(1, len(data)))
        self.keep.append(buf)
        return TensorSpec(dtype=dtype, shape=list(shape), data_ptr=ctypes.addressof(buf), data_len=len(data))

    def serialize(self, tensors, metadata=None):
        return serialize({k: self.spec(*v) for k, v in tensors.items()}, metadata)


def quarc_accepts(data, tmp):
    path = os.path.join(tmp, "case.safetensors")
    with open(path, "wb") as f:
        f.write(data)
    r = tool("st-check", path)
    if r.returncode not in (0, 1):
        raise AssertionError(f"ckpt_tool crashed ({r.returncode}) on {data[:200]!r}: {r.stderr}")
    return r.returncode == 0, r.stdout.strip()


def ref_accepts(data):
    try:
        deserialize(data)
        return True
    except Exception:
        return False


def header(json_text, data_len=0, length=None):
    h = json_text.encode("utf-8") if isinstance(json_text, str) else json_text
    n = len(h) if length is None else length
    return n.to_bytes(8, "little") + h + bytes(data_len)


class SafetensorsPeer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qc_st_peer_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def copy_is_identical(self, data):
        src, dst = self.path("ref.safetensors"), self.path("quarc.safetensors")
        with open(src, "wb") as f:
            f.write(data)
        r = tool("st-copy", src, dst)
        self.assertEqual(r.returncode, 0, r.stdout)
        out = read(dst)
        self.assertEqual(out, data, "quarc's bytes differ from the reference's")
        return dst

    def test_reference_test_arrays(self):
        """The byte arrays of tensor.rs's serialization tests (formats.md §3)."""
        ref = Ref()
        f32 = np.arange(6, dtype=np.float32).tobytes()
        cases = {
            "test_serialization": (ref.serialize({"attn.0": ("float32", [1, 2, 3], f32)}), [
                64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
                116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
                58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
                101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
                0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]),
            "test_serialization_forced_alignement": (ref.serialize({"attn0": ("float32", [1, 1, 2, 3], f32)}), [
                72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
                121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
                91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
                115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
                32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
                160, 64]),
            # float4_e2m1fn_x2 takes the storage shape; the header gets the logical [1, 2]
            "test_serialization_fp4": (ref.serialize({"attn.0": ("float4_e2m1fn_x2", [1, 1], b"\0")}), [
                64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
                116, 121, 112, 101, 34, 58, 34, 70, 52, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
                91, 49, 44, 50, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116,
                115, 34, 58, 91, 48, 44, 49, 93, 125, 125, 32, 32, 32, 32, 0]),
            "test_empty": (ref.serialize({}), [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]),
            "test_empty_metadata": (ref.serialize({}, {"framework": "pt"}), [
                40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
                95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
                116, 34, 125, 125, 32, 32, 32, 32, 32]),
        }
        for name, (data, want) in cases.items():
            with self.subTest(name):
                self.assertEqual(list(data), want, "the reference package changed its output")
                self.copy_is_identical(data)

    def test_every_dtype_and_odd_names(self):
        rng = np.random.default_rng(7)
        ref = Ref()
        tensors = {}
        names = ["plain", "a.b.c", "quote\"", "back\\slash", "tab\tnl\nctl\x01\x1f", "del\x7f", "é中文🙂",
                 "slash/name", "", " ", "__metadata", "z" * 300]
        shapes = [[3, 5], [], [0], [2, 0, 3], [1, 1, 1, 1, 1, 1, 1, 1], [7]]
        i = 0
        for dt, (_, size) in DTYPES.items():
            for shape in shapes:
                n = int(np.prod(shape)) if shape else 1
                data = rng.integers(0, 256, size=n * size, dtype=np.uint8).tobytes()
                tensors[f"{names[i % len(names)]}#{dt}{shape}"] = (dt, shape, data)
                i += 1
        tensors["fp4"] = ("float4_e2m1fn_x2", [3, 2], rng.integers(0, 256, 6, dtype=np.uint8).tobytes())
        for meta in (None, {"format": "pt"}, {"k\"\\\n": "v\u00e9\x02"}):
            with self.subTest(metadata=meta):
                data = ref.serialize(tensors, meta)
                dst = self.copy_is_identical(data)
                # and the reference reads quarc's file back to the same tensors
                back = dict(deserialize(read(dst)))
                self.assertEqual(len(back), len(tensors))
                for k, v in back.items():
                    self.assertEqual(bytes(v["data"]), tensors[k][2])

    def test_reference_reads_quarc_numpy(self):
        arrays = {
            "w": np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32),
            "b": np.arange(8, dtype=np.int64),
            "h": np.linspace(-1, 1, 12).astype(np.float16).reshape(3, 4),
            "m": np.array([True, False, True]),
            "s": np.array(3.5, dtype=np.float64),
        }
        src, dst = self.path("np.safetensors"), self.path("np_quarc.safetensors")
        from safetensors.numpy import save_file
        save_file(arrays, src, metadata={"format": "np"})
        self.assertEqual(tool("st-copy", src, dst).returncode, 0)
        back = load_file(dst)
        for k, v in arrays.items():
            np.testing.assert_array_equal(back[k], v)
            self.assertEqual(back[k].dtype, v.dtype)
        with safetensors.safe_open(dst, "np") as f:
            self.assertEqual(f.metadata(), {"format": "np"})
        self.assertEqual(read(src), read(dst))

    def test_bad_files_agree(self):
        T = '"dtype":"I32","shape":[2,2],"data_offsets":[0,16]'
        cases = {
            "header_too_small": b"",
            "seven_bytes": b"\x01\0\0\0\0\0\0",
            "invalid_header_length": b"<\0\0\0\0\0\0\0",
            "header_too_large": b"<\x00\x00\x00\x00\xff\xff\xff" + ("{\"test\":{" + T + "}}").encode() + bytes(16),
            "non_utf8": b"\x01\0\0\0\0\0\0\0\xff",
            "not_json": b"\x01\0\0\0\0\0\0\0{",
            "polyglot": header("{\"test\":{" + T + "}}", 16) + b"extra_bogus_data_for_polyglot_file",
            "missing_bytes": header("{\"test\":{" + T + "}}", 14),
            "invalid_info": header('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}', 4),
            "overflow1": header('{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}', 16),
            "overflow2": header('{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}', 16),
            "json_attack": header("{" + ",".join(f'"weight_{i}":{{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}'
                                                 for i in range(10)) + "}", 16),
            "fp4_misaligned": header('{"attn.0":{"dtype":"F4","shape":[1,3],"data_offsets":[0,2]}}', 2),
            "zero_sized": b"<\0\0\0\0\0\0\0" + b'{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}',
            "rank0": header('{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}', 4),
            "ws_trailing": b"\x06\0\0\0\0\0\0\0{}\x0D\x20\x09\x0A",
            "ws_leading": b"\x06\0\0\0\0\0\0\0\x09\x0A{}\x0D\x20",
            "gap": header('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},'
                          '"b":{"dtype":"U8","shape":[4],"data_offsets":[5,9]}}', 9),
            "reversed": header('{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', 4),
            "negative": header('{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}'),
            "minus_zero": header('{"a":{"dtype":"U8","shape":[-0],"data_offsets":[0,0]}}'),
            "float_dim": header('{"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}}', 1),
            "exp_dim": header('{"a":{"dtype":"U8","shape":[1e0],"data_offsets":[0,1]}}', 1),
            "big_int": header('{"a":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,0]}}'),
            "three_offsets": header('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,1]}}', 1),
            "bad_dtype": header('{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,1]}}', 1),
            "meta_int": header('{"__metadata__":{"a":1}}'),
            "meta_null": header('{"__metadata__":null}'),
            "meta_obj": header('{"__metadata__":{"a":"b"}}'),
            "top_array": header("[]"),
            "trailing_comma": header('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},}', 1),
            "lone_surrogate": header('{"\\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1),
            "pair_surrogate": header('{"\\ud83d\\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1),
            "ctrl_in_string": header('{"a\x01":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1),
            "missing_field": header('{"a":{"dtype":"U8","shape":[1]}}', 1),
            "trailing_text": header('{} x'),
            "leading_zero": header('{"a":{"dtype":"U8","shape":[01],"data_offsets":[0,1]}}', 1),
            # stricter than the reference:
            "dup_key": header('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                              '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1),
            "extra_prop": header('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}', 1),
            "rank9": header('{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}', 1),
            "nul_name": header('{"a\\u0000":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1),
        }
        stricter = {"dup_key", "extra_prop", "rank9", "nul_name"}
        for name, data in cases.items():
            with self.subTest(name):
                ours, msg = quarc_accepts(data, self.tmp)
                theirs = ref_accepts(data)
                if name in stricter:
                    self.assertTrue(theirs and not ours, f"{name}: reference {theirs}, quarc {ours}: {msg}")
                    self.assertTrue(any(s in msg for s in STRICTER), msg)
                    self.assertIn("case.safetensors", msg)
                else:
                    self.assertEqual(ours, theirs, f"{name}: reference {'accepts' if theirs else 'rejects'}, "
                                                   f"quarc: {msg}")
                    if not ours:
                        self.assertIn("case.safetensors", msg)

    def test_mutations_agree(self):
        """Seeded byte mutations of valid files: quarc accepts exactly what the reference
        accepts, apart from its documented extra strictness."""
        ref = Ref()
        seeds = [
            ref.serialize({"a": ("float32", [2, 2], bytes(16)), "bb": ("uint8", [3], b"abc"),
                           "c": ("float4_e2m1fn_x2", [1, 2], b"\x12\x34")}, {"format": "pt"}),
            ref.serialize({"x": ("int64", [], bytes(8)), "y": ("bfloat16", [0, 4], b"")}),
        ]
        rng = random.Random(1234)
        alphabet = b'{}[]":,0123456789-.eE \t\n\\u"' + bytes(range(0x20, 0x7f))
        disagreements = []
        n = 0
        for it in range(1500):
            data = bytearray(rng.choice(seeds))
            hlen = int.from_bytes(data[:8], "little")
            for _ in range(rng.randint(1, 3)):
                kind = rng.random()
                pos = rng.randrange(8, 8 + hlen) if hlen else 8
                if kind < 0.5:
                    data[pos] = rng.choice(alphabet)
                elif kind < 0.7:
                    data.insert(pos, rng.choice(alphabet))
                    data[0:8] = (int.from_bytes(data[:8], "little") + 1).to_bytes(8, "little")
                elif kind < 0.85:
                    del data[pos]
                    data[0:8] = (int.from_bytes(data[:8], "little") - 1).to_bytes(8, "little")
                else:
                    data[rng.randrange(0, len(data))] = rng.randrange(256)
            data = bytes(data)
            ours, msg = quarc_accepts(data, self.tmp)
            theirs = ref_accepts(data)
            n += 1
            if ours != theirs and not (theirs and any(s in msg for s in STRICTER)):
                disagreements.append((data, theirs, msg))
        self.assertFalse(disagreements, f"{len(disagreements)} of {n} disagree, e.g. {disagreements[:3]}")

    def test_sharded(self):
        rng = np.random.default_rng(3)
        arrays = {f"layer.{i}.w": rng.standard_normal((i % 4 + 1, 10)).astype(np.float32) for i in range(12)}
        arrays["big"] = np.zeros((100,), np.float32)  # 400 bytes: over the limit, a shard of its own
        from safetensors.numpy import save_file
        src = self.path("all.safetensors")
        save_file(arrays, src)
        out = self.path("sharded")
        os.mkdir(out)
        limit = 200
        r = tool("st-shard", src, out, str(limit))
        self.assertEqual(r.returncode, 0, r.stdout)
        # quarc takes tensors in file order (dtype, then name): compute huggingface_hub's split
        order = [name for name, _ in sorted(((k, v) for k, v in arrays.items()), key=lambda kv: kv[0])]
        shards, cur, cur_size = [], {}, 0
        for k in order:
            size = arrays[k].nbytes
            if size > limit:
                shards.append({k: size})
                continue
            if cur_size + size > limit:
                shards.append(cur)
                cur, cur_size = {}, 0
            cur[k] = size
            cur_size += size
        if cur:
            shards.append(cur)
        self.assertEqual(r.stdout.strip(), f"shards {len(shards)}")
        with open(os.path.join(out, "model.safetensors.index.json")) as f:
            index = json.load(f)
        self.assertEqual(index["metadata"]["total_size"], sum(a.nbytes for a in arrays.values()))
        want = {k: f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i, s in enumerate(shards) for k in s}
        self.assertEqual(index["weight_map"], want)
        for k, f in want.items():
            np.testing.assert_array_equal(load_file(os.path.join(out, f))[k], arrays[k])
        self.assertEqual(tool("st-check", out).stdout.strip(), f"ok {len(arrays)}")
        # quarc re-reads the sharded checkpoint into one identical file
        one = self.path("one.safetensors")
        self.assertEqual(tool("st-copy", out, one).returncode, 0)
        self.assertEqual(read(one), read(src))


if __name__ == "__main__":
    if not os.path.exists(TOOL):
        sys.exit(f"{TOOL} is not built")
    unittest.main()
