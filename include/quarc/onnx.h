/*
 * quarc/onnx.h — ONNX models in and out.
 *
 * qc_onnx_import reads a ModelProto (IR versions 3–13) into a qc_graph:
 *
 *   - every node becomes a node of the op with its ONNX domain and name
 *     (qc_op_lookup); an unknown op or domain, or an opset version outside the
 *     range quarc supports for the op, is an error naming the file and the node;
 *   - model-local functions are inlined where they are called (ref_attr_name
 *     resolved against the caller, attribute defaults applied, inner names made
 *     unique);
 *   - If/Loop/Scan/SequenceMap bodies become graph attributes; names they use from
 *     enclosing graphs become QC_VALUE_OUTER captures, at any depth;
 *   - initializers become constants, from raw_data, any typed field, or external
 *     data (mapped, not copied; paths must stay inside the model's directory);
 *     sparse initializers become dense constants;
 *   - declared types of inputs, outputs and value_info are kept (dim_param ->
 *     qc_graph_sym, missing dims -> QC_DIM_UNKNOWN, sequence and optional types);
 *   - Constant nodes stay nodes;
 *   - what a faithful round trip needs is kept as graph metadata (the keys below).
 * Then qc_graph_infer_types runs; its errors are returned.
 *
 *     qc_graph *g;
 *     qc_status s = qc_onnx_import("model.onnx", NULL, &g);
 *     if (s) { fprintf(stderr, "%s\n", qc_status_message(s)); ... }
 *     s = qc_onnx_export(g, "out.onnx", NULL);
 *
 * qc_onnx_export writes the graph back at the lowest IR version its dtypes need and
 * at least the imported one (IR 9 for fp8, 10 for int4/uint4, 11 for fp4, 12 for
 * e8m0, 13 for int2/uint2), with the graph's opsets, constants as raw_data taken from
 * the buffers without copying, and external data on request or automatically when
 * the model would pass protobuf's 2 GB limit. The write is atomic.
 */
#ifndef QUARC_ONNX_H
#define QUARC_ONNX_H

#include "quarc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Graph metadata keys the importer sets and the exporter reads (qc_graph_meta).
 * ONNX metadata_props are kept as QC_ONNX_META_PROP "<key>", in order. */
#define QC_ONNX_META_IR_VERSION "onnx.ir_version"
#define QC_ONNX_META_PRODUCER_NAME "onnx.producer_name"
#define QC_ONNX_META_PRODUCER_VERSION "onnx.producer_version"
#define QC_ONNX_META_DOMAIN "onnx.domain"
#define QC_ONNX_META_MODEL_VERSION "onnx.model_version"
#define QC_ONNX_META_DOC "onnx.doc_string"
#define QC_ONNX_META_GRAPH_DOC "onnx.graph.doc_string"
#define QC_ONNX_META_PROP "onnx.metadata."
/** Set when some graph inputs had initializers (IR < 4 style): every original input
 *  name in order, separated by '\n'. Those inputs are constants in the graph; the
 *  exporter lists them as inputs again. */
#define QC_ONNX_META_INPUTS "onnx.inputs"

/** The highest IR version quarc reads and writes, and the default-domain opset range it
 *  accepts. */
#define QC_ONNX_IR_MIN 3
#define QC_ONNX_IR_MAX 13

typedef struct qc_onnx_import_options {
  const qc_allocator *alloc; /**< for the graph; NULL = default */
  bool skip_infer;           /**< do not run qc_graph_infer_types after import */
} qc_onnx_import_options;

/** Import an ONNX model file. `opts` may be NULL. On success *out is a new graph the caller
 *  destroys. Errors name the file and the node, tensor or value at fault:
 *  "m.onnx: node 'MatMul_12' (MatMul): ...". */
qc_status qc_onnx_import(const char *path, const qc_onnx_import_options *opts,
                         qc_graph **out) QC_MUST_USE;

/** Import from memory. `name` names the model in messages; `base_dir` is the directory
 *  external data locations are relative to (NULL: a model with external data is an
 *  error). The bytes are not referenced after the call returns. */
qc_status qc_onnx_import_memory(const void *data, size_t size, const char *name,
                                const char *base_dir, const qc_onnx_import_options *opts,
                                qc_graph **out) QC_MUST_USE;

typedef enum qc_onnx_external {
  QC_ONNX_EXTERNAL_AUTO = 0,   /**< external only if the model would exceed 2 GB */
  QC_ONNX_EXTERNAL_NEVER = 1,  /**< fail if the model would exceed 2 GB */
  QC_ONNX_EXTERNAL_ALWAYS = 2, /**< constants of external_min_bytes or more go outside */
} qc_onnx_external;

typedef struct qc_onnx_export_options {
  qc_onnx_external external;
  /** File name of the external data, beside the model; NULL = "<model file name>.data". */
  const char *external_file;
  /** Smallest constant that goes to the external file (0 = 1024 bytes). */
  size_t external_min_bytes;
  /** IR version to write; 0 = automatic (see above). Lower than the dtypes need is an
   *  error. */
  int64_t ir_version;
  /** Do not write value_info for the types of intermediate values. */
  bool no_value_info;
} qc_onnx_export_options;

/** Write g as an ONNX model (atomically: a failure leaves no partial file). `opts` may be
 *  NULL. External data, if any, goes to a file beside `path`. */
qc_status qc_onnx_export(const qc_graph *g, const char *path,
                         const qc_onnx_export_options *opts) QC_MUST_USE;

/** Serialize g to memory (external data is not allowed). *data is malloc'd; the caller
 *  frees it. */
qc_status qc_onnx_export_memory(const qc_graph *g, const qc_onnx_export_options *opts,
                                void **data, size_t *size) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
