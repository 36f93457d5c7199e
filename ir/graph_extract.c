/* qc_graph_extract: cut a set of nodes out of a graph as a standalone graph. */
#include "internal.h"

#include <stdlib.h>

typedef struct cap_ctx {
  const qc_graph *g;
  qc_graph *x;
  qc_vid *map;
  qc_status s;
} cap_ctx;

static void cap_one(void *user, const char *name) {
  cap_ctx *c = user;
  if (c->s) return;
  qc_vid v = qc_graph_find(c->g, name);
  if (v < 0 || c->map[v] != QC_NONE) return;
  const qc_value *val = &c->g->values[v];
  if (val->kind == QC_VALUE_CONST) c->s = qc_graph_add_const(c->x, val->name, &val->cst, &c->map[v]);
  else if (val->kind == QC_VALUE_OUTER) c->s = qc_graph_add_outer(c->x, val->name, &val->type, &c->map[v]);
  else c->s = qc_graph_add_input(c->x, val->name, &val->type, &c->map[v]);
}

static qc_status capture_inputs(const qc_graph *g, qc_graph *x, const uint8_t *in_sel, qc_vid *map) {
  cap_ctx c = {g, x, map, QC_OK};
  for (qc_nid nd = 0; nd < g->n_nodes && !c.s; nd++) {
    if (!in_sel[nd]) continue;
    const qc_node *node = &g->nodes[nd];
    for (int32_t k = 0; k < node->n_attr; k++) {
      const qc_attr *at = &node->attr[k];
      if (at->kind == QC_ATTR_GRAPH) qc_graph_for_each_capture(at->u.g, cap_one, &c);
      if (at->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < at->n; j++) qc_graph_for_each_capture(at->u.graphs[j], cap_one, &c);
    }
  }
  return c.s;
}

qc_status qc_graph_extract(const qc_graph *g, const qc_nid *sel, int32_t n, qc_graph **out) {
  *out = NULL;
  const qc_allocator *a = &g->alloc;
  uint8_t *in_sel = qc_calloc(a, (size_t)(g->n_nodes ? g->n_nodes : 1), 1);
  qc_vid *map = qc_alloc(a, sizeof(qc_vid) * (size_t)(g->n_values ? g->n_values : 1));
  if (!in_sel || !map) {
    qc_free(a, in_sel, (size_t)(g->n_nodes ? g->n_nodes : 1));
    qc_free(a, map, sizeof(qc_vid) * (size_t)(g->n_values ? g->n_values : 1));
    return QC_OOM();
  }
  for (int32_t i = 0; i < n; i++)
    if (sel[i] >= 0 && sel[i] < g->n_nodes) in_sel[sel[i]] = 1;
  for (qc_vid v = 0; v < g->n_values; v++) map[v] = QC_NONE;
  qc_graph *x = NULL;
  qc_uses u = {0};
  qc_status s = qc_graph_create(&g->alloc, &x);
  if (!s) s = qc_graph_set_name(x, g->name);
  for (int32_t i = 0; !s && i < g->n_opsets; i++)
    s = qc_graph_set_opset(x, g->opsets[i].domain, g->opsets[i].version);
  for (int32_t i = 0; !s && i < g->n_syms; i++)
    if (qc_graph_sym(x, g->syms[i]) == QC_DIM_UNKNOWN) s = QC_OOM();
  /* Bring a value of g into x: constants are copied, values from selected nodes must have
   * been mapped already, anything else becomes an input. */
  for (qc_nid nd = 0; !s && nd < g->n_nodes; nd++) {
    if (!in_sel[nd]) continue;
    const qc_node *node = &g->nodes[nd];
    qc_vid ins[64], *insp = node->n_in <= 64 ? ins : malloc(sizeof(qc_vid) * (size_t)node->n_in);
    if (!insp) {
      s = QC_OOM();
      break;
    }
    for (int32_t i = 0; !s && i < node->n_in; i++) {
      qc_vid v = node->in[i];
      if (v < 0) {
        insp[i] = QC_NONE;
        continue;
      }
      if (map[v] == QC_NONE) {
        const qc_value *val = &g->values[v];
        if (val->kind == QC_VALUE_CONST) s = qc_graph_add_const(x, val->name, &val->cst, &map[v]);
        else if (val->kind == QC_VALUE_NODE && in_sel[val->node])
          s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "extract: %s reads '%s' before it is defined",
                            qc_node_desc(g, nd), val->name);
        else s = qc_graph_add_input(x, val->name, &val->type, &map[v]);
      }
      insp[i] = map[v];
    }
    const char **names = malloc(sizeof(char *) * (size_t)(node->n_out ? node->n_out : 1));
    if (!names && !s) s = QC_OOM();
    for (int32_t i = 0; !s && i < node->n_out; i++)
      names[i] = node->out[i] >= 0 ? g->values[node->out[i]].name : "";
    qc_nid nn = QC_NONE;
    if (!s) s = qc_graph_add_node(x, node->op, node->name, node->n_in, insp, node->n_out, names, &nn);
    free(names);
    if (insp != ins) free(insp);
    for (int32_t k = 0; !s && k < node->n_attr; k++) {
      /* Shallow copy with cloned sub-graphs: qc_node_set_attr copies the payload and takes
       * the graphs over. */
      qc_attr at = node->attr[k];
      qc_graph **arr = NULL;
      if (at.kind == QC_ATTR_GRAPH) s = qc_graph_clone(node->attr[k].u.g, &at.u.g);
      if (at.kind == QC_ATTR_GRAPHS) {
        arr = calloc((size_t)(at.n ? at.n : 1), sizeof *arr);
        if (!arr) s = QC_OOM();
        for (int32_t j = 0; !s && j < at.n; j++) s = qc_graph_clone(node->attr[k].u.graphs[j], &arr[j]);
        at.u.graphs = arr;
        if (s && arr)
          for (int32_t j = 0; j < at.n; j++) qc_graph_destroy(arr[j]);
      }
      if (!s) s = qc_node_set_attr(x, nn, &at);
      else if (at.kind == QC_ATTR_GRAPH && at.u.g != node->attr[k].u.g) qc_graph_destroy(at.u.g);
      free(arr);
    }
    for (int32_t i = 0; !s && i < node->n_out; i++)
      if (node->out[i] >= 0) {
        map[node->out[i]] = x->nodes[nn].out[i];
        s = qc_graph_set_type(x, map[node->out[i]], &g->values[node->out[i]].type);
      }
  }
  /* Values that sub-graphs of selected nodes capture by name must exist in x too. */
  if (!s) s = capture_inputs(g, x, in_sel, map);
  /* Outputs: produced in the selection, used outside it. */
  if (!s) s = qc_uses_compute(g, &u);
  for (qc_vid v = 0; !s && v < g->n_values; v++) {
    const qc_value *val = &g->values[v];
    if (val->kind != QC_VALUE_NODE || !in_sel[val->node] || map[v] == QC_NONE) continue;
    bool outside = false;
    for (int32_t k = u.start[v]; k < u.start[v + 1] && !outside; k++)
      outside = u.use[k].node == QC_NONE || !in_sel[u.use[k].node];
    if (outside) s = qc_graph_add_output(x, map[v]);
  }
  if (u.start) qc_uses_free(g, &u);
  qc_free(a, in_sel, (size_t)(g->n_nodes ? g->n_nodes : 1));
  qc_free(a, map, sizeof(qc_vid) * (size_t)(g->n_values ? g->n_values : 1));
  if (s) {
    qc_graph_destroy(x);
    return s;
  }
  *out = x;
  return QC_OK;
}
