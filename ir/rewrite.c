/* The generic rewriter: pattern matching on the SSA graph, the greedy fixpoint driver, and
 * value replacement that keeps the names of graph outputs. See quarc/rewrite.h. */
#include "quarc/rewrite.h"

#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- splats --------------------------------------------------------------------------------- */

bool qc_tensor_is_splat(const qc_tensor *t, double v) {
  const qc_dtype_traits *tr = qc_dtype_traits_of(t->dtype);
  if (tr->kind != QC_KIND_FLOAT && tr->kind != QC_KIND_INT && tr->kind != QC_KIND_BOOL)
    return false;
  int64_t n = qc_tensor_numel(t);
  const void *data = qc_tensor_data(t);
  if (n <= 0 || n == INT64_MAX || !data) return false;
  for (int64_t i = 0; i < n; i++)
    if (qc_elem_f64(t->dtype, data, (size_t)i) != v) return false;
  return true;
}

/* ---- uses without an analysis ------------------------------------------------------------- */

typedef struct name_probe {
  const char *name;
  bool found;
} name_probe;

static void probe_cb(void *user, const char *name) {
  name_probe *p = user;
  if (strcmp(p->name, name) == 0) p->found = true;
}

/* Whether a sub-graph of a live node of g captures `name`. */
static bool is_captured(const qc_graph *g, const char *name) {
  name_probe p = {name, false};
  for (qc_nid n = 0; n < g->n_nodes && !p.found; n++) {
    const qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    for (int32_t k = 0; k < nd->n_attr && !p.found; k++) {
      const qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_GRAPH) qc_graph_for_each_capture(a->u.g, probe_cb, &p);
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < a->n; j++) qc_graph_for_each_capture(a->u.graphs[j], probe_cb, &p);
    }
  }
  return p.found;
}

static bool is_graph_output(const qc_graph *g, qc_vid v) {
  for (int32_t i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == v) return true;
  return false;
}

/* ---- replacing values ------------------------------------------------------------------------ */

/* `to` can take over another value's name. */
static bool can_take_name(const qc_graph *g, qc_vid to) {
  const qc_value *t = &g->values[to];
  if (t->kind != QC_VALUE_NODE && t->kind != QC_VALUE_CONST) return false;
  if (is_graph_output(g, to)) return false;
  return !is_captured(g, t->name);
}

bool qc_value_can_replace(const qc_graph *g, qc_vid from, qc_vid to) {
  if (from < 0 || from >= g->n_values || to < 0 || to >= g->n_values) return false;
  if (from == to) return true;
  if (!is_graph_output(g, from)) return true;
  return can_take_name(g, to);
}

static bool name_taken(const qc_graph *g, const char *name) {
  for (; g; g = g->parent)
    if (qc_graph_find(g, name) >= 0) return true;
  return false;
}

/* Give v a fresh name "<old>.dead<k>" so that its old name can go to another value. */
static qc_status retire_name(qc_graph *g, qc_vid v) {
  const char *old = g->values[v].name;
  size_t n = strlen(old) + 32;
  char *buf = malloc(n);
  if (!buf) return QC_OOM();
  for (int k = 0;; k++) {
    snprintf(buf, n, "%s.dead%d", old, k);
    if (!name_taken(g, buf)) break;
  }
  qc_status s = qc_graph_rename(g, v, buf);
  free(buf);
  return s;
}

/* The error for an output that cannot keep its name. */
static qc_status output_name_error(const qc_graph *g, qc_vid from, qc_vid to, bool to_is_output) {
  const qc_value *t = &g->values[to];
  const char *why = t->kind == QC_VALUE_INPUT   ? "a graph input"
                    : t->kind == QC_VALUE_OUTER ? "a captured value"
                    : to_is_output              ? "a graph output itself"
                                                : "captured by a sub-graph";
  return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                       "cannot replace graph output '%s' by '%s': the output would lose its "
                       "name, and '%s' is %s",
                       g->values[from].name, t->name, t->name, why);
}

/* `to` takes the name of `from`. Rename first, then replace: captures of the old name
 * (sub-graphs refer to outer values by name) then resolve to `to` untouched. */
static qc_status hand_over_name(qc_graph *g, qc_vid from, qc_vid to) {
  const char *name = g->values[from].name; /* arena memory: stays valid */
  QC_RETURN_IF_ERROR(retire_name(g, from));
  return qc_graph_rename(g, to, name);
}

/* A node output of unknown type takes the type of the value it replaces. */
static void inherit_type(qc_graph *g, qc_vid from, qc_vid to) {
  qc_value *tv = &g->values[to];
  const qc_type *ft = &g->values[from].type;
  if (tv->kind != QC_VALUE_NODE) return;
  if (tv->type.dtype == QC_DT_UNDEFINED && ft->dtype != QC_DT_UNDEFINED) {
    tv->type.dtype = ft->dtype;
    tv->type.kind = ft->kind;
  }
  if (tv->type.rank < 0 && ft->rank >= 0) {
    tv->type.rank = ft->rank;
    memcpy(tv->type.dims, ft->dims, sizeof(int64_t) * (size_t)ft->rank);
  }
}

qc_status qc_value_replace(qc_graph *g, qc_vid from, qc_vid to, unsigned flags) {
  if (from < 0 || from >= g->n_values || to < 0 || to >= g->n_values)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "replace value: value out of range (%d, %d)",
                         from, to);
  if (from == to) return QC_OK;
  bool out = is_graph_output(g, from);
  bool take = out || ((flags & QC_REPLACE_TAKE_NAME) && can_take_name(g, to));
  if (out && !can_take_name(g, to)) return output_name_error(g, from, to, is_graph_output(g, to));
  if (take) QC_RETURN_IF_ERROR(hand_over_name(g, from, to));
  QC_RETURN_IF_ERROR(qc_graph_replace_uses(g, from, to));
  inherit_type(g, from, to);
  return QC_OK;
}

/* ---- the rewriter handle: use lists kept up to date by its edits -------------------------- */

typedef struct use_list {
  qc_use *u;
  int32_t n, cap;
} use_list;

struct qc_rewriter {
  qc_graph *g;
  int64_t edits;
  qc_nid *cand; /* nodes to erase at the end of the sweep if unused */
  int32_t n_cand, cap_cand;
  /* uses[v]: every use of value v (node input slots, captures, graph outputs). Edits made
   * through the rewriter keep the lists exact, so a replacement costs the number of uses,
   * not the size of the graph. Nodes appended with the graph API are picked up lazily
   * (synced_nodes); anything else (qc_rewriter_changed, toposort) rebuilds them. */
  use_list *uses;
  int32_t n_lists;
  int32_t synced_nodes;
  bool valid;
  qc_nid first_new; /* nodes from here on were added by this rewriter's users */
};

static void lists_free(qc_rewriter *rw) {
  for (int32_t v = 0; v < rw->n_lists; v++) free(rw->uses[v].u);
  free(rw->uses);
  rw->uses = NULL;
  rw->n_lists = 0;
  rw->valid = false;
}

static qc_status list_push(qc_rewriter *rw, qc_vid v, qc_use u) {
  use_list *l = &rw->uses[v];
  if (l->n == l->cap) {
    int32_t cap = l->cap ? l->cap * 2 : 2;
    qc_use *p = realloc(l->u, sizeof *p * (size_t)cap);
    if (!p) return QC_OOM();
    l->u = p;
    l->cap = cap;
  }
  l->u[l->n++] = u;
  return QC_OK;
}

static void list_remove(qc_rewriter *rw, qc_vid v, qc_use u) {
  use_list *l = &rw->uses[v];
  for (int32_t i = 0; i < l->n; i++)
    if (l->u[i].node == u.node && l->u[i].slot == u.slot) {
      l->u[i] = l->u[--l->n];
      return;
    }
}

typedef struct capture_push {
  qc_rewriter *rw;
  qc_nid node;
  qc_status s;
} capture_push;

static void capture_push_cb(void *user, const char *name) {
  capture_push *c = user;
  qc_vid v = qc_graph_find(c->rw->g, name);
  if (v < 0 || c->s) return;
  use_list *l = &c->rw->uses[v];
  for (int32_t i = 0; i < l->n; i++) /* a name may be captured several times */
    if (l->u[i].node == c->node && l->u[i].slot == QC_USE_CAPTURE) return;
  c->s = list_push(c->rw, v, (qc_use){c->node, QC_USE_CAPTURE});
}

static bool node_has_subgraph(const qc_node *nd) {
  for (int32_t k = 0; k < nd->n_attr; k++)
    if (nd->attr[k].kind == QC_ATTR_GRAPH || nd->attr[k].kind == QC_ATTR_GRAPHS) return true;
  return false;
}

static void for_each_node_capture(const qc_node *nd, void (*fn)(void *, const char *), void *user) {
  for (int32_t k = 0; k < nd->n_attr; k++) {
    const qc_attr *a = &nd->attr[k];
    if (a->kind == QC_ATTR_GRAPH) qc_graph_for_each_capture(a->u.g, fn, user);
    if (a->kind == QC_ATTR_GRAPHS)
      for (int32_t j = 0; j < a->n; j++) qc_graph_for_each_capture(a->u.graphs[j], fn, user);
  }
}

static qc_status register_node(qc_rewriter *rw, qc_nid n) {
  const qc_node *nd = &rw->g->nodes[n];
  if (nd->dead) return QC_OK;
  for (int32_t i = 0; i < nd->n_in; i++)
    if (nd->in[i] >= 0) QC_RETURN_IF_ERROR(list_push(rw, nd->in[i], (qc_use){n, i}));
  if (node_has_subgraph(nd)) {
    capture_push c = {rw, n, QC_OK};
    for_each_node_capture(nd, capture_push_cb, &c);
    return c.s;
  }
  return QC_OK;
}

/* Bring the lists up to date: rebuild if invalid, else cover new values and nodes. */
static qc_status sync(qc_rewriter *rw) {
  qc_graph *g = rw->g;
  if (!rw->valid) {
    lists_free(rw);
    rw->uses = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof *rw->uses);
    if (!rw->uses) return QC_OOM();
    rw->n_lists = g->n_values;
    rw->synced_nodes = 0;
    rw->valid = true;
    for (int32_t k = 0; k < g->n_outputs; k++)
      if (g->outputs[k] >= 0) {
        qc_status s = list_push(rw, g->outputs[k], (qc_use){QC_NONE, k});
        if (s) {
          lists_free(rw);
          return s;
        }
      }
  }
  if (g->n_values > rw->n_lists) {
    use_list *p = realloc(rw->uses, sizeof *p * (size_t)g->n_values);
    if (!p) return QC_OOM();
    memset(p + rw->n_lists, 0, sizeof *p * (size_t)(g->n_values - rw->n_lists));
    rw->uses = p;
    rw->n_lists = g->n_values;
  }
  for (; rw->synced_nodes < g->n_nodes; rw->synced_nodes++) {
    qc_status s = register_node(rw, rw->synced_nodes);
    if (s) {
      lists_free(rw);
      return s;
    }
  }
  return QC_OK;
}

static bool has_use(const qc_rewriter *rw, qc_vid v, bool output, bool capture) {
  const use_list *l = &rw->uses[v];
  for (int32_t i = 0; i < l->n; i++)
    if ((output && l->u[i].node == QC_NONE) || (capture && l->u[i].slot == QC_USE_CAPTURE))
      return true;
  return false;
}

static bool rw_can_take_name(const qc_rewriter *rw, qc_vid to) {
  const qc_value *t = &rw->g->values[to];
  if (t->kind != QC_VALUE_NODE && t->kind != QC_VALUE_CONST) return false;
  return !has_use(rw, to, true, true);
}

qc_graph *qc_rewriter_graph(qc_rewriter *rw) { return rw->g; }

int32_t qc_rewriter_use_count(qc_rewriter *rw, qc_vid v) {
  qc_status s = sync(rw);
  if (s) {
    qc_status_free(s);
    return -1;
  }
  return v >= 0 && v < rw->n_lists ? rw->uses[v].n : -1;
}

static qc_status add_candidate(qc_rewriter *rw, qc_vid v) {
  if (v < 0 || rw->g->values[v].kind != QC_VALUE_NODE) return QC_OK;
  if (!qc_grow(&rw->g->alloc, (void **)&rw->cand, &rw->cap_cand, rw->n_cand + 1, sizeof(qc_nid)))
    return QC_OOM();
  rw->cand[rw->n_cand++] = rw->g->values[v].node;
  return QC_OK;
}

bool qc_rewriter_can_replace(qc_rewriter *rw, qc_vid from, qc_vid to) {
  qc_graph *g = rw->g;
  if (from < 0 || from >= g->n_values || to < 0 || to >= g->n_values) return false;
  if (from == to) return true;
  qc_status s = sync(rw);
  if (s) {
    qc_status_free(s);
    return qc_value_can_replace(g, from, to);
  }
  return !has_use(rw, from, true, false) || rw_can_take_name(rw, to);
}

static qc_status rewriter_replace(qc_rewriter *rw, qc_vid from, qc_vid to, unsigned flags) {
  qc_graph *g = rw->g;
  if (from < 0 || from >= g->n_values || to < 0 || to >= g->n_values)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "replace: value out of range (%d, %d)", from,
                         to);
  QC_RETURN_IF_ERROR(sync(rw));
  /* Replacing a value nothing uses changes nothing; counting it as an application would
   * keep the driver from reaching a fixpoint. */
  if (from == to || rw->uses[from].n == 0) return QC_OK;
  QC_RETURN_IF_ERROR(add_candidate(rw, from));
  rw->edits++;
  if (has_use(rw, from, false, true)) {
    /* Captured by a sub-graph: renaming captures is the graph's business (rare). */
    rw->valid = false;
    return qc_value_replace(g, from, to, flags);
  }
  bool out = has_use(rw, from, true, false);
  if (out && !rw_can_take_name(rw, to))
    return output_name_error(g, from, to, has_use(rw, to, true, false));
  if (out || ((flags & QC_REPLACE_TAKE_NAME) && rw_can_take_name(rw, to)))
    QC_RETURN_IF_ERROR(hand_over_name(g, from, to));
  use_list *l = &rw->uses[from];
  for (int32_t i = 0; i < l->n; i++) {
    qc_use u = l->u[i];
    if (u.node == QC_NONE) qc_graph_set_output(g, u.slot, to);
    else qc_node_set_input(g, u.node, u.slot, to);
    QC_RETURN_IF_ERROR(list_push(rw, to, u));
    l = &rw->uses[from]; /* list_push never moves the array of lists, only one list */
  }
  l->n = 0;
  inherit_type(g, from, to);
  return QC_OK;
}

qc_status qc_rewriter_replace(qc_rewriter *rw, qc_vid from, qc_vid to) {
  return rewriter_replace(rw, from, to, 0);
}

qc_status qc_rewriter_replace_named(qc_rewriter *rw, qc_vid from, qc_vid to) {
  return rewriter_replace(rw, from, to, QC_REPLACE_TAKE_NAME);
}

qc_status qc_rewriter_set_input(qc_rewriter *rw, qc_nid n, int32_t slot, qc_vid v) {
  qc_graph *g = rw->g;
  if (n < 0 || n >= g->n_nodes || slot < 0 || slot >= g->nodes[n].n_in ||
      (v != QC_NONE && (v < 0 || v >= g->n_values)))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "set input: node %d slot %d value %d out of "
                                                   "range", n, slot, v);
  QC_RETURN_IF_ERROR(sync(rw));
  qc_vid old = g->nodes[n].in[slot];
  if (old == v) return QC_OK;
  if (old >= 0) {
    list_remove(rw, old, (qc_use){n, slot});
    QC_RETURN_IF_ERROR(add_candidate(rw, old));
  }
  qc_node_set_input(g, n, slot, v);
  rw->edits++;
  return v >= 0 ? list_push(rw, v, (qc_use){n, slot}) : QC_OK;
}

typedef struct capture_drop {
  qc_rewriter *rw;
  qc_nid node;
  qc_status s;
} capture_drop;

static void capture_drop_cb(void *user, const char *name) {
  capture_drop *c = user;
  qc_vid v = qc_graph_find(c->rw->g, name);
  if (v < 0) return;
  list_remove(c->rw, v, (qc_use){c->node, QC_USE_CAPTURE});
  if (!c->s) c->s = add_candidate(c->rw, v);
}

static qc_status erase_node(qc_rewriter *rw, qc_nid n) {
  qc_graph *g = rw->g;
  const qc_node *nd = &g->nodes[n];
  for (int32_t i = 0; i < nd->n_out; i++)
    if (nd->out[i] >= 0 && rw->uses[nd->out[i]].n)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "erase %s: output %d '%s' is still used",
                           qc_node_desc(g, n), i, g->values[nd->out[i]].name);
  for (int32_t i = 0; i < nd->n_in; i++)
    if (nd->in[i] >= 0) {
      list_remove(rw, nd->in[i], (qc_use){n, i});
      QC_RETURN_IF_ERROR(add_candidate(rw, nd->in[i]));
    }
  if (node_has_subgraph(nd)) {
    capture_drop c = {rw, n, QC_OK};
    for_each_node_capture(nd, capture_drop_cb, &c);
    QC_RETURN_IF_ERROR(c.s);
  }
  qc_graph_erase_node(g, n);
  rw->edits++;
  return QC_OK;
}

qc_status qc_rewriter_erase(qc_rewriter *rw, qc_nid n) {
  if (n < 0 || n >= rw->g->n_nodes)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "erase: no node %d", n);
  QC_RETURN_IF_ERROR(sync(rw));
  return rw->g->nodes[n].dead ? QC_OK : erase_node(rw, n);
}

void qc_rewriter_changed(qc_rewriter *rw) {
  rw->edits++;
  rw->valid = false; /* the edit may have touched inputs behind the lists' back */
}

/* Erase candidates whose outputs nothing uses (and that have no side effects), then the
 * producers of their inputs and captures that became unused, and so on. */
static qc_status sweep_dead(qc_rewriter *rw) {
  qc_graph *g = rw->g;
  QC_RETURN_IF_ERROR(sync(rw));
  while (rw->n_cand) {
    qc_nid c = rw->cand[--rw->n_cand];
    if (c < 0 || c >= g->n_nodes || g->nodes[c].dead) continue;
    const qc_node *nd = &g->nodes[c];
    if (qc_op_schema_of(nd->op)->flags & QC_OPF_SIDE_EFFECT) continue;
    bool used = false;
    for (int32_t i = 0; i < nd->n_out && !used; i++)
      if (nd->out[i] >= 0 && rw->uses[nd->out[i]].n) used = true;
    if (!used) QC_RETURN_IF_ERROR(erase_node(rw, c));
  }
  return QC_OK;
}

qc_status qc_rewriter_begin(qc_graph *g, qc_rewriter **out) {
  *out = calloc(1, sizeof **out);
  if (!*out) return QC_OOM();
  (*out)->g = g;
  (*out)->first_new = g->n_nodes;
  return QC_OK;
}

void qc_rewriter_abort(qc_rewriter *rw) {
  if (!rw) return;
  lists_free(rw);
  qc_free(&rw->g->alloc, rw->cand, sizeof(qc_nid) * (size_t)rw->cap_cand);
  free(rw);
}

/* Erase what the edits orphaned and restore topological order. */
static qc_status tidy(qc_rewriter *rw) {
  qc_graph *g = rw->g;
  /* Nodes added (by callbacks, by a pass) and never used go too. */
  for (qc_nid n = rw->first_new; n < g->n_nodes; n++)
    if (!g->nodes[n].dead) {
      if (!qc_grow(&g->alloc, (void **)&rw->cand, &rw->cap_cand, rw->n_cand + 1, sizeof(qc_nid)))
        return QC_OOM();
      rw->cand[rw->n_cand++] = n;
    }
  QC_RETURN_IF_ERROR(sweep_dead(rw));
  QC_RETURN_IF_ERROR(qc_graph_toposort(g));
  rw->valid = false; /* node ids moved */
  rw->first_new = g->n_nodes;
  return QC_OK;
}

qc_status qc_rewriter_finish(qc_rewriter *rw) {
  qc_status s = tidy(rw);
  qc_graph *g = rw->g;
  qc_rewriter_abort(rw);
  QC_RETURN_IF_ERROR(s);
  return qc_graph_compact(g);
}

/* ---- matching ------------------------------------------------------------------------------ */

typedef struct matcher {
  const qc_graph *g;
  qc_rewriter *rw; /* NULL: uses are computed on demand */
} matcher;

void qc_match_init(qc_match *m) {
  m->node = QC_NONE;
  for (int32_t i = 0; i < QC_MATCH_MAX; i++) m->cap[i] = m->cap_node[i] = QC_NONE;
}

static int32_t use_count_slow(const qc_graph *g, qc_vid v) {
  qc_uses u;
  qc_status s = qc_uses_compute(g, &u);
  if (s) {
    qc_status_free(s); /* out of memory: "unknown", which matches no count */
    return -1;
  }
  int32_t c = qc_uses_count(&u, v);
  qc_uses_free(g, &u);
  return c;
}

static bool match_value(const matcher *mt, const qc_pattern *p, qc_vid v, qc_match *m);

static bool match_inputs(const matcher *mt, const qc_pattern *p, const qc_node *nd, bool swap,
                         qc_match *m) {
  for (int32_t i = 0; i < p->n_in; i++) {
    int32_t slot = swap ? 1 - i : i;
    if (!match_value(mt, p->in[i], nd->in[slot], m)) return false;
  }
  return true;
}

static bool match_value(const matcher *mt, const qc_pattern *p, qc_vid v, qc_match *m) {
  if (!p) return true;
  const qc_graph *g = mt->g;
  if (v < 0 || v >= g->n_values) return false;
  const qc_value *val = &g->values[v];
  switch (p->kind) {
  case QC_PAT_ANY: break;
  case QC_PAT_CONST:
    if (val->kind != QC_VALUE_CONST) return false;
    break;
  case QC_PAT_SPLAT:
    if (val->kind != QC_VALUE_CONST || !qc_tensor_is_splat(&val->cst, p->splat)) return false;
    break;
  case QC_PAT_OP: {
    if (val->kind != QC_VALUE_NODE || val->index != p->out_index) return false;
    const qc_node *nd = &g->nodes[val->node];
    if (nd->dead || nd->op != p->op) return false;
    if (p->n_in >= 0) {
      if (nd->n_in < p->n_in || (nd->n_in > p->n_in && !(p->flags & QC_PAT_MORE_INPUTS)))
        return false;
      qc_match saved = *m;
      if (!match_inputs(mt, p, nd, false, m)) {
        *m = saved;
        const qc_op_schema *s = qc_op_schema_of(nd->op);
        if (p->n_in != 2 || (p->flags & QC_PAT_NO_COMMUTE) || !s ||
            !(s->flags & QC_OPF_COMMUTATIVE) || !match_inputs(mt, p, nd, true, m)) {
          *m = saved;
          return false;
        }
      }
    }
    break;
  }
  default: return false;
  }
  if (p->flags & QC_PAT_ONE_USE) {
    int32_t c = mt->rw ? qc_rewriter_use_count(mt->rw, v) : use_count_slow(g, v);
    if (c != 1) return false;
  }
  if (p->pred && !p->pred(g, v, p->pred_data)) return false;
  if (p->capture >= 0 && p->capture < QC_MATCH_MAX) {
    if (m->cap[p->capture] != QC_NONE && m->cap[p->capture] != v) return false;
    m->cap[p->capture] = v;
    m->cap_node[p->capture] = val->kind == QC_VALUE_NODE ? val->node : QC_NONE;
  }
  return true;
}

static bool match_node(const matcher *mt, const qc_pattern *p, qc_nid n, qc_match *m) {
  const qc_graph *g = mt->g;
  qc_match_init(m);
  if (!p || p->kind != QC_PAT_OP || n < 0 || n >= g->n_nodes) return false;
  const qc_node *nd = &g->nodes[n];
  if (nd->dead || nd->op != p->op || p->out_index < 0 || p->out_index >= nd->n_out) return false;
  qc_vid v = nd->out[p->out_index];
  if (v < 0 || !match_value(mt, p, v, m)) return false;
  m->node = n;
  return true;
}

bool qc_pattern_match_node(const qc_graph *g, const qc_pattern *p, qc_nid n, qc_match *m) {
  matcher mt = {g, NULL};
  return match_node(&mt, p, n, m);
}

bool qc_pattern_match_value(const qc_graph *g, const qc_pattern *p, qc_vid v, qc_match *m) {
  matcher mt = {g, NULL};
  qc_match saved = *m;
  if (match_value(&mt, p, v, m)) return true;
  *m = saved;
  return false;
}

typedef struct driver {
  const qc_rewrite_rule *rules;
  int32_t n_rules;
  int32_t max_iter;
  const qc_rewrite_options *opts;
  qc_rewrite_stats *st;
} driver;

static qc_status rewrite_graph(const driver *d, qc_graph *g, int32_t *iterations);

static qc_status rewrite_subgraphs(const driver *d, qc_graph *g) {
  for (qc_nid n = 0; n < g->n_nodes; n++) {
    qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    for (int32_t k = 0; k < nd->n_attr; k++) {
      qc_attr *a = &nd->attr[k];
      int32_t cnt = a->kind == QC_ATTR_GRAPH ? 1 : a->kind == QC_ATTR_GRAPHS ? a->n : 0;
      for (int32_t j = 0; j < cnt; j++) {
        qc_graph *sub = a->kind == QC_ATTR_GRAPH ? a->u.g : a->u.graphs[j];
        int32_t it;
        qc_status s = rewrite_graph(d, sub, &it);
        if (s) return qc_status_wrap(s, "%s: attribute '%s'", qc_node_desc(g, n), a->name);
      }
    }
  }
  return QC_OK;
}

static qc_status sweep(const driver *d, qc_rewriter *rw, int64_t *applied) {
  qc_graph *g = rw->g;
  QC_RETURN_IF_ERROR(sync(rw));
  int32_t n0 = g->n_nodes;
  rw->first_new = n0;
  /* Nodes nothing used when the sweep began are not rewritten: replacing their outputs
   * would change nothing. */
  uint8_t *live0 = calloc((size_t)(n0 ? n0 : 1), 1);
  if (!live0) return QC_OOM();
  for (qc_nid n = 0; n < n0; n++) {
    const qc_node *nd = &g->nodes[n];
    for (int32_t i = 0; i < nd->n_out; i++)
      if (nd->out[i] >= 0 && rw->uses[nd->out[i]].n) live0[n] = 1;
  }
  qc_status s = QC_OK;
  for (qc_nid n = 0; n < g->n_nodes && !s; n++) {
    if (g->nodes[n].dead || (n < n0 && !live0[n])) continue;
    for (int32_t r = 0; r < d->n_rules; r++) {
      const qc_rewrite_rule *rule = &d->rules[r];
      if (rule->pattern->op != g->nodes[n].op) continue;
      matcher mt = {g, rw};
      qc_match m;
      if (!match_node(&mt, rule->pattern, n, &m)) continue;
      int64_t before = rw->edits;
      s = rule->apply(rw, &m, rule->user);
      if (s) {
        s = qc_status_wrap(s, "rewrite '%s' at %s", rule->name ? rule->name : "?",
                           qc_node_desc(g, n));
        break;
      }
      if (rw->edits != before) {
        (*applied)++;
        break;
      }
    }
  }
  free(live0);
  return s ? s : tidy(rw);
}

static qc_status rewrite_graph(const driver *d, qc_graph *g, int32_t *iterations) {
  if (!d->opts->no_subgraphs) QC_RETURN_IF_ERROR(rewrite_subgraphs(d, g));
  qc_rewriter *rw;
  QC_RETURN_IF_ERROR(qc_rewriter_begin(g, &rw));
  qc_status s = QC_OK;
  int32_t it = 0;
  bool converged = false;
  while (it < d->max_iter) {
    int64_t applied = 0;
    it++;
    s = sweep(d, rw, &applied);
    if (s) break;
    d->st->applied += applied;
    if (applied == 0) {
      converged = true;
      break;
    }
  }
  if (s) {
    qc_rewriter_abort(rw);
    return s;
  }
  if (!converged) d->st->converged = false;
  *iterations = it;
  return qc_rewriter_finish(rw);
}

qc_status qc_rewrite_apply(qc_graph *g, const qc_rewrite_rule *rules, int32_t n_rules,
                           const qc_rewrite_options *opts, qc_rewrite_stats *stats) {
  qc_rewrite_options dflt = {0};
  qc_rewrite_stats st = {0, 0, true};
  if (!opts) opts = &dflt;
  for (int32_t r = 0; r < n_rules; r++)
    if (!rules[r].pattern || rules[r].pattern->kind != QC_PAT_OP || !rules[r].apply)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "rewrite rule '%s': the root pattern must be an op pattern and the "
                           "rule needs a callback",
                           rules[r].name ? rules[r].name : "?");
  driver d = {rules, n_rules, opts->max_iterations > 0 ? opts->max_iterations : 10, opts, &st};
  int32_t it = 0;
  QC_RETURN_IF_ERROR(rewrite_graph(&d, g, &it));
  st.iterations = it;
  if (!opts->no_infer) QC_RETURN_IF_ERROR(qc_graph_infer_types(g));
  if (stats) *stats = st;
  return QC_OK;
}
