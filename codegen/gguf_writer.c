/*
 * The GGUF writer (layout in quarc/gguf.h). It writes version 3, little-endian:
 *   magic, version, tensor count, kv count; the kvs in the order first set; the tensor
 *   infos in the order added, offsets running over PAD(nbytes, ALIGNMENT); zero padding to
 *   ALIGNMENT; each tensor's bytes followed by zero padding to ALIGNMENT (the last one too:
 *   ggml's reader, when it loads the data, reads the padded size).
 * ALIGNMENT is general.alignment if set (a u32 power of 2), else 32.
 */
#include "quarc/gguf.h"
#include "quarc/io.h"

#include "ir/bytes.h"
#include "ir/ggml_types.h"
#include "ir/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_STRING (1ull << 30)
#define MAX_ARRAY (1ull << 30)
#define MAX_DEPTH 16

static const uint8_t TYPE_SIZE[QC_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

typedef struct wkv {
  const char *key;
  qc_gguf_value v;
} wkv;

typedef struct wtensor {
  const char *name;
  int ggml_type;
  int32_t n_dims;
  int64_t ne[4];
  qc_buffer *buf;
  size_t offset;
  uint64_t nbytes;
} wtensor;

struct qc_gguf_writer {
  qc_arena arena;
  wkv *kvs;
  int32_t n_kv, cap_kv;
  qc_strmap kv_map;
  wtensor *ts;
  int32_t n_t, cap_t;
  qc_strmap t_map;
};

qc_status qc_gguf_writer_create(qc_gguf_writer **out) {
  qc_gguf_writer *w = calloc(1, sizeof *w);
  *out = NULL;
  if (!w) return QC_OOM();
  qc_arena_init(&w->arena, qc_allocator_default());
  qc_strmap_init(&w->kv_map, qc_allocator_default());
  qc_strmap_init(&w->t_map, qc_allocator_default());
  *out = w;
  return QC_OK;
}

void qc_gguf_writer_free(qc_gguf_writer *w) {
  if (!w) return;
  for (int32_t i = 0; i < w->n_t; i++) qc_buffer_release(w->ts[i].buf);
  const qc_allocator *A = qc_allocator_default();
  qc_free(A, w->kvs, (size_t)w->cap_kv * sizeof *w->kvs);
  qc_free(A, w->ts, (size_t)w->cap_t * sizeof *w->ts);
  qc_strmap_free(&w->kv_map);
  qc_strmap_free(&w->t_map);
  qc_arena_free(&w->arena);
  free(w);
}

/* Deep-copy `v` into the arena, checking it as the reader would. */
static qc_status copy_value(qc_gguf_writer *w, const char *key, const qc_gguf_value *v, qc_gguf_value *o,
                            int depth) {
  memset(o, 0, sizeof *o);
  if ((unsigned)v->type >= QC_GGUF_TYPE_COUNT)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': invalid value type %d", key, (int)v->type);
  o->type = v->type;
  if (v->type == QC_GGUF_STRING) {
    if (v->count > MAX_STRING)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': string longer than 1 GiB", key);
    if (v->count && !v->data) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': no string data", key);
    char *s = qc_arena_memdup0(&w->arena, v->count ? v->data : "", (size_t)v->count);
    if (!s) return QC_OOM();
    o->data = s;
    o->count = v->count;
    return QC_OK;
  }
  if (v->type != QC_GGUF_ARRAY) {
    if (!v->data) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': no value", key);
    if (v->type == QC_GGUF_BOOL && ((const uint8_t *)v->data)[0] > 1)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': bool value is neither 0 nor 1", key);
    void *d = qc_arena_alloc(&w->arena, TYPE_SIZE[v->type]);
    if (!d) return QC_OOM();
    memcpy(d, v->data, TYPE_SIZE[v->type]);
    o->data = d;
    return QC_OK;
  }
  if ((unsigned)v->elem_type >= QC_GGUF_TYPE_COUNT)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': invalid array element type", key);
  if (v->elem_type == QC_GGUF_ARRAY && depth >= MAX_DEPTH)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': arrays nested deeper than %d", key, MAX_DEPTH);
  if (v->count > MAX_ARRAY)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': array longer than 2^30", key);
  o->elem_type = v->elem_type;
  o->count = v->count;
  size_t es = TYPE_SIZE[v->elem_type];
  if (es) {
    if (v->count && !v->data) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': no array data", key);
    size_t bytes = (size_t)v->count * es;
    uint8_t *d = qc_arena_alloc(&w->arena, bytes ? bytes : 1);
    if (!d) return QC_OOM();
    if (bytes) memcpy(d, v->data, bytes);
    if (v->elem_type == QC_GGUF_BOOL)
      for (size_t i = 0; i < bytes; i++)
        if (d[i] > 1)
          return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': element %zu: bool neither 0 nor 1", key, i);
    o->data = d;
    return QC_OK;
  }
  if (v->count && !v->items) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': no array items", key);
  qc_gguf_value *items = qc_arena_alloc(&w->arena, (size_t)(v->count ? v->count : 1) * sizeof *items);
  if (!items) return QC_OOM();
  for (uint64_t i = 0; i < v->count; i++) {
    if (v->items[i].type != v->elem_type)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': element %" PRIu64 " has type %s, not %s", key,
                           i, qc_gguf_type_name(v->items[i].type), qc_gguf_type_name(v->elem_type));
    QC_RETURN_IF_ERROR(copy_value(w, key, &v->items[i], &items[i], depth + 1));
  }
  o->items = items;
  return QC_OK;
}

qc_status qc_gguf_writer_set(qc_gguf_writer *w, const char *key, const qc_gguf_value *v) {
  if (!key || !*key) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: empty key");
  if (strlen(key) > 65535) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%.60s...' is too long", key);
  if (!qc_utf8_valid(key, strlen(key), NULL))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s' is not valid UTF-8", key);
  if (strcmp(key, "general.alignment") == 0) {
    if (v->type != QC_GGUF_UINT32)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key 'general.alignment' must be a u32");
    uint32_t a = qc_rd_u32le(v->data);
    if (a == 0 || (a & (a - 1)) || a > (1u << 20))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "gguf: key 'general.alignment': %" PRIu32 " is not a power of 2 up to 1 MiB", a);
  }
  qc_gguf_value copy;
  QC_RETURN_IF_ERROR(copy_value(w, key, v, &copy, 0));
  int32_t i = qc_strmap_get(&w->kv_map, key);
  if (i >= 0) {
    w->kvs[i].v = copy;
    return QC_OK;
  }
  char *k = qc_arena_strdup(&w->arena, key);
  if (!k || !qc_grow(qc_allocator_default(), (void **)&w->kvs, &w->cap_kv, w->n_kv + 1, sizeof *w->kvs) ||
      !qc_strmap_put(&w->kv_map, k, w->n_kv))
    return QC_OOM();
  w->kvs[w->n_kv++] = (wkv){k, copy};
  return QC_OK;
}

static qc_status set_scalar(qc_gguf_writer *w, const char *key, qc_gguf_type t, uint64_t bits) {
  uint8_t le[8];
  qc_wr_u64le(le, bits);
  qc_gguf_value v = {t, 0, 0, le, NULL};
  return qc_gguf_writer_set(w, key, &v);
}

qc_status qc_gguf_writer_set_u32(qc_gguf_writer *w, const char *key, uint32_t v) {
  return set_scalar(w, key, QC_GGUF_UINT32, v);
}
qc_status qc_gguf_writer_set_i32(qc_gguf_writer *w, const char *key, int32_t v) {
  return set_scalar(w, key, QC_GGUF_INT32, (uint32_t)v);
}
qc_status qc_gguf_writer_set_u64(qc_gguf_writer *w, const char *key, uint64_t v) {
  return set_scalar(w, key, QC_GGUF_UINT64, v);
}
qc_status qc_gguf_writer_set_f32(qc_gguf_writer *w, const char *key, float v) {
  uint32_t b;
  memcpy(&b, &v, 4);
  return set_scalar(w, key, QC_GGUF_FLOAT32, b);
}
qc_status qc_gguf_writer_set_bool(qc_gguf_writer *w, const char *key, bool v) {
  return set_scalar(w, key, QC_GGUF_BOOL, v ? 1 : 0);
}
qc_status qc_gguf_writer_set_string(qc_gguf_writer *w, const char *key, const char *s) {
  qc_gguf_value v = {QC_GGUF_STRING, 0, s ? strlen(s) : 0, s, NULL};
  return qc_gguf_writer_set(w, key, &v);
}

qc_status qc_gguf_writer_set_array(qc_gguf_writer *w, const char *key, qc_gguf_type elem, const void *data,
                                   uint64_t n) {
  if ((unsigned)elem >= QC_GGUF_TYPE_COUNT || !TYPE_SIZE[elem])
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': set_array takes a fixed-size element type", key);
  size_t es = TYPE_SIZE[elem];
  if (n > MAX_ARRAY) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': array longer than 2^30", key);
  uint8_t *le = malloc((size_t)(n ? n : 1) * es);
  if (!le) return QC_OOM();
  /* host values -> little-endian */
  const uint8_t *src = data;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t bits = 0;
    switch (es) {
    case 1: bits = src[i]; break;
    case 2: { uint16_t x; memcpy(&x, src + 2 * i, 2); bits = x; break; }
    case 4: { uint32_t x; memcpy(&x, src + 4 * i, 4); bits = x; break; }
    default: memcpy(&bits, src + 8 * i, 8); break;
    }
    for (size_t k = 0; k < es; k++) le[i * es + k] = (uint8_t)(bits >> (8 * k));
  }
  qc_gguf_value v = {QC_GGUF_ARRAY, elem, n, le, NULL};
  qc_status s = qc_gguf_writer_set(w, key, &v);
  free(le);
  return s;
}

qc_status qc_gguf_writer_set_strings(qc_gguf_writer *w, const char *key, const char *const *strs, uint64_t n) {
  if (n > MAX_ARRAY) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: key '%s': array longer than 2^30", key);
  qc_gguf_value *items = calloc((size_t)(n ? n : 1), sizeof *items);
  if (!items) return QC_OOM();
  for (uint64_t i = 0; i < n; i++)
    items[i] = (qc_gguf_value){QC_GGUF_STRING, 0, strs[i] ? strlen(strs[i]) : 0, strs[i] ? strs[i] : "", NULL};
  qc_gguf_value v = {QC_GGUF_ARRAY, QC_GGUF_STRING, n, NULL, items};
  qc_status s = qc_gguf_writer_set(w, key, &v);
  free(items);
  return s;
}

/* ---- tensors ------------------------------------------------------------------------------ */

static qc_status add(qc_gguf_writer *w, const char *name, int ggml_type, int32_t n_dims, const int64_t *ne,
                     qc_buffer *buf, size_t offset) {
  if (!name || !*name) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: a tensor needs a name");
  if (strlen(name) >= 64)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: tensor '%s': name longer than 63 bytes", name);
  if (!qc_utf8_valid(name, strlen(name), NULL))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: tensor '%s': the name is not valid UTF-8", name);
  if (qc_strmap_get(&w->t_map, name) >= 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: tensor '%s': duplicate name", name);
  const qc_ggml_type_layout *l = qc_ggml_layout(ggml_type);
  if (!l) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: tensor '%s': invalid ggml type %d", name, ggml_type);
  if (n_dims < 0 || n_dims > 4)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: tensor '%s': rank %d (GGUF allows at most 4)", name, n_dims);
  wtensor t = {0};
  t.ggml_type = ggml_type;
  t.n_dims = n_dims;
  int64_t nel = 1, nz = 1; /* as the reader: the non-zero dimensions' product must fit too */
  for (int k = 0; k < 4; k++) {
    t.ne[k] = k < n_dims ? ne[k] : 1;
    if (t.ne[k] < 0) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: tensor '%s': negative dimension", name);
    if (t.ne[k] == 0) nel = 0;
    else if (nz > INT64_MAX / t.ne[k])
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: tensor '%s': too many elements", name);
    else nz *= t.ne[k];
  }
  if (nel) nel = nz;
  if (t.ne[0] % l->block)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "gguf: tensor '%s': rows of %" PRId64 " elements are not a multiple of the %s block (%" PRIu32 ")",
                         name, t.ne[0], l->name, l->block);
  t.nbytes = (uint64_t)nel / l->block * l->bytes;
  if (t.nbytes && (!buf || offset > qc_buffer_size(buf) || t.nbytes > qc_buffer_size(buf) - offset))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: tensor '%s': has fewer than its %" PRIu64 " bytes", name,
                         t.nbytes);
  t.name = qc_arena_strdup(&w->arena, name);
  if (!t.name || !qc_grow(qc_allocator_default(), (void **)&w->ts, &w->cap_t, w->n_t + 1, sizeof *w->ts) ||
      !qc_strmap_put(&w->t_map, t.name, w->n_t))
    return QC_OOM();
  t.buf = buf;
  t.offset = offset;
  qc_buffer_retain(buf);
  w->ts[w->n_t++] = t;
  return QC_OK;
}

qc_status qc_gguf_writer_add_tensor(qc_gguf_writer *w, const char *name, const qc_tensor *t) {
  const qc_dtype_traits *tr = qc_dtype_traits_of(t->dtype);
  if (tr->gguf < 0)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "gguf: tensor '%s': dtype %s has no ggml type", name ? name : "",
                         tr->name);
  if (t->rank < 0 || t->rank > 4)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "gguf: tensor '%s': rank %d (GGUF allows at most 4)",
                         name ? name : "", t->rank);
  int64_t ne[4];
  for (int32_t k = 0; k < t->rank; k++) ne[k] = t->dims[t->rank - 1 - k];
  return add(w, name, tr->gguf, t->rank, ne, t->buf, t->offset);
}

qc_status qc_gguf_writer_add_raw(qc_gguf_writer *w, const char *name, int ggml_type, int32_t n_dims,
                                 const int64_t *ne, qc_buffer *data, size_t offset) {
  return add(w, name, ggml_type, n_dims, ne, data, offset);
}

/* ---- output -------------------------------------------------------------------------------- */

typedef struct bw {
  qc_atomic_file *f;
  uint8_t buf[1 << 16];
  size_t n;
  qc_status s;
} bw;

static void bw_flush(bw *b) {
  if (!b->s && b->n) b->s = qc_atomic_write(b->f, b->buf, b->n);
  b->n = 0;
}
static void bw_put(bw *b, const void *p, size_t n) {
  if (b->s) return;
  if (n > sizeof b->buf / 2) {
    bw_flush(b);
    if (!b->s) b->s = qc_atomic_write(b->f, p, n);
    return;
  }
  if (b->n + n > sizeof b->buf) bw_flush(b);
  memcpy(b->buf + b->n, p, n);
  b->n += n;
}
static void bw_u32(bw *b, uint32_t v) {
  uint8_t t[4];
  qc_wr_u32le(t, v);
  bw_put(b, t, 4);
}
static void bw_u64(bw *b, uint64_t v) {
  uint8_t t[8];
  qc_wr_u64le(t, v);
  bw_put(b, t, 8);
}
static void bw_zeros(bw *b, uint64_t n) {
  static const uint8_t z[256];
  while (n) {
    size_t k = n > sizeof z ? sizeof z : (size_t)n;
    bw_put(b, z, k);
    n -= k;
  }
}
static void bw_str(bw *b, const char *s, uint64_t n) {
  bw_u64(b, n);
  bw_put(b, s, (size_t)n);
}

static void write_value(bw *b, const qc_gguf_value *v, bool with_type) {
  if (with_type) bw_u32(b, (uint32_t)v->type);
  if (v->type == QC_GGUF_STRING) {
    bw_str(b, v->data, v->count);
    return;
  }
  if (v->type != QC_GGUF_ARRAY) {
    bw_put(b, v->data, TYPE_SIZE[v->type]);
    return;
  }
  bw_u32(b, (uint32_t)v->elem_type);
  bw_u64(b, v->count);
  if (TYPE_SIZE[v->elem_type]) {
    bw_put(b, v->data, (size_t)v->count * TYPE_SIZE[v->elem_type]);
    return;
  }
  for (uint64_t i = 0; i < v->count; i++) write_value(b, &v->items[i], false);
}

static uint64_t pad_to(uint64_t x, uint64_t a) { return (a - x % a) % a; }

qc_status qc_gguf_writer_write(qc_gguf_writer *w, const char *path) {
  bool quantized = false;
  for (int32_t i = 0; i < w->n_t; i++)
    if (qc_ggml_layout(w->ts[i].ggml_type)->block > 1) quantized = true;
  if (quantized && qc_strmap_get(&w->kv_map, "general.quantization_version") < 0)
    QC_RETURN_IF_ERROR(qc_gguf_writer_set_u32(w, "general.quantization_version", QC_GGUF_QUANTIZATION_VERSION));
  uint64_t align = QC_GGUF_DEFAULT_ALIGNMENT;
  int32_t ai = qc_strmap_get(&w->kv_map, "general.alignment");
  if (ai >= 0) align = qc_rd_u32le(w->kvs[ai].v.data);

  bw *b = malloc(sizeof *b);
  if (!b) return QC_OOM();
  b->n = 0;
  b->s = qc_atomic_open(path, &b->f);
  if (b->s) {
    qc_status s = b->s;
    free(b);
    return s;
  }
  bw_put(b, "GGUF", 4);
  bw_u32(b, 3);
  bw_u64(b, (uint64_t)w->n_t);
  bw_u64(b, (uint64_t)w->n_kv);
  for (int32_t i = 0; i < w->n_kv; i++) {
    bw_str(b, w->kvs[i].key, strlen(w->kvs[i].key));
    write_value(b, &w->kvs[i].v, true);
  }
  uint64_t off = 0;
  for (int32_t i = 0; i < w->n_t; i++) {
    const wtensor *t = &w->ts[i];
    bw_str(b, t->name, strlen(t->name));
    bw_u32(b, (uint32_t)t->n_dims);
    for (int32_t k = 0; k < t->n_dims; k++) bw_u64(b, (uint64_t)t->ne[k]);
    bw_u32(b, (uint32_t)t->ggml_type);
    bw_u64(b, off);
    off += t->nbytes + pad_to(t->nbytes, align);
  }
  bw_flush(b);
  uint64_t pos = b->s ? 0 : qc_atomic_tell(b->f);
  bw_zeros(b, pad_to(pos, align));
  for (int32_t i = 0; i < w->n_t; i++) {
    const wtensor *t = &w->ts[i];
    if (t->nbytes) bw_put(b, (const uint8_t *)qc_buffer_data(t->buf) + t->offset, (size_t)t->nbytes);
    bw_zeros(b, pad_to(t->nbytes, align));
  }
  bw_flush(b);
  qc_status s = b->s;
  if (!s) s = qc_atomic_commit(b->f);
  else qc_atomic_abort(b->f);
  free(b);
  return s;
}
