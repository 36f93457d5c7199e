/*
 * quarc/safetensors.h — Hugging Face safetensors checkpoints: a strict zero-copy reader,
 * sharded checkpoints (model.safetensors.index.json), and a writer whose bytes equal the
 * reference implementation's (huggingface/safetensors, Rust).
 *
 * File layout (little-endian):
 *   1. u64 N: the length of the header.
 *   2. N bytes: UTF-8 JSON, one object:
 *        {"__metadata__": {"k": "v", ...},                     (optional, string -> string)
 *         "NAME": {"dtype": "F16", "shape": [d0, d1, ...], "data_offsets": [BEGIN, END]}, ...}
 *      padded with spaces; BEGIN/END are byte offsets into the data section, END exclusive.
 *   3. The data section: every tensor's bytes, C order, back to back.
 *
 * The reader checks what the reference's read_metadata/validate check, with the same
 * outcome (formats.md §3): header length bounds, UTF-8, JSON syntax, dtype names, shapes
 * and offsets as exact u64 integers, tensors tiling the data section from 0 without gaps
 * or overlaps once sorted by offset, shape x bits overflow, sub-byte tensors filling whole
 * bytes, END-BEGIN equal to the tensor's size, no trailing or missing bytes. It is stricter
 * in three ways the format asks for but serde does not enforce: duplicate keys, tensor
 * objects with properties other than dtype/shape/data_offsets, and names holding U+0000
 * (which C strings cannot carry) are errors. Rank above QC_MAX_RANK, and dimensions above
 * INT64_MAX, are errors too (QC_CODE_UNIMPLEMENTED). Every message names the file and the
 * tensor or key at fault.
 *
 * Tensors come out as qc_tensor views of the mapped file: no copy, unless a tensor sits at
 * an address not aligned to its element size (possible only in files other writers made),
 * which is copied so kernels can load elements directly. dtype "F4" has the logical
 * element count in its shape, as the reference defines; sub-byte elements are LSB first.
 *
 *     qc_safetensors *st;
 *     QC_RETURN_IF_ERROR(qc_safetensors_open("model.safetensors", &st));
 *     qc_tensor w;
 *     qc_status s = qc_safetensors_get(st, "lm_head.weight", &w);   // retains the mapping
 *     qc_safetensors_close(st);                                      // w stays valid
 *     ...
 *     qc_tensor_release(&w);
 *
 * The writer sorts tensors as the reference's prepare() does (dtype descending in the Rust
 * enum order, then name), writes compact JSON with "__metadata__" first (its keys sorted:
 * the reference's HashMap order is unspecified), pads the header with spaces to a multiple
 * of 8 and writes the data back to back. Files are written atomically (quarc/io.h).
 */
#ifndef QUARC_SAFETENSORS_H
#define QUARC_SAFETENSORS_H

#include "quarc/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qc_atomic_dir qc_atomic_dir; /* quarc/io.h */

/** Largest header the reader accepts (the reference's MAX_HEADER_SIZE). */
#define QC_SAFETENSORS_MAX_HEADER 100000000u
/** Default shard size limit of qc_safetensors_write_sharded: 5 GB, as huggingface_hub. */
#define QC_SAFETENSORS_DEFAULT_SHARD_SIZE 5000000000ull

/* ---- one file -------------------------------------------------------------------------- */

typedef struct qc_safetensors qc_safetensors;

/** One tensor of a file, as its header describes it. */
typedef struct qc_safetensors_entry {
  const char *name;        /**< owned by the qc_safetensors */
  qc_dtype dtype;
  int32_t rank;
  int64_t dims[QC_MAX_RANK];
  uint64_t begin, end;     /**< data_offsets, relative to the data section */
} qc_safetensors_entry;

/** Map and validate a file. On success `*out` is owned by the caller (qc_safetensors_close). */
qc_status qc_safetensors_open(const char *path, qc_safetensors **out) QC_MUST_USE;
/** Validate a file image already in memory; `name` is used in messages. Retains `buf`. */
qc_status qc_safetensors_open_buffer(qc_buffer *buf, const char *name,
                                     qc_safetensors **out) QC_MUST_USE;
/** Free the reader; tensors obtained from it stay valid. NULL is ignored. */
void qc_safetensors_close(qc_safetensors *st);

/** The path (or name) it was opened with. */
const char *qc_safetensors_path(const qc_safetensors *st);
/** Number of tensors; they are numbered in file order (by data offset). */
int64_t qc_safetensors_count(const qc_safetensors *st);
/** Tensor i (0 <= i < count); NULL out of range. Valid until close. */
const qc_safetensors_entry *qc_safetensors_entry_at(const qc_safetensors *st, int64_t i);
/** Index of the tensor called `name`, or -1. */
int64_t qc_safetensors_find(const qc_safetensors *st, const char *name);
/** Tensor i as a view of the file (see above); `*out` is owned by the caller
 *  (qc_tensor_release). */
qc_status qc_safetensors_tensor(const qc_safetensors *st, int64_t i, qc_tensor *out) QC_MUST_USE;
/** The tensor called `name`; QC_CODE_NOT_FOUND naming the file and tensor if absent. */
qc_status qc_safetensors_get(const qc_safetensors *st, const char *name,
                             qc_tensor *out) QC_MUST_USE;

/** The "__metadata__" entries, in file order. */
int64_t qc_safetensors_metadata_count(const qc_safetensors *st);
/** Entry i of "__metadata__"; key and value stay owned by the reader. False out of range. */
bool qc_safetensors_metadata_at(const qc_safetensors *st, int64_t i, const char **key,
                                const char **value);
/** The value of a "__metadata__" key, or NULL. */
const char *qc_safetensors_metadata_get(const qc_safetensors *st, const char *key);

/* ---- sharded checkpoints ------------------------------------------------------------------ */

/** A checkpoint of one or more files: a directory holding model.safetensors.index.json or
 *  model.safetensors, an index file, or a single .safetensors file. */
typedef struct qc_safetensors_set qc_safetensors_set;

/** Open every shard and check the index against them: each shard named in weight_map
 *  exists (and sits beside the index: names with '/' or ".." are refused), each mapped
 *  tensor is in the shard the index names, and no shard holds a tensor the index omits
 *  or maps elsewhere. The index must be strict JSON without duplicate keys. */
qc_status qc_safetensors_set_open(const char *path, qc_safetensors_set **out) QC_MUST_USE;
void qc_safetensors_set_close(qc_safetensors_set *set);
/** Number of tensors over all shards; numbered shard by shard, in file order. */
int64_t qc_safetensors_set_count(const qc_safetensors_set *set);
/** Tensor i's description, and (if `shard` is not NULL) the index of its shard. */
const qc_safetensors_entry *qc_safetensors_set_entry_at(const qc_safetensors_set *set, int64_t i,
                                                        int32_t *shard);
/** Index of the tensor called `name`, or -1. */
int64_t qc_safetensors_set_find(const qc_safetensors_set *set, const char *name);
/** Tensor i as a view of its shard. */
qc_status qc_safetensors_set_tensor(const qc_safetensors_set *set, int64_t i,
                                    qc_tensor *out) QC_MUST_USE;
/** The tensor called `name`, from whichever shard holds it; QC_CODE_NOT_FOUND if none. */
qc_status qc_safetensors_set_get(const qc_safetensors_set *set, const char *name,
                                 qc_tensor *out) QC_MUST_USE;
int32_t qc_safetensors_set_shard_count(const qc_safetensors_set *set);
/** Shard i (a reader owned by the set). */
const qc_safetensors *qc_safetensors_set_shard(const qc_safetensors_set *set, int32_t i);
/** metadata.total_size from the index, if it has an integer one (false otherwise, and for a
 *  single file). Not checked against the tensors: older transformers counted bool tensors
 *  as 1/8 byte per element. */
bool qc_safetensors_set_total_size(const qc_safetensors_set *set, uint64_t *total);

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct qc_safetensors_write_options {
  /** "__metadata__" entries (NULL/0 for none). Keys must be unique. */
  const char *const *metadata_keys;
  const char *const *metadata_values;
  size_t n_metadata;
  /** qc_safetensors_write_sharded: the shard size limit in bytes of tensor data; 0 selects
   *  QC_SAFETENSORS_DEFAULT_SHARD_SIZE. */
  uint64_t max_shard_size;
} qc_safetensors_write_options;

/** Serialize tensors to a new memory buffer holding the file image (owned by the caller).
 *  Names must be unique, valid UTF-8 and not "__metadata__"; every dtype must have a
 *  safetensors name; sub-byte tensors must fill whole bytes. `opt` may be NULL. */
qc_status qc_safetensors_serialize(const char *const *names, const qc_tensor *tensors, size_t n,
                                   const qc_safetensors_write_options *opt,
                                   qc_buffer **out) QC_MUST_USE;
/** Write one file, atomically. */
qc_status qc_safetensors_write(const char *path, const char *const *names,
                               const qc_tensor *tensors, size_t n,
                               const qc_safetensors_write_options *opt) QC_MUST_USE;
/** Write a checkpoint into directory `dir` as huggingface_hub splits it: tensors are taken
 *  in the given order; one larger than the limit gets a shard of its own, otherwise a new
 *  shard starts when the next tensor would push the current one over the limit. One shard
 *  is written as model.safetensors with no index; N > 1 shards as
 *  model-0000i-of-0000N.safetensors plus model.safetensors.index.json
 *  ({"metadata": {"total_size": sum of tensor bytes}, "weight_map": {name: file}}). Every
 *  shard gets the same metadata. `*n_shards` (if not NULL) receives the shard count. */
qc_status qc_safetensors_write_sharded(const char *dir, const char *const *names,
                                       const qc_tensor *tensors, size_t n,
                                       const qc_safetensors_write_options *opt,
                                       int32_t *n_shards) QC_MUST_USE;

/** qc_safetensors_write_sharded into an atomic directory (quarc/io.h): the same files,
 *  staged in `stage` and put in place by its commit. */
qc_status qc_safetensors_write_sharded_in(qc_atomic_dir *stage, const char *const *names,
                                          const qc_tensor *tensors, size_t n,
                                          const qc_safetensors_write_options *opt,
                                          int32_t *n_shards) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
