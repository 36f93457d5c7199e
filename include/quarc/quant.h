/*
 * quarc/quant.h — quantization configuration and numerics, compatible with AMD Quark.
 *
 * Three parts:
 *
 *  1. The configuration. A qc_qconfig is Quark's QConfig: a global QLayerConfig, per
 *     layer-type and per-layer-name overrides, an exclude list, KV-cache and softmax
 *     specs, algorithm configs (kept as raw JSON) and the exporter's `export` block. It
 *     reads and writes the JSON of QConfig.to_dict() (also the <=0.10 key names and the
 *     legacy `dynamic`/`axis` keys) and writes keys in Quark's order, so a config made by
 *     Quark loads here and ours loads in Quark, vLLM and transformers. Every error names
 *     the key path: "global_quant_config.weight.group_size: must be a positive integer
 *     when qscheme is per_group". Presets carry Quark's scheme names (int8, fp8,
 *     int4_wo_128, mxfp4, nvfp4, ...). qc_qconfig_resolve answers "which QLayerConfig
 *     applies to this layer" in Quark's order.
 *
 *  2. The numerics: scales and zero points from observed statistics, and fake/real
 *     quantization, bit for bit as Quark 0.13 computes them on the CPU (integers with
 *     every round method and zero-point type, fp8, fp4/fp6 with e8m0/e4m3/e5m3/float32
 *     scales, MXINT8, MX6/MX9, BFP16, power-of-two scales, two-stage specs). Tensors are
 *     float32 arrays in row-major order; `model_dtype` (f32, f16 or bf16) is the dtype
 *     the model's tensors have in Quark, which decides the dtype of scales when
 *     scale_type is "float" and the rounding of outputs.
 *
 *  3. Observers (MinMax, PowOf2 MinMax/MinMSE, Histogram, Percentile, MSE, per
 *     tensor/channel/group/block and MX), streaming: update() once per calibration batch,
 *     then params(). Memory is bounded by the statistic (histograms grow by bins, not by
 *     samples).
 *
 * A qc_quantizer bundles them the way Quark's FakeQuantize / SequentialQuantize do for
 * one tensor: one observer per stage, parameters, forward.
 *
 *     qc_qconfig *cfg;
 *     QC_RETURN_IF_ERROR(qc_qconfig_preset("int4_wo_128", NULL, &cfg));
 *     qc_qresolution r;
 *     QC_RETURN_IF_ERROR(qc_qconfig_resolve(cfg, "model.layers.0.mlp.up_proj",
 *                                           QC_QLAYER_LINEAR, &r));
 *     if (r.source != QC_QSOURCE_EXCLUDED && r.layer.weight.n > 0) {
 *       qc_quantizer *q;
 *       QC_RETURN_IF_ERROR(qc_quantizer_create(&r.layer.weight, QC_F32, &q));
 *       QC_RETURN_IF_ERROR(qc_quantizer_observe(q, w, 2, shape));    // static: calibrate
 *       QC_RETURN_IF_ERROR(qc_quantizer_finalize(q));                 // scales
 *       QC_RETURN_IF_ERROR(qc_quantizer_forward(q, w, 2, shape, wq)); // fake-quantized
 *       const qc_qparams *p = qc_quantizer_params(q, 0);              // for export
 *       qc_quantizer_free(q);
 *     }
 *     char *json; size_t len;
 *     QC_RETURN_IF_ERROR(qc_qconfig_to_json(cfg, NULL, &json, &len)); free(json);
 *     qc_qconfig_free(cfg);
 *
 * Memory: everything returned is malloc'd (strings, configs, params) and released with
 * the matching free function (qc_qconfig_free, qc_qparams_clear, free() for text).
 * Facts about Quark and where they were checked: docs/quant.md.
 */
#ifndef QUARC_QUANT_H
#define QUARC_QUANT_H

#include "quarc/dtype.h"
#include "quarc/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ============================================================================================
 * Enumerations (Quark's names; values are stable, append only)
 * ========================================================================================== */

/** Quark's Dtype (quark/torch/quantization/config/type.py). Serialized by name. */
typedef enum qc_qdtype {
  QC_QDT_NONE = 0, /**< null / unset */
  QC_QDT_INT8 = 1,
  QC_QDT_UINT8 = 2,
  QC_QDT_INT16 = 3,
  QC_QDT_UINT16 = 4,
  QC_QDT_INT32 = 5,
  QC_QDT_INT4 = 6,
  QC_QDT_UINT4 = 7,
  QC_QDT_INT3 = 8,
  QC_QDT_INT2 = 9,
  QC_QDT_UINT2 = 10,
  QC_QDT_BFLOAT16 = 11, /**< cast only (PlaceholderObserver) */
  QC_QDT_FLOAT16 = 12,  /**< cast only */
  QC_QDT_FP8_E5M2 = 13,
  QC_QDT_FP8_E4M3 = 14,
  QC_QDT_FP8_E5M3 = 15, /**< unsigned e5m3, mostly a scale format */
  QC_QDT_FP6_E3M2 = 16,
  QC_QDT_FP6_E2M3 = 17,
  QC_QDT_FP4 = 18,      /**< e2m1 */
  QC_QDT_MX = 19,       /**< OCP MX with mx_element_dtype (emulation only in Quark) */
  QC_QDT_MX6 = 20,      /**< MicroeXponent, shared prime bits */
  QC_QDT_MX9 = 21,
  QC_QDT_BFP16 = 22,    /**< block floating point, 8-element blocks */
  QC_QDT_COUNT = 23
} qc_qdtype;

typedef enum qc_qscheme {
  QC_QSCHEME_NONE = 0,
  QC_QSCHEME_PER_TENSOR = 1,
  QC_QSCHEME_PER_CHANNEL = 2,
  QC_QSCHEME_PER_GROUP = 3,
  QC_QSCHEME_PER_BLOCK = 4,
} qc_qscheme;

/** Quark's RoundType; the values are Quark's (and its kernels' round_mode). */
typedef enum qc_qround {
  QC_QROUND_NONE = 0,
  QC_QROUND_ROUND = 2,     /**< half away from zero */
  QC_QROUND_FLOOR = 3,
  QC_QROUND_HALF_EVEN = 8,
} qc_qround;

/** Quark's ScaleType. */
typedef enum qc_qscale_type {
  QC_QSCALE_TYPE_NONE = 0,
  QC_QSCALE_TYPE_FLOAT = 1,   /**< the model's dtype */
  QC_QSCALE_TYPE_POF2 = 2,    /**< power of two (JSON "pof2"; Quark's string map also "power_of_2") */
  QC_QSCALE_TYPE_FLOAT32 = 3,
  QC_QSCALE_TYPE_FLOAT16 = 4,
  QC_QSCALE_TYPE_BFLOAT16 = 5,
  QC_QSCALE_TYPE_FLOAT8_E5M3 = 6,
  QC_QSCALE_TYPE_FLOAT8_E8M0FNU = 7,
} qc_qscale_type;

/** scale_format (a free string in Quark; these are the values its get_scale accepts). */
typedef enum qc_qscale_format {
  QC_QSCALE_FORMAT_NONE = 0,
  QC_QSCALE_FORMAT_E8M0 = 1,    /**< MX: power-of-two scales */
  QC_QSCALE_FORMAT_E4M3 = 2,    /**< two-level fp8 e4m3 scales */
  QC_QSCALE_FORMAT_E5M3 = 3,    /**< scales rounded to unsigned e5m3 */
  QC_QSCALE_FORMAT_FLOAT32 = 4, /**< amax / qmax */
} qc_qscale_format;

/** scale_calculation_mode for e8m0 scales (null means "even"). */
typedef enum qc_qscale_mode {
  QC_QSCALE_MODE_NONE = 0,
  QC_QSCALE_MODE_EVEN = 1,
  QC_QSCALE_MODE_FLOOR = 2,
  QC_QSCALE_MODE_CEIL = 3,
} qc_qscale_mode;

typedef enum qc_qzero_point_type {
  QC_QZP_NONE = 0,
  QC_QZP_INT32 = 1, /**< the default */
  QC_QZP_FLOAT32 = 2,
} qc_qzero_point_type;

/** Quark's observer classes (serialized by class name). */
typedef enum qc_qobserver {
  QC_QOBS_NONE = 0,
  QC_QOBS_PLACEHOLDER = 1,                   /**< PlaceholderObserver */
  QC_QOBS_PER_TENSOR_MINMAX = 2,             /**< PerTensorMinMaxObserver */
  QC_QOBS_PER_TENSOR_POW2_MINMAX = 3,        /**< PerTensorPowOf2MinMaxObserver */
  QC_QOBS_PER_TENSOR_POW2_MINMSE = 4,        /**< PerTensorPowOf2MinMSEObserver */
  QC_QOBS_PER_TENSOR_HISTOGRAM = 5,          /**< PerTensorHistogramObserver */
  QC_QOBS_PER_TENSOR_HISTOGRAM_PRO = 6,      /**< PerTensorHistogramObserverPro (torch's) */
  QC_QOBS_PER_TENSOR_PERCENTILE = 7,         /**< PerTensorPercentileObserver */
  QC_QOBS_PER_TENSOR_MSE = 8,                /**< PerTensorMSEObserver */
  QC_QOBS_PER_CHANNEL_MINMAX = 9,            /**< PerChannelMinMaxObserver */
  QC_QOBS_PER_CHANNEL_POW2_MINMAX = 10,      /**< PerChannelPowOf2MinMaxObserver */
  QC_QOBS_PER_CHANNEL_POW2_MINMSE = 11,      /**< PerChannelPowOf2MinMSEObserver */
  QC_QOBS_PER_GROUP_MINMAX = 12,             /**< PerGroupMinMaxObserver */
  QC_QOBS_PER_BLOCK_MX = 13,                 /**< PerBlockMXObserver */
  QC_QOBS_PER_BLOCK_MX_BUFFER_REUSE = 14,    /**< PerBlockMXBufferReuseObserver */
  QC_QOBS_PER_BLOCK_MX_DIFFS = 15,           /**< PerBlockMXDiffsObserver */
  QC_QOBS_PER_BLOCK_BFP = 16,                /**< PerBlockBFPObserver */
  QC_QOBS_PER_BLOCK_2D_MINMAX = 17,          /**< PerBlock2DMinMaxObserver (config only) */
  QC_QOBS_TQT = 18,                          /**< TQTObserver (QAT; config only) */
  QC_QOBS_LSQ = 19,                          /**< LSQObserver (QAT; config only) */
  QC_QOBS_UNIFORM_SCALING = 20,              /**< UniformScalingObserver (abstract) */
  QC_QOBS_OBSERVER_BASE = 21,                /**< ObserverBase (abstract) */
  QC_QOBS_COUNT = 22
} qc_qobserver;

/** Tri-state for Quark's Optional[bool] fields. */
typedef enum qc_qbool { QC_QB_NULL = -1, QC_QB_FALSE = 0, QC_QB_TRUE = 1 } qc_qbool;

/** QLayerConfig.target_device. */
typedef enum qc_qdevice { QC_QDEVICE_NONE = 0, QC_QDEVICE_CPU = 1, QC_QDEVICE_IPU = 2 } qc_qdevice;

typedef enum qc_qmode { QC_QMODE_EAGER = 0, QC_QMODE_FX_GRAPH = 1 } qc_qmode;

/** Names as Quark serializes them ("int8", "per_group", "half_even", "float16", "e8m0",
 *  "even", "int32", "PerGroupMinMaxObserver", ...); NULL for NONE/out of range. */
const char *qc_qdtype_name(qc_qdtype v);
const char *qc_qscheme_name(qc_qscheme v);
const char *qc_qround_name(qc_qround v);
const char *qc_qscale_type_name(qc_qscale_type v);
const char *qc_qscale_format_name(qc_qscale_format v);
const char *qc_qscale_mode_name(qc_qscale_mode v);
const char *qc_qzero_point_type_name(qc_qzero_point_type v);
const char *qc_qobserver_name(qc_qobserver v);
/** Reverse lookups; NONE (0) if the name is unknown. */
qc_qdtype qc_qdtype_from_name(const char *s);
qc_qobserver qc_qobserver_from_name(const char *s);

/** Integer/float range of a quantized dtype, as Quark's calculate_qmin_qmax (int8
 *  [-128, 127], fp8_e4m3 [-448, 448], fp4 [-6, 6], e5m3 [0, 114688], ...). False for
 *  dtypes without one (mx, mx6, mx9, bfp16). */
bool qc_qdtype_range(qc_qdtype dt, double *qmin, double *qmax);
/** The quarc element dtype that holds one quantized element: int8 -> QC_I8, uint4 ->
 *  QC_U4, fp4 -> QC_F4E2M1, fp8_e5m3 -> QC_E5M3, bfloat16 -> QC_BF16, ...;
 *  QC_DT_UNDEFINED for mx/mx6/mx9/bfp16 (use mx_element_dtype for mx). */
qc_dtype qc_qdtype_element(qc_qdtype dt);
/** Integer dtypes (int2..int32, uint2..uint16). */
bool qc_qdtype_is_int(qc_qdtype dt);

/* ============================================================================================
 * QTensorConfig, QLayerConfig, QConfig
 * ========================================================================================== */

/** Quark's QTensorConfig. Fields appear in the order to_dict() writes them. Optional
 *  integers carry a has_* flag (false = JSON null). */
typedef struct qc_qspec {
  qc_qdtype dtype;
  qc_qbool is_dynamic;
  qc_qscheme qscheme;
  bool has_ch_axis;
  int32_t ch_axis;
  bool has_group_size;
  int64_t group_size;      /**< > 0, or -1 = the whole axis */
  bool has_block_size;
  int64_t block_size[2];   /**< per_block: [b0, b1] */
  qc_qbool symmetric;
  qc_qround round_method;
  qc_qscale_type scale_type;
  qc_qzero_point_type zero_point_type; /**< int32 unless given */
  qc_qscale_format scale_format;
  qc_qscale_mode scale_calculation_mode;
  qc_qdtype mx_element_dtype;
  qc_qobserver observer_cls;
  bool is_scale_quant;     /**< second stage of a ScaleQuantSpec: quantizes the scales */
  bool enable_buffer_reuse;
  int64_t max_input_numel; /**< 4194304 unless given */
} qc_qspec;

/** Quark's defaults: every optional field null, zero_point_type int32,
 *  max_input_numel 4194304, flags false. */
void qc_qspec_init(qc_qspec *s);
/** Quark's QTensorConfig.__post_init__ checks (and quarc's own: positive group sizes,
 *  known combinations). `path` prefixes messages ("global_quant_config.weight"). */
qc_status qc_qspec_validate(const qc_qspec *s, const char *path) QC_MUST_USE;
bool qc_qspec_equal(const qc_qspec *a, const qc_qspec *b);

/** One QLayerConfig field: null (n == 0), one spec (n == 1, !is_list) or a list of n
 *  stages (ProgressiveSpec / ScaleQuantSpec, serialized as a JSON list). */
typedef struct qc_qspecs {
  int32_t n;
  bool is_list;
  qc_qspec *v; /**< owned by the config that holds it */
} qc_qspecs;

/** Quark's QLayerConfig. */
typedef struct qc_qlayer {
  qc_qspecs input_tensors;
  qc_qspecs output_tensors;
  qc_qspecs weight;
  qc_qspecs bias;
  qc_qdevice target_device;
} qc_qlayer;

/** A name (a layer-name pattern, or a layer type name such as "Linear") with its config. */
typedef struct qc_qlayer_entry {
  char *key;
  qc_qlayer cfg;
} qc_qlayer_entry;

typedef struct qc_qstrings {
  int32_t n;
  char **v;
} qc_qstrings;

/** The exporter's JsonExporterConfig, written as "export" (dataclasses.asdict order). */
typedef struct qc_qexport {
  bool has_weight_merge_groups; /**< false = null */
  int32_t n_weight_merge_groups;
  qc_qstrings *weight_merge_groups;
  qc_qstrings kv_cache_group;
  double min_kv_scale;
  char *weight_format; /**< "real_quantized" | "fake_quantized" */
  char *pack_method;   /**< "reorder" | "order" */
} qc_qexport;

/** Quark's QConfig (plus the export block). Owned by qc_qconfig_free; the arrays and
 *  strings are malloc'd and may be replaced by callers that keep that rule. */
typedef struct qc_qconfig {
  qc_qlayer global_quant_config;
  qc_qstrings exclude;
  char *algo_config;        /**< raw JSON of algo_config (a list), NULL = null */
  qc_qspecs softmax_quant_spec; /**< n 0 (null) or 1 */
  int32_t n_layer_type;
  qc_qlayer_entry *layer_type_quant_config; /**< keys: Linear, Conv2d, ConvTranspose2d,
                                                 Embedding, EmbeddingBag */
  int32_t n_layer;
  qc_qlayer_entry *layer_quant_config;      /**< keys: layer-name patterns */
  int32_t n_kv_cache;
  qc_qlayer_entry *kv_cache_quant_config;   /**< keys: layer-name patterns */
  bool kv_cache_post_rope;
  qc_qmode quant_mode;
  char *version;            /**< NULL = null */
  /* QConfig fields that to_dict() does not write (the export block carries the KV ones). */
  qc_qstrings kv_cache_group;
  double min_kv_scale;
  int32_t n_shared_scale_groups;
  qc_qstrings *shared_scale_groups; /**< e.g. {{"q_proj","k_proj","v_proj"}} */
  bool sync_moe_expert_input_amax;
  bool has_export;
  qc_qexport export_cfg;
} qc_qconfig;

/** An empty config: everything null/empty, quant_mode eager, version NULL. */
qc_status qc_qconfig_new(qc_qconfig **out) QC_MUST_USE;
void qc_qconfig_free(qc_qconfig *cfg);
/** Deep copy. */
qc_status qc_qconfig_clone(const qc_qconfig *cfg, qc_qconfig **out) QC_MUST_USE;

/** Set a QLayerConfig field to a copy of `specs` (n == 0: null). */
qc_status qc_qspecs_set(qc_qspecs *dst, const qc_qspec *specs, int32_t n, bool is_list) QC_MUST_USE;
/** Append (or replace, if the key exists) `layer_quant_config[pattern]`, a copy of `layer`;
 *  likewise for layer types and KV-cache patterns. */
qc_status qc_qconfig_set_layer(qc_qconfig *cfg, const char *pattern,
                               const qc_qlayer *layer) QC_MUST_USE;
qc_status qc_qconfig_set_layer_type(qc_qconfig *cfg, const char *type_name,
                                    const qc_qlayer *layer) QC_MUST_USE;
qc_status qc_qconfig_set_kv_cache(qc_qconfig *cfg, const char *pattern,
                                  const qc_qlayer *layer) QC_MUST_USE;
/** Append to a string list (exclude, kv_cache_group, ...). */
qc_status qc_qstrings_push(qc_qstrings *list, const char *s) QC_MUST_USE;

/** Parse QConfig.to_dict() JSON, or a config.json whose "quantization_config" holds it, or
 *  that dict with an "export" block. `source` names the text in messages
 *  ("q.json: layer_quant_config.*k_proj.output_tensors.dtype: unknown dtype 'fp9'").
 *  Unknown keys, bad values and impossible combinations are errors. */
qc_status qc_qconfig_from_json(const char *json, size_t len, const char *source,
                               qc_qconfig **out) QC_MUST_USE;
qc_status qc_qconfig_read_file(const char *path, qc_qconfig **out) QC_MUST_USE;
/** Validate a whole config (every spec, the QLayerConfig rules, known layer types,
 *  the export block). Called by the readers and writers. */
qc_status qc_qconfig_validate(const qc_qconfig *cfg) QC_MUST_USE;

typedef struct qc_qjson_options {
  /** 0: one line with Python json.dumps' default separators (", ", ": "); n > 0:
   *  json.dumps(indent=n). */
  int32_t indent;
  /** Write the export block when the config has one (default true via NULL options). */
  bool omit_export;
  /** Sort keys (json.dumps(sort_keys=True), as transformers writes config.json). */
  bool sort_keys;
} qc_qjson_options;

/** Write QConfig.to_dict() (+ "export" when present) in Quark's key order, with Python's
 *  number formatting (0.0, 1e-05), so the text equals json.dumps of Quark's dict.
 *  *text is malloc'd and NUL-terminated; the caller frees it. opts NULL = defaults. */
qc_status qc_qconfig_to_json(const qc_qconfig *cfg, const qc_qjson_options *opts, char **text,
                             size_t *len) QC_MUST_USE;
qc_status qc_qconfig_write_file(const qc_qconfig *cfg, const qc_qjson_options *opts,
                                const char *path) QC_MUST_USE;
/** One spec as to_dict() JSON (for the `spec` attribute of quarc.FakeQuant/Observe). */
qc_status qc_qspec_to_json(const qc_qspec *s, char **text, size_t *len) QC_MUST_USE;
qc_status qc_qspec_from_json(const char *json, size_t len, const char *source,
                             qc_qspec *out) QC_MUST_USE;

/* ---- presets --------------------------------------------------------------------------- */

typedef struct qc_qpreset_options {
  /** "fp8" adds Quark's fp8 KV-cache config (LLMTemplate kv_cache_scheme="fp8"); NULL: none. */
  const char *kv_cache_scheme;
  double min_kv_scale;
  /** "fp8" quantizes softmax outputs and q_proj outputs (attention_scheme="fp8"). */
  const char *attention_scheme;
  /** KV projection patterns (default {"*k_proj", "*v_proj"}, the llama template). */
  const char *const *kv_layers;
  int32_t n_kv_layers;
  /** q projection pattern (default "*q_proj"). */
  const char *q_layer;
  /** Exclude patterns (default {"lm_head"}); set exclude_given to use an empty list. */
  const char *const *exclude;
  int32_t n_exclude;
  bool exclude_given;
  /** gate/up names for nvfp4's shared scale groups (default {"gate_proj", "up_proj"}). */
  const char *const *gate_up_layers;
  int32_t n_gate_up_layers;
  /** The `version` written (default: quarc's version, "quarc-<x.y.z>"). */
  const char *version;
  /** Add an export block (kv_cache_group from the KV config, pack_method "reorder",
   *  weight_format "real_quantized"). */
  bool with_export;
} qc_qpreset_options;

/** A preset with one of Quark's LLMTemplate scheme names: int8, int8_per_channel_dynamic
 *  (quarc's: int8 per-channel static weights, int8 per-token dynamic inputs, as ptpc_fp8),
 *  fp8, ptpc_fp8, int4_wo_<G> / uint4_wo_<G> (any G > 0; Quark has 32, 64, 128),
 *  int4_wo_per_channel, uint4_wo_per_channel, int4_wa_64, mxfp4, mxfp4_weight_only,
 *  mxfp6_e3m2, mxfp6_e2m3, mxfp4_mxfp6_e2m3, mxfp4_fp8, amdfp4, amdfp4_g32, int4_fp8, mx6,
 *  mx9, bfp16, nvfp4 (alias fp4_block16_scale_e4m3), amdfp4_global16, amdfp4_global32.
 *  The result equals LLMTemplate.get("llama").get_config(scheme, ...) field for field.
 *  Unknown names are errors that list the known ones. */
qc_status qc_qconfig_preset(const char *scheme, const qc_qpreset_options *opts,
                            qc_qconfig **out) QC_MUST_USE;
/** The preset names (int4_wo_<G> listed as int4_wo_32/64/128). */
const char *const *qc_qconfig_preset_names(int32_t *n);

/* ---- which config applies to a layer ------------------------------------------------------ */

/** Quark's layer types (QUARK_LAYER_TYPES + the embedding types it replaces). In a graph:
 *  Linear ~ MatMul/Gemm with a constant weight, Conv2d ~ Conv, Embedding ~ Gather of a
 *  constant table. */
typedef enum qc_qlayer_type {
  QC_QLAYER_OTHER = 0,
  QC_QLAYER_LINEAR = 1,
  QC_QLAYER_CONV2D = 2,
  QC_QLAYER_CONV_TRANSPOSE2D = 3,
  QC_QLAYER_EMBEDDING = 4,
  QC_QLAYER_EMBEDDING_BAG = 5,
} qc_qlayer_type;
/** "Linear", "Conv2d", "ConvTranspose2d", "Embedding", "EmbeddingBag"; NULL for OTHER. */
const char *qc_qlayer_type_name(qc_qlayer_type t);

typedef enum qc_qsource {
  QC_QSOURCE_NONE = 0,       /**< not quantized (not a quantizable type, or an embedding
                                  that no layer/type entry names) */
  QC_QSOURCE_EXCLUDED = 1,   /**< an exclude pattern matched */
  QC_QSOURCE_LAYER = 2,      /**< layer_quant_config[pattern] */
  QC_QSOURCE_LAYER_TYPE = 3, /**< layer_type_quant_config[type] */
  QC_QSOURCE_GLOBAL = 4,     /**< global_quant_config */
  QC_QSOURCE_KV_CACHE = 5,   /**< kv_cache_quant_config[pattern] (weight/input nulled when
                                  the layer is also excluded) */
} qc_qsource;

/** How patterns match layer names. */
typedef enum qc_qmatch {
  /** Quark's ModelQuantizer: exact name first, then fnmatch (`*`, `?`, `[seq]`, `[!seq]`,
   *  case-sensitive, `*` crosses dots); quarc adds `re:<regex>` (POSIX extended, anchored
   *  at the start like Python's re.match) as vLLM reads AMD checkpoints. */
  QC_QMATCH_QUARK = 0,
  /** vLLM's loader: exclude = exact name or `re:`; layer_quant_config = fnmatch when the
   *  pattern has `*`, else "layer name is a substring of the pattern". */
  QC_QMATCH_VLLM = 1,
} qc_qmatch;

typedef struct qc_qresolution {
  qc_qsource source;
  /** The matched key (exclude pattern, layer pattern, type name); NULL otherwise. Points
   *  into the config. */
  const char *pattern;
  /** The QLayerConfig that applies: a shallow view whose spec arrays point into the
   *  config (valid while it lives). All fields null when EXCLUDED or NONE. */
  qc_qlayer layer;
} qc_qresolution;

/** The config for layer `name` of type `type`, in Quark's order: exclude (exact, then
 *  patterns in order), layer_quant_config (exact key, then patterns in order),
 *  layer_type_quant_config, global (not for embeddings); then kv_cache_quant_config
 *  overrides. Errors only for an invalid `re:` pattern. */
qc_status qc_qconfig_resolve(const qc_qconfig *cfg, const char *name, qc_qlayer_type type,
                             qc_qresolution *out) QC_MUST_USE;
qc_status qc_qconfig_resolve_ex(const qc_qconfig *cfg, const char *name, qc_qlayer_type type,
                                qc_qmatch match, qc_qresolution *out) QC_MUST_USE;
/** Does `name` match `pattern` (exact, fnmatch, or `re:`)? Errors for a bad regex. */
qc_status qc_qpattern_match(const char *pattern, const char *name, bool *match) QC_MUST_USE;
/** Python fnmatch.fnmatchcase. */
bool qc_fnmatch(const char *pattern, const char *name);

/* ============================================================================================
 * Numerics
 * ========================================================================================== */

#define QC_QPARAMS_MAX_RANK 8

/** Quantization parameters of one stage, as the tensors Quark's quantizer holds
 *  (`scale`, `zero_point`), including their shape:
 *   per_tensor: rank 0; per_channel: [C]; per_group (PerGroupMinMaxObserver): [rows, groups]
 *   where rows = numel / dim(ch_axis) in Quark's permuted order; MX/per-block observers:
 *   the amax shape (the tensor with ch_axis moved last, last dim / group_size). */
typedef struct qc_qparams {
  int32_t rank;
  int64_t shape[QC_QPARAMS_MAX_RANK];
  int64_t n;              /**< number of scales */
  qc_dtype scale_dtype;   /**< dtype of Quark's scale tensor: QC_F32, QC_F16 or QC_BF16 */
  float *scale;           /**< n values, exact in scale_dtype */
  qc_dtype zp_dtype;      /**< QC_I32 or QC_F32 */
  double *zero_point;     /**< n values (integers for QC_I32) */
} qc_qparams;

/** Free the arrays (the struct itself is the caller's) and zero it. */
void qc_qparams_clear(qc_qparams *p);
qc_status qc_qparams_copy(const qc_qparams *src, qc_qparams *dst) QC_MUST_USE;

/** Statistics an observer reduced a tensor to, per scale: min/max (uniform observers) or
 *  amax (MX/BFP observers: min unused). */
typedef struct qc_qstats {
  int32_t rank;
  int64_t shape[QC_QPARAMS_MAX_RANK];
  int64_t n;
  float *min, *max;
} qc_qstats;
void qc_qstats_clear(qc_qstats *s);

/** Parameters from reduced statistics, as the spec's observer computes them from its
 *  min/max (or amax) state: calculate_int_quant_params / calculate_fp8_quant_parameters /
 *  get_scale(scale_format). */
qc_status qc_qparams_from_stats(const qc_qspec *spec, const qc_qstats *stats,
                                qc_dtype model_dtype, qc_qparams *out) QC_MUST_USE;

/** Fake quantization of one stage: y = dequantize(quantize(x)) with Quark's
 *  scaled_fake_quantize (params given) or non_scaled_fake_quantize (mx, mx6, mx9, bfp16:
 *  params NULL). x has `rank` dims `shape`; y may alias x. Output rounded to model_dtype. */
qc_status qc_fake_quantize(const qc_qspec *spec, const qc_qparams *params, const float *x,
                           int32_t rank, const int64_t *shape, qc_dtype model_dtype,
                           float *y) QC_MUST_USE;
/** Real quantization (Quark's scaled_real_quantize): q holds the quantized element values
 *  before packing — integers (zero point added) for int dtypes, values exactly
 *  representable in the element float format for fp8/fp6/fp4 (so
 *  qc_float_encode(qc_qdtype_element(dtype), q, 0) gives the code). */
qc_status qc_real_quantize(const qc_qspec *spec, const qc_qparams *params, const float *x,
                           int32_t rank, const int64_t *shape, float *q) QC_MUST_USE;
/** qc_real_quantize for a model whose tensors are `model_dtype` (fp8 divides in that
 *  dtype before the cast, as Quark does; qc_real_quantize assumes f32). For fp8_e5m3 q holds
 *  the e5m3 codes (0..255), as Quark's real quantizer returns them. */
qc_status qc_real_quantize_ex(const qc_qspec *spec, const qc_qparams *params, const float *x,
                              int32_t rank, const int64_t *shape, qc_dtype model_dtype,
                              float *q) QC_MUST_USE;
/** Inverse of qc_real_quantize (Quark's dequantize): y = (q - zp) * scale. */
qc_status qc_dequantize(const qc_qspec *spec, const qc_qparams *params, const float *q,
                        int32_t rank, const int64_t *shape, qc_dtype model_dtype,
                        float *y) QC_MUST_USE;

/* ---- observers ------------------------------------------------------------------------- */

typedef struct qc_observer qc_observer;

/** The observer that spec->observer_cls names, configured from the spec. */
qc_status qc_observer_create(const qc_qspec *spec, qc_dtype model_dtype,
                             qc_observer **out) QC_MUST_USE;
void qc_observer_free(qc_observer *o);
/** Feed one batch (Quark's observer forward). Static specs accumulate across calls;
 *  dynamic ones keep only the last. Several tensors may feed one observer
 *  (shared_scale_groups). */
qc_status qc_observer_update(qc_observer *o, const float *x, int32_t rank,
                             const int64_t *shape) QC_MUST_USE;
/** Parameters from what was observed (Quark's _calculate_qparams). Quark computes them
 *  after every batch; observers that depend on that history (PowOf2: most common scale so
 *  far) keep it, so call this after each update to follow Quark exactly, or once at the
 *  end for the others. */
qc_status qc_observer_params(qc_observer *o, qc_qparams *out) QC_MUST_USE;
/** The reduced statistics so far (min/max, or amax), for reports. */
qc_status qc_observer_stats(const qc_observer *o, qc_qstats *out) QC_MUST_USE;
/** Number of update() calls since creation. */
int64_t qc_observer_count(const qc_observer *o);

/* ---- quantizers (one tensor, one spec or a list of stages) --------------------------------- */

typedef struct qc_quantizer qc_quantizer;

/** Quark's FakeQuantize for a single spec (Static/Dynamic/NonScaled) or SequentialQuantize
 *  for a list. */
qc_status qc_quantizer_create(const qc_qspecs *specs, qc_dtype model_dtype,
                              qc_quantizer **out) QC_MUST_USE;
void qc_quantizer_free(qc_quantizer *q);
/** Calibration step: the observers see x and the parameters are recomputed, as Quark's
 *  forward does with its observer enabled. */
qc_status qc_quantizer_observe(qc_quantizer *q, const float *x, int32_t rank,
                               const int64_t *shape) QC_MUST_USE;
/** Freeze: after this, forward() uses the parameters without observing (static stages);
 *  dynamic stages still compute from each input. */
qc_status qc_quantizer_finalize(qc_quantizer *q) QC_MUST_USE;
/** Fake-quantize x into y (y may alias x). Before finalize(), this observes first
 *  (Quark's forward with observer and fake-quant enabled). */
qc_status qc_quantizer_forward(qc_quantizer *q, const float *x, int32_t rank,
                               const int64_t *shape, float *y) QC_MUST_USE;
int32_t qc_quantizer_n_stages(const qc_quantizer *q);
const qc_qspec *qc_quantizer_spec(const qc_quantizer *q, int32_t stage);
/** Parameters of stage i (NULL for non-scaled dtypes and before any observation). For a
 *  stage followed by a scale-quant stage, these are the scales after scale quantization,
 *  as Quark exports them. */
const qc_qparams *qc_quantizer_params(const qc_quantizer *q, int32_t stage);
/** Load parameters (e.g. from a checkpoint) and freeze the stage. */
qc_status qc_quantizer_set_params(qc_quantizer *q, int32_t stage,
                                  const qc_qparams *p) QC_MUST_USE;
/** Real quantization through all stages (Quark's SequentialQuantize forward
 *  quantization, or scaled_real_quantize for one spec): q gets the last tensor stage's
 *  quantized element values (see qc_real_quantize), from the parameters in effect. */
qc_status qc_quantizer_real_quantize(qc_quantizer *q, const float *x, int32_t rank,
                                     const int64_t *shape, float *out) QC_MUST_USE;
/** The observer of stage i (NULL for non-scaled stages). */
qc_observer *qc_quantizer_observer(qc_quantizer *q, int32_t stage);

#ifdef __cplusplus
}
#endif
#endif
