/* Private to passes/quant/: tensor layout helpers and torch-exact float32 arithmetic shared
 * by numerics.c and observers.c. */
#ifndef QUARC_PASSES_QUANT_NUMERICS_INTERNAL_H
#define QUARC_PASSES_QUANT_NUMERICS_INTERNAL_H

#include "passes/quant/quant_internal.h"

#include <math.h>
#include <string.h>

/* torch.finfo(torch.float32).eps and .tiny */
#define QC_F32_EPS 1.1920928955078125e-07f
#define QC_F32_TINY 1.1754943508222875e-38f

/* Round a float32 value to `dt` (f32: unchanged; bf16/f16: RNE) and back: the value a torch
 * tensor of that dtype holds after an op computed in float32. */
static inline float qc_round_to(qc_dtype dt, float v) {
  switch (dt) {
  case QC_BF16: return qc_bf16_to_f32(qc_f32_to_bf16(v));
  case QC_F16: return qc_f16_to_f32(qc_f32_to_f16(v));
  default: return v;
  }
}

/* torch.max / torch.min / torch.maximum: NaN propagates. */
static inline float qc_tmax(float a, float b) { return (isnan(a) || isnan(b)) ? NAN : (a > b ? a : b); }
static inline float qc_tmin(float a, float b) { return (isnan(a) || isnan(b)) ? NAN : (a < b ? a : b); }
/* torch.clamp(x, lo, hi): NaN stays NaN. */
static inline float qc_tclamp(float x, float lo, float hi) {
  if (isnan(x)) return x;
  return x < lo ? lo : (x > hi ? hi : x);
}
/* torch.round: half to even. */
static inline float qc_rne(float x) { return (float)qc_round((double)x, 0); }

/* A tensor view: rank + shape (row-major, contiguous). */
typedef struct qc_qshape {
  int32_t rank;
  int64_t d[QC_QPARAMS_MAX_RANK];
} qc_qshape;

static inline int64_t qc_qshape_numel(const qc_qshape *s) {
  int64_t n = 1;
  for (int32_t i = 0; i < s->rank; i++) n *= s->d[i];
  return n;
}

/* Normalize a possibly negative axis; -1 if out of range. */
static inline int32_t qc_qaxis(int32_t axis, int32_t rank) {
  if (axis < 0) axis += rank;
  return (axis < 0 || axis >= rank) ? -1 : axis;
}

/* out = x.transpose(a, b) (contiguous copy); out_shape receives the new shape. */
void qc_qswap_axes(const float *x, const qc_qshape *s, int32_t a, int32_t b, float *out,
                   qc_qshape *out_shape);

/* Quark's reshape_to_blocks(x, bs, axis): x.transpose(axis, -1) as [R, L], zero-padded to
 * [R, B*bs]. *rows = R, *len = L, *nblocks = B. Returns a malloc'd buffer (NULL on OOM). */
float *qc_qto_blocks(const float *x, const qc_qshape *s, int32_t axis, int64_t bs, int64_t *rows,
                     int64_t *len, int64_t *nblocks);
/* Inverse: take the first L of each [R, B*bs] row, reshape to the transposed shape and
 * transpose back into y (shape s). */
void qc_qfrom_blocks(const float *blocks, const qc_qshape *s, int32_t axis, int64_t bs,
                     int64_t nblocks, float *y);

/* float32 log2, rounded correctly (torch's log2 on CPU is within 1 ulp; the results agree
 * away from exact ties, which floor() only cares about near integers). */
static inline float qc_log2f(float x) { return (float)log2((double)x); }

/* The e8m0 scale Quark's get_scale(scale_format="e8m0") computes from amax (a value of
 * `amax_dt`) for element dtype `elem` in scale_calculation_mode `mode`; eps replaces 0. */
float qc_qe8m0_scale(float amax, qc_dtype amax_dt, qc_qdtype elem, qc_qscale_mode mode, float eps);

/* Quark's fake_quantize_element (csrc/mx/funcs.cuh) for fp4/fp6/fp8-like formats with
 * (ebits, mbits, max_norm): round-half-even on the mantissa, subnormals, +0 for values that
 * round to zero (the sign is lost), saturation to max_norm, Inf/NaN passed through. */
float qc_qfake_element(float v, qc_qdtype dt);

/* Quark's quant_max for fp4/fp6 fake quantization: 2^(2^e-1 - bias) * (1 + (2^m-1)/2^m). */
float qc_qfp_quant_max(qc_qdtype dt);

#endif
