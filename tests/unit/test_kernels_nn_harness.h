/* A one-node graph harness for kernel unit tests (test_kernels_nn*.c,
 * test_kernels_linalg*.c): build a node of op `op` whose inputs are graph inputs, set its
 * attributes, run it on the interpreter and read its outputs back.
 *
 *     kh_node h;
 *     kh_init(&h, QC_OP_Conv, 23, 2, (qc_tensor *[]){&x, &w}, 1);
 *     kh_ints(&h, "pads", 4, (int64_t[]){1, 1, 1, 1});
 *     kh_run(&h, 2);             // 2 threads
 *     float *y = kh_out_f32(&h, 0);
 *     ...
 *     kh_free(&h);
 */
#ifndef TEST_KERNELS_NN_HARNESS_H
#define TEST_KERNELS_NN_HARNESS_H

#include "quarc/quarc.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KH_MAX_IO 12

typedef struct kh_node {
  qc_graph *g;
  qc_nid node;
  int32_t n_in, n_out;
  qc_tensor *in[KH_MAX_IO];
  qc_rvalue out[KH_MAX_IO];
} kh_node;

static inline void kh_check(qc_status s) {
  if (s) ck_abort_msg("%s", qc_status_message(s));
}

/** A new tensor of dtype dt filled from doubles (converted with the dtype module). */
static inline qc_tensor kh_tensor(qc_dtype dt, int32_t rank, const int64_t *dims,
                                  const double *v) {
  qc_tensor t;
  kh_check(qc_tensor_alloc(&t, NULL, dt, rank, dims));
  int64_t n = qc_tensor_numel(&t);
  if (v)
    for (int64_t i = 0; i < n; i++) qc_elem_set_f64(dt, qc_tensor_data(&t), (size_t)i, v[i], 0);
  return t;
}

static inline qc_tensor kh_f32(int32_t rank, const int64_t *dims, const float *v) {
  qc_tensor t;
  kh_check(qc_tensor_alloc(&t, NULL, QC_F32, rank, dims));
  if (v) memcpy(qc_tensor_data(&t), v, qc_tensor_nbytes(&t));
  return t;
}

/** A copy of an f32 tensor as f64 (exact): for running the f64 paths on the same values. */
static inline qc_tensor kh_as_f64(const qc_tensor *t) {
  qc_tensor d;
  kh_check(qc_tensor_alloc(&d, NULL, QC_F64, t->rank, t->dims));
  qc_convert(t->dtype, qc_tensor_data(t), QC_F64, qc_tensor_data(&d), (size_t)qc_tensor_numel(t), 0);
  return d;
}

/** Deterministic values in [-1, 1). */
static inline void kh_fill(float *p, int64_t n, uint64_t seed) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (int64_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = (float)((x >> 40) & 0xffff) / 32768.0f - 1.0f;
  }
}

/** in[i] NULL = an omitted optional input. The graph imports opset `opset` of "". */
static inline void kh_init(kh_node *h, qc_op op, int64_t opset, int32_t n_in, qc_tensor *const *in,
                           int32_t n_out) {
  memset(h, 0, sizeof *h);
  h->n_in = n_in;
  h->n_out = n_out;
  kh_check(qc_graph_create(NULL, &h->g));
  kh_check(qc_graph_set_opset(h->g, "", opset));
  kh_check(qc_graph_set_opset(h->g, "ai.onnx.preview", 1));
  qc_vid ids[KH_MAX_IO];
  for (int32_t i = 0; i < n_in; i++) {
    h->in[i] = in[i];
    ids[i] = QC_NONE;
    if (!in[i]) continue;
    qc_type t = qc_type_tensor(in[i]->dtype, in[i]->rank, in[i]->dims);
    kh_check(qc_graph_add_input(h->g, NULL, &t, &ids[i]));
  }
  kh_check(qc_graph_add_node(h->g, op, "n", n_in, ids, n_out, NULL, &h->node));
}

static inline void kh_int(kh_node *h, const char *name, int64_t v) {
  kh_check(qc_node_set_int(h->g, h->node, name, v));
}
static inline void kh_float(kh_node *h, const char *name, double v) {
  kh_check(qc_node_set_float(h->g, h->node, name, v));
}
static inline void kh_string(kh_node *h, const char *name, const char *v) {
  kh_check(qc_node_set_string(h->g, h->node, name, v));
}
static inline void kh_ints(kh_node *h, const char *name, int32_t n, const int64_t *v) {
  kh_check(qc_node_set_ints(h->g, h->node, name, n, v));
}
static inline void kh_floats(kh_node *h, const char *name, int32_t n, const double *v) {
  kh_check(qc_node_set_floats(h->g, h->node, name, n, v));
}

/** Run; returns the status instead of failing (for error tests). */
static inline qc_status kh_try(kh_node *h, int32_t threads) {
  const qc_node *nd = qc_graph_node(h->g, h->node);
  for (int32_t i = 0; i < h->n_out; i++) qc_rvalue_release(&h->out[i]);
  /* Graph outputs: every node output. */
  if (qc_graph_num_outputs(h->g) == 0)
    for (int32_t i = 0; i < h->n_out; i++) kh_check(qc_graph_add_output(h->g, nd->out[i]));
  qc_rvalue ins[KH_MAX_IO];
  int32_t n = 0;
  for (int32_t i = 0; i < h->n_in; i++)
    if (h->in[i]) ins[n++] = qc_rvalue_tensor(h->in[i]);
  qc_interp_options o;
  memset(&o, 0, sizeof o);
  o.n_threads = threads;
  qc_status s = qc_run_graph(h->g, &o, n, ins, h->n_out, h->out);
  for (int32_t i = 0; i < n; i++) qc_rvalue_release(&ins[i]);
  return s;
}

static inline void kh_run(kh_node *h, int32_t threads) { kh_check(kh_try(h, threads)); }

static inline const qc_tensor *kh_out(const kh_node *h, int32_t i) {
  ck_assert_int_eq(h->out[i].kind, QC_RV_TENSOR);
  return &h->out[i].t;
}
static inline const float *kh_out_f32(const kh_node *h, int32_t i) {
  ck_assert_int_eq(kh_out(h, i)->dtype, QC_F32);
  return qc_tensor_data(kh_out(h, i));
}
static inline double kh_out_at(const kh_node *h, int32_t i, int64_t j) {
  const qc_tensor *t = kh_out(h, i);
  return qc_elem_f64(t->dtype, qc_tensor_data(t), (size_t)j);
}
static inline void kh_expect_shape(const kh_node *h, int32_t i, int32_t rank, const int64_t *dims) {
  const qc_tensor *t = kh_out(h, i);
  ck_assert_int_eq(t->rank, rank);
  for (int32_t d = 0; d < rank; d++) ck_assert_int_eq(t->dims[d], dims[d]);
}
/** Compare output i elementwise with want[] within atol + rtol*|want|. */
static inline void kh_expect_near(const kh_node *h, int32_t i, const double *want, int64_t n,
                                  double atol, double rtol, const char *what) {
  const qc_tensor *t = kh_out(h, i);
  ck_assert_int_eq(qc_tensor_numel(t), n);
  for (int64_t j = 0; j < n; j++) {
    double got = qc_elem_f64(t->dtype, qc_tensor_data(t), (size_t)j);
    bool ok = isnan(want[j]) ? isnan(got) : fabs(got - want[j]) <= atol + rtol * fabs(want[j]);
    ck_assert_msg(ok, "%s: output %d element %lld = %.9g, want %.9g", what, i, (long long)j, got,
                  want[j]);
  }
}

static inline void kh_free(kh_node *h) {
  for (int32_t i = 0; i < h->n_out; i++) qc_rvalue_release(&h->out[i]);
  qc_graph_destroy(h->g);
  memset(h, 0, sizeof *h);
}

#endif
