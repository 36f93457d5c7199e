/* Inference rules for reductions (Reduce*, ArgMax, ArgMin) and scans along an axis
 * (CumSum, CumProd). */
#include "infer_ops.h"

/* Reduce*: axes are an attribute up to opset 12 (ReduceSum) / 17 (the others), an optional
 * input after; noop_with_empty_axes came with the input form. */
qc_status qc_infer_reduce(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  bool minmax = c->n->op == QC_OP_ReduceMax || c->n->op == QC_OP_ReduceMin;
  if (dt == QC_STRING || (dt == QC_BOOL && !minmax))
    return qc_infer_error(c, "input 0: expected a numeric type, got %s", qc_dtype_name(dt));
  bool from_input = qc_inf_version(c) >= (c->n->op == QC_OP_ReduceSum ? 13 : 18);
  bool keep = qc_infer_int(c, "keepdims", 1) != 0;
  bool noop = from_input && qc_infer_int(c, "noop_with_empty_axes", 0) != 0;
  int64_t axes[QC_MAX_RANK + 1];
  int32_t n = 0;
  bool known = true;
  if (from_input) {
    if (qc_infer_input(c, 1)) {
      QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, (const qc_dtype[]){QC_I64}));
      QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 1));
      known = qc_inf_input_ints(c, 1, axes, QC_MAX_RANK + 1, &n);
    }
  } else {
    QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "axes", axes, QC_MAX_RANK + 1, &n));
    if (n < 0) n = 0;
  }
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (!known) {
    qc_type t = qc_inf_ranked(dt, x->rank);
    const qc_type *at = qc_infer_input(c, 1);
    if (!keep) {
      t = qc_inf_dtype_only(dt);
      if (!noop && at && at->rank == 1 && at->dims[0] > 0 && at->dims[0] <= x->rank)
        t = qc_inf_ranked(dt, x->rank - (int32_t)at->dims[0]);
    }
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (n == 0 && noop) {
    qc_infer_set_output(c, 0, x);
    return QC_OK;
  }
  bool red[QC_MAX_RANK] = {false};
  if (n == 0) {
    for (int32_t i = 0; i < x->rank; i++) red[i] = true;
  } else {
    for (int32_t i = 0; i < n; i++) {
      int32_t a;
      if (!qc_norm_axis(axes[i], x->rank, &a))
        return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)axes[i], x->rank);
      red[a] = true;
    }
  }
  qc_type t = qc_inf_type(dt, 0, NULL);
  for (int32_t i = 0; i < x->rank; i++) {
    if (!red[i]) t.dims[t.rank++] = x->dims[i];
    else if (keep) t.dims[t.rank++] = 1;
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_argmax(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  if (x && (x->dtype == QC_STRING || x->dtype == QC_BOOL))
    return qc_infer_error(c, "input 0: expected a numeric type, got %s", qc_dtype_name(x->dtype));
  bool keep = qc_infer_int(c, "keepdims", 1) != 0;
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(QC_I64);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  int32_t a;
  int64_t axis = qc_infer_int(c, "axis", 0);
  if (!qc_norm_axis(axis, x->rank, &a))
    return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
  qc_type t = qc_inf_type(QC_I64, 0, NULL);
  for (int32_t i = 0; i < x->rank; i++) {
    if (i != a) t.dims[t.rank++] = x->dims[i];
    else if (keep) t.dims[t.rank++] = 1;
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_cumulative(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_index(c, 1));
  QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 1));
  const qc_type *x = qc_infer_input(c, 0);
  int64_t axis;
  int32_t n, a;
  if (x && x->rank >= 0 && qc_inf_input_ints(c, 1, &axis, 1, &n) && n == 1 &&
      !qc_norm_axis(axis, x->rank, &a))
    return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
  return qc_infer_same(c);
}
