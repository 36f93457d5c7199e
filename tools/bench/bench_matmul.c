/*
 * bench_matmul — GFLOP/s of the interpreter's f32 GEMM (runtime/gemm.c).
 *
 *   bench_matmul [size] [repeats] [max_threads]     default 1024, 5, 2
 *
 * Times C = A*B for size x size x size on 1, 2, 4, ... max_threads threads (the best of
 * `repeats` runs), for each micro-kernel the CPU supports, after checking each kernel's
 * result against a naive product, and reports two fractions of peak:
 *
 *   nominal  = threads x clock x FMA ports x lanes x 2   (2 ports; 16 lanes AVX-512, 8 AVX2,
 *              4 for the generic kernel's SSE), clock from a chain of dependent adds
 *   measured = threads x the FLOP/s of one core issuing only independent register FMAs of
 *              that ISA: the reachable peak, at the clock the core really runs the ISA at
 *              (AVX-512 heavy code runs below the scalar clock on most Xeons)
 *
 * Other processes on the machine lower every number; run it on a quiet machine.
 */
#include "runtime/gemm.h"
#include "runtime/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Cycles per second from a chain of dependent integer adds (one per cycle on x86): the
 * clock the core runs scalar code at (turbo included). Best of several runs. */
static double measure_clock(void) {
  double best = 0;
  for (int r = 0; r < 5; r++) {
    uint64_t x = 0, n = 100000000;
    double t0 = now();
    for (uint64_t i = 0; i < n; i++) __asm__ volatile("add $1, %0" : "+r"(x));
    double hz = (double)n / (now() - t0);
    if (hz > best) best = hz;
  }
  return best;
}

/* FLOP/s of one core running nothing but independent FMAs in registers: the real peak of
 * an ISA, with its own clock (AVX-512 runs below the scalar clock on many Xeons). */
#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static double fma_peak_avx512(void) {
  double best = 0;
  for (int r = 0; r < 5; r++) {
    __m512 acc[16], x = _mm512_set1_ps(1.0000001f), y = _mm512_set1_ps(1e-7f);
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps((float)i);
    long n = 20000000;
    double t0 = now();
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    }
    double t = now() - t0;
    float sink = 0;
    for (int i = 0; i < 16; i++) sink += _mm512_reduce_add_ps(acc[i]);
    __asm__ volatile("" : : "x"(sink));
    double f = (double)n * 16 * 32 / t;
    if (f > best) best = f;
  }
  return best;
}
__attribute__((target("avx2,fma"))) static double fma_peak_avx2(void) {
  double best = 0;
  for (int r = 0; r < 5; r++) {
    __m256 acc[12], x = _mm256_set1_ps(1.0000001f), y = _mm256_set1_ps(1e-7f);
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    long n = 20000000;
    double t0 = now();
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
      for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    }
    double t = now() - t0;
    float sink[8] = {0};
    for (int i = 0; i < 12; i++) _mm256_storeu_ps(sink, _mm256_add_ps(_mm256_loadu_ps(sink), acc[i]));
    __asm__ volatile("" : : "r"(sink[0] > 0));
    double f = (double)n * 12 * 16 / t;
    if (f > best) best = f;
  }
  return best;
}
#endif

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? atoll(argv[1]) : 1024;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
  int max_threads = argc > 3 ? atoi(argv[3]) : 2;
  float *a = aligned_alloc(64, sizeof(float) * (size_t)(n * n));
  float *b = aligned_alloc(64, sizeof(float) * (size_t)(n * n));
  float *c = aligned_alloc(64, sizeof(float) * (size_t)(n * n));
  if (!a || !b || !c) return 1;
  srand(1);
  for (int64_t i = 0; i < n * n; i++) {
    a[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    b[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  }
  double hz = measure_clock();
  double fma_peak[3] = {0, 0, 0};
#if defined(__x86_64__)
  if (qc_gemm_force_kernel("avx512")) fma_peak[0] = fma_peak_avx512();
  if (qc_gemm_force_kernel("avx2")) fma_peak[1] = fma_peak_avx2();
#endif
  printf("clock %.2f GHz (scalar, measured); FMA-only peak per core: avx512 %.1f, avx2 %.1f "
         "GFLOP/s\n%lld x %lld x %lld, best of %d\n",
         hz * 1e-9, fma_peak[0] * 1e-9, fma_peak[1] * 1e-9, (long long)n, (long long)n,
         (long long)n, reps);
  const char *kernels[] = {"avx512", "avx2", "generic"};
  const double flops_per_cycle[] = {2 * 16 * 2, 2 * 8 * 2, 2 * 4 * 2};
  for (int ki = 0; ki < 3; ki++) {
    if (!qc_gemm_force_kernel(kernels[ki])) continue;
    /* Check the kernel on an awkward shape first. */
    {
      enum { M = 77, N = 93, K = 301 };
      static float ca[M * K], cb[K * N], cc[M * N];
      for (int i = 0; i < M * K; i++) ca[i] = a[i];
      for (int i = 0; i < K * N; i++) cb[i] = b[i];
      qc_gemm_f32(NULL, M, N, K, 1.0f, ca, K, 1, cb, N, 1, 0.0f, cc, N, 1);
      double worst = 0;
      for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
          double s = 0, mag = 0;
          for (int p = 0; p < K; p++) {
            s += (double)ca[i * K + p] * cb[p * N + j];
            mag += fabs((double)ca[i * K + p] * cb[p * N + j]);
          }
          double e = fabs(cc[i * N + j] - s) / (mag + 1e-30);
          if (e > worst) worst = e;
        }
      if (worst > 1e-5) {
        fprintf(stderr, "%s: wrong result (relative error %g)\n", kernels[ki], worst);
        return 1;
      }
    }
    for (int threads = 1; threads <= max_threads; threads *= 2) {
      qc_pool *pool;
      qc_status s = qc_pool_create(threads, &pool);
      if (s) {
        fprintf(stderr, "%s\n", qc_status_message(s));
        return 1;
      }
      qc_gemm_f32(pool, n, n, n, 1.0f, a, n, 1, b, n, 1, 0.0f, c, n, 1); /* warm up */
      double best = 1e30;
      for (int r = 0; r < reps; r++) {
        double t0 = now();
        qc_gemm_f32(pool, n, n, n, 1.0f, a, n, 1, b, n, 1, 0.0f, c, n, 1);
        double t = now() - t0;
        if (t < best) best = t;
      }
      qc_pool_destroy(pool);
      double gflops = 2.0 * (double)n * (double)n * (double)n / best * 1e-9;
      double nominal = threads * hz * flops_per_cycle[ki] * 1e-9;
      double measured = threads * fma_peak[ki] * 1e-9;
      printf("%-8s %2d thread%s %8.2f ms %7.1f GFLOP/s  nominal %6.1f (%5.1f%%)", kernels[ki],
             threads, threads > 1 ? "s" : " ", best * 1e3, gflops, nominal, 100.0 * gflops / nominal);
      if (measured > 0) printf("  measured %6.1f (%5.1f%%)", measured, 100.0 * gflops / measured);
      printf("\n");
    }
  }
  qc_gemm_force_kernel("auto");
  free(a);
  free(b);
  free(c);
  return 0;
}
