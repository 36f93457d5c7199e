/* Quark configs: presets equal to Quark's own JSON (tests/data/quark_goldens/presets, made by
 * tests/oracle/gen_quark_presets.py with amd-quark 0.13), JSON round trips, legacy keys,
 * validation messages with key paths, the layer resolver's order, fnmatch and Python float
 * formatting. */
#include "passes/quant/qjson.h"
#include "quarc/quant.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  if (b) {
    b[n] = 0;
    if (len) *len = (size_t)n;
  }
  return b;
}

static char *golden_path(const char *name) {
  const char *src = getenv("QUARC_SOURCE_DIR");
  ck_assert_msg(src, "QUARC_SOURCE_DIR must be set (CTest sets it)");
  static char p[4096];
  snprintf(p, sizeof p, "%s/tests/data/quark_goldens/presets/%s.json", src, name);
  return p;
}

static void check_ok(qc_status s) {
  if (s) {
    const char *m = qc_status_message(s);
    ck_abort_msg("unexpected error: %s", m);
  }
}

/* Expect an error whose message contains `want`. */
static void check_err(qc_status s, const char *want) {
  ck_assert_msg(s != NULL, "expected an error containing '%s'", want);
  const char *m = qc_status_message(s);
  ck_assert_msg(strstr(m, want) != NULL, "error '%s' does not contain '%s'", m, want);
  qc_status_free(s);
}

typedef struct {
  const char *file, *scheme, *kv, *attn;
  double min_kv;
  int exclude; /* -1 default, 0 empty, 2: lm_head + *mlp.gate */
} preset_case;

static const preset_case PRESETS[] = {
    {"int8", "int8", NULL, NULL, 0, -1},
    {"fp8", "fp8", NULL, NULL, 0, -1},
    {"fp8_kv_fp8", "fp8", "fp8", NULL, 0, -1},
    {"fp8_kv_fp8_attn_fp8", "fp8", "fp8", "fp8", 0, -1},
    {"int4_wo_128_kv_fp8", "int4_wo_128", "fp8", NULL, 0.25, -1},
    {"ptpc_fp8", "ptpc_fp8", NULL, NULL, 0, -1},
    {"int4_wo_32", "int4_wo_32", NULL, NULL, 0, -1},
    {"int4_wo_64", "int4_wo_64", NULL, NULL, 0, -1},
    {"int4_wo_128", "int4_wo_128", NULL, NULL, 0, -1},
    {"int4_wo_per_channel", "int4_wo_per_channel", NULL, NULL, 0, -1},
    {"int4_wa_64", "int4_wa_64", NULL, NULL, 0, -1},
    {"uint4_wo_32", "uint4_wo_32", NULL, NULL, 0, -1},
    {"uint4_wo_64", "uint4_wo_64", NULL, NULL, 0, -1},
    {"uint4_wo_128", "uint4_wo_128", NULL, NULL, 0, -1},
    {"uint4_wo_per_channel", "uint4_wo_per_channel", NULL, NULL, 0, -1},
    {"mxfp4", "mxfp4", NULL, NULL, 0, -1},
    {"mxfp4_weight_only", "mxfp4_weight_only", NULL, NULL, 0, -1},
    {"mxfp6_e3m2", "mxfp6_e3m2", NULL, NULL, 0, -1},
    {"mxfp6_e2m3", "mxfp6_e2m3", NULL, NULL, 0, -1},
    {"mxfp4_mxfp6_e2m3", "mxfp4_mxfp6_e2m3", NULL, NULL, 0, -1},
    {"mxfp4_fp8", "mxfp4_fp8", NULL, NULL, 0, -1},
    {"amdfp4", "amdfp4", NULL, NULL, 0, -1},
    {"amdfp4_g32", "amdfp4_g32", NULL, NULL, 0, -1},
    {"int4_fp8", "int4_fp8", NULL, NULL, 0, -1},
    {"mx6", "mx6", NULL, NULL, 0, -1},
    {"mx9", "mx9", NULL, NULL, 0, -1},
    {"bfp16", "bfp16", NULL, NULL, 0, -1},
    {"nvfp4", "nvfp4", NULL, NULL, 0, -1},
    {"amdfp4_global16", "amdfp4_global16", NULL, NULL, 0, -1},
    {"amdfp4_global32", "amdfp4_global32", NULL, NULL, 0, -1},
    {"int8_no_exclude", "int8", NULL, NULL, 0, 0},
    {"fp8_exclude2", "fp8", NULL, NULL, 0, 2},
    {"int8_per_channel_dynamic", "int8_per_channel_dynamic", NULL, NULL, 0, -1},
};

START_TEST(presets_equal_quark) {
  for (size_t i = 0; i < sizeof PRESETS / sizeof *PRESETS; i++) {
    const preset_case *pc = &PRESETS[i];
    qc_qpreset_options o;
    memset(&o, 0, sizeof o);
    o.kv_cache_scheme = pc->kv;
    o.attention_scheme = pc->attn;
    o.min_kv_scale = pc->min_kv;
    o.version = "test";
    static const char *const ex2[] = {"lm_head", "*mlp.gate"};
    if (pc->exclude >= 0) {
      o.exclude_given = true;
      o.exclude = ex2;
      o.n_exclude = pc->exclude;
    }
    qc_qconfig *c;
    check_ok(qc_qconfig_preset(pc->scheme, &o, &c));
    char *text;
    size_t len;
    qc_qjson_options jo = {2, false, false};
    check_ok(qc_qconfig_to_json(c, &jo, &text, &len));
    size_t glen;
    char *want = slurp(golden_path(pc->file), &glen);
    ck_assert_msg(want, "missing golden %s", golden_path(pc->file));
    ck_assert_msg(len + 1 == glen && memcmp(text, want, len) == 0,
                  "preset %s differs from Quark's JSON:\n--- quarc\n%s\n--- quark\n%s", pc->file,
                  text, want);
    /* And it reads back to the same text. */
    qc_qconfig *back;
    check_ok(qc_qconfig_from_json(want, glen, pc->file, &back));
    char *text2;
    check_ok(qc_qconfig_to_json(back, &jo, &text2, NULL));
    ck_assert_str_eq(text2, text);
    free(text2);
    qc_qconfig_free(back);
    free(want);
    free(text);
    qc_qconfig_free(c);
  }
}
END_TEST

START_TEST(preset_names_and_errors) {
  int32_t n;
  const char *const *names = qc_qconfig_preset_names(&n);
  ck_assert_int_ge(n, 25);
  for (int32_t i = 0; i < n; i++) {
    qc_qconfig *c;
    check_ok(qc_qconfig_preset(names[i], NULL, &c));
    ck_assert_msg(strncmp(c->version, "quarc-", 6) == 0, "%s: version %s", names[i], c->version);
    qc_qconfig_free(c);
  }
  qc_qconfig *c;
  check_err(qc_qconfig_preset("int5", NULL, &c), "unknown quantization scheme 'int5'");
  check_err(qc_qconfig_preset("int4_wo_0", NULL, &c), "unknown quantization scheme");
  check_ok(qc_qconfig_preset("int4_wo_256", NULL, &c));
  ck_assert_int_eq(c->global_quant_config.weight.v[0].group_size, 256);
  qc_qconfig_free(c);
  qc_qpreset_options o;
  memset(&o, 0, sizeof o);
  o.kv_cache_scheme = "int8";
  check_err(qc_qconfig_preset("fp8", &o, &c), "unknown KV-cache scheme 'int8'");
  /* nvfp4 shares scales across q/k/v and gate/up, as Quark's template does. */
  check_ok(qc_qconfig_preset("nvfp4", NULL, &c));
  ck_assert_int_eq(c->n_shared_scale_groups, 2);
  ck_assert_str_eq(c->shared_scale_groups[0].v[2], "v_proj");
  ck_assert_str_eq(c->shared_scale_groups[1].v[1], "up_proj");
  ck_assert(c->sync_moe_expert_input_amax);
  qc_qconfig_free(c);
  /* with_export: the export block vLLM requires. */
  o.kv_cache_scheme = "fp8";
  o.with_export = true;
  o.version = "test";
  check_ok(qc_qconfig_preset("fp8", &o, &c));
  char *t;
  qc_qjson_options jo = {0, false, false};
  check_ok(qc_qconfig_to_json(c, &jo, &t, NULL));
  ck_assert_msg(strstr(t, "\"export\": {\"weight_merge_groups\": null, \"kv_cache_group\": "
                          "[\"*k_proj\", \"*v_proj\"], \"min_kv_scale\": 0.0, \"weight_format\": "
                          "\"real_quantized\", \"pack_method\": \"reorder\"}}") != NULL,
                "%s", t);
  free(t);
  qc_qconfig_free(c);
}
END_TEST

static qc_status parse(const char *json, qc_qconfig **c) {
  return qc_qconfig_from_json(json, strlen(json), "q.json", c);
}

#define SPEC_INT8 \
  "{\"dtype\": \"int8\", \"is_dynamic\": false, \"qscheme\": \"per_tensor\", \"ch_axis\": null, " \
  "\"group_size\": null, \"symmetric\": true, \"round_method\": \"half_even\", \"scale_type\": " \
  "\"float\", \"observer_cls\": \"PerTensorMinMaxObserver\"}"

START_TEST(legacy_and_partial_configs) {
  qc_qconfig *c;
  /* quark<1.0: dynamic/axis, no observer? (we need one for int8), null maps, null exclude,
   * no quant_mode/version, algo_config as one object. */
  const char *old =
      "{\"global_quant_config\": {\"input_tensors\": null, \"output_tensors\": null, \"weight\": "
      "{\"dtype\": \"int4\", \"dynamic\": false, \"qscheme\": \"per_group\", \"axis\": 1, "
      "\"group_size\": 128, \"symmetric\": false, \"round_method\": \"half_even\", "
      "\"scale_type\": \"float\", \"observer_cls\": \"PerGroupMinMaxObserver\", \"qat_spec\": "
      "null}, \"bias\": null}, \"exclude\": null, \"layer_type_quant_config\": null, "
      "\"layer_quant_config\": null, \"algo_config\": {\"name\": \"awq\", \"scaling_layers\": []},"
      " \"quant_method\": \"quark\"}";
  check_ok(parse(old, &c));
  const qc_qspec *w = &c->global_quant_config.weight.v[0];
  ck_assert_int_eq(w->dtype, QC_QDT_INT4);
  ck_assert_int_eq(w->is_dynamic, QC_QB_FALSE);
  ck_assert(w->has_ch_axis && w->ch_axis == 1);
  ck_assert_int_eq(w->zero_point_type, QC_QZP_INT32);
  ck_assert_int_eq(w->max_input_numel, 4194304);
  ck_assert_str_eq(c->algo_config, "[{\"name\": \"awq\", \"scaling_layers\": []}]");
  ck_assert_ptr_null(c->version);
  char *t;
  check_ok(qc_qconfig_to_json(c, NULL, &t, NULL));
  ck_assert_msg(strstr(t, "\"algo_config\": [{\"name\": \"awq\", \"scaling_layers\": []}]"), "%s", t);
  ck_assert_msg(strstr(t, "\"version\": null"), "%s", t);
  free(t);
  qc_qconfig_free(c);
  /* A config.json: quantization_config is taken. */
  const char *cj = "{\"model_type\": \"llama\", \"quantization_config\": {\"global_quant_config\": "
                   "{\"weight\": " SPEC_INT8 "}, \"export\": {\"kv_cache_group\": [], "
                   "\"pack_method\": \"order\"}}}";
  check_ok(parse(cj, &c));
  ck_assert(c->has_export);
  ck_assert_str_eq(c->export_cfg.pack_method, "order");
  ck_assert_str_eq(c->export_cfg.weight_format, "real_quantized");
  qc_qconfig_free(c);
}
END_TEST

START_TEST(validation_names_the_key) {
  qc_qconfig *c;
  check_err(parse("{\"global_quant_config\": {\"weight\": " SPEC_INT8 ", \"wieght\": null}}", &c),
            "global_quant_config.wieght: unknown key in a QLayerConfig");
  check_err(parse("{\"global_quant_config\": {}, \"exlude\": []}", &c),
            "exlude: unknown key in a QConfig");
  check_err(parse("{\"global_quant_config\": {\"weight\": {\"dtype\": \"int9\"}}}", &c),
            "global_quant_config.weight.dtype: unknown value 'int9'");
  check_err(parse("{\"global_quant_config\": {\"weight\": {\"dtype\": \"int4\", \"is_dynamic\": "
                  "false, \"qscheme\": \"per_group\", \"ch_axis\": 1, \"symmetric\": true, "
                  "\"round_method\": \"half_even\", \"scale_type\": \"float\", \"observer_cls\": "
                  "\"PerGroupMinMaxObserver\"}}}",
                  &c),
            "global_quant_config.weight.group_size: must be a positive integer when qscheme is "
            "per_group");
  check_err(parse("{\"global_quant_config\": {\"weight\": {\"dtype\": \"int4\", \"is_dynamic\": "
                  "false, \"qscheme\": \"per_group\", \"ch_axis\": 1, \"group_size\": 0, "
                  "\"symmetric\": true, \"round_method\": \"half_even\", \"scale_type\": "
                  "\"float\", \"observer_cls\": \"PerGroupMinMaxObserver\"}}}",
                  &c),
            "global_quant_config.weight.group_size: must be a positive integer or -1");
  check_err(parse("{\"global_quant_config\": {\"weight\": {\"dtype\": \"int8\", \"is_dynamic\": "
                  "false, \"qscheme\": \"per_tensor\", \"symmetric\": true, \"round_method\": "
                  "\"half_even\", \"scale_type\": \"float\", \"observer_cls\": "
                  "\"PerChannelMinMaxObserver\"}}}",
                  &c),
            "global_quant_config.weight.observer_cls: PerChannelMinMaxObserver does not support "
            "qscheme per_tensor");
  check_err(parse("{\"global_quant_config\": {\"weight\": {\"dtype\": \"int8\", \"qscheme\": "
                  "\"per_tensor\"}}}",
                  &c),
            "global_quant_config.weight.is_dynamic: cannot be null when dtype is int8");
  check_err(parse("{\"global_quant_config\": {\"weight\": {\"dtype\": \"int8\", \"is_dynamic\": "
                  "false, \"qscheme\": \"per_tensor\", \"observer_cls\": "
                  "\"PerTensorMinMaxObserver\", \"round_method\": \"half_even\", "
                  "\"scale_type\": \"float\"}}}",
                  &c),
            "global_quant_config.weight.symmetric: cannot be null when dtype is int8");
  /* static per-group activations */
  check_err(parse("{\"global_quant_config\": {\"input_tensors\": {\"dtype\": \"fp4\", "
                  "\"is_dynamic\": false, \"qscheme\": \"per_group\", \"ch_axis\": -1, "
                  "\"group_size\": 32, \"scale_format\": \"e8m0\", \"observer_cls\": "
                  "\"PerBlockMXObserver\"}}}",
                  &c),
            "global_quant_config.input_tensors.is_dynamic: static per_group quantization");
  /* lists: the scale quantizer cannot come first */
  check_err(parse("{\"global_quant_config\": {\"weight\": [{\"dtype\": \"fp8_e4m3\", "
                  "\"is_dynamic\": false, \"qscheme\": \"per_tensor\", \"observer_cls\": "
                  "\"PerTensorMinMaxObserver\", \"is_scale_quant\": true}]}}",
                  &c),
            "global_quant_config.weight[0].is_scale_quant: the first stage cannot quantize");
  check_err(parse("{\"global_quant_config\": {}, \"layer_quant_config\": {\"*k_proj\": "
                  "{\"weight\": {\"dtype\": \"fp8_e4m3\", \"is_dynamic\": false, \"qscheme\": "
                  "\"per_tensor\", \"observer_cls\": \"PerTensorMinMaxObserver\", \"scale_type\": "
                  "\"float64\"}}}}",
                  &c),
            "layer_quant_config[\"*k_proj\"].weight.scale_type: unknown value 'float64'");
  check_err(parse("{\"global_quant_config\": {}, \"layer_type_quant_config\": {\"Attention\": "
                  "{}}}",
                  &c),
            "layer_type_quant_config[\"Attention\"]: unknown layer type");
  check_err(parse("{\"global_quant_config\": {\"weight\": {\"dtype\": \"mx\", \"ch_axis\": -1, "
                  "\"group_size\": 32}}}",
                  &c),
            "global_quant_config.weight.mx_element_dtype: must be set when dtype is mx");
  check_err(parse("{\"global_quant_config\": {\"weight\": {\"dtype\": \"fp4\", \"is_dynamic\": "
                  "false, \"qscheme\": \"per_tensor\", \"observer_cls\": "
                  "\"PerTensorMinMaxObserver\"}}}",
                  &c),
            "global_quant_config.weight.qscheme: per_tensor is not implemented for dtype fp4");
  check_err(parse("{\"global_quant_config\": {}, \"exclude\": [\"re:(\"]}", &c),
            "exclude[0]: bad regular expression");
  check_err(parse("{\"global_quant_config\": {}, \"export\": {\"kv_cache_group\": "
                  "[\"*k_proj\"]}}",
                  &c),
            "export.kv_cache_group[0]: '*k_proj' names no layer_quant_config pattern");
  check_err(parse("{\"global_quant_config\": {}, \"export\": {\"pack_method\": \"zigzag\"}}", &c),
            "export.pack_method: expected \"reorder\" or \"order\"");
  check_err(parse("{\"global_quant_config\": {}, \"quant_method\": \"awq\"}", &c),
            "quant_method: expected \"quark\"");
  check_err(parse("{\"global_quant_config\": {\"weight\": {\"dtype\": \"int8\", \"is_dynamic\": "
                  "1}}}",
                  &c),
            "q.json:1:68: global_quant_config.weight.is_dynamic: expected a boolean, got an "
            "integer");
  /* JSON syntax and duplicate keys */
  check_err(parse("{\"global_quant_config\": {}, \"exclude\": [], \"exclude\": []}", &c),
            "q.json:1:44: duplicate key 'exclude'");
  check_err(parse("{\"global_quant_config\": {},}", &c), "q.json:1:28: expected a string key");
  check_err(parse("{\"exclude\": []}", &c), "global_quant_config: missing");
}
END_TEST

static qc_qspec int8_spec(void) {
  qc_qspec s;
  qc_qspec_init(&s);
  s.dtype = QC_QDT_INT8;
  s.is_dynamic = QC_QB_FALSE;
  s.qscheme = QC_QSCHEME_PER_TENSOR;
  s.observer_cls = QC_QOBS_PER_TENSOR_MINMAX;
  s.symmetric = QC_QB_TRUE;
  s.round_method = QC_QROUND_HALF_EVEN;
  s.scale_type = QC_QSCALE_TYPE_FLOAT;
  return s;
}

START_TEST(resolver_order) {
  qc_qconfig *c;
  check_ok(qc_qconfig_new(&c));
  qc_qspec g = int8_spec(), a = int8_spec(), b = int8_spec(), t = int8_spec(), kv = int8_spec();
  a.dtype = QC_QDT_UINT8;
  b.symmetric = QC_QB_FALSE;
  t.is_dynamic = QC_QB_TRUE;
  kv.qscheme = QC_QSCHEME_PER_TENSOR;
  kv.dtype = QC_QDT_INT16;
  check_ok(qc_qspecs_set(&c->global_quant_config.weight, &g, 1, false));
  qc_qlayer la, lb, lt, lk;
  memset(&la, 0, sizeof la);
  memset(&lb, 0, sizeof lb);
  memset(&lt, 0, sizeof lt);
  memset(&lk, 0, sizeof lk);
  la.weight = (qc_qspecs){1, false, &a};
  lb.weight = (qc_qspecs){1, false, &b};
  lt.weight = (qc_qspecs){1, false, &t};
  lk.weight = (qc_qspecs){1, false, &kv};
  lk.output_tensors = (qc_qspecs){1, false, &kv};
  check_ok(qc_qconfig_set_layer(c, "*mlp*", &la));
  check_ok(qc_qconfig_set_layer(c, "model.layers.1.mlp.up_proj", &lb)); /* exact wins */
  check_ok(qc_qconfig_set_layer_type(c, "Conv2d", &lt));
  check_ok(qc_qconfig_set_layer_type(c, "Embedding", &lt));
  check_ok(qc_qconfig_set_kv_cache(c, "*k_proj", &lk));
  check_ok(qc_qstrings_push(&c->exclude, "lm_head"));
  check_ok(qc_qstrings_push(&c->exclude, "*.gate"));
  check_ok(qc_qstrings_push(&c->exclude, "re:.*layers\\.3\\..*"));
  check_ok(qc_qstrings_push(&c->exclude, "model.layers.4.self_attn.k_proj"));
  qc_qresolution r;
  check_ok(qc_qconfig_resolve(c, "model.layers.0.mlp.up_proj", QC_QLAYER_LINEAR, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_LAYER);
  ck_assert_str_eq(r.pattern, "*mlp*");
  ck_assert_int_eq(r.layer.weight.v[0].dtype, QC_QDT_UINT8);
  check_ok(qc_qconfig_resolve(c, "model.layers.1.mlp.up_proj", QC_QLAYER_LINEAR, &r));
  ck_assert_str_eq(r.pattern, "model.layers.1.mlp.up_proj");
  ck_assert_int_eq(r.layer.weight.v[0].symmetric, QC_QB_FALSE);
  check_ok(qc_qconfig_resolve(c, "model.layers.0.mlp.gate", QC_QLAYER_LINEAR, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_EXCLUDED);
  ck_assert_str_eq(r.pattern, "*.gate");
  check_ok(qc_qconfig_resolve(c, "lm_head", QC_QLAYER_LINEAR, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_EXCLUDED);
  check_ok(qc_qconfig_resolve(c, "lm_head.x", QC_QLAYER_LINEAR, &r)); /* no expansion */
  ck_assert_int_eq(r.source, QC_QSOURCE_GLOBAL);
  check_ok(qc_qconfig_resolve(c, "model.layers.3.self_attn.o_proj", QC_QLAYER_LINEAR, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_EXCLUDED);
  check_ok(qc_qconfig_resolve(c, "model.layers.2.conv", QC_QLAYER_CONV2D, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_LAYER_TYPE);
  ck_assert_int_eq(r.layer.weight.v[0].is_dynamic, QC_QB_TRUE);
  check_ok(qc_qconfig_resolve(c, "model.layers.2.o_proj", QC_QLAYER_LINEAR, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_GLOBAL);
  check_ok(qc_qconfig_resolve(c, "model.embed_tokens", QC_QLAYER_EMBEDDING, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_LAYER_TYPE);
  check_ok(qc_qconfig_resolve(c, "model.embed", QC_QLAYER_EMBEDDING_BAG, &r)); /* no global */
  ck_assert_int_eq(r.source, QC_QSOURCE_NONE);
  check_ok(qc_qconfig_resolve(c, "model.softmax", QC_QLAYER_OTHER, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_NONE);
  check_ok(qc_qconfig_resolve(c, "model.layers.0.self_attn.k_proj", QC_QLAYER_LINEAR, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_KV_CACHE);
  ck_assert_int_eq(r.layer.weight.v[0].dtype, QC_QDT_INT16);
  check_ok(qc_qconfig_resolve(c, "model.layers.4.self_attn.k_proj", QC_QLAYER_LINEAR, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_KV_CACHE); /* excluded: only the KV output stays */
  ck_assert_int_eq(r.layer.weight.n, 0);
  ck_assert_int_eq(r.layer.output_tensors.n, 1);
  /* vLLM: exclude only exact or re:, layer patterns without '*' match by substring. */
  check_ok(qc_qconfig_resolve_ex(c, "model.layers.0.mlp.gate", QC_QLAYER_LINEAR, QC_QMATCH_VLLM,
                                 &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_LAYER);
  check_ok(qc_qconfig_resolve_ex(c, "layers.1.mlp.up_proj", QC_QLAYER_LINEAR, QC_QMATCH_VLLM,
                                 &r));
  ck_assert_str_eq(r.pattern, "*mlp*");
  check_ok(qc_qconfig_resolve_ex(c, "mlp.up", QC_QLAYER_LINEAR, QC_QMATCH_VLLM, &r));
  ck_assert_int_eq(r.source, QC_QSOURCE_LAYER);
  qc_qconfig_free(c);
}
END_TEST

START_TEST(patterns) {
  ck_assert(qc_fnmatch("*lm_head", "model.lm_head"));
  ck_assert(qc_fnmatch("*", ""));
  ck_assert(qc_fnmatch("a?c", "abc"));
  ck_assert(!qc_fnmatch("a?c", "ac"));
  ck_assert(qc_fnmatch("*.layers.[0-3].*", "m.layers.2.q"));
  ck_assert(!qc_fnmatch("*.layers.[!0-3].*", "m.layers.2.q"));
  ck_assert(qc_fnmatch("*.layers.[!0-3].*", "m.layers.7.q"));
  ck_assert(qc_fnmatch("a[]]b", "a]b"));
  ck_assert(qc_fnmatch("a[b", "a[b")); /* unterminated class: literal */
  ck_assert(!qc_fnmatch("*k_proj", "k_proj.x"));
  ck_assert(qc_fnmatch("*k_proj*", "k_proj.x"));
  ck_assert(!qc_fnmatch("LM_HEAD", "lm_head")); /* case-sensitive */
  bool m;
  check_ok(qc_qpattern_match("re:.*mlp.gate$", "model.layers.0.mlp.gate", &m));
  ck_assert(m);
  check_ok(qc_qpattern_match("re:mlp", "model.mlp", &m)); /* re.match: anchored at start */
  ck_assert(!m);
  check_ok(qc_qpattern_match("re:model", "model.mlp", &m));
  ck_assert(m);
  check_err(qc_qpattern_match("re:[", "x", &m), "bad regular expression");
}
END_TEST

static const char *fmt(double d) {
  static char out[64];
  qc_bytes b = {0};
  qc_json_put_double(&b, d);
  snprintf(out, sizeof out, "%s", b.p);
  free(b.p);
  return out;
}

START_TEST(python_json_formatting) {
  ck_assert_str_eq(fmt(0.0), "0.0");
  ck_assert_str_eq(fmt(-0.0), "-0.0");
  ck_assert_str_eq(fmt(1.0), "1.0");
  ck_assert_str_eq(fmt(0.1), "0.1");
  ck_assert_str_eq(fmt(1e-05), "1e-05");
  ck_assert_str_eq(fmt(0.0001), "0.0001");
  ck_assert_str_eq(fmt(1e16), "1e+16");
  ck_assert_str_eq(fmt(1e15), "1000000000000000.0");
  ck_assert_str_eq(fmt(123456789.125), "123456789.125");
  ck_assert_str_eq(fmt(1.5e-300), "1.5e-300");
  ck_assert_str_eq(fmt(2.0 / 3.0), "0.6666666666666666");
  ck_assert_str_eq(fmt(NAN), "NaN");
  ck_assert_str_eq(fmt(-INFINITY), "-Infinity");
  qj_value *v;
  const char *j = "{\"b\": [1, 2.5, \"\\u00e9\\ud83d\\ude00\\n\", null, true], \"a\": {}}";
  check_ok(qj_parse(j, strlen(j), "t", &v));
  qc_bytes b = {0};
  qj_put_value(&b, v, 0, 0, false);
  ck_assert_str_eq(b.p, "{\"b\": [1, 2.5, \"\\u00e9\\ud83d\\ude00\\n\", null, true], \"a\": {}}");
  b.n = 0;
  qj_put_value(&b, v, 2, 0, true);
  ck_assert_str_eq(b.p, "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.5,\n    "
                        "\"\\u00e9\\ud83d\\ude00\\n\",\n    null,\n    true\n  ]\n}");
  /* json.dumps("\x7f\x01") escapes DEL too: everything outside U+0020..U+007E. */
  b.n = 0;
  qc_json_put_cstring(&b, "\x7f\x01\"");
  ck_assert_str_eq(b.p, "\"\\u007f\\u0001\\\"\"");
  free(b.p);
  qj_free(v);
}
END_TEST

START_TEST(roundtrip_everything) {
  /* Every field set to a non-default value survives write -> read -> write. */
  qc_qconfig *c;
  check_ok(qc_qconfig_preset("nvfp4", NULL, &c));
  qc_qspec s = int8_spec();
  s.zero_point_type = QC_QZP_FLOAT32;
  s.symmetric = QC_QB_FALSE;
  s.max_input_numel = 12345;
  s.enable_buffer_reuse = true;
  s.round_method = QC_QROUND_FLOOR;
  s.scale_type = QC_QSCALE_TYPE_BFLOAT16;
  qc_qlayer l;
  memset(&l, 0, sizeof l);
  l.bias = (qc_qspecs){1, false, &s};
  l.target_device = QC_QDEVICE_IPU;
  check_ok(qc_qconfig_set_layer(c, "model.layers.0.*", &l));
  c->kv_cache_post_rope = true;
  c->quant_mode = QC_QMODE_FX_GRAPH;
  free(c->algo_config);
  c->algo_config = strdup("[{\"name\": \"gptq\", \"damp_percent\": 0.01, \"block_size\": 128}]");
  c->has_export = true;
  check_ok(qc_qstrings_push(&c->export_cfg.kv_cache_group, "model.layers.0.*"));
  l.output_tensors = (qc_qspecs){1, false, &s};
  l.output_tensors.v[0].zero_point_type = QC_QZP_INT32;
  check_ok(qc_qconfig_set_layer(c, "model.layers.0.*", &l));
  c->export_cfg.min_kv_scale = 1e-3;
  c->export_cfg.has_weight_merge_groups = true;
  c->export_cfg.n_weight_merge_groups = 1;
  c->export_cfg.weight_merge_groups = calloc(1, sizeof(qc_qstrings));
  check_ok(qc_qstrings_push(&c->export_cfg.weight_merge_groups[0], "*q_proj"));
  char *t1, *t2;
  size_t n1;
  check_ok(qc_qconfig_to_json(c, NULL, &t1, &n1));
  qc_qconfig *d;
  check_ok(qc_qconfig_from_json(t1, n1, "t1", &d));
  check_ok(qc_qconfig_to_json(d, NULL, &t2, NULL));
  ck_assert_str_eq(t1, t2);
  ck_assert_msg(strstr(t1, "\"min_kv_scale\": 0.001") && strstr(t1, "\"target_device\": \"ipu\"") &&
                    strstr(t1, "\"round_method\": \"floor\"") &&
                    strstr(t1, "\"quant_mode\": \"fx_graph_mode\"") &&
                    strstr(t1, "\"weight_merge_groups\": [[\"*q_proj\"]]"),
                "%s", t1);
  qc_qconfig *e;
  check_ok(qc_qconfig_clone(d, &e));
  char *t3;
  check_ok(qc_qconfig_to_json(e, NULL, &t3, NULL));
  ck_assert_str_eq(t1, t3);
  free(t1);
  free(t2);
  free(t3);
  qc_qconfig_free(c);
  qc_qconfig_free(d);
  qc_qconfig_free(e);
}
END_TEST

int main(void) {
  Suite *s = suite_create("quant_config");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, presets_equal_quark);
  tcase_add_test(tc, preset_names_and_errors);
  tcase_add_test(tc, legacy_and_partial_configs);
  tcase_add_test(tc, validation_names_the_key);
  tcase_add_test(tc, resolver_order);
  tcase_add_test(tc, patterns);
  tcase_add_test(tc, python_json_formatting);
  tcase_add_test(tc, roundtrip_everything);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
