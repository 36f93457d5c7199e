/*
 * quarc/infer.h — writing shape and type inference for an op.
 *
 * An op's schema names a qc_infer_fn. It is called once per node with a context
 * that exposes the node's input types, the data of constant inputs, and its
 * attributes; it checks what it needs and sets each output's type. Unknown
 * input types (dtype QC_DT_UNDEFINED, rank QC_RANK_UNKNOWN) must be tolerated:
 * leave the output (partly) unknown. Errors go through qc_infer_error, which
 * names the node.
 *
 *     static qc_status infer_relu(qc_infer_ctx *c) {
 *       const qc_type *x = qc_infer_input(c, 0);
 *       QC_RETURN_IF_ERROR(qc_infer_require_float(c, 0));
 *       qc_infer_set_output(c, 0, x);
 *       return QC_OK;
 *     }
 *
 * The shape helpers at the end are shared with the runtime kernels so that a
 * rule (broadcasting, convolution output sizes) is written once.
 */
#ifndef QUARC_INFER_H
#define QUARC_INFER_H

#include "quarc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qc_infer_ctx qc_infer_ctx;

const qc_graph *qc_infer_graph(const qc_infer_ctx *c);
qc_nid qc_infer_node_id(const qc_infer_ctx *c);
int64_t qc_infer_version(const qc_infer_ctx *c);
int32_t qc_infer_num_inputs(const qc_infer_ctx *c);
int32_t qc_infer_num_outputs(const qc_infer_ctx *c);
/** Type of input i; NULL if the input is omitted or i is out of range. */
const qc_type *qc_infer_input(const qc_infer_ctx *c, int32_t i);
/** Data of input i if it is a constant, else NULL. */
const qc_tensor *qc_infer_input_const(const qc_infer_ctx *c, int32_t i);
/** Attribute accessors (with schema defaults), as qc_node_*. */
const qc_attr *qc_infer_attr(const qc_infer_ctx *c, const char *name);
int64_t qc_infer_int(const qc_infer_ctx *c, const char *name, int64_t dflt);
double qc_infer_float(const qc_infer_ctx *c, const char *name, double dflt);
const char *qc_infer_string(const qc_infer_ctx *c, const char *name, const char *dflt);
void qc_infer_set_output(qc_infer_ctx *c, int32_t i, const qc_type *t);
/** An error naming the node: "node 'mm' (MatMul): <message>". */
qc_status qc_infer_error(const qc_infer_ctx *c, const char *fmt, ...) QC_PRINTF(2, 3);

/* Checks that produce named errors; an unknown dtype passes. */
qc_status qc_infer_require_float(const qc_infer_ctx *c, int32_t input);
qc_status qc_infer_require_int(const qc_infer_ctx *c, int32_t input);
qc_status qc_infer_require_same_dtype(const qc_infer_ctx *c, int32_t a, int32_t b);
qc_status qc_infer_require_rank(const qc_infer_ctx *c, int32_t input, int32_t rank);

/* ---- shape rules shared with the runtime ----------------------------------------------------- */

/** Numpy broadcasting of two shapes. Symbolic dims broadcast with 1 and with themselves;
 *  two different unknown dims give QC_DIM_UNKNOWN. Returns false if incompatible. */
bool qc_broadcast_dims(int32_t ra, const int64_t *da, int32_t rb, const int64_t *db,
                       int32_t *rout, int64_t *dout);
/** Normalize a possibly negative axis for rank r; false if out of range. */
bool qc_norm_axis(int64_t axis, int32_t r, int32_t *out);
/** Output size of a sliding window (conv/pool) along one axis.
 *  ceil_mode selects ceil instead of floor. Returns -1 if the window does not fit. */
int64_t qc_window_out(int64_t in, int64_t k, int64_t stride, int64_t dil, int64_t pad_begin,
                      int64_t pad_end, bool ceil_mode);
/** Resolve auto_pad ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER") into explicit pads for
 *  `n` spatial axes. pads has 2n entries (begins then ends) and is updated in place for
 *  SAME_*; returns false for an unknown mode. */
bool qc_auto_pad(const char *auto_pad, int32_t n, const int64_t *in, const int64_t *k,
                 const int64_t *stride, const int64_t *dil, int64_t *pads);

#ifdef __cplusplus
}
#endif
#endif
