/* cse: common-subexpression elimination. Identical constants (dtype, shape, bytes) are
 * merged first; then nodes with the same op, inputs (in either order for commutative binary
 * ops) and attributes (deep: tensor contents, sub-graph structure) are merged, in
 * topological order so that merges cascade. Nondeterministic (QC_OPF_RANDOM) and
 * side-effecting ops are never merged. The later duplicate's uses move to the earlier one;
 * a duplicate whose output is a graph output that cannot be renamed stays. */
#include "passes/internal.h"
#include "quarc/rewrite.h"

#include <stdlib.h>

/* ---- deep equality of attributes and sub-graphs ------------------------------------------- */

static bool graph_equal(const qc_graph *a, const qc_graph *b);

static bool attr_equal(const qc_attr *x, const qc_attr *y) {
  if (x->kind != y->kind || x->n != y->n || strcmp(x->name, y->name) != 0) return false;
  switch (x->kind) {
  case QC_ATTR_INT: return x->u.i == y->u.i;
  case QC_ATTR_FLOAT: return memcmp(&x->u.f, &y->u.f, sizeof(double)) == 0;
  case QC_ATTR_STRING: return memcmp(x->u.s, y->u.s, (size_t)x->n) == 0;
  case QC_ATTR_INTS: return !x->n || memcmp(x->u.ints, y->u.ints, sizeof(int64_t) * (size_t)x->n) == 0;
  case QC_ATTR_FLOATS:
    return !x->n || memcmp(x->u.floats, y->u.floats, sizeof(double) * (size_t)x->n) == 0;
  case QC_ATTR_STRINGS:
    for (int32_t i = 0; i < x->n; i++)
      if (x->u.strs.len[i] != y->u.strs.len[i] ||
          memcmp(x->u.strs.v[i], y->u.strs.v[i], (size_t)x->u.strs.len[i]) != 0)
        return false;
    return true;
  case QC_ATTR_TENSOR: return qc_tensor_equal(x->u.t, y->u.t);
  case QC_ATTR_TENSORS:
    for (int32_t i = 0; i < x->n; i++)
      if (!qc_tensor_equal(&x->u.tensors[i], &y->u.tensors[i])) return false;
    return true;
  case QC_ATTR_GRAPH: return graph_equal(x->u.g, y->u.g);
  case QC_ATTR_GRAPHS:
    for (int32_t i = 0; i < x->n; i++)
      if (!graph_equal(x->u.graphs[i], y->u.graphs[i])) return false;
    return true;
  case QC_ATTR_TYPE: return qc_type_equal(x->u.type, y->u.type);
  default: return false; /* unknown payloads are never assumed equal */
  }
}

/* Attributes as sets: the same names with equal payloads, in any order. */
static bool attrs_equal(const qc_node *a, const qc_node *b) {
  if (a->n_attr != b->n_attr) return false;
  for (int32_t i = 0; i < a->n_attr; i++) {
    const qc_attr *y = NULL;
    for (int32_t j = 0; j < b->n_attr && !y; j++)
      if (strcmp(a->attr[i].name, b->attr[j].name) == 0) y = &b->attr[j];
    if (!y || !attr_equal(&a->attr[i], y)) return false;
  }
  return true;
}

/* Structural equality of two sub-graphs: the same values (kind, type, constant data) and
 * nodes position by position. Names of local values are ignored (sibling bodies often
 * differ only in them), except where a nested sub-graph could capture them by name: then
 * every name must match. Captured outer names always must. */
static bool graph_equal(const qc_graph *a, const qc_graph *b) {
  int32_t nv = qc_graph_num_values(a), nn = qc_graph_num_nodes(a);
  if (nv != qc_graph_num_values(b) || nn != qc_graph_num_nodes(b) ||
      qc_graph_num_inputs(a) != qc_graph_num_inputs(b) ||
      qc_graph_num_outputs(a) != qc_graph_num_outputs(b))
    return false;
  bool nested = false;
  for (qc_nid n = 0; n < nn; n++)
    if (!qc_graph_node(a, n)->dead && qc_node_has_subgraph(qc_graph_node(a, n))) nested = true;
  for (qc_vid v = 0; v < nv; v++) {
    const qc_value *x = qc_graph_value(a, v), *y = qc_graph_value(b, v);
    if (x->kind != y->kind || x->index != y->index || x->node != y->node ||
        !qc_type_equal(&x->type, &y->type))
      return false;
    if ((nested || x->kind == QC_VALUE_OUTER) && strcmp(x->name, y->name) != 0) return false;
    if (x->kind == QC_VALUE_CONST && !qc_tensor_equal(&x->cst, &y->cst)) return false;
  }
  for (int32_t i = 0; i < qc_graph_num_inputs(a); i++)
    if (qc_graph_input(a, i) != qc_graph_input(b, i)) return false;
  for (int32_t i = 0; i < qc_graph_num_outputs(a); i++)
    if (qc_graph_output(a, i) != qc_graph_output(b, i)) return false;
  for (qc_nid n = 0; n < nn; n++) {
    const qc_node *x = qc_graph_node(a, n), *y = qc_graph_node(b, n);
    if (x->dead != y->dead || x->op != y->op || x->n_in != y->n_in || x->n_out != y->n_out)
      return false;
    if (x->n_in && memcmp(x->in, y->in, sizeof(qc_vid) * (size_t)x->n_in) != 0) return false;
    if (x->n_out && memcmp(x->out, y->out, sizeof(qc_vid) * (size_t)x->n_out) != 0) return false;
    if (!attrs_equal(x, y)) return false;
  }
  return true;
}

/* ---- hashing ------------------------------------------------------------------------------- */

static uint64_t mix(uint64_t h, uint64_t v) { return qc_hash_bytes(&v, sizeof v, h); }

static bool commutative_pair(const qc_node *nd) {
  return nd->n_in == 2 && (qc_op_schema_of(nd->op)->flags & QC_OPF_COMMUTATIVE);
}

static void node_key_inputs(const qc_node *nd, qc_vid *a, qc_vid *b) {
  *a = nd->in[0];
  *b = nd->in[1];
  if (*a > *b) {
    qc_vid t = *a;
    *a = *b;
    *b = t;
  }
}

static uint64_t attr_hash(const qc_attr *a) {
  uint64_t h = qc_hash_bytes(a->name, strlen(a->name), a->kind);
  switch (a->kind) {
  case QC_ATTR_INT: return mix(h, (uint64_t)a->u.i);
  case QC_ATTR_FLOAT: return qc_hash_bytes(&a->u.f, sizeof(double), h);
  case QC_ATTR_STRING: return qc_hash_bytes(a->u.s, (size_t)a->n, h);
  case QC_ATTR_INTS: return qc_hash_bytes(a->u.ints, sizeof(int64_t) * (size_t)a->n, h);
  case QC_ATTR_FLOATS: return qc_hash_bytes(a->u.floats, sizeof(double) * (size_t)a->n, h);
  default: return mix(h, (uint64_t)a->n); /* the equality test does the rest */
  }
}

static uint64_t node_hash(const qc_node *nd) {
  uint64_t h = mix(0x51ed27, nd->op);
  h = mix(h, (uint64_t)nd->n_in);
  h = mix(h, (uint64_t)nd->n_out);
  if (commutative_pair(nd)) {
    qc_vid a, b;
    node_key_inputs(nd, &a, &b);
    h = mix(mix(h, (uint64_t)(uint32_t)a), (uint64_t)(uint32_t)b);
  } else {
    for (int32_t i = 0; i < nd->n_in; i++) h = mix(h, (uint64_t)(uint32_t)nd->in[i]);
  }
  /* Attribute order does not matter: combine their hashes commutatively. */
  uint64_t ah = 0;
  for (int32_t k = 0; k < nd->n_attr; k++) ah += attr_hash(&nd->attr[k]);
  return mix(h, ah);
}

static bool nodes_equal(const qc_node *a, const qc_node *b) {
  if (a->op != b->op || a->n_in != b->n_in || a->n_out != b->n_out) return false;
  bool same = a->n_in == 0 || memcmp(a->in, b->in, sizeof(qc_vid) * (size_t)a->n_in) == 0;
  if (!same && commutative_pair(a)) {
    qc_vid a0, a1, b0, b1;
    node_key_inputs(a, &a0, &a1);
    node_key_inputs(b, &b0, &b1);
    same = a0 == b0 && a1 == b1;
  }
  if (!same) return false;
  for (int32_t i = 0; i < a->n_out; i++)
    if ((a->out[i] < 0) != (b->out[i] < 0)) return false;
  return attrs_equal(a, b);
}

static uint64_t const_hash(const qc_tensor *t) {
  uint64_t h = mix(0xc0457, (uint64_t)t->dtype);
  h = qc_hash_bytes(t->dims, sizeof(int64_t) * (size_t)t->rank, mix(h, (uint64_t)t->rank));
  size_t n = qc_tensor_nbytes(t);
  const void *p = qc_tensor_data(t);
  if (t->dtype == QC_STRING || n == SIZE_MAX || !p) return h;
  return qc_hash_bytes(p, n, h);
}

/* ---- an open-addressing table of (hash, id) with duplicates ------------------------------ */

typedef struct table {
  uint64_t *h;
  int32_t *id; /* -1 empty */
  size_t cap;
} table;

static qc_status table_init(table *t, size_t n) {
  t->cap = 16;
  while (t->cap < n * 2) t->cap *= 2;
  t->h = malloc(sizeof *t->h * t->cap);
  t->id = malloc(sizeof *t->id * t->cap);
  if (!t->h || !t->id) {
    free(t->h);
    free(t->id);
    return QC_OOM();
  }
  for (size_t i = 0; i < t->cap; i++) t->id[i] = -1;
  return QC_OK;
}

static void table_free(table *t) {
  free(t->h);
  free(t->id);
}

static void table_put(table *t, uint64_t h, int32_t id) {
  size_t i = (size_t)h & (t->cap - 1);
  while (t->id[i] >= 0) i = (i + 1) & (t->cap - 1);
  t->h[i] = h;
  t->id[i] = id;
}

/* ---- the pass ----------------------------------------------------------------------------- */

static bool node_mergeable(const qc_node *nd) {
  if (nd->dead) return false;
  uint32_t f = qc_op_schema_of(nd->op)->flags;
  return !(f & (QC_OPF_RANDOM | QC_OPF_SIDE_EFFECT));
}

/* Replacements go through a rewriter: each costs the uses of the value, and later nodes
 * see their inputs already merged when they are hashed. */
static qc_status merge_consts(qc_rewriter *rw) {
  qc_graph *g = qc_rewriter_graph(rw);
  int32_t nv = qc_graph_num_values(g);
  table t;
  QC_RETURN_IF_ERROR(table_init(&t, (size_t)nv));
  qc_status s = QC_OK;
  for (qc_vid v = 0; v < nv && !s; v++) {
    const qc_value *val = qc_graph_value(g, v);
    if (val->kind != QC_VALUE_CONST) continue;
    uint64_t h = const_hash(&val->cst);
    qc_vid same = QC_NONE;
    for (size_t i = (size_t)h & (t.cap - 1); t.id[i] >= 0 && same < 0; i = (i + 1) & (t.cap - 1))
      if (t.h[i] == h && qc_tensor_equal(&qc_graph_value(g, t.id[i])->cst, &val->cst) &&
          qc_rewriter_can_replace(rw, v, t.id[i]))
        same = t.id[i];
    if (same >= 0) s = qc_rewriter_replace(rw, v, same);
    else table_put(&t, h, v);
  }
  table_free(&t);
  return s;
}

static qc_status merge_nodes(qc_rewriter *rw) {
  qc_graph *g = qc_rewriter_graph(rw);
  int32_t nn = qc_graph_num_nodes(g);
  table t;
  QC_RETURN_IF_ERROR(table_init(&t, (size_t)nn));
  qc_status s = QC_OK;
  for (qc_nid n = 0; n < nn && !s; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (!node_mergeable(nd)) continue;
    uint64_t h = node_hash(nd);
    qc_nid same = QC_NONE;
    for (size_t i = (size_t)h & (t.cap - 1); t.id[i] >= 0 && same < 0; i = (i + 1) & (t.cap - 1)) {
      if (t.h[i] != h || !nodes_equal(qc_graph_node(g, t.id[i]), nd)) continue;
      const qc_node *first = qc_graph_node(g, t.id[i]);
      bool ok = true;
      for (int32_t k = 0; k < nd->n_out && ok; k++)
        if (nd->out[k] >= 0 && !qc_rewriter_can_replace(rw, nd->out[k], first->out[k])) ok = false;
      if (ok) same = t.id[i];
    }
    if (same < 0) {
      table_put(&t, h, n);
      continue;
    }
    for (int32_t k = 0; k < nd->n_out && !s; k++) {
      /* Re-read: replacing renames values but never moves nodes. */
      qc_vid from = qc_graph_node(g, n)->out[k], to = qc_graph_node(g, same)->out[k];
      if (from >= 0) s = qc_rewriter_replace(rw, from, to);
    }
    if (!s) s = qc_rewriter_erase(rw, n);
  }
  table_free(&t);
  return s;
}

static qc_status cse_graph(qc_graph *g, void *user) {
  (void)user;
  QC_RETURN_IF_ERROR(qc_for_each_subgraph(g, cse_graph, NULL));
  qc_rewriter *rw;
  QC_RETURN_IF_ERROR(qc_rewriter_begin(g, &rw));
  qc_status s = merge_consts(rw);
  if (!s) s = merge_nodes(rw);
  if (s) {
    qc_rewriter_abort(rw);
    return s;
  }
  return qc_rewriter_finish(rw);
}

static qc_status run_cse(qc_graph *g, const qc_pass_args *args, void *user) {
  (void)args;
  return cse_graph(g, user);
}

const qc_pass_info qc_pass_cse = {
    "cse", "merge identical constants and nodes (same op, inputs and attributes)", NULL, 0,
    run_cse, NULL};
