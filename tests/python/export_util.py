"""Helpers shared by the tests of quarc's own Hugging Face / Quark / AWQ / fp8 exports
(test_export_vllm.py, test_export_roundtrip.py): the schemes quarc can export, a tiny Llama
quantized with each, and readers for what the exports hold."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quant_util as qu  # noqa: E402

# W8A8 int8 per-channel weights with a static per-tensor input: no preset has it, Quark's
# Int8PerChannelSpec + Int8PerTensorSpec do.
INT8_PER_CHANNEL_STATIC = {
    "global_quant_config": {
        "weight": {"dtype": "int8", "qscheme": "per_channel", "ch_axis": 0, "symmetric": True,
                   "is_dynamic": False, "round_method": "half_even", "scale_type": "float",
                   "observer_cls": "PerChannelMinMaxObserver"},
        "input_tensors": {"dtype": "int8", "qscheme": "per_tensor", "symmetric": True,
                          "is_dynamic": False, "round_method": "half_even", "scale_type": "float",
                          "observer_cls": "PerTensorMinMaxObserver"}},
    "exclude": ["lm_head"]}

# name -> the `quarc quantize` arguments that select it ("@int8_pc" is the config above).
SCHEMES = {
    "int8": ["--scheme", "int8"],
    "int8_per_channel": ["--config", "@int8_pc"],
    "int8_per_channel_dynamic": ["--scheme", "int8_per_channel_dynamic"],
    "fp8": ["--scheme", "fp8"],
    "fp8_kv": ["--scheme", "fp8", "--kv-cache", "fp8"],
    "ptpc_fp8": ["--scheme", "ptpc_fp8"],
    "int4_wo_128": ["--scheme", "int4_wo_128"],
    "uint4_wo_128": ["--scheme", "uint4_wo_128"],
    "int4_wo_per_channel": ["--scheme", "int4_wo_per_channel"],
    "uint4_wo_per_channel": ["--scheme", "uint4_wo_per_channel"],
    "mxfp4": ["--scheme", "mxfp4"],
    "mxfp6_e3m2": ["--scheme", "mxfp6_e3m2"],
    "mxfp6_e2m3": ["--scheme", "mxfp6_e2m3"],
    "nvfp4": ["--scheme", "nvfp4"],
}
# Quark's custom modes take only what their formats can say.
AWQ_SCHEMES = {"int4_wo_128", "uint4_wo_128"}
FP8_SCHEMES = {"fp8", "fp8_kv"}

# (format, weight_format) pairs; awq and fp8 only for the schemes above.
FORMATS = [("hf", "real_quantized"), ("hf", "fake_quantized"), ("quark", "real_quantized"),
           ("quark", "fake_quantized"), ("awq", "real_quantized"), ("fp8", "real_quantized")]


def formats_for(scheme):
    return [(f, w) for f, w in FORMATS
            if (f != "awq" or scheme in AWQ_SCHEMES) and (f != "fp8" or scheme in FP8_SCHEMES)]


class TinyModel:
    """A random float32 Llama (quant_util.make_tiny_llama: hidden 128, so every group size
    divides it) with calibration batches, in `tmp`."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.model = os.path.join(tmp, "llama")
        self.cfg = qu.make_tiny_llama(self.model)
        self.calib = os.path.join(tmp, "calib")
        qu.write_id_batches(self.calib, 2, 16, self.cfg["vocab_size"])
        self.int8_pc = os.path.join(tmp, "int8_pc.json")
        with open(self.int8_pc, "w") as f:
            json.dump(INT8_PER_CHANNEL_STATIC, f)

    def args(self, scheme):
        return [self.int8_pc if a == "@int8_pc" else a for a in SCHEMES[scheme]]

    def quantize(self, scheme, out, *extra):
        """`quarc quantize` of the model with `scheme` to `out` (format from the name or
        `extra`); raises with quarc's stderr on failure."""
        return qu.quarc("quantize", self.model, *self.args(scheme), "--calib", self.calib,
                        *extra, "-o", out)


class TinyModelTest(unittest.TestCase):
    """A test case class with a TinyModel in a temporary directory (cls.m, cls.tmp)."""

    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="quarc-%s-" % cls.__name__.lower())
        cls.tmp = cls._tmp.name
        cls.m = TinyModel(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        cls._tmp.cleanup()


def files(d):
    """The entries of a directory, hidden ones included (an export has none)."""
    return sorted(os.listdir(d))


def read(p):
    with open(p, "rb") as f:
        return f.read()


def same_tree(a, b):
    """None if directories a and b hold the same files with the same bytes, else what
    differs."""
    fa, fb = files(a), files(b)
    if fa != fb:
        return "files %s vs %s" % (fa, fb)
    for f in fa:
        if read(os.path.join(a, f)) != read(os.path.join(b, f)):
            return "%s differs" % f
    return None


def safetensors_headers(d):
    """{tensor name: (dtype, shape)} over every .safetensors file of directory d, read by the
    safetensors package."""
    from safetensors import safe_open
    out = {}
    for f in files(d):
        if f.endswith(".safetensors"):
            with safe_open(os.path.join(d, f), "np") as st:
                for k in st.keys():
                    sl = st.get_slice(k)
                    out[k] = (sl.get_dtype(), list(sl.get_shape()))
    return out


def quantization_config(d):
    with open(os.path.join(d, "config.json")) as f:
        return json.load(f)["quantization_config"]
