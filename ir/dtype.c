/*
 * The dtype traits table and every element conversion.
 *
 * Float formats are described by (ebits, mbits, bias, nan_rule, signedness) and
 * encoded by one exact routine (float_encode) that works on doubles: every
 * format here has at most 24 significant bits, so scaling by a power of two and
 * rounding to an integer are exact in double arithmetic.
 */
#include "quarc/dtype.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define F QC_KIND_FLOAT
#define I QC_KIND_INT
#define B QC_KIND_BLOCK

/* name, bits, block_elems, block_bytes, kind, signed, ebits, mbits, bias, nan_rule, max,
 * imin, imax, block_elem, block_scale, onnx, safetensors, gguf, quark */
static const qc_dtype_traits TRAITS[QC_DTYPE_COUNT] = {
    [QC_DT_UNDEFINED] = {"undefined", 0, 1, 0, QC_KIND_NONE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                         NULL, -1, NULL},
    [QC_F32] = {"f32", 32, 1, 4, F, 1, 8, 23, 127, QC_NAN_IEEE, FLT_MAX, 0, 0, 0, 0, 1, "F32", 0,
                "float32"},
    [QC_F64] = {"f64", 64, 1, 8, F, 1, 11, 52, 1023, QC_NAN_IEEE, DBL_MAX, 0, 0, 0, 0, 11, "F64",
                28, NULL},
    [QC_F16] = {"f16", 16, 1, 2, F, 1, 5, 10, 15, QC_NAN_IEEE, 65504.0, 0, 0, 0, 0, 10, "F16", 1,
                "float16"},
    [QC_BF16] = {"bf16", 16, 1, 2, F, 1, 8, 7, 127, QC_NAN_IEEE, 3.3895313892515355e38, 0, 0, 0, 0,
                 16, "BF16", 30, "bfloat16"},
    [QC_I64] = {"i64", 64, 1, 8, I, 1, 0, 0, 0, 0, 0, INT64_MIN, INT64_MAX, 0, 0, 7, "I64", 27,
                NULL},
    [QC_I32] = {"i32", 32, 1, 4, I, 1, 0, 0, 0, 0, 0, INT32_MIN, INT32_MAX, 0, 0, 6, "I32", 26,
                "int32"},
    [QC_I16] = {"i16", 16, 1, 2, I, 1, 0, 0, 0, 0, 0, INT16_MIN, INT16_MAX, 0, 0, 5, "I16", 25,
                "int16"},
    [QC_I8] = {"i8", 8, 1, 1, I, 1, 0, 0, 0, 0, 0, INT8_MIN, INT8_MAX, 0, 0, 3, "I8", 24, "int8"},
    [QC_I4] = {"i4", 4, 1, 0, I, 1, 0, 0, 0, 0, 0, -8, 7, 0, 0, 22, NULL, -1, "int4"},
    [QC_I3] = {"i3", 3, 1, 0, I, 1, 0, 0, 0, 0, 0, -4, 3, 0, 0, 0, NULL, -1, "int3"},
    [QC_I2] = {"i2", 2, 1, 0, I, 1, 0, 0, 0, 0, 0, -2, 1, 0, 0, 26, NULL, -1, "int2"},
    [QC_U64] = {"u64", 64, 1, 8, I, 0, 0, 0, 0, 0, 0, 0, UINT64_MAX, 0, 0, 13, "U64", -1, NULL},
    [QC_U32] = {"u32", 32, 1, 4, I, 0, 0, 0, 0, 0, 0, 0, UINT32_MAX, 0, 0, 12, "U32", -1,
                "uint32"},
    [QC_U16] = {"u16", 16, 1, 2, I, 0, 0, 0, 0, 0, 0, 0, UINT16_MAX, 0, 0, 4, "U16", -1,
                "uint16"},
    [QC_U8] = {"u8", 8, 1, 1, I, 0, 0, 0, 0, 0, 0, 0, UINT8_MAX, 0, 0, 2, "U8", -1, "uint8"},
    [QC_U4] = {"u4", 4, 1, 0, I, 0, 0, 0, 0, 0, 0, 0, 15, 0, 0, 21, NULL, -1, "uint4"},
    [QC_U2] = {"u2", 2, 1, 0, I, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 25, NULL, -1, NULL},
    [QC_BOOL] = {"bool", 8, 1, 1, QC_KIND_BOOL, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 9, "BOOL", -1, NULL},
    [QC_F8E4M3FN] = {"f8e4m3fn", 8, 1, 1, F, 1, 4, 3, 7, QC_NAN_FN, 448.0, 0, 0, 0, 0, 17,
                     "F8_E4M3", -1, "fp8_e4m3"},
    [QC_F8E4M3FNUZ] = {"f8e4m3fnuz", 8, 1, 1, F, 1, 4, 3, 8, QC_NAN_FNUZ, 240.0, 0, 0, 0, 0, 18,
                       "F8_E4M3FNUZ", -1, NULL},
    [QC_F8E5M2] = {"f8e5m2", 8, 1, 1, F, 1, 5, 2, 15, QC_NAN_IEEE, 57344.0, 0, 0, 0, 0, 19,
                   "F8_E5M2", -1, "fp8_e5m2"},
    [QC_F8E5M2FNUZ] = {"f8e5m2fnuz", 8, 1, 1, F, 1, 5, 2, 16, QC_NAN_FNUZ, 57344.0, 0, 0, 0, 0, 20,
                       "F8_E5M2FNUZ", -1, NULL},
    [QC_F6E2M3] = {"f6e2m3", 6, 1, 0, F, 1, 2, 3, 1, QC_NAN_NONE, 7.5, 0, 0, 0, 0, 0, "F6_E2M3",
                   -1, "fp6_e2m3"},
    [QC_F6E3M2] = {"f6e3m2", 6, 1, 0, F, 1, 3, 2, 3, QC_NAN_NONE, 28.0, 0, 0, 0, 0, 0, "F6_E3M2",
                   -1, "fp6_e3m2"},
    [QC_F4E2M1] = {"f4e2m1", 4, 1, 0, F, 1, 2, 1, 1, QC_NAN_NONE, 6.0, 0, 0, 0, 0, 23, "F4", -1,
                   "fp4"},
    [QC_E8M0] = {"e8m0", 8, 1, 1, F, 0, 8, 0, 127, QC_NAN_E8M0, 1.7014118346046923e38, 0, 0, 0, 0,
                 24, "F8_E8M0", -1, NULL},
    [QC_E5M3] = {"e5m3", 8, 1, 1, F, 0, 5, 3, 15, QC_NAN_FN, 114688.0, 0, 0, 0, 0, 0, NULL, -1,
                 "fp8_e5m3"},
    [QC_STRING] = {"string", 8 * sizeof(char *), 1, sizeof(char *), QC_KIND_STRING, 0, 0, 0, 0, 0,
                   0, 0, 0, 0, 0, 8, NULL, -1, NULL},
    [QC_C64] = {"c64", 64, 1, 8, QC_KIND_COMPLEX, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, "C64", -1,
                NULL},
    [QC_C128] = {"c128", 128, 1, 16, QC_KIND_COMPLEX, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 15, NULL, -1,
                 NULL},
    [QC_Q4_0] = {"q4_0", 144, 32, 18, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_I4, QC_F16, 0, NULL, 2, NULL},
    [QC_Q4_1] = {"q4_1", 160, 32, 20, B, 0, 0, 0, 0, 0, 0, 0, 0, QC_U4, QC_F16, 0, NULL, 3, NULL},
    [QC_Q5_0] = {"q5_0", 176, 32, 22, B, 1, 0, 0, 0, 0, 0, 0, 0, 0, QC_F16, 0, NULL, 6, NULL},
    [QC_Q5_1] = {"q5_1", 192, 32, 24, B, 0, 0, 0, 0, 0, 0, 0, 0, 0, QC_F16, 0, NULL, 7, NULL},
    [QC_Q8_0] = {"q8_0", 272, 32, 34, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_I8, QC_F16, 0, NULL, 8, NULL},
    [QC_Q8_1] = {"q8_1", 288, 32, 36, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_I8, QC_F16, 0, NULL, 9, NULL},
    [QC_Q2_K] = {"q2_k", 672, 256, 84, B, 0, 0, 0, 0, 0, 0, 0, 0, 0, QC_F16, 0, NULL, 10, NULL},
    [QC_Q3_K] = {"q3_k", 880, 256, 110, B, 1, 0, 0, 0, 0, 0, 0, 0, 0, QC_F16, 0, NULL, 11, NULL},
    [QC_Q4_K] = {"q4_k", 1152, 256, 144, B, 0, 0, 0, 0, 0, 0, 0, 0, 0, QC_F16, 0, NULL, 12, NULL},
    [QC_Q5_K] = {"q5_k", 1408, 256, 176, B, 0, 0, 0, 0, 0, 0, 0, 0, 0, QC_F16, 0, NULL, 13, NULL},
    [QC_Q6_K] = {"q6_k", 1680, 256, 210, B, 1, 0, 0, 0, 0, 0, 0, 0, 0, QC_F16, 0, NULL, 14, NULL},
    [QC_Q8_K] = {"q8_k", 2336, 256, 292, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_I8, QC_F32, 0, NULL, 15,
                 NULL},
    [QC_GGML_MXFP4] = {"ggml_mxfp4", 136, 32, 17, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_F4E2M1, QC_E8M0, 0,
                       NULL, 39, NULL},
    [QC_MXFP4] = {"mxfp4", 136, 32, 17, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_F4E2M1, QC_E8M0, 0, NULL, -1,
                  NULL},
    [QC_MXFP6E2M3] = {"mxfp6e2m3", 200, 32, 25, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_F6E2M3, QC_E8M0, 0,
                      NULL, -1, NULL},
    [QC_MXFP6E3M2] = {"mxfp6e3m2", 200, 32, 25, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_F6E3M2, QC_E8M0, 0,
                      NULL, -1, NULL},
    [QC_MXFP8E4M3] = {"mxfp8e4m3", 264, 32, 33, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_F8E4M3FN, QC_E8M0, 0,
                      NULL, -1, NULL},
    [QC_MXFP8E5M2] = {"mxfp8e5m2", 264, 32, 33, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_F8E5M2, QC_E8M0, 0,
                      NULL, -1, NULL},
    [QC_MXINT8] = {"mxint8", 264, 32, 33, B, 1, 0, 0, 0, 0, 0, 0, 0, QC_I8, QC_E8M0, 0, NULL, -1,
                   NULL},
    [QC_UE4M3] = {"ue4m3", 8, 1, 1, F, 0, 4, 3, 7, QC_NAN_FN, 448.0, 0, 0, 0, 0, 0, NULL, -1,
                  NULL},
};
#undef F
#undef I
#undef B

_Static_assert(sizeof(TRAITS) / sizeof(TRAITS[0]) == QC_DTYPE_COUNT, "one row per dtype");

const qc_dtype_traits *qc_dtype_traits_of(qc_dtype dt) {
  if ((unsigned)dt >= QC_DTYPE_COUNT) return &TRAITS[QC_DT_UNDEFINED];
  return &TRAITS[dt];
}

qc_dtype qc_dtype_from_name(const char *name) {
  for (int i = 1; i < QC_DTYPE_COUNT; i++)
    if (TRAITS[i].name && strcmp(TRAITS[i].name, name) == 0) return (qc_dtype)i;
  return QC_DT_UNDEFINED;
}

qc_dtype qc_dtype_from_onnx(int code) {
  if (code <= 0) return QC_DT_UNDEFINED;
  for (int i = 1; i < QC_DTYPE_COUNT; i++)
    if (TRAITS[i].onnx == code) return (qc_dtype)i;
  return QC_DT_UNDEFINED;
}

qc_dtype qc_dtype_from_safetensors(const char *s) {
  for (int i = 1; i < QC_DTYPE_COUNT; i++)
    if (TRAITS[i].safetensors && strcmp(TRAITS[i].safetensors, s) == 0) return (qc_dtype)i;
  return QC_DT_UNDEFINED;
}

qc_dtype qc_dtype_from_gguf(int t) {
  if (t < 0) return QC_DT_UNDEFINED;
  for (int i = 1; i < QC_DTYPE_COUNT; i++)
    if (TRAITS[i].gguf == t) return (qc_dtype)i;
  return QC_DT_UNDEFINED;
}

qc_dtype qc_dtype_from_quark(const char *s) {
  for (int i = 1; i < QC_DTYPE_COUNT; i++)
    if (TRAITS[i].quark && strcmp(TRAITS[i].quark, s) == 0) return (qc_dtype)i;
  return QC_DT_UNDEFINED;
}

bool qc_dtype_is_float(qc_dtype dt) { return qc_dtype_traits_of(dt)->kind == QC_KIND_FLOAT; }
bool qc_dtype_is_int(qc_dtype dt) { return qc_dtype_traits_of(dt)->kind == QC_KIND_INT; }
bool qc_dtype_is_block(qc_dtype dt) { return qc_dtype_traits_of(dt)->kind == QC_KIND_BLOCK; }

size_t qc_dtype_nbytes(qc_dtype dt, uint64_t n) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  if (t->kind == QC_KIND_BLOCK) {
    uint64_t blocks = (n + t->block_elems - 1) / t->block_elems;
    if (blocks > SIZE_MAX / t->block_bytes) return SIZE_MAX;
    return (size_t)(blocks * t->block_bytes);
  }
  if (t->bits >= 8) {
    if (n > SIZE_MAX / (t->bits / 8)) return SIZE_MAX;
    return (size_t)(n * (t->bits / 8));
  }
  if (n > SIZE_MAX / 8) return SIZE_MAX;
  return (size_t)((n * t->bits + 7) / 8);
}

/* ---- rounding --------------------------------------------------------------------------------- */

double qc_round(double x, unsigned flags) {
  if (flags & QC_ENC_ROUND_FLOOR) return floor(x);
  if (flags & QC_ENC_ROUND_CEIL) return ceil(x);
  if (flags & QC_ENC_ROUND_TRUNC) return trunc(x);
  if (flags & QC_ENC_ROUND_AWAY) return round(x);
  /* Half to even, independent of the FP environment; a zero result keeps x's sign
   * (numpy's round(-0.5) is -0.0). */
  double r = floor(x);
  double d = x - r;
  if (d > 0.5 || (d == 0.5 && fmod(r, 2.0) != 0.0)) r += 1.0;
  return r == 0 ? copysign(0.0, x) : r;
}

/* ---- float encode/decode -------------------------------------------------------------------- */

static inline uint64_t f64_bits(double x) {
  uint64_t b;
  memcpy(&b, &x, 8);
  return b;
}
static inline uint32_t f32_bits(float x) {
  uint32_t b;
  memcpy(&b, &x, 4);
  return b;
}
static inline float bits_f32(uint32_t b) {
  float x;
  memcpy(&x, &b, 4);
  return x;
}

static uint32_t max_code(const qc_dtype_traits *t) {
  uint32_t m = (uint32_t)t->ebits + t->mbits;
  uint32_t all = (1u << m) - 1; /* exponent and mantissa all ones */
  switch (t->nan_rule) {
  case QC_NAN_IEEE: return all - (1u << t->mbits);  /* exponent all ones is Inf/NaN */
  case QC_NAN_FN: return all - 1;                    /* all ones is NaN */
  default: return all;                               /* FNUZ, NONE, E8M0 handled apart */
  }
}

static uint32_t nan_code(const qc_dtype_traits *t, bool neg) {
  uint32_t sign = t->is_signed ? (neg ? 1u : 0u) << (t->ebits + t->mbits) : 0;
  uint32_t emask = ((1u << t->ebits) - 1) << t->mbits;
  switch (t->nan_rule) {
  case QC_NAN_IEEE: return sign | emask | (1u << (t->mbits - 1));
  case QC_NAN_FN: return sign | emask | ((1u << t->mbits) - 1);
  case QC_NAN_FNUZ: return 1u << (t->ebits + t->mbits);
  case QC_NAN_E8M0: return 0xFF;
  default:
    /* fp4/fp6 have no NaN. ONNX's reference (ml_dtypes) and its Cast conformance data
     * encode NaN as the zero of the opposite sign: +NaN -> 0x8 (-0) for fp4. */
    return neg ? 0 : 1u << (t->ebits + t->mbits);
  }
}

/* E8M0 from a float32, as ONNX's to_float8e8m0 does it on the bit pattern: the exponent
 * field of x (sign ignored); "up" adds one when the fraction is non-zero, "nearest" when
 * the fraction is >= 1/2 (a tie rounds up), "down" truncates. Saturation stops at 0xFE. */
static uint32_t e8m0_encode(double x, unsigned flags) {
  float f = (float)x;
  uint32_t b = f32_bits(f);
  uint32_t e = (b >> 23) & 0xFF;
  if (e == 0xFF) return 0xFF;
  uint32_t frac = b & 0x7FFFFF;
  bool up = false;
  if (flags & QC_ENC_ROUND_CEIL) up = frac != 0;
  else if (flags & (QC_ENC_ROUND_FLOOR | QC_ENC_ROUND_TRUNC)) up = false;
  else {
    bool g = (b & 0x400000) != 0, r = (b & 0x200000) != 0, s = (b & 0x1FFFFF) != 0;
    up = g && (r || s || e > 0);
  }
  if (up) {
    if (e == 0xFE && (flags & QC_ENC_SATURATE)) return 0xFE;
    e++;
  }
  return e;
}

uint32_t qc_float_encode(qc_dtype dt, double x, unsigned flags) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  if (dt == QC_F64) return (uint32_t)f64_bits(x); /* callers use qc_elem_set_f64 for f64 */
  if (dt == QC_E8M0) return e8m0_encode(x, flags);
  if (t->kind != QC_KIND_FLOAT) return 0;
  const int M = t->mbits, emin = 1 - t->bias;
  const uint32_t signbit = t->is_signed ? 1u << (t->ebits + M) : 0;
  bool neg = signbit(x) != 0;
  if (isnan(x)) return nan_code(t, neg);
  if (neg && !t->is_signed) return 0; /* unsigned formats: negatives (and -0) -> 0 */
  bool sat = (flags & QC_ENC_SATURATE) || t->nan_rule == QC_NAN_NONE;
  uint32_t sign = neg ? signbit : 0;
  if (isinf(x)) {
    if (sat) return sign | max_code(t);
    if (t->nan_rule == QC_NAN_IEEE) return sign | (((1u << t->ebits) - 1) << M);
    return nan_code(t, neg);
  }
  if (x == 0) {
    if (t->nan_rule == QC_NAN_FNUZ || (flags & QC_ENC_UNSIGNED_ZERO)) return 0;
    return sign;
  }
  int e2;
  frexp(x, &e2);
  int ex = e2 - 1;
  if (ex < emin) ex = emin;
  double q = ldexp(1.0, ex - M);
  double r = qc_round(x / q, flags) * q; /* exact: x/q is a power-of-two scaling */
  double a = fabs(r);
  if (a > t->max_normal) {
    if (sat) return sign | max_code(t);
    if (t->nan_rule == QC_NAN_IEEE) return sign | (((1u << t->ebits) - 1) << M);
    return nan_code(t, neg);
  }
  if (a == 0) {
    if (t->nan_rule == QC_NAN_FNUZ || (flags & QC_ENC_UNSIGNED_ZERO)) return 0;
    return sign;
  }
  frexp(a, &e2);
  int eb = e2 - 1;
  uint32_t expf, mant;
  if (eb < emin) {
    expf = 0;
    mant = (uint32_t)ldexp(a, M - emin);
  } else {
    expf = (uint32_t)(eb + t->bias);
    mant = (uint32_t)(ldexp(a, M - eb) - ldexp(1.0, M));
  }
  return sign | (expf << M) | mant;
}

double qc_float_decode(qc_dtype dt, uint32_t code) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  if (dt == QC_F32) return (double)bits_f32(code);
  if (dt == QC_E8M0) return code == 0xFF ? NAN : ldexp(1.0, (int)code - 127);
  if (t->kind != QC_KIND_FLOAT) return 0;
  const int M = t->mbits, E = t->ebits;
  uint32_t nbits = (uint32_t)E + M + (t->is_signed ? 1 : 0);
  code &= (nbits >= 32) ? 0xFFFFFFFFu : ((1u << nbits) - 1);
  bool neg = t->is_signed && (code >> (E + M)) & 1;
  uint32_t expf = (code >> M) & ((1u << E) - 1);
  uint32_t mant = code & ((1u << M) - 1);
  uint32_t emax_f = (1u << E) - 1;
  switch (t->nan_rule) {
  case QC_NAN_IEEE:
    if (expf == emax_f) return mant ? NAN : (neg ? -INFINITY : INFINITY);
    break;
  case QC_NAN_FN:
    if (expf == emax_f && mant == (1u << M) - 1) return NAN;
    break;
  case QC_NAN_FNUZ:
    if (code == 1u << (E + M)) return NAN;
    break;
  default: break;
  }
  double v = expf == 0 ? ldexp((double)mant, 1 - t->bias - M)
                       : ldexp((double)(mant | (1u << M)), (int)expf - t->bias - M);
  return neg ? -v : v;
}

uint16_t qc_f32_to_f16(float f) {
  uint32_t x = f32_bits(f);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t ax = x & 0x7FFFFFFF;
  if (ax > 0x7F800000) return (uint16_t)(sign | 0x7E00 | ((ax >> 13) & 0x3FF));
  if (ax >= 0x477FF000) return (uint16_t)(sign | 0x7C00); /* rounds to >= 65520: Inf */
  if (ax < 0x38800000) {                                   /* subnormal or zero in f16 */
    if (ax < 0x33000000) return (uint16_t)sign;            /* < 2^-25: rounds to 0 */
    uint32_t m = (ax & 0x7FFFFF) | 0x800000;
    int shift = 113 - (int)(ax >> 23) + 13; /* 126 - e + 13 ... to align to 2^-24 units */
    uint32_t r = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t r = ((ax - 0x38000000) >> 13);
  uint32_t rem = ax & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
  return (uint16_t)(sign | r);
}

float qc_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t e = (h >> 10) & 0x1F, m = h & 0x3FF;
  uint32_t x;
  if (e == 0) {
    if (m == 0) x = sign;
    else {
      float v = (float)m * 5.9604644775390625e-08f; /* 2^-24 */
      return sign ? -v : v;
    }
  } else if (e == 31) {
    x = sign | 0x7F800000 | (m << 13);
  } else {
    x = sign | ((e + 112) << 23) | (m << 13);
  }
  return bits_f32(x);
}

uint16_t qc_f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((x >> 16) | 0x40);
  uint32_t lsb = (x >> 16) & 1;
  x += 0x7FFF + lsb;
  return (uint16_t)(x >> 16);
}

float qc_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

/* ---- element access ----------------------------------------------------------------------- */

uint64_t qc_elem_code(qc_dtype dt, const void *base, size_t i) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  const uint8_t *p = base;
  switch (t->bits) {
  case 8: return p[i];
  case 16: {
    uint16_t v;
    memcpy(&v, p + 2 * i, 2);
    return v;
  }
  case 32: {
    uint32_t v;
    memcpy(&v, p + 4 * i, 4);
    return v;
  }
  case 64: {
    uint64_t v;
    memcpy(&v, p + 8 * i, 8);
    return v;
  }
  default: {
    /* Sub-byte: LSB-first bit stream. Read up to 2 bytes (bits <= 8). */
    size_t bit = i * t->bits;
    unsigned v = p[bit >> 3] >> (bit & 7);
    unsigned have = 8 - (unsigned)(bit & 7);
    if (have < t->bits) v |= (unsigned)p[(bit >> 3) + 1] << have;
    return v & ((1u << t->bits) - 1);
  }
  }
}

void qc_elem_set_code(qc_dtype dt, void *base, size_t i, uint64_t code) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  uint8_t *p = base;
  switch (t->bits) {
  case 8: p[i] = (uint8_t)code; return;
  case 16: {
    uint16_t v = (uint16_t)code;
    memcpy(p + 2 * i, &v, 2);
    return;
  }
  case 32: {
    uint32_t v = (uint32_t)code;
    memcpy(p + 4 * i, &v, 4);
    return;
  }
  case 64: memcpy(p + 8 * i, &code, 8); return;
  default: {
    unsigned b = t->bits, mask = (1u << b) - 1;
    size_t bit = i * b;
    unsigned sh = (unsigned)(bit & 7);
    unsigned c = (unsigned)code & mask;
    p[bit >> 3] = (uint8_t)((p[bit >> 3] & ~(mask << sh)) | (c << sh));
    if (sh + b > 8) {
      unsigned hi = sh + b - 8;
      uint8_t *q = &p[(bit >> 3) + 1];
      *q = (uint8_t)((*q & ~((1u << hi) - 1)) | (c >> (8 - sh)));
    }
    return;
  }
  }
}

static inline int64_t sign_extend(uint64_t code, int bits) {
  if (bits >= 64) return (int64_t)code;
  uint64_t m = 1ull << (bits - 1);
  return (int64_t)((code ^ m) - m);
}

double qc_elem_f64(qc_dtype dt, const void *base, size_t i) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  switch (t->kind) {
  case QC_KIND_FLOAT: {
    if (dt == QC_F64) {
      double v;
      memcpy(&v, (const char *)base + 8 * i, 8);
      return v;
    }
    if (dt == QC_F32) {
      float v;
      memcpy(&v, (const char *)base + 4 * i, 4);
      return v;
    }
    if (dt == QC_F16) return qc_f16_to_f32((uint16_t)qc_elem_code(dt, base, i));
    if (dt == QC_BF16) return qc_bf16_to_f32((uint16_t)qc_elem_code(dt, base, i));
    return qc_float_decode(dt, (uint32_t)qc_elem_code(dt, base, i));
  }
  case QC_KIND_INT:
    if (!t->is_signed) return (double)qc_elem_code(dt, base, i);
    return (double)sign_extend(qc_elem_code(dt, base, i), t->bits);
  case QC_KIND_BOOL: return ((const uint8_t *)base)[i] ? 1.0 : 0.0;
  default: return 0;
  }
}

/* float -> integer as C/x86 casts do (numpy's astype): truncate; NaN and values out of
 * the intermediate range give the "integer indefinite" value. */
static int64_t f64_to_i64_trunc(double x, int bits) {
  if (bits > 32) {
    if (isnan(x) || x >= 9223372036854775808.0 || x < -9223372036854775808.0) return INT64_MIN;
    return (int64_t)x;
  }
  if (isnan(x) || x >= 2147483648.0 || x <= -2147483649.0) return INT32_MIN;
  return (int64_t)x;
}

int64_t qc_elem_i64(qc_dtype dt, const void *base, size_t i) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  switch (t->kind) {
  case QC_KIND_INT:
    if (!t->is_signed) return (int64_t)qc_elem_code(dt, base, i);
    return sign_extend(qc_elem_code(dt, base, i), t->bits);
  case QC_KIND_BOOL: return ((const uint8_t *)base)[i] != 0;
  case QC_KIND_FLOAT: return f64_to_i64_trunc(qc_elem_f64(dt, base, i), 64);
  default: return 0;
  }
}

int64_t qc_int_saturate(qc_dtype dt, int64_t x) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  if (x < t->imin) return t->imin;
  if (x > 0 && (uint64_t)x > t->imax) return (int64_t)t->imax;
  return x;
}

void qc_elem_set_f64(qc_dtype dt, void *base, size_t i, double x, unsigned flags) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  switch (t->kind) {
  case QC_KIND_FLOAT:
    if (dt == QC_F64) {
      memcpy((char *)base + 8 * i, &x, 8);
    } else if (dt == QC_F32 && !(flags & ~QC_ENC_SATURATE)) {
      float f = (float)x;
      if ((flags & QC_ENC_SATURATE) && isinf(f) && !isinf(x)) f = x > 0 ? FLT_MAX : -FLT_MAX;
      memcpy((char *)base + 4 * i, &f, 4);
    } else {
      qc_elem_set_code(dt, base, i, qc_float_encode(dt, x, flags));
    }
    return;
  case QC_KIND_INT: {
    double r = qc_round(x, flags);
    int64_t v;
    if (isnan(r)) v = 0;
    else if (r <= (double)t->imin) v = t->imin;
    else if (r >= (double)t->imax) v = (int64_t)t->imax;
    else v = (int64_t)r;
    if (!t->is_signed && dt == QC_U64 && r >= 9223372036854775808.0) {
      uint64_t u = r >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)r;
      qc_elem_set_code(dt, base, i, u);
      return;
    }
    qc_elem_set_code(dt, base, i, (uint64_t)v);
    return;
  }
  case QC_KIND_BOOL: ((uint8_t *)base)[i] = x != 0; return;
  default: return;
  }
}

void qc_elem_cast_f64(qc_dtype dt, void *base, size_t i, double x, unsigned flags) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  switch (t->kind) {
  case QC_KIND_INT:
    if (dt == QC_U64 && x >= 9223372036854775808.0 && x < 18446744073709551616.0)
      qc_elem_set_code(dt, base, i, (uint64_t)x);
    else
      qc_elem_set_code(dt, base, i, (uint64_t)f64_to_i64_trunc(x, t->bits));
    return;
  case QC_KIND_BOOL: ((uint8_t *)base)[i] = x != 0; return;
  case QC_KIND_FLOAT: qc_elem_set_f64(dt, base, i, x, flags); return;
  default: return;
  }
}

void qc_elem_set_i64(qc_dtype dt, void *base, size_t i, int64_t x) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  switch (t->kind) {
  case QC_KIND_INT: qc_elem_set_code(dt, base, i, (uint64_t)x); return; /* wraps */
  case QC_KIND_BOOL: ((uint8_t *)base)[i] = x != 0; return;
  case QC_KIND_FLOAT: qc_elem_set_f64(dt, base, i, (double)x, 0); return;
  default: return;
  }
}

/* ---- bulk conversion ---------------------------------------------------------------------- */

void qc_convert(qc_dtype sdt, const void *src, qc_dtype ddt, void *dst, size_t n,
                unsigned flags) {
  const qc_dtype_traits *s = qc_dtype_traits_of(sdt), *d = qc_dtype_traits_of(ddt);
  if (sdt == ddt && s->bits >= 8) {
    memmove(dst, src, n * (s->bits / 8));
    return;
  }
  if (sdt == QC_F32 && ddt == QC_F16 && !flags) {
    const float *a = src;
    uint16_t *b = dst;
    for (size_t i = 0; i < n; i++) b[i] = qc_f32_to_f16(a[i]);
    return;
  }
  if (sdt == QC_F16 && ddt == QC_F32) {
    const uint16_t *a = src;
    float *b = dst;
    for (size_t i = 0; i < n; i++) b[i] = qc_f16_to_f32(a[i]);
    return;
  }
  bool rounding = (flags & (QC_ENC_ROUND_AWAY | QC_ENC_ROUND_FLOOR | QC_ENC_ROUND_CEIL |
                            QC_ENC_ROUND_TRUNC)) != 0;
  for (size_t i = 0; i < n; i++) {
    if (s->kind == QC_KIND_INT && d->kind == QC_KIND_INT) {
      qc_elem_set_i64(ddt, dst, i, qc_elem_i64(sdt, src, i));
    } else if (s->kind == QC_KIND_INT && sdt == QC_U64 && d->kind == QC_KIND_FLOAT) {
      qc_elem_set_f64(ddt, dst, i, (double)qc_elem_code(sdt, src, i), flags);
    } else if (s->kind == QC_KIND_INT && d->kind == QC_KIND_FLOAT) {
      qc_elem_set_f64(ddt, dst, i, (double)qc_elem_i64(sdt, src, i), flags);
    } else if (d->kind == QC_KIND_INT && s->kind == QC_KIND_FLOAT && !rounding) {
      qc_elem_cast_f64(ddt, dst, i, qc_elem_f64(sdt, src, i), 0);
    } else if (d->kind == QC_KIND_BOOL) {
      ((uint8_t *)dst)[i] = qc_elem_f64(sdt, src, i) != 0;
    } else {
      qc_elem_set_f64(ddt, dst, i, qc_elem_f64(sdt, src, i), flags);
    }
  }
}

void qc_convert_to_f32(qc_dtype sdt, const void *src, float *dst, size_t n) {
  if (qc_dtype_is_block(sdt)) {
    qc_block_dequantize(sdt, src, dst, n);
    return;
  }
  qc_convert(sdt, src, QC_F32, dst, n, 0);
}

bool qc_convert_from_f32(const float *src, qc_dtype ddt, void *dst, size_t n, unsigned flags) {
  if (qc_dtype_is_block(ddt)) return qc_block_quantize(ddt, src, dst, n);
  if (ddt == QC_STRING || ddt == QC_C64 || ddt == QC_C128 || ddt == QC_DT_UNDEFINED) return false;
  qc_convert(QC_F32, src, ddt, dst, n, flags);
  return true;
}

/* ---- packings ------------------------------------------------------------------------------ */

static const int AWQ_ORDER[8] = {0, 2, 4, 6, 1, 3, 5, 7};

void qc_pack_int4_words(const uint8_t *codes, size_t n, bool reorder, uint32_t *words) {
  size_t nw = (n + 7) / 8;
  for (size_t w = 0; w < nw; w++) {
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
      size_t e = w * 8 + (size_t)(reorder ? AWQ_ORDER[i] : i);
      uint32_t c = e < n ? (codes[e] & 0xF) : 0;
      v |= c << (4 * i);
    }
    words[w] = v;
  }
}

void qc_unpack_int4_words(const uint32_t *words, size_t n, bool reorder, uint8_t *codes) {
  for (size_t e = 0; e < n; e++) {
    size_t w = e / 8;
    int j = (int)(e % 8), nib = j;
    if (reorder)
      for (int i = 0; i < 8; i++)
        if (AWQ_ORDER[i] == j) nib = i;
    codes[e] = (uint8_t)((words[w] >> (4 * nib)) & 0xF);
  }
}

void qc_pack_nibbles_j16(const uint8_t codes[32], uint8_t out[16]) {
  for (int j = 0; j < 16; j++) out[j] = (uint8_t)((codes[j] & 0xF) | (codes[j + 16] & 0xF) << 4);
}

void qc_unpack_nibbles_j16(const uint8_t in[16], uint8_t codes[32]) {
  for (int j = 0; j < 16; j++) {
    codes[j] = in[j] & 0xF;
    codes[j + 16] = in[j] >> 4;
  }
}

void qc_pack_bits(const uint8_t *codes, size_t n, int bits, uint8_t *out) {
  memset(out, 0, (n * (size_t)bits + 7) / 8);
  uint32_t mask = (1u << bits) - 1;
  for (size_t i = 0; i < n; i++) {
    size_t bit = i * (size_t)bits;
    uint32_t c = codes[i] & mask;
    unsigned sh = bit & 7;
    out[bit >> 3] |= (uint8_t)(c << sh);
    if (sh + (unsigned)bits > 8) out[(bit >> 3) + 1] |= (uint8_t)(c >> (8 - sh));
  }
}

void qc_unpack_bits(const uint8_t *in, size_t n, int bits, uint8_t *codes) {
  uint32_t mask = (1u << bits) - 1;
  for (size_t i = 0; i < n; i++) {
    size_t bit = i * (size_t)bits;
    unsigned sh = bit & 7;
    uint32_t v = in[bit >> 3] >> sh;
    if (sh + (unsigned)bits > 8) v |= (uint32_t)in[(bit >> 3) + 1] << (8 - sh);
    codes[i] = (uint8_t)(v & mask);
  }
}
