/*
 * Interpreter kernels: the recurrent and attention ops of the nn family (the table is in
 * k_nn.c) — RNN, GRU, LSTM, Attention, RotaryEmbedding, LinearAttention,
 * CausalConvWithState, FlexAttention.
 *
 * Recurrences: the input projections of every time step are one GEMM per direction
 * (X W^T for all steps at once); each step then multiplies the batch's hidden state by R^T
 * (another GEMM) and applies the gates row by row. Attention: Q K^T and P V are batched
 * GEMMs over (batch, head), parallel over heads.
 */
#include "runtime/k_nn.h"

#include <math.h>
#include <stdatomic.h>
#include <strings.h>

/* ---- activations ------------------------------------------------------------------------ */

enum {
  ACT_RELU, ACT_TANH, ACT_SIGMOID, ACT_AFFINE, ACT_LEAKY_RELU, ACT_THRESHOLDED_RELU,
  ACT_SCALED_TANH, ACT_HARD_SIGMOID, ACT_ELU, ACT_SOFTSIGN, ACT_SOFTPLUS
};

static const struct {
  const char *name;
  int32_t kind;
  bool uses_alpha, uses_beta;
  float alpha, beta; /* defaults of the corresponding ONNX ops */
} ACTS[] = {
    {"Relu", ACT_RELU, false, false, 0, 0},
    {"Tanh", ACT_TANH, false, false, 0, 0},
    {"Sigmoid", ACT_SIGMOID, false, false, 0, 0},
    {"Affine", ACT_AFFINE, true, true, 1.0f, 0.0f},
    {"LeakyRelu", ACT_LEAKY_RELU, true, false, 0.01f, 0},
    {"ThresholdedRelu", ACT_THRESHOLDED_RELU, true, false, 1.0f, 0},
    {"ScaledTanh", ACT_SCALED_TANH, true, true, 1.0f, 1.0f},
    {"HardSigmoid", ACT_HARD_SIGMOID, true, true, 0.2f, 0.5f},
    {"Elu", ACT_ELU, true, false, 1.0f, 0},
    {"Softsign", ACT_SOFTSIGN, false, false, 0, 0},
    {"Softplus", ACT_SOFTPLUS, false, false, 0, 0},
};

bool nn_act_parse(const char *name, float alpha, float beta, bool has_alpha, bool has_beta,
                  nn_act *out) {
  for (size_t i = 0; i < sizeof ACTS / sizeof *ACTS; i++)
    if (strcasecmp(name, ACTS[i].name) == 0) {
      out->kind = ACTS[i].kind;
      out->alpha = has_alpha ? alpha : ACTS[i].alpha;
      out->beta = has_beta ? beta : ACTS[i].beta;
      return true;
    }
  return false;
}

float nn_act_apply(const nn_act *a, float x) {
  switch (a->kind) {
  case ACT_RELU: return x > 0 ? x : 0;
  case ACT_TANH: return tanhf(x);
  case ACT_SIGMOID: return x >= 0 ? 1.0f / (1.0f + expf(-x)) : expf(x) / (1.0f + expf(x));
  case ACT_AFFINE: return a->alpha * x + a->beta;
  case ACT_LEAKY_RELU: return x >= 0 ? x : a->alpha * x;
  case ACT_THRESHOLDED_RELU: return x > a->alpha ? x : 0;
  case ACT_SCALED_TANH: return a->alpha * tanhf(a->beta * x);
  case ACT_HARD_SIGMOID: {
    float v = a->alpha * x + a->beta;
    return v < 0 ? 0 : v > 1 ? 1 : v;
  }
  case ACT_ELU: return x >= 0 ? x : a->alpha * (expf(x) - 1);
  case ACT_SOFTSIGN: return x / (1 + fabsf(x));
  case ACT_SOFTPLUS: return x > 20 ? x : log1pf(expf(x));
  default: return x;
  }
}

/* ---- the recurrent driver ------------------------------------------------------------------ */

enum { CELL_RNN, CELL_GRU, CELL_LSTM };

typedef struct rnn_spec {
  int cell;
  int32_t gates;      /* 1, 3, 4 */
  int32_t n_acts;     /* activations per direction */
  const char *dflt[3];
} rnn_spec;

static const rnn_spec SPECS[3] = {
    {CELL_RNN, 1, 1, {"Tanh"}},
    {CELL_GRU, 3, 2, {"Sigmoid", "Tanh"}},
    {CELL_LSTM, 4, 3, {"Sigmoid", "Tanh", "Tanh"}},
};

typedef struct rnn_ctx {
  const rnn_spec *sp;
  int64_t seq, batch, in, hid, ndir;
  bool layout1, lbr, input_forget;
  bool reverse;       /* direction "reverse" (the single direction runs backwards) */
  float clip;
  nn_act act[2][3];
  const float *x, *w, *r, *b, *p, *h0, *c0;
  const int64_t *lens;
  float *y, *yh, *yc;
} rnn_ctx;

static inline float clipf(const rnn_ctx *c, float v) {
  if (c->clip > 0) v = v < -c->clip ? -c->clip : v > c->clip ? c->clip : v;
  return v;
}

/* Row of X / Y for (t, b) in the layout. */
static inline int64_t xrow(const rnn_ctx *c, int64_t t, int64_t b) {
  return c->layout1 ? b * c->seq + t : t * c->batch + b;
}

/* One direction: xw = X W^T + Wb (seq*batch x G*hid, rows in xrow order). */
static qc_status rnn_direction(qc_kctx *k, rnn_ctx *c, int64_t dir, float *xw, float *hr, float *h,
                               float *cst, float *tmp) {
  const int64_t G = c->sp->gates, H = c->hid, NB = c->batch, GH = G * H;
  const float *w = c->w + dir * GH * c->in, *r = c->r + dir * GH * H;
  const float *wb = c->b ? c->b + dir * 2 * GH : NULL, *rb = wb ? wb + GH : NULL;
  const float *p = c->p ? c->p + dir * 3 * H : NULL;
  const nn_act *act = c->act[dir];
  qc_pool *pool = qc_k_pool(k);
  /* Input projections of all steps. */
  qc_gemm_f32(pool, c->seq * NB, GH, c->in, 1.0f, c->x, c->in, 1, w, 1, c->in, 0.0f, xw, GH, 1);
  if (wb)
    for (int64_t i = 0; i < c->seq * NB; i++)
      for (int64_t j = 0; j < GH; j++) xw[i * GH + j] += wb[j];
  /* Initial state. */
  for (int64_t b = 0; b < NB; b++)
    for (int64_t j = 0; j < H; j++) {
      int64_t at = c->layout1 ? (b * c->ndir + dir) * H + j : (dir * NB + b) * H + j;
      h[b * H + j] = c->h0 ? c->h0[at] : 0.0f;
      if (cst) cst[b * H + j] = c->c0 ? c->c0[at] : 0.0f;
    }
  bool reverse = dir == 1 || c->reverse;
  int64_t max_len = 0;
  for (int64_t b = 0; b < NB; b++) {
    int64_t l = c->lens ? c->lens[b] : c->seq;
    if (l < 0 || l > c->seq) return qc_k_error(k, "sequence_lens[%lld] = %lld out of range", (long long)b, (long long)l);
    if (l > max_len) max_len = l;
  }
  for (int64_t step = 0; step < max_len; step++) {
    /* hr = H_{t-1} R^T (+ Rb) */
    qc_gemm_f32(pool, NB, GH, H, 1.0f, h, H, 1, r, 1, H, 0.0f, hr, GH, 1);
    if (rb)
      for (int64_t b = 0; b < NB; b++)
        for (int64_t j = 0; j < GH; j++) hr[b * GH + j] += rb[j];
    if (c->sp->cell == CELL_GRU && !c->lbr) {
      /* The h gate needs (r . H_{t-1}) Rh^T: compute r first, then that product. */
      for (int64_t b = 0; b < NB; b++) {
        int64_t len = c->lens ? c->lens[b] : c->seq;
        int64_t t = reverse ? len - 1 - step : step;
        if (step >= len) t = 0;
        const float *xr = xw + xrow(c, t, b) * GH;
        for (int64_t j = 0; j < H; j++) {
          float rg = nn_act_apply(&act[0], clipf(c, xr[H + j] + hr[b * GH + H + j]));
          tmp[b * H + j] = rg * h[b * H + j];
        }
      }
      qc_gemm_f32(pool, NB, H, H, 1.0f, tmp, H, 1, r + 2 * H * H, 1, H, 0.0f, tmp + NB * H, H, 1);
    }
    for (int64_t b = 0; b < NB; b++) {
      int64_t len = c->lens ? c->lens[b] : c->seq;
      if (step >= len) continue;
      int64_t t = reverse ? len - 1 - step : step;
      const float *xr = xw + xrow(c, t, b) * GH, *hrow = hr + b * GH;
      float *hb = h + b * H, *cb = cst ? cst + b * H : NULL;
      for (int64_t j = 0; j < H; j++) {
        float hn;
        if (c->sp->cell == CELL_RNN) {
          hn = nn_act_apply(&act[0], clipf(c, xr[j] + hrow[j]));
        } else if (c->sp->cell == CELL_GRU) {
          float z = nn_act_apply(&act[0], clipf(c, xr[j] + hrow[j]));
          float rg = nn_act_apply(&act[0], clipf(c, xr[H + j] + hrow[H + j]));
          float pre = c->lbr ? xr[2 * H + j] + rg * hrow[2 * H + j]
                             : xr[2 * H + j] + tmp[NB * H + b * H + j] + (rb ? rb[2 * H + j] : 0.0f);
          float hh = nn_act_apply(&act[1], clipf(c, pre));
          hn = (1 - z) * hh + z * hb[j];
        } else {
          /* Gate order i, o, f, c; peepholes i, o, f. */
          float cp = cb[j];
          float ig = xr[j] + hrow[j] + (p ? p[j] * cp : 0.0f);
          float fg = xr[2 * H + j] + hrow[2 * H + j] + (p ? p[2 * H + j] * cp : 0.0f);
          float cg = xr[3 * H + j] + hrow[3 * H + j];
          float i = nn_act_apply(&act[0], clipf(c, ig));
          float f = c->input_forget ? 1 - i : nn_act_apply(&act[0], clipf(c, fg));
          float cc = nn_act_apply(&act[1], clipf(c, cg));
          float cn = f * cp + i * cc;
          float og = xr[H + j] + hrow[H + j] + (p ? p[H + j] * cn : 0.0f);
          float o = nn_act_apply(&act[0], clipf(c, og));
          cb[j] = cn;
          hn = o * nn_act_apply(&act[2], cn);
        }
        tmp[2 * NB * H + b * H + j] = hn;
      }
      if (c->y)
        for (int64_t j = 0; j < H; j++) {
          int64_t at = c->layout1 ? ((b * c->seq + t) * c->ndir + dir) * H + j
                                  : ((t * c->ndir + dir) * NB + b) * H + j;
          c->y[at] = tmp[2 * NB * H + b * H + j];
        }
    }
    /* Commit the new states after all rows used the old ones (GRU's r . H needs them). */
    for (int64_t b = 0; b < NB; b++) {
      int64_t len = c->lens ? c->lens[b] : c->seq;
      if (step < len) memcpy(h + b * H, tmp + 2 * NB * H + b * H, sizeof(float) * (size_t)H);
    }
  }
  for (int64_t b = 0; b < NB; b++)
    for (int64_t j = 0; j < H; j++) {
      int64_t at = c->layout1 ? (b * c->ndir + dir) * H + j : (dir * NB + b) * H + j;
      if (c->yh) c->yh[at] = h[b * H + j];
      if (c->yc) c->yc[at] = cst[b * H + j];
    }
  return QC_OK;
}

static qc_status rnn_common(qc_kctx *k, const rnn_spec *sp) {
  const qc_tensor *x, *w, *r;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &w));
  QC_RETURN_IF_ERROR(nn_float_in(k, 2, &r));
  const qc_tensor *b = qc_k_in(k, 3), *lens = qc_k_in(k, 4), *h0 = qc_k_in(k, 5);
  const qc_tensor *c0 = sp->cell == CELL_LSTM ? qc_k_in(k, 6) : NULL;
  const qc_tensor *p = sp->cell == CELL_LSTM ? qc_k_in(k, 7) : NULL;
  rnn_ctx c;
  memset(&c, 0, sizeof c);
  c.sp = sp;
  c.layout1 = qc_k_int(k, "layout", 0) != 0;
  if (x->rank != 3 || w->rank != 3 || r->rank != 3) return qc_k_error(k, "X, W and R must be 3-D");
  c.seq = c.layout1 ? x->dims[1] : x->dims[0];
  c.batch = c.layout1 ? x->dims[0] : x->dims[1];
  c.in = x->dims[2];
  const char *dirs = qc_k_string(k, "direction", "forward");
  bool rev = strcmp(dirs, "reverse") == 0, bidi = strcmp(dirs, "bidirectional") == 0;
  if (!rev && !bidi && strcmp(dirs, "forward") != 0) return qc_k_error(k, "unknown direction '%s'", dirs);
  c.ndir = bidi ? 2 : 1;
  c.hid = qc_k_int(k, "hidden_size", r->dims[2]);
  int64_t G = sp->gates, H = c.hid;
  if (w->dims[0] != c.ndir || w->dims[1] != G * H || w->dims[2] != c.in)
    return qc_k_error(k, "W must be [%lld, %lld, %lld]", (long long)c.ndir, (long long)(G * H), (long long)c.in);
  if (r->dims[0] != c.ndir || r->dims[1] != G * H || r->dims[2] != H)
    return qc_k_error(k, "R must be [%lld, %lld, %lld]", (long long)c.ndir, (long long)(G * H), (long long)H);
  if (b && qc_tensor_numel(b) != c.ndir * 2 * G * H) return qc_k_error(k, "B has the wrong size");
  if (h0 && qc_tensor_numel(h0) != c.ndir * c.batch * H) return qc_k_error(k, "initial_h has the wrong size");
  if (c0 && qc_tensor_numel(c0) != c.ndir * c.batch * H) return qc_k_error(k, "initial_c has the wrong size");
  if (p && qc_tensor_numel(p) != c.ndir * 3 * H) return qc_k_error(k, "P has the wrong size");
  c.clip = (float)qc_k_float(k, "clip", 0.0);
  c.lbr = qc_k_int(k, "linear_before_reset", 0) != 0;
  c.input_forget = qc_k_int(k, "input_forget", 0) != 0;
  /* Activations: n_acts per direction; alphas/betas consumed in order by the functions that
   * take them. */
  const qc_attr *an = qc_k_attr(k, "activations"), *aa = qc_k_attr(k, "activation_alpha"),
                *ab = qc_k_attr(k, "activation_beta");
  int32_t ia = 0, ib = 0;
  for (int64_t d = 0; d < c.ndir; d++)
    for (int32_t i = 0; i < sp->n_acts; i++) {
      int32_t at = (int32_t)d * sp->n_acts + i;
      const char *name = an && at < an->n ? an->u.strs.v[at] : sp->dflt[i];
      if (an && an->n != c.ndir * sp->n_acts && an->n == sp->n_acts) name = an->u.strs.v[i];
      size_t ai;
      for (ai = 0; ai < sizeof ACTS / sizeof *ACTS; ai++)
        if (strcasecmp(name, ACTS[ai].name) == 0) break;
      if (ai == sizeof ACTS / sizeof *ACTS) return qc_k_error(k, "unknown activation '%s'", name);
      bool ha = ACTS[ai].uses_alpha && aa && ia < aa->n, hb = ACTS[ai].uses_beta && ab && ib < ab->n;
      float av = ha ? (float)aa->u.floats[ia++] : 0, bv = hb ? (float)ab->u.floats[ib++] : 0;
      nn_act_parse(name, av, bv, ha, hb, &c.act[d][i]);
    }
  c.reverse = rev;
  int64_t lens_v[4096];
  int64_t *lp = NULL;
  if (lens) {
    int64_t nl;
    if (c.batch > 4096) return qc_k_error(k, "batch too large for sequence_lens");
    QC_RETURN_IF_ERROR(qc_k_ints(k, lens, "sequence_lens", lens_v, 4096, &nl));
    if (nl != c.batch) return qc_k_error(k, "sequence_lens needs %lld values", (long long)c.batch);
    lp = lens_v;
  }
  c.lens = lp;
  /* Outputs. */
  int64_t ydims[4], hdims[3];
  if (c.layout1) {
    ydims[0] = c.batch, ydims[1] = c.seq, ydims[2] = c.ndir, ydims[3] = H;
    hdims[0] = c.batch, hdims[1] = c.ndir, hdims[2] = H;
  } else {
    ydims[0] = c.seq, ydims[1] = c.ndir, ydims[2] = c.batch, ydims[3] = H;
    hdims[0] = c.ndir, hdims[1] = c.batch, hdims[2] = H;
  }
  qc_kf_out yo = {0}, ho = {0}, co = {0};
  qc_status s = QC_OK;
  if (qc_k_out_used(k, 0)) s = qc_kf_out_alloc(k, 0, x->dtype, 4, ydims, &yo);
  if (!s && qc_k_out_used(k, 1)) s = qc_kf_out_alloc(k, 1, x->dtype, 3, hdims, &ho);
  if (!s && sp->cell == CELL_LSTM && qc_k_out_used(k, 2)) s = qc_kf_out_alloc(k, 2, x->dtype, 3, hdims, &co);
  c.y = yo.p, c.yh = ho.p, c.yc = co.p;
  qc_kf_in xf = {0}, wf = {0}, rf = {0}, bf = {0}, hf = {0}, cf = {0}, pf = {0};
  if (!s) s = qc_kf_load(k, x, &xf);
  if (!s) s = qc_kf_load(k, w, &wf);
  if (!s) s = qc_kf_load(k, r, &rf);
  if (!s) s = qc_kf_load(k, b, &bf);
  if (!s) s = qc_kf_load(k, h0, &hf);
  if (!s) s = qc_kf_load(k, c0, &cf);
  if (!s) s = qc_kf_load(k, p, &pf);
  int64_t nbuf = c.seq * c.batch * G * H + c.batch * G * H + 2 * c.batch * H + 3 * c.batch * H;
  float *buf = s ? NULL : qc_kf_scratch(k, nbuf);
  if (!s && !buf) s = QC_OOM();
  if (!s) {
    c.x = xf.p, c.w = wf.p, c.r = rf.p, c.b = b ? bf.p : NULL, c.h0 = h0 ? hf.p : NULL;
    c.c0 = c0 ? cf.p : NULL, c.p = p ? pf.p : NULL;
    float *xw = buf, *hr = xw + c.seq * c.batch * G * H, *h = hr + c.batch * G * H;
    float *cst = h + c.batch * H, *tmp = cst + c.batch * H;
    for (int64_t d = 0; d < c.ndir && !s; d++)
      s = rnn_direction(k, &c, d, xw, hr, h, sp->cell == CELL_LSTM ? cst : NULL, tmp);
  }
  qc_kf_scratch_free(k, buf, nbuf);
  qc_kf_release(k, &xf), qc_kf_release(k, &wf), qc_kf_release(k, &rf), qc_kf_release(k, &bf);
  qc_kf_release(k, &hf), qc_kf_release(k, &cf), qc_kf_release(k, &pf);
  if (!s && yo.t) s = qc_kf_out_finish(k, &yo);
  if (!s && ho.t) s = qc_kf_out_finish(k, &ho);
  if (!s && co.t) s = qc_kf_out_finish(k, &co);
  if (s) qc_kf_out_discard(k, &yo), qc_kf_out_discard(k, &ho), qc_kf_out_discard(k, &co);
  return s;
}

qc_status qc_k_rnn(qc_kctx *k) { return rnn_common(k, &SPECS[0]); }
qc_status qc_k_gru(qc_kctx *k) { return rnn_common(k, &SPECS[1]); }
qc_status qc_k_lstm(qc_kctx *k) { return rnn_common(k, &SPECS[2]); }

/* ---- Attention (opset 23/24) ---------------------------------------------------------------- */

/* A tensor viewed as [B, H, S, D] with element strides (3-D inputs are [B, S, H*D]). */
typedef struct bhsd {
  int64_t b, h, s, d;
  int64_t sb, sh, ss; /* strides; the last dim is contiguous */
} bhsd;

static bhsd view4(const qc_tensor *t, int64_t heads) {
  bhsd v;
  if (t->rank == 4) {
    v.b = t->dims[0], v.h = t->dims[1], v.s = t->dims[2], v.d = t->dims[3];
    v.ss = v.d, v.sh = v.s * v.d, v.sb = v.h * v.sh;
  } else {
    v.b = t->dims[0], v.s = t->dims[1], v.h = heads, v.d = heads ? t->dims[2] / heads : 0;
    v.ss = t->dims[2], v.sh = v.d, v.sb = v.s * v.ss;
  }
  return v;
}

typedef struct attn_job {
  bhsd q, k, v;               /* k, v: the present (past ++ new) keys and values, 4-D dense */
  const float *qp, *kp, *vp;
  int64_t qh, kvh, total, past;
  float scale, softcap;
  double scale_d; /* the f64 path's scale, not rounded to f32 */
  bool causal;
  /* Mask: broadcast to [B, qH, qS, total] through strides; columns >= mask_cols are masked. */
  const float *mask;
  bool mask_bool;
  int64_t mstr[4], mask_cols;
  const int64_t *nonpad;      /* per batch, or NULL */
  int mode;                   /* qk_matmul_output_mode */
  float *qk_out;              /* [B, qH, qS, total] or NULL */
  float *y;
  bool y3d;
  const qc_kctx *kc;
  _Atomic int oom;
} attn_job;

/* Query rows per task: bounds the score scratch (QB x total) and gives the pool work when
 * there are few (batch, head) pairs. */
enum { ATTN_QB = 128 };

/* Softmax of row[0, lim) in place (sum in double, as the general path), zeros in [lim, n). */
static void softmax_prefix(float *row, int64_t lim, int64_t n) {
  float mx = -INFINITY;
  for (int64_t c = 0; c < lim; c++) mx = row[c] > mx ? row[c] : mx;
  double s = 0;
  for (int64_t c = 0; c < lim; c++) {
    row[c] = expf(row[c] - mx);
    s += row[c];
  }
  float inv = (float)(1.0 / s);
  for (int64_t c = 0; c < lim; c++) row[c] *= inv;
  for (int64_t c = lim; c < n; c++) row[c] = 0.0f;
}

static void attn_range(void *ctx, int64_t t0, int64_t t1) {
  attn_job *j = ctx;
  int64_t qs = j->q.s, tot = j->total, nqb = (qs + ATTN_QB - 1) / ATTN_QB;
  int64_t rows = qs < ATTN_QB ? qs : ATTN_QB;
  float *sc = qc_kf_scratch(j->kc, rows * tot);
  if (!sc) {
    atomic_store(&j->oom, 1);
    return;
  }
  /* Causal attention with nothing else to apply (no mask, softcap or scores output): the
   * block's rows see keys [0, i0 + nq + past) at most, so scores and P V cover only those,
   * which skips about half the work of the full square and the masking pass over it. */
  bool causal_only = j->causal && !j->mask && !j->nonpad && !j->qk_out && !(j->softcap > 0);
  for (int64_t t = t0; t < t1; t++) {
    int64_t bh = t / nqb, i0 = (t % nqb) * ATTN_QB, nq = qs - i0 < ATTN_QB ? qs - i0 : ATTN_QB;
    int64_t b = bh / j->qh, h = bh % j->qh, kh = h / (j->qh / j->kvh);
    const float *q = j->qp + b * j->q.sb + h * j->q.sh + i0 * j->q.ss;
    const float *kk = j->kp + b * j->k.sb + kh * j->k.sh;
    const float *vv = j->vp + b * j->v.sb + kh * j->v.sh;
    if (causal_only) {
      int64_t cols = i0 + nq + j->past < tot ? i0 + nq + j->past : tot;
      qc_gemm_f32(NULL, nq, cols, j->q.d, j->scale, q, j->q.ss, 1, kk, 1, j->k.ss, 0.0f, sc, cols, 1);
      for (int64_t r = 0; r < nq; r++) {
        int64_t lim = i0 + r + j->past + 1;
        softmax_prefix(sc + r * cols, lim < cols ? lim : cols, cols);
      }
      float *y = j->y3d ? j->y + (b * qs + i0) * j->qh * j->v.d + h * j->v.d
                        : j->y + ((b * j->qh + h) * qs + i0) * j->v.d;
      qc_gemm_f32(NULL, nq, j->v.d, cols, 1.0f, sc, cols, 1, vv, j->v.ss, 1, 0.0f, y,
                  j->y3d ? j->qh * j->v.d : j->v.d, 1);
      continue;
    }
    /* scores = scale * Q K^T for query rows [i0, i0 + nq) */
    qc_gemm_f32(NULL, nq, tot, j->q.d, j->scale, q, j->q.ss, 1, kk, 1, j->k.ss, 0.0f, sc, tot, 1);
    float *qko = j->qk_out ? j->qk_out + (bh * qs + i0) * tot : NULL;
    for (int64_t r = 0; r < nq; r++) {
      int64_t i = i0 + r;
      float *row = sc + r * tot;
      for (int64_t c = 0; c < tot; c++) {
        float v = row[c];
        if (j->softcap > 0) v = j->softcap * tanhf(v / j->softcap);
        if (qko && j->mode <= 1) qko[r * tot + c] = v;
        float bias = 0;
        if (j->mask) {
          if (c >= j->mask_cols) {
            bias = -INFINITY;
          } else {
            float mv = j->mask[b * j->mstr[0] + h * j->mstr[1] + i * j->mstr[2] + c * j->mstr[3]];
            bias = j->mask_bool ? (mv != 0 ? 0.0f : -INFINITY) : mv;
          }
        }
        if (j->causal && c > i + j->past) bias += -INFINITY;
        if (j->nonpad && c >= j->nonpad[b]) bias += -INFINITY;
        v += bias;
        if (qko && j->mode == 2) qko[r * tot + c] = v;
        row[c] = v;
      }
      /* softmax over the row (NaN for a fully masked row, as the reference) */
      float mx = -INFINITY;
      for (int64_t c = 0; c < tot; c++) mx = row[c] > mx ? row[c] : mx;
      double sum = 0;
      for (int64_t c = 0; c < tot; c++) {
        row[c] = expf(row[c] - mx);
        sum += row[c];
      }
      float inv = (float)(1.0 / sum);
      for (int64_t c = 0; c < tot; c++) row[c] *= inv;
      if (qko && j->mode == 3) memcpy(qko + r * tot, row, sizeof(float) * (size_t)tot);
    }
    /* Y = P V */
    float *y = j->y3d ? j->y + (b * qs + i0) * j->qh * j->v.d + h * j->v.d
                      : j->y + ((b * j->qh + h) * qs + i0) * j->v.d;
    int64_t ldy = j->y3d ? j->qh * j->v.d : j->v.d;
    qc_gemm_f32(NULL, nq, j->v.d, tot, 1.0f, sc, tot, 1, vv, j->v.ss, 1, 0.0f, y, ldy, 1);
  }
  qc_kf_scratch_free(j->kc, sc, rows * tot);
}

/* present = past ++ new along the sequence, as dense [B, H, Sp + Sn, D]. */
static void concat_kv(const float *past, int64_t sp, const float *nw, const bhsd *nv, float *out) {
  int64_t tot = sp + nv->s;
  for (int64_t b = 0; b < nv->b; b++)
    for (int64_t h = 0; h < nv->h; h++) {
      float *o = out + ((b * nv->h + h) * tot) * nv->d;
      if (sp) memcpy(o, past + ((b * nv->h + h) * sp) * nv->d, sizeof(float) * (size_t)(sp * nv->d));
      for (int64_t s = 0; s < nv->s; s++)
        memcpy(o + (sp + s) * nv->d, nw + b * nv->sb + h * nv->sh + s * nv->ss,
               sizeof(float) * (size_t)nv->d);
    }
}

/* Strides that broadcast attn_mask to [B, heads, q_len, total] (columns past the mask's last
 * dim are masked by the caller), and that last dim. */
static qc_status mask_strides(const qc_kctx *k, const qc_tensor *tm, const int64_t full[4], int64_t mstr[4],
                              int64_t *cols) {
  if (tm->rank < 1 || tm->rank > 4) return qc_k_error(k, "attn_mask must have rank 1..4");
  *cols = tm->dims[tm->rank - 1];
  int64_t st = 1;
  for (int32_t d = 3; d >= 0; d--) {
    int32_t md = d - (4 - tm->rank);
    int64_t dim = md >= 0 ? tm->dims[md] : 1;
    if (d == 3 ? dim > full[3] : (dim != 1 && dim != full[d]))
      return qc_k_error(k, "attn_mask does not broadcast to [B, heads, q_len, total_len]");
    mstr[d] = dim == 1 && d != 3 ? 0 : st;
    st *= dim;
  }
  return QC_OK;
}

/* Attention on f64 inputs, in double throughout by direct loops (the general path stages
 * through f32 and its GEMM). Same semantics and order of steps as attn_range. */
static qc_status attention_f64(qc_kctx *k, const attn_job *j, const bhsd *kn, const bhsd *vn,
                               const qc_tensor *tq, const qc_tensor *tk, const qc_tensor *tv,
                               const qc_tensor *tm, const qc_tensor *tpk, const qc_tensor *tpv,
                               const int64_t *nonpad, int32_t yr, const int64_t *ydims) {
  int64_t B = j->q.b, qh = j->qh, kvh = j->kvh, S = j->q.s, D = kn->d, Dv = vn->d;
  int64_t past = j->past, tot = j->total;
  int64_t mstr[4] = {0, 0, 0, 0}, mcols = 0, full[4] = {B, qh, S, tot};
  if (tm) QC_RETURN_IF_ERROR(mask_strides(k, tm, full, mstr, &mcols));
  int64_t kdims[4] = {B, kvh, tot, D}, vdims[4] = {B, kvh, tot, Dv}, qkdims[4] = {B, qh, S, tot};
  qc_tensor *y, *pk = NULL, *pv = NULL, *qko = NULL;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_F64, yr, ydims, &y));
  if (qc_k_out_used(k, 1)) QC_RETURN_IF_ERROR(qc_k_out(k, 1, QC_F64, 4, kdims, &pk));
  if (qc_k_out_used(k, 2)) QC_RETURN_IF_ERROR(qc_k_out(k, 2, QC_F64, 4, vdims, &pv));
  if (qc_k_out_used(k, 3)) QC_RETURN_IF_ERROR(qc_k_out(k, 3, QC_F64, 4, qkdims, &qko));
  size_t kb = sizeof(double) * (size_t)(B * kvh * tot * D + 1), vb = sizeof(double) * (size_t)(B * kvh * tot * Dv + 1);
  size_t rb = sizeof(double) * (size_t)(tot + 1);
  double *kp = pk ? qc_tensor_data(pk) : qc_k_alloc(k, kb);
  double *vp = pv ? qc_tensor_data(pv) : qc_k_alloc(k, vb);
  double *row = qc_k_alloc(k, rb);
  qc_status s = kp && vp && row ? QC_OK : QC_OOM();
  /* present = past ++ new, dense [B, kvh, tot, D] */
  for (int64_t b = 0; b < B && !s; b++)
    for (int64_t h = 0; h < kvh; h++)
      for (int64_t t = 0; t < tot; t++) {
        double *ko = kp + ((b * kvh + h) * tot + t) * D, *vo = vp + ((b * kvh + h) * tot + t) * Dv;
        for (int64_t d = 0; d < D; d++)
          ko[d] = t < past ? ((const double *)qc_tensor_data(tpk))[((b * kvh + h) * past + t) * D + d]
                           : ((const double *)qc_tensor_data(tk))[b * kn->sb + h * kn->sh + (t - past) * kn->ss + d];
        for (int64_t d = 0; d < Dv; d++)
          vo[d] = t < past ? ((const double *)qc_tensor_data(tpv))[((b * kvh + h) * past + t) * Dv + d]
                           : ((const double *)qc_tensor_data(tv))[b * vn->sb + h * vn->sh + (t - past) * vn->ss + d];
      }
  double scale = j->scale_d, softcap = j->softcap;
  for (int64_t b = 0; b < B && !s; b++)
    for (int64_t h = 0; h < qh; h++) {
      int64_t kh = h / (qh / kvh);
      for (int64_t i = 0; i < S; i++) {
        const double *q = (const double *)qc_tensor_data(tq) + b * j->q.sb + h * j->q.sh + i * j->q.ss;
        double *qk = qko ? (double *)qc_tensor_data(qko) + ((b * qh + h) * S + i) * tot : NULL;
        for (int64_t c = 0; c < tot; c++) {
          const double *kr = kp + ((b * kvh + kh) * tot + c) * D;
          double v = 0;
          for (int64_t d = 0; d < D; d++) v += q[d] * kr[d];
          v *= scale;
          if (softcap > 0) v = softcap * tanh(v / softcap);
          if (qk && j->mode <= 1) qk[c] = v;
          double bias = 0;
          if (tm) {
            if (c >= mcols) {
              bias = -INFINITY;
            } else {
              double mv = qc_elem_f64(tm->dtype, qc_tensor_data(tm),
                                      (size_t)(b * mstr[0] + h * mstr[1] + i * mstr[2] + c * mstr[3]));
              bias = tm->dtype == QC_BOOL ? (mv != 0 ? 0.0 : -INFINITY) : mv;
            }
          }
          if (j->causal && c > i + past) bias += -INFINITY;
          if (nonpad && c >= nonpad[b]) bias += -INFINITY;
          v += bias;
          if (qk && j->mode == 2) qk[c] = v;
          row[c] = v;
        }
        double mx = -INFINITY, sum = 0;
        for (int64_t c = 0; c < tot; c++) mx = row[c] > mx ? row[c] : mx;
        for (int64_t c = 0; c < tot; c++) sum += row[c] = exp(row[c] - mx);
        for (int64_t c = 0; c < tot; c++) row[c] /= sum;
        if (qk && j->mode == 3) memcpy(qk, row, sizeof(double) * (size_t)tot);
        double *yo = (double *)qc_tensor_data(y) +
                     (j->y3d ? (b * S + i) * qh * Dv + h * Dv : ((b * qh + h) * S + i) * Dv);
        for (int64_t d = 0; d < Dv; d++) yo[d] = 0;
        for (int64_t c = 0; c < tot; c++) {
          const double *vr = vp + ((b * kvh + kh) * tot + c) * Dv;
          for (int64_t d = 0; d < Dv; d++) yo[d] += row[c] * vr[d];
        }
      }
    }
  if (kp && !pk) qc_k_free(k, kp, kb);
  if (vp && !pv) qc_k_free(k, vp, vb);
  if (row) qc_k_free(k, row, rb);
  return s;
}

qc_status qc_k_attention(qc_kctx *k) {
  const qc_tensor *tq, *tk, *tv;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &tq));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &tk));
  QC_RETURN_IF_ERROR(nn_float_in(k, 2, &tv));
  const qc_tensor *tm = qc_k_in(k, 3), *tpk = qc_k_in(k, 4), *tpv = qc_k_in(k, 5),
                  *tnp = qc_k_in(k, 6);
  if (tq->rank != tk->rank || tq->rank != tv->rank || (tq->rank != 3 && tq->rank != 4))
    return qc_k_error(k, "Q, K and V must all be 3-D or all 4-D");
  bool in3d = tq->rank == 3;
  int64_t qh = qc_k_int(k, "q_num_heads", 0), kvh = qc_k_int(k, "kv_num_heads", 0);
  if (in3d && (qh <= 0 || kvh <= 0)) return qc_k_error(k, "3-D inputs need q_num_heads and kv_num_heads");
  attn_job j;
  memset(&j, 0, sizeof j);
  j.q = view4(tq, qh);
  bhsd kn = view4(tk, kvh), vn = view4(tv, kvh);
  if (!in3d) qh = j.q.h, kvh = kn.h;
  if (in3d && (tq->dims[2] % qh || tk->dims[2] % kvh || tv->dims[2] % kvh))
    return qc_k_error(k, "hidden sizes must divide by the head counts");
  if (kvh <= 0 || qh % kvh || vn.h != kvh || kn.b != j.q.b || vn.b != j.q.b || kn.s != vn.s ||
      kn.d != j.q.d)
    return qc_k_error(k, "incompatible Q/K/V shapes (heads %lld/%lld)", (long long)qh, (long long)kvh);
  if ((tpk == NULL) != (tpv == NULL)) return qc_k_error(k, "past_key and past_value go together");
  int64_t past = 0;
  if (tpk) {
    if (tpk->rank != 4 || tpv->rank != 4 || tpk->dims[0] != j.q.b || tpk->dims[1] != kvh ||
        tpk->dims[3] != kn.d || tpv->dims[0] != j.q.b || tpv->dims[1] != kvh ||
        tpv->dims[2] != tpk->dims[2] || tpv->dims[3] != vn.d)
      return qc_k_error(k, "past_key/past_value must be [B, kv_heads, past, head_size]");
    past = tpk->dims[2];
  }
  j.qh = qh, j.kvh = kvh, j.past = past, j.total = past + kn.s;
  j.scale = qc_k_attr(k, "scale") ? (float)qc_k_float(k, "scale", 0)
                                  : (float)(1.0 / sqrt((double)j.q.d));
  j.scale_d = qc_k_attr(k, "scale") ? qc_k_float(k, "scale", 0) : 1.0 / sqrt((double)j.q.d);
  j.softcap = (float)qc_k_float(k, "softcap", 0);
  j.causal = qc_k_int(k, "is_causal", 0) != 0;
  j.mode = (int)qc_k_int(k, "qk_matmul_output_mode", 0);
  j.y3d = in3d;
  j.kc = k;
  /* Outputs. */
  int64_t ydims[4], kdims[4] = {j.q.b, kvh, j.total, kn.d}, vdims[4] = {j.q.b, kvh, j.total, vn.d};
  int32_t yr;
  if (in3d) ydims[0] = j.q.b, ydims[1] = j.q.s, ydims[2] = qh * vn.d, yr = 3;
  else ydims[0] = j.q.b, ydims[1] = qh, ydims[2] = j.q.s, ydims[3] = vn.d, yr = 4;
  int64_t qkdims[4] = {j.q.b, qh, j.q.s, j.total};
  if (tq->dtype == QC_F64 && tk->dtype == QC_F64 && tv->dtype == QC_F64 && (!tpk || tpk->dtype == QC_F64) &&
      (!tpv || tpv->dtype == QC_F64)) {
    int64_t npd[64];
    if (tnp) {
      int64_t nn;
      QC_RETURN_IF_ERROR(qc_k_ints(k, tnp, "nonpad_kv_seqlen", npd, 64, &nn));
      if (nn != j.q.b) return qc_k_error(k, "nonpad_kv_seqlen needs %lld values", (long long)j.q.b);
    }
    return attention_f64(k, &j, &kn, &vn, tq, tk, tv, tm, tpk, tpv, tnp ? npd : NULL, yr, ydims);
  }
  qc_kf_out y = {0}, pk = {0}, pv = {0}, qko = {0};
  qc_kf_in qf = {0}, kf = {0}, vf = {0}, mf = {0}, pkf = {0}, pvf = {0};
  float *kbuf = NULL, *vbuf = NULL;
  int64_t nk = qc_shape_numel(4, kdims), nvv = qc_shape_numel(4, vdims), np[64];
  qc_status s = qc_kf_out_alloc(k, 0, tq->dtype, yr, ydims, &y);
  if (!s && qc_k_out_used(k, 1)) s = qc_kf_out_alloc(k, 1, tk->dtype, 4, kdims, &pk);
  if (!s && qc_k_out_used(k, 2)) s = qc_kf_out_alloc(k, 2, tv->dtype, 4, vdims, &pv);
  if (!s && qc_k_out_used(k, 3)) s = qc_kf_out_alloc(k, 3, tq->dtype, 4, qkdims, &qko);
  if (!s) s = qc_kf_load(k, tq, &qf);
  if (!s) s = qc_kf_load(k, tk, &kf);
  if (!s) s = qc_kf_load(k, tv, &vf);
  if (!s) s = qc_kf_load(k, tpk, &pkf);
  if (!s) s = qc_kf_load(k, tpv, &pvf);
  if (!s && tm) {
    int64_t full[4] = {j.q.b, qh, j.q.s, j.total};
    s = mask_strides(k, tm, full, j.mstr, &j.mask_cols);
    if (!s) s = qc_kf_load(k, tm, &mf);
    if (!s) {
      j.mask = mf.p;
      j.mask_bool = tm->dtype == QC_BOOL;
    }
  }
  if (!s && tnp) {
    int64_t nn;
    s = qc_k_ints(k, tnp, "nonpad_kv_seqlen", np, 64, &nn);
    if (!s && nn != j.q.b) s = qc_k_error(k, "nonpad_kv_seqlen needs %lld values", (long long)j.q.b);
    j.nonpad = np;
  }
  if (!s) {
    kbuf = pk.p ? pk.p : qc_kf_scratch(k, nk);
    vbuf = pv.p ? pv.p : qc_kf_scratch(k, nvv);
    if (!kbuf || !vbuf) s = QC_OOM();
  }
  if (!s) {
    concat_kv(pkf.p, past, kf.p, &kn, kbuf);
    concat_kv(pvf.p, past, vf.p, &vn, vbuf);
    j.k.b = j.q.b, j.k.h = kvh, j.k.s = j.total, j.k.d = kn.d;
    j.k.ss = kn.d, j.k.sh = j.total * kn.d, j.k.sb = kvh * j.k.sh;
    j.v.b = j.q.b, j.v.h = kvh, j.v.s = j.total, j.v.d = vn.d;
    j.v.ss = vn.d, j.v.sh = j.total * vn.d, j.v.sb = kvh * j.v.sh;
    j.qp = qf.p, j.kp = kbuf, j.vp = vbuf, j.y = y.p, j.qk_out = qko.p;
    atomic_store(&j.oom, 0);
    qc_pool_for(qc_k_pool(k), j.q.b * qh * ((j.q.s + ATTN_QB - 1) / ATTN_QB), 1, attn_range, &j);
    if (atomic_load(&j.oom)) s = QC_OOM();
  }
  if (kbuf && kbuf != pk.p) qc_kf_scratch_free(k, kbuf, nk);
  if (vbuf && vbuf != pv.p) qc_kf_scratch_free(k, vbuf, nvv);
  qc_kf_release(k, &qf), qc_kf_release(k, &kf), qc_kf_release(k, &vf), qc_kf_release(k, &mf);
  qc_kf_release(k, &pkf), qc_kf_release(k, &pvf);
  if (!s) s = qc_kf_out_finish(k, &y);
  if (!s && pk.t) s = qc_kf_out_finish(k, &pk);
  if (!s && pv.t) s = qc_kf_out_finish(k, &pv);
  if (!s && qko.t) s = qc_kf_out_finish(k, &qko);
  if (s) {
    qc_kf_out_discard(k, &y), qc_kf_out_discard(k, &pk), qc_kf_out_discard(k, &pv);
    qc_kf_out_discard(k, &qko);
  }
  return s;
}

/* ---- RotaryEmbedding ------------------------------------------------------------------------ */

qc_status qc_k_rotary_embedding(qc_kctx *k) {
  const qc_tensor *x, *tc, *ts;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &tc));
  QC_RETURN_IF_ERROR(nn_float_in(k, 2, &ts));
  const qc_tensor *tp = qc_k_in(k, 3);
  if (x->rank != 3 && x->rank != 4) return qc_k_error(k, "X must be 3-D or 4-D");
  int64_t nh = qc_k_int(k, "num_heads", 0);
  /* View X as [B, S, H, D] through strides. */
  int64_t nb = x->dims[0], seq, heads, hd, sb, ss, sh;
  if (x->rank == 4) {
    heads = x->dims[1], seq = x->dims[2], hd = x->dims[3];
    sh = seq * hd, ss = hd, sb = heads * sh;
  } else {
    if (nh <= 0 || x->dims[2] % nh) return qc_k_error(k, "3-D X needs num_heads dividing its last dim");
    heads = nh, seq = x->dims[1], hd = x->dims[2] / nh;
    sh = hd, ss = x->dims[2], sb = seq * ss;
  }
  int64_t rd = qc_k_int(k, "rotary_embedding_dim", 0);
  if (rd <= 0) rd = hd;
  if (rd > hd || rd % 2) return qc_k_error(k, "rotary_embedding_dim must be even and <= head size");
  int64_t half = rd / 2;
  bool inter = qc_k_int(k, "interleaved", 0) != 0;
  if (tc->dims[tc->rank - 1] != half || ts->dims[ts->rank - 1] != half)
    return qc_k_error(k, "cos/sin caches must end in rotary_embedding_dim / 2 = %lld", (long long)half);
  /* Cache rows: position_ids[b][s] into a [max_pos, half] cache, or [B, S, half] directly. */
  int64_t *pos = NULL;
  size_t pos_bytes = sizeof(int64_t) * (size_t)(nb * seq + 1);
  if (tp) {
    if (qc_tensor_numel(tp) != nb * seq || !qc_dtype_is_int(tp->dtype))
      return qc_k_error(k, "position_ids must be [batch, sequence] integers");
    pos = qc_k_alloc(k, pos_bytes);
    if (!pos) return QC_OOM();
    for (int64_t i = 0; i < nb * seq; i++) {
      pos[i] = qc_elem_i64(tp->dtype, qc_tensor_data(tp), (size_t)i);
      if (pos[i] < 0 || pos[i] * half >= qc_tensor_numel(tc)) {
        qc_k_free(k, pos, pos_bytes);
        return qc_k_error(k, "position id %lld beyond the caches", (long long)pos[i]);
      }
    }
  } else if (qc_tensor_numel(tc) != nb * seq * half || qc_tensor_numel(ts) != nb * seq * half) {
    return qc_k_error(k, "without position_ids the caches must be [batch, sequence, %lld]", (long long)half);
  }
  if (x->dtype == QC_F64) {
    /* In double throughout (the general path stages through f32). */
    qc_tensor *yd;
    qc_status s = qc_k_out(k, 0, QC_F64, x->rank, x->dims, &yd);
    for (int64_t b = 0; b < nb && !s; b++)
      for (int64_t t = 0; t < seq; t++) {
        int64_t row = pos ? pos[b * seq + t] : b * seq + t;
        for (int64_t h = 0; h < heads; h++) {
          const double *xi = (const double *)qc_tensor_data(x) + b * sb + t * ss + h * sh;
          double *yo = (double *)qc_tensor_data(yd) + b * sb + t * ss + h * sh;
          for (int64_t i = 0; i < half; i++) {
            int64_t i1 = inter ? 2 * i : i, i2 = inter ? 2 * i + 1 : i + half;
            double c = qc_elem_f64(tc->dtype, qc_tensor_data(tc), (size_t)(row * half + i));
            double sn = qc_elem_f64(ts->dtype, qc_tensor_data(ts), (size_t)(row * half + i));
            double x1 = xi[i1], x2 = xi[i2];
            yo[i1] = c * x1 - sn * x2;
            yo[i2] = sn * x1 + c * x2;
          }
          for (int64_t i = rd; i < hd; i++) yo[i] = xi[i];
        }
      }
    if (pos) qc_k_free(k, pos, pos_bytes);
    return s;
  }
  qc_kf_out y = {0};
  qc_kf_in xf = {0}, cf = {0}, sf = {0};
  qc_status s = qc_kf_out_alloc(k, 0, x->dtype, x->rank, x->dims, &y);
  if (!s) s = qc_kf_load(k, x, &xf);
  if (!s) s = qc_kf_load(k, tc, &cf);
  if (!s) s = qc_kf_load(k, ts, &sf);
  if (!s) {
    for (int64_t b = 0; b < nb; b++)
      for (int64_t t = 0; t < seq; t++) {
        int64_t row = pos ? pos[b * seq + t] : b * seq + t;
        const float *cr = cf.p + row * half, *sr = sf.p + row * half;
        for (int64_t h = 0; h < heads; h++) {
          const float *xi = xf.p + b * sb + t * ss + h * sh;
          float *yo = y.p + b * sb + t * ss + h * sh;
          for (int64_t i = 0; i < half; i++) {
            int64_t i1 = inter ? 2 * i : i, i2 = inter ? 2 * i + 1 : i + half;
            float x1 = xi[i1], x2 = xi[i2];
            yo[i1] = cr[i] * x1 - sr[i] * x2;
            yo[i2] = sr[i] * x1 + cr[i] * x2;
          }
          for (int64_t i = rd; i < hd; i++) yo[i] = xi[i];
        }
      }
    s = qc_kf_out_finish(k, &y);
  } else {
    qc_kf_out_discard(k, &y);
  }
  if (pos) qc_k_free(k, pos, pos_bytes);
  qc_kf_release(k, &xf), qc_kf_release(k, &cf), qc_kf_release(k, &sf);
  return s;
}

/* ---- LinearAttention (opset 27) ------------------------------------------------------------- */

qc_status qc_k_linear_attention(qc_kctx *k) {
  const qc_tensor *tq, *tk, *tv;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &tq));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &tk));
  QC_RETURN_IF_ERROR(nn_float_in(k, 2, &tv));
  const qc_tensor *tps = qc_k_in(k, 3), *tdec = qc_k_in(k, 4), *tbeta = qc_k_in(k, 5);
  const char *rule = qc_k_string(k, "update_rule", "gated_delta");
  bool gating = strcmp(rule, "gated") == 0 || strcmp(rule, "gated_delta") == 0;
  bool delta = strcmp(rule, "delta") == 0 || strcmp(rule, "gated_delta") == 0;
  if (!gating && !delta && strcmp(rule, "linear") != 0) return qc_k_error(k, "unknown update_rule '%s'", rule);
  if (gating != (tdec != NULL)) return qc_k_error(k, "update_rule '%s' %s the decay input", rule, gating ? "needs" : "forbids");
  if (delta != (tbeta != NULL)) return qc_k_error(k, "update_rule '%s' %s the beta input", rule, delta ? "needs" : "forbids");
  int64_t hq = qc_k_int(k, "q_num_heads", 0), hkv = qc_k_int(k, "kv_num_heads", 0);
  if (hq <= 0 || hkv <= 0 || hq % hkv) return qc_k_error(k, "q_num_heads must be a positive multiple of kv_num_heads");
  if (tq->rank != 3 || tk->rank != 3 || tv->rank != 3) return qc_k_error(k, "query, key and value must be 3-D");
  int64_t nb = tq->dims[0], T = tq->dims[1];
  if (tq->dims[2] % hq || tk->dims[2] % hkv || tv->dims[2] % hkv) return qc_k_error(k, "hidden sizes must divide by the heads");
  int64_t dk = tq->dims[2] / hq, dv = tv->dims[2] / hkv, grp = hq / hkv;
  if (tk->dims[2] != hkv * dk || tk->dims[0] != nb || tv->dims[0] != nb || tk->dims[1] != T || tv->dims[1] != T)
    return qc_k_error(k, "key/value shapes do not match the query");
  int64_t dec_w = 0, beta_w = 0;
  if (tdec) {
    dec_w = tdec->dims[tdec->rank - 1];
    if (tdec->rank != 3 || (dec_w != hkv && dec_w != hkv * dk)) return qc_k_error(k, "decay must be [B, T, H_kv] or [B, T, H_kv * d_k]");
  }
  if (tbeta) {
    beta_w = tbeta->dims[tbeta->rank - 1];
    if (tbeta->rank != 3 || (beta_w != hkv && beta_w != 1)) return qc_k_error(k, "beta must be [B, T, H_kv] or [B, T, 1]");
  }
  int64_t sdims[4] = {nb, hkv, dk, dv};
  if (tps && (tps->rank != 4 || qc_tensor_numel(tps) != qc_shape_numel(4, sdims)))
    return qc_k_error(k, "past_state must be [B, H_kv, d_k, d_v]");
  double sc = qc_k_float(k, "scale", 0.0);
  float scale = sc == 0.0 ? (float)(1.0 / sqrt((double)dk)) : (float)sc;
  int64_t odims[3] = {nb, T, hq * dv};
  qc_kf_out y = {0}, st = {0};
  qc_kf_in qf = {0}, kf = {0}, vf = {0}, pf = {0}, df = {0}, bf = {0};
  qc_status s = qc_kf_out_alloc(k, 0, tq->dtype, 3, odims, &y);
  qc_dtype sdt = tps ? tps->dtype : tq->dtype;
  int64_t ns = qc_shape_numel(4, sdims);
  float *state = NULL, *tmp = NULL;
  if (!s) s = qc_kf_load(k, tq, &qf);
  if (!s) s = qc_kf_load(k, tk, &kf);
  if (!s) s = qc_kf_load(k, tv, &vf);
  if (!s) s = qc_kf_load(k, tps, &pf);
  if (!s) s = qc_kf_load(k, tdec, &df);
  if (!s) s = qc_kf_load(k, tbeta, &bf);
  if (!s) {
    state = qc_kf_scratch(k, ns);
    tmp = qc_kf_scratch(k, dv + 1);
    if (!state || !tmp) s = QC_OOM();
  }
  if (!s) {
    if (tps) memcpy(state, pf.p, sizeof(float) * (size_t)ns);
    else memset(state, 0, sizeof(float) * (size_t)ns);
    for (int64_t b = 0; b < nb; b++)
      for (int64_t t = 0; t < T; t++) {
        int64_t row = b * T + t;
        for (int64_t h = 0; h < hkv; h++) {
          float *S = state + (b * hkv + h) * dk * dv;
          const float *kt = kf.p + row * hkv * dk + h * dk, *vt = vf.p + row * hkv * dv + h * dv;
          if (gating)
            for (int64_t d = 0; d < dk; d++) {
              float g = expf(df.p[row * dec_w + (dec_w == hkv ? h : h * dk + d)]);
              for (int64_t m = 0; m < dv; m++) S[d * dv + m] *= g;
            }
          /* u = beta * (v - S^T k) for the delta rules, else v */
          for (int64_t m = 0; m < dv; m++) {
            float u = vt[m];
            if (delta) {
              double r = 0;
              for (int64_t d = 0; d < dk; d++) r += (double)S[d * dv + m] * kt[d];
              u = bf.p[row * beta_w + (beta_w == 1 ? 0 : h)] * (vt[m] - (float)r);
            }
            tmp[m] = u;
          }
          for (int64_t d = 0; d < dk; d++)
            for (int64_t m = 0; m < dv; m++) S[d * dv + m] += kt[d] * tmp[m];
          /* Read by every query head of the group. */
          for (int64_t qi = h * grp; qi < (h + 1) * grp; qi++) {
            const float *qt = qf.p + row * hq * dk + qi * dk;
            float *o = y.p + row * hq * dv + qi * dv;
            for (int64_t m = 0; m < dv; m++) {
              double acc = 0;
              for (int64_t d = 0; d < dk; d++) acc += (double)qt[d] * S[d * dv + m];
              o[m] = scale * (float)acc;
            }
          }
        }
      }
    if (qc_k_out_used(k, 1)) s = qc_kf_out_alloc(k, 1, sdt, 4, sdims, &st);
    if (!s && st.p) memcpy(st.p, state, sizeof(float) * (size_t)ns);
  }
  qc_kf_scratch_free(k, state, ns);
  qc_kf_scratch_free(k, tmp, dv + 1);
  qc_kf_release(k, &qf), qc_kf_release(k, &kf), qc_kf_release(k, &vf);
  qc_kf_release(k, &pf), qc_kf_release(k, &df), qc_kf_release(k, &bf);
  if (!s) s = qc_kf_out_finish(k, &y);
  if (!s && st.t) s = qc_kf_out_finish(k, &st);
  if (s) qc_kf_out_discard(k, &y), qc_kf_out_discard(k, &st);
  return s;
}

/* ---- CausalConvWithState (opset 27) --------------------------------------------------------- */

/* Round to dt as a store would (the reference rounds the convolution before the activation). */
static float round_as(qc_dtype dt, float v) {
  if (dt == QC_F16) return qc_f16_to_f32(qc_f32_to_f16(v));
  if (dt == QC_BF16) return qc_bf16_to_f32(qc_f32_to_bf16(v));
  return v;
}

qc_status qc_k_causal_conv_with_state(qc_kctx *k) {
  const qc_tensor *x, *w;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &w));
  const qc_tensor *tb = qc_k_in(k, 2), *tp = qc_k_in(k, 3);
  const char *act = qc_k_string(k, "activation", "none");
  bool silu = strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0;
  if (!silu && strcmp(act, "none") != 0) return qc_k_error(k, "unknown activation '%s'", act);
  if (x->rank != 3 || w->rank != 3) return qc_k_error(k, "input and weight must be 3-D");
  int64_t nb = x->dims[0], c = x->dims[1], L = x->dims[2], kw = w->dims[2];
  if (w->dims[0] != c || w->dims[1] != 1 || kw < 1) return qc_k_error(k, "weight must be [channels, 1, k]");
  if (tb && qc_tensor_numel(tb) != c) return qc_k_error(k, "bias must have %lld values", (long long)c);
  int64_t pdims[3] = {nb, c, kw - 1};
  if (tp && (tp->rank != 3 || tp->dims[0] != nb || tp->dims[1] != c || tp->dims[2] != kw - 1))
    return qc_k_error(k, "past_state must be [batch, channels, k - 1]");
  qc_kf_out y = {0}, ps = {0};
  qc_kf_in xf = {0}, wf = {0}, bf = {0}, pf = {0};
  qc_status s = qc_kf_out_alloc(k, 0, x->dtype, 3, x->dims, &y);
  if (!s && qc_k_out_used(k, 1)) s = qc_kf_out_alloc(k, 1, x->dtype, 3, pdims, &ps);
  if (!s) s = qc_kf_load(k, x, &xf);
  if (!s) s = qc_kf_load(k, w, &wf);
  if (!s) s = qc_kf_load(k, tb, &bf);
  if (!s) s = qc_kf_load(k, tp, &pf);
  int64_t plen = L + kw - 1;
  float *pad = s ? NULL : qc_kf_scratch(k, plen);
  if (!s && !pad) s = QC_OOM();
  for (int64_t b = 0; b < nb && !s; b++)
    for (int64_t ch = 0; ch < c; ch++) {
      /* padded = past (or zeros) ++ input */
      for (int64_t i = 0; i < kw - 1; i++) pad[i] = tp ? pf.p[(b * c + ch) * (kw - 1) + i] : 0.0f;
      memcpy(pad + kw - 1, xf.p + (b * c + ch) * L, sizeof(float) * (size_t)L);
      const float *wc = wf.p + ch * kw;
      float *yo = y.p + (b * c + ch) * L;
      for (int64_t t = 0; t < L; t++) {
        double acc = tb ? bf.p[ch] : 0.0;
        for (int64_t j = 0; j < kw; j++) acc += (double)pad[t + j] * wc[j];
        float v = round_as(x->dtype, (float)acc);
        yo[t] = silu ? v / (1.0f + expf(-v)) : v;
      }
      if (ps.p) memcpy(ps.p + (b * c + ch) * (kw - 1), pad + L, sizeof(float) * (size_t)(kw - 1));
    }
  qc_kf_scratch_free(k, pad, plen);
  qc_kf_release(k, &xf), qc_kf_release(k, &wf), qc_kf_release(k, &bf), qc_kf_release(k, &pf);
  if (!s) s = qc_kf_out_finish(k, &y);
  if (!s && ps.t) s = qc_kf_out_finish(k, &ps);
  if (s) qc_kf_out_discard(k, &y), qc_kf_out_discard(k, &ps);
  return s;
}

/* ---- FlexAttention (ai.onnx.preview) -------------------------------------------------------- */

/* Run a modifier sub-graph on an f32 array of shape dims, in dtype dt (its declared input
 * type); the result replaces the array. */
static qc_status run_mod(qc_kctx *k, const qc_graph *sub, qc_dtype dt, const int64_t *dims,
                         float *v, int64_t n, const char *what) {
  qc_tensor t;
  QC_RETURN_IF_ERROR(qc_tensor_alloc(&t, k->alloc, dt, 4, dims));
  if (!qc_convert_from_f32(v, dt, qc_tensor_data(&t), (size_t)n, 0)) {
    qc_tensor_release(&t);
    return qc_k_error(k, "%s: cannot run in %s", what, qc_dtype_name(dt));
  }
  qc_rvalue in = qc_rvalue_tensor(&t), out;
  qc_tensor_release(&t);
  memset(&out, 0, sizeof out);
  qc_status s = qc_k_run_subgraph(k, sub, 1, &in, 1, &out);
  qc_rvalue_release(&in);
  if (s) return qc_status_wrap(s, "%s", what);
  if (out.kind != QC_RV_TENSOR || qc_tensor_numel(&out.t) != n) {
    qc_rvalue_release(&out);
    return qc_k_error(k, "%s must return a tensor of the input's shape", what);
  }
  qc_convert_to_f32(out.t.dtype, qc_tensor_data(&out.t), v, (size_t)n);
  qc_rvalue_release(&out);
  return QC_OK;
}

qc_status qc_k_flex_attention(qc_kctx *k) {
  const qc_tensor *tq, *tk, *tv;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &tq));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &tk));
  QC_RETURN_IF_ERROR(nn_float_in(k, 2, &tv));
  if (tq->rank != 4 || tk->rank != 4 || tv->rank != 4) return qc_k_error(k, "Q, K and V must be 4-D");
  int64_t B = tq->dims[0], hq = tq->dims[1], L = tq->dims[2], E = tq->dims[3];
  int64_t hkv = tk->dims[1], S = tk->dims[2], Ev = tv->dims[3];
  if (tk->dims[0] != B || tv->dims[0] != B || tv->dims[1] != hkv || tv->dims[2] != S ||
      tk->dims[3] != E || hkv <= 0 || hq % hkv)
    return qc_k_error(k, "incompatible Q/K/V shapes");
  float scale = qc_k_attr(k, "scale") ? (float)qc_k_float(k, "scale", 0) : (float)(1.0 / sqrt((double)E));
  const qc_attr *sm = qc_k_attr(k, "score_mod"), *pm = qc_k_attr(k, "prob_mod");
  qc_dtype cdt = tq->dtype == QC_F64 ? QC_F64 : QC_F32;
  if (qc_k_attr(k, "softmax_precision")) {
    qc_dtype p = qc_dtype_from_onnx((int)qc_k_int(k, "softmax_precision", 1));
    if (!qc_kf_dtype_ok(p)) return qc_k_error(k, "unsupported softmax_precision");
    cdt = p;
  }
  int64_t sdims[4] = {B, hq, L, S}, ydims[4] = {B, hq, L, Ev}, n = B * hq * L * S;
  qc_kf_out y = {0};
  qc_kf_in qf = {0}, kf = {0}, vf = {0};
  QC_RETURN_IF_ERROR(qc_kf_out_alloc(k, 0, tv->dtype, 4, ydims, &y));
  qc_status s = qc_kf_load(k, tq, &qf);
  if (!s) s = qc_kf_load(k, tk, &kf);
  if (!s) s = qc_kf_load(k, tv, &vf);
  float *sc = s ? NULL : qc_kf_scratch(k, n);
  if (!s && !sc) s = QC_OOM();
  if (!s) {
    int64_t grp = hq / hkv;
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < hq; h++)
        qc_gemm_f32(qc_k_pool(k), L, S, E, scale, qf.p + (b * hq + h) * L * E, E, 1,
                    kf.p + (b * hkv + h / grp) * S * E, 1, E, 0.0f, sc + (b * hq + h) * L * S, S, 1);
    if (sm && sm->kind == QC_ATTR_GRAPH) s = run_mod(k, sm->u.g, cdt, sdims, sc, n, "score_mod");
    for (int64_t r = 0; r < B * hq * L && !s; r++) {
      float *row = sc + r * S, mx = -INFINITY;
      for (int64_t c = 0; c < S; c++) mx = row[c] > mx ? row[c] : mx;
      double sum = 0;
      for (int64_t c = 0; c < S; c++) sum += row[c] = expf(row[c] - mx);
      for (int64_t c = 0; c < S; c++) row[c] = (float)(row[c] / sum);
    }
    if (!s && pm && pm->kind == QC_ATTR_GRAPH) s = run_mod(k, pm->u.g, cdt, sdims, sc, n, "prob_mod");
    for (int64_t b = 0; b < B && !s; b++)
      for (int64_t h = 0; h < hq; h++)
        qc_gemm_f32(qc_k_pool(k), L, Ev, S, 1.0f, sc + (b * hq + h) * L * S, S, 1,
                    vf.p + (b * hkv + h / grp) * S * Ev, Ev, 1, 0.0f, y.p + (b * hq + h) * L * Ev, Ev, 1);
  }
  qc_kf_scratch_free(k, sc, n);
  qc_kf_release(k, &qf), qc_kf_release(k, &kf), qc_kf_release(k, &vf);
  if (s) {
    qc_kf_out_discard(k, &y);
    return s;
  }
  return qc_kf_out_finish(k, &y);
}
