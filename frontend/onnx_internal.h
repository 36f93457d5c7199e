/* Private to libquarc: what the ONNX reader, the ONNX writer and the .pb/.npy value
 * files share — decoding protobuf safely, TensorProto <-> qc_tensor, TypeProto -> qc_type.
 * The C structs come from frontend/onnx.proto through protoc-c (generated/onnx.pb-c.h). */
#ifndef QUARC_FRONTEND_ONNX_INTERNAL_H
#define QUARC_FRONTEND_ONNX_INTERNAL_H

#include "ir/internal.h"
#include "onnx.pb-c.h"

/* Deepest nesting of messages accepted in a file. protobuf-c decodes recursively, so a
 * hostile file could otherwise exhaust the stack; a graph nested in a graph costs three
 * levels (GraphProto > NodeProto > AttributeProto). */
#define QC_ONNX_MAX_DEPTH 200

/** Decode one message of type `desc` from `data`. Checks the wire format (tags, lengths,
 *  nesting depth) before protobuf-c sees it, so malformed input is an error naming `file`
 *  and the byte offset, never a crash. Free with protobuf_c_message_free_unpacked(m, NULL). */
qc_status qc_onnx_unpack(const ProtobufCMessageDescriptor *desc, const void *data, size_t size,
                         const char *file, ProtobufCMessage **out);

/** External data files opened while importing one model: each file is mapped once and
 *  tensors are slices of the mapping. */
typedef struct qc_onnx_extdata {
  const char *file;     /**< the model, for messages */
  const char *base_dir; /**< directory locations are relative to; NULL: external data refused */
  char *real_base;      /**< realpath(base_dir), computed on first use */
  int32_t n, cap;
  struct {
    char *path;         /**< realpath of the data file */
    qc_buffer *buf;
  } *files;
} qc_onnx_extdata;

void qc_onnx_extdata_free(qc_onnx_extdata *x);

/** TensorProto -> qc_tensor. Accepts raw_data, every typed field, and external data (a
 *  slice of the mapped file; `x` may be NULL to refuse external data). With `take`, the
 *  raw_data bytes are taken over from the message instead of copied; the message must then
 *  not be decoded again (a function body's tensors are decoded once per call: no `take`).
 *  `what` names the tensor ("initializer 'w'") and prefixes error messages. */
qc_status qc_onnx_tensor_decode(Onnx__TensorProto *tp, qc_onnx_extdata *x, const char *what,
                                bool take, qc_tensor *out);
/** SparseTensorProto -> dense qc_tensor (zeros where no value is given). */
qc_status qc_onnx_sparse_decode(Onnx__SparseTensorProto *sp, qc_onnx_extdata *x,
                                const char *what, qc_tensor *out);

/* ---- writing (codegen/onnx_writer.c) ------------------------------------------------------ */

/** Fill `tp` from `t` without copying the data: raw_data points into t's buffer (which
 *  must stay alive until the message is packed). Strings go to string_data, with arrays
 *  allocated from `ar`. `name` may be NULL. Fails for dtypes ONNX lacks. */
qc_status qc_onnx_tensor_encode(qc_arena *ar, const qc_tensor *t, const char *name,
                                Onnx__TensorProto *tp);

/** Serialize a message to a file atomically. */
qc_status qc_onnx_pack_to_file(const ProtobufCMessage *m, const char *path);

#endif
