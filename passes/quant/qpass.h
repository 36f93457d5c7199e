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
#include "quarc/pass.h"
#include "quarc/runtime.h"

/* ---- configs ------------------------------------------------------------------------------ */

/** The config quant-annotate uses: a Quark config file or a preset (exactly one), plus
 *  exclude patterns separated by ',' or ';', plus a KV-cache scheme for a preset ("fp8"), plus
 *  algorithms appended to algo_config ("smooth,gptq"; qc_qalgos_add); algo_config is checked.
 *  Errors come from the config library and name the key path. */
qc_status qc_quant_config_load(const char *file, const char *scheme, const char *exclude,
                               const char *kv_cache, const char *algo,
                               qc_qconfig **out) QC_MUST_USE;

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

/** A Linear layer's float weight in Quark's orientation, [out, in], as f32 (malloc'd):
 *  the weight as the layer computes with it (a pre-quantized weight dequantized); an
 *  Embedding's table, [num, dim]. */
qc_status qc_qsite_weight(const qc_graph *g, const qc_qsite *s, float **w, int64_t *rows,
                          int64_t *cols) QC_MUST_USE;
/** w ([out, in], as qc_qsite_weight gives it) as a new f32 tensor in the orientation of
 *  s's weight value (what the weight chain reads). */
qc_status qc_qsite_weight_tensor(const qc_graph *g, const qc_qsite *s, const float *w,
                                 qc_tensor *t) QC_MUST_USE;
/** Make a Linear layer compute with w ([out, in], as qc_qsite_weight gives it): a new f32
 *  constant, in the orientation the weight chain reads, named as the weight constant was
 *  (that one becomes "<name>.orig" for dce), so that the layer keeps its name. Refused when
 *  the weight is shared with another node (tied embeddings). Updates s. */
qc_status qc_qsite_set_weight(qc_graph *g, qc_qsite *s, const float *w) QC_MUST_USE;

/** qc_qsite_set_weight, except that a weight shared with other nodes (a tied embedding
 *  and lm_head) is untied: this layer gets a constant of its own, named "<layer>.weight"
 *  (made unique), and the other nodes keep the shared one. */
qc_status qc_qsite_own_weight(qc_graph *g, qc_qsite *s, const float *w) QC_MUST_USE;

/** The specs layer L's quant.layer record gives role "input_tensors", "output_tensors",
 *  "weight" or "bias", in Quark's orientation (n = 0: null, or no record). Free with
 *  qc_qspecs_clear. */
qc_status qc_qlayer_specs(const qc_graph *g, const char *layer, const char *role,
                          qc_qspecs *out) QC_MUST_USE;

/** Whether layer s's record quantizes its weight or its input (*st: an error reading it). */
bool qc_qsite_quantized(const qc_graph *g, const qc_qsite *s, qc_status *st);
/** The precondition of the algorithms that change the float model (rotation, smoothquant):
 *  an annotated graph with no observer yet; the error names `pass`. */
qc_status qc_qcheck_before_observe(const qc_graph *g, const char *pass) QC_MUST_USE;
/** The first value a node other than Cast reads in f16, bf16 or f64, or QC_NONE. The quant
 *  passes compute in float32 (Quark's ONNX quantizer converts float16 models the same way,
 *  convert_fp16_to_fp32): quant-annotate refuses a graph with one, `quarc quantize` converts
 *  such a model first (convert-float). */
qc_vid qc_qgraph_not_f32(const qc_graph *g);


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

/** An empty graph with g's opsets (to run part of g on its own). */
qc_status qc_qgraph_like(const qc_graph *g, qc_graph **out) QC_MUST_USE;
/** Copy node n of g into `to`: its inputs read map[x] (every present input must be mapped),
 *  its outputs keep their names and are entered in map. At most 16 inputs and outputs. */
qc_status qc_qclone_node(const qc_graph *g, qc_nid n, qc_graph *to, qc_vid *map) QC_MUST_USE;
/** A value name that does not exist in g yet: `base`, else base.1, base.2, ... (malloc'd). */
char *qc_qunique_name(const qc_graph *g, const char *base);
/** Add a constant named like `base` (made unique); the tensor stays the caller's. */
qc_status qc_qadd_const(qc_graph *g, const char *base, const qc_tensor *t, qc_vid *out) QC_MUST_USE;
/** Make input `slot` of node n read a new constant holding t (the caller's). With
 *  named_after (a constant that the change leaves unused), the new constant takes its name
 *  and it becomes "<name>.orig", for dce; with QC_NONE the new one is named after the old
 *  input, "<name>.new". */
qc_status qc_qreplace_input(qc_graph *g, qc_nid n, int32_t slot, const qc_tensor *t,
                            qc_vid named_after, qc_vid *out) QC_MUST_USE;
/** A quantizer observing / fake-quantizing (in place) a constant's data f laid out as t,
 *  zero-padded to whole groups when a per_group axis is not a multiple of the group size
 *  (runtime/k_qc.h: qc_qgroup_partial), as freeze does for weights. */
qc_status qc_quantizer_observe_padded(qc_quantizer *q, const qc_qspecs *sp, const float *f,
                                      const qc_tensor *t) QC_MUST_USE;
qc_status qc_quantizer_forward_padded(qc_quantizer *q, const qc_qspecs *sp, float *f,
                                      const qc_tensor *t) QC_MUST_USE;
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

/** Record the parameters of Observe key `key`, stage `stage`, as quant.calib.<key> (the
 *  layout above; stats may be NULL). freeze reads them for an activation key, and for a
 *  weight key in place of observing the weight (an algorithm such as gptq fixed them). */
qc_status qc_qcalib_record(qc_graph *g, const char *key, int32_t stage, int64_t batches,
                           const qc_qparams *p, const qc_qstats *stats) QC_MUST_USE;
/** The parameters quant.calib.<key> records for stage `stage` (clear *p); an error naming
 *  the key when there is no record or it is for another stage. */
qc_status qc_qcalib_read(const qc_graph *g, const char *key, int32_t stage,
                         qc_qparams *p) QC_MUST_USE;

/** Whether g has Observe nodes whose parameters come from calibration data (a static stage
 *  on a non-constant input). */
bool qc_quant_needs_calibration(const qc_graph *g);

/** What qc_quant_collect hands over: the value at `index` in the caller's list, as the
 *  interpreter computed it for one batch (valid during the call only). */
typedef qc_status (*qc_collect_fn)(void *user, int32_t index, const qc_tensor *t);

/** Run g over the calibration data o describes, one batch at a time, and give every
 *  computed value listed in values[0..n) to fn. *batches (may be NULL) gets the number of
 *  batches run. g is not modified. */
qc_status qc_quant_collect(const qc_graph *g, const qc_calib_options *o, int32_t n,
                           const qc_vid *values, qc_collect_fn fn, void *user,
                           int64_t *batches) QC_MUST_USE;

/** Sequential runs (the block-by-block execution of docs/architecture): the calibration
 *  batches go through g's nodes a segment at a time, all batches through one segment before
 *  the next, so that an algorithm can change the weights of a segment's layers between
 *  segments and later segments see the changed model (GPTQ feeds each layer the outputs of
 *  the layers quantized before it). Values that later segments read are kept for every
 *  batch (the residual stream at a cut, for an LLM); the batches' inputs are read once. */
typedef struct qc_seqrun qc_seqrun;
qc_status qc_seqrun_create(const qc_graph *g, const qc_calib_options *o,
                           qc_seqrun **out) QC_MUST_USE;
/** Run the nodes from where the last segment ended up to node `to` (exclusive) on every
 *  batch, computing them from g as it is now; fn sees the listed values computed there. */
qc_status qc_seqrun_segment(qc_seqrun *r, qc_nid to, int32_t n, const qc_vid *values,
                            qc_collect_fn fn, void *user) QC_MUST_USE;
/** A value a probe replaces: by `constant` in every batch (a trial weight), or, for a kept
 *  value (an activation a segment computed), by what fn makes of it for each batch (*out a
 *  new tensor the probe releases). */
typedef struct qc_seqrun_edit {
  qc_vid value;
  const qc_tensor *constant;
  qc_status (*fn)(void *user, int64_t batch, const qc_tensor *in, qc_tensor *out);
  void *user;
} qc_seqrun_edit;
/** Run the nodes from where the last segment ended up to node `to` (exclusive) on every batch,
 *  with `edits` in place of the values they name, and give fn the listed values, batch after
 *  batch; nothing is kept and the run does not advance, so that an algorithm can try
 *  changes to a segment (AutoSmoothQuant's search) before the segment is run. */
qc_status qc_seqrun_probe(qc_seqrun *r, qc_nid to, int32_t n_edits, const qc_seqrun_edit *edits,
                          int32_t n, const qc_vid *values, qc_collect_fn fn,
                          void *user) QC_MUST_USE;
/** Value v as kept for batch b (a graph input, or a value a segment computed that later nodes
 *  read), or NULL. */
const qc_tensor *qc_seqrun_kept(const qc_seqrun *r, qc_vid v, int64_t batch);
/** After g's values changed (an input now reads a new constant): recount who reads what. */
qc_status qc_seqrun_refresh(qc_seqrun *r) QC_MUST_USE;
int64_t qc_seqrun_batches(const qc_seqrun *r);
void qc_seqrun_destroy(qc_seqrun *r);

/** The calibration options of a pass that reads calibration data (calibrate, smoothquant,
 *  gptq): the pass options QC_CALIB_PASS_OPTIONS declares. */
void qc_calib_options_from_args(const qc_pass_args *a, qc_calib_options *o);
#define QC_CALIB_PASS_OPTIONS                                                                      \
  {"data", QC_OPT_STRING, "", "a directory of .pb/.npy inputs, one sub-directory per batch"},     \
      {"text", QC_OPT_STRING, "", "a text file, fed through the tokenizer"},                      \
      {"tokenizer", QC_OPT_STRING, "", "tokenizer.json (or its directory), for text"},            \
      {"text-mode", QC_OPT_STRING, "auto", "auto, lines (one sample per line), chunks (seq-len windows)"}, \
      {"batches", QC_OPT_INT, "0", "use at most this many batches (0: all)"},                     \
      {"seq-len", QC_OPT_INT, "512", "tokens per sample (chunks) or the cut-off (lines)"},        \
      {"threads", QC_OPT_INT, "0", "interpreter threads (0: one per core)"}
#define QC_CALIB_PASS_N_OPTIONS 7

/* ---- algorithms (algo_config) ---------------------------------------------------------------- */

typedef enum qc_qalgo_kind {
  QC_QALGO_SMOOTH = 1,
  QC_QALGO_GPTQ = 2,
  QC_QALGO_ROTATION = 3,
  QC_QALGO_QRONOS = 4,
  QC_QALGO_AUTOSMOOTH = 5
} qc_qalgo_kind;

/** One entry of a Quark config's algo_config (passes/quant/algo.c has the keys). */
typedef struct qc_qalgo {
  qc_qalgo_kind kind;
  const char *name;       /**< "smooth", "autosmoothquant", "gptq", "qronos", "rotation"
                               (static) */
  double alpha;           /**< smooth: migration strength; qronos: damping, a fraction of
                               the largest eigenvalue of H */
  double beta;            /**< qronos: the scale of the Cholesky factorization */
  double scale_clamp_min; /**< smooth: lower bound of the smoothing scales */
  bool fold_only;         /**< smooth, autosmoothquant: no Mul where 1/s cannot be folded
                               (quarc's key) */
  double loss_power;      /**< autosmoothquant: the search minimizes mean |d|^loss_power
                               (compute_scale_loss MSE 2, MAE 1, RMSE 0.5, as Quark) */
  int64_t block_size;     /**< gptq, qronos: columns per lazy-update block */
  double damp_percent;    /**< gptq: damping, a fraction of the mean Hessian diagonal */
  bool desc_act;          /**< gptq: columns in order of decreasing Hessian diagonal */
  bool static_groups;     /**< gptq: group parameters from the weight before any update */
  bool scale_search;      /**< gptq: shrink the parameters' ranges first (quarc's key) */
  bool quantize_inputs;   /**< qronos: X~ through the layer's own static input quantizer
                               (quarc's key) */
  bool r1, r2, r4;        /**< rotation: which rotations (SpinQuant's names) */
  bool online_r1;         /**< rotation: R1 as a MatMul before each layer, not fused */
  int64_t rotation_size;  /**< rotation: block size of R1 / R4 (0: the whole width) */
  bool random_r1, random_r2; /**< rotation: Hadamard times random signs (seeded) */
} qc_qalgo;

/** The algorithms of algo_config (its JSON text; NULL or "null": none), in order; free
 *  *out. Errors name "<src>: algo_config[i].<key>". */
qc_status qc_qalgos_parse(const char *json, const char *src, qc_qalgo **out,
                          int32_t *n) QC_MUST_USE;
/** Append entries for the names in `names` ("smooth,gptq"), with their defaults, to
 *  cfg's algo_config. */
qc_status qc_qalgos_add(qc_qconfig *cfg, const char *names) QC_MUST_USE;

/** SmoothQuant or AutoSmoothQuant (a->kind; passes/quant/smooth.c) on an annotated graph
 *  before `observe`: per group of layers reading one activation, a scale s per input channel
 *  (SmoothQuant: max|x|^alpha / max|W|^(1-alpha); AutoSmoothQuant: max|x|^r with r searched
 *  against the group's quantized output), folded into what produces x (a norm's scale and
 *  bias, a Linear's output rows, through an Attention a value projection's rows) and into the
 *  layers' weight columns; a group whose x cannot take 1/s exactly reads it through a new
 *  Mul(x, 1/s), unless fold_only. *n_smoothed (may be NULL) gets the number of groups
 *  smoothed; *ratios (may be NULL; free it) each group's searched exponent, in node order. */
qc_status qc_quant_smooth(qc_graph *g, const qc_calib_options *o, const qc_qalgo *a,
                          int32_t *n_smoothed, float **ratios) QC_MUST_USE;
/** Quark's compute_scale_loss, any case ("MAE", "mse", "RMSE"), as a power; false if unknown. */
bool qc_qalgo_loss_power(const char *name, double *power);
/** GPTQ or Qronos (a->kind; passes/quant/gptq.c) on an observed graph before `freeze`: each
 *  quantized Linear weight is replaced by GPTQ's quantized weight, computed from the Hessian
 *  of its input on the calibration data (Qronos: and from the input the float model gives
 *  it), and its parameters are recorded as quant.calib.<L>.weight for freeze. *n_layers
 *  (may be NULL) gets the number of layers done. */
qc_status qc_quant_gptq(qc_graph *g, const qc_calib_options *o, const qc_qalgo *a,
                        int32_t *n_layers) QC_MUST_USE;

/** Rotation (passes/quant/rotate.c; QuaRot / SpinQuant, as Quark's `rotation`) on an
 *  annotated graph before smoothquant and `observe`; needs no data. r1: the residual stream
 *  of a pre-norm model (RMSNormalization) is rotated by a Hadamard matrix R: the norms'
 *  scales fold into the layers that read them, whose input columns take R; what writes the
 *  stream (the embedding, o_proj, down_proj) takes R on its output. online_r1: instead, each
 *  group of quantized Linears reading a norm reads its input through MatMul(x, R) (any
 *  norm, any model). r2: per attention head, the value projection's outputs and the output
 *  projection's inputs (an Attention op between them). r4: the quantized Linears that read
 *  an MLP activation (down_proj) read it through MatMul(x, R). The float function is kept.
 *  *n_layers (may be NULL) gets the number of layers whose weights changed. */
qc_status qc_quant_rotate(qc_graph *g, const qc_qalgo *a, int32_t *n_layers) QC_MUST_USE;
/** The rotation matrix of order n (row-major, malloc'd): a normalized Hadamard matrix
 *  (Sylvester 2^k times Paley I/II orders p+1, 2(p+1)), block-diagonal of blocks of order
 *  `block` when block > 0, times random signs on the rows when random (seeded by `seed`).
 *  An order no construction reaches is an error naming it. */
qc_status qc_rotation_matrix(int64_t n, int64_t block, bool random, uint64_t seed,
                             double **out) QC_MUST_USE;

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
