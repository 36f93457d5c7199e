/* qir_roundtrip: checks one .qir file.
 *
 *   qir_roundtrip [--canonical] [--print] FILE.qir
 *
 * Parses FILE, verifies the graph (qc_graph_verify) and prints it (paths relative to
 * FILE's directory; --print writes the print to stdout). With --canonical the print must
 * equal FILE byte for byte. Then the print is parsed and printed again and must not
 * change. Exit status 0 when all hold.
 *
 * The cases may use the test op qir.test.Any: any inputs and outputs, and attributes of
 * any kind named i, f, s, t, g, ints, floats, strings, tensors, graphs and type — the
 * built-in ops have no attribute of kind tensors or graphs to show those with. */
#include "quarc/quarc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  size_t r;
  while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
  }
  fclose(f);
  *len = n;
  return buf;
}

/* Report the first line where a and b differ. */
static void show_diff(const char *what, const char *a, size_t na, const char *b, size_t nb) {
  size_t i = 0, line = 1, ls = 0;
  while (i < na && i < nb && a[i] == b[i]) {
    if (a[i] == '\n') {
      line++;
      ls = i + 1;
    }
    i++;
  }
  const char *ea = memchr(a + ls, '\n', na - ls), *eb = memchr(b + ls, '\n', nb - ls);
  int la = (int)((ea ? (size_t)(ea - a) : na) - ls), lb = (int)((eb ? (size_t)(eb - b) : nb) - ls);
  fprintf(stderr, "%s: first difference at line %zu:\n  expected: %.*s\n  got:      %.*s\n", what,
          line, la, a + ls, lb, b + ls);
}

static const qc_attr_schema ANY_ATTRS[] = {
    {"i", QC_ATTR_NONE, 0, 0, 0, 0, NULL},       {"f", QC_ATTR_NONE, 0, 0, 0, 0, NULL},
    {"s", QC_ATTR_NONE, 0, 0, 0, 0, NULL},       {"t", QC_ATTR_NONE, 0, 0, 0, 0, NULL},
    {"g", QC_ATTR_NONE, 0, 0, 0, 0, NULL},       {"ints", QC_ATTR_NONE, 0, 0, 0, 0, NULL},
    {"floats", QC_ATTR_NONE, 0, 0, 0, 0, NULL},  {"strings", QC_ATTR_NONE, 0, 0, 0, 0, NULL},
    {"tensors", QC_ATTR_NONE, 0, 0, 0, 0, NULL}, {"graphs", QC_ATTR_NONE, 0, 0, 0, 0, NULL},
    {"type", QC_ATTR_NONE, 0, 0, 0, 0, NULL}};
static const qc_op_schema ANY = {"qir.test", "Any", 1,    999, 0, -1, 0, -1, QC_OPF_SUBGRAPH,
                                 NULL,       ANY_ATTRS, (int32_t)(sizeof ANY_ATTRS / sizeof *ANY_ATTRS)};

static int fail(qc_status s) {
  fprintf(stderr, "%s\n", qc_status_message(s));
  qc_status_free(s);
  return 1;
}

int main(int argc, char **argv) {
  bool canonical = false, print = false;
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--canonical") == 0) canonical = true;
    else if (strcmp(argv[i], "--print") == 0) print = true;
    else path = argv[i];
  }
  if (!path) {
    fprintf(stderr, "usage: qir_roundtrip [--canonical] FILE.qir\n");
    return 2;
  }
  size_t len;
  char *src = read_all(path, &len);
  if (!src) {
    perror(path);
    return 1;
  }
  char *dir = strdup(path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  qc_qir_print_options opts = {0, NULL, slash ? dir : NULL};

  qc_graph *g, *g2;
  char *t1, *t2;
  size_t n1, n2;
  qc_op any;
  qc_status s = qc_op_register(&ANY, &any);
  if (s) return fail(s);
  if ((s = qc_qir_parse(src, len, path, &g))) return fail(s);
  if ((s = qc_graph_verify(g))) return fail(qc_status_wrap(s, "%s", path));
  if ((s = qc_qir_print(g, &opts, &t1, &n1))) return fail(s);
  if (print) fwrite(t1, 1, n1, stdout);
  int rc = 0;
  if (canonical && (n1 != len || memcmp(t1, src, len) != 0)) {
    show_diff("the file is not what its graph prints", src, len, t1, n1);
    rc = 1;
  }
  if ((s = qc_qir_parse(t1, n1, path, &g2))) return fail(qc_status_wrap(s, "re-parsing the print"));
  if ((s = qc_qir_print(g2, &opts, &t2, &n2))) return fail(s);
  if (n1 != n2 || memcmp(t1, t2, n1) != 0) {
    show_diff("print(parse(print)) differs from print", t1, n1, t2, n2);
    rc = 1;
  }
  qc_graph_destroy(g);
  qc_graph_destroy(g2);
  free(t1);
  free(t2);
  free(src);
  free(dir);
  return rc;
}
