#!/usr/bin/env python3
"""Load an exported model with AMD Quark itself and compute its logits (torch environment:
torch, transformers, amd-quark; never in CI).

    /opt/torchvenv/bin/python tests/oracle/quark_import.py DIR INPUT_IDS.npy OUT.npy [--device cuda] [--f64]

DIR is what `quarc export` writes (or what Quark wrote): a Hugging Face directory in Quark's
layout (custom_mode quark/awq/fp8, real or fake quantized) is read with
quark.torch.import_model_from_safetensors (onto the transformers model built from config.json);
Quark's native format (config.json +
model_state_dict.pth) the way Quark's ModelImporter read it: the transformers model built from
config.json, its linears mapped to QParamsLinear (quark.torch.export.api._map_to_quark), the
state dict loaded strictly (a fake_quantized native state dict, which that path cannot take,
through the safetensors importer with its names turned back into checkpoint names). The model runs in float32 (weights are dequantized in the model's
dtype first, as Quark does), and OUT.npy receives logits[batch, seq, vocab] for INPUT_IDS.
With --f64 the model runs in float64 except its quantizers (double_but_quantizers), as quarc
runs a graph after convert-float{to=f64}.
"""
import contextlib
import json
import os
import sys

import numpy as np
import torch


def load_with_quark(model_dir, device="cpu"):
    from transformers import AutoConfig, AutoModelForCausalLM

    with open(os.path.join(model_dir, "config.json")) as f:
        cfg_dict = json.load(f)
    native = os.path.join(model_dir, "model_state_dict.pth")
    if os.path.exists(native) and cfg_dict["quantization_config"].get("export", {}).get("weight_format") == "fake_quantized":
        # Quark's native importer maps linears to real-quantized QParamsLinear only: a fake
        # state dict goes through its safetensors importer instead, with the in-memory names
        # turned back into checkpoint names (weight_quantizer.scale -> weight_scale, stage
        # .1. -> _2).
        import re
        import shutil
        import tempfile
        from safetensors.torch import save_file
        sd = torch.load(native, weights_only=True)

        pat = re.compile(r"(.*)\.(weight|input|output|bias)_quantizer\.(?:(\d+)\.)?(scale|zero_point)$")
        # Checkpoint suffixes count the stages that have parameters: NVFP4's input has a
        # dynamic stage 0 and a static stage 1, stored as input_quantizer.1.scale natively and
        # as input_scale (not input_scale_2) in the checkpoint; weights: weight_scale, _2.
        stored = {}
        for k in sd:
            m = pat.match(k)
            if m:
                stored.setdefault((m.group(1), m.group(2)), set()).add(int(m.group(3) or 0))

        def ckpt(k):
            m = pat.match(k)
            if not m:
                return k
            rank = sorted(stored[(m.group(1), m.group(2))]).index(int(m.group(3) or 0))
            return "%s.%s_%s%s" % (m.group(1), m.group(2), m.group(4), "_%d" % (rank + 1) if rank else "")
        tmp = tempfile.mkdtemp(prefix="quark-native-fake-")
        try:
            shutil.copy(os.path.join(model_dir, "config.json"), tmp)
            save_file({ckpt(k): v.contiguous() for k, v in sd.items()}, os.path.join(tmp, "model.safetensors"),
                      metadata={"format": "pt"})
            return load_with_quark(tmp, device)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    if os.path.exists(native):
        from quark.torch.export.api import _map_to_quark
        from quark.torch.quantization.config.config import QConfig

        qcfg = dict(cfg_dict["quantization_config"])
        export = qcfg.pop("export", {})
        plain = {k: v for k, v in cfg_dict.items() if k != "quantization_config"}
        config = AutoConfig.for_model(**plain)
        model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
        _map_to_quark(model, QConfig.from_dict(qcfg), export.get("pack_method", "reorder"), "quark")
        sd = torch.load(os.path.join(model_dir, "model_state_dict.pth"), weights_only=True)
        missing, unexpected = model.load_state_dict(sd, strict=False)
        # A tied lm_head shares the embedding; nothing else may be missing.
        missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
        if missing or unexpected:
            raise RuntimeError(f"state dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}")
        if config.tie_word_embeddings:
            model.tie_weights()
        return model.to(device).eval()
    from quark.torch import import_model_from_safetensors

    # The skeleton is built here (Quark's own needs accelerate), without quantization_config.
    plain = {k: v for k, v in cfg_dict.items() if k != "quantization_config"}
    model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**plain), attn_implementation="eager")
    return import_model_from_safetensors(model, model_dir).to(device).eval()


QUANTIZER_ATTRS = ("weight_quantizer", "input_quantizer", "output_quantizer", "bias_quantizer")


def double_but_quantizers(model, rope=None):
    """The model in float64 except its quantizers, which keep float32 (their inputs are cast
    to float32 and their results back): what quarc's convert-float{to=f64} computes. The
    float32 weights stay float32 (a weight quantizer reads them), and every other op runs in
    double, so float summation order no longer flips rounding decisions. transformers keeps
    three things in float32 inside a float64 model; they are made double here: RMSNorm and the
    attention softmax are computed in double, and the rotary cos/sin tables are `rope`
    (cos, sin)[position, head_dim/2], the float32 tables quarc's graph holds (torch's float32
    pow/cos differ from them by an ulp in ~5% of entries)."""
    model = model.float()
    kept = []
    for mod in model.modules():
        for attr in QUANTIZER_ATTRS:
            q = getattr(mod, attr, None)
            if isinstance(q, torch.nn.Module):
                kept.append((mod, attr, q))
    model = model.double()
    for mod, attr, q in kept:
        q.float()
        if attr == "weight_quantizer" and mod.weight.is_floating_point():
            mod.weight.data = mod.weight.data.float()
        if attr == "bias_quantizer" and getattr(mod, "bias", None) is not None and mod.bias.is_floating_point():
            mod.bias.data = mod.bias.data.float()
        fwd = q.forward
        # float inputs (activations, float weights) go in as float32 and come back in the
        # caller's dtype; packed integer weights go in as they are
        q.forward = (lambda f: lambda X, *a, **k: f(X.float(), *a, **k).to(X.dtype)
                     if X.is_floating_point() else f(X, *a, **k))(fwd)
    for mod in model.modules():
        if type(mod).__name__.endswith("RMSNorm"):
            mod.forward = (lambda m: lambda h: m.weight * (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) +
                                                                            m.variance_epsilon)))(mod)
        if rope is not None and type(mod).__name__.endswith("RotaryEmbedding"):
            cos = torch.from_numpy(np.concatenate([rope[0], rope[0]], -1)).double()
            sin = torch.from_numpy(np.concatenate([rope[1], rope[1]], -1)).double()
            mod.forward = lambda x, position_ids, c=cos, s=sin: (c[position_ids].to(x.dtype), s[position_ids].to(x.dtype))
    return model


class _double_softmax:
    """transformers' eager attention asks for a float32 softmax; in a float64 run, keep double."""

    def __enter__(self):
        self.orig = torch.nn.functional.softmax

        def softmax(x, dim=None, _stacklevel=3, dtype=None):
            if x.dtype == torch.float64 and dtype == torch.float32:
                dtype = None
            return self.orig(x, dim=dim, dtype=dtype)
        torch.nn.functional.softmax = softmax

    def __exit__(self, *exc):
        torch.nn.functional.softmax = self.orig


def logits(model, ids, device="cpu", f64=False, rope=None):
    """logits[batch, seq, vocab] (float64 numpy) for ids; f64: double_but_quantizers."""
    model = double_but_quantizers(model, rope) if f64 else model.float()
    with torch.no_grad(), (_double_softmax() if f64 else contextlib.nullcontext()):
        return model(torch.from_numpy(ids).to(device)).logits.double().cpu().numpy()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    device = "cuda" if "--device" in sys.argv and sys.argv[sys.argv.index("--device") + 1] == "cuda" else "cpu"
    model_dir, ids_path, out = args[0], args[1], args[2]
    model = load_with_quark(model_dir, device)
    np.save(out, logits(model, np.load(ids_path), device, "--f64" in sys.argv))


if __name__ == "__main__":
    main()
