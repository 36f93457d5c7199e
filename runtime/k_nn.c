/*
 * Interpreter kernels: neural-network ops — convolutions, pooling, normalizations, dropout,
 * losses, RoiAlign. Recurrent and attention ops live in k_nn_seq.c; the family table at the
 * end lists both.
 *
 * Every kernel computes in f32 (f16/bf16/f64 inputs are converted, outputs rounded once)
 * with double accumulators for means, variances and other sums. Convolutions lower onto the
 * blocked GEMM (runtime/gemm.c): im2col in column chunks that bound scratch memory, one
 * GEMM per (image, group, chunk), spread over the pool either task by task (many small
 * products) or inside the GEMM (few large ones).
 */
#include "runtime/k_nn.h"

#include <math.h>
#include <stdatomic.h>
#include <strings.h>

/* ---- shared helpers --------------------------------------------------------------------- */

qc_status nn_tensor_scalar(const qc_kctx *k, const qc_tensor *t, const char *what, double *out) {
  if (qc_tensor_numel(t) != 1) return qc_k_error(k, "%s must hold one value", what);
  const qc_dtype_traits *tr = qc_dtype_traits_of(t->dtype);
  if (tr->kind != QC_KIND_FLOAT && tr->kind != QC_KIND_INT && tr->kind != QC_KIND_BOOL)
    return qc_k_error(k, "%s must be numeric", what);
  *out = qc_elem_f64(t->dtype, qc_tensor_data(t), 0);
  return QC_OK;
}

qc_dtype nn_out_dtype(const qc_kctx *k, int32_t i, qc_dtype dflt) {
  qc_vid v = i < k->n_out ? k->n->out[i] : QC_NONE;
  qc_dtype dt = v >= 0 ? qc_graph_value(k->g, v)->type.dtype : QC_DT_UNDEFINED;
  return qc_kf_dtype_ok(dt) ? dt : dflt;
}

qc_status nn_float_in(const qc_kctx *k, int32_t i, const qc_tensor **out) {
  const qc_tensor *t = qc_k_in(k, i);
  if (!t) return qc_k_error(k, "input %d is missing", i);
  if (!qc_kf_dtype_ok(t->dtype))
    return qc_k_error(k, "input %d: unsupported dtype %s", i, qc_dtype_name(t->dtype));
  *out = t;
  return QC_OK;
}

/* ---- sliding-window geometry (Conv, ConvTranspose, pools) ------------------------------------- */

typedef struct win {
  int32_t nsp;                  /* spatial rank */
  int64_t in[QC_MAX_RANK], k[QC_MAX_RANK], out[QC_MAX_RANK];
  int64_t s[QC_MAX_RANK], d[QC_MAX_RANK], pb[QC_MAX_RANK], pe[QC_MAX_RANK];
  int64_t in_sz, k_sz, out_sz;  /* products over the spatial dims */
} win;

/* kernel_shape, strides, dilations, pads and auto_pad of a pool over x [N, C, spatial...];
 * the output size follows qc_window_out (with ceil_mode). Convolutions get theirs from
 * kutil's qc_k_conv_geom. */
static qc_status win_init(const qc_kctx *k, const qc_tensor *x, bool ceil_mode, win *w) {
  memset(w, 0, sizeof *w);
  if (x->rank < 3) return qc_k_error(k, "input must have rank >= 3 (N, C, spatial...), got %d", x->rank);
  int32_t n = x->rank - 2;
  int64_t cnt;
  w->nsp = n;
  int64_t v[2 * QC_MAX_RANK];
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "kernel_shape", v, 2 * QC_MAX_RANK, &cnt));
  if (cnt != n) return qc_k_error(k, "kernel_shape needs %d values", n);
  memcpy(w->k, v, sizeof(int64_t) * (size_t)n);
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "strides", v, 2 * QC_MAX_RANK, &cnt));
  if (cnt >= 0 && cnt != n) return qc_k_error(k, "strides needs %d values", n);
  for (int32_t i = 0; i < n; i++) w->s[i] = cnt < 0 ? 1 : v[i];
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "dilations", v, 2 * QC_MAX_RANK, &cnt));
  if (cnt >= 0 && cnt != n) return qc_k_error(k, "dilations needs %d values", n);
  for (int32_t i = 0; i < n; i++) w->d[i] = cnt < 0 ? 1 : v[i];
  int64_t pads[2 * QC_MAX_RANK] = {0};
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "pads", v, 2 * QC_MAX_RANK, &cnt));
  if (cnt >= 0 && cnt != 2 * n) return qc_k_error(k, "pads needs %d values", 2 * n);
  if (cnt > 0) memcpy(pads, v, sizeof(int64_t) * (size_t)cnt);
  for (int32_t i = 0; i < n; i++) {
    w->in[i] = x->dims[i + 2];
    if (w->k[i] <= 0 || w->s[i] <= 0 || w->d[i] <= 0)
      return qc_k_error(k, "kernel_shape, strides and dilations must be positive");
  }
  const char *ap = qc_k_string(k, "auto_pad", "NOTSET");
  if (!qc_auto_pad(ap, n, w->in, w->k, w->s, w->d, pads))
    return qc_k_error(k, "unknown auto_pad '%s'", ap);
  w->in_sz = w->k_sz = w->out_sz = 1;
  for (int32_t i = 0; i < n; i++) {
    w->pb[i] = pads[i];
    w->pe[i] = pads[i + n];
    if (w->pb[i] < 0 || w->pe[i] < 0) return qc_k_error(k, "pads must not be negative");
    w->out[i] = qc_window_out(w->in[i], w->k[i], w->s[i], w->d[i], w->pb[i], w->pe[i], ceil_mode);
    if (w->out[i] < 0)
      return qc_k_error(k, "window of %lld (dilation %lld) does not fit spatial dim %d of size %lld",
                        (long long)w->k[i], (long long)w->d[i], i, (long long)w->in[i]);
    w->in_sz *= w->in[i];
    w->k_sz *= w->k[i];
    w->out_sz *= w->out[i];
  }
  return QC_OK;
}

/* The window of a convolution whose attributes and shapes kutil resolved. */
static void win_from_conv(const qc_conv_geom *g, win *w) {
  memset(w, 0, sizeof *w);
  w->nsp = g->nsp;
  w->in_sz = w->k_sz = w->out_sz = 1;
  for (int32_t i = 0; i < g->nsp; i++) {
    w->in[i] = g->in[i], w->k[i] = g->k[i], w->out[i] = g->out[i];
    w->s[i] = g->stride[i], w->d[i] = g->dil[i];
    w->pb[i] = g->pad_begin[i], w->pe[i] = g->pad_end[i];
    w->in_sz *= w->in[i], w->k_sz *= w->k[i], w->out_sz *= w->out[i];
  }
}

/* ---- implicit im2col ----------------------------------------------------------------------- */

/* Row r = (channel, kernel position) of the im2col matrix of one image's channel block x
 * (channels of in_sz elements), columns [o0, o1): dst[o - o0] = x[c][o * s + kpos * d - pb],
 * or 0 where that falls in the padding. Runs along the last output dim are copied whole. */
static void im2col_segment(const win *w, const float *x, int64_t r, int64_t o0, int64_t o1,
                           float *dst) {
  int32_t L = w->nsp - 1;
  int64_t ow = w->out[L], iw = w->in[L], sw = w->s[L];
  int64_t c = r / w->k_sz, kk = r % w->k_sz;
  int64_t koff[QC_MAX_RANK];
  for (int32_t d = L; d >= 0; d--) {
    koff[d] = (kk % w->k[d]) * w->d[d] - w->pb[d];
    kk /= w->k[d];
  }
  const float *xc = x + c * w->in_sz;
  /* Valid range of the last output dim: 0 <= q*sw + koff < iw. */
  int64_t lo = koff[L] >= 0 ? 0 : (-koff[L] + sw - 1) / sw;
  int64_t hi = iw - koff[L] <= 0 ? 0 : (iw - koff[L] - 1) / sw + 1;
  if (hi > ow) hi = ow;
  if (lo > hi) lo = hi;
  int64_t oidx[QC_MAX_RANK] = {0}, rem = o0 / ow, q0 = o0 % ow;
  for (int32_t d = L - 1; d >= 0; d--) {
    oidx[d] = rem % w->out[d];
    rem /= w->out[d];
  }
  for (int64_t o = o0; o < o1;) {
    int64_t q1 = q0 + (o1 - o) < ow ? q0 + (o1 - o) : ow; /* this output row: [q0, q1) */
    int64_t base = 0;
    bool valid = true;
    for (int32_t d = 0; d < L; d++) {
      int64_t pos = oidx[d] * w->s[d] + koff[d];
      if (pos < 0 || pos >= w->in[d]) valid = false;
      base = base * w->in[d] + pos;
    }
    int64_t a = valid ? (lo > q0 ? lo : q0) : q1, b = valid ? (hi < q1 ? hi : q1) : q1;
    if (a > b) a = b;
    if (a > q0) memset(dst, 0, sizeof(float) * (size_t)(a - q0));
    if (b > a) {
      const float *src = xc + base * iw + koff[L];
      if (sw == 1) memcpy(dst + (a - q0), src + a, sizeof(float) * (size_t)(b - a));
      else
        for (int64_t q = a; q < b; q++) dst[q - q0] = src[q * sw];
    }
    if (q1 > b) memset(dst + (b - q0), 0, sizeof(float) * (size_t)(q1 - b));
    dst += q1 - q0;
    o += q1 - q0;
    q0 = 0;
    for (int32_t d = L - 1; d >= 0; d--) {
      if (++oidx[d] < w->out[d]) break;
      oidx[d] = 0;
    }
  }
}

/* The GEMM's B packer for a convolution: panels are filled from the image directly, so the
 * im2col matrix never exists in memory (qc_gemm_pack_b_fn). */
typedef struct conv_pack {
  const win *w;
  const float *x; /* the image's channel block of this group */
} conv_pack;

enum { PACK_SEG = 512 };

static void conv_pack_b(void *ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nj, int32_t nr,
                        float *bp) {
  const conv_pack *cp = ctx;
  float row[PACK_SEG];
  int64_t npan = (nj + nr - 1) / nr;
  if (nj % nr) memset(bp + (npan - 1) * nr * kc, 0, sizeof(float) * (size_t)(nr * kc));
  for (int64_t p = 0; p < kc; p++)
    for (int64_t js = 0; js < nj; js += PACK_SEG) {
      int64_t len = nj - js < PACK_SEG ? nj - js : PACK_SEG;
      im2col_segment(cp->w, cp->x, p0 + p, j0 + js, j0 + js + len, row);
      for (int64_t t = 0; t < len;) {
        int64_t col = js + t, q = col / nr, lane = col % nr;
        int64_t cnt = nr - lane < len - t ? nr - lane : len - t;
        memcpy(bp + q * nr * kc + p * nr + lane, row + t, sizeof(float) * (size_t)cnt);
        t += cnt;
      }
    }
}

/* ---- Conv ----------------------------------------------------------------------------------- */

typedef struct conv_job {
  win w;
  int64_t n, c, m, g, cg, mg, kc;   /* batch, channels in/out, groups, per group, C/g*k_sz */
  bool direct;                      /* 1x1, stride 1, no pad: X is its own im2col matrix */
  const float *x, *wt, *b;
  float *y;
  qc_pool *pool;                    /* for the GEMM inside a task (NULL: tasks in parallel) */
  const qc_kctx *k;
  _Atomic int oom;
} conv_job;

/* One (image, group): Y_g = W_g * im2col(X_g) (+ bias), the im2col operand packed on the
 * fly, or X_g itself for 1x1 stride-1 unpadded kernels. */
static void conv_task(conv_job *j, int64_t t) {
  int64_t img = t / j->g, grp = t % j->g;
  const float *x = j->x + (img * j->c + grp * j->cg) * j->w.in_sz;
  const float *wg = j->wt + grp * j->mg * j->kc;
  float *y = j->y + (img * j->m + grp * j->mg) * j->w.out_sz;
  float beta = 0.0f;
  if (j->b) {
    for (int64_t mi = 0; mi < j->mg; mi++) {
      float bv = j->b[grp * j->mg + mi];
      float *row = y + mi * j->w.out_sz;
      for (int64_t o = 0; o < j->w.out_sz; o++) row[o] = bv;
    }
    beta = 1.0f;
  }
  if (j->direct) {
    qc_gemm_f32(j->pool, j->mg, j->w.out_sz, j->kc, 1.0f, wg, j->kc, 1, x, j->w.in_sz, 1, beta, y,
                j->w.out_sz, 1);
    return;
  }
  conv_pack cp = {&j->w, x};
  if (!qc_gemm_f32_pack_b(j->pool, j->mg, j->w.out_sz, j->kc, 1.0f, wg, j->kc, 1, conv_pack_b,
                          &cp, beta, y, j->w.out_sz, 1))
    atomic_store(&j->oom, 1);
}

static void conv_range(void *ctx, int64_t begin, int64_t end) {
  conv_job *j = ctx;
  for (int64_t t = begin; t < end; t++) conv_task(j, t);
}

/* Depthwise convolution (one input and one output channel per group): each kernel position
 * adds a shifted, scaled copy of the input plane to the output plane, row segment by row
 * segment, without an im2col matrix. Planes (image, channel) run in parallel. */
static void depthwise_range(void *ctx, int64_t p0, int64_t p1) {
  conv_job *j = ctx;
  const win *w = &j->w;
  int32_t L = w->nsp - 1;
  int64_t ow = w->out[L], iw = w->in[L], sw = w->s[L];
  for (int64_t plane = p0; plane < p1; plane++) {
    int64_t ch = plane % j->c;
    const float *x = j->x + plane * w->in_sz, *wk = j->wt + ch * w->k_sz;
    float *y = j->y + plane * w->out_sz;
    float bv = j->b ? j->b[ch] : 0.0f;
    for (int64_t o = 0; o < w->out_sz; o++) y[o] = bv;
    for (int64_t kk = 0; kk < w->k_sz; kk++) {
      int64_t koff[QC_MAX_RANK], rem = kk;
      for (int32_t d = L; d >= 0; d--) {
        koff[d] = (rem % w->k[d]) * w->d[d] - w->pb[d];
        rem /= w->k[d];
      }
      float wv = wk[kk];
      int64_t lo = koff[L] >= 0 ? 0 : (-koff[L] + sw - 1) / sw;
      int64_t hi = iw - koff[L] <= 0 ? 0 : (iw - koff[L] - 1) / sw + 1;
      if (hi > ow) hi = ow;
      if (lo >= hi) continue;
      int64_t oidx[QC_MAX_RANK] = {0};
      for (int64_t o = 0; o < w->out_sz; o += ow) {
        int64_t base = 0;
        bool valid = true;
        for (int32_t d = 0; d < L; d++) {
          int64_t pos = oidx[d] * w->s[d] + koff[d];
          if (pos < 0 || pos >= w->in[d]) valid = false;
          base = base * w->in[d] + pos;
        }
        if (valid) {
          const float *src = x + base * iw + koff[L];
          float *dst = y + o;
          if (sw == 1)
            qc_f32_axpy(hi - lo, wv, src + lo, dst + lo);
          else
            for (int64_t q = lo; q < hi; q++) dst[q] += wv * src[q * sw];
        }
        for (int32_t d = L - 1; d >= 0; d--) {
          if (++oidx[d] < w->out[d]) break;
          oidx[d] = 0;
        }
      }
    }
  }
}

static qc_status run_conv(qc_kctx *k, conv_job *j) {
  if (j->cg == 1 && j->mg == 1) {
    int64_t work = j->w.out_sz * j->w.k_sz;
    qc_pool_for(qc_k_pool(k), j->n * j->c, 1 + 16384 / (work + 1), depthwise_range, j);
    return QC_OK;
  }
  int32_t threads = qc_pool_size(qc_k_pool(k));
  int64_t tasks = j->n * j->g;
  /* Many (image, group) tasks: one per thread at a time with serial GEMMs. Few: each GEMM
   * spreads over the pool. */
  bool task_parallel = threads > 1 && tasks >= 2 * threads;
  j->pool = task_parallel ? NULL : qc_k_pool(k);
  atomic_store(&j->oom, 0);
  if (task_parallel) qc_pool_for(qc_k_pool(k), tasks, 1, conv_range, j);
  else conv_range(j, 0, tasks);
  return atomic_load(&j->oom) ? QC_OOM() : QC_OK;
}

static qc_status k_conv(qc_kctx *k) {
  const qc_tensor *x, *w;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &w));
  const qc_tensor *b = qc_k_in(k, 2);
  conv_job j;
  memset(&j, 0, sizeof j);
  qc_conv_geom geom;
  QC_RETURN_IF_ERROR(qc_k_conv_geom(k, x, w, &geom));
  win_from_conv(&geom, &j.w);
  j.n = geom.batch;
  j.c = geom.c_in;
  j.m = geom.c_out;
  j.g = geom.group;
  if (b && qc_tensor_numel(b) != j.m) return qc_k_error(k, "B must have %lld values", (long long)j.m);
  j.cg = j.c / j.g;
  j.mg = j.m / j.g;
  j.kc = j.cg * j.w.k_sz;
  j.direct = j.w.k_sz == 1;
  for (int32_t i = 0; i < j.w.nsp; i++)
    if (j.w.s[i] != 1 || j.w.pb[i] || j.w.pe[i]) j.direct = false;
  int64_t odims[QC_MAX_RANK] = {j.n, j.m};
  memcpy(odims + 2, j.w.out, sizeof(int64_t) * (size_t)j.w.nsp);
  qc_kf_out y = {0};
  QC_RETURN_IF_ERROR(qc_kf_out_alloc(k, 0, x->dtype, x->rank, odims, &y));
  qc_kf_in xf = {0}, wf = {0}, bf = {0};
  qc_status s = qc_kf_load(k, x, &xf);
  if (!s) s = qc_kf_load(k, w, &wf);
  if (!s) s = qc_kf_load(k, b, &bf);
  if (!s) {
    j.x = xf.p;
    j.wt = wf.p;
    j.b = b ? bf.p : NULL;
    j.y = y.p;
    j.k = k;
    if (j.w.out_sz && j.n) s = run_conv(k, &j);
  }
  qc_kf_release(k, &xf);
  qc_kf_release(k, &wf);
  qc_kf_release(k, &bf);
  if (s) {
    qc_kf_out_discard(k, &y);
    return s;
  }
  return qc_kf_out_finish(k, &y);
}

/* ---- ConvTranspose ------------------------------------------------------------------------ */

typedef struct col2im_job {
  const win *w;          /* geometry of the forward conv: in = ConvTranspose output */
  const float *col;      /* rows (m, kernel position) x columns (input positions) */
  float *y;              /* per output channel m: w->in_sz values */
  int64_t n_in_pos;      /* columns: ConvTranspose input positions (= w->out_sz) */
} col2im_job;

/* y[m][pos * s + kpos * d - pb] += col[(m, kpos)][pos] for the valid ones, channels [m0, m1). */
static void col2im_range(void *ctx, int64_t m0, int64_t m1) {
  col2im_job *j = ctx;
  const win *w = j->w;
  int32_t L = w->nsp - 1;
  for (int64_t m = m0; m < m1; m++) {
    float *ym = j->y + m * w->in_sz;
    for (int64_t kk0 = 0; kk0 < w->k_sz; kk0++) {
      const float *src = j->col + (m * w->k_sz + kk0) * j->n_in_pos;
      int64_t koff[QC_MAX_RANK], kk = kk0;
      for (int32_t d = L; d >= 0; d--) {
        koff[d] = (kk % w->k[d]) * w->d[d] - w->pb[d];
        kk /= w->k[d];
      }
      int64_t idx[QC_MAX_RANK] = {0};
      for (int64_t p = 0; p < j->n_in_pos; p++) {
        int64_t off = 0;
        bool ok = true;
        for (int32_t d = 0; d <= L; d++) {
          int64_t pos = idx[d] * w->s[d] + koff[d];
          if (pos < 0 || pos >= w->in[d]) {
            ok = false;
            break;
          }
          off = off * w->in[d] + pos;
        }
        if (ok) ym[off] += src[p];
        for (int32_t d = L; d >= 0; d--) {
          if (++idx[d] < w->out[d]) break;
          idx[d] = 0;
        }
      }
    }
  }
}

/* Python's floor division, for the pad arithmetic ONNX specifies in it. */
static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

static qc_status k_conv_transpose(qc_kctx *k) {
  const qc_tensor *x, *w;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &w));
  const qc_tensor *b = qc_k_in(k, 2);
  if (x->rank < 3 || w->rank != x->rank) return qc_k_error(k, "X and W must have the same rank >= 3");
  int32_t n = x->rank - 2;
  int64_t cnt;
  int64_t v[2 * QC_MAX_RANK];
  win g; /* the forward geometry: g.in = our output, g.out = our input */
  memset(&g, 0, sizeof g);
  g.nsp = n;
  for (int32_t i = 0; i < n; i++) {
    g.k[i] = w->dims[i + 2];
    g.out[i] = x->dims[i + 2];
  }
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "strides", v, 2 * QC_MAX_RANK, &cnt));
  for (int32_t i = 0; i < n; i++) g.s[i] = cnt == n ? v[i] : 1;
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "dilations", v, 2 * QC_MAX_RANK, &cnt));
  for (int32_t i = 0; i < n; i++) g.d[i] = cnt == n ? v[i] : 1;
  int64_t opad[QC_MAX_RANK] = {0}, oshape[2 * QC_MAX_RANK];
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "output_padding", v, 2 * QC_MAX_RANK, &cnt));
  for (int32_t i = 0; i < n && cnt > 0; i++) opad[i] = v[i];
  int64_t n_oshape;
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "output_shape", oshape, 2 * QC_MAX_RANK, &n_oshape));
  if (n_oshape > n) { /* the full shape (N, C, spatial...) is accepted too */
    memmove(oshape, oshape + (n_oshape - n), sizeof(int64_t) * (size_t)n);
    n_oshape = n;
  }
  int64_t n_pads;
  int64_t pads[2 * QC_MAX_RANK] = {0};
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "pads", pads, 2 * QC_MAX_RANK, &n_pads));
  const char *ap = qc_k_string(k, "auto_pad", "NOTSET");
  bool same = strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0;
  if (strcmp(ap, "VALID") == 0) n_pads = -1, memset(pads, 0, sizeof pads);
  if (n_oshape == n || same) {
    /* Pads follow from the wanted output shape (input * stride under SAME). */
    for (int32_t i = 0; i < n; i++) {
      int64_t want = n_oshape == n ? oshape[i] : x->dims[i + 2] * g.s[i];
      int64_t total = g.s[i] * (x->dims[i + 2] - 1) + opad[i] + (g.k[i] - 1) * g.d[i] + 1 - want;
      if (strcmp(ap, "SAME_UPPER") == 0) {
        pads[i] = floordiv(total, 2);
        pads[i + n] = total - floordiv(total, 2);
      } else {
        pads[i] = total - floordiv(total, 2);
        pads[i + n] = floordiv(total, 2);
      }
      g.in[i] = want;
    }
  } else {
    if (n_pads >= 0 && n_pads != 2 * n) return qc_k_error(k, "pads needs %d values", 2 * n);
    for (int32_t i = 0; i < n; i++)
      g.in[i] = g.s[i] * (x->dims[i + 2] - 1) + opad[i] + (g.k[i] - 1) * g.d[i] + 1 - pads[i] -
                pads[i + n];
  }
  g.in_sz = g.k_sz = g.out_sz = 1;
  for (int32_t i = 0; i < n; i++) {
    g.pb[i] = pads[i];
    g.pe[i] = pads[i + n];
    if (g.in[i] < 0) return qc_k_error(k, "output spatial dim %d would be negative", i);
    g.in_sz *= g.in[i];
    g.k_sz *= g.k[i];
    g.out_sz *= g.out[i];
  }
  int64_t nb = x->dims[0], c = x->dims[1], grp = qc_k_int(k, "group", 1);
  if (grp <= 0 || c % grp || w->dims[0] != c)
    return qc_k_error(k, "W must be [C, M/group, k...] with C = %lld divisible by group %lld",
                      (long long)c, (long long)grp);
  int64_t cg = c / grp, mg = w->dims[1], m = mg * grp;
  if (b && qc_tensor_numel(b) != m) return qc_k_error(k, "B must have %lld values", (long long)m);
  int64_t odims[QC_MAX_RANK] = {nb, m};
  memcpy(odims + 2, g.in, sizeof(int64_t) * (size_t)n);
  qc_kf_out y = {0};
  QC_RETURN_IF_ERROR(qc_kf_out_alloc(k, 0, x->dtype, x->rank, odims, &y));
  qc_kf_in xf = {0}, wf = {0}, bf = {0};
  qc_status s = qc_kf_load(k, x, &xf);
  if (!s) s = qc_kf_load(k, w, &wf);
  if (!s) s = qc_kf_load(k, b, &bf);
  int64_t rows = mg * g.k_sz;
  float *col = s ? NULL : qc_kf_scratch(k, rows * g.out_sz);
  if (!s && !col) s = QC_OOM();
  for (int64_t img = 0; img < nb && !s; img++)
    for (int64_t gi = 0; gi < grp; gi++) {
      /* col = W_g^T (rows x cg) * X_g (cg x in positions). */
      const float *wg = wf.p + gi * cg * rows;
      const float *xg = xf.p + (img * c + gi * cg) * g.out_sz;
      float *yg = y.p + (img * m + gi * mg) * g.in_sz;
      qc_gemm_f32(qc_k_pool(k), rows, g.out_sz, cg, 1.0f, wg, 1, rows, xg, g.out_sz, 1, 0.0f, col,
                  g.out_sz, 1);
      for (int64_t mi = 0; mi < mg; mi++) {
        float bv = b ? bf.p[gi * mg + mi] : 0.0f;
        for (int64_t o = 0; o < g.in_sz; o++) yg[mi * g.in_sz + o] = bv;
      }
      col2im_job cj = {&g, col, yg, g.out_sz};
      qc_pool_for(qc_k_pool(k), mg, 1, col2im_range, &cj);
    }
  qc_kf_scratch_free(k, col, rows * g.out_sz);
  qc_kf_release(k, &xf);
  qc_kf_release(k, &wf);
  qc_kf_release(k, &bf);
  if (s) {
    qc_kf_out_discard(k, &y);
    return s;
  }
  return qc_kf_out_finish(k, &y);
}

/* ---- pooling ------------------------------------------------------------------------------- */

enum { POOL_MAX, POOL_AVG, POOL_LP };

typedef struct pool_job {
  win w;
  int kind;
  bool count_pad;       /* AveragePool count_include_pad */
  double p;             /* LpPool */
  bool col_major;       /* MaxPool storage_order 1 */
  const float *x;
  float *y;
  int64_t *idx;         /* MaxPool Indices, or NULL */
} pool_job;

static void pool_range(void *ctx, int64_t p0, int64_t p1) {
  pool_job *j = ctx;
  const win *w = &j->w;
  int32_t n = w->nsp;
  for (int64_t plane = p0; plane < p1; plane++) {
    const float *x = j->x + plane * w->in_sz;
    float *y = j->y + plane * w->out_sz;
    int64_t oidx[QC_MAX_RANK] = {0};
    for (int64_t o = 0; o < w->out_sz; o++) {
      int64_t start[QC_MAX_RANK];
      for (int32_t d = 0; d < n; d++) start[d] = oidx[d] * w->s[d] - w->pb[d];
      double acc = j->kind == POOL_MAX ? -INFINITY : 0.0;
      int64_t best = -1, count = 0, count_pad = 0;
      int64_t kidx[QC_MAX_RANK] = {0};
      for (int64_t kk = 0; kk < w->k_sz; kk++) {
        int64_t off = 0;
        bool inside = true, in_padded = true;
        for (int32_t d = 0; d < n; d++) {
          int64_t pos = start[d] + kidx[d] * w->d[d];
          if (pos < 0 || pos >= w->in[d]) inside = false;
          /* Positions past the end padding (ceil_mode windows) are not counted. */
          if (pos >= w->in[d] + w->pe[d]) in_padded = false;
          off = off * w->in[d] + pos;
        }
        if (in_padded) count_pad++;
        if (inside) {
          float v = x[off];
          count++;
          if (j->kind == POOL_MAX) {
            if (best < 0 || v > acc) {
              acc = v;
              best = off;
            }
          } else if (j->kind == POOL_AVG) {
            acc += v;
          } else {
            acc += pow(fabs((double)v), j->p);
          }
        }
        for (int32_t d = n - 1; d >= 0; d--) {
          if (++kidx[d] < w->k[d]) break;
          kidx[d] = 0;
        }
      }
      if (j->kind == POOL_MAX) {
        y[o] = best < 0 ? 0.0f : (float)acc;
        if (j->idx) {
          int64_t id = best;
          if (best >= 0 && j->col_major) {
            /* Spatial coordinates of best, re-linearized first-dim-fastest. */
            int64_t rem = best, lin = 0, mul = 1, coord[QC_MAX_RANK];
            for (int32_t d = n - 1; d >= 0; d--) {
              coord[d] = rem % w->in[d];
              rem /= w->in[d];
            }
            for (int32_t d = 0; d < n; d++) {
              lin += coord[d] * mul;
              mul *= w->in[d];
            }
            id = lin;
          }
          j->idx[plane * w->out_sz + o] = best < 0 ? -1 : plane * w->in_sz + id;
        }
      } else if (j->kind == POOL_AVG) {
        int64_t div = j->count_pad ? count_pad : count;
        y[o] = div ? (float)(acc / (double)div) : NAN;
      } else {
        y[o] = (float)pow(acc, 1.0 / j->p);
      }
      for (int32_t d = n - 1; d >= 0; d--) {
        if (++oidx[d] < w->out[d]) break;
        oidx[d] = 0;
      }
    }
  }
}

static qc_status pool_common(qc_kctx *k, int kind) {
  const qc_tensor *x = qc_k_in(k, 0);
  /* MaxPool also takes 8-bit integers: exact in f32 and back. */
  if (!(kind == POOL_MAX && x && (x->dtype == QC_I8 || x->dtype == QC_U8)))
    QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  pool_job j;
  memset(&j, 0, sizeof j);
  j.kind = kind;
  bool ceil_mode = qc_k_int(k, "ceil_mode", 0) != 0;
  QC_RETURN_IF_ERROR(win_init(k, x, ceil_mode, &j.w));
  j.count_pad = qc_k_int(k, "count_include_pad", 0) != 0;
  j.p = (double)qc_k_int(k, "p", 2);
  j.col_major = qc_k_int(k, "storage_order", 0) != 0;
  int64_t odims[QC_MAX_RANK] = {x->dims[0], x->dims[1]};
  memcpy(odims + 2, j.w.out, sizeof(int64_t) * (size_t)j.w.nsp);
  qc_kf_out y = {0};
  QC_RETURN_IF_ERROR(qc_kf_out_alloc(k, 0, x->dtype, x->rank, odims, &y));
  if (kind == POOL_MAX && qc_k_out_used(k, 1)) {
    qc_tensor *it;
    qc_status s = qc_k_out(k, 1, QC_I64, x->rank, odims, &it);
    if (s) {
      qc_kf_out_discard(k, &y);
      return s;
    }
    j.idx = qc_tensor_data(it);
  }
  qc_kf_in xf = {0};
  qc_status s = qc_kf_load(k, x, &xf);
  if (s) {
    qc_kf_out_discard(k, &y);
    return s;
  }
  j.x = xf.p;
  j.y = y.p;
  int64_t planes = x->dims[0] * x->dims[1];
  int64_t grain = j.w.out_sz * j.w.k_sz > 4096 ? 1 : 4096 / (j.w.out_sz * j.w.k_sz + 1) + 1;
  qc_pool_for(qc_k_pool(k), planes, grain, pool_range, &j);
  qc_kf_release(k, &xf);
  return qc_kf_out_finish(k, &y);
}

static qc_status k_max_pool(qc_kctx *k) { return pool_common(k, POOL_MAX); }
static qc_status k_average_pool(qc_kctx *k) { return pool_common(k, POOL_AVG); }
static qc_status k_lp_pool(qc_kctx *k) { return pool_common(k, POOL_LP); }

/* Global pools: one value per (n, c) plane. */
typedef struct gpool_job {
  int kind;
  double p;
  int64_t sz;
  const float *x;
  float *y;
} gpool_job;

static void gpool_range(void *ctx, int64_t p0, int64_t p1) {
  gpool_job *j = ctx;
  for (int64_t pl = p0; pl < p1; pl++) {
    const float *x = j->x + pl * j->sz;
    double acc = j->kind == POOL_MAX ? -INFINITY : 0.0;
    for (int64_t i = 0; i < j->sz; i++) {
      if (j->kind == POOL_MAX) {
        if (x[i] > acc || isnan(x[i])) acc = x[i];
      } else if (j->kind == POOL_AVG) {
        acc += x[i];
      } else {
        acc += pow(fabs((double)x[i]), j->p);
      }
    }
    if (j->kind == POOL_AVG) acc /= (double)j->sz;
    if (j->kind == POOL_LP) acc = pow(acc, 1.0 / j->p);
    j->y[pl] = (float)acc;
  }
}

static qc_status global_pool(qc_kctx *k, int kind) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  if (x->rank < 2) return qc_k_error(k, "input must have rank >= 2");
  int64_t odims[QC_MAX_RANK];
  for (int32_t d = 0; d < x->rank; d++) odims[d] = d < 2 ? x->dims[d] : 1;
  gpool_job j = {kind, (double)qc_k_int(k, "p", 2), 1, NULL, NULL};
  for (int32_t d = 2; d < x->rank; d++) j.sz *= x->dims[d];
  qc_kf_out y = {0};
  QC_RETURN_IF_ERROR(qc_kf_out_alloc(k, 0, x->dtype, x->rank, odims, &y));
  qc_kf_in xf = {0};
  qc_status s = qc_kf_load(k, x, &xf);
  if (s) {
    qc_kf_out_discard(k, &y);
    return s;
  }
  j.x = xf.p;
  j.y = y.p;
  qc_pool_for(qc_k_pool(k), x->dims[0] * x->dims[1], 1 + 4096 / (j.sz + 1), gpool_range, &j);
  qc_kf_release(k, &xf);
  return qc_kf_out_finish(k, &y);
}

static qc_status k_global_max_pool(qc_kctx *k) { return global_pool(k, POOL_MAX); }
static qc_status k_global_average_pool(qc_kctx *k) { return global_pool(k, POOL_AVG); }
static qc_status k_global_lp_pool(qc_kctx *k) { return global_pool(k, POOL_LP); }

/* ---- MaxUnpool ------------------------------------------------------------------------------ */

static qc_status k_max_unpool(qc_kctx *k) {
  const qc_tensor *x, *ind = qc_k_in(k, 1), *osz = qc_k_in(k, 2);
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  if (!ind || !qc_dtype_is_int(ind->dtype) || qc_tensor_numel(ind) != qc_tensor_numel(x))
    return qc_k_error(k, "I must be an integer tensor shaped like X");
  if (x->rank < 3) return qc_k_error(k, "X must have rank >= 3");
  int32_t n = x->rank - 2;
  int64_t cnt;
  int64_t ks[2 * QC_MAX_RANK], st[2 * QC_MAX_RANK], pads[2 * QC_MAX_RANK] = {0};
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "kernel_shape", ks, 2 * QC_MAX_RANK, &cnt));
  if (cnt != n) return qc_k_error(k, "kernel_shape needs %d values", n);
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "strides", st, 2 * QC_MAX_RANK, &cnt));
  if (cnt < 0)
    for (int32_t i = 0; i < n; i++) st[i] = 1;
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "pads", pads, 2 * QC_MAX_RANK, &cnt));
  if (cnt < 0) memset(pads, 0, sizeof pads);
  /* Indices address the shape the pooling would invert (the default output shape); an
   * output_shape, as in ONNX's reference implementation, receives that result in its
   * leading corner. */
  int64_t idims[QC_MAX_RANK], odims[QC_MAX_RANK];
  idims[0] = x->dims[0];
  idims[1] = x->dims[1];
  for (int32_t i = 0; i < n; i++)
    idims[i + 2] = (x->dims[i + 2] - 1) * st[i] - pads[i] - pads[i + n] + ks[i];
  memcpy(odims, idims, sizeof odims);
  if (osz) {
    int64_t no;
    QC_RETURN_IF_ERROR(qc_k_ints(k, osz, "output_shape", odims, QC_MAX_RANK, &no));
    if (no != x->rank) return qc_k_error(k, "output_shape needs %d values", x->rank);
  }
  int64_t total = qc_shape_numel(x->rank, idims);
  if (total < 0) return qc_k_error(k, "invalid unpooled shape");
  qc_kf_out y = {0};
  QC_RETURN_IF_ERROR(qc_kf_out_alloc(k, 0, x->dtype, x->rank, odims, &y));
  qc_kf_in xf = {0};
  qc_status s = qc_kf_load(k, x, &xf);
  float *u = s ? NULL : qc_kf_scratch(k, total);
  if (!s && !u) s = QC_OOM();
  if (u) memset(u, 0, sizeof(float) * (size_t)total);
  for (int64_t i = 0; i < xf.n && !s; i++) {
    int64_t at = qc_elem_i64(ind->dtype, qc_tensor_data(ind), (size_t)i);
    if (at < 0 || at >= total) s = qc_k_error(k, "index %lld out of range [0, %lld)", (long long)at, (long long)total);
    else u[at] = xf.p[i];
  }
  if (!s) {
    /* Copy the common corner of the two shapes. */
    int64_t idx[QC_MAX_RANK] = {0};
    for (int64_t o = 0; o < y.n; o++) {
      int64_t off = 0;
      bool in = true;
      for (int32_t d = 0; d < x->rank; d++) {
        if (idx[d] >= idims[d]) in = false;
        off = off * idims[d] + idx[d];
      }
      if (in) y.p[o] = u[off];
      for (int32_t d = x->rank - 1; d >= 0; d--) {
        if (++idx[d] < odims[d]) break;
        idx[d] = 0;
      }
    }
  }
  qc_kf_scratch_free(k, u, total);
  qc_kf_release(k, &xf);
  if (s) {
    qc_kf_out_discard(k, &y);
    return s;
  }
  return qc_kf_out_finish(k, &y);
}

/* ---- normalizations ------------------------------------------------------------------------- */

/* Per channel of [N, C, rest]: y = x * a[c] + b[c]. */
typedef struct affine_job {
  const float *x, *a, *b;
  float *y;
  int64_t c, rest;
} affine_job;

static void affine_range(void *ctx, int64_t p0, int64_t p1) {
  affine_job *j = ctx;
  for (int64_t p = p0; p < p1; p++) {
    float a = j->a[p % j->c], b = j->b[p % j->c];
    const float *x = j->x + p * j->rest;
    float *y = j->y + p * j->rest;
    for (int64_t i = 0; i < j->rest; i++) y[i] = x[i] * a + b;
  }
}

/* Mean and (biased) variance of each channel of [N, C, rest] over N and rest, in double. */
static void channel_stats(const float *x, int64_t nb, int64_t c, int64_t rest, double *mean,
                          double *var) {
  for (int64_t ch = 0; ch < c; ch++) {
    double s = 0, ss = 0;
    for (int64_t i = 0; i < nb; i++) {
      const float *p = x + (i * c + ch) * rest;
      for (int64_t r = 0; r < rest; r++) s += p[r];
    }
    double cnt = (double)(nb * rest), m = cnt > 0 ? s / cnt : 0;
    for (int64_t i = 0; i < nb; i++) {
      const float *p = x + (i * c + ch) * rest;
      for (int64_t r = 0; r < rest; r++) ss += (p[r] - m) * (p[r] - m);
    }
    mean[ch] = m;
    var[ch] = cnt > 0 ? ss / cnt : 0;
  }
}

static qc_status k_batch_norm(qc_kctx *k) {
  const qc_tensor *x, *sc, *bi, *mn, *vr;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &sc));
  QC_RETURN_IF_ERROR(nn_float_in(k, 2, &bi));
  QC_RETURN_IF_ERROR(nn_float_in(k, 3, &mn));
  QC_RETURN_IF_ERROR(nn_float_in(k, 4, &vr));
  if (x->rank < 2) return qc_k_error(k, "X must have rank >= 2");
  int64_t nb = x->dims[0], c = x->dims[1], rest = 1;
  for (int32_t d = 2; d < x->rank; d++) rest *= x->dims[d];
  if (qc_tensor_numel(sc) != c || qc_tensor_numel(bi) != c || qc_tensor_numel(mn) != c ||
      qc_tensor_numel(vr) != c)
    return qc_k_error(k, "scale, B, mean and var must have C = %lld values", (long long)c);
  double eps = qc_k_float(k, "epsilon", 1e-5), mom = qc_k_float(k, "momentum", 0.9);
  /* Training: opset >= 14 by the attribute; earlier opsets by asking for the extra outputs. */
  bool train = qc_k_opset(k) >= 14 ? qc_k_int(k, "training_mode", 0) != 0
                                 : qc_k_opset(k) >= 7 && k->n_out > 1 && qc_k_out_used(k, 1);
  qc_kf_in xf = {0}, sf = {0}, bf = {0}, mf = {0}, vf = {0};
  QC_RETURN_IF_ERROR(qc_kf_load(k, x, &xf));
  qc_status s = qc_kf_load(k, sc, &sf);
  if (!s) s = qc_kf_load(k, bi, &bf);
  if (!s) s = qc_kf_load(k, mn, &mf);
  if (!s) s = qc_kf_load(k, vr, &vf);
  size_t sbytes = sizeof(double) * 2 * (size_t)(c + 1) + sizeof(float) * 2 * (size_t)(c + 1);
  double *st = s ? NULL : qc_k_alloc(k, sbytes);
  if (!s && !st) s = QC_OOM();
  qc_kf_out y = {0};
  if (!s) s = qc_kf_out_alloc(k, 0, x->dtype, x->rank, x->dims, &y);
  if (!s) {
    double *bmean = st, *bvar = st + c + 1;
    float *a = (float *)(st + 2 * (c + 1)), *b = a + c + 1;
    if (train) channel_stats(xf.p, nb, c, rest, bmean, bvar);
    for (int64_t ch = 0; ch < c; ch++) {
      double m = train ? bmean[ch] : mf.p[ch], v = train ? bvar[ch] : vf.p[ch];
      double inv = 1.0 / sqrt(v + eps);
      a[ch] = (float)(sf.p[ch] * inv);
      b[ch] = (float)(bf.p[ch] - m * sf.p[ch] * inv);
    }
    affine_job j = {xf.p, a, b, y.p, c, rest};
    qc_pool_for(qc_k_pool(k), nb * c, 1 + 4096 / (rest + 1), affine_range, &j);
    s = qc_kf_out_finish(k, &y);
    /* Running statistics (and, before opset 14, the saved batch statistics). */
    int64_t one[1] = {c};
    for (int32_t o = 1; o < k->n_out && !s && train; o++) {
      if (!qc_k_out_used(k, o)) continue;
      qc_kf_out r = {0};
      s = qc_kf_out_alloc(k, o, x->dtype, 1, one, &r);
      for (int64_t ch = 0; ch < c && !s; ch++) {
        double val;
        if (o == 1) val = mf.p[ch] * mom + bmean[ch] * (1 - mom);
        else if (o == 2) val = vf.p[ch] * mom + bvar[ch] * (1 - mom);
        else if (o == 3) val = bmean[ch];
        else val = bvar[ch];
        r.p[ch] = (float)val;
      }
      if (!s) s = qc_kf_out_finish(k, &r);
    }
  } else if (y.t) {
    qc_kf_out_discard(k, &y);
  }
  if (st) qc_k_free(k, st, sbytes);
  qc_kf_release(k, &xf);
  qc_kf_release(k, &sf);
  qc_kf_release(k, &bf);
  qc_kf_release(k, &mf);
  qc_kf_release(k, &vf);
  return s;
}

/* Normalize rows of [rows, cols] (mean and variance in double), optionally writing the
 * per-row mean and 1/std; then y = xhat * scale[col % n_scale ...] + bias. Scale and bias
 * are indexed through a function of (row, col) given as strides, see norm_job. */
typedef struct norm_job {
  const float *x;
  float *y;
  int64_t cols;
  double eps;
  bool rms;                    /* RMSNormalization: no mean subtraction */
  /* y = xhat * scale[i] + bias[i] where i = (row % srow_mod) * srow_mul + col / scol_div. */
  const float *scale, *bias;
  int64_t srow_mod, srow_mul, scol_div;
  bool scale_by_col;           /* LayerNorm/RMSNorm: i = col (broadcast handled by caller) */
  float *mean_out, *inv_out;
} norm_job;

static void norm_range(void *ctx, int64_t r0, int64_t r1) {
  norm_job *j = ctx;
  for (int64_t r = r0; r < r1; r++) {
    const float *x = j->x + r * j->cols;
    float *y = j->y + r * j->cols;
    double s = 0, ss = 0, m = 0;
    if (!j->rms) {
      for (int64_t c = 0; c < j->cols; c++) s += x[c];
      m = s / (double)j->cols;
    }
    for (int64_t c = 0; c < j->cols; c++) ss += (x[c] - m) * (x[c] - m);
    double inv = 1.0 / sqrt(ss / (double)j->cols + j->eps);
    if (j->mean_out) j->mean_out[r] = (float)m;
    if (j->inv_out) j->inv_out[r] = (float)inv;
    if (j->scale_by_col) {
      for (int64_t c = 0; c < j->cols; c++) {
        float v = (float)((x[c] - m) * inv) * j->scale[c];
        y[c] = j->bias ? v + j->bias[c] : v;
      }
    } else {
      int64_t base = (r % j->srow_mod) * j->srow_mul;
      for (int64_t c = 0; c < j->cols; c++) {
        int64_t i = base + c / j->scol_div;
        float v = (float)((x[c] - m) * inv) * j->scale[i];
        y[c] = j->bias ? v + j->bias[i] : v;
      }
    }
  }
}

/* For t broadcastable to x's shape[axis..rank): off[c] = the element of t that column c of the
 * normalized block reads. */
static qc_status trailing_offsets(const qc_kctx *k, const qc_tensor *t, const qc_tensor *x,
                                  int32_t axis, int64_t *off_out) {
  int32_t nr = x->rank - axis;
  if (t->rank > nr) return qc_k_error(k, "scale/bias rank %d exceeds the normalized rank %d", t->rank, nr);
  int64_t sdim[QC_MAX_RANK], sstr[QC_MAX_RANK], cols = 1;
  for (int32_t d = 0; d < nr; d++) {
    int32_t td = d - (nr - t->rank);
    sdim[d] = td >= 0 ? t->dims[td] : 1;
    if (sdim[d] != 1 && sdim[d] != x->dims[axis + d])
      return qc_k_error(k, "scale/bias shape does not broadcast to the normalized shape");
    cols *= x->dims[axis + d];
  }
  int64_t st = 1;
  for (int32_t d = nr - 1; d >= 0; d--) {
    sstr[d] = sdim[d] == 1 ? 0 : st;
    st *= sdim[d];
  }
  int64_t idx[QC_MAX_RANK] = {0}, off = 0;
  for (int64_t c = 0; c < cols; c++) {
    off_out[c] = off;
    for (int32_t d = nr - 1; d >= 0; d--) {
      off += sstr[d];
      if (++idx[d] < x->dims[axis + d]) break;
      off -= sstr[d] * x->dims[axis + d];
      idx[d] = 0;
    }
  }
  return QC_OK;
}

/* Expand t (broadcastable to shape[axis..rank)) into a dense array of `cols` values. */
static qc_status expand_trailing(const qc_kctx *k, const qc_tensor *t, const qc_tensor *x,
                                 int32_t axis, const float *src, float *dst) {
  int64_t cols = 1;
  for (int32_t d = axis; d < x->rank; d++) cols *= x->dims[d];
  int64_t *off = qc_k_alloc(k, sizeof *off * (size_t)(cols + 1));
  if (!off) return QC_OOM();
  qc_status s = trailing_offsets(k, t, x, axis, off);
  for (int64_t c = 0; c < cols && !s; c++) dst[c] = src[off[c]];
  qc_k_free(k, off, sizeof *off * (size_t)(cols + 1));
  return s;
}

/* LayerNormalization/RMSNormalization of f64 data, in double throughout (the f32 staging
 * of the general path would round x, the scale and the result to f32). */
static qc_status layer_norm_f64(qc_kctx *k, bool rms, const qc_tensor *x, const qc_tensor *sc,
                                const qc_tensor *bi, int32_t axis, int64_t rows, int64_t cols) {
  size_t ob = sizeof(int64_t) * (size_t)(cols + 1);
  int64_t *so = qc_k_alloc(k, ob), *bo = qc_k_alloc(k, ob);
  qc_status s = so && bo ? trailing_offsets(k, sc, x, axis, so) : QC_OOM();
  if (!s && bi) s = trailing_offsets(k, bi, x, axis, bo);
  qc_tensor *y = NULL, *mo = NULL, *io = NULL;
  int64_t sdims[QC_MAX_RANK];
  for (int32_t d = 0; d < x->rank; d++) sdims[d] = d < axis ? x->dims[d] : 1;
  if (!s) s = qc_k_out(k, 0, QC_F64, x->rank, x->dims, &y);
  if (!s && !rms && qc_k_out_used(k, 1)) s = qc_k_out(k, 1, nn_out_dtype(k, 1, QC_F64), x->rank, sdims, &mo);
  if (!s && !rms && qc_k_out_used(k, 2)) s = qc_k_out(k, 2, nn_out_dtype(k, 2, QC_F64), x->rank, sdims, &io);
  double eps = qc_k_float(k, "epsilon", 1e-5);
  for (int64_t r = 0; r < rows && !s; r++) {
    const double *xr = (const double *)qc_tensor_data(x) + r * cols;
    double *yr = (double *)qc_tensor_data(y) + r * cols;
    double m = 0, ss = 0;
    if (!rms) {
      for (int64_t c = 0; c < cols; c++) m += xr[c];
      m /= (double)cols;
    }
    for (int64_t c = 0; c < cols; c++) ss += (xr[c] - m) * (xr[c] - m);
    double inv = 1.0 / sqrt(ss / (double)cols + eps);
    for (int64_t c = 0; c < cols; c++) {
      double v = (xr[c] - m) * inv * qc_elem_f64(sc->dtype, qc_tensor_data(sc), (size_t)so[c]);
      yr[c] = bi ? v + qc_elem_f64(bi->dtype, qc_tensor_data(bi), (size_t)bo[c]) : v;
    }
    if (mo) qc_convert(QC_F64, &m, mo->dtype, (char *)qc_tensor_data(mo) + r * qc_dtype_nbytes(mo->dtype, 1), 1, 0);
    if (io) qc_convert(QC_F64, &inv, io->dtype, (char *)qc_tensor_data(io) + r * qc_dtype_nbytes(io->dtype, 1), 1, 0);
  }
  if (so) qc_k_free(k, so, ob);
  if (bo) qc_k_free(k, bo, ob);
  return s;
}

/* LayerNormalization and RMSNormalization: normalize over dims [axis, rank). */
static qc_status layer_norm(qc_kctx *k, bool rms) {
  const qc_tensor *x, *sc;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &sc));
  const qc_tensor *bi = rms ? NULL : qc_k_in(k, 2);
  int32_t axis;
  if (!qc_norm_axis(qc_k_int(k, "axis", -1), x->rank, &axis))
    return qc_k_error(k, "axis out of range for rank %d", x->rank);
  int64_t rows = 1, cols = 1;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d < axis) rows *= x->dims[d];
    else cols *= x->dims[d];
  }
  if (x->dtype == QC_F64) return layer_norm_f64(k, rms, x, sc, bi, axis, rows, cols);
  norm_job j;
  memset(&j, 0, sizeof j);
  j.cols = cols;
  j.eps = qc_k_float(k, "epsilon", 1e-5);
  j.rms = rms;
  j.scale_by_col = true;
  qc_kf_in xf = {0}, sf = {0}, bf = {0};
  QC_RETURN_IF_ERROR(qc_kf_load(k, x, &xf));
  qc_status s = qc_kf_load(k, sc, &sf);
  if (!s && bi) s = qc_kf_load(k, bi, &bf);
  float *sb = s ? NULL : qc_kf_scratch(k, 2 * cols);
  if (!s && !sb) s = QC_OOM();
  if (!s) s = expand_trailing(k, sc, x, axis, sf.p, sb);
  if (!s && bi) s = expand_trailing(k, bi, x, axis, bf.p, sb + cols);
  qc_kf_out y = {0}, mo = {0}, io = {0};
  if (!s) s = qc_kf_out_alloc(k, 0, x->dtype, x->rank, x->dims, &y);
  int64_t sdims[QC_MAX_RANK];
  for (int32_t d = 0; d < x->rank; d++) sdims[d] = d < axis ? x->dims[d] : 1;
  /* Mean and InvStdDev: the declared dtype, else X's (as the reference implementation). */
  if (!s && !rms && qc_k_out_used(k, 1))
    s = qc_kf_out_alloc(k, 1, nn_out_dtype(k, 1, x->dtype), x->rank, sdims, &mo);
  if (!s && !rms && qc_k_out_used(k, 2))
    s = qc_kf_out_alloc(k, 2, nn_out_dtype(k, 2, x->dtype), x->rank, sdims, &io);
  if (!s) {
    j.x = xf.p;
    j.y = y.p;
    j.scale = sb;
    j.bias = bi ? sb + cols : NULL;
    j.mean_out = mo.p;
    j.inv_out = io.p;
    qc_pool_for(qc_k_pool(k), rows, 1 + 4096 / (cols + 1), norm_range, &j);
    s = qc_kf_out_finish(k, &y);
    if (!s && mo.t) s = qc_kf_out_finish(k, &mo);
    if (!s && io.t) s = qc_kf_out_finish(k, &io);
  } else {
    qc_kf_out_discard(k, &y);
    qc_kf_out_discard(k, &mo);
    qc_kf_out_discard(k, &io);
  }
  qc_kf_scratch_free(k, sb, 2 * cols);
  qc_kf_release(k, &xf);
  qc_kf_release(k, &sf);
  qc_kf_release(k, &bf);
  return s;
}

static qc_status k_layer_norm(qc_kctx *k) { return layer_norm(k, false); }
static qc_status k_rms_norm(qc_kctx *k) { return layer_norm(k, true); }

/* InstanceNormalization (groups = C) and GroupNormalization over [N, C, rest]. */
static qc_status group_norm(qc_kctx *k, bool instance) {
  const qc_tensor *x, *sc, *bi;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &sc));
  QC_RETURN_IF_ERROR(nn_float_in(k, 2, &bi));
  if (x->rank < 2) return qc_k_error(k, "X must have rank >= 2");
  int64_t nb = x->dims[0], c = x->dims[1], rest = 1;
  for (int32_t d = 2; d < x->rank; d++) rest *= x->dims[d];
  int64_t groups = instance ? c : qc_k_int(k, "num_groups", 0);
  if (groups <= 0 || c % groups) return qc_k_error(k, "num_groups must divide C = %lld", (long long)c);
  int64_t ns = qc_tensor_numel(sc);
  if (qc_tensor_numel(bi) != ns) return qc_k_error(k, "scale and bias must have the same size");
  /* Opset 18 had one scale per group; 21 has one per channel. */
  bool per_group = ns == groups && ns != c;
  if (!per_group && ns != c)
    return qc_k_error(k, "scale must have C = %lld (or num_groups) values", (long long)c);
  norm_job j;
  memset(&j, 0, sizeof j);
  j.cols = (c / groups) * rest;
  j.eps = qc_k_float(k, "epsilon", 1e-5);
  j.srow_mod = groups;
  if (per_group) {
    j.srow_mul = 1;
    j.scol_div = j.cols;
  } else {
    j.srow_mul = c / groups;
    j.scol_div = rest;
  }
  qc_kf_in xf = {0}, sf = {0}, bf = {0};
  QC_RETURN_IF_ERROR(qc_kf_load(k, x, &xf));
  qc_status s = qc_kf_load(k, sc, &sf);
  if (!s) s = qc_kf_load(k, bi, &bf);
  qc_kf_out y = {0};
  if (!s) s = qc_kf_out_alloc(k, 0, x->dtype, x->rank, x->dims, &y);
  if (!s) {
    j.x = xf.p;
    j.y = y.p;
    j.scale = sf.p;
    j.bias = bf.p;
    qc_pool_for(qc_k_pool(k), nb * groups, 1 + 4096 / (j.cols + 1), norm_range, &j);
    s = qc_kf_out_finish(k, &y);
  }
  qc_kf_release(k, &xf);
  qc_kf_release(k, &sf);
  qc_kf_release(k, &bf);
  return s;
}

static qc_status k_instance_norm(qc_kctx *k) { return group_norm(k, true); }
static qc_status k_group_norm(qc_kctx *k) { return group_norm(k, false); }

static qc_status k_lrn(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  if (x->rank < 2) return qc_k_error(k, "X must have rank >= 2");
  int64_t size = qc_k_int(k, "size", 0);
  if (size <= 0) return qc_k_error(k, "size must be positive");
  double alpha = qc_k_float(k, "alpha", 1e-4), beta = qc_k_float(k, "beta", 0.75),
         bias = qc_k_float(k, "bias", 1.0);
  int64_t nb = x->dims[0], c = x->dims[1], rest = 1;
  for (int32_t d = 2; d < x->rank; d++) rest *= x->dims[d];
  int64_t lo = (size - 1) / 2, hi = size / 2; /* floor((size-1)/2), ceil((size-1)/2) */
  qc_kf_out y = {0};
  QC_RETURN_IF_ERROR(qc_kf_out_alloc(k, 0, x->dtype, x->rank, x->dims, &y));
  qc_kf_in xf = {0};
  qc_status s = qc_kf_load(k, x, &xf);
  if (s) {
    qc_kf_out_discard(k, &y);
    return s;
  }
  for (int64_t n = 0; n < nb; n++)
    for (int64_t ch = 0; ch < c; ch++)
      for (int64_t r = 0; r < rest; r++) {
        double ss = 0;
        int64_t a = ch - lo < 0 ? 0 : ch - lo, b = ch + hi > c - 1 ? c - 1 : ch + hi;
        for (int64_t i = a; i <= b; i++) {
          double v = xf.p[(n * c + i) * rest + r];
          ss += v * v;
        }
        int64_t at = (n * c + ch) * rest + r;
        y.p[at] = (float)(xf.p[at] / pow(bias + alpha / (double)size * ss, beta));
      }
  qc_kf_release(k, &xf);
  return qc_kf_out_finish(k, &y);
}

/* ---- Dropout ------------------------------------------------------------------------------- */

/* numpy's legacy RandomState (MT19937) so that a seeded training Dropout draws the mask
 * ONNX's reference implementation draws: RandomState(seed).uniform(0, 1, shape). */
typedef struct mt19937 {
  uint32_t mt[624];
  int32_t i;
} mt19937;

static void mt_seed(mt19937 *r, uint32_t seed) {
  r->mt[0] = seed;
  for (int32_t i = 1; i < 624; i++)
    r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
  r->i = 624;
}

static uint32_t mt_next(mt19937 *r) {
  if (r->i >= 624) {
    for (int32_t k = 0; k < 624; k++) {
      uint32_t y = (r->mt[k] & 0x80000000u) | (r->mt[(k + 1) % 624] & 0x7fffffffu);
      r->mt[k] = r->mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    r->i = 0;
  }
  uint32_t y = r->mt[r->i++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

/* A double in [0, 1) from 53 random bits, as numpy's random_sample. */
static double mt_double(mt19937 *r) {
  uint32_t a = mt_next(r) >> 5, b = mt_next(r) >> 6;
  return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

static _Atomic uint32_t dropout_calls;

static qc_status k_dropout(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  double ratio = qc_k_float(k, "ratio", 0.5);
  bool training = false;
  if (qc_k_opset(k) >= 12) {
    const qc_tensor *r = qc_k_in(k, 1), *t = qc_k_in(k, 2);
    ratio = 0.5;
    if (r) QC_RETURN_IF_ERROR(nn_tensor_scalar(k, r, "ratio", &ratio));
    if (t) {
      double tv;
      QC_RETURN_IF_ERROR(nn_tensor_scalar(k, t, "training_mode", &tv));
      training = tv != 0;
    }
  } else if (qc_k_opset(k) < 7) {
    training = qc_k_int(k, "is_test", 0) == 0 && qc_k_attr(k, "is_test") != NULL;
  }
  if (ratio < 0 || ratio >= 1) {
    if (training || ratio < 0) return qc_k_error(k, "ratio must be in [0, 1), got %g", ratio);
  }
  bool want_mask = qc_k_out_used(k, 1);
  if (!training || ratio == 0) {
    qc_k_out_alias(k, 0, x);
    if (want_mask) {
      qc_tensor *m;
      QC_RETURN_IF_ERROR(qc_k_out(k, 1, QC_BOOL, x->rank, x->dims, &m));
      memset(qc_tensor_data(m), 1, qc_tensor_nbytes(m));
    }
    return QC_OK;
  }
  mt19937 *rng = qc_k_alloc(k, sizeof *rng);
  if (!rng) return QC_OOM();
  const qc_attr *sa = qc_k_attr(k, "seed");
  uint32_t seed = sa ? (uint32_t)qc_k_int(k, "seed", 0)
                     : 0x9e3779b9u * (atomic_fetch_add(&dropout_calls, 1) + 1) ^ (uint32_t)(uintptr_t)x;
  mt_seed(rng, seed);
  qc_kf_out y = {0};
  uint8_t *mask = NULL;
  qc_status s = qc_kf_out_alloc(k, 0, x->dtype, x->rank, x->dims, &y);
  if (!s && want_mask) {
    qc_tensor *m;
    s = qc_k_out(k, 1, QC_BOOL, x->rank, x->dims, &m);
    if (!s) mask = qc_tensor_data(m);
  }
  qc_kf_in xf = {0};
  if (!s) s = qc_kf_load(k, x, &xf);
  if (!s) {
    double scale = 1.0 / (1.0 - ratio);
    for (int64_t i = 0; i < xf.n; i++) {
      bool keep = mt_double(rng) >= ratio;
      y.p[i] = keep ? (float)(xf.p[i] * scale) : 0.0f;
      if (mask) mask[i] = keep;
    }
    s = qc_kf_out_finish(k, &y);
  } else {
    qc_kf_out_discard(k, &y);
  }
  qc_kf_release(k, &xf);
  qc_k_free(k, rng, sizeof *rng);
  return s;
}

/* ---- DeformConv -------------------------------------------------------------------------- */

/* Multilinear interpolation of one channel at real coordinates p (zero outside). */
static float sample_nd(const float *x, const win *w, const double *p) {
  int32_t n = w->nsp;
  int64_t lo[QC_MAX_RANK];
  double fr[QC_MAX_RANK];
  for (int32_t d = 0; d < n; d++) {
    double f = floor(p[d]);
    lo[d] = (int64_t)f;
    fr[d] = p[d] - f;
  }
  double acc = 0;
  for (int32_t corner = 0; corner < (1 << n); corner++) {
    double wt = 1;
    int64_t off = 0;
    bool ok = true;
    for (int32_t d = 0; d < n; d++) {
      int64_t c = lo[d] + ((corner >> (n - 1 - d)) & 1);
      wt *= (corner >> (n - 1 - d)) & 1 ? fr[d] : 1 - fr[d];
      if (c < 0 || c >= w->in[d]) ok = false;
      off = off * w->in[d] + c;
    }
    if (ok && wt != 0) acc += wt * x[off];
  }
  return (float)acc;
}

static qc_status k_deform_conv(qc_kctx *k) {
  const qc_tensor *x, *wt, *off;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &wt));
  QC_RETURN_IF_ERROR(nn_float_in(k, 2, &off));
  const qc_tensor *tb = qc_k_in(k, 3), *tm = qc_k_in(k, 4);
  if (off->rank != x->rank) return qc_k_error(k, "offset must have the rank of X");
  qc_conv_geom geom;
  QC_RETURN_IF_ERROR(qc_k_conv_geom(k, x, wt, &geom));
  win w;
  win_from_conv(&geom, &w);
  int32_t n = w.nsp;
  int64_t nb = geom.batch, c = geom.c_in, m = geom.c_out, grp = geom.group;
  int64_t og = qc_k_int(k, "offset_group", 1);
  if (og <= 0 || c % og) return qc_k_error(k, "offset_group %lld does not divide C = %lld", (long long)og, (long long)c);
  for (int32_t d = 0; d < n; d++)
    if (off->dims[d + 2] != w.out[d]) return qc_k_error(k, "offset's spatial dims must be the output's");
  if (off->dims[0] != nb || off->dims[1] != og * w.k_sz * n) return qc_k_error(k, "offset must be [N, offset_group * prod(k) * %d, out...]", n);
  if (tm && qc_tensor_numel(tm) != nb * og * w.k_sz * w.out_sz) return qc_k_error(k, "mask must be [N, offset_group * prod(k), out...]");
  if (tb && qc_tensor_numel(tb) != m) return qc_k_error(k, "B must have %lld values", (long long)m);
  int64_t cg = c / grp, mg = m / grp, kc = cg * w.k_sz, cog = c / og;
  int64_t odims[QC_MAX_RANK] = {nb, m};
  memcpy(odims + 2, w.out, sizeof(int64_t) * (size_t)n);
  qc_kf_out y = {0};
  qc_kf_in xf = {0}, wf = {0}, of = {0}, bf = {0}, mf = {0};
  QC_RETURN_IF_ERROR(qc_kf_out_alloc(k, 0, x->dtype, x->rank, odims, &y));
  qc_status s = qc_kf_load(k, x, &xf);
  if (!s) s = qc_kf_load(k, wt, &wf);
  if (!s) s = qc_kf_load(k, off, &of);
  if (!s) s = qc_kf_load(k, tb, &bf);
  if (!s) s = qc_kf_load(k, tm, &mf);
  float *col = s ? NULL : qc_kf_scratch(k, c * w.k_sz * w.out_sz);
  if (!s && !col) s = QC_OOM();
  for (int64_t b = 0; b < nb && !s; b++) {
    /* Deformed im2col of the whole image: rows (channel, kernel position). */
    for (int64_t ch = 0; ch < c; ch++) {
      int64_t g = ch / cog;
      const float *xc = xf.p + (b * c + ch) * w.in_sz;
      for (int64_t kk = 0; kk < w.k_sz; kk++) {
        int64_t kidx[QC_MAX_RANK], rem = kk;
        for (int32_t d = n - 1; d >= 0; d--) kidx[d] = rem % w.k[d], rem /= w.k[d];
        float *row = col + (ch * w.k_sz + kk) * w.out_sz;
        int64_t oidx[QC_MAX_RANK] = {0};
        for (int64_t o = 0; o < w.out_sz; o++) {
          double p[QC_MAX_RANK];
          for (int32_t d = 0; d < n; d++)
            p[d] = (double)(oidx[d] * w.s[d] - w.pb[d] + kidx[d] * w.d[d]) +
                   of.p[((b * og + g) * w.k_sz * n + kk * n + d) * w.out_sz + o];
          float mv = tm ? mf.p[((b * og + g) * w.k_sz + kk) * w.out_sz + o] : 1.0f;
          row[o] = mv * sample_nd(xc, &w, p);
          for (int32_t d = n - 1; d >= 0; d--) {
            if (++oidx[d] < w.out[d]) break;
            oidx[d] = 0;
          }
        }
      }
    }
    for (int64_t g = 0; g < grp; g++) {
      float *yo = y.p + (b * m + g * mg) * w.out_sz;
      for (int64_t mi = 0; mi < mg; mi++)
        for (int64_t o = 0; o < w.out_sz; o++) yo[mi * w.out_sz + o] = tb ? bf.p[g * mg + mi] : 0.0f;
      qc_gemm_f32(qc_k_pool(k), mg, w.out_sz, kc, 1.0f, wf.p + g * mg * kc, kc, 1,
                  col + g * kc * w.out_sz, w.out_sz, 1, 1.0f, yo, w.out_sz, 1);
    }
  }
  qc_kf_scratch_free(k, col, c * w.k_sz * w.out_sz);
  qc_kf_release(k, &xf), qc_kf_release(k, &wf), qc_kf_release(k, &of), qc_kf_release(k, &bf),
      qc_kf_release(k, &mf);
  if (s) {
    qc_kf_out_discard(k, &y);
    return s;
  }
  return qc_kf_out_finish(k, &y);
}

/* ---- RoiAlign ------------------------------------------------------------------------------- */

typedef struct roi_sample {
  int64_t pos[4];
  float w[4];
} roi_sample;

static qc_status k_roi_align(qc_kctx *k) {
  const qc_tensor *x, *rois, *bi = qc_k_in(k, 2);
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  QC_RETURN_IF_ERROR(nn_float_in(k, 1, &rois));
  if (x->rank != 4) return qc_k_error(k, "X must be 4-D");
  if (rois->rank != 2 || rois->dims[1] != 4) return qc_k_error(k, "rois must be [num_rois, 4]");
  int64_t nr = rois->dims[0];
  if (!bi || !qc_dtype_is_int(bi->dtype) || qc_tensor_numel(bi) != nr)
    return qc_k_error(k, "batch_indices must hold num_rois integers");
  const char *ctm = qc_k_string(k, "coordinate_transformation_mode", "half_pixel");
  bool half = qc_k_opset(k) >= 16 ? strcmp(ctm, "half_pixel") == 0 : false;
  if (qc_k_attr(k, "coordinate_transformation_mode")) half = strcmp(ctm, "half_pixel") == 0;
  bool maxm = strcmp(qc_k_string(k, "mode", "avg"), "max") == 0;
  int64_t ph = qc_k_int(k, "output_height", 1), pw = qc_k_int(k, "output_width", 1);
  int64_t sr = qc_k_int(k, "sampling_ratio", 0);
  double scale = qc_k_float(k, "spatial_scale", 1.0);
  int64_t c = x->dims[1], H = x->dims[2], W = x->dims[3];
  int64_t odims[4] = {nr, c, ph, pw};
  qc_kf_out y = {0};
  qc_kf_in xf = {0}, rf = {0};
  QC_RETURN_IF_ERROR(qc_kf_out_alloc(k, 0, x->dtype, 4, odims, &y));
  qc_status s = qc_kf_load(k, x, &xf);
  if (!s) s = qc_kf_load(k, rois, &rf);
  for (int64_t r = 0; r < nr && !s; r++) {
    int64_t b = qc_elem_i64(bi->dtype, qc_tensor_data(bi), (size_t)r);
    if (b < 0 || b >= x->dims[0]) {
      s = qc_k_error(k, "batch index %lld out of range", (long long)b);
      break;
    }
    double off = half ? 0.5 : 0.0;
    const float *rv = rf.p + r * 4;
    double x0 = rv[0] * scale - off, y0 = rv[1] * scale - off;
    double rw = rv[2] * scale - off - x0, rh = rv[3] * scale - off - y0;
    if (!half) {
      rw = rw > 1 ? rw : 1;
      rh = rh > 1 ? rh : 1;
    }
    double bh = rh / (double)ph, bw = rw / (double)pw;
    int64_t gh = sr > 0 ? sr : (int64_t)ceil(rh / (double)ph);
    int64_t gw = sr > 0 ? sr : (int64_t)ceil(rw / (double)pw);
    int64_t count = gh * gw > 1 ? gh * gw : 1;
    int64_t ns = ph * pw * gh * gw;
    roi_sample *smp = qc_k_alloc(k, sizeof(roi_sample) * (size_t)(ns ? ns : 1));
    if (!smp) {
      s = QC_OOM();
      break;
    }
    /* Bilinear sample positions and weights, shared by every channel. */
    int64_t si = 0;
    for (int64_t i = 0; i < ph; i++)
      for (int64_t j = 0; j < pw; j++)
        for (int64_t iy = 0; iy < gh; iy++)
          for (int64_t ix = 0; ix < gw; ix++, si++) {
            double yy = y0 + i * bh + (iy + 0.5) * bh / (double)gh;
            double xx = x0 + j * bw + (ix + 0.5) * bw / (double)gw;
            roi_sample *p = &smp[si];
            memset(p, 0, sizeof *p);
            if (yy < -1.0 || yy > H || xx < -1.0 || xx > W) continue;
            if (yy < 0) yy = 0;
            if (xx < 0) xx = 0;
            int64_t yl = (int64_t)yy, xl = (int64_t)xx, yh, xh;
            if (yl >= H - 1) yh = yl = H - 1, yy = (double)yl;
            else yh = yl + 1;
            if (xl >= W - 1) xh = xl = W - 1, xx = (double)xl;
            else xh = xl + 1;
            double ly = yy - yl, lx = xx - xl, hy = 1 - ly, hx = 1 - lx;
            p->pos[0] = yl * W + xl, p->pos[1] = yl * W + xh;
            p->pos[2] = yh * W + xl, p->pos[3] = yh * W + xh;
            p->w[0] = (float)(hy * hx), p->w[1] = (float)(hy * lx);
            p->w[2] = (float)(ly * hx), p->w[3] = (float)(ly * lx);
          }
    for (int64_t ch = 0; ch < c; ch++) {
      const float *xc = xf.p + (b * c + ch) * H * W;
      float *yo = y.p + (r * c + ch) * ph * pw;
      for (int64_t o = 0; o < ph * pw; o++) {
        const roi_sample *p = smp + o * gh * gw;
        double acc = 0;
        for (int64_t q = 0; q < gh * gw; q++) {
          if (maxm) {
            /* The max of the four weighted corners, as ONNX's reference (and ORT) take it. */
            double v = p[q].w[0] * xc[p[q].pos[0]];
            for (int t = 1; t < 4; t++) {
              double u = p[q].w[t] * xc[p[q].pos[t]];
              v = u > v ? u : v;
            }
            acc = q == 0 || v > acc ? v : acc;
          } else {
            for (int t = 0; t < 4; t++) acc += p[q].w[t] * xc[p[q].pos[t]];
          }
        }
        yo[o] = (float)(maxm ? acc : acc / (double)count);
      }
    }
    qc_k_free(k, smp, sizeof(roi_sample) * (size_t)(ns ? ns : 1));
  }
  qc_kf_release(k, &xf), qc_kf_release(k, &rf);
  if (s) {
    qc_kf_out_discard(k, &y);
    return s;
  }
  return qc_kf_out_finish(k, &y);
}

/* ---- NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss ------------------------------------ */

/* loss[i, d] = -weight[t] * x[i, t, d] for t = target[i, d] (0 where t == ignore_index),
 * reduced as `reduction` says; x is [N, C, D] (D = product of the trailing dims). */
static qc_status nll_common(qc_kctx *k, const qc_tensor *xt, const float *x, bool sce) {
  const qc_tensor *tt = qc_k_in(k, 1), *tw = qc_k_in(k, 2);
  if (!tt || !qc_dtype_is_int(tt->dtype)) return qc_k_error(k, "target must be an integer tensor");
  if (xt->rank < 2 || tt->rank != xt->rank - 1 || tt->dims[0] != xt->dims[0])
    return qc_k_error(k, "target must be [N, d1, ...] for input [N, C, d1, ...]");
  for (int32_t d = 2; d < xt->rank; d++)
    if (tt->dims[d - 1] != xt->dims[d]) return qc_k_error(k, "target dims must match the input's");
  int64_t N = xt->dims[0], C = xt->dims[1], D = 1;
  for (int32_t d = 2; d < xt->rank; d++) D *= xt->dims[d];
  if (tw && qc_tensor_numel(tw) != C) return qc_k_error(k, "weight must have C = %lld values", (long long)C);
  const char *red = qc_k_string(k, "reduction", "mean");
  int rmode = strcmp(red, "none") == 0 ? 0 : strcmp(red, "sum") == 0 ? 1 : strcmp(red, "mean") == 0 ? 2 : -1;
  if (rmode < 0) return qc_k_error(k, "unknown reduction '%s'", red);
  bool has_ii = qc_k_attr(k, "ignore_index") != NULL;
  int64_t ii = qc_k_int(k, "ignore_index", 0);
  /* Whether the mean divides by the summed weights: with a weight input or an ignore_index
   * (NLL's reference keeps the plain mean for ignore_index -1 without weights). */
  bool weighted = tw || (has_ii && (sce || ii != -1));
  qc_kf_in wf = {0};
  QC_RETURN_IF_ERROR(qc_kf_load(k, tw, &wf));
  qc_kf_out lo = {0};
  qc_status s = rmode == 0 ? qc_kf_out_alloc(k, 0, xt->dtype, tt->rank, tt->dims, &lo)
                           : qc_kf_out_alloc(k, 0, xt->dtype, 0, NULL, &lo);
  double sum = 0, wsum = 0;
  for (int64_t i = 0; i < N && !s; i++)
    for (int64_t d = 0; d < D; d++) {
      int64_t t = qc_elem_i64(tt->dtype, qc_tensor_data(tt), (size_t)(i * D + d));
      double l = 0, wv = 1;
      if (has_ii && t == ii) {
        wv = 0;
      } else {
        if (t < 0 || t >= C) {
          s = qc_k_error(k, "target %lld out of range [0, %lld)", (long long)t, (long long)C);
          break;
        }
        if (tw) wv = wf.p[t];
        l = -(double)x[(i * C + t) * D + d] * wv;
      }
      if (rmode == 0) lo.p[i * D + d] = (float)l;
      sum += l;
      wsum += wv;
    }
  if (!s && rmode == 1) lo.p[0] = (float)sum;
  if (!s && rmode == 2) lo.p[0] = (float)(weighted ? sum / wsum : sum / (double)(N * D));
  qc_kf_release(k, &wf);
  if (s) {
    qc_kf_out_discard(k, &lo);
    return s;
  }
  return qc_kf_out_finish(k, &lo);
}

static qc_status k_nll_loss(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  qc_kf_in xf = {0};
  QC_RETURN_IF_ERROR(qc_kf_load(k, x, &xf));
  qc_status s = nll_common(k, x, xf.p, false);
  qc_kf_release(k, &xf);
  return s;
}

static qc_status k_sce_loss(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(nn_float_in(k, 0, &x));
  if (x->rank < 2) return qc_k_error(k, "scores must have rank >= 2");
  int64_t N = x->dims[0], C = x->dims[1], NC = N * C, D = NC > 0 ? qc_tensor_numel(x) / NC : 0;
  qc_kf_in xf = {0};
  QC_RETURN_IF_ERROR(qc_kf_load(k, x, &xf));
  /* log_softmax over the class axis */
  qc_kf_out lp = {0};
  bool want_lp = qc_k_out_used(k, 1);
  qc_status s = want_lp ? qc_kf_out_alloc(k, 1, x->dtype, x->rank, x->dims, &lp) : QC_OK;
  float *lsm = s ? NULL : want_lp ? lp.p : qc_kf_scratch(k, xf.n);
  if (!s && !lsm) s = QC_OOM();
  for (int64_t i = 0; i < N && !s; i++)
    for (int64_t d = 0; d < D; d++) {
      const float *xi = xf.p + i * C * D + d;
      float mx = -INFINITY;
      for (int64_t c = 0; c < C; c++) mx = xi[c * D] > mx ? xi[c * D] : mx;
      double se = 0;
      for (int64_t c = 0; c < C; c++) se += exp((double)xi[c * D] - mx);
      double lse = log(se);
      for (int64_t c = 0; c < C; c++) lsm[i * C * D + c * D + d] = (float)((double)xi[c * D] - mx - lse);
    }
  if (!s) s = nll_common(k, x, lsm, true);
  if (!want_lp) qc_kf_scratch_free(k, lsm, xf.n);
  qc_kf_release(k, &xf);
  if (!s && want_lp) s = qc_kf_out_finish(k, &lp);
  if (s && want_lp) qc_kf_out_discard(k, &lp);
  return s;
}

/* ---- the family table --------------------------------------------------------------------- */

const qc_kernel_entry qc_kernels_nn[] = {
    {QC_OP_Conv, k_conv},
    {QC_OP_ConvTranspose, k_conv_transpose},
    {QC_OP_MaxPool, k_max_pool},
    {QC_OP_AveragePool, k_average_pool},
    {QC_OP_LpPool, k_lp_pool},
    {QC_OP_GlobalMaxPool, k_global_max_pool},
    {QC_OP_GlobalAveragePool, k_global_average_pool},
    {QC_OP_GlobalLpPool, k_global_lp_pool},
    {QC_OP_MaxUnpool, k_max_unpool},
    {QC_OP_BatchNormalization, k_batch_norm},
    {QC_OP_InstanceNormalization, k_instance_norm},
    {QC_OP_LayerNormalization, k_layer_norm},
    {QC_OP_GroupNormalization, k_group_norm},
    {QC_OP_RMSNormalization, k_rms_norm},
    {QC_OP_LRN, k_lrn},
    {QC_OP_Dropout, k_dropout},
    {QC_OP_DeformConv, k_deform_conv},
    {QC_OP_RoiAlign, k_roi_align},
    {QC_OP_NegativeLogLikelihoodLoss, k_nll_loss},
    {QC_OP_SoftmaxCrossEntropyLoss, k_sce_loss},
    {QC_OP_RNN, qc_k_rnn},
    {QC_OP_GRU, qc_k_gru},
    {QC_OP_LSTM, qc_k_lstm},
    {QC_OP_Attention, qc_k_attention},
    {QC_OP_RotaryEmbedding, qc_k_rotary_embedding},
    {QC_OP_LinearAttention, qc_k_linear_attention},
    {QC_OP_CausalConvWithState, qc_k_causal_conv_with_state},
    {QC_OP_PV_FlexAttention, qc_k_flex_attention},
    {QC_OP_INVALID, NULL},
};
