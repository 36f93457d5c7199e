/* Hugging Face model directories: config.json + weights -> graph. Weights come from
 * model.safetensors.index.json / model.safetensors, else (older checkpoints, Quark's native
 * export) pytorch_model.bin.index.json / pytorch_model.bin, read by the restricted
 * unpickler (quarc/pth.h). A sentence-transformers directory's sentence_bert_config.json
 * gives max_seq_length, recorded as graph metadata for the tools. */
#include "quarc/models.h"
#include "quarc/export.h"
#include "quarc/io.h"

#include "ir/internal.h"
#include "quarc/pth.h"
#include "quarc/safetensors.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static qc_status st_get(void *ctx, const char *name, qc_tensor *out) {
  return qc_safetensors_set_get(ctx, name, out);
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* PyTorch checkpoints: one pytorch_model.bin, or shards listed by
 * pytorch_model.bin.index.json ({"weight_map": {name: file}}). */
typedef struct pth_set {
  int32_t n;
  qc_pth **files;
} pth_set;

static void pth_set_close(pth_set *p) {
  for (int32_t i = 0; i < p->n; i++) qc_pth_close(p->files[i]);
  free(p->files);
  memset(p, 0, sizeof *p);
}

static qc_status pth_add(pth_set *p, const char *path) {
  qc_pth **a = realloc(p->files, sizeof *a * (size_t)(p->n + 1));
  if (!a) return QC_OOM();
  p->files = a;
  QC_RETURN_IF_ERROR(qc_pth_open(path, &p->files[p->n]));
  p->n++;
  return QC_OK;
}

static qc_status pth_set_open(const char *dir, pth_set *p) {
  memset(p, 0, sizeof *p);
  char path[4096];
  snprintf(path, sizeof path, "%s/pytorch_model.bin.index.json", dir);
  if (!exists(path)) {
    snprintf(path, sizeof path, "%s/pytorch_model.bin", dir);
    qc_status s = pth_add(p, path);
    if (s) pth_set_close(p);
    return s;
  }
  char *json;
  size_t n;
  QC_RETURN_IF_ERROR(qc_read_file(path, &json, &n));
  cJSON *o = cJSON_ParseWithLength(json, n);
  free(json);
  const cJSON *wm = o ? cJSON_GetObjectItemCaseSensitive(o, "weight_map") : NULL;
  qc_status s = QC_OK;
  if (!cJSON_IsObject(wm)) s = qc_status_new(QC_CODE_PARSE, "%s: not JSON with a 'weight_map' object", path);
  /* Each distinct shard once, in order of first mention. */
  const char **seen = NULL;
  int32_t n_seen = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, wm) {
    if (s) break;
    if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !strcmp(e->valuestring, "..")) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: weight '%s' maps to a bad shard name", path,
                        e->string);
      break;
    }
    bool dup = false;
    for (int32_t i = 0; i < n_seen && !dup; i++) dup = !strcmp(seen[i], e->valuestring);
    if (dup) continue;
    const char **a = realloc(seen, sizeof *a * (size_t)(n_seen + 1));
    if (!a) {
      s = QC_OOM();
      break;
    }
    seen = a;
    seen[n_seen++] = e->valuestring;
    char shard[4096];
    snprintf(shard, sizeof shard, "%s/%s", dir, e->valuestring);
    s = pth_add(p, shard);
  }
  free(seen);
  cJSON_Delete(o);
  if (s) pth_set_close(p);
  return s;
}

static qc_status pth_get(void *ctx, const char *name, qc_tensor *out) {
  const pth_set *p = ctx;
  for (int32_t i = 0; i < p->n; i++)
    if (qc_pth_find(p->files[i], name) >= 0) return qc_pth_get(p->files[i], name, out);
  return qc_status_new(QC_CODE_NOT_FOUND, "%s: no tensor '%s'",
                       p->n ? qc_pth_path(p->files[0]) : "pytorch_model.bin", name);
}

/* sentence_bert_config.json's max_seq_length, if the directory has one (0 otherwise). */
static int64_t sentence_max_seq(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/sentence_bert_config.json", dir);
  char *json;
  size_t n;
  qc_status s = qc_read_file(path, &json, &n);
  if (s) {
    qc_status_free(s);
    return 0;
  }
  cJSON *o = cJSON_ParseWithLength(json, n);
  free(json);
  const cJSON *m = o ? cJSON_GetObjectItemCaseSensitive(o, "max_seq_length") : NULL;
  int64_t v = cJSON_IsNumber(m) && m->valuedouble > 0 && m->valuedouble < 1e9 ? (int64_t)m->valuedouble : 0;
  cJSON_Delete(o);
  return v;
}

qc_status qc_hf_load(const char *dir, const qc_build_options *opts, qc_graph **out) {
  *out = NULL;
  /* its codes are no float weights */
  if (qc_hf_is_quantized(dir)) return qc_hf_quant_load(dir, opts, NULL, out);
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", dir);
  char *json;
  size_t n = 0;
  QC_RETURN_IF_ERROR(qc_read_file(path, &json, &n));
  qc_model_config cfg;
  qc_status s = qc_model_config_parse(json, n, path, &cfg);
  free(json);
  if (s) return s;
  qc_safetensors_set *set = NULL;
  pth_set pth = {0, NULL};
  char st_one[4096], st_idx[4096], pt_one[4096], pt_idx[4096];
  snprintf(st_one, sizeof st_one, "%s/model.safetensors", dir);
  snprintf(st_idx, sizeof st_idx, "%s/model.safetensors.index.json", dir);
  snprintf(pt_one, sizeof pt_one, "%s/pytorch_model.bin", dir);
  snprintf(pt_idx, sizeof pt_idx, "%s/pytorch_model.bin.index.json", dir);
  qc_weight_source ws;
  if (!exists(st_one) && !exists(st_idx) && !exists(pt_one) && !exists(pt_idx))
    return qc_status_new(QC_CODE_NOT_FOUND,
                         "%s: no weights (model.safetensors, model.safetensors.index.json, "
                         "pytorch_model.bin or pytorch_model.bin.index.json)",
                         dir);
  if (!exists(st_one) && !exists(st_idx)) {
    s = pth_set_open(dir, &pth);
    ws = (qc_weight_source){pth_get, &pth};
  } else {
    s = qc_safetensors_set_open(dir, &set);
    ws = (qc_weight_source){st_get, set};
  }
  if (s) return qc_status_wrap(s, "%s: loading the weights", dir);
  s = qc_model_build(&cfg, &ws, opts, out);
  qc_safetensors_set_close(set); /* the graph's constants keep the mappings alive */
  pth_set_close(&pth);
  if (s) return qc_status_wrap(s, "%s", dir);
  s = qc_graph_set_meta(*out, "quarc.source", dir);
  if (!s) s = qc_graph_set_meta(*out, "quarc.model_type", cfg.model_type);
  int64_t msl = sentence_max_seq(dir);
  if (!s && msl > 0) {
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)msl);
    s = qc_graph_set_meta(*out, "quarc.max_seq_length", num);
  }
  if (s) {
    qc_graph_destroy(*out);
    *out = NULL;
  }
  return s;
}
