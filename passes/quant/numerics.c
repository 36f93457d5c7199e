/*
 * Quark's quantization arithmetic, bit for bit as amd-quark 0.13 computes it on the CPU
 * (quark/torch/kernel/hw_emulation/hw_emulation_interface.py, the csrc/mx kernels,
 * quark/torch/quantization/observer/observer.py and utils.py), written as float32
 * operations in torch's order:
 *
 *   - every tensor op yields a value of its result dtype: float32 ops on a bf16/f16 model
 *     tensor are rounded back to bf16/f16 (qc_round_to) where torch would do so;
 *   - integer fake quantization multiplies by a float32 reciprocal of the scale
 *     (1/scale, scale clamped to FLT_MIN) and rounds half to even; per-tensor on the CPU
 *     goes through torch.fake_quantize_per_tensor_affine, which adds the zero point after
 *     rounding and clamps in float;
 *   - fp8 divides by the scale, clamps, then casts with round-half-even;
 *   - fp4/fp6 divide by the scale and round the mantissa half to even, losing the sign of
 *     values that round to zero (QC_ENC_UNSIGNED_ZERO) and saturating at the format's max;
 *   - the round_method of a spec is not consulted: Quark's CPU kernels always round half
 *     to even (its GPU per-tensor kernel honours it).
 *
 * Layouts follow Quark: per_channel scales have one value per index of ch_axis; per_group
 * (integer, PerGroupMinMaxObserver) transposes ch_axis with the last axis and groups rows
 * of group_size; MX/per-block observers (PerBlockMXObserver) use reshape_to_blocks:
 * transpose(ch_axis, -1), rows of the last axis zero-padded to a multiple of the block.
 */
#include "passes/quant/numerics_internal.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>

static qc_status oom(void) { return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory"); }
#define QERR(...) qc_status_new(QC_CODE_INVALID_ARGUMENT, __VA_ARGS__)

/* ---- layout ---------------------------------------------------------------------------- */

void qc_qswap_axes(const float *x, const qc_qshape *s, int32_t a, int32_t b, float *out,
                   qc_qshape *out_shape) {
  qc_qshape o = *s;
  int64_t t = o.d[a];
  o.d[a] = o.d[b];
  o.d[b] = t;
  if (out_shape) *out_shape = o;
  int64_t n = qc_qshape_numel(s);
  if (a == b) {
    memcpy(out, x, sizeof(float) * (size_t)n);
    return;
  }
  /* Strides of the input. */
  int64_t stride[QC_QPARAMS_MAX_RANK] = {0};
  int64_t acc = 1;
  for (int32_t i = s->rank - 1; i >= 0; i--) {
    stride[i] = acc;
    acc *= s->d[i];
  }
  /* Walk the output in order; the input index uses swapped strides. */
  int64_t idx[QC_QPARAMS_MAX_RANK] = {0};
  int64_t ostr[QC_QPARAMS_MAX_RANK] = {0};
  for (int32_t i = 0; i < s->rank; i++) ostr[i] = stride[i];
  ostr[a] = stride[b];
  ostr[b] = stride[a];
  int64_t src = 0;
  for (int64_t k = 0; k < n; k++) {
    out[k] = x[src];
    for (int32_t i = s->rank - 1; i >= 0; i--) {
      idx[i]++;
      src += ostr[i];
      if (idx[i] < o.d[i]) break;
      src -= ostr[i] * o.d[i];
      idx[i] = 0;
    }
  }
}

float *qc_qto_blocks(const float *x, const qc_qshape *s, int32_t axis, int64_t bs, int64_t *rows,
                     int64_t *len, int64_t *nblocks) {
  int32_t ax = qc_qaxis(axis, s->rank);
  int32_t last = s->rank - 1;
  int64_t n = qc_qshape_numel(s);
  int64_t L = s->rank ? s->d[ax] : 1;
  int64_t R = L ? n / L : 0;
  int64_t B = (L + bs - 1) / bs;
  float *t = malloc(sizeof(float) * (size_t)(n ? n : 1));
  int64_t nblk = R * B * bs;
  float *blk = calloc((size_t)(nblk > 0 ? nblk : 1), sizeof(float));
  if (!t || !blk) {
    free(t);
    free(blk);
    return NULL;
  }
  if (s->rank) qc_qswap_axes(x, s, ax, last, t, NULL);
  else t[0] = x[0];
  for (int64_t r = 0; r < R; r++) memcpy(blk + r * B * bs, t + r * L, sizeof(float) * (size_t)L);
  free(t);
  *rows = R;
  *len = L;
  *nblocks = B;
  return blk;
}

void qc_qfrom_blocks(const float *blocks, const qc_qshape *s, int32_t axis, int64_t bs,
                     int64_t nblocks, float *y) {
  int32_t ax = qc_qaxis(axis, s->rank);
  int32_t last = s->rank - 1;
  int64_t n = qc_qshape_numel(s);
  int64_t L = s->rank ? s->d[ax] : 1;
  int64_t R = L ? n / L : 0;
  float *t = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!t) return; /* callers allocate y and check n beforehand; OOM leaves y untouched */
  for (int64_t r = 0; r < R; r++)
    memcpy(t + r * L, blocks + r * nblocks * bs, sizeof(float) * (size_t)L);
  if (s->rank) {
    qc_qshape ts = *s;
    ts.d[ax] = s->d[last];
    ts.d[last] = s->d[ax];
    qc_qswap_axes(t, &ts, ax, last, y, NULL);
  } else {
    y[0] = t[0];
  }
  free(t);
}

/* ---- element formats --------------------------------------------------------------------- */

float qc_qfp_quant_max(qc_qdtype dt) {
  int e, m;
  if (!qc_qdtype_params(dt, &e, &m, NULL)) return 0;
  double max_exp = pow(2.0, e) - 1, offset = pow(2.0, e - 1) - 1;
  return (float)(pow(2.0, max_exp - offset) * (1 + (pow(2.0, m) - 1) / pow(2.0, m)));
}

float qc_qfake_element(float v, qc_qdtype dt) {
  if (!isfinite(v)) return v; /* exponent 255: passed through */
  qc_dtype el = qc_qdtype_element(dt);
  uint32_t code = qc_float_encode(el, (double)v, QC_ENC_SATURATE | QC_ENC_UNSIGNED_ZERO);
  return (float)qc_float_decode(el, code);
}

/* torch's float -> float8 cast and back (round half to even; clamped inputs never overflow). */
static float fp8_cast(float v, qc_qdtype dt) {
  qc_dtype el = dt == QC_QDT_FP8_E5M2 ? QC_F8E5M2 : QC_F8E4M3FN;
  if (isnan(v)) return v;
  return (float)qc_float_decode(el, qc_float_encode(el, (double)v, 0));
}

/* Quark's e5m3 quantize-dequantize: clamp to [0, 114688], round half to even. */
static float e5m3_qdq(float v) {
  if (isnan(v)) return v;
  v = qc_tclamp(v, 0.0f, 114688.0f);
  return (float)qc_float_decode(QC_E5M3, qc_float_encode(QC_E5M3, (double)v, 0));
}

/* ---- scales ------------------------------------------------------------------------------ */

/* even_round (utils.py): add 1 << (23 - mbits - 1) to the float32 bits of amax, keep sign
 * and exponent, then floor(log2) - emax clamped to [-127, 127]; 0 -> 2^-126 first. */
static float even_round(float amax, qc_qdtype elem) {
  int mbits, emax;
  qc_qdtype_params(elem, NULL, &mbits, &emax);
  if (isnan(amax)) return NAN;
  float a = amax == 0 ? 0x1p-126f : amax;
  if (amax != 0) {
    uint32_t b;
    memcpy(&b, &a, 4);
    b += 1u << (23 - mbits - 1);
    b &= 0xFF800000u;
    memcpy(&a, &b, 4);
  }
  float e = floorf(qc_log2f(a)) - (float)emax;
  e = e < -127 ? -127 : (e > 127 ? 127 : e);
  return ldexpf(1.0f, (int)e);
}

float qc_qe8m0_scale(float amax, qc_dtype amax_dt, qc_qdtype elem, qc_qscale_mode mode,
                     float eps) {
  if (mode == QC_QSCALE_MODE_NONE || mode == QC_QSCALE_MODE_EVEN) return even_round(amax, elem);
  int emax;
  qc_qdtype_params(elem, NULL, NULL, &emax);
  /* torch.pow(2, floor(log2(amax)) - emax) in amax's dtype; log2(0) = -inf -> 0 -> eps. */
  float l = qc_round_to(amax_dt, qc_log2f(amax));
  float t = mode == QC_QSCALE_MODE_FLOOR ? floorf(l) : ceilf(l);
  t = qc_round_to(amax_dt, t - (float)emax);
  float s;
  if (isnan(t)) s = NAN;
  else if (isinf(t)) s = t < 0 ? 0.0f : INFINITY;
  else s = qc_round_to(amax_dt, (float)ldexp(1.0, (int)fmax(fmin(t, 1000), -1000)));
  return s == 0 ? qc_round_to(amax_dt, eps) : s;
}

/* ---- parameters from statistics --------------------------------------------------------- */

/* The dtype of Quark's scale tensor: scale_type float32/float16/bfloat16 set
 * observer.scale_torch_dtype; anything else leaves the model's dtype. */
static qc_dtype scale_torch_dtype(const qc_qspec *s) {
  switch (s->scale_type) {
  case QC_QSCALE_TYPE_FLOAT32: return QC_F32;
  case QC_QSCALE_TYPE_FLOAT16: return QC_F16;
  case QC_QSCALE_TYPE_BFLOAT16: return QC_BF16;
  default: return QC_DT_UNDEFINED;
  }
}

static qc_status params_alloc(qc_qparams *p, int64_t n, qc_dtype sdt, qc_dtype zdt) {
  memset(p, 0, sizeof *p);
  p->n = n;
  p->scale_dtype = sdt;
  p->zp_dtype = zdt;
  p->scale = malloc(sizeof(float) * (size_t)(n ? n : 1));
  p->zero_point = calloc((size_t)(n ? n : 1), sizeof(double));
  if (!p->scale || !p->zero_point) {
    qc_qparams_clear(p);
    return oom();
  }
  return QC_OK;
}

void qc_qparams_clear(qc_qparams *p) {
  free(p->scale);
  free(p->zero_point);
  memset(p, 0, sizeof *p);
}

qc_status qc_qparams_copy(const qc_qparams *src, qc_qparams *dst) {
  qc_qparams t;
  QC_RETURN_IF_ERROR(params_alloc(&t, src->n, src->scale_dtype, src->zp_dtype));
  t.rank = src->rank;
  memcpy(t.shape, src->shape, sizeof t.shape);
  memcpy(t.scale, src->scale, sizeof(float) * (size_t)src->n);
  memcpy(t.zero_point, src->zero_point, sizeof(double) * (size_t)src->n);
  *dst = t;
  return QC_OK;
}

void qc_qstats_clear(qc_qstats *s) {
  free(s->min);
  free(s->max);
  memset(s, 0, sizeof *s);
}

/* calculate_int_quant_params for one (min, max) pair of model dtype md. `zero_dim`: the
 * statistics are 0-dim tensors (per tensor), so torch.max(scale, eps) meets two 0-dim
 * tensors and promotes the scale to float32; with per-channel vectors the scale keeps md. */
static void int_params(const qc_qspec *sp, qc_dtype md, bool zero_dim, float mn, float mx,
                       float *scale, double *zp, qc_dtype *zdt, qc_dtype *sdt) {
  double qmin, qmax;
  qc_qdtype_range(sp->dtype, &qmin, &qmax);
  float eps = qc_round_to(md, QC_F32_EPS);
  float min_neg = isnan(mn) ? mn : (mn > 0 ? 0.0f : mn);
  float max_pos = isnan(mx) ? mx : (mx < 0 ? 0.0f : mx);
  qc_dtype after_eps = zero_dim ? QC_F32 : md;
  *sdt = md;
  if (sp->symmetric == QC_QB_TRUE) {
    float amax = qc_tmax(-min_neg, max_pos);
    float s = qc_round_to(md, amax / (float)((qmax - qmin) / 2));
    *scale = qc_tmax(s, zero_dim ? QC_F32_EPS : eps);
    *zp = 0;
    *zdt = QC_I32;
    *sdt = after_eps;
  } else if (sp->zero_point_type == QC_QZP_FLOAT32) {
    float range = qc_round_to(md, mx - mn);
    float s = qc_round_to(md, range / (float)(qmax - qmin));
    s = s > eps ? s : 1.0f;
    *scale = s;
    *zp = (double)qc_round_to(md, (-1.0f * mn) / s);
    *zdt = QC_F32;
  } else {
    float range = qc_round_to(md, max_pos - min_neg);
    float s = qc_round_to(md, range / (float)(qmax - qmin));
    s = qc_tmax(s, zero_dim ? QC_F32_EPS : eps);
    *sdt = after_eps;
    float r = qc_rne(qc_round_to(after_eps, min_neg / s));
    double z = qmin - (double)(int32_t)r;
    z = z < qmin ? qmin : (z > qmax ? qmax : z);
    *scale = s;
    *zp = z;
    *zdt = QC_I32;
  }
}

/* get_scale(amax, eps, scale_format) for one amax; qmfl: quant_max_first_level (0 = none). */
static float get_scale(const qc_qspec *sp, qc_dtype md, float amax, float eps_md,
                       qc_qscale_format fmt, float qmfl, float global_amax) {
  qc_dtype st = scale_torch_dtype(sp);
  double qmin, qmax;
  switch (fmt) {
  case QC_QSCALE_FORMAT_E8M0: {
    qc_qdtype el = sp->mx_element_dtype ? sp->mx_element_dtype : sp->dtype;
    return qc_qe8m0_scale(amax, md, el, sp->scale_calculation_mode, eps_md);
  }
  case QC_QSCALE_FORMAT_E4M3: {
    qc_qdtype_range(sp->dtype, &qmin, &qmax);
    float em = (float)qmax;
    float local_unscale = amax / em;
    /* elem_max / global_amax is Python's scalar / tensor: torch's __rtruediv__ computes
     * reciprocal(global_amax) * elem_max, rounding twice. */
    float two_level = 448.0f * ((1.0f / global_amax) * em);
    float v = fp8_cast(local_unscale * two_level, QC_QDT_FP8_E4M3) / two_level;
    return st ? qc_round_to(st, v) : v;
  }
  case QC_QSCALE_FORMAT_E5M3: {
    qc_qdtype_range(sp->dtype, &qmin, &qmax);
    float s = qc_round_to(md, amax / (float)qmax);
    if (s == 0) s = eps_md;
    return qc_round_to(md, e5m3_qdq(s));
  }
  case QC_QSCALE_FORMAT_FLOAT32:
  default: {
    qc_qdtype_range(sp->dtype, &qmin, &qmax);
    qc_dtype adt = md;
    if (st) {
      amax = qc_round_to(st, amax);
      adt = st;
    }
    float divisor = qmfl > 0 ? (float)((double)qmfl * qmax) : (float)qmax;
    float s = qc_round_to(adt, amax / divisor);
    if (s == 0) s = qc_round_to(adt, eps_md);
    return s;
  }
  }
}

static bool is_block_observer(qc_qobserver o) {
  return o == QC_QOBS_PER_BLOCK_MX || o == QC_QOBS_PER_BLOCK_MX_BUFFER_REUSE ||
         o == QC_QOBS_PER_BLOCK_MX_DIFFS;
}

/* Internal entry with the sequential first-level max (fp8 scale stages after an amax
 * observer use amax / (qmax_first_level * qmax)). */
qc_status qc_qparams_from_stats_ex(const qc_qspec *sp, const qc_qstats *st, qc_dtype md,
                                   float qmfl, qc_qparams *out);

qc_status qc_qparams_from_stats_ex(const qc_qspec *sp, const qc_qstats *st, qc_dtype md,
                                   float qmfl, qc_qparams *out) {
  memset(out, 0, sizeof *out);
  if (md != QC_F32 && md != QC_F16 && md != QC_BF16)
    return QERR("model dtype must be f32, f16 or bf16, got %s", qc_dtype_name(md));
  qc_dtype st_dt = scale_torch_dtype(sp);
  int64_t n = st->n;
  bool block = is_block_observer(sp->observer_cls);
  if (!block && !qc_qdtype_range(sp->dtype, NULL, NULL))
    return QERR("dtype %s has no scale parameters", qc_qdtype_name(sp->dtype));
  /* check_min_max_valid: an observer that saw nothing gives scale [1.0], zero point [0]. */
  if (!block && (n == 0 || (st->rank == 0 && st->min[0] == INFINITY && st->max[0] == -INFINITY)) &&
      qc_qdtype_is_int(sp->dtype)) {
    QC_RETURN_IF_ERROR(params_alloc(out, 1, QC_F32, QC_I32));
    out->rank = 1;
    out->shape[0] = 1;
    out->scale[0] = 1.0f;
    out->zero_point[0] = 0;
    return QC_OK;
  }
  if (qc_qdtype_is_int(sp->dtype) && !block) {
    QC_RETURN_IF_ERROR(params_alloc(out, n, st_dt ? st_dt : md, QC_I32));
    for (int64_t i = 0; i < n; i++) {
      float s;
      double z;
      qc_dtype zdt, sdt;
      int_params(sp, md, st->rank == 0, st->min[i], st->max[i], &s, &z, &zdt, &sdt);
      out->scale[i] = st_dt ? qc_round_to(st_dt, s) : s;
      out->scale_dtype = st_dt ? st_dt : sdt;
      out->zero_point[i] = zdt == QC_F32 ? (double)qc_round_to(md, (float)z) : z;
      out->zp_dtype = zdt;
    }
  } else if (!block && (sp->dtype == QC_QDT_FP8_E4M3 || sp->dtype == QC_QDT_FP8_E5M2 ||
                        sp->dtype == QC_QDT_FP8_E5M3)) {
    /* calculate_fp8_quant_parameters: float32 scale format, eps in the model dtype. */
    QC_RETURN_IF_ERROR(params_alloc(out, n, st_dt ? st_dt : md, QC_F32));
    float eps = qc_round_to(md, QC_F32_EPS);
    for (int64_t i = 0; i < n; i++) {
      float mn = qc_tmin(st->min[i], 0.0f), mx = qc_tmax(st->max[i], 0.0f);
      float amax = qc_tmax(fabsf(mn), fabsf(mx));
      out->scale[i] = get_scale(sp, md, amax, eps, QC_QSCALE_FORMAT_FLOAT32, qmfl, 0);
    }
  } else {
    /* fp4/fp6 (calculate_fp4_quant_parameters) and the block observers: get_scale of amax. */
    if (!sp->scale_format) return QERR("spec with dtype %s needs a scale_format",
                                       qc_qdtype_name(sp->dtype));
    qc_dtype amax_dt = md;
    QC_RETURN_IF_ERROR(params_alloc(out, n, QC_F32, QC_F32));
    float gmax = -INFINITY;
    float *amax = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!amax) {
      qc_qparams_clear(out);
      return oom();
    }
    for (int64_t i = 0; i < n; i++) {
      float a;
      if (block) {
        a = st->max[i];
      } else {
        float mn = qc_tmin(st->min[i], 0.0f), mx = qc_tmax(st->max[i], 0.0f);
        a = qc_tmax(fabsf(mn), fabsf(mx));
      }
      amax[i] = a;
      gmax = qc_tmax(gmax, a);
    }
    /* Result dtype of get_scale: e8m0 even -> float32; floor/ceil and float32 -> amax's
     * dtype (or the scale dtype); e5m3 -> amax's dtype; e4m3 -> float32 or scale dtype. */
    qc_dtype res;
    switch (sp->scale_format) {
    case QC_QSCALE_FORMAT_E8M0:
      res = (sp->scale_calculation_mode == QC_QSCALE_MODE_FLOOR ||
             sp->scale_calculation_mode == QC_QSCALE_MODE_CEIL)
                ? amax_dt
                : QC_F32;
      break;
    case QC_QSCALE_FORMAT_E4M3: res = st_dt ? st_dt : QC_F32; break;
    case QC_QSCALE_FORMAT_FLOAT32: res = st_dt ? st_dt : amax_dt; break;
    default: res = amax_dt; break;
    }
    /* Block observers pass eps as a python float; UniformScaling's fp4 path passes its
     * float32 eps tensor: both are float32 eps, cast to the scale's dtype by masked_fill. */
    for (int64_t i = 0; i < n; i++) {
      float s = get_scale(sp, amax_dt, amax[i], QC_F32_EPS, sp->scale_format, qmfl, gmax);
      if (!block && s == 0) s = QC_F32_EPS; /* fp4 path: masked_fill(scale == 0, eps) */
      s = qc_round_to(res, s);
      out->scale[i] = st_dt ? qc_round_to(st_dt, s) : s;
    }
    out->scale_dtype = st_dt ? st_dt : res;
    free(amax);
  }
  out->rank = st->rank;
  memcpy(out->shape, st->shape, sizeof out->shape);
  return QC_OK;
}

qc_status qc_qparams_from_stats(const qc_qspec *spec, const qc_qstats *stats, qc_dtype model_dtype,
                                qc_qparams *out) {
  return qc_qparams_from_stats_ex(spec, stats, model_dtype, 0, out);
}

/* ---- fake / real quantization ------------------------------------------------------------ */

typedef enum { OP_FAKE, OP_REAL, OP_DEQUANT } qop;

static qc_status check_shape(int32_t rank, const int64_t *shape, qc_qshape *s) {
  if (rank < 0 || rank > QC_QPARAMS_MAX_RANK)
    return QERR("tensor rank %d is out of range (0..%d)", (int)rank, QC_QPARAMS_MAX_RANK);
  s->rank = rank;
  for (int32_t i = 0; i < rank; i++) {
    if (shape[i] < 0) return QERR("negative dimension %lld", (long long)shape[i]);
    s->d[i] = shape[i];
  }
  return QC_OK;
}

static qc_status need_scales(const qc_qparams *p, int64_t n, const char *what) {
  if (!p) return QERR("%s needs quantization parameters", what);
  if (p->n != n)
    return QERR("%s: expected %lld scales, got %lld", what, (long long)n, (long long)p->n);
  return QC_OK;
}

/* Integer per-channel core (fake_quantize_per_channel_affine / real_quantize_*): x is a row
 * of values sharing (scale, zp). */
static float int_fake_channel(float x, float scale, double zp, double qmin, double qmax) {
  float s = scale < QC_F32_TINY ? QC_F32_TINY : scale; /* torch.clamp(scale, min=tiny) */
  if (isnan(scale)) s = scale;
  float inv = 1.0f / s;
  float z = (float)zp;
  float q = qc_rne(x * inv) + z;
  q = qc_tclamp(q, (float)qmin, (float)qmax);
  return (q - z) * s;
}

/* torch.fake_quantize_per_tensor_affine on the CPU: q = zp + nearbyint(x * inv) clamped in
 * float, then (q - zp) * scale. */
static float int_fake_tensor(float x, float scale, int64_t zp, double qmin, double qmax) {
  float inv = 1.0f / scale;
  float qf = (float)zp + qc_rne(x * inv);
  double q = qf;
  if (isnan(q) || q < qmin) q = isnan(q) ? qmin : qmin; /* fmax(NaN, qmin) = qmin */
  if (q > qmax) q = qmax;
  return (float)((int64_t)q - zp) * scale;
}

/* real_quantize_int_*: round(x * inv + zp), clamped. */
static float int_real(float x, float scale, double zp, double qmin, double qmax) {
  float inv = 1.0f / scale;
  float q = qc_rne(x * inv + (float)zp);
  q = qc_tclamp(q, (float)qmin, (float)qmax);
  return q == 0 ? 0.0f : q; /* .to(torch.int) */
}

static qc_status scaled_op(const qc_qspec *sp, const qc_qparams *p, const float *x,
                           const qc_qshape *s, qc_dtype md, qop op, float *y) {
  int64_t n = qc_qshape_numel(s);
  qc_qdtype dt = sp->dtype;
  const char *dn = qc_qdtype_name(dt);
  double qmin = 0, qmax = 0;
  qc_qdtype_range(dt, &qmin, &qmax);
  int32_t ax = sp->has_ch_axis ? qc_qaxis(sp->ch_axis, s->rank) : -1;
  if (dt == QC_QDT_BFLOAT16 || dt == QC_QDT_FLOAT16) {
    qc_dtype c = dt == QC_QDT_BFLOAT16 ? QC_BF16 : QC_F16;
    for (int64_t i = 0; i < n; i++) y[i] = op == OP_DEQUANT ? x[i] : qc_round_to(c, x[i]);
    return QC_OK;
  }
  bool is_int = qc_qdtype_is_int(dt);
  bool is_fp8 = dt == QC_QDT_FP8_E4M3 || dt == QC_QDT_FP8_E5M2;
  bool is_fp46 = dt == QC_QDT_FP4 || dt == QC_QDT_FP6_E2M3 || dt == QC_QDT_FP6_E3M2;
  switch (sp->qscheme) {
  case QC_QSCHEME_PER_TENSOR: {
    QC_RETURN_IF_ERROR(need_scales(p, 1, dn));
    float sc = p->scale[0];
    double zp = p->zero_point[0];
    for (int64_t i = 0; i < n; i++) {
      float v = x[i];
      if (is_int) {
        if (op == OP_FAKE) {
          /* torch.fake_quantize_per_tensor_affine truncates a float zero point. */
          y[i] = qc_round_to(md, int_fake_tensor(v, sc, (int64_t)trunc(zp), qmin, qmax));
        } else if (op == OP_REAL) {
          y[i] = int_real(v, sc, zp, qmin, qmax);
        } else {
          y[i] = (float)(v - zp) * sc;
        }
      } else if (is_fp8) {
        float scm = qc_round_to(md, sc); /* the scale takes the input's dtype in the op */
        (void)scm;
        if (op == OP_DEQUANT) {
          y[i] = v * sc;
        } else {
          float t = qc_round_to(md, v / sc);
          t = qc_tclamp(t, (float)qmin, (float)qmax);
          t = fp8_cast(t, dt);
          y[i] = op == OP_REAL ? t : qc_round_to(md, t * sc);
        }
      } else if (dt == QC_QDT_FP8_E5M3) {
        if (op == OP_DEQUANT) {
          y[i] = v * sc;
        } else {
          float t = v / sc;
          if (op == OP_REAL) {
            /* real_quantize_float8_e5m3 returns the codes (uint8) */
            if (t < 0) return QERR("fp8_e5m3 only supports positive values (no sign bit)");
            y[i] = (float)qc_float_encode(QC_E5M3, (double)qc_tclamp(t, 0.0f, 114688.0f), 0);
          } else {
            y[i] = qc_round_to(md, e5m3_qdq(t) * sc);
          }
        }
      } else {
        return QERR("per_tensor quantization is not implemented for dtype %s", dn);
      }
    }
    return QC_OK;
  }
  case QC_QSCHEME_PER_CHANNEL: {
    if (ax < 0) return QERR("per_channel: ch_axis out of range for a rank-%d tensor", (int)s->rank);
    int64_t C = s->d[ax], inner = 1;
    for (int32_t i = ax + 1; i < s->rank; i++) inner *= s->d[i];
    QC_RETURN_IF_ERROR(need_scales(p, C, dn));
    for (int64_t i = 0; i < n; i++) {
      int64_t c = (i / inner) % C;
      float v = x[i], sc = p->scale[c];
      double zp = p->zero_point[c];
      if (is_int) {
        if (op == OP_FAKE) y[i] = qc_round_to(md, int_fake_channel(v, sc, zp, qmin, qmax));
        else if (op == OP_REAL) y[i] = int_real(v, sc, zp, qmin, qmax);
        else y[i] = ((float)v - (float)zp) * sc;
      } else if (is_fp8) {
        float scm = qc_round_to(md, sc);
        if (op == OP_DEQUANT) {
          y[i] = v * sc;
        } else {
          float t = qc_tclamp(qc_round_to(md, v / scm), (float)qmin, (float)qmax);
          t = fp8_cast(t, dt);
          y[i] = op == OP_REAL ? t : qc_round_to(md, t * scm);
        }
      } else if (is_fp46) {
        float scm = qc_round_to(md, sc == 0 ? QC_F32_EPS : sc);
        if (op == OP_DEQUANT) {
          y[i] = v * sc;
        } else {
          float t = qc_round_to(md, v / scm);
          float q = qc_qfake_element(t, dt);
          y[i] = op == OP_REAL ? q : qc_round_to(md, q * scm);
        }
      } else {
        return QERR("per_channel quantization is not implemented for dtype %s", dn);
      }
    }
    return QC_OK;
  }
  case QC_QSCHEME_PER_GROUP: {
    if (ax < 0) return QERR("per_group: ch_axis out of range for a rank-%d tensor", (int)s->rank);
    if (!sp->has_group_size || sp->group_size <= 0)
      return QERR("per_group: group_size must be a positive integer");
    int64_t G = sp->group_size;
    if (is_int) {
      /* fake_quantize_int_per_group_affine: swap ch_axis with the last axis, rows of G. */
      if (s->d[ax] % G != 0)
        return QERR("per_group: dimension %d (%lld) is not a multiple of group_size %lld",
                    (int)ax, (long long)s->d[ax], (long long)G);
      float *t = malloc(sizeof(float) * (size_t)(n ? n : 1));
      if (!t) return oom();
      qc_qshape ts;
      qc_qswap_axes(x, s, ax, s->rank - 1, t, &ts);
      int64_t groups = n / G;
      qc_status st = need_scales(p, groups, dn);
      if (st) {
        free(t);
        return st;
      }
      for (int64_t i = 0; i < n; i++) {
        int64_t g = i / G;
        float v = t[i], sc = p->scale[g];
        double zp = p->zero_point[g];
        if (op == OP_FAKE) t[i] = qc_round_to(md, int_fake_channel(v, sc, zp, qmin, qmax));
        else if (op == OP_REAL) t[i] = int_real(v, sc, zp, qmin, qmax);
        else t[i] = ((float)v - (float)zp) * sc;
      }
      qc_qswap_axes(t, &ts, ax, s->rank - 1, y, NULL);
      free(t);
      return QC_OK;
    }
    if (!is_fp8 && !is_fp46)
      return QERR("per_group quantization is not implemented for dtype %s", dn);
    /* fp8/fp4/fp6 per group: reshape_to_blocks, scale per (row, block). */
    int64_t R, L, B;
    float *blk = qc_qto_blocks(x, s, ax, G, &R, &L, &B);
    if (!blk) return oom();
    qc_status st = need_scales(p, R * B, dn);
    if (st) {
      free(blk);
      return st;
    }
    for (int64_t r = 0; r < R; r++)
      for (int64_t b = 0; b < B; b++) {
        float sc = p->scale[r * B + b];
        if (sc == 0) sc = QC_F32_EPS; /* scale.masked_fill(scale == 0, eps) */
        float *e = blk + (r * B + b) * G;
        for (int64_t j = 0; j < G; j++) {
          float v = e[j];
          if (op == OP_DEQUANT) {
            e[j] = v * sc;
          } else if (is_fp8) {
            float q = fp8_cast(qc_tclamp(v / sc, (float)qmin, (float)qmax), dt);
            e[j] = op == OP_REAL ? q : q * sc;
          } else {
            float q = qc_qfake_element(v / sc, dt);
            e[j] = op == OP_REAL ? q : q * sc;
          }
        }
      }
    qc_qfrom_blocks(blk, s, ax, G, B, y);
    free(blk);
    if (op == OP_FAKE)
      for (int64_t i = 0; i < n; i++) y[i] = qc_round_to(md, y[i]);
    return QC_OK;
  }
  default: return QERR("dtype %s: qscheme %s is not supported here", dn,
                       sp->qscheme ? qc_qscheme_name(sp->qscheme) : "null");
  }
}

/* ---- non-scaled dtypes: mx, mx6, mx9, bfp16 ------------------------------------------- */

/* Biased exponent field minus the bias, as t_exponent reads it from a float of `md`
 * (NaN/Inf read as 0). */
static int t_exponent(float v, qc_dtype md) {
  if (!isfinite(v)) v = 0;
  if (md == QC_BF16) {
    uint16_t h = qc_f32_to_bf16(v);
    return ((h >> 7) & 0xFF) - 127;
  }
  if (md == QC_F16) {
    uint16_t h = qc_f32_to_f16(v);
    return ((h >> 10) & 0x1F) - 15;
  }
  uint32_t b;
  memcpy(&b, &v, 4);
  return (int)((b >> 23) & 0xFF) - 127;
}

static qc_status nonscaled_fake(const qc_qspec *sp, const float *x, const qc_qshape *s,
                                qc_dtype md, float *y) {
  qc_qdtype dt = sp->dtype;
  int64_t n = qc_qshape_numel(s);
  if (!sp->has_ch_axis || !sp->has_group_size)
    return QERR("dtype %s needs ch_axis and group_size", qc_qdtype_name(dt));
  int32_t ax = qc_qaxis(sp->ch_axis, s->rank);
  if (ax < 0) return QERR("ch_axis out of range for a rank-%d tensor", (int)s->rank);
  int64_t bs = dt == QC_QDT_BFP16 ? 8 : sp->group_size; /* fake_quantize_bfp16 forces 8 */
  if (bs <= 0) return QERR("group_size must be positive");
  int64_t R, L, B;
  float *blk = qc_qto_blocks(x, s, ax, bs, &R, &L, &B);
  if (!blk) return oom();
  for (int64_t rb = 0; rb < R * B; rb++) {
    float *e = blk + rb * bs;
    if (dt == QC_QDT_MX) {
      qc_qdtype el = sp->mx_element_dtype;
      float amax = 0;
      for (int64_t j = 0; j < bs; j++) amax = qc_tmax(amax, fabsf(e[j]));
      float scale = qc_qe8m0_scale(amax, md, el, sp->scale_calculation_mode, QC_F32_EPS);
      if (scale == 0) scale = QC_F32_EPS;
      for (int64_t j = 0; j < bs; j++) {
        float v = e[j];
        if (el == QC_QDT_INT8) {
          float s64 = scale / 64.0f;
          e[j] = int_fake_channel(v, s64, 0.0, -127, 127);
        } else if (el == QC_QDT_FP8_E4M3 || el == QC_QDT_FP8_E5M2) {
          double qm;
          qc_qdtype_range(el, NULL, &qm);
          e[j] = fp8_cast(qc_tclamp(v / scale, (float)-qm, (float)qm), el) * scale;
        } else {
          e[j] = qc_qfake_element(v / scale, el) * scale;
        }
      }
    } else if (dt == QC_QDT_MX6 || dt == QC_QDT_MX9) {
      /* _compute_mx_exponents + _mx6_mx9_codes with k2 = 2 and 5 / 8 element bits. */
      const int k2 = 2, qbit = dt == QC_QDT_MX6 ? 5 : 8;
      float sn = md == QC_BF16 ? 0x1p-126f : (md == QC_F16 ? 0x1p-14f : 0x1p-126f);
      float fl[64];
      float *f = bs <= 64 ? fl : malloc(sizeof(float) * (size_t)bs);
      if (!f) {
        free(blk);
        return oom();
      }
      float amax = 0;
      for (int64_t j = 0; j < bs; j++) {
        f[j] = fabsf(e[j]) < sn ? 0.0f : e[j];
        float c = isfinite(f[j]) ? f[j] : 0.0f;
        amax = fmaxf(amax, fabsf(c));
      }
      int max_exp = t_exponent(amax, md);
      if (bs % k2 != 0) {
        if (f != fl) free(f);
        free(blk);
        return QERR("%s: block size %lld is not a multiple of %d", qc_qdtype_name(dt),
                    (long long)bs, k2);
      }
      float qm = (float)((1 << (qbit - 1)) - 1);
      for (int64_t j0 = 0; j0 < bs; j0 += k2) {
        bool shift = true;
        for (int64_t j = j0; j < j0 + k2; j++)
          if (!(max_exp - t_exponent(f[j], md) >= 1)) shift = false;
        int shared = max_exp - (shift ? 1 : 0);
        float scale = ldexpf(1.0f, shared - qbit + 2);
        for (int64_t j = j0; j < j0 + k2; j++) {
          float v = f[j];
          if (!isfinite(v)) {
            e[j] = v;
            continue;
          }
          float c = qc_tclamp(qc_rne(v / scale), -qm, qm);
          e[j] = c * scale;
        }
      }
      if (f != fl) free(f);
    } else { /* bfp16 */
      float amax = 0;
      for (int64_t j = 0; j < bs; j++) amax = fmaxf(amax, fabsf(isfinite(e[j]) ? e[j] : 0.0f));
      for (int pass = 0; pass < 2; pass++) {
        float l = qc_round_to(md, qc_log2f(amax));
        float t = qc_round_to(md, floorf(l) - 6.0f);
        float scale = isinf(t) && t < 0 ? 0.0f : qc_round_to(md, ldexpf(1.0f, (int)fmaxf(t, -1000)));
        if (scale == 0) scale = qc_round_to(md, QC_F32_EPS);
        if (pass == 0) {
          bool over = false;
          for (int64_t j = 0; j < bs; j++) {
            float v = isfinite(e[j]) ? e[j] : 0.0f;
            float q = int_fake_channel(v, scale, 0, -129, 128) / scale;
            if (q >= 128 || q < -128) over = true;
          }
          if (over) amax = qc_round_to(md, amax * 2.0f);
        } else {
          for (int64_t j = 0; j < bs; j++) {
            float v = isfinite(e[j]) ? e[j] : 0.0f;
            e[j] = int_fake_channel(v, scale, 0, -128, 127);
          }
        }
      }
    }
  }
  qc_qfrom_blocks(blk, s, ax, bs, B, y);
  free(blk);
  for (int64_t i = 0; i < n; i++) y[i] = qc_round_to(md, y[i]);
  return QC_OK;
}

static bool is_non_scaled(qc_qdtype d) {
  return d == QC_QDT_MX || d == QC_QDT_MX6 || d == QC_QDT_MX9 || d == QC_QDT_BFP16;
}

qc_status qc_fake_quantize(const qc_qspec *spec, const qc_qparams *params, const float *x,
                           int32_t rank, const int64_t *shape, qc_dtype model_dtype, float *y) {
  qc_qshape s;
  QC_RETURN_IF_ERROR(check_shape(rank, shape, &s));
  if (is_non_scaled(spec->dtype)) return nonscaled_fake(spec, x, &s, model_dtype, y);
  return scaled_op(spec, params, x, &s, model_dtype, OP_FAKE, y);
}

qc_status qc_real_quantize_ex(const qc_qspec *spec, const qc_qparams *params, const float *x,
                              int32_t rank, const int64_t *shape, qc_dtype model_dtype, float *q) {
  qc_qshape s;
  QC_RETURN_IF_ERROR(check_shape(rank, shape, &s));
  if (is_non_scaled(spec->dtype))
    return QERR("real quantization of dtype %s is not supported (Quark emulates it only)",
                qc_qdtype_name(spec->dtype));
  return scaled_op(spec, params, x, &s, model_dtype, OP_REAL, q);
}

qc_status qc_real_quantize(const qc_qspec *spec, const qc_qparams *params, const float *x,
                           int32_t rank, const int64_t *shape, float *q) {
  return qc_real_quantize_ex(spec, params, x, rank, shape, QC_F32, q);
}

qc_status qc_dequantize(const qc_qspec *spec, const qc_qparams *params, const float *q,
                        int32_t rank, const int64_t *shape, qc_dtype model_dtype, float *y) {
  qc_qshape s;
  QC_RETURN_IF_ERROR(check_shape(rank, shape, &s));
  if (is_non_scaled(spec->dtype))
    return QERR("dequantization of dtype %s is not supported", qc_qdtype_name(spec->dtype));
  QC_RETURN_IF_ERROR(scaled_op(spec, params, q, &s, model_dtype, OP_DEQUANT, y));
  (void)model_dtype;
  return QC_OK;
}
