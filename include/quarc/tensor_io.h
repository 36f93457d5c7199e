/*
 * quarc/tensor_io.h — values in files: ONNX .pb (TensorProto, SequenceProto,
 * OptionalProto) and NumPy .npy.
 *
 * The .pb files are the ones ONNX's backend tests use (test_data_set_N/input_<i>.pb):
 * one serialized message per file. A file does not say which message it holds, so the
 * reader is told what to expect: the kind of the graph input or output it belongs to.
 *
 *     qc_data_value v;
 *     QC_RETURN_IF_ERROR(qc_value_read_pb("input_0.pb", QC_TYPE_TENSOR, &v));
 *     ... v.tensor ...
 *     qc_data_value_release(&v);
 *
 * .npy files hold one tensor (format versions 1.0–3.0, C order, little- or big-endian
 * numeric types, bool, complex, and fixed-width 'U'/'S' strings). quarc's types with no
 * NumPy equivalent are written widened to an exact NumPy type: sub-byte integers as
 * int8/uint8, bf16/fp8/fp6/fp4/e8m0 as float32.
 */
#ifndef QUARC_TENSOR_IO_H
#define QUARC_TENSOR_IO_H

#include "quarc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A value read from or written to a file. */
typedef struct qc_data_value {
  uint8_t kind;      /**< qc_type_kind: TENSOR, SEQUENCE, OPTIONAL, OPTIONAL_SEQUENCE */
  bool present;      /**< optionals: whether there is a value (always true otherwise) */
  qc_dtype elem;     /**< element type (QC_DT_UNDEFINED if an empty value does not say) */
  qc_tensor tensor;  /**< TENSOR, present OPTIONAL */
  int32_t n_items;   /**< SEQUENCE, present OPTIONAL_SEQUENCE */
  qc_tensor *items;  /**< malloc'd array, each tensor holding a reference */
  char *name;        /**< the message's name field (malloc'd), or NULL */
} qc_data_value;

void qc_data_value_release(qc_data_value *v);

/** Read a .pb file holding the message for a value of `kind` (qc_type_kind): TensorProto
 *  for TENSOR, SequenceProto for SEQUENCE, OptionalProto for OPTIONAL and
 *  OPTIONAL_SEQUENCE. Errors name the file. */
qc_status qc_value_read_pb(const char *path, int kind, qc_data_value *out) QC_MUST_USE;
/** The same from memory; `name` names the data in messages. */
qc_status qc_value_parse_pb(const void *data, size_t size, const char *name, int kind,
                            qc_data_value *out) QC_MUST_USE;
/** A value from a file chosen by its name: a .npy file holds a tensor (`kind` TENSOR or
 *  OPTIONAL; the value is present), any other file is read as qc_value_read_pb does. */
qc_status qc_value_read_file(const char *path, int kind, qc_data_value *out) QC_MUST_USE;
/** Write a value as the message its kind calls for (atomically). */
qc_status qc_value_write_pb(const char *path, const qc_data_value *v) QC_MUST_USE;

/** TensorProto files: read (name may be NULL; *name is malloc'd, NULL if the message has
 *  none) and write (name may be NULL). */
qc_status qc_tensor_read_pb(const char *path, qc_tensor *out, char **name) QC_MUST_USE;
qc_status qc_tensor_write_pb(const char *path, const qc_tensor *t, const char *name) QC_MUST_USE;

/** .npy files. The reader maps the file and refers to its bytes where it can. */
qc_status qc_tensor_read_npy(const char *path, qc_tensor *out) QC_MUST_USE;
qc_status qc_tensor_write_npy(const char *path, const qc_tensor *t) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
