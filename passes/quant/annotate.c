/* quant-annotate{config=FILE | scheme=NAME, exclude=PATTERNS, kv-cache=fp8}: resolve a Quark
 * config against the layers of the graph.
 *
 * The config is a Quark JSON file (QConfig.to_dict(), or a config.json holding it) or one
 * of the presets; `exclude` adds patterns to its exclude list (comma or semicolon
 * separated: "lm_head;*.gate"); `kv-cache=fp8` adds Quark's fp8 KV-cache config to a
 * preset. Every layer (passes/quant/sites.c) is resolved in Quark's order (exclude,
 * layer_quant_config, layer_type_quant_config, global, kv_cache overrides) and gets a
 * record quant.layer.<name> (passes/quant/qpass.h) with the QLayerConfig that applies and
 * where it came from; the config itself is kept as quant.config. The graph is not changed
 * otherwise: `observe` reads the records. */
#include "passes/internal.h"
#include "passes/quant/qjson.h"
#include "passes/quant/qpass.h"
#include "runtime/k_qc.h"

#include <stdio.h>
#include <stdlib.h>

static const char *source_name(qc_qsource s) {
  switch (s) {
  case QC_QSOURCE_EXCLUDED: return "excluded";
  case QC_QSOURCE_LAYER: return "layer_quant_config";
  case QC_QSOURCE_LAYER_TYPE: return "layer_type_quant_config";
  case QC_QSOURCE_GLOBAL: return "global_quant_config";
  case QC_QSOURCE_KV_CACHE: return "kv_cache_quant_config";
  default: return "none";
  }
}

static qc_status put_specs(qc_bytes *b, const char *key, const qc_qspecs *s, bool first) {
  if (!first) qc_bytes_puts(b, ", ");
  qc_json_put_cstring(b, key);
  qc_bytes_puts(b, ": ");
  if (s->n == 0) {
    qc_bytes_puts(b, "null");
    return QC_OK;
  }
  char *text;
  QC_RETURN_IF_ERROR(qc_qattr_json(s, &text));
  qc_bytes_puts(b, text);
  free(text);
  return QC_OK;
}

/* The record of one layer (see passes/quant/qpass.h). */
static qc_status record(const qc_graph *g, const qc_qsite *s, const qc_qresolution *r, char **out) {
  qc_bytes b = {0};
  const qc_node *nd = qc_graph_node(g, s->node);
  qc_bytes_puts(&b, "{\"op\": ");
  qc_json_put_cstring(&b, qc_op_name(nd->op));
  qc_bytes_puts(&b, ", \"type\": ");
  qc_json_put_cstring(&b, qc_qsite_type_name(s->type));
  qc_bytes_puts(&b, ", \"node\": ");
  qc_json_put_cstring(&b, qc_graph_value(g, nd->out[0])->name);
  qc_bytes_puts(&b, ", \"weight\": ");
  qc_json_put_cstring(&b, qc_graph_value(g, s->weight_const)->name);
  qc_bytes_puts(&b, ", \"source\": ");
  qc_json_put_cstring(&b, source_name(r->source));
  qc_bytes_puts(&b, ", \"pattern\": ");
  if (r->pattern) qc_json_put_cstring(&b, r->pattern);
  else qc_bytes_puts(&b, "null");
  qc_bytes_puts(&b, ", \"config\": {");
  qc_status st = put_specs(&b, "input_tensors", &r->layer.input_tensors, true);
  if (!st) st = put_specs(&b, "output_tensors", &r->layer.output_tensors, false);
  if (!st) st = put_specs(&b, "weight", &r->layer.weight, false);
  if (!st) st = put_specs(&b, "bias", &r->layer.bias, false);
  qc_bytes_puts(&b, "}}");
  qc_bytes_putc(&b, 0);
  if (!st && b.oom) st = QC_OOM();
  if (st) {
    free(b.p);
    return st;
  }
  *out = b.p;
  return QC_OK;
}

/* Split "a;b,c" into the config's exclude list. */
static qc_status add_excludes(qc_qconfig *cfg, const char *list) {
  const char *p = list;
  while (*p) {
    while (*p == ',' || *p == ';' || *p == ' ') p++;
    const char *e = p;
    while (*e && *e != ',' && *e != ';') e++;
    const char *t = e;
    while (t > p && t[-1] == ' ') t--;
    if (t > p) {
      char *pat = strndup(p, (size_t)(t - p));
      if (!pat) return QC_OOM();
      qc_status s = qc_qstrings_push(&cfg->exclude, pat);
      free(pat);
      QC_RETURN_IF_ERROR(s);
    }
    p = e;
  }
  return QC_OK;
}

qc_status qc_quant_config_load(const char *file, const char *scheme, const char *exclude,
                               const char *kv_cache, const char *algo, qc_qconfig **out) {
  *out = NULL;
  file = file ? file : "";
  scheme = scheme ? scheme : "";
  if (!!*file == !!*scheme)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         *file ? "give a config file or a scheme, not both"
                               : "no quantization config: give a config file or a scheme");
  if (*file) {
    if (kv_cache && *kv_cache)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "the KV-cache scheme '%s' applies to a preset; a config file says it in "
                           "kv_cache_quant_config",
                           kv_cache);
    QC_RETURN_IF_ERROR(qc_qconfig_read_file(file, out));
  } else {
    qc_qpreset_options po;
    memset(&po, 0, sizeof po);
    if (kv_cache && *kv_cache) po.kv_cache_scheme = kv_cache;
    QC_RETURN_IF_ERROR(qc_qconfig_preset(scheme, &po, out));
  }
  qc_status s = add_excludes(*out, exclude ? exclude : "");
  if (!s && algo && *algo) s = qc_qalgos_add(*out, algo);
  if (!s) s = qc_qconfig_validate(*out);
  qc_qalgo *al = NULL;
  int32_t nal = 0;
  if (!s) s = qc_qalgos_parse((*out)->algo_config, *file ? file : scheme, &al, &nal);
  free(al);
  if (s) {
    qc_qconfig_free(*out);
    *out = NULL;
  }
  return s;
}

static qc_status run_annotate(qc_graph *g, const qc_pass_args *a, void *user) {
  (void)user;
  qc_vid nf = qc_qgraph_not_f32(g);
  if (nf >= 0) {
    const char *dt = qc_dtype_name(qc_graph_value(g, nf)->type.dtype);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "quant-annotate: value '%s' is %s: the quantization passes compute in "
                         "f32; run convert-float{from=%s,to=f32} first (quarc quantize does)",
                         qc_graph_value(g, nf)->name, dt, dt);
  }
  qc_qconfig *cfg;
  QC_RETURN_IF_ERROR(qc_quant_config_load(qc_pass_arg_string(a, "config"),
                                          qc_pass_arg_string(a, "scheme"),
                                          qc_pass_arg_string(a, "exclude"),
                                          qc_pass_arg_string(a, "kv-cache"),
                                          qc_pass_arg_string(a, "algo"), &cfg));
  char *json = NULL;
  size_t len = 0;
  qc_status st = qc_qconfig_to_json(cfg, NULL, &json, &len);
  if (!st) st = qc_graph_set_meta(g, "quant.config", json);
  free(json);
  qc_qsite *sites = NULL;
  int32_t n = 0;
  if (!st) st = qc_qsites_find(g, &sites, &n);
  for (int32_t i = 0; i < n && !st; i++) {
    qc_qresolution r;
    st = qc_qconfig_resolve(cfg, sites[i].name, sites[i].type, &r);
    char *rec = NULL;
    if (!st) st = record(g, &sites[i], &r, &rec);
    if (!st) {
      size_t kl = strlen(sites[i].name) + 16;
      char *key = malloc(kl);
      if (!key) st = QC_OOM();
      else {
        snprintf(key, kl, "quant.layer.%s", sites[i].name);
        st = qc_graph_set_meta(g, key, rec);
      }
      free(key);
    }
    free(rec);
    if (st) st = qc_status_wrap(st, "layer '%s'", sites[i].name);
  }
  qc_qsites_free(sites, n);
  qc_qconfig_free(cfg);
  return st;
}

static const qc_pass_option OPTIONS[] = {
    {"config", QC_OPT_STRING, "", "a Quark config JSON file (QConfig.to_dict(), or a config.json)"},
    {"scheme", QC_OPT_STRING, "", "a preset: int8, fp8, int4_wo_128, mxfp4, nvfp4, ..."},
    {"exclude", QC_OPT_STRING, "", "more exclude patterns, separated by ',' or ';'"},
    {"kv-cache", QC_OPT_STRING, "", "KV-cache scheme added to a preset (fp8)"},
    {"algo", QC_OPT_STRING, "", "algorithms added to algo_config: rotation, smooth, gptq, qronos (',' separated)"},
};
const qc_pass_info qc_pass_quant_annotate = {
    "quant-annotate", "resolve a Quark quantization config against the layers (records only)",
    OPTIONS, 5, run_annotate, NULL};
