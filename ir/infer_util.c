/* Helpers shared by the shape-inference rules: attributes and constant inputs, the data
 * propagation store, dim arithmetic, messages and checks (see infer_ops.h). */
#include "infer_ops.h"

#include <stdio.h>

/* ---- versions, attributes, constants ---------------------------------------------------- */

int64_t qc_inf_version(const qc_infer_ctx *c) {
  int64_t v = qc_infer_version(c);
  return v > 0 ? v : 999;
}

bool qc_inf_attr_ints(const qc_infer_ctx *c, const char *name, int64_t *out, int32_t cap,
                      int32_t *n) {
  const qc_attr *a = qc_infer_attr(c, name);
  if (!a) return false;
  if (a->kind == QC_ATTR_INT) {
    if (cap < 1) return false;
    out[0] = a->u.i;
    *n = 1;
    return true;
  }
  if (a->kind != QC_ATTR_INTS || a->n > cap) return false;
  for (int32_t i = 0; i < a->n; i++) out[i] = a->u.ints[i];
  *n = a->n;
  return true;
}

qc_status qc_inf_attr_list(const qc_infer_ctx *c, const char *name, int64_t *out, int32_t cap,
                           int32_t *n) {
  *n = -1;
  const qc_attr *a = qc_infer_attr(c, name);
  if (!a) return QC_OK;
  int32_t len = a->kind == QC_ATTR_INTS ? a->n : 1;
  if (len > cap)
    return qc_infer_error(c, "attribute '%s' has %d entries, more than %d", name, len, cap);
  qc_inf_attr_ints(c, name, out, cap, n);
  return QC_OK;
}

/* The value input i names, followed out of sub-graphs to the graph that defines it. */
static const qc_value *resolve_input(const qc_infer_ctx *c, int32_t i, const qc_graph **owner) {
  if (i < 0 || i >= c->n->n_in || c->n->in[i] < 0) return NULL;
  const qc_graph *g = c->g;
  const qc_value *v = &g->values[c->n->in[i]];
  while (v->kind == QC_VALUE_OUTER && g->parent) {
    g = g->parent;
    qc_vid o = qc_graph_find(g, v->name);
    if (o < 0) return NULL;
    v = &g->values[o];
  }
  *owner = g;
  return v;
}

/* The Constant node defining v, or NULL. */
static const qc_node *constant_node(const qc_graph *g, const qc_value *v, qc_nid *id) {
  if (v->kind != QC_VALUE_NODE || v->node < 0 || v->node >= g->n_nodes) return NULL;
  if (g->nodes[v->node].op != QC_OP_Constant) return NULL;
  *id = v->node;
  return &g->nodes[v->node];
}

const qc_tensor *qc_inf_input_tensor(const qc_infer_ctx *c, int32_t i) {
  const qc_graph *g;
  const qc_value *v = resolve_input(c, i, &g);
  if (!v) return NULL;
  const qc_tensor *t = NULL;
  qc_nid id;
  if (v->kind == QC_VALUE_CONST) {
    t = &v->cst;
  } else if (constant_node(g, v, &id)) {
    const qc_attr *a = qc_node_attr(g, id, "value");
    if (a && a->kind == QC_ATTR_TENSOR) t = a->u.t;
  }
  if (!t || qc_shape_numel(t->rank, t->dims) < 0) return NULL;
  if (qc_shape_numel(t->rank, t->dims) > 0 && !qc_tensor_data(t)) return NULL;
  return t;
}

static bool numeric_dtype(qc_dtype dt) {
  return qc_dtype_is_int(dt) || qc_dtype_is_float(dt) || dt == QC_BOOL;
}

bool qc_inf_input_floats(const qc_infer_ctx *c, int32_t i, double *out, int32_t cap, int32_t *n) {
  const qc_tensor *t = qc_inf_input_tensor(c, i);
  if (!t || !numeric_dtype(t->dtype)) return false;
  int64_t cnt = qc_shape_numel(t->rank, t->dims);
  if (cnt > cap) return false;
  const void *base = qc_tensor_data(t);
  for (int64_t k = 0; k < cnt; k++) out[k] = qc_elem_f64(t->dtype, base, (size_t)k);
  *n = (int32_t)cnt;
  return true;
}

/* ---- data propagation ------------------------------------------------------------------- */

struct qc_infer_store {
  const qc_allocator *a;
  int32_t n_values;
  int32_t *slot; /* per value: index into pool, -1 = nothing known */
  qc_inf_vals *pool;
  int32_t n_pool, cap_pool;
};

qc_infer_store *qc_inf_store_create(const qc_allocator *a, int32_t n_values) {
  qc_infer_store *s = qc_calloc(a, 1, sizeof *s);
  if (!s) return NULL;
  s->a = a;
  s->n_values = n_values;
  s->slot = qc_alloc(a, sizeof(int32_t) * (size_t)(n_values > 0 ? n_values : 1));
  if (!s->slot) {
    qc_free(a, s, sizeof *s);
    return NULL;
  }
  for (int32_t i = 0; i < n_values; i++) s->slot[i] = -1;
  return s;
}

void qc_inf_store_destroy(qc_infer_store *s) {
  if (!s) return;
  qc_free(s->a, s->slot, sizeof(int32_t) * (size_t)(s->n_values > 0 ? s->n_values : 1));
  qc_free(s->a, s->pool, sizeof(qc_inf_vals) * (size_t)s->cap_pool);
  qc_free(s->a, s, sizeof *s);
}

void qc_inf_set_output_vals(qc_infer_ctx *c, int32_t i, const qc_inf_vals *v) {
  qc_infer_store *s = c->store;
  if (!s || i < 0 || i >= c->n->n_out) return;
  qc_vid vid = c->n->out[i];
  if (vid < 0 || vid >= s->n_values || v->n > QC_INF_MAX_VALS) return;
  bool any = false;
  for (int32_t k = 0; k < v->n; k++) any |= v->k[k] != QC_INF_UNK;
  if (!any && v->n > 0) return;
  if (s->slot[vid] < 0) {
    if (!qc_grow(s->a, (void **)&s->pool, &s->cap_pool, s->n_pool + 1, sizeof *s->pool))
      return; /* out of memory: only loses precision */
    s->slot[vid] = s->n_pool++;
  }
  s->pool[s->slot[vid]] = *v;
}

bool qc_inf_input_vals(const qc_infer_ctx *c, int32_t i, qc_inf_vals *out) {
  if (i < 0 || i >= c->n->n_in || c->n->in[i] < 0) return false;
  qc_vid vid = c->n->in[i];
  if (c->store && vid < c->store->n_values && c->store->slot[vid] >= 0) {
    *out = c->store->pool[c->store->slot[vid]];
    return true;
  }
  const qc_graph *g;
  const qc_value *v = resolve_input(c, i, &g);
  qc_nid id;
  if (v && constant_node(g, v, &id)) {
    const qc_attr *a = qc_node_attr(g, id, "value_int");
    const qc_attr *b = qc_node_attr(g, id, "value_ints");
    if (a && a->kind == QC_ATTR_INT) {
      out->rank = 0;
      out->n = 1;
      out->k[0] = QC_INF_INT;
      out->v[0] = a->u.i;
      return true;
    }
    if (b && b->kind == QC_ATTR_INTS && b->n <= QC_INF_MAX_VALS) {
      out->rank = 1;
      out->n = b->n;
      for (int32_t k = 0; k < b->n; k++) out->k[k] = QC_INF_INT, out->v[k] = b->u.ints[k];
      return true;
    }
  }
  const qc_tensor *t = qc_inf_input_tensor(c, i);
  if (!t || t->rank > 1 || !(qc_dtype_is_int(t->dtype) || t->dtype == QC_BOOL)) return false;
  int64_t cnt = qc_shape_numel(t->rank, t->dims);
  if (cnt < 0 || cnt > QC_INF_MAX_VALS) return false;
  out->rank = t->rank;
  out->n = (int32_t)cnt;
  const void *base = qc_tensor_data(t);
  for (int32_t k = 0; k < out->n; k++) {
    out->k[k] = QC_INF_INT;
    out->v[k] = qc_elem_i64(t->dtype, base, (size_t)k);
  }
  return true;
}

bool qc_inf_input_ints(const qc_infer_ctx *c, int32_t i, int64_t *out, int32_t cap, int32_t *n) {
  qc_inf_vals v;
  if (!qc_inf_input_vals(c, i, &v) || v.n > cap) return false;
  for (int32_t k = 0; k < v.n; k++) {
    if (v.k[k] != QC_INF_INT) return false;
    out[k] = v.v[k];
  }
  *n = v.n;
  return true;
}

/* ---- types and dims ---------------------------------------------------------------------- */

qc_type qc_inf_ranked(qc_dtype dt, int32_t rank) {
  qc_type t = qc_type_unknown();
  t.dtype = dt;
  if (rank < 0 || rank > QC_MAX_RANK) return t;
  t.rank = rank;
  for (int32_t i = 0; i < rank; i++) t.dims[i] = QC_DIM_UNKNOWN;
  return t;
}

qc_type qc_inf_dtype_only(qc_dtype dt) {
  qc_type t = qc_type_unknown();
  t.dtype = dt;
  return t;
}

qc_dtype qc_inf_dtype(const qc_infer_ctx *c, int32_t i) {
  const qc_type *t = qc_infer_input(c, i);
  return t ? t->dtype : QC_DT_UNDEFINED;
}

int32_t qc_inf_rank(const qc_infer_ctx *c, int32_t i) {
  const qc_type *t = qc_infer_input(c, i);
  return t && t->kind == QC_TYPE_TENSOR ? t->rank : QC_RANK_UNKNOWN;
}

int64_t qc_inf_dim(const qc_infer_ctx *c, int32_t i, int32_t d) {
  const qc_type *t = qc_infer_input(c, i);
  if (!t || t->rank < 0 || d < 0 || d >= t->rank) return QC_DIM_UNKNOWN;
  return t->dims[d];
}

int64_t qc_inf_dim_mul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  if (a == 1) return b;
  if (b == 1) return a;
  if (a > 0 && b > 0) return a > INT64_MAX / b ? QC_DIM_UNKNOWN : a * b;
  return QC_DIM_UNKNOWN;
}

int64_t qc_inf_dim_add(int64_t a, int64_t b) {
  if (a == 0) return b;
  if (b == 0) return a;
  if (a > 0 && b > 0) return a > INT64_MAX - b ? QC_DIM_UNKNOWN : a + b;
  return QC_DIM_UNKNOWN;
}

int64_t qc_inf_dim_merge(int64_t a, int64_t b, bool *conflict) {
  if (a >= 0 && b >= 0) {
    if (a != b && conflict) *conflict = true;
    return a;
  }
  if (a >= 0) return a;
  if (b >= 0) return b;
  if (a == QC_DIM_UNKNOWN) return b;
  return a;
}

qc_type qc_inf_type_join(const qc_type *a, const qc_type *b) {
  qc_type t = qc_type_unknown();
  t.kind = a->kind == b->kind ? a->kind : QC_TYPE_TENSOR;
  t.dtype = a->dtype == b->dtype ? a->dtype : QC_DT_UNDEFINED;
  if (a->rank >= 0 && a->rank == b->rank) {
    t.rank = a->rank;
    for (int32_t i = 0; i < a->rank; i++)
      t.dims[i] = a->dims[i] == b->dims[i] ? a->dims[i] : QC_DIM_UNKNOWN;
  }
  return t;
}

const char *qc_inf_dim_str(const qc_graph *g, int64_t d, char *buf, size_t n) {
  if (d >= 0) snprintf(buf, n, "%lld", (long long)d);
  else {
    const char *s = qc_graph_sym_name(g, d);
    snprintf(buf, n, "%s", s ? s : "?");
  }
  return buf;
}

const char *qc_inf_dims_str(const qc_graph *g, int32_t rank, const int64_t *dims, char *buf,
                            size_t n) {
  if (rank < 0) {
    snprintf(buf, n, "[*]");
    return buf;
  }
  size_t o = 0;
  buf[0] = 0;
  o += (size_t)snprintf(buf, n, "[");
  for (int32_t i = 0; i < rank && o + 1 < n; i++) {
    char d[64];
    o += (size_t)snprintf(buf + o, n - o, "%s%s", i ? "," : "", qc_inf_dim_str(g, dims[i], d, sizeof d));
  }
  if (o + 1 < n) snprintf(buf + o, n - o, "]");
  return buf;
}

int64_t qc_inf_dim_import(qc_infer_ctx *c, const qc_graph *from, int64_t d) {
  if (d >= 0 || d == QC_DIM_UNKNOWN || from == c->g) return d;
  const char *name = qc_graph_sym_name(from, d);
  if (!name) return QC_DIM_UNKNOWN;
  for (int32_t i = 0; i < c->g->n_syms; i++)
    if (strcmp(c->g->syms[i], name) == 0) return -1 - (int64_t)i;
  if (c->strict) return QC_DIM_UNKNOWN;
  /* The driver owns a mutable graph; only the symbol table grows. */
  return qc_graph_sym((qc_graph *)c->g, name);
}

qc_type qc_inf_type_import(qc_infer_ctx *c, const qc_graph *from, const qc_type *t) {
  qc_type r = *t;
  for (int32_t i = 0; i < t->rank; i++) r.dims[i] = qc_inf_dim_import(c, from, t->dims[i]);
  return r;
}

/* ---- checks ------------------------------------------------------------------------------ */

qc_status qc_inf_require_dtypes(const qc_infer_ctx *c, int32_t i, const char *what, int32_t n,
                                const qc_dtype *dts) {
  qc_dtype dt = qc_inf_dtype(c, i);
  if (dt == QC_DT_UNDEFINED) return QC_OK;
  for (int32_t k = 0; k < n; k++)
    if (dts[k] == dt) return QC_OK;
  return qc_infer_error(c, "input %d: expected %s, got %s", i, what, qc_dtype_name(dt));
}

qc_status qc_inf_require_index(const qc_infer_ctx *c, int32_t i) {
  static const qc_dtype idx[] = {QC_I32, QC_I64};
  return qc_inf_require_dtypes(c, i, "an index type (i32 or i64)", 2, idx);
}

qc_status qc_inf_require_bool(const qc_infer_ctx *c, int32_t i) {
  static const qc_dtype b[] = {QC_BOOL};
  return qc_inf_require_dtypes(c, i, "bool", 1, b);
}

qc_status qc_inf_require_min_rank(const qc_infer_ctx *c, int32_t i, int32_t r) {
  int32_t rk = qc_inf_rank(c, i);
  if (rk >= 0 && rk < r) return qc_infer_error(c, "input %d: expected rank >= %d, got %d", i, r, rk);
  return QC_OK;
}

qc_status qc_inf_require_scalarish(const qc_infer_ctx *c, int32_t i) {
  const qc_type *t = qc_infer_input(c, i);
  if (!t || t->rank < 0 || t->kind != QC_TYPE_TENSOR) return QC_OK;
  if (t->rank == 0 || (t->rank == 1 && (t->dims[0] == 1 || t->dims[0] < 0))) return QC_OK;
  char b[128];
  return qc_infer_error(c, "input %d: expected a scalar, got shape %s", i,
                        qc_inf_dims_str(c->g, t->rank, t->dims, b, sizeof b));
}

qc_status qc_inf_require_tensor(const qc_infer_ctx *c, int32_t i) {
  const qc_type *t = qc_infer_input(c, i);
  if (t && t->kind != QC_TYPE_TENSOR && (t->dtype || t->rank >= 0))
    return qc_infer_error(c, "input %d: expected a tensor, got a %s", i,
                          t->kind == QC_TYPE_SEQUENCE ? "sequence" : "optional");
  return QC_OK;
}

qc_status qc_inf_require_dim(const qc_infer_ctx *c, int32_t i, int32_t d, int64_t want,
                             const char *what) {
  int64_t have = qc_inf_dim(c, i, d);
  if (have >= 0 && want >= 0 && have != want)
    return qc_infer_error(c, "%s: %lld vs %lld", what, (long long)have, (long long)want);
  return QC_OK;
}

/* ---- sub-graphs -------------------------------------------------------------------------- */

const qc_graph *qc_inf_subgraph(const qc_infer_ctx *c, const char *name) {
  const qc_attr *a = qc_infer_attr(c, name);
  return a && a->kind == QC_ATTR_GRAPH ? a->u.g : NULL;
}
