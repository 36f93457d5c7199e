/* Reduction kernels (runtime/k_reduce.c): axes as attribute or input by opset, keepdims,
 * noop_with_empty_axes, empty reductions, integer wraparound, ArgMax ties and NaN, scans,
 * and the softmax axis rule that changed at opset 13. Expected values come from numpy /
 * the ONNX reference implementation. */
#include "unit/ktest_graph.h"

static qc_tensor ints(qc_dtype dt, int32_t rank, const int64_t *dims, const int64_t *v) {
  qc_tensor t;
  kt_ok(qc_tensor_alloc(&t, NULL, dt, rank, dims));
  for (int64_t i = 0; i < qc_tensor_numel(&t); i++) qc_elem_set_i64(dt, qc_tensor_data(&t), (size_t)i, v[i]);
  return t;
}

START_TEST(axes_attribute_or_input) {
  qc_tensor x = kt_f32(2, KT_DIMS(2, 2), (float[]){3, 4, 6, 8});
  /* opset 18: axes is an input */
  qc_tensor ax = kt_i64(1, KT_DIMS(1), (int64_t[]){-1});
  kt_run r = kt_op_v(QC_OP_ReduceL2, 18, 2, (const qc_tensor *[]){&x, &ax}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 1), (float[]){5, 10}, 1e-6);
  kt_done(&r);
  /* opset 13: an attribute (ReduceSum switched to an input at 13 already) */
  r = kt_op_v(QC_OP_ReduceMax, 13, 1, (const qc_tensor *[]){&x}, 2,
              (qc_attr[]){KT_INTS("axes", 0), KT_INT("keepdims", 0)}, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){6, 8}, 0);
  kt_done(&r);
  r = kt_op_v(QC_OP_ReduceSum, 13, 2, (const qc_tensor *[]){&x, &ax}, 1, (qc_attr[]){KT_INT("keepdims", 0)}, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){7, 14}, 0);
  kt_done(&r);
  /* no axes: all, or nothing with noop_with_empty_axes */
  r = kt_op_v(QC_OP_ReduceSum, 13, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(1, 1), (float[]){21}, 0);
  kt_done(&r);
  r = kt_op_v(QC_OP_ReduceSum, 13, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_INT("noop_with_empty_axes", 1)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){3, 4, 6, 8}, 0);
  kt_done(&r);
  qc_tensor dup = kt_i64(1, KT_DIMS(2), (int64_t[]){0, -2});
  kt_expect_error(QC_OP_ReduceSum, 13, 2, (const qc_tensor *[]){&x, &dup}, 0, NULL, 1, "repeated");
  qc_tensor_release(&x);
  qc_tensor_release(&ax);
  qc_tensor_release(&dup);
}
END_TEST

START_TEST(empty_and_integer_reductions) {
  qc_tensor e;
  kt_ok(qc_tensor_alloc(&e, NULL, QC_F32, 2, KT_DIMS(2, 0)));
  qc_tensor ax = kt_i64(1, KT_DIMS(1), (int64_t[]){1});
  kt_run r = kt_op_v(QC_OP_ReduceMax, 18, 2, (const qc_tensor *[]){&e, &ax}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 1), (float[]){-INFINITY, -INFINITY}, 0);
  kt_done(&r);
  r = kt_op_v(QC_OP_ReduceProd, 18, 2, (const qc_tensor *[]){&e, &ax}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 1), (float[]){1, 1}, 0);
  kt_done(&r);
  r = kt_op_v(QC_OP_ReduceLogSum, 18, 2, (const qc_tensor *[]){&e, &ax}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 1), (float[]){-INFINITY, -INFINITY}, 0);
  kt_done(&r);
  /* int8 sums wrap: 3 * 100 = 300 -> 44 */
  qc_tensor i8 = ints(QC_I8, 1, KT_DIMS(3), (int64_t[]){100, 100, 100});
  r = kt_op_v(QC_OP_ReduceSum, 13, 1, (const qc_tensor *[]){&i8}, 1, (qc_attr[]){KT_INT("keepdims", 0)}, 1);
  kt_expect_ints(&r.out[0], QC_I8, 0, NULL, (int64_t[]){44});
  kt_done(&r);
  /* integer mean truncates */
  qc_tensor i32 = ints(QC_I32, 2, KT_DIMS(2, 2), (int64_t[]){1, 2, 4, 4});
  r = kt_op_v(QC_OP_ReduceMean, 18, 2, (const qc_tensor *[]){&i32, &ax}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_I32, 2, KT_DIMS(2, 1), (int64_t[]){1, 4});
  kt_done(&r);
  /* large values stay finite */
  qc_tensor big = kt_f32(2, KT_DIMS(1, 3), (float[]){1000, 1000.5f, 999});
  r = kt_op_v(QC_OP_ReduceLogSumExp, 18, 1, (const qc_tensor *[]){&big}, 1, (qc_attr[]){KT_INT("keepdims", 0)}, 1);
  kt_expect_f32(&r.out[0], 0, NULL, (float[]){1001.1041f}, 1e-7);
  kt_done(&r);
  qc_tensor_release(&e);
  qc_tensor_release(&ax);
  qc_tensor_release(&i8);
  qc_tensor_release(&i32);
  qc_tensor_release(&big);
}
END_TEST

START_TEST(arg_extremes) {
  qc_tensor x = kt_f32(2, KT_DIMS(2, 3), (float[]){1, 5, 5, 7, 2, 7});
  kt_run r = kt_op(QC_OP_ArgMax, 1, (const qc_tensor *[]){&x}, 2,
                   (qc_attr[]){KT_INT("axis", 1), KT_INT("select_last_index", 1)}, 1);
  kt_expect_i64(&r.out[0], 2, KT_DIMS(2, 1), (int64_t[]){2, 2});
  kt_done(&r);
  r = kt_op(QC_OP_ArgMax, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_INT("axis", 1)}, 1);
  kt_expect_i64(&r.out[0], 2, KT_DIMS(2, 1), (int64_t[]){1, 0});
  kt_done(&r);
  qc_tensor_release(&x);
  /* numpy: the first NaN wins, for argmin too */
  x = kt_f32(2, KT_DIMS(1, 3), (float[]){3, NAN, 1});
  r = kt_op(QC_OP_ArgMin, 1, (const qc_tensor *[]){&x}, 2, (qc_attr[]){KT_INT("axis", 1), KT_INT("keepdims", 0)}, 1);
  kt_expect_i64(&r.out[0], 1, KT_DIMS(1), (int64_t[]){1});
  kt_done(&r);
  qc_tensor_release(&x);
  /* unsigned 64-bit compares as unsigned */
  x = ints(QC_U64, 1, KT_DIMS(3), (int64_t[]){5, -1, 7});
  r = kt_op(QC_OP_ArgMax, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_i64(&r.out[0], 1, KT_DIMS(1), (int64_t[]){1});
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

START_TEST(scans) {
  qc_tensor x = ints(QC_I32, 1, KT_DIMS(4), (int64_t[]){1, 2, 3, 4}), ax = kt_scalar_i64(0);
  kt_run r = kt_op(QC_OP_CumSum, 2, (const qc_tensor *[]){&x, &ax}, 2,
                   (qc_attr[]){KT_INT("exclusive", 1), KT_INT("reverse", 1)}, 1);
  kt_expect_ints(&r.out[0], QC_I32, 1, KT_DIMS(4), (int64_t[]){9, 7, 4, 0});
  kt_done(&r);
  qc_tensor f = kt_f32(2, KT_DIMS(2, 2), (float[]){1, 2, 3, 4});
  r = kt_op(QC_OP_CumProd, 2, (const qc_tensor *[]){&f, &ax}, 1, (qc_attr[]){KT_INT("exclusive", 1)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){1, 1, 1, 2}, 0);
  kt_done(&r);
  qc_tensor m1 = kt_scalar_i64(-1);
  r = kt_op(QC_OP_CumSum, 2, (const qc_tensor *[]){&f, &m1}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){1, 3, 3, 7}, 0);
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&ax);
  qc_tensor_release(&f);
  qc_tensor_release(&m1);
}
END_TEST

START_TEST(softmax_axis_rule_by_opset) {
  qc_tensor x;
  kt_ok(qc_tensor_alloc(&x, NULL, QC_F32, 3, KT_DIMS(2, 2, 3)));
  for (int i = 0; i < 12; i++) ((float *)qc_tensor_data(&x))[i] = (float)i / 4;
  /* opset 11: coerced to 2-D at axis 1, normalized over the trailing 6 values */
  kt_run r = kt_op_v(QC_OP_Softmax, 11, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_INT("axis", 1)}, 1);
  float legacy[12] = {0.081576905f, 0.10474682f, 0.13449758f, 0.17269831f, 0.22174902f, 0.28473137f,
                      0.081576905f, 0.10474682f, 0.13449758f, 0.17269831f, 0.22174902f, 0.28473137f};
  kt_expect_f32(&r.out[0], 3, KT_DIMS(2, 2, 3), legacy, 1e-6);
  kt_done(&r);
  /* opset 13: along axis 1 only */
  r = kt_op_v(QC_OP_Softmax, 13, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_INT("axis", 1)}, 1);
  float a = 0.32082129f, b = 0.67917871f;
  kt_expect_f32(&r.out[0], 3, KT_DIMS(2, 2, 3), (float[]){a, a, a, b, b, b, a, a, a, b, b, b}, 1e-6);
  kt_done(&r);
  /* LogSoftmax at opset 13 default axis -1 on [1, 3]: x - max - log(sum(exp(x - max))) */
  qc_tensor y = kt_f32(2, KT_DIMS(1, 3), (float[]){1, 2, 3});
  r = kt_op_v(QC_OP_LogSoftmax, 13, 1, (const qc_tensor *[]){&y}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(1, 3), (float[]){-2.4076059f, -1.4076059f, -0.40760596f}, 1e-6);
  kt_done(&r);
  qc_tensor h = kt_f32(2, KT_DIMS(2, 3), (float[]){1, 3, 3, 2, 1, 0});
  r = kt_op_v(QC_OP_Hardmax, 13, 1, (const qc_tensor *[]){&h}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){0, 1, 0, 1, 0, 0}, 0);
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&y);
  qc_tensor_release(&h);
}
END_TEST

START_TEST(normalizations) {
  qc_tensor x = kt_f32(2, KT_DIMS(2, 2), (float[]){3, 4, 0, 0});
  kt_run r = kt_op(QC_OP_LpNormalization, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_INT("axis", 1)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){0.6f, 0.8f, 0, 0}, 1e-6);
  kt_done(&r);
  r = kt_op(QC_OP_LpNormalization, 1, (const qc_tensor *[]){&x}, 2,
            (qc_attr[]){KT_INT("axis", 1), KT_INT("p", 1)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){3.0f / 7, 4.0f / 7, 0, 0}, 1e-6);
  kt_done(&r);
  qc_tensor_release(&x);
  x = kt_f32(4, KT_DIMS(1, 1, 2, 2), (float[]){1, 2, 3, 4});
  r = kt_op(QC_OP_MeanVarianceNormalization, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 2, 2), (float[]){-1.3416407f, -0.4472136f, 0.4472136f, 1.3416407f}, 1e-6);
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_reduce");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, axes_attribute_or_input);
  tcase_add_test(tc, empty_and_integer_reductions);
  tcase_add_test(tc, arg_extremes);
  tcase_add_test(tc, scans);
  tcase_add_test(tc, softmax_axis_rule_by_opset);
  tcase_add_test(tc, normalizations);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
