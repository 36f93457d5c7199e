/* Pass plugins: loading the example plugin (examples/plugin) with qc_plugin_load, running
 * its pass through a pipeline, and the errors for a missing file, a missing init symbol, a
 * failing init and an ABI mismatch. See CMakeLists.txt beside this file for how the test
 * executable provides quarc's API to the plugins. */
#include "unit/pass_test_util.h"

#ifndef QUARC_PLUGIN_DIR
#error "QUARC_PLUGIN_DIR must name the directory of the built plugins"
#endif
#define PLUGIN(name) QUARC_PLUGIN_DIR "/" name

static qc_graph *sample(void) {
  qc_graph *g = new_graph();
  int64_t d[1] = {4};
  qc_vid x = add_input(g, "x", QC_F32, 1, d);
  qc_vid c = add_input(g, "c", QC_BOOL, 0, NULL);
  qc_vid a = op1(g, QC_OP_Relu, x, "a");
  qc_vid b = op2(g, QC_OP_Add, a, op1(g, QC_OP_Relu, a, NULL), "b");
  (void)b; /* captured by name in the branches */
  qc_graph *br[2];
  for (int i = 0; i < 2; i++) {
    OK(qc_graph_create(NULL, &br[i]));
    qc_type t = qc_type_tensor(QC_F32, 1, d);
    qc_vid o;
    OK(qc_graph_add_outer(br[i], "b", &t, &o));
    OK(qc_graph_add_output(br[i], op1(br[i], QC_OP_Relu, o, i ? "t" : "e")));
  }
  qc_nid n;
  OK(qc_graph_add_node(g, QC_OP_If, NULL, 1, &c, 1, NULL, &n));
  qc_attr at = {.name = "then_branch", .kind = QC_ATTR_GRAPH, .u.g = br[1]};
  OK(qc_node_set_attr(g, n, &at));
  qc_attr ae = {.name = "else_branch", .kind = QC_ATTR_GRAPH, .u.g = br[0]};
  OK(qc_node_set_attr(g, n, &ae));
  OK(qc_graph_add_output(g, qc_graph_node(g, n)->out[0]));
  return g;
}

static void run_text(qc_context *ctx, qc_graph *g, const char *text) {
  qc_pipeline *p;
  OK(qc_pipeline_parse(ctx, text, &p));
  qc_pipeline_options o = {.verify_each = true};
  OK(qc_pipeline_run(p, g, &o));
  qc_pipeline_destroy(p);
}

START_TEST(example_plugin) {
  qc_context *ctx;
  OK(qc_context_create(&ctx));
  int32_t before = qc_pass_count(ctx);
  ck_assert_ptr_null(qc_pass_find(ctx, "count-ops"));
  OK(qc_plugin_load(ctx, PLUGIN("quarc-count-ops.so")));
  ck_assert_int_eq(qc_pass_count(ctx), before + 1);
  const qc_pass_info *p = qc_pass_find(ctx, "count-ops");
  ck_assert_ptr_nonnull(p);
  ck_assert_int_eq(p->n_options, 2);
  /* Loading it again changes nothing (and is no duplicate-pass error). */
  OK(qc_plugin_load(ctx, PLUGIN("quarc-count-ops.so")));
  ck_assert_int_eq(qc_pass_count(ctx), before + 1);

  qc_graph *g = sample();
  run_text(ctx, g, "count-ops");
  ck_assert_str_eq(qc_graph_meta(g, "op-counts"), "Add=1,If=1,Relu=4");
  run_text(ctx, g, "count-ops{key=top,sub-graphs=false},dce");
  ck_assert_str_eq(qc_graph_meta(g, "top"), "Add=1,If=1,Relu=2");
  qc_graph_destroy(g);

  /* The plugin's options are checked like anyone's. */
  qc_pipeline *pl;
  FAILS_WITH(qc_pipeline_parse(ctx, "count-ops{keys=x}", &pl),
             "pipeline:1:11: error: pass 'count-ops' has no option 'keys' (options: key "
             "(string), sub-graphs (bool))");
  /* A second context loads the same object afresh. */
  qc_context *ctx2;
  OK(qc_context_create(&ctx2));
  OK(qc_plugin_load(ctx2, PLUGIN("quarc-count-ops.so")));
  ck_assert_ptr_nonnull(qc_pass_find(ctx2, "count-ops"));
  qc_context_destroy(ctx2);
  qc_context_destroy(ctx);
}
END_TEST

START_TEST(plugin_errors) {
  qc_context *ctx;
  OK(qc_context_create(&ctx));
  int32_t before = qc_pass_count(ctx);
  qc_status s = qc_plugin_load(ctx, PLUGIN("no-such-plugin.so"));
  ck_assert_int_eq(qc_status_code(s), QC_CODE_NOT_FOUND);
  ck_assert_msg(strstr(qc_status_message(s), "no-such-plugin.so': cannot load:"), "%s",
                qc_status_message(s));
  ck_assert_msg(strstr(qc_status_message(s), "No such file"), "%s", qc_status_message(s));
  qc_status_free(s);
  FAILS_WITH(qc_plugin_load(ctx, PLUGIN("bad-plugin-1.so")),
             "bad-plugin-1.so': no symbol 'quarc_plugin_init' (a plugin must export");
  FAILS_WITH(qc_plugin_load(ctx, PLUGIN("bad-plugin-2.so")),
             "bad-plugin-2.so': quarc_plugin_init failed: cannot find my config");
  /* What the failed init registered is gone again. */
  ck_assert_ptr_null(qc_pass_find(ctx, "half-registered"));
  FAILS_WITH(qc_plugin_load(ctx, PLUGIN("bad-plugin-3.so")), "built for plugin ABI 2, this quarc "
                                                              "has ABI 1");
  FAILS_WITH(qc_plugin_load(ctx, ""), "plugin: empty path");
  ck_assert_int_eq(qc_pass_count(ctx), before);
  qc_context_destroy(ctx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("plugin");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, example_plugin);
  tcase_add_test(tc, plugin_errors);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
