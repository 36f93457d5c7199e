/* calibrate{data=DIR | text=FILE, tokenizer=PATH, text-mode=auto, batches=N, seq-len=L}: run
 * the model on calibration data and record the parameters of every static activation
 * quantizer.
 *
 * The Observe nodes that `observe` inserted are identities; this pass installs the
 * interpreter's observe callback, which hands each Observe output to the quantizer of its
 * key (quarc/quant.h: qc_quantizer_observe, i.e. Quark's observer forward and parameter
 * update). Batches are read and run one at a time (passes/quant/calib_data.c), and the
 * interpreter frees every intermediate after its last use, so memory stays bounded by one
 * batch. As in Quark 0.13's calibration, observers see the float model: nothing is
 * fake-quantized while calibrating.
 *
 * Only keys with a static stage that read a non-constant value are calibrated here;
 * weights and biases are observed by `freeze`, from their constants. The result is one
 * record per key, quant.calib.<key> (passes/quant/qpass.h), which `freeze` reads. */
#include "passes/internal.h"
#include "passes/quant/qjson.h"
#include "passes/quant/qpass.h"
#include "runtime/k_qc.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct ckey {
  const char *key; /* the Observe node's attribute (the graph outlives the pass) */
  const qc_qspecs *specs;
  int32_t stage;
  qc_quantizer *q;
  int64_t seen;
} ckey;

typedef struct cctx {
  ckey *keys;
  int32_t n_keys;
  int32_t *key_of; /* per observed value (index into the collected list): index into keys */
} cctx;

static bool observe_needs_data(const qc_graph *g, qc_nid n, const qc_qspecs **specs) {
  const qc_node *nd = qc_graph_node(g, n);
  if (nd->dead || nd->op != QC_OP_Q_Observe || nd->in[0] < 0) return false;
  if (qc_qvalue_is_constlike(g, nd->in[0])) return false;
  const qc_qspecs *sp;
  qc_status s = qc_qattr_cached(qc_node_string(g, n, "spec", ""), "spec", &sp);
  if (s) {
    qc_status_free(s);
    return true; /* let the pass report the bad spec */
  }
  if (specs) *specs = sp;
  return qc_qattr_static_stage(sp) >= 0;
}

bool qc_quant_needs_calibration(const qc_graph *g) {
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++)
    if (observe_needs_data(g, n, NULL)) return true;
  return false;
}

static qc_status on_value(void *user, int32_t index, const qc_tensor *t) {
  cctx *c = user;
  ckey *k = &c->keys[c->key_of[index]];
  float *f;
  QC_RETURN_IF_ERROR(qc_status_wrap(qc_qtensor_f32(t, &f), "observer '%s'", k->key));
  qc_status s = qc_quantizer_observe(k->q, f, t->rank, t->dims);
  free(f);
  k->seen++;
  return qc_status_wrap(s, "observer '%s'", k->key);
}

static void put_floats(qc_bytes *b, const char *name, const float *v, int64_t n) {
  qc_bytes_puts(b, ", ");
  qc_json_put_cstring(b, name);
  qc_bytes_puts(b, ": [");
  for (int64_t i = 0; i < n; i++) {
    if (i) qc_bytes_puts(b, ", ");
    qc_json_put_double(b, v ? (double)v[i] : 0.0);
  }
  qc_bytes_puts(b, "]");
}

qc_status qc_qcalib_record(qc_graph *g, const char *key, int32_t stage, int64_t batches,
                           const qc_qparams *p, const qc_qstats *stats) {
  qc_bytes b = {0};
  qc_bytes_puts(&b, "{\"batches\": ");
  qc_json_put_int(&b, batches);
  qc_bytes_puts(&b, ", \"stage\": ");
  qc_json_put_int(&b, stage);
  qc_bytes_puts(&b, ", \"scale_dtype\": ");
  qc_json_put_cstring(&b, qc_dtype_name(p->scale_dtype ? p->scale_dtype : QC_F32));
  qc_bytes_puts(&b, ", \"zp_dtype\": ");
  qc_json_put_cstring(&b, qc_dtype_name(p->zp_dtype ? p->zp_dtype : QC_I32));
  qc_bytes_puts(&b, ", \"shape\": [");
  for (int32_t d = 0; d < p->rank; d++) {
    if (d) qc_bytes_puts(&b, ", ");
    qc_json_put_int(&b, p->shape[d]);
  }
  qc_bytes_puts(&b, "]");
  put_floats(&b, "scale", p->scale, p->n);
  qc_bytes_puts(&b, ", \"zero_point\": [");
  for (int64_t i = 0; i < p->n; i++) {
    if (i) qc_bytes_puts(&b, ", ");
    qc_json_put_double(&b, p->zero_point ? p->zero_point[i] : 0.0);
  }
  qc_bytes_puts(&b, "]");
  bool st_ok = stats && stats->n > 0;
  put_floats(&b, "min", st_ok ? stats->min : NULL, st_ok && stats->min ? stats->n : 0);
  put_floats(&b, "max", st_ok ? stats->max : NULL, st_ok && stats->max ? stats->n : 0);
  qc_bytes_puts(&b, "}");
  qc_bytes_putc(&b, 0);
  qc_status s = b.oom ? QC_OOM() : QC_OK;
  if (!s) {
    size_t kl = strlen(key) + 16;
    char *mk = malloc(kl);
    if (!mk) s = QC_OOM();
    else {
      snprintf(mk, kl, "quant.calib.%s", key);
      s = qc_graph_set_meta(g, mk, b.p);
    }
    free(mk);
  }
  free(b.p);
  return s;
}

qc_status qc_qcalib_read(const qc_graph *g, const char *key, int32_t stage, qc_qparams *p) {
  memset(p, 0, sizeof *p);
  size_t kl = strlen(key) + 16;
  char *mk = malloc(kl);
  if (!mk) return QC_OOM();
  snprintf(mk, kl, "quant.calib.%s", key);
  const char *text = qc_graph_meta(g, mk);
  if (!text) {
    qc_status s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                                "observer '%s' reads an activation and has no calibration "
                                "record (%s): run calibrate first",
                                key, mk);
    free(mk);
    return s;
  }
  qj_value *v = NULL;
  qc_status s = qj_parse(text, strlen(text), mk, &v);
  const qj_value *st = s ? NULL : qj_get(v, "stage"), *sc = s ? NULL : qj_get(v, "scale");
  const qj_value *zp = s ? NULL : qj_get(v, "zero_point"), *sh = s ? NULL : qj_get(v, "shape");
  const qj_value *sd = s ? NULL : qj_get(v, "scale_dtype"), *zd = s ? NULL : qj_get(v, "zp_dtype");
  if (!s && (!st || st->kind != QJ_INT || !sc || sc->kind != QJ_ARRAY || !zp ||
             zp->kind != QJ_ARRAY || zp->n != sc->n || !sh || sh->kind != QJ_ARRAY ||
             sh->n > QC_QPARAMS_MAX_RANK))
    s = qc_status_new(QC_CODE_PARSE, "%s: malformed calibration record", mk);
  if (!s && st->i != stage)
    s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: parameters of stage %lld, expected stage %d",
                      mk, (long long)st->i, stage);
  if (!s) {
    p->n = sc->n;
    p->rank = sh->n;
    for (int32_t d = 0; d < sh->n; d++) p->shape[d] = sh->items[d].i;
    p->scale_dtype = sd && sd->kind == QJ_STRING ? qc_dtype_from_name(sd->s) : QC_F32;
    p->zp_dtype = zd && zd->kind == QJ_STRING ? qc_dtype_from_name(zd->s) : QC_I32;
    p->scale = malloc(sizeof *p->scale * (size_t)(p->n ? p->n : 1));
    p->zero_point = malloc(sizeof *p->zero_point * (size_t)(p->n ? p->n : 1));
    if (!p->scale || !p->zero_point) s = QC_OOM();
    for (int64_t i = 0; i < p->n && !s; i++) {
      p->scale[i] = (float)sc->items[i].d;
      p->zero_point[i] = zp->items[i].d;
    }
  }
  qj_free(v);
  free(mk);
  if (s) qc_qparams_clear(p);
  return s;
}

/* quant.calib.<key> for one calibrated key. */
static qc_status write_record(qc_graph *g, ckey *k, int64_t batches) {
  QC_RETURN_IF_ERROR(qc_quantizer_finalize(k->q));
  const qc_qparams *p = qc_quantizer_params(k->q, k->stage);
  if (!p)
    return qc_status_new(QC_CODE_RUNTIME, "observer '%s' saw no data: the calibration runs never "
                                          "reached it", k->key);
  qc_qstats stats;
  memset(&stats, 0, sizeof stats);
  qc_observer *o = qc_quantizer_observer(k->q, k->stage);
  if (o) QC_RETURN_IF_ERROR(qc_observer_stats(o, &stats));
  qc_status s = qc_qcalib_record(g, k->key, k->stage, batches, p, &stats);
  qc_qstats_clear(&stats);
  return s;
}

qc_status qc_quant_calibrate(qc_graph *g, const qc_calib_options *o) {
  cctx c = {NULL, 0, NULL};
  int32_t nn = qc_graph_num_nodes(g), n_vals = 0;
  c.keys = calloc((size_t)(nn ? nn : 1), sizeof *c.keys);
  c.key_of = malloc(sizeof *c.key_of * (size_t)(nn ? nn : 1));
  qc_vid *vals = malloc(sizeof *vals * (size_t)(nn ? nn : 1));
  qc_status s = c.key_of && c.keys && vals ? QC_OK : QC_OOM();
  for (qc_nid n = 0; n < nn && !s; n++) {
    const qc_qspecs *sp = NULL;
    if (!observe_needs_data(g, n, &sp)) continue;
    const char *key = qc_node_string(g, n, "key", "");
    if (!sp) {
      s = qc_qattr_cached(qc_node_string(g, n, "spec", ""), qc_node_desc(g, n), &sp);
      break;
    }
    int32_t k = 0;
    while (k < c.n_keys && strcmp(c.keys[k].key, key) != 0) k++;
    if (k == c.n_keys) {
      c.keys[k] = (ckey){key, sp, qc_qattr_static_stage(sp), NULL, 0};
      s = qc_quantizer_create(sp, QC_F32, &c.keys[k].q);
      if (s) {
        s = qc_status_wrap(s, "%s", qc_node_desc(g, n));
        break;
      }
      c.n_keys++;
    }
    c.key_of[n_vals] = k;
    vals[n_vals++] = qc_graph_node(g, n)->out[0];
  }
  int64_t done = 0;
  if (!s && c.n_keys > 0) {
    s = qc_quant_collect(g, o, n_vals, vals, on_value, &c, &done);
    if (s && !(o->data && *o->data) && !(o->text && *o->text))
      s = qc_status_wrap(s, "%d activation quantizers need calibration (e.g. '%s')", c.n_keys,
                         c.keys[0].key);
  }
  for (int32_t k = 0; k < c.n_keys && !s; k++) s = write_record(g, &c.keys[k], done);
  for (int32_t k = 0; c.keys && k < c.n_keys; k++) qc_quantizer_free(c.keys[k].q);
  free(c.key_of);
  free(c.keys);
  free(vals);
  return s;
}

static qc_status run_calibrate(qc_graph *g, const qc_pass_args *a, void *user) {
  (void)user;
  qc_calib_options o;
  qc_calib_options_from_args(a, &o);
  return qc_quant_calibrate(g, &o);
}

static const qc_pass_option OPTIONS[] = {QC_CALIB_PASS_OPTIONS};
const qc_pass_info qc_pass_calibrate = {
    "calibrate", "run calibration data through the model and record activation quantizer parameters",
    OPTIONS, QC_CALIB_PASS_N_OPTIONS, run_calibrate, NULL};
