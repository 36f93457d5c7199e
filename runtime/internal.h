/* Private to runtime/: the interpreter's frames, the thread pool and kernel families. */
#ifndef QUARC_RUNTIME_INTERNAL_H
#define QUARC_RUNTIME_INTERNAL_H

#include "ir/internal.h"
#include "quarc/kernel.h"

/* ---- thread pool ------------------------------------------------------------------------- */

typedef struct qc_pool qc_pool;
qc_status qc_pool_create(int32_t n_threads, qc_pool **out);
void qc_pool_destroy(qc_pool *p);
int32_t qc_pool_size(const qc_pool *p);
/* Runs fn over [0,n) in chunks of at least `grain`; serial when called from a worker. */
void qc_pool_for(qc_pool *p, int64_t n, int64_t grain,
                 void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx);
/* Number of online cores. */
int32_t qc_cpu_count(void);

/* ---- kernel families ---------------------------------------------------------------------- */

typedef struct qc_kernel_entry {
  qc_op op;
  qc_kernel_fn fn;
} qc_kernel_entry;

/* Each family is a table in runtime/k_<family>.c ending with {QC_OP_INVALID, NULL}. */
#define QC_KERNEL_FAMILIES(X)                                                                     \
  X(math) X(reduce) X(tensor) X(index) X(nn) X(linalg) X(quant) X(control) X(misc) X(qc)

#define QC_DECLARE_FAMILY(f) extern const qc_kernel_entry qc_kernels_##f[];
QC_KERNEL_FAMILIES(QC_DECLARE_FAMILY)
#undef QC_DECLARE_FAMILY

qc_kernel_fn qc_kernel_lookup(qc_op op);

/* ---- frames ---------------------------------------------------------------------------------- */

typedef struct qc_frame qc_frame;
struct qc_frame {
  const qc_graph *g;
  qc_rvalue *vals; /* one per value of g */
  qc_frame *parent;
};

struct qc_interp {
  const qc_graph *g;
  qc_interp_options opts;
  qc_allocator alloc;
  qc_pool *pool;
  int32_t *last_use; /* main graph: index of the last node using each value (-1 none,
                        INT32_MAX: a graph output) */
  /* The same for every sub-graph (If/Loop/Scan bodies, at any depth), so that a body frees
   * its intermediates as it goes, as the main graph does. */
  int32_t n_subs;
  const qc_graph **sub_graphs;
  int32_t **sub_last_use;
};

/* Private part of a kernel context. */
typedef struct qc_kctx_full {
  qc_kctx k;
  qc_frame *frame;
} qc_kctx_full;

#endif
