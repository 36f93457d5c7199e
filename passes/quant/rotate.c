/* rotation{r1=true, r2=false, r4=false, online-r1=false, size=0, random-r1=false,
 * random-r2=false}: QuaRot / SpinQuant rotations (Ashkboos et al., 2024; Liu et al., 2024),
 * as Quark's `rotation` algorithm applies them (reference/quark.md §1.4), on an annotated
 * graph before smoothquant and `observe`. No data is needed and the float function is kept:
 * every rotation R is orthogonal and applied in pairs, x R on one side, R^T on the other.
 *
 * A row vector x is rotated as x' = x R. A layer y = x W^T ([out, in]) that reads x' keeps
 * its output with W' = W R; a layer whose output y is to come out rotated, y' = y R, takes
 * W' = R^T W and b' = b R.
 *
 * R1 (offline, the default). The residual stream of a pre-norm model is rotated by one R of
 * the hidden size. The stream is found from the RMSNormalization nodes: their inputs, and
 * everything joined to them through Add and Identity. What writes it takes R on its output:
 * the embedding table (E' = E R), Linear layers (o_proj, down_proj: W' = R^T W) and constants
 * added to it. What reads it is a norm, whose scale g folds into the Linears reading the
 * norm's output (W' = (W diag g) R, and g becomes 1, which RMSNorm needs to commute with R),
 * or a Linear reading it directly. A tied lm_head gets its own weight. Anything else on the
 * stream (a graph output, LayerNormalization, another op) is an error naming it: LayerNorm's
 * mean subtraction does not commute with R (use online_r1_rotation).
 *
 * R1 online (online_r1_rotation). Each group of quantized Linears that read one norm output
 * (through Identity; any norm) reads it through a new MatMul(x, R), "<layer>.input_rotate",
 * and takes W' = W R: what Quark's InputRotationWrapper does, for models whose stream cannot
 * be rotated offline (BERT's post-norm residual).
 *
 * R2. Per attention head, for an Attention op whose value input is a Linear's output read by
 * it alone: the value projection's rows of each head take H^T (its output per head comes out
 * rotated), and the Linears reading the attention output take H on each head's columns.
 * The attention mixes value rows with weights that do not depend on V, so it commutes.
 *
 * R4. Each quantized Linear that reads an MLP activation (Mul for gated MLPs, Gelu, Relu,
 * Sigmoid, Tanh, ...; that is down_proj, or BERT's output.dense) reads it through a new
 * MatMul(x, R) of its input width.
 *
 * R is a Hadamard matrix (qc_rotation_matrix, Quark's): of the whole width, or
 * block-diagonal with blocks of `size` (Quark's rotation_size); random-r1/-r2 multiply the
 * rows of the offline R1 / R2 by random signs (seeded: the same every run, where Quark draws
 * new ones); online rotations are always plain Hadamard matrices, as in Quark, whose loader
 * recomputes them. Weights are rotated in double precision, as Quark does. */
#include "passes/internal.h"
#include "passes/quant/qpass.h"
#include "passes/quant/quant_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Hadamard matrices ------------------------------------------------------------------- */

static bool is_prime(int64_t p) {
  if (p < 2) return false;
  for (int64_t d = 2; d * d <= p; d++)
    if (p % d == 0) return false;
  return true;
}

/* Legendre symbol of a mod prime q: 0, 1 or -1. */
static int chi(int64_t a, int64_t q) {
  a %= q;
  if (a < 0) a += q;
  if (a == 0) return 0;
  int64_t r = 1, b = a, e = (q - 1) / 2;
  while (e) {
    if (e & 1) r = r * b % q;
    b = b * b % q;
    e >>= 1;
  }
  return r == 1 ? 1 : -1;
}

/* An unnormalized Hadamard matrix of order k (k x k, entries +-1), in the form amd-quark's
 * table (QuaRot's, from Sloane's library) has it, so that a rotation quarc writes is the one
 * Quark computes when it loads the checkpoint (tests/oracle/quark_rotation.py checks each):
 *   Paley I, k = q + 1 (q prime, 3 mod 4): H = (I + S)^T, S the skew conference matrix
 *     (S[0][j] = 1, S[i][0] = -1, S[i][j] = chi(j - i) for i, j >= 1); Quark's 12, 20, 60,
 *     108, 140;
 *   Paley II, k = 2(q + 1) (q prime, 1 mod 4): H = A (x) C + B (x) I with C the symmetric
 *     conference matrix, A = [[1, 1], [1, -1]], B = [[1, -1], [-1, -1]]; Quark's 28, 36;
 *   40 = [[1, 1], [1, -1]] (x) H_20, as Quark's.
 * k = 1 too. False for other orders (Quark's Williamson matrices 52, 156, 172 among them). */
static bool hadamard_k(int64_t k, double *h) {
  if (k == 1) {
    h[0] = 1;
    return true;
  }
  if (k == 40) {
    double h20[400];
    if (!hadamard_k(20, h20)) return false;
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 2; b++)
        for (int i = 0; i < 20; i++)
          for (int j = 0; j < 20; j++)
            h[(a * 20 + i) * 40 + b * 20 + j] = (a == 1 && b == 1 ? -1 : 1) * h20[i * 20 + j];
    return true;
  }
  int64_t q = k - 1;
  if (is_prime(q) && q % 4 == 3) {
    for (int64_t i = 0; i < k; i++)
      for (int64_t j = 0; j < k; j++) {
        /* (I + S)[j][i] */
        double s = j == 0 ? (i == 0 ? 0 : 1) : i == 0 ? -1 : chi(i - j, q);
        h[i * k + j] = s + (i == j ? 1 : 0);
      }
    return true;
  }
  if (k % 2) return false;
  q = k / 2 - 1;
  if (!(is_prime(q) && q % 4 == 1)) return false;
  int64_t m = q + 1;
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++)
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < m; j++) {
          int c = i == 0 ? (j == 0 ? 0 : 1) : j == 0 ? 1 : chi(j - i, q);
          double av = a == 1 && b == 1 ? -1 : 1, bv = a == 0 && b == 0 ? 1 : -1;
          h[(a * m + i) * k + b * m + j] = av * c + (i == j ? bv : 0);
        }
  return true;
}

/* A rotation x -> x R of order n, kept factored: R = D (I_{n/k} (x) H_K (x) H_P) / sqrt(k)
 * with k = K * P the block, H_K from paley(), H_P Sylvester's (a fast Walsh-Hadamard
 * transform) and D random signs (or none). Applying it costs n (log P + K) per vector
 * instead of n^2. */
typedef struct rot {
  int64_t n, k, K, P;
  double *hk; /* K x K, +-1 */
  double norm;
  int8_t *sign; /* n, or NULL */
  double *tmp;  /* k */
} rot;

static void rot_free(rot *r) {
  free(r->hk);
  free(r->sign);
  free(r->tmp);
  memset(r, 0, sizeof *r);
}

static qc_status rot_make(int64_t n, int64_t block, bool random, uint64_t seed, rot *r) {
  memset(r, 0, sizeof *r);
  if (n < 1 || n > (1 << 20))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "rotation of order %lld", (long long)n);
  int64_t k = block > 0 ? block : n;
  if (n % k)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "rotation_size %lld does not divide the width %lld", (long long)k,
                         (long long)n);
  r->n = n;
  r->k = k;
  r->norm = 1.0 / sqrt((double)k);
  /* H_K (x) H_P, P a power of two: K as Quark picks it (the first of its table's orders
   * whose quotient is a power of two), else any order hadamard_k builds. */
  static const int64_t QUARK_ORDERS[] = {172, 156, 140, 108, 60, 52, 40, 36, 28, 20, 12};
  int64_t K = 0;
  if ((k & (k - 1)) == 0) K = 1;
  for (size_t i = 0; !K && i < sizeof QUARK_ORDERS / sizeof *QUARK_ORDERS; i++) {
    int64_t c = QUARK_ORDERS[i], p = k / c;
    if (k % c == 0 && (p & (p - 1)) == 0) K = c;
  }
  for (int64_t p = 1; !K && k % p == 0 && k / p <= 4096; p *= 2) {
    double *t = malloc(sizeof *t * (size_t)((k / p) * (k / p)));
    if (!t) return QC_OOM();
    if (hadamard_k(k / p, t)) K = k / p;
    free(t);
  }
  double *hk = K ? malloc(sizeof *hk * (size_t)(K * K)) : NULL;
  if (K && !hk) return QC_OOM();
  if (!K || !hadamard_k(K, hk)) {
    free(hk);
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "no Hadamard matrix of order %lld: quarc builds 2^a * K for K = 1, 40, "
                         "p + 1 (p prime, 3 mod 4) and 2(p + 1) (p prime, 1 mod 4), not Quark's "
                         "Williamson orders 52, 156, 172; set rotation_size to a block size that "
                         "divides it",
                         (long long)k);
  }
  r->hk = hk;
  r->K = K;
  r->P = k / K;
  r->tmp = malloc(sizeof *r->tmp * (size_t)k);
  if (random) r->sign = malloc((size_t)n);
  if (!r->tmp || (random && !r->sign)) {
    rot_free(r);
    return QC_OOM();
  }
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 0x5157ull;
  for (int64_t i = 0; random && i < n; i++) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    r->sign[i] = (int8_t)(s >> 63 ? -1 : 1);
  }
  return QC_OK;
}

/* v (n values) becomes v R. */
static void rot_apply(const rot *r, double *v) {
  int64_t k = r->k, K = r->K, P = r->P;
  if (r->sign)
    for (int64_t i = 0; i < r->n; i++) v[i] *= r->sign[i];
  for (int64_t b0 = 0; b0 < r->n; b0 += k) {
    double *w = v + b0;
    for (int64_t a = 0; a < K; a++) { /* H_P on each run of P */
      double *x = w + a * P;
      for (int64_t h = 1; h < P; h *= 2)
        for (int64_t i = 0; i < P; i += 2 * h)
          for (int64_t j = i; j < i + h; j++) {
            double p = x[j], q = x[j + h];
            x[j] = p + q;
            x[j + h] = p - q;
          }
    }
    if (K > 1) { /* H_K across the runs */
      for (int64_t i = 0; i < k; i++) r->tmp[i] = 0;
      for (int64_t a = 0; a < K; a++)
        for (int64_t b = 0; b < K; b++) {
          double h = r->hk[a * K + b];
          for (int64_t d = 0; d < P; d++) r->tmp[b * P + d] += h * w[a * P + d];
        }
      memcpy(w, r->tmp, sizeof *w * (size_t)k);
    }
    for (int64_t i = 0; i < k; i++) w[i] *= r->norm;
  }
}

/* R as a dense n x n matrix (malloc'd). */
static qc_status rot_dense(const rot *r, double **out) {
  int64_t n = r->n;
  double *m = calloc((size_t)(n * n), sizeof *m);
  if (!m) return QC_OOM();
  for (int64_t i = 0; i < n; i++) { /* row i of R is e_i R */
    m[i * n + i] = 1;
    rot_apply(r, m + i * n);
  }
  *out = m;
  return QC_OK;
}

qc_status qc_rotation_matrix(int64_t n, int64_t block, bool random, uint64_t seed, double **out) {
  *out = NULL;
  rot r;
  QC_RETURN_IF_ERROR(rot_make(n, block, random, seed, &r));
  qc_status st = rot_dense(&r, out);
  rot_free(&r);
  return st;
}

/* ---- rotating weights -------------------------------------------------------------------- */

/* For t < count: the vector v_t[e] = a[t * vstride + e * estride] (e < n) becomes v_t R, in
 * double precision. */
static qc_status rotate_vectors(float *a, int64_t count, int64_t vstride, int64_t estride,
                                const rot *r) {
  int64_t n = r->n;
  double *v = malloc(sizeof *v * (size_t)n);
  if (!v) return QC_OOM();
  for (int64_t t = 0; t < count; t++) {
    float *p = a + t * vstride;
    for (int64_t e = 0; e < n; e++) v[e] = p[e * estride];
    rot_apply(r, v);
    for (int64_t e = 0; e < n; e++) p[e * estride] = (float)v[e];
  }
  free(v);
  return QC_OK;
}

/* What a change does to one layer's weight ([out, in] for Linear, [num, dim] for
 * Embedding). */
typedef enum edit_kind {
  IN_COLS,  /* every row takes R (input columns): W R, after scaling the columns by g */
  OUT_ROWS, /* the output rows: R^T W (each column takes R), bias b R */
  HEAD_IN,  /* per head block of `hd` input columns: the rows of the block take H */
  HEAD_OUT, /* per head block of `hd` output rows: R^T on the block, bias block b H */
} edit_kind;

/* The constant at input `slot` of node n, when nothing else reads it (the new constant that
 * replaces it then takes its name: exporters find parameters by name), else QC_NONE. */
static qc_status sole_const(const qc_graph *g, qc_nid node, int32_t slot, qc_vid *out) {
  qc_vid v = qc_graph_node(g, node)->in[slot];
  qc_uses u;
  QC_RETURN_IF_ERROR(qc_uses_compute(g, &u));
  *out = qc_uses_count(&u, v) == 1 ? v : QC_NONE;
  qc_uses_free(g, &u);
  return QC_OK;
}

/* A float vector constant at input `slot` of node n: each run of `n` elements of its last axis
 * becomes v R (in blocks of hd when hd < its length). The node gets a new constant. */
static qc_status rotate_const_input(qc_graph *g, qc_nid node, int32_t slot, const rot *r) {
  int64_t n = r->n;
  qc_vid v = qc_graph_node(g, node)->in[slot];
  const qc_value *cv = qc_graph_value(g, v);
  if (cv->kind != QC_VALUE_CONST || !qc_dtype_is_float(cv->type.dtype) ||
      qc_dtype_is_block(cv->type.dtype) || cv->type.rank < 1 ||
      cv->type.dims[cv->type.rank - 1] % n != 0)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: input %d ('%s') is not a float constant over the %lld channels",
                         qc_node_desc(g, node), (int)slot, cv->name, (long long)n);
  float *f;
  QC_RETURN_IF_ERROR(qc_qtensor_f32(&cv->cst, &f));
  qc_tensor t;
  int64_t numel = qc_tensor_numel(&cv->cst);
  qc_status st = qc_tensor_alloc(&t, qc_graph_allocator(g), QC_F32, cv->type.rank, cv->type.dims);
  if (!st) {
    st = rotate_vectors(f, numel / n, n, 1, r);
    if (!st) memcpy(qc_tensor_data(&t), f, sizeof *f * (size_t)numel);
    qc_vid named_after = QC_NONE, nv;
    if (!st) st = sole_const(g, node, slot, &named_after);
    if (!st) st = qc_qreplace_input(g, node, slot, &t, named_after, &nv);
    qc_tensor_release(&t);
  }
  free(f);
  return st;
}

/* Apply one edit to layer s. gamma (may be NULL) scales the input columns first (IN_COLS). */
static qc_status edit_layer(qc_graph *g, qc_qsite *s, edit_kind k, const rot *r,
                            const float *gamma) {
  int64_t n = r->n;
  float *w;
  int64_t rows, cols;
  QC_RETURN_IF_ERROR(qc_qsite_weight(g, s, &w, &rows, &cols));
  qc_status st = QC_OK;
  int64_t want = k == IN_COLS || k == HEAD_IN ? cols : rows;
  if (s->type == QC_QLAYER_EMBEDDING) want = cols;
  if (want % n)
    st = qc_status_new(QC_CODE_INVALID_ARGUMENT, "layer '%s': %lld channels, rotation of %lld",
                       s->name, (long long)want, (long long)n);
  if (!st && s->type == QC_QLAYER_EMBEDDING) {
    st = rotate_vectors(w, rows, cols, 1, r); /* E R */
  } else if (!st && k == IN_COLS) {
    if (gamma)
      for (int64_t i = 0; i < rows; i++)
        for (int64_t c = 0; c < cols; c++) w[i * cols + c] *= gamma[c];
    st = rotate_vectors(w, rows, cols, 1, r);
  } else if (!st && k == HEAD_IN) {
    for (int64_t h = 0; h < cols / n && !st; h++) st = rotate_vectors(w + h * n, rows, cols, 1, r);
  } else if (!st) {
    /* R^T on a block of n rows: each column of the block (stride cols) takes R. */
    for (int64_t h = 0; h < rows / n && !st; h++)
      st = rotate_vectors(w + h * n * cols, cols, 1, cols, r);
  }
  if (!st) st = qc_qsite_own_weight(g, s, w);
  free(w);
  if (!st && (k == OUT_ROWS || k == HEAD_OUT) && s->bias >= 0) {
    if (qc_graph_node(g, s->bias_user)->in[s->bias_slot] != s->bias)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "layer '%s': its bias is not a plain constant",
                           s->name);
    st = rotate_const_input(g, s->bias_user, s->bias_slot, r);
    if (!st) s->bias = qc_graph_node(g, s->bias_user)->in[s->bias_slot];
  }
  return st;
}

/* ---- the graph around the layers ---------------------------------------------------------- */

typedef struct rctx {
  qc_graph *g;
  qc_qsite *s;
  int32_t ns;
  qc_uses u;
  bool *changed; /* per site */
} rctx;

static int32_t site_by_node(const rctx *c, qc_nid n) {
  for (int32_t i = 0; i < c->ns; i++)
    if (c->s[i].node == n) return i;
  return -1;
}

static int32_t linear_by_out(const rctx *c, qc_vid v) {
  for (int32_t i = 0; i < c->ns; i++)
    if (c->s[i].type == QC_QLAYER_LINEAR && c->s[i].out == v) return i;
  return -1;
}

/* v with Identity nodes looked through, upwards. */
static qc_vid through_identity(const qc_graph *g, qc_vid v) {
  for (;;) {
    const qc_value *x = qc_graph_value(g, v);
    if (x->kind != QC_VALUE_NODE || qc_graph_node(g, x->node)->op != QC_OP_Identity) return v;
    v = qc_graph_node(g, x->node)->in[0];
  }
}

/* x appended to list[0..n) unless already there. */
static void add_unique(int32_t *list, int32_t *n, int32_t x) {
  for (int32_t i = 0; i < *n; i++)
    if (list[i] == x) return;
  list[(*n)++] = x;
}

/* The Linear sites reading v in their activation slot, through Identity nodes; false when
 * anything else reads it (or v is a graph output). list (ns entries) gets the sites. */
static bool linear_readers(const rctx *c, qc_vid v, int32_t *list, int32_t *n) {
  for (int32_t k = c->u.start[v]; k < c->u.start[v + 1]; k++) {
    qc_use use = c->u.use[k];
    if (use.node < 0 || use.slot < 0) return false;
    const qc_node *nd = qc_graph_node(c->g, use.node);
    if (nd->op == QC_OP_Identity) {
      if (!linear_readers(c, nd->out[0], list, n)) return false;
      continue;
    }
    int32_t i = site_by_node(c, use.node);
    if (i < 0 || c->s[i].type != QC_QLAYER_LINEAR || c->s[i].x_slot != use.slot) return false;
    add_unique(list, n, i);
  }
  return true;
}

/* x R for the layers reading x: a new MatMul(x, R). The constant R is shared by every
 * rotation of the same order and block (*rv: QC_NONE the first time), so that a model keeps
 * one copy (SmolLM2's 30 down_proj rotations would otherwise take 283 MB). */
static qc_status add_rotation_matmul(rctx *c, qc_vid x, const int32_t *layers, int32_t nl,
                                     const rot *r, qc_vid *rv) {
  qc_graph *g = c->g;
  int64_t n = r->n, dims[2] = {n, n};
  const char *first = c->s[layers[0]].name;
  size_t bl = strlen(first) + 32;
  char *base = malloc(bl), *out = NULL;
  qc_vid xr;
  qc_status st = base ? QC_OK : QC_OOM();
  if (!st && *rv == QC_NONE) {
    qc_tensor t;
    double *m = NULL;
    st = qc_tensor_alloc(&t, qc_graph_allocator(g), QC_F32, 2, dims);
    if (!st && (st = rot_dense(r, &m))) qc_tensor_release(&t);
    if (!st) {
      float *d = qc_tensor_data(&t);
      for (int64_t i = 0; i < n * n; i++) d[i] = (float)m[i];
      snprintf(base, bl, "%s.input_rotation", first);
      st = qc_qadd_const(g, base, &t, rv);
      qc_tensor_release(&t);
    }
    free(m);
  }
  if (!st) {
    snprintf(base, bl, "%s.input_rotated", first);
    out = qc_qunique_name(g, base);
    if (!out) st = QC_OOM();
  }
  if (!st) {
    snprintf(base, bl, "%s.input_rotate", first);
    st = qc_graph_add_op(g, QC_OP_MatMul, base, 2, (qc_vid[]){x, *rv}, out, &xr);
  }
  if (!st) st = qc_graph_set_type(g, xr, &qc_graph_value(g, x)->type);
  for (int32_t k = 0; k < nl && !st; k++) {
    qc_qsite *s = &c->s[layers[k]];
    qc_node_set_input(g, s->node, s->x_slot, xr);
    st = edit_layer(g, s, IN_COLS, r, NULL);
    c->changed[layers[k]] = true;
  }
  free(base);
  free(out);
  return st;
}

/* The quantized Linear layers reading each distinct value that `pick` accepts get an online
 * rotation of the value's width (a plain Hadamard matrix, as Quark's online rotations). */
static qc_status online(rctx *c, bool (*pick)(const qc_graph *, qc_vid), int64_t block,
                        int32_t *groups) {
  qc_graph *g = c->g;
  int32_t *grp = malloc(sizeof *grp * (size_t)(c->ns ? c->ns : 1));
  bool *done = calloc((size_t)(c->ns ? c->ns : 1), sizeof *done);
  qc_status st = grp && done ? QC_OK : QC_OOM();
  struct { int64_t n; qc_vid v; } made[8]; /* the rotation constants, per order */
  int32_t n_made = 0;
  *groups = 0;
  for (int32_t i = 0; i < c->ns && !st; i++) {
    qc_qsite *s = &c->s[i];
    if (done[i] || s->type != QC_QLAYER_LINEAR || s->x_slot < 0) continue;
    qc_vid x = qc_graph_node(g, s->node)->in[s->x_slot];
    if (!pick(g, through_identity(g, x)) || !qc_qsite_quantized(g, s, &st)) continue;
    const qc_type *xt = &qc_graph_value(g, x)->type;
    if (xt->rank < 1 || !qc_dim_is_static(xt->dims[xt->rank - 1])) continue;
    int64_t n = xt->dims[xt->rank - 1];
    int32_t ng = 0;
    for (int32_t j = i; j < c->ns && !st; j++) {
      qc_qsite *o = &c->s[j];
      if (o->type == QC_QLAYER_LINEAR && o->x_slot >= 0 &&
          qc_graph_node(g, o->node)->in[o->x_slot] == x && qc_qsite_quantized(g, o, &st)) {
        grp[ng++] = j;
        done[j] = true;
      }
    }
    rot r = {0};
    if (!st) st = rot_make(n, block, false, 0, &r);
    qc_vid rv = QC_NONE;
    int32_t mi = 0;
    while (mi < n_made && made[mi].n != n) mi++;
    if (mi < n_made) rv = made[mi].v;
    if (!st) st = add_rotation_matmul(c, x, grp, ng, &r, &rv);
    if (!st && mi == n_made && n_made < 8) {
      made[n_made].n = n;
      made[n_made++].v = rv;
    }
    if (st) st = qc_status_wrap(st, "layer '%s'", s->name);
    rot_free(&r);
    (*groups)++;
  }
  free(grp);
  free(done);
  return st;
}

static bool is_norm(const qc_graph *g, qc_vid v) {
  const qc_value *x = qc_graph_value(g, v);
  if (x->kind != QC_VALUE_NODE) return false;
  qc_op op = qc_graph_node(g, x->node)->op;
  return op == QC_OP_RMSNormalization || op == QC_OP_LayerNormalization;
}

static bool is_activation(const qc_graph *g, qc_vid v) {
  const qc_value *x = qc_graph_value(g, v);
  if (x->kind != QC_VALUE_NODE) return false;
  switch (qc_graph_node(g, x->node)->op) {
    case QC_OP_Mul: case QC_OP_Gelu: case QC_OP_Relu: case QC_OP_LeakyRelu: case QC_OP_Elu:
    case QC_OP_Selu: case QC_OP_Sigmoid: case QC_OP_Tanh: case QC_OP_HardSwish:
    case QC_OP_HardSigmoid: case QC_OP_Softplus:
      return true;
    default:
      return false;
  }
}

/* ---- R1 offline --------------------------------------------------------------------------- */

typedef struct stream {
  bool *in;        /* per value: on the residual stream */
  qc_vid *queue;
  int32_t nq;
  int64_t width;
  qc_nid *norms;   /* RMSNormalization nodes reading it */
  int32_t nn;
  int32_t *writers; /* sites (Linear, Embedding) that write it */
  int32_t nw;
  int32_t *readers; /* Linear sites reading it directly */
  int32_t nr;
  qc_use *consts;  /* constant inputs added to it: (node, slot) */
  int32_t nc;
} stream;

static qc_status off_stream(const rctx *c, qc_vid v, const char *what) {
  return qc_status_new(QC_CODE_UNIMPLEMENTED,
                       "r1: the residual stream value '%s' %s, which R1 cannot rotate offline "
                       "(online_r1_rotation rotates each layer's input instead)",
                       qc_graph_value(c->g, v)->name, what);
}

static qc_status push(const rctx *c, stream *sm, qc_vid v) {
  if (sm->in[v]) return QC_OK;
  const qc_type *t = &qc_graph_value(c->g, v)->type;
  if (t->rank < 1 || t->dims[t->rank - 1] != sm->width)
    return off_stream(c, v, "does not have the hidden size as its last dimension");
  sm->in[v] = true;
  sm->queue[sm->nq++] = v;
  return QC_OK;
}

/* The other operand of a binary Add joined to the stream: on the stream too, or a constant
 * to rotate. */
static qc_status join_operand(const rctx *c, stream *sm, qc_nid n, int32_t slot) {
  qc_vid v = qc_graph_node(c->g, n)->in[slot];
  if (qc_graph_value(c->g, v)->kind == QC_VALUE_CONST) {
    for (int32_t i = 0; i < sm->nc; i++)
      if (sm->consts[i].node == n && sm->consts[i].slot == slot) return QC_OK;
    sm->consts[sm->nc++] = (qc_use){n, slot};
    return QC_OK;
  }
  return push(c, sm, v);
}

static qc_status grow(const rctx *c, stream *sm) {
  qc_graph *g = c->g;
  for (int32_t qi = 0; qi < sm->nq; qi++) {
    qc_vid v = sm->queue[qi];
    const qc_value *val = qc_graph_value(g, v);
    /* What produces v. */
    int32_t w = linear_by_out(c, v);
    if (w >= 0) {
      add_unique(sm->writers, &sm->nw, w);
    } else if (val->kind != QC_VALUE_NODE) {
      return off_stream(c, v, val->kind == QC_VALUE_CONST ? "is a constant" : "is a graph input");
    } else {
      const qc_node *p = qc_graph_node(g, val->node);
      int32_t e = site_by_node(c, val->node);
      if (p->op == QC_OP_Identity) {
        QC_RETURN_IF_ERROR(push(c, sm, p->in[0]));
      } else if (p->op == QC_OP_Add && p->n_in == 2) {
        for (int32_t k = 0; k < 2; k++) QC_RETURN_IF_ERROR(join_operand(c, sm, val->node, k));
      } else if (e >= 0 && c->s[e].type == QC_QLAYER_EMBEDDING) {
        add_unique(sm->writers, &sm->nw, e);
      } else {
        char m[200];
        snprintf(m, sizeof m, "is computed by %s", qc_node_desc(g, val->node));
        return off_stream(c, v, m);
      }
    }
    /* What reads v. */
    for (int32_t k = c->u.start[v]; k < c->u.start[v + 1]; k++) {
      qc_use use = c->u.use[k];
      if (use.node < 0) return off_stream(c, v, "is a graph output");
      const qc_node *nd = qc_graph_node(g, use.node);
      int32_t i = site_by_node(c, use.node);
      if (nd->op == QC_OP_Identity) {
        QC_RETURN_IF_ERROR(push(c, sm, nd->out[0]));
      } else if (nd->op == QC_OP_Add && nd->n_in == 2) {
        QC_RETURN_IF_ERROR(push(c, sm, nd->out[0]));
        QC_RETURN_IF_ERROR(join_operand(c, sm, use.node, 1 - use.slot));
      } else if (nd->op == QC_OP_RMSNormalization && use.slot == 0) {
        int64_t axis = qc_node_int(g, use.node, "axis", -1);
        if (axis != -1 && axis != val->type.rank - 1)
          return off_stream(c, v, "is normalized over more than its last axis");
        add_unique(sm->norms, &sm->nn, use.node);
      } else if (i >= 0 && c->s[i].type == QC_QLAYER_LINEAR && c->s[i].x_slot == use.slot) {
        add_unique(sm->readers, &sm->nr, i);
      } else {
        char m[200];
        snprintf(m, sizeof m, "is read by %s", qc_node_desc(g, use.node));
        return off_stream(c, v, m);
      }
    }
  }
  return QC_OK;
}

static qc_status r1_offline(rctx *c, const qc_qalgo *a) {
  qc_graph *g = c->g;
  int32_t nv = qc_graph_num_values(g), nn = qc_graph_num_nodes(g);
  stream sm = {0};
  sm.in = calloc((size_t)nv, sizeof *sm.in);
  sm.queue = malloc(sizeof *sm.queue * (size_t)nv);
  sm.norms = malloc(sizeof *sm.norms * (size_t)(nn ? nn : 1));
  sm.writers = malloc(sizeof *sm.writers * (size_t)(c->ns ? c->ns : 1));
  sm.readers = malloc(sizeof *sm.readers * (size_t)(c->ns ? c->ns : 1));
  sm.consts = malloc(sizeof *sm.consts * (size_t)(2 * nn + 1));
  int32_t *nreaders = malloc(sizeof *nreaders * (size_t)(c->ns ? c->ns : 1));
  rot r = {0};
  qc_status st = sm.in && sm.queue && sm.norms && sm.writers && sm.readers && sm.consts && nreaders
                     ? QC_OK
                     : QC_OOM();
  /* Seeds: the inputs of the RMSNorms over the last axis. */
  for (qc_nid n = 0; n < nn && !st; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead || nd->op != QC_OP_RMSNormalization) continue;
    const qc_type *t = &qc_graph_value(g, nd->in[0])->type;
    if (t->rank < 1 || !qc_dim_is_static(t->dims[t->rank - 1])) continue;
    if (sm.width == 0) sm.width = t->dims[t->rank - 1];
    if (t->dims[t->rank - 1] == sm.width) st = push(c, &sm, nd->in[0]);
  }
  if (!st && sm.width == 0)
    st = qc_status_new(QC_CODE_UNIMPLEMENTED,
                       "r1: the graph has no RMSNormalization over a static last axis, so no "
                       "residual stream to rotate offline (online_r1_rotation rotates each "
                       "layer's input instead)");
  if (!st) st = grow(c, &sm);
  if (!st) st = rot_make(sm.width, a->rotation_size, a->random_r1, 1, &r);
  /* Readers through the norms first: lm_head, tied to the embedding, gets its own weight
   * before the embedding's changes. Then the norms' scales become 1. */
  for (int32_t j = 0; j < sm.nn && !st; j++) {
    qc_nid nid = sm.norms[j];
    const qc_node *nd = qc_graph_node(g, nid);
    int32_t nr = 0;
    if (!linear_readers(c, nd->out[0], nreaders, &nr)) {
      st = qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "r1: %s is read by something other than Linear layers, so its scale "
                         "cannot be folded", qc_node_desc(g, nid));
      break;
    }
    const qc_value *gv = qc_graph_value(g, nd->in[1]);
    float *gamma = NULL;
    if (gv->kind != QC_VALUE_CONST || gv->type.rank != 1 || gv->type.dims[0] != sm.width)
      st = qc_status_new(QC_CODE_UNIMPLEMENTED, "r1: %s: its scale is not a constant [%lld]",
                         qc_node_desc(g, nid), (long long)sm.width);
    if (!st) st = qc_qtensor_f32(&gv->cst, &gamma);
    for (int32_t k = 0; k < nr && !st; k++) {
      st = edit_layer(g, &c->s[nreaders[k]], IN_COLS, &r, gamma);
      c->changed[nreaders[k]] = true;
    }
    if (!st) {
      qc_tensor ones;
      st = qc_tensor_alloc(&ones, qc_graph_allocator(g), QC_F32, 1, &sm.width);
      if (!st) {
        float *o = qc_tensor_data(&ones);
        for (int64_t i = 0; i < sm.width; i++) o[i] = 1.0f;
        qc_vid named_after = QC_NONE, v;
        st = sole_const(g, nid, 1, &named_after);
        if (!st) st = qc_qreplace_input(g, nid, 1, &ones, named_after, &v);
        qc_tensor_release(&ones);
      }
    }
    if (st) st = qc_status_wrap(st, "r1: %s", qc_node_desc(g, nid));
    free(gamma);
  }
  for (int32_t k = 0; k < sm.nr && !st; k++) {
    st = edit_layer(g, &c->s[sm.readers[k]], IN_COLS, &r, NULL);
    c->changed[sm.readers[k]] = true;
  }
  for (int32_t k = 0; k < sm.nw && !st; k++) {
    st = edit_layer(g, &c->s[sm.writers[k]], OUT_ROWS, &r, NULL);
    c->changed[sm.writers[k]] = true;
  }
  for (int32_t k = 0; k < sm.nc && !st; k++)
    st = rotate_const_input(g, sm.consts[k].node, sm.consts[k].slot, &r);
  rot_free(&r);
  free(sm.in);
  free(sm.queue);
  free(sm.norms);
  free(sm.writers);
  free(sm.readers);
  free(sm.consts);
  free(nreaders);
  return st;
}

/* ---- R2 ----------------------------------------------------------------------------------- */

static qc_status r2(rctx *c, const qc_qalgo *a, int32_t *done) {
  qc_graph *g = c->g;
  int32_t *readers = malloc(sizeof *readers * (size_t)(c->ns ? c->ns : 1));
  qc_status st = readers ? QC_OK : QC_OOM();
  *done = 0;
  for (qc_nid n = 0; n < qc_graph_num_nodes(g) && !st; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead || nd->op != QC_OP_Attention) continue;
    const qc_type *vt = &qc_graph_value(g, nd->in[2])->type;
    int64_t kvh = qc_node_int(g, n, "kv_num_heads", 0);
    int32_t vs = linear_by_out(c, nd->in[2]), nr = 0;
    if (vt->rank != 3 || kvh <= 0 || !qc_dim_is_static(vt->dims[2]) || vt->dims[2] % kvh) {
      st = qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "r2: %s: its value is not [batch, seq, kv_num_heads * head_dim]",
                         qc_node_desc(g, n));
      break;
    }
    if (vs < 0 || qc_uses_count(&c->u, nd->in[2]) != 1 ||
        (qc_graph_node(g, c->s[vs].node)->out[0] != nd->in[2] &&
         qc_uses_count(&c->u, qc_graph_node(g, c->s[vs].node)->out[0]) != 1)) {
      st = qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "r2: %s: its value is not the output of a Linear layer that only it "
                         "reads", qc_node_desc(g, n));
      break;
    }
    if (!linear_readers(c, nd->out[0], readers, &nr) || nr == 0) {
      st = qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "r2: %s: its output is read by something other than Linear layers",
                         qc_node_desc(g, n));
      break;
    }
    int64_t hd = vt->dims[2] / kvh;
    rot r = {0};
    st = rot_make(hd, 0, a->random_r2, 2, &r);
    if (!st) st = edit_layer(g, &c->s[vs], HEAD_OUT, &r, NULL);
    c->changed[vs] = true;
    for (int32_t k = 0; k < nr && !st; k++) {
      st = edit_layer(g, &c->s[readers[k]], HEAD_IN, &r, NULL);
      c->changed[readers[k]] = true;
    }
    if (st) st = qc_status_wrap(st, "r2: %s", qc_node_desc(g, n));
    rot_free(&r);
    (*done)++;
  }
  free(readers);
  return st;
}

/* ---- the pass ----------------------------------------------------------------------------- */

qc_status qc_quant_rotate(qc_graph *g, const qc_qalgo *a, int32_t *n_layers) {
  if (n_layers) *n_layers = 0;
  QC_RETURN_IF_ERROR(qc_qcheck_before_observe(g, "rotation"));
  rctx c = {g, NULL, 0, {0}, NULL};
  QC_RETURN_IF_ERROR(qc_qsites_find(g, &c.s, &c.ns));
  c.changed = calloc((size_t)(c.ns ? c.ns : 1), sizeof *c.changed);
  qc_status st = c.changed ? QC_OK : QC_OOM();
  /* Each step sees the graph as the steps before it left it. */
  int32_t groups = 0;
  if (!st && a->r1 && !a->online_r1 && !(st = qc_uses_compute(g, &c.u))) {
    st = r1_offline(&c, a);
    qc_uses_free(g, &c.u);
  }
  if (!st && a->r2 && !(st = qc_uses_compute(g, &c.u))) {
    st = r2(&c, a, &groups);
    qc_uses_free(g, &c.u);
    if (!st && groups == 0)
      st = qc_status_new(QC_CODE_UNIMPLEMENTED, "r2: the graph has no Attention node (the "
                                                "value and output projections are found from it)");
  }
  if (!st && a->r1 && a->online_r1 && !(st = qc_uses_compute(g, &c.u))) {
    /* Hadamard, random_r1 or not: Quark's online R1 ignores it, and recomputes a full-width
     * online rotation from its own table when it loads a checkpoint. */
    st = online(&c, is_norm, a->rotation_size, &groups);
    qc_uses_free(g, &c.u);
    if (!st && groups == 0)
      st = qc_status_new(QC_CODE_UNIMPLEMENTED, "r1: no quantized Linear layer reads a norm");
  }
  if (!st && a->r4 && !(st = qc_uses_compute(g, &c.u))) {
    st = online(&c, is_activation, a->rotation_size, &groups);
    qc_uses_free(g, &c.u);
    if (!st && groups == 0)
      st = qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "r4: no quantized Linear layer reads an MLP activation");
  }
  int32_t changed = 0;
  for (int32_t i = 0; i < c.ns; i++) changed += c.changed[i];
  if (!st && n_layers) *n_layers = changed;
  free(c.changed);
  qc_qsites_free(c.s, c.ns);
  if (!st) st = qc_graph_toposort(g); /* the inserted MatMuls */
  if (!st) st = qc_graph_verify(g);
  return st;
}

static qc_status run_rotation(qc_graph *g, const qc_pass_args *pa, void *user) {
  (void)user;
  qc_qalgo a = {.kind = QC_QALGO_ROTATION, .name = "rotation"};
  a.r1 = qc_pass_arg_bool(pa, "r1");
  a.r2 = qc_pass_arg_bool(pa, "r2");
  a.r4 = qc_pass_arg_bool(pa, "r4");
  a.online_r1 = qc_pass_arg_bool(pa, "online-r1");
  a.rotation_size = qc_pass_arg_int(pa, "size");
  a.random_r1 = qc_pass_arg_bool(pa, "random-r1");
  a.random_r2 = qc_pass_arg_bool(pa, "random-r2");
  if (a.rotation_size < 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "rotation: size %lld is negative",
                         (long long)a.rotation_size);
  return qc_quant_rotate(g, &a, NULL);
}

static const qc_pass_option OPTIONS[] = {
    {"r1", QC_OPT_BOOL, "true", "rotate the residual stream (hidden size)"},
    {"r2", QC_OPT_BOOL, "false", "rotate each attention head between v_proj and o_proj"},
    {"r4", QC_OPT_BOOL, "false", "rotate the input of down_proj online"},
    {"online-r1", QC_OPT_BOOL, "false", "R1 as a MatMul before the layers reading a norm"},
    {"size", QC_OPT_INT, "0", "block size of R1 and R4 (0: the whole width)"},
    {"random-r1", QC_OPT_BOOL, "false", "R1 with random signs (seeded)"},
    {"random-r2", QC_OPT_BOOL, "false", "R2 with random signs (seeded)"},
};
const qc_pass_info qc_pass_rotation = {
    "rotation", "QuaRot/SpinQuant Hadamard rotations R1, R2, R4 (before smoothquant and observe)",
    OPTIONS, 7, run_rotation, NULL};
