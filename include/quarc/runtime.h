/*
 * quarc/runtime.h — executing graphs.
 *
 * The reference interpreter runs any graph or sub-graph with exact semantics for
 * every op and dtype; it is the oracle every other backend is tested against.
 * Values at run time are qc_rvalues: a tensor, a sequence of tensors, or an
 * empty optional. An observer callback sees every value as it is computed
 * (calibration observers, AWQ/GPTQ activation capture).
 *
 * Nodes computed from constants alone (weight transposes, casts, dequantization of packed
 * weights; deterministic ops without sub-graphs or side effects) run once, on an
 * interpreter's first qc_interp_run, and the results the rest of the graph reads are kept
 * until qc_interp_destroy: later runs (one per token or window of an LLM) skip them. That
 * memory is weights-sized; an observer still sees those values on every run.
 *
 *     qc_interp *it;
 *     QC_RETURN_IF_ERROR(qc_interp_create(g, NULL, &it));
 *     qc_rvalue in = qc_rvalue_tensor(&x);   // borrows x's buffer reference
 *     qc_rvalue out;
 *     qc_status s = qc_interp_run(it, 1, &in, 1, &out);
 *     ...
 *     qc_rvalue_release(&out);
 *     qc_interp_destroy(it);
 */
#ifndef QUARC_RUNTIME_H
#define QUARC_RUNTIME_H

#include "quarc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum qc_rvalue_kind {
  QC_RV_NONE = 0,     /**< an empty optional (or an omitted value) */
  QC_RV_TENSOR = 1,
  QC_RV_SEQUENCE = 2,
} qc_rvalue_kind;

typedef struct qc_rvalue {
  uint8_t kind;      /**< qc_rvalue_kind */
  uint8_t optional;  /**< the value is of an optional type (present unless kind NONE) */
  qc_dtype elem;     /**< element dtype of a sequence or of an empty optional */
  qc_tensor t;       /**< QC_RV_TENSOR */
  int32_t n_items;   /**< QC_RV_SEQUENCE */
  qc_tensor *items;  /**< owned array (malloc) of tensors, each holding a reference */
} qc_rvalue;

/** A tensor value holding a new reference to t's buffer. */
qc_rvalue qc_rvalue_tensor(const qc_tensor *t);
/** Deep-reference copy (tensors retained, item array duplicated). */
qc_status qc_rvalue_copy(qc_rvalue *dst, const qc_rvalue *src) QC_MUST_USE;
void qc_rvalue_release(qc_rvalue *v);

typedef struct qc_interp qc_interp;

/** Observer: called with each node output as it is computed (in execution order), and with
 *  each graph input once. Values are borrowed for the duration of the call. Returning a
 *  status stops the run. `g` may be a sub-graph of the graph being run. */
typedef qc_status (*qc_observe_fn)(void *user, const qc_graph *g, qc_vid v,
                                   const qc_rvalue *value);

typedef struct qc_interp_options {
  int32_t n_threads;        /**< worker threads; 0 = one per core */
  qc_observe_fn observe;    /**< may be NULL */
  void *observe_user;
  const qc_allocator *alloc;/**< NULL = default */
  bool keep_all;            /**< keep every intermediate (else freed after its last use) */
} qc_interp_options;

/** Prepare `g` for execution (checks that every op has a kernel). `g` must outlive `it`
 *  and must not be edited while `it` exists. */
qc_status qc_interp_create(const qc_graph *g, const qc_interp_options *opts,
                           qc_interp **out) QC_MUST_USE;
void qc_interp_destroy(qc_interp *it);
/** Run with inputs in graph-input order; outputs (owned by the caller) in graph-output
 *  order. Errors name the node that failed. */
qc_status qc_interp_run(qc_interp *it, int32_t n_in, const qc_rvalue *inputs, int32_t n_out,
                        qc_rvalue *outputs) QC_MUST_USE;
/** One-shot convenience. */
qc_status qc_run_graph(const qc_graph *g, const qc_interp_options *opts, int32_t n_in,
                       const qc_rvalue *inputs, int32_t n_out, qc_rvalue *outputs) QC_MUST_USE;

/** Whether the interpreter has a kernel for op. */
bool qc_interp_supports(qc_op op);

#ifdef __cplusplus
}
#endif
#endif
