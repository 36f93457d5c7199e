/*
 * GGUF models: llama-family metadata -> qc_model_config, llama.cpp tensor names -> Hugging
 * Face names, and the same graph builder as Hugging Face directories (qc_model_build).
 *
 * Metadata (formats.md §4.4), ARCH = general.architecture ("llama"; "qwen2" and "qwen3"
 * share the tensor names):
 *   required  ARCH.context_length, .embedding_length, .block_count, .feed_forward_length,
 *             .attention.head_count, .attention.layer_norm_rms_epsilon
 *   optional  .attention.head_count_kv (= head_count), .attention.key_length (= embedding /
 *             heads), .rope.dimension_count (= head_dim), .rope.freq_base (10000),
 *             .rope.scaling.type ("none", "linear" with .rope.scaling.factor)
 * The vocabulary size is token_embd's row count; the output head is tied to token_embd when
 * output.weight is absent.
 *
 * Tensors (ne innermost first, so ne = [in, out] is an [out, in] row-major matrix, each row
 * a run of whole quantization blocks):
 *   token_embd -> model.embed_tokens     output_norm -> model.norm    output -> lm_head
 *   blk.N.attn_norm -> model.layers.N.input_layernorm
 *   blk.N.attn_{q,k,v,output} -> model.layers.N.self_attn.{q,k,v,o}_proj
 *   blk.N.attn_{q,k}_norm -> model.layers.N.self_attn.{q,k}_norm
 *   blk.N.ffn_norm -> model.layers.N.post_attention_layernorm
 *   blk.N.ffn_{gate,up,down} -> model.layers.N.mlp.{gate,up,down}_proj
 *
 * llama.cpp's converter permutes the rows of llama's q_proj and k_proj (and their biases)
 * from Hugging Face's rotate-half layout to ggml's interleaved RoPE; the weight source
 * undoes it. The permutation moves whole rows, so a block-quantized tensor is un-permuted by
 * copying row bytes, without dequantizing. Every other tensor stays a view of the mapped
 * file; block-quantized ones reach the graph as packed constants (the builder dequantizes
 * them with quarc.DequantizePacked).
 */
#include "quarc/gguf.h"
#include "quarc/io.h"
#include "quarc/models.h"

#include "ir/internal.h"
#include "quarc/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- names ------------------------------------------------------------------------------------ */

static const struct {
  const char *hf, *gguf;
} LAYER_NAMES[] = {
    {"input_layernorm", "attn_norm"},
    {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},
    {"self_attn.q_norm", "attn_q_norm"},
    {"self_attn.k_norm", "attn_k_norm"},
    {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate_proj", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};

static const struct {
  const char *hf, *gguf;
} TOP_NAMES[] = {
    {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"},
    {"lm_head", "output"},
};

bool qc_gguf_tensor_name(const char *hf, char *buf, size_t n) {
  const char *dot = strrchr(hf, '.');
  if (!dot || (strcmp(dot, ".weight") && strcmp(dot, ".bias"))) return false;
  size_t mod_len = (size_t)(dot - hf);
  for (size_t i = 0; i < sizeof TOP_NAMES / sizeof TOP_NAMES[0]; i++)
    if (strlen(TOP_NAMES[i].hf) == mod_len && !strncmp(hf, TOP_NAMES[i].hf, mod_len))
      return (size_t)snprintf(buf, n, "%s%s", TOP_NAMES[i].gguf, dot) < n;
  static const char pfx[] = "model.layers.";
  if (strncmp(hf, pfx, sizeof pfx - 1)) return false;
  const char *p = hf + sizeof pfx - 1;
  char *end;
  unsigned long layer = strtoul(p, &end, 10);
  if (end == p || *end != '.' || (*p == '0' && end - p > 1)) return false;
  const char *sub = end + 1;
  size_t sub_len = (size_t)(dot - sub);
  for (size_t i = 0; i < sizeof LAYER_NAMES / sizeof LAYER_NAMES[0]; i++)
    if (strlen(LAYER_NAMES[i].hf) == sub_len && !strncmp(sub, LAYER_NAMES[i].hf, sub_len))
      return (size_t)snprintf(buf, n, "blk.%lu.%s%s", layer, LAYER_NAMES[i].gguf, dot) < n;
  return false;
}

/* ---- the Q/K row permutation -------------------------------------------------------------------- */

qc_status qc_llama_qk_permute(const qc_tensor *w, int64_t n_head, bool to_gguf, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  if (w->rank < 1 || w->rank > 2)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "the Q/K permutation takes a 1-D or 2-D tensor, "
                                                   "not rank %d", w->rank);
  int64_t rows = w->dims[0];
  if (n_head <= 0 || rows % n_head || (rows / n_head) % 2)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "the Q/K permutation needs rows (%lld) split into %lld heads of an even "
                         "size",
                         (long long)rows, (long long)n_head);
  size_t nbytes = qc_tensor_nbytes(w);
  size_t row_bytes = rows ? nbytes / (size_t)rows : 0;
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, w->dtype, w->rank, w->dims));
  const uint8_t *src = qc_tensor_data(w);
  uint8_t *dst = qc_tensor_data(out);
  int64_t d = rows / n_head, half = d / 2;
  /* HF row h*d + j*half + i  <->  ggml row h*d + 2*i + j */
  for (int64_t h = 0; h < n_head; h++)
    for (int64_t j = 0; j < 2; j++)
      for (int64_t i = 0; i < half; i++) {
        int64_t hf = h * d + j * half + i, gg = h * d + 2 * i + j;
        int64_t from = to_gguf ? hf : gg, to = to_gguf ? gg : hf;
        memcpy(dst + (size_t)to * row_bytes, src + (size_t)from * row_bytes, row_bytes);
      }
  return QC_OK;
}

/* ---- config --------------------------------------------------------------------------------- */

typedef struct arch_info {
  const char *name;
  bool permute_qk; /* llama.cpp's converter permutes q/k (LlamaModel) */
  bool qk_norm;
  bool attention_bias;
} arch_info;

static const arch_info ARCHS[] = {
    {"llama", true, false, false},
    {"qwen2", false, false, true},
    {"qwen3", false, true, false},
};

static const arch_info *find_arch(const char *name) {
  for (size_t i = 0; i < sizeof ARCHS / sizeof ARCHS[0]; i++)
    if (!strcmp(ARCHS[i].name, name)) return &ARCHS[i];
  return NULL;
}

static qc_status req_i64(const qc_gguf *f, const char *arch, const char *key, int64_t *out) {
  char k[256];
  snprintf(k, sizeof k, "%s.%s", arch, key);
  qc_status s = qc_gguf_get_i64(f, k, out);
  if (s) {
    if (qc_status_code(s) == QC_CODE_NOT_FOUND) {
      qc_status_free(s);
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: missing key '%s' (required for a %s model)",
                           qc_gguf_path(f), k, arch);
    }
    return s;
  }
  if (*out <= 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key '%s' must be positive, not %lld",
                         qc_gguf_path(f), k, (long long)*out);
  return QC_OK;
}

/* An optional positive integer: absent leaves *out alone. */
static qc_status opt_i64(const qc_gguf *f, const char *arch, const char *key, int64_t *out) {
  char k[256];
  snprintf(k, sizeof k, "%s.%s", arch, key);
  if (!qc_gguf_get(f, k)) return QC_OK;
  int64_t v;
  QC_RETURN_IF_ERROR(qc_gguf_get_i64(f, k, &v));
  if (v <= 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key '%s' must be positive, not %lld",
                         qc_gguf_path(f), k, (long long)v);
  *out = v;
  return QC_OK;
}

static qc_status opt_f64(const qc_gguf *f, const char *arch, const char *key, double *out) {
  char k[256];
  snprintf(k, sizeof k, "%s.%s", arch, key);
  if (!qc_gguf_get(f, k)) return QC_OK;
  return qc_gguf_get_f64(f, k, out);
}

qc_status qc_gguf_model_config(const qc_gguf *f, qc_model_config *c) {
  memset(c, 0, sizeof *c);
  const char *path = qc_gguf_path(f);
  const char *arch;
  qc_status s = qc_gguf_get_string(f, "general.architecture", &arch, NULL);
  if (s) {
    if (qc_status_code(s) != QC_CODE_NOT_FOUND) return s;
    qc_status_free(s);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: missing key 'general.architecture'", path);
  }
  const arch_info *ai = find_arch(arch);
  if (!ai)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: general.architecture '%s' is not supported (known: llama, qwen2, qwen3)",
                         path, arch);
  c->arch = QC_ARCH_LLAMA;
  snprintf(c->model_type, sizeof c->model_type, "%s", arch);
  QC_RETURN_IF_ERROR(req_i64(f, arch, "context_length", &c->max_positions));
  QC_RETURN_IF_ERROR(req_i64(f, arch, "embedding_length", &c->hidden_size));
  QC_RETURN_IF_ERROR(req_i64(f, arch, "block_count", &c->num_layers));
  QC_RETURN_IF_ERROR(req_i64(f, arch, "feed_forward_length", &c->intermediate_size));
  QC_RETURN_IF_ERROR(req_i64(f, arch, "attention.head_count", &c->num_heads));
  char k[256];
  snprintf(k, sizeof k, "%s.attention.layer_norm_rms_epsilon", arch);
  s = qc_gguf_get_f64(f, k, &c->norm_eps);
  if (s && qc_status_code(s) == QC_CODE_NOT_FOUND) {
    qc_status_free(s);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: missing key '%s' (required for a %s model)",
                         path, k, arch);
  }
  if (s) return s;
  c->num_kv_heads = c->num_heads;
  QC_RETURN_IF_ERROR(opt_i64(f, arch, "attention.head_count_kv", &c->num_kv_heads));
  c->head_dim = c->hidden_size / c->num_heads;
  QC_RETURN_IF_ERROR(opt_i64(f, arch, "attention.key_length", &c->head_dim));
  int64_t vlen = c->head_dim;
  QC_RETURN_IF_ERROR(opt_i64(f, arch, "attention.value_length", &vlen));
  if (vlen != c->head_dim)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: %s.attention.value_length %lld differs from the key length %lld",
                         path, arch, (long long)vlen, (long long)c->head_dim);
  int64_t rot = c->head_dim;
  QC_RETURN_IF_ERROR(opt_i64(f, arch, "rope.dimension_count", &rot));
  if (rot > c->head_dim || rot % 2)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: %s.rope.dimension_count %lld must be even and at most the head size "
                         "%lld",
                         path, arch, (long long)rot, (long long)c->head_dim);
  c->partial_rotary_factor = (double)rot / (double)c->head_dim;
  c->rope_theta = 10000.0;
  QC_RETURN_IF_ERROR(opt_f64(f, arch, "rope.freq_base", &c->rope_theta));
  snprintf(k, sizeof k, "%s.rope.scaling.type", arch);
  if (qc_gguf_get(f, k)) {
    const char *rt;
    QC_RETURN_IF_ERROR(qc_gguf_get_string(f, k, &rt, NULL));
    if (!strcmp(rt, "linear")) {
      snprintf(c->rope_type, sizeof c->rope_type, "linear");
      c->rope_factor = 1.0;
      QC_RETURN_IF_ERROR(opt_f64(f, arch, "rope.scaling.factor", &c->rope_factor));
      if (!(c->rope_factor > 0))
        return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: %s.rope.scaling.factor must be positive",
                             path, arch);
    } else if (strcmp(rt, "none")) {
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: %s '%s' is not supported (known: none, linear)",
                           path, k, rt);
    }
  }
  if (qc_gguf_find_tensor(f, "rope_freqs.weight") >= 0)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: tensor 'rope_freqs.weight' (per-frequency RoPE factors, Llama 3.1 "
                         "scaling) is not supported",
                         path);
  /* The vocabulary is token_embd's row count (ne[1]). */
  int64_t te = qc_gguf_find_tensor(f, "token_embd.weight");
  if (te < 0) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: no tensor 'token_embd.weight'", path);
  const qc_gguf_tensor_info *ti = qc_gguf_tensor_info_at(f, te);
  if (ti->n_dims != 2)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: tensor 'token_embd.weight' has %d dimensions, expected 2", path,
                         ti->n_dims);
  c->vocab_size = ti->ne[1];
  int64_t vs = c->vocab_size;
  QC_RETURN_IF_ERROR(opt_i64(f, arch, "vocab_size", &vs));
  if (vs != c->vocab_size)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: %s.vocab_size is %lld but tensor 'token_embd.weight' has %lld rows",
                         path, arch, (long long)vs, (long long)c->vocab_size);
  c->tie_word_embeddings = qc_gguf_find_tensor(f, "output.weight") < 0;
  c->qk_norm = ai->qk_norm;
  c->attention_bias = ai->attention_bias || qc_gguf_find_tensor(f, "blk.0.attn_q.bias") >= 0;
  c->mlp_bias = qc_gguf_find_tensor(f, "blk.0.ffn_up.bias") >= 0;
  c->act = QC_ACT_SILU;
  if (c->num_kv_heads > c->num_heads || c->num_heads % c->num_kv_heads)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: %s.attention.head_count %lld is not a multiple of head_count_kv %lld",
                         path, arch, (long long)c->num_heads, (long long)c->num_kv_heads);
  return QC_OK;
}

/* ---- weights --------------------------------------------------------------------------------- */

typedef struct gguf_src {
  const qc_gguf *f;
  const qc_model_config *c;
  bool permute_qk;
} gguf_src;

/* The [out, in] (or [n]) shape a Hugging Face weight must have; false for unknown names. */
static bool expected_shape(const qc_model_config *c, const char *hf, int32_t *rank, int64_t *d) {
  int64_t h = c->hidden_size, q = c->num_heads * c->head_dim, kv = c->num_kv_heads * c->head_dim;
  int64_t ff = c->intermediate_size;
  bool bias = strlen(hf) > 5 && !strcmp(hf + strlen(hf) - 5, ".bias");
  int64_t o = -1, i = -1;
  if (!strcmp(hf, "model.embed_tokens.weight") || !strcmp(hf, "lm_head.weight")) o = c->vocab_size, i = h;
  else if (!strcmp(hf, "model.norm.weight") || strstr(hf, "layernorm.weight")) o = h;
  else if (strstr(hf, "_norm.weight")) o = c->head_dim;
  else if (strstr(hf, ".q_proj.")) o = q, i = h;
  else if (strstr(hf, ".k_proj.") || strstr(hf, ".v_proj.")) o = kv, i = h;
  else if (strstr(hf, ".o_proj.")) o = h, i = q;
  else if (strstr(hf, ".gate_proj.") || strstr(hf, ".up_proj.")) o = ff, i = h;
  else if (strstr(hf, ".down_proj.")) o = h, i = ff;
  else return false;
  d[0] = o;
  d[1] = i;
  *rank = i < 0 || bias ? 1 : 2;
  return true;
}

static void shape_str(int32_t rank, const int64_t *d, char *buf, size_t n) {
  int o = snprintf(buf, n, "[");
  for (int32_t i = 0; i < rank && (size_t)o < n; i++)
    o += snprintf(buf + o, n - (size_t)o, "%s%lld", i ? ", " : "", (long long)d[i]);
  if ((size_t)o < n) snprintf(buf + o, n - (size_t)o, "]");
}

static qc_status gguf_get(void *ctx, const char *hf, qc_tensor *out) {
  gguf_src *src = ctx;
  const char *path = qc_gguf_path(src->f);
  char gname[256];
  if (!qc_gguf_tensor_name(hf, gname, sizeof gname))
    return qc_status_new(QC_CODE_NOT_FOUND, "%s: no GGUF tensor for weight '%s'", path, hf);
  int64_t idx = qc_gguf_find_tensor(src->f, gname);
  if (idx < 0)
    return qc_status_new(QC_CODE_NOT_FOUND, "%s: no tensor '%s' (weight '%s')", path, gname, hf);
  qc_tensor t;
  QC_RETURN_IF_ERROR(qc_gguf_tensor(src->f, idx, &t));
  int32_t rank;
  int64_t want[2];
  if (expected_shape(src->c, hf, &rank, want)) {
    bool same = t.rank == rank;
    for (int32_t i = 0; same && i < rank; i++) same = t.dims[i] == want[i];
    if (!same) {
      char got_s[96], want_s[96];
      shape_str(t.rank, t.dims, got_s, sizeof got_s);
      shape_str(rank, want, want_s, sizeof want_s);
      qc_tensor_release(&t);
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "%s: tensor '%s' is %s (rows x columns; ggml ne reversed), expected %s "
                           "for '%s' from the metadata",
                           path, gname, got_s, want_s, hf);
    }
  }
  bool is_q = strstr(hf, ".self_attn.q_proj.") != NULL, is_k = strstr(hf, ".self_attn.k_proj.") != NULL;
  if (src->permute_qk && (is_q || is_k)) {
    qc_tensor u;
    qc_status s = qc_llama_qk_permute(&t, is_q ? src->c->num_heads : src->c->num_kv_heads, false, &u);
    qc_tensor_release(&t);
    if (s) return qc_status_wrap(s, "%s: tensor '%s'", path, gname);
    t = u;
  }
  *out = t;
  return QC_OK;
}

qc_status qc_gguf_load(const char *path, const qc_build_options *opts, qc_graph **out) {
  *out = NULL;
  qc_gguf *f;
  QC_RETURN_IF_ERROR(qc_gguf_open(path, &f));
  qc_model_config cfg;
  qc_status s = qc_gguf_model_config(f, &cfg);
  if (!s) {
    const char *arch = cfg.model_type;
    gguf_src src = {f, &cfg, find_arch(arch)->permute_qk};
    qc_weight_source ws = {gguf_get, &src};
    s = qc_model_build(&cfg, &ws, opts, out);
    if (s) s = qc_status_wrap(s, "%s", path);
  }
  qc_gguf_close(f); /* the graph's constants keep the mapping alive */
  if (!s) s = qc_graph_set_meta(*out, "quarc.source", path);
  if (!s) s = qc_graph_set_meta(*out, "quarc.model_type", cfg.model_type);
  if (s && *out) {
    qc_graph_destroy(*out);
    *out = NULL;
  }
  return s;
}

/* ---- tokenizer ------------------------------------------------------------------------------ */

static qc_status opt_token_id(const qc_gguf *f, const char *key, int32_t n_tokens, int32_t *out) {
  *out = -1;
  if (!qc_gguf_get(f, key)) return QC_OK;
  int64_t v;
  QC_RETURN_IF_ERROR(qc_gguf_get_i64(f, key, &v));
  if (v < 0 || v >= n_tokens)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key '%s' is %lld, outside the %d tokens",
                         qc_gguf_path(f), key, (long long)v, n_tokens);
  *out = (int32_t)v;
  return QC_OK;
}

static qc_status opt_bool(const qc_gguf *f, const char *key, bool dflt, bool *out) {
  *out = dflt;
  if (!qc_gguf_get(f, key)) return QC_OK;
  return qc_gguf_get_bool(f, key, out);
}

qc_status qc_gguf_tokenizer(const qc_gguf *f, qc_tokenizer **out) {
  *out = NULL;
  const char *path = qc_gguf_path(f);
  qc_tokenizer_vocab v;
  memset(&v, 0, sizeof v);
  qc_status s = qc_gguf_get_string(f, "tokenizer.ggml.model", &v.model, NULL);
  if (s) return qc_status_wrap(s, "%s: no embedded tokenizer", path);
  if (qc_gguf_get(f, "tokenizer.ggml.pre")) QC_RETURN_IF_ERROR(qc_gguf_get_string(f, "tokenizer.ggml.pre", &v.pre, NULL));
  const qc_gguf_value *toks;
  uint64_t n_tok;
  QC_RETURN_IF_ERROR(qc_gguf_get_strings(f, "tokenizer.ggml.tokens", &toks, &n_tok));
  if (n_tok == 0 || n_tok > INT32_MAX)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key 'tokenizer.ggml.tokens' holds %llu tokens",
                         path, (unsigned long long)n_tok);
  v.n_tokens = (int32_t)n_tok;
  const qc_gguf_value *merges = NULL;
  uint64_t n_merges = 0;
  if (qc_gguf_get(f, "tokenizer.ggml.merges"))
    QC_RETURN_IF_ERROR(qc_gguf_get_strings(f, "tokenizer.ggml.merges", &merges, &n_merges));
  if (n_merges > INT32_MAX)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key 'tokenizer.ggml.merges' is too long", path);
  const char **tokv = malloc(sizeof(char *) * (size_t)n_tok);
  const char **mv = malloc(sizeof(char *) * (size_t)(n_merges ? n_merges : 1));
  float *scores = NULL;
  int32_t *types = NULL;
  if (!tokv || !mv) {
    s = QC_OOM();
    goto done;
  }
  for (uint64_t i = 0; i < n_tok; i++) {
    if (strlen(toks[i].data) != toks[i].count) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key 'tokenizer.ggml.tokens': token %llu holds a NUL byte",
                        path, (unsigned long long)i);
      goto done;
    }
    tokv[i] = toks[i].data;
  }
  for (uint64_t i = 0; i < n_merges; i++) mv[i] = merges[i].data;
  v.tokens = tokv;
  v.merges = mv;
  v.n_merges = (int32_t)n_merges;
  if (qc_gguf_get(f, "tokenizer.ggml.scores")) {
    uint64_t n;
    scores = malloc(sizeof(float) * (size_t)n_tok);
    if (!scores) {
      s = QC_OOM();
      goto done;
    }
    s = qc_gguf_get_f32_array(f, "tokenizer.ggml.scores", scores, n_tok, &n);
    if (!s && n != n_tok)
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key 'tokenizer.ggml.scores' has %llu values for %llu tokens",
                        path, (unsigned long long)n, (unsigned long long)n_tok);
    if (s) goto done;
    v.scores = scores;
  }
  if (qc_gguf_get(f, "tokenizer.ggml.token_type")) {
    uint64_t n;
    int64_t *t64 = malloc(sizeof(int64_t) * (size_t)n_tok);
    types = malloc(sizeof(int32_t) * (size_t)n_tok);
    if (!t64 || !types) {
      free(t64);
      s = QC_OOM();
      goto done;
    }
    s = qc_gguf_get_i64_array(f, "tokenizer.ggml.token_type", t64, n_tok, &n);
    if (!s && n != n_tok)
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                        "%s: key 'tokenizer.ggml.token_type' has %llu values for %llu tokens", path,
                        (unsigned long long)n, (unsigned long long)n_tok);
    for (uint64_t i = 0; !s && i < n_tok; i++) types[i] = (int32_t)(t64[i] < 0 || t64[i] > 6 ? 1 : t64[i]);
    free(t64);
    if (s) goto done;
    v.token_types = types;
  }
  bool spm = !strcmp(v.model, "llama");
  if ((s = opt_token_id(f, "tokenizer.ggml.bos_token_id", v.n_tokens, &v.bos)) ||
      (s = opt_token_id(f, "tokenizer.ggml.eos_token_id", v.n_tokens, &v.eos)) ||
      (s = opt_token_id(f, "tokenizer.ggml.unknown_token_id", v.n_tokens, &v.unk)) ||
      (s = opt_token_id(f, "tokenizer.ggml.padding_token_id", v.n_tokens, &v.pad)) ||
      (s = opt_bool(f, "tokenizer.ggml.add_bos_token", spm, &v.add_bos)) ||
      (s = opt_bool(f, "tokenizer.ggml.add_eos_token", false, &v.add_eos)) ||
      (s = opt_bool(f, "tokenizer.ggml.add_space_prefix", spm, &v.add_space_prefix)))
    goto done;
  s = qc_tokenizer_from_vocab(&v, out);
  if (s) s = qc_status_wrap(s, "%s: embedded tokenizer", path);
done:
  free(tokv);
  free(mv);
  free(scores);
  free(types);
  return s;
}

/* ---- by path ----------------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

qc_status qc_model_tokenizer(const char *path, qc_tokenizer **out) {
  *out = NULL;
  if (is_dir(path) || ends_with(path, ".json")) return qc_tokenizer_load(path, out);
  if (ends_with(path, ".gguf")) {
    qc_gguf *f;
    QC_RETURN_IF_ERROR(qc_gguf_open(path, &f));
    qc_status s = qc_gguf_tokenizer(f, out);
    qc_gguf_close(f);
    return s;
  }
  return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                       "%s: carries no tokenizer (give a tokenizer.json, a model directory or a "
                       ".gguf file)",
                       path);
}

qc_status qc_model_open(const char *path, const qc_build_options *opts, qc_graph **out) {
  *out = NULL;
  if (is_dir(path)) return qc_hf_load(path, opts, out); /* quantized or not */
  if (ends_with(path, ".gguf")) return qc_gguf_load(path, opts, out);
  return qc_model_load(path, QC_FORMAT_AUTO, out);
}
