/* Interpreter kernels for tensor manipulation (runtime/k_tensor.c): shapes and views,
 * layouts, padding, selection and sorting, for several dtypes (sub-byte and strings
 * included). Expected values come from the ONNX reference implementation (numpy). */
#include "unit/ktest_graph.h"

/* A tensor of a sub-byte integer dtype from int64 values. */
static qc_tensor small_ints(qc_dtype dt, int32_t rank, const int64_t *dims, const int64_t *v) {
  qc_tensor t;
  kt_ok(qc_tensor_alloc(&t, NULL, dt, rank, dims));
  for (int64_t i = 0; i < qc_tensor_numel(&t); i++) qc_elem_set_i64(dt, qc_tensor_data(&t), (size_t)i, v[i]);
  return t;
}

START_TEST(pad_negative_pads_crop) {
  /* numpy.pad rejects negative widths, so this one is worked by hand: crop row 0 and the
   * last two columns, then pad one column in front. */
  qc_tensor x = kt_iota_f32(2, KT_DIMS(3, 4)), p = kt_i64(1, KT_DIMS(4), (int64_t[]){-1, 1, 0, -2});
  kt_run r = kt_op(QC_OP_Pad, 2, (const qc_tensor *[]){&x, &p}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){0, 4, 5, 0, 8, 9}, 0);
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&p);
}
END_TEST

START_TEST(reshape_family_returns_views) {
  qc_tensor x = kt_iota_f32(3, KT_DIMS(2, 1, 3)), sh = kt_i64(1, KT_DIMS(2), (int64_t[]){3, 2});
  kt_run r = kt_op(QC_OP_Reshape, 2, (const qc_tensor *[]){&x, &sh}, 0, NULL, 1);
  ck_assert_ptr_eq(qc_tensor_data(&r.out[0].t), qc_tensor_data(&x));
  kt_done(&r);
  r = kt_op(QC_OP_Squeeze, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_shape(&r.out[0], QC_F32, 2, KT_DIMS(2, 3));
  ck_assert_ptr_eq(qc_tensor_data(&r.out[0].t), qc_tensor_data(&x));
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&sh);
}
END_TEST

START_TEST(transpose_int4) {
  qc_tensor x = small_ints(QC_I4, 2, KT_DIMS(2, 3), (int64_t[]){-8, -1, 0, 1, 7, 3});
  kt_run r = kt_op(QC_OP_Transpose, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_I4, 2, KT_DIMS(3, 2), (int64_t[]){-8, 1, -1, 7, 0, 3});
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

START_TEST(concat_and_slice_uint4_odd_offsets) {
  qc_tensor a = small_ints(QC_U4, 1, KT_DIMS(3), (int64_t[]){1, 2, 3});
  qc_tensor b = small_ints(QC_U4, 1, KT_DIMS(2), (int64_t[]){14, 15});
  kt_run r = kt_op(QC_OP_Concat, 2, (const qc_tensor *[]){&a, &b}, 1, (qc_attr[]){KT_INT("axis", 0)}, 1);
  kt_expect_ints(&r.out[0], QC_U4, 1, KT_DIMS(5), (int64_t[]){1, 2, 3, 14, 15});
  kt_done(&r);
  qc_tensor st = kt_i64(1, KT_DIMS(1), (int64_t[]){-1}), en = kt_i64(1, KT_DIMS(1), (int64_t[]){-100});
  qc_tensor ax = kt_i64(1, KT_DIMS(1), (int64_t[]){0}), sp = kt_i64(1, KT_DIMS(1), (int64_t[]){-2});
  r = kt_op(QC_OP_Slice, 5, (const qc_tensor *[]){&a, &st, &en, &ax, &sp}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_U4, 1, KT_DIMS(2), (int64_t[]){3, 1});
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&st);
  qc_tensor_release(&en);
  qc_tensor_release(&ax);
  qc_tensor_release(&sp);
}
END_TEST

START_TEST(pad_and_expand_strings) {
  qc_tensor x = kt_tensor(QC_STRING, 1, KT_DIMS(2), (const char *[]){"a", "bc"});
  qc_tensor p = kt_i64(1, KT_DIMS(2), (int64_t[]){1, 2});
  qc_tensor v = kt_tensor(QC_STRING, 0, NULL, (const char *[]){"pad"});
  kt_run r = kt_op(QC_OP_Pad, 3, (const qc_tensor *[]){&x, &p, &v}, 0, NULL, 1);
  kt_expect_strings(&r.out[0], 1, KT_DIMS(5), (const char *[]){"pad", "a", "bc", "pad", "pad"});
  kt_done(&r);
  r = kt_op(QC_OP_Pad, 2, (const qc_tensor *[]){&x, &p}, 1, (qc_attr[]){KT_STR("mode", "reflect")}, 1);
  kt_expect_strings(&r.out[0], 1, KT_DIMS(5), (const char *[]){"bc", "a", "bc", "a", "bc"});
  kt_done(&r);
  qc_tensor sh = kt_i64(1, KT_DIMS(2), (int64_t[]){2, 1});
  r = kt_op(QC_OP_Expand, 2, (const qc_tensor *[]){&x, &sh}, 0, NULL, 1);
  kt_expect_strings(&r.out[0], 2, KT_DIMS(2, 2), (const char *[]){"a", "bc", "a", "bc"});
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&p);
  qc_tensor_release(&v);
  qc_tensor_release(&sh);
}
END_TEST

START_TEST(transpose_large_runs_in_parallel) {
  /* Big enough for the mapped gather to split rows over threads. */
  qc_tensor x = kt_iota_f32(3, KT_DIMS(300, 3, 257));
  kt_run r = kt_op(QC_OP_Transpose, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_INTS("perm", 2, 0, 1)}, 1);
  kt_expect_shape(&r.out[0], QC_F32, 3, KT_DIMS(257, 300, 3));
  const float *y = qc_tensor_data(&r.out[0].t);
  for (int64_t c = 0; c < 257; c++)
    for (int64_t a = 0; a < 300; a++)
      for (int64_t b = 0; b < 3; b++)
        ck_assert_float_eq(y[(c * 300 + a) * 3 + b], (float)((a * 3 + b) * 257 + c));
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

START_TEST(scatter_opset10) {
  /* Scatter (opset 9-10) has no reference implementation: worked by hand. */
  qc_tensor d = kt_f32(2, KT_DIMS(2, 3), (float[]){0, 0, 0, 0, 0, 0});
  qc_tensor i = kt_i64(2, KT_DIMS(1, 3), (int64_t[]){1, 0, 1});
  qc_tensor u = kt_f32(2, KT_DIMS(1, 3), (float[]){5, 6, 7});
  kt_run r = kt_op_v(QC_OP_Scatter, 10, 3, (const qc_tensor *[]){&d, &i, &u}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){0, 6, 0, 5, 0, 7}, 0);
  kt_done(&r);
  qc_tensor_release(&d);
  qc_tensor_release(&i);
  qc_tensor_release(&u);
}
END_TEST

START_TEST(errors_name_the_node) {
  qc_tensor x = kt_iota_f32(2, KT_DIMS(2, 3));
  qc_tensor sh = kt_i64(1, KT_DIMS(2), (int64_t[]){-1, -1});
  kt_expect_error(QC_OP_Reshape, 0, 2, (const qc_tensor *[]){&x, &sh}, 0, NULL, 1, "more than one -1");
  qc_tensor idx = kt_i64(1, KT_DIMS(1), (int64_t[]){3});
  kt_expect_error(QC_OP_Gather, 0, 2, (const qc_tensor *[]){&x, &idx}, 1,
                  (qc_attr[]){KT_INT("axis", 1)}, 1, "index 3 is out of range");
  qc_tensor sp = kt_i64(1, KT_DIMS(2), (int64_t[]){1, 1});
  kt_expect_error(QC_OP_Split, 0, 2, (const qc_tensor *[]){&x, &sp}, 1,
                  (qc_attr[]){KT_INT("axis", 1)}, 2, "split sums to 2");
  kt_expect_error(QC_OP_Transpose, 0, 1, (const qc_tensor *[]){&x}, 1,
                  (qc_attr[]){KT_INTS("perm", 0, 0)}, 1, "not a permutation");
  qc_tensor_release(&x);
  qc_tensor_release(&sh);
  qc_tensor_release(&idx);
  qc_tensor_release(&sp);
}
END_TEST

START_TEST(onehot_out_of_range_is_all_off) {
  /* The spec: indices outside [-depth, depth-1] give all off values (the reference
   * implementation wraps them instead; onnxruntime follows the spec). */
  qc_tensor i = kt_i64(1, KT_DIMS(3), (int64_t[]){3, -4, -3});
  qc_tensor d = kt_i64(0, NULL, (int64_t[]){3});
  qc_tensor v = kt_f32(1, KT_DIMS(2), (float[]){0, 1});
  kt_run r = kt_op(QC_OP_OneHot, 3, (const qc_tensor *[]){&i, &d, &v}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 3), (float[]){0, 0, 0, 0, 0, 0, 1, 0, 0}, 0);
  kt_done(&r);
  qc_tensor_release(&i);
  qc_tensor_release(&d);
  qc_tensor_release(&v);
}
END_TEST

START_TEST(slice_extreme_steps_and_tile_overflow) {
  qc_tensor x = kt_iota_f32(1, KT_DIMS(5));
  qc_tensor st = kt_i64(1, KT_DIMS(1), (int64_t[]){-1}), en = kt_i64(1, KT_DIMS(1), (int64_t[]){INT64_MIN});
  qc_tensor ax = kt_i64(1, KT_DIMS(1), (int64_t[]){0}), sp = kt_i64(1, KT_DIMS(1), (int64_t[]){INT64_MIN});
  kt_run r = kt_op(QC_OP_Slice, 5, (const qc_tensor *[]){&x, &st, &en, &ax, &sp}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(1), (float[]){4}, 0);
  kt_done(&r);
  qc_tensor rep = kt_i64(1, KT_DIMS(1), (int64_t[]){INT64_MAX / 2});
  kt_expect_error(QC_OP_Tile, 0, 2, (const qc_tensor *[]){&x, &rep}, 0, NULL, 1, "too large");
  qc_tensor_release(&x);
  qc_tensor_release(&st);
  qc_tensor_release(&en);
  qc_tensor_release(&ax);
  qc_tensor_release(&sp);
  qc_tensor_release(&rep);
}
END_TEST

START_TEST(transpose_all_perms_all_widths) {
  /* Every permutation of a [5, 37, 3, 41] tensor, for 1/2/4/8-byte elements, against a naive
   * index computation: covers the row-copy, gathered-row and tiled paths. */
  static const qc_dtype dts[4] = {QC_U8, QC_F16, QC_I32, QC_I64};
  int64_t dims[4] = {5, 37, 3, 41}, st[4] = {37 * 3 * 41, 3 * 41, 41, 1};
  for (int t = 0; t < 4; t++) {
    qc_tensor x;
    kt_ok(qc_tensor_alloc(&x, NULL, dts[t], 4, dims));
    int64_t n = qc_tensor_numel(&x);
    for (int64_t i = 0; i < n; i++) qc_elem_set_code(dts[t], qc_tensor_data(&x), (size_t)i, (uint64_t)(i * 7 + 3) & 0x7fff);
    int64_t perm[4] = {0, 1, 2, 3};
    for (int np = 0; np < 24; np++) {
      /* the np-th permutation, by Lehmer code */
      int64_t pool[4] = {0, 1, 2, 3}, c = np;
      for (int i = 0, f = 6; i < 4; i++) {
        int64_t q = c / f;
        c %= f;
        perm[i] = pool[q];
        for (int64_t j = q; j < 3 - i; j++) pool[j] = pool[j + 1];
        f = i < 3 ? f / (3 - i) : 1;
      }
      kt_run r = kt_op(QC_OP_Transpose, 1, (const qc_tensor *[]){&x}, 1,
                       (qc_attr[]){KT_INTS("perm", perm[0], perm[1], perm[2], perm[3])}, 1);
      const qc_tensor *y = &r.out[0].t;
      for (int d = 0; d < 4; d++) ck_assert_int_eq(y->dims[d], dims[perm[d]]);
      int64_t o = 0;
      for (int64_t a = 0; a < y->dims[0]; a++)
        for (int64_t b = 0; b < y->dims[1]; b++)
          for (int64_t cc = 0; cc < y->dims[2]; cc++)
            for (int64_t e = 0; e < y->dims[3]; e++, o++) {
              int64_t src = a * st[perm[0]] + b * st[perm[1]] + cc * st[perm[2]] + e * st[perm[3]];
              ck_assert_msg(qc_elem_code(dts[t], qc_tensor_data(y), (size_t)o) ==
                                qc_elem_code(dts[t], qc_tensor_data(&x), (size_t)src),
                            "dtype %s perm %lld%lld%lld%lld element %lld", qc_dtype_name(dts[t]),
                            (long long)perm[0], (long long)perm[1], (long long)perm[2],
                            (long long)perm[3], (long long)o);
            }
      kt_done(&r);
    }
    qc_tensor_release(&x);
  }
}
END_TEST

START_TEST(topk_heap_path_ties_and_64bit_keys) {
  /* dim 100 with k 5 takes the heap selection; x[i] = i % 7 has many ties, which must come
   * out lowest index first. */
  float xf[100];
  int64_t xi[100];
  uint64_t xu[100];
  for (int i = 0; i < 100; i++) {
    xf[i] = (float)(i % 7);
    xi[i] = (int64_t)(i % 7) - 3 + (i % 7 == 6 ? INT64_MAX - 3 : 0);
    xu[i] = (uint64_t)(i % 7) + (i % 7 == 6 ? UINT64_MAX - 6 : 0);
  }
  qc_tensor tf = kt_f32(1, KT_DIMS(100), xf), ti = kt_i64(1, KT_DIMS(100), xi);
  qc_tensor tu = kt_tensor(QC_U64, 1, KT_DIMS(100), xu), k5 = kt_i64(1, KT_DIMS(1), (int64_t[]){5});
  kt_run r = kt_op(QC_OP_TopK, 2, (const qc_tensor *[]){&tf, &k5}, 0, NULL, 2);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(5), (float[]){6, 6, 6, 6, 6}, 0);
  kt_expect_i64(&r.out[1], 1, KT_DIMS(5), (int64_t[]){6, 13, 20, 27, 34});
  kt_done(&r);
  r = kt_op(QC_OP_TopK, 2, (const qc_tensor *[]){&tf, &k5}, 1, (qc_attr[]){KT_INT("largest", 0)}, 2);
  kt_expect_i64(&r.out[1], 1, KT_DIMS(5), (int64_t[]){0, 7, 14, 21, 28});
  kt_done(&r);
  r = kt_op(QC_OP_TopK, 2, (const qc_tensor *[]){&ti, &k5}, 0, NULL, 2);
  kt_expect_i64(&r.out[0], 1, KT_DIMS(5), (int64_t[]){INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX});
  kt_expect_i64(&r.out[1], 1, KT_DIMS(5), (int64_t[]){6, 13, 20, 27, 34});
  kt_done(&r);
  r = kt_op(QC_OP_TopK, 2, (const qc_tensor *[]){&tu, &k5}, 0, NULL, 2);
  kt_expect_i64(&r.out[1], 1, KT_DIMS(5), (int64_t[]){6, 13, 20, 27, 34});
  ck_assert(((uint64_t *)qc_tensor_data(&r.out[0].t))[4] == UINT64_MAX);
  kt_done(&r);
  qc_tensor_release(&tf);
  qc_tensor_release(&ti);
  qc_tensor_release(&tu);
  qc_tensor_release(&k5);
}
END_TEST

/* ---- generated from the ONNX reference implementation (onnx 1.22) ---- */

START_TEST(reshape_infer_and_zero) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(2, 3, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(3), (int64_t[]){0LL, -1LL, 2LL});
  kt_run r = kt_op_v(QC_OP_Reshape, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(2, 6, 2), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(reshape_allowzero) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(0, 3), NULL);
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){3LL, 0LL});
  kt_run r = kt_op_v(QC_OP_Reshape, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INT("allowzero", 1)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 0), (float[]){0}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(flatten_negative_axis) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(2, 3, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
  kt_run r = kt_op_v(QC_OP_Flatten, 0, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INT("axis", -1)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(6, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(flatten_axis0) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  kt_run r = kt_op_v(QC_OP_Flatten, 0, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INT("axis", 0)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(1, 6), (float[]){0, 1, 2, 3, 4, 5}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(squeeze_attr_opset11) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 3, 1), (float[]){0, 1, 2});
  kt_run r = kt_op_v(QC_OP_Squeeze, 11, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INTS("axes", -1)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(1, 3), (float[]){0, 1, 2}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(squeeze_all) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(1, 3, 1), (float[]){0, 1, 2});
  kt_run r = kt_op_v(QC_OP_Squeeze, 0, 1, (const qc_tensor *[]){&in0}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){0, 1, 2}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(unsqueeze_input) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 2), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){-1LL, 0LL});
  kt_run r = kt_op_v(QC_OP_Unsqueeze, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 3, 2, 1), (float[]){0, 1, 2, 3, 4, 5}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(unsqueeze_attr_opset11) {
  qc_tensor in0 = kt_tensor(QC_F32, 1, KT_DIMS(3), (float[]){0, 1, 2});
  kt_run r = kt_op_v(QC_OP_Unsqueeze, 11, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INTS("axes", 0, 2)}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(1, 3, 1), (float[]){0, 1, 2}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(transpose_perm) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(2, 3, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
  kt_run r = kt_op_v(QC_OP_Transpose, 0, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INTS("perm", 1, 2, 0)}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(3, 4, 2), (float[]){0, 12, 1, 13, 2, 14, 3, 15, 4, 16, 5, 17, 6, 18, 7, 19, 8, 20, 9, 21, 10, 22, 11, 23}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(transpose_default) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  kt_run r = kt_op_v(QC_OP_Transpose, 0, 1, (const qc_tensor *[]){&in0}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 2), (float[]){0, 3, 1, 4, 2, 5}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(transpose_strings) {
  qc_tensor in0 = kt_tensor(QC_STRING, 2, KT_DIMS(2, 3), (const char *[]){"a", "bb", "c", "d", "e", "ff"});
  kt_run r = kt_op_v(QC_OP_Transpose, 0, 1, (const qc_tensor *[]){&in0}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_strings(&r.out[0], 2, KT_DIMS(3, 2), (const char *[]){"a", "d", "bb", "e", "c", "ff"});
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(concat_axis1_with_empty) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 1), (float[]){0, 1});
  qc_tensor in1 = kt_tensor(QC_F32, 2, KT_DIMS(2, 0), NULL);
  qc_tensor in2 = kt_tensor(QC_F32, 2, KT_DIMS(2, 2), (float[]){0, 0.30000001192092896f, -0.27000001072883606f, -0.8899999856948853f});
  kt_run r = kt_op_v(QC_OP_Concat, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 1, (qc_attr[]){KT_INT("axis", -1)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){0, 0, 0.30000001192092896f, 1, -0.27000001072883606f, -0.8899999856948853f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(split_attr) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(6, 2), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  kt_run r = kt_op_v(QC_OP_Split, 11, 1, (const qc_tensor *[]){&in0}, 2, (qc_attr[]){KT_INT("axis", 0), KT_INTS("split", 1, 2, 3)}, 3);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(1, 2), (float[]){0, 1}, 1e-5);
  kt_expect_f32(&r.out[1], 2, KT_DIMS(2, 2), (float[]){2, 3, 4, 5}, 1e-5);
  kt_expect_f32(&r.out[2], 2, KT_DIMS(3, 2), (float[]){6, 7, 8, 9, 10, 11}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(split_input) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 5), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){2LL, 3LL});
  kt_run r = kt_op_v(QC_OP_Split, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INT("axis", 1)}, 2);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){0, 1, 5, 6}, 1e-5);
  kt_expect_f32(&r.out[1], 2, KT_DIMS(2, 3), (float[]){2, 3, 4, 7, 8, 9}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(split_num_outputs_uneven) {
  qc_tensor in0 = kt_tensor(QC_F32, 1, KT_DIMS(7), (float[]){0, 1, 2, 3, 4, 5, 6});
  kt_run r = kt_op_v(QC_OP_Split, 18, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INT("num_outputs", 3)}, 3);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(3), (float[]){0, 1, 2}, 1e-5);
  kt_expect_f32(&r.out[1], 1, KT_DIMS(3), (float[]){3, 4, 5}, 1e-5);
  kt_expect_f32(&r.out[2], 1, KT_DIMS(1), (float[]){6}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(split_equal) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 6), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  kt_run r = kt_op_v(QC_OP_Split, 13, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INT("axis", 1)}, 3);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){0, 1, 6, 7}, 1e-5);
  kt_expect_f32(&r.out[1], 2, KT_DIMS(2, 2), (float[]){2, 3, 8, 9}, 1e-5);
  kt_expect_f32(&r.out[2], 2, KT_DIMS(2, 2), (float[]){4, 5, 10, 11}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(slice_negative_steps) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(4, 5), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){-1LL, 10LL});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){-10LL, 0LL});
  qc_tensor in3 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){0LL, 1LL});
  qc_tensor in4 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){-2LL, -3LL});
  kt_run r = kt_op_v(QC_OP_Slice, 0, 5, (const qc_tensor *[]){&in0, &in1, &in2, &in3, &in4}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 2), (float[]){19, 16, 9, 6}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
  qc_tensor_release(&in3);
  qc_tensor_release(&in4);
}
END_TEST

START_TEST(slice_default_axes_clamped) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){1LL, -100LL});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){1000LL, 3LL});
  kt_run r = kt_op_v(QC_OP_Slice, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){4, 5, 6, 8, 9, 10}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(slice_attr_opset9) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  kt_run r = kt_op_v(QC_OP_Slice, 9, 1, (const qc_tensor *[]){&in0}, 3, (qc_attr[]){KT_INTS("starts", 1), KT_INTS("ends", -1), KT_INTS("axes", 1)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 2), (float[]){1, 2, 5, 6, 9, 10}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(slice_empty) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(1), (int64_t[]){2LL});
  qc_tensor in2 = kt_tensor(QC_I64, 1, KT_DIMS(1), (int64_t[]){1LL});
  qc_tensor in3 = kt_tensor(QC_I64, 1, KT_DIMS(1), (int64_t[]){0LL});
  kt_run r = kt_op_v(QC_OP_Slice, 0, 4, (const qc_tensor *[]){&in0, &in1, &in2, &in3}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(0, 4), (float[]){0}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
  qc_tensor_release(&in3);
}
END_TEST

START_TEST(pad_constant_value) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(4), (int64_t[]){1LL, 0LL, 0LL, 2LL});
  qc_tensor in2 = kt_tensor(QC_F32, 0, NULL, (float[]){-1.5f});
  kt_run r = kt_op_v(QC_OP_Pad, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 5), (float[]){-1.5f, -1.5f, -1.5f, -1.5f, -1.5f, 0, 1, 2, -1.5f, -1.5f, 3, 4, 5, -1.5f, -1.5f}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

START_TEST(pad_reflect) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(4), (int64_t[]){0LL, 2LL, 1LL, 4LL});
  kt_run r = kt_op_v(QC_OP_Pad, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_STR("mode", "reflect")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 9), (float[]){2, 1, 0, 1, 2, 1, 0, 1, 2, 5, 4, 3, 4, 5, 4, 3, 4, 5, 2, 1, 0, 1, 2, 1, 0, 1, 2}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(pad_edge) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(4), (int64_t[]){1LL, 1LL, 1LL, 1LL});
  kt_run r = kt_op_v(QC_OP_Pad, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_STR("mode", "edge")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(4, 5), (float[]){0, 0, 1, 2, 2, 0, 0, 1, 2, 2, 3, 3, 4, 5, 5, 3, 3, 4, 5, 5}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(pad_wrap) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(4), (int64_t[]){0LL, 4LL, 0LL, 2LL});
  kt_run r = kt_op_v(QC_OP_Pad, 19, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_STR("mode", "wrap")}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 9), (float[]){2, 0, 1, 2, 0, 1, 2, 0, 1, 5, 3, 4, 5, 3, 4, 5, 3, 4}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(pad_axes_input) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){1LL, 2LL});
  qc_tensor in2 = kt_tensor(QC_F32, 0, NULL, (float[]){9});
  qc_tensor in3 = kt_tensor(QC_I64, 1, KT_DIMS(1), (int64_t[]){-1LL});
  kt_run r = kt_op_v(QC_OP_Pad, 19, 4, (const qc_tensor *[]){&in0, &in1, &in2, &in3}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 6), (float[]){9, 0, 1, 2, 9, 9, 9, 3, 4, 5, 9, 9}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
  qc_tensor_release(&in3);
}
END_TEST

START_TEST(pad_attr_opset2) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 2), (float[]){0, 1, 2, 3});
  kt_run r = kt_op_v(QC_OP_Pad, 2, 1, (const qc_tensor *[]){&in0}, 2, (qc_attr[]){KT_INTS("pads", 0, 1, 0, 1), KT_FLOAT("value", 7.0)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 4), (float[]){7, 0, 1, 7, 7, 2, 3, 7}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(tile) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){2LL, 2LL});
  kt_run r = kt_op_v(QC_OP_Tile, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(4, 6), (float[]){0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5, 0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(expand_bidirectional) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 1), (float[]){0, 1, 2});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(3), (int64_t[]){2LL, 1LL, 4LL});
  kt_run r = kt_op_v(QC_OP_Expand, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(2, 3, 4), (float[]){0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(expand_keeps_larger_input_dims) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){1LL, 1LL});
  kt_run r = kt_op_v(QC_OP_Expand, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(depth_to_space_dcr) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 8, 2, 3), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47});
  kt_run r = kt_op_v(QC_OP_DepthToSpace, 0, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INT("blocksize", 2)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 4, 6), (float[]){0, 12, 1, 13, 2, 14, 24, 36, 25, 37, 26, 38, 3, 15, 4, 16, 5, 17, 27, 39, 28, 40, 29, 41, 6, 18, 7, 19, 8, 20, 30, 42, 31, 43, 32, 44, 9, 21, 10, 22, 11, 23, 33, 45, 34, 46, 35, 47}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(depth_to_space_crd) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 8, 2, 3), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47});
  kt_run r = kt_op_v(QC_OP_DepthToSpace, 0, 1, (const qc_tensor *[]){&in0}, 2, (qc_attr[]){KT_INT("blocksize", 2), KT_STR("mode", "CRD")}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 2, 4, 6), (float[]){0, 6, 1, 7, 2, 8, 12, 18, 13, 19, 14, 20, 3, 9, 4, 10, 5, 11, 15, 21, 16, 22, 17, 23, 24, 30, 25, 31, 26, 32, 36, 42, 37, 43, 38, 44, 27, 33, 28, 34, 29, 35, 39, 45, 40, 46, 41, 47}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(space_to_depth) {
  qc_tensor in0 = kt_tensor(QC_F32, 4, KT_DIMS(1, 2, 4, 6), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47});
  kt_run r = kt_op_v(QC_OP_SpaceToDepth, 0, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INT("blocksize", 2)}, 1);
  kt_expect_f32(&r.out[0], 4, KT_DIMS(1, 8, 2, 3), (float[]){0, 2, 4, 12, 14, 16, 24, 26, 28, 36, 38, 40, 1, 3, 5, 13, 15, 17, 25, 27, 29, 37, 39, 41, 6, 8, 10, 18, 20, 22, 30, 32, 34, 42, 44, 46, 7, 9, 11, 19, 21, 23, 31, 33, 35, 43, 45, 47}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(trilu_upper_k) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(2, 3, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
  qc_tensor in1 = kt_tensor(QC_I64, 0, NULL, (int64_t[]){1LL});
  kt_run r = kt_op_v(QC_OP_Trilu, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(2, 3, 4), (float[]){0, 1, 2, 3, 0, 0, 6, 7, 0, 0, 0, 11, 0, 13, 14, 15, 0, 0, 18, 19, 0, 0, 0, 23}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(trilu_lower_negative_k) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(4, 3), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  qc_tensor in1 = kt_tensor(QC_I64, 0, NULL, (int64_t[]){-1LL});
  kt_run r = kt_op_v(QC_OP_Trilu, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INT("upper", 0)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(4, 3), (float[]){0, 0, 0, 3, 0, 0, 6, 7, 0, 9, 10, 11}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(reverse_sequence_time_major) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(4, 3, 2), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(3), (int64_t[]){4LL, 1LL, 3LL});
  kt_run r = kt_op_v(QC_OP_ReverseSequence, 0, 2, (const qc_tensor *[]){&in0, &in1}, 2, (qc_attr[]){KT_INT("time_axis", 0), KT_INT("batch_axis", 1)}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(4, 3, 2), (float[]){18, 19, 2, 3, 16, 17, 12, 13, 8, 9, 10, 11, 6, 7, 14, 15, 4, 5, 0, 1, 20, 21, 22, 23}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(reverse_sequence_batch_major) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){2LL, 3LL});
  kt_run r = kt_op_v(QC_OP_ReverseSequence, 0, 2, (const qc_tensor *[]){&in0, &in1}, 2, (qc_attr[]){KT_INT("time_axis", 1), KT_INT("batch_axis", 0)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 4), (float[]){1, 0, 2, 3, 6, 5, 4, 7}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(center_crop_pad_mixed) {
  qc_tensor in0 = kt_tensor(QC_F32, 3, KT_DIMS(5, 2, 3), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(2), (int64_t[]){2LL, 5LL});
  kt_run r = kt_op_v(QC_OP_CenterCropPad, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INTS("axes", 0, -1)}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(2, 2, 5), (float[]){0, 6, 7, 8, 0, 0, 9, 10, 11, 0, 0, 12, 13, 14, 0, 0, 15, 16, 17, 0}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(compress_axis) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(3, 4), (float[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  qc_tensor in1 = kt_tensor(QC_BOOL, 1, KT_DIMS(3), (uint8_t[]){0, 1, 1});
  kt_run r = kt_op_v(QC_OP_Compress, 0, 2, (const qc_tensor *[]){&in0, &in1}, 1, (qc_attr[]){KT_INT("axis", 0)}, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 4), (float[]){4, 5, 6, 7, 8, 9, 10, 11}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(compress_flat_short_condition) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 3), (float[]){0, 1, 2, 3, 4, 5});
  qc_tensor in1 = kt_tensor(QC_BOOL, 1, KT_DIMS(4), (uint8_t[]){1, 0, 0, 1});
  kt_run r = kt_op_v(QC_OP_Compress, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){0, 3}, 1e-5);
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(nonzero) {
  qc_tensor in0 = kt_tensor(QC_I32, 2, KT_DIMS(2, 3), (int32_t[]){1, 0, 3, 0, 0, -2});
  kt_run r = kt_op_v(QC_OP_NonZero, 0, 1, (const qc_tensor *[]){&in0}, 0, (qc_attr[]){{0}}, 1);
  kt_expect_i64(&r.out[0], 2, KT_DIMS(2, 3), (int64_t[]){0LL, 0LL, 1LL, 0LL, 2LL, 2LL});
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(unique_sorted_flat) {
  qc_tensor in0 = kt_tensor(QC_F32, 1, KT_DIMS(6), (float[]){2, 1, 1, 3, 4, 3});
  kt_run r = kt_op_v(QC_OP_Unique, 0, 1, (const qc_tensor *[]){&in0}, 0, (qc_attr[]){{0}}, 4);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(4), (float[]){1, 2, 3, 4}, 1e-5);
  kt_expect_i64(&r.out[1], 1, KT_DIMS(4), (int64_t[]){1LL, 0LL, 3LL, 4LL});
  kt_expect_i64(&r.out[2], 1, KT_DIMS(6), (int64_t[]){1LL, 0LL, 0LL, 2LL, 3LL, 2LL});
  kt_expect_i64(&r.out[3], 1, KT_DIMS(4), (int64_t[]){2LL, 1LL, 2LL, 1LL});
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(unique_unsorted) {
  qc_tensor in0 = kt_tensor(QC_F32, 1, KT_DIMS(6), (float[]){2, 1, 1, 3, 4, 3});
  kt_run r = kt_op_v(QC_OP_Unique, 0, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INT("sorted", 0)}, 4);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(4), (float[]){2, 1, 3, 4}, 1e-5);
  kt_expect_i64(&r.out[1], 1, KT_DIMS(4), (int64_t[]){0LL, 1LL, 3LL, 4LL});
  kt_expect_i64(&r.out[2], 1, KT_DIMS(6), (int64_t[]){0LL, 1LL, 1LL, 2LL, 3LL, 2LL});
  kt_expect_i64(&r.out[3], 1, KT_DIMS(4), (int64_t[]){1LL, 2LL, 2LL, 1LL});
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(unique_axis) {
  qc_tensor in0 = kt_tensor(QC_I64, 2, KT_DIMS(3, 3), (int64_t[]){1LL, 0LL, 0LL, 1LL, 0LL, 0LL, 2LL, 3LL, 4LL});
  kt_run r = kt_op_v(QC_OP_Unique, 0, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INT("axis", 0)}, 4);
  kt_expect_i64(&r.out[0], 2, KT_DIMS(2, 3), (int64_t[]){1LL, 0LL, 0LL, 2LL, 3LL, 4LL});
  kt_expect_i64(&r.out[1], 1, KT_DIMS(2), (int64_t[]){0LL, 2LL});
  kt_expect_i64(&r.out[2], 1, KT_DIMS(3), (int64_t[]){0LL, 0LL, 1LL});
  kt_expect_i64(&r.out[3], 1, KT_DIMS(2), (int64_t[]){2LL, 1LL});
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(unique_axis1) {
  qc_tensor in0 = kt_tensor(QC_I64, 2, KT_DIMS(2, 4), (int64_t[]){0LL, 1LL, 0LL, 1LL, 2LL, 3LL, 2LL, 3LL});
  kt_run r = kt_op_v(QC_OP_Unique, 0, 1, (const qc_tensor *[]){&in0}, 1, (qc_attr[]){KT_INT("axis", -1)}, 4);
  kt_expect_i64(&r.out[0], 2, KT_DIMS(2, 2), (int64_t[]){0LL, 1LL, 2LL, 3LL});
  kt_expect_i64(&r.out[1], 1, KT_DIMS(2), (int64_t[]){0LL, 1LL});
  kt_expect_i64(&r.out[2], 1, KT_DIMS(4), (int64_t[]){0LL, 1LL, 0LL, 1LL});
  kt_expect_i64(&r.out[3], 1, KT_DIMS(2), (int64_t[]){2LL, 2LL});
  kt_done(&r);
  qc_tensor_release(&in0);
}
END_TEST

START_TEST(topk_largest_ties) {
  qc_tensor in0 = kt_tensor(QC_F32, 2, KT_DIMS(2, 5), (float[]){1, 3, 3, 2, 3, 5, 5, 1, 1, 0});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(1), (int64_t[]){3LL});
  kt_run r = kt_op_v(QC_OP_TopK, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 2);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 3), (float[]){3, 3, 3, 5, 5, 1}, 1e-5);
  kt_expect_i64(&r.out[1], 2, KT_DIMS(2, 3), (int64_t[]){1LL, 2LL, 4LL, 0LL, 1LL, 2LL});
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(topk_smallest_axis0) {
  qc_tensor in0 = kt_tensor(QC_I32, 2, KT_DIMS(3, 2), (int32_t[]){4, 1, 2, 1, 2, 0});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(1), (int64_t[]){2LL});
  kt_run r = kt_op_v(QC_OP_TopK, 0, 2, (const qc_tensor *[]){&in0, &in1}, 2, (qc_attr[]){KT_INT("axis", 0), KT_INT("largest", 0)}, 2);
  kt_expect_ints(&r.out[0], QC_I32, 2, KT_DIMS(2, 2), (int64_t[]){2, 0, 2, 1});
  kt_expect_i64(&r.out[1], 2, KT_DIMS(2, 2), (int64_t[]){1LL, 2LL, 2LL, 0LL});
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(topk_nan_is_largest) {
  qc_tensor in0 = kt_tensor(QC_F32, 1, KT_DIMS(3), (float[]){1, NAN, 3});
  qc_tensor in1 = kt_tensor(QC_I64, 1, KT_DIMS(1), (int64_t[]){2LL});
  kt_run r = kt_op_v(QC_OP_TopK, 0, 2, (const qc_tensor *[]){&in0, &in1}, 0, (qc_attr[]){{0}}, 2);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){NAN, 3}, 1e-5);
  kt_expect_i64(&r.out[1], 1, KT_DIMS(2), (int64_t[]){1LL, 2LL});
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
}
END_TEST

START_TEST(onehot_axis0_negative_index) {
  qc_tensor in0 = kt_tensor(QC_I64, 1, KT_DIMS(3), (int64_t[]){0LL, -1LL, 1LL});
  qc_tensor in1 = kt_tensor(QC_I64, 0, NULL, (int64_t[]){3LL});
  qc_tensor in2 = kt_tensor(QC_I32, 1, KT_DIMS(2), (int32_t[]){0, 7});
  kt_run r = kt_op_v(QC_OP_OneHot, 0, 3, (const qc_tensor *[]){&in0, &in1, &in2}, 1, (qc_attr[]){KT_INT("axis", 0)}, 1);
  kt_expect_ints(&r.out[0], QC_I32, 2, KT_DIMS(3, 3), (int64_t[]){7, 0, 0, 0, 0, 7, 0, 7, 0});
  kt_done(&r);
  qc_tensor_release(&in0);
  qc_tensor_release(&in1);
  qc_tensor_release(&in2);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_tensor");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, pad_negative_pads_crop);
  tcase_add_test(tc, topk_heap_path_ties_and_64bit_keys);
  tcase_add_test(tc, transpose_all_perms_all_widths);
  tcase_add_test(tc, slice_extreme_steps_and_tile_overflow);
  tcase_add_test(tc, reshape_family_returns_views);
  tcase_add_test(tc, transpose_int4);
  tcase_add_test(tc, concat_and_slice_uint4_odd_offsets);
  tcase_add_test(tc, pad_and_expand_strings);
  tcase_add_test(tc, transpose_large_runs_in_parallel);
  tcase_add_test(tc, scatter_opset10);
  tcase_add_test(tc, errors_name_the_node);
  tcase_add_test(tc, onehot_out_of_range_is_all_off);
  tcase_add_test(tc, reshape_infer_and_zero);
  tcase_add_test(tc, reshape_allowzero);
  tcase_add_test(tc, flatten_negative_axis);
  tcase_add_test(tc, flatten_axis0);
  tcase_add_test(tc, squeeze_attr_opset11);
  tcase_add_test(tc, squeeze_all);
  tcase_add_test(tc, unsqueeze_input);
  tcase_add_test(tc, unsqueeze_attr_opset11);
  tcase_add_test(tc, transpose_perm);
  tcase_add_test(tc, transpose_default);
  tcase_add_test(tc, transpose_strings);
  tcase_add_test(tc, concat_axis1_with_empty);
  tcase_add_test(tc, split_attr);
  tcase_add_test(tc, split_input);
  tcase_add_test(tc, split_num_outputs_uneven);
  tcase_add_test(tc, split_equal);
  tcase_add_test(tc, slice_negative_steps);
  tcase_add_test(tc, slice_default_axes_clamped);
  tcase_add_test(tc, slice_attr_opset9);
  tcase_add_test(tc, slice_empty);
  tcase_add_test(tc, pad_constant_value);
  tcase_add_test(tc, pad_reflect);
  tcase_add_test(tc, pad_edge);
  tcase_add_test(tc, pad_wrap);
  tcase_add_test(tc, pad_axes_input);
  tcase_add_test(tc, pad_attr_opset2);
  tcase_add_test(tc, tile);
  tcase_add_test(tc, expand_bidirectional);
  tcase_add_test(tc, expand_keeps_larger_input_dims);
  tcase_add_test(tc, depth_to_space_dcr);
  tcase_add_test(tc, depth_to_space_crd);
  tcase_add_test(tc, space_to_depth);
  tcase_add_test(tc, trilu_upper_k);
  tcase_add_test(tc, trilu_lower_negative_k);
  tcase_add_test(tc, reverse_sequence_time_major);
  tcase_add_test(tc, reverse_sequence_batch_major);
  tcase_add_test(tc, center_crop_pad_mixed);
  tcase_add_test(tc, compress_axis);
  tcase_add_test(tc, compress_flat_short_condition);
  tcase_add_test(tc, nonzero);
  tcase_add_test(tc, unique_sorted_flat);
  tcase_add_test(tc, unique_unsorted);
  tcase_add_test(tc, unique_axis);
  tcase_add_test(tc, unique_axis1);
  tcase_add_test(tc, topk_largest_ties);
  tcase_add_test(tc, topk_smallest_axis0);
  tcase_add_test(tc, topk_nan_is_largest);
  tcase_add_test(tc, onehot_axis0_negative_index);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
