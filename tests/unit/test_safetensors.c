/* safetensors: every bad-file case of the reference's tensor.rs tests (formats.md §3), the
 * stricter checks quarc adds, the writer's exact bytes for the reference's serialization
 * tests, round trips, zero copy, and sharded checkpoints. */
#include "quarc/safetensors.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64];

static void make_tmpdir(void) {
  if (tmpdir[0]) return;
  strcpy(tmpdir, "/tmp/qc_st_XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void write_bytes(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  if (n) ck_assert_uint_eq(fwrite(data, 1, n, f), n);
  fclose(f);
}

static char *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)len + 1);
  ck_assert_uint_eq(fread(p, 1, (size_t)len, f), (size_t)len);
  p[len] = 0;
  fclose(f);
  *n = (size_t)len;
  return p;
}

/* Write `n` bytes to <tmpdir>/<name>.safetensors and open it. */
static qc_status open_case(const char *name, const void *data, size_t n, qc_safetensors **st, char *path) {
  make_tmpdir();
  snprintf(path, 256, "%s/%s.safetensors", tmpdir, name);
  write_bytes(path, data, n);
  return qc_safetensors_open(path, st);
}

/* A header with the given JSON and `data_len` zero bytes of data (length prefix computed). */
static qc_status open_json(const char *name, const char *json, size_t data_len, qc_safetensors **st,
                           char *path) {
  size_t jl = strlen(json);
  char *buf = calloc(1, 8 + jl + data_len + 1);
  uint64_t n = jl;
  for (int i = 0; i < 8; i++) buf[i] = (char)(n >> (8 * i));
  memcpy(buf + 8, json, jl);
  qc_status s = open_case(name, buf, 8 + jl + data_len, st, path);
  free(buf);
  return s;
}

/* The error must exist and its message must contain every given fragment. */
static void expect_error(qc_status s, qc_code code, const char *a, const char *b, const char *c) {
  ck_assert_msg(s != QC_OK, "expected an error containing '%s'", b ? b : "");
  const char *m = qc_status_message(s);
  const char *frags[3] = {a, b, c};
  for (int i = 0; i < 3; i++)
    if (frags[i]) ck_assert_msg(strstr(m, frags[i]), "message '%s' lacks '%s'", m, frags[i]);
  ck_assert_msg(qc_status_code(s) == code, "message '%s': code %d, expected %d", m, qc_status_code(s), code);
  qc_status_free(s);
}

#define BYTES(s) (s), sizeof(s) - 1

/* ---- the reference's bad-file tests ---------------------------------------------------------- */

START_TEST(header_too_small) {
  qc_safetensors *st;
  char path[256];
  expect_error(open_case("too_small", "", 0, &st, path), QC_CODE_PARSE, path, "header too small", NULL);
  expect_error(open_case("too_small7", BYTES("\x01\0\0\0\0\0\0"), &st, path), QC_CODE_PARSE, path,
               "header too small", NULL);
}
END_TEST

START_TEST(invalid_header_length) {
  qc_safetensors *st;
  char path[256];
  expect_error(open_case("bad_len", BYTES("<\0\0\0\0\0\0\0"), &st, path), QC_CODE_PARSE, path,
               "exceeds the file", NULL);
}
END_TEST

START_TEST(header_too_large) {
  qc_safetensors *st;
  char path[256];
  static const char f[] = "<\x00\x00\x00\x00\xff\xff\xff{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],"
                          "\"data_offsets\":[0,16]}}\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
  expect_error(open_case("too_large", BYTES(f), &st, path), QC_CODE_PARSE, path, "header too large", NULL);
  /* 100,000,001 */
  static const char g[] = "\x01\xe1\xf5\x05\0\0\0\0{}";
  expect_error(open_case("too_large2", BYTES(g), &st, path), QC_CODE_PARSE, path, "header too large", NULL);
}
END_TEST

START_TEST(invalid_header_non_utf8) {
  qc_safetensors *st;
  char path[256];
  expect_error(open_case("non_utf8", BYTES("\x01\0\0\0\0\0\0\0\xff"), &st, path), QC_CODE_PARSE, path,
               "UTF-8", NULL);
  /* an overlong encoding of '{' and a UTF-16 surrogate encoded in UTF-8 */
  expect_error(open_json("overlong", "\xc1\xbb}", 0, &st, path), QC_CODE_PARSE, path, "UTF-8", NULL);
  expect_error(open_json("surrogate", "{\"\xed\xa0\x80\":1}", 0, &st, path), QC_CODE_PARSE, path, "UTF-8", NULL);
}
END_TEST

START_TEST(invalid_header_not_json) {
  qc_safetensors *st;
  char path[256];
  expect_error(open_case("not_json", BYTES("\x01\0\0\0\0\0\0\0{"), &st, path), QC_CODE_PARSE, path,
               "invalid header JSON", NULL);
  const char *bad[] = {"[]", "", "{}x", "{,}", "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},}",
                       "{'a':1}", "{\"a\"}", "nul", "{\"a\":{\"dtype\":\"F32\"\"shape\":[]}}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    expect_error(open_json("not_json2", bad[i], 4, &st, path), QC_CODE_PARSE, path, "invalid header JSON", NULL);
}
END_TEST

START_TEST(metadata_incomplete_buffer) {
  qc_safetensors *st;
  char path[256];
  static const char extra[] = "<\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"
                              "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0extra_bogus_data_for_polyglot_file";
  expect_error(open_case("polyglot", BYTES(extra), &st, path), QC_CODE_PARSE, path, "34 trailing bytes", NULL);
  static const char missing[] = "<\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"
                                "\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
  expect_error(open_case("missing", BYTES(missing), &st, path), QC_CODE_PARSE, path, "2 bytes missing", NULL);
}
END_TEST

START_TEST(invalid_info) {
  qc_safetensors *st;
  char path[256];
  static const char f[] = "<\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0, 4]}}";
  expect_error(open_case("invalid_info", BYTES(f), &st, path), QC_CODE_PARSE, path,
               "tensor 'test': data_offsets [0,4] do not match dtype I32 and shape [2,2] (16 bytes)", NULL);
}
END_TEST

START_TEST(validation_overflow) {
  qc_safetensors *st;
  char path[256];
  static const char a[] = "O\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,18446744073709551614],"
                          "\"data_offsets\":[0,16]}}\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
  expect_error(open_case("overflow1", BYTES(a), &st, path), QC_CODE_PARSE, path, "tensor 'test'", "overflows");
  static const char b[] = "N\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,9223372036854775807],"
                          "\"data_offsets\":[0,16]}}\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
  expect_error(open_case("overflow2", BYTES(b), &st, path), QC_CODE_PARSE, path, "tensor 'test'", "overflows");
  /* The first overflow is final even if a later dimension is 0 (checked fold). */
  expect_error(open_json("overflow3", "{\"t\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,0],"
                                      "\"data_offsets\":[0,0]}}", 0, &st, path),
               QC_CODE_PARSE, path, "tensor 't'", "overflows");
  /* 2^64 itself is not an integer the format can hold */
  expect_error(open_json("overflow4", "{\"t\":{\"dtype\":\"U8\",\"shape\":[18446744073709551616],"
                                      "\"data_offsets\":[0,0]}}", 0, &st, path),
               QC_CODE_PARSE, path, "tensor 't'", "64 bits");
}
END_TEST

START_TEST(json_attack) {
  qc_safetensors *st;
  char path[256];
  char json[1024] = "{";
  for (int i = 0; i < 10; i++)
    snprintf(json + strlen(json), sizeof json - strlen(json),
             "%s\"weight_%d\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}", i ? "," : "", i);
  strcat(json, "}");
  /* JSON order is kept on ties, so the second tensor is the one reported. */
  expect_error(open_json("json_attack", json, 16, &st, path), QC_CODE_PARSE, path,
               "tensor 'weight_1': data_offsets [0,16] overlap tensor 'weight_0'", NULL);
}
END_TEST

START_TEST(offsets_gaps_and_order) {
  qc_safetensors *st;
  char path[256];
  expect_error(open_json("gap0", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8, &st, path),
               QC_CODE_PARSE, path, "tensor 'a'", "byte 0");
  expect_error(open_json("gap1", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                                 "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[5,9]}}", 9, &st, path),
               QC_CODE_PARSE, path, "tensor 'b'", "gap");
  expect_error(open_json("backwards", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, &st, path),
               QC_CODE_PARSE, path, "tensor 'a'", "end before they begin");
  /* Any JSON order is fine: sorted by offset they tile the data. */
  ck_assert_ptr_null(open_json("order", "{\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]},"
                                        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, &st, path));
  ck_assert_int_eq(qc_safetensors_count(st), 2);
  ck_assert_str_eq(qc_safetensors_entry_at(st, 0)->name, "a");
  ck_assert_str_eq(qc_safetensors_entry_at(st, 1)->name, "b");
  qc_safetensors_close(st);
}
END_TEST

START_TEST(fp4_misaligned) {
  qc_safetensors *st;
  char path[256];
  expect_error(open_json("fp4_misaligned", "{\"attn.0\":{\"dtype\":\"F4\",\"shape\":[1,3],\"data_offsets\":[0,2]}}", 2,
                         &st, path),
               QC_CODE_PARSE, path, "tensor 'attn.0'", "do not fill whole bytes");
  /* F6: 4 elements are 3 bytes, 2 are not whole */
  ck_assert_ptr_null(open_json("fp6_ok", "{\"x\":{\"dtype\":\"F6_E2M3\",\"shape\":[4],\"data_offsets\":[0,3]}}", 3, &st, path));
  qc_safetensors_close(st);
  expect_error(open_json("fp6_bad", "{\"x\":{\"dtype\":\"F6_E3M2\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, &st, path),
               QC_CODE_PARSE, path, "tensor 'x'", "whole bytes");
}
END_TEST

START_TEST(allowed_shapes_and_padding) {
  qc_safetensors *st;
  char path[256];
  qc_tensor t;
  /* test_zero_sized_tensor: no data at all */
  static const char zero[] = "<\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,0],\"data_offsets\":[0, 0]}}";
  ck_assert_ptr_null(open_case("zero_sized", BYTES(zero), &st, path));
  ck_assert_ptr_null(qc_safetensors_get(st, "test", &t));
  ck_assert_int_eq(t.rank, 2);
  ck_assert_int_eq(t.dims[1], 0);
  ck_assert_uint_eq(qc_tensor_nbytes(&t), 0);
  qc_tensor_release(&t);
  qc_safetensors_close(st);
  /* test_empty_shapes_allowed: rank 0 */
  static const char scalar[] = "8\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]}}\0\0\0\0";
  ck_assert_ptr_null(open_case("scalar", BYTES(scalar), &st, path));
  ck_assert_ptr_null(qc_safetensors_get(st, "test", &t));
  ck_assert_int_eq(t.rank, 0);
  ck_assert_int_eq(t.dtype, QC_I32);
  ck_assert_uint_eq(qc_tensor_nbytes(&t), 4);
  qc_tensor_release(&t);
  qc_safetensors_close(st);
  /* test_whitespace_padded_header and the leading variant */
  ck_assert_ptr_null(open_case("ws_trailing", BYTES("\x06\0\0\0\0\0\0\0{}\x0D\x20\x09\x0A"), &st, path));
  ck_assert_int_eq(qc_safetensors_count(st), 0);
  qc_safetensors_close(st);
  ck_assert_ptr_null(open_case("ws_leading", BYTES("\x06\0\0\0\0\0\0\0\x09\x0A{}\x0D\x20"), &st, path));
  qc_safetensors_close(st);
  /* test_deserialization */
  static const char de[] = "<\0\0\0\0\0\0\0{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"
                           "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
  ck_assert_ptr_null(open_case("deserialize", BYTES(de), &st, path));
  ck_assert_ptr_null(qc_safetensors_get(st, "test", &t));
  ck_assert_int_eq(t.dims[0], 2);
  ck_assert_int_eq(t.dims[1], 2);
  qc_tensor_release(&t);
  expect_error(qc_safetensors_get(st, "nope", &t), QC_CODE_NOT_FOUND, path, "'nope'", NULL);
  qc_safetensors_close(st);
}
END_TEST

/* ---- checks quarc adds (the format asks for them; serde does not enforce them) --------------- */

START_TEST(strict_json) {
  qc_safetensors *st;
  char path[256];
  const char *T = "\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]";
  char j[512];
  snprintf(j, sizeof j, "{\"a\":{%s},\"a\":{%s}}", T, T);
  expect_error(open_json("dup", j, 4, &st, path), QC_CODE_PARSE, path, "tensor 'a'", "duplicate key");
  snprintf(j, sizeof j, "{\"a\":{%s,\"dtype\":\"U8\"}}", T);
  expect_error(open_json("dup_prop", j, 4, &st, path), QC_CODE_PARSE, path, "tensor 'a'", "duplicate property");
  snprintf(j, sizeof j, "{\"a\":{%s,\"extra\":1}}", T);
  expect_error(open_json("extra_prop", j, 4, &st, path), QC_CODE_PARSE, path, "tensor 'a'", "unexpected property \"extra\"");
  expect_error(open_json("no_dtype", "{\"a\":{\"shape\":[4],\"data_offsets\":[0,4]}}", 4, &st, path),
               QC_CODE_PARSE, path, "tensor 'a'", "missing \"dtype\"");
  expect_error(open_json("bad_dtype", "{\"a\":{\"dtype\":\"F7\",\"shape\":[4],\"data_offsets\":[0,4]}}", 4, &st, path),
               QC_CODE_PARSE, path, "tensor 'a'", "unknown dtype \"F7\"");
  expect_error(open_json("lower_dtype", "{\"a\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, &st, path),
               QC_CODE_PARSE, path, "tensor 'a'", "unknown dtype");
  const char *bad_dims[] = {"-1", "-0", "4.0", "4e0", "04", "\"4\"", "null", "[4]"};
  for (size_t i = 0; i < sizeof bad_dims / sizeof *bad_dims; i++) {
    snprintf(j, sizeof j, "{\"a\":{\"dtype\":\"U8\",\"shape\":[%s],\"data_offsets\":[0,4]}}", bad_dims[i]);
    expect_error(open_json("bad_dim", j, 4, &st, path), QC_CODE_PARSE, path, "tensor 'a'", NULL);
  }
  const char *bad_offsets[] = {"[0]", "[0,4,4]", "[0,-4]", "[0,4.5]", "{}", "[0, 4e0]"};
  for (size_t i = 0; i < sizeof bad_offsets / sizeof *bad_offsets; i++) {
    snprintf(j, sizeof j, "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":%s}}", bad_offsets[i]);
    expect_error(open_json("bad_offsets", j, 4, &st, path), QC_CODE_PARSE, path, "tensor 'a'", NULL);
  }
  expect_error(open_json("not_object", "{\"a\":[1]}", 0, &st, path), QC_CODE_PARSE, path, "tensor 'a'", NULL);
  expect_error(open_json("ctrl", "{\"a\x01\":{}}", 0, &st, path), QC_CODE_PARSE, path, "control character", NULL);
  expect_error(open_json("lone_surrogate", "{\"\\ud800\":{}}", 0, &st, path), QC_CODE_PARSE, path, "surrogate", NULL);
  expect_error(open_json("bad_escape", "{\"\\x\":{}}", 0, &st, path), QC_CODE_PARSE, path, "escape", NULL);
  expect_error(open_json("nul_name", "{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, &st, path),
               QC_CODE_UNIMPLEMENTED, path, "U+0000", NULL);
  /* Escaped names are unescaped; a surrogate pair is one code point. */
  ck_assert_ptr_null(open_json("escapes", "{\"a\\\"b\\u00e9\\ud83d\\ude00\\/\":{\"dtype\":\"U8\",\"shape\":[1],"
                                          "\"data_offsets\":[0,1]}}", 1, &st, path));
  ck_assert_str_eq(qc_safetensors_entry_at(st, 0)->name, "a\"b\xc3\xa9\xf0\x9f\x98\x80/");
  qc_safetensors_close(st);
}
END_TEST

START_TEST(metadata_rules) {
  qc_safetensors *st;
  char path[256];
  ck_assert_ptr_null(open_json("meta", "{\"__metadata__\":{\"format\":\"pt\",\"a\":\"\\n\"},"
                                       "\"x\":{\"dtype\":\"BOOL\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &st, path));
  ck_assert_int_eq(qc_safetensors_metadata_count(st), 2);
  ck_assert_str_eq(qc_safetensors_metadata_get(st, "format"), "pt");
  ck_assert_str_eq(qc_safetensors_metadata_get(st, "a"), "\n");
  ck_assert_ptr_null(qc_safetensors_metadata_get(st, "b"));
  const char *k, *v;
  ck_assert(qc_safetensors_metadata_at(st, 1, &k, &v));
  ck_assert_str_eq(k, "a");
  ck_assert(!qc_safetensors_metadata_at(st, 2, &k, &v));
  qc_safetensors_close(st);
  ck_assert_ptr_null(open_json("meta_null", "{\"__metadata__\":null}", 0, &st, path));
  ck_assert_int_eq(qc_safetensors_metadata_count(st), 0);
  qc_safetensors_close(st);
  expect_error(open_json("meta_int", "{\"__metadata__\":{\"n\":1}}", 0, &st, path), QC_CODE_PARSE, path,
               "__metadata__ key 'n'", "must be a string");
  expect_error(open_json("meta_nested", "{\"__metadata__\":{\"n\":{\"a\":\"b\"}}}", 0, &st, path), QC_CODE_PARSE,
               path, "__metadata__ key 'n'", NULL);
  expect_error(open_json("meta_dup", "{\"__metadata__\":{\"n\":\"1\",\"n\":\"2\"}}", 0, &st, path), QC_CODE_PARSE,
               path, "__metadata__", "duplicate key 'n'");
  expect_error(open_json("meta_twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, &st, path), QC_CODE_PARSE,
               path, "duplicate key '__metadata__'", NULL);
  expect_error(open_json("meta_array", "{\"__metadata__\":[]}", 0, &st, path), QC_CODE_PARSE, path, "__metadata__",
               NULL);
}
END_TEST

START_TEST(quarc_limits) {
  qc_safetensors *st;
  char path[256];
  expect_error(open_json("rank9", "{\"r\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
                         &st, path),
               QC_CODE_UNIMPLEMENTED, path, "tensor 'r'", "rank 9");
  ck_assert_ptr_null(open_json("rank8", "{\"r\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,2],\"data_offsets\":[0,2]}}",
                               2, &st, path));
  ck_assert_int_eq(qc_safetensors_entry_at(st, 0)->rank, 8);
  qc_safetensors_close(st);
  expect_error(open_json("bigdim", "{\"r\":{\"dtype\":\"U8\",\"shape\":[0,18446744073709551615],\"data_offsets\":[0,0]}}", 0,
                         &st, path),
               QC_CODE_UNIMPLEMENTED, path, "tensor 'r'", "2^63-1");
}
END_TEST

START_TEST(dtype_table) {
  /* Every safetensors dtype of formats.md §3 maps to a quarc dtype with the same bit width. */
  static const struct {
    const char *name;
    int bits;
  } dts[] = {{"BOOL", 8},   {"F4", 4},      {"F6_E2M3", 6},    {"F6_E3M2", 6},     {"U8", 8},   {"I8", 8},
             {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8},    {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8},
             {"I16", 16},   {"U16", 16},    {"F16", 16},       {"BF16", 16},       {"I32", 32}, {"U32", 32},
             {"F32", 32},   {"C64", 64},    {"F64", 64},       {"I64", 64},        {"U64", 64}};
  for (size_t i = 0; i < sizeof dts / sizeof *dts; i++) {
    qc_dtype d = qc_dtype_from_safetensors(dts[i].name);
    ck_assert_msg(d != QC_DT_UNDEFINED, "%s has no quarc dtype", dts[i].name);
    ck_assert_int_eq(qc_dtype_traits_of(d)->bits, dts[i].bits);
  }
  ck_assert_int_eq(qc_dtype_from_safetensors("F8_E4M3"), QC_F8E4M3FN);
  ck_assert_int_eq(qc_dtype_from_safetensors("F8_E8M0"), QC_E8M0);
  ck_assert_int_eq(qc_dtype_from_safetensors("F4"), QC_F4E2M1);
}
END_TEST

/* ---- the writer ------------------------------------------------------------------------------ */

static void tensor_from(qc_tensor *t, qc_dtype dt, int32_t rank, const int64_t *dims, const void *data) {
  ck_assert_ptr_null(qc_tensor_alloc(t, NULL, dt, rank, dims));
  size_t n = qc_tensor_nbytes(t);
  if (n) memcpy(qc_tensor_data(t), data, n);
}

static void expect_serialized(const char *const *names, const qc_tensor *ts, size_t n,
                              const qc_safetensors_write_options *opt, const unsigned char *want,
                              size_t want_len) {
  qc_buffer *b;
  ck_assert_ptr_null(qc_safetensors_serialize(names, ts, n, opt, &b));
  ck_assert_uint_eq(qc_buffer_size(b), want_len);
  ck_assert_msg(memcmp(qc_buffer_data(b), want, want_len) == 0, "bytes differ: %.*s",
                (int)qc_buffer_size(b) - 8, (const char *)qc_buffer_data(b) + 8);
  /* and it reads back */
  qc_safetensors *st;
  ck_assert_ptr_null(qc_safetensors_open_buffer(b, "serialized", &st));
  ck_assert_int_eq(qc_safetensors_count(st), (int64_t)n);
  qc_safetensors_close(st);
  qc_buffer_release(b);
}

START_TEST(writer_reference_bytes) {
  static const float f6[6] = {0, 1, 2, 3, 4, 5};
  qc_tensor t;
  /* test_serialization */
  static const unsigned char ser[] = {
      64,  0,   0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 46,  48,  34,  58,  123, 34,  100,
      116, 121, 112, 101, 34,  58,  34,  70,  51,  50,  34,  44,  34,  115, 104, 97,  112, 101, 34,  58,  91,
      49,  44,  50,  44,  51,  93,  44,  34,  100, 97,  116, 97,  95,  111, 102, 102, 115, 101, 116, 115, 34,
      58,  91,  48,  44,  50,  52,  93,  125, 125, 0,   0,   0,   0,   0,   0,   128, 63,  0,   0,   0,   64,
      0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64};
  tensor_from(&t, QC_F32, 3, (int64_t[]){1, 2, 3}, f6);
  const char *n1[] = {"attn.0"};
  expect_serialized(n1, &t, 1, NULL, ser, sizeof ser);
  qc_tensor_release(&t);
  /* test_serialization_forced_alignement */
  static const unsigned char forced[] = {
      72,  0,   0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 48,  34,  58,  123, 34,  100, 116,
      121, 112, 101, 34,  58,  34,  70,  51,  50,  34,  44,  34,  115, 104, 97,  112, 101, 34,  58,  91,  49,
      44,  49,  44,  50,  44,  51,  93,  44,  34,  100, 97,  116, 97,  95,  111, 102, 102, 115, 101, 116, 115,
      34,  58,  91,  48,  44,  50,  52,  93,  125, 125, 32,  32,  32,  32,  32,  32,  32,  0,   0,   0,   0,
      0,   0,   128, 63,  0,   0,   0,   64,  0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64};
  tensor_from(&t, QC_F32, 4, (int64_t[]){1, 1, 2, 3}, f6);
  const char *n2[] = {"attn0"};
  expect_serialized(n2, &t, 1, NULL, forced, sizeof forced);
  qc_tensor_release(&t);
  /* test_serialization_fp4 */
  static const unsigned char fp4[] = {
      64,  0,   0,  0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 46,  48,  34,  58,  123, 34,
      100, 116, 121, 112, 101, 34,  58,  34,  70,  52,  34,  44,  34,  115, 104, 97,  112, 101, 34,  58,
      91,  49,  44,  50,  93,  44,  34,  100, 97,  116, 97,  95,  111, 102, 102, 115, 101, 116, 115, 34,
      58,  91,  48,  44,  49,  93,  125, 125, 32,  32,  32,  32,  0};
  tensor_from(&t, QC_F4E2M1, 2, (int64_t[]){1, 2}, "\0");
  expect_serialized(n1, &t, 1, NULL, fp4, sizeof fp4);
  qc_tensor_release(&t);
  /* test_empty, without and with metadata */
  static const unsigned char empty[] = {8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32};
  expect_serialized(NULL, NULL, 0, NULL, empty, sizeof empty);
  static const unsigned char empty_meta[] = {40,  0,   0,   0,   0,   0,   0,   0,   123, 34, 95,  95,
                                             109, 101, 116, 97,  100, 97,  116, 97,  95,  95, 34,  58,
                                             123, 34,  102, 114, 97,  109, 101, 119, 111, 114, 107, 34,
                                             58,  34,  112, 116, 34,  125, 125, 32,  32,  32,  32,  32};
  const char *mk[] = {"framework"}, *mv[] = {"pt"};
  qc_safetensors_write_options opt = {mk, mv, 1, 0};
  expect_serialized(NULL, NULL, 0, &opt, empty_meta, sizeof empty_meta);
}
END_TEST

START_TEST(writer_order_and_escapes) {
  /* dtype descending in the Rust enum order, then name */
  qc_tensor ts[5];
  const char *names[5] = {"b_u8", "a_f32", "z_bool", "c_f32", "q\"\\\n\x01\xc3\xa9"};
  uint8_t zero[16] = {0};
  tensor_from(&ts[0], QC_U8, 1, (int64_t[]){2}, zero);
  tensor_from(&ts[1], QC_F32, 1, (int64_t[]){1}, zero);
  tensor_from(&ts[2], QC_BOOL, 1, (int64_t[]){3}, zero);
  tensor_from(&ts[3], QC_F32, 0, NULL, zero);
  tensor_from(&ts[4], QC_I64, 1, (int64_t[]){1}, zero);
  qc_buffer *b;
  ck_assert_ptr_null(qc_safetensors_serialize(names, ts, 5, NULL, &b));
  const char *h = (const char *)qc_buffer_data(b) + 8;
  const char *want = "{\"q\\\"\\\\\\n\\u0001\xc3\xa9\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                     "\"a_f32\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
                     "\"c_f32\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[12,16]},"
                     "\"b_u8\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[16,18]},"
                     "\"z_bool\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[18,21]}}";
  ck_assert_msg(strncmp(h, want, strlen(want)) == 0, "header %.*s", 300, h);
  qc_safetensors *st;
  ck_assert_ptr_null(qc_safetensors_open_buffer(b, "escapes", &st));
  ck_assert_int_ge(qc_safetensors_find(st, names[4]), 0);
  qc_safetensors_close(st);
  qc_buffer_release(b);
  for (int i = 0; i < 5; i++) qc_tensor_release(&ts[i]);
}
END_TEST

START_TEST(writer_rejects) {
  qc_tensor t[2];
  uint8_t zero[8] = {0};
  tensor_from(&t[0], QC_U8, 1, (int64_t[]){2}, zero);
  tensor_from(&t[1], QC_F4E2M1, 1, (int64_t[]){3}, zero);
  qc_buffer *b;
  const char *dup[] = {"x", "x"};
  expect_error(qc_safetensors_serialize(dup, t, 2, NULL, &b), QC_CODE_INVALID_ARGUMENT, "tensor 'x'", "duplicate", NULL);
  const char *odd[] = {"x", "odd_fp4"};
  expect_error(qc_safetensors_serialize(odd, t, 2, NULL, &b), QC_CODE_INVALID_ARGUMENT, "tensor 'odd_fp4'",
               "whole bytes", NULL);
  const char *meta[] = {"__metadata__"};
  expect_error(qc_safetensors_serialize(meta, t, 1, NULL, &b), QC_CODE_INVALID_ARGUMENT, "__metadata__", NULL, NULL);
  const char *bad[] = {"\xff"};
  expect_error(qc_safetensors_serialize(bad, t, 1, NULL, &b), QC_CODE_INVALID_ARGUMENT, "UTF-8", NULL, NULL);
  qc_tensor q;
  ck_assert_ptr_null(qc_tensor_alloc(&q, NULL, QC_Q4_0, 1, (int64_t[]){32}));
  const char *qn[] = {"q"};
  expect_error(qc_safetensors_serialize(qn, &q, 1, NULL, &b), QC_CODE_UNIMPLEMENTED, "tensor 'q'", "q4_0", NULL);
  qc_tensor_release(&q);
  const char *mk[] = {"k", "k"}, *mv[] = {"1", "2"};
  qc_safetensors_write_options opt = {mk, mv, 2, 0};
  expect_error(qc_safetensors_serialize(NULL, NULL, 0, &opt, &b), QC_CODE_INVALID_ARGUMENT, "metadata key 'k'",
               "duplicate", NULL);
  qc_tensor_release(&t[0]);
  qc_tensor_release(&t[1]);
}
END_TEST

/* ---- round trip through a file, zero copy -------------------------------------------------- */

START_TEST(roundtrip_zero_copy) {
  make_tmpdir();
  char path[256];
  snprintf(path, sizeof path, "%s/roundtrip.safetensors", tmpdir);
  static const qc_dtype dts[] = {QC_F32, QC_F16, QC_BF16, QC_F64, QC_I8, QC_I16, QC_I32, QC_I64, QC_U8, QC_U16,
                                 QC_U32, QC_U64, QC_BOOL, QC_F8E4M3FN, QC_F8E5M2, QC_F8E4M3FNUZ, QC_F8E5M2FNUZ,
                                 QC_E8M0, QC_F4E2M1, QC_F6E2M3, QC_F6E3M2, QC_C64};
  enum { N = sizeof dts / sizeof *dts };
  qc_tensor ts[N];
  char namebuf[N][16];
  const char *names[N];
  for (int i = 0; i < N; i++) {
    int64_t dims[2] = {3, 8};
    ck_assert_ptr_null(qc_tensor_alloc(&ts[i], NULL, dts[i], 2, dims));
    uint8_t *p = qc_tensor_data(&ts[i]);
    for (size_t k = 0; k < qc_tensor_nbytes(&ts[i]); k++) p[k] = (uint8_t)(k * 7 + i);
    if (dts[i] == QC_BOOL)
      for (size_t k = 0; k < qc_tensor_nbytes(&ts[i]); k++) p[k] &= 1;
    snprintf(namebuf[i], sizeof namebuf[i], "t%02d.%s", i, qc_dtype_name(dts[i]));
    names[i] = namebuf[i];
  }
  const char *mk[] = {"format", "quarc"}, *mv[] = {"pt", "yes"};
  qc_safetensors_write_options opt = {mk, mv, 2, 0};
  ck_assert_ptr_null(qc_safetensors_write(path, names, ts, N, &opt));
  qc_safetensors *st;
  ck_assert_ptr_null(qc_safetensors_open(path, &st));
  ck_assert_int_eq(qc_safetensors_count(st), N);
  size_t flen;
  char *fbytes = read_all(path, &flen);
  uint64_t data_start = 8;
  for (int i = 0; i < 8; i++) data_start += (uint64_t)(uint8_t)fbytes[i] << (8 * i);
  free(fbytes);
  ck_assert_uint_eq(data_start % 8, 0);
  ck_assert_str_eq(qc_safetensors_metadata_get(st, "quarc"), "yes");
  /* file order: by dtype, descending */
  ck_assert_str_eq(qc_safetensors_entry_at(st, 0)->name, "t11.u64");
  for (int i = 0; i < N; i++) {
    qc_tensor back;
    ck_assert_ptr_null(qc_safetensors_get(st, names[i], &back));
    ck_assert_msg(qc_tensor_equal(&back, &ts[i]), "%s differs", names[i]);
    const char *origin;
    uint64_t off;
    ck_assert_msg(qc_buffer_origin(back.buf, &origin, &off), "%s is not a view of the file", names[i]);
    ck_assert_str_eq(origin, path);
    const qc_safetensors_entry *e = qc_safetensors_entry_at(st, qc_safetensors_find(st, names[i]));
    ck_assert_uint_eq(off + back.offset, data_start + e->begin);
    qc_tensor_release(&back);
  }
  qc_safetensors_close(st);
  /* The writer is deterministic: a second write gives the same bytes. */
  char path2[256];
  snprintf(path2, sizeof path2, "%s/roundtrip2.safetensors", tmpdir);
  const char *mk2[] = {"quarc", "format"}, *mv2[] = {"yes", "pt"};
  qc_safetensors_write_options opt2 = {mk2, mv2, 2, 0};
  ck_assert_ptr_null(qc_safetensors_write(path2, names, ts, N, &opt2));
  size_t n1, n2;
  char *a = read_all(path, &n1), *b = read_all(path2, &n2);
  ck_assert_uint_eq(n1, n2);
  ck_assert(memcmp(a, b, n1) == 0);
  free(a);
  free(b);
  for (int i = 0; i < N; i++) qc_tensor_release(&ts[i]);
}
END_TEST

/* ---- sharded checkpoints ------------------------------------------------------------------------ */

static void make_dir(char *out, const char *name) {
  make_tmpdir();
  snprintf(out, 256, "%s/%s", tmpdir, name);
  mkdir(out, 0755);
}

START_TEST(sharded_write_and_read) {
  char dir[256];
  make_dir(dir, "sharded");
  /* Byte sizes 40, 40, 200 (oversized), 40, 40 with a 100-byte limit. huggingface_hub
   * appends t2's shard when it meets t2, and closes A={t0,t1} when t3 would overflow it
   * (80+40 > 100), so the files are 1={t2}, 2={t0,t1}, 3={t3,t4}. */
  int64_t sizes[5] = {10, 10, 50, 10, 10};
  qc_tensor ts[5];
  const char *names[5] = {"t0", "t1", "t2", "t3", "t4"};
  for (int i = 0; i < 5; i++) {
    ck_assert_ptr_null(qc_tensor_alloc(&ts[i], NULL, QC_F32, 1, &sizes[i]));
    float *p = qc_tensor_data(&ts[i]);
    for (int k = 0; k < sizes[i]; k++) p[k] = (float)(i * 100 + k);
  }
  qc_safetensors_write_options opt = {NULL, NULL, 0, 100};
  int32_t n_shards;
  ck_assert_ptr_null(qc_safetensors_write_sharded(dir, names, ts, 5, &opt, &n_shards));
  ck_assert_int_eq(n_shards, 3);
  char p[300];
  size_t len;
  snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
  char *idx = read_all(p, &len);
  ck_assert_msg(strstr(idx, "\"total_size\": 360"), "%s", idx);
  ck_assert_msg(strstr(idx, "\"t2\": \"model-00001-of-00003.safetensors\""), "%s", idx);
  ck_assert_msg(strstr(idx, "\"t0\": \"model-00002-of-00003.safetensors\""), "%s", idx);
  ck_assert_msg(strstr(idx, "\"t4\": \"model-00003-of-00003.safetensors\""), "%s", idx);
  free(idx);
  qc_safetensors_set *set;
  ck_assert_ptr_null(qc_safetensors_set_open(dir, &set));
  ck_assert_int_eq(qc_safetensors_set_count(set), 5);
  ck_assert_int_eq(qc_safetensors_set_shard_count(set), 3);
  uint64_t total;
  ck_assert(qc_safetensors_set_total_size(set, &total));
  ck_assert_uint_eq(total, 360);
  for (int i = 0; i < 5; i++) {
    qc_tensor back;
    ck_assert_ptr_null(qc_safetensors_set_get(set, names[i], &back));
    ck_assert(qc_tensor_equal(&back, &ts[i]));
    qc_tensor_release(&back);
  }
  qc_tensor none;
  expect_error(qc_safetensors_set_get(set, "t9", &none), QC_CODE_NOT_FOUND, "'t9'", NULL, NULL);
  qc_safetensors_set_close(set);
  /* the index path works too */
  ck_assert_ptr_null(qc_safetensors_set_open(p, &set));
  ck_assert_int_eq(qc_safetensors_set_count(set), 5);
  qc_safetensors_set_close(set);
  /* one shard: model.safetensors, no index */
  char dir1[256];
  make_dir(dir1, "single");
  ck_assert_ptr_null(qc_safetensors_write_sharded(dir1, names, ts, 5, NULL, &n_shards));
  ck_assert_int_eq(n_shards, 1);
  snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir1);
  ck_assert_int_ne(access(p, F_OK), 0);
  ck_assert_ptr_null(qc_safetensors_set_open(dir1, &set));
  ck_assert_int_eq(qc_safetensors_set_count(set), 5);
  ck_assert(!qc_safetensors_set_total_size(set, &total));
  qc_safetensors_set_close(set);
  for (int i = 0; i < 5; i++) qc_tensor_release(&ts[i]);
}
END_TEST

static void write_index(const char *dir, const char *json) {
  char p[300];
  snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
  write_bytes(p, json, strlen(json));
}

START_TEST(sharded_index_errors) {
  char dir[256];
  make_dir(dir, "bad_index");
  /* two shards a.safetensors {x}, b.safetensors {y} */
  qc_tensor t;
  ck_assert_ptr_null(qc_tensor_alloc(&t, NULL, QC_U8, 1, (int64_t[]){4}));
  char p[300];
  const char *nx[] = {"x"}, *ny[] = {"y"};
  snprintf(p, sizeof p, "%s/a.safetensors", dir);
  ck_assert_ptr_null(qc_safetensors_write(p, nx, &t, 1, NULL));
  snprintf(p, sizeof p, "%s/b.safetensors", dir);
  ck_assert_ptr_null(qc_safetensors_write(p, ny, &t, 1, NULL));
  qc_tensor_release(&t);
  qc_safetensors_set *set;
  write_index(dir, "{\"metadata\":{\"total_size\":8,\"other\":[1,{\"a\":null}]},\"weight_map\":"
                   "{\"x\":\"a.safetensors\",\"y\":\"b.safetensors\"},\"extra\":true}");
  ck_assert_ptr_null(qc_safetensors_set_open(dir, &set));
  ck_assert_int_eq(qc_safetensors_set_count(set), 2);
  qc_safetensors_set_close(set);
  write_index(dir, "{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"a.safetensors\"}}");
  expect_error(qc_safetensors_set_open(dir, &set), QC_CODE_NOT_FOUND, "model.safetensors.index.json",
               "tensor 'y' is mapped to 'a.safetensors'", NULL);
  write_index(dir, "{\"weight_map\":{\"x\":\"b.safetensors\",\"y\":\"a.safetensors\"}}");
  expect_error(qc_safetensors_set_open(dir, &set), QC_CODE_PARSE,
               "tensor 'x' is mapped to 'b.safetensors' but lies in 'a.safetensors'", NULL, NULL);
  write_index(dir, "{\"weight_map\":{\"x\":\"a.safetensors\",\"x\":\"a.safetensors\"}}");
  expect_error(qc_safetensors_set_open(dir, &set), QC_CODE_PARSE, "weight_map: tensor 'x'", "duplicate", NULL);
  write_index(dir, "{\"weight_map\":{\"x\":\"a.safetensors\",\"y\":\"c.safetensors\"}}");
  expect_error(qc_safetensors_set_open(dir, &set), QC_CODE_NOT_FOUND, "shard 'c.safetensors'", "tensor 'y'", NULL);
  write_index(dir, "{\"weight_map\":{\"x\":\"../a.safetensors\"}}");
  expect_error(qc_safetensors_set_open(dir, &set), QC_CODE_PARSE, "tensor 'x'", "plain file name", NULL);
  write_index(dir, "{\"weight_map\":{\"x\":1}}");
  expect_error(qc_safetensors_set_open(dir, &set), QC_CODE_PARSE, "tensor 'x'", NULL, NULL);
  write_index(dir, "{\"metadata\":{}}");
  expect_error(qc_safetensors_set_open(dir, &set), QC_CODE_PARSE, "weight_map", NULL, NULL);
  write_index(dir, "{\"weight_map\":{\"x\":\"a.safetensors\"}} x");
  expect_error(qc_safetensors_set_open(dir, &set), QC_CODE_PARSE, "invalid JSON", NULL, NULL);
  /* the index omits a tensor its shard holds */
  char dir2[256];
  make_dir(dir2, "omitted");
  ck_assert_ptr_null(qc_tensor_alloc(&t, NULL, QC_U8, 1, (int64_t[]){4}));
  const char *nxy[] = {"x", "y"};
  qc_tensor two[2] = {t, t};
  snprintf(p, sizeof p, "%s/a.safetensors", dir2);
  ck_assert_ptr_null(qc_safetensors_write(p, nxy, two, 2, NULL));
  qc_tensor_release(&t);
  write_index(dir2, "{\"weight_map\":{\"x\":\"a.safetensors\"}}");
  expect_error(qc_safetensors_set_open(dir2, &set), QC_CODE_PARSE, "tensor 'y'", "not in the index", NULL);
  char dir3[256];
  make_dir(dir3, "empty_dir");
  expect_error(qc_safetensors_set_open(dir3, &set), QC_CODE_NOT_FOUND, dir3, "neither", NULL);
}
END_TEST

int main(void) {
  Suite *s = suite_create("safetensors");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, header_too_small);
  tcase_add_test(tc, invalid_header_length);
  tcase_add_test(tc, header_too_large);
  tcase_add_test(tc, invalid_header_non_utf8);
  tcase_add_test(tc, invalid_header_not_json);
  tcase_add_test(tc, metadata_incomplete_buffer);
  tcase_add_test(tc, invalid_info);
  tcase_add_test(tc, validation_overflow);
  tcase_add_test(tc, json_attack);
  tcase_add_test(tc, offsets_gaps_and_order);
  tcase_add_test(tc, fp4_misaligned);
  tcase_add_test(tc, allowed_shapes_and_padding);
  tcase_add_test(tc, strict_json);
  tcase_add_test(tc, metadata_rules);
  tcase_add_test(tc, quarc_limits);
  tcase_add_test(tc, dtype_table);
  tcase_add_test(tc, writer_reference_bytes);
  tcase_add_test(tc, writer_order_and_escapes);
  tcase_add_test(tc, writer_rejects);
  tcase_add_test(tc, roundtrip_zero_copy);
  tcase_add_test(tc, sharded_write_and_read);
  tcase_add_test(tc, sharded_index_errors);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  /* remove the scratch directory */
  if (tmpdir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) return 1;
  }
  return failed ? 1 : 0;
}
