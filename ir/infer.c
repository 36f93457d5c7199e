/* Shape and type inference: the context API, the driver over a graph, shared shape
 * rules, and the generic rules (none, same, broadcast, compare). Op-specific rules live
 * in infer_ops.c. */
#include "infer_ops.h"

#include <stdio.h>

/* ---- context ------------------------------------------------------------------------------ */

const qc_graph *qc_infer_graph(const qc_infer_ctx *c) { return c->g; }
qc_nid qc_infer_node_id(const qc_infer_ctx *c) { return c->node; }
int64_t qc_infer_version(const qc_infer_ctx *c) { return qc_node_version(c->g, c->node); }
int32_t qc_infer_num_inputs(const qc_infer_ctx *c) { return c->n->n_in; }
int32_t qc_infer_num_outputs(const qc_infer_ctx *c) { return c->n->n_out; }

const qc_type *qc_infer_input(const qc_infer_ctx *c, int32_t i) {
  if (i < 0 || i >= c->n->n_in || c->n->in[i] < 0) return NULL;
  return &c->g->values[c->n->in[i]].type;
}

const qc_tensor *qc_infer_input_const(const qc_infer_ctx *c, int32_t i) {
  if (i < 0 || i >= c->n->n_in || c->n->in[i] < 0) return NULL;
  const qc_value *v = &c->g->values[c->n->in[i]];
  return v->kind == QC_VALUE_CONST ? &v->cst : NULL;
}

const qc_attr *qc_infer_attr(const qc_infer_ctx *c, const char *name) {
  return qc_node_attr(c->g, c->node, name);
}
int64_t qc_infer_int(const qc_infer_ctx *c, const char *name, int64_t dflt) {
  return qc_node_int(c->g, c->node, name, dflt);
}
double qc_infer_float(const qc_infer_ctx *c, const char *name, double dflt) {
  return qc_node_float(c->g, c->node, name, dflt);
}
const char *qc_infer_string(const qc_infer_ctx *c, const char *name, const char *dflt) {
  return qc_node_string(c->g, c->node, name, dflt);
}

void qc_infer_set_output(qc_infer_ctx *c, int32_t i, const qc_type *t) {
  if (i >= 0 && i < c->n->n_out && i < 64) c->out[i] = *t;
}

qc_status qc_infer_error(const qc_infer_ctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  qc_status s = qc_status_newv(QC_CODE_VERIFY, fmt, ap);
  va_end(ap);
  return qc_status_wrap(s, "%s", qc_node_desc(c->g, c->node));
}

qc_status qc_infer_require_float(const qc_infer_ctx *c, int32_t i) {
  const qc_type *t = qc_infer_input(c, i);
  if (t && t->dtype != QC_DT_UNDEFINED && !qc_dtype_is_float(t->dtype))
    return qc_infer_error(c, "input %d: expected a float type, got %s", i, qc_dtype_name(t->dtype));
  return QC_OK;
}

qc_status qc_infer_require_int(const qc_infer_ctx *c, int32_t i) {
  const qc_type *t = qc_infer_input(c, i);
  if (t && t->dtype != QC_DT_UNDEFINED && !qc_dtype_is_int(t->dtype))
    return qc_infer_error(c, "input %d: expected an integer type, got %s", i,
                          qc_dtype_name(t->dtype));
  return QC_OK;
}

qc_status qc_infer_require_same_dtype(const qc_infer_ctx *c, int32_t a, int32_t b) {
  const qc_type *ta = qc_infer_input(c, a), *tb = qc_infer_input(c, b);
  if (ta && tb && ta->dtype && tb->dtype && ta->dtype != tb->dtype)
    return qc_infer_error(c, "inputs %d and %d: dtypes differ (%s vs %s)", a, b,
                          qc_dtype_name(ta->dtype), qc_dtype_name(tb->dtype));
  return QC_OK;
}

qc_status qc_infer_require_rank(const qc_infer_ctx *c, int32_t i, int32_t rank) {
  const qc_type *t = qc_infer_input(c, i);
  if (t && t->rank >= 0 && t->rank != rank)
    return qc_infer_error(c, "input %d: expected rank %d, got %d", i, rank, t->rank);
  return QC_OK;
}

/* ---- shared shape rules -------------------------------------------------------------------- */

bool qc_broadcast_dims(int32_t ra, const int64_t *da, int32_t rb, const int64_t *db,
                       int32_t *rout, int64_t *dout) {
  int32_t r = ra > rb ? ra : rb;
  if (r > QC_MAX_RANK) return false;
  int64_t tmp[QC_MAX_RANK];
  for (int32_t i = 0; i < r; i++) {
    int32_t ia = i - (r - ra), ib = i - (r - rb);
    int64_t a = ia >= 0 ? da[ia] : 1, b = ib >= 0 ? db[ib] : 1;
    int64_t o;
    if (a == b) o = a;
    else if (a == 1) o = b;
    else if (b == 1) o = a;
    else if (a >= 0 && b >= 0) return false;
    else if (a >= 0) o = a; /* symbolic b must be 1 or a */
    else if (b >= 0) o = b;
    else o = QC_DIM_UNKNOWN;
    if (a == QC_DIM_UNKNOWN && b == QC_DIM_UNKNOWN) o = QC_DIM_UNKNOWN;
    tmp[i] = o;
  }
  *rout = r;
  memcpy(dout, tmp, sizeof(int64_t) * (size_t)r);
  return true;
}

bool qc_norm_axis(int64_t axis, int32_t r, int32_t *out) {
  if (axis < -(int64_t)r || axis >= r) return false;
  *out = (int32_t)(axis < 0 ? axis + r : axis);
  return true;
}

int64_t qc_window_out(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pb, int64_t pe,
                      bool ceil_mode) {
  if (stride <= 0 || dil <= 0 || k <= 0) return -1;
  int64_t ek = (k - 1) * dil + 1;
  int64_t span = in + pb + pe - ek;
  if (span < 0) return -1;
  int64_t out = ceil_mode ? (span + stride - 1) / stride + 1 : span / stride + 1;
  /* A window may not start in the end padding (ONNX reference, PyTorch). */
  if (ceil_mode && (out - 1) * stride >= in + pb) out--;
  return out;
}

bool qc_auto_pad(const char *auto_pad, int32_t n, const int64_t *in, const int64_t *k,
                 const int64_t *stride, const int64_t *dil, int64_t *pads) {
  if (!auto_pad || strcmp(auto_pad, "NOTSET") == 0 || !*auto_pad) return true;
  if (strcmp(auto_pad, "VALID") == 0) {
    for (int32_t i = 0; i < 2 * n; i++) pads[i] = 0;
    return true;
  }
  bool upper = strcmp(auto_pad, "SAME_UPPER") == 0;
  if (!upper && strcmp(auto_pad, "SAME_LOWER") != 0) return false;
  for (int32_t i = 0; i < n; i++) {
    int64_t s = stride ? stride[i] : 1, d = dil ? dil[i] : 1;
    int64_t out = (in[i] + s - 1) / s;
    int64_t total = (out - 1) * s + (k[i] - 1) * d + 1 - in[i];
    if (total < 0) total = 0;
    int64_t small = total / 2, big = total - small;
    pads[i] = upper ? small : big;
    pads[i + n] = upper ? big : small;
  }
  return true;
}

/* ---- generic rules ------------------------------------------------------------------------- */

qc_status qc_infer_none(qc_infer_ctx *c) {
  (void)c;
  return QC_OK;
}

qc_status qc_infer_same(qc_infer_ctx *c) {
  const qc_type *t = qc_infer_input(c, 0);
  if (t) qc_infer_set_output(c, 0, t);
  return QC_OK;
}

/* Broadcast all inputs; output dtype = dtype of input 0 (or bool with `to_bool`). */
static qc_status broadcast_all(qc_infer_ctx *c, bool to_bool, bool same_dtype) {
  qc_type out = qc_type_unknown();
  int32_t r = 0;
  int64_t d[QC_MAX_RANK];
  bool known = true;
  for (int32_t i = 0; i < qc_infer_num_inputs(c); i++) {
    const qc_type *t = qc_infer_input(c, i);
    if (!t) continue;
    if (same_dtype && i > 0) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
    if (t->rank < 0) {
      known = false;
      continue;
    }
    if (!qc_broadcast_dims(r, d, t->rank, t->dims, &r, d)) {
      char a[160], b[160];
      return qc_infer_error(c, "input %d: shape %s does not broadcast with %s", i,
                            qc_inf_dims_str(c->g, t->rank, t->dims, b, sizeof b),
                            qc_inf_dims_str(c->g, r, d, a, sizeof a));
    }
  }
  const qc_type *t0 = qc_infer_input(c, 0);
  out.dtype = to_bool ? QC_BOOL : (t0 ? t0->dtype : QC_DT_UNDEFINED);
  if (known) {
    out.rank = r;
    memcpy(out.dims, d, sizeof(int64_t) * (size_t)r);
  }
  qc_infer_set_output(c, 0, &out);
  return QC_OK;
}

qc_status qc_infer_broadcast(qc_infer_ctx *c) {
  qc_op op = c->n->op;
  bool same = !(op == QC_OP_Pow || op == QC_OP_PRelu);
  return broadcast_all(c, false, same);
}

qc_status qc_infer_compare(qc_infer_ctx *c) { return broadcast_all(c, true, true); }

/* ---- driver ----------------------------------------------------------------------------------- */

/* Merge an inferred type into a declared one. Returns false on contradiction. */
static bool merge_type(qc_type *decl, const qc_type *inf) {
  if (inf->dtype != QC_DT_UNDEFINED) {
    if (decl->dtype == QC_DT_UNDEFINED) decl->dtype = inf->dtype;
    else if (decl->dtype != inf->dtype) return false;
  }
  /* An unknown result (kind tensor, nothing else known) says nothing about the kind. */
  bool informative = inf->kind != QC_TYPE_TENSOR || inf->dtype || inf->rank >= 0;
  if (informative && inf->kind != decl->kind) {
    if (decl->dtype == QC_DT_UNDEFINED || decl->kind == QC_TYPE_TENSOR) decl->kind = inf->kind;
    else return false;
  }
  if (inf->rank >= 0) {
    if (decl->rank < 0) {
      decl->rank = inf->rank;
      memcpy(decl->dims, inf->dims, sizeof(int64_t) * (size_t)inf->rank);
    } else if (decl->rank != inf->rank) {
      return false;
    } else {
      for (int32_t i = 0; i < decl->rank; i++) {
        int64_t a = decl->dims[i], b = inf->dims[i];
        if (a >= 0 && b >= 0 && a != b) return false;
        if (a < 0 && b >= 0) decl->dims[i] = b;
        if (a == QC_DIM_UNKNOWN && b != QC_DIM_UNKNOWN) decl->dims[i] = b;
      }
    }
  }
  return true;
}

/* Find a value by name in the scopes enclosing g. */
static const qc_value *resolve_outer(const qc_graph *g, const char *name, const qc_graph **owner) {
  for (const qc_graph *p = g->parent; p; p = p->parent) {
    qc_vid v = qc_graph_find(p, name);
    if (v >= 0 && p->values[v].kind != QC_VALUE_OUTER) {
      *owner = p;
      return &p->values[v];
    }
  }
  return NULL;
}

/* Give a sub-graph's captures the types of the values they name. Captures declare no
 * type of their own, so the enclosing value's type (symbols carried by name) replaces
 * whatever an earlier run left. */
static void type_captures(qc_graph *sub) {
  for (qc_vid v = 0; v < sub->n_values; v++) {
    qc_value *val = &sub->values[v];
    if (val->kind != QC_VALUE_OUTER) continue;
    const qc_graph *owner = NULL;
    const qc_value *o = resolve_outer(sub, val->name, &owner);
    if (!o || (o->type.dtype == QC_DT_UNDEFINED && o->type.rank < 0)) continue;
    qc_type t = o->type;
    for (int32_t i = 0; i < t.rank; i++) {
      const char *sym = qc_graph_sym_name(owner, t.dims[i]);
      if (t.dims[i] < 0 && t.dims[i] != QC_DIM_UNKNOWN)
        t.dims[i] = sym ? qc_graph_sym(sub, sym) : QC_DIM_UNKNOWN;
    }
    val->type = t;
  }
}

static qc_status infer_subgraphs(qc_graph *g, qc_nid n) {
  qc_node *nd = &g->nodes[n];
  /* captures first: typing body inputs (a fixed point for loops) infers copies of bodies */
  for (int32_t k = 0; k < nd->n_attr; k++) {
    qc_attr *a = &nd->attr[k];
    int32_t cnt = a->kind == QC_ATTR_GRAPH ? 1 : a->kind == QC_ATTR_GRAPHS ? a->n : 0;
    for (int32_t j = 0; j < cnt; j++) {
      qc_graph *sub = a->kind == QC_ATTR_GRAPH ? a->u.g : a->u.graphs[j];
      sub->parent = g;
      type_captures(sub);
    }
  }
  qc_inf_prepare_bodies(g, n);
  for (int32_t k = 0; k < nd->n_attr; k++) {
    qc_attr *a = &nd->attr[k];
    int32_t cnt = a->kind == QC_ATTR_GRAPH ? 1 : a->kind == QC_ATTR_GRAPHS ? a->n : 0;
    for (int32_t j = 0; j < cnt; j++) {
      qc_graph *sub = a->kind == QC_ATTR_GRAPH ? a->u.g : a->u.graphs[j];
      qc_status s = qc_graph_infer_types(sub);
      if (s) return qc_status_wrap(s, "%s: attribute '%s'", qc_node_desc(g, n), a->name);
    }
  }
  return QC_OK;
}

static qc_status infer_nodes(qc_graph *g, qc_infer_store *store) {
  for (qc_nid n = 0; n < g->n_nodes; n++) {
    qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    const qc_op_schema *s = qc_op_schema_of(nd->op);
    if (!s) return qc_status_new(QC_CODE_VERIFY, "%s: unknown op", qc_node_desc(g, n));
    if (nd->n_out > 64)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: more than 64 outputs", qc_node_desc(g, n));
    if (s->flags & QC_OPF_SUBGRAPH) QC_RETURN_IF_ERROR(infer_subgraphs(g, n));
    if (!s->infer) continue;
    qc_infer_ctx c;
    c.g = g;
    c.node = n;
    c.n = nd;
    c.strict = false;
    c.store = store;
    for (int32_t i = 0; i < nd->n_out; i++) c.out[i] = qc_type_unknown();
    QC_RETURN_IF_ERROR(s->infer(&c));
    for (int32_t i = 0; i < nd->n_out; i++) {
      qc_vid v = nd->out[i];
      if (v < 0) continue;
      qc_type t = g->values[v].type;
      if (!merge_type(&t, &c.out[i])) {
        char a[256], b[256];
        return qc_status_new(QC_CODE_VERIFY, "%s: output %d '%s' is declared %s but computes %s",
                             qc_node_desc(g, n), i, g->values[v].name,
                             qc_type_format(g, &g->values[v].type, a, sizeof a),
                             qc_type_format(g, &c.out[i], b, sizeof b));
      }
      g->values[v].type = t;
    }
  }
  return QC_OK;
}

qc_status qc_graph_infer_types(qc_graph *g) {
  /* Without memory for the store, inference still runs, knowing constants only. */
  qc_infer_store *store = qc_inf_store_create(&g->alloc, g->n_values);
  qc_status s = infer_nodes(g, store);
  qc_inf_store_destroy(store);
  return s;
}
