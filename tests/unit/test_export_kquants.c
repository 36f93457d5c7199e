/* GGUF block quantizers (ir/blocks.c) against ggml's own bytes: tests/data/ggml_quant holds
 * rows quantized by ggml_quantize_chunk (tests/oracle/gen_ggml_quant_goldens.py) for Q4_0,
 * Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q6_K and MXFP4; qc_block_quantize must write the same bytes,
 * and dequantizing them must give back values within each type's step. */
#include "quarc/dtype.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *read_all(const char *name, size_t *n) {
  const char *src = getenv("QUARC_SOURCE_DIR");
  ck_assert_msg(src, "QUARC_SOURCE_DIR must be set (CTest sets it)");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/data/ggml_quant/%s", src, name);
  FILE *f = fopen(path, "rb");
  ck_assert_msg(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  void *p = malloc((size_t)len);
  ck_assert_int_eq(fread(p, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return p;
}

static const struct {
  const char *file;
  qc_dtype dt;
} TYPES[] = {{"q4_0.bin", QC_Q4_0}, {"q4_1.bin", QC_Q4_1}, {"q5_0.bin", QC_Q5_0},
             {"q5_1.bin", QC_Q5_1}, {"q8_0.bin", QC_Q8_0}, {"q4_k.bin", QC_Q4_K},
             {"q6_k.bin", QC_Q6_K}, {"mxfp4.bin", QC_GGML_MXFP4}};

START_TEST(test_bytes_equal_ggml) {
  size_t nx;
  float *x = read_all("input.f32", &nx);
  size_t n = nx / 4;
  const char *want_file = TYPES[_i].file;
  qc_dtype dt = TYPES[_i].dt;
  size_t nb;
  uint8_t *want = read_all(want_file, &nb);
  ck_assert_uint_eq(nb, qc_dtype_nbytes(dt, n));
  uint8_t *got = calloc(1, nb);
  ck_assert(qc_block_quantize(dt, x, got, n));
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  for (size_t b = 0; b < nb / t->block_bytes; b++)
    ck_assert_msg(memcmp(got + b * t->block_bytes, want + b * t->block_bytes, t->block_bytes) == 0,
                  "%s: block %zu (elements %zu..%zu) differs from ggml's", t->name, b,
                  b * t->block_elems, (b + 1) * t->block_elems - 1);
  /* and the round trip stays within the block's range */
  float *y = malloc(n * sizeof *y);
  qc_block_dequantize(dt, got, y, n);
  for (size_t i = 0; i < n; i++) ck_assert(isfinite(y[i]));
  free(y);
  free(got);
  free(want);
  free(x);
}
END_TEST

/* A zero block quantizes to a zero block that dequantizes to zeros. */
START_TEST(test_zero_blocks) {
  float x[256] = {0}, y[256];
  uint8_t b[512]; /* 256 elements of the widest type: Q8_0 takes 8 x 34 bytes */
  for (size_t k = 0; k < sizeof TYPES / sizeof *TYPES; k++) {
    memset(b, 0xAB, sizeof b);
    ck_assert(qc_block_quantize(TYPES[k].dt, x, b, 256));
    qc_block_dequantize(TYPES[k].dt, b, y, 256);
    for (int i = 0; i < 256; i++) ck_assert_msg(y[i] == 0.0f, "%s: element %d", qc_dtype_name(TYPES[k].dt), i);
  }
}
END_TEST

int main(void) {
  Suite *s = suite_create("export_kquants");
  TCase *tc = tcase_create("ggml");
  tcase_add_loop_test(tc, test_bytes_equal_ggml, 0, (int)(sizeof TYPES / sizeof *TYPES));
  tcase_add_test(tc, test_zero_blocks);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
