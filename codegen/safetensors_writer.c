/*
 * The safetensors writer (layout in quarc/safetensors.h). Its output equals the reference's
 * serialize() byte for byte:
 *   - tensors sorted by dtype, descending in the Rust Dtype enum order below, then by name
 *     (byte order, as Rust's String Ord);
 *   - the header is serde_json's compact form: {"__metadata__":{...},"NAME":{"dtype":"F32",
 *     "shape":[1,2],"data_offsets":[0,8]},...}, strings escaped as serde_json does (\" \\
 *     \b \f \n \r \t, other control characters as \u00xx with lowercase hex, everything
 *     else, non-ASCII included, verbatim);
 *   - the header is padded with spaces to a multiple of 8 bytes; the data follows back to
 *     back.
 * Metadata keys are written sorted (the reference uses a HashMap, whose order is random).
 */
#include "quarc/io.h"
#include "quarc/safetensors.h"

#include "ir/bytes.h"
#include "ir/internal.h"
#include "ir/json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* The Rust Dtype enum, in declaration order ("increasing alignment order"). */
static const char *const RUST_DTYPE_ORDER[] = {
    "BOOL", "F4",  "F6_E2M3", "F6_E3M2", "U8",  "I8",  "F8_E5M2", "F8_E4M3",
    "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32",
    "U32", "F32", "C64", "F64", "I64", "U64"};

static int dtype_rank(const char *st_name) {
  for (size_t i = 0; i < sizeof RUST_DTYPE_ORDER / sizeof *RUST_DTYPE_ORDER; i++)
    if (strcmp(RUST_DTYPE_ORDER[i], st_name) == 0) return (int)i;
  return -1;
}

/* ---- a growable byte string ------------------------------------------------------------- */

static void sb_str(qc_bytes *b, const char *s) { qc_bytes_put(b, s, strlen(s)); }
static void sb_u64(qc_bytes *b, uint64_t v) {
  char t[24];
  snprintf(t, sizeof t, "%" PRIu64, v);
  sb_str(b, t);
}
/* ---- preparing a file ----------------------------------------------------------------------- */

typedef struct wt {
  const char *name;
  const qc_tensor *t;
  const char *st_dtype;
  int rank;        /* position in RUST_DTYPE_ORDER */
  uint64_t nbytes;
} wt;

static int cmp_wt(const void *pa, const void *pb) {
  const wt *a = pa, *b = pb;
  if (a->rank != b->rank) return a->rank > b->rank ? -1 : 1;
  return strcmp(a->name, b->name);
}

/* Check the tensors and describe them (`out` has n slots). `where` prefixes messages. */
static qc_status describe(const char *where, const char *const *names, const qc_tensor *tensors,
                          size_t n, wt *out) {
  qc_strmap seen;
  qc_strmap_init(&seen, qc_allocator_default());
  qc_status s = QC_OK;
  for (size_t i = 0; i < n && !s; i++) {
    const char *name = names[i];
    const qc_tensor *t = &tensors[i];
    if (!name) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor %zu has no name", where, i);
      break;
    }
    size_t bad;
    if (!qc_utf8_valid(name, strlen(name), &bad)) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor '%s': the name is not valid UTF-8 (byte %zu)",
                        where, name, bad);
      break;
    }
    if (strcmp(name, "__metadata__") == 0) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: a tensor cannot be called '__metadata__'", where);
      break;
    }
    if (qc_strmap_get(&seen, name) >= 0) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor '%s': duplicate name", where, name);
      break;
    }
    if (!qc_strmap_put(&seen, name, (int32_t)i)) {
      s = QC_OOM();
      break;
    }
    const qc_dtype_traits *tr = qc_dtype_traits_of(t->dtype);
    int r = tr->safetensors ? dtype_rank(tr->safetensors) : -1;
    if (r < 0) {
      s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: tensor '%s': dtype %s has no safetensors name", where,
                        name, tr->name);
      break;
    }
    if (t->rank < 0 || t->rank > QC_MAX_RANK) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor '%s': bad rank %d", where, name, t->rank);
      break;
    }
    int64_t numel = qc_shape_numel(t->rank, t->dims);
    if (numel < 0) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor '%s': negative or overflowing shape", where, name);
      break;
    }
    if ((uint64_t)numel > UINT64_MAX / tr->bits) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor '%s': too large", where, name);
      break;
    }
    uint64_t nbits = (uint64_t)numel * tr->bits;
    if (nbits % 8) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                        "%s: tensor '%s': %" PRId64 " elements of %s do not fill whole bytes", where,
                        name, numel, tr->safetensors);
      break;
    }
    uint64_t nbytes = nbits / 8;
    if (nbytes && (!t->buf || t->offset > qc_buffer_size(t->buf) ||
                   nbytes > qc_buffer_size(t->buf) - t->offset)) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor '%s': has no data or less than its %" PRIu64 " bytes",
                        where, name, nbytes);
      break;
    }
    out[i] = (wt){name, t, tr->safetensors, r, nbytes};
  }
  qc_strmap_free(&seen);
  return s;
}

static int cmp_cstr(const void *a, const void *b) {
  return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

/* Build the padded header of a file holding `ts[0..n)` (already sorted). */
static qc_status build_header(const char *where, wt *ts, size_t n,
                              const qc_safetensors_write_options *opt, qc_bytes *h) {
  qc_bytes_put(h, "{", 1);
  bool comma = false;
  if (opt && opt->n_metadata) {
    /* Sorted keys; reject duplicates and bad strings. */
    const char *const **order = malloc(opt->n_metadata * sizeof *order);
    if (!order) return QC_OOM();
    for (size_t i = 0; i < opt->n_metadata; i++) {
      if (!opt->metadata_keys[i] || !opt->metadata_values[i]) {
        free(order);
        return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: metadata entry %zu is NULL", where, i);
      }
      const char *strs[2] = {opt->metadata_keys[i], opt->metadata_values[i]};
      for (int k = 0; k < 2; k++)
        if (!qc_utf8_valid(strs[k], strlen(strs[k]), NULL)) {
          free(order);
          return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: metadata key '%s': not valid UTF-8", where,
                               opt->metadata_keys[i]);
        }
      order[i] = &opt->metadata_keys[i];
    }
    qsort(order, opt->n_metadata, sizeof *order, cmp_cstr);
    sb_str(h, "\"__metadata__\":{");
    for (size_t i = 0; i < opt->n_metadata; i++) {
      if (i && strcmp(*order[i], *order[i - 1]) == 0) {
        qc_status s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: metadata key '%s': duplicate", where, *order[i]);
        free(order);
        return s;
      }
      size_t idx = (size_t)(order[i] - opt->metadata_keys);
      if (i) qc_bytes_put(h, ",", 1);
      qc_json_put_string(h, opt->metadata_keys[idx], strlen(opt->metadata_keys[idx]), false);
      qc_bytes_put(h, ":", 1);
      qc_json_put_string(h, opt->metadata_values[idx], strlen(opt->metadata_values[idx]), false);
    }
    qc_bytes_put(h, "}", 1);
    free(order);
    comma = true;
  }
  uint64_t off = 0;
  for (size_t i = 0; i < n; i++) {
    if (comma) qc_bytes_put(h, ",", 1);
    comma = true;
    qc_json_put_string(h, ts[i].name, strlen(ts[i].name), false);
    sb_str(h, ":{\"dtype\":");
    qc_json_put_string(h, ts[i].st_dtype, strlen(ts[i].st_dtype), false);
    sb_str(h, ",\"shape\":[");
    for (int32_t d = 0; d < ts[i].t->rank; d++) {
      if (d) qc_bytes_put(h, ",", 1);
      sb_u64(h, (uint64_t)ts[i].t->dims[d]);
    }
    sb_str(h, "],\"data_offsets\":[");
    sb_u64(h, off);
    qc_bytes_put(h, ",", 1);
    if (ts[i].nbytes > UINT64_MAX - off)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: the tensors exceed 2^64 bytes", where);
    off += ts[i].nbytes;
    sb_u64(h, off);
    sb_str(h, "]}");
  }
  qc_bytes_put(h, "}", 1);
  while (h->n % 8) qc_bytes_put(h, " ", 1);
  if (h->oom) return QC_OOM();
  if (h->n > QC_SAFETENSORS_MAX_HEADER)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: header too large (%zu bytes; the limit is %u)", where,
                         h->n, QC_SAFETENSORS_MAX_HEADER);
  return QC_OK;
}

/* Sort and build a header for tensors `idx[0..n)` of the caller's arrays. */
static qc_status prepare(const char *where, const char *const *names, const qc_tensor *tensors,
                         size_t n, const qc_safetensors_write_options *opt, wt **ts_out,
                         qc_bytes *h, uint64_t *data_len) {
  wt *ts = calloc(n ? n : 1, sizeof *ts);
  if (!ts) return QC_OOM();
  qc_status s = describe(where, names, tensors, n, ts);
  if (!s) {
    qsort(ts, n, sizeof *ts, cmp_wt);
    s = build_header(where, ts, n, opt, h);
  }
  if (s) {
    free(ts);
    return s;
  }
  uint64_t total = 0;
  for (size_t i = 0; i < n; i++) total += ts[i].nbytes;
  *data_len = total;
  *ts_out = ts;
  return QC_OK;
}

qc_status qc_safetensors_serialize(const char *const *names, const qc_tensor *tensors, size_t n,
                                   const qc_safetensors_write_options *opt, qc_buffer **out) {
  *out = NULL;
  qc_bytes h = {0};
  wt *ts = NULL;
  uint64_t data_len;
  qc_status s = prepare("safetensors", names, tensors, n, opt, &ts, &h, &data_len);
  if (s) {
    free(h.p);
    return s;
  }
  uint64_t total = 8 + (uint64_t)h.n + data_len;
  if (total > SIZE_MAX) s = QC_OOM();
  qc_buffer *b = NULL;
  if (!s) s = qc_buffer_create(NULL, (size_t)total, &b);
  if (!s) {
    uint8_t *p = qc_buffer_data(b);
    qc_wr_u64le(p, (uint64_t)h.n);
    memcpy(p + 8, h.p, h.n);
    p += 8 + h.n;
    for (size_t i = 0; i < n; i++) {
      if (ts[i].nbytes) memcpy(p, qc_tensor_data(ts[i].t), (size_t)ts[i].nbytes);
      p += ts[i].nbytes;
    }
    *out = b;
  }
  free(ts);
  free(h.p);
  return s;
}

static qc_status write_file(qc_atomic_dir *stage, const char *path, const char *const *names,
                            const qc_tensor *tensors, size_t n,
                            const qc_safetensors_write_options *opt) {
  qc_bytes h = {0};
  wt *ts = NULL;
  uint64_t data_len;
  qc_status s = prepare(path, names, tensors, n, opt, &ts, &h, &data_len);
  if (s) {
    free(h.p);
    return s;
  }
  qc_atomic_file *f = NULL;
  s = qc_atomic_open_in(stage, path, &f);
  uint8_t len8[8];
  qc_wr_u64le(len8, (uint64_t)h.n);
  if (!s) s = qc_atomic_write(f, len8, 8);
  if (!s) s = qc_atomic_write(f, h.p, h.n);
  for (size_t i = 0; i < n && !s; i++)
    if (ts[i].nbytes) s = qc_atomic_write(f, qc_tensor_data(ts[i].t), (size_t)ts[i].nbytes);
  if (!s) s = qc_atomic_commit(f);
  else qc_atomic_abort(f);
  free(ts);
  free(h.p);
  return s;
}

qc_status qc_safetensors_write(const char *path, const char *const *names,
                               const qc_tensor *tensors, size_t n,
                               const qc_safetensors_write_options *opt) {
  return write_file(NULL, path, names, tensors, n, opt);
}

/* ---- sharded checkpoints ------------------------------------------------------------------ */

/* Into directory `dir`, or (stage not NULL) into the atomic directory `stage`, where file
 * names are relative to it. */
static qc_status write_sharded(qc_atomic_dir *stage, const char *dir, const char *const *names,
                               const qc_tensor *tensors, size_t n,
                               const qc_safetensors_write_options *opt, int32_t *n_shards) {
  if (n_shards) *n_shards = 0;
  uint64_t limit = opt && opt->max_shard_size ? opt->max_shard_size : QC_SAFETENSORS_DEFAULT_SHARD_SIZE;
  size_t nn = n ? n : 1;
  wt *ts = calloc(nn, sizeof *ts);
  size_t *file_of = calloc(nn, sizeof *file_of), *pending = calloc(nn, sizeof *pending);
  const char **sub_names = calloc(nn, sizeof *sub_names);
  qc_tensor *sub = calloc(nn, sizeof *sub);
  const char *const **ord = calloc(nn, sizeof *ord);
  size_t plen = strlen(dir) + 64;
  char *path = malloc(plen);
  qc_status s = QC_OK;
  if (!ts || !file_of || !pending || !sub_names || !sub || !ord || !path) s = QC_OOM();
  /* Validate everything once, before any file is written. */
  if (!s) s = describe(dir, names, tensors, n, ts);
  /* huggingface_hub's split_state_dict_into_shards_factory: shards are numbered in the order
   * they are appended to its list, an oversized tensor's at once, a regular one when it is
   * closed. */
  size_t shards = 0, n_pending = 0;
  uint64_t cur = 0, total = 0;
  for (size_t i = 0; i < n && !s; i++) {
    uint64_t sz = ts[i].nbytes;
    total += sz;
    if (sz > limit) {
      file_of[i] = shards++;
      continue;
    }
    if (n_pending && cur + sz > limit) {
      for (size_t j = 0; j < n_pending; j++) file_of[pending[j]] = shards;
      shards++;
      n_pending = 0;
      cur = 0;
    }
    pending[n_pending++] = i;
    cur += sz;
  }
  if (!s && (n_pending || shards == 0)) { /* an empty checkpoint is one empty file */
    for (size_t j = 0; j < n_pending; j++) file_of[pending[j]] = shards;
    shards++;
  }
  for (size_t k = 0; k < shards && !s; k++) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
      if (file_of[i] == k) {
        sub_names[m] = names[i];
        sub[m++] = tensors[i];
      }
    const char *d = stage ? "" : dir, *sep = stage ? "" : "/";
    if (shards == 1) snprintf(path, plen, "%s%smodel.safetensors", d, sep);
    else snprintf(path, plen, "%s%smodel-%05zu-of-%05zu.safetensors", d, sep, k + 1, shards);
    s = write_file(stage, path, sub_names, sub, m, opt);
  }
  if (!s && shards > 1) {
    /* The index as transformers writes it: indent 2, keys sorted. */
    qc_bytes h = {0};
    sb_str(&h, "{\n  \"metadata\": {\n    \"total_size\": ");
    sb_u64(&h, total);
    sb_str(&h, "\n  },\n  \"weight_map\": {");
    for (size_t i = 0; i < n; i++) ord[i] = &names[i];
    qsort(ord, n, sizeof *ord, cmp_cstr);
    char fname[64];
    for (size_t i = 0; i < n; i++) {
      size_t idx = (size_t)(ord[i] - names);
      sb_str(&h, i ? ",\n    " : "\n    ");
      qc_json_put_string(&h, names[idx], strlen(names[idx]), false);
      sb_str(&h, ": ");
      snprintf(fname, sizeof fname, "model-%05zu-of-%05zu.safetensors", file_of[idx] + 1, shards);
      qc_json_put_string(&h, fname, strlen(fname), false);
    }
    sb_str(&h, "\n  }\n}\n");
    if (h.oom) s = QC_OOM();
    if (!s) {
      if (stage) snprintf(path, plen, "model.safetensors.index.json");
      else snprintf(path, plen, "%s/model.safetensors.index.json", dir);
      qc_atomic_file *f;
      s = qc_atomic_open_in(stage, path, &f);
      if (!s) {
        s = qc_atomic_write(f, h.p, h.n);
        if (!s) s = qc_atomic_commit(f);
        else qc_atomic_abort(f);
      }
    }
    free(h.p);
  }
  if (!s && n_shards) *n_shards = (int32_t)shards;
  free(path);
  free(ord);
  free(sub);
  free(sub_names);
  free(pending);
  free(file_of);
  free(ts);
  return s;
}

qc_status qc_safetensors_write_sharded(const char *dir, const char *const *names,
                                       const qc_tensor *tensors, size_t n,
                                       const qc_safetensors_write_options *opt,
                                       int32_t *n_shards) {
  return write_sharded(NULL, dir, names, tensors, n, opt, n_shards);
}

qc_status qc_safetensors_write_sharded_in(qc_atomic_dir *stage, const char *const *names,
                                          const qc_tensor *tensors, size_t n,
                                          const qc_safetensors_write_options *opt,
                                          int32_t *n_shards) {
  return write_sharded(stage, qc_atomic_dir_path(stage), names, tensors, n, opt, n_shards);
}
