/* Layer extraction for layer-wise algorithms (AWQ, GPTQ, SmoothQuant): the nodes of layer i
 * are those on a path from "<prefix>.<i>.input" to "<prefix>.<i>.output", plus the
 * constant-only computations they read (weight transposes and casts). Everything else they
 * read (position ids, masks) becomes an input of the extracted graph. */
#include "quarc/models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

qc_status qc_graph_extract_layer(const qc_graph *g, int64_t layer, qc_graph **out) {
  *out = NULL;
  const char *prefix = qc_graph_meta(g, "quarc.layer_prefix");
  if (!prefix)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "graph '%s' has no layer structure (no 'quarc.layer_prefix' metadata)",
                         qc_graph_name(g));
  char in_name[256], out_name[256];
  snprintf(in_name, sizeof in_name, "%s.%lld.input", prefix, (long long)layer);
  snprintf(out_name, sizeof out_name, "%s.%lld.output", prefix, (long long)layer);
  qc_vid vin = qc_graph_find(g, in_name), vout = qc_graph_find(g, out_name);
  if (vin < 0 || vout < 0)
    return qc_status_new(QC_CODE_NOT_FOUND, "graph '%s' has no layer %lld (no value '%s')",
                         qc_graph_name(g), (long long)layer, vin < 0 ? in_name : out_name);
  int32_t nn = qc_graph_num_nodes(g), nv = qc_graph_num_values(g);
  /* Forward: values depending on the layer input; constant-only: values computed from
   * constants alone. Nodes are in topological order, so one sweep each suffices. */
  uint8_t *dep = calloc((size_t)nv, 1), *konst = calloc((size_t)nv, 1), *need = calloc((size_t)nv, 1);
  qc_nid *sel = malloc(sizeof(qc_nid) * (size_t)(nn ? nn : 1));
  if (!dep || !konst || !need || !sel) {
    free(dep);
    free(konst);
    free(need);
    free(sel);
    return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  }
  dep[vin] = 1;
  for (qc_vid v = 0; v < nv; v++)
    if (qc_graph_value(g, v)->kind == QC_VALUE_CONST) konst[v] = 1;
  for (qc_nid n = 0; n < nn; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    bool any_dep = false, all_const = nd->n_in > 0;
    for (int32_t i = 0; i < nd->n_in; i++) {
      if (nd->in[i] < 0) continue;
      any_dep |= dep[nd->in[i]];
      all_const &= konst[nd->in[i]];
    }
    for (int32_t i = 0; i < nd->n_out; i++)
      if (nd->out[i] >= 0) {
        if (any_dep) dep[nd->out[i]] = 1;
        if (all_const) konst[nd->out[i]] = 1;
      }
  }
  /* Backward from the output, through dependent or constant-only nodes, not past the input. */
  need[vout] = 1;
  int32_t ns = 0;
  for (qc_nid n = nn - 1; n >= 0; n--) {
    const qc_node *nd = qc_graph_node(g, n);
    bool wanted = false, eligible = false;
    for (int32_t i = 0; i < nd->n_out; i++)
      if (nd->out[i] >= 0) {
        wanted |= need[nd->out[i]] && nd->out[i] != vin;
        eligible |= dep[nd->out[i]] || konst[nd->out[i]];
      }
    if (!wanted || !eligible) continue;
    sel[ns++] = n;
    for (int32_t i = 0; i < nd->n_in; i++)
      if (nd->in[i] >= 0) need[nd->in[i]] = 1;
  }
  /* back to graph order */
  for (int32_t i = 0; i < ns / 2; i++) {
    qc_nid t = sel[i];
    sel[i] = sel[ns - 1 - i];
    sel[ns - 1 - i] = t;
  }
  qc_status s = qc_graph_extract(g, sel, ns, out);
  free(dep);
  free(konst);
  free(need);
  free(sel);
  return s;
}
