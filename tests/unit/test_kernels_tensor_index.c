/* Indexing kernels (runtime/k_index.c): Gather, GatherElements, GatherND (batch_dims),
 * Scatter, ScatterElements and ScatterND with every reduction, TensorScatter. Expected
 * values come from the ONNX reference implementation. */
#include "unit/ktest_graph.h"

START_TEST(scatter_nd_bad_index_names_node) {
  qc_tensor d = kt_iota_f32(1, KT_DIMS(3));
  qc_tensor i = kt_i64(2, KT_DIMS(1, 1), (int64_t[]){3});
  qc_tensor u = kt_f32(1, KT_DIMS(1), (float[]){1});
  kt_expect_error(QC_OP_ScatterND, 0, 3, (const qc_tensor *[]){&d, &i, &u}, 0, NULL, 1, "out of range");
  qc_tensor_release(&d);
  qc_tensor_release(&i);
  qc_tensor_release(&u);
}
END_TEST

/* ---- generated from the ONNX reference implementation (onnx 1.22) ---- */

START_TEST(gather_axis1_negative) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(2, 3, 2), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(2, 2), (int64_t[]){2LL, -3LL, 1LL, 1LL});
  kt_run r = kt_op_v(QC_OP_Gather, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INT("axis", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(2, 2, 2, 2), (float[]){4, 5, 0, 1, 2, 3, 2, 3, 10, 11, 6, 7, 8, 9, 8, 9}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(gather_scalar_index_int32) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I32, 0, NULL, (int32_t[]){-1});
  kt_run r = kt_op_v(QC_OP_Gather, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){4, 5}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(gather_strings) {
  qc_tensor in0 = kt_tensor(QC_STRING, 1, KT_DIMS(3), (const char *[]){"x", "yy", "zzz"});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(3), (int64_t[]){2LL, 0LL, 2LL});
  kt_run r = kt_op_v(QC_OP_Gather, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_strings(&r.out[0], 1, KT_DIMS(3), (const char *[]){"zzz", "x", "zzz"});
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(gather_elements_axis1) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(2, 2), (int64_t[]){2LL, 0LL, -1LL, 1LL});
  kt_run r = kt_op_v(QC_OP_GatherElements, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INT("axis", 1)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){2, 0, 5, 4}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(gather_elements_axis0_smaller) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 3), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8});
  qc_tensor in1 = kt_tensor(QC_I32, 2, KT_DIMS(1, 3), (int32_t[]){1, 2, 0});
  kt_run r = kt_op_v(QC_OP_GatherElements, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INT("axis", 0)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(1, 3), (float[]){3, 7, 2}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(gather_nd) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(2, 2, 3), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(2, 2), (int64_t[]){0LL, 1LL, 1LL, -2LL});
  kt_run r = kt_op_v(QC_OP_GatherND, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){3, 4, 5, 6, 7, 8}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(gather_nd_batch_dims) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(2, 3, 2), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  qc_tensor in1 = kt_tensor(QC_I64, 3, KT_DIMS(2, 2, 1), (int64_t[]){2LL, 0LL, 1LL, 1LL});
  kt_run r = kt_op_v(QC_OP_GatherND, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INT("batch_dims", 1)}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(2, 2, 2), (float[]){4, 5, 0, 1, 8, 9, 8, 9}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(gather_nd_full_index) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(3, 2), (int64_t[]){1LL, 2LL, 0LL, 0LL, 1LL, 0LL});
  kt_run r = kt_op_v(QC_OP_GatherND, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){5, 0, 3}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(scatter_elements_none) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(2, 2), (int64_t[]){2LL, 2LL, 0LL, -3LL});
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(2, 2), (float[]){5, 3, -1, 2});
  kt_run r = kt_op_v(QC_OP_ScatterElements, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_INT("axis", 1), KT_STR("reduction", "none")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){1, 2, 3, 2, 5, 6}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_nd_none) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(3, 1), (int64_t[]){2LL, 0LL, 2LL});
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){5, 3, -1, 2, 0.5f, 9});
  kt_run r = kt_op_v(QC_OP_ScatterND, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 1, (qc_attr[]){KT_STR("reduction", "none")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 2), (float[]){-1, 2, 3, 4, 0.5f, 9}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_elements_add) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(2, 2), (int64_t[]){2LL, 2LL, 0LL, -3LL});
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(2, 2), (float[]){5, 3, -1, 2});
  kt_run r = kt_op_v(QC_OP_ScatterElements, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_INT("axis", 1), KT_STR("reduction", "add")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){1, 2, 11, 5, 5, 6}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_nd_add) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(3, 1), (int64_t[]){2LL, 0LL, 2LL});
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){5, 3, -1, 2, 0.5f, 9});
  kt_run r = kt_op_v(QC_OP_ScatterND, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 1, (qc_attr[]){KT_STR("reduction", "add")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 2), (float[]){0, 4, 3, 4, 10.5f, 18}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_elements_mul) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(2, 2), (int64_t[]){2LL, 2LL, 0LL, -3LL});
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(2, 2), (float[]){5, 3, -1, 2});
  kt_run r = kt_op_v(QC_OP_ScatterElements, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_INT("axis", 1), KT_STR("reduction", "mul")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){1, 2, 45, -8, 5, 6}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_nd_mul) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(3, 1), (int64_t[]){2LL, 0LL, 2LL});
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){5, 3, -1, 2, 0.5f, 9});
  kt_run r = kt_op_v(QC_OP_ScatterND, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 1, (qc_attr[]){KT_STR("reduction", "mul")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 2), (float[]){-1, 4, 3, 4, 12.5f, 162}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_elements_max) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(2, 2), (int64_t[]){2LL, 2LL, 0LL, -3LL});
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(2, 2), (float[]){5, 3, -1, 2});
  kt_run r = kt_op_v(QC_OP_ScatterElements, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_INT("axis", 1), KT_STR("reduction", "max")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){1, 2, 5, 4, 5, 6}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_nd_max) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(3, 1), (int64_t[]){2LL, 0LL, 2LL});
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){5, 3, -1, 2, 0.5f, 9});
  kt_run r = kt_op_v(QC_OP_ScatterND, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 1, (qc_attr[]){KT_STR("reduction", "max")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 2), (float[]){1, 2, 3, 4, 5, 9}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_elements_min) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(2, 2), (int64_t[]){2LL, 2LL, 0LL, -3LL});
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(2, 2), (float[]){5, 3, -1, 2});
  kt_run r = kt_op_v(QC_OP_ScatterElements, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_INT("axis", 1), KT_STR("reduction", "min")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){1, 2, 3, -1, 5, 6}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_nd_min) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(3, 1), (int64_t[]){2LL, 0LL, 2LL});
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){5, 3, -1, 2, 0.5f, 9});
  kt_run r = kt_op_v(QC_OP_ScatterND, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 1, (qc_attr[]){KT_STR("reduction", "min")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 2), (float[]){-1, 2, 3, 4, 0.5f, 3}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_elements_int64_add) {
  qc_tensor in0 = kt_tensor(QC_I64, 1, KT_DIMS(3), (int64_t[]){1LL, 2LL, 3LL});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){0LL, 0LL});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){10LL, 20LL});
  kt_run r = kt_op_v(QC_OP_ScatterElements, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 1, (qc_attr[]){KT_STR("reduction", "add")}, 1);
  kt_expect_i64(&r.out[0], 1, KT_DIMS(3), (int64_t[]){31LL, 2LL, 3LL});
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(scatter_nd_element_tuples) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 2), (float[]){0, 1, 2, 3});
  qc_tensor in1 = kt_tensor(QC_I64, 2, KT_DIMS(2, 2), (int64_t[]){1LL, 0LL, 0LL, 1LL});
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(2), (float[]){7, 8});
  kt_run r = kt_op_v(QC_OP_ScatterND, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){0, 8, 7, 3}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(tensor_scatter_linear) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(2, 4, 2), (float[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  qc_tensor in1 = kt_tensor(QC_F32, 3, KT_DIMS(2, 2, 2), (float[]){1, 2, 3, 4, 5, 6, 7, 8});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){1LL, 2LL});
  kt_run r = kt_op_v(QC_OP_TensorScatter, 24, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(2, 4, 2), (float[]){0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 5, 6, 7, 8}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(tensor_scatter_circular) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(2, 1, 4, 1), (float[]){0, 0, 0, 0, 0, 0, 0, 0});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(2, 1, 3, 1), (float[]){1, 2, 3, 4, 5, 6});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){2LL, 3LL});
  kt_run r = kt_op_v(QC_OP_TensorScatter, 24, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 1, (qc_attr[]){KT_STR("mode", "circular")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(2, 1, 4, 1), (float[]){3, 0, 1, 2, 5, 6, 0, 4}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(tensor_scatter_no_indices) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 3, 2), (float[]){0, 0, 0, 0, 0, 0});
  qc_tensor in1 = kt_tensor(QC_F32, 3, KT_DIMS(1, 2, 2), (float[]){1, 2, 3, 4});
  kt_run r = kt_op_v(QC_OP_TensorScatter, 24, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INT("axis", 1)}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(1, 3, 2), (float[]){1, 2, 3, 4, 0, 0}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_tensor_index");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, scatter_nd_bad_index_names_node);
  tcase_add_test(tc, gather_axis1_negative);
  tcase_add_test(tc, gather_scalar_index_int32);
  tcase_add_test(tc, gather_strings);
  tcase_add_test(tc, gather_elements_axis1);
  tcase_add_test(tc, gather_elements_axis0_smaller);
  tcase_add_test(tc, gather_nd);
  tcase_add_test(tc, gather_nd_batch_dims);
  tcase_add_test(tc, gather_nd_full_index);
  tcase_add_test(tc, scatter_elements_none);
  tcase_add_test(tc, scatter_nd_none);
  tcase_add_test(tc, scatter_elements_add);
  tcase_add_test(tc, scatter_nd_add);
  tcase_add_test(tc, scatter_elements_mul);
  tcase_add_test(tc, scatter_nd_mul);
  tcase_add_test(tc, scatter_elements_max);
  tcase_add_test(tc, scatter_nd_max);
  tcase_add_test(tc, scatter_elements_min);
  tcase_add_test(tc, scatter_nd_min);
  tcase_add_test(tc, scatter_elements_int64_add);
  tcase_add_test(tc, scatter_nd_element_tuples);
  tcase_add_test(tc, tensor_scatter_linear);
  tcase_add_test(tc, tensor_scatter_circular);
  tcase_add_test(tc, tensor_scatter_no_indices);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
