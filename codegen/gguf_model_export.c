/*
 * GGUF model export for llama.cpp (quarc/export.h, docs/export.md): llama-family graphs
 * (llama, mistral, smollm, qwen2, qwen3) as one .gguf file that ggml's reader and llama.cpp's
 * loader accept (the layout is codegen/gguf_writer.c's: version 3, tensors in order, 32-byte
 * alignment, offsets exactly sequential).
 *
 * Metadata: general.architecture, general.name, general.file_type (the llama_ftype of the
 * linears' type), general.quantization_version (2, as llama.cpp writes it),
 * <arch>.context_length, .embedding_length, .block_count, .feed_forward_length,
 * .rope.dimension_count, .rope.freq_base, .attention.head_count, .attention.head_count_kv,
 * .attention.layer_norm_rms_epsilon, .vocab_size (and .attention.key_length / value_length
 * when head_dim is not hidden/heads), then the tokenizer: copied from a GGUF source (the
 * graph's "quarc.source" or the source option naming a .gguf file: every key except
 * general.file_type, general.quantization_version and general.alignment, which are
 * recomputed) or converted from the source directory's tokenizer.json (byte-level BPE:
 * tokenizer.ggml.model "gpt2", tokens, token_type, merges, special token ids).
 *
 * Tensors, by Hugging Face name -> llama.cpp name (token_embd, output_norm, output,
 * blk.N.attn_norm / attn_q / attn_k / attn_v / attn_output / attn_q_norm / attn_k_norm /
 * ffn_norm / ffn_gate / ffn_up / ffn_down), in the order token_embd, each layer's tensors
 * sorted by Hugging Face name (as llama.cpp's converter writes them), output_norm, output
 * (left out when the head is tied to the embedding), dimensions reversed (ne[0] = in). The
 * order and types depend on names and values only, so export -> import -> export gives the
 * same bytes. llama's q/k rows (and biases) are permuted from Hugging Face's rotate-half
 * order to ggml's interleaved one (convert_hf_to_gguf.py LlamaModel.permute; qwen2/qwen3 use
 * NeoX RoPE and are not). Types:
 *   - 1-D tensors (norms, biases): F32;
 *   - a weight that is already a GGUF block constant behind DequantizePacked: its bytes;
 *   - a weight quantized in a way a GGUF type holds exactly, written without requantizing:
 *       uint4 asymmetric, groups of 32 along in  -> Q4_1 (d = scale, m = -zero_point * scale)
 *       int4 symmetric, groups of 32             -> Q4_0 (code + 8)
 *       int8 symmetric, groups of 32             -> Q8_0
 *       MXFP4 (fp4 + e8m0, groups of 32)         -> MXFP4 (same exponent byte, j/j+16 nibbles)
 *     (GGUF stores d and m as f16: the scales are rounded to f16, as Quark's GGUF export does);
 *   - any other quantized weight: dequantized, then requantized with ggml's reference
 *     quantizer to gguf_requant_type (each one is named in the report);
 *   - float weights: gguf_type (F16 by default; a block type quantizes them), token_embd and
 *     output gguf_embed_type if set;
 *   - a k-quant asked for rows that 256 does not divide: llama.cpp's fallback (Q4_K -> Q5_0,
 *     Q6_K -> Q8_0), named in the report.
 */
#include "codegen/export_internal.h"
#include "quarc/gguf.h"
#include "quarc/models.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct gx {
  const qc_graph *g;
  const qc_export_options *opt;
  qc_gguf_writer *w;
  qc_model_config mc;
  bool have_mc;
  qc_gguf *src; /* the source GGUF, if any */
  const char *arch;
  int64_t n_head, n_kv_head;
  qc_export_report *report;
  int64_t type_count[QC_DTYPE_COUNT];
  qc_arena ar;
} gx;

/* ---- tensors ------------------------------------------------------------------------------ */

/* A float tensor as f32. */
static qc_status to_f32(const qc_tensor *t, qc_tensor *out) {
  if (t->dtype == QC_F32) {
    qc_tensor_copy_ref(out, t);
    return QC_OK;
  }
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, QC_F32, t->rank, t->dims));
  int64_t n = qc_tensor_numel(t);
  if (qc_dtype_is_block(t->dtype)) qc_block_dequantize(t->dtype, qc_tensor_data(t), qc_tensor_data(out), (size_t)n);
  else qc_convert_to_f32(t->dtype, qc_tensor_data(t), qc_tensor_data(out), (size_t)n);
  return QC_OK;
}

/* f32 [rows, n] -> dtype (a float type or a block type). */
static qc_status from_f32(const qc_tensor *f, qc_dtype dt, qc_tensor *out) {
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, dt, f->rank, f->dims));
  int64_t n = qc_tensor_numel(f);
  if (!qc_convert_from_f32(qc_tensor_data(f), dt, qc_tensor_data(out), (size_t)n, 0)) {
    qc_tensor_release(out);
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "no quantizer for %s", qc_dtype_name(dt));
  }
  return QC_OK;
}

static bool all_zero(const qc_tensor *z) {
  if (!z) return true;
  int64_t n = qc_tensor_numel(z);
  for (int64_t i = 0; i < n; i++)
    if (qc_elem_i64(z->dtype, qc_tensor_data(z), (size_t)i) != 0) return false;
  return true;
}

/* A quantized linear's weight as a GGUF block tensor without requantizing, when its
 * quantization is one a GGUF type holds; false (no error) otherwise. */
static qc_status exact_block(const gx *x, const qx_linear *l, qc_tensor *out, bool *ok) {
  *ok = false;
  const qc_tensor *q = qx_const(x->g, l->w), *s = qx_const(x->g, l->w_scale), *z = qx_const(x->g, l->w_zp);
  if (l->wkind != QX_W_PACKED || q->rank != 2) return QC_OK;
  int64_t out_f = q->dims[0], in_f = q->dims[1];
  if (q->dtype == QC_MXFP4) { /* OCP blocks: same scale byte, nibbles re-paired j/j+16 */
    QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, QC_GGML_MXFP4, 2, q->dims));
    int64_t nb = out_f * in_f / 32;
    const uint8_t *sp = qc_tensor_data(q);
    uint8_t *dp = qc_tensor_data(out), codes[32];
    for (int64_t b = 0; b < nb; b++) {
      dp[b * 17] = sp[b * 17];
      qc_unpack_bits(sp + b * 17 + 1, 32, 4, codes);
      qc_pack_nibbles_j16(codes, dp + b * 17 + 1);
    }
    *ok = true;
    return QC_OK;
  }
  if (l->w_scale_node != QC_NONE || !s || l->axis != 1 || l->group != 32 || s->rank != 2 || in_f % 32) return QC_OK;
  qc_dtype bt = QC_DT_UNDEFINED;
  if (q->dtype == QC_U4 && z) bt = QC_Q4_1;
  else if (q->dtype == QC_I4 && all_zero(z)) bt = QC_Q4_0;
  else if (q->dtype == QC_I8 && all_zero(z)) bt = QC_Q8_0;
  else if (q->dtype == QC_F4E2M1 && s->dtype == QC_E8M0) bt = QC_GGML_MXFP4;
  if (bt == QC_DT_UNDEFINED) return QC_OK;
  const qc_dtype_traits *tr = qc_dtype_traits_of(bt);
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, bt, 2, q->dims));
  int64_t ng = in_f / 32;
  const void *qp = qc_tensor_data(q), *spp = qc_tensor_data(s), *zp = z ? qc_tensor_data(z) : NULL;
  uint8_t *dp = qc_tensor_data(out), codes[32];
  for (int64_t r = 0; r < out_f; r++)
    for (int64_t gi = 0; gi < ng; gi++) {
      uint8_t *blk = dp + (size_t)(r * ng + gi) * tr->block_bytes;
      size_t si = (size_t)(r * ng + gi);
      double sc = qc_elem_f64(s->dtype, spp, si);
      for (int j = 0; j < 32; j++) codes[j] = (uint8_t)qc_elem_code(q->dtype, qp, (size_t)(r * in_f + gi * 32 + j));
      uint16_t h;
      switch (bt) {
      case QC_Q4_1: {
        h = qc_f32_to_f16((float)sc);
        memcpy(blk, &h, 2);
        h = qc_f32_to_f16((float)(-(double)qc_elem_i64(z->dtype, zp, si) * sc));
        memcpy(blk + 2, &h, 2);
        qc_pack_nibbles_j16(codes, blk + 4);
        break;
      }
      case QC_Q4_0:
        h = qc_f32_to_f16((float)sc);
        memcpy(blk, &h, 2);
        for (int j = 0; j < 32; j++) codes[j] = (uint8_t)((codes[j] + 8) & 15); /* two's complement nibble + 8 */
        qc_pack_nibbles_j16(codes, blk + 2);
        break;
      case QC_Q8_0:
        h = qc_f32_to_f16((float)sc);
        memcpy(blk, &h, 2);
        memcpy(blk + 2, codes, 32);
        break;
      default: /* MXFP4 */
        blk[0] = (uint8_t)qc_elem_code(QC_E8M0, spp, si);
        qc_pack_nibbles_j16(codes, blk + 1);
        break;
      }
    }
  *ok = true;
  return QC_OK;
}

static bool is_embed_or_output(const char *hf) {
  return !strcmp(hf, "model.embed_tokens.weight") || !strcmp(hf, "lm_head.weight");
}

/* The type a tensor with rows of `row` elements is written in when `dt` is asked for: dt,
 * or, when a k-quant's 256-element super-blocks do not divide the rows, llama.cpp's fallback
 * (llama-quant.cpp: Q4_K -> Q5_0, Q6_K -> Q8_0), said in the report. SmolLM2-135M (hidden
 * 576) needs it for every linear that reads the hidden state. */
static qc_dtype row_type(const gx *x, const char *name, qc_dtype dt, int64_t row) {
  const qc_dtype_traits *tr = qc_dtype_traits_of(dt);
  if (tr->block_elems <= 1 || row % tr->block_elems == 0) return dt;
  qc_dtype fb = dt == QC_Q4_K ? QC_Q5_0 : dt == QC_Q6_K ? QC_Q8_0 : dt;
  if (fb != dt)
    qx_note(x->report, "%s: rows of %lld are not a multiple of %s's %d: written as %s, as llama.cpp does",
            name, (long long)row, tr->name, tr->block_elems, qc_dtype_traits_of(fb)->name);
  return fb;
}

/* Add one tensor (HF name, its value in the graph) to the file. */
static qc_status add_tensor(gx *x, const char *hf, const qc_tensor *t, const qx_linear *l) {
  char name[128];
  if (!qc_gguf_tensor_name(hf, name, sizeof name))
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "tensor '%s' has no llama.cpp name", hf);
  qc_tensor o = {0}, f = {0}, p = {0};
  qc_status s = QC_OK;
  const qc_export_options *opt = x->opt;
  qc_dtype want = opt->gguf_type;
  if (is_embed_or_output(hf) && opt->gguf_embed_type != QC_DT_UNDEFINED) want = opt->gguf_embed_type;
  if (t->rank != 2) {
    s = to_f32(t, &o); /* norms and biases */
  } else if (l && l->wkind == QX_W_PACKED && qc_dtype_is_block(qx_const(x->g, l->w)->dtype) &&
             qx_const(x->g, l->w)->dtype != QC_MXFP4 && qc_dtype_traits_of(qx_const(x->g, l->w)->dtype)->gguf >= 0 &&
             l->w_scale == QC_NONE) {
    qc_tensor_copy_ref(&o, qx_const(x->g, l->w)); /* a GGUF block constant: its bytes */
    if (x->report) x->report->quantized++;
  } else if (l && l->wkind != QX_W_FLOAT) {
    bool exact = false;
    s = exact_block(x, l, &o, &exact);
    if (!s && !exact) {
      qc_dtype rq = opt->gguf_requant_type != QC_DT_UNDEFINED ? opt->gguf_requant_type
                    : qc_dtype_is_block(opt->gguf_type)    ? opt->gguf_type
                                                           : QC_Q8_0;
      rq = row_type(x, name, rq, t->dims[1]);
      qc_tensor w;
      if (!(s = qx_linear_dequantized_weight(x->g, l, &w))) {
        if (!(s = to_f32(&w, &f))) s = from_f32(&f, rq, &o);
        qc_tensor_release(&w);
      }
      if (!s && x->report) {
        x->report->requantized++;
        qx_note(x->report, "%s: requantized to %s (its quantization has no exact GGUF type)", name,
                qc_dtype_traits_of(rq)->name);
      }
    } else if (!s && x->report) {
      x->report->quantized++;
    }
  } else if ((want = row_type(x, name, want, t->dims[1])) == t->dtype) {
    qc_tensor_copy_ref(&o, t);
  } else {
    if (!(s = to_f32(t, &f))) s = from_f32(&f, want, &o);
  }
  qc_tensor_release(&f);
  /* llama's RoPE rows (weights and biases): HF rotate-half -> ggml interleaved */
  if (!s && !strcmp(x->arch, "llama")) {
    bool q = strstr(name, ".attn_q.") != NULL, k = strstr(name, ".attn_k.") != NULL;
    if (q || k) {
      s = qc_llama_qk_permute(&o, q ? x->n_head : x->n_kv_head, true, &p);
      if (!s) {
        qc_tensor_release(&o);
        o = p;
      }
    }
  }
  if (!s) s = qc_gguf_writer_add_tensor(x->w, name, &o);
  if (!s && o.rank == 2) x->type_count[o.dtype]++;
  if (!s && x->report) {
    x->report->tensors++;
    x->report->bytes += qc_tensor_nbytes(&o);
  }
  qc_tensor_release(&o);
  if (s) return qc_status_wrap(s, "%s (%s)", name, hf);
  return QC_OK;
}

/* ---- metadata ------------------------------------------------------------------------------ */

/* Copy every key of the source GGUF but the ones recomputed here. */
static qc_status copy_source_meta(gx *x) {
  int64_t n = qc_gguf_kv_count(x->src);
  for (int64_t i = 0; i < n; i++) {
    const char *k = qc_gguf_kv_key(x->src, i);
    if (!strcmp(k, "general.file_type") || !strcmp(k, "general.quantization_version") ||
        !strcmp(k, "general.alignment"))
      continue;
    QC_RETURN_IF_ERROR(qc_gguf_writer_set(x->w, k, qc_gguf_kv_value(x->src, i)));
  }
  return QC_OK;
}

static qc_status arch_meta(gx *x) {
  const qc_model_config *c = &x->mc;
  char k[128];
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", x->arch, s), k)
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_string(x->w, "general.architecture", x->arch));
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(x->w, KEY("context_length"), (uint32_t)c->max_positions));
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(x->w, KEY("embedding_length"), (uint32_t)c->hidden_size));
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(x->w, KEY("block_count"), (uint32_t)c->num_layers));
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(x->w, KEY("feed_forward_length"), (uint32_t)c->intermediate_size));
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(x->w, KEY("rope.dimension_count"),
                                            (uint32_t)(c->head_dim * c->partial_rotary_factor)));
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_f32(x->w, KEY("rope.freq_base"), (float)c->rope_theta));
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(x->w, KEY("attention.head_count"), (uint32_t)c->num_heads));
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(x->w, KEY("attention.head_count_kv"), (uint32_t)c->num_kv_heads));
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_f32(x->w, KEY("attention.layer_norm_rms_epsilon"), (float)c->norm_eps));
  QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(x->w, KEY("vocab_size"), (uint32_t)c->vocab_size));
  if (c->head_dim * c->num_heads != c->hidden_size) {
    QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(x->w, KEY("attention.key_length"), (uint32_t)c->head_dim));
    QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(x->w, KEY("attention.value_length"), (uint32_t)c->head_dim));
  }
  if (!strcmp(c->rope_type, "linear")) {
    QC_RETURN_IF_ERROR(qc_gguf_writer_set_string(x->w, KEY("rope.scaling.type"), "linear"));
    QC_RETURN_IF_ERROR(qc_gguf_writer_set_f32(x->w, KEY("rope.scaling.factor"), (float)c->rope_factor));
  } else if (!strcmp(c->rope_type, "llama3")) {
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "llama3 rope scaling (llama.cpp's rope_freqs tensor) is not written yet");
  }
#undef KEY
  return QC_OK;
}

/* tokenizer.json (byte-level BPE) -> tokenizer.ggml.* */
static qc_status tokenizer_meta(gx *x, const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/tokenizer.json", dir);
  FILE *f = fopen(path, "rb");
  if (!f) { /* a model without a tokenizer: gguf readers take it, llama.cpp will not */
    qx_note(x->report, "%s: no tokenizer.json: the GGUF has no tokenizer (give a GGUF source to copy one from)",
            dir);
    return QC_OK;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *text = n > 0 ? malloc((size_t)n + 1) : NULL;
  if (!text || fread(text, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(text);
    return qc_status_new(QC_CODE_IO, "%s: cannot read", path);
  }
  fclose(f);
  char err[256];
  qc_json *tj = qc_json_parse(&x->ar, text, (size_t)n, err, sizeof err);
  free(text);
  if (!tj) return qc_status_new(QC_CODE_PARSE, "%s: %s", path, err);
  const qc_json *model = qc_json_get(tj, "model");
  const char *type = qc_json_str(qc_json_get(model, "type"));
  const qc_json *vocab = qc_json_get(model, "vocab");
  if (!type || strcmp(type, "BPE") || !qc_json_is(vocab, QC_JSON_OBJECT))
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: only byte-level BPE tokenizers are converted (this one is %s); give a "
                         "GGUF source to copy the tokenizer from",
                         path, type ? type : "unknown");
  /* id -> token, from the vocab and the added tokens */
  int64_t n_tok = 0;
  for (const qc_json *e = vocab->first; e; e = e->next) n_tok = qc_json_i64(e, -1) + 1 > n_tok ? qc_json_i64(e, -1) + 1 : n_tok;
  const qc_json *added = qc_json_get(tj, "added_tokens");
  for (const qc_json *e = qc_json_is(added, QC_JSON_ARRAY) ? added->first : NULL; e; e = e->next) {
    int64_t id = qc_json_i64(qc_json_get(e, "id"), -1);
    if (id + 1 > n_tok) n_tok = id + 1;
  }
  if (x->have_mc && x->mc.vocab_size > n_tok) n_tok = x->mc.vocab_size;
  const char **toks = calloc((size_t)(n_tok ? n_tok : 1), sizeof *toks);
  int32_t *types = calloc((size_t)(n_tok ? n_tok : 1), sizeof *types);
  if (!toks || !types) {
    free(toks);
    free(types);
    return QC_OOM();
  }
  for (const qc_json *e = vocab->first; e; e = e->next) {
    int64_t id = qc_json_i64(e, -1);
    if (id >= 0 && id < n_tok) {
      toks[id] = e->key;
      types[id] = 1; /* normal */
    }
  }
  for (const qc_json *e = qc_json_is(added, QC_JSON_ARRAY) ? added->first : NULL; e; e = e->next) {
    int64_t id = qc_json_i64(qc_json_get(e, "id"), -1);
    if (id < 0 || id >= n_tok) continue;
    toks[id] = qc_json_str(qc_json_get(e, "content"));
    types[id] = qc_json_is_true(qc_json_get(e, "special")) ? 3 : 4; /* control / user defined */
  }
  char pad[32];
  for (int64_t i = 0; i < n_tok; i++)
    if (!toks[i]) { /* unused ids up to the model's vocabulary size */
      snprintf(pad, sizeof pad, "[PAD%lld]", (long long)i);
      toks[i] = qc_arena_strdup(&x->ar, pad);
      types[i] = 5; /* unused */
    }
  const qc_json *merges = qc_json_get(model, "merges");
  int32_t n_merges = qc_json_is(merges, QC_JSON_ARRAY) ? merges->n : 0;
  const char **ms = calloc((size_t)(n_merges ? n_merges : 1), sizeof *ms);
  qc_status s = ms ? QC_OK : QC_OOM();
  int32_t k = 0;
  for (const qc_json *e = n_merges ? merges->first : NULL; e && !s; e = e->next, k++) {
    if (e->kind == QC_JSON_STRING) ms[k] = e->text;
    else if (e->kind == QC_JSON_ARRAY && e->n == 2) /* newer tokenizers: ["a", "b"] */
      ms[k] = qc_arena_printf(&x->ar, "%s %s", qc_json_str(qc_json_at(e, 0)), qc_json_str(qc_json_at(e, 1)));
    if (!ms[k]) s = qc_status_new(QC_CODE_PARSE, "%s: merge %d is malformed", path, k);
  }
  if (!s) s = qc_gguf_writer_set_string(x->w, "tokenizer.ggml.model", "gpt2");
  if (!s) s = qc_gguf_writer_set_string(x->w, "tokenizer.ggml.pre", "default");
  if (!s) s = qc_gguf_writer_set_strings(x->w, "tokenizer.ggml.tokens", toks, (uint64_t)n_tok);
  if (!s) s = qc_gguf_writer_set_array(x->w, "tokenizer.ggml.token_type", QC_GGUF_INT32, types, (uint64_t)n_tok);
  if (!s) s = qc_gguf_writer_set_strings(x->w, "tokenizer.ggml.merges", ms, (uint64_t)n_merges);
  /* special tokens from config.json (bos/eos/pad ids) */
  qc_json *cfg = NULL;
  if (!s) s = qx_source_config(x->g, x->opt, &x->ar, &cfg);
  static const char *const SPECIAL[][2] = {{"bos_token_id", "tokenizer.ggml.bos_token_id"},
                                           {"eos_token_id", "tokenizer.ggml.eos_token_id"},
                                           {"pad_token_id", "tokenizer.ggml.padding_token_id"}};
  for (size_t i = 0; !s && cfg && i < 3; i++) {
    const qc_json *v = qc_json_get(cfg, SPECIAL[i][0]);
    if (qc_json_is(v, QC_JSON_ARRAY)) v = qc_json_at(v, 0);
    if (qc_json_is(v, QC_JSON_INT)) s = qc_gguf_writer_set_u32(x->w, SPECIAL[i][1], (uint32_t)qc_json_i64(v, 0));
  }
  free(ms);
  free(toks);
  free(types);
  return s;
}

/* llama_ftype of the linears' dominant type. */
static uint32_t file_type(const gx *x) {
  static const struct {
    qc_dtype dt;
    uint32_t ft;
  } FT[] = {{QC_F32, 0},  {QC_F16, 1},   {QC_Q4_0, 2}, {QC_Q4_1, 3},  {QC_Q8_0, 7},
            {QC_Q5_0, 8}, {QC_Q5_1, 9},  {QC_Q4_K, 15}, {QC_Q6_K, 18}, {QC_BF16, 32},
            {QC_GGML_MXFP4, 38}};
  int64_t best = -1;
  uint32_t ft = 1;
  for (size_t i = 0; i < sizeof FT / sizeof *FT; i++)
    if (x->type_count[FT[i].dt] > best) {
      best = x->type_count[FT[i].dt];
      ft = FT[i].ft;
    }
  return ft;
}

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

typedef struct layer_item {
  const char *hf;
  const qc_tensor *t;
  const qx_linear *l;
} layer_item;

static int layer_item_cmp(const void *a, const void *b) {
  return strcmp(((const layer_item *)a)->hf, ((const layer_item *)b)->hf);
}

qc_status qc_export_gguf(const qc_graph *g, const char *path, const qc_export_options *opt_in) {
  qc_export_options defaults = qc_export_options_default();
  const qc_export_options *opt = opt_in ? opt_in : &defaults;
  gx x;
  memset(&x, 0, sizeof x);
  x.g = g;
  x.opt = opt;
  x.report = opt->report;
  qc_arena_init(&x.ar, qc_allocator_default());
  qx_model m;
  memset(&m, 0, sizeof m);
  const char *src = qx_source_dir(g, opt);
  qc_json *cfg = NULL;
  qc_status s = qc_gguf_writer_create(&x.w);
  if (!s && src && ends_with(src, ".gguf")) s = qc_gguf_open(src, &x.src);
  if (!s) s = qx_source_config(g, opt, &x.ar, &cfg);
  if (!s && cfg) {
    char *t = qc_json_write(cfg, -1, false, NULL);
    if (!t) s = QC_OOM();
    else s = qc_model_config_parse(t, strlen(t), "config.json", &x.mc);
    free(t);
    x.have_mc = !s;
  }
  /* architecture and heads */
  if (!s) {
    const char *mt = x.have_mc ? x.mc.model_type : NULL;
    if (x.src && !mt) {
      const char *a = NULL;
      s = qc_gguf_get_string(x.src, "general.architecture", &a, NULL);
      mt = a;
    }
    if (!s && !mt) s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "no model config (config.json or a GGUF source)");
    if (!s) {
      if (!strcmp(mt, "llama") || !strcmp(mt, "mistral") || !strcmp(mt, "smollm")) x.arch = "llama";
      else if (!strcmp(mt, "qwen2")) x.arch = "qwen2";
      else if (!strcmp(mt, "qwen3")) x.arch = "qwen3";
      else s = qc_status_new(QC_CODE_UNIMPLEMENTED, "GGUF export of model type '%s' (llama-family only)", mt);
    }
    if (!s && x.have_mc) {
      x.n_head = x.mc.num_heads;
      x.n_kv_head = x.mc.num_kv_heads;
    } else if (!s) {
      char k[96];
      uint32_t h = 0, hk = 0;
      snprintf(k, sizeof k, "%s.attention.head_count", x.arch);
      s = qc_gguf_get_u32(x.src, k, &h);
      snprintf(k, sizeof k, "%s.attention.head_count_kv", x.arch);
      if (!s && qc_gguf_get_u32(x.src, k, &hk)) hk = h; /* absent: no GQA */
      x.n_head = h;
      x.n_kv_head = hk ? hk : h;
    }
  }
  /* metadata: the source GGUF's, else built from the config and tokenizer.json */
  if (!s) {
    const char *name = opt->gguf_name;
    if (x.src) {
      s = copy_source_meta(&x);
    } else {
      s = arch_meta(&x);
      if (!s && !name) {
        const char *slash = src ? strrchr(src, '/') : NULL;
        name = slash && slash[1] ? slash + 1 : src ? src : "model";
      }
      if (!s) s = tokenizer_meta(&x, src ? src : ".");
    }
    if (!s && name) s = qc_gguf_writer_set_string(x.w, "general.name", name);
  }
  if (!s) s = qx_model_scan(g, &m);
  for (int32_t i = 0; i < m.n_lin && !s; i++) s = qx_refuse_rotation(&m.lin[i], "GGUF");
  /* tensors in llama.cpp's order: embeddings, layers, output norm, output */
  /* The embedding: a float parameter, or the weight of a quantized linear when the output
   * head is tied to it (a GGUF source's token_embd is one, as block constant). */
  qc_vid embed = s ? QC_NONE : qc_graph_find(g, "model.embed_tokens.weight");
  const qx_linear *embed_lin = NULL;
  for (int32_t i = 0; i < m.n_lin && embed != QC_NONE; i++)
    if (m.lin[i].wkind != QX_W_FLOAT && m.lin[i].w == embed) embed_lin = &m.lin[i];
  if (embed != QC_NONE && qc_graph_value(g, embed)->kind == QC_VALUE_CONST)
    s = add_tensor(&x, "model.embed_tokens.weight", qx_const(g, embed), embed_lin);
  int64_t n_layers = x.have_mc ? x.mc.num_layers : 0;
  if (!x.have_mc && x.src) {
    char k[96];
    uint32_t bl = 0;
    snprintf(k, sizeof k, "%s.block_count", x.arch);
    if (!s) s = qc_gguf_get_u32(x.src, k, &bl);
    n_layers = bl;
  }
  /* a layer's tensors sorted by Hugging Face name, as llama.cpp's converter writes them; the
   * order depends on the names only, so export -> import -> export gives the same file */
  layer_item *items = calloc((size_t)(m.n_params + m.n_lin + 1), sizeof *items);
  if (!s && !items) s = QC_OOM();
  for (int64_t layer = 0; layer < n_layers && !s; layer++) {
    char pfx[64];
    int pl = snprintf(pfx, sizeof pfx, "model.layers.%lld.", (long long)layer);
    int32_t n = 0;
    for (int32_t i = 0; i < m.n_params; i++) {
      const qc_value *v = qc_graph_value(g, m.params[i]);
      if (strncmp(v->name, pfx, (size_t)pl)) continue;
      /* a quantized linear's weight is not a parameter; a float one is, with its linear */
      char mod[1024];
      snprintf(mod, sizeof mod, "%.*s", (int)(strlen(v->name) - (ends_with(v->name, ".weight") ? 7 : 5)), v->name);
      const qx_linear *l = ends_with(v->name, ".weight") ? qx_model_find(&m, mod) : NULL;
      items[n++] = (layer_item){v->name, &v->cst, l && l->w == m.params[i] ? l : NULL};
    }
    for (int32_t i = 0; i < m.n_lin && !s; i++) {
      const qx_linear *l = &m.lin[i];
      if (l->wkind == QX_W_FLOAT || strncmp(l->module, pfx, (size_t)pl)) continue;
      items[n++] = (layer_item){qc_arena_printf(&x.ar, "%s.weight", l->module), qx_const(g, l->w), l};
      if (!items[n - 1].hf) s = QC_OOM();
      else if (l->in.node != QC_NONE || l->out.node != QC_NONE)
        qx_note(x.report, "%s: activation quantization is not represented in GGUF (dropped)", l->module);
    }
    if (!s) qsort(items, (size_t)n, sizeof *items, layer_item_cmp);
    for (int32_t i = 0; i < n && !s; i++) s = add_tensor(&x, items[i].hf, items[i].t, items[i].l);
  }
  free(items);
  for (int32_t i = 0; i < m.n_params && !s; i++) {
    const qc_value *v = qc_graph_value(g, m.params[i]);
    if (!strcmp(v->name, "model.norm.weight")) s = add_tensor(&x, v->name, &v->cst, NULL);
  }
  for (int32_t i = 0; i < m.n_params && !s; i++) {
    const qc_value *v = qc_graph_value(g, m.params[i]);
    if (!strcmp(v->name, "lm_head.weight")) s = add_tensor(&x, v->name, &v->cst, qx_model_find(&m, "lm_head"));
  }
  for (int32_t i = 0; i < m.n_lin && !s; i++) /* tied to the embedding: llama.cpp ties when output is absent */
    if (!strcmp(m.lin[i].module, "lm_head") && m.lin[i].wkind != QX_W_FLOAT && m.lin[i].w != embed)
      s = add_tensor(&x, "lm_head.weight", qx_const(g, m.lin[i].w), &m.lin[i]);
  if (!s) s = qc_gguf_writer_set_u32(x.w, "general.file_type", file_type(&x));
  /* GGML_QNT_VERSION, which llama.cpp's converter and quantizer write into every file */
  if (!s) s = qc_gguf_writer_set_u32(x.w, "general.quantization_version", 2);
  if (!s) s = qc_gguf_writer_write(x.w, path);
  qx_model_free(&m);
  qc_gguf_writer_free(x.w);
  qc_gguf_close(x.src);
  qc_arena_free(&x.ar);
  if (s) return qc_status_wrap(s, "%s", path);
  return QC_OK;
}
