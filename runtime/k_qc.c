/*
 * Interpreter kernels: quarc's quantization ops (docs/quant.md).
 *
 *   quarc.Observe(x)                 identity. A calibration run sees x through the
 *                                    interpreter's observe callback, which passes/quant/
 *                                    calibrate.c installs: the kernel holds no state, so a
 *                                    graph with Observe nodes runs anywhere, and one
 *                                    interpreter can serve several calibration stores.
 *   quarc.FakeQuant(x, scale?, zp?)  y = dequantize(quantize(x)) with Quark's numerics
 *                                    (quarc/quant.h). The `spec` attribute (a QTensorConfig,
 *                                    or a list of stages) says how; scale and zero point,
 *                                    when given, are the parameters of the first static
 *                                    stage (runtime/k_qc.h has their layout); dynamic stages
 *                                    and non-scaled dtypes (mx, mx6, mx9, bfp16) compute
 *                                    their parameters from x on every run.
 *
 * The model dtype Quark would hold x in (which decides the dtype of "float" scales and the
 * rounding of the output) is x's dtype when that is f16 or bf16, else f32.
 */
#include "runtime/k_qc.h"

#include "runtime/kutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- the spec attribute ------------------------------------------------------------------- */

bool qc_qdtype_nonscaled(qc_qdtype dt) {
  return dt == QC_QDT_MX || dt == QC_QDT_MX6 || dt == QC_QDT_MX9 || dt == QC_QDT_BFP16 ||
         dt == QC_QDT_FLOAT16 || dt == QC_QDT_BFLOAT16;
}

int32_t qc_qattr_static_stage(const qc_qspecs *s) {
  for (int32_t i = 0; i < s->n; i++) {
    const qc_qspec *sp = &s->v[i];
    if (sp->is_dynamic != QC_QB_TRUE && !qc_qdtype_nonscaled(sp->dtype)) return i;
  }
  return -1;
}

void qc_qattr_free(qc_qspecs *s) {
  free(s->v);
  memset(s, 0, sizeof *s);
}

static const char *skip_ws(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

/* The end of the JSON object starting at p: the character after its closing brace, or NULL
 * if it does not close. Only braces, brackets and strings are tracked; the object itself is
 * parsed by qc_qspec_from_json. */
static const char *object_end(const char *p) {
  int depth = 0;
  bool in_str = false;
  for (; *p; p++) {
    char c = *p;
    if (in_str) {
      if (c == '\\' && p[1]) p++;
      else if (c == '"') in_str = false;
    } else if (c == '"') {
      in_str = true;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (--depth <= 0) return depth == 0 ? p + 1 : NULL;
    }
  }
  return NULL;
}

qc_status qc_qattr_parse(const char *json, const char *source, qc_qspecs *out) {
  memset(out, 0, sizeof *out);
  const char *p = skip_ws(json ? json : "");
  if (!*p) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: empty quantization spec", source);
  if (*p != '[') {
    out->v = calloc(1, sizeof *out->v);
    if (!out->v) return QC_OOM();
    out->n = 1;
    qc_status s = qc_qspec_from_json(p, strlen(p), source, &out->v[0]);
    if (s) qc_qattr_free(out);
    return s;
  }
  out->is_list = true;
  p = skip_ws(p + 1);
  qc_status s = QC_OK;
  while (!s && *p && *p != ']') {
    const char *e = *p == '{' ? object_end(p) : NULL;
    if (!e) {
      s = qc_status_new(QC_CODE_PARSE, "%s[%d]: expected a QTensorConfig object", source, out->n);
      break;
    }
    qc_qspec *nv = realloc(out->v, sizeof *nv * (size_t)(out->n + 1));
    char *item = strndup(p, (size_t)(e - p));
    if (nv) out->v = nv;
    if (!nv || !item) {
      free(item);
      s = QC_OOM();
      break;
    }
    char where[512];
    snprintf(where, sizeof where, "%s[%d]", source, out->n);
    s = qc_qspec_from_json(item, strlen(item), where, &out->v[out->n]);
    free(item);
    if (s) break;
    out->n++;
    p = skip_ws(e);
    if (*p == ',') p = skip_ws(p + 1);
    else if (*p != ']') s = qc_status_new(QC_CODE_PARSE, "%s: expected ',' or ']' after stage %d",
                                          source, out->n - 1);
  }
  if (!s && *p != ']') s = qc_status_new(QC_CODE_PARSE, "%s: unterminated spec list", source);
  if (!s && out->n == 0) s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: empty spec list", source);
  if (s) qc_qattr_free(out);
  return s;
}

qc_status qc_qattr_json(const qc_qspecs *s, char **text) {
  *text = NULL;
  bool list = s->is_list || s->n != 1;
  size_t cap = 256, len = 0;
  char *buf = malloc(cap);
  if (!buf) return QC_OOM();
  if (list) buf[len++] = '[';
  for (int32_t i = 0; i < s->n; i++) {
    char *one = NULL;
    size_t n = 0;
    qc_status st = qc_qspec_to_json(&s->v[i], &one, &n);
    if (st) {
      free(buf);
      return st;
    }
    if (len + n + 4 > cap) {
      while (len + n + 4 > cap) cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) {
        free(one);
        free(buf);
        return QC_OOM();
      }
      buf = nb;
    }
    if (i) {
      buf[len++] = ',';
      buf[len++] = ' ';
    }
    memcpy(buf + len, one, n);
    len += n;
    free(one);
  }
  if (list) buf[len++] = ']';
  buf[len] = 0;
  *text = buf;
  return QC_OK;
}

/* Parsed specs by text. Distinct spec texts in a process are few (one per scheme and
 * tensor role, not per layer), so a flat array searched by hash is enough; entries live
 * for the process, which is what lets kernels hold the pointers. */
typedef struct spec_entry {
  uint64_t hash;
  char *text;
  qc_qspecs *specs; /* its own allocation: the array of entries may move, this may not */
} spec_entry;

static pthread_mutex_t spec_mu = PTHREAD_MUTEX_INITIALIZER;
static spec_entry *spec_cache;
static int32_t spec_n, spec_cap;

qc_status qc_qattr_cached(const char *json, const char *source, const qc_qspecs **out) {
  size_t len = strlen(json);
  uint64_t h = qc_hash_bytes(json, len, 0x51c0ffee);
  pthread_mutex_lock(&spec_mu);
  for (int32_t i = 0; i < spec_n; i++)
    if (spec_cache[i].hash == h && strcmp(spec_cache[i].text, json) == 0) {
      *out = spec_cache[i].specs;
      pthread_mutex_unlock(&spec_mu);
      return QC_OK;
    }
  pthread_mutex_unlock(&spec_mu);
  /* Parse outside the lock; a second thread parsing the same text adds nothing twice. */
  qc_qspecs parsed;
  QC_RETURN_IF_ERROR(qc_qattr_parse(json, source, &parsed));
  char *text = strdup(json);
  qc_qspecs *held = malloc(sizeof *held);
  if (!text || !held) {
    free(text);
    free(held);
    qc_qattr_free(&parsed);
    return QC_OOM();
  }
  *held = parsed;
  pthread_mutex_lock(&spec_mu);
  for (int32_t i = 0; i < spec_n; i++)
    if (spec_cache[i].hash == h && strcmp(spec_cache[i].text, json) == 0) {
      *out = spec_cache[i].specs;
      pthread_mutex_unlock(&spec_mu);
      free(text);
      qc_qattr_free(held);
      free(held);
      return QC_OK;
    }
  if (spec_n == spec_cap) {
    int32_t nc = spec_cap ? spec_cap * 2 : 16;
    spec_entry *na = realloc(spec_cache, sizeof *na * (size_t)nc);
    if (!na) {
      pthread_mutex_unlock(&spec_mu);
      free(text);
      qc_qattr_free(held);
      free(held);
      return QC_OOM();
    }
    spec_cache = na;
    spec_cap = nc;
  }
  spec_cache[spec_n] = (spec_entry){h, text, held};
  *out = held;
  spec_n++;
  pthread_mutex_unlock(&spec_mu);
  return QC_OK;
}

/* ---- parameter layout ------------------------------------------------------------------------ */

void qc_qlayout_scale_shape(qc_qscheme qs, int32_t rank, const int64_t *dims, int32_t axis,
                            int64_t group_size, int32_t *srank, int64_t *sdims) {
  if (qs == QC_QSCHEME_PER_CHANNEL && axis >= 0 && axis < rank) {
    *srank = 1;
    sdims[0] = dims[axis];
  } else if (qs == QC_QSCHEME_PER_GROUP && axis >= 0 && axis < rank) {
    *srank = rank;
    for (int32_t d = 0; d < rank; d++) sdims[d] = dims[d];
    int64_t D = dims[axis];
    sdims[axis] = group_size > 0 ? (D + group_size - 1) / group_size : 1;
  } else {
    *srank = 0;
  }
}

/* Copy a dense array of doubles of shape (rank, dims) with axes a and b swapped. */
static void swap_axes(const double *src, double *dst, int32_t rank, const int64_t *dims, int32_t a,
                      int32_t b) {
  int64_t n = qc_shape_numel(rank, dims);
  if (a == b || rank < 2) {
    memcpy(dst, src, sizeof *src * (size_t)n);
    return;
  }
  int64_t sstr[QC_MAX_RANK], ddims[QC_MAX_RANK], idx[QC_MAX_RANK] = {0};
  qc_strides(rank, dims, sstr);
  for (int32_t d = 0; d < rank; d++) ddims[d] = dims[d];
  ddims[a] = dims[b];
  ddims[b] = dims[a];
  /* Walk dst in row-major order; dst index idx maps to src index idx with a and b swapped. */
  for (int64_t i = 0; i < n; i++) {
    int64_t off = 0;
    for (int32_t d = 0; d < rank; d++) {
      int32_t sd = d == a ? b : d == b ? a : d;
      off += idx[d] * sstr[sd];
    }
    dst[i] = src[off];
    for (int32_t d = rank - 1; d >= 0; d--) {
      if (++idx[d] < ddims[d]) break;
      idx[d] = 0;
    }
  }
}

static bool is_block_observer(qc_qobserver o) {
  return o == QC_QOBS_PER_BLOCK_MX || o == QC_QOBS_PER_BLOCK_MX_BUFFER_REUSE ||
         o == QC_QOBS_PER_BLOCK_MX_DIFFS || o == QC_QOBS_PER_BLOCK_BFP;
}

static void shape_str(int32_t rank, const int64_t *dims, char *buf, size_t n) {
  int o = snprintf(buf, n, "[");
  for (int32_t i = 0; i < rank && (size_t)o + 24 < n; i++)
    o += snprintf(buf + o, n - (size_t)o, "%s%lld", i ? "," : "", (long long)dims[i]);
  snprintf(buf + o, n - (size_t)o, "]");
}

qc_status qc_qlayout_to_params(const qc_qspec *sp, int32_t rank, const int64_t *dims, int32_t axis,
                               int64_t group_size, const qc_tensor *scale, const qc_tensor *zp,
                               qc_qparams *out) {
  memset(out, 0, sizeof *out);
  int32_t srank;
  int64_t sdims[QC_MAX_RANK];
  qc_qlayout_scale_shape(sp->qscheme, rank, dims, axis, group_size, &srank, sdims);
  int64_t n = qc_shape_numel(srank, sdims);
  bool shape_ok = scale->rank == srank;
  for (int32_t d = 0; shape_ok && d < srank; d++) shape_ok = scale->dims[d] == sdims[d];
  if (!shape_ok && srank == 0 && qc_tensor_numel(scale) == 1) shape_ok = true;
  if (!shape_ok) {
    char want[160], got[160];
    shape_str(srank, sdims, want, sizeof want);
    shape_str(scale->rank, scale->dims, got, sizeof got);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "scale has shape %s; a %s scale for this input needs %s", got,
                         qc_qscheme_name(sp->qscheme) ? qc_qscheme_name(sp->qscheme) : "per_tensor",
                         want);
  }
  if (zp && qc_tensor_numel(zp) != n)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "zero point has %lld values, the scale %lld",
                         (long long)qc_tensor_numel(zp), (long long)n);
  if (!qc_dtype_is_float(scale->dtype))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "scale must be a float tensor, not %s",
                         qc_dtype_name(scale->dtype));
  double *sv = malloc(sizeof *sv * (size_t)(n ? n : 1) * 4);
  if (!sv) return QC_OOM();
  double *zv = sv + n, *st = sv + 2 * n, *zt = sv + 3 * n;
  for (int64_t i = 0; i < n; i++) {
    sv[i] = qc_elem_f64(scale->dtype, qc_tensor_data(scale), (size_t)i);
    zv[i] = zp ? qc_elem_f64(zp->dtype, qc_tensor_data(zp), (size_t)i) : 0.0;
  }
  /* Quark's order: the group axis swapped with the last one. */
  int64_t qdims[QC_MAX_RANK];
  for (int32_t d = 0; d < srank; d++) qdims[d] = sdims[d];
  if (sp->qscheme == QC_QSCHEME_PER_GROUP && srank > 1 && axis != srank - 1) {
    swap_axes(sv, st, srank, sdims, axis, srank - 1);
    swap_axes(zv, zt, srank, sdims, axis, srank - 1);
    memcpy(sv, st, sizeof *sv * (size_t)n);
    memcpy(zv, zt, sizeof *zv * (size_t)n);
    qdims[axis] = sdims[srank - 1];
    qdims[srank - 1] = sdims[axis];
  }
  out->n = n;
  if (sp->qscheme == QC_QSCHEME_PER_GROUP && !is_block_observer(sp->observer_cls)) {
    out->rank = 2;
    out->shape[1] = srank ? qdims[srank - 1] : 1;
    out->shape[0] = out->shape[1] ? n / out->shape[1] : 0;
  } else {
    out->rank = srank;
    for (int32_t d = 0; d < srank; d++) out->shape[d] = qdims[d];
  }
  out->scale_dtype = scale->dtype == QC_F16 || scale->dtype == QC_BF16 ? scale->dtype : QC_F32;
  out->zp_dtype = (zp && qc_dtype_is_float(zp->dtype)) || sp->zero_point_type == QC_QZP_FLOAT32
                      ? QC_F32
                      : QC_I32;
  out->scale = malloc(sizeof *out->scale * (size_t)(n ? n : 1));
  out->zero_point = malloc(sizeof *out->zero_point * (size_t)(n ? n : 1));
  if (!out->scale || !out->zero_point) {
    free(sv);
    qc_qparams_clear(out);
    return QC_OOM();
  }
  for (int64_t i = 0; i < n; i++) {
    out->scale[i] = (float)sv[i];
    out->zero_point[i] = zv[i];
  }
  free(sv);
  return QC_OK;
}

qc_status qc_qlayout_from_params(const qc_qparams *p, int32_t rank, const int64_t *dims,
                                 int32_t axis, int64_t group_size, qc_qscheme qs, qc_dtype zp_dtype,
                                 qc_tensor *scale, qc_tensor *zp) {
  memset(scale, 0, sizeof *scale);
  if (zp) memset(zp, 0, sizeof *zp);
  int32_t srank;
  int64_t sdims[QC_MAX_RANK];
  qc_qlayout_scale_shape(qs, rank, dims, axis, group_size, &srank, sdims);
  int64_t n = qc_shape_numel(srank, sdims);
  if (n != p->n)
    return qc_status_new(QC_CODE_INTERNAL, "%lld parameters for a %s scale of %lld values",
                         (long long)p->n, qc_qscheme_name(qs) ? qc_qscheme_name(qs) : "per_tensor",
                         (long long)n);
  double *buf = malloc(sizeof *buf * (size_t)(n ? n : 1) * 2);
  if (!buf) return QC_OOM();
  double *t = buf + n;
  bool swap = qs == QC_QSCHEME_PER_GROUP && srank > 1 && axis != srank - 1;
  int64_t qdims[QC_MAX_RANK];
  for (int32_t d = 0; d < srank; d++) qdims[d] = sdims[d];
  if (swap) {
    qdims[axis] = sdims[srank - 1];
    qdims[srank - 1] = sdims[axis];
  }
  qc_dtype sdt = p->scale_dtype ? p->scale_dtype : QC_F32;
  qc_status s = qc_tensor_alloc(scale, NULL, sdt, srank, sdims);
  for (int pass = 0; pass < 2 && !s; pass++) {
    qc_tensor *dst = pass == 0 ? scale : zp;
    if (pass == 1) {
      if (!zp || zp_dtype == QC_DT_UNDEFINED) break;
      s = qc_tensor_alloc(zp, NULL, zp_dtype, srank, sdims);
      if (s) break;
    }
    for (int64_t i = 0; i < n; i++)
      buf[i] = pass == 0 ? (double)p->scale[i] : (p->zero_point ? p->zero_point[i] : 0.0);
    const double *src = buf;
    if (swap) {
      swap_axes(buf, t, srank, qdims, axis, srank - 1);
      src = t;
    }
    for (int64_t i = 0; i < n; i++) qc_elem_set_f64(dst->dtype, qc_tensor_data(dst), (size_t)i, src[i], 0);
  }
  free(buf);
  if (s) {
    qc_tensor_release(scale);
    if (zp) qc_tensor_release(zp);
  }
  return s;
}

/* ---- kernels ------------------------------------------------------------------------------------ */

static qc_status k_observe(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x) return qc_k_error(k, "input x must be a tensor");
  qc_k_out_alias(k, 0, x);
  return QC_OK;
}

/* A status from the quantization library as a kernel error naming the node. */
static qc_status node_error(const qc_kctx *k, qc_status s) {
  qc_status e = qc_k_error(k, "%s", qc_status_message(s));
  qc_status_free(s);
  return e;
}

static qc_status k_fake_quant(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0), *scale = qc_k_in(k, 1), *zp = qc_k_in(k, 2);
  if (!x) return qc_k_error(k, "input x must be a tensor");
  if (!qc_dtype_is_float(x->dtype) || qc_dtype_traits_of(x->dtype)->bits < 16)
    return qc_k_error(k, "x must be f32, f64, f16 or bf16, not %s", qc_dtype_name(x->dtype));
  if (zp && !scale) return qc_k_error(k, "a zero point needs a scale");
  const qc_qspecs *sp;
  qc_status s = qc_qattr_cached(qc_k_string(k, "spec", ""), "attribute 'spec'", &sp);
  if (s) return node_error(k, s);
  int32_t st = qc_qattr_static_stage(sp);
  if (scale && st < 0)
    return qc_k_error(k, "a scale is given, but every stage of the spec computes its own");
  if (!scale && st >= 0)
    return qc_k_error(k, "stage %d of the spec is static (%s): it needs a scale input", st,
                      qc_qdtype_name(sp->v[st].dtype) ? qc_qdtype_name(sp->v[st].dtype) : "?");
  int32_t axis = 0;
  if (x->rank > 0) QC_RETURN_IF_ERROR(qc_k_axis(k, qc_k_int(k, "axis", 0), x->rank, &axis));
  int64_t n = qc_tensor_numel(x);
  qc_dtype mdt = x->dtype == QC_F16 || x->dtype == QC_BF16 ? x->dtype : QC_F32;
  float *buf = qc_k_alloc(k, sizeof *buf * (size_t)n);
  if (!buf) return QC_OOM();
  qc_convert_to_f32(x->dtype, qc_tensor_data(x), buf, (size_t)n);
  qc_quantizer *q = NULL;
  s = qc_quantizer_create(sp, mdt, &q);
  if (!s && scale) {
    qc_qparams p;
    s = qc_qlayout_to_params(&sp->v[st], x->rank, x->dims, axis, qc_k_int(k, "group_size", 0),
                             scale, zp, &p);
    if (!s) s = qc_quantizer_set_params(q, st, &p);
    qc_qparams_clear(&p);
  }
  if (!s) s = qc_quantizer_finalize(q);
  if (!s) s = qc_quantizer_forward(q, buf, x->rank, x->dims, buf);
  qc_quantizer_free(q);
  qc_tensor *y;
  if (!s) s = qc_k_out(k, 0, x->dtype, x->rank, x->dims, &y);
  else s = node_error(k, s);
  if (!s) qc_convert(QC_F32, buf, x->dtype, qc_tensor_data(y), (size_t)n, 0);
  qc_k_free(k, buf, sizeof *buf * (size_t)n);
  return s;
}

const qc_kernel_entry qc_kernels_qc[] = {
    {QC_OP_Q_FakeQuant, k_fake_quant},
    {QC_OP_Q_Observe, k_observe},
    {QC_OP_INVALID, NULL},
};
