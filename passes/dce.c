/* dce: dead-code elimination. A node is live if it has side effects (QC_OPF_SIDE_EFFECT) or
 * if a graph output, a live node, or a sub-graph of a live node uses one of its outputs.
 * Sub-graphs are cleaned first (their outputs and inputs are their interface and stay), so
 * that captures of removed sub-graph nodes no longer keep outer values alive. Unused
 * constants go with qc_graph_compact. */
#include "passes/internal.h"

#include <stdlib.h>

typedef struct live_ctx {
  const qc_graph *g;
  uint8_t *live;
} live_ctx;

static void mark_capture(void *user, const char *name) {
  live_ctx *c = user;
  qc_vid v = qc_graph_find(c->g, name);
  if (v >= 0) c->live[v] = 1;
}

static qc_status dce_graph(qc_graph *g, void *user);

static qc_status dce_graph(qc_graph *g, void *user) {
  (void)user;
  QC_RETURN_IF_ERROR(qc_for_each_subgraph(g, dce_graph, NULL));
  int32_t nv = qc_graph_num_values(g);
  uint8_t *live = calloc((size_t)(nv ? nv : 1), 1);
  if (!live) return QC_OOM();
  for (int32_t i = 0; i < qc_graph_num_outputs(g); i++)
    if (qc_graph_output(g, i) >= 0) live[qc_graph_output(g, i)] = 1;
  live_ctx c = {g, live};
  /* Nodes are in topological order, so one backward walk sees every use before the
   * definition it keeps alive. */
  for (qc_nid n = qc_graph_num_nodes(g) - 1; n >= 0; n--) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead) continue;
    bool keep = (qc_op_schema_of(nd->op)->flags & QC_OPF_SIDE_EFFECT) != 0;
    for (int32_t i = 0; i < nd->n_out && !keep; i++)
      if (nd->out[i] >= 0 && live[nd->out[i]]) keep = true;
    if (!keep) {
      qc_graph_erase_node(g, n);
      continue;
    }
    for (int32_t i = 0; i < nd->n_in; i++)
      if (nd->in[i] >= 0) live[nd->in[i]] = 1;
    for (int32_t k = 0; k < nd->n_attr; k++) {
      const qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_GRAPH) qc_graph_for_each_capture(a->u.g, mark_capture, &c);
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < a->n; j++) qc_graph_for_each_capture(a->u.graphs[j], mark_capture, &c);
    }
  }
  free(live);
  return qc_graph_compact(g);
}

static qc_status run_dce(qc_graph *g, const qc_pass_args *args, void *user) {
  (void)args;
  return dce_graph(g, user);
}

const qc_pass_info qc_pass_dce = {
    "dce", "remove nodes whose results are unused (and unused constants), in sub-graphs too",
    NULL, 0, run_dce, NULL};
