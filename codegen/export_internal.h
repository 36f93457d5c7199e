/*
 * Shared by the model exporters (hf_export.c, quark_native.c, gguf_model_export.c): the
 * inventory of a model graph (its parameters and its linears with their quantizers, as the
 * graph contract in quarc/export.h describes them), tensor reshaping helpers, the JSON of
 * the Hugging Face config and the export report. Private to codegen/.
 */
#ifndef QUARC_CODEGEN_EXPORT_INTERNAL_H
#define QUARC_CODEGEN_EXPORT_INTERNAL_H

#include "quarc/export.h"
#include "quarc/io.h"

#include "ir/internal.h"
#include "ir/json.h"

/* How a linear's weight is held in the graph. */
typedef enum qx_wkind {
  QX_W_FLOAT = 0,  /* a float constant */
  QX_W_PACKED = 1, /* quarc.DequantizePacked(q, scale, zero_point) of a packed constant */
  QX_W_FAKE = 2,   /* quarc.FakeQuant(w, scale, zero_point) of a float constant */
} qx_wkind;

/* An activation quantizer (quarc.FakeQuant on a linear's input or output). */
typedef struct qx_act {
  qc_nid node;      /* QC_NONE: not quantized */
  qc_vid scale, zp; /* constants, QC_NONE when absent (dynamic) */
  const char *spec; /* the node's spec attribute (QTensorConfig JSON), "" if none */
} qx_act;

typedef struct qx_linear {
  const char *module;  /* the MatMul node's name: the HF module */
  qc_nid matmul;
  qx_wkind wkind;
  qc_vid w;            /* the constant at the root of the weight chain */
  qc_nid w_node;       /* the DequantizePacked / FakeQuant node, QC_NONE for FLOAT */
  qc_vid w_scale, w_zp;/* constants (QC_NONE if absent) */
  qc_nid w_scale_node; /* two-stage scale: DequantizePacked(codes, scale_2), else QC_NONE */
  qc_vid w_scale_codes, w_scale2;
  int64_t axis, group; /* the dequantize node's axis and group_size */
  qc_dtype w_dtype;    /* the dtype the weight is dequantized to (the model dtype) */
  const char *w_spec;  /* FakeQuant weights: the spec attribute */
  qx_act in, out;
  qc_vid bias;         /* the bias constant, QC_NONE if none */
  qc_vid in_rotation;  /* R of MatMul(x, R) that computes the input (an online rotation, a
                          constant "<layer>.input_rotation" written by the rotation pass),
                          QC_NONE if none */
} qx_linear;

typedef struct qx_model {
  const qc_graph *g;
  qx_linear *lin;
  int32_t n_lin;
  qc_vid *params; /* parameter constants not in a quantized linear, in graph order */
  int32_t n_params;
} qx_model;

/** Find the linears and parameters of a model graph. Parameters are constants whose names
 *  end in ".weight" or ".bias" (the Hugging Face names the model builders keep). */
qc_status qx_model_scan(const qc_graph *g, qx_model *m) QC_MUST_USE;
void qx_model_free(qx_model *m);
/** The linear called `module`, or NULL. */
const qx_linear *qx_model_find(const qx_model *m, const char *module);
/** Whether a linear holds any quantizer. */
static inline bool qx_linear_quantized(const qx_linear *l) {
  return l->wkind != QX_W_FLOAT || l->in.node != QC_NONE || l->out.node != QC_NONE;
}
/** A linear's online rotation as Quark serializes it (`<layer>.input_rotation`): the
 *  repeated diagonal block of R times sqrt(k), int8 +-1 [k, k]. An R that is not
 *  block-diagonal with equal blocks of +-1/sqrt(k) is an error naming the layer. */
qc_status qx_rotation_block(const qc_graph *g, const qx_linear *l, qc_tensor *out) QC_MUST_USE;
/** Refuse a linear with an online rotation, for a format that has no place for one. */
qc_status qx_refuse_rotation(const qx_linear *l, const char *format) QC_MUST_USE;

/** The constant behind a value (its tensor), or NULL if v is not a constant. */
const qc_tensor *qx_const(const qc_graph *g, qc_vid v);

/** The weight dequantized to float (l->w_dtype), computed by the interpreter from the
 *  graph's own nodes (so it is what the graph computes). */
qc_status qx_linear_dequantized_weight(const qc_graph *g, const qx_linear *l,
                                       qc_tensor *out) QC_MUST_USE;

/* ---- tensors --------------------------------------------------------------------------------- */

/** A new tensor of `dt`/`dims` holding a copy of src's bytes (same byte size required). */
qc_status qx_reinterpret(const qc_tensor *src, qc_dtype dt, int32_t rank, const int64_t *dims,
                         qc_tensor *out) QC_MUST_USE;
/** A view of src's buffer with another dtype/shape of the same byte size (no copy). */
qc_status qx_view(const qc_tensor *src, qc_dtype dt, int32_t rank, const int64_t *dims,
                  qc_tensor *out) QC_MUST_USE;
/** A tensor of zeros. */
qc_status qx_zeros(qc_dtype dt, int32_t rank, const int64_t *dims, qc_tensor *out) QC_MUST_USE;

/* ---- a list of named tensors being written --------------------------------------------------- */

typedef struct qx_tensors {
  qc_arena names;
  const char **name;
  qc_tensor *t;
  int32_t n, cap;
} qx_tensors;

void qx_tensors_init(qx_tensors *l);
void qx_tensors_free(qx_tensors *l);
/** Append (the list takes a new reference to t's buffer; the caller keeps its own). */
qc_status qx_tensors_add(qx_tensors *l, const char *name, const qc_tensor *t) QC_MUST_USE;
/** Append and take over the caller's reference (t is cleared). */
qc_status qx_tensors_take(qx_tensors *l, const char *name, qc_tensor *t) QC_MUST_USE;
int32_t qx_tensors_find(const qx_tensors *l, const char *name);

/* ---- configs, files, report --------------------------------------------------------------------- */

/** The source config.json of the model (metadata "quarc.hf_config", else
 *  <source>/config.json with source = opt->source_dir or metadata "quarc.source"), parsed into
 *  `ar`; *out is NULL (no error) when the graph has neither. */
qc_status qx_source_config(const qc_graph *g, const qc_export_options *opt, qc_arena *ar,
                           qc_json **out) QC_MUST_USE;
/** The source directory (opt->source_dir or metadata "quarc.source"), or NULL. */
const char *qx_source_dir(const qc_graph *g, const qc_export_options *opt);
/** The QConfig the graph carries (metadata "quant.config", as quant-annotate or the importer set it), parsed; NULL if none. */
qc_status qx_quant_config(const qc_graph *g, qc_arena *ar, qc_json **out) QC_MUST_USE;
/** Write `text` as file `name` of an atomic directory. */
qc_status qx_write_text(qc_atomic_dir *d, const char *name, const char *text, size_t n) QC_MUST_USE;
/** Copy file `name` from directory `src` into the atomic directory if it exists there. */
qc_status qx_copy_file(qc_atomic_dir *d, const char *src, const char *name) QC_MUST_USE;

void qx_note(qc_export_report *r, const char *fmt, ...) QC_PRINTF(2, 3);

/* ---- Quark's layouts (hf_export.c) ------------------------------------------------------------ */

/** The tensors and the config.json of an export in Quark's layouts: mode QC_EXPORT_HF, AWQ,
 *  FP8 (checkpoint names) or QC_EXPORT_QUARK (the native state dict's in-memory names). The
 *  config (source config.json with quantization_config set) lives in `ar`. */
qc_status qx_prepare_export(const qc_graph *g, qc_export_format mode, const qc_export_options *opt,
                            qc_arena *ar, qx_tensors *out, qc_json **config) QC_MUST_USE;
/** Copy the tokenizer and generation files of the source directory (if any). */
qc_status qx_copy_aux_files(const qc_graph *g, const qc_export_options *opt,
                            qc_atomic_dir *d) QC_MUST_USE;

#endif
