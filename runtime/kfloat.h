/*
 * runtime/kfloat.h — f32 staging of kernel operands, for kernels that compute in f32
 * (the linear-algebra and neural-network families: GEMM-based ops, pools, norms, RNNs,
 * attention).
 *
 * A float input of any dtype is seen as an f32 array: the tensor's own data when it is
 * f32, else a converted copy (qc_convert_to_f32). An output is written as f32: directly
 * into the tensor when its dtype is f32, else into a scratch array that
 * qc_kf_out_finish rounds into the tensor (qc_convert_from_f32, half to even).
 * Scratch goes through the interpreter's allocator.
 *
 *     qc_kf_in x;
 *     QC_RETURN_IF_ERROR(qc_kf_load(k, qc_k_in(k, 0), &x));
 *     qc_kf_out y;
 *     qc_status s = qc_kf_out_alloc(k, 0, xt->dtype, xt->rank, xt->dims, &y);
 *     if (!s) { ... y.p[i] = f(x.p[i]) ...; qc_kf_out_finish(k, &y); }
 *     qc_kf_release(k, &x);
 */
#ifndef QUARC_RUNTIME_KFLOAT_H
#define QUARC_RUNTIME_KFLOAT_H

#include "runtime/internal.h"

/** An input's elements as f32 (`p`, n elements, row-major). */
typedef struct qc_kf_in {
  const float *p;
  float *owned; /**< the converted copy, or NULL when p is the tensor's data */
  int64_t n;
} qc_kf_in;

/** An output being written as f32. */
typedef struct qc_kf_out {
  float *p;
  qc_tensor *t;
  bool staged; /**< p is scratch, converted into t by qc_kf_out_finish */
  int64_t n;
} qc_kf_out;

/** The interpreter's thread pool for this kernel (NULL: run serially). */
static inline qc_pool *qc_k_pool(const qc_kctx *k) { return k->interp ? k->interp->pool : NULL; }

/** Load t (any non-string, non-complex dtype) as f32. A NULL t gives an empty view. */
qc_status qc_kf_load(const qc_kctx *k, const qc_tensor *t, qc_kf_in *out) QC_MUST_USE;
void qc_kf_release(const qc_kctx *k, qc_kf_in *v);

/** Allocate output i of dtype dt and shape dims, to be written through o->p. */
qc_status qc_kf_out_alloc(qc_kctx *k, int32_t i, qc_dtype dt, int32_t rank, const int64_t *dims,
                          qc_kf_out *o) QC_MUST_USE;
/** Round the staged values into the tensor (no-op for f32) and free the scratch. */
qc_status qc_kf_out_finish(const qc_kctx *k, qc_kf_out *o) QC_MUST_USE;
/** Free the scratch without converting (error paths). */
void qc_kf_out_discard(const qc_kctx *k, qc_kf_out *o);

/** Scratch f32 array of n elements through the kernel's allocator (NULL on OOM). */
float *qc_kf_scratch(const qc_kctx *k, int64_t n);
void qc_kf_scratch_free(const qc_kctx *k, float *p, int64_t n);

/** True for the float dtypes the f32-computing kernels accept (f32, f64, f16, bf16). */
bool qc_kf_dtype_ok(qc_dtype dt);

#endif
