/* ONNX import and export: models built here with the protobuf-c structs (every storage
 * form of a TensorProto, external data, model-local functions, nested sub-graphs,
 * initializers that are inputs), round trips through the exporter, .pb/.npy value files,
 * and every kind of bad input, whose error must name the file and the culprit. */
#include "frontend/onnx_internal.h"
#include "quarc/io.h"
#include "quarc/onnx.h"
#include "quarc/tensor_io.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- building models -------------------------------------------------------------------- */
/* Everything is malloc'd so that protobuf_c_message_free_unpacked frees a whole model. */

#define PUSH(arr, n, v)                                                                            \
  do {                                                                                             \
    (arr) = realloc((arr), sizeof(*(arr)) * ((n) + 1));                                            \
    (arr)[(n)++] = (v);                                                                            \
  } while (0)

static char tmpdir[64];

static const char *tmp_path(const char *name) {
  static char buf[8][256];
  static int k;
  if (!tmpdir[0]) {
    strcpy(tmpdir, "/tmp/qc_onnx_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
  }
  char *p = buf[k++ % 8];
  snprintf(p, 256, "%s/%s", tmpdir, name);
  return p;
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  if (n) ck_assert_uint_eq(fwrite(data, 1, n, f), n);
  fclose(f);
}

static Onnx__TypeProto *tensor_type(int elem, int rank, const int64_t *dims, const char *sym0) {
  Onnx__TypeProto *t = malloc(sizeof *t);
  onnx__type_proto__init(t);
  t->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  t->tensor_type = malloc(sizeof *t->tensor_type);
  onnx__type_proto__tensor__init(t->tensor_type);
  t->tensor_type->has_elem_type = 1;
  t->tensor_type->elem_type = elem;
  if (rank >= 0) {
    Onnx__TensorShapeProto *sh = malloc(sizeof *sh);
    onnx__tensor_shape_proto__init(sh);
    for (int i = 0; i < rank; i++) {
      Onnx__TensorShapeProto__Dimension *d = malloc(sizeof *d);
      onnx__tensor_shape_proto__dimension__init(d);
      if (i == 0 && sym0) {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        d->dim_param = strdup(sym0);
      } else {
        d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        d->dim_value = dims[i];
      }
      PUSH(sh->dim, sh->n_dim, d);
    }
    t->tensor_type->shape = sh;
  }
  return t;
}

static Onnx__ValueInfoProto *vinfo(const char *name, Onnx__TypeProto *t) {
  Onnx__ValueInfoProto *v = malloc(sizeof *v);
  onnx__value_info_proto__init(v);
  v->name = strdup(name);
  v->type = t;
  return v;
}

static Onnx__GraphProto *graph_new(const char *name) {
  Onnx__GraphProto *g = malloc(sizeof *g);
  onnx__graph_proto__init(g);
  g->name = strdup(name);
  return g;
}

static void add_input(Onnx__GraphProto *g, const char *name, int elem, int rank,
                      const int64_t *dims) {
  PUSH(g->input, g->n_input, vinfo(name, tensor_type(elem, rank, dims, NULL)));
}

static void add_output(Onnx__GraphProto *g, const char *name, int elem, int rank,
                       const int64_t *dims) {
  PUSH(g->output, g->n_output, vinfo(name, rank == -2 ? NULL : tensor_type(elem, rank, dims, NULL)));
}

/* Inputs and outputs as "a,b" lists ("" entries allowed: "a,,c"). */
static void split_names(const char *list, char ***arr, size_t *n) {
  if (!list) return;
  char *copy = strdup(list), *p = copy;
  for (;;) {
    char *c = strchr(p, ',');
    if (c) *c = 0;
    PUSH(*arr, *n, strdup(p));
    if (!c) break;
    p = c + 1;
  }
  free(copy);
}

static Onnx__NodeProto *add_node_to(Onnx__NodeProto ***nodes, size_t *n, const char *domain,
                                    const char *op, const char *name, const char *ins,
                                    const char *outs) {
  Onnx__NodeProto *nd = malloc(sizeof *nd);
  onnx__node_proto__init(nd);
  nd->op_type = strdup(op);
  if (domain) nd->domain = strdup(domain);
  if (name) nd->name = strdup(name);
  split_names(ins, &nd->input, &nd->n_input);
  split_names(outs, &nd->output, &nd->n_output);
  PUSH(*nodes, *n, nd);
  return nd;
}

static Onnx__NodeProto *add_node(Onnx__GraphProto *g, const char *op, const char *name,
                                 const char *ins, const char *outs) {
  return add_node_to(&g->node, &g->n_node, NULL, op, name, ins, outs);
}

static Onnx__AttributeProto *attr_new(const char *name, int type) {
  Onnx__AttributeProto *a = malloc(sizeof *a);
  onnx__attribute_proto__init(a);
  a->name = strdup(name);
  a->has_type = 1;
  a->type = type;
  return a;
}

static void attr_graph(Onnx__NodeProto *n, const char *name, Onnx__GraphProto *g) {
  Onnx__AttributeProto *a = attr_new(name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
  a->g = g;
  PUSH(n->attribute, n->n_attribute, a);
}

static Onnx__TensorProto *tensor_new(const char *name, int type, int rank, const int64_t *dims) {
  Onnx__TensorProto *t = malloc(sizeof *t);
  onnx__tensor_proto__init(t);
  if (name) t->name = strdup(name);
  t->has_data_type = 1;
  t->data_type = type;
  for (int i = 0; i < rank; i++) PUSH(t->dims, t->n_dims, dims[i]);
  return t;
}

static void set_raw(Onnx__TensorProto *t, const void *data, size_t n) {
  t->has_raw_data = 1;
  t->raw_data.len = n;
  t->raw_data.data = malloc(n ? n : 1);
  memcpy(t->raw_data.data, data, n);
}

static void set_external(Onnx__TensorProto *t, const char *loc, const char *off, const char *len) {
  const char *keys[3] = {"location", "offset", "length"};
  const char *vals[3] = {loc, off, len};
  for (int i = 0; i < 3; i++) {
    if (!vals[i]) continue;
    Onnx__StringStringEntryProto *e = malloc(sizeof *e);
    onnx__string_string_entry_proto__init(e);
    e->key = strdup(keys[i]);
    e->value = strdup(vals[i]);
    PUSH(t->external_data, t->n_external_data, e);
  }
  t->has_data_location = 1;
  t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

static void add_init(Onnx__GraphProto *g, Onnx__TensorProto *t) {
  PUSH(g->initializer, g->n_initializer, t);
}

static Onnx__ModelProto *model_new(int64_t ir, int64_t opset, Onnx__GraphProto *g) {
  Onnx__ModelProto *m = malloc(sizeof *m);
  onnx__model_proto__init(m);
  m->has_ir_version = 1;
  m->ir_version = ir;
  m->producer_name = strdup("test_onnx");
  Onnx__OperatorSetIdProto *o = malloc(sizeof *o);
  onnx__operator_set_id_proto__init(o);
  o->domain = strdup("");
  o->has_version = 1;
  o->version = opset;
  PUSH(m->opset_import, m->n_opset_import, o);
  m->graph = g;
  return m;
}

static void add_opset(Onnx__ModelProto *m, const char *domain, int64_t v) {
  Onnx__OperatorSetIdProto *o = malloc(sizeof *o);
  onnx__operator_set_id_proto__init(o);
  o->domain = strdup(domain);
  o->has_version = 1;
  o->version = v;
  PUSH(m->opset_import, m->n_opset_import, o);
}

/* Serialize and free the model; returns the bytes (malloc'd). */
static uint8_t *pack_model(Onnx__ModelProto *m, size_t *n) {
  *n = protobuf_c_message_get_packed_size(&m->base);
  uint8_t *buf = malloc(*n ? *n : 1);
  protobuf_c_message_pack(&m->base, buf);
  protobuf_c_message_free_unpacked(&m->base, NULL);
  return buf;
}

static const char *save_model(Onnx__ModelProto *m, const char *name) {
  size_t n;
  uint8_t *b = pack_model(m, &n);
  const char *p = tmp_path(name);
  write_bytes(p, b, n);
  free(b);
  return p;
}

/* A model y = Add(x, w) with x f32[N,3] and w an initializer of 3 floats in raw_data. */
static Onnx__ModelProto *add_model(int64_t ir, int64_t opset) {
  Onnx__GraphProto *g = graph_new("g");
  add_input(g, "x", 1, 2, (int64_t[]){0, 3});
  g->input[0]->type->tensor_type->shape->dim[0]->value_case =
      ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
  g->input[0]->type->tensor_type->shape->dim[0]->dim_param = strdup("N");
  Onnx__TensorProto *w = tensor_new("w", 1, 1, (int64_t[]){3});
  set_raw(w, (float[]){1, 2, 3}, 12);
  add_init(g, w);
  add_node(g, "Add", "add", "x,w", "y");
  add_output(g, "y", 1, 2, (int64_t[]){0, 3});
  g->output[0]->type->tensor_type->shape->dim[0]->value_case =
      ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
  g->output[0]->type->tensor_type->shape->dim[0]->dim_param = strdup("N");
  return model_new(ir, opset, g);
}

/* Import expecting an error whose message contains every given fragment. */
static void expect_error(const char *path, qc_code code, const char *const *frags) {
  qc_graph *g = NULL;
  qc_status s = qc_onnx_import(path, NULL, &g);
  ck_assert_msg(s != NULL, "%s: import succeeded", path);
  const char *msg = qc_status_message(s);
  ck_assert_msg(strncmp(msg, path, strlen(path)) == 0, "message does not start with the file: %s",
                msg);
  for (int i = 0; frags[i]; i++)
    ck_assert_msg(strstr(msg, frags[i]), "message lacks '%s': %s", frags[i], msg);
  if (code) ck_assert_msg(qc_status_code(s) == code, "code %d, expected %d: %s", qc_status_code(s), code, msg);
  ck_assert_ptr_null(g);
  qc_status_free(s);
}
#define EXPECT_ERROR(path, code, ...) expect_error(path, code, (const char *const[]){__VA_ARGS__, NULL})

static qc_graph *import_ok(const char *path) {
  qc_graph *g = NULL;
  qc_status s = qc_onnx_import(path, NULL, &g);
  ck_assert_msg(!s, "import failed: %s", qc_status_message(s));
  return g;
}

static const qc_value *value_named(const qc_graph *g, const char *name) {
  qc_vid v = qc_graph_find(g, name);
  ck_assert_msg(v >= 0, "no value '%s'", name);
  return qc_graph_value(g, v);
}

/* ---- import: structure --------------------------------------------------------------------- */

START_TEST(imports_a_simple_model) {
  qc_graph *g = import_ok(save_model(add_model(8, 17), "add.onnx"));
  ck_assert_int_eq(qc_graph_num_inputs(g), 1);
  ck_assert_int_eq(qc_graph_num_outputs(g), 1);
  ck_assert_int_eq(qc_graph_num_nodes(g), 1);
  ck_assert_int_eq(qc_graph_node(g, 0)->op, QC_OP_Add);
  ck_assert_str_eq(qc_graph_node(g, 0)->name, "add");
  ck_assert_str_eq(qc_graph_name(g), "g");
  ck_assert_int_eq(qc_graph_opset(g, ""), 17);
  ck_assert_str_eq(qc_graph_meta(g, QC_ONNX_META_IR_VERSION), "8");
  ck_assert_str_eq(qc_graph_meta(g, QC_ONNX_META_PRODUCER_NAME), "test_onnx");
  const qc_value *x = value_named(g, "x");
  ck_assert_int_eq(x->kind, QC_VALUE_INPUT);
  ck_assert_str_eq(qc_graph_sym_name(g, x->type.dims[0]), "N");
  const qc_value *w = value_named(g, "w");
  ck_assert_int_eq(w->kind, QC_VALUE_CONST);
  ck_assert(((float *)qc_tensor_data(&w->cst))[2] == 3.0f);
  const qc_value *y = value_named(g, "y");
  ck_assert_int_eq(y->type.dtype, QC_F32);
  ck_assert_int_eq(y->type.rank, 2);
  qc_graph_destroy(g);
}
END_TEST

START_TEST(reads_every_typed_field) {
  Onnx__GraphProto *g = graph_new("g");
  Onnx__TensorProto *t;
  /* float_data */
  t = tensor_new("f", 1, 1, (int64_t[]){2});
  PUSH(t->float_data, t->n_float_data, 1.5f);
  PUSH(t->float_data, t->n_float_data, -2.0f);
  add_init(g, t);
  /* int32_data for int8 (negative values), f16 bit patterns, bool */
  t = tensor_new("i8", 3, 1, (int64_t[]){3});
  PUSH(t->int32_data, t->n_int32_data, -128);
  PUSH(t->int32_data, t->n_int32_data, -1);
  PUSH(t->int32_data, t->n_int32_data, 127);
  add_init(g, t);
  t = tensor_new("h", 10, 1, (int64_t[]){2});
  PUSH(t->int32_data, t->n_int32_data, 0x3C00); /* 1.0 */
  PUSH(t->int32_data, t->n_int32_data, 0xC000); /* -2.0 */
  add_init(g, t);
  t = tensor_new("b", 9, 1, (int64_t[]){2});
  PUSH(t->int32_data, t->n_int32_data, 1);
  PUSH(t->int32_data, t->n_int32_data, 0);
  add_init(g, t);
  /* int4: one packed byte per entry (formats.md: test_quantizelinear_int4's output) */
  t = tensor_new("q4", 22, 2, (int64_t[]){3, 4});
  int32_t q4[] = {0x21, 0x53, 0xA8, 0x43, 0x54, 0x75};
  for (int i = 0; i < 6; i++) PUSH(t->int32_data, t->n_int32_data, q4[i]);
  add_init(g, t);
  /* uint2: 5 elements in two bytes */
  t = tensor_new("u2", 25, 1, (int64_t[]){5});
  PUSH(t->int32_data, t->n_int32_data, 0xE4); /* 0,1,2,3 */
  PUSH(t->int32_data, t->n_int32_data, 0x02); /* 2 */
  add_init(g, t);
  /* fp8 bit patterns */
  t = tensor_new("f8", 17, 1, (int64_t[]){2});
  PUSH(t->int32_data, t->n_int32_data, 0x7E); /* 448 */
  PUSH(t->int32_data, t->n_int32_data, 0x38); /* 1 */
  add_init(g, t);
  /* int64_data, uint64_data (uint32 and uint64), double_data, string_data */
  t = tensor_new("i64", 7, 1, (int64_t[]){2});
  PUSH(t->int64_data, t->n_int64_data, INT64_MIN);
  PUSH(t->int64_data, t->n_int64_data, 42);
  add_init(g, t);
  t = tensor_new("u32", 12, 1, (int64_t[]){1});
  PUSH(t->uint64_data, t->n_uint64_data, 4000000000u);
  add_init(g, t);
  t = tensor_new("u64", 13, 0, NULL);
  PUSH(t->uint64_data, t->n_uint64_data, UINT64_MAX);
  add_init(g, t);
  t = tensor_new("d", 11, 1, (int64_t[]){1});
  PUSH(t->double_data, t->n_double_data, 0.1);
  add_init(g, t);
  t = tensor_new("s", 8, 1, (int64_t[]){2});
  ProtobufCBinaryData s1 = {3, (uint8_t *)strdup("abc")}, s2 = {0, NULL};
  PUSH(t->string_data, t->n_string_data, s1);
  PUSH(t->string_data, t->n_string_data, s2);
  add_init(g, t);
  t = tensor_new("c", 14, 1, (int64_t[]){1});
  PUSH(t->float_data, t->n_float_data, 1.0f);
  PUSH(t->float_data, t->n_float_data, -1.0f);
  add_init(g, t);
  t = tensor_new("empty", 1, 2, (int64_t[]){0, 3});
  add_init(g, t);
  add_node(g, "Identity", "id", "f", "y");
  add_output(g, "y", 1, 1, (int64_t[]){2});
  qc_graph *qg = import_ok(save_model(model_new(13, 25, g), "typed.onnx"));
  const qc_value *v;
  v = value_named(qg, "f");
  ck_assert(((float *)qc_tensor_data(&v->cst))[1] == -2.0f);
  v = value_named(qg, "i8");
  ck_assert_int_eq(qc_elem_i64(QC_I8, qc_tensor_data(&v->cst), 0), -128);
  ck_assert_int_eq(qc_elem_i64(QC_I8, qc_tensor_data(&v->cst), 1), -1);
  v = value_named(qg, "h");
  ck_assert(qc_elem_f64(QC_F16, qc_tensor_data(&v->cst), 0) == 1.0);
  ck_assert(qc_elem_f64(QC_F16, qc_tensor_data(&v->cst), 1) == -2.0);
  v = value_named(qg, "b");
  ck_assert_int_eq(v->cst.dtype, QC_BOOL);
  ck_assert_int_eq(qc_elem_i64(QC_BOOL, qc_tensor_data(&v->cst), 0), 1);
  v = value_named(qg, "q4");
  int64_t want4[] = {1, 2, 3, 5, -8, -6, 3, 4, 4, 5, 5, 7};
  for (int i = 0; i < 12; i++)
    ck_assert_int_eq(qc_elem_i64(QC_I4, qc_tensor_data(&v->cst), (size_t)i), want4[i]);
  v = value_named(qg, "u2");
  int64_t want2[] = {0, 1, 2, 3, 2};
  for (int i = 0; i < 5; i++)
    ck_assert_int_eq(qc_elem_i64(QC_U2, qc_tensor_data(&v->cst), (size_t)i), want2[i]);
  v = value_named(qg, "f8");
  ck_assert(qc_elem_f64(QC_F8E4M3FN, qc_tensor_data(&v->cst), 0) == 448.0);
  ck_assert(qc_elem_f64(QC_F8E4M3FN, qc_tensor_data(&v->cst), 1) == 1.0);
  v = value_named(qg, "i64");
  ck_assert(((int64_t *)qc_tensor_data(&v->cst))[0] == INT64_MIN);
  v = value_named(qg, "u32");
  ck_assert_uint_eq(((uint32_t *)qc_tensor_data(&v->cst))[0], 4000000000u);
  v = value_named(qg, "u64");
  ck_assert_int_eq(v->cst.rank, 0);
  ck_assert(((uint64_t *)qc_tensor_data(&v->cst))[0] == UINT64_MAX);
  v = value_named(qg, "d");
  ck_assert(((double *)qc_tensor_data(&v->cst))[0] == 0.1);
  v = value_named(qg, "s");
  ck_assert_str_eq(((char **)qc_tensor_data(&v->cst))[0], "abc");
  ck_assert_str_eq(((char **)qc_tensor_data(&v->cst))[1], "");
  v = value_named(qg, "c");
  ck_assert(((float *)qc_tensor_data(&v->cst))[1] == -1.0f);
  v = value_named(qg, "empty");
  ck_assert_int_eq(qc_tensor_numel(&v->cst), 0);
  qc_graph_destroy(qg);
}
END_TEST

START_TEST(maps_external_data_without_copying) {
  float vals[4] = {1, 2, 3, 4};
  uint8_t file[4096 + 16];
  memset(file, 0xAB, sizeof file);
  memcpy(file + 4096, vals, 16);
  write_bytes(tmp_path("weights.bin"), file, sizeof file);
  Onnx__ModelProto *m = add_model(8, 17);
  Onnx__TensorProto *w = m->graph->initializer[0];
  w->dims[0] = 4;
  free(w->raw_data.data);
  w->raw_data.data = NULL;
  w->raw_data.len = 0;
  w->has_raw_data = 0;
  set_external(w, "weights.bin", "4096", "16");
  m->graph->input[0]->type->tensor_type->shape->dim[1]->dim_value = 4;
  m->graph->output[0]->type->tensor_type->shape->dim[1]->dim_value = 4;
  qc_graph *g = import_ok(save_model(m, "ext.onnx"));
  const qc_value *v = value_named(g, "w");
  ck_assert(((float *)qc_tensor_data(&v->cst))[3] == 4.0f);
  const char *origin;
  uint64_t off;
  ck_assert(qc_buffer_origin(v->cst.buf, &origin, &off));
  ck_assert_ptr_nonnull(strstr(origin, "weights.bin"));
  ck_assert_uint_eq(off + v->cst.offset, 4096);
  qc_graph_destroy(g);
}
END_TEST

/* A function custom.Scale(x) -> (y): y = Mul(x, Constant(value_float = @alpha)) + x, where
 * alpha defaults to 2; called twice, once with alpha = 3. */
START_TEST(inlines_model_local_functions) {
  Onnx__GraphProto *g = graph_new("g");
  add_input(g, "x", 1, 1, (int64_t[]){2});
  Onnx__NodeProto *c1 = add_node_to(&g->node, &g->n_node, "custom", "Scale", "s1", "x", "y1");
  Onnx__AttributeProto *a = attr_new("alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  a->has_f = 1;
  a->f = 3.0f;
  PUSH(c1->attribute, c1->n_attribute, a);
  add_node_to(&g->node, &g->n_node, "custom", "Scale", "s2", "y1", "y2");
  add_output(g, "y2", 1, 1, (int64_t[]){2});
  Onnx__ModelProto *m = model_new(10, 18, g);
  add_opset(m, "custom", 1);
  Onnx__FunctionProto *f = malloc(sizeof *f);
  onnx__function_proto__init(f);
  f->name = strdup("Scale");
  f->domain = strdup("custom");
  PUSH(f->input, f->n_input, strdup("X"));
  PUSH(f->output, f->n_output, strdup("Y"));
  Onnx__AttributeProto *dflt = attr_new("alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  dflt->has_f = 1;
  dflt->f = 2.0f;
  PUSH(f->attribute_proto, f->n_attribute_proto, dflt);
  Onnx__OperatorSetIdProto *o = malloc(sizeof *o);
  onnx__operator_set_id_proto__init(o);
  o->domain = strdup("");
  o->has_version = 1;
  o->version = 18;
  PUSH(f->opset_import, f->n_opset_import, o);
  Onnx__NodeProto *k = add_node_to(&f->node, &f->n_node, NULL, "Constant", "k", NULL, "A");
  Onnx__AttributeProto *ref = attr_new("value_float", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  ref->ref_attr_name = strdup("alpha");
  PUSH(k->attribute, k->n_attribute, ref);
  add_node_to(&f->node, &f->n_node, NULL, "Mul", "mul", "X,A", "T");
  add_node_to(&f->node, &f->n_node, NULL, "Add", "add", "T,X", "Y");
  PUSH(m->functions, m->n_functions, f);
  qc_graph *qg = import_ok(save_model(m, "func.onnx"));
  ck_assert_int_eq(qc_graph_num_nodes(qg), 6);
  /* Inner names are unique per call; the call's outputs keep their names. */
  ck_assert_int_ge(qc_graph_find(qg, "s1/T"), 0);
  ck_assert_int_ge(qc_graph_find(qg, "s2/T"), 0);
  const qc_value *y1 = value_named(qg, "y1");
  ck_assert_int_eq(qc_graph_node(qg, y1->node)->op, QC_OP_Add);
  ck_assert_str_eq(qc_graph_node(qg, y1->node)->name, "s1/add");
  ck_assert_int_eq(qc_graph_node(qg, 0)->op, QC_OP_Constant);
  ck_assert(qc_node_float(qg, 0, "value_float", 0) == 3.0);  /* the caller's alpha */
  ck_assert(qc_node_float(qg, 3, "value_float", 0) == 2.0);  /* the default */
  ck_assert_int_eq(qc_graph_node(qg, 5)->in[1], qc_graph_find(qg, "y1"));
  ck_assert_int_eq(qc_graph_output(qg, 0), qc_graph_find(qg, "y2"));
  qc_graph_destroy(qg);
}
END_TEST

/* A tensor attribute default shared by two calls, and a function body with a sub-graph
 * holding an initializer: each call must get its own copy of the data. */
START_TEST(function_tensors_are_decoded_per_call) {
  Onnx__GraphProto *g = graph_new("g");
  add_input(g, "x", 1, 1, (int64_t[]){2});
  add_input(g, "c", 9, 0, NULL);
  add_node_to(&g->node, &g->n_node, "custom", "AddK", "a1", "x,c", "y1");
  add_node_to(&g->node, &g->n_node, "custom", "AddK", "a2", "y1,c", "y2");
  add_output(g, "y2", 1, 1, (int64_t[]){2});
  Onnx__ModelProto *m = model_new(10, 18, g);
  add_opset(m, "custom", 1);
  Onnx__FunctionProto *f = malloc(sizeof *f);
  onnx__function_proto__init(f);
  f->name = strdup("AddK");
  f->domain = strdup("custom");
  PUSH(f->input, f->n_input, strdup("X"));
  PUSH(f->input, f->n_input, strdup("C"));
  PUSH(f->output, f->n_output, strdup("Y"));
  Onnx__AttributeProto *dflt = attr_new("k", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
  dflt->t = tensor_new(NULL, 1, 1, (int64_t[]){2});
  set_raw(dflt->t, (float[]){10, 20}, 8);
  PUSH(f->attribute_proto, f->n_attribute_proto, dflt);
  Onnx__NodeProto *k = add_node_to(&f->node, &f->n_node, NULL, "Constant", "k", NULL, "K");
  Onnx__AttributeProto *ref = attr_new("value", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
  ref->ref_attr_name = strdup("k");
  PUSH(k->attribute, k->n_attribute, ref);
  /* If(C) { then: Add(K, one) with `one` an initializer } else { Identity(K) } */
  Onnx__GraphProto *then_g = graph_new("then");
  Onnx__TensorProto *one = tensor_new("one", 1, 1, (int64_t[]){1});
  set_raw(one, (float[]){1}, 4);
  add_init(then_g, one);
  add_node(then_g, "Add", NULL, "K,one", "t");
  add_output(then_g, "t", 1, 1, (int64_t[]){2});
  Onnx__GraphProto *else_g = graph_new("else");
  add_node(else_g, "Identity", NULL, "K", "e");
  add_output(else_g, "e", 1, 1, (int64_t[]){2});
  Onnx__NodeProto *nif = add_node_to(&f->node, &f->n_node, NULL, "If", "if", "C", "KK");
  attr_graph(nif, "then_branch", then_g);
  attr_graph(nif, "else_branch", else_g);
  add_node_to(&f->node, &f->n_node, NULL, "Add", "add", "X,KK", "Y");
  PUSH(m->functions, m->n_functions, f);
  qc_graph *qg = import_ok(save_model(m, "func2.onnx"));
  ck_assert_int_eq(qc_graph_num_nodes(qg), 6);
  for (int call = 0; call < 2; call++) {
    const qc_attr *v = qc_node_attr(qg, call * 3, "value");
    ck_assert_ptr_nonnull(v);
    ck_assert(((float *)qc_tensor_data(v->u.t))[1] == 20.0f);
    const qc_graph *tg = qc_node_attr(qg, call * 3 + 1, "then_branch")->u.g;
    const char *nm = call ? "a2/one" : "a1/one";
    ck_assert(((float *)qc_tensor_data(&value_named(tg, nm)->cst))[0] == 1.0f);
  }
  qc_graph_destroy(qg);
}
END_TEST

/* If(c) { then: Add(x, w) } else { If(c) { then: Identity(x) } else { Neg(w) } }:
 * captures of x and w are made in the graph that uses them, at any depth. */
START_TEST(captures_names_of_enclosing_graphs) {
  Onnx__GraphProto *g = graph_new("g");
  add_input(g, "c", 9, 0, NULL);
  add_input(g, "x", 1, 1, (int64_t[]){2});
  Onnx__TensorProto *w = tensor_new("w", 1, 1, (int64_t[]){2});
  set_raw(w, (float[]){5, 6}, 8);
  add_init(g, w);
  Onnx__GraphProto *then_g = graph_new("then");
  add_node(then_g, "Add", NULL, "x,w", "t_out");
  add_output(then_g, "t_out", 1, 1, (int64_t[]){2});
  Onnx__GraphProto *inner_then = graph_new("inner_then");
  add_node(inner_then, "Identity", NULL, "x", "it_out");
  add_output(inner_then, "it_out", 1, 1, (int64_t[]){2});
  Onnx__GraphProto *inner_else = graph_new("inner_else");
  add_node(inner_else, "Neg", NULL, "w", "ie_out");
  add_output(inner_else, "ie_out", 1, 1, (int64_t[]){2});
  Onnx__GraphProto *else_g = graph_new("else");
  Onnx__NodeProto *inner_if = add_node(else_g, "If", "inner_if", "c", "e_out");
  attr_graph(inner_if, "then_branch", inner_then);
  attr_graph(inner_if, "else_branch", inner_else);
  add_output(else_g, "e_out", 1, 1, (int64_t[]){2});
  Onnx__NodeProto *nif = add_node(g, "If", "outer_if", "c", "y");
  attr_graph(nif, "then_branch", then_g);
  attr_graph(nif, "else_branch", else_g);
  add_output(g, "y", 1, 1, (int64_t[]){2});
  qc_graph *qg = import_ok(save_model(model_new(8, 16, g), "nested.onnx"));
  const qc_node *n = qc_graph_node(qg, 0);
  const qc_graph *tg = qc_node_attr(qg, 0, "then_branch")->u.g;
  const qc_graph *eg = qc_node_attr(qg, 0, "else_branch")->u.g;
  ck_assert_int_eq(n->op, QC_OP_If);
  ck_assert_int_eq(value_named(tg, "x")->kind, QC_VALUE_OUTER);
  ck_assert_int_eq(value_named(tg, "w")->kind, QC_VALUE_OUTER);
  /* The middle graph captures nothing itself; its nested graphs do. */
  ck_assert_int_eq(qc_graph_find(eg, "x"), QC_NONE);
  const qc_graph *it = qc_node_attr(eg, 0, "then_branch")->u.g;
  const qc_graph *ie = qc_node_attr(eg, 0, "else_branch")->u.g;
  ck_assert_int_eq(value_named(it, "x")->kind, QC_VALUE_OUTER);
  ck_assert_int_eq(value_named(ie, "w")->kind, QC_VALUE_OUTER);
  ck_assert_int_eq(value_named(it, "x")->type.dtype, QC_F32);
  /* The outer If depends on x and w through its captures. */
  qc_uses u;
  ck_assert(!qc_uses_compute(qg, &u));
  ck_assert_int_ge(qc_uses_count(&u, qc_graph_find(qg, "x")), 1);
  ck_assert_int_ge(qc_uses_count(&u, qc_graph_find(qg, "w")), 1);
  qc_uses_free(qg, &u);
  qc_graph_destroy(qg);
}
END_TEST

START_TEST(keeps_initializers_that_are_inputs) {
  Onnx__ModelProto *m = add_model(3, 8);
  Onnx__TypeProto *t = tensor_type(1, 1, (int64_t[]){3}, NULL);
  PUSH(m->graph->input, m->graph->n_input, vinfo("w", t));
  qc_graph *g = import_ok(save_model(m, "ir3.onnx"));
  ck_assert_int_eq(qc_graph_num_inputs(g), 1);
  ck_assert_int_eq(value_named(g, "w")->kind, QC_VALUE_CONST);
  ck_assert_str_eq(qc_graph_meta(g, QC_ONNX_META_INPUTS), "x\nw");
  /* Written back, w is an input again and the model stays IR 3. */
  void *data;
  size_t size;
  ck_assert(!qc_onnx_export_memory(g, NULL, &data, &size));
  ProtobufCMessage *msg;
  ck_assert(!qc_onnx_unpack(&onnx__model_proto__descriptor, data, size, "x", &msg));
  Onnx__ModelProto *back = (Onnx__ModelProto *)msg;
  ck_assert_int_eq(back->ir_version, 3);
  ck_assert_uint_eq(back->graph->n_input, 2);
  ck_assert_str_eq(back->graph->input[1]->name, "w");
  protobuf_c_message_free_unpacked(msg, NULL);
  qc_graph *g2;
  ck_assert(!qc_onnx_import_memory(data, size, "mem.onnx", NULL, NULL, &g2));
  ck_assert_int_eq(qc_graph_num_inputs(g2), 1);
  ck_assert_str_eq(qc_graph_meta(g2, QC_ONNX_META_INPUTS), "x\nw");
  free(data);
  qc_graph_destroy(g2);
  qc_graph_destroy(g);
}
END_TEST

/* ---- export -------------------------------------------------------------------------------- */

static int64_t exported_ir(const qc_graph *g, const qc_onnx_export_options *o) {
  void *data;
  size_t size;
  qc_status s = qc_onnx_export_memory(g, o, &data, &size);
  ck_assert_msg(!s, "%s", qc_status_message(s));
  ProtobufCMessage *msg;
  ck_assert(!qc_onnx_unpack(&onnx__model_proto__descriptor, data, size, "x", &msg));
  int64_t ir = ((Onnx__ModelProto *)msg)->ir_version;
  protobuf_c_message_free_unpacked(msg, NULL);
  free(data);
  return ir;
}

static qc_graph *graph_with_const(qc_dtype dt, const char *ir_meta) {
  qc_graph *g;
  ck_assert(!qc_graph_create(NULL, &g));
  ck_assert(!qc_graph_set_opset(g, "", 21));
  if (ir_meta) ck_assert(!qc_graph_set_meta(g, QC_ONNX_META_IR_VERSION, ir_meta));
  qc_tensor t;
  ck_assert(!qc_tensor_alloc(&t, NULL, dt, 1, (int64_t[]){4}));
  qc_vid c, y;
  ck_assert(!qc_graph_add_const(g, "c", &t, &c));
  qc_tensor_release(&t);
  ck_assert(!qc_graph_add_op(g, QC_OP_Identity, "id", 1, &c, "y", &y));
  ck_assert(!qc_graph_add_output(g, y));
  return g;
}

START_TEST(export_picks_the_ir_version) {
  struct {
    qc_dtype dt;
    const char *meta;
    int64_t ir;
  } cases[] = {
      {QC_F32, NULL, 10},       /* opset 21 came with IR 10 */
      {QC_F32, "11", 11},       /* at least the imported one */
      {QC_F8E4M3FN, "7", 9},    {QC_I4, "7", 10},  {QC_U4, "7", 10}, {QC_F4E2M1, "7", 11},
      {QC_E8M0, "7", 12},       {QC_I2, "7", 13},  {QC_U2, "7", 13},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    qc_graph *g = graph_with_const(cases[i].dt, cases[i].meta);
    ck_assert_msg(exported_ir(g, NULL) == cases[i].ir, "%s: IR %lld", qc_dtype_name(cases[i].dt),
                  (long long)exported_ir(g, NULL));
    qc_graph_destroy(g);
  }
  /* Asking for too low a version is an error; a type ONNX lacks is one too. */
  qc_graph *g = graph_with_const(QC_I4, NULL);
  void *data;
  size_t size;
  qc_onnx_export_options o = {.ir_version = 9};
  qc_status s = qc_onnx_export_memory(g, &o, &data, &size);
  ck_assert_ptr_nonnull(s);
  ck_assert_ptr_nonnull(strstr(qc_status_message(s), "needs 10"));
  qc_status_free(s);
  qc_graph_destroy(g);
  qc_graph *g2 = graph_with_const(QC_F6E2M3, NULL);
  s = qc_onnx_export_memory(g2, NULL, &data, &size);
  ck_assert_ptr_nonnull(s);
  ck_assert_ptr_nonnull(strstr(qc_status_message(s), "constant 'c'"));
  ck_assert_ptr_nonnull(strstr(qc_status_message(s), "no ONNX equivalent"));
  qc_status_free(s);
  qc_graph_destroy(g2);
}
END_TEST

START_TEST(export_writes_external_data) {
  qc_graph *g = import_ok(save_model(add_model(8, 17), "add2.onnx"));
  const char *out = tmp_path("add2_ext.onnx");
  qc_onnx_export_options o = {.external = QC_ONNX_EXTERNAL_ALWAYS, .external_min_bytes = 8};
  qc_status s = qc_onnx_export(g, out, &o);
  ck_assert_msg(!s, "%s", qc_status_message(s));
  struct stat st;
  ck_assert_int_eq(stat(tmp_path("add2_ext.onnx.data"), &st), 0);
  ck_assert_int_eq(st.st_size, 12);
  qc_graph *g2 = import_ok(out);
  const qc_value *w = value_named(g2, "w");
  ck_assert(qc_tensor_equal(&w->cst, &value_named(g, "w")->cst));
  const char *origin;
  uint64_t off;
  ck_assert(qc_buffer_origin(w->cst.buf, &origin, &off));
  ck_assert_ptr_nonnull(strstr(origin, "add2_ext.onnx.data"));
  ck_assert_int_eq(qc_graph_num_nodes(g2), 1);
  ck_assert_str_eq(qc_graph_sym_name(g2, value_named(g2, "y")->type.dims[0]), "N");
  qc_graph_destroy(g2);
  qc_graph_destroy(g);
}
END_TEST

START_TEST(model_load_and_save_handle_onnx) {
  const char *in = save_model(add_model(8, 17), "load.onnx");
  qc_graph *g;
  ck_assert(!qc_model_load(in, QC_FORMAT_AUTO, &g));
  const char *out = tmp_path("saved.onnx");
  ck_assert(!qc_model_save(g, out, QC_FORMAT_AUTO));
  qc_graph *g2;
  ck_assert(!qc_model_load(out, QC_FORMAT_AUTO, &g2));
  ck_assert_int_eq(qc_graph_num_values(g2), qc_graph_num_values(g));
  ck_assert_str_eq(qc_graph_meta(g2, QC_ONNX_META_PRODUCER_NAME), "test_onnx");
  qc_graph_destroy(g2);
  qc_graph_destroy(g);
}
END_TEST

/* ---- value files ---------------------------------------------------------------------------- */

START_TEST(pb_values_round_trip) {
  qc_data_value v, back;
  memset(&v, 0, sizeof v);
  v.kind = QC_TYPE_TENSOR;
  v.present = true;
  ck_assert(!qc_tensor_alloc(&v.tensor, NULL, QC_I4, 1, (int64_t[]){3}));
  qc_elem_set_i64(QC_I4, qc_tensor_data(&v.tensor), 2, -3);
  v.name = strdup("t");
  ck_assert(!qc_value_write_pb(tmp_path("t.pb"), &v));
  ck_assert(!qc_value_read_pb(tmp_path("t.pb"), QC_TYPE_TENSOR, &back));
  ck_assert(qc_tensor_equal(&v.tensor, &back.tensor));
  ck_assert_str_eq(back.name, "t");
  qc_data_value_release(&back);
  /* A sequence of two tensors. */
  qc_data_value seq;
  memset(&seq, 0, sizeof seq);
  seq.kind = QC_TYPE_SEQUENCE;
  seq.present = true;
  seq.n_items = 2;
  seq.items = calloc(2, sizeof(qc_tensor));
  qc_tensor_copy_ref(&seq.items[0], &v.tensor);
  qc_tensor_copy_ref(&seq.items[1], &v.tensor);
  ck_assert(!qc_value_write_pb(tmp_path("s.pb"), &seq));
  ck_assert(!qc_value_read_pb(tmp_path("s.pb"), QC_TYPE_SEQUENCE, &back));
  ck_assert_int_eq(back.n_items, 2);
  ck_assert(qc_tensor_equal(&back.items[1], &v.tensor));
  qc_data_value_release(&back);
  /* Optionals: empty, and holding a sequence. */
  qc_data_value opt;
  memset(&opt, 0, sizeof opt);
  opt.kind = QC_TYPE_OPTIONAL;
  ck_assert(!qc_value_write_pb(tmp_path("o.pb"), &opt));
  ck_assert(!qc_value_read_pb(tmp_path("o.pb"), QC_TYPE_OPTIONAL, &back));
  ck_assert(!back.present);
  qc_data_value_release(&back);
  seq.kind = QC_TYPE_OPTIONAL_SEQUENCE;
  ck_assert(!qc_value_write_pb(tmp_path("os.pb"), &seq));
  ck_assert(!qc_value_read_pb(tmp_path("os.pb"), QC_TYPE_OPTIONAL_SEQUENCE, &back));
  ck_assert(back.present);
  ck_assert_int_eq(back.n_items, 2);
  qc_data_value_release(&back);
  qc_status s = qc_value_read_pb(tmp_path("os.pb"), QC_TYPE_OPTIONAL, &back);
  ck_assert_ptr_nonnull(s);
  ck_assert_ptr_nonnull(strstr(qc_status_message(s), "os.pb"));
  qc_status_free(s);
  qc_data_value_release(&seq);
  qc_data_value_release(&v);
}
END_TEST

START_TEST(npy_round_trip) {
  qc_tensor t, back;
  ck_assert(!qc_tensor_alloc(&t, NULL, QC_F32, 2, (int64_t[]){2, 3}));
  for (int i = 0; i < 6; i++) ((float *)qc_tensor_data(&t))[i] = (float)i - 2.5f;
  ck_assert(!qc_tensor_write_npy(tmp_path("a.npy"), &t));
  ck_assert(!qc_tensor_read_npy(tmp_path("a.npy"), &back));
  ck_assert(qc_tensor_equal(&t, &back));
  qc_tensor_release(&back);
  qc_tensor_release(&t);
  /* Strings become fixed-width UTF-32 and come back as UTF-8. */
  ck_assert(!qc_tensor_alloc(&t, NULL, QC_STRING, 1, (int64_t[]){2}));
  ((char **)qc_tensor_data(&t))[0] = strdup("h\xc3\xa9llo");
  ((char **)qc_tensor_data(&t))[1] = strdup("");
  ck_assert(!qc_tensor_write_npy(tmp_path("s.npy"), &t));
  ck_assert(!qc_tensor_read_npy(tmp_path("s.npy"), &back));
  ck_assert_str_eq(((char **)qc_tensor_data(&back))[0], "h\xc3\xa9llo");
  ck_assert_str_eq(((char **)qc_tensor_data(&back))[1], "");
  qc_tensor_release(&back);
  qc_tensor_release(&t);
  /* Types NumPy lacks are widened exactly: int4 -> int8, bf16 -> float32; scalars. */
  ck_assert(!qc_tensor_alloc(&t, NULL, QC_I4, 1, (int64_t[]){3}));
  qc_elem_set_i64(QC_I4, qc_tensor_data(&t), 1, -8);
  ck_assert(!qc_tensor_write_npy(tmp_path("i4.npy"), &t));
  ck_assert(!qc_tensor_read_npy(tmp_path("i4.npy"), &back));
  ck_assert_int_eq(back.dtype, QC_I8);
  ck_assert_int_eq(((int8_t *)qc_tensor_data(&back))[1], -8);
  qc_tensor_release(&back);
  qc_tensor_release(&t);
  ck_assert(!qc_tensor_alloc(&t, NULL, QC_BF16, 0, NULL));
  qc_elem_set_f64(QC_BF16, qc_tensor_data(&t), 0, -1.5, 0);
  ck_assert(!qc_tensor_write_npy(tmp_path("bf.npy"), &t));
  ck_assert(!qc_tensor_read_npy(tmp_path("bf.npy"), &back));
  ck_assert_int_eq(back.dtype, QC_F32);
  ck_assert_int_eq(back.rank, 0);
  ck_assert(((float *)qc_tensor_data(&back))[0] == -1.5f);
  qc_tensor_release(&back);
  qc_tensor_release(&t);
  /* A big-endian file. */
  uint8_t be[128];
  memset(be, ' ', sizeof be);
  memcpy(be, "\x93NUMPY\x01\x00\x6e\x00", 10);
  const char *h = "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }";
  memcpy(be + 10, h, strlen(h));
  be[119] = '\n';
  memcpy(be + 120, "\x00\x00\x01\x02\xff\xff\xff\xfe", 8);
  write_bytes(tmp_path("be.npy"), be, 128);
  ck_assert(!qc_tensor_read_npy(tmp_path("be.npy"), &back));
  ck_assert_int_eq(((int32_t *)qc_tensor_data(&back))[0], 258);
  ck_assert_int_eq(((int32_t *)qc_tensor_data(&back))[1], -2);
  qc_tensor_release(&back);
  write_bytes(tmp_path("bad.npy"), "\x93NUMPY\x01\x00\xff\x00{", 11);
  qc_status s = qc_tensor_read_npy(tmp_path("bad.npy"), &back);
  ck_assert_ptr_nonnull(s);
  ck_assert_ptr_nonnull(strstr(qc_status_message(s), "bad.npy"));
  qc_status_free(s);
}
END_TEST

/* ---- bad input ---------------------------------------------------------------------------- */

START_TEST(rejects_corrupted_files) {
  size_t n;
  uint8_t *b = pack_model(add_model(8, 17), &n);
  const char *p = tmp_path("trunc.onnx");
  for (size_t cut = 1; cut < n; cut += 7) {
    write_bytes(p, b, cut);
    qc_graph *g = NULL;
    qc_status s = qc_onnx_import(p, NULL, &g);
    /* Cutting at a message boundary can leave a valid but incomplete model. */
    if (s) {
      ck_assert_msg(strncmp(qc_status_message(s), p, strlen(p)) == 0, "%s", qc_status_message(s));
      qc_status_free(s);
    }
    qc_graph_destroy(g);
  }
  write_bytes(p, b, n / 2);
  EXPECT_ERROR(p, QC_CODE_PARSE, "malformed protobuf");
  /* Flipped bytes must never crash. */
  for (size_t i = 0; i < n; i++) {
    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    c[i] ^= 0xFF;
    qc_graph *g = NULL;
    qc_status s = qc_onnx_import_memory(c, n, "flip.onnx", tmpdir, NULL, &g);
    qc_status_free(s);
    qc_graph_destroy(g);
    free(c);
  }
  free(b);
  write_bytes(tmp_path("empty.onnx"), "", 0);
  EXPECT_ERROR(tmp_path("empty.onnx"), QC_CODE_INVALID_ARGUMENT, "no ir_version");
  write_bytes(tmp_path("text.onnx"), "hello, world", 12);
  EXPECT_ERROR(tmp_path("text.onnx"), QC_CODE_PARSE, "malformed protobuf");
  /* Messages nested deeper than the limit: AttributeProto.g (field 6) inside NodeProto
   * (field 5) inside GraphProto (field 1), 300 times. */
  size_t depth = 300, cap = depth * 12 + 64, len = 0;
  uint8_t *deep = malloc(cap), *tmp = malloc(cap);
  for (size_t i = 0; i < depth; i++) {
    /* wrap: graph{ node{ attribute{ g: <deep> } } } */
    uint8_t tags[3] = {0x32 /* attr.g */, 0x2a /* node.attribute */, 0x0a /* graph.node */};
    for (int k = 0; k < 3; k++) {
      size_t o = 0;
      tmp[o++] = tags[k];
      size_t v = len;
      do {
        tmp[o++] = (uint8_t)((v & 0x7F) | (v >= 0x80 ? 0x80 : 0));
        v >>= 7;
      } while (v);
      memcpy(tmp + o, deep, len);
      len += o;
      memcpy(deep, tmp, len);
    }
  }
  /* ModelProto.graph = field 7 */
  size_t o = 0;
  tmp[o++] = 0x3a;
  size_t v = len;
  do {
    tmp[o++] = (uint8_t)((v & 0x7F) | (v >= 0x80 ? 0x80 : 0));
    v >>= 7;
  } while (v);
  memcpy(tmp + o, deep, len);
  write_bytes(tmp_path("deep.onnx"), tmp, o + len);
  EXPECT_ERROR(tmp_path("deep.onnx"), QC_CODE_PARSE, "nested deeper than");
  free(deep);
  free(tmp);
}
END_TEST

START_TEST(rejects_bad_external_data) {
  uint8_t data[64] = {0};
  write_bytes(tmp_path("w64.bin"), data, sizeof data);
  struct {
    const char *loc, *off, *len, *msg;
    qc_code code;
  } cases[] = {
      {"missing.bin", NULL, NULL, "initializer 'w': external data file 'missing.bin' does not exist",
       QC_CODE_NOT_FOUND},
      {"w64.bin", "100", NULL, "initializer 'w': external data offset 100 is past the end of 'w64.bin'",
       QC_CODE_INVALID_ARGUMENT},
      {"w64.bin", "60", "12", "offset 60 + length 12 is past the end of 'w64.bin' (64 bytes)",
       QC_CODE_INVALID_ARGUMENT},
      {"w64.bin", "0", "8", "initializer 'w': external data has 8 bytes, but dims [3] of f32 need 12",
       QC_CODE_INVALID_ARGUMENT},
      {"w64.bin", "x1", NULL, "external data offset 'x1' is not a number", QC_CODE_INVALID_ARGUMENT},
      {"../w64.bin", NULL, NULL, "'../w64.bin' is outside the model's directory",
       QC_CODE_INVALID_ARGUMENT},
      {"a/../../w64.bin", NULL, NULL, "is outside the model's directory", QC_CODE_INVALID_ARGUMENT},
      {"/etc/passwd", NULL, NULL, "'/etc/passwd' is outside the model's directory",
       QC_CODE_INVALID_ARGUMENT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    Onnx__ModelProto *m = add_model(8, 17);
    Onnx__TensorProto *w = m->graph->initializer[0];
    free(w->raw_data.data);
    w->raw_data.data = NULL;
    w->raw_data.len = 0;
    w->has_raw_data = 0;
    set_external(w, cases[i].loc, cases[i].off, cases[i].len);
    EXPECT_ERROR(save_model(m, "badext.onnx"), cases[i].code, cases[i].msg);
  }
  /* A symlink out of the model's directory is refused too. */
  unlink(tmp_path("link.bin"));
  ck_assert_int_eq(symlink("/etc/passwd", tmp_path("link.bin")), 0);
  Onnx__ModelProto *m = add_model(8, 17);
  Onnx__TensorProto *w = m->graph->initializer[0];
  w->has_raw_data = 0;
  set_external(w, "link.bin", NULL, NULL);
  EXPECT_ERROR(save_model(m, "badext.onnx"), QC_CODE_INVALID_ARGUMENT,
               "'link.bin' resolves outside the model's directory");
  /* From memory without a directory, external data cannot be resolved. */
  m = add_model(8, 17);
  w = m->graph->initializer[0];
  w->has_raw_data = 0;
  set_external(w, "w64.bin", NULL, NULL);
  size_t n;
  uint8_t *b = pack_model(m, &n);
  qc_graph *g = NULL;
  qc_status s = qc_onnx_import_memory(b, n, "mem.onnx", NULL, NULL, &g);
  ck_assert_ptr_nonnull(s);
  ck_assert_ptr_nonnull(strstr(qc_status_message(s), "mem.onnx: initializer 'w'"));
  qc_status_free(s);
  free(b);
}
END_TEST

START_TEST(rejects_inconsistent_tensors) {
  Onnx__ModelProto *m = add_model(8, 17);
  m->graph->initializer[0]->raw_data.len = 8;
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT,
               "initializer 'w': raw_data has 8 bytes, but dims [3] of f32 need 12");
  m = add_model(8, 17);
  Onnx__TensorProto *w = m->graph->initializer[0];
  w->has_raw_data = 0;
  PUSH(w->float_data, w->n_float_data, 1.0f);
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT,
               "initializer 'w': float_data has 1 values, but dims [3] of f32 need 3");
  m = add_model(8, 17);
  m->graph->initializer[0]->has_raw_data = 0;
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT, "initializer 'w': no data");
  m = add_model(8, 17);
  m->graph->initializer[0]->data_type = 99;
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_UNIMPLEMENTED, "initializer 'w': unknown data_type 99");
  m = add_model(8, 17);
  m->graph->initializer[0]->dims[0] = -3;
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT, "initializer 'w': negative dimension");
  m = add_model(8, 17);
  m->graph->initializer[0]->dims[0] = INT64_MAX / 2;
  PUSH(m->graph->initializer[0]->dims, m->graph->initializer[0]->n_dims, 8);
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT, "initializer 'w': the shape is too large");
  /* Declared types that contradict what the node computes. */
  m = add_model(8, 17);
  m->graph->output[0]->type->tensor_type->elem_type = 7;
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_VERIFY, "node 'add' (Add)", "declared i64");
}
END_TEST

START_TEST(rejects_unknown_ops_domains_and_versions) {
  Onnx__ModelProto *m = add_model(8, 17);
  free(m->graph->node[0]->op_type);
  m->graph->node[0]->op_type = strdup("Frobnicate");
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_UNIMPLEMENTED,
               "node 'add' (Frobnicate): unknown op 'Frobnicate' in domain 'ai.onnx'");
  m = add_model(8, 17);
  m->graph->node[0]->domain = strdup("com.acme");
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT,
               "node 'add' (com.acme.Add): domain 'com.acme' is not in the model's opset_import");
  m = add_model(8, 17);
  add_opset(m, "com.acme", 1);
  m->graph->node[0]->domain = strdup("com.acme");
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_UNIMPLEMENTED,
               "unknown op 'Add' in domain 'com.acme'");
  m = add_model(8, 21);
  free(m->graph->node[0]->op_type);
  m->graph->node[0]->op_type = strdup("Attention");
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_UNIMPLEMENTED,
               "node 'add' (Attention): opset 21 of domain 'ai.onnx' is outside the versions "
               "quarc supports for Attention (23 and later)");
  EXPECT_ERROR(save_model(add_model(8, 28), "bad.onnx"), QC_CODE_UNIMPLEMENTED,
               "opset 28 of domain 'ai.onnx' is not supported");
  m = add_model(8, 17);
  add_opset(m, "ai.onnx.ml", 9);
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_UNIMPLEMENTED,
               "opset 9 of domain 'ai.onnx.ml' is not supported");
  EXPECT_ERROR(save_model(add_model(2, 17), "bad.onnx"), QC_CODE_UNIMPLEMENTED,
               "IR version 2 is not supported");
  EXPECT_ERROR(save_model(add_model(14, 17), "bad.onnx"), QC_CODE_UNIMPLEMENTED,
               "IR version 14 is not supported");
  m = add_model(8, 17);
  free(m->graph->node[0]->input[1]);
  m->graph->node[0]->input[1] = strdup("nope");
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT,
               "node 'add' (Add): input 1: 'nope' is not defined");
  m = add_model(8, 17);
  PUSH(m->graph->node[0]->input, m->graph->node[0]->n_input, strdup("x"));
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT,
               "node 'add' (Add): 3 inputs given, Add takes 2");
  m = add_model(8, 17);
  add_node(m->graph, "Relu", "again", "x", "y");
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT,
               "node 'again' (Relu): value 'y' is defined twice");
  m = add_model(8, 17);
  Onnx__AttributeProto *a = attr_new("alpha", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
  a->ref_attr_name = strdup("beta");
  PUSH(m->graph->node[0]->attribute, m->graph->node[0]->n_attribute, a);
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT,
               "attribute 'alpha' refers to 'beta' outside a function body");
  /* A function calling itself. */
  m = add_model(8, 17);
  add_opset(m, "custom", 1);
  m->graph->node[0]->domain = strdup("custom");
  free(m->graph->node[0]->op_type);
  m->graph->node[0]->op_type = strdup("Loop1");
  Onnx__FunctionProto *f = malloc(sizeof *f);
  onnx__function_proto__init(f);
  f->name = strdup("Loop1");
  f->domain = strdup("custom");
  PUSH(f->input, f->n_input, strdup("A"));
  PUSH(f->input, f->n_input, strdup("B"));
  PUSH(f->output, f->n_output, strdup("C"));
  add_node_to(&f->node, &f->n_node, "custom", "Loop1", "self", "A,B", "C");
  PUSH(m->functions, m->n_functions, f);
  EXPECT_ERROR(save_model(m, "bad.onnx"), QC_CODE_INVALID_ARGUMENT, "node 'add' (custom.Loop1)",
               "nest deeper than");
}
END_TEST

int main(void) {
  Suite *s = suite_create("onnx");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, imports_a_simple_model);
  tcase_add_test(tc, reads_every_typed_field);
  tcase_add_test(tc, maps_external_data_without_copying);
  tcase_add_test(tc, inlines_model_local_functions);
  tcase_add_test(tc, function_tensors_are_decoded_per_call);
  tcase_add_test(tc, captures_names_of_enclosing_graphs);
  tcase_add_test(tc, keeps_initializers_that_are_inputs);
  tcase_add_test(tc, export_picks_the_ir_version);
  tcase_add_test(tc, export_writes_external_data);
  tcase_add_test(tc, model_load_and_save_handle_onnx);
  tcase_add_test(tc, pb_values_round_trip);
  tcase_add_test(tc, npy_round_trip);
  tcase_add_test(tc, rejects_corrupted_files);
  tcase_add_test(tc, rejects_bad_external_data);
  tcase_add_test(tc, rejects_inconsistent_tensors);
  tcase_add_test(tc, rejects_unknown_ops_domains_and_versions);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
