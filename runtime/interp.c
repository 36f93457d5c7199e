/*
 * The reference interpreter: walks a graph in topological order and calls one
 * kernel per node. Intermediates are freed after their last use (main graph),
 * sub-graphs run in frames that see the enclosing frames' values by name.
 */
#include "runtime/internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- values ---------------------------------------------------------------------------------- */

qc_rvalue qc_rvalue_tensor(const qc_tensor *t) {
  qc_rvalue v;
  memset(&v, 0, sizeof v);
  v.kind = QC_RV_TENSOR;
  v.elem = t->dtype;
  qc_tensor_copy_ref(&v.t, t);
  return v;
}

qc_status qc_rvalue_copy(qc_rvalue *dst, const qc_rvalue *src) {
  *dst = *src;
  if (src->kind == QC_RV_TENSOR) qc_buffer_retain(src->t.buf);
  if (src->kind == QC_RV_SEQUENCE) {
    dst->items = NULL;
    if (src->n_items) {
      dst->items = malloc(sizeof(qc_tensor) * (size_t)src->n_items);
      if (!dst->items) {
        memset(dst, 0, sizeof *dst);
        return QC_OOM();
      }
      for (int32_t i = 0; i < src->n_items; i++) qc_tensor_copy_ref(&dst->items[i], &src->items[i]);
    }
  }
  return QC_OK;
}

void qc_rvalue_release(qc_rvalue *v) {
  if (v->kind == QC_RV_TENSOR) qc_tensor_release(&v->t);
  if (v->kind == QC_RV_SEQUENCE) {
    for (int32_t i = 0; i < v->n_items; i++) qc_tensor_release(&v->items[i]);
    free(v->items);
  }
  memset(v, 0, sizeof *v);
}

/* ---- kernels ----------------------------------------------------------------------------------- */

static qc_kernel_fn *table;
static int32_t table_size;
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

static void table_init(void) {
  table_size = QC_OP_BUILTIN_COUNT;
  table = calloc((size_t)table_size, sizeof *table);
  if (!table) {
    table_size = 0;
    return;
  }
#define QC_FILL_FAMILY(f)                                                                         \
  for (const qc_kernel_entry *e = qc_kernels_##f; e->fn; e++)                                    \
    if (e->op < table_size) table[e->op] = e->fn;
  QC_KERNEL_FAMILIES(QC_FILL_FAMILY)
#undef QC_FILL_FAMILY
}

qc_kernel_fn qc_kernel_lookup(qc_op op) {
  pthread_once(&table_once, table_init);
  pthread_mutex_lock(&table_lock);
  qc_kernel_fn f = op < table_size ? table[op] : NULL;
  pthread_mutex_unlock(&table_lock);
  return f;
}

qc_status qc_kernel_register(qc_op op, qc_kernel_fn fn) {
  pthread_once(&table_once, table_init);
  if (!qc_op_schema_of(op)) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "unknown op id %d", op);
  pthread_mutex_lock(&table_lock);
  if (op >= table_size) {
    int32_t n = op + 1;
    qc_kernel_fn *t = realloc(table, sizeof *t * (size_t)n);
    if (!t) {
      pthread_mutex_unlock(&table_lock);
      return QC_OOM();
    }
    memset(t + table_size, 0, sizeof *t * (size_t)(n - table_size));
    table = t;
    table_size = n;
  }
  table[op] = fn;
  pthread_mutex_unlock(&table_lock);
  return QC_OK;
}

bool qc_interp_supports(qc_op op) { return qc_kernel_lookup(op) != NULL; }

/* ---- kernel context helpers ------------------------------------------------------------------ */

const qc_rvalue *qc_k_in_value(const qc_kctx *k, int32_t i) {
  return i >= 0 && i < k->n_in ? k->in[i] : NULL;
}

const qc_tensor *qc_k_in(const qc_kctx *k, int32_t i) {
  const qc_rvalue *v = qc_k_in_value(k, i);
  return v && v->kind == QC_RV_TENSOR ? &v->t : NULL;
}

qc_status qc_k_error(const qc_kctx *k, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  qc_status s = qc_status_newv(QC_CODE_RUNTIME, fmt, ap);
  va_end(ap);
  return qc_status_wrap(s, "%s", qc_node_desc(k->g, k->node));
}

bool qc_k_out_used(const qc_kctx *k, int32_t i) {
  return i >= 0 && i < k->n_out && k->n->out[i] != QC_NONE;
}

qc_status qc_k_out(qc_kctx *k, int32_t i, qc_dtype dt, int32_t rank, const int64_t *dims,
                   qc_tensor **out) {
  if (i < 0 || i >= k->n_out) return qc_k_error(k, "output %d out of range", i);
  if (rank < 0 || rank > QC_MAX_RANK)
    return qc_k_error(k, "output %d: rank %d exceeds quarc's limit of %d", i, rank, QC_MAX_RANK);
  for (int32_t d = 0; d < rank; d++)
    if (dims[d] < 0) return qc_k_error(k, "output %d: negative dimension %lld", i, (long long)dims[d]);
  qc_rvalue_release(&k->out[i]);
  qc_status s = qc_tensor_alloc(&k->out[i].t, k->alloc, dt, rank, dims);
  if (s) return qc_status_wrap(s, "%s: output %d", qc_node_desc(k->g, k->node), i);
  k->out[i].kind = QC_RV_TENSOR;
  k->out[i].elem = dt;
  *out = &k->out[i].t;
  return QC_OK;
}

qc_status qc_k_out_like(qc_kctx *k, int32_t i, const qc_tensor *like, qc_tensor **out) {
  return qc_k_out(k, i, like->dtype, like->rank, like->dims, out);
}

void qc_k_out_alias(qc_kctx *k, int32_t i, const qc_tensor *t) {
  qc_rvalue_release(&k->out[i]);
  k->out[i] = qc_rvalue_tensor(t);
}

void qc_k_parallel_for(const qc_kctx *k, int64_t n, int64_t grain,
                       void (*fn)(void *ctx, int64_t begin, int64_t end), void *ctx) {
  qc_pool_for(k->interp ? k->interp->pool : NULL, n, grain, fn, ctx);
}

/* ---- execution ------------------------------------------------------------------------------ */

static qc_status run_frame(qc_interp *it, qc_frame *f, int32_t n_in, const qc_rvalue *in,
                           int32_t n_out, qc_rvalue *out, const int32_t *last_use);

qc_status qc_k_run_subgraph(qc_kctx *k, const qc_graph *sub, int32_t n_in, const qc_rvalue *in,
                            int32_t n_out, qc_rvalue *out) {
  qc_kctx_full *kf = (qc_kctx_full *)k;
  qc_frame f = {sub, NULL, kf->frame};
  const int32_t *last_use = NULL; /* a graph that is no attribute of ours keeps everything */
  for (int32_t i = 0; k->interp && i < k->interp->n_subs; i++)
    if (k->interp->sub_graphs[i] == sub) last_use = k->interp->sub_last_use[i];
  return run_frame(k->interp, &f, n_in, in, n_out, out, last_use);
}

static const qc_rvalue *lookup_outer(const qc_frame *f, const char *name) {
  for (const qc_frame *p = f->parent; p; p = p->parent) {
    qc_vid v = qc_graph_find(p->g, name);
    if (v >= 0 && p->g->values[v].kind != QC_VALUE_OUTER) return &p->vals[v];
  }
  return NULL;
}

static qc_status check_kernels(const qc_graph *g) {
  for (qc_nid n = 0; n < g->n_nodes; n++) {
    const qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    if (!qc_kernel_lookup(nd->op))
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: the interpreter has no kernel for this op",
                           qc_node_desc(g, n));
    for (int32_t k = 0; k < nd->n_attr; k++) {
      const qc_attr *a = &nd->attr[k];
      if (a->kind == QC_ATTR_GRAPH) QC_RETURN_IF_ERROR(check_kernels(a->u.g));
      if (a->kind == QC_ATTR_GRAPHS)
        for (int32_t j = 0; j < a->n; j++) QC_RETURN_IF_ERROR(check_kernels(a->u.graphs[j]));
    }
  }
  return QC_OK;
}

/* Run node n of frame f: its kernel on the frame's values; outputs go to f->vals and, with
 * `observe`, to the observer. */
static qc_status exec_node(qc_interp *it, qc_frame *f, qc_nid n, const qc_rvalue **ins,
                           bool observe) {
  const qc_graph *g = f->g;
  const qc_node *nd = &g->nodes[n];
  qc_kernel_fn fn = qc_kernel_lookup(nd->op);
  if (!fn)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: the interpreter has no kernel for this op",
                         qc_node_desc(g, n));
  for (int32_t i = 0; i < nd->n_in; i++) ins[i] = nd->in[i] >= 0 ? &f->vals[nd->in[i]] : NULL;
  qc_rvalue outs_local[8];
  qc_rvalue *outs = nd->n_out <= 8 ? outs_local : calloc((size_t)nd->n_out, sizeof(qc_rvalue));
  if (!outs) return QC_OOM();
  memset(outs, 0, sizeof(qc_rvalue) * (size_t)(nd->n_out <= 8 ? 8 : nd->n_out));
  qc_kctx_full kf;
  memset(&kf, 0, sizeof kf);
  kf.k.g = g;
  kf.k.node = n;
  kf.k.n = nd;
  kf.k.version = qc_node_version(g, n);
  kf.k.n_in = nd->n_in;
  kf.k.n_out = nd->n_out;
  kf.k.in = ins;
  kf.k.out = outs;
  kf.k.interp = it;
  /* The caller's allocator (or the default), not the interpreter's copy of it: output
   * buffers keep this pointer and outlive the interpreter. */
  kf.k.alloc = it->opts.alloc ? it->opts.alloc : qc_allocator_default();
  kf.frame = f;
  qc_status s = fn(&kf.k);
  if (s && !strstr(qc_status_message(s), qc_node_desc(g, n)))
    s = qc_status_wrap(s, "%s", qc_node_desc(g, n));
  for (int32_t i = 0; i < nd->n_out; i++) {
    if (nd->out[i] < 0) {
      qc_rvalue_release(&outs[i]);
      continue;
    }
    if (!s && outs[i].kind == QC_RV_NONE && !outs[i].optional &&
        g->values[nd->out[i]].type.kind == QC_TYPE_TENSOR)
      s = qc_status_new(QC_CODE_INTERNAL, "%s: kernel left output %d unset", qc_node_desc(g, n), i);
    f->vals[nd->out[i]] = outs[i];
    if (!s && observe && it->opts.observe)
      s = it->opts.observe(it->opts.observe_user, g, nd->out[i], &f->vals[nd->out[i]]);
  }
  if (outs != outs_local) free(outs);
  return s;
}

static int32_t max_inputs(const qc_graph *g) {
  int32_t m = 1;
  for (qc_nid n = 0; n < g->n_nodes; n++)
    if (g->nodes[n].n_in > m) m = g->nodes[n].n_in;
  return m;
}

static qc_status run_frame(qc_interp *it, qc_frame *f, int32_t n_in, const qc_rvalue *in,
                           int32_t n_out, qc_rvalue *out, const int32_t *last_use) {
  const qc_graph *g = f->g;
  if (n_in != g->n_inputs)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "graph '%s' takes %d inputs, %d given", g->name,
                         g->n_inputs, n_in);
  if (n_out > g->n_outputs)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "graph '%s' has %d outputs, %d requested",
                         g->name, g->n_outputs, n_out);
  /* The main graph skips its constant subgraphs, whose results were computed once. */
  bool cached = !f->parent && g == it->g && atomic_load(&it->cache_ready);
  f->vals = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof(qc_rvalue));
  if (!f->vals) return QC_OOM();
  qc_status s = QC_OK;
  const qc_rvalue **ins = NULL;
  for (int32_t i = 0; i < n_in && !s; i++) {
    s = qc_rvalue_copy(&f->vals[g->inputs[i]], &in[i]);
    if (!s && it->opts.observe) s = it->opts.observe(it->opts.observe_user, g, g->inputs[i], &in[i]);
  }
  for (qc_vid v = 0; v < g->n_values && !s; v++) {
    const qc_value *val = &g->values[v];
    if (val->kind == QC_VALUE_CONST) {
      f->vals[v] = qc_rvalue_tensor(&val->cst);
    } else if (val->kind == QC_VALUE_OUTER) {
      const qc_rvalue *o = lookup_outer(f, val->name);
      if (!o) s = qc_status_new(QC_CODE_RUNTIME, "graph '%s': captured value '%s' is not visible",
                                g->name, val->name);
      else s = qc_rvalue_copy(&f->vals[v], o);
    } else if (cached && (it->cache[v].kind != QC_RV_NONE || it->cache[v].optional)) {
      s = qc_rvalue_copy(&f->vals[v], &it->cache[v]);
    }
  }
  if (!s) {
    ins = malloc(sizeof *ins * (size_t)max_inputs(g));
    if (!ins) s = QC_OOM();
  }
  for (qc_nid n = 0; n < g->n_nodes && !s; n++) {
    const qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    if (cached && it->konst[n]) {
      /* Computed once; the observer still sees its outputs (all cached when it is set). */
      for (int32_t i = 0; i < nd->n_out && !s && it->opts.observe; i++)
        if (nd->out[i] >= 0)
          s = it->opts.observe(it->opts.observe_user, g, nd->out[i], &f->vals[nd->out[i]]);
    } else {
      s = exec_node(it, f, n, ins, true);
    }
    /* Free values whose last use was this node. */
    if (last_use && !it->opts.keep_all) {
      for (int32_t i = 0; i < nd->n_in; i++) {
        qc_vid v = nd->in[i];
        if (v >= 0 && last_use[v] == n) qc_rvalue_release(&f->vals[v]);
      }
    }
  }
  for (int32_t i = 0; i < n_out && !s; i++) {
    qc_vid v = g->outputs[i];
    s = qc_rvalue_copy(&out[i], &f->vals[v]);
    if (s) {
      for (int32_t j = 0; j < i; j++) qc_rvalue_release(&out[j]);
    }
  }
  for (qc_vid v = 0; v < g->n_values; v++) qc_rvalue_release(&f->vals[v]);
  free(f->vals);
  f->vals = NULL;
  free(ins);
  return s;
}

/* ---- constant subgraphs ------------------------------------------------------------------------ */

/* Whether node n of the main graph may be computed once: every input a constant or computed
 * from constants, a deterministic op without side effects or sub-graphs. Dropout carries no
 * RANDOM flag (it is the identity at inference) but draws a mask in training mode. */
static bool const_eligible(const qc_graph *g, qc_nid n, const uint8_t *kval) {
  const qc_node *nd = &g->nodes[n];
  if (nd->dead || nd->op == QC_OP_Dropout) return false;
  const qc_op_schema *sc = qc_op_schema_of(nd->op);
  if (!sc || (sc->flags & (QC_OPF_RANDOM | QC_OPF_SIDE_EFFECT | QC_OPF_SUBGRAPH))) return false;
  for (int32_t a = 0; a < nd->n_attr; a++)
    if (nd->attr[a].kind == QC_ATTR_GRAPH || nd->attr[a].kind == QC_ATTR_GRAPHS) return false;
  for (int32_t i = 0; i < nd->n_in; i++)
    if (nd->in[i] >= 0 && !kval[nd->in[i]]) return false;
  return true;
}

/* Evaluate the constant subgraphs of the main graph once. Values are freed after their last
 * use among those nodes unless the rest of the graph (or a graph output) reads them; those
 * stay in it->cache. An observer or keep_all keeps them all, so every run can show them. */
static qc_status build_cache(qc_interp *it) {
  const qc_graph *g = it->g;
  int32_t nv = g->n_values, nn = g->n_nodes;
  uint8_t *kval = calloc((size_t)(nv ? nv : 1), 1), *need = calloc((size_t)(nv ? nv : 1), 1);
  uint8_t *konst = calloc((size_t)(nn ? nn : 1), 1);
  int32_t *klast = malloc(sizeof(int32_t) * (size_t)(nv ? nv : 1));
  qc_rvalue *vals = calloc((size_t)(nv ? nv : 1), sizeof(qc_rvalue));
  const qc_rvalue **ins = malloc(sizeof *ins * (size_t)max_inputs(g));
  qc_uses u = {0};
  bool have_uses = false;
  qc_status s = QC_OK;
  if (!kval || !need || !konst || !klast || !vals || !ins) s = QC_OOM();
  bool keep_every = it->opts.observe || it->opts.keep_all;
  int32_t n_konst = 0;
  if (!s) {
    for (qc_vid v = 0; v < nv; v++) {
      kval[v] = g->values[v].kind == QC_VALUE_CONST;
      klast[v] = -1;
    }
    for (qc_nid n = 0; n < nn; n++) {
      if (!const_eligible(g, n, kval)) continue;
      konst[n] = 1;
      n_konst++;
      const qc_node *nd = &g->nodes[n];
      for (int32_t i = 0; i < nd->n_out; i++)
        if (nd->out[i] >= 0) kval[nd->out[i]] = 1;
      for (int32_t i = 0; i < nd->n_in; i++)
        if (nd->in[i] >= 0) klast[nd->in[i]] = n;
    }
  }
  if (!s && n_konst) {
    s = qc_uses_compute(g, &u);
    have_uses = !s;
  }
  /* A computed value is kept when something other than a constant node reads it. */
  for (qc_vid v = 0; v < nv && !s && n_konst; v++) {
    const qc_value *val = &g->values[v];
    if (!kval[v] || val->kind == QC_VALUE_CONST) continue;
    need[v] = keep_every;
    for (int32_t k = u.start[v]; k < u.start[v + 1] && !need[v]; k++)
      need[v] = u.use[k].node == QC_NONE || !konst[u.use[k].node];
  }
  qc_frame fr = {g, vals, NULL};
  for (qc_vid v = 0; v < nv && !s && n_konst; v++)
    if (g->values[v].kind == QC_VALUE_CONST) vals[v] = qc_rvalue_tensor(&g->values[v].cst);
  for (qc_nid n = 0; n < nn && !s && n_konst; n++) {
    if (!konst[n]) continue;
    const qc_node *nd = &g->nodes[n];
    s = exec_node(it, &fr, n, ins, false);
    for (int32_t i = 0; i < nd->n_in; i++) {
      qc_vid v = nd->in[i];
      if (v >= 0 && klast[v] == n && !need[v]) qc_rvalue_release(&vals[v]);
    }
    for (int32_t i = 0; i < nd->n_out; i++) {
      qc_vid v = nd->out[i];
      if (v >= 0 && klast[v] < 0 && !need[v]) qc_rvalue_release(&vals[v]);
    }
  }
  for (qc_vid v = 0; v < nv && vals; v++) {
    if (!s && need[v]) it->cache[v] = vals[v];
    else qc_rvalue_release(&vals[v]);
  }
  if (!s) {
    memcpy(it->konst, konst, (size_t)nn);
    atomic_store(&it->cache_ready, true);
  } else if (it->cache) {
    for (qc_vid v = 0; v < nv; v++) qc_rvalue_release(&it->cache[v]);
  }
  if (have_uses) qc_uses_free(g, &u);
  free(kval);
  free(need);
  free(konst);
  free(klast);
  free(vals);
  free(ins);
  return s;
}

/* For each value of g, the index of the last node that uses it (captures by a node's
 * sub-graphs count as uses by the node); -1 for none, INT32_MAX for graph outputs. */
static qc_status last_uses(const qc_graph *g, int32_t **out) {
  qc_uses u;
  QC_RETURN_IF_ERROR(qc_uses_compute(g, &u));
  int32_t *last = malloc(sizeof(int32_t) * (size_t)(g->n_values ? g->n_values : 1));
  if (!last) {
    qc_uses_free(g, &u);
    return QC_OOM();
  }
  for (qc_vid v = 0; v < g->n_values; v++) {
    int32_t l = -1;
    for (int32_t k = u.start[v]; k < u.start[v + 1]; k++) {
      const qc_use *us = &u.use[k];
      if (us->node == QC_NONE) {
        l = INT32_MAX;
        break;
      }
      if (us->node > l) l = us->node;
    }
    last[v] = l;
  }
  qc_uses_free(g, &u);
  *out = last;
  return QC_OK;
}

/* Last uses of every sub-graph of g's nodes, recursively. */
static qc_status collect_subs(qc_interp *it, const qc_graph *g) {
  for (qc_nid n = 0; n < g->n_nodes; n++) {
    const qc_node *nd = &g->nodes[n];
    if (nd->dead) continue;
    for (int32_t a = 0; a < nd->n_attr; a++) {
      const qc_attr *at = &nd->attr[a];
      int32_t cnt = at->kind == QC_ATTR_GRAPH ? 1 : at->kind == QC_ATTR_GRAPHS ? at->n : 0;
      for (int32_t j = 0; j < cnt; j++) {
        const qc_graph *sub = at->kind == QC_ATTR_GRAPH ? at->u.g : at->u.graphs[j];
        int32_t i = it->n_subs;
        const qc_graph **gs = realloc(it->sub_graphs, sizeof *gs * (size_t)(i + 1));
        if (!gs) return QC_OOM();
        it->sub_graphs = gs;
        int32_t **lu = realloc(it->sub_last_use, sizeof *lu * (size_t)(i + 1));
        if (!lu) return QC_OOM();
        it->sub_last_use = lu;
        QC_RETURN_IF_ERROR(last_uses(sub, &it->sub_last_use[i]));
        it->sub_graphs[i] = sub;
        it->n_subs = i + 1;
        QC_RETURN_IF_ERROR(collect_subs(it, sub));
      }
    }
  }
  return QC_OK;
}

qc_status qc_interp_create(const qc_graph *g, const qc_interp_options *opts, qc_interp **out) {
  *out = NULL;
  QC_RETURN_IF_ERROR(check_kernels(g));
  qc_interp *it = calloc(1, sizeof *it);
  if (!it) return QC_OOM();
  it->g = g;
  if (opts) it->opts = *opts;
  pthread_mutex_init(&it->cache_lock, NULL);
  atomic_init(&it->cache_ready, false);
  it->konst = calloc((size_t)(g->n_nodes ? g->n_nodes : 1), 1);
  it->cache = calloc((size_t)(g->n_values ? g->n_values : 1), sizeof(qc_rvalue));
  if (!it->konst || !it->cache) {
    free(it->konst);
    free(it->cache);
    pthread_mutex_destroy(&it->cache_lock);
    free(it);
    return QC_OOM();
  }
  it->alloc = it->opts.alloc ? *it->opts.alloc : *qc_allocator_default();
  qc_status s = qc_pool_create(it->opts.n_threads, &it->pool);
  if (s) {
    free(it->konst);
    free(it->cache);
    pthread_mutex_destroy(&it->cache_lock);
    free(it);
    return s;
  }
  s = last_uses(g, &it->last_use);
  if (!s) s = collect_subs(it, g);
  if (s) {
    qc_interp_destroy(it);
    return s;
  }
  *out = it;
  return QC_OK;
}

void qc_interp_destroy(qc_interp *it) {
  if (!it) return;
  qc_pool_destroy(it->pool);
  free(it->last_use);
  for (int32_t i = 0; i < it->n_subs; i++) free(it->sub_last_use[i]);
  free(it->sub_last_use);
  free(it->sub_graphs);
  for (qc_vid v = 0; it->cache && v < it->g->n_values; v++) qc_rvalue_release(&it->cache[v]);
  free(it->cache);
  free(it->konst);
  pthread_mutex_destroy(&it->cache_lock);
  free(it);
}

qc_status qc_interp_run(qc_interp *it, int32_t n_in, const qc_rvalue *inputs, int32_t n_out,
                        qc_rvalue *outputs) {
  for (int32_t i = 0; i < n_out; i++) memset(&outputs[i], 0, sizeof outputs[i]);
  if (!atomic_load(&it->cache_ready)) {
    pthread_mutex_lock(&it->cache_lock);
    qc_status s = atomic_load(&it->cache_ready) ? QC_OK : build_cache(it);
    pthread_mutex_unlock(&it->cache_lock);
    if (s) return s;
  }
  qc_frame f = {it->g, NULL, NULL};
  return run_frame(it, &f, n_in, inputs, n_out, outputs, it->last_use);
}

qc_status qc_run_graph(const qc_graph *g, const qc_interp_options *opts, int32_t n_in,
                       const qc_rvalue *inputs, int32_t n_out, qc_rvalue *outputs) {
  qc_interp *it;
  QC_RETURN_IF_ERROR(qc_interp_create(g, opts, &it));
  qc_status s = qc_interp_run(it, n_in, inputs, n_out, outputs);
  qc_interp_destroy(it);
  return s;
}
