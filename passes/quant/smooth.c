/* smoothquant{alpha=0.5, scale-clamp-min=0.001, data=..., ...}: SmoothQuant (Xiao et al.,
 * 2023), as Quark's `smooth` algorithm computes it (reference/quark.md §1.4), and
 * autosmoothquant{loss=mae, ...}: Quark's AutoSmoothQuant, which searches the exponent per
 * group; on an annotated graph before `observe`.
 *
 * A group is the quantized Linear layers that read one activation x (q/k/v after a norm,
 * o_proj after the attention, gate/up, down after the gated product). Per input channel c,
 * SmoothQuant takes
 *
 *   act_max[c] = max over the calibration tokens of |x[:, c]|
 *   w_max[c]   = max(max over the group's weights of |W[:, c]|, 1e-5)
 *   s[c]       = max(act_max[c]^alpha / w_max[c]^(1 - alpha), scale_clamp_min)
 *
 * and AutoSmoothQuant s = max(act_max^r, 1e-4) / sqrt(max s * min s) for the r in 0, 0.1, ...,
 * 0.9 whose quantized group output is closest to the float one (search_group below).
 * x / s is computed by what produces x, W[:, c] * s[c] by the layers, so the float model
 * computes the same function while the quantizers see flatter activations. What produces x
 * takes 1/s where that is exact:
 *   - RMSNormalization / LayerNormalization over the last axis: its scale (and bias);
 *   - a Linear layer whose output only x reads: its weight rows (and bias);
 *   - Mul(a, y) where y is such a Linear's output (SwiGLU's gate * up): y's layer;
 *   - an Attention whose value is such a Linear's output (v_proj -> o_proj): the value
 *     layer's rows, per KV head the largest s of the query heads that read it (all of those
 *     heads' channels take that s too), as Quark's scale_fc_fc does for grouped-query
 *     attention.
 * Otherwise (x has other readers, as a post-norm residual does, or another producer: GELU)
 * the group reads x through a new Mul(x, 1/s), named "<first layer>.input_smooth" (as Quark's
 * ONNX SmoothQuant inserts one); `fold-only` leaves such groups alone instead, as Quark's
 * PyTorch smooth leaves a layer without a scaling-layer entry.
 *
 * SmoothQuant's statistics come from one run over the calibration data before any change;
 * AutoSmoothQuant runs the data through the graph a segment at a time (qc_seqrun) and tries
 * each group's candidates on its segment (qc_seqrun_probe). Both apply the scales after all
 * groups are chosen; every change keeps the float function, so each group's activations are
 * what was measured. */
#include "passes/internal.h"
#include "passes/quant/qpass.h"
#include "passes/quant/quant_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct group {
  qc_vid x;
  int32_t *site; /* indices into the site list */
  int32_t n;
  int64_t c;     /* channels */
  float *act_max;
  /* where 1/s goes */
  qc_nid norm;   /* a norm node, or QC_NONE */
  int32_t prev;  /* a Linear site whose output rows take 1/s, or -1 */
  int64_t heads, kv_heads; /* prev feeds x through an Attention (its value), or 0 */
  bool insert;   /* neither: a Mul(x, 1/s) before the group */
  double *s;     /* the chosen scales */
  float ratio;   /* autosmoothquant: the exponent chosen */
} group;

typedef struct sctx {
  group *g;
  int32_t n;
} sctx;

static qc_status on_x(void *user, int32_t index, const qc_tensor *t) {
  group *gr = &((sctx *)user)->g[index];
  if (t->rank < 1 || t->dims[t->rank - 1] != gr->c)
    return qc_status_new(QC_CODE_RUNTIME, "smoothquant: activation has %lld channels, expected %lld",
                         t->rank ? (long long)t->dims[t->rank - 1] : 0LL, (long long)gr->c);
  float *f;
  QC_RETURN_IF_ERROR(qc_qtensor_f32(t, &f));
  int64_t rows = qc_tensor_numel(t) / gr->c;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < gr->c; c++) {
      float a = fabsf(f[r * gr->c + c]);
      if (a > gr->act_max[c]) gr->act_max[c] = a;
    }
  free(f);
  return QC_OK;
}

/* The site whose (post-bias) output is v and is read by nothing but `reader`, or -1. */
static int32_t linear_feeding(const qc_graph *g, const qc_uses *u, const qc_qsite *s, int32_t n,
                              qc_vid v) {
  if (qc_uses_count(u, v) != 1) return -1;
  for (int32_t i = 0; i < n; i++)
    if (s[i].type == QC_QLAYER_LINEAR && s[i].out == v) {
      /* Its MatMul output must be read only on the way to v (the bias Add). */
      qc_vid mm = qc_graph_node(g, s[i].node)->out[0];
      if (mm != v && qc_uses_count(u, mm) != 1) return -1;
      return i;
    }
  return -1;
}

/* A constant [c] reached directly from input `slot` of n, read by n alone. */
static bool own_vector(const qc_graph *g, const qc_uses *u, qc_nid n, int32_t slot, int64_t c) {
  const qc_node *nd = qc_graph_node(g, n);
  if (slot >= nd->n_in || nd->in[slot] < 0) return false;
  const qc_value *v = qc_graph_value(g, nd->in[slot]);
  return v->kind == QC_VALUE_CONST && qc_dtype_is_float(v->type.dtype) &&
         !qc_dtype_is_block(v->type.dtype) && v->type.rank == 1 && v->type.dims[0] == c &&
         qc_uses_count(u, nd->in[slot]) == 1;
}

/* Where group gr's 1/s can go; false when nowhere exact. */
static bool find_producer(const qc_graph *g, const qc_uses *u, const qc_qsite *s, int32_t n,
                          group *gr) {
  gr->norm = QC_NONE;
  gr->prev = -1;
  gr->heads = gr->kv_heads = 0;
  const qc_value *xv = qc_graph_value(g, gr->x);
  if (xv->kind != QC_VALUE_NODE) return false;
  qc_nid p = xv->node;
  const qc_node *pn = qc_graph_node(g, p);
  if (pn->op == QC_OP_RMSNormalization || pn->op == QC_OP_LayerNormalization) {
    int64_t axis = qc_node_int(g, p, "axis", -1);
    int32_t rank = xv->type.rank;
    if (axis != -1 && axis != rank - 1) return false;
    if (!own_vector(g, u, p, 1, gr->c)) return false;
    if (pn->n_in > 2 && pn->in[2] >= 0 && !own_vector(g, u, p, 2, gr->c)) return false;
    gr->norm = p;
    return true;
  }
  if (pn->op == QC_OP_Attention && pn->n_in >= 3 && pn->out[0] == gr->x && pn->in[2] >= 0) {
    /* v -> o through the attention: per head, the output is a mix of value rows with
     * weights that do not depend on V, so V's channels can take 1/s; a KV head serves
     * `heads / kv_heads` query heads, which must share its scale (Quark's scale_fc_fc). */
    int64_t qh = qc_node_int(g, p, "q_num_heads", 0), kvh = qc_node_int(g, p, "kv_num_heads", 0);
    const qc_type *vt = &qc_graph_value(g, pn->in[2])->type;
    if (qh <= 0 || kvh <= 0 || qh % kvh || gr->c % qh || vt->rank != 3 ||
        vt->dims[2] != kvh * (gr->c / qh))
      return false;
    int32_t i = linear_feeding(g, u, s, n, pn->in[2]);
    if (i < 0) return false;
    gr->prev = i;
    gr->heads = qh;
    gr->kv_heads = kvh;
    return true;
  }
  int32_t direct = linear_feeding(g, u, s, n, gr->x);
  if (direct >= 0) {
    gr->prev = direct;
    return true;
  }
  if (pn->op == QC_OP_Mul && pn->n_in == 2) {
    for (int32_t k = 0; k < 2; k++) {
      qc_vid y = pn->in[k], other = pn->in[1 - k];
      const qc_type *yt = &qc_graph_value(g, y)->type, *ot = &qc_graph_value(g, other)->type;
      if (!qc_type_equal(yt, &xv->type) || !qc_type_equal(ot, &xv->type)) continue;
      int32_t i = linear_feeding(g, u, s, n, y);
      if (i >= 0) {
        gr->prev = i;
        return true;
      }
    }
  }
  return false;
}

/* A copy of the float vector constant at input `slot` of n, each element divided by s. */
static qc_status divide_vector(qc_graph *g, qc_nid n, int32_t slot, const double *s, int64_t c) {
  qc_vid v = qc_graph_node(g, n)->in[slot];
  float *f;
  QC_RETURN_IF_ERROR(qc_qtensor_f32(&qc_graph_value(g, v)->cst, &f));
  qc_tensor t;
  qc_status st = qc_tensor_alloc(&t, qc_graph_allocator(g), QC_F32, 1, &c);
  if (!st) {
    float *d = qc_tensor_data(&t);
    for (int64_t i = 0; i < c; i++) d[i] = (float)((double)f[i] / s[i]);
    qc_vid nv;
    st = qc_qreplace_input(g, n, slot, &t, v, &nv);
    qc_tensor_release(&t);
  }
  free(f);
  return st;
}

/* Layer s's output channels (weight rows and bias) divided by d. */
static qc_status divide_rows(qc_graph *g, qc_qsite *s, const double *d, int64_t c) {
  float *w;
  int64_t rows, cols;
  QC_RETURN_IF_ERROR(qc_qsite_weight(g, s, &w, &rows, &cols));
  qc_status st = rows == c ? QC_OK
                           : qc_status_new(QC_CODE_INTERNAL, "layer '%s': %lld output rows, %lld "
                                                             "channels", s->name, (long long)rows,
                                           (long long)c);
  for (int64_t r = 0; r < rows && !st; r++)
    for (int64_t k = 0; k < cols; k++) w[r * cols + k] = (float)((double)w[r * cols + k] / d[r]);
  if (!st) st = qc_qsite_set_weight(g, s, w);
  free(w);
  if (!st && s->bias >= 0) {
    const qc_value *bv = qc_graph_value(g, s->bias);
    if (bv->kind != QC_VALUE_CONST || qc_graph_node(g, s->bias_user)->in[s->bias_slot] != s->bias)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "layer '%s': its bias is not a plain constant",
                           s->name);
    st = divide_vector(g, s->bias_user, s->bias_slot, d, c);
  }
  return st;
}

/* x / s for the group alone: Mul(x, 1/s) read by the group's layers. */
static qc_status insert_mul(qc_graph *g, qc_qsite *sites, const group *gr, const double *s) {
  qc_tensor t;
  QC_RETURN_IF_ERROR(qc_tensor_alloc(&t, qc_graph_allocator(g), QC_F32, 1, &gr->c));
  float *d = qc_tensor_data(&t);
  for (int64_t i = 0; i < gr->c; i++) d[i] = (float)(1.0 / s[i]);
  const char *first = sites[gr->site[0]].name;
  char base[1200];
  snprintf(base, sizeof base, "%s.input_smooth_scale", first);
  qc_vid inv, xs;
  qc_status st = qc_qadd_const(g, base, &t, &inv);
  qc_tensor_release(&t);
  char *out = NULL;
  if (!st) {
    snprintf(base, sizeof base, "%s.input_smoothed", first);
    out = qc_qunique_name(g, base);
    if (!out) st = QC_OOM();
  }
  snprintf(base, sizeof base, "%s.input_smooth", first);
  if (!st) st = qc_graph_add_op(g, QC_OP_Mul, base, 2, (qc_vid[]){gr->x, inv}, out, &xs);
  free(out);
  if (!st) st = qc_graph_set_type(g, xs, &qc_graph_value(g, gr->x)->type);
  for (int32_t k = 0; k < gr->n && !st; k++)
    qc_node_set_input(g, sites[gr->site[k]].node, sites[gr->site[k]].x_slot, xs);
  return st;
}

/* The group's weights, [rows[k], c] each (Quark's orientation), malloc'd. */
static qc_status group_weights(const qc_graph *g, const qc_qsite *sites, const group *gr,
                               float ***w, int64_t **rows) {
  *w = calloc((size_t)gr->n, sizeof **w);
  *rows = calloc((size_t)gr->n, sizeof **rows);
  qc_status st = *w && *rows ? QC_OK : QC_OOM();
  for (int32_t k = 0; k < gr->n && !st; k++) {
    int64_t cols;
    st = qc_qsite_weight(g, &sites[gr->site[k]], &(*w)[k], &(*rows)[k], &cols);
    if (!st && cols != gr->c)
      st = qc_status_new(QC_CODE_INTERNAL, "layer '%s': %lld input columns, %lld channels",
                         sites[gr->site[k]].name, (long long)cols, (long long)gr->c);
  }
  return st;
}

static void free_weights(const group *gr, float **w, int64_t *rows) {
  for (int32_t k = 0; w && k < gr->n; k++) free(w[k]);
  free(w);
  free(rows);
}

/* SmoothQuant's s = max|x|^alpha / max|W|^(1-alpha), clamped below (in float32, as Quark). */
static qc_status formula_scales(const qc_graph *g, const qc_qsite *sites, group *gr,
                                const qc_qalgo *a) {
  int64_t C = gr->c;
  double *wmax = calloc((size_t)C, sizeof *wmax);
  float **w = NULL;
  int64_t *rows = NULL;
  qc_status st = wmax ? group_weights(g, sites, gr, &w, &rows) : QC_OOM();
  for (int32_t k = 0; k < gr->n && !st; k++)
    for (int64_t r = 0; r < rows[k]; r++)
      for (int64_t c = 0; c < C; c++) {
        double v = fabs((double)w[k][r * C + c]);
        if (v > wmax[c]) wmax[c] = v;
      }
  for (int64_t c = 0; c < C && !st; c++) {
    float wm = (float)wmax[c] < 1e-5f ? 1e-5f : (float)wmax[c];
    float v = powf(gr->act_max[c], (float)a->alpha) / powf(wm, (float)(1.0 - a->alpha));
    gr->s[c] = v < (float)a->scale_clamp_min ? (float)a->scale_clamp_min : v;
  }
  free_weights(gr, w, rows);
  free(wmax);
  return st;
}

/* The scale the layers' columns take for s (applied, c entries) and the one the producer's
 * channels take (kv, c or kv_heads * head_dim entries): s itself, except through a
 * grouped-query attention, where each KV head's channel takes the largest s of the query
 * heads reading it (Quark's scale_fc_fc). */
static void fold_heads(const group *gr, const double *s, double *applied, double *kv) {
  int64_t C = gr->c;
  if (gr->heads <= 0) {
    for (int64_t c = 0; c < C; c++) applied[c] = kv[c] = s[c];
    return;
  }
  int64_t hd = C / gr->heads, rep = gr->heads / gr->kv_heads;
  for (int64_t h = 0; h < gr->kv_heads; h++)
    for (int64_t d = 0; d < hd; d++) {
      double m = 0;
      for (int64_t r = 0; r < rep; r++) m = fmax(m, s[(h * rep + r) * hd + d]);
      kv[h * hd + d] = m;
      for (int64_t r = 0; r < rep; r++) applied[(h * rep + r) * hd + d] = m;
    }
}

/* Apply gr->s: the layers' columns times s, what produces x divided by it. */
static qc_status apply_scales(qc_graph *g, qc_qsite *sites, group *gr) {
  int64_t C = gr->c;
  double *s = malloc(sizeof *s * (size_t)C), *kv = malloc(sizeof *kv * (size_t)C);
  float **w = NULL;
  int64_t *rows = NULL;
  qc_status st = s && kv ? group_weights(g, sites, gr, &w, &rows) : QC_OOM();
  if (!st) fold_heads(gr, gr->s, s, kv);
  for (int32_t k = 0; k < gr->n && !st; k++) {
    for (int64_t r = 0; r < rows[k]; r++)
      for (int64_t c = 0; c < C; c++) w[k][r * C + c] = (float)((double)w[k][r * C + c] * s[c]);
    st = qc_qsite_set_weight(g, &sites[gr->site[k]], w[k]);
  }
  if (!st && gr->norm >= 0) {
    st = divide_vector(g, gr->norm, 1, s, C);
    const qc_node *pn = qc_graph_node(g, gr->norm);
    if (!st && pn->n_in > 2 && pn->in[2] >= 0) st = divide_vector(g, gr->norm, 2, s, C);
  } else if (!st && gr->prev >= 0) {
    st = divide_rows(g, &sites[gr->prev], kv, gr->heads > 0 ? gr->kv_heads * (C / gr->heads) : C);
  } else if (!st && gr->insert) {
    st = insert_mul(g, sites, gr, s);
  }
  free_weights(gr, w, rows);
  free(s);
  free(kv);
  return st;
}

/* ---- AutoSmoothQuant: the exponent of max|x| searched per group ---------------------------- */

/* The group's module: its layers and, for a group of several (q/k/v, gate/up), what they feed
 * up to the one Linear layer that reads all their outputs (o_proj, down_proj), as Quark's
 * module2inspect (the attention, the MLP). *out (gr->n entries) gets the values the loss
 * compares (that layer's output, or each layer's) and *n_out their number. */
static qc_status module_outputs(const qc_graph *g, const qc_uses *u, const qc_qsite *sites,
                                int32_t ns, const group *gr, qc_vid *out, int32_t *n_out) {
  *n_out = 0;
  int32_t nn = qc_graph_num_nodes(g), nv = qc_graph_num_values(g);
  if (gr->n > 1) {
    uint8_t *seen = calloc((size_t)(nv ? nv : 1), 1);
    qc_vid *stack = malloc(sizeof *stack * (size_t)(nv ? nv : 1));
    int32_t sp = 0, next = -1;
    bool one = seen && stack;
    if (!one) {
      free(seen);
      free(stack);
      return QC_OOM();
    }
    for (int32_t k = 0; k < gr->n; k++) {
      seen[sites[gr->site[k]].out] = 1;
      stack[sp++] = sites[gr->site[k]].out;
    }
    while (sp > 0 && one) {
      qc_vid v = stack[--sp];
      for (int32_t k = u->start[v]; k < u->start[v + 1] && one; k++) {
        qc_use use = u->use[k];
        if (use.node < 0 || use.node >= nn) continue; /* a graph output */
        int32_t hit = -1;
        for (int32_t i = 0; i < ns && hit < 0; i++)
          if (sites[i].node == use.node && sites[i].type == QC_QLAYER_LINEAR &&
              sites[i].x_slot == use.slot)
            hit = i;
        if (hit >= 0) {
          if (next >= 0 && next != hit) one = false;
          next = hit;
          continue;
        }
        const qc_node *d = qc_graph_node(g, use.node);
        for (int32_t o = 0; o < d->n_out; o++)
          if (d->out[o] >= 0 && !seen[d->out[o]]) {
            seen[d->out[o]] = 1;
            stack[sp++] = d->out[o];
          }
      }
    }
    free(seen);
    free(stack);
    if (one && next >= 0) {
      for (int32_t k = 0; k < gr->n; k++)
        if (gr->site[k] == next) one = false;
      if (one) {
        out[(*n_out)++] = sites[next].out;
        return QC_OK;
      }
    }
  }
  for (int32_t k = 0; k < gr->n; k++) out[(*n_out)++] = sites[gr->site[k]].out;
  return QC_OK;
}

typedef struct asq {
  group *gr;
  int64_t batches;
  double power;        /* the loss: mean |float - quantized|^power */
  int32_t n_out;
  float **ref;         /* per output and batch: the float module's output */
  int64_t *ref_n;
  int64_t *calls;      /* per output: batches seen in this probe */
  double loss_sum;
  int64_t loss_n;
  const float *s;      /* the trial scales */
  qc_quantizer *xq;    /* the input quantizer, observed on x / s (NULL: none) */
} asq;

static qc_status keep_ref(void *user, int32_t index, const qc_tensor *t) {
  asq *c = user;
  int64_t b = c->calls[index]++;
  if (b >= c->batches) return qc_status_new(QC_CODE_INTERNAL, "more batches than counted");
  c->ref_n[index * c->batches + b] = qc_tensor_numel(t);
  return qc_qtensor_f32(t, &c->ref[index * c->batches + b]);
}

static qc_status add_loss(void *user, int32_t index, const qc_tensor *t) {
  asq *c = user;
  int64_t b = c->calls[index]++;
  int64_t n = qc_tensor_numel(t);
  if (b >= c->batches || n != c->ref_n[index * c->batches + b])
    return qc_status_new(QC_CODE_INTERNAL, "autosmoothquant: a trial's output does not match "
                                           "the float one");
  float *f;
  QC_RETURN_IF_ERROR(qc_qtensor_f32(t, &f));
  const float *r = c->ref[index * c->batches + b];
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)r[i] - (double)f[i]);
    sum += c->power == 1.0 ? d : c->power == 2.0 ? d * d : pow(d, c->power);
  }
  free(f);
  c->loss_sum += sum;
  c->loss_n += n;
  return QC_OK;
}

/* x / s in float32 (as Quark divides), [rows, c], whatever float dtype x has; malloc'd. */
static qc_status divide_x(const asq *c, const qc_tensor *in, float **out, int64_t *rows) {
  int64_t C = c->gr->c, n = qc_tensor_numel(in);
  QC_RETURN_IF_ERROR(qc_qtensor_f32(in, out));
  for (int64_t i = 0; i < n; i++) (*out)[i] /= c->s[i % C];
  *rows = n / C;
  return QC_OK;
}

/* The trial's input: Q(x / s) with the quantizer observed on every batch, in x's dtype. */
static qc_status trial_input(void *user, int64_t batch, const qc_tensor *in, qc_tensor *out) {
  (void)batch;
  asq *c = user;
  float *f;
  int64_t rows;
  QC_RETURN_IF_ERROR(divide_x(c, in, &f, &rows));
  int64_t shape[2] = {rows, c->gr->c};
  qc_status st = c->xq ? qc_quantizer_forward(c->xq, f, 2, shape, f) : QC_OK;
  if (!st) st = qc_tensor_alloc(out, NULL, in->dtype, in->rank, in->dims);
  if (!st) qc_convert_from_f32(f, in->dtype, qc_tensor_data(out), (size_t)qc_tensor_numel(in), 0);
  free(f);
  return st;
}

/* Q(W * s) for each layer of the group, in the orientation its weight value has. */
static qc_status trial_weights(const qc_graph *g, const qc_qsite *sites, const group *gr,
                               float *const *w, const int64_t *rows, const float *s,
                               qc_tensor *t) {
  qc_status st = QC_OK;
  for (int32_t k = 0; k < gr->n && !st; k++) {
    const qc_qsite *site = &sites[gr->site[k]];
    int64_t C = gr->c, shape[2] = {rows[k], C};
    float *ws = malloc(sizeof *ws * (size_t)(rows[k] * C));
    if (!ws) return QC_OOM();
    for (int64_t r = 0; r < rows[k]; r++)
      for (int64_t c = 0; c < C; c++) ws[r * C + c] = w[k][r * C + c] * s[c];
    qc_qspecs sp = {0};
    qc_quantizer *q = NULL;
    st = qc_qlayer_specs(g, site->name, "weight", &sp);
    if (!st && sp.n > 0) {
      qc_tensor shp = {.rank = 2, .dims = {shape[0], shape[1]}};
      st = qc_quantizer_create(&sp, QC_F32, &q);
      if (!st) st = qc_quantizer_forward_padded(q, &sp, ws, &shp);
    }
    qc_quantizer_free(q);
    qc_qspecs_clear(&sp);
    if (!st) st = qc_qsite_weight_tensor(g, site, ws, &t[k]);
    free(ws);
  }
  return st;
}

/* gr->act_max over every calibration batch the run kept of x. */
static qc_status kept_max(const qc_graph *g, qc_seqrun *run, group *gr) {
  sctx one = {gr, 1};
  for (int64_t b = 0; b < qc_seqrun_batches(run); b++) {
    const qc_tensor *x = qc_seqrun_kept(run, gr->x, b);
    if (!x)
      return qc_status_new(QC_CODE_INTERNAL, "autosmoothquant: '%s' was not kept",
                           qc_graph_value(g, gr->x)->name);
    QC_RETURN_IF_ERROR(on_x(&one, 0, x));
  }
  return QC_OK;
}

/* The trial scales for exponent r: max(max|x|^r, 1e-4) / sqrt(max s * min s), in float32. */
static void ratio_scales(const group *gr, float ratio, float *s) {
  float hi = 0, lo = INFINITY;
  for (int64_t k = 0; k < gr->c; k++) {
    float v = powf(gr->act_max[k], ratio);
    s[k] = v < 1e-4f ? 1e-4f : v;
    hi = fmaxf(hi, s[k]);
    lo = fminf(lo, s[k]);
  }
  float norm = sqrtf(hi * lo);
  for (int64_t k = 0; k < gr->c; k++) s[k] /= norm;
}

/* c->xq: the input quantizer (spec xs) observed on x / s over every kept batch; NULL when the
 * input is not quantized. */
static qc_status observe_input(asq *c, qc_seqrun *run, const qc_qspecs *xs) {
  c->xq = NULL;
  if (xs->n == 0) return QC_OK;
  QC_RETURN_IF_ERROR(qc_quantizer_create(xs, QC_F32, &c->xq));
  for (int64_t b = 0; b < c->batches; b++) {
    float *f;
    int64_t r;
    QC_RETURN_IF_ERROR(divide_x(c, qc_seqrun_kept(run, c->gr->x, b), &f, &r));
    qc_status st = qc_quantizer_observe(c->xq, f, 2, (int64_t[]){r, c->gr->c});
    free(f);
    QC_RETURN_IF_ERROR(st);
  }
  return qc_quantizer_finalize(c->xq);
}

/* Quark's search (quark/torch/algorithm/awq/auto_smooth.py): for ratio r = 0, 0.1, ..., 0.9,
 * s = ratio_scales(r); the module runs with its layers' weights Q(W * s) and its input
 * Q(x / s) (the last layer's input quantizer, observed over all calibration tokens); the s
 * with the smallest mean |float - quantized|^p is kept. */
static qc_status search_group(const qc_graph *g, const qc_qsite *sites, const qc_uses *u,
                              int32_t ns, qc_seqrun *run, group *gr, const qc_qalgo *a) {
  int64_t C = gr->c, B = qc_seqrun_batches(run);
  qc_nid first = sites[gr->site[0]].node;
  for (int32_t k = 1; k < gr->n; k++)
    if (sites[gr->site[k]].node < first) first = sites[gr->site[k]].node;
  qc_vid *outs = malloc(sizeof *outs * (size_t)gr->n);
  int32_t n_out = 0;
  qc_status st = outs ? module_outputs(g, u, sites, ns, gr, outs, &n_out) : QC_OOM();
  if (st) {
    free(outs);
    return st;
  }
  qc_nid to = first;
  for (int32_t i = 0; i < n_out; i++)
    if (qc_graph_value(g, outs[i])->node + 1 > to) to = qc_graph_value(g, outs[i])->node + 1;
  float *s = malloc(sizeof *s * (size_t)C);
  asq c = {gr, B, a->loss_power, n_out, NULL, NULL, NULL, 0, 0, s, NULL};
  c.ref = calloc((size_t)(n_out * B + 1), sizeof *c.ref);
  c.ref_n = calloc((size_t)(n_out * B + 1), sizeof *c.ref_n);
  c.calls = calloc((size_t)n_out, sizeof *c.calls);
  qc_tensor *wt = calloc((size_t)gr->n, sizeof *wt);
  qc_seqrun_edit *edits = calloc((size_t)gr->n + 1, sizeof *edits);
  float **w = NULL;
  int64_t *rows = NULL;
  qc_qspecs xs = {0};
  st = s && c.ref && c.ref_n && c.calls && wt && edits ? QC_OK : QC_OOM();
  if (!st) st = qc_seqrun_segment(run, first, 0, NULL, NULL, NULL);
  if (!st) st = kept_max(g, run, gr);
  /* the float module's output */
  if (!st) st = qc_seqrun_probe(run, to, 0, NULL, n_out, outs, keep_ref, &c);
  if (!st) st = group_weights(g, sites, gr, &w, &rows);
  if (!st) st = qc_qlayer_specs(g, sites[gr->site[gr->n - 1]].name, "input_tensors", &xs);
  double best = INFINITY;
  for (int32_t i = 0; i < 10 && !st; i++) {
    float ratio = (float)(i / 10.0);
    ratio_scales(gr, ratio, s);
    st = trial_weights(g, sites, gr, w, rows, s, wt);
    for (int32_t k = 0; k < gr->n; k++)
      edits[k] = (qc_seqrun_edit){sites[gr->site[k]].weight, &wt[k], NULL, NULL};
    edits[gr->n] = (qc_seqrun_edit){gr->x, NULL, trial_input, &c};
    if (!st) st = observe_input(&c, run, &xs);
    c.loss_sum = 0;
    c.loss_n = 0;
    memset(c.calls, 0, sizeof *c.calls * (size_t)n_out);
    if (!st) st = qc_seqrun_probe(run, to, gr->n + 1, edits, n_out, outs, add_loss, &c);
    double loss = c.loss_n ? c.loss_sum / (double)c.loss_n : INFINITY;
    if (!st && loss < best) { /* the first smallest, as torch's argmin */
      best = loss;
      for (int64_t k = 0; k < C; k++) gr->s[k] = s[k];
      gr->ratio = ratio;
    }
    qc_quantizer_free(c.xq);
    c.xq = NULL;
    for (int32_t k = 0; k < gr->n; k++) qc_tensor_release(&wt[k]);
  }
  if (!st && !isfinite(best))
    st = qc_status_new(QC_CODE_RUNTIME, "autosmoothquant: no finite loss (the module's output "
                                        "is not finite)");
  qc_qspecs_clear(&xs);
  free_weights(gr, w, rows);
  for (int64_t i = 0; c.ref && i < n_out * B; i++) free(c.ref[i]);
  free(c.ref);
  free(c.ref_n);
  free(c.calls);
  free(wt);
  free(edits);
  free(s);
  free(outs);
  return st;
}

/* Every group's s, by search: the groups in node order, each after the calibration batches
 * ran up to its first layer (with the float model: the scales are applied after the search,
 * as Quark applies a decoder layer's after searching all its groups). */
static qc_status search_scales(const qc_graph *g, const qc_calib_options *o, const qc_qsite *sites,
                               int32_t ns, group *gr, int32_t n, const qc_qalgo *a) {
  qc_uses u;
  QC_RETURN_IF_ERROR(qc_uses_compute(g, &u));
  qc_seqrun *run = NULL;
  qc_status st = qc_seqrun_create(g, o, &run);
  for (int32_t k = 0; k < n && !st; k++) {
    st = search_group(g, sites, &u, ns, run, &gr[k], a);
    if (st) st = qc_status_wrap(st, "autosmoothquant: layer '%s'", sites[gr[k].site[0]].name);
    if (!st && o->progress) o->progress(o->user, k + 1, n);
  }
  qc_seqrun_destroy(run);
  qc_uses_free(g, &u);
  return st;
}

qc_status qc_quant_smooth(qc_graph *g, const qc_calib_options *o, const qc_qalgo *a,
                          int32_t *n_smoothed, float **ratios) {
  bool fold_only = a->fold_only;
  if (n_smoothed) *n_smoothed = 0;
  if (ratios) *ratios = NULL;
  const char *pass = a->kind == QC_QALGO_AUTOSMOOTH ? "autosmoothquant" : "smoothquant";
  QC_RETURN_IF_ERROR(qc_qcheck_before_observe(g, pass));
  qc_qsite *sites = NULL;
  int32_t ns = 0;
  QC_RETURN_IF_ERROR(qc_qsites_find(g, &sites, &ns));
  qc_uses u;
  qc_status st = qc_uses_compute(g, &u);
  if (st) {
    qc_qsites_free(sites, ns);
    return st;
  }
  group *gr = calloc((size_t)(ns ? ns : 1), sizeof *gr);
  int32_t *members = calloc((size_t)(ns ? ns : 1), sizeof *members);
  int32_t *gidx = malloc(sizeof *gidx * (size_t)(ns ? ns : 1)); /* per site: its group or -1 */
  int32_t ng = 0, nm = 0;
  if (!gr || !members || !gidx) st = QC_OOM();
  /* Groups: the quantized Linear layers reading one x, in node order. */
  for (int32_t i = 0; i < ns && !st; i++) {
    qc_qsite *s = &sites[i];
    gidx[i] = -1;
    if (s->type != QC_QLAYER_LINEAR || s->x_slot < 0 || !qc_qsite_quantized(g, s, &st)) continue;
    qc_vid x = qc_graph_node(g, s->node)->in[s->x_slot];
    int32_t k = 0;
    while (k < ng && gr[k].x != x) k++;
    if (k == ng) {
      const qc_type *xt = &qc_graph_value(g, x)->type;
      if (xt->rank < 1 || !qc_dim_is_static(xt->dims[xt->rank - 1])) continue;
      gr[ng++] = (group){.x = x, .c = xt->dims[xt->rank - 1], .norm = QC_NONE, .prev = -1};
    }
    gr[k].n++;
    gidx[i] = k;
  }
  /* Members, contiguous per group. */
  for (int32_t k = 0; k < ng && !st; k++) {
    gr[k].site = &members[nm];
    for (int32_t i = 0; i < ns; i++)
      if (gidx[i] == k) members[nm++] = i;
  }
  /* Keep the groups that own x and have an exact place for 1/s. */
  int32_t kept = 0;
  for (int32_t k = 0; k < ng && !st; k++) {
    bool owned = qc_uses_count(&u, gr[k].x) == gr[k].n;
    if (!owned || !find_producer(g, &u, sites, ns, &gr[k])) {
      if (fold_only) continue;
      gr[k].norm = QC_NONE;
      gr[k].prev = -1;
      gr[k].heads = gr[k].kv_heads = 0;
      gr[k].insert = true;
    }
    gr[k].act_max = calloc((size_t)gr[k].c, sizeof(float));
    gr[k].s = calloc((size_t)gr[k].c, sizeof(double));
    if (!gr[k].act_max || !gr[k].s) st = QC_OOM();
    gr[kept++] = gr[k];
  }
  qc_uses_free(g, &u);
  if (!st && kept > 0 && a->kind == QC_QALGO_AUTOSMOOTH) {
    st = search_scales(g, o, sites, ns, gr, kept, a);
  } else if (!st && kept > 0) {
    qc_vid *xs = calloc((size_t)kept, sizeof *xs);
    if (!xs) st = QC_OOM();
    for (int32_t k = 0; k < kept && !st; k++) xs[k] = gr[k].x;
    sctx c = {gr, kept};
    if (!st) st = qc_quant_collect(g, o, kept, xs, on_x, &c, NULL);
    free(xs);
    for (int32_t k = 0; k < kept && !st; k++) st = formula_scales(g, sites, &gr[k], a);
  }
  /* A group's producer may be another group's member (up_proj: gate/up's member, down's
   * producer): its columns and its rows are scaled, in either order. */
  for (int32_t k = 0; k < kept && !st; k++) {
    st = apply_scales(g, sites, &gr[k]);
    if (st) st = qc_status_wrap(st, "%s: layer '%s'", pass, sites[gr[k].site[0]].name);
  }
  if (!st && n_smoothed) *n_smoothed = kept;
  if (!st && ratios) {
    *ratios = calloc((size_t)(kept ? kept : 1), sizeof **ratios);
    if (!*ratios) st = QC_OOM();
    for (int32_t k = 0; k < kept && !st; k++) (*ratios)[k] = gr[k].ratio;
  }
  for (int32_t k = 0; k < kept; k++) {
    free(gr[k].act_max);
    free(gr[k].s);
  }
  free(gr);
  free(members);
  free(gidx);
  qc_qsites_free(sites, ns);
  if (!st) st = qc_graph_toposort(g); /* the inserted Muls */
  if (!st) st = qc_graph_verify(g);
  return st;
}

static char auto_tag;

/* smoothquant, or autosmoothquant when user is &auto_tag */
static qc_status run_smooth(qc_graph *g, const qc_pass_args *pa, void *user) {
  qc_calib_options o;
  qc_calib_options_from_args(pa, &o);
  bool autos = user == &auto_tag;
  qc_qalgo a = {.kind = autos ? QC_QALGO_AUTOSMOOTH : QC_QALGO_SMOOTH,
                .name = autos ? "autosmoothquant" : "smooth"};
  a.fold_only = qc_pass_arg_bool(pa, "fold-only");
  if (autos) {
    const char *loss = qc_pass_arg_string(pa, "loss");
    if (!qc_qalgo_loss_power(loss, &a.loss_power))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "autosmoothquant: loss '%s' is not mae, mse "
                                                     "or rmse", loss);
  } else {
    a.alpha = qc_pass_arg_float(pa, "alpha");
    a.scale_clamp_min = qc_pass_arg_float(pa, "scale-clamp-min");
    if (!(a.alpha >= 0 && a.alpha <= 1))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "smoothquant: alpha %g is not in [0, 1]",
                           a.alpha);
  }
  return qc_quant_smooth(g, &o, &a, NULL, NULL);
}

static const qc_pass_option OPTIONS[] = {
    {"alpha", QC_OPT_FLOAT, "0.5", "migration strength: s = max|x|^alpha / max|W|^(1-alpha)"},
    {"scale-clamp-min", QC_OPT_FLOAT, "0.001", "lower bound of the smoothing scales"},
    {"fold-only", QC_OPT_BOOL, "false", "smooth only where 1/s folds into the producer (no Mul)"},
    QC_CALIB_PASS_OPTIONS,
};
const qc_pass_info qc_pass_smoothquant = {
    "smoothquant", "SmoothQuant: move activation outliers into the weights (before observe)",
    OPTIONS, 3 + QC_CALIB_PASS_N_OPTIONS, run_smooth, NULL};

static const qc_pass_option AUTO_OPTIONS[] = {
    {"loss", QC_OPT_STRING, "mae", "what the search minimizes: mae, mse or rmse (Quark's "
                                   "compute_scale_loss)"},
    {"fold-only", QC_OPT_BOOL, "false", "smooth only where 1/s folds into the producer (no Mul)"},
    QC_CALIB_PASS_OPTIONS,
};
const qc_pass_info qc_pass_autosmoothquant = {
    "autosmoothquant", "AutoSmoothQuant: SmoothQuant with the exponent searched per layer group "
                       "against the quantized output (before observe)",
    AUTO_OPTIONS, 2 + QC_CALIB_PASS_N_OPTIONS, run_smooth, &auto_tag};
