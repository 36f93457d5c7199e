/* Interpreter kernels: tensor manipulation — shapes, layouts, padding, resizing,
 * sampling, sorting and selection. Semantics follow the ONNX operator specifications;
 * every kernel moves elements of any dtype unless the op computes with values. */
#include "runtime/kmove.h"

#include <float.h>
#include <stdatomic.h>
#include <math.h>
#include <stdlib.h>

/* ---- shared helpers ------------------------------------------------------------------------- */

/* Output i shares x's data with a new shape of the same element count. */
static qc_status out_view(qc_kctx *k, int32_t i, const qc_tensor *x, int32_t rank,
                          const int64_t *dims) {
  if (rank < 0 || rank > QC_MAX_RANK)
    return qc_k_error(k, "output rank %d exceeds quarc's limit of %d", rank, QC_MAX_RANK);
  int64_t n = qc_shape_numel(rank, dims);
  if (n != qc_tensor_numel(x))
    return qc_k_error(k, "cannot view %lld elements as %lld", (long long)qc_tensor_numel(x),
                      (long long)n);
  qc_k_out_alias(k, i, x);
  qc_tensor *t = &k->out[i].t;
  memset(t->dims, 0, sizeof t->dims);
  t->rank = rank;
  for (int32_t d = 0; d < rank; d++) t->dims[d] = dims[d];
  return QC_OK;
}

/* Allocate output i with the maps' shape and gather x through them. Frees the maps. */
static qc_status gather_mapped(qc_kctx *k, int32_t i, const qc_tensor *x, qc_axis_maps *m,
                               const void *fill) {
  qc_mover mv;
  qc_tensor *y;
  qc_status s = qc_mover_init(k, &mv, x->dtype);
  if (!s) s = qc_k_out(k, i, x->dtype, m->rank, m->dims, &y);
  if (!s && !qc_move_mapped(k, &mv, qc_tensor_data(y), m, qc_tensor_data(x), fill)) s = QC_OOM();
  qc_maps_free(m);
  return s;
}

static qc_status need_in(const qc_kctx *k, int32_t i, const char *what, const qc_tensor **out) {
  *out = qc_k_in(k, i);
  if (!*out) return qc_k_error(k, "input %d (%s) is missing or not a tensor", i, what);
  return QC_OK;
}

/* An optional input: absent, or present with at least one element. */
static const qc_tensor *opt_in(const qc_kctx *k, int32_t i) {
  const qc_tensor *t = qc_k_in(k, i);
  return t && qc_tensor_numel(t) > 0 ? t : NULL;
}

/* Integer list from input `in` when present, else from attribute `attr`. *found tells
 * whether either exists. */
static qc_status ints_from(const qc_kctx *k, int32_t in, const char *attr, int64_t *out,
                           int64_t max, int64_t *n, bool *found) {
  const qc_tensor *t = qc_k_in(k, in);
  *found = t != NULL;
  if (t) return qc_k_ints(k, t, attr, out, max, n);
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, attr, out, max, n));
  *found = *n >= 0;
  if (*n < 0) *n = 0;
  return QC_OK;
}

/* One element of dtype dt holding the number v (the fill of Pad/Resize extrapolation). */
static void elem_from_f64(qc_dtype dt, double v, void *buf) {
  memset(buf, 0, 16);
  if (dt != QC_STRING) qc_elem_set_f64(dt, buf, 0, v, QC_ENC_SATURATE);
}

/* ---- reshaping views ------------------------------------------------------------------------ */

static qc_status k_reshape(qc_kctx *k) {
  const qc_tensor *x, *sh;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "shape", &sh));
  int64_t d[QC_MAX_RANK], n;
  QC_RETURN_IF_ERROR(qc_k_ints(k, sh, "shape", d, QC_MAX_RANK, &n));
  bool allowzero = qc_k_int(k, "allowzero", 0) != 0;
  int32_t infer = -1;
  int64_t known = 1;
  for (int32_t i = 0; i < (int32_t)n; i++) {
    if (d[i] == -1) {
      if (infer >= 0) return qc_k_error(k, "shape has more than one -1");
      infer = i;
      continue;
    }
    if (d[i] == 0 && !allowzero) {
      if (i >= x->rank) return qc_k_error(k, "shape[%d] = 0 copies a dimension the input lacks", i);
      d[i] = x->dims[i];
    }
    if (d[i] < 0) return qc_k_error(k, "shape[%d] = %lld is invalid", i, (long long)d[i]);
    known *= d[i];
  }
  int64_t total = qc_tensor_numel(x);
  if (infer >= 0) {
    if (known == 0 || total % known)
      return qc_k_error(k, "cannot infer the -1 dimension: %lld elements into a multiple of %lld",
                        (long long)total, (long long)known);
    d[infer] = total / known;
  }
  return out_view(k, 0, x, (int32_t)n, d);
}

static qc_status k_flatten(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "input", &x));
  int64_t axis = qc_k_int(k, "axis", 1);
  if (axis < 0) axis += x->rank;
  if (axis < 0 || axis > x->rank)
    return qc_k_error(k, "axis %lld is out of range for rank %d", (long long)qc_k_int(k, "axis", 1),
                      x->rank);
  int64_t d[2] = {qc_shape_numel((int32_t)axis, x->dims),
                  qc_shape_numel(x->rank - (int32_t)axis, x->dims + axis)};
  return out_view(k, 0, x, 2, d);
}

static qc_status k_squeeze(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  int64_t axes[QC_MAX_RANK], n;
  bool found;
  QC_RETURN_IF_ERROR(ints_from(k, 1, "axes", axes, QC_MAX_RANK, &n, &found));
  bool drop[QC_MAX_RANK] = {false};
  if (!found) {
    for (int32_t d = 0; d < x->rank; d++) drop[d] = x->dims[d] == 1;
  }
  for (int64_t i = 0; i < n; i++) {
    int32_t a;
    QC_RETURN_IF_ERROR(qc_k_axis(k, axes[i], x->rank, &a));
    if (x->dims[a] != 1)
      return qc_k_error(k, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
    drop[a] = true;
  }
  int64_t d[QC_MAX_RANK];
  int32_t r = 0;
  for (int32_t i = 0; i < x->rank; i++)
    if (!drop[i]) d[r++] = x->dims[i];
  return out_view(k, 0, x, r, d);
}

static qc_status k_unsqueeze(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  int64_t axes[QC_MAX_RANK], n;
  bool found;
  QC_RETURN_IF_ERROR(ints_from(k, 1, "axes", axes, QC_MAX_RANK, &n, &found));
  if (!found) return qc_k_error(k, "axes are missing");
  int32_t r = x->rank + (int32_t)n;
  if (r > QC_MAX_RANK) return qc_k_error(k, "output rank %d exceeds quarc's limit", r);
  bool ins[QC_MAX_RANK] = {false};
  for (int64_t i = 0; i < n; i++) {
    int32_t a;
    QC_RETURN_IF_ERROR(qc_k_axis(k, axes[i], r, &a));
    if (ins[a]) return qc_k_error(k, "axis %d is given twice", a);
    ins[a] = true;
  }
  int64_t d[QC_MAX_RANK];
  for (int32_t i = 0, j = 0; i < r; i++) d[i] = ins[i] ? 1 : x->dims[j++];
  return out_view(k, 0, x, r, d);
}

/* ---- layout ---------------------------------------------------------------------------------- */

static qc_status k_transpose(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  int64_t perm[QC_MAX_RANK], n;
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "perm", perm, QC_MAX_RANK, &n));
  if (n >= 0) {
    if (n != x->rank)
      return qc_k_error(k, "perm has %lld entries for rank %d", (long long)n, x->rank);
    bool seen[QC_MAX_RANK] = {false};
    for (int32_t i = 0; i < n; i++) {
      int32_t p;
      QC_RETURN_IF_ERROR(qc_k_axis(k, perm[i], x->rank, &p));
      if (seen[p]) return qc_k_error(k, "perm is not a permutation");
      seen[p] = true;
      perm[i] = p;
    }
  } else {
    for (int32_t i = 0; i < x->rank; i++) perm[i] = x->rank - 1 - i;
  }
  qc_axis_maps m;
  if (!qc_maps_transpose(&m, x->rank, x->dims, perm)) return QC_OOM();
  return gather_mapped(k, 0, x, &m, NULL);
}

static qc_status k_concat(qc_kctx *k) {
  const qc_tensor *x0 = NULL;
  for (int32_t i = 0; i < k->n_in && !x0; i++) x0 = qc_k_in(k, i);
  if (!x0) return qc_k_error(k, "no inputs");
  int32_t axis;
  QC_RETURN_IF_ERROR(qc_k_axis(k, qc_k_int(k, "axis", 0), x0->rank, &axis));
  int64_t d[QC_MAX_RANK];
  memcpy(d, x0->dims, sizeof d);
  d[axis] = 0;
  for (int32_t i = 0; i < k->n_in; i++) {
    const qc_tensor *t = qc_k_in(k, i);
    if (!t) continue;
    if (t->dtype != x0->dtype || t->rank != x0->rank)
      return qc_k_error(k, "input %d: dtype or rank differs from input 0", i);
    for (int32_t j = 0; j < t->rank; j++)
      if (j != axis && t->dims[j] != x0->dims[j])
        return qc_k_error(k, "input %d: dimension %d is %lld, expected %lld", i, j,
                          (long long)t->dims[j], (long long)x0->dims[j]);
    d[axis] += t->dims[axis];
  }
  qc_mover mv;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, x0->dtype));
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x0->dtype, x0->rank, d, &y));
  int64_t outer = qc_shape_numel(axis, d),
          inner = qc_shape_numel(x0->rank - (axis + 1), d + (axis + 1));
  int64_t row = d[axis] * inner, off = 0;
  for (int32_t i = 0; i < k->n_in; i++) {
    const qc_tensor *t = qc_k_in(k, i);
    if (!t) continue;
    int64_t blk = t->dims[axis] * inner;
    if (!qc_move_blocks(&mv, qc_tensor_data(y), off, row, qc_tensor_data(t), 0, blk, blk, outer))
      return QC_OOM();
    off += blk;
  }
  return QC_OK;
}

static qc_status k_split(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "input", &x));
  int32_t axis;
  QC_RETURN_IF_ERROR(qc_k_axis(k, qc_k_int(k, "axis", 0), x->rank, &axis));
  int32_t nout = k->n_out;
  int64_t *len = calloc((size_t)nout, sizeof *len);
  if (!len) return QC_OOM();
  int64_t n = 0;
  bool found = false;
  qc_status s = QC_OK;
  const qc_tensor *st = qc_k_in(k, 1);
  if (st) {
    found = true;
    s = qc_k_ints(k, st, "split", len, nout, &n);
  } else {
    s = qc_k_attr_ints(k, "split", len, nout, &n);
    found = n >= 0;
  }
  int64_t dim = x->dims[axis];
  if (!s && found) {
    int64_t sum = 0;
    if (n != nout) s = qc_k_error(k, "split has %lld entries for %d outputs", (long long)n, nout);
    for (int32_t i = 0; i < nout && !s; i++) {
      if (len[i] < 0) s = qc_k_error(k, "split[%d] is negative", i);
      sum += len[i];
    }
    if (!s && sum != dim)
      s = qc_k_error(k, "split sums to %lld, axis %d has %lld", (long long)sum, axis,
                     (long long)dim);
  } else if (!s) {
    /* Equal parts; with num_outputs (opset 18) the last part may be smaller. */
    int64_t parts = qc_k_int(k, "num_outputs", 0);
    if (parts && parts != nout)
      s = qc_k_error(k, "num_outputs is %lld but the node has %d outputs", (long long)parts, nout);
    int64_t chunk = (dim + nout - 1) / nout;
    if (!parts && dim % nout)
      s = qc_k_error(k, "axis %d of size %lld does not split into %d equal parts", axis,
                     (long long)dim, nout);
    int64_t left = 0;
    for (int32_t i = 0; i < nout && !s; i++) {
      int64_t rest = dim - left;
      len[i] = rest < chunk ? (rest > 0 ? rest : 0) : chunk;
      left += len[i];
    }
  }
  qc_mover mv;
  if (!s) s = qc_mover_init(k, &mv, x->dtype);
  int64_t outer = qc_shape_numel(axis, x->dims),
          inner = qc_shape_numel(x->rank - (axis + 1), x->dims + (axis + 1));
  int64_t start = 0;
  for (int32_t i = 0; i < nout && !s; i++) {
    int64_t d[QC_MAX_RANK];
    memcpy(d, x->dims, sizeof d);
    d[axis] = len[i];
    qc_tensor *y;
    if (qc_k_out_used(k, i)) {
      s = qc_k_out(k, i, x->dtype, x->rank, d, &y);
      if (!s && !qc_move_blocks(&mv, qc_tensor_data(y), 0, len[i] * inner, qc_tensor_data(x),
                                start * inner, dim * inner, len[i] * inner, outer))
        s = QC_OOM();
    }
    start += len[i];
  }
  free(len);
  return s;
}

/* Resolve one axis of a slice: start, step and length after ONNX's clamping rules. */
static void slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *s0,
                       int64_t *len) {
  /* A step longer than the axis takes one element at most; bounding it keeps the length
   * arithmetic below from overflowing (INT64_MIN steps). */
  if (step > dim) step = dim + 1;
  if (step < -dim) step = -dim - 1;
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (step > 0) {
    start = start < 0 ? 0 : start > dim ? dim : start;
    end = end < 0 ? 0 : end > dim ? dim : end;
    *len = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
    end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
    *len = start > end ? (start - end + (-step) - 1) / (-step) : 0;
  }
  *s0 = start;
}

static qc_status k_slice(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  int64_t starts[QC_MAX_RANK], ends[QC_MAX_RANK], axes[QC_MAX_RANK], steps[QC_MAX_RANK];
  int64_t ns, ne, na = 0, nst = 0;
  bool f1, f2, fa = false, fs = false;
  QC_RETURN_IF_ERROR(ints_from(k, 1, "starts", starts, QC_MAX_RANK, &ns, &f1));
  QC_RETURN_IF_ERROR(ints_from(k, 2, "ends", ends, QC_MAX_RANK, &ne, &f2));
  if (!f1 || !f2) return qc_k_error(k, "starts and ends are required");
  if (ns != ne) return qc_k_error(k, "starts and ends differ in length");
  QC_RETURN_IF_ERROR(ints_from(k, 3, "axes", axes, QC_MAX_RANK, &na, &fa));
  if (qc_k_in(k, 4)) {
    fs = true;
    QC_RETURN_IF_ERROR(qc_k_ints(k, qc_k_in(k, 4), "steps", steps, QC_MAX_RANK, &nst));
  }
  if (fa && na != ns) return qc_k_error(k, "axes and starts differ in length");
  if (fs && nst != ns) return qc_k_error(k, "steps and starts differ in length");
  int64_t st[QC_MAX_RANK], s0[QC_MAX_RANK], step[QC_MAX_RANK], len[QC_MAX_RANK];
  bool seen[QC_MAX_RANK] = {false};
  for (int32_t d = 0; d < x->rank; d++) {
    s0[d] = 0;
    step[d] = 1;
    len[d] = x->dims[d];
  }
  for (int64_t i = 0; i < ns; i++) {
    int32_t a;
    QC_RETURN_IF_ERROR(qc_k_axis(k, fa ? axes[i] : i, x->rank, &a));
    if (seen[a]) return qc_k_error(k, "axis %d is sliced twice", a);
    seen[a] = true;
    step[a] = fs ? steps[i] : 1;
    if (step[a] == 0) return qc_k_error(k, "step 0 on axis %d", a);
    slice_axis(x->dims[a], starts[i], ends[i], step[a], &s0[a], &len[a]);
  }
  qc_strides(x->rank, x->dims, st);
  qc_axis_maps m;
  if (!qc_maps_init(&m, x->rank, len)) return QC_OOM();
  for (int32_t d = 0; d < x->rank; d++)
    for (int64_t o = 0; o < len[d]; o++) m.map[d][o] = (s0[d] + o * step[d]) * st[d];
  return gather_mapped(k, 0, x, &m, NULL);
}

/* Map index i (may lie outside [0, n)) into [0, n) by a Pad mode; -1 for constant fill. */
static int64_t pad_index(int64_t i, int64_t n, int mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
  case 1: { /* reflect: mirror without repeating the edge, periodic in 2(n-1) */
    if (n == 1) return 0;
    int64_t p = 2 * (n - 1);
    i %= p;
    if (i < 0) i += p;
    return i < n ? i : p - i;
  }
  case 2:
    return i < 0 ? 0 : n - 1; /* edge */
  case 3:
    i %= n;
    return i < 0 ? i + n : i; /* wrap */
  default:
    return -1;
  }
}

static qc_status k_pad(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  int32_t r = x->rank;
  int64_t pads[2 * QC_MAX_RANK], axes[QC_MAX_RANK], np_ = 0, na = 0;
  bool found;
  const char *mode_s = qc_k_string(k, "mode", "constant");
  int mode = !strcmp(mode_s, "constant")  ? 0
             : !strcmp(mode_s, "reflect") ? 1
             : !strcmp(mode_s, "edge")    ? 2
             : !strcmp(mode_s, "wrap")    ? 3
                                          : -1;
  if (mode < 0) return qc_k_error(k, "unknown mode '%s'", mode_s);
  unsigned char fill[16];
  memset(fill, 0, sizeof fill);
  if (qc_k_in(k, 1)) {
    QC_RETURN_IF_ERROR(qc_k_ints(k, qc_k_in(k, 1), "pads", pads, 2 * QC_MAX_RANK, &np_));
    const qc_tensor *cv = opt_in(k, 2);
    if (cv) {
      if (cv->dtype != x->dtype) return qc_k_error(k, "constant_value dtype differs from data");
      qc_mover mv;
      QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, x->dtype));
      if (mv.str)
        memcpy(fill, qc_tensor_data(cv), sizeof(char *));
      else if (!qc_move(&mv, fill, 0, qc_tensor_data(cv), 0, 1))
        return QC_OOM();
    }
    const qc_tensor *at = opt_in(k, 3);
    if (at) QC_RETURN_IF_ERROR(qc_k_ints(k, at, "axes", axes, QC_MAX_RANK, &na));
  } else {
    QC_RETURN_IF_ERROR(ints_from(k, 1, "pads", pads, 2 * QC_MAX_RANK, &np_, &found));
    if (!found) return qc_k_error(k, "pads are missing");
    elem_from_f64(x->dtype, qc_k_float(k, "value", 0.0), fill);
  }
  if (na == 0) {
    na = r;
    for (int32_t i = 0; i < r; i++) axes[i] = i;
  }
  if (np_ != 2 * na)
    return qc_k_error(k, "pads has %lld entries, expected %lld", (long long)np_,
                      (long long)(2 * na));
  int64_t pb[QC_MAX_RANK] = {0}, pe[QC_MAX_RANK] = {0};
  for (int64_t i = 0; i < na; i++) {
    int32_t a;
    QC_RETURN_IF_ERROR(qc_k_axis(k, axes[i], r, &a));
    pb[a] = pads[i];
    pe[a] = pads[na + i];
  }
  int64_t od[QC_MAX_RANK], st[QC_MAX_RANK];
  for (int32_t d = 0; d < r; d++) {
    od[d] = x->dims[d] + pb[d] + pe[d];
    if (od[d] < 0) return qc_k_error(k, "axis %d: pads crop more than the dimension", d);
  }
  qc_strides(r, x->dims, st);
  qc_axis_maps m;
  if (!qc_maps_init(&m, r, od)) return QC_OOM();
  for (int32_t d = 0; d < r; d++) {
    /* Negative pads crop first; the remaining range [lo, lo+n) is then padded. */
    int64_t lo = pb[d] < 0 ? -pb[d] : 0, hi = x->dims[d] - (pe[d] < 0 ? -pe[d] : 0);
    int64_t n = hi - lo, before = pb[d] > 0 ? pb[d] : 0;
    if (n <= 0 && mode != 0 && od[d] > 0) {
      qc_maps_free(&m);
      return qc_k_error(k, "axis %d: %s padding of an empty range", d, mode_s);
    }
    for (int64_t o = 0; o < od[d]; o++) {
      int64_t i = pad_index(o - before, n, mode);
      m.map[d][o] = i < 0 ? QC_MAP_FILL : (lo + i) * st[d];
    }
  }
  return gather_mapped(k, 0, x, &m, fill);
}

static qc_status k_tile(qc_kctx *k) {
  const qc_tensor *x, *rt;
  QC_RETURN_IF_ERROR(need_in(k, 0, "input", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "repeats", &rt));
  int64_t rep[QC_MAX_RANK], n;
  QC_RETURN_IF_ERROR(qc_k_ints(k, rt, "repeats", rep, QC_MAX_RANK, &n));
  if (n != x->rank)
    return qc_k_error(k, "repeats has %lld entries for rank %d", (long long)n, x->rank);
  int64_t od[QC_MAX_RANK], st[QC_MAX_RANK];
  for (int32_t d = 0; d < x->rank; d++) {
    if (rep[d] < 0) return qc_k_error(k, "repeats[%d] is negative", d);
    if (x->dims[d] && rep[d] > INT64_MAX / x->dims[d])
      return qc_k_error(k, "repeats[%d] makes the output too large", d);
    od[d] = x->dims[d] * rep[d];
  }
  qc_strides(x->rank, x->dims, st);
  qc_axis_maps m;
  if (!qc_maps_init(&m, x->rank, od)) return QC_OOM();
  for (int32_t d = 0; d < x->rank; d++)
    for (int64_t o = 0; o < od[d]; o++) m.map[d][o] = (o % x->dims[d]) * st[d];
  return gather_mapped(k, 0, x, &m, NULL);
}

/* Broadcast maps: x (contiguous) read as an output of rank r with dims od. */
static bool broadcast_maps(qc_axis_maps *m, const qc_tensor *x, int32_t r, const int64_t *od) {
  int64_t st[QC_MAX_RANK];
  qc_strides(x->rank, x->dims, st);
  if (!qc_maps_init(m, r, od)) return false;
  for (int32_t d = 0; d < r; d++) {
    int32_t xd = d - (r - x->rank);
    for (int64_t o = 0; o < od[d]; o++) m->map[d][o] = xd < 0 || x->dims[xd] == 1 ? 0 : o * st[xd];
  }
  return true;
}

static qc_status k_expand(qc_kctx *k) {
  const qc_tensor *x, *sh;
  QC_RETURN_IF_ERROR(need_in(k, 0, "input", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "shape", &sh));
  int64_t d[QC_MAX_RANK], od[QC_MAX_RANK], n;
  int32_t r;
  QC_RETURN_IF_ERROR(qc_k_ints(k, sh, "shape", d, QC_MAX_RANK, &n));
  for (int64_t i = 0; i < n; i++)
    if (d[i] < 0) return qc_k_error(k, "shape[%lld] is negative", (long long)i);
  if (!qc_broadcast_dims(x->rank, x->dims, (int32_t)n, d, &r, od))
    return qc_k_error(k, "input shape does not broadcast to the requested shape");
  qc_axis_maps m;
  if (!broadcast_maps(&m, x, r, od)) return QC_OOM();
  return gather_mapped(k, 0, x, &m, NULL);
}

/* DepthToSpace / SpaceToDepth: a transpose of a 6-D view. */
static qc_status space_depth(qc_kctx *k, bool to_space) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "input", &x));
  if (x->rank != 4) return qc_k_error(k, "expected a 4-D input, got rank %d", x->rank);
  int64_t bs = qc_k_int(k, "blocksize", 0);
  if (bs <= 0) return qc_k_error(k, "blocksize must be positive");
  int64_t b = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
  int64_t view[6], perm[6], od[4];
  if (to_space) {
    if (c % (bs * bs))
      return qc_k_error(k, "channels %lld are not a multiple of blocksize^2", (long long)c);
    int64_t c2 = c / (bs * bs);
    bool crd = !strcmp(qc_k_string(k, "mode", "DCR"), "CRD");
    if (crd) {
      int64_t v[6] = {b, c2, bs, bs, h, w}, p[6] = {0, 1, 4, 2, 5, 3};
      memcpy(view, v, sizeof v);
      memcpy(perm, p, sizeof p);
    } else {
      int64_t v[6] = {b, bs, bs, c2, h, w}, p[6] = {0, 3, 4, 1, 5, 2};
      memcpy(view, v, sizeof v);
      memcpy(perm, p, sizeof p);
    }
    int64_t o[4] = {b, c2, h * bs, w * bs};
    memcpy(od, o, sizeof o);
  } else {
    if (h % bs || w % bs) return qc_k_error(k, "height and width must be multiples of blocksize");
    int64_t v[6] = {b, c, h / bs, bs, w / bs, bs}, p[6] = {0, 3, 5, 1, 2, 4};
    memcpy(view, v, sizeof v);
    memcpy(perm, p, sizeof p);
    int64_t o[4] = {b, c * bs * bs, h / bs, w / bs};
    memcpy(od, o, sizeof o);
  }
  qc_axis_maps m;
  if (!qc_maps_transpose(&m, 6, view, perm)) return QC_OOM();
  QC_RETURN_IF_ERROR(gather_mapped(k, 0, x, &m, NULL));
  qc_tensor *y = &k->out[0].t;
  y->rank = 4;
  memset(y->dims, 0, sizeof y->dims);
  memcpy(y->dims, od, sizeof od);
  return QC_OK;
}

static qc_status k_depth_to_space(qc_kctx *k) { return space_depth(k, true); }
static qc_status k_space_to_depth(qc_kctx *k) { return space_depth(k, false); }

static qc_status k_trilu(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "input", &x));
  if (x->rank < 2) return qc_k_error(k, "expected rank >= 2, got %d", x->rank);
  int64_t kk = 0, n;
  if (qc_k_in(k, 1)) QC_RETURN_IF_ERROR(qc_k_ints(k, qc_k_in(k, 1), "k", &kk, 1, &n));
  bool upper = qc_k_int(k, "upper", 1) != 0;
  qc_mover mv;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, x->dtype));
  QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, x, &y));
  int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
  int64_t mats = qc_shape_numel(x->rank - 2, x->dims);
  for (int64_t b = 0; b < mats; b++)
    for (int64_t i = 0; i < rows; i++) {
      /* upper keeps j - i >= k; lower keeps j - i <= k */
      int64_t lo = upper ? i + kk : 0, hi = upper ? cols : i + kk + 1;
      if (lo < 0) lo = 0;
      if (hi > cols) hi = cols;
      int64_t base = (b * rows + i) * cols;
      if (hi > lo &&
          !qc_move(&mv, qc_tensor_data(y), base + lo, qc_tensor_data(x), base + lo, hi - lo))
        return QC_OOM();
    }
  return QC_OK;
}

static qc_status k_reverse_sequence(qc_kctx *k) {
  const qc_tensor *x, *lt;
  QC_RETURN_IF_ERROR(need_in(k, 0, "input", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "sequence_lens", &lt));
  if (x->rank < 2) return qc_k_error(k, "expected rank >= 2");
  int64_t ta = qc_k_int(k, "time_axis", 0), ba = qc_k_int(k, "batch_axis", 1);
  if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0)))
    return qc_k_error(k, "time_axis and batch_axis must be 0 and 1 in some order");
  int64_t *lens, n;
  QC_RETURN_IF_ERROR(qc_k_ints_alloc(k, lt, "sequence_lens", &lens, &n));
  int64_t T = x->dims[ta], B = x->dims[ba], inner = qc_shape_numel(x->rank - 2, x->dims + 2);
  qc_status s = QC_OK;
  if (n != B)
    s = qc_k_error(k, "sequence_lens has %lld entries for batch %lld", (long long)n, (long long)B);
  for (int64_t b = 0; b < B && !s; b++)
    if (lens[b] < 0 || lens[b] > T)
      s = qc_k_error(k, "sequence_lens[%lld] out of range", (long long)b);
  qc_mover mv;
  qc_tensor *y;
  if (!s) s = qc_mover_init(k, &mv, x->dtype);
  if (!s) s = qc_k_out_like(k, 0, x, &y);
  for (int64_t b = 0; b < B && !s; b++)
    for (int64_t t = 0; t < T && !s; t++) {
      int64_t src_t = t < lens[b] ? lens[b] - 1 - t : t;
      int64_t dst = (ta == 0 ? t * B + b : b * T + t) * inner;
      int64_t src = (ta == 0 ? src_t * B + b : b * T + src_t) * inner;
      if (!qc_move(&mv, qc_tensor_data(y), dst, qc_tensor_data(x), src, inner)) s = QC_OOM();
    }
  free(lens);
  return s;
}

static qc_status k_center_crop_pad(qc_kctx *k) {
  const qc_tensor *x, *sh;
  QC_RETURN_IF_ERROR(need_in(k, 0, "input_data", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "shape", &sh));
  int32_t r = x->rank;
  int64_t shape[QC_MAX_RANK], axes[QC_MAX_RANK], n, na;
  QC_RETURN_IF_ERROR(qc_k_ints(k, sh, "shape", shape, QC_MAX_RANK, &n));
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "axes", axes, QC_MAX_RANK, &na));
  if (na < 0) {
    na = r;
    for (int32_t i = 0; i < r; i++) axes[i] = i;
  }
  if (n != na)
    return qc_k_error(k, "shape has %lld entries for %lld axes", (long long)n, (long long)na);
  int64_t od[QC_MAX_RANK], st[QC_MAX_RANK];
  memcpy(od, x->dims, sizeof od);
  for (int64_t i = 0; i < na; i++) {
    int32_t a;
    QC_RETURN_IF_ERROR(qc_k_axis(k, axes[i], r, &a));
    if (shape[i] < 0) return qc_k_error(k, "shape[%lld] is negative", (long long)i);
    od[a] = shape[i];
  }
  qc_strides(r, x->dims, st);
  qc_axis_maps m;
  if (!qc_maps_init(&m, r, od)) return QC_OOM();
  for (int32_t d = 0; d < r; d++) {
    int64_t in = x->dims[d], out = od[d];
    /* Crop starts at floor((in-out)/2); padding puts the input at floor((out-in)/2). */
    int64_t crop = in > out ? (in - out) / 2 : 0, pad = out > in ? (out - in) / 2 : 0;
    for (int64_t o = 0; o < out; o++) {
      int64_t i = o - pad + crop;
      m.map[d][o] = i >= 0 && i < in && o >= pad && o < pad + in ? i * st[d] : QC_MAP_FILL;
    }
  }
  return gather_mapped(k, 0, x, &m, NULL);
}

static qc_status k_compress(qc_kctx *k) {
  const qc_tensor *x, *c;
  QC_RETURN_IF_ERROR(need_in(k, 0, "input", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "condition", &c));
  if (c->rank != 1) return qc_k_error(k, "condition must be 1-D");
  const qc_attr *aa = qc_k_attr(k, "axis");
  int32_t axis = -1;
  int64_t dim = qc_tensor_numel(x), inner = 1, outer = 1;
  if (aa) {
    QC_RETURN_IF_ERROR(qc_k_axis(k, aa->u.i, x->rank, &axis));
    dim = x->dims[axis];
    outer = qc_shape_numel(axis, x->dims);
    inner = qc_shape_numel(x->rank - (axis + 1), x->dims + (axis + 1));
  }
  int64_t nc = c->dims[0] < dim ? c->dims[0] : dim, cnt = 0;
  const void *cd = qc_tensor_data(c);
  for (int64_t i = 0; i < nc; i++) cnt += qc_elem_f64(c->dtype, cd, (size_t)i) != 0;
  int64_t od[QC_MAX_RANK];
  int32_t r = 1;
  od[0] = cnt;
  if (aa) {
    memcpy(od, x->dims, sizeof od);
    od[axis] = cnt;
    r = x->rank;
  }
  qc_mover mv;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, x->dtype));
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, r, od, &y));
  for (int64_t i = 0, j = 0; i < nc; i++) {
    if (qc_elem_f64(c->dtype, cd, (size_t)i) == 0) continue;
    if (!qc_move_blocks(&mv, qc_tensor_data(y), j * inner, cnt * inner, qc_tensor_data(x),
                        i * inner, dim * inner, inner, outer))
      return QC_OOM();
    j++;
  }
  return QC_OK;
}

static bool elem_nonzero(qc_dtype dt, const void *p, int64_t i) {
  if (dt == QC_STRING) {
    const char *s = ((char *const *)p)[i];
    return s && *s;
  }
  if (qc_dtype_is_int(dt) || dt == QC_BOOL) return qc_elem_code(dt, p, (size_t)i) != 0;
  if (dt == QC_C64 || dt == QC_C128) {
    size_t b = dt == QC_C64 ? 8 : 16;
    const unsigned char *e = (const unsigned char *)p + (size_t)i * b;
    double re, im;
    if (dt == QC_C64) {
      float f[2];
      memcpy(f, e, 8);
      re = f[0], im = f[1];
    } else {
      double f[2];
      memcpy(f, e, 16);
      re = f[0], im = f[1];
    }
    return re != 0 || im != 0;
  }
  return qc_elem_f64(dt, p, (size_t)i) != 0;
}

static qc_status k_nonzero(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "X", &x));
  if (qc_dtype_is_block(x->dtype)) return qc_k_error(k, "block dtypes are not supported");
  int64_t n = qc_tensor_numel(x), cnt = 0;
  const void *p = qc_tensor_data(x);
  for (int64_t i = 0; i < n; i++) cnt += elem_nonzero(x->dtype, p, i);
  int32_t r = x->rank ? x->rank : 1; /* a scalar counts as 1-D, as numpy does */
  int64_t od[2] = {r, cnt}, dd[QC_MAX_RANK];
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_I64, 2, od, &y));
  int64_t *out = qc_tensor_data(y);
  if (x->rank)
    memcpy(dd, x->dims, sizeof dd);
  else
    dd[0] = 1;
  for (int64_t i = 0, j = 0; i < n; i++) {
    if (!elem_nonzero(x->dtype, p, i)) continue;
    int64_t rem = i;
    for (int32_t d = r - 1; d >= 0; d--) {
      out[d * cnt + j] = rem % dd[d];
      rem /= dd[d];
    }
    j++;
  }
  return QC_OK;
}

/* ---- Unique ---------------------------------------------------------------------------------- */

typedef struct slice_cmp_ctx {
  qc_dtype dt;
  const void *p;
  int64_t outer, dim, inner;
} slice_cmp_ctx;

/* Lexicographic order of slices a and b along the axis, elements in row-major order. */
static int slice_cmp(void *ctx, int64_t a, int64_t b) {
  const slice_cmp_ctx *c = ctx;
  for (int64_t o = 0; o < c->outer; o++)
    for (int64_t i = 0; i < c->inner; i++) {
      int64_t base = o * c->dim * c->inner + i;
      int r = qc_elem_compare(c->dt, c->p, base + a * c->inner, c->p, base + b * c->inner);
      if (r) return r;
    }
  return 0;
}

static qc_status k_unique(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "X", &x));
  const qc_attr *aa = qc_k_attr(k, "axis");
  bool sorted = qc_k_int(k, "sorted", 1) != 0;
  slice_cmp_ctx c = {x->dtype, qc_tensor_data(x), 1, qc_tensor_numel(x), 1};
  int32_t axis = -1;
  if (aa) {
    QC_RETURN_IF_ERROR(qc_k_axis(k, aa->u.i, x->rank, &axis));
    c.outer = qc_shape_numel(axis, x->dims);
    c.dim = x->dims[axis];
    c.inner = qc_shape_numel(x->rank - (axis + 1), x->dims + (axis + 1));
  }
  qc_mover mv;
  QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, x->dtype));
  if (x->dtype == QC_C64 || x->dtype == QC_C128)
    return qc_k_error(k, "complex values are not ordered");
  int64_t n = c.dim;
  int64_t *order = malloc(sizeof(int64_t) * (size_t)(3 * n + 1));
  if (!order) return QC_OOM();
  int64_t *group = order + n, *first = group + n; /* group of each slice; first slice of group */
  for (int64_t i = 0; i < n; i++) order[i] = i;
  if (!qc_sort_stable(order, n, slice_cmp, &c)) {
    free(order);
    return QC_OOM();
  }
  /* Groups in sorted order; `first` keeps the lowest index of each (stable sort). */
  int64_t u = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i == 0 || slice_cmp(&c, order[i - 1], order[i]) != 0) first[u++] = order[i];
    group[order[i]] = u - 1;
  }
  /* rank[g]: output position of group g. Sorted: g itself; else by first occurrence. */
  int64_t *pos = malloc(sizeof(int64_t) * (size_t)(2 * u + 1));
  if (!pos) {
    free(order);
    return QC_OOM();
  }
  int64_t *uniq = pos + u; /* output position -> group */
  for (int64_t g = 0; g < u; g++) uniq[g] = g;
  if (!sorted) {
    /* Order groups by their first index (order[] is free scratch now). */
    for (int64_t g = 0, m = 0; g < n && m < u; g++)
      if (first[group[g]] == g) uniq[m++] = group[g];
  }
  for (int64_t p = 0; p < u; p++) pos[uniq[p]] = p;
  qc_status s = QC_OK;
  int64_t od[QC_MAX_RANK];
  int32_t r = 1;
  od[0] = u;
  if (aa) {
    memcpy(od, x->dims, sizeof od);
    od[axis] = u;
    r = x->rank;
  }
  qc_tensor *y, *ti, *tv, *tc;
  s = qc_k_out(k, 0, x->dtype, r, od, &y);
  for (int64_t p = 0; p < u && !s; p++)
    if (!qc_move_blocks(&mv, qc_tensor_data(y), p * c.inner, u * c.inner, c.p,
                        first[uniq[p]] * c.inner, n * c.inner, c.inner, c.outer))
      s = QC_OOM();
  if (!s && qc_k_out_used(k, 1) && !(s = qc_k_out(k, 1, QC_I64, 1, &u, &ti)))
    for (int64_t p = 0; p < u; p++) ((int64_t *)qc_tensor_data(ti))[p] = first[uniq[p]];
  if (!s && qc_k_out_used(k, 2) && !(s = qc_k_out(k, 2, QC_I64, 1, &n, &tv)))
    for (int64_t i = 0; i < n; i++) ((int64_t *)qc_tensor_data(tv))[i] = pos[group[i]];
  if (!s && qc_k_out_used(k, 3) && !(s = qc_k_out(k, 3, QC_I64, 1, &u, &tc))) {
    int64_t *cnt = qc_tensor_data(tc);
    for (int64_t i = 0; i < n; i++) cnt[pos[group[i]]]++;
  }
  free(pos);
  free(order);
  return s;
}

/* ---- TopK ------------------------------------------------------------------------------------ */

/* Rows are ranked on keys loaded once per row: doubles for floats and narrow integers (exact),
 * int64/uint64 for the 64-bit integers. NaN ranks above every number, as numpy sorts it; equal
 * keys rank by index, lower first (ONNX's rule). Small k selects with a heap of the k best. */
typedef union topk_key {
  double f;
  int64_t i;
  uint64_t u;
} topk_key;

enum { KEY_F, KEY_I, KEY_U };

typedef struct topk_job {
  const qc_tensor *x;
  qc_acc acc;
  int kind;
  bool largest;
  int64_t dim, inner, kk;
  void *vals;
  int64_t *idx_out;
  size_t esz;
  _Atomic int failed;
} topk_job;

typedef struct topk_row {
  const topk_key *key;
  int kind;
  bool largest;
} topk_row;

/* Natural order of two keys (NaN last). */
static int key_cmp(const topk_row *r, int64_t a, int64_t b) {
  const topk_key *x = &r->key[a], *y = &r->key[b];
  switch (r->kind) {
  case KEY_I:
    return (x->i > y->i) - (x->i < y->i);
  case KEY_U:
    return (x->u > y->u) - (x->u < y->u);
  default: {
    bool nx = isnan(x->f), ny = isnan(y->f);
    if (nx || ny) return nx - ny;
    return (x->f > y->f) - (x->f < y->f);
  }
  }
}

/* < 0 when element a ranks before element b. */
static int rank_cmp(void *ctx, int64_t a, int64_t b) {
  const topk_row *r = ctx;
  int c = key_cmp(r, a, b);
  if (r->largest) c = -c;
  return c ? c : (a > b) - (a < b);
}

/* Heap of the k best so far with the worst at the root. */
static void heap_sift(const topk_row *r, int64_t *h, int64_t n, int64_t i) {
  for (;;) {
    int64_t w = i, l = 2 * i + 1, rr = l + 1;
    if (l < n && rank_cmp((void *)r, h[l], h[w]) > 0) w = l;
    if (rr < n && rank_cmp((void *)r, h[rr], h[w]) > 0) w = rr;
    if (w == i) return;
    int64_t t = h[i];
    h[i] = h[w];
    h[w] = t;
    i = w;
  }
}

static void topk_rows(void *ctx, int64_t begin, int64_t end) {
  topk_job *j = ctx;
  int64_t dim = j->dim, inner = j->inner, kk = j->kk;
  topk_key *key = malloc(sizeof *key * (size_t)(dim ? dim : 1));
  int64_t *idx = malloc(sizeof *idx * (size_t)(dim ? dim : 1));
  if (!key || !idx) {
    j->failed = 1;
    free(key);
    free(idx);
    return;
  }
  const void *xp = qc_tensor_data(j->x);
  topk_row r = {key, j->kind, j->largest};
  for (int64_t row = begin; row < end; row++) {
    int64_t o = row / inner, i = row % inner, base = o * dim * inner + i;
    for (int64_t e = 0; e < dim; e++) {
      size_t at = (size_t)(base + e * inner);
      if (j->kind == KEY_F)
        key[e].f = j->acc.getf(j->x->dtype, xp, at);
      else if (j->kind == KEY_I)
        key[e].i = j->acc.geti(j->x->dtype, xp, at);
      else
        key[e].u = qc_elem_code(j->x->dtype, xp, at);
    }
    if (kk * 8 < dim) {
      int64_t n = 0;
      for (int64_t e = 0; e < dim; e++) {
        if (n < kk) {
          idx[n++] = e;
          for (int64_t h = n / 2 - 1; n == kk && h >= 0; h--) heap_sift(&r, idx, n, h);
        } else if (kk && rank_cmp(&r, e, idx[0]) < 0) {
          idx[0] = e;
          heap_sift(&r, idx, n, 0);
        }
      }
      if (!qc_sort_stable(idx, n, rank_cmp, &r)) j->failed = 1;
    } else {
      for (int64_t e = 0; e < dim; e++) idx[e] = e;
      if (!qc_sort_stable(idx, dim, rank_cmp, &r)) j->failed = 1;
    }
    for (int64_t t = 0; t < kk; t++) {
      int64_t dst = (o * kk + t) * inner + i;
      j->idx_out[dst] = idx[t];
      memcpy((char *)j->vals + (size_t)dst * j->esz,
             (const char *)xp + (size_t)(base + idx[t] * inner) * j->esz, j->esz);
    }
  }
  free(key);
  free(idx);
}

static qc_status k_topk(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "X", &x));
  int64_t kk, n;
  if (qc_k_in(k, 1))
    QC_RETURN_IF_ERROR(qc_k_ints(k, qc_k_in(k, 1), "K", &kk, 1, &n));
  else
    kk = qc_k_int(k, "k", 0);
  int32_t axis;
  QC_RETURN_IF_ERROR(qc_k_axis(k, qc_k_int(k, "axis", -1), x->rank, &axis));
  int64_t dim = x->dims[axis];
  if (kk < 0 || kk > dim)
    return qc_k_error(k, "k = %lld is out of range for axis of size %lld", (long long)kk,
                      (long long)dim);
  const qc_dtype_traits *tr = qc_dtype_traits_of(x->dtype);
  if ((tr->kind != QC_KIND_FLOAT && tr->kind != QC_KIND_INT) || tr->bits % 8)
    return qc_k_error(k, "TopK needs a numeric dtype of whole bytes, got %s", tr->name);
  int64_t od[QC_MAX_RANK];
  memcpy(od, x->dims, sizeof od);
  od[axis] = kk;
  qc_tensor *tv, *ti;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, x->rank, od, &tv));
  QC_RETURN_IF_ERROR(qc_k_out(k, 1, QC_I64, x->rank, od, &ti));
  int64_t outer = qc_shape_numel(axis, x->dims),
          inner = qc_shape_numel(x->rank - (axis + 1), x->dims + (axis + 1));
  topk_job j = {x,
                qc_acc_of(x->dtype),
                KEY_F,
                qc_k_int(k, "largest", 1) != 0,
                dim,
                inner,
                kk,
                qc_tensor_data(tv),
                qc_tensor_data(ti),
                tr->bits / 8u,
                0};
  if (tr->kind == QC_KIND_INT && tr->bits == 64) j.kind = tr->is_signed ? KEY_I : KEY_U;
  int64_t rows = outer * inner;
  qc_k_parallel_for(k, rows, 1 + 16384 / (dim ? dim : 1), topk_rows, &j);
  if (j.failed) return QC_OOM();
  return QC_OK;
}

/* ---- OneHot ---------------------------------------------------------------------------------- */

static qc_status k_onehot(qc_kctx *k) {
  const qc_tensor *ind, *dep, *val;
  QC_RETURN_IF_ERROR(need_in(k, 0, "indices", &ind));
  QC_RETURN_IF_ERROR(need_in(k, 1, "depth", &dep));
  QC_RETURN_IF_ERROR(need_in(k, 2, "values", &val));
  if (qc_tensor_numel(dep) != 1) return qc_k_error(k, "depth must have one element");
  if (qc_tensor_numel(val) != 2) return qc_k_error(k, "values must have two elements");
  int64_t depth = qc_elem_i64(dep->dtype, qc_tensor_data(dep), 0);
  if (depth < 0) return qc_k_error(k, "depth is negative");
  int32_t r = ind->rank + 1, axis;
  if (r > QC_MAX_RANK) return qc_k_error(k, "output rank exceeds quarc's limit");
  QC_RETURN_IF_ERROR(qc_k_axis(k, qc_k_int(k, "axis", -1), r, &axis));
  int64_t od[QC_MAX_RANK];
  for (int32_t d = 0, j = 0; d < r; d++) od[d] = d == axis ? depth : ind->dims[j++];
  qc_mover mv;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, val->dtype));
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, val->dtype, r, od, &y));
  const void *vp = qc_tensor_data(val), *ip = qc_tensor_data(ind);
  if (!qc_move_fill(&mv, qc_tensor_data(y), 0, vp, qc_tensor_numel(y))) return QC_OOM();
  int64_t outer = qc_shape_numel(axis, od), inner = qc_shape_numel(r - (axis + 1), od + (axis + 1));
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t v = qc_elem_i64(ind->dtype, ip, (size_t)(o * inner + i));
      if (v < 0) v += depth;
      if (v < 0 || v >= depth) continue;
      if (!qc_move(&mv, qc_tensor_data(y), (o * depth + v) * inner + i, vp, 1, 1)) return QC_OOM();
    }
  return QC_OK;
}

/* ---- Resize and Upsample ------------------------------------------------------------------- */

enum {
  CT_HALF_PIXEL,
  CT_HALF_PIXEL_SYM,
  CT_PYTORCH_HALF_PIXEL,
  CT_ALIGN_CORNERS,
  CT_ASYMMETRIC,
  CT_TF_CROP_AND_RESIZE,
  CT_TF_HALF_PIXEL_FOR_NN /* Resize-11 only */
};
enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL };
enum { RM_NEAREST, RM_LINEAR, RM_CUBIC };

typedef struct resize_params {
  int mode, ct, nearest;
  bool antialias, exclude_outside;
  double cubic_a, extrapolation;
} resize_params;

/* Source coordinate of output index y along one axis; *extrap for tf_crop_and_resize
 * positions outside the input. */
static double resize_coord(const resize_params *p, double y, double scale, int64_t in, int64_t out,
                           double roi0, double roi1, bool *extrap) {
  double ow = scale * (double)in, x;
  *extrap = false;
  switch (p->ct) {
  case CT_ALIGN_CORNERS:
    x = ow == 1 ? 0 : y * (double)(in - 1) / (ow - 1);
    break;
  case CT_ASYMMETRIC:
    x = y / scale;
    break;
  case CT_TF_CROP_AND_RESIZE:
    x = ow == 1 ? (roi1 - roi0) * (double)(in - 1) / 2
                : y * (roi1 - roi0) * (double)(in - 1) / (ow - 1);
    x += roi0 * (double)(in - 1);
    *extrap = x < 0 || x > (double)(in - 1);
    break;
  case CT_TF_HALF_PIXEL_FOR_NN:
    x = (y + 0.5) / scale;
    break;
  case CT_PYTORCH_HALF_PIXEL:
    x = ow == 1 ? -0.5 : (y + 0.5) / scale - 0.5;
    break;
  case CT_HALF_PIXEL_SYM: {
    double adj = (double)out / ow, offset = (double)in / 2 * (1 - adj);
    x = offset + (y + 0.5) / scale - 0.5;
    break;
  }
  default:
    x = (y + 0.5) / scale - 0.5;
    break;
  }
  return x;
}

static double cubic_weight(double x, double a) {
  x = fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

/* Interpolation taps of one output position: n source indices (clamped) and weights. The
 * window starts at x0 + 1 - n/2 where x0 = floor(x), or x - 1 when x is an integer (the
 * left neighbour is preferred, as the ONNX reference does). */
static int resize_taps(const resize_params *p, double x, double scale, int64_t in, int64_t *idx,
                       double *w, int max) {
  double x0 = floor(x);
  if (x0 == x) x0 -= 1;
  double ratio = x - x0; /* in (0, 1] */
  int n;
  int64_t start;
  double s = scale < 1 && p->antialias ? scale : 1;
  if (p->mode == RM_LINEAR) {
    int64_t st = (int64_t)floor(-1 / s) + 1;
    n = (int)(2 - 2 * st);
    start = st;
    if (n > max) return -1;
    for (int i = 0; i < n; i++) {
      double a = fabs(((double)(st + i) - ratio) * s);
      w[i] = a < 1 ? 1 - a : 0;
    }
  } else {
    int64_t st = (int64_t)floor(-2 / s) + 1;
    n = (int)(2 - 2 * st);
    start = st;
    if (n > max) return -1;
    for (int i = 0; i < n; i++) w[i] = cubic_weight(((double)(st + i) - ratio) * s, p->cubic_a);
  }
  double sum = 0;
  for (int i = 0; i < n; i++) {
    idx[i] = (int64_t)x0 + start + i;
    if (p->exclude_outside && (idx[i] < 0 || idx[i] >= in)) w[i] = 0;
    sum += w[i];
  }
  bool norm = p->antialias || p->exclude_outside;
  if (norm && sum != 0)
    for (int i = 0; i < n; i++) w[i] /= sum;
  for (int i = 0; i < n; i++) idx[i] = idx[i] < 0 ? 0 : idx[i] >= in ? in - 1 : idx[i];
  return n;
}

static bool close_to(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(fabs(a), fabs(b)); }

/* Resize x to od[] with per-axis scales and ROI (roi[d], roi[r+d]); `axes` lists the axes to
 * process in order (the others are unchanged). */
static qc_status resize_run(qc_kctx *k, const qc_tensor *x, const resize_params *p,
                            const int64_t *od, const double *scale, const double *roi,
                            const int32_t *axes, int32_t na) {
  int32_t r = x->rank;
  bool active[QC_MAX_RANK] = {false};
  for (int32_t i = 0; i < na; i++) {
    int32_t a = axes[i];
    bool trivial_roi =
        p->ct != CT_TF_CROP_AND_RESIZE || (close_to(roi[a], 0) && close_to(roi[r + a], 1));
    active[a] = !(close_to(scale[a], 1) && od[a] == x->dims[a] && trivial_roi);
  }
  if (p->mode == RM_NEAREST) {
    int64_t st[QC_MAX_RANK];
    qc_strides(r, x->dims, st);
    qc_axis_maps m;
    if (!qc_maps_init(&m, r, od)) return QC_OOM();
    for (int32_t d = 0; d < r; d++) {
      int64_t in = x->dims[d];
      for (int64_t o = 0; o < od[d]; o++) {
        if (!active[d]) {
          m.map[d][o] = o * st[d];
          continue;
        }
        bool ex;
        double xs = resize_coord(p, (double)o, scale[d], in, od[d], roi[d], roi[r + d], &ex);
        if (ex) {
          m.map[d][o] = QC_MAP_FILL;
          continue;
        }
        double f = floor(xs), ratio = xs - f;
        int64_t i = (int64_t)f;
        if (ratio != 0) {
          bool up = p->nearest == NM_CEIL || (p->nearest == NM_ROUND_PREFER_FLOOR && ratio > 0.5) ||
                    (p->nearest == NM_ROUND_PREFER_CEIL && ratio >= 0.5);
          i += up;
        }
        i = i < 0 ? 0 : i >= in ? in - 1 : i;
        m.map[d][o] = i * st[d];
      }
    }
    unsigned char fill[16];
    elem_from_f64(x->dtype, p->extrapolation, fill);
    return gather_mapped(k, 0, x, &m, fill);
  }
  if (!qc_dtype_is_float(x->dtype) && !qc_dtype_is_int(x->dtype))
    return qc_k_error(k, "%s interpolation needs numbers, got %s",
                      p->mode == RM_LINEAR ? "linear" : "cubic", qc_dtype_name(x->dtype));
  /* Separable: one 1-D pass per active axis, in double. */
  int64_t cur[QC_MAX_RANK];
  memcpy(cur, x->dims, sizeof cur);
  int64_t n = qc_tensor_numel(x);
  double *buf = malloc(sizeof(double) * (size_t)(n ? n : 1));
  if (!buf) return QC_OOM();
  qc_acc acc = qc_acc_of(x->dtype);
  for (int64_t i = 0; i < n; i++) buf[i] = acc.getf(x->dtype, qc_tensor_data(x), (size_t)i);
  qc_status s = QC_OK;
  for (int32_t ai = 0; ai < na && !s; ai++) {
    int32_t a = axes[ai];
    if (!active[a]) continue;
    int64_t in = cur[a], out = od[a];
    int64_t outer = qc_shape_numel(a, cur), inner = qc_shape_numel(r - (a + 1), cur + (a + 1));
    /* Taps of every output position first (their count depends on the scale only), then
     * one sweep through the data in memory order. */
    enum { MAXTAPS = 4096 };
    int64_t probe_i[MAXTAPS];
    double probe_w[MAXTAPS];
    int nt = in > 0 ? resize_taps(p, 0.5, scale[a], in, probe_i, probe_w, MAXTAPS) : 0;
    if (nt < 0) {
      s = qc_k_error(k, "antialiasing window too large (scale %g)", scale[a]);
      break;
    }
    int64_t nn = outer * out * inner;
    double *nb = malloc(sizeof(double) * (size_t)(nn ? nn : 1));
    int64_t *ti = malloc(sizeof(int64_t) * (size_t)(out * nt + 1));
    double *tw = malloc(sizeof(double) * (size_t)(out * nt + 1));
    bool *ex = malloc(sizeof(bool) * (size_t)(out + 1));
    if (!nb || !ti || !tw || !ex) s = QC_OOM();
    for (int64_t o = 0; o < out && !s; o++) {
      double xs = resize_coord(p, (double)o, scale[a], in, out, roi[a], roi[r + a], &ex[o]);
      if (nt) (void)resize_taps(p, xs, scale[a], in, ti + o * nt, tw + o * nt, nt);
    }
    for (int64_t u = 0; u < outer && !s; u++)
      for (int64_t o = 0; o < out; o++) {
        double *dst = nb + (u * out + o) * inner;
        if (ex[o]) {
          for (int64_t i = 0; i < inner; i++) dst[i] = p->extrapolation;
          continue;
        }
        for (int64_t i = 0; i < inner; i++) dst[i] = 0;
        for (int t = 0; t < nt; t++) {
          const double *src = buf + (u * in + ti[o * nt + t]) * inner;
          double wt = tw[o * nt + t];
          for (int64_t i = 0; i < inner; i++) dst[i] += wt * src[i];
        }
      }
    free(ti);
    free(tw);
    free(ex);
    if (s) {
      free(nb);
      break;
    }
    free(buf);
    buf = nb;
    cur[a] = out;
  }
  qc_tensor *y;
  if (!s) s = qc_k_out(k, 0, x->dtype, r, od, &y);
  if (!s) {
    /* Results saturate to the dtype's range, as the reference's saturate_cast does (cubic
     * weights overshoot); integers round half to even. */
    int64_t m = qc_tensor_numel(y);
    void *yp = qc_tensor_data(y);
    if (x->dtype == QC_F32) {
      for (int64_t i = 0; i < m; i++)
        ((float *)yp)[i] = (float)(buf[i] > FLT_MAX    ? FLT_MAX
                                   : buf[i] < -FLT_MAX ? -FLT_MAX
                                                       : buf[i]);
    } else if (x->dtype == QC_F64) {
      memcpy(yp, buf, sizeof(double) * (size_t)m);
    } else {
      for (int64_t i = 0; i < m; i++)
        qc_elem_set_f64(x->dtype, yp, (size_t)i, buf[i], QC_ENC_SATURATE);
    }
  }
  free(buf);
  return s;
}

static int parse_ct(const char *s) {
  static const char *const names[] = {
      "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",  "align_corners",
      "asymmetric", "tf_crop_and_resize",   "tf_half_pixel_for_nn"};
  for (int i = 0; i < 7; i++)
    if (!strcmp(s, names[i])) return i;
  return -1;
}

static int parse_resize_mode(const char *s) {
  if (!strcmp(s, "nearest")) return RM_NEAREST;
  if (!strcmp(s, "linear") || !strcmp(s, "bilinear") || !strcmp(s, "trilinear")) return RM_LINEAR;
  if (!strcmp(s, "cubic") || !strcmp(s, "bicubic")) return RM_CUBIC;
  return -1;
}

/* Read float values (scales, roi) of any float dtype. */
static qc_status floats_of(const qc_kctx *k, const qc_tensor *t, const char *what, double *out,
                           int64_t max, int64_t *n) {
  *n = qc_tensor_numel(t);
  if (!qc_dtype_is_float(t->dtype)) return qc_k_error(k, "%s must be a float tensor", what);
  if (*n > max) return qc_k_error(k, "%s has too many entries", what);
  for (int64_t i = 0; i < *n; i++) out[i] = qc_elem_f64(t->dtype, qc_tensor_data(t), (size_t)i);
  return QC_OK;
}

static qc_status k_resize(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "X", &x));
  int32_t r = x->rank;
  int64_t ver = qc_k_opset(k);
  resize_params p;
  memset(&p, 0, sizeof p);
  const char *ms = qc_k_string(k, "mode", "nearest");
  p.mode = parse_resize_mode(ms);
  if (p.mode < 0) return qc_k_error(k, "unknown mode '%s'", ms);
  const qc_tensor *roi_t = NULL, *scales_t, *sizes_t = NULL;
  if (ver < 11) { /* Resize-10: (X, scales), Upsample's coordinates */
    scales_t = opt_in(k, 1);
    p.ct = CT_ASYMMETRIC;
    p.nearest = NM_FLOOR;
  } else {
    roi_t = opt_in(k, 1);
    scales_t = opt_in(k, 2);
    sizes_t = opt_in(k, 3);
    const char *cs = qc_k_string(k, "coordinate_transformation_mode", "half_pixel");
    p.ct = parse_ct(cs);
    if (p.ct < 0) return qc_k_error(k, "unknown coordinate_transformation_mode '%s'", cs);
    const char *ns = qc_k_string(k, "nearest_mode", "round_prefer_floor");
    p.nearest = !strcmp(ns, "round_prefer_floor")  ? NM_ROUND_PREFER_FLOOR
                : !strcmp(ns, "round_prefer_ceil") ? NM_ROUND_PREFER_CEIL
                : !strcmp(ns, "floor")             ? NM_FLOOR
                : !strcmp(ns, "ceil")              ? NM_CEIL
                                                   : -1;
    if (p.nearest < 0) return qc_k_error(k, "unknown nearest_mode '%s'", ns);
    p.antialias = qc_k_int(k, "antialias", 0) != 0;
    p.exclude_outside = qc_k_int(k, "exclude_outside", 0) != 0;
    p.cubic_a = qc_k_float(k, "cubic_coeff_a", -0.75);
    p.extrapolation = qc_k_float(k, "extrapolation_value", 0.0);
  }
  if (!scales_t == !sizes_t) return qc_k_error(k, "exactly one of scales and sizes must be given");
  int32_t axes[QC_MAX_RANK], na = r;
  int64_t ax[QC_MAX_RANK], nax;
  bool seen[QC_MAX_RANK];
  QC_RETURN_IF_ERROR(qc_k_attr_ints(k, "axes", ax, QC_MAX_RANK, &nax));
  if (nax >= 0) {
    na = (int32_t)nax;
    QC_RETURN_IF_ERROR(qc_k_axes_mask(k, ax, na, r, seen));
    for (int32_t i = 0; i < na; i++) (void)qc_norm_axis(ax[i], r, &axes[i]);
  } else {
    na = r;
    for (int32_t i = 0; i < r; i++) axes[i] = i;
  }
  double scale[QC_MAX_RANK], roi[2 * QC_MAX_RANK], v[2 * QC_MAX_RANK];
  int64_t od[QC_MAX_RANK], n;
  for (int32_t d = 0; d < r; d++) {
    scale[d] = 1;
    od[d] = x->dims[d];
    roi[d] = 0;
    roi[r + d] = 1;
  }
  if (roi_t && p.ct == CT_TF_CROP_AND_RESIZE) {
    QC_RETURN_IF_ERROR(floats_of(k, roi_t, "roi", v, 2 * QC_MAX_RANK, &n));
    if (n != 2 * na)
      return qc_k_error(k, "roi has %lld entries, expected %d", (long long)n, 2 * na);
    for (int32_t i = 0; i < na; i++) {
      roi[axes[i]] = v[i];
      roi[r + axes[i]] = v[na + i];
    }
  }
  if (scales_t) {
    QC_RETURN_IF_ERROR(floats_of(k, scales_t, "scales", v, QC_MAX_RANK, &n));
    if (n != na) return qc_k_error(k, "scales has %lld entries for %d axes", (long long)n, na);
    for (int32_t i = 0; i < na; i++) {
      if (!(v[i] > 0) || v[i] * (double)x->dims[axes[i]] > 0x1p62)
        return qc_k_error(k, "scales must be positive and give a representable size");
      scale[axes[i]] = v[i];
      od[axes[i]] = (int64_t)floor(v[i] * (double)x->dims[axes[i]]);
    }
  } else {
    int64_t sz[QC_MAX_RANK];
    int64_t nsz;
    QC_RETURN_IF_ERROR(qc_k_ints(k, sizes_t, "sizes", sz, QC_MAX_RANK, &nsz));
    if (nsz != na) return qc_k_error(k, "sizes has %lld entries for %d axes", (long long)nsz, na);
    for (int32_t i = 0; i < na; i++) {
      if (sz[i] < 0) return qc_k_error(k, "sizes must not be negative");
      od[axes[i]] = sz[i];
      scale[axes[i]] = (double)sz[i] / (double)x->dims[axes[i]];
    }
    const char *kp = qc_k_string(k, "keep_aspect_ratio_policy", "stretch");
    if (strcmp(kp, "stretch") != 0) {
      bool larger = !strcmp(kp, "not_smaller");
      if (!larger && strcmp(kp, "not_larger") != 0)
        return qc_k_error(k, "unknown keep_aspect_ratio_policy '%s'", kp);
      double sc = scale[axes[0]];
      for (int32_t i = 1; i < na; i++)
        sc = larger ? fmax(sc, scale[axes[i]]) : fmin(sc, scale[axes[i]]);
      for (int32_t i = 0; i < na; i++) {
        scale[axes[i]] = sc;
        od[axes[i]] = (int64_t)(sc * (double)x->dims[axes[i]] + 0.5);
      }
    }
  }
  return resize_run(k, x, &p, od, scale, roi, axes, na);
}

static qc_status k_upsample(qc_kctx *k) {
  const qc_tensor *x;
  QC_RETURN_IF_ERROR(need_in(k, 0, "X", &x));
  resize_params p;
  memset(&p, 0, sizeof p);
  const char *ms = qc_k_string(k, "mode", "nearest");
  p.mode = parse_resize_mode(ms);
  if (p.mode < 0 || p.mode == RM_CUBIC) return qc_k_error(k, "unknown mode '%s'", ms);
  p.ct = CT_ASYMMETRIC;
  p.nearest = NM_FLOOR;
  double scale[QC_MAX_RANK], roi[2 * QC_MAX_RANK];
  int64_t n = 0, od[QC_MAX_RANK];
  int32_t axes[QC_MAX_RANK];
  const qc_tensor *st = qc_k_in(k, 1);
  if (st) {
    QC_RETURN_IF_ERROR(floats_of(k, st, "scales", scale, QC_MAX_RANK, &n));
  } else {
    const qc_attr *a = qc_k_attr(k, "scales");
    if (a && a->kind == QC_ATTR_FLOATS && a->n <= QC_MAX_RANK) {
      n = a->n;
      for (int32_t i = 0; i < a->n; i++) scale[i] = a->u.floats[i];
    }
  }
  if (n != x->rank)
    return qc_k_error(k, "scales has %lld entries for rank %d", (long long)n, x->rank);
  for (int32_t d = 0; d < x->rank; d++) {
    if (!(scale[d] > 0) || scale[d] * (double)x->dims[d] > 0x1p62)
      return qc_k_error(k, "scales must be positive and give a representable size");
    od[d] = (int64_t)floor(scale[d] * (double)x->dims[d]);
    axes[d] = d;
    roi[d] = 0;
    roi[x->rank + d] = 1;
  }
  return resize_run(k, x, &p, od, scale, roi, axes, x->rank);
}

/* ---- Col2Im ---------------------------------------------------------------------------------- */

static qc_status k_col2im(qc_kctx *k) {
  const qc_tensor *x, *it, *bt;
  QC_RETURN_IF_ERROR(need_in(k, 0, "input", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "image_shape", &it));
  QC_RETURN_IF_ERROR(need_in(k, 2, "block_shape", &bt));
  int64_t img[QC_MAX_RANK], blk[QC_MAX_RANK], ni, nb;
  QC_RETURN_IF_ERROR(qc_k_ints(k, it, "image_shape", img, QC_MAX_RANK - 2, &ni));
  QC_RETURN_IF_ERROR(qc_k_ints(k, bt, "block_shape", blk, QC_MAX_RANK - 2, &nb));
  int32_t nd = (int32_t)ni;
  if (nb != ni) return qc_k_error(k, "image_shape and block_shape differ in length");
  if (x->rank != 3) return qc_k_error(k, "input must be 3-D [N, C*prod(block), L]");
  int64_t dil[QC_MAX_RANK], pads[2 * QC_MAX_RANK], str[QC_MAX_RANK];
  QC_RETURN_IF_ERROR(qc_k_attr_ints_or(k, "dilations", nd, 1, dil));
  QC_RETURN_IF_ERROR(qc_k_attr_ints_or(k, "pads", 2 * nd, 0, pads));
  QC_RETURN_IF_ERROR(qc_k_attr_ints_or(k, "strides", nd, 1, str));
  int64_t kprod = qc_shape_numel(nd, blk), cols[QC_MAX_RANK];
  if (kprod <= 0 || x->dims[1] % kprod)
    return qc_k_error(k, "channels are not a multiple of prod(block_shape)");
  int64_t C = x->dims[1] / kprod, N = x->dims[0], L = 1;
  for (int32_t i = 0; i < nd; i++) {
    cols[i] = qc_window_out(img[i], blk[i], str[i], dil[i], pads[i], pads[nd + i], false);
    if (cols[i] < 0) return qc_k_error(k, "block does not fit the padded image");
    L *= cols[i];
  }
  if (L != x->dims[2])
    return qc_k_error(k, "input has %lld blocks, the shapes give %lld", (long long)x->dims[2],
                      (long long)L);
  int64_t od[QC_MAX_RANK] = {N, C};
  for (int32_t i = 0; i < nd; i++) od[2 + i] = img[i];
  int64_t isz = qc_shape_numel(nd, img);
  double *acc = calloc((size_t)(isz ? isz : 1), sizeof(double));
  if (!acc) return QC_OOM();
  qc_tensor *y;
  qc_status s = qc_k_out(k, 0, x->dtype, 2 + nd, od, &y);
  const void *xp = qc_tensor_data(x);
  for (int64_t n = 0; n < N && !s; n++)
    for (int64_t c = 0; c < C; c++) {
      memset(acc, 0, sizeof(double) * (size_t)(isz ? isz : 1));
      for (int64_t kc = 0; kc < kprod; kc++) {
        int64_t koff[QC_MAX_RANK], rem = kc;
        for (int32_t d = nd - 1; d >= 0; d--) {
          koff[d] = rem % blk[d];
          rem /= blk[d];
        }
        for (int64_t l = 0; l < L; l++) {
          int64_t pos = 0;
          bool in = true;
          rem = l;
          int64_t lc[QC_MAX_RANK];
          for (int32_t d = nd - 1; d >= 0; d--) {
            lc[d] = rem % cols[d];
            rem /= cols[d];
          }
          for (int32_t d = 0; d < nd && in; d++) {
            int64_t p = lc[d] * str[d] - pads[d] + koff[d] * dil[d];
            in = p >= 0 && p < img[d];
            pos = pos * img[d] + p;
          }
          if (in)
            acc[pos] += qc_elem_f64(x->dtype, xp, (size_t)(((n * C + c) * kprod + kc) * L + l));
        }
      }
      for (int64_t i = 0; i < isz; i++)
        qc_elem_set_f64(x->dtype, qc_tensor_data(y), (size_t)((n * C + c) * isz + i), acc[i], 0);
    }
  free(acc);
  return s;
}

/* ---- AffineGrid and GridSample --------------------------------------------------------------- */

static qc_status k_affine_grid(qc_kctx *k) {
  const qc_tensor *th, *st;
  QC_RETURN_IF_ERROR(need_in(k, 0, "theta", &th));
  QC_RETURN_IF_ERROR(need_in(k, 1, "size", &st));
  int64_t size[5], n;
  QC_RETURN_IF_ERROR(qc_k_ints(k, st, "size", size, 5, &n));
  int32_t nd = (int32_t)n - 2; /* spatial dims: 2 or 3 */
  if (nd != 2 && nd != 3) return qc_k_error(k, "size must have 4 or 5 entries");
  if (th->rank != 3 || th->dims[1] != nd || th->dims[2] != nd + 1)
    return qc_k_error(k, "theta must be [N, %d, %d]", nd, nd + 1);
  bool ac = qc_k_int(k, "align_corners", 0) != 0;
  int64_t N = size[0], od[5];
  if (th->dims[0] != N) return qc_k_error(k, "theta batch differs from size[0]");
  od[0] = N;
  for (int32_t i = 0; i < nd; i++) od[1 + i] = size[2 + i];
  od[1 + nd] = nd;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, th->dtype, nd + 2, od, &y));
  const void *tp = qc_tensor_data(th);
  int64_t pts = qc_shape_numel(nd, size + 2);
  for (int64_t b = 0; b < N; b++)
    for (int64_t p = 0; p < pts; p++) {
      /* Homogeneous base point (x, y[, z], 1): x runs along the last spatial axis. */
      double hom[4];
      int64_t rem = p;
      for (int32_t d = nd - 1; d >= 0; d--) {
        int64_t len = size[2 + d], i = rem % len;
        rem /= len;
        double v = ac ? (len == 1 ? -1.0 : -1.0 + 2.0 * (double)i / (double)(len - 1))
                      : -1.0 + (2.0 * (double)i + 1.0) / (double)len;
        hom[nd - 1 - d] = v;
      }
      hom[nd] = 1;
      for (int32_t r = 0; r < nd; r++) {
        double acc = 0;
        for (int32_t c = 0; c <= nd; c++)
          acc += qc_elem_f64(th->dtype, tp, (size_t)((b * nd + r) * (nd + 1) + c)) * hom[c];
        qc_elem_set_f64(th->dtype, qc_tensor_data(y), (size_t)((b * pts + p) * nd + r), acc, 0);
      }
    }
  return QC_OK;
}

/* Reflect x into [lo, hi] by the nearer border, repeatedly (PyTorch's GridSampler). */
static double gs_reflect(double x, double lo, double hi) {
  double rng = hi - lo;
  if (rng <= 0) return lo;
  if (x < lo) {
    double dx = lo - x;
    int64_t n = (int64_t)(dx / rng);
    double r = dx - (double)n * rng;
    return n % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    double dx = x - hi;
    int64_t n = (int64_t)(dx / rng);
    double r = dx - (double)n * rng;
    return n % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };

typedef struct gs_ctx {
  int32_t nd;
  const int64_t *dims; /* spatial dims of X */
  int pad;
  bool ac;
  qc_dtype dt;
  const void *xp;
} gs_ctx;

/* Source index along spatial axis d for integer index i under the padding mode; -1 = zero. */
static int64_t gs_index(const gs_ctx *g, int32_t d, int64_t i) {
  int64_t n = g->dims[d];
  if (i >= 0 && i < n) return i;
  if (g->pad == GS_ZEROS) return -1;
  if (g->pad == GS_BORDER) return i < 0 ? 0 : n - 1;
  double lo = g->ac ? 0 : -0.5, hi = g->ac ? (double)n - 1 : (double)n - 0.5;
  int64_t j = (int64_t)gs_reflect((double)i, lo, hi);
  return j < 0 ? 0 : j >= n ? n - 1 : j;
}

static qc_status k_grid_sample(qc_kctx *k) {
  const qc_tensor *x, *gt;
  QC_RETURN_IF_ERROR(need_in(k, 0, "X", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "grid", &gt));
  int32_t nd = x->rank - 2;
  if (nd < 1 || gt->rank != x->rank || gt->dims[0] != x->dims[0] || gt->dims[gt->rank - 1] != nd)
    return qc_k_error(k, "X [N, C, D1..Dk] and grid [N, O1..Ok, k] do not match");
  if (!qc_dtype_is_float(gt->dtype)) return qc_k_error(k, "grid must be float");
  const char *ms = qc_k_string(k, "mode", "linear"), *ps = qc_k_string(k, "padding_mode", "zeros");
  int mode = parse_resize_mode(ms);
  if (mode < 0) return qc_k_error(k, "unknown mode '%s'", ms);
  gs_ctx g = {nd,       x->dims + 2,      0, qc_k_int(k, "align_corners", 0) != 0,
              x->dtype, qc_tensor_data(x)};
  g.pad = !strcmp(ps, "zeros")        ? GS_ZEROS
          : !strcmp(ps, "border")     ? GS_BORDER
          : !strcmp(ps, "reflection") ? GS_REFLECTION
                                      : -1;
  if (g.pad < 0) return qc_k_error(k, "unknown padding_mode '%s'", ps);
  int64_t N = x->dims[0], C = x->dims[1], od[QC_MAX_RANK];
  od[0] = N;
  od[1] = C;
  for (int32_t i = 0; i < nd; i++) od[2 + i] = gt->dims[1 + i];
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, x->rank, od, &y));
  int64_t pts = qc_shape_numel(x->rank - 2, od + 2), isz = qc_shape_numel(x->rank - 2, x->dims + 2);
  int64_t ist[QC_MAX_RANK];
  qc_strides(nd, g.dims, ist);
  int taps = mode == RM_NEAREST ? 1 : mode == RM_LINEAR ? 2 : 4;
  const void *gp = qc_tensor_data(gt);
  bool f64 = gt->dtype == QC_F64;
  for (int64_t n = 0; n < N; n++)
    for (int64_t p = 0; p < pts; p++) {
      /* Source coordinates, spatial order (the grid lists them innermost first). The
       * reference keeps them in float32; so do we, so that rounding ties agree. */
      float xs[QC_MAX_RANK];
      for (int32_t d = 0; d < nd; d++) {
        size_t gi = (size_t)((n * pts + p) * nd + (nd - 1 - d));
        double len = (double)g.dims[d];
        float v;
        if (f64) {
          double c = qc_elem_f64(gt->dtype, gp, gi);
          v = (float)(g.ac ? (c + 1) / 2.0 * (len - 1) : ((c + 1) * len - 1) / 2.0);
        } else {
          float c = (float)qc_elem_f64(gt->dtype, gp, gi);
          v = g.ac ? (c + 1.0f) / 2.0f * (float)(len - 1) : ((c + 1.0f) * (float)len - 1.0f) / 2.0f;
        }
        if (mode == RM_NEAREST) v = rintf(v);
        double lo = g.ac ? 0 : -0.5, hi = g.ac ? len - 1 : len - 0.5;
        if (v < lo || v > hi) {
          if (g.pad == GS_BORDER)
            v = v < 0 ? 0.0f : v > len - 1 ? (float)(len - 1) : v;
          else if (g.pad == GS_REFLECTION)
            v = (float)gs_reflect(v, lo, hi);
        }
        xs[d] = v;
      }
      /* Taps per axis. */
      int64_t ti[QC_MAX_RANK][4];
      double tw[QC_MAX_RANK][4];
      for (int32_t d = 0; d < nd; d++) {
        if (mode == RM_NEAREST) {
          ti[d][0] = gs_index(&g, d, (int64_t)xs[d]);
          tw[d][0] = 1;
          continue;
        }
        double f = floor((double)xs[d]), t = (double)xs[d] - f;
        int64_t i0 = (int64_t)f;
        if (mode == RM_LINEAR) {
          ti[d][0] = gs_index(&g, d, i0);
          ti[d][1] = gs_index(&g, d, i0 + 1);
          tw[d][0] = 1 - t;
          tw[d][1] = t;
        } else {
          for (int j = 0; j < 4; j++) {
            ti[d][j] = gs_index(&g, d, i0 - 1 + j);
            tw[d][j] = cubic_weight(t - (double)(j - 1), -0.75);
          }
        }
      }
      int64_t combos = 1;
      for (int32_t d = 0; d < nd; d++) combos *= taps;
      for (int64_t c = 0; c < C; c++) {
        double acc = 0;
        int64_t base = (n * C + c) * isz;
        for (int64_t cb = 0; cb < combos; cb++) {
          int64_t rem = cb, off = 0;
          double w = 1;
          bool zero = false;
          for (int32_t d = nd - 1; d >= 0; d--) {
            int j = (int)(rem % taps);
            rem /= taps;
            if (ti[d][j] < 0)
              zero = true;
            else
              off += ti[d][j] * ist[d];
            w *= tw[d][j];
          }
          if (!zero && w != 0) acc += w * qc_elem_f64(x->dtype, g.xp, (size_t)(base + off));
        }
        qc_elem_set_f64(x->dtype, qc_tensor_data(y), (size_t)((n * C + c) * pts + p), acc, 0);
      }
    }
  return QC_OK;
}

/* ---- NonMaxSuppression -------------------------------------------------------------------- */

/* IOU test in the boxes' own precision (float32 boxes compute in float, as the reference). */
#define NMS_SUPPRESS(T, name)                                                                      \
  static bool name(const T *b1, const T *b2, bool center, T thr) {                                 \
    T x1a, x1b, y1a, y1b, x2a, x2b, y2a, y2b;                                                      \
    if (!center) {                                                                                 \
      y1a = b1[0] < b1[2] ? b1[0] : b1[2], y1b = b1[0] < b1[2] ? b1[2] : b1[0];                    \
      x1a = b1[1] < b1[3] ? b1[1] : b1[3], x1b = b1[1] < b1[3] ? b1[3] : b1[1];                    \
      y2a = b2[0] < b2[2] ? b2[0] : b2[2], y2b = b2[0] < b2[2] ? b2[2] : b2[0];                    \
      x2a = b2[1] < b2[3] ? b2[1] : b2[3], x2b = b2[1] < b2[3] ? b2[3] : b2[1];                    \
    } else {                                                                                       \
      x1a = b1[0] - b1[2] / 2, x1b = b1[0] + b1[2] / 2, y1a = b1[1] - b1[3] / 2,                   \
      y1b = b1[1] + b1[3] / 2;                                                                     \
      x2a = b2[0] - b2[2] / 2, x2b = b2[0] + b2[2] / 2, y2a = b2[1] - b2[3] / 2,                   \
      y2b = b2[1] + b2[3] / 2;                                                                     \
    }                                                                                              \
    T ixa = x1a > x2a ? x1a : x2a, ixb = x1b < x2b ? x1b : x2b;                                    \
    if (ixb <= ixa) return false;                                                                  \
    T iya = y1a > y2a ? y1a : y2a, iyb = y1b < y2b ? y1b : y2b;                                    \
    if (iyb <= iya) return false;                                                                  \
    T inter = (ixb - ixa) * (iyb - iya);                                                           \
    if (inter <= 0) return false;                                                                  \
    T a1 = (x1b - x1a) * (y1b - y1a), a2 = (x2b - x2a) * (y2b - y2a);                              \
    T uni = a1 + a2 - inter;                                                                       \
    if (a1 <= 0 || a2 <= 0 || uni <= 0) return false;                                              \
    return inter / uni > thr;                                                                      \
  }
NMS_SUPPRESS(float, nms_suppress_f32)
NMS_SUPPRESS(double, nms_suppress_f64)

typedef struct nms_ctx {
  const double *scores;
} nms_ctx;

static int nms_cmp(void *ctx, int64_t a, int64_t b) {
  const nms_ctx *c = ctx;
  double x = c->scores[a], y = c->scores[b];
  return (x < y) - (x > y); /* descending; ties keep the lower index first */
}

static qc_status k_nms(qc_kctx *k) {
  const qc_tensor *bt, *st;
  QC_RETURN_IF_ERROR(need_in(k, 0, "boxes", &bt));
  QC_RETURN_IF_ERROR(need_in(k, 1, "scores", &st));
  if (bt->rank != 3 || bt->dims[2] != 4 || st->rank != 3 || st->dims[0] != bt->dims[0] ||
      st->dims[2] != bt->dims[1])
    return qc_k_error(k, "boxes must be [B, N, 4] and scores [B, C, N]");
  int64_t maxo = 0;
  const qc_tensor *mt = opt_in(k, 2), *it = opt_in(k, 3), *tt = opt_in(k, 4);
  if (mt) maxo = qc_elem_i64(mt->dtype, qc_tensor_data(mt), 0);
  if (maxo < 0) maxo = 0;
  double iou = it ? qc_elem_f64(it->dtype, qc_tensor_data(it), 0) : 0;
  bool has_thr = tt != NULL;
  double thr = has_thr ? qc_elem_f64(tt->dtype, qc_tensor_data(tt), 0) : 0;
  bool center = qc_k_int(k, "center_point_box", 0) != 0;
  int64_t B = bt->dims[0], C = st->dims[1], N = bt->dims[1];
  bool f64 = bt->dtype == QC_F64;
  double *bd = malloc(sizeof(double) * (size_t)(B * N * 4 + 1));
  float *bf = malloc(sizeof(float) * (size_t)(B * N * 4 + 1));
  double *sc = malloc(sizeof(double) * (size_t)(N + 1));
  int64_t *cand = malloc(sizeof(int64_t) * (size_t)(2 * N + 1));
  int64_t *sel = NULL, nsel = 0, cap = 0;
  qc_status s = QC_OK;
  if (!bd || !bf || !sc || !cand) s = QC_OOM();
  for (int64_t i = 0; i < B * N * 4 && !s; i++) {
    bd[i] = qc_elem_f64(bt->dtype, qc_tensor_data(bt), (size_t)i);
    bf[i] = (float)bd[i];
  }
  for (int64_t b = 0; b < B && !s; b++)
    for (int64_t c = 0; c < C && !s; c++) {
      int64_t nc = 0;
      for (int64_t i = 0; i < N; i++) {
        sc[i] = qc_elem_f64(st->dtype, qc_tensor_data(st), (size_t)((b * C + c) * N + i));
        if (!has_thr || sc[i] > thr) cand[nc++] = i;
      }
      nms_ctx ctx = {sc};
      if (!qc_sort_stable(cand, nc, nms_cmp, &ctx)) {
        s = QC_OOM();
        break;
      }
      int64_t *kept = cand + N, nk = 0;
      for (int64_t j = 0; j < nc && nk < maxo; j++) {
        int64_t i = cand[j];
        bool keep = true;
        for (int64_t q = 0; q < nk && keep; q++) {
          int64_t o = kept[q];
          keep = f64 ? !nms_suppress_f64(bd + (b * N + i) * 4, bd + (b * N + o) * 4, center, iou)
                     : !nms_suppress_f32(bf + (b * N + i) * 4, bf + (b * N + o) * 4, center,
                                         (float)iou);
        }
        if (!keep) continue;
        kept[nk++] = i;
        if (nsel == cap) {
          cap = cap ? 2 * cap : 64;
          int64_t *ns = realloc(sel, sizeof(int64_t) * 3 * (size_t)cap);
          if (!ns) {
            s = QC_OOM();
            break;
          }
          sel = ns;
        }
        sel[3 * nsel] = b;
        sel[3 * nsel + 1] = c;
        sel[3 * nsel + 2] = i;
        nsel++;
      }
    }
  qc_tensor *y;
  int64_t od[2] = {nsel, 3};
  if (!s) s = qc_k_out(k, 0, QC_I64, 2, od, &y);
  if (!s && nsel) memcpy(qc_tensor_data(y), sel, sizeof(int64_t) * 3 * (size_t)nsel);
  free(bd);
  free(bf);
  free(sc);
  free(cand);
  free(sel);
  return s;
}

const qc_kernel_entry qc_kernels_tensor[] = {
    {QC_OP_Reshape, k_reshape},
    {QC_OP_Flatten, k_flatten},
    {QC_OP_Squeeze, k_squeeze},
    {QC_OP_Unsqueeze, k_unsqueeze},
    {QC_OP_Transpose, k_transpose},
    {QC_OP_Concat, k_concat},
    {QC_OP_Split, k_split},
    {QC_OP_Slice, k_slice},
    {QC_OP_Pad, k_pad},
    {QC_OP_Tile, k_tile},
    {QC_OP_Expand, k_expand},
    {QC_OP_DepthToSpace, k_depth_to_space},
    {QC_OP_SpaceToDepth, k_space_to_depth},
    {QC_OP_Trilu, k_trilu},
    {QC_OP_ReverseSequence, k_reverse_sequence},
    {QC_OP_CenterCropPad, k_center_crop_pad},
    {QC_OP_Compress, k_compress},
    {QC_OP_NonZero, k_nonzero},
    {QC_OP_Unique, k_unique},
    {QC_OP_TopK, k_topk},
    {QC_OP_OneHot, k_onehot},
    {QC_OP_Resize, k_resize},
    {QC_OP_Upsample, k_upsample},
    {QC_OP_Col2Im, k_col2im},
    {QC_OP_AffineGrid, k_affine_grid},
    {QC_OP_GridSample, k_grid_sample},
    {QC_OP_NonMaxSuppression, k_nms},
    {QC_OP_INVALID, NULL},
};
