/*
 * Quark's observers (quark/torch/quantization/observer/observer.py) and quantizers
 * (tensor_quantize.py: StaticScaledFakeQuantize, DynamicScaledFakeQuantize,
 * NonScaledFakeQuantize, SequentialQuantize), as streaming state machines:
 *
 *   observer   update(batch) ... params()       statistics only; memory bounded by the
 *                                               statistic (min/max per channel or group,
 *                                               amax per block, histogram bins)
 *   quantizer  observe(batch) ... finalize()    calibration: observers on, fake-quant off
 *              forward(x)                       static stages frozen, dynamic stages observe
 *                                               x (Quark enables their observers for ever)
 *
 * Statistics are kept in the model's dtype, as Quark's buffers are (min_val.to(x.dtype)).
 */
#include "passes/quant/numerics_internal.h"

#include <float.h>
#include <stdlib.h>

qc_status qc_qparams_from_stats_ex(const qc_qspec *sp, const qc_qstats *st, qc_dtype md,
                                   float qmfl, qc_qparams *out);

static qc_status oom(void) { return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory"); }
#define QERR(...) qc_status_new(QC_CODE_INVALID_ARGUMENT, __VA_ARGS__)

typedef enum obs_kind {
  OK_MINMAX,     /* per tensor / channel / group min-max (incl. PowOf2) */
  OK_BLOCK,      /* PerBlockMX (+BufferReuse, Diffs): amax per block */
  OK_HISTOGRAM,  /* PerTensorHistogram / Percentile / MSE */
} obs_kind;

struct qc_observer {
  qc_qspec spec;
  qc_dtype md;
  obs_kind kind;
  bool dynamic;
  int64_t count;
  qc_qstats st;  /* min/max (or amax in max) with Quark's shape */
  bool have;     /* seen at least one non-empty batch */
  /* PowOf2: history of (scale..., zp...) tuples, one per params() call. */
  int64_t n_hist, cap_hist;
  double *hist;  /* n_hist rows of 2 * st.n values */
  /* PowOf2 MinMSE and MXDiffs keep the last batch. */
  float *last;
  qc_qshape last_shape;
  /* Histogram observers. */
  double *bins;        /* counts */
  int64_t nbins;
  float *edges;        /* nbins + 1 edges (float32, as torch holds them) */
  int64_t nedges;
  int num_bins_attr;   /* Quark's self._num_bins */
  float qmfl;          /* quant_max_first_level for sequential fp8 scale stages */
};

static bool is_pow2(qc_qobserver o) {
  return o == QC_QOBS_PER_TENSOR_POW2_MINMAX || o == QC_QOBS_PER_TENSOR_POW2_MINMSE ||
         o == QC_QOBS_PER_CHANNEL_POW2_MINMAX || o == QC_QOBS_PER_CHANNEL_POW2_MINMSE;
}

qc_status qc_observer_create(const qc_qspec *spec, qc_dtype md, qc_observer **out) {
  *out = NULL;
  if (md != QC_F32 && md != QC_F16 && md != QC_BF16)
    return QERR("model dtype must be f32, f16 or bf16, got %s", qc_dtype_name(md));
  qc_observer *o = calloc(1, sizeof *o);
  if (!o) return oom();
  o->spec = *spec;
  o->md = md;
  o->dynamic = spec->is_dynamic == QC_QB_TRUE;
  switch (spec->observer_cls) {
  case QC_QOBS_PER_TENSOR_MINMAX:
  case QC_QOBS_PER_TENSOR_POW2_MINMAX:
  case QC_QOBS_PER_TENSOR_POW2_MINMSE:
  case QC_QOBS_PER_CHANNEL_MINMAX:
  case QC_QOBS_PER_CHANNEL_POW2_MINMAX:
  case QC_QOBS_PER_CHANNEL_POW2_MINMSE:
  case QC_QOBS_PER_GROUP_MINMAX: o->kind = OK_MINMAX; break;
  case QC_QOBS_PER_BLOCK_MX:
  case QC_QOBS_PER_BLOCK_MX_BUFFER_REUSE:
  case QC_QOBS_PER_BLOCK_MX_DIFFS: o->kind = OK_BLOCK; break;
  case QC_QOBS_PER_TENSOR_HISTOGRAM:
  case QC_QOBS_PER_TENSOR_PERCENTILE:
  case QC_QOBS_PER_TENSOR_MSE:
    o->kind = OK_HISTOGRAM;
    o->num_bins_attr = spec->observer_cls == QC_QOBS_PER_TENSOR_PERCENTILE ? 4200 : 2048;
    break;
  default:
    free(o);
    return QERR("observer %s is not supported by quarc",
                spec->observer_cls ? qc_qobserver_name(spec->observer_cls) : "null");
  }
  *out = o;
  return QC_OK;
}

void qc_observer_free(qc_observer *o) {
  if (!o) return;
  qc_qstats_clear(&o->st);
  free(o->hist);
  free(o->last);
  free(o->bins);
  free(o->edges);
  free(o);
}

int64_t qc_observer_count(const qc_observer *o) { return o->count; }

static qc_status stats_alloc(qc_qstats *s, int64_t n) {
  qc_qstats_clear(s);
  s->n = n;
  s->min = malloc(sizeof(float) * (size_t)(n ? n : 1));
  s->max = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!s->min || !s->max) {
    qc_qstats_clear(s);
    return oom();
  }
  return QC_OK;
}

qc_status qc_observer_stats(const qc_observer *o, qc_qstats *out) {
  memset(out, 0, sizeof *out);
  QC_RETURN_IF_ERROR(stats_alloc(out, o->st.n));
  out->rank = o->st.rank;
  memcpy(out->shape, o->st.shape, sizeof out->shape);
  if (o->st.n) {
    memcpy(out->min, o->st.min, sizeof(float) * (size_t)o->st.n);
    memcpy(out->max, o->st.max, sizeof(float) * (size_t)o->st.n);
  }
  return QC_OK;
}

/* Round a batch to the model dtype: observers see x as the model holds it. */
static float *to_md(const float *x, int64_t n, qc_dtype md) {
  float *t = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!t) return NULL;
  for (int64_t i = 0; i < n; i++) t[i] = qc_round_to(md, x[i]);
  return t;
}

/* ---- min/max ----------------------------------------------------------------------------- */

/* One reduction over rows of `len` contiguous values (torch.aminmax: NaN propagates). */
static void minmax_rows(const float *x, int64_t rows, int64_t len, float *mn, float *mx) {
  for (int64_t r = 0; r < rows; r++) {
    float a = INFINITY, b = -INFINITY;
    bool nan = false;
    for (int64_t j = 0; j < len; j++) {
      float v = x[r * len + j];
      if (isnan(v)) nan = true;
      if (v < a) a = v;
      if (v > b) b = v;
    }
    mn[r] = nan ? NAN : a;
    mx[r] = nan ? NAN : b;
  }
}

static qc_status update_minmax(qc_observer *o, const float *x, const qc_qshape *s) {
  int64_t n = qc_qshape_numel(s);
  const qc_qspec *sp = &o->spec;
  qc_qscheme q = sp->qscheme;
  if (qc_qobserver_is_per_tensor(sp->observer_cls)) q = QC_QSCHEME_PER_TENSOR;
  else if (sp->observer_cls == QC_QOBS_PER_GROUP_MINMAX) q = QC_QSCHEME_PER_GROUP;
  else q = QC_QSCHEME_PER_CHANNEL;
  float *bmin = NULL, *bmax = NULL;
  int64_t nb;
  qc_qstats nst;
  memset(&nst, 0, sizeof nst);
  if (q == QC_QSCHEME_PER_TENSOR) {
    nb = 1;
    nst.rank = 0;
    QC_RETURN_IF_ERROR(stats_alloc(&nst, 1));
    minmax_rows(x, 1, n, nst.min, nst.max);
  } else {
    int32_t ax = sp->has_ch_axis ? qc_qaxis(sp->ch_axis, s->rank) : -1;
    if (ax < 0) return QERR("ch_axis out of range for a rank-%d tensor", (int)s->rank);
    float *t = malloc(sizeof(float) * (size_t)(n ? n : 1));
    if (!t) return oom();
    if (q == QC_QSCHEME_PER_CHANNEL) {
      /* permute(ch_axis <-> 0), flatten(1): rows = channels */
      qc_qswap_axes(x, s, ax, 0, t, NULL);
      int64_t C = s->d[ax];
      nb = C;
      qc_status e = stats_alloc(&nst, C);
      if (e) {
        free(t);
        return e;
      }
      nst.rank = 1;
      nst.shape[0] = C;
      minmax_rows(t, C, C ? n / C : 0, nst.min, nst.max);
    } else {
      int64_t G = sp->group_size, L = s->d[ax];
      if (G <= 0 || L % G != 0) {
        free(t);
        return QERR("ch_axis %d has %lld elements, not divisible by group_size %lld",
                    (int)sp->ch_axis, (long long)L, (long long)G);
      }
      qc_qswap_axes(x, s, ax, s->rank - 1, t, NULL);
      nb = n / G;
      qc_status e = stats_alloc(&nst, nb);
      if (e) {
        free(t);
        return e;
      }
      nst.rank = 2;
      nst.shape[0] = nb / (L / G);
      nst.shape[1] = L / G;
      minmax_rows(t, nb, G, nst.min, nst.max);
    }
    free(t);
  }
  (void)bmin;
  (void)bmax;
  /* Accumulate: per-tensor and per-channel static observers keep running min/max
   * (per-channel only while the channel count is unchanged); per-group and dynamic
   * observers keep the last batch. */
  bool acc = !o->dynamic && o->have && q != QC_QSCHEME_PER_GROUP && o->st.n == nb;
  if (acc) {
    for (int64_t i = 0; i < nb; i++) {
      nst.min[i] = qc_tmin(o->st.min[i], nst.min[i]);
      nst.max[i] = qc_tmax(o->st.max[i], nst.max[i]);
    }
  }
  qc_qstats_clear(&o->st);
  o->st = nst;
  o->have = true;
  return QC_OK;
}

/* ---- MX blocks ------------------------------------------------------------------------- */

static qc_status update_block(qc_observer *o, const float *x, const qc_qshape *s) {
  const qc_qspec *sp = &o->spec;
  if (!sp->has_group_size || sp->group_size <= 0 || !sp->has_ch_axis)
    return QERR("%s needs ch_axis and a positive group_size", qc_qobserver_name(sp->observer_cls));
  int32_t ax = qc_qaxis(sp->ch_axis, s->rank);
  if (ax < 0) return QERR("ch_axis out of range for a rank-%d tensor", (int)s->rank);
  int64_t R, L, B, bs = sp->group_size;
  float *blk = qc_qto_blocks(x, s, ax, bs, &R, &L, &B);
  if (!blk) return oom();
  qc_qstats nst;
  memset(&nst, 0, sizeof nst);
  qc_status e = stats_alloc(&nst, R * B);
  if (e) {
    free(blk);
    return e;
  }
  nst.rank = 2;
  nst.shape[0] = R;
  nst.shape[1] = B;
  for (int64_t i = 0; i < R * B; i++) {
    float a = 0;
    bool nan = false;
    for (int64_t j = 0; j < bs; j++) {
      float v = fabsf(blk[i * bs + j]);
      if (isnan(v)) nan = true;
      if (v > a) a = v;
    }
    nst.max[i] = nan ? NAN : a;
    nst.min[i] = 0;
  }
  free(blk);
  /* Static: torch.max(previous, amax), reset to 0 when the shape changes (the initial
   * 0-dim 0.0 broadcasts). */
  if (!o->dynamic && o->have && o->st.n == nst.n)
    for (int64_t i = 0; i < nst.n; i++) nst.max[i] = qc_tmax(o->st.max[i], nst.max[i]);
  else if (!o->dynamic)
    for (int64_t i = 0; i < nst.n; i++) nst.max[i] = qc_tmax(0.0f, nst.max[i]);
  qc_qstats_clear(&o->st);
  o->st = nst;
  o->have = true;
  return QC_OK;
}

/* ---- histograms (PerTensorHistogramObserver and its Percentile/MSE children) ------------ */

/* torch.linspace(start, end, steps) in float32 (RangeFactoriesKernel: halves from each end). */
static void linspace_f32(float start, float end, int64_t steps, float *out) {
  float step = (end - start) / (float)(steps - 1);
  int64_t half = steps / 2;
  for (int64_t i = 0; i < steps; i++)
    out[i] = i < half ? start + step * (float)i : end - step * (float)(steps - i - 1);
}

/* torch.arange(start, end, step) in float32: size ceil((end - start) / step), values
 * start + step * i accumulated in double. */
static int64_t arange_f32(double start, double end, double step, float **out) {
  double sz = ceil((end - start) / step);
  int64_t n = sz > 0 ? (int64_t)sz : 0;
  float *v = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!v) return -1;
  for (int64_t i = 0; i < n; i++) v[i] = (float)(start + step * (double)i);
  *out = v;
  return n;
}

/* torch.histc(x, bins, min, max) in float32 (LINEAR_INTERPOLATION). */
static void histc_f32(const float *x, int64_t n, int64_t bins, float lo, float hi, double *h) {
  if (lo == hi) {
    lo -= 1;
    hi += 1;
  }
  for (int64_t b = 0; b < bins; b++) h[b] = 0;
  for (int64_t i = 0; i < n; i++) {
    float e = x[i];
    if (!(e >= lo && e <= hi)) continue;
    int64_t pos = (int64_t)((e - lo) * (float)bins / (hi - lo));
    if (pos == bins) pos -= 1;
    h[pos] += 1;
  }
}

static qc_status update_histogram(qc_observer *o, const float *xin, int64_t n) {
  /* x.float(); skip zeros for Percentile; abs unless symmetric is False. */
  float *x = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!x) return oom();
  bool skip_zeros = o->spec.observer_cls == QC_QOBS_PER_TENSOR_PERCENTILE;
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (!(skip_zeros && xin[i] == 0)) x[m++] = xin[i];
  double x_min, x_max;
  bool two_sided = o->spec.symmetric == QC_QB_FALSE;
  if (two_sided) {
    float a = INFINITY, b = -INFINITY;
    for (int64_t i = 0; i < m; i++) {
      a = fminf(a, x[i]);
      b = fmaxf(b, x[i]);
    }
    x_min = m ? a : 0.0;
    x_max = m ? b : 0.0;
  } else {
    bool neg = false;
    for (int64_t i = 0; i < m; i++)
      if (x[i] < 0) neg = true;
    float b = -INFINITY;
    for (int64_t i = 0; i < m; i++) {
      if (neg) x[i] = fabsf(x[i]);
      b = fmaxf(b, x[i]);
    }
    x_min = 0.0;
    x_max = m ? b : 0.0;
  }
  if (x_min == x_max) {
    double span = fmax(fabs(x_min), 1.0) * o->num_bins_attr * (double)FLT_EPSILON;
    x_max = x_min + fmax(span, (double)FLT_MIN);
  }
  qc_status st = QC_OK;
  if (!o->edges) {
    int64_t nb = o->num_bins_attr;
    o->edges = malloc(sizeof(float) * (size_t)(nb + 1));
    o->bins = malloc(sizeof(double) * (size_t)nb);
    if (!o->edges || !o->bins) {
      free(x);
      return oom();
    }
    histc_f32(x, m, nb, (float)x_min, (float)x_max, o->bins);
    linspace_f32((float)x_min, (float)x_max, nb + 1, o->edges);
    o->nbins = nb;
    o->nedges = nb + 1;
  } else {
    if (x_min < o->edges[0]) {
      double width = (double)(o->edges[1] - o->edges[0]);
      o->num_bins_attr += (int)ceil((double)(float)((o->edges[0] - (float)x_min) / (float)width));
      float *ne;
      int64_t k = arange_f32(x_min - width, (double)o->edges[o->nedges - 1], width, &ne);
      if (k < 0) {
        free(x);
        return oom();
      }
      free(o->edges);
      o->edges = ne;
      o->nedges = k;
    }
    if (x_max > o->edges[o->nedges - 1]) {
      double width = (double)(o->edges[1] - o->edges[0]);
      o->num_bins_attr += (int)ceil((double)(float)(((float)x_max - o->edges[o->nedges - 1]) /
                                                    (float)width));
      float *ne;
      int64_t k = arange_f32((double)o->edges[0], x_max + width, width, &ne);
      if (k < 0) {
        free(x);
        return oom();
      }
      free(o->edges);
      o->edges = ne;
      o->nedges = k;
    }
    int64_t nb = o->num_bins_attr;
    double *h = malloc(sizeof(double) * (size_t)nb);
    if (!h) {
      free(x);
      return oom();
    }
    histc_f32(x, m, nb, o->edges[0], o->edges[o->nedges - 1], h);
    for (int64_t b = 0; b < o->nbins && b < nb; b++) h[b] += o->bins[b];
    free(o->bins);
    o->bins = h;
    o->nbins = nb;
  }
  free(x);
  return st;
}

/* PerTensorPercentileObserver.get_min_max_by_percentile. */
static void percentile_range(const qc_observer *o, float *mn, float *mx) {
  double total = 0;
  for (int64_t b = 0; b < o->nbins; b++) total += o->bins[b];
  *mn = 0;
  *mx = 0;
  if (!(total > 0)) return;
  float ftotal = (float)total;
  /* cumsum of float32 (hist / total), accumulated in double and stored as float. */
  float *cum = malloc(sizeof(float) * (size_t)o->nbins);
  if (!cum) return;
  double acc = 0;
  for (int64_t b = 0; b < o->nbins; b++) {
    acc += (double)((float)o->bins[b] / ftotal);
    cum[b] = (float)acc;
  }
  int64_t last = o->nbins - 1;
  const double pct = 99.99999999;
  if (o->spec.symmetric == QC_QB_FALSE) {
    float one_side = (float)((100.0 - pct) / 200.0);
    int64_t up = last, lo = 0;
    for (int64_t b = 0; b <= last; b++)
      if (cum[b] >= one_side) {
        up = b;
        break;
      }
    float other = (float)(1 - (double)one_side);
    for (int64_t b = 0; b <= last; b++)
      if (cum[b] <= other) {
        lo = b;
        break;
      }
    *mx = o->edges[up < o->nedges ? up : o->nedges - 1];
    *mn = o->edges[lo];
  } else {
    double target = pct / 100.0;
    double cmax = (double)cum[last];
    if (cmax < target) target = cmax;
    float t = (float)target; /* compared against a float32 tensor */
    int64_t up = last;
    for (int64_t b = 0; b <= last; b++)
      if (cum[b] >= t) {
        up = b;
        break;
      }
    *mx = o->edges[up];
    *mn = 0;
  }
  free(cum);
}

/* PerTensorMSEObserver.get_min_max_by_mse (start_bin 2045, stride 1). */
static qc_status mse_range(const qc_observer *o, float *mn, float *mx) {
  int64_t nc = o->nedges - 1;
  if (nc < 1) return QERR("MSE observer: no data observed");
  float *c = malloc(sizeof(float) * (size_t)nc);
  float *q = malloc(sizeof(float) * (size_t)nc);
  if (!c || !q) {
    free(c);
    free(q);
    return oom();
  }
  for (int64_t i = 0; i < nc; i++) c[i] = (o->edges[i + 1] + o->edges[i]) / 2.0f;
  int64_t start = 2045 < nc - 1 ? 2045 : (nc - 1 > 0 ? nc - 1 : 0);
  double best = INFINITY;
  int64_t arg = start;
  const qc_qspec *sp = &o->spec;
  double qmin, qmax;
  qc_qdtype_range(sp->dtype, &qmin, &qmax);
  for (int64_t i = start; i < nc; i++) {
    float amax = c[i];
    if (qc_qdtype_is_int(sp->dtype)) {
      /* calculate_int_quant_params(0, amax), then fake_quantize_per_tensor_affine. */
      qc_qstats st = {0, {0}, 1, (float[]){0.0f}, (float[]){amax}};
      qc_qparams p;
      qc_status e = qc_qparams_from_stats_ex(sp, &st, QC_F32, 0, &p);
      if (e) {
        free(c);
        free(q);
        return e;
      }
      float sc = p.scale[0];
      int64_t zp = (int64_t)p.zero_point[0];
      qc_qparams_clear(&p);
      float inv = 1.0f / sc;
      for (int64_t k = 0; k < nc; k++) {
        double r = (double)zp + (double)qc_rne(c[k] * inv);
        r = r < qmin ? qmin : (r > qmax ? qmax : r);
        q[k] = (float)((int64_t)r - zp) * sc;
      }
    } else {
      float sc = amax / (float)qmax;
      for (int64_t k = 0; k < nc; k++) {
        float t = qc_tclamp(c[k] / sc, (float)qmin, (float)qmax);
        qc_dtype el = qc_qdtype_element(sp->dtype);
        t = (float)qc_float_decode(el, qc_float_encode(el, t, 0));
        q[k] = t * sc;
      }
    }
    double mse = 0;
    for (int64_t k = 0; k < nc; k++) {
      float d = q[k] - c[k];
      mse += (double)(d * d * (float)o->bins[k]);
    }
    mse /= (double)nc;
    if (mse < best) {
      best = mse;
      arg = i;
    }
  }
  *mn = 0;
  *mx = c[arg];
  free(c);
  free(q);
  return QC_OK;
}

/* ---- PowOf2 observers ---------------------------------------------------------------------- */

static float pos2scale(float pos) { return ldexpf(1.0f, (int)-pos); }
static float scale2pos(float scale) {
  float s = scale;
  if (s < 0x1p-127f) s = 0x1p-127f;
  if (s > 0x1p127f) s = 0x1p127f;
  return qc_rne(-qc_log2f(s));
}

/* _calculate_one_batch_quant_param of the PowOf2 observers for one (min, max). */
static void pow2_params(const qc_observer *o, float mn, float mx, float *scale, double *zp) {
  const qc_qspec *sp = &o->spec;
  double qmin, qmax;
  qc_qdtype_range(sp->dtype, &qmin, &qmax);
  float min_neg = qc_tmin(mn, 0.0f), max_pos = qc_tmax(mx, 0.0f);
  if (sp->symmetric == QC_QB_TRUE) {
    float a = qc_tmax(fabsf(min_neg), fabsf(max_pos));
    min_neg = -a;
    max_pos = a;
  }
  float dr = qc_round_to(o->md, max_pos - min_neg);
  float s = dr != 0 ? qc_round_to(o->md, dr / (float)(qmax - qmin)) : 1.0f;
  int32_t z0 = (int32_t)qc_round_to(o->md, (float)qmin - qc_round_to(o->md, min_neg / s));
  float ps = pos2scale(scale2pos(s));
  float rmin = (float)((double)qmin - z0) * ps;
  if (rmin > 0) rmin = 0;
  int32_t nz = (int32_t)qc_rne((float)qmin - rmin / ps);
  if (sp->symmetric == QC_QB_TRUE && sp->dtype == QC_QDT_UINT8 && nz == 127) nz = 128;
  *scale = ps;
  *zp = nz;
}

/* MinMSE: try the power-of-two scales 2^(pos-2) .. 2^(pos+2) (the same offset for every
 * channel) and keep the one with the least total squared error on the last batch. */
static void pow2_mse(const qc_observer *o, int64_t C, int64_t inner, float *scale,
                     const double *zp) {
  const qc_qspec *sp = &o->spec;
  double qmin, qmax;
  qc_qdtype_range(sp->dtype, &qmin, &qmax);
  int64_t n = qc_qshape_numel(&o->last_shape);
  float *cand = malloc(sizeof(float) * (size_t)C), *best_s = malloc(sizeof(float) * (size_t)C);
  if (!cand || !best_s) {
    free(cand);
    free(best_s);
    return;
  }
  memcpy(best_s, scale, sizeof(float) * (size_t)C);
  double best = INFINITY;
  for (int i = 0; i < 5; i++) {
    for (int64_t c = 0; c < C; c++) cand[c] = pos2scale(scale2pos(scale[c]) + (float)i - 2);
    double err = 0;
    for (int64_t k = 0; k < n; k++) {
      int64_t c = C > 1 ? (k / inner) % C : 0;
      float v = o->last[k], cs = cand[c], z = (float)zp[c];
      float q = qc_tclamp(qc_rne(v / cs) + z, (float)qmin, (float)qmax);
      float d = (q - z) * cs - v;
      err += (double)(d * d);
    }
    if (err < best) {
      best = err;
      memcpy(best_s, cand, sizeof(float) * (size_t)C);
    }
  }
  memcpy(scale, best_s, sizeof(float) * (size_t)C);
  free(cand);
  free(best_s);
}

static qc_status pow2_record(qc_observer *o, qc_qparams *out) {
  int64_t C = o->st.n;
  QC_RETURN_IF_ERROR(qc_qparams_from_stats(&o->spec, &o->st, o->md, out)); /* shape/alloc */
  int64_t inner = 1;
  if (o->spec.qscheme == QC_QSCHEME_PER_CHANNEL && o->last) {
    int32_t ax = qc_qaxis(o->spec.ch_axis, o->last_shape.rank);
    for (int32_t i = ax + 1; i < o->last_shape.rank; i++) inner *= o->last_shape.d[i];
  }
  for (int64_t c = 0; c < C; c++)
    pow2_params(o, o->st.min[c], o->st.max[c], &out->scale[c], &out->zero_point[c]);
  if (o->last && (o->spec.observer_cls == QC_QOBS_PER_TENSOR_POW2_MINMSE ||
                  o->spec.observer_cls == QC_QOBS_PER_CHANNEL_POW2_MINMSE))
    pow2_mse(o, C, inner, out->scale, out->zero_point);
  free(o->last);
  o->last = NULL; /* Quark frees original_tensor after use */
  /* Record and return the most common (scale, zp) tuple so far (first seen wins ties). */
  if (o->n_hist == o->cap_hist) {
    int64_t nc = o->cap_hist ? o->cap_hist * 2 : 8;
    double *nh = realloc(o->hist, sizeof(double) * (size_t)(nc * 2 * C));
    if (!nh) {
      qc_qparams_clear(out);
      return oom();
    }
    o->hist = nh;
    o->cap_hist = nc;
  }
  double *row = o->hist + o->n_hist * 2 * C;
  for (int64_t c = 0; c < C; c++) {
    row[c] = out->scale[c];
    row[C + c] = out->zero_point[c];
  }
  o->n_hist++;
  int64_t best = 0, best_count = 0;
  for (int64_t i = 0; i < o->n_hist; i++) {
    int64_t cnt = 0;
    for (int64_t j = 0; j < o->n_hist; j++)
      if (memcmp(o->hist + i * 2 * C, o->hist + j * 2 * C, sizeof(double) * (size_t)(2 * C)) == 0)
        cnt++;
    if (cnt > best_count) {
      best_count = cnt;
      best = i;
    }
  }
  const double *w = o->hist + best * 2 * C;
  for (int64_t c = 0; c < C; c++) {
    out->scale[c] = (float)w[c];
    out->zero_point[c] = w[C + c];
  }
  out->scale_dtype = QC_F32; /* torch.tensor(python float) */
  out->zp_dtype = QC_I32;
  return QC_OK;
}

/* ---- the observer API -------------------------------------------------------------------- */

qc_status qc_observer_update(qc_observer *o, const float *xin, int32_t rank,
                             const int64_t *shape) {
  qc_qshape s;
  if (rank < 0 || rank > QC_QPARAMS_MAX_RANK) return QERR("tensor rank %d out of range", (int)rank);
  s.rank = rank;
  for (int32_t i = 0; i < rank; i++) s.d[i] = shape[i];
  int64_t n = qc_qshape_numel(&s);
  o->count++;
  if (n == 0) return QC_OK; /* numel() == 0: the observer ignores the batch */
  float *x = to_md(xin, n, o->md);
  if (!x) return oom();
  qc_status st;
  switch (o->kind) {
  case OK_MINMAX: st = update_minmax(o, x, &s); break;
  case OK_BLOCK: st = update_block(o, x, &s); break;
  default: st = update_histogram(o, x, n); break;
  }
  if (!st && (is_pow2(o->spec.observer_cls) || o->spec.observer_cls == QC_QOBS_PER_BLOCK_MX_DIFFS)) {
    free(o->last);
    o->last = x;
    o->last_shape = s;
    x = NULL;
  }
  free(x);
  return st;
}

/* PerBlockMXDiffsObserver.calculate_qparams: try 2^(ceil(log2 amax) - emax - k), k = 0, 1,
 * on the last batch, keep the one with the smaller squared error per block. */
static qc_status diffs_params(qc_observer *o, qc_qparams *out) {
  const qc_qspec *sp = &o->spec;
  qc_qdtype el = sp->mx_element_dtype ? sp->mx_element_dtype : sp->dtype;
  int emax;
  qc_qdtype_params(el, NULL, NULL, &emax);
  if (!o->last) return QERR("PerBlockMXDiffsObserver: no batch observed");
  int64_t R, L, B, bs = sp->group_size;
  float *blk = qc_qto_blocks(o->last, &o->last_shape, sp->ch_axis, bs, &R, &L, &B);
  if (!blk) return oom();
  if (R * B != o->st.n) {
    free(blk);
    return QERR("PerBlockMXDiffsObserver: the last batch does not match the observed shape");
  }
  qc_status e = qc_qparams_from_stats(sp, &o->st, o->md, out);
  if (e) {
    free(blk);
    return e;
  }
  for (int64_t i = 0; i < R * B; i++) {
    float init = qc_round_to(o->md, ceilf(qc_round_to(o->md, qc_log2f(o->st.max[i]))) - (float)emax);
    float best_t = init, best_d = INFINITY;
    for (int k = 0; k >= -1; k--) {
      float t = init + (float)k;
      float sc = isinf(t) ? (t < 0 ? 0.0f : INFINITY) : ldexpf(1.0f, (int)fmaxf(fminf(t, 300), -300));
      float scq = sc == 0 ? QC_F32_EPS : sc;
      double d = 0;
      for (int64_t j = 0; j < bs; j++) {
        float v = blk[i * bs + j];
        float q;
        if (el == QC_QDT_FP8_E4M3 || el == QC_QDT_FP8_E5M2) {
          double qm;
          qc_qdtype_range(el, NULL, &qm);
          qc_dtype ed = qc_qdtype_element(el);
          float u = qc_tclamp(v / scq, (float)-qm, (float)qm);
          q = (float)qc_float_decode(ed, qc_float_encode(ed, u, 0)) * scq;
        } else {
          q = qc_qfake_element(v / scq, el) * scq;
        }
        float df = v - q;
        d += (double)(df * df);
      }
      float fd = (float)d;
      if (fd < best_d) {
        best_d = fd;
        best_t = t;
      }
    }
    float sc = isinf(best_t) ? (best_t < 0 ? 0.0f : INFINITY)
                             : ldexpf(1.0f, (int)fmaxf(fminf(best_t, 300), -300));
    if (isnan(best_t)) sc = NAN;
    out->scale[i] = sc == 0 ? QC_F32_EPS : sc;
  }
  out->scale_dtype = QC_F32;
  free(blk);
  return QC_OK;
}

static qc_status observer_params_ex(qc_observer *o, float qmfl, qc_qparams *out) {
  memset(out, 0, sizeof *out);
  const qc_qspec *sp = &o->spec;
  if (is_pow2(sp->observer_cls)) {
    if (!o->have) return qc_qparams_from_stats(sp, &o->st, o->md, out);
    return pow2_record(o, out);
  }
  if (sp->observer_cls == QC_QOBS_PER_BLOCK_MX_DIFFS) return diffs_params(o, out);
  if (o->kind == OK_HISTOGRAM) {
    float mn = INFINITY, mx = -INFINITY;
    if (sp->observer_cls == QC_QOBS_PER_TENSOR_PERCENTILE && o->edges) percentile_range(o, &mn, &mx);
    else if (sp->observer_cls == QC_QOBS_PER_TENSOR_MSE && o->edges)
      QC_RETURN_IF_ERROR(mse_range(o, &mn, &mx));
    /* PerTensorHistogramObserver never sets min/max: Quark computes from (inf, -inf). */
    qc_qstats st = {0, {0}, 1, &mn, &mx};
    return qc_qparams_from_stats_ex(sp, &st, o->md, qmfl, out);
  }
  if (!o->have) {
    /* Nothing observed: min/max are (inf, -inf); amax 0. */
    float mn = INFINITY, mx = o->kind == OK_BLOCK ? 0.0f : -INFINITY;
    qc_qstats st = {0, {0}, 1, &mn, &mx};
    return qc_qparams_from_stats_ex(sp, &st, o->md, qmfl, out);
  }
  return qc_qparams_from_stats_ex(sp, &o->st, o->md, qmfl, out);
}

qc_status qc_observer_params(qc_observer *o, qc_qparams *out) {
  return observer_params_ex(o, o->qmfl, out);
}

/* ============================================================================================
 * Quantizers
 * ========================================================================================== */

typedef struct stage {
  qc_qspec spec;
  qc_observer *obs;   /* NULL for non-scaled and cast-only dtypes */
  qc_qparams params;
  bool have_params;
  bool frozen;        /* observer off */
} stage;

struct qc_quantizer {
  qc_dtype md;
  int32_t n;
  bool sequential;
  bool finalized;
  stage *st;
};

static bool non_scaled(qc_qdtype d) {
  return d == QC_QDT_MX || d == QC_QDT_MX6 || d == QC_QDT_MX9 || d == QC_QDT_BFP16 ||
         d == QC_QDT_BFLOAT16 || d == QC_QDT_FLOAT16;
}

static bool fp8_like(qc_qdtype d) {
  return d == QC_QDT_FP8_E4M3 || d == QC_QDT_FP8_E5M2 || d == QC_QDT_FP8_E5M3;
}

qc_status qc_quantizer_create(const qc_qspecs *specs, qc_dtype md, qc_quantizer **out) {
  *out = NULL;
  if (!specs || specs->n < 1) return QERR("a quantizer needs at least one spec");
  QC_RETURN_IF_ERROR(qc_qspecs_validate(specs, "spec", false));
  qc_quantizer *q = calloc(1, sizeof *q);
  if (!q) return oom();
  q->md = md;
  q->n = specs->n;
  q->sequential = specs->is_list;
  q->st = calloc((size_t)specs->n, sizeof(stage));
  if (!q->st) {
    free(q);
    return oom();
  }
  for (int32_t i = 0; i < specs->n; i++) {
    stage *s = &q->st[i];
    s->spec = specs->v[i];
    if (s->spec.dtype == QC_QDT_BFLOAT16 || s->spec.dtype == QC_QDT_FLOAT16) {
      /* StaticScaledFakeQuantize with a PlaceholderObserver: scale 1.0, zero point 0. */
      qc_status e = QC_OK;
      s->params.scale = malloc(sizeof(float));
      s->params.zero_point = calloc(1, sizeof(double));
      if (!s->params.scale || !s->params.zero_point) e = oom();
      if (e) {
        qc_quantizer_free(q);
        return e;
      }
      s->params.n = 1;
      s->params.scale[0] = 1.0f;
      s->params.scale_dtype = QC_F32;
      s->params.zp_dtype = QC_I32;
      s->have_params = true;
      s->frozen = true;
      continue;
    }
    if (non_scaled(s->spec.dtype)) continue;
    qc_status e = qc_observer_create(&s->spec, md, &s->obs);
    if (e) {
      qc_quantizer_free(q);
      return e;
    }
    /* SequentialQuantize: an fp8 scale stage after an amax observer divides by
     * (element max * scale max) at once. */
    if (s->spec.is_scale_quant && i > 0 && fp8_like(s->spec.dtype) &&
        q->st[i - 1].obs && q->st[i - 1].obs->kind == OK_BLOCK) {
      double qmax;
      qc_qdtype_range(q->st[i - 1].spec.dtype, NULL, &qmax);
      s->obs->qmfl = (float)qmax;
    }
  }
  *out = q;
  return QC_OK;
}

void qc_quantizer_free(qc_quantizer *q) {
  if (!q) return;
  for (int32_t i = 0; i < q->n; i++) {
    qc_observer_free(q->st[i].obs);
    qc_qparams_clear(&q->st[i].params);
  }
  free(q->st);
  free(q);
}

int32_t qc_quantizer_n_stages(const qc_quantizer *q) { return q->n; }
const qc_qspec *qc_quantizer_spec(const qc_quantizer *q, int32_t i) {
  return i >= 0 && i < q->n ? &q->st[i].spec : NULL;
}
const qc_qparams *qc_quantizer_params(const qc_quantizer *q, int32_t i) {
  return i >= 0 && i < q->n && q->st[i].have_params ? &q->st[i].params : NULL;
}
qc_observer *qc_quantizer_observer(qc_quantizer *q, int32_t i) {
  return i >= 0 && i < q->n ? q->st[i].obs : NULL;
}

qc_status qc_quantizer_set_params(qc_quantizer *q, int32_t i, const qc_qparams *p) {
  if (i < 0 || i >= q->n) return QERR("stage %d out of range", (int)i);
  qc_qparams c;
  QC_RETURN_IF_ERROR(qc_qparams_copy(p, &c));
  qc_qparams_clear(&q->st[i].params);
  q->st[i].params = c;
  q->st[i].have_params = true;
  q->st[i].frozen = true;
  return QC_OK;
}

/* observe(X): the observer sees x, then the parameters are recomputed. */
static qc_status stage_observe(qc_quantizer *q, stage *s, const float *x, const qc_qshape *sh) {
  if (!s->obs) return QC_OK;
  QC_RETURN_IF_ERROR(qc_observer_update(s->obs, x, sh->rank, sh->d));
  qc_qparams p;
  QC_RETURN_IF_ERROR(qc_observer_params(s->obs, &p));
  qc_qparams_clear(&s->params);
  s->params = p;
  s->have_params = true;
  (void)q;
  return QC_OK;
}

static qc_status stage_real(qc_quantizer *q, stage *s, const float *x, const qc_qshape *sh,
                            float *y) {
  QC_RETURN_IF_ERROR(qc_real_quantize_ex(&s->spec, s->have_params ? &s->params : NULL, x,
                                         sh->rank, sh->d, q->md, y));
  int64_t n = qc_qshape_numel(sh);
  for (int64_t i = 0; i < n; i++) y[i] = qc_round_to(q->md, y[i]); /* .to(x.dtype) */
  return QC_OK;
}

/* _apply_scale_quantization: fake-quantize stage s's scales with the scale stage t. */
static qc_status quantize_scales(qc_quantizer *q, stage *s, stage *t) {
  if (!s->have_params || !t->have_params) return QC_OK;
  qc_qshape ss = {s->params.rank, {0}};
  memcpy(ss.d, s->params.shape, sizeof ss.d);
  float *y = malloc(sizeof(float) * (size_t)(s->params.n ? s->params.n : 1));
  if (!y) return oom();
  qc_status e = qc_fake_quantize(&t->spec, &t->params, s->params.scale, ss.rank, ss.d,
                                 s->params.scale_dtype, y);
  if (!e) memcpy(s->params.scale, y, sizeof(float) * (size_t)s->params.n);
  free(y);
  (void)q;
  return e;
}

/* SequentialQuantize.forward with observers on (_process_tensor_quantizer). */
static qc_status seq_observe(qc_quantizer *q, const float *x, const qc_qshape *sh) {
  int64_t n = qc_qshape_numel(sh);
  float *cur = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!cur) return oom();
  memcpy(cur, x, sizeof(float) * (size_t)n);
  stage *prev = NULL;
  qc_status e = QC_OK;
  for (int32_t i = 0; i < q->n && !e; i++) {
    stage *s = &q->st[i];
    bool on = !s->frozen;
    if (s->spec.is_scale_quant) {
      if (!on) continue;
      stage *pre = &q->st[i - 1];
      if (fp8_like(s->spec.dtype) && pre->obs && pre->obs->kind == OK_BLOCK) {
        qc_qshape as = {pre->obs->st.rank, {0}};
        memcpy(as.d, pre->obs->st.shape, sizeof as.d);
        e = stage_observe(q, s, pre->obs->st.max, &as);
      } else if (pre->have_params) {
        qc_qshape as = {pre->params.rank, {0}};
        memcpy(as.d, pre->params.shape, sizeof as.d);
        e = stage_observe(q, s, pre->params.scale, &as);
      }
      continue;
    }
    if (prev) {
      if (q->st[i - 1].spec.is_scale_quant) e = quantize_scales(q, prev, &q->st[i - 1]);
      float *nx = malloc(sizeof(float) * (size_t)(n ? n : 1));
      if (!nx) e = oom();
      if (!e) e = stage_real(q, prev, cur, sh, nx);
      free(cur);
      cur = nx;
      if (e) break;
    }
    if (on) e = stage_observe(q, s, cur, sh);
    prev = s;
  }
  free(cur);
  return e;
}

qc_status qc_quantizer_observe(qc_quantizer *q, const float *x, int32_t rank,
                               const int64_t *shape) {
  qc_qshape sh;
  if (rank < 0 || rank > QC_QPARAMS_MAX_RANK) return QERR("tensor rank %d out of range", (int)rank);
  sh.rank = rank;
  for (int32_t i = 0; i < rank; i++) sh.d[i] = shape[i];
  if (q->sequential) return seq_observe(q, x, &sh);
  return stage_observe(q, &q->st[0], x, &sh);
}

qc_status qc_quantizer_finalize(qc_quantizer *q) {
  /* Static stages freeze; dynamic ones keep observing (except per-tensor scale stages). */
  for (int32_t i = 0; i < q->n; i++) {
    stage *s = &q->st[i];
    bool dyn = s->spec.is_dynamic == QC_QB_TRUE &&
               !(s->spec.is_scale_quant && s->spec.qscheme == QC_QSCHEME_PER_TENSOR);
    s->frozen = !dyn;
  }
  q->finalized = true;
  return QC_OK;
}

qc_status qc_quantizer_forward(qc_quantizer *q, const float *x, int32_t rank,
                               const int64_t *shape, float *y) {
  qc_qshape sh;
  if (rank < 0 || rank > QC_QPARAMS_MAX_RANK) return QERR("tensor rank %d out of range", (int)rank);
  sh.rank = rank;
  for (int32_t i = 0; i < rank; i++) sh.d[i] = shape[i];
  int64_t n = qc_qshape_numel(&sh);
  if (!q->sequential) {
    stage *s = &q->st[0];
    if (non_scaled(s->spec.dtype))
      return qc_fake_quantize(&s->spec, NULL, x, rank, shape, q->md, y);
    if (!s->frozen) QC_RETURN_IF_ERROR(stage_observe(q, s, x, &sh));
    if (!s->have_params) return QERR("quantizer has no parameters: observe a tensor first");
    return qc_fake_quantize(&s->spec, &s->params, x, rank, shape, q->md, y);
  }
  bool any_live = false;
  for (int32_t i = 0; i < q->n; i++) any_live |= !q->st[i].frozen;
  if (any_live) QC_RETURN_IF_ERROR(seq_observe(q, x, &sh));
  /* _apply_forward_quantization, then _apply_reverse_dequantization. */
  float *cur = malloc(sizeof(float) * (size_t)(n ? n : 1));
  float *tmp = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!cur || !tmp) {
    free(cur);
    free(tmp);
    return oom();
  }
  memcpy(cur, x, sizeof(float) * (size_t)n);
  qc_status e = QC_OK;
  for (int32_t i = 0; i < q->n && !e; i++) {
    stage *s = &q->st[i];
    if (s->spec.is_scale_quant) continue;
    if (i + 1 < q->n && q->st[i + 1].spec.is_scale_quant) e = quantize_scales(q, s, &q->st[i + 1]);
    if (!e) e = stage_real(q, s, cur, &sh, tmp);
    if (!e) memcpy(cur, tmp, sizeof(float) * (size_t)n);
  }
  for (int32_t i = q->n - 1; i >= 0 && !e; i--) {
    stage *s = &q->st[i];
    if (s->spec.is_scale_quant) continue;
    qc_qparams pz = s->params;
    /* dequantize(zero_point.to(int)) */
    e = qc_dequantize(&s->spec, &pz, cur, rank, shape, QC_F32, tmp);
    if (!e) memcpy(cur, tmp, sizeof(float) * (size_t)n);
  }
  if (!e)
    for (int64_t i = 0; i < n; i++) y[i] = qc_round_to(q->md, cur[i]);
  free(cur);
  free(tmp);
  return e;
}

qc_status qc_quantizer_real_quantize(qc_quantizer *q, const float *x, int32_t rank,
                                     const int64_t *shape, float *out) {
  qc_qshape sh;
  if (rank < 0 || rank > QC_QPARAMS_MAX_RANK) return QERR("tensor rank %d out of range", (int)rank);
  sh.rank = rank;
  for (int32_t i = 0; i < rank; i++) sh.d[i] = shape[i];
  int64_t n = qc_qshape_numel(&sh);
  float *cur = malloc(sizeof(float) * (size_t)(n ? n : 1));
  if (!cur) return oom();
  memcpy(cur, x, sizeof(float) * (size_t)n);
  qc_status e = QC_OK;
  for (int32_t i = 0; i < q->n && !e; i++) {
    stage *s = &q->st[i];
    if (s->spec.is_scale_quant) continue;
    if (!s->have_params) {
      e = QERR("stage %d has no parameters: observe a tensor first", (int)i);
      break;
    }
    if (i + 1 < q->n && q->st[i + 1].spec.is_scale_quant) e = quantize_scales(q, s, &q->st[i + 1]);
    if (!e) e = qc_real_quantize_ex(&s->spec, &s->params, cur, rank, shape, q->md, out);
    if (!e) memcpy(cur, out, sizeof(float) * (size_t)n);
  }
  free(cur);
  return e;
}
