#!/usr/bin/env python3
"""amd-quark side of the algorithm tests (tests/python/test_quant_algorithms.py): run Quark's
SmoothQuant, GPTQ and Qronos on the test's small Llama (the same random weights and calibration
batches, made by the same seeded code) and record the smoothing scale s of every layer Quark
smooths and every GPTQ and Qronos code and scale, as a small oracle file that the CI test compares quarc
against without needing torch.

Run with the torch venv (amd-quark 0.13, transformers, torch on CPU):

    /opt/torchvenv/bin/python tests/oracle/quark_algorithms.py --quarc build/quarc \
        -o tests/data/quant_oracle/quark_algorithms_tiny_llama.json

The config Quark runs is `quarc quantize --scheme int8 --algo smooth --print-config`, so the
test also shows that Quark reads the algo_config quarc writes. Recorded per Linear: s per
input column (the smoothed weight over the original, averaged over the rows), and per norm
the smoothed weight over the original.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import quant_util as qu  # noqa: E402
import test_quant_algorithms as t  # noqa: E402


def gptq_codes(a, model_dir, calib, ModelQuantizer, QConfig, AutoModelForCausalLM, algo="gptq"):
    """Quark's GPTQ (or Qronos) on the test's int4 per-group-32 weight-only config: every
    layer's codes (round(W / scale), as hex digits of code + 8) and scales."""
    out = subprocess.run([a.quarc, "quantize", "--scheme", "int4_wo_128", "--algo",
                          algo + ":model_decoder_layers=model.layers", "--print-config"],
                         check=True, capture_output=True, text=True).stdout
    cfg = json.loads(out)
    cfg["global_quant_config"]["weight"]["group_size"] = 32
    cfg["algo_config"][0]["inside_layer_modules"] = [
        "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
    data = [torch.from_numpy(np.load(os.path.join(b, "input_ids.npy"))) for b in t.batches(calib)]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    qm = ModelQuantizer(QConfig.from_dict(cfg)).quantize_model(model, data)
    res = {}
    for name, mod in qm.named_modules():
        wq = getattr(mod, "_weight_quantizer", None)
        if wq is None or "lm_head" in name:
            continue
        w = mod.weight.detach().double()
        sc = wq.scale.detach().double().reshape(w.shape[0], -1)
        codes = torch.round(w / torch.repeat_interleave(sc, 32, dim=1)).to(torch.int64)
        res[name] = {"codes": "".join("%x" % (c + 8) for c in codes.flatten().tolist()),
                     "scale": [float(x) for x in sc.flatten()]}
    print("%s layers: %d" % (algo, len(res)), file=sys.stderr)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quarc", required=True)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()

    import quark
    from quark.torch import ModelQuantizer
    from quark.torch.quantization.config.config import QConfig
    from transformers import AutoModelForCausalLM

    # Quark finds the decoder layers by module name; quarc reads the key and finds them in the graph.
    cfg_dict = json.loads(subprocess.run([a.quarc, "quantize", "--scheme", "int8", "--algo",
                                          "smooth:model_decoder_layers=model.layers", "--print-config"],
                                         check=True, capture_output=True, text=True).stdout)
    # Quark 0.13's smooth does not detect the layers: an empty scaling_layers smooths nothing (its
    # LLM templates fill the list). These are Llama's (the template's), the groups quarc finds in
    # the graph.
    llama_groups = [
        {"prev_op": "input_layernorm", "layers": ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
         "inp": "self_attn.q_proj", "module2inspect": "self_attn"},
        {"prev_op": "self_attn.v_proj", "layers": ["self_attn.o_proj"], "inp": "self_attn.o_proj"},
        {"prev_op": "post_attention_layernorm", "layers": ["mlp.gate_proj", "mlp.up_proj"],
         "inp": "mlp.gate_proj", "module2inspect": "mlp"},
        {"prev_op": "mlp.up_proj", "layers": ["mlp.down_proj"], "inp": "mlp.down_proj"}]
    cfg_dict["algo_config"][0]["scaling_layers"] = llama_groups
    # AutoSmoothQuant on fp8, as `quarc quantize --scheme fp8 --algo autosmoothquant` writes it
    asq_dict = json.loads(subprocess.run([a.quarc, "quantize", "--scheme", "fp8", "--algo",
                                          "autosmoothquant:model_decoder_layers=model.layers",
                                          "--print-config"],
                                         check=True, capture_output=True, text=True).stdout)
    asq_dict["algo_config"][0]["scaling_layers"] = llama_groups
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, calib = os.path.join(tmp, "llama"), os.path.join(tmp, "calib")
        t.outlier_llama(model_dir)
        qu.write_id_batches(calib, t.BATCHES, t.SEQ, t.VOCAB)
        data = [torch.from_numpy(np.load(os.path.join(b, "input_ids.npy"))) for b in t.batches(calib)]
        out = {"quark_version": getattr(quark, "__version__", "?"), "torch_version": torch.__version__,
               "config": cfg_dict["algo_config"]}
        for key, cfg in (("smooth", cfg_dict), ("autosmoothquant", asq_dict)):
            torch.manual_seed(0)
            model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
            orig = {k: v.detach().clone() for k, v in model.state_dict().items()}
            qm = ModelQuantizer(QConfig.from_dict(cfg)).quantize_model(model, data)
            res = {"linear_s": {}, "norm_ratio": {}}
            for k, v in qm.state_dict().items():
                if k not in orig or not k.endswith(".weight") or "lm_head" in k or "embed" in k:
                    continue
                o = orig[k].double()
                w = v.detach().double()
                name = k[:-len(".weight")]
                if w.ndim == 2:
                    ratio = (w / o).mean(dim=0)  # per input column
                    if not torch.allclose(ratio, torch.ones_like(ratio), atol=1e-7):
                        res["linear_s"][name] = [float(x) for x in ratio]
                elif "norm" in k:
                    r = w / o
                    if not torch.allclose(r, torch.ones_like(r), atol=1e-7):
                        res["norm_ratio"][name] = [float(x) for x in r]
            print("%s: smoothed linears: %d, norms: %d" % (key, len(res["linear_s"]), len(res["norm_ratio"])),
                  file=sys.stderr)
            if key == "smooth":
                out.update(res)
            else:
                out["autosmoothquant"] = dict(res, config=cfg["algo_config"])
        out["gptq"] = gptq_codes(a, model_dir, calib, ModelQuantizer, QConfig, AutoModelForCausalLM)
        out["qronos"] = gptq_codes(a, model_dir, calib, ModelQuantizer, QConfig, AutoModelForCausalLM,
                                   "qronos")
    with open(a.output, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
