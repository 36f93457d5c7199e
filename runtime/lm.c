/* Decoder language models on the interpreter: binding input_ids, masks, positions and the KV
 * cache (quarc/lm.h). */
#include "quarc/lm.h"

#include "runtime/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { ROLE_IDS, ROLE_MASK, ROLE_POS, ROLE_TYPES, ROLE_PAST_K, ROLE_PAST_V };

typedef struct layer_io {
  int32_t past_k, past_v;       /* input slots */
  int32_t present_k, present_v; /* output slots */
  int64_t heads, head_dim;
  qc_tensor k, v;               /* the cache (rank 0 until the first run) */
} layer_io;

struct qc_lm {
  const qc_graph *g;
  qc_interp *it;
  int32_t n_in, n_out, logits;
  int32_t *role;     /* per input */
  int32_t n_layers;  /* with a cache */
  layer_io *layers;
  int64_t past, batch;
};

/* "past_key_values.<i>.key" / "present.<i>.value" -> i and whether it is the value; -1 if
 * the name is not of that form. */
static int64_t cache_index(const char *name, const char *prefix, bool *is_value) {
  size_t n = strlen(prefix);
  if (strncmp(name, prefix, n)) return -1;
  char *end;
  long long i = strtoll(name + n, &end, 10);
  if (end == name + n || i < 0 || i > 100000) return -1;
  if (!strcmp(end, ".key")) *is_value = false;
  else if (!strcmp(end, ".value")) *is_value = true;
  else return -1;
  return i;
}

static qc_status grow_layers(qc_lm *lm, int64_t i) {
  if (i < lm->n_layers) return QC_OK;
  layer_io *a = realloc(lm->layers, sizeof *a * (size_t)(i + 1));
  if (!a) return QC_OOM();
  for (int64_t j = lm->n_layers; j <= i; j++) {
    memset(&a[j], 0, sizeof a[j]);
    a[j].past_k = a[j].past_v = a[j].present_k = a[j].present_v = -1;
  }
  lm->layers = a;
  lm->n_layers = (int32_t)(i + 1);
  return QC_OK;
}

static qc_status bind(qc_lm *lm) {
  const qc_graph *g = lm->g;
  lm->n_in = qc_graph_num_inputs(g);
  lm->n_out = qc_graph_num_outputs(g);
  lm->role = calloc((size_t)(lm->n_in ? lm->n_in : 1), sizeof *lm->role);
  if (!lm->role) return QC_OOM();
  bool have_ids = false;
  for (int32_t i = 0; i < lm->n_in; i++) {
    const qc_value *v = qc_graph_value(g, qc_graph_input(g, i));
    bool is_value;
    int64_t li;
    if (!strcmp(v->name, "input_ids")) lm->role[i] = ROLE_IDS, have_ids = true;
    else if (!strcmp(v->name, "attention_mask")) lm->role[i] = ROLE_MASK;
    else if (!strcmp(v->name, "position_ids")) lm->role[i] = ROLE_POS;
    else if (!strcmp(v->name, "token_type_ids")) lm->role[i] = ROLE_TYPES;
    else if ((li = cache_index(v->name, "past_key_values.", &is_value)) >= 0) {
      QC_RETURN_IF_ERROR(grow_layers(lm, li));
      layer_io *l = &lm->layers[li];
      lm->role[i] = is_value ? ROLE_PAST_V : ROLE_PAST_K;
      if (is_value) l->past_v = i;
      else l->past_k = i;
      const qc_type *t = &v->type;
      if (t->dtype != QC_F32 || t->rank != 4 || t->dims[1] < 0 || t->dims[3] < 0)
        return qc_status_new(QC_CODE_UNIMPLEMENTED,
                             "graph '%s': input '%s' must be f32 [batch, kv_heads, past, head_dim] "
                             "with static heads and head_dim",
                             qc_graph_name(g), v->name);
      l->heads = t->dims[1];
      l->head_dim = t->dims[3];
    } else {
      return qc_status_new(QC_CODE_UNIMPLEMENTED,
                           "graph '%s': input '%s' is not one a language model takes (input_ids, "
                           "attention_mask, position_ids, token_type_ids, "
                           "past_key_values.<i>.key/value)",
                           qc_graph_name(g), v->name);
    }
    if (lm->role[i] <= ROLE_TYPES && v->type.dtype != QC_I64 && v->type.dtype != QC_I32)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "graph '%s': input '%s' must be i64 or i32, not %s",
                           qc_graph_name(g), v->name, qc_dtype_name(v->type.dtype));
  }
  if (!have_ids) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "graph '%s' has no input 'input_ids'", qc_graph_name(g));
  if (lm->n_out < 1) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "graph '%s' has no outputs", qc_graph_name(g));
  lm->logits = 0;
  for (int32_t o = 0; o < lm->n_out; o++) {
    const char *name = qc_graph_value(g, qc_graph_output(g, o))->name;
    bool is_value;
    int64_t li;
    if (!strcmp(name, "logits")) lm->logits = o;
    else if ((li = cache_index(name, "present.", &is_value)) >= 0 && li < lm->n_layers) {
      if (is_value) lm->layers[li].present_v = o;
      else lm->layers[li].present_k = o;
    }
  }
  for (int32_t li = 0; li < lm->n_layers; li++) {
    const layer_io *l = &lm->layers[li];
    if (l->past_k < 0 || l->past_v < 0 || l->present_k < 0 || l->present_v < 0)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "graph '%s': layer %d of the KV cache lacks one of "
                           "past_key_values.%d.key/value (inputs) and present.%d.key/value (outputs)",
                           qc_graph_name(g), li, li, li);
  }
  return QC_OK;
}

qc_status qc_lm_create(const qc_graph *g, const qc_interp_options *opts, qc_lm **out) {
  *out = NULL;
  qc_lm *lm = calloc(1, sizeof *lm);
  if (!lm) return QC_OOM();
  lm->g = g;
  qc_status s = bind(lm);
  if (!s) s = qc_interp_create(g, opts, &lm->it);
  if (s) {
    qc_lm_destroy(lm);
    return s;
  }
  *out = lm;
  return QC_OK;
}

void qc_lm_reset(qc_lm *lm) {
  for (int32_t i = 0; i < lm->n_layers; i++) {
    qc_tensor_release(&lm->layers[i].k);
    qc_tensor_release(&lm->layers[i].v);
  }
  lm->past = 0;
  lm->batch = 0;
}

void qc_lm_destroy(qc_lm *lm) {
  if (!lm) return;
  qc_lm_reset(lm);
  qc_interp_destroy(lm->it);
  free(lm->layers);
  free(lm->role);
  free(lm);
}

bool qc_lm_has_cache(const qc_lm *lm) { return lm->n_layers > 0; }
int64_t qc_lm_past_len(const qc_lm *lm) { return lm->past; }

/* An integer tensor [b, n] of the input's dtype, element (r, c) = f(r, c). */
static qc_status int_input(const qc_lm *lm, int32_t slot, int64_t b, int64_t n, const int64_t *ids,
                           int64_t start, int64_t fill, qc_tensor *t) {
  qc_dtype dt = qc_graph_value(lm->g, qc_graph_input(lm->g, slot))->type.dtype;
  int64_t d[2] = {b, n};
  QC_RETURN_IF_ERROR(qc_tensor_alloc(t, NULL, dt, 2, d));
  void *p = qc_tensor_data(t);
  for (int64_t i = 0; i < b * n; i++) {
    int64_t x = ids ? ids[i] : fill >= 0 ? fill : start + i % n;
    if (dt == QC_I64) ((int64_t *)p)[i] = x;
    else ((int32_t *)p)[i] = (int32_t)x;
  }
  return QC_OK;
}

qc_status qc_lm_run(qc_lm *lm, int64_t batch, int64_t seq, const int64_t *ids, bool append,
                    qc_tensor *logits) {
  memset(logits, 0, sizeof *logits);
  if (batch <= 0 || seq <= 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "qc_lm_run: empty batch (%lld x %lld)",
                         (long long)batch, (long long)seq);
  if (!append || !lm->n_layers) qc_lm_reset(lm);
  if (lm->past && batch != lm->batch)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "qc_lm_run: batch %lld continues a cache of batch %lld",
                         (long long)batch, (long long)lm->batch);
  qc_rvalue *in = calloc((size_t)(lm->n_in ? lm->n_in : 1), sizeof *in);
  qc_rvalue *out = calloc((size_t)lm->n_out, sizeof *out);
  qc_status s = in && out ? QC_OK : QC_OOM();
  int64_t past = lm->past;
  for (int32_t i = 0; i < lm->n_in && !s; i++) {
    qc_tensor t;
    memset(&t, 0, sizeof t);
    switch (lm->role[i]) {
    case ROLE_IDS: s = int_input(lm, i, batch, seq, ids, 0, -1, &t); break;
    case ROLE_MASK: s = int_input(lm, i, batch, past + seq, NULL, 0, 1, &t); break;
    case ROLE_POS: s = int_input(lm, i, batch, seq, NULL, past, -1, &t); break;
    case ROLE_TYPES: s = int_input(lm, i, batch, seq, NULL, 0, 0, &t); break;
    default: break;
    }
    if (s) break;
    if (lm->role[i] <= ROLE_TYPES) {
      in[i] = qc_rvalue_tensor(&t);
      qc_tensor_release(&t);
    }
  }
  for (int32_t li = 0; li < lm->n_layers && !s; li++) {
    layer_io *l = &lm->layers[li];
    for (int kv = 0; kv < 2 && !s; kv++) {
      qc_tensor *c = kv ? &l->v : &l->k;
      int32_t slot = kv ? l->past_v : l->past_k;
      if (past) {
        in[slot] = qc_rvalue_tensor(c);
      } else {
        qc_tensor t;
        int64_t d[4] = {batch, l->heads, 0, l->head_dim};
        s = qc_tensor_alloc(&t, NULL, QC_F32, 4, d);
        if (!s) {
          in[slot] = qc_rvalue_tensor(&t);
          qc_tensor_release(&t);
        }
      }
    }
  }
  if (!s) s = qc_interp_run(lm->it, lm->n_in, in, lm->n_out, out);
  if (!s) {
    const qc_rvalue *lo = &out[lm->logits];
    if (lo->kind != QC_RV_TENSOR || lo->t.dtype != QC_F32 || lo->t.rank != 3 ||
        lo->t.dims[0] != batch || lo->t.dims[1] != seq)
      s = qc_status_new(QC_CODE_RUNTIME, "graph '%s': the logits are not f32 [%lld, %lld, vocab]",
                        qc_graph_name(lm->g), (long long)batch, (long long)seq);
  }
  for (int32_t li = 0; li < lm->n_layers && !s; li++) {
    layer_io *l = &lm->layers[li];
    const qc_rvalue *pk = &out[l->present_k], *pv = &out[l->present_v];
    if (pk->kind != QC_RV_TENSOR || pv->kind != QC_RV_TENSOR || pk->t.rank != 4 || pv->t.rank != 4 ||
        pk->t.dims[2] != past + seq || pv->t.dims[2] != past + seq)
      s = qc_status_new(QC_CODE_RUNTIME, "graph '%s': present.%d.key/value are not [batch, heads, %lld, "
                        "head_dim]",
                        qc_graph_name(lm->g), li, (long long)(past + seq));
  }
  if (!s) {
    qc_tensor_copy_ref(logits, &out[lm->logits].t);
    for (int32_t li = 0; li < lm->n_layers; li++) {
      layer_io *l = &lm->layers[li];
      qc_tensor_release(&l->k);
      qc_tensor_release(&l->v);
      qc_tensor_copy_ref(&l->k, &out[l->present_k].t);
      qc_tensor_copy_ref(&l->v, &out[l->present_v].t);
    }
    if (lm->n_layers) {
      lm->past = past + seq;
      lm->batch = batch;
    }
  }
  for (int32_t i = 0; in && i < lm->n_in; i++) qc_rvalue_release(&in[i]);
  for (int32_t i = 0; out && i < lm->n_out; i++) qc_rvalue_release(&out[i]);
  free(in);
  free(out);
  return s;
}

typedef struct nll_job {
  const float *lg;
  const int64_t *ids;
  int64_t V;
  double *per_pos;
} nll_job;

static void nll_range(void *ctx, int64_t t0, int64_t t1) {
  const nll_job *j = ctx;
  for (int64_t t = t0; t < t1; t++) {
    const float *row = j->lg + t * j->V;
    double mx = -INFINITY;
    for (int64_t c = 0; c < j->V; c++) mx = row[c] > mx ? row[c] : mx;
    double se = 0;
    for (int64_t c = 0; c < j->V; c++) se += exp((double)row[c] - mx);
    j->per_pos[t] = mx + log(se) - (double)row[j->ids[t + 1]];
  }
}

qc_status qc_lm_nll(qc_lm *lm, const qc_tensor *logits, const int64_t *ids, int64_t n, double *sum) {
  *sum = 0;
  if (logits->dtype != QC_F32 || logits->rank < 2 || logits->rank > 3 ||
      (logits->rank == 3 && logits->dims[0] != 1) || logits->dims[logits->rank - 2] != n)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "qc_lm_nll: logits must be f32 [1, %lld, vocab]",
                         (long long)n);
  int64_t V = logits->dims[logits->rank - 1];
  for (int64_t t = 1; t < n; t++)
    if (ids[t] < 0 || ids[t] >= V)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "qc_lm_nll: token id %lld at %lld is outside the vocabulary of %lld",
                           (long long)ids[t], (long long)t, (long long)V);
  if (n < 2) return QC_OK;
  double *per = malloc(sizeof(double) * (size_t)(n - 1));
  if (!per) return QC_OOM();
  nll_job j = {qc_tensor_data(logits), ids, V, per};
  qc_pool_for(lm ? lm->it->pool : NULL, n - 1, 16, nll_range, &j);
  double total = 0;
  for (int64_t t = 0; t + 1 < n; t++) total += per[t]; /* in order: the same sum for any threads */
  free(per);
  *sum = total;
  return QC_OK;
}
