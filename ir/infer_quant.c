/* Inference rules for quantization ops: QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear, the integer and QLinear* ops, and the com.microsoft contrib ops
 * found in quantized models. */
#include "infer_ops.h"

/* The scale (and zero point) of input x: a scalar (per tensor), a 1-D tensor of
 * x.dims[axis] entries (per axis), or, with block_size, x's shape with dim axis divided
 * into blocks. */
static qc_status check_qparams(const qc_infer_ctx *c, int32_t ix, int32_t is, int32_t iz) {
  const qc_type *x = qc_infer_input(c, ix), *s = qc_infer_input(c, is), *z = qc_infer_input(c, iz);
  /* a scalar and a 1-element 1-D tensor both mean per-tensor */
  bool s_one = s && (s->rank == 0 || (s->rank == 1 && s->dims[0] == 1));
  bool z_one = z && (z->rank == 0 || (z->rank == 1 && z->dims[0] == 1));
  if (s && z && s->rank >= 0 && z->rank >= 0 && !(s_one && z_one)) {
    bool same = s->rank == z->rank;
    for (int32_t i = 0; same && i < s->rank; i++)
      same = !(s->dims[i] >= 0 && z->dims[i] >= 0 && s->dims[i] != z->dims[i]);
    if (!same) {
      char a[160], b[160];
      return qc_infer_error(c, "scale %s and zero point %s differ in shape",
                            qc_inf_dims_str(c->g, s->rank, s->dims, a, sizeof a),
                            qc_inf_dims_str(c->g, z->rank, z->dims, b, sizeof b));
    }
  }
  if (!x || !s || x->rank < 0 || s->rank < 0) return QC_OK;
  int64_t block = qc_infer_int(c, "block_size", 0);
  if (s->rank == 0 || (s->rank == 1 && s->dims[0] == 1 && block == 0)) return QC_OK;
  int32_t axis;
  int64_t ax = qc_infer_int(c, "axis", 1);
  if (!qc_norm_axis(ax, x->rank, &axis))
    return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)ax, x->rank);
  if (block > 0) {
    if (s->rank != x->rank)
      return qc_infer_error(c, "input %d: blocked scale must have rank %d, got %d", is, x->rank, s->rank);
    for (int32_t i = 0; i < x->rank; i++) {
      int64_t want = i == axis ? (x->dims[i] >= 0 ? (x->dims[i] + block - 1) / block : QC_DIM_UNKNOWN)
                               : x->dims[i];
      if (want >= 0 && s->dims[i] >= 0 && want != s->dims[i])
        return qc_infer_error(c, "input %d: blocked scale dim %d is %lld, expected %lld", is, i,
                              (long long)s->dims[i], (long long)want);
    }
    return QC_OK;
  }
  if (s->rank != 1)
    return qc_infer_error(c, "input %d: scale must be a scalar or 1-D, got rank %d", is, s->rank);
  int64_t d = x->dims[axis];
  if (d >= 0 && s->dims[0] >= 0 && s->dims[0] != d)
    return qc_infer_error(c, "input %d: scale has %lld entries, but dim %d has %lld", is,
                          (long long)s->dims[0], axis, (long long)d);
  return QC_OK;
}

static const qc_dtype QUANT_TYPES[] = {QC_U8, QC_I8, QC_U16, QC_I16, QC_U4, QC_I4, QC_U2, QC_I2,
                                       QC_F8E4M3FN, QC_F8E4M3FNUZ, QC_F8E5M2, QC_F8E5M2FNUZ,
                                       QC_F4E2M1, QC_I32, QC_U32};

qc_status qc_infer_quantize(qc_infer_ctx *c) {
  qc_dtype xd = qc_inf_dtype(c, 0);
  if (xd && !qc_dtype_is_float(xd) && xd != QC_I32)
    return qc_infer_error(c, "input 0: expected a float or i32 type, got %s", qc_dtype_name(xd));
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 1));
  QC_RETURN_IF_ERROR(check_qparams(c, 0, 1, 2));
  qc_dtype out = QC_U8;
  int64_t code = qc_infer_int(c, "output_dtype", 0);
  qc_dtype zd = qc_inf_dtype(c, 2);
  if (code) {
    out = qc_dtype_from_onnx((int)code);
    if (!out) return qc_infer_error(c, "output_dtype %lld is not a known data type", (long long)code);
    if (zd && zd != out)
      return qc_infer_error(c, "output_dtype %s and the zero point's %s differ", qc_dtype_name(out),
                            qc_dtype_name(zd));
  } else if (qc_infer_input(c, 2)) {
    out = zd;
  }
  if (out)
    QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 2, "a quantized type", (int32_t)(sizeof QUANT_TYPES / sizeof *QUANT_TYPES), QUANT_TYPES));
  const qc_type *x = qc_infer_input(c, 0);
  qc_type t = x ? *x : qc_type_unknown();
  t.kind = QC_TYPE_TENSOR;
  t.dtype = out;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_dequantize(qc_infer_ctx *c) {
  if (qc_infer_input(c, 2)) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 2));
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 1));
  QC_RETURN_IF_ERROR(check_qparams(c, 0, 1, 2));
  qc_dtype out = qc_inf_dtype(c, 1);
  int64_t code = qc_infer_int(c, "output_dtype", 0);
  if (code) {
    out = qc_dtype_from_onnx((int)code);
    if (!out) return qc_infer_error(c, "output_dtype %lld is not a known data type", (long long)code);
  }
  if (!out && qc_inf_version(c) < 19) out = QC_F32;
  const qc_type *x = qc_infer_input(c, 0);
  qc_type t = x ? *x : qc_type_unknown();
  t.kind = QC_TYPE_TENSOR;
  t.dtype = out;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_dynamic_quantize(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  const qc_type *x = qc_infer_input(c, 0);
  qc_type y = x ? *x : qc_type_unknown();
  y.kind = QC_TYPE_TENSOR;
  y.dtype = QC_U8;
  qc_type s = qc_inf_type(QC_F32, 0, NULL), z = qc_inf_type(QC_U8, 0, NULL);
  qc_infer_set_output(c, 0, &y);
  qc_infer_set_output(c, 1, &s);
  qc_infer_set_output(c, 2, &z);
  return QC_OK;
}

static const qc_dtype INT8_TYPES[] = {QC_I8, QC_U8};

qc_status qc_infer_matmul_integer(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "i8 or u8", 2, INT8_TYPES));
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i8 or u8", 2, INT8_TYPES));
  if (qc_infer_input(c, 2)) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 2));
  if (qc_infer_input(c, 3)) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 1, 3));
  qc_type t;
  QC_RETURN_IF_ERROR(qc_inf_matmul_shape(c, 0, 1, &t));
  t.dtype = QC_I32;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_conv_integer(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "i8 or u8", 2, INT8_TYPES));
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i8 or u8", 2, INT8_TYPES));
  return qc_inf_conv(c, 0, 1, -1, QC_I32);
}

/* QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp) */
qc_status qc_infer_qlinear_matmul(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 2));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 3, 5));
  qc_type t;
  QC_RETURN_IF_ERROR(qc_inf_matmul_shape(c, 0, 3, &t));
  t.dtype = qc_inf_dtype(c, 7);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B) */
qc_status qc_infer_qlinear_conv(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 2));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 3, 5));
  if (qc_infer_input(c, 8)) {
    static const qc_dtype i32[] = {QC_I32};
    QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 8, "i32", 1, i32));
  }
  return qc_inf_conv(c, 0, 3, 8, qc_inf_dtype(c, 7));
}

/* ---- com.microsoft --------------------------------------------------------------------------- */

/* MatMulNBits(A, B, scales, zero_points, g_idx, bias): A [..., K] -> [..., N]. */
qc_status qc_infer_matmul_nbits(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_min_rank(c, 0, 1));
  int64_t k = qc_infer_int(c, "K", 0), n = qc_infer_int(c, "N", 0);
  int64_t bits = qc_infer_int(c, "bits", 4), bs = qc_infer_int(c, "block_size", 0);
  if (qc_infer_attr(c, "N") && n <= 0) return qc_infer_error(c, "N must be positive, got %lld", (long long)n);
  if (qc_infer_attr(c, "K") && k <= 0) return qc_infer_error(c, "K must be positive, got %lld", (long long)k);
  if (bits < 1 || bits > 8) return qc_infer_error(c, "bits must be 1..8, got %lld", (long long)bits);
  if (qc_infer_attr(c, "block_size") && (bs < 16 || (bs & (bs - 1))))
    return qc_infer_error(c, "block_size must be a power of 2 and >= 16, got %lld", (long long)bs);
  const qc_type *a = qc_infer_input(c, 0);
  qc_dtype dt = a ? a->dtype : QC_DT_UNDEFINED;
  if (!a || a->rank < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  int64_t ka = a->dims[a->rank - 1];
  if (qc_infer_attr(c, "K") && ka >= 0 && ka != k)
    return qc_infer_error(c, "inner dimensions differ: %lld vs %lld", (long long)ka, (long long)k);
  /* B packs N x ceil(K / block_size) blocks of block_size * bits / 8 bytes */
  const qc_type *b = qc_infer_input(c, 1);
  if (b && b->rank == 3 && n > 0 && b->dims[0] >= 0 && b->dims[0] != n)
    return qc_infer_error(c, "input 1: packed weight has %lld rows, N is %lld", (long long)b->dims[0], (long long)n);
  qc_type t = *a;
  t.kind = QC_TYPE_TENSOR;
  t.dims[a->rank - 1] = qc_infer_attr(c, "N") ? n : QC_DIM_UNKNOWN;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* DynamicQuantizeMatMul(A, B, b_scale, b_zp, bias): float A times int8 B. */
qc_status qc_infer_dq_matmul(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i8 or u8", 2, INT8_TYPES));
  qc_type t;
  QC_RETURN_IF_ERROR(qc_inf_matmul_shape(c, 0, 1, &t));
  t.dtype = qc_inf_dtype(c, 0);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* MatMulIntegerToFloat(A, B, a_scale, b_scale, a_zp, b_zp, bias) */
qc_status qc_infer_matmul_int_to_float(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "i8 or u8", 2, INT8_TYPES));
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i8 or u8", 2, INT8_TYPES));
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 2));
  qc_type t;
  QC_RETURN_IF_ERROR(qc_inf_matmul_shape(c, 0, 1, &t));
  t.dtype = qc_inf_dtype(c, 2);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* QLinearAdd/QLinearMul(A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp) */
qc_status qc_infer_qlinear_binary(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, 3));
  const qc_type *a = qc_infer_input(c, 0), *b = qc_infer_input(c, 3);
  qc_type t = qc_inf_dtype_only(qc_inf_dtype(c, 0));
  if (a && b && a->rank >= 0 && b->rank >= 0) {
    int32_t r;
    int64_t d[QC_MAX_RANK];
    if (!qc_broadcast_dims(a->rank, a->dims, b->rank, b->dims, &r, d)) {
      char x[160], y[160];
      return qc_infer_error(c, "shapes %s and %s do not broadcast",
                            qc_inf_dims_str(c->g, a->rank, a->dims, x, sizeof x),
                            qc_inf_dims_str(c->g, b->rank, b->dims, y, sizeof y));
    }
    t = qc_inf_type(t.dtype, r, d);
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* QLinearConcat(Y_scale, Y_zp, X0, X0_scale, X0_zp, X1, ...) */
qc_status qc_infer_qlinear_concat(qc_infer_ctx *c) {
  int32_t n = qc_infer_num_inputs(c);
  if ((n - 2) % 3) return qc_infer_error(c, "inputs must be Y_scale, Y_zp and (X, scale, zp) triples");
  int32_t rank = -1;
  qc_dtype dt = QC_DT_UNDEFINED;
  for (int32_t i = 2; i < n; i += 3) {
    const qc_type *t = qc_infer_input(c, i);
    if (!t) continue;
    if (t->dtype && dt && t->dtype != dt)
      return qc_infer_error(c, "input %d: dtype %s differs from %s", i, qc_dtype_name(t->dtype), qc_dtype_name(dt));
    if (t->dtype) dt = t->dtype;
    if (t->rank >= 0) {
      if (rank >= 0 && t->rank != rank)
        return qc_infer_error(c, "input %d: rank %d differs from %d", i, t->rank, rank);
      rank = t->rank;
    }
  }
  qc_type out = qc_inf_dtype_only(dt);
  if (rank > 0) {
    int32_t axis;
    int64_t ax = qc_infer_int(c, "axis", 0);
    if (!qc_norm_axis(ax, rank, &axis))
      return qc_infer_error(c, "axis %lld is out of range for rank %d", (long long)ax, rank);
    out = qc_inf_ranked(dt, rank);
    int64_t sum = 0;
    bool all = true;
    for (int32_t i = 2; i < n; i += 3) {
      const qc_type *t = qc_infer_input(c, i);
      if (!t || t->rank < 0) {
        all = false;
        continue;
      }
      for (int32_t d = 0; d < rank; d++) {
        if (d == axis) continue;
        bool conflict = false;
        out.dims[d] = qc_inf_dim_merge(out.dims[d], t->dims[d], &conflict);
        if (conflict) return qc_infer_error(c, "input %d: dim %d differs", i, d);
      }
      sum = qc_inf_dim_add(sum, t->dims[axis]);
    }
    out.dims[axis] = all ? sum : QC_DIM_UNKNOWN;
  }
  qc_infer_set_output(c, 0, &out);
  return QC_OK;
}

qc_status qc_infer_qlinear_unary(qc_infer_ctx *c) { return qc_infer_same(c); }

qc_status qc_infer_qlinear_avgpool(qc_infer_ctx *c) {
  return qc_inf_pool(c, 0, qc_inf_dtype(c, 0), qc_infer_int(c, "channels_last", 0) != 0, false);
}

qc_status qc_infer_qlinear_gavgpool(qc_infer_ctx *c) {
  return qc_inf_global_pool(c, 0, qc_inf_dtype(c, 0), qc_infer_int(c, "channels_last", 0) != 0);
}

/* QGemm(A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp): quantized output with y_scale,
 * float otherwise. */
qc_status qc_infer_qgemm(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "i8 or u8", 2, INT8_TYPES));
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 3, "i8 or u8", 2, INT8_TYPES));
  qc_type t;
  QC_RETURN_IF_ERROR(qc_inf_gemm_shape(c, 0, 3, 6, &t));
  t.dtype = qc_infer_input(c, 8) ? qc_inf_dtype(c, 8)
          : qc_infer_input(c, 7) ? qc_inf_dtype(c, 0) : QC_F32;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* quarc.DequantizePacked: the logical shape of q, in dtype `to` (ONNX code, f32 default). */
qc_status qc_infer_dequantize_packed(qc_infer_ctx *c) {
  const qc_type *q = qc_infer_input(c, 0);
  qc_type t = q ? *q : qc_type_unknown();
  t.kind = QC_TYPE_TENSOR;
  qc_dtype to = qc_dtype_from_onnx((int)qc_infer_int(c, "to", 1));
  if (to == QC_DT_UNDEFINED || !qc_dtype_is_float(to))
    return qc_infer_error(c, "attribute 'to' must name a float type");
  t.dtype = to;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}
