/*
 * The ONNX importer: ModelProto -> qc_graph.
 *
 * The file is checked by qc_onnx_unpack (wire format and nesting depth) and decoded by
 * protobuf-c; then one pass over the graph builds values and nodes. Names resolve
 * through a chain of frames:
 *
 *   - a graph frame per GraphProto (the main graph and each If/Loop/Scan/SequenceMap
 *     body); a name found in an enclosing graph's frame becomes a QC_VALUE_OUTER
 *     capture of the innermost graph (the interpreter and the capture analyses walk
 *     further out by name, so intermediate graphs need no capture of their own);
 *   - a function frame per call of a model-local function, which adds the body's nodes
 *     to the caller's graph. It maps formal inputs to the actual values, gives inner
 *     names fresh unique names ("<call>/<inner>"), and is a barrier: a body sees only
 *     its formals. Attributes with ref_attr_name take the caller's attribute or the
 *     function's default.
 *
 * Metadata needed to write the model back (IR version, producer, docs, metadata_props,
 * the original input list when initializers were inputs) is kept as graph metadata;
 * see quarc/onnx.h.
 */
#include "frontend/onnx_internal.h"
#include "quarc/onnx.h"

#include <stdio.h>
#include <stdlib.h>

#define S(x) ((x) ? (x) : "")
/* A formal input of a function that the caller left out. */
#define OMITTED (-2)
#define MAX_FN_DEPTH 32

/* Opset versions quarc accepts per known domain (others: whatever a registered op says). */
static const struct {
  const char *domain;
  int64_t lo, hi;
} DOMAINS[] = {
    {"", 1, 27},
    {"ai.onnx.ml", 1, 5},
    {"ai.onnx.preview.training", 1, 1},
    {"ai.onnx.preview", 1, 1},
    {"com.microsoft", 1, 1},
};

typedef struct frame frame;
struct frame {
  frame *parent;
  qc_graph *g;
  qc_strmap names;                 /* proto name -> vid in g (or OMITTED) */
  qc_strmap vinfo;                 /* proto name -> index into vinfo_list */
  Onnx__ValueInfoProto **vinfo_list;
  bool barrier;                    /* function body: outer frames are invisible */
  bool rename;                     /* inside a function body: define fresh names */
  const char *prefix;              /* for fresh names */
  frame *fn;                       /* nearest enclosing function frame, or NULL */
  /* Function frames only. */
  const Onnx__FunctionProto *func;
  Onnx__AttributeProto **call_attrs;
  size_t n_call_attrs;
  qc_strmap out_map;               /* formal output -> index of the caller's output */
  const Onnx__NodeProto *call;
};

typedef struct importer {
  const char *file;
  const qc_allocator *alloc;
  Onnx__ModelProto *m;
  qc_graph *root;
  qc_onnx_extdata ext;
  qc_arena arena;   /* fresh names, attribute copies */
  qc_strmap taken;  /* every name in the model and every generated one */
  int fn_depth;
  int64_t counter;
} importer;

/* ---- small helpers ------------------------------------------------------------------------ */

static const char *node_label(const Onnx__NodeProto *np, size_t index, char *buf, size_t n) {
  const char *dom = S(np->domain);
  if (np->name && *np->name)
    snprintf(buf, n, "node '%s' (%s%s%s)", np->name, dom, *dom ? "." : "", S(np->op_type));
  else
    snprintf(buf, n, "node #%zu (%s%s%s)", index, dom, *dom ? "." : "", S(np->op_type));
  return buf;
}

static bool domain_is_default(const char *d) { return !d || !*d || strcmp(d, "ai.onnx") == 0; }

static bool domain_eq(const char *a, const char *b) {
  if (domain_is_default(a)) return domain_is_default(b);
  return !domain_is_default(b) && strcmp(a, b) == 0;
}

static void frame_init(frame *f, importer *im, frame *parent, qc_graph *g) {
  memset(f, 0, sizeof *f);
  f->parent = parent;
  f->g = g;
  qc_strmap_init(&f->names, im->alloc);
  qc_strmap_init(&f->vinfo, im->alloc);
  qc_strmap_init(&f->out_map, im->alloc);
  if (parent) {
    f->rename = parent->rename;
    f->prefix = parent->prefix;
    f->fn = parent->fn;
  }
}

static void frame_free(frame *f) {
  qc_strmap_free(&f->names);
  qc_strmap_free(&f->vinfo);
  qc_strmap_free(&f->out_map);
}

/* The opset version of `domain` seen by nodes of frame f: the function's opset_import
 * inside a function body, else the model's. 0 if not imported. */
static int64_t frame_opset(importer *im, const frame *f, const char *domain) {
  if (f->fn) {
    const Onnx__FunctionProto *fp = f->fn->func;
    for (size_t i = 0; i < fp->n_opset_import; i++)
      if (domain_eq(fp->opset_import[i]->domain, domain)) return fp->opset_import[i]->version;
  }
  for (size_t i = 0; i < im->m->n_opset_import; i++)
    if (domain_eq(im->m->opset_import[i]->domain, domain)) return im->m->opset_import[i]->version;
  return 0;
}

static qc_status check_opset_range(const char *domain, int64_t version) {
  for (size_t i = 0; i < sizeof DOMAINS / sizeof *DOMAINS; i++)
    if (domain_eq(DOMAINS[i].domain, domain)) {
      if (version < DOMAINS[i].lo || version > DOMAINS[i].hi)
        return qc_status_new(QC_CODE_UNIMPLEMENTED,
                             "opset %lld of domain '%s' is not supported (quarc reads %lld..%lld)",
                             (long long)version, domain_is_default(domain) ? "ai.onnx" : domain,
                             (long long)DOMAINS[i].lo, (long long)DOMAINS[i].hi);
      return QC_OK;
    }
  return QC_OK;
}

/* Copy a type from graph `src` into graph `dst`, re-interning symbolic dims by name. */
static qc_type translate_type(qc_graph *dst, const qc_graph *src, const qc_type *t) {
  qc_type r = *t;
  if (dst == src || r.rank < 0) return r;
  for (int32_t i = 0; i < r.rank; i++) {
    const char *nm = qc_graph_sym_name(src, r.dims[i]);
    if (nm) r.dims[i] = qc_graph_sym(dst, nm);
  }
  return r;
}

/* ---- names -------------------------------------------------------------------------------- */

static void collect_graph_names(importer *im, const Onnx__GraphProto *gp, int depth);

static void take(importer *im, const char *name) {
  if (name && *name) (void)qc_strmap_put(&im->taken, name, 1);
}

static void collect_node_names(importer *im, const Onnx__NodeProto *np, int depth) {
  for (size_t k = 0; k < np->n_output; k++) take(im, np->output[k]);
  for (size_t k = 0; k < np->n_attribute; k++) {
    const Onnx__AttributeProto *a = np->attribute[k];
    if (a->g) collect_graph_names(im, a->g, depth + 1);
    for (size_t j = 0; j < a->n_graphs; j++) collect_graph_names(im, a->graphs[j], depth + 1);
  }
}

static void collect_graph_names(importer *im, const Onnx__GraphProto *gp, int depth) {
  if (depth > QC_ONNX_MAX_DEPTH) return;
  for (size_t i = 0; i < gp->n_input; i++) take(im, gp->input[i]->name);
  for (size_t i = 0; i < gp->n_initializer; i++) take(im, gp->initializer[i]->name);
  for (size_t i = 0; i < gp->n_sparse_initializer; i++)
    if (gp->sparse_initializer[i]->values) take(im, gp->sparse_initializer[i]->values->name);
  for (size_t i = 0; i < gp->n_node; i++) collect_node_names(im, gp->node[i], depth);
}

/* A name not used anywhere in the model: "<prefix>/<base>", "<prefix>/<base>.1", ... */
static const char *fresh(importer *im, const char *prefix, const char *base) {
  char *s = qc_arena_printf(&im->arena, "%s/%s", prefix, base);
  for (int64_t k = 1; s && qc_strmap_get(&im->taken, s) >= 0; k++)
    s = qc_arena_printf(&im->arena, "%s/%s.%lld", prefix, base, (long long)k);
  if (s && !qc_strmap_put(&im->taken, s, 1)) return NULL;
  return s;
}

/* A top-level prefix for the names of one inlined call: "<base>", "<base>.1", ... */
static const char *fresh_root(importer *im, const char *base) {
  char *s = qc_arena_strdup(&im->arena, base);
  for (int64_t k = 1; s && qc_strmap_get(&im->taken, s) >= 0; k++)
    s = qc_arena_printf(&im->arena, "%s.%lld", base, (long long)k);
  if (s && !qc_strmap_put(&im->taken, s, 1)) return NULL;
  return s;
}

/* The graph name for a value the frame defines under `proto_name`. */
static qc_status def_name(importer *im, frame *f, const char *proto_name, const char **out) {
  if (!f->rename) {
    *out = proto_name;
    return QC_OK;
  }
  *out = fresh(im, f->prefix, proto_name);
  return *out ? QC_OK : QC_OOM();
}

static qc_status bind(frame *f, const char *proto_name, qc_vid v) {
  if (qc_strmap_get(&f->names, proto_name) != -1)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "value '%s' is defined twice", proto_name);
  if (!qc_strmap_put(&f->names, proto_name, v)) return QC_OOM();
  return QC_OK;
}

/* Resolve a name used in frame f to a value of f->g, capturing it from an enclosing graph
 * if need be. QC_NONE for an omitted function input. */
static qc_status resolve(frame *f, const char *name, qc_vid *out) {
  for (frame *s = f; s; s = s->parent) {
    int32_t v = qc_strmap_get(&s->names, name);
    if (v == OMITTED) {
      *out = QC_NONE;
      return QC_OK;
    }
    if (v >= 0) {
      if (s->g == f->g) {
        *out = v;
        return QC_OK;
      }
      const qc_value *src = qc_graph_value(s->g, v);
      qc_vid have = qc_graph_find(f->g, src->name);
      if (have >= 0) {
        if (qc_graph_value(f->g, have)->kind != QC_VALUE_OUTER)
          return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                               "'%s' names both a value of this sub-graph and one of an "
                               "enclosing graph",
                               src->name);
        *out = have;
        return QC_OK;
      }
      qc_type t = translate_type(f->g, s->g, &src->type);
      return qc_graph_add_outer(f->g, src->name, &t, out);
    }
    if (s->barrier) break;
  }
  return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                       "'%s' is not defined before its use (missing, or the nodes are not in "
                       "topological order)",
                       name);
}

/* ---- types ---------------------------------------------------------------------------------- */

static qc_status tensor_type(qc_graph *g, int32_t elem, const Onnx__TensorShapeProto *shape,
                             qc_type *out) {
  *out = qc_type_unknown();
  if (elem) {
    out->dtype = qc_dtype_from_onnx(elem);
    if (out->dtype == QC_DT_UNDEFINED)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "unknown element type %d", elem);
  }
  if (!shape) return QC_OK;
  if (shape->n_dim > QC_MAX_RANK)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "rank %zu exceeds quarc's limit of %d",
                         shape->n_dim, QC_MAX_RANK);
  out->rank = (int32_t)shape->n_dim;
  for (size_t i = 0; i < shape->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *d = shape->dim[i];
    int64_t v = QC_DIM_UNKNOWN;
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0)
      v = d->dim_value;
    else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param &&
             *d->dim_param) {
      v = qc_graph_sym(g, d->dim_param);
      if (v == QC_DIM_UNKNOWN) return QC_OOM();
    }
    out->dims[i] = v;
  }
  return QC_OK;
}

static qc_status type_from_proto(qc_graph *g, const Onnx__TypeProto *tp, qc_type *out) {
  *out = qc_type_unknown();
  if (!tp) return QC_OK;
  switch (tp->value_case) {
  case ONNX__TYPE_PROTO__VALUE__NOT_SET: return QC_OK;
  case ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE:
    return tensor_type(g, tp->tensor_type->elem_type, tp->tensor_type->shape, out);
  case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: {
    const Onnx__TypeProto *e = tp->sequence_type->elem_type;
    if (e && e->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
        e->value_case != ONNX__TYPE_PROTO__VALUE__NOT_SET)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "sequences of non-tensors are not supported");
    QC_RETURN_IF_ERROR(type_from_proto(g, e, out));
    out->kind = QC_TYPE_SEQUENCE;
    return QC_OK;
  }
  case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: {
    const Onnx__TypeProto *e = tp->optional_type->elem_type;
    if (e && e->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE) {
      QC_RETURN_IF_ERROR(type_from_proto(g, e, out));
      out->kind = QC_TYPE_OPTIONAL_SEQUENCE;
      return QC_OK;
    }
    if (e && e->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
        e->value_case != ONNX__TYPE_PROTO__VALUE__NOT_SET)
      return qc_status_new(QC_CODE_UNIMPLEMENTED,
                           "optionals of anything but tensors and sequences are not supported");
    QC_RETURN_IF_ERROR(type_from_proto(g, e, out));
    out->kind = QC_TYPE_OPTIONAL;
    return QC_OK;
  }
  case ONNX__TYPE_PROTO__VALUE_MAP_TYPE:
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "map types are not supported");
  case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE:
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "sparse tensor types are not supported");
  case ONNX__TYPE_PROTO__VALUE_OPAQUE_TYPE:
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "opaque types are not supported");
  default: return qc_status_new(QC_CODE_PARSE, "unknown TypeProto case %d", (int)tp->value_case);
  }
}

static qc_status value_type(qc_graph *g, const Onnx__ValueInfoProto *vi, qc_type *out) {
  qc_status s = type_from_proto(g, vi->type, out);
  return qc_status_wrap(s, "value '%s'", S(vi->name));
}

/* Apply the value_info type recorded for `proto_name` (if any) to value v. */
static qc_status apply_value_info(frame *f, const char *proto_name, qc_vid v) {
  for (frame *s = f; s; s = s->parent) {
    int32_t i = qc_strmap_get(&s->vinfo, proto_name);
    if (i >= 0) {
      qc_type t;
      QC_RETURN_IF_ERROR(value_type(f->g, s->vinfo_list[i], &t));
      return qc_graph_set_type(f->g, v, &t);
    }
    if (s->barrier || s->g != f->g) break;
  }
  return QC_OK;
}

/* ---- attributes ----------------------------------------------------------------------------- */

static qc_status import_subgraph(importer *im, frame *f, const Onnx__GraphProto *gp,
                                 qc_graph **out);

static int attr_type(const Onnx__AttributeProto *a) {
  if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED) return a->type;
  /* Older writers leave the type out: take the one field that is set. */
  if (a->has_f) return QC_ATTR_FLOAT;
  if (a->has_i) return QC_ATTR_INT;
  if (a->has_s) return QC_ATTR_STRING;
  if (a->t) return QC_ATTR_TENSOR;
  if (a->g) return QC_ATTR_GRAPH;
  if (a->n_floats) return QC_ATTR_FLOATS;
  if (a->n_ints) return QC_ATTR_INTS;
  if (a->n_strings) return QC_ATTR_STRINGS;
  if (a->n_tensors) return QC_ATTR_TENSORS;
  if (a->n_graphs) return QC_ATTR_GRAPHS;
  if (a->tp) return QC_ATTR_TYPE;
  if (a->sparse_tensor) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR;
  return 0;
}

/* The attribute a node of frame f really has for `a`: itself, or, for a reference inside a
 * function body, the caller's attribute (or the function's default) — NULL if neither. */
static qc_status deref_attr(importer *im, frame *f, Onnx__AttributeProto *a,
                            Onnx__AttributeProto **out) {
  *out = a;
  if (!a->ref_attr_name || !*a->ref_attr_name) return QC_OK;
  if (!f->fn)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "attribute '%s' refers to '%s' outside a function body", S(a->name),
                         a->ref_attr_name);
  frame *fn = f->fn;
  Onnx__AttributeProto *src = NULL;
  for (size_t i = 0; i < fn->n_call_attrs; i++)
    if (strcmp(S(fn->call_attrs[i]->name), a->ref_attr_name) == 0) src = fn->call_attrs[i];
  if (!src)
    for (size_t i = 0; i < fn->func->n_attribute_proto; i++)
      if (strcmp(S(fn->func->attribute_proto[i]->name), a->ref_attr_name) == 0)
        src = fn->func->attribute_proto[i];
  if (!src) {
    *out = NULL;
    return QC_OK;
  }
  /* Same value under this attribute's name. */
  Onnx__AttributeProto *c = qc_arena_alloc(&im->arena, sizeof *c);
  if (!c) return QC_OOM();
  *c = *src;
  c->name = a->name;
  c->ref_attr_name = NULL;
  if (!c->has_type || c->type == 0) {
    c->has_type = 1;
    c->type = (Onnx__AttributeProto__AttributeType)attr_type(src);
  }
  *out = c;
  return QC_OK;
}

static void release_attr_payload(qc_attr *qa) {
  if (qa->kind == QC_ATTR_TENSOR && qa->u.t) qc_tensor_release(qa->u.t);
  if (qa->kind == QC_ATTR_TENSORS)
    for (int32_t i = 0; i < qa->n; i++) qc_tensor_release(&qa->u.tensors[i]);
  if (qa->kind == QC_ATTR_GRAPH) qc_graph_destroy(qa->u.g);
  if (qa->kind == QC_ATTR_GRAPHS)
    for (int32_t i = 0; i < qa->n; i++) qc_graph_destroy(qa->u.graphs[i]);
}

/* Convert one AttributeProto into `qa`. Payload arrays live in the importer's arena;
 * tensors hold references and graphs are owned until handed to the node. */
static qc_status convert_attr(importer *im, frame *f, const Onnx__NodeProto *np,
                              Onnx__AttributeProto *a, qc_attr *qa) {
  memset(qa, 0, sizeof *qa);
  qa->name = S(a->name);
  if (!*qa->name) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "an attribute has no name");
  int type = attr_type(a);
  qc_arena *ar = &im->arena;
  char what[256];
  snprintf(what, sizeof what, "attribute '%s'", qa->name);
  switch (type) {
  case QC_ATTR_FLOAT:
    qa->kind = QC_ATTR_FLOAT;
    qa->u.f = a->f;
    return QC_OK;
  case QC_ATTR_INT:
    qa->kind = QC_ATTR_INT;
    qa->u.i = a->i;
    return QC_OK;
  case QC_ATTR_STRING:
    if (a->s.len > INT32_MAX) return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: string too long", what);
    qa->kind = QC_ATTR_STRING;
    qa->n = (int32_t)a->s.len;
    qa->u.s = (const char *)a->s.data;
    return QC_OK;
  case QC_ATTR_FLOATS:
    qa->kind = QC_ATTR_FLOATS;
    qa->n = (int32_t)a->n_floats;
    qa->u.floats = qc_arena_alloc(ar, sizeof(double) * (a->n_floats + 1));
    if (!qa->u.floats) return QC_OOM();
    for (size_t i = 0; i < a->n_floats; i++) qa->u.floats[i] = a->floats[i];
    return QC_OK;
  case QC_ATTR_INTS:
    qa->kind = QC_ATTR_INTS;
    qa->n = (int32_t)a->n_ints;
    qa->u.ints = a->ints;
    return QC_OK;
  case QC_ATTR_STRINGS:
    qa->kind = QC_ATTR_STRINGS;
    qa->n = (int32_t)a->n_strings;
    qa->u.strs.v = qc_arena_alloc(ar, sizeof(char *) * (a->n_strings + 1));
    qa->u.strs.len = qc_arena_alloc(ar, sizeof(int32_t) * (a->n_strings + 1));
    if (!qa->u.strs.v || !qa->u.strs.len) return QC_OOM();
    for (size_t i = 0; i < a->n_strings; i++) {
      if (a->strings[i].len > INT32_MAX)
        return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: string too long", what);
      qa->u.strs.v[i] = a->strings[i].data ? (const char *)a->strings[i].data : "";
      qa->u.strs.len[i] = (int32_t)a->strings[i].len;
    }
    return QC_OK;
  case QC_ATTR_TENSOR: {
    if (!a->t) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: no tensor", what);
    qc_tensor *t = qc_arena_alloc(ar, sizeof *t);
    if (!t) return QC_OOM();
    QC_RETURN_IF_ERROR(qc_onnx_tensor_decode(a->t, &im->ext, what, f->fn == NULL, t));
    qa->kind = QC_ATTR_TENSOR;
    qa->u.t = t;
    return QC_OK;
  }
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: {
    if (!a->sparse_tensor) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: no tensor", what);
    qc_tensor *t = qc_arena_alloc(ar, sizeof *t);
    if (!t) return QC_OOM();
    QC_RETURN_IF_ERROR(qc_onnx_sparse_decode(a->sparse_tensor, &im->ext, what, t));
    qa->kind = QC_ATTR_TENSOR;
    qa->u.t = t;
    /* Constant's sparse_value is its value, made dense. */
    if (strcmp(S(np->op_type), "Constant") == 0 && domain_is_default(np->domain) &&
        strcmp(qa->name, "sparse_value") == 0)
      qa->name = "value";
    return QC_OK;
  }
  case QC_ATTR_TENSORS: {
    qc_tensor *ts = qc_arena_alloc(ar, sizeof *ts * (a->n_tensors + 1));
    if (!ts) return QC_OOM();
    qa->kind = QC_ATTR_TENSORS;
    qa->u.tensors = ts;
    for (size_t i = 0; i < a->n_tensors; i++) {
      qc_status s = qc_onnx_tensor_decode(a->tensors[i], &im->ext, what, f->fn == NULL, &ts[i]);
      if (s) {
        release_attr_payload(qa);
        return s;
      }
      qa->n = (int32_t)i + 1;
    }
    return QC_OK;
  }
  case QC_ATTR_GRAPH: {
    if (!a->g) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: no graph", what);
    qc_graph *sub;
    QC_RETURN_IF_ERROR(qc_status_wrap(import_subgraph(im, f, a->g, &sub), "%s", what));
    qa->kind = QC_ATTR_GRAPH;
    qa->u.g = sub;
    return QC_OK;
  }
  case QC_ATTR_GRAPHS: {
    qc_graph **gs = qc_arena_alloc(ar, sizeof *gs * (a->n_graphs + 1));
    if (!gs) return QC_OOM();
    qa->kind = QC_ATTR_GRAPHS;
    qa->u.graphs = gs;
    for (size_t i = 0; i < a->n_graphs; i++) {
      qc_status s = import_subgraph(im, f, a->graphs[i], &gs[i]);
      if (s) {
        release_attr_payload(qa);
        return qc_status_wrap(s, "%s: graph %zu", what, i);
      }
      qa->n = (int32_t)i + 1;
    }
    return QC_OK;
  }
  case QC_ATTR_TYPE: {
    if (!a->tp) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: no type", what);
    qc_type *t = qc_arena_alloc(ar, sizeof *t);
    if (!t) return QC_OOM();
    QC_RETURN_IF_ERROR(qc_status_wrap(type_from_proto(f->g, a->tp, t), "%s", what));
    qa->kind = QC_ATTR_TYPE;
    qa->u.type = t;
    return QC_OK;
  }
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS:
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: attribute type %d is not supported", what,
                         type);
  default:
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: no value (attribute type %d)", what, type);
  }
}

/* ---- nodes ------------------------------------------------------------------------------------ */

static qc_status import_graph_body(importer *im, frame *f, const Onnx__GraphProto *gp, bool root);
static qc_status import_node(importer *im, frame *f, Onnx__NodeProto *np, size_t index);

static const Onnx__FunctionProto *find_function(importer *im, const Onnx__NodeProto *np) {
  for (size_t i = 0; i < im->m->n_functions; i++) {
    const Onnx__FunctionProto *fp = im->m->functions[i];
    if (strcmp(S(fp->name), S(np->op_type)) == 0 && domain_eq(fp->domain, np->domain) &&
        strcmp(S(fp->overload), S(np->overload)) == 0)
      return fp;
  }
  return NULL;
}

/* Define the outputs of a node (or the formal outputs of an inlined call) in frame f:
 * their graph names, where a formal output of a function body is the caller's output. */
static qc_status output_names(importer *im, frame *f, Onnx__NodeProto *np, const char **names) {
  for (size_t i = 0; i < np->n_output; i++) {
    const char *o = S(np->output[i]);
    names[i] = "";
    if (!*o) continue;
    if (qc_strmap_get(&f->names, o) != -1)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "value '%s' is defined twice", o);
    if (f->fn == f) {
      int32_t j = qc_strmap_get(&f->out_map, o);
      if (j >= 0) {
        const Onnx__NodeProto *call = f->call;
        const char *actual = S(call->output[j]);
        if (*actual) {
          /* The caller's output: named as the caller's frame names it. */
          QC_RETURN_IF_ERROR(def_name(im, f->parent, actual, &names[i]));
          continue;
        }
      }
    }
    QC_RETURN_IF_ERROR(def_name(im, f, o, &names[i]));
  }
  return QC_OK;
}

static qc_status bind_outputs(frame *f, Onnx__NodeProto *np, const qc_node *nd) {
  for (size_t i = 0; i < np->n_output; i++) {
    const char *o = S(np->output[i]);
    if (!*o || nd->out[i] < 0) continue;
    QC_RETURN_IF_ERROR(bind(f, o, nd->out[i]));
    QC_RETURN_IF_ERROR(apply_value_info(f, o, nd->out[i]));
    if (f->fn && f == f->fn) {
      int32_t j = qc_strmap_get(&f->out_map, o);
      const char *actual = j >= 0 ? S(f->call->output[j]) : "";
      if (*actual) {
        QC_RETURN_IF_ERROR(bind(f->parent, actual, nd->out[i]));
        QC_RETURN_IF_ERROR(apply_value_info(f->parent, actual, nd->out[i]));
      }
    }
  }
  return QC_OK;
}

static qc_status inline_call(importer *im, frame *f, Onnx__NodeProto *np, size_t index,
                             const Onnx__FunctionProto *fp) {
  (void)index;
  if (im->fn_depth >= MAX_FN_DEPTH)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "function calls nest deeper than %d (a recursive function?)", MAX_FN_DEPTH);
  if (np->n_input > fp->n_input || np->n_output > fp->n_output)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "function '%s' takes %zu inputs and %zu outputs, the call has %zu and %zu",
                         S(fp->name), fp->n_input, fp->n_output, np->n_input, np->n_output);
  /* Opsets of the body must agree with the model's (one opset per domain in a graph). */
  for (size_t i = 0; i < fp->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = fp->opset_import[i];
    int64_t have = qc_graph_opset(im->root, domain_is_default(o->domain) ? "" : o->domain);
    if (have && have != o->version)
      return qc_status_new(QC_CODE_UNIMPLEMENTED,
                           "function '%s' imports opset %lld of domain '%s', the model %lld",
                           S(fp->name), (long long)o->version, S(o->domain), (long long)have);
    QC_RETURN_IF_ERROR(check_opset_range(S(o->domain), o->version));
    if (!have) QC_RETURN_IF_ERROR(qc_graph_set_opset(im->root, S(o->domain), o->version));
  }
  frame ff;
  frame_init(&ff, im, f, f->g);
  ff.barrier = true;
  ff.rename = true;
  ff.fn = &ff;
  ff.func = fp;
  ff.call = np;
  const char *base = np->name && *np->name ? np->name : S(fp->name);
  ff.prefix = f->prefix ? fresh(im, f->prefix, base) : fresh_root(im, base);
  qc_status s = ff.prefix ? QC_OK : QC_OOM();
  /* The caller's attributes, references resolved in the caller's frame. */
  ff.call_attrs = qc_arena_alloc(&im->arena, sizeof(Onnx__AttributeProto *) * (np->n_attribute + 1));
  if (!s && !ff.call_attrs) s = QC_OOM();
  for (size_t i = 0; !s && i < np->n_attribute; i++) {
    Onnx__AttributeProto *a;
    s = deref_attr(im, f, np->attribute[i], &a);
    if (!s && a) ff.call_attrs[ff.n_call_attrs++] = a;
  }
  for (size_t i = 0; !s && i < fp->n_input; i++) {
    const char *formal = S(fp->input[i]);
    const char *actual = i < np->n_input ? S(np->input[i]) : "";
    qc_vid v = QC_NONE;
    if (*actual) s = resolve(f, actual, &v);
    if (!s && !qc_strmap_put(&ff.names, formal, v == QC_NONE ? OMITTED : v)) s = QC_OOM();
  }
  for (size_t j = 0; !s && j < fp->n_output && j < np->n_output; j++)
    if (!qc_strmap_put(&ff.out_map, S(fp->output[j]), (int32_t)j)) s = QC_OOM();
  ff.vinfo_list = fp->value_info;
  for (size_t i = 0; !s && i < fp->n_value_info; i++)
    if (!qc_strmap_put(&ff.vinfo, S(fp->value_info[i]->name), (int32_t)i)) s = QC_OOM();
  im->fn_depth++;
  for (size_t i = 0; !s && i < fp->n_node; i++) s = import_node(im, &ff, fp->node[i], i);
  im->fn_depth--;
  /* A formal output no body node defines (it is an input or a capture): copy it. */
  for (size_t j = 0; !s && j < np->n_output; j++) {
    const char *actual = S(np->output[j]);
    if (!*actual || qc_strmap_get(&f->names, actual) >= 0) continue;
    qc_vid src;
    s = resolve(&ff, S(fp->output[j]), &src);
    if (s) break;
    const char *nm;
    s = def_name(im, f, actual, &nm);
    qc_vid v;
    if (!s) s = qc_graph_add_op(f->g, QC_OP_Identity, ff.prefix, 1, &src, nm, &v);
    if (!s) s = bind(f, actual, v);
    if (!s) s = apply_value_info(f, actual, v);
  }
  frame_free(&ff);
  if (s) {
    const char *dom = S(fp->domain);
    return qc_status_wrap(s, "function '%s%s%s'", dom, *dom ? "." : "", S(fp->name));
  }
  return QC_OK;
}

static void arity_str(int lo, int hi, char *buf, size_t n) {
  if (hi < 0) snprintf(buf, n, "%d or more", lo);
  else if (lo == hi) snprintf(buf, n, "%d", lo);
  else snprintf(buf, n, "%d..%d", lo, hi);
}

static qc_status import_node_inner(importer *im, frame *f, Onnx__NodeProto *np, size_t index) {
  const char *op_type = S(np->op_type);
  const char *domain = S(np->domain);
  if (!*op_type) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "no op_type");
  const Onnx__FunctionProto *fp = find_function(im, np);
  if (fp) return inline_call(im, f, np, index, fp);

  int64_t ver = frame_opset(im, f, domain);
  if (ver == 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "domain '%s' is not in the model's opset_import",
                         domain_is_default(domain) ? "ai.onnx" : domain);
  qc_op op = qc_op_lookup(domain, op_type);
  if (op == QC_OP_INVALID)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "unknown op '%s' in domain '%s'", op_type,
                         domain_is_default(domain) ? "ai.onnx" : domain);
  const qc_op_schema *sc = qc_op_schema_of(op);
  if (ver < sc->since || ver > sc->until) {
    char range[64];
    if (sc->until >= 999) snprintf(range, sizeof range, "%d and later", sc->since);
    else snprintf(range, sizeof range, "%d..%d", sc->since, sc->until);
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "opset %lld of domain '%s' is outside the versions quarc supports for "
                         "%s (%s)",
                         (long long)ver, domain_is_default(domain) ? "ai.onnx" : domain, op_type,
                         range);
  }
  if (np->n_input > INT16_MAX || np->n_output > INT16_MAX)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "too many inputs or outputs");
  if ((sc->max_in >= 0 && (int64_t)np->n_input > sc->max_in) ||
      (int64_t)np->n_input < sc->min_in) {
    char r[32];
    arity_str(sc->min_in, sc->max_in, r, sizeof r);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%zu inputs given, %s takes %s", np->n_input,
                         op_type, r);
  }
  if ((sc->max_out >= 0 && (int64_t)np->n_output > sc->max_out) ||
      (int64_t)np->n_output < sc->min_out) {
    char r[32];
    arity_str(sc->min_out, sc->max_out, r, sizeof r);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%zu outputs given, %s has %s", np->n_output,
                         op_type, r);
  }

  qc_vid *in = qc_arena_alloc(&im->arena, sizeof(qc_vid) * (np->n_input + 1));
  const char **onames = qc_arena_alloc(&im->arena, sizeof(char *) * (np->n_output + 1));
  qc_attr *attrs = qc_arena_alloc(&im->arena, sizeof(qc_attr) * (np->n_attribute + 1));
  if (!in || !onames || !attrs) return QC_OOM();
  for (size_t i = 0; i < np->n_input; i++) {
    const char *nm = S(np->input[i]);
    in[i] = QC_NONE;
    if (*nm) QC_RETURN_IF_ERROR(qc_status_wrap(resolve(f, nm, &in[i]), "input %zu", i));
  }
  /* Attributes (sub-graphs are imported here, before the node's outputs exist). */
  size_t n_attrs = 0;
  qc_status s = QC_OK;
  for (size_t k = 0; k < np->n_attribute && !s; k++) {
    Onnx__AttributeProto *a;
    s = deref_attr(im, f, np->attribute[k], &a);
    if (s || !a) continue;
    s = convert_attr(im, f, np, a, &attrs[n_attrs]);
    if (!s) n_attrs++;
  }
  if (!s) s = output_names(im, f, np, onames);
  qc_nid nid = QC_NONE;
  const char *node_name = S(np->name);
  if (!s && f->rename && *node_name) {
    node_name = qc_arena_printf(&im->arena, "%s/%s", f->prefix, node_name);
    if (!node_name) s = QC_OOM();
  }
  if (!s)
    s = qc_graph_add_node(f->g, op, node_name, (int32_t)np->n_input, in, (int32_t)np->n_output,
                          onames, &nid);
  /* Hand attributes to the node: set_attr copies arrays and retains tensors; graphs are
   * taken over. Whatever is not handed over is released. */
  size_t k = 0;
  for (; !s && k < n_attrs; k++) {
    s = qc_node_set_attr(f->g, nid, &attrs[k]);
    if (attrs[k].kind == QC_ATTR_TENSOR) qc_tensor_release(attrs[k].u.t);
    if (attrs[k].kind == QC_ATTR_TENSORS)
      for (int32_t j = 0; j < attrs[k].n; j++) qc_tensor_release(&attrs[k].u.tensors[j]);
    if (s && (attrs[k].kind == QC_ATTR_GRAPH || attrs[k].kind == QC_ATTR_GRAPHS))
      release_attr_payload(&attrs[k]);
  }
  for (; k < n_attrs; k++) release_attr_payload(&attrs[k]);
  if (s) return s;
  return bind_outputs(f, np, qc_graph_node(f->g, nid));
}

static qc_status import_node(importer *im, frame *f, Onnx__NodeProto *np, size_t index) {
  qc_status s = import_node_inner(im, f, np, index);
  if (s) {
    char buf[384];
    return qc_status_wrap(s, "%s", node_label(np, index, buf, sizeof buf));
  }
  return QC_OK;
}

/* ---- graphs ------------------------------------------------------------------------------------ */

static bool is_initializer(const Onnx__GraphProto *gp, const char *name) {
  for (size_t i = 0; i < gp->n_initializer; i++)
    if (strcmp(S(gp->initializer[i]->name), name) == 0) return true;
  return false;
}

static qc_status import_graph_body(importer *im, frame *f, const Onnx__GraphProto *gp, bool root) {
  qc_graph *g = f->g;
  f->vinfo_list = gp->value_info;
  for (size_t i = 0; i < gp->n_value_info; i++)
    if (!qc_strmap_put(&f->vinfo, S(gp->value_info[i]->name), (int32_t)i)) return QC_OOM();
  if (!f->rename && gp->name && *gp->name) QC_RETURN_IF_ERROR(qc_graph_set_name(g, gp->name));

  /* Inputs; initializers listed as inputs (IR < 4) become constants. */
  bool init_inputs = false;
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    const char *nm = S(vi->name);
    if (!*nm) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "graph input %zu has no name", i);
    if (is_initializer(gp, nm)) {
      if (!root)
        return qc_status_new(QC_CODE_UNIMPLEMENTED,
                             "sub-graph input '%s' has an initializer (a default value)", nm);
      init_inputs = true;
      continue;
    }
    qc_type t;
    QC_RETURN_IF_ERROR(value_type(g, vi, &t));
    const char *gn;
    QC_RETURN_IF_ERROR(def_name(im, f, nm, &gn));
    qc_vid v;
    QC_RETURN_IF_ERROR(qc_status_wrap(qc_graph_add_input(g, gn, &t, &v), "graph input"));
    QC_RETURN_IF_ERROR(bind(f, nm, v));
  }
  if (init_inputs) {
    size_t len = 1;
    for (size_t i = 0; i < gp->n_input; i++) len += strlen(S(gp->input[i]->name)) + 1;
    char *list = calloc(1, len), *p = list;
    if (!list) return QC_OOM();
    for (size_t i = 0; i < gp->n_input; i++) {
      size_t n = strlen(S(gp->input[i]->name));
      memcpy(p, S(gp->input[i]->name), n);
      p += n;
      *p++ = '\n';
    }
    if (p > list) p[-1] = 0;
    qc_status s = qc_graph_set_meta(g, QC_ONNX_META_INPUTS, list);
    free(list);
    QC_RETURN_IF_ERROR(s);
  }

  /* Constants. */
  for (size_t i = 0; i < gp->n_initializer; i++) {
    Onnx__TensorProto *tp = gp->initializer[i];
    const char *nm = S(tp->name);
    char what[256];
    snprintf(what, sizeof what, "initializer '%s'", nm);
    if (!*nm) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "initializer %zu has no name", i);
    qc_tensor t;
    QC_RETURN_IF_ERROR(qc_onnx_tensor_decode(tp, &im->ext, what, f->fn == NULL, &t));
    const char *gn;
    qc_vid v;
    qc_status s = def_name(im, f, nm, &gn);
    if (!s) s = qc_graph_add_const(g, gn, &t, &v);
    qc_tensor_release(&t);
    if (!s) s = bind(f, nm, v);
    QC_RETURN_IF_ERROR(qc_status_wrap(s, "%s", what));
  }
  for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
    Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
    const char *nm = sp->values ? S(sp->values->name) : "";
    char what[256];
    snprintf(what, sizeof what, "sparse initializer '%s'", nm);
    if (!*nm) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "sparse initializer %zu has no name", i);
    qc_tensor t;
    QC_RETURN_IF_ERROR(qc_onnx_sparse_decode(sp, &im->ext, what, &t));
    const char *gn;
    qc_vid v;
    qc_status s = def_name(im, f, nm, &gn);
    if (!s) s = qc_graph_add_const(g, gn, &t, &v);
    qc_tensor_release(&t);
    if (!s) s = bind(f, nm, v);
    QC_RETURN_IF_ERROR(qc_status_wrap(s, "%s", what));
  }

  for (size_t i = 0; i < gp->n_node; i++) QC_RETURN_IF_ERROR(import_node(im, f, gp->node[i], i));

  for (size_t i = 0; i < gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi = gp->output[i];
    const char *nm = S(vi->name);
    qc_vid v;
    QC_RETURN_IF_ERROR(qc_status_wrap(resolve(f, nm, &v), "graph output %zu", i));
    if (v == QC_NONE)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "graph output '%s' is an omitted input", nm);
    if (qc_graph_value(g, v)->kind == QC_VALUE_NODE && vi->type) {
      qc_type t;
      QC_RETURN_IF_ERROR(value_type(g, vi, &t));
      QC_RETURN_IF_ERROR(qc_graph_set_type(g, v, &t));
    }
    QC_RETURN_IF_ERROR(qc_graph_add_output(g, v));
  }
  return QC_OK;
}

static qc_status import_subgraph(importer *im, frame *f, const Onnx__GraphProto *gp,
                                 qc_graph **out) {
  *out = NULL;
  qc_graph *sub;
  QC_RETURN_IF_ERROR(qc_graph_create(im->alloc, &sub));
  frame sf;
  frame_init(&sf, im, f, sub);
  qc_status s = import_graph_body(im, &sf, gp, false);
  frame_free(&sf);
  if (s) {
    qc_graph_destroy(sub);
    return s;
  }
  *out = sub;
  return QC_OK;
}

/* ---- the model --------------------------------------------------------------------------------- */

static qc_status set_meta_str(qc_graph *g, const char *key, const char *v) {
  if (!v) return QC_OK;
  return qc_graph_set_meta(g, key, v);
}

static qc_status set_meta_int(qc_graph *g, const char *key, int64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)v);
  return qc_graph_set_meta(g, key, buf);
}

static qc_status import_model(importer *im, const qc_onnx_import_options *opts) {
  Onnx__ModelProto *m = im->m;
  if (!m->has_ir_version)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "no ir_version (not an ONNX model?)");
  if (m->ir_version < QC_ONNX_IR_MIN || m->ir_version > QC_ONNX_IR_MAX)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "IR version %lld is not supported (quarc reads %d..%d)",
                         (long long)m->ir_version, QC_ONNX_IR_MIN, QC_ONNX_IR_MAX);
  if (!m->graph) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "the model has no graph");
  if (m->n_opset_import == 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "the model has no opset_import");
  qc_graph *g = im->root;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    const char *d = domain_is_default(o->domain) ? "" : o->domain;
    if (!o->has_version)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "opset_import of domain '%s' has no version",
                           S(o->domain));
    QC_RETURN_IF_ERROR(check_opset_range(d, o->version));
    QC_RETURN_IF_ERROR(qc_graph_set_opset(g, d, o->version));
  }
  QC_RETURN_IF_ERROR(set_meta_int(g, QC_ONNX_META_IR_VERSION, m->ir_version));
  QC_RETURN_IF_ERROR(set_meta_str(g, QC_ONNX_META_PRODUCER_NAME, m->producer_name));
  QC_RETURN_IF_ERROR(set_meta_str(g, QC_ONNX_META_PRODUCER_VERSION, m->producer_version));
  QC_RETURN_IF_ERROR(set_meta_str(g, QC_ONNX_META_DOMAIN, m->domain));
  if (m->has_model_version)
    QC_RETURN_IF_ERROR(set_meta_int(g, QC_ONNX_META_MODEL_VERSION, m->model_version));
  QC_RETURN_IF_ERROR(set_meta_str(g, QC_ONNX_META_DOC, m->doc_string));
  QC_RETURN_IF_ERROR(set_meta_str(g, QC_ONNX_META_GRAPH_DOC, m->graph->doc_string));
  for (size_t i = 0; i < m->n_metadata_props; i++) {
    char *key = qc_arena_printf(&im->arena, "%s%s", QC_ONNX_META_PROP,
                                S(m->metadata_props[i]->key));
    if (!key) return QC_OOM();
    QC_RETURN_IF_ERROR(qc_graph_set_meta(g, key, S(m->metadata_props[i]->value)));
  }

  collect_graph_names(im, m->graph, 0);
  frame top;
  frame_init(&top, im, NULL, g);
  qc_status s = import_graph_body(im, &top, m->graph, true);
  frame_free(&top);
  QC_RETURN_IF_ERROR(s);
  if (!opts || !opts->skip_infer) QC_RETURN_IF_ERROR(qc_graph_infer_types(g));
  return QC_OK;
}

qc_status qc_onnx_import_memory(const void *data, size_t size, const char *name,
                                const char *base_dir, const qc_onnx_import_options *opts,
                                qc_graph **out) {
  *out = NULL;
  if (!name) name = "<memory>";
  importer im;
  memset(&im, 0, sizeof im);
  im.file = name;
  im.alloc = opts && opts->alloc ? opts->alloc : qc_allocator_default();
  im.ext.file = name;
  im.ext.base_dir = base_dir;
  ProtobufCMessage *msg;
  QC_RETURN_IF_ERROR(qc_onnx_unpack(&onnx__model_proto__descriptor, data, size, name, &msg));
  im.m = (Onnx__ModelProto *)msg;
  qc_arena_init(&im.arena, im.alloc);
  qc_strmap_init(&im.taken, im.alloc);
  qc_status s = qc_graph_create(im.alloc, &im.root);
  if (!s) s = import_model(&im, opts);
  qc_strmap_free(&im.taken);
  qc_arena_free(&im.arena);
  qc_onnx_extdata_free(&im.ext);
  protobuf_c_message_free_unpacked(msg, NULL);
  if (s) {
    qc_graph_destroy(im.root);
    return qc_status_wrap(s, "%s", name);
  }
  *out = im.root;
  return QC_OK;
}

qc_status qc_onnx_import(const char *path, const qc_onnx_import_options *opts, qc_graph **out) {
  *out = NULL;
  qc_buffer *file;
  QC_RETURN_IF_ERROR(qc_buffer_map_file(path, &file));
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, (size_t)(slash - path)) : strdup(".");
  if (dir && !*dir) {
    free(dir);
    dir = strdup("/");
  }
  qc_status s = dir ? qc_onnx_import_memory(qc_buffer_data(file), qc_buffer_size(file), path, dir,
                                            opts, out)
                    : QC_OOM();
  free(dir);
  qc_buffer_release(file);
  return s;
}
