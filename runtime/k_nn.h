/* Private to the neural-network kernel family (runtime/k_nn*.c): helpers the files share,
 * and the kernels that k_nn.c lists in the family table. All compute in f32 (kfloat.h)
 * with double accumulators where a sum decides the result. */
#ifndef QUARC_RUNTIME_K_NN_H
#define QUARC_RUNTIME_K_NN_H

#include "runtime/gemm.h"
#include "runtime/kfloat.h"
#include "runtime/kutil.h"

/** A scalar (any numeric dtype, one element) as a double. */
qc_status nn_tensor_scalar(const qc_kctx *k, const qc_tensor *t, const char *what,
                           double *out) QC_MUST_USE;
/** Require input i to be present and of a float dtype the family computes (f32/f64/f16/bf16). */
qc_status nn_float_in(const qc_kctx *k, int32_t i, const qc_tensor **out) QC_MUST_USE;

/** The declared float dtype of output i, or dflt when the graph does not say. */
qc_dtype nn_out_dtype(const qc_kctx *k, int32_t i, qc_dtype dflt);

/** Activation functions of the RNN family, by ONNX name (case-insensitive). */
typedef struct nn_act {
  int32_t kind;
  float alpha, beta;
} nn_act;
bool nn_act_parse(const char *name, float alpha, float beta, bool has_alpha, bool has_beta,
                  nn_act *out);
float nn_act_apply(const nn_act *a, float x);

/* Kernels defined in k_nn_seq.c (recurrent and attention ops). */
qc_status qc_k_rnn(qc_kctx *k);
qc_status qc_k_gru(qc_kctx *k);
qc_status qc_k_lstm(qc_kctx *k);
qc_status qc_k_attention(qc_kctx *k);
qc_status qc_k_rotary_embedding(qc_kctx *k);
qc_status qc_k_linear_attention(qc_kctx *k);
qc_status qc_k_causal_conv_with_state(qc_kctx *k);
qc_status qc_k_flex_attention(qc_kctx *k);

#endif
