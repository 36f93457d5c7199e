/* Private to libquarc: allocation helpers, the arena, and the graph's layout.
 * Other layers (runtime/, passes/, frontend/, codegen/) may include this for the
 * helpers; they must edit graphs through the public API only. */
#ifndef QUARC_IR_INTERNAL_H
#define QUARC_IR_INTERNAL_H

#include "quarc/graph.h"
#include "quarc/io.h"
#include "quarc/infer.h"

#include <stdarg.h>
#include <string.h>

/* ---- allocation through a qc_allocator ---------------------------------------------------- */

static inline void *qc_alloc(const qc_allocator *a, size_t n) {
  return a->realloc(a->ctx, NULL, 0, n ? n : 1);
}
static inline void *qc_calloc(const qc_allocator *a, size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  size_t bytes = count * size;
  if (bytes == 0) bytes = 1;
  void *p = qc_alloc(a, bytes);
  if (p) memset(p, 0, bytes);
  return p;
}
static inline void *qc_realloc(const qc_allocator *a, void *p, size_t old, size_t n) {
  return a->realloc(a->ctx, p, old, n ? n : 1);
}
static inline void qc_free(const qc_allocator *a, void *p, size_t old) {
  if (p) a->realloc(a->ctx, p, old, 0);
}

/** Grow an array `*arr` of `*cap` elements of `elem` bytes to hold at least `need`.
 *  Returns false on OOM (the array is unchanged). */
bool qc_grow(const qc_allocator *a, void **arr, int32_t *cap, int32_t need, size_t elem);

#define QC_OOM() qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory")

/* ---- arena ----------------------------------------------------------------------------------- */

typedef struct qc_arena_chunk qc_arena_chunk;
typedef struct qc_arena {
  const qc_allocator *a;
  qc_arena_chunk *head;
  size_t used_in_head;
} qc_arena;

void qc_arena_init(qc_arena *ar, const qc_allocator *a);
void qc_arena_free(qc_arena *ar);
/** 16-byte aligned, zeroed. NULL on OOM. */
void *qc_arena_alloc(qc_arena *ar, size_t n);
char *qc_arena_strdup(qc_arena *ar, const char *s);
char *qc_arena_memdup0(qc_arena *ar, const void *p, size_t n); /* adds a NUL */
char *qc_arena_printf(qc_arena *ar, const char *fmt, ...) QC_PRINTF(2, 3);

/* ---- string -> int32 map (open addressing) ------------------------------------------------- */

typedef struct qc_strmap {
  const qc_allocator *a;
  const char **keys; /* not owned */
  int32_t *vals;
  int32_t cap, count;
} qc_strmap;

void qc_strmap_init(qc_strmap *m, const qc_allocator *a);
void qc_strmap_free(qc_strmap *m);
void qc_strmap_clear(qc_strmap *m);
/** -1 if absent. */
int32_t qc_strmap_get(const qc_strmap *m, const char *key);
/** Insert or overwrite; false on OOM. `key` must outlive the map entry. */
bool qc_strmap_put(qc_strmap *m, const char *key, int32_t val);
void qc_strmap_del(qc_strmap *m, const char *key);
uint64_t qc_hash_bytes(const void *p, size_t n, uint64_t seed);

/* ---- tensor layouts ---------------------------------------------------------------------------- */

/* Checkpoint formats store some matrices [in, out] and int4 codes packed in int32 words; the
 * importers, the exporters and the passes that lower to such layouts share these. */
/** Transpose a 2-D tensor of any non-block dtype (sub-byte types included). */
qc_status qc_tensor_transpose2d(const qc_tensor *src, qc_tensor *out) QC_MUST_USE;
/* A copy of src in dtype dt, allocated from a (NULL: the default): integers to integers
 * exactly (qc_elem_i64), everything else through qc_convert (round to nearest even). */
qc_status qc_tensor_convert(const qc_allocator *a, const qc_tensor *src, qc_dtype dt,
                            qc_tensor *out) QC_MUST_USE;
/** 4-bit codes of a rank-1 or rank-2 tensor packed into int32 words along its last dim
 *  (Quark's Pack_4_bits; reorder = AutoAWQ order): [.., n] -> [.., ceil(n/8)]. */
qc_status qc_tensor_pack_int4(const qc_tensor *codes, bool reorder, qc_tensor *out) QC_MUST_USE;
/** The inverse: int32 words [.., w] -> 4-bit codes of dtype dt (QC_I4/QC_U4) [.., n]. */
qc_status qc_tensor_unpack_int4(const qc_tensor *words, int64_t n, bool reorder, qc_dtype dt,
                                qc_tensor *out) QC_MUST_USE;

/* qc_read_file (reading a file whole) is public: quarc/io.h. */

/* ---- the graph --------------------------------------------------------------------------- */

typedef struct qc_kv {
  const char *key, *value;
} qc_kv;

typedef struct qc_opset {
  const char *domain;
  int64_t version;
} qc_opset;

struct qc_graph {
  qc_allocator alloc;
  qc_arena arena;
  qc_graph *parent;
  const char *name;

  qc_value *values;
  int32_t n_values, cap_values;
  qc_node *nodes;
  int32_t n_nodes, cap_nodes;
  qc_vid *inputs;
  int32_t n_inputs, cap_inputs;
  qc_vid *outputs;
  int32_t n_outputs, cap_outputs;

  qc_strmap names; /* value name -> vid */
  const char **syms;
  int32_t n_syms, cap_syms;
  qc_opset *opsets;
  int32_t n_opsets, cap_opsets;
  qc_kv *meta;
  int32_t n_meta, cap_meta;
  int64_t name_counter;
};

/** Copy attribute payload into g's arena (tensors retained; graphs deep-cloned if
 *  `clone_graphs`, else taken over). */
qc_status qc_attr_copy(qc_graph *g, qc_attr *dst, const qc_attr *src, bool clone_graphs);
/** Release what an attribute holds (tensor refs, sub-graphs). */
void qc_attr_release(qc_attr *a);
/** Set a sub-graph's parent (when attached to a node). */
void qc_graph_set_parent(qc_graph *sub, qc_graph *parent);

/* ---- inference context ------------------------------------------------------------------- */

struct qc_infer_store;

struct qc_infer_ctx {
  const qc_graph *g;
  qc_nid node;
  const qc_node *n;
  qc_type out[64];     /* results; n_out <= 64 checked by the driver */
  bool strict;         /* verify mode */
  struct qc_infer_store *store; /* data propagation (infer_ops.h); NULL when verifying */
};

#endif
