/* Helpers for kernel unit tests: build a one-node graph with the builder API, run it on
 * the interpreter, and compare outputs with values pasted from numpy / the ONNX reference.
 *
 *     kt_run r = kt_op(QC_OP_Transpose, 1, (const qc_tensor *[]){&x}, 1,
 *                      (qc_attr[]){KT_INTS("perm", 1, 0)}, 1);
 *     kt_expect_f32(&r.out[0], 2, (int64_t[]){3, 2}, (float[]){...}, 0);
 *     kt_done(&r);
 */
#ifndef QUARC_TESTS_KTEST_GRAPH_H
#define QUARC_TESTS_KTEST_GRAPH_H

#include "quarc/quarc.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KT_MAX_OUT 16

typedef struct kt_run {
  qc_graph *g;
  qc_interp *it;
  int32_t n_out;
  qc_rvalue out[KT_MAX_OUT];
} kt_run;

/* Attribute literals for kt_op. */
#define KT_INT(nm, v)                                                                              \
  { .name = (nm), .kind = QC_ATTR_INT, .u.i = (v) }
#define KT_FLOAT(nm, v)                                                                            \
  { .name = (nm), .kind = QC_ATTR_FLOAT, .u.f = (v) }
#define KT_STR(nm, v)                                                                              \
  { .name = (nm), .kind = QC_ATTR_STRING, .n = (int32_t)strlen(v), .u.s = (v) }
#define KT_INTS(nm, ...)                                                                           \
  {                                                                                                \
    .name = (nm), .kind = QC_ATTR_INTS,                                                            \
    .n = (int32_t)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), .u.ints = (int64_t[]) {    \
      __VA_ARGS__                                                                                  \
    }                                                                                              \
  }
#define KT_FLOATS(nm, ...)                                                                         \
  {                                                                                                \
    .name = (nm), .kind = QC_ATTR_FLOATS,                                                          \
    .n = (int32_t)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)), .u.floats = (double[]) {     \
      __VA_ARGS__                                                                                  \
    }                                                                                              \
  }
#define KT_GRAPH(nm, gr)                                                                           \
  { .name = (nm), .kind = QC_ATTR_GRAPH, .u.g = (gr) }
#define KT_DIMS(...)                                                                               \
  (int64_t[]) { __VA_ARGS__ }

static inline void kt_ok(qc_status s) {
  ck_assert_msg(s == QC_OK, "unexpected error: %s", qc_status_message(s));
}

/* A new tensor holding a copy of `data` (numel elements' bytes; strings duplicated). */
static inline qc_tensor kt_tensor(qc_dtype dt, int32_t rank, const int64_t *dims,
                                  const void *data) {
  qc_tensor t;
  kt_ok(qc_tensor_alloc(&t, NULL, dt, rank, dims));
  if (dt == QC_STRING) {
    const char *const *s = data;
    char **d = qc_tensor_data(&t);
    for (int64_t i = 0, n = qc_tensor_numel(&t); i < n; i++) d[i] = strdup(s[i]);
  } else if (data) {
    memcpy(qc_tensor_data(&t), data, qc_tensor_nbytes(&t));
  }
  return t;
}
static inline qc_tensor kt_f32(int32_t rank, const int64_t *dims, const float *v) {
  return kt_tensor(QC_F32, rank, dims, v);
}
static inline qc_tensor kt_i64(int32_t rank, const int64_t *dims, const int64_t *v) {
  return kt_tensor(QC_I64, rank, dims, v);
}
static inline qc_tensor kt_i32(int32_t rank, const int64_t *dims, const int32_t *v) {
  return kt_tensor(QC_I32, rank, dims, v);
}
static inline qc_tensor kt_scalar_i64(int64_t v) { return kt_tensor(QC_I64, 0, NULL, &v); }
/* A float tensor 0, 1, 2, ... of the given shape. */
static inline qc_tensor kt_iota_f32(int32_t rank, const int64_t *dims) {
  qc_tensor t;
  kt_ok(qc_tensor_alloc(&t, NULL, QC_F32, rank, dims));
  float *p = qc_tensor_data(&t);
  for (int64_t i = 0, n = qc_tensor_numel(&t); i < n; i++) p[i] = (float)i;
  return t;
}

/* Run `op` on inputs (NULL entries: omitted optional inputs) with attributes; opset 0 means
 * no opset import (kernels then assume the newest version). Fails the test on error. */
static inline qc_status kt_op_try(kt_run *r, qc_op op, int64_t opset, int32_t n_in,
                                  const qc_tensor *const *in, int32_t n_attr, const qc_attr *attr,
                                  int32_t n_out) {
  memset(r, 0, sizeof *r);
  r->n_out = n_out;
  kt_ok(qc_graph_create(NULL, &r->g));
  if (opset) kt_ok(qc_graph_set_opset(r->g, "", opset));
  qc_vid vin[16];
  qc_rvalue rin[16];
  int32_t n_rin = 0;
  for (int32_t i = 0; i < n_in; i++) {
    if (!in[i]) {
      vin[i] = QC_NONE;
      continue;
    }
    char name[16];
    snprintf(name, sizeof name, "in%d", i);
    qc_type t = qc_type_tensor(in[i]->dtype, in[i]->rank, in[i]->dims);
    kt_ok(qc_graph_add_input(r->g, name, &t, &vin[i]));
    rin[n_rin++] = qc_rvalue_tensor(in[i]);
  }
  qc_nid n;
  kt_ok(qc_graph_add_node(r->g, op, "node", n_in, vin, n_out, NULL, &n));
  for (int32_t i = 0; i < n_attr; i++) kt_ok(qc_node_set_attr(r->g, n, &attr[i]));
  for (int32_t i = 0; i < n_out; i++)
    kt_ok(qc_graph_add_output(r->g, qc_graph_node(r->g, n)->out[i]));
  kt_ok(qc_interp_create(r->g, NULL, &r->it));
  qc_status s = qc_interp_run(r->it, n_rin, rin, n_out, r->out);
  for (int32_t i = 0; i < n_rin; i++) qc_rvalue_release(&rin[i]);
  return s;
}

static inline kt_run kt_op_v(qc_op op, int64_t opset, int32_t n_in, const qc_tensor *const *in,
                             int32_t n_attr, const qc_attr *attr, int32_t n_out) {
  kt_run r;
  kt_ok(kt_op_try(&r, op, opset, n_in, in, n_attr, attr, n_out));
  return r;
}
static inline kt_run kt_op(qc_op op, int32_t n_in, const qc_tensor *const *in, int32_t n_attr,
                           const qc_attr *attr, int32_t n_out) {
  return kt_op_v(op, 0, n_in, in, n_attr, attr, n_out);
}

/* Expect an error whose message contains `needle`. */
static inline void kt_expect_error(qc_op op, int64_t opset, int32_t n_in,
                                   const qc_tensor *const *in, int32_t n_attr, const qc_attr *attr,
                                   int32_t n_out, const char *needle) {
  kt_run r;
  qc_status s = kt_op_try(&r, op, opset, n_in, in, n_attr, attr, n_out);
  ck_assert_msg(s != QC_OK, "expected an error containing '%s'", needle);
  ck_assert_msg(strstr(qc_status_message(s), needle), "error '%s' lacks '%s'", qc_status_message(s),
                needle);
  ck_assert_msg(strstr(qc_status_message(s), "node 'node'"), "error '%s' does not name the node",
                qc_status_message(s));
  qc_status_free(s);
  for (int32_t i = 0; i < r.n_out; i++) qc_rvalue_release(&r.out[i]);
  qc_interp_destroy(r.it);
  qc_graph_destroy(r.g);
}

static inline void kt_done(kt_run *r) {
  for (int32_t i = 0; i < r->n_out; i++) qc_rvalue_release(&r->out[i]);
  qc_interp_destroy(r->it);
  qc_graph_destroy(r->g);
  memset(r, 0, sizeof *r);
}

static inline void kt_expect_shape(const qc_rvalue *v, qc_dtype dt, int32_t rank,
                                   const int64_t *dims) {
  ck_assert_msg(v->kind == QC_RV_TENSOR, "output is not a tensor (kind %d)", v->kind);
  ck_assert_msg(v->t.dtype == dt, "dtype %s, expected %s", qc_dtype_name(v->t.dtype),
                qc_dtype_name(dt));
  ck_assert_msg(v->t.rank == rank, "rank %d, expected %d", v->t.rank, rank);
  for (int32_t d = 0; d < rank; d++)
    ck_assert_msg(v->t.dims[d] == dims[d], "dim %d is %lld, expected %lld", d,
                  (long long)v->t.dims[d], (long long)dims[d]);
}

/* Float outputs (any float dtype, read as double) within abs/rel tolerance tol. */
static inline void kt_expect_f32(const qc_rvalue *v, int32_t rank, const int64_t *dims,
                                 const float *want, double tol) {
  kt_expect_shape(v, v->t.dtype, rank, dims);
  ck_assert_msg(qc_dtype_is_float(v->t.dtype), "not a float output");
  int64_t n = qc_tensor_numel(&v->t);
  for (int64_t i = 0; i < n; i++) {
    double got = qc_elem_f64(v->t.dtype, qc_tensor_data(&v->t), (size_t)i), w = want[i];
    bool ok = (isnan(w) && isnan(got)) || got == w || fabs(got - w) <= tol * (1 + fabs(w));
    ck_assert_msg(ok, "element %lld is %.9g, expected %.9g", (long long)i, got, w);
  }
}

static inline void kt_expect_i64(const qc_rvalue *v, int32_t rank, const int64_t *dims,
                                 const int64_t *want) {
  kt_expect_shape(v, QC_I64, rank, dims);
  const int64_t *p = qc_tensor_data(&v->t);
  for (int64_t i = 0, n = qc_tensor_numel(&v->t); i < n; i++)
    ck_assert_msg(p[i] == want[i], "element %lld is %lld, expected %lld", (long long)i,
                  (long long)p[i], (long long)want[i]);
}

/* Integer-valued outputs of any int/bool dtype. */
static inline void kt_expect_ints(const qc_rvalue *v, qc_dtype dt, int32_t rank,
                                  const int64_t *dims, const int64_t *want) {
  kt_expect_shape(v, dt, rank, dims);
  for (int64_t i = 0, n = qc_tensor_numel(&v->t); i < n; i++) {
    int64_t got = qc_elem_i64(dt, qc_tensor_data(&v->t), (size_t)i);
    ck_assert_msg(got == want[i], "element %lld is %lld, expected %lld", (long long)i,
                  (long long)got, (long long)want[i]);
  }
}

static inline void kt_expect_strings(const qc_rvalue *v, int32_t rank, const int64_t *dims,
                                     const char *const *want) {
  kt_expect_shape(v, QC_STRING, rank, dims);
  char *const *p = qc_tensor_data(&v->t);
  for (int64_t i = 0, n = qc_tensor_numel(&v->t); i < n; i++)
    ck_assert_msg(p[i] && !strcmp(p[i], want[i]), "element %lld is '%s', expected '%s'",
                  (long long)i, p[i] ? p[i] : "(null)", want[i]);
}

#endif
