/* The pass manager and pipelines: the registry, typed options, the parser's errors (with
 * their columns), the canonical form, and running (verify-each, the after-pass callback). */
#include "unit/pass_test_util.h"

#include <math.h>
#include <stdio.h>

/* ---- a test pass with one option of every kind ----------------------------------------- */

typedef struct seen_args {
  bool b, b_given;
  int64_t i;
  double f;
  char s[64];
  int runs;
} seen_args;

static qc_status run_probe(qc_graph *g, const qc_pass_args *a, void *user) {
  (void)g;
  seen_args *s = user;
  s->b = qc_pass_arg_bool(a, "flag");
  s->b_given = qc_pass_arg_given(a, "flag");
  s->i = qc_pass_arg_int(a, "count");
  s->f = qc_pass_arg_float(a, "alpha");
  snprintf(s->s, sizeof s->s, "%s", qc_pass_arg_string(a, "path"));
  s->runs++;
  return QC_OK;
}

static const qc_pass_option PROBE_OPTS[] = {
    {"flag", QC_OPT_BOOL, "false", "a bool"},
    {"count", QC_OPT_INT, "3", "an int"},
    {"alpha", QC_OPT_FLOAT, "0.5", "a float"},
    {"path", QC_OPT_STRING, "", "a string"},
};
static seen_args probe_seen;
static const qc_pass_info PROBE = {"probe", "records its options", PROBE_OPTS, 4, run_probe,
                                   &probe_seen};

static qc_status run_fail(qc_graph *g, const qc_pass_args *a, void *user) {
  (void)g, (void)a, (void)user;
  return qc_status_new(QC_CODE_RUNTIME, "boom");
}
static const qc_pass_info FAIL = {"fail", "always fails", NULL, 0, run_fail, NULL};

/* Leaves the graph invalid: the first node reads the output of the last one. */
static qc_status run_break(qc_graph *g, const qc_pass_args *a, void *user) {
  (void)a, (void)user;
  int32_t n = qc_graph_num_nodes(g);
  qc_node_set_input(g, 0, 0, qc_graph_node(g, n - 1)->out[0]);
  return QC_OK;
}
static const qc_pass_info BREAK = {"break", "breaks the graph", NULL, 0, run_break, NULL};

static const qc_pass_option REQ_OPTS[] = {{"config", QC_OPT_STRING, NULL, "required"}};
static const qc_pass_info REQ = {"needs-config", "has a required option", REQ_OPTS, 1, run_fail,
                                 NULL};

static qc_context *ctx_with_probe(void) {
  qc_context *ctx;
  OK(qc_context_create(&ctx));
  OK(qc_pass_register(ctx, &PROBE));
  OK(qc_pass_register(ctx, &FAIL));
  OK(qc_pass_register(ctx, &BREAK));
  OK(qc_pass_register(ctx, &REQ));
  return ctx;
}

static void parse_run(qc_context *ctx, const char *text) {
  qc_pipeline *p;
  OK(qc_pipeline_parse(ctx, text, &p));
  qc_graph *g = new_graph();
  memset(&probe_seen, 0, sizeof probe_seen);
  OK(qc_pipeline_run(p, g, NULL));
  qc_graph_destroy(g);
  qc_pipeline_destroy(p);
}

static void expect_error(qc_context *ctx, const char *text, const char *message) {
  qc_pipeline *p = (qc_pipeline *)1;
  qc_status s = qc_pipeline_parse(ctx, text, &p);
  ck_assert_msg(s, "'%s' parsed, expected: %s", text, message);
  ck_assert_ptr_null(p);
  ck_assert_msg(strstr(qc_status_message(s), message), "'%s': got\n  %s\nexpected\n  %s", text,
                qc_status_message(s), message);
  qc_status_free(s);
}

/* ---- tests ----------------------------------------------------------------------------- */

START_TEST(builtins_registered) {
  qc_context *ctx;
  OK(qc_context_create(&ctx));
  const char *names[] = {"dce", "cse", "fold", "canonicalize"};
  for (int i = 0; i < 4; i++) {
    const qc_pass_info *p = qc_pass_find(ctx, names[i]);
    ck_assert_msg(p, "built-in pass '%s' missing", names[i]);
    ck_assert_str_eq(p->name, names[i]);
    ck_assert_ptr_nonnull(p->summary);
  }
  ck_assert_int_ge(qc_pass_count(ctx), 4);
  ck_assert_ptr_eq(qc_pass_at(ctx, 0), qc_pass_find(ctx, "dce"));
  ck_assert_ptr_null(qc_pass_at(ctx, qc_pass_count(ctx)));
  ck_assert_ptr_null(qc_pass_find(ctx, "nope"));
  qc_context_destroy(ctx);
}
END_TEST

START_TEST(registration_errors) {
  qc_context *ctx = ctx_with_probe();
  FAILS_WITH(qc_pass_register(ctx, &PROBE), "pass 'probe' is already registered");
  static const qc_pass_info bad_name = {"Bad Name", "", NULL, 0, run_fail, NULL};
  FAILS_WITH(qc_pass_register(ctx, &bad_name), "pass 'Bad Name': a pass name is");
  static const qc_pass_option bad_dflt[] = {{"n", QC_OPT_INT, "four", ""}};
  static const qc_pass_info bad_opt = {"bad-default", "", bad_dflt, 1, run_fail, NULL};
  FAILS_WITH(qc_pass_register(ctx, &bad_opt), "option 'n': default 'four' is not a valid int");
  static const qc_pass_option dup[] = {{"n", QC_OPT_INT, "1", ""}, {"n", QC_OPT_BOOL, "1", ""}};
  static const qc_pass_info dup_opt = {"dup-option", "", dup, 2, run_fail, NULL};
  FAILS_WITH(qc_pass_register(ctx, &dup_opt), "option 'n' is declared twice");
  static const qc_pass_info no_run = {"no-run", "", NULL, 0, NULL, NULL};
  FAILS_WITH(qc_pass_register(ctx, &no_run), "has no run function");
  qc_context_destroy(ctx);
}
END_TEST

START_TEST(typed_options) {
  qc_context *ctx = ctx_with_probe();
  parse_run(ctx, "probe");
  ck_assert(!probe_seen.b && !probe_seen.b_given);
  ck_assert_int_eq(probe_seen.i, 3);
  ck_assert(probe_seen.f == 0.5);
  ck_assert_str_eq(probe_seen.s, "");
  parse_run(ctx, "probe{flag}");
  ck_assert(probe_seen.b && probe_seen.b_given);
  parse_run(ctx, "probe{flag=0}");
  ck_assert(!probe_seen.b && probe_seen.b_given);
  parse_run(ctx, "probe{flag=1}");
  ck_assert(probe_seen.b);
  parse_run(ctx, "probe{flag=false}");
  ck_assert(!probe_seen.b);
  parse_run(ctx, " probe { flag = true , count = -12 , alpha = 1e-3 , path = calib/data.bin } ");
  ck_assert(probe_seen.b);
  ck_assert_int_eq(probe_seen.i, -12);
  ck_assert(probe_seen.f == 1e-3);
  ck_assert_str_eq(probe_seen.s, "calib/data.bin");
  parse_run(ctx, "probe{count=0x10,path=\"a, b}{ \\\"q\\\"\"}");
  ck_assert_int_eq(probe_seen.i, 16);
  ck_assert_str_eq(probe_seen.s, "a, b}{ \"q\"");
  parse_run(ctx, "probe{path='it',count=010}");
  ck_assert_int_eq(probe_seen.i, 10); /* decimal, not octal */
  parse_run(ctx, "probe{path='single \\' quote'}");
  ck_assert_str_eq(probe_seen.s, "single ' quote");
  parse_run(ctx, "probe{alpha=2}");
  ck_assert(probe_seen.f == 2.0);
  parse_run(ctx, "probe{count=\"7\"}"); /* quoted numbers are numbers */
  ck_assert_int_eq(probe_seen.i, 7);
  qc_context_destroy(ctx);
}
END_TEST

START_TEST(parse_errors) {
  qc_context *ctx = ctx_with_probe();
  expect_error(ctx, "dce,nope",
               "pipeline:1:5: error: unknown pass 'nope' (known: dce, cse, fold, canonicalize");
  expect_error(ctx, "dce,\n  nope,cse", "pipeline:2:3: error: unknown pass 'nope'");
  expect_error(ctx, "canonicalize{max-iterations=x}",
               "pipeline:1:29: error: option 'max-iterations' of pass 'canonicalize' expects an "
               "int, got 'x'");
  expect_error(ctx, "canonicalize{iterations=4}",
               "pipeline:1:14: error: pass 'canonicalize' has no option 'iterations' (options: "
               "max-iterations (int))");
  expect_error(ctx, "dce{x=1}", "pipeline:1:5: error: pass 'dce' has no option 'x' (it takes no "
                                "options)");
  expect_error(ctx, "probe{flag=yes}", "pipeline:1:12: error: option 'flag' of pass 'probe' "
                                       "expects a bool (true/false/1/0), got 'yes'");
  expect_error(ctx, "probe{alpha=fast}", "expects a float, got 'fast'");
  expect_error(ctx, "probe{count=99999999999999999999}", "expects an int");
  expect_error(ctx, "probe{count}", "pipeline:1:7: error: option 'count' of pass 'probe' needs a "
                                    "value (int)");
  expect_error(ctx, "probe{count=}", "pipeline:1:13: error: option 'count' of pass 'probe': "
                                     "expected a value (int), got '}'");
  expect_error(ctx, "probe{count=1,count=2}", "pipeline:1:15: error: option 'count' of pass "
                                              "'probe' is given twice");
  expect_error(ctx, "probe{path=\"abc}", "pipeline:1:12: error: unterminated string");
  expect_error(ctx, "probe{path=\"a\\qb\"}", "pipeline:1:14: error: unknown escape '\\q'");
  expect_error(ctx, "probe{count=1", "pipeline:1:14: error: expected ',' or '}' in the options of "
                                     "pass 'probe', got end of pipeline");
  expect_error(ctx, "dce,", "pipeline:1:5: error: expected a pass name, got end of pipeline");
  expect_error(ctx, "dce,,cse", "pipeline:1:5: error: expected a pass name, got ','");
  expect_error(ctx, "dce cse", "pipeline:1:5: error: expected ',' between passes, got 'c'");
  expect_error(ctx, "needs-config", "pipeline:1:1: error: pass 'needs-config' needs option "
                                    "'config' (string)");
  qc_context_destroy(ctx);
}
END_TEST

START_TEST(canonical_form) {
  qc_context *ctx = ctx_with_probe();
  struct {
    const char *in, *out;
  } cases[] = {
      {"", ""},
      {"  ", ""},
      {"dce,fold,cse,canonicalize{max-iterations=4}",
       "dce,fold{max-bytes=67108864,fold-qdq=false},cse,canonicalize{max-iterations=4}"},
      {"probe", "probe{flag=false,count=3,alpha=0.5,path=\"\"}"},
      {"probe{path=a/b.json,alpha=0.1,flag}", "probe{flag=true,count=3,alpha=0.1,path=a/b.json}"},
      {"probe{path='x y\"z'}", "probe{flag=false,count=3,alpha=0.5,path=\"x y\\\"z\"}"},
      {"probe{alpha=1e300,count=-0x10}", "probe{flag=false,count=-16,alpha=1e+300,path=\"\"}"},
      {"needs-config{config=q.json}", "needs-config{config=q.json}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    qc_pipeline *p, *q;
    OK(qc_pipeline_parse(ctx, cases[i].in, &p));
    char *s = qc_pipeline_str(p);
    ck_assert_msg(strcmp(s, cases[i].out) == 0, "'%s' printed as '%s', expected '%s'",
                  cases[i].in, s, cases[i].out);
    /* The canonical form parses back to itself. */
    OK(qc_pipeline_parse(ctx, s, &q));
    char *t = qc_pipeline_str(q);
    ck_assert_str_eq(s, t);
    free(s);
    free(t);
    qc_pipeline_destroy(p);
    qc_pipeline_destroy(q);
  }
  qc_pipeline *p;
  OK(qc_pipeline_parse(ctx, "dce,probe{count=5}", &p));
  ck_assert_int_eq(qc_pipeline_num_passes(p), 2);
  ck_assert_str_eq(qc_pipeline_pass_at(p, 1)->name, "probe");
  ck_assert_int_eq(qc_pass_arg_int(qc_pipeline_args_at(p, 1), "count"), 5);
  ck_assert(qc_pass_arg_given(qc_pipeline_args_at(p, 1), "count"));
  ck_assert(!qc_pass_arg_given(qc_pipeline_args_at(p, 1), "alpha"));
  /* Unknown names and kinds read as zero values. */
  ck_assert_int_eq(qc_pass_arg_int(qc_pipeline_args_at(p, 1), "alpha"), 0);
  ck_assert_str_eq(qc_pass_arg_string(qc_pipeline_args_at(p, 1), "nope"), "");
  qc_pipeline_destroy(p);
  qc_context_destroy(ctx);
}
END_TEST

typedef struct trace {
  char names[256];
  int calls;
  bool bad_time;
} trace;

static void on_after(void *user, const char *pass, const qc_graph *g, double seconds) {
  trace *t = user;
  (void)g;
  strncat(t->names, pass, sizeof t->names - strlen(t->names) - 2);
  strcat(t->names, ";");
  t->calls++;
  if (!(seconds >= 0) || !isfinite(seconds)) t->bad_time = true;
}

START_TEST(running) {
  qc_context *ctx = ctx_with_probe();
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid a = op1(g, QC_OP_Relu, x, "a");
  qc_vid b = op1(g, QC_OP_Relu, a, "b");
  OK(qc_graph_add_output(g, b));

  qc_pipeline *p;
  OK(qc_pipeline_parse(ctx, "probe{count=1},dce,probe{count=2}", &p));
  trace t = {0};
  qc_pipeline_options o = {true, on_after, &t};
  memset(&probe_seen, 0, sizeof probe_seen);
  OK(qc_pipeline_run(p, g, &o));
  ck_assert_str_eq(t.names, "probe;dce;probe;");
  ck_assert(!t.bad_time);
  ck_assert_int_eq(probe_seen.runs, 2);
  ck_assert_int_eq(probe_seen.i, 2);
  qc_pipeline_destroy(p);

  /* A failing pass is named; later passes do not run. */
  OK(qc_pipeline_parse(ctx, "dce,fail,probe", &p));
  memset(&t, 0, sizeof t);
  memset(&probe_seen, 0, sizeof probe_seen);
  FAILS_WITH(qc_pipeline_run(p, g, &o), "pass 'fail': boom");
  ck_assert_int_eq(probe_seen.runs, 0);
  ck_assert_str_eq(t.names, "dce;");
  qc_pipeline_destroy(p);

  /* verify-each catches a pass that leaves an invalid graph, after the callback saw it. */
  OK(qc_pipeline_parse(ctx, "break,probe", &p));
  memset(&t, 0, sizeof t);
  FAILS_WITH(qc_pipeline_run(p, g, &o), "after pass 'break': the graph does not verify");
  ck_assert_str_eq(t.names, "break;");
  qc_graph_destroy(g);
  /* ... and without verify-each the pipeline goes on. */
  g = new_graph();
  x = add_input(g, "x", QC_F32, 1, d);
  a = op1(g, QC_OP_Relu, x, "a");
  b = op1(g, QC_OP_Relu, a, "b");
  OK(qc_graph_add_output(g, b));
  memset(&probe_seen, 0, sizeof probe_seen);
  o.verify_each = false;
  OK(qc_pipeline_run(p, g, &o));
  ck_assert_int_eq(probe_seen.runs, 1);
  FAILS_WITH(qc_graph_verify(g), "used before its definition");
  qc_pipeline_destroy(p);
  qc_graph_destroy(g);
  qc_context_destroy(ctx);
}
END_TEST

START_TEST(option_validity) {
  ck_assert(qc_pass_option_valid(QC_OPT_BOOL, "true"));
  ck_assert(qc_pass_option_valid(QC_OPT_BOOL, "0"));
  ck_assert(!qc_pass_option_valid(QC_OPT_BOOL, "2"));
  ck_assert(qc_pass_option_valid(QC_OPT_INT, "-9223372036854775808"));
  ck_assert(!qc_pass_option_valid(QC_OPT_INT, "9223372036854775808"));
  ck_assert(!qc_pass_option_valid(QC_OPT_INT, "1.5"));
  ck_assert(!qc_pass_option_valid(QC_OPT_INT, ""));
  ck_assert(!qc_pass_option_valid(QC_OPT_INT, " 1"));
  ck_assert(qc_pass_option_valid(QC_OPT_FLOAT, "-2.5e-3"));
  ck_assert(!qc_pass_option_valid(QC_OPT_FLOAT, "1e999"));
  ck_assert(!qc_pass_option_valid(QC_OPT_FLOAT, "x"));
  ck_assert(qc_pass_option_valid(QC_OPT_STRING, ""));
  ck_assert(!qc_pass_option_valid(QC_OPT_STRING, NULL));
}
END_TEST

int main(void) {
  Suite *s = suite_create("pipeline");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, builtins_registered);
  tcase_add_test(tc, registration_errors);
  tcase_add_test(tc, typed_options);
  tcase_add_test(tc, parse_errors);
  tcase_add_test(tc, canonical_form);
  tcase_add_test(tc, running);
  tcase_add_test(tc, option_validity);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
