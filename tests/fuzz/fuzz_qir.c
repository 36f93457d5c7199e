/* libFuzzer target for the .qir parser: any input must parse or fail cleanly (the
 * sanitizers catch the rest); whatever parses must print, and the print must parse back
 * and print the same text again. */
#include "quarc/quarc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, qc_status s) {
  fprintf(stderr, "fuzz_qir: %s: %s\n", what, s ? qc_status_message(s) : "");
  abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qc_graph *g;
  qc_status s = qc_qir_parse((const char *)data, size, "<fuzz>", &g);
  if (s) {
    qc_status_free(s);
    return 0;
  }
  char *t1, *t2;
  size_t n1, n2;
  s = qc_qir_print(g, NULL, &t1, &n1);
  qc_graph_destroy(g);
  if (s) die("a parsed graph does not print", s);
  if ((s = qc_qir_parse(t1, n1, "<fuzz>", &g))) {
    fprintf(stderr, "%s\n", t1);
    die("the print does not parse", s);
  }
  s = qc_qir_print(g, NULL, &t2, &n2);
  qc_graph_destroy(g);
  if (s) die("the re-parsed graph does not print", s);
  if (n1 != n2 || memcmp(t1, t2, n1) != 0) {
    fprintf(stderr, "first print:\n%s\nsecond print:\n%s\n", t1, t2);
    die("print(parse(print)) differs from print", NULL);
  }
  free(t1);
  free(t2);
  return 0;
}
