/*
 * onnx_roundtrip IN.onnx OUT.onnx [--check] [--no-value-info] [--external]
 *
 * Imports IN, exports it to OUT. With --check, imports OUT again and compares the two
 * graphs structurally (conf_graph_equal: names, types, constants, nodes, attributes and
 * sub-graphs must be identical) and by their .qir text. Exit status: 0 on success, 1 on an error or a difference
 * (the reason goes to stderr). tests/python/test_onnx_roundtrip.py drives it over the
 * conformance models.
 */
#include "conformance_util.h"
#include "quarc/onnx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  bool check = false;
  qc_onnx_export_options eo = {0};
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--check") == 0) check = true;
    else if (strcmp(argv[i], "--no-value-info") == 0) eo.no_value_info = true;
    else if (strcmp(argv[i], "--external") == 0) eo.external = QC_ONNX_EXTERNAL_ALWAYS;
    else if (!in) in = argv[i];
    else if (!out) out = argv[i];
    else in = NULL, out = NULL, i = argc;
  }
  if (!in || !out) {
    fprintf(stderr, "usage: onnx_roundtrip IN.onnx OUT.onnx [--check] [--no-value-info] "
                    "[--external]\n");
    return 2;
  }
  qc_graph *g = NULL, *g2 = NULL;
  qc_status s = qc_onnx_import(in, NULL, &g);
  if (!s) s = qc_onnx_export(g, out, &eo);
  if (!s && check) s = qc_onnx_import(out, NULL, &g2);
  int rc = 0;
  if (s) {
    fprintf(stderr, "error: %s\n", qc_status_message(s));
    qc_status_free(s);
    rc = 1;
  } else if (check) {
    char why[2048];
    if (!conf_graph_equal(g, g2, why, sizeof why)) {
      fprintf(stderr, "%s: the re-imported graph differs: %s\n", out, why);
      rc = 1;
    } else if (eo.external != QC_ONNX_EXTERNAL_ALWAYS) {
      /* The .qir texts must match too (external data would print different file names). */
      char *t1 = NULL, *t2 = NULL;
      size_t n1 = 0, n2 = 0;
      qc_status p1 = qc_qir_print(g, NULL, &t1, &n1), p2 = p1 ? QC_OK : qc_qir_print(g2, NULL, &t2, &n2);
      if (p1 || p2) {
        fprintf(stderr, "qc_qir_print: %s\n", qc_status_message(p1 ? p1 : p2));
        rc = 1;
      } else if (n1 != n2 || memcmp(t1, t2, n1) != 0) {
        size_t i = 0, line = 1;
        while (i < n1 && i < n2 && t1[i] == t2[i]) line += t1[i++] == '\n';
        fprintf(stderr, "%s: the .qir of the re-imported graph differs at line %zu\n", out, line);
        rc = 1;
      }
      qc_status_free(p1);
      qc_status_free(p2);
      free(t1);
      free(t2);
    }
  }
  qc_graph_destroy(g);
  qc_graph_destroy(g2);
  return rc;
}
