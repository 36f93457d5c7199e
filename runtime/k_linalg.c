/*
 * Interpreter kernels: linear algebra — MatMul, Gemm, Einsum, Det.
 *
 * Arithmetic, as ONNX's reference implementation (numpy) does it:
 *   f32        the blocked GEMM (runtime/gemm.c), f32 accumulation;
 *   f16, bf16  computed in f32 and rounded once to the output dtype;
 *   f64        computed in double;
 *   integers   exact in 64-bit wrapping arithmetic, stored with wrap-around.
 */
#include "runtime/gemm.h"
#include "runtime/kfloat.h"
#include "runtime/kutil.h"

#include <math.h>

/* ---- helpers ------------------------------------------------------------------------------- */

static void *kcalloc(const qc_kctx *k, size_t n) {
  void *p = qc_k_alloc(k, n);
  if (p) memset(p, 0, n);
  return p;
}

typedef enum { ARITH_F32, ARITH_F64, ARITH_I64 } arith;

static bool arith_of(qc_dtype dt, arith *a) {
  switch (dt) {
  case QC_F32: case QC_F16: case QC_BF16: *a = ARITH_F32; return true;
  case QC_F64: *a = ARITH_F64; return true;
  case QC_I8: case QC_I16: case QC_I32: case QC_I64:
  case QC_U8: case QC_U16: case QC_U32: case QC_U64: *a = ARITH_I64; return true;
  default: return false;
  }
}

static size_t arith_size(arith a) { return a == ARITH_F32 ? sizeof(float) : 8; }

/* A tensor's elements in the arithmetic's element type: borrowed when the dtype already is
 * it, else converted into scratch. */
typedef struct loaded {
  const void *p;
  void *owned;
  size_t bytes;
} loaded;

static qc_status load_as(const qc_kctx *k, const qc_tensor *t, arith a, loaded *out) {
  memset(out, 0, sizeof *out);
  int64_t n = qc_tensor_numel(t);
  qc_dtype want = a == ARITH_F32 ? QC_F32 : a == ARITH_F64 ? QC_F64 : QC_I64;
  if (t->dtype == want) {
    out->p = qc_tensor_data(t);
    return QC_OK;
  }
  out->bytes = arith_size(a) * (size_t)(n ? n : 1);
  out->owned = qc_k_alloc(k, out->bytes);
  if (!out->owned) return QC_OOM();
  qc_convert(t->dtype, qc_tensor_data(t), want, out->owned, (size_t)n, 0);
  out->p = out->owned;
  return QC_OK;
}

static void loaded_free(const qc_kctx *k, loaded *l) {
  if (l->owned) qc_k_free(k, l->owned, l->bytes);
  memset(l, 0, sizeof *l);
}

/* Output i of dtype dt computed in arithmetic a: written directly when dt is a's type,
 * else staged and converted by staged_finish. */
typedef struct staged {
  qc_tensor *t;
  void *p;
  bool scratch;
  size_t bytes;
  int64_t n;
  qc_dtype from;
} staged;

static qc_status staged_alloc(qc_kctx *k, int32_t i, qc_dtype dt, arith a, int32_t rank,
                              const int64_t *dims, staged *s) {
  memset(s, 0, sizeof *s);
  QC_RETURN_IF_ERROR(qc_k_out(k, i, dt, rank, dims, &s->t));
  s->n = qc_tensor_numel(s->t);
  s->from = a == ARITH_F32 ? QC_F32 : a == ARITH_F64 ? QC_F64 : QC_I64;
  if (dt == s->from) {
    s->p = qc_tensor_data(s->t);
    return QC_OK;
  }
  s->bytes = arith_size(a) * (size_t)(s->n ? s->n : 1);
  s->p = kcalloc(k, s->bytes);
  if (!s->p) return QC_OOM();
  s->scratch = true;
  return QC_OK;
}

static void staged_finish(const qc_kctx *k, staged *s, bool convert) {
  if (!s->scratch) return;
  if (convert) qc_convert(s->from, s->p, s->t->dtype, qc_tensor_data(s->t), (size_t)s->n, 0);
  qc_k_free(k, s->p, s->bytes);
  s->scratch = false;
}

/* C[m][n] (+)= sum_p A[i][p] B[p][j] in double or wrapping int64, strided operands. */
static void gemm_f64(int64_t m, int64_t n, int64_t k, double alpha, const double *a, int64_t rsa,
                     int64_t csa, const double *b, int64_t rsb, int64_t csb, double *c,
                     int64_t rsc) {
  for (int64_t i = 0; i < m; i++) {
    double *ci = c + i * rsc;
    for (int64_t j = 0; j < n; j++) ci[j] = 0;
    for (int64_t p = 0; p < k; p++) {
      double av = alpha * a[i * rsa + p * csa];
      const double *bp = b + p * rsb;
      if (csb == 1)
        for (int64_t j = 0; j < n; j++) ci[j] += av * bp[j];
      else
        for (int64_t j = 0; j < n; j++) ci[j] += av * bp[j * csb];
    }
  }
}

static void gemm_i64(int64_t m, int64_t n, int64_t k, const int64_t *a, int64_t rsa, int64_t csa,
                     const int64_t *b, int64_t rsb, int64_t csb, int64_t *c, int64_t rsc) {
  for (int64_t i = 0; i < m; i++) {
    uint64_t *ci = (uint64_t *)(c + i * rsc);
    for (int64_t j = 0; j < n; j++) ci[j] = 0;
    for (int64_t p = 0; p < k; p++) {
      uint64_t av = (uint64_t)a[i * rsa + p * csa];
      const int64_t *bp = b + p * rsb;
      for (int64_t j = 0; j < n; j++) ci[j] += av * (uint64_t)bp[j * csb];
    }
  }
}

/* One matrix product of a batch in any arithmetic; f32 may use the pool. */
static void gemm_any(qc_pool *pool, arith ar, int64_t m, int64_t n, int64_t k, const void *a,
                     int64_t rsa, int64_t csa, const void *b, int64_t rsb, int64_t csb, void *c,
                     int64_t rsc) {
  switch (ar) {
  case ARITH_F32:
    qc_gemm_f32(pool, m, n, k, 1.0f, a, rsa, csa, b, rsb, csb, 0.0f, c, rsc, 1);
    break;
  case ARITH_F64: gemm_f64(m, n, k, 1.0, a, rsa, csa, b, rsb, csb, c, rsc); break;
  case ARITH_I64: gemm_i64(m, n, k, a, rsa, csa, b, rsb, csb, c, rsc); break;
  }
}

/* ---- MatMul ------------------------------------------------------------------------------ */

typedef struct mm_batch {
  arith ar;
  int64_t m, n, k;
  const char *a, *b;
  char *c;
  const int64_t *aoff, *boff; /* element offsets of each batch's matrices */
  int64_t rsa, csa, rsb, csb;
} mm_batch;

static void mm_range(void *ctx, int64_t begin, int64_t end) {
  mm_batch *j = ctx;
  size_t es = arith_size(j->ar);
  for (int64_t i = begin; i < end; i++)
    gemm_any(NULL, j->ar, j->m, j->n, j->k, j->a + (size_t)j->aoff[i] * es, j->rsa, j->csa,
             j->b + (size_t)j->boff[i] * es, j->rsb, j->csb, j->c + (size_t)(i * j->m * j->n) * es,
             j->n);
}

/* Batched product of matrices A (batch dims ba, m x k) and B (batch dims bb, k x n) with
 * numpy broadcasting of the batch dims; C is dense [batch..., m, n]. */
static qc_status batched_matmul(qc_kctx *k, arith ar, int32_t ra, const int64_t *bda, int32_t rb,
                                const int64_t *bdb, int64_t m, int64_t n, int64_t kk,
                                const void *a, int64_t rsa, int64_t csa, int64_t sa,
                                const void *b, int64_t rsb, int64_t csb, int64_t sb, void *c,
                                int32_t rbatch, const int64_t *bdims) {
  int64_t nb = qc_shape_numel(rbatch, bdims);
  if (nb == 0 || m == 0 || n == 0) return QC_OK;
  int64_t *off = qc_k_alloc(k, sizeof(int64_t) * 2 * (size_t)nb);
  if (!off) return QC_OOM();
  /* Batch strides of A and B (0 along broadcast dims), walked with an odometer. */
  int64_t stra[QC_MAX_RANK] = {0}, strb[QC_MAX_RANK] = {0}, idx[QC_MAX_RANK] = {0};
  int64_t st = sa;
  for (int32_t d = ra - 1; d >= 0; d--) {
    if (bda[d] != 1) stra[d + rbatch - ra] = st;
    st *= bda[d];
  }
  st = sb;
  for (int32_t d = rb - 1; d >= 0; d--) {
    if (bdb[d] != 1) strb[d + rbatch - rb] = st;
    st *= bdb[d];
  }
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < nb; i++) {
    off[i] = oa;
    off[nb + i] = ob;
    for (int32_t d = rbatch - 1; d >= 0; d--) {
      oa += stra[d];
      ob += strb[d];
      if (++idx[d] < bdims[d]) break;
      oa -= stra[d] * bdims[d];
      ob -= strb[d] * bdims[d];
      idx[d] = 0;
    }
  }
  mm_batch job = {ar, m, n, kk, a, b, c, off, off + nb, rsa, csa, rsb, csb};
  double fmas = (double)m * (double)n * (double)kk;
  if (ar == ARITH_F32 && (nb == 1 || fmas >= (1 << 22))) {
    /* Big products: each one split across the pool. */
    for (int64_t i = 0; i < nb; i++)
      qc_gemm_f32(qc_k_pool(k), m, n, kk, 1.0f, (const float *)a + off[i], rsa, csa,
                  (const float *)b + off[nb + i], rsb, csb, 0.0f, (float *)c + i * m * n, n, 1);
  } else {
    int64_t grain = fmas * (double)nb < (1 << 16) ? nb : 1;
    qc_pool_for(qc_k_pool(k), nb, grain, mm_range, &job);
  }
  qc_k_free(k, off, sizeof(int64_t) * 2 * (size_t)nb);
  return QC_OK;
}

static qc_status k_matmul(qc_kctx *k) {
  const qc_tensor *ta = qc_k_in(k, 0), *tb = qc_k_in(k, 1);
  if (!ta || !tb) return qc_k_error(k, "missing input");
  if (ta->dtype != tb->dtype)
    return qc_k_error(k, "inputs have different dtypes (%s, %s)", qc_dtype_name(ta->dtype),
                      qc_dtype_name(tb->dtype));
  arith ar;
  if (!arith_of(ta->dtype, &ar)) return qc_k_error(k, "unsupported dtype %s", qc_dtype_name(ta->dtype));
  if (ta->rank < 1 || tb->rank < 1) return qc_k_error(k, "inputs must have rank >= 1");
  /* 1-D operands: A [K] is [1, K], B [K] is [K, 1]; the added dim is dropped from the result. */
  int64_t m = ta->rank == 1 ? 1 : ta->dims[ta->rank - 2], kk = ta->dims[ta->rank - 1];
  int64_t kb = tb->rank == 1 ? tb->dims[0] : tb->dims[tb->rank - 2];
  int64_t n = tb->rank == 1 ? 1 : tb->dims[tb->rank - 1];
  if (kk != kb)
    return qc_k_error(k, "inner dimensions differ: A has %lld columns, B has %lld rows",
                      (long long)kk, (long long)kb);
  int32_t ra = ta->rank > 2 ? ta->rank - 2 : 0, rb = tb->rank > 2 ? tb->rank - 2 : 0;
  int32_t rbatch;
  int64_t bdims[QC_MAX_RANK];
  if (!qc_broadcast_dims(ra, ta->dims, rb, tb->dims, &rbatch, bdims))
    return qc_k_error(k, "batch dimensions do not broadcast");
  int64_t odims[QC_MAX_RANK + 2];
  int32_t orank = rbatch;
  memcpy(odims, bdims, sizeof(int64_t) * (size_t)rbatch);
  if (ta->rank > 1) odims[orank++] = m;
  if (tb->rank > 1) odims[orank++] = n;
  if (orank > QC_MAX_RANK) return qc_k_error(k, "result rank exceeds %d", QC_MAX_RANK);
  staged y;
  QC_RETURN_IF_ERROR(staged_alloc(k, 0, ta->dtype, ar, orank, odims, &y));
  loaded la, lb;
  qc_status s = load_as(k, ta, ar, &la);
  if (!s) {
    s = load_as(k, tb, ar, &lb);
    if (!s) {
      if (rb == 0 && ra > 0) {
        /* B has no batch dims (a weight): A's batch folds into its rows, one product. */
        int64_t rows = m * qc_shape_numel(ra, ta->dims);
        s = batched_matmul(k, ar, 0, NULL, 0, NULL, rows, n, kk, la.p, kk, 1, 0, lb.p, n, 1, 0,
                           y.p, 0, NULL);
      } else {
        s = batched_matmul(k, ar, ra, ta->dims, rb, tb->dims, m, n, kk, la.p, kk, 1, m * kk, lb.p,
                           n, 1, kk * n, y.p, rbatch, bdims);
      }
      loaded_free(k, &lb);
    }
    loaded_free(k, &la);
  }
  staged_finish(k, &y, !s);
  return s;
}

/* ---- Gemm -------------------------------------------------------------------------------- */

static qc_status k_gemm(qc_kctx *k) {
  const qc_tensor *ta = qc_k_in(k, 0), *tb = qc_k_in(k, 1), *tc = qc_k_in(k, 2);
  if (!ta || !tb) return qc_k_error(k, "missing input");
  arith ar;
  if (!arith_of(ta->dtype, &ar) || tb->dtype != ta->dtype || (tc && tc->dtype != ta->dtype))
    return qc_k_error(k, "unsupported or mismatched dtypes");
  if (ta->rank != 2 || tb->rank != 2) return qc_k_error(k, "A and B must be 2-D");
  bool trans_a = qc_k_int(k, "transA", 0) != 0, trans_b = qc_k_int(k, "transB", 0) != 0;
  double alpha = qc_k_float(k, "alpha", 1.0), beta = qc_k_float(k, "beta", 1.0);
  int64_t m = trans_a ? ta->dims[1] : ta->dims[0], kk = trans_a ? ta->dims[0] : ta->dims[1];
  int64_t kb = trans_b ? tb->dims[1] : tb->dims[0], n = trans_b ? tb->dims[0] : tb->dims[1];
  if (kk != kb)
    return qc_k_error(k, "inner dimensions differ (%lld vs %lld)", (long long)kk, (long long)kb);
  int64_t odims[2] = {m, n};
  /* C broadcasts unidirectionally to (M, N). */
  int64_t crs = 0, ccs = 0;
  if (tc) {
    if (tc->rank > 2) return qc_k_error(k, "C must have rank <= 2");
    int64_t cm = tc->rank == 2 ? tc->dims[0] : 1;
    int64_t cn = tc->rank >= 1 ? tc->dims[tc->rank - 1] : 1;
    if ((cm != 1 && cm != m) || (cn != 1 && cn != n))
      return qc_k_error(k, "C does not broadcast to (%lld, %lld)", (long long)m, (long long)n);
    crs = cm == 1 ? 0 : cn;
    ccs = cn == 1 ? 0 : 1;
  }
  bool use_c = tc && beta != 0.0;
  int64_t rsa = trans_a ? 1 : ta->dims[1], csa = trans_a ? ta->dims[1] : 1;
  int64_t rsb = trans_b ? 1 : tb->dims[1], csb = trans_b ? tb->dims[1] : 1;
  staged y;
  QC_RETURN_IF_ERROR(staged_alloc(k, 0, ta->dtype, ar, 2, odims, &y));
  loaded la = {0}, lb = {0}, lc = {0};
  qc_status s = load_as(k, ta, ar, &la);
  if (!s) s = load_as(k, tb, ar, &lb);
  if (!s && use_c) s = load_as(k, tc, ar, &lc);
  if (!s) {
    if (ar == ARITH_F32) {
      float *yp = y.p;
      const float *cp = lc.p;
      if (use_c)
        for (int64_t i = 0; i < m; i++)
          for (int64_t j = 0; j < n; j++) yp[i * n + j] = cp[i * crs + j * ccs];
      qc_gemm_f32(qc_k_pool(k), m, n, kk, (float)alpha, la.p, rsa, csa, lb.p, rsb, csb,
                  use_c ? (float)beta : 0.0f, yp, n, 1);
    } else if (ar == ARITH_F64) {
      double *yp = y.p;
      const double *cp = lc.p;
      gemm_f64(m, n, kk, 1.0, la.p, rsa, csa, lb.p, rsb, csb, yp, n);
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
          yp[i * n + j] = yp[i * n + j] * alpha + (use_c ? cp[i * crs + j * ccs] * beta : 0.0);
    } else {
      /* numpy: int64 dot, scaled in double, cast back (truncation). */
      int64_t *yp = y.p;
      const int64_t *cp = lc.p;
      gemm_i64(m, n, kk, la.p, rsa, csa, lb.p, rsb, csb, yp, n);
      size_t dbytes = sizeof(double) * (size_t)(m * n + 1);
      double *d = qc_k_alloc(k, dbytes);
      if (!d) {
        s = QC_OOM();
      } else {
        for (int64_t i = 0; i < m; i++)
          for (int64_t j = 0; j < n; j++)
            d[i * n + j] = (double)yp[i * n + j] * alpha +
                           (use_c ? (double)cp[i * crs + j * ccs] * beta : 0.0);
        qc_convert(QC_F64, d, QC_I64, yp, (size_t)(m * n), 0);
        qc_k_free(k, d, dbytes);
      }
    }
  }
  loaded_free(k, &la);
  loaded_free(k, &lb);
  loaded_free(k, &lc);
  staged_finish(k, &y, !s);
  return s;
}

/* ---- Einsum --------------------------------------------------------------------------------- */

/* Labels: 'a'..'z' -> 0..25, 'A'..'Z' -> 26..51, ellipsis dims -> 52.. (right-aligned). */
enum { N_LETTERS = 52, MAX_LABELS = N_LETTERS + QC_MAX_RANK, MAX_TERM = 2 * QC_MAX_RANK };

/* An operand during the contraction: distinct labels with sizes and element strides. */
typedef struct eop {
  int32_t n;
  int8_t lab[MAX_LABELS];
  int64_t dim[MAX_LABELS], str[MAX_LABELS];
  const void *data;
  void *owned;
  size_t bytes;
} eop;

static int label_of(char ch) {
  if (ch >= 'a' && ch <= 'z') return ch - 'a';
  if (ch >= 'A' && ch <= 'Z') return ch - 'A' + 26;
  return -1;
}

/* Parse one term into labels (ellipsis expanded for an operand of `rank`; rank < 0 for the
 * output, where it expands to `ell` dims). Returns the number of labels or -1. */
static int32_t parse_term(const char *s, size_t len, int32_t rank, int32_t ell_out, int8_t *lab,
                          int32_t *ell_n) {
  int32_t letters = 0;
  bool has_ell = false;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '.') {
      if (has_ell || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.') return -1;
      has_ell = true;
      i += 2;
    } else if (label_of(s[i]) >= 0) {
      letters++;
    } else {
      return -1;
    }
  }
  int32_t ne = 0;
  if (has_ell) ne = rank >= 0 ? rank - letters : ell_out;
  if (ne < 0 || (!has_ell && rank >= 0 && letters != rank)) return -1;
  if (letters + ne > MAX_TERM) return -1;
  int32_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '.') {
      /* Ellipsis dims are right-aligned with the widest ellipsis (ell_out dims in all). */
      for (int32_t e = 0; e < ne; e++) lab[n++] = (int8_t)(N_LETTERS + ell_out - ne + e);
      i += 2;
    } else {
      lab[n++] = (int8_t)label_of(s[i]);
    }
  }
  if (ell_n) *ell_n = ne;
  return n;
}

static bool has_label(const int8_t *lab, int32_t n, int8_t l) {
  for (int32_t i = 0; i < n; i++)
    if (lab[i] == l) return true;
  return false;
}

/* dst (dense, labels keep[0..nk) in that order, sizes from size[]) = sum of the operand over
 * its other labels. Sums run in ACC (double for floats; uint64 for integers, which wrap). */
#define DEF_GATHER(T, ACC, sfx)                                                                   \
  static void gather_##sfx(const eop *src, int32_t nk, const int8_t *keep, const int64_t *size,  \
                           T *dst) {                                                              \
    int64_t kstr[MAX_LABELS], kdim[MAX_LABELS], rstr[MAX_LABELS], rdim[MAX_LABELS];              \
    int32_t nr = 0;                                                                              \
    for (int32_t i = 0; i < nk; i++) {                                                           \
      kdim[i] = size[keep[i]];                                                                   \
      kstr[i] = 0;                                                                               \
      for (int32_t j = 0; j < src->n; j++)                                                       \
        if (src->lab[j] == keep[i]) kstr[i] = src->str[j];                                       \
    }                                                                                            \
    for (int32_t j = 0; j < src->n; j++)                                                         \
      if (!has_label(keep, nk, src->lab[j])) {                                                   \
        rdim[nr] = src->dim[j];                                                                  \
        rstr[nr++] = src->str[j];                                                                \
      }                                                                                          \
    int64_t nout = 1, nred = 1;                                                                  \
    for (int32_t i = 0; i < nk; i++) nout *= kdim[i];                                            \
    for (int32_t i = 0; i < nr; i++) nred *= rdim[i];                                            \
    const T *s = src->data;                                                                      \
    int64_t kidx[MAX_LABELS] = {0}, koff = 0;                                                    \
    for (int64_t o = 0; o < nout; o++) {                                                         \
      ACC acc = 0;                                                                               \
      int64_t ridx[MAX_LABELS] = {0}, roff = 0;                                                  \
      for (int64_t r = 0; r < nred; r++) {                                                       \
        acc += (ACC)s[koff + roff];                                                              \
        for (int32_t d = nr - 1; d >= 0; d--) {                                                  \
          roff += rstr[d];                                                                       \
          if (++ridx[d] < rdim[d]) break;                                                        \
          roff -= rstr[d] * rdim[d];                                                             \
          ridx[d] = 0;                                                                           \
        }                                                                                        \
      }                                                                                          \
      dst[o] = (T)acc;                                                                           \
      for (int32_t d = nk - 1; d >= 0; d--) {                                                    \
        koff += kstr[d];                                                                         \
        if (++kidx[d] < kdim[d]) break;                                                          \
        koff -= kstr[d] * kdim[d];                                                               \
        kidx[d] = 0;                                                                             \
      }                                                                                          \
    }                                                                                            \
  }
DEF_GATHER(float, double, f32)
DEF_GATHER(double, double, f64)
DEF_GATHER(int64_t, uint64_t, i64)
#undef DEF_GATHER

static void gather_any(arith ar, const eop *src, int32_t nk, const int8_t *keep,
                       const int64_t *size, void *dst) {
  switch (ar) {
  case ARITH_F32: gather_f32(src, nk, keep, size, dst); break;
  case ARITH_F64: gather_f64(src, nk, keep, size, dst); break;
  case ARITH_I64: gather_i64(src, nk, keep, size, dst); break;
  }
}

static void eop_free(const qc_kctx *k, eop *o) {
  if (o->owned) qc_k_free(k, o->owned, o->bytes);
  o->owned = NULL;
}

/* A dense operand with labels lab[0..n). */
static qc_status eop_dense(const qc_kctx *k, arith ar, int32_t n, const int8_t *lab,
                           const int64_t *size, eop *o) {
  memset(o, 0, sizeof *o);
  o->n = n;
  int64_t numel = 1;
  for (int32_t i = n - 1; i >= 0; i--) {
    o->lab[i] = lab[i];
    o->dim[i] = size[lab[i]];
    o->str[i] = numel;
    numel *= size[lab[i]];
  }
  o->bytes = arith_size(ar) * (size_t)(numel ? numel : 1);
  o->owned = kcalloc(k, o->bytes);
  if (!o->owned) return QC_OOM();
  o->data = o->owned;
  return QC_OK;
}

/* Contract a and b keeping the labels in keep[0..nkeep) that they have. */
static qc_status contract(qc_kctx *k, arith ar, const eop *a, const eop *b, const int8_t *keep,
                          int32_t nkeep, const int64_t *size, eop *out) {
  int8_t bl[MAX_LABELS], ml[MAX_LABELS], nl[MAX_LABELS], kl[MAX_LABELS];
  int32_t nbt = 0, nm = 0, nn = 0, nkl = 0;
  for (int32_t i = 0; i < a->n; i++) {
    int8_t l = a->lab[i];
    bool inb = has_label(b->lab, b->n, l), kept = has_label(keep, nkeep, l);
    if (inb && kept) bl[nbt++] = l;
    else if (inb) kl[nkl++] = l;
    else if (kept) ml[nm++] = l;
  }
  for (int32_t i = 0; i < b->n; i++)
    if (!has_label(a->lab, a->n, b->lab[i]) && has_label(keep, nkeep, b->lab[i]))
      nl[nn++] = b->lab[i];
  int64_t B = 1, M = 1, N = 1, K = 1;
  for (int32_t i = 0; i < nbt; i++) B *= size[bl[i]];
  for (int32_t i = 0; i < nm; i++) M *= size[ml[i]];
  for (int32_t i = 0; i < nn; i++) N *= size[nl[i]];
  for (int32_t i = 0; i < nkl; i++) K *= size[kl[i]];
  /* A' = [batch, m, k], B' = [batch, k, n], both dense; result [batch, m, n]. */
  int8_t la[MAX_LABELS * 3], lb[MAX_LABELS * 3], lo[MAX_LABELS * 3];
  int32_t na = 0, nbb = 0, no = 0;
  for (int32_t i = 0; i < nbt; i++) la[na++] = lb[nbb++] = lo[no++] = bl[i];
  for (int32_t i = 0; i < nm; i++) la[na++] = lo[no++] = ml[i];
  for (int32_t i = 0; i < nkl; i++) la[na++] = kl[i];
  for (int32_t i = 0; i < nkl; i++) lb[nbb++] = kl[i];
  for (int32_t i = 0; i < nn; i++) lb[nbb++] = lo[no++] = nl[i];
  eop pa, pb;
  QC_RETURN_IF_ERROR(eop_dense(k, ar, na, la, size, &pa));
  qc_status s = eop_dense(k, ar, nbb, lb, size, &pb);
  if (s) {
    eop_free(k, &pa);
    return s;
  }
  gather_any(ar, a, na, la, size, pa.owned);
  gather_any(ar, b, nbb, lb, size, pb.owned);
  s = eop_dense(k, ar, no, lo, size, out);
  if (!s) {
    int64_t bd[1] = {B};
    s = batched_matmul(k, ar, 1, bd, 1, bd, M, N, K, pa.data, K, 1, M * K, pb.data, N, 1, K * N,
                       out->owned, 1, bd);
  }
  eop_free(k, &pa);
  eop_free(k, &pb);
  return s;
}

static qc_status k_einsum(qc_kctx *k) {
  const char *eq = qc_k_string(k, "equation", "");
  char buf[256];
  size_t len = 0;
  for (const char *p = eq; *p; p++)
    if (*p != ' ' && len + 1 < sizeof buf) buf[len++] = *p;
  buf[len] = 0;
  const char *arrow = strstr(buf, "->");
  size_t lhs_len = arrow ? (size_t)(arrow - buf) : len;
  int32_t n_in = k->n_in;
  if (n_in < 1) return qc_k_error(k, "no inputs");
  const qc_tensor *t0 = qc_k_in(k, 0);
  arith ar;
  if (!t0 || !arith_of(t0->dtype, &ar)) return qc_k_error(k, "unsupported dtype");
  /* Split the left-hand side into terms. */
  const char *term[64];
  size_t tlen[64];
  int32_t nt = 0;
  for (size_t i = 0, st = 0; i <= lhs_len; i++)
    if (i == lhs_len || buf[i] == ',') {
      if (nt == 64) return qc_k_error(k, "too many operands");
      term[nt] = buf + st;
      tlen[nt++] = i - st;
      st = i + 1;
    }
  if (nt != n_in)
    return qc_k_error(k, "equation '%s' has %d terms for %d inputs", eq, nt, n_in);
  /* Ellipsis width: the widest over the operands. */
  int32_t ell = 0;
  for (int32_t i = 0; i < n_in; i++) {
    const qc_tensor *t = qc_k_in(k, i);
    if (!t || t->dtype != t0->dtype) return qc_k_error(k, "input %d: missing or mismatched dtype", i);
    int32_t letters = 0;
    bool e = false;
    for (size_t j = 0; j < tlen[i]; j++) {
      if (term[i][j] == '.') e = true;
      else letters++;
    }
    if (e && t->rank - letters > ell) ell = t->rank - letters;
  }
  int64_t size[MAX_LABELS];
  for (int32_t l = 0; l < MAX_LABELS; l++) size[l] = -1;
  int32_t count[MAX_LABELS] = {0};
  eop ops[64];
  memset(ops, 0, sizeof ops);
  qc_status s = QC_OK;
  for (int32_t i = 0; i < n_in && !s; i++) {
    const qc_tensor *t = qc_k_in(k, i);
    int8_t lab[MAX_TERM];
    int32_t nl = parse_term(term[i], tlen[i], t->rank, ell, lab, NULL);
    if (nl < 0) {
      s = qc_k_error(k, "term %d of '%s' does not match input rank %d", i, eq, t->rank);
      break;
    }
    for (int32_t d = 0; d < nl; d++) count[lab[d]]++;
    /* Distinct labels; a repeated label takes the diagonal (strides add). */
    eop *o = &ops[i];
    int64_t str = 1;
    int64_t strides[MAX_TERM];
    for (int32_t d = t->rank - 1; d >= 0; d--) {
      strides[d] = str;
      str *= t->dims[d];
    }
    for (int32_t d = 0; d < nl; d++) {
      int32_t j = 0;
      while (j < o->n && o->lab[j] != lab[d]) j++;
      if (j < o->n) {
        if (o->dim[j] != t->dims[d]) {
          s = qc_k_error(k, "repeated label in term %d has different sizes", i);
          break;
        }
        o->str[j] += strides[d];
        continue;
      }
      o->lab[o->n] = lab[d];
      o->dim[o->n] = t->dims[d];
      o->str[o->n++] = strides[d];
    }
    for (int32_t j = 0; j < o->n && !s; j++) {
      int8_t l = o->lab[j];
      if (size[l] < 0 || size[l] == 1) size[l] = o->dim[j];
      else if (o->dim[j] != 1 && o->dim[j] != size[l])
        s = qc_k_error(k, "label '%c' has sizes %lld and %lld", l < 26 ? 'a' + l : l < 52 ? 'A' + l - 26 : '.',
                       (long long)size[l], (long long)o->dim[j]);
    }
    if (!s) {
      loaded ld;
      s = load_as(k, t, ar, &ld);
      o->data = ld.p;
      o->owned = ld.owned;
      o->bytes = ld.bytes;
    }
  }
  /* Broadcast size-1 dims to the label's size (stride 0). */
  for (int32_t i = 0; i < n_in && !s; i++)
    for (int32_t j = 0; j < ops[i].n; j++)
      if (ops[i].dim[j] == 1 && size[ops[i].lab[j]] != 1) {
        ops[i].dim[j] = size[ops[i].lab[j]];
        ops[i].str[j] = 0;
      }
  /* Output labels. */
  int8_t olab[MAX_TERM];
  int32_t no = 0;
  if (!s) {
    if (arrow) {
      no = parse_term(arrow + 2, strlen(arrow + 2), -1, ell, olab, NULL);
      if (no < 0) s = qc_k_error(k, "bad output term in '%s'", eq);
      for (int32_t i = 0; i < no && !s; i++) {
        if (size[olab[i]] < 0) s = qc_k_error(k, "output label not among the inputs in '%s'", eq);
        for (int32_t j = 0; j < i && !s; j++)
          if (olab[j] == olab[i]) s = qc_k_error(k, "repeated output label in '%s'", eq);
      }
    } else {
      for (int32_t e = 0; e < ell; e++) olab[no++] = (int8_t)(N_LETTERS + e);
      for (int32_t l = 0; l < N_LETTERS; l++)
        if (count[l] == 1) olab[no++] = (int8_t)l;
    }
  }
  int64_t odims[QC_MAX_RANK];
  if (!s && no > QC_MAX_RANK) s = qc_k_error(k, "output rank %d exceeds %d", no, QC_MAX_RANK);
  for (int32_t i = 0; i < no && !s; i++) odims[i] = size[olab[i]];
  /* Contract left to right, keeping the labels of the output and of later operands. */
  eop cur = ops[0];
  ops[0].owned = NULL;
  for (int32_t i = 1; i < n_in && !s; i++) {
    int8_t keep[MAX_LABELS];
    int32_t nk = 0;
    for (int32_t l = 0; l < MAX_LABELS; l++) {
      bool need = has_label(olab, no, (int8_t)l);
      for (int32_t j = i + 1; j < n_in && !need; j++) need = has_label(ops[j].lab, ops[j].n, (int8_t)l);
      if (need) keep[nk++] = (int8_t)l;
    }
    eop next;
    s = contract(k, ar, &cur, &ops[i], keep, nk, size, &next);
    eop_free(k, &cur);
    if (!s) cur = next;
  }
  if (!s) {
    staged y;
    s = staged_alloc(k, 0, t0->dtype, ar, no, odims, &y);
    if (!s) {
      gather_any(ar, &cur, no, olab, size, y.p);
      staged_finish(k, &y, true);
    }
  }
  eop_free(k, &cur);
  for (int32_t i = 0; i < n_in; i++) eop_free(k, &ops[i]);
  return s;
}

/* ---- Det ---------------------------------------------------------------------------------- */

static double det_lu(double *a, int64_t n) {
  double det = 1.0;
  for (int64_t c = 0; c < n; c++) {
    int64_t piv = c;
    for (int64_t r = c + 1; r < n; r++)
      if (fabs(a[r * n + c]) > fabs(a[piv * n + c])) piv = r;
    if (a[piv * n + c] == 0.0) return 0.0;
    if (piv != c) {
      for (int64_t j = 0; j < n; j++) {
        double t = a[c * n + j];
        a[c * n + j] = a[piv * n + j];
        a[piv * n + j] = t;
      }
      det = -det;
    }
    double d = a[c * n + c];
    det *= d;
    for (int64_t r = c + 1; r < n; r++) {
      double f = a[r * n + c] / d;
      for (int64_t j = c + 1; j < n; j++) a[r * n + j] -= f * a[c * n + j];
    }
  }
  return det;
}

static qc_status k_det(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0);
  if (!x || !qc_dtype_is_float(x->dtype)) return qc_k_error(k, "input must be a float tensor");
  if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
    return qc_k_error(k, "input must be [..., M, M]");
  int64_t n = x->dims[x->rank - 1];
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, x->dtype, x->rank - 2, x->dims, &y));
  int64_t nb = qc_tensor_numel(y);
  size_t bytes = sizeof(double) * (size_t)(n * n + 1) + sizeof(double) * (size_t)nb;
  double *w = qc_k_alloc(k, bytes);
  if (!w) return QC_OOM();
  double *res = w + n * n + 1;
  for (int64_t b = 0; b < nb; b++) {
    qc_convert(x->dtype, (const char *)qc_tensor_data(x) + qc_dtype_nbytes(x->dtype, (uint64_t)(b * n * n)),
               QC_F64, w, (size_t)(n * n), 0);
    res[b] = det_lu(w, n);
  }
  qc_convert(QC_F64, res, x->dtype, qc_tensor_data(y), (size_t)nb, 0);
  qc_k_free(k, w, bytes);
  return QC_OK;
}

const qc_kernel_entry qc_kernels_linalg[] = {
    {QC_OP_MatMul, k_matmul},
    {QC_OP_Gemm, k_gemm},
    {QC_OP_Einsum, k_einsum},
    {QC_OP_Det, k_det},
    {QC_OP_INVALID, NULL},
};
