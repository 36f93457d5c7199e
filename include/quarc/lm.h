/*
 * quarc/lm.h — running a decoder language model graph on token ids.
 *
 * A qc_lm binds the inputs a causal LM graph takes, whoever built it (qc_hf_load,
 * qc_gguf_load, an ONNX export from optimum): input_ids i64[batch, seq] (required),
 * attention_mask i64[batch, past + seq] (all ones), position_ids i64[batch, seq]
 * (past .. past + seq - 1), and a KV cache past_key_values.<i>.key/value
 * f32[batch, kv_heads, past, head_dim] fed back from the outputs present.<i>.key/value.
 * The logits are the output called "logits" (else output 0), f32[batch, seq, vocab].
 *
 *     qc_lm *lm;
 *     QC_RETURN_IF_ERROR(qc_lm_create(g, NULL, &lm));
 *     qc_tensor logits;
 *     qc_status s = qc_lm_run(lm, 1, n, ids, false, &logits);   // prompt (prefill)
 *     ...                                                        // next token: argmax
 *     s = qc_lm_run(lm, 1, 1, &next, true, &logits);              // one step, cache reused
 *     qc_tensor_release(&logits);
 *     qc_lm_destroy(lm);
 */
#ifndef QUARC_LM_H
#define QUARC_LM_H

#include "quarc/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qc_lm qc_lm;

/** Prepare `g` (which must outlive the qc_lm) for running; errors name the input the graph
 *  takes that qc_lm cannot fill. `opts` may be NULL. */
qc_status qc_lm_create(const qc_graph *g, const qc_interp_options *opts, qc_lm **out) QC_MUST_USE;
void qc_lm_destroy(qc_lm *lm);

/** Whether the graph has a KV cache (past_key_values.* inputs and present.* outputs). */
bool qc_lm_has_cache(const qc_lm *lm);
/** Tokens held in the cache (0 without one). */
int64_t qc_lm_past_len(const qc_lm *lm);
/** Forget the cache. */
void qc_lm_reset(qc_lm *lm);

/** Run the graph on ids [batch, seq] (row-major). With `append` and a cache, the ids
 *  continue the cached sequence and the cache grows by seq; otherwise the cache is reset
 *  first. `*logits` (f32 [batch, seq, vocab]) is owned by the caller. */
qc_status qc_lm_run(qc_lm *lm, int64_t batch, int64_t seq, const int64_t *ids, bool append,
                    qc_tensor *logits) QC_MUST_USE;

/** Sum over positions t = 0 .. n-2 of -log softmax(logits[t])[ids[t+1]], in double: the
 *  negative log-likelihood of ids[1..n-1] given their prefixes. `logits` is f32
 *  [1, n, vocab] (or [n, vocab]); ids out of the vocabulary are errors. With `lm` (may be
 *  NULL) the positions are spread over its interpreter's threads. */
qc_status qc_lm_nll(qc_lm *lm, const qc_tensor *logits, const int64_t *ids, int64_t n,
                    double *sum) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
