/* GGUF: every check of ggml's reader (formats.md §4.1) on hand-built malformed files, each
 * error naming the file and the key or tensor; typed getters; tensors as row-major views;
 * the writer's layout (alignment, padding, offsets) and its checks; round trips; and the
 * block types gguf-py cannot dequantize (Q8_1, Q8_K), checked against their C layout. */
#include "quarc/gguf.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[64];

static const char *tmp_path(const char *name) {
  static char buf[256];
  if (!tmpdir[0]) {
    strcpy(tmpdir, "/tmp/qc_gguf_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
  }
  snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
  return buf;
}

/* ---- a GGUF builder ------------------------------------------------------------------------ */

typedef struct gb {
  uint8_t *p;
  size_t n, cap;
} gb;

static void gb_put(gb *b, const void *s, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
}
static void gb_u8(gb *b, uint8_t v) { gb_put(b, &v, 1); }
static void gb_u32(gb *b, uint32_t v) {
  for (int i = 0; i < 4; i++) gb_u8(b, (uint8_t)(v >> (8 * i)));
}
static void gb_u64(gb *b, uint64_t v) {
  for (int i = 0; i < 8; i++) gb_u8(b, (uint8_t)(v >> (8 * i)));
}
static void gb_str(gb *b, const char *s) {
  gb_u64(b, strlen(s));
  gb_put(b, s, strlen(s));
}
static void gb_pad(gb *b, size_t align) {
  while (b->n % align) gb_u8(b, 0);
}
static void gb_header(gb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
  gb_put(b, "GGUF", 4);
  gb_u32(b, version);
  gb_u64(b, n_tensors);
  gb_u64(b, n_kv);
}
static void gb_kv_u32(gb *b, const char *key, uint32_t v) {
  gb_str(b, key);
  gb_u32(b, 4);
  gb_u32(b, v);
}
/* tensor info with n_dims ne values */
static void gb_tensor(gb *b, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type, uint64_t off) {
  gb_str(b, name);
  gb_u32(b, n_dims);
  for (uint32_t i = 0; i < n_dims; i++) gb_u64(b, (uint64_t)ne[i]);
  gb_u32(b, type);
  gb_u64(b, off);
}

static qc_status open_gb(gb *b, const char *name, qc_gguf **g) {
  const char *path = tmp_path(name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  if (b->n) ck_assert_uint_eq(fwrite(b->p, 1, b->n, f), b->n);
  fclose(f);
  free(b->p);
  memset(b, 0, sizeof *b);
  return qc_gguf_open(path, g);
}

static void expect_error(qc_status s, qc_code code, const char *a, const char *b) {
  ck_assert_msg(s != QC_OK, "expected an error containing '%s'", b ? b : a);
  const char *m = qc_status_message(s);
  if (a) ck_assert_msg(strstr(m, a), "message '%s' lacks '%s'", m, a);
  if (b) ck_assert_msg(strstr(m, b), "message '%s' lacks '%s'", m, b);
  ck_assert_msg(qc_status_code(s) == code, "message '%s': code %d, expected %d", m, qc_status_code(s), code);
  qc_status_free(s);
}

/* ---- header ---------------------------------------------------------------------------------- */

START_TEST(magic_and_version) {
  qc_gguf *g;
  gb b = {0};
  gb_put(&b, "GGUX", 4);
  gb_u32(&b, 3);
  gb_u64(&b, 0);
  gb_u64(&b, 0);
  expect_error(open_gb(&b, "magic.gguf", &g), QC_CODE_PARSE, "magic.gguf", "not a GGUF file");
  gb_header(&b, 1, 0, 0);
  expect_error(open_gb(&b, "v1.gguf", &g), QC_CODE_UNIMPLEMENTED, "v1.gguf", "version 1");
  gb_header(&b, 4, 0, 0);
  expect_error(open_gb(&b, "v4.gguf", &g), QC_CODE_UNIMPLEMENTED, "v4.gguf", "version 4");
  gb_header(&b, 0x03000000, 0, 0);
  expect_error(open_gb(&b, "be.gguf", &g), QC_CODE_PARSE, "be.gguf", "big-endian");
  gb_header(&b, 0, 0, 0);
  expect_error(open_gb(&b, "v0.gguf", &g), QC_CODE_PARSE, "v0.gguf", "invalid");
  gb_put(&b, "GGUF", 4);
  gb_u32(&b, 3);
  gb_u64(&b, 0);
  expect_error(open_gb(&b, "short.gguf", &g), QC_CODE_PARSE, "short.gguf", "past the end");
  expect_error(open_gb(&b, "empty.gguf", &g), QC_CODE_PARSE, "empty.gguf", "magic");
  gb_header(&b, 3, 1000000, 0);
  expect_error(open_gb(&b, "ntensors.gguf", &g), QC_CODE_PARSE, "ntensors.gguf", "tensor count");
  gb_header(&b, 3, 0, (uint64_t)-1);
  expect_error(open_gb(&b, "nkv.gguf", &g), QC_CODE_PARSE, "nkv.gguf", "key-value count");
  /* v2 and v3, empty: fine */
  gb_header(&b, 2, 0, 0);
  ck_assert_ptr_null(open_gb(&b, "v2.gguf", &g));
  ck_assert_uint_eq(qc_gguf_version(g), 2);
  ck_assert_uint_eq(qc_gguf_alignment(g), 32);
  qc_gguf_close(g);
}
END_TEST

/* ---- metadata --------------------------------------------------------------------------------- */

START_TEST(bad_keys_and_values) {
  qc_gguf *g;
  gb b = {0};
  gb_header(&b, 3, 0, 2);
  gb_kv_u32(&b, "a.b", 1);
  gb_kv_u32(&b, "a.b", 2);
  expect_error(open_gb(&b, "dup.gguf", &g), QC_CODE_PARSE, "dup.gguf", "duplicate key 'a.b'");
  gb_header(&b, 3, 0, 1);
  gb_kv_u32(&b, "", 1);
  expect_error(open_gb(&b, "emptykey.gguf", &g), QC_CODE_PARSE, "emptykey.gguf", "key 0 is empty");
  gb_header(&b, 3, 0, 1);
  gb_u64(&b, 3);
  gb_put(&b, "a\0b", 3);
  gb_u32(&b, 4);
  gb_u32(&b, 1);
  expect_error(open_gb(&b, "nulkey.gguf", &g), QC_CODE_PARSE, "nulkey.gguf", "contains NUL");
  gb_header(&b, 3, 0, 1);
  gb_u64(&b, 1000);
  gb_put(&b, "abcdefghijklmnopqrstuvwxyz", 26);
  expect_error(open_gb(&b, "longkey.gguf", &g), QC_CODE_PARSE, "longkey.gguf", "key 0 runs past the end");
  gb_header(&b, 3, 0, 1);
  gb_str(&b, "t");
  gb_u32(&b, 13);
  gb_u32(&b, 0);
  expect_error(open_gb(&b, "type13.gguf", &g), QC_CODE_PARSE, "key 't'", "invalid value type 13");
  gb_header(&b, 3, 0, 1);
  gb_str(&b, "flag");
  gb_u32(&b, 7);
  gb_u8(&b, 2);
  expect_error(open_gb(&b, "bool2.gguf", &g), QC_CODE_PARSE, "key 'flag'", "neither 0 nor 1");
  gb_header(&b, 3, 0, 1);
  gb_str(&b, "s");
  gb_u32(&b, 8);
  gb_u64(&b, (1ull << 30) + 1);
  expect_error(open_gb(&b, "bigstr.gguf", &g), QC_CODE_PARSE, "key 's'", "1 GiB");
  gb_header(&b, 3, 0, 1);
  gb_str(&b, "s");
  gb_u32(&b, 8);
  gb_u64(&b, 100);
  gb_str(&b, "short");
  expect_error(open_gb(&b, "truncstr.gguf", &g), QC_CODE_PARSE, "key 's'", "past the end");
  gb_header(&b, 3, 0, 1);
  gb_str(&b, "arr");
  gb_u32(&b, 9);
  gb_u32(&b, 14);
  gb_u64(&b, 0);
  expect_error(open_gb(&b, "arrtype.gguf", &g), QC_CODE_PARSE, "key 'arr'", "element type 14");
  gb_header(&b, 3, 0, 1);
  gb_str(&b, "arr");
  gb_u32(&b, 9);
  gb_u32(&b, 4);
  gb_u64(&b, (1ull << 30) + 1);
  expect_error(open_gb(&b, "arrlen.gguf", &g), QC_CODE_PARSE, "key 'arr'", "2^30");
  gb_header(&b, 3, 0, 1);
  gb_str(&b, "arr");
  gb_u32(&b, 9);
  gb_u32(&b, 6);
  gb_u64(&b, 4);
  gb_u32(&b, 0);
  expect_error(open_gb(&b, "arrshort.gguf", &g), QC_CODE_PARSE, "key 'arr'", "past the end");
  gb_header(&b, 3, 0, 1);
  gb_str(&b, "arr");
  gb_u32(&b, 9);
  gb_u32(&b, 7);
  gb_u64(&b, 2);
  gb_u8(&b, 1);
  gb_u8(&b, 5);
  expect_error(open_gb(&b, "arrbool.gguf", &g), QC_CODE_PARSE, "key 'arr'", "element 1");
  /* nesting: 17 levels of arrays */
  gb_header(&b, 3, 0, 1);
  gb_str(&b, "deep");
  gb_u32(&b, 9);
  for (int i = 0; i < 17; i++) {
    gb_u32(&b, 9);
    gb_u64(&b, 1);
  }
  gb_u32(&b, 4);
  gb_u64(&b, 0);
  expect_error(open_gb(&b, "deep.gguf", &g), QC_CODE_PARSE, "key 'deep'", "nested deeper");
}
END_TEST

START_TEST(alignment_key) {
  qc_gguf *g;
  gb b = {0};
  gb_header(&b, 3, 0, 1);
  gb_str(&b, "general.alignment");
  gb_u32(&b, 10);
  gb_u64(&b, 64);
  expect_error(open_gb(&b, "al_type.gguf", &g), QC_CODE_PARSE, "general.alignment", "expected u32");
  gb_header(&b, 3, 0, 1);
  gb_kv_u32(&b, "general.alignment", 48);
  expect_error(open_gb(&b, "al_48.gguf", &g), QC_CODE_PARSE, "al_48.gguf", "not a power of 2");
  gb_header(&b, 3, 0, 1);
  gb_kv_u32(&b, "general.alignment", 0);
  expect_error(open_gb(&b, "al_0.gguf", &g), QC_CODE_PARSE, "general.alignment", "power of 2");
  gb_header(&b, 3, 0, 1);
  gb_kv_u32(&b, "general.alignment", 1u << 21);
  expect_error(open_gb(&b, "al_big.gguf", &g), QC_CODE_PARSE, "general.alignment", "1 MiB");
  /* a valid alignment is used for the data section */
  gb_header(&b, 3, 1, 1);
  gb_kv_u32(&b, "general.alignment", 64);
  gb_tensor(&b, "t", 1, (int64_t[]){4}, 0, 0);
  gb_pad(&b, 64);
  size_t data = b.n;
  for (int i = 0; i < 4; i++) gb_u32(&b, 0x3f800000u); /* 1.0f */
  ck_assert_ptr_null(open_gb(&b, "al_64.gguf", &g));
  ck_assert_uint_eq(qc_gguf_alignment(g), 64);
  ck_assert_uint_eq(qc_gguf_data_offset(g), data);
  qc_gguf_close(g);
}
END_TEST

START_TEST(all_value_types_and_getters) {
  qc_gguf *g;
  gb b = {0};
  gb_header(&b, 3, 0, 16);
  gb_str(&b, "u8"); gb_u32(&b, 0); gb_u8(&b, 250);
  gb_str(&b, "i8"); gb_u32(&b, 1); gb_u8(&b, 0x80);
  gb_str(&b, "u16"); gb_u32(&b, 2); gb_u8(&b, 0x34); gb_u8(&b, 0x12);
  gb_str(&b, "i16"); gb_u32(&b, 3); gb_u8(&b, 0xff); gb_u8(&b, 0xff);
  gb_kv_u32(&b, "u32", 4000000000u);
  gb_str(&b, "i32"); gb_u32(&b, 5); gb_u32(&b, (uint32_t)-7);
  gb_str(&b, "f32"); gb_u32(&b, 6); gb_u32(&b, 0x40490fdbu); /* pi */
  gb_str(&b, "bool"); gb_u32(&b, 7); gb_u8(&b, 1);
  gb_str(&b, "str"); gb_u32(&b, 8); gb_str(&b, "h\xc3\xa9llo");
  gb_str(&b, "u64"); gb_u32(&b, 10); gb_u64(&b, 1ull << 40);
  gb_str(&b, "i64"); gb_u32(&b, 11); gb_u64(&b, (uint64_t)-5);
  gb_str(&b, "f64"); gb_u32(&b, 12); gb_u64(&b, 0x3ff8000000000000ull); /* 1.5 */
  gb_str(&b, "strs"); gb_u32(&b, 9); gb_u32(&b, 8); gb_u64(&b, 3); gb_str(&b, "a"); gb_str(&b, ""); gb_str(&b, "ccc");
  gb_str(&b, "floats"); gb_u32(&b, 9); gb_u32(&b, 6); gb_u64(&b, 2); gb_u32(&b, 0x3f800000u); gb_u32(&b, 0xc0000000u);
  gb_str(&b, "ints"); gb_u32(&b, 9); gb_u32(&b, 5); gb_u64(&b, 3); gb_u32(&b, 1); gb_u32(&b, (uint32_t)-2); gb_u32(&b, 3);
  /* [[1], [], [2, 3]] of u8 */
  gb_str(&b, "nested"); gb_u32(&b, 9); gb_u32(&b, 9); gb_u64(&b, 3);
  gb_u32(&b, 0); gb_u64(&b, 1); gb_u8(&b, 1);
  gb_u32(&b, 0); gb_u64(&b, 0);
  gb_u32(&b, 0); gb_u64(&b, 2); gb_u8(&b, 2); gb_u8(&b, 3);
  ck_assert_ptr_null(open_gb(&b, "types.gguf", &g));
  ck_assert_int_eq(qc_gguf_kv_count(g), 16);
  ck_assert_str_eq(qc_gguf_kv_key(g, 4), "u32");
  uint32_t u32;
  uint64_t u64;
  int32_t i32;
  int64_t i64;
  float f;
  double d;
  bool bo;
  const char *s;
  size_t len;
  ck_assert_ptr_null(qc_gguf_get_u32(g, "u8", &u32));
  ck_assert_uint_eq(u32, 250);
  ck_assert_ptr_null(qc_gguf_get_u32(g, "u32", &u32));
  ck_assert_uint_eq(u32, 4000000000u);
  ck_assert_ptr_null(qc_gguf_get_u64(g, "u32", &u64));
  ck_assert_uint_eq(u64, 4000000000u);
  ck_assert_ptr_null(qc_gguf_get_u64(g, "u64", &u64));
  ck_assert_uint_eq(u64, 1ull << 40);
  ck_assert_ptr_null(qc_gguf_get_i32(g, "i8", &i32));
  ck_assert_int_eq(i32, -128);
  ck_assert_ptr_null(qc_gguf_get_i32(g, "i16", &i32));
  ck_assert_int_eq(i32, -1);
  ck_assert_ptr_null(qc_gguf_get_i32(g, "u16", &i32));
  ck_assert_int_eq(i32, 0x1234);
  ck_assert_ptr_null(qc_gguf_get_i64(g, "i64", &i64));
  ck_assert_int_eq(i64, -5);
  ck_assert_ptr_null(qc_gguf_get_f32(g, "f32", &f));
  ck_assert(fabsf(f - 3.14159265f) < 1e-6f);
  ck_assert_ptr_null(qc_gguf_get_f64(g, "f64", &d));
  ck_assert(d == 1.5);
  ck_assert_ptr_null(qc_gguf_get_bool(g, "bool", &bo));
  ck_assert(bo);
  ck_assert_ptr_null(qc_gguf_get_string(g, "str", &s, &len));
  ck_assert_str_eq(s, "h\xc3\xa9llo");
  ck_assert_uint_eq(len, 6);
  const qc_gguf_value *items;
  uint64_t n;
  ck_assert_ptr_null(qc_gguf_get_strings(g, "strs", &items, &n));
  ck_assert_uint_eq(n, 3);
  ck_assert_str_eq(items[2].data, "ccc");
  ck_assert_uint_eq(items[1].count, 0);
  float fl[4];
  ck_assert_ptr_null(qc_gguf_get_f32_array(g, "floats", fl, 4, &n));
  ck_assert_uint_eq(n, 2);
  ck_assert(fl[0] == 1.0f && fl[1] == -2.0f);
  int64_t iv[2];
  ck_assert_ptr_null(qc_gguf_get_i64_array(g, "ints", iv, 2, &n)); /* cap < n: the first 2 */
  ck_assert_uint_eq(n, 3);
  ck_assert(iv[0] == 1 && iv[1] == -2);
  const qc_gguf_value *nested = qc_gguf_get(g, "nested");
  ck_assert_ptr_nonnull(nested);
  ck_assert_int_eq(nested->elem_type, QC_GGUF_ARRAY);
  ck_assert_uint_eq(nested->count, 3);
  ck_assert_uint_eq(nested->items[1].count, 0);
  ck_assert_int_eq(qc_gguf_value_i64(&nested->items[2], 1), 3);
  /* type and range errors name the file and key */
  expect_error(qc_gguf_get_u32(g, "i32", &u32), QC_CODE_INVALID_ARGUMENT, "types.gguf: key 'i32'", "does not fit u32");
  expect_error(qc_gguf_get_i32(g, "u32", &i32), QC_CODE_INVALID_ARGUMENT, "key 'u32'", "does not fit i32");
  expect_error(qc_gguf_get_u32(g, "str", &u32), QC_CODE_INVALID_ARGUMENT, "key 'str'", "has type str");
  expect_error(qc_gguf_get_f32(g, "u32", &f), QC_CODE_INVALID_ARGUMENT, "key 'u32'", "has type u32");
  expect_error(qc_gguf_get_bool(g, "u8", &bo), QC_CODE_INVALID_ARGUMENT, "key 'u8'", "expected bool");
  expect_error(qc_gguf_get_string(g, "strs", &s, &len), QC_CODE_INVALID_ARGUMENT, "key 'strs'", "arr[str]");
  expect_error(qc_gguf_get_strings(g, "ints", &items, &n), QC_CODE_INVALID_ARGUMENT, "key 'ints'", "arr[i32]");
  expect_error(qc_gguf_get_f32_array(g, "ints", fl, 4, &n), QC_CODE_INVALID_ARGUMENT, "key 'ints'", NULL);
  expect_error(qc_gguf_get_u32(g, "missing", &u32), QC_CODE_NOT_FOUND, "types.gguf", "no key 'missing'");
  qc_gguf_close(g);
}
END_TEST

/* ---- tensors ----------------------------------------------------------------------------------- */

START_TEST(bad_tensor_infos) {
  qc_gguf *g;
  gb b = {0};
  char longname[80];
  memset(longname, 'x', 64);
  longname[64] = 0;
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, longname, 1, (int64_t[]){1}, 0, 0);
  expect_error(open_gb(&b, "longname.gguf", &g), QC_CODE_PARSE, "longname.gguf", "name of 64 bytes");
  gb_header(&b, 3, 2, 0);
  gb_tensor(&b, "w", 1, (int64_t[]){1}, 0, 0);
  gb_tensor(&b, "w", 1, (int64_t[]){1}, 0, 32);
  expect_error(open_gb(&b, "dupname.gguf", &g), QC_CODE_PARSE, "dupname.gguf", "duplicate tensor name 'w'");
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, "w", 5, (int64_t[]){1, 1, 1, 1, 1}, 0, 0);
  expect_error(open_gb(&b, "ndims.gguf", &g), QC_CODE_PARSE, "tensor 'w'", "5 dimensions");
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, "w", 2, (int64_t[]){4, -1}, 0, 0);
  expect_error(open_gb(&b, "negdim.gguf", &g), QC_CODE_PARSE, "tensor 'w'", "dimension 1 is negative");
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, "w", 3, (int64_t[]){1ll << 32, 1ll << 32, 0}, 0, 0);
  expect_error(open_gb(&b, "overflow.gguf", &g), QC_CODE_PARSE, "tensor 'w'", "overflows");
  /* a zero-size tensor whose other dimensions overflow: ggml accepts it, quarc cannot size
   * it as a row-major qc_tensor (found by fuzz_gguf) */
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, "z", 3, (int64_t[]){0, 1ll << 40, 1ll << 40}, 0, 0);
  expect_error(open_gb(&b, "zero_overflow.gguf", &g), QC_CODE_PARSE, "tensor 'z'", "overflows");
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, "w", 1, (int64_t[]){32}, 4, 0);
  expect_error(open_gb(&b, "removed.gguf", &g), QC_CODE_PARSE, "tensor 'w'", "invalid ggml type 4");
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, "w", 1, (int64_t[]){32}, 42, 0);
  expect_error(open_gb(&b, "type42.gguf", &g), QC_CODE_PARSE, "tensor 'w'", "invalid ggml type 42");
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, "w", 2, (int64_t[]){48, 2}, 2, 0);
  expect_error(open_gb(&b, "block.gguf", &g), QC_CODE_PARSE, "tensor 'w'", "not a multiple of the block size 32");
  /* offsets must be exactly sequential with padding */
  gb_header(&b, 3, 2, 0);
  gb_tensor(&b, "a", 1, (int64_t[]){3}, 0, 0);
  gb_tensor(&b, "b", 1, (int64_t[]){3}, 0, 12);
  gb_pad(&b, 32);
  for (int i = 0; i < 16; i++) gb_u32(&b, 0);
  expect_error(open_gb(&b, "offset.gguf", &g), QC_CODE_PARSE, "tensor 'b'", "offset 12, expected 32");
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, "a", 1, (int64_t[]){3}, 0, 32);
  gb_pad(&b, 32);
  for (int i = 0; i < 24; i++) gb_u32(&b, 0);
  expect_error(open_gb(&b, "offset0.gguf", &g), QC_CODE_PARSE, "tensor 'a'", "offset 32, expected 0");
  /* data past the end of the file */
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, "a", 2, (int64_t[]){4, 4}, 0, 0);
  gb_pad(&b, 32);
  for (int i = 0; i < 15; i++) gb_u32(&b, 0);
  expect_error(open_gb(&b, "pastend.gguf", &g), QC_CODE_PARSE, "tensor 'a'", "past the end of the file");
  gb_header(&b, 3, 1, 0);
  gb_tensor(&b, "a", 1, (int64_t[]){1}, 0, 0);
  expect_error(open_gb(&b, "nodata.gguf", &g), QC_CODE_PARSE, "nodata.gguf", NULL);
  gb_header(&b, 3, 1, 0);
  gb_str(&b, "a");
  gb_u32(&b, 4);
  gb_u64(&b, 4);
  gb_u64(&b, 4);
  gb_u64(&b, 4);
  expect_error(open_gb(&b, "truncinfo.gguf", &g), QC_CODE_PARSE, "truncinfo.gguf", "past the end");
}
END_TEST

START_TEST(tensors_row_major_zero_copy) {
  qc_gguf *g;
  gb b = {0};
  gb_header(&b, 3, 4, 0);
  gb_tensor(&b, "w", 2, (int64_t[]){3, 2}, 0, 0);          /* ne = [3, 2]: 2 rows of 3 */
  gb_tensor(&b, "s", 0, NULL, 1, 32);                       /* a scalar f16 */
  gb_tensor(&b, "q", 2, (int64_t[]){32, 2}, 8, 64);         /* Q8_0, 2 blocks */
  gb_tensor(&b, "iq", 1, (int64_t[]){256}, 16, 64 + 96);    /* IQ2_XXS: no quarc dtype */
  gb_pad(&b, 32);
  size_t data = b.n;
  for (int i = 0; i < 6; i++) {
    float v = (float)i;
    gb_put(&b, &v, 4);
  }
  gb_pad(&b, 32);
  gb_u8(&b, 0x00);
  gb_u8(&b, 0x3c); /* f16 1.0 */
  gb_pad(&b, 32);
  for (int blk = 0; blk < 2; blk++) {
    gb_u8(&b, 0x00);
    gb_u8(&b, 0x38); /* d = 0.5 */
    for (int j = 0; j < 32; j++) gb_u8(&b, (uint8_t)(int8_t)(j - 16 + blk));
  }
  gb_pad(&b, 32);
  for (int i = 0; i < 66; i++) gb_u8(&b, 0);
  ck_assert_ptr_null(open_gb(&b, "tensors.gguf", &g));
  ck_assert_int_eq(qc_gguf_tensor_count(g), 4);
  const qc_gguf_tensor_info *ti = qc_gguf_tensor_info_at(g, 0);
  ck_assert_str_eq(ti->name, "w");
  ck_assert_int_eq(ti->ne[0], 3);
  ck_assert_int_eq(ti->ne[2], 1);
  ck_assert_uint_eq(ti->nbytes, 24);
  qc_tensor t;
  ck_assert_ptr_null(qc_gguf_get_tensor(g, "w", &t));
  ck_assert_int_eq(t.dtype, QC_F32);
  ck_assert_int_eq(t.rank, 2);
  ck_assert_int_eq(t.dims[0], 2);
  ck_assert_int_eq(t.dims[1], 3);
  ck_assert(((float *)qc_tensor_data(&t))[4] == 4.0f);
  const char *origin;
  uint64_t off;
  ck_assert(qc_buffer_origin(t.buf, &origin, &off));
  ck_assert_uint_eq(off + t.offset, data);
  ck_assert_str_eq(origin, tmp_path("tensors.gguf"));
  qc_tensor_release(&t);
  ck_assert_ptr_null(qc_gguf_get_tensor(g, "s", &t));
  ck_assert_int_eq(t.rank, 0);
  ck_assert_int_eq(t.dtype, QC_F16);
  qc_tensor_release(&t);
  ck_assert_ptr_null(qc_gguf_get_tensor(g, "q", &t));
  ck_assert_int_eq(t.dtype, QC_Q8_0);
  ck_assert_int_eq(t.dims[0], 2);
  ck_assert_int_eq(t.dims[1], 32);
  float y[64];
  qc_block_dequantize(QC_Q8_0, qc_tensor_data(&t), y, 64);
  ck_assert(y[0] == -8.0f && y[63] == 8.0f);
  qc_tensor_release(&t);
  ti = qc_gguf_tensor_info_at(g, 3);
  ck_assert_int_eq(ti->ggml_type, 16);
  ck_assert_int_eq(ti->dtype, QC_DT_UNDEFINED);
  ck_assert_str_eq(qc_ggml_type_name(ti->ggml_type), "IQ2_XXS");
  expect_error(qc_gguf_tensor(g, 3, &t), QC_CODE_UNIMPLEMENTED, "tensor 'iq'", "IQ2_XXS");
  expect_error(qc_gguf_get_tensor(g, "nope", &t), QC_CODE_NOT_FOUND, "tensors.gguf", "no tensor 'nope'");
  qc_gguf_close(g);
}
END_TEST

/* ---- the writer ------------------------------------------------------------------------------- */

static uint8_t *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc(*n + 1);
  ck_assert_uint_eq(fread(p, 1, *n, f), *n);
  fclose(f);
  return p;
}

START_TEST(writer_layout_and_roundtrip) {
  qc_gguf_writer *w;
  ck_assert_ptr_null(qc_gguf_writer_create(&w));
  ck_assert_ptr_null(qc_gguf_writer_set_string(w, "general.architecture", "llama"));
  ck_assert_ptr_null(qc_gguf_writer_set_u32(w, "llama.block_count", 7));
  ck_assert_ptr_null(qc_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f));
  ck_assert_ptr_null(qc_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true));
  const char *toks[] = {"<s>", "</s>", "\xe2\x96\x81the"};
  ck_assert_ptr_null(qc_gguf_writer_set_strings(w, "tokenizer.ggml.tokens", toks, 3));
  float scores[3] = {0, -1.5f, 2};
  ck_assert_ptr_null(qc_gguf_writer_set_array(w, "tokenizer.ggml.scores", QC_GGUF_FLOAT32, scores, 3));
  int32_t types[3] = {3, 3, 1};
  ck_assert_ptr_null(qc_gguf_writer_set_array(w, "tokenizer.ggml.token_type", QC_GGUF_INT32, types, 3));
  ck_assert_ptr_null(qc_gguf_writer_set_u32(w, "llama.block_count", 8)); /* replaced in place */
  qc_tensor a, q;
  ck_assert_ptr_null(qc_tensor_alloc(&a, NULL, QC_F32, 2, (int64_t[]){2, 3}));
  for (int i = 0; i < 6; i++) ((float *)qc_tensor_data(&a))[i] = (float)i;
  ck_assert_ptr_null(qc_tensor_alloc(&q, NULL, QC_Q4_0, 2, (int64_t[]){2, 64}));
  float x[128];
  for (int i = 0; i < 128; i++) x[i] = sinf((float)i);
  ck_assert(qc_block_quantize(QC_Q4_0, x, qc_tensor_data(&q), 128));
  ck_assert_ptr_null(qc_gguf_writer_add_tensor(w, "a", &a));
  ck_assert_ptr_null(qc_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", &q));
  const char *path = tmp_path("written.gguf");
  ck_assert_ptr_null(qc_gguf_writer_write(w, path));
  qc_gguf_writer_free(w);
  /* byte layout: header, and padding after the infos and after each tensor */
  size_t n;
  uint8_t *bytes = read_file(path, &n);
  ck_assert(memcmp(bytes, "GGUF\3\0\0\0\2\0\0\0\0\0\0\0\x08\0\0\0\0\0\0\0", 24) == 0); /* 8 kv: + quant version */
  qc_gguf *g;
  ck_assert_ptr_null(qc_gguf_open(path, &g));
  ck_assert_uint_eq(qc_gguf_data_offset(g) % 32, 0);
  ck_assert_uint_eq(n, qc_gguf_data_offset(g) + 32 + 2 * 2 * 18 + (32 - (72 % 32)) % 32);
  for (size_t i = qc_gguf_data_offset(g) + 24; i < qc_gguf_data_offset(g) + 32; i++) ck_assert_uint_eq(bytes[i], 0);
  free(bytes);
  uint32_t u;
  ck_assert_ptr_null(qc_gguf_get_u32(g, "llama.block_count", &u));
  ck_assert_uint_eq(u, 8);
  ck_assert_str_eq(qc_gguf_kv_key(g, 1), "llama.block_count");
  ck_assert_ptr_null(qc_gguf_get_u32(g, "general.quantization_version", &u));
  ck_assert_uint_eq(u, 2);
  const qc_gguf_value *items;
  uint64_t cnt;
  ck_assert_ptr_null(qc_gguf_get_strings(g, "tokenizer.ggml.tokens", &items, &cnt));
  ck_assert_str_eq(items[2].data, "\xe2\x96\x81the");
  int64_t tt[3];
  ck_assert_ptr_null(qc_gguf_get_i64_array(g, "tokenizer.ggml.token_type", tt, 3, &cnt));
  ck_assert_int_eq(tt[2], 1);
  qc_tensor back;
  ck_assert_ptr_null(qc_gguf_get_tensor(g, "a", &back));
  ck_assert(qc_tensor_equal(&back, &a));
  ck_assert_int_eq(qc_gguf_tensor_info_at(g, 0)->ne[0], 3);
  qc_tensor_release(&back);
  ck_assert_ptr_null(qc_gguf_get_tensor(g, "blk.0.attn_q.weight", &back));
  ck_assert(qc_tensor_equal(&back, &q));
  qc_tensor_release(&back);
  qc_gguf_close(g);
  qc_tensor_release(&a);
  qc_tensor_release(&q);
}
END_TEST

START_TEST(writer_alignment_and_checks) {
  qc_gguf_writer *w;
  ck_assert_ptr_null(qc_gguf_writer_create(&w));
  ck_assert_ptr_null(qc_gguf_writer_set_u32(w, "general.alignment", 128));
  qc_tensor a;
  ck_assert_ptr_null(qc_tensor_alloc(&a, NULL, QC_F16, 1, (int64_t[]){3}));
  ck_assert_ptr_null(qc_gguf_writer_add_tensor(w, "x", &a));
  ck_assert_ptr_null(qc_gguf_writer_add_tensor(w, "y", &a));
  expect_error(qc_gguf_writer_add_tensor(w, "x", &a), QC_CODE_INVALID_ARGUMENT, "tensor 'x'", "duplicate");
  char longname[70];
  memset(longname, 'n', 64);
  longname[64] = 0;
  expect_error(qc_gguf_writer_add_tensor(w, longname, &a), QC_CODE_INVALID_ARGUMENT, "longer than 63", NULL);
  qc_tensor r5, q, i4;
  ck_assert_ptr_null(qc_tensor_alloc(&r5, NULL, QC_F32, 5, (int64_t[]){1, 1, 1, 1, 1}));
  expect_error(qc_gguf_writer_add_tensor(w, "r5", &r5), QC_CODE_INVALID_ARGUMENT, "tensor 'r5'", "rank 5");
  ck_assert_ptr_null(qc_tensor_alloc(&q, NULL, QC_Q4_K, 2, (int64_t[]){256, 1}));
  expect_error(qc_gguf_writer_add_tensor(w, "q", &q), QC_CODE_INVALID_ARGUMENT, "tensor 'q'", "Q4_K block");
  ck_assert_ptr_null(qc_tensor_alloc(&i4, NULL, QC_I4, 1, (int64_t[]){2}));
  expect_error(qc_gguf_writer_add_tensor(w, "i4", &i4), QC_CODE_UNIMPLEMENTED, "tensor 'i4'", "no ggml type");
  expect_error(qc_gguf_writer_set_u32(w, "general.alignment", 24), QC_CODE_INVALID_ARGUMENT, "general.alignment", NULL);
  expect_error(qc_gguf_writer_set_u32(w, "", 1), QC_CODE_INVALID_ARGUMENT, "empty key", NULL);
  uint8_t two = 2;
  qc_gguf_value bad = {QC_GGUF_BOOL, 0, 0, &two, NULL};
  expect_error(qc_gguf_writer_set(w, "b", &bad), QC_CODE_INVALID_ARGUMENT, "key 'b'", "neither 0 nor 1");
  const char *path = tmp_path("aligned.gguf");
  ck_assert_ptr_null(qc_gguf_writer_write(w, path));
  qc_gguf_writer_free(w);
  qc_gguf *g;
  ck_assert_ptr_null(qc_gguf_open(path, &g));
  ck_assert_uint_eq(qc_gguf_alignment(g), 128);
  ck_assert_uint_eq(qc_gguf_data_offset(g) % 128, 0);
  ck_assert_uint_eq(qc_gguf_tensor_info_at(g, 1)->offset, 128);
  ck_assert_int_lt(qc_gguf_find_key(g, "general.quantization_version"), 0); /* nothing quantized */
  size_t n;
  free(read_file(path, &n));
  ck_assert_uint_eq(n, qc_gguf_data_offset(g) + 256);
  qc_gguf_close(g);
  qc_tensor_release(&a);
  qc_tensor_release(&r5);
  qc_tensor_release(&q);
  qc_tensor_release(&i4);
}
END_TEST

START_TEST(q8_1_and_q8_k_layout) {
  /* block_q8_1: f16 d, f16 s, i8 qs[32]; block_q8_K: f32 d, i8 qs[256], i16 bsums[16]. */
  uint8_t b1[36] = {0x00, 0x40, 0x00, 0x00}; /* d = 2.0 */
  for (int j = 0; j < 32; j++) b1[4 + j] = (uint8_t)(int8_t)(j - 10);
  float y[256];
  qc_block_dequantize(QC_Q8_1, b1, y, 32);
  for (int j = 0; j < 32; j++) ck_assert(y[j] == 2.0f * (float)(j - 10));
  uint8_t bk[292] = {0};
  float d = 0.25f;
  memcpy(bk, &d, 4);
  for (int j = 0; j < 256; j++) bk[4 + j] = (uint8_t)(int8_t)(j % 200 - 100);
  qc_block_dequantize(QC_Q8_K, bk, y, 256);
  for (int j = 0; j < 256; j++) ck_assert(y[j] == 0.25f * (float)(j % 200 - 100));
  ck_assert_uint_eq(qc_dtype_nbytes(QC_Q8_1, 32), 36);
  ck_assert_uint_eq(qc_dtype_nbytes(QC_Q8_K, 256), 292);
  /* the gguf column of the dtype table: every ggml type quarc names */
  static const struct {
    int ggml;
    qc_dtype dt;
  } map[] = {{0, QC_F32},   {1, QC_F16},   {2, QC_Q4_0},  {3, QC_Q4_1},  {6, QC_Q5_0},  {7, QC_Q5_1},
             {8, QC_Q8_0},  {9, QC_Q8_1},  {10, QC_Q2_K}, {11, QC_Q3_K}, {12, QC_Q4_K}, {13, QC_Q5_K},
             {14, QC_Q6_K}, {15, QC_Q8_K}, {24, QC_I8},   {25, QC_I16},  {26, QC_I32},  {27, QC_I64},
             {28, QC_F64},  {30, QC_BF16}, {39, QC_GGML_MXFP4}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    ck_assert_msg(qc_dtype_from_gguf(map[i].ggml) == map[i].dt, "ggml type %d", map[i].ggml);
}
END_TEST

int main(void) {
  Suite *s = suite_create("gguf");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, magic_and_version);
  tcase_add_test(tc, bad_keys_and_values);
  tcase_add_test(tc, alignment_key);
  tcase_add_test(tc, all_value_types_and_getters);
  tcase_add_test(tc, bad_tensor_infos);
  tcase_add_test(tc, tensors_row_major_zero_copy);
  tcase_add_test(tc, writer_layout_and_roundtrip);
  tcase_add_test(tc, writer_alignment_and_checks);
  tcase_add_test(tc, q8_1_and_q8_k_layout);
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
