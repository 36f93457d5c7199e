/*
 * run_conformance — runs ONNX's backend tests (node/ and simple/) on quarc's interpreter.
 *
 *   run_conformance [options] [FILTER...]
 *     --dir DIR            test data (default: $QUARC_CONFORMANCE_DIR, else the build's
 *                          QUARC_CONFORMANCE_DIR); uses DIR/node/ and
 *                          DIR/simple/ (each subdirectory is a test)
 *     --xfail FILE         expected failures (one test name per line, '#' comments); the
 *                          exit status is 1 on any unexpected failure or unexpected pass
 *     --write-xfail FILE   write the failures of this run as an xfail list (entries for
 *                          tests the filters leave out are kept from --xfail)
 *     --report-md FILE     write the pass rate by op as Markdown
 *     --timeout SECONDS    per test (default 60); a test running longer fails
 *     --passes PIPELINE    run this pass pipeline (verify-each) on every imported model
 *                          that verifies, before executing it: the tests then check that
 *                          the passes keep every result
 *     --xpass FILE         tests expected to pass although --xfail lists them (what a
 *                          --passes pipeline fixes, e.g. Dropout removed by canonicalize)
 *     -j N                 run N tests at once (default 1)
 *     -q                   print only failures that the xfail list does not expect
 *     FILTER               run tests whose name contains FILTER, or matches it as a glob
 *                          when it has * ? or [
 *
 * Each test runs in a child process: a crash or a hang fails that test ("crashed
 * (SIGSEGV)", "timed out after 60 s") and the run goes on. For each test the runner
 * imports model.onnx, reads test_data_set_N/input_<i>.pb in graph-input order (graph
 * inputs exclude initializers), runs qc_run_graph and compares every output with
 * output_<j>.pb (conformance_util.c has the rules). It prints "PASS name" or
 * "FAIL name: reason" per test and ends with "N passed, M failed".
 */
#include "conformance_util.h"
#include "frontend/onnx_internal.h"
#include "quarc/onnx.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSG 2000

typedef struct test {
  char *name;
  char *dir;
  bool passed;
  bool ran;
  char *reason;
  char *ops; /* "Add,Mul" distinct op types of the main graph */
} test;

typedef struct strlist {
  char **v;
  size_t n, cap;
} strlist;

static void sl_add(strlist *l, const char *s) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    if (!l->v) abort();
  }
  l->v[l->n++] = strdup(s);
}

static bool sl_has(const strlist *l, const char *s) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->v[i], s) == 0) return true;
  return false;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- one test (runs in the child) -------------------------------------------------------- */

static const char *g_passes; /* --passes */

/* Run --passes over g (verify-each). NULL on success, else a malloc'd reason. */
static char *run_passes(qc_graph *g) {
  if (!g_passes) return NULL;
  /* Passes require a valid graph; a model the verifier rejects as imported is a matter
   * for the importer or the op table, and runs as it is. */
  qc_status v = qc_graph_verify(g);
  if (v) {
    qc_status_free(v);
    return NULL;
  }
  qc_context *ctx = NULL;
  qc_pipeline *p = NULL;
  qc_status s = qc_context_create(&ctx);
  if (!s) s = qc_pipeline_parse(ctx, g_passes, &p);
  if (!s) s = qc_pipeline_run(p, g, &(qc_pipeline_options){.verify_each = true});
  char *reason = NULL;
  if (s) {
    const char *m = qc_status_message(s);
    reason = malloc(strlen(m) + 16);
    if (reason) sprintf(reason, "passes: %s", m);
    qc_status_free(s);
  }
  qc_pipeline_destroy(p);
  qc_context_destroy(ctx);
  return reason;
}

static void child_write(int fd, const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t w = write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

/* Distinct op types of the main graph, read from the protobuf (so that tests whose import
 * fails are still counted under their op). */
static void model_ops(const char *model, char *out, size_t n) {
  out[0] = 0;
  FILE *f = fopen(model, "rb");
  if (!f) return;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = size > 0 ? malloc((size_t)size) : NULL;
  if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
    free(buf);
    fclose(f);
    return;
  }
  fclose(f);
  ProtobufCMessage *msg;
  qc_status s = qc_onnx_unpack(&onnx__model_proto__descriptor, buf, (size_t)size, model, &msg);
  free(buf);
  if (s) {
    qc_status_free(s);
    return;
  }
  Onnx__ModelProto *m = (Onnx__ModelProto *)msg;
  size_t o = 0;
  for (size_t i = 0; m->graph && i < m->graph->n_node; i++) {
    const Onnx__NodeProto *np = m->graph->node[i];
    char op[256];
    snprintf(op, sizeof op, "%s%s%s", np->domain && *np->domain ? np->domain : "",
             np->domain && *np->domain ? "." : "", np->op_type ? np->op_type : "?");
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) {
      const Onnx__NodeProto *q = m->graph->node[j];
      char op2[256];
      snprintf(op2, sizeof op2, "%s%s%s", q->domain && *q->domain ? q->domain : "",
               q->domain && *q->domain ? "." : "", q->op_type ? q->op_type : "?");
      seen = strcmp(op, op2) == 0;
    }
    if (!seen && o + strlen(op) + 2 < n) o += (size_t)snprintf(out + o, n - o, "%s%s", o ? "," : "", op);
  }
  protobuf_c_message_free_unpacked(msg, NULL);
}

static bool file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* Graphs with a nondeterministic op (RandomNormal, Bernoulli, ...): the expected values
 * come from numpy's generator and cannot be reproduced, so only dtypes and shapes count. */
static bool has_random_op(const qc_graph *g) {
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_op_schema *s = qc_op_schema_of(qc_graph_node(g, n)->op);
    if (s && (s->flags & QC_OPF_RANDOM)) return true;
  }
  return false;
}

static bool same_type_and_shape(const qc_rvalue *got, const qc_data_value *want, char *why,
                                size_t n) {
  if (want->kind != QC_TYPE_TENSOR) return conf_compare(got, want, why, n);
  const qc_tensor *a = &got->t, *b = &want->tensor;
  if (got->kind == QC_RV_TENSOR && a->dtype == b->dtype && a->rank == b->rank &&
      memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank) == 0)
    return true;
  snprintf(why, n, "random op: dtype or shape differs");
  return false;
}

/* Runs one data set; returns NULL on success or a malloc'd reason. */
static char *run_data_set(const qc_graph *g, const char *ds) {
  char path[4096], why[MAX_MSG];
  int32_t n_in = qc_graph_num_inputs(g), n_out = qc_graph_num_outputs(g);
  qc_data_value *din = calloc((size_t)n_in + 1, sizeof *din);
  qc_rvalue *in = calloc((size_t)n_in + 1, sizeof *in);
  qc_rvalue *out = calloc((size_t)n_out + 1, sizeof *out);
  char *reason = NULL;
  qc_status s = QC_OK;
  for (int32_t i = 0; i < n_in && !reason; i++) {
    const qc_value *v = qc_graph_value(g, qc_graph_input(g, i));
    snprintf(path, sizeof path, "%s/input_%d.pb", ds, i);
    if (!file_exists(path)) {
      /* Trailing optional inputs may be left out. */
      in[i].kind = QC_RV_NONE;
      in[i].optional = 1;
      continue;
    }
    s = qc_value_read_pb(path, v->type.kind, &din[i]);
    if (!s) s = conf_to_rvalue(&din[i], &v->type, &in[i]);
  }
  snprintf(path, sizeof path, "%s/input_%d.pb", ds, n_in);
  if (!s && !reason && file_exists(path))
    reason = strdup("the data set has more inputs than the graph");
  if (!s && !reason) s = qc_run_graph(g, &(qc_interp_options){.n_threads = 1}, n_in, in, n_out, out);
  for (int32_t j = 0; j < n_out && !s && !reason; j++) {
    const qc_value *v = qc_graph_value(g, qc_graph_output(g, j));
    snprintf(path, sizeof path, "%s/output_%d.pb", ds, j);
    qc_data_value want;
    s = qc_value_read_pb(path, v->type.kind, &want);
    if (s) break;
    bool ok = has_random_op(g) ? same_type_and_shape(&out[j], &want, why, sizeof why)
                               : conf_compare(&out[j], &want, why, sizeof why);
    if (!ok) {
      char msg[MAX_MSG + 256];
      snprintf(msg, sizeof msg, "output %d '%s': %s", j, v->name, why);
      reason = strdup(msg);
    }
    qc_data_value_release(&want);
  }
  if (s) {
    reason = strdup(qc_status_message(s));
    qc_status_free(s);
  }
  for (int32_t i = 0; i < n_in; i++) {
    qc_rvalue_release(&in[i]);
    qc_data_value_release(&din[i]);
  }
  for (int32_t j = 0; j < n_out; j++) qc_rvalue_release(&out[j]);
  free(din);
  free(in);
  free(out);
  return reason;
}

static int cmp_dirent(const struct dirent **a, const struct dirent **b) {
  return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_data_set(const struct dirent *d) {
  return strncmp(d->d_name, "test_data_set_", 14) == 0;
}

/* The child: writes "OPS ...\n" then "PASS\n" or "FAIL reason\n" to fd. */
static void run_test_child(const test *t, int fd) {
  char path[4096], ops[1024];
  snprintf(path, sizeof path, "%s/model.onnx", t->dir);
  model_ops(path, ops, sizeof ops);
  char line[1200];
  snprintf(line, sizeof line, "OPS %s\n", ops);
  child_write(fd, line);
  qc_graph *g;
  qc_status s = qc_onnx_import(path, NULL, &g);
  if (s) {
    child_write(fd, "FAIL import: ");
    child_write(fd, qc_status_message(s));
    child_write(fd, "\n");
    qc_status_free(s);
    return;
  }
  struct dirent **sets;
  int n = scandir(t->dir, &sets, is_data_set, cmp_dirent);
  char *reason = n <= 0 ? strdup("no test_data_set_* directories") : run_passes(g);
  for (int i = 0; i < n; i++) {
    if (!reason) {
      char ds[4096];
      snprintf(ds, sizeof ds, "%s/%s", t->dir, sets[i]->d_name);
      reason = run_data_set(g, ds);
      if (reason && n > 1) {
        char *r = malloc(strlen(reason) + 300);
        sprintf(r, "%s: %s", sets[i]->d_name, reason);
        free(reason);
        reason = r;
      }
    }
    free(sets[i]);
  }
  if (n > 0) free(sets);
  qc_graph_destroy(g);
  if (reason) {
    for (char *p = reason; *p; p++)
      if (*p == '\n') *p = ' ';
    child_write(fd, "FAIL ");
    child_write(fd, reason);
    child_write(fd, "\n");
    free(reason);
  } else {
    child_write(fd, "PASS\n");
  }
}

/* ---- the driver ------------------------------------------------------------------------------ */

static const char *signal_name(int sig) {
  switch (sig) {
  case SIGSEGV: return "SIGSEGV";
  case SIGABRT: return "SIGABRT";
  case SIGBUS: return "SIGBUS";
  case SIGFPE: return "SIGFPE";
  case SIGILL: return "SIGILL";
  case SIGKILL: return "SIGKILL";
  case SIGTERM: return "SIGTERM";
  case SIGALRM: return "SIGALRM";
  case SIGTRAP: return "SIGTRAP";
  default: return "signal";
  }
}

typedef struct slot {
  pid_t pid;
  int fd;
  size_t test;
  char buf[8192];
  size_t len;
} slot;

static void finish(test *t, slot *sl, int status, int timeout) {
  sl->buf[sl->len < sizeof sl->buf ? sl->len : sizeof sl->buf - 1] = 0;
  char *ops = strstr(sl->buf, "OPS ");
  if (ops) {
    char *e = strchr(ops, '\n');
    t->ops = e ? strndup(ops + 4, (size_t)(e - ops - 4)) : strdup(ops + 4);
  }
  char *res = ops ? strchr(ops, '\n') : NULL;
  res = res ? res + 1 : sl->buf;
  t->ran = true;
  if (WIFSIGNALED(status)) {
    char r[128];
    if (WTERMSIG(status) == SIGALRM) snprintf(r, sizeof r, "timed out after %d s", timeout);
    else snprintf(r, sizeof r, "crashed (%s)", signal_name(WTERMSIG(status)));
    t->reason = strdup(r);
    return;
  }
  if (strncmp(res, "PASS", 4) == 0) {
    if (WEXITSTATUS(status) == 0) {
      t->passed = true;
      return;
    }
    char r[96];
    snprintf(r, sizeof r, "passed, then exited with status %d (a sanitizer report?)",
             WEXITSTATUS(status));
    t->reason = strdup(r);
    return;
  }
  if (strncmp(res, "FAIL ", 5) == 0) {
    char *e = strchr(res, '\n');
    t->reason = e ? strndup(res + 5, (size_t)(e - res - 5)) : strdup(res + 5);
    return;
  }
  char r[64];
  snprintf(r, sizeof r, "exited with status %d and no result", WEXITSTATUS(status));
  t->reason = strdup(r);
}

static void add_tests(const char *root, const char *sub, test **tests, size_t *n, size_t *cap) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/%s", root, sub);
  struct dirent **ents;
  int k = scandir(dir, &ents, NULL, cmp_dirent);
  for (int i = 0; i < k; i++) {
    if (ents[i]->d_name[0] != '.') {
      char p[4096 + 300];
      snprintf(p, sizeof p, "%s/%s/model.onnx", dir, ents[i]->d_name);
      if (file_exists(p)) {
        if (*n == *cap) {
          *cap = *cap ? *cap * 2 : 256;
          *tests = realloc(*tests, *cap * sizeof **tests);
          if (!*tests) abort();
        }
        test *t = &(*tests)[(*n)++];
        memset(t, 0, sizeof *t);
        t->name = strdup(ents[i]->d_name);
        snprintf(p, sizeof p, "%s/%s", dir, ents[i]->d_name);
        t->dir = strdup(p);
      }
    }
    free(ents[i]);
  }
  if (k > 0) free(ents);
}

static bool matches(const char *name, char **filters, int n) {
  if (n == 0) return true;
  for (int i = 0; i < n; i++) {
    if (strpbrk(filters[i], "*?[")) {
      if (fnmatch(filters[i], name, 0) == 0) return true;
    } else if (strstr(name, filters[i])) {
      return true;
    }
  }
  return false;
}

static void read_xfail(const char *path, strlist *out) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "run_conformance: cannot read %s: %s\n", path, strerror(errno));
    exit(2);
  }
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    char *h = strchr(line, '#');
    if (h) *h = 0;
    char *s = line, *e;
    while (*s == ' ' || *s == '\t') s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
    if (*s) sl_add(out, s);
  }
  fclose(f);
}

typedef struct opstat {
  char *op;
  int tests, passed;
} opstat;

static int cmp_opstat(const void *a, const void *b) {
  return strcmp(((const opstat *)a)->op, ((const opstat *)b)->op);
}

static void write_report(const char *path, test *tests, size_t n) {
  opstat *st = NULL;
  size_t ns = 0, cap = 0;
  int total = 0, passed = 0;
  for (size_t i = 0; i < n; i++) {
    if (!tests[i].ran) continue;
    total++;
    passed += tests[i].passed;
    char *ops = strdup(tests[i].ops && *tests[i].ops ? tests[i].ops : "(unreadable model)");
    for (char *save = NULL, *op = strtok_r(ops, ",", &save); op; op = strtok_r(NULL, ",", &save)) {
      size_t k = 0;
      while (k < ns && strcmp(st[k].op, op) != 0) k++;
      if (k == ns) {
        if (ns == cap) {
          cap = cap ? cap * 2 : 128;
          st = realloc(st, cap * sizeof *st);
          if (!st) abort();
        }
        st[ns++] = (opstat){strdup(op), 0, 0};
      }
      st[k].tests++;
      st[k].passed += tests[i].passed;
    }
    free(ops);
  }
  qsort(st, ns, sizeof *st, cmp_opstat);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "run_conformance: cannot write %s: %s\n", path, strerror(errno));
    exit(2);
  }
  fprintf(f, "# ONNX support\n\n");
  fprintf(f, "Generated by `run_conformance --report-md` (tests/conformance/run_conformance.c)\n"
             "from ONNX's backend tests (v1.22.0, node/ and simple/) run on quarc's reference\n"
             "interpreter. A test counts under every op of its main graph (the `_expanded`\n"
             "tests count under the ops of their function bodies).\n\n");
  fprintf(f, "**%d of %d tests pass (%.1f%%).**\n\n", passed, total,
          total ? 100.0 * passed / total : 0.0);
  fprintf(f, "| op | tests | passed |\n|---|---:|---:|\n");
  for (size_t k = 0; k < ns; k++) {
    fprintf(f, "| %s | %d | %d |\n", st[k].op, st[k].tests, st[k].passed);
    free(st[k].op);
  }
  free(st);
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "run_conformance: cannot write %s\n", path);
    exit(2);
  }
}

static void write_xfail(const char *path, test *tests, size_t n, const strlist *old, bool filtered) {
  strlist names = {0};
  for (size_t i = 0; i < n; i++)
    if (tests[i].ran && !tests[i].passed) sl_add(&names, tests[i].name);
  if (filtered) {
    /* Keep what the filters did not run. */
    for (size_t k = 0; k < old->n; k++) {
      bool ran = false;
      for (size_t i = 0; i < n && !ran; i++) ran = tests[i].ran && strcmp(tests[i].name, old->v[k]) == 0;
      if (!ran && !sl_has(&names, old->v[k])) sl_add(&names, old->v[k]);
    }
  }
  qsort(names.v, names.n, sizeof *names.v, cmp_str);
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "run_conformance: cannot write %s: %s\n", path, strerror(errno));
    exit(2);
  }
  fprintf(f, "# ONNX backend tests (node/ and simple/) expected to fail on quarc's interpreter.\n"
             "# One test name per line. Regenerate with\n"
             "#   run_conformance --xfail tests/conformance/xfail.txt --write-xfail "
             "tests/conformance/xfail.txt\n"
             "# (or `make -C build conformance-xfail`). A test that passes while listed here\n"
             "# fails the conformance/onnx test: remove it from this file.\n");
  for (size_t i = 0; i < names.n; i++) {
    fprintf(f, "%s\n", names.v[i]);
    free(names.v[i]);
  }
  free(names.v);
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "run_conformance: cannot write %s\n", path);
    exit(2);
  }
}

/* The parent's allocations. A child frees them before it exits, so that a leak report
 * (children exit() so that sanitizers check them) names only what the test leaked. */
static test *g_tests;
static size_t g_n_tests;
static size_t *g_todo;
static void *g_slots;
static char **g_filters;
static strlist g_xfail;

static void free_parent_state(void) {
  for (size_t i = 0; i < g_n_tests; i++) {
    free(g_tests[i].name);
    free(g_tests[i].dir);
    free(g_tests[i].reason);
    free(g_tests[i].ops);
  }
  for (size_t i = 0; i < g_xfail.n; i++) free(g_xfail.v[i]);
  free(g_xfail.v);
  free(g_tests);
  free(g_todo);
  free(g_slots);
  free(g_filters);
}

static void usage(void) {
  fprintf(stderr, "usage: run_conformance [--dir DIR] [--xfail FILE] [--write-xfail FILE] "
                  "[--report-md FILE] [--timeout S] [--passes PIPELINE] [--xpass FILE] [-j N] [-q] "
                  "[FILTER...]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *dir = getenv("QUARC_CONFORMANCE_DIR");
#ifdef QUARC_DEFAULT_CONFORMANCE_DIR
  if (!dir || !*dir) dir = QUARC_DEFAULT_CONFORMANCE_DIR;
#endif
  const char *xfail_path = NULL, *write_xfail_path = NULL, *report = NULL, *xpass_path = NULL;
  int timeout = 60, jobs = 1;
  bool quiet = false;
  char **filters = calloc((size_t)argc, sizeof *filters);
  int n_filters = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--dir") == 0 && i + 1 < argc) dir = argv[++i];
    else if (strcmp(a, "--xfail") == 0 && i + 1 < argc) xfail_path = argv[++i];
    else if (strcmp(a, "--write-xfail") == 0 && i + 1 < argc) write_xfail_path = argv[++i];
    else if (strcmp(a, "--report-md") == 0 && i + 1 < argc) report = argv[++i];
    else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) timeout = atoi(argv[++i]);
    else if (strcmp(a, "--passes") == 0 && i + 1 < argc) g_passes = argv[++i];
    else if (strcmp(a, "--xpass") == 0 && i + 1 < argc) xpass_path = argv[++i];
    else if (strcmp(a, "-j") == 0 && i + 1 < argc) jobs = atoi(argv[++i]);
    else if (strncmp(a, "-j", 2) == 0 && a[2]) jobs = atoi(a + 2);
    else if (strcmp(a, "-q") == 0) quiet = true;
    else if (a[0] == '-') usage();
    else filters[n_filters++] = argv[i];
  }
  g_filters = filters;
  if (jobs < 1) jobs = 1;
  if (timeout < 1) timeout = 1;
  if (!dir || !*dir) {
    fprintf(stderr, "run_conformance: no test data (set QUARC_CONFORMANCE_DIR or pass --dir)\n");
    return 77;
  }
  test *tests = NULL;
  size_t n = 0, cap = 0;
  add_tests(dir, "node", &tests, &n, &cap);
  add_tests(dir, "simple", &tests, &n, &cap);
  if (n == 0) {
    fprintf(stderr, "run_conformance: no tests under %s/node or %s/simple\n", dir, dir);
    return 77;
  }
  strlist xfail = {0};
  if (xfail_path) read_xfail(xfail_path, &xfail);
  if (xpass_path) {
    strlist xpass = {0}, kept = {0};
    read_xfail(xpass_path, &xpass);
    for (size_t i = 0; i < xfail.n; i++) {
      if (!sl_has(&xpass, xfail.v[i])) sl_add(&kept, xfail.v[i]);
      free(xfail.v[i]);
    }
    for (size_t i = 0; i < xpass.n; i++) free(xpass.v[i]);
    free(xpass.v);
    free(xfail.v);
    xfail = kept;
  }

  size_t *todo = malloc(n * sizeof *todo), n_todo = 0;
  for (size_t i = 0; i < n; i++)
    if (matches(tests[i].name, filters, n_filters)) todo[n_todo++] = i;

  slot *slots = calloc((size_t)jobs, sizeof *slots);
  g_slots = slots;
  g_todo = todo;
  g_tests = tests;
  g_n_tests = n;
  g_xfail = xfail;
  for (int k = 0; k < jobs; k++) slots[k].pid = 0;
  size_t next = 0, printed = 0, done = 0;
  fflush(stdout);
  while (done < n_todo) {
    /* Start children into free slots. */
    for (int k = 0; k < jobs && next < n_todo; k++) {
      if (slots[k].pid) continue;
      int fds[2];
      if (pipe(fds) != 0) {
        perror("pipe");
        return 2;
      }
      pid_t pid = fork();
      if (pid < 0) {
        perror("fork");
        return 2;
      }
      if (pid == 0) {
        close(fds[0]);
        alarm((unsigned)timeout);
        run_test_child(&tests[todo[next]], fds[1]);
        close(fds[1]);
        free_parent_state();
        exit(0); /* not _exit: let sanitizers report what this test leaked */
      }
      close(fds[1]);
      slots[k] = (slot){.pid = pid, .fd = fds[0], .test = todo[next], .len = 0};
      next++;
    }
    /* Drain pipes until some child finishes. */
    struct pollfd pfd[64];
    int np = 0, map[64];
    for (int k = 0; k < jobs && np < 64; k++)
      if (slots[k].pid && slots[k].fd >= 0) {
        pfd[np] = (struct pollfd){.fd = slots[k].fd, .events = POLLIN};
        map[np++] = k;
      }
    if (np) poll(pfd, (nfds_t)np, 200);
    for (int i = 0; i < np; i++) {
      if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      slot *sl = &slots[map[i]];
      char tmp[4096];
      ssize_t r = read(sl->fd, tmp, sizeof tmp);
      if (r > 0) {
        size_t room = sizeof sl->buf - 1 - sl->len;
        size_t c = (size_t)r < room ? (size_t)r : room;
        memcpy(sl->buf + sl->len, tmp, c);
        sl->len += c;
      } else {
        close(sl->fd);
        sl->fd = -1;
      }
    }
    for (int k = 0; k < jobs; k++) {
      slot *sl = &slots[k];
      if (!sl->pid || sl->fd >= 0) continue;
      int status;
      if (waitpid(sl->pid, &status, 0) < 0) continue;
      finish(&tests[sl->test], sl, status, timeout);
      sl->pid = 0;
      done++;
    }
    /* Print results in order. */
    while (printed < n_todo && tests[todo[printed]].ran) {
      test *t = &tests[todo[printed++]];
      bool expected_fail = sl_has(&xfail, t->name);
      if (t->passed) {
        if (!quiet || expected_fail) printf("PASS %s%s\n", t->name, expected_fail ? " (unexpected: listed in xfail)" : "");
      } else if (!quiet || !expected_fail) {
        printf("FAIL %s: %s\n", t->name, t->reason ? t->reason : "?");
      }
      fflush(stdout);
    }
  }

  int passed = 0, failed = 0;
  strlist unexpected_fail = {0}, unexpected_pass = {0};
  for (size_t k = 0; k < n_todo; k++) {
    test *t = &tests[todo[k]];
    bool xf = sl_has(&xfail, t->name);
    if (t->passed) {
      passed++;
      if (xf) sl_add(&unexpected_pass, t->name);
    } else {
      failed++;
      if (!xf) sl_add(&unexpected_fail, t->name);
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  if (report) write_report(report, tests, n);
  if (write_xfail_path) write_xfail(write_xfail_path, tests, n, &xfail, n_filters > 0);
  int rc = 0;
  if (xfail_path && !write_xfail_path) {
    if (unexpected_fail.n) {
      printf("%zu unexpected failure(s):\n", unexpected_fail.n);
      for (size_t i = 0; i < unexpected_fail.n; i++) printf("  %s\n", unexpected_fail.v[i]);
      rc = 1;
    }
    if (unexpected_pass.n) {
      printf("%zu unexpected pass(es) (remove from %s):\n", unexpected_pass.n, xfail_path);
      for (size_t i = 0; i < unexpected_pass.n; i++) printf("  %s\n", unexpected_pass.v[i]);
      rc = 1;
    }
  }
  strlist *lists[] = {&unexpected_fail, &unexpected_pass};
  for (size_t k = 0; k < 2; k++) {
    for (size_t i = 0; i < lists[k]->n; i++) free(lists[k]->v[i]);
    free(lists[k]->v);
  }
  free_parent_state();
  return rc;
}
