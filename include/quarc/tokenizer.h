/*
 * quarc/tokenizer.h — text to token ids and back.
 *
 * Three tokenizer families, with token ids identical to Hugging Face `tokenizers`:
 *   - byte-level BPE (GPT-2, Llama 3, Qwen, SmolLM2) from tokenizer.json or GGUF
 *     ("gpt2" model with its pre-tokenizer name);
 *   - SentencePiece-style BPE (Llama 2, Mistral): from tokenizer.json (BPE with
 *     byte fallback and Metaspace/Prepend+Replace normalization) or from GGUF
 *     ("llama" model: merges by score);
 *   - WordPiece (BERT) from tokenizer.json.
 *
 *     qc_tokenizer *tok;
 *     QC_RETURN_IF_ERROR(qc_tokenizer_load("model_dir/tokenizer.json", &tok));
 *     int32_t *ids; size_t n;
 *     QC_RETURN_IF_ERROR(qc_tokenizer_encode(tok, text, strlen(text), false, &ids, &n));
 *     ...
 *     free(ids);
 *     qc_tokenizer_free(tok);
 */
#ifndef QUARC_TOKENIZER_H
#define QUARC_TOKENIZER_H

#include "quarc/status.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qc_tokenizer qc_tokenizer;

/** Load a Hugging Face tokenizer.json (a path to the file or to a directory holding it). */
qc_status qc_tokenizer_load(const char *path, qc_tokenizer **out) QC_MUST_USE;
/** Parse tokenizer.json text; `name` is used in messages. */
qc_status qc_tokenizer_from_json(const char *json, size_t len, const char *name,
                                 qc_tokenizer **out) QC_MUST_USE;

/** A vocabulary as GGUF stores it (tokenizer.ggml.*). */
typedef struct qc_tokenizer_vocab {
  const char *model;             /**< "gpt2" (byte-level BPE), "llama" (SentencePiece), "bert" */
  const char *pre;               /**< tokenizer.ggml.pre ("smollm", "llama-bpe", "qwen2", ...) */
  int32_t n_tokens;
  const char *const *tokens;
  const float *scores;           /**< may be NULL */
  const int32_t *token_types;    /**< 1 normal, 2 unknown, 3 control, 4 user defined, 6 byte */
  int32_t n_merges;
  const char *const *merges;     /**< "a b" */
  int32_t bos, eos, unk, pad;    /**< -1 if absent */
  bool add_bos, add_eos, add_space_prefix;
} qc_tokenizer_vocab;

qc_status qc_tokenizer_from_vocab(const qc_tokenizer_vocab *v, qc_tokenizer **out) QC_MUST_USE;
void qc_tokenizer_free(qc_tokenizer *t);

/** Encode UTF-8 text. add_special: the post-processor's special tokens ([CLS] ... [SEP],
 *  BOS). *ids is malloc'd. */
qc_status qc_tokenizer_encode(const qc_tokenizer *t, const char *text, size_t len,
                              bool add_special, int32_t **ids, size_t *n) QC_MUST_USE;
/** Decode ids to UTF-8 text (malloc'd, NUL-terminated). */
qc_status qc_tokenizer_decode(const qc_tokenizer *t, const int32_t *ids, size_t n,
                              bool skip_special, char **text, size_t *len) QC_MUST_USE;

int32_t qc_tokenizer_vocab_size(const qc_tokenizer *t);
/** The token string of id (NULL if out of range). */
const char *qc_tokenizer_token(const qc_tokenizer *t, int32_t id);
/** id of a token string, -1 if absent. */
int32_t qc_tokenizer_find(const qc_tokenizer *t, const char *token);
int32_t qc_tokenizer_bos(const qc_tokenizer *t);
int32_t qc_tokenizer_eos(const qc_tokenizer *t);
int32_t qc_tokenizer_pad(const qc_tokenizer *t);

#ifdef __cplusplus
}
#endif
#endif
