/* Quantization kernels (runtime/k_quant.c): rounding ties, saturation, the division
 * precision (scale dtype vs x dtype vs `precision`), blocked and per-axis parameters,
 * sub-byte and fp8/fp4 outputs, e8m0 scales, and the integer products. Expected values
 * come from the ONNX reference implementation (numpy, ml_dtypes). */
#include "unit/ktest_graph.h"

static qc_tensor ints(qc_dtype dt, int32_t rank, const int64_t *dims, const int64_t *v) {
  qc_tensor t;
  kt_ok(qc_tensor_alloc(&t, NULL, dt, rank, dims));
  for (int64_t i = 0; i < qc_tensor_numel(&t); i++) qc_elem_set_i64(dt, qc_tensor_data(&t), (size_t)i, v[i]);
  return t;
}

static qc_tensor floats(qc_dtype dt, int32_t rank, const int64_t *dims, const double *v) {
  qc_tensor t;
  kt_ok(qc_tensor_alloc(&t, NULL, dt, rank, dims));
  for (int64_t i = 0; i < qc_tensor_numel(&t); i++)
    qc_elem_set_f64(dt, qc_tensor_data(&t), (size_t)i, v[i], 0);
  return t;
}

static void expect_codes(const qc_rvalue *v, qc_dtype dt, int64_t n, const uint64_t *codes) {
  kt_expect_shape(v, dt, 1, KT_DIMS(n));
  for (int64_t i = 0; i < n; i++)
    ck_assert_msg(qc_elem_code(dt, qc_tensor_data(&v->t), (size_t)i) == codes[i],
                  "element %lld: code 0x%llx, expected 0x%llx", (long long)i,
                  (unsigned long long)qc_elem_code(dt, qc_tensor_data(&v->t), (size_t)i),
                  (unsigned long long)codes[i]);
}

START_TEST(ties_and_saturation) {
  qc_tensor x = kt_f32(1, KT_DIMS(7), (float[]){0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 1000, -1000});
  qc_tensor s = kt_f32(0, NULL, (float[]){1});
  qc_tensor z = ints(QC_U8, 0, NULL, (int64_t[]){10});
  kt_run r = kt_op(QC_OP_QuantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_U8, 1, KT_DIMS(7), (int64_t[]){10, 12, 12, 10, 8, 255, 0});
  kt_done(&r);
  /* no zero point: uint8 */
  r = kt_op(QC_OP_QuantizeLinear, 2, (const qc_tensor *[]){&x, &s}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_U8, 1, KT_DIMS(7), (int64_t[]){0, 2, 2, 0, 0, 255, 0});
  kt_done(&r);
  /* output_dtype without a zero point */
  r = kt_op(QC_OP_QuantizeLinear, 2, (const qc_tensor *[]){&x, &s}, 1, (qc_attr[]){KT_INT("output_dtype", 5)}, 1);
  kt_expect_ints(&r.out[0], QC_I16, 1, KT_DIMS(7), (int64_t[]){0, 2, 2, 0, -2, 1000, -1000});
  kt_done(&r);
  qc_tensor zi = ints(QC_I8, 0, NULL, (int64_t[]){0});
  kt_expect_error(QC_OP_QuantizeLinear, 0, 3, (const qc_tensor *[]){&x, &s, &zi}, 1,
                  (qc_attr[]){KT_INT("output_dtype", 2)}, 1, "differs");
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&z);
  qc_tensor_release(&zi);
}
END_TEST

START_TEST(division_precision) {
  /* f16 / f16 rounds the quotient to f16 first: 0.25 / f16(0.1) = 2.5006 -> 2.5 -> 2; with an
   * f32 scale holding the same value, the f32 quotient 2.5006 rounds to 3. */
  qc_tensor x = floats(QC_F16, 1, KT_DIMS(1), (double[]){0.25});
  qc_tensor s16 = floats(QC_F16, 0, NULL, (double[]){0.1});
  qc_tensor s32 = kt_f32(0, NULL, (float[]){(float)qc_elem_f64(QC_F16, qc_tensor_data(&s16), 0)});
  kt_run r = kt_op(QC_OP_QuantizeLinear, 2, (const qc_tensor *[]){&x, &s16}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_U8, 1, KT_DIMS(1), (int64_t[]){2});
  kt_done(&r);
  r = kt_op(QC_OP_QuantizeLinear, 2, (const qc_tensor *[]){&x, &s32}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_U8, 1, KT_DIMS(1), (int64_t[]){3});
  kt_done(&r);
  /* precision = f16 forces the f16 quotient again */
  r = kt_op(QC_OP_QuantizeLinear, 2, (const qc_tensor *[]){&x, &s32}, 1, (qc_attr[]){KT_INT("precision", 10)}, 1);
  kt_expect_ints(&r.out[0], QC_U8, 1, KT_DIMS(1), (int64_t[]){2});
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&s16);
  qc_tensor_release(&s32);
}
END_TEST

START_TEST(blocked_int4) {
  qc_tensor x = kt_f32(2, KT_DIMS(2, 5), (float[]){1, 2, 3, 4, 5, -1, -2, -3, -4, -5});
  qc_tensor s = kt_f32(2, KT_DIMS(2, 3), (float[]){0.5f, 1, 2, 1, 0.25f, 4});
  qc_tensor z = ints(QC_I4, 2, KT_DIMS(2, 3), (int64_t[]){0, 1, -1, 2, 0, 0});
  qc_attr at[2] = {KT_INT("axis", 1), KT_INT("block_size", 2)};
  kt_run r = kt_op(QC_OP_QuantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 2, at, 1);
  kt_expect_ints(&r.out[0], QC_I4, 2, KT_DIMS(2, 5), (int64_t[]){2, 4, 4, 5, 1, 1, 0, -8, -8, -1});
  qc_tensor q;
  qc_tensor_copy_ref(&q, &r.out[0].t);
  kt_done(&r);
  r = kt_op(QC_OP_DequantizeLinear, 3, (const qc_tensor *[]){&q, &s, &z}, 2, at, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 5), (float[]){1, 2, 3, 4, 4, -1, -2, -2, -2, -4}, 0);
  kt_done(&r);
  /* a block size that does not give the scale's block count */
  qc_attr bad[2] = {KT_INT("axis", 1), KT_INT("block_size", 3)};
  kt_expect_error(QC_OP_QuantizeLinear, 0, 3, (const qc_tensor *[]){&x, &s, &z}, 2, bad, 1, "block_size");
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&z);
  qc_tensor_release(&q);
}
END_TEST

START_TEST(float_outputs) {
  qc_tensor x = kt_f32(1, KT_DIMS(3), (float[]){1000, -1000, 0.3f});
  qc_tensor s = kt_f32(0, NULL, (float[]){1});
  qc_tensor z = ints(QC_F8E4M3FN, 0, NULL, (int64_t[]){0});
  kt_run r = kt_op(QC_OP_QuantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 0, NULL, 1);
  expect_codes(&r.out[0], QC_F8E4M3FN, 3, (uint64_t[]){0x7e, 0xfe, 0x2a});
  kt_done(&r);
  r = kt_op(QC_OP_QuantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 1, (qc_attr[]){KT_INT("saturate", 0)}, 1);
  expect_codes(&r.out[0], QC_F8E4M3FN, 3, (uint64_t[]){0x7f, 0xff, 0x2a});
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&z);
  /* fp4 saturates and rounds half to even */
  x = kt_f32(1, KT_DIMS(6), (float[]){0.3f, 1.3f, 2.6f, 7, -5, -0.2f});
  s = kt_f32(0, NULL, (float[]){0.5f});
  z = ints(QC_F4E2M1, 0, NULL, (int64_t[]){0});
  r = kt_op(QC_OP_QuantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(6), (float[]){0.5f, 3, 6, 6, -6, -0.5f}, 0);
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&z);
  /* uint2 with a zero point saturates to [0, 3] */
  x = kt_f32(1, KT_DIMS(4), (float[]){0, 1, 5, -3});
  s = kt_f32(0, NULL, (float[]){1});
  z = ints(QC_U2, 0, NULL, (int64_t[]){1});
  r = kt_op(QC_OP_QuantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_U2, 1, KT_DIMS(4), (int64_t[]){1, 2, 3, 0});
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&z);
}
END_TEST

START_TEST(dequantize_variants) {
  qc_tensor x = ints(QC_U4, 2, KT_DIMS(2, 2), (int64_t[]){0, 15, 7, 8});
  qc_tensor s = kt_f32(1, KT_DIMS(2), (float[]){0.5f, 2});
  qc_tensor z = ints(QC_U4, 1, KT_DIMS(2), (int64_t[]){8, 1});
  kt_run r = kt_op(QC_OP_DequantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 1, (qc_attr[]){KT_INT("axis", 0)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){-4, 3.5f, 12, 14}, 0);
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&s);
  qc_tensor_release(&z);
  /* e8m0 scale 2^-3 with output_dtype f16 */
  x = ints(QC_I8, 1, KT_DIMS(2), (int64_t[]){1, -3});
  s = ints(QC_U8, 0, NULL, (int64_t[]){124});
  s.dtype = QC_E8M0;
  r = kt_op(QC_OP_DequantizeLinear, 2, (const qc_tensor *[]){&x, &s}, 1, (qc_attr[]){KT_INT("output_dtype", 10)}, 1);
  kt_expect_shape(&r.out[0], QC_F16, 1, KT_DIMS(2));
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){0.125f, -0.375f}, 0);
  kt_done(&r);
  kt_expect_error(QC_OP_DequantizeLinear, 0, 2, (const qc_tensor *[]){&x, &s}, 0, NULL, 1, "output_dtype");
  qc_tensor_release(&x);
  qc_tensor_release(&s);
}
END_TEST

START_TEST(dynamic_quantize) {
  /* all-negative input: the range is widened to include 0, zero point 255 */
  qc_tensor x = kt_f32(1, KT_DIMS(3), (float[]){-1, -2.5f, -0.3f});
  kt_run r = kt_op(QC_OP_DynamicQuantizeLinear, 1, (const qc_tensor *[]){&x}, 0, NULL, 3);
  kt_expect_ints(&r.out[0], QC_U8, 1, KT_DIMS(3), (int64_t[]){153, 0, 224});
  kt_expect_f32(&r.out[1], 0, NULL, (float[]){0.009803921915590763f}, 0);
  kt_expect_ints(&r.out[2], QC_U8, 0, NULL, (int64_t[]){255});
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

START_TEST(integer_products) {
  qc_tensor a = ints(QC_U8, 2, KT_DIMS(2, 3), (int64_t[]){1, 2, 3, 4, 5, 6});
  qc_tensor b = ints(QC_I8, 2, KT_DIMS(3, 2), (int64_t[]){1, 2, 3, 4, 5, 6});
  qc_tensor az = ints(QC_U8, 2, KT_DIMS(2, 1), (int64_t[]){1, 2}); /* per row */
  qc_tensor bz = ints(QC_I8, 1, KT_DIMS(2), (int64_t[]){1, -1});   /* per column */
  kt_run r = kt_op(QC_OP_MatMulInteger, 4, (const qc_tensor *[]){&a, &b, &az, &bz}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_I32, 2, KT_DIMS(2, 2), (int64_t[]){10, 19, 22, 49});
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&az);
  qc_tensor_release(&bz);
  /* QLinearMatMul with f16 scales: multiplier rounded in f16 step by step */
  a = ints(QC_U8, 2, KT_DIMS(2, 3), (int64_t[]){10, 20, 30, 40, 50, 60});
  b = ints(QC_U8, 2, KT_DIMS(3, 2), (int64_t[]){1, 2, 30, 4, 5, 60});
  qc_tensor as = floats(QC_F16, 0, NULL, (double[]){0.5}), bs = floats(QC_F16, 0, NULL, (double[]){0.3});
  qc_tensor ys = floats(QC_F16, 0, NULL, (double[]){7});
  az = ints(QC_U8, 0, NULL, (int64_t[]){1});
  bz = ints(QC_U8, 0, NULL, (int64_t[]){3});
  qc_tensor yz = ints(QC_U8, 0, NULL, (int64_t[]){7});
  r = kt_op(QC_OP_QLinearMatMul, 8, (const qc_tensor *[]){&a, &as, &az, &b, &bs, &bz, &ys, &yz}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_U8, 2, KT_DIMS(2, 2), (int64_t[]){19, 43, 36, 79});
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&as);
  qc_tensor_release(&bs);
  qc_tensor_release(&ys);
  qc_tensor_release(&az);
  qc_tensor_release(&bz);
  qc_tensor_release(&yz);
}
END_TEST

START_TEST(conv_integer_pads_with_zero_point) {
  /* padded positions contribute x_zero_point, i.e. 0 after centering */
  int64_t xv[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  qc_tensor x = ints(QC_U8, 4, KT_DIMS(1, 1, 3, 3), xv);
  qc_tensor w = ints(QC_U8, 4, KT_DIMS(1, 1, 2, 2), (int64_t[]){1, 1, 1, 1});
  qc_tensor xz = ints(QC_U8, 0, NULL, (int64_t[]){1});
  kt_run r = kt_op(QC_OP_ConvInteger, 3, (const qc_tensor *[]){&x, &w, &xz}, 1,
                   (qc_attr[]){KT_INTS("pads", 1, 1, 1, 1)}, 1);
  kt_expect_ints(&r.out[0], QC_I32, 4, KT_DIMS(1, 1, 4, 4),
                 (int64_t[]){-1, -1, 1, 1, 1, 4, 8, 5, 7, 16, 20, 11, 5, 11, 13, 7});
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&w);
  qc_tensor_release(&xz);
}
END_TEST

START_TEST(matmul_nbits_default_zero_point) {
  /* K = 16 (one block), N = 2, 4 bits, no zero points (default 8): W[n, k] = (q - 8) * s[n] */
  uint8_t packed[16];
  for (int n = 0; n < 2; n++)
    for (int j = 0; j < 8; j++) {
      int q0 = (2 * j + n) & 15, q1 = (2 * j + 1 + n) & 15;
      packed[n * 8 + j] = (uint8_t)(q0 | q1 << 4);
    }
  qc_tensor b = kt_tensor(QC_U8, 3, KT_DIMS(2, 1, 8), packed);
  qc_tensor sc = kt_f32(2, KT_DIMS(2, 1), (float[]){0.5f, 2});
  float av[16];
  double want[2] = {0, 0};
  for (int kk = 0; kk < 16; kk++) {
    av[kk] = (float)(kk % 3) - 1;
    for (int n = 0; n < 2; n++) want[n] += av[kk] * (double)(((kk + n) & 15) - 8) * (n ? 2 : 0.5);
  }
  qc_tensor a = kt_f32(2, KT_DIMS(1, 16), av);
  qc_attr at[3] = {KT_INT("K", 16), KT_INT("N", 2), KT_INT("block_size", 16)};
  kt_run r = kt_op(QC_OP_MS_MatMulNBits, 3, (const qc_tensor *[]){&a, &b, &sc}, 3, at, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(1, 2), (float[]){(float)want[0], (float)want[1]}, 1e-6);
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&sc);
}
END_TEST

/* The float32 -> int8/uint8 fast paths (per tensor and per axis) against the general path:
 * `precision` = FLOAT (1) computes the same quotient through the generic accessors. Ties,
 * NaN, infinities, saturation and zero points; then DequantizeLinear's fast path against
 * (float(q) - float(zp)) * s. */
START_TEST(int8_fast_paths_equal_general_path) {
  enum { R = 3, C = 67 };
  float xv[R * C];
  uint32_t st = 12345;
  for (int i = 0; i < R * C; i++) {
    st = st * 1664525u + 1013904223u;
    float u = (float)(st >> 8) / (float)(1 << 24) * 80.0f - 40.0f;
    xv[i] = i % 5 == 0 ? (float)((int)u) + 0.5f : u; /* exact ties with scale 1 */
  }
  xv[1] = NAN;
  xv[2] = INFINITY;
  xv[3] = -INFINITY;
  xv[4] = 1e30f;
  float sv[R] = {1.0f, 0.37f, 0.1f};
  qc_tensor x = kt_f32(2, KT_DIMS(R, C), xv);
  for (int dt = 0; dt < 2; dt++) {
    qc_dtype zdt = dt ? QC_U8 : QC_I8;
    for (int axis = -1; axis <= 0; axis++) {
      qc_tensor s = axis < 0 ? kt_f32(0, NULL, sv) : kt_f32(1, KT_DIMS(R), sv);
      qc_tensor z = axis < 0 ? ints(zdt, 0, NULL, (int64_t[]){dt ? 128 : -3})
                             : ints(zdt, 1, KT_DIMS(R), dt ? (int64_t[]){0, 128, 255} : (int64_t[]){-3, 0, 7});
      qc_attr fast[1] = {KT_INT("axis", 0)}, gen[2] = {KT_INT("axis", 0), KT_INT("precision", 1)};
      kt_run a = kt_op(QC_OP_QuantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 1, fast, 1);
      kt_run b = kt_op(QC_OP_QuantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 2, gen, 1);
      for (int i = 0; i < R * C; i++)
        ck_assert_msg(qc_elem_i64(zdt, qc_tensor_data(&a.out[0].t), (size_t)i) ==
                          qc_elem_i64(zdt, qc_tensor_data(&b.out[0].t), (size_t)i),
                      "%s axis %d element %d (x %g)", qc_dtype_name(zdt), axis, i, (double)xv[i]);
      kt_run d = kt_op(QC_OP_DequantizeLinear, 3, (const qc_tensor *[]){&a.out[0].t, &s, &z}, 1, fast, 1);
      for (int i = 0; i < R * C; i++) {
        int64_t gi = axis < 0 ? 0 : i / C;
        float want = ((float)qc_elem_i64(zdt, qc_tensor_data(&a.out[0].t), (size_t)i) -
                      (float)qc_elem_i64(zdt, qc_tensor_data(&z), (size_t)gi)) * sv[gi];
        ck_assert_msg(((const float *)qc_tensor_data(&d.out[0].t))[i] == want, "dequantize element %d", i);
      }
      kt_done(&a);
      kt_done(&b);
      kt_done(&d);
      qc_tensor_release(&s);
      qc_tensor_release(&z);
    }
  }
  qc_tensor_release(&x);
}
END_TEST

/* The float32 -> fp8 fast path against the general path (`precision` = FLOAT), for every fp8
 * format: every code's value, the midpoints between neighbours (ties to even), one float ulp
 * either side of them, beyond the largest value, zeros, NaN and infinities, both signs. Then
 * DequantizeLinear's table against qc_float_decode(code) * scale. */
START_TEST(fp8_fast_paths_equal_general_path) {
  const qc_dtype dts[] = {QC_F8E4M3FN, QC_F8E4M3FNUZ, QC_F8E5M2, QC_F8E5M2FNUZ};
  for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
    qc_dtype dt = dts[k];
    float xv[128 * 10 + 8];
    int n = 0;
    for (int c = 0; c < 128; c++) {
      double v = qc_float_decode(dt, (uint32_t)c), w = qc_float_decode(dt, (uint32_t)c + 1);
      if (!isfinite(v)) continue;
      if (c == 127 || !isfinite(w)) w = 2 * v;
      float m = (float)(0.5 * (v + w));
      float cand[5] = {(float)v, m, nextafterf(m, 0), nextafterf(m, INFINITY), (float)w};
      for (int j = 0; j < 5; j++) {
        xv[n++] = cand[j];
        xv[n++] = -cand[j];
      }
    }
    float sp[8] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 1e30f, -1e-30f, 1e-45f};
    for (int j = 0; j < 8; j++) xv[n++] = sp[j];
    qc_tensor x = kt_f32(1, KT_DIMS(n), xv), s = kt_f32(0, NULL, (float[]){1.0f});
    qc_tensor z;
    kt_ok(qc_tensor_alloc(&z, NULL, dt, 0, NULL));
    qc_attr gen[1] = {KT_INT("precision", 1)};
    kt_run a = kt_op(QC_OP_QuantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 0, NULL, 1);
    kt_run b = kt_op(QC_OP_QuantizeLinear, 3, (const qc_tensor *[]){&x, &s, &z}, 1, gen, 1);
    for (int i = 0; i < n; i++)
      ck_assert_msg(qc_elem_code(dt, qc_tensor_data(&a.out[0].t), (size_t)i) ==
                        qc_elem_code(dt, qc_tensor_data(&b.out[0].t), (size_t)i),
                    "%s element %d (x %a): code 0x%llx, general path 0x%llx", qc_dtype_name(dt), i,
                    (double)xv[i], (unsigned long long)qc_elem_code(dt, qc_tensor_data(&a.out[0].t), (size_t)i),
                    (unsigned long long)qc_elem_code(dt, qc_tensor_data(&b.out[0].t), (size_t)i));
    qc_tensor s3 = kt_f32(0, NULL, (float[]){0.37f});
    kt_run d = kt_op(QC_OP_DequantizeLinear, 2, (const qc_tensor *[]){&a.out[0].t, &s3}, 0, NULL, 1);
    for (int i = 0; i < n; i++) {
      float want = (float)qc_float_decode(dt, (uint32_t)qc_elem_code(dt, qc_tensor_data(&a.out[0].t), (size_t)i)) * 0.37f;
      float got = ((const float *)qc_tensor_data(&d.out[0].t))[i];
      ck_assert_msg(got == want || (got != got && want != want), "%s dequantize element %d", qc_dtype_name(dt), i);
    }
    kt_done(&a);
    kt_done(&b);
    kt_done(&d);
    qc_tensor_release(&x);
    qc_tensor_release(&s);
    qc_tensor_release(&s3);
    qc_tensor_release(&z);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_quant");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, ties_and_saturation);
  tcase_add_test(tc, division_precision);
  tcase_add_test(tc, blocked_int4);
  tcase_add_test(tc, float_outputs);
  tcase_add_test(tc, dequantize_variants);
  tcase_add_test(tc, int8_fast_paths_equal_general_path);
  tcase_add_test(tc, fp8_fast_paths_equal_general_path);
  tcase_add_test(tc, dynamic_quantize);
  tcase_add_test(tc, integer_products);
  tcase_add_test(tc, conv_integer_pads_with_zero_point);
  tcase_add_test(tc, matmul_nbits_default_zero_point);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
