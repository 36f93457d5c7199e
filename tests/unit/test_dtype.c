/* The dtype table and conversions: every code of every <= 8-bit format, rounding ties,
 * saturation and NaN/Inf rules, packings and block formats. Expected values come from
 * ../shared/reference/formats.md, quark.md and ONNX's conformance data. */
#include "quarc/dtype.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const qc_dtype SMALL_FLOATS[] = {QC_F8E4M3FN, QC_F8E4M3FNUZ, QC_F8E5M2, QC_F8E5M2FNUZ,
                                        QC_F6E2M3,   QC_F6E3M2,     QC_F4E2M1, QC_E8M0,
                                        QC_E5M3,     QC_UE4M3};

START_TEST(every_code_roundtrips) {
  for (size_t f = 0; f < sizeof SMALL_FLOATS / sizeof *SMALL_FLOATS; f++) {
    qc_dtype dt = SMALL_FLOATS[f];
    const qc_dtype_traits *t = qc_dtype_traits_of(dt);
    uint32_t ncodes = 1u << (t->ebits + t->mbits + t->is_signed);
    for (uint32_t c = 0; c < ncodes; c++) {
      double v = qc_float_decode(dt, c);
      uint32_t back = qc_float_encode(dt, v, 0);
      if (isnan(v)) {
        ck_assert_msg(isnan(qc_float_decode(dt, back)), "%s code %u: NaN did not stay NaN",
                      t->name, c);
        continue;
      }
      if (v == 0 && signbit(v) && t->nan_rule == QC_NAN_FNUZ) continue; /* no -0 in FNUZ */
      ck_assert_msg(back == c, "%s code 0x%02x (%g) encodes back to 0x%02x", t->name, c, v, back);
      ck_assert_msg(fabs(v) <= t->max_normal || isinf(v), "%s code %u beyond max", t->name, c);
    }
  }
}
END_TEST

START_TEST(documented_values) {
  /* formats.md §1.2 and §5 */
  ck_assert(qc_float_decode(QC_F8E4M3FN, 0x7e) == 448.0);
  ck_assert(isnan(qc_float_decode(QC_F8E4M3FN, 0x7f)));
  ck_assert(isnan(qc_float_decode(QC_F8E4M3FN, 0xff)));
  ck_assert(qc_float_decode(QC_F8E4M3FN, 0x01) == ldexp(1, -9));
  ck_assert(qc_float_decode(QC_F8E4M3FNUZ, 0x7f) == 240.0);
  ck_assert(isnan(qc_float_decode(QC_F8E4M3FNUZ, 0x80)));
  ck_assert(qc_float_decode(QC_F8E4M3FNUZ, 0x01) == ldexp(1, -10));
  ck_assert(qc_float_decode(QC_F8E5M2, 0x7b) == 57344.0);
  ck_assert(isinf(qc_float_decode(QC_F8E5M2, 0x7c)));
  ck_assert(isnan(qc_float_decode(QC_F8E5M2, 0x7d)));
  ck_assert(qc_float_decode(QC_F8E5M2, 0x01) == ldexp(1, -16));
  ck_assert(qc_float_decode(QC_F8E5M2FNUZ, 0x7f) == 57344.0);
  ck_assert(qc_float_decode(QC_F8E5M2FNUZ, 0x01) == ldexp(1, -17));
  ck_assert(isnan(qc_float_decode(QC_F8E5M2FNUZ, 0x80)));
  static const double fp4[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  for (int i = 0; i < 8; i++) {
    ck_assert(qc_float_decode(QC_F4E2M1, (uint32_t)i) == fp4[i]);
    ck_assert(qc_float_decode(QC_F4E2M1, (uint32_t)i | 8) == -fp4[i]);
  }
  ck_assert(qc_float_decode(QC_F6E2M3, 0x1f) == 7.5);
  ck_assert(qc_float_decode(QC_F6E2M3, 0x01) == 0.125);
  ck_assert(qc_float_decode(QC_F6E2M3, 0x08) == 1.0); /* min normal */
  ck_assert(qc_float_decode(QC_F6E3M2, 0x1f) == 28.0);
  ck_assert(qc_float_decode(QC_F6E3M2, 0x01) == 0.0625);
  ck_assert(qc_float_decode(QC_F6E3M2, 0x04) == 0.25);
  ck_assert(qc_float_decode(QC_E8M0, 127) == 1.0);
  ck_assert(qc_float_decode(QC_E8M0, 0) == ldexp(1, -127));
  ck_assert(qc_float_decode(QC_E8M0, 254) == ldexp(1, 127));
  ck_assert(isnan(qc_float_decode(QC_E8M0, 255)));
  ck_assert(qc_float_decode(QC_E5M3, 0xfe) == 114688.0);
  ck_assert(isnan(qc_float_decode(QC_E5M3, 0xff)));
  ck_assert(qc_dtype_traits_of(QC_F16)->max_normal == 65504.0);
  ck_assert(qc_float_decode(QC_F16, 0x7bff) == 65504.0);
  ck_assert(qc_float_decode(QC_BF16, 0x7f7f) == qc_dtype_traits_of(QC_BF16)->max_normal);
}
END_TEST

START_TEST(fp8_rounding_and_saturation) {
  /* test_quantizelinear_e4m3fn: [0,1,2,100000,200]/2 -> bytes 00 30 38 7e 6c */
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, 0.0, QC_ENC_SATURATE), 0x00);
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, 0.5, QC_ENC_SATURATE), 0x30);
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, 1.0, QC_ENC_SATURATE), 0x38);
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, 50000.0, QC_ENC_SATURATE), 0x7e);
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, 100.0, QC_ENC_SATURATE), 0x6c); /* 100 -> 96 */
  /* Ties: 464 lies between 448 (even mantissa) and the NaN slot 480 -> 448 either way;
   * 17 lies between 16 and 18 (mantissa 000 vs 001) -> 16. */
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, 464.0, 0), 0x7e);
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, 17.0, 0), qc_float_encode(QC_F8E4M3FN, 16.0, 0));
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, 19.0, 0), qc_float_encode(QC_F8E4M3FN, 20.0, 0));
  /* Out of range: NaN without saturation, max with it (Cast-25 table). */
  ck_assert(isnan(qc_float_decode(QC_F8E4M3FN, qc_float_encode(QC_F8E4M3FN, 465.0, 0))));
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, 465.0, QC_ENC_SATURATE), 0x7e);
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, -INFINITY, QC_ENC_SATURATE), 0xfe);
  ck_assert(isnan(qc_float_decode(QC_F8E4M3FN, qc_float_encode(QC_F8E4M3FN, INFINITY, 0))));
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FNUZ, 1e6, QC_ENC_SATURATE), 0x7f);
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FNUZ, 1e6, 0), 0x80);
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FNUZ, -0.0, 0), 0x00); /* no -0 */
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, -0.0, 0), 0x80);
  ck_assert_uint_eq(qc_float_encode(QC_F8E5M2, INFINITY, 0), 0x7c);
  ck_assert_uint_eq(qc_float_encode(QC_F8E5M2, 1e6, 0), 0x7c);
  ck_assert_uint_eq(qc_float_encode(QC_F8E5M2, -1e6, QC_ENC_SATURATE), 0xfb);
  ck_assert_uint_eq(qc_float_encode(QC_F8E5M2FNUZ, 1e6, 0), 0x80);
  ck_assert_uint_eq(qc_float_encode(QC_F8E5M2FNUZ, 1e6, QC_ENC_SATURATE), 0x7f);
  ck_assert_uint_eq(qc_float_encode(QC_F8E5M2FNUZ, -1e6, QC_ENC_SATURATE), 0xff);
  /* Subnormals round half to even: 2^-10 is half the smallest e4m3fn subnormal. */
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, ldexp(1, -10), 0), 0x00);
  ck_assert_uint_eq(qc_float_encode(QC_F8E4M3FN, 3 * ldexp(1, -10), 0), 0x02);
  ck_assert(isnan(qc_float_decode(QC_F8E5M2, qc_float_encode(QC_F8E5M2, NAN, 0))));
}
END_TEST

START_TEST(fp4_fp6_rules) {
  /* test_cast_FLOAT_to_FLOAT4E2M1: inputs and the nibbles ONNX expects. */
  static const float in[15] = {0.48f, 0.25f, 1.05f, -3.5f, -8.0f, 9.0f, 1000000.0f, 1e-7f,
                               NAN,   INFINITY, INFINITY, -INFINITY, -4.0f, 0.01f, -0.0f};
  static const uint8_t expect[15] = {1, 0, 2, 0xe, 0xf, 7, 7, 0, 8, 7, 7, 0xf, 0xe, 0, 8};
  for (int i = 0; i < 15; i++)
    ck_assert_msg(qc_float_encode(QC_F4E2M1, in[i], 0) == expect[i], "fp4 of %g", (double)in[i]);
  /* Quark drops the sign of values that round to zero. */
  ck_assert_uint_eq(qc_float_encode(QC_F4E2M1, -0.2, QC_ENC_UNSIGNED_ZERO), 0);
  ck_assert_uint_eq(qc_float_encode(QC_F4E2M1, -0.2, 0), 8);
  ck_assert_uint_eq(qc_float_encode(QC_F6E2M3, 100.0, 0), 0x1f);
  ck_assert_uint_eq(qc_float_encode(QC_F6E3M2, -100.0, 0), 0x3f);
  /* Half-away rounding differs from half-even on ties. */
  ck_assert_uint_eq(qc_float_encode(QC_F4E2M1, 2.5, 0), 4);                  /* -> 2 */
  ck_assert_uint_eq(qc_float_encode(QC_F4E2M1, 2.5, QC_ENC_ROUND_AWAY), 5);  /* -> 3 */
}
END_TEST

START_TEST(e8m0_modes) {
  /* ONNX to_float8e8m0 semantics on float32 bits. */
  ck_assert_uint_eq(qc_float_encode(QC_E8M0, 1.0, QC_ENC_ROUND_CEIL), 127);
  ck_assert_uint_eq(qc_float_encode(QC_E8M0, 1.25, QC_ENC_ROUND_CEIL), 128);
  ck_assert_uint_eq(qc_float_encode(QC_E8M0, 1.75, QC_ENC_ROUND_FLOOR), 127);
  ck_assert_uint_eq(qc_float_encode(QC_E8M0, 1.5, 0), 128);
  ck_assert_uint_eq(qc_float_encode(QC_E8M0, 1.25, 0), 127);
  ck_assert_uint_eq(qc_float_encode(QC_E8M0, NAN, 0), 255);
  ck_assert_uint_eq(qc_float_encode(QC_E8M0, INFINITY, QC_ENC_SATURATE), 255);
  ck_assert_uint_eq(qc_float_encode(QC_E8M0, 3.0e38, QC_ENC_ROUND_CEIL | QC_ENC_SATURATE), 254);
  ck_assert_uint_eq(qc_float_encode(QC_E8M0, 3.0e38, QC_ENC_ROUND_CEIL), 255);
  ck_assert_uint_eq(qc_float_encode(QC_E8M0, 0.0, QC_ENC_ROUND_CEIL), 0);
}
END_TEST

START_TEST(f16_bf16_fast_paths) {
  for (uint32_t c = 0; c < 65536; c++) {
    float v = qc_f16_to_f32((uint16_t)c);
    double g = qc_float_decode(QC_F16, c);
    if (isnan(g)) {
      ck_assert(isnan(v));
      ck_assert(isnan(qc_f16_to_f32(qc_f32_to_f16(v))));
      continue;
    }
    ck_assert_msg((double)v == g, "f16 0x%04x", c);
    ck_assert_uint_eq(qc_f32_to_f16(v), c);
    float b = qc_bf16_to_f32((uint16_t)c);
    if (!isnan(b)) ck_assert_uint_eq(qc_f32_to_bf16(b), c);
  }
  srand(7);
  for (int i = 0; i < 200000; i++) {
    uint32_t bits = ((uint32_t)rand() << 16) ^ (uint32_t)rand();
    float f;
    memcpy(&f, &bits, 4);
    if (isnan(f)) continue;
    ck_assert_msg(qc_f32_to_f16(f) == qc_float_encode(QC_F16, f, 0), "f16 of bits 0x%08x", bits);
    ck_assert_msg(qc_f32_to_bf16(f) == qc_float_encode(QC_BF16, f, 0), "bf16 of bits 0x%08x", bits);
  }
}
END_TEST

START_TEST(integers) {
  /* float -> int: truncate, then wrap (ml_dtypes / numpy astype, ONNX Cast). */
  float in[5] = {-9.0f, 8.0f, 2.5f, -2.5f, 15.0f};
  uint8_t packed[3] = {0};
  qc_convert(QC_F32, in, QC_I4, packed, 5, 0);
  ck_assert_int_eq(qc_elem_i64(QC_I4, packed, 0), 7);
  ck_assert_int_eq(qc_elem_i64(QC_I4, packed, 1), -8);
  ck_assert_int_eq(qc_elem_i64(QC_I4, packed, 2), 2);
  ck_assert_int_eq(qc_elem_i64(QC_I4, packed, 3), -2);
  ck_assert_int_eq(qc_elem_i64(QC_I4, packed, 4), -1);
  /* quantization-style: round half even and saturate */
  qc_convert(QC_F32, in, QC_I4, packed, 5, QC_ENC_ROUND_AWAY);
  ck_assert_int_eq(qc_elem_i64(QC_I4, packed, 0), -8);
  ck_assert_int_eq(qc_elem_i64(QC_I4, packed, 1), 7);
  ck_assert_int_eq(qc_elem_i64(QC_I4, packed, 2), 3);
  uint8_t u8;
  qc_elem_set_f64(QC_U8, &u8, 0, 2.5, 0);
  ck_assert_uint_eq(u8, 2);
  qc_elem_set_f64(QC_U8, &u8, 0, 3.5, 0);
  ck_assert_uint_eq(u8, 4);
  qc_elem_set_f64(QC_U8, &u8, 0, 300, 0);
  ck_assert_uint_eq(u8, 255);
  ck_assert_int_eq(qc_int_saturate(QC_I2, 5), 1);
  ck_assert_int_eq(qc_int_saturate(QC_I2, -5), -2);
  ck_assert_int_eq(qc_int_saturate(QC_I3, -9), -4);
  /* test_quantizelinear_int4 output: [1,2,3,5,-8,-6,3,4,4,5,5,7] packs to 21 53 a8 43 54 75 */
  int64_t v[12] = {1, 2, 3, 5, -8, -6, 3, 4, 4, 5, 5, 7};
  uint8_t p[6] = {0};
  for (int i = 0; i < 12; i++) qc_elem_set_i64(QC_I4, p, (size_t)i, v[i]);
  static const uint8_t want[6] = {0x21, 0x53, 0xa8, 0x43, 0x54, 0x75};
  ck_assert_mem_eq(p, want, 6);
  /* 2-bit: x0 | x1<<2 | x2<<4 | x3<<6 */
  uint8_t q = 0;
  for (int i = 0; i < 4; i++) qc_elem_set_i64(QC_U2, &q, (size_t)i, i);
  ck_assert_uint_eq(q, 0 | 1 << 2 | 2 << 4 | 3 << 6);
  ck_assert_uint_eq(qc_dtype_nbytes(QC_I4, 5), 3);
  ck_assert_uint_eq(qc_dtype_nbytes(QC_F6E2M3, 4), 3);
  ck_assert_uint_eq(qc_dtype_nbytes(QC_I3, 8), 3);
  ck_assert_uint_eq(qc_dtype_nbytes(QC_Q4_0, 64), 36);
}
END_TEST

START_TEST(packings) {
  uint8_t codes[8] = {1, 2, 3, 4, 5, 6, 7, 8}, back[8];
  uint32_t w;
  qc_pack_int4_words(codes, 8, true, &w);
  ck_assert_uint_eq(w, 0x86427531u); /* e0|e2<<4|e4<<8|e6<<12|e1<<16|e3<<20|e5<<24|e7<<28 */
  qc_unpack_int4_words(&w, 8, true, back);
  ck_assert_mem_eq(back, codes, 8);
  qc_pack_int4_words(codes, 8, false, &w);
  ck_assert_uint_eq(w, 0x87654321u);
  uint8_t three[3];
  qc_pack_int4_words(codes, 3, false, &w); /* partial word: zero padded */
  ck_assert_uint_eq(w, 0x321u);
  /* fp6: b0 = v0 | (v1&3)<<6; b1 = (v1>>2) | (v2&15)<<4; b2 = (v2>>4) | v3<<2 (quark.md) */
  uint8_t v6[4] = {0x2b, 0x15, 0x3c, 0x07}, out6[3], back6[4];
  qc_pack_bits(v6, 4, 6, out6);
  ck_assert_uint_eq(out6[0], (uint8_t)(v6[0] | (v6[1] & 3) << 6));
  ck_assert_uint_eq(out6[1], (uint8_t)((v6[1] >> 2) | (v6[2] & 15) << 4));
  ck_assert_uint_eq(out6[2], (uint8_t)((v6[2] >> 4) | v6[3] << 2));
  qc_unpack_bits(out6, 4, 6, back6);
  ck_assert_mem_eq(back6, v6, 4);
  /* int3: v0 | v1<<3 | ... | v7<<21, little-endian */
  uint8_t v3[8] = {1, 2, 3, 4, 5, 6, 7, 0};
  qc_pack_bits(v3, 8, 3, three);
  uint32_t word = three[0] | (uint32_t)three[1] << 8 | (uint32_t)three[2] << 16;
  for (int i = 0; i < 8; i++) ck_assert_uint_eq((word >> (3 * i)) & 7, v3[i]);
  /* the generic element accessors agree with the packers */
  for (int i = 0; i < 8; i++) ck_assert_uint_eq(qc_elem_code(QC_I3, three, (size_t)i), v3[i]);
  uint8_t c32[32], p16[16], b32[32];
  for (int i = 0; i < 32; i++) c32[i] = (uint8_t)(i & 15);
  qc_pack_nibbles_j16(c32, p16);
  ck_assert_uint_eq(p16[3], (uint8_t)(3 | (19 & 15) << 4));
  qc_unpack_nibbles_j16(p16, b32);
  ck_assert_mem_eq(b32, c32, 32);
}
END_TEST

static void check_block(qc_dtype dt, double tol_rel) {
  float x[256], y[256];
  uint8_t buf[512];
  srand(11);
  for (int i = 0; i < 256; i++) x[i] = (float)((rand() / (double)RAND_MAX - 0.5) * 8.0);
  int n = qc_dtype_traits_of(dt)->block_elems == 256 ? 256 : 64;
  ck_assert(qc_block_quantize(dt, x, buf, (size_t)n));
  qc_block_dequantize(dt, buf, y, (size_t)n);
  double err = 0, ref = 0;
  for (int i = 0; i < n; i++) {
    err += (x[i] - y[i]) * (double)(x[i] - y[i]);
    ref += x[i] * (double)x[i];
  }
  ck_assert_msg(sqrt(err / ref) < tol_rel, "%s: relative rms error %g", qc_dtype_name(dt),
                sqrt(err / ref));
}

START_TEST(blocks) {
  check_block(QC_Q8_0, 0.01);
  check_block(QC_Q8_1, 0.01);
  check_block(QC_Q4_0, 0.12);
  check_block(QC_Q4_1, 0.12);
  check_block(QC_Q5_0, 0.06);
  check_block(QC_Q5_1, 0.06);
  check_block(QC_GGML_MXFP4, 0.2);
  check_block(QC_MXFP4, 0.2);
  check_block(QC_MXFP6E2M3, 0.06);
  check_block(QC_MXFP6E3M2, 0.1);
  check_block(QC_MXFP8E4M3, 0.06);
  check_block(QC_MXFP8E5M2, 0.08);
  check_block(QC_MXINT8, 0.02);
  /* A hand-made Q4_0 block: d = 0.5 (f16 0x3800), nibbles j=0: lo 9, hi 7. */
  uint8_t b[18] = {0x00, 0x38};
  b[2] = 0x79;
  float y[32];
  qc_block_dequantize(QC_Q4_0, b, y, 32);
  ck_assert(y[0] == 0.5f && y[16] == -0.5f && y[1] == -4.0f);
  /* ggml MXFP4 and OCP MXFP4 encode the same values for the same data. */
  float x[32];
  for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) * 0.37f;
  uint8_t g[17], o[17];
  float yg[32], yo[32];
  qc_block_quantize(QC_GGML_MXFP4, x, g, 32);
  qc_block_quantize(QC_MXFP4, x, o, 32);
  qc_block_dequantize(QC_GGML_MXFP4, g, yg, 32);
  qc_block_dequantize(QC_MXFP4, o, yo, 32);
  ck_assert_uint_eq(g[0], o[0]);
  for (int i = 0; i < 32; i++) ck_assert(yg[i] == yo[i]);
}
END_TEST

START_TEST(rounding_and_cast_rules) {
  /* qc_round: half to even, zero results keep the sign (numpy.round(-0.5) == -0.0) */
  ck_assert(qc_round(2.5, 0) == 2.0 && qc_round(3.5, 0) == 4.0 && qc_round(-2.5, 0) == -2.0);
  ck_assert(qc_round(-0.5, 0) == 0.0 && signbit(qc_round(-0.5, 0)));
  ck_assert(qc_round(-0.4, 0) == 0.0 && signbit(qc_round(-0.4, 0)));
  ck_assert(qc_round(0.5, 0) == 0.0 && !signbit(qc_round(0.5, 0)));
  ck_assert(qc_round(-2.5, QC_ENC_ROUND_AWAY) == -3.0);
  /* qc_elem_cast_f64: numpy astype / ONNX Cast (truncate, then wrap) */
  int8_t i8[3];
  qc_elem_cast_f64(QC_I8, i8, 0, 300.7, 0);
  qc_elem_cast_f64(QC_I8, i8, 1, -1.9, 0);
  qc_elem_cast_f64(QC_I8, i8, 2, NAN, 0);
  ck_assert_int_eq(i8[0], 44);
  ck_assert_int_eq(i8[1], -1);
  ck_assert_int_eq(i8[2], 0);
  uint64_t u = 0;
  qc_elem_cast_f64(QC_U64, &u, 0, 18446744073709549568.0, 0);
  ck_assert(u == 18446744073709549568ull);
  uint8_t b = 7;
  qc_elem_cast_f64(QC_BOOL, &b, 0, -0.0, 0);
  ck_assert_uint_eq(b, 0);
}
END_TEST

START_TEST(names) {
  for (int i = 1; i < QC_DTYPE_COUNT; i++) {
    const qc_dtype_traits *t = qc_dtype_traits_of((qc_dtype)i);
    ck_assert_ptr_nonnull(t->name);
    ck_assert_int_eq(qc_dtype_from_name(t->name), i);
    if (t->onnx) ck_assert_int_eq(qc_dtype_from_onnx(t->onnx), i);
    if (t->safetensors) ck_assert_int_eq(qc_dtype_from_safetensors(t->safetensors), i);
    if (t->gguf >= 0) ck_assert_int_eq(qc_dtype_from_gguf(t->gguf), i);
    if (t->quark) ck_assert_int_eq(qc_dtype_from_quark(t->quark), i);
    if (t->kind == QC_KIND_BLOCK) ck_assert_uint_eq(qc_dtype_nbytes((qc_dtype)i, t->block_elems), t->block_bytes);
  }
  ck_assert_int_eq(qc_dtype_from_onnx(23), QC_F4E2M1);
  ck_assert_int_eq(qc_dtype_from_safetensors("F8_E4M3"), QC_F8E4M3FN);
  ck_assert_int_eq(qc_dtype_from_gguf(39), QC_GGML_MXFP4);
  ck_assert_int_eq(qc_dtype_from_quark("fp8_e4m3"), QC_F8E4M3FN);
}
END_TEST

int main(void) {
  Suite *s = suite_create("dtype");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, every_code_roundtrips);
  tcase_add_test(tc, documented_values);
  tcase_add_test(tc, fp8_rounding_and_saturation);
  tcase_add_test(tc, fp4_fp6_rules);
  tcase_add_test(tc, e8m0_modes);
  tcase_add_test(tc, f16_bf16_fast_paths);
  tcase_add_test(tc, integers);
  tcase_add_test(tc, packings);
  tcase_add_test(tc, blocks);
  tcase_add_test(tc, rounding_and_cast_rules);
  tcase_add_test(tc, names);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
