/* Inference rules for neural-network ops: MatMul, Gemm, convolutions and pooling,
 * normalizations, Softmax, Resize, recurrent cells, attention, and the image/signal ops. */
#include "infer_ops.h"

#include <math.h>
#include <stdio.h>

/* ---- MatMul, Gemm ----------------------------------------------------------------------------- */

qc_status qc_inf_matmul_shape(const qc_infer_ctx *c, int32_t ia, int32_t ib, qc_type *out) {
  const qc_type *a = qc_infer_input(c, ia), *b = qc_infer_input(c, ib);
  *out = qc_type_unknown();
  if (!a || !b || a->rank < 0 || b->rank < 0) return QC_OK;
  if (a->rank == 0 || b->rank == 0) return qc_infer_error(c, "MatMul operands must have rank >= 1");
  int64_t k1 = a->dims[a->rank - 1];
  int64_t k2 = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (k1 >= 0 && k2 >= 0 && k1 != k2)
    return qc_infer_error(c, "inner dimensions differ: %lld vs %lld", (long long)k1, (long long)k2);
  int32_t ra = a->rank > 2 ? a->rank - 2 : 0, rb = b->rank > 2 ? b->rank - 2 : 0, r;
  int64_t batch[QC_MAX_RANK];
  if (!qc_broadcast_dims(ra, a->dims, rb, b->dims, &r, batch)) {
    char x[160], y[160];
    return qc_infer_error(c, "batch dims %s and %s do not broadcast",
                          qc_inf_dims_str(c->g, ra, a->dims, x, sizeof x),
                          qc_inf_dims_str(c->g, rb, b->dims, y, sizeof y));
  }
  int32_t n = r + (a->rank >= 2) + (b->rank >= 2);
  if (n > QC_MAX_RANK) return qc_infer_error(c, "output rank %d exceeds %d", n, QC_MAX_RANK);
  *out = qc_inf_type(QC_DT_UNDEFINED, r, batch);
  if (a->rank >= 2) out->dims[out->rank++] = a->dims[a->rank - 2];
  if (b->rank >= 2) out->dims[out->rank++] = b->dims[b->rank - 1];
  return QC_OK;
}

qc_status qc_infer_matmul(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  for (int32_t i = 0; i < 2; i++) {
    qc_dtype dt = qc_inf_dtype(c, i);
    if (dt == QC_BOOL || dt == QC_STRING)
      return qc_infer_error(c, "input %d: expected a numeric type, got %s", i, qc_dtype_name(dt));
  }
  qc_type t;
  QC_RETURN_IF_ERROR(qc_inf_matmul_shape(c, 0, 1, &t));
  t.dtype = qc_inf_dtype(c, 0) ? qc_inf_dtype(c, 0) : qc_inf_dtype(c, 1);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* Gemm-like: A [M,K] (or [K,M] with transA), B [K,N] (or [N,K]) -> [M,N]; C broadcasts to it. */
qc_status qc_inf_gemm_shape(const qc_infer_ctx *c, int32_t ia, int32_t ib, int32_t ic,
                            qc_type *out) {
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, ia, 2));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, ib, 2));
  bool ta = qc_infer_int(c, "transA", 0) != 0, tb = qc_infer_int(c, "transB", 0) != 0;
  int64_t m = qc_inf_dim(c, ia, ta ? 1 : 0), k1 = qc_inf_dim(c, ia, ta ? 0 : 1);
  int64_t k2 = qc_inf_dim(c, ib, tb ? 1 : 0), n = qc_inf_dim(c, ib, tb ? 0 : 1);
  if (k1 >= 0 && k2 >= 0 && k1 != k2)
    return qc_infer_error(c, "inner dimensions differ: %lld vs %lld", (long long)k1, (long long)k2);
  *out = qc_inf_type(QC_DT_UNDEFINED, 2, (int64_t[]){m, n});
  const qc_type *ct = ic >= 0 ? qc_infer_input(c, ic) : NULL;
  if (ct && ct->rank >= 0) {
    if (ct->rank > 2) return qc_infer_error(c, "input %d: C must have rank <= 2, got %d", ic, ct->rank);
    for (int32_t i = 0; i < ct->rank; i++) {
      int64_t d = ct->dims[i], want = out->dims[2 - ct->rank + i];
      if (d >= 0 && want >= 0 && d != 1 && d != want) {
        char x[160], y[160];
        return qc_infer_error(c, "input %d: C of shape %s does not broadcast to %s", ic,
                              qc_inf_dims_str(c->g, ct->rank, ct->dims, x, sizeof x),
                              qc_inf_dims_str(c->g, 2, out->dims, y, sizeof y));
      }
    }
  }
  return QC_OK;
}

qc_status qc_infer_gemm(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  if (qc_infer_input(c, 2)) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 2));
  qc_type t;
  QC_RETURN_IF_ERROR(qc_inf_gemm_shape(c, 0, 1, 2, &t));
  t.dtype = qc_inf_dtype(c, 0);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- convolution and pooling ------------------------------------------------------------------ */

/* Spatial output sizes of a sliding window over n spatial dims `in`. kernel[i] may be
 * unknown (QC_DIM_UNKNOWN). Reads strides, dilations (if `dil`), pads, auto_pad. */
static qc_status window_dims(const qc_infer_ctx *c, int32_t n, const int64_t *in,
                             const int64_t *kernel, bool dil, bool ceil_mode, int64_t *out) {
  int64_t strides[QC_MAX_RANK], dils[QC_MAX_RANK], pads[2 * QC_MAX_RANK];
  int32_t k;
  for (int32_t i = 0; i < n; i++) strides[i] = dils[i] = 1, pads[i] = pads[i + n] = 0;
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "strides", strides, QC_MAX_RANK, &k));
  if (k >= 0 && k != n)
    return qc_infer_error(c, "strides has %d entries for %d spatial dims", k, n);
  if (dil) QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "dilations", dils, QC_MAX_RANK, &k));
  if (dil && k >= 0 && k != n)
    return qc_infer_error(c, "dilations has %d entries for %d spatial dims", k, n);
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "pads", pads, 2 * QC_MAX_RANK, &k));
  if (k >= 0 && k != 2 * n)
    return qc_infer_error(c, "pads has %d entries for %d spatial dims", k, n);
  for (int32_t i = 0; i < n; i++) {
    if (strides[i] <= 0) return qc_infer_error(c, "strides must be positive");
    if (dils[i] <= 0) return qc_infer_error(c, "dilations must be positive");
    if (pads[i] < 0 || pads[i + n] < 0) return qc_infer_error(c, "pads must be >= 0");
  }
  const char *ap = qc_infer_string(c, "auto_pad", "NOTSET");
  bool same = strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0;
  bool valid = strcmp(ap, "VALID") == 0;
  if (!same && !valid && strcmp(ap, "NOTSET") && *ap)
    return qc_infer_error(c, "unknown auto_pad '%s'", ap);
  for (int32_t i = 0; i < n; i++) {
    int64_t d = in[i], s = strides[i];
    out[i] = QC_DIM_UNKNOWN;
    if (same) {
      if (d >= 0) out[i] = (d + s - 1) / s;
      else if (s == 1) out[i] = d;
      continue;
    }
    int64_t pb = valid ? 0 : pads[i], pe = valid ? 0 : pads[i + n];
    if (kernel[i] < 0) continue;
    int64_t ek = (kernel[i] - 1) * dils[i] + 1;
    if (d < 0) {
      if (s == 1 && ek - 1 == pb + pe) out[i] = d; /* "same" explicit padding keeps the size */
      continue;
    }
    int64_t o = qc_window_out(d, kernel[i], s, dils[i], pb, pe, ceil_mode);
    if (o < 1)
      return qc_infer_error(c, "spatial dim %d: the window (%lld) does not fit the padded input (%lld)",
                            i, (long long)ek, (long long)(d + pb + pe));
    out[i] = o;
  }
  return QC_OK;
}

/* Convolution: X [N, C, spatial...], W [M, C/group, k...], B [M]. Output dtype `dt`. */
qc_status qc_inf_conv(qc_infer_ctx *c, int32_t ix, int32_t iw, int32_t ib, qc_dtype dt) {
  const qc_type *x = qc_infer_input(c, ix), *w = qc_infer_input(c, iw);
  int32_t r = x && x->rank >= 0 ? x->rank : w && w->rank >= 0 ? w->rank : -1;
  if (r < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (r < 3) return qc_infer_error(c, "input %d: expected rank >= 3, got %d", ix, r);
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, ix, r));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, iw, r));
  int32_t n = r - 2;
  int64_t group = qc_infer_int(c, "group", 1);
  if (group <= 0) return qc_infer_error(c, "group must be positive, got %lld", (long long)group);
  int64_t ch = qc_inf_dim(c, ix, 1), wc = qc_inf_dim(c, iw, 1), m = qc_inf_dim(c, iw, 0);
  if (ch >= 0 && wc >= 0 && ch != wc * group)
    return qc_infer_error(c, "input channels (%lld) != weight channels (%lld) * group (%lld)",
                          (long long)ch, (long long)wc, (long long)group);
  if (m >= 0 && m % group)
    return qc_infer_error(c, "output channels (%lld) are not a multiple of group (%lld)",
                          (long long)m, (long long)group);
  if (ib >= 0 && qc_infer_input(c, ib)) {
    QC_RETURN_IF_ERROR(qc_infer_require_rank(c, ib, 1));
    QC_RETURN_IF_ERROR(qc_inf_require_dim(c, ib, 0, m, "bias size and output channels differ"));
  }
  int64_t kernel[QC_MAX_RANK], in[QC_MAX_RANK], out[QC_MAX_RANK];
  int32_t nk;
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "kernel_shape", kernel, QC_MAX_RANK, &nk));
  if (nk >= 0) {
    if (nk != n) return qc_infer_error(c, "kernel_shape has %d entries for %d spatial dims", nk, n);
    for (int32_t i = 0; i < n; i++) {
      int64_t wd = qc_inf_dim(c, iw, 2 + i);
      if (wd >= 0 && wd != kernel[i])
        return qc_infer_error(c, "kernel_shape[%d] = %lld but the weight has %lld", i,
                              (long long)kernel[i], (long long)wd);
    }
  } else {
    for (int32_t i = 0; i < n; i++) kernel[i] = qc_inf_dim(c, iw, 2 + i);
  }
  for (int32_t i = 0; i < n; i++) in[i] = qc_inf_dim(c, ix, 2 + i);
  QC_RETURN_IF_ERROR(window_dims(c, n, in, kernel, true, false, out));
  qc_type t = qc_inf_ranked(dt, r);
  t.dims[0] = qc_inf_dim(c, ix, 0);
  t.dims[1] = m;
  for (int32_t i = 0; i < n; i++) t.dims[2 + i] = out[i];
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_conv(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  if (qc_infer_input(c, 2)) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 2));
  return qc_inf_conv(c, 0, 1, 2, qc_inf_dtype(c, 0));
}

qc_status qc_infer_conv_transpose(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  const qc_type *x = qc_infer_input(c, 0), *w = qc_infer_input(c, 1);
  qc_dtype dt = qc_inf_dtype(c, 0);
  int32_t r = x && x->rank >= 0 ? x->rank : w && w->rank >= 0 ? w->rank : -1;
  if (r < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (r < 3) return qc_infer_error(c, "input 0: expected rank >= 3, got %d", r);
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, r));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, r));
  int32_t n = r - 2;
  int64_t group = qc_infer_int(c, "group", 1);
  if (group <= 0) return qc_infer_error(c, "group must be positive, got %lld", (long long)group);
  int64_t ch = qc_inf_dim(c, 0, 1), wc = qc_inf_dim(c, 1, 0);
  if (ch >= 0 && wc >= 0 && ch != wc)
    return qc_infer_error(c, "input channels (%lld) != weight dim 0 (%lld)", (long long)ch, (long long)wc);
  int64_t m = qc_inf_dim_mul(qc_inf_dim(c, 1, 1), group);
  if (qc_infer_input(c, 2)) {
    QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 2, 1));
    QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 2, 0, m, "bias size and output channels differ"));
  }
  int64_t kernel[QC_MAX_RANK], strides[QC_MAX_RANK], dils[QC_MAX_RANK], pads[2 * QC_MAX_RANK],
      opad[QC_MAX_RANK], oshape[QC_MAX_RANK + 2];
  int32_t k;
  for (int32_t i = 0; i < n; i++) {
    kernel[i] = qc_inf_dim(c, 1, 2 + i);
    strides[i] = dils[i] = 1;
    pads[i] = pads[i + n] = opad[i] = 0;
  }
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "kernel_shape", kernel, QC_MAX_RANK, &k));
  if (k >= 0 && k != n)
    return qc_infer_error(c, "kernel_shape has %d entries for %d spatial dims", k, n);
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "strides", strides, QC_MAX_RANK, &k));
  if (k >= 0 && k != n)
    return qc_infer_error(c, "strides has %d entries for %d spatial dims", k, n);
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "dilations", dils, QC_MAX_RANK, &k));
  if (k >= 0 && k != n)
    return qc_infer_error(c, "dilations has %d entries for %d spatial dims", k, n);
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "pads", pads, 2 * QC_MAX_RANK, &k));
  if (k >= 0 && k != 2 * n)
    return qc_infer_error(c, "pads has %d entries for %d spatial dims", k, n);
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "output_padding", opad, QC_MAX_RANK, &k));
  if (k >= 0 && k != n)
    return qc_infer_error(c, "output_padding has %d entries for %d spatial dims", k, n);
  int32_t nos = 0;
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "output_shape", oshape, QC_MAX_RANK + 2, &nos));
  bool has_os = nos >= 0;
  if (has_os && nos != n && nos != n + 2)
    return qc_infer_error(c, "output_shape has %d entries for %d spatial dims", nos, n);
  const char *ap = qc_infer_string(c, "auto_pad", "NOTSET");
  bool same = strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0;
  bool valid = strcmp(ap, "VALID") == 0;
  qc_type t = qc_inf_ranked(dt, r);
  t.dims[0] = qc_inf_dim(c, 0, 0);
  t.dims[1] = m;
  for (int32_t i = 0; i < n; i++) {
    int64_t d = qc_inf_dim(c, 0, 2 + i);
    if (has_os) {
      t.dims[2 + i] = oshape[nos - n + i];
    } else if (same) {
      t.dims[2 + i] = qc_inf_dim_mul(d, strides[i]);
    } else if (d >= 0 && kernel[i] >= 0) {
      int64_t pb = valid ? 0 : pads[i], pe = valid ? 0 : pads[i + n];
      t.dims[2 + i] = strides[i] * (d - 1) + opad[i] + (kernel[i] - 1) * dils[i] + 1 - pb - pe;
      if (t.dims[2 + i] < 0)
        return qc_infer_error(c, "spatial dim %d: negative output size %lld", i, (long long)t.dims[2 + i]);
    }
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_deform_conv(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 2));
  return qc_inf_conv(c, 0, 1, 3, qc_inf_dtype(c, 0));
}

/* Pooling over input ix; layout NC... (or N...C with channels_last). */
qc_status qc_inf_pool(qc_infer_ctx *c, int32_t ix, qc_dtype dt, bool channels_last,
                      bool dilations) {
  const qc_type *x = qc_infer_input(c, ix);
  int64_t kernel[QC_MAX_RANK];
  int32_t nk;
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "kernel_shape", kernel, QC_MAX_RANK, &nk));
  bool hk = nk >= 0;
  if (!x || x->rank < 0) {
    qc_type t = hk ? qc_inf_ranked(dt, nk + 2) : qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (x->rank < 3) return qc_infer_error(c, "input %d: expected rank >= 3, got %d", ix, x->rank);
  int32_t n = x->rank - 2, s0 = channels_last ? 1 : 2;
  if (!hk) return qc_infer_error(c, "kernel_shape is required");
  if (nk != n) return qc_infer_error(c, "kernel_shape has %d entries for %d spatial dims", nk, n);
  for (int32_t i = 0; i < n; i++)
    if (kernel[i] <= 0) return qc_infer_error(c, "kernel_shape must be positive");
  int64_t out[QC_MAX_RANK];
  QC_RETURN_IF_ERROR(window_dims(c, n, x->dims + s0, kernel, dilations,
                                 qc_infer_int(c, "ceil_mode", 0) != 0, out));
  qc_type t = *x;
  t.kind = QC_TYPE_TENSOR;
  t.dtype = dt;
  for (int32_t i = 0; i < n; i++) t.dims[s0 + i] = out[i];
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_pool(qc_infer_ctx *c) {
  qc_op op = c->n->op;
  bool dil = op == QC_OP_MaxPool ? qc_inf_version(c) >= 10
           : op == QC_OP_AveragePool ? qc_inf_version(c) >= 19
           : op == QC_OP_LpPool ? qc_inf_version(c) >= 18 : false;
  if (op == QC_OP_MaxPool) {
    qc_dtype dt = qc_inf_dtype(c, 0);
    if (dt && !qc_dtype_is_float(dt) && dt != QC_I8 && dt != QC_U8)
      return qc_infer_error(c, "input 0: expected a float or 8-bit integer type, got %s", qc_dtype_name(dt));
  } else {
    QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  }
  QC_RETURN_IF_ERROR(qc_inf_pool(c, 0, qc_inf_dtype(c, 0), false, dil));
  if (op == QC_OP_MaxPool && qc_infer_num_outputs(c) > 1) {
    qc_type t = c->out[0];
    t.dtype = QC_I64;
    qc_infer_set_output(c, 1, &t);
  }
  return QC_OK;
}

qc_status qc_inf_global_pool(qc_infer_ctx *c, int32_t ix, qc_dtype dt, bool channels_last) {
  const qc_type *x = qc_infer_input(c, ix);
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (x->rank < 2) return qc_infer_error(c, "input %d: expected rank >= 2, got %d", ix, x->rank);
  qc_type t = *x;
  t.kind = QC_TYPE_TENSOR;
  t.dtype = dt;
  for (int32_t i = 2; i < x->rank; i++) t.dims[channels_last ? i - 1 : i] = 1;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_global_pool(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  return qc_inf_global_pool(c, 0, qc_inf_dtype(c, 0), false);
}

qc_status qc_infer_max_unpool(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  static const qc_dtype i64[] = {QC_I64};
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, i64));
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = qc_inf_dtype(c, 0);
  if (qc_infer_input(c, 2)) {
    QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 2, "i64", 1, i64));
    qc_inf_vals v;
    qc_type t = x && x->rank >= 0 ? qc_inf_ranked(dt, x->rank) : qc_inf_dtype_only(dt);
    if (qc_inf_input_vals(c, 2, &v) && v.n <= QC_MAX_RANK) {
      t = qc_inf_ranked(dt, v.n);
      for (int32_t i = 0; i < v.n; i++) t.dims[i] = qc_inf_val_dim(&v, i);
    }
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (x->rank < 3) return qc_infer_error(c, "input 0: expected rank >= 3, got %d", x->rank);
  int32_t n = x->rank - 2, k;
  int64_t kernel[QC_MAX_RANK], strides[QC_MAX_RANK], pads[2 * QC_MAX_RANK];
  for (int32_t i = 0; i < n; i++) strides[i] = 1, pads[i] = pads[i + n] = 0;
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "kernel_shape", kernel, QC_MAX_RANK, &k));
  if (k != n)
    return qc_infer_error(c, "kernel_shape must have %d entries", n);
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "strides", strides, QC_MAX_RANK, &k));
  if (k >= 0 && k != n)
    return qc_infer_error(c, "strides has %d entries for %d spatial dims", k, n);
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "pads", pads, 2 * QC_MAX_RANK, &k));
  if (k >= 0 && k != 2 * n)
    return qc_infer_error(c, "pads has %d entries for %d spatial dims", k, n);
  qc_type t = *x;
  t.kind = QC_TYPE_TENSOR;
  for (int32_t i = 0; i < n; i++) {
    int64_t d = x->dims[2 + i];
    t.dims[2 + i] = d >= 0 ? (d - 1) * strides[i] + kernel[i] - pads[i] - pads[i + n] : QC_DIM_UNKNOWN;
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- normalizations, softmax -------------------------------------------------------------------- */

qc_status qc_infer_batch_norm(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  int64_t ver = qc_inf_version(c);
  int64_t ch = qc_inf_dim(c, 0, 1);
  QC_RETURN_IF_ERROR(qc_inf_require_min_rank(c, 0, 2));
  for (int32_t i = 1; i < 5; i++) {
    QC_RETURN_IF_ERROR(qc_infer_require_float(c, i));
    if (ver >= 9 || qc_infer_int(c, "spatial", 1)) {
      QC_RETURN_IF_ERROR(qc_infer_require_rank(c, i, 1));
      QC_RETURN_IF_ERROR(qc_inf_require_dim(c, i, 0, ch, "per-channel input size and channels differ"));
    }
  }
  /* one type for everything before opset 14; 14: scale and B as X, mean and var alike;
   * 15: scale and B alike, mean and var alike */
  if (ver < 14)
    for (int32_t i = 1; i < 5; i++) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, ver >= 15 ? 1 : 0, 2));
  if (ver == 14) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 3, 4));
  QC_RETURN_IF_ERROR(qc_infer_same(c));
  qc_dtype st = qc_inf_dtype(c, 3) ? qc_inf_dtype(c, 3) : qc_inf_dtype(c, 0);
  qc_type t = qc_inf_type(st, 1, &ch);
  for (int32_t i = 1; i < qc_infer_num_outputs(c); i++) qc_infer_set_output(c, i, &t);
  return QC_OK;
}

/* InstanceNormalization: scale and B are [C]. */
qc_status qc_infer_instance_norm(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_min_rank(c, 0, 3));
  int64_t ch = qc_inf_dim(c, 0, 1);
  for (int32_t i = 1; i < 3; i++) {
    QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
    QC_RETURN_IF_ERROR(qc_infer_require_rank(c, i, 1));
    QC_RETURN_IF_ERROR(qc_inf_require_dim(c, i, 0, ch, "scale/bias size and channels differ"));
  }
  return qc_infer_same(c);
}

qc_status qc_infer_layer_norm(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_same(c));
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype st;
  int64_t code = qc_infer_int(c, "stash_type", 1);
  st = qc_dtype_from_onnx((int)code);
  if (!st) return qc_infer_error(c, "stash_type %lld is not a known data type", (long long)code);
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(st);
    for (int32_t i = 1; i < qc_infer_num_outputs(c); i++) qc_infer_set_output(c, i, &t);
    return QC_OK;
  }
  int32_t axis;
  if (!qc_norm_axis(qc_infer_int(c, "axis", -1), x->rank, &axis))
    return qc_infer_error(c, "axis %lld is out of range for rank %d",
                          (long long)qc_infer_int(c, "axis", -1), x->rank);
  /* scale and bias broadcast to the normalized dims */
  for (int32_t i = 1; i < 3; i++) {
    const qc_type *s = qc_infer_input(c, i);
    if (!s) continue;
    QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
    if (s->rank > x->rank - axis)
      return qc_infer_error(c, "input %d: rank %d exceeds the %d normalized dims", i, s->rank,
                            x->rank - axis);
  }
  qc_type t = *x;
  t.kind = QC_TYPE_TENSOR;
  t.dtype = st;
  for (int32_t i = axis; i < x->rank; i++) t.dims[i] = 1;
  for (int32_t i = 1; i < qc_infer_num_outputs(c); i++) qc_infer_set_output(c, i, &t);
  return QC_OK;
}

qc_status qc_infer_group_norm(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_min_rank(c, 0, 2));
  int64_t g = qc_infer_int(c, "num_groups", 0), ch = qc_inf_dim(c, 0, 1);
  if (qc_infer_attr(c, "num_groups") && g <= 0)
    return qc_infer_error(c, "num_groups must be positive, got %lld", (long long)g);
  if (g > 0 && ch >= 0 && ch % g)
    return qc_infer_error(c, "channels (%lld) are not a multiple of num_groups (%lld)",
                          (long long)ch, (long long)g);
  int64_t want = qc_inf_version(c) >= 21 ? ch : (qc_infer_attr(c, "num_groups") ? g : QC_DIM_UNKNOWN);
  for (int32_t i = 1; i < 3; i++) {
    QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
    QC_RETURN_IF_ERROR(qc_infer_require_rank(c, i, 1));
    QC_RETURN_IF_ERROR(qc_inf_require_dim(c, i, 0, want, "scale/bias size differs from the expected"));
  }
  return qc_infer_same(c);
}

/* Ops that keep the shape and take an axis: Softmax, LogSoftmax, Hardmax, LpNormalization. */
qc_status qc_infer_softmax(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  int32_t r = qc_inf_rank(c, 0), a;
  int64_t dflt = c->n->op == QC_OP_LpNormalization ? -1 : qc_inf_version(c) < 13 ? 1 : -1;
  int64_t axis = qc_infer_int(c, "axis", dflt);
  if (r > 0 && !qc_norm_axis(axis, r, &a))
    return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)axis, r);
  return qc_infer_same(c);
}

/* MeanVarianceNormalization, LRN, RMSNormalization and others: float, same shape. */
qc_status qc_infer_norm_same(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  if (c->n->op == QC_OP_RMSNormalization) {
    const qc_type *x = qc_infer_input(c, 0);
    int32_t a;
    if (x && x->rank >= 0 && !qc_norm_axis(qc_infer_int(c, "axis", -1), x->rank, &a))
      return qc_infer_error(c, "axis %lld is out of range for rank %d",
                            (long long)qc_infer_int(c, "axis", -1), x->rank);
  }
  return qc_infer_same(c);
}

/* ---- Resize, Upsample --------------------------------------------------------------------------- */

qc_status qc_infer_resize(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = x ? x->dtype : QC_DT_UNDEFINED;
  int64_t ver = qc_inf_version(c);
  bool upsample = c->n->op == QC_OP_Upsample;
  int32_t i_scales = upsample || ver < 11 ? 1 : 2, i_sizes = upsample || ver < 11 ? -1 : 3;
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  int32_t r = x->rank;
  int64_t axes[QC_MAX_RANK];
  int32_t na = r;
  for (int32_t i = 0; i < r; i++) axes[i] = i;
  int32_t n_attr_axes = -1;
  if (!upsample && ver >= 18)
    QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "axes", axes, QC_MAX_RANK, &n_attr_axes));
  if (n_attr_axes >= 0) {
    na = n_attr_axes;
    for (int32_t i = 0; i < na; i++) {
      int32_t a;
      if (!qc_norm_axis(axes[i], r, &a))
        return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)axes[i], r);
      axes[i] = a;
    }
  }
  qc_type t = *x;
  t.kind = QC_TYPE_TENSOR;
  double scales[QC_MAX_RANK];
  int32_t ns = -1;
  if (upsample && ver < 9) {
    const qc_attr *a = qc_infer_attr(c, "scales");
    if (a && a->kind == QC_ATTR_FLOATS && a->n <= QC_MAX_RANK) {
      ns = a->n;
      for (int32_t i = 0; i < ns; i++) scales[i] = a->u.floats[i];
    }
  } else {
    const qc_type *st = qc_infer_input(c, i_scales);
    int32_t n;
    if (st && qc_inf_input_floats(c, i_scales, scales, QC_MAX_RANK, &n)) ns = n;
    else if (st && st->rank == 1 && st->dims[0] == 0) ns = 0;
    else if (st) ns = -2; /* given, not known */
  }
  const qc_type *sz = i_sizes >= 0 ? qc_infer_input(c, i_sizes) : NULL;
  bool use_sizes = sz && !(ns > 0 || ns == -2);
  if (sz && (ns > 0 || ns == -2) && !(sz->rank == 1 && sz->dims[0] == 0))
    if (!(sz->rank == 1 && sz->dims[0] < 0))
      return qc_infer_error(c, "only one of scales and sizes may be given");
  if (use_sizes) {
    QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, i_sizes, "i64", 1, (const qc_dtype[]){QC_I64}));
    qc_inf_vals v;
    if (!qc_inf_input_vals(c, i_sizes, &v)) {
      for (int32_t i = 0; i < na; i++) t.dims[axes[i]] = QC_DIM_UNKNOWN;
      qc_infer_set_output(c, 0, &t);
      return QC_OK;
    }
    if (v.n != na) return qc_infer_error(c, "sizes has %d entries, expected %d", v.n, na);
    const char *pol = qc_infer_string(c, "keep_aspect_ratio_policy", "stretch");
    if (ver < 18 || strcmp(pol, "stretch") == 0) {
      for (int32_t i = 0; i < na; i++) t.dims[axes[i]] = qc_inf_val_dim(&v, i);
    } else {
      bool larger = strcmp(pol, "not_smaller") == 0;
      if (!larger && strcmp(pol, "not_larger"))
        return qc_infer_error(c, "unknown keep_aspect_ratio_policy '%s'", pol);
      double s = larger ? 0 : INFINITY;
      bool ok = true;
      for (int32_t i = 0; i < na; i++) {
        int64_t d = x->dims[axes[i]];
        if (v.k[i] != QC_INF_INT || d <= 0) {
          ok = false;
          break;
        }
        double q = (double)v.v[i] / (double)d;
        s = larger ? fmax(s, q) : fmin(s, q);
      }
      for (int32_t i = 0; i < na; i++)
        t.dims[axes[i]] = ok ? qc_inf_dim_from_double(floor(s * (double)x->dims[axes[i]] + 0.5)) : QC_DIM_UNKNOWN;
    }
  } else if (ns >= 0) {
    if (ns != na) return qc_infer_error(c, "scales has %d entries, expected %d", ns, na);
    for (int32_t i = 0; i < na; i++) {
      if (!(scales[i] > 0)) return qc_infer_error(c, "scales must be positive, got %g", scales[i]);
      int64_t d = x->dims[axes[i]];
      if (d >= 0) t.dims[axes[i]] = qc_inf_dim_from_double(floor((double)d * (double)(float)scales[i]));
      else if (scales[i] != 1.0) t.dims[axes[i]] = QC_DIM_UNKNOWN;
    }
  } else {
    for (int32_t i = 0; i < na; i++) t.dims[axes[i]] = QC_DIM_UNKNOWN;
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- recurrent cells -------------------------------------------------------------------------- */

qc_status qc_infer_rnn(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  for (int32_t i = 1; i < 3; i++) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 3));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 3));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 2, 3));
  qc_op op = c->n->op;
  int64_t gates = op == QC_OP_LSTM ? 4 : op == QC_OP_GRU ? 3 : 1;
  const char *dir = qc_infer_string(c, "direction", "forward");
  int64_t nd;
  if (strcmp(dir, "bidirectional") == 0) nd = 2;
  else if (strcmp(dir, "forward") == 0 || strcmp(dir, "reverse") == 0) nd = 1;
  else return qc_infer_error(c, "unknown direction '%s'", dir);
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 1, 0, nd, "W's first dim and the number of directions differ"));
  int64_t hidden = qc_infer_attr(c, "hidden_size") ? qc_infer_int(c, "hidden_size", 0) : QC_DIM_UNKNOWN;
  if (hidden == QC_DIM_UNKNOWN) hidden = qc_inf_dim(c, 2, 2);
  if (hidden == QC_DIM_UNKNOWN) {
    int64_t w1 = qc_inf_dim(c, 1, 1);
    if (w1 >= 0 && w1 % gates == 0) hidden = w1 / gates;
  }
  if (hidden >= 0) {
    QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 1, 1, gates * hidden, "W's gate dim and hidden_size differ"));
    QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 2, 2, hidden, "R's last dim and hidden_size differ"));
  }
  int64_t in = qc_inf_dim(c, 0, 2);
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 1, 2, in, "W's input size and X's feature dim differ"));
  bool batch_first = qc_inf_version(c) >= 14 && qc_infer_int(c, "layout", 0) != 0;
  int64_t seq = qc_inf_dim(c, 0, batch_first ? 1 : 0), batch = qc_inf_dim(c, 0, batch_first ? 0 : 1);
  qc_dtype dt = qc_inf_dtype(c, 0);
  qc_type y = batch_first ? qc_inf_type(dt, 4, (int64_t[]){batch, seq, nd, hidden})
                          : qc_inf_type(dt, 4, (int64_t[]){seq, nd, batch, hidden});
  qc_type yh = batch_first ? qc_inf_type(dt, 3, (int64_t[]){batch, nd, hidden})
                           : qc_inf_type(dt, 3, (int64_t[]){nd, batch, hidden});
  qc_infer_set_output(c, 0, &y);
  qc_infer_set_output(c, 1, &yh);
  qc_infer_set_output(c, 2, &yh);
  return QC_OK;
}

/* ---- attention --------------------------------------------------------------------------------- */

qc_status qc_infer_attention(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  const qc_type *q = qc_infer_input(c, 0), *k = qc_infer_input(c, 1), *v = qc_infer_input(c, 2);
  qc_dtype dt = qc_inf_dtype(c, 0), dv_t = qc_inf_dtype(c, 2);
  int32_t r = q && q->rank >= 0 ? q->rank : -1;
  if (r >= 0 && r != 3 && r != 4) return qc_infer_error(c, "input 0: expected rank 3 or 4, got %d", r);
  for (int32_t i = 1; i < 3; i++) {
    int32_t ri = qc_inf_rank(c, i);
    if (ri >= 0 && ri != 3 && ri != 4) return qc_infer_error(c, "input %d: expected rank 3 or 4, got %d", i, ri);
  }
  int64_t qh = qc_infer_attr(c, "q_num_heads") ? qc_infer_int(c, "q_num_heads", 0) : QC_DIM_UNKNOWN;
  int64_t kvh = qc_infer_attr(c, "kv_num_heads") ? qc_infer_int(c, "kv_num_heads", 0) : QC_DIM_UNKNOWN;
  int64_t b = qc_inf_dim(c, 0, 0), sq = QC_DIM_UNKNOWN, skv = QC_DIM_UNKNOWN, dh = QC_DIM_UNKNOWN,
          dvh = QC_DIM_UNKNOWN, vhid = QC_DIM_UNKNOWN;
  if (r == 4) {
    qh = q->dims[1];
    sq = q->dims[2];
  } else if (r == 3) {
    sq = q->dims[1];
  }
  int32_t rk = k ? k->rank : -1, rv = v ? v->rank : -1;
  if (rk == 4) {
    kvh = k->dims[1];
    skv = k->dims[2];
    dh = k->dims[3];
  } else if (rk == 3) {
    skv = k->dims[1];
    if (kvh > 0 && k->dims[2] >= 0 && k->dims[2] % kvh == 0) dh = k->dims[2] / kvh;
  }
  if (rv == 4) {
    dvh = v->dims[3];
  } else if (rv == 3) {
    vhid = v->dims[2];
    if (kvh > 0 && vhid >= 0 && vhid % kvh == 0) dvh = vhid / kvh;
  }
  if (r == 4 && rk == 4 && q->dims[3] >= 0 && k->dims[3] >= 0 && q->dims[3] != k->dims[3])
    return qc_infer_error(c, "query and key head sizes differ: %lld vs %lld",
                          (long long)q->dims[3], (long long)k->dims[3]);
  if (qh > 0 && kvh > 0 && qh % kvh)
    return qc_infer_error(c, "q_num_heads (%lld) is not a multiple of kv_num_heads (%lld)",
                          (long long)qh, (long long)kvh);
  qc_type y = qc_inf_dtype_only(dt);
  if (r == 4) y = qc_inf_type(dt, 4, (int64_t[]){b, qh, sq, dvh});
  else if (r == 3) {
    int64_t hid = qc_inf_dim_mul(qh, dvh);
    if (hid < 0 && qh >= 0 && kvh >= 0 && qh == kvh) hid = vhid;
    y = qc_inf_type(dt, 3, (int64_t[]){b, sq, hid});
  }
  qc_infer_set_output(c, 0, &y);
  int64_t past = QC_DIM_UNKNOWN;
  if (qc_infer_input(c, 4)) past = qc_inf_dim(c, 4, 2);
  else past = 0;
  int64_t total = qc_inf_dim_add(past, skv);
  qc_type pk = qc_inf_type(dt, 4, (int64_t[]){b, kvh, total, dh});
  qc_type pv = qc_inf_type(dv_t, 4, (int64_t[]){b, kvh, total, dvh});
  qc_type qk = qc_inf_type(dt, 4, (int64_t[]){b, qh, sq, total});
  qc_infer_set_output(c, 1, &pk);
  qc_infer_set_output(c, 2, &pv);
  qc_infer_set_output(c, 3, &qk);
  return QC_OK;
}

qc_status qc_infer_flex_attention(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  for (int32_t i = 0; i < 3; i++) {
    QC_RETURN_IF_ERROR(qc_infer_require_rank(c, i, 4));
    if (i) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
  }
  qc_type y = qc_inf_type(qc_inf_dtype(c, 0), 4,
                          (int64_t[]){qc_inf_dim(c, 0, 0), qc_inf_dim(c, 0, 1), qc_inf_dim(c, 0, 2),
                                      qc_inf_dim(c, 2, 3)});
  qc_infer_set_output(c, 0, &y);
  return QC_OK;
}

qc_status qc_infer_linear_attention(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  for (int32_t i = 0; i < 3; i++) QC_RETURN_IF_ERROR(qc_infer_require_rank(c, i, 3));
  int64_t qh = qc_infer_int(c, "q_num_heads", 0), kvh = qc_infer_int(c, "kv_num_heads", 0);
  if (qh > 0 && kvh > 0 && qh % kvh)
    return qc_infer_error(c, "q_num_heads (%lld) is not a multiple of kv_num_heads (%lld)",
                          (long long)qh, (long long)kvh);
  int64_t b = qc_inf_dim(c, 0, 0), t = qc_inf_dim(c, 0, 1), qd = qc_inf_dim(c, 0, 2),
          vd = qc_inf_dim(c, 2, 2);
  int64_t dk = qh > 0 && qd >= 0 && qd % qh == 0 ? qd / qh : QC_DIM_UNKNOWN;
  int64_t dv = kvh > 0 && vd >= 0 && vd % kvh == 0 ? vd / kvh : QC_DIM_UNKNOWN;
  qc_dtype dt = qc_inf_dtype(c, 0);
  qc_dtype st = qc_infer_input(c, 3) ? qc_inf_dtype(c, 3) : dt;
  qc_type y = qc_inf_type(dt, 3, (int64_t[]){b, t, qc_inf_dim_mul(qh > 0 ? qh : QC_DIM_UNKNOWN, dv)});
  qc_type s = qc_inf_type(st, 4, (int64_t[]){b, kvh > 0 ? kvh : QC_DIM_UNKNOWN, dk, dv});
  qc_infer_set_output(c, 0, &y);
  qc_infer_set_output(c, 1, &s);
  return QC_OK;
}

qc_status qc_infer_causal_conv(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 3));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 3));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  int64_t ch = qc_inf_dim(c, 0, 1);
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 1, 0, ch, "weight dim 0 and channels differ"));
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 1, 1, 1, "weight dim 1 must be 1 (depthwise), got"));
  QC_RETURN_IF_ERROR(qc_infer_same(c));
  int64_t k = qc_inf_dim(c, 1, 2);
  qc_type s = qc_inf_type(qc_inf_dtype(c, 0), 3,
                          (int64_t[]){qc_inf_dim(c, 0, 0), ch, k >= 1 ? k - 1 : QC_DIM_UNKNOWN});
  qc_infer_set_output(c, 1, &s);
  return QC_OK;
}

qc_status qc_infer_rotary(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  int32_t r = qc_inf_rank(c, 0);
  if (r >= 0 && r != 3 && r != 4) return qc_infer_error(c, "input 0: expected rank 3 or 4, got %d", r);
  if (r == 3 && !qc_infer_attr(c, "num_heads"))
    return qc_infer_error(c, "num_heads is required for rank-3 input");
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 2));
  return qc_infer_same(c);
}

/* ---- image ops --------------------------------------------------------------------------------- */

qc_status qc_infer_grid_sample(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0), *g = qc_infer_input(c, 1);
  qc_dtype dt = qc_inf_dtype(c, 0);
  int32_t r = x && x->rank >= 0 ? x->rank : g && g->rank >= 0 ? g->rank : -1;
  if (r < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (r < 3) return qc_infer_error(c, "input 0: expected rank >= 3, got %d", r);
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, r));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, r));
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 1, r - 1, r - 2, "grid's last dim and the spatial rank differ"));
  qc_type t = qc_inf_ranked(dt, r);
  t.dims[0] = qc_inf_dim(c, 0, 0) >= 0 ? qc_inf_dim(c, 0, 0) : qc_inf_dim(c, 1, 0);
  t.dims[1] = qc_inf_dim(c, 0, 1);
  for (int32_t i = 2; i < r; i++) t.dims[i] = qc_inf_dim(c, 1, i - 1);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_affine_grid(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 3));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 1));
  qc_dtype dt = qc_inf_dtype(c, 0);
  qc_inf_vals s;
  int64_t n = qc_inf_dim(c, 1, 0);
  bool have = qc_inf_input_vals(c, 1, &s);
  if (have) n = s.n;
  qc_type t = qc_inf_dtype_only(dt);
  if (n == 4 || n == 5) {
    int32_t sp = (int32_t)n - 2;
    t = qc_inf_ranked(dt, sp + 2);
    t.dims[0] = have ? qc_inf_val_dim(&s, 0) : qc_inf_dim(c, 0, 0);
    for (int32_t i = 0; i < sp; i++) t.dims[1 + i] = have ? qc_inf_val_dim(&s, 2 + i) : QC_DIM_UNKNOWN;
    t.dims[sp + 1] = sp;
  } else if (n >= 0) {
    return qc_infer_error(c, "input 1: size must have 4 or 5 entries, got %lld", (long long)n);
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_roi_align(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 4));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 2));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 1));
  bool max_roi = c->n->op == QC_OP_MaxRoiPool;
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 1, 1, max_roi ? 5 : 4, "rois must have boxes in the last dim: size"));
  int64_t oh, ow;
  if (max_roi) {
    int64_t ps[2];
    int32_t n;
    if (!qc_inf_attr_ints(c, "pooled_shape", ps, 2, &n) || n != 2)
      return qc_infer_error(c, "pooled_shape must have 2 entries");
    oh = ps[0];
    ow = ps[1];
  } else {
    static const qc_dtype i64[] = {QC_I64};
    QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 2, "i64", 1, i64));
    QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 2, 1));
    oh = qc_infer_int(c, "output_height", 1);
    ow = qc_infer_int(c, "output_width", 1);
  }
  int64_t nr = qc_inf_dim(c, 1, 0);
  if (!max_roi && nr < 0) nr = qc_inf_dim(c, 2, 0);
  qc_type t = qc_inf_type(qc_inf_dtype(c, 0), 4, (int64_t[]){nr, qc_inf_dim(c, 0, 1), oh, ow});
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_image_decoder(qc_infer_ctx *c) {
  static const qc_dtype u8[] = {QC_U8};
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "u8", 1, u8));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 1));
  const char *pf = qc_infer_string(c, "pixel_format", "RGB");
  int64_t ch;
  if (strcmp(pf, "RGB") == 0 || strcmp(pf, "BGR") == 0) ch = 3;
  else if (strcmp(pf, "Grayscale") == 0) ch = 1;
  else return qc_infer_error(c, "unknown pixel_format '%s'", pf);
  qc_type t = qc_inf_type(QC_U8, 3, (int64_t[]){QC_DIM_UNKNOWN, QC_DIM_UNKNOWN, ch});
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_nms(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 3));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 1, 3));
  QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 0, 2, 4, "boxes must have 4 coordinates: size"));
  qc_type t = qc_inf_type(QC_I64, 2, (int64_t[]){QC_DIM_UNKNOWN, 3});
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- Einsum ---------------------------------------------------------------------------------------- */

/* Einsum: letters of each operand label its dims; "..." stands for broadcast dims. */
qc_status qc_infer_einsum(qc_infer_ctx *c) {
  const char *eq = qc_infer_string(c, "equation", "");
  int32_t n_in = qc_infer_num_inputs(c);
  qc_dtype dt = qc_inf_dtype(c, 0);
  for (int32_t i = 1; i < n_in; i++) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
  qc_type unknown = qc_inf_dtype_only(dt);
  int64_t label_dim[128];
  int32_t label_count[128];
  bool seen[128] = {false}; /* a size was recorded for the label */
  for (int32_t i = 0; i < 128; i++) label_dim[i] = QC_DIM_UNKNOWN, label_count[i] = 0;
  int32_t ell_rank = -1; /* rank of the broadcast dims, -1 = not seen */
  int64_t ell[QC_MAX_RANK];
  int32_t ell_r = 0;
  bool ell_known = true;
  const char *arrow = strstr(eq, "->");
  const char *lhs_end = arrow ? arrow : eq + strlen(eq);
  const char *p = eq;
  int32_t op = 0;
  bool all_ranks = true;
  for (;;) {
    /* one operand term, possibly empty (a scalar) */
    char term[64];
    int32_t tn = 0;
    bool has_ell = false;
    while (p < lhs_end && *p != ',') {
      if (*p == ' ') { p++; continue; }
      if (p + 3 <= lhs_end && p[0] == '.' && p[1] == '.' && p[2] == '.') {
        if (has_ell) return qc_infer_error(c, "equation '%s': '...' twice in one term", eq);
        has_ell = true;
        if (tn < 63) term[tn++] = '.';
        p += 3;
        continue;
      }
      if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return qc_infer_error(c, "equation '%s': unexpected character '%c'", eq, *p);
      if (tn < 63) term[tn++] = *p;
      p++;
    }
    if (op >= n_in) return qc_infer_error(c, "equation '%s' has more terms than the %d inputs", eq, n_in);
    const qc_type *t = qc_infer_input(c, op);
    int32_t letters = tn - (has_ell ? 1 : 0);
    if (!t || t->rank < 0) {
      all_ranks = false;
      for (int32_t i = 0; i < tn; i++)
        if (term[i] != '.') label_count[(int)term[i]]++;
      if (has_ell) ell_known = false;
    } else {
      if (has_ell ? t->rank < letters : t->rank != letters)
        return qc_infer_error(c, "input %d: rank %d does not match term %d of '%s'", op, t->rank, op, eq);
      int32_t er = t->rank - letters, d = 0;
      for (int32_t i = 0; i < tn; i++) {
        if (term[i] == '.') {
          int32_t r2;
          int64_t tmp[QC_MAX_RANK];
          if (ell_rank < 0) {
            ell_rank = er;
            ell_r = er;
            memcpy(ell, t->dims + d, sizeof(int64_t) * (size_t)er);
          } else {
            if (!qc_broadcast_dims(ell_r, ell, er, t->dims + d, &r2, tmp))
              return qc_infer_error(c, "input %d: the '...' dims do not broadcast", op);
            ell_r = r2;
            memcpy(ell, tmp, sizeof(int64_t) * (size_t)r2);
          }
          d += er;
          continue;
        }
        int ch = term[i];
        int64_t dim = t->dims[d++];
        label_count[ch]++;
        if (!seen[ch]) {
          seen[ch] = true;
          label_dim[ch] = dim;
        } else if (dim != 1 && label_dim[ch] != 1) {
          bool conflict = false;
          label_dim[ch] = qc_inf_dim_merge(label_dim[ch], dim, &conflict);
          if (conflict)
            return qc_infer_error(c, "label '%c' has sizes %lld and %lld", ch,
                                  (long long)label_dim[ch], (long long)dim);
        } else if (label_dim[ch] == 1) {
          label_dim[ch] = dim;
        }
      }
    }
    op++;
    if (p < lhs_end && *p == ',') {
      p++;
      continue;
    }
    break;
  }
  p = arrow ? arrow : lhs_end;
  if (op != n_in) return qc_infer_error(c, "equation '%s' has %d terms for %d inputs", eq, op, n_in);
  int64_t out[QC_MAX_RANK];
  int32_t r = 0;
  if (p[0] == '-') {
    p += 2;
    while (*p) {
      if (*p == ' ') { p++; continue; }
      if (p[0] == '.' && p[1] == '.' && p[2] == '.') {
        if (!ell_known || !all_ranks) {
          qc_infer_set_output(c, 0, &unknown);
          return QC_OK;
        }
        for (int32_t i = 0; i < ell_r && r < QC_MAX_RANK; i++) out[r++] = ell[i];
        p += 3;
        continue;
      }
      int ch = *p;
      if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
        return qc_infer_error(c, "equation '%s': unexpected character '%c'", eq, ch);
      if (!label_count[ch]) return qc_infer_error(c, "equation '%s': output label '%c' is not in any input", eq, ch);
      if (r >= QC_MAX_RANK) return qc_infer_error(c, "output rank exceeds %d", QC_MAX_RANK);
      out[r++] = label_dim[ch];
      p++;
    }
  } else {
    /* implicit output: broadcast dims, then the labels seen once, in alphabetical order */
    if (!ell_known || !all_ranks) {
      qc_infer_set_output(c, 0, &unknown);
      return QC_OK;
    }
    if (ell_rank >= 0)
      for (int32_t i = 0; i < ell_r; i++) out[r++] = ell[i];
    for (int ch = 'A'; ch <= 'z'; ch++)
      if (label_count[ch] == 1) {
        if (r >= QC_MAX_RANK) return qc_infer_error(c, "output rank exceeds %d", QC_MAX_RANK);
        out[r++] = label_dim[ch];
      }
  }
  if (!all_ranks) {
    /* the rank is known (no "..."), the sizes of labels seen only in unknown inputs are not */
    qc_type t = qc_inf_type(dt, r, out);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  qc_type t = qc_inf_type(dt, r, out);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- losses, linear algebra --------------------------------------------------------------------- */

qc_status qc_infer_det(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_min_rank(c, 0, 2));
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = qc_inf_dtype(c, 0);
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  int64_t a = x->dims[x->rank - 2], b = x->dims[x->rank - 1];
  if (a >= 0 && b >= 0 && a != b)
    return qc_infer_error(c, "matrices must be square, got %lldx%lld", (long long)a, (long long)b);
  qc_type t = qc_inf_type(dt, x->rank - 2, x->dims);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_nll_loss(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_index(c, 1));
  bool sce = c->n->op == QC_OP_SoftmaxCrossEntropyLoss;
  const qc_type *x = qc_infer_input(c, 0), *tg = qc_infer_input(c, 1);
  if (x && tg && x->rank >= 0 && tg->rank >= 0) {
    if (x->rank < 2) return qc_infer_error(c, "input 0: expected rank >= 2, got %d", x->rank);
    if (tg->rank != x->rank - 1)
      return qc_infer_error(c, "target rank %d must be input rank %d minus one", tg->rank, x->rank);
    for (int32_t i = 0; i < tg->rank; i++) {
      int64_t a = x->dims[i == 0 ? 0 : i + 1], b = tg->dims[i];
      if (a >= 0 && b >= 0 && a != b)
        return qc_infer_error(c, "target dim %d (%lld) differs from input dim %d (%lld)", i,
                              (long long)b, i == 0 ? 0 : i + 1, (long long)a);
    }
  }
  if (qc_infer_input(c, 2)) {
    QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 2, 1));
    QC_RETURN_IF_ERROR(qc_inf_require_dim(c, 2, 0, qc_inf_dim(c, 0, 1), "weight size and classes differ"));
  }
  const char *red = qc_infer_string(c, "reduction", "mean");
  qc_dtype dt = qc_inf_dtype(c, 0);
  qc_type t;
  if (strcmp(red, "none") == 0) {
    t = tg ? *tg : qc_type_unknown();
    t.kind = QC_TYPE_TENSOR;
    t.dtype = dt;
  } else if (strcmp(red, "mean") == 0 || strcmp(red, "sum") == 0) {
    t = qc_inf_type(dt, 0, NULL);
  } else {
    return qc_infer_error(c, "unknown reduction '%s'", red);
  }
  qc_infer_set_output(c, 0, &t);
  if (sce && x) qc_infer_set_output(c, 1, x);
  return QC_OK;
}

/* ---- signal processing ------------------------------------------------------------------------- */

qc_status qc_infer_dft(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  const qc_type *x = qc_infer_input(c, 0);
  qc_dtype dt = qc_inf_dtype(c, 0);
  int64_t ver = qc_inf_version(c);
  bool inverse = qc_infer_int(c, "inverse", 0) != 0, onesided = qc_infer_int(c, "onesided", 0) != 0;
  if (!x || x->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  if (x->rank < 2) return qc_infer_error(c, "input 0: expected rank >= 2, got %d", x->rank);
  int64_t last = x->dims[x->rank - 1];
  if (last >= 0 && last != 1 && last != 2)
    return qc_infer_error(c, "input 0: the last dim must be 1 (real) or 2 (complex), got %lld", (long long)last);
  int64_t axis = 1;
  bool axis_known = true;
  if (ver >= 20) {
    axis = -2;
    if (qc_infer_input(c, 2)) {
      int32_t n;
      axis_known = qc_inf_input_ints(c, 2, &axis, 1, &n) && n == 1;
    }
  } else {
    axis = qc_infer_int(c, "axis", 1);
  }
  qc_type t = *x;
  t.kind = QC_TYPE_TENSOR;
  bool irfft = onesided && inverse;
  t.dims[x->rank - 1] = irfft ? 1 : 2;
  if (!axis_known) {
    for (int32_t i = 0; i < x->rank - 1; i++) t.dims[i] = QC_DIM_UNKNOWN;
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  int64_t r = x->rank;
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r - 1) return qc_infer_error(c, "axis is out of range for rank %lld", (long long)r);
  int64_t n = x->dims[axis];
  if (qc_infer_input(c, 1)) {
    int64_t v;
    int32_t cnt;
    n = qc_inf_input_ints(c, 1, &v, 1, &cnt) && cnt == 1 ? v : QC_DIM_UNKNOWN;
  } else if (irfft) {
    n = n >= 1 ? 2 * (n - 1) : QC_DIM_UNKNOWN;
  }
  if (onesided && !inverse) n = n >= 0 ? n / 2 + 1 : QC_DIM_UNKNOWN;
  t.dims[axis] = n;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_stft(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 3));
  QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 1));
  qc_dtype dt = qc_inf_dtype(c, 0);
  int64_t len = qc_inf_dim(c, 0, 1), step = QC_DIM_UNKNOWN, fl = QC_DIM_UNKNOWN, v;
  int32_t n;
  if (qc_inf_input_ints(c, 1, &v, 1, &n) && n == 1) step = v;
  if (qc_infer_input(c, 3)) {
    QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 3));
    if (qc_inf_input_ints(c, 3, &v, 1, &n) && n == 1) fl = v;
  } else if (qc_infer_input(c, 2)) {
    QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 2, 1));
    fl = qc_inf_dim(c, 2, 0);
  }
  if (step == 0) return qc_infer_error(c, "frame_step is zero");
  int64_t frames = QC_DIM_UNKNOWN;
  if (len >= 0 && step > 0 && fl >= 0) {
    if (fl > len) return qc_infer_error(c, "frame_length (%lld) exceeds the signal length (%lld)", (long long)fl, (long long)len);
    frames = (len - fl) / step + 1;
  }
  int64_t bins = fl >= 0 ? (qc_infer_int(c, "onesided", 1) ? fl / 2 + 1 : fl) : QC_DIM_UNKNOWN;
  qc_type t = qc_inf_type(dt, 4, (int64_t[]){qc_inf_dim(c, 0, 0), frames, bins, 2});
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_mel_weight(qc_infer_ctx *c) {
  for (int32_t i = 0; i < 5; i++) QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, i));
  int64_t code = qc_infer_int(c, "output_datatype", 1);
  qc_dtype dt = qc_dtype_from_onnx((int)code);
  if (!dt) return qc_infer_error(c, "output_datatype %lld is not a known data type", (long long)code);
  int64_t bins = QC_DIM_UNKNOWN, dl = QC_DIM_UNKNOWN, v;
  int32_t n;
  if (qc_inf_input_ints(c, 0, &v, 1, &n) && n == 1) bins = v;
  if (qc_inf_input_ints(c, 1, &v, 1, &n) && n == 1) dl = v / 2 + 1;
  qc_type t = qc_inf_type(dt, 2, (int64_t[]){dl, bins});
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}
