/*
 * bench_matmul — GFLOP/s of the interpreter's f32 GEMM (runtime/gemm.c).
 *
 *   bench_matmul [size] [repeats]     default 1024, 5
 *
 * Times C = A*B for size x size x size on 1 and 2 threads (the best of `repeats` runs),
 * for each micro-kernel the CPU supports, and reports the fraction of the FMA peak:
 *
 *   peak = threads x clock x (FMA ports x lanes x 2 flops)
 *
 * with the clock measured here by timing a chain of dependent adds (1 cycle each), and
 * 2 FMA ports x 16 lanes (AVX-512), 2 x 8 (AVX2) or 4 (SSE, the generic kernel) per cycle.
 * A single-FMA-port part (some Xeon Silver/Bronze) has half the AVX-512 peak.
 */
#include "runtime/gemm.h"
#include "runtime/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Cycles per second from a chain of dependent integer adds (one per cycle on x86). */
static double measure_clock(void) {
  double best = 0;
  for (int r = 0; r < 5; r++) {
    uint64_t x = 0, n = 200000000;
    double t0 = now();
    for (uint64_t i = 0; i < n; i++) __asm__ volatile("add $1, %0" : "+r"(x));
    double hz = (double)n / (now() - t0);
    if (hz > best) best = hz;
  }
  return best;
}

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? atoll(argv[1]) : 1024;
  int reps = argc > 2 ? atoi(argv[2]) : 5;
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
  printf("clock %.2f GHz (measured), %lld x %lld x %lld, best of %d\n", hz * 1e-9, (long long)n,
         (long long)n, (long long)n, reps);
  const char *kernels[] = {"avx512", "avx2", "generic"};
  const double flops_per_cycle[] = {2 * 16 * 2, 2 * 8 * 2, 2 * 4 * 2};
  for (int ki = 0; ki < 3; ki++) {
    if (!qc_gemm_force_kernel(kernels[ki])) continue;
    for (int threads = 1; threads <= 2; threads++) {
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
      double peak = threads * hz * flops_per_cycle[ki] * 1e-9;
      printf("%-8s %d thread%s  %8.2f ms  %7.1f GFLOP/s  peak %6.1f  %5.1f%%\n", kernels[ki],
             threads, threads > 1 ? "s" : " ", best * 1e3, gflops, peak, 100.0 * gflops / peak);
    }
  }
  qc_gemm_force_kernel("auto");
  free(a);
  free(b);
  free(c);
  return 0;
}
