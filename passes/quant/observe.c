/* observe: insert a quarc.Observe node wherever a layer's config (quant-annotate's
 * quant.layer.<L> records) quantizes a tensor: the layer's input (what the layer reads, not
 * the other readers of the same value), its output (every reader), its weight (on the
 * weight chain, right after the constant or the DequantizePacked of a pre-quantized one)
 * and its bias. The node's `key` names the observer ("<L>.input", ...; layers of a
 * shared_scale_groups entry share one key per tensor role) and `spec` is the spec (or the
 * list of stages) that applies.
 *
 * Quark sees a Linear's weight as [out, in]. Where the graph stores it [in, out] (a MatMul
 * without the HF Transpose, Gemm with transB=0), the spec's ch_axis is mirrored so that
 * per-channel and per-group quantization still run along Quark's axes.
 *
 * Dynamic specs get Observe nodes too: they mark the tensor for `freeze`; `calibrate` only
 * feeds keys with a static stage. */
#include "passes/internal.h"
#include "passes/quant/qjson.h"
#include "passes/quant/qpass.h"
#include "runtime/k_qc.h"

#include <stdio.h>
#include <stdlib.h>

enum { ROLE_INPUT, ROLE_OUTPUT, ROLE_WEIGHT, ROLE_BIAS, N_ROLES };
static const char *const ROLE_KEY[N_ROLES] = {"input_tensors", "output_tensors", "weight", "bias"};
static const char *const ROLE_NAME[N_ROLES] = {"input", "output", "weight", "bias"};

/* The spec text of `role` in a layer record; NULL (and QC_OK) when null. */
static qc_status role_spec(const qj_value *rec, int role, const char *layer, qc_qspecs *out) {
  memset(out, 0, sizeof *out);
  const qj_value *cfg = qj_get(rec, "config");
  const qj_value *v = cfg ? qj_get(cfg, ROLE_KEY[role]) : NULL;
  if (!v || v->kind == QJ_NULL) return QC_OK;
  qc_bytes b = {0};
  qj_put_value(&b, v, 0, 0, false);
  qc_bytes_putc(&b, 0);
  if (b.oom) {
    free(b.p);
    return QC_OOM();
  }
  char src[512];
  snprintf(src, sizeof src, "quant.layer.%s: config.%s", layer, ROLE_KEY[role]);
  qc_status s = qc_qattr_parse(b.p, src, out);
  free(b.p);
  return s;
}

qc_status qc_qlayer_specs(const qc_graph *g, const char *layer, const char *role,
                         qc_qspecs *out) {
  memset(out, 0, sizeof *out);
  int r = 0;
  while (r < N_ROLES && strcmp(ROLE_KEY[r], role) != 0) r++;
  if (r == N_ROLES) return qc_status_new(QC_CODE_INTERNAL, "no role '%s'", role);
  char key[1200];
  snprintf(key, sizeof key, "quant.layer.%s", layer);
  const char *text = qc_graph_meta(g, key);
  if (!text) return QC_OK;
  qj_value *rec = NULL;
  QC_RETURN_IF_ERROR(qj_parse(text, strlen(text), key, &rec));
  qc_status s = role_spec(rec, r, layer, out);
  qj_free(rec);
  return s;
}

/* The config's shared_scale_groups (from quant.config), for keys. */
typedef struct groups {
  qc_qconfig *cfg;
} groups;

/* The observer key of (layer, role): a layer "P.X" with X in a shared group G shares the key
 * "P.(G0|G1|...).<role>" with its siblings. */
static char *observer_key(const groups *gr, const char *layer, int role) {
  const char *dot = strrchr(layer, '.');
  const char *last = dot ? dot + 1 : layer;
  size_t plen = dot ? (size_t)(dot - layer) : 0;
  char buf[2048];
  for (int32_t i = 0; gr->cfg && i < gr->cfg->n_shared_scale_groups; i++) {
    const qc_qstrings *grp = &gr->cfg->shared_scale_groups[i];
    bool in = false;
    for (int32_t j = 0; j < grp->n && !in; j++) in = strcmp(grp->v[j], last) == 0;
    if (!in) continue;
    int o = snprintf(buf, sizeof buf, "%.*s%s(", (int)plen, layer, plen ? "." : "");
    for (int32_t j = 0; j < grp->n && o < (int)sizeof buf - 64; j++)
      o += snprintf(buf + o, sizeof buf - (size_t)o, "%s%s", j ? "|" : "", grp->v[j]);
    snprintf(buf + o, sizeof buf - (size_t)o, ").%s", ROLE_NAME[role]);
    return strdup(buf);
  }
  snprintf(buf, sizeof buf, "%s.%s", layer, ROLE_NAME[role]);
  return strdup(buf);
}

/* Mirror ch_axis of a rank-2 weight stored [in, out]. */
static void mirror_axes(qc_qspecs *s) {
  for (int32_t i = 0; i < s->n; i++) {
    qc_qspec *sp = &s->v[i];
    if (!sp->has_ch_axis) continue;
    int32_t a = sp->ch_axis < 0 ? sp->ch_axis + 2 : sp->ch_axis;
    if (a == 0 || a == 1) sp->ch_axis = 1 - a;
  }
}

/* Add Observe(v) named after (layer, role); *out is its output. */
static qc_status add_observe(qc_graph *g, const char *layer, int role, const char *key,
                             const qc_qspecs *spec, qc_vid v, qc_vid *out) {
  char base[1200];
  snprintf(base, sizeof base, "%s.%s_observed", layer, ROLE_NAME[role]);
  char *oname = qc_qunique_name(g, base);
  char *text = NULL;
  if (!oname) return QC_OOM();
  snprintf(base, sizeof base, "%s.%s_observer", layer, ROLE_NAME[role]);
  qc_status s = qc_qattr_json(spec, &text);
  if (!s) s = qc_graph_add_op(g, QC_OP_Q_Observe, base, 1, &v, oname, out);
  qc_nid n = s ? QC_NONE : qc_graph_value(g, *out)->node;
  if (!s) s = qc_node_set_string(g, n, "key", key);
  if (!s) s = qc_node_set_string(g, n, "spec", text);
  free(oname);
  free(text);
  return s;
}

/* Make the uses `uses[0..n)` of `from` read `to`; a graph output keeps its name (`to`
 * takes it, `from` is renamed). Uses no longer reading `from` are left alone. */
static qc_status redirect(qc_graph *g, qc_vid from, qc_vid to, const qc_use *uses, int32_t n) {
  for (int32_t i = 0; i < n; i++) {
    qc_use u = uses[i];
    if (u.node >= 0 && u.slot >= 0) {
      if (qc_graph_node(g, u.node)->in[u.slot] == from) qc_node_set_input(g, u.node, u.slot, to);
    } else if (u.node < 0 && qc_graph_output(g, u.slot) == from) {
      qc_graph_set_output(g, u.slot, to);
      const char *name = qc_graph_value(g, from)->name;
      char *keep = strdup(name), *tmp = NULL;
      char base[1200];
      snprintf(base, sizeof base, "%s.unquantized", name);
      tmp = qc_qunique_name(g, base);
      qc_status s = keep && tmp ? QC_OK : QC_OOM();
      if (!s) s = qc_graph_rename(g, from, tmp);
      if (!s) s = qc_graph_rename(g, to, keep);
      free(keep);
      free(tmp);
      QC_RETURN_IF_ERROR(s);
    } else if (u.slot == QC_USE_CAPTURE) {
      return qc_status_new(QC_CODE_UNIMPLEMENTED,
                           "value '%s' is captured by a sub-graph: its quantizer cannot be placed",
                           qc_graph_value(g, from)->name);
    }
  }
  return QC_OK;
}

typedef struct pending {
  qc_qsite *site;
  qc_qspecs spec[N_ROLES];
} pending;

static qc_status run_observe(qc_graph *g, const qc_pass_args *a, void *user) {
  (void)a;
  (void)user;
  groups gr = {NULL};
  const char *cfg_json = qc_graph_meta(g, "quant.config");
  if (!cfg_json)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "the graph has no quantization records: run quant-annotate first");
  QC_RETURN_IF_ERROR(qc_qconfig_from_json(cfg_json, strlen(cfg_json), "quant.config", &gr.cfg));
  qc_qsite *sites = NULL;
  int32_t n = 0;
  qc_uses u = {0};
  bool have_uses = false;
  pending *pend = NULL;
  qc_status st = qc_qsites_find(g, &sites, &n);
  if (!st) st = qc_uses_compute(g, &u);
  have_uses = !st;
  if (!st && !(pend = calloc((size_t)(n ? n : 1), sizeof *pend))) st = QC_OOM();
  /* Read every record first: edits below move nothing the sites refer to, but keep the
   * reading and the editing apart anyway. */
  for (int32_t i = 0; i < n && !st; i++) {
    qc_qsite *s = &sites[i];
    pend[i].site = s;
    char key[1200];
    snprintf(key, sizeof key, "quant.layer.%s", s->name);
    const char *rec_text = qc_graph_meta(g, key);
    if (!rec_text) continue;
    qj_value *rec = NULL;
    st = qj_parse(rec_text, strlen(rec_text), key, &rec);
    if (st) break;
    const qj_value *node = qj_get(rec, "node");
    const char *want = qc_graph_value(g, qc_graph_node(g, s->node)->out[0])->name;
    if (!node || node->kind != QJ_STRING || strcmp(node->s, want) != 0)
      st = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: the record is for node '%s', the layer's node is now '%s' (the "
                         "graph changed after quant-annotate)",
                         key, node && node->kind == QJ_STRING ? node->s : "?", want);
    for (int r = 0; r < N_ROLES && !st; r++) st = role_spec(rec, r, s->name, &pend[i].spec[r]);
    qj_free(rec);
    if (!st && s->weight_transposed) mirror_axes(&pend[i].spec[ROLE_WEIGHT]);
  }
  /* Outputs first, so that a layer reading another's output reads its output quantizer. */
  static const int ORDER[N_ROLES] = {ROLE_OUTPUT, ROLE_WEIGHT, ROLE_BIAS, ROLE_INPUT};
  for (int k = 0; k < N_ROLES && !st; k++) {
    int r = ORDER[k];
    for (int32_t i = 0; i < n && !st; i++) {
      qc_qsite *s = pend[i].site;
      const qc_qspecs *spec = &pend[i].spec[r];
      if (spec->n == 0) continue;
      qc_vid point;
      qc_use one;
      const qc_use *uses = &one;
      int32_t n_uses = 1;
      if (r == ROLE_INPUT) {
        if (s->x_slot < 0) continue;
        point = qc_graph_node(g, s->node)->in[s->x_slot];
        one = (qc_use){s->node, s->x_slot};
      } else if (r == ROLE_WEIGHT) {
        point = s->weight;
        one = (qc_use){s->weight_user, s->weight_slot};
      } else if (r == ROLE_BIAS) {
        if (s->bias < 0) continue;
        point = s->bias;
        one = (qc_use){s->bias_user, s->bias_slot};
      } else {
        point = s->out;
        uses = &u.use[u.start[point]];
        n_uses = qc_uses_count(&u, point);
      }
      char *okey = observer_key(&gr, s->name, r);
      qc_vid ov;
      st = okey ? add_observe(g, s->name, r, okey, spec, point, &ov) : QC_OOM();
      if (!st) st = redirect(g, point, ov, uses, n_uses);
      free(okey);
      if (st) st = qc_status_wrap(st, "layer '%s' %s", s->name, ROLE_NAME[r]);
    }
  }
  if (have_uses) qc_uses_free(g, &u);
  for (int32_t i = 0; pend && i < n; i++)
    for (int r = 0; r < N_ROLES; r++) qc_qattr_free(&pend[i].spec[r]);
  free(pend);
  qc_qsites_free(sites, n);
  qc_qconfig_free(gr.cfg);
  if (!st) st = qc_graph_toposort(g);
  if (!st) st = qc_graph_infer_types(g);
  return st;
}

const qc_pass_info qc_pass_observe = {
    "observe", "insert quarc.Observe nodes where the layer configs quantize a tensor", NULL, 0,
    run_observe, NULL};
