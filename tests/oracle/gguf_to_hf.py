#!/usr/bin/env python3
"""A llama-family GGUF model as a float Hugging Face directory, for the export benchmarks
(torch environment: torch, transformers, gguf; never in CI).

    /opt/torchvenv/bin/python tests/oracle/gguf_to_hf.py MODEL.gguf OUT_DIR [--dtype float32]

Every tensor is dequantized with gguf-py, renamed to its Hugging Face name, llama.cpp's Q/K
row permutation is undone (convert_hf_to_gguf.py's LlamaModel.permute, inverted), the
config comes from the llama.* metadata and the tokenizer from transformers' GGUF tokenizer
conversion; the result is saved with save_pretrained. SmolLM2-135M ships only as a Q4_1 GGUF
in the test models, so this float directory (its weights are exactly the Q4_1 values) is
the common starting point for quantizing with quarc and with Quark.
"""
import os
import re
import sys

import numpy as np
import torch

NAMES = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
LAYER = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
         "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
         "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def hf_name(name):
    base, suffix = name.rsplit(".", 1)
    if base in NAMES:
        return f"{NAMES[base]}.{suffix}"
    m = re.match(r"blk\.(\d+)\.(\w+)$", base)
    return f"model.layers.{m.group(1)}.{LAYER[m.group(2)]}.{suffix}"


def unpermute(w, n_head):
    # inverse of w.reshape(n_head, 2, rows // n_head // 2, *rest).swapaxes(1, 2).reshape(w.shape)
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def field(r, key):
    f = r.fields[key]
    v = f.parts[f.data[0]]
    return bytes(v).decode() if f.types[0].name == "STRING" else v.tolist()[0]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    src, out = args[0], args[1]
    dtype = torch.float32
    if "--dtype" in sys.argv:
        dtype = getattr(torch, sys.argv[sys.argv.index("--dtype") + 1])
    import gguf
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    r = gguf.GGUFReader(src)
    arch = field(r, "general.architecture")
    assert arch == "llama", arch
    n_head, n_kv = field(r, "llama.attention.head_count"), field(r, "llama.attention.head_count_kv")
    names = {t.name for t in r.tensors}
    cfg = LlamaConfig(vocab_size=field(r, "llama.vocab_size"), hidden_size=field(r, "llama.embedding_length"),
                      intermediate_size=field(r, "llama.feed_forward_length"),
                      num_hidden_layers=field(r, "llama.block_count"), num_attention_heads=n_head,
                      num_key_value_heads=n_kv, max_position_embeddings=field(r, "llama.context_length"),
                      rms_norm_eps=field(r, "llama.attention.layer_norm_rms_epsilon"),
                      rope_theta=field(r, "llama.rope.freq_base"),
                      tie_word_embeddings="output.weight" not in names,
                      bos_token_id=field(r, "tokenizer.ggml.bos_token_id"),
                      eos_token_id=field(r, "tokenizer.ggml.eos_token_id"),
                      pad_token_id=field(r, "tokenizer.ggml.padding_token_id"))
    sd = {}
    for t in r.tensors:
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        w = w.reshape([int(d) for d in reversed(t.shape)])
        if t.name.startswith("blk.") and (".attn_q." in t.name or ".attn_k." in t.name):
            w = unpermute(w, n_head if ".attn_q." in t.name else n_kv)
        sd[hf_name(t.name)] = torch.from_numpy(np.ascontiguousarray(w))
    model = LlamaForCausalLM(cfg)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert not unexpected and all(k == "lm_head.weight" for k in missing), (missing, unexpected)
    model.tie_weights()
    model = model.to(dtype)
    model.save_pretrained(out)
    d, f = os.path.dirname(os.path.abspath(src)), os.path.basename(src)
    AutoTokenizer.from_pretrained(d, gguf_file=f).save_pretrained(out)
    print(f"{src} -> {out}: {sum(p.numel() for p in model.parameters())} parameters, {dtype}")


if __name__ == "__main__":
    main()
