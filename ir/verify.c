/* The verifier: SSA form, order, arity and attributes against the op schemas, and
 * declared types against shape inference. Every error names the node and value. */
#include "internal.h"

#include <stdio.h>

static const char *attr_kind_name(int k) {
  switch (k) {
  case QC_ATTR_FLOAT: return "float";
  case QC_ATTR_INT: return "int";
  case QC_ATTR_STRING: return "string";
  case QC_ATTR_TENSOR: return "tensor";
  case QC_ATTR_GRAPH: return "graph";
  case QC_ATTR_FLOATS: return "floats";
  case QC_ATTR_INTS: return "ints";
  case QC_ATTR_STRINGS: return "strings";
  case QC_ATTR_TENSORS: return "tensors";
  case QC_ATTR_GRAPHS: return "graphs";
  case QC_ATTR_TYPE: return "type";
  default: return "?";
  }
}

static bool outer_resolves(const qc_graph *g, const char *name) {
  for (const qc_graph *p = g->parent; p; p = p->parent) {
    qc_vid v = qc_graph_find(p, name);
    if (v >= 0 && p->values[v].kind != QC_VALUE_OUTER) return true;
  }
  return false;
}

static bool types_compatible(const qc_type *decl, const qc_type *inf) {
  if (decl->dtype && inf->dtype && decl->dtype != inf->dtype) return false;
  if (decl->rank >= 0 && inf->rank >= 0) {
    if (decl->rank != inf->rank) return false;
    for (int32_t i = 0; i < decl->rank; i++)
      if (decl->dims[i] >= 0 && inf->dims[i] >= 0 && decl->dims[i] != inf->dims[i]) return false;
  }
  return true;
}

#define FAIL(...) return qc_status_new(QC_CODE_VERIFY, __VA_ARGS__)

static qc_status verify_graph(const qc_graph *g) {
  /* Values. */
  for (qc_vid v = 0; v < g->n_values; v++) {
    const qc_value *val = &g->values[v];
    if (qc_graph_find(g, val->name) != v) FAIL("value '%s': name is not unique", val->name);
    switch (val->kind) {
    case QC_VALUE_INPUT:
      if (val->index < 0 || val->index >= g->n_inputs || g->inputs[val->index] != v)
        FAIL("value '%s': not in the graph input list", val->name);
      break;
    case QC_VALUE_CONST:
      if (!val->cst.buf && qc_tensor_nbytes(&val->cst) > 0)
        FAIL("constant '%s' has no data", val->name);
      if (val->cst.buf && qc_tensor_nbytes(&val->cst) >
                              qc_buffer_size(val->cst.buf) - val->cst.offset)
        FAIL("constant '%s': data is shorter than its shape needs", val->name);
      break;
    case QC_VALUE_NODE: {
      const qc_node *nd = qc_graph_node(g, val->node);
      if (!nd || val->index >= nd->n_out || nd->out[val->index] != v)
        FAIL("value '%s': its defining node does not list it", val->name);
      break;
    }
    case QC_VALUE_OUTER:
      if (!outer_resolves(g, val->name))
        FAIL("value '%s' is used but never defined%s", val->name,
             g->parent ? " (not found in any enclosing graph)" : "");
      break;
    default: FAIL("value '%s': bad kind %d", val->name, val->kind);
    }
  }
  for (int32_t i = 0; i < g->n_outputs; i++) {
    qc_vid v = g->outputs[i];
    if (v < 0 || v >= g->n_values) FAIL("graph output %d: no such value", i);
  }
  /* Nodes, in order. */
  for (qc_nid n = 0; n < g->n_nodes; n++) {
    const qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    const qc_op_schema *s = qc_op_schema_of(nd->op);
    if (!s) FAIL("node #%d: unknown op id %d", n, nd->op);
    const char *desc = qc_node_desc(g, n);
    int64_t ver = qc_graph_opset(g, s->domain);
    if (ver && (ver < s->since || ver > s->until))
      FAIL("%s: opset %lld of domain '%s' is outside the supported range %d..%d", desc,
           (long long)ver, *s->domain ? s->domain : "ai.onnx", s->since, s->until);
    if (nd->n_in < s->min_in || (s->max_in >= 0 && nd->n_in > s->max_in))
      FAIL("%s: has %d inputs, expected %d..%d", desc, nd->n_in, s->min_in, s->max_in);
    if (nd->n_out < s->min_out || (s->max_out >= 0 && nd->n_out > s->max_out))
      FAIL("%s: has %d outputs, expected %d..%d", desc, nd->n_out, s->min_out, s->max_out);
    for (int32_t i = 0; i < nd->n_in; i++) {
      qc_vid v = nd->in[i];
      /* Whether an omitted input is allowed depends on the op's formal parameters (Scan-8
       * leaves its first input out); kernels and inference rules check what they need. */
      if (v == QC_NONE) continue;
      if (v < 0 || v >= g->n_values) FAIL("%s: input %d refers to no value", desc, i);
      const qc_value *val = &g->values[v];
      if (val->kind == QC_VALUE_NODE) {
        if (val->node >= n)
          FAIL("%s: input %d '%s' is used before its definition (by %s)", desc, i, val->name,
               val->node == n ? "this node" : "a later node");
        if (g->nodes[val->node].dead) FAIL("%s: input %d '%s' is defined by an erased node", desc, i, val->name);
      }
    }
    for (int32_t i = 0; i < nd->n_out; i++) {
      qc_vid v = nd->out[i];
      if (v == QC_NONE) continue;
      if (v < 0 || v >= g->n_values || g->values[v].kind != QC_VALUE_NODE ||
          g->values[v].node != n || g->values[v].index != i)
        FAIL("%s: output %d is not defined by this node", desc, i);
    }
    /* Attributes. */
    for (int32_t k = 0; k < nd->n_attr; k++) {
      const qc_attr *a = &nd->attr[k];
      for (int32_t j = 0; j < k; j++)
        if (strcmp(nd->attr[j].name, a->name) == 0) FAIL("%s: attribute '%s' is given twice", desc, a->name);
      const qc_attr_schema *as = qc_op_attr_schema(nd->op, a->name);
      if (!as) FAIL("%s: unknown attribute '%s'", desc, a->name);
      if (as->kind != QC_ATTR_NONE && as->kind != a->kind)
        FAIL("%s: attribute '%s' must be %s, got %s", desc, a->name, attr_kind_name(as->kind),
             attr_kind_name(a->kind));
      if (a->kind == QC_ATTR_GRAPH || a->kind == QC_ATTR_GRAPHS) {
        int32_t cnt = a->kind == QC_ATTR_GRAPH ? 1 : a->n;
        for (int32_t j = 0; j < cnt; j++) {
          const qc_graph *sub = a->kind == QC_ATTR_GRAPH ? a->u.g : a->u.graphs[j];
          if (sub->parent != g) FAIL("%s: attribute '%s': sub-graph has the wrong parent", desc, a->name);
          qc_status st = verify_graph(sub);
          if (st) return qc_status_wrap(st, "%s: attribute '%s'", desc, a->name);
        }
      }
    }
    for (int32_t k = 0; k < s->n_attrs; k++)
      if (s->attrs[k].required && !qc_node_attr(g, n, s->attrs[k].name))
        FAIL("%s: required attribute '%s' is missing", desc, s->attrs[k].name);
    /* Types. */
    if (s->infer && nd->n_out <= 64) {
      qc_infer_ctx c;
      c.g = g;
      c.node = n;
      c.n = nd;
      c.strict = true;
      c.store = NULL;
      for (int32_t i = 0; i < nd->n_out; i++) c.out[i] = qc_type_unknown();
      QC_RETURN_IF_ERROR(s->infer(&c));
      for (int32_t i = 0; i < nd->n_out; i++) {
        qc_vid v = nd->out[i];
        if (v < 0) continue;
        if (!types_compatible(&g->values[v].type, &c.out[i]))
          FAIL("%s: output %d '%s' has a type that contradicts shape inference (run "
               "qc_graph_infer_types to see both)",
               qc_node_desc(g, n), i, g->values[v].name);
      }
    }
  }
  return QC_OK;
}

qc_status qc_graph_verify(const qc_graph *g) { return verify_graph(g); }
