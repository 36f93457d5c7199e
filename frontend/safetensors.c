/*
 * The safetensors reader (layout and rules in quarc/safetensors.h).
 *
 * Checks run in the reference's order, so a file with several faults reports the one the
 * reference reports:
 *   1. length < 8                                   -> "header too small"
 *   2. N > 100,000,000                              -> "header too large"
 *   3. 8 + N > file length                          -> "header length exceeds the file"
 *   4. header not UTF-8                             -> "header is not valid UTF-8"
 *   5. JSON / dtype / shape / offsets malformed     -> "invalid header JSON" (+ tensor/key)
 *   6. per tensor, sorted by (BEGIN, END):
 *        BEGIN != end of the previous, END < BEGIN  -> "data_offsets ... leave a gap/overlap"
 *        product(shape) * bits overflows            -> "shape overflows"
 *        bits % 8 != 0                              -> "does not fill whole bytes"
 *        END - BEGIN != size                        -> "data_offsets do not match dtype/shape"
 *      then quarc's own limits: rank <= QC_MAX_RANK, dims <= INT64_MAX
 *   7. 8 + N + last END != file length              -> "trailing bytes" / "missing bytes"
 */
#include "quarc/safetensors.h"

#include "ir/bytes.h"
#include "ir/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

struct qc_safetensors {
  qc_arena arena;
  const char *path;
  qc_buffer *file;
  uint64_t data_start;
  qc_safetensors_entry *entries;
  int64_t n;
  qc_kv *meta;
  int32_t n_meta, cap_meta;
  qc_strmap by_name;
};

/* A tensor as parsed, before validation. */
typedef struct st_rec {
  qc_safetensors_entry e;
  int32_t rank;              /* the true rank; dims beyond QC_MAX_RANK are not kept */
  bool big_dim;              /* a dimension above INT64_MAX */
  uint64_t nelem;            /* product of dims, valid unless overflow */
  bool overflow;
  const char *dtype_name;
  int64_t order;             /* position in the JSON, to keep the sort stable */
} st_rec;

static int cmp_rec(const void *pa, const void *pb) {
  const st_rec *a = pa, *b = pb;
  if (a->e.begin != b->e.begin) return a->e.begin < b->e.begin ? -1 : 1;
  if (a->e.end != b->e.end) return a->e.end < b->e.end ? -1 : 1;
  return a->order < b->order ? -1 : a->order > b->order;
}

static qc_status json_error(const char *path, const char *ctx, const qc_json_reader *p) {
  if (ctx) return qc_status_new(QC_CODE_PARSE, "%s: invalid header JSON (%s): %s", path, ctx, p->err);
  return qc_status_new(QC_CODE_PARSE, "%s: invalid header JSON: %s", path, p->err);
}

/* Format a shape for messages: "[2,2]". Shapes longer than QC_MAX_RANK are elided. */
static void fmt_shape(char *buf, size_t cap, const st_rec *r) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, cap - k, "[");
  for (int32_t i = 0; i < r->rank && i < QC_MAX_RANK && k < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, "%s%" PRIu64, i ? "," : "", (uint64_t)r->e.dims[i]);
  if (k < cap) snprintf(buf + k, cap - k, "%s]", r->rank > QC_MAX_RANK ? ",..." : "");
}

/* Parse one tensor object {"dtype", "shape", "data_offsets"}. */
static qc_status parse_tensor(qc_json_reader *p, const char *path, st_rec *r) {
  char ctx[96];
  snprintf(ctx, sizeof ctx, "tensor '%.60s%s'", r->e.name, strlen(r->e.name) > 60 ? "..." : "");
  bool has_dtype = false, has_shape = false, has_offsets = false, first = true;
  char *key;
  size_t klen;
  if (!qc_json_object_begin(p)) return json_error(path, ctx, p);
  while (qc_json_object_next(p, &first, &key, &klen)) {
    if (strcmp(key, "dtype") == 0 && klen == 5) {
      if (has_dtype) return qc_status_new(QC_CODE_PARSE, "%s: %s: duplicate property \"dtype\"", path, ctx);
      has_dtype = true;
      char *d;
      size_t dlen;
      if (!qc_json_read_string(p, &d, &dlen)) return json_error(path, ctx, p);
      r->e.dtype = strlen(d) == dlen ? qc_dtype_from_safetensors(d) : QC_DT_UNDEFINED;
      if (r->e.dtype == QC_DT_UNDEFINED)
        return qc_status_new(QC_CODE_PARSE, "%s: %s: unknown dtype \"%.40s\"", path, ctx, d);
      r->dtype_name = qc_dtype_traits_of(r->e.dtype)->safetensors;
    } else if (strcmp(key, "shape") == 0 && klen == 5) {
      if (has_shape) return qc_status_new(QC_CODE_PARSE, "%s: %s: duplicate property \"shape\"", path, ctx);
      has_shape = true;
      bool afirst = true;
      if (!qc_json_array_begin(p)) return json_error(path, ctx, p);
      r->nelem = 1;
      while (qc_json_array_next(p, &afirst)) {
        uint64_t d;
        if (!qc_json_read_u64(p, &d)) return json_error(path, ctx, p);
        if (r->rank < QC_MAX_RANK) r->e.dims[r->rank] = (int64_t)d; /* checked below */
        if (d > (uint64_t)INT64_MAX) r->big_dim = true;
        r->rank++;
        /* As the reference's checked fold: the first overflow is final. */
        if (!r->overflow) {
          if (d != 0 && r->nelem > UINT64_MAX / d) r->overflow = true;
          else r->nelem *= d;
        }
        if (r->rank > 1000000) return qc_status_new(QC_CODE_PARSE, "%s: %s: absurd rank", path, ctx);
      }
      if (p->failed) return json_error(path, ctx, p);
    } else if (strcmp(key, "data_offsets") == 0 && klen == 12) {
      if (has_offsets)
        return qc_status_new(QC_CODE_PARSE, "%s: %s: duplicate property \"data_offsets\"", path, ctx);
      has_offsets = true;
      uint64_t v[2];
      int k = 0;
      bool afirst = true;
      if (!qc_json_array_begin(p)) return json_error(path, ctx, p);
      while (qc_json_array_next(p, &afirst)) {
        if (k == 2)
          return qc_status_new(QC_CODE_PARSE, "%s: %s: data_offsets must be [BEGIN, END]", path, ctx);
        if (!qc_json_read_u64(p, &v[k])) return json_error(path, ctx, p);
        k++;
      }
      if (p->failed) return json_error(path, ctx, p);
      if (k != 2) return qc_status_new(QC_CODE_PARSE, "%s: %s: data_offsets must be [BEGIN, END]", path, ctx);
      r->e.begin = v[0];
      r->e.end = v[1];
    } else {
      return qc_status_new(QC_CODE_PARSE,
                           "%s: %s: unexpected property \"%.40s\" (a tensor takes dtype, shape "
                           "and data_offsets only)",
                           path, ctx, key);
    }
  }
  if (p->failed) return json_error(path, ctx, p);
  const char *missing = !has_dtype ? "dtype" : !has_shape ? "shape" : !has_offsets ? "data_offsets" : NULL;
  if (missing) return qc_status_new(QC_CODE_PARSE, "%s: %s: missing \"%s\"", path, ctx, missing);
  return QC_OK;
}

static qc_status parse_metadata(qc_json_reader *p, qc_safetensors *st, qc_strmap *seen) {
  const char *path = st->path;
  if (qc_json_read_null(p)) return QC_OK; /* serde reads null as "no metadata" */
  bool first = true;
  char *key;
  size_t klen;
  if (!qc_json_object_begin(p)) return json_error(path, "__metadata__", p);
  while (qc_json_object_next(p, &first, &key, &klen)) {
    char *val;
    size_t vlen;
    if (qc_json_peek(p) != '"')
      return qc_status_new(QC_CODE_PARSE,
                           "%s: __metadata__ key '%.60s': the value must be a string (metadata "
                           "maps strings to strings)",
                           path, key);
    if (!qc_json_read_string(p, &val, &vlen)) return json_error(path, "__metadata__", p);
    if (strlen(key) != klen || strlen(val) != vlen)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: __metadata__ key '%.60s': contains U+0000",
                           path, key);
    if (qc_strmap_get(seen, key) >= 0)
      return qc_status_new(QC_CODE_PARSE, "%s: __metadata__: duplicate key '%.60s'", path, key);
    if (!qc_grow(qc_allocator_default(), (void **)&st->meta, &st->cap_meta, st->n_meta + 1,
                 sizeof *st->meta))
      return QC_OOM();
    st->meta[st->n_meta] = (qc_kv){key, val};
    if (!qc_strmap_put(seen, key, (int32_t)st->n_meta)) return QC_OOM();
    st->n_meta++;
  }
  if (p->failed) return json_error(path, "__metadata__", p);
  return QC_OK;
}

static qc_status parse_header(qc_safetensors *st, const char *text, size_t len, st_rec **recs_out,
                              int64_t *n_out) {
  const char *path = st->path;
  const qc_allocator *A = qc_allocator_default();
  qc_json_reader p;
  qc_json_reader_init(&p, text, len, &st->arena, 0, 0);
  st_rec *recs = NULL;
  int32_t cap = 0, n = 0;
  qc_strmap names, meta_seen;
  qc_strmap_init(&names, A);
  qc_strmap_init(&meta_seen, A);
  bool has_meta = false, first = true;
  char *key;
  size_t klen;
  qc_status s = QC_OK;
  if (!qc_json_object_begin(&p)) {
    s = json_error(path, NULL, &p);
    goto done;
  }
  while (qc_json_object_next(&p, &first, &key, &klen)) {
    if (strlen(key) != klen) {
      s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: tensor '%s...': the name contains U+0000", path, key);
      goto done;
    }
    if (strcmp(key, "__metadata__") == 0) {
      if (has_meta) {
        s = qc_status_new(QC_CODE_PARSE, "%s: duplicate key '__metadata__'", path);
        goto done;
      }
      has_meta = true;
      if ((s = parse_metadata(&p, st, &meta_seen))) goto done;
      continue;
    }
    if (qc_strmap_get(&names, key) >= 0) {
      s = qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': duplicate key", path, key);
      goto done;
    }
    if (!qc_grow(A, (void **)&recs, &cap, n + 1, sizeof *recs) || !qc_strmap_put(&names, key, n)) {
      s = QC_OOM();
      goto done;
    }
    st_rec *r = &recs[n];
    memset(r, 0, sizeof *r);
    r->e.name = key;
    r->order = n;
    n++;
    if ((s = parse_tensor(&p, path, r))) goto done;
  }
  if (p.failed || !qc_json_read_end(&p)) s = json_error(path, NULL, &p);
done:
  qc_strmap_free(&names);
  qc_strmap_free(&meta_seen);
  if (s) {
    qc_free(A, recs, (size_t)cap * sizeof *recs);
    return s;
  }
  *recs_out = recs;
  *n_out = n;
  return QC_OK;
}

static qc_status validate(qc_safetensors *st, st_rec *recs, int64_t n, uint64_t *data_len) {
  const char *path = st->path;
  uint64_t start = 0;
  const char *prev = NULL;
  char shape[128];
  for (int64_t i = 0; i < n; i++) {
    st_rec *r = &recs[i];
    const char *name = r->e.name;
    if (r->e.begin != start || r->e.end < r->e.begin) {
      if (r->e.end < r->e.begin)
        return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 "] end before they begin",
                             path, name, r->e.begin, r->e.end);
      if (prev && r->e.begin > start)
        return qc_status_new(QC_CODE_PARSE,
                             "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 "] leave a gap after "
                             "tensor '%s', which ends at byte %" PRIu64,
                             path, name, r->e.begin, r->e.end, prev, start);
      if (prev)
        return qc_status_new(QC_CODE_PARSE,
                             "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 "] overlap tensor '%s', "
                             "which ends at byte %" PRIu64,
                             path, name, r->e.begin, r->e.end, prev, start);
      return qc_status_new(QC_CODE_PARSE,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 "] leave a gap: the "
                           "first tensor by offset must start at byte 0 of the data section",
                           path, name, r->e.begin, r->e.end);
    }
    start = r->e.end;
    prev = name;
    const qc_dtype_traits *t = qc_dtype_traits_of(r->e.dtype);
    fmt_shape(shape, sizeof shape, r);
    if (r->overflow || (t->bits && r->nelem > UINT64_MAX / t->bits))
      return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s': shape %s of dtype %s overflows 64 bits",
                           path, name, shape, r->dtype_name);
    uint64_t nbits = r->nelem * t->bits;
    if (nbits % 8 != 0)
      return qc_status_new(QC_CODE_PARSE,
                           "%s: tensor '%s': %" PRIu64 " elements of dtype %s do not fill whole bytes "
                           "(shape %s)",
                           path, name, r->nelem, r->dtype_name, shape);
    if (r->e.end - r->e.begin != nbits / 8)
      return qc_status_new(QC_CODE_PARSE,
                           "%s: tensor '%s': data_offsets [%" PRIu64 ",%" PRIu64 "] do not match dtype "
                           "%s and shape %s (%" PRIu64 " bytes)",
                           path, name, r->e.begin, r->e.end, r->dtype_name, shape, nbits / 8);
    if (r->rank > QC_MAX_RANK)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: tensor '%s': rank %d exceeds quarc's limit of %d",
                           path, name, r->rank, QC_MAX_RANK);
    if (r->big_dim)
      return qc_status_new(QC_CODE_UNIMPLEMENTED,
                           "%s: tensor '%s': shape %s has a dimension above 2^63-1", path, name, shape);
    r->e.rank = r->rank;
    if (qc_shape_numel(r->rank, r->e.dims) < 0) /* implied by the checks above; kept as a guard */
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: tensor '%s': shape %s overflows int64", path, name, shape);
  }
  *data_len = start;
  return QC_OK;
}

qc_status qc_safetensors_open_buffer(qc_buffer *buf, const char *name, qc_safetensors **out) {
  *out = NULL;
  const qc_allocator *A = qc_allocator_default();
  qc_safetensors *st = calloc(1, sizeof *st);
  if (!st) return QC_OOM();
  qc_arena_init(&st->arena, A);
  qc_strmap_init(&st->by_name, A);
  st->path = qc_arena_strdup(&st->arena, name ? name : "<memory>");
  qc_buffer_retain(buf);
  st->file = buf;
  qc_status s = QC_OK;
  st_rec *recs = NULL;
  int64_t n = 0;
  if (!st->path) {
    s = QC_OOM();
    goto fail;
  }
  const char *path = st->path;
  const uint8_t *data = qc_buffer_data(buf);
  size_t size = qc_buffer_size(buf);
  if (size < 8) {
    s = qc_status_new(QC_CODE_PARSE, "%s: header too small: %zu bytes (a safetensors file starts with an "
                      "8-byte header length)", path, size);
    goto fail;
  }
  uint64_t hlen = qc_rd_u64le(data);
  if (hlen > QC_SAFETENSORS_MAX_HEADER) {
    s = qc_status_new(QC_CODE_PARSE, "%s: header too large: %" PRIu64 " bytes (the limit is %u)", path,
                      hlen, QC_SAFETENSORS_MAX_HEADER);
    goto fail;
  }
  if (8 + hlen > size) {
    s = qc_status_new(QC_CODE_PARSE, "%s: header length %" PRIu64 " exceeds the file (%zu bytes)", path,
                      hlen, size);
    goto fail;
  }
  size_t bad;
  if (!qc_utf8_valid(data + 8, (size_t)hlen, &bad)) {
    s = qc_status_new(QC_CODE_PARSE, "%s: header is not valid UTF-8 (at header byte %zu)", path, bad);
    goto fail;
  }
  if ((s = parse_header(st, (const char *)data + 8, (size_t)hlen, &recs, &n))) goto fail;
  if (n) qsort(recs, (size_t)n, sizeof *recs, cmp_rec);
  uint64_t data_len = 0;
  if ((s = validate(st, recs, n, &data_len))) goto fail;
  st->data_start = 8 + hlen;
  if (data_len != size - st->data_start) {
    uint64_t have = size - st->data_start;
    if (have > data_len)
      s = qc_status_new(QC_CODE_PARSE,
                        "%s: %" PRIu64 " trailing bytes after the last tensor (the data section must "
                        "end where the tensors end)", path, have - data_len);
    else
      s = qc_status_new(QC_CODE_PARSE, "%s: %" PRIu64 " bytes missing: the tensors need %" PRIu64
                        " bytes of data, the file has %" PRIu64, path, data_len - have, data_len, have);
    goto fail;
  }
  st->entries = qc_arena_alloc(&st->arena, (size_t)(n ? n : 1) * sizeof *st->entries);
  if (!st->entries) {
    s = QC_OOM();
    goto fail;
  }
  for (int64_t i = 0; i < n; i++) {
    st->entries[i] = recs[i].e;
    if (!qc_strmap_put(&st->by_name, st->entries[i].name, (int32_t)i)) {
      s = QC_OOM();
      goto fail;
    }
  }
  st->n = n;
  free(recs);
  *out = st;
  return QC_OK;
fail:
  free(recs);
  qc_safetensors_close(st);
  return s;
}

qc_status qc_safetensors_open(const char *path, qc_safetensors **out) {
  *out = NULL;
  qc_buffer *b;
  QC_RETURN_IF_ERROR(qc_buffer_map_file(path, &b));
  qc_status s = qc_safetensors_open_buffer(b, path, out);
  qc_buffer_release(b);
  return s;
}

void qc_safetensors_close(qc_safetensors *st) {
  if (!st) return;
  qc_buffer_release(st->file);
  qc_strmap_free(&st->by_name);
  qc_free(qc_allocator_default(), st->meta, (size_t)st->cap_meta * sizeof *st->meta);
  qc_arena_free(&st->arena);
  free(st);
}

const char *qc_safetensors_path(const qc_safetensors *st) { return st->path; }
int64_t qc_safetensors_count(const qc_safetensors *st) { return st->n; }

const qc_safetensors_entry *qc_safetensors_entry_at(const qc_safetensors *st, int64_t i) {
  return i >= 0 && i < st->n ? &st->entries[i] : NULL;
}

int64_t qc_safetensors_find(const qc_safetensors *st, const char *name) {
  return qc_strmap_get(&st->by_name, name);
}

qc_status qc_safetensors_tensor(const qc_safetensors *st, int64_t i, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  if (i < 0 || i >= st->n)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor index %" PRId64 " out of range (%" PRId64 " tensors)",
                         st->path, i, st->n);
  const qc_safetensors_entry *e = &st->entries[i];
  char what[256];
  snprintf(what, sizeof what, "%s: tensor '%s'", st->path, e->name);
  return qc_tensor_over_file(out, st->file, st->data_start + e->begin, e->end - e->begin, e->dtype,
                             e->rank, e->dims, what);
}

qc_status qc_safetensors_get(const qc_safetensors *st, const char *name, qc_tensor *out) {
  int64_t i = qc_safetensors_find(st, name);
  if (i < 0) {
    memset(out, 0, sizeof *out);
    return qc_status_new(QC_CODE_NOT_FOUND, "%s: no tensor '%s'", st->path, name);
  }
  return qc_safetensors_tensor(st, i, out);
}

int64_t qc_safetensors_metadata_count(const qc_safetensors *st) { return st->n_meta; }

bool qc_safetensors_metadata_at(const qc_safetensors *st, int64_t i, const char **key,
                                const char **value) {
  if (i < 0 || i >= st->n_meta) return false;
  if (key) *key = st->meta[i].key;
  if (value) *value = st->meta[i].value;
  return true;
}

const char *qc_safetensors_metadata_get(const qc_safetensors *st, const char *key) {
  for (int32_t i = 0; i < st->n_meta; i++)
    if (strcmp(st->meta[i].key, key) == 0) return st->meta[i].value;
  return NULL;
}
