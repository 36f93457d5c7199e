/* Running a graph over calibration data and handing chosen values to a callback: the one
 * loop that calibrate (observers), smoothquant (per-channel activation ranges) and gptq
 * (input Hessians) share.
 *
 * Batches are read and run one at a time (passes/quant/calib_data.c) and the interpreter
 * frees every intermediate after its last use, so memory stays bounded by one batch plus
 * what the callback keeps. */
#include "passes/internal.h"
#include "passes/quant/qpass.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct collect {
  const qc_graph *g;
  int32_t *index_of; /* per value: index into the caller's list, or -1 */
  qc_collect_fn fn;
  void *user;
} collect;

static qc_status on_value(void *user, const qc_graph *g, qc_vid v, const qc_rvalue *val) {
  collect *c = user;
  if (g != c->g || c->index_of[v] < 0) return QC_OK;
  if (val->kind != QC_RV_TENSOR)
    return qc_status_new(QC_CODE_RUNTIME, "value '%s' is not a tensor", qc_graph_value(g, v)->name);
  return c->fn(c->user, c->index_of[v], &val->t);
}

qc_status qc_quant_collect(const qc_graph *g, const qc_calib_options *o, int32_t n,
                           const qc_vid *values, qc_collect_fn fn, void *user, int64_t *batches) {
  if (batches) *batches = 0;
  int32_t nv = qc_graph_num_values(g);
  collect c = {g, malloc(sizeof(int32_t) * (size_t)(nv ? nv : 1)), fn, user};
  if (!c.index_of) return QC_OOM();
  for (qc_vid v = 0; v < nv; v++) c.index_of[v] = -1;
  for (int32_t i = 0; i < n; i++)
    if (values[i] >= 0 && values[i] < nv) c.index_of[values[i]] = i;
  qc_calib_stream *cs = NULL;
  qc_interp *it = NULL;
  qc_status s = qc_calib_open(g, o, &cs);
  qc_interp_options io = {o->n_threads, on_value, &c, NULL, false};
  if (!s) s = qc_interp_create(g, &io, &it);
  int64_t total = cs ? qc_calib_count(cs) : 0, done = 0;
  int32_t n_out = qc_graph_num_outputs(g);
  qc_rvalue *outs = s ? NULL : calloc((size_t)(n_out ? n_out : 1), sizeof *outs);
  if (!s && !outs) s = QC_OOM();
  while (!s) {
    qc_calib_batch b;
    bool end;
    s = qc_calib_next(cs, &b, &end);
    if (s || end) break;
    s = qc_interp_run(it, b.n, b.inputs, n_out, outs);
    for (int32_t i = 0; i < n_out; i++) qc_rvalue_release(&outs[i]);
    if (s) s = qc_status_wrap(s, "calibration batch %s", b.label);
    qc_calib_batch_free(&b);
    done++;
    if (!s && o->progress) o->progress(o->user, done, total);
  }
  free(outs);
  qc_interp_destroy(it);
  qc_calib_close(cs);
  free(c.index_of);
  if (batches) *batches = done;
  return s;
}

void qc_calib_options_from_args(const qc_pass_args *a, qc_calib_options *o) {
  memset(o, 0, sizeof *o);
  o->data = qc_pass_arg_string(a, "data");
  o->text = qc_pass_arg_string(a, "text");
  o->tokenizer = qc_pass_arg_string(a, "tokenizer");
  o->text_mode = qc_pass_arg_string(a, "text-mode");
  o->batches = qc_pass_arg_int(a, "batches");
  o->seq_len = qc_pass_arg_int(a, "seq-len");
  o->n_threads = (int32_t)qc_pass_arg_int(a, "threads");
}

/* ---- sequential runs: the graph in segments, every batch through one segment at a time ---- */

struct qc_seqrun {
  const qc_graph *g;
  int64_t n_batches;
  int32_t nv;
  qc_rvalue **kept;  /* per value: one per batch, while a later segment needs it */
  int32_t *last_use; /* per value: the last node that reads it (nn: a graph output) */
  uint8_t *konst;    /* per node: computed from constants alone */
  qc_nid done;       /* nodes before this have run */
  int32_t n_threads;
};

qc_status qc_seqrun_create(const qc_graph *g, const qc_calib_options *o, qc_seqrun **out) {
  *out = NULL;
  qc_seqrun *r = calloc(1, sizeof *r);
  if (!r) return QC_OOM();
  r->g = g;
  r->nv = qc_graph_num_values(g);
  r->n_threads = o->n_threads;
  r->kept = calloc((size_t)(r->nv ? r->nv : 1), sizeof *r->kept);
  r->last_use = malloc(sizeof *r->last_use * (size_t)(r->nv ? r->nv : 1));
  qc_status s = r->kept && r->last_use ? QC_OK : QC_OOM();
  qc_calib_stream *cs = NULL;
  if (!s) s = qc_calib_open(g, o, &cs);
  int64_t total = cs ? qc_calib_count(cs) : 0;
  int32_t n_in = qc_graph_num_inputs(g);
  for (int32_t i = 0; i < n_in && !s; i++) {
    qc_vid v = qc_graph_input(g, i);
    if (!(r->kept[v] = calloc((size_t)(total ? total : 1), sizeof(qc_rvalue)))) s = QC_OOM();
  }
  /* Every batch's inputs, kept: they are small (token ids) next to what runs on them. */
  while (!s) {
    qc_calib_batch b;
    bool end;
    s = qc_calib_next(cs, &b, &end);
    if (s || end) break;
    if (r->n_batches >= total) s = qc_status_new(QC_CODE_INTERNAL, "more batches than counted");
    for (int32_t i = 0; i < n_in && i < b.n && !s; i++) {
      r->kept[qc_graph_input(g, i)][r->n_batches] = b.inputs[i];
      memset(&b.inputs[i], 0, sizeof b.inputs[i]);
    }
    qc_calib_batch_free(&b);
    r->n_batches++;
  }
  qc_calib_close(cs);
  if (!s) s = qc_seqrun_refresh(r);
  if (s) {
    qc_seqrun_destroy(r);
    return s;
  }
  *out = r;
  return QC_OK;
}

qc_status qc_seqrun_refresh(qc_seqrun *r) {
  const qc_graph *g = r->g;
  int32_t nv = qc_graph_num_values(g), nn = qc_graph_num_nodes(g);
  if (nv > r->nv) {
    qc_rvalue **k = realloc(r->kept, sizeof *k * (size_t)nv);
    int32_t *l = realloc(r->last_use, sizeof *l * (size_t)nv);
    if (k) r->kept = k;
    if (l) r->last_use = l;
    if (!k || !l) return QC_OOM();
    for (int32_t v = r->nv; v < nv; v++) r->kept[v] = NULL;
    r->nv = nv;
  }
  for (int32_t v = 0; v < nv; v++) r->last_use[v] = -1;
  for (qc_nid n = 0; n < nn; n++) {
    const qc_node *d = qc_graph_node(g, n);
    if (d->dead) continue;
    for (int32_t i = 0; i < d->n_in; i++)
      if (d->in[i] >= 0) r->last_use[d->in[i]] = n;
  }
  for (int32_t i = 0; i < qc_graph_num_outputs(g); i++)
    if (qc_graph_output(g, i) >= 0) r->last_use[qc_graph_output(g, i)] = nn;
  free(r->konst);
  r->konst = calloc((size_t)(nn ? nn : 1), 1);
  if (!r->konst) return QC_OOM();
  for (qc_nid n = 0; n < nn; n++) {
    const qc_node *d = qc_graph_node(g, n);
    const qc_op_schema *sc = qc_op_schema_of(d->op);
    /* quarc.Observe is marked as a side effect (dce keeps it) but runs as the identity */
    bool k = !d->dead && d->n_in > 0 && sc &&
             (d->op == QC_OP_Q_Observe ||
              !(sc->flags & (QC_OPF_RANDOM | QC_OPF_SIDE_EFFECT | QC_OPF_SUBGRAPH)));
    for (int32_t i = 0; i < d->n_in && k; i++) {
      if (d->in[i] < 0) continue;
      const qc_value *v = qc_graph_value(g, d->in[i]);
      k = v->kind == QC_VALUE_CONST || (v->kind == QC_VALUE_NODE && r->konst[v->node]);
    }
    r->konst[n] = k;
  }
  return QC_OK;
}

int64_t qc_seqrun_batches(const qc_seqrun *r) { return r->n_batches; }

static void drop(qc_seqrun *r, qc_vid v) {
  if (!r->kept[v]) return;
  for (int64_t b = 0; b < r->n_batches; b++) qc_rvalue_release(&r->kept[v][b]);
  free(r->kept[v]);
  r->kept[v] = NULL;
}

void qc_seqrun_destroy(qc_seqrun *r) {
  if (!r) return;
  for (int32_t v = 0; r->kept && v < r->nv; v++) drop(r, v);
  free(r->kept);
  free(r->last_use);
  free(r->konst);
  free(r);
}

/* The type of v in g, with its symbolic dims renamed into `to`. */
static qc_type type_in(const qc_graph *g, qc_graph *to, qc_vid v) {
  qc_type t = qc_graph_value(g, v)->type;
  for (int32_t d = 0; d < t.rank && d < QC_MAX_RANK; d++) {
    const char *sym = qc_graph_sym_name(g, t.dims[d]);
    if (sym) t.dims[d] = qc_graph_sym(to, sym);
  }
  return t;
}

typedef struct seg {
  qc_seqrun *r;
  qc_graph *one;
  qc_vid *map; /* g's values -> one's */
  qc_vid *ins; /* g's values that are one's inputs */
  int32_t *n_ins;
  const qc_seqrun_edit *edits; /* a probe's replaced values */
  int32_t n_edits;
} seg;

static const qc_seqrun_edit *edit_of(const seg *sg, qc_vid x) {
  for (int32_t i = 0; i < sg->n_edits; i++)
    if (sg->edits[i].value == x) return &sg->edits[i];
  return NULL;
}

static qc_status seg_add(seg *sg, qc_nid k, int depth);

/* one's value for g's x: a constant, a kept value (an input of one), or the output of a node
 * computed from constants, added here; a probe's edit first. */
static qc_status seg_value(seg *sg, qc_vid x, int depth) {
  const qc_graph *g = sg->r->g;
  if (sg->map[x] >= 0) return QC_OK;
  const qc_value *xv = qc_graph_value(g, x);
  const qc_seqrun_edit *e = edit_of(sg, x);
  if (e && e->constant) return qc_graph_add_const(sg->one, xv->name, e->constant, &sg->map[x]);
  if (xv->kind == QC_VALUE_CONST) return qc_graph_add_const(sg->one, xv->name, &xv->cst, &sg->map[x]);
  if (sg->r->kept[x]) {
    qc_type t = type_in(g, sg->one, x);
    QC_RETURN_IF_ERROR(qc_graph_add_input(sg->one, xv->name, &t, &sg->map[x]));
    sg->ins[(*sg->n_ins)++] = x;
    return QC_OK;
  }
  if (!e && xv->kind == QC_VALUE_NODE && sg->r->konst[xv->node]) {
    QC_RETURN_IF_ERROR(seg_add(sg, xv->node, depth + 1));
    if (sg->map[x] >= 0) return QC_OK;
  }
  return qc_status_new(QC_CODE_INTERNAL, "a segment reads '%s', which no earlier segment kept%s",
                       xv->name, e ? " (a probe replaces it per batch)" : "");
}

static qc_status seg_add(seg *sg, qc_nid k, int depth) {
  const qc_graph *g = sg->r->g;
  const qc_node *d = qc_graph_node(g, k);
  if (depth > 64)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: a chain of more than 64 nodes computed from "
                                                "constants", qc_node_desc(g, k));
  for (int32_t i = 0; i < d->n_in; i++)
    if (d->in[i] >= 0) QC_RETURN_IF_ERROR(seg_value(sg, d->in[i], depth));
  return qc_qclone_node(g, k, sg->one, sg->map);
}

/* The nodes from r->done to `to` on every batch. A segment (probe false) keeps what later
 * nodes read and advances; a probe keeps nothing, reads `edits` in place of the values they
 * name, and makes the listed values outputs so that they are computed. */
static qc_status run_range(qc_seqrun *r, qc_nid to, bool probe, int32_t n_edits,
                           const qc_seqrun_edit *edits, int32_t n, const qc_vid *values,
                           qc_collect_fn fn, void *user) {
  const qc_graph *g = r->g;
  int32_t nn = qc_graph_num_nodes(g), nv = qc_graph_num_values(g);
  qc_nid from = r->done;
  if (to > nn) to = nn;
  if (to <= from) return QC_OK;
  qc_graph *one = NULL;
  qc_status s = qc_qgraph_like(g, &one);
  qc_vid *map = s ? NULL : malloc(sizeof *map * (size_t)(nv ? nv : 1));
  qc_vid *ins = s ? NULL : malloc(sizeof *ins * (size_t)(nv ? nv : 1));
  qc_vid *outs = s ? NULL : malloc(sizeof *outs * (size_t)(nv ? nv : 1));
  int32_t n_ins = 0, n_outs = 0;
  if (!s && (!map || !ins || !outs)) s = QC_OOM();
  for (qc_vid v = 0; !s && v < nv; v++) map[v] = QC_NONE;
  for (int32_t i = 0; i < n_edits && !s; i++) {
    qc_vid v = edits[i].value;
    if (v < 0 || v >= nv || (!edits[i].constant && !edits[i].fn))
      s = qc_status_new(QC_CODE_INTERNAL, "a probe edit names no value or replacement");
    else if (!edits[i].constant && !r->kept[v])
      s = qc_status_new(QC_CODE_INTERNAL, "a probe replaces '%s' per batch, which is not kept",
                        qc_graph_value(g, v)->name);
  }
  /* The segment's nodes (those whose outputs someone reads), reading kept values as inputs;
   * nodes computed from constants alone (a weight's Transpose, its dequantization) are
   * added where they are read, from the constants as they are now. */
  seg sg = {r, one, map, ins, &n_ins, edits, n_edits};
  for (qc_nid k = from; k < to && !s; k++) {
    const qc_node *d = qc_graph_node(g, k);
    if (d->dead || r->konst[k]) continue;
    bool used = false;
    for (int32_t i = 0; i < d->n_out; i++) used = used || (d->out[i] >= 0 && r->last_use[d->out[i]] >= 0);
    if (used) s = seg_add(&sg, k, 0);
  }
  /* Outputs: what later nodes read (a segment), the listed values (a probe). */
  for (qc_vid v = 0; v < nv && !s; v++) {
    const qc_value *xv = qc_graph_value(g, v);
    if (map[v] < 0 || xv->kind != QC_VALUE_NODE || xv->node < from || xv->node >= to ||
        r->konst[xv->node])
      continue;
    bool listed = false;
    for (int32_t i = 0; i < n && probe && !listed; i++) listed = values[i] == v;
    if (probe ? listed : r->last_use[v] >= to) {
      s = qc_graph_add_output(one, map[v]);
      outs[n_outs++] = v;
    }
  }
  collect c = {one, NULL, fn, user};
  if (!s) {
    int32_t snv = qc_graph_num_values(one);
    c.index_of = malloc(sizeof *c.index_of * (size_t)(snv ? snv : 1));
    if (!c.index_of) s = QC_OOM();
    for (qc_vid v = 0; !s && v < snv; v++) c.index_of[v] = -1;
    for (int32_t i = 0; !s && i < n; i++)
      if (values[i] >= 0 && values[i] < nv && map[values[i]] >= 0) c.index_of[map[values[i]]] = i;
  }
  for (int32_t i = 0; i < n_outs && !s && !probe; i++)
    if (!(r->kept[outs[i]] = calloc((size_t)(r->n_batches ? r->n_batches : 1), sizeof(qc_rvalue))))
      s = QC_OOM();
  /* The graph's own inputs are computed by no segment: the first one hands them over. */
  for (int32_t i = 0; i < n && !s && from == 0 && !probe; i++) {
    const qc_value *v = values[i] >= 0 && values[i] < nv ? qc_graph_value(g, values[i]) : NULL;
    if (!v || v->kind != QC_VALUE_INPUT || !r->kept[values[i]]) continue;
    for (int64_t b = 0; b < r->n_batches && !s; b++)
      if (r->kept[values[i]][b].kind == QC_RV_TENSOR) s = fn(user, i, &r->kept[values[i]][b].t);
  }
  /* Per input of one: the probe edit that replaces it per batch, or NULL. */
  const qc_seqrun_edit **per = s ? NULL : calloc((size_t)(n_ins ? n_ins : 1), sizeof *per);
  if (!s && !per) s = QC_OOM();
  for (int32_t i = 0; i < n_ins && !s; i++) per[i] = edit_of(&sg, ins[i]);
  qc_interp *it = NULL;
  qc_interp_options io = {r->n_threads, on_value, &c, NULL, false};
  if (!s) s = qc_interp_create(one, &io, &it);
  qc_rvalue *in_vals = s ? NULL : calloc((size_t)(n_ins ? n_ins : 1), sizeof *in_vals);
  qc_rvalue *out_vals = s ? NULL : calloc((size_t)(n_outs ? n_outs : 1), sizeof *out_vals);
  qc_rvalue *edited = s ? NULL : calloc((size_t)(n_ins ? n_ins : 1), sizeof *edited);
  if (!s && (!in_vals || !out_vals || !edited)) s = QC_OOM();
  for (int64_t b = 0; b < r->n_batches && !s; b++) {
    for (int32_t i = 0; i < n_ins && !s; i++) {
      in_vals[i] = r->kept[ins[i]][b];
      if (!per[i]) continue;
      if (in_vals[i].kind != QC_RV_TENSOR) {
        s = qc_status_new(QC_CODE_RUNTIME, "value '%s' is not a tensor",
                          qc_graph_value(g, ins[i])->name);
        break;
      }
      edited[i].kind = QC_RV_TENSOR;
      s = per[i]->fn(per[i]->user, b, &in_vals[i].t, &edited[i].t);
      if (!s) in_vals[i] = edited[i];
      else memset(&edited[i], 0, sizeof edited[i]);
    }
    if (!s) s = qc_interp_run(it, n_ins, in_vals, n_outs, out_vals);
    for (int32_t i = 0; i < n_ins; i++) qc_rvalue_release(&edited[i]);
    for (int32_t i = 0; i < n_outs && !s; i++) {
      if (probe) qc_rvalue_release(&out_vals[i]);
      else r->kept[outs[i]][b] = out_vals[i];
      memset(&out_vals[i], 0, sizeof out_vals[i]);
    }
    if (s) s = qc_status_wrap(s, "calibration batch %lld", (long long)b);
  }
  qc_interp_destroy(it);
  free(in_vals);
  free(out_vals);
  free(edited);
  free(per);
  free(c.index_of);
  qc_graph_destroy(one);
  free(map);
  free(ins);
  free(outs);
  if (s || probe) return s;
  r->done = to;
  /* Values no later node reads are let go. */
  for (qc_vid v = 0; v < nv; v++)
    if (r->kept[v] && r->last_use[v] < to) drop(r, v);
  return QC_OK;
}

qc_status qc_seqrun_segment(qc_seqrun *r, qc_nid to, int32_t n, const qc_vid *values,
                            qc_collect_fn fn, void *user) {
  return run_range(r, to, false, 0, NULL, n, values, fn, user);
}

qc_status qc_seqrun_probe(qc_seqrun *r, qc_nid to, int32_t n_edits, const qc_seqrun_edit *edits,
                          int32_t n, const qc_vid *values, qc_collect_fn fn, void *user) {
  return run_range(r, to, true, n_edits, edits, n, values, fn, user);
}

const qc_tensor *qc_seqrun_kept(const qc_seqrun *r, qc_vid v, int64_t batch) {
  if (v < 0 || v >= r->nv || !r->kept[v] || batch < 0 || batch >= r->n_batches ||
      r->kept[v][batch].kind != QC_RV_TENSOR)
    return NULL;
  return &r->kept[v][batch].t;
}
