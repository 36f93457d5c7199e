/* The SSA graph: construction, editing, cloning, and the analyses that are
 * recomputed on demand (uses, captures, topological order). */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- types -------------------------------------------------------------------------------- */

qc_type qc_type_tensor(qc_dtype dt, int32_t rank, const int64_t *dims) {
  qc_type t;
  memset(&t, 0, sizeof t);
  t.kind = QC_TYPE_TENSOR;
  t.dtype = dt;
  t.rank = rank;
  for (int32_t i = 0; i < rank && i < QC_MAX_RANK; i++) t.dims[i] = dims[i];
  return t;
}

qc_type qc_type_unknown(void) {
  qc_type t;
  memset(&t, 0, sizeof t);
  t.rank = QC_RANK_UNKNOWN;
  return t;
}

bool qc_type_equal(const qc_type *a, const qc_type *b) {
  if (a->kind != b->kind || a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int32_t i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

bool qc_type_is_static(const qc_type *t) {
  if (t->rank < 0 || t->dtype == QC_DT_UNDEFINED) return false;
  for (int32_t i = 0; i < t->rank; i++)
    if (t->dims[i] < 0) return false;
  return true;
}

/* printf onto buf[*o..n), cutting short at the end of the buffer. */
static void append(char *buf, size_t n, size_t *o, const char *fmt, ...) QC_PRINTF(4, 5);
static void append(char *buf, size_t n, size_t *o, const char *fmt, ...) {
  if (*o + 1 >= n) return;
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(buf + *o, n - *o, fmt, ap);
  va_end(ap);
  if (k > 0) *o = *o + (size_t)k < n ? *o + (size_t)k : n - 1;
}

const char *qc_type_format(const qc_graph *g, const qc_type *t, char *buf, size_t n) {
  if (n == 0) return buf;
  size_t o = 0;
  buf[0] = 0;
  append(buf, n, &o, "%s", t->dtype ? qc_dtype_name(t->dtype) : "?");
  if (t->rank < 0) {
    append(buf, n, &o, "[*]");
    return buf;
  }
  append(buf, n, &o, "[");
  for (int32_t i = 0; i < t->rank && i < QC_MAX_RANK; i++) {
    const char *sym = qc_graph_sym_name(g, t->dims[i]);
    if (t->dims[i] >= 0) append(buf, n, &o, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    else append(buf, n, &o, "%s%s", i ? "," : "", sym ? sym : "?");
  }
  append(buf, n, &o, "]");
  return buf;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

qc_status qc_graph_create(const qc_allocator *a, qc_graph **out) {
  if (!a) a = qc_allocator_default();
  *out = NULL;
  qc_graph *g = a->realloc(a->ctx, NULL, 0, sizeof *g);
  if (!g) return QC_OOM();
  memset(g, 0, sizeof *g);
  g->alloc = *a;
  qc_arena_init(&g->arena, &g->alloc);
  qc_strmap_init(&g->names, &g->alloc);
  g->name = "";
  *out = g;
  return QC_OK;
}

void qc_attr_release(qc_attr *a) {
  switch (a->kind) {
  case QC_ATTR_TENSOR:
    if (a->u.t) qc_tensor_release(a->u.t);
    break;
  case QC_ATTR_TENSORS:
    for (int32_t i = 0; i < a->n; i++) qc_tensor_release(&a->u.tensors[i]);
    break;
  case QC_ATTR_GRAPH: qc_graph_destroy(a->u.g); break;
  case QC_ATTR_GRAPHS:
    for (int32_t i = 0; i < a->n; i++) qc_graph_destroy(a->u.graphs[i]);
    break;
  default: break;
  }
  a->kind = QC_ATTR_NONE;
}

void qc_graph_destroy(qc_graph *g) {
  if (!g) return;
  for (int32_t i = 0; i < g->n_nodes; i++)
    for (int32_t k = 0; k < g->nodes[i].n_attr; k++) qc_attr_release(&g->nodes[i].attr[k]);
  for (int32_t i = 0; i < g->n_values; i++)
    if (g->values[i].kind == QC_VALUE_CONST) qc_tensor_release(&g->values[i].cst);
  const qc_allocator *a = &g->alloc;
  qc_free(a, g->values, (size_t)g->cap_values * sizeof *g->values);
  qc_free(a, g->nodes, (size_t)g->cap_nodes * sizeof *g->nodes);
  qc_free(a, g->inputs, (size_t)g->cap_inputs * sizeof *g->inputs);
  qc_free(a, g->outputs, (size_t)g->cap_outputs * sizeof *g->outputs);
  qc_free(a, g->syms, (size_t)g->cap_syms * sizeof *g->syms);
  qc_free(a, g->opsets, (size_t)g->cap_opsets * sizeof *g->opsets);
  qc_free(a, g->meta, (size_t)g->cap_meta * sizeof *g->meta);
  qc_strmap_free(&g->names);
  qc_arena_free(&g->arena);
  qc_allocator al = g->alloc;
  al.realloc(al.ctx, g, sizeof *g, 0);
}

const qc_allocator *qc_graph_allocator(const qc_graph *g) { return &g->alloc; }
qc_graph *qc_graph_parent(const qc_graph *g) { return g->parent; }
void qc_graph_set_parent(qc_graph *sub, qc_graph *parent) { sub->parent = parent; }
const char *qc_graph_name(const qc_graph *g) { return g->name; }

qc_status qc_graph_set_name(qc_graph *g, const char *name) {
  char *s = qc_arena_strdup(&g->arena, name);
  if (!s) return QC_OOM();
  g->name = s;
  return QC_OK;
}

/* ---- opsets and metadata --------------------------------------------------------------- */

int64_t qc_graph_opset(const qc_graph *g, const char *domain) {
  if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
  for (; g; g = g->parent)
    for (int32_t i = 0; i < g->n_opsets; i++)
      if (strcmp(g->opsets[i].domain, domain) == 0) return g->opsets[i].version;
  return 0;
}

qc_status qc_graph_set_opset(qc_graph *g, const char *domain, int64_t version) {
  if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
  for (int32_t i = 0; i < g->n_opsets; i++)
    if (strcmp(g->opsets[i].domain, domain) == 0) {
      g->opsets[i].version = version;
      return QC_OK;
    }
  if (!qc_grow(&g->alloc, (void **)&g->opsets, &g->cap_opsets, g->n_opsets + 1,
               sizeof *g->opsets))
    return QC_OOM();
  const char *d = qc_arena_strdup(&g->arena, domain);
  if (!d) return QC_OOM();
  g->opsets[g->n_opsets++] = (qc_opset){d, version};
  return QC_OK;
}

int32_t qc_graph_num_opsets(const qc_graph *g) { return g->n_opsets; }
void qc_graph_opset_at(const qc_graph *g, int32_t i, const char **domain, int64_t *version) {
  *domain = g->opsets[i].domain;
  *version = g->opsets[i].version;
}

qc_status qc_graph_set_meta(qc_graph *g, const char *key, const char *value) {
  const char *v = qc_arena_strdup(&g->arena, value);
  if (!v) return QC_OOM();
  for (int32_t i = 0; i < g->n_meta; i++)
    if (strcmp(g->meta[i].key, key) == 0) {
      g->meta[i].value = v;
      return QC_OK;
    }
  const char *k = qc_arena_strdup(&g->arena, key);
  if (!k || !qc_grow(&g->alloc, (void **)&g->meta, &g->cap_meta, g->n_meta + 1, sizeof *g->meta))
    return QC_OOM();
  g->meta[g->n_meta++] = (qc_kv){k, v};
  return QC_OK;
}

const char *qc_graph_meta(const qc_graph *g, const char *key) {
  for (int32_t i = 0; i < g->n_meta; i++)
    if (strcmp(g->meta[i].key, key) == 0) return g->meta[i].value;
  return NULL;
}
int32_t qc_graph_num_meta(const qc_graph *g) { return g->n_meta; }
void qc_graph_meta_at(const qc_graph *g, int32_t i, const char **key, const char **value) {
  *key = g->meta[i].key;
  *value = g->meta[i].value;
}

/* ---- symbols --------------------------------------------------------------------------------- */

int64_t qc_graph_sym(qc_graph *g, const char *name) {
  for (int32_t i = 0; i < g->n_syms; i++)
    if (strcmp(g->syms[i], name) == 0) return -1 - (int64_t)i;
  if (!qc_grow(&g->alloc, (void **)&g->syms, &g->cap_syms, g->n_syms + 1, sizeof *g->syms))
    return QC_DIM_UNKNOWN;
  const char *s = qc_arena_strdup(&g->arena, name);
  if (!s) return QC_DIM_UNKNOWN;
  g->syms[g->n_syms] = s;
  return -1 - (int64_t)g->n_syms++;
}

const char *qc_graph_sym_name(const qc_graph *g, int64_t dim) {
  if (dim >= 0 || dim == QC_DIM_UNKNOWN) return NULL;
  int64_t i = -1 - dim;
  return i < g->n_syms ? g->syms[i] : NULL;
}

/* ---- values --------------------------------------------------------------------------------- */

int32_t qc_graph_num_values(const qc_graph *g) { return g->n_values; }
const qc_value *qc_graph_value(const qc_graph *g, qc_vid v) {
  return v >= 0 && v < g->n_values ? &g->values[v] : NULL;
}
qc_vid qc_graph_find(const qc_graph *g, const char *name) { return qc_strmap_get(&g->names, name); }

qc_status qc_graph_set_type(qc_graph *g, qc_vid v, const qc_type *t) {
  if (v < 0 || v >= g->n_values)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "value %d out of range", v);
  if (t->rank > QC_MAX_RANK)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "value '%s': rank %d exceeds quarc's limit of %d",
                         g->values[v].name, t->rank, QC_MAX_RANK);
  g->values[v].type = *t;
  return QC_OK;
}

/* A fresh name "_<k>" not taken in this graph. */
static const char *fresh_name(qc_graph *g) {
  char buf[32];
  do snprintf(buf, sizeof buf, "_%lld", (long long)g->name_counter++);
  while (qc_strmap_get(&g->names, buf) >= 0);
  return qc_arena_strdup(&g->arena, buf);
}

qc_status qc_graph_rename(qc_graph *g, qc_vid v, const char *name) {
  if (v < 0 || v >= g->n_values)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "value %d out of range", v);
  qc_vid other = qc_strmap_get(&g->names, name);
  if (other == v) return QC_OK;
  if (other >= 0) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "value name '%s' is taken", name);
  const char *s = qc_arena_strdup(&g->arena, name);
  if (!s) return QC_OOM();
  qc_strmap_del(&g->names, g->values[v].name);
  g->values[v].name = s;
  if (!qc_strmap_put(&g->names, s, v)) return QC_OOM();
  return QC_OK;
}

static qc_status new_value(qc_graph *g, const char *name, uint8_t kind, const qc_type *t,
                           qc_vid *out) {
  if (t && t->rank > QC_MAX_RANK)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "value '%s': rank %d exceeds quarc's limit of %d",
                         name ? name : "", t->rank, QC_MAX_RANK);
  const char *nm;
  if (name && *name) {
    if (qc_strmap_get(&g->names, name) >= 0)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "value '%s' is defined twice", name);
    nm = qc_arena_strdup(&g->arena, name);
  } else {
    nm = fresh_name(g);
  }
  if (!nm || !qc_grow(&g->alloc, (void **)&g->values, &g->cap_values, g->n_values + 1,
                      sizeof *g->values))
    return QC_OOM();
  qc_vid v = g->n_values;
  qc_value *val = &g->values[v];
  memset(val, 0, sizeof *val);
  val->name = nm;
  val->kind = kind;
  val->node = QC_NONE;
  val->index = 0;
  val->type = t ? *t : qc_type_unknown();
  if (!qc_strmap_put(&g->names, nm, v)) return QC_OOM();
  g->n_values++;
  *out = v;
  return QC_OK;
}

qc_status qc_graph_add_input(qc_graph *g, const char *name, const qc_type *t, qc_vid *out) {
  if (!qc_grow(&g->alloc, (void **)&g->inputs, &g->cap_inputs, g->n_inputs + 1,
               sizeof *g->inputs))
    return QC_OOM();
  QC_RETURN_IF_ERROR(new_value(g, name, QC_VALUE_INPUT, t, out));
  g->values[*out].index = g->n_inputs;
  g->inputs[g->n_inputs++] = *out;
  return QC_OK;
}

qc_status qc_graph_add_const(qc_graph *g, const char *name, const qc_tensor *t, qc_vid *out) {
  if (t->rank < 0 || t->rank > QC_MAX_RANK)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "constant '%s': rank %d exceeds quarc's limit",
                         name ? name : "", t->rank);
  qc_type ty = qc_type_tensor(t->dtype, t->rank, t->dims);
  QC_RETURN_IF_ERROR(new_value(g, name, QC_VALUE_CONST, &ty, out));
  qc_tensor_copy_ref(&g->values[*out].cst, t);
  return QC_OK;
}

qc_status qc_graph_add_outer(qc_graph *g, const char *name, const qc_type *t, qc_vid *out) {
  if (!name || !*name) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "a capture needs a name");
  return new_value(g, name, QC_VALUE_OUTER, t, out);
}

qc_status qc_graph_add_output(qc_graph *g, qc_vid v) {
  if (v < 0 || v >= g->n_values)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "output value %d out of range", v);
  if (!qc_grow(&g->alloc, (void **)&g->outputs, &g->cap_outputs, g->n_outputs + 1,
               sizeof *g->outputs))
    return QC_OOM();
  g->outputs[g->n_outputs++] = v;
  return QC_OK;
}

int32_t qc_graph_num_inputs(const qc_graph *g) { return g->n_inputs; }
qc_vid qc_graph_input(const qc_graph *g, int32_t i) { return g->inputs[i]; }
int32_t qc_graph_num_outputs(const qc_graph *g) { return g->n_outputs; }
qc_vid qc_graph_output(const qc_graph *g, int32_t i) { return g->outputs[i]; }
void qc_graph_set_output(qc_graph *g, int32_t i, qc_vid v) { g->outputs[i] = v; }

qc_status qc_graph_remove_input(qc_graph *g, int32_t i) {
  if (i < 0 || i >= g->n_inputs)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "input %d out of range", i);
  qc_vid v = g->inputs[i];
  memmove(&g->inputs[i], &g->inputs[i + 1], (size_t)(g->n_inputs - i - 1) * sizeof *g->inputs);
  g->n_inputs--;
  for (int32_t k = 0; k < g->n_inputs; k++) g->values[g->inputs[k]].index = k;
  /* The value stays defined (as a constant-less placeholder) until compact removes it. */
  g->values[v].kind = QC_VALUE_OUTER;
  return QC_OK;
}

qc_status qc_graph_input_to_const(qc_graph *g, int32_t i, const qc_tensor *t) {
  if (i < 0 || i >= g->n_inputs)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "input %d out of range", i);
  qc_vid v = g->inputs[i];
  memmove(&g->inputs[i], &g->inputs[i + 1], (size_t)(g->n_inputs - i - 1) * sizeof *g->inputs);
  g->n_inputs--;
  for (int32_t k = 0; k < g->n_inputs; k++) g->values[g->inputs[k]].index = k;
  qc_value *val = &g->values[v];
  val->kind = QC_VALUE_CONST;
  val->index = 0;
  qc_tensor_copy_ref(&val->cst, t);
  val->type = qc_type_tensor(t->dtype, t->rank, t->dims);
  return QC_OK;
}

/* ---- nodes ------------------------------------------------------------------------------------ */

int32_t qc_graph_num_nodes(const qc_graph *g) { return g->n_nodes; }
const qc_node *qc_graph_node(const qc_graph *g, qc_nid n) {
  return n >= 0 && n < g->n_nodes ? &g->nodes[n] : NULL;
}

qc_status qc_graph_add_node(qc_graph *g, qc_op op, const char *name, int32_t n_in,
                            const qc_vid *in, int32_t n_out, const char *const *out_names,
                            qc_nid *out) {
  if (!qc_op_schema_of(op)) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "unknown op id %d", op);
  if (n_in < 0 || n_out < 0) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "negative arity");
  for (int32_t i = 0; i < n_in; i++)
    if (in[i] != QC_NONE && (in[i] < 0 || in[i] >= g->n_values))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "node '%s' (%s): input %d: no value %d",
                           name ? name : "", qc_op_name(op), i, in[i]);
  if (!qc_grow(&g->alloc, (void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes))
    return QC_OOM();
  qc_nid id = g->n_nodes;
  qc_node nd;
  memset(&nd, 0, sizeof nd);
  nd.op = op;
  nd.name = qc_arena_strdup(&g->arena, name ? name : "");
  nd.n_in = n_in;
  nd.n_out = n_out;
  nd.in = qc_arena_alloc(&g->arena, sizeof(qc_vid) * (size_t)(n_in ? n_in : 1));
  nd.out = qc_arena_alloc(&g->arena, sizeof(qc_vid) * (size_t)(n_out ? n_out : 1));
  if (!nd.name || !nd.in || !nd.out) return QC_OOM();
  if (n_in) memcpy(nd.in, in, sizeof(qc_vid) * (size_t)n_in);
  for (int32_t i = 0; i < n_out; i++) {
    const char *on = out_names ? out_names[i] : NULL;
    if (on && !*on) {
      nd.out[i] = QC_NONE;
      continue;
    }
    qc_vid v;
    qc_status s = new_value(g, on, QC_VALUE_NODE, NULL, &v);
    if (s) return qc_status_wrap(s, "node '%s' (%s)", nd.name, qc_op_name(op));
    g->values[v].node = id;
    g->values[v].index = i;
    nd.out[i] = v;
  }
  g->nodes[id] = nd;
  g->n_nodes++;
  *out = id;
  return QC_OK;
}

qc_status qc_graph_add_op(qc_graph *g, qc_op op, const char *name, int32_t n_in, const qc_vid *in,
                          const char *out_name, qc_vid *out) {
  qc_nid n;
  const char *names[1] = {out_name};
  QC_RETURN_IF_ERROR(qc_graph_add_node(g, op, name, n_in, in, 1, names, &n));
  *out = g->nodes[n].out[0];
  return QC_OK;
}

qc_status qc_attr_copy(qc_graph *g, qc_attr *d, const qc_attr *s, bool clone_graphs) {
  qc_arena *ar = &g->arena;
  *d = *s;
  d->name = qc_arena_strdup(ar, s->name);
  if (!d->name) return QC_OOM();
  switch (s->kind) {
  case QC_ATTR_STRING:
    d->u.s = qc_arena_memdup0(ar, s->u.s ? s->u.s : "", (size_t)s->n);
    if (!d->u.s) return QC_OOM();
    break;
  case QC_ATTR_INTS:
    d->u.ints = qc_arena_alloc(ar, sizeof(int64_t) * (size_t)s->n);
    if (!d->u.ints) return QC_OOM();
    if (s->n) memcpy(d->u.ints, s->u.ints, sizeof(int64_t) * (size_t)s->n);
    break;
  case QC_ATTR_FLOATS:
    d->u.floats = qc_arena_alloc(ar, sizeof(double) * (size_t)s->n);
    if (!d->u.floats) return QC_OOM();
    if (s->n) memcpy(d->u.floats, s->u.floats, sizeof(double) * (size_t)s->n);
    break;
  case QC_ATTR_STRINGS:
    d->u.strs.v = qc_arena_alloc(ar, sizeof(char *) * (size_t)s->n);
    d->u.strs.len = qc_arena_alloc(ar, sizeof(int32_t) * (size_t)s->n);
    if (!d->u.strs.v || !d->u.strs.len) return QC_OOM();
    for (int32_t i = 0; i < s->n; i++) {
      d->u.strs.len[i] = s->u.strs.len[i];
      d->u.strs.v[i] = qc_arena_memdup0(ar, s->u.strs.v[i], (size_t)s->u.strs.len[i]);
      if (!d->u.strs.v[i]) return QC_OOM();
    }
    break;
  case QC_ATTR_TENSOR:
    d->u.t = qc_arena_alloc(ar, sizeof(qc_tensor));
    if (!d->u.t) return QC_OOM();
    qc_tensor_copy_ref(d->u.t, s->u.t);
    break;
  case QC_ATTR_TENSORS:
    d->u.tensors = qc_arena_alloc(ar, sizeof(qc_tensor) * (size_t)s->n);
    if (!d->u.tensors) return QC_OOM();
    for (int32_t i = 0; i < s->n; i++) qc_tensor_copy_ref(&d->u.tensors[i], &s->u.tensors[i]);
    break;
  case QC_ATTR_TYPE:
    d->u.type = qc_arena_alloc(ar, sizeof(qc_type));
    if (!d->u.type) return QC_OOM();
    *d->u.type = *s->u.type;
    break;
  case QC_ATTR_GRAPH:
    if (clone_graphs) {
      d->u.g = NULL;
      QC_RETURN_IF_ERROR(qc_graph_clone(s->u.g, &d->u.g));
    }
    d->u.g->parent = g;
    break;
  case QC_ATTR_GRAPHS:
    d->u.graphs = qc_arena_alloc(ar, sizeof(qc_graph *) * (size_t)s->n);
    if (!d->u.graphs) return QC_OOM();
    for (int32_t i = 0; i < s->n; i++) {
      if (clone_graphs) QC_RETURN_IF_ERROR(qc_graph_clone(s->u.graphs[i], &d->u.graphs[i]));
      else d->u.graphs[i] = s->u.graphs[i];
      d->u.graphs[i]->parent = g;
    }
    break;
  default: break;
  }
  return QC_OK;
}

qc_status qc_node_set_attr(qc_graph *g, qc_nid n, const qc_attr *a) {
  if (n < 0 || n >= g->n_nodes) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "no node %d", n);
  qc_node *nd = &g->nodes[n];
  qc_attr copy;
  QC_RETURN_IF_ERROR(qc_attr_copy(g, &copy, a, false));
  for (int32_t i = 0; i < nd->n_attr; i++)
    if (strcmp(nd->attr[i].name, a->name) == 0) {
      qc_attr_release(&nd->attr[i]);
      nd->attr[i] = copy;
      return QC_OK;
    }
  qc_attr *arr = qc_arena_alloc(&g->arena, sizeof(qc_attr) * (size_t)(nd->n_attr + 1));
  if (!arr) return QC_OOM();
  if (nd->n_attr) memcpy(arr, nd->attr, sizeof(qc_attr) * (size_t)nd->n_attr);
  arr[nd->n_attr] = copy;
  nd->attr = arr;
  nd->n_attr++;
  return QC_OK;
}

qc_status qc_node_set_int(qc_graph *g, qc_nid n, const char *name, int64_t v) {
  qc_attr a = {.name = name, .kind = QC_ATTR_INT, .u.i = v};
  return qc_node_set_attr(g, n, &a);
}
qc_status qc_node_set_float(qc_graph *g, qc_nid n, const char *name, double v) {
  qc_attr a = {.name = name, .kind = QC_ATTR_FLOAT, .u.f = v};
  return qc_node_set_attr(g, n, &a);
}
qc_status qc_node_set_string(qc_graph *g, qc_nid n, const char *name, const char *v) {
  qc_attr a = {.name = name, .kind = QC_ATTR_STRING, .n = (int32_t)strlen(v), .u.s = v};
  return qc_node_set_attr(g, n, &a);
}
qc_status qc_node_set_ints(qc_graph *g, qc_nid n, const char *name, int32_t count,
                           const int64_t *v) {
  qc_attr a = {.name = name, .kind = QC_ATTR_INTS, .n = count, .u.ints = (int64_t *)v};
  return qc_node_set_attr(g, n, &a);
}
qc_status qc_node_set_floats(qc_graph *g, qc_nid n, const char *name, int32_t count,
                             const double *v) {
  qc_attr a = {.name = name, .kind = QC_ATTR_FLOATS, .n = count, .u.floats = (double *)v};
  return qc_node_set_attr(g, n, &a);
}
qc_status qc_node_set_tensor(qc_graph *g, qc_nid n, const char *name, const qc_tensor *t) {
  qc_attr a = {.name = name, .kind = QC_ATTR_TENSOR, .u.t = (qc_tensor *)t};
  return qc_node_set_attr(g, n, &a);
}

void qc_node_remove_attr(qc_graph *g, qc_nid n, const char *name) {
  qc_node *nd = &g->nodes[n];
  for (int32_t i = 0; i < nd->n_attr; i++)
    if (strcmp(nd->attr[i].name, name) == 0) {
      qc_attr_release(&nd->attr[i]);
      memmove(&nd->attr[i], &nd->attr[i + 1], sizeof(qc_attr) * (size_t)(nd->n_attr - i - 1));
      nd->n_attr--;
      return;
    }
}

void qc_node_set_input(qc_graph *g, qc_nid n, int32_t slot, qc_vid v) { g->nodes[n].in[slot] = v; }

qc_status qc_node_set_name(qc_graph *g, qc_nid n, const char *name) {
  const char *s = qc_arena_strdup(&g->arena, name);
  if (!s) return QC_OOM();
  g->nodes[n].name = s;
  return QC_OK;
}

const qc_attr *qc_node_attr(const qc_graph *g, qc_nid n, const char *name) {
  const qc_node *nd = &g->nodes[n];
  for (int32_t i = 0; i < nd->n_attr; i++)
    if (strcmp(nd->attr[i].name, name) == 0) return &nd->attr[i];
  return NULL;
}

int64_t qc_node_int(const qc_graph *g, qc_nid n, const char *name, int64_t dflt) {
  const qc_attr *a = qc_node_attr(g, n, name);
  if (a && a->kind == QC_ATTR_INT) return a->u.i;
  const qc_attr_schema *s = qc_op_attr_schema(g->nodes[n].op, name);
  if (s && s->has_default && s->kind == QC_ATTR_INT) return s->dflt_i;
  return dflt;
}

double qc_node_float(const qc_graph *g, qc_nid n, const char *name, double dflt) {
  const qc_attr *a = qc_node_attr(g, n, name);
  if (a && a->kind == QC_ATTR_FLOAT) return a->u.f;
  if (a && a->kind == QC_ATTR_INT) return (double)a->u.i;
  const qc_attr_schema *s = qc_op_attr_schema(g->nodes[n].op, name);
  if (s && s->has_default && s->kind == QC_ATTR_FLOAT) return s->dflt_f;
  return dflt;
}

const char *qc_node_string(const qc_graph *g, qc_nid n, const char *name, const char *dflt) {
  const qc_attr *a = qc_node_attr(g, n, name);
  if (a && a->kind == QC_ATTR_STRING) return a->u.s;
  const qc_attr_schema *s = qc_op_attr_schema(g->nodes[n].op, name);
  if (s && s->has_default && s->kind == QC_ATTR_STRING) return s->dflt_s;
  return dflt;
}

int64_t qc_node_version(const qc_graph *g, qc_nid n) {
  const qc_op_schema *s = qc_op_schema_of(g->nodes[n].op);
  return qc_graph_opset(g, s ? s->domain : "");
}

void qc_graph_erase_node(qc_graph *g, qc_nid n) {
  if (n >= 0 && n < g->n_nodes) g->nodes[n].dead = 1;
}

const char *qc_node_desc(const qc_graph *g, qc_nid n) {
  static _Thread_local char buf[512];
  const qc_node *nd = qc_graph_node(g, n);
  if (!nd) {
    snprintf(buf, sizeof buf, "node #%d", n);
    return buf;
  }
  const qc_op_schema *s = qc_op_schema_of(nd->op);
  if (nd->name && *nd->name)
    snprintf(buf, sizeof buf, "node '%s' (%s%s%s)", nd->name, s && *s->domain ? s->domain : "",
             s && *s->domain ? "." : "", s ? s->name : "?");
  else
    snprintf(buf, sizeof buf, "node #%d (%s%s%s)", n, s && *s->domain ? s->domain : "",
             s && *s->domain ? "." : "", s ? s->name : "?");
  return buf;
}

/* ---- captures ------------------------------------------------------------------------------- */

typedef struct capture_ctx {
  const qc_graph *scope; /* names defined here (non-OUTER) are not captures of the caller */
  void (*fn)(void *, const char *);
  void *user;
} capture_ctx;

static void capture_filter(void *user, const char *name) {
  capture_ctx *c = user;
  qc_vid v = qc_graph_find(c->scope, name);
  if (v >= 0 && c->scope->values[v].kind != QC_VALUE_OUTER) return;
  c->fn(c->user, name);
}

void qc_graph_for_each_capture(const qc_graph *g, void (*fn)(void *user, const char *name),
                               void *user) {
  for (int32_t i = 0; i < g->n_values; i++)
    if (g->values[i].kind == QC_VALUE_OUTER) fn(user, g->values[i].name);
  capture_ctx c = {g, fn, user};
  for (int32_t n = 0; n < g->n_nodes; n++) {
    const qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    for (int32_t k = 0; k < nd->n_attr; k++) {
      const qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_GRAPH) qc_graph_for_each_capture(a->u.g, capture_filter, &c);
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < a->n; j++) qc_graph_for_each_capture(a->u.graphs[j], capture_filter, &c);
    }
  }
}

/* Calls fn(user, v) for each value of g that node n's sub-graphs capture. */
typedef struct node_capture_ctx {
  const qc_graph *g;
  void (*fn)(void *, qc_vid);
  void *user;
} node_capture_ctx;

static void node_capture_cb(void *user, const char *name) {
  node_capture_ctx *c = user;
  qc_vid v = qc_graph_find(c->g, name);
  if (v >= 0) c->fn(c->user, v);
}

static void for_each_node_capture(const qc_graph *g, const qc_node *nd,
                                  void (*fn)(void *, qc_vid), void *user) {
  node_capture_ctx c = {g, fn, user};
  for (int32_t k = 0; k < nd->n_attr; k++) {
    const qc_attr *a = &nd->attr[k];
    if (a->kind == QC_ATTR_GRAPH) qc_graph_for_each_capture(a->u.g, node_capture_cb, &c);
    if (a->kind == QC_ATTR_GRAPHS)
      for (int32_t j = 0; j < a->n; j++) qc_graph_for_each_capture(a->u.graphs[j], node_capture_cb, &c);
  }
}

static bool node_has_subgraph(const qc_node *nd) {
  for (int32_t k = 0; k < nd->n_attr; k++)
    if (nd->attr[k].kind == QC_ATTR_GRAPH || nd->attr[k].kind == QC_ATTR_GRAPHS) return true;
  return false;
}

/* ---- uses --------------------------------------------------------------------------------- */

typedef struct uses_build {
  qc_uses *u;
  int32_t *fill;
  qc_nid node;
  bool counting;
} uses_build;

static void uses_capture(void *user, qc_vid v) {
  uses_build *b = user;
  if (b->counting) b->u->start[v + 1]++;
  else b->u->use[b->fill[v]++] = (qc_use){b->node, QC_USE_CAPTURE};
}

qc_status qc_uses_compute(const qc_graph *g, qc_uses *u) {
  const qc_allocator *a = &g->alloc;
  memset(u, 0, sizeof *u);
  u->n_values = g->n_values;
  u->start = qc_calloc(a, (size_t)g->n_values + 1, sizeof(int32_t));
  int32_t *fill = qc_calloc(a, (size_t)g->n_values + 1, sizeof(int32_t));
  if (!u->start || !fill) {
    qc_free(a, u->start, ((size_t)g->n_values + 1) * sizeof(int32_t));
    qc_free(a, fill, ((size_t)g->n_values + 1) * sizeof(int32_t));
    return QC_OOM();
  }
  uses_build b = {u, fill, 0, true};
  for (int pass = 0; pass < 2; pass++) {
    b.counting = pass == 0;
    for (qc_nid n = 0; n < g->n_nodes; n++) {
      const qc_node *nd = &g->nodes[n];
      if (nd->dead) continue;
      for (int32_t i = 0; i < nd->n_in; i++) {
        qc_vid v = nd->in[i];
        if (v < 0) continue;
        if (b.counting) u->start[v + 1]++;
        else u->use[fill[v]++] = (qc_use){n, i};
      }
      if (node_has_subgraph(nd)) {
        b.node = n;
        for_each_node_capture(g, nd, uses_capture, &b);
      }
    }
    for (int32_t k = 0; k < g->n_outputs; k++) {
      qc_vid v = g->outputs[k];
      if (v < 0) continue;
      if (b.counting) u->start[v + 1]++;
      else u->use[fill[v]++] = (qc_use){QC_NONE, k};
    }
    if (pass == 0) {
      for (int32_t v = 0; v < g->n_values; v++) u->start[v + 1] += u->start[v];
      int32_t total = u->start[g->n_values];
      u->use = qc_alloc(a, sizeof(qc_use) * (size_t)(total ? total : 1));
      if (!u->use) {
        qc_free(a, fill, ((size_t)g->n_values + 1) * sizeof(int32_t));
        qc_uses_free(g, u);
        return QC_OOM();
      }
      for (int32_t v = 0; v < g->n_values; v++) fill[v] = u->start[v];
    }
  }
  qc_free(a, fill, ((size_t)g->n_values + 1) * sizeof(int32_t));
  return QC_OK;
}

void qc_uses_free(const qc_graph *g, qc_uses *u) {
  const qc_allocator *a = &g->alloc;
  if (u->start) {
    int32_t total = u->start[u->n_values];
    qc_free(a, u->use, sizeof(qc_use) * (size_t)(total ? total : 1));
  }
  qc_free(a, u->start, ((size_t)u->n_values + 1) * sizeof(int32_t));
  memset(u, 0, sizeof *u);
}

/* ---- replace uses -------------------------------------------------------------------------- */

static qc_status rename_captures(qc_graph *sub, const char *from, const char *to) {
  qc_vid v = qc_graph_find(sub, from);
  if (v >= 0) {
    if (sub->values[v].kind != QC_VALUE_OUTER) return QC_OK; /* shadowed: not ours below */
    qc_vid other = qc_graph_find(sub, to);
    if (other >= 0 && other != v) {
      /* Already captures `to`: point uses of v at it. */
      QC_RETURN_IF_ERROR(qc_graph_replace_uses(sub, v, other));
    } else {
      QC_RETURN_IF_ERROR(qc_graph_rename(sub, v, to));
    }
  }
  for (int32_t n = 0; n < sub->n_nodes; n++) {
    qc_node *nd = &sub->nodes[n];
    for (int32_t k = 0; k < nd->n_attr; k++) {
      qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_GRAPH) QC_RETURN_IF_ERROR(rename_captures(a->u.g, from, to));
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < a->n; j++) QC_RETURN_IF_ERROR(rename_captures(a->u.graphs[j], from, to));
    }
  }
  return QC_OK;
}

qc_status qc_graph_replace_uses(qc_graph *g, qc_vid from, qc_vid to) {
  if (from < 0 || from >= g->n_values || to < 0 || to >= g->n_values)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "replace_uses: value out of range");
  if (from == to) return QC_OK;
  for (qc_nid n = 0; n < g->n_nodes; n++) {
    qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    for (int32_t i = 0; i < nd->n_in; i++)
      if (nd->in[i] == from) nd->in[i] = to;
    for (int32_t k = 0; k < nd->n_attr; k++) {
      qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_GRAPH)
        QC_RETURN_IF_ERROR(rename_captures(a->u.g, g->values[from].name, g->values[to].name));
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < a->n; j++)
          QC_RETURN_IF_ERROR(
              rename_captures(a->u.graphs[j], g->values[from].name, g->values[to].name));
    }
  }
  for (int32_t k = 0; k < g->n_outputs; k++)
    if (g->outputs[k] == from) g->outputs[k] = to;
  return QC_OK;
}

/* ---- topological order --------------------------------------------------------------------- */

typedef struct topo {
  const qc_graph *g;
  uint8_t *state; /* 0 new, 1 on stack, 2 done */
  qc_nid *order;
  int32_t n_order;
  qc_nid cycle_at;
} topo;

typedef struct topo_frame {
  qc_nid n;
  int32_t next; /* next dependency index to visit */
} topo_frame;

/* Dependencies of node n: producers of its inputs and of the values its sub-graphs capture. */
typedef struct dep_list {
  qc_nid *v;
  int32_t n, cap;
  const qc_allocator *a;
  const qc_graph *g;
  bool oom;
} dep_list;

static void dep_add(void *user, qc_vid v) {
  dep_list *d = user;
  if (v < 0 || d->g->values[v].kind != QC_VALUE_NODE) return;
  if (!qc_grow(d->a, (void **)&d->v, &d->cap, d->n + 1, sizeof(qc_nid))) {
    d->oom = true;
    return;
  }
  d->v[d->n++] = d->g->values[v].node;
}

qc_status qc_graph_toposort(qc_graph *g) {
  const qc_allocator *a = &g->alloc;
  int32_t N = g->n_nodes;
  if (N == 0) return QC_OK;
  /* Dependency lists in CSR form. */
  int32_t *dstart = qc_calloc(a, (size_t)N + 1, sizeof(int32_t));
  dep_list all = {NULL, 0, 0, a, g, false};
  uint8_t *state = qc_calloc(a, (size_t)N, 1);
  qc_nid *order = qc_calloc(a, (size_t)N, sizeof(qc_nid));
  topo_frame *stack = qc_calloc(a, (size_t)N, sizeof(topo_frame));
  qc_status st = QC_OK;
  if (!dstart || !state || !order || !stack) {
    st = QC_OOM();
    goto done;
  }
  for (qc_nid n = 0; n < N; n++) {
    const qc_node *nd = &g->nodes[n];
    for (int32_t i = 0; i < nd->n_in; i++) dep_add(&all, nd->in[i]);
    if (node_has_subgraph(nd)) for_each_node_capture(g, nd, dep_add, &all);
    dstart[n + 1] = all.n;
  }
  if (all.oom) {
    st = QC_OOM();
    goto done;
  }
  int32_t n_order = 0;
  for (qc_nid root = 0; root < N; root++) {
    if (state[root]) continue;
    int32_t sp = 0;
    stack[sp++] = (topo_frame){root, dstart[root]};
    state[root] = 1;
    while (sp) {
      topo_frame *f = &stack[sp - 1];
      if (f->next < dstart[f->n + 1]) {
        qc_nid d = all.v[f->next++];
        if (state[d] == 1) {
          st = qc_status_new(QC_CODE_VERIFY, "the graph has a cycle through %s",
                             qc_node_desc(g, d));
          goto done;
        }
        if (state[d] == 0) {
          state[d] = 1;
          stack[sp++] = (topo_frame){d, dstart[d]};
        }
      } else {
        state[f->n] = 2;
        order[n_order++] = f->n;
        sp--;
      }
    }
  }
  /* Permute nodes into `order`, fix value->node links. */
  bool identity = true;
  for (int32_t i = 0; i < N; i++)
    if (order[i] != i) identity = false;
  if (!identity) {
    qc_node *nn = qc_alloc(a, sizeof(qc_node) * (size_t)g->cap_nodes);
    if (!nn) {
      st = QC_OOM();
      goto done;
    }
    for (int32_t i = 0; i < N; i++) {
      nn[i] = g->nodes[order[i]];
      for (int32_t k = 0; k < nn[i].n_out; k++)
        if (nn[i].out[k] >= 0) g->values[nn[i].out[k]].node = i;
    }
    qc_free(a, g->nodes, sizeof(qc_node) * (size_t)g->cap_nodes);
    g->nodes = nn;
  }
done:
  qc_free(a, dstart, ((size_t)N + 1) * sizeof(int32_t));
  qc_free(a, all.v, (size_t)all.cap * sizeof(qc_nid));
  qc_free(a, state, (size_t)N);
  qc_free(a, order, (size_t)N * sizeof(qc_nid));
  qc_free(a, stack, (size_t)N * sizeof(topo_frame));
  return st;
}

/* ---- compaction ---------------------------------------------------------------------------- */

qc_status qc_graph_compact(qc_graph *g) {
  const qc_allocator *a = &g->alloc;
  int32_t NV = g->n_values, NN = g->n_nodes;
  int32_t *vmap = qc_alloc(a, sizeof(int32_t) * (size_t)(NV ? NV : 1));
  int32_t *nmap = qc_alloc(a, sizeof(int32_t) * (size_t)(NN ? NN : 1));
  uint8_t *live = qc_calloc(a, (size_t)(NV ? NV : 1), 1);
  if (!vmap || !nmap || !live) {
    qc_free(a, vmap, sizeof(int32_t) * (size_t)(NV ? NV : 1));
    qc_free(a, nmap, sizeof(int32_t) * (size_t)(NN ? NN : 1));
    qc_free(a, live, (size_t)(NV ? NV : 1));
    return QC_OOM();
  }
  /* Live values: inputs, outputs, everything live nodes read, capture or define. */
  for (int32_t i = 0; i < g->n_inputs; i++) live[g->inputs[i]] = 1;
  for (int32_t i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] >= 0) live[g->outputs[i]] = 1;
  for (qc_nid n = 0; n < NN; n++) {
    const qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    for (int32_t i = 0; i < nd->n_in; i++)
      if (nd->in[i] >= 0) live[nd->in[i]] = 1;
    for (int32_t i = 0; i < nd->n_out; i++)
      if (nd->out[i] >= 0) live[nd->out[i]] = 1;
  }
  qc_uses u;
  qc_status s = qc_uses_compute(g, &u);
  if (s) {
    qc_free(a, vmap, sizeof(int32_t) * (size_t)(NV ? NV : 1));
    qc_free(a, nmap, sizeof(int32_t) * (size_t)(NN ? NN : 1));
    qc_free(a, live, (size_t)(NV ? NV : 1));
    return s;
  }
  for (int32_t v = 0; v < NV; v++)
    if (qc_uses_count(&u, v)) live[v] = 1;
  qc_uses_free(g, &u);
  /* Nodes. */
  int32_t nn = 0;
  for (qc_nid n = 0; n < NN; n++) {
    if (g->nodes[n].dead) {
      for (int32_t k = 0; k < g->nodes[n].n_attr; k++) qc_attr_release(&g->nodes[n].attr[k]);
      nmap[n] = QC_NONE;
      continue;
    }
    nmap[n] = nn;
    g->nodes[nn++] = g->nodes[n];
  }
  g->n_nodes = nn;
  /* Values. */
  int32_t nv = 0;
  qc_strmap_clear(&g->names);
  for (qc_vid v = 0; v < NV; v++) {
    qc_value *val = &g->values[v];
    if (!live[v] || (val->kind == QC_VALUE_NODE && nmap[val->node] == QC_NONE)) {
      if (val->kind == QC_VALUE_CONST) qc_tensor_release(&val->cst);
      vmap[v] = QC_NONE;
      continue;
    }
    vmap[v] = nv;
    g->values[nv] = *val;
    if (g->values[nv].kind == QC_VALUE_NODE) g->values[nv].node = nmap[val->node];
    if (!qc_strmap_put(&g->names, g->values[nv].name, nv)) s = QC_OOM();
    nv++;
  }
  g->n_values = nv;
  for (qc_nid n = 0; n < g->n_nodes; n++) {
    qc_node *nd = &g->nodes[n];
    for (int32_t i = 0; i < nd->n_in; i++)
      if (nd->in[i] >= 0) nd->in[i] = vmap[nd->in[i]];
    for (int32_t i = 0; i < nd->n_out; i++)
      if (nd->out[i] >= 0) nd->out[i] = vmap[nd->out[i]];
  }
  for (int32_t i = 0; i < g->n_inputs; i++) g->inputs[i] = vmap[g->inputs[i]];
  for (int32_t i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] >= 0) g->outputs[i] = vmap[g->outputs[i]];
  qc_free(a, vmap, sizeof(int32_t) * (size_t)(NV ? NV : 1));
  qc_free(a, nmap, sizeof(int32_t) * (size_t)(NN ? NN : 1));
  qc_free(a, live, (size_t)(NV ? NV : 1));
  return s;
}

/* ---- clone -------------------------------------------------------------------------------- */

qc_status qc_graph_clone(const qc_graph *src, qc_graph **out) {
  qc_graph *g;
  *out = NULL;
  QC_RETURN_IF_ERROR(qc_graph_create(&src->alloc, &g));
  qc_status s = QC_OK;
#define CHECK(x)                                                                                   \
  do {                                                                                             \
    if ((s = (x))) goto fail;                                                                      \
  } while (0)
  g->name = qc_arena_strdup(&g->arena, src->name);
  g->parent = src->parent;
  g->name_counter = src->name_counter;
  for (int32_t i = 0; i < src->n_opsets; i++)
    CHECK(qc_graph_set_opset(g, src->opsets[i].domain, src->opsets[i].version));
  for (int32_t i = 0; i < src->n_meta; i++)
    CHECK(qc_graph_set_meta(g, src->meta[i].key, src->meta[i].value));
  for (int32_t i = 0; i < src->n_syms; i++)
    if (qc_graph_sym(g, src->syms[i]) == QC_DIM_UNKNOWN) CHECK(QC_OOM());
  if (!qc_grow(&g->alloc, (void **)&g->values, &g->cap_values, src->n_values, sizeof(qc_value)) ||
      !qc_grow(&g->alloc, (void **)&g->nodes, &g->cap_nodes, src->n_nodes, sizeof(qc_node)) ||
      !qc_grow(&g->alloc, (void **)&g->inputs, &g->cap_inputs, src->n_inputs, sizeof(qc_vid)) ||
      !qc_grow(&g->alloc, (void **)&g->outputs, &g->cap_outputs, src->n_outputs, sizeof(qc_vid)))
    CHECK(QC_OOM());
  for (qc_vid v = 0; v < src->n_values; v++) {
    qc_value val = src->values[v];
    val.name = qc_arena_strdup(&g->arena, val.name);
    if (!val.name) CHECK(QC_OOM());
    if (val.kind == QC_VALUE_CONST) qc_buffer_retain(val.cst.buf);
    g->values[v] = val;
    g->n_values = v + 1;
    if (!qc_strmap_put(&g->names, val.name, v)) CHECK(QC_OOM());
  }
  for (qc_nid n = 0; n < src->n_nodes; n++) {
    const qc_node *sn = &src->nodes[n];
    qc_node nd = *sn;
    nd.name = qc_arena_strdup(&g->arena, sn->name);
    nd.in = qc_arena_alloc(&g->arena, sizeof(qc_vid) * (size_t)(sn->n_in ? sn->n_in : 1));
    nd.out = qc_arena_alloc(&g->arena, sizeof(qc_vid) * (size_t)(sn->n_out ? sn->n_out : 1));
    nd.attr = qc_arena_alloc(&g->arena, sizeof(qc_attr) * (size_t)(sn->n_attr ? sn->n_attr : 1));
    if (!nd.name || !nd.in || !nd.out || !nd.attr) CHECK(QC_OOM());
    if (sn->n_in) memcpy(nd.in, sn->in, sizeof(qc_vid) * (size_t)sn->n_in);
    if (sn->n_out) memcpy(nd.out, sn->out, sizeof(qc_vid) * (size_t)sn->n_out);
    nd.n_attr = 0;
    g->nodes[n] = nd;
    g->n_nodes = n + 1;
    for (int32_t k = 0; k < sn->n_attr; k++) {
      CHECK(qc_attr_copy(g, &g->nodes[n].attr[k], &sn->attr[k], true));
      g->nodes[n].n_attr = k + 1;
    }
  }
  if (src->n_inputs) memcpy(g->inputs, src->inputs, sizeof(qc_vid) * (size_t)src->n_inputs);
  g->n_inputs = src->n_inputs;
  if (src->n_outputs) memcpy(g->outputs, src->outputs, sizeof(qc_vid) * (size_t)src->n_outputs);
  g->n_outputs = src->n_outputs;
#undef CHECK
  *out = g;
  return QC_OK;
fail:
  qc_graph_destroy(g);
  return s;
}
