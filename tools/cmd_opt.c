/* quarc opt IN --passes=PIPELINE -o OUT — run a pass pipeline over a model.
 *
 * The input is verified after loading and the result before writing; nothing is written
 * when anything fails (writers are atomic). `-o -` prints the result as .qir on stdout.
 * Dumps (--print-after) and the timing report (--time-passes) go to stderr. */
#include "tools/cli.h"

#include <stdlib.h>
#include <string.h>

#define OPT_USAGE                                                                                \
  "quarc opt IN [--passes=PIPELINE] -o OUT [--verify-each] [--print-after=PASS|all]... "         \
  "[--time-passes] [--load-pass-plugin LIB.so]... [--list-passes]"

/* Messages that already carry a location ("f.qir:3:7: error: ...", "pipeline:1:5: error:")
 * are printed as they are, so that editors and FileCheck see the location first. */
static int fail(qc_status s) {
  const char *m = qc_status_message(s);
  if (strstr(m, ": error: ")) fprintf(stderr, "%s\n", m);
  else fprintf(stderr, "quarc opt: error: %s\n", m);
  qc_status_free(s);
  return 1;
}

typedef struct timing {
  const char *pass;
  double seconds;
} timing;

typedef struct run_state {
  const char **print_after;
  int n_print_after;
  bool time_passes;
  timing *times;
  int n_times, cap_times;
  bool oom;
} run_state;

static bool wants_dump(const run_state *rs, const char *pass) {
  for (int i = 0; i < rs->n_print_after; i++)
    if (strcmp(rs->print_after[i], "all") == 0 || strcmp(rs->print_after[i], pass) == 0)
      return true;
  return false;
}

static void after_pass(void *user, const char *pass, const qc_graph *g, double seconds) {
  run_state *rs = user;
  if (rs->time_passes) {
    if (rs->n_times == rs->cap_times) {
      int nc = rs->cap_times ? rs->cap_times * 2 : 16;
      timing *t = realloc(rs->times, sizeof *t * (size_t)nc);
      if (!t) {
        rs->oom = true;
        return;
      }
      rs->times = t;
      rs->cap_times = nc;
    }
    rs->times[rs->n_times++] = (timing){pass, seconds};
  }
  if (wants_dump(rs, pass)) {
    char *text = NULL;
    size_t len = 0;
    qc_status s = qc_qir_print(g, NULL, &text, &len);
    fprintf(stderr, "# ----- after pass '%s' -----\n", pass);
    if (s) {
      fprintf(stderr, "# (cannot print: %s)\n", qc_status_message(s));
      qc_status_free(s);
    } else {
      fwrite(text, 1, len, stderr);
      if (len && text[len - 1] != '\n') fputc('\n', stderr);
    }
    free(text);
  }
}

static void print_timing(const run_state *rs) {
  double total = 0;
  for (int i = 0; i < rs->n_times; i++) total += rs->times[i].seconds;
  fprintf(stderr, "===-- pass execution timing report --===\n");
  fprintf(stderr, "  total: %.6f s over %d passes\n", total, rs->n_times);
  fprintf(stderr, "  %12s  %7s  %s\n", "seconds", "share", "pass");
  for (int i = 0; i < rs->n_times; i++)
    fprintf(stderr, "  %12.6f  %6.1f%%  %s\n", rs->times[i].seconds,
            total > 0 ? 100.0 * rs->times[i].seconds / total : 0.0, rs->times[i].pass);
}

static void list_passes(const qc_context *ctx) {
  for (int32_t i = 0; i < qc_pass_count(ctx); i++) {
    const qc_pass_info *p = qc_pass_at(ctx, i);
    printf("%-20s %s\n", p->name, p->summary ? p->summary : "");
    for (int32_t k = 0; k < p->n_options; k++) {
      const qc_pass_option *o = &p->options[k];
      static const char *const KIND[] = {"bool", "int", "float", "string"};
      printf("    %s=<%s>", o->name, (unsigned)o->kind <= QC_OPT_STRING ? KIND[o->kind] : "?");
      if (o->dflt) printf(" (default %s)", o->dflt);
      else printf(" (required)");
      if (o->help) printf("  %s", o->help);
      printf("\n");
    }
  }
}

/* "--name=value" or "--name value": returns the value and advances *i, or NULL if argv[*i]
 * is not this option. *missing is set when the value is absent. */
static int run_opt(int argc, char **argv) {
  const char *in = NULL, *out = NULL, *passes = "";
  bool verify_each = false, list = false, missing = false;
  run_state rs = {0};
  const char **plugins = calloc((size_t)argc, sizeof *plugins);
  rs.print_after = calloc((size_t)argc, sizeof *rs.print_after);
  int n_plugins = 0;
  int rc = 0;
  qc_context *ctx = NULL;
  qc_pipeline *pl = NULL;
  qc_graph *g = NULL;
  if (!plugins || !rs.print_after) {
    rc = fail(qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory"));
    goto done;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    missing = false;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      printf("usage: %s\n", OPT_USAGE);
      goto done;
    } else if ((v = cli_opt_value(argc, argv, &i, "--passes", &missing))) {
      passes = v;
    } else if ((v = cli_opt_value(argc, argv, &i, "--print-after", &missing))) {
      rs.print_after[rs.n_print_after++] = v;
    } else if ((v = cli_opt_value(argc, argv, &i, "--load-pass-plugin", &missing))) {
      plugins[n_plugins++] = v;
    } else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else if (strncmp(a, "-o", 2) == 0 && a[2]) {
      out = a + 2;
    } else if (strcmp(a, "--verify-each") == 0) {
      verify_each = true;
    } else if (strcmp(a, "--time-passes") == 0) {
      rs.time_passes = true;
    } else if (strcmp(a, "--list-passes") == 0) {
      list = true;
    } else if (missing || strcmp(a, "-o") == 0) {
      rc = cli_usage_error(&cli_cmd_opt, "option '%s' needs a value", a);
      goto done;
    } else if (a[0] == '-' && a[1]) {
      rc = cli_usage_error(&cli_cmd_opt, "unknown option '%s'", a);
      goto done;
    } else if (in) {
      rc = cli_usage_error(&cli_cmd_opt, "more than one input ('%s' and '%s')", in, a);
      goto done;
    } else {
      in = a;
    }
  }

  qc_status s = qc_context_create(&ctx);
  if (s) {
    rc = fail(s);
    goto done;
  }
  for (int i = 0; i < n_plugins; i++)
    if ((s = qc_plugin_load(ctx, plugins[i]))) {
      rc = fail(s);
      goto done;
    }
  if (list) {
    list_passes(ctx);
    goto done;
  }
  if (!in) {
    rc = cli_usage_error(&cli_cmd_opt, "no input file");
    goto done;
  }
  if (!out) {
    rc = cli_usage_error(&cli_cmd_opt, "no output: give -o OUT (or -o - for stdout)");
    goto done;
  }
  if ((s = qc_pipeline_parse(ctx, passes, &pl))) {
    rc = fail(s);
    goto done;
  }
  for (int i = 0; i < rs.n_print_after; i++)
    if (strcmp(rs.print_after[i], "all") != 0 && !qc_pass_find(ctx, rs.print_after[i])) {
      rc = cli_usage_error(&cli_cmd_opt, "--print-after: unknown pass '%s'", rs.print_after[i]);
      goto done;
    }
  if ((s = qc_model_load(in, QC_FORMAT_AUTO, &g))) {
    rc = fail(s);
    goto done;
  }
  if ((s = qc_graph_verify(g))) {
    rc = fail(qc_status_wrap(s, "%s: the input does not verify", in));
    goto done;
  }
  qc_pipeline_options po = {verify_each, after_pass, &rs};
  s = qc_pipeline_run(pl, g, &po);
  if (rs.time_passes) print_timing(&rs);
  if (s) {
    rc = fail(s);
    goto done;
  }
  if ((s = qc_graph_verify(g))) {
    rc = fail(qc_status_wrap(s, "the result of the pipeline does not verify"));
    goto done;
  }
  if (strcmp(out, "-") == 0) {
    char *text = NULL;
    size_t len = 0;
    if ((s = qc_qir_print(g, NULL, &text, &len))) {
      rc = fail(s);
      goto done;
    }
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
      free(text);
      rc = fail(qc_status_new(QC_CODE_IO, "writing to stdout failed"));
      goto done;
    }
    free(text);
  } else if ((s = qc_model_save(g, out, QC_FORMAT_AUTO))) {
    rc = fail(s);
    goto done;
  }
done:
  qc_graph_destroy(g);
  qc_pipeline_destroy(pl);
  qc_context_destroy(ctx);
  free(plugins);
  free(rs.print_after);
  free(rs.times);
  return rc;
}

const cli_command cli_cmd_opt = {"opt", "run a pass pipeline over a model", OPT_USAGE, run_opt};
