/*
 * Quark's quantization config: QTensorConfig / QLayerConfig / QConfig, read from and
 * written to the JSON of QConfig.to_dict() (quark/torch/quantization/config/config.py,
 * amd-quark 0.13), validated with Quark's rules, and resolved per layer in the order of
 * Quark's ModelQuantizer (quark/torch/quantization/model_transformation.py).
 *
 * JSON written (keys in this order, as to_dict() builds them):
 *   QTensorConfig: dtype, is_dynamic, qscheme, ch_axis, group_size, block_size, symmetric,
 *     round_method, scale_type, zero_point_type, scale_format, scale_calculation_mode,
 *     mx_element_dtype, observer_cls, is_scale_quant, enable_buffer_reuse, max_input_numel
 *   QLayerConfig: input_tensors, output_tensors, weight, bias, target_device
 *   QConfig: global_quant_config, exclude, algo_config, softmax_quant_spec, quant_method,
 *     layer_type_quant_config, layer_quant_config, kv_cache_quant_config,
 *     kv_cache_post_rope, quant_mode, version [, export]
 *   export (dataclasses.asdict(JsonExporterConfig)): weight_merge_groups, kv_cache_group,
 *     min_kv_scale, weight_format, pack_method
 */
#include "passes/quant/qjson.h"
#include "passes/quant/quant_internal.h"
#include "ir/internal.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ------------------------------------------------------------------------------- */

static const char *const DTYPE_NAMES[QC_QDT_COUNT] = {
    [QC_QDT_INT8] = "int8",         [QC_QDT_UINT8] = "uint8",       [QC_QDT_INT16] = "int16",
    [QC_QDT_UINT16] = "uint16",     [QC_QDT_INT32] = "int32",       [QC_QDT_INT4] = "int4",
    [QC_QDT_UINT4] = "uint4",       [QC_QDT_INT3] = "int3",         [QC_QDT_INT2] = "int2",
    [QC_QDT_UINT2] = "uint2",       [QC_QDT_BFLOAT16] = "bfloat16", [QC_QDT_FLOAT16] = "float16",
    [QC_QDT_FP8_E5M2] = "fp8_e5m2", [QC_QDT_FP8_E4M3] = "fp8_e4m3", [QC_QDT_FP8_E5M3] = "fp8_e5m3",
    [QC_QDT_FP6_E3M2] = "fp6_e3m2", [QC_QDT_FP6_E2M3] = "fp6_e2m3", [QC_QDT_FP4] = "fp4",
    [QC_QDT_MX] = "mx",             [QC_QDT_MX6] = "mx6",           [QC_QDT_MX9] = "mx9",
    [QC_QDT_BFP16] = "bfp16",
};

static const char *const OBSERVER_NAMES[QC_QOBS_COUNT] = {
    [QC_QOBS_PLACEHOLDER] = "PlaceholderObserver",
    [QC_QOBS_PER_TENSOR_MINMAX] = "PerTensorMinMaxObserver",
    [QC_QOBS_PER_TENSOR_POW2_MINMAX] = "PerTensorPowOf2MinMaxObserver",
    [QC_QOBS_PER_TENSOR_POW2_MINMSE] = "PerTensorPowOf2MinMSEObserver",
    [QC_QOBS_PER_TENSOR_HISTOGRAM] = "PerTensorHistogramObserver",
    [QC_QOBS_PER_TENSOR_HISTOGRAM_PRO] = "PerTensorHistogramObserverPro",
    [QC_QOBS_PER_TENSOR_PERCENTILE] = "PerTensorPercentileObserver",
    [QC_QOBS_PER_TENSOR_MSE] = "PerTensorMSEObserver",
    [QC_QOBS_PER_CHANNEL_MINMAX] = "PerChannelMinMaxObserver",
    [QC_QOBS_PER_CHANNEL_POW2_MINMAX] = "PerChannelPowOf2MinMaxObserver",
    [QC_QOBS_PER_CHANNEL_POW2_MINMSE] = "PerChannelPowOf2MinMSEObserver",
    [QC_QOBS_PER_GROUP_MINMAX] = "PerGroupMinMaxObserver",
    [QC_QOBS_PER_BLOCK_MX] = "PerBlockMXObserver",
    [QC_QOBS_PER_BLOCK_MX_BUFFER_REUSE] = "PerBlockMXBufferReuseObserver",
    [QC_QOBS_PER_BLOCK_MX_DIFFS] = "PerBlockMXDiffsObserver",
    [QC_QOBS_PER_BLOCK_BFP] = "PerBlockBFPObserver",
    [QC_QOBS_PER_BLOCK_2D_MINMAX] = "PerBlock2DMinMaxObserver",
    [QC_QOBS_TQT] = "TQTObserver",
    [QC_QOBS_LSQ] = "LSQObserver",
    [QC_QOBS_UNIFORM_SCALING] = "UniformScalingObserver",
    [QC_QOBS_OBSERVER_BASE] = "ObserverBase",
};

#define NAME_AT(table, v) (((unsigned)(v) < sizeof(table) / sizeof((table)[0])) ? (table)[v] : NULL)

const char *qc_qdtype_name(qc_qdtype v) { return NAME_AT(DTYPE_NAMES, v); }
const char *qc_qobserver_name(qc_qobserver v) { return NAME_AT(OBSERVER_NAMES, v); }

const char *qc_qscheme_name(qc_qscheme v) {
  static const char *const n[] = {NULL, "per_tensor", "per_channel", "per_group", "per_block"};
  return NAME_AT(n, v);
}
const char *qc_qround_name(qc_qround v) {
  switch (v) {
  case QC_QROUND_ROUND: return "round";
  case QC_QROUND_FLOOR: return "floor";
  case QC_QROUND_HALF_EVEN: return "half_even";
  default: return NULL;
  }
}
const char *qc_qscale_type_name(qc_qscale_type v) {
  static const char *const n[] = {NULL,      "float",    "pof2",        "float32",
                                  "float16", "bfloat16", "float8_e5m3", "float8_e8m0fnu"};
  return NAME_AT(n, v);
}
const char *qc_qscale_format_name(qc_qscale_format v) {
  static const char *const n[] = {NULL, "e8m0", "e4m3", "e5m3", "float32"};
  return NAME_AT(n, v);
}
const char *qc_qscale_mode_name(qc_qscale_mode v) {
  static const char *const n[] = {NULL, "even", "floor", "ceil"};
  return NAME_AT(n, v);
}
const char *qc_qzero_point_type_name(qc_qzero_point_type v) {
  static const char *const n[] = {NULL, "int32", "float32"};
  return NAME_AT(n, v);
}

qc_qdtype qc_qdtype_from_name(const char *s) {
  for (int i = 1; i < QC_QDT_COUNT; i++)
    if (strcmp(DTYPE_NAMES[i], s) == 0) return (qc_qdtype)i;
  return QC_QDT_NONE;
}
qc_qobserver qc_qobserver_from_name(const char *s) {
  for (int i = 1; i < QC_QOBS_COUNT; i++)
    if (strcmp(OBSERVER_NAMES[i], s) == 0) return (qc_qobserver)i;
  return QC_QOBS_NONE;
}

const char *qc_qlayer_type_name(qc_qlayer_type t) {
  static const char *const n[] = {NULL, "Linear", "Conv2d", "ConvTranspose2d", "Embedding",
                                  "EmbeddingBag"};
  return NAME_AT(n, t);
}

/* ---- dtype facts (quark/torch/quantization/utils.py) ------------------------------------ */

bool qc_qdtype_range(qc_qdtype dt, double *qmin, double *qmax) {
  double lo, hi;
  switch (dt) {
  case QC_QDT_INT8: lo = -128, hi = 127; break;
  case QC_QDT_UINT8: lo = 0, hi = 255; break;
  case QC_QDT_INT16: lo = -32768, hi = 32767; break;
  case QC_QDT_INT32: lo = -2147483648.0, hi = 2147483647.0; break;
  case QC_QDT_INT4: lo = -8, hi = 7; break;
  case QC_QDT_UINT4: lo = 0, hi = 15; break;
  case QC_QDT_INT3: lo = -4, hi = 3; break;
  case QC_QDT_INT2: lo = -2, hi = 1; break;
  case QC_QDT_UINT2: lo = 0, hi = 3; break;
  case QC_QDT_FP8_E4M3: lo = -448, hi = 448; break;
  case QC_QDT_FP8_E5M2: lo = -57344, hi = 57344; break;
  case QC_QDT_FP8_E5M3: lo = 0, hi = 114688; break;
  case QC_QDT_BFLOAT16: lo = -3.3895313892515355e38, hi = 3.3895313892515355e38; break;
  case QC_QDT_FLOAT16: lo = -65504, hi = 65504; break;
  case QC_QDT_FP6_E3M2: lo = -28, hi = 28; break;
  case QC_QDT_FP6_E2M3: lo = -7.5, hi = 7.5; break;
  case QC_QDT_FP4: lo = -6, hi = 6; break;
  /* uint16 has no entry in calculate_qmin_qmax (Quark raises); quarc uses the natural
   * range so that a config naming it can still be validated and run. */
  case QC_QDT_UINT16: lo = 0, hi = 65535; break;
  default: return false;
  }
  if (qmin) *qmin = lo;
  if (qmax) *qmax = hi;
  return true;
}

qc_dtype qc_qdtype_element(qc_qdtype dt) {
  switch (dt) {
  case QC_QDT_INT8: return QC_I8;
  case QC_QDT_UINT8: return QC_U8;
  case QC_QDT_INT16: return QC_I16;
  case QC_QDT_UINT16: return QC_U16;
  case QC_QDT_INT32: return QC_I32;
  case QC_QDT_INT4: return QC_I4;
  case QC_QDT_UINT4: return QC_U4;
  case QC_QDT_INT3: return QC_I3;
  case QC_QDT_INT2: return QC_I2;
  case QC_QDT_UINT2: return QC_U2;
  case QC_QDT_BFLOAT16: return QC_BF16;
  case QC_QDT_FLOAT16: return QC_F16;
  case QC_QDT_FP8_E5M2: return QC_F8E5M2;
  case QC_QDT_FP8_E4M3: return QC_F8E4M3FN;
  case QC_QDT_FP8_E5M3: return QC_E5M3;
  case QC_QDT_FP6_E3M2: return QC_F6E3M2;
  case QC_QDT_FP6_E2M3: return QC_F6E2M3;
  case QC_QDT_FP4: return QC_F4E2M1;
  default: return QC_DT_UNDEFINED;
  }
}

bool qc_qdtype_is_int(qc_qdtype dt) {
  switch (dt) {
  case QC_QDT_INT8: case QC_QDT_UINT8: case QC_QDT_INT16: case QC_QDT_UINT16:
  case QC_QDT_INT32: case QC_QDT_INT4: case QC_QDT_UINT4: case QC_QDT_INT3:
  case QC_QDT_INT2: case QC_QDT_UINT2: return true;
  default: return false;
  }
}

bool qc_qdtype_params(qc_qdtype dt, int *ebits, int *mbits, int *emax) {
  int e, m, x;
  switch (dt) {
  case QC_QDT_INT8: e = 0, m = 8, x = 0; break;
  case QC_QDT_INT4: e = 0, m = 4, x = 0; break;
  case QC_QDT_INT3: e = 0, m = 3, x = 0; break;
  case QC_QDT_INT2:
  case QC_QDT_UINT2: e = 0, m = 2, x = 0; break;
  case QC_QDT_FP8_E5M2: e = 5, m = 2, x = 15; break;
  case QC_QDT_FP8_E4M3: e = 4, m = 3, x = 8; break;
  case QC_QDT_FP6_E3M2: e = 3, m = 2, x = 4; break;
  case QC_QDT_FP6_E2M3: e = 2, m = 3, x = 2; break;
  case QC_QDT_FP4: e = 2, m = 1, x = 2; break;
  case QC_QDT_FLOAT16: e = 5, m = 10, x = 15; break;
  case QC_QDT_BFLOAT16: e = 8, m = 7, x = 127; break;
  default: return false;
  }
  if (ebits) *ebits = e;
  if (mbits) *mbits = m;
  if (emax) *emax = x;
  return true;
}

/* ---- observer families (quark/torch/quantization/observer/__init__.py) ------------------ */

bool qc_qobserver_is_per_tensor(qc_qobserver o) {
  switch (o) {
  case QC_QOBS_PER_TENSOR_MINMAX: case QC_QOBS_PER_TENSOR_POW2_MINMAX:
  case QC_QOBS_PER_TENSOR_POW2_MINMSE: case QC_QOBS_PER_TENSOR_HISTOGRAM:
  case QC_QOBS_PER_TENSOR_HISTOGRAM_PRO: case QC_QOBS_PER_TENSOR_PERCENTILE:
  case QC_QOBS_PER_TENSOR_MSE: case QC_QOBS_TQT: case QC_QOBS_LSQ: return true;
  default: return false;
  }
}
bool qc_qobserver_is_per_channel(qc_qobserver o) {
  switch (o) {
  case QC_QOBS_PER_CHANNEL_MINMAX: case QC_QOBS_PER_CHANNEL_POW2_MINMAX:
  case QC_QOBS_PER_CHANNEL_POW2_MINMSE: case QC_QOBS_LSQ: return true;
  default: return false;
  }
}
bool qc_qobserver_is_per_group(qc_qobserver o) {
  switch (o) {
  case QC_QOBS_PER_BLOCK_MX: case QC_QOBS_PER_BLOCK_MX_BUFFER_REUSE:
  case QC_QOBS_PER_BLOCK_MX_DIFFS: case QC_QOBS_PER_BLOCK_BFP:
  case QC_QOBS_PER_BLOCK_2D_MINMAX: case QC_QOBS_PER_GROUP_MINMAX: return true;
  default: return false;
  }
}

/* ---- QTensorConfig ----------------------------------------------------------------------- */

void qc_qspec_init(qc_qspec *s) {
  memset(s, 0, sizeof *s);
  s->is_dynamic = QC_QB_NULL;
  s->symmetric = QC_QB_NULL;
  s->zero_point_type = QC_QZP_INT32;
  s->max_input_numel = 4 * 1024 * 1024;
}

bool qc_qspec_equal(const qc_qspec *a, const qc_qspec *b) {
  return a->dtype == b->dtype && a->is_dynamic == b->is_dynamic && a->qscheme == b->qscheme &&
         a->has_ch_axis == b->has_ch_axis && (!a->has_ch_axis || a->ch_axis == b->ch_axis) &&
         a->has_group_size == b->has_group_size &&
         (!a->has_group_size || a->group_size == b->group_size) &&
         a->has_block_size == b->has_block_size &&
         (!a->has_block_size ||
          (a->block_size[0] == b->block_size[0] && a->block_size[1] == b->block_size[1])) &&
         a->symmetric == b->symmetric && a->round_method == b->round_method &&
         a->scale_type == b->scale_type && a->zero_point_type == b->zero_point_type &&
         a->scale_format == b->scale_format &&
         a->scale_calculation_mode == b->scale_calculation_mode &&
         a->mx_element_dtype == b->mx_element_dtype && a->observer_cls == b->observer_cls &&
         a->is_scale_quant == b->is_scale_quant &&
         a->enable_buffer_reuse == b->enable_buffer_reuse &&
         a->max_input_numel == b->max_input_numel;
}

#define VERR(...) qc_status_new(QC_CODE_INVALID_ARGUMENT, __VA_ARGS__)

static bool is_non_scaled(qc_qdtype d) {
  return d == QC_QDT_MX || d == QC_QDT_MX6 || d == QC_QDT_MX9 || d == QC_QDT_BFP16;
}
static bool is_cast_only(qc_qdtype d) { return d == QC_QDT_BFLOAT16 || d == QC_QDT_FLOAT16; }

qc_status qc_qspec_validate(const qc_qspec *s, const char *path) {
  const char *dn = qc_qdtype_name(s->dtype);
  if (!dn) return VERR("%s.dtype: must be set", path);
  if (is_cast_only(s->dtype) && s->observer_cls != QC_QOBS_PLACEHOLDER)
    return VERR("%s.observer_cls: dtype %s only supports PlaceholderObserver (a cast), got %s", path,
                dn, s->observer_cls ? qc_qobserver_name(s->observer_cls) : "null");
  if (s->has_group_size && !(s->group_size > 0 || s->group_size == -1))
    return VERR("%s.group_size: must be a positive integer or -1, got %lld", path,
                (long long)s->group_size);
  if (s->max_input_numel <= 0)
    return VERR("%s.max_input_numel: must be a positive integer", path);
  switch (s->dtype) {
  case QC_QDT_INT8: case QC_QDT_UINT8: case QC_QDT_INT16: case QC_QDT_UINT16: case QC_QDT_INT4:
  case QC_QDT_UINT4: case QC_QDT_INT3: case QC_QDT_INT2: case QC_QDT_INT32: case QC_QDT_FP8_E4M3:
  case QC_QDT_FP8_E5M2:
    if (s->is_dynamic == QC_QB_NULL)
      return VERR("%s.is_dynamic: cannot be null when dtype is %s", path, dn);
    if (!s->observer_cls) return VERR("%s.observer_cls: cannot be null when dtype is %s", path, dn);
    if (!s->qscheme) return VERR("%s.qscheme: cannot be null when dtype is %s", path, dn);
    break;
  default: break;
  }
  switch (s->dtype) {
  case QC_QDT_INT8: case QC_QDT_UINT8: case QC_QDT_INT16: case QC_QDT_UINT16: case QC_QDT_INT4:
  case QC_QDT_UINT4: case QC_QDT_INT3: case QC_QDT_INT32:
    if (s->symmetric == QC_QB_NULL)
      return VERR("%s.symmetric: cannot be null when dtype is %s", path, dn);
    if (!s->round_method)
      return VERR("%s.round_method: cannot be null when dtype is %s", path, dn);
    if (!s->scale_type) return VERR("%s.scale_type: cannot be null when dtype is %s", path, dn);
    break;
  default: break;
  }
  if (s->mx_element_dtype && s->dtype != QC_QDT_MX)
    return VERR("%s.mx_element_dtype: only applies to dtype mx, got dtype %s", path, dn);
  if (is_non_scaled(s->dtype)) {
    if (!s->has_ch_axis) return VERR("%s.ch_axis: must be set when dtype is %s", path, dn);
    if (!s->has_group_size) return VERR("%s.group_size: must be set when dtype is %s", path, dn);
    if (s->group_size <= 0)
      return VERR("%s.group_size: must be a positive integer when dtype is %s", path, dn);
    if (s->dtype == QC_QDT_MX) {
      if (!s->mx_element_dtype)
        return VERR("%s.mx_element_dtype: must be set when dtype is mx", path);
      switch (s->mx_element_dtype) {
      case QC_QDT_INT8: case QC_QDT_FP8_E4M3: case QC_QDT_FP8_E5M2: case QC_QDT_FP6_E3M2:
      case QC_QDT_FP6_E2M3: case QC_QDT_FP4: break;
      default:
        return VERR("%s.mx_element_dtype: must be one of int8, fp8_e4m3, fp8_e5m2, fp6_e3m2, "
                    "fp6_e2m3, fp4; got %s", path, qc_qdtype_name(s->mx_element_dtype));
      }
    }
    return QC_OK;
  }
  if (is_cast_only(s->dtype)) return QC_OK;
  if (!s->observer_cls) return VERR("%s.observer_cls: must be set for dtype %s", path, dn);
  if (!s->qscheme) return VERR("%s.qscheme: must be set for dtype %s", path, dn);
  const char *on = qc_qobserver_name(s->observer_cls);
  switch (s->qscheme) {
  case QC_QSCHEME_PER_TENSOR:
    if (!qc_qobserver_is_per_tensor(s->observer_cls))
      return VERR("%s.observer_cls: %s does not support qscheme per_tensor", path, on);
    break;
  case QC_QSCHEME_PER_CHANNEL:
    if (!qc_qobserver_is_per_channel(s->observer_cls))
      return VERR("%s.observer_cls: %s does not support qscheme per_channel", path, on);
    if (!s->has_ch_axis)
      return VERR("%s.ch_axis: must be an integer when qscheme is per_channel", path);
    break;
  case QC_QSCHEME_PER_GROUP:
    if (!qc_qobserver_is_per_group(s->observer_cls))
      return VERR("%s.observer_cls: %s does not support qscheme per_group", path, on);
    if (!s->has_ch_axis)
      return VERR("%s.ch_axis: must be an integer when qscheme is per_group", path);
    if (!s->has_group_size)
      return VERR("%s.group_size: must be a positive integer when qscheme is per_group", path);
    break;
  case QC_QSCHEME_PER_BLOCK:
    if (!s->has_block_size || s->block_size[0] <= 0 || s->block_size[1] <= 0)
      return VERR("%s.block_size: must be a list of two positive integers when qscheme is "
                  "per_block", path);
    break;
  default: return VERR("%s.qscheme: invalid", path);
  }
  /* Combinations Quark's observers and kernels reject at run time. */
  switch (s->observer_cls) {
  case QC_QOBS_PER_BLOCK_MX:
  case QC_QOBS_PER_BLOCK_MX_BUFFER_REUSE:
  case QC_QOBS_PER_BLOCK_MX_DIFFS:
    if (s->dtype != QC_QDT_FP4 && s->dtype != QC_QDT_FP8_E4M3 && s->dtype != QC_QDT_FP8_E5M2 &&
        s->dtype != QC_QDT_FP6_E2M3 && s->dtype != QC_QDT_FP6_E3M2)
      return VERR("%s.observer_cls: %s supports dtypes fp4, fp6_e2m3, fp6_e3m2, fp8_e4m3, "
                  "fp8_e5m2, got %s", path, on, dn);
    if (!s->scale_format)
      return VERR("%s.scale_format: must be one of e8m0, e4m3, e5m3, float32 with %s", path, on);
    break;
  case QC_QOBS_PER_TENSOR_POW2_MINMAX:
  case QC_QOBS_PER_TENSOR_POW2_MINMSE:
  case QC_QOBS_PER_CHANNEL_POW2_MINMAX:
  case QC_QOBS_PER_CHANNEL_POW2_MINMSE:
    if (s->dtype != QC_QDT_INT8 && s->dtype != QC_QDT_UINT8 && s->dtype != QC_QDT_INT32)
      return VERR("%s.observer_cls: %s supports dtypes int8, uint8, int32, got %s", path, on, dn);
    break;
  case QC_QOBS_PER_TENSOR_HISTOGRAM_PRO:
    if (s->dtype != QC_QDT_UINT4 && s->dtype != QC_QDT_INT8 && s->dtype != QC_QDT_UINT8)
      return VERR("%s.observer_cls: %s supports dtypes uint4, int8, uint8, got %s", path, on, dn);
    break;
  case QC_QOBS_PER_TENSOR_MSE:
    if (!(s->dtype == QC_QDT_INT4 || s->dtype == QC_QDT_UINT4 || s->dtype == QC_QDT_INT8 ||
          s->dtype == QC_QDT_UINT8 || s->dtype == QC_QDT_FP8_E4M3 || s->dtype == QC_QDT_FP8_E5M2))
      return VERR("%s.observer_cls: %s supports int4, uint4, int8, uint8, fp8_e4m3, fp8_e5m2, "
                  "got %s", path, on, dn);
    break;
  default: break;
  }
  if ((s->dtype == QC_QDT_FP4 || s->dtype == QC_QDT_FP6_E2M3 || s->dtype == QC_QDT_FP6_E3M2) &&
      s->qscheme == QC_QSCHEME_PER_TENSOR)
    return VERR("%s.qscheme: per_tensor is not implemented for dtype %s in Quark (use per_group)",
                path, dn);
  if (s->dtype == QC_QDT_FP8_E5M3 && s->qscheme != QC_QSCHEME_PER_TENSOR)
    return VERR("%s.qscheme: dtype fp8_e5m3 supports only per_tensor", path);
  if (s->qscheme == QC_QSCHEME_PER_BLOCK && s->observer_cls != QC_QOBS_PER_BLOCK_2D_MINMAX)
    return VERR("%s.observer_cls: qscheme per_block needs PerBlock2DMinMaxObserver", path);
  return QC_OK;
}

qc_status qc_qspecs_validate(const qc_qspecs *s, const char *path, bool activation) {
  char p[512];
  for (int32_t i = 0; i < s->n; i++) {
    if (s->is_list) snprintf(p, sizeof p, "%s[%d]", path, (int)i);
    else snprintf(p, sizeof p, "%s", path);
    const qc_qspec *sp = &s->v[i];
    QC_RETURN_IF_ERROR(qc_qspec_validate(sp, p));
    if (activation && sp->qscheme == QC_QSCHEME_PER_GROUP && sp->is_dynamic != QC_QB_TRUE)
      return VERR("%s.is_dynamic: static per_group quantization (is_dynamic false) is not "
                  "supported for input_tensors/output_tensors; use is_dynamic true", p);
  }
  if (!s->is_list || s->n == 0) return QC_OK;
  /* SequentialQuantize's rules (tensor_quantize.py). */
  int32_t n_tensor = 0;
  qc_qbool dyn = QC_QB_NULL;
  for (int32_t i = 0; i < s->n; i++) {
    const qc_qspec *sp = &s->v[i];
    snprintf(p, sizeof p, "%s[%d]", path, (int)i);
    if (is_non_scaled(sp->dtype))
      return VERR("%s.dtype: %s cannot be a stage of a list (Quark's SequentialQuantize)", p,
                  qc_qdtype_name(sp->dtype));
    if (sp->zero_point_type == QC_QZP_FLOAT32)
      return VERR("%s.zero_point_type: float32 zero points are not supported in a list of specs",
                  p);
    if (sp->observer_cls == QC_QOBS_TQT || sp->observer_cls == QC_QOBS_LSQ)
      return VERR("%s.observer_cls: %s is not supported in a list of specs", p,
                  qc_qobserver_name(sp->observer_cls));
    if (sp->is_scale_quant) {
      if (i == 0) return VERR("%s.is_scale_quant: the first stage cannot quantize scales", p);
      const qc_qspec *prev = &s->v[i - 1];
      if (prev->is_scale_quant)
        return VERR("%s.is_scale_quant: the stage before a scale quantizer must quantize the "
                    "tensor", p);
      if (prev->qscheme != QC_QSCHEME_PER_GROUP)
        return VERR("%s.is_scale_quant: the stage before a scale quantizer must be per_group", p);
    } else {
      if (n_tensor > 0 && sp->is_dynamic != dyn)
        return VERR("%s.is_dynamic: every tensor stage of a list must share is_dynamic", p);
      dyn = sp->is_dynamic;
      n_tensor++;
    }
  }
  if (n_tensor == 0) return VERR("%s: a list of specs needs at least one tensor stage", path);
  return QC_OK;
}

/* ---- memory ------------------------------------------------------------------------------ */

char *qc_qstrdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static qc_status oom(void) { return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory"); }

void qc_qspecs_clear(qc_qspecs *s) {
  free(s->v);
  memset(s, 0, sizeof *s);
}

qc_status qc_qspecs_set(qc_qspecs *dst, const qc_qspec *specs, int32_t n, bool is_list) {
  qc_qspec *v = NULL;
  if (n > 0) {
    v = malloc(sizeof(qc_qspec) * (size_t)n);
    if (!v) return oom();
    memcpy(v, specs, sizeof(qc_qspec) * (size_t)n);
  }
  free(dst->v);
  dst->v = v;
  dst->n = n;
  dst->is_list = n > 0 && is_list;
  return QC_OK;
}

void qc_qlayer_clear(qc_qlayer *l) {
  qc_qspecs_clear(&l->input_tensors);
  qc_qspecs_clear(&l->output_tensors);
  qc_qspecs_clear(&l->weight);
  qc_qspecs_clear(&l->bias);
  l->target_device = QC_QDEVICE_NONE;
}

qc_status qc_qlayer_copy(const qc_qlayer *src, qc_qlayer *dst) {
  qc_qlayer t;
  memset(&t, 0, sizeof t);
  qc_status s;
  if ((s = qc_qspecs_set(&t.input_tensors, src->input_tensors.v, src->input_tensors.n,
                         src->input_tensors.is_list)) ||
      (s = qc_qspecs_set(&t.output_tensors, src->output_tensors.v, src->output_tensors.n,
                         src->output_tensors.is_list)) ||
      (s = qc_qspecs_set(&t.weight, src->weight.v, src->weight.n, src->weight.is_list)) ||
      (s = qc_qspecs_set(&t.bias, src->bias.v, src->bias.n, src->bias.is_list))) {
    qc_qlayer_clear(&t);
    return s;
  }
  t.target_device = src->target_device;
  *dst = t;
  return QC_OK;
}

void qc_qstrings_clear(qc_qstrings *l) {
  for (int32_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

qc_status qc_qstrings_push(qc_qstrings *l, const char *s) {
  char **nv = realloc(l->v, sizeof(char *) * (size_t)(l->n + 1));
  if (!nv) return oom();
  l->v = nv;
  if (!(l->v[l->n] = qc_qstrdup(s))) return oom();
  l->n++;
  return QC_OK;
}

qc_status qc_qstrings_copy(const qc_qstrings *src, qc_qstrings *dst) {
  qc_qstrings t = {0, NULL};
  for (int32_t i = 0; i < src->n; i++) {
    qc_status s = qc_qstrings_push(&t, src->v[i]);
    if (s) {
      qc_qstrings_clear(&t);
      return s;
    }
  }
  *dst = t;
  return QC_OK;
}

static void entries_clear(qc_qlayer_entry **e, int32_t *n) {
  for (int32_t i = 0; i < *n; i++) {
    free((*e)[i].key);
    qc_qlayer_clear(&(*e)[i].cfg);
  }
  free(*e);
  *e = NULL;
  *n = 0;
}

static void groups_clear(qc_qstrings **g, int32_t *n) {
  for (int32_t i = 0; i < *n; i++) qc_qstrings_clear(&(*g)[i]);
  free(*g);
  *g = NULL;
  *n = 0;
}

static void export_clear(qc_qexport *e) {
  groups_clear(&e->weight_merge_groups, &e->n_weight_merge_groups);
  qc_qstrings_clear(&e->kv_cache_group);
  free(e->weight_format);
  free(e->pack_method);
  memset(e, 0, sizeof *e);
}

qc_status qc_qconfig_new(qc_qconfig **out) {
  *out = calloc(1, sizeof(qc_qconfig));
  if (!*out) return oom();
  return QC_OK;
}

void qc_qconfig_free(qc_qconfig *c) {
  if (!c) return;
  qc_qlayer_clear(&c->global_quant_config);
  qc_qstrings_clear(&c->exclude);
  free(c->algo_config);
  qc_qspecs_clear(&c->softmax_quant_spec);
  entries_clear(&c->layer_type_quant_config, &c->n_layer_type);
  entries_clear(&c->layer_quant_config, &c->n_layer);
  entries_clear(&c->kv_cache_quant_config, &c->n_kv_cache);
  free(c->version);
  qc_qstrings_clear(&c->kv_cache_group);
  groups_clear(&c->shared_scale_groups, &c->n_shared_scale_groups);
  export_clear(&c->export_cfg);
  free(c);
}

static qc_status entry_set(qc_qlayer_entry **e, int32_t *n, const char *key, const qc_qlayer *l) {
  qc_qlayer copy;
  QC_RETURN_IF_ERROR(qc_qlayer_copy(l, &copy));
  for (int32_t i = 0; i < *n; i++)
    if (strcmp((*e)[i].key, key) == 0) {
      qc_qlayer_clear(&(*e)[i].cfg);
      (*e)[i].cfg = copy;
      return QC_OK;
    }
  qc_qlayer_entry *ne = realloc(*e, sizeof(qc_qlayer_entry) * (size_t)(*n + 1));
  char *k = qc_qstrdup(key);
  if (!ne || !k) {
    if (ne) *e = ne;
    free(k);
    qc_qlayer_clear(&copy);
    return oom();
  }
  *e = ne;
  ne[*n].key = k;
  ne[*n].cfg = copy;
  (*n)++;
  return QC_OK;
}

qc_status qc_qconfig_set_layer(qc_qconfig *c, const char *pattern, const qc_qlayer *l) {
  return entry_set(&c->layer_quant_config, &c->n_layer, pattern, l);
}
qc_status qc_qconfig_set_layer_type(qc_qconfig *c, const char *t, const qc_qlayer *l) {
  return entry_set(&c->layer_type_quant_config, &c->n_layer_type, t, l);
}
qc_status qc_qconfig_set_kv_cache(qc_qconfig *c, const char *pattern, const qc_qlayer *l) {
  return entry_set(&c->kv_cache_quant_config, &c->n_kv_cache, pattern, l);
}

static qc_status groups_copy(const qc_qstrings *src, int32_t n, qc_qstrings **dst,
                             int32_t *dn) {
  *dst = NULL;
  *dn = 0;
  if (n == 0) return QC_OK;
  qc_qstrings *g = calloc((size_t)n, sizeof *g);
  if (!g) return oom();
  for (int32_t i = 0; i < n; i++) {
    qc_status s = qc_qstrings_copy(&src[i], &g[i]);
    if (s) {
      groups_clear(&g, &i);
      return s;
    }
  }
  *dst = g;
  *dn = n;
  return QC_OK;
}

qc_status qc_qconfig_clone(const qc_qconfig *c, qc_qconfig **out) {
  qc_qconfig *d;
  QC_RETURN_IF_ERROR(qc_qconfig_new(&d));
  qc_status s = QC_OK;
  if ((s = qc_qlayer_copy(&c->global_quant_config, &d->global_quant_config))) goto fail;
  if ((s = qc_qstrings_copy(&c->exclude, &d->exclude))) goto fail;
  if (c->algo_config && !(d->algo_config = qc_qstrdup(c->algo_config))) goto oom_fail;
  if ((s = qc_qspecs_set(&d->softmax_quant_spec, c->softmax_quant_spec.v, c->softmax_quant_spec.n,
                         c->softmax_quant_spec.is_list)))
    goto fail;
  for (int32_t i = 0; i < c->n_layer_type; i++)
    if ((s = qc_qconfig_set_layer_type(d, c->layer_type_quant_config[i].key,
                                       &c->layer_type_quant_config[i].cfg)))
      goto fail;
  for (int32_t i = 0; i < c->n_layer; i++)
    if ((s = qc_qconfig_set_layer(d, c->layer_quant_config[i].key,
                                  &c->layer_quant_config[i].cfg)))
      goto fail;
  for (int32_t i = 0; i < c->n_kv_cache; i++)
    if ((s = qc_qconfig_set_kv_cache(d, c->kv_cache_quant_config[i].key,
                                     &c->kv_cache_quant_config[i].cfg)))
      goto fail;
  d->kv_cache_post_rope = c->kv_cache_post_rope;
  d->quant_mode = c->quant_mode;
  if (c->version && !(d->version = qc_qstrdup(c->version))) goto oom_fail;
  if ((s = qc_qstrings_copy(&c->kv_cache_group, &d->kv_cache_group))) goto fail;
  d->min_kv_scale = c->min_kv_scale;
  if ((s = groups_copy(c->shared_scale_groups, c->n_shared_scale_groups, &d->shared_scale_groups,
                       &d->n_shared_scale_groups)))
    goto fail;
  d->sync_moe_expert_input_amax = c->sync_moe_expert_input_amax;
  d->has_export = c->has_export;
  if (c->has_export) {
    const qc_qexport *e = &c->export_cfg;
    qc_qexport *f = &d->export_cfg;
    f->has_weight_merge_groups = e->has_weight_merge_groups;
    if ((s = groups_copy(e->weight_merge_groups, e->n_weight_merge_groups, &f->weight_merge_groups,
                         &f->n_weight_merge_groups)))
      goto fail;
    if ((s = qc_qstrings_copy(&e->kv_cache_group, &f->kv_cache_group))) goto fail;
    f->min_kv_scale = e->min_kv_scale;
    if (e->weight_format && !(f->weight_format = qc_qstrdup(e->weight_format))) goto oom_fail;
    if (e->pack_method && !(f->pack_method = qc_qstrdup(e->pack_method))) goto oom_fail;
  }
  *out = d;
  return QC_OK;
oom_fail:
  s = oom();
fail:
  qc_qconfig_free(d);
  return s;
}

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct rd {
  const char *source;
} rd;

static qc_status rerr(const rd *r, const char *path, const qj_value *v, const char *fmt, ...)
    QC_PRINTF(4, 5);
static qc_status rerr(const rd *r, const char *path, const qj_value *v, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (v && v->line > 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s:%d:%d: %s: %s", r->source, (int)v->line,
                         (int)v->col, path, msg);
  return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: %s: %s", r->source, path, msg);
}

static void join(char *out, size_t cap, const char *path, const char *key) {
  if (!path || !*path) snprintf(out, cap, "%s", key);
  else snprintf(out, cap, "%s.%s", path, key);
}

/* A map key appended to a path: layer_quant_config["*k_proj"]. */
static void join_key(char *out, size_t cap, const char *path, const char *key) {
  snprintf(out, cap, "%s[\"%s\"]", path, key);
}

static qc_status want_kind(const rd *r, const char *path, const qj_value *v, qj_kind k) {
  bool ok = v->kind == k || (k == QJ_TRUE && v->kind == QJ_FALSE) ||
            (k == QJ_FLOAT && v->kind == QJ_INT);
  if (!ok)
    return rerr(r, path, v, "expected %s, got %s", qj_kind_name(k), qj_kind_name(v->kind));
  return QC_OK;
}

static qc_status rd_qbool(const rd *r, const char *path, const qj_value *v, qc_qbool *out) {
  if (v->kind == QJ_NULL) {
    *out = QC_QB_NULL;
    return QC_OK;
  }
  QC_RETURN_IF_ERROR(want_kind(r, path, v, QJ_TRUE));
  *out = v->kind == QJ_TRUE ? QC_QB_TRUE : QC_QB_FALSE;
  return QC_OK;
}

static qc_status rd_bool(const rd *r, const char *path, const qj_value *v, bool *out) {
  QC_RETURN_IF_ERROR(want_kind(r, path, v, QJ_TRUE));
  *out = v->kind == QJ_TRUE;
  return QC_OK;
}

static qc_status rd_int(const rd *r, const char *path, const qj_value *v, int64_t *out) {
  if (v->kind != QJ_INT)
    return rerr(r, path, v, "expected an integer, got %s", qj_kind_name(v->kind));
  *out = v->i;
  return QC_OK;
}

static qc_status rd_opt_int(const rd *r, const char *path, const qj_value *v, bool *has,
                            int64_t *out) {
  *has = false;
  if (v->kind == QJ_NULL) return QC_OK;
  QC_RETURN_IF_ERROR(rd_int(r, path, v, out));
  *has = true;
  return QC_OK;
}

/* An enum given by name; `names` indexed by enum value (NULL holes skipped). */
static qc_status rd_enum(const rd *r, const char *path, const qj_value *v,
                         const char *(*name_of)(int), int first, int count, int *out) {
  if (v->kind == QJ_NULL) {
    *out = 0;
    return QC_OK;
  }
  if (v->kind != QJ_STRING)
    return rerr(r, path, v, "expected a string or null, got %s", qj_kind_name(v->kind));
  for (int i = first; i < count; i++) {
    const char *n = name_of(i);
    if (n && strcmp(n, v->s) == 0) {
      *out = i;
      return QC_OK;
    }
  }
  char list[512];
  size_t k = 0;
  list[0] = 0;
  for (int i = first; i < count && k < sizeof list - 40; i++) {
    const char *n = name_of(i);
    if (n) k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", k ? ", " : "", n);
  }
  return rerr(r, path, v, "unknown value '%s' (expected one of: %s)", v->s, list);
}

static const char *nm_dtype(int i) { return qc_qdtype_name((qc_qdtype)i); }
static const char *nm_scheme(int i) { return qc_qscheme_name((qc_qscheme)i); }
static const char *nm_round(int i) { return qc_qround_name((qc_qround)i); }
static const char *nm_stype(int i) { return qc_qscale_type_name((qc_qscale_type)i); }
static const char *nm_sformat(int i) { return qc_qscale_format_name((qc_qscale_format)i); }
static const char *nm_smode(int i) { return qc_qscale_mode_name((qc_qscale_mode)i); }
static const char *nm_zp(int i) { return qc_qzero_point_type_name((qc_qzero_point_type)i); }
static const char *nm_obs(int i) { return qc_qobserver_name((qc_qobserver)i); }

static qc_status rd_spec(const rd *r, const char *path, const qj_value *o, qc_qspec *s) {
  char p[600];
  qc_qspec_init(s);
  if (o->kind != QJ_OBJECT)
    return rerr(r, path, o, "expected a QTensorConfig object, got %s", qj_kind_name(o->kind));
  bool seen_dyn = false, seen_axis = false;
  for (int32_t i = 0; i < o->n; i++) {
    const char *k = o->keys[i];
    const qj_value *v = &o->items[i];
    join(p, sizeof p, path, k);
    int e = 0;
    if (strcmp(k, "dtype") == 0) {
      if (v->kind == QJ_NULL) return rerr(r, p, v, "must be set");
      QC_RETURN_IF_ERROR(rd_enum(r, p, v, nm_dtype, 1, QC_QDT_COUNT, &e));
      s->dtype = (qc_qdtype)e;
    } else if (strcmp(k, "is_dynamic") == 0 || strcmp(k, "dynamic") == 0) {
      if (seen_dyn) return rerr(r, p, v, "given twice (is_dynamic and its legacy name dynamic)");
      seen_dyn = true;
      QC_RETURN_IF_ERROR(rd_qbool(r, p, v, &s->is_dynamic));
    } else if (strcmp(k, "qscheme") == 0) {
      QC_RETURN_IF_ERROR(rd_enum(r, p, v, nm_scheme, 1, 5, &e));
      s->qscheme = (qc_qscheme)e;
    } else if (strcmp(k, "ch_axis") == 0 || strcmp(k, "axis") == 0) {
      if (seen_axis) return rerr(r, p, v, "given twice (ch_axis and its legacy name axis)");
      seen_axis = true;
      int64_t a = 0;
      QC_RETURN_IF_ERROR(rd_opt_int(r, p, v, &s->has_ch_axis, &a));
      if (a < -64 || a > 64) return rerr(r, p, v, "axis %lld out of range", (long long)a);
      s->ch_axis = (int32_t)a;
    } else if (strcmp(k, "group_size") == 0) {
      QC_RETURN_IF_ERROR(rd_opt_int(r, p, v, &s->has_group_size, &s->group_size));
    } else if (strcmp(k, "block_size") == 0) {
      if (v->kind == QJ_NULL) continue;
      if (v->kind != QJ_ARRAY || v->n != 2 || v->items[0].kind != QJ_INT ||
          v->items[1].kind != QJ_INT)
        return rerr(r, p, v, "expected null or a list of two integers");
      s->has_block_size = true;
      s->block_size[0] = v->items[0].i;
      s->block_size[1] = v->items[1].i;
    } else if (strcmp(k, "symmetric") == 0) {
      QC_RETURN_IF_ERROR(rd_qbool(r, p, v, &s->symmetric));
    } else if (strcmp(k, "round_method") == 0) {
      if (v->kind == QJ_INT) { /* the enum's value, as some older exports wrote it */
        if (v->i != 2 && v->i != 3 && v->i != 8)
          return rerr(r, p, v, "unknown round method %lld (expected round, floor, half_even)",
                      (long long)v->i);
        s->round_method = (qc_qround)v->i;
      } else {
        QC_RETURN_IF_ERROR(rd_enum(r, p, v, nm_round, 1, 9, &e));
        s->round_method = (qc_qround)e;
      }
    } else if (strcmp(k, "scale_type") == 0) {
      if (v->kind == QJ_STRING && strcmp(v->s, "power_of_2") == 0) {
        s->scale_type = QC_QSCALE_TYPE_POF2; /* the name Quark's spec helpers take */
      } else {
        QC_RETURN_IF_ERROR(rd_enum(r, p, v, nm_stype, 1, 8, &e));
        s->scale_type = (qc_qscale_type)e;
      }
    } else if (strcmp(k, "zero_point_type") == 0) {
      QC_RETURN_IF_ERROR(rd_enum(r, p, v, nm_zp, 1, 3, &e));
      s->zero_point_type = e ? (qc_qzero_point_type)e : QC_QZP_INT32; /* null -> int32 */
    } else if (strcmp(k, "scale_format") == 0) {
      QC_RETURN_IF_ERROR(rd_enum(r, p, v, nm_sformat, 1, 5, &e));
      s->scale_format = (qc_qscale_format)e;
    } else if (strcmp(k, "scale_calculation_mode") == 0) {
      QC_RETURN_IF_ERROR(rd_enum(r, p, v, nm_smode, 1, 4, &e));
      s->scale_calculation_mode = (qc_qscale_mode)e;
    } else if (strcmp(k, "mx_element_dtype") == 0) {
      QC_RETURN_IF_ERROR(rd_enum(r, p, v, nm_dtype, 1, QC_QDT_COUNT, &e));
      s->mx_element_dtype = (qc_qdtype)e;
    } else if (strcmp(k, "observer_cls") == 0) {
      QC_RETURN_IF_ERROR(rd_enum(r, p, v, nm_obs, 1, QC_QOBS_COUNT, &e));
      s->observer_cls = (qc_qobserver)e;
    } else if (strcmp(k, "is_scale_quant") == 0) {
      QC_RETURN_IF_ERROR(rd_bool(r, p, v, &s->is_scale_quant));
    } else if (strcmp(k, "enable_buffer_reuse") == 0) {
      QC_RETURN_IF_ERROR(rd_bool(r, p, v, &s->enable_buffer_reuse));
    } else if (strcmp(k, "max_input_numel") == 0) {
      QC_RETURN_IF_ERROR(rd_int(r, p, v, &s->max_input_numel));
    } else if (strcmp(k, "qat_spec") == 0) {
      /* Written by some older versions; QAT specs are not part of to_dict() any more. */
      if (v->kind != QJ_NULL) return rerr(r, p, v, "QAT specs are not supported (expected null)");
    } else {
      return rerr(r, p, v, "unknown key in a QTensorConfig");
    }
  }
  if (!s->dtype) return rerr(r, path, o, "missing key 'dtype'");
  return QC_OK;
}

static qc_status rd_specs(const rd *r, const char *path, const qj_value *v, qc_qspecs *out) {
  memset(out, 0, sizeof *out);
  if (v->kind == QJ_NULL) return QC_OK;
  int32_t n = v->kind == QJ_ARRAY ? v->n : 1;
  if (v->kind == QJ_ARRAY && n == 0) return rerr(r, path, v, "an empty list of specs");
  qc_qspec *sp = calloc((size_t)n, sizeof *sp);
  if (!sp) return oom();
  char p[600];
  for (int32_t i = 0; i < n; i++) {
    const qj_value *e = v->kind == QJ_ARRAY ? &v->items[i] : v;
    if (v->kind == QJ_ARRAY) snprintf(p, sizeof p, "%s[%d]", path, (int)i);
    else snprintf(p, sizeof p, "%s", path);
    qc_status s = rd_spec(r, p, e, &sp[i]);
    if (s) {
      free(sp);
      return s;
    }
  }
  out->n = n;
  out->v = sp;
  out->is_list = v->kind == QJ_ARRAY;
  return QC_OK;
}

static qc_status rd_layer(const rd *r, const char *path, const qj_value *o, qc_qlayer *l) {
  memset(l, 0, sizeof *l);
  if (o->kind != QJ_OBJECT)
    return rerr(r, path, o, "expected a QLayerConfig object, got %s", qj_kind_name(o->kind));
  char p[600];
  qc_status s = QC_OK;
  for (int32_t i = 0; i < o->n && !s; i++) {
    const char *k = o->keys[i];
    const qj_value *v = &o->items[i];
    join(p, sizeof p, path, k);
    qc_qspecs *dst = NULL;
    if (strcmp(k, "input_tensors") == 0) dst = &l->input_tensors;
    else if (strcmp(k, "output_tensors") == 0) dst = &l->output_tensors;
    else if (strcmp(k, "weight") == 0) dst = &l->weight;
    else if (strcmp(k, "bias") == 0) dst = &l->bias;
    if (dst) {
      if (dst->n) s = rerr(r, p, v, "given twice");
      else s = rd_specs(r, p, v, dst);
    } else if (strcmp(k, "target_device") == 0) {
      if (v->kind == QJ_NULL) l->target_device = QC_QDEVICE_NONE;
      else if (v->kind == QJ_STRING && strcmp(v->s, "cpu") == 0) l->target_device = QC_QDEVICE_CPU;
      else if (v->kind == QJ_STRING && strcmp(v->s, "ipu") == 0) l->target_device = QC_QDEVICE_IPU;
      else s = rerr(r, p, v, "expected null, \"cpu\" or \"ipu\"");
    } else {
      s = rerr(r, p, v, "unknown key in a QLayerConfig");
    }
  }
  if (s) qc_qlayer_clear(l);
  return s;
}

static qc_status rd_strings(const rd *r, const char *path, const qj_value *v, qc_qstrings *out) {
  memset(out, 0, sizeof *out);
  if (v->kind == QJ_NULL) return QC_OK; /* legacy: exclude was null when empty */
  if (v->kind != QJ_ARRAY) return rerr(r, path, v, "expected a list of strings");
  char p[600];
  for (int32_t i = 0; i < v->n; i++) {
    if (v->items[i].kind != QJ_STRING) {
      snprintf(p, sizeof p, "%s[%d]", path, (int)i);
      qc_qstrings_clear(out);
      return rerr(r, p, &v->items[i], "expected a string, got %s", qj_kind_name(v->items[i].kind));
    }
    qc_status s = qc_qstrings_push(out, v->items[i].s);
    if (s) {
      qc_qstrings_clear(out);
      return s;
    }
  }
  return QC_OK;
}

static qc_status rd_groups(const rd *r, const char *path, const qj_value *v, qc_qstrings **out,
                           int32_t *n) {
  *out = NULL;
  *n = 0;
  if (v->kind != QJ_ARRAY) return rerr(r, path, v, "expected a list of lists of strings");
  if (v->n == 0) return QC_OK;
  qc_qstrings *g = calloc((size_t)v->n, sizeof *g);
  if (!g) return oom();
  char p[600];
  for (int32_t i = 0; i < v->n; i++) {
    snprintf(p, sizeof p, "%s[%d]", path, (int)i);
    qc_status s = v->items[i].kind == QJ_ARRAY
                      ? rd_strings(r, p, &v->items[i], &g[i])
                      : rerr(r, p, &v->items[i], "expected a list of strings");
    if (s) {
      groups_clear(&g, &i);
      return s;
    }
  }
  *out = g;
  *n = v->n;
  return QC_OK;
}

static qc_status rd_entries(const rd *r, const char *path, const qj_value *v, qc_qconfig *c,
                            int which) {
  if (v->kind == QJ_NULL) return QC_OK; /* legacy (quark<1.0) wrote null for {} */
  if (v->kind != QJ_OBJECT) return rerr(r, path, v, "expected an object");
  char p[600];
  for (int32_t i = 0; i < v->n; i++) {
    join_key(p, sizeof p, path, v->keys[i]);
    if (which == 0) {
      bool known = false;
      for (int t = 1; t <= QC_QLAYER_EMBEDDING_BAG; t++)
        if (strcmp(qc_qlayer_type_name((qc_qlayer_type)t), v->keys[i]) == 0) known = true;
      if (!known)
        return rerr(r, p, &v->items[i],
                    "unknown layer type (expected Linear, Conv2d, ConvTranspose2d, Embedding or "
                    "EmbeddingBag)");
    }
    qc_qlayer l;
    QC_RETURN_IF_ERROR(rd_layer(r, p, &v->items[i], &l));
    qc_status s = which == 0   ? qc_qconfig_set_layer_type(c, v->keys[i], &l)
                  : which == 1 ? qc_qconfig_set_layer(c, v->keys[i], &l)
                               : qc_qconfig_set_kv_cache(c, v->keys[i], &l);
    qc_qlayer_clear(&l);
    QC_RETURN_IF_ERROR(s);
  }
  return QC_OK;
}

static qc_status rd_export(const rd *r, const qj_value *v, qc_qexport *e) {
  const char *path = "export";
  memset(e, 0, sizeof *e);
  if (v->kind != QJ_OBJECT) return rerr(r, path, v, "expected an object");
  char p[600];
  for (int32_t i = 0; i < v->n; i++) {
    const char *k = v->keys[i];
    const qj_value *x = &v->items[i];
    join(p, sizeof p, path, k);
    if (strcmp(k, "weight_merge_groups") == 0) {
      if (x->kind == QJ_NULL) continue;
      e->has_weight_merge_groups = true;
      QC_RETURN_IF_ERROR(rd_groups(r, p, x, &e->weight_merge_groups, &e->n_weight_merge_groups));
    } else if (strcmp(k, "kv_cache_group") == 0) {
      QC_RETURN_IF_ERROR(rd_strings(r, p, x, &e->kv_cache_group));
    } else if (strcmp(k, "min_kv_scale") == 0) {
      QC_RETURN_IF_ERROR(want_kind(r, p, x, QJ_FLOAT));
      e->min_kv_scale = x->d;
    } else if (strcmp(k, "weight_format") == 0 || strcmp(k, "pack_method") == 0) {
      if (x->kind != QJ_STRING) return rerr(r, p, x, "expected a string");
      bool wf = k[0] == 'w';
      if (wf && strcmp(x->s, "real_quantized") != 0 && strcmp(x->s, "fake_quantized") != 0)
        return rerr(r, p, x, "expected \"real_quantized\" or \"fake_quantized\", got '%s'", x->s);
      if (!wf && strcmp(x->s, "reorder") != 0 && strcmp(x->s, "order") != 0)
        return rerr(r, p, x, "expected \"reorder\" or \"order\", got '%s'", x->s);
      char **dst = wf ? &e->weight_format : &e->pack_method;
      free(*dst);
      if (!(*dst = qc_qstrdup(x->s))) return oom();
    } else {
      return rerr(r, p, x, "unknown key in the export block");
    }
  }
  if (!e->weight_format && !(e->weight_format = qc_qstrdup("real_quantized"))) return oom();
  if (!e->pack_method && !(e->pack_method = qc_qstrdup("reorder"))) return oom();
  return QC_OK;
}

static qc_status rd_config(const rd *r, const qj_value *o, qc_qconfig *c) {
  if (o->kind != QJ_OBJECT) return rerr(r, "(top level)", o, "expected an object");
  if (!qj_get(o, "global_quant_config"))
    return rerr(r, "global_quant_config", o, "missing (a QConfig needs it)");
  for (int32_t i = 0; i < o->n; i++) {
    const char *k = o->keys[i];
    const qj_value *v = &o->items[i];
    if (strcmp(k, "global_quant_config") == 0) {
      QC_RETURN_IF_ERROR(rd_layer(r, k, v, &c->global_quant_config));
    } else if (strcmp(k, "exclude") == 0) {
      QC_RETURN_IF_ERROR(rd_strings(r, k, v, &c->exclude));
    } else if (strcmp(k, "algo_config") == 0) {
      if (v->kind == QJ_NULL) continue;
      if (v->kind != QJ_ARRAY && v->kind != QJ_OBJECT)
        return rerr(r, k, v, "expected null, a list of algorithm configs or one config");
      qc_bytes b = {0};
      if (v->kind == QJ_OBJECT) qc_bytes_putc(&b, '['); /* old configs: one object -> [object] */
      qj_put_value(&b, v, 0, 0, false);
      if (v->kind == QJ_OBJECT) qc_bytes_putc(&b, ']');
      if (b.oom) {
        free(b.p);
        return oom();
      }
      for (int32_t j = 0; j < v->n && v->kind == QJ_ARRAY; j++) {
        const qj_value *a = &v->items[j];
        char p[64];
        snprintf(p, sizeof p, "algo_config[%d]", (int)j);
        if (a->kind != QJ_OBJECT || !qj_get(a, "name") || qj_get(a, "name")->kind != QJ_STRING) {
          free(b.p);
          return rerr(r, p, a, "expected an object with a string \"name\"");
        }
      }
      c->algo_config = b.p;
    } else if (strcmp(k, "softmax_quant_spec") == 0) {
      if (v->kind == QJ_ARRAY) return rerr(r, k, v, "expected one QTensorConfig or null");
      QC_RETURN_IF_ERROR(rd_specs(r, k, v, &c->softmax_quant_spec));
    } else if (strcmp(k, "quant_method") == 0) {
      if (v->kind != QJ_STRING || strcmp(v->s, "quark") != 0)
        return rerr(r, k, v, "expected \"quark\"");
    } else if (strcmp(k, "layer_type_quant_config") == 0) {
      QC_RETURN_IF_ERROR(rd_entries(r, k, v, c, 0));
    } else if (strcmp(k, "layer_quant_config") == 0) {
      QC_RETURN_IF_ERROR(rd_entries(r, k, v, c, 1));
    } else if (strcmp(k, "kv_cache_quant_config") == 0) {
      QC_RETURN_IF_ERROR(rd_entries(r, k, v, c, 2));
    } else if (strcmp(k, "kv_cache_post_rope") == 0) {
      QC_RETURN_IF_ERROR(rd_bool(r, k, v, &c->kv_cache_post_rope));
    } else if (strcmp(k, "quant_mode") == 0) {
      if (v->kind == QJ_STRING && strcmp(v->s, "eager_mode") == 0) c->quant_mode = QC_QMODE_EAGER;
      else if (v->kind == QJ_STRING && strcmp(v->s, "fx_graph_mode") == 0)
        c->quant_mode = QC_QMODE_FX_GRAPH;
      else return rerr(r, k, v, "expected \"eager_mode\" or \"fx_graph_mode\"");
    } else if (strcmp(k, "version") == 0) {
      if (v->kind == QJ_NULL) continue;
      if (v->kind != QJ_STRING) return rerr(r, k, v, "expected a string or null");
      if (!(c->version = qc_qstrdup(v->s))) return oom();
    } else if (strcmp(k, "export") == 0) {
      c->has_export = true;
      QC_RETURN_IF_ERROR(rd_export(r, v, &c->export_cfg));
    } else if (strcmp(k, "kv_cache_group") == 0) {
      /* QConfig fields that to_dict() does not write; accepted so a config can carry them. */
      QC_RETURN_IF_ERROR(rd_strings(r, k, v, &c->kv_cache_group));
    } else if (strcmp(k, "min_kv_scale") == 0) {
      QC_RETURN_IF_ERROR(want_kind(r, k, v, QJ_FLOAT));
      c->min_kv_scale = v->d;
    } else if (strcmp(k, "shared_scale_groups") == 0) {
      QC_RETURN_IF_ERROR(
          rd_groups(r, k, v, &c->shared_scale_groups, &c->n_shared_scale_groups));
    } else if (strcmp(k, "sync_moe_expert_input_amax") == 0) {
      QC_RETURN_IF_ERROR(rd_bool(r, k, v, &c->sync_moe_expert_input_amax));
    } else {
      return rerr(r, k, v, "unknown key in a QConfig");
    }
  }
  return QC_OK;
}

qc_status qc_qconfig_from_json(const char *json, size_t len, const char *source,
                               qc_qconfig **out) {
  *out = NULL;
  if (!source) source = "<config>";
  qj_value *doc;
  QC_RETURN_IF_ERROR(qj_parse(json, len, source, &doc));
  const qj_value *root = doc;
  /* A config.json: take its quantization_config. */
  const qj_value *qc = qj_get(doc, "quantization_config");
  if (qc && !qj_get(doc, "global_quant_config")) root = qc;
  rd r = {source};
  qc_qconfig *c;
  qc_status s = qc_qconfig_new(&c);
  if (!s) s = rd_config(&r, root, c);
  qj_free(doc);
  if (!s) {
    s = qc_qconfig_validate(c);
    if (s) s = qc_status_wrap(s, "%s", source);
  }
  if (s) {
    qc_qconfig_free(c);
    return s;
  }
  *out = c;
  return QC_OK;
}

qc_status qc_qconfig_read_file(const char *path, qc_qconfig **out) {
  char *text = NULL;
  size_t len = 0;
  QC_RETURN_IF_ERROR(qc_read_file(path, &text, &len));
  qc_status s = qc_qconfig_from_json(text, len, path, out);
  free(text);
  return s;
}

qc_status qc_qspec_from_json(const char *json, size_t len, const char *source, qc_qspec *out) {
  if (!source) source = "<spec>";
  qj_value *doc;
  QC_RETURN_IF_ERROR(qj_parse(json, len, source, &doc));
  rd r = {source};
  qc_status s = rd_spec(&r, "spec", doc, out);
  qj_free(doc);
  if (!s) s = qc_qspec_validate(out, "spec");
  return s;
}

/* ---- validation of a whole config -------------------------------------------------------- */

static qc_status validate_layer(const qc_qlayer *l, const char *path) {
  char p[600];
  join(p, sizeof p, path, "input_tensors");
  QC_RETURN_IF_ERROR(qc_qspecs_validate(&l->input_tensors, p, true));
  join(p, sizeof p, path, "output_tensors");
  QC_RETURN_IF_ERROR(qc_qspecs_validate(&l->output_tensors, p, true));
  join(p, sizeof p, path, "weight");
  QC_RETURN_IF_ERROR(qc_qspecs_validate(&l->weight, p, false));
  join(p, sizeof p, path, "bias");
  QC_RETURN_IF_ERROR(qc_qspecs_validate(&l->bias, p, false));
  return QC_OK;
}

qc_status qc_qconfig_validate(const qc_qconfig *c) {
  char p[600];
  QC_RETURN_IF_ERROR(validate_layer(&c->global_quant_config, "global_quant_config"));
  for (int32_t i = 0; i < c->n_layer_type; i++) {
    bool known = false;
    for (int t = 1; t <= QC_QLAYER_EMBEDDING_BAG; t++)
      if (strcmp(qc_qlayer_type_name((qc_qlayer_type)t), c->layer_type_quant_config[i].key) == 0)
        known = true;
    join_key(p, sizeof p, "layer_type_quant_config", c->layer_type_quant_config[i].key);
    if (!known)
      return VERR("%s: unknown layer type (expected Linear, Conv2d, ConvTranspose2d, Embedding "
                  "or EmbeddingBag)", p);
    QC_RETURN_IF_ERROR(validate_layer(&c->layer_type_quant_config[i].cfg, p));
  }
  for (int32_t i = 0; i < c->n_layer; i++) {
    join_key(p, sizeof p, "layer_quant_config", c->layer_quant_config[i].key);
    QC_RETURN_IF_ERROR(validate_layer(&c->layer_quant_config[i].cfg, p));
  }
  for (int32_t i = 0; i < c->n_kv_cache; i++) {
    join_key(p, sizeof p, "kv_cache_quant_config", c->kv_cache_quant_config[i].key);
    QC_RETURN_IF_ERROR(validate_layer(&c->kv_cache_quant_config[i].cfg, p));
  }
  if (c->softmax_quant_spec.n > 1 || c->softmax_quant_spec.is_list)
    return VERR("softmax_quant_spec: must be one QTensorConfig or null");
  QC_RETURN_IF_ERROR(qc_qspecs_validate(&c->softmax_quant_spec, "softmax_quant_spec", true));
  for (int32_t i = 0; i < c->exclude.n; i++) {
    const char *e = c->exclude.v[i];
    if (strncmp(e, "re:", 3) == 0) {
      regex_t re;
      int rc = regcomp(&re, e + 3, REG_EXTENDED | REG_NOSUB);
      if (rc) {
        char msg[200];
        regerror(rc, &re, msg, sizeof msg);
        return VERR("exclude[%d]: bad regular expression '%s': %s", (int)i, e + 3, msg);
      }
      regfree(&re);
    }
  }
  if (c->min_kv_scale < 0) return VERR("min_kv_scale: must be >= 0");
  if (c->has_export && c->export_cfg.min_kv_scale < 0)
    return VERR("export.min_kv_scale: must be >= 0");
  /* vLLM's reading of export.kv_cache_group: each entry must name a layer_quant_config
   * pattern, whose output_tensors is the KV spec. (QConfig.kv_cache_group, which Quark's
   * templates always fill, is not checked: it only takes effect through the export.) */
  if (c->has_export) {
    const qc_qstrings *kvg = &c->export_cfg.kv_cache_group;
    for (int32_t i = 0; i < kvg->n; i++) {
      bool found = false;
      for (int32_t j = 0; j < c->n_layer; j++)
        if (strcmp(kvg->v[i], c->layer_quant_config[j].key) == 0 ||
            qc_fnmatch(kvg->v[i], c->layer_quant_config[j].key))
          found = c->layer_quant_config[j].cfg.output_tensors.n > 0;
      if (!found)
        return VERR("export.kv_cache_group[%d]: '%s' names no layer_quant_config pattern with "
                    "output_tensors (the KV-cache spec)", (int)i, kvg->v[i]);
    }
  }
  return QC_OK;
}

/* ---- writing ----------------------------------------------------------------------------- */

/* Builders for a qj_value tree (the writer formats it, so indent/sort_keys come for free). */
typedef struct wb {
  bool oom;
} wb;

static qj_value *obj_add(wb *w, qj_value *o, const char *key) {
  if (w->oom) return NULL;
  qj_value *ni = realloc(o->items, sizeof(qj_value) * (size_t)(o->n + 1));
  if (!ni) {
    w->oom = true;
    return NULL;
  }
  o->items = ni;
  char **nk = realloc(o->keys, sizeof(char *) * (size_t)(o->n + 1));
  if (!nk) {
    w->oom = true;
    return NULL;
  }
  o->keys = nk;
  o->keys[o->n] = qc_qstrdup(key);
  if (!o->keys[o->n]) {
    w->oom = true;
    return NULL;
  }
  qj_value *v = &o->items[o->n++];
  memset(v, 0, sizeof *v);
  return v;
}

static qj_value *arr_add(wb *w, qj_value *a) {
  if (w->oom) return NULL;
  qj_value *ni = realloc(a->items, sizeof(qj_value) * (size_t)(a->n + 1));
  if (!ni) {
    w->oom = true;
    return NULL;
  }
  a->items = ni;
  qj_value *v = &a->items[a->n++];
  memset(v, 0, sizeof *v);
  return v;
}

static void set_str(wb *w, qj_value *v, const char *s) {
  if (!v) return;
  if (!s) {
    v->kind = QJ_NULL;
    return;
  }
  v->kind = QJ_STRING;
  if (!(v->s = qc_qstrdup(s))) w->oom = true;
}
static void set_int(qj_value *v, int64_t i) {
  if (!v) return;
  v->kind = QJ_INT;
  v->i = i;
  v->d = (double)i;
}
static void set_opt_int(qj_value *v, bool has, int64_t i) {
  if (!v) return;
  if (has) set_int(v, i);
  else v->kind = QJ_NULL;
}
static void set_bool(qj_value *v, bool b) {
  if (v) v->kind = b ? QJ_TRUE : QJ_FALSE;
}
static void set_qbool(qj_value *v, qc_qbool b) {
  if (!v) return;
  if (b == QC_QB_NULL) v->kind = QJ_NULL;
  else set_bool(v, b == QC_QB_TRUE);
}
static void set_float(qj_value *v, double d) {
  if (!v) return;
  v->kind = QJ_FLOAT;
  v->d = d;
}

static void put_spec(wb *w, qj_value *o, const qc_qspec *s) {
  o->kind = QJ_OBJECT;
  set_str(w, obj_add(w, o, "dtype"), qc_qdtype_name(s->dtype));
  set_qbool(obj_add(w, o, "is_dynamic"), s->is_dynamic);
  set_str(w, obj_add(w, o, "qscheme"), qc_qscheme_name(s->qscheme));
  set_opt_int(obj_add(w, o, "ch_axis"), s->has_ch_axis, s->ch_axis);
  set_opt_int(obj_add(w, o, "group_size"), s->has_group_size, s->group_size);
  qj_value *bs = obj_add(w, o, "block_size");
  if (bs) {
    if (s->has_block_size) {
      bs->kind = QJ_ARRAY;
      set_int(arr_add(w, bs), s->block_size[0]);
      set_int(arr_add(w, bs), s->block_size[1]);
    } else {
      bs->kind = QJ_NULL;
    }
  }
  set_qbool(obj_add(w, o, "symmetric"), s->symmetric);
  set_str(w, obj_add(w, o, "round_method"), qc_qround_name(s->round_method));
  set_str(w, obj_add(w, o, "scale_type"), qc_qscale_type_name(s->scale_type));
  set_str(w, obj_add(w, o, "zero_point_type"), qc_qzero_point_type_name(s->zero_point_type));
  set_str(w, obj_add(w, o, "scale_format"), qc_qscale_format_name(s->scale_format));
  set_str(w, obj_add(w, o, "scale_calculation_mode"),
          qc_qscale_mode_name(s->scale_calculation_mode));
  set_str(w, obj_add(w, o, "mx_element_dtype"), qc_qdtype_name(s->mx_element_dtype));
  set_str(w, obj_add(w, o, "observer_cls"), qc_qobserver_name(s->observer_cls));
  set_bool(obj_add(w, o, "is_scale_quant"), s->is_scale_quant);
  set_bool(obj_add(w, o, "enable_buffer_reuse"), s->enable_buffer_reuse);
  set_int(obj_add(w, o, "max_input_numel"), s->max_input_numel);
}

static void put_specs(wb *w, qj_value *v, const qc_qspecs *s) {
  if (!v) return;
  if (s->n == 0) {
    v->kind = QJ_NULL;
    return;
  }
  if (!s->is_list) {
    put_spec(w, v, &s->v[0]);
    return;
  }
  v->kind = QJ_ARRAY;
  for (int32_t i = 0; i < s->n; i++) {
    qj_value *e = arr_add(w, v);
    if (e) put_spec(w, e, &s->v[i]);
  }
}

static void put_layer(wb *w, qj_value *o, const qc_qlayer *l) {
  if (!o) return;
  o->kind = QJ_OBJECT;
  put_specs(w, obj_add(w, o, "input_tensors"), &l->input_tensors);
  put_specs(w, obj_add(w, o, "output_tensors"), &l->output_tensors);
  put_specs(w, obj_add(w, o, "weight"), &l->weight);
  put_specs(w, obj_add(w, o, "bias"), &l->bias);
  set_str(w, obj_add(w, o, "target_device"),
          l->target_device == QC_QDEVICE_CPU   ? "cpu"
          : l->target_device == QC_QDEVICE_IPU ? "ipu"
                                               : NULL);
}

static void put_strings(wb *w, qj_value *v, const qc_qstrings *l) {
  if (!v) return;
  v->kind = QJ_ARRAY;
  for (int32_t i = 0; i < l->n; i++) set_str(w, arr_add(w, v), l->v[i]);
}

static void put_entries(wb *w, qj_value *v, const qc_qlayer_entry *e, int32_t n) {
  if (!v) return;
  v->kind = QJ_OBJECT;
  for (int32_t i = 0; i < n; i++) put_layer(w, obj_add(w, v, e[i].key), &e[i].cfg);
}

static qc_status build_doc(const qc_qconfig *c, bool with_export, qj_value *root) {
  wb w = {false};
  memset(root, 0, sizeof *root);
  root->kind = QJ_OBJECT;
  put_layer(&w, obj_add(&w, root, "global_quant_config"), &c->global_quant_config);
  put_strings(&w, obj_add(&w, root, "exclude"), &c->exclude);
  qj_value *algo = obj_add(&w, root, "algo_config");
  if (algo) {
    if (c->algo_config) {
      qj_value *parsed;
      qc_status s = qj_parse(c->algo_config, strlen(c->algo_config), "algo_config", &parsed);
      if (s) {
        qj_clear(root);
        return qc_status_wrap(s, "algo_config: not valid JSON");
      }
      *algo = *parsed;
      free(parsed);
    } else {
      algo->kind = QJ_NULL;
    }
  }
  qj_value *sm = obj_add(&w, root, "softmax_quant_spec");
  put_specs(&w, sm, &c->softmax_quant_spec);
  set_str(&w, obj_add(&w, root, "quant_method"), "quark");
  put_entries(&w, obj_add(&w, root, "layer_type_quant_config"), c->layer_type_quant_config,
              c->n_layer_type);
  put_entries(&w, obj_add(&w, root, "layer_quant_config"), c->layer_quant_config, c->n_layer);
  put_entries(&w, obj_add(&w, root, "kv_cache_quant_config"), c->kv_cache_quant_config,
              c->n_kv_cache);
  set_bool(obj_add(&w, root, "kv_cache_post_rope"), c->kv_cache_post_rope);
  set_str(&w, obj_add(&w, root, "quant_mode"),
          c->quant_mode == QC_QMODE_FX_GRAPH ? "fx_graph_mode" : "eager_mode");
  set_str(&w, obj_add(&w, root, "version"), c->version);
  if (with_export && c->has_export) {
    const qc_qexport *e = &c->export_cfg;
    qj_value *x = obj_add(&w, root, "export");
    if (x) {
      x->kind = QJ_OBJECT;
      qj_value *g = obj_add(&w, x, "weight_merge_groups");
      if (g) {
        if (e->has_weight_merge_groups) {
          g->kind = QJ_ARRAY;
          for (int32_t i = 0; i < e->n_weight_merge_groups; i++)
            put_strings(&w, arr_add(&w, g), &e->weight_merge_groups[i]);
        } else {
          g->kind = QJ_NULL;
        }
      }
      put_strings(&w, obj_add(&w, x, "kv_cache_group"), &e->kv_cache_group);
      set_float(obj_add(&w, x, "min_kv_scale"), e->min_kv_scale);
      set_str(&w, obj_add(&w, x, "weight_format"),
              e->weight_format ? e->weight_format : "real_quantized");
      set_str(&w, obj_add(&w, x, "pack_method"), e->pack_method ? e->pack_method : "reorder");
    }
  }
  if (w.oom) {
    qj_clear(root);
    return oom();
  }
  return QC_OK;
}

qc_status qc_qconfig_to_json(const qc_qconfig *c, const qc_qjson_options *opts, char **text,
                             size_t *len) {
  *text = NULL;
  if (len) *len = 0;
  QC_RETURN_IF_ERROR(qc_qconfig_validate(c));
  qc_qjson_options o = {0, false, false};
  if (opts) o = *opts;
  qj_value root;
  QC_RETURN_IF_ERROR(build_doc(c, !o.omit_export, &root));
  qc_bytes b = {0};
  qj_put_value(&b, &root, o.indent, 0, o.sort_keys);
  qj_clear(&root);
  if (b.oom || !b.p) {
    free(b.p);
    return oom();
  }
  *text = b.p;
  if (len) *len = b.n;
  return QC_OK;
}

qc_status qc_qspec_to_json(const qc_qspec *s, char **text, size_t *len) {
  wb w = {false};
  qj_value v;
  memset(&v, 0, sizeof v);
  put_spec(&w, &v, s);
  qc_bytes b = {0};
  if (!w.oom) qj_put_value(&b, &v, 0, 0, false);
  qj_clear(&v);
  if (w.oom || b.oom || !b.p) {
    free(b.p);
    return oom();
  }
  *text = b.p;
  if (len) *len = b.n;
  return QC_OK;
}

qc_status qc_qconfig_write_file(const qc_qconfig *c, const qc_qjson_options *opts,
                                const char *path) {
  char *text = NULL;
  size_t len = 0;
  QC_RETURN_IF_ERROR(qc_qconfig_to_json(c, opts, &text, &len));
  FILE *f = fopen(path, "wb");
  if (!f) {
    free(text);
    return qc_status_new(QC_CODE_IO, "%s: cannot create: %s", path, strerror(errno));
  }
  bool ok = fwrite(text, 1, len, f) == len && fputc('\n', f) != EOF;
  ok = (fclose(f) == 0) && ok;
  free(text);
  if (!ok) return qc_status_new(QC_CODE_IO, "%s: write error", path);
  return QC_OK;
}

/* ---- matching ---------------------------------------------------------------------------- */

/* Python's fnmatch.fnmatchcase: '*' any run (dots included), '?' one character,
 * '[seq]' / '[!seq]' classes with ranges; a '[' without a closing ']' is literal. */
bool qc_fnmatch(const char *p, const char *s) {
  const char *star_p = NULL, *star_s = NULL;
  while (*s) {
    if (*p == '*') {
      while (*p == '*') p++;
      if (!*p) return true;
      star_p = p;
      star_s = s;
      continue;
    }
    bool ok = false;
    const char *next = p + 1;
    if (*p == '?') {
      ok = true;
    } else if (*p == '[') {
      const char *q = p + 1;
      bool neg = false;
      if (*q == '!') {
        neg = true;
        q++;
      }
      const char *cls = q;
      if (*q == ']') q++; /* a ']' right after '[' or '[!' is part of the set */
      while (*q && *q != ']') q++;
      if (*q == ']') {
        bool in = false;
        const char *e = q;
        for (const char *c = cls; c < e;) {
          if (c + 2 < e && c[1] == '-') {
            if ((unsigned char)*s >= (unsigned char)c[0] && (unsigned char)*s <= (unsigned char)c[2])
              in = true;
            c += 3;
          } else {
            if (*c == *s) in = true;
            c++;
          }
        }
        ok = in != neg;
        next = q + 1;
      } else {
        ok = *s == '['; /* unterminated: literal '[' */
      }
    } else {
      ok = *p == *s;
    }
    if (ok && *p) {
      p = next;
      s++;
      continue;
    }
    if (!star_p) return false;
    p = star_p;
    s = ++star_s;
  }
  while (*p == '*') p++;
  return *p == 0;
}

static bool has_glob(const char *p) { return strpbrk(p, "*?[") != NULL; }

qc_status qc_qpattern_match(const char *pattern, const char *name, bool *match) {
  *match = false;
  if (strncmp(pattern, "re:", 3) == 0) {
    regex_t re;
    int rc = regcomp(&re, pattern + 3, REG_EXTENDED);
    if (rc) {
      char msg[200];
      regerror(rc, &re, msg, sizeof msg);
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "bad regular expression '%s': %s",
                           pattern + 3, msg);
    }
    regmatch_t m;
    /* Python's re.match: anchored at the start, not at the end. */
    *match = regexec(&re, name, 1, &m, 0) == 0 && m.rm_so == 0;
    if (!*match) {
      /* POSIX finds the leftmost match; a later start does not count, but an anchored
       * match may still exist when the leftmost-longest one starts later: retry with an
       * explicit anchor. */
      size_t n = strlen(pattern + 3);
      char *anch = malloc(n + 4);
      if (anch) {
        snprintf(anch, n + 4, "^(%s)", pattern + 3);
        regex_t re2;
        if (regcomp(&re2, anch, REG_EXTENDED | REG_NOSUB) == 0) {
          *match = regexec(&re2, name, 0, NULL, 0) == 0;
          regfree(&re2);
        }
        free(anch);
      }
    }
    regfree(&re);
    return QC_OK;
  }
  *match = strcmp(pattern, name) == 0 || (has_glob(pattern) && qc_fnmatch(pattern, name));
  return QC_OK;
}

static qc_qlayer null_layer(void) {
  qc_qlayer l;
  memset(&l, 0, sizeof l);
  return l;
}

qc_status qc_qconfig_resolve(const qc_qconfig *c, const char *name, qc_qlayer_type type,
                             qc_qresolution *out) {
  return qc_qconfig_resolve_ex(c, name, type, QC_QMATCH_QUARK, out);
}

qc_status qc_qconfig_resolve_ex(const qc_qconfig *c, const char *name, qc_qlayer_type type,
                                qc_qmatch mode, qc_qresolution *out) {
  memset(out, 0, sizeof *out);
  out->source = QC_QSOURCE_NONE;
  out->layer = null_layer();
  if (type == QC_QLAYER_OTHER) return QC_OK;
  bool m;
  /* 1. exclude: exact names first, then patterns in order (setup_config_per_layer). */
  const char *excluded_by = NULL;
  for (int32_t i = 0; i < c->exclude.n && !excluded_by; i++)
    if (strcmp(c->exclude.v[i], name) == 0) excluded_by = c->exclude.v[i];
  for (int32_t i = 0; i < c->exclude.n && !excluded_by; i++) {
    const char *e = c->exclude.v[i];
    if (mode == QC_QMATCH_VLLM && strncmp(e, "re:", 3) != 0) continue; /* exact only */
    QC_RETURN_IF_ERROR(qc_qpattern_match(e, name, &m));
    if (m) excluded_by = e;
  }
  /* 2. layer_quant_config: exact key, then patterns in order. */
  const qc_qlayer *cfg = NULL;
  qc_qsource src = QC_QSOURCE_NONE;
  const char *pat = NULL;
  if (!excluded_by) {
    for (int32_t i = 0; i < c->n_layer && !cfg && mode == QC_QMATCH_QUARK; i++)
      if (strcmp(c->layer_quant_config[i].key, name) == 0 && !has_glob(name)) {
        cfg = &c->layer_quant_config[i].cfg;
        pat = c->layer_quant_config[i].key;
      }
    for (int32_t i = 0; i < c->n_layer && !cfg; i++) {
      const char *k = c->layer_quant_config[i].key;
      if (mode == QC_QMATCH_VLLM && !strchr(k, '*')) m = strstr(k, name) != NULL;
      else QC_RETURN_IF_ERROR(qc_qpattern_match(k, name, &m));
      if (m) {
        cfg = &c->layer_quant_config[i].cfg;
        pat = k;
      }
    }
    if (cfg) src = QC_QSOURCE_LAYER;
    /* 3. layer_type_quant_config (isinstance: exact type here). */
    const char *tn = qc_qlayer_type_name(type);
    for (int32_t i = 0; i < c->n_layer_type && !cfg; i++)
      if (strcmp(c->layer_type_quant_config[i].key, tn) == 0) {
        cfg = &c->layer_type_quant_config[i].cfg;
        pat = c->layer_type_quant_config[i].key;
        src = QC_QSOURCE_LAYER_TYPE;
      }
    /* 4. global, except for embeddings ("strict" in Quark). */
    if (!cfg && type != QC_QLAYER_EMBEDDING && type != QC_QLAYER_EMBEDDING_BAG) {
      cfg = &c->global_quant_config;
      src = QC_QSOURCE_GLOBAL;
    }
  }
  /* 5. kv_cache_quant_config overrides (setup_kv_cache_config): every matching pattern is
   *    applied in turn, so the last one wins; an excluded layer keeps only its output (KV)
   *    quantization. */
  if (mode == QC_QMATCH_QUARK) {
    const qc_qlayer_entry *kv = NULL;
    for (int32_t i = 0; i < c->n_kv_cache; i++) {
      QC_RETURN_IF_ERROR(qc_qpattern_match(c->kv_cache_quant_config[i].key, name, &m));
      if (m) kv = &c->kv_cache_quant_config[i];
    }
    if (kv) {
      out->source = QC_QSOURCE_KV_CACHE;
      out->pattern = kv->key;
      out->layer = kv->cfg;
      if (excluded_by) {
        memset(&out->layer.input_tensors, 0, sizeof(qc_qspecs));
        memset(&out->layer.weight, 0, sizeof(qc_qspecs));
      }
      return QC_OK;
    }
  }
  if (excluded_by) {
    out->source = QC_QSOURCE_EXCLUDED;
    out->pattern = excluded_by;
    return QC_OK;
  }
  if (cfg) {
    out->source = src;
    out->pattern = pat;
    out->layer = *cfg;
  }
  return QC_OK;
}
