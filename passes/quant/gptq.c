/* gptq{block-size=128, damp=0.01, desc-act=true, data=..., ...}: GPTQ (Frantar et al., 2023)
 * as Quark's `gptq` algorithm computes it (reference/quark.md §1.4), on an observed graph
 * before `freeze`.
 *
 * For each quantized Linear layer with input x (n tokens) and weight W [out, in]:
 *
 *   H     = X^T X over the calibration tokens (shared by the layers that read one x)
 *   dead  = columns with H[c][c] = 0: H[c][c] = 1, W[:, c] = 0
 *   perm  = columns by decreasing H[c][c] (desc_act), else in order
 *   H    += damp_percent * mean(diag H) * I   (x10 and retry, up to 5 times, when H is not
 *                                             positive definite)
 *   U     = the upper Cholesky factor of H^-1 (H^-1 = U^T U)
 *   then column by column, in blocks of block_size (lazy batch updates):
 *     q = Q(w_i); err = (w_i - q) / U[i][i]; the later columns -= err * U[i][later]
 *
 * Q is the layer's weight quantizer with its parameters taken from the weight before any
 * update (static_groups; Quark exports only that), observed exactly as freeze would. The
 * result is written back in the original column order (no g_idx), and the parameters are
 * recorded as quant.calib.<weight key>, so that freeze uses them rather than re-observing
 * the changed weight. The layers are done in the order they run, sequentially as in Quark:
 * the calibration batches go through the model a segment at a time (qc_seqrun), so each
 * layer's H comes from the outputs of the layers quantized before it, at the cost of one
 * pass over the data. H is accumulated and the column loop runs in float32, as in Quark; the
 * factorization of H is in double.
 *
 * Weights: one static stage of int or fp8 dtype, per_tensor, per_channel or per_group over
 * the input axis (the schemes GPTQ is used with); anything else is an error naming the
 * layer.
 *
 * qronos{alpha=1e-3, beta=1e4, ...}: Qronos (Zhang et al., 2025) as Quark's `qronos`
 * computes it (reference/quark.md §1.4), which corrects the error of the layers before too:
 * it solves min ||X W^T - X~ Q^T|| where X~ is the layer's input in the model quantized so far
 * and X its input in the float model (a second sequential run over a copy of the graph taken
 * before any weight changed). With H = X~^T X~ and G = X^T X~ (both over the tokens), in the
 * column order above:
 *
 *   damp  = alpha * (largest eigenvalue of H, 30 power iterations from a vector of ones)
 *   q_0   = Q(W (G[:,0] - H[0,:] with H[0][0] := 0) / H[0][0])
 *   A     = ((H + damp I)[1:,1:])^-1
 *   W[:,1:] = W ((G + damp I)[:,1:] A) - q_0 (H[0,1:] A)
 *   then GPTQ's loop over columns 1.. with U the upper Cholesky factor of A.
 *
 * (Quark factors A * beta and divides by sqrt(beta), which is the same factor.) */
#include "passes/internal.h"
#include "passes/quant/qpass.h"
#include "passes/quant/quant_internal.h"
#include "runtime/gemm.h"
#include "runtime/k_qc.h"
#include "runtime/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct hgroup {
  qc_vid x;
  int64_t c;
  float *h;      /* [c, c], sum of x^T x */
  int64_t tokens;
  /* Qronos: */
  float *g;      /* [c, c], sum of xf^T x (xf: the float model's x) */
  float **xf;    /* per batch, the float model's x, until its quantized pair arrives */
  int64_t *xf_rows;
  int64_t n_xf, n_x; /* batches of xf stored, and of x seen */
  const qc_qspec *aspec; /* quantize_inputs: x's own static quantizer (NULL: none) ... */
  qc_qparams aparams;    /* ... and its calibrated parameters */
} hgroup;

typedef struct gctx {
  hgroup *h;
  qc_pool *pool;
  const int32_t *order; /* the groups in run order ... */
  int32_t base;         /* ... of which those from here on are collected */
  const char *algo;
  int64_t batches;
} gctx;

static qc_status x_f32(const gctx *c, const hgroup *hg, const qc_tensor *t, float **f,
                       int64_t *rows) {
  if (t->rank < 1 || t->dims[t->rank - 1] != hg->c)
    return qc_status_new(QC_CODE_RUNTIME, "%s: an input has %lld channels, expected %lld", c->algo,
                         t->rank ? (long long)t->dims[t->rank - 1] : 0LL, (long long)hg->c);
  QC_RETURN_IF_ERROR(qc_qtensor_f32(t, f));
  *rows = qc_tensor_numel(t) / hg->c;
  return QC_OK;
}

/* The group of the index-th value the current segment collects. */
static hgroup *group_at(const gctx *c, int32_t index) { return &c->h[c->order[c->base + index]]; }

/* The float model's run (Qronos): keep each batch's x for its pair. */
static qc_status on_xf(void *user, int32_t index, const qc_tensor *t) {
  gctx *c = user;
  hgroup *hg = group_at(c, index);
  float *f = NULL;
  int64_t rows = 0;
  if (hg->n_xf >= c->batches)
    return qc_status_new(QC_CODE_INTERNAL, "qronos: more float batches than %lld", (long long)c->batches);
  QC_RETURN_IF_ERROR(x_f32(c, hg, t, &f, &rows));
  hg->xf[hg->n_xf] = f;
  hg->xf_rows[hg->n_xf++] = rows;
  return QC_OK;
}

static qc_status on_x(void *user, int32_t index, const qc_tensor *t) {
  gctx *c = user;
  hgroup *hg = group_at(c, index);
  float *f = NULL;
  int64_t rows = 0;
  QC_RETURN_IF_ERROR(x_f32(c, hg, t, &f, &rows));
  qc_status s = QC_OK;
  if (hg->aspec) { /* X~ as the layer will read it */
    int64_t dims[2] = {rows, hg->c};
    s = qc_fake_quantize(hg->aspec, &hg->aparams, f, 2, dims, QC_F32, f);
  }
  if (!s) {
    qc_sgemm(c->pool, true, false, hg->c, hg->c, rows, 1.0f, f, hg->c, f, hg->c, 1.0f, hg->h, hg->c);
    hg->tokens += rows;
  }
  if (hg->g && !s) { /* the batches come in the same order in both runs */
    int64_t b = hg->n_x++;
    if (b >= hg->n_xf || hg->xf_rows[b] != rows)
      s = qc_status_new(QC_CODE_INTERNAL, "qronos: batch %lld of the float run does not match",
                        (long long)b);
    if (!s)
      qc_sgemm(c->pool, true, false, hg->c, hg->c, rows, 1.0f, hg->xf[b], hg->c, f, hg->c, 1.0f,
               hg->g, hg->c);
    if (b < hg->n_xf) {
      free(hg->xf[b]);
      hg->xf[b] = NULL;
    }
  }
  free(f);
  return s;
}

/* sum x[k] * y[k] with four independent partial sums (the compiler keeps a double
 * reduction in order, one add at a time, otherwise). */
static double dot_f64(const double *x, const double *y, int64_t n) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += x[k] * y[k];
    s1 += x[k + 1] * y[k + 1];
    s2 += x[k + 2] * y[k + 2];
    s3 += x[k + 3] * y[k + 3];
  }
  for (; k < n; k++) s0 += x[k] * y[k];
  return (s0 + s1) + (s2 + s3);
}

/* Lower Cholesky factor of a (n x n, row-major) in place, row by row
 * (Cholesky-Banachiewicz: every inner product is over two contiguous rows); false when a
 * is not positive definite. */
static bool cholesky(double *a, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    double *ri = &a[i * n];
    for (int64_t j = 0; j < i; j++) ri[j] = (ri[j] - dot_f64(ri, &a[j * n], j)) / a[j * n + j];
    double d = ri[i] - dot_f64(ri, ri, i);
    if (!(d > 0)) return false;
    ri[i] = sqrt(d);
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = i + 1; j < n; j++) a[i * n + j] = 0;
  return true;
}

/* Inverse of a lower-triangular l (n x n) into out (lower), row by row: row i of L^-1 is
 * (e_i - sum_{k<i} l[i][k] * row k) / l[i][i], which touches rows contiguously. */
static void lower_inverse(const double *l, double *out, int64_t n) {
  memset(out, 0, sizeof *out * (size_t)(n * n));
  for (int64_t i = 0; i < n; i++) {
    double *oi = &out[i * n];
    for (int64_t k = 0; k < i; k++) {
      double a = l[i * n + k];
      const double *ok = &out[k * n];
      for (int64_t j = 0; j <= k; j++) oi[j] -= a * ok[j];
    }
    oi[i] = 1.0;
    double d = l[i * n + i];
    for (int64_t j = 0; j <= i; j++) oi[j] /= d;
  }
}

/* The factor GPTQ works with, for the permuted, damped Hessian hp (n x n, destroyed):
 * U upper with hp^-1 = U^T U. With J the exchange matrix and J hp J = K K^T (K lower),
 * hp^-1 = J K^-T K^-1 J = U^T U for U = J K^-1 J, which is upper triangular. */
static bool inverse_factor(double *hp, double *u, int64_t n) {
  double *m = malloc(sizeof *m * (size_t)(n * n));
  if (!m) return false;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) m[i * n + j] = hp[(n - 1 - i) * n + (n - 1 - j)];
  bool ok = cholesky(m, n);
  if (ok) {
    lower_inverse(m, hp, n);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) u[i * n + j] = hp[(n - 1 - i) * n + (n - 1 - j)];
  }
  free(m);
  return ok;
}

/* Per-input-group prepared Hessian: permutation, dead columns and U. */
typedef struct hfactor {
  int64_t c;
  int64_t *perm;
  bool *dead;
  float *u;      /* [c, c]: U, upper (Qronos: U of A in [1:, 1:], row and column 0 unused) */
  double *hdiag; /* [c]: diag(H), original column order */
  /* Qronos, in the permuted order: */
  float *v0;     /* [c]: q_0 = Q(W v0) */
  float *m;      /* [c, c-1]: (G + damp I)[:, 1:] A */
  float *hrow;   /* [c-1]: H[0, 1:] A */
} hfactor;

static void hfactor_free(hfactor *f) {
  free(f->perm);
  free(f->dead);
  free(f->u);
  free(f->hdiag);
  free(f->v0);
  free(f->m);
  free(f->hrow);
}

/* Quark's estimate of the largest eigenvalue of h (n x n): h / max(h), 30 power iterations
 * from a vector of ones, and the Rayleigh quotient. */
static double largest_eigenvalue(const double *h, int64_t n) {
  double mx = -INFINITY;
  for (int64_t i = 0; i < n * n; i++) mx = h[i] > mx ? h[i] : mx;
  double ck = fabs(mx);
  if (!(ck > 0)) return 0;
  double *b = malloc(sizeof *b * (size_t)n), *b1 = malloc(sizeof *b1 * (size_t)n);
  double lambda = 0;
  if (b && b1) {
    for (int64_t i = 0; i < n; i++) b[i] = 1;
    for (int it = 0; it < 30; it++) {
      double norm = 0;
      for (int64_t i = 0; i < n; i++) {
        b1[i] = dot_f64(&h[i * n], b, n) / ck;
        norm += b1[i] * b1[i];
      }
      norm = sqrt(norm) + 1e-12;
      for (int64_t i = 0; i < n; i++) b[i] = b1[i] / norm;
    }
    for (int64_t i = 0; i < n; i++) lambda += b[i] * dot_f64(&h[i * n], b, n) / ck;
    lambda *= ck;
  }
  free(b);
  free(b1);
  return lambda;
}

/* Qronos's part of the factorization: h is the permuted H (dead columns fixed), gp the
 * permuted G. */
static qc_status factor_qronos(const double *h, const double *gp, const qc_qalgo *a,
                               const char *layer, qc_pool *pool, hfactor *f) {
  int64_t n = f->c, n1 = n - 1;
  double damp = a->alpha * largest_eigenvalue(h, n);
  double *hs = malloc(sizeof *hs * (size_t)(n1 * n1 + 1)), *ud = malloc(sizeof *ud * (size_t)(n1 * n1 + 1));
  float *uf = malloc(sizeof *uf * (size_t)(n1 * n1 + 1)), *af = malloc(sizeof *af * (size_t)(n1 * n1 + 1));
  float *gd = malloc(sizeof *gd * (size_t)(n * n1 + 1));
  f->v0 = malloc(sizeof *f->v0 * (size_t)n);
  f->m = malloc(sizeof *f->m * (size_t)(n * n1 + 1));
  f->hrow = malloc(sizeof *f->hrow * (size_t)(n1 + 1));
  qc_status s = hs && ud && uf && af && gd && f->v0 && f->m && f->hrow ? QC_OK : QC_OOM();
  for (int64_t i = 0; i < n && !s; i++) /* (G[:,0] - H[0,:] with H[0][0] := 0) / H[0][0] */
    f->v0[i] = (float)((gp[i * n] - (i ? h[i] : 0.0)) / h[0]);
  for (int64_t i = 0; i < n1 && !s; i++)
    for (int64_t j = 0; j < n1; j++) hs[i * n1 + j] = h[(i + 1) * n + j + 1] + (i == j ? damp : 0.0);
  if (!s && !inverse_factor(hs, ud, n1))
    s = qc_status_new(QC_CODE_RUNTIME, "qronos: layer '%s': the input Hessian is not positive "
                                       "definite (raise alpha)", layer);
  for (int64_t i = 0; i < n * n && !s; i++) f->u[i] = 0;
  for (int64_t i = 0; i < n1 && !s; i++)
    for (int64_t j = 0; j < n1; j++) {
      uf[i * n1 + j] = (float)ud[i * n1 + j];
      f->u[(i + 1) * n + j + 1] = uf[i * n1 + j];
    }
  /* A = U^T U; M = (G + damp I)[:, 1:] A; hrow = H[0, 1:] A (float32, as Quark) */
  if (!s && n1 > 0) {
    qc_sgemm(pool, true, false, n1, n1, n1, 1.0f, uf, n1, uf, n1, 0.0f, af, n1);
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n1; j++) gd[i * n1 + j] = (float)(gp[i * n + j + 1] + (i == j + 1 ? damp : 0.0));
    qc_sgemm(pool, false, false, n, n1, n1, 1.0f, gd, n1, af, n1, 0.0f, f->m, n1);
    for (int64_t j = 0; j < n1; j++) {
      double acc = 0;
      for (int64_t k = 0; k < n1; k++) acc += h[k + 1] * (double)af[k * n1 + j];
      f->hrow[j] = (float)acc;
    }
  }
  free(hs);
  free(ud);
  free(uf);
  free(af);
  free(gd);
  return s;
}

static const double *sort_key;
static int by_key_desc(const void *a, const void *b) {
  int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
  double x = sort_key[i], y = sort_key[j];
  if (x != y) return x > y ? -1 : 1;
  return i < j ? -1 : i > j; /* stable, as torch.argsort's order for ties is not relied on */
}

/* GPTQ's part of the factorization: hp is the permuted H (dead columns fixed); the damping
 * grows x10 while H + damp I is not positive definite. */
static qc_status factor_gptq(const double *hp, const qc_qalgo *a, const char *layer, hfactor *f) {
  int64_t n = f->c;
  double *w = malloc(sizeof *w * (size_t)(n * n)), *ud = malloc(sizeof *ud * (size_t)(n * n));
  qc_status s = w && ud ? QC_OK : QC_OOM();
  double mean = 0;
  for (int64_t i = 0; i < n; i++) mean += f->hdiag[i];
  mean /= (double)(n ? n : 1);
  double damp = a->damp_percent * mean;
  bool ok = false;
  for (int attempt = 0; attempt < 6 && !s && !ok; attempt++) {
    for (int64_t i = 0; i < n * n; i++) w[i] = hp[i];
    for (int64_t i = 0; i < n; i++) w[i * n + i] += damp;
    ok = inverse_factor(w, ud, n);
    damp = damp > 0 ? damp * 10 : 1e-8 * mean;
  }
  if (!s && !ok)
    s = qc_status_new(QC_CODE_RUNTIME, "gptq: layer '%s': the input Hessian is not positive "
                                       "definite even with damping", layer);
  for (int64_t i = 0; i < n * n && !s; i++) f->u[i] = (float)ud[i];
  free(w);
  free(ud);
  return s;
}

static qc_status factor(const hgroup *hg, const qc_qalgo *a, const char *layer, qc_pool *pool,
                        hfactor *f) {
  int64_t n = hg->c;
  f->c = n;
  f->perm = malloc(sizeof *f->perm * (size_t)n);
  f->dead = calloc((size_t)n, sizeof *f->dead);
  f->u = malloc(sizeof *f->u * (size_t)(n * n));
  f->hdiag = malloc(sizeof *f->hdiag * (size_t)n);
  double *h = malloc(sizeof *h * (size_t)(n * n)), *hp = malloc(sizeof *hp * (size_t)(n * n));
  qc_status s = f->perm && f->dead && f->u && f->hdiag && h && hp ? QC_OK : QC_OOM();
  if (!s && hg->tokens == 0)
    s = qc_status_new(QC_CODE_RUNTIME, "%s: layer '%s': the calibration runs never reached its "
                                       "input", a->name, layer);
  for (int64_t i = 0; i < n && !s; i++) {
    /* sgemm filled both triangles; average them so that H is exactly symmetric */
    for (int64_t j = 0; j < n; j++)
      h[i * n + j] = 0.5 * ((double)hg->h[i * n + j] + (double)hg->h[j * n + i]) / (double)hg->tokens;
  }
  for (int64_t i = 0; i < n && !s; i++) {
    if (h[i * n + i] == 0) {
      f->dead[i] = true;
      h[i * n + i] = 1;
    }
    f->hdiag[i] = h[i * n + i];
    f->perm[i] = i;
  }
  if (!s && a->desc_act) {
    sort_key = f->hdiag;
    qsort(f->perm, (size_t)n, sizeof *f->perm, by_key_desc);
  }
  for (int64_t i = 0; i < n && !s; i++)
    for (int64_t j = 0; j < n; j++) hp[i * n + j] = h[f->perm[i] * n + f->perm[j]];
  free(h);
  if (!s && a->kind == QC_QALGO_QRONOS) {
    double *gp = malloc(sizeof *gp * (size_t)(n * n));
    if (!gp) s = QC_OOM();
    for (int64_t i = 0; i < n && !s; i++)
      for (int64_t j = 0; j < n; j++)
        gp[i * n + j] = (double)hg->g[f->perm[i] * n + f->perm[j]] / (double)hg->tokens;
    if (!s) s = factor_qronos(hp, gp, a, layer, pool, f);
    free(gp);
  } else if (!s) {
    s = factor_gptq(hp, a, layer, f);
  }
  free(hp);
  return s;
}

/* The layer's weight spec, if GPTQ can use it: group size along the input axis (0: none), and
 * whether the parameters are per output row. */
static qc_status usable_spec(const qc_qspecs *sp, const char *algo, const char *layer,
                             int64_t cols, int64_t *G, bool *per_row) {
  *G = 0;
  *per_row = false;
  const qc_qspec *w = &sp->v[0];
  bool fp8 = (w->dtype == QC_QDT_FP8_E4M3 || w->dtype == QC_QDT_FP8_E5M2) &&
             (!w->scale_format || w->scale_format == QC_QSCALE_FORMAT_FLOAT32);
  if (sp->n != 1 || w->is_dynamic == QC_QB_TRUE || !(qc_qdtype_is_int(w->dtype) || fp8) ||
      w->is_scale_quant)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: layer '%s': its weight spec (%s%s) is not supported: %s takes one "
                         "static stage of int or fp8 (float scales) per tensor, channel or input group",
                         algo, layer, qc_qdtype_name(w->dtype) ? qc_qdtype_name(w->dtype) : "?",
                         sp->n > 1 ? ", several stages" : "", algo);
  int32_t ax = w->has_ch_axis ? (w->ch_axis < 0 ? w->ch_axis + 2 : w->ch_axis) : 0;
  switch (w->qscheme) {
  case QC_QSCHEME_PER_TENSOR:
    return QC_OK;
  case QC_QSCHEME_PER_CHANNEL:
    if (ax == 0) {
      *per_row = true;
      return QC_OK;
    }
    *G = 1; /* per input channel: a "group" of one column */
    return QC_OK;
  case QC_QSCHEME_PER_GROUP:
    if (ax == 1 && w->has_group_size) {
      *per_row = true;
      *G = w->group_size > 0 ? w->group_size : cols;
      return QC_OK;
    }
    break;
  default:
    break;
  }
  return qc_status_new(QC_CODE_UNIMPLEMENTED,
                       "%s: layer '%s': weight qscheme %s along axis %d is not supported", algo,
                       layer, qc_qscheme_name(w->qscheme) ? qc_qscheme_name(w->qscheme) : "?", ax);
}

/* The parameters of one column's quantizer: scales of group g (per row), or the tensor's. */
static qc_status column_params(const qc_qparams *p, int64_t rows, int64_t g, int64_t ng,
                               bool per_row, bool grouped, qc_qparams *out) {
  memset(out, 0, sizeof *out);
  out->scale_dtype = p->scale_dtype;
  out->zp_dtype = p->zp_dtype;
  int64_t n = per_row ? rows : 1;
  out->n = n;
  out->rank = per_row ? 1 : 0;
  out->shape[0] = rows;
  out->scale = malloc(sizeof *out->scale * (size_t)n);
  out->zero_point = malloc(sizeof *out->zero_point * (size_t)n);
  if (!out->scale || !out->zero_point) {
    qc_qparams_clear(out);
    return QC_OOM();
  }
  for (int64_t r = 0; r < n; r++) {
    int64_t k = per_row ? (grouped ? r * ng + g : r) : (grouped ? g : 0);
    out->scale[r] = p->scale[k];
    out->zero_point[r] = p->zero_point ? p->zero_point[k] : 0;
  }
  return QC_OK;
}

/* scale_search: per parameter (row and group), the range shrunk by 1 - i/20 (i < 10, AWQ's
 * grid) that minimizes the diag(H)-weighted error of plain rounding, sum_c H[c][c] (w - Q(w))^2;
 * the parameters come from the shrunk min/max through the spec's own formula. */
static qc_status search_scales(qc_quantizer *q, const qc_qspec *spec, const qc_qspec *cs,
                               const float *w, int64_t R, int64_t C, int64_t G, int64_t ng,
                               bool per_row, bool grouped, const double *hdiag, qc_qparams *P) {
  qc_qstats st, sh;
  memset(&sh, 0, sizeof sh);
  QC_RETURN_IF_ERROR(qc_observer_stats(qc_quantizer_observer(q, 0), &st));
  int64_t np = P->n;
  double *best = malloc(sizeof *best * (size_t)np), *err = malloc(sizeof *err * (size_t)np);
  float *col = malloc(sizeof *col * (size_t)R), *qc = malloc(sizeof *qc * (size_t)R);
  qc_status s = best && err && col && qc && st.n == np ? QC_OK
                : (st.n != np ? qc_status_new(QC_CODE_INTERNAL, "gptq: %lld statistics for %lld "
                                                                "parameters", (long long)st.n,
                                              (long long)np)
                              : QC_OOM());
  if (!s) s = qc_observer_stats(qc_quantizer_observer(q, 0), &sh);
  int64_t cdims[2] = {R, 1};
  for (int64_t k = 0; k < np && !s; k++) best[k] = INFINITY;
  for (int i = 0; i < 10 && !s; i++) {
    float p = 1.0f - (float)i / 20.0f;
    for (int64_t k = 0; k < np; k++) {
      sh.min[k] = st.min[k] * p;
      sh.max[k] = st.max[k] * p;
    }
    qc_qparams Pi;
    s = qc_qparams_from_stats(spec, &sh, QC_F32, &Pi);
    if (!s && Pi.n != np) s = qc_status_new(QC_CODE_INTERNAL, "gptq: parameter count changed");
    for (int64_t k = 0; k < np; k++) err[k] = 0;
    for (int64_t c = 0; c < C && !s; c++) {
      int64_t g = grouped ? c / G : 0;
      qc_qparams cp;
      s = column_params(&Pi, R, g, ng, per_row, grouped, &cp);
      for (int64_t r = 0; r < R && !s; r++) col[r] = w[r * C + c];
      if (!s) s = qc_fake_quantize(cs, &cp, col, 2, cdims, QC_F32, qc);
      for (int64_t r = 0; r < R && !s; r++) {
        double d = (double)col[r] - (double)qc[r];
        int64_t k = per_row ? (grouped ? r * ng + g : r) : (grouped ? g : 0);
        err[k] += hdiag[c] * d * d;
      }
      qc_qparams_clear(&cp);
    }
    for (int64_t k = 0; k < np && !s; k++)
      if (err[k] < best[k]) {
        best[k] = err[k];
        P->scale[k] = Pi.scale[k];
        if (P->zero_point && Pi.zero_point) P->zero_point[k] = Pi.zero_point[k];
      }
    qc_qparams_clear(&Pi);
  }
  qc_qstats_clear(&st);
  qc_qstats_clear(&sh);
  free(best);
  free(err);
  free(col);
  free(qc);
  return s;
}

/* GPTQ on one layer. */
static qc_status gptq_layer(qc_graph *g, qc_qsite *site, const char *key, const hfactor *f,
                            const qc_qalgo *a, int64_t batches, qc_pool *pool) {
  qc_qspecs sp;
  QC_RETURN_IF_ERROR(qc_qlayer_specs(g, site->name, "weight", &sp));
  float *w = NULL;
  int64_t R, C, G = 0;
  bool per_row = false;
  qc_status s = qc_qsite_weight(g, site, &w, &R, &C);
  if (!s && C != f->c)
    s = qc_status_new(QC_CODE_INTERNAL, "gptq: layer '%s': %lld columns, Hessian %lld", site->name,
                      (long long)C, (long long)f->c);
  if (!s) s = usable_spec(&sp, a->name, site->name, C, &G, &per_row);
  bool grouped = G > 0;
  int64_t ng = grouped ? (C + G - 1) / G : 1;
  /* Parameters from the weight before any update, observed as freeze observes. */
  qc_quantizer *q = NULL;
  qc_qparams P;
  memset(&P, 0, sizeof P);
  for (int64_t r = 0; r < R && !s; r++)
    for (int64_t c = 0; c < C; c++)
      if (f->dead[c]) w[r * C + c] = 0;
  if (!s) s = qc_quantizer_create(&sp, QC_F32, &q);
  if (!s) {
    qc_tensor t;
    int64_t dims[2] = {R, C};
    qc_tensor_init(&t, QC_F32, 2, dims, NULL, 0);
    s = qc_quantizer_observe_padded(q, &sp, w, &t);
  }
  if (!s) s = qc_quantizer_finalize(q);
  if (!s) {
    const qc_qparams *pp = qc_quantizer_params(q, 0);
    s = pp ? qc_qparams_copy(pp, &P) : qc_status_new(QC_CODE_INTERNAL, "gptq: no parameters");
  }
  if (!s && P.n != (per_row ? R : 1) * (grouped ? ng : 1))
    s = qc_status_new(QC_CODE_INTERNAL, "gptq: layer '%s': %lld parameters, expected %lld",
                      site->name, (long long)P.n, (long long)((per_row ? R : 1) * (grouped ? ng : 1)));
  /* One column spec per group: the column is a [R, 1] tensor, per channel over its rows. */
  qc_qspec cs = sp.n ? sp.v[0] : (qc_qspec){0};
  if (per_row) {
    cs.qscheme = QC_QSCHEME_PER_CHANNEL;
    cs.has_ch_axis = true;
    cs.ch_axis = 0;
  } else {
    cs.qscheme = QC_QSCHEME_PER_TENSOR;
    cs.has_ch_axis = false;
  }
  cs.has_group_size = false;
  qc_qparams *colp = s ? NULL : calloc((size_t)ng, sizeof *colp);
  if (!s && !colp) s = QC_OOM();
  if (!s && a->scale_search)
    s = search_scales(q, &sp.v[0], &cs, w, R, C, G, ng, per_row, grouped, f->hdiag, &P);
  for (int64_t k = 0; k < ng && !s; k++) s = column_params(&P, R, k, ng, per_row, grouped, &colp[k]);
  /* The column loop, in float32 as Quark runs it (U was factored in double). */
  int64_t B = a->block_size > 0 ? a->block_size : 128;
  float *W = s ? NULL : malloc(sizeof *W * (size_t)(R * C));
  float *err = s ? NULL : malloc(sizeof *err * (size_t)(R * B));
  float *col = s ? NULL : malloc(sizeof *col * (size_t)R), *qc = s ? NULL : malloc(sizeof *qc * (size_t)R);
  if (!s && (!W || !err || !col || !qc)) s = QC_OOM();
  for (int64_t r = 0; r < R && !s; r++)
    for (int64_t i = 0; i < C; i++) W[r * C + i] = w[r * C + f->perm[i]];
  int64_t cdims[2] = {R, 1};
  int64_t start = 0;
  if (!s && a->kind == QC_QALGO_QRONOS) {
    /* q_0 = Q(W v0); W[:, 1:] = W M - q_0 hrow */
    float *wm = malloc(sizeof *wm * (size_t)(R * (C - 1) + 1));
    if (!wm) s = QC_OOM();
    for (int64_t r = 0; r < R && !s; r++) {
      double acc = 0;
      for (int64_t i = 0; i < C; i++) acc += (double)W[r * C + i] * (double)f->v0[i];
      col[r] = (float)acc;
    }
    if (!s) s = qc_fake_quantize(&cs, &colp[grouped ? f->perm[0] / G : 0], col, 2, cdims, QC_F32, qc);
    if (!s && C > 1) {
      qc_sgemm(pool, false, false, R, C - 1, C, 1.0f, W, C, f->m, C - 1, 0.0f, wm, C - 1);
      for (int64_t r = 0; r < R; r++)
        for (int64_t j = 0; j < C - 1; j++) W[r * C + j + 1] = wm[r * (C - 1) + j] - qc[r] * f->hrow[j];
    }
    for (int64_t r = 0; r < R && !s; r++) w[r * C + f->perm[0]] = qc[r];
    free(wm);
    start = 1;
  }
  for (int64_t i1 = start; i1 < C && !s; i1 += B) {
    int64_t i2 = i1 + B < C ? i1 + B : C;
    for (int64_t i = i1; i < i2 && !s; i++) {
      int64_t orig = f->perm[i];
      float d = f->u[i * C + i];
      for (int64_t r = 0; r < R; r++) col[r] = W[r * C + i];
      s = qc_fake_quantize(&cs, &colp[grouped ? orig / G : 0], col, 2, cdims, QC_F32, qc);
      for (int64_t r = 0; r < R && !s; r++) {
        float e = (col[r] - qc[r]) / d;
        w[r * C + orig] = qc[r];
        err[r * B + (i - i1)] = e;
        if (i + 1 < i2) qc_f32_axpy(i2 - i - 1, -e, &f->u[i * C + i + 1], &W[r * C + i + 1]);
      }
    }
    /* W[:, i2:] -= Err @ U[i1:i2, i2:] */
    if (!s && i2 < C)
      qc_sgemm(pool, false, false, R, C - i2, i2 - i1, -1.0f, err, B, &f->u[i1 * C + i2], C, 1.0f,
               &W[i2], C);
  }
  if (!s) s = qc_qsite_set_weight(g, site, w);
  if (!s) s = qc_qcalib_record(g, key, 0, batches, &P, NULL);
  for (int64_t k = 0; colp && k < ng; k++) qc_qparams_clear(&colp[k]);
  free(colp);
  free(W);
  free(err);
  free(col);
  free(qc);
  free(w);
  qc_qparams_clear(&P);
  qc_quantizer_free(q);
  qc_qspecs_clear(&sp);
  return s;
}

/* The weight Observe key of a site (the weight chain's Observe node), or NULL. */
static const char *weight_key(const qc_graph *g, const qc_qsite *s) {
  const qc_node *u = qc_graph_node(g, s->weight_user);
  if (u->op != QC_OP_Q_Observe) return NULL;
  return qc_node_string(g, s->weight_user, "key", NULL);
}

/* quantize_inputs: the static quantizer of x (the Observe that produces it, one static stage
 * with calibrated parameters), if it has one; other inputs are used as they are. */
static qc_status input_quantizer(const qc_graph *g, qc_vid x, hgroup *hg) {
  const qc_value *v = qc_graph_value(g, x);
  if (v->kind != QC_VALUE_NODE) return QC_OK;
  const qc_node *n = qc_graph_node(g, v->node);
  if (n->op != QC_OP_Q_Observe || qc_qvalue_is_constlike(g, n->in[0])) return QC_OK;
  const qc_qspecs *sp;
  QC_RETURN_IF_ERROR(qc_qattr_cached(qc_node_string(g, v->node, "spec", ""), qc_node_desc(g, v->node), &sp));
  if (sp->n != 1 || qc_qattr_static_stage(sp) != 0) return QC_OK;
  QC_RETURN_IF_ERROR(qc_qcalib_read(g, qc_node_string(g, v->node, "key", ""), 0, &hg->aparams));
  hg->aspec = &sp->v[0];
  return QC_OK;
}

qc_status qc_quant_gptq(qc_graph *g, const qc_calib_options *o, const qc_qalgo *a,
                        int32_t *n_layers) {
  if (n_layers) *n_layers = 0;
  qc_qsite *sites = NULL;
  int32_t ns = 0;
  QC_RETURN_IF_ERROR(qc_qsites_find(g, &sites, &ns));
  int32_t *hidx = malloc(sizeof *hidx * (size_t)(ns ? ns : 1));
  hgroup *hg = calloc((size_t)(ns ? ns : 1), sizeof *hg);
  qc_vid *xs = malloc(sizeof *xs * (size_t)(ns ? ns : 1));
  int32_t nh = 0, n_wanted = 0;
  qc_status s = hidx && hg && xs ? QC_OK : QC_OOM();
  /* The layers: a Linear whose weight chain has an Observe (observe ran) with a spec. */
  for (int32_t i = 0; i < ns && !s; i++) {
    hidx[i] = -1;
    qc_qsite *si = &sites[i];
    if (si->type != QC_QLAYER_LINEAR || si->x_slot < 0) continue;
    qc_qspecs sp;
    s = qc_qlayer_specs(g, si->name, "weight", &sp);
    bool wants = !s && sp.n > 0;
    qc_qspecs_clear(&sp);
    if (!wants) continue;
    const char *key = weight_key(g, si);
    if (!key) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: layer '%s' has no weight observer: %s "
                                                  "runs after observe, before freeze", a->name,
                        si->name, a->name);
      break;
    }
    if (strchr(key, '('))
      s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: layer '%s' shares its weight scale ('%s'): "
                                               "not supported", a->name, si->name, key);
    qc_vid x = qc_graph_node(g, si->node)->in[si->x_slot];
    int32_t k = 0;
    while (k < nh && hg[k].x != x) k++;
    if (!s && k == nh) {
      const qc_type *xt = &qc_graph_value(g, x)->type;
      int64_t c = xt->rank ? xt->dims[xt->rank - 1] : 0;
      if (xt->rank < 1 || !qc_dim_is_static(c))
        s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: layer '%s': input channels unknown", a->name,
                          si->name);
      hg[nh] = (hgroup){.x = x, .c = c};
      if (!s && !(hg[nh].h = calloc((size_t)(c * c), sizeof(float)))) s = QC_OOM();
      if (!s && a->quantize_inputs) s = input_quantizer(g, x, &hg[nh]);
      xs[nh++] = x;
    }
    hidx[i] = k;
    n_wanted++;
  }
  /* Sequentially: the layers in the order their MatMuls run; each group's H from the
   * calibration batches run through the model whose earlier layers are already done. */
  int64_t *first = s ? NULL : malloc(sizeof *first * (size_t)(nh ? nh : 1));
  int32_t *order = s ? NULL : malloc(sizeof *order * (size_t)(nh ? nh : 1));
  if (!s && (!first || !order)) s = QC_OOM();
  for (int32_t k = 0; k < nh && !s; k++) {
    first[k] = INT64_MAX;
    for (int32_t i = 0; i < ns; i++)
      if (hidx[i] == k && sites[i].node < first[k]) first[k] = sites[i].node;
    order[k] = k;
  }
  for (int32_t i = 1; i < nh && !s; i++) /* insertion sort by first MatMul */
    for (int32_t b = i; b > 0 && first[order[b]] < first[order[b - 1]]; b--) {
      int32_t t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  qc_vid *pending = s ? NULL : malloc(sizeof *pending * (size_t)(nh ? nh : 1));
  if (!s && !pending) s = QC_OOM();
  gctx c = {hg, NULL, order, 0, a->name, 0};
  qc_seqrun *run = NULL, *frun = NULL;
  qc_graph *fg = NULL;
  bool qronos = a->kind == QC_QALGO_QRONOS;
  if (!s && n_wanted > 0) s = qc_pool_create(o->n_threads, &c.pool);
  if (!s && n_wanted > 0) s = qc_seqrun_create(g, o, &run);
  if (!s && run) c.batches = qc_seqrun_batches(run);
  /* Qronos: the float model as it is now, run beside the one being quantized; each group
   * keeps the float x of each batch until the quantized x of that batch arrives. */
  if (!s && n_wanted > 0 && qronos) s = qc_graph_clone(g, &fg);
  if (!s && fg) s = qc_seqrun_create(fg, o, &frun);
  for (int32_t k = 0; k < nh && !s && fg; k++) {
    hg[k].g = calloc((size_t)(hg[k].c * hg[k].c), sizeof(float));
    hg[k].xf = calloc((size_t)(c.batches ? c.batches : 1), sizeof *hg[k].xf);
    hg[k].xf_rows = calloc((size_t)(c.batches ? c.batches : 1), sizeof *hg[k].xf_rows);
    if (!hg[k].g || !hg[k].xf || !hg[k].xf_rows) s = QC_OOM();
  }
  int32_t done = 0;
  for (int32_t oi = 0; oi < nh && !s; oi++) {
    int32_t k = order[oi];
    /* Run up to the group's first MatMul, collecting H for it and the groups after it. */
    c.base = oi;
    for (int32_t j = oi; j < nh; j++) pending[j - oi] = hg[order[j]].x;
    if (frun) s = qc_seqrun_segment(frun, (qc_nid)first[k], nh - oi, pending, on_xf, &c);
    if (!s) s = qc_seqrun_segment(run, (qc_nid)first[k], nh - oi, pending, on_x, &c);
    if (o->progress && !s) o->progress(o->user, oi + 1, nh);
    hfactor f;
    memset(&f, 0, sizeof f);
    const char *lname = NULL;
    for (int32_t i = 0; i < ns && !lname; i++)
      if (hidx[i] == k) lname = sites[i].name;
    if (!s) s = factor(&hg[k], a, lname, c.pool, &f);
    free(hg[k].h);
    free(hg[k].g);
    hg[k].h = hg[k].g = NULL;
    for (int32_t i = 0; i < ns && !s; i++) {
      if (hidx[i] != k) continue;
      s = gptq_layer(g, &sites[i], weight_key(g, &sites[i]), &f, a, c.batches, c.pool);
      done++;
    }
    hfactor_free(&f);
    if (!s) s = qc_seqrun_refresh(run);
  }
  qc_seqrun_destroy(run);
  qc_seqrun_destroy(frun);
  qc_graph_destroy(fg);
  free(first);
  free(order);
  free(pending);
  qc_pool_destroy(c.pool);
  for (int32_t k = 0; k < nh; k++) {
    free(hg[k].h);
    free(hg[k].g);
    for (int64_t b = 0; hg[k].xf && b < c.batches; b++) free(hg[k].xf[b]);
    free(hg[k].xf);
    free(hg[k].xf_rows);
    qc_qparams_clear(&hg[k].aparams);
  }
  free(hg);
  free(hidx);
  free(xs);
  qc_qsites_free(sites, ns);
  if (!s && n_layers) *n_layers = done;
  if (!s) s = qc_graph_verify(g);
  return s;
}

static qc_status run(qc_graph *g, const qc_pass_args *pa, void *user) {
  bool qronos = user != NULL;
  qc_calib_options o;
  qc_calib_options_from_args(pa, &o);
  qc_qalgo a = {.kind = qronos ? QC_QALGO_QRONOS : QC_QALGO_GPTQ,
                .name = qronos ? "qronos" : "gptq",
                .static_groups = true};
  a.block_size = qc_pass_arg_int(pa, "block-size");
  a.scale_search = qc_pass_arg_bool(pa, "scale-search");
  a.desc_act = qc_pass_arg_bool(pa, "desc-act");
  if (qronos) {
    a.alpha = qc_pass_arg_float(pa, "alpha");
    a.quantize_inputs = qc_pass_arg_bool(pa, "quantize-inputs");
    a.beta = qc_pass_arg_float(pa, "beta");
  } else {
    a.damp_percent = qc_pass_arg_float(pa, "damp");
  }
  if (a.block_size < 1 || !(a.damp_percent >= 0 && a.damp_percent <= 1) || !(a.alpha >= 0) ||
      (qronos && !(a.beta > 0)))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: block-size must be >= 1, damp in [0, 1], "
                                                   "alpha >= 0 and beta > 0", a.name);
  return qc_quant_gptq(g, &o, &a, NULL);
}

static const qc_pass_option OPTIONS[] = {
    {"block-size", QC_OPT_INT, "128", "columns per lazy-update block"},
    {"damp", QC_OPT_FLOAT, "0.01", "damping: this fraction of the mean Hessian diagonal"},
    {"desc-act", QC_OPT_BOOL, "true", "columns in order of decreasing Hessian diagonal"},
    {"scale-search", QC_OPT_BOOL, "false", "shrink each parameter's range to minimize the H-weighted rounding error"},
    QC_CALIB_PASS_OPTIONS,
};
const qc_pass_info qc_pass_gptq = {
    "gptq", "GPTQ: quantize Linear weights column by column with error feedback (after observe)",
    OPTIONS, 4 + QC_CALIB_PASS_N_OPTIONS, run, NULL};

static const qc_pass_option QRONOS_OPTIONS[] = {
    {"block-size", QC_OPT_INT, "128", "columns per lazy-update block"},
    {"alpha", QC_OPT_FLOAT, "0.001", "damping: this fraction of the largest eigenvalue of H"},
    {"beta", QC_OPT_FLOAT, "10000", "scale of the Cholesky factorization (Quark's)"},
    {"desc-act", QC_OPT_BOOL, "true", "columns in order of decreasing Hessian diagonal"},
    {"scale-search", QC_OPT_BOOL, "false", "shrink each parameter's range to minimize the H-weighted rounding error"},
    {"quantize-inputs", QC_OPT_BOOL, "false", "X~ through the layer's own static input quantizer (after calibrate)"},
    QC_CALIB_PASS_OPTIONS,
};
static char qronos_tag;
const qc_pass_info qc_pass_qronos = {
    "qronos", "Qronos: GPTQ that also corrects the error of the layers before (after observe)",
    QRONOS_OPTIONS, 6 + QC_CALIB_PASS_N_OPTIONS, run, &qronos_tag};
