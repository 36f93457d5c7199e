/* Interpreter kernels: control flow (If, Loop, Scan), sequences and optionals.
 *
 * Bodies run through qc_k_run_subgraph, which gives them a frame that sees the enclosing
 * frames' values by name. Loop-carried values are whole qc_rvalues (tensors, sequences,
 * empty or present optionals) and pass from one iteration to the next by reference.
 * Scan outputs are collected per iteration and stacked once at the end. */
#include "runtime/kmove.h"

#include <stdlib.h>

/* ---- value helpers ------------------------------------------------------------------------- */

/* Move tensor t (its reference) into output i. */
static void out_take_tensor(qc_kctx *k, int32_t i, qc_tensor *t) {
  qc_rvalue_release(&k->out[i]);
  k->out[i].kind = QC_RV_TENSOR;
  k->out[i].elem = t->dtype;
  k->out[i].t = *t;
  memset(t, 0, sizeof *t);
}

/* Move rvalue v into output i. */
static void out_take(qc_kctx *k, int32_t i, qc_rvalue *v) {
  qc_rvalue_release(&k->out[i]);
  k->out[i] = *v;
  memset(v, 0, sizeof *v);
}

static void release_all(qc_rvalue *v, int32_t n) {
  for (int32_t i = 0; i < n; i++) qc_rvalue_release(&v[i]);
}

static qc_status scalar_tensor(const qc_kctx *k, qc_dtype dt, int64_t v, qc_tensor *t) {
  QC_RETURN_IF_ERROR(qc_tensor_alloc(t, k->alloc, dt, 0, NULL));
  qc_elem_set_i64(dt, qc_tensor_data(t), 0, v);
  return QC_OK;
}

static qc_status read_bool(const qc_kctx *k, const qc_rvalue *v, const char *what, bool *out) {
  if (!v || v->kind != QC_RV_TENSOR || qc_tensor_numel(&v->t) < 1)
    return qc_k_error(k, "%s must be a tensor with one element", what);
  *out = qc_elem_f64(v->t.dtype, qc_tensor_data(&v->t), 0) != 0;
  return QC_OK;
}

static qc_status read_int(const qc_kctx *k, const qc_tensor *t, const char *what, int64_t *out) {
  if (!t || qc_tensor_numel(t) != 1 || !qc_dtype_is_int(t->dtype))
    return qc_k_error(k, "%s must be an integer tensor with one element", what);
  *out = qc_elem_i64(t->dtype, qc_tensor_data(t), 0);
  return QC_OK;
}

static const qc_graph *graph_attr(const qc_kctx *k, const char *name) {
  const qc_attr *a = qc_k_attr(k, name);
  return a && a->kind == QC_ATTR_GRAPH ? a->u.g : NULL;
}

/* Join tensors along `axis`: as Concat, or stacked along a new axis (new_axis). reverse
 * takes the items last to first. The result is a new tensor in *out. */
static qc_status join_tensors(const qc_kctx *k, const qc_tensor *items, int32_t n, int64_t axis,
                              bool new_axis, bool reverse, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  if (n == 0) return qc_k_error(k, "cannot join an empty list of tensors");
  const qc_tensor *t0 = &items[0];
  int32_t r = t0->rank + (new_axis ? 1 : 0), a;
  if (r > QC_MAX_RANK) return qc_k_error(k, "joined rank exceeds quarc's limit");
  if (!qc_norm_axis(axis, r, &a))
    return qc_k_error(k, "axis %lld is out of range", (long long)axis);
  int64_t od[QC_MAX_RANK];
  for (int32_t d = 0, j = 0; d < r; d++) od[d] = new_axis && d == a ? n : t0->dims[j++];
  if (!new_axis) od[a] = 0;
  for (int32_t i = 0; i < n; i++) {
    const qc_tensor *t = &items[i];
    if (t->dtype != t0->dtype || t->rank != t0->rank)
      return qc_k_error(k, "item %d: dtype or rank differs from item 0", i);
    for (int32_t d = 0; d < t->rank; d++)
      if ((new_axis || d != a) && t->dims[d] != t0->dims[d])
        return qc_k_error(k, "item %d: dimension %d is %lld, item 0 has %lld", i, d,
                          (long long)t->dims[d], (long long)t0->dims[d]);
    if (!new_axis) od[a] += t->dims[a];
  }
  qc_mover mv;
  QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, t0->dtype));
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, k->alloc, t0->dtype, r, od));
  int64_t outer = qc_shape_numel(a, od), inner = qc_shape_numel(r - (a + 1), od + (a + 1));
  int64_t row = od[a] * inner, off = 0;
  for (int32_t j = 0; j < n; j++) {
    const qc_tensor *t = &items[reverse ? n - 1 - j : j];
    int64_t blk = (new_axis ? 1 : t->dims[a]) * inner;
    if (!qc_move_blocks(&mv, qc_tensor_data(out), off, row, qc_tensor_data(t), 0, blk, blk,
                        outer)) {
      qc_tensor_release(out);
      return QC_OOM();
    }
    off += blk;
  }
  return QC_OK;
}

/* Sub-tensor of x at index i along axis (rank one less), or keeping the axis with length
 * `len` starting at i when keep. */
static qc_status take_along(const qc_kctx *k, const qc_tensor *x, int32_t axis, int64_t i,
                            int64_t len, bool keep, qc_tensor *out) {
  int64_t od[QC_MAX_RANK];
  int32_t r = 0;
  for (int32_t d = 0; d < x->rank; d++) {
    if (d == axis && !keep) continue;
    od[r++] = d == axis ? len : x->dims[d];
  }
  qc_mover mv;
  QC_RETURN_IF_ERROR(qc_mover_init(k, &mv, x->dtype));
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, k->alloc, x->dtype, r, od));
  int64_t outer = qc_shape_numel(axis, x->dims),
          inner = qc_shape_numel(x->rank - (axis + 1), x->dims + (axis + 1));
  if (!qc_move_blocks(&mv, qc_tensor_data(out), 0, len * inner, qc_tensor_data(x), i * inner,
                      x->dims[axis] * inner, len * inner, outer)) {
    qc_tensor_release(out);
    return QC_OOM();
  }
  return QC_OK;
}

/* An empty tensor for a scan output that saw no iteration: [0] + the body's declared
 * element shape where it is static. */
static qc_status empty_scan_output(const qc_kctx *k, const qc_graph *body, int32_t out_index,
                                   qc_tensor *t) {
  const qc_value *v = qc_graph_value(body, qc_graph_output(body, out_index));
  qc_dtype dt = v && v->type.dtype != QC_DT_UNDEFINED ? v->type.dtype : QC_F32;
  int64_t od[QC_MAX_RANK] = {0};
  int32_t r = 1;
  if (v && v->type.rank >= 0 && v->type.rank < QC_MAX_RANK && qc_type_is_static(&v->type)) {
    for (int32_t d = 0; d < v->type.rank; d++) od[1 + d] = v->type.dims[d];
    r = 1 + v->type.rank;
  }
  return qc_tensor_alloc(t, k->alloc, dt, r, od);
}

/* ---- If -------------------------------------------------------------------------------------- */

static qc_status k_if(qc_kctx *k) {
  bool cond;
  QC_RETURN_IF_ERROR(read_bool(k, qc_k_in_value(k, 0), "cond", &cond));
  const qc_graph *g = graph_attr(k, cond ? "then_branch" : "else_branch");
  if (!g) return qc_k_error(k, "branch %s is missing", cond ? "then_branch" : "else_branch");
  if (qc_graph_num_outputs(g) != k->n_out)
    return qc_k_error(k, "branch has %d outputs, the node %d", qc_graph_num_outputs(g), k->n_out);
  qc_rvalue *outs = calloc((size_t)(k->n_out ? k->n_out : 1), sizeof *outs);
  if (!outs) return QC_OOM();
  qc_status s = qc_k_run_subgraph(k, g, 0, NULL, k->n_out, outs);
  if (!s)
    for (int32_t i = 0; i < k->n_out; i++) out_take(k, i, &outs[i]);
  free(outs);
  return s;
}

/* ---- Loop ------------------------------------------------------------------------------------ */

/* Growing per-output lists of scan-output tensors. */
typedef struct scan_acc {
  int32_t k;        /* number of scan outputs */
  int64_t n, cap;   /* iterations stored */
  qc_tensor *items; /* [k][cap], item j of output i at items[i*cap + j] */
} scan_acc;

static bool acc_push(scan_acc *a, qc_rvalue *vals) {
  if (a->n == a->cap) {
    int64_t cap = a->cap ? 2 * a->cap : 16;
    qc_tensor *it = calloc((size_t)(a->k * cap + 1), sizeof *it);
    if (!it) return false;
    for (int32_t i = 0; i < a->k; i++)
      for (int64_t j = 0; j < a->n; j++) it[i * cap + j] = a->items[i * a->cap + j];
    free(a->items);
    a->items = it;
    a->cap = cap;
  }
  for (int32_t i = 0; i < a->k; i++) {
    a->items[i * a->cap + a->n] = vals[i].t;
    memset(&vals[i].t, 0, sizeof vals[i].t);
    vals[i].kind = QC_RV_NONE;
  }
  a->n++;
  return true;
}

static void acc_free(scan_acc *a) {
  for (int32_t i = 0; i < a->k; i++)
    for (int64_t j = 0; j < a->n; j++) qc_tensor_release(&a->items[i * a->cap + j]);
  free(a->items);
  memset(a, 0, sizeof *a);
}

static qc_status k_loop(qc_kctx *k) {
  const qc_graph *body = graph_attr(k, "body");
  if (!body) return qc_k_error(k, "body is missing");
  int32_t N = k->n_in - 2, K = k->n_out - N;
  if (N < 0 || K < 0 || qc_graph_num_inputs(body) != N + 2 ||
      qc_graph_num_outputs(body) != 1 + N + K)
    return qc_k_error(k, "body takes %d inputs and gives %d outputs; the node needs %d and %d",
                      qc_graph_num_inputs(body), qc_graph_num_outputs(body), N + 2, 1 + N + K);
  const qc_tensor *mt = qc_k_in(k, 0);
  int64_t max_trip = INT64_MAX;
  if (mt && qc_tensor_numel(mt) > 0) QC_RETURN_IF_ERROR(read_int(k, mt, "M", &max_trip));
  bool cond = true;
  const qc_rvalue *cv = qc_k_in_value(k, 1);
  if (cv && cv->kind == QC_RV_TENSOR && qc_tensor_numel(&cv->t) > 0)
    QC_RETURN_IF_ERROR(read_bool(k, cv, "cond", &cond));
  /* in[] = (iteration, cond, carried...); out[] = (cond, carried..., scan...) */
  qc_rvalue *in = calloc((size_t)(N + 2 + 1 + N + K), sizeof *in);
  if (!in) return QC_OOM();
  qc_rvalue *out = in + N + 2;
  scan_acc acc = {K, 0, 0, NULL};
  qc_status s = QC_OK;
  for (int32_t i = 0; i < N && !s; i++) {
    const qc_rvalue *v = qc_k_in_value(k, 2 + i);
    if (v) s = qc_rvalue_copy(&in[2 + i], v);
  }
  for (int64_t it = 0; !s && it < max_trip && cond; it++) {
    qc_tensor ti, tc;
    s = scalar_tensor(k, QC_I64, it, &ti);
    if (s) break;
    s = scalar_tensor(k, QC_BOOL, 1, &tc);
    if (s) {
      qc_tensor_release(&ti);
      break;
    }
    qc_rvalue_release(&in[0]);
    qc_rvalue_release(&in[1]);
    in[0].kind = QC_RV_TENSOR, in[0].elem = QC_I64, in[0].t = ti;
    in[1].kind = QC_RV_TENSOR, in[1].elem = QC_BOOL, in[1].t = tc;
    s = qc_k_run_subgraph(k, body, N + 2, in, 1 + N + K, out);
    if (s) break;
    s = read_bool(k, &out[0], "body output 0 (cond)", &cond);
    for (int32_t i = 0; i < N && !s; i++) {
      qc_rvalue_release(&in[2 + i]);
      in[2 + i] = out[1 + i];
      memset(&out[1 + i], 0, sizeof out[1 + i]);
    }
    for (int32_t i = 0; i < K && !s; i++)
      if (out[1 + N + i].kind != QC_RV_TENSOR)
        s = qc_k_error(k, "scan output %d is not a tensor", i);
    if (!s && !acc_push(&acc, out + 1 + N)) s = QC_OOM();
    release_all(out, 1 + N + K);
  }
  for (int32_t i = 0; i < N && !s; i++) out_take(k, i, &in[2 + i]);
  for (int32_t i = 0; i < K && !s; i++) {
    qc_tensor t;
    if (acc.n)
      s = join_tensors(k, acc.items + i * acc.cap, (int32_t)acc.n, 0, true, false, &t);
    else
      s = empty_scan_output(k, body, 1 + N + i, &t);
    if (!s) out_take_tensor(k, N + i, &t);
  }
  acc_free(&acc);
  release_all(in, N + 2);
  release_all(out, 1 + N + K);
  free(in);
  return s;
}

/* ---- Scan ------------------------------------------------------------------------------------ */

/* The Scan loop for one sequence: states (N rvalues, updated in place), scan inputs (M
 * tensors) with their axes and directions, L iterations. Scan outputs are stacked along
 * out_axis[i] (reversed where out_rev[i]) into outs[i]. */
static qc_status scan_run(qc_kctx *k, const qc_graph *body, int32_t N, qc_rvalue *states, int32_t M,
                          const qc_tensor *const *xs, const int64_t *in_axis, const int64_t *in_rev,
                          int64_t L, int32_t K, const int64_t *out_axis, const int64_t *out_rev,
                          qc_tensor *outs) {
  if (qc_graph_num_inputs(body) != N + M || qc_graph_num_outputs(body) != N + K)
    return qc_k_error(k, "body takes %d inputs and gives %d outputs; expected %d and %d",
                      qc_graph_num_inputs(body), qc_graph_num_outputs(body), N + M, N + K);
  qc_rvalue *in = calloc((size_t)(2 * (N + M + K) + 1), sizeof *in);
  if (!in) return QC_OOM();
  qc_rvalue *out = in + N + M + K;
  scan_acc acc = {K, 0, 0, NULL};
  qc_status s = QC_OK;
  for (int64_t t = 0; t < L && !s; t++) {
    for (int32_t i = 0; i < N; i++) in[i] = states[i]; /* borrowed for the call */
    for (int32_t j = 0; j < M && !s; j++) {
      qc_tensor sl;
      int64_t pos = in_rev[j] ? L - 1 - t : t;
      s = take_along(k, xs[j], (int32_t)in_axis[j], pos, 1, false, &sl);
      if (!s) in[N + j] = qc_rvalue_tensor(&sl), qc_tensor_release(&sl);
    }
    if (!s) s = qc_k_run_subgraph(k, body, N + M, in, N + K, out);
    release_all(in + N, M);
    if (s) break;
    for (int32_t i = 0; i < N; i++) {
      qc_rvalue_release(&states[i]);
      states[i] = out[i];
      memset(&out[i], 0, sizeof out[i]);
    }
    for (int32_t i = 0; i < K && !s; i++)
      if (out[N + i].kind != QC_RV_TENSOR) s = qc_k_error(k, "scan output %d is not a tensor", i);
    if (!s && !acc_push(&acc, out + N)) s = QC_OOM();
    release_all(out, N + K);
  }
  for (int32_t i = 0; i < K && !s; i++) {
    if (acc.n) {
      s = join_tensors(k, acc.items + i * acc.cap, (int32_t)acc.n, out_axis[i], true,
                       out_rev[i] != 0, &outs[i]);
    } else {
      qc_tensor e;
      s = empty_scan_output(k, body, N + i, &e);
      if (!s) outs[i] = e;
    }
  }
  acc_free(&acc);
  free(in);
  return s;
}

/* Scan-9+: states, then scan inputs with per-input axes and directions. */
static qc_status scan_v9(qc_kctx *k, const qc_graph *body, int32_t N, int32_t M, int32_t K,
                         const qc_tensor *const *xs, int64_t *ax) {
  int64_t *in_axis = ax, *in_rev = ax + M, *out_axis = ax + 2 * M, *out_rev = ax + 2 * M + K;
  QC_RETURN_IF_ERROR(qc_k_attr_ints_or(k, "scan_input_axes", M, 0, in_axis));
  QC_RETURN_IF_ERROR(qc_k_attr_ints_or(k, "scan_input_directions", M, 0, in_rev));
  QC_RETURN_IF_ERROR(qc_k_attr_ints_or(k, "scan_output_axes", K, 0, out_axis));
  QC_RETURN_IF_ERROR(qc_k_attr_ints_or(k, "scan_output_directions", K, 0, out_rev));
  int64_t L = -1;
  for (int32_t j = 0; j < M; j++) {
    int32_t a;
    QC_RETURN_IF_ERROR(qc_k_axis(k, in_axis[j], xs[j]->rank, &a));
    in_axis[j] = a;
    if (L >= 0 && xs[j]->dims[a] != L) return qc_k_error(k, "scan inputs differ in length");
    L = xs[j]->dims[a];
  }
  qc_rvalue *states = calloc((size_t)N + 1, sizeof *states);
  qc_tensor *outs = calloc((size_t)K + 1, sizeof *outs);
  qc_status s = states && outs ? QC_OK : QC_OOM();
  for (int32_t i = 0; i < N && !s; i++) {
    const qc_rvalue *v = qc_k_in_value(k, i);
    if (v) s = qc_rvalue_copy(&states[i], v);
  }
  if (!s) s = scan_run(k, body, N, states, M, xs, in_axis, in_rev, L, K, out_axis, out_rev, outs);
  for (int32_t i = 0; i < N && !s; i++) out_take(k, i, &states[i]);
  for (int32_t i = 0; i < K && !s; i++) out_take_tensor(k, N + i, &outs[i]);
  if (states) release_all(states, N);
  for (int32_t i = 0; outs && i < K; i++) qc_tensor_release(&outs[i]);
  free(states);
  free(outs);
  return s;
}

/* One batch entry b of Scan-8: slices of the states and inputs, L steps; scan outputs are
 * zero-padded to maxL steps. Fills st[i] (N states) and so[i] (K outputs). */
static qc_status scan_v8_batch(qc_kctx *k, const qc_graph *body, int32_t N, int32_t M, int32_t K,
                               const qc_tensor *const *xs, const int64_t *ax, int64_t b, int64_t L,
                               int64_t maxL, qc_tensor *st, qc_tensor *so) {
  const int64_t *in_axis = ax, *in_rev = ax + M, *out_axis = ax + 2 * M, *out_rev = ax + 2 * M + K;
  qc_tensor *xb = calloc((size_t)M + 1, sizeof *xb);
  const qc_tensor **xbp = calloc((size_t)M + 1, sizeof *xbp);
  qc_rvalue *states = calloc((size_t)N + 1, sizeof *states);
  qc_status s = xb && xbp && states ? QC_OK : QC_OOM();
  for (int32_t j = 0; j < M && !s; j++) {
    s = take_along(k, xs[j], 0, b, 1, false, &xb[j]);
    xbp[j] = &xb[j];
  }
  for (int32_t i = 0; i < N && !s; i++) {
    const qc_tensor *t = qc_k_in(k, 1 + i);
    qc_tensor sb;
    s = t ? take_along(k, t, 0, b, 1, false, &sb) : qc_k_error(k, "state %d is not a tensor", i);
    if (!s) {
      states[i] = qc_rvalue_tensor(&sb);
      qc_tensor_release(&sb);
    }
  }
  if (!s) s = scan_run(k, body, N, states, M, xbp, in_axis, in_rev, L, K, out_axis, out_rev, so);
  for (int32_t i = 0; i < N && !s; i++) {
    if (states[i].kind != QC_RV_TENSOR)
      s = qc_k_error(k, "state %d is not a tensor", i);
    else
      qc_tensor_copy_ref(&st[i], &states[i].t);
  }
  for (int32_t i = 0; i < K && !s; i++) {
    if (so[i].rank < 1 || so[i].dims[0] >= maxL) continue;
    /* A shorter sequence: pad with zeros up to the longest. */
    int64_t od[QC_MAX_RANK];
    memcpy(od, so[i].dims, sizeof od);
    od[0] = maxL;
    qc_tensor full;
    qc_mover mv;
    s = qc_mover_init(k, &mv, so[i].dtype);
    if (!s) s = qc_tensor_alloc(&full, k->alloc, so[i].dtype, so[i].rank, od);
    if (!s &&
        !qc_move(&mv, qc_tensor_data(&full), 0, qc_tensor_data(&so[i]), 0, qc_tensor_numel(&so[i])))
      s = QC_OOM();
    if (!s) {
      qc_tensor_release(&so[i]);
      so[i] = full;
    }
  }
  for (int32_t j = 0; xb && j < M; j++) qc_tensor_release(&xb[j]);
  if (states) release_all(states, N);
  free(xb);
  free(xbp);
  free(states);
  return s;
}

/* Scan-8: (sequence_lens?, states..., scan inputs...), everything batched along axis 0 and
 * scanned along axis 1; "directions" reverses inputs. Each batch entry runs on its own. */
static qc_status scan_v8(qc_kctx *k, const qc_graph *body, int32_t N, int32_t M, int32_t K,
                         const qc_tensor *const *xs, int64_t *ax) {
  QC_RETURN_IF_ERROR(qc_k_attr_ints_or(k, "directions", M, 0, ax + M));
  const qc_tensor *lens = qc_k_in(k, 0);
  if (xs[0]->rank < 2) return qc_k_error(k, "Scan-8 inputs need a batch and a sequence axis");
  int64_t B = xs[0]->dims[0], maxL = xs[0]->dims[1];
  for (int32_t j = 0; j < M; j++)
    if (xs[j]->rank < 2 || xs[j]->dims[0] != B || xs[j]->dims[1] != maxL)
      return qc_k_error(k, "scan input %d: expected [batch %lld, sequence %lld, ...]", j,
                        (long long)B, (long long)maxL);
  if (lens && qc_tensor_numel(lens) != B)
    return qc_k_error(k, "sequence_lens must have one entry per batch");
  if (B < 1 || B > INT32_MAX) return qc_k_error(k, "Scan-8 needs a batch of at least one");
  qc_tensor *st = calloc((size_t)(N * B + 1), sizeof *st); /* [state][batch] */
  qc_tensor *so = calloc((size_t)(K * B + 1), sizeof *so); /* [output][batch] */
  qc_tensor *tmp = calloc((size_t)(N + K + 1), sizeof *tmp);
  qc_status s = st && so && tmp ? QC_OK : QC_OOM();
  for (int64_t b = 0; b < B && !s; b++) {
    int64_t L = lens ? qc_elem_i64(lens->dtype, qc_tensor_data(lens), (size_t)b) : maxL;
    if (L < 0 || L > maxL) {
      s = qc_k_error(k, "sequence_lens[%lld] = %lld is out of range", (long long)b, (long long)L);
      break;
    }
    memset(tmp, 0, sizeof *tmp * (size_t)(N + K));
    s = scan_v8_batch(k, body, N, M, K, xs, ax, b, L, maxL, tmp, tmp + N);
    for (int32_t i = 0; i < N; i++) st[i * B + b] = tmp[i];
    for (int32_t i = 0; i < K; i++) so[i * B + b] = tmp[N + i];
  }
  for (int32_t i = 0; i < N + K && !s; i++) {
    qc_tensor t;
    const qc_tensor *items = i < N ? st + i * B : so + (i - N) * B;
    s = join_tensors(k, items, (int32_t)B, 0, true, false, &t);
    if (!s) out_take_tensor(k, i, &t);
  }
  for (int64_t i = 0; st && i < N * B; i++) qc_tensor_release(&st[i]);
  for (int64_t i = 0; so && i < K * B; i++) qc_tensor_release(&so[i]);
  free(st);
  free(so);
  free(tmp);
  return s;
}

static qc_status k_scan(qc_kctx *k) {
  const qc_graph *body = graph_attr(k, "body");
  if (!body) return qc_k_error(k, "body is missing");
  bool v8 = qc_k_opset(k) < 9; /* Scan-8: sequence_lens first, batch axis 0 on everything */
  int32_t M = (int32_t)qc_k_int(k, "num_scan_inputs", 0);
  int32_t first = v8 ? 1 : 0, N = k->n_in - first - M, K = k->n_out - N;
  if (M < 1 || N < 0 || K < 0) return qc_k_error(k, "inconsistent num_scan_inputs %d", M);
  const qc_tensor **xs = calloc((size_t)M, sizeof *xs);
  int64_t *ax = calloc((size_t)(2 * (M + K) + 1), sizeof *ax); /* in axes, dirs; out axes, dirs */
  qc_status s = xs && ax ? QC_OK : QC_OOM();
  for (int32_t j = 0; j < M && !s; j++) {
    xs[j] = qc_k_in(k, first + N + j);
    if (!xs[j]) s = qc_k_error(k, "scan input %d is missing or not a tensor", j);
  }
  if (!s) s = v8 ? scan_v8(k, body, N, M, K, xs, ax) : scan_v9(k, body, N, M, K, xs, ax);
  free(xs);
  free(ax);
  return s;
}

/* ---- sequences ------------------------------------------------------------------------------- */

static qc_status need_seq(const qc_kctx *k, int32_t i, const qc_rvalue **out) {
  *out = qc_k_in_value(k, i);
  if (!*out || (*out)->kind != QC_RV_SEQUENCE)
    return qc_k_error(k, "input %d must be a sequence", i);
  return QC_OK;
}

/* Output i as a sequence of n items (references taken from items, which may be NULL for
 * n == 0). */
static qc_status out_sequence(qc_kctx *k, int32_t i, qc_dtype elem, const qc_tensor *items,
                              int32_t n) {
  qc_rvalue v;
  memset(&v, 0, sizeof v);
  v.kind = QC_RV_SEQUENCE;
  v.elem = elem;
  if (n) {
    v.items = malloc(sizeof(qc_tensor) * (size_t)n);
    if (!v.items) return QC_OOM();
    for (int32_t j = 0; j < n; j++) qc_tensor_copy_ref(&v.items[j], &items[j]);
  }
  v.n_items = n;
  out_take(k, i, &v);
  return QC_OK;
}

static qc_status k_sequence_empty(qc_kctx *k) {
  int64_t code = qc_k_int(k, "dtype", 0);
  qc_dtype dt = code ? qc_dtype_from_onnx((int)code) : QC_F32; /* default: float */
  if (dt == QC_DT_UNDEFINED) return qc_k_error(k, "unknown dtype %lld", (long long)code);
  return out_sequence(k, 0, dt, NULL, 0);
}

static qc_status k_sequence_construct(qc_kctx *k) {
  qc_tensor *items = malloc(sizeof(qc_tensor) * (size_t)(k->n_in ? k->n_in : 1));
  if (!items) return QC_OOM();
  qc_status s = QC_OK;
  for (int32_t i = 0; i < k->n_in && !s; i++) {
    const qc_tensor *t = qc_k_in(k, i);
    if (!t)
      s = qc_k_error(k, "input %d is not a tensor", i);
    else if (i && t->dtype != items[0].dtype)
      s = qc_k_error(k, "input %d: dtype differs", i);
    else
      items[i] = *t;
  }
  if (!s) s = out_sequence(k, 0, k->n_in ? items[0].dtype : QC_F32, items, k->n_in);
  free(items);
  return s;
}

/* A position in a sequence of n items; insert allows n itself. */
static qc_status seq_pos(const qc_kctx *k, const qc_tensor *pt, int32_t n, bool insert,
                         int32_t dflt, int32_t *out) {
  int64_t p = dflt;
  if (pt) QC_RETURN_IF_ERROR(read_int(k, pt, "position", &p));
  if (p < 0) p += n;
  if (p < 0 || p > n || (!insert && p == n))
    return qc_k_error(k, "position %lld is out of range for a sequence of %d", (long long)p, n);
  *out = (int32_t)p;
  return QC_OK;
}

static qc_status k_sequence_at(qc_kctx *k) {
  const qc_rvalue *sq;
  QC_RETURN_IF_ERROR(need_seq(k, 0, &sq));
  int32_t p;
  QC_RETURN_IF_ERROR(seq_pos(k, qc_k_in(k, 1), sq->n_items, false, 0, &p));
  qc_k_out_alias(k, 0, &sq->items[p]);
  return QC_OK;
}

static qc_status k_sequence_insert(qc_kctx *k) {
  const qc_rvalue *sq;
  QC_RETURN_IF_ERROR(need_seq(k, 0, &sq));
  const qc_tensor *t = qc_k_in(k, 1);
  if (!t) return qc_k_error(k, "input 1 must be a tensor");
  if ((sq->n_items && t->dtype != sq->items[0].dtype) ||
      (sq->elem != QC_DT_UNDEFINED && t->dtype != sq->elem))
    return qc_k_error(k, "tensor dtype differs from the sequence's");
  int32_t n = sq->n_items, p;
  QC_RETURN_IF_ERROR(seq_pos(k, qc_k_in(k, 2), n, true, n, &p));
  qc_tensor *items = malloc(sizeof(qc_tensor) * (size_t)(n + 1));
  if (!items) return QC_OOM();
  for (int32_t i = 0, j = 0; i <= n; i++) items[i] = i == p ? *t : sq->items[j++];
  qc_status s = out_sequence(k, 0, t->dtype, items, n + 1);
  free(items);
  return s;
}

static qc_status k_sequence_erase(qc_kctx *k) {
  const qc_rvalue *sq;
  QC_RETURN_IF_ERROR(need_seq(k, 0, &sq));
  int32_t n = sq->n_items, p;
  QC_RETURN_IF_ERROR(seq_pos(k, qc_k_in(k, 1), n, false, n - 1, &p));
  qc_tensor *items = malloc(sizeof(qc_tensor) * (size_t)(n ? n : 1));
  if (!items) return QC_OOM();
  for (int32_t i = 0, j = 0; i < n; i++)
    if (i != p) items[j++] = sq->items[i];
  qc_status s = out_sequence(k, 0, sq->elem, items, n - 1);
  free(items);
  return s;
}

static qc_status k_sequence_length(qc_kctx *k) {
  const qc_rvalue *sq;
  QC_RETURN_IF_ERROR(need_seq(k, 0, &sq));
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_I64, 0, NULL, &y));
  *(int64_t *)qc_tensor_data(y) = sq->n_items;
  return QC_OK;
}

static qc_status k_concat_from_sequence(qc_kctx *k) {
  const qc_rvalue *sq;
  QC_RETURN_IF_ERROR(need_seq(k, 0, &sq));
  qc_tensor t;
  QC_RETURN_IF_ERROR(join_tensors(k, sq->items, sq->n_items, qc_k_int(k, "axis", 0),
                                  qc_k_int(k, "new_axis", 0) != 0, false, &t));
  out_take_tensor(k, 0, &t);
  return QC_OK;
}

static qc_status k_split_to_sequence(qc_kctx *k) {
  const qc_tensor *x = qc_k_in(k, 0), *st = qc_k_in(k, 1);
  if (!x) return qc_k_error(k, "input must be a tensor");
  int32_t axis;
  if (!qc_norm_axis(qc_k_int(k, "axis", 0), x->rank, &axis))
    return qc_k_error(k, "axis is out of range for rank %d", x->rank);
  int64_t dim = x->dims[axis], *len = NULL, n = 0;
  bool keep = true;
  qc_status s = QC_OK;
  if (!st) {
    /* Pieces of length 1; keepdims decides whether the axis stays. */
    keep = qc_k_int(k, "keepdims", 1) != 0;
    n = dim;
    len = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!len) return QC_OOM();
    for (int64_t i = 0; i < n; i++) len[i] = 1;
  } else if (st->rank == 0) {
    int64_t c;
    QC_RETURN_IF_ERROR(read_int(k, st, "split", &c));
    if (c <= 0) return qc_k_error(k, "split must be positive");
    n = (dim + c - 1) / c;
    len = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!len) return QC_OOM();
    for (int64_t i = 0; i < n; i++) len[i] = i == n - 1 ? dim - c * (n - 1) : c;
  } else {
    QC_RETURN_IF_ERROR(qc_k_ints_alloc(k, st, "split", &len, &n));
    int64_t sum = 0;
    for (int64_t i = 0; i < n; i++) {
      if (len[i] < 0) s = qc_k_error(k, "split has a negative length");
      sum += len[i];
    }
    if (!s && sum != dim)
      s = qc_k_error(k, "split sums to %lld, axis has %lld", (long long)sum, (long long)dim);
  }
  if (!s && n > INT32_MAX) s = qc_k_error(k, "too many pieces");
  qc_tensor *items = s ? NULL : calloc((size_t)(n ? n : 1), sizeof *items);
  if (!s && !items) s = QC_OOM();
  int64_t start = 0;
  for (int64_t i = 0; i < n && !s; i++) {
    s = take_along(k, x, axis, start, len[i], keep, &items[i]);
    start += len[i];
  }
  if (!s) s = out_sequence(k, 0, x->dtype, items, (int32_t)n);
  for (int64_t i = 0; items && i < n; i++) qc_tensor_release(&items[i]);
  free(items);
  free(len);
  return s;
}

static qc_status k_sequence_map(qc_kctx *k) {
  const qc_graph *body = graph_attr(k, "body");
  if (!body) return qc_k_error(k, "body is missing");
  const qc_rvalue *sq;
  QC_RETURN_IF_ERROR(need_seq(k, 0, &sq));
  int32_t n = sq->n_items, nin = k->n_in, nout = k->n_out;
  if (qc_graph_num_inputs(body) != nin || qc_graph_num_outputs(body) != nout)
    return qc_k_error(k, "body takes %d inputs and gives %d outputs; expected %d and %d",
                      qc_graph_num_inputs(body), qc_graph_num_outputs(body), nin, nout);
  for (int32_t j = 1; j < nin; j++) {
    const qc_rvalue *v = qc_k_in_value(k, j);
    if (!v) return qc_k_error(k, "input %d is missing", j);
    if (v->kind == QC_RV_SEQUENCE && v->n_items != n)
      return qc_k_error(k, "input %d: sequence of %d items, input 0 has %d", j, v->n_items, n);
  }
  qc_rvalue *in = calloc((size_t)(nin + nout), sizeof *in);
  qc_tensor *items = calloc((size_t)(nout * n + 1), sizeof *items);
  if (!in || !items) {
    free(in), free(items);
    return QC_OOM();
  }
  qc_rvalue *out = in + nin;
  qc_status s = QC_OK;
  for (int32_t i = 0; i < n && !s; i++) {
    for (int32_t j = 0; j < nin; j++) {
      const qc_rvalue *v = qc_k_in_value(k, j);
      if (v->kind == QC_RV_SEQUENCE) {
        memset(&in[j], 0, sizeof in[j]);
        in[j].kind = QC_RV_TENSOR;
        in[j].elem = v->items[i].dtype;
        in[j].t = v->items[i]; /* borrowed */
      } else {
        in[j] = *v; /* borrowed */
      }
    }
    s = qc_k_run_subgraph(k, body, nin, in, nout, out);
    for (int32_t j = 0; j < nout && !s; j++) {
      if (out[j].kind != QC_RV_TENSOR)
        s = qc_k_error(k, "body output %d is not a tensor", j);
      else
        qc_tensor_copy_ref(&items[j * n + i], &out[j].t);
    }
    release_all(out, nout);
  }
  for (int32_t j = 0; j < nout && !s; j++) {
    const qc_value *bv = qc_graph_value(body, qc_graph_output(body, j));
    qc_dtype dt = n ? items[j * n].dtype : bv && bv->type.dtype ? bv->type.dtype : QC_F32;
    s = out_sequence(k, j, dt, items + j * n, n);
  }
  for (int32_t i = 0; i < nout * n; i++) qc_tensor_release(&items[i]);
  free(items);
  free(in);
  return s;
}

/* ---- optionals ------------------------------------------------------------------------------- */

static qc_status k_optional(qc_kctx *k) {
  const qc_rvalue *v = qc_k_in_value(k, 0);
  qc_rvalue o;
  if (v && v->kind != QC_RV_NONE) {
    QC_RETURN_IF_ERROR(qc_rvalue_copy(&o, v));
  } else {
    memset(&o, 0, sizeof o);
    const qc_attr *a = qc_k_attr(k, "type");
    if (a && a->kind == QC_ATTR_TYPE && a->u.type)
      o.elem = a->u.type->dtype;
    else if (!v)
      return qc_k_error(k, "an empty Optional needs the 'type' attribute");
    else
      o.elem = v->elem;
  }
  o.optional = 1;
  out_take(k, 0, &o);
  return QC_OK;
}

static qc_status k_optional_has_element(qc_kctx *k) {
  const qc_rvalue *v = qc_k_in_value(k, 0);
  qc_tensor *y;
  QC_RETURN_IF_ERROR(qc_k_out(k, 0, QC_BOOL, 0, NULL, &y));
  *(uint8_t *)qc_tensor_data(y) = v && v->kind != QC_RV_NONE;
  return QC_OK;
}

static qc_status k_optional_get_element(qc_kctx *k) {
  const qc_rvalue *v = qc_k_in_value(k, 0);
  if (!v || v->kind == QC_RV_NONE) return qc_k_error(k, "the optional is empty");
  qc_rvalue o;
  QC_RETURN_IF_ERROR(qc_rvalue_copy(&o, v));
  o.optional = 0;
  out_take(k, 0, &o);
  return QC_OK;
}

const qc_kernel_entry qc_kernels_control[] = {
    {QC_OP_If, k_if},
    {QC_OP_Loop, k_loop},
    {QC_OP_Scan, k_scan},
    {QC_OP_SequenceEmpty, k_sequence_empty},
    {QC_OP_SequenceConstruct, k_sequence_construct},
    {QC_OP_SequenceAt, k_sequence_at},
    {QC_OP_SequenceInsert, k_sequence_insert},
    {QC_OP_SequenceErase, k_sequence_erase},
    {QC_OP_SequenceLength, k_sequence_length},
    {QC_OP_ConcatFromSequence, k_concat_from_sequence},
    {QC_OP_SplitToSequence, k_split_to_sequence},
    {QC_OP_SequenceMap, k_sequence_map},
    {QC_OP_Optional, k_optional},
    {QC_OP_OptionalHasElement, k_optional_has_element},
    {QC_OP_OptionalGetElement, k_optional_get_element},
    {QC_OP_INVALID, NULL},
};
