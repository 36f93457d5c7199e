/* Hugging Face config.json -> qc_model_config. */
#include "quarc/models.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static const cJSON *get(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

/* First present numeric key among a list of synonyms. */
static bool num(const cJSON *o, double *out, const char *k1, const char *k2) {
  const cJSON *v = get(o, k1);
  if (!cJSON_IsNumber(v) && k2) v = get(o, k2);
  if (!cJSON_IsNumber(v)) return false;
  *out = v->valuedouble;
  return true;
}

static qc_status need_int(const cJSON *o, const char *name, int64_t *out, const char *k1,
                          const char *k2) {
  double d;
  if (!num(o, &d, k1, k2))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: missing numeric key '%s'", name, k1);
  if (d < 0 || d != floor(d) || d > 1e12)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key '%s' must be a non-negative integer",
                         name, k1);
  *out = (int64_t)d;
  return QC_OK;
}

static bool flag(const cJSON *o, const char *k, bool dflt) {
  const cJSON *v = get(o, k);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static qc_status parse_act(const cJSON *o, const char *name, const char *key, qc_act dflt,
                           qc_act *out) {
  const cJSON *v = get(o, key);
  if (!v || cJSON_IsNull(v)) {
    *out = dflt;
    return QC_OK;
  }
  const char *s = cJSON_IsString(v) ? v->valuestring : "";
  if (!strcmp(s, "silu") || !strcmp(s, "swish")) *out = QC_ACT_SILU;
  else if (!strcmp(s, "gelu")) *out = QC_ACT_GELU;
  else if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_fast"))
    *out = QC_ACT_GELU_TANH;
  else if (!strcmp(s, "relu")) *out = QC_ACT_RELU;
  else
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: %s '%s' is not supported", name, key, s);
  return QC_OK;
}

/* RoPE in both config.json forms: the older one (rope_theta and rope_scaling at top level,
 * as Llama 3.x, SmolLM2 and Qwen2.5 ship) and transformers 5's rope_parameters object,
 * which holds both. */
static qc_status parse_rope(const cJSON *o, const char *name, qc_model_config *c) {
  const cJSON *rp = get(o, "rope_parameters");
  if (!cJSON_IsObject(rp)) rp = NULL;
  if (rp && !get(rp, "rope_theta") && !get(rp, "rope_type"))
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: rope_parameters per layer type are not supported (key "
                         "'rope_parameters' has no 'rope_theta' or 'rope_type')",
                         name);
  c->rope_theta = 10000.0;
  if (!num(o, &c->rope_theta, "rope_theta", NULL) && rp) num(rp, &c->rope_theta, "rope_theta", NULL);
  /* partial_rotary_factor is not read: transformers' Llama, Mistral and Qwen2/3 rotary
   * embeddings rotate the whole head_dim whatever it says (checked with transformers 5). */
  c->partial_rotary_factor = 1.0;
  if (!(c->rope_theta > 0))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: rope_theta (%g) must be positive", name,
                         c->rope_theta);
  const cJSON *rs = get(o, "rope_scaling");
  if (!cJSON_IsObject(rs)) rs = rp;
  if (!rs) return QC_OK;
  const cJSON *rt = get(rs, "rope_type");
  if (!cJSON_IsString(rt)) rt = get(rs, "type");
  const char *rts = cJSON_IsString(rt) ? rt->valuestring : "default";
  if (!strcmp(rts, "default")) return QC_OK;
  if (strcmp(rts, "llama3") && strcmp(rts, "linear"))
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: rope type '%s' is not supported (known: "
                         "default, linear, llama3)", name, rts);
  snprintf(c->rope_type, sizeof c->rope_type, "%s", rts);
  c->rope_factor = 1.0;
  num(rs, &c->rope_factor, "factor", NULL);
  c->rope_low_freq_factor = 1.0;
  num(rs, &c->rope_low_freq_factor, "low_freq_factor", NULL);
  c->rope_high_freq_factor = 4.0;
  num(rs, &c->rope_high_freq_factor, "high_freq_factor", NULL);
  double om = 8192;
  num(rs, &om, "original_max_position_embeddings", NULL);
  c->rope_original_max_positions = (int64_t)om;
  if (!(c->rope_factor > 0) ||
      (!strcmp(rts, "llama3") && !(c->rope_high_freq_factor > c->rope_low_freq_factor && om > 0)))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: rope scaling '%s' needs factor > 0 and, for llama3, "
                         "high_freq_factor > low_freq_factor and original_max_position_embeddings > 0",
                         name, rts);
  return QC_OK;
}

/* Sliding-window attention. Mistral: sliding_window (null: off) applies to every layer.
 * Qwen2/Qwen3: only with use_sliding_window, from layer max_window_layers on; transformers 5
 * also writes the choice per layer (layer_types), which must then be full-attention layers
 * followed by sliding ones. */
static qc_status parse_sliding_window(const cJSON *o, const char *name, const char *t,
                                      qc_model_config *c) {
  double w;
  if (!num(o, &w, "sliding_window", NULL) || w <= 0) return QC_OK;
  bool mistral = !strcmp(t, "mistral");
  if (!mistral && (strcmp(t, "qwen2") && strcmp(t, "qwen3"))) return QC_OK;
  if (!mistral && !flag(o, "use_sliding_window", false)) return QC_OK;
  double first = 0;
  if (!mistral) {
    first = 28; /* Qwen2Config / Qwen3Config default */
    num(o, &first, "max_window_layers", NULL);
  }
  const cJSON *lt = get(o, "layer_types");
  if (cJSON_IsArray(lt)) {
    int64_t n = cJSON_GetArraySize(lt), f = n;
    for (int64_t i = 0; i < n; i++) {
      const cJSON *e = cJSON_GetArrayItem(lt, (int)i);
      const char *v = cJSON_IsString(e) ? e->valuestring : "";
      bool sliding = !strcmp(v, "sliding_attention");
      if (!sliding && strcmp(v, "full_attention"))
        return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: layer_types[%lld] '%s' is not supported",
                             name, (long long)i, v);
      if (sliding && f == n) f = i;
      if (!sliding && f < n)
        return qc_status_new(QC_CODE_UNIMPLEMENTED,
                             "%s: layer_types: a full-attention layer (%lld) after a sliding one "
                             "is not supported",
                             name, (long long)i);
    }
    first = (double)f;
  }
  if (first >= (double)c->num_layers) return QC_OK;
  c->sliding_window = (int64_t)w;
  c->sliding_window_first_layer = (int64_t)first;
  return QC_OK;
}

qc_status qc_model_config_parse(const char *json, size_t len, const char *name,
                                qc_model_config *c) {
  memset(c, 0, sizeof *c);
  cJSON *o = cJSON_ParseWithLength(json, len);
  if (!o) return qc_status_new(QC_CODE_PARSE, "%s: not valid JSON", name);
  qc_status s = QC_OK;
  const cJSON *mt = get(o, "model_type");
  if (!cJSON_IsString(mt)) {
    s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: missing string key 'model_type'", name);
    goto done;
  }
  snprintf(c->model_type, sizeof c->model_type, "%s", mt->valuestring);
  const char *t = mt->valuestring;
  c->partial_rotary_factor = 1.0;
  c->tie_word_embeddings = flag(o, "tie_word_embeddings", true);
  if (!strcmp(t, "llama") || !strcmp(t, "mistral") || !strcmp(t, "qwen2") || !strcmp(t, "qwen3")) {
    c->arch = QC_ARCH_LLAMA;
    if ((s = need_int(o, name, &c->vocab_size, "vocab_size", NULL)) ||
        (s = need_int(o, name, &c->hidden_size, "hidden_size", NULL)) ||
        (s = need_int(o, name, &c->num_layers, "num_hidden_layers", NULL)) ||
        (s = need_int(o, name, &c->num_heads, "num_attention_heads", NULL)) ||
        (s = need_int(o, name, &c->intermediate_size, "intermediate_size", NULL)))
      goto done;
    c->num_kv_heads = c->num_heads;
    double d;
    if (num(o, &d, "num_key_value_heads", NULL) && d > 0) c->num_kv_heads = (int64_t)d;
    c->head_dim = c->num_heads ? c->hidden_size / c->num_heads : 0;
    if (num(o, &d, "head_dim", NULL) && d > 0) c->head_dim = (int64_t)d;
    c->max_positions = 2048;
    if (num(o, &d, "max_position_embeddings", NULL)) c->max_positions = (int64_t)d;
    c->norm_eps = 1e-6;
    num(o, &c->norm_eps, "rms_norm_eps", NULL);
    if ((s = parse_rope(o, name, c))) goto done;
    c->attention_bias = flag(o, "attention_bias", !strcmp(t, "qwen2"));
    c->mlp_bias = flag(o, "mlp_bias", false);
    c->qk_norm = !strcmp(t, "qwen3");
    /* every family of this builder defaults to separate lm_head weights (LlamaConfig,
     * MistralConfig, Qwen2Config, Qwen3Config: tie_word_embeddings=False) */
    c->tie_word_embeddings = flag(o, "tie_word_embeddings", false);
    if ((s = parse_act(o, name, "hidden_act", QC_ACT_SILU, &c->act))) goto done;
    if ((s = parse_sliding_window(o, name, t, c))) goto done;
  } else if (!strcmp(t, "gpt2")) {
    c->arch = QC_ARCH_GPT2;
    if ((s = need_int(o, name, &c->vocab_size, "vocab_size", NULL)) ||
        (s = need_int(o, name, &c->hidden_size, "n_embd", "hidden_size")) ||
        (s = need_int(o, name, &c->num_layers, "n_layer", "num_hidden_layers")) ||
        (s = need_int(o, name, &c->num_heads, "n_head", "num_attention_heads")) ||
        (s = need_int(o, name, &c->max_positions, "n_positions", "max_position_embeddings")))
      goto done;
    c->num_kv_heads = c->num_heads;
    c->head_dim = c->hidden_size / (c->num_heads ? c->num_heads : 1);
    double d;
    c->intermediate_size = 4 * c->hidden_size;
    if (num(o, &d, "n_inner", NULL) && d > 0) c->intermediate_size = (int64_t)d;
    c->norm_eps = 1e-5;
    num(o, &c->norm_eps, "layer_norm_epsilon", NULL);
    if ((s = parse_act(o, name, "activation_function", QC_ACT_GELU_TANH, &c->act))) goto done;
    c->attention_bias = c->mlp_bias = true;
    /* GPT2Attention scales scores by head_dim^-0.5 unless scale_attn_weights is false, and
     * also by 1 / (layer + 1) with scale_attn_by_inverse_layer_idx */
    c->attn_unscaled = !flag(o, "scale_attn_weights", true);
    c->attn_scale_by_layer = flag(o, "scale_attn_by_inverse_layer_idx", false);
  } else if (!strcmp(t, "opt")) {
    c->arch = QC_ARCH_OPT;
    if ((s = need_int(o, name, &c->vocab_size, "vocab_size", NULL)) ||
        (s = need_int(o, name, &c->hidden_size, "hidden_size", NULL)) ||
        (s = need_int(o, name, &c->num_layers, "num_hidden_layers", NULL)) ||
        (s = need_int(o, name, &c->num_heads, "num_attention_heads", NULL)) ||
        (s = need_int(o, name, &c->intermediate_size, "ffn_dim", NULL)) ||
        (s = need_int(o, name, &c->max_positions, "max_position_embeddings", NULL)))
      goto done;
    c->num_kv_heads = c->num_heads;
    c->head_dim = c->hidden_size / (c->num_heads ? c->num_heads : 1);
    c->norm_eps = 1e-5;
    c->do_layer_norm_before = flag(o, "do_layer_norm_before", true);
    c->word_embed_proj_dim = c->hidden_size;
    double d;
    if (num(o, &d, "word_embed_proj_dim", NULL) && d > 0) c->word_embed_proj_dim = (int64_t)d;
    c->attention_bias = c->mlp_bias = flag(o, "enable_bias", true);
    if ((s = parse_act(o, name, "activation_function", QC_ACT_RELU, &c->act))) goto done;
  } else if (!strcmp(t, "bert")) {
    c->arch = QC_ARCH_BERT;
    if ((s = need_int(o, name, &c->vocab_size, "vocab_size", NULL)) ||
        (s = need_int(o, name, &c->hidden_size, "hidden_size", NULL)) ||
        (s = need_int(o, name, &c->num_layers, "num_hidden_layers", NULL)) ||
        (s = need_int(o, name, &c->num_heads, "num_attention_heads", NULL)) ||
        (s = need_int(o, name, &c->intermediate_size, "intermediate_size", NULL)) ||
        (s = need_int(o, name, &c->max_positions, "max_position_embeddings", NULL)))
      goto done;
    c->num_kv_heads = c->num_heads;
    c->head_dim = c->hidden_size / (c->num_heads ? c->num_heads : 1);
    c->norm_eps = 1e-12;
    num(o, &c->norm_eps, "layer_norm_eps", NULL);
    c->type_vocab_size = 2;
    double d;
    if (num(o, &d, "type_vocab_size", NULL)) c->type_vocab_size = (int64_t)d;
    c->attention_bias = c->mlp_bias = true;
    c->mean_pooling = true;
    const cJSON *pet = get(o, "position_embedding_type");
    if (cJSON_IsString(pet) && strcmp(pet->valuestring, "absolute")) {
      s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: position_embedding_type '%s' is not supported",
                        name, pet->valuestring);
      goto done;
    }
    if ((s = parse_act(o, name, "hidden_act", QC_ACT_GELU, &c->act))) goto done;
  } else {
    s = qc_status_new(QC_CODE_UNIMPLEMENTED,
                      "%s: model_type '%s' is not supported (known: llama, mistral, qwen2, qwen3, "
                      "gpt2, opt, bert)",
                      name, t);
    goto done;
  }
  /* only the Llama family may give head_dim apart from hidden_size / heads */
  if (c->num_heads <= 0 || c->num_kv_heads <= 0 || c->num_heads % c->num_kv_heads ||
      c->head_dim <= 0 || (c->arch != QC_ARCH_LLAMA && c->head_dim * c->num_heads != c->hidden_size))
    s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                      "%s: inconsistent attention shape (heads %lld, kv heads %lld, head_dim %lld)",
                      name, (long long)c->num_heads, (long long)c->num_kv_heads,
                      (long long)c->head_dim);
done:
  cJSON_Delete(o);
  return s;
}
