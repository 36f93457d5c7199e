/*
 * An example pass plugin: `count-ops` records how often each op occurs in the graph (and
 * its sub-graphs) as graph metadata, e.g. "Add=2,MatMul=4,com.microsoft.QGemm=1".
 *
 *     quarc opt model.qir --load-pass-plugin ./quarc-count-ops.so \
 *         --passes='count-ops{key=ops,sub-graphs=false}' -o out.qir
 *
 * A plugin is a shared object that exports quarc_plugin_init (and, optionally,
 * quarc_plugin_abi_version). It links against no quarc library: it calls quarc's public API,
 * which the process that loads it provides (see docs/passes.md).
 */
#include "quarc/quarc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct op_count {
  qc_op op;
  int64_t n;
} op_count;

typedef struct counts {
  op_count *v;
  int32_t n, cap;
} counts;

static qc_status count_graph(const qc_graph *g, bool sub_graphs, counts *c) {
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead) continue;
    int32_t i = 0;
    while (i < c->n && c->v[i].op != nd->op) i++;
    if (i == c->n) {
      if (c->n == c->cap) {
        int32_t cap = c->cap ? c->cap * 2 : 16;
        op_count *v = realloc(c->v, sizeof *v * (size_t)cap);
        if (!v) return qc_status_new(QC_CODE_OUT_OF_MEMORY, "count-ops: out of memory");
        c->v = v;
        c->cap = cap;
      }
      c->v[c->n++] = (op_count){nd->op, 0};
    }
    c->v[i].n++;
    if (!sub_graphs) continue;
    for (int32_t k = 0; k < nd->n_attr; k++) {
      const qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_GRAPH) QC_RETURN_IF_ERROR(count_graph(a->u.g, true, c));
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < a->n; j++) QC_RETURN_IF_ERROR(count_graph(a->u.graphs[j], true, c));
    }
  }
  return QC_OK;
}

static void label(qc_op op, char *buf, size_t n) {
  const qc_op_schema *s = qc_op_schema_of(op);
  snprintf(buf, n, "%s%s%s", *s->domain ? s->domain : "", *s->domain ? "." : "", s->name);
}

static int by_label(const void *pa, const void *pb) {
  char a[128], b[128];
  label(((const op_count *)pa)->op, a, sizeof a);
  label(((const op_count *)pb)->op, b, sizeof b);
  return strcmp(a, b);
}

static qc_status run_count_ops(qc_graph *g, const qc_pass_args *args, void *user) {
  (void)user;
  const char *key = qc_pass_arg_string(args, "key");
  if (!*key) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "count-ops: the key must not be empty");
  counts c = {0};
  qc_status s = count_graph(g, qc_pass_arg_bool(args, "sub-graphs"), &c);
  char *text = NULL;
  if (!s) {
    qsort(c.v, (size_t)c.n, sizeof *c.v, by_label);
    size_t len = 1;
    for (int32_t i = 0; i < c.n; i++) len += 128 + 24;
    text = malloc(len);
    if (!text) s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "count-ops: out of memory");
  }
  if (!s) {
    size_t o = 0;
    text[0] = 0;
    for (int32_t i = 0; i < c.n; i++) {
      char l[128];
      label(c.v[i].op, l, sizeof l);
      o += (size_t)sprintf(text + o, "%s%s=%lld", i ? "," : "", l, (long long)c.v[i].n);
    }
    s = qc_graph_set_meta(g, key, text);
  }
  free(text);
  free(c.v);
  return s;
}

static const qc_pass_option OPTIONS[] = {
    {"key", QC_OPT_STRING, "op-counts", "the metadata key to write"},
    {"sub-graphs", QC_OPT_BOOL, "true", "count the nodes of sub-graphs too"},
};

static const qc_pass_info COUNT_OPS = {
    "count-ops", "record a histogram of ops as graph metadata (example plugin)", OPTIONS, 2,
    run_count_ops, NULL};

QC_PLUGIN_EXPORT const int quarc_plugin_abi_version = QC_PLUGIN_ABI_VERSION;

QC_PLUGIN_EXPORT qc_status quarc_plugin_init(qc_context *ctx) {
  return qc_pass_register(ctx, &COUNT_OPS);
}
