/* Inference rules for the ai.onnx.ml ops, the training ops of ai.onnx.preview.training,
 * and the string ops. Ops on maps and sequences of maps (CastMap, DictVectorizer, ZipMap)
 * stay without a rule: quarc's types do not describe maps. */
#include "infer_ops.h"

static int64_t attr_len(const qc_infer_ctx *c, const char *name) {
  const qc_attr *a = qc_infer_attr(c, name);
  return a ? a->n : -1;
}

/* Output i: input 0's shape with dtype dt. */
static void like_input(qc_infer_ctx *c, int32_t out, qc_dtype dt) {
  const qc_type *x = qc_infer_input(c, 0);
  qc_type t = x ? *x : qc_type_unknown();
  t.kind = QC_TYPE_TENSOR;
  t.dtype = dt;
  qc_infer_set_output(c, out, &t);
}

/* The batch size N of an [N, C] (or [C]) input. */
static int64_t batch_of(const qc_infer_ctx *c) {
  int32_t r = qc_inf_rank(c, 0);
  return r == 1 ? 1 : r >= 2 ? qc_inf_dim(c, 0, 0) : QC_DIM_UNKNOWN;
}

/* Binarizer, Imputer, Scaler (to float), Normalizer (to float). */
qc_status qc_infer_ml_same(qc_infer_ctx *c) {
  qc_op op = c->n->op;
  if (op == QC_OP_ML_Scaler || op == QC_OP_ML_Normalizer) like_input(c, 0, QC_F32);
  else like_input(c, 0, qc_inf_dtype(c, 0));
  return QC_OK;
}

qc_status qc_infer_ml_array_feature_extractor(qc_infer_ctx *c) {
  static const qc_dtype i64[] = {QC_I64};
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 1, "i64", 1, i64));
  const qc_type *x = qc_infer_input(c, 0), *y = qc_infer_input(c, 1);
  qc_dtype dt = qc_inf_dtype(c, 0);
  qc_type t = qc_inf_dtype_only(dt);
  if (x && x->rank >= 0) {
    int64_t n = QC_DIM_UNKNOWN;
    if (y && y->rank >= 0) {
      n = 1;
      for (int32_t i = 0; i < y->rank; i++) n = qc_inf_dim_mul(n, y->dims[i]);
    }
    if (x->rank == 1) {
      t = qc_inf_type(dt, 2, (int64_t[]){1, n});
    } else {
      t = *x;
      t.kind = QC_TYPE_TENSOR;
      t.dims[x->rank - 1] = n;
    }
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_ml_category_mapper(qc_infer_ctx *c) {
  qc_dtype in = qc_inf_dtype(c, 0);
  if (in && in != QC_STRING && in != QC_I64)
    return qc_infer_error(c, "input 0: expected string or i64, got %s", qc_dtype_name(in));
  like_input(c, 0, in == QC_STRING ? QC_I64 : in == QC_I64 ? QC_STRING : QC_DT_UNDEFINED);
  return QC_OK;
}

qc_status qc_infer_ml_label_encoder(qc_infer_ctx *c) {
  qc_dtype dt = QC_DT_UNDEFINED;
  const qc_attr *a;
  if ((a = qc_infer_attr(c, "values_tensor")) && a->kind == QC_ATTR_TENSOR) dt = a->u.t->dtype;
  else if (qc_infer_attr(c, "values_strings")) dt = QC_STRING;
  else if (qc_infer_attr(c, "values_int64s")) dt = QC_I64;
  else if (qc_infer_attr(c, "values_floats")) dt = QC_F32;
  like_input(c, 0, dt);
  return QC_OK;
}

qc_status qc_infer_ml_feature_vectorizer(qc_infer_ctx *c) {
  int64_t dims[64];
  int32_t n;
  int64_t total = QC_DIM_UNKNOWN;
  if (qc_inf_attr_ints(c, "inputdimensions", dims, 64, &n)) {
    total = 0;
    for (int32_t i = 0; i < n; i++) total += dims[i];
  }
  qc_type t = qc_inf_type(QC_F32, 2, (int64_t[]){batch_of(c), total});
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_ml_one_hot_encoder(qc_infer_ctx *c) {
  const qc_type *x = qc_infer_input(c, 0);
  int64_t n = attr_len(c, "cats_int64s");
  if (n < 0) n = attr_len(c, "cats_strings");
  qc_type t = qc_inf_dtype_only(QC_F32);
  if (x && x->rank >= 0 && x->rank < QC_MAX_RANK) {
    t = *x;
    t.kind = QC_TYPE_TENSOR;
    t.dtype = QC_F32;
    t.dims[t.rank++] = n >= 0 ? n : QC_DIM_UNKNOWN;
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* Classifiers: labels [N] (i64 or string), scores [N, classes] float. */
qc_status qc_infer_ml_classifier(qc_infer_ctx *c) {
  qc_op op = c->n->op;
  const char *ints = op == QC_OP_ML_TreeEnsembleClassifier ? "classlabels_int64s" : "classlabels_ints";
  qc_dtype label = qc_infer_attr(c, "classlabels_strings") ? QC_STRING
                 : qc_infer_attr(c, ints) ? QC_I64 : QC_DT_UNDEFINED;
  int64_t n = batch_of(c);
  qc_type y = qc_inf_type(label, 1, &n);
  qc_type z = qc_inf_type(QC_F32, 2, (int64_t[]){n, QC_DIM_UNKNOWN});
  qc_infer_set_output(c, 0, &y);
  qc_infer_set_output(c, 1, &z);
  return QC_OK;
}

/* Regressors: [N, targets] float. */
qc_status qc_infer_ml_regressor(qc_infer_ctx *c) {
  qc_op op = c->n->op;
  int64_t targets = QC_DIM_UNKNOWN;
  qc_dtype dt = QC_F32;
  if (op == QC_OP_ML_LinearRegressor) targets = qc_infer_int(c, "targets", 1);
  else if (op == QC_OP_ML_SVMRegressor) targets = 1;
  else if (qc_infer_attr(c, "n_targets")) targets = qc_infer_int(c, "n_targets", 0);
  if (op == QC_OP_ML_TreeEnsemble) {
    const qc_attr *w = qc_infer_attr(c, "leaf_weights");
    dt = w && w->kind == QC_ATTR_TENSOR ? w->u.t->dtype : qc_inf_dtype(c, 0);
  }
  qc_type t = qc_inf_type(dt, 2, (int64_t[]){batch_of(c), targets});
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

/* ---- training ----------------------------------------------------------------------------------- */

/* Adagrad (R, T, X.., G.., H..) -> (X.., H..); Adam (R, T, X.., G.., V.., H..) -> (X.., V.., H..);
 * Momentum (R, T, X.., G.., V..) -> (X.., V..). Each new value has its old value's type. */
qc_status qc_infer_optimizer(qc_infer_ctx *c) {
  qc_op op = c->n->op;
  int32_t groups_in = op == QC_OP_TR_Adam ? 4 : 3, groups_out = groups_in - 1;
  int32_t n_in = qc_infer_num_inputs(c);
  if ((n_in - 2) % groups_in)
    return qc_infer_error(c, "%d inputs do not form R, T and %d equal groups", n_in, groups_in);
  int32_t k = (n_in - 2) / groups_in;
  if (qc_infer_num_outputs(c) != groups_out * k)
    return qc_infer_error(c, "expected %d outputs, got %d", groups_out * k, qc_infer_num_outputs(c));
  for (int32_t g = 0; g < groups_out; g++)
    for (int32_t i = 0; i < k; i++) {
      int32_t src = 2 + (g == 0 ? 0 : g + 1) * k + i; /* X, then the state groups after G */
      const qc_type *t = qc_infer_input(c, src);
      if (t) qc_infer_set_output(c, g * k + i, t);
    }
  return QC_OK;
}

/* Gradient: output i is d y / d xs[i], of the type of the value named xs[i]. */
qc_status qc_infer_gradient(qc_infer_ctx *c) {
  const qc_attr *xs = qc_infer_attr(c, "xs");
  if (!xs || xs->kind != QC_ATTR_STRINGS) return QC_OK;
  if (xs->n != qc_infer_num_outputs(c))
    return qc_infer_error(c, "xs names %d values for %d outputs", xs->n, qc_infer_num_outputs(c));
  for (int32_t i = 0; i < xs->n; i++) {
    qc_vid v = qc_graph_find(qc_infer_graph(c), xs->u.strs.v[i]);
    if (v < 0) return qc_infer_error(c, "xs[%d]: no value named '%s'", i, xs->u.strs.v[i]);
    qc_infer_set_output(c, i, &qc_graph_value(qc_infer_graph(c), v)->type);
  }
  return QC_OK;
}

/* ---- strings ---------------------------------------------------------------------------------- */

static const qc_dtype STRING_T[] = {QC_STRING};

qc_status qc_infer_string_normalizer(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "string", 1, STRING_T));
  const qc_type *x = qc_infer_input(c, 0);
  qc_type t = qc_inf_dtype_only(QC_STRING);
  if (x && x->rank >= 0) {
    if (x->rank != 1 && !(x->rank == 2 && (x->dims[0] == 1 || x->dims[0] < 0)))
      return qc_infer_error(c, "input 0: expected shape [C] or [1, C]");
    t = *x;
    t.kind = QC_TYPE_TENSOR;
    /* stopwords may remove elements (an empty result keeps one empty string) */
    if (qc_infer_attr(c, "stopwords")) t.dims[t.rank - 1] = QC_DIM_UNKNOWN;
  }
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}

qc_status qc_infer_string_split(qc_infer_ctx *c) {
  QC_RETURN_IF_ERROR(qc_inf_require_dtypes(c, 0, "string", 1, STRING_T));
  const qc_type *x = qc_infer_input(c, 0);
  qc_type y = qc_inf_dtype_only(QC_STRING);
  if (x && x->rank >= 0 && x->rank < QC_MAX_RANK) {
    y = *x;
    y.kind = QC_TYPE_TENSOR;
    y.dims[y.rank++] = QC_DIM_UNKNOWN;
  }
  qc_infer_set_output(c, 0, &y);
  like_input(c, 1, QC_I64);
  return QC_OK;
}

qc_status qc_infer_tfidf(qc_infer_ctx *c) {
  qc_dtype in = qc_inf_dtype(c, 0);
  if (in && in != QC_STRING && in != QC_I32 && in != QC_I64)
    return qc_infer_error(c, "input 0: expected string, i32 or i64, got %s", qc_dtype_name(in));
  const qc_attr *a = qc_infer_attr(c, "ngram_indexes");
  int64_t n = QC_DIM_UNKNOWN;
  if (a && a->kind == QC_ATTR_INTS) {
    n = 0;
    for (int32_t i = 0; i < a->n; i++)
      if (a->u.ints[i] + 1 > n) n = a->u.ints[i] + 1;
  }
  int32_t r = qc_inf_rank(c, 0);
  qc_type t = qc_inf_dtype_only(QC_F32);
  if (r == 1) t = qc_inf_type(QC_F32, 1, &n);
  else if (r == 2) t = qc_inf_type(QC_F32, 2, (int64_t[]){qc_inf_dim(c, 0, 0), n});
  else if (r >= 0) return qc_infer_error(c, "input 0: expected rank 1 or 2, got %d", r);
  qc_infer_set_output(c, 0, &t);
  return QC_OK;
}
