/*
 * runtime/k_qc.h — what the quarc.FakeQuant / quarc.Observe kernels (runtime/k_qc.c) share
 * with the quantization passes (passes/quant/): the `spec` attribute and the layout of the
 * scale / zero-point inputs. Private to libquarc.
 *
 * The `spec` attribute is Quark's QTensorConfig.to_dict() JSON, or a JSON list of them for
 * a multi-stage quantizer (ProgressiveSpec, ScaleQuantSpec), exactly as Quark serializes a
 * QLayerConfig field.
 *
 * Scale and zero-point inputs are laid out as ONNX's QuantizeLinear wants them, so that
 * lowering to QDQ is a rename (x has rank r, `axis` is normalized to [0, r)):
 *   per_tensor    rank 0
 *   per_channel   [x.dims[axis]]
 *   per_group     rank r, the dims of x with dims[axis] = ceil(D / group_size)  (ONNX "blocked")
 * Quark keeps these parameters in its own order (the group axis swapped with the last
 * axis, then flattened); qc_qlayout_to_params / qc_qlayout_from_params convert.
 */
#ifndef QUARC_RUNTIME_K_QC_H
#define QUARC_RUNTIME_K_QC_H

#include "quarc/graph.h"
#include "quarc/quant.h"

/** Parse a spec attribute (one JSON object or a JSON list of objects). `source` prefixes
 *  messages. On success *out owns a malloc'd array; free it with qc_qattr_free. */
qc_status qc_qattr_parse(const char *json, const char *source, qc_qspecs *out) QC_MUST_USE;
void qc_qattr_free(qc_qspecs *s);
/** The attribute text for specs (a list when is_list or n > 1). *text is malloc'd. */
qc_status qc_qattr_json(const qc_qspecs *s, char **text) QC_MUST_USE;

/** A parse of `json` shared by everyone who asks for the same text (the kernels call this
 *  once per node run: the cache keeps it at a hash lookup). Valid for the process. */
qc_status qc_qattr_cached(const char *json, const char *source,
                          const qc_qspecs **out) QC_MUST_USE;

/** Index of the stage whose parameters the scale/zero-point inputs carry: the first
 *  stage that is neither dynamic nor non-scaled; -1 if none. */
int32_t qc_qattr_static_stage(const qc_qspecs *s);
/** Whether a dtype is quantized without scale parameters: the block formats that compute
 *  their own (mx, mx6, mx9, bfp16) and the casts (float16, bfloat16). */
bool qc_qdtype_nonscaled(qc_qdtype dt);

/** Graph layout -> Quark's qc_qparams for spec `sp` applied to a tensor of shape
 *  (rank, dims) along `axis` (normalized) in groups of `group_size` (0: not grouped).
 *  zp may be NULL (zeros). Errors describe the shape mismatch. */
qc_status qc_qlayout_to_params(const qc_qspec *sp, int32_t rank, const int64_t *dims,
                               int32_t axis, int64_t group_size, const qc_tensor *scale,
                               const qc_tensor *zp, qc_qparams *out) QC_MUST_USE;
/** Quark's parameters -> graph tensors (scale in p->scale_dtype; zero point in `zp_dtype`,
 *  QC_DT_UNDEFINED for none). The tensors are new (release them). */
qc_status qc_qlayout_from_params(const qc_qparams *p, int32_t rank, const int64_t *dims,
                                 int32_t axis, int64_t group_size, qc_qscheme qs,
                                 qc_dtype zp_dtype, qc_tensor *scale, qc_tensor *zp) QC_MUST_USE;
/** The shape of the graph-layout scale for (rank, dims, axis, group_size, qscheme). */
void qc_qlayout_scale_shape(qc_qscheme qs, int32_t rank, const int64_t *dims, int32_t axis,
                            int64_t group_size, int32_t *srank, int64_t *sdims);

#endif
