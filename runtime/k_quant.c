/*
 * Interpreter kernels: quantization.
 *
 * ai.onnx: QuantizeLinear / DequantizeLinear (every opset: per-tensor, per-axis and
 * blocked parameters; 2/4/8/16-bit integers, fp8 and fp4 outputs; saturate, output_dtype,
 * precision; e8m0 scales), DynamicQuantizeLinear, MatMulInteger, QLinearMatMul,
 * ConvInteger, QLinearConv.
 * com.microsoft: MatMulNBits, QuantizeLinear, DequantizeLinear, DynamicQuantizeMatMul,
 * MatMulIntegerToFloat, QLinearAdd/Mul/Concat/Sigmoid/AveragePool/GlobalAveragePool, QGemm.
 *
 * Rounding follows the ONNX reference implementation step by step, because the
 * conformance data pins it: a quotient x / scale is rounded to the dtype numpy computes it
 * in (the promotion of x's and the scale's dtypes, or `precision`) before it is rounded
 * half to even to an integer; dequantization multiplies in float32. Integer matrix
 * products accumulate exactly in int64.
 */
#include "runtime/kutil.h"

#include <float.h>
#include <math.h>

/* ---- numeric helpers --------------------------------------------------------------------------- */

/* v rounded to float dtype dt (half to even). */
static double rnd(qc_dtype dt, double v) {
  if (dt == QC_F64) return v;
  if (dt == QC_F32) return (float)v;
  return qc_float_decode(dt, qc_float_encode(dt, v, 0));
}

/* The dtype numpy computes a binary float op of a and b in. Integers (int32 x or scale)
 * promote to f64; 8-bit floats take the other operand's type; f16 with bf16 gives f32. */
static qc_dtype promote(qc_dtype a, qc_dtype b) {
  if (a == b) return qc_dtype_is_float(a) ? a : QC_F64;
  if (!qc_dtype_is_float(a) || !qc_dtype_is_float(b)) return QC_F64;
  int ba = qc_dtype_traits_of(a)->bits, bb = qc_dtype_traits_of(b)->bits;
  if (ba <= 8) return b;
  if (bb <= 8) return a;
  if (ba == bb) return ba == 16 ? QC_F32 : a;
  return ba > bb ? a : b;
}

static double scalar_f(const qc_tensor *t, size_t i) { return qc_elem_f64(t->dtype, qc_tensor_data(t), i); }
static int64_t scalar_i(const qc_tensor *t, size_t i) { return qc_elem_i64(t->dtype, qc_tensor_data(t), i); }

/* Round half to even and saturate into integer dtype dt; NaN gives 0. */
static int64_t sat_round(qc_dtype dt, double v) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  if (isnan(v)) return 0;
  double r = qc_round(v, 0);
  if (r <= (double)t->imin) return t->imin;
  if (r >= (double)t->imax) return (int64_t)t->imax;
  return (int64_t)r;
}

static bool is_8bit_int(qc_dtype dt) { return dt == QC_I8 || dt == QC_U8; }

/* Optional input that must be a scalar (or a 1-element tensor). */
static qc_status scalar_in(const qc_kctx *k, int32_t i, bool required, const qc_tensor **t) {
  *t = qc_k_in(k, i);
  if (!*t) {
    if (required) return qc_k_error(k, "input %d is missing", i);
    return QC_OK;
  }
  if (qc_tensor_numel(*t) != 1) return qc_k_error(k, "input %d must be a scalar", i);
  return QC_OK;
}

/* ---- quantization parameter layout -------------------------------------------------------------- */

/* Where the scale / zero point of element i of x lives: one value (per-tensor), one per
 * index along `axis` (per-axis), or one per block of B along `axis` (blocked). */
typedef struct qgrid {
  int mode; /* 0 per-tensor, 1 per-axis, 2 blocked */
  int64_t D, inner, B, Sa;
} qgrid;

static qc_status qgrid_init(const qc_kctx *k, const qc_tensor *x, const qc_tensor *scale,
                            const qc_tensor *zp, int64_t axis_attr, int64_t block, qgrid *g) {
  memset(g, 0, sizeof *g);
  bool one = qc_tensor_numel(scale) == 1 && scale->rank <= 1;
  /* A scalar scale may come with a [1] zero point (and vice versa). */
  if (zp && !(one && qc_tensor_numel(zp) == 1 && zp->rank <= 1) &&
      (zp->rank != scale->rank ||
       memcmp(zp->dims, scale->dims, sizeof(int64_t) * (size_t)scale->rank) != 0))
    return qc_k_error(k, "zero point and scale shapes differ");
  if (one) return QC_OK;
  int32_t axis;
  QC_RETURN_IF_ERROR(qc_k_axis(k, axis_attr, x->rank, &axis));
  g->D = x->dims[axis];
  g->inner = 1;
  for (int32_t d = axis + 1; d < x->rank; d++) g->inner *= x->dims[d];
  if (block > 0) {
    if (scale->rank != x->rank) return qc_k_error(k, "blocked scale must have the input's rank");
    for (int32_t d = 0; d < x->rank; d++)
      if (d != axis && scale->dims[d] != x->dims[d])
        return qc_k_error(k, "blocked scale differs from the input in dim %d", d);
    g->B = block;
    g->Sa = scale->dims[axis];
    if ((g->D + block - 1) / block != g->Sa)
      return qc_k_error(k, "block_size %lld does not give %lld blocks along axis %d (size %lld)",
                        (long long)block, (long long)g->Sa, axis, (long long)g->D);
    g->mode = 2;
    return QC_OK;
  }
  if (scale->rank != 1 || scale->dims[0] != g->D)
    return qc_k_error(k, "per-axis scale must be 1-D of length %lld (axis %d)", (long long)g->D, axis);
  g->mode = 1;
  return QC_OK;
}

static inline int64_t qgrid_at(const qgrid *g, int64_t i) {
  switch (g->mode) {
  case 0: return 0;
  case 1: return (i / g->inner) % g->D;
  default: {
    int64_t o = i / (g->D * g->inner), a = (i / g->inner) % g->D, n = i % g->inner;
    return (o * g->Sa + a / g->B) * g->inner + n;
  }
  }
}

/* ---- QuantizeLinear ------------------------------------------------------------------------------ */

typedef struct quant_ctx {
  const qc_tensor *x, *scale, *zp;
  qc_tensor *y;
  qgrid g;
  qc_dtype div_dt, prec; /* prec: QC_DT_UNDEFINED unless `precision` is given */
  bool saturate;
} quant_ctx;

/* The common case (float32 x and scale, 8-bit integer output, per tensor or per axis)
 * without the generic accessors: the quantization of every activation of a W8A8 model runs
 * here. x / s in float32 is the double quotient rounded once to float32 (the general path's
 * rnd(F32, x / s): a correctly rounded division, double rounding cannot differ). The inner
 * loop runs over the elements that share one scale, without branches. */
static void quant_chunk_f32_i8(const quant_ctx *c, int64_t begin, int64_t end) {
  const float *x = qc_tensor_data(c->x), *s = qc_tensor_data(c->scale);
  const void *zd = c->zp ? qc_tensor_data(c->zp) : NULL;
  bool u8 = c->y->dtype == QC_U8;
  int32_t lo = u8 ? 0 : -128, hi = u8 ? 255 : 127;
  void *yd = qc_tensor_data(c->y);
  for (int64_t i = begin; i < end;) {
    int64_t gi = qgrid_at(&c->g, i), run = end - i;
    if (c->g.mode == 1 && c->g.inner - i % c->g.inner < run) run = c->g.inner - i % c->g.inner;
    float sv = s[gi];
    int32_t zp = zd ? (u8 ? ((const uint8_t *)zd)[gi] : ((const int8_t *)zd)[gi]) : 0;
    /* Quotients beyond [lo - zp - 2, hi - zp + 2] saturate whatever their rounding, and
     * clamping them there keeps the int32 conversion exact; NaN becomes 0 (then + zp). */
    float qlo = (float)(lo - zp - 2), qhi = (float)(hi - zp + 2);
#define QUANT_F32_I8_LOOP(T)                                                                  \
  for (int64_t j = i; j < i + run; j++) {                                                       \
    float q = x[j] / sv;                                                                        \
    q = q != q ? 0.0f : q;                                                                      \
    q = q < qlo ? qlo : q > qhi ? qhi : q;                                                      \
    /* floor, then half to even, independent of the FP environment (as qc_round) */            \
    int32_t t = (int32_t)q;                                                                     \
    t -= (float)t > q;                                                                          \
    float d = q - (float)t;                                                                     \
    int32_t r = t + (int32_t)((d > 0.5f) | ((d == 0.5f) & (t & 1))) + zp;                       \
    ((T *)yd)[j] = (T)(r < lo ? lo : r > hi ? hi : r);                                          \
  }
    if (u8) QUANT_F32_I8_LOOP(uint8_t)
    else QUANT_F32_I8_LOOP(int8_t)
#undef QUANT_F32_I8_LOOP
    i += run;
  }
}

static bool is_fp8(qc_dtype dt) {
  return dt == QC_F8E4M3FN || dt == QC_F8E4M3FNUZ || dt == QC_F8E5M2 || dt == QC_F8E5M2FNUZ;
}

/* What fp8 rounding needs of a format: its mantissa bits and bias, the largest finite code
 * and its value, and whether the format has a negative zero. */
typedef struct fp8_format {
  int mbits, bias, top;
  float vtop, min_normal, sub_scale; /* sub_scale: 2^(mbits - 1 + bias), one subnormal step = 1 */
  bool fnuz;
} fp8_format;

static void fp8_format_init(qc_dtype dt, fp8_format *f) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  f->mbits = t->mbits;
  f->bias = t->bias;
  f->fnuz = dt == QC_F8E4M3FNUZ || dt == QC_F8E5M2FNUZ;
  f->top = 0;
  for (int c = 1; c < 128 && isfinite(qc_float_decode(dt, (uint32_t)c)); c++) f->top = c;
  f->vtop = (float)qc_float_decode(dt, (uint32_t)f->top);
  f->min_normal = ldexpf(1.0f, 1 - f->bias);
  f->sub_scale = ldexpf(1.0f, f->mbits - 1 + f->bias);
}

/* qc_float_encode(dt, q, QC_ENC_SATURATE) for a float32 q that is not NaN, in integer
 * arithmetic on q's bits: normal results drop the extra mantissa bits rounding half to even
 * (a carry moves into the exponent, as it should), subnormal ones round q / 2^(1-bias-mbits)
 * half to even; results beyond the largest finite value saturate; a zero keeps its sign
 * except in FNUZ formats. */
static uint32_t fp8_encode_sat(const fp8_format *f, float q) {
  float a = fabsf(q);
  int32_t c;
  if (!(a < f->vtop)) {
    c = f->top;
  } else if (a >= f->min_normal) {
    uint32_t u, sh = (uint32_t)(23 - f->mbits);
    memcpy(&u, &a, 4);
    u += (1u << (sh - 1)) - 1 + ((u >> sh) & 1);
    c = (int32_t)(u >> sh) - ((127 - f->bias) << f->mbits);
    if (c > f->top) c = f->top;
  } else {
    float t = a * f->sub_scale; /* exact: a power of two, t < 2^mbits */
    int32_t i = (int32_t)t;
    float d = t - (float)i;
    c = i + ((d > 0.5f) | ((d == 0.5f) & (i & 1)));
  }
  if (c == 0 && f->fnuz) return 0;
  return (uint32_t)c | (signbit(q) ? 0x80u : 0u);
}

/* Float32 x and scale to saturated fp8 (every activation of an fp8 model). */
static void quant_chunk_f32_fp8(const quant_ctx *c, int64_t begin, int64_t end) {
  const float *x = qc_tensor_data(c->x), *s = qc_tensor_data(c->scale);
  qc_dtype odt = c->y->dtype;
  uint8_t *y = qc_tensor_data(c->y);
  fp8_format f;
  fp8_format_init(odt, &f);
  for (int64_t i = begin; i < end; i++) {
    float q = x[i] / s[qgrid_at(&c->g, i)];
    y[i] = (uint8_t)(q != q ? qc_float_encode(odt, q, QC_ENC_SATURATE) : fp8_encode_sat(&f, q));
  }
}

static void quant_chunk(void *vc, int64_t begin, int64_t end) {
  const quant_ctx *c = vc;
  qc_dtype odt = c->y->dtype;
  if (c->x->dtype == QC_F32 && c->scale->dtype == QC_F32 && c->div_dt == QC_F32 && !c->prec) {
    if ((odt == QC_I8 || odt == QC_U8) && c->g.mode != 2) {
      quant_chunk_f32_i8(c, begin, end);
      return;
    }
    if (is_fp8(odt) && c->saturate) {
      quant_chunk_f32_fp8(c, begin, end);
      return;
    }
  }
  bool oint = qc_dtype_is_int(odt);
  qc_acc ax = qc_acc_of(c->x->dtype), as = qc_acc_of(c->scale->dtype);
  const void *xd = qc_tensor_data(c->x), *sd = qc_tensor_data(c->scale);
  const void *zd = c->zp ? qc_tensor_data(c->zp) : NULL;
  void *yd = qc_tensor_data(c->y);
  for (int64_t i = begin; i < end; i++) {
    int64_t gi = qgrid_at(&c->g, i);
    double xv = ax.getf(ax.dt, xd, (size_t)i), sv = as.getf(as.dt, sd, (size_t)gi);
    if (c->prec) {
      xv = rnd(c->prec, xv);
      sv = rnd(c->prec, sv);
    }
    double q = rnd(c->div_dt, xv / sv);
    if (oint) {
      int64_t zp = zd ? qc_elem_i64(odt, zd, (size_t)gi) : 0;
      double r = isnan(q) ? 0 : qc_round(q, 0);
      if (r > 4e18) r = 4e18;
      if (r < -4e18) r = -4e18;
      qc_elem_set_i64(odt, yd, (size_t)i, qc_int_saturate(odt, (int64_t)r + zp));
    } else if (odt == QC_F4E2M1) {
      double zp = zd ? qc_elem_f64(odt, zd, (size_t)gi) : 0;
      qc_elem_set_code(odt, yd, (size_t)i, qc_float_encode(odt, rnd(c->div_dt, q + zp), 0));
    } else {
      qc_elem_set_code(odt, yd, (size_t)i,
                       qc_float_encode(odt, q, c->saturate ? QC_ENC_SATURATE : 0));
    }
  }
}

static bool quant_output_ok(qc_dtype dt) {
  switch (dt) {
  case QC_I8: case QC_U8: case QC_I16: case QC_U16: case QC_I4: case QC_U4: case QC_I2:
  case QC_U2: case QC_F8E4M3FN: case QC_F8E4M3FNUZ: case QC_F8E5M2: case QC_F8E5M2FNUZ:
  case QC_F4E2M1:
    return true;
  default: return false;
  }
}

static qc_status k_quantize_linear(qc_kctx *k) {
  quant_ctx c;
  memset(&c, 0, sizeof c);
  c.x = qc_k_in(k, 0);
  c.scale = qc_k_in(k, 1);
  c.zp = qc_k_in(k, 2);
  if (!c.x || !c.scale) return qc_k_error(k, "x and y_scale are required");
  qc_dtype odt = QC_U8;
  int64_t od = qc_k_int(k, "output_dtype", 0);
  if (od) {
    odt = qc_dtype_from_onnx((int)od);
    if (!odt) return qc_k_error(k, "unknown output_dtype %lld", (long long)od);
  }
  if (c.zp) {
    if (od && odt != c.zp->dtype)
      return qc_k_error(k, "output_dtype %s differs from the zero point's %s", qc_dtype_name(odt),
                        qc_dtype_name(c.zp->dtype));
    odt = c.zp->dtype;
  }
  if (!quant_output_ok(odt)) return qc_k_error(k, "cannot quantize to %s", qc_dtype_name(odt));
  int64_t pr = qc_k_int(k, "precision", 0);
  if (pr) {
    c.prec = qc_dtype_from_onnx((int)pr);
    if (!qc_dtype_is_float(c.prec)) return qc_k_error(k, "precision must be a float type");
    c.div_dt = c.prec;
  } else {
    c.div_dt = promote(c.x->dtype, c.scale->dtype);
  }
  c.saturate = qc_k_int(k, "saturate", 1) != 0;
  QC_RETURN_IF_ERROR(
      qgrid_init(k, c.x, c.scale, c.zp, qc_k_int(k, "axis", 1), qc_k_int(k, "block_size", 0), &c.g));
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, odt, c.x->rank, c.x->dims, &c.y));
  int64_t n = qc_tensor_numel(c.x);
  if (qc_dtype_traits_of(odt)->bits < 8) quant_chunk(&c, 0, n);
  else qc_k_parallel_for(k, n, 1 << 14, quant_chunk, &c);
  return QC_OK;
}

/* ---- DequantizeLinear ---------------------------------------------------------------------------- */

typedef struct dequant_ctx {
  const qc_tensor *x, *scale, *zp;
  qc_tensor *y;
  qgrid g;
  bool use_zp;
} dequant_ctx;

/* (x - zp) and the product with the scale are float32 operations, as in the reference. */
static void dequant_chunk(void *vc, int64_t begin, int64_t end) {
  const dequant_ctx *c = vc;
  qc_dtype xdt = c->x->dtype;
  if ((xdt == QC_I8 || xdt == QC_U8) && c->scale->dtype == QC_F32 && c->y->dtype == QC_F32) {
    /* 8-bit integers to float32 (every activation of a W8A8 model): the same float32
     * operations without the generic accessors. */
    const float *s = qc_tensor_data(c->scale);
    const void *xd = qc_tensor_data(c->x), *zd = c->use_zp ? qc_tensor_data(c->zp) : NULL;
    bool u8 = xdt == QC_U8;
    float *y = qc_tensor_data(c->y);
    for (int64_t i = begin; i < end; i++) {
      int64_t gi = qgrid_at(&c->g, i);
      float dx = u8 ? (float)((const uint8_t *)xd)[i] : (float)((const int8_t *)xd)[i];
      if (zd) dx -= u8 ? (float)((const uint8_t *)zd)[gi] : (float)((const int8_t *)zd)[gi];
      y[i] = dx * s[gi];
    }
    return;
  }
  if (is_fp8(xdt) && c->scale->dtype == QC_F32 && c->y->dtype == QC_F32) {
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = (float)qc_float_decode(xdt, (uint32_t)v);
    const uint8_t *xd = qc_tensor_data(c->x);
    const float *s = qc_tensor_data(c->scale);
    float *y = qc_tensor_data(c->y);
    for (int64_t i = begin; i < end; i++) y[i] = lut[xd[i]] * s[qgrid_at(&c->g, i)];
    return;
  }
  qc_acc ax = qc_acc_of(xdt), as = qc_acc_of(c->scale->dtype), ay = qc_acc_of(c->y->dtype);
  const void *xd = qc_tensor_data(c->x), *sd = qc_tensor_data(c->scale);
  const void *zd = c->use_zp ? qc_tensor_data(c->zp) : NULL;
  void *yd = qc_tensor_data(c->y);
  for (int64_t i = begin; i < end; i++) {
    int64_t gi = qgrid_at(&c->g, i);
    float dx = (float)ax.getf(xdt, xd, (size_t)i);
    if (zd) dx = dx - (float)qc_elem_f64(xdt, zd, (size_t)gi);
    float y = dx * (float)as.getf(as.dt, sd, (size_t)gi);
    ay.setf(ay.dt, yd, (size_t)i, y);
  }
}

static qc_status k_dequantize_linear(qc_kctx *k) {
  dequant_ctx c;
  memset(&c, 0, sizeof c);
  c.x = qc_k_in(k, 0);
  c.scale = qc_k_in(k, 1);
  c.zp = qc_k_in(k, 2);
  if (!c.x || !c.scale) return qc_k_error(k, "x and x_scale are required");
  qc_dtype xdt = c.x->dtype;
  if (!qc_dtype_is_int(xdt) && !qc_dtype_is_float(xdt))
    return qc_k_error(k, "cannot dequantize %s", qc_dtype_name(xdt));
  qc_dtype odt = c.scale->dtype;
  int64_t od = qc_k_int(k, "output_dtype", 0);
  if (od) odt = qc_dtype_from_onnx((int)od);
  if (odt != QC_F32 && odt != QC_F16 && odt != QC_BF16 && odt != QC_F64)
    return qc_k_error(k, "output dtype %s is not a float type (set output_dtype)", qc_dtype_name(odt));
  if (c.zp && c.zp->dtype != xdt)
    return qc_k_error(k, "zero point dtype %s differs from x's %s", qc_dtype_name(c.zp->dtype),
                      qc_dtype_name(xdt));
  /* Float inputs (fp8, fp4) take no zero point: the reference ignores it. */
  c.use_zp = c.zp && qc_dtype_is_int(xdt);
  QC_RETURN_IF_ERROR(
      qgrid_init(k, c.x, c.scale, c.zp, qc_k_int(k, "axis", 1), qc_k_int(k, "block_size", 0), &c.g));
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, odt, c.x->rank, c.x->dims, &c.y));
  qc_k_parallel_for(k, qc_tensor_numel(c.x), 1 << 14, dequant_chunk, &c);
  return QC_OK;
}

/* quarc.DequantizePacked: block types (GGUF, MX) carry their scales; other packed dtypes
 * (int4/uint4/fp4/fp6/int3 bit streams, int8, fp8) take an optional scale and zero point
 * laid out per tensor, per `axis`, or in groups of `group_size` along `axis`. */
typedef struct dqp_ctx {
  const qc_tensor *q, *scale, *zp;
  qc_tensor *y;
  qgrid g;
  int64_t row;
} dqp_ctx;

static void dqp_blocks(void *vc, int64_t begin, int64_t end) {
  const dqp_ctx *c = vc;
  const qc_dtype_traits *t = qc_dtype_traits_of(c->q->dtype);
  size_t row_bytes = (size_t)(c->row / t->block_elems) * t->block_bytes;
  const uint8_t *qd = qc_tensor_data(c->q);
  float *yd = qc_tensor_data(c->y);
  for (int64_t r = begin; r < end; r++)
    qc_block_dequantize(c->q->dtype, qd + (size_t)r * row_bytes, yd + r * c->row, (size_t)c->row);
}

static void dqp_scaled(void *vc, int64_t begin, int64_t end) {
  const dqp_ctx *c = vc;
  qc_dtype qdt = c->q->dtype;
  const void *qd = qc_tensor_data(c->q), *sd = c->scale ? qc_tensor_data(c->scale) : NULL;
  const void *zd = c->zp ? qc_tensor_data(c->zp) : NULL;
  float *yd = qc_tensor_data(c->y);
  for (int64_t i = begin; i < end; i++) {
    int64_t gi = c->scale ? qgrid_at(&c->g, i) : 0;
    float v = (float)qc_elem_f64(qdt, qd, (size_t)i);
    if (zd) v -= (float)qc_elem_f64(c->zp->dtype, zd, (size_t)gi);
    if (sd) v *= (float)qc_elem_f64(c->scale->dtype, sd, (size_t)gi);
    yd[i] = v;
  }
}

static qc_status k_dequantize_packed(qc_kctx *k) {
  dqp_ctx c;
  memset(&c, 0, sizeof c);
  c.q = qc_k_in(k, 0);
  c.scale = qc_k_in(k, 1);
  c.zp = qc_k_in(k, 2);
  if (!c.q) return qc_k_error(k, "input q is required");
  qc_dtype to = qc_dtype_from_onnx((int)qc_k_int(k, "to", 1));
  if (!qc_dtype_is_float(to)) return qc_k_error(k, "attribute 'to' must name a float type");
  int64_t n = qc_tensor_numel(c.q);
  qc_tensor *y32;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_F32, c.q->rank, c.q->dims, &y32));
  c.y = y32;
  if (qc_dtype_is_block(c.q->dtype)) {
    const qc_dtype_traits *t = qc_dtype_traits_of(c.q->dtype);
    c.row = c.q->rank ? c.q->dims[c.q->rank - 1] : 1;
    if (c.row % t->block_elems)
      return qc_k_error(k, "rows of %lld elements are not whole %s blocks of %d", (long long)c.row,
                        t->name, t->block_elems);
    if (c.scale) return qc_k_error(k, "%s carries its own scales; no scale input is taken", t->name);
    qc_k_parallel_for(k, c.row ? n / c.row : 0, 16, dqp_blocks, &c);
  } else {
    if (!qc_dtype_is_int(c.q->dtype) && !qc_dtype_is_float(c.q->dtype))
      return qc_k_error(k, "cannot dequantize %s", qc_dtype_name(c.q->dtype));
    if (c.zp && !c.scale) return qc_k_error(k, "a zero point needs a scale");
    if (c.scale)
      QC_RETURN_IF_ERROR(qgrid_init(k, c.q, c.scale, c.zp, qc_k_int(k, "axis", 0),
                                    qc_k_int(k, "group_size", 0), &c.g));
    qc_k_parallel_for(k, n, 1 << 14, dqp_scaled, &c);
  }
  if (to != QC_F32) {
    qc_tensor f32;
    qc_tensor_copy_ref(&f32, y32);
    qc_tensor *y;
    qc_status s = qc_k_out(k, 0, to, f32.rank, f32.dims, &y);
    if (!s) qc_convert(QC_F32, qc_tensor_data(&f32), to, qc_tensor_data(y), (size_t)n, 0);
    qc_tensor_release(&f32);
    return s;
  }
  return QC_OK;
}

/* ---- DynamicQuantizeLinear ------------------------------------------------------------------------ */

/* uint8 parameters covering [min(0, min x), max(0, max x)], in float32 as the reference. */
static void dynamic_params(const qc_tensor *x, float *scale, uint8_t *zp) {
  int64_t n = qc_tensor_numel(x);
  qc_acc a = qc_acc_of(x->dtype);
  const void *d = qc_tensor_data(x);
  float mx = 0, mn = 0;
  for (int64_t i = 0; i < n; i++) {
    float v = (float)a.getf(a.dt, d, (size_t)i);
    if (v > mx) mx = v;
    if (v < mn) mn = v;
  }
  float s = (mx == mn ? 1.0f : (mx - mn)) / 255.0f;
  float z = 0.0f - mn / s;
  if (z < 0) z = 0;
  if (z > 255) z = 255;
  *scale = s;
  *zp = (uint8_t)qc_round(z, 0);
}

static qc_status k_dynamic_quantize_linear(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x) return qc_k_error(k, "input 0 is missing");
  if (!qc_dtype_is_float(x->dtype)) return qc_k_error(k, "x must be a float tensor");
  float s;
  uint8_t zp;
  dynamic_params(x, &s, &zp);
  qc_tensor *y, *ys, *yz;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_U8, x->rank, x->dims, &y));
  QC_RETURN_IF_ERROR(qc_k_out(k, 1, x->dtype, 0, NULL, &ys));
  QC_RETURN_IF_ERROR(qc_k_out(k, 2, QC_U8, 0, NULL, &yz));
  qc_elem_set_f64(x->dtype, qc_tensor_data(ys), 0, s, 0);
  *(uint8_t *)qc_tensor_data(yz) = zp;
  int64_t n = qc_tensor_numel(x);
  qc_acc a = qc_acc_of(x->dtype);
  uint8_t *yd = qc_tensor_data(y);
  for (int64_t i = 0; i < n; i++) {
    float q = (float)a.getf(a.dt, qc_tensor_data(x), (size_t)i) / s;
    yd[i] = (uint8_t)qc_int_saturate(QC_U8, sat_round(QC_I32, q) + zp);
  }
  return QC_OK;
}

/* ---- matrix products ------------------------------------------------------------------------------ */

/* numpy matmul shapes: A [..., M, K] (or [K]), B [..., K, N] (or [K]); batch dims broadcast. */
typedef struct mm_plan {
  int64_t M, K, N;
  int32_t rank;
  int64_t dims[QC_MAX_RANK];
  qc_bcast batch; /* over the batch dims of A and B; offsets count matrices */
} mm_plan;

static qc_status mm_plan_init(const qc_kctx *k, const qc_tensor *a, const qc_tensor *b, mm_plan *p) {
  memset(p, 0, sizeof *p);
  if (a->rank < 1 || b->rank < 1) return qc_k_error(k, "matrix inputs must have rank >= 1");
  int32_t ra = a->rank, rb = b->rank;
  p->M = ra >= 2 ? a->dims[ra - 2] : 1;
  p->K = a->dims[ra - 1];
  int64_t kb = rb >= 2 ? b->dims[rb - 2] : b->dims[0];
  p->N = rb >= 2 ? b->dims[rb - 1] : 1;
  if (kb != p->K)
    return qc_k_error(k, "inner dimensions differ (%lld vs %lld)", (long long)p->K, (long long)kb);
  int32_t ba = ra >= 2 ? ra - 2 : 0, bb = rb >= 2 ? rb - 2 : 0;
  int32_t ranks[2] = {ba, bb};
  const int64_t *dims[2] = {a->dims, b->dims};
  if (!qc_bcast_init(&p->batch, 2, ranks, dims))
    return qc_k_error(k, "batch dimensions do not broadcast");
  p->rank = p->batch.rank;
  memcpy(p->dims, p->batch.dims, sizeof(int64_t) * (size_t)p->rank);
  if (ra >= 2) p->dims[p->rank++] = p->M;
  if (rb >= 2) p->dims[p->rank++] = p->N;
  if (p->rank > QC_MAX_RANK) return qc_k_error(k, "result rank exceeds %d", QC_MAX_RANK);
  return QC_OK;
}

/* Offsets of a per-element parameter (zero point or scale) of a matrix operand: a scalar,
 * a vector along rows (`rows`: length M, for A) or columns (length N, for B), or a tensor
 * that broadcasts against the operand. Returns the offset table (numel of x) or an error. */
static qc_status param_offsets(const qc_kctx *k, const qc_tensor *x, const qc_tensor *p, bool rows,
                               int64_t **out, size_t *bytes) {
  int64_t n = qc_tensor_numel(x);
  *bytes = sizeof(int64_t) * (size_t)(n ? n : 1);
  int64_t *off = qc_k_alloc(k, *bytes);
  if (!off) return qc_k_error(k, "out of memory");
  *out = off;
  if (!p || qc_tensor_numel(p) == 1) {
    memset(off, 0, *bytes);
    return QC_OK;
  }
  int64_t pdims[QC_MAX_RANK];
  int32_t prank = p->rank;
  memcpy(pdims, p->dims, sizeof(int64_t) * (size_t)prank);
  if (prank == 1 && rows && x->rank >= 2) {
    pdims[1] = 1; /* [M] -> [M, 1] */
    prank = 2;
  }
  qc_bcast b;
  int32_t ranks[2] = {x->rank, prank};
  const int64_t *dims[2] = {x->dims, pdims};
  if (!qc_bcast_init(&b, 2, ranks, dims) || b.numel != n)
    return qc_k_error(k, "quantization parameter does not match its operand");
  for (int64_t i = 0; i < n; i++) {
    int64_t o[2];
    qc_bcast_offsets(&b, i, o);
    off[i] = o[1];
  }
  return QC_OK;
}

/* x - zp (zp optional) as int32 values of a whole operand. */
static qc_status centered_i32(const qc_kctx *k, const qc_tensor *x, const qc_tensor *zp, bool rows,
                              int32_t **out, size_t *bytes) {
  int64_t n = qc_tensor_numel(x);
  *bytes = sizeof(int32_t) * (size_t)(n ? n : 1);
  int32_t *v = qc_k_alloc(k, *bytes);
  if (!v) return qc_k_error(k, "out of memory");
  int64_t *off;
  size_t ob;
  qc_status s = param_offsets(k, x, zp, rows, &off, &ob);
  if (s) {
    qc_k_free(k, v, *bytes);
    return s;
  }
  const void *xd = qc_tensor_data(x);
  for (int64_t i = 0; i < n; i++)
    v[i] = (int32_t)(qc_elem_i64(x->dtype, xd, (size_t)i) - (zp ? scalar_i(zp, (size_t)off[i]) : 0));
  qc_k_free(k, off, ob);
  *out = v;
  return QC_OK;
}

typedef struct imm_ctx {
  const mm_plan *p;
  const int32_t *a, *b;
  int64_t *c;
} imm_ctx;

/* C[batch] = A[batch] @ B[batch], exact int64 accumulation; one task per (batch, row). */
static void imm_chunk(void *vc, int64_t begin, int64_t end) {
  const imm_ctx *c = vc;
  const mm_plan *p = c->p;
  int64_t M = p->M, K = p->K, N = p->N;
  for (int64_t t = begin; t < end; t++) {
    int64_t bi = t / M, m = t % M, off[2];
    qc_bcast_offsets(&p->batch, bi, off);
    const int32_t *arow = c->a + off[0] * M * K + m * K;
    const int32_t *bm = c->b + off[1] * K * N;
    int64_t *crow = c->c + bi * M * N + m * N;
    for (int64_t n = 0; n < N; n++) crow[n] = 0;
    for (int64_t kk = 0; kk < K; kk++) {
      int64_t av = arow[kk];
      if (!av) continue;
      const int32_t *brow = bm + kk * N;
      for (int64_t n = 0; n < N; n++) crow[n] += av * brow[n];
    }
  }
}

/* Integer product of two zero-point-centered operands into an int64 buffer of numel(out). */
static qc_status int_matmul(const qc_kctx *k, const qc_tensor *a, const qc_tensor *azp,
                            const qc_tensor *b, const qc_tensor *bzp, mm_plan *p, int64_t **c,
                            size_t *cbytes) {
  QC_RETURN_IF_ERROR(mm_plan_init(k, a, b, p));
  int32_t *av = NULL, *bv = NULL;
  size_t ab = 0, bb = 0;
  qc_status s = centered_i32(k, a, azp, true, &av, &ab);
  if (!s) s = centered_i32(k, b, bzp, false, &bv, &bb);
  int64_t n = p->batch.numel * p->M * p->N;
  *cbytes = sizeof(int64_t) * (size_t)(n ? n : 1);
  if (!s) {
    *c = qc_k_alloc(k, *cbytes);
    if (!*c) s = qc_k_error(k, "out of memory");
  }
  if (!s) {
    imm_ctx ctx = {p, av, bv, *c};
    qc_k_parallel_for(k, p->batch.numel * p->M, 1, imm_chunk, &ctx);
  }
  if (av) qc_k_free(k, av, ab);
  if (bv) qc_k_free(k, bv, bb);
  return s;
}

static qc_status k_matmul_integer(qc_kctx *k) {
  const qc_tensor *a = qc_k_in(k, 0), *b = qc_k_in(k, 1);
  if (!a || !b) return qc_k_error(k, "A and B are required");
  mm_plan p;
  int64_t *c;
  size_t cb;
  QC_RETURN_IF_ERROR(int_matmul(k, a, qc_k_in(k, 2), b, qc_k_in(k, 3), &p, &c, &cb));
  qc_tensor *y;
  qc_status s = qc_k_out(k, 0, QC_I32, p.rank, p.dims, &y);
  if (!s) {
    int32_t *yd = qc_tensor_data(y);
    int64_t n = qc_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) yd[i] = (int32_t)(uint32_t)(uint64_t)c[i];
  }
  qc_k_free(k, c, cb);
  return s;
}

/* Output multiplier a_scale * b_scale / y_scale, computed step by step in the scales'
 * dtype as the reference does, for scale offsets ia (row) and ib (column). */
static double requant_mult(const qc_tensor *as, size_t ia, const qc_tensor *bs, size_t ib,
                           const qc_tensor *ys) {
  qc_dtype dt = promote(promote(as->dtype, bs->dtype), ys->dtype);
  return rnd(dt, rnd(dt, scalar_f(as, ia) * scalar_f(bs, ib)) / scalar_f(ys, 0));
}

/* Scale index of row m / column n for a per-tensor or per-row/column scale. */
static size_t vec_index(const qc_tensor *s, int64_t i) { return qc_tensor_numel(s) == 1 ? 0 : (size_t)i; }

/* Quantize a real value into output dtype dt with zero point zp (ints: RNE + saturate;
 * fp8: saturating encode). */
static void store_quant(qc_dtype dt, void *yd, size_t i, double v, const qc_tensor *zp) {
  if (qc_dtype_is_int(dt)) {
    double z = zp ? scalar_f(zp, 0) : 0;
    qc_elem_set_i64(dt, yd, i, sat_round(dt, v + z));
  } else {
    qc_elem_set_code(dt, yd, i, qc_float_encode(dt, v, QC_ENC_SATURATE));
  }
}

static qc_status check_vec_param(const qc_kctx *k, const qc_tensor *t, int64_t len, const char *what) {
  if (t && qc_tensor_numel(t) != 1 && qc_tensor_numel(t) != len)
    return qc_k_error(k, "%s must be a scalar or have %lld elements", what, (long long)len);
  return QC_OK;
}

/* QLinearMatMul: 8-bit integer operands (v10) or fp8 operands (v21). */
static qc_status k_qlinear_matmul(qc_kctx *k) {
  const qc_tensor *a = qc_k_in(k, 0), *as = qc_k_in(k, 1), *azp = qc_k_in(k, 2);
  const qc_tensor *b = qc_k_in(k, 3), *bs = qc_k_in(k, 4), *bzp = qc_k_in(k, 5);
  const qc_tensor *ys = qc_k_in(k, 6), *yzp = qc_k_in(k, 7);
  if (!a || !as || !b || !bs || !ys) return qc_k_error(k, "missing inputs");
  qc_dtype odt = yzp ? yzp->dtype : a->dtype;
  mm_plan p;
  QC_RETURN_IF_ERROR(mm_plan_init(k, a, b, &p));
  QC_RETURN_IF_ERROR(check_vec_param(k, as, p.M, "a_scale"));
  QC_RETURN_IF_ERROR(check_vec_param(k, bs, p.N, "b_scale"));
  if (qc_tensor_numel(ys) != 1) return qc_k_error(k, "y_scale must be a scalar");
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, odt, p.rank, p.dims, &y));
  void *yd = qc_tensor_data(y);
  if (qc_dtype_is_int(a->dtype) && qc_dtype_is_int(b->dtype)) {
    int64_t *c;
    size_t cb;
    QC_RETURN_IF_ERROR(int_matmul(k, a, azp, b, bzp, &p, &c, &cb));
    int64_t n = qc_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) {
      int64_t m = (i / p.N) % p.M, nn = i % p.N;
      double mult = requant_mult(as, vec_index(as, m), bs, vec_index(bs, nn), ys);
      store_quant(odt, yd, (size_t)i, (double)(int32_t)(uint32_t)(uint64_t)c[i] * mult, yzp);
    }
    qc_k_free(k, c, cb);
    return QC_OK;
  }
  /* Float (fp8) operands: dequantize, multiply in double, quantize. */
  for (int64_t bi = 0; bi < p.batch.numel; bi++) {
    int64_t off[2];
    qc_bcast_offsets(&p.batch, bi, off);
    for (int64_t m = 0; m < p.M; m++)
      for (int64_t n = 0; n < p.N; n++) {
        double acc = 0;
        for (int64_t kk = 0; kk < p.K; kk++) {
          double av = scalar_f(a, (size_t)(off[0] * p.M * p.K + m * p.K + kk));
          double bv = scalar_f(b, (size_t)(off[1] * p.K * p.N + kk * p.N + n));
          acc += av * scalar_f(as, vec_index(as, m)) * bv * scalar_f(bs, vec_index(bs, n));
        }
        store_quant(odt, yd, (size_t)((bi * p.M + m) * p.N + n), acc / scalar_f(ys, 0), yzp);
      }
  }
  return QC_OK;
}

/* ---- integer convolution ---------------------------------------------------------------------------- */

typedef struct iconv_ctx {
  const qc_conv_geom *g;
  const int32_t *x, *w;
  int64_t *y;
  int64_t out_sp; /* output spatial size */
} iconv_ctx;

/* One task per (batch, output channel). */
static void iconv_chunk(void *vc, int64_t begin, int64_t end) {
  const iconv_ctx *c = vc;
  const qc_conv_geom *g = c->g;
  int32_t n = g->nsp;
  int64_t cpg = g->c_in / g->group, mpg = g->c_out / g->group;
  int64_t in_sp = 1, k_sp = 1;
  for (int32_t d = 0; d < n; d++) {
    in_sp *= g->in[d];
    k_sp *= g->k[d];
  }
  for (int64_t t = begin; t < end; t++) {
    int64_t b = t / g->c_out, m = t % g->c_out, grp = m / mpg;
    int64_t *yrow = c->y + t * c->out_sp;
    int64_t oidx[QC_MAX_RANK] = {0};
    for (int64_t o = 0; o < c->out_sp; o++) {
      int64_t acc = 0;
      for (int64_t ci = 0; ci < cpg; ci++) {
        const int32_t *xc = c->x + (b * g->c_in + grp * cpg + ci) * in_sp;
        const int32_t *wc = c->w + (m * cpg + ci) * k_sp;
        int64_t kidx[QC_MAX_RANK] = {0};
        for (int64_t kk = 0; kk < k_sp; kk++) {
          int64_t off = 0;
          bool inside = true;
          for (int32_t d = 0; d < n && inside; d++) {
            int64_t pos = oidx[d] * g->stride[d] - g->pad_begin[d] + kidx[d] * g->dil[d];
            if (pos < 0 || pos >= g->in[d]) inside = false;
            off = off * g->in[d] + pos;
          }
          if (inside) acc += (int64_t)xc[off] * wc[kk];
          for (int32_t d = n - 1; d >= 0; d--) {
            if (++kidx[d] < g->k[d]) break;
            kidx[d] = 0;
          }
        }
      }
      yrow[o] = acc;
      for (int32_t d = n - 1; d >= 0; d--) {
        if (++oidx[d] < g->out[d]) break;
        oidx[d] = 0;
      }
    }
  }
}

/* Zero points: x_zp a scalar; w_zp a scalar or one per output channel. */
static qc_status int_conv(const qc_kctx *k, const qc_tensor *x, const qc_tensor *xzp,
                          const qc_tensor *w, const qc_tensor *wzp, qc_conv_geom *g, int64_t **y,
                          size_t *ybytes, int64_t *out_dims) {
  QC_RETURN_IF_ERROR(qc_k_conv_geom(k, x, w, g));
  if (xzp && qc_tensor_numel(xzp) != 1) return qc_k_error(k, "x_zero_point must be a scalar");
  if (wzp && qc_tensor_numel(wzp) != 1 && qc_tensor_numel(wzp) != g->c_out)
    return qc_k_error(k, "w_zero_point must be a scalar or have one value per output channel");
  int64_t nx = qc_tensor_numel(x), nw = qc_tensor_numel(w);
  size_t xb = sizeof(int32_t) * (size_t)(nx ? nx : 1), wb = sizeof(int32_t) * (size_t)(nw ? nw : 1);
  int32_t *xv = qc_k_alloc(k, xb), *wv = qc_k_alloc(k, wb);
  int64_t out_sp = 1;
  for (int32_t d = 0; d < g->nsp; d++) out_sp *= g->out[d];
  int64_t ny = g->batch * g->c_out * out_sp;
  *ybytes = sizeof(int64_t) * (size_t)(ny ? ny : 1);
  *y = qc_k_alloc(k, *ybytes);
  if (!xv || !wv || !*y) {
    if (xv) qc_k_free(k, xv, xb);
    if (wv) qc_k_free(k, wv, wb);
    if (*y) qc_k_free(k, *y, *ybytes);
    return qc_k_error(k, "out of memory");
  }
  int64_t xz = xzp ? scalar_i(xzp, 0) : 0;
  for (int64_t i = 0; i < nx; i++) xv[i] = (int32_t)(scalar_i(x, (size_t)i) - xz);
  int64_t per_m = nw / (g->c_out ? g->c_out : 1);
  for (int64_t i = 0; i < nw; i++) {
    int64_t wz = wzp ? scalar_i(wzp, qc_tensor_numel(wzp) == 1 ? 0 : (size_t)(i / per_m)) : 0;
    wv[i] = (int32_t)(scalar_i(w, (size_t)i) - wz);
  }
  iconv_ctx c = {g, xv, wv, *y, out_sp};
  qc_k_parallel_for(k, g->batch * g->c_out, 1, iconv_chunk, &c);
  qc_k_free(k, xv, xb);
  qc_k_free(k, wv, wb);
  out_dims[0] = g->batch;
  out_dims[1] = g->c_out;
  for (int32_t d = 0; d < g->nsp; d++) out_dims[2 + d] = g->out[d];
  return QC_OK;
}

static qc_status k_conv_integer(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0), *w = qc_k_in(k, 1);
  if (!x || !w) return qc_k_error(k, "x and w are required");
  qc_conv_geom g;
  int64_t *acc, dims[QC_MAX_RANK];
  size_t ab;
  QC_RETURN_IF_ERROR(int_conv(k, x, qc_k_in(k, 2), w, qc_k_in(k, 3), &g, &acc, &ab, dims));
  qc_tensor *y;
  qc_status s = qc_k_out(k, 0, QC_I32, g.nsp + 2, dims, &y);
  if (!s) {
    int32_t *yd = qc_tensor_data(y);
    int64_t n = qc_tensor_numel(y);
    for (int64_t i = 0; i < n; i++) yd[i] = (int32_t)(uint32_t)(uint64_t)acc[i];
  }
  qc_k_free(k, acc, ab);
  return s;
}

static qc_status k_qlinear_conv(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0), *xs = qc_k_in(k, 1), *xzp = qc_k_in(k, 2);
  const qc_tensor *w = qc_k_in(k, 3), *ws = qc_k_in(k, 4), *wzp = qc_k_in(k, 5);
  const qc_tensor *ys = qc_k_in(k, 6), *yzp = qc_k_in(k, 7), *bias = qc_k_in(k, 8);
  if (!x || !xs || !w || !ws || !ys) return qc_k_error(k, "missing inputs");
  qc_conv_geom g;
  int64_t *acc, dims[QC_MAX_RANK];
  size_t ab;
  QC_RETURN_IF_ERROR(int_conv(k, x, xzp, w, wzp, &g, &acc, &ab, dims));
  qc_status s = QC_OK;
  if (qc_tensor_numel(ws) != 1 && qc_tensor_numel(ws) != g.c_out)
    s = qc_k_error(k, "w_scale must be a scalar or have one value per output channel");
  if (!s && bias && qc_tensor_numel(bias) != g.c_out)
    s = qc_k_error(k, "B must have one value per output channel");
  qc_dtype odt = yzp ? yzp->dtype : x->dtype;
  if (!s && !is_8bit_int(odt)) s = qc_k_error(k, "output must be int8 or uint8");
  qc_tensor *y = NULL;
  if (!s) s = qc_k_out(k, 0, odt, g.nsp + 2, dims, &y);
  if (!s) {
    int64_t n = qc_tensor_numel(y), sp = g.batch > 0 && g.c_out > 0 ? n / (g.batch * g.c_out) : 1;
    void *yd = qc_tensor_data(y);
    for (int64_t i = 0; i < n; i++) {
      int64_t m = (i / sp) % g.c_out;
      int64_t v = (int32_t)(uint32_t)(uint64_t)(acc[i] + (bias ? scalar_i(bias, (size_t)m) : 0));
      double mult = requant_mult(xs, 0, ws, vec_index(ws, m), ys);
      store_quant(odt, yd, (size_t)i, (double)v * mult, yzp);
    }
  }
  qc_k_free(k, acc, ab);
  return s;
}

/* ---- com.microsoft: integer matmuls with float outputs ------------------------------------------ */

/* Y = (A - azp)(B - bzp) * a_scale * b_scale[n] + bias[n], in float32 as ONNX Runtime. */
static qc_status int_matmul_to_float(qc_kctx *k, const qc_tensor *a, const qc_tensor *azp,
                                     const qc_tensor *b, const qc_tensor *bzp, float a_scale,
                                     const qc_tensor *bs, const qc_tensor *bias, qc_dtype odt) {
  mm_plan p;
  int64_t *c;
  size_t cb;
  QC_RETURN_IF_ERROR(int_matmul(k, a, azp, b, bzp, &p, &c, &cb));
  qc_status s = check_vec_param(k, bs, p.N, "b_scale");
  if (!s && bias && qc_tensor_numel(bias) != p.N) s = qc_k_error(k, "bias must have N elements");
  qc_tensor *y = NULL;
  if (!s) s = qc_k_out(k, 0, odt, p.rank, p.dims, &y);
  if (!s) {
    int64_t n = qc_tensor_numel(y);
    qc_acc ay = qc_acc_of(odt);
    for (int64_t i = 0; i < n; i++) {
      int64_t col = i % p.N;
      float v = (float)c[i] * (a_scale * (float)scalar_f(bs, vec_index(bs, col)));
      if (bias) v += (float)scalar_f(bias, (size_t)col);
      ay.setf(odt, qc_tensor_data(y), (size_t)i, v);
    }
  }
  qc_k_free(k, c, cb);
  return s;
}

static qc_status k_ms_matmul_integer_to_float(qc_kctx *k) {
  const qc_tensor *a = qc_k_in(k, 0), *b = qc_k_in(k, 1), *as = qc_k_in(k, 2), *bs = qc_k_in(k, 3);
  if (!a || !b || !as || !bs) return qc_k_error(k, "missing inputs");
  if (qc_tensor_numel(as) != 1) return qc_k_error(k, "a_scale must be a scalar");
  return int_matmul_to_float(k, a, qc_k_in(k, 4), b, qc_k_in(k, 5), (float)scalar_f(as, 0), bs,
                             qc_k_in(k, 6), as->dtype);
}

/* A is quantized to uint8 per tensor with DynamicQuantizeLinear's parameters. */
static qc_status k_ms_dynamic_quantize_matmul(qc_kctx *k) {
  const qc_tensor *a = qc_k_in(k, 0), *b = qc_k_in(k, 1), *bs = qc_k_in(k, 2);
  if (!a || !b || !bs) return qc_k_error(k, "missing inputs");
  float s;
  uint8_t zp;
  dynamic_params(a, &s, &zp);
  qc_tensor aq, azp;
  QC_RETURN_IF_ERROR(qc_tensor_alloc(&aq, k->alloc, QC_U8, a->rank, a->dims));
  qc_status st = qc_tensor_alloc(&azp, k->alloc, QC_U8, 0, NULL);
  if (st) {
    qc_tensor_release(&aq);
    return st;
  }
  *(uint8_t *)qc_tensor_data(&azp) = zp;
  int64_t n = qc_tensor_numel(a);
  uint8_t *q = qc_tensor_data(&aq);
  for (int64_t i = 0; i < n; i++) {
    float v = (float)scalar_f(a, (size_t)i) / s;
    q[i] = (uint8_t)qc_int_saturate(QC_U8, sat_round(QC_I32, v) + zp);
  }
  st = int_matmul_to_float(k, &aq, &azp, b, qc_k_in(k, 3), s, bs, qc_k_in(k, 4), a->dtype);
  qc_tensor_release(&aq);
  qc_tensor_release(&azp);
  return st;
}

/* QGemm: Y = alpha * a_scale * b_scale[n] * ((A - azp)(B - bzp) + C), optionally quantized. */
static qc_status k_ms_qgemm(qc_kctx *k) {
  const qc_tensor *a = qc_k_in(k, 0), *as = qc_k_in(k, 1), *azp = qc_k_in(k, 2);
  const qc_tensor *b = qc_k_in(k, 3), *bs = qc_k_in(k, 4), *bzp = qc_k_in(k, 5);
  const qc_tensor *cc = qc_k_in(k, 6), *ys = qc_k_in(k, 7), *yzp = qc_k_in(k, 8);
  if (!a || !as || !b || !bs) return qc_k_error(k, "missing inputs");
  if (a->rank != 2 || b->rank != 2) return qc_k_error(k, "A and B must be 2-D");
  bool ta = qc_k_int(k, "transA", 0) != 0, tb = qc_k_int(k, "transB", 0) != 0;
  int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
  int64_t Kb = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
  if (K != Kb) return qc_k_error(k, "inner dimensions differ");
  QC_RETURN_IF_ERROR(check_vec_param(k, bs, N, "b_scale"));
  QC_RETURN_IF_ERROR(check_vec_param(k, bzp, N, "b_zero_point"));
  int64_t dims[2] = {M, N};
  qc_bcast cb;
  if (cc) {
    int32_t ranks[2] = {2, cc->rank};
    const int64_t *cd[2] = {dims, cc->dims};
    if (!qc_bcast_init(&cb, 2, ranks, cd) || cb.numel != M * N)
      return qc_k_error(k, "C does not broadcast to [M, N]");
  }
  qc_dtype odt = ys ? (yzp ? yzp->dtype : QC_U8) : QC_F32;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, odt, 2, dims, &y));
  double alpha = qc_k_float(k, "alpha", 1.0);
  int64_t az = azp ? scalar_i(azp, 0) : 0;
  void *yd = qc_tensor_data(y);
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) {
      int64_t acc = 0;
      int64_t bz = bzp ? scalar_i(bzp, vec_index(bzp, n)) : 0;
      for (int64_t kk = 0; kk < K; kk++) {
        int64_t av = scalar_i(a, (size_t)(ta ? kk * M + m : m * K + kk)) - az;
        int64_t bv = scalar_i(b, (size_t)(tb ? n * K + kk : kk * N + n)) - bz;
        acc += av * bv;
      }
      if (cc) {
        int64_t off[2];
        qc_bcast_offsets(&cb, m * N + n, off);
        acc += scalar_i(cc, (size_t)off[1]);
      }
      float scale = (float)alpha * (float)scalar_f(as, 0) * (float)scalar_f(bs, vec_index(bs, n));
      float v = (float)acc * scale;
      size_t i = (size_t)(m * N + n);
      if (ys) store_quant(odt, yd, i, (double)(v / (float)scalar_f(ys, 0)), yzp);
      else ((float *)yd)[i] = v;
    }
  return QC_OK;
}

/* ---- com.microsoft: quantized elementwise ops ---------------------------------------------------- */

typedef struct qparams {
  float scale;
  int32_t zp;
} qparams;

static qc_status read_qparams(const qc_kctx *k, int32_t si, int32_t zi, qparams *q) {
  const qc_tensor *s, *z;
  QC_RETURN_IF_ERROR(scalar_in(k, si, true, &s));
  QC_RETURN_IF_ERROR(scalar_in(k, zi, false, &z));
  q->scale = (float)scalar_f(s, 0);
  q->zp = z ? (int32_t)scalar_i(z, 0) : 0;
  return QC_OK;
}

static inline float deq(int64_t v, const qparams *q) { return (float)(v - q->zp) * q->scale; }

/* MLAS-style requantization: round half to even of v / scale, plus the zero point. */
static inline int64_t req(qc_dtype dt, float v, const qparams *q) {
  return qc_int_saturate(dt, sat_round(QC_I32, v / q->scale) + q->zp);
}

static qc_status qlinear_binary(qc_kctx *k, bool mul) {
  const qc_tensor *a = qc_k_in(k, 0), *b = qc_k_in(k, 3);
  if (!a || !b) return qc_k_error(k, "A and B are required");
  if (a->dtype != b->dtype || !is_8bit_int(a->dtype))
    return qc_k_error(k, "A and B must both be int8 or uint8");
  qparams pa, pb, pc;
  QC_RETURN_IF_ERROR(read_qparams(k, 1, 2, &pa));
  QC_RETURN_IF_ERROR(read_qparams(k, 4, 5, &pb));
  QC_RETURN_IF_ERROR(read_qparams(k, 6, 7, &pc));
  qc_bcast bc;
  const qc_tensor *xs[2] = {a, b};
  QC_RETURN_IF_ERROR(qc_k_bcast(k, 2, xs, &bc));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, a->dtype, bc.rank, bc.dims, &y));
  void *yd = qc_tensor_data(y);
  for (int64_t i = 0; i < bc.numel; i++) {
    int64_t off[2];
    qc_bcast_offsets(&bc, i, off);
    float va = deq(scalar_i(a, (size_t)off[0]), &pa), vb = deq(scalar_i(b, (size_t)off[1]), &pb);
    qc_elem_set_i64(a->dtype, yd, (size_t)i, req(a->dtype, mul ? va * vb : va + vb, &pc));
  }
  return QC_OK;
}
static qc_status k_ms_qlinear_add(qc_kctx *k) { return qlinear_binary(k, false); }
static qc_status k_ms_qlinear_mul(qc_kctx *k) { return qlinear_binary(k, true); }

static qc_status k_ms_qlinear_sigmoid(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x || !is_8bit_int(x->dtype)) return qc_k_error(k, "X must be int8 or uint8");
  qparams px, py;
  QC_RETURN_IF_ERROR(read_qparams(k, 1, 2, &px));
  QC_RETURN_IF_ERROR(read_qparams(k, 3, 4, &py));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, x, &y));
  int64_t n = qc_tensor_numel(x);
  for (int64_t i = 0; i < n; i++) {
    float v = deq(scalar_i(x, (size_t)i), &px);
    float s = 1.0f / (1.0f + expf(-v));
    qc_elem_set_i64(x->dtype, qc_tensor_data(y), (size_t)i, req(x->dtype, s, &py));
  }
  return QC_OK;
}

/* QLinearConcat(Y_scale, Y_zero_point, (X, X_scale, X_zero_point)...) */
static qc_status k_ms_qlinear_concat(qc_kctx *k) {
  if (k->n_in < 5 || (k->n_in - 2) % 3) return qc_k_error(k, "expects 2 + 3n inputs");
  qparams py;
  QC_RETURN_IF_ERROR(read_qparams(k, 0, 1, &py));
  int32_t n_t = (k->n_in - 2) / 3;
  const qc_tensor *t0 = qc_k_in(k, 2);
  if (!t0) return qc_k_error(k, "input 2 is missing");
  int32_t axis;
  QC_RETURN_IF_ERROR(qc_k_axis(k, qc_k_int(k, "axis", 0), t0->rank, &axis));
  int64_t dims[QC_MAX_RANK];
  memcpy(dims, t0->dims, sizeof(int64_t) * (size_t)t0->rank);
  dims[axis] = 0;
  qc_dtype odt = QC_U8;
  const qc_tensor *zy = qc_k_in(k, 1);
  if (zy) odt = zy->dtype;
  for (int32_t j = 0; j < n_t; j++) {
    const qc_tensor *t = qc_k_in(k, 2 + 3 * j);
    if (!t || t->rank != t0->rank) return qc_k_error(k, "input %d: rank differs", 2 + 3 * j);
    for (int32_t d = 0; d < t->rank; d++)
      if (d != axis && t->dims[d] != t0->dims[d])
        return qc_k_error(k, "input %d: dim %d differs", 2 + 3 * j, d);
    dims[axis] += t->dims[axis];
  }
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, odt, t0->rank, dims, &y));
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < axis; d++) outer *= dims[d];
  for (int32_t d = axis + 1; d < t0->rank; d++) inner *= dims[d];
  int64_t pos = 0;
  void *yd = qc_tensor_data(y);
  for (int32_t j = 0; j < n_t; j++) {
    const qc_tensor *t = qc_k_in(k, 2 + 3 * j);
    qparams px;
    QC_RETURN_IF_ERROR(read_qparams(k, 3 + 3 * j, 4 + 3 * j, &px));
    bool same = px.scale == py.scale && px.zp == py.zp;
    int64_t len = t->dims[axis] * inner;
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < len; i++) {
        int64_t v = scalar_i(t, (size_t)(o * len + i));
        int64_t q = same ? v : req(odt, deq(v, &px), &py);
        qc_elem_set_i64(odt, yd, (size_t)(o * dims[axis] * inner + pos * inner + i), q);
      }
    pos += t->dims[axis];
  }
  return QC_OK;
}

/* Average pooling on dequantized values, then requantization (NCHW or channels_last). */
static qc_status qlinear_pool(qc_kctx *k, bool global) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x || !is_8bit_int(x->dtype)) return qc_k_error(k, "X must be int8 or uint8");
  if (x->rank < 3) return qc_k_error(k, "X must have rank >= 3");
  qparams px, py;
  QC_RETURN_IF_ERROR(read_qparams(k, 1, 2, &px));
  QC_RETURN_IF_ERROR(read_qparams(k, 3, 4, &py));
  bool cl = qc_k_int(k, "channels_last", 0) != 0;
  int32_t nsp = x->rank - 2;
  int64_t N = x->dims[0], C = cl ? x->dims[x->rank - 1] : x->dims[1];
  int64_t in[QC_MAX_RANK], kern[QC_MAX_RANK], str[QC_MAX_RANK], dil[QC_MAX_RANK], out[QC_MAX_RANK];
  int64_t pads[2 * QC_MAX_RANK] = {0};
  for (int32_t d = 0; d < nsp; d++) {
    in[d] = cl ? x->dims[1 + d] : x->dims[2 + d];
    kern[d] = in[d];
    str[d] = dil[d] = 1;
  }
  bool ceil_mode = false, count_pad = false;
  if (!global) {
    int64_t cnt;
    QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "kernel_shape", kern, QC_MAX_RANK, &cnt));
    if (cnt != nsp) return qc_k_error(k, "kernel_shape must have %d values", nsp);
    int64_t v[2 * QC_MAX_RANK];
    QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "strides", v, QC_MAX_RANK, &cnt));
    if (cnt == nsp) memcpy(str, v, sizeof(int64_t) * (size_t)nsp);
    QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "pads", v, 2 * QC_MAX_RANK, &cnt));
    if (cnt == 2 * nsp) memcpy(pads, v, sizeof(int64_t) * (size_t)(2 * nsp));
    const char *ap = qc_k_string(k, "auto_pad", "NOTSET");
    if (!qc_auto_pad(ap, nsp, in, kern, str, dil, pads)) return qc_k_error(k, "unknown auto_pad");
    ceil_mode = qc_k_int(k, "ceil_mode", 0) != 0;
    count_pad = qc_k_int(k, "count_include_pad", 0) != 0;
  }
  int64_t odims[QC_MAX_RANK], out_sp = 1, in_sp = 1;
  for (int32_t d = 0; d < nsp; d++) {
    out[d] = qc_window_out(in[d], kern[d], str[d], 1, pads[d], pads[d + nsp], ceil_mode);
    if (out[d] < 0) return qc_k_error(k, "the window does not fit the input");
    out_sp *= out[d];
    in_sp *= in[d];
  }
  odims[0] = N;
  for (int32_t d = 0; d < nsp; d++) odims[(cl ? 1 : 2) + d] = out[d];
  odims[cl ? x->rank - 1 : 1] = C;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, x->rank, odims, &y));
  void *yd = qc_tensor_data(y);
  for (int64_t b = 0; b < N; b++)
    for (int64_t c = 0; c < C; c++) {
      int64_t oidx[QC_MAX_RANK] = {0};
      for (int64_t o = 0; o < out_sp; o++) {
        float sum = 0;
        int64_t cnt = 0, span = 1;
        for (int32_t d = 0; d < nsp; d++) {
          int64_t s = oidx[d] * str[d] - pads[d], e = s + kern[d];
          int64_t lim = in[d] + pads[d + nsp];
          if (e > lim) e = lim;
          span *= e - s;
        }
        int64_t kidx[QC_MAX_RANK] = {0}, ksz = 1;
        for (int32_t d = 0; d < nsp; d++) ksz *= kern[d];
        for (int64_t kk = 0; kk < ksz; kk++) {
          int64_t sp = 0;
          bool inside = true;
          for (int32_t d = 0; d < nsp && inside; d++) {
            int64_t pos = oidx[d] * str[d] - pads[d] + kidx[d];
            if (pos < 0 || pos >= in[d]) inside = false;
            sp = sp * in[d] + pos;
          }
          if (inside) {
            size_t xi = cl ? (size_t)((b * in_sp + sp) * C + c) : (size_t)((b * C + c) * in_sp + sp);
            sum += deq(scalar_i(x, xi), &px);
            cnt++;
          }
          for (int32_t d = nsp - 1; d >= 0; d--) {
            if (++kidx[d] < kern[d]) break;
            kidx[d] = 0;
          }
        }
        float avg = sum / (float)(count_pad ? span : (cnt ? cnt : 1));
        size_t yi = cl ? (size_t)((b * out_sp + o) * C + c) : (size_t)((b * C + c) * out_sp + o);
        qc_elem_set_i64(x->dtype, yd, yi, req(x->dtype, avg, &py));
        for (int32_t d = nsp - 1; d >= 0; d--) {
          if (++oidx[d] < out[d]) break;
          oidx[d] = 0;
        }
      }
    }
  return QC_OK;
}
static qc_status k_ms_qlinear_average_pool(qc_kctx *k) { return qlinear_pool(k, false); }
static qc_status k_ms_qlinear_global_average_pool(qc_kctx *k) { return qlinear_pool(k, true); }

/* ---- com.microsoft MatMulNBits ---------------------------------------------------------------------- */

typedef struct nbits_ctx {
  int64_t K, N, kb, bs, bits, blob, zp_row;
  bool zp_packed;
  const uint8_t *b;
  const qc_tensor *zp, *sc, *bias;
  float *w, *a;
  void *y;
  qc_acc ay;
} nbits_ctx;

/* Code j of an LSB-first stream of `bits`-bit codes. */
static inline unsigned nbits_code(const uint8_t *p, int64_t j, int64_t bits) {
  size_t bit = (size_t)(j * bits);
  unsigned v = p[bit / 8] >> (bit % 8);
  if (bit % 8 + (size_t)bits > 8) v |= (unsigned)p[bit / 8 + 1] << (8 - bit % 8);
  return v & ((1u << bits) - 1);
}

static void nbits_dequant_rows(void *vc, int64_t begin, int64_t end) {
  const nbits_ctx *c = vc;
  float dflt_zp = (float)(1 << (c->bits - 1));
  for (int64_t n = begin; n < end; n++)
    for (int64_t blk = 0; blk < c->kb; blk++) {
      float s = (float)scalar_f(c->sc, (size_t)(n * c->kb + blk)), z = dflt_zp;
      if (c->zp_packed) z = (float)nbits_code((const uint8_t *)qc_tensor_data(c->zp) + n * c->zp_row, blk, c->bits);
      else if (c->zp) z = (float)scalar_f(c->zp, (size_t)(n * c->kb + blk));
      const uint8_t *blob = c->b + (n * c->kb + blk) * c->blob;
      for (int64_t j = 0; j < c->bs && blk * c->bs + j < c->K; j++)
        c->w[n * c->K + blk * c->bs + j] = ((float)nbits_code(blob, j, c->bits) - z) * s;
    }
}

static void nbits_dots(void *vc, int64_t begin, int64_t end) {
  const nbits_ctx *c = vc;
  for (int64_t t = begin; t < end; t++) {
    int64_t r = t / c->N, n = t % c->N;
    const float *ar = c->a + r * c->K, *wn = c->w + n * c->K;
    double acc = c->bias ? scalar_f(c->bias, (size_t)n) : 0;
    for (int64_t kk = 0; kk < c->K; kk++) acc += (double)ar[kk] * wn[kk];
    c->ay.setf(c->ay.dt, c->y, (size_t)t, acc);
  }
}

/* W[n, k] = (q[n, k] - zp[n, k / bs]) * scale[n, k / bs] with q packed LSB-first in blobs of
 * bs * bits / 8 bytes per (n, block); zero points packed the same way (uint8) or unpacked
 * (A's dtype); default zero point 2^(bits-1). Y = A @ W^T + bias. */
static qc_status k_ms_matmul_nbits(qc_kctx *k) {
  const qc_tensor *a = qc_k_in(k, 0), *b = qc_k_in(k, 1), *sc = qc_k_in(k, 2), *zp = qc_k_in(k, 3);
  const qc_tensor *bias = k->n_in > 5 ? qc_k_in(k, 5) : NULL;
  if (!a || !b || !sc) return qc_k_error(k, "A, B and scales are required");
  if (k->n_in > 4 && qc_k_in(k, 4)) return qc_k_error(k, "g_idx is not supported");
  int64_t K = qc_k_int(k, "K", 0), N = qc_k_int(k, "N", 0), bs = qc_k_int(k, "block_size", 0);
  int64_t bits = qc_k_int(k, "bits", 4);
  if (qc_k_int(k, "weight_prepacked", 0)) return qc_k_error(k, "prepacked weights are not supported");
  if (bits < 2 || bits > 8 || bs < 16 || (bs & (bs - 1)) || K <= 0 || N <= 0)
    return qc_k_error(k, "invalid K/N/bits/block_size");
  if (b->dtype != QC_U8) return qc_k_error(k, "B must be uint8");
  int64_t kb = (K + bs - 1) / bs, blob = bs * bits / 8;
  if (qc_tensor_numel(b) != N * kb * blob)
    return qc_k_error(k, "B has %lld bytes, expected N*k_blocks*blob = %lld",
                      (long long)qc_tensor_numel(b), (long long)(N * kb * blob));
  if (qc_tensor_numel(sc) != N * kb) return qc_k_error(k, "scales must have N*k_blocks elements");
  bool zp_packed = zp && zp->dtype == QC_U8;
  int64_t zp_row = (kb * bits + 7) / 8;
  if (zp && zp_packed && qc_tensor_numel(zp) != N * zp_row)
    return qc_k_error(k, "packed zero_points must have N*ceil(k_blocks*bits/8) bytes");
  if (zp && !zp_packed && qc_tensor_numel(zp) != N * kb)
    return qc_k_error(k, "unpacked zero_points must have N*k_blocks elements");
  if (bias && qc_tensor_numel(bias) != N) return qc_k_error(k, "bias must have N elements");
  if (a->rank < 1 || a->dims[a->rank - 1] != K) return qc_k_error(k, "A's last dim must be K");
  int64_t dims[QC_MAX_RANK];
  memcpy(dims, a->dims, sizeof(int64_t) * (size_t)a->rank);
  dims[a->rank - 1] = N;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, a->dtype, a->rank, dims, &y));
  /* W and A as float32 (W dequantized in float32, as ONNX Runtime does), products summed
   * in double. */
  int64_t rows = qc_tensor_numel(a) / K;
  size_t wbytes = sizeof(float) * (size_t)(N * K), abytes = sizeof(float) * (size_t)(rows * K + 1);
  nbits_ctx c = {K, N, kb, bs, bits, blob, zp_row, zp_packed, qc_tensor_data(b), zp, sc, bias,
                 qc_k_alloc(k, wbytes), qc_k_alloc(k, abytes), qc_tensor_data(y), qc_acc_of(a->dtype)};
  if (!c.w || !c.a) {
    if (c.w) qc_k_free(k, c.w, wbytes);
    if (c.a) qc_k_free(k, c.a, abytes);
    return qc_k_error(k, "out of memory");
  }
  qc_convert_to_f32(a->dtype, qc_tensor_data(a), c.a, (size_t)(rows * K));
  qc_k_parallel_for(k, N, 1, nbits_dequant_rows, &c);
  qc_k_parallel_for(k, rows * N, 64, nbits_dots, &c);
  qc_k_free(k, c.w, wbytes);
  qc_k_free(k, c.a, abytes);
  return QC_OK;
}

const qc_kernel_entry qc_kernels_quant[] = {
    {QC_OP_QuantizeLinear, k_quantize_linear},
    {QC_OP_DequantizeLinear, k_dequantize_linear},
    {QC_OP_DynamicQuantizeLinear, k_dynamic_quantize_linear},
    {QC_OP_MatMulInteger, k_matmul_integer},
    {QC_OP_QLinearMatMul, k_qlinear_matmul},
    {QC_OP_ConvInteger, k_conv_integer},
    {QC_OP_QLinearConv, k_qlinear_conv},
    {QC_OP_MS_MatMulNBits, k_ms_matmul_nbits},
    {QC_OP_MS_QuantizeLinear, k_quantize_linear},
    {QC_OP_MS_DequantizeLinear, k_dequantize_linear},
    {QC_OP_MS_DynamicQuantizeMatMul, k_ms_dynamic_quantize_matmul},
    {QC_OP_MS_MatMulIntegerToFloat, k_ms_matmul_integer_to_float},
    {QC_OP_MS_QLinearAdd, k_ms_qlinear_add},
    {QC_OP_MS_QLinearMul, k_ms_qlinear_mul},
    {QC_OP_MS_QLinearConcat, k_ms_qlinear_concat},
    {QC_OP_MS_QLinearSigmoid, k_ms_qlinear_sigmoid},
    {QC_OP_MS_QLinearAveragePool, k_ms_qlinear_average_pool},
    {QC_OP_MS_QLinearGlobalAveragePool, k_ms_qlinear_global_average_pool},
    {QC_OP_MS_QGemm, k_ms_qgemm},
    {QC_OP_Q_DequantizePacked, k_dequantize_packed},
    {QC_OP_INVALID, NULL},
};
