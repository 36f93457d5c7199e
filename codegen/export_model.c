/* The inventory of a model graph for the exporters (codegen/export_internal.h): parameters,
 * linears and their quantizers, plus the tensor and file helpers they share. */
#include "codegen/export_internal.h"

#include <math.h>

#include "quarc/runtime.h"

#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- scanning ---------------------------------------------------------------------------- */

const qc_tensor *qx_const(const qc_graph *g, qc_vid v) {
  if (v < 0) return NULL;
  const qc_value *val = qc_graph_value(g, v);
  return val && val->kind == QC_VALUE_CONST ? &val->cst : NULL;
}

static const qc_node *producer(const qc_graph *g, qc_vid v, qc_nid *nid) {
  const qc_value *val = v >= 0 ? qc_graph_value(g, v) : NULL;
  if (!val || val->kind != QC_VALUE_NODE) return NULL;
  if (nid) *nid = val->node;
  return qc_graph_node(g, val->node);
}

/* Skip Casts to a float type (the builders cast non-f32 weights after the transpose). */
static qc_vid skip_casts(const qc_graph *g, qc_vid v) {
  for (;;) {
    qc_nid n;
    const qc_node *nd = producer(g, v, &n);
    if (!nd || nd->op != QC_OP_Cast || nd->n_in < 1) return v;
    v = nd->in[0];
  }
}

static bool is_transpose_2d(const qc_graph *g, qc_nid n) {
  const qc_node *nd = qc_graph_node(g, n);
  if (nd->op != QC_OP_Transpose) return false;
  const qc_attr *p = qc_node_attr(g, n, "perm");
  return p && p->kind == QC_ATTR_INTS && p->n == 2 && p->u.ints[0] == 1 && p->u.ints[1] == 0;
}

static qc_vid in_or_none(const qc_node *nd, int i) { return i < nd->n_in ? nd->in[i] : QC_NONE; }

static bool is_const(const qc_graph *g, qc_vid v) { return qx_const(g, v) != NULL; }

/* A FakeQuant node's parameters. */
static void read_act(const qc_graph *g, qc_nid n, qx_act *a) {
  const qc_node *nd = qc_graph_node(g, n);
  a->node = n;
  a->scale = in_or_none(nd, 1);
  a->zp = in_or_none(nd, 2);
  if (!is_const(g, a->scale)) a->scale = QC_NONE;
  if (!is_const(g, a->zp)) a->zp = QC_NONE;
  a->spec = qc_node_string(g, n, "spec", "");
}

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Try to read node n (a MatMul) as a Linear. */
static bool scan_linear(const qc_graph *g, const qc_uses *u, qc_nid n, qx_linear *l) {
  const qc_node *mm = qc_graph_node(g, n);
  if (mm->op != QC_OP_MatMul || mm->n_in != 2 || !mm->name || !*mm->name) return false;
  memset(l, 0, sizeof *l);
  l->module = mm->name;
  l->matmul = n;
  l->w_node = l->w_scale_node = l->in.node = l->out.node = QC_NONE;
  l->w_scale = l->w_zp = l->w_scale_codes = l->w_scale2 = l->bias = QC_NONE;
  l->in.scale = l->in.zp = l->out.scale = l->out.zp = QC_NONE;
  l->in.spec = l->out.spec = l->w_spec = "";
  l->in_rotation = QC_NONE;
  qc_nid tn;
  const qc_node *t = producer(g, skip_casts(g, mm->in[1]), &tn);
  if (!t || !is_transpose_2d(g, tn)) return false;
  qc_vid wv = skip_casts(g, t->in[0]);
  if (is_const(g, wv)) {
    l->wkind = QX_W_FLOAT;
    l->w = wv;
    l->w_dtype = qx_const(g, wv)->dtype;
  } else {
    qc_nid dn;
    const qc_node *d = producer(g, wv, &dn);
    if (!d || d->n_in < 1 || !is_const(g, d->in[0])) return false;
    if (d->op == QC_OP_Q_DequantizePacked) {
      l->wkind = QX_W_PACKED;
      l->w_dtype = qc_dtype_from_onnx((int)qc_node_int(g, dn, "to", 1));
    } else if (d->op == QC_OP_Q_FakeQuant) {
      l->wkind = QX_W_FAKE;
      l->w_dtype = qx_const(g, d->in[0])->dtype;
      l->w_spec = qc_node_string(g, dn, "spec", "");
    } else {
      return false;
    }
    l->w_node = dn;
    l->w = d->in[0];
    l->axis = qc_node_int(g, dn, "axis", 0);
    l->group = qc_node_int(g, dn, "group_size", 0);
    qc_vid sv = in_or_none(d, 1), zv = in_or_none(d, 2);
    if (sv != QC_NONE && !is_const(g, sv)) {
      qc_nid sn;
      const qc_node *s2 = producer(g, sv, &sn);
      if (!s2 || s2->op != QC_OP_Q_DequantizePacked || s2->n_in < 2 || !is_const(g, s2->in[0]) ||
          !is_const(g, s2->in[1]))
        return false;
      l->w_scale_node = sn;
      l->w_scale_codes = s2->in[0];
      l->w_scale2 = s2->in[1];
    } else {
      l->w_scale = sv;
    }
    if (zv != QC_NONE && !is_const(g, zv)) return false;
    l->w_zp = zv;
  }
  /* input quantizer */
  qc_nid in_n;
  const qc_node *inq = producer(g, mm->in[0], &in_n);
  if (inq && inq->op == QC_OP_Q_FakeQuant) read_act(g, in_n, &l->in);
  /* an online rotation before it (and before its input quantizer) */
  qc_nid rn;
  const qc_node *rm = producer(g, l->in.node != QC_NONE ? inq->in[0] : mm->in[0], &rn);
  if (rm && rm->op == QC_OP_MatMul && rm->n_in == 2 && is_const(g, rm->in[1])) {
    const char *rname = qc_graph_value(g, rm->in[1])->name;
    if (rname && ends_with(rname, ".input_rotation")) l->in_rotation = rm->in[1];
  }
  /* bias, then output quantizer */
  qc_vid y = mm->out[0];
  for (int32_t k = u->start[y]; k < u->start[y + 1]; k++) {
    qc_nid c = u->use[k].node;
    if (c == QC_NONE) continue;
    const qc_node *cn = qc_graph_node(g, c);
    if (cn->op != QC_OP_Add || cn->n_in != 2) continue;
    qc_vid other = skip_casts(g, cn->in[u->use[k].slot == 0 ? 1 : 0]);
    const qc_value *ov = qc_graph_value(g, other);
    if (ov->kind == QC_VALUE_CONST && ov->name && ends_with(ov->name, ".bias")) {
      l->bias = other;
      y = cn->out[0];
      break;
    }
  }
  for (int32_t k = u->start[y]; k < u->start[y + 1]; k++) {
    qc_nid c = u->use[k].node;
    if (c != QC_NONE && qc_graph_node(g, c)->op == QC_OP_Q_FakeQuant && u->use[k].slot == 0) {
      read_act(g, c, &l->out);
      break;
    }
  }
  return true;
}

qc_status qx_refuse_rotation(const qx_linear *l, const char *format) {
  if (l->in_rotation == QC_NONE) return QC_OK;
  return qc_status_new(QC_CODE_UNIMPLEMENTED,
                       "%s: its input is rotated online (rotation r4 / online_r1_rotation), which "
                       "%s has no place for; use offline rotations (r1, r2) or another format",
                       l->module, format);
}

qc_status qx_rotation_block(const qc_graph *g, const qx_linear *l, qc_tensor *out) {
  const qc_tensor *r = qx_const(g, l->in_rotation);
  if (!r || r->dtype != QC_F32 || r->rank != 2 || r->dims[0] != r->dims[1])
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: its input rotation is not a square f32 matrix",
                         l->module);
  int64_t n = r->dims[0];
  const float *d = qc_tensor_data(r);
  /* the smallest block k with R block-diagonal, equal blocks, entries +-1/sqrt(k) */
  for (int64_t k = 1; k <= n; k++) {
    if (n % k) continue;
    double inv = sqrt((double)k);
    bool ok = true;
    for (int64_t i = 0; i < n && ok; i++)
      for (int64_t j = 0; j < n && ok; j++) {
        double v = d[i * n + j] * inv;
        if (i / k != j / k) ok = d[i * n + j] == 0;
        else ok = fabs(fabs(v) - 1) < 1e-4 && d[i * n + j] == d[(i % k) * n + j % k];
      }
    if (!ok) continue;
    QC_RETURN_IF_ERROR(qc_tensor_alloc(out, qc_allocator_default(), QC_I8, 2, (int64_t[]){k, k}));
    int8_t *o = qc_tensor_data(out);
    for (int64_t i = 0; i < k; i++)
      for (int64_t j = 0; j < k; j++) o[i * k + j] = d[i * n + j] > 0 ? 1 : -1;
    return QC_OK;
  }
  return qc_status_new(QC_CODE_UNIMPLEMENTED,
                       "%s: its input rotation is not a (block-diagonal) Hadamard matrix, which "
                       "is all Quark's input_rotation can hold", l->module);
}

qc_status qx_model_scan(const qc_graph *g, qx_model *m) {
  memset(m, 0, sizeof *m);
  m->g = g;
  qc_uses u;
  QC_RETURN_IF_ERROR(qc_uses_compute(g, &u));
  int32_t nn = qc_graph_num_nodes(g), nv = qc_graph_num_values(g);
  m->lin = calloc((size_t)(nn ? nn : 1), sizeof *m->lin);
  m->params = calloc((size_t)(nv ? nv : 1), sizeof *m->params);
  bool *in_chain = calloc((size_t)(nv ? nv : 1), sizeof *in_chain);
  if (!m->lin || !m->params || !in_chain) {
    free(in_chain);
    qc_uses_free(g, &u);
    qx_model_free(m);
    return QC_OOM();
  }
  for (qc_nid n = 0; n < nn; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead) continue;
    qx_linear l;
    if (!scan_linear(g, &u, n, &l)) continue;
    m->lin[m->n_lin++] = l;
    if (l.wkind != QX_W_FLOAT) in_chain[l.w] = true;
  }
  for (qc_vid v = 0; v < nv; v++) {
    const qc_value *val = qc_graph_value(g, v);
    if (val->kind != QC_VALUE_CONST || !val->name || in_chain[v] || !qc_uses_count(&u, v)) continue;
    if (ends_with(val->name, ".weight") || ends_with(val->name, ".bias")) m->params[m->n_params++] = v;
  }
  free(in_chain);
  qc_uses_free(g, &u);
  return QC_OK;
}

void qx_model_free(qx_model *m) {
  free(m->lin);
  free(m->params);
  memset(m, 0, sizeof *m);
}

const qx_linear *qx_model_find(const qx_model *m, const char *module) {
  for (int32_t i = 0; i < m->n_lin; i++)
    if (!strcmp(m->lin[i].module, module)) return &m->lin[i];
  return NULL;
}

qc_status qx_linear_dequantized_weight(const qc_graph *g, const qx_linear *l, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  if (l->wkind == QX_W_FLOAT) {
    qc_tensor_copy_ref(out, qx_const(g, l->w));
    return QC_OK;
  }
  qc_nid sel[2];
  int32_t n = 0;
  if (l->w_scale_node != QC_NONE) sel[n++] = l->w_scale_node;
  sel[n++] = l->w_node;
  qc_graph *sub;
  QC_RETURN_IF_ERROR(qc_graph_extract(g, sel, n, &sub));
  qc_vid want = qc_graph_node(g, l->w_node)->out[0];
  const char *want_name = qc_graph_value(g, want)->name;
  int32_t no = qc_graph_num_outputs(sub), idx = -1;
  for (int32_t i = 0; i < no; i++)
    if (!strcmp(qc_graph_value(sub, qc_graph_output(sub, i))->name, want_name)) idx = i;
  qc_status s = QC_OK;
  qc_rvalue *outs = calloc(no > 0 ? (size_t)no : 1u, sizeof *outs);
  if (idx < 0) s = qc_status_new(QC_CODE_INTERNAL, "%s: the weight is not an output", l->module);
  else if (!outs) s = QC_OOM();
  qc_interp_options io = {0};
  io.n_threads = 1;
  if (!s) s = qc_run_graph(sub, &io, 0, NULL, no, outs);
  if (!s) qc_tensor_copy_ref(out, &outs[idx].t);
  for (int32_t i = 0; outs && i < no; i++) qc_rvalue_release(&outs[i]);
  free(outs);
  qc_graph_destroy(sub);
  if (s) return qc_status_wrap(s, "%s: dequantizing the weight", l->module);
  return QC_OK;
}

/* ---- tensors ------------------------------------------------------------------------------ */

qc_status qx_view(const qc_tensor *src, qc_dtype dt, int32_t rank, const int64_t *dims,
                  qc_tensor *out) {
  int64_t n = qc_shape_numel(rank, dims);
  if (n < 0 || qc_dtype_nbytes(dt, (uint64_t)n) != qc_tensor_nbytes(src))
    return qc_status_new(QC_CODE_INTERNAL, "view of %zu bytes as %s has another size",
                         qc_tensor_nbytes(src), qc_dtype_name(dt));
  qc_tensor_init(out, dt, rank, dims, src->buf, src->offset);
  return QC_OK;
}

qc_status qx_reinterpret(const qc_tensor *src, qc_dtype dt, int32_t rank, const int64_t *dims,
                         qc_tensor *out) {
  qc_tensor v;
  QC_RETURN_IF_ERROR(qx_view(src, dt, rank, dims, &v));
  qc_status s = qc_tensor_alloc(out, NULL, dt, rank, dims);
  if (!s && qc_tensor_nbytes(out)) memcpy(qc_tensor_data(out), qc_tensor_data(src), qc_tensor_nbytes(out));
  qc_tensor_release(&v);
  return s;
}

qc_status qx_zeros(qc_dtype dt, int32_t rank, const int64_t *dims, qc_tensor *out) {
  return qc_tensor_alloc(out, NULL, dt, rank, dims);
}

/* ---- named tensor lists -------------------------------------------------------------------- */

void qx_tensors_init(qx_tensors *l) {
  memset(l, 0, sizeof *l);
  qc_arena_init(&l->names, qc_allocator_default());
}

void qx_tensors_free(qx_tensors *l) {
  for (int32_t i = 0; i < l->n; i++) qc_tensor_release(&l->t[i]);
  free(l->name);
  free(l->t);
  qc_arena_free(&l->names);
  memset(l, 0, sizeof *l);
}

static qc_status tensors_slot(qx_tensors *l, const char *name, int32_t *slot) {
  if (qx_tensors_find(l, name) >= 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "tensor '%s' would be written twice", name);
  if (l->n == l->cap) {
    int32_t nc = l->cap ? l->cap * 2 : 64;
    const char **nn = realloc(l->name, sizeof *nn * (size_t)nc);
    if (nn) l->name = nn;
    qc_tensor *nt = realloc(l->t, sizeof *nt * (size_t)nc);
    if (nt) l->t = nt;
    if (!nn || !nt) return QC_OOM();
    l->cap = nc;
  }
  const char *k = qc_arena_strdup(&l->names, name);
  if (!k) return QC_OOM();
  l->name[l->n] = k;
  *slot = l->n++;
  return QC_OK;
}

qc_status qx_tensors_add(qx_tensors *l, const char *name, const qc_tensor *t) {
  int32_t i;
  QC_RETURN_IF_ERROR(tensors_slot(l, name, &i));
  qc_tensor_copy_ref(&l->t[i], t);
  return QC_OK;
}

qc_status qx_tensors_take(qx_tensors *l, const char *name, qc_tensor *t) {
  int32_t i;
  qc_status s = tensors_slot(l, name, &i);
  if (s) {
    qc_tensor_release(t);
    return s;
  }
  l->t[i] = *t;
  memset(t, 0, sizeof *t);
  return QC_OK;
}

int32_t qx_tensors_find(const qx_tensors *l, const char *name) {
  for (int32_t i = 0; i < l->n; i++)
    if (!strcmp(l->name[i], name)) return i;
  return -1;
}

/* ---- configs and files ------------------------------------------------------------------------- */

const char *qx_source_dir(const qc_graph *g, const qc_export_options *opt) {
  if (opt && opt->source_dir) return opt->source_dir;
  return qc_graph_meta(g, "quarc.source");
}

/* A file read whole, or *text NULL (and no error) when it does not exist: the files a
 * source directory may or may not have. */
static qc_status read_if_present(const char *path, char **text, size_t *len) {
  qc_status s = qc_read_file(path, text, len);
  if (s && qc_status_code(s) == QC_CODE_NOT_FOUND) {
    qc_status_free(s);
    return QC_OK;
  }
  return s;
}

static qc_status parse_json(qc_arena *ar, const char *text, size_t n, const char *what,
                            qc_json **out) {
  char err[256];
  *out = qc_json_parse(ar, text, n, err, sizeof err);
  if (!*out) return qc_status_new(QC_CODE_PARSE, "%s: %s", what, err);
  return QC_OK;
}

qc_status qx_source_config(const qc_graph *g, const qc_export_options *opt, qc_arena *ar,
                           qc_json **out) {
  *out = NULL;
  const char *text = qc_graph_meta(g, "quarc.hf_config");
  if (text) return parse_json(ar, text, strlen(text), "graph metadata quarc.hf_config", out);
  const char *src = qx_source_dir(g, opt);
  struct stat st;
  if (!src || stat(src, &st) != 0 || !S_ISDIR(st.st_mode)) return QC_OK; /* e.g. a .gguf source */
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", src);
  char *buf;
  size_t n;
  QC_RETURN_IF_ERROR(read_if_present(path, &buf, &n));
  if (!buf) return QC_OK;
  qc_status s = parse_json(ar, buf, n, path, out);
  free(buf);
  return s;
}

qc_status qx_quant_config(const qc_graph *g, qc_arena *ar, qc_json **out) {
  *out = NULL;
  const char *text = qc_graph_meta(g, "quant.config");
  if (!text) return QC_OK;
  return parse_json(ar, text, strlen(text), "graph metadata quant.config", out);
}

qc_status qx_write_text(qc_atomic_dir *d, const char *name, const char *text, size_t n) {
  qc_atomic_file *f;
  QC_RETURN_IF_ERROR(qc_atomic_dir_file(d, name, &f));
  qc_status s = qc_atomic_write(f, text, n);
  if (s) {
    qc_atomic_abort(f);
    return s;
  }
  return qc_atomic_commit(f);
}

qc_status qx_copy_file(qc_atomic_dir *d, const char *src, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", src, name);
  char *buf;
  size_t n;
  QC_RETURN_IF_ERROR(read_if_present(path, &buf, &n));
  if (!buf) return QC_OK;
  qc_status s = qx_write_text(d, name, buf, n);
  free(buf);
  return s;
}

/* ---- the report ------------------------------------------------------------------------------ */

void qx_note(qc_export_report *r, const char *fmt, ...) {
  if (!r) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  size_t a = r->notes ? strlen(r->notes) : 0, b = strlen(line);
  char *n = realloc(r->notes, a + b + 2);
  if (!n) return;
  memcpy(n + a, line, b);
  n[a + b] = '\n';
  n[a + b + 1] = 0;
  r->notes = n;
}

void qc_export_report_free(qc_export_report *r) {
  if (!r) return;
  free(r->notes);
  memset(r, 0, sizeof *r);
}
