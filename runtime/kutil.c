/* Helpers shared by the interpreter's kernels: see kutil.h. */
#include "runtime/kutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- opset, memory ------------------------------------------------------------------------ */

void *qc_k_alloc(const qc_kctx *k, size_t n) { return qc_alloc(k->alloc, n); }

void qc_k_free(const qc_kctx *k, void *p, size_t n) { qc_free(k->alloc, p, n ? n : 1); }

/* ---- int lists and axes --------------------------------------------------------------------- */

qc_status qc_k_ints(const qc_kctx *k, const qc_tensor *t, const char *what, int64_t *out,
                    int64_t max, int64_t *n) {
  if (!t) return qc_k_error(k, "%s is missing", what);
  if (!qc_dtype_is_int(t->dtype))
    return qc_k_error(k, "%s must be an integer tensor, got %s", what, qc_dtype_name(t->dtype));
  if (t->rank > 1) return qc_k_error(k, "%s must be 1-D, got rank %d", what, t->rank);
  int64_t cnt = qc_tensor_numel(t);
  if (cnt > max)
    return qc_k_error(k, "%s has %lld entries, at most %lld allowed", what, (long long)cnt,
                      (long long)max);
  const void *d = qc_tensor_data(t);
  for (int64_t i = 0; i < cnt; i++) out[i] = qc_elem_i64(t->dtype, d, (size_t)i);
  *n = cnt;
  return QC_OK;
}

qc_status qc_k_ints_alloc(const qc_kctx *k, const qc_tensor *t, const char *what, int64_t **out,
                          int64_t *n) {
  *out = NULL;
  if (!t) return qc_k_error(k, "%s is missing", what);
  int64_t cnt = qc_tensor_numel(t);
  int64_t *v = malloc(sizeof(int64_t) * (size_t)(cnt ? cnt : 1));
  if (!v) return QC_OOM();
  qc_status s = qc_k_ints(k, t, what, v, cnt, n);
  if (s) {
    free(v);
    return s;
  }
  *out = v;
  return QC_OK;
}

qc_status qc_k_attr_ints(const qc_kctx *k, const char *name, int64_t *out, int64_t max,
                         int64_t *n) {
  const qc_attr *a = qc_k_attr(k, name);
  *n = -1;
  if (!a) return QC_OK;
  if (a->kind == QC_ATTR_INT) {
    if (max < 1) return qc_k_error(k, "attribute '%s': too many values", name);
    out[0] = a->u.i;
    *n = 1;
    return QC_OK;
  }
  if (a->kind != QC_ATTR_INTS) return qc_k_error(k, "attribute '%s': expected ints", name);
  if (a->n > max)
    return qc_k_error(k, "attribute '%s': %d values, at most %lld supported", name, a->n,
                      (long long)max);
  for (int32_t i = 0; i < a->n; i++) out[i] = a->u.ints[i];
  *n = a->n;
  return QC_OK;
}

qc_status qc_k_axis(const qc_kctx *k, int64_t axis, int32_t rank, int32_t *out) {
  if (!qc_norm_axis(axis, rank, out))
    return qc_k_error(k, "axis %lld is out of range for rank %d", (long long)axis, rank);
  return QC_OK;
}

qc_status qc_k_axes_mask(const qc_kctx *k, const int64_t *axes, int64_t n, int32_t rank,
                         bool *mask) {
  for (int32_t d = 0; d < rank; d++) mask[d] = false;
  for (int64_t i = 0; i < n; i++) {
    int32_t a;
    QC_RETURN_IF_ERROR(qc_k_axis(k, axes[i], rank, &a));
    if (mask[a]) return qc_k_error(k, "axis %lld repeated", (long long)axes[i]);
    mask[a] = true;
  }
  return QC_OK;
}

int64_t qc_strides(int32_t rank, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (int32_t d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= dims[d];
  }
  return s;
}

/* ---- broadcasting ----------------------------------------------------------------------------- */

bool qc_bcast_init(qc_bcast *b, int32_t n, const int32_t *ranks, const int64_t *const *dims) {
  memset(b, 0, sizeof *b);
  if (n < 1 || n > QC_BCAST_MAX_IN) return false;
  int32_t r = 0;
  for (int32_t j = 0; j < n; j++) {
    if (ranks[j] > QC_MAX_RANK || ranks[j] < 0) return false;
    if (ranks[j] > r) r = ranks[j];
  }
  b->n_in = n;
  b->rank = r;
  int64_t st[QC_BCAST_MAX_IN][QC_MAX_RANK];
  for (int32_t d = 0; d < r; d++) {
    int64_t o = 1;
    for (int32_t j = 0; j < n; j++) {
      int32_t dj = d - (r - ranks[j]);
      int64_t v = dj >= 0 ? dims[j][dj] : 1;
      if (v == 1) continue;
      if (o == 1) o = v;
      else if (o != v) return false;
    }
    b->dims[d] = o;
  }
  b->numel = 1;
  for (int32_t d = 0; d < r; d++) b->numel *= b->dims[d];
  for (int32_t j = 0; j < n; j++) {
    int64_t s = 1;
    for (int32_t d = r - 1; d >= 0; d--) {
      int32_t dj = d - (r - ranks[j]);
      int64_t v = dj >= 0 ? dims[j][dj] : 1;
      st[j][d] = v == 1 ? 0 : s;
      s *= v;
    }
  }
  int32_t ir = 0;
  for (int32_t d = 0; d < r; d++) {
    if (b->dims[d] == 1) continue;
    bool merge = ir > 0;
    for (int32_t j = 0; j < n && merge; j++)
      if (b->it_str[j][ir - 1] != st[j][d] * b->dims[d]) merge = false;
    if (merge) {
      b->it_dims[ir - 1] *= b->dims[d];
      for (int32_t j = 0; j < n; j++) b->it_str[j][ir - 1] = st[j][d];
    } else {
      b->it_dims[ir] = b->dims[d];
      for (int32_t j = 0; j < n; j++) b->it_str[j][ir] = st[j][d];
      ir++;
    }
  }
  b->it_rank = ir;
  return true;
}

static void shape_str(const qc_tensor *t, char *buf, size_t n) {
  int o = snprintf(buf, n, "[");
  for (int32_t d = 0; d < t->rank && (size_t)o < n - 24; d++)
    o += snprintf(buf + o, n - (size_t)o, "%s%lld", d ? "," : "", (long long)t->dims[d]);
  snprintf(buf + o, n - (size_t)o, "]");
}

qc_status qc_k_bcast(const qc_kctx *k, int32_t n, const qc_tensor *const *t, qc_bcast *b) {
  int32_t ranks[QC_BCAST_MAX_IN] = {0};
  const int64_t *dims[QC_BCAST_MAX_IN] = {0};
  if (n < 1 || n > QC_BCAST_MAX_IN)
    return qc_k_error(k, "broadcasting more than %d inputs is not supported", QC_BCAST_MAX_IN);
  for (int32_t j = 0; j < n; j++) {
    ranks[j] = t[j]->rank;
    dims[j] = t[j]->dims;
  }
  if (qc_bcast_init(b, n, ranks, dims)) return QC_OK;
  char msg[512];
  int o = 0;
  for (int32_t j = 0; j < n && o < 400; j++) {
    char s[160];
    shape_str(t[j], s, sizeof s);
    o += snprintf(msg + o, sizeof msg - (size_t)o, "%s%s", j ? " and " : "", s);
  }
  return qc_k_error(k, "shapes %s do not broadcast", msg);
}

void qc_bcast_offsets(const qc_bcast *b, int64_t i, int64_t *off) {
  for (int32_t j = 0; j < b->n_in; j++) off[j] = 0;
  for (int32_t d = b->it_rank - 1; d >= 0; d--) {
    int64_t x = i % b->it_dims[d];
    i /= b->it_dims[d];
    for (int32_t j = 0; j < b->n_in; j++) off[j] += x * b->it_str[j][d];
  }
}

void qc_bcast_runs(const qc_bcast *b, int64_t begin, int64_t end, qc_bcast_run_fn fn, void *ctx) {
  if (end > b->numel) end = b->numel;
  if (begin >= end) return;
  int64_t off[QC_BCAST_MAX_IN] = {0}, step[QC_BCAST_MAX_IN] = {0};
  if (b->it_rank == 0) {
    fn(ctx, 0, off, step, 1);
    return;
  }
  const int32_t last = b->it_rank - 1;
  const int64_t inner = b->it_dims[last];
  for (int32_t j = 0; j < b->n_in; j++) step[j] = b->it_str[j][last];
  int64_t idx[QC_MAX_RANK];
  int64_t rem = begin;
  for (int32_t d = last; d >= 0; d--) {
    idx[d] = rem % b->it_dims[d];
    rem /= b->it_dims[d];
    for (int32_t j = 0; j < b->n_in; j++) off[j] += idx[d] * b->it_str[j][d];
  }
  int64_t pos = begin;
  while (pos < end) {
    int64_t count = inner - idx[last];
    if (count > end - pos) count = end - pos;
    fn(ctx, pos, off, step, count);
    pos += count;
    if (pos >= end) break;
    idx[last] += count;
    for (int32_t j = 0; j < b->n_in; j++) off[j] += step[j] * count;
    for (int32_t d = last; d > 0 && idx[d] == b->it_dims[d]; d--) {
      idx[d] = 0;
      idx[d - 1]++;
      for (int32_t j = 0; j < b->n_in; j++)
        off[j] += b->it_str[j][d - 1] - b->it_str[j][d] * b->it_dims[d];
    }
  }
}

/* ---- convolution geometry ------------------------------------------------------------------- */

qc_status qc_k_conv_geom(const qc_kctx *k, const qc_tensor *x, const qc_tensor *w,
                         qc_conv_geom *g) {
  memset(g, 0, sizeof *g);
  if (x->rank < 3 || w->rank != x->rank)
    return qc_k_error(k, "expected x [N,C,D1..Dn] and w [M,C/group,k1..kn], got ranks %d and %d",
                      x->rank, w->rank);
  int32_t n = x->rank - 2;
  g->nsp = n;
  g->batch = x->dims[0];
  g->c_in = x->dims[1];
  g->c_out = w->dims[0];
  g->group = qc_k_int(k, "group", 1);
  if (g->group <= 0 || g->c_in % g->group || g->c_out % g->group || w->dims[1] * g->group != g->c_in)
    return qc_k_error(k, "group %lld does not divide channels (x has %lld, w [%lld, %lld, ...])",
                      (long long)g->group, (long long)g->c_in, (long long)w->dims[0],
                      (long long)w->dims[1]);
  int64_t v[2 * QC_MAX_RANK];
  int64_t cnt;
  for (int32_t i = 0; i < n; i++) {
    g->in[i] = x->dims[2 + i];
    g->k[i] = w->dims[2 + i];
    g->stride[i] = g->dil[i] = 1;
  }
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "kernel_shape", v, QC_MAX_RANK, &cnt));
  if (cnt >= 0) {
    if (cnt != n) return qc_k_error(k, "kernel_shape has %lld values for %d spatial dims", (long long)cnt, n);
    for (int32_t i = 0; i < n; i++)
      if (v[i] != g->k[i])
        return qc_k_error(k, "kernel_shape does not match the weight's shape");
  }
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "strides", v, QC_MAX_RANK, &cnt));
  if (cnt >= 0) {
    if (cnt != n) return qc_k_error(k, "strides has %lld values for %d spatial dims", (long long)cnt, n);
    memcpy(g->stride, v, sizeof(int64_t) * (size_t)n);
  }
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "dilations", v, QC_MAX_RANK, &cnt));
  if (cnt >= 0) {
    if (cnt != n) return qc_k_error(k, "dilations has %lld values for %d spatial dims", (long long)cnt, n);
    memcpy(g->dil, v, sizeof(int64_t) * (size_t)n);
  }
  int64_t pads[2 * QC_MAX_RANK] = {0};
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "pads", v, 2 * QC_MAX_RANK, &cnt));
  if (cnt >= 0) {
    if (cnt != 2 * n) return qc_k_error(k, "pads has %lld values for %d spatial dims", (long long)cnt, n);
    memcpy(pads, v, sizeof(int64_t) * (size_t)(2 * n));
  }
  const char *ap = qc_k_string(k, "auto_pad", "NOTSET");
  if (!qc_auto_pad(ap, n, g->in, g->k, g->stride, g->dil, pads))
    return qc_k_error(k, "unknown auto_pad '%s'", ap);
  for (int32_t i = 0; i < n; i++) {
    g->pad_begin[i] = pads[i];
    g->pad_end[i] = pads[i + n];
    g->out[i] = qc_window_out(g->in[i], g->k[i], g->stride[i], g->dil[i], pads[i], pads[i + n], false);
    if (g->out[i] < 0)
      return qc_k_error(k, "spatial dim %d: the kernel does not fit the padded input", i);
  }
  return QC_OK;
}

/* ---- reductions -------------------------------------------------------------------------------- */

void qc_rplan_init(qc_rplan *p, int32_t rank, const int64_t *dims, const bool *reduce) {
  memset(p, 0, sizeof *p);
  int64_t st[QC_MAX_RANK];
  qc_strides(rank, dims, st);
  p->n_out = 1;
  p->n_red = 1;
  for (int32_t d = 0; d < rank; d++) {
    if (reduce[d]) p->n_red *= dims[d];
    else p->n_out *= dims[d];
    if (dims[d] == 1) continue;
    if (reduce[d]) {
      p->rdims[p->rr] = dims[d];
      p->rstr[p->rr++] = st[d];
    } else {
      p->kdims[p->kr] = dims[d];
      p->kstr[p->kr++] = st[d];
    }
  }
}

int64_t qc_rplan_base(const qc_rplan *p, int64_t o) {
  int64_t off = 0;
  for (int32_t d = p->kr - 1; d >= 0; d--) {
    off += (o % p->kdims[d]) * p->kstr[d];
    o /= p->kdims[d];
  }
  return off;
}

int64_t qc_rplan_roff(const qc_rplan *p, int64_t r) {
  int64_t off = 0;
  for (int32_t d = p->rr - 1; d >= 0; d--) {
    off += (r % p->rdims[d]) * p->rstr[d];
    r /= p->rdims[d];
  }
  return off;
}

/* ---- element accessors ------------------------------------------------------------------------- */

static inline float ld_f32(const void *b, size_t i) {
  float v;
  memcpy(&v, (const char *)b + 4 * i, 4);
  return v;
}
static inline double ld_f64(const void *b, size_t i) {
  double v;
  memcpy(&v, (const char *)b + 8 * i, 8);
  return v;
}
static inline int64_t ld_i64(const void *b, size_t i) {
  int64_t v;
  memcpy(&v, (const char *)b + 8 * i, 8);
  return v;
}
static inline int32_t ld_i32(const void *b, size_t i) {
  int32_t v;
  memcpy(&v, (const char *)b + 4 * i, 4);
  return v;
}

static double getf_f32(qc_dtype dt, const void *b, size_t i) { (void)dt; return ld_f32(b, i); }
static double getf_f64(qc_dtype dt, const void *b, size_t i) { (void)dt; return ld_f64(b, i); }
static double getf_i64(qc_dtype dt, const void *b, size_t i) { (void)dt; return (double)ld_i64(b, i); }
static double getf_i32(qc_dtype dt, const void *b, size_t i) { (void)dt; return ld_i32(b, i); }
static double getf_u8(qc_dtype dt, const void *b, size_t i) { (void)dt; return ((const uint8_t *)b)[i]; }
static double getf_i8(qc_dtype dt, const void *b, size_t i) { (void)dt; return ((const int8_t *)b)[i]; }
static double getf_bool(qc_dtype dt, const void *b, size_t i) {
  (void)dt;
  return ((const uint8_t *)b)[i] != 0;
}
static double getf_f16(qc_dtype dt, const void *b, size_t i) {
  (void)dt;
  uint16_t h;
  memcpy(&h, (const char *)b + 2 * i, 2);
  return qc_f16_to_f32(h);
}
static double getf_bf16(qc_dtype dt, const void *b, size_t i) {
  (void)dt;
  uint16_t h;
  memcpy(&h, (const char *)b + 2 * i, 2);
  return qc_bf16_to_f32(h);
}

static int64_t geti_i64(qc_dtype dt, const void *b, size_t i) { (void)dt; return ld_i64(b, i); }
static int64_t geti_i32(qc_dtype dt, const void *b, size_t i) { (void)dt; return ld_i32(b, i); }
static int64_t geti_u8(qc_dtype dt, const void *b, size_t i) { (void)dt; return ((const uint8_t *)b)[i]; }
static int64_t geti_i8(qc_dtype dt, const void *b, size_t i) { (void)dt; return ((const int8_t *)b)[i]; }
static int64_t geti_bool(qc_dtype dt, const void *b, size_t i) {
  (void)dt;
  return ((const uint8_t *)b)[i] != 0;
}

static void setf_f32(qc_dtype dt, void *b, size_t i, double x) {
  (void)dt;
  float f = (float)x;
  memcpy((char *)b + 4 * i, &f, 4);
}
static void setf_f64(qc_dtype dt, void *b, size_t i, double x) {
  (void)dt;
  memcpy((char *)b + 8 * i, &x, 8);
}
static void setf_f16(qc_dtype dt, void *b, size_t i, double x) {
  (void)dt;
  float f = (float)x;
  /* Exact in float: one rounding, as qc_float_encode would do. */
  uint16_t h = (double)f == x || isnan(x) ? qc_f32_to_f16(f)
                                          : (uint16_t)qc_float_encode(QC_F16, x, 0);
  memcpy((char *)b + 2 * i, &h, 2);
}
static void setf_bf16(qc_dtype dt, void *b, size_t i, double x) {
  (void)dt;
  float f = (float)x;
  uint16_t h = (double)f == x || isnan(x) ? qc_f32_to_bf16(f)
                                          : (uint16_t)qc_float_encode(QC_BF16, x, 0);
  memcpy((char *)b + 2 * i, &h, 2);
}
static void setf_any(qc_dtype dt, void *b, size_t i, double x) { qc_elem_cast_f64(dt, b, i, x, 0); }

static void seti_i64(qc_dtype dt, void *b, size_t i, int64_t x) {
  (void)dt;
  memcpy((char *)b + 8 * i, &x, 8);
}
static void seti_i32(qc_dtype dt, void *b, size_t i, int64_t x) {
  (void)dt;
  int32_t v = (int32_t)(uint32_t)(uint64_t)x;
  memcpy((char *)b + 4 * i, &v, 4);
}
static void seti_8(qc_dtype dt, void *b, size_t i, int64_t x) {
  (void)dt;
  ((uint8_t *)b)[i] = (uint8_t)(uint64_t)x;
}
static void seti_bool(qc_dtype dt, void *b, size_t i, int64_t x) {
  (void)dt;
  ((uint8_t *)b)[i] = x != 0;
}
static void seti_f32(qc_dtype dt, void *b, size_t i, int64_t x) {
  (void)dt;
  float f = (float)x;
  memcpy((char *)b + 4 * i, &f, 4);
}
static void seti_f64(qc_dtype dt, void *b, size_t i, int64_t x) {
  (void)dt;
  double f = (double)x;
  memcpy((char *)b + 8 * i, &f, 8);
}

qc_acc qc_acc_of(qc_dtype dt) {
  qc_acc a = {dt, qc_elem_f64, qc_elem_i64, setf_any, qc_elem_set_i64};
  switch (dt) {
  case QC_F32: a.getf = getf_f32; a.setf = setf_f32; a.seti = seti_f32; break;
  case QC_F64: a.getf = getf_f64; a.setf = setf_f64; a.seti = seti_f64; break;
  case QC_F16: a.getf = getf_f16; a.setf = setf_f16; break;
  case QC_BF16: a.getf = getf_bf16; a.setf = setf_bf16; break;
  case QC_I64: a.getf = getf_i64; a.geti = geti_i64; a.seti = seti_i64; break;
  case QC_I32: a.getf = getf_i32; a.geti = geti_i32; a.seti = seti_i32; break;
  case QC_U8: a.getf = getf_u8; a.geti = geti_u8; a.seti = seti_8; break;
  case QC_I8: a.getf = getf_i8; a.geti = geti_i8; a.seti = seti_8; break;
  case QC_BOOL: a.getf = getf_bool; a.geti = geti_bool; a.seti = seti_bool; break;
  default: break;
  }
  return a;
}

double *qc_k_load_f64(const qc_kctx *k, const qc_tensor *t) {
  int64_t n = qc_tensor_numel(t);
  double *v = qc_k_alloc(k, (size_t)n * sizeof(double));
  if (!v) return NULL;
  qc_acc a = qc_acc_of(t->dtype);
  const void *d = qc_tensor_data(t);
  for (int64_t i = 0; i < n; i++) v[i] = a.getf(a.dt, d, (size_t)i);
  return v;
}

void qc_store_f64(qc_tensor *t, const double *v) {
  int64_t n = qc_tensor_numel(t);
  qc_acc a = qc_acc_of(t->dtype);
  void *d = qc_tensor_data(t);
  for (int64_t i = 0; i < n; i++) a.setf(a.dt, d, (size_t)i, v[i]);
}

/* ---- elementwise engines ------------------------------------------------------------------------ */

typedef struct ew_ctx {
  int32_t arity;
  qc_ew_domain dom;
  bool f32path;
  const qc_ew1 *op1;
  const qc_ew2 *op2;
  const void *p;
  const void *in[2];
  qc_acc ain[2];
  void *out;
  qc_acc aout;
  bool out_float;
  const qc_bcast *b;
} ew_ctx;

static void ew_run(void *vc, int64_t o, const int64_t *in, const int64_t *step, int64_t count) {
  const ew_ctx *c = vc;
  const void *p = c->p;
  if (c->f32path) {
    float *y = (float *)c->out + o;
    const float *x0 = (const float *)c->in[0] + in[0];
    if (c->arity == 1) {
      if (c->op1->f32)
        for (int64_t t = 0; t < count; t++) y[t] = c->op1->f32(x0[t], p);
      else
        for (int64_t t = 0; t < count; t++) y[t] = (float)c->op1->f(x0[t], p);
      return;
    }
    const float *x1 = (const float *)c->in[1] + in[1];
    int64_t s0 = step[0], s1 = step[1];
    if (c->op2->f32)
      for (int64_t t = 0; t < count; t++) y[t] = c->op2->f32(x0[t * s0], x1[t * s1], p);
    else
      for (int64_t t = 0; t < count; t++) y[t] = (float)c->op2->f(x0[t * s0], x1[t * s1], p);
    return;
  }
  const qc_acc *a0 = &c->ain[0], *a1 = &c->ain[1], *ao = &c->aout;
  for (int64_t t = 0; t < count; t++) {
    size_t i0 = (size_t)(in[0] + t * step[0]);
    size_t i1 = c->arity == 2 ? (size_t)(in[1] + t * step[1]) : 0;
    size_t io = (size_t)(o + t);
    switch (c->dom) {
    case QC_EW_F: {
      double x = a0->getf(a0->dt, c->in[0], i0);
      double r = c->arity == 1 ? c->op1->f(x, p) : c->op2->f(x, a1->getf(a1->dt, c->in[1], i1), p);
      ao->setf(ao->dt, c->out, io, r);
      break;
    }
    case QC_EW_I: {
      int64_t x = a0->geti(a0->dt, c->in[0], i0);
      int64_t r = c->arity == 1 ? c->op1->i(x, p) : c->op2->i(x, a1->geti(a1->dt, c->in[1], i1), p);
      ao->seti(ao->dt, c->out, io, r);
      break;
    }
    case QC_EW_U: {
      uint64_t x = (uint64_t)a0->geti(a0->dt, c->in[0], i0);
      uint64_t r = c->arity == 1
                       ? c->op1->u(x, p)
                       : c->op2->u(x, (uint64_t)a1->geti(a1->dt, c->in[1], i1), p);
      if (c->out_float) ao->setf(ao->dt, c->out, io, (double)r);
      else ao->seti(ao->dt, c->out, io, (int64_t)r);
      break;
    }
    }
  }
}

static void ew_chunk(void *vc, int64_t begin, int64_t end) {
  const ew_ctx *c = vc;
  qc_bcast_runs(c->b, begin, end, ew_run, vc);
}

static bool ew_dtype_ok(qc_dtype dt) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  return t->kind == QC_KIND_FLOAT || t->kind == QC_KIND_INT || t->kind == QC_KIND_BOOL;
}

static qc_status ew_apply(const qc_kctx *k, ew_ctx *c, int32_t n, const qc_tensor *const *x,
                          qc_tensor *out, bool has_f, bool has_i, bool has_u) {
  for (int32_t j = 0; j < n; j++)
    if (!ew_dtype_ok(x[j]->dtype))
      return qc_k_error(k, "input %d: dtype %s is not supported", j, qc_dtype_name(x[j]->dtype));
  if (!ew_dtype_ok(out->dtype))
    return qc_k_error(k, "output dtype %s is not supported", qc_dtype_name(out->dtype));
  c->dom = QC_EW_I;
  for (int32_t j = 0; j < n; j++)
    if (qc_dtype_is_float(x[j]->dtype)) c->dom = QC_EW_F;
  if (c->dom == QC_EW_I && has_u)
    for (int32_t j = 0; j < n; j++)
      if (x[j]->dtype == QC_U64) c->dom = QC_EW_U;
  if ((c->dom == QC_EW_F && !has_f) || (c->dom != QC_EW_F && !has_i)) {
    const char *dn = qc_dtype_name(x[0]->dtype);
    for (int32_t j = 0; j < n; j++)
      if (qc_dtype_is_float(x[j]->dtype) == (c->dom == QC_EW_F)) dn = qc_dtype_name(x[j]->dtype);
    return qc_k_error(k, "dtype %s is not supported", dn);
  }
  /* The output takes part in the broadcast, so inputs may broadcast up to its shape. */
  qc_bcast b;
  const qc_tensor *all[QC_BCAST_MAX_IN];
  for (int32_t j = 0; j < n; j++) all[j] = x[j];
  all[n] = out;
  QC_RETURN_IF_ERROR(qc_k_bcast(k, n + 1, all, &b));
  if (b.rank != out->rank || memcmp(b.dims, out->dims, sizeof(int64_t) * (size_t)b.rank) != 0)
    return qc_k_error(k, "inputs broadcast beyond the output shape");
  c->arity = n;
  c->b = &b;
  c->f32path = c->dom == QC_EW_F && out->dtype == QC_F32;
  for (int32_t j = 0; j < n; j++) {
    c->in[j] = qc_tensor_data(x[j]);
    c->ain[j] = qc_acc_of(x[j]->dtype);
    if (x[j]->dtype != QC_F32) c->f32path = false;
  }
  c->out = qc_tensor_data(out);
  c->aout = qc_acc_of(out->dtype);
  c->out_float = qc_dtype_is_float(out->dtype);
  if (b.numel == 0) return QC_OK;
  /* Sub-byte outputs share bytes between neighbours: one thread writes them all. */
  if (qc_dtype_traits_of(out->dtype)->bits < 8) ew_chunk(c, 0, b.numel);
  else qc_k_parallel_for(k, b.numel, 1 << 14, ew_chunk, c);
  return QC_OK;
}

qc_status qc_ew1_into(const qc_kctx *k, const qc_ew1 *op, const void *p, const qc_tensor *x,
                      qc_tensor *out) {
  ew_ctx c;
  memset(&c, 0, sizeof c);
  c.op1 = op;
  c.p = p;
  const qc_tensor *xs[1] = {x};
  return ew_apply(k, &c, 1, xs, out, op->f != NULL, op->i != NULL, op->u != NULL);
}

qc_status qc_ew2_into(const qc_kctx *k, const qc_ew2 *op, const void *p, const qc_tensor *a,
                      const qc_tensor *b, qc_tensor *out) {
  ew_ctx c;
  memset(&c, 0, sizeof c);
  c.op2 = op;
  c.p = p;
  const qc_tensor *xs[2] = {a, b};
  return ew_apply(k, &c, 2, xs, out, op->f != NULL, op->i != NULL, op->u != NULL);
}

qc_status qc_k_ew1(qc_kctx *k, const qc_ew1 *op, const void *p, const qc_tensor *x,
                   qc_dtype out_dt, int32_t oi) {
  if (!x) return qc_k_error(k, "input 0 is missing");
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, oi, out_dt ? out_dt : x->dtype, x->rank, x->dims, &y));
  return qc_ew1_into(k, op, p, x, y);
}

qc_status qc_k_ew2(qc_kctx *k, const qc_ew2 *op, const void *p, const qc_tensor *a,
                   const qc_tensor *b, qc_dtype out_dt, int32_t oi) {
  if (!a || !b) return qc_k_error(k, "input %d is missing", a ? 1 : 0);
  qc_bcast bc;
  const qc_tensor *xs[2] = {a, b};
  QC_RETURN_IF_ERROR(qc_k_bcast(k, 2, xs, &bc));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, oi, out_dt ? out_dt : a->dtype, bc.rank, bc.dims, &y));
  return qc_ew2_into(k, op, p, a, b, y);
}

/* ---- strings ------------------------------------------------------------------------------------ */

bool qc_string_store(char **slot, const char *s, int64_t len) {
  if (len < 0) len = (int64_t)strlen(s);
  /* String elements are owned by the buffer and freed with free() (tensor.h). */
  char *c = malloc((size_t)len + 1);
  if (!c) return false;
  memcpy(c, s, (size_t)len);
  c[len] = 0;
  free(*slot);
  *slot = c;
  return true;
}

qc_status qc_k_set_string(const qc_kctx *k, qc_tensor *t, size_t i, const char *s, int64_t len) {
  if (!qc_string_store((char **)qc_tensor_data(t) + i, s, len)) return qc_k_error(k, "out of memory");
  return QC_OK;
}
