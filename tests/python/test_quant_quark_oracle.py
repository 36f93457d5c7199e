"""quarc quantize against amd-quark on all-MiniLM-L6-v2, without torch.

tests/oracle/quark_minilm.py ran Quark 0.13 on the model (configs from `quarc quantize
--print-config`, the same calibration and evaluation sentences) and committed what it found
as tests/data/quant_oracle/minilm_quark.json. This test quantizes the model with quarc the
same way and checks, per scheme:
  - every Linear's weight scale (and zero point) equals Quark's bit for bit (values for
    per-tensor schemes, sha256 of the float32 bytes for per-group ones);
  - static input scales equal Quark's to 1e-6 relative (they come from activations that
    torch and quarc compute with different float summation orders);
  - the mean cosine of the quantized to the float sentence embedding (the evaluation
    sentences' token ids are in the oracle) is within 0.001 of Quark's.
"""
import hashlib
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import quant_util as qu  # noqa: E402

ORACLE = os.path.join(qu.SRC, "tests", "data", "quant_oracle", "minilm_quark.json")


def embeddings(sess, ids_list):
    out = []
    for ids in ids_list:
        a = np.array([ids], np.int64)
        feeds = {"input_ids": a, "attention_mask": np.ones_like(a), "token_type_ids": np.zeros_like(a)}
        out.append(sess.run(["sentence_embedding"], feeds)[0][0])
    return out


def main():
    if not os.path.exists(os.path.join(qu.MINILM, "model.safetensors")) or not os.path.exists(qu.SHAKESPEARE):
        print("SKIP: MiniLM or tinyshakespeare is missing")
        return 0
    import onnx
    oracle = json.load(open(ORACLE))
    failures = 0
    with tempfile.TemporaryDirectory(prefix="quarc-quant-oracle-") as tmp:
        calib = os.path.join(tmp, "calib.txt")
        qu.write_text_head(calib, oracle["calibration"]["text_bytes"])
        fpath = os.path.join(tmp, "float.onnx")
        qu.quarc("opt", qu.MINILM, "-o", fpath)
        qu.expand_bert_mask(fpath, fpath)
        ids = oracle["eval"]["input_ids"]
        ref = embeddings(qu.ort_session(fpath), ids)
        for scheme, rec in oracle["schemes"].items():
            qpath = os.path.join(tmp, scheme + ".onnx")
            qu.quarc("quantize", qu.MINILM, "--scheme", scheme, "--calib", calib, "--text-mode", "lines",
                     "--batches", oracle["calibration"]["lines"], "--seq-len", oracle["calibration"]["seq_len"],
                     "-o", qpath)
            m = onnx.load(qpath)
            inits = qu.initializers(m)
            wq = qu.weight_quant(m, inits)
            aq = qu.activation_quant(m, inits)
            exact = rel = 0
            for layer, want in rec["layers"].items():
                if not want:
                    continue
                if layer not in wq:
                    if layer.startswith("pooler"):  # sentence-transformers does not use BERT's pooler
                        continue
                    print("FAIL %s %s: no quantized weight in quarc's export" % (scheme, layer))
                    failures += 1
                    continue
                s = qu.quark_weight_scale(wq[layer])
                if "weight_scale" in want:
                    w = np.array(want["weight_scale"], np.float32)
                    ok = s.size == w.size and np.array_equal(s.reshape(-1), w)
                else:
                    digest = hashlib.sha256(np.ascontiguousarray(s, "<f4").tobytes()).hexdigest()
                    ok = digest == want["weight_scale_sha256"] and list(s.shape) == want["weight_scale_shape"]
                    w = np.array(want["weight_scale_head"], np.float32)
                if not ok:
                    print("FAIL %s %s: weight scale %s..., Quark %s..." % (scheme, layer, s.reshape(-1)[:4], w.reshape(-1)[:4]))
                    failures += 1
                else:
                    exact += 1
                if "input_scale" in want:
                    got = aq.get(layer)
                    w = np.array(want["input_scale"], np.float64)
                    if got is None or np.abs(np.asarray(got, np.float64).reshape(-1) - w).max() > 1e-6 * np.abs(w).max():
                        print("FAIL %s %s: input scale %s, Quark %s" % (scheme, layer, got, w))
                        failures += 1
                    else:
                        rel += 1
            qu.expand_bert_mask(qpath, qpath)
            q = embeddings(qu.ort_session(qpath), ids)
            cos = float(np.mean([qu.cosine(a, b) for a, b in zip(q, ref)]))
            delta = cos - rec["mean_cosine"]
            status = "ok" if abs(delta) <= 1e-3 else "FAIL"
            if status == "FAIL":
                failures += 1
            print("%s %s: %d weight scales equal to Quark's, %d input scales; embedding cosine to float "
                  "%.6f (Quark %.6f, difference %+.6f)" % (status, scheme, exact, rel, cos, rec["mean_cosine"], delta))
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
