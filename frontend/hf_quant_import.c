/*
 * Quantized Hugging Face checkpoints -> real-quantized graphs (quarc/export.h,
 * docs/export.md). The layouts read are the ones codegen/hf_export.c writes (Quark's
 * export_safetensors, custom modes quark/awq/fp8, real and fake quantized), Quark's native
 * config.json + model_state_dict.pth, GPTQ (qweight/qzeros/scales/g_idx) and
 * compressed-tensors (pack-quantized, float-quantized).
 *
 * How: the model builder (frontend/model_build.c) builds the float graph from a weight
 * source that hands it, for a quantized linear P, its weight as the packed constant with
 * the logical [out, in] shape (int4/uint4/int8/fp8/fp4/fp6 codes). The graph is then
 * rewritten: DequantizePacked(P.weight, P.weight_scale, P.weight_zero_point) goes between
 * the constant and its Transpose (a two-stage NVFP4 scale is DequantizePacked(codes,
 * P.weight_scale_2)), FakeQuant(x, P.input_scale, P.input_zero_point) before the MatMul when
 * the layer's input is quantized, FakeQuant(y, P.output_scale, ...) after it when its output
 * is (the KV cache). Fake-quantized checkpoints keep their float weights behind
 * FakeQuant(w, scale, zero_point) (their values are already fake-quantized: metadata
 * "quarc.fake_weights_exact").
 */
#include "quarc/export.h"
#include "quarc/models.h"
#include "quarc/pth.h"
#include "quarc/safetensors.h"

#include "frontend/regex.h"
#include "ir/internal.h"
#include "ir/json.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* One quantized linear, decoded into the graph's form. */
typedef struct qlayer {
  char *module;
  bool weight_q;                 /* the weight is quantized */
  bool fake;                     /* fake-quantized checkpoint: q holds float weights */
  qc_tensor q, scale, zp;        /* zp/scale may be empty (buf NULL, rank 0, dtype 0) */
  qc_tensor scale_codes, scale2; /* two-stage scales (NVFP4) */
  int64_t axis, group;
  const qc_json *spec;           /* the layer's QLayerConfig, NULL if none */
} qlayer;

typedef struct imp {
  const char *dir;
  qc_arena ar;
  char *config_text;
  size_t config_len;
  qc_json *config, *qcfg, *qconfig;
  qc_quant_checkpoint kind;
  bool fake, reorder;
  qc_safetensors_set *st;
  qc_pth *pth;
  qc_model_config mc;
  qc_dtype model_dtype;
  qlayer *layers;
  int32_t n_layers, cap_layers;
  qc_status err;
} imp;

static bool has_t(const qc_tensor *t) { return t->dtype != QC_DT_UNDEFINED; }

/* ---- reading files --------------------------------------------------------------------------- */

static bool file_exists(const char *dir, const char *name) {
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  struct stat st;
  return stat(p, &st) == 0;
}

/* A checkpoint tensor by name; QC_CODE_NOT_FOUND if absent. */
static qc_status raw(const imp *m, const char *name, qc_tensor *out) {
  if (m->st) return qc_safetensors_set_get(m->st, name, out);
  return qc_pth_get(m->pth, name, out);
}
static bool raw_has(const imp *m, const char *name) {
  if (m->st) return qc_safetensors_set_find(m->st, name) >= 0;
  return qc_pth_find(m->pth, name) >= 0;
}

/* Tensor `suffix` of module P ("weight_scale", "input_scale_2", ...), by the checkpoint's
 * naming: HF ("P.weight_scale", "P.weight_scale_2"), native ("P.weight_quantizer.scale",
 * "P.weight_quantizer.1.scale"), or AWQ ("P.qweight", "P.scales", "P.qzeros"). Optional
 * tensors that are absent leave *out empty. */
static qc_status fetch(const imp *m, const char *module, const char *suffix, bool listy,
                       bool optional, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  char name[2048];
  if (m->kind == QC_CKPT_QUARK_NATIVE && strcmp(suffix, "weight") && strcmp(suffix, "bias")) {
    /* <which>_<param>[_2] -> <which>_quantizer[.i].<param> */
    char which[16], param[16];
    int stage = 0;
    const char *us = strchr(suffix, '_');
    size_t wl = us ? (size_t)(us - suffix) : 0;
    snprintf(which, sizeof which, "%.*s", (int)wl, suffix);
    snprintf(param, sizeof param, "%s", us ? us + 1 : "");
    size_t pl = strlen(param);
    if (pl > 2 && param[pl - 2] == '_' && param[pl - 1] >= '2' && param[pl - 1] <= '9') {
      stage = param[pl - 1] - '1';
      param[pl - 2] = 0;
    }
    if (listy) snprintf(name, sizeof name, "%s.%s_quantizer.%d.%s", module, which, stage, param);
    else snprintf(name, sizeof name, "%s.%s_quantizer.%s", module, which, param);
  } else if (m->kind == QC_CKPT_FP8 && !strcmp(suffix, "output_scale") &&
             (!strcmp(strrchr(module, '.') ? strrchr(module, '.') + 1 : module, "k_proj") ||
              !strcmp(strrchr(module, '.') ? strrchr(module, '.') + 1 : module, "v_proj"))) {
    /* vLLM fp8: "<parent>.k_scale" / "<parent>.v_scale" */
    const char *leaf = strrchr(module, '.') ? strrchr(module, '.') + 1 : module;
    snprintf(name, sizeof name, "%.*s%c_scale", (int)(leaf - module), module, leaf[0]);
  } else if (m->kind == QC_CKPT_AWQ || m->kind == QC_CKPT_GPTQ) {
    const char *s = suffix;
    if (!strcmp(suffix, "weight")) s = "qweight";
    else if (!strcmp(suffix, "weight_scale")) s = "scales";
    else if (!strcmp(suffix, "weight_zero_point")) s = "qzeros";
    snprintf(name, sizeof name, "%s.%s", module, s);
  } else {
    snprintf(name, sizeof name, "%s.%s", module, suffix);
  }
  if (optional && !raw_has(m, name)) return QC_OK;
  return raw(m, name, out);
}

/* ---- QConfig resolution (Quark's get_layer_quant_config) ----------------------------------- */

static bool pattern_match(const char *pat, const char *name) {
  if (!strncmp(pat, "re:", 3)) {
    /* vLLM's exclude entries: a Python regex matched at the start of the name */
    qc_regex *rx;
    qc_status s = qc_regex_compile(pat + 3, &rx);
    if (s) {
      qc_status_free(s);
      return false;
    }
    size_t n = strlen(name);
    uint32_t *cp = malloc(sizeof *cp * (n ? n : 1));
    bool ok = false;
    if (cp) {
      for (size_t i = 0; i < n; i++) cp[i] = (unsigned char)name[i];
      size_t a, b;
      ok = qc_regex_search(rx, cp, n, 0, &a, &b) && a == 0;
    }
    free(cp);
    qc_regex_free(rx);
    return ok;
  }
  return fnmatch(pat, name, FNM_NOESCAPE) == 0;
}

/* The QLayerConfig of linear `name`, or NULL when it is not quantized. `kv_only` is set when
 * an excluded layer keeps only its KV-cache output quantizer. */
static const qc_json *layer_config(imp *m, const char *name, const qc_json **kv_out) {
  const qc_json *qc = m->qconfig;
  *kv_out = NULL;
  if (!qc) return NULL;
  const qc_json *cfg = NULL;
  const qc_json *lq = qc_json_get(qc, "layer_quant_config");
  for (const qc_json *c = qc_json_is(lq, QC_JSON_OBJECT) ? lq->first : NULL; c && !cfg; c = c->next)
    if (pattern_match(c->key, name)) cfg = c;
  if (!cfg) cfg = qc_json_get(qc_json_get(qc, "layer_type_quant_config"), "Linear");
  if (!cfg) cfg = qc_json_get(qc, "global_quant_config");
  const qc_json *kv = NULL;
  const qc_json *kq = qc_json_get(qc, "kv_cache_quant_config");
  for (const qc_json *c = qc_json_is(kq, QC_JSON_OBJECT) ? kq->first : NULL; c && !kv; c = c->next)
    if (pattern_match(c->key, name)) kv = c;
  const qc_json *ex = qc_json_get(qc, "exclude");
  for (const qc_json *e = qc_json_is(ex, QC_JSON_ARRAY) ? ex->first : NULL; e; e = e->next) {
    const char *p = qc_json_str(e);
    if (p && pattern_match(p, name)) {
      if (!kv) return NULL;
      *kv_out = kv;
      return NULL;
    }
  }
  return cfg;
}

/* The first stage of a spec (a QTensorConfig or a list of them). */
static const qc_json *stage0(const qc_json *spec) {
  return qc_json_is(spec, QC_JSON_ARRAY) ? qc_json_at(spec, 0) : spec;
}
static const char *sget(const qc_json *spec, const char *k) {
  return qc_json_str(qc_json_get(stage0(spec), k));
}
static bool is_null_spec(const qc_json *s) { return !s || s->kind == QC_JSON_NULL; }

/* ---- decoding Quark-layout weights ----------------------------------------------------------- */

static qc_status bad_layer(const imp *m, const char *module, const char *fmt, ...) QC_PRINTF(3, 4);
static qc_status bad_layer(const imp *m, const char *module, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: %s: %s", m->dir, module, msg);
}

/* A copy of src's bytes as dtype dt with shape dims. */
static qc_status as_dtype(const qc_tensor *src, qc_dtype dt, int32_t rank, const int64_t *dims,
                          qc_tensor *out) {
  int64_t n = qc_shape_numel(rank, dims);
  if (n < 0 || qc_dtype_nbytes(dt, (uint64_t)n) != qc_tensor_nbytes(src))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%zu bytes cannot be %s of %lld elements",
                         qc_tensor_nbytes(src), qc_dtype_name(dt), (long long)n);
  qc_tensor_init(out, dt, rank, dims, src->buf, src->offset);
  return QC_OK;
}

static qc_status int_convert(const qc_tensor *src, qc_dtype dt, qc_tensor *out) {
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, dt, src->rank, src->dims));
  int64_t n = qc_tensor_numel(src);
  for (int64_t i = 0; i < n; i++)
    qc_elem_set_i64(dt, qc_tensor_data(out), (size_t)i, qc_elem_i64(src->dtype, qc_tensor_data(src), (size_t)i));
  return QC_OK;
}

static qc_dtype quark_dtype(const char *s) {
  if (!s) return QC_DT_UNDEFINED;
  if (!strcmp(s, "int4")) return QC_I4;
  if (!strcmp(s, "uint4")) return QC_U4;
  if (!strcmp(s, "int8")) return QC_I8;
  if (!strcmp(s, "uint8")) return QC_U8;
  if (!strcmp(s, "fp8_e4m3")) return QC_F8E4M3FN;
  if (!strcmp(s, "fp8_e5m2")) return QC_F8E5M2;
  if (!strcmp(s, "fp4")) return QC_F4E2M1;
  if (!strcmp(s, "fp6_e2m3")) return QC_F6E2M3;
  if (!strcmp(s, "fp6_e3m2")) return QC_F6E3M2;
  return QC_DT_UNDEFINED;
}

/* Decode the real_quantized weight tensors of module P (Quark or AWQ layout). */
static qc_status decode_real(imp *m, const char *P, const qc_json *wspec, int64_t out_f,
                             int64_t in_f, qlayer *L) {
  bool listy = qc_json_is(wspec, QC_JSON_ARRAY);
  qc_dtype dt = quark_dtype(sget(wspec, "dtype"));
  const char *qs = sget(wspec, "qscheme");
  bool per_group = qs && !strcmp(qs, "per_group"), per_channel = qs && !strcmp(qs, "per_channel");
  qc_tensor W = {0}, S = {0}, Z = {0}, t = {0};
  qc_status s = fetch(m, P, "weight", listy, false, &W);
  if (!s) s = fetch(m, P, "weight_scale", listy, true, &S);
  if (!s) s = fetch(m, P, "weight_zero_point", listy, true, &Z);
  if (s) goto done;
  L->axis = 0;
  L->group = 0;
  switch (dt) {
  case QC_I4:
  case QC_U4:
    if (per_group) {
      if (S.rank != 2) {
        s = bad_layer(m, P, "a per-group int4 scale must be 2-D [in/G, out]");
        break;
      }
      int64_t out_n = S.dims[1];
      if (!(s = qc_tensor_unpack_int4(&W, out_n, m->reorder, dt, &t))) s = qc_tensor_transpose2d(&t, &L->q);
      qc_tensor_release(&t);
      if (!s) s = qc_tensor_transpose2d(&S, &L->scale);
      if (!s && has_t(&Z)) {
        if (!(s = qc_tensor_unpack_int4(&Z, out_n, m->reorder, dt, &t))) s = qc_tensor_transpose2d(&t, &L->zp);
        qc_tensor_release(&t);
      }
      L->axis = 1;
      L->group = qc_json_i64(qc_json_get(stage0(wspec), "group_size"), 0);
    } else if (per_channel) {
      int64_t n_in = in_f > 0 ? in_f : (W.rank == 2 ? W.dims[1] * 8 : 0);
      s = qc_tensor_unpack_int4(&W, n_in, m->reorder, dt, &L->q);
      if (!s) qc_tensor_copy_ref(&L->scale, &S);
      if (!s && has_t(&Z)) s = qc_tensor_unpack_int4(&Z, S.rank == 1 ? S.dims[0] : out_f, m->reorder, dt, &L->zp);
    } else {
      s = bad_layer(m, P, "int4 weights must be per-group or per-channel");
    }
    break;
  case QC_I8:
  case QC_U8:
    if (W.dtype != dt) {
      s = bad_layer(m, P, "an %s weight stored as %s", qc_dtype_name(dt), qc_dtype_name(W.dtype));
      break;
    }
    if (per_group) {
      if (!(s = qc_tensor_transpose2d(&W, &L->q))) s = qc_tensor_transpose2d(&S, &L->scale);
      if (!s && has_t(&Z)) s = qc_tensor_transpose2d(&Z, &L->zp);
      L->axis = 1;
      L->group = qc_json_i64(qc_json_get(stage0(wspec), "group_size"), 0);
    } else {
      qc_tensor_copy_ref(&L->q, &W);
      qc_tensor_copy_ref(&L->scale, &S);
      if (has_t(&Z)) qc_tensor_copy_ref(&L->zp, &Z);
    }
    break;
  case QC_F8E4M3FN:
  case QC_F8E5M2:
    if (W.dtype != dt) {
      s = bad_layer(m, P, "an %s weight stored as %s", qc_dtype_name(dt), qc_dtype_name(W.dtype));
      break;
    }
    qc_tensor_copy_ref(&L->q, &W);
    qc_tensor_copy_ref(&L->scale, &S);
    break;
  case QC_F4E2M1:
  case QC_F6E2M3:
  case QC_F6E3M2: {
    int bits = dt == QC_F4E2M1 ? 4 : 6;
    if (W.rank != 2 || (W.dims[1] * 8) % bits) {
      s = bad_layer(m, P, "a packed fp%d weight must be 2-D bytes", bits);
      break;
    }
    s = as_dtype(&W, dt, 2, (int64_t[]){W.dims[0], W.dims[1] * 8 / bits}, &L->q);
    L->axis = 1;
    L->group = qc_json_i64(qc_json_get(stage0(wspec), "group_size"), 32);
    const char *sf = sget(wspec, "scale_format");
    if (!s && listy) { /* NVFP4: block scales quantized by a second stage */
      qc_tensor S2;
      if (!(s = fetch(m, P, "weight_scale_2", true, false, &S2))) {
        L->scale_codes = S;
        memset(&S, 0, sizeof S);
        L->scale2 = S2;
      }
    } else if (!s && sf && !strcmp(sf, "e8m0")) {
      s = as_dtype(&S, QC_E8M0, S.rank, S.dims, &L->scale);
    } else if (!s) {
      qc_tensor_copy_ref(&L->scale, &S);
    }
    break;
  }
  default: s = bad_layer(m, P, "weight dtype '%s' is not supported", sget(wspec, "dtype") ? sget(wspec, "dtype") : "?");
  }
  if (!s && L->q.rank == 2 && ((out_f > 0 && L->q.dims[0] != out_f) || (in_f > 0 && L->q.dims[1] != in_f)))
    s = bad_layer(m, P, "the weight decodes to [%lld, %lld], the model needs [%lld, %lld]",
                  (long long)L->q.dims[0], (long long)L->q.dims[1], (long long)out_f, (long long)in_f);
done:
  qc_tensor_release(&W);
  qc_tensor_release(&S);
  qc_tensor_release(&Z);
  return s;
}

/* Fake-quantized checkpoints: float weight, scales in the graph's layout, int32 zero points. */
static qc_status decode_fake(imp *m, const char *P, const qc_json *wspec, qlayer *L) {
  bool listy = qc_json_is(wspec, QC_JSON_ARRAY);
  qc_dtype dt = quark_dtype(sget(wspec, "dtype"));
  const char *qs = sget(wspec, "qscheme");
  qc_tensor Z = {0};
  L->fake = true;
  qc_status s = fetch(m, P, "weight", listy, false, &L->q);
  if (!s) s = fetch(m, P, "weight_scale", listy, true, &L->scale);
  if (!s) s = fetch(m, P, "weight_zero_point", listy, true, &Z);
  /* A two-stage (NVFP4) weight: the fake-quantized scales are fp8 codes times the second
   * stage's scale. They become DequantizePacked(codes, scale_2), which gives them back
   * bit for bit (the codes are exact: weight_scale = f32(fp8 * scale_2)). */
  if (!s && listy) {
    qc_tensor S2 = {0};
    s = fetch(m, P, "weight_scale_2", listy, false, &S2);
    qc_dtype cdt = quark_dtype(qc_json_str(qc_json_get(qc_json_at(wspec, 1), "dtype")));
    if (!s && (cdt != QC_F8E4M3FN || qc_tensor_numel(&S2) != 1 || L->scale.dtype != QC_F32))
      s = bad_layer(m, P, "a two-stage fake-quantized weight other than NVFP4 (fp8 scales, f32 per-tensor scale)");
    if (!s) s = qc_tensor_alloc(&L->scale_codes, NULL, QC_F8E4M3FN, L->scale.rank, L->scale.dims);
    if (!s) {
      float s2 = (float)qc_elem_f64(S2.dtype, qc_tensor_data(&S2), 0);
      int64_t ns = qc_tensor_numel(&L->scale);
      const float *sp = qc_tensor_data(&L->scale);
      for (int64_t i = 0; i < ns; i++) {
        uint32_t c = qc_float_encode(QC_F8E4M3FN, (double)(sp[i] / s2), QC_ENC_SATURATE);
        if ((float)qc_float_decode(QC_F8E4M3FN, c) * s2 != sp[i]) {
          s = bad_layer(m, P, "weight_scale[%lld] is not an fp8 value times weight_scale_2", (long long)i);
          break;
        }
        qc_elem_set_code(QC_F8E4M3FN, qc_tensor_data(&L->scale_codes), (size_t)i, c);
      }
    }
    if (!s) {
      qc_tensor_release(&L->scale);
      L->scale2 = S2;
      memset(&S2, 0, sizeof S2);
    }
    qc_tensor_release(&S2);
  }
  if (!s && has_t(&Z) && !listy) {
    /* zero points in the dtype being quantized to (int4/uint4 take the sub-byte type) */
    qc_dtype zdt = qc_dtype_is_int(dt) ? dt : QC_I32;
    s = int_convert(&Z, zdt, &L->zp);
  }
  qc_tensor_release(&Z);
  if (s) return s;
  L->axis = qs && !strcmp(qs, "per_group") ? 1 : 0;
  L->group = qs && !strcmp(qs, "per_group") ? qc_json_i64(qc_json_get(stage0(wspec), "group_size"), 0) : 0;
  return QC_OK;
}

/* ---- the weight source ------------------------------------------------------------------------- */

static qlayer *find_layer(imp *m, const char *module) {
  for (int32_t i = 0; i < m->n_layers; i++)
    if (!strcmp(m->layers[i].module, module)) return &m->layers[i];
  return NULL;
}

static qlayer *new_layer(imp *m, const char *module) {
  if (m->n_layers == m->cap_layers) {
    int32_t nc = m->cap_layers ? m->cap_layers * 2 : 32;
    qlayer *nl = realloc(m->layers, sizeof *nl * (size_t)nc);
    if (!nl) return NULL;
    m->layers = nl;
    m->cap_layers = nc;
  }
  qlayer *L = &m->layers[m->n_layers];
  memset(L, 0, sizeof *L);
  L->module = qc_arena_strdup(&m->ar, module);
  if (!L->module) return NULL;
  m->n_layers++;
  return L;
}

/* Whether module P's weight is stored quantized in this checkpoint. */
static bool weight_is_quantized(const imp *m, const char *P) {
  char n[2048];
  if (m->kind == QC_CKPT_AWQ || m->kind == QC_CKPT_GPTQ) {
    snprintf(n, sizeof n, "%s.qweight", P);
    return raw_has(m, n);
  }
  if (m->kind == QC_CKPT_QUARK_NATIVE) {
    snprintf(n, sizeof n, "%s.weight_quantizer.scale", P);
    if (raw_has(m, n)) return true;
    snprintf(n, sizeof n, "%s.weight_quantizer.0.scale", P);
    return raw_has(m, n);
  }
  snprintf(n, sizeof n, "%s.weight_scale", P);
  return raw_has(m, n);
}

/* Features of a linear from the model config ([out, in]), -1 where unknown. */
static void linear_shape(const imp *m, const char *P, int64_t *out_f, int64_t *in_f) {
  const qc_model_config *c = &m->mc;
  const char *leaf = strrchr(P, '.');
  leaf = leaf ? leaf + 1 : P;
  int64_t H = c->hidden_size, I = c->intermediate_size, D = c->head_dim;
  *out_f = *in_f = -1;
  if (c->arch != QC_ARCH_LLAMA) return;
  if (!strcmp(leaf, "q_proj")) *out_f = c->num_heads * D, *in_f = H;
  else if (!strcmp(leaf, "k_proj") || !strcmp(leaf, "v_proj")) *out_f = c->num_kv_heads * D, *in_f = H;
  else if (!strcmp(leaf, "o_proj")) *out_f = H, *in_f = c->num_heads * D;
  else if (!strcmp(leaf, "gate_proj") || !strcmp(leaf, "up_proj")) *out_f = I, *in_f = H;
  else if (!strcmp(leaf, "down_proj")) *out_f = H, *in_f = I;
  else if (!strcmp(leaf, "lm_head")) *out_f = c->vocab_size, *in_f = H;
}

static qc_status gptq_decode(imp *m, const char *P, qlayer *L);
static qc_status ct_decode(imp *m, const char *P, qlayer *L);

static qc_status src_get(void *ctx, const char *name, qc_tensor *out) {
  imp *m = ctx;
  memset(out, 0, sizeof *out);
  size_t n = strlen(name);
  if (n > 7 && !strcmp(name + n - 7, ".weight")) {
    char P[1024];
    snprintf(P, sizeof P, "%.*s", (int)(n - 7), name);
    qlayer *L = find_layer(m, P);
    if (L && L->weight_q) {
      qc_tensor_copy_ref(out, &L->q);
      return QC_OK;
    }
    bool q = false;
    if (m->kind == QC_CKPT_COMPRESSED_TENSORS) {
      char k[2048];
      snprintf(k, sizeof k, "%s.weight_packed", P);
      q = raw_has(m, k);
      snprintf(k, sizeof k, "%s.weight_scale", P);
      q = q || raw_has(m, k);
    } else if (m->kind != QC_CKPT_FLOAT) {
      q = weight_is_quantized(m, P);
    }
    if (q) {
      L = new_layer(m, P);
      if (!L) return QC_OOM();
      L->weight_q = true;
      const qc_json *kv;
      L->spec = layer_config(m, P, &kv);
      qc_status s;
      if (m->kind == QC_CKPT_GPTQ) s = gptq_decode(m, P, L);
      else if (m->kind == QC_CKPT_COMPRESSED_TENSORS) s = ct_decode(m, P, L);
      else {
        const qc_json *ws = qc_json_get(L->spec, "weight");
        if (is_null_spec(ws))
          return bad_layer(m, P, "has quantized weights but its QConfig quantizes no weight");
        int64_t of, inf;
        linear_shape(m, P, &of, &inf);
        s = m->fake ? decode_fake(m, P, ws, L) : decode_real(m, P, ws, of, inf, L);
      }
      if (s) return s;
      qc_tensor_copy_ref(out, &L->q);
      return QC_OK;
    }
  }
  return raw(m, name, out);
}

/* ---- GPTQ and compressed-tensors ------------------------------------------------------------- */

/* GPTQ (AutoGPTQ / GPTQModel): qweight int32 [K/8, N] packed along K (element k in nibble
 * k%8 of word k/8), qzeros int32 [K/G, N/8] (stored zero point - 1 in format "gptq", the zero
 * point itself in "gptq_v2"), scales fp16 [K/G, N], g_idx int32 [K] (group of input channel
 * k). Contiguous groups (g_idx[k] = k/G) give per-group uint4 with group G; any other g_idx
 * (desc_act) is expanded to one scale per element (group 1), which is exact. */
static qc_status gptq_decode(imp *m, const char *P, qlayer *L) {
  const qc_json *q = m->qcfg;
  int64_t bits = qc_json_i64(qc_json_get(q, "bits"), 4);
  if (bits != 4) return bad_layer(m, P, "GPTQ with %lld bits is not supported (only 4)", (long long)bits);
  const char *fmt = qc_json_str(qc_json_get(q, "checkpoint_format"));
  bool v2 = fmt && !strcmp(fmt, "gptq_v2");
  char n[2048];
  qc_tensor W = {0}, Z = {0}, S = {0}, G = {0}, t = {0}, zt = {0};
  snprintf(n, sizeof n, "%s.qweight", P);
  qc_status s = raw(m, n, &W);
  snprintf(n, sizeof n, "%s.qzeros", P);
  if (!s) s = raw(m, n, &Z);
  snprintf(n, sizeof n, "%s.scales", P);
  if (!s) s = raw(m, n, &S);
  snprintf(n, sizeof n, "%s.g_idx", P);
  if (!s && raw_has(m, n)) s = raw(m, n, &G);
  if (s) goto done;
  if (W.rank != 2 || S.rank != 2 || Z.rank != 2) {
    s = bad_layer(m, P, "GPTQ tensors must be 2-D");
    goto done;
  }
  int64_t K = W.dims[0] * 8, N = W.dims[1], ng = S.dims[0];
  /* qweight is packed along K (dim 0): transpose the words to pack along the last dim */
  qc_tensor Wt = {0};
  if (!(s = qc_tensor_transpose2d(&W, &Wt))) s = qc_tensor_unpack_int4(&Wt, K, false, QC_U4, &L->q); /* [N, K] */
  qc_tensor_release(&Wt);
  if (!s) s = qc_tensor_unpack_int4(&Z, N, false, QC_U4, &zt); /* [ng, N] */
  if (s) goto done;
  if (!v2) { /* v1 stores zero point - 1 */
    int64_t nz = qc_tensor_numel(&zt);
    for (int64_t i = 0; i < nz; i++)
      qc_elem_set_code(QC_U4, qc_tensor_data(&zt), (size_t)i,
                       (qc_elem_code(QC_U4, qc_tensor_data(&zt), (size_t)i) + 1) & 15);
  }
  bool contiguous = true;
  int64_t gsz = ng ? K / ng : K;
  if (has_t(&G)) {
    for (int64_t k = 0; k < K && contiguous; k++)
      contiguous = qc_elem_i64(G.dtype, qc_tensor_data(&G), (size_t)k) == (gsz ? k / gsz : 0);
  }
  if (contiguous) {
    if (!(s = qc_tensor_transpose2d(&S, &L->scale))) s = qc_tensor_transpose2d(&zt, &L->zp); /* [N, ng] */
    L->axis = 1;
    L->group = gsz;
  } else {
    /* one scale and zero point per element: scale[n][k] = scales[g_idx[k]][n] */
    if (!(s = qc_tensor_alloc(&L->scale, NULL, S.dtype, 2, (int64_t[]){N, K})))
      s = qc_tensor_alloc(&L->zp, NULL, QC_U4, 2, (int64_t[]){N, K});
    size_t es = qc_dtype_nbytes(S.dtype, 1);
    for (int64_t nn = 0; nn < N && !s; nn++)
      for (int64_t k = 0; k < K; k++) {
        int64_t g = qc_elem_i64(G.dtype, qc_tensor_data(&G), (size_t)k);
        if (g < 0 || g >= ng) {
          s = bad_layer(m, P, "g_idx[%lld] = %lld is out of range", (long long)k, (long long)g);
          break;
        }
        memcpy((char *)qc_tensor_data(&L->scale) + (size_t)(nn * K + k) * es,
               (const char *)qc_tensor_data(&S) + (size_t)(g * N + nn) * es, es);
        qc_elem_set_code(QC_U4, qc_tensor_data(&L->zp), (size_t)(nn * K + k),
                         qc_elem_code(QC_U4, qc_tensor_data(&zt), (size_t)(g * N + nn)));
      }
    L->axis = 1;
    L->group = 1;
  }
done:
  qc_tensor_release(&t);
  qc_tensor_release(&zt);
  qc_tensor_release(&W);
  qc_tensor_release(&Z);
  qc_tensor_release(&S);
  qc_tensor_release(&G);
  return s;
}

/* compressed-tensors: the quantization args of the config group whose targets match. */
static const qc_json *ct_weights_args(const imp *m, const char *P) {
  const qc_json *groups = qc_json_get(m->qcfg, "config_groups");
  for (const qc_json *g = qc_json_is(groups, QC_JSON_OBJECT) ? groups->first : NULL; g; g = g->next) {
    const qc_json *targets = qc_json_get(g, "targets");
    for (const qc_json *t = qc_json_is(targets, QC_JSON_ARRAY) ? targets->first : NULL; t; t = t->next) {
      const char *ts = qc_json_str(t);
      if (!ts) continue;
      if (!strcmp(ts, "Linear") || pattern_match(ts, P)) return qc_json_get(g, "weights");
    }
  }
  return NULL;
}

/* compressed-tensors "pack-quantized": weight_packed int32 [N, K/8] (signed values + 8 as
 * unsigned nibbles, element k in nibble k%8), weight_scale [N, K/G] (or [N, 1] per channel),
 * weight_zero_point int32 [ceil(N/8), K/G] packed along N (asymmetric only), weight_shape.
 * "float-quantized": weight F8_E4M3 [N, K], weight_scale [N, 1] or [1]. */
static qc_status ct_decode(imp *m, const char *P, qlayer *L) {
  const qc_json *args = ct_weights_args(m, P);
  if (!args) return bad_layer(m, P, "no compressed-tensors config group targets this layer");
  const char *type = qc_json_str(qc_json_get(args, "type"));
  int64_t bits = qc_json_i64(qc_json_get(args, "num_bits"), 0);
  const char *strategy = qc_json_str(qc_json_get(args, "strategy"));
  bool sym = !qc_json_is(qc_json_get(args, "symmetric"), QC_JSON_BOOL) || qc_json_is_true(qc_json_get(args, "symmetric"));
  char n[2048];
  qc_tensor W = {0}, S = {0}, Z = {0}, t = {0};
  qc_status s = QC_OK;
  snprintf(n, sizeof n, "%s.weight_scale", P);
  s = raw(m, n, &S);
  if (s) return s;
  if (type && !strcmp(type, "float") && bits == 8) {
    snprintf(n, sizeof n, "%s.weight", P);
    if (!(s = raw(m, n, &W))) {
      if (W.dtype != QC_F8E4M3FN) s = bad_layer(m, P, "float-quantized weights must be F8_E4M3");
      qc_tensor_copy_ref(&L->q, &W);
      /* [N, 1] -> [N] per channel, [1] -> [] per tensor */
      if (!s && S.rank == 2 && S.dims[1] == 1) s = as_dtype(&S, S.dtype, 1, S.dims, &L->scale);
      else if (!s && qc_tensor_numel(&S) == 1) s = as_dtype(&S, S.dtype, 0, NULL, &L->scale);
      else if (!s) qc_tensor_copy_ref(&L->scale, &S);
      L->axis = 0;
    }
  } else if (type && !strcmp(type, "int") && bits == 4) {
    snprintf(n, sizeof n, "%s.weight_packed", P);
    if (!(s = raw(m, n, &W))) {
      int64_t N = W.dims[0], K = W.dims[1] * 8;
      int64_t of, inf;
      linear_shape(m, P, &of, &inf);
      if (inf > 0) K = inf;
      s = qc_tensor_unpack_int4(&W, K, false, QC_U4, &t); /* offset-binary codes q + 8 */
      if (!s) s = qc_tensor_alloc(&L->q, NULL, QC_I4, 2, (int64_t[]){N, K});
      for (int64_t i = 0; !s && i < N * K; i++)
        qc_elem_set_i64(QC_I4, qc_tensor_data(&L->q), (size_t)i,
                        (int64_t)qc_elem_code(QC_U4, qc_tensor_data(&t), (size_t)i) - 8);
      qc_tensor_release(&t);
      bool group = strategy && !strcmp(strategy, "group");
      if (!s && group) {
        qc_tensor_copy_ref(&L->scale, &S);
        L->axis = 1;
        L->group = qc_json_i64(qc_json_get(args, "group_size"), 0);
      } else if (!s) {
        s = S.rank == 2 && S.dims[1] == 1 ? as_dtype(&S, S.dtype, 1, S.dims, &L->scale)
                                          : (qc_tensor_copy_ref(&L->scale, &S), QC_OK);
        L->axis = 0;
      }
      snprintf(n, sizeof n, "%s.weight_zero_point", P);
      if (!s && !sym && raw_has(m, n) && !(s = raw(m, n, &Z))) {
        /* packed along N (dim 0): [ceil(N/8), ng] -> [ng, ceil(N/8)] -> [ng, N] -> [N, ng] */
        qc_tensor zt = {0}, zu = {0};
        if (!(s = qc_tensor_transpose2d(&Z, &zt))) s = qc_tensor_unpack_int4(&zt, N, false, QC_U4, &zu);
        qc_tensor z2 = {0};
        if (!s) s = qc_tensor_transpose2d(&zu, &z2);
        if (!s) s = qc_tensor_alloc(&L->zp, NULL, QC_I4, z2.rank, z2.dims);
        for (int64_t i = 0; !s && i < qc_tensor_numel(&z2); i++)
          qc_elem_set_i64(QC_I4, qc_tensor_data(&L->zp), (size_t)i,
                          (int64_t)qc_elem_code(QC_U4, qc_tensor_data(&z2), (size_t)i) - 8);
        if (!s && !group && L->zp.rank == 2) {
          qc_tensor z1;
          if (!(s = as_dtype(&L->zp, QC_I4, 1, L->zp.dims, &z1))) {
            qc_tensor_release(&L->zp);
            L->zp = z1;
          }
        }
        qc_tensor_release(&zt);
        qc_tensor_release(&zu);
        qc_tensor_release(&z2);
      }
    }
  } else {
    s = bad_layer(m, P, "compressed-tensors %s%lld weights are not supported (int4 pack-quantized "
                        "and float8 float-quantized are)", type ? type : "?", (long long)bits);
  }
  qc_tensor_release(&W);
  qc_tensor_release(&S);
  qc_tensor_release(&Z);
  return s;
}

/* ---- QConfigs for the non-Quark checkpoints ------------------------------------------------------ */

/* A QTensorConfig in QConfig.to_dict() form (field order of Quark 0.13). */
static qc_json *tensor_spec(qc_arena *ar, const char *dtype, bool dynamic, const char *qscheme,
                            int64_t ch_axis, int64_t group, int symmetric, const char *observer,
                            const char *scale_type) {
  qc_json *o = qc_json_object(ar);
  if (!o) return NULL;
  bool ok = qc_json_set(ar, o, "dtype", qc_json_string(ar, dtype)) &&
            qc_json_set(ar, o, "is_dynamic", qc_json_bool(ar, dynamic)) &&
            qc_json_set(ar, o, "qscheme", qc_json_string(ar, qscheme)) &&
            qc_json_set(ar, o, "ch_axis", ch_axis == INT64_MIN ? qc_json_null(ar) : qc_json_int(ar, ch_axis)) &&
            qc_json_set(ar, o, "group_size", group ? qc_json_int(ar, group) : qc_json_null(ar)) &&
            qc_json_set(ar, o, "block_size", qc_json_null(ar)) &&
            qc_json_set(ar, o, "symmetric", symmetric < 0 ? qc_json_null(ar) : qc_json_bool(ar, symmetric)) &&
            qc_json_set(ar, o, "round_method", qc_json_string(ar, "half_even")) &&
            qc_json_set(ar, o, "scale_type", scale_type ? qc_json_string(ar, scale_type) : qc_json_null(ar)) &&
            qc_json_set(ar, o, "zero_point_type", qc_json_string(ar, "int32")) &&
            qc_json_set(ar, o, "scale_format", qc_json_null(ar)) &&
            qc_json_set(ar, o, "scale_calculation_mode", qc_json_null(ar)) &&
            qc_json_set(ar, o, "mx_element_dtype", qc_json_null(ar)) &&
            qc_json_set(ar, o, "observer_cls", qc_json_string(ar, observer)) &&
            qc_json_set(ar, o, "is_scale_quant", qc_json_bool(ar, false)) &&
            qc_json_set(ar, o, "enable_buffer_reuse", qc_json_bool(ar, false)) &&
            qc_json_set(ar, o, "max_input_numel", qc_json_int(ar, 4194304));
  return ok ? o : NULL;
}

static qc_json *layer_spec(qc_arena *ar, qc_json *in, qc_json *out, qc_json *w) {
  qc_json *o = qc_json_object(ar);
  bool ok = o && qc_json_set(ar, o, "input_tensors", in ? in : qc_json_null(ar)) &&
            qc_json_set(ar, o, "output_tensors", out ? out : qc_json_null(ar)) &&
            qc_json_set(ar, o, "weight", w ? w : qc_json_null(ar)) &&
            qc_json_set(ar, o, "bias", qc_json_null(ar)) &&
            qc_json_set(ar, o, "target_device", qc_json_null(ar));
  return ok ? o : NULL;
}

static qc_json *qconfig(qc_arena *ar, qc_json *global, const qc_json *exclude, qc_json *layer_q,
                        qc_json *kv_q, qc_json *algo) {
  qc_json *o = qc_json_object(ar);
  bool ok = o && qc_json_set(ar, o, "global_quant_config", global) &&
            qc_json_set(ar, o, "exclude", exclude ? qc_json_clone(ar, exclude) : qc_json_array(ar)) &&
            qc_json_set(ar, o, "algo_config", algo ? algo : qc_json_null(ar)) &&
            qc_json_set(ar, o, "softmax_quant_spec", qc_json_null(ar)) &&
            qc_json_set(ar, o, "quant_method", qc_json_string(ar, "quark")) &&
            qc_json_set(ar, o, "layer_type_quant_config", qc_json_object(ar)) &&
            qc_json_set(ar, o, "layer_quant_config", layer_q ? layer_q : qc_json_object(ar)) &&
            qc_json_set(ar, o, "kv_cache_quant_config", kv_q ? kv_q : qc_json_object(ar)) &&
            qc_json_set(ar, o, "kv_cache_post_rope", qc_json_bool(ar, false)) &&
            qc_json_set(ar, o, "quant_mode", qc_json_string(ar, "eager_mode")) &&
            qc_json_set(ar, o, "version", qc_json_string(ar, "quarc"));
  return ok ? o : NULL;
}

/* Quark's QuantConfigParser.from_custom_config (AWQ, fp8), for GPTQ and compressed-tensors
 * the equivalent Quark description; the original block is kept as "export"-free metadata. */
static qc_status synth_qconfig(imp *m) {
  qc_arena *ar = &m->ar;
  const qc_json *q = m->qcfg;
  const char *qm = qc_json_str(qc_json_get(q, "quant_method"));
  qc_json *qc = NULL;
  if (m->kind == QC_CKPT_AWQ) {
    int64_t bits = qc_json_i64(qc_json_get(q, "bits"), qc_json_i64(qc_json_get(q, "w_bit"), 4));
    bool zp = !qc_json_is(qc_json_get(q, "zero_point"), QC_JSON_BOOL) || qc_json_is_true(qc_json_get(q, "zero_point"));
    int64_t g = qc_json_i64(qc_json_get(q, "group_size"), qc_json_i64(qc_json_get(q, "q_group_size"), 128));
    const char *dt = bits == 4 ? (zp ? "uint4" : "int4") : (zp ? "uint8" : "int8");
    qc_json *w = tensor_spec(ar, dt, false, "per_group", 1, g, !zp, "PerGroupMinMaxObserver", "float");
    qc_json *algo = qc_json_array(ar), *a = qc_json_object(ar);
    if (algo && a && qc_json_set(ar, a, "name", qc_json_string(ar, "awq"))) qc_json_push(algo, a);
    qc = qconfig(ar, layer_spec(ar, NULL, NULL, w), qc_json_get(q, "modules_to_not_convert"), NULL, NULL, algo);
  } else if (m->kind == QC_CKPT_FP8) {
    const char *as = qc_json_str(qc_json_get(q, "activation_scheme"));
    qc_json *w = tensor_spec(ar, "fp8_e4m3", false, "per_tensor", INT64_MIN, 0, -1, "PerTensorMinMaxObserver", NULL);
    qc_json *in = as ? tensor_spec(ar, "fp8_e4m3", !strcmp(as, "dynamic"), "per_tensor", INT64_MIN, 0, -1,
                                   "PerTensorMinMaxObserver", NULL)
                     : NULL;
    qc_json *lq = qc_json_object(ar), *kq = qc_json_object(ar);
    const char *kvs = qc_json_str(qc_json_get(q, "kv_cache_scheme"));
    const qc_json *kvg = qc_json_get(qc_json_get(q, "export"), "kv_cache_group");
    for (const qc_json *k = kvs && qc_json_is(kvg, QC_JSON_ARRAY) ? kvg->first : NULL; k && lq && kq; k = k->next) {
      qc_json *out = tensor_spec(ar, "fp8_e4m3", !strcmp(kvs, "dynamic"), "per_tensor", INT64_MIN, 0, -1,
                                 "PerTensorMinMaxObserver", NULL);
      qc_json *l = layer_spec(ar, in ? qc_json_clone(ar, in) : NULL, out, qc_json_clone(ar, w));
      if (!l || !qc_json_str(k)) continue;
      qc_json_set(ar, lq, qc_json_str(k), l);
      qc_json_set(ar, kq, qc_json_str(k), qc_json_clone(ar, l));
    }
    qc = qconfig(ar, layer_spec(ar, in, NULL, w), qc_json_get(q, "ignored_layers"), lq, kq, NULL);
  } else if (m->kind == QC_CKPT_GPTQ) {
    int64_t g = qc_json_i64(qc_json_get(q, "group_size"), 128);
    bool sym = !qc_json_is(qc_json_get(q, "sym"), QC_JSON_BOOL) || qc_json_is_true(qc_json_get(q, "sym"));
    qc_json *w = g > 0 ? tensor_spec(ar, "uint4", false, "per_group", 1, g, sym, "PerGroupMinMaxObserver", "float")
                       : tensor_spec(ar, "uint4", false, "per_channel", 0, 0, sym, "PerChannelMinMaxObserver", "float");
    qc_json *algo = qc_json_array(ar), *a = qc_json_object(ar);
    if (algo && a && qc_json_set(ar, a, "name", qc_json_string(ar, "gptq"))) qc_json_push(algo, a);
    qc_json *ex = qc_json_array(ar);
    if (ex && !qc_json_is_true(qc_json_get(q, "lm_head"))) qc_json_push(ex, qc_json_string(ar, "lm_head"));
    qc = qconfig(ar, layer_spec(ar, NULL, NULL, w), ex, NULL, NULL, algo);
  } else if (m->kind == QC_CKPT_COMPRESSED_TENSORS) {
    const qc_json *groups = qc_json_get(q, "config_groups");
    const qc_json *g0 = qc_json_is(groups, QC_JSON_OBJECT) ? groups->first : NULL;
    const qc_json *wa = qc_json_get(g0, "weights"), *ia = qc_json_get(g0, "input_activations");
    const char *type = qc_json_str(qc_json_get(wa, "type"));
    const char *strategy = qc_json_str(qc_json_get(wa, "strategy"));
    bool sym = !qc_json_is(qc_json_get(wa, "symmetric"), QC_JSON_BOOL) || qc_json_is_true(qc_json_get(wa, "symmetric"));
    qc_json *w, *in = NULL;
    bool fp = type && !strcmp(type, "float");
    bool group = strategy && !strcmp(strategy, "group"), channel = strategy && !strcmp(strategy, "channel");
    const char *dt = fp ? "fp8_e4m3" : "int4";
    if (group) w = tensor_spec(ar, dt, false, "per_group", 1, qc_json_i64(qc_json_get(wa, "group_size"), 0), sym, "PerGroupMinMaxObserver", "float");
    else if (channel) w = tensor_spec(ar, dt, false, "per_channel", 0, 0, sym, "PerChannelMinMaxObserver", "float");
    else w = tensor_spec(ar, dt, false, "per_tensor", INT64_MIN, 0, sym, "PerTensorMinMaxObserver", "float");
    if (qc_json_is(ia, QC_JSON_OBJECT)) {
      const char *ist = qc_json_str(qc_json_get(ia, "strategy"));
      bool dyn = qc_json_is_true(qc_json_get(ia, "dynamic"));
      bool token = ist && !strcmp(ist, "token");
      in = tensor_spec(ar, fp ? "fp8_e4m3" : "int8", dyn, token ? "per_channel" : "per_tensor",
                       token ? 1 : INT64_MIN, 0, 1, token ? "PerChannelMinMaxObserver" : "PerTensorMinMaxObserver",
                       "float");
    }
    qc = qconfig(ar, layer_spec(ar, in, NULL, w), qc_json_get(q, "ignore"), NULL, NULL, NULL);
  }
  (void)qm;
  if (!qc) return QC_OOM();
  m->qconfig = qc;
  return QC_OK;
}

/* ---- rewriting the built graph ------------------------------------------------------------------ */

static qc_status add_const(qc_graph *g, const char *name, const qc_tensor *t, qc_vid *out) {
  return qc_graph_add_const(g, name, t, out);
}

static int onnx_code(qc_dtype dt) { return qc_dtype_traits_of(dt)->onnx; }

/* A compact JSON string of a spec for FakeQuant's `spec` attribute. */
static char *spec_text(const qc_json *spec) { return qc_json_write(spec, -1, false, NULL); }

/* FakeQuant(v, scale, zp) replacing every use of v except the new node; returns its output. */
static qc_status insert_fq_after(qc_graph *g, qc_vid v, const char *name, qc_vid scale, qc_vid zp,
                                 const qc_json *spec, int64_t axis, int64_t group) {
  qc_vid in[3] = {v, scale, zp};
  int32_t n_in = zp != QC_NONE ? 3 : scale != QC_NONE ? 2 : 1;
  qc_nid n;
  const char *outs[1] = {name};
  QC_RETURN_IF_ERROR(qc_graph_add_node(g, QC_OP_Q_FakeQuant, name, n_in, in, 1, outs, &n));
  char *st = spec_text(spec);
  if (!st) return QC_OOM();
  qc_status s = qc_node_set_string(g, n, "spec", st);
  free(st);
  if (!s && axis) s = qc_node_set_int(g, n, "axis", axis);
  if (!s && group) s = qc_node_set_int(g, n, "group_size", group);
  qc_vid o = qc_graph_node(g, n)->out[0];
  if (!s) s = qc_graph_replace_uses(g, v, o);
  if (!s) qc_node_set_input(g, n, 0, v);
  return s;
}

/* FakeQuant's axis and group_size for a per-channel / per-group activation spec: the spec's
 * ch_axis normalized for the rank of x (runtime/k_qc.h). */
static qc_status set_act_axis(qc_graph *g, qc_nid n, const qc_json *spec, qc_vid x) {
  const char *qs = sget(spec, "qscheme");
  if (!qs || (strcmp(qs, "per_channel") && strcmp(qs, "per_group"))) return QC_OK;
  int32_t rank = qc_graph_value(g, x)->type.rank;
  int64_t a = qc_json_i64(qc_json_get(stage0(spec), "ch_axis"), -1);
  if (a < 0 && rank > 0) a += rank;
  if (a < 0) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: ch_axis for an input of unknown rank", qc_node_desc(g, n));
  QC_RETURN_IF_ERROR(qc_node_set_int(g, n, "axis", a));
  int64_t gs = qc_json_i64(qc_json_get(stage0(spec), "group_size"), 0);
  if (!strcmp(qs, "per_group") && gs) QC_RETURN_IF_ERROR(qc_node_set_int(g, n, "group_size", gs));
  return QC_OK;
}

/* The quantizer of an activation: static tensors (<which>_scale, _zero_point, or the second
 * stage's _2 when the first is dynamic), and the spec. */
static qc_status add_act(imp *m, qc_graph *g, const char *P, const char *which, const qc_json *spec,
                         qc_vid target, bool before_matmul, qc_nid mm) {
  if (is_null_spec(spec)) return QC_OK;
  bool listy = qc_json_is(spec, QC_JSON_ARRAY);
  bool second = listy && qc_json_is_true(qc_json_get(qc_json_at(spec, 0), "is_dynamic"));
  char sfx[64], name[1024];
  qc_tensor S = {0}, Z = {0};
  snprintf(sfx, sizeof sfx, "%s_scale%s", which, second && !m->fake ? "_2" : "");
  if (second && m->kind == QC_CKPT_QUARK_NATIVE) snprintf(sfx, sizeof sfx, "%s_scale_2", which);
  QC_RETURN_IF_ERROR(fetch(m, P, sfx, listy, true, &S));
  snprintf(sfx, sizeof sfx, "%s_zero_point%s", which, second && !m->fake ? "_2" : "");
  qc_status s = fetch(m, P, sfx, listy, true, &Z);
  qc_vid sv = QC_NONE, zv = QC_NONE;
  if (!s && has_t(&S)) {
    snprintf(name, sizeof name, "%s.%s_scale", P, which);
    s = add_const(g, name, &S, &sv);
  }
  if (!s && has_t(&Z)) {
    qc_tensor z = {0};
    const char *dts = sget(spec, "dtype");
    qc_dtype zdt = quark_dtype(dts);
    if (m->fake && qc_dtype_is_int(zdt) && Z.dtype != zdt) s = int_convert(&Z, zdt, &z);
    else qc_tensor_copy_ref(&z, &Z);
    snprintf(name, sizeof name, "%s.%s_zero_point", P, which);
    if (!s) s = add_const(g, name, &z, &zv);
    qc_tensor_release(&z);
  }
  qc_tensor_release(&S);
  qc_tensor_release(&Z);
  if (s) return s;
  snprintf(name, sizeof name, "%s.%s_quant", P, which);
  if (before_matmul) {
    /* only this MatMul's input: FakeQuant(x) feeding input 0 */
    qc_vid in[3] = {target, sv, zv};
    int32_t n_in = zv != QC_NONE ? 3 : sv != QC_NONE ? 2 : 1;
    qc_nid n;
    const char *outs[1] = {name};
    QC_RETURN_IF_ERROR(qc_graph_add_node(g, QC_OP_Q_FakeQuant, name, n_in, in, 1, outs, &n));
    char *st = spec_text(spec);
    if (!st) return QC_OOM();
    s = qc_node_set_string(g, n, "spec", st);
    free(st);
    if (!s) s = set_act_axis(g, n, spec, target);
    if (!s) qc_node_set_input(g, mm, 0, qc_graph_node(g, n)->out[0]);
    return s;
  }
  QC_RETURN_IF_ERROR(insert_fq_after(g, target, name, sv, zv, spec, 0, 0));
  return set_act_axis(g, qc_graph_value(g, qc_graph_find(g, name))->node, spec, target);
}

static qc_status rewrite_layer(imp *m, qc_graph *g, qlayer *L) {
  char name[2048];
  const char *P = L->module;
  qc_vid q = qc_graph_find(g, (snprintf(name, sizeof name, "%s.weight", P), name));
  if (q < 0) return qc_status_new(QC_CODE_INTERNAL, "%s: the weight constant is missing", P);
  qc_vid sv = QC_NONE, zv = QC_NONE;
  qc_status s = QC_OK;
  if (has_t(&L->scale_codes)) {
    qc_vid cv, s2v;
    snprintf(name, sizeof name, "%s.weight_scale", P);
    QC_RETURN_IF_ERROR(add_const(g, name, &L->scale_codes, &cv));
    snprintf(name, sizeof name, "%s.weight_scale_2", P);
    QC_RETURN_IF_ERROR(add_const(g, name, &L->scale2, &s2v));
    snprintf(name, sizeof name, "%s.weight_scale_dequant", P);
    QC_RETURN_IF_ERROR(qc_graph_add_op(g, QC_OP_Q_DequantizePacked, name, 2, (qc_vid[]){cv, s2v}, name, &sv));
    QC_RETURN_IF_ERROR(qc_node_set_int(g, qc_graph_value(g, sv)->node, "to", onnx_code(QC_F32)));
  } else if (has_t(&L->scale)) {
    snprintf(name, sizeof name, "%s.weight_scale", P);
    QC_RETURN_IF_ERROR(add_const(g, name, &L->scale, &sv));
  }
  if (has_t(&L->zp)) {
    snprintf(name, sizeof name, "%s.weight_zero_point", P);
    QC_RETURN_IF_ERROR(add_const(g, name, &L->zp, &zv));
  }
  qc_vid in[3] = {q, sv, zv};
  int32_t n_in = zv != QC_NONE ? 3 : sv != QC_NONE ? 2 : 1;
  qc_nid dn;
  snprintf(name, sizeof name, "%s.weight_%s", P, L->fake ? "quant" : "dequant");
  const char *outs[1] = {name};
  QC_RETURN_IF_ERROR(qc_graph_add_node(g, L->fake ? QC_OP_Q_FakeQuant : QC_OP_Q_DequantizePacked, name, n_in, in,
                                       1, outs, &dn));
  if (L->axis) QC_RETURN_IF_ERROR(qc_node_set_int(g, dn, "axis", L->axis));
  if (L->group) QC_RETURN_IF_ERROR(qc_node_set_int(g, dn, "group_size", L->group));
  if (L->fake) {
    /* A scale-quantized weight is one FakeQuant with the first stage's spec and the
     * already-quantized scales (passes/quant/freeze.c) */
    const qc_json *ws = qc_json_get(L->spec, "weight");
    char *st = spec_text(has_t(&L->scale_codes) ? stage0(ws) : ws);
    if (!st) return QC_OOM();
    s = qc_node_set_string(g, dn, "spec", st);
    free(st);
  } else {
    s = qc_node_set_int(g, dn, "to", onnx_code(m->model_dtype));
  }
  qc_vid dv = qc_graph_node(g, dn)->out[0];
  if (!s) s = qc_graph_replace_uses(g, q, dv);
  if (!s) qc_node_set_input(g, dn, 0, q);
  return s;
}

/* Drop Cast(to=f32) of an f32 value (left by the builder where the weight was not f32). */
static qc_status drop_noop_casts(qc_graph *g) {
  QC_RETURN_IF_ERROR(qc_graph_infer_types(g));
  int32_t nn = qc_graph_num_nodes(g);
  bool any = false;
  for (qc_nid n = 0; n < nn; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead || nd->op != QC_OP_Cast || nd->n_in != 1) continue;
    const qc_value *iv = qc_graph_value(g, nd->in[0]);
    if (iv->type.dtype != QC_F32 || qc_node_int(g, n, "to", 0) != 1) continue;
    qc_vid o = nd->out[0], i = nd->in[0];
    QC_RETURN_IF_ERROR(qc_graph_replace_uses(g, o, i));
    qc_graph_erase_node(g, n);
    any = true;
  }
  return any ? qc_graph_compact(g) : QC_OK;
}

static qc_status rewrite(imp *m, qc_graph *g) {
  for (int32_t i = 0; i < m->n_layers; i++) QC_RETURN_IF_ERROR(rewrite_layer(m, g, &m->layers[i]));
  /* activations: every linear of the graph, quantized weight or not */
  if (m->qconfig && m->kind != QC_CKPT_GPTQ && m->kind != QC_CKPT_AWQ) {
    int32_t nn = qc_graph_num_nodes(g);
    for (qc_nid n = 0; n < nn; n++) {
      const qc_node *nd = qc_graph_node(g, n);
      if (nd->dead || nd->op != QC_OP_MatMul || !nd->name || !*nd->name) continue;
      char P[1024];
      snprintf(P, sizeof P, "%s", nd->name);
      const qc_json *kv;
      const qc_json *cfg = layer_config(m, P, &kv);
      if (!cfg && !kv) continue;
      /* only the linears the model has (attention MatMuls are named "...attention" and
       * have no .weight) */
      char wn[2048];
      snprintf(wn, sizeof wn, "%s.weight", P);
      if (qc_graph_find(g, wn) < 0) continue;
      if (cfg) QC_RETURN_IF_ERROR(add_act(m, g, P, "input", qc_json_get(cfg, "input_tensors"), nd->in[0], true, n));
      nd = qc_graph_node(g, n);
      const qc_json *os = cfg ? qc_json_get(cfg, "output_tensors") : qc_json_get(kv, "output_tensors");
      if (!is_null_spec(os)) {
        /* after the bias, if any */
        qc_vid y = nd->out[0];
        char bn[2048];
        snprintf(bn, sizeof bn, "%s.bias_add", P);
        int32_t nn2 = qc_graph_num_nodes(g);
        for (qc_nid k = 0; k < nn2; k++) {
          const qc_node *b = qc_graph_node(g, k);
          if (!b->dead && b->op == QC_OP_Add && b->name && !strcmp(b->name, bn)) y = b->out[0];
        }
        QC_RETURN_IF_ERROR(add_act(m, g, P, "output", os, y, false, n));
      }
    }
  }
  QC_RETURN_IF_ERROR(qc_graph_toposort(g));
  /* The builder typed the weights' consumers by the packed dtypes: infer again from scratch. */
  qc_type unknown = qc_type_unknown();
  int32_t nv = qc_graph_num_values(g);
  for (qc_vid v = 0; v < nv; v++)
    if (qc_graph_value(g, v)->kind == QC_VALUE_NODE) QC_RETURN_IF_ERROR(qc_graph_set_type(g, v, &unknown));
  return drop_noop_casts(g);
}

/* ---- entry --------------------------------------------------------------------------------- */

static qc_dtype config_dtype(const qc_json *cfg) {
  const char *d = qc_json_str(qc_json_get(cfg, "dtype"));
  if (!d) d = qc_json_str(qc_json_get(cfg, "torch_dtype"));
  if (!d) return QC_F32;
  if (!strcmp(d, "bfloat16")) return QC_BF16;
  if (!strcmp(d, "float16")) return QC_F16;
  return QC_F32;
}

static void imp_free(imp *m) {
  for (int32_t i = 0; i < m->n_layers; i++) {
    qlayer *L = &m->layers[i];
    qc_tensor_release(&L->q);
    qc_tensor_release(&L->scale);
    qc_tensor_release(&L->zp);
    qc_tensor_release(&L->scale_codes);
    qc_tensor_release(&L->scale2);
  }
  free(m->layers);
  qc_safetensors_set_close(m->st);
  qc_pth_close(m->pth);
  free(m->config_text);
  qc_arena_free(&m->ar);
}

qc_status qc_hf_quant_load(const char *dir, const qc_build_options *opts, qc_quant_checkpoint *kind,
                           qc_graph **out) {
  *out = NULL;
  if (kind) *kind = QC_CKPT_FLOAT;
  imp m;
  memset(&m, 0, sizeof m);
  m.dir = dir;
  qc_arena_init(&m.ar, qc_allocator_default());
  char path[4096], err[256];
  snprintf(path, sizeof path, "%s/config.json", dir);
  qc_status s = qc_read_file(path, &m.config_text, &m.config_len);
  if (!s && !(m.config = qc_json_parse(&m.ar, m.config_text, m.config_len, err, sizeof err)))
    s = qc_status_new(QC_CODE_PARSE, "%s: %s", path, err);
  if (!s) s = qc_model_config_parse(m.config_text, m.config_len, path, &m.mc);
  if (s) {
    imp_free(&m);
    return s;
  }
  m.model_dtype = config_dtype(m.config);
  m.qcfg = qc_json_get(m.config, "quantization_config");
  const char *qm = qc_json_str(qc_json_get(m.qcfg, "quant_method"));
  const qc_json *ex = qc_json_get(m.qcfg, "export");
  const char *wf = qc_json_str(qc_json_get(ex, "weight_format"));
  const char *pm = qc_json_str(qc_json_get(ex, "pack_method"));
  if (!pm) pm = qc_json_str(qc_json_get(m.qcfg, "pack_method"));
  m.fake = wf && !strcmp(wf, "fake_quantized");
  m.reorder = !pm || !strcmp(pm, "reorder");
  bool native = !file_exists(dir, "model.safetensors") && !file_exists(dir, "model.safetensors.index.json") &&
                file_exists(dir, "model_state_dict.pth");
  if (!qm) m.kind = QC_CKPT_FLOAT;
  else if (!strcmp(qm, "quark")) m.kind = native ? QC_CKPT_QUARK_NATIVE : QC_CKPT_QUARK;
  else if (!strcmp(qm, "awq")) m.kind = QC_CKPT_AWQ;
  else if (!strcmp(qm, "fp8")) m.kind = QC_CKPT_FP8;
  else if (!strcmp(qm, "gptq")) m.kind = QC_CKPT_GPTQ;
  else if (!strcmp(qm, "compressed-tensors")) m.kind = QC_CKPT_COMPRESSED_TENSORS;
  else s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: quant_method '%s' is not supported (known: quark, awq, fp8, gptq, compressed-tensors)", path, qm);
  if (!s && m.kind == QC_CKPT_COMPRESSED_TENSORS) {
    const char *f = qc_json_str(qc_json_get(m.qcfg, "format"));
    if (!f || (strcmp(f, "pack-quantized") && strcmp(f, "float-quantized") && strcmp(f, "naive-quantized")))
      s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: compressed-tensors format '%s' is not supported (pack-quantized, float-quantized)", path, f ? f : "?");
  }
  if (!s && m.kind == QC_CKPT_GPTQ) m.reorder = false;
  if (!s) {
    if (native) {
      snprintf(path, sizeof path, "%s/model_state_dict.pth", dir);
      s = qc_pth_open(path, &m.pth);
    } else {
      s = qc_safetensors_set_open(dir, &m.st);
    }
    if (s) s = qc_status_wrap(s, "%s: loading the weights", dir);
  }
  if (!s && (m.kind == QC_CKPT_QUARK || m.kind == QC_CKPT_QUARK_NATIVE)) m.qconfig = m.qcfg;
  else if (!s && m.kind != QC_CKPT_FLOAT) s = synth_qconfig(&m);
  qc_graph *g = NULL;
  if (!s) {
    qc_weight_source ws = {src_get, &m};
    s = qc_model_build(&m.mc, &ws, opts, &g);
  }
  if (!s && m.kind != QC_CKPT_FLOAT) s = rewrite(&m, g);
  if (!s) s = qc_graph_infer_types(g);
  if (!s) s = qc_graph_set_meta(g, "quarc.source", dir);
  if (!s) s = qc_graph_set_meta(g, "quarc.model_type", m.mc.model_type);
  if (!s) s = qc_graph_set_meta(g, "quarc.hf_config", m.config_text);
  if (!s && m.qconfig) {
    /* Quark checkpoints keep their export block (pack method, weight format, KV group) */
    qc_json *qc = m.qconfig;
    if (m.kind != QC_CKPT_QUARK && m.kind != QC_CKPT_QUARK_NATIVE && qc_json_get(m.qcfg, "export")) {
      qc = qc_json_clone(&m.ar, m.qconfig);
      if (!qc || !qc_json_set(&m.ar, qc, "export", qc_json_clone(&m.ar, qc_json_get(m.qcfg, "export")))) s = QC_OOM();
    }
    char *t = s ? NULL : qc_json_write(qc, -1, false, NULL);
    if (!s && !t) s = QC_OOM();
    if (!s) s = qc_graph_set_meta(g, "quant.config", t);
    free(t);
  }
  static const char *const KIND[] = {"float", "quark", "quark-native", "awq", "fp8", "gptq", "compressed-tensors"};
  if (!s) s = qc_graph_set_meta(g, "quarc.checkpoint", KIND[m.kind]);
  if (!s && m.fake) s = qc_graph_set_meta(g, "quarc.fake_weights_exact", "1");
  if (s) {
    qc_graph_destroy(g);
    if (kind) *kind = m.kind;
    imp_free(&m);
    return qc_status_wrap(s, "%s", dir);
  }
  if (kind) *kind = m.kind;
  imp_free(&m);
  *out = g;
  return QC_OK;
}
