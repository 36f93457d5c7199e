#!/usr/bin/env python3
"""Dump Quark's preset configs (LLMTemplate schemes) as the JSON quarc must reproduce.

Run with amd-quark 0.13 + torch (CPU):
    /opt/torchvenv/bin/python tests/oracle/gen_quark_presets.py tests/data/quark_goldens/presets
Each file NAME.json holds json.dumps(QConfig.to_dict(), indent=2) of
LLMTemplate.get("llama").get_config(...) for one case; the version is replaced by "test" so
the files do not depend on the Quark build. quarc's tests compare qc_qconfig_preset()'s
output with them byte for byte (tests/unit/test_quant_config.c).
"""
import json
import os
import sys

from quark.torch import LLMTemplate
from quark.torch.quantization.config.config import Int8PerChannelSpec, QConfig, QLayerConfig

CASES = [
    # (file name, scheme, kwargs for get_config)
    ("int8", "int8", {}),
    ("fp8", "fp8", {}),
    ("fp8_kv_fp8", "fp8", {"kv_cache_scheme": "fp8"}),
    ("fp8_kv_fp8_attn_fp8", "fp8", {"kv_cache_scheme": "fp8", "attention_scheme": "fp8"}),
    ("int4_wo_128_kv_fp8", "int4_wo_128", {"kv_cache_scheme": "fp8", "min_kv_scale": 0.25}),
    ("ptpc_fp8", "ptpc_fp8", {}),
    ("int4_wo_32", "int4_wo_32", {}),
    ("int4_wo_64", "int4_wo_64", {}),
    ("int4_wo_128", "int4_wo_128", {}),
    ("int4_wo_per_channel", "int4_wo_per_channel", {}),
    ("int4_wa_64", "int4_wa_64", {}),
    ("uint4_wo_32", "uint4_wo_32", {}),
    ("uint4_wo_64", "uint4_wo_64", {}),
    ("uint4_wo_128", "uint4_wo_128", {}),
    ("uint4_wo_per_channel", "uint4_wo_per_channel", {}),
    ("mxfp4", "mxfp4", {}),
    ("mxfp4_weight_only", "mxfp4_weight_only", {}),
    ("mxfp6_e3m2", "mxfp6_e3m2", {}),
    ("mxfp6_e2m3", "mxfp6_e2m3", {}),
    ("mxfp4_mxfp6_e2m3", "mxfp4_mxfp6_e2m3", {}),
    ("mxfp4_fp8", "mxfp4_fp8", {}),
    ("amdfp4", "amdfp4", {}),
    ("amdfp4_g32", "amdfp4_g32", {}),
    ("int4_fp8", "int4_fp8", {}),
    ("mx6", "mx6", {}),
    ("mx9", "mx9", {}),
    ("bfp16", "bfp16", {}),
    ("nvfp4", "nvfp4", {}),
    ("amdfp4_global16", "amdfp4_global16", {}),
    ("amdfp4_global32", "amdfp4_global32", {}),
    ("int8_no_exclude", "int8", {"exclude_layers": []}),
    ("fp8_exclude2", "fp8", {"exclude_layers": ["lm_head", "*mlp.gate"]}),
]


def dump(cfg: QConfig) -> str:
    d = cfg.to_dict()
    d["version"] = "test"
    return json.dumps(d, indent=2) + "\n"


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    t = LLMTemplate.get("llama")
    for name, scheme, kw in CASES:
        with open(os.path.join(out, name + ".json"), "w") as f:
            f.write(dump(t.get_config(scheme=scheme, **kw)))
    # quarc's own int8_per_channel_dynamic: Quark has no such scheme; this is the QConfig
    # quarc means by it, built from Quark's own spec helpers (weights as int8 per channel,
    # inputs per token as in ptpc_fp8).
    w = Int8PerChannelSpec(ch_axis=0, symmetric=True, is_dynamic=False).to_quantization_spec()
    a = Int8PerChannelSpec(ch_axis=1, symmetric=True, is_dynamic=True).to_quantization_spec()
    cfg = QConfig(global_quant_config=QLayerConfig(weight=w, input_tensors=a), exclude=["lm_head"])
    with open(os.path.join(out, "int8_per_channel_dynamic.json"), "w") as f:
        f.write(dump(cfg))


if __name__ == "__main__":
    main()
