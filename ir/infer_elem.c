/* Inference rules for elementwise ops with type constraints, casts, constants and
 * generators (Constant, ConstantOfShape, Range, EyeLike, random ops, windows). */
#include "infer_ops.h"

#include <math.h>

/* ---- unary ------------------------------------------------------------------------------ */

qc_status qc_infer_unary_float(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_tensor(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  return qc_infer_same(c);
}

qc_status qc_infer_unary_int(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_int(c, 0));
  return qc_infer_same(c);
}

qc_status qc_infer_unary_bool(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_bool(c, 0));
  return qc_infer_same(c);
}

/* Identity passes values through as well as types (sequences and optionals included). */
qc_status qc_infer_identity(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_same(c));
  qc_inf_vals v;
  if (qc_inf_input_vals(c, 0, &v)) qc_inf_set_output_vals(c, 0, &v);
  return QC_OK;
}

/* Neg: numeric (signed); integer values propagate. */
qc_status qc_infer_neg(qc_infer_ctx *c) {
  qc_dtype dt = qc_inf_dtype(c, 0);
  if (dt == QC_BOOL || dt == QC_STRING || (qc_dtype_is_int(dt) && !qc_dtype_traits_of(dt)->is_signed))
    return qc_infer_error(c, "input 0: expected a signed numeric type, got %s", qc_dtype_name(dt));
  QC_RETURN_IF_ERROR(qc_infer_same(c));
  qc_inf_vals v;
  if (qc_dtype_is_int(dt) && qc_inf_input_vals(c, 0, &v)) {
    for (int32_t i = 0; i < v.n; i++) {
      if (v.k[i] == QC_INF_INT && v.v[i] != INT64_MIN) v.v[i] = -v.v[i];
      else v.k[i] = QC_INF_UNK;
    }
    qc_inf_set_output_vals(c, 0, &v);
  }
  return QC_OK;
}

/* IsNaN, IsInf: float in, bool out. */
qc_status qc_infer_float_pred(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  const qc_type *x = qc_infer_input(c, 0);
  if (!x) return QC_OK;
  qc_type t = *x;
  t.dtype = QC_BOOL;
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- binary --------------------------------------------------------------------------------- */

/* Elementwise arithmetic on the values of small integer tensors (shape computations). */
static bool arith_vals(qc_op op, int64_t a, int64_t b, int64_t *out) {
  switch (op) {
  case QC_OP_Add: return !__builtin_add_overflow(a, b, out);
  case QC_OP_Sub: return !__builtin_sub_overflow(a, b, out);
  case QC_OP_Mul: return !__builtin_mul_overflow(a, b, out);
  case QC_OP_Div:
    if (b == 0 || (a == INT64_MIN && b == -1)) return false;
    *out = a / b; /* integer Div truncates (C semantics, as ONNX's numpy reference) */
    return true;
  default: return false;
  }
}

/* Add, Sub, Mul, Div: numeric, same dtype, broadcast; integer values propagate. */
qc_status qc_infer_arith(qc_infer_ctx *c) {
  for (int32_t i = 0; i < 2; i++) {
    qc_dtype dt = qc_inf_dtype(c, i);
    if (dt == QC_BOOL || dt == QC_STRING)
      return qc_infer_error(c, "input %d: expected a numeric type, got %s", i, qc_dtype_name(dt));
  }
  QC_RETURN_IF_ERROR(qc_infer_broadcast(c));
  qc_inf_vals a, b;
  if (!qc_dtype_is_int(qc_inf_dtype(c, 0)) || !qc_inf_input_vals(c, 0, &a) ||
      !qc_inf_input_vals(c, 1, &b))
    return QC_OK;
  if (a.n != b.n && a.n != 1 && b.n != 1) return QC_OK;
  qc_inf_vals r;
  r.rank = a.rank > b.rank ? a.rank : b.rank;
  r.n = a.n > b.n ? a.n : b.n;
  qc_op op = c->n->op;
  for (int32_t i = 0; i < r.n; i++) {
    int32_t ia = a.n == 1 ? 0 : i, ib = b.n == 1 ? 0 : i;
    r.k[i] = QC_INF_UNK;
    r.v[i] = 0;
    if (a.k[ia] == QC_INF_INT && b.k[ib] == QC_INF_INT) {
      if (arith_vals(op, a.v[ia], b.v[ib], &r.v[i])) r.k[i] = QC_INF_INT;
    } else if (a.k[ia] == QC_INF_SYM && b.k[ib] == QC_INF_INT) {
      /* sym + 0, sym - 0, sym * 1, sym / 1 keep the symbol */
      bool keep = ((op == QC_OP_Add || op == QC_OP_Sub) && b.v[ib] == 0) ||
                  ((op == QC_OP_Mul || op == QC_OP_Div) && b.v[ib] == 1);
      if (keep) r.k[i] = QC_INF_SYM, r.v[i] = a.v[ia];
    } else if (a.k[ia] == QC_INF_INT && b.k[ib] == QC_INF_SYM) {
      bool keep = (op == QC_OP_Add && a.v[ia] == 0) || (op == QC_OP_Mul && a.v[ia] == 1);
      if (keep) r.k[i] = QC_INF_SYM, r.v[i] = b.v[ib];
    }
  }
  qc_inf_set_output_vals(c, 0, &r);
  return QC_OK;
}

/* Equal: also on the values of small integer tensors (Where(Equal(shape, -1), ...)). */
qc_status qc_infer_equal(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_compare(c));
  qc_inf_vals a, b;
  if (!qc_inf_input_vals(c, 0, &a) || !qc_inf_input_vals(c, 1, &b)) return QC_OK;
  if (a.n != b.n && a.n != 1 && b.n != 1) return QC_OK;
  qc_inf_vals r;
  r.rank = a.rank > b.rank ? a.rank : b.rank;
  r.n = a.n > b.n ? a.n : b.n;
  for (int32_t i = 0; i < r.n; i++) {
    int32_t ia = a.n == 1 ? 0 : i, ib = b.n == 1 ? 0 : i;
    r.k[i] = QC_INF_UNK;
    r.v[i] = 0;
    if (a.k[ia] == QC_INF_INT && b.k[ib] == QC_INF_INT) {
      r.k[i] = QC_INF_INT;
      r.v[i] = a.v[ia] == b.v[ib];
    } else if (a.k[ia] == QC_INF_SYM && b.k[ib] == QC_INF_SYM && a.v[ia] == b.v[ib]) {
      r.k[i] = QC_INF_INT;
      r.v[i] = 1;
    } else if ((a.k[ia] == QC_INF_SYM && b.k[ib] == QC_INF_INT && b.v[ib] < 0) ||
               (b.k[ib] == QC_INF_SYM && a.k[ia] == QC_INF_INT && a.v[ia] < 0)) {
      r.k[i] = QC_INF_INT; /* a dim is never negative */
      r.v[i] = 0;
    }
  }
  qc_inf_set_output_vals(c, 0, &r);
  return QC_OK;
}

/* And, Or, Xor: bool only. */
qc_status qc_infer_logical(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_bool(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_bool(c, 1));
  return qc_infer_compare(c);
}

/* BitwiseAnd/Or/Xor: integers of one dtype. */
qc_status qc_infer_bitwise(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_int(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_int(c, 1));
  return qc_infer_broadcast(c);
}

/* BitShift: unsigned integers. */
qc_status qc_infer_bitshift(qc_infer_ctx *c) {
  static const qc_dtype u[] = {QC_U8, QC_U16, QC_U32, QC_U64};
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "an unsigned integer type", 4, u));
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "an unsigned integer type", 4, u));
  const char *dir = qc_infer_string(c, "direction", "");
  if (*dir && strcmp(dir, "LEFT") != 0 && strcmp(dir, "RIGHT") != 0)
    return qc_infer_error(c, "direction must be LEFT or RIGHT, got '%s'", dir);
  return qc_infer_broadcast(c);
}

/* Mod: fmod=0 is for integers only. */
qc_status qc_infer_mod(qc_infer_ctx *c) {
  if (qc_infer_int(c, "fmod", 0) == 0 && qc_dtype_is_float(qc_inf_dtype(c, 0)))
    return qc_infer_error(c, "fmod must be 1 for floating-point inputs (%s)",
                          qc_dtype_name(qc_inf_dtype(c, 0)));
  return qc_infer_broadcast(c);
}

/* StringConcat: strings, broadcast. */
qc_status qc_infer_string_concat(qc_infer_ctx *c) {
  static const qc_dtype s[] = {QC_STRING};
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "string", 1, s));
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "string", 1, s));
  return qc_infer_broadcast(c);
}

/* Where(cond, x, y): cond bool; x, y one dtype; the three broadcast. */
qc_status qc_infer_where(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_bool(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 1, 2));
  qc_type out = qc_type_unknown();
  int32_t r = 0;
  int64_t d[QC_MAX_RANK];
  bool known = true;
  for (int32_t i = 0; i < 3; i++) {
    const qc_type *t = qc_infer_input(c, i);
    if (!t || t->rank < 0) {
      known = false;
      continue;
    }
    if (!qc_broadcast_dims(r, d, t->rank, t->dims, &r, d)) {
      char a[160], b[160];
      return qc_infer_error(c, "input %d: shape %s does not broadcast with %s", i,
                            qc_inf_dims_str(c->g, t->rank, t->dims, b, sizeof b),
                            qc_inf_dims_str(c->g, r, d, a, sizeof a));
    }
  }
  out.dtype = qc_inf_dtype(c, 1) ? qc_inf_dtype(c, 1) : qc_inf_dtype(c, 2);
  if (known) out = qc_inf_type(out.dtype, r, d);
  qc_infer_set_output(c, 0, &out);
  /* values: a known condition selects between known values */
  qc_inf_vals vc, vx, vy;
  if (known && r <= 1 && qc_inf_input_vals(c, 0, &vc) && qc_inf_input_vals(c, 1, &vx) &&
      qc_inf_input_vals(c, 2, &vy)) {
    int32_t n = vc.n > vx.n ? vc.n : vx.n;
    if (vy.n > n) n = vy.n;
    if ((vc.n != n && vc.n != 1) || (vx.n != n && vx.n != 1) || (vy.n != n && vy.n != 1))
      return QC_OK;
    qc_inf_vals res = {.rank = r, .n = n};
    for (int32_t i = 0; i < n; i++) {
      int32_t ic = vc.n == 1 ? 0 : i, ix = vx.n == 1 ? 0 : i, iy = vy.n == 1 ? 0 : i;
      if (vc.k[ic] != QC_INF_INT) {
        res.k[i] = QC_INF_UNK;
        res.v[i] = 0;
      } else if (vc.v[ic]) {
        res.k[i] = vx.k[ix];
        res.v[i] = vx.v[ix];
      } else {
        res.k[i] = vy.k[iy];
        res.v[i] = vy.v[iy];
      }
    }
    qc_inf_set_output_vals(c, 0, &res);
  }
  return QC_OK;
}

/* ---- casts -------------------------------------------------------------------------------- */

static qc_status onnx_dtype_attr(const qc_infer_ctx *c, const char *name, int64_t code,
                                 qc_dtype *out) {
  *out = QC_DT_UNDEFINED;
  qc_dtype dt = qc_dtype_from_onnx((int)code);
  if (dt == QC_DT_UNDEFINED)
    return qc_infer_error(c, "attribute '%s': %lld is not a known data type", name, (long long)code);
  *out = dt;
  return QC_OK;
}

/* Output i: the shape of input 0 with dtype dt. */
static void same_shape_as(qc_infer_ctx *c, int32_t out, int32_t in, qc_dtype dt) {
  const qc_type *x = qc_infer_input(c, in);
  qc_type t = x ? *x : qc_type_unknown();
  t.kind = QC_TYPE_TENSOR;
  t.dtype = dt;
  qc_infer_set_output(c, out, &t);
}

qc_status qc_infer_cast(qc_infer_ctx *c) {
  if (!qc_infer_attr(c, "to")) return QC_OK; /* the verifier reports the missing attribute */
  qc_dtype to;
  QC_RETURN_IF_ERROR(onnx_dtype_attr(c, "to", qc_infer_int(c, "to", 0), &to));
  same_shape_as(c, 0, 0, to);
  qc_inf_vals v;
  if (qc_dtype_is_int(to) && qc_dtype_is_int(qc_inf_dtype(c, 0)) && qc_inf_input_vals(c, 0, &v)) {
    /* Values survive a cast to a type that holds them. */
    const qc_dtype_traits *tr = qc_dtype_traits_of(to);
    for (int32_t i = 0; i < v.n; i++)
      if (v.k[i] == QC_INF_INT && (v.v[i] < tr->imin || (v.v[i] > 0 && (uint64_t)v.v[i] > tr->imax)))
        v.k[i] = QC_INF_UNK;
    qc_inf_set_output_vals(c, 0, &v);
  }
  return QC_OK;
}

qc_status qc_infer_castlike(qc_infer_ctx *c) {
  same_shape_as(c, 0, 0, qc_inf_dtype(c, 1));
  return QC_OK;
}

qc_status qc_infer_bitcast(qc_infer_ctx *c) {
  if (!qc_infer_attr(c, "to")) return QC_OK;
  qc_dtype to, from = qc_inf_dtype(c, 0);
  QC_RETURN_IF_ERROR(onnx_dtype_attr(c, "to", qc_infer_int(c, "to", 0), &to));
  if (from == QC_STRING || to == QC_STRING)
    return qc_infer_error(c, "strings cannot be bit-cast");
  if (from && qc_dtype_traits_of(from)->bits != qc_dtype_traits_of(to)->bits)
    return qc_infer_error(c, "bit widths differ: %s has %d bits, %s has %d", qc_dtype_name(from),
                          qc_dtype_traits_of(from)->bits, qc_dtype_name(to),
                          qc_dtype_traits_of(to)->bits);
  same_shape_as(c, 0, 0, to);
  return QC_OK;
}

/* Clip: bounds are attributes before opset 11, optional scalar inputs after. */
qc_status qc_infer_clip(qc_infer_ctx *c) {
  for (int32_t i = 1; i < 3; i++) {
    if (!qc_infer_input(c, i)) continue;
    QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
    QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, i));
  }
  return qc_infer_same(c);
}

/* Dropout: output; mask (bool from opset 10, the input's type before). */
qc_status qc_infer_dropout(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  if (qc_infer_input(c, 1)) QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 1));
  if (qc_infer_input(c, 2)) {
    QC_RETURN_IF_ERROR(qc_inf_require_bool(c, 2));
    QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 2));
  }
  QC_RETURN_IF_ERROR(qc_infer_same(c));
  same_shape_as(c, 1, 0, qc_inf_version(c) >= 10 ? QC_BOOL : qc_inf_dtype(c, 0));
  return QC_OK;
}

/* RegexFullMatch: string in, bool out. */
qc_status qc_infer_regex(qc_infer_ctx *c) {
  static const qc_dtype s[] = {QC_STRING};
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "string", 1, s));
  same_shape_as(c, 0, 0, QC_BOOL);
  return QC_OK;
}

/* ---- constants and generators ------------------------------------------------------------- */

static void publish_tensor_vals(qc_infer_ctx *c, int32_t out, const qc_tensor *t) {
  if (!t || t->rank > 1 || !qc_dtype_is_int(t->dtype)) return;
  int64_t n = qc_shape_numel(t->rank, t->dims);
  if (n < 0 || n > QC_INF_MAX_VALS || (n > 0 && !qc_tensor_data(t))) return;
  qc_inf_vals v;
  v.rank = t->rank;
  v.n = (int32_t)n;
  for (int32_t i = 0; i < v.n; i++) {
    v.k[i] = QC_INF_INT;
    v.v[i] = qc_elem_i64(t->dtype, qc_tensor_data(t), (size_t)i);
  }
  qc_inf_set_output_vals(c, out, &v);
}

qc_status qc_infer_constant(qc_infer_ctx *c) {
  const qc_node *nd = c->n;
  if (nd->n_attr != 1) {
    if (nd->n_attr > 1)
      return qc_infer_error(c, "exactly one value attribute is allowed, got %d", nd->n_attr);
    return QC_OK;
  }
  const qc_attr *a = &nd->attr[0];
  qc_type t = qc_type_unknown();
  const char *nm = a->name;
  if (strcmp(nm, "value") == 0 && a->kind == QC_ATTR_TENSOR) {
    t = qc_inf_type(a->u.t->dtype, a->u.t->rank, a->u.t->dims);
    publish_tensor_vals(c, 0, a->u.t);
  } else if (strcmp(nm, "value_float") == 0) {
    t = qc_inf_type(QC_F32, 0, NULL);
  } else if (strcmp(nm, "value_floats") == 0) {
    t = qc_inf_type(QC_F32, 1, (int64_t[]){a->n});
  } else if (strcmp(nm, "value_int") == 0 && a->kind == QC_ATTR_INT) {
    t = qc_inf_type(QC_I64, 0, NULL);
    qc_inf_vals v = {.rank = 0, .n = 1, .v = {a->u.i}, .k = {QC_INF_INT}};
    qc_inf_set_output_vals(c, 0, &v);
  } else if (strcmp(nm, "value_ints") == 0 && a->kind == QC_ATTR_INTS) {
    t = qc_inf_type(QC_I64, 1, (int64_t[]){a->n});
    if (a->n <= QC_INF_MAX_VALS) {
      qc_inf_vals v;
      v.rank = 1;
      v.n = a->n;
      for (int32_t i = 0; i < a->n; i++) v.k[i] = QC_INF_INT, v.v[i] = a->u.ints[i];
      qc_inf_set_output_vals(c, 0, &v);
    }
  } else if (strcmp(nm, "value_string") == 0) {
    t = qc_inf_type(QC_STRING, 0, NULL);
  } else if (strcmp(nm, "value_strings") == 0) {
    t = qc_inf_type(QC_STRING, 1, (int64_t[]){a->n});
  } else if (strcmp(nm, "sparse_value") == 0 && a->kind == QC_ATTR_TENSOR) {
    /* An importer that keeps a sparse value as its dense tensor. */
    t = qc_inf_type(a->u.t->dtype, a->u.t->rank, a->u.t->dims);
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* Output of rank n from a 1-D shape input: dims from its known values. */
static qc_type shape_from_input(qc_infer_ctx *c, int32_t i, qc_dtype dt, bool *ok) {
  *ok = true;
  qc_inf_vals v;
  if (qc_inf_input_vals(c, i, &v)) {
    if (v.n > QC_MAX_RANK) return qc_inf_dtype_only(dt);
    qc_type t = qc_inf_ranked(dt, v.n);
    for (int32_t k = 0; k < v.n; k++) {
      if (v.k[k] == QC_INF_INT && v.v[k] < 0) *ok = false;
      t.dims[k] = qc_inf_val_dim(&v, k);
    }
    return t;
  }
  const qc_type *s = qc_infer_input(c, i);
  if (s && s->rank == 1 && s->dims[0] >= 0) return qc_inf_ranked(dt, (int32_t)s->dims[0]);
  return qc_inf_dtype_only(dt);
}

qc_status qc_infer_constant_of_shape(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 1));
  static const qc_dtype i64[] = {QC_I64};
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "i64", 1, i64));
  const qc_attr *a = qc_infer_attr(c, "value");
  qc_dtype dt = a && a->kind == QC_ATTR_TENSOR ? a->u.t->dtype : QC_F32;
  if (a && a->kind == QC_ATTR_TENSOR && qc_shape_numel(a->u.t->rank, a->u.t->dims) != 1)
    return qc_infer_error(c, "attribute 'value' must hold one element");
  bool ok;
  qc_type t = shape_from_input(c, 0, dt, &ok);
  if (!ok) return qc_infer_error(c, "input 0: negative dimension in the shape");
  qc_infer_set_output(c, 0, &t);
  /* values: a small filled integer vector */
  int64_t n = t.rank == 0 ? 1 : t.rank == 1 ? t.dims[0] : -1;
  if (n >= 0 && n <= QC_INF_MAX_VALS && qc_dtype_is_int(dt)) {
    int64_t fill = 0;
    if (a && a->kind == QC_ATTR_TENSOR) {
      if (!qc_tensor_data(a->u.t)) return QC_OK;
      fill = qc_elem_i64(dt, qc_tensor_data(a->u.t), 0);
    }
    qc_inf_vals v = {.rank = t.rank, .n = (int32_t)n};
    for (int32_t i = 0; i < v.n; i++) v.k[i] = QC_INF_INT, v.v[i] = fill;
    qc_inf_set_output_vals(c, 0, &v);
  }
  return QC_OK;
}

qc_status qc_infer_eyelike(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 2));
  qc_dtype dt = qc_inf_dtype(c, 0);
  if (qc_infer_attr(c, "dtype")) QC_RETURN_IF_ERROR(onnx_dtype_attr(c, "dtype", qc_infer_int(c, "dtype", 0), &dt));
  same_shape_as(c, 0, 0, dt);
  return QC_OK;
}

/* RandomNormalLike, RandomUniformLike, Bernoulli: input shape, dtype attribute or input's. */
qc_status qc_infer_random_like(qc_infer_ctx *c) {
  qc_dtype dt = qc_inf_dtype(c, 0);
  if (qc_infer_attr(c, "dtype")) QC_RETURN_IF_ERROR(onnx_dtype_attr(c, "dtype", qc_infer_int(c, "dtype", 0), &dt));
  same_shape_as(c, 0, 0, dt);
  return QC_OK;
}

/* RandomNormal, RandomUniform: shape and dtype attributes. */
qc_status qc_infer_random(qc_infer_ctx *c) {
  qc_dtype dt;
  QC_RETURN_IF_ERROR(onnx_dtype_attr(c, "dtype", qc_infer_int(c, "dtype", 1), &dt));
  int64_t shape[QC_MAX_RANK];
  int32_t n;
  QC_RETURN_IF_ERROR(qc_inf_attr_list(c, "shape", shape, QC_MAX_RANK, &n));
  if (n < 0) {
    qc_type t = qc_inf_dtype_only(dt);
    qc_infer_set_output(c, 0, &t);
    return QC_OK;
  }
  for (int32_t i = 0; i < n; i++)
    if (shape[i] < 0) return qc_infer_error(c, "attribute 'shape': negative dimension %lld", (long long)shape[i]);
  qc_type t = qc_inf_type(dt, n, shape);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_multinomial(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
  QC_RETURN_IF_ERROR(qc_infer_require_rank(c, 0, 2));
  qc_dtype dt;
  QC_RETURN_IF_ERROR(onnx_dtype_attr(c, "dtype", qc_infer_int(c, "dtype", 6), &dt));
  if (dt != QC_I32 && dt != QC_I64)
    return qc_infer_error(c, "attribute 'dtype' must be int32 or int64, got %s", qc_dtype_name(dt));
  qc_type t = qc_inf_type(dt, 2, (int64_t[]){qc_inf_dim(c, 0, 0), qc_infer_int(c, "sample_size", 1)});
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* Range(start, limit, delta): 1-D, ceil((limit - start) / delta) elements when known. */
qc_status qc_infer_range(qc_infer_ctx *c) {
  for (int32_t i = 0; i < 3; i++) {
    QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, i));
    if (i) QC_RETURN_IF_ERROR(qc_infer_require_same_dtype(c, 0, i));
  }
  qc_dtype dt = qc_inf_dtype(c, 0);
  int64_t n = QC_DIM_UNKNOWN;
  double v[3];
  int32_t cnt;
  bool all = true;
  for (int32_t i = 0; i < 3 && all; i++) {
    int64_t iv;
    if (qc_inf_input_ints(c, i, &iv, 1, &cnt) && cnt == 1) v[i] = (double)iv;
    else if (!qc_inf_input_floats(c, i, &v[i], 1, &cnt) || cnt != 1) all = false;
  }
  /* Range(0, dim, 1): as many elements as the (symbolic) dim */
  qc_inf_vals s0, s1, s2;
  if (!all && qc_inf_input_vals(c, 0, &s0) && qc_inf_input_vals(c, 1, &s1) &&
      qc_inf_input_vals(c, 2, &s2) && s0.n == 1 && s1.n == 1 && s2.n == 1 &&
      s0.k[0] == QC_INF_INT && s0.v[0] == 0 && s2.k[0] == QC_INF_INT && s2.v[0] == 1 &&
      s1.k[0] == QC_INF_SYM)
    n = s1.v[0];
  if (all) {
    if (v[2] == 0) return qc_infer_error(c, "delta is zero");
    double len = ceil((v[1] - v[0]) / v[2]);
    n = len > 0 ? qc_inf_dim_from_double(len) : 0;
  }
  qc_type t = qc_inf_type(dt, 1, &n);
  qc_infer_set_output(c, 0, &t);
  if (all && qc_dtype_is_int(dt) && n >= 0 && n <= QC_INF_MAX_VALS && fabs(v[0]) < 0x1p62 &&
      fabs(v[2]) < 0x1p56) {
    qc_inf_vals rv = {.rank = 1, .n = (int32_t)n};
    for (int32_t i = 0; i < rv.n; i++) rv.k[i] = QC_INF_INT, rv.v[i] = (int64_t)v[0] + i * (int64_t)v[2];
    qc_inf_set_output_vals(c, 0, &rv);
  }
  return QC_OK;
}

/* BlackmanWindow, HammingWindow, HannWindow: [size] of output_datatype. */
qc_status qc_infer_window(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_index(c, 0));
  QC_RETURN_IF_ERROR(qc_inf_require_scalarish(c, 0));
  qc_dtype dt;
  QC_RETURN_IF_ERROR(onnx_dtype_attr(c, "output_datatype", qc_infer_int(c, "output_datatype", 1), &dt));
  int64_t n = QC_DIM_UNKNOWN, sz;
  int32_t cnt;
  if (qc_inf_input_ints(c, 0, &sz, 1, &cnt) && cnt == 1) {
    if (sz < 0) return qc_infer_error(c, "size is negative: %lld", (long long)sz);
    n = sz;
  }
  qc_type t = qc_inf_type(dt, 1, &n);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}
