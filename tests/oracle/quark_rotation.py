#!/usr/bin/env python3
"""amd-quark side of the rotation test (tests/python/test_quant_rotation.py): run Quark's
`rotation` (R1 offline, R2, R4) with the int8 preset on the test's small Llama (the same
random weights, tied embeddings and calibration batches, made by the same seeded code), and
record what the rotation made of the weights and what int8 then loses, as a small oracle file
that the CI test compares quarc against without needing torch.

Run with the torch venv (amd-quark 0.13, transformers, torch on CPU):

    /opt/torchvenv/bin/python tests/oracle/quark_rotation.py --quarc build/quarc \
        -o tests/data/quant_oracle/quark_rotation_tiny_llama.json

The config is `quarc quantize --scheme int8 --algo rotation:r2=true:r4=true --print-config`
with Quark's Llama scaling_layers filled in (quarc finds the same layers in the graph).
Recorded: the effective float weight (rotations applied, as Quark's RotationLinear computes
it) of layer 0's q/v/o/down projections, their first rows and their Frobenius norms; and the logit SQNR against the float model on the calibration batches, of
int8 alone and of int8 with the rotation. And Quark's Hadamard matrices of the orders quarc
builds (12, 20, 28, 36, 40, 60, 108, 140) with the order Quark picks for a few widths, so that
a rotation quarc writes is the one Quark recomputes when it loads the checkpoint. And the
logits Quark computes from quarc's own export of the rotated int8 model (safetensors in
Quark's layout, `input_rotation` buffers included), loaded with tests/oracle/quark_import.py.
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
import test_quant_algorithms as ta  # noqa: E402
import test_quant_rotation as tr  # noqa: E402

sys.path.insert(0, HERE)

L = "model.layers.layer_id."
SCALING_LAYERS = {
    "first_layer": [
        {"prev_modules": ["model.embed_tokens"], "norm_module": L + "input_layernorm",
         "next_modules": [L + "self_attn.q_proj", L + "self_attn.k_proj", L + "self_attn.v_proj"]},
        {"prev_modules": [L + "self_attn.o_proj"], "norm_module": L + "post_attention_layernorm",
         "next_modules": [L + "mlp.up_proj", L + "mlp.gate_proj"]}],
    "middle_layers": [
        {"prev_modules": ["model.layers.pre_layer_id.mlp.down_proj"], "norm_module": L + "input_layernorm",
         "next_modules": [L + "self_attn.q_proj", L + "self_attn.k_proj", L + "self_attn.v_proj"]},
        {"prev_modules": [L + "self_attn.o_proj"], "norm_module": L + "post_attention_layernorm",
         "next_modules": [L + "mlp.up_proj", L + "mlp.gate_proj"]}],
    "last_layer": [
        {"prev_modules": ["model.layers.layer_id.mlp.down_proj"], "norm_module": "model.norm",
         "next_modules": ["lm_head"]}],
}


def effective_weight(mod):
    """The float weight a (possibly rotation-wrapped) Linear computes with, [out, in]."""
    from quark.torch.algorithm.rotation.rotation import RotationLinear
    if isinstance(mod, RotationLinear):
        x = torch.zeros(1, mod.in_features, dtype=torch.float64)
        w = mod.linear.weight.detach().double()
        _, w = mod.apply_in_transform(x, w)
        b = mod.linear.bias
        w, _ = mod.apply_out_transform(w, b)
        return w.detach().double()
    inner = getattr(mod, "module", None) or getattr(mod, "linear", None) or getattr(mod, "layer", None)
    if inner is not None and hasattr(inner, "weight"):
        return effective_weight(inner)
    return mod.weight.detach().double()


def run(cfg_dict, model_dir, data, ModelQuantizer, QConfig, AutoModelForCausalLM):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    qm = ModelQuantizer(QConfig.from_dict(cfg_dict)).quantize_model(model, data)
    with torch.no_grad():
        logits = [qm(d).logits.double().numpy() for d in data]
    return qm, logits


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quarc", required=True)
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()

    import quark
    from quark.torch import ModelQuantizer
    from quark.torch.quantization.config.config import QConfig
    from transformers import AutoModelForCausalLM

    def config(algo):
        args = [a.quarc, "quantize", "--scheme", "int8", "--print-config"] + (["--algo", algo] if algo else [])
        return json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)

    cfg_rot = config("rotation:r2=true:r4=true:model_decoder_layers=model.layers")
    cfg_rot["algo_config"][0]["scaling_layers"] = SCALING_LAYERS
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, calib = os.path.join(tmp, "llama"), os.path.join(tmp, "calib")
        ta.outlier_llama(model_dir)
        tr.tie_embeddings(model_dir)
        qu.write_id_batches(calib, ta.BATCHES, ta.SEQ, ta.VOCAB)
        data = [torch.from_numpy(np.load(os.path.join(b, "input_ids.npy"))) for b in ta.batches(calib)]
        fm = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
        with torch.no_grad():
            ref = [fm(d).logits.double().numpy() for d in data]
        _, plain = run(config(None), model_dir, data, ModelQuantizer, QConfig, AutoModelForCausalLM)
        qm, rot = run(cfg_rot, model_dir, data, ModelQuantizer, QConfig, AutoModelForCausalLM)
        out = {"quark_version": getattr(quark, "__version__", "?"), "torch_version": torch.__version__,
               "config": cfg_rot["algo_config"],
               "logit_sqnr_db": {"int8": ta.sqnr(ref, plain), "int8+rotation": ta.sqnr(ref, rot)},
               "weights": {}}
        mods = dict(qm.named_modules())
        for name in ("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                     "model.layers.0.self_attn.o_proj", "model.layers.0.mlp.down_proj"):
            w = effective_weight(mods[name])
            out["weights"][name] = {"row0": [float(x) for x in w[0]], "norm": float(torch.linalg.norm(w))}
        print(json.dumps(out["logit_sqnr_db"]), file=sys.stderr)
        # quarc's export (Quark's safetensors layout, with input_rotation buffers) as Quark
        # loads it: the logits of the first calibration batch.
        import quark_import
        hf = os.path.join(tmp, "quarc_hf")
        subprocess.run([a.quarc, "quantize", model_dir, "--scheme", "int8", "--algo", "rotation:r2=true:r4=true",
                        "--calib", calib, "-o", hf], check=True, capture_output=True)
        lm = quark_import.load_with_quark(hf)
        with torch.no_grad():
            lg = lm(data[0]).logits.double().numpy()
        out["quarc_export_logits_batch0"] = [round(float(x), 7) for x in lg.ravel()]
        out["quarc_export_keys"] = sorted(k for k in __import__("safetensors.torch", fromlist=["load_file"])
                                          .load_file(os.path.join(hf, "model.safetensors")) if "rotation" in k)
    # Quark's Hadamard matrices (its table's orders quarc builds) and the order K it picks for
    # widths of real models: R = H_K (x) H_{n/K} / sqrt(n), H_{n/K} Sylvester's.
    from quark.torch.algorithm.rotation.hadamard import _get_hadamard_K
    out["hadamard"] = {}
    for k in (12, 20, 28, 36, 40, 60, 108, 140):
        h, kk = _get_hadamard_K(k)
        assert kk == k
        out["hadamard"][str(k)] = ["".join("+" if v > 0 else "-" for v in row) for row in h.tolist()]
    out["hadamard_order_of"] = {str(n): _get_hadamard_K(n)[1] for n in (384, 576, 960, 1536, 2560, 3584)}
    with open(a.output, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
