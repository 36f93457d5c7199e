"""Quantizing a float16 model: `quarc quantize` computes it in float32 (convert-float, as
Quark's ONNX quantizer does with convert_fp16_to_fp32), its inputs and outputs keeping their
type, so the result is the float32 model's, byte for byte.

A small random Llama is exported to ONNX in float16 (convert-float{to=f16}) and back to
float32 (the same weights, widened exactly). For int8 and for fp8 + autosmoothquant + gptq,
both are quantized with the same calibration batches:
  - every initializer of the two ONNX files is identical (names, dtypes, bytes);
  - in ONNX Runtime, the float16 model's logits (float16) are the float32 model's rounded to
    float16;
  - quant-annotate on the float16 graph itself refuses it, naming the value and the way out,
    and writes nothing.
"""
import os
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import quant_util as qu  # noqa: E402

RECIPES = [("int8", None), ("fp8", "autosmoothquant,gptq")]


def initializers(path):
    import onnx
    from onnx import numpy_helper
    return {i.name: numpy_helper.to_array(i) for i in onnx.load(path).graph.initializer}


def logits(path, ids):
    s = qu.ort_session(path)
    return s.run(None, {s.get_inputs()[0].name: ids})[0]


class Float16(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="quarc_f16_")
        t = cls.tmp.name
        qu.make_tiny_llama(os.path.join(t, "llama"))
        qu.write_id_batches(os.path.join(t, "calib"), 4, 16, 256)
        cls.f16 = os.path.join(t, "f16.onnx")
        cls.f32 = os.path.join(t, "f32.onnx")
        qu.quarc("opt", os.path.join(t, "llama"), "--passes=convert-float{from=f32,to=f16,keep-io=false}",
                 "-o", cls.f16)
        qu.quarc("opt", cls.f16, "--passes=convert-float{from=f16,to=f32,keep-io=false}", "-o", cls.f32)
        cls.ids = np.load(os.path.join(t, "calib", "b000", "input_ids.npy"))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_same_as_float32(self):
        for scheme, algo in RECIPES:
            with self.subTest(scheme=scheme, algo=algo):
                out = {}
                for name, src in (("f16", self.f16), ("f32", self.f32)):
                    out[name] = os.path.join(self.tmp.name, "q_%s_%s.onnx" % (scheme, name))
                    args = ["quantize", src, "--scheme", scheme, "--calib",
                            os.path.join(self.tmp.name, "calib"), "-o", out[name]]
                    if algo:
                        args += ["--algo", algo]
                    r = qu.quarc(*args)
                    if name == "f16":
                        self.assertIn("to f32", r.stderr)
                a, b = initializers(out["f16"]), initializers(out["f32"])
                self.assertEqual(sorted(a), sorted(b))
                differ = [k for k in a if a[k].dtype != b[k].dtype or a[k].tobytes() != b[k].tobytes()]
                self.assertEqual(differ, [])
                y16, y32 = logits(out["f16"], self.ids), logits(out["f32"], self.ids)
                self.assertEqual(y16.dtype, np.float16)
                self.assertEqual(y32.dtype, np.float32)
                np.testing.assert_array_equal(y16, y32.astype(np.float16))
                qu.log("%s%s: %d initializers identical, logits max |f16 - f32| %.3g" % (
                    scheme, " + " + algo if algo else "", len(a),
                    np.abs(y16.astype(np.float32) - y32).max()))

    def test_annotate_refuses_float16(self):
        out = os.path.join(self.tmp.name, "annotated.qir")
        r = qu.quarc("opt", self.f16, "--passes=quant-annotate{scheme=int8}", "-o", out, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("quant-annotate: value 'model.embed_tokens.weight' is f16", r.stderr)
        self.assertIn("run convert-float{from=f16,to=f32} first", r.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
