/* fold: constant folding. A node whose inputs are all constants is evaluated with the
 * reference interpreter (as a one-node graph) and its outputs become constants that keep
 * the outputs' names. Skipped: nondeterministic ops, ops with side effects or sub-graphs,
 * ops the interpreter has no kernel for (or whose kernel reports the case unimplemented),
 * results that are not plain tensors, results larger than max-bytes, and — unless
 * fold-qdq is set — quantize/dequantize ops, whose constant inputs are the quantized
 * weights a quantized model exists to keep. Nodes are visited in topological order, so a
 * folded result feeds the folding of its users in the same run. */
#include "passes/internal.h"
#include "quarc/rewrite.h"
#include "quarc/runtime.h"

#include <stdlib.h>

typedef struct fold_opts {
  int64_t max_bytes;
  bool fold_qdq;
  int64_t folded;
} fold_opts;

static bool foldable(const qc_graph *g, const qc_node *nd, const fold_opts *o) {
  if (nd->dead) return false;
  const qc_op_schema *s = qc_op_schema_of(nd->op);
  if (s->flags & (QC_OPF_RANDOM | QC_OPF_SIDE_EFFECT | QC_OPF_SUBGRAPH)) return false;
  if (qc_node_has_subgraph(nd)) return false;
  if (!o->fold_qdq && (s->flags & QC_OPF_QDQ)) return false;
  for (int32_t i = 0; i < nd->n_in; i++)
    if (nd->in[i] >= 0 && qc_graph_value(g, nd->in[i])->kind != QC_VALUE_CONST) return false;
  bool any_out = false;
  for (int32_t i = 0; i < nd->n_out; i++)
    if (nd->out[i] >= 0) any_out = true;
  return any_out && qc_interp_supports(nd->op);
}

/* Evaluate node n of g on its constant inputs. On success out[i] holds output i (kind NONE
 * for omitted outputs); *skip says the node cannot be folded (no error). Only running out
 * of memory is an error. */
static qc_status evaluate(const qc_graph *g, qc_nid n, qc_rvalue *out, bool *skip) {
  const qc_node *nd = qc_graph_node(g, n);
  const qc_op_schema *s = qc_op_schema_of(nd->op);
  *skip = false;
  qc_graph *one;
  QC_RETURN_IF_ERROR(qc_graph_create(qc_graph_allocator(g), &one));
  qc_status st = QC_OK;
  int64_t ver = qc_node_version(g, n);
  if (ver) st = qc_graph_set_opset(one, s->domain, ver);
  qc_vid *in = malloc(sizeof(qc_vid) * (size_t)(nd->n_in ? nd->n_in : 1));
  const char **names = malloc(sizeof(char *) * (size_t)(nd->n_out ? nd->n_out : 1));
  if (!in || !names) st = QC_OOM();
  for (int32_t i = 0; i < nd->n_in && !st; i++) {
    in[i] = QC_NONE;
    if (nd->in[i] >= 0) st = qc_graph_add_const(one, NULL, &qc_graph_value(g, nd->in[i])->cst, &in[i]);
  }
  for (int32_t i = 0; i < nd->n_out && names; i++) names[i] = nd->out[i] >= 0 ? NULL : "";
  qc_nid m = QC_NONE;
  if (!st) st = qc_graph_add_node(one, nd->op, nd->name, nd->n_in, in, nd->n_out, names, &m);
  for (int32_t k = 0; k < nd->n_attr && !st; k++) st = qc_node_set_attr(one, m, &nd->attr[k]);
  int32_t n_out = 0;
  for (int32_t i = 0; i < nd->n_out && !st; i++) {
    qc_vid v = qc_graph_node(one, m)->out[i];
    if (v < 0) continue;
    st = qc_graph_set_type(one, v, &qc_graph_value(g, nd->out[i])->type);
    if (!st) st = qc_graph_add_output(one, v);
    n_out++;
  }
  qc_rvalue *res = NULL;
  if (!st) {
    res = calloc((size_t)(n_out ? n_out : 1), sizeof *res);
    if (!res) st = QC_OOM();
  }
  if (!st) {
    qc_interp_options io = {.n_threads = 1};
    st = qc_run_graph(one, &io, 0, NULL, n_out, res);
    if (st && qc_status_code(st) != QC_CODE_OUT_OF_MEMORY) {
      qc_status_free(st);
      st = QC_OK;
      *skip = true;
    } else if (!st) {
      for (int32_t i = 0, k = 0; i < nd->n_out; i++)
        if (nd->out[i] >= 0) out[i] = res[k++];
    }
  }
  free(res);
  free(in);
  free(names);
  qc_graph_destroy(one);
  return st;
}

static qc_status fold_nodes(qc_rewriter *rw, fold_opts *o) {
  qc_graph *g = qc_rewriter_graph(rw);
  int32_t nn = qc_graph_num_nodes(g);
  qc_status s = QC_OK;
  for (qc_nid n = 0; n < nn && !s; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (!foldable(g, nd, o)) continue;
    int32_t n_out = nd->n_out;
    qc_rvalue *res = calloc((size_t)n_out, sizeof *res);
    if (!res) return QC_OOM();
    bool skip = false;
    s = evaluate(g, n, res, &skip);
    if (s) {
      s = qc_status_wrap(s, "evaluating %s", qc_node_desc(g, n));
    } else if (!skip) {
      /* Only plain tensors within the size limit become constants. */
      uint64_t bytes = 0;
      for (int32_t i = 0; i < n_out; i++) {
        if (qc_graph_node(g, n)->out[i] < 0) continue;
        if (res[i].kind != QC_RV_TENSOR) skip = true;
        else bytes += qc_tensor_nbytes(&res[i].t);
      }
      if (o->max_bytes >= 0 && bytes > (uint64_t)o->max_bytes) skip = true;
      for (int32_t i = 0; i < n_out && !skip && !s; i++) {
        qc_vid from = qc_graph_node(g, n)->out[i];
        if (from < 0) continue;
        qc_vid c;
        /* A fresh constant can always take the output's name (and graph outputs keep
         * theirs). */
        s = qc_graph_add_const(g, NULL, &res[i].t, &c);
        if (!s) s = qc_rewriter_replace_named(rw, from, c);
      }
      if (!skip && !s) {
        s = qc_rewriter_erase(rw, n);
        o->folded++;
      }
    }
    for (int32_t i = 0; i < n_out; i++) qc_rvalue_release(&res[i]);
    free(res);
  }
  return s;
}

static qc_status fold_graph(qc_graph *g, void *user) {
  fold_opts *o = user;
  QC_RETURN_IF_ERROR(qc_for_each_subgraph(g, fold_graph, o));
  qc_rewriter *rw;
  QC_RETURN_IF_ERROR(qc_rewriter_begin(g, &rw));
  qc_status s = fold_nodes(rw, o);
  if (s) {
    qc_rewriter_abort(rw);
    return s;
  }
  return qc_rewriter_finish(rw);
}

static qc_status run_fold(qc_graph *g, const qc_pass_args *args, void *user) {
  (void)user;
  fold_opts o = {qc_pass_arg_int(args, "max-bytes"), qc_pass_arg_bool(args, "fold-qdq"), 0};
  return fold_graph(g, &o);
}

static const qc_pass_option FOLD_OPTIONS[] = {
    {"max-bytes", QC_OPT_INT, "67108864",
     "largest result (all outputs, in bytes) that becomes a constant; -1: no limit"},
    {"fold-qdq", QC_OPT_BOOL, "false",
     "also fold quantize/dequantize ops (turns quantized weights back into floats)"},
};

const qc_pass_info qc_pass_fold = {
    "fold", "evaluate nodes whose inputs are all constants and replace them by constants",
    FOLD_OPTIONS, 2, run_fold, NULL};
