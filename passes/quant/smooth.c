/* smoothquant{alpha=0.5, scale-clamp-min=0.001, data=..., ...}: SmoothQuant (Xiao et al.,
 * 2023), as Quark's `smooth` algorithm computes it (reference/quark.md §1.4), on an
 * annotated graph before `observe`.
 *
 * A group is the quantized Linear layers that read one activation x (q/k/v after a norm,
 * gate/up, down after the gated product). Per input channel c,
 *
 *   act_max[c] = max over the calibration tokens of |x[:, c]|
 *   w_max[c]   = max(max over the group's weights of |W[:, c]|, 1e-5)
 *   s[c]       = max(act_max[c]^alpha / w_max[c]^(1 - alpha), scale_clamp_min)
 *
 * and x / s is computed by what produces x, W[:, c] * s[c] by the layers, so the float
 * model computes the same function while the quantizers see flatter activations. What
 * produces x takes 1/s where that is exact:
 *   - RMSNormalization / LayerNormalization over the last axis: its scale (and bias);
 *   - a Linear layer whose output only x reads: its weight rows (and bias);
 *   - Mul(a, y) where y is such a Linear's output (SwiGLU's gate * up): y's layer.
 * Otherwise (x has other readers, as a post-norm residual does, or another producer: GELU,
 * attention) the group reads x through a new Mul(x, 1/s), named "<first layer>.input_smooth"
 * (as Quark's ONNX SmoothQuant inserts one); `fold-only` leaves such groups alone instead,
 * as Quark's PyTorch smooth leaves a layer without a scaling-layer entry. Quark's
 * model-specific v_proj -> o_proj pair is not folded: the attention between them is only
 * channel-linear without grouped KV heads.
 *
 * The statistics come from one run over the calibration data before any change; every
 * change keeps the float function, so later groups' activations are what was measured. */
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
  bool insert;   /* neither: a Mul(x, 1/s) before the group */
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

static qc_status smooth_group(qc_graph *g, qc_qsite *sites, group *gr, const qc_qalgo *a) {
  int64_t C = gr->c;
  double *s = calloc((size_t)C, sizeof *s), *wmax = calloc((size_t)C, sizeof *wmax);
  qc_status st = s && wmax ? QC_OK : QC_OOM();
  float **w = calloc((size_t)gr->n, sizeof *w);
  int64_t *rows = calloc((size_t)gr->n, sizeof *rows);
  if (!st && (!w || !rows)) st = QC_OOM();
  for (int32_t k = 0; k < gr->n && !st; k++) {
    int64_t cols;
    st = qc_qsite_weight(g, &sites[gr->site[k]], &w[k], &rows[k], &cols);
    if (!st && cols != C)
      st = qc_status_new(QC_CODE_INTERNAL, "layer '%s': %lld input columns, %lld channels",
                         sites[gr->site[k]].name, (long long)cols, (long long)C);
    for (int64_t r = 0; r < rows[k] && !st; r++)
      for (int64_t c = 0; c < C; c++) {
        double v = fabs((double)w[k][r * C + c]);
        if (v > wmax[c]) wmax[c] = v;
      }
  }
  for (int64_t c = 0; c < C && !st; c++) {
    /* In float32, as Quark computes it. */
    float wm = (float)wmax[c] < 1e-5f ? 1e-5f : (float)wmax[c];
    float v = powf(gr->act_max[c], (float)a->alpha) / powf(wm, (float)(1.0 - a->alpha));
    s[c] = v < (float)a->scale_clamp_min ? (float)a->scale_clamp_min : v;
  }
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
    st = divide_rows(g, &sites[gr->prev], s, C);
  } else if (!st && gr->insert) {
    st = insert_mul(g, sites, gr, s);
  }
  for (int32_t k = 0; w && k < gr->n; k++) free(w[k]);
  free(w);
  free(rows);
  free(s);
  free(wmax);
  return st;
}

qc_status qc_quant_smooth(qc_graph *g, const qc_calib_options *o, const qc_qalgo *a,
                          int32_t *n_smoothed) {
  bool fold_only = a->fold_only;
  if (n_smoothed) *n_smoothed = 0;
  QC_RETURN_IF_ERROR(qc_qcheck_before_observe(g, "smoothquant"));
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
      gr[ng++] = (group){x, NULL, 0, xt->dims[xt->rank - 1], NULL, QC_NONE, -1, false};
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
      gr[k].insert = true;
    }
    gr[k].act_max = calloc((size_t)gr[k].c, sizeof(float));
    if (!gr[k].act_max) st = QC_OOM();
    gr[kept++] = gr[k];
  }
  qc_uses_free(g, &u);
  /* A group's producer must not be another kept group's member whose weight changes too:
   * both edits are on the same layer, so apply the member scaling first, then the rows.
   * That holds in node order (the producer's group comes first), which is the order here. */
  qc_vid *xs = calloc((size_t)(kept ? kept : 1), sizeof *xs);
  if (!st && !xs) st = QC_OOM();
  for (int32_t k = 0; k < kept && !st; k++) xs[k] = gr[k].x;
  sctx c = {gr, kept};
  if (!st && kept > 0) st = qc_quant_collect(g, o, kept, xs, on_x, &c, NULL);
  for (int32_t k = 0; k < kept && !st; k++) {
    st = smooth_group(g, sites, &gr[k], a);
    if (st) st = qc_status_wrap(st, "smoothquant: layer '%s'", sites[gr[k].site[0]].name);
  }
  if (!st && n_smoothed) *n_smoothed = kept;
  for (int32_t k = 0; k < kept; k++) free(gr[k].act_max);
  free(xs);
  free(gr);
  free(members);
  free(gidx);
  qc_qsites_free(sites, ns);
  if (!st) st = qc_graph_toposort(g); /* the inserted Muls */
  if (!st) st = qc_graph_verify(g);
  return st;
}

static qc_status run_smooth(qc_graph *g, const qc_pass_args *pa, void *user) {
  (void)user;
  qc_calib_options o;
  qc_calib_options_from_args(pa, &o);
  qc_qalgo a = {.kind = QC_QALGO_SMOOTH, .name = "smooth"};
  a.alpha = qc_pass_arg_float(pa, "alpha");
  a.fold_only = qc_pass_arg_bool(pa, "fold-only");
  a.scale_clamp_min = qc_pass_arg_float(pa, "scale-clamp-min");
  if (!(a.alpha >= 0 && a.alpha <= 1))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "smoothquant: alpha %g is not in [0, 1]", a.alpha);
  return qc_quant_smooth(g, &o, &a, NULL);
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
