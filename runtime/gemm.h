/*
 * runtime/gemm.h — the interpreter's one f32 matrix multiply.
 *
 *     C = alpha * A * B + beta * C      A: m x k, B: k x n, C: m x n
 *
 * Every operand is addressed by a row stride and a column stride (in elements), so a
 * transpose is a swap of the two strides and any view of a tensor works without a copy.
 * Accumulation is in f32. beta == 0 overwrites C without reading it (NaN in C does not
 * leak into the result); k == 0 scales C by beta.
 *
 * The implementation is cache-blocked in the BLIS manner (panels of B packed to live in
 * L2/L3, blocks of A packed to live in L2, register-blocked micro-kernels streaming both)
 * with AVX-512 and AVX2+FMA micro-kernels picked at run time and a portable fallback, so
 * the library runs on any x86-64 (or other) CPU. With a pool, the work is split across
 * its threads; called from inside a pool worker it runs serially.
 *
 *     qc_gemm_f32(pool, m, n, k, 1.0f, a, k, 1, b, n, 1, 0.0f, c, n, 1); // row-major C=A*B
 */
#ifndef QUARC_RUNTIME_GEMM_H
#define QUARC_RUNTIME_GEMM_H

#include "quarc/status.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct qc_pool qc_pool;


/** C = alpha * A * B + beta * C with element strides: A[i][p] = a[i*rsa + p*csa],
 *  B[p][j] = b[p*rsb + j*csb], C[i][j] = c[i*rsc + j*csc]. `pool` may be NULL (serial).
 *  C must not overlap A or B. */
void qc_gemm_f32(qc_pool *pool, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                 int64_t rsa, int64_t csa, const float *b, int64_t rsb, int64_t csb, float beta,
                 float *c, int64_t rsc, int64_t csc);

/** Fills column panels of nr with rows [p0, p0 + kc) x columns [j0, j0 + nj) of a B that
 *  exists only implicitly (an im2col matrix computed from an image):
 *  bp[q*nr*kc + p*nr + j] = B[p0 + p][j0 + q*nr + j], zero past column j0 + nj in the last
 *  panel. Called concurrently from the pool's threads on disjoint panels. */
typedef void (*qc_gemm_pack_b_fn)(void *ctx, int64_t p0, int64_t kc, int64_t j0, int64_t nj,
                                  int32_t nr, float *bp);

/** qc_gemm_f32 with B given by its packer. False (C untouched) when scratch memory cannot
 *  be had. */
bool qc_gemm_f32_pack_b(qc_pool *pool, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t rsa, int64_t csa, qc_gemm_pack_b_fn pack_b,
                        void *ctx, float beta, float *c, int64_t rsc, int64_t csc) QC_MUST_USE;

/** Row-major convenience in the BLAS manner: op(X) = X or X^T, leading dimensions lda,
 *  ldb, ldc (row strides of the stored matrices). */
void qc_sgemm(qc_pool *pool, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
              float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
              float *c, int64_t ldc);

/** `count` independent products C_i = alpha * A_i * B_i + beta * C_i where operand i
 *  starts at base + i * stride (stride 0 broadcasts). Small products are spread over the
 *  pool one per task; large ones are each split across the pool. */
void qc_gemm_f32_batch(qc_pool *pool, int64_t count, int64_t m, int64_t n, int64_t k,
                       float alpha, const float *a, int64_t sa, int64_t rsa, int64_t csa,
                       const float *b, int64_t sb, int64_t rsb, int64_t csb, float beta,
                       float *c, int64_t sc, int64_t rsc, int64_t csc);

/** Vector primitives on the same run-time-selected instruction set, for kernels whose inner
 *  loops are these (GCC's -O2 leaves loops of unknown length scalar): y[i] += a * x[i], and
 *  sum x[i] * y[i] (f32 accumulation in vector lanes). */
void qc_f32_axpy(int64_t n, float a, const float *x, float *y);
float qc_f32_dot(int64_t n, const float *x, const float *y);

/** Name of the micro-kernel in use ("avx512", "avx2", "generic") and its register tile. */
const char *qc_gemm_kernel_name(int32_t *mr, int32_t *nr);

/** Force a micro-kernel by name (tests and benchmarks; "auto" restores the run-time choice).
 *  Returns false if the CPU lacks it or the name is unknown. Not thread-safe with running
 *  GEMMs. */
bool qc_gemm_force_kernel(const char *name);

#endif
