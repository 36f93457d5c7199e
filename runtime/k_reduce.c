/*
 * Interpreter kernels: reductions (Reduce*, ArgMax/ArgMin), scans (CumSum, CumProd),
 * softmax-likes (Softmax, LogSoftmax, Hardmax) and normalizations (LpNormalization,
 * MeanVarianceNormalization).
 *
 * Float dtypes accumulate in double and round once; integer dtypes accumulate exactly in
 * int64 with wraparound, as numpy's fixed-width reductions do. A reduction over no
 * elements gives the identity of the operation (0, 1, -inf, +inf, NaN for a mean).
 */
#include "runtime/kutil.h"

#include <math.h>

/* ---- Reduce* ---------------------------------------------------------------------------------- */

typedef enum {
  R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQ
} rkind;

typedef struct reduce_ctx {
  rkind kind;
  const qc_rplan *p;
  const void *x;
  qc_acc ax, ay;
  void *y;
  bool isfloat, isu64;
} reduce_ctx;

static double reduce_f(const reduce_ctx *c, int64_t base) {
  const qc_rplan *p = c->p;
  const qc_acc *a = &c->ax;
  qc_rplan_iter it;
  double s;
  switch (c->kind) {
  case R_MAX: s = -INFINITY; break;
  case R_MIN: s = INFINITY; break;
  case R_PROD: s = 1; break;
  default: s = 0; break;
  }
  double mx = -INFINITY;
  if (c->kind == R_LOGSUMEXP) {
    qc_rplan_iter_start(&it);
    for (int64_t r = 0; r < p->n_red; r++, qc_rplan_iter_next(p, &it)) {
      double v = a->getf(a->dt, c->x, (size_t)(base + it.off));
      if (!isinf(v) && v > mx) mx = v;
    }
    if (isinf(mx)) mx = 0;
  }
  qc_rplan_iter_start(&it);
  for (int64_t r = 0; r < p->n_red; r++, qc_rplan_iter_next(p, &it)) {
    double v = a->getf(a->dt, c->x, (size_t)(base + it.off));
    switch (c->kind) {
    case R_SUM:
    case R_MEAN:
    case R_LOGSUM: s += v; break;
    case R_MAX: s = (isnan(v) || isnan(s)) ? NAN : (v > s ? v : s); break;
    case R_MIN: s = (isnan(v) || isnan(s)) ? NAN : (v < s ? v : s); break;
    case R_PROD: s *= v; break;
    case R_L1: s += fabs(v); break;
    case R_L2:
    case R_SUMSQ: s += v * v; break;
    case R_LOGSUMEXP: s += exp(v - mx); break;
    }
  }
  switch (c->kind) {
  case R_MEAN: return s / (double)p->n_red;
  case R_L2: return sqrt(s);
  case R_LOGSUM: return log(s);
  case R_LOGSUMEXP: return p->n_red ? log(s) + mx : -INFINITY;
  default: return s;
  }
}

static int64_t reduce_i(const reduce_ctx *c, int64_t base) {
  const qc_rplan *p = c->p;
  const qc_acc *a = &c->ax;
  const qc_dtype_traits *t = qc_dtype_traits_of(a->dt);
  uint64_t s;
  switch (c->kind) {
  case R_MAX: s = c->isu64 ? 0 : (uint64_t)t->imin; break;
  case R_MIN: s = c->isu64 ? UINT64_MAX : (uint64_t)t->imax; break;
  case R_PROD: s = 1; break;
  default: s = 0; break;
  }
  qc_rplan_iter it;
  qc_rplan_iter_start(&it);
  for (int64_t r = 0; r < p->n_red; r++, qc_rplan_iter_next(p, &it)) {
    int64_t v = a->geti(a->dt, c->x, (size_t)(base + it.off));
    uint64_t u = (uint64_t)v;
    switch (c->kind) {
    case R_MAX:
      if (c->isu64 ? u > s : v > (int64_t)s) s = u;
      break;
    case R_MIN:
      if (c->isu64 ? u < s : v < (int64_t)s) s = u;
      break;
    case R_PROD: s *= u; break;
    case R_L1: s += v < 0 ? (uint64_t)0 - u : u; break;
    case R_SUMSQ: s += u * u; break;
    default: s += u; break; /* sum; mean, l2, logs finish below */
    }
  }
  double d = c->isu64 ? (double)s : (double)(int64_t)s;
  switch (c->kind) {
  case R_MEAN: return (int64_t)(d / (double)p->n_red);
  case R_L2: return (int64_t)sqrt(d);
  case R_LOGSUM: return (int64_t)log(d);
  default: return (int64_t)s;
  }
}

static void reduce_chunk(void *vc, int64_t begin, int64_t end) {
  const reduce_ctx *c = vc;
  for (int64_t o = begin; o < end; o++) {
    int64_t base = qc_rplan_base(c->p, o);
    if (c->isfloat || c->kind == R_LOGSUMEXP)
      c->ay.setf(c->ay.dt, c->y, (size_t)o, reduce_f(c, base));
    else
      c->ay.seti(c->ay.dt, c->y, (size_t)o, reduce_i(c, base));
  }
}

/* The opset from which `axes` is an input rather than an attribute. */
static int64_t axes_input_since(qc_op op) { return op == QC_OP_ReduceSum ? 13 : 18; }

static qc_status reduce(qc_kctx *k, rkind kind) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x) return qc_k_error(k, "input 0 is missing");
  const qc_dtype_traits *tr = qc_dtype_traits_of(x->dtype);
  if (tr->kind != QC_KIND_FLOAT && tr->kind != QC_KIND_INT && tr->kind != QC_KIND_BOOL)
    return qc_k_error(k, "dtype %s is not supported", tr->name);
  int64_t axes[QC_MAX_RANK];
  int64_t n_axes = -1;
  if (qc_k_opset(k) >= axes_input_since(k->n->op)) {
    const qc_tensor *ta = qc_k_in(k, 1);
    if (ta) QC_RETURN_IF_ERROR(qc_k_ints(k, ta, "axes", axes, QC_MAX_RANK, &n_axes));
  } else {
    QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "axes", axes, QC_MAX_RANK, &n_axes));
  }
  bool mask[QC_MAX_RANK];
  if (n_axes <= 0) {
    bool noop = qc_k_int(k, "noop_with_empty_axes", 0) != 0;
    for (int32_t d = 0; d < x->rank; d++) mask[d] = !noop;
  } else {
    QC_RETURN_IF_ERROR(qc_k_axes_mask(k, axes, n_axes, x->rank, mask));
  }
  bool keep = qc_k_int(k, "keepdims", 1) != 0;
  int64_t od[QC_MAX_RANK];
  int32_t orank = 0;
  for (int32_t d = 0; d < x->rank; d++) {
    if (!mask[d]) od[orank++] = x->dims[d];
    else if (keep) od[orank++] = 1;
  }
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, orank, od, &y));
  qc_rplan p;
  qc_rplan_init(&p, x->rank, x->dims, mask);
  reduce_ctx c = {kind, &p, qc_tensor_data(x), qc_acc_of(x->dtype), qc_acc_of(x->dtype),
                  qc_tensor_data(y), tr->kind == QC_KIND_FLOAT, x->dtype == QC_U64};
  int64_t grain = p.n_red > 0 ? (1 << 14) / p.n_red + 1 : 1 << 14;
  if (tr->bits < 8) reduce_chunk(&c, 0, p.n_out);
  else qc_k_parallel_for(k, p.n_out, grain, reduce_chunk, &c);
  return QC_OK;
}

#define REDUCE_KERNEL(name, kind)                                                                 \
  static qc_status k_##name(qc_kctx *k) { return reduce(k, kind); }
REDUCE_KERNEL(reduce_sum, R_SUM)
REDUCE_KERNEL(reduce_mean, R_MEAN)
REDUCE_KERNEL(reduce_max, R_MAX)
REDUCE_KERNEL(reduce_min, R_MIN)
REDUCE_KERNEL(reduce_prod, R_PROD)
REDUCE_KERNEL(reduce_l1, R_L1)
REDUCE_KERNEL(reduce_l2, R_L2)
REDUCE_KERNEL(reduce_logsum, R_LOGSUM)
REDUCE_KERNEL(reduce_logsumexp, R_LOGSUMEXP)
REDUCE_KERNEL(reduce_sumsq, R_SUMSQ)

/* ---- ArgMax / ArgMin ---------------------------------------------------------------------------- */

/* numpy's argmax/argmin: NaN wins (the first one, or the last with select_last_index). */
static qc_status arg_extreme(qc_kctx *k, bool is_max) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x) return qc_k_error(k, "input 0 is missing");
  int32_t axis;
  QC_RETURN_IF_ERROR(qc_k_axis(k, qc_k_int(k, "axis", 0), x->rank, &axis));
  bool keep = qc_k_int(k, "keepdims", 1) != 0;
  bool last = qc_k_int(k, "select_last_index", 0) != 0;
  bool mask[QC_MAX_RANK] = {false};
  mask[axis] = true;
  int64_t od[QC_MAX_RANK];
  int32_t orank = 0;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d != axis) od[orank++] = x->dims[d];
    else if (keep) od[orank++] = 1;
  }
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_I64, orank, od, &y));
  int64_t n = x->dims[axis];
  if (n == 0 && qc_tensor_numel(y) > 0) return qc_k_error(k, "cannot reduce an empty axis");
  qc_rplan p;
  qc_rplan_init(&p, x->rank, x->dims, mask);
  int64_t stride = 1;
  for (int32_t d = axis + 1; d < x->rank; d++) stride *= x->dims[d];
  const void *xd = qc_tensor_data(x);
  int64_t *yd = qc_tensor_data(y);
  qc_acc a = qc_acc_of(x->dtype);
  bool fl = qc_dtype_is_float(x->dtype), u64 = x->dtype == QC_U64;
  for (int64_t o = 0; o < p.n_out; o++) {
    int64_t base = qc_rplan_base(&p, o), best = 0;
    if (fl) {
      double bv = a.getf(a.dt, xd, (size_t)base);
      for (int64_t i = 1; i < n; i++) {
        double v = a.getf(a.dt, xd, (size_t)(base + i * stride));
        bool take;
        if (isnan(bv)) take = last && isnan(v);
        else if (isnan(v)) take = true;
        else take = is_max ? (v > bv || (last && v == bv)) : (v < bv || (last && v == bv));
        if (take) {
          best = i;
          bv = v;
        }
      }
    } else {
      int64_t bv = a.geti(a.dt, xd, (size_t)base);
      for (int64_t i = 1; i < n; i++) {
        int64_t v = a.geti(a.dt, xd, (size_t)(base + i * stride));
        bool gt = u64 ? (uint64_t)v > (uint64_t)bv : v > bv;
        bool lt = u64 ? (uint64_t)v < (uint64_t)bv : v < bv;
        if ((is_max ? gt : lt) || (last && v == bv)) {
          best = i;
          bv = v;
        }
      }
    }
    yd[o] = best;
  }
  return QC_OK;
}
static qc_status k_argmax(qc_kctx *k) { return arg_extreme(k, true); }
static qc_status k_argmin(qc_kctx *k) { return arg_extreme(k, false); }

/* ---- CumSum / CumProd --------------------------------------------------------------------------- */

static qc_status cumulative(qc_kctx *k, bool prod) {
  const qc_tensor *x = qc_k_in(k, 0), *ta = qc_k_in(k, 1);
  if (!x || !ta) return qc_k_error(k, "expects 2 inputs");
  int64_t av;
  int64_t na;
  QC_RETURN_IF_ERROR(qc_k_ints(k, ta, "axis", &av, 1, &na));
  if (na != 1) return qc_k_error(k, "axis must be a scalar");
  int32_t axis;
  QC_RETURN_IF_ERROR(qc_k_axis(k, av, x->rank, &axis));
  bool excl = qc_k_int(k, "exclusive", 0) != 0, rev = qc_k_int(k, "reverse", 0) != 0;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, x, &y));
  bool mask[QC_MAX_RANK] = {false};
  mask[axis] = true;
  qc_rplan p;
  qc_rplan_init(&p, x->rank, x->dims, mask);
  int64_t n = x->dims[axis], stride = 1;
  for (int32_t d = axis + 1; d < x->rank; d++) stride *= x->dims[d];
  qc_acc a = qc_acc_of(x->dtype);
  const void *xd = qc_tensor_data(x);
  void *yd = qc_tensor_data(y);
  bool fl = qc_dtype_is_float(x->dtype);
  for (int64_t o = 0; o < p.n_out; o++) {
    int64_t base = qc_rplan_base(&p, o);
    double fs = prod ? 1 : 0;
    uint64_t is = prod ? 1 : 0;
    for (int64_t t = 0; t < n; t++) {
      int64_t i = rev ? n - 1 - t : t;
      size_t off = (size_t)(base + i * stride);
      if (fl) {
        double v = a.getf(a.dt, xd, off);
        if (!excl) fs = prod ? fs * v : fs + v;
        a.setf(a.dt, yd, off, fs);
        if (excl) fs = prod ? fs * v : fs + v;
      } else {
        uint64_t v = (uint64_t)a.geti(a.dt, xd, off);
        if (!excl) is = prod ? is * v : is + v;
        a.seti(a.dt, yd, off, (int64_t)is);
        if (excl) is = prod ? is * v : is + v;
      }
    }
  }
  return QC_OK;
}
static qc_status k_cumsum(qc_kctx *k) { return cumulative(k, false); }
static qc_status k_cumprod(qc_kctx *k) { return cumulative(k, true); }

/* ---- Softmax, LogSoftmax, Hardmax -------------------------------------------------------------- */

typedef enum { SM_SOFTMAX, SM_LOG, SM_HARD } sm_kind;

typedef struct sm_ctx {
  sm_kind kind;
  const qc_rplan *p;
  const void *x;
  void *y;
  qc_acc a;
} sm_ctx;

static void sm_chunk(void *vc, int64_t begin, int64_t end) {
  const sm_ctx *c = vc;
  const qc_rplan *p = c->p;
  const qc_acc *a = &c->a;
  for (int64_t o = begin; o < end; o++) {
    int64_t base = qc_rplan_base(p, o);
    qc_rplan_iter it;
    double mx = -INFINITY;
    int64_t arg = -1;
    qc_rplan_iter_start(&it);
    for (int64_t r = 0; r < p->n_red; r++, qc_rplan_iter_next(p, &it)) {
      double v = a->getf(a->dt, c->x, (size_t)(base + it.off));
      if (arg < 0 || v > mx || (isnan(v) && !isnan(mx))) {
        mx = v;
        arg = r;
      }
    }
    if (c->kind == SM_HARD) {
      qc_rplan_iter_start(&it);
      for (int64_t r = 0; r < p->n_red; r++, qc_rplan_iter_next(p, &it))
        a->setf(a->dt, c->y, (size_t)(base + it.off), r == arg ? 1.0 : 0.0);
      continue;
    }
    double sum = 0;
    qc_rplan_iter_start(&it);
    for (int64_t r = 0; r < p->n_red; r++, qc_rplan_iter_next(p, &it))
      sum += exp(a->getf(a->dt, c->x, (size_t)(base + it.off)) - mx);
    double lsum = log(sum);
    qc_rplan_iter_start(&it);
    for (int64_t r = 0; r < p->n_red; r++, qc_rplan_iter_next(p, &it)) {
      size_t off = (size_t)(base + it.off);
      double v = a->getf(a->dt, c->x, off) - mx;
      a->setf(a->dt, c->y, off, c->kind == SM_LOG ? v - lsum : exp(v) / sum);
    }
  }
}

/* Before opset 13 the input is coerced to 2-D at `axis` (default 1) and normalized over
 * the trailing block; from 13 on, over the single axis (default -1). */
static qc_status softmax_like(qc_kctx *k, sm_kind kind) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x) return qc_k_error(k, "input 0 is missing");
  if (!qc_dtype_is_float(x->dtype))
    return qc_k_error(k, "dtype %s is not supported", qc_dtype_name(x->dtype));
  bool legacy = qc_k_opset(k) < 13;
  int64_t av = qc_k_attr(k, "axis") ? qc_k_int(k, "axis", -1) : (legacy ? 1 : -1);
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, x, &y));
  bool mask[QC_MAX_RANK] = {false};
  int32_t axis;
  if (legacy) {
    /* axis may equal the rank (an empty trailing block). */
    if (av < 0) av += x->rank;
    if (av < 0 || av > x->rank) return qc_k_error(k, "axis %lld out of range", (long long)av);
    for (int32_t d = (int32_t)av; d < x->rank; d++) mask[d] = true;
  } else {
    QC_RETURN_IF_ERROR(qc_k_axis(k, av, x->rank, &axis));
    mask[axis] = true;
  }
  if (qc_tensor_numel(x) == 0) return QC_OK;
  qc_rplan p;
  qc_rplan_init(&p, x->rank, x->dims, mask);
  sm_ctx c = {kind, &p, qc_tensor_data(x), qc_tensor_data(y), qc_acc_of(x->dtype)};
  if (qc_dtype_traits_of(x->dtype)->bits < 8) sm_chunk(&c, 0, p.n_out);
  else qc_k_parallel_for(k, p.n_out, (1 << 12) / (p.n_red + 1) + 1, sm_chunk, &c);
  return QC_OK;
}
static qc_status k_softmax(qc_kctx *k) { return softmax_like(k, SM_SOFTMAX); }
static qc_status k_logsoftmax(qc_kctx *k) { return softmax_like(k, SM_LOG); }
static qc_status k_hardmax(qc_kctx *k) { return softmax_like(k, SM_HARD); }

/* ---- normalizations ----------------------------------------------------------------------------- */

/* y = x / ||x||_p along axis (p = 1 or 2); a zero norm gives 0. */
static qc_status k_lp_normalization(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x) return qc_k_error(k, "input 0 is missing");
  int64_t pv = qc_k_int(k, "p", 2);
  if (pv != 1 && pv != 2) return qc_k_error(k, "p must be 1 or 2, got %lld", (long long)pv);
  int32_t axis;
  QC_RETURN_IF_ERROR(qc_k_axis(k, qc_k_int(k, "axis", -1), x->rank, &axis));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, x, &y));
  bool mask[QC_MAX_RANK] = {false};
  mask[axis] = true;
  qc_rplan p;
  qc_rplan_init(&p, x->rank, x->dims, mask);
  qc_acc a = qc_acc_of(x->dtype);
  const void *xd = qc_tensor_data(x);
  void *yd = qc_tensor_data(y);
  for (int64_t o = 0; o < p.n_out; o++) {
    int64_t base = qc_rplan_base(&p, o);
    double s = 0;
    qc_rplan_iter it;
    qc_rplan_iter_start(&it);
    for (int64_t r = 0; r < p.n_red; r++, qc_rplan_iter_next(&p, &it)) {
      double v = a.getf(a.dt, xd, (size_t)(base + it.off));
      s += pv == 1 ? fabs(v) : v * v;
    }
    double norm = pv == 1 ? s : sqrt(s);
    qc_rplan_iter_start(&it);
    for (int64_t r = 0; r < p.n_red; r++, qc_rplan_iter_next(&p, &it)) {
      size_t off = (size_t)(base + it.off);
      a.setf(a.dt, yd, off, norm == 0 ? 0.0 : a.getf(a.dt, xd, off) / norm);
    }
  }
  return QC_OK;
}

/* y = (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over `axes` (default [0, 2, 3]), as the
 * op's function body defines it. */
static qc_status k_mvn(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x) return qc_k_error(k, "input 0 is missing");
  int64_t axes[QC_MAX_RANK] = {0, 2, 3};
  int64_t n;
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "axes", axes, QC_MAX_RANK, &n));
  if (n < 0) n = 3;
  bool mask[QC_MAX_RANK];
  QC_RETURN_IF_ERROR(qc_k_axes_mask(k, axes, n, x->rank, mask));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, x, &y));
  qc_rplan p;
  qc_rplan_init(&p, x->rank, x->dims, mask);
  qc_acc a = qc_acc_of(x->dtype);
  const void *xd = qc_tensor_data(x);
  void *yd = qc_tensor_data(y);
  for (int64_t o = 0; o < p.n_out; o++) {
    int64_t base = qc_rplan_base(&p, o);
    double s = 0, s2 = 0;
    qc_rplan_iter it;
    qc_rplan_iter_start(&it);
    for (int64_t r = 0; r < p.n_red; r++, qc_rplan_iter_next(&p, &it)) {
      double v = a.getf(a.dt, xd, (size_t)(base + it.off));
      s += v;
      s2 += v * v;
    }
    double mean = s / (double)p.n_red, var = s2 / (double)p.n_red - mean * mean;
    double den = sqrt(var > 0 ? var : 0) + 1e-9;
    qc_rplan_iter_start(&it);
    for (int64_t r = 0; r < p.n_red; r++, qc_rplan_iter_next(&p, &it)) {
      size_t off = (size_t)(base + it.off);
      a.setf(a.dt, yd, off, (a.getf(a.dt, xd, off) - mean) / den);
    }
  }
  return QC_OK;
}

const qc_kernel_entry qc_kernels_reduce[] = {
    {QC_OP_ReduceSum, k_reduce_sum},
    {QC_OP_ReduceMean, k_reduce_mean},
    {QC_OP_ReduceMax, k_reduce_max},
    {QC_OP_ReduceMin, k_reduce_min},
    {QC_OP_ReduceProd, k_reduce_prod},
    {QC_OP_ReduceL1, k_reduce_l1},
    {QC_OP_ReduceL2, k_reduce_l2},
    {QC_OP_ReduceLogSum, k_reduce_logsum},
    {QC_OP_ReduceLogSumExp, k_reduce_logsumexp},
    {QC_OP_ReduceSumSquare, k_reduce_sumsq},
    {QC_OP_ArgMax, k_argmax},
    {QC_OP_ArgMin, k_argmin},
    {QC_OP_CumSum, k_cumsum},
    {QC_OP_CumProd, k_cumprod},
    {QC_OP_Softmax, k_softmax},
    {QC_OP_LogSoftmax, k_logsoftmax},
    {QC_OP_Hardmax, k_hardmax},
    {QC_OP_LpNormalization, k_lp_normalization},
    {QC_OP_MeanVarianceNormalization, k_mvn},
    {QC_OP_INVALID, NULL},
};
