/* Inference rules for ops that move data around: Shape, Size, Reshape, Flatten, Concat,
 * Split, Squeeze, Unsqueeze, Transpose, Slice, Gather*, Scatter*, Expand, Tile, Pad,
 * DepthToSpace, SpaceToDepth, Compress, NonZero, OneHot, TopK, Unique, Trilu,
 * CenterCropPad, ReverseSequence, Col2Im. Shape-computing ops also propagate values. */
#include "infer_ops.h"

#include <stdio.h>

/* Ends at or beyond this mean "to the end" of a symbolic dim: exporters write INT64_MAX or
 * INT32_MAX, and no symbolic dim is that large in practice. */
#define BIG_END INT32_MAX

/* An axes list from an attribute (old opsets) or an input (new opsets).
 * *present: the list was given; *known: its values are known. */
static qc_status read_axes(const qc_infer_ctx *c, bool from_input, int32_t input, int64_t *axes,
                           int32_t cap, int32_t *n, bool *present, bool *known) {
  *n = 0;
  *known = true;
  if (from_input) {
    *present = qc_infer_input(c, input) != NULL;
    if (*present) *known = qc_inf_input_ints(c, input, axes, cap, n);
    return QC_OK;
  }
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "axes", axes, cap, n));
  *present = *n >= 0;
  if (!*present) *n = 0;
  return QC_OK;
}

/* Normalize axes against rank r; errors for out-of-range and repeated axes. */
static qc_status norm_axes(const qc_infer_ctx *c, int64_t *axes, int32_t n, int32_t r) {
  for (int32_t i = 0; i < n; i++) {
    int32_t a;
    if (!qc_norm_axis(axes[i], r, &a))
      return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)axes[i], r);
    axes[i] = a;
    for (int32_t j = 0; j < i; j++)
      if (axes[j] == a) return qc_infer_error(c, "axis %d is repeated", a);
  }
  return QC_OK;
}

static qc_status norm_axis_attr(const qc_infer_ctx *c, int64_t axis, int32_t r, int32_t *out) {
  if (!qc_norm_axis(axis, r, out))
    return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)axis, r);
  return QC_OK;
}

/* ---- Shape, Size ------------------------------------------------------------------------- */

qc_status qc_infer_shape(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_ranked(QC_I64, 1);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  int32_t r = x->rank;
  int64_t start = qc_infer_int(c, "start", 0), end = qc_infer_int(c, "end", r);
  if (!qc_infer_attr(c, "end")) end = r;
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < 0 ? 0 : end > r ? r : end;
  int64_t n = end > start ? end - start : 0;
  qc_type t = qc_inf_type(QC_I64, 1, &n);
  qc_infer_set_output(c, 0, &t);
  qc_inf_vals v;
  v.rank = 1;
  v.n = (int32_t)n;
  for (int32_t i = 0; i < v.n; i++) qc_inf_val_from_dim(&v, i, x->dims[start + i]);
  qc_inf_set_output_vals(c, 0, &v);
  return QC_OK;
}

qc_status qc_infer_size(qc_infer_ctx *c) {
  qc_type t = qc_inf_type(QC_I64, 0, NULL);
  qc_infer_set_output(c, 0, &t);
  const qc_type *x = qc_infer_input(c, 0);
  if (!x || x->rank < 0) return QC_OK;
  int64_t n = 1;
  for (int32_t i = 0; i < x->rank; i++) n = qc_inf_dim_mul(n, x->dims[i]);
  qc_inf_vals v = {.rank = 0, .n = 1};
  qc_inf_val_from_dim(&v, 0, n);
  qc_inf_set_output_vals(c, 0, &v);
  return QC_OK;
}

/* ---- Reshape, Flatten ---------------------------------------------------------------------- */

/* The dim a -1 stands for: numel(in) / prod(known out dims), cancelling equal symbols.
 * Returns QC_DIM_UNKNOWN when it cannot be told; sets *bad if static sizes disagree. */
static int64_t infer_minus_one(const qc_type *in, const int64_t *out, int32_t rout, int32_t skip,
                               bool *bad) {
  int64_t sa[QC_MAX_RANK], sb[QC_MAX_RANK];
  int32_t na = 0, nb = 0;
  int64_t pa = 1, pb = 1;
  for (int32_t i = 0; i < in->rank; i++) {
    int64_t d = in->dims[i];
    if (d == QC_DIM_UNKNOWN) return QC_DIM_UNKNOWN;
    if (d >= 0) {
      if (d == 0) return QC_DIM_UNKNOWN; /* any size fits an empty tensor */
      if (pa > INT64_MAX / d) return QC_DIM_UNKNOWN;
      pa *= d;
    } else {
      sa[na++] = d;
    }
  }
  for (int32_t i = 0; i < rout; i++) {
    if (i == skip) continue;
    int64_t d = out[i];
    if (d == QC_DIM_UNKNOWN) return QC_DIM_UNKNOWN;
    if (d >= 0) {
      if (d == 0) return QC_DIM_UNKNOWN;
      if (pb > INT64_MAX / d) return QC_DIM_UNKNOWN;
      pb *= d;
    } else {
      sb[nb++] = d;
    }
  }
  /* cancel symbols present on both sides */
  for (int32_t j = 0; j < nb; j++)
    for (int32_t i = 0; i < na; i++)
      if (sa[i] == sb[j]) {
        sa[i] = sa[--na];
        sb[j--] = sb[--nb];
        break;
      }
  if (nb) return QC_DIM_UNKNOWN;
  if (na == 0) {
    if (pa % pb) {
      *bad = true;
      return QC_DIM_UNKNOWN;
    }
    return pa / pb;
  }
  if (na == 1 && pa == pb) return sa[0];
  return QC_DIM_UNKNOWN;
}

qc_status qc_infer_reshape(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  qc_inf_vals s;
  bool have = false;
  if (qc_inf_version(c) < 5) {
    const qc_attr *a = qc_infer_attr(c, "shape");
    if (a && a->kind == QC_ATTR_INTS && a->n <= QC_INF_MAX_VALS) {
      s.rank = 1;
      s.n = a->n;
      for (int32_t i = 0; i < a->n; i++) s.k[i] = QC_INF_INT, s.v[i] = a->u.ints[i];
      have = true;
    }
  } else {
    QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 1));
    static const qc_dtype i64[] = {QC_I64};
    QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, i64));
    have = qc_inf_input_vals(c, 1, &s);
  }
  if (!have) {
    qc_type t = qc_inf_dtype_only(dt);
    const qc_type *st = qc_infer_input(c, 1);
    if (st && st->rank == 1 && st->dims[0] >= 0 && st->dims[0] <= QC_MAX_RANK)
      t = qc_inf_ranked(dt, (int32_t)st->dims[0]);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (s.n > QC_MAX_RANK) return qc_infer_error(c, "target rank %d exceeds %d", s.n, QC_MAX_RANK);
  bool allowzero = qc_infer_int(c, "allowzero", 0) != 0;
  int64_t out[QC_MAX_RANK];
  int32_t minus = -1;
  for (int32_t i = 0; i < s.n; i++) {
    out[i] = qc_inf_val_dim(&s, i);
    if (s.k[i] != QC_INF_INT) continue;
    int64_t v = s.v[i];
    if (v == -1) {
      if (minus >= 0) return qc_infer_error(c, "more than one -1 in the target shape");
      minus = i;
      out[i] = QC_DIM_UNKNOWN;
    } else if (v < -1) {
      return qc_infer_error(c, "invalid dimension %lld in the target shape", (long long)v);
    } else if (v == 0 && !allowzero) {
      if (x && x->rank >= 0 && i >= x->rank)
        return qc_infer_error(c, "target dim %d is 0 (copy) but the input has rank %d", i, x->rank);
      out[i] = x && x->rank >= 0 ? x->dims[i] : QC_DIM_UNKNOWN;
    }
  }
  if (allowzero && minus >= 0)
    for (int32_t i = 0; i < s.n; i++)
      if (s.k[i] == QC_INF_INT && s.v[i] == 0)
        return qc_infer_error(c, "allowzero: a 0 and a -1 in the same target shape");
  if (x && x->rank >= 0) {
    bool bad = false;
    if (minus >= 0) out[minus] = infer_minus_one(x, out, s.n, minus, &bad);
    int64_t ni = qc_type_is_static(x) ? qc_shape_numel(x->rank, x->dims) : -1;
    bool out_static = true;
    for (int32_t i = 0; i < s.n; i++) out_static &= out[i] >= 0;
    int64_t no = out_static ? qc_shape_numel(s.n, out) : -1;
    if (bad || (ni >= 0 && no >= 0 && ni != no)) {
      char a[160], b[160];
      for (int32_t i = 0; i < s.n; i++)
        if (i == minus) out[i] = QC_DIM_UNKNOWN;
      return qc_infer_error(c, "cannot reshape %s (%lld elements) to %s",
                            qc_inf_dims_str(c->g, x->rank, x->dims, a, sizeof a),
                            (long long)qc_shape_numel(x->rank, x->dims),
                            qc_inf_dims_str(c->g, s.n, out, b, sizeof b));
    }
  }
  qc_type t = qc_inf_type(dt, s.n, out);
  qc_infer_set_output(c, 0, &t);
  /* values of a 1-element tensor survive a reshape between scalar and [1] */
  qc_inf_vals v;
  if (s.n <= 1 && qc_inf_input_vals(c, 0, &v) && v.n == 1) {
    v.rank = s.n;
    qc_inf_set_output_vals(c, 0, &v);
  }
  return QC_OK;
}

qc_status qc_infer_flatten(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  qc_type t = qc_inf_ranked(dt, 2);
  if (x && x->rank >= 0) {
    int64_t axis = qc_infer_int(c, "axis", 1);
    if (axis < -(int64_t)x->rank || axis > x->rank)
      return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
    if (axis < 0) axis += x->rank;
    int64_t a = 1, b = 1;
    for (int32_t i = 0; i < x->rank; i++) {
      if (i < axis) a = qc_inf_dim_mul(a, x->dims[i]);
      else b = qc_inf_dim_mul(b, x->dims[i]);
    }
    t.dims[0] = a;
    t.dims[1] = b;
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- Concat, Split ------------------------------------------------------------------------- */

/* Concatenate the types of inputs [first, first + step * k ...) along `axis`. */
static qc_status concat_types(qc_infer_ctx *c, int32_t first, int32_t step, int64_t axis_attr,
                              qc_type *out) {
  int32_t rank = -1;
  qc_dtype dt = QC_DT_UNDEFINED;
  int32_t n_in = qc_infer_num_inputs(c);
  for (int32_t i = first; i < n_in; i += step) {
    const qc_type *t = qc_infer_input(c, i);
    if (!t) continue;
    if (t->dtype) {
      if (dt && dt != t->dtype)
        return qc_infer_error(c, "input %d: dtype %s differs from %s", i, qc_dtype_name(t->dtype),
                              qc_dtype_name(dt));
      dt = t->dtype;
    }
    if (t->rank < 0) continue;
    if (rank >= 0 && t->rank != rank)
      return qc_infer_error(c, "input %d: rank %d differs from %d", i, t->rank, rank);
    rank = t->rank;
  }
  *out = qc_inf_dtype_only(dt);
  if (rank < 0) return QC_OK;
  if (rank == 0) return qc_infer_error(c, "cannot concatenate scalars");
  int32_t axis;
  QC_RETURN_IF_ERROR(norm_axis_attr(c, axis_attr, rank, &axis));
  *out = qc_inf_ranked(dt, rank);
  int64_t sum = 0;
  bool all_known = true;
  for (int32_t i = first; i < n_in; i += step) {
    const qc_type *t = qc_infer_input(c, i);
    if (!t || t->rank < 0) {
      all_known = false;
      continue;
    }
    for (int32_t d = 0; d < rank; d++) {
      if (d == axis) continue;
      bool conflict = false;
      int64_t m = qc_inf_dim_merge(out->dims[d], t->dims[d], &conflict);
      if (conflict)
        return qc_infer_error(c, "input %d: dim %d is %lld, expected %lld", i, d,
                              (long long)t->dims[d], (long long)out->dims[d]);
      out->dims[d] = m;
    }
    sum = qc_inf_dim_add(sum, t->dims[axis]);
  }
  out->dims[axis] = all_known ? sum : QC_DIM_UNKNOWN;
  return QC_OK;
}

qc_status qc_infer_concat(qc_infer_ctx *c) {
  qc_type t;
  int64_t axis = qc_infer_attr(c, "axis") ? qc_infer_int(c, "axis", 0)
                                          : (qc_inf_version(c) < 4 ? 1 : 0);
  QC_RETURN_IF_ERROR(concat_types(c, 0, 1, axis, &t));
  qc_infer_set_output(c, 0, &t);
  /* values: 1-D shape pieces joined */
  if (t.rank != 1) return QC_OK;
  qc_inf_vals r = {.rank = 1, .n = 0};
  for (int32_t i = 0; i < qc_infer_num_inputs(c); i++) {
    qc_inf_vals v;
    int64_t len = qc_inf_dim(c, i, 0);
    if (!qc_inf_input_vals(c, i, &v)) {
      if (len < 0 || r.n + len > QC_INF_MAX_VALS) return QC_OK;
      for (int64_t k = 0; k < len; k++) r.k[r.n] = QC_INF_UNK, r.v[r.n++] = 0;
      continue;
    }
    if (r.n + v.n > QC_INF_MAX_VALS) return QC_OK;
    for (int32_t k = 0; k < v.n; k++) r.k[r.n] = v.k[k], r.v[r.n++] = v.v[k];
  }
  qc_inf_set_output_vals(c, 0, &r);
  return QC_OK;
}

qc_status qc_infer_split(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  int32_t n_out = qc_infer_num_outputs(c);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  int64_t ver = qc_inf_version(c);
  int64_t split[64];
  int32_t n_split = 0;
  bool have_split = false, split_known = true;
  if (ver >= 13 || (ver < 2 && qc_infer_input(c, 1))) {
    if (qc_infer_input(c, 1)) {
      QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, (const qc_dtype[]){QC_I64}));
      have_split = true;
      split_known = qc_inf_input_ints(c, 1, split, 64, &n_split);
    }
  } else {
    QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "split", split, 64, &n_split));
    have_split = n_split >= 0;
    if (!have_split) n_split = 0;
  }
  int64_t num_outputs = qc_infer_int(c, "num_outputs", 0);
  if (ver >= 18 && qc_infer_attr(c, "num_outputs")) {
    if (have_split) return qc_infer_error(c, "both 'split' and 'num_outputs' are given");
    if (num_outputs != n_out)
      return qc_infer_error(c, "num_outputs is %lld but the node has %d outputs",
                            (long long)num_outputs, n_out);
  }
  if (have_split && split_known && n_split != n_out)
    return qc_infer_error(c, "'split' has %d entries for %d outputs", n_split, n_out);
  for (int32_t i = 0; i < n_split; i++)
    if (split[i] < 0) return qc_infer_error(c, "negative split size %lld", (long long)split[i]);
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    for (int32_t i = 0; i < n_out; i++) qc_infer_set_output(c, i, &t);
    return QC_OK;
  }
  int32_t axis;
  QC_RETURN_IF_ERROR(norm_axis_attr(c, qc_infer_int(c, "axis", 0), x->rank, &axis));
  int64_t d = x->dims[axis];
  int64_t sizes[64];
  for (int32_t i = 0; i < n_out && i < 64; i++) sizes[i] = QC_DIM_UNKNOWN;
  if (have_split && split_known) {
    int64_t sum = 0;
    for (int32_t i = 0; i < n_split; i++) sizes[i] = split[i], sum += split[i];
    if (d >= 0 && sum != d)
      return qc_infer_error(c, "split sizes add up to %lld, but dim %d is %lld", (long long)sum,
                            axis, (long long)d);
  } else if (!have_split && n_out == 1) {
    sizes[0] = d;
  } else if (!have_split && d >= 0) {
    if (ver >= 18 && qc_infer_attr(c, "num_outputs")) {
      int64_t each = (d + n_out - 1) / n_out;
      for (int32_t i = 0; i < n_out; i++) {
        int64_t rest = d - each * i;
        sizes[i] = rest < 0 ? 0 : rest < each ? rest : each;
      }
    } else {
      if (d % n_out) return qc_infer_error(c, "dim %d (%lld) does not split evenly into %d", axis, (long long)d, n_out);
      for (int32_t i = 0; i < n_out; i++) sizes[i] = d / n_out;
    }
  }
  qc_inf_vals xv;
  bool have_vals = x->rank == 1 && qc_inf_input_vals(c, 0, &xv);
  int64_t off = 0;
  for (int32_t i = 0; i < n_out && i < 64; i++) {
    qc_type t = *x;
    t.kind = QC_TYPE_TENSOR;
    t.dims[axis] = sizes[i];
    qc_infer_set_output(c, i, &t);
    if (have_vals && off >= 0 && sizes[i] >= 0 && off + sizes[i] <= xv.n) {
      qc_inf_vals v = {.rank = 1, .n = (int32_t)sizes[i]};
      for (int32_t k = 0; k < v.n; k++) v.k[k] = xv.k[off + k], v.v[k] = xv.v[off + k];
      qc_inf_set_output_vals(c, i, &v);
    }
    off = sizes[i] >= 0 && off >= 0 ? off + sizes[i] : -1;
  }
  return QC_OK;
}

/* ---- Squeeze, Unsqueeze, Transpose ----------------------------------------------------------- */

qc_status qc_infer_squeeze(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  int64_t axes[QC_MAX_RANK + 1];
  int32_t n;
  bool present, known;
  bool from_input = qc_inf_version(c) >= 13;
  if (from_input) QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, (const qc_dtype[]){QC_I64}));
  QC_RETURN_IF_ERROR(read_axes(c, from_input, 1, axes, QC_MAX_RANK + 1, &n, &present, &known));
  qc_type t = qc_inf_dtype_only(dt);
  if (!x || x->rank < 0 || !known) {
    if (x && x->rank >= 0 && present) {
      const qc_type *at = qc_infer_input(c, 1);
      if (at && at->rank == 1 && at->dims[0] >= 0 && at->dims[0] <= x->rank)
        t = qc_inf_ranked(dt, x->rank - (int32_t)at->dims[0]);
    }
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  bool drop[QC_MAX_RANK] = {false};
  if (present) {
    QC_RETURN_IF_ERROR(norm_axes(c, axes, n, x->rank));
    for (int32_t i = 0; i < n; i++) {
      int64_t d = x->dims[axes[i]];
      if (d >= 0 && d != 1)
        return qc_infer_error(c, "cannot squeeze axis %lld of size %lld", (long long)axes[i], (long long)d);
      drop[axes[i]] = true;
    }
  } else {
    for (int32_t i = 0; i < x->rank; i++) {
      if (x->dims[i] < 0) { /* may or may not be 1 */
        qc_infer_set_output(c, 0, &t);
        return QC_OK;
      }
      drop[i] = x->dims[i] == 1;
    }
  }
  t = qc_inf_type(dt, 0, NULL);
  for (int32_t i = 0; i < x->rank; i++)
    if (!drop[i]) t.dims[t.rank++] = x->dims[i];
  qc_infer_set_output(c, 0, &t);
  qc_inf_vals v;
  if (t.rank == 0 && qc_inf_input_vals(c, 0, &v) && v.n == 1) {
    v.rank = 0;
    qc_inf_set_output_vals(c, 0, &v);
  }
  return QC_OK;
}

qc_status qc_infer_unsqueeze(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  int64_t axes[QC_MAX_RANK + 1];
  int32_t n;
  bool present, known;
  bool from_input = qc_inf_version(c) >= 13;
  if (from_input) QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, (const qc_dtype[]){QC_I64}));
  QC_RETURN_IF_ERROR(read_axes(c, from_input, 1, axes, QC_MAX_RANK + 1, &n, &present, &known));
  qc_type t = qc_inf_dtype_only(dt);
  if (!present && qc_infer_num_inputs(c) >= 1 && (from_input || !qc_infer_attr(c, "axes")))
    return qc_infer_error(c, "axes are required");
  if (!x || x->rank < 0 || !known) {
    const qc_type *at = from_input ? qc_infer_input(c, 1) : NULL;
    if (x && x->rank >= 0 && at && at->rank == 1 && at->dims[0] >= 0 &&
        x->rank + at->dims[0] <= QC_MAX_RANK)
      t = qc_inf_ranked(dt, x->rank + (int32_t)at->dims[0]);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  int32_t r = x->rank + n;
  if (r > QC_MAX_RANK) return qc_infer_error(c, "output rank %d exceeds %d", r, QC_MAX_RANK);
  QC_RETURN_IF_ERROR(norm_axes(c, axes, n, r));
  bool ins[QC_MAX_RANK] = {false};
  for (int32_t i = 0; i < n; i++) ins[axes[i]] = true;
  t = qc_inf_type(dt, r, NULL);
  for (int32_t i = 0, k = 0; i < r; i++) t.dims[i] = ins[i] ? 1 : x->dims[k++];
  qc_infer_set_output(c, 0, &t);
  qc_inf_vals v;
  if (r == 1 && qc_inf_input_vals(c, 0, &v) && v.n == 1) {
    v.rank = 1;
    qc_inf_set_output_vals(c, 0, &v);
  }
  return QC_OK;
}

qc_status qc_infer_transpose(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  int64_t perm[QC_MAX_RANK + 1];
  int32_t n;
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "perm", perm, QC_MAX_RANK + 1, &n));
  bool has = n >= 0;
  if (!x || x->rank < 0) {
    qc_type t = has ? qc_inf_ranked(dt, n) : qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (!has) {
    n = x->rank;
    for (int32_t i = 0; i < n; i++) perm[i] = n - 1 - i;
  }
  if (n != x->rank) return qc_infer_error(c, "perm has %d entries for rank %d", n, x->rank);
  bool seen[QC_MAX_RANK] = {false};
  qc_type t = qc_inf_type(dt, n, NULL);
  for (int32_t i = 0; i < n; i++) {
    int32_t a;
    if (!qc_norm_axis(perm[i], n, &a) || seen[a])
      return qc_infer_error(c, "perm is not a permutation of 0..%d", n - 1);
    seen[a] = true;
    t.dims[i] = x->dims[a];
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- Slice ------------------------------------------------------------------------------------- */

/* Elements selected by start:end:step on a dim of size d (ONNX clamping rules). */
static int64_t slice_count(int64_t d, int64_t start, int64_t end, int64_t step, int64_t *first) {
  if (step > 0) {
    if (start < 0) start += d;
    if (end < 0) end += d;
    start = start < 0 ? 0 : start > d ? d : start;
    end = end < 0 ? 0 : end > d ? d : end;
    *first = start;
    return end > start ? (end - start + step - 1) / step : 0;
  }
  if (start < 0) start += d;
  if (end < 0) end += d;
  start = start < 0 ? 0 : start > d - 1 ? d - 1 : start;
  end = end < -1 ? -1 : end > d - 1 ? d - 1 : end;
  *first = start;
  return start > end ? (start - end + (-step) - 1) / (-step) : 0;
}

qc_status qc_infer_slice(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  int64_t starts[QC_INF_MAX_VALS], ends[QC_INF_MAX_VALS], axes[QC_INF_MAX_VALS],
      steps[QC_INF_MAX_VALS];
  int32_t ns = 0, ne = 0, na = 0, nst = 0;
  bool known_se, known_axes = true, known_steps = true, has_axes, has_steps;
  if (qc_inf_version(c) < 10) {
    QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "starts", starts, QC_INF_MAX_VALS, &ns));
    QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "ends", ends, QC_INF_MAX_VALS, &ne));
    QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "axes", axes, QC_INF_MAX_VALS, &na));
    known_se = ns >= 0 && ne >= 0;
    has_axes = na >= 0;
    has_steps = false;
  } else {
    int64_t len = QC_DIM_UNKNOWN;
    for (int32_t i = 1; i < 5; i++) {
      if (!qc_infer_input(c, i)) continue;
      QC_RETURN_IF_ERROR(qc_inf_require_index(c, i));
      QC_RETURN_IF_ERROR(qc_infer_require_rank(c, i, 1));
      int64_t l = qc_inf_dim(c, i, 0);
      if (l >= 0 && len >= 0 && l != len)
        return qc_infer_error(c, "input %d has %lld entries, input 1 has %lld", i, (long long)l,
                              (long long)len);
      if (i == 1) len = l;
    }
    known_se = qc_inf_input_ints(c, 1, starts, QC_INF_MAX_VALS, &ns) &&
               qc_inf_input_ints(c, 2, ends, QC_INF_MAX_VALS, &ne);
    has_axes = qc_infer_input(c, 3) != NULL;
    if (has_axes) known_axes = qc_inf_input_ints(c, 3, axes, QC_INF_MAX_VALS, &na);
    has_steps = qc_infer_input(c, 4) != NULL;
    if (has_steps) known_steps = qc_inf_input_ints(c, 4, steps, QC_INF_MAX_VALS, &nst);
  }
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  qc_type t = *x;
  t.kind = QC_TYPE_TENSOR;
  if (!known_axes) {
    t = qc_inf_ranked(dt, x->rank);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (known_se && ns != ne) return qc_infer_error(c, "starts and ends differ in length (%d vs %d)", ns, ne);
  if (!known_se) {
    /* the sliced axes are known: only those become unknown */
    if (!has_axes) {
      const qc_type *st = qc_infer_input(c, 1);
      int64_t len = st && st->rank == 1 ? st->dims[0] : QC_DIM_UNKNOWN;
      if (len < 0) {
        t = qc_inf_ranked(dt, x->rank);
      } else {
        for (int64_t i = 0; i < len && i < x->rank; i++) t.dims[i] = QC_DIM_UNKNOWN;
      }
    } else {
      QC_RETURN_IF_ERROR(norm_axes(c, axes, na, x->rank));
      for (int32_t i = 0; i < na; i++) t.dims[axes[i]] = QC_DIM_UNKNOWN;
    }
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (!has_axes) {
    na = ns;
    for (int32_t i = 0; i < na; i++) axes[i] = i;
  }
  if (na != ns) return qc_infer_error(c, "axes has %d entries, starts has %d", na, ns);
  if (has_steps && known_steps && nst != ns)
    return qc_infer_error(c, "steps has %d entries, starts has %d", nst, ns);
  QC_RETURN_IF_ERROR(norm_axes(c, axes, na, x->rank));
  int64_t first[QC_INF_MAX_VALS] = {0};
  for (int32_t i = 0; i < na; i++) {
    int32_t a = (int32_t)axes[i];
    if (!known_steps) {
      t.dims[a] = QC_DIM_UNKNOWN;
      continue;
    }
    int64_t step = has_steps ? steps[i] : 1;
    if (step == 0) return qc_infer_error(c, "step is zero on axis %d", a);
    int64_t d = x->dims[a];
    if (d >= 0) {
      t.dims[a] = slice_count(d, starts[i], ends[i], step, &first[i]);
    } else if (step == 1 && starts[i] == 0 && ends[i] >= BIG_END) {
      t.dims[a] = d; /* the whole axis */
    } else {
      t.dims[a] = QC_DIM_UNKNOWN;
    }
  }
  qc_infer_set_output(c, 0, &t);
  /* values of a sliced 1-D tensor */
  qc_inf_vals v;
  if (x->rank == 1 && t.dims[0] >= 0 && qc_inf_input_vals(c, 0, &v) && x->dims[0] == v.n) {
    qc_inf_vals r = {.rank = 1, .n = (int32_t)t.dims[0]};
    int64_t step = na && has_steps ? steps[0] : 1, pos = na ? first[0] : 0;
    for (int32_t k = 0; k < r.n; k++, pos += step) {
      if (pos < 0 || pos >= v.n) return QC_OK;
      r.k[k] = v.k[pos];
      r.v[k] = v.v[pos];
    }
    qc_inf_set_output_vals(c, 0, &r);
  }
  return QC_OK;
}

/* ---- Gather family ----------------------------------------------------------------------------- */

qc_status qc_infer_gather(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_index(c, 1));
  const qc_type *x = qc_infer_input(c, 0), *idx = qc_infer_input(c, 1);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  if (!x || x->rank < 0 || !idx || idx->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (x->rank == 0) return qc_infer_error(c, "input 0: cannot gather from a scalar");
  int32_t axis;
  QC_RETURN_IF_ERROR(norm_axis_attr(c, qc_infer_int(c, "axis", 0), x->rank, &axis));
  int32_t r = x->rank - 1 + idx->rank;
  if (r > QC_MAX_RANK) return qc_infer_error(c, "output rank %d exceeds %d", r, QC_MAX_RANK);
  qc_type t = qc_inf_type(dt, 0, NULL);
  for (int32_t i = 0; i < axis; i++) t.dims[t.rank++] = x->dims[i];
  for (int32_t i = 0; i < idx->rank; i++) t.dims[t.rank++] = idx->dims[i];
  for (int32_t i = axis + 1; i < x->rank; i++) t.dims[t.rank++] = x->dims[i];
  int64_t d = x->dims[axis];
  qc_inf_vals iv;
  bool have_idx = qc_inf_input_vals(c, 1, &iv);
  if (have_idx && d >= 0)
    for (int32_t k = 0; k < iv.n; k++)
      if (iv.k[k] == QC_INF_INT && (iv.v[k] < -d || iv.v[k] >= d))
        return qc_infer_error(c, "index %lld is out of range for dim %d of size %lld",
                              (long long)iv.v[k], axis, (long long)d);
  qc_infer_set_output(c, 0, &t);
  qc_inf_vals xv;
  if (x->rank == 1 && have_idx && idx->rank <= 1 && qc_inf_input_vals(c, 0, &xv)) {
    qc_inf_vals r2 = {.rank = idx->rank, .n = iv.n};
    for (int32_t k = 0; k < iv.n; k++) {
      int64_t p = iv.v[k] < 0 ? iv.v[k] + xv.n : iv.v[k];
      if (iv.k[k] != QC_INF_INT || p < 0 || p >= xv.n) {
        r2.k[k] = QC_INF_UNK;
        r2.v[k] = 0;
      } else {
        r2.k[k] = xv.k[p];
        r2.v[k] = xv.v[p];
      }
    }
    qc_inf_set_output_vals(c, 0, &r2);
  }
  return QC_OK;
}

qc_status qc_infer_gather_elements(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_index(c, 1));
  const qc_type *x = qc_infer_input(c, 0), *idx = qc_infer_input(c, 1);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  if (x && idx && x->rank >= 0 && idx->rank >= 0) {
    if (x->rank != idx->rank)
      return qc_infer_error(c, "data and indices ranks differ (%d vs %d)", x->rank, idx->rank);
    int32_t axis;
    QC_RETURN_IF_ERROR(norm_axis_attr(c, qc_infer_int(c, "axis", 0), x->rank, &axis));
  }
  qc_type t = idx ? *idx : qc_type_unknown();
  t.dtype = dt;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_gather_nd(qc_infer_ctx *c) {
  static const qc_dtype i64[] = {QC_I64};
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, i64));
  const qc_type *x = qc_infer_input(c, 0), *idx = qc_infer_input(c, 1);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  qc_type t = qc_inf_dtype_only(dt);
  int64_t b = qc_infer_int(c, "batch_dims", 0);
  if (x && idx && x->rank >= 0 && idx->rank >= 0) {
    if (idx->rank < 1) return qc_infer_error(c, "input 1: indices must have rank >= 1");
    if (b < 0 || b >= x->rank || b >= idx->rank)
      return qc_infer_error(c, "batch_dims %lld must be smaller than both ranks (%d, %d)",
                            (long long)b, x->rank, idx->rank);
    int64_t k = idx->dims[idx->rank - 1];
    if (k >= 0) {
      if (k > x->rank - b)
        return qc_infer_error(c, "indices address %lld dims, data has only %lld after the batch dims",
                              (long long)k, (long long)(x->rank - b));
      int32_t r = idx->rank - 1 + x->rank - (int32_t)b - (int32_t)k;
      if (r > QC_MAX_RANK) return qc_infer_error(c, "output rank %d exceeds %d", r, QC_MAX_RANK);
      t = qc_inf_type(dt, 0, NULL);
      for (int32_t i = 0; i < idx->rank - 1; i++) t.dims[t.rank++] = idx->dims[i];
      for (int64_t i = b + k; i < x->rank; i++) t.dims[t.rank++] = x->dims[i];
    }
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* Scatter, ScatterElements, ScatterND, TensorScatter: the data's type. */
qc_status qc_infer_scatter(qc_infer_ctx *c) {
  qc_op op = c->n->op;
  if (op == QC_OP_TensorScatter) {
    QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
    if (qc_infer_input(c, 2))
      QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 2, "i64", 1, (const qc_dtype[]){QC_I64}));
    const qc_type *p = qc_infer_input(c, 0), *u = qc_infer_input(c, 1);
    if (p && u && p->rank >= 0 && u->rank >= 0 && p->rank != u->rank)
      return qc_infer_error(c, "cache and update ranks differ (%d vs %d)", p->rank, u->rank);
    return qc_infer_same(c);
  }
  QC_RETURN_IF_ERROR(qc_inf_require_index(c, 1));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 2));
  const qc_type *x = qc_infer_input(c, 0), *idx = qc_infer_input(c, 1), *u = qc_infer_input(c, 2);
  if (op != QC_OP_ScatterND && x && idx && u && x->rank >= 0 && idx->rank >= 0) {
    if (x->rank != idx->rank)
      return qc_infer_error(c, "data and indices ranks differ (%d vs %d)", x->rank, idx->rank);
    if (u->rank >= 0 && u->rank != idx->rank)
      return qc_infer_error(c, "indices and updates ranks differ (%d vs %d)", idx->rank, u->rank);
  }
  if (op == QC_OP_ScatterND && x && idx && u && x->rank >= 0 && idx->rank >= 0 && u->rank >= 0) {
    int64_t k = idx->rank ? idx->dims[idx->rank - 1] : QC_DIM_UNKNOWN;
    if (k >= 0 && u->rank != idx->rank - 1 + x->rank - k)
      return qc_infer_error(c, "updates must have rank %lld, got %d",
                            (long long)(idx->rank - 1 + x->rank - k), u->rank);
  }
  return qc_infer_same(c);
}

/* ---- Expand, Tile, Pad ------------------------------------------------------------------------- */

qc_status qc_infer_expand(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, (const qc_dtype[]){QC_I64}));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 1));
  const qc_type *x = qc_infer_input(c, 0), *st = qc_infer_input(c, 1);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  qc_type t = qc_inf_dtype_only(dt);
  qc_inf_vals s;
  int32_t n = -1;
  int64_t dims[QC_MAX_RANK];
  if (qc_inf_input_vals(c, 1, &s)) {
    n = s.n;
    if (n > QC_MAX_RANK) return qc_infer_error(c, "target rank %d exceeds %d", n, QC_MAX_RANK);
    for (int32_t i = 0; i < n; i++) {
      if (s.k[i] == QC_INF_INT && s.v[i] < 0)
        return qc_infer_error(c, "negative dimension %lld in the shape", (long long)s.v[i]);
      dims[i] = qc_inf_val_dim(&s, i);
    }
  } else if (st && st->rank == 1 && st->dims[0] >= 0 && st->dims[0] <= QC_MAX_RANK) {
    n = (int32_t)st->dims[0];
    for (int32_t i = 0; i < n; i++) dims[i] = QC_DIM_UNKNOWN;
  }
  if (n >= 0 && x && x->rank >= 0) {
    int32_t r;
    int64_t out[QC_MAX_RANK];
    if (!qc_broadcast_dims(x->rank, x->dims, n, dims, &r, out)) {
      char a[160], b[160];
      return qc_infer_error(c, "shape %s does not broadcast with %s",
                            qc_inf_dims_str(c->g, x->rank, x->dims, a, sizeof a),
                            qc_inf_dims_str(c->g, n, dims, b, sizeof b));
    }
    t = qc_inf_type(dt, r, out);
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_tile(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, (const qc_dtype[]){QC_I64}));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 1));
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 1, 0, x->rank, "repeats must have one entry per input dim"));
  qc_type t = *x;
  t.kind = QC_TYPE_TENSOR;
  qc_inf_vals rep;
  bool have = qc_inf_input_vals(c, 1, &rep) && rep.n == x->rank;
  for (int32_t i = 0; i < x->rank; i++) {
    if (!have || rep.k[i] != QC_INF_INT) {
      t.dims[i] = QC_DIM_UNKNOWN;
      continue;
    }
    if (rep.v[i] < 0) return qc_infer_error(c, "negative repeat %lld", (long long)rep.v[i]);
    t.dims[i] = qc_inf_dim_mul(x->dims[i], rep.v[i]);
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_pad(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  int64_t ver = qc_inf_version(c);
  int64_t pads[2 * QC_MAX_RANK], axes[QC_MAX_RANK];
  int32_t np = 0, na = 0;
  bool known;
  const char *mode = qc_infer_string(c, "mode", "constant");
  if (strcmp(mode, "constant") && strcmp(mode, "reflect") && strcmp(mode, "edge") &&
      strcmp(mode, "wrap"))
    return qc_infer_error(c, "unknown mode '%s'", mode);
  if (ver < 11) {
    QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "pads", pads, 2 * QC_MAX_RANK, &np));
    known = np >= 0;
  } else {
    QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, (const qc_dtype[]){QC_I64}));
    QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 1));
    if (qc_infer_input(c, 2)) {
      QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 2));
      QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 2));
    }
    known = qc_inf_input_ints(c, 1, pads, 2 * QC_MAX_RANK, &np);
  }
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  bool has_axes = ver >= 18 && qc_infer_input(c, 3);
  bool axes_known = true;
  if (has_axes) {
    QC_RETURN_IF_ERROR(qc_inf_require_index(c, 3));
    axes_known = qc_inf_input_ints(c, 3, axes, QC_MAX_RANK, &na);
    if (axes_known) QC_RETURN_IF_ERROR(norm_axes(c, axes, na, x->rank));
  } else {
    na = x->rank;
    for (int32_t i = 0; i < na; i++) axes[i] = i;
  }
  qc_type t = *x;
  t.kind = QC_TYPE_TENSOR;
  if (!axes_known) {
    t = qc_inf_ranked(dt, x->rank);
  } else if (!known) {
    for (int32_t i = 0; i < na; i++) t.dims[axes[i]] = QC_DIM_UNKNOWN;
  } else {
    if (np != 2 * na)
      return qc_infer_error(c, "pads has %d entries, expected %d", np, 2 * na);
    for (int32_t i = 0; i < na; i++) {
      int64_t d = x->dims[axes[i]];
      int64_t add = pads[i] + pads[i + na];
      if (d >= 0) {
        if (d + add < 0)
          return qc_infer_error(c, "pads make dim %lld negative", (long long)axes[i]);
        t.dims[axes[i]] = d + add;
      } else {
        t.dims[axes[i]] = add == 0 && pads[i] == 0 ? d : QC_DIM_UNKNOWN;
      }
    }
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- DepthToSpace, SpaceToDepth ---------------------------------------------------------------- */

qc_status qc_infer_depth_to_space(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 4));
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  int64_t b = qc_infer_int(c, "blocksize", 0);
  if (qc_infer_attr(c, "blocksize") && b <= 0)
    return qc_infer_error(c, "blocksize must be positive, got %lld", (long long)b);
  const char *mode = qc_infer_string(c, "mode", "DCR");
  if (strcmp(mode, "DCR") && strcmp(mode, "CRD"))
    return qc_infer_error(c, "mode must be DCR or CRD, got '%s'", mode);
  qc_type t = qc_inf_ranked(dt, 4);
  if (x && x->rank == 4 && b > 0) {
    bool d2s = c->n->op == QC_OP_DepthToSpace;
    int64_t ch = x->dims[1];
    t.dims[0] = x->dims[0];
    if (d2s) {
      if (ch >= 0 && ch % (b * b))
        return qc_infer_error(c, "channels (%lld) are not a multiple of blocksize^2 (%lld)",
                              (long long)ch, (long long)(b * b));
      t.dims[1] = ch >= 0 ? ch / (b * b) : QC_DIM_UNKNOWN;
      t.dims[2] = qc_inf_dim_mul(x->dims[2], b);
      t.dims[3] = qc_inf_dim_mul(x->dims[3], b);
    } else {
      for (int32_t i = 2; i < 4; i++) {
        int64_t d = x->dims[i];
        if (d >= 0 && d % b)
          return qc_infer_error(c, "dim %d (%lld) is not a multiple of blocksize %lld", i,
                                (long long)d, (long long)b);
        t.dims[i] = d >= 0 ? d / b : QC_DIM_UNKNOWN;
      }
      t.dims[1] = qc_inf_dim_mul(ch, b * b);
    }
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- data-dependent sizes --------------------------------------------------------------------- */

/* Number of true elements among the first `limit` of a known bool tensor; -1 if unknown. */
static int64_t count_true(const qc_infer_ctx *c, int32_t i, int64_t limit) {
  const qc_tensor *t = qc_inf_input_tensor(c, i);
  if (!t || limit < 0) return -1;
  int64_t n = qc_shape_numel(t->rank, t->dims), cnt = 0;
  if (n < 0) return -1;
  for (int64_t k = 0; k < n && k < limit; k++)
    cnt += qc_elem_f64(t->dtype, qc_tensor_data(t), (size_t)k) != 0;
  return cnt;
}

qc_status qc_infer_compress(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_bool(c, 1));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 1));
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  qc_type t = qc_inf_dtype_only(dt);
  if (!qc_infer_attr(c, "axis")) {
    int64_t numel = x && qc_type_is_static(x) ? qc_shape_numel(x->rank, x->dims) : -1;
    int64_t n = count_true(c, 1, numel);
    t = qc_inf_type(dt, 1, (int64_t[]){n >= 0 ? n : QC_DIM_UNKNOWN});
  } else if (x && x->rank >= 0) {
    int32_t axis;
    QC_RETURN_IF_ERROR(norm_axis_attr(c, qc_infer_int(c, "axis", 0), x->rank, &axis));
    t = *x;
    t.kind = QC_TYPE_TENSOR;
    int64_t n = count_true(c, 1, x->dims[axis]);
    t.dims[axis] = n >= 0 ? n : QC_DIM_UNKNOWN;
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_nonzero(qc_infer_ctx *c) {
  int32_t r = qc_inf_rank(c, 0);
  int64_t dims[2] = {r >= 0 ? r : QC_DIM_UNKNOWN, QC_DIM_UNKNOWN};
  const qc_tensor *k = qc_inf_input_tensor(c, 0);
  if (k && qc_dtype_traits_of(k->dtype)->kind != QC_KIND_STRING &&
      qc_dtype_traits_of(k->dtype)->kind != QC_KIND_COMPLEX && !qc_dtype_is_block(k->dtype))
    dims[1] = count_true(c, 0, INT64_MAX);
  qc_type t = qc_inf_type(QC_I64, 2, dims);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_onehot(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 1));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 2, 1));
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 2, 0, 2, "values must hold [off, on]: size"));
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = qc_inf_dtype(c, 2);
  qc_type t = qc_inf_dtype_only(dt);
  if (x && x->rank >= 0) {
    int32_t r = x->rank + 1, axis;
    if (r > QC_MAX_RANK) return qc_infer_error(c, "output rank %d exceeds %d", r, QC_MAX_RANK);
    QC_RETURN_IF_ERROR(norm_axis_attr(c, qc_infer_int(c, "axis", -1), r, &axis));
    double depth;
    int32_t n;
    int64_t dd = QC_DIM_UNKNOWN;
    if (qc_inf_input_floats(c, 1, &depth, 1, &n) && n == 1) {
      if (depth < 1) return qc_infer_error(c, "depth must be positive, got %g", depth);
      dd = qc_inf_dim_from_double(depth);
    }
    t = qc_inf_type(dt, r, NULL);
    for (int32_t i = 0, k = 0; i < r; i++) t.dims[i] = i == axis ? dd : x->dims[k++];
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_topk(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  int64_t k = QC_DIM_UNKNOWN;
  if (qc_inf_version(c) < 10) {
    k = qc_infer_int(c, "k", 0);
  } else {
    QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, (const qc_dtype[]){QC_I64}));
    QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 1));
    int64_t v;
    int32_t n;
    if (qc_inf_input_ints(c, 1, &v, 1, &n) && n == 1) k = v;
  }
  if (k != QC_DIM_UNKNOWN && k < 0) return qc_infer_error(c, "k must be >= 0, got %lld", (long long)k);
  qc_type t = qc_inf_dtype_only(dt);
  if (x && x->rank >= 0) {
    int32_t axis;
    QC_RETURN_IF_ERROR(norm_axis_attr(c, qc_infer_int(c, "axis", -1), x->rank, &axis));
    if (k >= 0 && x->dims[axis] >= 0 && k > x->dims[axis])
      return qc_infer_error(c, "k (%lld) exceeds dim %d (%lld)", (long long)k, axis,
                            (long long)x->dims[axis]);
    t = *x;
    t.kind = QC_TYPE_TENSOR;
    t.dims[axis] = k;
  }
  qc_infer_set_output(c, 0, &t);
  t.dtype = QC_I64;
  qc_infer_set_output(c, 1, &t);
  return QC_OK;
}

qc_status qc_infer_unique(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  qc_type y = qc_inf_ranked(dt, 1), idx = qc_inf_ranked(QC_I64, 1);
  qc_type inv = qc_inf_ranked(QC_I64, 1);
  if (qc_infer_attr(c, "axis")) {
    y = qc_inf_dtype_only(dt);
    if (x && x->rank >= 0) {
      int32_t axis;
      QC_RETURN_IF_ERROR(norm_axis_attr(c, qc_infer_int(c, "axis", 0), x->rank, &axis));
      y = *x;
      y.kind = QC_TYPE_TENSOR;
      y.dims[axis] = QC_DIM_UNKNOWN;
      inv.dims[0] = x->dims[axis];
    }
  } else if (x && x->rank >= 0) {
    int64_t n = 1;
    for (int32_t i = 0; i < x->rank; i++) n = qc_inf_dim_mul(n, x->dims[i]);
    inv.dims[0] = n;
  }
  qc_infer_set_output(c, 0, &y);
  qc_infer_set_output(c, 1, &idx);
  qc_infer_set_output(c, 2, &inv);
  qc_infer_set_output(c, 3, &idx);
  return QC_OK;
}

/* ---- misc ------------------------------------------------------------------------------------ */

qc_status qc_infer_trilu(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_min_rank(c, 0, 2));
  if (qc_infer_input(c, 1)) {
    QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, (const qc_dtype[]){QC_I64}));
    QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 1));
  }
  return qc_infer_same(c);
}

qc_status qc_infer_reverse_sequence(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_min_rank(c, 0, 2));
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, (const qc_dtype[]){QC_I64}));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 1));
  int64_t ba = qc_infer_int(c, "batch_axis", 1), ta = qc_infer_int(c, "time_axis", 0);
  if (!((ba == 0 && ta == 1) || (ba == 1 && ta == 0)))
    return qc_infer_error(c, "batch_axis and time_axis must be 0 and 1 in some order");
  int64_t b = qc_inf_dim(c, 0, (int32_t)ba);
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 1, 0, b, "sequence_lens length and batch size differ"));
  return qc_infer_same(c);
}

qc_status qc_infer_center_crop_pad(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_index(c, 1));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 1));
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  int64_t axes[QC_MAX_RANK];
  int32_t na;
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "axes", axes, QC_MAX_RANK, &na));
  if (na >= 0) {
    QC_RETURN_IF_ERROR(norm_axes(c, axes, na, x->rank));
  } else {
    na = x->rank;
    for (int32_t i = 0; i < na; i++) axes[i] = i;
  }
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 1, 0, na, "shape must have one entry per axis"));
  qc_type t = *x;
  t.kind = QC_TYPE_TENSOR;
  qc_inf_vals s;
  bool have = qc_inf_input_vals(c, 1, &s) && s.n == na;
  for (int32_t i = 0; i < na; i++) t.dims[axes[i]] = have ? qc_inf_val_dim(&s, i) : QC_DIM_UNKNOWN;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_col2im(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 3));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 1));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 2, 1));
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  int64_t img[QC_MAX_RANK], blk[QC_MAX_RANK];
  int32_t ni, nb;
  bool hi = qc_inf_input_ints(c, 1, img, QC_MAX_RANK - 2, &ni);
  bool hb = qc_inf_input_ints(c, 2, blk, QC_MAX_RANK - 2, &nb);
  int32_t n = hi ? ni : hb ? nb : -1;
  if (n < 0) {
    int64_t l = qc_inf_dim(c, 1, 0);
    if (l >= 0 && l <= QC_MAX_RANK - 2) n = (int32_t)l;
  }
  if (hi && hb && ni != nb)
    return qc_infer_error(c, "image_shape and block_shape differ in length (%d vs %d)", ni, nb);
  qc_type t = qc_inf_dtype_only(dt);
  if (n >= 0) {
    t = qc_inf_ranked(dt, n + 2);
    t.dims[0] = qc_inf_dim(c, 0, 0);
    int64_t cb = qc_inf_dim(c, 0, 1);
    if (hb && cb >= 0) {
      int64_t p = 1;
      for (int32_t i = 0; i < nb; i++) p *= blk[i];
      if (p <= 0 || cb % p)
        return qc_infer_error(c, "input dim 1 (%lld) is not a multiple of the block size (%lld)",
                              (long long)cb, (long long)p);
      t.dims[1] = cb / p;
    }
    for (int32_t i = 0; i < n && hi; i++) t.dims[2 + i] = img[i];
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}
