/* The numerics API beyond the Quark goldens: documented edge values (int8's full range with
 * amax/127.5, fp4's sign loss), real quantization + dequantization = fake quantization,
 * real values that encode exactly in the element dtype, streaming observers, loading
 * parameters, and error messages. */
#include "quarc/quant.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check_ok(qc_status s) {
  if (s) ck_abort_msg("unexpected error: %s", qc_status_message(s));
}

static void check_err(qc_status s, const char *want) {
  ck_assert_msg(s != NULL, "expected an error containing '%s'", want);
  const char *m = qc_status_message(s);
  ck_assert_msg(strstr(m, want) != NULL, "error '%s' does not contain '%s'", m, want);
  qc_status_free(s);
}

static qc_qspec int_spec(qc_qdtype dt, qc_qscheme q, bool sym) {
  qc_qspec s;
  qc_qspec_init(&s);
  s.dtype = dt;
  s.is_dynamic = QC_QB_FALSE;
  s.qscheme = q;
  s.symmetric = sym ? QC_QB_TRUE : QC_QB_FALSE;
  s.round_method = QC_QROUND_HALF_EVEN;
  s.scale_type = QC_QSCALE_TYPE_FLOAT;
  s.observer_cls = q == QC_QSCHEME_PER_TENSOR    ? QC_QOBS_PER_TENSOR_MINMAX
                   : q == QC_QSCHEME_PER_CHANNEL ? QC_QOBS_PER_CHANNEL_MINMAX
                                                 : QC_QOBS_PER_GROUP_MINMAX;
  if (q != QC_QSCHEME_PER_TENSOR) {
    s.has_ch_axis = true;
    s.ch_axis = q == QC_QSCHEME_PER_CHANNEL ? 0 : -1;
  }
  if (q == QC_QSCHEME_PER_GROUP) {
    s.has_group_size = true;
    s.group_size = 4;
  }
  return s;
}

static qc_qspec mxfp4_spec(bool dyn) {
  qc_qspec s;
  qc_qspec_init(&s);
  s.dtype = QC_QDT_FP4;
  s.is_dynamic = dyn ? QC_QB_TRUE : QC_QB_FALSE;
  s.qscheme = QC_QSCHEME_PER_GROUP;
  s.has_ch_axis = true;
  s.ch_axis = -1;
  s.has_group_size = true;
  s.group_size = 32;
  s.round_method = QC_QROUND_HALF_EVEN;
  s.scale_type = QC_QSCALE_TYPE_FLOAT;
  s.scale_format = QC_QSCALE_FORMAT_E8M0;
  s.scale_calculation_mode = QC_QSCALE_MODE_EVEN;
  s.observer_cls = QC_QOBS_PER_BLOCK_MX;
  return s;
}

START_TEST(int8_full_range) {
  /* quark.md §2.1: scale = amax/127.5; -amax -> -127.5 -> -128, +amax -> 128 -> 127. */
  qc_qspec s = int_spec(QC_QDT_INT8, QC_QSCHEME_PER_TENSOR, true);
  float mn = -2.55f, mx = 2.55f;
  qc_qstats st = {0, {0}, 1, &mn, &mx};
  qc_qparams p;
  check_ok(qc_qparams_from_stats(&s, &st, QC_F32, &p));
  ck_assert_int_eq(p.rank, 0);
  ck_assert(p.scale[0] == 2.55f / 127.5f);
  ck_assert(p.zero_point[0] == 0);
  float x[4] = {-2.55f, 2.55f, 0.0f, -0.0f}, q[4], y[4];
  int64_t shape[1] = {4};
  check_ok(qc_real_quantize(&s, &p, x, 1, shape, q));
  ck_assert(q[0] == -128 && q[1] == 127 && q[2] == 0 && !signbit(q[3]));
  check_ok(qc_fake_quantize(&s, &p, x, 1, shape, QC_F32, y));
  ck_assert(y[0] == -128 * p.scale[0] && y[1] == 127 * p.scale[0]);
  /* real + dequantize == fake */
  float d[4];
  check_ok(qc_dequantize(&s, &p, q, 1, shape, QC_F32, d));
  for (int i = 0; i < 4; i++) ck_assert(d[i] == y[i]);
  qc_qparams_clear(&p);
}
END_TEST

START_TEST(real_dequant_matches_fake) {
  /* per channel / per group, symmetric and asymmetric */
  float w[8 * 16];
  for (int i = 0; i < 8 * 16; i++) w[i] = sinf((float)i * 0.37f) * (1.0f + (float)(i % 5));
  int64_t shape[2] = {8, 16};
  qc_qdtype dts[] = {QC_QDT_INT8, QC_QDT_UINT4, QC_QDT_INT4};
  qc_qscheme qs[] = {QC_QSCHEME_PER_TENSOR, QC_QSCHEME_PER_CHANNEL, QC_QSCHEME_PER_GROUP};
  for (int d = 0; d < 3; d++)
    for (int k = 0; k < 3; k++)
      for (int sym = 0; sym < 2; sym++) {
        qc_qspec s = int_spec(dts[d], qs[k], sym);
        qc_qspecs one = {1, false, &s};
        qc_quantizer *q;
        check_ok(qc_quantizer_create(&one, QC_F32, &q));
        check_ok(qc_quantizer_observe(q, w, 2, shape));
        check_ok(qc_quantizer_finalize(q));
        float y[128], r[128], dq[128];
        check_ok(qc_quantizer_forward(q, w, 2, shape, y));
        check_ok(qc_quantizer_real_quantize(q, w, 2, shape, r));
        const qc_qparams *p = qc_quantizer_params(q, 0);
        check_ok(qc_dequantize(&s, p, r, 2, shape, QC_F32, dq));
        double qmin, qmax;
        ck_assert(qc_qdtype_range(dts[d], &qmin, &qmax));
        for (int i = 0; i < 128; i++) {
          ck_assert_msg(r[i] == rintf(r[i]) && r[i] >= qmin && r[i] <= qmax, "code %g", r[i]);
          ck_assert_msg(dq[i] == y[i], "dtype %d scheme %d sym %d [%d]: %g vs %g", d, k, sym, i,
                        dq[i], y[i]);
        }
        qc_quantizer_free(q);
      }
}
END_TEST

START_TEST(fp4_codes_and_sign_loss) {
  qc_qspec s = mxfp4_spec(false);
  float x[32];
  for (int i = 0; i < 32; i++) x[i] = (float)(i - 16) * 0.37f;
  x[3] = -0.01f; /* rounds to zero: Quark returns +0 */
  int64_t shape[2] = {1, 32};
  qc_qspecs one = {1, false, &s};
  qc_quantizer *q;
  check_ok(qc_quantizer_create(&one, QC_F32, &q));
  check_ok(qc_quantizer_observe(q, x, 2, shape));
  check_ok(qc_quantizer_finalize(q));
  const qc_qparams *p = qc_quantizer_params(q, 0);
  ck_assert_int_eq(p->n, 1);
  /* amax = 16 * 0.37 = 5.92: even_round keeps 4, 4 / 2^2 = 1 -> scale 1 */
  ck_assert(p->scale[0] == 1.0f);
  float r[32], y[32];
  check_ok(qc_quantizer_real_quantize(q, x, 2, shape, r));
  check_ok(qc_quantizer_forward(q, x, 2, shape, y));
  ck_assert(r[3] == 0 && !signbit(r[3]));
  for (int i = 0; i < 32; i++) {
    uint32_t code = qc_float_encode(QC_F4E2M1, r[i], 0);
    ck_assert_msg(qc_float_decode(QC_F4E2M1, code) == r[i], "%g not an fp4 value", r[i]);
    ck_assert(y[i] == r[i] * p->scale[0]);
  }
  qc_quantizer_free(q);
}
END_TEST

START_TEST(streaming_observers) {
  /* Static per-tensor min/max over many small batches = one batch of everything. */
  qc_qspec s = int_spec(QC_QDT_UINT8, QC_QSCHEME_PER_TENSOR, false);
  qc_observer *a, *b;
  check_ok(qc_observer_create(&s, QC_F32, &a));
  check_ok(qc_observer_create(&s, QC_F32, &b));
  float all[1000];
  for (int i = 0; i < 1000; i++) all[i] = cosf((float)i) * (float)(i % 17) - 3.0f;
  for (int i = 0; i < 100; i++) {
    int64_t sh[1] = {10};
    check_ok(qc_observer_update(a, all + 10 * i, 1, sh));
  }
  int64_t sh[1] = {1000};
  check_ok(qc_observer_update(b, all, 1, sh));
  qc_qparams pa, pb;
  check_ok(qc_observer_params(a, &pa));
  check_ok(qc_observer_params(b, &pb));
  ck_assert(pa.scale[0] == pb.scale[0] && pa.zero_point[0] == pb.zero_point[0]);
  ck_assert_int_eq(qc_observer_count(a), 100);
  qc_qstats st;
  check_ok(qc_observer_stats(a, &st));
  ck_assert(st.n == 1 && st.min[0] < -3 && st.max[0] > 10);
  qc_qstats_clear(&st);
  qc_qparams_clear(&pa);
  qc_qparams_clear(&pb);
  qc_observer_free(a);
  qc_observer_free(b);
  /* A percentile histogram keeps its bins while the range does not grow. */
  s.observer_cls = QC_QOBS_PER_TENSOR_PERCENTILE;
  s.symmetric = QC_QB_TRUE;
  check_ok(qc_observer_create(&s, QC_F32, &a));
  for (int i = 0; i < 200; i++) {
    int64_t sh5[1] = {5};
    check_ok(qc_observer_update(a, all + 5 * (i % 10), 1, sh5));
  }
  check_ok(qc_observer_params(a, &pa));
  ck_assert(pa.scale[0] > 0);
  qc_qparams_clear(&pa);
  qc_observer_free(a);
}
END_TEST

START_TEST(dynamic_and_loaded_params) {
  /* Dynamic MXFP4: parameters come from each input. */
  qc_qspec s = mxfp4_spec(true);
  qc_qspecs one = {1, false, &s};
  qc_quantizer *q;
  check_ok(qc_quantizer_create(&one, QC_F32, &q));
  check_ok(qc_quantizer_finalize(q));
  float x[64], y[64];
  for (int i = 0; i < 64; i++) x[i] = (float)i * (i < 32 ? 0.01f : 10.0f);
  int64_t shape[2] = {2, 32};
  check_ok(qc_quantizer_forward(q, x, 2, shape, y));
  const qc_qparams *p = qc_quantizer_params(q, 0);
  ck_assert_int_eq(p->n, 2);
  ck_assert(p->scale[0] < p->scale[1]);
  qc_quantizer_free(q);
  /* Static int8 with loaded parameters: no observation needed. */
  qc_qspec i8 = int_spec(QC_QDT_INT8, QC_QSCHEME_PER_TENSOR, true);
  qc_qspecs o8 = {1, false, &i8};
  check_ok(qc_quantizer_create(&o8, QC_F32, &q));
  check_ok(qc_quantizer_finalize(q));
  check_err(qc_quantizer_forward(q, x, 2, shape, y), "no parameters");
  float sc = 0.5f;
  double zp = 0;
  qc_qparams lp = {0, {0}, 1, QC_F32, &sc, QC_I32, &zp};
  check_ok(qc_quantizer_set_params(q, 0, &lp));
  check_ok(qc_quantizer_forward(q, x, 2, shape, y));
  ck_assert(y[63] == 63.5f); /* 630 / 0.5 clamps to 127 -> 63.5 */
  ck_assert(y[1] == 0.0f);   /* 0.01 / 0.5 rounds to 0 */
  qc_quantizer_free(q);
}
END_TEST

START_TEST(errors) {
  qc_qspec g = int_spec(QC_QDT_INT8, QC_QSCHEME_PER_GROUP, true);
  g.group_size = 5;
  qc_qspecs one = {1, false, &g};
  qc_quantizer *q;
  check_ok(qc_quantizer_create(&one, QC_F32, &q));
  float x[16] = {0};
  int64_t shape[2] = {2, 8};
  check_err(qc_quantizer_observe(q, x, 2, shape), "not divisible by group_size 5");
  int64_t big[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  check_err(qc_quantizer_observe(q, x, 9, big), "rank 9 out of range");
  qc_quantizer_free(q);
  qc_qspec c = int_spec(QC_QDT_INT8, QC_QSCHEME_PER_CHANNEL, true);
  c.ch_axis = 3;
  qc_qspecs oc = {1, false, &c};
  check_ok(qc_quantizer_create(&oc, QC_F32, &q));
  check_err(qc_quantizer_observe(q, x, 2, shape), "ch_axis out of range");
  qc_quantizer_free(q);
  qc_qspec bad = int_spec(QC_QDT_INT8, QC_QSCHEME_PER_TENSOR, true);
  bad.symmetric = QC_QB_NULL;
  qc_qspecs ob = {1, false, &bad};
  check_err(qc_quantizer_create(&ob, QC_F32, &q), "spec.symmetric: cannot be null");
  qc_observer *o;
  check_err(qc_observer_create(&c, QC_F64, &o), "model dtype must be f32, f16 or bf16");
  float sc = 1;
  double zp = 0;
  qc_qparams lp = {0, {0}, 1, QC_F32, &sc, QC_I32, &zp};
  float y[16];
  check_err(qc_fake_quantize(&c, &lp, x, 2, (int64_t[]){2, 8}, QC_F32, y), "ch_axis out of range");
  c.ch_axis = 0;
  check_err(qc_fake_quantize(&c, &lp, x, 2, (int64_t[]){2, 8}, QC_F32, y),
            "expected 2 scales, got 1");
  qc_qspec mx;
  qc_qspec_init(&mx);
  mx.dtype = QC_QDT_MX6;
  mx.has_ch_axis = true;
  mx.ch_axis = -1;
  mx.has_group_size = true;
  mx.group_size = 16;
  check_err(qc_real_quantize(&mx, NULL, x, 2, shape, y), "real quantization of dtype mx6");
}
END_TEST

START_TEST(names_and_ranges) {
  ck_assert_str_eq(qc_qdtype_name(QC_QDT_FP6_E2M3), "fp6_e2m3");
  ck_assert_int_eq(qc_qdtype_from_name("uint2"), QC_QDT_UINT2);
  ck_assert_int_eq(qc_qdtype_from_name("fp9"), QC_QDT_NONE);
  ck_assert_int_eq(qc_qobserver_from_name("PerBlockMXObserver"), QC_QOBS_PER_BLOCK_MX);
  ck_assert_str_eq(qc_qround_name(QC_QROUND_HALF_EVEN), "half_even");
  ck_assert_str_eq(qc_qscale_type_name(QC_QSCALE_TYPE_POF2), "pof2");
  ck_assert_str_eq(qc_qlayer_type_name(QC_QLAYER_CONV_TRANSPOSE2D), "ConvTranspose2d");
  double lo, hi;
  ck_assert(qc_qdtype_range(QC_QDT_INT8, &lo, &hi) && lo == -128 && hi == 127);
  ck_assert(qc_qdtype_range(QC_QDT_FP8_E5M3, &lo, &hi) && lo == 0 && hi == 114688);
  ck_assert(!qc_qdtype_range(QC_QDT_MX, &lo, &hi));
  ck_assert_int_eq(qc_qdtype_element(QC_QDT_FP4), QC_F4E2M1);
  ck_assert_int_eq(qc_qdtype_element(QC_QDT_FP8_E5M3), QC_E5M3);
  ck_assert_int_eq(qc_qdtype_element(QC_QDT_BFP16), QC_DT_UNDEFINED);
  ck_assert(qc_qdtype_is_int(QC_QDT_UINT2) && !qc_qdtype_is_int(QC_QDT_FP4));
  char *t;
  qc_qspec s = mxfp4_spec(false);
  check_ok(qc_qspec_to_json(&s, &t, NULL));
  qc_qspec back;
  check_ok(qc_qspec_from_json(t, strlen(t), "t", &back));
  ck_assert(qc_qspec_equal(&s, &back));
  free(t);
}
END_TEST

int main(void) {
  Suite *s = suite_create("quant_numerics");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, int8_full_range);
  tcase_add_test(tc, real_dequant_matches_fake);
  tcase_add_test(tc, fp4_codes_and_sign_loss);
  tcase_add_test(tc, streaming_observers);
  tcase_add_test(tc, dynamic_and_loaded_params);
  tcase_add_test(tc, errors);
  tcase_add_test(tc, names_and_ranges);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
