#!/usr/bin/env python3
"""Makes the model-parity oracle data under tests/data/models/ (committed; CI never runs
this). Needs torch and transformers (run with /opt/torchvenv/bin/python); downloads
nothing: every model is built from a config object with seeded random weights.

For each architecture quarc's builder supports, a tiny model (hidden 64-72, 2 layers,
vocabulary 256) is created with transformers, its weights are re-drawn so that every
parameter matters (norm weights around 1, non-zero biases, unit-scale activations), then
rounded to the dtype the checkpoint is stored in (f16, bf16 or f32): PyTorch computes the
expected outputs in float32 from exactly the values quarc reads from the file.

Each directory holds what quarc loads (config.json + model.safetensors) and the oracle:
  decoder LMs: input_ids.npy (i64 [2, 12]) -> logits.npy (f32 [2, 12, vocab])
  BERT:        input_ids.npy, attention_mask.npy, token_type_ids.npy (i64 [3, 10])
               -> last_hidden_state.npy (f32 [3, 10, hidden]) and
                  sentence_embedding.npy (f32 [3, hidden]: mean pooled over the mask,
                  L2-normalized, as sentence-transformers does)

Some configs are rewritten to the older config.json form real checkpoints ship with
(rope_theta / rope_scaling at top level instead of transformers 5's rope_parameters), so
both forms are covered.

Usage: gen_model_parity.py [NAME ...]   (default: all)
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
import transformers
from transformers import (BertConfig, BertModel, GPT2Config, GPT2LMHeadModel, LlamaConfig,
                          LlamaForCausalLM, MistralConfig, MistralForCausalLM, OPTConfig,
                          OPTForCausalLM, Qwen2Config, Qwen2ForCausalLM, Qwen3Config,
                          Qwen3ForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "models")

VOCAB = 256
SEQ = 12
BATCH = 2

COMMON_LLAMA = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                    rms_norm_eps=1e-5)


def llama_legacy(cfg):
    """config.json as Llama 3.x / SmolLM2 ship it: rope_theta and rope_scaling at top level."""
    rp = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rp.pop("rope_theta")
    rt = rp.get("rope_type", "default")
    cfg["rope_scaling"] = rp if rt != "default" else None
    return cfg


# name: (model class, config, stored dtype, config.json rewrite or None, notes)
MODELS = {
    "llama": (LlamaForCausalLM, LlamaConfig(**COMMON_LLAMA, rope_theta=10000.0, tie_word_embeddings=False),
              torch.float16, None),
    "mistral": (MistralForCausalLM,
                # transformers' Mistral (like Llama and Qwen) rotates the whole head
                # whatever partial_rotary_factor says
                MistralConfig(**COMMON_LLAMA, sliding_window=None, tie_word_embeddings=False, head_dim=16,
                              rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                                               "partial_rotary_factor": 0.5}),
                torch.float16, None),
    # sliding window of 5 positions in every layer (Mistral 7B v0.1 has 4096)
    "mistral_swa": (MistralForCausalLM,
                    MistralConfig(**COMMON_LLAMA, sliding_window=5, rope_theta=10000.0, tie_word_embeddings=False),
                    torch.float16, None),
    # q/k/v carry biases, o_proj none
    "qwen2": (Qwen2ForCausalLM, Qwen2Config(**COMMON_LLAMA, rope_theta=1000000.0, use_sliding_window=False,
                                            tie_word_embeddings=False),
              torch.float16, None),
    # sliding window from layer 1 on (max_window_layers; transformers 5 writes layer_types);
    # linear rope scaling
    "qwen2_swa": (Qwen2ForCausalLM,
                  Qwen2Config(**COMMON_LLAMA, use_sliding_window=True, sliding_window=4, max_window_layers=1,
                              tie_word_embeddings=True,
                              rope_parameters={"rope_type": "linear", "factor": 2.5, "rope_theta": 1000000.0}),
                  torch.float16, None),
    # q_norm / k_norm per head; head_dim 32 != hidden / heads; bf16 weights; tied embeddings
    "qwen3": (Qwen3ForCausalLM, Qwen3Config(**COMMON_LLAMA, head_dim=32, rope_theta=1000000.0,
                                            use_sliding_window=False, tie_word_embeddings=True),
              torch.bfloat16, None),
    # SmolLM2-135M's shape: 9 heads / 3 kv heads, tied embeddings, rope_theta 100000
    "smollm2": (LlamaForCausalLM,
                LlamaConfig(vocab_size=VOCAB, hidden_size=72, intermediate_size=160, num_hidden_layers=2,
                            num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=128,
                            rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True),
                torch.float32, llama_legacy),
    # Llama 3.1 rope scaling; original_max_position_embeddings 64 puts the 8 frequencies
    # of head_dim 16 in all three bands (kept, interpolated, divided by factor)
    "llama31": (LlamaForCausalLM,
                LlamaConfig(**COMMON_LLAMA, rope_theta=500000.0, tie_word_embeddings=False,
                            rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                          "high_freq_factor": 4.0, "original_max_position_embeddings": 64}),
                torch.float16, llama_legacy),
    "gpt2": (GPT2LMHeadModel, GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=64),
             torch.float16, None),
    # GPT-2 options some checkpoints set: exact GELU, attention scaled by 1/(layer+1), n_inner
    "gpt2_variant": (GPT2LMHeadModel,
                     GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=64, n_inner=96,
                                activation_function="gelu", scale_attn_by_inverse_layer_idx=True,
                                layer_norm_epsilon=1e-4),
                     torch.float16, None),
    "opt": (OPTForCausalLM, OPTConfig(vocab_size=VOCAB, hidden_size=64, ffn_dim=128, num_hidden_layers=2,
                                      num_attention_heads=4, max_position_embeddings=64,
                                      word_embed_proj_dim=64, do_layer_norm_before=True),
            torch.float16, None),
    # opt-350m's layout: post-layer-norm, no final norm, project_in / project_out
    "opt350m": (OPTForCausalLM, OPTConfig(vocab_size=VOCAB, hidden_size=64, ffn_dim=128, num_hidden_layers=2,
                                          num_attention_heads=4, max_position_embeddings=64,
                                          word_embed_proj_dim=32, do_layer_norm_before=False),
                torch.float16, None),
    "bert": (BertModel, BertConfig(vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, max_position_embeddings=64, type_vocab_size=2,
                                   layer_norm_eps=1e-12, hidden_act="gelu"),
             torch.float16, None),
}


def redraw(model, dtype, seed):
    """Weights that exercise everything: linear weights ~ N(0, 1/fan_in), norm weights
    ~ 1 + N(0, 0.2), biases ~ N(0, 0.2); then rounded to the stored dtype."""
    g = torch.Generator().manual_seed(seed)
    conv1d = transformers.pytorch_utils.Conv1D
    fan_in_first = set()
    for mname, mod in model.named_modules():
        if isinstance(mod, conv1d):
            fan_in_first.add(mname + ".weight")
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                is_norm_weight = name.endswith("weight")
                x = torch.randn(p.shape, generator=g) * 0.2 + (1.0 if is_norm_weight else 0.0)
            else:
                fan_in = p.shape[0] if name in fan_in_first else p.shape[1]
                x = torch.randn(p.shape, generator=g) / float(np.sqrt(fan_in))
            p.copy_(x.to(dtype).to(torch.float32))


def make(name):
    cls, cfg, dtype, rewrite = MODELS[name]
    torch.manual_seed(0)
    cfg._attn_implementation = "eager"
    model = cls(cfg).eval()
    redraw(model, dtype, seed=1234)
    if getattr(cfg, "tie_word_embeddings", False) and hasattr(model, "tie_weights"):
        model.tie_weights()
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rng = np.random.default_rng(7)
    with torch.no_grad():
        if cls is BertModel:
            ids = rng.integers(0, VOCAB, size=(3, 10)).astype(np.int64)
            mask = np.zeros((3, 10), np.int64)
            for r, n in enumerate((10, 7, 4)):
                mask[r, :n] = 1
            ids[mask == 0] = 0  # [PAD]
            types = np.zeros((3, 10), np.int64)
            types[:, 5:] = 1
            types[mask == 0] = 0
            out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                        token_type_ids=torch.from_numpy(types))
            h = out.last_hidden_state
            m = torch.from_numpy(mask).unsqueeze(-1).float()
            mean = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            emb = torch.nn.functional.normalize(mean, p=2, dim=1)
            np.save(os.path.join(d, "input_ids.npy"), ids)
            np.save(os.path.join(d, "attention_mask.npy"), mask)
            np.save(os.path.join(d, "token_type_ids.npy"), types)
            np.save(os.path.join(d, "last_hidden_state.npy"), h.numpy().astype(np.float32))
            np.save(os.path.join(d, "sentence_embedding.npy"), emb.numpy().astype(np.float32))
        else:
            ids = rng.integers(0, VOCAB, size=(BATCH, SEQ)).astype(np.int64)
            logits = model(input_ids=torch.from_numpy(ids)).logits
            np.save(os.path.join(d, "input_ids.npy"), ids)
            np.save(os.path.join(d, "logits.npy"), logits.numpy().astype(np.float32))
    model.to(dtype).save_pretrained(d, safe_serialization=True)
    for extra in ("generation_config.json",):
        if os.path.exists(os.path.join(d, extra)):
            os.remove(os.path.join(d, extra))
    cpath = os.path.join(d, "config.json")
    with open(cpath) as f:
        cj = json.load(f)
    cj.pop("transformers_version", None)
    if rewrite:
        cj = rewrite(cj)
    with open(cpath, "w") as f:
        json.dump(cj, f, indent=2, sort_keys=True)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(d, x)) for x in os.listdir(d))
    print(f"{name}: {size / 1024:.0f} KiB")


def main():
    torch.set_num_threads(1)
    names = sys.argv[1:] or list(MODELS)
    for n in names:
        make(n)


if __name__ == "__main__":
    main()
