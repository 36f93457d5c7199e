/*
 * Layers in Quark's sense, found in a graph (passes/quant/qpass.h): the nodes Quark would
 * have replaced by a QuantLinear / QuantConv2d / QuantEmbedding, with the tensors their
 * quantizers see.
 *
 *   Linear     MatMul(x, W') or Gemm(x, W', b) where W' is a constant reached through
 *              Transpose / Cast / Identity / quarc.Observe (HF graphs: MatMul(x, Transpose(W))
 *              with W [out, in]); W' may also be quarc.DequantizePacked of a constant (a
 *              pre-quantized checkpoint): the quantizer then sees the dequantized weight.
 *   Conv2d     Conv with a rank-4 constant weight; ConvTranspose2d likewise
 *   Embedding  Gather(table, ids) of a rank-2 constant table
 *
 * A Linear's bias is the constant added to its output (Add after the MatMul; Gemm's C),
 * and its output is the value after that Add, as Quark's output quantizer sees F.linear's
 * result. Quark's layer name is the weight's name without ".weight"; a weight shared by
 * several layers (tied embeddings) names none of them, and they take their node names
 * ("lm_head").
 */
#include "passes/quant/qpass.h"
#include "passes/quant/quant_internal.h"

#include "ir/internal.h"
#include "runtime/k_qc.h"

#include <stdio.h>
#include <stdlib.h>

const char *qc_qsite_type_name(qc_qlayer_type t) {
  const char *n = qc_qlayer_type_name(t);
  return n ? n : "other";
}

void qc_qsites_free(qc_qsite *s, int32_t n) {
  for (int32_t i = 0; i < n; i++) free(s[i].name);
  free(s);
}

static bool is_swap_2d(const qc_graph *g, qc_nid n) {
  const qc_attr *perm = qc_node_attr(g, n, "perm");
  if (!perm) {
    const qc_value *x = qc_graph_value(g, qc_graph_node(g, n)->in[0]);
    return x->type.rank == 2;
  }
  return perm->kind == QC_ATTR_INTS && perm->n == 2 && perm->u.ints[0] == 1 && perm->u.ints[1] == 0;
}

/* Walk the weight chain that ends in input `slot` of node `node`. */
static bool walk_weight(const qc_graph *g, qc_nid node, int32_t slot, bool transposed,
                        qc_qsite *s) {
  qc_nid user = node;
  int32_t uslot = slot;
  qc_vid v = qc_graph_node(g, node)->in[slot];
  for (int guard = 0; guard < 16 && v >= 0; guard++) {
    const qc_value *val = qc_graph_value(g, v);
    if (val->kind == QC_VALUE_CONST) {
      if (!qc_dtype_is_float(val->type.dtype) || qc_dtype_is_block(val->type.dtype)) return false;
      s->weight = s->weight_const = v;
      break;
    }
    if (val->kind != QC_VALUE_NODE) return false;
    const qc_node *d = qc_graph_node(g, val->node);
    if (d->op == QC_OP_Q_DequantizePacked) {
      qc_vid q = d->in[0];
      if (q < 0 || qc_graph_value(g, q)->kind != QC_VALUE_CONST) return false;
      s->weight = v;
      s->weight_const = q;
      break;
    }
    if (d->op == QC_OP_Transpose) {
      if (!is_swap_2d(g, val->node)) return false;
      transposed = !transposed;
    } else if (d->op == QC_OP_Cast) {
      qc_dtype to = qc_dtype_from_onnx((int)qc_node_int(g, val->node, "to", 0));
      if (!qc_dtype_is_float(to)) return false;
    } else if (d->op != QC_OP_Identity && d->op != QC_OP_Q_Observe) {
      return false;
    }
    user = val->node;
    uslot = 0;
    v = d->in[0];
  }
  if (s->weight < 0) return false;
  s->weight_user = user;
  s->weight_slot = uslot;
  s->weight_transposed = transposed;
  return true;
}

/* A constant reached from input `slot` of `node` through Cast / Identity. */
static qc_vid walk_const(const qc_graph *g, qc_nid node, int32_t slot, qc_nid *user,
                         int32_t *uslot) {
  *user = node;
  *uslot = slot;
  qc_vid v = qc_graph_node(g, node)->in[slot];
  for (int guard = 0; guard < 8 && v >= 0; guard++) {
    const qc_value *val = qc_graph_value(g, v);
    if (val->kind == QC_VALUE_CONST) return qc_dtype_is_float(val->type.dtype) ? v : QC_NONE;
    if (val->kind != QC_VALUE_NODE) return QC_NONE;
    const qc_node *d = qc_graph_node(g, val->node);
    if (d->op != QC_OP_Cast && d->op != QC_OP_Identity && d->op != QC_OP_Q_Observe)
      return QC_NONE;
    *user = val->node;
    *uslot = 0;
    v = d->in[0];
  }
  return QC_NONE;
}

/* The bias Add after a MatMul: its output's only use is an Add with a constant [out]. */
static void find_bias(const qc_graph *g, const qc_uses *u, qc_qsite *s, int64_t n_out) {
  qc_vid y = qc_graph_node(g, s->node)->out[0];
  if (qc_uses_count(u, y) != 1) return;
  qc_use use = u->use[u->start[y]];
  if (use.node < 0 || use.slot < 0) return;
  const qc_node *a = qc_graph_node(g, use.node);
  if (a->op != QC_OP_Add || a->n_in != 2) return;
  qc_nid bu;
  int32_t bs;
  qc_vid b = walk_const(g, use.node, 1 - use.slot, &bu, &bs);
  if (b < 0) return;
  const qc_type *bt = &qc_graph_value(g, b)->type;
  if (bt->rank != 1 || bt->dims[0] != n_out) return;
  s->bias = b;
  s->bias_user = bu;
  s->bias_slot = bs;
  s->out = a->out[0];
}

static bool site_of(const qc_graph *g, const qc_uses *u, qc_nid n, qc_qsite *s) {
  const qc_node *nd = qc_graph_node(g, n);
  memset(s, 0, sizeof *s);
  s->node = n;
  s->weight = s->weight_const = s->bias = QC_NONE;
  s->weight_user = s->bias_user = QC_NONE;
  s->x_slot = 0;
  if (nd->n_out < 1 || nd->out[0] < 0) return false;
  s->out = nd->out[0];
  switch (nd->op) {
  case QC_OP_MatMul: {
    if (nd->n_in != 2 || !walk_weight(g, n, 1, true, s)) return false;
    const qc_type *wt = &qc_graph_value(g, s->weight)->type;
    if (wt->rank != 2) return false;
    s->type = QC_QLAYER_LINEAR;
    find_bias(g, u, s, wt->dims[s->weight_transposed ? 1 : 0]);
    return true;
  }
  case QC_OP_Gemm: {
    bool tb = qc_node_int(g, n, "transB", 0) != 0;
    if (qc_node_int(g, n, "transA", 0) != 0) return false;
    if (nd->n_in < 2 || !walk_weight(g, n, 1, !tb, s)) return false;
    if (qc_graph_value(g, s->weight)->type.rank != 2) return false;
    s->type = QC_QLAYER_LINEAR;
    if (nd->n_in > 2 && nd->in[2] >= 0) s->bias = walk_const(g, n, 2, &s->bias_user, &s->bias_slot);
    return true;
  }
  case QC_OP_Conv:
  case QC_OP_ConvTranspose: {
    if (nd->n_in < 2 || !walk_weight(g, n, 1, false, s)) return false;
    if (qc_graph_value(g, s->weight)->type.rank != 4 || s->weight_transposed) return false;
    s->type = nd->op == QC_OP_Conv ? QC_QLAYER_CONV2D : QC_QLAYER_CONV_TRANSPOSE2D;
    if (nd->n_in > 2 && nd->in[2] >= 0) s->bias = walk_const(g, n, 2, &s->bias_user, &s->bias_slot);
    return true;
  }
  case QC_OP_Gather: {
    if (qc_node_int(g, n, "axis", 0) != 0) return false;
    if (!walk_weight(g, n, 0, false, s) || s->weight_transposed) return false;
    if (qc_graph_value(g, s->weight)->type.rank != 2) return false;
    s->type = QC_QLAYER_EMBEDDING;
    s->x_slot = -1;
    return true;
  }
  default:
    return false;
  }
}

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

qc_status qc_qsites_find(const qc_graph *g, qc_qsite **out, int32_t *n_out) {
  *out = NULL;
  *n_out = 0;
  qc_uses u;
  QC_RETURN_IF_ERROR(qc_uses_compute(g, &u));
  int32_t nn = qc_graph_num_nodes(g), n = 0;
  qc_qsite *s = calloc((size_t)(nn ? nn : 1), sizeof *s);
  if (!s) {
    qc_uses_free(g, &u);
    return QC_OOM();
  }
  for (qc_nid i = 0; i < nn; i++)
    if (!qc_graph_node(g, i)->dead && site_of(g, &u, i, &s[n])) n++;
  qc_uses_free(g, &u);
  /* Names: the weight's name without ".weight" when the weight is this layer's alone. */
  qc_strmap taken;
  qc_strmap_init(&taken, qc_allocator_default());
  qc_status st = QC_OK;
  for (int32_t i = 0; i < n && !st; i++) {
    int shared = 0;
    for (int32_t j = 0; j < n; j++) shared += s[j].weight_const == s[i].weight_const;
    const char *wname = qc_graph_value(g, s[i].weight_const)->name;
    const char *nname = qc_graph_node(g, s[i].node)->name;
    char base[1024];
    if (shared == 1 && ends_with(wname, ".weight"))
      snprintf(base, sizeof base, "%.*s", (int)(strlen(wname) - 7), wname);
    else if (nname && *nname)
      snprintf(base, sizeof base, "%s", nname);
    else
      snprintf(base, sizeof base, "%s", wname);
    char name[1100];
    snprintf(name, sizeof name, "%s", base);
    for (int k = 1; qc_strmap_get(&taken, name) >= 0; k++)
      snprintf(name, sizeof name, "%s#%d", base, k);
    s[i].name = strdup(name);
    if (!s[i].name || !qc_strmap_put(&taken, s[i].name, i)) st = QC_OOM();
  }
  qc_strmap_free(&taken);
  if (st) {
    qc_qsites_free(s, n);
    return st;
  }
  *out = s;
  *n_out = n;
  return QC_OK;
}

/* ---- small graph helpers -------------------------------------------------------------------- */

char *qc_qunique_name(const qc_graph *g, const char *base) {
  size_t n = strlen(base) + 24;
  char *p = malloc(n);
  if (!p) return NULL;
  snprintf(p, n, "%s", base);
  for (int k = 1; qc_graph_find(g, p) >= 0; k++) snprintf(p, n, "%s.%d", base, k);
  return p;
}

qc_status qc_qadd_const(qc_graph *g, const char *base, const qc_tensor *t, qc_vid *out) {
  char *name = qc_qunique_name(g, base);
  if (!name) return QC_OOM();
  qc_status s = qc_graph_add_const(g, name, t, out);
  free(name);
  return s;
}

qc_status qc_qtensor_f32(const qc_tensor *t, float **out) {
  int64_t n = qc_tensor_numel(t);
  *out = NULL;
  if (!qc_dtype_is_float(t->dtype) || qc_dtype_is_block(t->dtype))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "expected a float tensor, got %s",
                         qc_dtype_name(t->dtype));
  float *f = malloc(sizeof *f * (size_t)(n ? n : 1));
  if (!f) return QC_OOM();
  qc_convert_to_f32(t->dtype, qc_tensor_data(t), f, (size_t)n);
  *out = f;
  return QC_OK;
}

bool qc_qvalue_is_constlike(const qc_graph *g, qc_vid v) {
  if (v < 0) return false;
  const qc_value *val = qc_graph_value(g, v);
  if (val->kind == QC_VALUE_CONST) return true;
  if (val->kind != QC_VALUE_NODE) return false;
  const qc_node *d = qc_graph_node(g, val->node);
  if (d->op != QC_OP_Q_DequantizePacked) return false;
  for (int32_t i = 0; i < d->n_in; i++)
    if (d->in[i] >= 0 && qc_graph_value(g, d->in[i])->kind != QC_VALUE_CONST) return false;
  return true;
}

/* Collect the nodes v depends on (all must bottom out in constants); false otherwise. */
static bool cone(const qc_graph *g, qc_vid v, uint8_t *in_cone, int depth) {
  const qc_value *val = qc_graph_value(g, v);
  if (val->kind == QC_VALUE_CONST) return true;
  if (val->kind != QC_VALUE_NODE || depth > 64) return false;
  if (in_cone[val->node]) return true;
  const qc_node *d = qc_graph_node(g, val->node);
  if (qc_op_schema_of(d->op)->flags & (QC_OPF_RANDOM | QC_OPF_SUBGRAPH)) return false;
  for (int32_t i = 0; i < d->n_in; i++)
    if (d->in[i] >= 0 && !cone(g, d->in[i], in_cone, depth + 1)) return false;
  in_cone[val->node] = 1;
  return true;
}

qc_status qc_qgraph_like(const qc_graph *g, qc_graph **out) {
  *out = NULL;
  qc_graph *one = NULL;
  qc_status s = qc_graph_create(NULL, &one);
  for (int32_t i = 0; !s && i < qc_graph_num_opsets(g); i++) {
    const char *d;
    int64_t ver;
    qc_graph_opset_at(g, i, &d, &ver);
    s = qc_graph_set_opset(one, d, ver);
  }
  if (s) {
    qc_graph_destroy(one);
    return s;
  }
  *out = one;
  return QC_OK;
}

qc_status qc_qclone_node(const qc_graph *g, qc_nid n, qc_graph *to, qc_vid *map) {
  const qc_node *d = qc_graph_node(g, n);
  if (d->n_in > 16 || d->n_out > 16)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: more than 16 inputs or outputs",
                         qc_node_desc(g, n));
  qc_vid in[16];
  for (int32_t i = 0; i < d->n_in; i++) in[i] = d->in[i] >= 0 ? map[d->in[i]] : QC_NONE;
  const char *names[16];
  for (int32_t i = 0; i < d->n_out; i++)
    names[i] = d->out[i] >= 0 ? qc_graph_value(g, d->out[i])->name : "";
  qc_nid m = QC_NONE;
  QC_RETURN_IF_ERROR(qc_graph_add_node(to, d->op, d->name, d->n_in, in, d->n_out, names, &m));
  for (int32_t a = 0; a < d->n_attr; a++) QC_RETURN_IF_ERROR(qc_node_set_attr(to, m, &d->attr[a]));
  for (int32_t i = 0; i < d->n_out; i++)
    if (d->out[i] >= 0) map[d->out[i]] = qc_graph_node(to, m)->out[i];
  return QC_OK;
}

qc_status qc_qconst_value(const qc_graph *g, qc_vid v, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  const qc_value *val = qc_graph_value(g, v);
  if (val->kind == QC_VALUE_CONST) {
    qc_tensor_copy_ref(out, &val->cst);
    return QC_OK;
  }
  int32_t nn = qc_graph_num_nodes(g);
  uint8_t *in_cone = calloc((size_t)(nn ? nn : 1), 1);
  if (!in_cone) return QC_OOM();
  if (!cone(g, v, in_cone, 0)) {
    free(in_cone);
    return qc_status_new(QC_CODE_INTERNAL, "value '%s' does not depend on constants alone", val->name);
  }
  /* Run the cone as its own graph: constants copied by reference, nodes in g's order. */
  qc_graph *one = NULL;
  qc_status s = qc_qgraph_like(g, &one);
  int32_t nv = qc_graph_num_values(g);
  qc_vid *map = s ? NULL : malloc(sizeof *map * (size_t)(nv ? nv : 1));
  if (!s && !map) s = QC_OOM();
  for (qc_vid k = 0; !s && k < nv; k++) map[k] = QC_NONE;
  for (qc_nid n = 0; n < nn && !s; n++) {
    if (!in_cone[n]) continue;
    const qc_node *d = qc_graph_node(g, n);
    for (int32_t i = 0; i < d->n_in && !s; i++) {
      qc_vid x = d->in[i];
      if (x >= 0 && map[x] < 0)
        s = qc_graph_add_const(one, qc_graph_value(g, x)->name, &qc_graph_value(g, x)->cst, &map[x]);
    }
    if (!s) s = qc_qclone_node(g, n, one, map);
  }
  if (!s) s = qc_graph_add_output(one, map[v]);
  qc_rvalue r;
  memset(&r, 0, sizeof r);
  if (!s) s = qc_run_graph(one, NULL, 0, NULL, 1, &r);
  if (!s && r.kind != QC_RV_TENSOR) s = qc_status_new(QC_CODE_INTERNAL, "no tensor from '%s'", val->name);
  if (!s) qc_tensor_copy_ref(out, &r.t);
  qc_rvalue_release(&r);
  qc_graph_destroy(one);
  free(map);
  free(in_cone);
  return s;
}

/* ---- reading and replacing a layer's float weight (algorithms) ------------------------------ */

qc_status qc_qsite_weight(const qc_graph *g, const qc_qsite *s, float **w, int64_t *rows,
                          int64_t *cols) {
  *w = NULL;
  const qc_type *wt = &qc_graph_value(g, s->weight)->type;
  if ((s->type != QC_QLAYER_LINEAR && s->type != QC_QLAYER_EMBEDDING) || wt->rank != 2 ||
      (s->type == QC_QLAYER_EMBEDDING && s->weight_transposed))
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "layer '%s' (%s): only Linear and Embedding weights are supported",
                         s->name, qc_qsite_type_name(s->type));
  qc_tensor t;
  QC_RETURN_IF_ERROR(qc_qconst_value(g, s->weight, &t));
  float *f = NULL;
  qc_status st = qc_qtensor_f32(&t, &f);
  qc_tensor_release(&t);
  if (st) return qc_status_wrap(st, "layer '%s' weight", s->name);
  int64_t r = wt->dims[0], c = wt->dims[1];
  if (s->weight_transposed) { /* stored [in, out] */
    float *tr = malloc(sizeof *tr * (size_t)(r * c > 0 ? r * c : 1));
    if (!tr) {
      free(f);
      return QC_OOM();
    }
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++) tr[j * r + i] = f[i * c + j];
    free(f);
    f = tr;
    int64_t x = r;
    r = c;
    c = x;
  }
  *w = f;
  *rows = r;
  *cols = c;
  return QC_OK;
}

qc_status qc_qreplace_input(qc_graph *g, qc_nid n, int32_t slot, const qc_tensor *t,
                           qc_vid named_after, qc_vid *out) {
  qc_vid old_in = qc_graph_node(g, n)->in[slot];
  const char *oname = qc_graph_value(g, named_after >= 0 ? named_after : old_in)->name;
  size_t ol = strlen(oname) + 16;
  char *name = malloc(ol), *tmp = NULL;
  if (!name) return QC_OOM();
  qc_status st = QC_OK;
  if (named_after >= 0) {
    /* Take its name: layer names come from weight names. */
    snprintf(name, ol, "%s.orig", oname);
    tmp = qc_qunique_name(g, name);
    snprintf(name, ol, "%s", oname);
    st = tmp ? qc_graph_rename(g, named_after, tmp) : QC_OOM();
    if (!st) st = qc_graph_add_const(g, name, t, out);
  } else {
    snprintf(name, ol, "%s.new", oname);
    st = qc_qadd_const(g, name, t, out);
  }
  if (!st) qc_node_set_input(g, n, slot, *out);
  free(name);
  free(tmp);
  return st;
}

/* w ([out, in]) as a constant in the orientation s's weight chain reads (caller releases). */
qc_status qc_qsite_weight_tensor(const qc_graph *g, const qc_qsite *s, const float *w,
                                 qc_tensor *t) {
  const qc_type *wt = &qc_graph_value(g, s->weight)->type;
  int64_t r = wt->dims[0], c = wt->dims[1];
  int64_t dims[2] = {r, c};
  QC_RETURN_IF_ERROR(qc_tensor_alloc(t, qc_graph_allocator(g), QC_F32, 2, dims));
  float *d = qc_tensor_data(t);
  if (s->weight_transposed) { /* w is [out, in] = [c, r] */
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++) d[i * c + j] = w[j * r + i];
  } else {
    memcpy(d, w, sizeof *d * (size_t)(r * c));
  }
  return QC_OK;
}

/* Whether s's weight (or the constant under it) is read by other nodes too. */
static qc_status weight_shared(const qc_graph *g, const qc_qsite *s, bool *shared) {
  qc_uses u;
  QC_RETURN_IF_ERROR(qc_uses_compute(g, &u));
  int32_t users = qc_uses_count(&u, s->weight), cusers = qc_uses_count(&u, s->weight_const);
  qc_uses_free(g, &u);
  *shared = users != 1 || (s->weight_const != s->weight && cusers != 1);
  return QC_OK;
}

/* Make s's weight chain read w: a new constant that takes the weight constant's name (the old
 * one becomes "<name>.orig", for dce), or, when the weight is shared, one of its own named
 * "<layer>.weight" (made unique), the other readers keeping the shared one. */
static qc_status put_weight(qc_graph *g, qc_qsite *s, const float *w, bool shared) {
  qc_tensor t;
  QC_RETURN_IF_ERROR(qc_qsite_weight_tensor(g, s, w, &t));
  qc_vid nv = QC_NONE;
  qc_status st = QC_OK;
  if (!shared) {
    st = qc_qreplace_input(g, s->weight_user, s->weight_slot, &t, s->weight_const, &nv);
  } else {
    size_t l = strlen(s->name) + 8;
    char *name = malloc(l);
    if (!name) st = QC_OOM();
    if (!st) {
      snprintf(name, l, "%s.weight", s->name);
      st = qc_qadd_const(g, name, &t, &nv);
    }
    if (!st) qc_node_set_input(g, s->weight_user, s->weight_slot, nv);
    free(name);
  }
  if (!st) s->weight = s->weight_const = nv;
  qc_tensor_release(&t);
  return st;
}

qc_status qc_qsite_set_weight(qc_graph *g, qc_qsite *s, const float *w) {
  bool shared;
  QC_RETURN_IF_ERROR(weight_shared(g, s, &shared));
  if (shared)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "layer '%s': its weight '%s' is shared with other nodes, so it cannot be "
                         "changed for this layer alone",
                         s->name, qc_graph_value(g, s->weight_const)->name);
  return put_weight(g, s, w, false);
}

qc_status qc_qsite_own_weight(qc_graph *g, qc_qsite *s, const float *w) {
  bool shared;
  QC_RETURN_IF_ERROR(weight_shared(g, s, &shared));
  return put_weight(g, s, w, shared);
}

/* ---- quantizers on constants ------------------------------------------------------------ */

/* The quantizer on a constant, zero-padded to whole groups (runtime/k_qc.h). */
qc_status qc_quantizer_observe_padded(qc_quantizer *q, const qc_qspecs *sp, const float *f,
                                     const qc_tensor *t) {
  int32_t ax;
  int64_t G, pd[QC_MAX_RANK];
  if (!qc_qgroup_partial(sp, t->rank, t->dims, &ax, &G))
    return qc_quantizer_observe(q, f, t->rank, t->dims);
  float *p;
  QC_RETURN_IF_ERROR(qc_qgroup_pad(f, t->rank, t->dims, ax, G, &p, pd));
  qc_status s = qc_quantizer_observe(q, p, t->rank, pd);
  free(p);
  return s;
}

qc_status qc_quantizer_forward_padded(qc_quantizer *q, const qc_qspecs *sp, float *f,
                                     const qc_tensor *t) {
  int32_t ax;
  int64_t G, pd[QC_MAX_RANK];
  if (!qc_qgroup_partial(sp, t->rank, t->dims, &ax, &G))
    return qc_quantizer_forward(q, f, t->rank, t->dims, f);
  float *p;
  QC_RETURN_IF_ERROR(qc_qgroup_pad(f, t->rank, t->dims, ax, G, &p, pd));
  qc_status s = qc_quantizer_forward(q, p, t->rank, pd, p);
  if (!s) qc_qgroup_crop(p, t->rank, pd, ax, t->dims[ax], f);
  free(p);
  return s;
}

/* ---- what the algorithms share ------------------------------------------------------------- */

bool qc_qsite_quantized(const qc_graph *g, const qc_qsite *s, qc_status *st) {
  qc_qspecs w = {0}, x = {0};
  *st = qc_qlayer_specs(g, s->name, "weight", &w);
  if (!*st) *st = qc_qlayer_specs(g, s->name, "input_tensors", &x);
  bool q = !*st && (w.n > 0 || x.n > 0);
  qc_qspecs_clear(&w);
  qc_qspecs_clear(&x);
  return q;
}

qc_vid qc_qgraph_not_f32(const qc_graph *g) {
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead || nd->op == QC_OP_Cast) continue;
    for (int32_t i = 0; i < nd->n_in; i++) {
      qc_dtype dt = nd->in[i] >= 0 ? qc_graph_value(g, nd->in[i])->type.dtype : QC_F32;
      if (dt == QC_F16 || dt == QC_BF16 || dt == QC_F64) return nd->in[i];
    }
  }
  return QC_NONE;
}

qc_status qc_qcheck_before_observe(const qc_graph *g, const char *pass) {
  if (!qc_graph_meta(g, "quant.config"))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: the graph has no quantization records: run quant-annotate first", pass);
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (!nd->dead && (nd->op == QC_OP_Q_Observe || nd->op == QC_OP_Q_FakeQuant))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: %s is already there: %s runs before observe",
                           pass, qc_node_desc(g, n), pass);
  }
  return QC_OK;
}
