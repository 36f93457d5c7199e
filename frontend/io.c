/* qc_model_load: pick a reader from the path. */
#include "quarc/io.h"
#include "quarc/onnx.h"
#include "quarc/qir.h"

#include "quarc/export.h"
#include "quarc/models.h"

#include <stdio.h>
#include <stdlib.h>

#include <string.h>
#include <sys/stat.h>

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

qc_format qc_format_from_path(const char *path) {
  if (ends_with(path, ".qir")) return QC_FORMAT_QIR;
  if (ends_with(path, ".onnx")) return QC_FORMAT_ONNX;
  if (ends_with(path, ".gguf")) return QC_FORMAT_GGUF;
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return QC_FORMAT_HF;
  return QC_FORMAT_AUTO;
}

/* A Hugging Face directory holding a quantized checkpoint: config.json with a
 * quantization_config, or Quark's native model_state_dict.pth. */
bool qc_hf_is_quantized(const char *dir) {
  char p[4096];
  struct stat st;
  snprintf(p, sizeof p, "%s/model_state_dict.pth", dir);
  if (stat(p, &st) == 0) return true;
  snprintf(p, sizeof p, "%s/config.json", dir);
  FILE *f = fopen(p, "rb");
  if (!f) return false;
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  bool q = false;
  for (;;) {
    buf[n] = 0;
    if (strstr(buf, "\"quantization_config\"")) q = true;
    if (q || n < sizeof buf - 1) break;
    /* keep the tail in case the key straddles the boundary */
    memmove(buf, buf + n - 32, 32);
    n = 32 + fread(buf + 32, 1, sizeof buf - 33, f);
  }
  fclose(f);
  return q;
}

qc_status qc_model_load(const char *path, qc_format fmt, qc_graph **out) {
  *out = NULL;
  if (fmt == QC_FORMAT_AUTO) fmt = qc_format_from_path(path);
  switch (fmt) {
  case QC_FORMAT_QIR: return qc_qir_read_file(path, out);
  case QC_FORMAT_ONNX: return qc_onnx_import(path, NULL, out);
  case QC_FORMAT_HF:
    return qc_hf_load(path, NULL, out); /* quantized or not */
  case QC_FORMAT_GGUF: return qc_gguf_load(path, NULL, out);
  default:
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: cannot tell the model format from the name (known: .qir, .onnx, .gguf, "
                         "a Hugging Face directory)",
                         path);
  }
}
