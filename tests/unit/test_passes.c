/* The built-in passes: dce, cse, fold and every canonicalize pattern, run through the
 * pipeline API with verify-each, on graphs built with the builder API. */
#include "quarc/rewrite.h"
#include "unit/pass_test_util.h"

#include <math.h>
#include <stdio.h>

/* ---- ops only these tests know --------------------------------------------------------- */

static qc_op OP_OBSERVE = QC_OP_INVALID, OP_OPAQUE = QC_OP_INVALID, OP_PICKY = QC_OP_INVALID,
             OP_BROKEN = QC_OP_INVALID;

static const qc_op_schema OBSERVE = {"test", "Observe", 1, 999, 1, 1, 0, 1,
                                     QC_OPF_SIDE_EFFECT, NULL, NULL, 0};
static const qc_op_schema OPAQUE = {"test", "Opaque", 1, 999, 1, 2, 1, 1, 0, NULL, NULL, 0};
static const qc_op_schema PICKY = {"test", "Picky", 1, 999, 1, 1, 1, 1, 0, NULL, NULL, 0};
static const qc_op_schema BROKEN = {"test", "Broken", 1, 999, 1, 1, 1, 1, 0, NULL, NULL, 0};

static qc_status k_picky(qc_kctx *k) {
  (void)k;
  return qc_status_new(QC_CODE_UNIMPLEMENTED, "not this dtype");
}
static qc_status k_broken(qc_kctx *k) { return qc_k_error(k, "division by zero"); }

/* DequantizeLinear for i8 with a scalar f32 scale and no zero point (fold-qdq tests). */
static qc_status k_dq(qc_kctx *k) {
  const qc_tensor *q = qc_k_in(k, 0), *s = qc_k_in(k, 1);
  if (q->dtype != QC_I8 || s->dtype != QC_F32 || qc_tensor_numel(s) != 1)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "test kernel: i8 with a scalar scale only");
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_F32, q->rank, q->dims, &y));
  for (int64_t i = 0; i < qc_tensor_numel(q); i++)
    ((float *)qc_tensor_data(y))[i] =
        (float)((const int8_t *)qc_tensor_data(q))[i] * ((const float *)qc_tensor_data(s))[0];
  return QC_OK;
}

static void setup(void) {
  ensure_test_kernels();
  if (OP_OBSERVE == QC_OP_INVALID) {
    OK(qc_op_register(&OBSERVE, &OP_OBSERVE));
    OK(qc_op_register(&OPAQUE, &OP_OPAQUE));
    OK(qc_op_register(&PICKY, &OP_PICKY));
    OK(qc_op_register(&BROKEN, &OP_BROKEN));
    OK(qc_kernel_register(OP_PICKY, k_picky));
    OK(qc_kernel_register(OP_BROKEN, k_broken));
  }
  if (!qc_interp_supports(QC_OP_DequantizeLinear))
    OK(qc_kernel_register(QC_OP_DequantizeLinear, k_dq));
}

static const float *fdata(const qc_value *v) {
  ck_assert_int_eq(v->kind, QC_VALUE_CONST);
  return qc_tensor_data(&v->cst);
}

/* ---- dce ------------------------------------------------------------------------------- */

START_TEST(dce_removes_unused) {
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  add_input(g, "unused_input", QC_F32, 1, d);
  qc_vid c = add_scalar(g, "c", QC_F32, 2.0);
  qc_vid a = op1(g, QC_OP_Relu, x, "a");
  qc_vid dead = op2(g, QC_OP_Mul, op1(g, QC_OP_Neg, x, "n"), c, "dead");
  op1(g, QC_OP_Sigmoid, dead, "dead2");
  qc_nid obs;
  OK(qc_graph_add_node(g, OP_OBSERVE, "obs", 1, &a, 0, NULL, &obs));
  OK(qc_graph_add_output(g, a));
  run_pipeline(g, "dce");
  ck_assert_int_eq(qc_graph_num_nodes(g), 2); /* Relu and the side-effecting Observe */
  ck_assert_int_eq(count_op(g, OP_OBSERVE), 1);
  ck_assert_int_eq(count_consts(g), 0);
  ck_assert_int_eq(qc_graph_num_inputs(g), 2); /* the interface stays */
  ck_assert_int_lt(qc_graph_find(g, "n"), 0);
  ck_assert_str_eq(out_name(g, 0), "a");
  qc_graph_destroy(g);
}
END_TEST

/* An If whose then-branch has a dead node capturing outer "w". */
static qc_graph *if_graph(bool dead_capture, qc_vid *w_out) {
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid c = add_input(g, "c", QC_BOOL, 0, NULL);
  qc_vid w = op1(g, QC_OP_Neg, x, "w");
  if (w_out) *w_out = w;
  qc_graph *br[2];
  for (int i = 0; i < 2; i++) {
    OK(qc_graph_create(NULL, &br[i]));
    qc_type t = qc_type_tensor(QC_F32, 1, d);
    qc_vid o;
    OK(qc_graph_add_outer(br[i], "x", &t, &o));
    qc_vid r = op1(br[i], QC_OP_Relu, o, i ? "t_out" : "e_out");
    if (i && dead_capture) {
      qc_vid wo;
      OK(qc_graph_add_outer(br[i], "w", &t, &wo));
      op1(br[i], QC_OP_Sigmoid, wo, "t_dead");
    }
    OK(qc_graph_add_output(br[i], r));
  }
  qc_nid n;
  const char *outs[1] = {"y"};
  OK(qc_graph_add_node(g, QC_OP_If, "if", 1, &c, 1, outs, &n));
  qc_attr at = {.name = "then_branch", .kind = QC_ATTR_GRAPH, .u.g = br[1]};
  OK(qc_node_set_attr(g, n, &at));
  qc_attr ae = {.name = "else_branch", .kind = QC_ATTR_GRAPH, .u.g = br[0]};
  OK(qc_node_set_attr(g, n, &ae));
  OK(qc_graph_verify(g));
  return g;
}

START_TEST(dce_subgraphs) {
  qc_graph *g = if_graph(true, NULL);
  OK(qc_graph_add_output(g, qc_graph_find(g, "y")));
  run_pipeline(g, "dce");
  /* The dead Sigmoid in the branch went, and with it the capture that kept "w" alive. */
  ck_assert_int_lt(qc_graph_find(g, "w"), 0);
  ck_assert_int_eq(count_op(g, QC_OP_Neg), 0);
  const qc_graph *then_g = qc_node_attr(g, val(g, "y")->node, "then_branch")->u.g;
  ck_assert_int_eq(qc_graph_num_nodes(then_g), 1);
  ck_assert_int_lt(qc_graph_find(then_g, "w"), 0);
  qc_graph_destroy(g);

  /* An unused If goes entirely; a used capture keeps its producer. */
  g = if_graph(false, NULL);
  qc_vid w = qc_graph_find(g, "w");
  OK(qc_graph_add_output(g, w));
  run_pipeline(g, "dce");
  ck_assert_int_eq(count_op(g, QC_OP_If), 0);
  ck_assert_int_eq(count_op(g, QC_OP_Neg), 1);
  qc_graph_destroy(g);
}
END_TEST

/* ---- cse ------------------------------------------------------------------------------- */

START_TEST(cse_merges_nodes) {
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid c = add_scalar(g, "c", QC_F32, 3.0);
  qc_vid r1 = op1(g, QC_OP_Relu, x, "r1"), r2 = op1(g, QC_OP_Relu, x, "r2");
  qc_vid n1 = op1(g, QC_OP_Neg, r1, "n1"), n2 = op1(g, QC_OP_Neg, r2, "n2"); /* cascade */
  qc_vid a1 = op2(g, QC_OP_Add, x, c, "a1"), a2 = op2(g, QC_OP_Add, c, x, "a2");
  qc_vid s1 = op2(g, QC_OP_Sub, x, c, "s1"), s2 = op2(g, QC_OP_Sub, c, x, "s2");
  qc_vid sum = op2(g, QC_OP_Add, n1, n2, "sum");
  qc_vid sum2 = op2(g, QC_OP_Add, a1, a2, "sum2");
  qc_vid sum3 = op2(g, QC_OP_Add, s1, s2, "sum3");
  OK(qc_graph_add_output(g, sum));
  OK(qc_graph_add_output(g, sum2));
  OK(qc_graph_add_output(g, sum3));
  run_pipeline(g, "cse");
  ck_assert_int_eq(count_op(g, QC_OP_Relu), 1);
  ck_assert_int_eq(count_op(g, QC_OP_Neg), 1);
  ck_assert_int_eq(count_op(g, QC_OP_Sub), 2); /* not commutative */
  ck_assert_int_eq(count_op(g, QC_OP_Add), 4); /* a1 == a2, and the three sums */
  const qc_node *s = qc_graph_node(g, val(g, "sum")->node);
  ck_assert_int_eq(s->in[0], s->in[1]);
  ck_assert_str_eq(qc_graph_value(g, s->in[0])->name, "n1");
  ck_assert_str_eq(out_name(g, 0), "sum");
  qc_graph_destroy(g);
}
END_TEST

START_TEST(cse_attributes_constants_random) {
  qc_graph *g = new_graph();
  int64_t d2[2] = {2, 3};
  qc_vid x = add_input(g, "x", QC_F32, 2, d2);
  qc_vid t[3];
  const int64_t perms[3][2] = {{1, 0}, {1, 0}, {0, 1}};
  for (int i = 0; i < 3; i++) {
    t[i] = op1(g, QC_OP_Transpose, x, NULL);
    OK(qc_node_set_ints(g, def_node(g, t[i]), "perm", 2, perms[i]));
  }
  /* The same attributes given in a different order. */
  qc_vid k1 = op1(g, QC_OP_Cast, x, "k1"), k2 = op1(g, QC_OP_Cast, x, "k2");
  OK(qc_node_set_int(g, def_node(g, k1), "to", 10));
  OK(qc_node_set_int(g, def_node(g, k1), "saturate", 0));
  OK(qc_node_set_int(g, def_node(g, k2), "saturate", 0));
  OK(qc_node_set_int(g, def_node(g, k2), "to", 10));
  /* Constants: equal, equal bytes in another shape, other dtype. */
  double v6[6] = {1, 2, 3, 4, 5, 6};
  int64_t d6[1] = {6};
  qc_vid c1 = add_const(g, "c1", QC_F32, 2, d2, v6), c2 = add_const(g, "c2", QC_F32, 2, d2, v6);
  qc_vid c3 = add_const(g, "c3", QC_F32, 1, d6, v6), c4 = add_const(g, "c4", QC_I32, 2, d2, v6);
  qc_vid m1 = op2(g, QC_OP_Mul, x, c1, "m1"), m2 = op2(g, QC_OP_Mul, x, c2, "m2");
  /* RandomNormal is nondeterministic: never merged. */
  qc_vid rn[2];
  for (int i = 0; i < 2; i++) {
    OK(qc_graph_add_op(g, QC_OP_RandomNormal, NULL, 0, NULL, NULL, &rn[i]));
    OK(qc_node_set_ints(g, def_node(g, rn[i]), "shape", 2, d2));
  }
  qc_vid outs[] = {t[0], t[1], t[2], k1, k2, m1, m2, rn[0], rn[1]};
  for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
    qc_vid r = op1(g, QC_OP_Identity, outs[i], NULL);
    OK(qc_graph_add_output(g, r));
  }
  qc_vid keep[] = {c3, c4};
  for (int i = 0; i < 2; i++) OK(qc_graph_add_output(g, op1(g, QC_OP_Identity, keep[i], NULL)));
  run_pipeline(g, "cse");
  ck_assert_int_eq(count_op(g, QC_OP_Transpose), 2);
  ck_assert_int_eq(count_op(g, QC_OP_Cast), 1);
  ck_assert_int_eq(count_op(g, QC_OP_Mul), 1);
  ck_assert_int_eq(count_op(g, QC_OP_RandomNormal), 2);
  ck_assert_int_eq(count_consts(g), 3); /* c1 (= c2), c3, c4 */
  ck_assert_int_lt(qc_graph_find(g, "c2"), 0);
  qc_graph_destroy(g);
}
END_TEST

START_TEST(cse_graph_outputs_and_subgraphs) {
  /* Two identical nodes that are both graph outputs keep their names: no merge. */
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  OK(qc_graph_add_output(g, op1(g, QC_OP_Relu, x, "y1")));
  OK(qc_graph_add_output(g, op1(g, QC_OP_Relu, x, "y2")));
  run_pipeline(g, "cse");
  ck_assert_int_eq(count_op(g, QC_OP_Relu), 2);
  ck_assert_str_eq(out_name(g, 1), "y2");
  qc_graph_destroy(g);

  /* Two Ifs with equal branches merge; a third with a different branch does not. */
  g = new_graph();
  x = add_input(g, "x", QC_F32, 1, d);
  qc_vid c = add_input(g, "c", QC_BOOL, 0, NULL);
  qc_vid ys[3];
  for (int k = 0; k < 3; k++) {
    qc_graph *br[2];
    for (int i = 0; i < 2; i++) {
      OK(qc_graph_create(NULL, &br[i]));
      qc_type t = qc_type_tensor(QC_F32, 1, d);
      qc_vid o;
      OK(qc_graph_add_outer(br[i], "x", &t, &o));
      char nm[16];
      snprintf(nm, sizeof nm, "b%d_%d", k, i);
      qc_vid r = op1(br[i], k == 2 && i == 1 ? QC_OP_Neg : QC_OP_Relu, o, nm);
      OK(qc_graph_add_output(br[i], r));
    }
    qc_nid n;
    OK(qc_graph_add_node(g, QC_OP_If, NULL, 1, &c, 1, NULL, &n));
    qc_attr at = {.name = "then_branch", .kind = QC_ATTR_GRAPH, .u.g = br[1]};
    OK(qc_node_set_attr(g, n, &at));
    qc_attr ae = {.name = "else_branch", .kind = QC_ATTR_GRAPH, .u.g = br[0]};
    OK(qc_node_set_attr(g, n, &ae));
    ys[k] = qc_graph_node(g, n)->out[0];
  }
  qc_vid s = op2(g, QC_OP_Add, op2(g, QC_OP_Add, ys[0], ys[1], NULL), ys[2], "s");
  OK(qc_graph_add_output(g, s));
  run_pipeline(g, "cse");
  ck_assert_int_eq(count_op(g, QC_OP_If), 2);
  qc_graph_destroy(g);
}
END_TEST

/* ---- fold ------------------------------------------------------------------------------- */

START_TEST(fold_constants) {
  qc_graph *g = new_graph();
  int64_t d[1] = {2};
  double va[2] = {1, 2}, vb[2] = {10, 20};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid a = add_const(g, "a", QC_F32, 1, d, va), b = add_const(g, "b", QC_F32, 1, d, vb);
  qc_vid s = op2(g, QC_OP_Add, a, b, "s");
  qc_vid p = op2(g, QC_OP_Mul, s, add_scalar(g, "k", QC_F32, 2.0), "p"); /* folds in turn */
  qc_vid y = op2(g, QC_OP_Mul, x, p, "y");                               /* not constant */
  OK(qc_graph_add_output(g, y));
  OK(qc_graph_add_output(g, s));
  run_pipeline(g, "fold");
  ck_assert_int_eq(count_op(g, QC_OP_Add), 0);
  ck_assert_int_eq(count_op(g, QC_OP_Mul), 1);
  const float *pp = fdata(val(g, "p"));
  ck_assert(pp[0] == 22.0f && pp[1] == 44.0f);
  /* A folded graph output keeps its name and becomes a constant. */
  ck_assert_str_eq(out_name(g, 1), "s");
  ck_assert_int_eq(qc_graph_value(g, qc_graph_output(g, 1))->kind, QC_VALUE_CONST);
  ck_assert(fdata(val(g, "s"))[1] == 22.0f);
  /* Inputs that only fed folded nodes are gone. */
  ck_assert_int_lt(qc_graph_find(g, "a"), 0);
  ck_assert_int_lt(qc_graph_find(g, "k"), 0);
  qc_graph_destroy(g);
}
END_TEST

START_TEST(fold_limits_and_skips) {
  qc_graph *g = new_graph();
  int64_t d[1] = {2};
  double va[2] = {1, 2};
  qc_vid a = add_const(g, "a", QC_F32, 1, d, va);
  qc_vid s = op2(g, QC_OP_Add, a, a, "s"); /* 8 bytes */
  qc_vid o, pk, br;
  OK(qc_graph_add_op(g, OP_OPAQUE, NULL, 1, &a, "o", &o));  /* no kernel: skipped */
  OK(qc_graph_add_op(g, OP_PICKY, NULL, 1, &a, "pk", &pk)); /* unimplemented: skipped */
  qc_vid outs[] = {s, o, pk};
  for (int i = 0; i < 3; i++) OK(qc_graph_add_output(g, outs[i]));
  qc_graph *g2;
  OK(qc_graph_clone(g, &g2));
  run_pipeline(g, "fold{max-bytes=4}");
  ck_assert_int_eq(count_op(g, QC_OP_Add), 1);
  ck_assert_int_eq(count_op(g, OP_OPAQUE), 1);
  ck_assert_int_eq(count_op(g, OP_PICKY), 1);
  run_pipeline(g2, "fold{max-bytes=8}");
  ck_assert_int_eq(count_op(g2, QC_OP_Add), 0);
  qc_graph_destroy(g);
  qc_graph_destroy(g2);

  /* A kernel error leaves the node for the run to report. */
  g = new_graph();
  a = add_const(g, "a", QC_F32, 1, d, va);
  OK(qc_graph_add_op(g, OP_BROKEN, "bad", 1, &a, "br", &br));
  OK(qc_graph_add_output(g, br));
  run_pipeline(g, "fold");
  ck_assert_int_eq(count_op(g, OP_BROKEN), 1);
  FAILS_WITH(qc_run_graph(g, NULL, 0, NULL, 1, (qc_rvalue[1]){{0}}),
             "node 'bad' (test.Broken): division by zero");
  qc_graph_destroy(g);
}
END_TEST

START_TEST(fold_keeps_qdq_and_random) {
  qc_graph *g = new_graph();
  int64_t d[1] = {2};
  double q[2] = {-3, 5};
  qc_vid w = add_const(g, "w", QC_I8, 1, d, q);
  qc_vid sc = add_scalar(g, "scale", QC_F32, 0.5);
  qc_vid dq = op2(g, QC_OP_DequantizeLinear, w, sc, "dq");
  qc_vid rn;
  OK(qc_graph_add_op(g, QC_OP_RandomNormal, NULL, 0, NULL, "rn", &rn));
  OK(qc_node_set_ints(g, def_node(g, rn), "shape", 1, d));
  OK(qc_graph_add_output(g, dq));
  OK(qc_graph_add_output(g, rn));
  run_pipeline(g, "fold");
  ck_assert_int_eq(count_op(g, QC_OP_DequantizeLinear), 1);
  ck_assert_int_eq(count_op(g, QC_OP_RandomNormal), 1);
  run_pipeline(g, "fold{fold-qdq=true}");
  ck_assert_int_eq(count_op(g, QC_OP_DequantizeLinear), 0);
  const float *f = fdata(val(g, "dq"));
  ck_assert(f[0] == -1.5f && f[1] == 2.5f);
  ck_assert_int_eq(count_op(g, QC_OP_RandomNormal), 1);
  qc_graph_destroy(g);
}
END_TEST

START_TEST(fold_in_subgraphs) {
  qc_graph *g = if_graph(false, NULL);
  qc_graph *then_g = (qc_graph *)qc_node_attr(g, val(g, "y")->node, "then_branch")->u.g;
  int64_t d[1] = {4};
  double v[4] = {1, 2, 3, 4};
  qc_vid c = add_const(then_g, "tc", QC_F32, 1, d, v);
  qc_vid s = op2(then_g, QC_OP_Add, c, c, "ts");
  qc_vid o = op2(then_g, QC_OP_Add, qc_graph_output(then_g, 0), s, "t2");
  qc_graph_set_output(then_g, 0, o);
  OK(qc_graph_add_output(g, qc_graph_find(g, "y")));
  OK(qc_graph_verify(g));
  run_pipeline(g, "fold");
  then_g = (qc_graph *)qc_node_attr(g, val(g, "y")->node, "then_branch")->u.g;
  ck_assert_int_eq(count_op(then_g, QC_OP_Add), 1);
  ck_assert(fdata(val(then_g, "ts"))[3] == 8.0f);
  qc_graph_destroy(g);
}
END_TEST

/* ---- canonicalize ---------------------------------------------------------------------- */

static qc_vid constant_node(qc_graph *g, const char *name, const qc_attr *a) {
  qc_nid n;
  const char *outs[1] = {name};
  OK(qc_graph_add_node(g, QC_OP_Constant, NULL, 0, NULL, 1, outs, &n));
  OK(qc_node_set_attr(g, n, a));
  return qc_graph_node(g, n)->out[0];
}

START_TEST(canon_constant_nodes) {
  qc_graph *g = new_graph();
  int64_t d[2] = {2, 2};
  qc_tensor t;
  OK(qc_tensor_alloc(&t, NULL, QC_I8, 2, d));
  ((int8_t *)qc_tensor_data(&t))[3] = 7;
  double fl[3] = {0.5, -1, 3};
  int64_t il[2] = {4, -5};
  const char *sv[2] = {"ab", "c"};
  int32_t sl[2] = {2, 1};
  qc_attr attrs[] = {
      {.name = "value", .kind = QC_ATTR_TENSOR, .u.t = &t},
      {.name = "value_float", .kind = QC_ATTR_FLOAT, .u.f = 1.5},
      {.name = "value_floats", .kind = QC_ATTR_FLOATS, .n = 3, .u.floats = fl},
      {.name = "value_int", .kind = QC_ATTR_INT, .u.i = -9},
      {.name = "value_ints", .kind = QC_ATTR_INTS, .n = 2, .u.ints = il},
      {.name = "value_string", .kind = QC_ATTR_STRING, .n = 5, .u.s = "hello"},
      {.name = "value_strings", .kind = QC_ATTR_STRINGS, .n = 2, .u.strs = {sv, sl}},
  };
  const char *names[] = {"t", "f", "fs", "i", "is", "s", "ss"};
  for (int i = 0; i < 7; i++) OK(qc_graph_add_output(g, constant_node(g, names[i], &attrs[i])));
  qc_tensor_release(&t);
  run_pipeline(g, "canonicalize");
  ck_assert_int_eq(count_op(g, QC_OP_Constant), 0);
  ck_assert_int_eq(qc_graph_num_nodes(g), 0);
  for (int i = 0; i < 7; i++) ck_assert_str_eq(out_name(g, i), names[i]);
  const qc_value *v = val(g, "t");
  ck_assert_int_eq(v->kind, QC_VALUE_CONST);
  ck_assert_int_eq(v->cst.dtype, QC_I8);
  ck_assert_int_eq(((int8_t *)qc_tensor_data(&v->cst))[3], 7);
  v = val(g, "f");
  ck_assert(v->cst.dtype == QC_F32 && v->cst.rank == 0 && fdata(v)[0] == 1.5f);
  v = val(g, "fs");
  ck_assert(v->cst.rank == 1 && v->cst.dims[0] == 3 && fdata(v)[1] == -1.0f);
  v = val(g, "i");
  ck_assert(v->cst.dtype == QC_I64 && v->cst.rank == 0);
  ck_assert_int_eq(((int64_t *)qc_tensor_data(&v->cst))[0], -9);
  v = val(g, "is");
  ck_assert_int_eq(((int64_t *)qc_tensor_data(&v->cst))[1], -5);
  v = val(g, "s");
  ck_assert(v->cst.dtype == QC_STRING && v->cst.rank == 0);
  ck_assert_str_eq(((char **)qc_tensor_data(&v->cst))[0], "hello");
  v = val(g, "ss");
  ck_assert_str_eq(((char **)qc_tensor_data(&v->cst))[0], "ab");
  ck_assert_str_eq(((char **)qc_tensor_data(&v->cst))[1], "c");
  qc_graph_destroy(g);
}
END_TEST

START_TEST(canon_identity) {
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid r = op1(g, QC_OP_Relu, x, "r");
  qc_vid n = op1(g, QC_OP_Neg, op1(g, QC_OP_Identity, r, "i1"), "n"); /* inner: removed */
  qc_vid y = op1(g, QC_OP_Identity, op1(g, QC_OP_Identity, n, "i2"), "y"); /* to an output */
  qc_vid z = op1(g, QC_OP_Identity, x, "z");                                 /* input->output */
  qc_vid w = op1(g, QC_OP_Identity, y, "w"); /* between two outputs */
  OK(qc_graph_add_output(g, y));
  OK(qc_graph_add_output(g, z));
  OK(qc_graph_add_output(g, w));
  run_pipeline(g, "canonicalize");
  ck_assert_int_eq(count_op(g, QC_OP_Identity), 2); /* z and w keep theirs */
  ck_assert_str_eq(out_name(g, 0), "y");
  ck_assert_str_eq(out_name(g, 1), "z");
  ck_assert_str_eq(out_name(g, 2), "w");
  /* The Neg's output now carries the output name "y". */
  ck_assert_int_eq(qc_graph_node(g, val(g, "y")->node)->op, QC_OP_Neg);
  ck_assert_int_eq(qc_graph_node(g, val(g, "y")->node)->in[0], qc_graph_find(g, "r"));
  qc_graph_destroy(g);
}
END_TEST

START_TEST(canon_neutral_elements) {
  qc_graph *g = new_graph();
  int64_t d[2] = {2, 3}, d13[2] = {1, 3}, d23[2] = {2, 3}, d3[1] = {3};
  double ones[6] = {1, 1, 1, 1, 1, 1}, zeros[6] = {0, 0, 0, 0, 0, 0};
  qc_vid x = add_input(g, "x", QC_F32, 2, d);
  qc_vid v3 = add_input(g, "v3", QC_F32, 1, d3);
  qc_vid xi = add_input(g, "xi", QC_I32, 2, d);
  qc_vid one = add_scalar(g, "one", QC_F32, 1), zero = add_scalar(g, "zero", QC_F32, 0);
  qc_vid row1 = add_const(g, "row1", QC_F32, 2, d13, ones);
  qc_vid big1 = add_const(g, "big1", QC_F32, 2, d23, ones);
  qc_vid izero = add_const(g, "izero", QC_I32, 2, d23, zeros);
  qc_vid two = add_scalar(g, "two", QC_F32, 2);
  struct {
    qc_op op;
    qc_vid a, b;
    bool removed;
  } cases[] = {
      {QC_OP_Mul, x, one, true},   {QC_OP_Mul, one, x, true},   {QC_OP_Add, x, zero, true},
      {QC_OP_Add, zero, x, true},  {QC_OP_Sub, x, zero, true},  {QC_OP_Div, x, one, true},
      {QC_OP_Mul, x, row1, true},  {QC_OP_Add, xi, izero, true}, {QC_OP_Sub, zero, x, false},
      {QC_OP_Div, one, x, false},  {QC_OP_Mul, x, two, false},  {QC_OP_Mul, v3, big1, false},
  };
  int n = (int)(sizeof cases / sizeof cases[0]);
  for (int i = 0; i < n; i++) {
    qc_vid r = op2(g, cases[i].op, cases[i].a, cases[i].b, NULL);
    OK(qc_graph_add_output(g, op1(g, QC_OP_Relu, r, NULL)));
  }
  run_pipeline(g, "canonicalize");
  for (int i = 0; i < n; i++) {
    const qc_node *relu = qc_graph_node(g, qc_graph_value(g, qc_graph_output(g, i))->node);
    const qc_value *in = qc_graph_value(g, relu->in[0]);
    bool removed = in->kind == QC_VALUE_INPUT;
    ck_assert_msg(removed == cases[i].removed, "case %d (%s): %s", i, qc_op_name(cases[i].op),
                  removed ? "removed" : "kept");
  }
  qc_graph_destroy(g);
}
END_TEST

static qc_vid transpose(qc_graph *g, qc_vid x, int32_t r, const int64_t *perm, const char *name) {
  qc_vid t = op1(g, QC_OP_Transpose, x, name);
  if (perm) OK(qc_node_set_ints(g, def_node(g, t), "perm", r, perm));
  return t;
}

START_TEST(canon_transposes) {
  qc_graph *g = new_graph();
  int64_t d[3] = {2, 3, 4};
  qc_vid x = add_input(g, "x", QC_F32, 3, d);
  int64_t p021[3] = {0, 2, 1}, p102[3] = {1, 0, 2}, p012[3] = {0, 1, 2};
  qc_vid a = transpose(g, transpose(g, x, 3, p021, "a0"), 3, p021, "a"); /* -> x */
  qc_vid b = transpose(g, transpose(g, x, 3, NULL, "b0"), 3, NULL, "b"); /* reversals: -> x */
  qc_vid c = transpose(g, transpose(g, x, 3, p021, "c0"), 3, p102, "c"); /* -> perm 2,0,1 */
  qc_vid e = transpose(g, x, 3, p012, "e");                              /* identity -> x */
  qc_vid outs[] = {a, b, c, e};
  for (int i = 0; i < 4; i++) OK(qc_graph_add_output(g, op1(g, QC_OP_Relu, outs[i], NULL)));
  run_pipeline(g, "canonicalize");
  ck_assert_int_eq(count_op(g, QC_OP_Transpose), 1);
  const qc_value *cv = val(g, "c");
  const qc_node *ct = qc_graph_node(g, cv->node);
  ck_assert_int_eq(ct->in[0], qc_graph_find(g, "x"));
  const qc_attr *perm = qc_node_attr(g, cv->node, "perm");
  ck_assert(perm && perm->n == 3);
  ck_assert(perm->u.ints[0] == 2 && perm->u.ints[1] == 0 && perm->u.ints[2] == 1);
  for (int i = 0; i < 4; i++) {
    const qc_node *relu = qc_graph_node(g, qc_graph_value(g, qc_graph_output(g, i))->node);
    if (i != 2) ck_assert_int_eq(relu->in[0], qc_graph_find(g, "x"));
  }
  qc_graph_destroy(g);
}
END_TEST

START_TEST(canon_reshapes_and_casts) {
  qc_graph *g = new_graph();
  int64_t d[2] = {2, 3};
  qc_vid x = add_input(g, "x", QC_F32, 2, d);
  int64_t s6[1] = {6}, s32[2] = {3, 2}, s03[2] = {0, 1}, s2m[2] = {2, -1};
  qc_vid flat = op2(g, QC_OP_Reshape, x, add_i64s(g, "s6", 1, s6), "flat");
  qc_vid r1 = op2(g, QC_OP_Reshape, flat, add_i64s(g, "s32", 2, s32), "r1"); /* -> Reshape(x) */
  qc_vid flat2 = op2(g, QC_OP_Reshape, x, add_i64s(g, "s6b", 1, s6), "flat2");
  qc_vid r2 = op2(g, QC_OP_Reshape, flat2, add_i64s(g, "s03", 2, s03), "r2"); /* 0 copies 6: kept */
  qc_vid r3 = op2(g, QC_OP_Reshape, x, add_i64s(g, "s2m", 2, s2m), "r3");     /* no-op */
  qc_vid k1 = op1(g, QC_OP_Cast, x, "k1"), k2 = op1(g, QC_OP_Cast, x, "k2");
  OK(qc_node_set_int(g, def_node(g, k1), "to", 1));  /* f32 -> f32 */
  OK(qc_node_set_int(g, def_node(g, k2), "to", 10)); /* f32 -> f16 */
  qc_vid outs[] = {r1, r2, r3, k1, k2};
  for (int i = 0; i < 5; i++) OK(qc_graph_add_output(g, op1(g, QC_OP_Relu, outs[i], NULL)));
  run_pipeline(g, "canonicalize");
  qc_vid xv = qc_graph_find(g, "x");
  ck_assert_int_eq(qc_graph_node(g, val(g, "r1")->node)->in[0], xv);
  ck_assert_int_lt(qc_graph_find(g, "flat"), 0);
  ck_assert_int_eq(qc_graph_node(g, val(g, "r2")->node)->in[0], qc_graph_find(g, "flat2"));
  ck_assert_int_lt(qc_graph_find(g, "r3"), 0);
  ck_assert_int_lt(qc_graph_find(g, "k1"), 0);
  ck_assert_int_ge(qc_graph_find(g, "k2"), 0);
  ck_assert_int_eq(count_op(g, QC_OP_Cast), 1);
  ck_assert_int_eq(count_op(g, QC_OP_Reshape), 3);
  qc_graph_destroy(g);
}
END_TEST

START_TEST(canon_squeeze_unsqueeze) {
  qc_graph *g = new_graph();
  int64_t d[3] = {2, 1, 3}, d2[2] = {2, 3};
  qc_vid x = add_input(g, "x", QC_F32, 3, d);
  qc_vid x2 = add_input(g, "x2", QC_F32, 2, d2);
  int64_t a1[1] = {1}, am2[1] = {-2}, a0[1] = {0};
  /* Unsqueeze(Squeeze(x, [1]), [1]) -> x; with negative axes too. */
  qc_vid s1 = op2(g, QC_OP_Squeeze, x, add_i64s(g, "a1", 1, a1), "s1");
  qc_vid u1 = op2(g, QC_OP_Unsqueeze, s1, add_i64s(g, "a1b", 1, a1), "u1");
  qc_vid s2 = op2(g, QC_OP_Squeeze, x, add_i64s(g, "am2", 1, am2), "s2");
  qc_vid u2 = op2(g, QC_OP_Unsqueeze, s2, add_i64s(g, "a1c", 1, a1), "u2");
  /* Different axes: kept. */
  qc_vid s3 = op2(g, QC_OP_Squeeze, x, add_i64s(g, "a1d", 1, a1), "s3");
  qc_vid u3 = op2(g, QC_OP_Unsqueeze, s3, add_i64s(g, "a0", 1, a0), "u3");
  /* Squeeze without axes needs x's shape: it has one size-1 dim, at 1. */
  qc_vid s4 = op1(g, QC_OP_Squeeze, x, "s4");
  qc_vid u4 = op2(g, QC_OP_Unsqueeze, s4, add_i64s(g, "a1e", 1, a1), "u4");
  /* Squeeze(Unsqueeze(x2, [0]), [0]) -> x2. */
  qc_vid u5 = op2(g, QC_OP_Unsqueeze, x2, add_i64s(g, "a0b", 1, a0), "u5");
  qc_vid s5 = op2(g, QC_OP_Squeeze, u5, add_i64s(g, "a0c", 1, a0), "s5");
  qc_vid outs[] = {u1, u2, u3, u4, s5};
  bool gone[] = {true, true, false, true, true};
  for (int i = 0; i < 5; i++) OK(qc_graph_add_output(g, op1(g, QC_OP_Relu, outs[i], NULL)));
  run_pipeline(g, "canonicalize");
  for (int i = 0; i < 5; i++) {
    const qc_node *relu = qc_graph_node(g, qc_graph_value(g, qc_graph_output(g, i))->node);
    bool is_input = qc_graph_value(g, relu->in[0])->kind == QC_VALUE_INPUT;
    ck_assert_msg(is_input == gone[i], "case %d", i);
  }
  ck_assert_int_eq(count_op(g, QC_OP_Squeeze), 1);
  ck_assert_int_eq(count_op(g, QC_OP_Unsqueeze), 1);
  qc_graph_destroy(g);
}
END_TEST

START_TEST(canon_dropout) {
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid r = op1(g, QC_OP_Relu, x, "r");
  qc_vid d1 = op1(g, QC_OP_Dropout, r, "d1"); /* inference: removed */
  /* training_mode = true: kept. */
  qc_vid in3[3] = {r, add_scalar(g, "ratio", QC_F32, 0.5), add_scalar(g, "train", QC_BOOL, 1)};
  qc_vid d2;
  OK(qc_graph_add_op(g, QC_OP_Dropout, NULL, 3, in3, "d2", &d2));
  /* The mask is used: kept. */
  qc_nid dn;
  const char *outs[2] = {"d3", "mask"};
  OK(qc_graph_add_node(g, QC_OP_Dropout, NULL, 1, &r, 2, outs, &dn));
  /* From a graph input straight to a graph output: an Identity keeps the output's name. */
  qc_nid dn4;
  const char *outs4[2] = {"d4", "mask4"};
  OK(qc_graph_add_node(g, QC_OP_Dropout, "drop4", 1, &x, 2, outs4, &dn4));
  OK(qc_graph_add_output(g, op1(g, QC_OP_Neg, d1, "n1")));
  OK(qc_graph_add_output(g, d2));
  OK(qc_graph_add_output(g, qc_graph_node(g, dn)->out[0]));
  OK(qc_graph_add_output(g, qc_graph_node(g, dn)->out[1]));
  OK(qc_graph_add_output(g, qc_graph_node(g, dn4)->out[0]));
  run_pipeline(g, "canonicalize");
  ck_assert_int_eq(count_op(g, QC_OP_Dropout), 2);
  ck_assert_int_eq(qc_graph_node(g, val(g, "n1")->node)->in[0], qc_graph_find(g, "r"));
  ck_assert_str_eq(out_name(g, 4), "d4");
  const qc_node *id = qc_graph_node(g, val(g, "d4")->node);
  ck_assert_int_eq(id->op, QC_OP_Identity);
  ck_assert_str_eq(id->name, "drop4.identity");
  ck_assert_int_eq(id->in[0], qc_graph_find(g, "x"));
  qc_graph_destroy(g);
}
END_TEST

START_TEST(canon_options) {
  qc_context *ctx;
  OK(qc_context_create(&ctx));
  qc_pipeline *p;
  OK(qc_pipeline_parse(ctx, "canonicalize{max-iterations=0}", &p));
  qc_graph *g = new_graph();
  FAILS_WITH(qc_pipeline_run(p, g, NULL), "max-iterations must be at least 1, got 0");
  qc_graph_destroy(g);
  qc_pipeline_destroy(p);
  qc_context_destroy(ctx);
}
END_TEST

START_TEST(full_pipeline) {
  /* A little of everything: fold feeds canonicalize feeds cse feeds dce. */
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid half = add_scalar(g, "half", QC_F32, 0.5), two = add_scalar(g, "two", QC_F32, 2.0);
  qc_vid one = op2(g, QC_OP_Mul, half, two, "one"); /* folds to 1 */
  qc_vid a = op2(g, QC_OP_Mul, x, one, "a");        /* then x*1 -> x */
  qc_vid r1 = op1(g, QC_OP_Relu, a, "r1"), r2 = op1(g, QC_OP_Relu, x, "r2"); /* then merge */
  op1(g, QC_OP_Sigmoid, r1, "unused");
  OK(qc_graph_add_output(g, op2(g, QC_OP_Add, r1, r2, "y")));
  run_pipeline(g, "fold,canonicalize{max-iterations=4},cse,dce");
  ck_assert_int_eq(qc_graph_num_nodes(g), 2);
  ck_assert_int_eq(count_op(g, QC_OP_Relu), 1);
  ck_assert_int_eq(count_consts(g), 0);
  qc_graph_destroy(g);
}
END_TEST

int main(void) {
  Suite *s = suite_create("passes");
  TCase *tc = tcase_create("core");
  tcase_add_unchecked_fixture(tc, setup, NULL);
  tcase_add_test(tc, dce_removes_unused);
  tcase_add_test(tc, dce_subgraphs);
  tcase_add_test(tc, cse_merges_nodes);
  tcase_add_test(tc, cse_attributes_constants_random);
  tcase_add_test(tc, cse_graph_outputs_and_subgraphs);
  tcase_add_test(tc, fold_constants);
  tcase_add_test(tc, fold_limits_and_skips);
  tcase_add_test(tc, fold_keeps_qdq_and_random);
  tcase_add_test(tc, fold_in_subgraphs);
  tcase_add_test(tc, canon_constant_nodes);
  tcase_add_test(tc, canon_identity);
  tcase_add_test(tc, canon_neutral_elements);
  tcase_add_test(tc, canon_transposes);
  tcase_add_test(tc, canon_reshapes_and_casts);
  tcase_add_test(tc, canon_squeeze_unsqueeze);
  tcase_add_test(tc, canon_dropout);
  tcase_add_test(tc, canon_options);
  tcase_add_test(tc, full_pipeline);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
