/* The .qir text format: print(parse(print(g))) == print(g) byte for byte for graphs built
 * with the builder API (every value, type, dtype and attribute kind, sub-graphs with
 * captures, domains, metadata), exact float and NaN codes, external data both ways
 * (mapped files and the side file), qc_qir_write_file/read_file, the exact text of the
 * format, located error messages for malformed inputs, and a seeded random round trip. */
#include "quarc/quarc.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers --------------------------------------------------------------------------------- */

#define OK(expr)                                                                                   \
  do {                                                                                             \
    qc_status s_ = (expr);                                                                         \
    ck_assert_msg(s_ == QC_OK, "%s failed: %s", #expr, qc_status_message(s_));                     \
  } while (0)

static char tmpdir[200];

static void make_tmpdir(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/quarc-test-qir-XXXXXX", base && *base ? base : "/tmp");
  ck_assert(mkdtemp(tmpdir) != NULL);
}

static void remove_tmpdir(const char *const *names, int n) {
  char path[512];
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
    unlink(path);
  }
  rmdir(tmpdir);
}

static char *print_opts(const qc_graph *g, const qc_qir_print_options *o) {
  char *t;
  size_t n;
  OK(qc_qir_print(g, o, &t, &n));
  ck_assert_uint_eq(strlen(t), n);
  return t;
}

static char *print(const qc_graph *g) { return print_opts(g, NULL); }

static qc_graph *parse_named(const char *text, const char *file) {
  qc_graph *g;
  qc_status s = qc_qir_parse(text, strlen(text), file, &g);
  ck_assert_msg(s == QC_OK, "parse failed: %s\n--- text ---\n%s", qc_status_message(s), text);
  return g;
}

static qc_graph *parse(const char *text) { return parse_named(text, "t.qir"); }

/* print -> parse -> print must give the same bytes; returns the graph parsed back. */
static qc_graph *roundtrip_opts(const qc_graph *g, const qc_qir_print_options *o,
                                const char *file) {
  char *t1 = print_opts(g, o);
  qc_graph *g2 = parse_named(t1, file);
  char *t2 = print_opts(g2, o);
  ck_assert_msg(strcmp(t1, t2) == 0, "round trip changed the text:\n--- first ---\n%s\n--- second ---\n%s",
                t1, t2);
  free(t1);
  free(t2);
  return g2;
}

static qc_graph *roundtrip(const qc_graph *g) { return roundtrip_opts(g, NULL, "t.qir"); }

/* The parse error message for `text` (which must fail). Caller frees. */
static char *parse_error(const char *text, const char *file, qc_code *code) {
  qc_graph *g = NULL;
  qc_status s = qc_qir_parse(text, strlen(text), file, &g);
  ck_assert_msg(s != QC_OK, "expected a parse error for:\n%s", text);
  ck_assert(g == NULL);
  char *m = strdup(qc_status_message(s));
  if (code) *code = qc_status_code(s);
  qc_status_free(s);
  return m;
}

static qc_tensor tensor_f32(int32_t rank, const int64_t *dims, const float *v) {
  qc_tensor t;
  OK(qc_tensor_alloc(&t, NULL, QC_F32, rank, dims));
  memcpy(qc_tensor_data(&t), v, qc_tensor_nbytes(&t));
  return t;
}

static qc_vid add_const_f32(qc_graph *g, const char *name, int32_t rank, const int64_t *dims,
                            const float *v) {
  qc_tensor t = tensor_f32(rank, dims, v);
  qc_vid id;
  OK(qc_graph_add_const(g, name, &t, &id));
  qc_tensor_release(&t);
  return id;
}

static qc_op op(const char *domain, const char *name) {
  qc_op o = qc_op_lookup(domain, name);
  ck_assert_msg(o != QC_OP_INVALID, "no op %s.%s", domain, name);
  return o;
}

/* Test ops: attributes of any kind (built-in ops have no tensors/graphs attributes), and
 * names that must be quoted. Registered once per process. */
static const qc_attr_schema ANY_ATTRS[] = {{"i", 0, 0, 0, 0, 0, NULL},    {"f", 0, 0, 0, 0, 0, NULL},
                                           {"s", 0, 0, 0, 0, 0, NULL},    {"t", 0, 0, 0, 0, 0, NULL},
                                           {"g", 0, 0, 0, 0, 0, NULL},    {"ints", 0, 0, 0, 0, 0, NULL},
                                           {"floats", 0, 0, 0, 0, 0, NULL}, {"strings", 0, 0, 0, 0, 0, NULL},
                                           {"tensors", 0, 0, 0, 0, 0, NULL}, {"graphs", 0, 0, 0, 0, 0, NULL},
                                           {"type", 0, 0, 0, 0, 0, NULL}};
static const qc_op_schema ANY = {"qir.test", "Any", 1, 999, 0, -1, 0, -1, QC_OPF_SUBGRAPH, NULL,
                                 ANY_ATTRS, 11};
static const qc_op_schema ODD_DOMAIN = {"my domain", "a.b", 1, 999, 0, -1, 0, -1, 0, NULL, NULL, 0};
static const qc_op_schema KEYWORD_OP = {"", "return", 1, 999, 0, -1, 0, -1, 0, NULL, NULL, 0};
static const qc_op_schema NAN_OP = {"", "nan", 1, 999, 0, -1, 0, -1, 0, NULL, NULL, 0};
static qc_op OP_ANY, OP_ODD, OP_KW, OP_NAN;

static void register_test_ops(void) {
  if (OP_ANY) return;
  OK(qc_op_register(&ANY, &OP_ANY));
  OK(qc_op_register(&ODD_DOMAIN, &OP_ODD));
  OK(qc_op_register(&KEYWORD_OP, &OP_KW));
  OK(qc_op_register(&NAN_OP, &OP_NAN));
}

/* ---- the text of the format ------------------------------------------------------------------ */

START_TEST(print_format_is_stable) {
  qc_graph *g;
  OK(qc_graph_create(NULL, &g));
  OK(qc_graph_set_name(g, "main"));
  OK(qc_graph_set_opset(g, "", 21));
  OK(qc_graph_set_opset(g, "com.microsoft", 1));
  OK(qc_graph_set_meta(g, "producer_name", "quarc"));
  qc_type tx = qc_type_tensor(QC_F32, 2, (int64_t[]){qc_graph_sym(g, "batch"), 4});
  qc_type ty = qc_type_tensor(QC_I64, 1, (int64_t[]){QC_DIM_UNKNOWN});
  qc_vid x, y, w, h;
  OK(qc_graph_add_input(g, "x", &tx, &x));
  OK(qc_graph_add_input(g, "onnx::y", &ty, &y));
  w = add_const_f32(g, "w", 2, (int64_t[]){4, 2},
                    (float[]){0.5f, -1, 0.25f, 1e-7f, INFINITY, -INFINITY, NAN, 3});
  OK(qc_graph_add_op(g, QC_OP_MatMul, "mm0", 2, (qc_vid[]){x, w}, "h", &h));
  qc_type th = qc_type_tensor(QC_F32, 2, (int64_t[]){qc_graph_sym(g, "batch"), 2});
  OK(qc_graph_set_type(g, h, &th));
  qc_nid n;
  OK(qc_graph_add_node(g, QC_OP_Split, "", 1, &h, 2, (const char *[]){"a", ""}, &n));
  OK(qc_node_set_int(g, n, "axis", 1));
  OK(qc_node_set_int(g, n, "num_outputs", 2));
  OK(qc_graph_add_output(g, qc_graph_node(g, n)->out[0]));
  char *t = print(g);
  ck_assert_str_eq(t, "graph @main(%x: f32[batch,4], %\"onnx::y\": i64[?]) {\n"
                      "  opset \"\" 21, \"com.microsoft\" 1\n"
                      "  meta \"producer_name\" = \"quarc\"\n"
                      "  %w = const f32[4,2] dense<[0.5, -1, 0.25, 1e-07, inf, -inf, nan, 3]>\n"
                      "  %h: f32[batch,2] = MatMul(%x, %w) @mm0\n"
                      "  %a, _ = Split(%h) {axis = 1, num_outputs = 2}\n"
                      "  return %a\n"
                      "}\n");
  qc_graph *g2 = roundtrip(g);
  OK(qc_graph_verify(g2));
  free(t);
  qc_graph_destroy(g);
  qc_graph_destroy(g2);
}
END_TEST

/* ---- every feature, built with the builder API ------------------------------------------------- */

static qc_graph *branch(const char *name, const char *capture, const qc_type *ct) {
  qc_graph *b;
  OK(qc_graph_create(NULL, &b));
  OK(qc_graph_set_name(b, name));
  qc_vid c;
  OK(qc_graph_add_outer(b, capture, ct, &c));
  qc_vid r;
  OK(qc_graph_add_op(b, QC_OP_Identity, "", 1, &c, NULL, &r));
  OK(qc_graph_add_output(b, r));
  return b;
}

START_TEST(builder_graph_with_every_feature) {
  register_test_ops();
  qc_graph *g;
  OK(qc_graph_create(NULL, &g));
  OK(qc_graph_set_name(g, "every feature"));
  OK(qc_graph_set_opset(g, "", 21));
  OK(qc_graph_set_opset(g, "com.microsoft", 1));
  OK(qc_graph_set_opset(g, "ai.onnx.ml", 4));
  OK(qc_graph_set_meta(g, "k", "v \"quoted\"\n\x01\xff"));
  OK(qc_graph_set_meta(g, "", ""));
  /* Inputs of every type kind, unknown dtype/rank/dims and symbols that need quotes. */
  int64_t sym_a = qc_graph_sym(g, "batch"), sym_b = qc_graph_sym(g, "seq len"),
          sym_c = qc_graph_sym(g, "inf");
  qc_type types[6] = {qc_type_tensor(QC_F32, 3, (int64_t[]){sym_a, sym_b, QC_DIM_UNKNOWN}),
                      qc_type_unknown(),
                      qc_type_tensor(QC_I64, 1, (int64_t[]){sym_c}),
                      qc_type_tensor(QC_F16, QC_RANK_UNKNOWN, NULL),
                      qc_type_tensor(QC_DT_UNDEFINED, 2, (int64_t[]){2, 0}),
                      qc_type_tensor(QC_BOOL, 0, NULL)};
  types[2].kind = QC_TYPE_SEQUENCE;
  types[3].kind = QC_TYPE_OPTIONAL;
  types[4].kind = QC_TYPE_OPTIONAL_SEQUENCE;
  const char *in_names[6] = {"x", "onnx::MatMul_12", "0", "a b", "_", "%"};
  qc_vid in[6];
  for (int i = 0; i < 6; i++) OK(qc_graph_add_input(g, in_names[i], &types[i], &in[i]));
  /* Constants of every dtype with arbitrary bytes (NaN payloads and all). */
  uint64_t seed = 12345;
  for (int dt = 1; dt < QC_DTYPE_COUNT; dt++) {
    const qc_dtype_traits *tr = qc_dtype_traits_of((qc_dtype)dt);
    int64_t n = tr->kind == QC_KIND_BLOCK ? 2 * tr->block_elems : 5;
    qc_tensor t;
    OK(qc_tensor_alloc(&t, NULL, (qc_dtype)dt, 1, &n));
    if (dt == QC_STRING) {
      char **s = qc_tensor_data(&t);
      for (int i = 0; i < n; i++) s[i] = strdup(i == 2 ? "" : "s\t\"\\\x80");
    } else {
      unsigned char *d = qc_tensor_data(&t);
      for (size_t i = 0; i < qc_tensor_nbytes(&t); i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        d[i] = (unsigned char)(seed >> 56);
      }
    }
    char name[32];
    snprintf(name, sizeof name, "c_%s", tr->name);
    qc_vid c;
    OK(qc_graph_add_const(g, name, &t, &c));
    qc_tensor_release(&t);
  }
  /* A constant whose value type differs from its data's type. */
  qc_vid cw = add_const_f32(g, "typed", 1, (int64_t[]){2}, (float[]){1, 2});
  qc_type wider = qc_type_tensor(QC_F32, 1, (int64_t[]){sym_a});
  OK(qc_graph_set_type(g, cw, &wider));
  /* Nodes: qualified ops, quoted op names, omitted inputs and outputs, names. */
  qc_nid n;
  OK(qc_graph_add_node(g, op("com.microsoft", "MatMulNBits"), "/model/MatMul", 3,
                       (qc_vid[]){in[0], cw, QC_NONE}, 1, NULL, &n));
  OK(qc_node_set_int(g, n, "K", 64));
  OK(qc_graph_add_node(g, op("ai.onnx.ml", "LabelEncoder"), "", 1, &in[2], 1,
                       (const char *[]){"labels"}, &n));
  OK(qc_graph_add_node(g, OP_ODD, "odd", 2, (qc_vid[]){QC_NONE, in[1]}, 3,
                       (const char *[]){"", "o1", ""}, &n));
  OK(qc_graph_add_node(g, OP_KW, "kw", 0, NULL, 0, NULL, &n));
  OK(qc_graph_add_node(g, OP_NAN, "nan", 1, &in[5], 1, (const char *[]){"nan"}, &n));
  /* Every attribute kind, nested sub-graphs with captures of the enclosing graph. */
  qc_nid an;
  OK(qc_graph_add_node(g, OP_ANY, "attrs", 1, &in[0], 2, (const char *[]){"r0", "r1"}, &an));
  qc_type rt = qc_type_tensor(QC_F8E4M3FN, 2, (int64_t[]){sym_b, 7});
  rt.kind = QC_TYPE_OPTIONAL;
  OK(qc_graph_set_type(g, qc_graph_node(g, an)->out[1], &rt));
  OK(qc_node_set_int(g, an, "i", INT64_MIN));
  OK(qc_node_set_float(g, an, "f", -0.0));
  qc_attr sa = {.name = "s", .kind = QC_ATTR_STRING, .n = 4, .u.s = "a\0b\xff"};
  OK(qc_node_set_attr(g, an, &sa));
  qc_tensor tt = tensor_f32(0, NULL, (float[]){2.5f});
  OK(qc_node_set_tensor(g, an, "t", &tt));
  qc_tensor_release(&tt);
  double fl[5] = {1, NAN, -INFINITY, 5e-324, 0.1};
  uint64_t payload = 0x7ff0000000000123ull;
  memcpy(&fl[1], &payload, 8);
  OK(qc_node_set_floats(g, an, "floats", 5, fl));
  OK(qc_node_set_ints(g, an, "ints", 3, (int64_t[]){INT64_MAX, -1, 0}));
  const char *sv[3] = {"x", "", "\n\0"};
  int32_t sl[3] = {1, 0, 2};
  qc_attr ss = {.name = "strings", .kind = QC_ATTR_STRINGS, .n = 3, .u.strs = {sv, sl}};
  OK(qc_node_set_attr(g, an, &ss));
  qc_tensor ts[2];
  ts[0] = tensor_f32(1, (int64_t[]){1}, (float[]){1});
  OK(qc_tensor_alloc(&ts[1], NULL, QC_I4, 1, (int64_t[]){3}));
  qc_attr ta = {.name = "tensors", .kind = QC_ATTR_TENSORS, .n = 2, .u.tensors = ts};
  OK(qc_node_set_attr(g, an, &ta));
  qc_tensor_release(&ts[0]);
  qc_tensor_release(&ts[1]);
  qc_type tyattr = qc_type_tensor(QC_BF16, 1, (int64_t[]){sym_a});
  tyattr.kind = QC_TYPE_OPTIONAL_SEQUENCE;
  qc_attr tya = {.name = "type", .kind = QC_ATTR_TYPE, .u.type = &tyattr};
  OK(qc_node_set_attr(g, an, &tya));
  /* g: a sub-graph with its own input, opset, meta and a nested sub-graph capturing from
   * two levels up. */
  qc_graph *sub;
  OK(qc_graph_create(NULL, &sub));
  OK(qc_graph_set_name(sub, "body"));
  OK(qc_graph_set_opset(sub, "", 20));
  OK(qc_graph_set_meta(sub, "inner", "yes"));
  qc_vid si, sc;
  OK(qc_graph_add_input(sub, "i", &types[5], &si));
  /* Symbols are per graph: the sub-graph's types use its own. */
  qc_type wider_sub = qc_type_tensor(QC_F32, 1, (int64_t[]){qc_graph_sym(sub, "batch")});
  OK(qc_graph_add_outer(sub, "typed", &wider_sub, &sc));
  qc_nid sn;
  OK(qc_graph_add_node(sub, OP_ANY, "", 2, (qc_vid[]){si, sc}, 1, NULL, &sn));
  qc_graph *deep = branch("deep", "x", &types[0]);
  qc_attr ga = {.name = "g", .kind = QC_ATTR_GRAPH, .u.g = deep};
  OK(qc_node_set_attr(sub, sn, &ga));
  OK(qc_graph_add_output(sub, qc_graph_node(sub, sn)->out[0]));
  qc_attr gsub = {.name = "g", .kind = QC_ATTR_GRAPH, .u.g = sub};
  OK(qc_node_set_attr(g, an, &gsub));
  qc_graph *gl[2] = {branch("b0", "onnx::MatMul_12", &types[1]), branch("", "x", &types[0])};
  qc_attr gla = {.name = "graphs", .kind = QC_ATTR_GRAPHS, .n = 2, .u.graphs = gl};
  OK(qc_node_set_attr(g, an, &gla));
  /* Empty lists of each kind on another node. */
  OK(qc_graph_add_node(g, OP_ANY, "", 0, NULL, 1, NULL, &n));
  OK(qc_node_set_ints(g, n, "ints", 0, NULL));
  OK(qc_node_set_floats(g, n, "floats", 0, NULL));
  qc_attr es = {.name = "strings", .kind = QC_ATTR_STRINGS, .n = 0, .u.strs = {NULL, NULL}};
  OK(qc_node_set_attr(g, n, &es));
  qc_attr et = {.name = "tensors", .kind = QC_ATTR_TENSORS, .n = 0, .u.tensors = NULL};
  OK(qc_node_set_attr(g, n, &et));
  qc_attr eg = {.name = "graphs", .kind = QC_ATTR_GRAPHS, .n = 0, .u.graphs = NULL};
  OK(qc_node_set_attr(g, n, &eg));
  /* An empty value name, and an omitted graph output. */
  qc_vid ev;
  OK(qc_graph_add_op(g, QC_OP_Relu, "", 1, &in[0], "tmp", &ev));
  OK(qc_graph_rename(g, ev, ""));
  OK(qc_graph_add_output(g, qc_graph_node(g, an)->out[0]));
  OK(qc_graph_add_output(g, ev));
  OK(qc_graph_add_output(g, in[3]));
  qc_graph_set_output(g, 2, QC_NONE);

  qc_graph *g2 = roundtrip(g);
  char *t = print(g2);
  /* Spot checks of spellings. */
  ck_assert_ptr_nonnull(strstr(t, "graph @\"every feature\"(%x: f32[batch,\"seq len\",?], "
                                  "%\"onnx::MatMul_12\": ?[*], %0: seq<i64[\"inf\"]>, "
                                  "%\"a b\": opt<f16[*]>, %_: opt<seq<?[2,0]>>, %\"%\": bool[])"));
  ck_assert_ptr_nonnull(strstr(t, "com.microsoft.MatMulNBits(%x, %typed, _) {K = 64} @\"/model/MatMul\""));
  ck_assert_ptr_nonnull(strstr(t, "%labels = ai.onnx.ml.LabelEncoder(%0)\n"));
  ck_assert_ptr_nonnull(strstr(t, "_, %o1, _ = \"my domain\".\"a.b\"(_, %\"onnx::MatMul_12\") @odd\n"));
  ck_assert_ptr_nonnull(strstr(t, "  \"return\"() @kw\n"));
  ck_assert_ptr_nonnull(strstr(t, "%nan = \"nan\"(%\"%\") @nan\n"));
  ck_assert_ptr_nonnull(strstr(t, "%typed: f32[batch] = const f32[2] dense<[1, 2]>"));
  ck_assert_ptr_nonnull(strstr(t, "floats = [1.0, nan(0x123), -inf, 5e-324, 0.1]"));
  ck_assert_ptr_nonnull(strstr(t, "s = \"a\\x00b\\xff\""));
  ck_assert_ptr_nonnull(strstr(t, "strings = [\"x\", \"\", \"\\n\\x00\"]"));
  ck_assert_ptr_nonnull(strstr(t, "type = type opt<seq<bf16[batch]>>"));
  ck_assert_ptr_nonnull(strstr(t, "%r1: opt<f8e4m3fn[\"seq len\",7]>"));
  ck_assert_ptr_nonnull(strstr(t, "capture %typed: f32[batch]\n"));
  ck_assert_ptr_nonnull(strstr(t, "graphs = [graph @b0() {"));
  ck_assert_ptr_nonnull(strstr(t, "}, graph @\"\"() {"));
  ck_assert_ptr_nonnull(strstr(t, "    ints = ints[],\n    floats = floats[],\n    strings = "
                                  "strings[],\n    tensors = tensors[],\n    graphs = graphs[]\n  }\n"));
  ck_assert_ptr_nonnull(strstr(t, "%\"\" = Relu(%x)\n"));
  ck_assert_ptr_nonnull(strstr(t, "return %r0, %\"\", _\n}\n"));
  ck_assert_ptr_nonnull(strstr(t, "%c_q4_0 = const q4_0[64] hex<\""));
  ck_assert_ptr_nonnull(strstr(t, "%c_string = const string[5] dense<[\"s\\t\\\"\\\\\\x80\""));
  /* The values themselves came back. */
  const qc_attr *a = qc_node_attr(g2, 5, "floats");
  ck_assert_ptr_nonnull(a);
  uint64_t bits;
  memcpy(&bits, &a->u.floats[1], 8);
  ck_assert_uint_eq(bits, payload);
  memcpy(&bits, &a->u.floats[3], 8);
  ck_assert_uint_eq(bits, 1);
  ck_assert_int_eq(qc_graph_output(g2, 2), QC_NONE);
  ck_assert_int_eq(qc_node_attr(g2, 5, "i")->u.i, INT64_MIN);
  ck_assert(signbit(qc_node_attr(g2, 5, "f")->u.f));
  ck_assert_int_eq(qc_node_attr(g2, 5, "s")->n, 4);
  ck_assert(memcmp(qc_node_attr(g2, 5, "s")->u.s, "a\0b\xff", 4) == 0);
  for (qc_vid v = 0; v < qc_graph_num_values(g); v++) {
    const qc_value *val = qc_graph_value(g, v);
    if (val->kind != QC_VALUE_CONST) continue;
    const qc_value *back = qc_graph_value(g2, qc_graph_find(g2, val->name));
    ck_assert_ptr_nonnull(back);
    if (val->cst.dtype == QC_STRING) continue; /* pointers differ; the text compared equal */
    /* Sub-byte tensors keep their codes; the padding bits of the last byte are not data. */
    size_t nb = qc_tensor_nbytes(&val->cst);
    int bits_ = qc_dtype_traits_of(val->cst.dtype)->bits;
    if (bits_ < 8) {
      for (size_t i = 0; i < (size_t)qc_tensor_numel(&val->cst); i++)
        ck_assert_uint_eq(qc_elem_code(val->cst.dtype, qc_tensor_data(&val->cst), i),
                          qc_elem_code(val->cst.dtype, qc_tensor_data(&back->cst), i));
    } else {
      ck_assert_msg(memcmp(qc_tensor_data(&val->cst), qc_tensor_data(&back->cst), nb) == 0,
                    "constant %s changed", val->name);
    }
  }
  free(t);
  qc_graph_destroy(g);
  qc_graph_destroy(g2);
}
END_TEST

/* Every code of every float format of up to 16 bits, and f32/f64 NaN payloads, come back
 * exactly: as decimal where that reads back, else as the raw code. */
START_TEST(float_codes_are_exact) {
  static const qc_dtype dts[] = {QC_F16,        QC_BF16,      QC_F8E4M3FN, QC_F8E4M3FNUZ,
                                 QC_F8E5M2,     QC_F8E5M2FNUZ, QC_F6E2M3,  QC_F6E3M2,
                                 QC_F4E2M1,     QC_E8M0,      QC_E5M3,     QC_UE4M3};
  qc_qir_print_options o = {SIZE_MAX, NULL, NULL};
  for (size_t k = 0; k < sizeof dts / sizeof *dts; k++) {
    qc_dtype dt = dts[k];
    int bits = qc_dtype_traits_of(dt)->bits;
    int64_t n = (int64_t)1 << bits;
    qc_tensor t;
    OK(qc_tensor_alloc(&t, NULL, dt, 1, &n));
    for (int64_t i = 0; i < n; i++) qc_elem_set_code(dt, qc_tensor_data(&t), (size_t)i, (uint64_t)i);
    qc_graph *g;
    OK(qc_graph_create(NULL, &g));
    qc_vid c;
    OK(qc_graph_add_const(g, "c", &t, &c));
    qc_graph *g2 = roundtrip_opts(g, &o, "t.qir");
    const qc_tensor *b = &qc_graph_value(g2, qc_graph_find(g2, "c"))->cst;
    for (int64_t i = 0; i < n; i++)
      ck_assert_msg(qc_elem_code(dt, qc_tensor_data(b), (size_t)i) == (uint64_t)i,
                    "%s code 0x%llx came back as 0x%llx", qc_dtype_name(dt), (long long)i,
                    (long long)qc_elem_code(dt, qc_tensor_data(b), (size_t)i));
    qc_tensor_release(&t);
    qc_graph_destroy(g);
    qc_graph_destroy(g2);
  }
  /* f32 and f64: special codes (NaN payloads, signalling NaNs, signed zeros, denormals,
   * extremes), then random codes. */
  static const uint64_t special32[] = {0,          0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
                                       0x7f800001, 0xffc00001, 1,          0x7f7fffff, 0x00800000};
  static const uint64_t special64[] = {0,
                                       0x8000000000000000ull,
                                       0x7ff0000000000000ull,
                                       0x7ff8000000000000ull,
                                       0xfff0000000000001ull,
                                       0x7ff0000000000001ull,
                                       1,
                                       0x000fffffffffffffull,
                                       0x7fefffffffffffffull,
                                       0x3fb999999999999aull};
  uint64_t seed = 99;
  for (int which = 0; which < 2; which++) {
    qc_dtype dt = which ? QC_F64 : QC_F32;
    int64_t n = 4000;
    qc_tensor t;
    OK(qc_tensor_alloc(&t, NULL, dt, 1, &n));
    for (int64_t i = 0; i < n; i++) {
      seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
      uint64_t c = which ? seed : seed >> 32;
      if (i < 10) c = which ? special64[i] : special32[i];
      qc_elem_set_code(dt, qc_tensor_data(&t), (size_t)i, c);
    }
    qc_graph *g;
    OK(qc_graph_create(NULL, &g));
    qc_vid c;
    OK(qc_graph_add_const(g, "c", &t, &c));
    qc_graph *g2 = roundtrip_opts(g, &o, "t.qir");
    const qc_tensor *b = &qc_graph_value(g2, qc_graph_find(g2, "c"))->cst;
    ck_assert(memcmp(qc_tensor_data(&t), qc_tensor_data(b), qc_tensor_nbytes(&t)) == 0);
    qc_tensor_release(&t);
    qc_graph_destroy(g);
    qc_graph_destroy(g2);
  }
}
END_TEST

/* The shortest decimal that reads back, in %g's layout. */
START_TEST(float_spellings) {
  qc_graph *g;
  OK(qc_graph_create(NULL, &g));
  add_const_f32(g, "a", 1, (int64_t[]){14},
                (float[]){0.1f, 10, 100000, 1e-7f, 3.4028235e38f, 123456.7f, -0.0f, 1.5e-45f,
                          0.3f, 2.5f, 16777216, 1e10f, 99.99f, 0.0001f});
  qc_tensor h;
  OK(qc_tensor_alloc(&h, NULL, QC_F16, 1, (int64_t[]){4}));
  uint16_t *hp = qc_tensor_data(&h);
  hp[0] = qc_f32_to_f16(0.1f), hp[1] = qc_f32_to_f16(65504), hp[2] = 0x0001, hp[3] = 0x7e01;
  qc_vid c;
  OK(qc_graph_add_const(g, "h", &h, &c));
  qc_tensor_release(&h);
  char *t = print(g);
  ck_assert_ptr_nonnull(strstr(t, "%a = const f32[14] dense<[0.1, 10, 1e+05, 1e-07, 3.4028235e+38, "
                                  "123456.7, -0, 1e-45, 0.3, 2.5, 16777216, 1e+10, 99.99, "
                                  "0.0001]>\n"));
  ck_assert_ptr_nonnull(strstr(t, "%h = const f16[4] dense<[0.1, 65504, 6e-08, 0x7e01]>\n"));
  free(t);
  qc_graph_destroy(g);
}
END_TEST

START_TEST(float_attributes_are_exact) {
  uint64_t seed = 7;
  qc_graph *g;
  OK(qc_graph_create(NULL, &g));
  qc_vid x;
  qc_type t = qc_type_unknown();
  OK(qc_graph_add_input(g, "x", &t, &x));
  for (int i = 0; i < 2000; i++) {
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    uint64_t bits = seed;
    if (i % 4 == 1) bits = (bits & 0x800fffffffffffffull) | 0x7ff0000000000000ull; /* NaN/inf */
    if (i % 4 == 2) bits &= 0x800fffffffffffffull;                               /* denormal */
    double d;
    memcpy(&d, &bits, 8);
    qc_nid n;
    OK(qc_graph_add_node(g, QC_OP_LeakyRelu, "", 1, &x, 1, NULL, &n));
    OK(qc_node_set_float(g, n, "alpha", d));
  }
  qc_graph *g2 = roundtrip(g);
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    double a = qc_node_attr(g, n, "alpha")->u.f, b = qc_node_attr(g2, n, "alpha")->u.f;
    ck_assert_int_eq(qc_node_attr(g2, n, "alpha")->kind, QC_ATTR_FLOAT);
    ck_assert_msg(memcmp(&a, &b, 8) == 0, "node %d: %a came back as %a", n, a, b);
  }
  qc_graph_destroy(g);
  qc_graph_destroy(g2);
}
END_TEST

START_TEST(every_byte_in_strings) {
  char all[257]; /* all + 1: every byte but NUL, as a C string */
  for (int i = 0; i < 256; i++) all[i] = (char)i;
  all[256] = 0;
  qc_graph *g;
  OK(qc_graph_create(NULL, &g));
  OK(qc_graph_set_meta(g, all + 1, all + 1)); /* C strings: everything but NUL */
  OK(qc_graph_set_name(g, all + 1));
  qc_type t = qc_type_tensor(QC_F32, 1, (int64_t[]){qc_graph_sym(g, all + 1)});
  qc_vid x, y;
  OK(qc_graph_add_input(g, all + 1, &t, &x));
  OK(qc_graph_add_op(g, QC_OP_Pad, all + 1, 1, &x, "y", &y));
  qc_attr a = {.name = all + 1, .kind = QC_ATTR_STRING, .n = 256, .u.s = all};
  OK(qc_node_set_attr(g, 0, &a));
  qc_graph *g2 = roundtrip(g);
  const qc_attr *b = qc_node_attr(g2, 0, all + 1);
  ck_assert_ptr_nonnull(b);
  ck_assert_int_eq(b->n, 256);
  ck_assert(memcmp(b->u.s, all, 256) == 0);
  ck_assert_str_eq(qc_graph_value(g2, qc_graph_input(g2, 0))->name, all + 1);
  ck_assert_str_eq(qc_graph_meta(g2, all + 1), all + 1);
  ck_assert_str_eq(qc_graph_name(g2), all + 1);
  ck_assert_str_eq(qc_graph_node(g2, 0)->name, all + 1);
  qc_graph_destroy(g);
  qc_graph_destroy(g2);
}
END_TEST

/* ---- external data ------------------------------------------------------------------------- */

static qc_graph *graph_with_big_const(size_t n, qc_vid *c) {
  qc_graph *g;
  OK(qc_graph_create(NULL, &g));
  qc_tensor t;
  int64_t dims[1] = {(int64_t)n};
  OK(qc_tensor_alloc(&t, NULL, QC_F32, 1, dims));
  for (size_t i = 0; i < n; i++) ((float *)qc_tensor_data(&t))[i] = (float)i * 0.5f;
  OK(qc_graph_add_const(g, "big", &t, c));
  qc_tensor_release(&t);
  qc_vid s;
  float small[2] = {1, 2};
  s = add_const_f32(g, "small", 1, (int64_t[]){2}, small);
  OK(qc_graph_add_output(g, *c));
  OK(qc_graph_add_output(g, s));
  return g;
}

START_TEST(memory_constants_go_to_the_side_file) {
  make_tmpdir();
  char side[256], qir[256];
  snprintf(side, sizeof side, "%s/side.bin", tmpdir);
  snprintf(qir, sizeof qir, "%s/m.qir", tmpdir);
  qc_vid c;
  qc_graph *g = graph_with_big_const(300, &c); /* 1200 bytes > 1024 */
  /* Without a side file everything is inline. */
  char *t0 = print(g);
  ck_assert_ptr_nonnull(strstr(t0, "%big = const f32[300] dense<[0, 0.5, 1, 1.5,"));
  free(t0);
  /* With one, the big constant goes there; the small one stays inline. */
  qc_qir_print_options o = {0, side, tmpdir};
  char *t1 = print_opts(g, &o);
  ck_assert_ptr_nonnull(strstr(t1, "%big = const f32[300] external<\"side.bin\", offset=0, size=1200>\n"));
  ck_assert_ptr_nonnull(strstr(t1, "%small = const f32[2] dense<[1, 2]>\n"));
  struct stat st;
  ck_assert_int_eq(stat(side, &st), 0);
  ck_assert_int_eq(st.st_size, 1200);
  /* A second print appends at the next 64-byte boundary. */
  char *t2 = print_opts(g, &o);
  ck_assert_ptr_nonnull(strstr(t2, "external<\"side.bin\", offset=1216, size=1200>"));
  ck_assert_int_eq(stat(side, &st), 0);
  ck_assert_int_eq(st.st_size, 2416);
  /* Parsing maps the file; printing again refers to the same bytes and appends nothing. */
  qc_graph *g2 = parse_named(t2, qir);
  const qc_value *v = qc_graph_value(g2, qc_graph_find(g2, "big"));
  const char *path;
  uint64_t off;
  ck_assert(qc_buffer_origin(v->cst.buf, &path, &off));
  ck_assert_str_eq(path, side);
  ck_assert_uint_eq(off + v->cst.offset, 1216);
  ck_assert(memcmp(qc_tensor_data(&v->cst),
                   qc_tensor_data(&qc_graph_value(g, c)->cst), 1200) == 0);
  char *t3 = print_opts(g2, &o);
  ck_assert_str_eq(t2, t3);
  ck_assert_int_eq(stat(side, &st), 0);
  ck_assert_int_eq(st.st_size, 2416);
  /* inline_limit: a lower limit moves the small constant out too. */
  qc_qir_print_options o8 = {4, side, tmpdir};
  char *t4 = print_opts(g, &o8);
  ck_assert_ptr_nonnull(strstr(t4, "%small = const f32[2] external<\"side.bin\", offset=3648, size=8>"));
  free(t1);
  free(t2);
  free(t3);
  free(t4);
  qc_graph_destroy(g);
  qc_graph_destroy(g2);
  remove_tmpdir((const char *[]){"side.bin"}, 1);
}
END_TEST

START_TEST(mapped_constants_refer_to_their_file) {
  make_tmpdir();
  char bin[256], qir[256];
  snprintf(bin, sizeof bin, "%s/w.bin", tmpdir);
  snprintf(qir, sizeof qir, "%s/m.qir", tmpdir);
  FILE *f = fopen(bin, "wb");
  for (int i = 0; i < 4096; i++) fputc(i * 7, f);
  fclose(f);
  qc_buffer *file, *big, *small;
  OK(qc_buffer_map_file(bin, &file));
  big = qc_buffer_slice(file, 100, 3000);
  small = qc_buffer_slice(file, 8, 8);
  qc_buffer_release(file);
  qc_graph *g;
  OK(qc_graph_create(NULL, &g));
  qc_tensor t;
  qc_tensor_init(&t, QC_U8, 1, (int64_t[]){2000}, big, 16); /* file offset 116 */
  qc_vid c;
  OK(qc_graph_add_const(g, "big", &t, &c));
  qc_tensor_release(&t);
  qc_tensor_init(&t, QC_I8, 1, (int64_t[]){8}, small, 0);
  OK(qc_graph_add_const(g, "small", &t, &c));
  qc_tensor_release(&t);
  qc_buffer_release(big);
  qc_buffer_release(small);
  /* Relative to base_dir. */
  qc_qir_print_options o = {0, NULL, tmpdir};
  char *t1 = print_opts(g, &o);
  ck_assert_ptr_nonnull(strstr(t1, "%big = const u8[2000] external<\"w.bin\", offset=116, size=2000>\n"));
  ck_assert_ptr_nonnull(strstr(t1, "%small = const i8[8] dense<[56, 63, 70, 77, 84, 91, 98, 105]>\n"));
  qc_graph *g2 = roundtrip_opts(g, &o, qir);
  const qc_value *v = qc_graph_value(g2, qc_graph_find(g2, "big"));
  ck_assert_uint_eq(((const unsigned char *)qc_tensor_data(&v->cst))[0], (116 * 7) & 255);
  /* No base_dir: the path as the buffer has it. */
  char *t2 = print(g);
  char want[600];
  snprintf(want, sizeof want, "external<\"%s\", offset=116, size=2000>", bin);
  ck_assert_ptr_nonnull(strstr(t2, want));
  qc_graph *g3 = roundtrip(g);
  free(t1);
  free(t2);
  qc_graph_destroy(g);
  qc_graph_destroy(g2);
  qc_graph_destroy(g3);
  remove_tmpdir((const char *[]){"w.bin"}, 1);
}
END_TEST

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  b[n] = 0;
  fclose(f);
  return b;
}

START_TEST(write_and_read_files) {
  make_tmpdir();
  char qir[256], bin[256];
  snprintf(qir, sizeof qir, "%s/m.qir", tmpdir);
  snprintf(bin, sizeof bin, "%s/m.qir.bin", tmpdir);
  qc_vid c;
  qc_graph *g = graph_with_big_const(1000, &c);
  OK(qc_qir_write_file(g, qir));
  char *text = slurp(qir);
  ck_assert_ptr_nonnull(strstr(text, "%big = const f32[1000] external<\"m.qir.bin\", offset=0, size=4000>\n"));
  struct stat st;
  ck_assert_int_eq(stat(bin, &st), 0);
  ck_assert_int_eq(st.st_size, 4000);
  /* Read back: the same text, the same data. */
  qc_graph *g2;
  OK(qc_qir_read_file(qir, &g2));
  qc_qir_print_options o = {0, NULL, tmpdir};
  char *t2 = print_opts(g2, &o);
  ck_assert_str_eq(text, t2);
  ck_assert(memcmp(qc_tensor_data(&qc_graph_value(g2, qc_graph_find(g2, "big"))->cst),
                   qc_tensor_data(&qc_graph_value(g, c)->cst), 4000) == 0);
  /* Writing the read graph over the same files copies the data it maps from the old side
   * file into the new one, so nothing is lost and the text is the same. */
  OK(qc_qir_write_file(g2, qir));
  char *text2 = slurp(qir);
  ck_assert_str_eq(text, text2);
  qc_graph *g3;
  OK(qc_qir_read_file(qir, &g3));
  ck_assert(memcmp(qc_tensor_data(&qc_graph_value(g3, qc_graph_find(g3, "big"))->cst),
                   qc_tensor_data(&qc_graph_value(g, c)->cst), 4000) == 0);
  /* g2 still maps the old (replaced) file: its data is intact. */
  ck_assert(memcmp(qc_tensor_data(&qc_graph_value(g2, qc_graph_find(g2, "big"))->cst),
                   qc_tensor_data(&qc_graph_value(g, c)->cst), 4000) == 0);
  /* Errors name the file. */
  qc_graph *none;
  char missing[256];
  snprintf(missing, sizeof missing, "%s/missing.qir", tmpdir);
  qc_status s = qc_qir_read_file(missing, &none);
  ck_assert_int_eq(qc_status_code(s), QC_CODE_NOT_FOUND);
  char want[600];
  snprintf(want, sizeof want, "%s: No such file or directory", missing);
  ck_assert_str_eq(qc_status_message(s), want);
  qc_status_free(s);
  free(text);
  free(text2);
  free(t2);
  qc_graph_destroy(g);
  qc_graph_destroy(g2);
  qc_graph_destroy(g3);
  remove_tmpdir((const char *[]){"m.qir", "m.qir.bin"}, 2);
}
END_TEST

/* ---- parser errors --------------------------------------------------------------------------- */

typedef struct bad_case {
  const char *text;
  const char *message;
} bad_case;

START_TEST(errors_point_at_the_culprit) {
  register_test_ops();
  static const bad_case cases[] = {
      {"", "t.qir:1:1: error: expected 'graph', got end of file"},
      {"graf @g() {}", "t.qir:1:1: error: expected 'graph', got 'graf'"},
      {"graph g() {}", "t.qir:1:7: error: expected the graph name ('@name'), got 'g'"},
      {"graph @g( {", "t.qir:1:11: error: expected an input ('%name: type'), got '{'"},
      {"graph @g(%x f32[2]) {", "t.qir:1:13: error: expected ':' after the input name, got 'f32'"},
      {"graph @g(%x: f33[2]) {", "t.qir:1:14: error: unknown dtype 'f33'"},
      {"graph @g(%x: f32[2,]) {",
       "t.qir:1:20: error: expected a dimension (a size, a symbol or '?'), got ']'"},
      {"graph @g(%x: f32[1,2,3,4,5,6,7,8,9]) {",
       "t.qir:1:34: error: rank exceeds quarc's limit of 8"},
      {"graph @g(%x: f32[2], %x: f32[2]) {", "t.qir:1:22: error: value '%x' is already defined"},
      {"graph @g() {\n  %y = Foo()\n  return %y\n}", "t.qir:2:8: error: unknown op 'Foo'"},
      {"graph @g() {\n  %y = com.x.Foo()\n  return %y\n}",
       "t.qir:2:8: error: unknown op 'Foo' in domain 'com.x'"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%z)\n  return %y\n}",
       "t.qir:2:13: error: undefined value '%z'"},
      {"graph @g(%x: f32[2]) {\n  %x = Relu(%x)\n  return %x\n}",
       "t.qir:2:3: error: value '%x' is already defined"},
      {"graph @g(%x: f32[2]) {\n  %a, %a = Split(%x)\n  return %a\n}",
       "t.qir:2:7: error: value '%a' is already defined"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%x)\n  return %q\n}",
       "t.qir:3:10: error: undefined value '%q'"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%x) {axis = }\n  return %y\n}",
       "t.qir:2:25: error: expected an attribute value, got '}'"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%x) {axis 1}\n  return %y\n}",
       "t.qir:2:23: error: expected '=' after the attribute name, got '1'"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%x) {a = 1, a = 2}\n  return %y\n}",
       "t.qir:2:25: error: attribute 'a' is given twice"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%x) {a = []}\n  return %y\n}",
       "t.qir:2:22: error: an empty list needs its kind: ints[], floats[], strings[], tensors[] "
       "or graphs[]"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%x) {a = [1, \"s\"]}\n  return %y\n}",
       "t.qir:2:26: error: list elements must all be of one kind: '\"s\"' does not fit"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%x) {a = ints[1.5]}\n  return %y\n}",
       "t.qir:2:27: error: expected an integer in ints[...], got '1.5'"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%x) {a = 0x10}\n  return %y\n}",
       "t.qir:2:22: error: hex numbers are only allowed in tensor data"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%x) {a = 99999999999999999999}\n  return %y\n}",
       "t.qir:2:22: error: integer 99999999999999999999 is out of range"},
      {"graph @g(%x: f32[2]) {\n  %y = Relu(%x) {a = nan(0x0)}\n  return %y\n}",
       "t.qir:2:22: error: the payload of nan(0x0) must be between 0x1 and 0xfffffffffffff"},
      {"graph @g() {\n  %c = const f32[2,2] dense<[1, 2, 3]>\n  return %c\n}",
       "t.qir:2:23: error: dense data has 3 elements, f32[2,2] needs 4"},
      {"graph @g() {\n  %c = const q4_0[32] hex<\"00\">\n  return %c\n}",
       "t.qir:2:23: error: hex data has 1 bytes, q4_0[32] needs 18"},
      {"graph @g() {\n  %c = const q4_0[32] dense<[1]>\n  return %c\n}",
       "t.qir:2:23: error: block type q4_0 has no dense form; write its bytes as hex<\"...\">"},
      {"graph @g() {\n  %c = const u8[1] hex<\"0g\">\n  return %c\n}",
       "t.qir:2:24: error: hex data may hold hex digits only"},
      {"graph @g() {\n  %c = const i8[1] dense<[200]>\n  return %c\n}",
       "t.qir:2:27: error: value 200 is out of range for i8"},
      {"graph @g() {\n  %c = const u4[1] dense<[-1]>\n  return %c\n}",
       "t.qir:2:27: error: value -1 is out of range for u4"},
      {"graph @g() {\n  %c = const i32[1] dense<[1.5]>\n  return %c\n}",
       "t.qir:2:28: error: expected an integer i32 element, got '1.5'"},
      {"graph @g() {\n  %c = const f8e4m3fn[1] dense<[0x100]>\n  return %c\n}",
       "t.qir:2:33: error: raw code 0x100 does not fit f8e4m3fn (8 bits)"},
      {"graph @g() {\n  %c = const f32[?] dense<[1]>\n  return %c\n}",
       "t.qir:2:18: error: expected a static dimension, got '?'"},
      {"graph @g() {\n  %c = const ?[1] dense<[1]>\n  return %c\n}",
       "t.qir:2:14: error: a tensor with data needs a dtype, got '?'"},
      {"graph @g() {\n  %c = const f32[1] sparse<[1]>\n  return %c\n}",
       "t.qir:2:21: error: expected tensor data: dense<[...]>, hex<\"...\"> or external<\"path\", "
       "...>, got 'sparse'"},
      {"graph @g() {\n  %a, %b = const f32[1] dense<[1]>\n  return %a\n}",
       "t.qir:2:3: error: a constant defines exactly one named value"},
      {"graph @g() {\n  %c = const f32[1] external<\"no-such-file.bin\", offset=0, size=4>\n"
       "  return %c\n}",
       "t.qir:2:30: error: cannot map external data: no-such-file.bin: No such file or directory"},
      {"graph @g() {\n  %c = const f32[4] external<\"x.bin\", offset=0, size=15>\n  return %c\n}",
       "t.qir:2:54: error: external data size 15 does not match f32[4] (16 bytes)"},
      {"graph @g() {\n  %s = \"unterminated\n  return\n}", "t.qir:2:8: error: unterminated string"},
      {"graph @g() {\n  meta \"a\\q\" = \"b\"\n  return\n}",
       "t.qir:2:10: error: unknown escape '\\q' in string"},
      {"graph @g() {\n  meta \"a\\x4\" = \"b\"\n  return\n}",
       "t.qir:2:10: error: expected two hex digits after '\\x'"},
      {"graph @g() {\n  meta \"a\" = \"b\"\n  meta \"a\" = \"c\"\n  return\n}",
       "t.qir:3:8: error: metadata key 'a' is given twice"},
      {"graph @g() {\n  opset \"\" 21, \"ai.onnx\" 20\n  return\n}",
       "t.qir:2:16: error: the opset of domain 'ai.onnx' is given twice"},
      {"graph @g() {\n  %\"a\\x00b\" = Relu()\n  return\n}",
       "t.qir:2:3: error: a value name cannot contain a NUL byte"},
      {"graph @g() {\n  $x\n}", "t.qir:2:3: error: unexpected character '$'"},
      {"graph @g() {\n  \x01\n}", "t.qir:2:3: error: unexpected byte 0x01"},
      {"graph @g() {\n  %c = const f32[1] dense<[1.5e]>\n  return %c\n}",
       "t.qir:2:28: error: malformed number"},
      {"graph @g() {\n  %y = Relu(-x)\n  return %y\n}",
       "t.qir:2:13: error: expected a number after '-'"},
      {"graph @g() {\n}", "t.qir:2:1: error: expected 'return' before '}'"},
      {"graph @g() {\n  return\n}\ngraph @h() {\n  return\n}",
       "t.qir:4:1: error: expected end of file after the graph, got 'graph'"},
      {"graph @g() {\n  return\n", "t.qir:3:1: error: expected '}' to close the graph body, got end of file"},
      {"graph @g() {\n  = Relu()\n  return\n}", "t.qir:2:3: error: expected a statement, got '='"},
      {"graph @g(%x: f32[2]) {\n  %y = qir.test.Any() {g = graph @s() {\n    capture %z: f32[2]\n"
       "    return %z\n  }}\n  return %y\n}",
       "t.qir:3:13: error: captured value '%z' is not defined before this point in an enclosing "
       "graph"},
      {"graph @g(%x: seq<f32[2]) {", "t.qir:1:24: error: expected '>' to close 'seq<', got ')'"},
  };
  int wrong = 0;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *m = parse_error(cases[i].text, "t.qir", NULL);
    if (strcmp(m, cases[i].message) != 0) {
      fprintf(stderr, "case %zu:\n  got:      %s\n  expected: %s\n", i, m, cases[i].message);
      wrong++;
    }
    free(m);
  }
  ck_assert_int_eq(wrong, 0);
  /* Range errors and relative paths resolve against the file's directory. */
  make_tmpdir();
  char bin[256], qir[256];
  snprintf(bin, sizeof bin, "%s/x.bin", tmpdir);
  snprintf(qir, sizeof qir, "%s/t.qir", tmpdir);
  FILE *f = fopen(bin, "wb");
  fwrite("0123456789abcdef", 1, 16, f);
  fclose(f);
  qc_code code;
  char *m = parse_error("graph @g() {\n  %c = const f32[4] external<\"x.bin\", offset=4, size=16>\n"
                        "  return %c\n}",
                        qir, &code);
  char want[600];
  snprintf(want, sizeof want,
           "%s:2:46: error: external data range offset=4 size=16 is outside '%s' (16 bytes)", qir,
           bin);
  ck_assert_str_eq(m, want);
  ck_assert_int_eq(code, QC_CODE_PARSE);
  free(m);
  m = parse_error("graph @g() {\n  %c = const f32[4] external<\"nope.bin\", offset=0, size=16>\n"
                  "  return %c\n}",
                  qir, &code);
  ck_assert_int_eq(code, QC_CODE_NOT_FOUND);
  free(m);
  qc_graph *g = parse_named("graph @g() {\n  %c = const f32[4] external<\"x.bin\", offset=0, size=16>\n"
                            "  return %c\n}",
                            qir);
  ck_assert(memcmp(qc_tensor_data(&qc_graph_value(g, 0)->cst), "0123456789abcdef", 16) == 0);
  qc_graph_destroy(g);
  remove_tmpdir((const char *[]){"x.bin"}, 1);
}
END_TEST

/* Nesting is bounded, and every prefix and many corruptions of a valid file fail cleanly
 * (run under QUARC_SANITIZE for leaks and overflows). */
START_TEST(hostile_inputs_fail_cleanly) {
  register_test_ops();
  /* 70 nested graphs. */
  size_t cap = 70 * 64 + 64, n = 0;
  char *deep = malloc(cap);
  n += (size_t)sprintf(deep + n, "graph @g0() {\n");
  for (int i = 1; i < 70; i++) n += (size_t)sprintf(deep + n, "qir.test.Any() {g = graph @g%d() {\n", i);
  deep[n] = 0;
  char *m = parse_error(deep, "t.qir", NULL);
  ck_assert_msg(strstr(m, "error: graphs are nested more than 64 deep") != NULL, "%s", m);
  free(m);
  free(deep);
  /* Every prefix of a valid text. */
  const char *valid =
      "graph @g(%x: f32[2,n]) {\n  opset \"\" 21\n  meta \"k\" = \"v\"\n"
      "  %c = const f32[2] dense<[1.5, nan]>\n  %s = const string[1] dense<[\"a\\x01\"]>\n"
      "  %y: f32[2,n] = Add(%x, %c) @add\n"
      "  %z = qir.test.Any(%y, _) {i = -3, f = 0.5, ints = [1, 2], t = tensor i4[3] dense<[1, -2, 3]>,"
      " type = type opt<seq<f32[*]>>, g = graph @s(%a: ?[*]) {\n    capture %y: f32[2,n]\n"
      "    return %a, %y\n  }}\n  return %z\n}\n";
  size_t len = strlen(valid);
  for (size_t k = 0; k < len; k++) {
    qc_graph *g = NULL;
    qc_status s = qc_qir_parse(valid, k, "t.qir", &g);
    ck_assert_msg(s != QC_OK || k >= len - 1, "prefix of %zu bytes parsed", k);
    qc_status_free(s);
    qc_graph_destroy(g);
  }
  /* Byte substitutions everywhere. */
  char *buf = malloc(len);
  static const char subst[] = {'\0', '"', '%', '{', '}', '[', ']', '<', '>', '-', '9', '\\', '@', ','};
  for (size_t k = 0; k < len; k++)
    for (size_t j = 0; j < sizeof subst; j++) {
      memcpy(buf, valid, len);
      buf[k] = subst[j];
      qc_graph *g = NULL;
      qc_status s = qc_qir_parse(buf, len, "t.qir", &g);
      if (!s) {
        /* Whatever parses must round-trip. */
        qc_graph *g2 = roundtrip(g);
        qc_graph_destroy(g2);
      }
      qc_status_free(s);
      qc_graph_destroy(g);
    }
  free(buf);
}
END_TEST

#define HEX16 "00112233445566778899aabbccddeeff"
#define HEX64 HEX16 HEX16 HEX16 HEX16

/* ---- a valid text verifies --------------------------------------------------------------- */

START_TEST(parsed_graphs_verify) {
  qc_graph *g = parse("graph @main(%cond: bool[], %x: f32[4], %n: i64[]) {\n"
                      "  opset \"\" 21, \"com.microsoft\" 1\n"
                      "  %w = const f32[4] dense<[1, 2, 3, 4]>\n"
                      "  %y: f32[4] = If(%cond) {\n"
                      "    then_branch = graph @then() {\n"
                      "      capture %w: f32[4]\n"
                      "      capture %x: f32[4]\n"
                      "      %t: f32[4] = Add(%x, %w)\n"
                      "      return %t\n"
                      "    },\n"
                      "    else_branch = graph @else() {\n"
                      "      capture %w: f32[4]\n"
                      "      return %w\n"
                      "    }\n"
                      "  }\n"
                      "  %q = const u8[4,16] hex<\"" HEX64 "\">\n"
                      "  %s = const f32[4] dense<[1, 1, 1, 1]>\n"
                      "  %m: f32[4] = com.microsoft.MatMulNBits(%x, %q, %s) {K = 4, N = 4, "
                      "block_size = 16}\n"
                      "  return %y, %m\n"
                      "}\n");
  OK(qc_graph_verify(g));
  const qc_node *nd = qc_graph_node(g, 0);
  ck_assert_int_eq(nd->op, QC_OP_If);
  const qc_attr *then = qc_node_attr(g, 0, "then_branch");
  ck_assert_int_eq(then->kind, QC_ATTR_GRAPH);
  ck_assert_ptr_eq(qc_graph_parent(then->u.g), g);
  ck_assert_int_eq(qc_graph_value(then->u.g, 0)->kind, QC_VALUE_OUTER);
  ck_assert_int_eq(qc_graph_node(g, 1)->op, QC_OP_MS_MatMulNBits);
  ck_assert_int_eq(qc_node_version(g, 1), 1);
  qc_graph_destroy(g);
}
END_TEST

/* ---- seeded random round trip ------------------------------------------------------------- */

typedef struct rng {
  uint64_t s;
} rng;

static uint64_t rnext(rng *r) {
  r->s ^= r->s << 13;
  r->s ^= r->s >> 7;
  r->s ^= r->s << 17;
  return r->s;
}
static int rint_(rng *r, int n) { return (int)(rnext(r) % (uint64_t)n); }

static const char *const NAMES[] = {"v", "onnx::MatMul", "x.y", "a b", "0", "_", "%", "é", "\"q\"", "inf"};
static const char *const SYMS[] = {"batch", "seq len", "n", "_", "nan", "x.y"};

static void rand_name(rng *r, char *buf, size_t n, int *counter) {
  snprintf(buf, n, "%s%d", NAMES[rint_(r, 10)], (*counter)++);
}

static qc_type rand_type(rng *r, qc_graph *g) {
  qc_type t;
  memset(&t, 0, sizeof t);
  t.kind = (uint8_t)(rint_(r, 3) ? QC_TYPE_TENSOR : rint_(r, 4));
  t.dtype = (qc_dtype)(rint_(r, 4) ? 1 + rint_(r, QC_DTYPE_COUNT - 1) : QC_DT_UNDEFINED);
  t.rank = rint_(r, 6) - 1;
  for (int i = 0; i < t.rank; i++) {
    int k = rint_(r, 4);
    t.dims[i] = k == 0 ? QC_DIM_UNKNOWN : k == 1 ? qc_graph_sym(g, SYMS[rint_(r, 6)]) : rint_(r, 5);
  }
  return t;
}

static void rand_tensor(rng *r, qc_tensor *t) {
  qc_dtype dt = (qc_dtype)(1 + rint_(r, QC_DTYPE_COUNT - 1));
  const qc_dtype_traits *tr = qc_dtype_traits_of(dt);
  int32_t rank = rint_(r, 3);
  int64_t dims[2] = {1 + rint_(r, 3), rint_(r, 4)};
  if (tr->kind == QC_KIND_BLOCK) {
    rank = 1;
    dims[0] = tr->block_elems * (1 + rint_(r, 2));
  }
  OK(qc_tensor_alloc(t, NULL, dt, rank, dims));
  if (dt == QC_STRING) {
    char **s = qc_tensor_data(t);
    for (int64_t i = 0; i < qc_tensor_numel(t); i++) {
      char b[8];
      int n = rint_(r, 7);
      for (int k = 0; k < n; k++) b[k] = (char)(1 + rint_(r, 255));
      b[n] = 0;
      s[i] = strdup(b);
    }
    return;
  }
  unsigned char *d = qc_tensor_data(t);
  for (size_t i = 0; i < qc_tensor_nbytes(t); i++) d[i] = (unsigned char)rnext(r);
}

static qc_graph *rand_graph(rng *r, const qc_graph *const *scopes, int depth, int *counter);

static void rand_attr(rng *r, qc_graph *g, qc_nid n, int k, const qc_graph *const *scopes,
                      int depth, int *counter) {
  char name[16];
  snprintf(name, sizeof name, k % 3 ? "a%d" : "attr %d", k);
  qc_attr a;
  memset(&a, 0, sizeof a);
  a.name = name;
  int kinds[] = {QC_ATTR_INT,    QC_ATTR_FLOAT,   QC_ATTR_STRING,  QC_ATTR_TENSOR,
                 QC_ATTR_FLOATS, QC_ATTR_INTS,    QC_ATTR_STRINGS, QC_ATTR_TENSORS,
                 QC_ATTR_TYPE,   QC_ATTR_GRAPH,   QC_ATTR_GRAPHS};
  a.kind = (uint8_t)kinds[rint_(r, depth < 3 ? 11 : 9)];
  int64_t ints[4];
  double fl[4];
  const char *sv[4];
  int32_t sl[4];
  char sb[4][6];
  qc_tensor ts[3];
  qc_graph *gs[2];
  qc_type ty;
  int cnt = rint_(r, 4);
  switch (a.kind) {
  case QC_ATTR_INT: a.u.i = (int64_t)rnext(r); break;
  case QC_ATTR_FLOAT: {
    uint64_t b = rnext(r);
    memcpy(&a.u.f, &b, 8);
    break;
  }
  case QC_ATTR_STRING:
    for (int i = 0; i < 5; i++) sb[0][i] = (char)rnext(r);
    a.u.s = sb[0];
    a.n = rint_(r, 6);
    break;
  case QC_ATTR_TENSOR:
    rand_tensor(r, &ts[0]);
    a.u.t = &ts[0];
    break;
  case QC_ATTR_FLOATS:
    for (int i = 0; i < cnt; i++) {
      uint64_t b = rnext(r);
      memcpy(&fl[i], &b, 8);
    }
    a.u.floats = fl;
    a.n = cnt;
    break;
  case QC_ATTR_INTS:
    for (int i = 0; i < cnt; i++) ints[i] = (int64_t)rnext(r);
    a.u.ints = ints;
    a.n = cnt;
    break;
  case QC_ATTR_STRINGS:
    for (int i = 0; i < cnt; i++) {
      for (int j = 0; j < 5; j++) sb[i][j] = (char)rnext(r);
      sv[i] = sb[i];
      sl[i] = rint_(r, 6);
    }
    a.u.strs.v = sv;
    a.u.strs.len = sl;
    a.n = cnt;
    break;
  case QC_ATTR_TENSORS:
    cnt = cnt > 3 ? 3 : cnt;
    for (int i = 0; i < cnt; i++) rand_tensor(r, &ts[i]);
    a.u.tensors = ts;
    a.n = cnt;
    break;
  case QC_ATTR_TYPE:
    ty = rand_type(r, g);
    a.u.type = &ty;
    break;
  case QC_ATTR_GRAPH: {
    const qc_graph *sc[8];
    sc[0] = g;
    for (int i = 0; i < depth; i++) sc[i + 1] = scopes[i];
    a.u.g = rand_graph(r, sc, depth + 1, counter);
    break;
  }
  default: {
    const qc_graph *sc[8];
    sc[0] = g;
    for (int i = 0; i < depth; i++) sc[i + 1] = scopes[i];
    cnt = cnt > 2 ? 2 : cnt;
    for (int i = 0; i < cnt; i++) gs[i] = rand_graph(r, sc, depth + 1, counter);
    a.u.graphs = gs;
    a.n = cnt;
    break;
  }
  }
  OK(qc_node_set_attr(g, n, &a));
  if (a.kind == QC_ATTR_TENSOR) qc_tensor_release(&ts[0]);
  if (a.kind == QC_ATTR_TENSORS)
    for (int i = 0; i < cnt; i++) qc_tensor_release(&ts[i]);
}

/* A random graph; `scopes` (depth of them, innermost first) are the enclosing graphs whose
 * values it may capture. */
static qc_graph *rand_graph(rng *r, const qc_graph *const *scopes, int depth, int *counter) {
  qc_graph *g;
  OK(qc_graph_create(NULL, &g));
  char name[48];
  rand_name(r, name, sizeof name, counter);
  OK(qc_graph_set_name(g, rint_(r, 5) ? name : ""));
  for (int i = rint_(r, 3); i > 0; i--) {
    static const char *const doms[] = {"", "com.microsoft", "ai.onnx.ml", "odd domain", "quarc"};
    OK(qc_graph_set_opset(g, doms[rint_(r, 5)], rint_(r, 30)));
  }
  for (int i = rint_(r, 3); i > 0; i--) {
    rand_name(r, name, sizeof name, counter);
    OK(qc_graph_set_meta(g, name, rint_(r, 2) ? name : ""));
  }
  qc_vid v;
  for (int i = rint_(r, 4); i > 0; i--) {
    qc_type t = rand_type(r, g);
    rand_name(r, name, sizeof name, counter);
    OK(qc_graph_add_input(g, name, &t, &v));
  }
  for (int i = depth ? rint_(r, 3) : 0; i > 0; i--) {
    const qc_graph *s = scopes[rint_(r, depth)];
    if (!qc_graph_num_values(s)) continue;
    const qc_value *ov = qc_graph_value(s, rint_(r, qc_graph_num_values(s)));
    /* Not the outputs of the node whose attribute this graph becomes (its last node). */
    if (ov->kind == QC_VALUE_NODE && ov->node == qc_graph_num_nodes(s) - 1) continue;
    if (qc_graph_find(g, ov->name) >= 0) continue;
    OK(qc_graph_add_outer(g, ov->name, &ov->type, &v));
  }
  for (int i = rint_(r, 4); i > 0; i--) {
    qc_tensor t;
    rand_tensor(r, &t);
    rand_name(r, name, sizeof name, counter);
    OK(qc_graph_add_const(g, name, &t, &v));
    if (rint_(r, 4) == 0) {
      qc_type ty = rand_type(r, g);
      OK(qc_graph_set_type(g, v, &ty));
    }
    qc_tensor_release(&t);
  }
  for (int i = rint_(r, 6); i > 0; i--) {
    qc_op o = (qc_op)rint_(r, qc_op_count());
    int n_in = rint_(r, 4), n_out = rint_(r, 4);
    qc_vid in[4];
    for (int k = 0; k < n_in; k++)
      in[k] = qc_graph_num_values(g) && rint_(r, 5) ? rint_(r, qc_graph_num_values(g)) : QC_NONE;
    char outs[4][48];
    const char *out_names[4];
    for (int k = 0; k < n_out; k++) {
      rand_name(r, outs[k], sizeof outs[k], counter);
      out_names[k] = rint_(r, 5) ? outs[k] : "";
    }
    rand_name(r, name, sizeof name, counter);
    qc_nid n;
    OK(qc_graph_add_node(g, o, rint_(r, 2) ? name : "", n_in, in, n_out, out_names, &n));
    for (int k = 0; k < n_out; k++)
      if (qc_graph_node(g, n)->out[k] >= 0 && rint_(r, 2)) {
        qc_type t = rand_type(r, g);
        OK(qc_graph_set_type(g, qc_graph_node(g, n)->out[k], &t));
      }
    for (int k = rint_(r, 4); k > 0; k--) rand_attr(r, g, n, k, scopes, depth, counter);
  }
  for (int i = rint_(r, 4); i > 0 && qc_graph_num_values(g); i--)
    OK(qc_graph_add_output(g, rint_(r, qc_graph_num_values(g))));
  return g;
}

START_TEST(random_graphs_roundtrip) {
  register_test_ops();
  make_tmpdir();
  char side[256], qir[256];
  snprintf(side, sizeof side, "%s/r.bin", tmpdir);
  snprintf(qir, sizeof qir, "%s/r.qir", tmpdir);
  rng r = {0x9e3779b97f4a7c15ull};
  for (int it = 0; it < 400; it++) {
    int counter = 0;
    qc_graph *g = rand_graph(&r, NULL, 0, &counter);
    qc_graph *g2;
    if (it % 8 == 7) {
      /* Tiny inline limit: most data goes through the side file. */
      qc_qir_print_options o = {8, side, tmpdir};
      g2 = roundtrip_opts(g, &o, qir);
    } else {
      g2 = roundtrip(g);
    }
    qc_graph_destroy(g);
    qc_graph_destroy(g2);
  }
  remove_tmpdir((const char *[]){"r.bin"}, 1);
}
END_TEST

int main(void) {
  Suite *s = suite_create("qir");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, print_format_is_stable);
  tcase_add_test(tc, builder_graph_with_every_feature);
  tcase_add_test(tc, float_codes_are_exact);
  tcase_add_test(tc, float_spellings);
  tcase_add_test(tc, float_attributes_are_exact);
  tcase_add_test(tc, every_byte_in_strings);
  tcase_add_test(tc, memory_constants_go_to_the_side_file);
  tcase_add_test(tc, mapped_constants_refer_to_their_file);
  tcase_add_test(tc, write_and_read_files);
  tcase_add_test(tc, errors_point_at_the_culprit);
  tcase_add_test(tc, hostile_inputs_fail_cleanly);
  tcase_add_test(tc, parsed_graphs_verify);
  tcase_add_test(tc, random_graphs_roundtrip);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
