/*
 * The .pth reader (container and allow-list in quarc/pth.h): the zip directory, then a
 * restricted unpickler over data.pkl, then the state dict flattened to named tensors.
 *
 * The unpickler mirrors CPython's pickle.Unpickler for the opcodes it allows: a value
 * stack, a mark stack, and a memo (index -> object). Objects are arena-allocated and
 * referenced by pointer, so BINGET shares an object and APPENDS/SETITEMS mutate it, as in
 * Python. It never calls anything: REDUCE on an allowed global builds the one kind of value
 * that global would build, after checking its arguments' types and ranges.
 */
#include "quarc/pth.h"

#include "frontend/zip.h"
#include "ir/bytes.h"
#include "ir/torch_types.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- values ------------------------------------------------------------------------------ */

enum { PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_TUPLE, PV_LIST, PV_DICT, PV_GLOBAL, PV_STORAGE, PV_TENSOR };
static const char *const KIND_NAMES[] = {"None", "bool", "int", "float", "str", "tuple", "list", "dict",
                                         "global", "storage", "tensor"};
enum { G_ORDERED_DICT, G_REBUILD_V2, G_REBUILD_V3, G_REBUILD_PARAM, G_STORAGE_CLASS, G_DTYPE };

typedef struct pv pv;
struct pv {
  uint8_t kind;
  union {
    bool b;
    int64_t i;
    double f;
    struct {
      const char *s;
      size_t len;
    } str;
    struct {
      pv **v;
      size_t n, cap;
    } seq; /* TUPLE, LIST */
    struct {
      pv **k, **v;
      size_t n, cap;
    } dict;
    struct {
      uint8_t which;
      qc_dtype dtype;
      bool untyped;     /* torch.storage.UntypedStorage */
      bool pairs;       /* float4_e2m1fn_x2: a byte holds two values */
      const char *name; /* "module.name" */
    } g;
    struct {
      int64_t entry;
      qc_dtype dtype;
      bool untyped;
      uint64_t numel;
      const char *key;
    } st;
    struct {
      qc_tensor qt;
      bool copied;
    } t;
  } u;
};

/* ---- the reader --------------------------------------------------------------------------- */

typedef struct pth_item {
  const char *name;
  pv *tensor;
} pth_item;

struct qc_pth {
  qc_arena arena;
  const char *path;
  qc_zip zip;
  const char *prefix; /* "archive/" */
  pth_item *items;
  int32_t n, cap;
  qc_strmap by_name;
  pv **tensors; /* every tensor built, to release */
  int32_t n_tensors, cap_tensors;
};

/* ---- the machine --------------------------------------------------------------------------- */

typedef struct vm {
  qc_pth *p;
  const uint8_t *code;
  size_t n, pos, op_pos;
  uint8_t op;
  pv **stack;
  size_t sp, scap;
  size_t *marks;
  size_t nmarks, markcap;
  /* memo: open addressing, key+1 in keys (0 = empty) */
  uint64_t *mkeys;
  pv **mvals;
  size_t mcount, mcap;
  qc_strmap storages; /* key -> index in storage_list */
  pv **storage_list;
  int32_t n_storages, cap_storages;
} vm;

static qc_status verr(vm *m, const char *fmt, ...) QC_PRINTF(2, 3);
static qc_status verr(vm *m, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  char opc[8];
  if (m->op >= 0x20 && m->op < 0x7f && m->op != '\'') snprintf(opc, sizeof opc, " ('%c')", m->op);
  else opc[0] = 0;
  return qc_status_new(QC_CODE_PARSE, "%s: %sdata.pkl: opcode 0x%02x%s at offset %zu: %s", m->p->path, m->p->prefix,
                       m->op, opc, m->op_pos, msg);
}

static pv *new_pv(vm *m, uint8_t kind) {
  pv *v = qc_arena_alloc(&m->p->arena, sizeof *v);
  if (v) v->kind = kind;
  return v;
}

static qc_status push(vm *m, pv *v) {
  if (!v) return QC_OOM();
  if (m->sp == m->scap) {
    size_t nc = m->scap ? m->scap * 2 : 64;
    pv **s = realloc(m->stack, nc * sizeof *s);
    if (!s) return QC_OOM();
    m->stack = s;
    m->scap = nc;
  }
  m->stack[m->sp++] = v;
  return QC_OK;
}

static qc_status pop(vm *m, pv **out) {
  size_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
  if (m->sp <= floor) return verr(m, "stack underflow");
  *out = m->stack[--m->sp];
  return QC_OK;
}

static qc_status top(vm *m, pv **out) {
  size_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
  if (m->sp <= floor) return verr(m, "stack underflow");
  *out = m->stack[m->sp - 1];
  return QC_OK;
}

/* Items since the last MARK: *items points into the stack, which is then cut back. */
static qc_status pop_mark(vm *m, pv ***items, size_t *n) {
  if (!m->nmarks) return verr(m, "no MARK");
  size_t at = m->marks[--m->nmarks];
  *items = m->stack + at;
  *n = m->sp - at;
  m->sp = at;
  return QC_OK;
}

static bool seq_grow(vm *m, pv ***arr, size_t *cap, size_t need) {
  if (need <= *cap) return true;
  size_t nc = *cap ? *cap * 2 : 8;
  while (nc < need) nc *= 2;
  pv **a = qc_arena_alloc(&m->p->arena, nc * sizeof *a);
  if (!a) return false;
  if (*cap) memcpy(a, *arr, *cap * sizeof *a);
  *arr = a;
  *cap = nc;
  return true;
}

static qc_status make_tuple(vm *m, pv **items, size_t n, pv **out) {
  pv *t = new_pv(m, PV_TUPLE);
  if (!t || !seq_grow(m, &t->u.seq.v, &t->u.seq.cap, n ? n : 1)) return QC_OOM();
  if (n) memcpy(t->u.seq.v, items, n * sizeof *items);
  t->u.seq.n = n;
  *out = t;
  return QC_OK;
}

static qc_status dict_set(vm *m, pv *d, pv *k, pv *v) {
  if (d->kind != PV_DICT) return verr(m, "SETITEM on a %s", KIND_NAMES[d->kind]);
  if (k->kind != PV_STR && k->kind != PV_INT)
    return verr(m, "dict key of type %s (a state dict is keyed by strings)", KIND_NAMES[k->kind]);
  /* Python replaces the value of an equal key; keys here are unique in torch.save output,
   * and duplicates are caught when names are flattened. */
  size_t need = d->u.dict.n + 1, cap = d->u.dict.cap, cap2 = cap;
  if (!seq_grow(m, &d->u.dict.k, &cap, need) || !seq_grow(m, &d->u.dict.v, &cap2, need)) return QC_OOM();
  d->u.dict.cap = cap;
  d->u.dict.k[d->u.dict.n] = k;
  d->u.dict.v[d->u.dict.n++] = v;
  return QC_OK;
}

static qc_status memo_put(vm *m, uint64_t key, pv *v) {
  if ((m->mcount + 1) * 2 > m->mcap) {
    size_t nc = m->mcap ? m->mcap * 2 : 64;
    uint64_t *k = calloc(nc, sizeof *k);
    pv **vals = calloc(nc, sizeof *vals);
    if (!k || !vals) {
      free(k);
      free(vals);
      return QC_OOM();
    }
    for (size_t i = 0; i < m->mcap; i++)
      if (m->mkeys[i]) {
        size_t j = (size_t)(m->mkeys[i] * 0x9E3779B97F4A7C15ull) & (nc - 1);
        while (k[j]) j = (j + 1) & (nc - 1);
        k[j] = m->mkeys[i];
        vals[j] = m->mvals[i];
      }
    free(m->mkeys);
    free(m->mvals);
    m->mkeys = k;
    m->mvals = vals;
    m->mcap = nc;
  }
  uint64_t k1 = key + 1;
  size_t j = (size_t)(k1 * 0x9E3779B97F4A7C15ull) & (m->mcap - 1);
  while (m->mkeys[j] && m->mkeys[j] != k1) j = (j + 1) & (m->mcap - 1);
  if (!m->mkeys[j]) m->mcount++;
  m->mkeys[j] = k1;
  m->mvals[j] = v;
  return QC_OK;
}

static pv *memo_get(vm *m, uint64_t key) {
  if (!m->mcap) return NULL;
  uint64_t k1 = key + 1;
  for (size_t j = (size_t)(k1 * 0x9E3779B97F4A7C15ull) & (m->mcap - 1); m->mkeys[j]; j = (j + 1) & (m->mcap - 1))
    if (m->mkeys[j] == k1) return m->mvals[j];
  return NULL;
}

/* ---- reading operands ---------------------------------------------------------------------- */

static qc_status need(vm *m, size_t k) {
  if (m->n - m->pos < k) return verr(m, "truncated operand");
  return QC_OK;
}

static qc_status read_str(vm *m, uint64_t len, pv **out) {
  if (len > m->n - m->pos) return verr(m, "string of %" PRIu64 " bytes runs past the end", len);
  size_t bad;
  if (!qc_utf8_valid(m->code + m->pos, (size_t)len, &bad)) return verr(m, "string is not valid UTF-8");
  pv *v = new_pv(m, PV_STR);
  char *s = v ? qc_arena_memdup0(&m->p->arena, m->code + m->pos, (size_t)len) : NULL;
  if (!s) return QC_OOM();
  v->u.str.s = s;
  v->u.str.len = (size_t)len;
  m->pos += (size_t)len;
  *out = v;
  return QC_OK;
}

/* A GLOBAL operand: text up to '\n'. */
static qc_status read_line(vm *m, char *buf, size_t cap) {
  size_t i = 0;
  while (m->pos < m->n && m->code[m->pos] != '\n') {
    if (i + 1 >= cap) return verr(m, "global name too long");
    buf[i++] = (char)m->code[m->pos++];
  }
  if (m->pos >= m->n) return verr(m, "unterminated global name");
  m->pos++;
  buf[i] = 0;
  return QC_OK;
}

static qc_status make_global(vm *m, const char *mod, const char *name, pv **out) {
  pv *g = new_pv(m, PV_GLOBAL);
  if (!g) return QC_OOM();
  g->u.g.name = qc_arena_printf(&m->p->arena, "%s.%s", mod, name);
  if (!g->u.g.name) return QC_OOM();
  if (strcmp(mod, "collections") == 0 && strcmp(name, "OrderedDict") == 0) g->u.g.which = G_ORDERED_DICT;
  else if (strcmp(mod, "torch._utils") == 0 && strcmp(name, "_rebuild_tensor_v2") == 0) g->u.g.which = G_REBUILD_V2;
  else if (strcmp(mod, "torch._utils") == 0 && strcmp(name, "_rebuild_tensor_v3") == 0) g->u.g.which = G_REBUILD_V3;
  else if (strcmp(mod, "torch._utils") == 0 && strcmp(name, "_rebuild_parameter") == 0) g->u.g.which = G_REBUILD_PARAM;
  else if (strcmp(mod, QC_TORCH_UNTYPED_MODULE) == 0 && strcmp(name, QC_TORCH_UNTYPED_NAME) == 0) {
    g->u.g.which = G_STORAGE_CLASS;
    g->u.g.dtype = QC_U8;
    g->u.g.untyped = true;
  } else if (strcmp(mod, "torch") == 0 && (g->u.g.dtype = qc_torch_storage_dtype(name)) != QC_DT_UNDEFINED)
    g->u.g.which = G_STORAGE_CLASS;
  else if (strcmp(mod, "torch") == 0 && (g->u.g.dtype = qc_torch_dtype(name, &g->u.g.pairs)) != QC_DT_UNDEFINED)
    g->u.g.which = G_DTYPE;
  else
    return verr(m, "global '%s.%s' is not allowed", mod, name);
  *out = g;
  return QC_OK;
}

/* ---- storages and tensors ------------------------------------------------------------------- */

static size_t elem_size(qc_dtype dt) { return qc_dtype_traits_of(dt)->bits / 8; }

static qc_status persistent_load(vm *m, pv *pid, pv **out) {
  if (pid->kind != PV_TUPLE || pid->u.seq.n != 5)
    return verr(m, "persistent id must be ('storage', class, key, location, numel)");
  pv **a = pid->u.seq.v;
  if (a[0]->kind != PV_STR || strcmp(a[0]->u.str.s, "storage") != 0)
    return verr(m, "persistent id of kind other than 'storage'");
  if (a[1]->kind != PV_GLOBAL || a[1]->u.g.which != G_STORAGE_CLASS)
    return verr(m, "persistent id names %s, not a storage class",
                a[1]->kind == PV_GLOBAL ? a[1]->u.g.name : KIND_NAMES[a[1]->kind]);
  if (a[2]->kind != PV_STR || a[3]->kind != PV_STR || a[4]->kind != PV_INT || a[4]->u.i < 0)
    return verr(m, "persistent id has a bad key, location or numel");
  const char *key = a[2]->u.str.s;
  qc_dtype dt = a[1]->u.g.dtype;
  int32_t prev = qc_strmap_get(&m->storages, key);
  if (prev >= 0) {
    pv *s = m->storage_list[prev];
    if (s->u.st.dtype != dt || s->u.st.untyped != a[1]->u.g.untyped)
      return verr(m, "storage '%s' is used with two types", key);
    *out = s;
    return QC_OK;
  }
  char *ename = qc_arena_printf(&m->p->arena, "%sdata/%s", m->p->prefix, key);
  if (!ename) return QC_OOM();
  int64_t e = qc_zip_find(&m->p->zip, ename);
  if (e < 0) return verr(m, "storage '%s': the archive has no entry '%s'", key, ename);
  const uint8_t *data;
  uint64_t size;
  QC_RETURN_IF_ERROR(qc_zip_data(&m->p->zip, e, &data, &size));
  uint64_t numel = (uint64_t)a[4]->u.i, es = elem_size(dt);
  if (numel > UINT64_MAX / es || numel * es != size)
    return verr(m, "storage '%s': %" PRIu64 " elements of %zu bytes, but '%s' holds %" PRIu64 " bytes", key, numel,
                (size_t)es, ename, size);
  pv *s = new_pv(m, PV_STORAGE);
  if (!s) return QC_OOM();
  s->u.st.entry = e;
  s->u.st.dtype = dt;
  s->u.st.untyped = a[1]->u.g.untyped;
  s->u.st.numel = numel;
  s->u.st.key = ename + strlen(m->p->prefix) + 5;
  if (!qc_grow(qc_allocator_default(), (void **)&m->storage_list, &m->cap_storages, m->n_storages + 1,
               sizeof *m->storage_list) ||
      !qc_strmap_put(&m->storages, s->u.st.key, m->n_storages))
    return QC_OOM();
  m->storage_list[m->n_storages++] = s;
  *out = s;
  return QC_OK;
}

static qc_status int_tuple(vm *m, pv *t, const char *what, int64_t *out, int32_t *rank) {
  if (t->kind != PV_TUPLE) return verr(m, "%s must be a tuple, not %s", what, KIND_NAMES[t->kind]);
  if (t->u.seq.n > QC_MAX_RANK)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: %sdata.pkl: offset %zu: tensor of rank %zu exceeds quarc's limit of %d",
                         m->p->path, m->p->prefix, m->op_pos, t->u.seq.n, QC_MAX_RANK);
  for (size_t i = 0; i < t->u.seq.n; i++) {
    pv *x = t->u.seq.v[i];
    if (x->kind != PV_INT || x->u.i < 0) return verr(m, "%s must hold non-negative ints", what);
    out[i] = x->u.i;
  }
  *rank = (int32_t)t->u.seq.n;
  return QC_OK;
}

/* _rebuild_tensor_v2 / _v3: check the arguments and make the qc_tensor. */
static qc_status rebuild_tensor(vm *m, bool v3, pv **a, size_t n, pv **out) {
  const char *fn = v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2";
  size_t base = v3 ? 7 : 6;
  if (n != base && n != base + 1) return verr(m, "%s takes %zu or %zu arguments, got %zu", fn, base, base + 1, n);
  pv *st = a[0];
  if (st->kind != PV_STORAGE) return verr(m, "%s: argument 0 is a %s, not a storage", fn, KIND_NAMES[st->kind]);
  if (a[1]->kind != PV_INT || a[1]->u.i < 0) return verr(m, "%s: bad storage offset", fn);
  int64_t size[QC_MAX_RANK], stride[QC_MAX_RANK];
  int32_t rank, srank;
  QC_RETURN_IF_ERROR(int_tuple(m, a[2], "size", size, &rank));
  QC_RETURN_IF_ERROR(int_tuple(m, a[3], "stride", stride, &srank));
  if (rank != srank) return verr(m, "%s: size and stride differ in length", fn);
  if (a[4]->kind != PV_BOOL) return verr(m, "%s: requires_grad must be a bool", fn);
  if (a[5]->kind != PV_DICT || a[5]->u.dict.n) return verr(m, "%s: backward hooks must be an empty dict", fn);
  qc_dtype dt = st->u.st.dtype, layout = dt; /* layout: the unit of offsets and strides */
  bool pairs = false;
  uint64_t storage_elems = st->u.st.numel;
  if (v3) {
    if (a[6]->kind != PV_GLOBAL || a[6]->u.g.which != G_DTYPE) return verr(m, "%s: argument 6 must be a torch dtype", fn);
    dt = a[6]->u.g.dtype;
    pairs = a[6]->u.g.pairs;
    layout = pairs ? QC_U8 : dt;
    /* the storage is bytes; the offset counts elements of dt */
    storage_elems = st->u.st.numel * elem_size(st->u.st.dtype) / elem_size(layout);
  } else if (st->u.st.untyped) {
    return verr(m, "%s takes a typed storage", fn);
  }
  if (n == base + 1 && a[base]->kind != PV_DICT && a[base]->kind != PV_NONE)
    return verr(m, "%s: metadata must be a dict", fn);
  /* The product of the non-zero sizes must fit int64 whatever the order, so the qc_tensor's
   * size is computable even for a tensor with a zero dimension. */
  uint64_t nz = 1;
  for (int32_t k = 0; k < rank; k++)
    if (size[k]) {
      if (nz > (uint64_t)INT64_MAX / (uint64_t)size[k]) return verr(m, "%s: element count overflows", fn);
      nz *= (uint64_t)size[k];
    }
  uint64_t es = elem_size(layout), off = (uint64_t)a[1]->u.i, numel = 1, last = off;
  bool contiguous = true;
  uint64_t expect = 1;
  for (int32_t k = rank - 1; k >= 0; k--) {
    if (size[k] && numel > UINT64_MAX / (uint64_t)size[k]) return verr(m, "%s: element count overflows", fn);
    numel *= (uint64_t)size[k];
    if (size[k] > 1) {
      uint64_t span = (uint64_t)(size[k] - 1);
      if (stride[k] && span > (UINT64_MAX - last) / (uint64_t)stride[k]) return verr(m, "%s: extent overflows", fn);
      last += span * (uint64_t)stride[k];
      if ((uint64_t)stride[k] != expect) contiguous = false;
    }
    if (size[k] && expect > UINT64_MAX / (uint64_t)size[k]) contiguous = false;
    else expect *= (uint64_t)size[k] ? (uint64_t)size[k] : 1;
  }
  if (numel && last >= storage_elems)
    return verr(m, "%s: elements up to %" PRIu64 " lie past the storage's %" PRIu64, fn, last, storage_elems);
  if (numel > UINT64_MAX / es) return verr(m, "%s: byte size overflows", fn);
  pv *t = new_pv(m, PV_TENSOR);
  if (!t) return QC_OOM();
  qc_pth *p = m->p;
  const qc_zip_entry *e = &p->zip.entries[st->u.st.entry];
  char what[160];
  snprintf(what, sizeof what, "%s: storage '%s'", p->path, st->u.st.key);
  /* quarc counts fp4 values where torch counts bytes of two */
  int64_t qdims[QC_MAX_RANK];
  int32_t qrank = rank;
  memcpy(qdims, size, sizeof qdims);
  if (pairs) {
    if (rank == 0) qdims[0] = 1, qrank = 1;
    qdims[qrank - 1] *= 2;
  }
  qc_status s;
  if (numel == 0) {
    s = qc_tensor_alloc(&t->u.t.qt, NULL, dt, qrank, qdims);
  } else if (contiguous) {
    s = qc_tensor_over_file(&t->u.t.qt, p->zip.file, e->data_offset + off * es, numel * es, dt, qrank, qdims, what);
    if (!s)
      t->u.t.copied = qc_tensor_data(&t->u.t.qt) !=
                      (const uint8_t *)qc_buffer_data(p->zip.file) + e->data_offset + off * es;
  } else {
    /* strided: gather into a new contiguous tensor */
    s = qc_tensor_alloc(&t->u.t.qt, NULL, dt, qrank, qdims);
    if (!s) {
      const uint8_t *src = (const uint8_t *)qc_buffer_data(p->zip.file) + e->data_offset;
      uint8_t *dst = qc_tensor_data(&t->u.t.qt);
      int64_t idx[QC_MAX_RANK] = {0};
      for (uint64_t i = 0; i < numel; i++) {
        uint64_t at = off;
        for (int32_t k = 0; k < rank; k++) at += (uint64_t)idx[k] * (uint64_t)stride[k];
        memcpy(dst + i * es, src + at * es, (size_t)es);
        for (int32_t k = rank - 1; k >= 0; k--) {
          if (++idx[k] < size[k]) break;
          idx[k] = 0;
        }
      }
      t->u.t.copied = true;
    }
  }
  if (s) return s;
  if (!qc_grow(qc_allocator_default(), (void **)&p->tensors, &p->cap_tensors, p->n_tensors + 1, sizeof *p->tensors)) {
    qc_tensor_release(&t->u.t.qt);
    return QC_OOM();
  }
  p->tensors[p->n_tensors++] = t;
  *out = t;
  return QC_OK;
}

static qc_status reduce(vm *m, pv *fn, pv *args, pv **out) {
  if (fn->kind != PV_GLOBAL) return verr(m, "REDUCE on a %s", KIND_NAMES[fn->kind]);
  if (args->kind != PV_TUPLE) return verr(m, "REDUCE arguments must be a tuple");
  pv **a = args->u.seq.v;
  size_t n = args->u.seq.n;
  switch (fn->u.g.which) {
  case G_ORDERED_DICT:
    if (n != 0) return verr(m, "collections.OrderedDict takes no arguments here");
    *out = new_pv(m, PV_DICT);
    return *out ? QC_OK : QC_OOM();
  case G_REBUILD_V2: return rebuild_tensor(m, false, a, n, out);
  case G_REBUILD_V3: return rebuild_tensor(m, true, a, n, out);
  case G_REBUILD_PARAM:
    if (n != 3 || a[0]->kind != PV_TENSOR || a[1]->kind != PV_BOOL || a[2]->kind != PV_DICT)
      return verr(m, "_rebuild_parameter takes (tensor, requires_grad, backward_hooks)");
    *out = a[0];
    return QC_OK;
  default: return verr(m, "calling '%s' is not allowed", fn->u.g.name);
  }
}

/* ---- the loop ------------------------------------------------------------------------------- */

static qc_status run(vm *m, pv **result) {
  while (m->pos < m->n) {
    m->op_pos = m->pos;
    m->op = m->code[m->pos++];
    pv *v = NULL, *w = NULL, **items = NULL;
    size_t n = 0;
    switch (m->op) {
    case 0x80: /* PROTO */
      QC_RETURN_IF_ERROR(need(m, 1));
      if (m->code[m->pos] < 2 || m->code[m->pos] > 5) return verr(m, "pickle protocol %u", m->code[m->pos]);
      m->pos++;
      break;
    case 0x95: /* FRAME: a length prefix only */
      QC_RETURN_IF_ERROR(need(m, 8));
      m->pos += 8;
      break;
    case '.': /* STOP */
      QC_RETURN_IF_ERROR(pop(m, result));
      return QC_OK;
    case '(': /* MARK */
      if (m->nmarks == m->markcap) {
        size_t nc = m->markcap ? m->markcap * 2 : 16;
        size_t *mk = realloc(m->marks, nc * sizeof *mk);
        if (!mk) return QC_OOM();
        m->marks = mk;
        m->markcap = nc;
      }
      m->marks[m->nmarks++] = m->sp;
      break;
    case '0': QC_RETURN_IF_ERROR(pop(m, &v)); break; /* POP */
    case '1': QC_RETURN_IF_ERROR(pop_mark(m, &items, &n)); break; /* POP_MARK */
    case 'N': QC_RETURN_IF_ERROR(push(m, new_pv(m, PV_NONE))); break;
    case 0x88: case 0x89: /* NEWTRUE, NEWFALSE */
      v = new_pv(m, PV_BOOL);
      if (v) v->u.b = m->op == 0x88;
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    case 'J': case 'K': case 'M': { /* BININT, BININT1, BININT2 */
      size_t k = m->op == 'J' ? 4 : m->op == 'K' ? 1 : 2;
      QC_RETURN_IF_ERROR(need(m, k));
      v = new_pv(m, PV_INT);
      if (v) v->u.i = k == 4 ? (int64_t)(int32_t)qc_rd_u32le(m->code + m->pos)
                      : k == 1 ? m->code[m->pos] : qc_rd_u16le(m->code + m->pos);
      m->pos += k;
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    }
    case 0x8a: case 0x8b: { /* LONG1, LONG4: little-endian two's complement */
      uint64_t k;
      QC_RETURN_IF_ERROR(need(m, m->op == 0x8a ? 1 : 4));
      if (m->op == 0x8a) k = m->code[m->pos++];
      else {
        k = qc_rd_u32le(m->code + m->pos);
        m->pos += 4;
      }
      if (k > 8) return verr(m, "integer of %" PRIu64 " bytes does not fit 64 bits", k);
      QC_RETURN_IF_ERROR(need(m, (size_t)k));
      uint64_t u = 0;
      for (uint64_t i = 0; i < k; i++) u |= (uint64_t)m->code[m->pos + i] << (8 * i);
      if (k && k < 8 && (m->code[m->pos + k - 1] & 0x80)) u |= ~0ull << (8 * k);
      m->pos += (size_t)k;
      v = new_pv(m, PV_INT);
      if (v) v->u.i = (int64_t)u;
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    }
    case 'G': { /* BINFLOAT: big-endian double */
      QC_RETURN_IF_ERROR(need(m, 8));
      uint64_t u = 0;
      for (int i = 0; i < 8; i++) u = u << 8 | m->code[m->pos + i];
      m->pos += 8;
      v = new_pv(m, PV_FLOAT);
      if (v) memcpy(&v->u.f, &u, 8);
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    }
    case 'X': case 0x8c: case 0x8d: { /* BINUNICODE, SHORT_BINUNICODE, BINUNICODE8 */
      size_t k = m->op == 'X' ? 4 : m->op == 0x8c ? 1 : 8;
      QC_RETURN_IF_ERROR(need(m, k));
      uint64_t len = k == 4 ? qc_rd_u32le(m->code + m->pos) : k == 1 ? m->code[m->pos] : qc_rd_u64le(m->code + m->pos);
      m->pos += k;
      QC_RETURN_IF_ERROR(read_str(m, len, &v));
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    }
    case ')': QC_RETURN_IF_ERROR(make_tuple(m, NULL, 0, &v)); QC_RETURN_IF_ERROR(push(m, v)); break;
    case 't':
      QC_RETURN_IF_ERROR(pop_mark(m, &items, &n));
      QC_RETURN_IF_ERROR(make_tuple(m, items, n, &v));
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
      n = (size_t)(m->op - 0x84);
      size_t floor = m->nmarks ? m->marks[m->nmarks - 1] : 0;
      if (m->sp - floor < n) return verr(m, "stack underflow");
      m->sp -= n;
      QC_RETURN_IF_ERROR(make_tuple(m, m->stack + m->sp, n, &v));
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    }
    case ']': QC_RETURN_IF_ERROR(push(m, new_pv(m, PV_LIST))); break;
    case '}': QC_RETURN_IF_ERROR(push(m, new_pv(m, PV_DICT))); break;
    case 'l': case 'd': { /* LIST, DICT from the marked items */
      QC_RETURN_IF_ERROR(pop_mark(m, &items, &n));
      v = new_pv(m, m->op == 'l' ? PV_LIST : PV_DICT);
      if (!v) return QC_OOM();
      if (m->op == 'l') {
        if (!seq_grow(m, &v->u.seq.v, &v->u.seq.cap, n ? n : 1)) return QC_OOM();
        if (n) memcpy(v->u.seq.v, items, n * sizeof *items);
        v->u.seq.n = n;
      } else {
        if (n % 2) return verr(m, "odd number of items for a dict");
        for (size_t i = 0; i < n; i += 2) QC_RETURN_IF_ERROR(dict_set(m, v, items[i], items[i + 1]));
      }
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    }
    case 'a': case 'e': { /* APPEND, APPENDS */
      if (m->op == 'a') {
        QC_RETURN_IF_ERROR(pop(m, &w));
        items = &w;
        n = 1;
      } else {
        QC_RETURN_IF_ERROR(pop_mark(m, &items, &n));
      }
      QC_RETURN_IF_ERROR(top(m, &v));
      if (v->kind != PV_LIST) return verr(m, "APPEND to a %s", KIND_NAMES[v->kind]);
      if (!seq_grow(m, &v->u.seq.v, &v->u.seq.cap, v->u.seq.n + n)) return QC_OOM();
      memcpy(v->u.seq.v + v->u.seq.n, items, n * sizeof *items);
      v->u.seq.n += n;
      break;
    }
    case 's': { /* SETITEM */
      pv *val, *key;
      QC_RETURN_IF_ERROR(pop(m, &val));
      QC_RETURN_IF_ERROR(pop(m, &key));
      QC_RETURN_IF_ERROR(top(m, &v));
      QC_RETURN_IF_ERROR(dict_set(m, v, key, val));
      break;
    }
    case 'u': { /* SETITEMS */
      QC_RETURN_IF_ERROR(pop_mark(m, &items, &n));
      if (n % 2) return verr(m, "odd number of items for SETITEMS");
      QC_RETURN_IF_ERROR(top(m, &v));
      for (size_t i = 0; i < n; i += 2) QC_RETURN_IF_ERROR(dict_set(m, v, items[i], items[i + 1]));
      break;
    }
    case 'q': case 'r': case 0x94: { /* BINPUT, LONG_BINPUT, MEMOIZE */
      uint64_t idx;
      if (m->op == 0x94) idx = m->mcount;
      else {
        size_t k = m->op == 'q' ? 1 : 4;
        QC_RETURN_IF_ERROR(need(m, k));
        idx = k == 1 ? m->code[m->pos] : qc_rd_u32le(m->code + m->pos);
        m->pos += k;
      }
      QC_RETURN_IF_ERROR(top(m, &v));
      QC_RETURN_IF_ERROR(memo_put(m, idx, v));
      break;
    }
    case 'h': case 'j': { /* BINGET, LONG_BINGET */
      size_t k = m->op == 'h' ? 1 : 4;
      QC_RETURN_IF_ERROR(need(m, k));
      uint64_t idx = k == 1 ? m->code[m->pos] : qc_rd_u32le(m->code + m->pos);
      m->pos += k;
      v = memo_get(m, idx);
      if (!v) return verr(m, "memo entry %" PRIu64 " is not set", idx);
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    }
    case 'c': { /* GLOBAL */
      char mod[128], name[128];
      QC_RETURN_IF_ERROR(read_line(m, mod, sizeof mod));
      QC_RETURN_IF_ERROR(read_line(m, name, sizeof name));
      QC_RETURN_IF_ERROR(make_global(m, mod, name, &v));
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    }
    case 0x93: { /* STACK_GLOBAL */
      QC_RETURN_IF_ERROR(pop(m, &w));
      QC_RETURN_IF_ERROR(pop(m, &v));
      if (v->kind != PV_STR || w->kind != PV_STR) return verr(m, "STACK_GLOBAL needs two strings");
      QC_RETURN_IF_ERROR(make_global(m, v->u.str.s, w->u.str.s, &v));
      QC_RETURN_IF_ERROR(push(m, v));
      break;
    }
    case 'R': { /* REDUCE */
      pv *args, *fn, *r;
      QC_RETURN_IF_ERROR(pop(m, &args));
      QC_RETURN_IF_ERROR(pop(m, &fn));
      QC_RETURN_IF_ERROR(reduce(m, fn, args, &r));
      QC_RETURN_IF_ERROR(push(m, r));
      break;
    }
    case 'b': { /* BUILD */
      pv *state;
      QC_RETURN_IF_ERROR(pop(m, &state));
      QC_RETURN_IF_ERROR(top(m, &v));
      if (v->kind != PV_DICT) return verr(m, "BUILD on a %s", KIND_NAMES[v->kind]);
      if (state->kind != PV_DICT && state->kind != PV_NONE) return verr(m, "BUILD with a %s state", KIND_NAMES[state->kind]);
      break; /* an OrderedDict's attributes (state_dict._metadata): not needed */
    }
    case 'Q': { /* BINPERSID */
      pv *pid, *st = NULL;
      QC_RETURN_IF_ERROR(pop(m, &pid));
      QC_RETURN_IF_ERROR(persistent_load(m, pid, &st));
      QC_RETURN_IF_ERROR(push(m, st));
      break;
    }
    default: return verr(m, "opcode not allowed");
    }
  }
  m->op_pos = m->pos;
  m->op = 0;
  return verr(m, "no STOP opcode");
}

/* ---- flattening ------------------------------------------------------------------------------- */

static qc_status add_item(qc_pth *p, const char *name, pv *t) {
  if (qc_strmap_get(&p->by_name, name) >= 0)
    return qc_status_new(QC_CODE_PARSE, "%s: two tensors are called '%s'", p->path, name);
  if (!qc_grow(qc_allocator_default(), (void **)&p->items, &p->cap, p->n + 1, sizeof *p->items) ||
      !qc_strmap_put(&p->by_name, name, p->n))
    return QC_OOM();
  p->items[p->n++] = (pth_item){name, t};
  return QC_OK;
}

static qc_status flatten(qc_pth *p, pv *v, const char *prefix, int depth) {
  if (depth > 32) return qc_status_new(QC_CODE_PARSE, "%s: containers nested deeper than 32 (a cycle?)", p->path);
  size_t n = v->kind == PV_DICT ? v->u.dict.n : v->u.seq.n;
  for (size_t i = 0; i < n; i++) {
    char keybuf[32];
    const char *key;
    pv *val;
    if (v->kind == PV_DICT) {
      pv *k = v->u.dict.k[i];
      if (k->kind == PV_INT) {
        snprintf(keybuf, sizeof keybuf, "%" PRId64, k->u.i);
        key = keybuf;
      } else {
        if (strlen(k->u.str.s) != k->u.str.len)
          return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: a key under '%s' contains NUL", p->path, prefix);
        key = k->u.str.s;
      }
      val = v->u.dict.v[i];
    } else {
      snprintf(keybuf, sizeof keybuf, "%zu", i);
      key = keybuf;
      val = v->u.seq.v[i];
    }
    if (val->kind != PV_TENSOR && val->kind != PV_DICT && val->kind != PV_LIST && val->kind != PV_TUPLE) continue;
    char *name = *prefix ? qc_arena_printf(&p->arena, "%s.%s", prefix, key) : qc_arena_strdup(&p->arena, key);
    if (!name) return QC_OOM();
    if (val->kind == PV_TENSOR) QC_RETURN_IF_ERROR(add_item(p, name, val));
    else QC_RETURN_IF_ERROR(flatten(p, val, name, depth + 1));
  }
  return QC_OK;
}

/* ---- opening ------------------------------------------------------------------------------------ */

static qc_status find_archive(qc_pth *p) {
  /* exactly one entry "<dir>/data.pkl" with <dir> a single path component */
  int64_t found = -1;
  for (int64_t i = 0; i < p->zip.n; i++) {
    const char *name = p->zip.entries[i].name, *slash = strchr(name, '/');
    if (!slash || strcmp(slash + 1, "data.pkl") != 0 || slash == name) continue;
    if (found >= 0)
      return qc_status_new(QC_CODE_PARSE, "%s: two pickles ('%s' and '%s')", p->path, p->zip.entries[found].name, name);
    found = i;
  }
  if (found < 0)
    return qc_status_new(QC_CODE_PARSE, "%s: no <archive>/data.pkl (not a torch.save zip archive)", p->path);
  const char *name = p->zip.entries[found].name;
  p->prefix = qc_arena_memdup0(&p->arena, name, (size_t)(strchr(name, '/') - name + 1));
  if (!p->prefix) return QC_OOM();
  char *bo = qc_arena_printf(&p->arena, "%sbyteorder", p->prefix);
  if (!bo) return QC_OOM();
  int64_t b = qc_zip_find(&p->zip, bo);
  if (b >= 0) {
    const uint8_t *d;
    uint64_t n;
    QC_RETURN_IF_ERROR(qc_zip_data(&p->zip, b, &d, &n));
    if (!(n == 6 && memcmp(d, "little", 6) == 0))
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: '%s' is not \"little\" (big-endian archives are not supported)",
                           p->path, bo);
  }
  return QC_OK;
}

static qc_status load(qc_pth *p, qc_buffer *buf) {
  const uint8_t *d = qc_buffer_data(buf);
  size_t size = qc_buffer_size(buf);
  if (size >= 2 && d[0] == 0x80 && d[1] <= 5)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: a legacy torch.save file (before PyTorch 1.6, not a zip archive); re-save it "
                         "with a current PyTorch",
                         p->path);
  QC_RETURN_IF_ERROR(qc_zip_open(&p->zip, buf, p->path));
  QC_RETURN_IF_ERROR(find_archive(p));
  char *pkl = qc_arena_printf(&p->arena, "%sdata.pkl", p->prefix);
  if (!pkl) return QC_OOM();
  const uint8_t *code;
  uint64_t n;
  QC_RETURN_IF_ERROR(qc_zip_data(&p->zip, qc_zip_find(&p->zip, pkl), &code, &n));
  vm m = {0};
  m.p = p;
  m.code = code;
  m.n = (size_t)n;
  qc_strmap_init(&m.storages, qc_allocator_default());
  pv *root = NULL;
  qc_status s = run(&m, &root);
  if (!s && root->kind != PV_DICT)
    s = qc_status_new(QC_CODE_PARSE, "%s: %sdata.pkl holds a %s, not a state dict", p->path, p->prefix,
                      KIND_NAMES[root->kind]);
  if (!s) s = flatten(p, root, "", 0);
  free(m.stack);
  free(m.marks);
  free(m.mkeys);
  free(m.mvals);
  qc_strmap_free(&m.storages);
  qc_free(qc_allocator_default(), m.storage_list, (size_t)m.cap_storages * sizeof *m.storage_list);
  return s;
}

qc_status qc_pth_open_buffer(qc_buffer *buf, const char *name, qc_pth **out) {
  *out = NULL;
  qc_pth *p = calloc(1, sizeof *p);
  if (!p) return QC_OOM();
  qc_arena_init(&p->arena, qc_allocator_default());
  qc_strmap_init(&p->by_name, qc_allocator_default());
  p->prefix = "";
  p->path = qc_arena_strdup(&p->arena, name ? name : "<memory>");
  qc_status s = p->path ? load(p, buf) : QC_OOM();
  if (s) {
    qc_pth_close(p);
    return s;
  }
  *out = p;
  return QC_OK;
}

qc_status qc_pth_open(const char *path, qc_pth **out) {
  *out = NULL;
  qc_buffer *b;
  QC_RETURN_IF_ERROR(qc_buffer_map_file(path, &b));
  qc_status s = qc_pth_open_buffer(b, path, out);
  qc_buffer_release(b);
  return s;
}

void qc_pth_close(qc_pth *p) {
  if (!p) return;
  for (int32_t i = 0; i < p->n_tensors; i++) qc_tensor_release(&p->tensors[i]->u.t.qt);
  const qc_allocator *A = qc_allocator_default();
  qc_free(A, p->tensors, (size_t)p->cap_tensors * sizeof *p->tensors);
  qc_free(A, p->items, (size_t)p->cap * sizeof *p->items);
  qc_strmap_free(&p->by_name);
  qc_zip_close(&p->zip);
  qc_arena_free(&p->arena);
  free(p);
}

const char *qc_pth_path(const qc_pth *p) { return p->path; }
int64_t qc_pth_count(const qc_pth *p) { return p->n; }
const char *qc_pth_name(const qc_pth *p, int64_t i) { return i >= 0 && i < p->n ? p->items[i].name : NULL; }
int64_t qc_pth_find(const qc_pth *p, const char *name) { return qc_strmap_get(&p->by_name, name); }

qc_status qc_pth_tensor(const qc_pth *p, int64_t i, qc_tensor *out) {
  if (i < 0 || i >= p->n) {
    memset(out, 0, sizeof *out);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor index %" PRId64 " out of range", p->path, i);
  }
  qc_tensor_copy_ref(out, &p->items[i].tensor->u.t.qt);
  return QC_OK;
}

qc_status qc_pth_get(const qc_pth *p, const char *name, qc_tensor *out) {
  int64_t i = qc_pth_find(p, name);
  if (i < 0) {
    memset(out, 0, sizeof *out);
    return qc_status_new(QC_CODE_NOT_FOUND, "%s: no tensor '%s'", p->path, name);
  }
  return qc_pth_tensor(p, i, out);
}

bool qc_pth_is_copy(const qc_pth *p, int64_t i) { return i >= 0 && i < p->n && p->items[i].tensor->u.t.copied; }

qc_status qc_pth_verify(const qc_pth *p) {
  for (int64_t i = 0; i < p->zip.n; i++) QC_RETURN_IF_ERROR(qc_zip_check_crc(&p->zip, i));
  return QC_OK;
}
