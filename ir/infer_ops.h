/* Private to the shape-inference rules (ir/infer_*.c): helpers shared by the rule files,
 * and data propagation.
 *
 * Data propagation. Shapes are often computed in the graph itself (Shape -> Gather ->
 * Concat -> Reshape). The driver keeps, for small integer tensors, what is known of each
 * element: a static integer, a symbolic dimension (the element equals a dim of some
 * tensor) or nothing. Rules read shape-like inputs with qc_inf_input_vals (constants,
 * Constant nodes and propagated values alike) and the rules of shape-computing ops
 * (Shape, Size, Gather, Concat, Slice, Squeeze, Unsqueeze, Cast, arithmetic) publish
 * what they know with qc_inf_set_output_vals. The verifier runs without a store: rules
 * then see constants only, which can only leave more dims unknown. */
#ifndef QUARC_IR_INFER_OPS_H
#define QUARC_IR_INFER_OPS_H

#include "infer_rules.h"
#include "internal.h"

/* ---- versions, attributes, constants ---------------------------------------------------- */

/** The opset version of the node's domain; a graph without opset imports (built by hand)
 *  reads as the newest version. */
int64_t qc_inf_version(const qc_infer_ctx *c);

/** The integer list attribute `name` (up to cap entries); false if absent or longer. */
bool qc_inf_attr_ints(const qc_infer_ctx *c, const char *name, int64_t *out, int32_t cap,
                      int32_t *n);
/** The integer list attribute `name` into out; *n = -1 when absent. More than cap entries
 *  (more than any tensor quarc represents can use) is an error naming the attribute. */
qc_status qc_inf_attr_list(const qc_infer_ctx *c, const char *name, int64_t *out, int32_t cap,
                           int32_t *n);

/** The data of input i if it is known at compile time: a constant, or the output of a
 *  Constant node with a `value` tensor. NULL otherwise (or if it has no data). */
const qc_tensor *qc_inf_input_tensor(const qc_infer_ctx *c, int32_t i);

/** Elements of a known float/int input (scalar or any shape, flattened), at most cap. */
bool qc_inf_input_floats(const qc_infer_ctx *c, int32_t i, double *out, int32_t cap, int32_t *n);

/* ---- data propagation ------------------------------------------------------------------- */

#define QC_INF_MAX_VALS 32

enum { QC_INF_INT = 0, QC_INF_SYM = 1, QC_INF_UNK = 2 };

/** What is known of a small integer tensor of rank 0 or 1. */
typedef struct qc_inf_vals {
  int32_t rank;              /**< 0 (scalar) or 1 */
  int32_t n;                 /**< element count */
  int64_t v[QC_INF_MAX_VALS];/**< INT: the value; SYM: the symbolic dim */
  uint8_t k[QC_INF_MAX_VALS];/**< QC_INF_INT / SYM / UNK */
} qc_inf_vals;

typedef struct qc_infer_store qc_infer_store;
qc_infer_store *qc_inf_store_create(const qc_allocator *a, int32_t n_values);
void qc_inf_store_destroy(qc_infer_store *s);

/** Known elements of input i (constant data or propagated); false if nothing is known. */
bool qc_inf_input_vals(const qc_infer_ctx *c, int32_t i, qc_inf_vals *out);
/** Input i as static integers (every element known); false otherwise. */
bool qc_inf_input_ints(const qc_infer_ctx *c, int32_t i, int64_t *out, int32_t cap, int32_t *n);
/** Publish what is known of output i's elements (ignored without a store). */
void qc_inf_set_output_vals(qc_infer_ctx *c, int32_t i, const qc_inf_vals *v);

/** An element as a dim (static >= 0 values, symbols; anything else unknown). */
static inline int64_t qc_inf_val_dim(const qc_inf_vals *v, int32_t i) {
  if (v->k[i] == QC_INF_SYM) return v->v[i];
  if (v->k[i] == QC_INF_INT && v->v[i] >= 0) return v->v[i];
  return QC_DIM_UNKNOWN;
}
/** Set element i from a dim. */
static inline void qc_inf_val_from_dim(qc_inf_vals *v, int32_t i, int64_t d) {
  if (d >= 0) {
    v->k[i] = QC_INF_INT;
    v->v[i] = d;
  } else if (d == QC_DIM_UNKNOWN) {
    v->k[i] = QC_INF_UNK;
    v->v[i] = 0;
  } else {
    v->k[i] = QC_INF_SYM;
    v->v[i] = d;
  }
}

/* ---- types and dims ---------------------------------------------------------------------- */

/** A tensor type of known rank whose dims are all unknown. */
qc_type qc_inf_ranked(qc_dtype dt, int32_t rank);
/** A tensor type; dims NULL = all unknown. */
static inline qc_type qc_inf_type(qc_dtype dt, int32_t rank, const int64_t *dims) {
  return dims ? qc_type_tensor(dt, rank, dims) : qc_inf_ranked(dt, rank);
}
/** A tensor type with a dtype and unknown rank. */
qc_type qc_inf_dtype_only(qc_dtype dt);
/** Input dtype (QC_DT_UNDEFINED when absent/unknown). */
qc_dtype qc_inf_dtype(const qc_infer_ctx *c, int32_t i);
/** Input rank (QC_RANK_UNKNOWN when absent/unknown). */
int32_t qc_inf_rank(const qc_infer_ctx *c, int32_t i);
/** Dim d of input i, or QC_DIM_UNKNOWN. */
int64_t qc_inf_dim(const qc_infer_ctx *c, int32_t i, int32_t d);

/** A computed size as a dim: QC_DIM_UNKNOWN unless finite, >= 0 and below 2^62. */
static inline int64_t qc_inf_dim_from_double(double x) {
  return x >= 0 && x < 4611686018427387904.0 ? (int64_t)x : QC_DIM_UNKNOWN;
}
/** Dim arithmetic: static where both are, exact shortcuts with 0 and 1, else unknown. */
int64_t qc_inf_dim_mul(int64_t a, int64_t b);
int64_t qc_inf_dim_add(int64_t a, int64_t b);
/** Two sources for the same dim: the more precise one (static over symbolic over
 *  unknown). Sets *conflict when both are static and differ. */
int64_t qc_inf_dim_merge(int64_t a, int64_t b, bool *conflict);
/** Merge two alternatives (If branches, sequence elements): equal dims stay, others
 *  become unknown; different ranks give unknown rank. */
qc_type qc_inf_type_join(const qc_type *a, const qc_type *b);

/** "[2,batch,?]" with symbol names, in buf. */
const char *qc_inf_dims_str(const qc_graph *g, int32_t rank, const int64_t *dims, char *buf,
                            size_t n);
/** "dim" or symbol name or "?" (buf of >= 32 chars). */
const char *qc_inf_dim_str(const qc_graph *g, int64_t d, char *buf, size_t n);

/** A dim of graph `from` expressed in the node's graph (symbols matched by name; in
 *  inference mode a missing symbol is created, in verify mode it reads as unknown). */
int64_t qc_inf_dim_import(qc_infer_ctx *c, const qc_graph *from, int64_t d);
/** A whole type of graph `from` expressed in the node's graph. */
qc_type qc_inf_type_import(qc_infer_ctx *c, const qc_graph *from, const qc_type *t);

/* ---- checks ------------------------------------------------------------------------------ */

/** Input i (if present, dtype known) has one of the listed dtypes. */
qc_status qc_inf_require_dtypes(const qc_infer_ctx *c, int32_t i, const char *what, int32_t n,
                                const qc_dtype *dts);
/** Input i is an index tensor (i32 or i64). */
qc_status qc_inf_require_index(const qc_infer_ctx *c, int32_t i);
/** Input i is bool. */
qc_status qc_inf_require_bool(const qc_infer_ctx *c, int32_t i);
/** Input i has rank >= r. */
qc_status qc_inf_require_min_rank(const qc_infer_ctx *c, int32_t i, int32_t r);
/** Input i is a scalar or a 1-element 1-D tensor. */
qc_status qc_inf_require_scalarish(const qc_infer_ctx *c, int32_t i);
/** Input i is a tensor (not a sequence or optional), when its kind is known. */
qc_status qc_inf_require_tensor(const qc_infer_ctx *c, int32_t i);
/** Dim `d` of input `i` equals `want` when both are static: "<what>: 64 vs 32". */
qc_status qc_inf_require_dim(const qc_infer_ctx *c, int32_t i, int32_t d, int64_t want,
                             const char *what);

/* ---- shape rules shared between rule files (infer_nn.c) --------------------------------- */

/** numpy matmul of inputs ia and ib (dtype left undefined). */
qc_status qc_inf_matmul_shape(const qc_infer_ctx *c, int32_t ia, int32_t ib, qc_type *out);
/** Gemm of inputs ia, ib (transA/transB attributes), C at ic (-1: none). */
qc_status qc_inf_gemm_shape(const qc_infer_ctx *c, int32_t ia, int32_t ib, int32_t ic,
                            qc_type *out);
/** Convolution of X (ix) with W (iw), bias ib (-1: none); sets output 0 with dtype dt. */
qc_status qc_inf_conv(qc_infer_ctx *c, int32_t ix, int32_t iw, int32_t ib, qc_dtype dt);
/** Pooling of input ix (kernel_shape, strides, pads, auto_pad, ceil_mode); output 0. */
qc_status qc_inf_pool(qc_infer_ctx *c, int32_t ix, qc_dtype dt, bool channels_last,
                      bool dilations);
/** Global pooling of input ix; output 0. */
qc_status qc_inf_global_pool(qc_infer_ctx *c, int32_t ix, qc_dtype dt, bool channels_last);

/* ---- sub-graphs -------------------------------------------------------------------------- */

/** The graph attribute `name` of the node, or NULL. */
const qc_graph *qc_inf_subgraph(const qc_infer_ctx *c, const char *name);
/** Before a node's bodies are inferred: give body inputs the types the node implies
 *  (Loop's iteration count, condition and carried values; Scan's state and slices;
 *  SequenceMap's elements). Declared body types are refined, never replaced. */
void qc_inf_prepare_bodies(qc_graph *g, qc_nid n);

#endif
