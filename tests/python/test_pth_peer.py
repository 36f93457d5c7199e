"""quarc's .pth reader and writer against Python's own pickle and zipfile (torch is not a
test dependency; tests/oracle/check_pth_with_torch.py does the torch.load check where torch
is installed).

- Reading: archives made the way torch.save makes them — CPython's pickler (protocol 2)
  pickling objects whose reductions are torch's (_rebuild_tensor_v2/_v3, _rebuild_parameter,
  storage classes via persistent ids, OrderedDict state dicts with _metadata), zipped by
  zipfile (stored, also zip64 and other archive names) — are read by quarc (ckpt_tool
  pth-to-st) to the tensors numpy computes, strided views and storage offsets included.
  Pickles that run code or use other opcodes are refused, naming the global or opcode.
- Writing: what quarc writes (ckpt_tool st-to-pth) is a valid zip (CRCs, 64-byte aligned
  stored entries, zip64 when forced), its data.pkl uses only opcodes and globals that
  torch.load(weights_only=True) allows, and a restricted Unpickler rebuilds exactly the
  source arrays from it.
"""
import collections
import io
import os
import pickle
import pickletools
import shutil
import struct
import subprocess
import sys
import tempfile
import types
import unittest
import zipfile

import numpy as np
from safetensors import deserialize
from safetensors.numpy import save_file

BUILD = os.environ.get("QUARC_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
TOOL = os.path.join(BUILD, "tests", "ckpt", "ckpt_tool")


def tool(*args):
    return subprocess.run([TOOL, *args], capture_output=True, text=True)


# safetensors header dtype -> numpy dtype to view its bytes as (fp8 and bf16 as raw codes)
ST_NUMPY = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "BF16": np.uint16, "I64": np.int64,
            "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "C64": np.complex64,
            "U16": np.uint16, "U32": np.uint32, "U64": np.uint64, "F8_E4M3": np.uint8, "F8_E5M2": np.uint8,
            "F8_E4M3FNUZ": np.uint8, "F8_E5M2FNUZ": np.uint8, "F8_E8M0": np.uint8, "F4": np.uint8}


def load_file(path):
    """Tensors as numpy arrays of their raw codes; F4 as its bytes (last dimension halved)."""
    with open(path, "rb") as f:
        items = deserialize(f.read())
    out = {}
    for k, v in items:
        shape = list(v["shape"])
        if v["dtype"] == "F4":
            shape[-1] //= 2
        out[k] = np.frombuffer(bytes(v["data"]), dtype=ST_NUMPY[v["dtype"]]).reshape(shape)
    return out


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


class PlainObject:
    pass


# ---- a stand-in for the parts of torch that torch.save's pickles name --------------------------

# legacy storage classes (GLOBAL torch <name>)
STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
            "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16, "CharStorage": np.int8,
            "ByteStorage": np.uint8, "BoolStorage": np.bool_, "ComplexFloatStorage": np.complex64,
            "ComplexDoubleStorage": np.complex128, "BFloat16Storage": None}
# dtypes torch.save passes to _rebuild_tensor_v3 (GLOBAL torch <name>), as numpy views
NEW_DTYPES = {"float8_e4m3fn": np.uint8, "float8_e5m2": np.uint8, "float8_e4m3fnuz": np.uint8,
              "float8_e5m2fnuz": np.uint8, "float8_e8m0fnu": np.uint8, "uint16": np.uint16, "uint32": np.uint32,
              "uint64": np.uint64, "float4_e2m1fn_x2": np.uint8}

fake_torch = types.ModuleType("torch")
fake_utils = types.ModuleType("torch._utils")
fake_storage = types.ModuleType("torch.storage")  # torch.UntypedStorage is defined there
fake_torch._utils = fake_utils
fake_torch.storage = fake_storage
fake_storage.UntypedStorage = fake_torch.UntypedStorage = type("UntypedStorage", (), {"__module__": "torch.storage"})


def _rebuild_tensor_v2(*args):
    raise AssertionError("never called")


def _rebuild_tensor_v3(*args):
    raise AssertionError("never called")


def _rebuild_parameter(*args):
    raise AssertionError("never called")


for fn in (_rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter):
    fn.__module__ = "torch._utils"
    setattr(fake_utils, fn.__name__, fn)
for name in STORAGES:
    setattr(fake_torch, name, type(name, (), {"__module__": "torch"}))


class DType:
    """Pickles as the global torch.<name>, as torch.dtype does."""
    __module__ = "torch"

    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return self.name


for name in NEW_DTYPES:
    setattr(fake_torch, name, DType(name))


class Storage:
    def __init__(self, key, cls, data: bytes, numel):
        self.key, self.cls, self.data, self.numel = key, cls, data, numel


class Tensor:
    """Reduces as torch.Tensor._reduce_ex_internal does for a dense CPU tensor."""

    def __init__(self, storage, offset, size, stride, v3_dtype=None, requires_grad=False):
        self.args = (storage, offset, tuple(size), tuple(stride), requires_grad, collections.OrderedDict())
        self.v3_dtype = v3_dtype

    def __reduce_ex__(self, proto):
        if self.v3_dtype:
            return (fake_utils._rebuild_tensor_v3, self.args + (getattr(fake_torch, self.v3_dtype),))
        return (fake_utils._rebuild_tensor_v2, self.args)


class Parameter:
    def __init__(self, t):
        self.t = t

    def __reduce_ex__(self, proto):
        return (fake_utils._rebuild_parameter, (self.t, True, collections.OrderedDict()))


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(fake_torch, obj.cls), obj.key, "cpu", obj.numel)
        return None


def torch_save(path, obj, storages, prefix="archive", zip64=False, compress=None):
    """Zip `obj` as torch.save does: data.pkl (protocol 2), byteorder, data/<key>, version."""
    saved = {m: sys.modules.get(m) for m in ("torch", "torch._utils", "torch.storage")}
    sys.modules["torch"], sys.modules["torch._utils"], sys.modules["torch.storage"] = fake_torch, fake_utils, fake_storage
    try:
        buf = io.BytesIO()
        TorchPickler(buf, protocol=2).dump(obj)
    finally:
        for m, v in saved.items():
            if v is None:
                sys.modules.pop(m, None)
            else:
                sys.modules[m] = v
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        def put(name, data, method=zipfile.ZIP_STORED):
            info = zipfile.ZipInfo(f"{prefix}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with z.open(info, "w", force_zip64=zip64) as f:
                f.write(data)
        put("data.pkl", buf.getvalue(), compress or zipfile.ZIP_STORED)
        put("byteorder", b"little")
        for s in storages:
            put(f"data/{s.key}", s.data)
        put("version", b"3\n")
    return buf.getvalue()


# ---- the reference reader for quarc's output: pickle with an allow-list -----------------------

ALLOWED_OPCODES = {"PROTO", "GLOBAL", "BINPUT", "LONG_BINPUT", "BINGET", "LONG_BINGET", "EMPTY_TUPLE",
                   "EMPTY_DICT", "REDUCE", "MARK", "BINUNICODE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
                   "BINPERSID", "BININT", "BININT1", "BININT2", "LONG1", "NEWFALSE", "NEWTRUE", "SETITEMS",
                   "SETITEM", "STOP"}
# torch.load(weights_only=True)'s allow-list (torch/_weights_only_unpickler.py), for the
# globals a state dict needs
# (torch.save names the untyped storage by its module, torch.storage; torch 2.15's
# weights_only loader refuses "torch UntypedStorage")
ALLOWED_GLOBALS = {"collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch._utils _rebuild_tensor_v3",
                   "torch._utils _rebuild_parameter", "torch.storage UntypedStorage"} | {
                      f"torch {n}" for n in STORAGES} | {f"torch {n}" for n in NEW_DTYPES}


class ReferenceLoader(pickle.Unpickler):
    """Rebuild numpy arrays from a quarc-written archive, as torch.load would build tensors."""

    def __init__(self, data, zf, prefix):
        super().__init__(io.BytesIO(data))
        self.zf, self.prefix = zf, prefix

    def find_class(self, module, name):
        if f"{module} {name}" not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name}")
        if module == "collections":
            return collections.OrderedDict
        if module == "torch._utils":
            return getattr(self, name)
        if module == "torch.storage":
            return ("storage", name)
        return ("dtype" if name in NEW_DTYPES else "storage", name)

    def persistent_load(self, pid):
        kind, (_, cls), key, location, numel = pid
        assert cls in STORAGES or cls == "UntypedStorage"
        assert kind == "storage" and location == "cpu"
        raw = self.zf.read(f"{self.prefix}/data/{key}")
        return cls, raw, numel

    @staticmethod
    def _view(raw, dtype, offset, size, stride):
        flat = np.frombuffer(raw, dtype=dtype)
        it = flat.itemsize
        return np.lib.stride_tricks.as_strided(flat[offset:], shape=size, strides=[s * it for s in stride]).copy()

    def _rebuild_tensor_v2(self, storage, offset, size, stride, requires_grad, hooks, metadata=None):
        cls, raw, numel = storage
        dtype = STORAGES[cls] if cls != "BFloat16Storage" else np.uint16
        assert len(raw) == numel * np.dtype(dtype).itemsize
        return self._view(raw, dtype, offset, size, stride)

    def _rebuild_tensor_v3(self, storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None):
        cls, raw, numel = storage
        assert cls == "UntypedStorage" and len(raw) == numel and dtype[0] == "dtype"
        return self._view(raw, NEW_DTYPES[dtype[1]], offset, size, stride)

    def _rebuild_parameter(self, t, requires_grad, hooks):
        return t


class PthPeer(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="qc_pth_peer_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def quarc_read(self, pth):
        out = self.path("read.safetensors")
        r = tool("pth-to-st", pth, out)
        self.assertEqual(r.returncode, 0, r.stdout)
        return load_file(out)

    def test_reads_torch_style_archives(self):
        rng = np.random.default_rng(0)
        w = rng.standard_normal((4, 6)).astype(np.float32)
        s_w = Storage("0", "FloatStorage", w.tobytes(), w.size)
        ids = np.arange(-5, 5, dtype=np.int64)
        s_i = Storage("1", "LongStorage", ids.tobytes(), ids.size)
        f8 = rng.integers(0, 256, 16, dtype=np.uint8)
        s_f8 = Storage("2", "UntypedStorage", f8.tobytes(), f8.size)
        u16 = rng.integers(0, 65536, 6, dtype=np.uint16)
        s_u16 = Storage("3", "UntypedStorage", u16.tobytes(), u16.nbytes)
        h = rng.standard_normal(5).astype(np.float16)
        s_h = Storage("4", "HalfStorage", h.tobytes(), h.size)
        c = (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64)
        s_c = Storage("5", "ComplexFloatStorage", c.tobytes(), c.size)
        b = np.array([True, False, True])
        s_b = Storage("6", "BoolStorage", b.tobytes(), b.size)
        sd = collections.OrderedDict()
        sd["w"] = Tensor(s_w, 0, (4, 6), (6, 1))
        sd["w_t"] = Tensor(s_w, 0, (6, 4), (1, 6))                   # transposed view: copied
        sd["row2"] = Tensor(s_w, 12, (6,), (1,))                      # storage offset
        sd["cols"] = Tensor(s_w, 1, (4, 2), (6, 2))                   # strided slice w[:, 1::2][:, :2]
        sd["bcast"] = Tensor(s_w, 3, (3, 4), (0, 1))                  # stride 0
        sd["ids"] = Parameter(Tensor(s_i, 0, (2, 5), (5, 1)))
        sd["scalar"] = Tensor(s_i, 9, (), ())
        sd["empty"] = Tensor(s_w, 0, (0, 6), (6, 1))
        sd["f8"] = Tensor(s_f8, 2, (2, 7), (7, 1), v3_dtype="float8_e4m3fn")
        sd["u16"] = Tensor(s_u16, 0, (3, 2), (2, 1), v3_dtype="uint16")
        sd["h"] = Tensor(s_h, 0, (5,), (1,))
        sd["c"] = Tensor(s_c, 0, (3,), (1,))
        sd["b"] = Tensor(s_b, 0, (3,), (1,))
        sd["fp4"] = Tensor(s_f8, 4, (2, 3), (3, 1), v3_dtype="float4_e2m1fn_x2")  # 6 bytes: 12 values
        sd["nested"] = {"layer": {0: Tensor(s_w, 0, (2, 2), (6, 1))}, "step": 10, "name": "x", "none": None}
        sd._metadata = collections.OrderedDict({"": {"version": 1}, "layer": {"version": 2}})
        storages = [s_w, s_i, s_f8, s_u16, s_h, s_c, s_b]
        want = {
            "w": w, "w_t": w.T, "row2": w.reshape(-1)[12:18],
            "cols": np.lib.stride_tricks.as_strided(w.reshape(-1)[1:], shape=(4, 2), strides=(24, 8)),
            "bcast": np.broadcast_to(w.reshape(-1)[3:7], (3, 4)), "ids": ids.reshape(2, 5), "scalar": np.array(ids[9]),
            "empty": np.zeros((0, 6), np.float32), "f8": f8[2:16].reshape(2, 7), "u16": u16.reshape(3, 2), "h": h,
            "c": c, "b": b, "nested.layer.0": w.reshape(-1)[[0, 1, 6, 7]].reshape(2, 2),
            "fp4": f8[4:10].reshape(2, 3),
        }
        for variant in ({}, {"zip64": True}, {"prefix": "pytorch_model"}):
            with self.subTest(**variant):
                pth = self.path("model.pth")
                torch_save(pth, sd, storages, **variant)
                self.assertEqual(tool("pth-check", pth).stdout.strip(), f"ok {len(want)}")
                got = self.quarc_read(pth)
                self.assertEqual(set(got), set(want))
                for k, v in want.items():
                    np.testing.assert_array_equal(got[k], v, err_msg=k)
                    self.assertEqual(got[k].shape, v.shape, k)
                # quarc's own writer round-trips what it read
                st = self.path("read.safetensors")
                again = self.path("again.pth")
                self.assertEqual(tool("st-to-pth", st, again).returncode, 0)
                back = self.quarc_read(again)
                for k in want:
                    np.testing.assert_array_equal(back[k], got[k])

    def test_refuses_what_torch_save_does_not_write(self):
        s = Storage("0", "FloatStorage", np.zeros(4, np.float32).tobytes(), 4)

        cases = {
            "os_system": ({"x": Evil()}, "global 'posix.system' is not allowed"),
            "eval": ({"x": (eval, "1")}, "global '__builtin__.eval' is not allowed"),
            "plain_object": ({"x": PlainObject()}, "is not allowed"),
            "set": ({"x": {1, 2}}, "is not allowed"),
            "bytes": ({"x": b"abc"}, "is not allowed"),
            "not_a_dict": ([Tensor(s, 0, (4,), (1,))], "holds a list, not a state dict"),
        }
        for name, (obj, msg) in cases.items():
            with self.subTest(name):
                pth = self.path(f"{name}.pth")
                torch_save(pth, obj, [s])
                r = tool("pth-check", pth)
                self.assertEqual(r.returncode, 1, r.stdout)
                self.assertIn(f"{name}.pth", r.stdout)
                self.assertIn(msg, r.stdout)
                if "global" in msg:
                    # the message gives the opcode and its offset, which pickletools agrees with
                    with zipfile.ZipFile(pth) as zf:
                        data = zf.read("archive/data.pkl")
                    offsets = [pos for op, arg, pos in pickletools.genops(data)
                               if op.name in ("GLOBAL", "STACK_GLOBAL") and arg and "torch" not in str(arg)]
                    self.assertIn(f"at offset {offsets[0]}", r.stdout)
        pth = self.path("deflated.pth")
        torch_save(pth, {"x": Tensor(s, 0, (4,), (1,))}, [s], compress=zipfile.ZIP_DEFLATED)
        r = tool("pth-check", pth)
        self.assertIn("is compressed (method 8, deflate)", r.stdout)
        legacy = self.path("legacy.pth")
        with open(legacy, "wb") as f:
            pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)  # the legacy format's magic number
        self.assertIn("legacy torch.save", tool("pth-check", legacy).stdout)

    def check_quarc_archive(self, pth, arrays, zip64):
        with zipfile.ZipFile(pth) as zf:
            self.assertIsNone(zf.testzip())  # every CRC-32
            names = zf.namelist()
            self.assertEqual(names[:4], ["archive/data.pkl", "archive/.format_version", "archive/.storage_alignment",
                                         "archive/byteorder"])
            self.assertEqual(names[-1], "archive/version")
            self.assertEqual(zf.read("archive/version"), b"3\n")
            self.assertEqual(zf.read("archive/byteorder"), b"little")
            with open(pth, "rb") as f:
                raw = f.read()
            for info in zf.infolist():
                self.assertEqual(info.compress_type, zipfile.ZIP_STORED)
                nlen, xlen = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
                start = info.header_offset + 30 + nlen + xlen
                self.assertEqual(start % 64, 0, f"{info.filename} data at {start}")
                self.assertEqual(raw[start:start + info.file_size], zf.read(info))
            self.assertEqual(b"PK\x06\x06" in raw[-200:], zip64)
            data = zf.read("archive/data.pkl")
            ops = list(pickletools.genops(data))
            self.assertEqual(ops[0][0].name, "PROTO")
            self.assertEqual(ops[0][1], 2)
            used = {op.name for op, _, _ in ops}
            self.assertTrue(used <= ALLOWED_OPCODES, used - ALLOWED_OPCODES)
            for op, arg, _ in ops:
                if op.name == "GLOBAL":
                    self.assertIn(arg, ALLOWED_GLOBALS)
            out = ReferenceLoader(data, zf, "archive").load()
        self.assertIsInstance(out, collections.OrderedDict)
        self.assertEqual(list(out), list(arrays))
        for k, v in arrays.items():
            np.testing.assert_array_equal(out[k], v.view(np.uint16) if v.dtype.name == "bfloat16" else v, err_msg=k)
            self.assertEqual(out[k].shape, v.shape)

    def test_quarc_writes_what_torch_load_accepts(self):
        rng = np.random.default_rng(4)
        arrays = {
            "model.embed.weight": rng.standard_normal((10, 4)).astype(np.float32),
            "model.norm": rng.standard_normal(4).astype(np.float16),
            "f64": rng.standard_normal((2, 3)).astype(np.float64),
            "i64": np.arange(-3, 3, dtype=np.int64).reshape(2, 3),
            "big": np.array([2 ** 40, -2 ** 40], dtype=np.int64),
            "i32": np.arange(5, dtype=np.int32), "i16": np.arange(4, dtype=np.int16),
            "i8": np.arange(-2, 2, dtype=np.int8), "u8": np.arange(6, dtype=np.uint8).reshape(1, 2, 3),
            "mask": np.array([True, False]), "c64": np.array([1 + 2j], np.complex64),
            "u16": np.arange(3, dtype=np.uint16), "u32": np.arange(3, dtype=np.uint32),
            "u64": np.array([2 ** 63], dtype=np.uint64), "scalar": np.array(1.5, np.float32),
            "empty": np.zeros((3, 0), np.float32), "rank5": np.ones((1, 2, 1, 2, 1), np.float32),
        }
        # a large dimension, to exercise LONG1/BININT sizes
        arrays["wide"] = np.zeros((1, 70000), np.uint8)
        src = self.path("src.safetensors")
        save_file(arrays, src)
        # quarc writes tensors in the order it reads them: the safetensors file order
        with open(src, "rb") as f:
            import json
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        order = [k for k, _ in sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                                      key=lambda kv: kv[1]["data_offsets"])]
        arrays = {k: arrays[k] for k in order}
        for zip64 in (False, True):
            with self.subTest(zip64=zip64):
                pth = self.path("quarc.pth")
                r = tool("st-to-pth", src, pth, *(["zip64"] if zip64 else []))
                self.assertEqual(r.returncode, 0, r.stdout)
                self.check_quarc_archive(pth, arrays, zip64)
                self.assertEqual(tool("pth-check", pth).stdout.strip(), f"ok {len(arrays)}")


if __name__ == "__main__":
    if not os.path.exists(TOOL):
        sys.exit(f"{TOOL} is not built")
    unittest.main()
