/*
 * quarc/gguf.h — GGUF files (ggml, llama.cpp): a strict zero-copy reader of versions 2 and
 * 3 and a writer of version 3 that ggml's reader accepts.
 *
 * File layout (little-endian; formats.md §4.1):
 *   1. u32 magic "GGUF"; u32 version (2 or 3); u64 tensor_count; u64 kv_count
 *   2. kv_count times: string key; u32 value type; value
 *        string = u64 length + bytes (no NUL); array = u32 element type, u64 count, elements
 *   3. tensor_count times: string name; u32 n_dims; u64 ne[n_dims] (innermost first);
 *      u32 ggml type; u64 offset (relative to the data section)
 *   4. zero padding to a multiple of ALIGNMENT (general.alignment, u32, default 32) — only
 *      when there are tensors
 *   5. the data section: tensor i at offset_i = sum over j < i of PAD(nbytes_j, ALIGNMENT),
 *      zero padding after each tensor
 *
 * The reader makes every check of ggml's gguf.cpp reader: magic and version (v1 and > 3
 * refused, a byte-swapped version named as such), counts that fit the file, duplicate keys
 * and tensor names, general.alignment a u32 power of 2 (at most 1 MiB, as current ggml),
 * strings and arrays at most 1 GiB long and inside the file, n_dims <= 4, ne >= 0, no
 * overflow of the element or byte count (nor of the non-zero dimensions' product, which
 * ggml lets overflow when another dimension is 0), a known ggml type, ne[0] a multiple of the block
 * size, offsets exactly sequential with padding, and the data inside the file. It also
 * refuses empty keys (ggml aborts on them), keys and names holding NUL or invalid UTF-8
 * (gguf-py refuses those too), booleans other than 0 and 1, and arrays nested deeper than 16 (ggml refuses nested arrays; gguf-py
 * reads them). Every message names the file and the key or tensor at fault.
 *
 * Tensors come out as qc_tensor views of the mapped file with the dimensions reversed to
 * row-major (ne[0] innermost = the last dimension) and the ggml type mapped through the
 * dtype table (qc_dtype_from_gguf); block types (Q4_0 .. Q8_K, MXFP4) keep their packed
 * bytes, dequantized with qc_block_dequantize. Types quarc has no dtype for (IQ*, TQ*,
 * NVFP4, Q1_0) are described but give QC_CODE_UNIMPLEMENTED when fetched as a qc_tensor.
 *
 *     qc_gguf *g;
 *     QC_RETURN_IF_ERROR(qc_gguf_open("model.gguf", &g));
 *     uint32_t n_layer;
 *     qc_status s = qc_gguf_get_u32(g, "llama.block_count", &n_layer);
 *     qc_tensor w;
 *     if (!s) s = qc_gguf_get_tensor(g, "blk.0.attn_q.weight", &w);  // [n_embd_q, n_embd]
 *     qc_gguf_close(g);
 *
 * Strings (keys, names, string values) are copied, NUL-terminated, into the reader, so
 * metadata outlives nothing it does not own; tensor data is never copied.
 */
#ifndef QUARC_GGUF_H
#define QUARC_GGUF_H

#include "quarc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QC_GGUF_DEFAULT_ALIGNMENT 32
/** ggml's GGML_QNT_VERSION, written as general.quantization_version. */
#define QC_GGUF_QUANTIZATION_VERSION 2

/** GGUF metadata value types (the file's codes). */
typedef enum qc_gguf_type {
  QC_GGUF_UINT8 = 0,
  QC_GGUF_INT8 = 1,
  QC_GGUF_UINT16 = 2,
  QC_GGUF_INT16 = 3,
  QC_GGUF_UINT32 = 4,
  QC_GGUF_INT32 = 5,
  QC_GGUF_FLOAT32 = 6,
  QC_GGUF_BOOL = 7,
  QC_GGUF_STRING = 8,
  QC_GGUF_ARRAY = 9,
  QC_GGUF_UINT64 = 10,
  QC_GGUF_INT64 = 11,
  QC_GGUF_FLOAT64 = 12,
  QC_GGUF_TYPE_COUNT = 13
} qc_gguf_type;

/** A metadata value. The reader owns the values it returns; the writer deep-copies the
 *  values it is given. */
typedef struct qc_gguf_value {
  qc_gguf_type type;
  qc_gguf_type elem_type; /**< ARRAY: the type of its elements */
  uint64_t count;         /**< ARRAY: number of elements; STRING: length in bytes */
  /** Scalar: its little-endian bytes. STRING: the bytes, NUL-terminated (the string may
   *  itself hold NULs; count is the length). ARRAY of a fixed-size type: count elements,
   *  little-endian, back to back, at any alignment. Other arrays: NULL. */
  const void *data;
  /** ARRAY of STRING or ARRAY: one value per element; otherwise NULL. */
  const struct qc_gguf_value *items;
} qc_gguf_value;

/** "u8", "i8", ..., "str", "arr" — ggml's names. */
const char *qc_gguf_type_name(qc_gguf_type t);
/** ggml's name of a ggml tensor type ("Q4_K"), or NULL for an unknown or removed one. */
const char *qc_ggml_type_name(int ggml_type);

/** Element i of a numeric or bool value (a scalar is element 0 of itself) as a double /
 *  an int64 (u64 above INT64_MAX saturates; floats truncate). 0 for other types. */
double qc_gguf_value_f64(const qc_gguf_value *v, uint64_t i);
int64_t qc_gguf_value_i64(const qc_gguf_value *v, uint64_t i);

/* ---- reading ------------------------------------------------------------------------------- */

typedef struct qc_gguf qc_gguf;

/** A tensor as the file describes it. */
typedef struct qc_gguf_tensor_info {
  const char *name;
  int ggml_type;
  qc_dtype dtype;      /**< QC_DT_UNDEFINED where quarc has no dtype for ggml_type */
  int32_t n_dims;
  int64_t ne[4];       /**< ggml order: ne[0] is the innermost (contiguous) dimension; 1 past n_dims */
  uint64_t offset;     /**< relative to the data section */
  uint64_t nbytes;
} qc_gguf_tensor_info;

/** Map and validate a file; `*out` is owned by the caller (qc_gguf_close). */
qc_status qc_gguf_open(const char *path, qc_gguf **out) QC_MUST_USE;
/** Validate a file image in memory; `name` is used in messages. Retains `buf`. */
qc_status qc_gguf_open_buffer(qc_buffer *buf, const char *name, qc_gguf **out) QC_MUST_USE;
/** Free the reader (tensors obtained from it stay valid). NULL is ignored. */
void qc_gguf_close(qc_gguf *g);

const char *qc_gguf_path(const qc_gguf *g);
uint32_t qc_gguf_version(const qc_gguf *g);
uint32_t qc_gguf_alignment(const qc_gguf *g);
/** File offset of the data section. */
uint64_t qc_gguf_data_offset(const qc_gguf *g);

/** Metadata in file order. */
int64_t qc_gguf_kv_count(const qc_gguf *g);
const char *qc_gguf_kv_key(const qc_gguf *g, int64_t i);
const qc_gguf_value *qc_gguf_kv_value(const qc_gguf *g, int64_t i);
/** Index of `key`, or -1. */
int64_t qc_gguf_find_key(const qc_gguf *g, const char *key);
/** The value of `key`, or NULL. */
const qc_gguf_value *qc_gguf_get(const qc_gguf *g, const char *key);

/* Typed getters. A missing key gives QC_CODE_NOT_FOUND; a value of another type, or one
 * out of the target's range, QC_CODE_INVALID_ARGUMENT; both name the file and the key.
 * The integer getters accept any integer type whose value fits (converters write counts
 * as u32 or u64); the float getters accept f32 and f64. */
qc_status qc_gguf_get_u32(const qc_gguf *g, const char *key, uint32_t *out) QC_MUST_USE;
qc_status qc_gguf_get_u64(const qc_gguf *g, const char *key, uint64_t *out) QC_MUST_USE;
qc_status qc_gguf_get_i32(const qc_gguf *g, const char *key, int32_t *out) QC_MUST_USE;
qc_status qc_gguf_get_i64(const qc_gguf *g, const char *key, int64_t *out) QC_MUST_USE;
qc_status qc_gguf_get_f32(const qc_gguf *g, const char *key, float *out) QC_MUST_USE;
qc_status qc_gguf_get_f64(const qc_gguf *g, const char *key, double *out) QC_MUST_USE;
qc_status qc_gguf_get_bool(const qc_gguf *g, const char *key, bool *out) QC_MUST_USE;
/** A STRING value: NUL-terminated, owned by the reader; `len` (may be NULL) its length. */
qc_status qc_gguf_get_string(const qc_gguf *g, const char *key, const char **out,
                             size_t *len) QC_MUST_USE;
/** An array of strings: `*items` points at `*n` STRING values owned by the reader. */
qc_status qc_gguf_get_strings(const qc_gguf *g, const char *key, const qc_gguf_value **items,
                              uint64_t *n) QC_MUST_USE;
/** An array of f32 (or f64) values: `*n` gets its length; min(cap, n) values go to `out`
 *  (which may be NULL when cap is 0, to ask for the length). */
qc_status qc_gguf_get_f32_array(const qc_gguf *g, const char *key, float *out, uint64_t cap,
                                uint64_t *n) QC_MUST_USE;
/** An array of any integer type (u64 above INT64_MAX is an error), as qc_gguf_get_f32_array. */
qc_status qc_gguf_get_i64_array(const qc_gguf *g, const char *key, int64_t *out, uint64_t cap,
                                uint64_t *n) QC_MUST_USE;

/** Tensors in file order. */
int64_t qc_gguf_tensor_count(const qc_gguf *g);
const qc_gguf_tensor_info *qc_gguf_tensor_info_at(const qc_gguf *g, int64_t i);
/** Index of the tensor called `name`, or -1. */
int64_t qc_gguf_find_tensor(const qc_gguf *g, const char *name);
/** Tensor i as a row-major view of the file (dims reversed); owned by the caller. */
qc_status qc_gguf_tensor(const qc_gguf *g, int64_t i, qc_tensor *out) QC_MUST_USE;
/** The tensor called `name`; QC_CODE_NOT_FOUND naming the file and tensor if absent. */
qc_status qc_gguf_get_tensor(const qc_gguf *g, const char *name, qc_tensor *out) QC_MUST_USE;

/* ---- writing ---------------------------------------------------------------------------------- */

typedef struct qc_gguf_writer qc_gguf_writer;

qc_status qc_gguf_writer_create(qc_gguf_writer **out) QC_MUST_USE;
void qc_gguf_writer_free(qc_gguf_writer *w);

/** Set metadata `key` to a deep copy of `v` (replacing an earlier value in place, so keys
 *  keep their first position). Keys must be non-empty and under 65536 bytes; BOOL values 0
 *  or 1; general.alignment a u32 power of 2 up to 1 MiB. */
qc_status qc_gguf_writer_set(qc_gguf_writer *w, const char *key, const qc_gguf_value *v) QC_MUST_USE;
qc_status qc_gguf_writer_set_u32(qc_gguf_writer *w, const char *key, uint32_t v) QC_MUST_USE;
qc_status qc_gguf_writer_set_i32(qc_gguf_writer *w, const char *key, int32_t v) QC_MUST_USE;
qc_status qc_gguf_writer_set_u64(qc_gguf_writer *w, const char *key, uint64_t v) QC_MUST_USE;
qc_status qc_gguf_writer_set_f32(qc_gguf_writer *w, const char *key, float v) QC_MUST_USE;
qc_status qc_gguf_writer_set_bool(qc_gguf_writer *w, const char *key, bool v) QC_MUST_USE;
qc_status qc_gguf_writer_set_string(qc_gguf_writer *w, const char *key, const char *v) QC_MUST_USE;
/** An array of a fixed-size type (`data`: n host values of that type). */
qc_status qc_gguf_writer_set_array(qc_gguf_writer *w, const char *key, qc_gguf_type elem,
                                   const void *data, uint64_t n) QC_MUST_USE;
qc_status qc_gguf_writer_set_strings(qc_gguf_writer *w, const char *key, const char *const *v,
                                     uint64_t n) QC_MUST_USE;

/** Add a tensor (written in the order added). Its dtype must have a ggml type, its rank be
 *  at most 4 and its last dimension a multiple of the block size; names are unique and
 *  shorter than 64 bytes. The writer retains the tensor's buffer until it is freed. */
qc_status qc_gguf_writer_add_tensor(qc_gguf_writer *w, const char *name,
                                    const qc_tensor *t) QC_MUST_USE;
/** Add a tensor of any ggml type by its bytes (for types quarc has no dtype for): `ne` in
 *  ggml order, `data` holds exactly its bytes from `offset` (retained). */
qc_status qc_gguf_writer_add_raw(qc_gguf_writer *w, const char *name, int ggml_type,
                                 int32_t n_dims, const int64_t *ne, qc_buffer *data,
                                 size_t offset) QC_MUST_USE;
/** Write the file (version 3) atomically. If a tensor is block-quantized and the metadata
 *  lacks general.quantization_version, it is added (u32 2), as llama.cpp requires. */
qc_status qc_gguf_writer_write(qc_gguf_writer *w, const char *path) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
