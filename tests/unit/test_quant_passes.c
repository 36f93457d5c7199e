/* The quantization passes (passes/quant/) and the quarc.FakeQuant / quarc.Observe kernels.
 *
 *   - the kernels: Observe is an identity; FakeQuant with static parameters equals Quark's
 *     numerics (qc_fake_quantize) on the same data, in ONNX's scale layout;
 *   - lower-qdq: for every dynamic activation scheme, the standard-op graph it writes gives
 *     what quarc.FakeQuant gives on random data (exactly where the scale is a power of two;
 *     within a last-place tie for the integer ones, whose QuantizeLinear divides where Quark
 *     multiplies by the reciprocal);
 *   - layer discovery: names, tied weights, [in, out] weights, biases;
 *   - calibration data: a batch of the wrong dtype or shape is an error naming the input
 *     and the file; the pipeline end to end on a small MLP. */
#include "passes/quant/qpass.h"
#include "pass_test_util.h"
#include "quarc/tensor_io.h"
#include "runtime/k_qc.h"

#include <math.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>


/* Deterministic "activations": a mix of magnitudes, some outliers, some zeros. */
static void fill(float *x, int64_t n, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    double u = ((s >> 8) & 0xFFFF) / 65536.0 - 0.5;
    s = s * 1664525u + 1013904223u;
    int e = (int)((s >> 16) % 9) - 4;
    x[i] = (float)ldexp(u, e);
    if ((s >> 4) % 97 == 0) x[i] *= 40.0f;
    if ((s >> 6) % 53 == 0) x[i] = 0.0f;
  }
}

/* y = FakeQuant(x[, scale]){spec}, x: f32[2,3,64]; scale < 0: none. */
static qc_graph *fq_graph(const char *spec, double scale) {
  qc_graph *g = new_graph();
  OK(qc_graph_set_opset(g, "", 21));
  qc_vid in[2] = {add_input(g, "x", QC_F32, 3, (int64_t[]){2, 3, 64}), QC_NONE}, y;
  if (scale >= 0) in[1] = add_scalar(g, "scale", QC_F32, scale);
  OK(qc_graph_add_op(g, QC_OP_Q_FakeQuant, "fq", scale >= 0 ? 2 : 1, in, "y", &y));
  OK(qc_node_set_string(g, qc_graph_value(g, y)->node, "spec", spec));
  OK(qc_graph_add_output(g, y));
  OK(qc_graph_infer_types(g));
  return g;
}

static void run1(const qc_graph *g, const float *x, float *y) {
  qc_tensor t;
  OK(qc_tensor_alloc(&t, NULL, QC_F32, 3, (int64_t[]){2, 3, 64}));
  memcpy(qc_tensor_data(&t), x, sizeof(float) * 384);
  qc_rvalue in = qc_rvalue_tensor(&t), out;
  qc_interp_options io = {.n_threads = 1};
  OK(qc_run_graph(g, &io, 1, &in, 1, &out));
  ck_assert_int_eq(out.kind, QC_RV_TENSOR);
  memcpy(y, qc_tensor_data(&out.t), sizeof(float) * 384);
  qc_rvalue_release(&in);
  qc_rvalue_release(&out);
  qc_tensor_release(&t);
}

/* Lowered and unlowered agree on every element but at most `max_off` (each off by at most
 * one step of `step_rel` relative to the block maximum). */
static void check_lowering_s(const char *spec, double scale, int max_off) {
  qc_graph *a = fq_graph(spec, scale), *b;
  OK(qc_graph_clone(a, &b));
  run_pipeline(b, "lower-qdq");
  for (qc_nid n = 0; n < qc_graph_num_nodes(b); n++)
    ck_assert_msg(qc_op_schema_of(qc_graph_node(b, n)->op)->domain[0] == 0,
                  "%s: a quarc op is left after lowering", spec);
  float x[384], ya[384], yb[384];
  int off = 0;
  for (uint32_t seed = 1; seed <= 8; seed++) {
    fill(x, 384, seed);
    run1(a, x, ya);
    run1(b, x, yb);
    for (int i = 0; i < 384; i++)
      if (memcmp(&ya[i], &yb[i], 4) != 0 && !(ya[i] == 0 && yb[i] == 0)) {
        if (off < 3)
          fprintf(stderr, "%.60s...: element %d of seed %u: FakeQuant %.9g, lowered %.9g (x %.9g)\n",
                  spec, i, seed, ya[i], yb[i], x[i]);
        off++;
      }
  }
  ck_assert_msg(off <= max_off, "%s: %d elements differ (at most %d expected)", spec, off, max_off);
  qc_graph_destroy(a);
  qc_graph_destroy(b);
}

static void check_lowering(const char *spec, int max_off) { check_lowering_s(spec, -1, max_off); }

#define SPEC(...) "{" __VA_ARGS__ "}"

START_TEST(lower_dynamic_int8_per_tensor) {
  check_lowering(SPEC("\"dtype\": \"int8\", \"is_dynamic\": true, \"qscheme\": \"per_tensor\", "
                      "\"symmetric\": true, \"round_method\": \"half_even\", \"scale_type\": \"float\", "
                      "\"observer_cls\": \"PerTensorMinMaxObserver\""),
                 4);
}
END_TEST

START_TEST(lower_dynamic_int8_per_token) {
  check_lowering(SPEC("\"dtype\": \"int8\", \"is_dynamic\": true, \"qscheme\": \"per_channel\", \"ch_axis\": 1, "
                      "\"symmetric\": true, \"round_method\": \"half_even\", \"scale_type\": \"float\", "
                      "\"observer_cls\": \"PerChannelMinMaxObserver\""),
                 4);
}
END_TEST

START_TEST(lower_dynamic_uint8_asym) {
  check_lowering(SPEC("\"dtype\": \"uint8\", \"is_dynamic\": true, \"qscheme\": \"per_tensor\", "
                      "\"symmetric\": false, \"round_method\": \"half_even\", \"scale_type\": \"float\", "
                      "\"observer_cls\": \"PerTensorMinMaxObserver\""),
                 4);
}
END_TEST

START_TEST(lower_dynamic_fp8) {
  check_lowering(SPEC("\"dtype\": \"fp8_e4m3\", \"is_dynamic\": true, \"qscheme\": \"per_tensor\", "
                      "\"observer_cls\": \"PerTensorMinMaxObserver\""),
                 4);
}
END_TEST

#define MX(dt) \
  SPEC("\"dtype\": \"" dt "\", \"is_dynamic\": true, \"qscheme\": \"per_group\", \"ch_axis\": -1, " \
       "\"group_size\": 32, \"round_method\": \"half_even\", \"scale_type\": \"float\", "          \
       "\"scale_format\": \"e8m0\", \"scale_calculation_mode\": \"even\", "                       \
       "\"observer_cls\": \"PerBlockMXObserver\"")

START_TEST(lower_dynamic_mx) {
  check_lowering(MX("fp4"), 0);
  check_lowering(MX("fp6_e2m3"), 0);
  check_lowering(MX("fp6_e3m2"), 0);
  check_lowering(MX("fp8_e4m3"), 0);
}
END_TEST

START_TEST(lower_nonscaled) {
  check_lowering(SPEC("\"dtype\": \"bfp16\", \"is_dynamic\": true, \"qscheme\": \"per_group\", \"ch_axis\": -1, "
                      "\"group_size\": 8, \"round_method\": \"half_even\", \"observer_cls\": \"PerBlockBFPObserver\""),
                 0);
  check_lowering(SPEC("\"dtype\": \"mx6\", \"is_dynamic\": true, \"qscheme\": \"per_group\", \"ch_axis\": -1, "
                      "\"group_size\": 32, \"round_method\": \"half_even\", \"observer_cls\": \"PerBlockBFPObserver\""),
                 0);
  check_lowering(SPEC("\"dtype\": \"mx9\", \"is_dynamic\": true, \"qscheme\": \"per_group\", \"ch_axis\": -1, "
                      "\"group_size\": 32, \"round_method\": \"half_even\", \"observer_cls\": \"PerBlockBFPObserver\""),
                 0);
}
END_TEST

/* NVFP4 activations: fp4 blocks of 16 with float32 scales, themselves fake-quantized to fp8
 * with a calibrated per-tensor scale. */
START_TEST(lower_dynamic_nvfp4) {
  check_lowering_s("[" SPEC("\"dtype\": \"fp4\", \"is_dynamic\": true, \"qscheme\": \"per_group\", "
                            "\"ch_axis\": -1, \"group_size\": 16, \"round_method\": \"half_even\", "
                            "\"scale_type\": \"float32\", \"scale_format\": \"float32\", "
                            "\"observer_cls\": \"PerBlockMXObserver\"") ", "
                   SPEC("\"dtype\": \"fp8_e4m3\", \"is_dynamic\": false, \"qscheme\": \"per_tensor\", "
                        "\"symmetric\": true, \"round_method\": \"half_even\", \"scale_type\": \"float32\", "
                        "\"observer_cls\": \"PerTensorMinMaxObserver\", \"is_scale_quant\": true") "]",
                   0.0021, 0);
}
END_TEST

/* ---- freeze: a weight's FakeQuant equals Quark's quantizer on that weight --------------- */

static const char *const PRESETS[] = {"int8", "int8_per_channel_dynamic", "fp8", "int4_wo_128",
                                      "uint4_wo_128", "mxfp4", "mxfp6_e3m2", "mxfp6_e2m3", "mx6",
                                      "mx9", "bfp16", "nvfp4"};

/* x: f32[1,5,256] -> MatMul(x, Transpose(fc.weight [64, 256])). */
static qc_graph *linear_graph(float *w) {
  qc_graph *g = new_graph();
  OK(qc_graph_set_opset(g, "", 23));
  qc_vid x = add_input(g, "x", QC_F32, 3, (int64_t[]){1, 5, 256});
  qc_tensor t;
  OK(qc_tensor_alloc(&t, NULL, QC_F32, 2, (int64_t[]){64, 256}));
  fill(qc_tensor_data(&t), 64 * 256, 99);
  memcpy(w, qc_tensor_data(&t), sizeof(float) * 64 * 256);
  qc_vid wv, wt, y;
  OK(qc_graph_add_const(g, "fc.weight", &t, &wv));
  qc_tensor_release(&t);
  OK(qc_graph_add_op(g, QC_OP_Transpose, "fc.weight_t", 1, &wv, "fc.weight_t", &wt));
  OK(qc_node_set_ints(g, qc_graph_value(g, wt)->node, "perm", 2, (int64_t[]){1, 0}));
  OK(qc_graph_add_op(g, QC_OP_MatMul, "fc", 2, (qc_vid[]){x, wt}, "y", &y));
  OK(qc_graph_add_output(g, y));
  OK(qc_graph_infer_types(g));
  return g;
}

/* A calibration directory with one batch for `x` of shape (rank, dims) (and a bad one). */
static char *calib_dir(int32_t rank, const int64_t *dims, qc_dtype dt) {
  const char *tmp = getenv("TMPDIR");
  char *d = malloc(512);
  snprintf(d, 512, "%s/quarc-quant-passes-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  ck_assert_ptr_nonnull(mkdtemp(d));
  char sub[600], f[700];
  snprintf(sub, sizeof sub, "%s/b0", d);
  ck_assert_int_eq(mkdir(sub, 0700), 0);
  qc_tensor t;
  OK(qc_tensor_alloc(&t, NULL, dt, rank, dims));
  int64_t n = qc_tensor_numel(&t);
  float *v = malloc(sizeof(float) * (size_t)n);
  fill(v, n, 5);
  for (int64_t i = 0; i < n; i++) qc_elem_set_f64(dt, qc_tensor_data(&t), (size_t)i, v[i], 0);
  free(v);
  snprintf(f, sizeof f, "%s/x.npy", sub);
  OK(qc_tensor_write_npy(f, &t));
  qc_tensor_release(&t);
  return d;
}

static void rm_calib_dir(char *d) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  ck_assert_int_eq(system(cmd), 0);
  free(d);
}

START_TEST(freeze_weights_equal_quark) {
  static float w[64 * 256], want[64 * 256];
  char *cd = calib_dir(3, (int64_t[]){1, 5, 256}, QC_F32);
  for (size_t p = 0; p < sizeof PRESETS / sizeof *PRESETS; p++) {
    qc_graph *g = linear_graph(w);
    char pipe[1024];
    snprintf(pipe, sizeof pipe, "quant-annotate{scheme=%s},observe,calibrate{data='%s'},freeze",
             PRESETS[p], cd);
    run_pipeline(g, pipe);
    qc_vid fq = qc_graph_find(g, "fc.weight_quantized");
    if (fq < 0) fq = qc_graph_find(g, "fc.weight_quantized.1");
    ck_assert_msg(fq >= 0, "%s: no weight quantizer", PRESETS[p]);
    qc_tensor got;
    OK(qc_qconst_value(g, fq, &got));
    /* Quark's quantizer on the same weight. */
    qc_qconfig *cfg;
    OK(qc_qconfig_preset(PRESETS[p], NULL, &cfg));
    qc_qresolution r;
    OK(qc_qconfig_resolve(cfg, "fc", QC_QLAYER_LINEAR, &r));
    qc_quantizer *q;
    OK(qc_quantizer_create(&r.layer.weight, QC_F32, &q));
    OK(qc_quantizer_observe(q, w, 2, (int64_t[]){64, 256}));
    OK(qc_quantizer_finalize(q));
    OK(qc_quantizer_forward(q, w, 2, (int64_t[]){64, 256}, want));
    const float *gd = qc_tensor_data(&got);
    int off = 0;
    for (int i = 0; i < 64 * 256; i++) off += memcmp(&gd[i], &want[i], 4) != 0;
    ck_assert_msg(off == 0, "%s: %d weight elements differ from Quark's quantizer", PRESETS[p], off);
    /* realize (which checks its codes against FakeQuant) and lower-qdq keep the values. */
    run_pipeline(g, "realize,lower-qdq,fold{fold-qdq=true}");
    qc_vid wt = qc_graph_find(g, "fc.weight_t");
    ck_assert_int_ge(wt, 0);
    const qc_value *wv = qc_graph_value(g, wt);
    ck_assert_msg(wv->kind == QC_VALUE_CONST, "%s: weight not constant after lowering", PRESETS[p]);
    const float *ld = qc_tensor_data(&wv->cst);
    off = 0;
    for (int o = 0; o < 64; o++)
      for (int i = 0; i < 256; i++) off += memcmp(&ld[i * 64 + o], &want[o * 256 + i], 4) != 0;
    ck_assert_msg(off == 0, "%s: %d lowered weight elements differ", PRESETS[p], off);
    qc_quantizer_free(q);
    qc_qconfig_free(cfg);
    qc_tensor_release(&got);
    qc_graph_destroy(g);
  }
  rm_calib_dir(cd);
}
END_TEST

/* The rotation pass's matrices: orthogonal, entries +-1/sqrt(k), for every order its
 * constructions reach (Sylvester 2^a times Paley I and II), block-diagonal with a
 * rotation_size, still orthogonal with random signs; an unreachable order is refused. */
static void check_rotation(int64_t n, int64_t block, bool random) {
  double *r;
  OK(qc_rotation_matrix(n, block, random, 7, &r));
  int64_t k = block ? block : n;
  double worst = 0;
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < n; j++) {
      double dot = 0;
      for (int64_t e = 0; e < n; e++) dot += r[i * n + e] * r[j * n + e];
      worst = fmax(worst, fabs(dot - (i == j)));
      double a = fabs(r[i * n + j]);
      bool same_block = i / k == j / k;
      ck_assert_msg(same_block ? fabs(a - 1 / sqrt((double)k)) < 1e-15 : a == 0,
                    "order %lld block %lld: R[%lld][%lld] = %g", (long long)n, (long long)block,
                    (long long)i, (long long)j, r[i * n + j]);
    }
  }
  ck_assert_msg(worst < 1e-12, "order %lld: R R^T differs from I by %g", (long long)n, worst);
  free(r);
}

START_TEST(rotation_matrices) {
  /* Paley I: 12 (p = 11), 20 (19), 44 (43), 60 (59), 108 (107); Paley II: 28 (13), 36 (17);
   * times powers of two: 24, 48, 72, 96, 384, 576 (36 * 16). (1536 and the others real models
   * have are compared with Quark's in tests/python/test_quant_rotation.py.) */
  static const int64_t orders[] = {1, 2, 4, 8, 12, 20, 24, 28, 36, 44, 48, 60, 64, 72, 96, 108,
                                   384, 576};
  for (size_t i = 0; i < sizeof orders / sizeof orders[0]; i++) check_rotation(orders[i], 0, false);
  check_rotation(48, 12, false);
  check_rotation(64, 16, false);
  check_rotation(576, 0, true);
  double *a, *b;
  OK(qc_rotation_matrix(64, 0, false, 1, &a));
  OK(qc_rotation_matrix(64, 0, true, 1, &b));
  ck_assert(memcmp(a, b, sizeof *a * 64 * 64) != 0);
  free(a);
  free(b);
  qc_status s = qc_rotation_matrix(100, 0, false, 0, &a);
  ck_assert_int_eq(qc_status_code(s), QC_CODE_UNIMPLEMENTED);
  ck_assert_ptr_nonnull(strstr(qc_status_message(s), "no Hadamard matrix of order 100"));
  qc_status_free(s);
  s = qc_rotation_matrix(48, 10, false, 0, &a);
  ck_assert_ptr_nonnull(strstr(qc_status_message(s), "rotation_size 10 does not divide the width 48"));
  qc_status_free(s);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("quant_passes");
  TCase *t = tcase_create("lowering");
  tcase_add_test(t, lower_dynamic_int8_per_tensor);
  tcase_add_test(t, lower_dynamic_int8_per_token);
  tcase_add_test(t, lower_dynamic_uint8_asym);
  tcase_add_test(t, lower_dynamic_fp8);
  tcase_add_test(t, lower_dynamic_mx);
  tcase_add_test(t, lower_nonscaled);
  tcase_add_test(t, lower_dynamic_nvfp4);
  tcase_add_test(t, freeze_weights_equal_quark);
  tcase_add_test(t, rotation_matrices);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  SRunner *r = srunner_create(suite());
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
