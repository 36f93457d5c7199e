/*
 * quarc/models.h — model graphs from Hugging Face configs and weights.
 *
 * A model family's forward pass is built as a quarc graph of standard ONNX ops
 * (opset 23: RMSNormalization, RotaryEmbedding, Attention), so it runs in the
 * interpreter and exports to ONNX Runtime. Weights keep their Hugging Face names
 * ("model.layers.3.self_attn.q_proj.weight") and the node computing a module is named
 * after it ("model.layers.3.self_attn.q_proj"), so Quark-style layer patterns address
 * the same layers. A Linear is MatMul(x, Transpose(W)) with W in HF's [out, in]
 * layout: weights stay mapped, and per-channel axes mean what they mean in Quark.
 *
 * Graph interface (docs/models.md has the details):
 *   decoder LMs: input_ids i64[batch,seq] -> logits f32[batch,seq,vocab]; with the KV
 *     cache, also past_key_values.<i>.key/value -> present.<i>.key/value
 *     (f32[batch, kv_heads, past, head_dim]).
 *   BERT encoders: input_ids, attention_mask, token_type_ids (i64[batch,seq]) ->
 *     last_hidden_state f32[batch,seq,hidden], sentence_embedding f32[batch,hidden]
 *     (mean pooled over the mask and L2-normalized, as sentence-transformers does).
 * The hidden state entering decoder layer i is the value "model.layers.<i>.input" (or
 * the family's equivalent prefix) and leaving it "<prefix>.<i>.output", so one layer can
 * be cut out and run alone (qc_graph_extract_layer).
 *
 *     qc_graph *g;
 *     QC_RETURN_IF_ERROR(qc_hf_load("SmolLM2-135M/", NULL, &g));
 */
#ifndef QUARC_MODELS_H
#define QUARC_MODELS_H

#include "quarc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qc_gguf qc_gguf;           /* quarc/gguf.h */
typedef struct qc_tokenizer qc_tokenizer; /* quarc/tokenizer.h */

typedef enum qc_arch {
  QC_ARCH_UNKNOWN = 0,
  QC_ARCH_LLAMA = 1, /**< llama, mistral, qwen2, qwen3 (q/k norm), smollm */
  QC_ARCH_GPT2 = 2,
  QC_ARCH_OPT = 3,
  QC_ARCH_BERT = 4,
} qc_arch;

typedef enum qc_act { QC_ACT_SILU, QC_ACT_GELU, QC_ACT_GELU_TANH, QC_ACT_RELU } qc_act;

typedef struct qc_model_config {
  qc_arch arch;
  char model_type[32];   /**< config.json model_type */
  int64_t vocab_size, hidden_size, num_layers, num_heads, num_kv_heads, head_dim;
  int64_t intermediate_size, max_positions;
  double norm_eps;
  double rope_theta;
  /* rope_scaling: type "llama3" (factor, low/high freq factor, original max positions),
   * "linear" (factor), or none. */
  char rope_type[16];
  double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
  int64_t rope_original_max_positions;
  double partial_rotary_factor; /**< fraction of head_dim that is rotated (1.0) */
  bool tie_word_embeddings;
  bool attention_bias, mlp_bias, qk_norm;
  qc_act act;
  /* OPT */
  bool do_layer_norm_before;
  int64_t word_embed_proj_dim;
  /* BERT */
  int64_t type_vocab_size;
  /* sentence-transformers pooling (BERT): mean pooling + normalize */
  bool mean_pooling;
  /* Sliding-window attention (Mistral; Qwen2/Qwen3 with use_sliding_window): position i
   * attends to positions j with i - sliding_window < j <= i, in layers from
   * sliding_window_first_layer on; 0: every layer attends to all earlier positions. */
  int64_t sliding_window, sliding_window_first_layer;
  /* GPT-2: no 1/sqrt(head_dim) score scaling (scale_attn_weights false); scores also divided
   * by layer + 1 (scale_attn_by_inverse_layer_idx). */
  bool attn_unscaled, attn_scale_by_layer;
} qc_model_config;

/** Parse a Hugging Face config.json. Unknown model types and missing keys are errors
 *  naming the key. */
qc_status qc_model_config_parse(const char *json, size_t len, const char *name,
                                qc_model_config *out) QC_MUST_USE;

/** Where weights come from: get(name) fills *out with a tensor (holding a buffer
 *  reference the caller releases) or returns a QC_CODE_NOT_FOUND status. */
typedef struct qc_weight_source {
  qc_status (*get)(void *ctx, const char *name, qc_tensor *out);
  void *ctx;
} qc_weight_source;

typedef struct qc_build_options {
  bool kv_cache;    /**< decoder LMs: past/present key-value inputs and outputs */
  int64_t max_seq;  /**< longest sequence (rotary tables); 0: min(max_positions, 8192) */
} qc_build_options;

/** Build the forward graph of a model. */
qc_status qc_model_build(const qc_model_config *cfg, const qc_weight_source *w,
                         const qc_build_options *opts, qc_graph **out) QC_MUST_USE;

/** Load a Hugging Face model directory (config.json + model.safetensors /
 *  model.safetensors.index.json shards / pytorch_model.bin) as a graph; weights stay
 *  mapped. The config and build options are recorded as graph metadata. A quantized
 *  checkpoint (qc_hf_is_quantized: a quantization_config, or Quark's model_state_dict.pth)
 *  is read with its scales by qc_hf_quant_load, with the same options. */
qc_status qc_hf_load(const char *dir, const qc_build_options *opts, qc_graph **out) QC_MUST_USE;

/** Load a GGUF file of a llama-family model (general.architecture "llama", "qwen2" or
 *  "qwen3") as the same graph qc_hf_load builds: metadata mapped to a qc_model_config,
 *  llama.cpp tensor names to Hugging Face names, llama's Q/K row permutation undone, the
 *  output head tied to token_embd when output.weight is absent. Block-quantized tensors
 *  (Q4_0, Q8_0, Q4_K, ...) stay packed constants feeding quarc.DequantizePacked nodes;
 *  weights stay mapped (q_proj/k_proj of llama are copied once, to un-permute their rows).
 *  Missing or ill-typed metadata and tensors of the wrong shape are errors naming the file
 *  and the key or tensor. */
qc_status qc_gguf_load(const char *path, const qc_build_options *opts, qc_graph **out) QC_MUST_USE;

/** The model config of a GGUF file's metadata (see qc_gguf_load). */
qc_status qc_gguf_model_config(const qc_gguf *f, qc_model_config *out) QC_MUST_USE;

/** The GGUF tensor name of a Hugging Face llama-family weight name
 *  ("model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight"); false if the name
 *  has no GGUF counterpart or does not fit in `n` bytes. */
bool qc_gguf_tensor_name(const char *hf_name, char *buf, size_t n);

/** llama.cpp's Q/K permutation (convert_hf_to_gguf.py LlamaModel.permute) on the rows of a
 *  q_proj/k_proj weight [n_head * head_dim, in] or bias [n_head * head_dim]: to_gguf maps
 *  Hugging Face's rotate-half row order to ggml's interleaved one, !to_gguf undoes it. Rows
 *  move whole, so block-quantized tensors are permuted without dequantizing. `*out` is a
 *  new tensor owned by the caller. */
qc_status qc_llama_qk_permute(const qc_tensor *w, int64_t n_head, bool to_gguf,
                              qc_tensor *out) QC_MUST_USE;

/** The tokenizer embedded in a GGUF file (tokenizer.ggml.*). */
qc_status qc_gguf_tokenizer(const qc_gguf *f, qc_tokenizer **out) QC_MUST_USE;

/** A model's tokenizer by path: a Hugging Face directory (its tokenizer.json), a
 *  tokenizer.json file, or a .gguf file (the embedded one). Other paths (.onnx) carry none:
 *  an error saying so. `*out` is owned by the caller (qc_tokenizer_free). */
qc_status qc_model_tokenizer(const char *path, qc_tokenizer **out) QC_MUST_USE;

/** Load a model for inference by path: a Hugging Face directory (qc_hf_load with opts), a
 *  .gguf file (qc_gguf_load with opts), or any file qc_model_load reads (.onnx, .qir: used
 *  as they are, opts ignored). */
qc_status qc_model_open(const char *path, const qc_build_options *opts, qc_graph **out) QC_MUST_USE;

/** Cut layer `i` (the nodes between "<prefix>.<i>.input" and "<prefix>.<i>.output") out
 *  as a standalone graph whose inputs are the values it reads from outside (hidden state
 *  first) and whose outputs are the values it produces for the rest of the model. */
qc_status qc_graph_extract_layer(const qc_graph *g, int64_t layer, qc_graph **out) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
