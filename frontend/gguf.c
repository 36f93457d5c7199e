/*
 * The GGUF reader (layout and rules in quarc/gguf.h).
 *
 * The file is mapped once and walked with a cursor; every length is checked against what
 * is left of the file before anything is allocated for it, so a hostile count cannot make
 * the reader allocate more than a small multiple of the file size.
 */
#include "quarc/gguf.h"

#include "ir/bytes.h"
#include "ir/ggml_types.h"
#include "ir/internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define GGUF_MAGIC 0x46554747u        /* "GGUF" read as a little-endian u32 */
#define GGUF_MAX_STRING (1ull << 30)  /* ggml's GGUF_MAX_STRING_LENGTH (1 GiB) */
#define GGUF_MAX_ARRAY (1ull << 30)   /* GGUF_MAX_ARRAY_ELEMENTS */
#define GGUF_MAX_ALIGNMENT (1u << 20) /* current ggml's bound */
#define GGUF_MAX_NAME 64              /* GGML_MAX_NAME: names are at most 63 bytes */
#define GGUF_MAX_DEPTH 16

struct qc_gguf {
  qc_arena arena;
  const char *path;
  qc_buffer *file;
  uint32_t version, alignment;
  uint64_t data_offset;
  const char **keys;
  qc_gguf_value *vals;
  int64_t n_kv;
  qc_gguf_tensor_info *tensors;
  int64_t n_tensors;
  qc_strmap kv_map, tensor_map;
};

static const char *const TYPE_NAMES[QC_GGUF_TYPE_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
static const uint8_t TYPE_SIZE[QC_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *qc_gguf_type_name(qc_gguf_type t) {
  return (unsigned)t < QC_GGUF_TYPE_COUNT ? TYPE_NAMES[t] : "?";
}

const char *qc_ggml_type_name(int t) {
  const qc_ggml_type_layout *l = qc_ggml_layout(t);
  return l ? l->name : NULL;
}

/* ---- value access ------------------------------------------------------------------------ */

static bool elem_at(const qc_gguf_value *v, uint64_t i, qc_gguf_type *t, const uint8_t **p) {
  if (v->type == QC_GGUF_ARRAY) {
    if ((unsigned)v->elem_type >= QC_GGUF_TYPE_COUNT || !TYPE_SIZE[v->elem_type] || i >= v->count || !v->data)
      return false;
    *t = v->elem_type;
    *p = (const uint8_t *)v->data + i * TYPE_SIZE[v->elem_type];
    return true;
  }
  if ((unsigned)v->type >= QC_GGUF_TYPE_COUNT || !TYPE_SIZE[v->type] || i != 0 || !v->data) return false;
  *t = v->type;
  *p = v->data;
  return true;
}

double qc_gguf_value_f64(const qc_gguf_value *v, uint64_t i) {
  qc_gguf_type t;
  const uint8_t *p;
  if (!elem_at(v, i, &t, &p)) return 0;
  switch (t) {
  case QC_GGUF_UINT8: case QC_GGUF_BOOL: return p[0];
  case QC_GGUF_INT8: return (int8_t)p[0];
  case QC_GGUF_UINT16: return qc_rd_u16le(p);
  case QC_GGUF_INT16: return (int16_t)qc_rd_u16le(p);
  case QC_GGUF_UINT32: return qc_rd_u32le(p);
  case QC_GGUF_INT32: return (int32_t)qc_rd_u32le(p);
  case QC_GGUF_UINT64: return (double)qc_rd_u64le(p);
  case QC_GGUF_INT64: return (double)(int64_t)qc_rd_u64le(p);
  case QC_GGUF_FLOAT32: {
    uint32_t b = qc_rd_u32le(p);
    float f;
    memcpy(&f, &b, 4);
    return f;
  }
  case QC_GGUF_FLOAT64: {
    uint64_t b = qc_rd_u64le(p);
    double d;
    memcpy(&d, &b, 8);
    return d;
  }
  default: return 0;
  }
}

int64_t qc_gguf_value_i64(const qc_gguf_value *v, uint64_t i) {
  qc_gguf_type t;
  const uint8_t *p;
  if (!elem_at(v, i, &t, &p)) return 0;
  switch (t) {
  case QC_GGUF_UINT64: {
    uint64_t u = qc_rd_u64le(p);
    return u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)u;
  }
  case QC_GGUF_INT64: return (int64_t)qc_rd_u64le(p);
  case QC_GGUF_FLOAT32: case QC_GGUF_FLOAT64: {
    double d = qc_gguf_value_f64(v, i);
    if (!(d == d)) return 0;
    if (d >= 9.2233720368547758e18) return INT64_MAX;
    if (d <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)d;
  }
  default: return (int64_t)qc_gguf_value_f64(v, i); /* exact for <= 32-bit integers */
  }
}

/* ---- parsing ------------------------------------------------------------------------------------ */

typedef struct rd {
  qc_gguf *g;
  const uint8_t *p;
  uint64_t size, pos;
} rd;

static qc_status truncated(rd *r, const char *what, const char *key) {
  if (key)
    return qc_status_new(QC_CODE_PARSE, "%s: key '%s': %s runs past the end of the file (offset %" PRIu64 ")",
                         r->g->path, key, what, r->pos);
  return qc_status_new(QC_CODE_PARSE, "%s: %s runs past the end of the file (offset %" PRIu64 ")", r->g->path,
                       what, r->pos);
}

static bool have(const rd *r, uint64_t n) { return n <= r->size - r->pos; }

static uint32_t get_u32(rd *r) {
  uint32_t v = qc_rd_u32le(r->p + r->pos);
  r->pos += 4;
  return v;
}
static uint64_t get_u64(rd *r) {
  uint64_t v = qc_rd_u64le(r->p + r->pos);
  r->pos += 8;
  return v;
}

/* A gguf_string: copied NUL-terminated into the arena. `what` names it in messages. */
static qc_status read_string(rd *r, const char *what, const char *key, char **out, uint64_t *len) {
  if (!have(r, 8)) return truncated(r, what, key);
  uint64_t n = get_u64(r);
  if (n > GGUF_MAX_STRING) {
    if (key)
      return qc_status_new(QC_CODE_PARSE, "%s: key '%s': %s of %" PRIu64 " bytes exceeds the 1 GiB limit",
                           r->g->path, key, what, n);
    return qc_status_new(QC_CODE_PARSE, "%s: %s of %" PRIu64 " bytes exceeds the 1 GiB limit", r->g->path,
                         what, n);
  }
  if (!have(r, n)) return truncated(r, what, key);
  *out = qc_arena_memdup0(&r->g->arena, r->p + r->pos, (size_t)n);
  if (!*out) return QC_OOM();
  r->pos += n;
  *len = n;
  return QC_OK;
}

/* The fewest bytes one element of type t takes in a file. */
static uint64_t min_size(qc_gguf_type t) {
  if (t == QC_GGUF_STRING) return 8;
  if (t == QC_GGUF_ARRAY) return 12;
  return TYPE_SIZE[t];
}

static qc_status read_value(rd *r, qc_gguf_type type, qc_gguf_value *v, int depth, const char *key) {
  const char *path = r->g->path;
  memset(v, 0, sizeof *v);
  v->type = type;
  if ((unsigned)type >= QC_GGUF_TYPE_COUNT)
    return qc_status_new(QC_CODE_PARSE, "%s: key '%s': invalid value type %u", path, key, (unsigned)type);
  if (type == QC_GGUF_STRING) {
    char *s;
    QC_RETURN_IF_ERROR(read_string(r, "string value", key, &s, &v->count));
    v->data = s;
    return QC_OK;
  }
  if (type != QC_GGUF_ARRAY) {
    if (!have(r, TYPE_SIZE[type])) return truncated(r, "value", key);
    v->data = r->p + r->pos;
    if (type == QC_GGUF_BOOL && r->p[r->pos] > 1)
      return qc_status_new(QC_CODE_PARSE, "%s: key '%s': bool value %u is neither 0 nor 1", path, key,
                           r->p[r->pos]);
    r->pos += TYPE_SIZE[type];
    return QC_OK;
  }
  if (!have(r, 12)) return truncated(r, "array header", key);
  uint32_t et = get_u32(r);
  uint64_t n = get_u64(r);
  if (et >= QC_GGUF_TYPE_COUNT)
    return qc_status_new(QC_CODE_PARSE, "%s: key '%s': invalid array element type %u", path, key, et);
  if (et == QC_GGUF_ARRAY && depth >= GGUF_MAX_DEPTH)
    return qc_status_new(QC_CODE_PARSE, "%s: key '%s': arrays nested deeper than %d", path, key, GGUF_MAX_DEPTH);
  v->elem_type = (qc_gguf_type)et;
  v->count = n;
  if (n > GGUF_MAX_ARRAY)
    return qc_status_new(QC_CODE_PARSE, "%s: key '%s': array of %" PRIu64 " elements exceeds the limit of 2^30",
                         path, key, n);
  if (n > (r->size - r->pos) / min_size(v->elem_type)) return truncated(r, "array", key);
  if (TYPE_SIZE[et]) {
    v->data = r->p + r->pos;
    if (et == QC_GGUF_BOOL)
      for (uint64_t i = 0; i < n; i++)
        if (r->p[r->pos + i] > 1)
          return qc_status_new(QC_CODE_PARSE, "%s: key '%s': element %" PRIu64 ": bool value %u is neither 0 nor 1",
                               path, key, i, r->p[r->pos + i]);
    r->pos += n * TYPE_SIZE[et];
    return QC_OK;
  }
  qc_gguf_value *items = qc_arena_alloc(&r->g->arena, (size_t)(n ? n : 1) * sizeof *items);
  if (!items) return QC_OOM();
  for (uint64_t i = 0; i < n; i++) QC_RETURN_IF_ERROR(read_value(r, v->elem_type, &items[i], depth + 1, key));
  v->items = items;
  return QC_OK;
}

static qc_status parse(qc_gguf *g) {
  const char *path = g->path;
  rd r = {g, qc_buffer_data(g->file), qc_buffer_size(g->file), 0};
  if (!have(&r, 4)) return truncated(&r, "magic", NULL);
  uint32_t magic = get_u32(&r);
  if (magic != GGUF_MAGIC)
    return qc_status_new(QC_CODE_PARSE, "%s: not a GGUF file (magic %02x %02x %02x %02x, expected 'GGUF')", path,
                         r.p[0], r.p[1], r.p[2], r.p[3]);
  if (!have(&r, 20)) return truncated(&r, "header", NULL);
  g->version = get_u32(&r);
  if (g->version == 0 || (g->version & 0xFFFF) == 0)
    return qc_status_new(QC_CODE_PARSE, "%s: version %" PRIu32 " is invalid (a big-endian file?)", path, g->version);
  if (g->version == 1)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: GGUF version 1 is no longer supported", path);
  if (g->version > 3)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: GGUF version %" PRIu32 " is newer than 3", path, g->version);
  int64_t n_tensors = (int64_t)get_u64(&r), n_kv = (int64_t)get_u64(&r);
  /* A kv takes at least 13 bytes, a tensor info 24: counts beyond that cannot be real. */
  if (n_tensors < 0 || (uint64_t)n_tensors > (r.size - r.pos) / 24)
    return qc_status_new(QC_CODE_PARSE, "%s: tensor count %" PRId64 " does not fit the file", path, n_tensors);
  if (n_kv < 0 || (uint64_t)n_kv > (r.size - r.pos) / 13)
    return qc_status_new(QC_CODE_PARSE, "%s: key-value count %" PRId64 " does not fit the file", path, n_kv);
  g->keys = qc_arena_alloc(&g->arena, (size_t)(n_kv ? n_kv : 1) * sizeof *g->keys);
  g->vals = qc_arena_alloc(&g->arena, (size_t)(n_kv ? n_kv : 1) * sizeof *g->vals);
  g->tensors = qc_arena_alloc(&g->arena, (size_t)(n_tensors ? n_tensors : 1) * sizeof *g->tensors);
  if (!g->keys || !g->vals || !g->tensors) return QC_OOM();

  for (int64_t i = 0; i < n_kv; i++) {
    char *key;
    uint64_t klen;
    char what[48];
    snprintf(what, sizeof what, "key %" PRId64, i);
    QC_RETURN_IF_ERROR(read_string(&r, what, NULL, &key, &klen));
    if (klen == 0) return qc_status_new(QC_CODE_PARSE, "%s: key %" PRId64 " is empty", path, i);
    if (strlen(key) != klen) return qc_status_new(QC_CODE_PARSE, "%s: key '%s' contains NUL", path, key);
    if (!qc_utf8_valid(key, (size_t)klen, NULL))
      return qc_status_new(QC_CODE_PARSE, "%s: key %" PRId64 " is not valid UTF-8", path, i);
    if (qc_strmap_get(&g->kv_map, key) >= 0)
      return qc_status_new(QC_CODE_PARSE, "%s: duplicate key '%s'", path, key);
    if (!have(&r, 4)) return truncated(&r, "value type", key);
    uint32_t type = get_u32(&r);
    QC_RETURN_IF_ERROR(read_value(&r, (qc_gguf_type)type, &g->vals[i], 0, key));
    g->keys[i] = key;
    if (!qc_strmap_put(&g->kv_map, key, (int32_t)i)) return QC_OOM();
    g->n_kv = i + 1;
  }

  g->alignment = QC_GGUF_DEFAULT_ALIGNMENT;
  const qc_gguf_value *al = qc_gguf_get(g, "general.alignment");
  if (al) {
    if (al->type != QC_GGUF_UINT32)
      return qc_status_new(QC_CODE_PARSE, "%s: key 'general.alignment' has type %s, expected u32", path,
                           qc_gguf_type_name(al->type));
    uint32_t a = qc_rd_u32le(al->data);
    if (a == 0 || (a & (a - 1)) != 0)
      return qc_status_new(QC_CODE_PARSE, "%s: key 'general.alignment': %" PRIu32 " is not a power of 2", path, a);
    if (a > GGUF_MAX_ALIGNMENT)
      return qc_status_new(QC_CODE_PARSE, "%s: key 'general.alignment': %" PRIu32 " exceeds 1 MiB", path, a);
    g->alignment = a;
  }

  for (int64_t i = 0; i < n_tensors; i++) {
    qc_gguf_tensor_info *t = &g->tensors[i];
    char *name;
    uint64_t nlen;
    char what[48];
    snprintf(what, sizeof what, "name of tensor %" PRId64, i);
    QC_RETURN_IF_ERROR(read_string(&r, what, NULL, &name, &nlen));
    if (nlen >= GGUF_MAX_NAME)
      return qc_status_new(QC_CODE_PARSE, "%s: tensor '%.63s...': name of %" PRIu64 " bytes (the limit is 63)", path,
                           name, nlen);
    if (strlen(name) != nlen) return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s' name contains NUL", path, name);
    if (!qc_utf8_valid(name, (size_t)nlen, NULL))
      return qc_status_new(QC_CODE_PARSE, "%s: the name of tensor %" PRId64 " is not valid UTF-8", path, i);
    if (qc_strmap_get(&g->tensor_map, name) >= 0)
      return qc_status_new(QC_CODE_PARSE, "%s: duplicate tensor name '%s'", path, name);
    t->name = name;
    if (!have(&r, 4)) return truncated(&r, "tensor info", NULL);
    uint32_t n_dims = get_u32(&r);
    if (n_dims > 4)
      return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': %" PRIu32 " dimensions (at most 4)", path, name, n_dims);
    t->n_dims = (int32_t)n_dims;
    if (!have(&r, 8ull * n_dims + 12)) return truncated(&r, "tensor info", NULL);
    /* The element count must fit int64, and so must the product of the non-zero
     * dimensions: a zero-size tensor whose other dimensions overflow (ggml accepts it)
     * would give a qc_tensor whose size cannot be computed. */
    int64_t nel = 1, nz = 1;
    bool overflow = false;
    for (int k = 0; k < 4; k++) {
      t->ne[k] = k < (int)n_dims ? (int64_t)get_u64(&r) : 1;
      if (t->ne[k] < 0)
        return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': dimension %d is negative (%" PRId64 ")", path, name, k,
                             t->ne[k]);
      if (t->ne[k] == 0) nel = 0;
      else if (nz > INT64_MAX / t->ne[k]) overflow = true;
      else nz *= t->ne[k];
    }
    if (overflow)
      return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': element count overflows int64", path, name);
    if (nel) nel = nz;
    uint32_t type = get_u32(&r);
    const qc_ggml_type_layout *l = qc_ggml_layout((int32_t)type);
    if (!l)
      return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': invalid ggml type %" PRId32, path, name, (int32_t)type);
    t->ggml_type = (int)type;
    if (t->ne[0] % l->block)
      return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': %" PRId64 " elements per row of %s, not a multiple of the "
                           "block size %" PRIu32, path, name, t->ne[0], l->name, l->block);
    uint64_t blocks = (uint64_t)nel / l->block;
    if (blocks > UINT64_MAX / l->bytes)
      return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': byte size overflows", path, name);
    t->nbytes = blocks * l->bytes;
    t->offset = get_u64(&r);
    t->dtype = qc_dtype_from_gguf((int)type);
    if (!qc_strmap_put(&g->tensor_map, name, (int32_t)i)) return QC_OOM();
    g->n_tensors = i + 1;
  }

  /* The data section starts aligned (ggml seeks there only if there are tensors). */
  uint64_t start = r.pos;
  if (n_tensors > 0) {
    uint64_t pad = (g->alignment - start % g->alignment) % g->alignment;
    if (pad > r.size - start)
      return qc_status_new(QC_CODE_PARSE, "%s: the data section would start past the end of the file", path);
    start += pad;
  }
  g->data_offset = start;
  uint64_t expect = 0;
  for (int64_t i = 0; i < n_tensors; i++) {
    qc_gguf_tensor_info *t = &g->tensors[i];
    if (t->offset != expect)
      return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': offset %" PRIu64 ", expected %" PRIu64
                           " (tensors must follow each other, each padded to %" PRIu32 " bytes)",
                           path, t->name, t->offset, expect, g->alignment);
    if (t->nbytes > r.size - start || t->offset > r.size - start - t->nbytes)
      return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': data [%" PRIu64 ", %" PRIu64 ") lies past the end of "
                           "the file (%" PRIu64 " bytes)", path, t->name, start + t->offset,
                           start + t->offset + t->nbytes, r.size);
    uint64_t padded = t->nbytes + (g->alignment - t->nbytes % g->alignment) % g->alignment;
    if (padded < t->nbytes || padded > UINT64_MAX - expect)
      return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': size overflows", path, t->name);
    expect += padded;
  }
  return QC_OK;
}

qc_status qc_gguf_open_buffer(qc_buffer *buf, const char *name, qc_gguf **out) {
  *out = NULL;
  qc_gguf *g = calloc(1, sizeof *g);
  if (!g) return QC_OOM();
  qc_arena_init(&g->arena, qc_allocator_default());
  qc_strmap_init(&g->kv_map, qc_allocator_default());
  qc_strmap_init(&g->tensor_map, qc_allocator_default());
  qc_buffer_retain(buf);
  g->file = buf;
  g->path = qc_arena_strdup(&g->arena, name ? name : "<memory>");
  qc_status s = g->path ? parse(g) : QC_OOM();
  if (s) {
    qc_gguf_close(g);
    return s;
  }
  *out = g;
  return QC_OK;
}

qc_status qc_gguf_open(const char *path, qc_gguf **out) {
  *out = NULL;
  qc_buffer *b;
  QC_RETURN_IF_ERROR(qc_buffer_map_file(path, &b));
  qc_status s = qc_gguf_open_buffer(b, path, out);
  qc_buffer_release(b);
  return s;
}

void qc_gguf_close(qc_gguf *g) {
  if (!g) return;
  qc_buffer_release(g->file);
  qc_strmap_free(&g->kv_map);
  qc_strmap_free(&g->tensor_map);
  qc_arena_free(&g->arena);
  free(g);
}

const char *qc_gguf_path(const qc_gguf *g) { return g->path; }
uint32_t qc_gguf_version(const qc_gguf *g) { return g->version; }
uint32_t qc_gguf_alignment(const qc_gguf *g) { return g->alignment; }
uint64_t qc_gguf_data_offset(const qc_gguf *g) { return g->data_offset; }
int64_t qc_gguf_kv_count(const qc_gguf *g) { return g->n_kv; }
const char *qc_gguf_kv_key(const qc_gguf *g, int64_t i) { return i >= 0 && i < g->n_kv ? g->keys[i] : NULL; }
const qc_gguf_value *qc_gguf_kv_value(const qc_gguf *g, int64_t i) {
  return i >= 0 && i < g->n_kv ? &g->vals[i] : NULL;
}
int64_t qc_gguf_find_key(const qc_gguf *g, const char *key) { return qc_strmap_get(&g->kv_map, key); }
const qc_gguf_value *qc_gguf_get(const qc_gguf *g, const char *key) {
  int64_t i = qc_gguf_find_key(g, key);
  return i >= 0 ? &g->vals[i] : NULL;
}

/* ---- typed getters -------------------------------------------------------------------------- */

static qc_status lookup(const qc_gguf *g, const char *key, const qc_gguf_value **v) {
  *v = qc_gguf_get(g, key);
  if (!*v) return qc_status_new(QC_CODE_NOT_FOUND, "%s: no key '%s'", g->path, key);
  return QC_OK;
}

static bool is_int_type(qc_gguf_type t) {
  return t == QC_GGUF_UINT8 || t == QC_GGUF_INT8 || t == QC_GGUF_UINT16 || t == QC_GGUF_INT16 ||
         t == QC_GGUF_UINT32 || t == QC_GGUF_INT32 || t == QC_GGUF_UINT64 || t == QC_GGUF_INT64;
}

static qc_status type_error(const qc_gguf *g, const char *key, const qc_gguf_value *v, const char *want) {
  if (v->type == QC_GGUF_ARRAY)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key '%s' has type arr[%s], expected %s", g->path, key,
                         qc_gguf_type_name(v->elem_type), want);
  return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key '%s' has type %s, expected %s", g->path, key,
                       qc_gguf_type_name(v->type), want);
}

/* An integer value as (negative?, magnitude) so every range check is exact. */
static qc_status get_int(const qc_gguf *g, const char *key, const char *want, int64_t lo, uint64_t hi,
                         int64_t *sval, uint64_t *uval) {
  const qc_gguf_value *v;
  QC_RETURN_IF_ERROR(lookup(g, key, &v));
  if (!is_int_type(v->type)) return type_error(g, key, v, want);
  if (v->type == QC_GGUF_UINT64) {
    uint64_t u = qc_rd_u64le(v->data);
    if (u > hi)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key '%s': value %" PRIu64 " does not fit %s", g->path, key,
                           u, want);
    *uval = u;
    *sval = (int64_t)u;
    return QC_OK;
  }
  int64_t s = qc_gguf_value_i64(v, 0);
  if (s < lo || (s > 0 && (uint64_t)s > hi))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key '%s': value %" PRId64 " (%s) does not fit %s", g->path,
                         key, s, qc_gguf_type_name(v->type), want);
  *sval = s;
  *uval = (uint64_t)s;
  return QC_OK;
}

qc_status qc_gguf_get_u32(const qc_gguf *g, const char *key, uint32_t *out) {
  int64_t s;
  uint64_t u;
  QC_RETURN_IF_ERROR(get_int(g, key, "u32", 0, UINT32_MAX, &s, &u));
  *out = (uint32_t)u;
  return QC_OK;
}
qc_status qc_gguf_get_u64(const qc_gguf *g, const char *key, uint64_t *out) {
  int64_t s;
  uint64_t u;
  QC_RETURN_IF_ERROR(get_int(g, key, "u64", 0, UINT64_MAX, &s, &u));
  *out = u;
  return QC_OK;
}
qc_status qc_gguf_get_i32(const qc_gguf *g, const char *key, int32_t *out) {
  int64_t s;
  uint64_t u;
  QC_RETURN_IF_ERROR(get_int(g, key, "i32", INT32_MIN, INT32_MAX, &s, &u));
  *out = (int32_t)s;
  return QC_OK;
}
qc_status qc_gguf_get_i64(const qc_gguf *g, const char *key, int64_t *out) {
  int64_t s;
  uint64_t u;
  QC_RETURN_IF_ERROR(get_int(g, key, "i64", INT64_MIN, INT64_MAX, &s, &u));
  *out = s;
  return QC_OK;
}

qc_status qc_gguf_get_f64(const qc_gguf *g, const char *key, double *out) {
  const qc_gguf_value *v;
  QC_RETURN_IF_ERROR(lookup(g, key, &v));
  if (v->type != QC_GGUF_FLOAT32 && v->type != QC_GGUF_FLOAT64) return type_error(g, key, v, "f32 or f64");
  *out = qc_gguf_value_f64(v, 0);
  return QC_OK;
}
qc_status qc_gguf_get_f32(const qc_gguf *g, const char *key, float *out) {
  double d;
  QC_RETURN_IF_ERROR(qc_gguf_get_f64(g, key, &d));
  *out = (float)d;
  return QC_OK;
}

qc_status qc_gguf_get_bool(const qc_gguf *g, const char *key, bool *out) {
  const qc_gguf_value *v;
  QC_RETURN_IF_ERROR(lookup(g, key, &v));
  if (v->type != QC_GGUF_BOOL) return type_error(g, key, v, "bool");
  *out = ((const uint8_t *)v->data)[0] != 0;
  return QC_OK;
}

qc_status qc_gguf_get_string(const qc_gguf *g, const char *key, const char **out, size_t *len) {
  const qc_gguf_value *v;
  QC_RETURN_IF_ERROR(lookup(g, key, &v));
  if (v->type != QC_GGUF_STRING) return type_error(g, key, v, "str");
  *out = v->data;
  if (len) *len = (size_t)v->count;
  return QC_OK;
}

qc_status qc_gguf_get_strings(const qc_gguf *g, const char *key, const qc_gguf_value **items, uint64_t *n) {
  const qc_gguf_value *v;
  QC_RETURN_IF_ERROR(lookup(g, key, &v));
  if (v->type != QC_GGUF_ARRAY || v->elem_type != QC_GGUF_STRING) return type_error(g, key, v, "arr[str]");
  *items = v->items;
  *n = v->count;
  return QC_OK;
}

qc_status qc_gguf_get_f32_array(const qc_gguf *g, const char *key, float *out, uint64_t cap, uint64_t *n) {
  const qc_gguf_value *v;
  QC_RETURN_IF_ERROR(lookup(g, key, &v));
  if (v->type != QC_GGUF_ARRAY || (v->elem_type != QC_GGUF_FLOAT32 && v->elem_type != QC_GGUF_FLOAT64))
    return type_error(g, key, v, "arr[f32]");
  *n = v->count;
  for (uint64_t i = 0; i < v->count && i < cap; i++) out[i] = (float)qc_gguf_value_f64(v, i);
  return QC_OK;
}

qc_status qc_gguf_get_i64_array(const qc_gguf *g, const char *key, int64_t *out, uint64_t cap, uint64_t *n) {
  const qc_gguf_value *v;
  QC_RETURN_IF_ERROR(lookup(g, key, &v));
  if (v->type != QC_GGUF_ARRAY || !is_int_type(v->elem_type)) return type_error(g, key, v, "an integer array");
  if (v->elem_type == QC_GGUF_UINT64)
    for (uint64_t i = 0; i < v->count; i++)
      if (qc_rd_u64le((const uint8_t *)v->data + 8 * i) > (uint64_t)INT64_MAX)
        return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: key '%s': element %" PRIu64 " does not fit i64", g->path,
                             key, i);
  *n = v->count;
  for (uint64_t i = 0; i < v->count && i < cap; i++) out[i] = qc_gguf_value_i64(v, i);
  return QC_OK;
}

/* ---- tensors ------------------------------------------------------------------------------- */

int64_t qc_gguf_tensor_count(const qc_gguf *g) { return g->n_tensors; }
const qc_gguf_tensor_info *qc_gguf_tensor_info_at(const qc_gguf *g, int64_t i) {
  return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}
int64_t qc_gguf_find_tensor(const qc_gguf *g, const char *name) { return qc_strmap_get(&g->tensor_map, name); }

qc_status qc_gguf_tensor(const qc_gguf *g, int64_t i, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  if (i < 0 || i >= g->n_tensors)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor index %" PRId64 " out of range", g->path, i);
  const qc_gguf_tensor_info *t = &g->tensors[i];
  if (t->dtype == QC_DT_UNDEFINED)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: tensor '%s': ggml type %s has no quarc dtype", g->path, t->name,
                         qc_ggml_type_name(t->ggml_type));
  int64_t dims[4];
  for (int32_t k = 0; k < t->n_dims; k++) dims[k] = t->ne[t->n_dims - 1 - k];
  char what[160];
  snprintf(what, sizeof what, "%s: tensor '%s'", g->path, t->name);
  return qc_tensor_over_file(out, g->file, g->data_offset + t->offset, t->nbytes, t->dtype, t->n_dims, dims, what);
}

qc_status qc_gguf_get_tensor(const qc_gguf *g, const char *name, qc_tensor *out) {
  int64_t i = qc_gguf_find_tensor(g, name);
  if (i < 0) {
    memset(out, 0, sizeof *out);
    return qc_status_new(QC_CODE_NOT_FOUND, "%s: no tensor '%s'", g->path, name);
  }
  return qc_gguf_tensor(g, i, out);
}
