/* Running a graph over calibration data and handing chosen values to a callback: the one
 * loop that calibrate (observers), smoothquant (per-channel activation ranges) and gptq
 * (input Hessians) share.
 *
 * Batches are read and run one at a time (passes/quant/calib_data.c) and the interpreter
 * frees every intermediate after its last use, so memory stays bounded by one batch plus
 * what the callback keeps. */
#include "passes/internal.h"
#include "passes/quant/qpass.h"

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
