/* Inference rules for control flow (If, Loop, Scan, SequenceMap), sequences and optionals.
 *
 * Bodies are inferred by the driver before the node's own rule runs; qc_inf_prepare_bodies
 * first gives body inputs the types the node implies. Loop-carried values may change shape
 * from one iteration to the next, so their body input types are found by iterating to a
 * fixed point on a copy of the body: start from the initial values' types, infer, widen
 * by what the body produces, until the body's outputs fit its inputs. */
#include "infer_ops.h"

/* ---- helpers ------------------------------------------------------------------------------- */

/* A type of graph `from` in graph `to` (mutable): symbols are carried by name. */
static qc_type type_to(qc_graph *to, const qc_graph *from, const qc_type *t) {
  qc_type r = *t;
  for (int32_t i = 0; i < t->rank; i++) {
    int64_t d = t->dims[i];
    if (d >= 0 || d == QC_DIM_UNKNOWN || from == to) continue;
    const char *name = qc_graph_sym_name(from, d);
    r.dims[i] = name ? qc_graph_sym(to, name) : QC_DIM_UNKNOWN;
  }
  return r;
}

/* Either a or b (the value is one of the two): what both agree on. Unknown dtype or
 * kind on one side takes the other's, as both must have the same element type. */
static qc_type join_either(const qc_type *a, const qc_type *b) {
  bool a_unknown = a->dtype == QC_DT_UNDEFINED && a->rank < 0 && a->kind == QC_TYPE_TENSOR;
  bool b_unknown = b->dtype == QC_DT_UNDEFINED && b->rank < 0 && b->kind == QC_TYPE_TENSOR;
  qc_type t = qc_inf_type_join(a, b);
  if (!a->dtype || !b->dtype) t.dtype = a->dtype ? a->dtype : b->dtype;
  if (a_unknown) t.kind = b->kind;
  else if (b_unknown) t.kind = a->kind;
  return t;
}

/* Refine `decl` with `inf` (never contradicting what is declared). */
static void refine(qc_type *decl, const qc_type *inf) {
  bool decl_empty = decl->dtype == QC_DT_UNDEFINED && decl->rank < 0;
  if (decl_empty) decl->kind = inf->kind;
  if (!decl->dtype) decl->dtype = inf->dtype;
  if (decl->rank < 0 && inf->rank >= 0) {
    decl->rank = inf->rank;
    memcpy(decl->dims, inf->dims, sizeof(int64_t) * (size_t)inf->rank);
  } else if (decl->rank >= 0 && decl->rank == inf->rank) {
    for (int32_t i = 0; i < decl->rank; i++)
      if (decl->dims[i] == QC_DIM_UNKNOWN) decl->dims[i] = inf->dims[i];
  }
}

static bool same_type(const qc_type *a, const qc_type *b) {
  if (a->kind != b->kind || a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int32_t i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

/* A type with dim `axis` removed (a slice along it). */
static qc_type drop_dim(const qc_type *t, int32_t axis) {
  qc_type r = *t;
  r.kind = QC_TYPE_TENSOR;
  if (t->rank <= 0 || axis < 0 || axis >= t->rank) {
    if (t->rank == 0) r.rank = QC_RANK_UNKNOWN;
    return r;
  }
  for (int32_t i = axis; i + 1 < t->rank; i++) r.dims[i] = t->dims[i + 1];
  r.rank--;
  return r;
}

/* The element type of a sequence (or the tensor itself). */
static qc_type element_of(const qc_type *t) {
  qc_type r = *t;
  if (t->kind == QC_TYPE_SEQUENCE || t->kind == QC_TYPE_OPTIONAL) r.kind = QC_TYPE_TENSOR;
  else if (t->kind == QC_TYPE_OPTIONAL_SEQUENCE) r.kind = QC_TYPE_SEQUENCE;
  return r;
}

static qc_graph *graph_attr(qc_graph *g, qc_nid n, const char *name) {
  const qc_attr *a = qc_node_attr(g, n, name);
  return a && a->kind == QC_ATTR_GRAPH ? a->u.g : NULL;
}

static const qc_type *node_input_type(qc_graph *g, const qc_node *nd, int32_t i) {
  if (i < 0 || i >= nd->n_in || nd->in[i] < 0) return NULL;
  return &g->values[nd->in[i]].type;
}

/* Fixed point for loop-carried body inputs [first, first + n) whose new values are body
 * outputs [out_first, out_first + n). `start` holds the proposed types (in body symbols);
 * on return it holds types that the body maps into themselves. */
static void carried_fixed_point(qc_graph *body, int32_t first, int32_t out_first, int32_t n,
                                qc_type *start) {
  for (int32_t iter = 0; iter < QC_MAX_RANK + 2; iter++) {
    qc_graph *probe;
    if (qc_graph_clone(body, &probe)) break;
    for (int32_t i = 0; i < n; i++) {
      qc_value *v = &probe->values[probe->inputs[first + i]];
      refine(&v->type, &start[i]);
    }
    qc_status s = qc_graph_infer_types(probe);
    bool stable = true;
    if (s) {
      qc_status_free(s);
      stable = false;
      for (int32_t i = 0; i < n; i++) {
        qc_type t = qc_inf_dtype_only(start[i].dtype);
        t.kind = start[i].kind;
        start[i] = t;
      }
      qc_graph_destroy(probe);
      break;
    }
    for (int32_t i = 0; i < n; i++) {
      qc_type in = probe->values[probe->inputs[first + i]].type;
      qc_type out = type_to(body, probe, &probe->values[probe->outputs[out_first + i]].type);
      in = type_to(body, probe, &in);
      /* a change of kind (optional in, sequence out) is the body's business */
      qc_type j = in.kind == out.kind ? join_either(&in, &out) : in;
      if (!same_type(&j, &in)) stable = false;
      start[i] = j;
    }
    qc_graph_destroy(probe);
    if (stable) break;
    if (iter == QC_MAX_RANK + 1)
      for (int32_t i = 0; i < n; i++) {
        qc_type t = qc_inf_dtype_only(start[i].dtype);
        t.kind = start[i].kind;
        start[i] = t;
      }
  }
  for (int32_t i = 0; i < n; i++) refine(&body->values[body->inputs[first + i]].type, &start[i]);
}

/* ---- preparing bodies ---------------------------------------------------------------------- */

static void prepare_loop(qc_graph *g, qc_nid n) {
  qc_graph *body = graph_attr(g, n, "body");
  const qc_node *nd = &g->nodes[n];
  if (!body) return;
  body->parent = g;
  int32_t carried = nd->n_in - 2;
  if (carried < 0 || body->n_inputs != carried + 2 || body->n_outputs < carried + 1) return;
  qc_type it = qc_inf_type(QC_I64, 0, NULL), cond = qc_inf_type(QC_BOOL, 0, NULL);
  refine(&body->values[body->inputs[0]].type, &it);
  refine(&body->values[body->inputs[1]].type, &cond);
  if (carried == 0 || carried > 64) return;
  qc_type start[64];
  for (int32_t i = 0; i < carried; i++) {
    const qc_type *t = node_input_type(g, nd, 2 + i);
    start[i] = t ? type_to(body, g, t) : qc_type_unknown();
  }
  carried_fixed_point(body, 2, 1, carried, start);
}

static void prepare_scan(qc_graph *g, qc_nid n) {
  qc_graph *body = graph_attr(g, n, "body");
  const qc_node *nd = &g->nodes[n];
  if (!body) return;
  body->parent = g;
  int64_t m = qc_node_int(g, n, "num_scan_inputs", 0);
  bool v8 = qc_node_version(g, n) == 8;
  int32_t skip = v8 ? 1 : 0;
  int32_t states = nd->n_in - skip - (int32_t)m;
  if (m <= 0 || states < 0 || states > 64 || body->n_inputs != states + m ||
      body->n_outputs < states)
    return;
  const qc_attr *axes = qc_node_attr(g, n, "scan_input_axes");
  for (int32_t j = 0; j < m; j++) {
    const qc_type *t = node_input_type(g, nd, skip + states + j);
    if (!t) continue;
    qc_type s = type_to(body, g, t);
    if (v8) {
      s = drop_dim(&s, 0); /* batch */
      s = drop_dim(&s, 0); /* sequence */
    } else {
      int64_t ax = axes && axes->kind == QC_ATTR_INTS && j < axes->n ? axes->u.ints[j] : 0;
      if (s.rank >= 0) {
        int32_t a;
        if (!qc_norm_axis(ax, s.rank, &a)) continue;
        s = drop_dim(&s, a);
      } else {
        s = qc_inf_dtype_only(s.dtype);
      }
    }
    refine(&body->values[body->inputs[states + j]].type, &s);
  }
  if (states == 0) return;
  qc_type start[64];
  for (int32_t i = 0; i < states; i++) {
    const qc_type *t = node_input_type(g, nd, skip + i);
    start[i] = t ? type_to(body, g, t) : qc_type_unknown();
    if (v8) start[i] = drop_dim(&start[i], 0);
  }
  carried_fixed_point(body, 0, 0, states, start);
}

static void prepare_sequence_map(qc_graph *g, qc_nid n) {
  qc_graph *body = graph_attr(g, n, "body");
  const qc_node *nd = &g->nodes[n];
  if (!body) return;
  body->parent = g;
  if (body->n_inputs != nd->n_in) return;
  for (int32_t i = 0; i < nd->n_in; i++) {
    const qc_type *t = node_input_type(g, nd, i);
    if (!t) continue;
    qc_type e = type_to(body, g, t);
    if (t->kind == QC_TYPE_SEQUENCE) e = element_of(&e);
    refine(&body->values[body->inputs[i]].type, &e);
  }
}

void qc_inf_prepare_bodies(qc_graph *g, qc_nid n) {
  switch (g->nodes[n].op) {
  case QC_OP_Loop: prepare_loop(g, n); break;
  case QC_OP_Scan: prepare_scan(g, n); break;
  case QC_OP_SequenceMap: prepare_sequence_map(g, n); break;
  default: break;
  }
}

/* ---- control-flow rules -------------------------------------------------------------------- */

static qc_type body_output(qc_infer_ctx *c, const qc_graph *body, int32_t i) {
  if (!body || i < 0 || i >= qc_graph_num_outputs(body)) return qc_type_unknown();
  const qc_value *v = qc_graph_value(body, qc_graph_output(body, i));
  return v ? qc_inf_type_import(c, body, &v->type) : qc_type_unknown();
}

qc_status qc_infer_if(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_bool(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 0));
  const qc_graph *th = qc_inf_subgraph(c, "then_branch"), *el = qc_inf_subgraph(c, "else_branch");
  int32_t n = qc_infer_num_outputs(c);
  if (th && qc_graph_num_outputs(th) != n)
    return qc_infer_error(c, "then_branch has %d outputs, the node %d", qc_graph_num_outputs(th), n);
  if (el && qc_graph_num_outputs(el) != n)
    return qc_infer_error(c, "else_branch has %d outputs, the node %d", qc_graph_num_outputs(el), n);
  /* a constant condition picks one branch */
  const qc_graph *only = NULL;
  double cv;
  int32_t cnt;
  if (qc_inf_input_floats(c, 0, &cv, 1, &cnt) && cnt == 1) only = cv != 0 ? th : el;
  for (int32_t i = 0; i < n; i++) {
    qc_type a = body_output(c, th, i), b = body_output(c, el, i);
    if (a.dtype && b.dtype && a.dtype != b.dtype && a.kind == b.kind)
      return qc_infer_error(c, "output %d: branches produce %s and %s", i, qc_dtype_name(a.dtype),
                            qc_dtype_name(b.dtype));
    qc_type t = only ? body_output(c, only, i) : join_either(&a, &b);
    qc_infer_set_output(c, i, &t);
  }
  return QC_OK;
}

/* Whether a body's condition output stays true: it passes its condition input through,
 * or is a constant true. */
static bool body_keeps_going(const qc_graph *body) {
  if (qc_graph_num_outputs(body) < 1 || qc_graph_num_inputs(body) < 2) return false;
  const qc_value *v = qc_graph_value(body, qc_graph_output(body, 0));
  if (!v) return false;
  const qc_tensor *t = NULL;
  if (v->kind == QC_VALUE_CONST) t = &v->cst;
  if (v->kind == QC_VALUE_NODE) {
    const qc_node *nd = qc_graph_node(body, v->node);
    if (nd->op == QC_OP_Identity && nd->n_in == 1 && nd->in[0] == qc_graph_input(body, 1))
      return true;
    const qc_attr *a = nd->op == QC_OP_Constant ? qc_node_attr(body, v->node, "value") : NULL;
    if (a && a->kind == QC_ATTR_TENSOR) t = a->u.t;
  }
  return t && qc_shape_numel(t->rank, t->dims) == 1 && qc_tensor_data(t) &&
         qc_elem_f64(t->dtype, qc_tensor_data(t), 0) != 0;
}

/* Iterations of a Loop when they are known: a known trip count M with a condition that
 * starts true and stays true; 0 when the initial condition is a known false. */
static int64_t loop_trips(const qc_infer_ctx *c, const qc_graph *body) {
  double cv = 1;
  int32_t cnt;
  bool has_cond = qc_infer_input(c, 1) != NULL;
  if (has_cond && !(qc_inf_input_floats(c, 1, &cv, 1, &cnt) && cnt == 1)) return QC_DIM_UNKNOWN;
  if (cv == 0) return 0;
  int64_t m;
  if (!qc_infer_input(c, 0) || !qc_inf_input_ints(c, 0, &m, 1, &cnt) || cnt != 1 || m < 0)
    return QC_DIM_UNKNOWN;
  return m == 0 || body_keeps_going(body) ? m : QC_DIM_UNKNOWN;
}

qc_status qc_infer_loop(qc_infer_ctx *c) {
  if (qc_infer_input(c, 0)) {
    QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "i64", 1, (const qc_dtype[]){QC_I64}));
    QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 0));
  }
  if (qc_infer_input(c, 1)) {
    QC_RETURN_IF_ERROR(qc_inf_require_bool(c, 1));
    QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 1));
  }
  const qc_graph *body = qc_inf_subgraph(c, "body");
  if (!body) return QC_OK;
  int32_t carried = qc_infer_num_inputs(c) - 2, n_out = qc_infer_num_outputs(c);
  if (qc_graph_num_inputs(body) != carried + 2)
    return qc_infer_error(c, "body has %d inputs, expected %d (iteration, condition, %d carried)",
                          qc_graph_num_inputs(body), carried + 2, carried);
  if (qc_graph_num_outputs(body) != n_out + 1)
    return qc_infer_error(c, "body has %d outputs, expected %d (condition and the node's %d)",
                          qc_graph_num_outputs(body), n_out + 1, n_out);
  if (n_out < carried) return qc_infer_error(c, "%d outputs for %d carried values", n_out, carried);
  for (int32_t i = 0; i < carried; i++) {
    qc_type b = body_output(c, body, 1 + i);
    const qc_type *init = qc_infer_input(c, 2 + i);
    if (init && b.dtype && init->dtype && b.dtype != init->dtype)
      return qc_infer_error(c, "carried value %d: body produces %s, the initial value is %s", i,
                            qc_dtype_name(b.dtype), qc_dtype_name(init->dtype));
    qc_type t = init && init->kind == b.kind ? join_either(&b, init) : b;
    qc_infer_set_output(c, i, &t);
  }
  int64_t trips = loop_trips(c, body);
  for (int32_t k = carried; k < n_out; k++) {
    qc_type b = body_output(c, body, 1 + k);
    qc_type t = qc_inf_dtype_only(b.dtype);
    if (b.rank >= 0 && b.rank < QC_MAX_RANK) {
      t = qc_inf_ranked(b.dtype, b.rank + 1);
      t.dims[0] = trips;
      for (int32_t i = 0; i < b.rank; i++) t.dims[i + 1] = b.dims[i];
    }
    qc_infer_set_output(c, k, &t);
  }
  return QC_OK;
}

qc_status qc_infer_scan(qc_infer_ctx *c) {
  const qc_graph *body = qc_inf_subgraph(c, "body");
  if (!body) return QC_OK;
  int64_t m = qc_infer_int(c, "num_scan_inputs", 0);
  bool v8 = qc_inf_version(c) == 8;
  int32_t skip = v8 ? 1 : 0;
  int32_t states = qc_infer_num_inputs(c) - skip - (int32_t)m;
  int32_t n_out = qc_infer_num_outputs(c);
  if (m <= 0 || states < 0)
    return qc_infer_error(c, "num_scan_inputs (%lld) does not fit the %d inputs", (long long)m,
                          qc_infer_num_inputs(c));
  if (qc_graph_num_inputs(body) != states + m)
    return qc_infer_error(c, "body has %d inputs, expected %lld", qc_graph_num_inputs(body),
                          (long long)(states + m));
  if (qc_graph_num_outputs(body) != n_out)
    return qc_infer_error(c, "body has %d outputs, the node %d", qc_graph_num_outputs(body), n_out);
  /* the sequence length: dim scan_input_axes[0] of the first scan input */
  int64_t seq = QC_DIM_UNKNOWN, batch = QC_DIM_UNKNOWN;
  const qc_type *s0 = qc_infer_input(c, skip + states);
  int64_t in_axes[64], out_axes[64];
  int32_t n_in_axes = 0, n_out_axes = 0;
  qc_inf_attr_ints(c, "scan_input_axes", in_axes, 64, &n_in_axes);
  qc_inf_attr_ints(c, "scan_output_axes", out_axes, 64, &n_out_axes);
  if (s0 && s0->rank >= 0) {
    if (v8) {
      if (s0->rank >= 2) batch = s0->dims[0], seq = s0->dims[1];
    } else {
      int32_t a;
      if (qc_norm_axis(n_in_axes > 0 ? in_axes[0] : 0, s0->rank, &a)) seq = s0->dims[a];
    }
  }
  for (int32_t i = 0; i < n_out; i++) {
    qc_type b = body_output(c, body, i);
    if (i < states) {
      if (v8 && b.rank >= 0 && b.rank < QC_MAX_RANK) {
        qc_type t = qc_inf_ranked(b.dtype, b.rank + 1);
        t.dims[0] = batch;
        for (int32_t k = 0; k < b.rank; k++) t.dims[k + 1] = b.dims[k];
        b = t;
      }
      const qc_type *init = qc_infer_input(c, skip + i);
      qc_type t = init ? join_either(&b, init) : b;
      qc_infer_set_output(c, i, &t);
      continue;
    }
    qc_type t = qc_inf_dtype_only(b.dtype);
    int32_t extra = v8 ? 2 : 1;
    if (b.rank >= 0 && b.rank + extra <= QC_MAX_RANK) {
      int32_t r = b.rank + extra, a = 0;
      int32_t k = i - states;
      if (v8) {
        t = qc_inf_ranked(b.dtype, r);
        t.dims[0] = batch;
        t.dims[1] = seq;
        for (int32_t d = 0; d < b.rank; d++) t.dims[d + 2] = b.dims[d];
      } else {
        if (!qc_norm_axis(k < n_out_axes ? out_axes[k] : 0, r, &a))
          return qc_infer_error(c, "scan_output_axes[%d] is out of range for rank %d", k, r);
        t = qc_inf_ranked(b.dtype, r);
        for (int32_t d = 0, s = 0; d < r; d++) t.dims[d] = d == a ? seq : b.dims[s++];
      }
    }
    qc_infer_set_output(c, i, &t);
  }
  return QC_OK;
}

qc_status qc_infer_sequence_map(qc_infer_ctx *c) {
  const qc_type *s = qc_infer_input(c, 0);
  if (s && s->kind != QC_TYPE_SEQUENCE && (s->dtype || s->rank >= 0))
    return qc_infer_error(c, "input 0: expected a sequence");
  const qc_graph *body = qc_inf_subgraph(c, "body");
  if (!body) return QC_OK;
  if (qc_graph_num_outputs(body) != qc_infer_num_outputs(c))
    return qc_infer_error(c, "body has %d outputs, the node %d", qc_graph_num_outputs(body),
                          qc_infer_num_outputs(c));
  for (int32_t i = 0; i < qc_infer_num_outputs(c); i++) {
    qc_type t = body_output(c, body, i);
    t.kind = QC_TYPE_SEQUENCE;
    qc_infer_set_output(c, i, &t);
  }
  return QC_OK;
}

/* ---- sequences ------------------------------------------------------------------------------- */

static qc_status require_sequence(const qc_infer_ctx *c, int32_t i) {
  const qc_type *t = qc_infer_input(c, i);
  if (t && t->kind != QC_TYPE_SEQUENCE && (t->dtype || t->rank >= 0))
    return qc_infer_error(c, "input %d: expected a sequence, got a %s", i,
                          t->kind == QC_TYPE_TENSOR ? "tensor" : "optional");
  return QC_OK;
}

static qc_type as_sequence(qc_type t) {
  t.kind = QC_TYPE_SEQUENCE;
  return t;
}

qc_status qc_infer_sequence_empty(qc_infer_ctx *c) {
  qc_dtype dt = QC_F32;
  if (qc_infer_attr(c, "dtype")) {
    int64_t code = qc_infer_int(c, "dtype", 1);
    dt = qc_dtype_from_onnx((int)code);
    if (!dt) return qc_infer_error(c, "dtype %lld is not a known data type", (long long)code);
  }
  qc_type t = as_sequence(qc_inf_dtype_only(dt));
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_sequence_construct(qc_infer_ctx *c) {
  qc_type t = qc_type_unknown();
  bool first = true;
  for (int32_t i = 0; i < qc_infer_num_inputs(c); i++) {
    const qc_type *x = qc_infer_input(c, i);
    if (!x) continue;
    QC_RETURN_IF_ERROR(qc_inf_require_tensor(c, i));
    if (i) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
    t = first ? *x : join_either(&t, x);
    first = false;
  }
  t = as_sequence(t);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_sequence_insert(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(require_sequence(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_tensor(c, 1));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  if (qc_infer_input(c, 2)) {
    QC_RETURN_IF_ERROR(qc_inf_require_index(c, 2));
    QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 2));
  }
  const qc_type *s = qc_infer_input(c, 0), *x = qc_infer_input(c, 1);
  qc_type t = qc_type_unknown();
  if (s && x) {
    /* an empty sequence (from SequenceEmpty) says nothing about shapes */
    qc_type e = element_of(s);
    const qc_value *sv = &c->g->values[c->n->in[0]];
    bool empty = sv->kind == QC_VALUE_NODE && c->g->nodes[sv->node].op == QC_OP_SequenceEmpty;
    t = empty ? *x : join_either(&e, x);
    if (!t.dtype) t.dtype = s->dtype;
  }
  t = as_sequence(t);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_sequence_erase(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(require_sequence(c, 0));
  if (qc_infer_input(c, 1)) {
    QC_RETURN_IF_ERROR(qc_inf_require_index(c, 1));
    QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 1));
  }
  const qc_type *s = qc_infer_input(c, 0);
  qc_type t = as_sequence(s ? *s : qc_type_unknown());
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_sequence_at(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(require_sequence(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_index(c, 1));
  QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 1));
  const qc_type *s = qc_infer_input(c, 0);
  qc_type t = s ? element_of(s) : qc_type_unknown();
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_sequence_length(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(require_sequence(c, 0));
  qc_type t = qc_inf_type(QC_I64, 0, NULL);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_split_to_sequence(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  qc_type t = as_sequence(qc_inf_dtype_only(dt));
  if (qc_infer_input(c, 1)) QC_RETURN_IF_ERROR(qc_inf_require_index(c, 1));
  if (!x || x->rank < 0) {
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  int32_t axis;
  int64_t ax = qc_infer_int(c, "axis", 0);
  if (!qc_norm_axis(ax, x->rank, &axis))
    return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)ax, x->rank);
  t = *x;
  t.kind = QC_TYPE_SEQUENCE;
  const qc_type *sp = qc_infer_input(c, 1);
  if (!sp) {
    if (qc_infer_int(c, "keepdims", 1)) {
      t.dims[axis] = 1;
    } else {
      for (int32_t i = axis; i + 1 < x->rank; i++) t.dims[i] = x->dims[i + 1];
      t.rank--;
    }
  } else {
    int64_t v[QC_INF_MAX_VALS];
    int32_t n;
    int64_t d = x->dims[axis], piece = QC_DIM_UNKNOWN;
    if (qc_inf_input_ints(c, 1, v, QC_INF_MAX_VALS, &n)) {
      if (sp->rank == 0 || (n == 1 && sp->rank < 0)) {
        if (v[0] <= 0) return qc_infer_error(c, "split must be positive, got %lld", (long long)v[0]);
        if (d >= 0 && d % v[0] == 0) piece = v[0];
        if (d >= 0 && d <= v[0]) piece = d;
      } else {
        int64_t sum = 0;
        bool equal = n > 0;
        for (int32_t i = 0; i < n; i++) {
          if (v[i] < 0) return qc_infer_error(c, "negative split size %lld", (long long)v[i]);
          sum += v[i];
          equal &= v[i] == v[0];
        }
        if (d >= 0 && sum != d)
          return qc_infer_error(c, "split sizes add up to %lld, but dim %d is %lld", (long long)sum,
                                axis, (long long)d);
        if (equal) piece = v[0];
      }
    }
    t.dims[axis] = piece;
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_concat_from_sequence(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(require_sequence(c, 0));
  const qc_type *s = qc_infer_input(c, 0);
  qc_type e = s ? element_of(s) : qc_type_unknown();
  qc_type t = qc_inf_dtype_only(e.dtype);
  if (e.rank >= 0) {
    bool new_axis = qc_infer_int(c, "new_axis", 0) != 0;
    int32_t r = e.rank + (new_axis ? 1 : 0), axis;
    int64_t ax = qc_infer_int(c, "axis", 0);
    if (r > QC_MAX_RANK) return qc_infer_error(c, "output rank %d exceeds %d", r, QC_MAX_RANK);
    if (!qc_norm_axis(ax, r, &axis))
      return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)ax, r);
    t = qc_inf_ranked(e.dtype, r);
    for (int32_t i = 0, k = 0; i < r; i++) {
      if (new_axis && i == axis) continue;
      t.dims[i] = i == axis ? QC_DIM_UNKNOWN : e.dims[k];
      k++;
    }
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- optionals ------------------------------------------------------------------------------- */

qc_status qc_infer_optional(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_type t = qc_type_unknown();
  const qc_attr *a = qc_infer_attr(c, "type");
  if (x) t = *x;
  else if (a && a->kind == QC_ATTR_TYPE && a->u.type) t = *a->u.type;
  else if (!x) return qc_infer_error(c, "needs an input or a 'type' attribute");
  if (t.kind == QC_TYPE_OPTIONAL || t.kind == QC_TYPE_OPTIONAL_SEQUENCE)
    return qc_infer_error(c, "an optional cannot hold an optional");
  t.kind = t.kind == QC_TYPE_SEQUENCE ? QC_TYPE_OPTIONAL_SEQUENCE : QC_TYPE_OPTIONAL;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_optional_get(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  if (!x) return QC_OK;
  qc_type t = element_of(x);
  if (x->kind == QC_TYPE_SEQUENCE) t.kind = QC_TYPE_SEQUENCE;
  if (qc_inf_version(c) < 18 && x->kind != QC_TYPE_OPTIONAL &&
      x->kind != QC_TYPE_OPTIONAL_SEQUENCE && (x->dtype || x->rank >= 0))
    return qc_infer_error(c, "input 0: expected an optional");
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_optional_has(qc_infer_ctx *c) {
  qc_type t = qc_inf_type(QC_BOOL, 0, NULL);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}
