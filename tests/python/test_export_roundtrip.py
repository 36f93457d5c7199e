"""Round trips of quarc's own exports: for every scheme quarc exports (export_util.SCHEMES)
and every format that can hold it (Hugging Face safetensors in Quark's layout real_quantized
and fake_quantized, Quark's native config.json + model_state_dict.pth real and fake, the AWQ
and fp8 custom modes), export -> `quarc import` -> export gives the same bytes, every file.
(test_export_quark.py does the same for the checkpoints amd-quark wrote.)

Also checked, per scheme:
  - `quarc quantize -o DIR` writes the same files as `quarc export` of the quantized graph
    (--no-lower .qir), so both paths are covered by the round trips;
  - the `safetensors` package reads every .safetensors file, and the native .pth is a
    torch.save zip whose pickle names only what torch.load(weights_only=True) allows;
  - the second import's graph gives the same logits as the first export's graph (`quarc run`),
    so what is written back is what was read, not just the same bytes by accident.
Prints the number of round trips per format.
"""
import collections
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_util as xu  # noqa: E402
import quant_util as qu  # noqa: E402
from test_export_quark import state_dict  # noqa: E402


class RoundTrips(xu.TinyModelTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.qir = {}
        for s in xu.SCHEMES:
            q = os.path.join(cls.tmp, s + ".qir")
            cls.m.quantize(s, q, "--no-lower")
            cls.qir[s] = q

    def export(self, src, dst, fmt, wf=None, cmd="export"):
        extra = ["--weight-format", wf] if wf else []
        qu.quarc(cmd, src, "-o", dst, "--format", fmt, *extra, "--quiet")

    def test_round_trips_byte_identical(self):
        counts = collections.Counter()
        ids = os.path.join(self.tmp, "ids.npy")
        np.save(ids, np.random.default_rng(3).integers(0, self.m.cfg["vocab_size"], (1, 12)).astype(np.int64))
        for s in xu.SCHEMES:
            for fmt, wf in xu.formats_for(s):
                with self.subTest(scheme=s, format=fmt, weight_format=wf):
                    a = os.path.join(self.tmp, "%s_%s_%s" % (s, fmt, wf))
                    b, c = a + ".import", a + ".import2"
                    self.export(self.qir[s], a, fmt, wf)
                    self.export(a, b, fmt, cmd="import")
                    diff = xu.same_tree(a, b)
                    self.assertIsNone(diff, "%s %s %s: export -> import -> export: %s" % (s, fmt, wf, diff))
                    self.export(b, c, fmt, cmd="import")
                    self.assertIsNone(xu.same_tree(b, c))
                    for f in xu.files(a):
                        p = os.path.join(a, f)
                        if f.endswith(".safetensors"):
                            self.assertTrue(xu.safetensors_headers(a), p)
                        if f.endswith(".pth"):
                            self.assertTrue(state_dict(p), p)
                    # what was read back computes what was written
                    ra, rc = os.path.join(self.tmp, "run_a"), os.path.join(self.tmp, "run_c")
                    qu.quarc("run", a, "-i", ids, "-o", ra, "--npy")
                    qu.quarc("run", c, "-i", ids, "-o", rc, "--npy")
                    la, lc = np.load(os.path.join(ra, "output_0.npy")), np.load(os.path.join(rc, "output_0.npy"))
                    self.assertTrue(np.array_equal(la, lc), "%s %s %s: logits differ after the round trip" % (s, fmt, wf))
                    counts["%s/%s" % (fmt, wf)] += 1
        print("byte-identical round trips:", ", ".join("%s %d" % kv for kv in sorted(counts.items())),
              "(total %d)" % sum(counts.values()))
        self.assertEqual(sum(counts.values()), sum(len(xu.formats_for(s)) for s in xu.SCHEMES))

    def test_quantize_writes_what_export_writes(self):
        for s in xu.SCHEMES:
            with self.subTest(scheme=s):
                q = os.path.join(self.tmp, "q_" + s)
                e = os.path.join(self.tmp, "e_" + s)
                self.m.quantize(s, q)
                self.export(self.qir[s], e, "hf")
                self.assertIsNone(xu.same_tree(q, e), s)
                self.assertTrue(os.path.isfile(q + ".report.json"))

    def test_bad_requests_name_the_problem(self):
        """Formats that cannot hold a scheme, and bad options, fail cleanly: a message naming
        the output and the reason, and nothing written."""
        cases = [(self.qir["int8"], "awq", "AWQ export needs weight-only"),
                 (self.qir["mxfp4"], "fp8", "fp8 export needs fp8_e4m3 per-tensor weights")]
        for src, fmt, msg in cases:
            out = os.path.join(self.tmp, "bad_" + fmt)
            p = qu.quarc("export", src, "-o", out, "--format", fmt, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(out, p.stderr)
            self.assertIn(msg, p.stderr)
            self.assertFalse(os.path.exists(out))
        out = os.path.join(self.tmp, "bad_wf")
        p = qu.quarc("quantize", self.m.model, *self.m.args("int8"), "--calib", self.m.calib,
                     "--weight-format", "half_quantized", "-o", out, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("half_quantized", p.stderr)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main(verbosity=1)
