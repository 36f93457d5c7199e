/* Private to runtime/: moving elements of any dtype, for the data-movement kernels
 * (k_tensor.c, k_index.c, k_control.c).
 *
 * These kernels never look at values, only copy them: whole elements by byte size,
 * sub-byte dtypes (int4, fp4, int2, ...) through the LSB-first bit stream accessors of
 * dtype.h, and strings by duplicating them (the destination buffer owns its strings).
 * Copies of strings can fail (out of memory), so every move returns false on failure.
 *
 * Most layout ops (Transpose, Slice, Pad, Tile, Expand, DepthToSpace, nearest Resize, ...)
 * are one "mapped gather": output element (o_0, ..., o_{r-1}) is source element
 * sum_d map[d][o_d], or a fill value where some map entry is QC_MAP_FILL. */
#ifndef QUARC_RUNTIME_KMOVE_H
#define QUARC_RUNTIME_KMOVE_H

#include "runtime/kutil.h"

typedef struct qc_mover {
  qc_dtype dt;
  size_t esz; /* bytes per element; 0 for sub-byte dtypes */
  bool str;   /* QC_STRING: elements are owned char* */
} qc_mover;

/* A mover for dt; an error naming the node for dtypes that cannot be moved element by
 * element (block-quantized types). */
qc_status qc_mover_init(const qc_kctx *k, qc_mover *m, qc_dtype dt) QC_MUST_USE;

/* Copy elements src[i, i+n) to dst[j, j+n). Ranges must not overlap. */
bool qc_move(const qc_mover *m, void *dst, int64_t j, const void *src, int64_t i, int64_t n);
/* Fill dst[j, j+n) with copies of element 0 of `elem`. */
bool qc_move_fill(const qc_mover *m, void *dst, int64_t j, const void *elem, int64_t n);
/* `count` blocks of `block` elements: block b goes from src[src_off + b*src_stride] to
 * dst[dst_off + b*dst_stride]. Concat, Split and friends. */
bool qc_move_blocks(const qc_mover *m, void *dst, int64_t dst_off, int64_t dst_stride,
                    const void *src, int64_t src_off, int64_t src_stride, int64_t block,
                    int64_t count);

#define QC_MAP_FILL INT64_MIN

/* Per-axis index maps of a mapped gather. */
typedef struct qc_axis_maps {
  int32_t rank;
  int64_t dims[QC_MAX_RANK]; /* output dims */
  int64_t *map[QC_MAX_RANK]; /* map[d][o]: source element offset, or QC_MAP_FILL */
  int64_t *block;            /* storage of all maps */
} qc_axis_maps;

/* Allocate maps for an output of `rank` dims (entries uninitialized). */
bool qc_maps_init(qc_axis_maps *m, int32_t rank, const int64_t *dims);
void qc_maps_free(qc_axis_maps *m);
/* Identity maps of a contiguous source of the same shape, permuted: output axis d reads
 * source axis perm[d] (perm NULL = identity); src_dims is the source shape. */
bool qc_maps_transpose(qc_axis_maps *m, int32_t rank, const int64_t *src_dims, const int64_t *perm);
/* Gather into contiguous dst (whose shape is m->dims). `fill` (one element, may be NULL to
 * leave zeros) is used where a map says QC_MAP_FILL. Parallel over rows unless strings. */
bool qc_move_mapped(const qc_kctx *k, const qc_mover *mv, void *dst, const qc_axis_maps *m,
                    const void *src, const void *fill);

/* ---- attributes and sorting for the data-movement kernels --------------------------------- */

/* The INTS attribute `name`, which must have exactly n entries, or n copies of dflt when
 * it is absent. out has room for n. */
qc_status qc_k_attr_ints_or(const qc_kctx *k, const char *name, int32_t n, int64_t dflt,
                            int64_t *out) QC_MUST_USE;

/* Total order on elements of one dtype, as numpy sorts: numbers by value with NaN last,
 * strings by bytes. Not for complex or block types. */
int qc_elem_compare(qc_dtype dt, const void *a, int64_t i, const void *b, int64_t j);

/* Stable merge sort of idx[0..n) by cmp(ctx, x, y) (< 0: x first). False on OOM. */
bool qc_sort_stable(int64_t *idx, int64_t n, int (*cmp)(void *ctx, int64_t x, int64_t y),
                    void *ctx);

#endif
