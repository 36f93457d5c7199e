/* Control-flow, sequence and optional kernels (runtime/k_control.c): If, Loop (every
 * termination mode, scan outputs, loop-carried sequences), Scan (axes and directions,
 * Scan-8's batch form), the sequence ops and SequenceMap, and optionals. Bodies are built
 * with the builder API from data-movement ops only, so the expected values are worked
 * out by hand (noted next to each). */
#include "unit/ktest_graph.h"

/* ---- graph building helpers ---------------------------------------------------------------- */

static qc_vid input(qc_graph *g, const char *name, qc_dtype dt, int32_t rank, const int64_t *dims) {
  qc_type t = qc_type_tensor(dt, rank, dims);
  qc_vid v;
  kt_ok(qc_graph_add_input(g, name, &t, &v));
  return v;
}

static qc_vid outer(qc_graph *g, const char *name) {
  qc_type t = qc_type_unknown();
  qc_vid v;
  kt_ok(qc_graph_add_outer(g, name, &t, &v));
  return v;
}

static qc_vid constant(qc_graph *g, qc_tensor t) {
  qc_vid v;
  kt_ok(qc_graph_add_const(g, NULL, &t, &v));
  qc_tensor_release(&t);
  return v;
}

/* Add a node; returns output 0 (and all outputs in outs when given). */
static qc_vid node(qc_graph *g, qc_op op, int32_t n_in, const qc_vid *in, int32_t n_attr,
                   const qc_attr *attr, int32_t n_out, qc_vid *outs) {
  qc_nid n;
  kt_ok(qc_graph_add_node(g, op, NULL, n_in, in, n_out, NULL, &n));
  for (int32_t i = 0; i < n_attr; i++) kt_ok(qc_node_set_attr(g, n, &attr[i]));
  for (int32_t i = 0; outs && i < n_out; i++) outs[i] = qc_graph_node(g, n)->out[i];
  return qc_graph_node(g, n)->out[0];
}

static qc_graph *new_graph(void) {
  qc_graph *g;
  kt_ok(qc_graph_create(NULL, &g));
  return g;
}

/* Run g with inputs; outputs go to out (n_out of them). */
typedef struct run_state {
  qc_interp *it;
  int32_t n_out;
  qc_rvalue out[8];
} run_state;

static qc_status run(qc_graph *g, int32_t n_in, const qc_rvalue *in, int32_t n_out, run_state *r) {
  memset(r, 0, sizeof *r);
  r->n_out = n_out;
  kt_ok(qc_interp_create(g, NULL, &r->it));
  return qc_interp_run(r->it, n_in, in, n_out, r->out);
}

static void finish(run_state *r, qc_graph *g) {
  for (int32_t i = 0; i < r->n_out; i++) qc_rvalue_release(&r->out[i]);
  qc_interp_destroy(r->it);
  qc_graph_destroy(g);
}

static qc_tensor bool_scalar(bool b) {
  uint8_t v = b;
  return kt_tensor(QC_BOOL, 0, NULL, &v);
}

/* ---- If -------------------------------------------------------------------------------------- */

/* then: Transpose(x); else: Reshape(x, [-1]). Both capture x from the enclosing graph. */
static qc_graph *if_graph(void) {
  qc_graph *g = new_graph();
  qc_vid c = input(g, "c", QC_BOOL, 0, NULL);
  input(g, "x", QC_F32, 2, KT_DIMS(2, 3));
  qc_graph *th = new_graph(), *el = new_graph();
  qc_vid tx = outer(th, "x");
  kt_ok(qc_graph_add_output(th, node(th, QC_OP_Transpose, 1, &tx, 0, NULL, 1, NULL)));
  qc_vid ex = outer(el, "x"), sh = constant(el, kt_i64(1, KT_DIMS(1), (int64_t[]){-1}));
  kt_ok(qc_graph_add_output(el, node(el, QC_OP_Reshape, 2, (qc_vid[]){ex, sh}, 0, NULL, 1, NULL)));
  qc_vid y = node(g, QC_OP_If, 1, &c, 2,
                  (qc_attr[]){KT_GRAPH("then_branch", th), KT_GRAPH("else_branch", el)}, 1, NULL);
  kt_ok(qc_graph_add_output(g, y));
  return g;
}

START_TEST(if_takes_the_branch_cond_names) {
  qc_tensor x = kt_iota_f32(2, KT_DIMS(2, 3));
  for (int b = 0; b < 2; b++) {
    qc_graph *g = if_graph();
    qc_tensor c = bool_scalar(b);
    qc_rvalue in[2] = {qc_rvalue_tensor(&c), qc_rvalue_tensor(&x)};
    run_state r;
    kt_ok(run(g, 2, in, 1, &r));
    if (b)
      kt_expect_f32(&r.out[0], 2, KT_DIMS(3, 2), (float[]){0, 3, 1, 4, 2, 5}, 0);
    else
      kt_expect_f32(&r.out[0], 1, KT_DIMS(6), (float[]){0, 1, 2, 3, 4, 5}, 0);
    finish(&r, g);
    qc_rvalue_release(&in[0]);
    qc_rvalue_release(&in[1]);
    qc_tensor_release(&c);
  }
  qc_tensor_release(&x);
}
END_TEST

/* ---- Loop ------------------------------------------------------------------------------------ */

/* Loop(M?, cond?, v) whose body appends the iteration number to v, stops when
 * stop[i] is false (stop is a constant captured from the outer graph), and scans [i]. */
static qc_graph *loop_graph(bool with_m, bool with_cond, const qc_tensor *stop) {
  qc_graph *g = new_graph();
  qc_vid m = with_m ? input(g, "M", QC_I64, 0, NULL) : QC_NONE;
  qc_vid c = with_cond ? input(g, "cond", QC_BOOL, 0, NULL) : QC_NONE;
  qc_vid v = input(g, "v", QC_I64, 1, KT_DIMS(1));
  qc_vid sv;
  kt_ok(qc_graph_add_const(g, "stop", stop, &sv));
  qc_graph *b = new_graph();
  qc_vid i = input(b, "i", QC_I64, 0, NULL);
  input(b, "cond_in", QC_BOOL, 0, NULL);
  qc_vid bv = input(b, "v_in", QC_I64, 1, KT_DIMS(1));
  qc_vid st = outer(b, "stop");
  qc_vid ax = constant(b, kt_i64(1, KT_DIMS(1), (int64_t[]){0}));
  qc_vid i1 = node(b, QC_OP_Unsqueeze, 2, (qc_vid[]){i, ax}, 0, NULL, 1, NULL);
  qc_vid vout =
      node(b, QC_OP_Concat, 2, (qc_vid[]){bv, i1}, 1, (qc_attr[]){KT_INT("axis", 0)}, 1, NULL);
  qc_vid cout = node(b, QC_OP_Gather, 2, (qc_vid[]){st, i}, 0, NULL, 1, NULL);
  kt_ok(qc_graph_add_output(b, cout));
  kt_ok(qc_graph_add_output(b, vout));
  kt_ok(qc_graph_add_output(b, i1));
  qc_type so = qc_type_tensor(QC_I64, 1, KT_DIMS(1));
  kt_ok(qc_graph_set_type(b, i1, &so));
  qc_vid outs[2];
  node(g, QC_OP_Loop, 3, (qc_vid[]){m, c, v}, 1, (qc_attr[]){KT_GRAPH("body", b)}, 2, outs);
  kt_ok(qc_graph_add_output(g, outs[0]));
  kt_ok(qc_graph_add_output(g, outs[1]));
  return g;
}

/* Runs the loop; expects v = [-1, 0, 1, ..., n-1] and scan = [[0], ..., [n-1]]. */
static void check_loop(bool with_m, int64_t m, bool with_cond, bool cond, int64_t n) {
  uint8_t stop_v[6] = {1, 1, 1, 0, 1, 1}; /* the body's cond goes false after iteration 3 */
  qc_tensor stop = kt_tensor(QC_BOOL, 1, KT_DIMS(6), stop_v);
  qc_graph *g = loop_graph(with_m, with_cond, &stop);
  qc_tensor tm = kt_scalar_i64(m), tc = bool_scalar(cond),
            tv = kt_i64(1, KT_DIMS(1), (int64_t[]){-1});
  qc_rvalue in[3];
  int32_t k = 0;
  if (with_m) in[k++] = qc_rvalue_tensor(&tm);
  if (with_cond) in[k++] = qc_rvalue_tensor(&tc);
  in[k++] = qc_rvalue_tensor(&tv);
  run_state r;
  kt_ok(run(g, k, in, 2, &r));
  int64_t want_v[8] = {-1}, want_s[8];
  for (int64_t i = 0; i < n; i++) want_v[1 + i] = want_s[i] = i;
  kt_expect_i64(&r.out[0], 1, KT_DIMS(n + 1), want_v);
  kt_expect_i64(&r.out[1], 2, KT_DIMS(n, 1), want_s);
  finish(&r, g);
  for (int32_t i = 0; i < k; i++) qc_rvalue_release(&in[i]);
  qc_tensor_release(&tm);
  qc_tensor_release(&tc);
  qc_tensor_release(&tv);
  qc_tensor_release(&stop);
}

START_TEST(loop_termination_modes) {
  check_loop(true, 2, false, false, 2);  /* for loop: M only */
  check_loop(true, 6, false, false, 4);  /* M and the body's cond: stops after iteration 3 */
  check_loop(false, 0, true, true, 4);   /* while loop */
  check_loop(true, 6, true, false, 0);   /* cond false up front: zero iterations */
  check_loop(true, 0, true, true, 0);    /* M = 0: zero iterations, scan output [0, 1] */
  check_loop(false, 0, false, false, 4); /* neither: runs until the body's cond is false */
}
END_TEST

START_TEST(loop_carries_a_sequence) {
  /* Loop(M=3, "", seq): the body inserts Unsqueeze(i) at the front of the sequence. */
  qc_graph *g = new_graph();
  qc_vid m = input(g, "M", QC_I64, 0, NULL);
  qc_vid s0 = node(g, QC_OP_SequenceEmpty, 0, NULL, 1, (qc_attr[]){KT_INT("dtype", 7)}, 1, NULL);
  qc_graph *b = new_graph();
  qc_vid i = input(b, "i", QC_I64, 0, NULL);
  qc_vid cin = input(b, "c", QC_BOOL, 0, NULL);
  qc_type st = {.kind = QC_TYPE_SEQUENCE, .dtype = QC_I64, .rank = QC_RANK_UNKNOWN};
  qc_vid sin;
  kt_ok(qc_graph_add_input(b, "s", &st, &sin));
  qc_vid ax = constant(b, kt_i64(1, KT_DIMS(1), (int64_t[]){0}));
  qc_vid zero = constant(b, kt_scalar_i64(0));
  qc_vid i1 = node(b, QC_OP_Unsqueeze, 2, (qc_vid[]){i, ax}, 0, NULL, 1, NULL);
  qc_vid sout = node(b, QC_OP_SequenceInsert, 3, (qc_vid[]){sin, i1, zero}, 0, NULL, 1, NULL);
  kt_ok(qc_graph_add_output(b, cin));
  kt_ok(qc_graph_add_output(b, sout));
  qc_vid out = node(g, QC_OP_Loop, 3, (qc_vid[]){m, QC_NONE, s0}, 1,
                    (qc_attr[]){KT_GRAPH("body", b)}, 1, NULL);
  qc_vid cat =
      node(g, QC_OP_ConcatFromSequence, 1, &out, 1, (qc_attr[]){KT_INT("axis", 0)}, 1, NULL);
  kt_ok(qc_graph_add_output(g, out));
  kt_ok(qc_graph_add_output(g, cat));
  qc_tensor tm = kt_scalar_i64(3);
  qc_rvalue in = qc_rvalue_tensor(&tm);
  run_state r;
  kt_ok(run(g, 1, &in, 2, &r));
  ck_assert_int_eq(r.out[0].kind, QC_RV_SEQUENCE);
  ck_assert_int_eq(r.out[0].n_items, 3);
  kt_expect_i64(&r.out[1], 1, KT_DIMS(3), (int64_t[]){2, 1, 0});
  finish(&r, g);
  qc_rvalue_release(&in);
  qc_tensor_release(&tm);
}
END_TEST

/* ---- Scan ------------------------------------------------------------------------------------ */

/* Scan with one state and one scan input [2, 3] scanned along `in_axis`: the state becomes
 * the current slice, the scan output is the slice (stacked along out_axis). */
static void check_scan(int64_t in_axis, int64_t in_dir, int64_t out_axis, int64_t out_dir,
                       int32_t out_rank, const int64_t *out_dims, const float *want_state,
                       const float *want_scan) {
  qc_graph *g = new_graph();
  qc_vid s = input(g, "s", QC_F32, 1, KT_DIMS(in_axis ? 2 : 3));
  qc_vid x = input(g, "x", QC_F32, 2, KT_DIMS(2, 3));
  qc_graph *b = new_graph();
  int64_t sl = in_axis ? 2 : 3;
  input(b, "s_in", QC_F32, 1, &sl);
  qc_vid xi = input(b, "x_in", QC_F32, 1, &sl);
  qc_vid sh = constant(b, kt_i64(1, KT_DIMS(1), (int64_t[]){-1}));
  qc_vid so = node(b, QC_OP_Reshape, 2, (qc_vid[]){xi, sh}, 0, NULL, 1, NULL);
  kt_ok(qc_graph_add_output(b, so));
  kt_ok(qc_graph_add_output(b, xi));
  qc_vid outs[2];
  node(g, QC_OP_Scan, 2, (qc_vid[]){s, x}, 6,
       (qc_attr[]){KT_GRAPH("body", b), KT_INT("num_scan_inputs", 1),
                   KT_INTS("scan_input_axes", in_axis), KT_INTS("scan_input_directions", in_dir),
                   KT_INTS("scan_output_axes", out_axis),
                   KT_INTS("scan_output_directions", out_dir)},
       2, outs);
  kt_ok(qc_graph_set_opset(g, "", 16));
  kt_ok(qc_graph_add_output(g, outs[0]));
  kt_ok(qc_graph_add_output(g, outs[1]));
  qc_tensor ts = kt_f32(1, KT_DIMS(sl), (float[]){-1, -1, -1}), tx = kt_iota_f32(2, KT_DIMS(2, 3));
  qc_rvalue in[2] = {qc_rvalue_tensor(&ts), qc_rvalue_tensor(&tx)};
  run_state r;
  kt_ok(run(g, 2, in, 2, &r));
  kt_expect_f32(&r.out[0], 1, &sl, want_state, 0);
  kt_expect_f32(&r.out[1], out_rank, out_dims, want_scan, 0);
  finish(&r, g);
  qc_rvalue_release(&in[0]);
  qc_rvalue_release(&in[1]);
  qc_tensor_release(&ts);
  qc_tensor_release(&tx);
}

START_TEST(scan_axes_and_directions) {
  /* x = [[0,1,2],[3,4,5]] */
  check_scan(0, 0, 0, 0, 2, KT_DIMS(2, 3), (float[]){3, 4, 5}, (float[]){0, 1, 2, 3, 4, 5});
  /* Backward over rows: the last state is row 0, the output lists row 1 first. */
  check_scan(0, 1, 0, 0, 2, KT_DIMS(2, 3), (float[]){0, 1, 2}, (float[]){3, 4, 5, 0, 1, 2});
  /* Prepending output: forward scan, output reversed. */
  check_scan(0, 0, 0, 1, 2, KT_DIMS(2, 3), (float[]){3, 4, 5}, (float[]){3, 4, 5, 0, 1, 2});
  /* Columns, stacked along axis 1: the output is x itself. */
  check_scan(1, 0, 1, 0, 2, KT_DIMS(2, 3), (float[]){2, 5}, (float[]){0, 1, 2, 3, 4, 5});
  /* Columns stacked along axis -2 (= 0): x transposed. */
  check_scan(1, 0, -2, 0, 2, KT_DIMS(3, 2), (float[]){2, 5}, (float[]){0, 3, 1, 4, 2, 5});
}
END_TEST

START_TEST(scan8_batches_and_sequence_lens) {
  /* Scan-8: x [batch 2, seq 3, 1]; state [2, 1]; lens [3, 2]. The body keeps the current
   * element as state and emits it; batch 1 stops after 2 steps, its output is zero-padded. */
  qc_graph *g = new_graph();
  kt_ok(qc_graph_set_opset(g, "", 8));
  qc_vid lens = input(g, "lens", QC_I64, 1, KT_DIMS(2));
  qc_vid s = input(g, "s", QC_F32, 2, KT_DIMS(2, 1));
  qc_vid x = input(g, "x", QC_F32, 3, KT_DIMS(2, 3, 1));
  qc_graph *b = new_graph();
  input(b, "s_in", QC_F32, 1, KT_DIMS(1));
  qc_vid xi = input(b, "x_in", QC_F32, 1, KT_DIMS(1));
  qc_vid sh = constant(b, kt_i64(1, KT_DIMS(1), (int64_t[]){1}));
  kt_ok(qc_graph_add_output(b, node(b, QC_OP_Reshape, 2, (qc_vid[]){xi, sh}, 0, NULL, 1, NULL)));
  kt_ok(qc_graph_add_output(b, xi));
  qc_vid outs[2];
  node(g, QC_OP_Scan, 3, (qc_vid[]){lens, s, x}, 2,
       (qc_attr[]){KT_GRAPH("body", b), KT_INT("num_scan_inputs", 1)}, 2, outs);
  kt_ok(qc_graph_add_output(g, outs[0]));
  kt_ok(qc_graph_add_output(g, outs[1]));
  qc_tensor tl = kt_i64(1, KT_DIMS(2), (int64_t[]){3, 2}),
            ts = kt_f32(2, KT_DIMS(2, 1), (float[]){-1, -1});
  qc_tensor tx = kt_f32(3, KT_DIMS(2, 3, 1), (float[]){1, 2, 3, 4, 5, 6});
  qc_rvalue in[3] = {qc_rvalue_tensor(&tl), qc_rvalue_tensor(&ts), qc_rvalue_tensor(&tx)};
  run_state r;
  kt_ok(run(g, 3, in, 2, &r));
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 1), (float[]){3, 5}, 0);
  kt_expect_f32(&r.out[1], 3, KT_DIMS(2, 3, 1), (float[]){1, 2, 3, 4, 5, 0}, 0);
  finish(&r, g);
  for (int i = 0; i < 3; i++) qc_rvalue_release(&in[i]);
  qc_tensor_release(&tl);
  qc_tensor_release(&ts);
  qc_tensor_release(&tx);
}
END_TEST

/* ---- sequences ------------------------------------------------------------------------------- */

START_TEST(sequence_ops) {
  /* s = [a, b]; insert c at -1 -> [a, c, b]; erase 0 -> [c, b]; at(-1) = b; length 2;
   * concat on axis 1 and stacked on new axis 0. */
  qc_graph *g = new_graph();
  qc_vid a = input(g, "a", QC_F32, 2, KT_DIMS(1, 2));
  qc_vid b = input(g, "b", QC_F32, 2, KT_DIMS(1, 2));
  qc_vid c = input(g, "c", QC_F32, 2, KT_DIMS(1, 2));
  qc_vid s = node(g, QC_OP_SequenceConstruct, 2, (qc_vid[]){a, b}, 0, NULL, 1, NULL);
  qc_vid m1 = constant(g, kt_scalar_i64(-1)),
         z = constant(g, kt_i64(1, KT_DIMS(1), (int64_t[]){0}));
  qc_vid s2 = node(g, QC_OP_SequenceInsert, 3, (qc_vid[]){s, c, m1}, 0, NULL, 1, NULL);
  qc_vid s3 = node(g, QC_OP_SequenceErase, 2, (qc_vid[]){s2, z}, 0, NULL, 1, NULL);
  kt_ok(qc_graph_add_output(g, node(g, QC_OP_SequenceAt, 2, (qc_vid[]){s3, m1}, 0, NULL, 1, NULL)));
  kt_ok(qc_graph_add_output(g, node(g, QC_OP_SequenceLength, 1, &s3, 0, NULL, 1, NULL)));
  kt_ok(qc_graph_add_output(
      g, node(g, QC_OP_ConcatFromSequence, 1, &s3, 1, (qc_attr[]){KT_INT("axis", 1)}, 1, NULL)));
  kt_ok(qc_graph_add_output(g,
                            node(g, QC_OP_ConcatFromSequence, 1, &s3, 2,
                                 (qc_attr[]){KT_INT("axis", -1), KT_INT("new_axis", 1)}, 1, NULL)));
  kt_ok(qc_graph_add_output(g, node(g, QC_OP_SequenceErase, 1, &s2, 0, NULL, 1, NULL)));
  qc_tensor ta = kt_f32(2, KT_DIMS(1, 2), (float[]){1, 2}),
            tb = kt_f32(2, KT_DIMS(1, 2), (float[]){3, 4});
  qc_tensor tc = kt_f32(2, KT_DIMS(1, 2), (float[]){5, 6});
  qc_rvalue in[3] = {qc_rvalue_tensor(&ta), qc_rvalue_tensor(&tb), qc_rvalue_tensor(&tc)};
  run_state r;
  kt_ok(run(g, 3, in, 5, &r));
  kt_expect_f32(&r.out[0], 2, KT_DIMS(1, 2), (float[]){3, 4}, 0);
  kt_expect_i64(&r.out[1], 0, NULL, (int64_t[]){2});
  kt_expect_f32(&r.out[2], 2, KT_DIMS(1, 4), (float[]){5, 6, 3, 4}, 0);
  kt_expect_f32(&r.out[3], 3, KT_DIMS(1, 2, 2), (float[]){5, 3, 6, 4}, 0);
  ck_assert_int_eq(r.out[4].kind, QC_RV_SEQUENCE);
  ck_assert_int_eq(r.out[4].n_items, 2); /* [a, c]: the last item erased */
  ck_assert_float_eq(((float *)qc_tensor_data(&r.out[4].items[1]))[0], 5);
  finish(&r, g);
  for (int i = 0; i < 3; i++) qc_rvalue_release(&in[i]);
  qc_tensor_release(&ta);
  qc_tensor_release(&tb);
  qc_tensor_release(&tc);
}
END_TEST

START_TEST(split_to_sequence_forms) {
  qc_tensor x = kt_iota_f32(2, KT_DIMS(5, 2));
  /* scalar split 2 along axis 0: pieces of 2, 2, 1 */
  qc_tensor two = kt_scalar_i64(2);
  kt_run r = kt_op(QC_OP_SplitToSequence, 2, (const qc_tensor *[]){&x, &two}, 0, NULL, 1);
  ck_assert_int_eq(r.out[0].n_items, 3);
  ck_assert_int_eq(r.out[0].items[2].dims[0], 1);
  ck_assert_float_eq(((float *)qc_tensor_data(&r.out[0].items[2]))[1], 9);
  kt_done(&r);
  /* no split, keepdims 0 along axis 1: two pieces of shape [5] */
  r = kt_op(QC_OP_SplitToSequence, 1, (const qc_tensor *[]){&x}, 2,
            (qc_attr[]){KT_INT("axis", 1), KT_INT("keepdims", 0)}, 1);
  ck_assert_int_eq(r.out[0].n_items, 2);
  ck_assert_int_eq(r.out[0].items[1].rank, 1);
  ck_assert_float_eq(((float *)qc_tensor_data(&r.out[0].items[1]))[4], 9);
  kt_done(&r);
  /* split lengths [4, 1] */
  qc_tensor lens = kt_i64(1, KT_DIMS(2), (int64_t[]){4, 1});
  r = kt_op(QC_OP_SplitToSequence, 2, (const qc_tensor *[]){&x, &lens}, 0, NULL, 1);
  ck_assert_int_eq(r.out[0].items[0].dims[0], 4);
  ck_assert_int_eq(r.out[0].items[1].dims[0], 1);
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&two);
  qc_tensor_release(&lens);
}
END_TEST

START_TEST(sequence_map_over_sequence_and_tensor) {
  /* SequenceMap(seq, t): body(x, t) = (Concat(x, t), Transpose(x)). */
  qc_graph *g = new_graph();
  qc_vid a = input(g, "a", QC_F32, 2, KT_DIMS(1, 2));
  qc_vid b = input(g, "b", QC_F32, 2, KT_DIMS(1, 2));
  qc_vid t = input(g, "t", QC_F32, 2, KT_DIMS(1, 2));
  qc_vid s = node(g, QC_OP_SequenceConstruct, 2, (qc_vid[]){a, b}, 0, NULL, 1, NULL);
  qc_graph *body = new_graph();
  qc_vid x = input(body, "x", QC_F32, 2, KT_DIMS(1, 2));
  qc_vid bt = input(body, "bt", QC_F32, 2, KT_DIMS(1, 2));
  kt_ok(qc_graph_add_output(body, node(body, QC_OP_Concat, 2, (qc_vid[]){x, bt}, 1,
                                       (qc_attr[]){KT_INT("axis", 0)}, 1, NULL)));
  kt_ok(qc_graph_add_output(body, node(body, QC_OP_Transpose, 1, &x, 0, NULL, 1, NULL)));
  qc_vid outs[2];
  node(g, QC_OP_SequenceMap, 2, (qc_vid[]){s, t}, 1, (qc_attr[]){KT_GRAPH("body", body)}, 2, outs);
  kt_ok(qc_graph_add_output(g, outs[0]));
  kt_ok(qc_graph_add_output(g, outs[1]));
  qc_tensor ta = kt_f32(2, KT_DIMS(1, 2), (float[]){1, 2}),
            tb = kt_f32(2, KT_DIMS(1, 2), (float[]){3, 4});
  qc_tensor tt = kt_f32(2, KT_DIMS(1, 2), (float[]){9, 9});
  qc_rvalue in[3] = {qc_rvalue_tensor(&ta), qc_rvalue_tensor(&tb), qc_rvalue_tensor(&tt)};
  run_state r;
  kt_ok(run(g, 3, in, 2, &r));
  ck_assert_int_eq(r.out[0].kind, QC_RV_SEQUENCE);
  ck_assert_int_eq(r.out[0].n_items, 2);
  qc_rvalue item = qc_rvalue_tensor(&r.out[0].items[1]);
  kt_expect_f32(&item, 2, KT_DIMS(2, 2), (float[]){3, 4, 9, 9}, 0);
  qc_rvalue_release(&item);
  item = qc_rvalue_tensor(&r.out[1].items[0]);
  kt_expect_f32(&item, 2, KT_DIMS(2, 1), (float[]){1, 2}, 0);
  qc_rvalue_release(&item);
  finish(&r, g);
  for (int i = 0; i < 3; i++) qc_rvalue_release(&in[i]);
  qc_tensor_release(&ta);
  qc_tensor_release(&tb);
  qc_tensor_release(&tt);
}
END_TEST

START_TEST(sequence_errors) {
  qc_tensor x = kt_iota_f32(1, KT_DIMS(2)), p = kt_scalar_i64(2);
  kt_run r;
  /* SequenceAt on a sequence of 1 at position 2. */
  qc_graph *g = new_graph();
  qc_vid a = input(g, "a", QC_F32, 1, KT_DIMS(2)), pv = input(g, "p", QC_I64, 0, NULL);
  qc_vid s = node(g, QC_OP_SequenceConstruct, 1, &a, 0, NULL, 1, NULL);
  kt_ok(qc_graph_add_output(g, node(g, QC_OP_SequenceAt, 2, (qc_vid[]){s, pv}, 0, NULL, 1, NULL)));
  qc_rvalue in[2] = {qc_rvalue_tensor(&x), qc_rvalue_tensor(&p)};
  run_state rs;
  qc_status st = run(g, 2, in, 1, &rs);
  ck_assert_msg(st && strstr(qc_status_message(st), "out of range") &&
                    strstr(qc_status_message(st), "SequenceAt"),
                "unexpected: %s", qc_status_message(st));
  qc_status_free(st);
  finish(&rs, g);
  qc_rvalue_release(&in[0]);
  qc_rvalue_release(&in[1]);
  (void)r;
  qc_tensor_release(&x);
  qc_tensor_release(&p);
  /* Inserting a float tensor into an empty int64 sequence. */
  g = new_graph();
  qc_vid f = input(g, "f", QC_F32, 1, KT_DIMS(2));
  qc_vid e = node(g, QC_OP_SequenceEmpty, 0, NULL, 1, (qc_attr[]){KT_INT("dtype", 7)}, 1, NULL);
  kt_ok(qc_graph_add_output(g, node(g, QC_OP_SequenceInsert, 2, (qc_vid[]){e, f}, 0, NULL, 1, NULL)));
  qc_tensor tf = kt_f32(1, KT_DIMS(2), (float[]){1, 2});
  qc_rvalue fin = qc_rvalue_tensor(&tf);
  st = run(g, 1, &fin, 1, &rs);
  ck_assert_msg(st && strstr(qc_status_message(st), "dtype differs"), "unexpected: %s",
                qc_status_message(st));
  qc_status_free(st);
  finish(&rs, g);
  qc_rvalue_release(&fin);
  qc_tensor_release(&tf);
}
END_TEST

/* ---- optionals ------------------------------------------------------------------------------- */

START_TEST(optionals) {
  qc_graph *g = new_graph();
  qc_vid x = input(g, "x", QC_F32, 1, KT_DIMS(2));
  qc_vid o = node(g, QC_OP_Optional, 1, &x, 0, NULL, 1, NULL);
  qc_type et = qc_type_tensor(QC_I32, QC_RANK_UNKNOWN, NULL);
  qc_attr ta = {.name = "type", .kind = QC_ATTR_TYPE, .u.type = &et};
  qc_vid e = node(g, QC_OP_Optional, 0, NULL, 1, &ta, 1, NULL);
  kt_ok(qc_graph_add_output(g, node(g, QC_OP_OptionalHasElement, 1, &o, 0, NULL, 1, NULL)));
  kt_ok(qc_graph_add_output(g, node(g, QC_OP_OptionalHasElement, 1, &e, 0, NULL, 1, NULL)));
  kt_ok(qc_graph_add_output(g, node(g, QC_OP_OptionalGetElement, 1, &o, 0, NULL, 1, NULL)));
  kt_ok(qc_graph_add_output(
      g, node(g, QC_OP_OptionalHasElement, 1, (qc_vid[]){QC_NONE}, 0, NULL, 1, NULL)));
  kt_ok(qc_graph_add_output(g, e));
  kt_ok(qc_graph_add_output(g, node(g, QC_OP_OptionalGetElement, 1, &x, 0, NULL, 1, NULL)));
  qc_tensor tx = kt_f32(1, KT_DIMS(2), (float[]){7, 8});
  qc_rvalue in = qc_rvalue_tensor(&tx);
  run_state r;
  kt_ok(run(g, 1, &in, 6, &r));
  kt_expect_ints(&r.out[0], QC_BOOL, 0, NULL, (int64_t[]){1});
  kt_expect_ints(&r.out[1], QC_BOOL, 0, NULL, (int64_t[]){0});
  kt_expect_f32(&r.out[2], 1, KT_DIMS(2), (float[]){7, 8}, 0);
  kt_expect_ints(&r.out[3], QC_BOOL, 0, NULL, (int64_t[]){0});
  ck_assert_int_eq(r.out[4].kind, QC_RV_NONE);
  ck_assert_int_eq(r.out[4].optional, 1);
  ck_assert_int_eq(r.out[4].elem, QC_I32);
  kt_expect_f32(&r.out[5], 1, KT_DIMS(2), (float[]){7, 8}, 0);
  finish(&r, g);
  qc_rvalue_release(&in);
  qc_tensor_release(&tx);
}
END_TEST

START_TEST(optional_get_element_of_empty_fails) {
  qc_graph *g = new_graph();
  qc_type et = qc_type_tensor(QC_F32, QC_RANK_UNKNOWN, NULL);
  qc_attr ta = {.name = "type", .kind = QC_ATTR_TYPE, .u.type = &et};
  qc_vid e = node(g, QC_OP_Optional, 0, NULL, 1, &ta, 1, NULL);
  kt_ok(qc_graph_add_output(g, node(g, QC_OP_OptionalGetElement, 1, &e, 0, NULL, 1, NULL)));
  run_state r;
  qc_status s = run(g, 0, NULL, 1, &r);
  ck_assert_msg(s && strstr(qc_status_message(s), "empty"), "unexpected: %s", qc_status_message(s));
  qc_status_free(s);
  finish(&r, g);
}
END_TEST

/* ---- memory: bodies free their intermediates ------------------------------------------------ */

typedef struct counting {
  size_t live, peak;
} counting;

static void *count_realloc(void *ctx, void *p, size_t old, size_t n) {
  counting *c = ctx;
  if (n == 0) {
    free(p);
    c->live -= old;
    return NULL;
  }
  void *q = realloc(p, n);
  if (!q) return NULL;
  c->live += n - old;
  if (c->live > c->peak) c->peak = c->live;
  return q;
}

START_TEST(loop_body_frees_intermediates) {
  /* Body: b1 = Expand(v, [2^18]) (1 MiB of f32), b2 = Slice(b1), b3 = Slice(b2), out =
   * Slice(b3, [0, 1)). Freed after their last use, at most two of b1..b3 are alive at once;
   * kept to the end of the body, all three would be. */
  qc_graph *g = new_graph();
  qc_vid m = input(g, "M", QC_I64, 0, NULL);
  qc_vid v = input(g, "v", QC_F32, 1, KT_DIMS(1));
  qc_graph *b = new_graph();
  input(b, "i", QC_I64, 0, NULL);
  qc_vid c = input(b, "c", QC_BOOL, 0, NULL);
  qc_vid bv = input(b, "v_in", QC_F32, 1, KT_DIMS(1));
  int64_t big = 1 << 18;
  qc_vid sh = constant(b, kt_i64(1, KT_DIMS(1), &big));
  qc_vid z = constant(b, kt_i64(1, KT_DIMS(1), (int64_t[]){0}));
  qc_vid e1 = constant(b, kt_i64(1, KT_DIMS(1), (int64_t[]){big - 1}));
  qc_vid e2 = constant(b, kt_i64(1, KT_DIMS(1), (int64_t[]){big - 2}));
  qc_vid one = constant(b, kt_i64(1, KT_DIMS(1), (int64_t[]){1}));
  qc_vid b1 = node(b, QC_OP_Expand, 2, (qc_vid[]){bv, sh}, 0, NULL, 1, NULL);
  qc_vid b2 = node(b, QC_OP_Slice, 3, (qc_vid[]){b1, z, e1}, 0, NULL, 1, NULL);
  qc_vid b3 = node(b, QC_OP_Slice, 3, (qc_vid[]){b2, z, e2}, 0, NULL, 1, NULL);
  qc_vid o = node(b, QC_OP_Slice, 3, (qc_vid[]){b3, z, one}, 0, NULL, 1, NULL);
  kt_ok(qc_graph_add_output(b, c));
  kt_ok(qc_graph_add_output(b, o));
  qc_vid out = node(g, QC_OP_Loop, 3, (qc_vid[]){m, QC_NONE, v}, 1,
                    (qc_attr[]){KT_GRAPH("body", b)}, 1, NULL);
  kt_ok(qc_graph_add_output(g, out));
  counting cnt = {0, 0};
  qc_allocator a = {count_realloc, &cnt};
  qc_interp_options opts = {.alloc = &a, .n_threads = 1};
  qc_tensor tm = kt_scalar_i64(3), tv = kt_f32(1, KT_DIMS(1), (float[]){2.5f});
  qc_rvalue in[2] = {qc_rvalue_tensor(&tm), qc_rvalue_tensor(&tv)};
  qc_interp *it;
  qc_rvalue res;
  kt_ok(qc_interp_create(g, &opts, &it));
  kt_ok(qc_interp_run(it, 2, in, 1, &res));
  kt_expect_f32(&res, 1, KT_DIMS(1), (float[]){2.5f}, 0);
  size_t mib = (size_t)big * sizeof(float);
  ck_assert_msg(cnt.peak < 2 * mib + mib / 2, "peak %zu bytes: the body kept its intermediates",
                cnt.peak);
  qc_rvalue_release(&res);
  qc_interp_destroy(it);
  qc_graph_destroy(g);
  for (int i = 0; i < 2; i++) qc_rvalue_release(&in[i]);
  qc_tensor_release(&tm);
  qc_tensor_release(&tv);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_control");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, if_takes_the_branch_cond_names);
  tcase_add_test(tc, loop_termination_modes);
  tcase_add_test(tc, loop_carries_a_sequence);
  tcase_add_test(tc, scan_axes_and_directions);
  tcase_add_test(tc, scan8_batches_and_sequence_lens);
  tcase_add_test(tc, sequence_ops);
  tcase_add_test(tc, split_to_sequence_forms);
  tcase_add_test(tc, sequence_map_over_sequence_and_tensor);
  tcase_add_test(tc, sequence_errors);
  tcase_add_test(tc, optionals);
  tcase_add_test(tc, optional_get_element_of_empty_fails);
  tcase_add_test(tc, loop_body_frees_intermediates);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
