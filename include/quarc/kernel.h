/*
 * quarc/kernel.h — writing interpreter kernels.
 *
 * A kernel computes one node: it reads its inputs from the context, allocates
 * and fills its outputs, and reports errors through qc_k_error (which names the
 * node). Kernels see the node's attributes with schema defaults applied, the
 * node's opset version, a parallel-for over the interpreter's threads, and can
 * run sub-graphs (If/Loop/Scan bodies).
 *
 *     static qc_status k_relu(qc_kctx *k) {
 *       const qc_tensor *x = qc_k_in(k, 0);
 *       qc_tensor *y;
 *       QC_RETURN_IF_ERROR(qc_k_out_like(k, 0, x, &y));
 *       ...
 *       return QC_OK;
 *     }
 *     // registered with qc_kernel_register(QC_OP_Relu, k_relu) (plugins), or in a
 *     // built-in family table in runtime/.
 */
#ifndef QUARC_KERNEL_H
#define QUARC_KERNEL_H

#include "quarc/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qc_kctx {
  const qc_graph *g;
  qc_nid node;
  const qc_node *n;
  int64_t version;        /**< opset version of the node's domain */
  int32_t n_in, n_out;
  const qc_rvalue **in;   /**< NULL entries for omitted inputs */
  qc_rvalue *out;         /**< outputs to fill (kind NONE on entry) */
  qc_interp *interp;
  const qc_allocator *alloc;
} qc_kctx;

typedef qc_status (*qc_kernel_fn)(qc_kctx *k);

/** Register (or replace) the kernel of an op; for plugins. */
qc_status qc_kernel_register(qc_op op, qc_kernel_fn fn) QC_MUST_USE;

/** Input i as a tensor; NULL if omitted or not a tensor (see qc_k_in_value). */
const qc_tensor *qc_k_in(const qc_kctx *k, int32_t i);
const qc_rvalue *qc_k_in_value(const qc_kctx *k, int32_t i);
/** Allocate output i as a new zeroed tensor. */
qc_status qc_k_out(qc_kctx *k, int32_t i, qc_dtype dt, int32_t rank, const int64_t *dims,
                   qc_tensor **out) QC_MUST_USE;
/** Same shape and dtype as `like`. */
qc_status qc_k_out_like(qc_kctx *k, int32_t i, const qc_tensor *like, qc_tensor **out) QC_MUST_USE;
/** Make output i share the data of tensor t (no copy; retains). */
void qc_k_out_alias(qc_kctx *k, int32_t i, const qc_tensor *t);
/** Output i wanted by the graph (not omitted). */
bool qc_k_out_used(const qc_kctx *k, int32_t i);
/** Error naming the node: "node 'x' (Op): <message>". */
qc_status qc_k_error(const qc_kctx *k, const char *fmt, ...) QC_PRINTF(2, 3);

static inline int64_t qc_k_int(const qc_kctx *k, const char *name, int64_t dflt) {
  return qc_node_int(k->g, k->node, name, dflt);
}
static inline double qc_k_float(const qc_kctx *k, const char *name, double dflt) {
  return qc_node_float(k->g, k->node, name, dflt);
}
static inline const char *qc_k_string(const qc_kctx *k, const char *name, const char *dflt) {
  return qc_node_string(k->g, k->node, name, dflt);
}
static inline const qc_attr *qc_k_attr(const qc_kctx *k, const char *name) {
  return qc_node_attr(k->g, k->node, name);
}

/** Run fn over [0, n) split into chunks across the interpreter's threads. fn must be
 *  thread-safe for disjoint ranges. Chunks are at least `grain` long. */
void qc_k_parallel_for(const qc_kctx *k, int64_t n, int64_t grain,
                       void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx);

/** Run a sub-graph of this node with the given inputs (in its input order); outer names
 *  resolve to the values visible at this node. Outputs are owned by the caller. */
qc_status qc_k_run_subgraph(qc_kctx *k, const qc_graph *sub, int32_t n_in, const qc_rvalue *in,
                            int32_t n_out, qc_rvalue *out) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
