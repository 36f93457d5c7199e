/* Helpers shared by the pass, pipeline and rewriter suites: building small graphs with the
 * builder API, asserting on statuses, finding nodes, and tiny interpreter kernels for the
 * ops the fold tests use (registered only where the interpreter has none yet). */
#ifndef QUARC_TESTS_PASS_TEST_UTIL_H
#define QUARC_TESTS_PASS_TEST_UTIL_H

#include "quarc/quarc.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define OK(expr)                                                                                   \
  do {                                                                                             \
    qc_status s_ = (expr);                                                                         \
    ck_assert_msg(s_ == QC_OK, "%s failed: %s", #expr, qc_status_message(s_));                    \
  } while (0)

/* Expect an error whose message contains `needle`. */
#define FAILS_WITH(expr, needle)                                                                   \
  do {                                                                                             \
    qc_status s_ = (expr);                                                                         \
    ck_assert_msg(s_ != QC_OK, "%s succeeded, expected an error with '%s'", #expr, needle);       \
    ck_assert_msg(strstr(qc_status_message(s_), needle), "%s: message '%s' lacks '%s'", #expr,    \
                  qc_status_message(s_), needle);                                                  \
    qc_status_free(s_);                                                                            \
  } while (0)

static inline qc_graph *new_graph(void) {
  qc_graph *g;
  OK(qc_graph_create(NULL, &g));
  OK(qc_graph_set_opset(g, "", 21));
  return g;
}

static inline qc_vid add_input(qc_graph *g, const char *name, qc_dtype dt, int32_t rank,
                               const int64_t *dims) {
  qc_type t = qc_type_tensor(dt, rank, dims);
  qc_vid v;
  OK(qc_graph_add_input(g, name, &t, &v));
  return v;
}

/* A constant from n doubles, stored as dtype dt with the given shape. */
static inline qc_vid add_const(qc_graph *g, const char *name, qc_dtype dt, int32_t rank,
                               const int64_t *dims, const double *vals) {
  qc_tensor t;
  OK(qc_tensor_alloc(&t, NULL, dt, rank, dims));
  int64_t n = qc_tensor_numel(&t);
  for (int64_t i = 0; i < n; i++) qc_elem_set_f64(dt, qc_tensor_data(&t), (size_t)i, vals[i], 0);
  qc_vid v;
  OK(qc_graph_add_const(g, name, &t, &v));
  qc_tensor_release(&t);
  return v;
}

static inline qc_vid add_scalar(qc_graph *g, const char *name, qc_dtype dt, double x) {
  return add_const(g, name, dt, 0, NULL, &x);
}

static inline qc_vid add_i64s(qc_graph *g, const char *name, int32_t n, const int64_t *v) {
  double d[16];
  for (int32_t i = 0; i < n; i++) d[i] = (double)v[i];
  int64_t dims[1] = {n};
  return add_const(g, name, QC_I64, 1, dims, d);
}

static inline qc_vid op1(qc_graph *g, qc_op op, qc_vid a, const char *out) {
  qc_vid v;
  OK(qc_graph_add_op(g, op, NULL, 1, &a, out, &v));
  return v;
}

static inline qc_vid op2(qc_graph *g, qc_op op, qc_vid a, qc_vid b, const char *out) {
  qc_vid v;
  qc_vid in[2] = {a, b};
  OK(qc_graph_add_op(g, op, NULL, 2, in, out, &v));
  return v;
}

static inline qc_nid def_node(const qc_graph *g, qc_vid v) { return qc_graph_value(g, v)->node; }

static inline int count_op(const qc_graph *g, qc_op op) {
  int c = 0;
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++)
    if (!qc_graph_node(g, n)->dead && qc_graph_node(g, n)->op == op) c++;
  return c;
}

static inline int count_consts(const qc_graph *g) {
  int c = 0;
  for (qc_vid v = 0; v < qc_graph_num_values(g); v++)
    if (qc_graph_value(g, v)->kind == QC_VALUE_CONST) c++;
  return c;
}

/* The value named `name` (asserts it exists). */
static inline const qc_value *val(const qc_graph *g, const char *name) {
  qc_vid v = qc_graph_find(g, name);
  ck_assert_msg(v >= 0, "no value '%s'", name);
  return qc_graph_value(g, v);
}

static inline const char *out_name(const qc_graph *g, int32_t i) {
  return qc_graph_value(g, qc_graph_output(g, i))->name;
}

/* Run one registered pass by pipeline text and verify the result. */
static inline void run_pipeline(qc_graph *g, const char *text) {
  qc_context *ctx;
  OK(qc_context_create(&ctx));
  qc_pipeline *p;
  OK(qc_pipeline_parse(ctx, text, &p));
  qc_pipeline_options o = {.verify_each = true};
  OK(qc_pipeline_run(p, g, &o));
  OK(qc_graph_verify(g));
  qc_pipeline_destroy(p);
  qc_context_destroy(ctx);
}

/* ---- tiny kernels: f32 elementwise with a scalar or same-shape second input ---------------- */

static inline qc_status test_k_binary(qc_kctx *k, int which) {
  const qc_tensor *a = qc_k_in(k, 0), *b = qc_k_in(k, 1);
  if (a->dtype != QC_F32 || b->dtype != QC_F32)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "test kernel: f32 only");
  int64_t na = qc_tensor_numel(a), nb = qc_tensor_numel(b);
  const qc_tensor *big = na >= nb ? a : b;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, big, &y));
  const float *pa = qc_tensor_data(a), *pb = qc_tensor_data(b);
  float *py = qc_tensor_data(y);
  for (int64_t i = 0; i < qc_tensor_numel(big); i++) {
    float x = pa[na == 1 ? 0 : i], z = pb[nb == 1 ? 0 : i];
    py[i] = which == 0 ? x + z : x * z;
  }
  return QC_OK;
}
static inline qc_status test_k_add(qc_kctx *k) { return test_k_binary(k, 0); }
static inline qc_status test_k_mul(qc_kctx *k) { return test_k_binary(k, 1); }

static inline qc_status test_k_neg(qc_kctx *k) {
  const qc_tensor *a = qc_k_in(k, 0);
  if (a->dtype != QC_F32) return qc_status_new(QC_CODE_UNIMPLEMENTED, "test kernel: f32 only");
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, a, &y));
  for (int64_t i = 0; i < qc_tensor_numel(a); i++)
    ((float *)qc_tensor_data(y))[i] = -((const float *)qc_tensor_data(a))[i];
  return QC_OK;
}

static inline void ensure_test_kernels(void) {
  if (!qc_interp_supports(QC_OP_Add)) OK(qc_kernel_register(QC_OP_Add, test_k_add));
  if (!qc_interp_supports(QC_OP_Mul)) OK(qc_kernel_register(QC_OP_Mul, test_k_mul));
  if (!qc_interp_supports(QC_OP_Neg)) OK(qc_kernel_register(QC_OP_Neg, test_k_neg));
}

#endif
