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

/* Whether anything uses v: a live node's input, a graph output, a capture. */
static bool value_used(const qc_graph *g, qc_vid v) {
  if (is_graph_output(g, v)) return true;
  for (qc_nid n = 0; n < g->n_nodes; n++) {
    const qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    for (int32_t i = 0; i < nd->n_in; i++)
      if (nd->in[i] == v) return true;
  }
  return is_captured(g, g->values[v].name);
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

qc_status qc_value_replace(qc_graph *g, qc_vid from, qc_vid to, unsigned flags) {
  if (from < 0 || from >= g->n_values || to < 0 || to >= g->n_values)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "replace value: value out of range (%d, %d)",
                         from, to);
  if (from == to) return QC_OK;
  bool out = is_graph_output(g, from);
  bool take = out || ((flags & QC_REPLACE_TAKE_NAME) && can_take_name(g, to));
  if (out && !can_take_name(g, to)) {
    const qc_value *t = &g->values[to];
    const char *why = t->kind == QC_VALUE_INPUT    ? "a graph input"
                      : t->kind == QC_VALUE_OUTER  ? "a captured value"
                      : is_graph_output(g, to)     ? "a graph output itself"
                                                   : "captured by a sub-graph";
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "cannot replace graph output '%s' by '%s': the output would lose its "
                         "name, and '%s' is %s",
                         g->values[from].name, t->name, t->name, why);
  }
  if (take) {
    /* Rename first, then replace: captures of the old name (sub-graphs refer to outer values
     * by name) then resolve to `to` without being touched. */
    const char *name = g->values[from].name; /* arena memory: stays valid */
    QC_RETURN_IF_ERROR(retire_name(g, from));
    QC_RETURN_IF_ERROR(qc_graph_rename(g, to, name));
  }
  QC_RETURN_IF_ERROR(qc_graph_replace_uses(g, from, to));
  qc_value *tv = &g->values[to];
  const qc_type *ft = &g->values[from].type;
  if (tv->kind == QC_VALUE_NODE) {
    if (tv->type.dtype == QC_DT_UNDEFINED && ft->dtype != QC_DT_UNDEFINED) {
      tv->type.dtype = ft->dtype;
      tv->type.kind = ft->kind;
    }
    if (tv->type.rank < 0 && ft->rank >= 0) {
      tv->type.rank = ft->rank;
      memcpy(tv->type.dims, ft->dims, sizeof(int64_t) * (size_t)ft->rank);
    }
  }
  return QC_OK;
}

/* ---- matching ------------------------------------------------------------------------------ */

struct qc_rewriter {
  qc_graph *g;
  int64_t edits;
  qc_nid *cand; /* nodes to erase at the end of the sweep if unused */
  int32_t n_cand, cap_cand;
  /* Lazily computed uses, valid while edits/values/nodes are unchanged. */
  qc_uses uses;
  bool uses_valid;
  int64_t uses_edits;
  int32_t uses_nv, uses_nn;
};

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
  if (qc_uses_compute(g, &u)) return -1; /* the status is OOM; treat as "unknown" */
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

/* ---- the rewriter handle --------------------------------------------------------------------- */

qc_graph *qc_rewriter_graph(qc_rewriter *rw) { return rw->g; }

static void uses_drop(qc_rewriter *rw) {
  if (rw->uses_valid) qc_uses_free(rw->g, &rw->uses);
  rw->uses_valid = false;
}

int32_t qc_rewriter_use_count(qc_rewriter *rw, qc_vid v) {
  qc_graph *g = rw->g;
  if (rw->uses_valid &&
      (rw->uses_edits != rw->edits || rw->uses_nv != g->n_values || rw->uses_nn != g->n_nodes))
    uses_drop(rw);
  if (!rw->uses_valid) {
    qc_status s = qc_uses_compute(g, &rw->uses);
    if (s) {
      qc_status_free(s);
      return -1;
    }
    rw->uses_valid = true;
    rw->uses_edits = rw->edits;
    rw->uses_nv = g->n_values;
    rw->uses_nn = g->n_nodes;
  }
  if (v < 0 || v >= rw->uses.n_values) return -1;
  return qc_uses_count(&rw->uses, v);
}

static qc_status add_candidate(qc_rewriter *rw, qc_nid n) {
  if (n < 0) return QC_OK;
  if (!qc_grow(&rw->g->alloc, (void **)&rw->cand, &rw->cap_cand, rw->n_cand + 1, sizeof(qc_nid)))
    return QC_OOM();
  rw->cand[rw->n_cand++] = n;
  return QC_OK;
}

bool qc_rewriter_can_replace(qc_rewriter *rw, qc_vid from, qc_vid to) {
  return qc_value_can_replace(rw->g, from, to);
}

static qc_status rewriter_replace(qc_rewriter *rw, qc_vid from, qc_vid to, unsigned flags) {
  qc_graph *g = rw->g;
  if (from < 0 || from >= g->n_values)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "replace: value %d out of range", from);
  /* Replacing a value nothing uses changes nothing; counting it as an application would
   * keep the driver from reaching a fixpoint. */
  if (from == to || !value_used(g, from)) return QC_OK;
  QC_RETURN_IF_ERROR(qc_value_replace(g, from, to, flags));
  rw->edits++;
  if (g->values[from].kind == QC_VALUE_NODE) QC_RETURN_IF_ERROR(add_candidate(rw, g->values[from].node));
  return QC_OK;
}

qc_status qc_rewriter_replace(qc_rewriter *rw, qc_vid from, qc_vid to) {
  return rewriter_replace(rw, from, to, 0);
}

qc_status qc_rewriter_replace_named(qc_rewriter *rw, qc_vid from, qc_vid to) {
  return rewriter_replace(rw, from, to, QC_REPLACE_TAKE_NAME);
}

void qc_rewriter_erase(qc_rewriter *rw, qc_nid n) {
  qc_graph *g = rw->g;
  if (n < 0 || n >= g->n_nodes || g->nodes[n].dead) return;
  const qc_node *nd = &g->nodes[n];
  for (int32_t i = 0; i < nd->n_in; i++)
    if (nd->in[i] >= 0 && g->values[nd->in[i]].kind == QC_VALUE_NODE) {
      qc_status s = add_candidate(rw, g->values[nd->in[i]].node);
      qc_status_free(s); /* a missed candidate only leaves a dead node for DCE */
    }
  qc_graph_erase_node(g, n);
  rw->edits++;
}

void qc_rewriter_changed(qc_rewriter *rw) { rw->edits++; }

void qc_rewriter_set_input(qc_rewriter *rw, qc_nid n, int32_t slot, qc_vid v) {
  qc_graph *g = rw->g;
  if (n < 0 || n >= g->n_nodes || slot < 0 || slot >= g->nodes[n].n_in) return;
  qc_vid old = g->nodes[n].in[slot];
  if (old == v) return;
  if (old >= 0 && g->values[old].kind == QC_VALUE_NODE) {
    qc_status s = add_candidate(rw, g->values[old].node);
    qc_status_free(s); /* a missed candidate only leaves a dead node for DCE */
  }
  qc_node_set_input(g, n, slot, v);
  rw->edits++;
}

/* ---- the driver ------------------------------------------------------------------------------ */

/* Erase candidates whose outputs nothing uses (and that have no side effects), then the
 * producers of their inputs that became unused, and so on. */
static qc_status sweep_dead(qc_rewriter *rw) {
  qc_graph *g = rw->g;
  while (rw->n_cand) {
    uses_drop(rw);
    qc_uses u;
    QC_RETURN_IF_ERROR(qc_uses_compute(g, &u));
    int32_t n = rw->n_cand;
    qc_nid *list = malloc(sizeof(qc_nid) * (size_t)n);
    if (!list) {
      qc_uses_free(g, &u);
      return QC_OOM();
    }
    memcpy(list, rw->cand, sizeof(qc_nid) * (size_t)n);
    rw->n_cand = 0;
    qc_status s = QC_OK;
    for (int32_t k = 0; k < n && !s; k++) {
      qc_nid c = list[k];
      if (c < 0 || c >= g->n_nodes || g->nodes[c].dead) continue;
      const qc_node *nd = &g->nodes[c];
      const qc_op_schema *sch = qc_op_schema_of(nd->op);
      if (sch && (sch->flags & QC_OPF_SIDE_EFFECT)) continue;
      bool used = false;
      for (int32_t i = 0; i < nd->n_out && !used; i++)
        if (nd->out[i] >= 0 && nd->out[i] < u.n_values && qc_uses_count(&u, nd->out[i]))
          used = true;
      if (used) continue;
      for (int32_t i = 0; i < nd->n_in && !s; i++)
        if (nd->in[i] >= 0 && g->values[nd->in[i]].kind == QC_VALUE_NODE)
          s = add_candidate(rw, g->values[nd->in[i]].node);
      /* Producers of values its sub-graphs capture may become unused too; a later DCE
       * catches those, the rewriter stays local. */
      qc_graph_erase_node(g, c);
    }
    free(list);
    qc_uses_free(g, &u);
    QC_RETURN_IF_ERROR(s);
  }
  return QC_OK;
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
  int32_t n0 = g->n_nodes;
  /* Nodes nothing used when the sweep began are not rewritten: replacing their outputs
   * would change nothing. */
  qc_uses u0;
  QC_RETURN_IF_ERROR(qc_uses_compute(g, &u0));
  qc_status s = QC_OK;
  for (qc_nid n = 0; n < g->n_nodes && !s; n++) {
    if (g->nodes[n].dead) continue;
    if (n < n0) {
      const qc_node *nd = &g->nodes[n];
      bool used = false;
      for (int32_t i = 0; i < nd->n_out && !used; i++)
        if (nd->out[i] >= 0 && qc_uses_count(&u0, nd->out[i])) used = true;
      if (!used) continue;
    }
    for (int32_t r = 0; r < d->n_rules; r++) {
      const qc_rewrite_rule *rule = &d->rules[r];
      if (!rule->pattern || rule->pattern->kind != QC_PAT_OP || rule->pattern->op != g->nodes[n].op)
        continue;
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
  qc_uses_free(g, &u0);
  /* Nodes the callbacks added but did not end up using go too. */
  for (qc_nid n = n0; n < g->n_nodes && !s; n++) s = add_candidate(rw, n);
  if (!s) s = sweep_dead(rw);
  if (!s) s = qc_graph_toposort(g);
  return s;
}

static qc_status rewrite_graph(const driver *d, qc_graph *g, int32_t *iterations) {
  if (!d->opts->no_subgraphs) QC_RETURN_IF_ERROR(rewrite_subgraphs(d, g));
  qc_rewriter rw;
  memset(&rw, 0, sizeof rw);
  rw.g = g;
  qc_status s = QC_OK;
  int32_t it = 0;
  bool converged = false;
  while (it < d->max_iter) {
    int64_t applied = 0;
    it++;
    s = sweep(d, &rw, &applied);
    if (s) break;
    d->st->applied += applied;
    if (applied == 0) {
      converged = true;
      break;
    }
  }
  uses_drop(&rw);
  qc_free(&g->alloc, rw.cand, sizeof(qc_nid) * (size_t)rw.cap_cand);
  QC_RETURN_IF_ERROR(s);
  if (!converged) d->st->converged = false;
  *iterations = it;
  return qc_graph_compact(g);
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
