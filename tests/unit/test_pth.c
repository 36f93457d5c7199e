/* .pth: the zip container (stored entries, zip64, alignment, compressed and legacy files),
 * the restricted unpickler (every allowed construct, and refusals that name the file, the
 * opcode or global, and its offset), state-dict flattening, strided tensors, and the
 * writer's round trip. Archives and pickles are built by hand here, byte by byte, as
 * torch.save lays them out. */
#include "quarc/pth.h"

#include "ir/bytes.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[64];

static const char *tmp_path(const char *name) {
  static char buf[256];
  if (!tmpdir[0]) {
    strcpy(tmpdir, "/tmp/qc_pth_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
  }
  snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
  return buf;
}

/* ---- bytes ------------------------------------------------------------------------------------ */

typedef struct buf {
  uint8_t *p;
  size_t n, cap;
} buf;

static void put(buf *b, const void *s, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  if (n) memcpy(b->p + b->n, s, n);
  b->n += n;
}
static void put1(buf *b, uint8_t v) { put(b, &v, 1); }
static void put2(buf *b, uint16_t v) {
  put1(b, (uint8_t)v);
  put1(b, (uint8_t)(v >> 8));
}
static void put4(buf *b, uint32_t v) {
  for (int i = 0; i < 4; i++) put1(b, (uint8_t)(v >> (8 * i)));
}

/* ---- a pickle builder: the opcodes torch.save emits -------------------------------------------- */

static void pk_str(buf *b, const char *s) {
  put1(b, 'X');
  put4(b, (uint32_t)strlen(s));
  put(b, s, strlen(s));
}
static void pk_global(buf *b, const char *mod, const char *name) {
  put1(b, 'c');
  put(b, mod, strlen(mod));
  put1(b, '\n');
  put(b, name, strlen(name));
  put1(b, '\n');
}
static void pk_int(buf *b, int64_t v) {
  if (v >= 0 && v < 256) {
    put1(b, 'K');
    put1(b, (uint8_t)v);
  } else {
    put1(b, 0x8a);
    put1(b, 8);
    for (int i = 0; i < 8; i++) put1(b, (uint8_t)((uint64_t)v >> (8 * i)));
  }
}
static void pk_tuple(buf *b, const int64_t *v, int n) {
  put1(b, '(');
  for (int i = 0; i < n; i++) pk_int(b, v[i]);
  put1(b, 't');
}
/* _rebuild_tensor_v2(storage(cls, key, numel), offset, size, stride, False, OrderedDict()) */
static void pk_tensor_r(buf *b, const char *cls, const char *key, int64_t numel, int64_t off, const int64_t *size,
                        const int64_t *stride, int rank, int srank) {
  pk_global(b, "torch._utils", "_rebuild_tensor_v2");
  put1(b, '(');
  put1(b, '(');
  pk_str(b, "storage");
  pk_global(b, "torch", cls);
  pk_str(b, key);
  pk_str(b, "cpu");
  pk_int(b, numel);
  put1(b, 't');
  put1(b, 'Q');
  pk_int(b, off);
  pk_tuple(b, size, rank);
  pk_tuple(b, stride, srank);
  put1(b, 0x89);
  pk_global(b, "collections", "OrderedDict");
  put1(b, ')');
  put1(b, 'R');
  put1(b, 't');
  put1(b, 'R');
}

static void pk_tensor(buf *b, const char *cls, const char *key, int64_t numel, int64_t off, const int64_t *size,
                      const int64_t *stride, int rank) {
  pk_tensor_r(b, cls, key, numel, off, size, stride, rank, rank);
}

/* ---- a zip builder ------------------------------------------------------------------------------ */

typedef struct zentry {
  const char *name;
  const void *data;
  size_t size;
  uint16_t method;
} zentry;

static void write_zip(const char *path, const zentry *e, int n) {
  buf z = {0}, cd = {0};
  for (int i = 0; i < n; i++) {
    uint32_t off = (uint32_t)z.n, crc = qc_crc32(0, e[i].data, e[i].size);
    size_t nl = strlen(e[i].name);
    size_t pad = (64 - (off + 30 + nl) % 64) % 64; /* align the data to 64 bytes, as torch.save */
    if (pad && pad < 4) pad += 64;
    put4(&z, 0x04034b50);
    put2(&z, 20);
    put2(&z, 0);
    put2(&z, e[i].method);
    put2(&z, 0);
    put2(&z, 0x21);
    put4(&z, crc);
    put4(&z, (uint32_t)e[i].size);
    put4(&z, (uint32_t)e[i].size);
    put2(&z, (uint16_t)nl);
    put2(&z, (uint16_t)pad);
    put(&z, e[i].name, nl);
    if (pad) {
      put2(&z, 0x4246);
      put2(&z, (uint16_t)(pad - 4));
      for (size_t k = 4; k < pad; k++) put1(&z, 'Z');
    }
    put(&z, e[i].data, e[i].size);
    put4(&cd, 0x02014b50);
    put2(&cd, 20);
    put2(&cd, 20);
    put2(&cd, 0);
    put2(&cd, e[i].method);
    put2(&cd, 0);
    put2(&cd, 0x21);
    put4(&cd, crc);
    put4(&cd, (uint32_t)e[i].size);
    put4(&cd, (uint32_t)e[i].size);
    put2(&cd, (uint16_t)nl);
    put4(&cd, 0);
    put4(&cd, 0);
    put4(&cd, 0);
    put4(&cd, off);
    put(&cd, e[i].name, nl);
  }
  uint32_t cd_off = (uint32_t)z.n;
  put(&z, cd.p, cd.n);
  put4(&z, 0x06054b50);
  put2(&z, 0);
  put2(&z, 0);
  put2(&z, (uint16_t)n);
  put2(&z, (uint16_t)n);
  put4(&z, (uint32_t)cd.n);
  put4(&z, cd_off);
  put2(&z, 0);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(z.p, 1, z.n, f), z.n);
  fclose(f);
  free(z.p);
  free(cd.p);
}

/* An archive "arch/" holding data.pkl = `pkl` and storages data/0 (`s0`) and data/1 (`s1`). */
static qc_status open_pickle(const char *name, buf *pkl, const void *s0, size_t n0, const void *s1, size_t n1,
                             qc_pth **p) {
  const char *path = tmp_path(name);
  zentry e[4] = {{"arch/data.pkl", pkl->p, pkl->n, 0}, {"arch/data/0", s0, n0, 0}, {"arch/data/1", s1, n1, 0},
                 {"arch/version", "3\n", 2, 0}};
  write_zip(path, e, 4);
  free(pkl->p);
  memset(pkl, 0, sizeof *pkl);
  return qc_pth_open(path, p);
}

static void expect_error(qc_status s, qc_code code, const char *a, const char *b, const char *c) {
  ck_assert_msg(s != QC_OK, "expected an error containing '%s'", b ? b : a);
  const char *m = qc_status_message(s);
  const char *f[3] = {a, b, c};
  for (int i = 0; i < 3; i++)
    if (f[i]) ck_assert_msg(strstr(m, f[i]), "message '%s' lacks '%s'", m, f[i]);
  ck_assert_msg(qc_status_code(s) == code, "message '%s': code %d, expected %d", m, qc_status_code(s), code);
  qc_status_free(s);
}

static const float F6[6] = {0, 1, 2, 3, 4, 5};

/* ---- accepted constructs ------------------------------------------------------------------------- */

START_TEST(state_dict_as_torch_saves_it) {
  /* OrderedDict with _metadata (BUILD), a Parameter, a strided tensor, a storage offset,
   * a shared storage, nested dicts, an int key, memoized globals, non-tensor values. */
  buf b = {0};
  put1(&b, 0x80);
  put1(&b, 2);
  pk_global(&b, "collections", "OrderedDict");
  put1(&b, 'q');
  put1(&b, 0);
  put1(&b, ')');
  put1(&b, 'R');
  put1(&b, '(');
  pk_str(&b, "w"); /* [2,3] contiguous over storage 0 */
  pk_tensor(&b, "FloatStorage", "0", 6, 0, (int64_t[]){2, 3}, (int64_t[]){3, 1}, 2);
  pk_str(&b, "wt"); /* its transpose: [3,2] with strides (1,3), shares storage 0 */
  pk_tensor(&b, "FloatStorage", "0", 6, 0, (int64_t[]){3, 2}, (int64_t[]){1, 3}, 2);
  pk_str(&b, "tail"); /* offset 4: elements 4, 5 */
  pk_tensor(&b, "FloatStorage", "0", 6, 4, (int64_t[]){2}, (int64_t[]){1}, 1);
  pk_str(&b, "p"); /* a Parameter over storage 1 (int64) */
  pk_global(&b, "torch._utils", "_rebuild_parameter");
  put1(&b, '(');
  pk_tensor(&b, "LongStorage", "1", 2, 0, (int64_t[]){2}, (int64_t[]){1}, 1);
  put1(&b, 0x88);
  put1(&b, 'h'); /* BINGET 0: OrderedDict */
  put1(&b, 0);
  put1(&b, ')');
  put1(&b, 'R');
  put1(&b, 't');
  put1(&b, 'R');
  pk_str(&b, "sub"); /* {"a": {"7": tensor}, "n": 3, "s": "x", "z": None} */
  put1(&b, '}');
  put1(&b, '(');
  pk_str(&b, "a");
  put1(&b, '}');
  pk_int(&b, 7);
  pk_tensor(&b, "FloatStorage", "0", 6, 5, (int64_t[]){0}, NULL, 0); /* rank 0 scalar: element 5 */
  put1(&b, 's');
  pk_str(&b, "n");
  pk_int(&b, 3);
  pk_str(&b, "s");
  pk_str(&b, "x");
  pk_str(&b, "z");
  put1(&b, 'N');
  put1(&b, 'u');
  put1(&b, 'u');
  put1(&b, '}'); /* BUILD state: {"_metadata": {"": {"version": 1}}} */
  pk_str(&b, "_metadata");
  put1(&b, '}');
  pk_str(&b, "");
  put1(&b, '}');
  pk_str(&b, "version");
  pk_int(&b, 1);
  put1(&b, 's');
  put1(&b, 's');
  put1(&b, 's');
  put1(&b, 'b');
  put1(&b, '.');
  int64_t longs[2] = {-3, 1ll << 40};
  qc_pth *p;
  ck_assert_ptr_null(open_pickle("state.pth", &b, F6, sizeof F6, longs, sizeof longs, &p));
  ck_assert_int_eq(qc_pth_count(p), 5);
  ck_assert_str_eq(qc_pth_name(p, 0), "w");
  ck_assert_str_eq(qc_pth_name(p, 4), "sub.a.7");
  qc_tensor t;
  ck_assert_ptr_null(qc_pth_get(p, "w", &t));
  ck_assert_int_eq(t.dtype, QC_F32);
  ck_assert(((float *)qc_tensor_data(&t))[5] == 5.0f);
  const char *origin;
  uint64_t off;
  ck_assert(qc_buffer_origin(t.buf, &origin, &off)); /* a view of the file */
  ck_assert(!qc_pth_is_copy(p, 0));
  qc_tensor_release(&t);
  ck_assert_ptr_null(qc_pth_get(p, "wt", &t));
  ck_assert(qc_pth_is_copy(p, qc_pth_find(p, "wt")));
  ck_assert_int_eq(t.dims[0], 3);
  static const float wt[6] = {0, 3, 1, 4, 2, 5};
  ck_assert(memcmp(qc_tensor_data(&t), wt, sizeof wt) == 0);
  qc_tensor_release(&t);
  ck_assert_ptr_null(qc_pth_get(p, "tail", &t));
  ck_assert(((float *)qc_tensor_data(&t))[0] == 4.0f && ((float *)qc_tensor_data(&t))[1] == 5.0f);
  qc_tensor_release(&t);
  ck_assert_ptr_null(qc_pth_get(p, "p", &t));
  ck_assert_int_eq(t.dtype, QC_I64);
  ck_assert(((int64_t *)qc_tensor_data(&t))[1] == (1ll << 40));
  qc_tensor_release(&t);
  ck_assert_ptr_null(qc_pth_get(p, "sub.a.7", &t));
  ck_assert_int_eq(t.rank, 0);
  ck_assert(*(float *)qc_tensor_data(&t) == 5.0f);
  qc_pth_close(p); /* the tensor outlives the reader */
  ck_assert(*(float *)qc_tensor_data(&t) == 5.0f);
  qc_tensor_release(&t);
}
END_TEST

START_TEST(rebuild_v3_and_protocol_4_opcodes) {
  /* float8 through _rebuild_tensor_v3 over an UntypedStorage, written with protocol-4
   * opcodes (FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE) as pickle_protocol=4 would. */
  buf b = {0};
  put1(&b, 0x80);
  put1(&b, 4);
  put1(&b, 0x95);
  for (int i = 0; i < 8; i++) put1(&b, 0);
  put1(&b, '}');
  put1(&b, 0x94);
  put1(&b, 0x8c);
  put1(&b, 2);
  put(&b, "f8", 2);
  put1(&b, 0x8c);
  put1(&b, 12);
  put(&b, "torch._utils", 12);
  put1(&b, 0x8c);
  put1(&b, 18);
  put(&b, "_rebuild_tensor_v3", 18);
  put1(&b, 0x93);
  put1(&b, '(');
  put1(&b, '(');
  pk_str(&b, "storage");
  pk_global(&b, "torch.storage", "UntypedStorage");
  pk_str(&b, "0");
  pk_str(&b, "cuda:0");
  pk_int(&b, 4);
  put1(&b, 't');
  put1(&b, 'Q');
  pk_int(&b, 1);
  pk_tuple(&b, (int64_t[]){3}, 1);
  pk_tuple(&b, (int64_t[]){1}, 1);
  put1(&b, 0x89);
  put1(&b, '}');
  pk_global(&b, "torch", "float8_e4m3fn");
  put1(&b, 't');
  put1(&b, 'R');
  put1(&b, 's');
  put1(&b, '.');
  uint8_t bytes4[4] = {0x00, 0x38, 0x40, 0x7e};
  qc_pth *p;
  ck_assert_ptr_null(open_pickle("v3.pth", &b, bytes4, 4, "", 0, &p));
  qc_tensor t;
  ck_assert_ptr_null(qc_pth_get(p, "f8", &t));
  ck_assert_int_eq(t.dtype, QC_F8E4M3FN);
  ck_assert_int_eq(t.dims[0], 3);
  ck_assert(qc_elem_f64(QC_F8E4M3FN, qc_tensor_data(&t), 2) == 448.0);
  qc_tensor_release(&t);
  qc_pth_close(p);
}
END_TEST

/* ---- refusals ------------------------------------------------------------------------------------ */

/* A pickle "{ 'k': <body> }" where body is raw opcodes. */
static qc_status open_body(const char *name, const void *body, size_t n, qc_pth **p) {
  buf b = {0};
  put1(&b, 0x80);
  put1(&b, 2);
  put1(&b, '}');
  pk_str(&b, "k");
  put(&b, body, n);
  put1(&b, 's');
  put1(&b, '.');
  return open_pickle(name, &b, F6, sizeof F6, "", 0, p);
}

static const char BYTES_SYSTEM[] = "cos\nsystem\n";

START_TEST(refuses_code_and_unknown_opcodes) {
  qc_pth *p;
  /* offsets: PROTO 2 bytes, '}' 1, 'X' k 6 -> the body starts at offset 9 */
  expect_error(open_body("os_system.pth", BYTES_SYSTEM, sizeof BYTES_SYSTEM - 1, &p), QC_CODE_PARSE, "os_system.pth",
               "arch/data.pkl: opcode 0x63 ('c') at offset 9", "global 'os.system' is not allowed");
  expect_error(open_body("builtins.pth", "cbuiltins\neval\n", 15, &p), QC_CODE_PARSE, "offset 9",
               "global 'builtins.eval'", NULL);
  expect_error(open_body("inst.pth", "(ios\nsystem\n", 12, &p), QC_CODE_PARSE, "opcode 0x69 ('i') at offset 10",
               "not allowed", NULL);
  expect_error(open_body("obj.pth", "(o", 2, &p), QC_CODE_PARSE, "opcode 0x6f ('o') at offset 10", NULL, NULL);
  expect_error(open_body("ext1.pth", "\x82\x01", 2, &p), QC_CODE_PARSE, "opcode 0x82 at offset 9", NULL, NULL);
  expect_error(open_body("persid.pth", "P0\n", 3, &p), QC_CODE_PARSE, "opcode 0x50 ('P')", NULL, NULL);
  expect_error(open_body("stack_global.pth", "X\2\0\0\0osX\6\0\0\0system\x93", 19, &p), QC_CODE_PARSE,
               "opcode 0x93 at offset 27", "global 'os.system'", NULL);
  /* an allowed global may not be called unless it is a rebuild function */
  expect_error(open_body("untyped_module.pth", "ctorch\nUntypedStorage\n", 22, &p), QC_CODE_PARSE,
               "global 'torch.UntypedStorage' is not allowed", NULL, NULL); /* torch.save names torch.storage */
  expect_error(open_body("call_storage.pth", "ctorch\nFloatStorage\n)R", 22, &p), QC_CODE_PARSE,
               "opcode 0x52 ('R') at offset 30", "calling 'torch.FloatStorage' is not allowed", NULL);
  expect_error(open_body("call_dict.pth", "ccollections\nOrderedDict\n(K\1tR", 30, &p), QC_CODE_PARSE,
               "OrderedDict takes no arguments", NULL, NULL);
  expect_error(open_body("build_list.pth", "]}b", 3, &p), QC_CODE_PARSE, "opcode 0x62 ('b')", "BUILD on a list", NULL);
  expect_error(open_body("memo.pth", "h\5", 2, &p), QC_CODE_PARSE, "opcode 0x68 ('h') at offset 9",
               "memo entry 5 is not set", NULL);
  expect_error(open_body("underflow.pth", "t", 1, &p), QC_CODE_PARSE, "no MARK", NULL, NULL);
  expect_error(open_body("long9.pth", "\x8a\x09\0\0\0\0\0\0\0\0\0", 11, &p), QC_CODE_PARSE, "does not fit 64 bits",
               NULL, NULL);
  expect_error(open_body("bad_utf8.pth", "X\1\0\0\0\xff", 6, &p), QC_CODE_PARSE, "not valid UTF-8", NULL, NULL);
  /* {k: None} is fine (non-tensor values are skipped); a float key is not */
  ck_assert_ptr_null(open_body("none.pth", "N", 1, &p));
  ck_assert_int_eq(qc_pth_count(p), 0);
  qc_pth_close(p);
  expect_error(open_body("float_key.pth", "}G\x3f\xf0\0\0\0\0\0\0K\1s", 13, &p), QC_CODE_PARSE,
               "opcode 0x73 ('s') at offset 21", "dict key of type float", NULL);
}
END_TEST

START_TEST(refuses_bad_tensors_and_storages) {
  qc_pth *p;
  buf b = {0};
#define BODY(name, ...)                                                                                            \
  do {                                                                                                             \
    put1(&b, 0x80);                                                                                                \
    put1(&b, 2);                                                                                                   \
    put1(&b, '}');                                                                                                 \
    pk_str(&b, "t");                                                                                               \
    __VA_ARGS__;                                                                                                   \
    put1(&b, 's');                                                                                                 \
    put1(&b, '.');                                                                                                 \
  } while (0)
  BODY(x, pk_tensor(&b, "FloatStorage", "9", 6, 0, (int64_t[]){6}, (int64_t[]){1}, 1));
  expect_error(open_pickle("nokey.pth", &b, F6, sizeof F6, "", 0, &p), QC_CODE_PARSE, "storage '9'",
               "no entry 'arch/data/9'", NULL);
  BODY(x, pk_tensor(&b, "FloatStorage", "0", 7, 0, (int64_t[]){6}, (int64_t[]){1}, 1));
  expect_error(open_pickle("numel.pth", &b, F6, sizeof F6, "", 0, &p), QC_CODE_PARSE, "storage '0'",
               "7 elements of 4 bytes, but 'arch/data/0' holds 24 bytes", NULL);
  BODY(x, pk_tensor(&b, "FloatStorage", "0", 6, 1, (int64_t[]){6}, (int64_t[]){1}, 1));
  expect_error(open_pickle("extent.pth", &b, F6, sizeof F6, "", 0, &p), QC_CODE_PARSE, "_rebuild_tensor_v2",
               "past the storage", NULL);
  BODY(x, pk_tensor_r(&b, "FloatStorage", "0", 6, 0, (int64_t[]){2, 3}, (int64_t[]){3}, 2, 1));
  expect_error(open_pickle("rankmix.pth", &b, F6, sizeof F6, "", 0, &p), QC_CODE_PARSE, "differ in length", NULL,
               NULL);
  BODY(x, pk_tensor(&b, "FloatStorage", "0", 6, 0, (int64_t[]){1ll << 40, 1ll << 40, 0}, (int64_t[]){0, 0, 1}, 3));
  expect_error(open_pickle("zero_overflow.pth", &b, F6, sizeof F6, "", 0, &p), QC_CODE_PARSE,
               "element count overflows", NULL, NULL);
  BODY(x, pk_tensor(&b, "QInt8Storage", "0", 6, 0, (int64_t[]){6}, (int64_t[]){1}, 1));
  expect_error(open_pickle("qint.pth", &b, F6, sizeof F6, "", 0, &p), QC_CODE_PARSE, "global 'torch.QInt8Storage'",
               NULL, NULL);
  BODY(x, pk_tensor(&b, "FloatStorage", "0", 1, 0, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1},
                    (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, 9));
  expect_error(open_pickle("rank9.pth", &b, F6, 4, "", 0, &p), QC_CODE_UNIMPLEMENTED, "rank 9", NULL, NULL);
  /* duplicate flattened names: {"a.b": t, "a": {"b": t}} */
  put1(&b, 0x80);
  put1(&b, 2);
  put1(&b, '}');
  put1(&b, '(');
  pk_str(&b, "a.b");
  pk_tensor(&b, "FloatStorage", "0", 6, 0, (int64_t[]){6}, (int64_t[]){1}, 1);
  pk_str(&b, "a");
  put1(&b, '}');
  pk_str(&b, "b");
  pk_tensor(&b, "FloatStorage", "0", 6, 0, (int64_t[]){6}, (int64_t[]){1}, 1);
  put1(&b, 's');
  put1(&b, 'u');
  put1(&b, '.');
  expect_error(open_pickle("dupname.pth", &b, F6, sizeof F6, "", 0, &p), QC_CODE_PARSE, "dupname.pth",
               "two tensors are called 'a.b'", NULL);
  /* the top level must be a dict */
  put1(&b, 0x80);
  put1(&b, 2);
  put1(&b, ']');
  put1(&b, '.');
  expect_error(open_pickle("list.pth", &b, F6, sizeof F6, "", 0, &p), QC_CODE_PARSE, "holds a list, not a state dict",
               NULL, NULL);
  put1(&b, 0x80);
  put1(&b, 2);
  put1(&b, '}');
  expect_error(open_pickle("nostop.pth", &b, F6, sizeof F6, "", 0, &p), QC_CODE_PARSE, "no STOP", NULL, NULL);
#undef BODY
}
END_TEST

START_TEST(container_errors) {
  qc_pth *p;
  const char *path = tmp_path("legacy.pth");
  FILE *f = fopen(path, "wb");
  fwrite("\x80\x02\x8a\x0a", 1, 4, f);
  fclose(f);
  expect_error(qc_pth_open(path, &p), QC_CODE_UNIMPLEMENTED, "legacy.pth", "legacy torch.save", NULL);
  path = tmp_path("notzip.pth");
  f = fopen(path, "wb");
  fwrite("this is not a zip file at all, no", 1, 33, f);
  fclose(f);
  expect_error(qc_pth_open(path, &p), QC_CODE_PARSE, "notzip.pth", "not a zip archive", NULL);
  buf b = {0};
  put1(&b, 0x80);
  put1(&b, 2);
  put1(&b, '}');
  put1(&b, '.');
  zentry comp[2] = {{"a/data.pkl", b.p, b.n, 8}, {"a/version", "3\n", 2, 0}};
  path = tmp_path("deflated.pth");
  write_zip(path, comp, 2);
  expect_error(qc_pth_open(path, &p), QC_CODE_UNIMPLEMENTED, "zip entry 'a/data.pkl' is compressed",
               "method 8, deflate", NULL);
  zentry nopkl[1] = {{"a/version", "3\n", 2, 0}};
  path = tmp_path("nopkl.pth");
  write_zip(path, nopkl, 1);
  expect_error(qc_pth_open(path, &p), QC_CODE_PARSE, "no <archive>/data.pkl", NULL, NULL);
  zentry big[2] = {{"a/data.pkl", b.p, b.n, 0}, {"a/byteorder", "big", 3, 0}};
  path = tmp_path("big.pth");
  write_zip(path, big, 2);
  expect_error(qc_pth_open(path, &p), QC_CODE_UNIMPLEMENTED, "big-endian", NULL, NULL);
  zentry two[2] = {{"a/data.pkl", b.p, b.n, 0}, {"b/data.pkl", b.p, b.n, 0}};
  path = tmp_path("two.pth");
  write_zip(path, two, 2);
  expect_error(qc_pth_open(path, &p), QC_CODE_PARSE, "two pickles", NULL, NULL);
  zentry dup[2] = {{"a/data.pkl", b.p, b.n, 0}, {"a/data.pkl", b.p, b.n, 0}};
  path = tmp_path("dup.pth");
  write_zip(path, dup, 2);
  expect_error(qc_pth_open(path, &p), QC_CODE_PARSE, "duplicate entry", NULL, NULL);
  /* a truncated archive: the end record is gone */
  zentry ok[2] = {{"a/data.pkl", b.p, b.n, 0}, {"a/extra", "hello", 5, 0}};
  path = tmp_path("ok.pth");
  write_zip(path, ok, 2);
  ck_assert_ptr_null(qc_pth_open(path, &p));
  ck_assert_int_eq(qc_pth_count(p), 0);
  ck_assert_ptr_null(qc_pth_verify(p));
  qc_pth_close(p);
  size_t n;
  f = fopen(path, "rb");
  fseek(f, 0, SEEK_END);
  n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *all = malloc(n);
  ck_assert_uint_eq(fread(all, 1, n, f), n);
  fclose(f);
  path = tmp_path("cut.pth");
  f = fopen(path, "wb");
  fwrite(all, 1, n - 5, f);
  fclose(f);
  expect_error(qc_pth_open(path, &p), QC_CODE_PARSE, "cut.pth", "no end of central directory", NULL);
  /* a corrupted byte of an entry opens (storages are not read at open) but fails verify */
  uint8_t *hello = memmem(all, n, "hello", 5);
  ck_assert_ptr_nonnull(hello);
  hello[1] ^= 0x20;
  path = tmp_path("crc.pth");
  f = fopen(path, "wb");
  fwrite(all, 1, n, f);
  fclose(f);
  ck_assert_ptr_null(qc_pth_open(path, &p));
  expect_error(qc_pth_verify(p), QC_CODE_PARSE, "crc.pth: zip entry 'a/extra'", "CRC-32", NULL);
  qc_pth_close(p);
  free(all);
  free(b.p);
}
END_TEST

/* ---- the writer ---------------------------------------------------------------------------------- */

START_TEST(writer_roundtrip) {
  static const qc_dtype dts[] = {QC_F32, QC_F64, QC_F16, QC_BF16, QC_I64, QC_I32, QC_I16, QC_I8, QC_U8, QC_BOOL,
                                 QC_C64, QC_C128, QC_F8E4M3FN, QC_F8E5M2, QC_F8E4M3FNUZ, QC_F8E5M2FNUZ, QC_E8M0,
                                 QC_U16, QC_U32, QC_U64};
  enum { N = sizeof dts / sizeof *dts };
  qc_tensor ts[N + 1];
  char nb[N + 1][32];
  const char *names[N + 1];
  for (int i = 0; i < N; i++) {
    ck_assert_ptr_null(qc_tensor_alloc(&ts[i], NULL, dts[i], 2, (int64_t[]){3, 5}));
    uint8_t *d = qc_tensor_data(&ts[i]);
    for (size_t k = 0; k < qc_tensor_nbytes(&ts[i]); k++) d[k] = (uint8_t)(k * 13 + i);
    if (dts[i] == QC_BOOL)
      for (size_t k = 0; k < qc_tensor_nbytes(&ts[i]); k++) d[k] &= 1;
    snprintf(nb[i], sizeof nb[i], "layer.%d.%s", i, qc_dtype_name(dts[i]));
    names[i] = nb[i];
  }
  ck_assert_ptr_null(qc_tensor_alloc(&ts[N], NULL, QC_F32, 2, (int64_t[]){0, 4}));
  names[N] = "empty";
  for (int z64 = 0; z64 < 2; z64++) {
    const char *path = tmp_path(z64 ? "rt64.pth" : "rt.pth");
    qc_pth_write_options opt = {z64 ? "my_model" : NULL, z64 == 1};
    ck_assert_ptr_null(qc_pth_write_opts(path, names, ts, N + 1, &opt));
    qc_pth *p;
    ck_assert_ptr_null(qc_pth_open(path, &p));
    ck_assert_ptr_null(qc_pth_verify(p));
    ck_assert_int_eq(qc_pth_count(p), N + 1);
    for (int i = 0; i <= N; i++) {
      ck_assert_str_eq(qc_pth_name(p, i), names[i]);
      qc_tensor t;
      ck_assert_ptr_null(qc_pth_tensor(p, i, &t));
      ck_assert_msg(qc_tensor_equal(&t, &ts[i]), "%s differs", names[i]);
      if (i < N) {
        ck_assert_msg(!qc_pth_is_copy(p, i), "%s was copied: storages must be 64-byte aligned", names[i]);
        const char *origin;
        uint64_t off;
        ck_assert(qc_buffer_origin(t.buf, &origin, &off));
        ck_assert_uint_eq((off + t.offset) % 64, 0);
      }
      qc_tensor_release(&t);
    }
    qc_pth_close(p);
  }
  /* fp4: torch.float4_e2m1fn_x2 halves the last dimension; quarc doubles it back */
  qc_tensor f4;
  ck_assert_ptr_null(qc_tensor_alloc(&f4, NULL, QC_F4E2M1, 2, (int64_t[]){3, 4}));
  for (int k = 0; k < 6; k++) ((uint8_t *)qc_tensor_data(&f4))[k] = (uint8_t)(0x21 * k + 3);
  const char *nf4[] = {"fp4"};
  ck_assert_ptr_null(qc_pth_write(tmp_path("fp4.pth"), nf4, &f4, 1));
  qc_pth *pf;
  ck_assert_ptr_null(qc_pth_open(tmp_path("fp4.pth"), &pf));
  qc_tensor back;
  ck_assert_ptr_null(qc_pth_get(pf, "fp4", &back));
  ck_assert(qc_tensor_equal(&back, &f4));
  qc_tensor_release(&back);
  qc_pth_close(pf);
  qc_tensor_release(&f4);
  ck_assert_ptr_null(qc_tensor_alloc(&f4, NULL, QC_F4E2M1, 1, (int64_t[]){6}));
  f4.dims[0] = 5;
  expect_error(qc_pth_write(tmp_path("bad.pth"), nf4, &f4, 1), QC_CODE_INVALID_ARGUMENT, "tensor 'fp4'",
               "even last dimension", NULL);
  f4.dims[0] = 6;
  qc_tensor_release(&f4);
  /* refusals */
  qc_tensor i4;
  ck_assert_ptr_null(qc_tensor_alloc(&i4, NULL, QC_I4, 1, (int64_t[]){2}));
  const char *n1[] = {"i4"};
  expect_error(qc_pth_write(tmp_path("bad.pth"), n1, &i4, 1), QC_CODE_UNIMPLEMENTED, "tensor 'i4'",
               "no PyTorch equivalent", NULL);
  const char *dup[] = {"x", "x"};
  expect_error(qc_pth_write(tmp_path("bad.pth"), dup, ts, 2), QC_CODE_INVALID_ARGUMENT, "tensor 'x'", "duplicate",
               NULL);
  qc_tensor_release(&i4);
  for (int i = 0; i <= N; i++) qc_tensor_release(&ts[i]);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pth");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, state_dict_as_torch_saves_it);
  tcase_add_test(tc, rebuild_v3_and_protocol_4_opcodes);
  tcase_add_test(tc, refuses_code_and_unknown_opcodes);
  tcase_add_test(tc, refuses_bad_tensors_and_storages);
  tcase_add_test(tc, container_errors);
  tcase_add_test(tc, writer_roundtrip);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  if (tmpdir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) return 1;
  }
  return failed ? 1 : 0;
}
