/*
 * quarc/tensor.h — buffers and tensors.
 *
 * A qc_buffer is a reference-counted byte range that either owns heap memory or
 * maps a region of a file (weights are never copied on import). A slice of a
 * buffer keeps its parent alive. A qc_tensor is a small value type: dtype, shape
 * and a reference to bytes in a buffer.
 *
 *     qc_buffer *file;
 *     QC_RETURN_IF_ERROR(qc_buffer_map_file("w.bin", &file));      // whole file, read-only
 *     qc_buffer *w = qc_buffer_slice(file, 4096, 1024);            // retains `file`
 *     qc_buffer_release(file);                                    // `w` keeps it mapped
 *     qc_tensor t;
 *     int64_t dims[2] = {16, 16};
 *     qc_tensor_init(&t, QC_F32, 2, dims, w, 0);                   // retains `w`
 *     qc_buffer_release(w);
 *     ...
 *     qc_tensor_release(&t);
 */
#ifndef QUARC_TENSOR_H
#define QUARC_TENSOR_H

#include "quarc/dtype.h"
#include "quarc/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Maximum tensor rank quarc represents. */
#define QC_MAX_RANK 8

typedef struct qc_buffer qc_buffer;

/** New owned, zero-filled buffer of `size` bytes (64-byte aligned). */
qc_status qc_buffer_create(const qc_allocator *a, size_t size, qc_buffer **out) QC_MUST_USE;
/** Map a whole file read-only. The buffer remembers the path (qc_buffer_origin). */
qc_status qc_buffer_map_file(const char *path, qc_buffer **out) QC_MUST_USE;
/** A view of [offset, offset+size) of `parent`; retains the parent. NULL if out of range
 *  or out of memory. */
qc_buffer *qc_buffer_slice(qc_buffer *parent, size_t offset, size_t size);
/** Wrap caller memory; `release(ctx, data)` runs when the last reference goes. */
qc_buffer *qc_buffer_wrap(void *data, size_t size, void (*release)(void *ctx, void *data),
                          void *ctx);
void qc_buffer_retain(qc_buffer *b);
void qc_buffer_release(qc_buffer *b);
void *qc_buffer_data(const qc_buffer *b);
size_t qc_buffer_size(const qc_buffer *b);
/** If the bytes come from a mapped file: its path and the offset of the first byte in
 *  it; returns false for memory buffers. */
bool qc_buffer_origin(const qc_buffer *b, const char **path, uint64_t *offset);
/** Whether the buffer may be written (owned memory; mapped files are read-only). */
bool qc_buffer_writable(const qc_buffer *b);

/** Mark a buffer as holding `n` owned strings (char*, malloc'd by the default allocator)
 *  that are freed with it. Used by string tensors. */
void qc_buffer_set_owns_strings(qc_buffer *b, size_t n);

typedef struct qc_tensor {
  qc_dtype dtype;
  int32_t rank;
  int64_t dims[QC_MAX_RANK];
  qc_buffer *buf; /**< NULL for a tensor with no data yet */
  size_t offset;  /**< byte offset of element 0 in buf */
} qc_tensor;

/** Fill `t`, retaining `buf` (may be NULL). */
void qc_tensor_init(qc_tensor *t, qc_dtype dt, int32_t rank, const int64_t *dims, qc_buffer *buf,
                    size_t offset);
/** Allocate a new zeroed tensor. */
qc_status qc_tensor_alloc(qc_tensor *t, const qc_allocator *a, qc_dtype dt, int32_t rank,
                          const int64_t *dims) QC_MUST_USE;
/** Copy the struct and retain the buffer. */
void qc_tensor_copy_ref(qc_tensor *dst, const qc_tensor *src);
/** Release the buffer reference and clear the struct. */
void qc_tensor_release(qc_tensor *t);
/** Product of dims (1 for rank 0); INT64_MAX on overflow. */
int64_t qc_tensor_numel(const qc_tensor *t);
/** Byte size of the data (qc_dtype_nbytes of numel). */
size_t qc_tensor_nbytes(const qc_tensor *t);
static inline void *qc_tensor_data(const qc_tensor *t) {
  return t->buf ? (char *)qc_buffer_data(t->buf) + t->offset : (void *)0;
}
/** Bytes equal (dtype, shape and data). */
bool qc_tensor_equal(const qc_tensor *a, const qc_tensor *b);

/** Element count of a shape; -1 on overflow or negative dims. */
int64_t qc_shape_numel(int32_t rank, const int64_t *dims);

#ifdef __cplusplus
}
#endif
#endif
