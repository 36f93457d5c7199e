/* The blocked f32 GEMM (runtime/gemm.c) against a naive double-precision reference:
 * every micro-kernel the CPU has, sizes that are not multiples of the register or cache
 * blocks, 1xN / Nx1 / K=1, transposed and strided operands, alpha/beta (beta = 0 must
 * not read C), batches, and 1..3 threads. */
#include "runtime/gemm.h"
#include "runtime/internal.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (float)((rng >> 40) & 0xffff) / 32768.0f - 1.0f;
}
static int64_t irand(int64_t lo, int64_t hi) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return lo + (int64_t)((rng >> 20) % (uint64_t)(hi - lo + 1));
}

static const char *KERNELS[] = {"generic", "avx2", "avx512"};

/* One product with freshly drawn data; strides chosen by the flags. Checks every element
 * against the reference with a bound proportional to sum |a||b|. */
static void check_one(qc_pool *pool, int64_t m, int64_t n, int64_t k, bool ta, bool tb, bool tc,
                      int64_t pad, float alpha, float beta, const char *what) {
  /* Stored shapes: A is m x k (or k x m when ta), leading dimension + pad. */
  int64_t ar = ta ? k : m, ac = ta ? m : k, lda = ac + pad;
  int64_t br = tb ? n : k, bc = tb ? k : n, ldb = bc + pad;
  int64_t cr = tc ? n : m, cc = tc ? m : n, ldc = cc + pad;
  float *a = malloc(sizeof(float) * (size_t)(ar * lda + 1));
  float *b = malloc(sizeof(float) * (size_t)(br * ldb + 1));
  float *c = malloc(sizeof(float) * (size_t)(cr * ldc + 1));
  float *c0 = malloc(sizeof(float) * (size_t)(cr * ldc + 1));
  ck_assert(a && b && c && c0);
  for (int64_t i = 0; i < ar * lda; i++) a[i] = frand();
  for (int64_t i = 0; i < br * ldb; i++) b[i] = frand();
  for (int64_t i = 0; i < cr * ldc; i++) c0[i] = beta == 0.0f && (i % 3 == 0) ? NAN : frand();
  memcpy(c, c0, sizeof(float) * (size_t)(cr * ldc));
  int64_t rsa = ta ? 1 : lda, csa = ta ? lda : 1;
  int64_t rsb = tb ? 1 : ldb, csb = tb ? ldb : 1;
  int64_t rsc = tc ? 1 : ldc, csc = tc ? ldc : 1;
  qc_gemm_f32(pool, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0, mag = 0;
      for (int64_t p = 0; p < k; p++) {
        double x = (double)a[i * rsa + p * csa] * (double)b[p * rsb + j * csb];
        s += x;
        mag += fabs(x);
      }
      double old = c0[i * rsc + j * csc];
      double want = alpha * s + (beta == 0.0f ? 0.0 : beta * old);
      double got = c[i * rsc + j * csc];
      double tol = 1e-5 * (fabs(alpha) * mag + (beta == 0.0f ? 0.0 : fabs(beta * old))) + 1e-30;
      ck_assert_msg(fabs(got - want) <= tol,
                    "%s: m=%lld n=%lld k=%lld ta=%d tb=%d tc=%d alpha=%g beta=%g: C[%lld][%lld] = "
                    "%.9g, want %.9g",
                    what, (long long)m, (long long)n, (long long)k, ta, tb, tc, alpha, beta,
                    (long long)i, (long long)j, got, want);
    }
  /* Padding between rows is never written. */
  for (int64_t r = 0; r < cr; r++)
    for (int64_t x = cc; x < ldc; x++)
      ck_assert_msg(memcmp(&c[r * ldc + x], &c0[r * ldc + x], sizeof(float)) == 0,
                    "%s: padding of C written", what);
  free(a);
  free(b);
  free(c);
  free(c0);
}

static void each_kernel_and_pool(void (*body)(qc_pool *pool, const char *what)) {
  for (int ki = 0; ki < 3; ki++) {
    if (!qc_gemm_force_kernel(KERNELS[ki])) continue;
    for (int32_t threads = 1; threads <= 3; threads += 2) { /* 1 and an uneven split */
      qc_pool *pool;
      ck_assert(qc_pool_create(threads, &pool) == QC_OK);
      char what[64];
      snprintf(what, sizeof what, "%s/%d threads", KERNELS[ki], threads);
      body(pool, what);
      qc_pool_destroy(pool);
    }
  }
  ck_assert(qc_gemm_force_kernel("auto"));
}

static void edge_shapes(qc_pool *pool, const char *what) {
  static const int64_t sizes[][3] = {
      {1, 1, 1},   {1, 37, 5},   {37, 1, 5},   {5, 7, 1},    {13, 31, 17}, {14, 32, 256},
      {15, 33, 257}, {28, 64, 1}, {1, 1000, 300}, {300, 1, 77}, {2, 3, 600},  {64, 64, 64},
      {100, 530, 70}, {129, 17, 513}, {3, 1100, 9}, {12, 16, 0},
  };
  for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
    for (int t = 0; t < 8; t++)
      check_one(pool, sizes[s][0], sizes[s][1], sizes[s][2], t & 1, t & 2, t & 4, t == 3 ? 3 : 0,
                1.0f, 0.0f, what);
}

static void random_shapes(qc_pool *pool, const char *what) {
  for (int r = 0; r < 25; r++) {
    int64_t m = irand(1, 90), n = irand(1, 90), k = irand(1, 300);
    float alpha = r % 4 == 0 ? 1.0f : frand() * 2, beta = r % 3 == 0 ? 0.0f : frand();
    check_one(pool, m, n, k, irand(0, 1), irand(0, 1), r % 7 == 0, irand(0, 2), alpha, beta,
              what);
  }
}

static void large_shape(qc_pool *pool, const char *what) {
  /* Several column blocks, row splits across threads and depth blocks. */
  check_one(pool, 203, 1100, 600, false, false, false, 0, 0.5f, 2.0f, what);
  check_one(pool, 203, 700, 300, true, true, false, 1, 1.0f, 1.0f, what);
  /* Few-row products big enough to be split across threads: row-major and transposed B. */
  check_one(pool, 5, 2000, 300, false, false, false, 0, 1.0f, 0.0f, what);
  check_one(pool, 20, 1500, 200, false, false, false, 2, 0.5f, 1.0f, what);
  check_one(pool, 7, 1700, 400, false, true, false, 0, 1.0f, 0.0f, what);
}

START_TEST(edges) { each_kernel_and_pool(edge_shapes); }
END_TEST

START_TEST(random_sizes) { each_kernel_and_pool(random_shapes); }
END_TEST

START_TEST(large) { each_kernel_and_pool(large_shape); }
END_TEST

START_TEST(alpha_zero_and_k_zero) {
  float c[6] = {1, 2, 3, 4, 5, 6}, a[6] = {NAN, 0, 0, 0, 0, 0}, b[6] = {0};
  qc_gemm_f32(NULL, 2, 3, 2, 0.0f, a, 2, 1, b, 3, 1, 2.0f, c, 3, 1);
  for (int i = 0; i < 6; i++) ck_assert_float_eq(c[i], 2.0f * (float)(i + 1));
  qc_gemm_f32(NULL, 2, 3, 0, 1.0f, a, 2, 1, b, 3, 1, 0.0f, c, 3, 1);
  for (int i = 0; i < 6; i++) ck_assert_float_eq(c[i], 0.0f);
}
END_TEST

START_TEST(sgemm_and_batch) {
  qc_pool *pool;
  ck_assert(qc_pool_create(2, &pool) == QC_OK);
  enum { B = 7, M = 9, N = 11, K = 13 };
  float a[B][K][M], b[N][K], c[B][M][N], want[B][M][N];
  for (int x = 0; x < B; x++)
    for (int p = 0; p < K; p++)
      for (int i = 0; i < M; i++) a[x][p][i] = frand();
  for (int j = 0; j < N; j++)
    for (int p = 0; p < K; p++) b[j][p] = frand();
  for (int x = 0; x < B; x++)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        double s = 0;
        for (int p = 0; p < K; p++) s += (double)a[x][p][i] * b[j][p];
        want[x][i][j] = (float)s;
      }
  /* A transposed per batch, B transposed and shared (stride 0). */
  qc_gemm_f32_batch(pool, B, M, N, K, 1.0f, &a[0][0][0], K * M, 1, M, &b[0][0], 0, 1, K, 0.0f,
                    &c[0][0][0], M * N, N, 1);
  for (int x = 0; x < B; x++)
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) ck_assert_float_eq_tol(c[x][i][j], want[x][i][j], 1e-4);
  memset(c, 0, sizeof c);
  qc_sgemm(pool, true, true, M, N, K, 1.0f, &a[3][0][0], M, &b[0][0], K, 0.0f, &c[3][0][0], N);
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) ck_assert_float_eq_tol(c[3][i][j], want[3][i][j], 1e-4);
  qc_pool_destroy(pool);
}
END_TEST

START_TEST(kernel_choice) {
  int32_t mr, nr;
  const char *name = qc_gemm_kernel_name(&mr, &nr);
  ck_assert(name && mr > 0 && nr > 0);
  ck_assert(qc_gemm_force_kernel("generic"));
  ck_assert_str_eq(qc_gemm_kernel_name(NULL, NULL), "generic");
  ck_assert(!qc_gemm_force_kernel("nonesuch"));
  ck_assert(qc_gemm_force_kernel("auto"));
  ck_assert_str_eq(qc_gemm_kernel_name(NULL, NULL), name);
}
END_TEST

int main(void) {
  Suite *s = suite_create("gemm");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, edges);
  tcase_add_test(tc, random_sizes);
  tcase_add_test(tc, large);
  tcase_add_test(tc, alpha_zero_and_k_zero);
  tcase_add_test(tc, sgemm_and_batch);
  tcase_add_test(tc, kernel_choice);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
