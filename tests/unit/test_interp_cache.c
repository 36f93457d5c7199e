/* The interpreter computes constant subgraphs once: a weight transpose/cast feeding a MatMul
 * runs on the first qc_interp_run only (fewer allocations afterwards, same results), an
 * observer still sees those values on every run, constant graph outputs come back, and an
 * error inside a constant subgraph is reported by qc_interp_run (every time) naming the
 * node. */
#include "unit/ktest_graph.h"

#include <check.h>
#include <stdlib.h>

static qc_vid input(qc_graph *g, const char *name, qc_dtype dt, int32_t rank, const int64_t *dims) {
  qc_type t = qc_type_tensor(dt, rank, dims);
  qc_vid v;
  kt_ok(qc_graph_add_input(g, name, &t, &v));
  return v;
}

static qc_vid constant(qc_graph *g, const char *name, qc_tensor t) {
  qc_vid v;
  kt_ok(qc_graph_add_const(g, name, &t, &v));
  qc_tensor_release(&t);
  return v;
}

static qc_vid node(qc_graph *g, qc_op op, const char *name, int32_t n_in, const qc_vid *in,
                   int32_t n_attr, const qc_attr *attr) {
  qc_nid n;
  kt_ok(qc_graph_add_node(g, op, name, n_in, in, 1, (const char *[]){name}, &n));
  for (int32_t i = 0; i < n_attr; i++) kt_ok(qc_node_set_attr(g, n, &attr[i]));
  return qc_graph_node(g, n)->out[0];
}

typedef struct counting {
  int64_t allocs;
} counting;

static void *count_realloc(void *ctx, void *p, size_t old, size_t n) {
  (void)old;
  counting *c = ctx;
  if (n == 0) {
    free(p);
    return NULL;
  }
  if (!p) c->allocs++;
  return realloc(p, n);
}

typedef struct seen {
  int n;
  bool saw_wt;
} seen;

static qc_status observe(void *user, const qc_graph *g, qc_vid v, const qc_rvalue *val) {
  seen *s = user;
  s->n++;
  if (!strcmp(qc_graph_value(g, v)->name, "w_t")) {
    s->saw_wt = true;
    ck_assert_int_eq(val->kind, QC_RV_TENSOR);
    ck_assert_int_eq(val->t.dims[0], 3);
  }
  return QC_OK;
}

/* y = x @ Cast(Transpose(W)), plus the transposed weight as a second output. */
static qc_graph *linear_graph(void) {
  qc_graph *g;
  kt_ok(qc_graph_create(NULL, &g));
  qc_vid x = input(g, "x", QC_F32, 2, KT_DIMS(2, 3));
  float w[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  qc_vid wv = constant(g, "w", kt_f32(2, KT_DIMS(4, 3), w));
  qc_vid wt = node(g, QC_OP_Transpose, "w_t", 1, &wv, 1, (qc_attr[]){KT_INTS("perm", 1, 0)});
  qc_vid wc = node(g, QC_OP_Cast, "w_f32", 1, &wt, 1, (qc_attr[]){KT_INT("to", 1)});
  qc_vid y = node(g, QC_OP_MatMul, "y", 2, (qc_vid[]){x, wc}, 0, NULL);
  kt_ok(qc_graph_add_output(g, y));
  kt_ok(qc_graph_add_output(g, wt));
  return g;
}

START_TEST(computed_once) {
  qc_graph *g = linear_graph();
  counting cnt = {0};
  qc_allocator a = {count_realloc, &cnt};
  qc_interp *it;
  kt_ok(qc_interp_create(g, &(qc_interp_options){.n_threads = 1, .alloc = &a}, &it));
  qc_tensor tx = kt_f32(2, KT_DIMS(2, 3), (float[]){1, 0, 0, 0, 1, 1});
  qc_rvalue in = qc_rvalue_tensor(&tx);
  int64_t per_run[3];
  for (int r = 0; r < 3; r++) {
    qc_rvalue out[2];
    int64_t before = cnt.allocs;
    kt_ok(qc_interp_run(it, 1, &in, 2, out));
    per_run[r] = cnt.allocs - before;
    kt_expect_f32(&out[0], 2, KT_DIMS(2, 4), (float[]){1, 4, 7, 10, 5, 11, 17, 23}, 0);
    kt_expect_f32(&out[1], 2, KT_DIMS(3, 4), (float[]){1, 4, 7, 10, 2, 5, 8, 11, 3, 6, 9, 12}, 0);
    qc_rvalue_release(&out[0]);
    qc_rvalue_release(&out[1]);
  }
  /* the first run also made the transpose and the cast */
  ck_assert_msg(per_run[1] < per_run[0] && per_run[2] == per_run[1],
                "allocations per run: %lld, %lld, %lld", (long long)per_run[0],
                (long long)per_run[1], (long long)per_run[2]);
  qc_interp_destroy(it);
  qc_rvalue_release(&in);
  qc_tensor_release(&tx);
  qc_graph_destroy(g);
}
END_TEST

START_TEST(observer_sees_constant_results) {
  qc_graph *g = linear_graph();
  seen s = {0, false};
  qc_interp *it;
  kt_ok(qc_interp_create(g, &(qc_interp_options){.n_threads = 1, .observe = observe, .observe_user = &s},
                         &it));
  qc_tensor tx = kt_f32(2, KT_DIMS(2, 3), (float[]){1, 2, 3, 4, 5, 6});
  qc_rvalue in = qc_rvalue_tensor(&tx);
  for (int r = 0; r < 2; r++) {
    s.n = 0;
    s.saw_wt = false;
    qc_rvalue out[2];
    kt_ok(qc_interp_run(it, 1, &in, 2, out));
    ck_assert_int_eq(s.n, 4); /* x, w_t, w_f32, y */
    ck_assert(s.saw_wt);
    qc_rvalue_release(&out[0]);
    qc_rvalue_release(&out[1]);
  }
  qc_interp_destroy(it);
  qc_rvalue_release(&in);
  qc_tensor_release(&tx);
  qc_graph_destroy(g);
}
END_TEST

START_TEST(error_in_constant_subgraph) {
  qc_graph *g;
  kt_ok(qc_graph_create(NULL, &g));
  qc_vid x = input(g, "x", QC_F32, 1, KT_DIMS(4));
  qc_vid c = constant(g, "c", kt_f32(1, KT_DIMS(4), (float[]){1, 2, 3, 4}));
  qc_vid shp = constant(g, "shape", kt_i64(1, KT_DIMS(1), (int64_t[]){5}));
  qc_vid r = node(g, QC_OP_Reshape, "bad_reshape", 2, (qc_vid[]){c, shp}, 0, NULL);
  qc_vid y = node(g, QC_OP_Add, "y", 2, (qc_vid[]){x, r}, 0, NULL);
  kt_ok(qc_graph_add_output(g, y));
  qc_interp *it;
  kt_ok(qc_interp_create(g, &(qc_interp_options){.n_threads = 1}, &it));
  qc_tensor tx = kt_f32(1, KT_DIMS(4), (float[]){0, 0, 0, 0});
  qc_rvalue in = qc_rvalue_tensor(&tx);
  for (int k = 0; k < 2; k++) {
    qc_rvalue out;
    qc_status s = qc_interp_run(it, 1, &in, 1, &out);
    ck_assert_msg(s && strstr(qc_status_message(s), "bad_reshape"), "run %d: %s", k,
                  s ? qc_status_message(s) : "no error");
    qc_status_free(s);
  }
  qc_interp_destroy(it);
  qc_rvalue_release(&in);
  qc_tensor_release(&tx);
  qc_graph_destroy(g);
}
END_TEST

int main(void) {
  Suite *su = suite_create("interp_cache");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, computed_once);
  tcase_add_test(tc, observer_sees_constant_results);
  tcase_add_test(tc, error_in_constant_subgraph);
  suite_add_tcase(su, tc);
  SRunner *sr = srunner_create(su);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
