/* The generic rewriter: pattern matching (ops, captures, commutativity, constants, splats,
 * predicates, use counts), value replacement that keeps output names, and the fixpoint
 * driver (iterations, dead-node cleanup, sub-graphs, errors). */
#include "quarc/rewrite.h"
#include "unit/pass_test_util.h"

#include <stdio.h>

/* ---- matching -------------------------------------------------------------------------- */

static const qc_pattern *const SUB_X_X =
    QC_PAT_OP2(QC_OP_Sub, 0, QC_PAT_ANY_VALUE(1), QC_PAT_ANY_VALUE(1));
static const qc_pattern *const MUL_ONE =
    QC_PAT_OP2(QC_OP_Mul, 0, QC_PAT_ANY_VALUE(1), QC_PAT_SPLAT_OF(2, 1.0));
static const qc_pattern *const MUL_ONE_NO_COMMUTE = QC_PAT_OPF(
    QC_OP_Mul, 0, QC_PAT_NO_COMMUTE, QC_PAT_ANY_VALUE(1), QC_PAT_SPLAT_OF(2, 1.0));
static const qc_pattern *const RELU_OF_CONST = QC_PAT_OP1(QC_OP_Relu, 0, QC_PAT_ANY_CONST(1));
static const qc_pattern *const RELU_RELU =
    QC_PAT_OP1(QC_OP_Relu, 0, QC_PAT_OP1(QC_OP_Relu, 1, QC_PAT_ANY_VALUE(2)));
static const qc_pattern *const RELU_RELU_ONE_USE = QC_PAT_OP1(
    QC_OP_Relu, 0, QC_PAT_OPF(QC_OP_Relu, 1, QC_PAT_ONE_USE, QC_PAT_ANY_VALUE(2)));

static bool rank2(const qc_graph *g, qc_vid v, const void *data) {
  (void)data;
  return qc_graph_value(g, v)->type.rank == 2;
}
static const qc_pattern *const RELU_RANK2 =
    QC_PAT_OP1(QC_OP_Relu, 0, QC_PAT_ANY_IF(1, rank2, NULL));

START_TEST(match_structure) {
  qc_graph *g = new_graph();
  int64_t d2[2] = {2, 3}, d1[1] = {3};
  qc_vid x = add_input(g, "x", QC_F32, 2, d2), y = add_input(g, "y", QC_F32, 1, d1);
  qc_vid s1 = op2(g, QC_OP_Sub, x, x, "s1"), s2 = op2(g, QC_OP_Sub, x, y, "s2");
  qc_vid one = add_scalar(g, "one", QC_F32, 1.0), two = add_scalar(g, "two", QC_F32, 2.0);
  qc_vid m1 = op2(g, QC_OP_Mul, x, one, "m1"), m2 = op2(g, QC_OP_Mul, one, x, "m2");
  qc_vid m3 = op2(g, QC_OP_Mul, x, two, "m3");
  qc_vid r1 = op1(g, QC_OP_Relu, one, "r1"), r2 = op1(g, QC_OP_Relu, r1, "r2");
  qc_vid r3 = op1(g, QC_OP_Relu, y, "r3");
  qc_match m;
  /* A repeated capture demands the same value. */
  ck_assert(qc_pattern_match_node(g, SUB_X_X, def_node(g, s1), &m));
  ck_assert_int_eq(m.cap[0], s1);
  ck_assert_int_eq(m.cap[1], x);
  ck_assert_int_eq(m.node, def_node(g, s1));
  ck_assert(!qc_pattern_match_node(g, SUB_X_X, def_node(g, s2), &m));
  /* Commutative ops match either way round, unless told not to. */
  ck_assert(qc_pattern_match_node(g, MUL_ONE, def_node(g, m1), &m));
  ck_assert_int_eq(m.cap[1], x);
  ck_assert_int_eq(m.cap[2], one);
  ck_assert_int_eq(m.cap_node[2], QC_NONE);
  ck_assert(qc_pattern_match_node(g, MUL_ONE, def_node(g, m2), &m));
  ck_assert_int_eq(m.cap[1], x);
  ck_assert_int_eq(m.cap[2], one);
  ck_assert(!qc_pattern_match_node(g, MUL_ONE_NO_COMMUTE, def_node(g, m2), &m));
  ck_assert(!qc_pattern_match_node(g, MUL_ONE, def_node(g, m3), &m));
  /* The wrong op never matches. */
  ck_assert(!qc_pattern_match_node(g, MUL_ONE, def_node(g, s1), &m));
  /* Nested op patterns record the inner node. */
  ck_assert(qc_pattern_match_node(g, RELU_RELU, def_node(g, r2), &m));
  ck_assert_int_eq(m.cap[1], r1);
  ck_assert_int_eq(m.cap_node[1], def_node(g, r1));
  ck_assert_int_eq(m.cap[2], one);
  ck_assert(!qc_pattern_match_node(g, RELU_RELU, def_node(g, r1), &m));
  ck_assert(qc_pattern_match_node(g, RELU_OF_CONST, def_node(g, r1), &m));
  ck_assert(!qc_pattern_match_node(g, RELU_OF_CONST, def_node(g, r3), &m));
  /* Predicates. */
  ck_assert(!qc_pattern_match_node(g, RELU_RANK2, def_node(g, r3), &m));
  qc_vid r4 = op1(g, QC_OP_Relu, x, "r4");
  ck_assert(qc_pattern_match_node(g, RELU_RANK2, def_node(g, r4), &m));
  /* One use: r1 has one use (r2); add a second. */
  ck_assert(qc_pattern_match_node(g, RELU_RELU_ONE_USE, def_node(g, r2), &m));
  op1(g, QC_OP_Neg, r1, "n");
  ck_assert(!qc_pattern_match_node(g, RELU_RELU_ONE_USE, def_node(g, r2), &m));
  /* Matching a value keeps earlier captures. */
  qc_match_init(&m);
  m.cap[1] = y;
  ck_assert(!qc_pattern_match_value(g, SUB_X_X, s1, &m));
  ck_assert_int_eq(m.cap[1], y); /* unchanged on failure */
  qc_graph_destroy(g);
}
END_TEST

START_TEST(splats) {
  int64_t d[1] = {3};
  qc_tensor t;
  const qc_dtype dts[] = {QC_F32, QC_F16, QC_BF16, QC_I64, QC_I8, QC_U8, QC_F8E4M3FN, QC_BOOL};
  for (size_t k = 0; k < sizeof dts / sizeof dts[0]; k++) {
    OK(qc_tensor_alloc(&t, NULL, dts[k], 1, d));
    for (int i = 0; i < 3; i++) qc_elem_set_f64(dts[k], qc_tensor_data(&t), (size_t)i, 1.0, 0);
    ck_assert_msg(qc_tensor_is_splat(&t, 1.0), "%s", qc_dtype_name(dts[k]));
    ck_assert(!qc_tensor_is_splat(&t, 0.0));
    qc_elem_set_f64(dts[k], qc_tensor_data(&t), 2, 0.0, 0);
    ck_assert(!qc_tensor_is_splat(&t, 1.0));
    qc_tensor_release(&t);
  }
  /* -0 counts as 0; an empty tensor is no splat. */
  OK(qc_tensor_alloc(&t, NULL, QC_F32, 1, d));
  for (int i = 0; i < 3; i++) ((float *)qc_tensor_data(&t))[i] = -0.0f;
  ck_assert(qc_tensor_is_splat(&t, 0.0));
  qc_tensor_release(&t);
  int64_t z[1] = {0};
  OK(qc_tensor_alloc(&t, NULL, QC_F32, 1, z));
  ck_assert(!qc_tensor_is_splat(&t, 0.0));
  qc_tensor_release(&t);
}
END_TEST

/* ---- replacement ----------------------------------------------------------------------- */

START_TEST(replace_keeps_output_names) {
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid a = op1(g, QC_OP_Relu, x, "a");
  qc_vid y = op1(g, QC_OP_Identity, a, "y");
  qc_vid z = op1(g, QC_OP_Identity, x, "z");
  OK(qc_graph_add_output(g, y));
  OK(qc_graph_add_output(g, z));
  /* y -> a: a takes the name "y", the output keeps it. */
  ck_assert(qc_value_can_replace(g, y, a));
  OK(qc_value_replace(g, y, a, 0));
  ck_assert_int_eq(qc_graph_output(g, 0), a);
  ck_assert_str_eq(out_name(g, 0), "y");
  ck_assert_str_eq(qc_graph_value(g, y)->name, "y.dead0");
  /* z -> x: x is a graph input and cannot be renamed. */
  ck_assert(!qc_value_can_replace(g, z, x));
  FAILS_WITH(qc_value_replace(g, z, x, 0),
             "cannot replace graph output 'z' by 'x': the output would lose its name, and 'x' "
             "is a graph input");
  /* Nor can another graph output give up its name. */
  ck_assert(!qc_value_can_replace(g, z, a));
  qc_graph_destroy(g);
}
END_TEST

START_TEST(replace_inherits_type_and_renames_captures) {
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid c = add_input(g, "c", QC_BOOL, 0, NULL);
  qc_vid a = op1(g, QC_OP_Relu, x, "a");
  qc_vid b = op1(g, QC_OP_Neg, x, "b"); /* type unknown */
  /* If whose branches capture "a". */
  qc_graph *br[2];
  for (int i = 0; i < 2; i++) {
    OK(qc_graph_create(NULL, &br[i]));
    qc_type t = qc_type_tensor(QC_F32, 1, d);
    qc_vid o;
    OK(qc_graph_add_outer(br[i], "a", &t, &o));
    qc_vid r = op1(br[i], QC_OP_Relu, o, i ? "then_out" : "else_out");
    OK(qc_graph_add_output(br[i], r));
  }
  qc_nid ifn;
  OK(qc_graph_add_node(g, QC_OP_If, "if", 1, &c, 1, NULL, &ifn));
  qc_attr at = {.name = "then_branch", .kind = QC_ATTR_GRAPH, .u.g = br[1]};
  OK(qc_node_set_attr(g, ifn, &at));
  qc_attr ae = {.name = "else_branch", .kind = QC_ATTR_GRAPH, .u.g = br[0]};
  OK(qc_node_set_attr(g, ifn, &ae));
  OK(qc_graph_add_output(g, qc_graph_node(g, ifn)->out[0]));
  OK(qc_graph_verify(g));
  qc_type ta = qc_type_tensor(QC_F32, 1, d);
  OK(qc_graph_set_type(g, a, &ta));
  ck_assert_int_eq(qc_graph_value(g, b)->type.dtype, QC_DT_UNDEFINED);
  OK(qc_value_replace(g, a, b, 0));
  /* b took a's type; the branches now capture "b". */
  ck_assert_int_eq(qc_graph_value(g, b)->type.dtype, QC_F32);
  ck_assert_int_eq(qc_graph_value(g, b)->type.rank, 1);
  const qc_graph *then_g = qc_node_attr(g, ifn, "then_branch")->u.g;
  ck_assert_int_ge(qc_graph_find(then_g, "b"), 0);
  ck_assert_int_lt(qc_graph_find(then_g, "a"), 0);
  /* b is captured by a sub-graph now, so it cannot take another value's name. */
  ck_assert(!qc_value_can_replace(g, qc_graph_output(g, 0), b));
  OK(qc_graph_verify(g));
  qc_graph_destroy(g);
}
END_TEST

/* ---- the driver ------------------------------------------------------------------------- */

/* Neg(Neg(x)) -> x */
static qc_status neg_neg(qc_rewriter *rw, const qc_match *m, void *user) {
  int *calls = user;
  if (calls) (*calls)++;
  if (!qc_rewriter_can_replace(rw, m->cap[0], m->cap[2])) return QC_OK;
  return qc_rewriter_replace(rw, m->cap[0], m->cap[2]);
}

static int neg_calls;
static const qc_rewrite_rule NEG_RULES[] = {
    {"neg-neg", QC_PAT_OP1(QC_OP_Neg, 0, QC_PAT_OP1(QC_OP_Neg, 1, QC_PAT_ANY_VALUE(2))), neg_neg,
     &neg_calls},
};

/* A chain x -> Relu -> Neg^k -> output "y". */
static qc_graph *neg_chain(int k) {
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid v = op1(g, QC_OP_Relu, add_input(g, "x", QC_F32, 1, d), "r");
  for (int i = 0; i < k; i++) {
    char name[16];
    snprintf(name, sizeof name, i == k - 1 ? "y" : "n%d", i);
    v = op1(g, QC_OP_Neg, v, name);
  }
  OK(qc_graph_add_output(g, v));
  return g;
}

START_TEST(driver_fixpoint) {
  qc_graph *g = neg_chain(4);
  qc_rewrite_stats st;
  OK(qc_rewrite_apply(g, NEG_RULES, 1, NULL, &st));
  ck_assert(st.converged);
  ck_assert_int_eq(count_op(g, QC_OP_Neg), 0);
  ck_assert_int_eq(qc_graph_num_nodes(g), 1); /* the dead Negs are gone */
  ck_assert_str_eq(out_name(g, 0), "y");     /* Relu's output took the output's name */
  ck_assert_int_eq(qc_graph_value(g, qc_graph_output(g, 0))->node, 0);
  ck_assert_int_eq(st.applied, 2);
  OK(qc_graph_verify(g));
  qc_graph_destroy(g);

  g = neg_chain(5);
  OK(qc_rewrite_apply(g, NEG_RULES, 1, NULL, &st));
  ck_assert_int_eq(count_op(g, QC_OP_Neg), 1);
  ck_assert_str_eq(out_name(g, 0), "y");
  OK(qc_graph_verify(g));
  qc_graph_destroy(g);
}
END_TEST

/* Applies (an in-place "edit") until its budget is spent: one application per node and
 * sweep, so a budget of k needs k sweeps plus one that changes nothing. */
static qc_status bump(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)m;
  int *budget = user;
  if (*budget <= 0) return QC_OK;
  (*budget)--;
  qc_rewriter_changed(rw);
  return QC_OK;
}
static int bump_budget;
static const qc_rewrite_rule BUMP[] = {{"bump", QC_PAT_NODE(QC_OP_Relu, 0), bump, &bump_budget}};

START_TEST(driver_max_iterations) {
  qc_graph *g = neg_chain(1);
  qc_rewrite_options o = {.max_iterations = 2};
  qc_rewrite_stats st;
  bump_budget = 3;
  OK(qc_rewrite_apply(g, BUMP, 1, &o, &st));
  ck_assert_int_eq(st.iterations, 2);
  ck_assert_int_eq(st.applied, 2);
  ck_assert(!st.converged);
  bump_budget = 3;
  OK(qc_rewrite_apply(g, BUMP, 1, NULL, &st));
  ck_assert_int_eq(st.iterations, 4);
  ck_assert_int_eq(st.applied, 3);
  ck_assert(st.converged);
  /* The default limit is 10 sweeps. */
  bump_budget = 100;
  OK(qc_rewrite_apply(g, BUMP, 1, NULL, &st));
  ck_assert_int_eq(st.iterations, 10);
  ck_assert(!st.converged);
  OK(qc_graph_verify(g));
  qc_graph_destroy(g);
}
END_TEST

START_TEST(driver_declines_and_leaves_dead_code) {
  /* y = Neg(Neg(x)) with x an input and y the output: the rule declines. */
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid y = op1(g, QC_OP_Neg, op1(g, QC_OP_Neg, x, "n"), "y");
  OK(qc_graph_add_output(g, y));
  /* A pre-existing dead Neg(Neg(x)) is not the rewriter's business. */
  op1(g, QC_OP_Neg, op1(g, QC_OP_Neg, x, "d0"), "d1");
  neg_calls = 0;
  qc_rewrite_stats st;
  OK(qc_rewrite_apply(g, NEG_RULES, 1, NULL, &st));
  ck_assert(st.converged);
  ck_assert_int_eq(st.applied, 0);
  ck_assert_int_eq(st.iterations, 1);
  ck_assert_int_eq(neg_calls, 1); /* only the live pair was tried */
  ck_assert_int_eq(count_op(g, QC_OP_Neg), 4);
  qc_graph_destroy(g);
}
END_TEST

static qc_status always_fails(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)rw, (void)m, (void)user;
  return qc_status_new(QC_CODE_INTERNAL, "bad rule");
}
static const qc_rewrite_rule FAILING[] = {
    {"failing", QC_PAT_NODE(QC_OP_Relu, 0), always_fails, NULL},
};
static const qc_rewrite_rule NOT_AN_OP[] = {
    {"not-an-op", QC_PAT_ANY_VALUE(0), always_fails, NULL},
};

START_TEST(driver_errors) {
  qc_graph *g = neg_chain(1);
  FAILS_WITH(qc_rewrite_apply(g, FAILING, 1, NULL, NULL),
             "rewrite 'failing' at node #0 (Relu): bad rule");
  FAILS_WITH(qc_rewrite_apply(g, NOT_AN_OP, 1, NULL, NULL),
             "rewrite rule 'not-an-op': the root pattern must be an op pattern");
  qc_graph_destroy(g);
}
END_TEST

/* Relu(x) -> a new Neg(x) named like the old value: exercises new nodes, replace_named,
 * toposort and type inheritance. */
static qc_status relu_to_neg(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  qc_vid n;
  QC_RETURN_IF_ERROR(qc_graph_add_op(g, QC_OP_Neg, NULL, 1, &m->cap[1], NULL, &n));
  return qc_rewriter_replace_named(rw, m->cap[0], n);
}
static const qc_rewrite_rule RELU_TO_NEG[] = {
    {"relu-to-neg", QC_PAT_OP1(QC_OP_Relu, 0, QC_PAT_ANY_VALUE(1)), relu_to_neg, NULL},
};

START_TEST(driver_new_nodes_and_subgraphs) {
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid c = add_input(g, "c", QC_BOOL, 0, NULL);
  qc_vid r = op1(g, QC_OP_Relu, x, "r");
  qc_vid s = op1(g, QC_OP_Sigmoid, r, "s");
  /* An If whose then-branch has a Relu of a captured value. */
  qc_graph *br[2];
  for (int i = 0; i < 2; i++) {
    OK(qc_graph_create(NULL, &br[i]));
    qc_type t = qc_type_tensor(QC_F32, 1, d);
    qc_vid o;
    OK(qc_graph_add_outer(br[i], "s", &t, &o));
    qc_vid v = i ? op1(br[i], QC_OP_Relu, o, "inner") : op1(br[i], QC_OP_Sigmoid, o, "other");
    OK(qc_graph_add_output(br[i], v));
  }
  qc_nid ifn;
  OK(qc_graph_add_node(g, QC_OP_If, "if", 1, &c, 1, NULL, &ifn));
  qc_attr at = {.name = "then_branch", .kind = QC_ATTR_GRAPH, .u.g = br[1]};
  OK(qc_node_set_attr(g, ifn, &at));
  qc_attr ae = {.name = "else_branch", .kind = QC_ATTR_GRAPH, .u.g = br[0]};
  OK(qc_node_set_attr(g, ifn, &ae));
  OK(qc_graph_add_output(g, s));
  OK(qc_graph_add_output(g, qc_graph_node(g, ifn)->out[0]));
  OK(qc_graph_verify(g));

  qc_rewrite_stats st;
  OK(qc_rewrite_apply(g, RELU_TO_NEG, 1, NULL, &st));
  ck_assert_int_eq(st.applied, 2);
  ck_assert_int_eq(count_op(g, QC_OP_Relu), 0);
  ck_assert_int_eq(count_op(g, QC_OP_Neg), 1);
  /* The new node sits before its user again, under the old name, with the old type. */
  const qc_value *rv = val(g, "r");
  ck_assert_int_eq(qc_graph_node(g, rv->node)->op, QC_OP_Neg);
  ck_assert_int_lt(rv->node, val(g, "s")->node);
  ck_assert_int_eq(rv->type.dtype, QC_F32);
  const qc_graph *then_g = qc_node_attr(g, val(g, "s")->node + 1, "then_branch")->u.g;
  ck_assert_int_eq(count_op(then_g, QC_OP_Relu), 0);
  ck_assert_int_eq(count_op(then_g, QC_OP_Neg), 1);
  ck_assert_str_eq(out_name(then_g, 0), "inner");
  OK(qc_graph_verify(g));
  qc_graph_destroy(g);
  (void)x;
}
END_TEST

START_TEST(rewriter_handle) {
  /* x -> a=Relu -> b=Neg -> c=Sigmoid -> output; plus d=Neg(a) used by nothing. */
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid a = op1(g, QC_OP_Relu, x, "a"), b = op1(g, QC_OP_Neg, a, "b");
  qc_vid c = op1(g, QC_OP_Sigmoid, b, "c");
  op1(g, QC_OP_Neg, a, "dead");
  OK(qc_graph_add_output(g, c));
  qc_rewriter *rw;
  OK(qc_rewriter_begin(g, &rw));
  ck_assert_int_eq(qc_rewriter_use_count(rw, a), 2);
  ck_assert_int_eq(qc_rewriter_use_count(rw, c), 1); /* the graph output */
  FAILS_WITH(qc_rewriter_erase(rw, def_node(g, b)), "erase node #1 (Neg): output 0 'b' is still used");
  /* Bypass b: c = Sigmoid(a). b becomes unused and goes at the end; the dead Neg that was
   * never touched stays (that is DCE's business). */
  OK(qc_rewriter_set_input(rw, def_node(g, c), 0, a));
  ck_assert_int_eq(qc_rewriter_use_count(rw, b), 0);
  ck_assert_int_eq(qc_rewriter_use_count(rw, a), 3);
  /* A node appended with the graph API is seen by the use lists. */
  qc_vid e = op1(g, QC_OP_Relu, a, "e");
  ck_assert_int_eq(qc_rewriter_use_count(rw, a), 4);
  /* The output moves to e, which takes the name "c"; the old c is renamed. */
  ck_assert(qc_rewriter_can_replace(rw, c, e));
  ck_assert(!qc_rewriter_can_replace(rw, c, x));
  OK(qc_rewriter_replace(rw, c, e));
  ck_assert_str_eq(qc_graph_value(g, e)->name, "c");
  ck_assert_int_eq(qc_rewriter_use_count(rw, e), 1);
  /* Unknown values are errors, not crashes. */
  FAILS_WITH(qc_rewriter_set_input(rw, 99, 0, a), "out of range");
  FAILS_WITH(qc_rewriter_replace(rw, a, 999), "out of range");
  OK(qc_rewriter_finish(rw));
  OK(qc_graph_verify(g));
  ck_assert_int_lt(qc_graph_find(g, "b"), 0);
  ck_assert_int_ge(qc_graph_find(g, "dead"), 0);
  ck_assert_str_eq(out_name(g, 0), "c");
  ck_assert_int_eq(qc_graph_node(g, qc_graph_value(g, qc_graph_output(g, 0))->node)->op,
                   QC_OP_Relu);
  ck_assert_int_lt(qc_graph_find(g, "e"), 0);
  ck_assert_int_eq(count_op(g, QC_OP_Sigmoid), 0); /* orphaned by the replacement */
  qc_graph_destroy(g);
}
END_TEST

START_TEST(large_graph) {
  /* 30000 Identity/Mul(x,1) pairs in a chain: every one goes, the output keeps its name.
   * (A replacement costs its uses; a walk of the graph per replacement took minutes.) */
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid v = add_input(g, "x", QC_F32, 1, d);
  qc_vid one = add_scalar(g, "one", QC_F32, 1.0);
  for (int i = 0; i < 30000; i++) {
    v = op1(g, QC_OP_Relu, v, NULL);
    v = op1(g, QC_OP_Identity, v, NULL);
    v = op2(g, QC_OP_Mul, v, one, i == 29999 ? "y" : NULL);
  }
  OK(qc_graph_add_output(g, v));
  OK(qc_graph_infer_types(g));
  run_pipeline(g, "canonicalize,cse,dce");
  ck_assert_int_eq(qc_graph_num_nodes(g), 30000);
  ck_assert_int_eq(count_op(g, QC_OP_Relu), 30000);
  ck_assert_str_eq(out_name(g, 0), "y");
  qc_graph_destroy(g);
}
END_TEST

int main(void) {
  Suite *s = suite_create("rewrite");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, match_structure);
  tcase_add_test(tc, splats);
  tcase_add_test(tc, replace_keeps_output_names);
  tcase_add_test(tc, replace_inherits_type_and_renames_captures);
  tcase_add_test(tc, driver_fixpoint);
  tcase_add_test(tc, driver_max_iterations);
  tcase_add_test(tc, driver_declines_and_leaves_dead_code);
  tcase_add_test(tc, driver_errors);
  tcase_add_test(tc, driver_new_nodes_and_subgraphs);
  tcase_add_test(tc, rewriter_handle);
  tcase_add_test(tc, large_graph);
  tcase_set_timeout(tc, 60);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
