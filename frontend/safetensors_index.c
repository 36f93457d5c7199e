/*
 * Sharded safetensors checkpoints: model.safetensors.index.json plus its shards.
 *
 * Index layout (transformers / huggingface_hub):
 *   {"metadata": {"total_size": <sum of tensor bytes>, ...},
 *    "weight_map": {"<tensor name>": "<shard file name>", ...}}
 * Other top-level keys and other metadata keys are skipped. The JSON is read with ir/json's
 * strict reader, and duplicate keys are errors, since a duplicate in weight_map would
 * silently send a tensor to the wrong shard.
 */
#include "quarc/safetensors.h"

#include "ir/bytes.h"
#include "ir/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

typedef struct set_item {
  int32_t shard;
  int64_t index; /* in the shard */
} set_item;

struct qc_safetensors_set {
  qc_arena arena;
  qc_safetensors **shards;
  int32_t n_shards, cap_shards;
  set_item *items;
  int64_t n_items;
  qc_strmap by_name;
  bool has_total;
  uint64_t total;
};

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}
static bool exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

static qc_status add_shard(qc_safetensors_set *set, qc_safetensors *st) {
  if (!qc_grow(qc_allocator_default(), (void **)&set->shards, &set->cap_shards, set->n_shards + 1,
               sizeof *set->shards)) {
    qc_safetensors_close(st);
    return QC_OOM();
  }
  set->shards[set->n_shards++] = st;
  return QC_OK;
}

/* Number every tensor of every shard and build the name map. */
static qc_status index_tensors(qc_safetensors_set *set) {
  int64_t total = 0;
  for (int32_t i = 0; i < set->n_shards; i++) total += qc_safetensors_count(set->shards[i]);
  set->items = qc_arena_alloc(&set->arena, (size_t)(total ? total : 1) * sizeof *set->items);
  if (!set->items) return QC_OOM();
  for (int32_t i = 0; i < set->n_shards; i++) {
    const qc_safetensors *st = set->shards[i];
    for (int64_t k = 0; k < qc_safetensors_count(st); k++) {
      const char *name = qc_safetensors_entry_at(st, k)->name;
      int32_t prev = qc_strmap_get(&set->by_name, name);
      if (prev >= 0)
        return qc_status_new(QC_CODE_PARSE, "%s: tensor '%s' is also in %s", qc_safetensors_path(st), name,
                             qc_safetensors_path(set->shards[set->items[prev].shard]));
      if (set->n_items >= INT32_MAX) return qc_status_new(QC_CODE_UNIMPLEMENTED, "too many tensors");
      set->items[set->n_items] = (set_item){i, k};
      if (!qc_strmap_put(&set->by_name, name, (int32_t)set->n_items)) return QC_OOM();
      set->n_items++;
    }
  }
  return QC_OK;
}

typedef struct map_entry {
  const char *name, *file;
} map_entry;

static int cmp_cstrp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static qc_status open_index(qc_safetensors_set *set, const char *index_path) {
  const qc_allocator *A = qc_allocator_default();
  qc_buffer *file;
  QC_RETURN_IF_ERROR(qc_buffer_map_file(index_path, &file));
  const char *text = qc_buffer_data(file);
  size_t len = qc_buffer_size(file);
  qc_status s = QC_OK;
  map_entry *map = NULL;
  int32_t n_map = 0, cap_map = 0;
  const char **files = NULL;
  qc_strmap seen, files_seen;
  qc_strmap_init(&seen, A);
  qc_strmap_init(&files_seen, A);
  size_t bad;
  if (!qc_utf8_valid(text, len, &bad)) {
    s = qc_status_new(QC_CODE_PARSE, "%s: not valid UTF-8 (byte %zu)", index_path, bad);
    goto done;
  }
  qc_json_reader p;
  qc_json_reader_init(&p, text, len, &set->arena, 0, 0);
  bool first = true, has_meta = false, has_map = false;
  char *key;
  size_t klen;
  if (!qc_json_object_begin(&p)) goto json_fail;
  while (qc_json_object_next(&p, &first, &key, &klen)) {
    if (strcmp(key, "metadata") == 0) {
      if (has_meta) {
        s = qc_status_new(QC_CODE_PARSE, "%s: duplicate key 'metadata'", index_path);
        goto done;
      }
      has_meta = true;
      if (qc_json_read_null(&p)) continue;
      bool mfirst = true, has_total = false;
      if (!qc_json_object_begin(&p)) goto json_fail;
      while (qc_json_object_next(&p, &mfirst, &key, &klen)) {
        if (strcmp(key, "total_size") == 0) {
          if (has_total) {
            s = qc_status_new(QC_CODE_PARSE, "%s: metadata: duplicate key 'total_size'", index_path);
            goto done;
          }
          has_total = true;
          const char *num;
          size_t num_len;
          bool is_int;
          if (qc_json_peek(&p) == '-' || (qc_json_peek(&p) >= '0' && qc_json_peek(&p) <= '9')) {
            if (!qc_json_read_number(&p, &num, &num_len, &is_int)) goto json_fail;
            set->has_total = is_int && qc_json_text_u64(num, num_len, &set->total);
          } else if (!qc_json_skip(&p)) {
            goto json_fail;
          }
        } else if (!qc_json_skip(&p)) {
          goto json_fail;
        }
      }
      if (p.failed) goto json_fail;
    } else if (strcmp(key, "weight_map") == 0) {
      if (has_map) {
        s = qc_status_new(QC_CODE_PARSE, "%s: duplicate key 'weight_map'", index_path);
        goto done;
      }
      has_map = true;
      bool wfirst = true;
      if (!qc_json_object_begin(&p)) goto json_fail;
      while (qc_json_object_next(&p, &wfirst, &key, &klen)) {
        char *val;
        size_t vlen;
        if (qc_json_peek(&p) != '"') {
          s = qc_status_new(QC_CODE_PARSE, "%s: weight_map: tensor '%s': the value must be a file name",
                            index_path, key);
          goto done;
        }
        if (!qc_json_read_string(&p, &val, &vlen)) goto json_fail;
        if (strlen(key) != klen || strlen(val) != vlen) {
          s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: weight_map: tensor '%s': contains U+0000", index_path, key);
          goto done;
        }
        if (qc_strmap_get(&seen, key) >= 0) {
          s = qc_status_new(QC_CODE_PARSE, "%s: weight_map: tensor '%s': duplicate key", index_path, key);
          goto done;
        }
        if (!*val || strchr(val, '/') || strchr(val, '\\') || strcmp(val, ".") == 0 || strcmp(val, "..") == 0) {
          s = qc_status_new(QC_CODE_PARSE,
                            "%s: weight_map: tensor '%s': shard '%s' is not a plain file name beside the index",
                            index_path, key, val);
          goto done;
        }
        if (!qc_grow(A, (void **)&map, &cap_map, n_map + 1, sizeof *map) || !qc_strmap_put(&seen, key, n_map)) {
          s = QC_OOM();
          goto done;
        }
        map[n_map++] = (map_entry){key, val};
      }
      if (p.failed) goto json_fail;
    } else if (!qc_json_skip(&p)) {
      goto json_fail;
    }
  }
  if (p.failed || !qc_json_read_end(&p)) goto json_fail;
  if (!has_map) {
    s = qc_status_new(QC_CODE_PARSE, "%s: no \"weight_map\"", index_path);
    goto done;
  }
  /* The distinct shard files, sorted, each opened once. */
  files = calloc((size_t)(n_map ? n_map : 1), sizeof *files);
  if (!files) {
    s = QC_OOM();
    goto done;
  }
  int32_t n_files = 0;
  for (int32_t i = 0; i < n_map; i++)
    if (qc_strmap_get(&files_seen, map[i].file) < 0) {
      if (!qc_strmap_put(&files_seen, map[i].file, i)) {
        s = QC_OOM();
        goto done;
      }
      files[n_files++] = map[i].file;
    }
  qsort(files, (size_t)n_files, sizeof *files, cmp_cstrp);
  const char *slash = strrchr(index_path, '/');
  size_t dlen = slash ? (size_t)(slash - index_path) : 1;
  const char *dir = slash ? index_path : ".";
  for (int32_t i = 0; i < n_files; i++) {
    char *sp = qc_arena_printf(&set->arena, "%.*s/%s", (int)dlen, dir, files[i]);
    if (!sp) {
      s = QC_OOM();
      goto done;
    }
    if (!exists(sp)) {
      s = qc_status_new(QC_CODE_NOT_FOUND, "%s: shard '%s' (holding tensor '%s') does not exist", index_path,
                        files[i], map[qc_strmap_get(&files_seen, files[i])].name);
      goto done;
    }
    qc_safetensors *st;
    if ((s = qc_safetensors_open(sp, &st)) || (s = add_shard(set, st))) goto done;
  }
  if ((s = index_tensors(set))) goto done;
  /* Every mapped tensor is in the shard the index names, and every tensor is mapped. */
  for (int32_t i = 0; i < n_map; i++) {
    int32_t k = qc_strmap_get(&set->by_name, map[i].name);
    const char *where = k >= 0 ? qc_safetensors_path(set->shards[set->items[k].shard]) : NULL;
    const char *base = where ? strrchr(where, '/') : NULL;
    base = base ? base + 1 : where;
    if (k < 0) {
      s = qc_status_new(QC_CODE_NOT_FOUND, "%s: tensor '%s' is mapped to '%s', which does not contain it",
                        index_path, map[i].name, map[i].file);
      goto done;
    }
    if (strcmp(base, map[i].file) != 0) {
      s = qc_status_new(QC_CODE_PARSE, "%s: tensor '%s' is mapped to '%s' but lies in '%s'", index_path,
                        map[i].name, map[i].file, base);
      goto done;
    }
  }
  for (int64_t k = 0; k < set->n_items; k++) {
    const qc_safetensors *st = set->shards[set->items[k].shard];
    const char *name = qc_safetensors_entry_at(st, set->items[k].index)->name;
    if (qc_strmap_get(&seen, name) < 0) {
      s = qc_status_new(QC_CODE_PARSE, "%s: tensor '%s' of %s is not in the index's weight_map", index_path,
                        name, qc_safetensors_path(st));
      goto done;
    }
  }
  goto done;
json_fail:
  s = qc_status_new(QC_CODE_PARSE, "%s: invalid JSON: %s", index_path, p.err);
done:
  free(files);
  qc_free(A, map, (size_t)cap_map * sizeof *map);
  qc_strmap_free(&seen);
  qc_strmap_free(&files_seen);
  qc_buffer_release(file);
  return s;
}

qc_status qc_safetensors_set_open(const char *path, qc_safetensors_set **out) {
  *out = NULL;
  qc_safetensors_set *set = calloc(1, sizeof *set);
  if (!set) return QC_OOM();
  qc_arena_init(&set->arena, qc_allocator_default());
  qc_strmap_init(&set->by_name, qc_allocator_default());
  qc_status s = QC_OK;
  if (is_dir(path)) {
    char *idx = qc_arena_printf(&set->arena, "%s/model.safetensors.index.json", path);
    char *one = qc_arena_printf(&set->arena, "%s/model.safetensors", path);
    if (!idx || !one) s = QC_OOM();
    else if (exists(idx)) s = open_index(set, idx);
    else if (exists(one)) {
      qc_safetensors *st;
      s = qc_safetensors_open(one, &st);
      if (!s) s = add_shard(set, st);
      if (!s) s = index_tensors(set);
    } else {
      s = qc_status_new(QC_CODE_NOT_FOUND, "%s: holds neither model.safetensors.index.json nor model.safetensors",
                        path);
    }
  } else if (ends_with(path, ".json")) {
    s = open_index(set, path);
  } else {
    qc_safetensors *st;
    s = qc_safetensors_open(path, &st);
    if (!s) s = add_shard(set, st);
    if (!s) s = index_tensors(set);
  }
  if (s) {
    qc_safetensors_set_close(set);
    return s;
  }
  *out = set;
  return QC_OK;
}

void qc_safetensors_set_close(qc_safetensors_set *set) {
  if (!set) return;
  for (int32_t i = 0; i < set->n_shards; i++) qc_safetensors_close(set->shards[i]);
  qc_free(qc_allocator_default(), set->shards, (size_t)set->cap_shards * sizeof *set->shards);
  qc_strmap_free(&set->by_name);
  qc_arena_free(&set->arena);
  free(set);
}

int64_t qc_safetensors_set_count(const qc_safetensors_set *set) { return set->n_items; }

const qc_safetensors_entry *qc_safetensors_set_entry_at(const qc_safetensors_set *set, int64_t i,
                                                        int32_t *shard) {
  if (i < 0 || i >= set->n_items) return NULL;
  if (shard) *shard = set->items[i].shard;
  return qc_safetensors_entry_at(set->shards[set->items[i].shard], set->items[i].index);
}

int64_t qc_safetensors_set_find(const qc_safetensors_set *set, const char *name) {
  return qc_strmap_get(&set->by_name, name);
}

qc_status qc_safetensors_set_tensor(const qc_safetensors_set *set, int64_t i, qc_tensor *out) {
  if (i < 0 || i >= set->n_items) {
    memset(out, 0, sizeof *out);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "tensor index %" PRId64 " out of range", i);
  }
  return qc_safetensors_tensor(set->shards[set->items[i].shard], set->items[i].index, out);
}

qc_status qc_safetensors_set_get(const qc_safetensors_set *set, const char *name, qc_tensor *out) {
  int64_t i = qc_safetensors_set_find(set, name);
  if (i < 0) {
    memset(out, 0, sizeof *out);
    return qc_status_new(QC_CODE_NOT_FOUND, "%s: no tensor '%s'",
                         set->n_shards ? qc_safetensors_path(set->shards[0]) : "checkpoint", name);
  }
  return qc_safetensors_set_tensor(set, i, out);
}

int32_t qc_safetensors_set_shard_count(const qc_safetensors_set *set) { return set->n_shards; }

const qc_safetensors *qc_safetensors_set_shard(const qc_safetensors_set *set, int32_t i) {
  return i >= 0 && i < set->n_shards ? set->shards[i] : NULL;
}

bool qc_safetensors_set_total_size(const qc_safetensors_set *set, uint64_t *total) {
  if (set->has_total && total) *total = set->total;
  return set->has_total;
}
