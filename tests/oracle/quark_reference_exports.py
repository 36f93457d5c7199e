#!/usr/bin/env python3
"""Reference exports made by AMD Quark itself, for quarc's exporter and importer tests.

Run with the torch environment (torch, transformers, amd-quark), never in CI:

    /opt/torchvenv/bin/python tests/oracle/quark_reference_exports.py OUTDIR [CASE ...]

It builds a tiny random Llama (seeded, float32 — bf16 for the *_bf16 cases —, one decoder
layer, hidden 32, tied embeddings), saves it as a float Hugging Face directory OUTDIR/float
(OUTDIR/float_bf16), quantizes it with Quark's LLMTemplate for each
case below and exports it the way Quark does:

  hf_<scheme>[_<variant>]   export_safetensors(custom_mode="quark"|"awq"|"fp8",
                            weight_format="real_quantized"|"fake_quantized",
                            pack_method="reorder"|"order")
  native_<scheme>           Quark's native format (ModelExporter.export_quark_model of
                            Quark <= 0.11): config.json (json.dump indent 4 of the model
                            config with quantization_config) + model_state_dict.pth
                            (torch.save of the post-processed model's state_dict)

tests/data/quark_exports/ holds the outputs of this script (`--commit` copies them there,
without the generation_config.json that carries nothing quarc needs). Quark 0.13 with
transformers >= 5.6 writes AWQ checkpoints with corrupted names (its own warning,
huggingface/transformers#46650): the AWQ case keeps only what AutoAWQ defines (qweight,
qzeros, scales of the quantized linears) and is fixed up here, and said so in MANIFEST.
"""
import dataclasses
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

SEED = 0
INPUT_IDS = (np.arange(16, dtype=np.int64).reshape(1, 16) * 5) % 64
CASES = {
    # name: (scheme, kv_cache_scheme, algorithm, custom_mode, weight_format, pack_method)
    "hf_int8": ("int8", None, None, "quark", "real_quantized", "reorder"),
    "hf_int8_pc_dyn": ("int8_pc_dyn", None, None, "quark", "real_quantized", "reorder"),
    "hf_fp8": ("fp8", None, None, "quark", "real_quantized", "reorder"),
    "hf_fp8_kv": ("fp8", "fp8", None, "quark", "real_quantized", "reorder"),
    "hf_ptpc_fp8": ("ptpc_fp8", None, None, "quark", "real_quantized", "reorder"),
    "hf_int4_wo_32": ("int4_wo_32", None, None, "quark", "real_quantized", "reorder"),
    "hf_uint4_wo_32": ("uint4_wo_32", None, None, "quark", "real_quantized", "reorder"),
    "hf_uint4_wo_32_order": ("uint4_wo_32", None, None, "quark", "real_quantized", "order"),
    "hf_int4_wo_per_channel": ("int4_wo_per_channel", None, None, "quark", "real_quantized", "reorder"),
    "hf_uint4_wo_per_channel": ("uint4_wo_per_channel", None, None, "quark", "real_quantized", "reorder"),
    "hf_mxfp4": ("mxfp4", None, None, "quark", "real_quantized", "reorder"),
    "hf_mxfp6_e3m2": ("mxfp6_e3m2", None, None, "quark", "real_quantized", "reorder"),
    "hf_mxfp6_e2m3": ("mxfp6_e2m3", None, None, "quark", "real_quantized", "reorder"),
    "hf_nvfp4": ("nvfp4", None, None, "quark", "real_quantized", "reorder"),
    "hf_uint4_wo_32_fake": ("uint4_wo_32", None, None, "quark", "fake_quantized", "reorder"),
    "hf_fp8_kv_fake": ("fp8", "fp8", None, "quark", "fake_quantized", "reorder"),
    "hf_int8_fake": ("int8", None, None, "quark", "fake_quantized", "reorder"),
    "hf_int4_wo_per_channel_fake": ("int4_wo_per_channel", None, None, "quark", "fake_quantized", "reorder"),
    "hf_mxfp4_fake": ("mxfp4", None, None, "quark", "fake_quantized", "reorder"),
    "hf_nvfp4_fake": ("nvfp4", None, None, "quark", "fake_quantized", "reorder"),
    "awq_uint4_wo_32": ("uint4_wo_32", None, "awq", "awq", "real_quantized", "reorder"),
    "fp8_fp8_kv": ("fp8", "fp8", None, "fp8", "real_quantized", "reorder"),
    "native_uint4_wo_32": ("uint4_wo_32", None, None, "native", "real_quantized", "reorder"),
    "native_fp8_kv": ("fp8", "fp8", None, "native", "real_quantized", "reorder"),
    "native_nvfp4": ("nvfp4", None, None, "native", "real_quantized", "reorder"),
    "native_mxfp4": ("mxfp4", None, None, "native", "real_quantized", "reorder"),
    "hf_uint4_wo_32_bf16": ("uint4_wo_32", None, None, "quark", "real_quantized", "reorder"),
    "hf_fp8_kv_bf16": ("fp8", "fp8", None, "quark", "real_quantized", "reorder"),
}


def tiny_llama(dtype=torch.float32):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(SEED)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                      tie_word_embeddings=True, rms_norm_eps=1e-5)
    m = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # weights of a realistic size (the default init is tiny)
        for p in m.parameters():
            if p.dim() == 2:
                p.normal_(0.0, 0.5)
    return m.to(dtype)


def calib_data():
    g = torch.Generator().manual_seed(SEED + 1)
    return [torch.randint(0, 64, (2, 16), generator=g) for _ in range(2)]


def quark_config(scheme, kv, algo):
    from quark.torch import LLMTemplate
    from quark.torch.quantization.config.config import QLayerConfig
    from quark.torch.quantization.config.config import Int8PerChannelSpec

    tmpl = LLMTemplate.get("llama")
    if scheme == "int8_pc_dyn":
        # W8A8 int8: per-channel symmetric weights, dynamic per-token activations.
        w = Int8PerChannelSpec(symmetric=True, scale_type="float", round_method="half_even",
                               ch_axis=0, is_dynamic=False).to_quantization_spec()
        a = Int8PerChannelSpec(symmetric=True, scale_type="float", round_method="half_even",
                               ch_axis=1, is_dynamic=True).to_quantization_spec()
        cfg = tmpl.get_config(scheme="int8")
        cfg.global_quant_config = QLayerConfig(weight=w, input_tensors=a)
        return cfg
    return tmpl.get_config(scheme=scheme, kv_cache_scheme=kv, algorithm=algo)


def export_native(model, qconfig, out):
    """What ModelExporter.export_quark_model did (Quark <= 0.11): post-process the model
    (QuantLinear -> QParamsLinear), torch.save its state_dict, json.dump its config."""
    from quark.torch.export.config.config import JsonExporterConfig
    from quark.torch.export.main_export.model_post_process import ModelPostProcessor

    os.makedirs(out, exist_ok=True)
    kv_group = qconfig.kv_cache_group if qconfig.kv_cache_quant_config else []
    jcfg = JsonExporterConfig(weight_format="real_quantized", pack_method="reorder",
                              kv_cache_group=kv_group, min_kv_scale=qconfig.min_kv_scale)
    qdict = qconfig.to_dict()
    qdict["export"] = dataclasses.asdict(jcfg)
    model.config.update({"quantization_config": qdict})
    proc = ModelPostProcessor(model, jcfg, custom_mode="quark",
                              output_quant=qconfig.global_quant_config.output_tensors is not None,
                              quantization_config=qconfig)
    proc.merge_scale()
    pm = proc.get_processed_model()
    torch.save(pm.state_dict(), os.path.join(out, "model_state_dict.pth"))
    cfg = pm.config.to_dict()
    cfg["_name_or_path"] = os.path.basename(cfg["_name_or_path"])  # no machine path committed
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=4)


def fix_awq(out):
    """Keep AutoAWQ's names (see the module docstring)."""
    from safetensors.torch import load_file, save_file

    path = os.path.join(out, "model.safetensors")
    sd = load_file(path)
    fixed = {}
    for k, v in sd.items():
        if k.endswith(".qweight") and v.dtype != torch.int32:
            k = k[: -len("qweight")] + "weight"
        fixed[k.replace(".qscales", ".scales").replace(".qqzeros", ".qzeros")] = v
    save_file(fixed, path, metadata={"format": "pt"})


def run_case(name, outdir):
    from quark.torch import ModelQuantizer, export_safetensors

    scheme, kv, algo, mode, wf, pm = CASES[name]
    bf16 = name.endswith("_bf16")
    model = tiny_llama(torch.bfloat16 if bf16 else torch.float32)
    model.config._name_or_path = os.path.join(outdir, "float_bf16" if bf16 else "float")
    qconfig = quark_config(scheme, kv, algo)
    q = ModelQuantizer(qconfig)
    model = q.quantize_model(model, calib_data())
    model = q.freeze(model)
    out = os.path.join(outdir, name)
    shutil.rmtree(out, ignore_errors=True)
    if mode == "native":
        export_native(model, qconfig, out)
    else:
        export_safetensors(model, out, custom_mode=mode, weight_format=wf, pack_method=pm)
    if mode == "awq":
        fix_awq(out)
    # The logits of the checkpoint as Quark itself imports it (tests/oracle/quark_import.py),
    # for quarc's importer: what the file means, after the export's scale merging.
    from quark_import import load_with_quark, logits
    try:
        np.save(os.path.join(outdir, name + ".logits.npy"), logits(load_with_quark(out), INPUT_IDS))
    except RuntimeError as e:  # e.g. MX activations, fake-quantized on CUDA only
        print(f"{name}: no logits: {e}", flush=True)


def manifest(outdir):
    from safetensors import safe_open

    lines = []
    for name in sorted(os.listdir(outdir)):
        d = os.path.join(outdir, name)
        if not os.path.isdir(d):
            continue
        for fn in sorted(os.listdir(d)):
            p = os.path.join(d, fn)
            if fn.endswith(".safetensors"):
                with safe_open(p, "pt") as f:
                    for k in sorted(f.keys()):
                        t = f.get_tensor(k)
                        h = hashlib.sha256(t.contiguous().view(torch.uint8).numpy().tobytes()
                                           if t.dim() else t.reshape(1).view(torch.uint8).numpy().tobytes()).hexdigest()
                        lines.append(f"{name}/{fn} {k} {str(t.dtype).replace('torch.', '')} "
                                     f"{list(t.shape)} {h[:16]}")
            elif fn.endswith(".pth"):
                sd = torch.load(p, weights_only=True)
                for k, t in sd.items():
                    lines.append(f"{name}/{fn} {k} {str(t.dtype).replace('torch.', '')} {list(t.shape)}")
    with open(os.path.join(outdir, "MANIFEST"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    outdir = args[0]
    cases = args[1:] or list(CASES)
    os.makedirs(outdir, exist_ok=True)
    tiny_llama().save_pretrained(os.path.join(outdir, "float"))
    tiny_llama(torch.bfloat16).save_pretrained(os.path.join(outdir, "float_bf16"))
    np.save(os.path.join(outdir, "input_ids.npy"), INPUT_IDS)
    for c in cases:
        print("==", c, flush=True)
        run_case(c, outdir)
    manifest(outdir)
    if "--commit" in sys.argv:
        dst = os.path.join(os.path.dirname(__file__), "..", "data", "quark_exports")
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(outdir, dst, ignore=shutil.ignore_patterns("generation_config.json", "float*"))


if __name__ == "__main__":
    main()
