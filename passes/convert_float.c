/* convert-float{from=f32, to=f64, keep-io=true, keep-qdq=true}: compute a model in another
 * float type.
 *
 * Every tensor of type `from` becomes `to`: constants are converted (qc_convert, round to
 * nearest even when narrowing), as are tensor attributes (Constant, ConstantOfShape) and the
 * attributes that name `from` as a result type or a precision (is_dtype_attr); sub-graph
 * inputs and captures declared as `from` are redeclared; node results are inferred anew.
 *
 * keep-io: graph inputs and outputs keep their type: a Cast after each `from` input and before
 * each `from` output (the output keeps its name), so callers feed and read the same tensors.
 *
 * keep-qdq: ops that quantize or dequantize (QC_OPF_QDQ: FakeQuant, DequantizePacked,
 * QuantizeLinear, ...) keep computing in `from`: a Cast to `from` before each of their float
 * inputs and a Cast to `to` after each float result. Quantization is defined in the model's
 * float type (Quark computes x / scale, the rounding and the scale rules in it), so with
 * to=f64 everything but the quantizers runs in double: what two runtimes that sum in a
 * different order still disagree on is then only where a double rounding lands on the other
 * side of a quantization boundary, about 2^-29 as often as in float32 — the way to compare
 * quantized models across runtimes (tools/bench/bench_quark_import.py --f64). */
#include "passes/internal.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct cf_ctx {
  qc_dtype from, to;
  bool keep_io, keep_qdq;
  int64_t counter;
} cf_ctx;

/* Attributes that name an element type (ONNX TensorProto codes): a result's type (Cast,
 * EyeLike, RandomNormal, ...) or a computation's precision (LayerNormalization and
 * RMSNormalization stash_type, Attention softmax_precision). */
static bool is_dtype_attr(const char *name) {
  static const char *const names[] = {"to", "dtype", "output_dtype", "stash_type", "softmax_precision"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(name, names[i])) return true;
  return false;
}

static qc_status convert_attrs(qc_graph *g, qc_nid n, const cf_ctx *c) {
  int from_code = qc_dtype_traits_of(c->from)->onnx, to_code = qc_dtype_traits_of(c->to)->onnx;
  /* Element-type attributes, given or defaulted (stash_type's default is float32). A
   * defaulted one changes only where the node reads or produces `from`: Range's stash_type
   * (opset 27) on an int64 Range stays absent, so the model still loads at its own opset. */
  const qc_node *nd = qc_graph_node(g, n);
  const qc_op_schema *sc = qc_op_schema_of(nd->op);
  bool touches_from = false;
  for (int32_t i = 0; i < nd->n_in; i++)
    touches_from |= nd->in[i] >= 0 && qc_graph_value(g, nd->in[i])->type.dtype == c->from;
  for (int32_t i = 0; i < nd->n_out; i++)
    touches_from |= nd->out[i] >= 0 && qc_graph_value(g, nd->out[i])->type.dtype == c->from;
  for (int32_t k = 0; k < sc->n_attrs; k++)
    if (sc->attrs[k].kind == QC_ATTR_INT && is_dtype_attr(sc->attrs[k].name) &&
        qc_node_int(g, n, sc->attrs[k].name, 0) == from_code &&
        (touches_from || qc_node_attr(g, n, sc->attrs[k].name)))
      QC_RETURN_IF_ERROR(qc_node_set_int(g, n, sc->attrs[k].name, to_code));
  for (int32_t k = 0; k < qc_graph_node(g, n)->n_attr; k++) {
    const qc_attr *at = &qc_graph_node(g, n)->attr[k];
    if (at->kind == QC_ATTR_TENSOR && at->u.t->dtype == c->from) {
      qc_tensor t;
      QC_RETURN_IF_ERROR(qc_tensor_convert(qc_graph_allocator(g), at->u.t, c->to, &t));
      qc_status s = qc_node_set_tensor(g, n, at->name, &t);
      qc_tensor_release(&t);
      QC_RETURN_IF_ERROR(s);
    } else if (at->kind == QC_ATTR_TENSORS) {
      bool any = false;
      for (int32_t j = 0; j < at->n; j++) any |= at->u.tensors[j].dtype == c->from;
      if (!any) continue;
      qc_tensor *ts = calloc((size_t)at->n, sizeof *ts);
      qc_status s = ts ? QC_OK : QC_OOM();
      for (int32_t j = 0; j < at->n && !s; j++) {
        if (at->u.tensors[j].dtype == c->from)
          s = qc_tensor_convert(qc_graph_allocator(g), &at->u.tensors[j], c->to, &ts[j]);
        else
          qc_tensor_copy_ref(&ts[j], &at->u.tensors[j]);
      }
      qc_attr na = *at;
      na.u.tensors = ts;
      if (!s) s = qc_node_set_attr(g, n, &na);
      for (int32_t j = 0; ts && j < at->n; j++) qc_tensor_release(&ts[j]);
      free(ts);
      QC_RETURN_IF_ERROR(s);
    }
  }
  return QC_OK;
}

/* A Cast of v to dt, appended (the caller restores topological order). */
static qc_status add_cast(qc_graph *g, qc_vid v, qc_dtype dt, const char *out_name, qc_vid *out) {
  qc_nid n;
  const char *names[1] = {out_name};
  QC_RETURN_IF_ERROR(qc_graph_add_node(g, QC_OP_Cast, "", 1, &v, 1, names, &n));
  QC_RETURN_IF_ERROR(qc_node_set_int(g, n, "to", qc_dtype_traits_of(dt)->onnx));
  *out = qc_graph_node(g, n)->out[0];
  return QC_OK;
}

/* Give `to_v` the name of `from_v` (which gets a fresh one): graph outputs keep their names. */
static qc_status take_name(qc_graph *g, qc_vid from_v, qc_vid to_v, cf_ctx *c) {
  char *name = strdup(qc_graph_value(g, from_v)->name);
  if (!name) return QC_OOM();
  char tmp[64];
  qc_status s;
  do {
    snprintf(tmp, sizeof tmp, "convert_float.%lld", (long long)c->counter++);
  } while (qc_graph_find(g, tmp) >= 0);
  s = qc_graph_rename(g, from_v, tmp);
  if (!s) s = qc_graph_rename(g, to_v, name);
  free(name);
  return s;
}

static qc_status convert_graph(qc_graph *g, bool top, cf_ctx *c);

static qc_status convert_sub(qc_graph *sub, void *user) { return convert_graph(sub, false, user); }

static qc_status convert_graph(qc_graph *g, bool top, cf_ctx *c) {
  QC_RETURN_IF_ERROR(qc_for_each_subgraph(g, convert_sub, c));
  int32_t nv = qc_graph_num_values(g), nn = qc_graph_num_nodes(g);
  /* Which values were `from` before any edit (new values are appended after nv). */
  uint8_t *was = calloc((size_t)(nv ? nv : 1), 1);
  if (!was) return QC_OOM();
  for (qc_vid v = 0; v < nv; v++) {
    const qc_type *t = &qc_graph_value(g, v)->type;
    was[v] = t->kind == QC_TYPE_TENSOR && t->dtype == c->from;
  }
  int32_t n_outs = qc_graph_num_outputs(g);
  uint8_t *out_was = calloc((size_t)(n_outs ? n_outs : 1), 1);
  if (!out_was) {
    free(was);
    return QC_OOM();
  }
  for (int32_t k = 0; k < n_outs; k++) {
    qc_vid y = qc_graph_output(g, k);
    out_was[k] = y >= 0 && was[y] && qc_graph_value(g, y)->kind != QC_VALUE_INPUT;
  }
  qc_status s = QC_OK;
  /* 1. quantize/dequantize ops stay in `from`: cast their inputs back, their results on. */
  for (qc_nid n = 0; n < nn && !s && c->keep_qdq; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead || !(qc_op_schema_of(nd->op)->flags & QC_OPF_QDQ)) continue;
    for (int32_t i = 0; i < nd->n_in && !s; i++) {
      qc_vid v = qc_graph_node(g, n)->in[i], cv;
      if (v < 0 || !was[v]) continue;
      s = add_cast(g, v, c->from, NULL, &cv);
      if (!s) qc_node_set_input(g, n, i, cv);
    }
    for (int32_t i = 0; i < qc_graph_node(g, n)->n_out && !s; i++) {
      qc_vid o = qc_graph_node(g, n)->out[i], co;
      if (o < 0 || !was[o]) continue;
      s = add_cast(g, o, c->to, NULL, &co);
      if (!s) s = qc_graph_replace_uses(g, o, co);
      /* replace_uses also moved the cast's own input: point it back at the result. */
      if (!s) qc_node_set_input(g, qc_graph_value(g, co)->node, 0, o);
      if (!s) s = take_name(g, o, co, c);
    }
  }
  /* 2. attributes of the other nodes. */
  for (qc_nid n = 0; n < nn && !s; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead || (c->keep_qdq && (qc_op_schema_of(nd->op)->flags & QC_OPF_QDQ))) continue;
    s = convert_attrs(g, n, c);
  }
  /* 3. constants, declared types, and node results (re-inferred below). */
  for (qc_vid v = 0; v < nv && !s; v++) {
    if (!was[v]) continue;
    const qc_value *val = qc_graph_value(g, v);
    qc_type t = val->type;
    if (val->kind == QC_VALUE_CONST) {
      qc_tensor ct;
      s = qc_tensor_convert(qc_graph_allocator(g), &val->cst, c->to, &ct);
      qc_vid nvid;
      if (!s) s = qc_graph_add_const(g, NULL, &ct, &nvid);
      qc_tensor_release(&ct);
      if (!s) s = qc_graph_replace_uses(g, v, nvid);
      if (!s) s = take_name(g, v, nvid, c);
    } else if (val->kind == QC_VALUE_NODE) {
      t.dtype = QC_DT_UNDEFINED;
      s = qc_graph_set_type(g, v, &t);
    } else if (val->kind == QC_VALUE_OUTER || !top || !c->keep_io) {
      t.dtype = c->to;
      s = qc_graph_set_type(g, v, &t);
    }
  }
  /* 4. the interface: `from` inputs cast on, `from` outputs cast back under their names. */
  for (int32_t i = 0; i < qc_graph_num_inputs(g) && !s && top && c->keep_io; i++) {
    qc_vid x = qc_graph_input(g, i), cx;
    if (x >= nv || !was[x]) continue;
    s = add_cast(g, x, c->to, NULL, &cx);
    if (!s) s = qc_graph_replace_uses(g, x, cx);
    if (!s) qc_node_set_input(g, qc_graph_value(g, cx)->node, 0, x);
    /* replace_uses made the graph output that was this input the cast: undo that. */
    for (int32_t k = 0; k < qc_graph_num_outputs(g) && !s; k++)
      if (qc_graph_output(g, k) == cx) qc_graph_set_output(g, k, x);
  }
  for (int32_t k = 0; k < n_outs && !s && top && c->keep_io; k++) {
    qc_vid y = qc_graph_output(g, k), cy;
    if (!out_was[k]) continue;
    s = add_cast(g, y, c->from, NULL, &cy);
    if (!s) qc_graph_set_output(g, k, cy);
    if (!s) s = take_name(g, y, cy, c);
  }
  free(was);
  free(out_was);
  if (!s) s = qc_graph_toposort(g);
  if (!s) s = qc_graph_compact(g);
  if (!s && top) s = qc_graph_infer_types(g);
  return s;
}

static qc_status run_convert_float(qc_graph *g, const qc_pass_args *args, void *user) {
  (void)user;
  cf_ctx c = {qc_dtype_from_name(qc_pass_arg_string(args, "from")),
              qc_dtype_from_name(qc_pass_arg_string(args, "to")), qc_pass_arg_bool(args, "keep-io"),
              qc_pass_arg_bool(args, "keep-qdq"), 0};
  static const qc_dtype ok[] = {QC_F16, QC_BF16, QC_F32, QC_F64};
  const char *bad = NULL;
  bool from_ok = false, to_ok = false;
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    from_ok |= c.from == ok[i];
    to_ok |= c.to == ok[i];
  }
  if (!from_ok) bad = "from";
  else if (!to_ok) bad = "to";
  if (bad)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "convert-float: option '%s' is '%s': expected f16, bf16, f32 or f64",
                         bad, qc_pass_arg_string(args, bad));
  if (c.from == c.to) return QC_OK;
  return convert_graph(g, true, &c);
}

static const qc_pass_option CONVERT_FLOAT_OPTIONS[] = {
    {"from", QC_OPT_STRING, "f32", "the float type to replace (f16, bf16, f32, f64)"},
    {"to", QC_OPT_STRING, "f64", "the float type to compute in (f16, bf16, f32, f64)"},
    {"keep-io", QC_OPT_BOOL, "true", "graph inputs and outputs keep their type (Casts at the edges)"},
    {"keep-qdq", QC_OPT_BOOL, "true",
     "quantize/dequantize ops keep computing in `from` (Casts around them)"},
};

const qc_pass_info qc_pass_convert_float = {
    "convert-float", "compute the model in another float type (f32 -> f64, f32 -> f16, ...)",
    CONVERT_FLOAT_OPTIONS, 4, run_convert_float, NULL};
