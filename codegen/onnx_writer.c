/*
 * The ONNX exporter: qc_graph -> ModelProto.
 *
 * The message is built from protobuf-c structs allocated in an arena; strings and
 * arrays point at the graph's own memory, and raw_data points straight into each
 * constant's buffer, so weights are not copied before they reach the file. Packing
 * streams through a ProtobufCBuffer that writes to an atomic file (large appends such
 * as raw_data go to write() directly).
 *
 * What is written:
 *   - ir_version: the highest of the imported one (metadata), 3, 4 if an initializer is
 *     not a graph input, 8 for optional types, the one the default-domain opset came
 *     with (for graphs not imported from ONNX), and what the dtypes need (bf16 4,
 *     fp8 9, int4/uint4 10, fp4 11, e8m0 12, int2/uint2 13);
 *   - opset_import: the graph's opsets;
 *   - graph: inputs (with initializer inputs in their original places when the model
 *     had them), every constant as an initializer, nodes in order, outputs, and
 *     value_info for intermediate values whose type is known at all;
 *   - sub-graphs as graph attributes; their captures are implicit, as in ONNX;
 *   - metadata: producer, domain, model_version, doc strings and metadata_props from
 *     the graph's metadata (quarc/onnx.h lists the keys; other keys become
 *     metadata_props).
 * Constants go to an external data file (<model>.data beside the model, 64-byte
 * aligned offsets, 4096 for those of 64 KiB and more) when asked to, or when the model
 * would pass protobuf's 2 GB limit.
 */
#include "frontend/onnx_internal.h"
#include "quarc/io.h"
#include "quarc/onnx.h"

#include <stdio.h>
#include <stdlib.h>

#define S(x) ((x) ? (x) : "")
/* Above this much constant data a model cannot be one protobuf message. */
#define PROTOBUF_LIMIT ((uint64_t)2147483647)
#define AUTO_EXTERNAL_ABOVE ((uint64_t)1900 * 1024 * 1024)

typedef struct writer {
  qc_arena ar;
  const char *file;       /* for messages */
  qc_onnx_export_options o;
  bool external;          /* constants >= ext_min go to the data file */
  size_t ext_min;
  const char *ext_name;   /* location written into the model */
  char *ext_path;         /* where the data file goes */
  qc_atomic_file *ext;
  uint64_t ext_off;
  int64_t need_ir;
  bool uses_optional;
  bool uninit_initializer; /* an initializer that is not a graph input */
  /* domains the nodes use (other than ""), each with the newest `since` of its ops: the
   * opset_import entries the graph does not declare (passes add quarc.* ops without one) */
  const char *used_domain[16];
  int64_t used_version[16];
  int32_t n_used;
} writer;

static void *new_msg(writer *w, const ProtobufCMessageDescriptor *d) {
  void *p = qc_arena_alloc(&w->ar, d->sizeof_message);
  if (p) protobuf_c_message_init(d, p);
  return p;
}
#define NEW(w, T, desc) ((T *)new_msg((w), &(desc)))

static void *arr(writer *w, size_t n, size_t elem) { return qc_arena_alloc(&w->ar, (n ? n : 1) * elem); }

/* ---- dtypes and IR versions ---------------------------------------------------------------- */

static int64_t ir_for_dtype(qc_dtype dt) {
  switch (dt) {
  case QC_BF16: return 4;
  case QC_F8E4M3FN:
  case QC_F8E4M3FNUZ:
  case QC_F8E5M2:
  case QC_F8E5M2FNUZ: return 9;
  case QC_I4:
  case QC_U4: return 10;
  case QC_F4E2M1: return 11;
  case QC_E8M0: return 12;
  case QC_I2:
  case QC_U2: return 13;
  default: return 3;
  }
}

/* IR version an opset of the default domain was released with (onnx's VERSION_TABLE). */
static int64_t ir_for_opset(int64_t v) {
  if (v <= 8) return 3;
  if (v == 9) return 4;
  if (v == 10) return 5;
  if (v == 11) return 6;
  if (v <= 14) return 7;
  if (v <= 18) return 8;
  if (v <= 20) return 9;
  if (v <= 22) return 10;
  if (v == 23) return 11;
  if (v == 24) return 12;
  return 13;
}

static void need_dtype(writer *w, qc_dtype dt) {
  int64_t v = ir_for_dtype(dt);
  if (v > w->need_ir) w->need_ir = v;
}

static qc_status onnx_code(qc_dtype dt, int *out) {
  *out = qc_dtype_traits_of(dt)->onnx;
  if (*out <= 0)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "dtype %s has no ONNX equivalent",
                         qc_dtype_name(dt));
  return QC_OK;
}

/* ---- tensors ------------------------------------------------------------------------------- */

qc_status qc_onnx_tensor_encode(qc_arena *ar, const qc_tensor *t, const char *name,
                                Onnx__TensorProto *tp) {
  onnx__tensor_proto__init(tp);
  int code;
  QC_RETURN_IF_ERROR(onnx_code(t->dtype, &code));
  tp->has_data_type = 1;
  tp->data_type = code;
  tp->name = (char *)name;
  tp->n_dims = (size_t)t->rank;
  tp->dims = qc_arena_alloc(ar, sizeof(int64_t) * (size_t)(t->rank ? t->rank : 1));
  if (!tp->dims) return QC_OOM();
  for (int32_t i = 0; i < t->rank; i++) tp->dims[i] = t->dims[i];
  int64_t n = qc_tensor_numel(t);
  if (n < 0) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "invalid shape");
  size_t nbytes = qc_tensor_nbytes(t);
  void *data = qc_tensor_data(t);
  if (nbytes && !data) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "the tensor has no data");
  if (t->dtype == QC_STRING) {
    tp->n_string_data = (size_t)n;
    tp->string_data = qc_arena_alloc(ar, sizeof(ProtobufCBinaryData) * (size_t)(n ? n : 1));
    if (!tp->string_data) return QC_OOM();
    char *const *s = data;
    for (int64_t i = 0; i < n; i++) {
      tp->string_data[i].data = (uint8_t *)(s[i] ? s[i] : "");
      tp->string_data[i].len = s[i] ? strlen(s[i]) : 0;
    }
    return QC_OK;
  }
  tp->has_raw_data = 1;
  tp->raw_data.len = nbytes;
  tp->raw_data.data = data;
  return QC_OK;
}

/* ---- streaming to a file ------------------------------------------------------------------ */

typedef struct file_sink {
  ProtobufCBuffer base;
  qc_atomic_file *f;
  qc_status err;
  uint8_t *buf;
  size_t len, cap;
} file_sink;

static void sink_flush(file_sink *s) {
  if (s->len && !s->err) s->err = qc_atomic_write(s->f, s->buf, s->len);
  s->len = 0;
}

static void sink_append(ProtobufCBuffer *b, size_t len, const uint8_t *data) {
  file_sink *s = (file_sink *)b;
  if (s->err) return;
  if (len >= s->cap / 2) {
    sink_flush(s);
    if (!s->err) s->err = qc_atomic_write(s->f, data, len);
    return;
  }
  if (s->len + len > s->cap) sink_flush(s);
  memcpy(s->buf + s->len, data, len);
  s->len += len;
}

static qc_status pack_to(const ProtobufCMessage *m, qc_atomic_file *f) {
  file_sink s = {{sink_append}, f, QC_OK, NULL, 0, (size_t)1 << 20};
  s.buf = malloc(s.cap);
  if (!s.buf) return QC_OOM();
  protobuf_c_message_pack_to_buffer(m, &s.base);
  sink_flush(&s);
  free(s.buf);
  return s.err;
}

qc_status qc_onnx_pack_to_file(const ProtobufCMessage *m, const char *path) {
  qc_atomic_file *f;
  QC_RETURN_IF_ERROR(qc_atomic_open(path, &f));
  qc_status s = pack_to(m, f);
  if (s) {
    qc_atomic_abort(f);
    return s;
  }
  return qc_atomic_commit(f);
}

/* ---- external data -------------------------------------------------------------------------- */

static qc_status ext_write(writer *w, Onnx__TensorProto *tp) {
  size_t len = tp->raw_data.len;
  uint64_t align = len >= 65536 ? 4096 : 64;
  uint64_t off = (w->ext_off + align - 1) / align * align;
  static const uint8_t zeros[4096];
  if (off > w->ext_off) QC_RETURN_IF_ERROR(qc_atomic_write(w->ext, zeros, (size_t)(off - w->ext_off)));
  QC_RETURN_IF_ERROR(qc_atomic_write(w->ext, tp->raw_data.data, len));
  w->ext_off = off + len;
  Onnx__StringStringEntryProto **kv = arr(w, 3, sizeof *kv);
  if (!kv) return QC_OOM();
  const char *keys[3] = {"location", "offset", "length"};
  char *vals[3] = {(char *)w->ext_name, qc_arena_printf(&w->ar, "%llu", (unsigned long long)off),
                   qc_arena_printf(&w->ar, "%zu", len)};
  for (int i = 0; i < 3; i++) {
    kv[i] = NEW(w, Onnx__StringStringEntryProto, onnx__string_string_entry_proto__descriptor);
    if (!kv[i] || !vals[i]) return QC_OOM();
    kv[i]->key = (char *)keys[i];
    kv[i]->value = vals[i];
  }
  tp->n_external_data = 3;
  tp->external_data = kv;
  tp->has_data_location = 1;
  tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  tp->has_raw_data = 0;
  tp->raw_data.len = 0;
  tp->raw_data.data = NULL;
  return QC_OK;
}

static qc_status tensor_proto(writer *w, const qc_tensor *t, const char *name,
                              Onnx__TensorProto **out) {
  Onnx__TensorProto *tp = NEW(w, Onnx__TensorProto, onnx__tensor_proto__descriptor);
  if (!tp) return QC_OOM();
  QC_RETURN_IF_ERROR(qc_onnx_tensor_encode(&w->ar, t, name, tp));
  need_dtype(w, t->dtype);
  if (w->external && tp->has_raw_data && tp->raw_data.len >= w->ext_min)
    QC_RETURN_IF_ERROR(ext_write(w, tp));
  *out = tp;
  return QC_OK;
}

/* ---- types ----------------------------------------------------------------------------------- */

static bool type_known(const qc_type *t) {
  return t->dtype != QC_DT_UNDEFINED || t->rank >= 0 || t->kind != QC_TYPE_TENSOR;
}

static qc_status tensor_type_proto(writer *w, const qc_graph *g, const qc_type *t,
                                   Onnx__TypeProto **out) {
  Onnx__TypeProto *tp = NEW(w, Onnx__TypeProto, onnx__type_proto__descriptor);
  Onnx__TypeProto__Tensor *tt = NEW(w, Onnx__TypeProto__Tensor, onnx__type_proto__tensor__descriptor);
  if (!tp || !tt) return QC_OOM();
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  if (t->dtype != QC_DT_UNDEFINED) {
    int code;
    QC_RETURN_IF_ERROR(onnx_code(t->dtype, &code));
    tt->has_elem_type = 1;
    tt->elem_type = code;
    need_dtype(w, t->dtype);
  }
  if (t->rank >= 0) {
    Onnx__TensorShapeProto *sh = NEW(w, Onnx__TensorShapeProto, onnx__tensor_shape_proto__descriptor);
    if (!sh) return QC_OOM();
    sh->n_dim = (size_t)t->rank;
    sh->dim = arr(w, (size_t)t->rank, sizeof *sh->dim);
    if (!sh->dim) return QC_OOM();
    for (int32_t i = 0; i < t->rank; i++) {
      Onnx__TensorShapeProto__Dimension *d =
          NEW(w, Onnx__TensorShapeProto__Dimension, onnx__tensor_shape_proto__dimension__descriptor);
      if (!d) return QC_OOM();
      const char *sym = qc_graph_sym_name(g, t->dims[i]);
      if (t->dims[i] >= 0) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = t->dims[i];
      } else if (sym) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = (char *)sym;
      }
      sh->dim[i] = d;
    }
    tt->shape = sh;
  }
  *out = tp;
  return QC_OK;
}

static qc_status wrap_type(writer *w, Onnx__TypeProto *inner, bool sequence, Onnx__TypeProto **out) {
  Onnx__TypeProto *tp = NEW(w, Onnx__TypeProto, onnx__type_proto__descriptor);
  if (!tp) return QC_OOM();
  if (sequence) {
    Onnx__TypeProto__Sequence *s = NEW(w, Onnx__TypeProto__Sequence, onnx__type_proto__sequence__descriptor);
    if (!s) return QC_OOM();
    s->elem_type = inner;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    tp->sequence_type = s;
  } else {
    Onnx__TypeProto__Optional *o = NEW(w, Onnx__TypeProto__Optional, onnx__type_proto__optional__descriptor);
    if (!o) return QC_OOM();
    o->elem_type = inner;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE;
    tp->optional_type = o;
  }
  *out = tp;
  return QC_OK;
}

static qc_status type_proto(writer *w, const qc_graph *g, const qc_type *t, Onnx__TypeProto **out) {
  Onnx__TypeProto *tp;
  QC_RETURN_IF_ERROR(tensor_type_proto(w, g, t, &tp));
  switch (t->kind) {
  case QC_TYPE_TENSOR: break;
  case QC_TYPE_SEQUENCE: QC_RETURN_IF_ERROR(wrap_type(w, tp, true, &tp)); break;
  case QC_TYPE_OPTIONAL:
    w->uses_optional = true;
    QC_RETURN_IF_ERROR(wrap_type(w, tp, false, &tp));
    break;
  case QC_TYPE_OPTIONAL_SEQUENCE:
    w->uses_optional = true;
    QC_RETURN_IF_ERROR(wrap_type(w, tp, true, &tp));
    QC_RETURN_IF_ERROR(wrap_type(w, tp, false, &tp));
    break;
  default: return qc_status_new(QC_CODE_INTERNAL, "bad type kind %d", t->kind);
  }
  *out = tp;
  return QC_OK;
}

static qc_status value_info(writer *w, const qc_graph *g, const qc_value *v,
                            Onnx__ValueInfoProto **out) {
  Onnx__ValueInfoProto *vi = NEW(w, Onnx__ValueInfoProto, onnx__value_info_proto__descriptor);
  if (!vi) return QC_OOM();
  vi->name = (char *)v->name;
  if (type_known(&v->type))
    QC_RETURN_IF_ERROR(qc_status_wrap(type_proto(w, g, &v->type, &vi->type), "value '%s'", v->name));
  *out = vi;
  return QC_OK;
}

/* ---- graphs ---------------------------------------------------------------------------------- */

static qc_status graph_proto(writer *w, const qc_graph *g, bool root, Onnx__GraphProto **out);

static const char *vname(const qc_graph *g, qc_vid v) {
  return v < 0 ? "" : qc_graph_value(g, v)->name;
}

static qc_status attr_proto(writer *w, const qc_graph *g, const qc_attr *a,
                            Onnx__AttributeProto **out) {
  Onnx__AttributeProto *ap = NEW(w, Onnx__AttributeProto, onnx__attribute_proto__descriptor);
  if (!ap) return QC_OOM();
  ap->name = (char *)a->name;
  ap->has_type = 1;
  switch (a->kind) {
  case QC_ATTR_FLOAT:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    ap->has_f = 1;
    ap->f = (float)a->u.f;
    break;
  case QC_ATTR_INT:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    ap->has_i = 1;
    ap->i = a->u.i;
    break;
  case QC_ATTR_STRING:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    ap->has_s = 1;
    ap->s.len = (size_t)a->n;
    ap->s.data = (uint8_t *)a->u.s;
    break;
  case QC_ATTR_TENSOR:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    QC_RETURN_IF_ERROR(tensor_proto(w, a->u.t, NULL, &ap->t));
    break;
  case QC_ATTR_GRAPH:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    QC_RETURN_IF_ERROR(graph_proto(w, a->u.g, false, &ap->g));
    break;
  case QC_ATTR_FLOATS:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    ap->n_floats = (size_t)a->n;
    ap->floats = arr(w, (size_t)a->n, sizeof(float));
    if (!ap->floats) return QC_OOM();
    for (int32_t i = 0; i < a->n; i++) ap->floats[i] = (float)a->u.floats[i];
    break;
  case QC_ATTR_INTS:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    ap->n_ints = (size_t)a->n;
    ap->ints = a->u.ints;
    break;
  case QC_ATTR_STRINGS:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    ap->n_strings = (size_t)a->n;
    ap->strings = arr(w, (size_t)a->n, sizeof(ProtobufCBinaryData));
    if (!ap->strings) return QC_OOM();
    for (int32_t i = 0; i < a->n; i++) {
      ap->strings[i].data = (uint8_t *)a->u.strs.v[i];
      ap->strings[i].len = (size_t)a->u.strs.len[i];
    }
    break;
  case QC_ATTR_TENSORS:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS;
    ap->n_tensors = (size_t)a->n;
    ap->tensors = arr(w, (size_t)a->n, sizeof *ap->tensors);
    if (!ap->tensors) return QC_OOM();
    for (int32_t i = 0; i < a->n; i++)
      QC_RETURN_IF_ERROR(tensor_proto(w, &a->u.tensors[i], NULL, &ap->tensors[i]));
    break;
  case QC_ATTR_GRAPHS:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS;
    ap->n_graphs = (size_t)a->n;
    ap->graphs = arr(w, (size_t)a->n, sizeof *ap->graphs);
    if (!ap->graphs) return QC_OOM();
    for (int32_t i = 0; i < a->n; i++)
      QC_RETURN_IF_ERROR(graph_proto(w, a->u.graphs[i], false, &ap->graphs[i]));
    break;
  case QC_ATTR_TYPE:
    ap->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO;
    QC_RETURN_IF_ERROR(type_proto(w, g, a->u.type, &ap->tp));
    break;
  default: return qc_status_new(QC_CODE_UNIMPLEMENTED, "attribute kind %d", a->kind);
  }
  *out = ap;
  return QC_OK;
}

static qc_status node_proto(writer *w, const qc_graph *g, qc_nid n, Onnx__NodeProto **out) {
  const qc_node *nd = qc_graph_node(g, n);
  const qc_op_schema *sc = qc_op_schema_of(nd->op);
  if (!sc) return qc_status_new(QC_CODE_INTERNAL, "unknown op id %d", nd->op);
  Onnx__NodeProto *np = NEW(w, Onnx__NodeProto, onnx__node_proto__descriptor);
  if (!np) return QC_OOM();
  np->op_type = (char *)sc->name;
  if (*sc->domain) {
    np->domain = (char *)sc->domain;
    int32_t k = 0;
    while (k < w->n_used && strcmp(w->used_domain[k], sc->domain)) k++;
    if (k == (int32_t)(sizeof w->used_domain / sizeof w->used_domain[0]))
      return qc_status_new(QC_CODE_UNIMPLEMENTED,
                           "%s: its op domain '%s' would be the %dth; the ONNX writer declares "
                           "at most %d in opset_import",
                           qc_node_desc(g, n), sc->domain, k + 1, k);
    if (k == w->n_used) {
      w->used_domain[k] = sc->domain;
      w->used_version[k] = 0;
      w->n_used++;
    }
    if (sc->since > w->used_version[k]) w->used_version[k] = sc->since;
  }
  if (nd->name && *nd->name) np->name = (char *)nd->name;
  np->n_input = (size_t)nd->n_in;
  np->input = arr(w, (size_t)nd->n_in, sizeof(char *));
  np->n_output = (size_t)nd->n_out;
  np->output = arr(w, (size_t)nd->n_out, sizeof(char *));
  np->n_attribute = (size_t)nd->n_attr;
  np->attribute = arr(w, (size_t)nd->n_attr, sizeof *np->attribute);
  if (!np->input || !np->output || !np->attribute) return QC_OOM();
  for (int32_t i = 0; i < nd->n_in; i++) np->input[i] = (char *)vname(g, nd->in[i]);
  for (int32_t i = 0; i < nd->n_out; i++) np->output[i] = (char *)vname(g, nd->out[i]);
  for (int32_t k = 0; k < nd->n_attr; k++)
    QC_RETURN_IF_ERROR(qc_status_wrap(attr_proto(w, g, &nd->attr[k], &np->attribute[k]),
                                      "attribute '%s'", nd->attr[k].name));
  *out = np;
  return QC_OK;
}

/* Input names of the original model when initializers were inputs, else NULL. */
static char **original_inputs(writer *w, const qc_graph *g, size_t *n) {
  const char *list = qc_graph_meta(g, QC_ONNX_META_INPUTS);
  *n = 0;
  if (!list || !*list) return NULL;
  size_t cnt = 1;
  for (const char *p = list; *p; p++) cnt += *p == '\n';
  char **v = arr(w, cnt, sizeof(char *));
  char *copy = qc_arena_strdup(&w->ar, list);
  if (!v || !copy) return NULL;
  for (char *save = NULL, *t = strtok_r(copy, "\n", &save); t; t = strtok_r(NULL, "\n", &save))
    v[(*n)++] = t;
  return v;
}

static qc_status graph_proto(writer *w, const qc_graph *g, bool root, Onnx__GraphProto **out) {
  Onnx__GraphProto *gp = NEW(w, Onnx__GraphProto, onnx__graph_proto__descriptor);
  if (!gp) return QC_OOM();
  const char *name = qc_graph_name(g);
  gp->name = (char *)(name && *name ? name : root ? "main" : "body");
  if (root) gp->doc_string = (char *)qc_graph_meta(g, QC_ONNX_META_GRAPH_DOC);
  int32_t nv = qc_graph_num_values(g), nn = qc_graph_num_nodes(g);
  int32_t n_in = qc_graph_num_inputs(g), n_out = qc_graph_num_outputs(g);

  /* Inputs, with initializers that were inputs back in their places. */
  size_t n_orig = 0;
  char **orig = root ? original_inputs(w, g, &n_orig) : NULL;
  uint8_t *listed = arr(w, (size_t)nv, 1);
  gp->input = arr(w, (size_t)n_in + n_orig, sizeof *gp->input);
  if (!listed || !gp->input) return QC_OOM();
  for (size_t k = 0; k < n_orig; k++) {
    qc_vid v = qc_graph_find(g, orig[k]);
    if (v < 0 || listed[v]) continue;
    const qc_value *val = qc_graph_value(g, v);
    if (val->kind != QC_VALUE_INPUT && val->kind != QC_VALUE_CONST) continue;
    QC_RETURN_IF_ERROR(value_info(w, g, val, &gp->input[gp->n_input++]));
    listed[v] = 1;
  }
  for (int32_t i = 0; i < n_in; i++) {
    qc_vid v = qc_graph_input(g, i);
    if (listed[v]) continue;
    QC_RETURN_IF_ERROR(value_info(w, g, qc_graph_value(g, v), &gp->input[gp->n_input++]));
    listed[v] = 1;
  }

  /* Constants. */
  gp->initializer = arr(w, (size_t)nv, sizeof *gp->initializer);
  if (!gp->initializer) return QC_OOM();
  for (qc_vid v = 0; v < nv; v++) {
    const qc_value *val = qc_graph_value(g, v);
    if (val->kind != QC_VALUE_CONST) continue;
    if (!listed[v]) w->uninit_initializer = true;
    QC_RETURN_IF_ERROR(qc_status_wrap(
        tensor_proto(w, &val->cst, val->name, &gp->initializer[gp->n_initializer++]),
        "constant '%s'", val->name));
  }

  /* Nodes. */
  gp->node = arr(w, (size_t)nn, sizeof *gp->node);
  if (!gp->node) return QC_OOM();
  for (qc_nid n = 0; n < nn; n++) {
    if (qc_graph_node(g, n)->dead) continue;
    QC_RETURN_IF_ERROR(qc_status_wrap(node_proto(w, g, n, &gp->node[gp->n_node++]), "%s",
                                      qc_node_desc(g, n)));
  }

  /* Outputs. */
  gp->n_output = (size_t)n_out;
  gp->output = arr(w, (size_t)n_out, sizeof *gp->output);
  uint8_t *is_out = arr(w, (size_t)nv, 1);
  if (!gp->output || !is_out) return QC_OOM();
  for (int32_t i = 0; i < n_out; i++) {
    qc_vid v = qc_graph_output(g, i);
    if (v < 0) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "graph output %d is not set", i);
    QC_RETURN_IF_ERROR(value_info(w, g, qc_graph_value(g, v), &gp->output[i]));
    is_out[v] = 1;
  }

  /* Types of intermediate values. */
  if (!w->o.no_value_info) {
    gp->value_info = arr(w, (size_t)nv, sizeof *gp->value_info);
    if (!gp->value_info) return QC_OOM();
    for (qc_vid v = 0; v < nv; v++) {
      const qc_value *val = qc_graph_value(g, v);
      if (val->kind != QC_VALUE_NODE || is_out[v] || !type_known(&val->type)) continue;
      if (qc_graph_node(g, val->node)->dead) continue;
      QC_RETURN_IF_ERROR(value_info(w, g, val, &gp->value_info[gp->n_value_info++]));
    }
  }
  *out = gp;
  return QC_OK;
}

/* ---- the model ------------------------------------------------------------------------------- */

static uint64_t const_bytes(const qc_graph *g) {
  uint64_t total = 0;
  for (qc_vid v = 0; v < qc_graph_num_values(g); v++) {
    const qc_value *val = qc_graph_value(g, v);
    if (val->kind == QC_VALUE_CONST) total += qc_tensor_nbytes(&val->cst);
  }
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    for (int32_t k = 0; k < nd->n_attr; k++) {
      const qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_TENSOR) total += qc_tensor_nbytes(a->u.t);
      if (a->kind == QC_ATTR_TENSORS)
        for (int32_t i = 0; i < a->n; i++) total += qc_tensor_nbytes(&a->u.tensors[i]);
      if (a->kind == QC_ATTR_GRAPH) total += const_bytes(a->u.g);
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t i = 0; i < a->n; i++) total += const_bytes(a->u.graphs[i]);
    }
  }
  return total;
}

static bool parse_i64(const char *s, int64_t *out) {
  if (!s || !*s) return false;
  char *e;
  long long v = strtoll(s, &e, 10);
  if (*e) return false;
  *out = v;
  return true;
}

static qc_status model_proto(writer *w, const qc_graph *g, Onnx__ModelProto **out) {
  Onnx__ModelProto *m = NEW(w, Onnx__ModelProto, onnx__model_proto__descriptor);
  if (!m) return QC_OOM();
  w->need_ir = 3;
  QC_RETURN_IF_ERROR(graph_proto(w, g, true, &m->graph));

  int32_t no = qc_graph_num_opsets(g);
  m->opset_import = arr(w, (size_t)(no + w->n_used), sizeof *m->opset_import);
  if (!m->opset_import) return QC_OOM();
  for (int32_t i = 0; i < no + w->n_used; i++) {
    const char *d;
    int64_t v;
    if (i < no) {
      qc_graph_opset_at(g, i, &d, &v);
    } else {
      d = w->used_domain[i - no];
      v = w->used_version[i - no];
      if (qc_graph_opset(g, d) != 0) continue;
    }
    Onnx__OperatorSetIdProto *o = NEW(w, Onnx__OperatorSetIdProto, onnx__operator_set_id_proto__descriptor);
    if (!o) return QC_OOM();
    o->domain = (char *)d;
    o->has_version = 1;
    o->version = v;
    m->opset_import[m->n_opset_import++] = o;
  }

  int64_t ir = 0;
  bool imported = parse_i64(qc_graph_meta(g, QC_ONNX_META_IR_VERSION), &ir);
  if (!imported) {
    int64_t v = qc_graph_opset(g, "");
    ir = v ? ir_for_opset(v) : 3;
  }
  if (w->uninit_initializer && w->need_ir < 4) w->need_ir = 4;
  if (w->uses_optional && w->need_ir < 8) w->need_ir = 8;
  if (ir < w->need_ir) ir = w->need_ir;
  if (w->o.ir_version) {
    if (w->o.ir_version < w->need_ir)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "IR version %lld was asked for, but the model needs %lld",
                           (long long)w->o.ir_version, (long long)w->need_ir);
    ir = w->o.ir_version;
  }
  if (ir > QC_ONNX_IR_MAX) ir = QC_ONNX_IR_MAX;
  m->has_ir_version = 1;
  m->ir_version = ir;

  m->producer_name = (char *)qc_graph_meta(g, QC_ONNX_META_PRODUCER_NAME);
  m->producer_version = (char *)qc_graph_meta(g, QC_ONNX_META_PRODUCER_VERSION);
  if (!m->producer_name && !imported) { /* a graph quarc made: say so */
    m->producer_name = "quarc";
    m->producer_version = (char *)qc_version();
  }
  m->domain = (char *)qc_graph_meta(g, QC_ONNX_META_DOMAIN);
  m->doc_string = (char *)qc_graph_meta(g, QC_ONNX_META_DOC);
  int64_t mv;
  if (parse_i64(qc_graph_meta(g, QC_ONNX_META_MODEL_VERSION), &mv)) {
    m->has_model_version = 1;
    m->model_version = mv;
  }
  int32_t nm = qc_graph_num_meta(g);
  m->metadata_props = arr(w, (size_t)nm, sizeof *m->metadata_props);
  if (!m->metadata_props) return QC_OOM();
  size_t plen = strlen(QC_ONNX_META_PROP);
  for (int32_t i = 0; i < nm; i++) {
    const char *k, *v;
    qc_graph_meta_at(g, i, &k, &v);
    if (strncmp(k, QC_ONNX_META_PROP, plen) == 0) k += plen;
    else if (strncmp(k, "onnx.", 5) == 0) continue; /* a field of its own, above */
    Onnx__StringStringEntryProto *e =
        NEW(w, Onnx__StringStringEntryProto, onnx__string_string_entry_proto__descriptor);
    if (!e) return QC_OOM();
    e->key = (char *)k;
    e->value = (char *)v;
    m->metadata_props[m->n_metadata_props++] = e;
  }
  *out = m;
  return QC_OK;
}

static void writer_init(writer *w, const char *file, const qc_onnx_export_options *opts) {
  memset(w, 0, sizeof *w);
  qc_arena_init(&w->ar, qc_allocator_default());
  w->file = file;
  if (opts) w->o = *opts;
  w->ext_min = w->o.external_min_bytes ? w->o.external_min_bytes : 1024;
}

static void writer_free(writer *w) {
  qc_atomic_abort(w->ext);
  free(w->ext_path);
  qc_arena_free(&w->ar);
}

qc_status qc_onnx_export(const qc_graph *g, const char *path, const qc_onnx_export_options *opts) {
  writer w;
  writer_init(&w, path, opts);
  qc_status s = QC_OK;
  uint64_t consts = const_bytes(g);
  w.external = w.o.external == QC_ONNX_EXTERNAL_ALWAYS ||
               (w.o.external == QC_ONNX_EXTERNAL_AUTO && consts > AUTO_EXTERNAL_ABOVE);
  if (w.external) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    w.ext_name = w.o.external_file ? w.o.external_file : qc_arena_printf(&w.ar, "%s.data", base);
    if (!w.ext_name) s = QC_OOM();
    else if (!*w.ext_name || w.ext_name[0] == '/' || strstr(w.ext_name, ".."))
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                        "external data file '%s' must be a relative path below the model's "
                        "directory",
                        w.ext_name);
    if (!s) {
      size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
      w.ext_path = malloc(dl + strlen(w.ext_name) + 1);
      if (!w.ext_path) s = QC_OOM();
      else {
        memcpy(w.ext_path, path, dl);
        strcpy(w.ext_path + dl, w.ext_name);
        s = qc_atomic_open(w.ext_path, &w.ext);
      }
    }
  }
  Onnx__ModelProto *m = NULL;
  if (!s) s = model_proto(&w, g, &m);
  if (!s && protobuf_c_message_get_packed_size(&m->base) > PROTOBUF_LIMIT)
    s = qc_status_new(QC_CODE_UNIMPLEMENTED,
                      "the model exceeds protobuf's 2 GB limit; write its constants as external "
                      "data");
  if (!s && w.ext) {
    s = qc_atomic_commit(w.ext);
    w.ext = NULL;
  }
  if (!s) s = qc_onnx_pack_to_file(&m->base, path);
  writer_free(&w);
  return qc_status_wrap(s, "%s", path);
}

qc_status qc_onnx_export_memory(const qc_graph *g, const qc_onnx_export_options *opts, void **data,
                                size_t *size) {
  *data = NULL;
  *size = 0;
  writer w;
  writer_init(&w, "<memory>", opts);
  if (w.o.external == QC_ONNX_EXTERNAL_ALWAYS) {
    writer_free(&w);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "external data needs a file to write the model to");
  }
  Onnx__ModelProto *m = NULL;
  qc_status s = model_proto(&w, g, &m);
  size_t n = s ? 0 : protobuf_c_message_get_packed_size(&m->base);
  if (!s && n > PROTOBUF_LIMIT)
    s = qc_status_new(QC_CODE_UNIMPLEMENTED, "the model exceeds protobuf's 2 GB limit");
  if (!s) {
    *data = malloc(n ? n : 1);
    if (!*data) s = QC_OOM();
    else *size = protobuf_c_message_pack(&m->base, *data);
  }
  writer_free(&w);
  return s;
}
