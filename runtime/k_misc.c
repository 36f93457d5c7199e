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
#include <strings.h>

static qc_status dtype_attr(const qc_kctx *k, const char *name, int64_t code, qc_dtype *out) {
  qc_dtype dt = qc_dtype_from_onnx((int)code);
  if (!dt) return qc_k_error(k, "attribute '%s': unknown ONNX data type %lld", name, (long long)code);
  *out = dt;
  return QC_OK;
}

static double scalar_f64(const qc_tensor *t) { return qc_elem_f64(t->dtype, qc_tensor_data(t), 0); }
static double scalar_f64_at(const qc_tensor *t, int64_t i) {
  return qc_elem_f64(t->dtype, qc_tensor_data(t), (size_t)i);
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
 * 1e-4 <= |x| < 10^d (with at least ".0"), scientific otherwise ("1e-05", "1.5e+20");
 * d is 16 for f64, 6 for f32 and 3 for 16-bit floats. */
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
  double hi = dt == QC_F64 ? 1e16 : qc_dtype_traits_of(dt)->bits > 16 ? 1e6 : 1e3;
  if (ax >= 1e-4 && ax < hi) {
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
  /* `saturate` applies to the 8-bit float targets only; f16/bf16 overflow to Inf, and fp4
   * (no Inf) always saturates in the dtype module. */
  unsigned flags = 0;
  bool f8 = to == QC_F8E4M3FN || to == QC_F8E4M3FNUZ || to == QC_F8E5M2 || to == QC_F8E5M2FNUZ ||
            to == QC_E8M0;
  if (saturate && f8) flags |= QC_ENC_SATURATE;
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
  int64_t r;
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

/* ---- DFT, STFT ---------------------------------------------------------------------------------- */

/* One line of a discrete Fourier transform, in double. in: L complex values (re, im);
 * out: K values. Forward: out[k] = sum_t in[t] e^{-2 pi i k t / n} over t < min(n, L).
 * Inverse: the same with e^{+...} and a 1/n factor. IRFFT (`real_out`): in is the one-sided
 * spectrum; out[t] (real) = 1/n (Re X0 + 2 sum_{0<k<n/2} Re(X_k e^{2 pi i k t/n})
 * + [n even] Re X_{n/2} (-1)^t), as numpy's irfft. */
static void dft_line(const double *in, int64_t L, double *out, int64_t K, int64_t n, bool inverse,
                     bool real_out) {
  double sgn = inverse ? 1.0 : -1.0;
  for (int64_t k = 0; k < K; k++) {
    double re = 0, im = 0;
    if (real_out) {
      int64_t m = n / 2 + 1;
      for (int64_t f = 0; f < m && f < L; f++) {
        double xr = in[2 * f], xi = in[2 * f + 1];
        if (f == 0 || (n % 2 == 0 && f == n / 2)) {
          re += xr * (f == 0 ? 1.0 : ((k % 2) ? -1.0 : 1.0));
          continue;
        }
        double a = 2 * M_PI * (double)((f * k) % n) / (double)n;
        re += 2 * (xr * cos(a) - xi * sin(a));
      }
      out[2 * k] = re / (double)n;
      out[2 * k + 1] = 0;
      continue;
    }
    for (int64_t t = 0; t < n && t < L; t++) {
      double a = sgn * 2 * M_PI * (double)((k * t) % n) / (double)n;
      double c = cos(a), s = sin(a), xr = in[2 * t], xi = in[2 * t + 1];
      re += xr * c - xi * s;
      im += xr * s + xi * c;
    }
    out[2 * k] = inverse ? re / (double)n : re;
    out[2 * k + 1] = inverse ? im / (double)n : im;
  }
}

static qc_status k_dft(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  if (!qc_dtype_is_float(x->dtype)) return qc_k_error(k, "input must be a float tensor");
  int32_t r = x->rank;
  if (r < 2 || (x->dims[r - 1] != 1 && x->dims[r - 1] != 2))
    return qc_k_error(k, "input must end in a dimension of 1 (real) or 2 (complex)");
  int64_t axis = qc_k_opset(k) >= 20 ? -2 : qc_k_int(k, "axis", 1);
  const qc_tensor *ta = qc_k_opset(k) >= 20 ? qc_k_in(k, 2) : NULL;
  if (ta) axis = qc_elem_i64(ta->dtype, qc_tensor_data(ta), 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r - 1) return qc_k_error(k, "axis out of range");
  bool inverse = qc_k_int(k, "inverse", 0) != 0, onesided = qc_k_int(k, "onesided", 0) != 0;
  int64_t L = x->dims[axis], n = inverse && onesided ? 2 * (L - 1) : L;
  const qc_tensor *tn = qc_k_in(k, 1);
  if (tn) n = qc_elem_i64(tn->dtype, qc_tensor_data(tn), 0);
  if (n <= 0) return qc_k_error(k, "dft_length must be positive");
  int64_t K = (!inverse && onesided) ? n / 2 + 1 : n;
  bool real_out = inverse && onesided;
  int64_t dims[QC_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)r);
  dims[axis] = K;
  dims[r - 1] = real_out ? 1 : 2;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, r, dims, &y));
  int64_t outer = 1, mid = 1, cin = x->dims[r - 1], cout = dims[r - 1];
  for (int32_t d = 0; d < axis; d++) outer *= x->dims[d];
  for (int32_t d = (int32_t)axis + 1; d < r - 1; d++) mid *= x->dims[d];
  size_t bi = sizeof(double) * 2 * (size_t)(L ? L : 1), bo = sizeof(double) * 2 * (size_t)K;
  double *in = qc_k_alloc(k, bi), *out = qc_k_alloc(k, bo);
  if (!in || !out) {
    if (in) qc_k_free(k, in, bi);
    if (out) qc_k_free(k, out, bo);
    return qc_k_error(k, "out of memory");
  }
  qc_acc a = qc_acc_of(x->dtype);
  for (int64_t o = 0; o < outer; o++)
    for (int64_t m = 0; m < mid; m++) {
      for (int64_t t = 0; t < L; t++) {
        size_t base = (size_t)(((o * L + t) * mid + m) * cin);
        in[2 * t] = a.getf(a.dt, qc_tensor_data(x), base);
        in[2 * t + 1] = cin == 2 ? a.getf(a.dt, qc_tensor_data(x), base + 1) : 0;
      }
      dft_line(in, L, out, K, n, inverse, real_out);
      for (int64_t kk = 0; kk < K; kk++) {
        size_t base = (size_t)(((o * K + kk) * mid + m) * cout);
        a.setf(a.dt, qc_tensor_data(y), base, out[2 * kk]);
        if (cout == 2) a.setf(a.dt, qc_tensor_data(y), base + 1, out[2 * kk + 1]);
      }
    }
  qc_k_free(k, in, bi);
  qc_k_free(k, out, bo);
  return QC_OK;
}

/* STFT: signal [B, L, 1|2], frame_step, window [W]?, frame_length? ->
 * [B, frames, bins, 2] with frames = 1 + (L - frame_length) / frame_step. */
static qc_status k_stft(qc_kctx *k) {
  const qc_tensor *x, *tstep, *win = qc_k_in(k, 2), *tlen = qc_k_in(k, 3);
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, &tstep));
  if (x->rank != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
    return qc_k_error(k, "signal must be [batch, length, 1 or 2]");
  int64_t L = x->dims[1], step = qc_elem_i64(tstep->dtype, qc_tensor_data(tstep), 0);
  int64_t W = win ? qc_tensor_numel(win) : L;
  int64_t fl = tlen ? qc_elem_i64(tlen->dtype, qc_tensor_data(tlen), 0) : W;
  if (!win) W = fl;
  if (step <= 0 || fl <= 0 || fl > L) return qc_k_error(k, "invalid frame_step or frame_length");
  bool onesided = qc_k_int(k, "onesided", 1) != 0;
  int64_t frames = 1 + (L - fl) / step, bins = onesided ? fl / 2 + 1 : fl;
  int64_t dims[4] = {x->dims[0], frames, bins, 2};
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, 4, dims, &y));
  size_t bi = sizeof(double) * 2 * (size_t)fl, bo = sizeof(double) * 2 * (size_t)bins;
  double *in = qc_k_alloc(k, bi), *out = qc_k_alloc(k, bo);
  if (!in || !out) {
    if (in) qc_k_free(k, in, bi);
    if (out) qc_k_free(k, out, bo);
    return qc_k_error(k, "out of memory");
  }
  qc_acc a = qc_acc_of(x->dtype);
  int64_t C = x->dims[2];
  for (int64_t b = 0; b < x->dims[0]; b++)
    for (int64_t f = 0; f < frames; f++) {
      for (int64_t t = 0; t < fl; t++) {
        int64_t pos = f * step + t;
        double w = win ? (t < W ? scalar_f64_at(win, t) : 0) : 1;
        bool inside = pos < L && t < W;
        size_t base = (size_t)((b * L + pos) * C);
        in[2 * t] = inside ? a.getf(a.dt, qc_tensor_data(x), base) * w : 0;
        in[2 * t + 1] = inside && C == 2 ? a.getf(a.dt, qc_tensor_data(x), base + 1) * w : 0;
      }
      dft_line(in, fl, out, bins, fl, false, false);
      for (int64_t kk = 0; kk < bins; kk++)
        for (int c = 0; c < 2; c++)
          a.setf(a.dt, qc_tensor_data(y), (size_t)(((b * frames + f) * bins + kk) * 2 + c), out[2 * kk + c]);
    }
  qc_k_free(k, in, bi);
  qc_k_free(k, out, bo);
  return QC_OK;
}

/* ---- string ops ------------------------------------------------------------------------------- */

/* StringNormalizer: drop stopwords (whole elements), change case (ASCII letters). Input
 * [C] or [1, C]; if every element is dropped the output holds one empty string. */
static qc_status k_string_normalizer(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  if (x->dtype != QC_STRING) return qc_k_error(k, "input must be a string tensor");
  if (!(x->rank == 1 || (x->rank == 2 && x->dims[0] == 1)))
    return qc_k_error(k, "input must have shape [C] or [1, C]");
  const char *act = qc_k_string(k, "case_change_action", "NONE");
  int mode = strcmp(act, "LOWER") == 0 ? 1 : strcmp(act, "UPPER") == 0 ? 2 : 0;
  if (!mode && strcmp(act, "NONE") != 0)
    return qc_k_error(k, "case_change_action must be LOWER, UPPER or NONE, got '%s'", act);
  bool cs = qc_k_int(k, "is_case_sensitive", 0) != 0;
  const qc_attr *sw = qc_k_attr(k, "stopwords");
  int64_t n = qc_tensor_numel(x), kept = 0;
  bool *keep = qc_k_alloc(k, (size_t)(n ? n : 1));
  if (!keep) return qc_k_error(k, "out of memory");
  for (int64_t i = 0; i < n; i++) {
    const char *v = qc_string_at(x, (size_t)i);
    keep[i] = true;
    for (int32_t j = 0; sw && sw->kind == QC_ATTR_STRINGS && j < sw->n && keep[i]; j++)
      if ((cs ? strcmp(v, sw->u.strs.v[j]) : strcasecmp(v, sw->u.strs.v[j])) == 0) keep[i] = false;
    kept += keep[i];
  }
  int64_t dims[2] = {1, kept ? kept : 1};
  qc_tensor *y;
  qc_status s = qc_k_out(k, 0, QC_STRING, x->rank, x->rank == 2 ? dims : dims + 1, &y);
  for (int64_t i = 0, o = 0; i < n && !s; i++) {
    if (!keep[i]) continue;
    s = qc_k_set_string(k, y, (size_t)o, qc_string_at(x, (size_t)i), -1);
    char *c = ((char **)qc_tensor_data(y))[o++];
    for (; c && *c && !s; c++)
      *c = (char)(mode == 1 ? tolower((unsigned char)*c) : mode == 2 ? toupper((unsigned char)*c) : *c);
  }
  if (!s && !kept) s = qc_k_set_string(k, y, 0, "", 0);
  qc_k_free(k, keep, (size_t)(n ? n : 1));
  return s;
}

static qc_status k_string_concat(qc_kctx *k) {
  const qc_tensor *a, *b;
  QC_RETURN_IF_ERROR(need_in(k, 0, &a));
  QC_RETURN_IF_ERROR(need_in(k, 1, &b));
  if (a->dtype != QC_STRING || b->dtype != QC_STRING)
    return qc_k_error(k, "inputs must be string tensors");
  qc_bcast bc;
  const qc_tensor *xs[2] = {a, b};
  QC_RETURN_IF_ERROR(qc_k_bcast(k, 2, xs, &bc));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_STRING, bc.rank, bc.dims, &y));
  for (int64_t i = 0; i < bc.numel; i++) {
    int64_t off[2];
    qc_bcast_offsets(&bc, i, off);
    const char *x0 = qc_string_at(a, (size_t)off[0]), *x1 = qc_string_at(b, (size_t)off[1]);
    size_t l0 = strlen(x0), l1 = strlen(x1);
    char *c = malloc(l0 + l1 + 1); /* owned by the string tensor (tensor.h) */
    if (!c) return qc_k_error(k, "out of memory");
    memcpy(c, x0, l0);
    memcpy(c + l0, x1, l1 + 1);
    char **slot = (char **)qc_tensor_data(y) + i;
    free(*slot);
    *slot = c;
  }
  return QC_OK;
}

/* One Python str.split: with a delimiter, every occurrence splits (empty parts kept); with
 * none, runs of whitespace split and leading/trailing whitespace is dropped. At most
 * maxsplit splits when maxsplit > 0. Calls emit(part, len) per part; returns the count. */
static int64_t split_one(const char *s, const char *delim, int64_t maxsplit,
                         qc_status (*emit)(void *, const char *, int64_t), void *ctx,
                         qc_status *st) {
  int64_t parts = 0;
  size_t dl = delim ? strlen(delim) : 0;
  if (dl) {
    const char *p = s;
    for (;;) {
      const char *q = (maxsplit <= 0 || parts < maxsplit) ? strstr(p, delim) : NULL;
      int64_t len = q ? q - p : (int64_t)strlen(p);
      if (emit && !*st) *st = emit(ctx, p, len);
      parts++;
      if (!q) break;
      p = q + dl;
    }
    return parts;
  }
  const char *p = s;
  for (;;) {
    while (*p && isspace((unsigned char)*p)) p++;
    if (!*p) break;
    const char *q = p;
    if (maxsplit > 0 && parts == maxsplit) q = p + strlen(p);
    else
      while (*q && !isspace((unsigned char)*q)) q++;
    if (emit && !*st) *st = emit(ctx, p, q - p);
    parts++;
    p = q;
  }
  return parts;
}

typedef struct split_sink {
  const qc_kctx *k;
  qc_tensor *y;
  size_t next;
} split_sink;

static qc_status split_emit(void *vc, const char *p, int64_t len) {
  split_sink *c = vc;
  return qc_k_set_string(c->k, c->y, c->next++, p, len);
}

static qc_status k_string_split(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  if (x->dtype != QC_STRING) return qc_k_error(k, "input must be a string tensor");
  if (x->rank >= QC_MAX_RANK) return qc_k_error(k, "input rank too large");
  const char *delim = qc_k_string(k, "delimiter", "");
  if (delim && !*delim) delim = NULL;
  int64_t maxsplit = qc_k_int(k, "maxsplit", 0);
  int64_t n = qc_tensor_numel(x), width = 0;
  qc_status st = QC_OK;
  qc_tensor *z;
  QC_RETURN_IF_ERROR(qc_k_out(k, 1, QC_I64, x->rank, x->dims, &z));
  for (int64_t i = 0; i < n; i++) {
    int64_t c = split_one(qc_string_at(x, (size_t)i), delim, maxsplit, NULL, NULL, &st);
    ((int64_t *)qc_tensor_data(z))[i] = c;
    if (c > width) width = c;
  }
  int64_t dims[QC_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[x->rank] = width;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_STRING, x->rank + 1, dims, &y));
  for (int64_t i = 0; i < n && !st; i++) {
    split_sink sink = {k, y, (size_t)(i * width)};
    split_one(qc_string_at(x, (size_t)i), delim, maxsplit, split_emit, &sink, &st);
    for (size_t j = sink.next; j < (size_t)((i + 1) * width) && !st; j++)
      st = qc_k_set_string(k, y, j, "", 0);
  }
  return st;
}

/* TfIdfVectorizer: count the pool's n-grams in each row of X (1-D [C] or 2-D [B, C]),
 * n-grams of sizes min..max formed from items start, start + d, start + 2d, ... for
 * skip distances d = 1..max_skip_count + 1 (unigrams counted once, at d = 1), then weight
 * the counts (TF, IDF, TFIDF). pool_* holds the n-grams by size: ngram_counts[i] is where
 * the (i+1)-grams start; n-gram j goes to output column ngram_indexes[j]. */
typedef struct tfidf {
  const qc_tensor *x;
  const qc_attr *pool_i, *pool_s;
  const int64_t *counts, *indexes;
  int32_t n_counts, n_indexes;
  int64_t pool_len;
} tfidf;

static bool tfidf_item_eq(const tfidf *t, int64_t pool_pos, size_t xi) {
  if (t->pool_s) return strcmp(t->pool_s->u.strs.v[pool_pos], qc_string_at(t->x, xi)) == 0;
  return t->pool_i->u.ints[pool_pos] == qc_elem_i64(t->x->dtype, qc_tensor_data(t->x), xi);
}

/* The global index of the n-gram (items xi[0..n)) in the pool, or -1 (the last of
 * repeated n-grams wins, as in the reference). */
static int64_t tfidf_find(const tfidf *t, int64_t n, const size_t *xi) {
  if (n > t->n_counts) return -1;
  int64_t begin = t->counts[n - 1], end = n < t->n_counts ? t->counts[n] : t->pool_len;
  int64_t first_id = 0;
  for (int64_t s = 1; s < n; s++) {
    int64_t b = t->counts[s - 1], e = s < t->n_counts ? t->counts[s] : t->pool_len;
    first_id += (e - b) / s;
  }
  int64_t found = -1;
  for (int64_t g = 0; begin + (g + 1) * n <= end; g++) {
    bool eq = true;
    for (int64_t i = 0; i < n && eq; i++) eq = tfidf_item_eq(t, begin + g * n + i, xi[i]);
    if (eq) found = first_id + g;
  }
  return found;
}

static qc_status k_tfidf_vectorizer(qc_kctx *k) {
  tfidf t;
  memset(&t, 0, sizeof t);
  QC_RETURN_IF_ERROR(need_in(k, 0, &t.x));
  if (t.x->rank != 1 && t.x->rank != 2) return qc_k_error(k, "X must be 1-D or 2-D");
  const qc_attr *a;
  if ((a = qc_k_attr(k, "pool_strings")) && a->kind == QC_ATTR_STRINGS && a->n) t.pool_s = a;
  if ((a = qc_k_attr(k, "pool_int64s")) && a->kind == QC_ATTR_INTS && a->n) t.pool_i = a;
  if (!t.pool_s && !t.pool_i) return qc_k_error(k, "pool_strings or pool_int64s is required");
  if ((t.x->dtype == QC_STRING) != (t.pool_s != NULL))
    return qc_k_error(k, "X's dtype %s does not match the pool", qc_dtype_name(t.x->dtype));
  t.pool_len = t.pool_s ? t.pool_s->n : t.pool_i->n;
  a = qc_k_attr(k, "ngram_counts");
  const qc_attr *ai = qc_k_attr(k, "ngram_indexes");
  if (!a || a->kind != QC_ATTR_INTS || !ai || ai->kind != QC_ATTR_INTS || !a->n)
    return qc_k_error(k, "ngram_counts and ngram_indexes are required");
  t.counts = a->u.ints;
  t.n_counts = a->n;
  t.indexes = ai->u.ints;
  t.n_indexes = ai->n;
  for (int32_t i = 0; i < t.n_counts; i++)
    if (t.counts[i] < 0 || t.counts[i] > t.pool_len || (i && t.counts[i] < t.counts[i - 1]))
      return qc_k_error(k, "ngram_counts is not an increasing list of pool offsets");
  int64_t out_size = 0;
  for (int32_t i = 0; i < t.n_indexes; i++) {
    if (t.indexes[i] < 0) return qc_k_error(k, "negative ngram index");
    if (t.indexes[i] + 1 > out_size) out_size = t.indexes[i] + 1;
  }
  int64_t mn = qc_k_int(k, "min_gram_length", 1), mx = qc_k_int(k, "max_gram_length", 1);
  int64_t skip = qc_k_int(k, "max_skip_count", 0);
  const char *mode = qc_k_string(k, "mode", "TF");
  int wmode = strcmp(mode, "TF") == 0 ? 1 : strcmp(mode, "IDF") == 0 ? 2 : strcmp(mode, "TFIDF") == 0 ? 3 : 0;
  if (!wmode) return qc_k_error(k, "mode must be TF, IDF or TFIDF, got '%s'", mode);
  if (mn < 1 || mx < mn || mx > 64 || skip < 0) return qc_k_error(k, "invalid gram lengths or skip count");
  const qc_attr *wt = qc_k_attr(k, "weights");
  if (wt && (wt->kind != QC_ATTR_FLOATS || wt->n == 0)) wt = NULL;
  if (wt && wt->n < out_size) return qc_k_error(k, "weights has fewer entries than outputs");
  int64_t B = t.x->rank == 2 ? t.x->dims[0] : 1, C = t.x->dims[t.x->rank - 1];
  int64_t dims[2] = {B, out_size};
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_F32, t.x->rank, t.x->rank == 2 ? dims : dims + 1, &y));
  float *yd = qc_tensor_data(y);
  size_t xi[64];
  for (int64_t b = 0; b < B; b++) {
    float *row = yd + b * out_size;
    int64_t start_n = mn;
    for (int64_t d = 1; d <= skip + 1; d++) {
      for (int64_t st = 0; st < C; st++) {
        for (int64_t n = 1; n <= mx && st + (n - 1) * d < C; n++) {
          xi[n - 1] = (size_t)(b * C + st + (n - 1) * d);
          if (n < start_n) continue;
          int64_t id = tfidf_find(&t, n, xi);
          if (id >= 0 && id < t.n_indexes) row[t.indexes[id]] += 1;
        }
      }
      if (start_n == 1) {
        start_n = 2; /* unigrams do not depend on the skip distance */
        if (start_n > mx) break;
      }
    }
    for (int64_t j = 0; j < out_size; j++) {
      float f = row[j];
      if (wmode == 2) row[j] = f > 0 ? (wt ? (float)wt->u.floats[j] : 1.0f) : 0.0f;
      else if (wmode == 3) row[j] = wt ? (float)wt->u.floats[j] * f : f;
    }
  }
  return QC_OK;
}

/* ---- a small regular-expression matcher (the RE2 subset RegexFullMatch needs) ----------- */

/* Syntax: literals, '.', escapes \d \D \w \W \s \S \b \B and escaped punctuation, classes
 * [...] / [^...] with ranges and escapes, groups (...) and (?:...), alternation '|',
 * quantifiers * + ? {m} {m,} {m,n} (greedy, or lazy with a trailing '?'), anchors ^ $.
 * Bytes are matched one by one (\w is ASCII, as in RE2). Matching backtracks. */
enum { RX_SET, RX_BOL, RX_EOL, RX_WORDB, RX_NWORDB, RX_GROUP, RX_ALT };

typedef struct rx_node {
  uint8_t kind;
  bool greedy;
  int32_t min, max;       /* repetitions; max -1 = unbounded */
  uint8_t set[32];        /* RX_SET: accepted bytes */
  struct rx_node *next;   /* next item of the sequence */
  struct rx_node *sub;    /* RX_GROUP: first RX_ALT; RX_ALT: first item of the alternative */
} rx_node;

#define RX_MAX_NODES 1024

typedef struct rx {
  rx_node *pool;
  int32_t used;
  const char *p; /* parse position */
  const char *err;
  const char *s; /* subject */
  size_t len;
  int64_t steps;
} rx;

static rx_node *rx_new(rx *r, int kind) {
  if (r->used >= RX_MAX_NODES) {
    r->err = "pattern too complex";
    return NULL;
  }
  rx_node *n = &r->pool[r->used++];
  memset(n, 0, sizeof *n);
  n->kind = (uint8_t)kind;
  n->min = n->max = 1;
  n->greedy = true;
  return n;
}

static void set_add(uint8_t *set, int c) { set[c >> 3] |= (uint8_t)(1u << (c & 7)); }
static bool set_has(const uint8_t *set, int c) { return (set[c >> 3] >> (c & 7)) & 1; }
static bool is_word(int c) { return isalnum(c) || c == '_'; }

/* Add the class of escape letter e (\d \w \s and negations) to set; false if e is not one. */
static bool class_escape(uint8_t *set, int e) {
  int lo = tolower(e);
  if (lo != 'd' && lo != 'w' && lo != 's') return false;
  for (int c = 0; c < 256; c++) {
    bool in = lo == 'd' ? isdigit(c) : lo == 'w' ? is_word(c) : (c == ' ' || (c >= 9 && c <= 13));
    if (in != (e != lo)) set_add(set, c);
  }
  return true;
}

static int escape_char(int e) {
  switch (e) {
  case 'n': return '\n';
  case 't': return '\t';
  case 'r': return '\r';
  case 'f': return '\f';
  case 'v': return '\v';
  default: return e;
  }
}

static rx_node *rx_parse_alt(rx *r);

static rx_node *rx_parse_atom(rx *r) {
  char c = *r->p;
  rx_node *n;
  if (c == '(') {
    r->p++;
    if (r->p[0] == '?' && r->p[1] == ':') r->p += 2;
    else if (r->p[0] == '?') {
      r->err = "unsupported group syntax";
      return NULL;
    }
    n = rx_new(r, RX_GROUP);
    if (!n) return NULL;
    n->sub = rx_parse_alt(r);
    if (r->err) return NULL;
    if (*r->p != ')') {
      r->err = "missing ')'";
      return NULL;
    }
    r->p++;
    return n;
  }
  if (c == '^' || c == '$') {
    r->p++;
    return rx_new(r, c == '^' ? RX_BOL : RX_EOL);
  }
  n = rx_new(r, RX_SET);
  if (!n) return NULL;
  if (c == '.') {
    r->p++;
    for (int b = 0; b < 256; b++)
      if (b != '\n') set_add(n->set, b);
    return n;
  }
  if (c == '\\') {
    int e = (unsigned char)r->p[1];
    if (!e) {
      r->err = "trailing backslash";
      return NULL;
    }
    r->p += 2;
    if (e == 'b' || e == 'B') {
      n->kind = e == 'b' ? RX_WORDB : RX_NWORDB;
      return n;
    }
    if (!class_escape(n->set, e)) set_add(n->set, escape_char(e));
    return n;
  }
  if (c == '[') {
    r->p++;
    bool neg = *r->p == '^';
    if (neg) r->p++;
    uint8_t set[32] = {0};
    bool first = true;
    while (*r->p && (*r->p != ']' || first)) {
      first = false;
      int lo = (unsigned char)*r->p++;
      if (lo == '\\') {
        int e = (unsigned char)*r->p++;
        if (!e) break;
        if (class_escape(set, e)) continue;
        lo = escape_char(e);
      }
      int hi = lo;
      if (r->p[0] == '-' && r->p[1] && r->p[1] != ']') {
        r->p++;
        hi = (unsigned char)*r->p++;
        if (hi == '\\') hi = escape_char((unsigned char)*r->p++);
        if (hi < lo) {
          r->err = "bad character range";
          return NULL;
        }
      }
      for (int b = lo; b <= hi; b++) set_add(set, b);
    }
    if (*r->p != ']') {
      r->err = "missing ']'";
      return NULL;
    }
    r->p++;
    for (int b = 0; b < 256; b++)
      if (set_has(set, b) != neg) set_add(n->set, b);
    return n;
  }
  r->p++;
  set_add(n->set, (unsigned char)c);
  return n;
}

static void rx_parse_quant(rx *r, rx_node *n) {
  char c = *r->p;
  if (c == '*' || c == '+' || c == '?') {
    n->min = c == '+' ? 1 : 0;
    n->max = c == '?' ? 1 : -1;
    r->p++;
  } else if (c == '{' && isdigit((unsigned char)r->p[1])) {
    char *e;
    long m = strtol(r->p + 1, &e, 10), x = m;
    if (*e == ',') {
      e++;
      x = isdigit((unsigned char)*e) ? strtol(e, &e, 10) : -1;
    }
    if (*e != '}' || (x >= 0 && x < m) || m > 1000 || x > 1000) {
      r->err = "bad repetition";
      return;
    }
    n->min = (int32_t)m;
    n->max = (int32_t)x;
    r->p = e + 1;
  } else {
    return;
  }
  if (*r->p == '?') {
    n->greedy = false;
    r->p++;
  }
}

/* alternation := sequence ('|' sequence)*, returned as a chain of RX_ALT nodes. */
static rx_node *rx_parse_alt(rx *r) {
  rx_node *head = NULL, **tail_alt = &head;
  for (;;) {
    rx_node *alt = rx_new(r, RX_ALT);
    if (!alt) return NULL;
    rx_node **tail = &alt->sub;
    while (*r->p && *r->p != '|' && *r->p != ')') {
      rx_node *n = rx_parse_atom(r);
      if (!n || r->err) return NULL;
      rx_parse_quant(r, n);
      if (r->err) return NULL;
      *tail = n;
      tail = &n->next;
    }
    *tail_alt = alt;
    tail_alt = &alt->next;
    if (*r->p != '|') break;
    r->p++;
  }
  return head;
}

typedef struct rx_kont {
  const rx_node *seq; /* continue with this item (NULL: the sequence is done) */
  const rx_node *rep; /* or: one more repetition of this group ended */
  int32_t count;
  size_t start;
  const struct rx_kont *next;
} rx_kont;

static bool rx_node_match(rx *r, const rx_node *n, int32_t count, size_t pos, const rx_kont *k);

static bool rx_resume(rx *r, size_t pos, const rx_kont *k) {
  if (++r->steps > 10000000) return false; /* pathological backtracking */
  if (!k) return pos == r->len;
  if (k->rep) {
    /* An empty iteration cannot make progress: leave the loop. */
    if (pos == k->start) return rx_resume(r, pos, k->next);
    return rx_node_match(r, k->rep, k->count, pos, k->next);
  }
  if (!k->seq) return rx_resume(r, pos, k->next);
  rx_kont nk = {k->seq->next, NULL, 0, 0, k->next};
  return rx_node_match(r, k->seq, 0, pos, &nk);
}

static bool rx_node_match(rx *r, const rx_node *n, int32_t count, size_t pos, const rx_kont *k) {
  switch (n->kind) {
  case RX_SET: {
    int64_t most = 0;
    while (pos + (size_t)most < r->len && (n->max < 0 || count + most < n->max) &&
           set_has(n->set, (unsigned char)r->s[pos + (size_t)most]))
      most++;
    int64_t least = n->min - count > 0 ? n->min - count : 0;
    if (most < least) return false;
    if (n->greedy) {
      for (int64_t j = most; j >= least; j--)
        if (rx_resume(r, pos + (size_t)j, k)) return true;
    } else {
      for (int64_t j = least; j <= most; j++)
        if (rx_resume(r, pos + (size_t)j, k)) return true;
    }
    return false;
  }
  case RX_BOL:
  case RX_EOL:
  case RX_WORDB:
  case RX_NWORDB: {
    bool ok;
    if (n->kind == RX_BOL) ok = pos == 0;
    else if (n->kind == RX_EOL) ok = pos == r->len;
    else {
      bool a = pos > 0 && is_word((unsigned char)r->s[pos - 1]);
      bool b = pos < r->len && is_word((unsigned char)r->s[pos]);
      ok = (a != b) == (n->kind == RX_WORDB);
    }
    return ok && rx_resume(r, pos, k);
  }
  case RX_GROUP: {
    bool more = n->max < 0 || count < n->max, done = count >= n->min;
    if (!n->greedy && done && rx_resume(r, pos, k)) return true;
    if (more) {
      rx_kont rep = {NULL, n, count + 1, pos, k};
      for (const rx_node *alt = n->sub; alt; alt = alt->next) {
        rx_kont seq = {alt->sub, NULL, 0, 0, &rep};
        if (rx_resume(r, pos, &seq)) return true;
      }
    }
    return n->greedy && done && rx_resume(r, pos, k);
  }
  default: return false;
  }
}

static qc_status k_regex_full_match(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  if (x->dtype != QC_STRING) return qc_k_error(k, "input must be a string tensor");
  const char *pat = qc_k_string(k, "pattern", "");
  rx r;
  memset(&r, 0, sizeof r);
  r.pool = qc_k_alloc(k, sizeof(rx_node) * RX_MAX_NODES);
  if (!r.pool) return qc_k_error(k, "out of memory");
  r.p = pat;
  rx_node *root = rx_new(&r, RX_GROUP);
  if (root) root->sub = rx_parse_alt(&r);
  if (!r.err && *r.p) r.err = "unbalanced ')'";
  qc_status s = QC_OK;
  if (r.err) s = qc_k_error(k, "pattern '%s': %s", pat, r.err);
  qc_tensor *y = NULL;
  if (!s) s = qc_k_out(k, 0, QC_BOOL, x->rank, x->dims, &y);
  int64_t n = qc_tensor_numel(x);
  for (int64_t i = 0; i < n && !s; i++) {
    r.s = qc_string_at(x, (size_t)i);
    r.len = strlen(r.s);
    r.steps = 0;
    ((uint8_t *)qc_tensor_data(y))[i] = rx_node_match(&r, root, 0, 0, NULL);
    if (r.steps > 10000000) s = qc_k_error(k, "pattern '%s': matching gave up (too much backtracking)", pat);
  }
  qc_k_free(k, r.pool, sizeof(rx_node) * RX_MAX_NODES);
  return s;
}

/* ---- ai.onnx.ml ------------------------------------------------------------------------------- */

static qc_status k_ml_binarizer(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, x, &y));
  double th = qc_k_float(k, "threshold", 0.0);
  qc_acc a = qc_acc_of(x->dtype);
  int64_t n = qc_tensor_numel(x);
  for (int64_t i = 0; i < n; i++)
    a.setf(a.dt, qc_tensor_data(y), (size_t)i, a.getf(a.dt, qc_tensor_data(x), (size_t)i) > th);
  return QC_OK;
}

/* Y = X[..., indices] (flattened indices); a 1-D X gives [1, n], as ONNX Runtime. */
static qc_status k_ml_array_feature_extractor(qc_kctx *k) {
  const qc_tensor *x, *ind;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, &ind));
  if (x->rank < 1) return qc_k_error(k, "X must have rank >= 1");
  if (!qc_dtype_is_int(ind->dtype)) return qc_k_error(k, "Y must be an integer tensor");
  int64_t ni = qc_tensor_numel(ind), last = x->dims[x->rank - 1];
  int64_t dims[QC_MAX_RANK];
  int32_t rank = x->rank == 1 ? 2 : x->rank;
  if (x->rank == 1) dims[0] = 1;
  else memcpy(dims, x->dims, sizeof(int64_t) * (size_t)(x->rank - 1));
  dims[rank - 1] = ni;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, rank, dims, &y));
  int64_t rows = last ? qc_tensor_numel(x) / last : 0;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t j = 0; j < ni; j++) {
      int64_t c = qc_elem_i64(ind->dtype, qc_tensor_data(ind), (size_t)j);
      if (c < 0 || c >= last) return qc_k_error(k, "index %lld out of range [0, %lld)", (long long)c, (long long)last);
      size_t src = (size_t)(r * last + c), dst = (size_t)(r * ni + j);
      if (x->dtype == QC_STRING)
        QC_RETURN_IF_ERROR(qc_k_set_string(k, y, dst, qc_string_at(x, src), -1));
      else
        qc_elem_set_code(x->dtype, qc_tensor_data(y), dst, qc_elem_code(x->dtype, qc_tensor_data(x), src));
    }
  return QC_OK;
}

/* A list of LabelEncoder keys or values: strings, int64s, floats, or a tensor of any of them. */
typedef struct ml_list {
  qc_dtype dt;
  int64_t n;
  const qc_attr *a;   /* the *_strings / *_int64s / *_floats attribute, or NULL */
  const qc_tensor *t; /* the *_tensor attribute, or NULL */
} ml_list;

static bool ml_list_get(const qc_kctx *k, const char *prefix, ml_list *l) {
  char name[64];
  static const char *const sfx[3] = {"strings", "int64s", "floats"};
  static const qc_dtype dts[3] = {QC_STRING, QC_I64, QC_F32};
  memset(l, 0, sizeof *l);
  for (int i = 0; i < 3; i++) {
    snprintf(name, sizeof name, "%s_%s", prefix, sfx[i]);
    const qc_attr *a = qc_k_attr(k, name);
    if (a && a->n > 0) {
      l->a = a;
      l->dt = dts[i];
      l->n = a->n;
      return true;
    }
  }
  snprintf(name, sizeof name, "%s_tensor", prefix);
  const qc_attr *a = qc_k_attr(k, name);
  if (a && a->kind == QC_ATTR_TENSOR) {
    l->t = a->u.t;
    l->dt = a->u.t->dtype;
    l->n = qc_tensor_numel(a->u.t);
    return true;
  }
  return false;
}

static const char *ml_str(const ml_list *l, int64_t i) {
  return l->a ? l->a->u.strs.v[i] : qc_string_at(l->t, (size_t)i);
}
static double ml_f(const ml_list *l, int64_t i) {
  if (!l->a) return qc_elem_f64(l->dt, qc_tensor_data(l->t), (size_t)i);
  return l->a->kind == QC_ATTR_INTS ? (double)l->a->u.ints[i] : l->a->u.floats[i];
}
static int64_t ml_i(const ml_list *l, int64_t i) {
  if (!l->a) return qc_elem_i64(l->dt, qc_tensor_data(l->t), (size_t)i);
  return l->a->kind == QC_ATTR_INTS ? l->a->u.ints[i] : (int64_t)l->a->u.floats[i];
}

/* Store value i of list l (or the default when i < 0) as element o of y. */
static qc_status ml_store(const qc_kctx *k, qc_tensor *y, size_t o, const ml_list *l, int64_t i) {
  if (i < 0) {
    const qc_attr *dt = qc_k_attr(k, "default_tensor");
    if (dt && dt->kind == QC_ATTR_TENSOR && qc_tensor_numel(dt->u.t) >= 1) {
      if (y->dtype == QC_STRING) return qc_k_set_string(k, y, o, qc_string_at(dt->u.t, 0), -1);
      qc_elem_set_code(y->dtype, qc_tensor_data(y), o, qc_elem_code(dt->u.t->dtype, qc_tensor_data(dt->u.t), 0));
      return QC_OK;
    }
    if (y->dtype == QC_STRING)
      return qc_k_set_string(k, y, o, qc_k_string(k, "default_string", "_Unused"), -1);
    if (qc_dtype_is_float(y->dtype)) qc_elem_set_f64(y->dtype, qc_tensor_data(y), o, qc_k_float(k, "default_float", -0.0), 0);
    else qc_elem_set_i64(y->dtype, qc_tensor_data(y), o, qc_k_int(k, "default_int64", -1));
    return QC_OK;
  }
  if (y->dtype == QC_STRING) return qc_k_set_string(k, y, o, ml_str(l, i), -1);
  if (qc_dtype_is_float(y->dtype)) qc_elem_set_f64(y->dtype, qc_tensor_data(y), o, ml_f(l, i), 0);
  else qc_elem_set_i64(y->dtype, qc_tensor_data(y), o, ml_i(l, i));
  return QC_OK;
}

/* LabelEncoder: map each input through keys -> values; unmatched inputs take the default.
 * Float keys match by value, and a NaN key matches NaN inputs. */
static qc_status k_ml_label_encoder(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  ml_list keys, vals;
  if (!ml_list_get(k, "keys", &keys) || !ml_list_get(k, "values", &vals))
    return qc_k_error(k, "keys and values are required");
  if (keys.n != vals.n) return qc_k_error(k, "%lld keys but %lld values", (long long)keys.n, (long long)vals.n);
  if ((keys.dt == QC_STRING) != (x->dtype == QC_STRING))
    return qc_k_error(k, "input dtype %s does not match the keys", qc_dtype_name(x->dtype));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, vals.dt, x->rank, x->dims, &y));
  int64_t n = qc_tensor_numel(x);
  qc_strmap map;
  qc_strmap_init(&map, k->alloc);
  qc_status s = QC_OK;
  if (keys.dt == QC_STRING)
    for (int64_t i = keys.n - 1; i >= 0 && !s; i--) /* the first of repeated keys wins */
      if (!qc_strmap_put(&map, ml_str(&keys, i), (int32_t)i)) s = qc_k_error(k, "out of memory");
  for (int64_t j = 0; j < n && !s; j++) {
    int64_t hit = -1;
    if (keys.dt == QC_STRING) {
      hit = qc_strmap_get(&map, qc_string_at(x, (size_t)j));
    } else if (qc_dtype_is_float(keys.dt) || qc_dtype_is_float(x->dtype)) {
      double v = qc_elem_f64(x->dtype, qc_tensor_data(x), (size_t)j);
      for (int64_t i = 0; i < keys.n && hit < 0; i++) {
        double kv = ml_f(&keys, i);
        if (kv == v || (isnan(kv) && isnan(v))) hit = i;
      }
    } else {
      int64_t v = qc_elem_i64(x->dtype, qc_tensor_data(x), (size_t)j);
      for (int64_t i = 0; i < keys.n && hit < 0; i++)
        if (ml_i(&keys, i) == v) hit = i;
    }
    s = ml_store(k, y, (size_t)j, &vals, hit);
  }
  qc_strmap_free(&map);
  return s;
}

/* TreeEnsemble (ai.onnx.ml 5): trees of comparison nodes over X's features, leaves adding
 * weights to targets, aggregated over trees, then an optional post transform. */
enum { TE_LEQ, TE_LT, TE_GTE, TE_GT, TE_EQ, TE_NEQ, TE_MEMBER };

typedef struct te_ctx {
  const qc_kctx *k;
  int64_t n_nodes, n_leaves;
  const int64_t *feat, *tid, *fid, *tleaf, *fleaf, *ltarget, *missing;
  const qc_tensor *splits, *modes, *weights, *members;
  int64_t *mbeg, *mend; /* membership set of MEMBER node i: members[mbeg[i], mend[i]) */
  int64_t mpos;
} te_ctx;

static const int64_t *ints_attr(const qc_kctx *k, const char *name, int64_t *n) {
  const qc_attr *a = qc_k_attr(k, name);
  if (!a || a->kind != QC_ATTR_INTS) {
    *n = 0;
    return NULL;
  }
  *n = a->n;
  return a->u.ints;
}

/* Assign membership sets in the order the reference builds the trees (depth first, true
 * branch first). */
static qc_status te_assign_sets(te_ctx *c, int64_t node, int depth) {
  if (depth > 4096) return qc_k_error(c->k, "tree too deep (or cyclic)");
  if (node < 0 || node >= c->n_nodes) return qc_k_error(c->k, "node index %lld out of range", (long long)node);
  if (qc_elem_i64(c->modes->dtype, qc_tensor_data(c->modes), (size_t)node) == TE_MEMBER) {
    if (!c->members) return qc_k_error(c->k, "set membership node without membership_values");
    int64_t nm = qc_tensor_numel(c->members);
    c->mbeg[node] = c->mpos;
    while (c->mpos < nm && !isnan(qc_elem_f64(c->members->dtype, qc_tensor_data(c->members), (size_t)c->mpos)))
      c->mpos++;
    c->mend[node] = c->mpos;
    c->mpos++; /* the NaN separator */
  }
  if (!c->tleaf[node]) QC_RETURN_IF_ERROR(te_assign_sets(c, c->tid[node], depth + 1));
  if (!c->fleaf[node]) QC_RETURN_IF_ERROR(te_assign_sets(c, c->fid[node], depth + 1));
  return QC_OK;
}

static bool te_branch(const te_ctx *c, int64_t node, double v) {
  int64_t mode = qc_elem_i64(c->modes->dtype, qc_tensor_data(c->modes), (size_t)node);
  double sp = qc_elem_f64(c->splits->dtype, qc_tensor_data(c->splits), (size_t)node);
  if (isnan(v) && c->missing && c->missing[node]) return true;
  switch (mode) {
  case TE_LEQ: return v <= sp;
  case TE_LT: return v < sp;
  case TE_GTE: return v >= sp;
  case TE_GT: return v > sp;
  case TE_EQ: return v == sp;
  case TE_NEQ: return v != sp;
  default:
    for (int64_t m = c->mbeg[node]; m < c->mend[node]; m++)
      if (qc_elem_f64(c->members->dtype, qc_tensor_data(c->members), (size_t)m) == v) return true;
    return false;
  }
}

static qc_status k_ml_tree_ensemble(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, &x));
  if (x->rank != 2) return qc_k_error(k, "X must be 2-D [N, F]");
  te_ctx c;
  memset(&c, 0, sizeof c);
  c.k = k;
  int64_t nf, nt, nfl, ntl, nlt, nroots, nmiss;
  c.feat = ints_attr(k, "nodes_featureids", &c.n_nodes);
  c.tid = ints_attr(k, "nodes_truenodeids", &nt);
  c.fid = ints_attr(k, "nodes_falsenodeids", &nf);
  c.tleaf = ints_attr(k, "nodes_trueleafs", &ntl);
  c.fleaf = ints_attr(k, "nodes_falseleafs", &nfl);
  c.ltarget = ints_attr(k, "leaf_targetids", &nlt);
  c.missing = ints_attr(k, "nodes_missing_value_tracks_true", &nmiss);
  const int64_t *roots = ints_attr(k, "tree_roots", &nroots);
  const qc_attr *a;
  c.splits = (a = qc_k_attr(k, "nodes_splits")) && a->kind == QC_ATTR_TENSOR ? a->u.t : NULL;
  c.modes = (a = qc_k_attr(k, "nodes_modes")) && a->kind == QC_ATTR_TENSOR ? a->u.t : NULL;
  c.weights = (a = qc_k_attr(k, "leaf_weights")) && a->kind == QC_ATTR_TENSOR ? a->u.t : NULL;
  c.members = (a = qc_k_attr(k, "membership_values")) && a->kind == QC_ATTR_TENSOR ? a->u.t : NULL;
  if (!c.feat || !c.tid || !c.fid || !c.tleaf || !c.fleaf || !c.ltarget || !roots || !c.splits ||
      !c.modes || !c.weights)
    return qc_k_error(k, "missing tree attributes");
  c.n_leaves = nlt;
  if (nt != c.n_nodes || nf != c.n_nodes || ntl != c.n_nodes || nfl != c.n_nodes ||
      qc_tensor_numel(c.splits) != c.n_nodes || qc_tensor_numel(c.modes) != c.n_nodes ||
      qc_tensor_numel(c.weights) != c.n_leaves || (c.missing && nmiss != c.n_nodes))
    return qc_k_error(k, "tree attribute lengths differ");
  if (c.missing && nmiss == 0) c.missing = NULL;
  int64_t agg = qc_k_int(k, "aggregate_function", 1), post = qc_k_int(k, "post_transform", 0);
  int64_t ntg = qc_k_int(k, "n_targets", 0);
  if (agg < 0 || agg > 3) return qc_k_error(k, "unknown aggregate_function %lld", (long long)agg);
  if (post < 0 || post > 3)
    return qc_k_error(k, "post_transform %lld is not supported", (long long)post);
  size_t mb = sizeof(int64_t) * (size_t)(c.n_nodes ? c.n_nodes : 1);
  c.mbeg = qc_k_alloc(k, mb);
  c.mend = qc_k_alloc(k, mb);
  size_t rb = sizeof(double) * (size_t)(ntg ? ntg : 1);
  double *row = qc_k_alloc(k, rb);
  qc_status s = (!c.mbeg || !c.mend || !row) ? qc_k_error(k, "out of memory") : QC_OK;
  if (!s) {
    memset(c.mbeg, 0, mb);
    memset(c.mend, 0, mb);
  }
  for (int64_t t = 0; t < nroots && !s; t++) {
    int64_t r = roots[t];
    if (r < 0 || r >= c.n_nodes) s = qc_k_error(k, "tree root %lld out of range", (long long)r);
    else if (!(c.tleaf[r] && c.fleaf[r] && c.tid[r] == c.fid[r])) s = te_assign_sets(&c, r, 0);
  }
  int64_t dims[2] = {x->dims[0], ntg};
  qc_tensor *y = NULL;
  if (!s) s = qc_k_out(k, 0, x->dtype, 2, dims, &y);
  double fmax = qc_dtype_traits_of(x->dtype)->max_normal;
  for (int64_t b = 0; b < x->dims[0] && !s; b++) {
    for (int64_t j = 0; j < ntg; j++) row[j] = agg == 2 ? fmax : agg == 3 ? -fmax : 0;
    for (int64_t t = 0; t < nroots && !s; t++) {
      int64_t node = roots[t], leaf = -1;
      if (c.tleaf[node] && c.fleaf[node] && c.tid[node] == c.fid[node]) {
        leaf = node;
      } else {
        for (int steps = 0;; steps++) {
          if (c.feat[node] < 0 || c.feat[node] >= x->dims[1] || steps > 1 << 20) {
            s = qc_k_error(k, "bad tree at node %lld", (long long)node);
            break;
          }
          double v = qc_elem_f64(x->dtype, qc_tensor_data(x), (size_t)(b * x->dims[1] + c.feat[node]));
          bool tb = te_branch(&c, node, v);
          int64_t next = tb ? c.tid[node] : c.fid[node];
          if (tb ? c.tleaf[node] : c.fleaf[node]) {
            leaf = next;
            break;
          }
          node = next;
          if (node < 0 || node >= c.n_nodes) {
            s = qc_k_error(k, "node index %lld out of range", (long long)node);
            break;
          }
        }
      }
      if (s) break;
      if (leaf < 0 || leaf >= c.n_leaves || c.ltarget[leaf] < 0 || c.ltarget[leaf] >= ntg) {
        s = qc_k_error(k, "leaf %lld out of range", (long long)leaf);
        break;
      }
      double w = qc_elem_f64(c.weights->dtype, qc_tensor_data(c.weights), (size_t)leaf);
      double *dst = &row[c.ltarget[leaf]];
      switch (agg) {
      case 0: *dst += w / (double)nroots; break;
      case 1: *dst += w; break;
      case 2: *dst = w < *dst ? w : *dst; break;
      default: *dst = w > *dst ? w : *dst; break;
      }
    }
    if (s) break;
    if (post == 2)
      for (int64_t j = 0; j < ntg; j++) row[j] = 1.0 / (1.0 + exp(-row[j]));
    if (post == 1 || post == 3) {
      double mx = -INFINITY, sum = 0;
      for (int64_t j = 0; j < ntg; j++)
        if ((post == 1 || row[j] != 0) && row[j] > mx) mx = row[j];
      for (int64_t j = 0; j < ntg; j++) {
        row[j] = (post == 3 && row[j] == 0) ? 0 : exp(row[j] - mx);
        sum += row[j];
      }
      for (int64_t j = 0; j < ntg; j++) row[j] = sum > 0 ? row[j] / sum : 0;
    }
    for (int64_t j = 0; j < ntg; j++)
      qc_elem_set_f64(x->dtype, qc_tensor_data(y), (size_t)(b * ntg + j), row[j], 0);
  }
  if (c.mbeg) qc_k_free(k, c.mbeg, mb);
  if (c.mend) qc_k_free(k, c.mend, mb);
  if (row) qc_k_free(k, row, rb);
  return s;
}

/* ---- ai.onnx.preview.training ---------------------------------------------------------------- */

/* Inputs: R (learning rate), T (step), then n tensors of each per-parameter group
 * (X..., G..., V..., H...); outputs the updated groups in the same order. */
typedef enum { OPT_ADAGRAD, OPT_ADAM, OPT_MOMENTUM } opt_kind;

static qc_status optimizer(qc_kctx *k, opt_kind kind) {
  int32_t groups = kind == OPT_ADAM ? 4 : 3; /* inputs per parameter */
  int32_t outs = groups - 1;
  if (k->n_in < 2 + groups || (k->n_in - 2) % groups)
    return qc_k_error(k, "expects R, T and %d tensors per parameter", groups);
  int32_t n = (k->n_in - 2) / groups;
  const qc_tensor *tr, *tt;
  QC_RETURN_IF_ERROR(need_in(k, 0, &tr));
  QC_RETURN_IF_ERROR(need_in(k, 1, &tt));
  double r = scalar_f64(tr), t = (double)qc_elem_i64(tt->dtype, qc_tensor_data(tt), 0);
  double norm = qc_k_float(k, "norm_coefficient", 0.0), eps = qc_k_float(k, "epsilon", 1e-6);
  double alpha = qc_k_float(k, "alpha", 0.9), beta = qc_k_float(k, "beta", 0.999);
  double decay = qc_k_float(k, "decay_factor", 0.0), post = qc_k_float(k, "norm_coefficient_post", 0.0);
  bool nesterov = false;
  if (kind == OPT_MOMENTUM) {
    const char *mode = qc_k_string(k, "mode", "standard");
    if (strcmp(mode, "nesterov") == 0) nesterov = true;
    else if (strcmp(mode, "standard") != 0) return qc_k_error(k, "unknown mode '%s'", mode);
  }
  for (int32_t p = 0; p < n; p++) {
    const qc_tensor *in[4] = {NULL};
    for (int32_t g = 0; g < groups; g++) QC_RETURN_IF_ERROR(need_in(k, 2 + g * n + p, &in[g]));
    int64_t cnt = qc_tensor_numel(in[0]);
    for (int32_t g = 1; g < groups; g++)
      if (qc_tensor_numel(in[g]) != cnt) return qc_k_error(k, "parameter %d: tensor sizes differ", p);
    qc_tensor *o[3] = {NULL};
    for (int32_t g = 0; g < outs; g++) {
      const qc_tensor *like = g == 0 ? in[0] : in[g + 1];
      QC_RETURN_IF_ERROR(qc_k_out_like(k, g * n + p, like, &o[g]));
    }
    for (int64_t i = 0; i < cnt; i++) {
      double x = qc_elem_f64(in[0]->dtype, qc_tensor_data(in[0]), (size_t)i);
      double gr = qc_elem_f64(in[1]->dtype, qc_tensor_data(in[1]), (size_t)i);
      double v2 = qc_elem_f64(in[2]->dtype, qc_tensor_data(in[2]), (size_t)i);
      double g = norm * x + gr, res[3];
      if (kind == OPT_ADAGRAD) {
        double h = v2 + g * g;
        res[0] = x - r / (1 + t * decay) * g / (sqrt(h) + eps);
        res[1] = h;
      } else if (kind == OPT_MOMENTUM) {
        double v = alpha * v2 + (t > 0 ? beta : 1.0) * g;
        res[0] = nesterov ? x - r * (g + alpha * v) : x - r * v;
        res[1] = v;
      } else {
        double h0 = qc_elem_f64(in[3]->dtype, qc_tensor_data(in[3]), (size_t)i);
        double v = alpha * v2 + (1 - alpha) * g, h = beta * h0 + (1 - beta) * g * g;
        double ra = t > 0 ? r * sqrt(1 - pow(beta, t)) / (1 - pow(alpha, t)) : r;
        res[0] = (1 - post) * (x - ra * (v / (sqrt(h) + eps)));
        res[1] = v;
        res[2] = h;
      }
      for (int32_t q = 0; q < outs; q++)
        if (qc_k_out_used(k, q * n + p)) qc_elem_set_f64(o[q]->dtype, qc_tensor_data(o[q]), (size_t)i, res[q], 0);
    }
  }
  return QC_OK;
}
static qc_status k_tr_adagrad(qc_kctx *k) { return optimizer(k, OPT_ADAGRAD); }
static qc_status k_tr_adam(qc_kctx *k) { return optimizer(k, OPT_ADAM); }
static qc_status k_tr_momentum(qc_kctx *k) { return optimizer(k, OPT_MOMENTUM); }

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
    {QC_OP_DFT, k_dft},
    {QC_OP_STFT, k_stft},
    {QC_OP_StringNormalizer, k_string_normalizer},
    {QC_OP_StringConcat, k_string_concat},
    {QC_OP_StringSplit, k_string_split},
    {QC_OP_RegexFullMatch, k_regex_full_match},
    {QC_OP_TfIdfVectorizer, k_tfidf_vectorizer},
    {QC_OP_ML_Binarizer, k_ml_binarizer},
    {QC_OP_ML_ArrayFeatureExtractor, k_ml_array_feature_extractor},
    {QC_OP_ML_LabelEncoder, k_ml_label_encoder},
    {QC_OP_ML_TreeEnsemble, k_ml_tree_ensemble},
    {QC_OP_TR_Adagrad, k_tr_adagrad},
    {QC_OP_TR_Adam, k_tr_adam},
    {QC_OP_TR_Momentum, k_tr_momentum},
    {QC_OP_INVALID, NULL},
};
