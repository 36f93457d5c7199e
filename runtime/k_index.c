/* Interpreter kernels: indexing — Gather*, Scatter* and TensorScatter. Indices may be
 * negative (counted from the end); out-of-range indices are errors naming the node. */
#include "runtime/kmove.h"

#include <math.h>
#include <stdlib.h>

static qc_status need_in(const qc_kctx *k, int32_t i, const char *what, const qc_tensor **out) {
  *out = qc_k_in(k, i);
  if (!*out) return qc_k_error(k, "input %d (%s) is missing or not a tensor", i, what);
  return QC_OK;
}

static qc_status need_int(const qc_kctx *k, const qc_tensor *t, const char *what) {
  if (!qc_dtype_is_int(t->dtype))
    return qc_k_error(k, "%s must be an integer tensor, got %s", what, qc_dtype_name(t->dtype));
  return QC_OK;
}

/* Index element i of t, made non-negative for an axis of size dim; false if out of range. */
static bool index_at(const qc_tensor *t, int64_t i, int64_t dim, int64_t *out) {
  int64_t v = qc_elem_i64(t->dtype, qc_tensor_data(t), (size_t)i);
  if (v < 0) v += dim;
  *out = v;
  return v >= 0 && v < dim;
}

static qc_status bad_index(const qc_kctx *k, const qc_tensor *t, int64_t i, int64_t dim) {
  return qc_k_error(k, "index %lld is out of range for a dimension of size %lld",
                    (long long)qc_elem_i64(t->dtype, qc_tensor_data(t), (size_t)i), (long long)dim);
}

/* ---- gathers --------------------------------------------------------------------------------- */

static qc_status k_gather(qc_kctx *k) {
  const qc_tensor *x, *ind;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "indices", &ind));
  QC_RETURN_IF_ERROR(need_int(k, ind, "indices"));
  int32_t axis;
  if (!qc_norm_axis(qc_k_int(k, "axis", 0), x->rank, &axis))
    return qc_k_error(k, "axis is out of range for rank %d", x->rank);
  int32_t r = x->rank - 1 + ind->rank;
  if (r > QC_MAX_RANK) return qc_k_error(k, "output rank %d exceeds quarc's limit", r);
  int64_t od[QC_MAX_RANK];
  int32_t j = 0;
  for (int32_t d = 0; d < axis; d++) od[j++] = x->dims[d];
  for (int32_t d = 0; d < ind->rank; d++) od[j++] = ind->dims[d];
  for (int32_t d = axis + 1; d < x->rank; d++) od[j++] = x->dims[d];
  qc_mover mv;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, x->dtype));
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, r, od, &y));
  int64_t outer = qc_shape_numel(axis, x->dims),
          inner = qc_shape_numel(x->rank - (axis + 1), x->dims + (axis + 1));
  int64_t dim = x->dims[axis], ni = qc_tensor_numel(ind);
  for (int64_t i = 0; i < ni; i++) {
    int64_t v;
    if (!index_at(ind, i, dim, &v)) return bad_index(k, ind, i, dim);
    if (!qc_move_blocks(&mv, qc_tensor_data(y), i * inner, ni * inner, qc_tensor_data(x), v * inner,
                        dim * inner, inner, outer))
      return QC_OOM();
  }
  return QC_OK;
}

static qc_status k_gather_elements(qc_kctx *k) {
  const qc_tensor *x, *ind;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "indices", &ind));
  QC_RETURN_IF_ERROR(need_int(k, ind, "indices"));
  if (ind->rank != x->rank) return qc_k_error(k, "indices and data differ in rank");
  int32_t axis;
  if (!qc_norm_axis(qc_k_int(k, "axis", 0), x->rank, &axis))
    return qc_k_error(k, "axis is out of range for rank %d", x->rank);
  qc_mover mv;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, x->dtype));
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, ind->rank, ind->dims, &y));
  int64_t st[QC_MAX_RANK], n = qc_tensor_numel(ind);
  qc_strides(x->rank, x->dims, st);
  for (int64_t i = 0; i < n; i++) {
    int64_t rem = i, off = 0;
    for (int32_t d = ind->rank - 1; d >= 0; d--) {
      int64_t c = rem % ind->dims[d];
      rem /= ind->dims[d];
      if (d == axis) {
        if (!index_at(ind, i, x->dims[d], &c)) return bad_index(k, ind, i, x->dims[d]);
      } else if (c >= x->dims[d]) {
        return qc_k_error(k, "indices dimension %d exceeds the data's", d);
      }
      off += c * st[d];
    }
    if (!qc_move(&mv, qc_tensor_data(y), i, qc_tensor_data(x), off, 1)) return QC_OOM();
  }
  return QC_OK;
}

/* GatherND / ScatterND addressing: indices [..., m] select slices of data after b batch
 * dims. Slice t of the index tuples starts at element *off of data. */
typedef struct nd_addr {
  int32_t b, m;
  int64_t tuples;    /* number of index tuples */
  int64_t per_batch; /* tuples per batch entry */
  int64_t block;     /* elements per selected slice: prod(data.dims[b+m:]) */
  int64_t batch_stride;
  int64_t st[QC_MAX_RANK];
} nd_addr;

static qc_status nd_setup(const qc_kctx *k, const qc_tensor *x, const qc_tensor *ind, int32_t b,
                          nd_addr *a) {
  int32_t q = ind->rank;
  if (q < 1) return qc_k_error(k, "indices must have rank >= 1");
  a->b = b;
  a->m = (int32_t)ind->dims[q - 1];
  if (b < 0 || b >= q || b >= x->rank) return qc_k_error(k, "batch_dims %d is out of range", b);
  if (a->m < 1 || b + a->m > x->rank)
    return qc_k_error(k, "index tuples of length %d do not fit data of rank %d", a->m, x->rank);
  for (int32_t d = 0; d < b; d++)
    if (ind->dims[d] != x->dims[d]) return qc_k_error(k, "batch dimension %d differs", d);
  a->tuples = qc_shape_numel(q - 1, ind->dims);
  a->per_batch = qc_shape_numel(q - 1 - b, ind->dims + b);
  a->block = qc_shape_numel(x->rank - (b + a->m), x->dims + (b + a->m));
  a->batch_stride = qc_shape_numel(x->rank - b, x->dims + b);
  qc_strides(x->rank, x->dims, a->st);
  return QC_OK;
}

static qc_status nd_offset(const qc_kctx *k, const qc_tensor *x, const qc_tensor *ind,
                           const nd_addr *a, int64_t t, int64_t *off) {
  int64_t o = (a->per_batch ? t / a->per_batch : 0) * a->batch_stride;
  for (int32_t i = 0; i < a->m; i++) {
    int64_t v, dim = x->dims[a->b + i];
    if (!index_at(ind, t * a->m + i, dim, &v)) return bad_index(k, ind, t * a->m + i, dim);
    o += v * a->st[a->b + i];
  }
  *off = o;
  return QC_OK;
}

static qc_status k_gather_nd(qc_kctx *k) {
  const qc_tensor *x, *ind;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "indices", &ind));
  QC_RETURN_IF_ERROR(need_int(k, ind, "indices"));
  nd_addr a;
  QC_RETURN_IF_ERROR(nd_setup(k, x, ind, (int32_t)qc_k_int(k, "batch_dims", 0), &a));
  int64_t od[QC_MAX_RANK];
  int32_t r = 0;
  for (int32_t d = 0; d < ind->rank - 1; d++) od[r++] = ind->dims[d];
  for (int32_t d = a.b + a.m; d < x->rank; d++) {
    if (r >= QC_MAX_RANK) return qc_k_error(k, "output rank exceeds quarc's limit");
    od[r++] = x->dims[d];
  }
  qc_mover mv;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, x->dtype));
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, r, od, &y));
  for (int64_t t = 0; t < a.tuples; t++) {
    int64_t off;
    QC_RETURN_IF_ERROR(nd_offset(k, x, ind, &a, t, &off));
    if (!qc_move(&mv, qc_tensor_data(y), t * a.block, qc_tensor_data(x), off, a.block))
      return QC_OOM();
  }
  return QC_OK;
}

/* ---- scatters -------------------------------------------------------------------------------- */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static qc_status parse_reduction(const qc_kctx *k, int *out) {
  const char *s = qc_k_string(k, "reduction", "none");
  static const char *const names[] = {"none", "add", "mul", "max", "min"};
  for (int i = 0; i < 5; i++)
    if (!strcmp(s, names[i])) {
      *out = i;
      return QC_OK;
    }
  return qc_k_error(k, "unknown reduction '%s'", s);
}

/* dst[j] = dst[j] (op) src[i] for a numeric dtype. */
static void reduce_elem(qc_dtype dt, void *dst, int64_t j, const void *src, int64_t i, int op) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  size_t sj = (size_t)j, si = (size_t)i;
  if (t->kind == QC_KIND_BOOL) {
    uint64_t a = qc_elem_code(dt, dst, sj) != 0, b = qc_elem_code(dt, src, si) != 0;
    uint64_t v = op == RED_ADD || op == RED_MAX ? (a | b) : (a & b);
    qc_elem_set_code(dt, dst, sj, v);
  } else if (t->kind == QC_KIND_INT && !t->is_signed) {
    uint64_t a = qc_elem_code(dt, dst, sj), b = qc_elem_code(dt, src, si);
    uint64_t v = op == RED_ADD   ? a + b
                 : op == RED_MUL ? a * b
                 : op == RED_MAX ? (a > b ? a : b)
                                 : (a < b ? a : b);
    qc_elem_set_code(dt, dst, sj, v);
  } else if (t->kind == QC_KIND_INT) {
    int64_t a = qc_elem_i64(dt, dst, sj), b = qc_elem_i64(dt, src, si);
    int64_t v = op == RED_ADD   ? (int64_t)((uint64_t)a + (uint64_t)b)
                : op == RED_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
                : op == RED_MAX ? (a > b ? a : b)
                                : (a < b ? a : b);
    qc_elem_set_i64(dt, dst, sj, v);
  } else {
    double a = qc_elem_f64(dt, dst, sj), b = qc_elem_f64(dt, src, si);
    double v = op == RED_ADD   ? a + b
               : op == RED_MUL ? a * b
               : op == RED_MAX ? fmax(a, b)
                               : fmin(a, b);
    if (op >= RED_MAX && (isnan(a) || isnan(b))) v = NAN; /* NaN propagates, as numpy */
    qc_elem_set_f64(dt, dst, sj, v, 0);
  }
}

static qc_status check_reducible(const qc_kctx *k, qc_dtype dt, int op) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  if (op != RED_NONE && t->kind != QC_KIND_FLOAT && t->kind != QC_KIND_INT &&
      t->kind != QC_KIND_BOOL)
    return qc_k_error(k, "reduction needs numbers, got %s", t->name);
  return QC_OK;
}

/* Apply src[i, i+n) to dst[j, j+n) with a reduction. */
static bool apply(const qc_mover *mv, int op, void *dst, int64_t j, const void *src, int64_t i,
                  int64_t n) {
  if (op == RED_NONE) return qc_move(mv, dst, j, src, i, n);
  for (int64_t e = 0; e < n; e++) reduce_elem(mv->dt, dst, j + e, src, i + e, op);
  return true;
}

/* Output 0 starts as a copy of data. */
static qc_status copy_data(qc_kctx *k, const qc_tensor *x, qc_mover *mv, qc_tensor **y) {
  QC_RETURN_IF_ERROR(qc_mover_init(k, mv, x->dtype));
  QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, x, y));
  if (!qc_move(mv, qc_tensor_data(*y), 0, qc_tensor_data(x), 0, qc_tensor_numel(x)))
    return QC_OOM();
  return QC_OK;
}

static qc_status scatter_elements(qc_kctx *k, int op) {
  const qc_tensor *x, *ind, *upd;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "indices", &ind));
  QC_RETURN_IF_ERROR(need_in(k, 2, "updates", &upd));
  QC_RETURN_IF_ERROR(need_int(k, ind, "indices"));
  QC_RETURN_IF_ERROR(check_reducible(k, x->dtype, op));
  if (ind->rank != x->rank || upd->rank != ind->rank || upd->dtype != x->dtype)
    return qc_k_error(k, "data, indices and updates must share rank (and data/updates dtype)");
  for (int32_t d = 0; d < ind->rank; d++)
    if (ind->dims[d] != upd->dims[d]) return qc_k_error(k, "indices and updates differ in shape");
  int32_t axis;
  if (!qc_norm_axis(qc_k_int(k, "axis", 0), x->rank, &axis))
    return qc_k_error(k, "axis is out of range for rank %d", x->rank);
  qc_mover mv;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(copy_data(k, x, &mv, &y));
  int64_t st[QC_MAX_RANK], n = qc_tensor_numel(ind);
  qc_strides(x->rank, x->dims, st);
  for (int64_t i = 0; i < n; i++) {
    int64_t rem = i, off = 0;
    for (int32_t d = ind->rank - 1; d >= 0; d--) {
      int64_t c = rem % ind->dims[d];
      rem /= ind->dims[d];
      if (d == axis) {
        if (!index_at(ind, i, x->dims[d], &c)) return bad_index(k, ind, i, x->dims[d]);
      } else if (c >= x->dims[d]) {
        return qc_k_error(k, "indices dimension %d exceeds the data's", d);
      }
      off += c * st[d];
    }
    if (!apply(&mv, op, qc_tensor_data(y), off, qc_tensor_data(upd), i, 1)) return QC_OOM();
  }
  return QC_OK;
}

static qc_status k_scatter_elements(qc_kctx *k) {
  int op;
  QC_RETURN_IF_ERROR(parse_reduction(k, &op));
  return scatter_elements(k, op);
}

static qc_status k_scatter(qc_kctx *k) { return scatter_elements(k, RED_NONE); }

static qc_status k_scatter_nd(qc_kctx *k) {
  const qc_tensor *x, *ind, *upd;
  QC_RETURN_IF_ERROR(need_in(k, 0, "data", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "indices", &ind));
  QC_RETURN_IF_ERROR(need_in(k, 2, "updates", &upd));
  QC_RETURN_IF_ERROR(need_int(k, ind, "indices"));
  int op;
  QC_RETURN_IF_ERROR(parse_reduction(k, &op));
  QC_RETURN_IF_ERROR(check_reducible(k, x->dtype, op));
  nd_addr a;
  QC_RETURN_IF_ERROR(nd_setup(k, x, ind, 0, &a));
  if (upd->dtype != x->dtype) return qc_k_error(k, "updates dtype differs from data");
  int32_t q = ind->rank, ur = q - 1 + x->rank - a.m;
  bool ok = upd->rank == ur;
  for (int32_t d = 0; ok && d < q - 1; d++) ok = upd->dims[d] == ind->dims[d];
  for (int32_t d = 0; ok && d < x->rank - a.m; d++) ok = upd->dims[q - 1 + d] == x->dims[a.m + d];
  if (!ok) return qc_k_error(k, "updates must have shape indices.shape[:-1] + data.shape[m:]");
  qc_mover mv;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(copy_data(k, x, &mv, &y));
  for (int64_t t = 0; t < a.tuples; t++) {
    int64_t off;
    QC_RETURN_IF_ERROR(nd_offset(k, x, ind, &a, t, &off));
    if (!apply(&mv, op, qc_tensor_data(y), off, qc_tensor_data(upd), t * a.block, a.block))
      return QC_OOM();
  }
  return QC_OK;
}

static qc_status k_tensor_scatter(qc_kctx *k) {
  const qc_tensor *x, *upd, *wi = qc_k_in(k, 2);
  QC_RETURN_IF_ERROR(need_in(k, 0, "past_cache", &x));
  QC_RETURN_IF_ERROR(need_in(k, 1, "update", &upd));
  int32_t axis;
  if (!qc_norm_axis(qc_k_int(k, "axis", -2), x->rank, &axis) || axis == 0)
    return qc_k_error(k, "axis must name a non-batch axis of rank %d", x->rank);
  const char *ms = qc_k_string(k, "mode", "linear");
  bool circular = !strcmp(ms, "circular");
  if (!circular && strcmp(ms, "linear") != 0) return qc_k_error(k, "unknown mode '%s'", ms);
  if (upd->rank != x->rank || upd->dtype != x->dtype)
    return qc_k_error(k, "update must match past_cache in rank and dtype");
  for (int32_t d = 0; d < x->rank; d++)
    if (d != axis ? upd->dims[d] != x->dims[d] : upd->dims[d] > x->dims[d])
      return qc_k_error(k, "update shape is incompatible with past_cache in dimension %d", d);
  if (wi && (qc_tensor_numel(wi) != x->dims[0] || !qc_dtype_is_int(wi->dtype)))
    return qc_k_error(k, "write_indices must hold one integer per batch entry");
  qc_mover mv;
  qc_tensor *y;
  QC_RETURN_IF_ERROR(copy_data(k, x, &mv, &y));
  int64_t prefix = qc_shape_numel(axis, x->dims),
          inner = qc_shape_numel(x->rank - (axis + 1), x->dims + (axis + 1));
  int64_t maxlen = x->dims[axis], len = upd->dims[axis],
          per_batch = prefix / (x->dims[0] ? x->dims[0] : 1);
  for (int64_t p = 0; p < prefix; p++) {
    int64_t b = per_batch ? p / per_batch : 0;
    int64_t w = wi ? qc_elem_i64(wi->dtype, qc_tensor_data(wi), (size_t)b) : 0;
    for (int64_t s = 0; s < len; s++) {
      int64_t c = w + s;
      if (circular) c = ((c % maxlen) + maxlen) % maxlen;
      if (c < 0 || c >= maxlen)
        return qc_k_error(k, "write position %lld is outside the cache of length %lld",
                          (long long)c, (long long)maxlen);
      if (!qc_move(&mv, qc_tensor_data(y), (p * maxlen + c) * inner, qc_tensor_data(upd),
                   (p * len + s) * inner, inner))
        return QC_OOM();
    }
  }
  return QC_OK;
}

const qc_kernel_entry qc_kernels_index[] = {
    {QC_OP_Gather, k_gather},
    {QC_OP_GatherElements, k_gather_elements},
    {QC_OP_GatherND, k_gather_nd},
    {QC_OP_Scatter, k_scatter},
    {QC_OP_ScatterElements, k_scatter_elements},
    {QC_OP_ScatterND, k_scatter_nd},
    {QC_OP_TensorScatter, k_tensor_scatter},
    {QC_OP_INVALID, NULL},
};
