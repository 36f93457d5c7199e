/* dump_types: load models, run shape inference, print each graph output's type.
 *
 *   dump_types [--keep] [--all] MODEL...
 *
 * For every model it prints "== MODEL", then one line per graph output:
 *
 *   <index> <kind> <onnx dtype code or ?> <dims>
 *
 * kind is tensor, sequence, optional or optional_sequence; dims is "*" for an unknown
 * rank, else "[d0,d1,...]" where a dim is a number, "$name" (symbolic) or "?" (unknown).
 * A model that fails to load or to infer prints "!! <message>" instead.
 *
 * By default the types that the model declares for node outputs (value_info, graph
 * outputs) are cleared before inference, so that what is printed is what inference
 * computes from the graph inputs alone; loading has already checked that inference
 * agrees with the declared types. --keep prints the merged types instead. --all also
 * prints every node output ("# <op> <value name> <type>", bodies indented after their
 * input types), for debugging a rule.
 * tests/python/test_infer.py compares the output with the real outputs of the ONNX
 * backend tests. */
#include "quarc/io.h"
#include "quarc/quarc.h"

#include <stdio.h>
#include <string.h>

static void clear_node_types(qc_graph *g) {
  qc_type unknown = qc_type_unknown();
  for (qc_vid v = 0; v < qc_graph_num_values(g); v++)
    if (qc_graph_value(g, v)->kind == QC_VALUE_NODE) {
      qc_status s = qc_graph_set_type(g, v, &unknown);
      qc_status_free(s);
    }
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    for (int32_t k = 0; k < nd->n_attr; k++) {
      const qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_GRAPH) clear_node_types(a->u.g);
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < a->n; j++) clear_node_types(a->u.graphs[j]);
    }
  }
}

static const char *kind_name(int k) {
  switch (k) {
  case QC_TYPE_SEQUENCE: return "sequence";
  case QC_TYPE_OPTIONAL: return "optional";
  case QC_TYPE_OPTIONAL_SEQUENCE: return "optional_sequence";
  default: return "tensor";
  }
}

static void print_type(const qc_graph *g, int32_t i, const qc_type *t) {
  if (i >= 0) printf("%d ", i);
  printf("%s ", kind_name(t->kind));
  if (t->dtype) printf("%d ", qc_dtype_traits_of(t->dtype)->onnx);
  else printf("? ");
  if (t->rank < 0) {
    printf("*\n");
    return;
  }
  printf("[");
  for (int32_t d = 0; d < t->rank; d++) {
    int64_t v = t->dims[d];
    const char *sym = qc_graph_sym_name(g, v);
    if (d) printf(",");
    if (v >= 0) printf("%lld", (long long)v);
    else if (sym) printf("$%s", sym);
    else printf("?");
  }
  printf("]\n");
}

/* Every node output, sub-graphs indented. */
static void print_all(const qc_graph *g, int depth) {
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    for (int32_t k = 0; k < nd->n_out; k++) {
      if (nd->out[k] < 0) continue;
      const qc_value *v = qc_graph_value(g, nd->out[k]);
      printf("#%*s %s %s ", 2 * depth, "", qc_op_name(nd->op), v->name);
      print_type(g, -1, &v->type);
    }
    for (int32_t k = 0; k < nd->n_attr; k++)
      if (nd->attr[k].kind == QC_ATTR_GRAPH) {
        const qc_graph *b = nd->attr[k].u.g;
        printf("#%*s %s:\n", 2 * depth + 2, "", nd->attr[k].name);
        for (int32_t i = 0; i < qc_graph_num_inputs(b); i++) {
          const qc_value *v = qc_graph_value(b, qc_graph_input(b, i));
          printf("#%*s input %s ", 2 * depth + 2, "", v->name);
          print_type(b, -1, &v->type);
        }
        print_all(b, depth + 1);
      }
  }
}

static void one_line(const char *msg) {
  for (const char *p = msg; *p; p++) putchar(*p == '\n' ? ' ' : *p);
  putchar('\n');
}

int main(int argc, char **argv) {
  bool keep = false, all = false;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--keep") == 0) {
      keep = true;
      continue;
    }
    if (strcmp(argv[i], "--all") == 0) {
      all = true;
      continue;
    }
    printf("== %s\n", argv[i]);
    qc_graph *g = NULL;
    qc_status s = qc_model_load(argv[i], QC_FORMAT_AUTO, &g);
    if (!s && !keep) {
      clear_node_types(g);
      s = qc_graph_infer_types(g);
    }
    if (!s) s = qc_graph_verify(g);
    if (s) {
      printf("!! ");
      one_line(qc_status_message(s));
      qc_status_free(s);
    } else {
      if (all) print_all(g, 0);
      for (int32_t k = 0; k < qc_graph_num_outputs(g); k++)
        print_type(g, k, &qc_graph_value(g, qc_graph_output(g, k))->type);
    }
    qc_graph_destroy(g);
    fflush(stdout);
  }
  return 0;
}
