/* Private to passes/: the context and argument layouts shared by the pass manager and the
 * pipeline parser, the built-in pass descriptors, and small helpers the passes share. */
#ifndef QUARC_PASSES_INTERNAL_H
#define QUARC_PASSES_INTERNAL_H

#include "ir/internal.h"
#include "quarc/pass.h"

/* ---- the registry ------------------------------------------------------------------------ */

struct qc_context {
  const qc_pass_info **passes;
  int32_t n_passes, cap_passes;
  void **plugins; /* dlopen handles loaded into this context */
  int32_t n_plugins, cap_plugins;
};

/* Drop the passes registered after the first `n` (a plugin whose init failed). */
void qc_context_truncate(qc_context *ctx, int32_t n);

/* ---- arguments ------------------------------------------------------------------------- */

typedef struct qc_arg_value {
  bool given; /* spelled out in the pipeline text */
  bool set;   /* has a value (given, or a default) */
  bool b;
  int64_t i;
  double f;
  char *s; /* malloc'd; "" when unset */
} qc_arg_value;

struct qc_pass_args {
  const qc_pass_info *info;
  qc_arg_value *v; /* one per info->options[i] */
};

/* Parse `len` bytes of option text as `kind` into `out` (strings: the text, unquoted by
 * the caller). Returns false if the text is not a valid value of that kind. */
bool qc_arg_parse(qc_opt_kind kind, const char *text, size_t len, qc_arg_value *out);
const char *qc_opt_kind_name(qc_opt_kind kind);

/* ---- built-in passes: passes/passes.def ------------------------------------------------ */

#define QC_PASS(ident) extern const qc_pass_info qc_pass_##ident;
#include "passes/passes.def"
#undef QC_PASS

/* ---- helpers shared by passes ----------------------------------------------------------- */

/* Call fn on every sub-graph of the live nodes of g (not recursively: fn recurses). */
static inline qc_status qc_for_each_subgraph(qc_graph *g, qc_status (*fn)(qc_graph *sub, void *u),
                                             void *user) {
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead) continue;
    for (int32_t k = 0; k < nd->n_attr; k++) {
      const qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_GRAPH) QC_RETURN_IF_ERROR(fn(a->u.g, user));
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < a->n; j++) QC_RETURN_IF_ERROR(fn(a->u.graphs[j], user));
    }
  }
  return QC_OK;
}

static inline bool qc_node_has_subgraph(const qc_node *nd) {
  for (int32_t k = 0; k < nd->n_attr; k++)
    if (nd->attr[k].kind == QC_ATTR_GRAPH || nd->attr[k].kind == QC_ATTR_GRAPHS) return true;
  return false;
}

#endif
