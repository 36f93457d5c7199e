/*
 * Interpreter kernels: casts, constants, shapes, generators (ranges, windows, random),
 * signal processing, string ops, and the small ai.onnx.ml and training ops.
 *
 * Every element conversion goes through the dtype module (qc_convert, qc_elem_*), which
 * owns the fp8/fp4/e8m0/int4 rules; kernels here only choose the flags.
 */
#include "runtime/kutil.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static qc_status dtype_attr(const qc_kctx *k, const char *name, int64_t code, qc_dtype *out) {
  qc_dtype dt = qc_dtype_from_onnx((int)code);
  if (!dt) return qc_k_error(k, "attribute '%s': unknown ONNX data type %lld", name, (long long)code);
  *out = dt;
  return QC_OK;
}

static qc_status need_in(const qc_kctx *k, int32_t i, const qc_tensor **t) {
  *t = qc_k_in(k, i);
  if (!*t) return qc_k_error(k, "input %d is missing", i);
  return QC_OK;
}

/* ---- numbers <-> strings --------------------------------------------------------------------- */

/* Shortest decimal digits that read back to the same value of dtype dt (numpy's str()). */
static bool roundtrips(qc_dtype dt, double x, const char *s) {
  double y = strtod(s, NULL);
  if (dt == QC_F64) return y == x;
  if (dt == QC_F32) return (float)y == (float)x;
  return qc_float_encode(dt, y, 0) == qc_float_encode(dt, x, 0);
}

/* numpy's str() of a float scalar: shortest round-trip digits, positional for
 * 1e-4 <= |x| < 1e16 (with at least ".0"), scientific otherwise ("1e-05", "1.5e+20"). */
static void format_float(qc_dtype dt, double x, char *out, size_t n) {
  if (isnan(x)) {
    snprintf(out, n, "nan");
    return;
  }
  if (isinf(x)) {
    snprintf(out, n, x < 0 ? "-inf" : "inf");
    return;
  }
  if (x == 0) {
    snprintf(out, n, signbit(x) ? "-0.0" : "0.0");
    return;
  }
  char e[64];
  for (int p = 0; p < 17; p++) {
    snprintf(e, sizeof e, "%.*e", p, x);
    if (roundtrips(dt, x, e)) break;
  }
  /* e = [-]d[.ddd]e(+|-)XX */
  char digits[32];
  int nd = 0;
  const char *c = e;
  bool neg = *c == '-';
  if (neg) c++;
  for (; *c && *c != 'e'; c++)
    if (isdigit((unsigned char)*c)) digits[nd++] = *c;
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  int exp10 = atoi(c + 1);
  double ax = fabs(x);
  char *o = out;
  size_t left = n;
#define PUT(...)                                                                                  \
  do {                                                                                            \
    int w_ = snprintf(o, left, __VA_ARGS__);                                                      \
    if (w_ < 0 || (size_t)w_ >= left) return;                                                    \
    o += w_;                                                                                      \
    left -= (size_t)w_;                                                                           \
  } while (0)
  if (neg) PUT("-");
  if (ax >= 1e-4 && ax < 1e16) {
    if (exp10 >= 0) {
      for (int i = 0; i <= exp10; i++) PUT("%c", i < nd ? digits[i] : '0');
      PUT(".");
      if (nd > exp10 + 1) PUT("%s", digits + exp10 + 1);
      else PUT("0");
    } else {
      PUT("0.");
      for (int i = 0; i < -exp10 - 1; i++) PUT("0");
      PUT("%s", digits);
    }
  } else {
    PUT("%c", digits[0]);
    if (nd > 1) PUT(".%s", digits + 1);
    PUT("e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
  }
#undef PUT
}

static void format_elem(qc_dtype dt, const void *base, size_t i, char *out, size_t n) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  if (t->kind == QC_KIND_BOOL) snprintf(out, n, "%s", qc_elem_i64(dt, base, i) ? "True" : "False");
  else if (dt == QC_U64) snprintf(out, n, "%llu", (unsigned long long)qc_elem_code(dt, base, i));
  else if (t->kind == QC_KIND_INT) snprintf(out, n, "%lld", (long long)qc_elem_i64(dt, base, i));
  else format_float(dt, qc_elem_f64(dt, base, i), out, n);
}

/* Parse a numeric string: decimal or scientific, "INF"/"+INF"/"-INF"/"NaN" in any case.
 * Integer literals are kept exact in *iv (is_int). */
static double parse_number(const char *s, int64_t *iv, bool *is_int) {
  while (isspace((unsigned char)*s)) s++;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  *is_int = end != s && *end == 0 && errno == 0;
  *iv = v;
  if (*is_int) return (double)v;
  return strtod(s, NULL);
}

/* ---- Cast, CastLike, BitCast ----------------------------------------------------------------- */

static qc_status cast_into(qc_kctx *k, const qc_tensor *x, qc_dtype to, bool saturate,
                           const char *round_mode) {
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, to, x->rank, x->dims, &y));
  int64_t n = qc_tensor_numel(x);
  const void *src = qc_tensor_data(x);
  void *dst = qc_tensor_data(y);
  const qc_dtype_traits *ts = qc_dtype_traits_of(x->dtype), *td = qc_dtype_traits_of(to);
  if (ts->kind == QC_KIND_BLOCK || td->kind == QC_KIND_BLOCK || ts->kind == QC_KIND_COMPLEX ||
      td->kind == QC_KIND_COMPLEX)
    return qc_k_error(k, "cast from %s to %s is not supported", ts->name, td->name);
  if (x->dtype == QC_STRING && to == QC_STRING) {
    for (int64_t i = 0; i < n; i++)
      QC_RETURN_IF_ERROR(qc_k_set_string(k, y, (size_t)i, qc_string_at(x, (size_t)i), -1));
    return QC_OK;
  }
  if (to == QC_STRING) {
    char buf[64];
    for (int64_t i = 0; i < n; i++) {
      format_elem(x->dtype, src, (size_t)i, buf, sizeof buf);
      QC_RETURN_IF_ERROR(qc_k_set_string(k, y, (size_t)i, buf, -1));
    }
    return QC_OK;
  }
  unsigned flags = 0;
  if (saturate) flags |= QC_ENC_SATURATE;
  if (to == QC_E8M0) {
    if (strcmp(round_mode, "up") == 0) flags |= QC_ENC_ROUND_CEIL;
    else if (strcmp(round_mode, "down") == 0) flags |= QC_ENC_ROUND_FLOOR;
    else if (strcmp(round_mode, "nearest") != 0)
      return qc_k_error(k, "round_mode must be up, down or nearest, got '%s'", round_mode);
  }
  if (x->dtype == QC_STRING) {
    for (int64_t i = 0; i < n; i++) {
      int64_t iv;
      bool is_int;
      double v = parse_number(qc_string_at(x, (size_t)i), &iv, &is_int);
      if (is_int && td->kind == QC_KIND_INT) qc_elem_set_i64(to, dst, (size_t)i, iv);
      else qc_elem_cast_f64(to, dst, (size_t)i, v, flags);
    }
    return QC_OK;
  }
  /* Only float targets take the encode flags; float -> int stays a truncating cast. */
  qc_convert(x->dtype, src, to, dst, (size_t)n, td->kind == QC_KIND_FLOAT ? flags : 0);
  return QC_OK;
}

static qc_status k_cast(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  const qc_attr *a = qc_k_attr(k, "to");
  if (!a) return qc_k_error(k, "attribute 'to' is required");
  qc_dtype to = QC_DT_UNDEFINED;
  QC_RETURN_IF_ERROR(dtype_attr(k, "to", qc_k_int(k, "to", 0), &to));
  return cast_into(k, x, to, qc_k_int(k, "saturate", 1) != 0, qc_k_string(k, "round_mode", "up"));
}

static qc_status k_castlike(qc_kctx *k) {
  const qc_tensor *x, *like;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, &like));
  return cast_into(k, x, like->dtype, qc_k_int(k, "saturate", 1) != 0,
                   qc_k_string(k, "round_mode", "up"));
}

static qc_status k_bitcast(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  qc_dtype to = QC_DT_UNDEFINED;
  QC_RETURN_IF_ERROR(dtype_attr(k, "to", qc_k_int(k, "to", 0), &to));
  const qc_dtype_traits *ts = qc_dtype_traits_of(x->dtype), *td = qc_dtype_traits_of(to);
  if (x->dtype == QC_STRING || to == QC_STRING || ts->kind == QC_KIND_BLOCK ||
      td->kind == QC_KIND_BLOCK)
    return qc_k_error(k, "cannot bitcast %s to %s", ts->name, td->name);
  if (ts->bits != td->bits)
    return qc_k_error(k, "%s (%d bits) and %s (%d bits) differ in width", ts->name, ts->bits,
                      td->name, td->bits);
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, to, x->rank, x->dims, &y));
  memcpy(qc_tensor_data(y), qc_tensor_data(x), qc_tensor_nbytes(x));
  return QC_OK;
}

/* ---- Identity, Constant, ConstantOfShape, Shape, Size ---------------------------------------- */

static qc_status k_identity(qc_kctx *k) {
  const qc_rvalue *v = qc_k_in_value(k, 0);
  if (!v) return qc_k_error(k, "input 0 is missing");
  qc_rvalue_release(&k->out[0]);
  return qc_rvalue_copy(&k->out[0], v);
}

static qc_status k_constant(qc_kctx *k) {
  const qc_attr *a;
  if ((a = qc_k_attr(k, "value")) && a->kind == QC_ATTR_TENSOR) {
    qc_k_out_alias(k, 0, a->u.t);
    return QC_OK;
  }
  qc_tensor *y;
  if ((a = qc_k_attr(k, "value_float"))) {
    QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_F32, 0, NULL, &y));
    *(float *)qc_tensor_data(y) = (float)qc_k_float(k, "value_float", 0);
    return QC_OK;
  }
  if ((a = qc_k_attr(k, "value_int"))) {
    QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_I64, 0, NULL, &y));
    *(int64_t *)qc_tensor_data(y) = qc_k_int(k, "value_int", 0);
    return QC_OK;
  }
  if ((a = qc_k_attr(k, "value_floats")) && a->kind == QC_ATTR_FLOATS) {
    int64_t n = a->n;
    QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_F32, 1, &n, &y));
    float *d = qc_tensor_data(y);
    for (int32_t i = 0; i < a->n; i++) d[i] = (float)a->u.floats[i];
    return QC_OK;
  }
  if ((a = qc_k_attr(k, "value_ints")) && a->kind == QC_ATTR_INTS) {
    int64_t n = a->n;
    QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_I64, 1, &n, &y));
    if (n) memcpy(qc_tensor_data(y), a->u.ints, sizeof(int64_t) * (size_t)n);
    return QC_OK;
  }
  if ((a = qc_k_attr(k, "value_string")) && a->kind == QC_ATTR_STRING) {
    QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_STRING, 0, NULL, &y));
    return qc_k_set_string(k, y, 0, a->u.s, a->n);
  }
  if ((a = qc_k_attr(k, "value_strings")) && a->kind == QC_ATTR_STRINGS) {
    int64_t n = a->n;
    QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_STRING, 1, &n, &y));
    for (int32_t i = 0; i < a->n; i++)
      QC_RETURN_IF_ERROR(qc_k_set_string(k, y, (size_t)i, a->u.strs.v[i], a->u.strs.len[i]));
    return QC_OK;
  }
  if (qc_k_attr(k, "sparse_value")) return qc_k_error(k, "sparse_value is not supported");
  return qc_k_error(k, "no value attribute");
}

static qc_status k_constant_of_shape(qc_kctx *k) {
  const qc_tensor *s;
  QC_RETURN_IF_ERROR(need_in(k, 0, &s));
  int64_t dims[QC_MAX_RANK];
  int64_t r;
  QC_RETURN_IF_ERROR(qc_k_ints(k, s, "shape", dims, QC_MAX_RANK, &r));
  const qc_attr *a = qc_k_attr(k, "value");
  qc_dtype dt = QC_F32;
  uint64_t code = 0;
  if (a && a->kind == QC_ATTR_TENSOR) {
    if (qc_tensor_numel(a->u.t) != 1) return qc_k_error(k, "value must have one element");
    dt = a->u.t->dtype;
    if (dt == QC_STRING || qc_dtype_is_block(dt) || qc_dtype_traits_of(dt)->kind == QC_KIND_COMPLEX)
      return qc_k_error(k, "value of dtype %s is not supported", qc_dtype_name(dt));
    code = qc_elem_code(dt, qc_tensor_data(a->u.t), 0);
  }
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, dt, r, dims, &y));
  int64_t n = qc_tensor_numel(y);
  if (code)
    for (int64_t i = 0; i < n; i++) qc_elem_set_code(dt, qc_tensor_data(y), (size_t)i, code);
  return QC_OK;
}

static qc_status k_shape(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  int64_t r = x->rank, start = 0, end = r;
  if (qc_k_attr(k, "start")) start = qc_k_int(k, "start", 0);
  if (qc_k_attr(k, "end")) end = qc_k_int(k, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < 0 ? 0 : end > r ? r : end;
  int64_t n = end > start ? end - start : 0;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_I64, 1, &n, &y));
  int64_t *d = qc_tensor_data(y);
  for (int64_t i = 0; i < n; i++) d[i] = x->dims[start + i];
  return QC_OK;
}

static qc_status k_size(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_I64, 0, NULL, &y));
  *(int64_t *)qc_tensor_data(y) = qc_tensor_numel(x);
  return QC_OK;
}

/* ---- generators ------------------------------------------------------------------------------ */

static qc_status k_eyelike(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  if (x->rank != 2 && x->rank != 1) return qc_k_error(k, "input must be 2-D, got rank %d", x->rank);
  qc_dtype dt = x->dtype;
  int64_t code = qc_k_int(k, "dtype", 0);
  if (qc_k_attr(k, "dtype") && code) QC_RETURN_IF_ERROR(dtype_attr(k, "dtype", code, &dt));
  int64_t dims[2] = {x->dims[0], x->rank == 2 ? x->dims[1] : x->dims[0]};
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, dt, 2, dims, &y));
  int64_t off = qc_k_int(k, "k", 0);
  void *d = qc_tensor_data(y);
  for (int64_t i = 0; i < dims[0]; i++) {
    int64_t j = i + off;
    if (j >= 0 && j < dims[1]) qc_elem_set_i64(dt, d, (size_t)(i * dims[1] + j), 1);
  }
  return QC_OK;
}

static qc_status scalar_in(const qc_kctx *k, int32_t i, const qc_tensor **t) {
  QC_RETURN_IF_ERROR(need_in(k, i, t));
  if (qc_tensor_numel(*t) != 1) return qc_k_error(k, "input %d must be a scalar", i);
  return QC_OK;
}

static qc_status k_range(qc_kctx *k) {
  const qc_tensor *ts, *tl, *td;
  QC_RETURN_IF_ERROR(scalar_in(k, 0, &ts));
  QC_RETURN_IF_ERROR(scalar_in(k, 1, &tl));
  QC_RETURN_IF_ERROR(scalar_in(k, 2, &td));
  qc_dtype dt = ts->dtype;
  qc_tensor *y;
  if (qc_dtype_is_int(dt)) {
    int64_t s = qc_elem_i64(dt, qc_tensor_data(ts), 0), l = qc_elem_i64(tl->dtype, qc_tensor_data(tl), 0),
            d = qc_elem_i64(td->dtype, qc_tensor_data(td), 0);
    if (d == 0) return qc_k_error(k, "delta is zero");
    int64_t span = l - s, n;
    if ((span > 0) != (d > 0) || span == 0) n = 0;
    else n = span / d + (span % d != 0);
    QC_RETURN_IF_ERROR(qc_k_out(k, 0, dt, 1, &n, &y));
    for (int64_t i = 0; i < n; i++) qc_elem_set_i64(dt, qc_tensor_data(y), (size_t)i, s + i * d);
    return QC_OK;
  }
  double s = qc_elem_f64(dt, qc_tensor_data(ts), 0), l = qc_elem_f64(tl->dtype, qc_tensor_data(tl), 0),
         d = qc_elem_f64(td->dtype, qc_tensor_data(td), 0);
  if (d == 0) return qc_k_error(k, "delta is zero");
  double nf = ceil((l - s) / d);
  if (!(nf > 0)) nf = 0;
  if (nf > 1e12) return qc_k_error(k, "range of %g elements is too large", nf);
  int64_t n = (int64_t)nf;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, dt, 1, &n, &y));
  qc_acc a = qc_acc_of(dt);
  for (int64_t i = 0; i < n; i++) a.setf(dt, qc_tensor_data(y), (size_t)i, s + (double)i * d);
  return QC_OK;
}

/* Windows: w[n] for n in [0, size), N = size (periodic) or size - 1 (symmetric). */
typedef enum { WIN_HANN, WIN_HAMMING, WIN_BLACKMAN } win_kind;

static qc_status window(qc_kctx *k, win_kind kind) {
  const qc_tensor *ts;
  QC_RETURN_IF_ERROR(scalar_in(k, 0, &ts));
  int64_t size = qc_elem_i64(ts->dtype, qc_tensor_data(ts), 0);
  if (size < 0) return qc_k_error(k, "size must be non-negative");
  qc_dtype dt = QC_DT_UNDEFINED;
  QC_RETURN_IF_ERROR(dtype_attr(k, "output_datatype", qc_k_int(k, "output_datatype", 1), &dt));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, dt, 1, &size, &y));
  double N = qc_k_int(k, "periodic", 1) ? (double)size : (double)size - 1;
  qc_acc a = qc_acc_of(dt);
  for (int64_t i = 0; i < size; i++) {
    double x = (double)i, w;
    switch (kind) {
    case WIN_HANN: w = sin(M_PI * x / N) * sin(M_PI * x / N); break;
    case WIN_HAMMING: w = 25.0 / 46.0 - (21.0 / 46.0) * cos(2 * M_PI * x / N); break;
    default: w = 0.42 - 0.5 * cos(2 * M_PI * x / N) + 0.08 * cos(4 * M_PI * x / N); break;
    }
    a.setf(dt, qc_tensor_data(y), (size_t)i, w);
  }
  return QC_OK;
}
static qc_status k_hann(qc_kctx *k) { return window(k, WIN_HANN); }
static qc_status k_hamming(qc_kctx *k) { return window(k, WIN_HAMMING); }
static qc_status k_blackman(qc_kctx *k) { return window(k, WIN_BLACKMAN); }

/* MelWeightMatrix: triangular filters between mel-spaced bin edges, as the ONNX reference
 * computes them (edges floor((dft_length + 1) * hz / sample_rate)). */
static qc_status k_mel_weight_matrix(qc_kctx *k) {
  const qc_tensor *t[5];
  for (int32_t i = 0; i < 5; i++) QC_RETURN_IF_ERROR(scalar_in(k, i, &t[i]));
  int64_t n_mel = qc_elem_i64(t[0]->dtype, qc_tensor_data(t[0]), 0);
  int64_t dft = qc_elem_i64(t[1]->dtype, qc_tensor_data(t[1]), 0);
  int64_t rate = qc_elem_i64(t[2]->dtype, qc_tensor_data(t[2]), 0);
  double lo = qc_elem_f64(t[3]->dtype, qc_tensor_data(t[3]), 0);
  double hi = qc_elem_f64(t[4]->dtype, qc_tensor_data(t[4]), 0);
  if (n_mel < 0 || dft < 0 || rate <= 0) return qc_k_error(k, "invalid sizes");
  qc_dtype dt = QC_DT_UNDEFINED;
  QC_RETURN_IF_ERROR(dtype_attr(k, "output_datatype", qc_k_int(k, "output_datatype", 1), &dt));
  int64_t n_spec = dft / 2 + 1;
  int64_t dims[2] = {n_spec, n_mel};
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, dt, 2, dims, &y));
  size_t nb = sizeof(int64_t) * (size_t)(n_mel + 2);
  int64_t *bins = qc_k_alloc(k, nb);
  double *w = qc_k_alloc(k, sizeof(double) * (size_t)(n_spec * n_mel));
  if (!bins || !w) {
    qc_k_free(k, bins, nb);
    qc_k_free(k, w, sizeof(double) * (size_t)(n_spec * n_mel));
    return qc_k_error(k, "out of memory");
  }
  memset(w, 0, sizeof(double) * (size_t)(n_spec * n_mel));
  double mlo = 2595.0 * log10(1.0 + lo / 700.0), mhi = 2595.0 * log10(1.0 + hi / 700.0);
  double step = (mhi - mlo) / (double)(n_mel + 2);
  for (int64_t i = 0; i < n_mel + 2; i++) {
    double hz = 700.0 * (pow(10.0, ((double)i * step + mlo) / 2595.0) - 1.0);
    bins[i] = (int64_t)floor((double)(dft + 1) * hz / (double)rate);
  }
  qc_status s = QC_OK;
  for (int64_t i = 0; i < n_mel && !s; i++) {
    int64_t l = bins[i], c = bins[i + 1], h = bins[i + 2];
    if (l < 0 || h >= n_spec || c < 0 || c >= n_spec) {
      s = qc_k_error(k, "mel filter %lld falls outside the spectrogram", (long long)i);
      break;
    }
    if (c == l) w[c * n_mel + i] = 1;
    else
      for (int64_t j = l; j <= c; j++) w[j * n_mel + i] = (double)(j - l) / (double)(c - l);
    if (h > c)
      for (int64_t j = c; j < h; j++) w[j * n_mel + i] = (double)(h - j) / (double)(h - c);
  }
  if (!s) qc_store_f64(y, w);
  qc_k_free(k, bins, nb);
  qc_k_free(k, w, sizeof(double) * (size_t)(n_spec * n_mel));
  return s;
}

/* ---- random ------------------------------------------------------------------------------------ */

/* xoshiro256** seeded by splitmix64: the seed attribute when given, else the node index
 * (runs are reproducible). */
typedef struct rng {
  uint64_t s[4];
} rng;

static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
static uint64_t rng_next(rng *r) {
  uint64_t *s = r->s;
  uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return res;
}
static double rng_uniform(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }
static double rng_normal(rng *r) {
  double u = rng_uniform(r), v = rng_uniform(r);
  return sqrt(-2.0 * log(1.0 - u)) * cos(2 * M_PI * v);
}
static void rng_init(const qc_kctx *k, rng *r) {
  uint64_t x = qc_k_attr(k, "seed") ? (uint64_t)(int64_t)qc_k_float(k, "seed", 0)
                                    : 0x5EEDull + (uint64_t)k->node;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix(&x);
}

/* Output dtype of the random ops: the dtype attribute, else the input's (Like ops), else f32. */
static qc_status random_dtype(const qc_kctx *k, const qc_tensor *like, qc_dtype dflt, qc_dtype *dt) {
  *dt = like ? like->dtype : dflt;
  if (qc_k_attr(k, "dtype") && qc_k_int(k, "dtype", 0))
    QC_RETURN_IF_ERROR(dtype_attr(k, "dtype", qc_k_int(k, "dtype", 0), dt));
  return QC_OK;
}

static qc_status random_fill(qc_kctx *k, bool normal, const qc_tensor *like) {
  qc_dtype dt = QC_DT_UNDEFINED;
  QC_RETURN_IF_ERROR(random_dtype(k, like, QC_F32, &dt));
  int64_t dims[QC_MAX_RANK];
  int32_t r;
  if (like) {
    r = like->rank;
    memcpy(dims, like->dims, sizeof(int64_t) * (size_t)r);
  } else {
    QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "shape", dims, QC_MAX_RANK, &r));
    if (r < 0) return qc_k_error(k, "attribute 'shape' is required");
  }
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, dt, r, dims, &y));
  rng g;
  rng_init(k, &g);
  double a, b;
  if (normal) {
    a = qc_k_float(k, "mean", 0.0);
    b = qc_k_float(k, "scale", 1.0);
  } else {
    a = qc_k_float(k, "low", 0.0);
    b = qc_k_float(k, "high", 1.0) - a;
  }
  qc_acc acc = qc_acc_of(dt);
  int64_t n = qc_tensor_numel(y);
  for (int64_t i = 0; i < n; i++) {
    double v = normal ? a + b * rng_normal(&g) : a + b * rng_uniform(&g);
    acc.setf(dt, qc_tensor_data(y), (size_t)i, v);
  }
  return QC_OK;
}
static qc_status k_random_normal(qc_kctx *k) { return random_fill(k, true, NULL); }
static qc_status k_random_uniform(qc_kctx *k) { return random_fill(k, false, NULL); }
static qc_status k_random_normal_like(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  return random_fill(k, true, x);
}
static qc_status k_random_uniform_like(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  return random_fill(k, false, x);
}

static qc_status k_bernoulli(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  qc_dtype dt = QC_DT_UNDEFINED;
  QC_RETURN_IF_ERROR(random_dtype(k, x, x->dtype, &dt));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, dt, x->rank, x->dims, &y));
  rng g;
  rng_init(k, &g);
  int64_t n = qc_tensor_numel(x);
  for (int64_t i = 0; i < n; i++) {
    double p = qc_elem_f64(x->dtype, qc_tensor_data(x), (size_t)i);
    qc_elem_set_i64(dt, qc_tensor_data(y), (size_t)i, rng_uniform(&g) < p);
  }
  return QC_OK;
}

/* Multinomial: input [batch, classes] of unnormalized log-probabilities. */
static qc_status k_multinomial(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  if (x->rank != 2) return qc_k_error(k, "input must be 2-D [batch, classes]");
  qc_dtype dt = QC_DT_UNDEFINED;
  QC_RETURN_IF_ERROR(dtype_attr(k, "dtype", qc_k_int(k, "dtype", 6), &dt));
  int64_t samples = qc_k_int(k, "sample_size", 1);
  int64_t dims[2] = {x->dims[0], samples};
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, dt, 2, dims, &y));
  rng g;
  rng_init(k, &g);
  int64_t c = x->dims[1];
  for (int64_t b = 0; b < x->dims[0]; b++) {
    double mx = -INFINITY, total = 0;
    for (int64_t j = 0; j < c; j++) {
      double v = qc_elem_f64(x->dtype, qc_tensor_data(x), (size_t)(b * c + j));
      if (v > mx) mx = v;
    }
    for (int64_t j = 0; j < c; j++)
      total += exp(qc_elem_f64(x->dtype, qc_tensor_data(x), (size_t)(b * c + j)) - mx);
    for (int64_t s = 0; s < samples; s++) {
      double u = rng_uniform(&g) * total, acc = 0;
      int64_t pick = c - 1;
      for (int64_t j = 0; j < c; j++) {
        acc += exp(qc_elem_f64(x->dtype, qc_tensor_data(x), (size_t)(b * c + j)) - mx);
        if (u < acc) {
          pick = j;
          break;
        }
      }
      qc_elem_set_i64(dt, qc_tensor_data(y), (size_t)(b * samples + s), pick);
    }
  }
  return QC_OK;
}

const qc_kernel_entry qc_kernels_misc[] = {
    {QC_OP_Cast, k_cast},
    {QC_OP_CastLike, k_castlike},
    {QC_OP_BitCast, k_bitcast},
    {QC_OP_Identity, k_identity},
    {QC_OP_Constant, k_constant},
    {QC_OP_ConstantOfShape, k_constant_of_shape},
    {QC_OP_Shape, k_shape},
    {QC_OP_Size, k_size},
    {QC_OP_EyeLike, k_eyelike},
    {QC_OP_Range, k_range},
    {QC_OP_HannWindow, k_hann},
    {QC_OP_HammingWindow, k_hamming},
    {QC_OP_BlackmanWindow, k_blackman},
    {QC_OP_MelWeightMatrix, k_mel_weight_matrix},
    {QC_OP_RandomNormal, k_random_normal},
    {QC_OP_RandomUniform, k_random_uniform},
    {QC_OP_RandomNormalLike, k_random_normal_like},
    {QC_OP_RandomUniformLike, k_random_uniform_like},
    {QC_OP_Bernoulli, k_bernoulli},
    {QC_OP_Multinomial, k_multinomial},
    {QC_OP_INVALID, NULL},
};
