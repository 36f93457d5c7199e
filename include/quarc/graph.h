/*
 * quarc/graph.h — the SSA dataflow graph.
 *
 * A qc_graph holds values and nodes in arrays; everything refers to everything
 * else by index (qc_vid, qc_nid), in the style of QBE's Ref. Each value is
 * defined once: by a graph input, a constant, a node output, or — inside a
 * sub-graph — by a name captured from an enclosing graph (QC_VALUE_OUTER).
 * Nodes are kept in topological order (qc_graph_toposort restores it after
 * edits). Names, attribute payloads and other metadata live in an arena that
 * is freed with the graph; constant data lives in qc_buffers outside it.
 *
 * Worked example — y = relu(x @ w):
 *
 *     qc_graph *g;
 *     QC_RETURN_IF_ERROR(qc_graph_create(NULL, &g));
 *     qc_type tx = qc_type_tensor(QC_F32, 2, (int64_t[]){qc_graph_sym(g, "batch"), 64});
 *     qc_vid x, w, h, y;
 *     QC_RETURN_IF_ERROR(qc_graph_add_input(g, "x", &tx, &x));
 *     QC_RETURN_IF_ERROR(qc_graph_add_const(g, "w", &weight_tensor, &w));
 *     QC_RETURN_IF_ERROR(qc_graph_add_op(g, QC_OP_MatMul, "mm", 2, (qc_vid[]){x, w}, "h", &h));
 *     QC_RETURN_IF_ERROR(qc_graph_add_op(g, QC_OP_Relu, NULL, 1, &h, "y", &y));
 *     QC_RETURN_IF_ERROR(qc_graph_add_output(g, y));
 *     QC_RETURN_IF_ERROR(qc_graph_infer_types(g));
 *     QC_RETURN_IF_ERROR(qc_graph_verify(g));
 *     qc_graph_destroy(g);
 *
 * Ownership: the graph owns its nodes, values, attributes and sub-graphs; it
 * holds a reference on every constant's buffer. Pointers returned by accessors
 * (qc_graph_value, qc_graph_node, names) stay valid until the next edit.
 */
#ifndef QUARC_GRAPH_H
#define QUARC_GRAPH_H

#include "quarc/ops.h"
#include "quarc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qc_graph qc_graph;
typedef int32_t qc_vid; /**< value index */
typedef int32_t qc_nid; /**< node index */
#define QC_NONE (-1)

/* ---- types ----------------------------------------------------------------------------------- */

/** A dimension: >= 0 static; qc_graph_sym() values (< 0) symbolic; QC_DIM_UNKNOWN. */
#define QC_DIM_UNKNOWN INT64_MIN
#define QC_RANK_UNKNOWN (-1)

typedef enum qc_type_kind {
  QC_TYPE_TENSOR = 0,
  QC_TYPE_SEQUENCE = 1,          /**< sequence of tensors of `dtype` (shape: common shape) */
  QC_TYPE_OPTIONAL = 2,          /**< optional tensor */
  QC_TYPE_OPTIONAL_SEQUENCE = 3, /**< optional sequence of tensors */
} qc_type_kind;

typedef struct qc_type {
  uint8_t kind;     /**< qc_type_kind */
  qc_dtype dtype;   /**< QC_DT_UNDEFINED = not known yet */
  int32_t rank;     /**< QC_RANK_UNKNOWN or 0..QC_MAX_RANK */
  int64_t dims[QC_MAX_RANK];
} qc_type;

qc_type qc_type_tensor(qc_dtype dt, int32_t rank, const int64_t *dims);
qc_type qc_type_unknown(void); /**< tensor, dtype and rank unknown */
bool qc_type_equal(const qc_type *a, const qc_type *b);
static inline bool qc_dim_is_static(int64_t d) { return d >= 0; }
/** All dims known and static. */
bool qc_type_is_static(const qc_type *t);
/** A type as messages show it: "f32[batch,64]"; "?" for an unknown dtype or dim, "[*]" for
 *  an unknown rank; symbolic dims by their names in `g`. Writes at most n bytes, NUL
 *  included (a longer text is cut short); returns buf. */
const char *qc_type_format(const qc_graph *g, const qc_type *t, char *buf, size_t n);

/* ---- values, nodes, attributes ----------------------------------------------------------------- */

typedef enum qc_value_kind {
  QC_VALUE_INPUT = 0, /**< graph input */
  QC_VALUE_CONST = 1, /**< constant (initializer) */
  QC_VALUE_NODE = 2,  /**< output of a node */
  QC_VALUE_OUTER = 3, /**< a name captured from an enclosing graph (sub-graphs only) */
} qc_value_kind;

typedef struct qc_value {
  const char *name; /**< unique within the graph and its enclosing scopes */
  qc_type type;
  uint8_t kind;     /**< qc_value_kind */
  int32_t node;     /**< defining node (QC_VALUE_NODE), else QC_NONE */
  int32_t index;    /**< output slot (NODE) or input position (INPUT) */
  qc_tensor cst;    /**< the data of a constant (CONST) */
} qc_value;

typedef enum qc_attr_kind {
  QC_ATTR_NONE = 0,
  QC_ATTR_FLOAT = 1,
  QC_ATTR_INT = 2,
  QC_ATTR_STRING = 3,
  QC_ATTR_TENSOR = 4,
  QC_ATTR_GRAPH = 5,
  QC_ATTR_FLOATS = 6,
  QC_ATTR_INTS = 7,
  QC_ATTR_STRINGS = 8,
  QC_ATTR_TENSORS = 9,
  QC_ATTR_GRAPHS = 10,
  QC_ATTR_TYPE = 13, /**< a type (ONNX TypeProto), e.g. Optional's `type` */
} qc_attr_kind;

typedef struct qc_attr {
  const char *name;
  uint8_t kind; /**< qc_attr_kind */
  int32_t n;    /**< list length; byte length for STRING */
  union {
    int64_t i;
    double f;         /**< ONNX floats are float32: stored exactly */
    const char *s;    /**< NUL-terminated, may contain NULs (see n) */
    qc_tensor *t;
    qc_graph *g;
    int64_t *ints;
    double *floats;
    struct {
      const char **v;
      int32_t *len;
    } strs;
    qc_tensor *tensors;
    qc_graph **graphs;
    qc_type *type;
  } u;
} qc_attr;

typedef struct qc_node {
  uint16_t op;      /**< qc_op */
  uint8_t dead;     /**< erased; removed by qc_graph_compact */
  const char *name; /**< may be "" */
  int32_t n_in, n_out, n_attr;
  qc_vid *in;       /**< QC_NONE for an omitted optional input */
  qc_vid *out;      /**< QC_NONE for an omitted optional output */
  qc_attr *attr;
} qc_node;

/* ---- graph lifetime ------------------------------------------------------------------------ */

qc_status qc_graph_create(const qc_allocator *a, qc_graph **out) QC_MUST_USE;
void qc_graph_destroy(qc_graph *g);
/** Deep copy (constants share their buffers by reference). */
qc_status qc_graph_clone(const qc_graph *g, qc_graph **out) QC_MUST_USE;
const qc_allocator *qc_graph_allocator(const qc_graph *g);
/** The enclosing graph of a sub-graph, or NULL. */
qc_graph *qc_graph_parent(const qc_graph *g);

const char *qc_graph_name(const qc_graph *g);
qc_status qc_graph_set_name(qc_graph *g, const char *name);

/** Opset of a domain ("" = ai.onnx); 0 if not imported. Sub-graphs inherit. */
int64_t qc_graph_opset(const qc_graph *g, const char *domain);
qc_status qc_graph_set_opset(qc_graph *g, const char *domain, int64_t version);
int32_t qc_graph_num_opsets(const qc_graph *g);
void qc_graph_opset_at(const qc_graph *g, int32_t i, const char **domain, int64_t *version);

/** Free-form string metadata (ONNX metadata_props, producer, ...), kept for round trips. */
qc_status qc_graph_set_meta(qc_graph *g, const char *key, const char *value);
const char *qc_graph_meta(const qc_graph *g, const char *key);
int32_t qc_graph_num_meta(const qc_graph *g);
void qc_graph_meta_at(const qc_graph *g, int32_t i, const char **key, const char **value);

/* ---- symbolic dimensions ------------------------------------------------------------------- */

/** The dim value for a symbol name, created on first use; QC_DIM_UNKNOWN on OOM. */
int64_t qc_graph_sym(qc_graph *g, const char *name);
/** The name of a symbolic dim, NULL if `dim` is not symbolic. */
const char *qc_graph_sym_name(const qc_graph *g, int64_t dim);

/* ---- values ---------------------------------------------------------------------------------- */

int32_t qc_graph_num_values(const qc_graph *g);
const qc_value *qc_graph_value(const qc_graph *g, qc_vid v);
/** Look a value up by name in this graph only; QC_NONE if absent. */
qc_vid qc_graph_find(const qc_graph *g, const char *name);
qc_status qc_graph_set_type(qc_graph *g, qc_vid v, const qc_type *t) QC_MUST_USE;
qc_status qc_graph_rename(qc_graph *g, qc_vid v, const char *name) QC_MUST_USE;

/** Add a graph input (appended to the input list). name NULL = generated. */
qc_status qc_graph_add_input(qc_graph *g, const char *name, const qc_type *t,
                             qc_vid *out) QC_MUST_USE;
/** Add a constant; the value takes a reference to t's buffer (t stays the caller's). */
qc_status qc_graph_add_const(qc_graph *g, const char *name, const qc_tensor *t,
                             qc_vid *out) QC_MUST_USE;
/** Add a capture of an enclosing graph's value (sub-graphs). */
qc_status qc_graph_add_outer(qc_graph *g, const char *name, const qc_type *t,
                             qc_vid *out) QC_MUST_USE;
/** Append v to the graph outputs. */
qc_status qc_graph_add_output(qc_graph *g, qc_vid v) QC_MUST_USE;

int32_t qc_graph_num_inputs(const qc_graph *g);
qc_vid qc_graph_input(const qc_graph *g, int32_t i);
int32_t qc_graph_num_outputs(const qc_graph *g);
qc_vid qc_graph_output(const qc_graph *g, int32_t i);
void qc_graph_set_output(qc_graph *g, int32_t i, qc_vid v);
/** Remove graph input i (the value becomes unused; compact removes it). */
qc_status qc_graph_remove_input(qc_graph *g, int32_t i) QC_MUST_USE;
/** Turn an input into a constant with data t. */
qc_status qc_graph_input_to_const(qc_graph *g, int32_t i, const qc_tensor *t) QC_MUST_USE;

/* ---- nodes ----------------------------------------------------------------------------------- */

int32_t qc_graph_num_nodes(const qc_graph *g);
const qc_node *qc_graph_node(const qc_graph *g, qc_nid n);

/** Append a node. Output values are created, named out_names[i] (NULL entries or a NULL
 *  array: generated names; "" : an omitted optional output). */
qc_status qc_graph_add_node(qc_graph *g, qc_op op, const char *name, int32_t n_in,
                            const qc_vid *in, int32_t n_out, const char *const *out_names,
                            qc_nid *out) QC_MUST_USE;
/** Single-output shorthand: returns the output value. */
qc_status qc_graph_add_op(qc_graph *g, qc_op op, const char *name, int32_t n_in,
                          const qc_vid *in, const char *out_name, qc_vid *out) QC_MUST_USE;
/** Set (or replace) an attribute; the payload is deep-copied (tensors retain their buffer,
 *  graphs are taken over: the node owns them afterwards). */
qc_status qc_node_set_attr(qc_graph *g, qc_nid n, const qc_attr *a) QC_MUST_USE;
qc_status qc_node_set_int(qc_graph *g, qc_nid n, const char *name, int64_t v) QC_MUST_USE;
qc_status qc_node_set_float(qc_graph *g, qc_nid n, const char *name, double v) QC_MUST_USE;
qc_status qc_node_set_string(qc_graph *g, qc_nid n, const char *name, const char *v) QC_MUST_USE;
qc_status qc_node_set_ints(qc_graph *g, qc_nid n, const char *name, int32_t count,
                           const int64_t *v) QC_MUST_USE;
qc_status qc_node_set_floats(qc_graph *g, qc_nid n, const char *name, int32_t count,
                             const double *v) QC_MUST_USE;
qc_status qc_node_set_tensor(qc_graph *g, qc_nid n, const char *name,
                             const qc_tensor *t) QC_MUST_USE;
void qc_node_remove_attr(qc_graph *g, qc_nid n, const char *name);
/** Replace input slot `slot` of node n. */
void qc_node_set_input(qc_graph *g, qc_nid n, int32_t slot, qc_vid v);
qc_status qc_node_set_name(qc_graph *g, qc_nid n, const char *name) QC_MUST_USE;

/** The attribute `name` of node n, or NULL. */
const qc_attr *qc_node_attr(const qc_graph *g, qc_nid n, const char *name);
/** Attribute values with a fallback: the explicit value, else the op schema's default,
 *  else `dflt`. */
int64_t qc_node_int(const qc_graph *g, qc_nid n, const char *name, int64_t dflt);
double qc_node_float(const qc_graph *g, qc_nid n, const char *name, double dflt);
const char *qc_node_string(const qc_graph *g, qc_nid n, const char *name, const char *dflt);
/** The effective opset version of node n's op (from its domain's opset import). */
int64_t qc_node_version(const qc_graph *g, qc_nid n);

/** Mark a node erased (its outputs must be unused). */
void qc_graph_erase_node(qc_graph *g, qc_nid n);
/** Make every use of `from` (node inputs, graph outputs, sub-graph captures) use `to`. */
qc_status qc_graph_replace_uses(qc_graph *g, qc_vid from, qc_vid to) QC_MUST_USE;
/** Restore topological order after edits; fails on a cycle, naming a node on it. */
qc_status qc_graph_toposort(qc_graph *g) QC_MUST_USE;
/** Drop erased nodes and values nothing defines or uses (inputs, outputs and captures
 *  stay); renumbers qc_vid/qc_nid. */
qc_status qc_graph_compact(qc_graph *g) QC_MUST_USE;

/* ---- analyses (recomputed on demand) --------------------------------------------------------- */

/** One use of a value: node input slot, a capture by a sub-graph of the node (slot
 *  QC_USE_CAPTURE), or graph output k (node QC_NONE, slot k). */
typedef struct qc_use {
  qc_nid node;
  int32_t slot;
} qc_use;
#define QC_USE_CAPTURE (-2)

typedef struct qc_uses {
  int32_t n_values;
  int32_t *start; /**< uses of v are use[start[v] .. start[v+1]) */
  qc_use *use;
} qc_uses;

qc_status qc_uses_compute(const qc_graph *g, qc_uses *out) QC_MUST_USE;
void qc_uses_free(const qc_graph *g, qc_uses *u);
static inline int32_t qc_uses_count(const qc_uses *u, qc_vid v) {
  return u->start[v + 1] - u->start[v];
}

/** Names of outer values a graph (and its nested sub-graphs) capture. Calls fn per name
 *  (names may repeat). */
void qc_graph_for_each_capture(const qc_graph *g, void (*fn)(void *user, const char *name),
                               void *user);

/** Infer the types of all node outputs from the op schemas (unknown results stay unknown;
 *  declared types are refined, never contradicted). Errors name the node. */
qc_status qc_graph_infer_types(qc_graph *g) QC_MUST_USE;
/** Check SSA form, topological order, arity and attributes against the op schemas, and
 *  types against shape inference. The error names the offending node and value. */
qc_status qc_graph_verify(const qc_graph *g) QC_MUST_USE;

/** A standalone graph made of the nodes sel[0..n) of g (kept in g's order): its inputs are
 *  the non-constant values those nodes read from outside the selection (in order of first
 *  use), its outputs the values they produce that the rest of g (or g's outputs) uses.
 *  Constants and opsets are carried over; captures of sub-graphs resolve as in g. */
qc_status qc_graph_extract(const qc_graph *g, const qc_nid *sel, int32_t n,
                           qc_graph **out) QC_MUST_USE;

/** "node 'name' (Op)" — for messages. Returns a static thread-local buffer. */
const char *qc_node_desc(const qc_graph *g, qc_nid n);

#ifdef __cplusplus
}
#endif
#endif
