/* Hugging Face model directories: config.json + safetensors (single or sharded) -> graph. */
#include "quarc/models.h"
#include "quarc/safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static qc_status read_text(const char *path, char **out, size_t *n) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return qc_status_new(errno == ENOENT ? QC_CODE_NOT_FOUND : QC_CODE_IO, "%s: %s", path,
                               strerror(errno));
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = len >= 0 && len < (1L << 28) ? malloc((size_t)len + 1) : NULL;
  if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
    fclose(f);
    free(buf);
    return qc_status_new(QC_CODE_IO, "%s: cannot read", path);
  }
  fclose(f);
  buf[len] = 0;
  *out = buf;
  *n = (size_t)len;
  return QC_OK;
}

static qc_status st_get(void *ctx, const char *name, qc_tensor *out) {
  return qc_safetensors_set_get(ctx, name, out);
}

qc_status qc_hf_load(const char *dir, const qc_build_options *opts, qc_graph **out) {
  *out = NULL;
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", dir);
  char *json;
  size_t n = 0;
  QC_RETURN_IF_ERROR(read_text(path, &json, &n));
  qc_model_config cfg;
  qc_status s = qc_model_config_parse(json, n, path, &cfg);
  free(json);
  if (s) return s;
  qc_safetensors_set *set;
  s = qc_safetensors_set_open(dir, &set);
  if (s) return qc_status_wrap(s, "%s: loading the weights", dir);
  qc_weight_source ws = {st_get, set};
  s = qc_model_build(&cfg, &ws, opts, out);
  qc_safetensors_set_close(set); /* the graph's constants keep the mappings alive */
  if (s) return qc_status_wrap(s, "%s", dir);
  s = qc_graph_set_meta(*out, "quarc.source", dir);
  if (!s) s = qc_graph_set_meta(*out, "quarc.model_type", cfg.model_type);
  if (s) {
    qc_graph_destroy(*out);
    *out = NULL;
  }
  return s;
}
