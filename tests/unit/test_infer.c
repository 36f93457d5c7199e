/* Shape and type inference: graphs built with the builder API, one or more tests per
 * rule (static, symbolic and unknown dims, version forms, constant inputs and propagated
 * values) and the error messages, which name the node. Types are written and compared
 * as text: "f32[2,batch,?]", "i64[*]" (unknown rank), "?[*]" (nothing known),
 * "seq:f32[3]", "opt:..." and "optseq:...". */
#include "quarc/quarc.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static qc_graph *G;

static void setup(void) { ck_assert(qc_graph_create(NULL, &G) == QC_OK); }
static void teardown(void) {
  qc_graph_destroy(G);
  G = NULL;
}

static void ok(qc_status s) {
  if (s) {
    fprintf(stderr, "unexpected error: %s\n", qc_status_message(s));
    qc_status_free(s);
    ck_abort_msg("unexpected error");
  }
}

/* ---- types as text ----------------------------------------------------------------------- */

static qc_type parse_type(qc_graph *g, const char *s) {
  qc_type t = qc_type_unknown();
  if (strncmp(s, "seq:", 4) == 0) t.kind = QC_TYPE_SEQUENCE, s += 4;
  else if (strncmp(s, "optseq:", 7) == 0) t.kind = QC_TYPE_OPTIONAL_SEQUENCE, s += 7;
  else if (strncmp(s, "opt:", 4) == 0) t.kind = QC_TYPE_OPTIONAL, s += 4;
  const char *br = strchr(s, '[');
  ck_assert_msg(br != NULL, "bad type text %s", s);
  char dt[32];
  snprintf(dt, sizeof dt, "%.*s", (int)(br - s), s);
  t.dtype = strcmp(dt, "?") == 0 ? QC_DT_UNDEFINED : qc_dtype_from_name(dt);
  ck_assert_msg(strcmp(dt, "?") == 0 || t.dtype != QC_DT_UNDEFINED, "bad dtype %s", dt);
  const char *p = br + 1;
  if (*p == '*') return t;
  t.rank = 0;
  while (*p && *p != ']') {
    char tok[64];
    int n = 0;
    while (*p && *p != ',' && *p != ']') tok[n++] = *p++;
    tok[n] = 0;
    if (*p == ',') p++;
    int64_t d;
    if (strcmp(tok, "?") == 0) d = QC_DIM_UNKNOWN;
    else if (tok[0] >= '0' && tok[0] <= '9') d = strtoll(tok, NULL, 10);
    else d = qc_graph_sym(g, tok);
    t.dims[t.rank++] = d;
  }
  return t;
}

static const char *type_text(const qc_graph *g, const qc_type *t) {
  static char buf[4][256];
  static int k;
  char *b = buf[k++ & 3];
  int o = 0;
  const char *kind = t->kind == QC_TYPE_SEQUENCE ? "seq:"
                   : t->kind == QC_TYPE_OPTIONAL ? "opt:"
                   : t->kind == QC_TYPE_OPTIONAL_SEQUENCE ? "optseq:" : "";
  o += snprintf(b + o, 256 - (size_t)o, "%s%s[", kind, t->dtype ? qc_dtype_name(t->dtype) : "?");
  if (t->rank < 0) {
    snprintf(b + o, 256 - (size_t)o, "*]");
    return b;
  }
  for (int32_t i = 0; i < t->rank; i++) {
    const char *sym = qc_graph_sym_name(g, t->dims[i]);
    if (t->dims[i] >= 0) o += snprintf(b + o, 256 - (size_t)o, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    else o += snprintf(b + o, 256 - (size_t)o, "%s%s", i ? "," : "", sym ? sym : "?");
  }
  snprintf(b + o, 256 - (size_t)o, "]");
  return b;
}

/* ---- building graphs ----------------------------------------------------------------------- */

static qc_vid input_in(qc_graph *g, const char *name, const char *type) {
  qc_type t = parse_type(g, type);
  qc_vid v;
  ok(qc_graph_add_input(g, name, &t, &v));
  return v;
}
static qc_vid input(const char *name, const char *type) { return input_in(G, name, type); }

/* A constant of dtype dt, rank r (dims), values given as doubles. */
static qc_vid cst_in(qc_graph *g, const char *name, qc_dtype dt, int32_t r, const int64_t *dims,
                     const double *vals) {
  qc_tensor t;
  ok(qc_tensor_alloc(&t, NULL, dt, r, dims));
  int64_t n = qc_tensor_numel(&t);
  for (int64_t i = 0; i < n; i++) qc_elem_set_f64(dt, qc_tensor_data(&t), (size_t)i, vals[i], 0);
  qc_vid v;
  ok(qc_graph_add_const(g, name, &t, &v));
  qc_tensor_release(&t);
  return v;
}

/* 1-D i64 constant. */
static qc_vid ints(const char *name, int32_t n, ...) {
  double v[32];
  va_list ap;
  va_start(ap, n);
  for (int32_t i = 0; i < n; i++) v[i] = (double)va_arg(ap, int);
  va_end(ap);
  return cst_in(G, name, QC_I64, 1, (int64_t[]){n}, v);
}
/* 1-D i64 constant from an array (for values beyond int). */
static qc_vid i64s(const char *name, int32_t n, const int64_t *vals) {
  qc_tensor t;
  ok(qc_tensor_alloc(&t, NULL, QC_I64, 1, (int64_t[]){n}));
  for (int32_t i = 0; i < n; i++) qc_elem_set_i64(QC_I64, qc_tensor_data(&t), (size_t)i, vals[i]);
  qc_vid v;
  ok(qc_graph_add_const(G, name, &t, &v));
  qc_tensor_release(&t);
  return v;
}
static qc_vid scalar_i64(const char *name, int64_t x) {
  return cst_in(G, name, QC_I64, 0, NULL, (double[]){(double)x});
}
static qc_vid floats(const char *name, int32_t n, ...) {
  double v[32];
  va_list ap;
  va_start(ap, n);
  for (int32_t i = 0; i < n; i++) v[i] = va_arg(ap, double);
  va_end(ap);
  return cst_in(G, name, QC_F32, 1, (int64_t[]){n}, v);
}

static qc_nid node_in(qc_graph *g, qc_op op, const char *name, int32_t n_in, const qc_vid *in,
                      int32_t n_out) {
  qc_nid n;
  ok(qc_graph_add_node(g, op, name, n_in, in, n_out, NULL, &n));
  return n;
}
static qc_nid node(qc_op op, const char *name, int32_t n_in, const qc_vid *in, int32_t n_out) {
  return node_in(G, op, name, n_in, in, n_out);
}
#define IN(...) (sizeof((qc_vid[]){__VA_ARGS__}) / sizeof(qc_vid)), (qc_vid[]){__VA_ARGS__}
#define N1(op, name, ...) node(QC_OP_##op, name, IN(__VA_ARGS__), 1)

static qc_vid out(qc_nid n, int32_t i) { return qc_graph_node(G, n)->out[i]; }

static void set_int(qc_nid n, const char *a, int64_t v) { ok(qc_node_set_int(G, n, a, v)); }
static void set_str(qc_nid n, const char *a, const char *v) { ok(qc_node_set_string(G, n, a, v)); }
static void set_ints(qc_nid n, const char *a, int32_t cnt, ...) {
  int64_t v[16];
  va_list ap;
  va_start(ap, cnt);
  for (int32_t i = 0; i < cnt; i++) v[i] = va_arg(ap, int);
  va_end(ap);
  ok(qc_node_set_ints(G, n, a, cnt, v));
}

/* ---- checking ----------------------------------------------------------------------------------- */

static void infer(void) { ok(qc_graph_infer_types(G)); }

#define EXPECT(n, i, text)                                                                        \
  ck_assert_str_eq(type_text(G, &qc_graph_value(G, out(n, i))->type), text)

/* Inference fails with exactly this message. */
static void expect_error(const char *msg) {
  qc_status s = qc_graph_infer_types(G);
  ck_assert_msg(s != QC_OK, "expected the error: %s", msg);
  ck_assert_str_eq(qc_status_message(s), msg);
  ck_assert_int_eq(qc_status_code(s), QC_CODE_VERIFY);
  qc_status_free(s);
}

/* ---- elementwise --------------------------------------------------------------------------- */

START_TEST(unary_float_rule) {
  qc_nid a = N1(Exp, "e", input("x", "f32[batch,3]"));
  qc_nid b = N1(Sqrt, "s", input("u", "?[*]"));
  infer();
  EXPECT(a, 0, "f32[batch,3]");
  EXPECT(b, 0, "?[*]");
  N1(Exp, "bad", input("i", "i32[2]"));
  expect_error("node 'bad' (Exp): input 0: expected a float type, got i32");
}
END_TEST

START_TEST(same_rule_keeps_ints) {
  qc_nid a = N1(Relu, "r", input("x", "i8[2,?]"));
  qc_nid b = N1(Abs, "a", input("y", "i64[n]"));
  infer();
  EXPECT(a, 0, "i8[2,?]");
  EXPECT(b, 0, "i64[n]");
}
END_TEST

START_TEST(arith_broadcast) {
  qc_nid a = N1(Add, "a", input("x", "f32[2,1,3]"), input("y", "f32[4,1]"));
  qc_nid b = N1(Mul, "m", input("p", "f32[batch,1]"), input("q", "f32[1,5]"));
  qc_nid c = N1(Sub, "s", input("u", "f32[*]"), input("v", "f32[3]"));
  qc_nid d = N1(Div, "d", input("r", "f32[n,3]"), input("t", "f32[m,1]"));
  infer();
  EXPECT(a, 0, "f32[2,4,3]");
  EXPECT(b, 0, "f32[batch,5]");
  EXPECT(c, 0, "f32[*]");
  EXPECT(d, 0, "f32[?,3]");
}
END_TEST

START_TEST(arith_errors) {
  N1(Add, "add", input("x", "f32[2,3]"), input("y", "f32[4]"));
  expect_error("node 'add' (Add): input 1: shape [4] does not broadcast with [2,3]");
}
END_TEST

START_TEST(arith_dtype_errors) {
  N1(Add, "add", input("x", "f32[2]"), input("y", "f16[2]"));
  expect_error("node 'add' (Add): inputs 0 and 1: dtypes differ (f32 vs f16)");
}
END_TEST

START_TEST(arith_bool_error) {
  N1(Add, "add", input("x", "bool[2]"), input("y", "bool[2]"));
  expect_error("node 'add' (Add): input 0: expected a numeric type, got bool");
}
END_TEST

START_TEST(pow_mixed_dtypes) {
  qc_nid a = N1(Pow, "p", input("x", "f32[3]"), input("y", "i64[]"));
  infer();
  EXPECT(a, 0, "f32[3]");
}
END_TEST

START_TEST(compare_and_logical) {
  qc_nid a = N1(Less, "l", input("x", "f32[2,3]"), input("y", "f32[3]"));
  qc_nid b = N1(And, "and", input("p", "bool[n]"), input("q", "bool[1]"));
  qc_nid c = N1(Not, "not", out(b, 0));
  infer();
  EXPECT(a, 0, "bool[2,3]");
  EXPECT(b, 0, "bool[n]");
  EXPECT(c, 0, "bool[n]");
  N1(Or, "or", input("f", "f32[2]"), out(b, 0));
  expect_error("node 'or' (Or): input 0: expected bool, got f32");
}
END_TEST

START_TEST(bitwise_rules) {
  qc_nid a = N1(BitShift, "sh", input("x", "u8[4]"), input("y", "u8[1]"));
  set_str(a, "direction", "LEFT");
  qc_nid b = N1(BitwiseAnd, "ba", input("p", "i32[2]"), input("q", "i32[2]"));
  infer();
  EXPECT(a, 0, "u8[4]");
  EXPECT(b, 0, "i32[2]");
  qc_nid c = N1(BitShift, "bs", input("s", "i8[4]"), input("t", "i8[4]"));
  set_str(c, "direction", "RIGHT");
  expect_error("node 'bs' (BitShift): input 0: expected an unsigned integer type, got i8");
}
END_TEST

START_TEST(mod_fmod) {
  N1(Mod, "m", input("x", "f32[2]"), input("y", "f32[2]"));
  expect_error("node 'm' (Mod): fmod must be 1 for floating-point inputs (f32)");
}
END_TEST

START_TEST(where_rule) {
  qc_nid a = N1(Where, "w", input("c", "bool[2,1]"), input("x", "f16[3]"), input("y", "f16[1]"));
  infer();
  EXPECT(a, 0, "f16[2,3]");
  N1(Where, "w2", input("d", "f32[2]"), input("u", "f32[2]"), input("v", "f32[2]"));
  expect_error("node 'w2' (Where): input 0: expected bool, got f32");
}
END_TEST

START_TEST(variadic_max) {
  qc_nid a = N1(Max, "mx", input("x", "f32[3,1]"), input("y", "f32[4]"), input("z", "f32[1]"));
  infer();
  EXPECT(a, 0, "f32[3,4]");
}
END_TEST

/* ---- casts and constants ------------------------------------------------------------------- */

START_TEST(cast_rules) {
  qc_nid a = N1(Cast, "c", input("x", "f32[batch,2]"));
  set_int(a, "to", 10); /* FLOAT16 */
  qc_nid b = N1(CastLike, "cl", input("y", "i32[3]"), input("z", "bf16[]"));
  infer();
  EXPECT(a, 0, "f16[batch,2]");
  EXPECT(b, 0, "bf16[3]");
  qc_nid d = N1(Cast, "bad", out(a, 0));
  set_int(d, "to", 99);
  expect_error("node 'bad' (Cast): attribute 'to': 99 is not a known data type");
}
END_TEST

START_TEST(bitcast_rule) {
  qc_nid a = N1(BitCast, "bc", input("x", "f32[4]"));
  set_int(a, "to", 6); /* INT32 */
  infer();
  EXPECT(a, 0, "i32[4]");
  qc_nid b = N1(BitCast, "bad", out(a, 0));
  set_int(b, "to", 7); /* INT64 */
  expect_error("node 'bad' (BitCast): bit widths differ: i32 has 32 bits, i64 has 64");
}
END_TEST

START_TEST(clip_dropout) {
  qc_nid a = N1(Clip, "c", input("x", "f32[2,n]"), input("lo", "f32[]"), input("hi", "f32[]"));
  qc_nid d = node(QC_OP_Dropout, "d", IN(input("y", "f32[3]")), 2);
  infer();
  EXPECT(a, 0, "f32[2,n]");
  EXPECT(d, 0, "f32[3]");
  EXPECT(d, 1, "bool[3]");
  N1(Clip, "bad", input("z", "f32[2]"), input("m", "f32[2]"));
  expect_error("node 'bad' (Clip): input 1: expected a scalar, got shape [2]");
}
END_TEST

START_TEST(dropout_old_mask) {
  ok(qc_graph_set_opset(G, "", 7));
  qc_nid d = node(QC_OP_Dropout, "d", IN(input("y", "f16[3]")), 2);
  infer();
  EXPECT(d, 1, "f16[3]");
}
END_TEST

START_TEST(constant_rule) {
  qc_nid a = node(QC_OP_Constant, "c", 0, NULL, 1);
  ok(qc_node_set_ints(G, a, "value_ints", 3, (int64_t[]){4, 5, 6}));
  qc_nid b = node(QC_OP_Constant, "f", 0, NULL, 1);
  ok(qc_node_set_float(G, b, "value_float", 1.5));
  qc_tensor t;
  ok(qc_tensor_alloc(&t, NULL, QC_F16, 2, (int64_t[]){2, 3}));
  qc_nid c = node(QC_OP_Constant, "t", 0, NULL, 1);
  ok(qc_node_set_tensor(G, c, "value", &t));
  qc_tensor_release(&t);
  infer();
  EXPECT(a, 0, "i64[3]");
  EXPECT(b, 0, "f32[]");
  EXPECT(c, 0, "f16[2,3]");
}
END_TEST

START_TEST(constant_of_shape_rule) {
  qc_nid a = N1(ConstantOfShape, "c", ints("s", 2, 2, 3));
  qc_tensor t;
  ok(qc_tensor_alloc(&t, NULL, QC_I32, 1, (int64_t[]){1}));
  ok(qc_node_set_tensor(G, a, "value", &t));
  qc_tensor_release(&t);
  qc_nid b = N1(ConstantOfShape, "d", input("shape", "i64[3]"));
  infer();
  EXPECT(a, 0, "i32[2,3]");
  EXPECT(b, 0, "f32[?,?,?]");
  N1(ConstantOfShape, "bad", ints("neg", 2, 2, -1));
  expect_error("node 'bad' (ConstantOfShape): input 0: negative dimension in the shape");
}
END_TEST

START_TEST(range_rule) {
  qc_nid a = N1(Range, "r", scalar_i64("a", 0), scalar_i64("b", 10), scalar_i64("c", 3));
  qc_nid b = N1(Range, "f", input("x", "f32[]"), input("y", "f32[]"), input("z", "f32[]"));
  /* position ids: Range(0, Shape(ids)[1], 1) has seq elements */
  qc_nid sh = N1(Shape, "shape", input("ids", "i64[batch,seq]"));
  qc_nid g1 = N1(Gather, "g1", out(sh, 0), scalar_i64("one", 1));
  qc_nid c = N1(Range, "pos", scalar_i64("z0", 0), out(g1, 0), scalar_i64("d1", 1));
  infer();
  EXPECT(a, 0, "i64[4]");
  EXPECT(b, 0, "f32[?]");
  EXPECT(c, 0, "i64[seq]");
  N1(Range, "bad", scalar_i64("p", 0), scalar_i64("q", 1), scalar_i64("zero", 0));
  expect_error("node 'bad' (Range): delta is zero");
}
END_TEST

START_TEST(eyelike_random_window) {
  qc_nid a = N1(EyeLike, "e", input("x", "f32[3,4]"));
  set_int(a, "dtype", 7);
  qc_nid b = node(QC_OP_RandomNormal, "rn", 0, NULL, 1);
  set_ints(b, "shape", 2, 2, 5);
  qc_nid c = N1(RandomUniformLike, "ru", input("y", "f16[n]"));
  qc_nid d = N1(HannWindow, "w", scalar_i64("ten", 10));
  qc_nid e = N1(Multinomial, "mn", input("p", "f32[b,5]"));
  set_int(e, "sample_size", 3);
  infer();
  EXPECT(a, 0, "i64[3,4]");
  EXPECT(b, 0, "f32[2,5]");
  EXPECT(c, 0, "f16[n]");
  EXPECT(d, 0, "f32[10]");
  EXPECT(e, 0, "i32[b,3]");
  N1(EyeLike, "bad", input("z", "f32[3]"));
  expect_error("node 'bad' (EyeLike): input 0: expected rank 2, got 1");
}
END_TEST

START_TEST(float_predicates) {
  qc_nid a = N1(IsNaN, "n", input("x", "f16[2,?]"));
  infer();
  EXPECT(a, 0, "bool[2,?]");
  N1(IsInf, "bad", input("i", "i32[2]"));
  expect_error("node 'bad' (IsInf): input 0: expected a float type, got i32");
}
END_TEST

/* ---- shapes and data propagation ------------------------------------------------------------- */

START_TEST(shape_and_size) {
  qc_nid a = N1(Shape, "s", input("x", "f32[batch,seq,768]"));
  qc_nid b = N1(Shape, "t", input("y", "f32[2,3,4,5]"));
  set_int(b, "start", 1);
  set_int(b, "end", -1);
  qc_nid c = N1(Size, "n", input("z", "f32[2,3]"));
  qc_nid d = N1(Shape, "u", input("w", "f32[*]"));
  infer();
  EXPECT(a, 0, "i64[3]");
  EXPECT(b, 0, "i64[2]");
  EXPECT(c, 0, "i64[]");
  EXPECT(d, 0, "i64[?]");
}
END_TEST

/* Reshape(x, Concat(Shape(x)[0:2], [12, -1])): symbols survive, -1 cancels them. */
START_TEST(propagation_reshape_heads) {
  qc_vid x = input("x", "f32[batch,seq,768]");
  qc_nid sh = N1(Shape, "shape", x);
  qc_nid sl = N1(Slice, "slice", out(sh, 0), ints("st", 1, 0), ints("en", 1, 2));
  qc_nid cc = N1(Concat, "cat", out(sl, 0), ints("tail", 2, 12, -1));
  set_int(cc, "axis", 0);
  qc_nid r = N1(Reshape, "r", x, out(cc, 0));
  infer();
  EXPECT(sl, 0, "i64[2]");
  EXPECT(cc, 0, "i64[4]");
  EXPECT(r, 0, "f32[batch,seq,12,64]");
}
END_TEST

/* Gather of dims, Unsqueeze, Concat, arithmetic on dims, Cast, Equal/Where. */
START_TEST(propagation_gather_arith) {
  qc_vid x = input("x", "f32[batch,seq,64]");
  qc_nid sh = N1(Shape, "shape", x);
  qc_nid g0 = N1(Gather, "g0", out(sh, 0), scalar_i64("zero", 0));
  qc_nid g2 = N1(Gather, "g2", out(sh, 0), scalar_i64("two", 2));
  qc_nid half = N1(Div, "half", out(g2, 0), scalar_i64("k2", 2));
  qc_nid u0 = N1(Unsqueeze, "u0", out(g0, 0), ints("ax0", 1, 0));
  qc_nid u1 = N1(Unsqueeze, "u1", out(half, 0), ints("ax1", 1, 0));
  qc_nid cc = N1(Concat, "cat", out(u0, 0), ints("m1", 1, -1), out(u1, 0));
  set_int(cc, "axis", 0);
  qc_nid cast = N1(Cast, "cast", out(cc, 0));
  set_int(cast, "to", 7);
  qc_nid r = N1(Reshape, "r", x, out(cast, 0));
  /* Where(Equal(s, -1), 1, s): the expand pattern of torch exports */
  qc_nid eq = N1(Equal, "eq", ints("tgt", 3, -1, 4, -1), ints("minus", 1, -1));
  qc_nid wh = N1(Where, "wh", out(eq, 0), ints("ones", 3, 1, 1, 1), ints("tgt2", 3, -1, 4, -1));
  qc_nid ex = N1(Expand, "ex", input("y", "f32[n,1,1]"), out(wh, 0));
  infer();
  EXPECT(g0, 0, "i64[]");
  EXPECT(r, 0, "f32[batch,?,32]");
  EXPECT(ex, 0, "f32[n,4,1]");
}
END_TEST

START_TEST(reshape_rule) {
  qc_nid a = N1(Reshape, "a", input("x", "f32[2,3,4]"), ints("s1", 3, 0, -1, 2));
  qc_nid b = N1(Reshape, "b", input("y", "f32[batch,3,4]"), ints("s2", 2, 0, -1));
  qc_nid c = N1(Reshape, "c", input("z", "f32[batch,3,4]"), input("shape", "i64[3]"));
  qc_nid d = N1(Reshape, "d", input("w", "f32[0,3]"), ints("s3", 2, 3, 0));
  set_int(d, "allowzero", 1);
  qc_nid e = N1(Reshape, "e", input("v", "f32[n,m]"), ints("s4", 1, -1));
  infer();
  EXPECT(a, 0, "f32[2,6,2]");
  EXPECT(b, 0, "f32[batch,12]");
  EXPECT(c, 0, "f32[?,?,?]");
  EXPECT(d, 0, "f32[3,0]");
  EXPECT(e, 0, "f32[?]");
}
END_TEST

START_TEST(reshape_errors) {
  N1(Reshape, "r", input("x", "f32[2,3]"), ints("s", 2, 4, 2));
  expect_error("node 'r' (Reshape): cannot reshape [2,3] (6 elements) to [4,2]");
}
END_TEST

START_TEST(reshape_error_minus_ones) {
  N1(Reshape, "r", input("x", "f32[2,3]"), ints("s", 2, -1, -1));
  expect_error("node 'r' (Reshape): more than one -1 in the target shape");
}
END_TEST

START_TEST(reshape_error_indivisible) {
  N1(Reshape, "r", input("x", "f32[2,3]"), ints("s", 2, 4, -1));
  expect_error("node 'r' (Reshape): cannot reshape [2,3] (6 elements) to [4,?]");
}
END_TEST

START_TEST(flatten_rule) {
  qc_nid a = N1(Flatten, "a", input("x", "f32[2,3,4,5]"));
  set_int(a, "axis", 2);
  qc_nid b = N1(Flatten, "b", input("y", "f32[batch,3,4]"));
  qc_nid c = N1(Flatten, "c", input("z", "f32[*]"));
  qc_nid d = N1(Flatten, "d", input("w", "f32[2,3]"));
  set_int(d, "axis", 0);
  infer();
  EXPECT(a, 0, "f32[6,20]");
  EXPECT(b, 0, "f32[batch,12]");
  EXPECT(c, 0, "f32[?,?]");
  EXPECT(d, 0, "f32[1,6]");
}
END_TEST

START_TEST(concat_rule) {
  qc_nid a = N1(Concat, "a", input("x", "f32[2,3]"), input("y", "f32[2,5]"));
  set_int(a, "axis", 1);
  qc_nid b = N1(Concat, "b", input("p", "f32[batch,3]"), input("q", "f32[?,4]"));
  set_int(b, "axis", -1);
  qc_nid c = N1(Concat, "c", input("r", "f32[n,3]"), input("s", "f32[*]"));
  set_int(c, "axis", 0);
  infer();
  EXPECT(a, 0, "f32[2,8]");
  EXPECT(b, 0, "f32[batch,7]");
  EXPECT(c, 0, "f32[?,3]");
}
END_TEST

START_TEST(concat_errors) {
  qc_nid a = N1(Concat, "cat", input("x", "f32[2,3]"), input("y", "f32[4,5]"));
  set_int(a, "axis", 1);
  expect_error("node 'cat' (Concat): input 1: dim 0 is 4, expected 2");
}
END_TEST

START_TEST(concat_rank_error) {
  qc_nid a = N1(Concat, "cat", input("x", "f32[2,3]"), input("y", "f32[2]"));
  set_int(a, "axis", 0);
  expect_error("node 'cat' (Concat): input 1: rank 1 differs from 2");
}
END_TEST

START_TEST(split_rule) {
  qc_nid a = node(QC_OP_Split, "a", IN(input("x", "f32[6,n]"), ints("sp", 2, 2, 4)), 2);
  qc_nid b = node(QC_OP_Split, "b", IN(input("y", "f32[batch,9]")), 3);
  set_int(b, "axis", 1);
  qc_nid c = node(QC_OP_Split, "c", IN(input("z", "f32[7]")), 3);
  set_int(c, "num_outputs", 3);
  qc_nid d = node(QC_OP_Split, "d", IN(input("w", "f32[s]")), 2);
  infer();
  EXPECT(a, 0, "f32[2,n]");
  EXPECT(a, 1, "f32[4,n]");
  EXPECT(b, 2, "f32[batch,3]");
  EXPECT(c, 0, "f32[3]");
  EXPECT(c, 2, "f32[1]");
  EXPECT(d, 1, "f32[?]");
}
END_TEST

START_TEST(split_old_attr) {
  ok(qc_graph_set_opset(G, "", 11));
  qc_nid a = node(QC_OP_Split, "a", IN(input("x", "f32[5]")), 2);
  set_ints(a, "split", 2, 1, 4);
  infer();
  EXPECT(a, 1, "f32[4]");
}
END_TEST

START_TEST(split_errors) {
  node(QC_OP_Split, "sp", IN(input("x", "f32[6]"), ints("s", 2, 2, 3)), 2);
  expect_error("node 'sp' (Split): split sizes add up to 5, but dim 0 is 6");
}
END_TEST

START_TEST(squeeze_unsqueeze) {
  qc_nid a = N1(Squeeze, "a", input("x", "f32[1,3,1,n]"), ints("ax", 1, 2));
  qc_nid b = N1(Squeeze, "b", input("y", "f32[1,3,1]"));
  qc_nid c = N1(Squeeze, "c", input("z", "f32[1,n]"));
  qc_nid d = N1(Unsqueeze, "d", input("w", "f32[3,n]"), ints("ax2", 2, 0, -1));
  qc_nid e = N1(Unsqueeze, "e", input("v", "f32[3]"), input("axes", "i64[2]"));
  infer();
  EXPECT(a, 0, "f32[1,3,n]");
  EXPECT(b, 0, "f32[3]");
  EXPECT(c, 0, "f32[*]");
  EXPECT(d, 0, "f32[1,3,n,1]");
  EXPECT(e, 0, "f32[?,?,?]");
}
END_TEST

START_TEST(squeeze_old_attr) {
  ok(qc_graph_set_opset(G, "", 11));
  qc_nid a = N1(Squeeze, "a", input("x", "f32[1,3,1]"));
  set_ints(a, "axes", 1, -1);
  qc_nid b = N1(Unsqueeze, "b", input("y", "f32[3]"));
  set_ints(b, "axes", 1, 1);
  infer();
  EXPECT(a, 0, "f32[1,3]");
  EXPECT(b, 0, "f32[3,1]");
}
END_TEST

START_TEST(squeeze_errors) {
  N1(Squeeze, "sq", input("x", "f32[1,3]"), ints("ax", 1, 1));
  expect_error("node 'sq' (Squeeze): cannot squeeze axis 1 of size 3");
}
END_TEST

START_TEST(unsqueeze_errors) {
  N1(Unsqueeze, "us", input("x", "f32[3]"), ints("ax", 2, 0, 0));
  expect_error("node 'us' (Unsqueeze): axis 0 is repeated");
}
END_TEST

START_TEST(transpose_rule) {
  qc_nid a = N1(Transpose, "a", input("x", "f32[2,n,4]"));
  set_ints(a, "perm", 3, 1, 2, 0);
  qc_nid b = N1(Transpose, "b", input("y", "f32[2,3]"));
  infer();
  EXPECT(a, 0, "f32[n,4,2]");
  EXPECT(b, 0, "f32[3,2]");
  qc_nid c = N1(Transpose, "tr", out(a, 0));
  set_ints(c, "perm", 3, 0, 0, 1);
  expect_error("node 'tr' (Transpose): perm is not a permutation of 0..2");
}
END_TEST

START_TEST(attribute_too_long) {
  qc_nid a = N1(Conv, "c", input("x", "f32[1,1,4,4]"), input("w", "f32[1,1,3,3]"));
  ok(qc_node_set_ints(G, a, "pads", 20, (int64_t[20]){0}));
  expect_error("node 'c' (Conv): attribute 'pads' has 20 entries, more than 16");
}
END_TEST

START_TEST(slice_rule) {
  qc_vid x = input("x", "f32[10,n,8]");
  qc_nid a = N1(Slice, "a", x, ints("s", 2, 1, 0), ints("e", 2, 8, 1000000), ints("ax", 2, 0, 2),
                ints("st", 2, 3, 1));
  qc_nid b = N1(Slice, "b", x, ints("s2", 1, -1), ints("e2", 1, -100), ints("ax2", 1, 0),
                ints("st2", 1, -2));
  qc_nid c = N1(Slice, "c", x, ints("s3", 1, 0), i64s("e3", 1, (int64_t[]){INT64_MAX}),
                ints("ax3", 1, 1));
  qc_nid d = N1(Slice, "d", x, input("ss", "i64[1]"), input("ee", "i64[1]"), ints("ax4", 1, 2));
  infer();
  EXPECT(a, 0, "f32[3,n,8]");
  EXPECT(b, 0, "f32[5,n,8]");
  EXPECT(c, 0, "f32[10,n,8]");
  EXPECT(d, 0, "f32[10,n,?]");
}
END_TEST

START_TEST(slice_old_attrs) {
  ok(qc_graph_set_opset(G, "", 9));
  qc_nid a = N1(Slice, "a", input("x", "f32[10,6]"));
  set_ints(a, "starts", 2, 2, 1);
  set_ints(a, "ends", 2, -1, 100);
  infer();
  EXPECT(a, 0, "f32[7,5]");
}
END_TEST

START_TEST(slice_errors) {
  N1(Slice, "sl", input("x", "f32[4]"), ints("s", 1, 0), ints("e", 1, 2), ints("a", 1, 0),
     ints("st", 1, 0));
  expect_error("node 'sl' (Slice): step is zero on axis 0");
}
END_TEST

START_TEST(slice_length_error) {
  N1(Slice, "sl", input("x", "f32[4,4]"), ints("s", 1, 0), input("e", "i64[2]"));
  expect_error("node 'sl' (Slice): input 2 has 2 entries, input 1 has 1");
}
END_TEST

START_TEST(gather_rules) {
  qc_nid a = N1(Gather, "a", input("x", "f32[5,n,3]"), input("i", "i64[2,4]"));
  set_int(a, "axis", 1);
  qc_nid b = N1(Gather, "b", input("e", "f16[vocab,768]"), input("ids", "i32[batch,seq]"));
  qc_nid c = N1(GatherElements, "c", input("d", "f32[3,3]"), input("j", "i64[2,3]"));
  qc_nid d = N1(GatherND, "d", input("p", "f32[2,3,4]"), input("k", "i64[5,2]"));
  qc_nid e = N1(GatherND, "e", input("q", "f32[2,3,4]"), input("l", "i64[2,1]"));
  set_int(e, "batch_dims", 1);
  infer();
  EXPECT(a, 0, "f32[5,2,4,3]");
  EXPECT(b, 0, "f16[batch,seq,768]");
  EXPECT(c, 0, "f32[2,3]");
  EXPECT(d, 0, "f32[5,4]");
  EXPECT(e, 0, "f32[2,4]");
}
END_TEST

START_TEST(gather_errors) {
  N1(Gather, "g", input("x", "f32[3,4]"), ints("i", 2, 1, 3));
  expect_error("node 'g' (Gather): index 3 is out of range for dim 0 of size 3");
}
END_TEST

START_TEST(gather_index_type) {
  N1(Gather, "g", input("x", "f32[3]"), input("i", "f32[2]"));
  expect_error("node 'g' (Gather): input 1: expected an index type (i32 or i64), got f32");
}
END_TEST

START_TEST(scatter_rules) {
  qc_nid a = N1(ScatterND, "a", input("x", "f32[4,5]"), input("i", "i64[2,1]"), input("u", "f32[2,5]"));
  qc_nid b = N1(ScatterElements, "b", input("y", "f32[3,3]"), input("j", "i64[1,2]"),
                input("v", "f32[1,2]"));
  qc_nid c = N1(TensorScatter, "c", input("cache", "f16[b,8,max,64]"), input("upd", "f16[b,8,1,64]"));
  infer();
  EXPECT(a, 0, "f32[4,5]");
  EXPECT(b, 0, "f32[3,3]");
  EXPECT(c, 0, "f16[b,8,max,64]");
  N1(ScatterND, "bad", input("z", "f32[4,5]"), input("k", "i64[2,1]"), input("w", "f32[2]"));
  expect_error("node 'bad' (ScatterND): updates must have rank 2, got 1");
}
END_TEST

START_TEST(expand_tile_pad) {
  qc_nid a = N1(Expand, "a", input("x", "f32[3,1]"), ints("s", 3, 2, 1, 4));
  qc_nid b = N1(Expand, "b", input("y", "f32[n,1]"), input("shape", "i64[2]"));
  qc_nid c = N1(Tile, "c", input("z", "f32[2,n]"), ints("r", 2, 3, 1));
  qc_nid d = N1(Pad, "d", input("w", "f32[2,3]"), ints("p", 4, 1, 0, 1, 2));
  qc_nid e = N1(Pad, "e", input("v", "f32[2,3,4]"), ints("p2", 2, 1, 1), input("cv", "f32[]"),
                ints("axes", 1, -1));
  infer();
  EXPECT(a, 0, "f32[2,3,4]");
  EXPECT(b, 0, "f32[?,?]");
  EXPECT(c, 0, "f32[6,n]");
  EXPECT(d, 0, "f32[4,5]");
  EXPECT(e, 0, "f32[2,3,6]");
  N1(Expand, "bad", input("u", "f32[3]"), ints("s2", 1, 4));
  expect_error("node 'bad' (Expand): shape [3] does not broadcast with [4]");
}
END_TEST

START_TEST(pad_old_attr) {
  ok(qc_graph_set_opset(G, "", 2));
  qc_nid a = N1(Pad, "a", input("x", "f32[2,3]"));
  set_ints(a, "pads", 4, 0, 1, 0, 1);
  infer();
  EXPECT(a, 0, "f32[2,5]");
}
END_TEST

START_TEST(pad_errors) {
  N1(Pad, "pad", input("x", "f32[2,3]"), ints("p", 2, 1, 1));
  expect_error("node 'pad' (Pad): pads has 2 entries, expected 4");
}
END_TEST

START_TEST(depth_space) {
  qc_nid a = N1(DepthToSpace, "a", input("x", "f32[1,8,2,3]"));
  set_int(a, "blocksize", 2);
  qc_nid b = N1(SpaceToDepth, "b", input("y", "f32[n,3,4,6]"));
  set_int(b, "blocksize", 2);
  infer();
  EXPECT(a, 0, "f32[1,2,4,6]");
  EXPECT(b, 0, "f32[n,12,2,3]");
  qc_nid c = N1(DepthToSpace, "d2s", input("z", "f32[1,6,2,2]"));
  set_int(c, "blocksize", 2);
  expect_error("node 'd2s' (DepthToSpace): channels (6) are not a multiple of blocksize^2 (4)");
}
END_TEST

START_TEST(data_dependent) {
  qc_nid a = N1(NonZero, "nz", input("x", "f32[2,3]"));
  qc_nid b = node(QC_OP_Unique, "u", IN(input("y", "f32[2,3]")), 4);
  qc_nid c = N1(Compress, "c", input("z", "f32[3,2]"), cst_in(G, "cond", QC_BOOL, 1, (int64_t[]){3}, (double[]){1, 0, 1}));
  set_int(c, "axis", 0);
  qc_nid d = N1(NonMaxSuppression, "nms", input("boxes", "f32[1,6,4]"), input("scores", "f32[1,1,6]"));
  infer();
  EXPECT(a, 0, "i64[2,?]");
  EXPECT(b, 0, "f32[?]");
  EXPECT(b, 2, "i64[6]");
  EXPECT(c, 0, "f32[2,2]");
  EXPECT(d, 0, "i64[?,3]");
}
END_TEST

START_TEST(onehot_topk_trilu) {
  qc_nid a = N1(OneHot, "oh", input("i", "i64[2,3]"), scalar_i64("depth", 10), input("v", "f32[2]"));
  set_int(a, "axis", 1);
  qc_nid b = node(QC_OP_TopK, "tk", IN(input("x", "f32[b,50]"), ints("k", 1, 5)), 2);
  qc_nid c = N1(Trilu, "tri", input("m", "f32[4,4]"));
  infer();
  EXPECT(a, 0, "f32[2,10,3]");
  EXPECT(b, 0, "f32[b,5]");
  EXPECT(b, 1, "i64[b,5]");
  EXPECT(c, 0, "f32[4,4]");
  node(QC_OP_TopK, "big", IN(input("y", "f32[4]"), ints("k2", 1, 5)), 2);
  expect_error("node 'big' (TopK): k (5) exceeds dim 0 (4)");
}
END_TEST

START_TEST(topk_old_attr) {
  ok(qc_graph_set_opset(G, "", 1));
  qc_nid b = node(QC_OP_TopK, "tk", IN(input("x", "f32[3,7]")), 2);
  set_int(b, "k", 2);
  infer();
  EXPECT(b, 0, "f32[3,2]");
}
END_TEST

START_TEST(misc_tensor_ops) {
  qc_nid a = N1(CenterCropPad, "ccp", input("x", "f32[20,10,3]"), ints("s", 2, 10, 8));
  set_ints(a, "axes", 2, 0, 1);
  qc_nid b = N1(ReverseSequence, "rs", input("y", "f32[4,n,2]"), input("l", "i64[n]"));
  qc_nid c = N1(Col2Im, "c2i", input("z", "f32[1,10,12]"), ints("img", 2, 5, 5), ints("blk", 2, 1, 5));
  infer();
  EXPECT(a, 0, "f32[10,8,3]");
  EXPECT(b, 0, "f32[4,n,2]");
  EXPECT(c, 0, "f32[1,2,5,5]");
}
END_TEST

/* ---- linear algebra, convolution, pooling ------------------------------------------------------- */

START_TEST(matmul_rule) {
  qc_nid a = N1(MatMul, "a", input("x", "f32[batch,seq,64]"), input("w", "f32[64,32]"));
  qc_nid b = N1(MatMul, "b", input("p", "f32[2,1,3,4]"), input("q", "f32[5,4,6]"));
  qc_nid c = N1(MatMul, "c", input("v", "f32[4]"), input("m", "f32[3,4,5]"));
  qc_nid d = N1(MatMul, "d", input("r", "f32[3,4]"), input("u", "f32[4]"));
  qc_nid e = N1(MatMul, "e", input("s", "f32[*]"), input("t", "f32[4,5]"));
  infer();
  EXPECT(a, 0, "f32[batch,seq,32]");
  EXPECT(b, 0, "f32[2,5,3,6]");
  EXPECT(c, 0, "f32[3,5]");
  EXPECT(d, 0, "f32[3]");
  EXPECT(e, 0, "f32[*]");
}
END_TEST

START_TEST(matmul_errors) {
  N1(MatMul, "mm", input("x", "f32[8,64]"), input("w", "f32[32,16]"));
  expect_error("node 'mm' (MatMul): inner dimensions differ: 64 vs 32");
}
END_TEST

START_TEST(gemm_rule) {
  qc_nid a = N1(Gemm, "a", input("x", "f32[k,m]"), input("w", "f32[n,k]"), input("c", "f32[n]"));
  set_int(a, "transA", 1);
  set_int(a, "transB", 1);
  infer();
  EXPECT(a, 0, "f32[m,n]");
  N1(Gemm, "g", input("y", "f32[2,3]"), input("v", "f32[4,5]"));
  expect_error("node 'g' (Gemm): inner dimensions differ: 3 vs 4");
}
END_TEST

START_TEST(gemm_bias_error) {
  N1(Gemm, "g", input("y", "f32[2,3]"), input("v", "f32[3,5]"), input("c", "f32[3]"));
  expect_error("node 'g' (Gemm): input 2: C of shape [3] does not broadcast to [2,5]");
}
END_TEST

START_TEST(conv_rule) {
  qc_nid a = N1(Conv, "a", input("x", "f32[n,3,32,32]"), input("w", "f32[16,3,3,3]"),
                input("b", "f32[16]"));
  set_ints(a, "pads", 4, 1, 1, 1, 1);
  set_ints(a, "strides", 2, 2, 2);
  qc_nid b = N1(Conv, "b", input("y", "f32[1,8,h,w]"), input("k", "f32[8,2,3,3]"));
  set_int(b, "group", 4);
  set_ints(b, "pads", 4, 1, 1, 1, 1);
  qc_nid c = N1(Conv, "c", input("z", "f32[1,4,10]"), input("k1", "f32[6,4,3]"));
  set_str(c, "auto_pad", "SAME_UPPER");
  set_ints(c, "strides", 1, 3);
  qc_nid d = N1(Conv, "d", input("u", "f32[1,4,10,10]"), input("k2", "f32[4,4,3,3]"));
  set_ints(d, "dilations", 2, 2, 2);
  infer();
  EXPECT(a, 0, "f32[n,16,16,16]");
  EXPECT(b, 0, "f32[1,8,h,w]");
  EXPECT(c, 0, "f32[1,6,4]");
  EXPECT(d, 0, "f32[1,4,6,6]");
}
END_TEST

START_TEST(conv_rank_error) {
  N1(Conv, "c", input("x", "f32[1,3,8,8]"), input("w", "f32[4,3,3]"));
  expect_error("node 'c' (Conv): input 1: expected rank 4, got 3");
}
END_TEST

START_TEST(conv_channel_error) {
  qc_nid n = N1(Conv, "c", input("x", "f32[1,6,8,8]"), input("w", "f32[4,4,3,3]"));
  set_int(n, "group", 2);
  expect_error("node 'c' (Conv): input channels (6) != weight channels (4) * group (2)");
}
END_TEST

START_TEST(conv_transpose_rule) {
  qc_nid a = N1(ConvTranspose, "a", input("x", "f32[1,4,5,5]"), input("w", "f32[4,2,3,3]"));
  set_ints(a, "strides", 2, 2, 2);
  set_ints(a, "output_padding", 2, 1, 1);
  set_int(a, "group", 2);
  qc_nid b = N1(ConvTranspose, "b", input("y", "f32[1,4,5]"), input("k", "f32[4,1,3]"));
  set_ints(b, "output_shape", 1, 12);
  infer();
  EXPECT(a, 0, "f32[1,4,12,12]");
  EXPECT(b, 0, "f32[1,1,12]");
}
END_TEST

START_TEST(pool_rules) {
  qc_nid a = node(QC_OP_MaxPool, "a", IN(input("x", "f32[1,3,32,32]")), 2);
  set_ints(a, "kernel_shape", 2, 3, 3);
  set_ints(a, "strides", 2, 2, 2);
  set_int(a, "ceil_mode", 1);
  qc_nid b = N1(AveragePool, "b", input("y", "f32[n,3,h,w]"));
  set_ints(b, "kernel_shape", 2, 3, 3);
  set_str(b, "auto_pad", "SAME_LOWER");
  qc_nid c = N1(GlobalAveragePool, "c", input("z", "f32[n,64,7,7]"));
  qc_nid d = N1(LpPool, "d", input("u", "f32[1,2,9]"));
  set_ints(d, "kernel_shape", 1, 4);
  set_ints(d, "pads", 2, 1, 1);
  qc_nid e = N1(MaxUnpool, "e", input("v", "f32[1,1,2,2]"), input("idx", "i64[1,1,2,2]"));
  set_ints(e, "kernel_shape", 2, 2, 2);
  set_ints(e, "strides", 2, 2, 2);
  infer();
  EXPECT(a, 0, "f32[1,3,16,16]");
  EXPECT(a, 1, "i64[1,3,16,16]");
  EXPECT(b, 0, "f32[n,3,h,w]");
  EXPECT(c, 0, "f32[n,64,1,1]");
  EXPECT(d, 0, "f32[1,2,8]");
  EXPECT(e, 0, "f32[1,1,4,4]");
  qc_nid f = N1(MaxPool, "mp", input("t", "f32[1,1,2,2]"));
  set_ints(f, "kernel_shape", 2, 3, 3);
  expect_error("node 'mp' (MaxPool): spatial dim 0: the window (3) does not fit the padded input (2)");
}
END_TEST

START_TEST(norm_rules) {
  qc_vid x = input("x", "f32[n,4,8,8]");
  qc_vid c = input("c", "f32[4]");
  qc_nid a = node(QC_OP_BatchNormalization, "bn", IN(x, c, c, c, c), 3);
  set_int(a, "training_mode", 1);
  qc_nid b = node(QC_OP_LayerNormalization, "ln", IN(input("y", "f16[b,s,64]"), input("g", "f16[64]")), 3);
  qc_nid d = N1(GroupNormalization, "gn", x, c, c);
  set_int(d, "num_groups", 2);
  qc_nid e = N1(InstanceNormalization, "in", x, c, c);
  qc_nid f = N1(Softmax, "sm", input("z", "f32[2,n]"));
  qc_nid g = N1(RMSNormalization, "rms", input("r", "bf16[b,64]"), input("rs", "bf16[64]"));
  infer();
  EXPECT(a, 0, "f32[n,4,8,8]");
  EXPECT(a, 1, "f32[4]");
  EXPECT(b, 0, "f16[b,s,64]");
  EXPECT(b, 1, "f32[b,s,1]");
  EXPECT(d, 0, "f32[n,4,8,8]");
  EXPECT(e, 0, "f32[n,4,8,8]");
  EXPECT(f, 0, "f32[2,n]");
  EXPECT(g, 0, "bf16[b,64]");
}
END_TEST

START_TEST(norm_errors) {
  qc_vid c = input("c", "f32[3]");
  node(QC_OP_BatchNormalization, "bn", IN(input("x", "f32[1,4,2]"), c, c, c, c), 1);
  expect_error("node 'bn' (BatchNormalization): per-channel input size and channels differ: 3 vs 4");
}
END_TEST

START_TEST(group_norm_error) {
  qc_nid d = N1(GroupNormalization, "gn", input("x", "f32[1,6,2]"), input("s", "f32[6]"),
                input("b", "f32[6]"));
  set_int(d, "num_groups", 4);
  expect_error("node 'gn' (GroupNormalization): channels (6) are not a multiple of num_groups (4)");
}
END_TEST

START_TEST(softmax_axis_error) {
  qc_nid f = N1(Softmax, "sm", input("z", "f32[2,3]"));
  set_int(f, "axis", 2);
  expect_error("node 'sm' (Softmax): axis 2 is out of range for rank 2");
}
END_TEST

START_TEST(resize_rules) {
  qc_vid none = QC_NONE;
  qc_nid a = N1(Resize, "a", input("x", "f32[1,3,4,6]"), none, floats("sc", 4, 1.0, 1.0, 2.0, 0.5));
  qc_nid b = N1(Resize, "b", input("y", "f32[n,3,4,6]"), none, none, ints("sz", 2, 8, 9));
  set_ints(b, "axes", 2, 2, 3);
  qc_nid c = N1(Resize, "c", input("z", "f32[1,1,4,8]"), none, none, ints("sz2", 2, 2, 2));
  set_ints(c, "axes", 2, 2, 3);
  set_str(c, "keep_aspect_ratio_policy", "not_larger");
  qc_nid d = N1(Resize, "d", input("w", "f32[n,3,4,6]"), none, input("s", "f32[4]"));
  infer();
  EXPECT(a, 0, "f32[1,3,8,3]");
  EXPECT(b, 0, "f32[n,3,8,9]");
  EXPECT(c, 0, "f32[1,1,1,2]");
  EXPECT(d, 0, "f32[?,?,?,?]");
}
END_TEST

START_TEST(upsample_old) {
  ok(qc_graph_set_opset(G, "", 7));
  qc_nid a = N1(Upsample, "u", input("x", "f32[1,1,2,3]"));
  ok(qc_node_set_floats(G, a, "scales", 4, (double[]){1, 1, 2, 3}));
  infer();
  EXPECT(a, 0, "f32[1,1,4,9]");
}
END_TEST

START_TEST(rnn_rules) {
  qc_nid a = node(QC_OP_LSTM, "lstm",
                  IN(input("x", "f32[seq,b,10]"), input("w", "f32[2,80,10]"), input("r", "f32[2,80,20]")), 3);
  set_str(a, "direction", "bidirectional");
  qc_nid b = node(QC_OP_GRU, "gru",
                  IN(input("y", "f32[b,7,5]"), input("w2", "f32[1,12,5]"), input("r2", "f32[1,12,4]")), 2);
  set_int(b, "layout", 1);
  set_int(b, "hidden_size", 4);
  infer();
  EXPECT(a, 0, "f32[seq,2,b,20]");
  EXPECT(a, 1, "f32[2,b,20]");
  EXPECT(a, 2, "f32[2,b,20]");
  EXPECT(b, 0, "f32[b,7,1,4]");
  EXPECT(b, 1, "f32[b,1,4]");
  node(QC_OP_RNN, "rnn", IN(input("z", "f32[3,1,5]"), input("w3", "f32[1,4,6]"), input("r3", "f32[1,4,4]")), 1);
  expect_error("node 'rnn' (RNN): W's input size and X's feature dim differ: 6 vs 5");
}
END_TEST

START_TEST(attention_rules) {
  qc_nid a = node(QC_OP_Attention, "att",
                  IN(input("q", "f16[b,8,s,64]"), input("k", "f16[b,2,t,64]"), input("v", "f16[b,2,t,32]"),
                     QC_NONE, input("pk", "f16[b,2,p,64]"), input("pv", "f16[b,2,p,32]")), 4);
  qc_nid b = N1(Attention, "att3", input("q3", "f32[2,5,64]"), input("k3", "f32[2,7,32]"),
                input("v3", "f32[2,7,32]"));
  set_int(b, "q_num_heads", 4);
  set_int(b, "kv_num_heads", 2);
  qc_nid c = N1(RotaryEmbedding, "rope", input("x", "f32[b,s,256]"), input("cos", "f32[m,16]"),
                input("sin", "f32[m,16]"));
  set_int(c, "num_heads", 8);
  infer();
  EXPECT(a, 0, "f16[b,8,s,32]");
  EXPECT(a, 1, "f16[b,2,?,64]");
  EXPECT(a, 3, "f16[b,8,s,?]");
  EXPECT(b, 0, "f32[2,5,64]");
  EXPECT(c, 0, "f32[b,s,256]");
}
END_TEST

START_TEST(einsum_rule) {
  qc_nid a = N1(Einsum, "a", input("x", "f32[2,3]"), input("y", "f32[3,n]"));
  set_str(a, "equation", "ij,jk->ik");
  qc_nid b = N1(Einsum, "b", input("p", "f32[b,4,5]"), input("q", "f32[b,5,6]"));
  set_str(b, "equation", "...ij,...jk");
  qc_nid c = N1(Einsum, "c", input("r", "f32[3,3]"));
  set_str(c, "equation", "ii->");
  infer();
  EXPECT(a, 0, "f32[2,n]");
  EXPECT(b, 0, "f32[b,4,6]");
  EXPECT(c, 0, "f32[]");
  qc_nid d = N1(Einsum, "es", input("s", "f32[2,3]"), input("t", "f32[4,5]"));
  set_str(d, "equation", "ij,jk->ik");
  expect_error("node 'es' (Einsum): label 'j' has sizes 3 and 4");
}
END_TEST

START_TEST(image_and_signal) {
  qc_nid a = N1(GridSample, "gs", input("x", "f32[n,3,8,8]"), input("g", "f32[n,4,5,2]"));
  qc_nid b = N1(RoiAlign, "ra", input("y", "f32[1,16,32,32]"), input("rois", "f32[r,4]"),
                input("bi", "i64[r]"));
  set_int(b, "output_height", 7);
  set_int(b, "output_width", 7);
  qc_nid c = N1(DFT, "dft", input("s", "f32[2,16,1]"));
  set_int(c, "onesided", 1);
  qc_nid d = N1(STFT, "stft", input("sig", "f32[1,128,1]"), scalar_i64("step", 8),
                input("win", "f32[16]"));
  qc_nid e = N1(Det, "det", input("m", "f32[b,3,3]"));
  infer();
  EXPECT(a, 0, "f32[n,3,4,5]");
  EXPECT(b, 0, "f32[r,16,7,7]");
  EXPECT(c, 0, "f32[2,9,2]");
  EXPECT(d, 0, "f32[1,15,9,2]");
  EXPECT(e, 0, "f32[b]");
}
END_TEST

START_TEST(losses) {
  qc_nid a = N1(NegativeLogLikelihoodLoss, "nll", input("x", "f32[n,5,d]"), input("t", "i64[n,d]"));
  set_str(a, "reduction", "none");
  qc_nid b = node(QC_OP_SoftmaxCrossEntropyLoss, "sce", IN(input("s", "f32[n,5]"), input("l", "i64[n]")), 2);
  infer();
  EXPECT(a, 0, "f32[n,d]");
  EXPECT(b, 0, "f32[]");
  EXPECT(b, 1, "f32[n,5]");
}
END_TEST

/* ---- reductions ------------------------------------------------------------------------------- */

START_TEST(reduce_rules) {
  qc_nid a = N1(ReduceSum, "a", input("x", "f32[2,n,4]"), ints("ax", 1, -1));
  qc_nid b = N1(ReduceMean, "b", input("y", "f32[2,n,4]"), ints("ax2", 2, 0, 2));
  set_int(b, "keepdims", 0);
  qc_nid c = N1(ReduceMax, "c", input("z", "f32[2,3]"));
  qc_nid d = N1(ReduceSum, "d", input("w", "f32[2,3]"), ints("empty", 0));
  set_int(d, "noop_with_empty_axes", 1);
  qc_nid e = N1(ReduceL2, "e", input("v", "f32[2,3,4]"), input("axes", "i64[2]"));
  set_int(e, "keepdims", 0);
  qc_nid f = N1(ArgMax, "f", input("u", "f32[b,10]"));
  set_int(f, "axis", 1);
  set_int(f, "keepdims", 0);
  qc_nid g = N1(CumSum, "g", input("t", "f32[b,10]"), scalar_i64("axis", 1));
  infer();
  EXPECT(a, 0, "f32[2,n,1]");
  EXPECT(b, 0, "f32[n]");
  EXPECT(c, 0, "f32[1,1]");
  EXPECT(d, 0, "f32[2,3]");
  EXPECT(e, 0, "f32[?]");
  EXPECT(f, 0, "i64[b]");
  EXPECT(g, 0, "f32[b,10]");
}
END_TEST

START_TEST(reduce_old_attr) {
  ok(qc_graph_set_opset(G, "", 11));
  qc_nid a = N1(ReduceMean, "a", input("x", "f32[2,3,4]"));
  set_ints(a, "axes", 1, 1);
  infer();
  EXPECT(a, 0, "f32[2,1,4]");
}
END_TEST

START_TEST(reduce_errors) {
  N1(ReduceSum, "rs", input("x", "f32[2,3]"), ints("ax", 1, 2));
  expect_error("node 'rs' (ReduceSum): axis 2 is out of range for rank 2");
}
END_TEST

/* ---- quantization ------------------------------------------------------------------------------ */

START_TEST(quant_rules) {
  qc_nid a = N1(QuantizeLinear, "q", input("x", "f32[n,64]"), input("s", "f32[]"), input("z", "i8[]"));
  qc_nid b = N1(DequantizeLinear, "dq", out(a, 0), input("s2", "f16[64]"), input("z2", "i8[64]"));
  qc_nid c = N1(QuantizeLinear, "q2", input("y", "f32[4]"), input("s3", "f32[]"));
  qc_nid d = N1(QuantizeLinear, "q3", input("w", "f32[4,64]"), input("s4", "f32[4,2]"));
  set_int(d, "block_size", 32);
  set_int(d, "output_dtype", 22); /* INT4 */
  qc_nid e = node(QC_OP_DynamicQuantizeLinear, "dql", IN(input("v", "f32[3,n]")), 3);
  infer();
  EXPECT(a, 0, "i8[n,64]");
  EXPECT(b, 0, "f16[n,64]");
  EXPECT(c, 0, "u8[4]");
  EXPECT(d, 0, "i4[4,64]");
  EXPECT(e, 0, "u8[3,n]");
  EXPECT(e, 1, "f32[]");
  EXPECT(e, 2, "u8[]");
}
END_TEST

START_TEST(quant_axis_error) {
  N1(DequantizeLinear, "dq", input("x", "i8[4,64]"), input("s", "f32[32]"), input("z", "i8[32]"));
  expect_error("node 'dq' (DequantizeLinear): input 1: scale has 32 entries, but dim 1 has 64");
}
END_TEST

START_TEST(quant_zp_error) {
  N1(DequantizeLinear, "dq", input("x", "i8[4]"), input("s", "f32[]"), input("z", "u8[]"));
  expect_error("node 'dq' (DequantizeLinear): inputs 0 and 2: dtypes differ (i8 vs u8)");
}
END_TEST

START_TEST(integer_ops) {
  qc_nid a = N1(MatMulInteger, "mmi", input("a", "u8[n,16]"), input("b", "i8[16,8]"));
  qc_nid b = N1(ConvInteger, "ci", input("x", "u8[1,2,5,5]"), input("w", "u8[3,2,3,3]"));
  qc_vid s = input("s", "f32[]");
  qc_vid z = input("z", "u8[]");
  qc_nid c = N1(QLinearMatMul, "qmm", input("qa", "u8[2,4]"), s, z, input("qb", "u8[4,3]"), s, z, s, z);
  qc_nid d = N1(QLinearConv, "qc", input("qx", "i8[1,1,4,4]"), s, input("zi", "i8[]"),
                input("qw", "i8[2,1,3,3]"), s, input("zw", "i8[]"), s, z);
  infer();
  EXPECT(a, 0, "i32[n,8]");
  EXPECT(b, 0, "i32[1,3,3,3]");
  EXPECT(c, 0, "u8[2,3]");
  EXPECT(d, 0, "u8[1,2,2,2]");
  N1(MatMulInteger, "bad", input("f", "f32[2,2]"), input("g", "i8[2,2]"));
  expect_error("node 'bad' (MatMulInteger): input 0: expected i8 or u8, got f32");
}
END_TEST

START_TEST(com_microsoft_ops) {
  qc_nid a = N1(MS_MatMulNBits, "mnb", input("a", "f16[b,s,4096]"), input("w", "u8[11008,128,16]"),
                input("sc", "f16[11008,128]"));
  set_int(a, "K", 4096);
  set_int(a, "N", 11008);
  set_int(a, "block_size", 32);
  qc_vid s = input("s", "f32[]");
  qc_vid z = input("z", "u8[]");
  qc_nid b = N1(MS_QLinearAdd, "qa", input("x", "u8[2,1,4]"), s, z, input("y", "u8[3,1]"), s, z, s, z);
  qc_nid c = N1(MS_DynamicQuantizeMatMul, "dqm", input("p", "f32[n,8]"), input("q", "i8[8,4]"),
                input("qs", "f32[]"));
  qc_nid d = N1(MS_MatMulIntegerToFloat, "mif", input("ia", "u8[2,8]"), input("ib", "i8[8,4]"),
                input("as", "f16[]"), input("bs", "f16[]"));
  qc_nid e = N1(MS_QLinearConcat, "qcat", s, z, input("c0", "u8[2,3]"), s, z, input("c1", "u8[2,5]"), s, z);
  set_int(e, "axis", 1);
  qc_nid f = N1(MS_QLinearGlobalAveragePool, "qgap", input("g", "u8[1,7,7,32]"), s, z, s, z);
  set_int(f, "channels_last", 1);
  qc_nid g = N1(MS_QGemm, "qg", input("ga", "u8[4,8]"), s, z, input("gb", "i8[8,2]"), s,
                input("gz", "i8[]"));
  infer();
  EXPECT(a, 0, "f16[b,s,11008]");
  EXPECT(b, 0, "u8[2,3,4]");
  EXPECT(c, 0, "f32[n,4]");
  EXPECT(d, 0, "f16[2,4]");
  EXPECT(e, 0, "u8[2,8]");
  EXPECT(f, 0, "u8[1,1,1,32]");
  EXPECT(g, 0, "f32[4,2]");
  qc_nid h = N1(MS_MatMulNBits, "nbits", input("t", "f32[2,100]"), input("tw", "u8[8,4,16]"),
                input("ts", "f32[8,4]"));
  set_int(h, "K", 128);
  set_int(h, "N", 8);
  set_int(h, "block_size", 32);
  expect_error("node 'nbits' (com.microsoft.MatMulNBits): inner dimensions differ: 100 vs 128");
}
END_TEST

/* ---- control flow ------------------------------------------------------------------------------- */

static qc_graph *subgraph(void) {
  qc_graph *g;
  ok(qc_graph_create(NULL, &g));
  return g;
}
static qc_vid capture(qc_graph *g, const char *name) {
  qc_vid v;
  ok(qc_graph_add_outer(g, name, NULL, &v));
  return v;
}
static qc_vid sub_op(qc_graph *g, qc_op op, const char *name, int32_t n_in, const qc_vid *in) {
  qc_nid n = node_in(g, op, name, n_in, in, 1);
  return qc_graph_node(g, n)->out[0];
}
static void sub_out(qc_graph *g, qc_vid v) { ok(qc_graph_add_output(g, v)); }
static void attach(qc_nid n, const char *name, qc_graph *body) {
  qc_attr a = {.name = name, .kind = QC_ATTR_GRAPH, .u.g = body};
  ok(qc_node_set_attr(G, n, &a));
}

START_TEST(if_rule) {
  input("x", "f32[batch,3]");
  qc_vid c = input("c", "bool[]");
  qc_graph *th = subgraph(), *el = subgraph();
  qc_vid tx = capture(th, "x");
  sub_out(th, sub_op(th, QC_OP_Relu, "t_relu", 1, &tx));
  sub_out(th, sub_op(th, QC_OP_Identity, "t_id", 1, &tx));
  qc_vid ex = capture(el, "x");
  sub_out(el, sub_op(el, QC_OP_Identity, "e_id", 1, &ex));
  qc_nid cat = node_in(el, QC_OP_Concat, "e_cat", 2, (qc_vid[]){ex, ex}, 1);
  ok(qc_node_set_int(el, cat, "axis", 0));
  sub_out(el, qc_graph_node(el, cat)->out[0]);
  qc_nid n = node(QC_OP_If, "if", IN(c), 2);
  attach(n, "then_branch", th);
  attach(n, "else_branch", el);
  infer();
  EXPECT(n, 0, "f32[batch,3]"); /* the symbol comes back by name */
  EXPECT(n, 1, "f32[?,3]");
  ok(qc_graph_verify(G));
}
END_TEST

START_TEST(if_errors) {
  qc_vid c = input("c", "bool[]");
  qc_graph *th = subgraph(), *el = subgraph();
  qc_vid k = cst_in(th, "k", QC_F32, 0, NULL, (double[]){1});
  sub_out(th, k);
  sub_out(th, k);
  qc_vid k2 = cst_in(el, "k2", QC_F32, 0, NULL, (double[]){1});
  sub_out(el, k2);
  qc_nid n = node(QC_OP_If, "if", IN(c), 1);
  attach(n, "then_branch", th);
  attach(n, "else_branch", el);
  expect_error("node 'if' (If): then_branch has 2 outputs, the node 1");
}
END_TEST

/* Loop(M, cond, y): body (i, cond, y) -> (cond, y', scan). */
static qc_nid loop_with(bool grow) {
  qc_vid m = scalar_i64("M", 5);
  qc_vid c = input("c", "bool[]");
  qc_vid y = input("y", "f32[2]");
  qc_graph *b = subgraph();
  qc_vid it = input_in(b, "i", "?[*]");
  qc_vid ci = input_in(b, "cin", "?[*]");
  qc_vid yi = input_in(b, "yin", "?[*]");
  (void)it;
  qc_vid co = sub_op(b, QC_OP_Identity, "cout", 1, &ci);
  qc_vid yo;
  if (grow) {
    qc_nid cat = node_in(b, QC_OP_Concat, "grow", 2, (qc_vid[]){yi, yi}, 1);
    ok(qc_node_set_int(b, cat, "axis", 0));
    yo = qc_graph_node(b, cat)->out[0];
  } else {
    yo = sub_op(b, QC_OP_Add, "add", 2, (qc_vid[]){yi, yi});
  }
  qc_vid sc = sub_op(b, QC_OP_Identity, "scan", 1, &yo);
  sub_out(b, co);
  sub_out(b, yo);
  sub_out(b, sc);
  qc_nid n = node(QC_OP_Loop, "loop", IN(m, c, y), 2);
  attach(n, "body", b);
  return n;
}

START_TEST(loop_rule) {
  qc_nid n = loop_with(false);
  infer();
  EXPECT(n, 0, "f32[2]");
  EXPECT(n, 1, "f32[?,2]"); /* the condition input is not known */
  const qc_graph *b = qc_node_attr(G, n, "body")->u.g;
  ck_assert_str_eq(type_text(b, &qc_graph_value(b, qc_graph_input(b, 0))->type), "i64[]");
  ck_assert_str_eq(type_text(b, &qc_graph_value(b, qc_graph_input(b, 2))->type), "f32[2]");
}
END_TEST

/* A known trip count with a condition that starts and stays true: scan outputs have
 * that many rows. */
START_TEST(loop_trip_count) {
  qc_vid m = scalar_i64("M", 5);
  qc_vid c = cst_in(G, "c", QC_BOOL, 0, NULL, (double[]){1});
  qc_graph *b = subgraph();
  input_in(b, "i", "?[*]");
  qc_vid ci = input_in(b, "cin", "?[*]");
  qc_vid co = sub_op(b, QC_OP_Identity, "cout", 1, &ci);
  qc_vid k = cst_in(b, "k", QC_F32, 1, (int64_t[]){3}, (double[]){1, 2, 3});
  sub_out(b, co);
  sub_out(b, sub_op(b, QC_OP_Neg, "row", 1, &k));
  qc_nid n = node(QC_OP_Loop, "loop", IN(m, c), 1);
  attach(n, "body", b);
  infer();
  EXPECT(n, 0, "f32[5,3]");
}
END_TEST

START_TEST(loop_carried_grows) {
  qc_nid n = loop_with(true);
  infer();
  /* [2] becomes [4] in the body: the carried type widens to [?] */
  EXPECT(n, 0, "f32[?]");
  EXPECT(n, 1, "f32[?,?]");
}
END_TEST

START_TEST(scan_rule) {
  qc_vid s = input("s", "f32[4]");
  qc_vid xs = input("xs", "f32[10,4]");
  qc_graph *b = subgraph();
  qc_vid si = input_in(b, "sin", "?[*]");
  qc_vid xi = input_in(b, "xin", "?[*]");
  qc_vid so = sub_op(b, QC_OP_Add, "acc", 2, (qc_vid[]){si, xi});
  sub_out(b, so);
  sub_out(b, sub_op(b, QC_OP_Identity, "y", 1, &so));
  qc_nid n = node(QC_OP_Scan, "scan", IN(s, xs), 2);
  set_int(n, "num_scan_inputs", 1);
  set_ints(n, "scan_output_axes", 1, 1);
  attach(n, "body", b);
  infer();
  EXPECT(n, 0, "f32[4]");
  EXPECT(n, 1, "f32[4,10]");
}
END_TEST

START_TEST(sequence_map_rule) {
  qc_vid s = input("s", "seq:f32[?,3]");
  qc_graph *b = subgraph();
  qc_vid e = input_in(b, "e", "?[*]");
  sub_out(b, sub_op(b, QC_OP_Relu, "r", 1, &e));
  qc_nid n = N1(SequenceMap, "map", s);
  attach(n, "body", b);
  infer();
  EXPECT(n, 0, "seq:f32[?,3]");
}
END_TEST

START_TEST(sequence_rules) {
  qc_nid em = node(QC_OP_SequenceEmpty, "empty", 0, NULL, 1);
  qc_nid ins = N1(SequenceInsert, "ins", out(em, 0), input("x", "f32[3]"));
  qc_nid con = N1(SequenceConstruct, "con", input("a", "f32[2,3]"), input("b", "f32[4,3]"));
  qc_nid at = N1(SequenceAt, "at", out(con, 0), scalar_i64("zero", 0));
  qc_nid len = N1(SequenceLength, "len", out(con, 0));
  qc_nid cfs = N1(ConcatFromSequence, "cfs", out(con, 0));
  set_int(cfs, "axis", 0);
  qc_nid stk = N1(ConcatFromSequence, "stack", out(ins, 0));
  set_int(stk, "axis", 0);
  set_int(stk, "new_axis", 1);
  qc_nid sp = N1(SplitToSequence, "sp", input("y", "f32[6,2]"));
  set_int(sp, "keepdims", 0);
  qc_nid sp2 = N1(SplitToSequence, "sp2", input("z", "f32[6,2]"), scalar_i64("two", 2));
  qc_nid er = N1(SequenceErase, "er", out(con, 0));
  infer();
  EXPECT(em, 0, "seq:f32[*]");
  EXPECT(ins, 0, "seq:f32[3]");
  EXPECT(con, 0, "seq:f32[?,3]");
  EXPECT(at, 0, "f32[?,3]");
  EXPECT(len, 0, "i64[]");
  EXPECT(cfs, 0, "f32[?,3]");
  EXPECT(stk, 0, "f32[?,3]");
  EXPECT(sp, 0, "seq:f32[2]");
  EXPECT(sp2, 0, "seq:f32[2,2]");
  EXPECT(er, 0, "seq:f32[?,3]");
  N1(SequenceAt, "bad", input("t", "f32[2]"), scalar_i64("one", 1));
  expect_error("node 'bad' (SequenceAt): input 0: expected a sequence, got a tensor");
}
END_TEST

START_TEST(optional_rules) {
  qc_nid o = N1(Optional, "o", input("x", "f16[3]"));
  qc_nid g = N1(OptionalGetElement, "g", out(o, 0));
  qc_nid h = N1(OptionalHasElement, "h", out(o, 0));
  qc_nid os = N1(Optional, "os", input("s", "seq:i64[2]"));
  qc_nid gs = N1(OptionalGetElement, "gs", out(os, 0));
  infer();
  EXPECT(o, 0, "opt:f16[3]");
  EXPECT(g, 0, "f16[3]");
  EXPECT(h, 0, "bool[]");
  EXPECT(os, 0, "optseq:i64[2]");
  EXPECT(gs, 0, "seq:i64[2]");
}
END_TEST

/* ---- ai.onnx.ml, training, strings -------------------------------------------------------------- */

START_TEST(ml_rules) {
  qc_nid a = N1(ML_LabelEncoder, "le", input("x", "string[n]"));
  ok(qc_node_set_ints(G, a, "values_int64s", 2, (int64_t[]){1, 2}));
  qc_nid b = N1(ML_TreeEnsembleRegressor, "ter", input("y", "f32[n,5]"));
  set_int(b, "n_targets", 2);
  qc_nid c = N1(ML_Scaler, "sc", input("z", "f64[n,3]"));
  qc_nid d = N1(ML_OneHotEncoder, "ohe", input("w", "i64[n]"));
  ok(qc_node_set_ints(G, d, "cats_int64s", 3, (int64_t[]){1, 2, 3}));
  qc_nid e = N1(ML_ArrayFeatureExtractor, "afe", input("v", "f32[n,10]"), ints("idx", 2, 1, 4));
  infer();
  EXPECT(a, 0, "i64[n]");
  EXPECT(b, 0, "f32[n,2]");
  EXPECT(c, 0, "f32[n,3]");
  EXPECT(d, 0, "f32[n,3]");
  EXPECT(e, 0, "f32[n,2]");
}
END_TEST

START_TEST(training_and_strings) {
  qc_vid r = input("r", "f32[]"), t = input("t", "i64[]");
  qc_nid a = node(QC_OP_TR_Adam, "adam",
                  IN(r, t, input("x", "f32[3,4]"), input("g", "f32[3,4]"), input("v", "f32[3,4]"),
                     input("h", "f32[3,4]")), 3);
  qc_nid grad = node(QC_OP_TR_Gradient, "grad", IN(input("ga", "f32[2]"), input("gb", "f64[3]")), 2);
  qc_attr xs = {.name = "xs", .kind = QC_ATTR_STRINGS, .n = 2,
                .u.strs = {.v = (const char *[]){"gb", "ga"}, .len = (int32_t[]){2, 2}}};
  ok(qc_node_set_attr(G, grad, &xs));
  ok(qc_node_set_string(G, grad, "y", "ga"));
  qc_nid b = node(QC_OP_StringSplit, "ss", IN(input("s", "string[2]")), 2);
  qc_nid c = N1(TfIdfVectorizer, "tfidf", input("i", "i32[2,6]"));
  ok(qc_node_set_ints(G, c, "ngram_indexes", 3, (int64_t[]){0, 1, 4}));
  infer();
  EXPECT(a, 0, "f32[3,4]");
  EXPECT(a, 2, "f32[3,4]");
  EXPECT(grad, 0, "f64[3]");
  EXPECT(grad, 1, "f32[2]");
  EXPECT(b, 0, "string[2,?]");
  EXPECT(b, 1, "i64[2]");
  EXPECT(c, 0, "f32[2,5]");
}
END_TEST

/* ---- declared types and the verifier ------------------------------------------------------------ */

START_TEST(declared_types_refined) {
  qc_nid n = N1(MatMul, "mm", input("x", "f32[8,64]"), input("w", "f32[64,32]"));
  qc_type decl = parse_type(G, "f32[?,32]");
  ok(qc_graph_set_type(G, out(n, 0), &decl));
  infer();
  EXPECT(n, 0, "f32[8,32]");
}
END_TEST

START_TEST(declared_types_contradicted) {
  qc_nid n = N1(MatMul, "mm", input("x", "f32[8,64]"), input("w", "f32[64,32]"));
  ok(qc_graph_set_name(G, "g"));
  qc_type decl = parse_type(G, "f32[9,32]");
  ok(qc_graph_set_type(G, out(n, 0), &decl));
  qc_status s = qc_graph_infer_types(G);
  ck_assert(s != QC_OK);
  ck_assert_msg(strstr(qc_status_message(s), "node 'mm' (MatMul): output 0") != NULL, "%s",
                qc_status_message(s));
  ck_assert_msg(strstr(qc_status_message(s), "is declared f32[9,32] but computes f32[8,32]") != NULL,
                "%s", qc_status_message(s));
  qc_status_free(s);
  /* the verifier sees the same contradiction */
  s = qc_graph_verify(G);
  ck_assert(s != QC_OK);
  ck_assert_msg(strstr(qc_status_message(s), "node 'mm' (MatMul): output 0") != NULL, "%s",
                qc_status_message(s));
  qc_status_free(s);
}
END_TEST

/* The one type formatter messages use: dims, symbols, unknowns, and a short buffer. */
START_TEST(type_format) {
  char b[64];
  qc_type t = parse_type(G, "f32[2,batch,?]");
  ck_assert_str_eq(qc_type_format(G, &t, b, sizeof b), "f32[2,batch,?]");
  t = qc_type_unknown();
  ck_assert_str_eq(qc_type_format(G, &t, b, sizeof b), "?[*]");
  t = parse_type(G, "i64[]");
  ck_assert_str_eq(qc_type_format(G, &t, b, sizeof b), "i64[]");
  t = parse_type(G, "f32[1,a_rather_long_symbol_name_that_does_not_fit_in_the_buffer,3]");
  ck_assert_str_eq(qc_type_format(G, &t, b, 16), "f32[1,a_rather_");
  ck_assert_str_eq(qc_type_format(G, &t, b, 1), "");
}
END_TEST

START_TEST(verify_reports_type_errors) {
  N1(MatMul, "mm", input("x", "f32[8,64]"), input("w", "f32[32,16]"));
  qc_status s = qc_graph_verify(G);
  ck_assert(s != QC_OK);
  ck_assert_str_eq(qc_status_message(s), "node 'mm' (MatMul): inner dimensions differ: 64 vs 32");
  qc_status_free(s);
}
END_TEST

/* A graph whose shapes need propagated values verifies after inference. */
START_TEST(verify_after_propagation) {
  qc_vid x = input("x", "f32[batch,16]");
  qc_nid sh = N1(Shape, "shape", x);
  qc_nid g0 = N1(Gather, "g0", out(sh, 0), ints("i0", 1, 0));
  qc_nid cc = N1(Concat, "cat", out(g0, 0), ints("t", 2, 4, 4));
  set_int(cc, "axis", 0);
  qc_nid r = N1(Reshape, "r", x, out(cc, 0));
  ok(qc_graph_add_output(G, out(r, 0)));
  infer();
  EXPECT(r, 0, "f32[batch,4,4]");
  ok(qc_graph_verify(G));
}
END_TEST


START_TEST(more_nn_rules) {
  qc_nid a = N1(AffineGrid, "ag", input("theta", "f32[n,2,3]"), ints("size", 4, 2, 3, 5, 6));
  qc_nid b = node(QC_OP_LinearAttention, "la",
                  IN(input("q", "f32[b,t,64]"), input("k", "f32[b,t,32]"), input("v", "f32[b,t,48]")), 2);
  set_int(b, "q_num_heads", 4);
  set_int(b, "kv_num_heads", 2);
  qc_nid c = node(QC_OP_CausalConvWithState, "cc", IN(input("x", "f16[b,c,l]"), input("w", "f16[c,1,4]")), 2);
  qc_nid d = N1(PV_FlexAttention, "fa", input("fq", "f32[b,8,s,64]"), input("fk", "f32[b,2,t,64]"),
                input("fv", "f32[b,2,t,32]"));
  qc_nid e = N1(DeformConv, "dc", input("dx", "f32[1,4,8,8]"), input("dw", "f32[6,4,3,3]"),
                input("off", "f32[1,18,6,6]"));
  qc_nid f = N1(MelWeightMatrix, "mel", scalar_i64("bins", 8), scalar_i64("dl", 16), scalar_i64("sr", 8000),
                input("lo", "f32[]"), input("hi", "f32[]"));
  qc_nid g = N1(ImageDecoder, "img", input("bytes", "u8[?]"));
  set_str(g, "pixel_format", "Grayscale");
  qc_nid h = N1(MaxRoiPool, "mrp", input("mx", "f32[1,3,16,16]"), input("rois", "f32[r,5]"));
  set_ints(h, "pooled_shape", 2, 2, 3);
  infer();
  EXPECT(a, 0, "f32[2,5,6,2]");
  EXPECT(b, 0, "f32[b,t,96]");
  EXPECT(b, 1, "f32[b,2,16,24]");
  EXPECT(c, 0, "f16[b,c,l]");
  EXPECT(c, 1, "f16[b,c,3]");
  EXPECT(d, 0, "f32[b,8,s,32]");
  EXPECT(e, 0, "f32[1,6,6,6]");
  EXPECT(f, 0, "f32[9,8]");
  EXPECT(g, 0, "u8[?,?,1]");
  EXPECT(h, 0, "f32[r,3,2,3]");
}
END_TEST

START_TEST(more_other_rules) {
  qc_vid s = input("s", "f32[]");
  qc_vid z = input("z", "u8[]");
  qc_nid a = N1(MS_QLinearSigmoid, "qs", input("x", "u8[n,4]"), s, z, s, z);
  qc_nid b = N1(MS_QLinearAveragePool, "qap", input("y", "u8[1,3,8,8]"), s, z, s, z);
  set_ints(b, "kernel_shape", 2, 2, 2);
  set_ints(b, "strides", 2, 2, 2);
  qc_nid c = N1(ML_CategoryMapper, "cm", input("cat", "string[n,2]"));
  qc_nid d = node(QC_OP_ML_LinearClassifier, "lc", IN(input("f", "f32[n,4]")), 2);
  ok(qc_node_set_ints(G, d, "classlabels_ints", 2, (int64_t[]){0, 1}));
  qc_nid e = N1(StringNormalizer, "sn", input("str", "string[1,5]"));
  qc_nid f = N1(StringConcat, "sc", input("sa", "string[2,1]"), input("sb", "string[3]"));
  qc_nid g = N1(RegexFullMatch, "re", input("sr", "string[4]"));
  qc_nid h = N1(ML_FeatureVectorizer, "fv", input("fa", "f32[n,2]"), input("fb", "f32[n,3]"));
  ok(qc_node_set_ints(G, h, "inputdimensions", 2, (int64_t[]){2, 3}));
  infer();
  EXPECT(a, 0, "u8[n,4]");
  EXPECT(b, 0, "u8[1,3,4,4]");
  EXPECT(c, 0, "i64[n,2]");
  EXPECT(d, 0, "i64[n]");
  EXPECT(d, 1, "f32[n,?]");
  EXPECT(e, 0, "string[1,5]");
  EXPECT(f, 0, "string[2,3]");
  EXPECT(g, 0, "bool[4]");
  EXPECT(h, 0, "f32[n,5]");
  N1(StringConcat, "bad", input("i", "i32[2]"), input("j", "string[2]"));
  expect_error("node 'bad' (StringConcat): input 0: expected string, got i32");
}
END_TEST


/* ---- shared shape helpers (also used by the kernels) -------------------------------------- */

START_TEST(shared_helpers) {
  int32_t r, a;
  int64_t d[QC_MAX_RANK];
  int64_t s1 = -1, s2 = -2; /* two symbols */
  ck_assert(qc_broadcast_dims(2, (int64_t[]){s1, 1}, 1, (int64_t[]){5}, &r, d));
  ck_assert(r == 2 && d[0] == s1 && d[1] == 5);
  ck_assert(qc_broadcast_dims(1, (int64_t[]){s1}, 1, (int64_t[]){s1}, &r, d) && d[0] == s1);
  ck_assert(qc_broadcast_dims(1, (int64_t[]){s1}, 1, (int64_t[]){s2}, &r, d) && d[0] == QC_DIM_UNKNOWN);
  ck_assert(qc_broadcast_dims(1, (int64_t[]){s1}, 1, (int64_t[]){7}, &r, d) && d[0] == 7);
  ck_assert(qc_broadcast_dims(1, (int64_t[]){0}, 1, (int64_t[]){1}, &r, d) && d[0] == 0);
  ck_assert(!qc_broadcast_dims(1, (int64_t[]){2}, 1, (int64_t[]){3}, &r, d));
  ck_assert(qc_norm_axis(-1, 3, &a) && a == 2);
  ck_assert(!qc_norm_axis(3, 3, &a));
  ck_assert(!qc_norm_axis(-4, 3, &a));
  ck_assert_int_eq(qc_window_out(32, 3, 2, 1, 1, 1, false), 16);
  ck_assert_int_eq(qc_window_out(5, 2, 2, 1, 0, 0, false), 2);
  ck_assert_int_eq(qc_window_out(5, 2, 2, 1, 0, 0, true), 3);
  /* ceil mode: a window that would start in the end padding is dropped */
  ck_assert_int_eq(qc_window_out(4, 2, 2, 1, 0, 1, true), 2);
  ck_assert_int_eq(qc_window_out(10, 3, 1, 2, 0, 0, false), 6);
  ck_assert_int_eq(qc_window_out(2, 3, 1, 1, 0, 0, false), -1);
  int64_t pads[4] = {9, 9, 9, 9};
  ck_assert(qc_auto_pad("SAME_UPPER", 2, (int64_t[]){5, 6}, (int64_t[]){3, 2}, (int64_t[]){2, 1},
                        NULL, pads));
  ck_assert(pads[0] == 1 && pads[2] == 1 && pads[1] == 0 && pads[3] == 1);
  ck_assert(qc_auto_pad("SAME_LOWER", 1, (int64_t[]){6}, (int64_t[]){2}, NULL, NULL, pads));
  ck_assert(pads[0] == 1 && pads[1] == 0);
  ck_assert(!qc_auto_pad("SAME", 1, (int64_t[]){6}, (int64_t[]){2}, NULL, NULL, pads));
}
END_TEST

/* ---- suite -------------------------------------------------------------------------------------- */

int main(void) {
  Suite *s = suite_create("infer");
  struct {
    const char *name;
    const TTest *tests[40];
  } groups[] = {
      {"elementwise",
       {unary_float_rule, same_rule_keeps_ints, arith_broadcast, arith_errors, arith_dtype_errors,
        arith_bool_error, pow_mixed_dtypes, compare_and_logical, bitwise_rules, mod_fmod,
        where_rule, variadic_max, NULL}},
      {"casts_constants",
       {cast_rules, bitcast_rule, clip_dropout, dropout_old_mask, constant_rule,
        constant_of_shape_rule, range_rule, eyelike_random_window, float_predicates, NULL}},
      {"shapes",
       {shape_and_size, propagation_reshape_heads, propagation_gather_arith, reshape_rule,
        reshape_errors, reshape_error_minus_ones, reshape_error_indivisible, flatten_rule,
        concat_rule, concat_errors, concat_rank_error, split_rule, split_old_attr, split_errors,
        squeeze_unsqueeze, squeeze_old_attr, squeeze_errors, unsqueeze_errors, transpose_rule,
        attribute_too_long, slice_rule, slice_old_attrs, slice_errors, slice_length_error, gather_rules, gather_errors, gather_index_type,
        scatter_rules, expand_tile_pad, pad_old_attr, pad_errors, depth_space, data_dependent,
        onehot_topk_trilu, topk_old_attr, misc_tensor_ops, NULL}},
      {"nn",
       {matmul_rule, matmul_errors, gemm_rule, gemm_bias_error, conv_rule, conv_rank_error,
        conv_channel_error, conv_transpose_rule, pool_rules, norm_rules, norm_errors,
        group_norm_error, softmax_axis_error, resize_rules, upsample_old, rnn_rules,
        attention_rules, einsum_rule, image_and_signal, losses, more_nn_rules, NULL}},
      {"reduce_quant",
       {reduce_rules, reduce_old_attr, reduce_errors, quant_rules, quant_axis_error, quant_zp_error,
        integer_ops, com_microsoft_ops, NULL}},
      {"control",
       {if_rule, if_errors, loop_rule, loop_trip_count, loop_carried_grows, scan_rule, sequence_map_rule,
        sequence_rules, optional_rules, NULL}},
      {"other",
       {ml_rules, training_and_strings, more_other_rules, shared_helpers, declared_types_refined, declared_types_contradicted,
        type_format, verify_reports_type_errors, verify_after_propagation, NULL}},
  };
  for (size_t g = 0; g < sizeof groups / sizeof *groups; g++) {
    TCase *tc = tcase_create(groups[g].name);
    tcase_add_checked_fixture(tc, setup, teardown);
    for (int i = 0; groups[g].tests[i]; i++) tcase_add_test(tc, groups[g].tests[i]);
    suite_add_tcase(s, tc);
  }
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
