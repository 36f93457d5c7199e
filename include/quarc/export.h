/*
 * quarc/export.h — quantized models out of quarc, in the formats the runtimes load, and
 * quantized checkpoints made elsewhere back in.
 *
 * Formats (docs/export.md has every tensor name, dtype, shape and bit layout):
 *   QC_EXPORT_HF     a Hugging Face directory in AMD Quark's layout, what vLLM and Quark
 *                    load: config.json (the source config plus quantization_config as Quark
 *                    writes it: QConfig.to_dict() and the "export" block), the tokenizer and
 *                    generation files, model.safetensors or shards with an index
 *   QC_EXPORT_AWQ    the same directory with AutoAWQ's names (qweight, qzeros, scales) and an
 *                    AutoAWQ-style quantization_config (Quark's custom_mode "awq")
 *   QC_EXPORT_FP8    the same directory with vLLM's Fp8Config (Quark's custom_mode "fp8")
 *   QC_EXPORT_QUARK  Quark's native format: config.json + model_state_dict.pth (torch.save of
 *                    the state dict with Quark's in-memory names, "weight_quantizer.scale")
 *   QC_EXPORT_GGUF   one .gguf file for llama.cpp (llama-family models)
 *   QC_EXPORT_ONNX   ONNX (the graph as it is, through the ONNX writer)
 *   QC_EXPORT_QIR    quarc's text IR
 *
 * What the exporters read from the graph (docs/export.md, "The graph contract"): a Linear is
 * MatMul(x, Transpose(W)) named after its module, as the model builders make it; its weight
 * W is a float constant, quarc.FakeQuant(w, scale, zero_point) of one (fake-quantized), or
 * quarc.DequantizePacked(q, scale, zero_point) of a packed constant (real-quantized; a
 * scale that is itself DequantizePacked(codes, scale_2) is a two-stage NVFP4 scale); a
 * quarc.FakeQuant on x quantizes the input, one on the MatMul's result the output (the KV
 * cache for k_proj/v_proj). The QConfig the graph was quantized with is the graph metadata
 * "quant.config" (QConfig.to_dict() JSON; the quant-annotate pass and the importer set it);
 * a quantized graph without it is refused by the Quark-layout writers. The Hugging Face
 * config.json the model came from is metadata
 * "quarc.hf_config" (else "quarc.source"/config.json is read).
 *
 * Every output is written atomically: files through quarc/io.h's atomic writer, directories
 * through qc_atomic_dir, so an error or a killed process leaves nothing at `path`.
 *
 *     qc_export_options o = qc_export_options_default();
 *     o.weight_format = "fake_quantized";
 *     qc_export_report r = {0};
 *     o.report = &r;
 *     qc_status s = qc_export_model(g, "out/", QC_EXPORT_AUTO, &o);   // a directory: HF
 *     ... r.notes lists what was requantized ...
 *     qc_export_report_free(&r);
 */
#ifndef QUARC_EXPORT_H
#define QUARC_EXPORT_H

#include "quarc/graph.h"
#include "quarc/models.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum qc_export_format {
  QC_EXPORT_AUTO = 0, /**< from the path: .onnx, .gguf, .qir, else a directory (HF) */
  QC_EXPORT_HF = 1,
  QC_EXPORT_QUARK = 2,
  QC_EXPORT_AWQ = 3,
  QC_EXPORT_FP8 = 4,
  QC_EXPORT_GGUF = 5,
  QC_EXPORT_ONNX = 6,
  QC_EXPORT_QIR = 7,
} qc_export_format;

/** "hf", "quark", "awq", "fp8", "gguf", "onnx", "qir" (and "auto"). */
const char *qc_export_format_name(qc_export_format f);
/** The format named `name`; false if unknown. */
bool qc_export_format_parse(const char *name, qc_export_format *out);
/** The format QC_EXPORT_AUTO picks for `path`. */
qc_export_format qc_export_format_for_path(const char *path);

/** What an export did, for the user: counts and one line per notable decision (a tensor
 *  requantized to a GGUF type, a layer left in float). */
typedef struct qc_export_report {
  int64_t tensors;       /**< tensors written */
  int64_t quantized;     /**< of which quantized weights written as they were */
  int64_t requantized;   /**< of which weights quantized anew for the format (GGUF) */
  uint64_t bytes;        /**< tensor bytes written */
  char *notes;           /**< malloc'd lines ("name: ...\n"), NULL if none */
} qc_export_report;
void qc_export_report_free(qc_export_report *r);

typedef struct qc_export_options {
  /** HF/AWQ/FP8/QUARK: "real_quantized" (packed low-precision weights + scales) or
   *  "fake_quantized" (dequantized weights in the model dtype + scales); NULL: what the
   *  graph's QConfig export block says, else "real_quantized". */
  const char *weight_format;
  /** int4 packing, "reorder" (AutoAWQ's order) or "order"; NULL: the graph's, else
   *  "reorder". */
  const char *pack_method;
  uint64_t max_shard_size;        /**< HF: shard limit in bytes of tensor data; 0: 5 GB */
  bool replace;                   /**< replace a non-empty output directory (files are always replaced) */
  /** Where the source model's config.json, tokenizer and generation files are; NULL: the
   *  graph's "quarc.source" metadata (may be absent: then only the model files are written). */
  const char *source_dir;
  /** GGUF: the type of float weights that are not quantized in the graph (QC_F16 default;
   *  QC_F32, QC_BF16, or a block type QC_Q8_0 .. QC_Q6_K, QC_GGML_MXFP4 to quantize them
   *  all), and the type quantized weights that have no exact GGUF equivalent are requantized
   *  to (QC_DT_UNDEFINED: the same as gguf_type if that is a block type, else QC_Q8_0).
   *  A k-quant on rows that 256 does not divide takes llama.cpp's fallback (Q4_K -> Q5_0,
   *  Q6_K -> Q8_0), named in the report. */
  qc_dtype gguf_type;
  qc_dtype gguf_requant_type;
  /** GGUF: keep token_embd/output in this type (QC_DT_UNDEFINED: as gguf_type; llama.cpp's
   *  own default keeps output.weight in Q6_K for k-quant mixes, quarc does not). */
  qc_dtype gguf_embed_type;
  const char *gguf_name; /**< general.name (NULL: the source directory's name or "model") */
  qc_export_report *report; /**< filled if not NULL (the caller frees it) */
} qc_export_options;

/** Defaults: formats as the graph says (else real_quantized, reorder), 5 GB shards, GGUF F16
 *  with Q8_0 requantization. */
qc_export_options qc_export_options_default(void);

/** Write graph `g` to `path` in format `fmt` (QC_EXPORT_AUTO: qc_export_format_for_path).
 *  `opt` may be NULL (defaults). Errors name the path and the tensor or key at fault. */
qc_status qc_export_model(const qc_graph *g, const char *path, qc_export_format fmt,
                          const qc_export_options *opt) QC_MUST_USE;

/** The individual writers (qc_export_model dispatches to them). */
qc_status qc_export_hf(const qc_graph *g, const char *dir, qc_export_format mode,
                       const qc_export_options *opt) QC_MUST_USE;
qc_status qc_export_quark_native(const qc_graph *g, const char *dir,
                                 const qc_export_options *opt) QC_MUST_USE;
qc_status qc_export_gguf(const qc_graph *g, const char *path,
                         const qc_export_options *opt) QC_MUST_USE;

/* ---- import ---------------------------------------------------------------------------------- */

/** What a quantized checkpoint directory holds, by its config.json quantization_config and
 *  files: Quark ("quark": HF safetensors or the native model_state_dict.pth), AutoAWQ ("awq"),
 *  vLLM fp8 ("fp8"), GPTQ ("gptq"), compressed-tensors ("compressed-tensors"), or none (a
 *  float model). */
typedef enum qc_quant_checkpoint {
  QC_CKPT_FLOAT = 0,
  QC_CKPT_QUARK = 1,
  QC_CKPT_QUARK_NATIVE = 2,
  QC_CKPT_AWQ = 3,
  QC_CKPT_FP8 = 4,
  QC_CKPT_GPTQ = 5,
  QC_CKPT_COMPRESSED_TENSORS = 6,
} qc_quant_checkpoint;

/** Load a Hugging Face directory, quantized or not, as a graph. Quantized linears become
 *  real-quantized: packed constants (int4/uint4/int8/fp8/fp4/fp6 with their logical
 *  [out, in] shape) + scales + zero points + quarc.DequantizePacked, activation and KV
 *  cache quantizers become quarc.FakeQuant; the quantization_config is kept as graph
 *  metadata ("quant.config" as a QConfig, "quarc.hf_config" the whole config.json),
 *  so exporting the graph again gives the same files. `opts` (may be NULL) are the build
 *  options of qc_model_build (a KV cache, ...). `kind` (may be NULL) receives what the
 *  directory held. */
qc_status qc_hf_quant_load(const char *dir, const qc_build_options *opts, qc_quant_checkpoint *kind,
                           qc_graph **out) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
