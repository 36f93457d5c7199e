/*
 * runtime/kutil.h — helpers shared by the interpreter's kernels (runtime/k_*.c).
 *
 * One home for each concept a kernel needs besides its own arithmetic:
 *
 *   opset        qc_k_opset: the node's opset version (latest when the graph imports none)
 *   memory       qc_k_alloc / qc_k_free: scratch through the interpreter's allocator
 *   int lists    qc_k_ints: an int32/int64 tensor (axes, shapes, pads) read into int64s;
 *                qc_k_attr_ints: the same from an INTS attribute
 *   axes         qc_k_axis, qc_k_axes_mask: normalization with errors naming the node
 *   convolution  qc_k_conv_geom: Conv attributes and shapes resolved to explicit geometry
 *   layouts      qc_strides: dense row-major element strides
 *   broadcasting qc_bcast: numpy broadcasting of k shapes, offsets of any output element,
 *                and iteration in runs along which every input advances by a fixed step
 *   reductions   qc_rplan: a reduction of a tensor over a set of axes (outputs x reduced)
 *   accessors    qc_acc: per-dtype element get/set functions chosen once, outside loops
 *                (direct loads for f32/f64/i64/i32/u8/i8/bool, the dtype module otherwise)
 *   elementwise  qc_k_ew1 / qc_k_ew2: run a unary or broadcasting binary op given as scalar
 *                functions over double, int64 and uint64, on every dtype, in parallel
 *   strings      qc_k_set_string: store a copy of a string element
 *
 * Numeric conventions (those of numpy and ONNX's reference implementation):
 *   - float dtypes (f16, bf16, fp8, fp4, ...) are computed in double and rounded back to
 *     the output dtype once, half to even (f32 has a direct path with the same results);
 *   - integer dtypes are computed exactly in int64 (uint64 for u64 where it matters) and
 *     wrap to the output width, as numpy's fixed-width integers do;
 *   - a double result stored into an integer dtype is truncated toward zero and wraps
 *     (numpy's astype, ONNX Cast); an integer stored into a float rounds to nearest.
 *
 * A typical binary kernel:
 *
 *     static double f_add(double a, double b, const void *p) { (void)p; return a + b; }
 *     static int64_t i_add(int64_t a, int64_t b, const void *p) {
 *       (void)p; return (int64_t)((uint64_t)a + (uint64_t)b);
 *     }
 *     static const qc_ew2 ADD = {.f = f_add, .i = i_add};
 *     static qc_status k_add(qc_kctx *k) {
 *       return qc_k_ew2(k, &ADD, NULL, qc_k_in(k, 0), qc_k_in(k, 1), QC_DT_UNDEFINED, 0);
 *     }
 */
#ifndef QUARC_RUNTIME_KUTIL_H
#define QUARC_RUNTIME_KUTIL_H

#include "runtime/internal.h"

/* ---- opset, memory ------------------------------------------------------------------------ */

/** The opset version of the node's domain; 999 (latest semantics) when the graph does not
 *  import the domain (graphs built in code). */
static inline int64_t qc_k_opset(const qc_kctx *k) { return k->version > 0 ? k->version : 999; }

/** Scratch memory through the interpreter's allocator; NULL on OOM (n == 0 gives a valid
 *  pointer). Free with the same size. */
void *qc_k_alloc(const qc_kctx *k, size_t n);
void qc_k_free(const qc_kctx *k, void *p, size_t n);

/* ---- int lists and axes ----------------------------------------------------------------------- */

/** Read an integer tensor of rank 0 or 1 (any integer dtype) into out[0..max); *n = its
 *  length. Errors (naming the node and `what`) for a missing or non-integer tensor, rank > 1
 *  or more than max values. */
qc_status qc_k_ints(const qc_kctx *k, const qc_tensor *t, const char *what, int64_t *out,
                    int64_t max, int64_t *n) QC_MUST_USE;
/** The same into a malloc'd array of any length (the caller frees it with free()). */
qc_status qc_k_ints_alloc(const qc_kctx *k, const qc_tensor *t, const char *what, int64_t **out,
                          int64_t *n) QC_MUST_USE;
/** The INTS attribute `name` into out[0..max); *n = -1 when the attribute is absent.
 *  Errors when it holds more than max values. */
qc_status qc_k_attr_ints(const qc_kctx *k, const char *name, int64_t *out, int64_t max,
                         int64_t *n) QC_MUST_USE;

/** Normalize a possibly negative axis for `rank`; the error names the node. */
qc_status qc_k_axis(const qc_kctx *k, int64_t axis, int32_t rank, int32_t *out) QC_MUST_USE;
/** Turn a list of axes into mask[0..rank); errors on an out-of-range or repeated axis. */
qc_status qc_k_axes_mask(const qc_kctx *k, const int64_t *axes, int64_t n, int32_t rank,
                         bool *mask) QC_MUST_USE;

/** Dense row-major element strides of a shape. Returns the element count. */
int64_t qc_strides(int32_t rank, const int64_t *dims, int64_t *strides);

/* ---- broadcasting ----------------------------------------------------------------------------- */

#define QC_BCAST_MAX_IN 8

typedef struct qc_bcast {
  int32_t n_in;
  int32_t rank;              /**< output rank */
  int64_t dims[QC_MAX_RANK]; /**< output shape */
  int64_t numel;             /**< output elements */
  /* The iteration space: output dims with size-1 dims dropped and adjacent dims merged
   * where every input allows it; str[j][d] is input j's element stride along d (0 where
   * input j is broadcast). */
  int32_t it_rank;
  int64_t it_dims[QC_MAX_RANK];
  int64_t it_str[QC_BCAST_MAX_IN][QC_MAX_RANK];
} qc_bcast;

/** Broadcast n (<= QC_BCAST_MAX_IN) shapes with numpy rules. False if they do not
 *  broadcast or the result exceeds QC_MAX_RANK. */
bool qc_bcast_init(qc_bcast *b, int32_t n, const int32_t *ranks, const int64_t *const *dims);
/** qc_bcast_init over tensors; the error names the node and the shapes. */
qc_status qc_k_bcast(const qc_kctx *k, int32_t n, const qc_tensor *const *t,
                     qc_bcast *b) QC_MUST_USE;
/** Element offsets of output element i in each input (off[0..n_in)). */
void qc_bcast_offsets(const qc_bcast *b, int64_t i, int64_t *off);

/** Called for a run of `count` consecutive output elements starting at `out`; input j's
 *  elements are in[j], in[j] + step[j], ... */
typedef void (*qc_bcast_run_fn)(void *ctx, int64_t out, const int64_t *in, const int64_t *step,
                                int64_t count);
/** Visit output elements [begin, end) run by run, in order. */
void qc_bcast_runs(const qc_bcast *b, int64_t begin, int64_t end, qc_bcast_run_fn fn, void *ctx);

/* ---- convolution geometry ------------------------------------------------------------------- */

/** The geometry of an N-d convolution (Conv, ConvInteger, QLinearConv, ...): x is
 *  [N, C, D1..Dn], w is [M, C/group, k1..kn]. */
typedef struct qc_conv_geom {
  int32_t nsp;                  /**< spatial dims n */
  int64_t batch, c_in, c_out, group;
  int64_t in[QC_MAX_RANK], k[QC_MAX_RANK], stride[QC_MAX_RANK], dil[QC_MAX_RANK];
  int64_t pad_begin[QC_MAX_RANK], pad_end[QC_MAX_RANK], out[QC_MAX_RANK];
} qc_conv_geom;

/** Read the Conv attributes (auto_pad, dilations, group, kernel_shape, pads, strides) of
 *  the node and the shapes of x and w into g; errors name the node. */
qc_status qc_k_conv_geom(const qc_kctx *k, const qc_tensor *x, const qc_tensor *w,
                         qc_conv_geom *g) QC_MUST_USE;

/* ---- reductions -------------------------------------------------------------------------------- */

/** A tensor seen as n_out output positions (the kept axes) times n_red reduced positions.
 *  Input offset of (o, r) = qc_rplan_base(p, o) + qc_rplan_roff(p, r); iterate r with
 *  qc_rplan_iter to avoid divisions. */
typedef struct qc_rplan {
  int64_t n_out, n_red;
  int32_t kr, rr; /* kept / reduced dims (size-1 dims dropped) */
  int64_t kdims[QC_MAX_RANK], kstr[QC_MAX_RANK];
  int64_t rdims[QC_MAX_RANK], rstr[QC_MAX_RANK];
} qc_rplan;

void qc_rplan_init(qc_rplan *p, int32_t rank, const int64_t *dims, const bool *reduce);
int64_t qc_rplan_base(const qc_rplan *p, int64_t o);
int64_t qc_rplan_roff(const qc_rplan *p, int64_t r);

/** Odometer over the reduced positions: off is the offset relative to the base. */
typedef struct qc_rplan_iter {
  int64_t idx[QC_MAX_RANK];
  int64_t off;
} qc_rplan_iter;
static inline void qc_rplan_iter_start(qc_rplan_iter *it) {
  memset(it, 0, sizeof *it);
}
static inline void qc_rplan_iter_next(const qc_rplan *p, qc_rplan_iter *it) {
  for (int32_t d = p->rr - 1; d >= 0; d--) {
    it->off += p->rstr[d];
    if (++it->idx[d] < p->rdims[d]) return;
    it->off -= p->rstr[d] * p->rdims[d];
    it->idx[d] = 0;
  }
}

/* ---- element accessors ------------------------------------------------------------------------- */

/** Get/set functions for one dtype (not strings, complex or block types):
 *    getf  the element as a double (qc_elem_f64)
 *    geti  the element as an int64 (qc_elem_i64: floats truncate; u64 reinterpreted)
 *    setf  store a double with numpy astype / ONNX Cast rules (qc_elem_cast_f64): floats
 *          round half to even without saturation, ints truncate toward zero and wrap
 *    seti  store an int64 (qc_elem_set_i64): ints wrap, floats round to nearest
 *  Use as a.getf(a.dt, base, i). */
typedef struct qc_acc {
  qc_dtype dt;
  double (*getf)(qc_dtype dt, const void *base, size_t i);
  int64_t (*geti)(qc_dtype dt, const void *base, size_t i);
  void (*setf)(qc_dtype dt, void *base, size_t i, double x);
  void (*seti)(qc_dtype dt, void *base, size_t i, int64_t x);
} qc_acc;

qc_acc qc_acc_of(qc_dtype dt);

/** A whole tensor as doubles (numel values, row-major), allocated with qc_k_alloc;
 *  free with qc_k_free(k, p, numel * sizeof(double)). NULL on OOM. */
double *qc_k_load_f64(const qc_kctx *k, const qc_tensor *t);
/** Store numel doubles into t with the acc setf rules. */
void qc_store_f64(qc_tensor *t, const double *v);

/* ---- elementwise engines ------------------------------------------------------------------------ */

/** Which arithmetic an elementwise op runs in, chosen from the input dtypes: any float
 *  input -> double; else u64 input (and a `u` function given) -> uint64; else int64
 *  (all other integer dtypes and bool). */
typedef enum qc_ew_domain { QC_EW_F = 0, QC_EW_I = 1, QC_EW_U = 2 } qc_ew_domain;

/** A unary op as scalar functions; NULL members mean "not defined for that domain"
 *  (the kernel reports the dtype as unsupported). `f32` is an optional fast path that must
 *  give the results of `f` rounded to float. */
typedef struct qc_ew1 {
  double (*f)(double x, const void *p);
  int64_t (*i)(int64_t x, const void *p);
  uint64_t (*u)(uint64_t x, const void *p);
  float (*f32)(float x, const void *p);
} qc_ew1;

typedef struct qc_ew2 {
  double (*f)(double a, double b, const void *p);
  int64_t (*i)(int64_t a, int64_t b, const void *p);
  uint64_t (*u)(uint64_t a, uint64_t b, const void *p);
  float (*f32)(float a, float b, const void *p);
} qc_ew2;

/** Output `oi` = op(x), of dtype out_dt (QC_DT_UNDEFINED: x's dtype). */
qc_status qc_k_ew1(qc_kctx *k, const qc_ew1 *op, const void *p, const qc_tensor *x,
                   qc_dtype out_dt, int32_t oi) QC_MUST_USE;
/** Output `oi` = op(a, b) with numpy broadcasting, of dtype out_dt (QC_DT_UNDEFINED: a's). */
qc_status qc_k_ew2(qc_kctx *k, const qc_ew2 *op, const void *p, const qc_tensor *a,
                   const qc_tensor *b, qc_dtype out_dt, int32_t oi) QC_MUST_USE;
/** As qc_k_ew1/qc_k_ew2 into an existing tensor `out`; the inputs must broadcast to out's
 *  shape. `out` may be one of the inputs when that input has out's shape (in-place
 *  accumulation, as variadic Sum/Max do). */
qc_status qc_ew1_into(const qc_kctx *k, const qc_ew1 *op, const void *p, const qc_tensor *x,
                      qc_tensor *out) QC_MUST_USE;
qc_status qc_ew2_into(const qc_kctx *k, const qc_ew2 *op, const void *p, const qc_tensor *a,
                      const qc_tensor *b, qc_tensor *out) QC_MUST_USE;

/* ---- strings ------------------------------------------------------------------------------------ */

/** Element i of a string tensor ("" for a NULL element). */
static inline const char *qc_string_at(const qc_tensor *t, size_t i) {
  const char *s = ((const char *const *)qc_tensor_data(t))[i];
  return s ? s : "";
}
/** Store a copy of s[0..len) (len < 0: strlen) into a string element slot, freeing the string
 *  it held. False on OOM (the slot is unchanged). */
bool qc_string_store(char **slot, const char *s, int64_t len);
/** Store a copy of s[0..len) as element i of a string tensor allocated by qc_k_out (frees the
 *  previous element). len < 0: strlen(s). */
qc_status qc_k_set_string(const qc_kctx *k, qc_tensor *t, size_t i, const char *s,
                          int64_t len) QC_MUST_USE;

#endif
