/* Elementwise math kernels (runtime/k_math.c): integer wraparound and division rules,
 * rounding ties, NaN propagation, broadcasting of 2 and 3 inputs, f16 rounding per step,
 * strings. Expected values come from numpy / the ONNX reference implementation. */
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

static void binary_ints(qc_op op, qc_dtype dt, int n, const int64_t *a, const int64_t *b,
                        int32_t n_attr, const qc_attr *attr, const int64_t *want) {
  qc_tensor x = ints(dt, 1, KT_DIMS(n), a), y = ints(dt, 1, KT_DIMS(n), b);
  kt_run r = kt_op(op, 2, (const qc_tensor *[]){&x, &y}, n_attr, attr, 1);
  kt_expect_ints(&r.out[0], dt, 1, KT_DIMS(n), want);
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&y);
}

START_TEST(integer_wraparound) {
  /* numpy int8: 127 + 1 = -128, -128 - 1 = 127, 100 + 100 = -56 */
  binary_ints(QC_OP_Add, QC_I8, 3, (int64_t[]){127, -128, 100}, (int64_t[]){1, -1, 100}, 0, NULL,
              (int64_t[]){-128, 127, -56});
  binary_ints(QC_OP_Mul, QC_I32, 2, (int64_t[]){65536, -3}, (int64_t[]){65536, 5}, 0, NULL,
              (int64_t[]){0, -15});
  binary_ints(QC_OP_Sub, QC_U8, 2, (int64_t[]){0, 5}, (int64_t[]){1, 3}, 0, NULL, (int64_t[]){255, 2});
  /* |INT8_MIN| wraps to itself */
  qc_tensor x = ints(QC_I8, 1, KT_DIMS(2), (int64_t[]){-128, -5});
  kt_run r = kt_op(QC_OP_Abs, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_I8, 1, KT_DIMS(2), (int64_t[]){-128, 5});
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

START_TEST(integer_division_and_mod) {
  /* Div truncates toward zero; Mod takes the divisor's sign, fmod the dividend's */
  binary_ints(QC_OP_Div, QC_I32, 4, (int64_t[]){7, -7, 7, -7}, (int64_t[]){2, 2, -2, -2}, 0, NULL,
              (int64_t[]){3, -3, -3, 3});
  binary_ints(QC_OP_Mod, QC_I32, 4, (int64_t[]){7, -7, 7, -7}, (int64_t[]){3, 3, -3, -3}, 0, NULL,
              (int64_t[]){1, 2, -2, -1});
  binary_ints(QC_OP_Mod, QC_I32, 4, (int64_t[]){7, -7, 7, -7}, (int64_t[]){3, 3, -3, -3}, 1,
              (qc_attr[]){KT_INT("fmod", 1)}, (int64_t[]){1, -1, 1, -1});
  /* u64 above 2^63 divides unsigned */
  binary_ints(QC_OP_Div, QC_U64, 1, (int64_t[]){-2 /* 2^64-2 */}, (int64_t[]){2}, 0, NULL,
              (int64_t[]){INT64_MAX});
}
END_TEST

START_TEST(unsigned_compare_and_shift) {
  qc_tensor a = ints(QC_U64, 1, KT_DIMS(2), (int64_t[]){-1, 3}), b = ints(QC_U64, 1, KT_DIMS(2), (int64_t[]){1, 4});
  kt_run r = kt_op(QC_OP_Greater, 2, (const qc_tensor *[]){&a, &b}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_BOOL, 1, KT_DIMS(2), (int64_t[]){1, 0});
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  binary_ints(QC_OP_BitShift, QC_U8, 2, (int64_t[]){200, 1}, (int64_t[]){1, 7}, 1,
              (qc_attr[]){KT_STR("direction", "LEFT")}, (int64_t[]){144, 128});
  binary_ints(QC_OP_BitShift, QC_U64, 1, (int64_t[]){INT64_MIN}, (int64_t[]){63}, 1,
              (qc_attr[]){KT_STR("direction", "RIGHT")}, (int64_t[]){1});
}
END_TEST

START_TEST(pow_mixed_types) {
  /* int base, float exponent: computed in floating point, truncated (numpy astype) */
  qc_tensor a = ints(QC_I32, 1, KT_DIMS(3), (int64_t[]){2, 3, -2});
  qc_tensor b = kt_f32(1, KT_DIMS(3), (float[]){0.5f, 2.0f, 3.0f});
  kt_run r = kt_op(QC_OP_Pow, 2, (const qc_tensor *[]){&a, &b}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_I32, 1, KT_DIMS(3), (int64_t[]){1, 9, -8});
  kt_done(&r);
  qc_tensor_release(&b);
  b = ints(QC_I32, 1, KT_DIMS(3), (int64_t[]){31, 2, 3});
  r = kt_op(QC_OP_Pow, 2, (const qc_tensor *[]){&a, &b}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_I32, 1, KT_DIMS(3), (int64_t[]){INT32_MIN, 9, -8});
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
}
END_TEST

START_TEST(round_half_to_even) {
  qc_tensor x = kt_f32(1, KT_DIMS(6), (float[]){0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4999998f});
  kt_run r = kt_op(QC_OP_Round, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(6), (float[]){0, 2, 2, -0.0f, -2, 2}, 0);
  ck_assert(signbit(((float *)qc_tensor_data(&r.out[0].t))[3]));
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

START_TEST(nan_propagation) {
  qc_tensor a = kt_f32(1, KT_DIMS(3), (float[]){1, NAN, 3}), b = kt_f32(1, KT_DIMS(3), (float[]){NAN, 2, 1});
  kt_run r = kt_op(QC_OP_Max, 2, (const qc_tensor *[]){&a, &b}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){NAN, NAN, 3}, 0);
  kt_done(&r);
  r = kt_op(QC_OP_Min, 2, (const qc_tensor *[]){&a, &b}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){NAN, NAN, 1}, 0);
  kt_done(&r);
  /* Clip keeps NaN; min > max gives max */
  qc_tensor lo = kt_f32(0, NULL, (float[]){2}), hi = kt_f32(0, NULL, (float[]){1.5f});
  r = kt_op(QC_OP_Clip, 3, (const qc_tensor *[]){&a, &lo, &hi}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){1.5f, NAN, 1.5f}, 0);
  kt_done(&r);
  r = kt_op(QC_OP_Sign, 1, (const qc_tensor *[]){&a}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){1, NAN, 1}, 0);
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&lo);
  qc_tensor_release(&hi);
}
END_TEST

START_TEST(clip_int_and_legacy_attributes) {
  qc_tensor x = ints(QC_I8, 1, KT_DIMS(4), (int64_t[]){-128, -3, 5, 127});
  qc_tensor lo = ints(QC_I8, 0, NULL, (int64_t[]){-4});
  kt_run r = kt_op(QC_OP_Clip, 3, (const qc_tensor *[]){&x, &lo, NULL}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_I8, 1, KT_DIMS(4), (int64_t[]){-4, -3, 5, 127});
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&lo);
  qc_tensor f = kt_f32(1, KT_DIMS(3), (float[]){-2, 0.5f, 9});
  r = kt_op_v(QC_OP_Clip, 6, 1, (const qc_tensor *[]){&f}, 2,
              (qc_attr[]){KT_FLOAT("min", -1.0), KT_FLOAT("max", 1.0)}, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){-1, 0.5f, 1}, 0);
  kt_done(&r);
  qc_tensor_release(&f);
}
END_TEST

START_TEST(broadcast_where_strings) {
  qc_tensor c = ints(QC_BOOL, 2, KT_DIMS(2, 1), (int64_t[]){1, 0});
  qc_tensor x = kt_tensor(QC_STRING, 1, KT_DIMS(3), (const char *[]){"a", "b", "c"});
  qc_tensor y = kt_tensor(QC_STRING, 0, NULL, (const char *[]){"z"});
  kt_run r = kt_op(QC_OP_Where, 3, (const qc_tensor *[]){&c, &x, &y}, 0, NULL, 1);
  kt_expect_strings(&r.out[0], 2, KT_DIMS(2, 3), (const char *[]){"a", "b", "c", "z", "z", "z"});
  kt_done(&r);
  qc_tensor e = kt_tensor(QC_STRING, 2, KT_DIMS(2, 1), (const char *[]){"b", "q"});
  r = kt_op(QC_OP_Equal, 2, (const qc_tensor *[]){&x, &e}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_BOOL, 2, KT_DIMS(2, 3), (int64_t[]){0, 1, 0, 0, 0, 0});
  kt_done(&r);
  qc_tensor_release(&c);
  qc_tensor_release(&x);
  qc_tensor_release(&y);
  qc_tensor_release(&e);
}
END_TEST

START_TEST(where_int4_and_broadcast_errors) {
  qc_tensor c = ints(QC_BOOL, 1, KT_DIMS(3), (int64_t[]){1, 0, 1});
  qc_tensor x = ints(QC_I4, 1, KT_DIMS(3), (int64_t[]){-8, 7, -1});
  qc_tensor y = ints(QC_I4, 0, NULL, (int64_t[]){3});
  kt_run r = kt_op(QC_OP_Where, 3, (const qc_tensor *[]){&c, &x, &y}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_I4, 1, KT_DIMS(3), (int64_t[]){-8, 3, -1});
  kt_done(&r);
  qc_tensor z = kt_f32(1, KT_DIMS(2), (float[]){1, 2}), w = kt_f32(1, KT_DIMS(3), (float[]){1, 2, 3});
  kt_expect_error(QC_OP_Add, 0, 2, (const qc_tensor *[]){&z, &w}, 0, NULL, 1, "do not broadcast");
  qc_tensor s = kt_tensor(QC_STRING, 0, NULL, (const char *[]){"a"});
  kt_expect_error(QC_OP_Add, 0, 2, (const qc_tensor *[]){&s, &s}, 0, NULL, 1, "not supported");
  qc_tensor_release(&c);
  qc_tensor_release(&x);
  qc_tensor_release(&y);
  qc_tensor_release(&z);
  qc_tensor_release(&w);
  qc_tensor_release(&s);
}
END_TEST

START_TEST(f16_rounds_after_each_step) {
  /* 2048 + 3 = 2051 -> 2052 (tie to even); Sum folds left: 2048 + 1 -> 2048, + 1 -> 2048 */
  qc_tensor a = floats(QC_F16, 1, KT_DIMS(2), (double[]){2048, 1});
  qc_tensor b = floats(QC_F16, 1, KT_DIMS(2), (double[]){3, 1});
  kt_run r = kt_op(QC_OP_Add, 2, (const qc_tensor *[]){&a, &b}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){2052, 2}, 0);
  kt_done(&r);
  qc_tensor o = floats(QC_F16, 1, KT_DIMS(2), (double[]){1, 1});
  qc_tensor t = floats(QC_F16, 1, KT_DIMS(2), (double[]){1, 0.0004});
  r = kt_op(QC_OP_Sum, 3, (const qc_tensor *[]){&a, &o, &t}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){2048, 2}, 0);
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&o);
  qc_tensor_release(&t);
}
END_TEST

START_TEST(variadic_broadcast) {
  qc_tensor a = kt_f32(1, KT_DIMS(2), (float[]){1, 2}), b = kt_f32(2, KT_DIMS(2, 1), (float[]){3, 5});
  kt_run r = kt_op(QC_OP_Mean, 2, (const qc_tensor *[]){&a, &b}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){2, 2.5f, 3, 3.5f}, 0);
  kt_done(&r);
  qc_tensor c = kt_f32(0, NULL, (float[]){4});
  r = kt_op(QC_OP_Max, 3, (const qc_tensor *[]){&a, &b, &c}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){4, 4, 5, 5}, 0);
  kt_done(&r);
  r = kt_op(QC_OP_Min, 1, (const qc_tensor *[]){&b}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 1), (float[]){3, 5}, 0);
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&c);
}
END_TEST

START_TEST(activations) {
  qc_tensor x = kt_f32(1, KT_DIMS(3), (float[]){-1.5f, 0.3f, 2.0f});
  kt_run r = kt_op(QC_OP_Gelu, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_STR("approximate", "tanh")}, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){-0.10042843f, 0.18537092f, 1.9545977f}, 1e-6);
  kt_done(&r);
  r = kt_op(QC_OP_Gelu, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){-0.10021077f, 0.18537344f, 1.9544997f}, 1e-6);
  kt_done(&r);
  qc_tensor_release(&x);
  x = kt_f32(1, KT_DIMS(3), (float[]){-30, 0, 30});
  r = kt_op(QC_OP_Softplus, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){9.357623e-14f, 0.69314718f, 30.0f}, 1e-6);
  kt_done(&r);
  qc_tensor_release(&x);
  x = kt_f32(1, KT_DIMS(4), (float[]){-4, -1, 2, 4});
  r = kt_op(QC_OP_HardSwish, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(4), (float[]){0, -0.33333334f, 1.6666666f, 4}, 1e-6);
  kt_done(&r);
  qc_tensor_release(&x);
  x = kt_f32(1, KT_DIMS(2), (float[]){-1, 0.5f});
  r = kt_op(QC_OP_Selu, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){-1.1113307f, 0.5253505f}, 1e-6);
  kt_done(&r);
  r = kt_op(QC_OP_Mish, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){-0.30340146f, 0.37524521f}, 1e-6);
  kt_done(&r);
  qc_tensor_release(&x);
  x = kt_f32(1, KT_DIMS(3), (float[]){-INFINITY, 1, INFINITY});
  r = kt_op(QC_OP_IsInf, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_INT("detect_negative", 0)}, 1);
  kt_expect_ints(&r.out[0], QC_BOOL, 1, KT_DIMS(3), (int64_t[]){0, 0, 1});
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

START_TEST(large_inputs_run_in_parallel_chunks) {
  /* Big enough to be split across threads; every chunk boundary must land right. */
  enum { R = 301, C = 1003 };
  qc_tensor a, b;
  kt_ok(qc_tensor_alloc(&a, NULL, QC_F32, 2, KT_DIMS(R, C)));
  kt_ok(qc_tensor_alloc(&b, NULL, QC_I8, 2, KT_DIMS(R, 1)));
  float *av = qc_tensor_data(&a);
  int8_t *bv = qc_tensor_data(&b);
  for (int i = 0; i < R * C; i++) av[i] = (float)(i % 97) - 48.5f;
  for (int i = 0; i < R; i++) bv[i] = (int8_t)(i % 11 - 5);
  qc_tensor bf;
  kt_ok(qc_tensor_alloc(&bf, NULL, QC_F32, 2, KT_DIMS(R, 1)));
  for (int i = 0; i < R; i++) ((float *)qc_tensor_data(&bf))[i] = bv[i];
  kt_run r = kt_op(QC_OP_Mul, 2, (const qc_tensor *[]){&a, &bf}, 0, NULL, 1);
  kt_expect_shape(&r.out[0], QC_F32, 2, KT_DIMS(R, C));
  const float *y = qc_tensor_data(&r.out[0].t);
  for (int i = 0; i < R * C; i++) ck_assert(y[i] == av[i] * (float)bv[i / C]);
  kt_done(&r);
  /* integer path with wraparound, and a sub-byte output written by one thread */
  qc_tensor c;
  kt_ok(qc_tensor_alloc(&c, NULL, QC_I8, 2, KT_DIMS(R, C)));
  for (int i = 0; i < R * C; i++) ((int8_t *)qc_tensor_data(&c))[i] = (int8_t)(i * 7);
  r = kt_op(QC_OP_Add, 2, (const qc_tensor *[]){&c, &b}, 0, NULL, 1);
  const int8_t *yi = qc_tensor_data(&r.out[0].t);
  for (int i = 0; i < R * C; i++) ck_assert(yi[i] == (int8_t)((int8_t)(i * 7) + bv[i / C]));
  kt_done(&r);
  qc_tensor like;
  kt_ok(qc_tensor_alloc(&like, NULL, QC_I4, 0, NULL));
  r = kt_op(QC_OP_CastLike, 2, (const qc_tensor *[]){&c, &like}, 0, NULL, 1);
  for (int i = 0; i < R * C; i++)
    ck_assert(qc_elem_i64(QC_I4, qc_tensor_data(&r.out[0].t), (size_t)i) ==
              (int64_t)(int8_t)((uint8_t)((int8_t)(i * 7)) << 4) >> 4);
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&bf);
  qc_tensor_release(&c);
  qc_tensor_release(&like);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_math");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, integer_wraparound);
  tcase_add_test(tc, integer_division_and_mod);
  tcase_add_test(tc, unsigned_compare_and_shift);
  tcase_add_test(tc, pow_mixed_types);
  tcase_add_test(tc, round_half_to_even);
  tcase_add_test(tc, nan_propagation);
  tcase_add_test(tc, clip_int_and_legacy_attributes);
  tcase_add_test(tc, broadcast_where_strings);
  tcase_add_test(tc, where_int4_and_broadcast_errors);
  tcase_add_test(tc, f16_rounds_after_each_step);
  tcase_add_test(tc, variadic_broadcast);
  tcase_add_test(tc, activations);
  tcase_add_test(tc, large_inputs_run_in_parallel_chunks);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
