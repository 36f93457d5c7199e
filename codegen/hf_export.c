/*
 * Hugging Face safetensors directories in AMD Quark's layout (quarc/export.h, docs/export.md):
 * what quark.torch.export_safetensors writes, for custom_mode "quark", "awq" and "fp8" and
 * weight_format "real_quantized" and "fake_quantized".
 *
 * Directory:
 *   config.json   the source config with "quantization_config" set, written as transformers
 *                 writes configs: json.dumps(indent=2, sort_keys=True) + "\n"
 *   model.safetensors, or model-0000i-of-0000N.safetensors + model.safetensors.index.json past
 *                 the shard limit; every shard has __metadata__ {"format": "pt"}
 *   generation_config.json, tokenizer.json, tokenizer_config.json, special_tokens_map.json,
 *   tokenizer.model, vocab.json, merges.txt, chat_template.jinja: copied from the source
 *
 * Tensors of a quantized linear P whose weight W is [out, in] (real_quantized):
 *   int4/uint4 per-group (axis 1, group G):  P.weight int32 [in, ceil(out/8)]   (W^T packed
 *        along out, 8 codes per word: "reorder" puts element {0,2,4,6,1,3,5,7}[i] in nibble i)
 *        P.weight_scale [in/G, out] (transposed)   P.weight_zero_point int32 [in/G, ceil(out/8)]
 *   int4/uint4 per-channel (axis 0):         P.weight int32 [out, ceil(in/8)], P.weight_scale
 *        [out], P.weight_zero_point int32 [ceil(out/8)]
 *   int8/uint8 per-tensor / per-channel:     P.weight int8 [out, in], P.weight_scale [] / [out],
 *        P.weight_zero_point int8 (same shape as the scale; zeros when symmetric)
 *   int8/uint8 per-group:                    weight, scale and zero point transposed
 *   fp8 e4m3/e5m2:                           P.weight F8 [out, in], P.weight_scale [] / [out]
 *   fp4 (MX):                                P.weight uint8 [out, in/2] (element 2k in the low
 *        nibble), P.weight_scale uint8 E8M0 [out, in/32]
 *   fp4 (NVFP4):                             P.weight uint8 [out, in/2], P.weight_scale F8_E4M3
 *        [out, in/16], P.weight_scale_2 f32 []
 *   fp6 e2m3/e3m2 (MX):                      P.weight uint8 [out, in*3/4] (4 codes in 3 bytes,
 *        LSB first), P.weight_scale uint8 [out, in/32]
 *   activations: P.input_scale / P.input_zero_point (static inputs; the second stage of a
 *        two-stage spec gets the suffix _2: NVFP4's P.input_scale_2), P.output_scale /
 *        P.output_zero_point (k_proj/v_proj: the KV cache scales vLLM reads)
 * fake_quantized: P.weight is the dequantized weight in the model dtype; scales keep the
 * graph's layout (not transposed, MX scales as float32 2^e, NVFP4's weight_scale the
 * dequantized block scales), zero points int32; a two-stage input's static scale is
 * P.input_scale. AWQ renames weight/weight_scale/weight_zero_point to qweight/scales/qzeros.
 */
#include "codegen/export_internal.h"
#include "quarc/safetensors.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct hx {
  const qc_graph *g;
  const qc_export_options *opt;
  qc_export_format mode; /* HF, AWQ or FP8 */
  bool fake;
  bool reorder;
  qx_model m;
  qx_tensors *out;
  qc_arena *ar;
  qc_export_report *report;
  bool w_staged, in_staged, out_staged; /* the linear being written: quantizers with stages */
} hx;

/* The files of a source directory that travel with the model. */
static const char *const AUX_FILES[] = {"generation_config.json", "tokenizer.json",
                                        "tokenizer_config.json", "special_tokens_map.json",
                                        "tokenizer.model", "vocab.json", "merges.txt",
                                        "added_tokens.json", "chat_template.jinja",
                                        "chat_template.json", "preprocessor_config.json"};

/* Quark's in-memory name of a checkpoint suffix (the native .pth): "weight_scale" ->
 * "weight_quantizer.scale", or "weight_quantizer.0.scale" when the quantizer has stages
 * (`staged`); "_2" -> stage 1. */
static void native_name(const char *suffix, bool staged, char *out, size_t n) {
  const char *us = strchr(suffix, '_');
  if (!us || !strcmp(suffix, "weight") || !strcmp(suffix, "bias")) {
    snprintf(out, n, "%s", suffix);
    return;
  }
  char param[32];
  snprintf(param, sizeof param, "%s", us + 1);
  size_t pl = strlen(param);
  int stage = 0;
  if (pl > 2 && param[pl - 2] == '_' && param[pl - 1] >= '2' && param[pl - 1] <= '9') {
    stage = param[pl - 1] - '1';
    param[pl - 2] = 0;
    staged = true;
  }
  if (staged) snprintf(out, n, "%.*s_quantizer.%d.%s", (int)(us - suffix), suffix, stage, param);
  else snprintf(out, n, "%.*s_quantizer.%s", (int)(us - suffix), suffix, param);
}


static qc_status take(hx *x, const char *module, const char *suffix, qc_tensor *t) {
  char name[1024], nat[96];
  const char *sfx = suffix;
  if (x->mode == QC_EXPORT_QUARK) {
    bool staged = !strncmp(suffix, "weight", 6) ? x->w_staged
                  : !strncmp(suffix, "input", 5) ? x->in_staged : x->out_staged;
    native_name(suffix, staged, nat, sizeof nat);
    sfx = nat;
  }
  if (x->mode == QC_EXPORT_AWQ) {
    if (!strcmp(suffix, "weight")) sfx = "qweight";
    else if (!strcmp(suffix, "weight_scale")) sfx = "scales";
    else if (!strcmp(suffix, "weight_zero_point")) sfx = "qzeros";
  }
  snprintf(name, sizeof name, "%s.%s", module, sfx);
  return qx_tensors_take(x->out, name, t);
}

static qc_status add_ref(hx *x, const char *module, const char *suffix, const qc_tensor *t) {
  qc_tensor c;
  qc_tensor_copy_ref(&c, t);
  return take(x, module, suffix, &c);
}

static const qc_tensor *cst(const hx *x, qc_vid v) { return qx_const(x->g, v); }

static qc_status bad(const qx_linear *l, const char *what) {
  return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: %s", l->module, what);
}

/* E8M0 scale bytes as Quark stores them (uint8). */
static qc_status e8m0_bytes(const qc_tensor *s, qc_tensor *out) {
  if (s->dtype == QC_E8M0) return qx_view(s, QC_U8, s->rank, s->dims, out);
  qc_tensor_copy_ref(out, s);
  return QC_OK;
}

/* Split an OCP MX block tensor [.., n] into element codes [.., n] and E8M0 scales [.., n/32]. */
static qc_status split_mx_blocks(const qc_tensor *b, qc_tensor *codes, qc_tensor *scales) {
  const qc_dtype_traits *t = qc_dtype_traits_of(b->dtype);
  int64_t n = b->dims[b->rank - 1], rows = qc_tensor_numel(b) / (n ? n : 1);
  int64_t sd[QC_MAX_RANK];
  memcpy(sd, b->dims, sizeof sd);
  sd[b->rank - 1] = n / 32;
  qc_dtype el = t->block_elem == QC_I8 ? QC_I8 : t->block_elem;
  QC_RETURN_IF_ERROR(qc_tensor_alloc(codes, NULL, el, b->rank, b->dims));
  qc_status s = qc_tensor_alloc(scales, NULL, QC_E8M0, b->rank, sd);
  if (s) {
    qc_tensor_release(codes);
    return s;
  }
  const uint8_t *bp = qc_tensor_data(b);
  uint8_t *sp = qc_tensor_data(scales);
  void *cp = qc_tensor_data(codes);
  int64_t nb = rows * (n / 32);
  for (int64_t i = 0; i < nb; i++, bp += t->block_bytes) {
    sp[i] = bp[0];
    for (int j = 0; j < 32; j++)
      qc_elem_set_code(el, cp, (size_t)(i * 32 + j), qc_elem_code(el, bp + 1, (size_t)j));
  }
  return QC_OK;
}

/* Zero points: the graph's (converted to dt), or zeros shaped like the scale. */
static qc_status zero_point(const hx *x, const qx_linear *l, const qc_tensor *scale, qc_dtype dt,
                            qc_tensor *out) {
  const qc_tensor *zp = cst(x, l->w_zp);
  if (zp) return zp->dtype == dt ? (qc_tensor_copy_ref(out, zp), QC_OK) : qc_tensor_convert(NULL, zp, dt, out);
  return qx_zeros(dt, scale->rank, scale->dims, out);
}

/* The real_quantized weight of one linear. */
static qc_status emit_weight_real(hx *x, const qx_linear *l) {
  const qc_tensor *q = cst(x, l->w);
  const qc_tensor *scale = cst(x, l->w_scale);
  qc_tensor codes = {0}, mx_scale = {0}, t1 = {0}, t2 = {0};
  qc_status s = QC_OK;
  if (qc_dtype_is_block(q->dtype)) {
    const qc_dtype_traits *tr = qc_dtype_traits_of(q->dtype);
    if (tr->block_scale != QC_E8M0 || tr->block_elems != 32 || q->dtype == QC_GGML_MXFP4)
      return bad(l, "GGUF block weights have no Quark layout (export them to GGUF)");
    QC_RETURN_IF_ERROR(split_mx_blocks(q, &codes, &mx_scale));
    q = &codes;
    scale = &mx_scale;
  }
  if (q->rank != 2) {
    s = bad(l, "the weight is not 2-D");
    goto done;
  }
  int64_t out_f = q->dims[0], in_f = q->dims[1];
  switch (q->dtype) {
  case QC_I4:
  case QC_U4: {
    if (!scale) {
      s = bad(l, "an int4 weight without a scale");
      break;
    }
    qc_tensor zp = {0};
    if (scale->rank == 2) { /* per-group along in: transposed, packed along out */
      if (!(s = qc_tensor_transpose2d(q, &t1))) s = qc_tensor_pack_int4(&t1, x->reorder, &t2);
      if (!s) s = take(x, l->module, "weight", &t2);
      qc_tensor_release(&t1);
      qc_tensor st = {0};
      if (!s) s = qc_tensor_transpose2d(scale, &st);
      if (!s) s = take(x, l->module, "weight_scale", &st);
      if (!s) s = zero_point(x, l, scale, q->dtype, &zp);
      if (!s) s = qc_tensor_transpose2d(&zp, &t1);
      qc_tensor_release(&zp);
      if (!s) s = qc_tensor_pack_int4(&t1, x->reorder, &t2);
      qc_tensor_release(&t1);
      if (!s) s = take(x, l->module, "weight_zero_point", &t2);
    } else if (scale->rank == 1) { /* per-channel: packed along in; zero points along out */
      if (!(s = qc_tensor_pack_int4(q, x->reorder, &t2))) s = take(x, l->module, "weight", &t2);
      if (!s) s = add_ref(x, l->module, "weight_scale", scale);
      if (!s) s = zero_point(x, l, scale, q->dtype, &zp);
      if (!s) s = qc_tensor_pack_int4(&zp, x->reorder, &t2);
      qc_tensor_release(&zp);
      if (!s) s = take(x, l->module, "weight_zero_point", &t2);
    } else {
      s = bad(l, "per-tensor int4 weights have no Quark layout");
    }
    break;
  }
  case QC_I8:
  case QC_U8: {
    if (!scale) {
      s = bad(l, "an int8 weight without a scale");
      break;
    }
    qc_tensor zp = {0};
    s = zero_point(x, l, scale, q->dtype, &zp);
    if (!s && scale->rank == 2) { /* per-group: all transposed */
      if (!(s = qc_tensor_transpose2d(q, &t1))) s = take(x, l->module, "weight", &t1);
      if (!s && !(s = qc_tensor_transpose2d(scale, &t1))) s = take(x, l->module, "weight_scale", &t1);
      if (!s && !(s = qc_tensor_transpose2d(&zp, &t1))) s = take(x, l->module, "weight_zero_point", &t1);
    } else if (!s) {
      if (!(s = add_ref(x, l->module, "weight", q))) s = add_ref(x, l->module, "weight_scale", scale);
      if (!s) s = add_ref(x, l->module, "weight_zero_point", &zp);
    }
    qc_tensor_release(&zp);
    break;
  }
  case QC_F8E4M3FN:
  case QC_F8E5M2:
    if (!(s = add_ref(x, l->module, "weight", q)) && scale) s = add_ref(x, l->module, "weight_scale", scale);
    break;
  case QC_F4E2M1:
  case QC_F6E2M3:
  case QC_F6E3M2: {
    int bits = q->dtype == QC_F4E2M1 ? 4 : 6;
    if ((in_f * bits) % 8) {
      s = bad(l, "the input features do not fill whole bytes");
      break;
    }
    s = qx_view(q, QC_U8, 2, (int64_t[]){out_f, in_f * bits / 8}, &t1);
    if (!s) s = take(x, l->module, "weight", &t1);
    if (s) break;
    if (l->w_scale_node != QC_NONE) { /* NVFP4: block scales in fp8 + a per-tensor scale */
      const qc_tensor *codes2 = cst(x, l->w_scale_codes), *s2 = cst(x, l->w_scale2);
      if (!(s = e8m0_bytes(codes2, &t1))) s = take(x, l->module, "weight_scale", &t1);
      if (!s) s = add_ref(x, l->module, "weight_scale_2", s2);
    } else if (scale) {
      if (!(s = e8m0_bytes(scale, &t1))) s = take(x, l->module, "weight_scale", &t1);
    }
    break;
  }
  default: s = bad(l, "this weight dtype has no Quark layout"); break;
  }
done:
  qc_tensor_release(&codes);
  qc_tensor_release(&mx_scale);
  return s;
}

/* The fake_quantized weight: dequantized values and the scales in the graph's layout. */
static qc_status emit_weight_fake(hx *x, const qx_linear *l) {
  qc_tensor w;
  const char *exact = qc_graph_meta(x->g, "quarc.fake_weights_exact");
  if (l->wkind == QX_W_FAKE && exact && !strcmp(exact, "1"))
    qc_tensor_copy_ref(&w, cst(x, l->w)); /* imported fake-quantized values: already exact */
  else
    QC_RETURN_IF_ERROR(qx_linear_dequantized_weight(x->g, l, &w));
  QC_RETURN_IF_ERROR(take(x, l->module, "weight", &w));
  const qc_tensor *q = cst(x, l->w);
  const qc_tensor *scale = cst(x, l->w_scale);
  qc_tensor t = {0}, codes = {0}, mxs = {0};
  qc_status s = QC_OK;
  if (qc_dtype_is_block(q->dtype) && !(s = split_mx_blocks(q, &codes, &mxs))) scale = &mxs;
  if (!s && l->w_scale_node != QC_NONE) {
    /* the dequantized block scales, then the per-tensor scale */
    qc_tensor sd;
    qx_linear sl = *l;
    sl.w_node = l->w_scale_node;
    sl.w_scale_node = QC_NONE;
    sl.wkind = QX_W_PACKED;
    if (!(s = qx_linear_dequantized_weight(x->g, &sl, &sd))) s = take(x, l->module, "weight_scale", &sd);
    if (!s) s = add_ref(x, l->module, "weight_scale_2", cst(x, l->w_scale2));
  } else if (!s && scale) {
    if (scale->dtype == QC_E8M0) s = qc_tensor_convert(NULL, scale, QC_F32, &t);
    else qc_tensor_copy_ref(&t, scale);
    if (!s) s = take(x, l->module, "weight_scale", &t);
    if (!s && (qc_dtype_is_int(q->dtype) || cst(x, l->w_zp))) {
      if (!(s = zero_point(x, l, scale, QC_I32, &t))) s = take(x, l->module, "weight_zero_point", &t);
    }
  }
  qc_tensor_release(&codes);
  qc_tensor_release(&mxs);
  return s;
}

/* Whether a spec (QTensorConfig JSON, or a list of them) has a static second stage after a
 * dynamic first one (NVFP4 activations). */
static bool two_stage_dynamic_first(const char *spec, qc_arena *ar) {
  if (!spec || spec[0] != '[') return false;
  qc_json *j = qc_json_parse(ar, spec, strlen(spec), NULL, 0);
  return j && j->kind == QC_JSON_ARRAY && j->n >= 2 &&
         qc_json_is_true(qc_json_get(qc_json_at(j, 0), "is_dynamic"));
}

/* vLLM's fp8 checkpoints name the KV cache scales after the attention module:
 * "<parent>.k_scale" / "<parent>.v_scale" for the outputs of "<parent>.k_proj" / ".v_proj". */
static bool fp8_kv_name(const char *module, char *out, size_t n) {
  const char *dot = strrchr(module, '.');
  const char *leaf = dot ? dot + 1 : module;
  if (strcmp(leaf, "k_proj") && strcmp(leaf, "v_proj")) return false;
  snprintf(out, n, "%.*s%c_scale", (int)(leaf - module), module, leaf[0]);
  return true;
}

static qc_status emit_act(hx *x, const qx_linear *l, const qx_act *a, const char *which) {
  if (a->node == QC_NONE || a->scale == QC_NONE) return QC_OK;
  char sfx[64], kvn[1024];
  if (x->mode == QC_EXPORT_FP8 && !strcmp(which, "output") && fp8_kv_name(l->module, kvn, sizeof kvn))
    return qx_tensors_add(x->out, kvn, cst(x, a->scale));
  /* A dynamic first stage stores nothing: the static second stage's scale is "<which>_scale_2"
   * (real_quantized) or "<which>_scale" (fake_quantized HF, as Quark names it); the native
   * state dict keeps the in-memory stage index ("input_quantizer.1.scale") either way. */
  bool second = two_stage_dynamic_first(a->spec, x->ar) && (!x->fake || x->mode == QC_EXPORT_QUARK);
  snprintf(sfx, sizeof sfx, "%s_scale%s", which, second ? "_2" : "");
  QC_RETURN_IF_ERROR(add_ref(x, l->module, sfx, cst(x, a->scale)));
  const qc_tensor *zp = cst(x, a->zp);
  if (zp) {
    snprintf(sfx, sizeof sfx, "%s_zero_point%s", which, second ? "_2" : "");
    qc_tensor t;
    if (x->fake && zp->dtype != QC_I32) QC_RETURN_IF_ERROR(qc_tensor_convert(NULL, zp, QC_I32, &t));
    else qc_tensor_copy_ref(&t, zp);
    QC_RETURN_IF_ERROR(take(x, l->module, sfx, &t));
  }
  return QC_OK;
}

static qc_status emit_linear(hx *x, const qx_linear *l) {
  qc_status s = QC_OK;
  x->w_staged = l->w_scale_node != QC_NONE || (l->wkind == QX_W_FAKE && l->w_spec[0] == '[');
  x->in_staged = l->in.spec[0] == '[';
  x->out_staged = l->out.spec[0] == '[';
  if (l->wkind == QX_W_FAKE && !x->fake)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: the weight is fake-quantized (quarc.FakeQuant); real_quantized "
                         "export needs packed weights (run the realize pass first) or use "
                         "weight_format fake_quantized",
                         l->module);
  /* A partial last group (quarc quantizes it zero-padded): Quark refuses such a layer and
   * its loaders, like vLLM's, size scales as in_features / group_size. */
  const qc_tensor *w = cst(x, l->w);
  int64_t gax = w && l->axis < 0 ? l->axis + w->rank : l->axis;
  if (l->wkind != QX_W_FLOAT && l->group > 0 && w && gax >= 0 && gax < w->rank && w->dims[gax] % l->group)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: %lld weight columns do not divide into groups of %lld: Quark and vLLM "
                         "load only whole groups (Quark refuses to quantize this layer); use a group "
                         "size that divides %lld, or exclude the layer (--exclude)",
                         l->module, (long long)w->dims[gax], (long long)l->group, (long long)w->dims[gax]);
  if (l->wkind == QX_W_FLOAT) s = add_ref(x, l->module, "weight", cst(x, l->w));
  else if (x->fake) s = emit_weight_fake(x, l);
  else s = emit_weight_real(x, l);
  if (!s && l->bias != QC_NONE) {
    char name[1024];
    snprintf(name, sizeof name, "%s.bias", l->module);
    s = qx_tensors_add(x->out, name, cst(x, l->bias));
  }
  if (!s && x->mode == QC_EXPORT_AWQ) s = qx_refuse_rotation(l, "the AWQ layout");
  if (!s && l->in_rotation != QC_NONE) { /* Quark's QParamsLinearWithRotation buffer */
    qc_tensor r;
    s = qx_rotation_block(x->g, l, &r);
    char name[1024];
    snprintf(name, sizeof name, "%s.input_rotation", l->module);
    if (!s) s = qx_tensors_take(x->out, name, &r);
  }
  if (!s) s = emit_act(x, l, &l->in, "input");
  if (!s) s = emit_act(x, l, &l->out, "output");
  if (!s && l->wkind != QX_W_FLOAT && x->report) x->report->quantized++;
  return s;
}

/* ---- quantization_config ----------------------------------------------------------------- */

/* QConfig.to_dict()'s keys, in its order. */
static const char *const QCONFIG_KEYS[] = {
    "global_quant_config", "exclude", "algo_config", "softmax_quant_spec", "quant_method",
    "layer_type_quant_config", "layer_quant_config", "kv_cache_quant_config",
    "kv_cache_post_rope", "quant_mode", "version"};

/* The export block, from the one the config already has (an imported checkpoint) or the
 * QConfig's kv_cache_group / min_kv_scale / kv_cache_quant_config, with this export's
 * weight_format and pack_method. */
static qc_json *export_block(qc_arena *ar, const qc_json *qc, const char *weight_format,
                             const char *pack_method) {
  const qc_json *old = qc_json_get(qc, "export");
  qc_json *e = qc_json_object(ar);
  if (!e) return NULL;
  qc_json *kv = qc_json_get(old, "kv_cache_group");
  if (kv) kv = qc_json_clone(ar, kv);
  else if ((kv = qc_json_get(qc, "kv_cache_group")) && qc_json_get(qc, "kv_cache_quant_config") &&
           qc_json_get(qc, "kv_cache_quant_config")->n)
    kv = qc_json_clone(ar, kv);
  else {
    kv = qc_json_array(ar);
    const qc_json *kvq = qc_json_get(qc, "kv_cache_quant_config");
    for (const qc_json *c = kvq && kvq->kind == QC_JSON_OBJECT ? kvq->first : NULL; c && kv; c = c->next)
      qc_json_push(kv, qc_json_string(ar, c->key));
  }
  qc_json *mk = qc_json_get(old, "min_kv_scale");
  if (!mk) mk = qc_json_get(qc, "min_kv_scale");
  mk = mk ? qc_json_clone(ar, mk) : qc_json_float(ar, 0.0);
  qc_json *wmg = qc_json_get(old, "weight_merge_groups");
  wmg = wmg ? qc_json_clone(ar, wmg) : qc_json_null(ar);
  /* dataclasses.asdict(JsonExporterConfig) order */
  if (!qc_json_set(ar, e, "weight_merge_groups", wmg) || !qc_json_set(ar, e, "kv_cache_group", kv) ||
      !qc_json_set(ar, e, "min_kv_scale", mk) ||
      !qc_json_set(ar, e, "weight_format", qc_json_string(ar, weight_format)) ||
      !qc_json_set(ar, e, "pack_method", qc_json_string(ar, pack_method)))
    return NULL;
  return e;
}

/* The weight spec of the global config (the first stage of a list). */
static const qc_json *global_weight(const qc_json *qc) {
  const qc_json *w = qc_json_get(qc_json_get(qc, "global_quant_config"), "weight");
  return qc_json_is(w, QC_JSON_ARRAY) ? qc_json_at(w, 0) : w;
}

static qc_status awq_config(qc_arena *ar, const qc_json *qc, const char *pm, qc_json **out) {
  const qc_json *w = global_weight(qc);
  const char *dt = qc_json_str(qc_json_get(w, "dtype"));
  const qc_json *gq = qc_json_get(qc, "global_quant_config");
  if (!dt || (strcmp(dt, "int4") && strcmp(dt, "uint4") && strcmp(dt, "int8") && strcmp(dt, "uint8")) ||
      strcmp(qc_json_str(qc_json_get(w, "qscheme")) ? qc_json_str(qc_json_get(w, "qscheme")) : "", "per_group") ||
      !qc_json_is(qc_json_get(gq, "input_tensors"), QC_JSON_NULL) ||
      !qc_json_is(qc_json_get(gq, "output_tensors"), QC_JSON_NULL))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "AWQ export needs weight-only int4/uint4/int8/uint8 per-group "
                         "quantization (the config has %s %s)",
                         dt ? dt : "no weight dtype", qc_json_str(qc_json_get(w, "qscheme")) ? qc_json_str(qc_json_get(w, "qscheme")) : "");
  qc_json *o = qc_json_object(ar);
  int64_t bits = dt[strlen(dt) - 1] == '4' ? 4 : 8;
  const qc_json *ex = qc_json_get(qc, "exclude");
  bool ok = o && qc_json_set(ar, o, "bits", qc_json_int(ar, bits)) &&
            qc_json_set(ar, o, "group_size", qc_json_clone(ar, qc_json_get(w, "group_size"))) &&
            qc_json_set(ar, o, "modules_to_not_convert", ex ? qc_json_clone(ar, ex) : qc_json_null(ar)) &&
            qc_json_set(ar, o, "quant_method", qc_json_string(ar, "awq")) &&
            qc_json_set(ar, o, "version", qc_json_string(ar, "gemm")) &&
            qc_json_set(ar, o, "zero_point", qc_json_bool(ar, !qc_json_is_true(qc_json_get(w, "symmetric")))) &&
            qc_json_set(ar, o, "pack_method", qc_json_string(ar, pm));
  *out = o;
  return ok ? QC_OK : QC_OOM();
}

static qc_status fp8_config(qc_arena *ar, const qc_json *qc, qc_json **out) {
  const qc_json *gq = qc_json_get(qc, "global_quant_config");
  const qc_json *w = global_weight(qc), *in = qc_json_get(gq, "input_tensors");
  const char *dt = qc_json_str(qc_json_get(w, "dtype"));
  const char *qs = qc_json_str(qc_json_get(w, "qscheme"));
  if (!dt || strcmp(dt, "fp8_e4m3") || !qs || strcmp(qs, "per_tensor") || qc_json_is(qc_json_get(gq, "weight"), QC_JSON_ARRAY))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "fp8 export needs fp8_e4m3 per-tensor weights (the config has %s %s)",
                         dt ? dt : "no weight dtype", qs ? qs : "");
  qc_json *act = qc_json_null(ar);
  if (in && in->kind == QC_JSON_OBJECT) {
    const char *idt = qc_json_str(qc_json_get(in, "dtype"));
    const char *iqs = qc_json_str(qc_json_get(in, "qscheme"));
    if (!idt || strcmp(idt, "fp8_e4m3") || !iqs || strcmp(iqs, "per_tensor"))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "fp8 export needs fp8_e4m3 per-tensor activations or none");
    act = qc_json_string(ar, qc_json_is_true(qc_json_get(in, "is_dynamic")) ? "dynamic" : "static");
  }
  /* The KV cache scheme: fp8 per-tensor output quantizers of the layers of the KV group. */
  qc_json *kvs = qc_json_null(ar);
  const qc_json *kvq = qc_json_get(qc, "kv_cache_quant_config");
  if (kvq && kvq->n && kvq->first) {
    const qc_json *o = qc_json_get(kvq->first, "output_tensors");
    const char *odt = qc_json_str(qc_json_get(o, "dtype"));
    if (odt && !strcmp(odt, "fp8_e4m3"))
      kvs = qc_json_string(ar, qc_json_is_true(qc_json_get(o, "is_dynamic")) ? "dynamic" : "static");
  }
  qc_json *o = qc_json_object(ar);
  const qc_json *ex = qc_json_get(qc, "exclude");
  bool ok = o && qc_json_set(ar, o, "activation_scheme", act) &&
            qc_json_set(ar, o, "ignored_layers", ex ? qc_json_clone(ar, ex) : qc_json_array(ar)) &&
            qc_json_set(ar, o, "kv_cache_scheme", kvs) &&
            qc_json_set(ar, o, "quant_method", qc_json_string(ar, "fp8"));
  *out = o;
  return ok ? QC_OK : QC_OOM();
}

/* Build `quantization_config` for this export; NULL for an unquantized model. */
static qc_status quantization_config(hx *x, qc_json **out) {
  *out = NULL;
  qc_json *qc;
  QC_RETURN_IF_ERROR(qx_quant_config(x->g, x->ar, &qc));
  bool any = false;
  for (int32_t i = 0; i < x->m.n_lin; i++) any |= qx_linear_quantized(&x->m.lin[i]);
  if (!qc) {
    if (any)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "the graph is quantized but carries no QConfig (metadata "
                           "quant.config); quantize it with quarc or import it from a "
                           "quantized checkpoint");
    return QC_OK;
  }
  const char *wf = x->fake ? "fake_quantized" : "real_quantized";
  const char *pm = x->reorder ? "reorder" : "order";
  qc_json *o = NULL;
  if (x->mode == QC_EXPORT_AWQ) QC_RETURN_IF_ERROR(awq_config(x->ar, qc, pm, &o));
  else if (x->mode == QC_EXPORT_FP8) QC_RETURN_IF_ERROR(fp8_config(x->ar, qc, &o));
  else {
    const char *qm = qc_json_str(qc_json_get(qc, "quant_method"));
    if (qm && strcmp(qm, "quark"))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "quant.config has quant_method '%s', not a Quark QConfig", qm);
    o = qc_json_object(x->ar);
    if (!o) return QC_OOM();
    for (size_t i = 0; i < sizeof QCONFIG_KEYS / sizeof *QCONFIG_KEYS; i++) {
      const qc_json *v = qc_json_get(qc, QCONFIG_KEYS[i]);
      if (v && !qc_json_set(x->ar, o, QCONFIG_KEYS[i], qc_json_clone(x->ar, v))) return QC_OOM();
    }
    if (!qc_json_get(o, "quant_method") && !qc_json_set(x->ar, o, "quant_method", qc_json_string(x->ar, "quark")))
      return QC_OOM();
  }
  qc_json *e = export_block(x->ar, qc, wf, pm);
  if (!e || !qc_json_set(x->ar, o, "export", e)) return QC_OOM();
  *out = o;
  return QC_OK;
}

/* ---- the export ---------------------------------------------------------------------------- */

static qc_status collect(hx *x) {
  const qc_graph *g = x->g;
  /* Parameters first, in graph order; a quantized linear's tensors where its weight was. */
  qc_status s = QC_OK;
  int32_t nv = qc_graph_num_values(g);
  int32_t *lin_of = malloc(sizeof *lin_of * (size_t)(nv ? nv : 1));
  if (!lin_of) return QC_OOM();
  for (int32_t i = 0; i < nv; i++) lin_of[i] = -1;
  for (int32_t i = 0; i < x->m.n_lin; i++)
    if (qx_linear_quantized(&x->m.lin[i])) {
      lin_of[x->m.lin[i].w] = i;
      /* two-stage scale codes are written with their linear, never on their own */
      if (x->m.lin[i].w_scale_codes >= 0) lin_of[x->m.lin[i].w_scale_codes] = -2;
    }
  /* Every quantized constant must be a linear's weight: anything else has no name in this
   * layout and would be dropped. */
  for (qc_nid n = 0; n < qc_graph_num_nodes(g) && !s; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead || !(qc_op_schema_of(nd->op)->flags & QC_OPF_QDQ) || nd->n_in < 1 || nd->in[0] < 0) continue;
    const qc_value *q = qc_graph_value(g, nd->in[0]);
    if (q->kind == QC_VALUE_CONST && lin_of[nd->in[0]] == -1)
      s = qc_status_new(QC_CODE_UNIMPLEMENTED,
                        "%s: constant '%s' is quantized but is not the weight of a Linear this layout "
                        "can name (a MatMul node named after its module, reading Transpose(W))",
                        qc_node_desc(g, n), q->name);
  }
  for (qc_vid v = 0; v < nv && !s; v++) {
    if (lin_of[v] >= 0) {
      s = emit_linear(x, &x->m.lin[lin_of[v]]);
      continue;
    }
    bool is_param = false;
    for (int32_t k = 0; k < x->m.n_params && !is_param; k++) is_param = x->m.params[k] == v;
    if (!is_param) continue;
    const qc_value *val = qc_graph_value(g, v);
    /* A quantized linear's bias is written with it. */
    bool own_bias = false;
    for (int32_t i = 0; i < x->m.n_lin && !own_bias; i++)
      own_bias = x->m.lin[i].bias == v && qx_linear_quantized(&x->m.lin[i]);
    if (own_bias) continue;
    s = qx_tensors_add(x->out, val->name, &val->cst);
  }
  free(lin_of);
  return s;
}

qc_status qx_prepare_export(const qc_graph *g, qc_export_format mode, const qc_export_options *opt,
                            qc_arena *ar, qx_tensors *out, qc_json **config) {
  *config = NULL;
  hx x;
  memset(&x, 0, sizeof x);
  x.g = g;
  x.opt = opt;
  x.mode = mode;
  x.report = opt->report;
  x.ar = ar;
  x.out = out;
  qc_status s = qx_model_scan(g, &x.m);
  /* weight_format / pack_method: the options, else what the graph's config says */
  qc_json *qc0 = NULL;
  if (!s) s = qx_quant_config(g, ar, &qc0);
  if (!s) {
    const qc_json *ex = qc_json_get(qc0, "export");
    const char *wf = opt->weight_format ? opt->weight_format : qc_json_str(qc_json_get(ex, "weight_format"));
    const char *pm = opt->pack_method ? opt->pack_method : qc_json_str(qc_json_get(ex, "pack_method"));
    if (wf && strcmp(wf, "real_quantized") && strcmp(wf, "fake_quantized"))
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "weight_format '%s' (real_quantized or fake_quantized)", wf);
    else if (pm && strcmp(pm, "reorder") && strcmp(pm, "order"))
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "pack_method '%s' (reorder or order)", pm);
    x.fake = wf && !strcmp(wf, "fake_quantized");
    x.reorder = !pm || !strcmp(pm, "reorder");
  }
  if (!s) s = collect(&x);
  qc_json *cfg = NULL, *qcj = NULL;
  if (!s) s = qx_source_config(g, opt, ar, &cfg);
  if (!s) s = quantization_config(&x, &qcj);
  if (!s && !cfg)
    s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                      "no config.json to export with the model (the graph has no metadata "
                      "quarc.hf_config or quarc.source; give the source directory)");
  if (!s && qcj && !qc_json_set(ar, cfg, "quantization_config", qcj)) s = QC_OOM();
  /* An lm_head with a weight of its own (the rotation pass unties it from the embedding) is
   * loaded only if the config no longer ties them. */
  if (!s && qc_json_is_true(qc_json_get(cfg, "tie_word_embeddings")) &&
      qx_tensors_find(out, "lm_head.weight") >= 0 &&
      !qc_json_set(ar, cfg, "tie_word_embeddings", qc_json_bool(ar, false)))
    s = QC_OOM();
  if (!s && !qcj) qc_json_remove(cfg, "quantization_config");
  qx_model_free(&x.m);
  if (!s) *config = cfg;
  return s;
}

qc_status qx_copy_aux_files(const qc_graph *g, const qc_export_options *opt, qc_atomic_dir *d) {
  const char *src = qx_source_dir(g, opt);
  for (size_t i = 0; src && i < sizeof AUX_FILES / sizeof *AUX_FILES; i++)
    QC_RETURN_IF_ERROR(qx_copy_file(d, src, AUX_FILES[i]));
  return QC_OK;
}

qc_status qc_export_hf(const qc_graph *g, const char *dir, qc_export_format mode,
                       const qc_export_options *opt_in) {
  qc_export_options defaults = qc_export_options_default();
  const qc_export_options *opt = opt_in ? opt_in : &defaults;
  if (mode != QC_EXPORT_HF && mode != QC_EXPORT_AWQ && mode != QC_EXPORT_FP8)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: not a safetensors export mode", dir);
  qc_arena ar;
  qc_arena_init(&ar, qc_allocator_default());
  qx_tensors out;
  qx_tensors_init(&out);
  qc_atomic_dir *d = NULL;
  char *cfg_text = NULL;
  qc_json *cfg = NULL;
  qc_status s = qx_prepare_export(g, mode, opt, &ar, &out, &cfg);
  size_t cfg_len = 0;
  /* transformers' PretrainedConfig.to_json_string: indent 2, sorted keys, a final newline */
  if (!s && !(cfg_text = qc_json_write(cfg, 2, true, &cfg_len))) s = QC_OOM();
  if (!s) s = qc_atomic_dir_open(dir, opt->replace, &d);
  if (!s) {
    cfg_text[cfg_len] = '\n'; /* qc_json_write leaves room for the NUL */
    s = qx_write_text(d, "config.json", cfg_text, cfg_len + 1);
  }
  if (!s) s = qx_copy_aux_files(g, opt, d);
  if (!s) {
    const char *mk[1] = {"format"}, *mv[1] = {"pt"};
    qc_safetensors_write_options so = {mk, mv, 1, opt->max_shard_size};
    s = qc_safetensors_write_sharded_in(d, out.name, out.t, (size_t)out.n, &so, NULL);
  }
  if (!s) {
    s = qc_atomic_dir_commit(d);
    d = NULL;
  }
  if (!s && opt->report) {
    opt->report->tensors += out.n;
    for (int32_t i = 0; i < out.n; i++) opt->report->bytes += qc_tensor_nbytes(&out.t[i]);
  }
  qc_atomic_dir_abort(d);
  free(cfg_text);
  qx_tensors_free(&out);
  qc_arena_free(&ar);
  if (s) return qc_status_wrap(s, "%s", dir);
  return QC_OK;
}
