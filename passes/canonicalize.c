/* canonicalize: local simplifications as pattern -> callback rules (quarc/rewrite.h),
 * applied to a fixpoint:
 *
 *   constant-node      Constant node -> a constant (value, value_float(s), value_int(s),
 *                      value_string(s))
 *   identity           Identity(x) -> x (kept where it gives a graph output its name and x
 *                      cannot take that name: a graph input, another output)
 *   mul-one, add-zero, sub-zero, div-one
 *                      x*1, x+0, x-0, x/1 -> x when the constant neither broadcasts x to a
 *                      larger shape nor changes its dtype (x+0 may turn -0.0 into +0.0)
 *   transpose-transpose  Transpose(Transpose(x, p1), p2) -> Transpose(x, p1∘p2), or x
 *   transpose-identity   Transpose(x, identity permutation) -> x
 *   reshape-reshape    Reshape(Reshape(x, s1), s2) -> Reshape(x, s2) (s2 constant, without
 *                      0 entries that would copy from the intermediate shape)
 *   reshape-noop       Reshape(x, s) -> x when x's static shape is already s
 *   cast-same          Cast(x, to=dtype of x) -> x
 *   unsqueeze-squeeze, squeeze-unsqueeze
 *                      Unsqueeze(Squeeze(x, a), a) and Squeeze(Unsqueeze(x, a), a) -> x
 *   dropout-inference  Dropout(x) in inference mode with an unused mask -> Identity(x)
 */
#include "passes/internal.h"
#include "quarc/rewrite.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- helpers ----------------------------------------------------------------------------- */

static const qc_type *type_of(const qc_graph *g, qc_vid v) { return &qc_graph_value(g, v)->type; }

/* An int list from attribute `name` or, failing that, constant input `slot` (ops moved
 * `axes`/`perm`-like attributes to inputs in later opsets). Returns 1 found, 0 absent,
 * -1 present but unknown (a non-constant input) or malformed. */
static int int_list(const qc_graph *g, qc_nid n, const char *name, int32_t slot, int64_t *out,
                    int32_t *count) {
  const qc_attr *a = qc_node_attr(g, n, name);
  if (a && a->kind == QC_ATTR_INTS) {
    if (a->n > QC_MAX_RANK * 2) return -1;
    for (int32_t i = 0; i < a->n; i++) out[i] = a->u.ints[i];
    *count = a->n;
    return 1;
  }
  const qc_node *nd = qc_graph_node(g, n);
  if (slot < 0 || slot >= nd->n_in || nd->in[slot] < 0) return 0;
  const qc_value *v = qc_graph_value(g, nd->in[slot]);
  if (v->kind != QC_VALUE_CONST || !qc_dtype_is_int(v->cst.dtype) || v->cst.rank > 1) return -1;
  int64_t k = qc_tensor_numel(&v->cst);
  if (k > QC_MAX_RANK * 2) return -1;
  for (int64_t i = 0; i < k; i++) out[i] = qc_elem_i64(v->cst.dtype, qc_tensor_data(&v->cst), (size_t)i);
  *count = (int32_t)k;
  return 1;
}

/* Normalize axes against rank r into a sorted set; false if out of range or repeated. */
static bool norm_axes(int64_t *axes, int32_t k, int32_t r) {
  for (int32_t i = 0; i < k; i++) {
    int32_t a;
    if (!qc_norm_axis(axes[i], r, &a)) return false;
    axes[i] = a;
  }
  for (int32_t i = 1; i < k; i++)
    for (int32_t j = i; j > 0 && axes[j - 1] > axes[j]; j--) {
      int64_t t = axes[j];
      axes[j] = axes[j - 1];
      axes[j - 1] = t;
    }
  for (int32_t i = 1; i < k; i++)
    if (axes[i] == axes[i - 1]) return false;
  return true;
}

static qc_status replace_if_possible(qc_rewriter *rw, qc_vid from, qc_vid to) {
  if (!qc_rewriter_can_replace(rw, from, to)) return QC_OK;
  return qc_rewriter_replace(rw, from, to);
}

/* ---- constant-node ---------------------------------------------------------------------- */

static qc_status const_tensor(const qc_graph *g, qc_nid n, qc_tensor *t, bool *ok) {
  const qc_allocator *al = qc_graph_allocator(g);
  const qc_node *nd = qc_graph_node(g, n);
  *ok = false;
  if (nd->n_attr != 1) return QC_OK; /* none, or several (invalid): leave it to the verifier */
  const qc_attr *a = &nd->attr[0];
  int64_t len = a->n;
  switch (a->kind) {
  case QC_ATTR_TENSOR:
    if (strcmp(a->name, "value") != 0 || !a->u.t) return QC_OK;
    qc_tensor_copy_ref(t, a->u.t);
    break;
  case QC_ATTR_FLOAT:
  case QC_ATTR_FLOATS: {
    bool list = a->kind == QC_ATTR_FLOATS;
    QC_RETURN_IF_ERROR(qc_tensor_alloc(t, al, QC_F32, list ? 1 : 0, &len));
    float *p = qc_tensor_data(t);
    for (int64_t i = 0; i < (list ? len : 1); i++) p[i] = (float)(list ? a->u.floats[i] : a->u.f);
    break;
  }
  case QC_ATTR_INT:
  case QC_ATTR_INTS: {
    bool list = a->kind == QC_ATTR_INTS;
    QC_RETURN_IF_ERROR(qc_tensor_alloc(t, al, QC_I64, list ? 1 : 0, &len));
    int64_t *p = qc_tensor_data(t);
    for (int64_t i = 0; i < (list ? len : 1); i++) p[i] = list ? a->u.ints[i] : a->u.i;
    break;
  }
  case QC_ATTR_STRING:
  case QC_ATTR_STRINGS: {
    bool list = a->kind == QC_ATTR_STRINGS;
    QC_RETURN_IF_ERROR(qc_tensor_alloc(t, al, QC_STRING, list ? 1 : 0, &len));
    char **p = qc_tensor_data(t);
    for (int64_t i = 0; i < (list ? len : 1); i++) {
      const char *s = list ? a->u.strs.v[i] : a->u.s;
      size_t sl = (size_t)(list ? a->u.strs.len[i] : a->n);
      /* Owned strings are malloc'd (qc_buffer_set_owns_strings). */
      p[i] = malloc(sl + 1);
      if (!p[i]) {
        qc_tensor_release(t);
        return QC_OOM();
      }
      memcpy(p[i], s, sl);
      p[i][sl] = 0;
    }
    break;
  }
  default: return QC_OK; /* sparse_value: not represented */
  }
  *ok = true;
  return QC_OK;
}

static qc_status constant_node(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  qc_tensor t;
  bool ok;
  QC_RETURN_IF_ERROR(const_tensor(g, m->node, &t, &ok));
  if (!ok) return QC_OK;
  qc_vid c;
  qc_status s = qc_graph_add_const(g, NULL, &t, &c);
  qc_tensor_release(&t);
  QC_RETURN_IF_ERROR(s);
  return qc_rewriter_replace_named(rw, m->cap[0], c);
}

/* ---- identity ---------------------------------------------------------------------------- */

static qc_status identity(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  return replace_if_possible(rw, m->cap[0], m->cap[1]);
}

/* ---- x*1, x+0, x-0, x/1 ------------------------------------------------------------------ */

/* Slots: 0 the result, 1 x, 2 the neutral constant. */
static qc_status neutral_element(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  const qc_type *x = type_of(g, m->cap[1]);
  const qc_tensor *c = &qc_graph_value(g, m->cap[2])->cst;
  if (x->kind != QC_TYPE_TENSOR || x->dtype != c->dtype) return QC_OK;
  if (c->rank > 0) {
    if (x->rank < c->rank) return QC_OK;
    for (int32_t i = 0; i < c->rank; i++) {
      int64_t cd = c->dims[c->rank - 1 - i], xd = x->dims[x->rank - 1 - i];
      if (cd != 1 && cd != xd) return QC_OK;
    }
  }
  return replace_if_possible(rw, m->cap[0], m->cap[1]);
}

/* ---- transposes -------------------------------------------------------------------------- */

/* The permutation of Transpose node n for rank r (absent: reversal). False if malformed. */
static bool transpose_perm(const qc_graph *g, qc_nid n, int32_t r, int64_t *perm) {
  const qc_attr *a = qc_node_attr(g, n, "perm");
  if (!a) {
    for (int32_t i = 0; i < r; i++) perm[i] = r - 1 - i;
    return true;
  }
  if (a->kind != QC_ATTR_INTS || a->n != r) return false;
  uint32_t seen = 0;
  for (int32_t i = 0; i < r; i++) {
    if (a->u.ints[i] < 0 || a->u.ints[i] >= r || (seen >> a->u.ints[i] & 1)) return false;
    seen |= 1u << a->u.ints[i];
    perm[i] = a->u.ints[i];
  }
  return true;
}

/* The rank a Transpose works at: its perm's length, else its input's rank; -1 unknown. */
static int32_t transpose_rank(const qc_graph *g, qc_nid n) {
  const qc_attr *a = qc_node_attr(g, n, "perm");
  if (a && a->kind == QC_ATTR_INTS) return a->n <= QC_MAX_RANK ? a->n : -1;
  return type_of(g, qc_graph_node(g, n)->in[0])->rank;
}

static bool is_identity_perm(const int64_t *p, int32_t r) {
  for (int32_t i = 0; i < r; i++)
    if (p[i] != i) return false;
  return true;
}

/* Slots: 0 outer result, 1 inner result, 2 x. */
static qc_status transpose_transpose(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  qc_nid outer = m->cap_node[0], inner = m->cap_node[1];
  bool outer_rev = !qc_node_attr(g, outer, "perm"), inner_rev = !qc_node_attr(g, inner, "perm");
  if (outer_rev && inner_rev) return replace_if_possible(rw, m->cap[0], m->cap[2]);
  int32_t r = transpose_rank(g, outer);
  if (r < 0) r = transpose_rank(g, inner);
  if (r < 0 || r > QC_MAX_RANK) return QC_OK;
  int64_t p1[QC_MAX_RANK], p2[QC_MAX_RANK], c[QC_MAX_RANK];
  if (!transpose_perm(g, inner, r, p1) || !transpose_perm(g, outer, r, p2)) return QC_OK;
  /* y1[i] = x[p1[i]], y2[i] = y1[p2[i]] = x[p1[p2[i]]]. */
  for (int32_t i = 0; i < r; i++) c[i] = p1[p2[i]];
  if (is_identity_perm(c, r)) return replace_if_possible(rw, m->cap[0], m->cap[2]);
  QC_RETURN_IF_ERROR(qc_node_set_ints(g, outer, "perm", r, c));
  return qc_rewriter_set_input(rw, outer, 0, m->cap[2]);
}

static qc_status transpose_identity(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  int32_t r = transpose_rank(g, m->node);
  int64_t p[QC_MAX_RANK];
  if (r < 0 || r > QC_MAX_RANK || !transpose_perm(g, m->node, r, p)) return QC_OK;
  /* Rank 0 and 1 reversals are identities too. */
  if (!is_identity_perm(p, r)) return QC_OK;
  return replace_if_possible(rw, m->cap[0], m->cap[1]);
}

/* ---- reshapes ------------------------------------------------------------------------------ */

/* Slots: 0 outer result, 1 inner result, 2 x, 3 the outer shape (constant). */
static qc_status reshape_reshape(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  const qc_tensor *s = &qc_graph_value(g, m->cap[3])->cst;
  if (s->dtype != QC_I64 || s->rank != 1) return QC_OK;
  if (!qc_node_int(g, m->cap_node[0], "allowzero", 0)) {
    /* A 0 copies a dimension of the intermediate shape, which x does not have. */
    for (int64_t i = 0; i < s->dims[0]; i++)
      if (((const int64_t *)qc_tensor_data(s))[i] == 0) return QC_OK;
  }
  return qc_rewriter_set_input(rw, m->cap_node[0], 0, m->cap[2]);
}

/* Slots: 0 result, 1 x, 2 the shape (constant). */
static qc_status reshape_noop(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  const qc_type *x = type_of(g, m->cap[1]);
  const qc_tensor *s = &qc_graph_value(g, m->cap[2])->cst;
  if (!qc_type_is_static(x) || s->dtype != QC_I64 || s->rank != 1 || s->dims[0] != x->rank)
    return QC_OK;
  bool allowzero = qc_node_int(g, m->node, "allowzero", 0) != 0;
  const int64_t *d = qc_tensor_data(s);
  int32_t minus_one = -1;
  for (int32_t i = 0; i < x->rank; i++) {
    if (d[i] == x->dims[i]) continue;
    if (d[i] == 0 && !allowzero) continue; /* copies x's dim i */
    if (d[i] == -1 && minus_one < 0) {
      minus_one = i;
      continue;
    }
    return QC_OK;
  }
  /* With every other dim equal, a single -1 can only be x's own dim (equal element counts),
   * unless another dim is 0 and makes it ambiguous. */
  if (minus_one >= 0)
    for (int32_t i = 0; i < x->rank; i++)
      if (x->dims[i] == 0) return QC_OK;
  return replace_if_possible(rw, m->cap[0], m->cap[1]);
}

/* ---- cast ------------------------------------------------------------------------------- */

static qc_status cast_same(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  const qc_type *x = type_of(g, m->cap[1]);
  qc_dtype to = qc_dtype_from_onnx((int)qc_node_int(g, m->node, "to", 0));
  if (x->kind != QC_TYPE_TENSOR || to == QC_DT_UNDEFINED || x->dtype != to) return QC_OK;
  return replace_if_possible(rw, m->cap[0], m->cap[1]);
}

/* ---- squeeze / unsqueeze ---------------------------------------------------------------- */

/* Slots: 0 Unsqueeze result, 1 Squeeze result, 2 x. */
static qc_status unsqueeze_squeeze(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  const qc_type *x = type_of(g, m->cap[2]);
  int32_t r = x->rank;
  if (r < 0) return QC_OK;
  int64_t a[QC_MAX_RANK * 2], b[QC_MAX_RANK * 2];
  int32_t na = 0, nb = 0;
  int fa = int_list(g, m->cap_node[1], "axes", 1, a, &na);
  if (fa < 0) return QC_OK;
  if (fa == 0) {
    /* Squeeze without axes drops every dim of size 1: x's shape must say which. */
    for (int32_t i = 0; i < r; i++) {
      if (x->dims[i] < 0) return QC_OK;
      if (x->dims[i] == 1) a[na++] = i;
    }
  }
  if (int_list(g, m->cap_node[0], "axes", 1, b, &nb) != 1 || na != nb) return QC_OK;
  if (!norm_axes(a, na, r) || !norm_axes(b, nb, r)) return QC_OK;
  for (int32_t i = 0; i < na; i++)
    if (a[i] != b[i]) return QC_OK;
  return replace_if_possible(rw, m->cap[0], m->cap[2]);
}

/* Slots: 0 Squeeze result, 1 Unsqueeze result, 2 x. */
static qc_status squeeze_unsqueeze(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  const qc_type *x = type_of(g, m->cap[2]);
  if (x->rank < 0) return QC_OK;
  int64_t a[QC_MAX_RANK * 2], b[QC_MAX_RANK * 2];
  int32_t na = 0, nb = 0;
  if (int_list(g, m->cap_node[1], "axes", 1, b, &nb) != 1) return QC_OK;
  int32_t r = x->rank + nb; /* rank between the two */
  if (r > QC_MAX_RANK || !norm_axes(b, nb, r)) return QC_OK;
  int fa = int_list(g, m->cap_node[0], "axes", 1, a, &na);
  if (fa < 0) return QC_OK;
  if (fa == 0) {
    /* Squeeze of every size-1 dim cancels only if x itself has none. */
    for (int32_t i = 0; i < x->rank; i++)
      if (x->dims[i] < 0 || x->dims[i] == 1) return QC_OK;
    return replace_if_possible(rw, m->cap[0], m->cap[2]);
  }
  if (na != nb || !norm_axes(a, na, r)) return QC_OK;
  for (int32_t i = 0; i < na; i++)
    if (a[i] != b[i]) return QC_OK;
  return replace_if_possible(rw, m->cap[0], m->cap[2]);
}

/* ---- dropout ---------------------------------------------------------------------------- */

static qc_status dropout_inference(qc_rewriter *rw, const qc_match *m, void *user) {
  (void)user;
  qc_graph *g = qc_rewriter_graph(rw);
  const qc_node *nd = qc_graph_node(g, m->node);
  if (nd->n_in >= 3 && nd->in[2] >= 0) {
    const qc_value *tm = qc_graph_value(g, nd->in[2]);
    if (tm->kind != QC_VALUE_CONST || !qc_tensor_is_splat(&tm->cst, 0.0)) return QC_OK;
  }
  if (nd->n_out >= 2 && nd->out[1] >= 0 && qc_rewriter_use_count(rw, nd->out[1]) != 0)
    return QC_OK; /* the mask is used */
  qc_vid x = nd->in[0], y = nd->out[0], id;
  char *name = NULL;
  if (*nd->name) {
    size_t n = strlen(nd->name) + 16;
    name = malloc(n);
    if (!name) return QC_OOM();
    snprintf(name, n, "%s.identity", nd->name);
  }
  qc_status s = qc_graph_add_op(g, QC_OP_Identity, name, 1, &x, NULL, &id);
  free(name);
  QC_RETURN_IF_ERROR(s);
  return qc_rewriter_replace_named(rw, y, id);
}

/* ---- the rule table ------------------------------------------------------------------------- */

#define ANY(c) QC_PAT_ANY_VALUE(c)

static const qc_rewrite_rule RULES[] = {
    {"constant-node", QC_PAT_NODE(QC_OP_Constant, 0), constant_node, NULL},
    {"identity", QC_PAT_OP1(QC_OP_Identity, 0, ANY(1)), identity, NULL},
    {"mul-one", QC_PAT_OP2(QC_OP_Mul, 0, ANY(1), QC_PAT_SPLAT_OF(2, 1.0)), neutral_element, NULL},
    {"add-zero", QC_PAT_OP2(QC_OP_Add, 0, ANY(1), QC_PAT_SPLAT_OF(2, 0.0)), neutral_element, NULL},
    {"sub-zero", QC_PAT_OP2(QC_OP_Sub, 0, ANY(1), QC_PAT_SPLAT_OF(2, 0.0)), neutral_element, NULL},
    {"div-one", QC_PAT_OP2(QC_OP_Div, 0, ANY(1), QC_PAT_SPLAT_OF(2, 1.0)), neutral_element, NULL},
    {"transpose-transpose", QC_PAT_OP1(QC_OP_Transpose, 0, QC_PAT_OP1(QC_OP_Transpose, 1, ANY(2))),
     transpose_transpose, NULL},
    {"transpose-identity", QC_PAT_OP1(QC_OP_Transpose, 0, ANY(1)), transpose_identity, NULL},
    {"reshape-reshape",
     QC_PAT_OP2(QC_OP_Reshape, 0, QC_PAT_OP2(QC_OP_Reshape, 1, ANY(2), NULL), QC_PAT_ANY_CONST(3)),
     reshape_reshape, NULL},
    {"reshape-noop", QC_PAT_OP2(QC_OP_Reshape, 0, ANY(1), QC_PAT_ANY_CONST(2)), reshape_noop, NULL},
    {"cast-same", QC_PAT_OP1(QC_OP_Cast, 0, ANY(1)), cast_same, NULL},
    {"unsqueeze-squeeze",
     QC_PAT_OP_MORE(QC_OP_Unsqueeze, 0, QC_PAT_OP_MORE(QC_OP_Squeeze, 1, ANY(2))),
     unsqueeze_squeeze, NULL},
    {"squeeze-unsqueeze",
     QC_PAT_OP_MORE(QC_OP_Squeeze, 0, QC_PAT_OP_MORE(QC_OP_Unsqueeze, 1, ANY(2))),
     squeeze_unsqueeze, NULL},
    {"dropout-inference", QC_PAT_NODE(QC_OP_Dropout, 0), dropout_inference, NULL},
};

static qc_status run_canonicalize(qc_graph *g, const qc_pass_args *args, void *user) {
  (void)user;
  int64_t max = qc_pass_arg_int(args, "max-iterations");
  if (max < 1 || max > INT32_MAX)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "max-iterations must be at least 1, got %lld",
                         (long long)max);
  qc_rewrite_options o = {.max_iterations = (int32_t)max};
  return qc_rewrite_apply(g, RULES, (int32_t)(sizeof RULES / sizeof RULES[0]), &o, NULL);
}

static const qc_pass_option CANON_OPTIONS[] = {
    {"max-iterations", QC_OPT_INT, "10", "sweeps over the graph before giving up on a fixpoint"},
};

const qc_pass_info qc_pass_canonicalize = {
    "canonicalize", "simplify local patterns (identities, neutral elements, transpose and "
                    "reshape chains, ...) to a fixpoint",
    CANON_OPTIONS, 1, run_canonicalize, NULL};
