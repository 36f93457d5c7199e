/* quarc inspect FILE — a summary of a model: name, inputs and outputs with their types,
 * opsets, a histogram of ops (sub-graphs included), and parameters (constants) by dtype. */
#include "tools/cli.h"

#include <stdlib.h>
#include <string.h>

static void print_type(const qc_graph *g, const qc_type *t) {
  static const char *const KIND[] = {"", "seq", "optional", "optional_seq"};
  bool wrapped = t->kind > QC_TYPE_TENSOR && t->kind <= QC_TYPE_OPTIONAL_SEQUENCE;
  if (wrapped) printf("%s<", KIND[t->kind]);
  printf("%s", t->dtype ? qc_dtype_name(t->dtype) : "?");
  if (t->rank < 0) {
    printf("[*]");
  } else {
    printf("[");
    for (int32_t i = 0; i < t->rank; i++) {
      const char *sym = qc_graph_sym_name(g, t->dims[i]);
      if (i) printf(",");
      if (t->dims[i] >= 0) printf("%lld", (long long)t->dims[i]);
      else printf("%s", sym ? sym : "?");
    }
    printf("]");
  }
  if (wrapped) printf(">");
}

typedef struct stats {
  int64_t *op_count; /* per op id */
  int32_t n_ops;
  int64_t nodes, sub_nodes, subgraphs;
  int64_t n_consts;
  int64_t elems[QC_DTYPE_COUNT];
  uint64_t bytes[QC_DTYPE_COUNT];
} stats;

static void collect(const qc_graph *g, stats *st, bool sub) {
  for (qc_vid v = 0; v < qc_graph_num_values(g); v++) {
    const qc_value *val = qc_graph_value(g, v);
    if (val->kind != QC_VALUE_CONST) continue;
    st->n_consts++;
    qc_dtype dt = val->cst.dtype;
    if ((int)dt < 0 || dt >= QC_DTYPE_COUNT) continue;
    int64_t n = qc_tensor_numel(&val->cst);
    size_t b = qc_tensor_nbytes(&val->cst);
    if (n != INT64_MAX) st->elems[dt] += n;
    if (b != SIZE_MAX) st->bytes[dt] += b;
  }
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead) continue;
    st->nodes++;
    if (sub) st->sub_nodes++;
    if (nd->op < st->n_ops) st->op_count[nd->op]++;
    for (int32_t k = 0; k < nd->n_attr; k++) {
      const qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_GRAPH) {
        st->subgraphs++;
        collect(a->u.g, st, true);
      }
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < a->n; j++) {
          st->subgraphs++;
          collect(a->u.graphs[j], st, true);
        }
    }
  }
}

static void op_label(qc_op op, char *buf, size_t n) {
  const qc_op_schema *s = qc_op_schema_of(op);
  if (s && *s->domain) snprintf(buf, n, "%s.%s", s->domain, s->name);
  else snprintf(buf, n, "%s", s ? s->name : "?");
}

static const stats *sort_stats;
static int by_count(const void *pa, const void *pb) {
  qc_op a = *(const qc_op *)pa, b = *(const qc_op *)pb;
  int64_t ca = sort_stats->op_count[a], cb = sort_stats->op_count[b];
  if (ca != cb) return ca > cb ? -1 : 1;
  char la[160], lb[160];
  op_label(a, la, sizeof la);
  op_label(b, lb, sizeof lb);
  return strcmp(la, lb);
}

static void print_bytes(uint64_t b) {
  if (b >= (1ull << 30)) printf("%.2f GiB", (double)b / (double)(1ull << 30));
  else if (b >= (1ull << 20)) printf("%.2f MiB", (double)b / (double)(1ull << 20));
  else if (b >= 1024) printf("%.2f KiB", (double)b / 1024.0);
  else printf("%llu B", (unsigned long long)b);
}

static void print_values(const qc_graph *g, const char *what, int32_t n,
                         qc_vid (*at)(const qc_graph *, int32_t)) {
  printf("%s (%d):\n", what, n);
  for (int32_t i = 0; i < n; i++) {
    const qc_value *v = qc_graph_value(g, at(g, i));
    printf("  %s: ", v ? v->name : "?");
    if (v) print_type(g, &v->type);
    printf("\n");
  }
}

static int run_inspect(int argc, char **argv) {
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      printf("usage: %s\n", cli_cmd_inspect.usage);
      return 0;
    }
    if (argv[i][0] == '-' && argv[i][1])
      return cli_usage_error(&cli_cmd_inspect, "unknown option '%s'", argv[i]);
    if (path) return cli_usage_error(&cli_cmd_inspect, "more than one input ('%s')", argv[i]);
    path = argv[i];
  }
  if (!path) return cli_usage_error(&cli_cmd_inspect, "no input file");
  qc_graph *g;
  qc_status s = qc_model_load(path, QC_FORMAT_AUTO, &g);
  if (s) return cli_fail(s);

  stats st;
  memset(&st, 0, sizeof st);
  st.n_ops = qc_op_count();
  st.op_count = calloc((size_t)st.n_ops, sizeof *st.op_count);
  if (!st.op_count) {
    qc_graph_destroy(g);
    return cli_fail(qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory"));
  }
  collect(g, &st, false);

  printf("graph: %s\n", *qc_graph_name(g) ? qc_graph_name(g) : "(unnamed)");
  printf("opsets:");
  if (qc_graph_num_opsets(g) == 0) printf(" (none)");
  for (int32_t i = 0; i < qc_graph_num_opsets(g); i++) {
    const char *d;
    int64_t v;
    qc_graph_opset_at(g, i, &d, &v);
    printf("%s %s %lld", i ? "," : "", *d ? d : "ai.onnx", (long long)v);
  }
  printf("\n");
  print_values(g, "inputs", qc_graph_num_inputs(g), qc_graph_input);
  print_values(g, "outputs", qc_graph_num_outputs(g), qc_graph_output);

  printf("nodes: %lld", (long long)st.nodes);
  if (st.subgraphs)
    printf(" (%lld in %lld sub-graphs)", (long long)st.sub_nodes, (long long)st.subgraphs);
  printf("\n");
  qc_op *order = malloc(sizeof *order * (size_t)(st.n_ops ? st.n_ops : 1));
  int32_t n_used = 0;
  for (int32_t op = 0; order && op < st.n_ops; op++)
    if (st.op_count[op]) order[n_used++] = (qc_op)op;
  if (order && n_used) {
    sort_stats = &st;
    qsort(order, (size_t)n_used, sizeof *order, by_count);
    printf("ops (%d kinds):\n", n_used);
    for (int32_t i = 0; i < n_used; i++) {
      char label[160];
      op_label(order[i], label, sizeof label);
      printf("  %-28s %lld\n", label, (long long)st.op_count[order[i]]);
    }
  }
  free(order);

  int64_t total_elems = 0;
  uint64_t total_bytes = 0;
  for (int dt = 0; dt < QC_DTYPE_COUNT; dt++) {
    total_elems += st.elems[dt];
    total_bytes += st.bytes[dt];
  }
  printf("parameters: %lld in %lld constants, ", (long long)total_elems, (long long)st.n_consts);
  print_bytes(total_bytes);
  printf("\n");
  for (int dt = 0; dt < QC_DTYPE_COUNT; dt++) {
    if (!st.elems[dt] && !st.bytes[dt]) continue;
    printf("  %-12s %14lld  %14llu bytes\n", qc_dtype_name((qc_dtype)dt), (long long)st.elems[dt],
           (unsigned long long)st.bytes[dt]);
  }
  if (qc_graph_num_meta(g)) {
    printf("metadata (%d):\n", qc_graph_num_meta(g));
    for (int32_t i = 0; i < qc_graph_num_meta(g); i++) {
      const char *k, *v;
      qc_graph_meta_at(g, i, &k, &v);
      printf("  %s: %.200s%s\n", k, v, strlen(v) > 200 ? "..." : "");
    }
  }
  free(st.op_count);
  qc_graph_destroy(g);
  return 0;
}

const cli_command cli_cmd_inspect = {
    "inspect", "summarize a model: inputs, outputs, ops, parameters, opsets",
    "quarc inspect FILE", run_inspect};
