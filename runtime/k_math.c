/*
 * Interpreter kernels: elementwise math, logic, comparisons and activations.
 *
 * Each op is a set of scalar functions (double for float dtypes, int64 for integers,
 * uint64 where u64 needs it) run by the elementwise engine of kutil.h, which broadcasts,
 * dispatches on dtypes and rounds once into the output dtype. Semantics follow the ONNX
 * spec and its reference implementation (numpy): integer Div truncates toward zero,
 * Mod without fmod takes the sign of the divisor, integers wrap, Max/Min/Clip propagate
 * NaN, Round is half to even.
 */
#include "runtime/kutil.h"

#include <float.h>
#include <math.h>

#define UNUSED(p) (void)(p)

/* ---- scalar functions ------------------------------------------------------------------------- */

/* Wrapping integer arithmetic (numpy's fixed-width ints; avoids C signed overflow). */
static inline int64_t wadd(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }
static inline int64_t wsub(int64_t a, int64_t b) { return (int64_t)((uint64_t)a - (uint64_t)b); }
static inline int64_t wmul(int64_t a, int64_t b) { return (int64_t)((uint64_t)a * (uint64_t)b); }

#define F1(name, expr)                                                                            \
  static double f_##name(double x, const void *p) {                                              \
    UNUSED(p);                                                                                    \
    return (expr);                                                                                \
  }
#define I1(name, expr)                                                                            \
  static int64_t i_##name(int64_t x, const void *p) {                                            \
    UNUSED(p);                                                                                    \
    return (expr);                                                                                \
  }
#define F2(name, expr)                                                                            \
  static double f_##name(double a, double b, const void *p) {                                    \
    UNUSED(p);                                                                                    \
    return (expr);                                                                                \
  }
#define I2(name, expr)                                                                            \
  static int64_t i_##name(int64_t a, int64_t b, const void *p) {                                 \
    UNUSED(p);                                                                                    \
    return (expr);                                                                                \
  }
#define U2(name, expr)                                                                            \
  static uint64_t u_##name(uint64_t a, uint64_t b, const void *p) {                              \
    UNUSED(p);                                                                                    \
    return (expr);                                                                                \
  }
#define G2(name, expr)                                                                            \
  static float g_##name(float a, float b, const void *p) {                                       \
    UNUSED(p);                                                                                    \
    return (expr);                                                                                \
  }

/* binary arithmetic */
F2(add, a + b)
I2(add, wadd(a, b))
G2(add, a + b)
F2(sub, a - b)
I2(sub, wsub(a, b))
G2(sub, a - b)
F2(mul, a *b)
I2(mul, wmul(a, b))
G2(mul, a *b)
F2(div, a / b)
G2(div, a / b)
/* Integer division truncates toward zero (C); x/0 is undefined in ONNX: 0 here. */
I2(div, b == 0 ? 0 : (b == -1 ? wsub(0, a) : a / b))
U2(div, b == 0 ? 0 : a / b)

static double f_max(double a, double b, const void *p) {
  UNUSED(p);
  if (isnan(a) || isnan(b)) return NAN;
  return a > b ? a : b;
}
static double f_min(double a, double b, const void *p) {
  UNUSED(p);
  if (isnan(a) || isnan(b)) return NAN;
  return a < b ? a : b;
}
I2(max, a > b ? a : b)
I2(min, a < b ? a : b)
U2(max, a > b ? a : b)
U2(min, a < b ? a : b)

/* Mod: fmod=1 is C's fmod/% (sign of the dividend); fmod=0 is Python's mod (sign of
 * the divisor). Division by zero gives 0, as numpy does for integers. */
typedef struct mod_p {
  bool fmod;
} mod_p;
static double f_mod(double a, double b, const void *p) {
  const mod_p *m = p;
  double r = fmod(a, b);
  if (!m->fmod) {
    if (r != 0 && ((r < 0) != (b < 0))) r += b;
    if (isnan(r)) r = 0; /* the reference's nan_to_num */
  }
  return r;
}
static int64_t i_mod(int64_t a, int64_t b, const void *p) {
  const mod_p *m = p;
  if (b == 0) return 0;
  if (b == -1) return 0;
  int64_t r = a % b;
  if (!m->fmod && r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}
U2(mod, b == 0 ? 0 : a % b)

/* Pow: float bases in double; integer bases with integer exponents exactly (wrapping);
 * an integer base with a float exponent is computed in double and truncated (numpy's
 * power followed by astype). */
F2(pow, pow(a, b))
static int64_t i_pow(int64_t a, int64_t b, const void *p) {
  UNUSED(p);
  if (b < 0) return a == 1 ? 1 : a == -1 ? ((b & 1) ? -1 : 1) : 0;
  int64_t r = 1;
  while (b) {
    if (b & 1) r = wmul(r, a);
    a = wmul(a, a);
    b >>= 1;
  }
  return r;
}

/* bitwise and logical */
I2(and, a & b)
I2(or, a | b)
I2(xor, a ^ b)
I2(land, (a != 0) & (b != 0))
I2(lor, (a != 0) | (b != 0))
I2(lxor, (a != 0) ^ (b != 0))
typedef struct shift_p {
  bool left;
} shift_p;
static uint64_t u_shift(uint64_t a, uint64_t b, const void *p) {
  const shift_p *s = p;
  if (b >= 64) return 0;
  return s->left ? a << b : a >> b;
}
static int64_t i_shift(int64_t a, int64_t b, const void *p) {
  /* Only unsigned types reach here (BitShift is defined for uint8..uint64). */
  return (int64_t)u_shift((uint64_t)a, (uint64_t)b, p);
}

/* comparisons: results 0/1, stored into bool */
F2(eq, a == b)
I2(eq, a == b)
F2(gt, a > b)
I2(gt, a > b)
U2(gt, a > b)
F2(ge, a >= b)
I2(ge, a >= b)
U2(ge, a >= b)
F2(lt, a < b)
I2(lt, a < b)
U2(lt, a < b)
F2(le, a <= b)
I2(le, a <= b)
U2(le, a <= b)

/* PRelu */
F2(prelu, a > 0 ? a : a * b)
I2(prelu, a > 0 ? a : wmul(a, b))

/* unary */
F1(id, x)
I1(id, x)
F1(neg, -x)
I1(neg, wsub(0, x))
F1(abs, fabs(x))
I1(abs, x < 0 ? wsub(0, x) : x)
F1(sqrt, sqrt(x))
F1(exp, exp(x))
F1(log, log(x))
F1(recip, 1.0 / x)
F1(floor, floor(x))
F1(ceil, ceil(x))
F1(round, qc_round(x, 0))
F1(sign, isnan(x) ? x : (double)((x > 0) - (x < 0)))
I1(sign, (x > 0) - (x < 0))
F1(erf, erf(x))
F1(sin, sin(x))
F1(cos, cos(x))
F1(tan, tan(x))
F1(asin, asin(x))
F1(acos, acos(x))
F1(atan, atan(x))
F1(sinh, sinh(x))
F1(cosh, cosh(x))
F1(tanh, tanh(x))
F1(asinh, asinh(x))
F1(acosh, acosh(x))
F1(atanh, atanh(x))
I1(not, x == 0)
I1(bnot, ~x)
F1(isnan, isnan(x) ? 1.0 : 0.0)
F1(relu, x < 0 ? 0.0 : x)
I1(relu, x < 0 ? 0 : x)
F1(sigmoid, x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)))
F1(softsign, x / (1.0 + fabs(x)))
F1(softplus, x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)))
F1(hardswish, x *fmax(0.0, fmin(1.0, x / 6.0 + 0.5)))
F1(mish, x *tanh(x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))))
F1(gelu, 0.5 * x * (1.0 + erf(x / sqrt(2.0))))
F1(gelu_tanh, 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))))

static float g_relu(float x, const void *p) {
  UNUSED(p);
  return x < 0 ? 0.0f : x;
}

/* activations with attributes */
typedef struct act_p {
  double alpha, beta, gamma;
  int detect_neg, detect_pos;
} act_p;
static double f_leakyrelu(double x, const void *p) {
  const act_p *a = p;
  return x >= 0 ? x : a->alpha * x;
}
static double f_elu(double x, const void *p) {
  const act_p *a = p;
  return x > 0 ? x : a->alpha * expm1(x);
}
static double f_selu(double x, const void *p) {
  const act_p *a = p;
  return x > 0 ? a->gamma * x : a->gamma * (a->alpha * exp(x) - a->alpha);
}
static double f_celu(double x, const void *p) {
  const act_p *a = p;
  return fmax(0.0, x) + fmin(0.0, a->alpha * expm1(x / a->alpha));
}
static double f_hardsigmoid(double x, const void *p) {
  const act_p *a = p;
  return fmax(0.0, fmin(1.0, a->alpha * x + a->beta));
}
static double f_thresholdedrelu(double x, const void *p) {
  const act_p *a = p;
  return x > a->alpha ? x : 0.0;
}
static double f_swish(double x, const void *p) {
  const act_p *a = p;
  return x * f_sigmoid(a->alpha * x, NULL);
}
/* Shrink: alpha = lambd, beta = bias. Integer inputs compute in double and truncate. */
static double f_shrink(double x, const void *p) {
  const act_p *a = p;
  return x < -a->alpha ? x + a->beta : x > a->alpha ? x - a->beta : 0.0;
}
static int64_t i_shrink(int64_t x, const void *p) {
  return (int64_t)f_shrink((double)x, p);
}
static double f_isinf(double x, const void *p) {
  const act_p *a = p;
  return isinf(x) && ((x > 0 && a->detect_pos) || (x < 0 && a->detect_neg)) ? 1.0 : 0.0;
}
static int64_t i_zero(int64_t x, const void *p) {
  UNUSED(x);
  UNUSED(p);
  return 0;
}

/* Clip: y = min(max(x, lo), hi); NaN stays NaN. */
typedef struct clip_p {
  bool has_lo, has_hi;
  double flo, fhi;
  int64_t ilo, ihi;
  uint64_t ulo, uhi;
} clip_p;
static double f_clip(double x, const void *p) {
  const clip_p *c = p;
  if (isnan(x)) return x;
  if (c->has_lo && x < c->flo) x = c->flo;
  if (c->has_hi && x > c->fhi) x = c->fhi;
  return x;
}
static int64_t i_clip(int64_t x, const void *p) {
  const clip_p *c = p;
  if (c->has_lo && x < c->ilo) x = c->ilo;
  if (c->has_hi && x > c->ihi) x = c->ihi;
  return x;
}
static uint64_t u_clip(uint64_t x, const void *p) {
  const clip_p *c = p;
  if (c->has_lo && x < c->ulo) x = c->ulo;
  if (c->has_hi && x > c->uhi) x = c->uhi;
  return x;
}

/* ---- op tables -------------------------------------------------------------------------------- */

static const qc_ew2 OP_ADD = {.f = f_add, .i = i_add, .f32 = g_add};
static const qc_ew2 OP_SUB = {.f = f_sub, .i = i_sub, .f32 = g_sub};
static const qc_ew2 OP_MUL = {.f = f_mul, .i = i_mul, .f32 = g_mul};
static const qc_ew2 OP_DIV = {.f = f_div, .i = i_div, .u = u_div, .f32 = g_div};
static const qc_ew2 OP_MAX = {.f = f_max, .i = i_max, .u = u_max};
static const qc_ew2 OP_MIN = {.f = f_min, .i = i_min, .u = u_min};
static const qc_ew2 OP_MOD = {.f = f_mod, .i = i_mod, .u = u_mod};
static const qc_ew2 OP_POW = {.f = f_pow, .i = i_pow};
static const qc_ew2 OP_BAND = {.i = i_and};
static const qc_ew2 OP_BOR = {.i = i_or};
static const qc_ew2 OP_BXOR = {.i = i_xor};
static const qc_ew2 OP_LAND = {.i = i_land};
static const qc_ew2 OP_LOR = {.i = i_lor};
static const qc_ew2 OP_LXOR = {.i = i_lxor};
static const qc_ew2 OP_SHIFT = {.i = i_shift, .u = u_shift};
static const qc_ew2 OP_EQ = {.f = f_eq, .i = i_eq};
static const qc_ew2 OP_GT = {.f = f_gt, .i = i_gt, .u = u_gt};
static const qc_ew2 OP_GE = {.f = f_ge, .i = i_ge, .u = u_ge};
static const qc_ew2 OP_LT = {.f = f_lt, .i = i_lt, .u = u_lt};
static const qc_ew2 OP_LE = {.f = f_le, .i = i_le, .u = u_le};
static const qc_ew2 OP_PRELU = {.f = f_prelu, .i = i_prelu};

static const qc_ew1 OP_ID = {.f = f_id, .i = i_id};

/* ---- kernels ---------------------------------------------------------------------------------- */

static qc_status binary(qc_kctx *k, const qc_ew2 *op, const void *p, qc_dtype out_dt) {
  return qc_k_ew2(k, op, p, qc_k_in(k, 0), qc_k_in(k, 1), out_dt, 0);
}

#define BINARY_KERNEL(name, op)                                                                   \
  static qc_status k_##name(qc_kctx *k) { return binary(k, &op, NULL, QC_DT_UNDEFINED); }
BINARY_KERNEL(add, OP_ADD)
BINARY_KERNEL(sub, OP_SUB)
BINARY_KERNEL(mul, OP_MUL)
BINARY_KERNEL(div, OP_DIV)
BINARY_KERNEL(pow, OP_POW)
BINARY_KERNEL(band, OP_BAND)
BINARY_KERNEL(bor, OP_BOR)
BINARY_KERNEL(bxor, OP_BXOR)
BINARY_KERNEL(prelu, OP_PRELU)

static qc_status k_and(qc_kctx *k) { return binary(k, &OP_LAND, NULL, QC_BOOL); }
static qc_status k_or(qc_kctx *k) { return binary(k, &OP_LOR, NULL, QC_BOOL); }
static qc_status k_xor(qc_kctx *k) { return binary(k, &OP_LXOR, NULL, QC_BOOL); }

static qc_status k_mod(qc_kctx *k) {
  mod_p p = {qc_k_int(k, "fmod", 0) != 0};
  return binary(k, &OP_MOD, &p, QC_DT_UNDEFINED);
}

static qc_status k_bitshift(qc_kctx *k) {
  const char *dir = qc_k_string(k, "direction", "");
  shift_p p;
  if (strcmp(dir, "LEFT") == 0) p.left = true;
  else if (strcmp(dir, "RIGHT") == 0) p.left = false;
  else return qc_k_error(k, "direction must be LEFT or RIGHT, got '%s'", dir);
  return binary(k, &OP_SHIFT, &p, QC_DT_UNDEFINED);
}

/* Comparisons; Equal also compares strings. */
static qc_status compare(qc_kctx *k, const qc_ew2 *op) {
  const qc_tensor *a = qc_k_in(k, 0), *b = qc_k_in(k, 1);
  if (a && b && a->dtype == QC_STRING && b->dtype == QC_STRING && op == &OP_EQ) {
    qc_bcast bc;
    const qc_tensor *xs[2] = {a, b};
    QC_RETURN_IF_ERROR(qc_k_bcast(k, 2, xs, &bc));
    qc_tensor *y;
    QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_BOOL, bc.rank, bc.dims, &y));
    uint8_t *o = qc_tensor_data(y);
    for (int64_t i = 0; i < bc.numel; i++) {
      int64_t off[2];
      qc_bcast_offsets(&bc, i, off);
      o[i] = strcmp(qc_string_at(a, (size_t)off[0]), qc_string_at(b, (size_t)off[1])) == 0;
    }
    return QC_OK;
  }
  return binary(k, op, NULL, QC_BOOL);
}
static qc_status k_equal(qc_kctx *k) { return compare(k, &OP_EQ); }
static qc_status k_greater(qc_kctx *k) { return compare(k, &OP_GT); }
static qc_status k_greater_eq(qc_kctx *k) { return compare(k, &OP_GE); }
static qc_status k_less(qc_kctx *k) { return compare(k, &OP_LT); }
static qc_status k_less_eq(qc_kctx *k) { return compare(k, &OP_LE); }

/* Variadic Sum/Max/Min/Mean: fold left into the broadcast output, as the reference does
 * (so f16 sums round after each step, like numpy). */
static qc_status variadic(qc_kctx *k, const qc_ew2 *op, bool mean) {
  int32_t n = k->n_in;
  if (n < 1) return qc_k_error(k, "expects at least one input");
  int32_t r = 0;
  int64_t d[QC_MAX_RANK];
  for (int32_t i = 0; i < n; i++) {
    const qc_tensor *t = qc_k_in(k, i);
    if (!t) return qc_k_error(k, "input %d is missing", i);
    if (!qc_broadcast_dims(r, d, t->rank, t->dims, &r, d))
      return qc_k_error(k, "input %d does not broadcast with the others", i);
  }
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, qc_k_in(k, 0)->dtype, r, d, &y));
  if (n == 1) QC_RETURN_IF_ERROR(qc_ew1_into(k, &OP_ID, NULL, qc_k_in(k, 0), y));
  else QC_RETURN_IF_ERROR(qc_ew2_into(k, op, NULL, qc_k_in(k, 0), qc_k_in(k, 1), y));
  for (int32_t i = 2; i < n; i++) QC_RETURN_IF_ERROR(qc_ew2_into(k, op, NULL, y, qc_k_in(k, i), y));
  if (mean) {
    qc_tensor cnt;
    QC_RETURN_IF_ERROR(qc_tensor_alloc(&cnt, k->alloc, QC_F64, 0, NULL));
    *(double *)qc_tensor_data(&cnt) = n;
    qc_status s = qc_ew2_into(k, &OP_DIV, NULL, y, &cnt, y);
    qc_tensor_release(&cnt);
    QC_RETURN_IF_ERROR(s);
  }
  return QC_OK;
}
static qc_status k_sum(qc_kctx *k) { return variadic(k, &OP_ADD, false); }
static qc_status k_mean(qc_kctx *k) { return variadic(k, &OP_ADD, true); }
static qc_status k_max(qc_kctx *k) { return variadic(k, &OP_MAX, false); }
static qc_status k_min(qc_kctx *k) { return variadic(k, &OP_MIN, false); }

/* Unary kernels. */
#define UNARY_F(name, fn)                                                                         \
  static qc_status k_##name(qc_kctx *k) {                                                        \
    static const qc_ew1 op = {.f = fn};                                                          \
    return qc_k_ew1(k, &op, NULL, qc_k_in(k, 0), QC_DT_UNDEFINED, 0);                            \
  }
#define UNARY_FI(name, fn, ifn)                                                                   \
  static qc_status k_##name(qc_kctx *k) {                                                        \
    static const qc_ew1 op = {.f = fn, .i = ifn};                                                \
    return qc_k_ew1(k, &op, NULL, qc_k_in(k, 0), QC_DT_UNDEFINED, 0);                            \
  }
UNARY_FI(neg, f_neg, i_neg)
UNARY_FI(abs, f_abs, i_abs)
UNARY_FI(sign, f_sign, i_sign)
UNARY_F(sqrt, f_sqrt)
UNARY_F(exp, f_exp)
UNARY_F(log, f_log)
UNARY_F(reciprocal, f_recip)
UNARY_F(floor, f_floor)
UNARY_F(ceil, f_ceil)
UNARY_F(round, f_round)
UNARY_F(erf, f_erf)
UNARY_F(sin, f_sin)
UNARY_F(cos, f_cos)
UNARY_F(tan, f_tan)
UNARY_F(asin, f_asin)
UNARY_F(acos, f_acos)
UNARY_F(atan, f_atan)
UNARY_F(sinh, f_sinh)
UNARY_F(cosh, f_cosh)
UNARY_F(tanh, f_tanh)
UNARY_F(asinh, f_asinh)
UNARY_F(acosh, f_acosh)
UNARY_F(atanh, f_atanh)
UNARY_F(sigmoid, f_sigmoid)
UNARY_F(softsign, f_softsign)
UNARY_F(softplus, f_softplus)
UNARY_F(hardswish, f_hardswish)
UNARY_F(mish, f_mish)

static qc_status k_relu(qc_kctx *k) {
  static const qc_ew1 op = {.f = f_relu, .i = i_relu, .f32 = g_relu};
  return qc_k_ew1(k, &op, NULL, qc_k_in(k, 0), QC_DT_UNDEFINED, 0);
}

static qc_status k_not(qc_kctx *k) {
  static const qc_ew1 op = {.i = i_not};
  return qc_k_ew1(k, &op, NULL, qc_k_in(k, 0), QC_BOOL, 0);
}

static qc_status k_bitwise_not(qc_kctx *k) {
  static const qc_ew1 op = {.i = i_bnot};
  return qc_k_ew1(k, &op, NULL, qc_k_in(k, 0), QC_DT_UNDEFINED, 0);
}

static qc_status k_isnan(qc_kctx *k) {
  static const qc_ew1 op = {.f = f_isnan, .i = i_zero};
  return qc_k_ew1(k, &op, NULL, qc_k_in(k, 0), QC_BOOL, 0);
}

static qc_status k_isinf(qc_kctx *k) {
  static const qc_ew1 op = {.f = f_isinf, .i = i_zero};
  act_p p = {0};
  p.detect_neg = (int)qc_k_int(k, "detect_negative", 1);
  p.detect_pos = (int)qc_k_int(k, "detect_positive", 1);
  return qc_k_ew1(k, &op, &p, qc_k_in(k, 0), QC_BOOL, 0);
}

static qc_status k_gelu(qc_kctx *k) {
  static const qc_ew1 exact = {.f = f_gelu}, approx = {.f = f_gelu_tanh};
  const char *a = qc_k_string(k, "approximate", "none");
  const qc_ew1 *op;
  if (strcmp(a, "none") == 0) op = &exact;
  else if (strcmp(a, "tanh") == 0) op = &approx;
  else return qc_k_error(k, "approximate must be 'none' or 'tanh', got '%s'", a);
  return qc_k_ew1(k, op, NULL, qc_k_in(k, 0), QC_DT_UNDEFINED, 0);
}

/* Activations with float attributes. */
static qc_status act(qc_kctx *k, double (*f)(double, const void *),
                     int64_t (*i)(int64_t, const void *), double alpha, double beta,
                     double gamma) {
  qc_ew1 op = {.f = f, .i = i};
  act_p p = {alpha, beta, gamma, 0, 0};
  return qc_k_ew1(k, &op, &p, qc_k_in(k, 0), QC_DT_UNDEFINED, 0);
}
static qc_status k_leakyrelu(qc_kctx *k) {
  return act(k, f_leakyrelu, NULL, qc_k_float(k, "alpha", 0.01), 0, 0);
}
static qc_status k_elu(qc_kctx *k) { return act(k, f_elu, NULL, qc_k_float(k, "alpha", 1.0), 0, 0); }
static qc_status k_selu(qc_kctx *k) {
  return act(k, f_selu, NULL, qc_k_float(k, "alpha", 1.67326319217681884765625), 0,
             qc_k_float(k, "gamma", 1.05070102214813232421875));
}
static qc_status k_celu(qc_kctx *k) { return act(k, f_celu, NULL, qc_k_float(k, "alpha", 1.0), 0, 0); }
static qc_status k_hardsigmoid(qc_kctx *k) {
  return act(k, f_hardsigmoid, NULL, qc_k_float(k, "alpha", 0.2), qc_k_float(k, "beta", 0.5), 0);
}
static qc_status k_thresholdedrelu(qc_kctx *k) {
  return act(k, f_thresholdedrelu, NULL, qc_k_float(k, "alpha", 1.0), 0, 0);
}
static qc_status k_swish(qc_kctx *k) { return act(k, f_swish, NULL, qc_k_float(k, "alpha", 1.0), 0, 0); }
static qc_status k_shrink(qc_kctx *k) {
  return act(k, f_shrink, i_shrink, qc_k_float(k, "lambd", 0.5), qc_k_float(k, "bias", 0.0), 0);
}

/* Clip: bounds are attributes before opset 11, optional scalar inputs from 11 on. */
static qc_status k_clip(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x) return qc_k_error(k, "input 0 is missing");
  clip_p p;
  memset(&p, 0, sizeof p);
  if (qc_k_opset(k) < 11) {
    p.has_lo = p.has_hi = true;
    p.flo = qc_k_float(k, "min", -FLT_MAX);
    p.fhi = qc_k_float(k, "max", FLT_MAX);
  } else {
    for (int32_t j = 1; j <= 2; j++) {
      const qc_tensor *b = qc_k_in(k, j);
      if (!b) continue;
      if (qc_tensor_numel(b) != 1)
        return qc_k_error(k, "input %d: %s must be a scalar", j, j == 1 ? "min" : "max");
      const void *d = qc_tensor_data(b);
      double f = qc_elem_f64(b->dtype, d, 0);
      int64_t i = qc_elem_i64(b->dtype, d, 0);
      if (j == 1) {
        p.has_lo = true;
        p.flo = f;
        p.ilo = i;
        p.ulo = (uint64_t)i;
      } else {
        p.has_hi = true;
        p.fhi = f;
        p.ihi = i;
        p.uhi = (uint64_t)i;
      }
    }
  }
  static const qc_ew1 op = {.f = f_clip, .i = i_clip, .u = u_clip};
  return qc_k_ew1(k, &op, &p, x, QC_DT_UNDEFINED, 0);
}

/* Where: select by element (any dtype, strings included) with three-way broadcasting.
 * Whole-byte elements are copied run by run in parallel; sub-byte and string elements
 * element by element on one thread. */
typedef struct where_ctx {
  const qc_bcast *b;
  const void *c, *x, *y;
  void *o;
  qc_acc ac;
  size_t w; /* bytes per element */
} where_ctx;

static void where_run(void *vc, int64_t o, const int64_t *in, const int64_t *step, int64_t n) {
  const where_ctx *c = vc;
  for (int64_t t = 0; t < n; t++) {
    bool pick = c->ac.geti(c->ac.dt, c->c, (size_t)(in[0] + t * step[0])) != 0;
    const char *src = pick ? (const char *)c->x + c->w * (size_t)(in[1] + t * step[1])
                           : (const char *)c->y + c->w * (size_t)(in[2] + t * step[2]);
    memcpy((char *)c->o + c->w * (size_t)(o + t), src, c->w);
  }
}

static void where_chunk(void *vc, int64_t begin, int64_t end) {
  const where_ctx *c = vc;
  qc_bcast_runs(c->b, begin, end, where_run, vc);
}

static qc_status k_where(qc_kctx *k) {
  const qc_tensor *c = qc_k_in(k, 0), *x = qc_k_in(k, 1), *y = qc_k_in(k, 2);
  if (!c || !x || !y) return qc_k_error(k, "expects 3 inputs");
  if (x->dtype != y->dtype)
    return qc_k_error(k, "X and Y dtypes differ (%s vs %s)", qc_dtype_name(x->dtype),
                      qc_dtype_name(y->dtype));
  if (qc_dtype_is_block(x->dtype)) return qc_k_error(k, "block dtype %s is not supported", qc_dtype_name(x->dtype));
  qc_bcast b;
  const qc_tensor *xs[3] = {c, x, y};
  QC_RETURN_IF_ERROR(qc_k_bcast(k, 3, xs, &b));
  qc_tensor *out;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, b.rank, b.dims, &out));
  const void *cd = qc_tensor_data(c), *xd = qc_tensor_data(x), *yd = qc_tensor_data(y);
  void *od = qc_tensor_data(out);
  qc_acc ac = qc_acc_of(c->dtype);
  unsigned bits = qc_dtype_traits_of(x->dtype)->bits;
  if (x->dtype != QC_STRING && bits >= 8) {
    where_ctx wc = {&b, cd, xd, yd, od, ac, bits / 8};
    qc_k_parallel_for(k, b.numel, 1 << 14, where_chunk, &wc);
    return QC_OK;
  }
  for (int64_t i = 0; i < b.numel; i++) {
    int64_t off[3];
    qc_bcast_offsets(&b, i, off);
    bool pick = ac.geti(ac.dt, cd, (size_t)off[0]) != 0;
    if (x->dtype == QC_STRING)
      QC_RETURN_IF_ERROR(qc_k_set_string(k, out, (size_t)i,
                                         pick ? qc_string_at(x, (size_t)off[1])
                                              : qc_string_at(y, (size_t)off[2]),
                                         -1));
    else
      qc_elem_set_code(x->dtype, od, (size_t)i,
                       pick ? qc_elem_code(x->dtype, xd, (size_t)off[1])
                            : qc_elem_code(x->dtype, yd, (size_t)off[2]));
  }
  return QC_OK;
}

const qc_kernel_entry qc_kernels_math[] = {
    {QC_OP_Add, k_add},
    {QC_OP_Sub, k_sub},
    {QC_OP_Mul, k_mul},
    {QC_OP_Div, k_div},
    {QC_OP_Pow, k_pow},
    {QC_OP_Mod, k_mod},
    {QC_OP_Sum, k_sum},
    {QC_OP_Mean, k_mean},
    {QC_OP_Max, k_max},
    {QC_OP_Min, k_min},
    {QC_OP_And, k_and},
    {QC_OP_Or, k_or},
    {QC_OP_Xor, k_xor},
    {QC_OP_Not, k_not},
    {QC_OP_BitShift, k_bitshift},
    {QC_OP_BitwiseAnd, k_band},
    {QC_OP_BitwiseOr, k_bor},
    {QC_OP_BitwiseXor, k_bxor},
    {QC_OP_BitwiseNot, k_bitwise_not},
    {QC_OP_Equal, k_equal},
    {QC_OP_Greater, k_greater},
    {QC_OP_GreaterOrEqual, k_greater_eq},
    {QC_OP_Less, k_less},
    {QC_OP_LessOrEqual, k_less_eq},
    {QC_OP_Where, k_where},
    {QC_OP_Clip, k_clip},
    {QC_OP_IsNaN, k_isnan},
    {QC_OP_IsInf, k_isinf},
    {QC_OP_PRelu, k_prelu},
    {QC_OP_Neg, k_neg},
    {QC_OP_Abs, k_abs},
    {QC_OP_Sign, k_sign},
    {QC_OP_Sqrt, k_sqrt},
    {QC_OP_Exp, k_exp},
    {QC_OP_Log, k_log},
    {QC_OP_Reciprocal, k_reciprocal},
    {QC_OP_Floor, k_floor},
    {QC_OP_Ceil, k_ceil},
    {QC_OP_Round, k_round},
    {QC_OP_Erf, k_erf},
    {QC_OP_Sin, k_sin},
    {QC_OP_Cos, k_cos},
    {QC_OP_Tan, k_tan},
    {QC_OP_Asin, k_asin},
    {QC_OP_Acos, k_acos},
    {QC_OP_Atan, k_atan},
    {QC_OP_Sinh, k_sinh},
    {QC_OP_Cosh, k_cosh},
    {QC_OP_Tanh, k_tanh},
    {QC_OP_Asinh, k_asinh},
    {QC_OP_Acosh, k_acosh},
    {QC_OP_Atanh, k_atanh},
    {QC_OP_Relu, k_relu},
    {QC_OP_LeakyRelu, k_leakyrelu},
    {QC_OP_Elu, k_elu},
    {QC_OP_Selu, k_selu},
    {QC_OP_Celu, k_celu},
    {QC_OP_Sigmoid, k_sigmoid},
    {QC_OP_HardSigmoid, k_hardsigmoid},
    {QC_OP_HardSwish, k_hardswish},
    {QC_OP_Softplus, k_softplus},
    {QC_OP_Softsign, k_softsign},
    {QC_OP_Gelu, k_gelu},
    {QC_OP_Mish, k_mish},
    {QC_OP_Swish, k_swish},
    {QC_OP_ThresholdedRelu, k_thresholdedrelu},
    {QC_OP_Shrink, k_shrink},
    {QC_OP_INVALID, NULL},
};
