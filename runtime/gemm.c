/*
 * The f32 GEMM (see gemm.h), organised as BLIS organises it, transposed so that the
 * vector lanes run along the columns of C (row-major C is the common case here):
 *
 *   task (jb, ib)                      one per block of NB columns x a range of rows
 *     for pc in K step KC              (C accumulates across pc: beta on the first only)
 *       pack B[pc.., jb..] -> Bp       KC x NB, column panels of NR: stays in L2
 *       for ir in rows step MR
 *         pack A[ir.., pc..] -> Ap     MR x KC micro-panel: stays in L1
 *         for jr in NB step NR
 *           micro-kernel               MR x NR tile of C in registers, streaming Bp from L2
 *
 * Tasks run on the pool; each takes a scratch slot (its own Bp and Ap) for its duration.
 * Edge tiles (fewer than MR rows or NR columns, or a C with a column stride) are
 * computed into a small buffer and merged. When a task has few rows (<= 96), packing B
 * would cost about as much as using it, so full panels of a row-major B are read in
 * place (the micro-kernel takes B's row stride).
 *
 * Products of up to 32 rows (8 without AVX-512) skip packing altogether: rows of C stay
 * in registers while rows of B stream through once (few_range); one column of C is the
 * transposed one-row product.
 *
 * Micro-kernels: AVX-512 14x32 (28 zmm accumulators), AVX2+FMA 6x16 (12 ymm), and a
 * portable 4x16 in plain C. They are compiled with target attributes and chosen with
 * __builtin_cpu_supports, so the library needs no special compiler flags.
 */
#include "runtime/gemm.h"

#include "runtime/internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define QC_GEMM_X86 1
#include <immintrin.h>
#else
#define QC_GEMM_X86 0
#endif

#ifndef QC_GEMM_KC
#define QC_GEMM_KC 256 /* depth of a packed block: the Ap micro-panel, MR*KC floats, fits L1 */
#endif
#ifndef QC_GEMM_DIRECT_B_ROWS
#define QC_GEMM_DIRECT_B_ROWS 96
#endif
#ifndef QC_GEMM_NB
#define QC_GEMM_NB 512 /* columns of a packed B block: KC*NB floats = 512 KiB, half an L2 */
#endif
enum {
  KC = QC_GEMM_KC,
  NB = QC_GEMM_NB,
  MAX_MR = 16,
  MAX_NR = 32,
  ALIGN = 64,
};

/* C[0..mr)[0..nr) = alpha * sum_p ap[p*mr + i] * bp[p*ldb + j] (+ beta * C). B rows are
 * ldb floats apart: nr for a packed panel, the matrix's row stride when B is read in place. */
typedef void (*ukernel_fn)(int64_t kc, const float *ap, const float *bp, int64_t ldb, float *c,
                           int64_t ldc, float alpha, float beta);
typedef void (*axpy_fn)(int64_t n, float a, const float *x, float *y);
typedef float (*dot_fn)(int64_t n, const float *x, const float *y);
/* t[i][0..w) += sum_{p < kb} A[i][p] * B[p][0..w) for i < m <= 8; A[i][p] = a[i*rsa + p*csa],
 * B row p at b + p*rsb, t rows of w floats. */
typedef void (*rows_fn)(int64_t m, int64_t kb, int64_t w, const float *a, int64_t rsa, int64_t csa,
                        const float *b, int64_t rsb, float *t);

typedef void (*pack_a_fn)(int32_t mr, int64_t mi, int64_t kc, const float *a, int64_t rsa,
                          int64_t csa, float *ap);

static void pack_a(int32_t mr, int64_t mi, int64_t kc, const float *a, int64_t rsa, int64_t csa,
                   float *ap);

typedef struct gemm_kernel {
  const char *name;
  int32_t mr, nr;
  ukernel_fn ukr;
  pack_a_fn pack_a;
  axpy_fn axpy;
  dot_fn dot;
  rows_fn rows; /* few-row products streaming B (NULL: axpy rows) */
} gemm_kernel;

/* ---- portable kernels ------------------------------------------------------------------------ */

enum { G_MR = 4, G_NR = 16 };

static void ukr_generic(int64_t kc, const float *ap, const float *bp, int64_t ldb, float *c,
                        int64_t ldc, float alpha, float beta) {
  float acc[G_MR][G_NR];
  memset(acc, 0, sizeof acc);
  for (int64_t p = 0; p < kc; p++) {
    const float *b = bp + p * ldb;
    const float *a = ap + p * G_MR;
    for (int i = 0; i < G_MR; i++)
      for (int j = 0; j < G_NR; j++) acc[i][j] += a[i] * b[j];
  }
  for (int i = 0; i < G_MR; i++) {
    float *ci = c + i * ldc;
    if (beta == 0.0f)
      for (int j = 0; j < G_NR; j++) ci[j] = alpha * acc[i][j];
    else
      for (int j = 0; j < G_NR; j++) ci[j] = alpha * acc[i][j] + beta * ci[j];
  }
}

static void axpy_generic(int64_t n, float a, const float *x, float *y) {
  for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

static float dot_generic(int64_t n, const float *x, const float *y) {
  /* Eight partial sums: vectorizable, and closer to the SIMD kernels' rounding. */
  float s[8] = {0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) s[l] += x[i + l] * y[i + l];
  float t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; i++) t += x[i] * y[i];
  return t;
}

/* ---- AVX2 + FMA ------------------------------------------------------------------------------ */

#if QC_GEMM_X86
#define QC_AVX2 __attribute__((target("avx2,fma")))
#define QC_AVX512 __attribute__((target("avx512f,avx2,fma")))

enum { A2_MR = 6, A2_NR = 16 };

QC_AVX2 static void ukr_avx2(int64_t kc, const float *ap, const float *bp, int64_t ldb, float *c,
                              int64_t ldc, float alpha, float beta) {
  __m256 acc[A2_MR][2];
#pragma GCC unroll 8
  for (int i = 0; i < A2_MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t p = 0; p < kc; p++) {
    __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
#pragma GCC unroll 8
    for (int i = 0; i < A2_MR; i++) {
      __m256 a = _mm256_broadcast_ss(ap + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += A2_MR;
    bp += ldb;
  }
  __m256 va = _mm256_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 8
    for (int i = 0; i < A2_MR; i++) {
      _mm256_storeu_ps(c + i * ldc, _mm256_mul_ps(va, acc[i][0]));
      _mm256_storeu_ps(c + i * ldc + 8, _mm256_mul_ps(va, acc[i][1]));
    }
  } else {
    __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 8
    for (int i = 0; i < A2_MR; i++) {
      float *ci = c + i * ldc;
      _mm256_storeu_ps(ci, _mm256_fmadd_ps(va, acc[i][0], _mm256_mul_ps(vb, _mm256_loadu_ps(ci))));
      _mm256_storeu_ps(ci + 8,
                       _mm256_fmadd_ps(va, acc[i][1], _mm256_mul_ps(vb, _mm256_loadu_ps(ci + 8))));
    }
  }
}

QC_AVX2 static void axpy_avx2(int64_t n, float a, const float *x, float *y) {
  __m256 va = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    _mm256_storeu_ps(y + i + 8,
                     _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
  }
  for (; i < n; i++) y[i] += a * x[i];
}

QC_AVX2 static float dot_avx2(int64_t n, const float *x, const float *y) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
  }
  s0 = _mm256_add_ps(s0, s1);
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float t = _mm_cvtss_f32(h);
  for (; i < n; i++) t += x[i] * y[i];
  return t;
}

/* ---- AVX-512 --------------------------------------------------------------------------------- */

#ifndef QC_GEMM_A5_MR
#define QC_GEMM_A5_MR 14
#endif
#ifndef QC_GEMM_PF
#define QC_GEMM_PF 8
#endif
enum { A5_MR = QC_GEMM_A5_MR, A5_NR = 32 };

QC_AVX512 static void ukr_avx512(int64_t kc, const float *ap, const float *bp, int64_t ldb,
                                 float *c, int64_t ldc, float alpha, float beta) {
  __m512 acc[A5_MR][2];
#pragma GCC unroll 16
  for (int i = 0; i < A5_MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; p++) {
    __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#ifndef QC_GEMM_NO_PF
    _mm_prefetch((const char *)(bp + QC_GEMM_PF * ldb), _MM_HINT_T0);
    _mm_prefetch((const char *)(bp + QC_GEMM_PF * ldb + 16), _MM_HINT_T0);
#endif
#pragma GCC unroll 16
    for (int i = 0; i < A5_MR; i++) {
      __m512 a = _mm512_set1_ps(ap[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += A5_MR;
    bp += ldb;
  }
  __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < A5_MR; i++) {
      _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(va, acc[i][0]));
      _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(va, acc[i][1]));
    }
  } else {
    __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 16
    for (int i = 0; i < A5_MR; i++) {
      float *ci = c + i * ldc;
      _mm512_storeu_ps(ci, _mm512_fmadd_ps(va, acc[i][0], _mm512_mul_ps(vb, _mm512_loadu_ps(ci))));
      _mm512_storeu_ps(ci + 16, _mm512_fmadd_ps(va, acc[i][1],
                                                _mm512_mul_ps(vb, _mm512_loadu_ps(ci + 16))));
    }
  }
}

QC_AVX512 static void axpy_avx512(int64_t n, float a, const float *x, float *y) {
  __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    _mm512_storeu_ps(y + i + 16,
                     _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16)));
  }
  if (i < n) {
    for (; i + 16 <= n; i += 16)
      _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (i < n) {
      __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
      __m512 xv = _mm512_maskz_loadu_ps(m, x + i), yv = _mm512_maskz_loadu_ps(m, y + i);
      _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(va, xv, yv));
    }
  }
}

QC_AVX512 static float dot_avx512(int64_t n, const float *x, const float *y) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), s1);
  }
  for (; i + 16 <= n; i += 16)
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
  if (i < n) {
    __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), s1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

/* Row-major A (csa == 1) is packed 16 columns at a time: 16 rows loaded as vectors
 * (rows past mi are zero), transposed in registers, and stored as 16 rows of mr. The
 * stores write 16 lanes under a mask of mr, so nothing beyond the panel is touched. */
QC_AVX512 static void pack_a_avx512(int32_t mr, int64_t mi, int64_t kc, const float *a,
                                    int64_t rsa, int64_t csa, float *ap) {
  if (mr > 16 || (csa != 1 && rsa != 1)) {
    pack_a(mr, mi, kc, a, rsa, csa, ap);
    return;
  }
  __mmask16 mask = (__mmask16)((1u << mr) - 1);
  if (csa != 1) {
    /* Transposed A: each column of the micro-panel is contiguous; rows past mi read as 0. */
    __mmask16 valid = (__mmask16)((1u << mi) - 1);
    for (int64_t p = 0; p < kc; p++)
      _mm512_mask_storeu_ps(ap + p * mr, mask, _mm512_maskz_loadu_ps(valid, a + p * csa));
    return;
  }
  int64_t p = 0;
  for (; p + 16 <= kc; p += 16) {
    __m512 r[16], t[16], u[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
      r[i] = i < mi ? _mm512_loadu_ps(a + i * rsa + p) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++) {
      t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
      t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
    }
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++) {
      __m512d t0 = _mm512_castps_pd(t[4 * m]), t1 = _mm512_castps_pd(t[4 * m + 1]);
      __m512d t2 = _mm512_castps_pd(t[4 * m + 2]), t3 = _mm512_castps_pd(t[4 * m + 3]);
      u[4 * m + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));
      u[4 * m + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2));
      u[4 * m + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3));
      u[4 * m + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3));
    }
    /* u[4M + c] lane L holds column 4L + c of rows 4M..4M+3: transpose the 128-bit lanes. */
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
      __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44);
      __m512 x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
      __m512 x2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44);
      __m512 x3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
      float *d = ap + (p + c) * mr;
      _mm512_mask_storeu_ps(d, mask, _mm512_shuffle_f32x4(x0, x2, 0x88));
      _mm512_mask_storeu_ps(d + 4 * mr, mask, _mm512_shuffle_f32x4(x0, x2, 0xDD));
      _mm512_mask_storeu_ps(d + 8 * mr, mask, _mm512_shuffle_f32x4(x1, x3, 0x88));
      _mm512_mask_storeu_ps(d + 12 * mr, mask, _mm512_shuffle_f32x4(x1, x3, 0xDD));
    }
  }
  for (; p < kc; p++) {
    float *d = ap + p * mr;
    for (int64_t i = 0; i < mr; i++) d[i] = i < mi ? a[i * rsa + p] : 0.0f;
  }
}

/* Few-row products: C rows held in registers for a 32-column strip while kb rows of B
 * stream through; one specialization per row count so the accumulators stay in registers. */
#define QC_ROWS_AVX512(M)                                                                         \
  QC_AVX512 static void rows_avx512_##M(int64_t kb, int64_t w, const float *a, int64_t rsa,      \
                                        int64_t csa, const float *b, int64_t rsb, float *t) {     \
    for (int64_t j = 0; j < w; j += 32) {                                                         \
      int64_t left = w - j;                                                                       \
      __mmask16 m0 = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);              \
      __mmask16 m1 = left >= 32 ? (__mmask16)0xFFFF                                               \
                                : left > 16 ? (__mmask16)((1u << (left - 16)) - 1) : 0;           \
      __m512 acc[M][2];                                                                           \
      _Pragma("GCC unroll 8") for (int i = 0; i < M; i++) {                                       \
        acc[i][0] = _mm512_maskz_loadu_ps(m0, t + i * w + j);                                     \
        acc[i][1] = _mm512_maskz_loadu_ps(m1, t + i * w + j + 16);                                \
      }                                                                                           \
      for (int64_t p = 0; p < kb; p++) {                                                          \
        const float *bp = b + p * rsb + j;                                                        \
        __m512 b0 = _mm512_maskz_loadu_ps(m0, bp), b1 = _mm512_maskz_loadu_ps(m1, bp + 16);       \
        _Pragma("GCC unroll 8") for (int i = 0; i < M; i++) {                                     \
          __m512 ai = _mm512_set1_ps(a[i * rsa + p * csa]);                                       \
          acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);                                         \
          acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);                                         \
        }                                                                                         \
      }                                                                                           \
      _Pragma("GCC unroll 8") for (int i = 0; i < M; i++) {                                       \
        _mm512_mask_storeu_ps(t + i * w + j, m0, acc[i][0]);                                      \
        _mm512_mask_storeu_ps(t + i * w + j + 16, m1, acc[i][1]);                                 \
      }                                                                                           \
    }                                                                                             \
  }
QC_ROWS_AVX512(1)
QC_ROWS_AVX512(2)
QC_ROWS_AVX512(3)
QC_ROWS_AVX512(4)
QC_ROWS_AVX512(5)
QC_ROWS_AVX512(6)
QC_ROWS_AVX512(7)
QC_ROWS_AVX512(8)
#undef QC_ROWS_AVX512

static void rows_avx512(int64_t m, int64_t kb, int64_t w, const float *a, int64_t rsa, int64_t csa,
                        const float *b, int64_t rsb, float *t) {
  switch (m) {
  case 1: rows_avx512_1(kb, w, a, rsa, csa, b, rsb, t); break;
  case 2: rows_avx512_2(kb, w, a, rsa, csa, b, rsb, t); break;
  case 3: rows_avx512_3(kb, w, a, rsa, csa, b, rsb, t); break;
  case 4: rows_avx512_4(kb, w, a, rsa, csa, b, rsb, t); break;
  case 5: rows_avx512_5(kb, w, a, rsa, csa, b, rsb, t); break;
  case 6: rows_avx512_6(kb, w, a, rsa, csa, b, rsb, t); break;
  case 7: rows_avx512_7(kb, w, a, rsa, csa, b, rsb, t); break;
  default: rows_avx512_8(kb, w, a, rsa, csa, b, rsb, t); break;
  }
}
#endif /* QC_GEMM_X86 */

/* ---- kernel selection ------------------------------------------------------------------------ */

static const gemm_kernel k_generic = {"generic", G_MR, G_NR, ukr_generic, pack_a, axpy_generic,
                                      dot_generic, NULL};
#if QC_GEMM_X86
static const gemm_kernel k_avx2 = {"avx2", A2_MR, A2_NR, ukr_avx2, pack_a, axpy_avx2, dot_avx2,
                                   NULL};
static const gemm_kernel k_avx512 = {"avx512", A5_MR, A5_NR, ukr_avx512, pack_a_avx512,
                                     axpy_avx512, dot_avx512, rows_avx512};
#endif

static const gemm_kernel *_Atomic k_active;
static const gemm_kernel *k_best;
static pthread_once_t k_once = PTHREAD_ONCE_INIT;

static bool cpu_has(const char *name) {
#if QC_GEMM_X86
  __builtin_cpu_init();
  if (strcmp(name, "avx512") == 0) return __builtin_cpu_supports("avx512f");
  if (strcmp(name, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return strcmp(name, "generic") == 0;
}

static void pick_kernel(void) {
  k_best = &k_generic;
#if QC_GEMM_X86
  if (cpu_has("avx2")) k_best = &k_avx2;
  if (cpu_has("avx512")) k_best = &k_avx512;
#endif
  atomic_store(&k_active, k_best);
}

static const gemm_kernel *kernel(void) {
  pthread_once(&k_once, pick_kernel);
  return atomic_load(&k_active);
}

void qc_f32_axpy(int64_t n, float a, const float *x, float *y) { kernel()->axpy(n, a, x, y); }

float qc_f32_dot(int64_t n, const float *x, const float *y) { return kernel()->dot(n, x, y); }

const char *qc_gemm_kernel_name(int32_t *mr, int32_t *nr) {
  const gemm_kernel *k = kernel();
  if (mr) *mr = k->mr;
  if (nr) *nr = k->nr;
  return k->name;
}

bool qc_gemm_force_kernel(const char *name) {
  pthread_once(&k_once, pick_kernel);
  if (strcmp(name, "auto") == 0) {
    atomic_store(&k_active, k_best);
    return true;
  }
  if (!cpu_has(name)) return false;
  const gemm_kernel *k = &k_generic;
#if QC_GEMM_X86
  if (strcmp(name, "avx2") == 0) k = &k_avx2;
  if (strcmp(name, "avx512") == 0) k = &k_avx512;
#endif
  atomic_store(&k_active, k);
  return true;
}

/* ---- packing --------------------------------------------------------------------------------- */

/* ap[p*mr + i] = A[i][p] for i < mi (zero for mi <= i < mr), p < kc. */
static void pack_a(int32_t mr, int64_t mi, int64_t kc, const float *a, int64_t rsa, int64_t csa,
                   float *ap) {
  if (mi < mr) memset(ap, 0, sizeof(float) * (size_t)(mr * kc));
  if (rsa == 1) {
    for (int64_t p = 0; p < kc; p++) {
      const float *src = a + p * csa;
      float *dst = ap + p * mr;
      for (int64_t i = 0; i < mi; i++) dst[i] = src[i];
    }
  } else {
    for (int64_t i = 0; i < mi; i++) {
      const float *src = a + i * rsa;
      float *dst = ap + i;
      if (csa == 1)
        for (int64_t p = 0; p < kc; p++) dst[p * mr] = src[p];
      else
        for (int64_t p = 0; p < kc; p++) dst[p * mr] = src[p * csa];
    }
  }
}

/* Column panels of nr: panel q holds bp[q*nr*kc + p*nr + j] = B[p][q*nr + j] for j < nj
 * (zero beyond), p < kc. Row-major B is read row by row, once. */
static void pack_b(int32_t nr, int64_t nj, int64_t kc, const float *b, int64_t rsb, int64_t csb,
                   float *bp) {
  int64_t full = nj / nr, rem = nj - full * nr;
  if (rem) memset(bp + full * nr * kc, 0, sizeof(float) * (size_t)(nr * kc));
  if (csb == 1) {
    for (int64_t p = 0; p < kc; p++) {
      const float *src = b + p * rsb;
      float *dst = bp + p * nr;
      for (int64_t q = 0; q < full; q++) {
        const float *s = src + q * nr;
        float *d = dst + q * nr * kc;
        for (int32_t j = 0; j < nr; j++) d[j] = s[j];
      }
      if (rem) memcpy(dst + full * nr * kc, src + full * nr, sizeof(float) * (size_t)rem);
    }
    return;
  }
  for (int64_t q = 0; q * nr < nj; q++) {
    int64_t w = q < full ? nr : rem;
    float *panel = bp + q * nr * kc;
    const float *src = b + q * nr * csb;
    if (rsb == 1) {
      for (int64_t j = 0; j < w; j++) {
        const float *s = src + j * csb;
        for (int64_t p = 0; p < kc; p++) panel[p * nr + j] = s[p];
      }
    } else {
      for (int64_t p = 0; p < kc; p++)
        for (int64_t j = 0; j < w; j++) panel[p * nr + j] = src[p * rsb + j * csb];
    }
  }
}

/* ---- the blocked product --------------------------------------------------------------------- */

typedef struct gemm_job {
  const gemm_kernel *kr;
  int64_t m, n, k;
  float alpha, beta;
  const float *a, *b;
  int64_t rsa, csa, rsb, csb, rsc, csc;
  float *c;
  /* Task grid: n_jb column blocks of nb, n_ib row ranges of ib rows. */
  int64_t nb, ib, n_jb, n_ib, kc;
  bool direct_b; /* full column panels of a row-major B are read in place, not packed */
  qc_gemm_pack_b_fn pack_fn; /* a virtual B packs itself (then b is unused) */
  void *pack_ctx;
  /* Scratch slots: one per concurrent task. */
  int32_t n_slots;
  atomic_flag *busy;
  float *scratch;
  size_t slot_floats;
} gemm_job;

static float *slot_take(gemm_job *j, int32_t *slot) {
  for (;;)
    for (int32_t s = 0; s < j->n_slots; s++)
      if (!atomic_flag_test_and_set(&j->busy[s])) {
        *slot = s;
        return j->scratch + (size_t)s * j->slot_floats;
      }
}

/* C[0..mi, 0..nj] (alpha * tile already applied) merged with beta. */
static void merge_tile(const float *t, int32_t nr, int64_t mi, int64_t nj, float *c, int64_t rsc,
                       int64_t csc, float beta) {
  for (int64_t i = 0; i < mi; i++)
    for (int64_t j = 0; j < nj; j++) {
      float *d = c + i * rsc + j * csc;
      *d = beta == 0.0f ? t[i * nr + j] : t[i * nr + j] + beta * *d;
    }
}

static void gemm_task(gemm_job *jb, int64_t task, float *bp, float *ap, float *tile) {
  const gemm_kernel *kr = jb->kr;
  const int32_t mr = kr->mr, nr = kr->nr;
  int64_t jblk = task / jb->n_ib, iblk = task % jb->n_ib;
  int64_t j0 = jblk * jb->nb, nj = jb->n - j0 < jb->nb ? jb->n - j0 : jb->nb;
  int64_t i0 = iblk * jb->ib, ni = jb->m - i0 < jb->ib ? jb->m - i0 : jb->ib;
  int64_t full = jb->direct_b ? nj / nr * nr : 0; /* columns read in place */
  for (int64_t p0 = 0; p0 < jb->k; p0 += jb->kc) {
    int64_t kc = jb->k - p0 < jb->kc ? jb->k - p0 : jb->kc;
    float beta = p0 == 0 ? jb->beta : 1.0f;
    const float *bsrc = jb->b ? jb->b + p0 * jb->rsb + j0 * jb->csb : NULL;
    if (jb->pack_fn) jb->pack_fn(jb->pack_ctx, p0, kc, j0, nj, nr, bp);
    else if (full < nj) pack_b(nr, nj - full, kc, bsrc + full * jb->csb, jb->rsb, jb->csb, bp);
    for (int64_t i = 0; i < ni; i += mr) {
      int64_t mi = ni - i < mr ? ni - i : mr;
      kr->pack_a(mr, mi, kc, jb->a + (i0 + i) * jb->rsa + p0 * jb->csa, jb->rsa, jb->csa, ap);
      float *crow = jb->c + (i0 + i) * jb->rsc + j0 * jb->csc;
      for (int64_t j = 0; j < nj; j += nr) {
        int64_t w = nj - j < nr ? nj - j : nr;
        float *cij = crow + j * jb->csc;
        const float *bpan = j < full ? bsrc + j : bp + ((j - full) / nr) * nr * kc;
        int64_t ldb = j < full ? jb->rsb : nr;
        if (mi == mr && w == nr && jb->csc == 1) {
          kr->ukr(kc, ap, bpan, ldb, cij, jb->rsc, jb->alpha, beta);
        } else {
          kr->ukr(kc, ap, bpan, ldb, tile, nr, jb->alpha, 0.0f);
          merge_tile(tile, nr, mi, w, cij, jb->rsc, jb->csc, beta);
        }
      }
    }
  }
}

static void gemm_range(void *ctx, int64_t begin, int64_t end) {
  gemm_job *jb = ctx;
  int32_t slot;
  float *s = slot_take(jb, &slot);
  float *bp = s;
  float *ap = bp + jb->kc * jb->nb;
  float *tile = ap + (size_t)MAX_MR * (size_t)jb->kc;
  for (int64_t t = begin; t < end; t++) gemm_task(jb, t, bp, ap, tile);
  atomic_flag_clear(&jb->busy[slot]);
}

/* Naive product: the fallback when scratch memory cannot be had, and the reference order
 * (p innermost) for tiny shapes. */
static void gemm_naive(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t rsa,
                       int64_t csa, const float *b, int64_t rsb, int64_t csb, float beta, float *c,
                       int64_t rsc, int64_t csc) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      float s = 0;
      for (int64_t p = 0; p < k; p++) s += a[i * rsa + p * csa] * b[p * rsb + j * csb];
      float *d = c + i * rsc + j * csc;
      *d = beta == 0.0f ? alpha * s : alpha * s + beta * *d;
    }
}

static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t rsc, int64_t csc) {
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      float *d = c + i * rsc + j * csc;
      *d = beta == 0.0f ? 0.0f : beta * *d;
    }
}

/* ---- few-row products (m <= FEW_ROWS): B is streamed once, without packing ------------------
 *
 * Memory-bound shapes (one token through a linear layer, an RNN step over a small batch)
 * gain nothing from packing B, which costs as much as the product. Row-major B: each row of
 * a column block of B is applied to every row of C by axpy, so B is read once. B with unit
 * row stride (a transposed weight): dot products of A's rows with B's columns. */

/* Up to FEW_ROWS rows through the register-blocked `rows` kernel (in groups of 8 that reuse
 * each block of B from cache), FEW_ROWS_AXPY through plain axpys. */
enum { FEW_ROWS = 32, FEW_ROWS_AXPY = 8, FEW_COLS = 256, FEW_KB = 16 };

typedef struct few_job {
  const gemm_kernel *kr;
  int64_t m, n, k;
  int64_t cols;        /* columns per task: long contiguous runs of each row of B */
  float alpha, beta;
  const float *a, *b;
  int64_t rsa, csa, rsb, csb, rsc, csc;
  float *c;
} few_job;

static void few_store(const few_job *g, int64_t i, int64_t j, float v) {
  float *d = g->c + i * g->rsc + j * g->csc;
  *d = g->beta == 0.0f ? g->alpha * v : g->alpha * v + g->beta * *d;
}

static void few_range(void *ctx, int64_t begin, int64_t end) {
  few_job *g = ctx;
  int64_t j0 = begin * g->cols, j1 = end * g->cols < g->n ? end * g->cols : g->n;
  if (g->csb == 1) {
    /* Accumulators for the whole column range (m x cols floats, L2-sized), so that B is read
     * in long sequential runs; a small stack block if that memory cannot be had. */
    float stack_acc[FEW_ROWS * FEW_COLS];
    int64_t width = j1 - j0;
    float *acc = width > FEW_COLS ? malloc(sizeof(float) * (size_t)(g->m * width)) : NULL;
    if (!acc) {
      acc = stack_acc;
      width = FEW_COLS;
    }
    for (int64_t jc = j0; jc < j1; jc += width) {
      int64_t w = j1 - jc < width ? j1 - jc : width;
      memset(acc, 0, sizeof(float) * (size_t)(g->m * w));
      if (g->kr->rows) {
        /* Blocks of FEW_KB rows of B: few enough concurrent row streams for the prefetchers,
         * enough to amortize the accumulators' round trips through L1/L2. */
        for (int64_t p0 = 0; p0 < g->k; p0 += FEW_KB) {
          int64_t kb = g->k - p0 < FEW_KB ? g->k - p0 : FEW_KB;
          for (int64_t i0 = 0; i0 < g->m; i0 += 8)
            g->kr->rows(g->m - i0 < 8 ? g->m - i0 : 8, kb, w, g->a + i0 * g->rsa + p0 * g->csa,
                        g->rsa, g->csa, g->b + p0 * g->rsb + jc, g->rsb, acc + i0 * w);
        }
      } else {
        for (int64_t p = 0; p < g->k; p++) {
          const float *brow = g->b + p * g->rsb + jc;
          for (int64_t i = 0; i < g->m; i++) g->kr->axpy(w, g->a[i * g->rsa + p * g->csa], brow, acc + i * w);
        }
      }
      for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < w; j++) few_store(g, i, jc + j, acc[i * w + j]);
    }
    if (acc != stack_acc) free(acc);
    return;
  }
  for (int64_t j = j0; j < j1; j++)
    for (int64_t i = 0; i < g->m; i++) {
      const float *ai = g->a + i * g->rsa;
      float v;
      if (g->rsb == 1 && g->csa == 1) {
        v = g->kr->dot(g->k, ai, g->b + j * g->csb);
      } else {
        v = 0;
        for (int64_t p = 0; p < g->k; p++) v += ai[p * g->csa] * g->b[p * g->rsb + j * g->csb];
      }
      few_store(g, i, j, v);
    }
}

/* ---- entry points ------------------------------------------------------------------------------ */

/* Below this many multiply-adds (about 10 us on one core) a product runs on the calling
 * thread: a fork-join of the pool costs a few microseconds. */
enum { PAR_MIN_FMAS = 1 << 20 };

/* The packed product; false when its scratch memory cannot be had. */
static bool gemm_blocked(qc_pool *pool, int32_t threads, const gemm_kernel *kr, int64_t m,
                         int64_t n, int64_t k, float alpha, const float *a, int64_t rsa,
                         int64_t csa, const float *b, int64_t rsb, int64_t csb,
                         qc_gemm_pack_b_fn pack_fn, void *pack_ctx, float beta, float *c,
                         int64_t rsc, int64_t csc) {
  gemm_job jb;
  memset(&jb, 0, sizeof jb);
  jb.kr = kr;
  jb.m = m, jb.n = n, jb.k = k;
  jb.alpha = alpha, jb.beta = beta;
  jb.a = a, jb.b = b, jb.c = c;
  jb.rsa = rsa, jb.csa = csa, jb.rsb = rsb, jb.csb = csb, jb.rsc = rsc, jb.csc = csc;
  jb.pack_fn = pack_fn, jb.pack_ctx = pack_ctx;
  jb.kc = k < KC ? k : KC;
  int64_t n_pad = (n + kr->nr - 1) / kr->nr * kr->nr;
  jb.nb = n_pad < NB ? n_pad : NB;
  jb.n_jb = (n + jb.nb - 1) / jb.nb;
  /* Rows per task: all of them when the column blocks already keep the threads busy, else
   * split the rows so that there are about two tasks per thread, in multiples of MR. */
  jb.ib = m;
  if (threads > 1 && jb.n_jb < 2 * threads) {
    int64_t want = (2 * threads + jb.n_jb - 1) / jb.n_jb;
    int64_t ib = (m + want - 1) / want;
    ib = (ib + kr->mr - 1) / kr->mr * kr->mr;
    if (ib < 4 * kr->mr) ib = 4 * kr->mr;
    if (ib < m) jb.ib = ib;
  }
  jb.n_ib = (m + jb.ib - 1) / jb.ib;
  /* Packing B costs about as much as DIRECT_B_ROWS rows of product use of it: for fewer
   * rows per task, a row-major B is read where it lies. */
  jb.direct_b = !pack_fn && csb == 1 && jb.ib <= QC_GEMM_DIRECT_B_ROWS;
  int64_t tasks = jb.n_jb * jb.n_ib;
  jb.n_slots = threads < tasks ? threads : (int32_t)tasks;
  if (jb.n_slots > 64) jb.n_slots = 64;
  jb.slot_floats = (size_t)(jb.kc * jb.nb + MAX_MR * jb.kc + MAX_MR * MAX_NR);
  jb.slot_floats = (jb.slot_floats + ALIGN / sizeof(float) - 1) / (ALIGN / sizeof(float)) *
                   (ALIGN / sizeof(float));
  size_t bytes = jb.slot_floats * sizeof(float) * (size_t)jb.n_slots;
  jb.scratch = aligned_alloc(ALIGN, bytes);
  if (!jb.scratch) return false;
  atomic_flag busy[64];
  for (int32_t s = 0; s < jb.n_slots; s++) atomic_flag_clear(&busy[s]);
  jb.busy = busy;
  qc_pool_for(pool, tasks, 1, gemm_range, &jb);
  free(jb.scratch);
  return true;
}

void qc_gemm_f32(qc_pool *pool, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                 int64_t rsa, int64_t csa, const float *b, int64_t rsb, int64_t csb, float beta,
                 float *c, int64_t rsc, int64_t csc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0.0f) {
    if (beta != 1.0f) scale_c(m, n, beta, c, rsc, csc);
    if (k <= 0 || alpha == 0.0f) return;
  }
  const gemm_kernel *kr = kernel();
  double fmas = (double)m * (double)n * (double)k;
  int32_t threads = fmas >= PAR_MIN_FMAS ? qc_pool_size(pool) : 1;
  if (threads <= 1) pool = NULL;

  /* One column of C: the transposed problem has one row. */
  if (n == 1 && m > 1) {
    qc_gemm_f32(pool, 1, m, k, alpha, b, csb, rsb, a, csa, rsa, beta, c, csc, rsc);
    return;
  }
  if (m <= (csb == 1 && kr->rows ? FEW_ROWS : FEW_ROWS_AXPY)) {
    /* Two column ranges per thread, whole cache lines each. */
    int64_t cols = (n + 2 * threads - 1) / (2 * threads);
    cols = cols < FEW_COLS ? FEW_COLS : (cols + 15) / 16 * 16;
    few_job g = {kr, m, n, k, cols, alpha, beta, a, b, rsa, csa, rsb, csb, rsc, csc, c};
    qc_pool_for(pool, (n + cols - 1) / cols, 1, few_range, &g);
    return;
  }

  if (!gemm_blocked(pool, threads, kr, m, n, k, alpha, a, rsa, csa, b, rsb, csb, NULL, NULL, beta,
                    c, rsc, csc))
    gemm_naive(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
}

bool qc_gemm_f32_pack_b(qc_pool *pool, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t rsa, int64_t csa, qc_gemm_pack_b_fn pack_b_fn,
                        void *ctx, float beta, float *c, int64_t rsc, int64_t csc) {
  if (m <= 0 || n <= 0) return true;
  if (k <= 0 || alpha == 0.0f) {
    if (beta != 1.0f) scale_c(m, n, beta, c, rsc, csc);
    return true;
  }
  double fmas = (double)m * (double)n * (double)k;
  int32_t threads = fmas >= PAR_MIN_FMAS ? qc_pool_size(pool) : 1;
  return gemm_blocked(threads > 1 ? pool : NULL, threads, kernel(), m, n, k, alpha, a, rsa, csa,
                      NULL, 0, 0, pack_b_fn, ctx, beta, c, rsc, csc);
}

void qc_sgemm(qc_pool *pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
              float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
              float *c, int64_t ldc) {
  qc_gemm_f32(pool, m, n, k, alpha, a, trans_a ? 1 : lda, trans_a ? lda : 1, b, trans_b ? 1 : ldb,
              trans_b ? ldb : 1, beta, c, ldc, 1);
}

typedef struct batch_job {
  int64_t m, n, k;
  float alpha, beta;
  const float *a, *b;
  float *c;
  int64_t sa, rsa, csa, sb, rsb, csb, sc, rsc, csc;
} batch_job;

static void batch_range(void *ctx, int64_t begin, int64_t end) {
  batch_job *j = ctx;
  for (int64_t i = begin; i < end; i++)
    qc_gemm_f32(NULL, j->m, j->n, j->k, j->alpha, j->a + i * j->sa, j->rsa, j->csa,
                j->b + i * j->sb, j->rsb, j->csb, j->beta, j->c + i * j->sc, j->rsc, j->csc);
}

void qc_gemm_f32_batch(qc_pool *pool, int64_t count, int64_t m, int64_t n, int64_t k,
                       float alpha, const float *a, int64_t sa, int64_t rsa, int64_t csa,
                       const float *b, int64_t sb, int64_t rsb, int64_t csb, float beta,
                       float *c, int64_t sc, int64_t rsc, int64_t csc) {
  if (count <= 0) return;
  int32_t threads = qc_pool_size(pool);
  double fmas = (double)m * (double)n * (double)k;
  /* A product big enough to keep every thread busy by itself is split internally. */
  if (count == 1 || threads <= 1 || fmas >= (double)PAR_MIN_FMAS * 16 * threads) {
    for (int64_t i = 0; i < count; i++)
      qc_gemm_f32(pool, m, n, k, alpha, a + i * sa, rsa, csa, b + i * sb, rsb, csb, beta,
                  c + i * sc, rsc, csc);
    return;
  }
  batch_job j = {m, n, k, alpha, beta, a, b, c, sa, rsa, csa, sb, rsb, csb, sc, rsc, csc};
  int64_t grain = fmas * (double)count < PAR_MIN_FMAS ? count : 1;
  qc_pool_for(pool, count, grain, batch_range, &j);
}
