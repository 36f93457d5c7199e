/*
 * passes/quant/qpass.h — what the quantization passes share (private to libquarc; the
 * `quarc quantize` tool uses it too, for progress and the report).
 *
 * The passes, in pipeline order (docs/quant.md, "Passes"):
 *
 *   quant-annotate  finds the layers and records, per layer, the QLayerConfig that the
 *                   Quark config resolves to (graph metadata, below)
 *   observe         inserts quarc.Observe nodes where the configs quantize a tensor
 *   calibrate       runs the model on calibration data; observers see the Observe outputs
 *                   through the interpreter's observe callback; the parameters of every
 *                   static activation quantizer are recorded as metadata
 *   freeze          Observe -> quarc.FakeQuant with constant scale / zero point (weights
 *                   are observed here, from their constants), or no parameters for dynamic
 *                   and non-scaled schemes
 *   realize         fake-quantized constant weights -> packed codes + quarc.DequantizePacked
 *   lower-qdq       quarc ops -> standard ONNX (QuantizeLinear / DequantizeLinear, ...)
 *
 * Graph metadata written by the passes (all keys start with "quant."):
 *
 *   quant.config         the Quark config (QConfig.to_dict() JSON) the layers were resolved
 *                        with
 *   quant.layer.<L>      one JSON object per layer L:
 *                          {"op": "MatMul", "type": "Linear", "node": <output value>,
 *                           "weight": <weight constant>, "source": "global"|"layer"|...,
 *                           "pattern": <matched key or null>,
 *                           "input_tensors": <spec|list|null>, "output_tensors": ...,
 *                           "weight_spec": ..., "bias": ...}
 *   quant.calib.<key>    the parameters calibration found for Observe key <key>:
 *                          {"batches": N, "stage": s, "scale_dtype": "f32",
 *                           "zp_dtype": "i32", "shape": [...], "scale": [...],
 *                           "zero_point": [...], "min": [...], "max": [...]}
 *                        (Quark's parameter layout; "min"/"max" are the observed
 *                        statistics, for reports)
 *
 * Observe keys are "<L>.input", "<L>.output", "<L>.weight", "<L>.bias"; layers in one of
 * the config's shared_scale_groups share the key of the group's first layer, so they
 * share an observer and a scale.
 */
#ifndef QUARC_PASSES_QUANT_QPASS_H
#define QUARC_PASSES_QUANT_QPASS_H

#include "quarc/quant.h"
#include "quarc/runtime.h"

/* ---- configs ------------------------------------------------------------------------------ */

/** The config quant-annotate uses: a Quark config file or a preset (exactly one), plus
 *  exclude patterns separated by ',' or ';', plus a KV-cache scheme for a preset ("fp8").
 *  Errors come from the config library and name the key path. */
qc_status qc_quant_config_load(const char *file, const char *scheme, const char *exclude,
                               const char *kv_cache, qc_qconfig **out) QC_MUST_USE;

/* ---- layers ------------------------------------------------------------------------------- */

/** A layer of the graph in Quark's sense: a MatMul/Gemm (Linear), Conv (Conv2d),
 *  ConvTranspose, or Gather (Embedding) whose weight is a constant, possibly reached
 *  through Transpose / Cast / Identity / quarc.Observe / quarc.DequantizePacked. */
typedef struct qc_qsite {
  char *name;                /**< Quark's layer name: the weight's name without ".weight" */
  qc_qlayer_type type;
  qc_nid node;               /**< the MatMul / Gemm / Conv / Gather */
  int32_t x_slot;            /**< the activation input, -1 for Embedding */
  qc_vid weight;             /**< the float weight the quantizer sees */
  qc_vid weight_const;       /**< the constant at the root of the weight chain */
  qc_nid weight_user;        /**< the node on the chain that reads `weight` ... */
  int32_t weight_slot;       /**< ... in this input slot */
  bool weight_transposed;    /**< weight is stored [in, out]: Quark's [out, in] transposed */
  qc_vid bias;               /**< bias constant, or QC_NONE */
  qc_nid bias_user;
  int32_t bias_slot;
  qc_vid out;                /**< the layer's output (after the bias) */
} qc_qsite;

/** Every layer of g's top-level graph, in node order. Names are unique (a weight shared by
 *  several layers names none of them: they take their node names). */
qc_status qc_qsites_find(const qc_graph *g, qc_qsite **out, int32_t *n) QC_MUST_USE;
void qc_qsites_free(qc_qsite *s, int32_t n);

/** The layer type's name for messages: "Linear", "Conv2d", ... */
const char *qc_qsite_type_name(qc_qlayer_type t);

/* ---- small graph helpers -------------------------------------------------------------------- */

/** A constant, or quarc.DequantizePacked of constants (a pre-quantized weight): a value
 *  whose data is known without running the model. */
bool qc_qvalue_is_constlike(const qc_graph *g, qc_vid v);
/** The data of a value that depends on constants alone (a constant, DequantizePacked or
 *  FakeQuant of constants, a chain of such nodes), evaluated by the interpreter; release
 *  *out. */
qc_status qc_qconst_value(const qc_graph *g, qc_vid v, qc_tensor *out) QC_MUST_USE;

/** A value name that does not exist in g yet: `base`, else base.1, base.2, ... (malloc'd). */
char *qc_qunique_name(const qc_graph *g, const char *base);
/** Add a constant named like `base` (made unique); the tensor stays the caller's. */
qc_status qc_qadd_const(qc_graph *g, const char *base, const qc_tensor *t, qc_vid *out) QC_MUST_USE;
/** A float tensor's data as f32 (malloc'd). */
qc_status qc_qtensor_f32(const qc_tensor *t, float **out) QC_MUST_USE;

/* ---- calibration ---------------------------------------------------------------------------- */

typedef struct qc_calib_options {
  const char *data;        /**< a directory of .pb/.npy inputs (one sub-directory per batch) */
  const char *text;        /**< a text file, tokenized with `tokenizer` */
  const char *tokenizer;   /**< tokenizer.json, or a directory holding it */
  const char *text_mode;   /**< "auto", "lines" (one sample per line), "chunks" (seq-len windows) */
  int64_t batches;         /**< use at most this many batches; 0: all */
  int64_t seq_len;         /**< tokens per sample (chunks) or the cut-off (lines) */
  int32_t n_threads;       /**< interpreter threads; 0: one per core */
  /** Called after each batch with the number done and the total (may be NULL). */
  void (*progress)(void *user, int64_t done, int64_t total);
  void *user;
} qc_calib_options;

/** Run g on the calibration data and record the parameters of every static Observe key
 *  that reads an activation (quant.calib.<key>). A graph with nothing to calibrate is left
 *  as it is. */
qc_status qc_quant_calibrate(qc_graph *g, const qc_calib_options *o) QC_MUST_USE;

/** Whether g has Observe nodes whose parameters come from calibration data (a static stage
 *  on a non-constant input). */
bool qc_quant_needs_calibration(const qc_graph *g);

/** One calibration batch: a value per graph input (in graph-input order). */
typedef struct qc_calib_batch {
  int32_t n;
  qc_rvalue *inputs;
  char *label; /**< "calib/0003" or "line 12", for messages */
} qc_calib_batch;
void qc_calib_batch_free(qc_calib_batch *b);

/** The calibration data described by o, as a stream of batches for g's inputs. */
typedef struct qc_calib_stream qc_calib_stream;
qc_status qc_calib_open(const qc_graph *g, const qc_calib_options *o,
                        qc_calib_stream **out) QC_MUST_USE;
/** Total batches the stream will give (after the `batches` limit). */
int64_t qc_calib_count(const qc_calib_stream *s);
/** The next batch; *done is set (and b untouched) at the end. */
qc_status qc_calib_next(qc_calib_stream *s, qc_calib_batch *b, bool *done) QC_MUST_USE;
void qc_calib_close(qc_calib_stream *s);

#endif
