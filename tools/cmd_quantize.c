/* quarc quantize MODEL (--scheme NAME | --config FILE) [--calib DATA] ... -o OUT
 *
 * Quantizes a model the way Quark's ModelQuantizer does (without an algorithm) and
 * exports it: the pass pipeline
 *
 *   [convert-float ->] quant-annotate -> observe -> calibrate -> freeze -> realize -> lower-qdq
 *
 * (convert-float{to=f32} for a model that computes in f16, bf16 or f64: the quantization
 * passes compute in f32)
 *
 * (docs/quant.md "Passes"; lower-qdq for ONNX and .qir only: OUT's format comes from
 * --format or its name, and the Hugging Face / Quark / AWQ / fp8 / GGUF writers, which take
 * quarc export's options, read the quarc ops), with a progress bar for calibration on stderr, a per-layer
 * report (which spec applied and from where, weight SQNR and output SQNR in dB against the
 * float model, scale ranges) on stderr and as OUT.report.json. Both files are written
 * atomically, and nothing is written when anything fails.
 *
 * --calib takes a directory of .pb/.npy inputs (one sub-directory per batch) or a text
 * file, which goes through the model's tokenizer (--tokenizer, by default the model
 * directory's tokenizer.json). Output SQNR is measured on the first calibration batch.
 * --print-config prints the full Quark JSON of the scheme (or the config file, with the
 * --exclude patterns added) and stops.
 */
#include "passes/quant/qjson.h"
#include "passes/quant/qpass.h"
#include "tools/cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OOM() qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory")

#define QUANTIZE_USAGE                                                                             \
  "quarc quantize MODEL (--scheme NAME | --config FILE) [--calib DIR|TEXT] [--tokenizer PATH] "   \
  "[--batches N] [--seq-len L] [--text-mode auto|lines|chunks] [--exclude PATTERN]... "            \
  "[--kv-cache fp8] [--algo NAME[:KEY=VALUE]...,...] [--opset N] [--no-ort] [--matmulnbits] [--no-lower] [--threads N] "           \
  "[--print-config] [--format onnx|qir|hf|quark|awq|fp8|gguf] [--weight-format F] "             \
  "[--pack-method M] [--max-shard-size BYTES] [--force] -o OUT"

typedef struct qopts {
  const char *model, *out, *scheme, *config, *calib, *tokenizer, *text_mode, *kv_cache, *algo;
  char *exclude; /* joined with ';' */
  int64_t batches, seq_len, opset;
  int32_t threads;
  bool ort, nbits, lower, print_config;
  qc_export_format fmt;  /* from --format, else from OUT's name */
  qc_export_options xo;  /* the exporter's options (formats other than onnx and qir) */
} qopts;

/* ---- progress ---------------------------------------------------------------------------- */

typedef struct progress {
  const char *what;
  double start;
  bool tty;
  int last_decile;
  const char *unit; /* what is counted: "batches" (NULL), "layer groups" */
} progress;

static void on_progress(void *user, int64_t done, int64_t total) {
  progress *p = user;
  double el = cli_now() - p->start;
  if (p->tty) {
    int w = 30, f = total ? (int)(w * done / total) : w;
    fprintf(stderr, "\r%s [", p->what);
    for (int i = 0; i < w; i++) fputc(i < f ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld  %.1fs", (long long)done, (long long)total, el);
    if (done == total) fputc('\n', stderr);
  } else {
    int d = total ? (int)(10 * done / total) : 10;
    if (d != p->last_decile || done == total) {
      fprintf(stderr, "%s: %lld/%lld %s, %.1fs\n", p->what, (long long)done, (long long)total,
              p->unit ? p->unit : "batches", el);
      p->last_decile = d;
    }
  }
  fflush(stderr);
}

/* ---- pipeline steps -------------------------------------------------------------------------- */

/* '...' with backslash escapes, as the pipeline grammar reads it. */
static void put_quoted(qc_bytes *b, const char *s) {
  qc_bytes_putc(b, '\'');
  for (; *s; s++) {
    if (*s == '\'' || *s == '\\') qc_bytes_putc(b, '\\');
    qc_bytes_putc(b, *s);
  }
  qc_bytes_putc(b, '\'');
}

static qc_status run_pipeline(qc_context *ctx, qc_graph *g, const char *text) {
  qc_pipeline *pl;
  QC_RETURN_IF_ERROR(qc_pipeline_parse(ctx, text, &pl));
  qc_status s = qc_pipeline_run(pl, g, NULL);
  qc_pipeline_destroy(pl);
  return s;
}

static qc_status step(qc_context *ctx, qc_graph *g, const char *name, const char *text) {
  double t0 = cli_now();
  qc_status s = run_pipeline(ctx, g, text);
  if (!s) fprintf(stderr, "quarc quantize: %-10s %.2fs\n", name, cli_now() - t0);
  return s;
}

/* ---- the report ---------------------------------------------------------------------------- */

typedef struct layer_report {
  char *name;
  const char *type, *op, *source;
  char *pattern;
  char *weight_spec, *input_spec, *output_spec;
  double weight_sqnr, output_sqnr; /* NAN: not measured */
  double wscale_min, wscale_max, iscale_min, iscale_max; /* NAN: none */
  bool input_dynamic;
  char *out_name;   /* the layer's output value (same name in the float and frozen graphs) */
  char *in_name;    /* the value a static per-tensor input quantizer reads (frozen graph) */
  double input_zeroed; /* % of its nonzero inputs that round to 0 (first batch); NAN */
  double input_step;   /* the input dtype's smallest positive value, in scales (NAN: unknown) */
} layer_report;

/* The smallest positive magnitude of a spec's first-stage dtype, in units of its scale: 1
 * for the integers, the smallest subnormal for the float formats (fp8_e4m3: 2^-9). A value
 * below half of it (times the scale) quantizes to 0. */
static double smallest_step(const qc_qspecs *sp) {
  if (sp->n < 1) return NAN;
  qc_qdtype dt = sp->v[0].dtype;
  if (qc_qdtype_is_int(dt)) return 1.0;
  qc_dtype e = qc_qdtype_element(dt);
  if (e == QC_DT_UNDEFINED || !qc_dtype_is_float(e)) return NAN;
  double v = qc_float_decode(e, 1);
  return v > 0 && isfinite(v) ? v : NAN;
}

static const char *source_label(qc_qsource s) {
  switch (s) {
  case QC_QSOURCE_EXCLUDED: return "excluded";
  case QC_QSOURCE_LAYER: return "layer_quant_config";
  case QC_QSOURCE_LAYER_TYPE: return "layer_type_quant_config";
  case QC_QSOURCE_GLOBAL: return "global_quant_config";
  case QC_QSOURCE_KV_CACHE: return "kv_cache_quant_config";
  default: return "none";
  }
}

/* "int4 per_group(128) sym static", stages joined by " + ". NULL for null. */
static char *spec_summary(const qc_qspecs *s) {
  if (s->n == 0) return NULL;
  qc_bytes b = {0};
  for (int32_t i = 0; i < s->n; i++) {
    const qc_qspec *p = &s->v[i];
    char one[256];
    const char *dt = qc_qdtype_name(p->dtype) ? qc_qdtype_name(p->dtype) : "?";
    const char *qs = qc_qscheme_name(p->qscheme) ? qc_qscheme_name(p->qscheme) : "";
    int o = snprintf(one, sizeof one, "%s%s%s", i ? " + " : "", dt, *qs ? " " : "");
    o += snprintf(one + o, sizeof one - (size_t)o, "%s", qs);
    if (p->qscheme == QC_QSCHEME_PER_GROUP && p->has_group_size)
      o += snprintf(one + o, sizeof one - (size_t)o, "(%lld)", (long long)p->group_size);
    if (p->symmetric == QC_QB_TRUE) o += snprintf(one + o, sizeof one - (size_t)o, " sym");
    if (p->symmetric == QC_QB_FALSE) o += snprintf(one + o, sizeof one - (size_t)o, " asym");
    if (p->scale_format && qc_qscale_format_name(p->scale_format))
      o += snprintf(one + o, sizeof one - (size_t)o, " %s", qc_qscale_format_name(p->scale_format));
    if (p->is_scale_quant) o += snprintf(one + o, sizeof one - (size_t)o, " (scales)");
    snprintf(one + o, sizeof one - (size_t)o, " %s", p->is_dynamic == QC_QB_TRUE ? "dynamic" : "static");
    qc_bytes_puts(&b, one);
  }
  qc_bytes_putc(&b, 0);
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}

static double sqnr_db(const float *ref, const float *q, int64_t n) {
  double sig = 0, err = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = (double)ref[i] - (double)q[i];
    sig += (double)ref[i] * ref[i];
    err += d * d;
  }
  if (err == 0) return INFINITY;
  if (sig == 0) return -INFINITY;
  return 10.0 * log10(sig / err);
}

static void tensor_range(const qc_tensor *t, double *mn, double *mx) {
  *mn = INFINITY;
  *mx = -INFINITY;
  int64_t n = qc_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    double v = qc_elem_f64(t->dtype, qc_tensor_data(t), (size_t)i);
    if (v < *mn) *mn = v;
    if (v > *mx) *mx = v;
  }
}

/* The FakeQuant of layer L's role in the frozen graph: "<L>.<role>_quantizer" (the last of
 * a chain). */
static qc_nid find_quantizer(const qc_graph *g, const char *layer, const char *role,
                             qc_vid *out_value) {
  char want[1200];
  snprintf(want, sizeof want, "%s.%s_quantizer", layer, role);
  size_t wl = strlen(want);
  qc_nid best = QC_NONE;
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead || nd->op != QC_OP_Q_FakeQuant || !nd->name) continue;
    if (strncmp(nd->name, want, wl) == 0 && (nd->name[wl] == 0 || nd->name[wl] == '.')) best = n;
  }
  if (best >= 0) *out_value = qc_graph_node(g, best)->out[0];
  return best;
}

/* Weight SQNR and scale ranges from the frozen graph. */
static qc_status measure_weights(const qc_graph *fg, const qc_qsite *fs, const qc_graph *g,
                                 layer_report *r) {
  qc_vid wq;
  qc_nid n = find_quantizer(g, r->name, "weight", &wq);
  if (n >= 0) {
    const qc_node *nd = qc_graph_node(g, n);
    qc_tensor a, b;
    if (nd->n_in > 1 && nd->in[1] >= 0 && qc_qvalue_is_constlike(g, nd->in[1])) {
      /* a constant, or NVFP4's two-stage DequantizePacked(codes, scale_2) */
      QC_RETURN_IF_ERROR(qc_qconst_value(g, nd->in[1], &a));
      tensor_range(&a, &r->wscale_min, &r->wscale_max);
      qc_tensor_release(&a);
    }
    QC_RETURN_IF_ERROR(qc_qconst_value(fg, fs->weight, &a));
    qc_status s = qc_qconst_value(g, wq, &b);
    float *fa = NULL, *fb = NULL;
    if (!s) s = qc_qtensor_f32(&a, &fa);
    if (!s) s = qc_qtensor_f32(&b, &fb);
    if (!s && qc_tensor_numel(&a) != qc_tensor_numel(&b))
      s = qc_status_new(QC_CODE_INTERNAL, "layer '%s': weight shapes differ", r->name);
    if (!s) r->weight_sqnr = sqnr_db(fa, fb, qc_tensor_numel(&a));
    free(fa);
    free(fb);
    qc_tensor_release(&a);
    qc_tensor_release(&b);
    QC_RETURN_IF_ERROR(s);
  }
  qc_vid iq;
  n = find_quantizer(g, r->name, "input", &iq);
  if (n >= 0) {
    const qc_node *nd = qc_graph_node(g, n);
    r->input_dynamic = nd->n_in < 2;
    if (nd->n_in > 1 && nd->in[1] >= 0 && qc_graph_value(g, nd->in[1])->kind == QC_VALUE_CONST)
      tensor_range(&qc_graph_value(g, nd->in[1])->cst, &r->iscale_min, &r->iscale_max);
    if (!r->input_dynamic && r->iscale_min == r->iscale_max && r->iscale_max > 0 &&
        !(r->in_name = strdup(qc_graph_value(g, nd->in[0])->name)))
      return OOM();
  }
  return QC_OK;
}

/* Output SQNR: the float and the quantized graph on one batch; each layer's output
 * compared with the float one as the quantized run reaches it. */
typedef struct capture {
  const qc_graph *g;
  int32_t *layer_of; /* per value of g: layer index or -1 */
  int32_t *input_of; /* per value of g (the quantized run): the layer whose input it is, or -1 */
  qc_tensor *ref;    /* per layer: the float output (held between the runs) */
  layer_report *rep;
  bool second;
} capture;

static qc_status on_capture(void *user, const qc_graph *g, qc_vid v, const qc_rvalue *val) {
  capture *c = user;
  if (g != c->g || val->kind != QC_RV_TENSOR) return QC_OK;
  if (c->second && c->input_of[v] >= 0) {
    /* What a per-tensor static scale does to this batch: the share of the nonzero inputs that
     * round to 0. A large share means a few values (a massive activation on one token) set
     * the range and the rest are lost. */
    layer_report *r = &c->rep[c->input_of[v]];
    float *x = NULL;
    QC_RETURN_IF_ERROR(qc_qtensor_f32(&val->t, &x));
    int64_t n = qc_tensor_numel(&val->t), nz = 0, zeroed = 0;
    for (int64_t i = 0; i < n; i++)
      if (x[i] != 0) nz++, zeroed += fabs((double)x[i]) < 0.5 * r->input_step * r->iscale_max;
    free(x);
    if (nz && !isnan(r->input_step)) r->input_zeroed = 100.0 * (double)zeroed / (double)nz;
  }
  if (c->layer_of[v] < 0) return QC_OK;
  int32_t l = c->layer_of[v];
  if (!c->second) {
    qc_tensor_release(&c->ref[l]);
    qc_tensor_copy_ref(&c->ref[l], &val->t);
    return QC_OK;
  }
  if (!c->ref[l].buf || qc_tensor_numel(&c->ref[l]) != qc_tensor_numel(&val->t)) return QC_OK;
  float *a = NULL, *b = NULL;
  qc_status s = qc_qtensor_f32(&c->ref[l], &a);
  if (!s) s = qc_qtensor_f32(&val->t, &b);
  if (!s) c->rep[l].output_sqnr = sqnr_db(a, b, qc_tensor_numel(&val->t));
  free(a);
  free(b);
  qc_tensor_release(&c->ref[l]);
  return s;
}

static qc_status run_capture(const qc_graph *g, capture *c, int32_t n_layers,
                             const qc_calib_batch *b, int32_t threads) {
  int32_t nv = qc_graph_num_values(g);
  c->g = g;
  free(c->layer_of);
  free(c->input_of);
  c->layer_of = malloc(sizeof *c->layer_of * (size_t)(nv ? nv : 1));
  c->input_of = malloc(sizeof *c->input_of * (size_t)(nv ? nv : 1));
  if (!c->layer_of || !c->input_of) return OOM();
  for (qc_vid v = 0; v < nv; v++) c->layer_of[v] = c->input_of[v] = -1;
  for (int32_t l = 0; l < n_layers; l++) {
    qc_vid v = c->rep[l].out_name ? qc_graph_find(g, c->rep[l].out_name) : QC_NONE;
    if (v >= 0) c->layer_of[v] = l;
    v = c->second && c->rep[l].in_name ? qc_graph_find(g, c->rep[l].in_name) : QC_NONE;
    if (v >= 0) c->input_of[v] = l;
  }
  qc_interp_options io = {threads, on_capture, c, NULL, false};
  int32_t n_out = qc_graph_num_outputs(g);
  qc_rvalue *outs = calloc((size_t)(n_out ? n_out : 1), sizeof *outs);
  if (!outs) return OOM();
  qc_status s = qc_run_graph(g, &io, b->n, b->inputs, n_out, outs);
  for (int32_t i = 0; i < n_out; i++) qc_rvalue_release(&outs[i]);
  free(outs);
  return s;
}

static void put_num(qc_bytes *b, double v) {
  if (isnan(v)) qc_bytes_puts(b, "null");
  else if (isinf(v)) qc_bytes_puts(b, v > 0 ? "Infinity" : "-Infinity");
  else qc_json_put_double(b, v);
}

static void put_str_or_null(qc_bytes *b, const char *s) {
  if (s) qc_json_put_cstring(b, s);
  else qc_bytes_puts(b, "null");
}

static void put_range(qc_bytes *b, double mn, double mx) {
  if (isnan(mn)) {
    qc_bytes_puts(b, "null");
    return;
  }
  qc_bytes_puts(b, "[");
  put_num(b, mn);
  qc_bytes_puts(b, ", ");
  put_num(b, mx);
  qc_bytes_puts(b, "]");
}

typedef struct report {
  layer_report *l;
  int32_t n;
  int64_t calib_batches;
  double seconds;
} report;

static void report_free(report *r) {
  for (int32_t i = 0; i < r->n; i++) {
    free(r->l[i].name);
    free(r->l[i].pattern);
    free(r->l[i].weight_spec);
    free(r->l[i].input_spec);
    free(r->l[i].output_spec);
    free(r->l[i].out_name);
    free(r->l[i].in_name);
  }
  free(r->l);
  memset(r, 0, sizeof *r);
}

static void fmt_db(char *buf, size_t n, double v) {
  if (isnan(v)) snprintf(buf, n, "-");
  else if (isinf(v)) snprintf(buf, n, v > 0 ? "inf" : "-inf");
  else snprintf(buf, n, "%.2f", v);
}

static void print_report(const report *r, const qopts *o, const qc_graph *g) {
  fprintf(stderr, "\n%-48s %-8s %-22s %-30s %-30s %8s %8s  %s\n", "layer", "type", "source", "weight",
          "input", "w SQNR", "out SQNR", "weight scale range");
  double ws = 0, os = 0;
  int nw = 0, no = 0, nq = 0;
  for (int32_t i = 0; i < r->n; i++) {
    const layer_report *l = &r->l[i];
    char a[32], b[32], rng[64] = "-";
    fmt_db(a, sizeof a, l->weight_sqnr);
    fmt_db(b, sizeof b, l->output_sqnr);
    if (!isnan(l->wscale_min)) snprintf(rng, sizeof rng, "[%.3g, %.3g]", l->wscale_min, l->wscale_max);
    fprintf(stderr, "%-48s %-8s %-22s %-30s %-30s %8s %8s  %s\n", l->name, l->type, l->source,
            l->weight_spec ? l->weight_spec : "-", l->input_spec ? l->input_spec : "-", a, b, rng);
    if (l->weight_spec || l->input_spec || l->output_spec) nq++;
    if (isfinite(l->weight_sqnr)) ws += l->weight_sqnr, nw++;
    if (isfinite(l->output_sqnr)) os += l->output_sqnr, no++;
  }
  fprintf(stderr, "\n%d layers, %d quantized; mean weight SQNR ", r->n, nq);
  if (nw) fprintf(stderr, "%.2f dB", ws / nw);
  else fprintf(stderr, "-");
  if (no) fprintf(stderr, ", mean output SQNR %.2f dB (first calibration batch)\n", os / no);
  else fprintf(stderr, ", output SQNR not measured (no calibration data)\n");
  for (int32_t i = 0; i < r->n; i++)
    if (r->l[i].input_zeroed > 50)
      fprintf(stderr,
              "warning: %s: %.0f%% of its nonzero inputs round to 0 at its static per-tensor "
              "scale %.3g (first calibration batch): a few values set the range (a massive "
              "activation); exclude the layer or give it per-token scales\n",
              r->l[i].name, r->l[i].input_zeroed, r->l[i].iscale_max);
  const char *low = qc_graph_meta(g, "quant.lowering");
  if (low) fprintf(stderr, "note: %s\n", low);
  fprintf(stderr, "wrote %s (%.1fs)\n", o->out, r->seconds);
}

static qc_status write_report(const report *r, const qopts *o, const qc_graph *g) {
  qc_bytes b = {0};
  qc_bytes_puts(&b, "{\n  \"model\": ");
  qc_json_put_cstring(&b, o->model);
  qc_bytes_puts(&b, ",\n  \"scheme\": ");
  put_str_or_null(&b, o->scheme);
  qc_bytes_puts(&b, ",\n  \"config\": ");
  put_str_or_null(&b, o->config);
  qc_bytes_puts(&b, ",\n  \"output\": ");
  qc_json_put_cstring(&b, o->out);
  qc_bytes_puts(&b, ",\n  \"calibration\": {\"data\": ");
  put_str_or_null(&b, o->calib);
  qc_bytes_puts(&b, ", \"batches\": ");
  qc_json_put_int(&b, r->calib_batches);
  qc_bytes_puts(&b, "},\n  \"opset\": ");
  qc_json_put_int(&b, qc_graph_opset(g, ""));
  qc_bytes_puts(&b, ",\n  \"lowering\": ");
  put_str_or_null(&b, qc_graph_meta(g, "quant.lowering"));
  qc_bytes_puts(&b, ",\n  \"seconds\": ");
  put_num(&b, r->seconds);
  qc_bytes_puts(&b, ",\n  \"layers\": [");
  double ws = 0, os = 0;
  int nw = 0, no = 0, nq = 0;
  for (int32_t i = 0; i < r->n; i++) {
    const layer_report *l = &r->l[i];
    qc_bytes_puts(&b, i ? ",\n    {" : "\n    {");
    qc_bytes_puts(&b, "\"name\": ");
    qc_json_put_cstring(&b, l->name);
    qc_bytes_puts(&b, ", \"type\": ");
    qc_json_put_cstring(&b, l->type);
    qc_bytes_puts(&b, ", \"op\": ");
    qc_json_put_cstring(&b, l->op);
    qc_bytes_puts(&b, ", \"source\": ");
    qc_json_put_cstring(&b, l->source);
    qc_bytes_puts(&b, ", \"pattern\": ");
    put_str_or_null(&b, l->pattern);
    qc_bytes_puts(&b, ", \"weight\": ");
    put_str_or_null(&b, l->weight_spec);
    qc_bytes_puts(&b, ", \"input\": ");
    put_str_or_null(&b, l->input_spec);
    qc_bytes_puts(&b, ", \"output\": ");
    put_str_or_null(&b, l->output_spec);
    qc_bytes_puts(&b, ", \"weight_sqnr_db\": ");
    put_num(&b, l->weight_sqnr);
    qc_bytes_puts(&b, ", \"output_sqnr_db\": ");
    put_num(&b, l->output_sqnr);
    qc_bytes_puts(&b, ", \"weight_scale_range\": ");
    put_range(&b, l->wscale_min, l->wscale_max);
    qc_bytes_puts(&b, ", \"input_scale_range\": ");
    if (l->input_dynamic) qc_bytes_puts(&b, "\"dynamic\"");
    else put_range(&b, l->iscale_min, l->iscale_max);
    qc_bytes_puts(&b, ", \"input_zeroed_pct\": ");
    put_num(&b, l->input_zeroed);
    qc_bytes_puts(&b, "}");
    if (l->weight_spec || l->input_spec || l->output_spec) nq++;
    if (isfinite(l->weight_sqnr)) ws += l->weight_sqnr, nw++;
    if (isfinite(l->output_sqnr)) os += l->output_sqnr, no++;
  }
  qc_bytes_puts(&b, "\n  ],\n  \"summary\": {\"layers\": ");
  qc_json_put_int(&b, r->n);
  qc_bytes_puts(&b, ", \"quantized\": ");
  qc_json_put_int(&b, nq);
  qc_bytes_puts(&b, ", \"mean_weight_sqnr_db\": ");
  put_num(&b, nw ? ws / nw : NAN);
  qc_bytes_puts(&b, ", \"mean_output_sqnr_db\": ");
  put_num(&b, no ? os / no : NAN);
  qc_bytes_puts(&b, "}\n}\n");
  if (b.oom) {
    free(b.p);
    return OOM();
  }
  size_t pl = strlen(o->out) + 16;
  char *path = malloc(pl);
  if (!path) {
    free(b.p);
    return OOM();
  }
  snprintf(path, pl, "%s.report.json", o->out);
  qc_atomic_file *f = NULL;
  qc_status s = qc_atomic_open(path, &f);
  if (!s) s = qc_atomic_write(f, b.p, b.n);
  if (!s) s = qc_atomic_commit(f);
  else qc_atomic_abort(f);
  free(path);
  free(b.p);
  return s;
}

/* The layers of the float graph with the config applied, before any pass runs. */
static qc_status report_init(const qc_graph *fg, const qc_qconfig *cfg, report *r, qc_qsite **sites) {
  int32_t n;
  QC_RETURN_IF_ERROR(qc_qsites_find(fg, sites, &n));
  r->l = calloc((size_t)(n ? n : 1), sizeof *r->l);
  if (!r->l) return OOM();
  r->n = n;
  for (int32_t i = 0; i < n; i++) {
    layer_report *l = &r->l[i];
    const qc_qsite *s = &(*sites)[i];
    qc_qresolution res;
    QC_RETURN_IF_ERROR(qc_qconfig_resolve(cfg, s->name, s->type, &res));
    l->name = strdup(s->name);
    l->type = qc_qsite_type_name(s->type);
    l->op = qc_op_name(qc_graph_node(fg, s->node)->op);
    l->source = source_label(res.source);
    l->pattern = res.pattern ? strdup(res.pattern) : NULL;
    l->weight_spec = spec_summary(&res.layer.weight);
    l->input_spec = spec_summary(&res.layer.input_tensors);
    l->output_spec = spec_summary(&res.layer.output_tensors);
    l->input_step = smallest_step(&res.layer.input_tensors);
    l->out_name = strdup(qc_graph_value(fg, qc_graph_node(fg, s->node)->out[0])->name);
    l->weight_sqnr = l->output_sqnr = l->input_zeroed = NAN;
    l->wscale_min = l->wscale_max = l->iscale_min = l->iscale_max = NAN;
    if (!l->name || !l->out_name) return OOM();
  }
  return QC_OK;
}

static int run_quantize(int argc, char **argv);
const cli_command cli_cmd_quantize = {"quantize",
                                      "quantize a model (Quark configs and presets) and export ONNX",
                                      QUANTIZE_USAGE, run_quantize};

/* ---- the command ---------------------------------------------------------------------------- */

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static qc_status quantize(const qopts *o, qc_context *ctx, qc_qconfig *cfg) {
  double t0 = cli_now();
  qc_graph *g = NULL, *fg = NULL;
  qc_qsite *sites = NULL;
  report rep = {0};
  qc_calib_options co;
  memset(&co, 0, sizeof co);
  char *tok_path = NULL;
  qc_bytes pipe = {0};
  progress pr = {"calibrate", 0, isatty(2) != 0, -1, NULL};
  qc_status s = qc_model_load(o->model, QC_FORMAT_AUTO, &g);
  if (!s) s = qc_graph_verify(g);
  /* A float16 / bfloat16 / float64 model computes in float32 from here on, its inputs and
   * outputs keeping their type (as Quark's convert_fp16_to_fp32). */
  qc_vid nf = s ? QC_NONE : qc_qgraph_not_f32(g);
  if (nf >= 0) {
    char text[96];
    snprintf(text, sizeof text, "convert-float{from=%s,to=f32}",
             qc_dtype_name(qc_graph_value(g, nf)->type.dtype));
    s = step(ctx, g, "to f32", text);
  }
  if (!s) s = qc_graph_clone(g, &fg);
  if (!s) s = report_init(fg, cfg, &rep, &sites);
  /* Calibration data. */
  if (!s && o->calib) {
    struct stat st;
    if (stat(o->calib, &st) != 0) {
      s = qc_status_new(QC_CODE_IO, "calibration data '%s': %s", o->calib, strerror(errno));
    } else if (is_dir(o->calib)) {
      co.data = o->calib;
    } else {
      co.text = o->calib;
      const char *tk = o->tokenizer;
      if (!tk && is_dir(o->model)) tk = o->model;
      if (!tk)
        s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                          "calibration text '%s' needs a tokenizer: give --tokenizer", o->calib);
      co.tokenizer = tk;
    }
    co.text_mode = o->text_mode;
    co.batches = o->batches;
    co.seq_len = o->seq_len;
    co.n_threads = o->threads;
    co.progress = on_progress;
    co.user = &pr;
  }
  /* quant-annotate, observe. */
  if (!s) {
    qc_bytes_puts(&pipe, "quant-annotate{");
    if (o->scheme) qc_bytes_puts(&pipe, "scheme="), put_quoted(&pipe, o->scheme);
    if (o->config) qc_bytes_puts(&pipe, "config="), put_quoted(&pipe, o->config);
    if (o->exclude) qc_bytes_puts(&pipe, ",exclude="), put_quoted(&pipe, o->exclude);
    if (o->kv_cache) qc_bytes_puts(&pipe, ",kv-cache="), put_quoted(&pipe, o->kv_cache);
    if (o->algo) qc_bytes_puts(&pipe, ",algo="), put_quoted(&pipe, o->algo);
    qc_bytes_puts(&pipe, "}");
    qc_bytes_putc(&pipe, 0);
    s = pipe.oom ? OOM() : step(ctx, g, "annotate", pipe.p);
  }
  /* The algorithms of algo_config: rotation and smooth before observe (they change what is
   * observed),
   * gptq and qronos after calibrate (they fix the weights' parameters for freeze). */
  qc_qalgo *algos = NULL;
  int32_t n_algos = 0;
  if (!s) s = qc_qalgos_parse(cfg->algo_config, o->config ? o->config : o->scheme, &algos, &n_algos);
  for (int32_t i = 0; i < n_algos && !s; i++)
    if (algos[i].kind != QC_QALGO_ROTATION && !o->calib)
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                        "algorithm '%s' needs calibration data (--calib DIR|TEXT)", algos[i].name);
  /* rotation first: smooth and the observers see the rotated model (Quark's order). */
  for (int32_t i = 0; i < n_algos && !s; i++) {
    if (algos[i].kind != QC_QALGO_ROTATION) continue;
    double t1 = cli_now();
    int32_t n = 0;
    s = qc_quant_rotate(g, &algos[i], &n);
    if (!s) fprintf(stderr, "quarc quantize: %-10s %.2fs (%d layers)\n", "rotation", cli_now() - t1, n);
  }
  for (int32_t i = 0; i < n_algos && !s; i++) {
    if (algos[i].kind != QC_QALGO_SMOOTH && algos[i].kind != QC_QALGO_AUTOSMOOTH) continue;
    double t1 = cli_now();
    int32_t n = 0;
    float *ratios = NULL;
    bool autos = algos[i].kind == QC_QALGO_AUTOSMOOTH;
    pr = (progress){autos ? "autosmooth" : "smooth", cli_now(), isatty(2) != 0, -1,
                    autos ? "layer groups" : NULL};
    s = qc_quant_smooth(g, &co, &algos[i], &n, autos ? &ratios : NULL);
    if (!s) fprintf(stderr, "quarc quantize: %-10s %.2fs (%d layer groups)\n", autos ? "autosmooth" : "smooth", cli_now() - t1, n);
    if (!s && autos) { /* which exponents the search chose, and how often */
      fprintf(stderr, "quarc quantize: autosmooth exponents:");
      for (int r = 0; r < 10; r++) {
        int32_t c = 0;
        for (int32_t k = 0; k < n; k++) c += (int)lroundf(ratios[k] * 10) == r;
        if (c) fprintf(stderr, " %.1f x%d", r / 10.0, (int)c);
      }
      fprintf(stderr, "\n");
    }
    free(ratios);
  }
  /* dce: the weights and norm scales the algorithms replaced (and their dequantization) */
  if (!s && n_algos > 0) s = step(ctx, g, "dce", "dce");
  /* Weight SQNR is against the float weight the quantizer is given: after smoothing (which
   * scales the weights), before gptq (whose weights are already on the grid). */
  qc_graph *wg = NULL;
  qc_qsite *wsites = NULL;
  int32_t n_wsites = 0;
  if (!s && n_algos > 0) s = qc_graph_clone(g, &wg);
  if (!s && wg) s = qc_qsites_find(wg, &wsites, &n_wsites);
  if (!s) s = step(ctx, g, "observe", "observe");
  /* calibrate */
  if (!s && qc_quant_needs_calibration(g)) {
    if (!o->calib)
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                        "the config quantizes activations with static scales: calibration data is "
                        "needed (--calib DIR|TEXT)");
    pr = (progress){"calibrate", cli_now(), isatty(2) != 0, -1, NULL};
    if (!s) s = qc_quant_calibrate(g, &co);
    if (!s) {
      qc_calib_stream *cs = NULL;
      if (!qc_calib_open(g, &co, &cs)) rep.calib_batches = qc_calib_count(cs);
      qc_calib_close(cs);
    }
  }
  for (int32_t i = 0; i < n_algos && !s; i++) {
    if (algos[i].kind != QC_QALGO_GPTQ && algos[i].kind != QC_QALGO_QRONOS) continue;
    double t1 = cli_now();
    int32_t n = 0;
    pr = (progress){algos[i].name, cli_now(), isatty(2) != 0, -1, "layer groups"};
    s = qc_quant_gptq(g, &co, &algos[i], &n);
    if (!s)
      fprintf(stderr, "quarc quantize: %-10s %.2fs (%d layers)\n", algos[i].name, cli_now() - t1, n);
  }
  free(algos);
  if (!s && n_algos > 0) s = step(ctx, g, "dce", "dce");
  if (!s) s = step(ctx, g, "freeze", "freeze");
  /* The report: weights and scales from the frozen graph, outputs on one batch. */
  for (int32_t i = 0; i < rep.n && !s; i++) {
    const qc_graph *ref = fg;
    const qc_qsite *rs = &sites[i];
    for (int32_t j = 0; wg && j < n_wsites; j++)
      if (strcmp(wsites[j].name, sites[i].name) == 0) {
        ref = wg;
        rs = &wsites[j];
      }
    s = measure_weights(ref, rs, g, &rep.l[i]);
  }
  qc_qsites_free(wsites, n_wsites);
  /* Outputs too are measured against the float model the quantizers were given: rotation
   * and smoothing keep the model's function, not the values inside it (a rotated v_proj's
   * output is another basis of the same thing). */
  if (!s && o->calib) {
    qc_calib_stream *cs = NULL;
    qc_calib_batch b;
    bool end = true;
    memset(&b, 0, sizeof b);
    qc_calib_options one = co;
    one.batches = 1;
    one.progress = NULL;
    s = qc_calib_open(fg, &one, &cs);
    if (!s) s = qc_calib_next(cs, &b, &end);
    capture c = {NULL, NULL, NULL, NULL, rep.l, false};
    c.ref = calloc((size_t)(rep.n ? rep.n : 1), sizeof *c.ref);
    if (!s && !c.ref) s = OOM();
    double t1 = cli_now();
    if (!s && !end) s = run_capture(wg ? wg : fg, &c, rep.n, &b, o->threads);
    c.second = true;
    if (!s && !end) s = run_capture(g, &c, rep.n, &b, o->threads);
    /* layers reading one quantized input (q/k/v) share its measure */
    for (int32_t i = 0; i < rep.n; i++)
      for (int32_t j = 0; rep.l[i].in_name && j < rep.n; j++)
        if (isnan(rep.l[i].input_zeroed) && rep.l[j].in_name && !isnan(rep.l[j].input_zeroed) &&
            strcmp(rep.l[i].in_name, rep.l[j].in_name) == 0)
          rep.l[i].input_zeroed = rep.l[j].input_zeroed;
    if (!s && !end) fprintf(stderr, "quarc quantize: %-10s %.2fs\n", "measure", cli_now() - t1);
    for (int32_t i = 0; c.ref && i < rep.n; i++) qc_tensor_release(&c.ref[i]);
    free(c.ref);
    free(c.layer_of);
    free(c.input_of);
    qc_calib_batch_free(&b);
    qc_calib_close(cs);
  }
  qc_graph_destroy(wg);
  if (!s) s = step(ctx, g, "realize", "realize");
  /* ONNX and .qir get the quarc ops lowered (unless --no-lower); the other formats' writers
   * read the quarc ops (FakeQuant, DequantizePacked) and the config the graph carries. */
  bool save = o->fmt == QC_EXPORT_ONNX || o->fmt == QC_EXPORT_QIR;
  if (!s && o->lower && save) {
    char lp[256];
    snprintf(lp, sizeof lp, "lower-qdq{opset=%lld,ort=%s,matmulnbits=%s},dce", (long long)o->opset,
             o->ort ? "true" : "false", o->nbits ? "true" : "false");
    s = step(ctx, g, "lower-qdq", lp);
  }
  if (!s) s = qc_status_wrap(qc_graph_verify(g), "the quantized graph does not verify");
  if (!s && save) s = qc_model_save(g, o->out, o->fmt == QC_EXPORT_ONNX ? QC_FORMAT_ONNX : QC_FORMAT_QIR);
  else if (!s) {
    qc_export_options xo = o->xo;
    qc_export_report er = {0};
    xo.report = &er;
    s = qc_export_model(g, o->out, o->fmt, &xo);
    if (!s) cli_export_report(&cli_cmd_quantize, o->model, g, o->out, o->fmt, &er);
    qc_export_report_free(&er);
  }
  rep.seconds = cli_now() - t0;
  if (!s) s = write_report(&rep, o, g);
  if (!s) print_report(&rep, o, g);
  if (sites) qc_qsites_free(sites, rep.n); /* before report_free, which zeroes rep.n */
  report_free(&rep);
  free(pipe.p);
  free(tok_path);
  qc_graph_destroy(fg);
  qc_graph_destroy(g);
  return s;
}

static int run_quantize(int argc, char **argv) {
  qopts o;
  memset(&o, 0, sizeof o);
  o.ort = o.lower = true;
  o.seq_len = 512;
  o.xo = qc_export_options_default();
  qc_bytes ex = {0};
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v;
    bool missing = false;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      printf("usage: %s\n", QUANTIZE_USAGE);
      free(ex.p);
      return 0;
    } else if ((v = cli_opt_value(argc, argv, &i, "--scheme", &missing))) {
      o.scheme = v;
    } else if ((v = cli_opt_value(argc, argv, &i, "--config", &missing))) {
      o.config = v;
    } else if ((v = cli_opt_value(argc, argv, &i, "--calib", &missing))) {
      o.calib = v;
    } else if ((v = cli_opt_value(argc, argv, &i, "--tokenizer", &missing))) {
      o.tokenizer = v;
    } else if ((v = cli_opt_value(argc, argv, &i, "--text-mode", &missing))) {
      o.text_mode = v;
    } else if ((v = cli_opt_value(argc, argv, &i, "--kv-cache", &missing))) {
      o.kv_cache = v;
    } else if ((v = cli_opt_value(argc, argv, &i, "--algo", &missing))) {
      o.algo = v;
    } else if ((v = cli_opt_value(argc, argv, &i, "--exclude", &missing))) {
      if (ex.n) qc_bytes_putc(&ex, ';');
      qc_bytes_puts(&ex, v);
    } else if ((v = cli_opt_value(argc, argv, &i, "--batches", &missing))) {
      o.batches = atoll(v);
    } else if ((v = cli_opt_value(argc, argv, &i, "--seq-len", &missing))) {
      o.seq_len = atoll(v);
    } else if ((v = cli_opt_value(argc, argv, &i, "--opset", &missing))) {
      o.opset = atoll(v);
    } else if ((v = cli_opt_value(argc, argv, &i, "--threads", &missing))) {
      o.threads = atoi(v);
    } else if (cli_export_option(&cli_cmd_quantize, argc, argv, &i, &o.fmt, &o.xo, &rc)) {
      if (rc) {
        free(ex.p);
        return rc;
      }
    } else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
      o.out = argv[++i];
    } else if (strcmp(a, "--no-ort") == 0) {
      o.ort = false;
    } else if (strcmp(a, "--matmulnbits") == 0) {
      o.nbits = true;
    } else if (strcmp(a, "--no-lower") == 0) {
      o.lower = false;
    } else if (strcmp(a, "--print-config") == 0) {
      o.print_config = true;
    } else if (missing || strcmp(a, "-o") == 0) {
      free(ex.p);
      return cli_usage_error(&cli_cmd_quantize, "option '%s' needs a value", a);
    } else if (a[0] == '-' && a[1]) {
      free(ex.p);
      return cli_usage_error(&cli_cmd_quantize, "unknown option '%s'", a);
    } else if (o.model) {
      free(ex.p);
      return cli_usage_error(&cli_cmd_quantize, "more than one model ('%s' and '%s')", o.model, a);
    } else {
      o.model = a;
    }
  }
  qc_bytes_putc(&ex, 0);
  o.exclude = ex.n > 1 ? ex.p : NULL;
  if (!o.scheme == !o.config) {
    free(ex.p);
    return cli_usage_error(&cli_cmd_quantize, o.scheme ? "give --scheme or --config, not both"
                                                      : "give --scheme NAME or --config FILE");
  }
  qc_qconfig *cfg = NULL;
  qc_status s = qc_quant_config_load(o.config, o.scheme, o.exclude, o.kv_cache, o.algo, &cfg);
  if (s) {
    free(ex.p);
    return cli_fail(s); /* the config reader's messages start with the file's name */
  }
  if (o.print_config) {
    char *json = NULL;
    size_t len = 0;
    qc_qjson_options jo = {2, false, false};
    s = qc_qconfig_to_json(cfg, &jo, &json, &len);
    if (!s) {
      fwrite(json, 1, len, stdout);
      fputc('\n', stdout);
    }
    free(json);
    qc_qconfig_free(cfg);
    free(ex.p);
    return s ? cli_fail(s) : 0;
  }
  if (!o.model) rc = cli_usage_error(&cli_cmd_quantize, "no model");
  else if (!o.out) rc = cli_usage_error(&cli_cmd_quantize, "no output: give -o OUT");
  if (!rc && o.fmt == QC_EXPORT_AUTO) {
    /* .onnx, .gguf, .qir, else a Hugging Face directory */
    o.fmt = qc_export_format_for_path(o.out);
  }
  if (rc) {
    qc_qconfig_free(cfg);
    free(ex.p);
    return rc;
  }
  qc_context *ctx = NULL;
  s = qc_context_create(&ctx);
  if (!s) s = quantize(&o, ctx, cfg);
  qc_context_destroy(ctx);
  qc_qconfig_free(cfg);
  free(ex.p);
  return s ? cli_fail(s) : 0;
}
