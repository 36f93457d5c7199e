/* Resize (every coordinate transformation, nearest rounding mode, linear/cubic with and
 * without antialiasing, exclude_outside, tf_crop_and_resize, axes and aspect-ratio
 * policies), Upsample, Col2Im, AffineGrid, GridSample (all modes and paddings, 2-D and 3-D)
 * and NonMaxSuppression. Expected values come from the ONNX reference implementation. */
#include "unit/ktest_graph.h"

START_TEST(resize_nearest_copies_int64_exactly) {
  /* Nearest resizing moves elements: 64-bit integers beyond 2^53 survive. */
  qc_tensor x = kt_i64(1, KT_DIMS(2), (int64_t[]){INT64_MAX, INT64_MIN + 1});
  qc_tensor sc = kt_f32(1, KT_DIMS(1), (float[]){2});
  kt_run r = kt_op(QC_OP_Resize, 3, (const qc_tensor *[]){&x, NULL, &sc}, 1,
                   (qc_attr[]){KT_STR("coordinate_transformation_mode", "asymmetric")}, 1);
  kt_expect_i64(&r.out[0], 1, KT_DIMS(4), (int64_t[]){INT64_MAX, INT64_MAX, INT64_MIN + 1, INT64_MIN + 1});
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&sc);
}
END_TEST

START_TEST(resize_needs_one_of_scales_and_sizes) {
  qc_tensor x = kt_iota_f32(1, KT_DIMS(2));
  kt_expect_error(QC_OP_Resize, 0, 1, (const qc_tensor *[]){&x}, 0, NULL, 1, "exactly one of scales and sizes");
  qc_tensor_release(&x);
}
END_TEST

START_TEST(resize_tf_half_pixel_for_nn_opset11) {
  /* x = (y + 0.5) / scale, nearest round_prefer_floor: y = 0..5 map to 0.17, 0.5, 0.83, 1.17,
   * 1.5, 1.83 -> 0, 0, 1, 1, 1, 1 (the last clamped). Worked by hand. */
  qc_tensor x = kt_f32(1, KT_DIMS(2), (float[]){10, 20}), sc = kt_f32(1, KT_DIMS(1), (float[]){3});
  qc_tensor roi = kt_f32(1, KT_DIMS(0), NULL);
  kt_run r = kt_op_v(QC_OP_Resize, 11, 3, (const qc_tensor *[]){&x, &roi, &sc}, 1,
                     (qc_attr[]){KT_STR("coordinate_transformation_mode", "tf_half_pixel_for_nn")}, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(6), (float[]){10, 10, 20, 20, 20, 20}, 0);
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&sc);
  qc_tensor_release(&roi);
}
END_TEST

/* ---- generated from the ONNX reference implementation (onnx 1.22) ---- */

START_TEST(resize_nearest_half_pixel_round_prefer_floor) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "half_pixel"), KT_STR("nearest_mode", "round_prefer_floor")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, 0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, 0.75f, 1.5700000524520874f, 0.75f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_half_pixel_round_prefer_ceil) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "half_pixel"), KT_STR("nearest_mode", "round_prefer_ceil")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, 0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, 0.75f, 1.5700000524520874f, 0.75f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_half_pixel_floor) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "half_pixel"), KT_STR("nearest_mode", "floor")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.3600000143051147f, 0.029999999329447746f, 1.3600000143051147f, 0.029999999329447746f, 1.3600000143051147f, -0.30000001192092896f, -0.5299999713897705f, 0.75f, -1.850000023841858f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_half_pixel_ceil) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "half_pixel"), KT_STR("nearest_mode", "ceil")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){1.3600000143051147f, 1.2200000286102295f, -0.5299999713897705f, 0.5699999928474426f, -0.5299999713897705f, 0.5699999928474426f, -1.850000023841858f, 1.5700000524520874f, -1.850000023841858f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_asymmetric_round_prefer_floor) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "asymmetric"), KT_STR("nearest_mode", "round_prefer_floor")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, -0.30000001192092896f, 0.5699999928474426f, 0.75f, 1.5700000524520874f, 0.75f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_asymmetric_round_prefer_ceil) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "asymmetric"), KT_STR("nearest_mode", "round_prefer_ceil")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, -0.30000001192092896f, 0.5699999928474426f, 0.75f, 1.5700000524520874f, 0.75f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_asymmetric_floor) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "asymmetric"), KT_STR("nearest_mode", "floor")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.3600000143051147f, 0.029999999329447746f, 1.3600000143051147f, -0.30000001192092896f, -0.5299999713897705f, -0.30000001192092896f, -0.5299999713897705f, 0.75f, -1.850000023841858f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_asymmetric_ceil) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "asymmetric"), KT_STR("nearest_mode", "ceil")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, 0.75f, 1.5700000524520874f, 0.75f, 1.5700000524520874f, 0.75f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_align_corners_round_prefer_floor) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "align_corners"), KT_STR("nearest_mode", "round_prefer_floor")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, 0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, -0.30000001192092896f, 0.5699999928474426f, 0.75f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_align_corners_round_prefer_ceil) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "align_corners"), KT_STR("nearest_mode", "round_prefer_ceil")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, 0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, -0.30000001192092896f, 0.5699999928474426f, 0.75f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_align_corners_floor) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "align_corners"), KT_STR("nearest_mode", "floor")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, 0.029999999329447746f, 1.2200000286102295f, 0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, -0.30000001192092896f, 0.5699999928474426f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_align_corners_ceil) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "align_corners"), KT_STR("nearest_mode", "ceil")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, -0.5099999904632568f, -0.30000001192092896f, -0.05999999865889549f, -0.30000001192092896f, -0.05999999865889549f, 0.75f, -0.10000000149011612f, 0.75f, -0.10000000149011612f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_pytorch_half_pixel_round_prefer_floor) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "pytorch_half_pixel"), KT_STR("nearest_mode", "round_prefer_floor")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, 0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, 0.75f, 1.5700000524520874f, 0.75f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_pytorch_half_pixel_round_prefer_ceil) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "pytorch_half_pixel"), KT_STR("nearest_mode", "round_prefer_ceil")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, 0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, 0.75f, 1.5700000524520874f, 0.75f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_pytorch_half_pixel_floor) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "pytorch_half_pixel"), KT_STR("nearest_mode", "floor")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.3600000143051147f, 0.029999999329447746f, 1.3600000143051147f, 0.029999999329447746f, 1.3600000143051147f, -0.30000001192092896f, -0.5299999713897705f, 0.75f, -1.850000023841858f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_pytorch_half_pixel_ceil) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "pytorch_half_pixel"), KT_STR("nearest_mode", "ceil")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){1.3600000143051147f, 1.2200000286102295f, -0.5299999713897705f, 0.5699999928474426f, -0.5299999713897705f, 0.5699999928474426f, -1.850000023841858f, 1.5700000524520874f, -1.850000023841858f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_half_pixel_symmetric_round_prefer_floor) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "half_pixel_symmetric"), KT_STR("nearest_mode", "round_prefer_floor")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){1.3600000143051147f, 1.2200000286102295f, 1.3600000143051147f, 1.2200000286102295f, -0.5299999713897705f, 0.5699999928474426f, -1.850000023841858f, 1.5700000524520874f, -1.850000023841858f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_half_pixel_symmetric_round_prefer_ceil) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "half_pixel_symmetric"), KT_STR("nearest_mode", "round_prefer_ceil")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){1.3600000143051147f, 1.2200000286102295f, 1.3600000143051147f, 1.2200000286102295f, -0.5299999713897705f, 0.5699999928474426f, -1.850000023841858f, 1.5700000524520874f, -1.850000023841858f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_half_pixel_symmetric_floor) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "half_pixel_symmetric"), KT_STR("nearest_mode", "floor")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){0.029999999329447746f, 1.2200000286102295f, 0.029999999329447746f, 1.2200000286102295f, -0.30000001192092896f, 0.5699999928474426f, -0.30000001192092896f, 0.5699999928474426f, 0.75f, 1.5700000524520874f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_nearest_half_pixel_symmetric_ceil) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.7000000476837158f, 0.6000000238418579f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "half_pixel_symmetric"), KT_STR("nearest_mode", "ceil")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 2), (float[]){1.3600000143051147f, -0.5099999904632568f, -0.5299999713897705f, -0.05999999865889549f, -0.5299999713897705f, -0.05999999865889549f, -1.850000023841858f, -0.10000000149011612f, -1.850000023841858f, -0.10000000149011612f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_linear_half_pixel) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.5f, 0.75f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("coordinate_transformation_mode", "half_pixel")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 4, 3), (float[]){0.2516666650772095f, 1.2899999618530273f, -0.22166664898395538f, -0.04333333671092987f, 0.6550000309944153f, -0.08833332359790802f, -0.2291666716337204f, -0.00666665518656373f, 0.0672222226858139f, 0.20749999582767487f, -0.1133333221077919f, 0.15611112117767334f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_cubic_half_pixel) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 2, 1.25f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("coordinate_transformation_mode", "half_pixel")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 6, 5), (float[]){-0.025988085195422173f, 1.1722157001495361f, 1.73712158203125f, 0.7436631321907043f, -0.6696065068244934f, -0.14606758952140808f, 0.6759499907493591f, 1.2426501512527466f, 0.6411874294281006f, -0.4943769872188568f, -0.35866060853004456f, -0.1300809532403946f, 0.4317590594291687f, 0.4604225158691406f, -0.20448343455791473f, -0.04032640904188156f, -0.9621579051017761f, -0.16724607348442078f, 0.712510347366333f, -0.06714034080505371f, 0.629169762134552f, -1.3504021167755127f, -0.21610349416732788f, 1.2550954818725586f, -0.15990617871284485f, 1.0338774919509888f, -1.5981111526489258f, -0.25721311569213867f, 1.5829672813415527f, -0.2123347967863083f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_linear_asymmetric) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.5f, 0.75f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("coordinate_transformation_mode", "asymmetric")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 4, 3), (float[]){0.029999999329447746f, 1.3133333921432495f, 0.06666668504476547f, -0.1900000125169754f, 0.3288888931274414f, 0.12222222983837128f, 0.04999999329447746f, -0.34555554389953613f, 0.2522222399711609f, 0.75f, -0.7099999785423279f, 0.4566666781902313f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_cubic_asymmetric) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 2, 1.25f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("coordinate_transformation_mode", "asymmetric")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 6, 5), (float[]){0.029999999329447746f, 1.1393600702285767f, 1.556920051574707f, 0.5336401462554932f, -0.6760801076889038f, -0.23343750834465027f, 0.37764498591423035f, 0.8719075918197632f, 0.40959009528160095f, -0.385170042514801f, -0.30000001192092896f, -0.5951200723648071f, 0.1946801245212555f, 0.44436004757881165f, -0.1204799935221672f, 0.1940624862909317f, -1.32052743434906f, 0.0877300277352333f, 0.8595101237297058f, -0.1383124738931656f, 0.75f, -1.720719814300537f, 0.23619991540908813f, 1.2914001941680908f, -0.2603199779987335f, 0.848437488079071f, -1.8262447118759155f, 0.24009239673614502f, 1.3708101511001587f, -0.2734299600124359f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_linear_align_corners) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.5f, 0.75f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("coordinate_transformation_mode", "align_corners")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 4, 3), (float[]){0.029999999329447746f, 1.2899999618530273f, -0.5099999904632568f, -0.15857143700122833f, 0.5642857551574707f, -0.25285714864730835f, -0.15000000596046448f, -0.002857131650671363f, -0.0657142847776413f, 0.44999998807907104f, -0.09428570419549942f, -0.08857142925262451f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_cubic_align_corners) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 2, 1.25f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("coordinate_transformation_mode", "align_corners")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 6, 5), (float[]){0.029999999329447746f, 1.0734374523162842f, 1.5768749713897705f, 0.8132812976837158f, -0.5099999904632568f, -0.1736401915550232f, 0.5005054473876953f, 1.0078550577163696f, 0.6358683109283447f, -0.3325199484825134f, -0.3427199721336365f, -0.20179098844528198f, 0.3522404730319977f, 0.4939315617084503f, -0.13536015152931213f, -0.14687979221343994f, -0.9348529577255249f, -0.13846498727798462f, 0.6949567794799805f, -0.023840053007006645f, 0.31883999705314636f, -1.3429286479949951f, -0.22612415254116058f, 1.1413872241973877f, -0.05207986384630203f, 0.75f, -1.621640682220459f, -0.22718748450279236f, 1.5523438453674316f, -0.10000000149011612f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_linear_pytorch_half_pixel) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.5f, 0.75f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("coordinate_transformation_mode", "pytorch_half_pixel")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 4, 3), (float[]){0.2516666650772095f, 1.2899999618530273f, -0.22166664898395538f, -0.04333333671092987f, 0.6550000309944153f, -0.08833332359790802f, -0.2291666716337204f, -0.00666665518656373f, 0.0672222226858139f, 0.20749999582767487f, -0.1133333221077919f, 0.15611112117767334f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_cubic_pytorch_half_pixel) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 2, 1.25f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("coordinate_transformation_mode", "pytorch_half_pixel")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 6, 5), (float[]){-0.025988085195422173f, 1.1722157001495361f, 1.73712158203125f, 0.7436631321907043f, -0.6696065068244934f, -0.14606758952140808f, 0.6759499907493591f, 1.2426501512527466f, 0.6411874294281006f, -0.4943769872188568f, -0.35866060853004456f, -0.1300809532403946f, 0.4317590594291687f, 0.4604225158691406f, -0.20448343455791473f, -0.04032640904188156f, -0.9621579051017761f, -0.16724607348442078f, 0.712510347366333f, -0.06714034080505371f, 0.629169762134552f, -1.3504021167755127f, -0.21610349416732788f, 1.2550954818725586f, -0.15990617871284485f, 1.0338774919509888f, -1.5981111526489258f, -0.25721311569213867f, 1.5829672813415527f, -0.2123347967863083f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_linear_half_pixel_symmetric) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.5f, 0.75f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("coordinate_transformation_mode", "half_pixel_symmetric")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 4, 3), (float[]){0.2516666650772095f, 1.2899999618530273f, -0.22166664898395538f, -0.14166666567325592f, 0.44333335757255554f, -0.0438888855278492f, -0.12000000476837158f, -0.033333320170640945f, 0.08944444358348846f, 0.3166666626930237f, -0.13999998569488525f, 0.1783333420753479f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_cubic_half_pixel_symmetric) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 2, 1.25f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("coordinate_transformation_mode", "half_pixel_symmetric")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 6, 5), (float[]){-0.025988085195422173f, 1.1722157001495361f, 1.73712158203125f, 0.7436631321907043f, -0.6696065068244934f, -0.14606758952140808f, 0.6759499907493591f, 1.2426501512527466f, 0.6411874294281006f, -0.4943769872188568f, -0.35866060853004456f, -0.1300809532403946f, 0.4317590594291687f, 0.4604225158691406f, -0.20448343455791473f, -0.04032640904188156f, -0.9621579051017761f, -0.16724607348442078f, 0.712510347366333f, -0.06714034080505371f, 0.629169762134552f, -1.3504021167755127f, -0.21610349416732788f, 1.2550954818725586f, -0.15990617871284485f, 1.0338774919509888f, -1.5981111526489258f, -0.25721311569213867f, 1.5829672813415527f, -0.2123347967863083f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_cubic_exclude_outside_a05) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 0.800000011920929f, 1.600000023841858f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "cubic"), KT_INT("exclude_outside", 1), KT_FLOAT("cubic_coeff_a", -0.5)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 2, 6), (float[]){-0.09111598879098892f, 0.48132559657096863f, 1.251588225364685f, 1.3382771015167236f, 0.6736586093902588f, -0.415105938911438f, 0.15683260560035706f, -0.5178494453430176f, -1.1114999055862427f, 0.3672061264514923f, 0.7659330368041992f, -0.005936793051660061f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_linear_antialias) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 5, 7), (float[]){0.6800000071525574f, -0.14000000059604645f, -0.3799999952316284f, 0.46000000834465027f, 0.8199999928474426f, -0.20000000298023224f, -0.15000000596046448f, 0.6899999976158142f, -0.8700000047683716f, -1.5099999904632568f, 0.38999998569488525f, -0.6700000166893005f, -1.9199999570846558f, -0.8100000023841858f, -0.4699999988079071f, -1.190000057220459f, -1.4900000095367432f, 0.03999999910593033f, 0.8999999761581421f, -0.23000000417232513f, -0.7400000095367432f, 0.3799999952316284f, 0.7200000286102295f, -0.30000001192092896f, 0.5400000214576721f, 1.0399999618530273f, -0.20999999344348907f, -0.8100000023841858f, 0.3499999940395355f, 0.25f, 1.100000023841858f, -1.2799999713897705f, -0.6600000262260437f, -0.8399999737739563f, -1.7300000190734863f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 0.6000000238418579f, 0.44999998807907104f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 2, (qc_attr[]){KT_STR("mode", "linear"), KT_INT("antialias", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 3, 3), (float[]){0.01863635703921318f, -0.031713467091321945f, -0.4098626375198364f, -0.4806818664073944f, -0.18742822110652924f, -0.3529793322086334f, 0.4220595955848694f, -0.06494379043579102f, -0.7097939252853394f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_cubic_antialias_sizes) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 5, 7), (float[]){0.6800000071525574f, -0.14000000059604645f, -0.3799999952316284f, 0.46000000834465027f, 0.8199999928474426f, -0.20000000298023224f, -0.15000000596046448f, 0.6899999976158142f, -0.8700000047683716f, -1.5099999904632568f, 0.38999998569488525f, -0.6700000166893005f, -1.9199999570846558f, -0.8100000023841858f, -0.4699999988079071f, -1.190000057220459f, -1.4900000095367432f, 0.03999999910593033f, 0.8999999761581421f, -0.23000000417232513f, -0.7400000095367432f, 0.3799999952316284f, 0.7200000286102295f, -0.30000001192092896f, 0.5400000214576721f, 1.0399999618530273f, -0.20999999344348907f, -0.8100000023841858f, 0.3499999940395355f, 0.25f, 1.100000023841858f, -1.2799999713897705f, -0.6600000262260437f, -0.8399999737739563f, -1.7300000190734863f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in3 = kt_tensor(QC_I64, 1, KT_DIMS(4), (int64_t[]){1LL, 1LL, 3LL, 2LL});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 4, (const qc_tensor *[]){&in0, &in1, NULL, &in3}, 2, (qc_attr[]){KT_STR("mode", "cubic"), KT_INT("antialias", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 3, 2), (float[]){-0.04918745905160904f, -0.3529592752456665f, -0.4616634249687195f, -0.2558307647705078f, 0.3851504623889923f, -0.6054611206054688f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in3);
}
END_TEST

START_TEST(resize_tf_crop_and_resize_extrapolation) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(8), (float[]){0, 0, 0.4000000059604645f, -0.20000000298023224f, 1, 1, 1.2999999523162842f, 0.800000011920929f});
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){1, 1, 1.5f, 1.25f});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("coordinate_transformation_mode", "tf_crop_and_resize"), KT_FLOAT("extrapolation_value", 10.0)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 4, 5), (float[]){10, -0.2217000126838684f, -0.16019999980926514f, 0.4017999768257141f, 0.36000001430511475f, 10, -0.11622855812311172f, -0.8473713994026184f, 0.24408568441867828f, 0.501542866230011f, 10, 0.24094289541244507f, -1.404342770576477f, 0.3407713770866394f, 0.8018857836723328f, 10, 10, 10, 10, 10}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(resize_tf_crop_nearest_axes) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(4), (float[]){0.4000000059604645f, 0.20000000298023224f, 1.2999999523162842f, 0.8999999761581421f});
  qc_tensor in3 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){3LL, 4LL});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 4, (const qc_tensor *[]){&in0, &in1, NULL, &in3}, 4, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("coordinate_transformation_mode", "tf_crop_and_resize"), KT_FLOAT("extrapolation_value", -5.0), KT_INTS("axes", 3, 2)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 4, 3), (float[]){1.3600000143051147f, -0.5099999904632568f, -5, -0.5299999713897705f, -0.05999999865889549f, -5, -0.5299999713897705f, -0.05999999865889549f, -5, -1.850000023841858f, -0.10000000149011612f, -5}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in3);
}
END_TEST

START_TEST(resize_sizes_not_larger) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in3 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){5LL, 5LL});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 4, (const qc_tensor *[]){&in0, NULL, NULL, &in3}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_INTS("axes", 2, 3), KT_STR("keep_aspect_ratio_policy", "not_larger")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 4, 5), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, -0.30000001192092896f, -0.5299999713897705f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in3);
}
END_TEST

START_TEST(resize_sizes_not_smaller) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 1, 3, 4), (float[]){0.029999999329447746f, 1.3600000143051147f, 1.2200000286102295f, -0.5099999904632568f, -0.30000001192092896f, -0.5299999713897705f, 0.5699999928474426f, -0.05999999865889549f, 0.75f, -1.850000023841858f, 1.5700000524520874f, -0.10000000149011612f});
  qc_tensor in3 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){5LL, 5LL});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 4, (const qc_tensor *[]){&in0, NULL, NULL, &in3}, 3, (qc_attr[]){KT_STR("mode", "linear"), KT_INTS("axes", 2, 3), KT_STR("keep_aspect_ratio_policy", "not_smaller")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 7), (float[]){0.029999999329447746f, 0.5619999766349792f, 1.3600000143051147f, 1.2760000228881836f, 0.8740000128746033f, -0.1639999896287918f, -0.5099999904632568f, -0.10200000554323196f, 0.18039999902248383f, 0.6040000319480896f, 0.8176000118255615f, 0.7020000219345093f, -0.07199998944997787f, -0.32999998331069946f, -0.30000001192092896f, -0.3919999897480011f, -0.5299999713897705f, 0.1300000101327896f, 0.4440000057220459f, 0.06599999964237213f, -0.05999999865889549f, 0.32999998331069946f, -0.33079999685287476f, -1.3220000267028809f, 0.17320001125335693f, 0.9192000031471252f, 0.16680000722408295f, -0.08399999886751175f, 0.75f, -0.2900000214576721f, -1.850000023841858f, 0.20200002193450928f, 1.2360000610351562f, 0.23400001227855682f, -0.10000000149011612f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in3);
}
END_TEST

START_TEST(resize_uint8_linear) {
  qc_tensor in0 = kt_tensor(QC_U8, 2, KT_DIMS(2, 3), (uint8_t[]){0, 255, 10, 3, 200, 101});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 1, KT_DIMS(2), (float[]){1.5f, 2});
  kt_run r = kt_op_v(QC_OP_Resize, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 1, (qc_attr[]){KT_STR("mode", "linear")}, 1);
  kt_expect_ints(&r.out[0], QC_U8, 2, KT_DIMS(3, 6), (int64_t[]){0, 64, 191, 194, 71, 10, 2, 58, 171, 184, 98, 56, 3, 52, 151, 175, 126, 101});
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(upsample_nearest_opset9) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 2, 2), (float[]){0, 1, 2, 3});
  qc_tensor in1 = kt_tensor(QC_F32, 1, KT_DIMS(3), (float[]){1, 2, 3});
  kt_run r = kt_op_v(QC_OP_Upsample, 9, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_STR("mode", "nearest")}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(1, 4, 6), (float[]){0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 2, 2, 2, 3, 3, 3}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(col2im_2d) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 4, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){3LL, 3LL});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){2LL, 2LL});
  kt_run r = kt_op_v(QC_OP_Col2Im, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 3, 3), (float[]){0, 5, 5, 10, 30, 20, 10, 25, 15}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(col2im_strides_pads_dilations) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 2, 10), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){5LL, 4LL});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){2LL, 1LL});
  kt_run r = kt_op_v(QC_OP_Col2Im, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 3, (qc_attr[]){KT_INTS("strides", 2, 1), KT_INTS("pads", 1, 0, 0, 1), KT_INTS("dilations", 2, 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 1, 5, 4), (float[]){0, 0, 0, 0, 15, 17, 19, 21, 0, 0, 0, 0, 15, 16, 17, 18, 0, 0, 0, 0}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(affine_grid_2d) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 2, 3), (float[]){1, 0.20000000298023224f, 0.10000000149011612f, -0.30000001192092896f, 0.8999999761581421f, 0.05000000074505806f});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(4), (int64_t[]){1LL, 1LL, 2LL, 3LL});
  kt_run r = kt_op_v(QC_OP_AffineGrid, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 3, 2), (float[]){-0.6666666865348816f, -0.19999997317790985f, -1.1102230246251565e-16f, -0.3999999761581421f, 0.6666666865348816f, -0.6000000238418579f, -0.46666666865348816f, 0.699999988079071f, 0.20000000298023224f, 0.5f, 0.8666666746139526f, 0.29999998211860657f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(affine_grid_2d_align_corners) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 2, 3), (float[]){1, 0.20000000298023224f, 0.10000000149011612f, -0.30000001192092896f, 0.8999999761581421f, 0.05000000074505806f});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(4), (int64_t[]){1LL, 1LL, 3LL, 1LL});
  kt_run r = kt_op_v(QC_OP_AffineGrid, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 3, 1, 2), (float[]){-1.100000023841858f, -0.5499999523162842f, -0.8999999761581421f, 0.3500000238418579f, -0.699999988079071f, 1.25f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(affine_grid_3d) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 3, 4), (float[]){1, 0.20000000298023224f, 0.10000000149011612f, 0, -0.30000001192092896f, 0.8999999761581421f, 0.05000000074505806f, 0.10000000149011612f, 0, 0.10000000149011612f, 1.100000023841858f, -0.20000000298023224f});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(5), (int64_t[]){1LL, 1LL, 2LL, 2LL, 3LL});
  kt_run r = kt_op_v(QC_OP_AffineGrid, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 5, KT_DIMS(1, 2, 2, 3, 3), (float[]){-0.8166666626930237f, -0.17499998211860657f, -0.800000011920929f, -0.15000000596046448f, -0.375f, -0.800000011920929f, 0.5166666507720947f, -0.574999988079071f, -0.800000011920929f, -0.6166666746139526f, 0.7250000238418579f, -0.699999988079071f, 0.05000000074505806f, 0.5249999761581421f, -0.699999988079071f, 0.7166666388511658f, 0.32499998807907104f, -0.699999988079071f, -0.7166666388511658f, -0.12499997764825821f, 0.30000001192092896f, -0.05000000074505806f, -0.32499998807907104f, 0.30000001192092896f, 0.6166666746139526f, -0.5249999761581421f, 0.30000001192092896f, -0.5166666507720947f, 0.7749999761581421f, 0.4000000059604645f, 0.15000000596046448f, 0.574999988079071f, 0.4000000059604645f, 0.8166666626930237f, 0.3749999701976776f, 0.4000000059604645f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_linear_zeros_ac0) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("padding_mode", "zeros"), KT_INT("align_corners", 0)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.008449992164969444f, 0.535330057144165f, 0.4137499928474426f, 0, -0.2618001699447632f, 0.5149999856948853f, 0.02274997904896736f, -0.366985023021698f, 0.0925000011920929f, 0, 0.02695000357925892f, -0.26999998092651367f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_linear_zeros_ac1) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("padding_mode", "zeros"), KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.13930000364780426f, 0.521090030670166f, 0.16625000536441803f, 0.22770000994205475f, -0.14940007030963898f, 0.5149999856948853f, 0.2190999835729599f, -0.358455091714859f, -0.01750001311302185f, 0.38390016555786133f, 0.22860002517700195f, -0.26999998092651367f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_linear_border_ac0) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("padding_mode", "border"), KT_INT("align_corners", 0)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.12999999523162842f, 0.535330057144165f, 0.4137499928474426f, 0.14099979400634766f, -0.7480001449584961f, 0.5149999856948853f, 0.3499999940395355f, -0.366985023021698f, 0.0925000011920929f, 0.7470000982284546f, 0.0769999772310257f, -0.26999998092651367f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_linear_border_ac1) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("padding_mode", "border"), KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.19900000095367432f, 0.521090030670166f, 0.16625000536441803f, 0.41399985551834106f, -0.16600006818771362f, 0.5149999856948853f, 0.31299999356269836f, -0.358455091714859f, -0.01750001311302185f, 0.6980000734329224f, 0.2540000081062317f, -0.26999998092651367f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_linear_reflection_ac0) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("padding_mode", "reflection"), KT_INT("align_corners", 0)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.12999999523162842f, 0.535330057144165f, 0.4137499928474426f, 0.17289981245994568f, -0.7480001449584961f, 0.5149999856948853f, 0.3499999940395355f, -0.366985023021698f, 0.0925000011920929f, 0.5951001644134521f, 0.0769999772310257f, -0.26999998092651367f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_linear_reflection_ac1) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "linear"), KT_STR("padding_mode", "reflection"), KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.3013000190258026f, 0.521090030670166f, 0.16625000536441803f, 0.42569994926452637f, -0.07880014181137085f, 0.5149999856948853f, 0.16179995238780975f, -0.358455091714859f, -0.01750001311302185f, 0.020300336182117462f, 0.24819999933242798f, -0.26999998092651367f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_nearest_zeros_ac0) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("padding_mode", "zeros"), KT_INT("align_corners", 0)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0, 0.4000000059604645f, -0.7400000095367432f, 0, 0, 0.4000000059604645f, 0, -0.8799999952316284f, 0.7799999713897705f, 0, 0, -0.8799999952316284f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_nearest_zeros_ac1) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("padding_mode", "zeros"), KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.12999999523162842f, 0.4000000059604645f, -0.7400000095367432f, 0.9599999785423279f, 0.6100000143051147f, 0.4000000059604645f, 0.3499999940395355f, -0.8799999952316284f, 0.7799999713897705f, 0.6000000238418579f, 0.49000000953674316f, -0.8799999952316284f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_nearest_border_ac0) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("padding_mode", "border"), KT_INT("align_corners", 0)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.12999999523162842f, 0.4000000059604645f, -0.7400000095367432f, 0.9599999785423279f, -1.3300000429153442f, 0.4000000059604645f, 0.3499999940395355f, -0.8799999952316284f, 0.7799999713897705f, 0.6000000238418579f, -0.10000000149011612f, -0.8799999952316284f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_nearest_border_ac1) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("padding_mode", "border"), KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.12999999523162842f, 0.4000000059604645f, -0.7400000095367432f, 0.9599999785423279f, 0.6100000143051147f, 0.4000000059604645f, 0.3499999940395355f, -0.8799999952316284f, 0.7799999713897705f, 0.6000000238418579f, 0.49000000953674316f, -0.8799999952316284f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_nearest_reflection_ac0) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("padding_mode", "reflection"), KT_INT("align_corners", 0)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.12999999523162842f, 0.4000000059604645f, -0.7400000095367432f, 0.9599999785423279f, -1.3300000429153442f, 0.4000000059604645f, 0.3499999940395355f, -0.8799999952316284f, 0.7799999713897705f, 0.6000000238418579f, -0.10000000149011612f, -0.8799999952316284f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_nearest_reflection_ac1) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("padding_mode", "reflection"), KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.12999999523162842f, 0.4000000059604645f, -0.7400000095367432f, 0.9599999785423279f, 0.6100000143051147f, 0.4000000059604645f, 0.3499999940395355f, -0.8799999952316284f, 0.7799999713897705f, 0.6000000238418579f, 0.49000000953674316f, -0.8799999952316284f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_cubic_zeros_ac0) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("padding_mode", "zeros"), KT_INT("align_corners", 0)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){-0.0014069541357457638f, 0.854343593120575f, 0.5178453922271729f, -0.0040878597646951675f, -0.4189464747905731f, 0.44468751549720764f, 0.025929860770702362f, -0.696095883846283f, 0.1358923465013504f, -0.0548492968082428f, 0.0316644012928009f, -0.3749999701976776f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_cubic_zeros_ac1) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("padding_mode", "zeros"), KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.11082173883914948f, 0.7406392097473145f, 0.11513059586286545f, 0.2034468948841095f, -0.2802020311355591f, 0.44468751549720764f, 0.3078552484512329f, -0.6723948121070862f, -0.012010470032691956f, 0.635600209236145f, 0.3351609408855438f, -0.3749999701976776f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_cubic_border_ac0) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("padding_mode", "border"), KT_INT("align_corners", 0)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.05347498133778572f, 0.7656471729278564f, 0.3522045612335205f, 0.1509239673614502f, -0.7882680892944336f, 0.44468751549720764f, 0.3910352885723114f, -0.6601035594940186f, 0.1329040676355362f, 0.8513692021369934f, 0.11233244091272354f, -0.3749999701976776f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_cubic_border_ac1) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("padding_mode", "border"), KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.20109237730503082f, 0.6869004368782043f, 0.09693358093500137f, 0.4382392466068268f, -0.14164021611213684f, 0.44468751549720764f, 0.32019996643066406f, -0.654497504234314f, -0.06915409862995148f, 0.7860804200172424f, 0.37016013264656067f, -0.3749999701976776f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_cubic_reflection_ac0) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("padding_mode", "reflection"), KT_INT("align_corners", 0)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){-0.02152610570192337f, 0.7656471729278564f, 0.3522045612335205f, 0.1858656406402588f, -1.0554884672164917f, 0.44468751549720764f, 0.464687705039978f, -0.6601035594940186f, 0.1329040676355362f, 0.6931121349334717f, 0.10793838649988174f, -0.3749999701976776f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_cubic_reflection_ac1) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 4), (float[]){0.12999999523162842f, 0.5299999713897705f, -0.7400000095367432f, 1.3899999856948853f, 0.8199999928474426f, 0.6299999952316284f, 0.4000000059604645f, 0.9599999785423279f, -1.3300000429153442f, 0.6100000143051147f, 0.6000000238418579f, -1.7699999809265137f, 0.3499999940395355f, -0.25f, 0.7799999713897705f, -0.4399999976158142f, -0.019999999552965164f, 0.3400000035762787f, -0.8799999952316284f, 0.6000000238418579f, -0.10000000149011612f, 0.49000000953674316f, -0.5199999809265137f, 1.090000033378601f});
  qc_tensor in1 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 3, 2), (float[]){-1.2000000476837158f, -0.8999999761581421f, 0.10000000149011612f, 0.33000001311302185f, 0.5f, -0.5f, 1.2999999523162842f, 0.20000000298023224f, -0.6000000238418579f, 1.100000023841858f, 0, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "cubic"), KT_STR("padding_mode", "reflection"), KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 2, 3), (float[]){0.2811671495437622f, 0.7185795903205872f, 0.07523927092552185f, 0.42591172456741333f, -0.25782081484794617f, 0.44468751549720764f, 0.19826601445674896f, -0.6386609077453613f, 0.046612560749053955f, 0.0781959742307663f, 0.32986482977867126f, -0.3749999701976776f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_3d_linear) {
  qc_tensor in0 = kt_tensor(QC_F32, 5, KT_DIMS(1, 1, 2, 3, 4), (float[]){0.6100000143051147f, -0.18000000715255737f, 0.6299999952316284f, 1.2599999904632568f, 1.7899999618530273f, -1.5700000524520874f, 0.8799999952316284f, 0.4699999988079071f, -0.09000000357627869f, -1.0099999904632568f, 1.2599999904632568f, -1.2599999904632568f, 0.5699999928474426f, 1.2999999523162842f, -1.600000023841858f, -0.30000001192092896f, -1.309999942779541f, 0.23999999463558197f, 1.5099999904632568f, 2.0199999809265137f, -1.7799999713897705f, -0.5699999928474426f, 0.699999988079071f, 1.5800000429153442f});
  qc_tensor in1 = kt_tensor(QC_F32, 5, KT_DIMS(1, 1, 1, 2, 3), (float[]){-0.800000011920929f, 0.30000001192092896f, 1.2000000476837158f, 0.25f, -0.4000000059604645f, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_STR("mode", "linear")}, 1);
  kt_expect_f32(&r.out[0], 5, KT_DIMS(1, 1, 1, 1, 2), (float[]){-0.4108048975467682f, 0.18700003623962402f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(grid_sample_3d_nearest_border) {
  qc_tensor in0 = kt_tensor(QC_F32, 5, KT_DIMS(1, 1, 2, 3, 4), (float[]){0.41999998688697815f, -0.75f, 0.30000001192092896f, -0.019999999552965164f, -0.20000000298023224f, -0.7300000190734863f, 0.38999998569488525f, 0.3100000023841858f, -0.09000000357627869f, -0.2199999988079071f, -1.2799999713897705f, -0.49000000953674316f, 1.2100000381469727f, -0.1899999976158142f, -1.440000057220459f, 1.3300000429153442f, 0.5299999713897705f, 2.109999895095825f, 0.05999999865889549f, -0.46000000834465027f, -1.4500000476837158f, 1.3200000524520874f, 2.569999933242798f, -0.8199999928474426f});
  qc_tensor in1 = kt_tensor(QC_F32, 5, KT_DIMS(1, 1, 1, 2, 3), (float[]){-0.800000011920929f, 0.30000001192092896f, 1.2000000476837158f, 0.25f, -0.4000000059604645f, 0});
  kt_run r = kt_op_v(QC_OP_GridSample, 0, 2, (const qc_tensor *[]){&in0, &in1}, 3, (qc_attr[]){KT_STR("mode", "nearest"), KT_STR("padding_mode", "border"), KT_INT("align_corners", 1)}, 1);
  kt_expect_f32(&r.out[0], 5, KT_DIMS(1, 1, 1, 1, 2), (float[]){0.5299999713897705f, 0.38999998569488525f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(nms_two_classes_threshold) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 6, 4), (float[]){0, 0, 1, 1, 0, 0.10000000149011612f, 1, 1.100000023841858f, 0, -0.10000000149011612f, 1, 0.8999999761581421f, 0, 10, 1, 11, 1, 1, 0, 0, 0, 100, 1, 101});
  qc_tensor in1 = kt_tensor(QC_F32, 3, KT_DIMS(1, 2, 6), (float[]){0.8999999761581421f, 0.75f, 0.6000000238418579f, 0.949999988079071f, 0.5f, 0.30000001192092896f, 0.10000000149011612f, 0.20000000298023224f, 0.30000001192092896f, 0.4000000059604645f, 0.5f, 0.6000000238418579f});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(1), (int64_t[]){2LL});
  qc_tensor in3 = kt_tensor(QC_F32, 1, KT_DIMS(1), (float[]){0.5f});
  qc_tensor in4 = kt_tensor(QC_F32, 1, KT_DIMS(1), (float[]){0.25f});
  kt_run r = kt_op_v(QC_OP_NonMaxSuppression, 0, 5, (const qc_tensor *[]){&in0, &in1, &in2, &in3, &in4}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_i64(&r.out[0], 2, KT_DIMS(4, 3), (int64_t[]){0LL, 0LL, 3LL, 0LL, 0LL, 0LL, 0LL, 1LL, 5LL, 0LL, 1LL, 4LL});
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
  qc_tensor_release(&in3);
  qc_tensor_release(&in4);
}
END_TEST

START_TEST(nms_no_score_threshold) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 6, 4), (float[]){0, 0, 1, 1, 0, 0.10000000149011612f, 1, 1.100000023841858f, 0, -0.10000000149011612f, 1, 0.8999999761581421f, 0, 10, 1, 11, 1, 1, 0, 0, 0, 100, 1, 101});
  qc_tensor in1 = kt_tensor(QC_F32, 3, KT_DIMS(1, 2, 6), (float[]){0.8999999761581421f, 0.75f, 0.6000000238418579f, 0.949999988079071f, 0.5f, 0.30000001192092896f, 0.10000000149011612f, 0.20000000298023224f, 0.30000001192092896f, 0.4000000059604645f, 0.5f, 0.6000000238418579f});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(1), (int64_t[]){10LL});
  qc_tensor in3 = kt_tensor(QC_F32, 1, KT_DIMS(1), (float[]){0.5f});
  kt_run r = kt_op_v(QC_OP_NonMaxSuppression, 0, 4, (const qc_tensor *[]){&in0, &in1, &in2, &in3}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_i64(&r.out[0], 2, KT_DIMS(6, 3), (int64_t[]){0LL, 0LL, 3LL, 0LL, 0LL, 0LL, 0LL, 0LL, 5LL, 0LL, 1LL, 5LL, 0LL, 1LL, 4LL, 0LL, 1LL, 3LL});
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
  qc_tensor_release(&in3);
}
END_TEST

START_TEST(nms_center_point_box) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 4, 4), (float[]){0.5f, 0.5f, 1, 1, 0.5f, 0.6000000238418579f, 1, 1, 0.5f, 0.4000000059604645f, 1, 1, 0.5f, 10.5f, 1, 1});
  qc_tensor in1 = kt_tensor(QC_F32, 3, KT_DIMS(1, 1, 4), (float[]){0.8999999761581421f, 0.75f, 0.6000000238418579f, 0.949999988079071f});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(1), (int64_t[]){3LL});
  qc_tensor in3 = kt_tensor(QC_F32, 1, KT_DIMS(1), (float[]){0.5f});
  qc_tensor in4 = kt_tensor(QC_F32, 1, KT_DIMS(1), (float[]){0});
  kt_run r = kt_op_v(QC_OP_NonMaxSuppression, 0, 5, (const qc_tensor *[]){&in0, &in1, &in2, &in3, &in4}, 1, (qc_attr[]){KT_INT("center_point_box", 1)}, 1);
  kt_expect_i64(&r.out[0], 2, KT_DIMS(2, 3), (int64_t[]){0LL, 0LL, 3LL, 0LL, 0LL, 0LL});
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
  qc_tensor_release(&in3);
  qc_tensor_release(&in4);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_tensor_resize");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, resize_nearest_copies_int64_exactly);
  tcase_add_test(tc, resize_needs_one_of_scales_and_sizes);
  tcase_add_test(tc, resize_tf_half_pixel_for_nn_opset11);
  tcase_add_test(tc, resize_nearest_half_pixel_round_prefer_floor);
  tcase_add_test(tc, resize_nearest_half_pixel_round_prefer_ceil);
  tcase_add_test(tc, resize_nearest_half_pixel_floor);
  tcase_add_test(tc, resize_nearest_half_pixel_ceil);
  tcase_add_test(tc, resize_nearest_asymmetric_round_prefer_floor);
  tcase_add_test(tc, resize_nearest_asymmetric_round_prefer_ceil);
  tcase_add_test(tc, resize_nearest_asymmetric_floor);
  tcase_add_test(tc, resize_nearest_asymmetric_ceil);
  tcase_add_test(tc, resize_nearest_align_corners_round_prefer_floor);
  tcase_add_test(tc, resize_nearest_align_corners_round_prefer_ceil);
  tcase_add_test(tc, resize_nearest_align_corners_floor);
  tcase_add_test(tc, resize_nearest_align_corners_ceil);
  tcase_add_test(tc, resize_nearest_pytorch_half_pixel_round_prefer_floor);
  tcase_add_test(tc, resize_nearest_pytorch_half_pixel_round_prefer_ceil);
  tcase_add_test(tc, resize_nearest_pytorch_half_pixel_floor);
  tcase_add_test(tc, resize_nearest_pytorch_half_pixel_ceil);
  tcase_add_test(tc, resize_nearest_half_pixel_symmetric_round_prefer_floor);
  tcase_add_test(tc, resize_nearest_half_pixel_symmetric_round_prefer_ceil);
  tcase_add_test(tc, resize_nearest_half_pixel_symmetric_floor);
  tcase_add_test(tc, resize_nearest_half_pixel_symmetric_ceil);
  tcase_add_test(tc, resize_linear_half_pixel);
  tcase_add_test(tc, resize_cubic_half_pixel);
  tcase_add_test(tc, resize_linear_asymmetric);
  tcase_add_test(tc, resize_cubic_asymmetric);
  tcase_add_test(tc, resize_linear_align_corners);
  tcase_add_test(tc, resize_cubic_align_corners);
  tcase_add_test(tc, resize_linear_pytorch_half_pixel);
  tcase_add_test(tc, resize_cubic_pytorch_half_pixel);
  tcase_add_test(tc, resize_linear_half_pixel_symmetric);
  tcase_add_test(tc, resize_cubic_half_pixel_symmetric);
  tcase_add_test(tc, resize_cubic_exclude_outside_a05);
  tcase_add_test(tc, resize_linear_antialias);
  tcase_add_test(tc, resize_cubic_antialias_sizes);
  tcase_add_test(tc, resize_tf_crop_and_resize_extrapolation);
  tcase_add_test(tc, resize_tf_crop_nearest_axes);
  tcase_add_test(tc, resize_sizes_not_larger);
  tcase_add_test(tc, resize_sizes_not_smaller);
  tcase_add_test(tc, resize_uint8_linear);
  tcase_add_test(tc, upsample_nearest_opset9);
  tcase_add_test(tc, col2im_2d);
  tcase_add_test(tc, col2im_strides_pads_dilations);
  tcase_add_test(tc, affine_grid_2d);
  tcase_add_test(tc, affine_grid_2d_align_corners);
  tcase_add_test(tc, affine_grid_3d);
  tcase_add_test(tc, grid_sample_linear_zeros_ac0);
  tcase_add_test(tc, grid_sample_linear_zeros_ac1);
  tcase_add_test(tc, grid_sample_linear_border_ac0);
  tcase_add_test(tc, grid_sample_linear_border_ac1);
  tcase_add_test(tc, grid_sample_linear_reflection_ac0);
  tcase_add_test(tc, grid_sample_linear_reflection_ac1);
  tcase_add_test(tc, grid_sample_nearest_zeros_ac0);
  tcase_add_test(tc, grid_sample_nearest_zeros_ac1);
  tcase_add_test(tc, grid_sample_nearest_border_ac0);
  tcase_add_test(tc, grid_sample_nearest_border_ac1);
  tcase_add_test(tc, grid_sample_nearest_reflection_ac0);
  tcase_add_test(tc, grid_sample_nearest_reflection_ac1);
  tcase_add_test(tc, grid_sample_cubic_zeros_ac0);
  tcase_add_test(tc, grid_sample_cubic_zeros_ac1);
  tcase_add_test(tc, grid_sample_cubic_border_ac0);
  tcase_add_test(tc, grid_sample_cubic_border_ac1);
  tcase_add_test(tc, grid_sample_cubic_reflection_ac0);
  tcase_add_test(tc, grid_sample_cubic_reflection_ac1);
  tcase_add_test(tc, grid_sample_3d_linear);
  tcase_add_test(tc, grid_sample_3d_nearest_border);
  tcase_add_test(tc, nms_two_classes_threshold);
  tcase_add_test(tc, nms_no_score_threshold);
  tcase_add_test(tc, nms_center_point_box);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
