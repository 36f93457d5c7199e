/* qc_export_model: one entry point for every output format (quarc/export.h). */
#include "codegen/export_internal.h"
#include "quarc/onnx.h"
#include "quarc/qir.h"

#include <sys/stat.h>

static const char *const FORMAT_NAMES[] = {"auto", "hf", "quark", "awq", "fp8", "gguf", "onnx", "qir"};

const char *qc_export_format_name(qc_export_format f) {
  return (unsigned)f < sizeof FORMAT_NAMES / sizeof *FORMAT_NAMES ? FORMAT_NAMES[f] : "?";
}

bool qc_export_format_parse(const char *name, qc_export_format *out) {
  for (size_t i = 0; i < sizeof FORMAT_NAMES / sizeof *FORMAT_NAMES; i++)
    if (!strcmp(name, FORMAT_NAMES[i])) {
      *out = (qc_export_format)i;
      return true;
    }
  if (!strcmp(name, "safetensors")) {
    *out = QC_EXPORT_HF;
    return true;
  }
  return false;
}

static bool ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

qc_export_format qc_export_format_for_path(const char *path) {
  if (ends_with(path, ".onnx")) return QC_EXPORT_ONNX;
  if (ends_with(path, ".gguf")) return QC_EXPORT_GGUF;
  if (ends_with(path, ".qir")) return QC_EXPORT_QIR;
  return QC_EXPORT_HF;
}

qc_export_options qc_export_options_default(void) {
  qc_export_options o;
  memset(&o, 0, sizeof o);
  o.gguf_type = QC_F16;
  o.gguf_requant_type = QC_DT_UNDEFINED;
  o.gguf_embed_type = QC_DT_UNDEFINED;
  return o;
}

/* Single-file formats replace an existing file, as `cc -o` and `quarc quantize -o` do: the
 * writers rename a complete temporary over it, so the old file stays whole until then. A
 * directory output (hf, quark) is another matter: it may hold other files, and is refused
 * unless `replace` (qc_atomic_dir_open). */
static qc_status check_file(const char *path, const qc_export_options *opt) {
  (void)opt;
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: is a directory", path);
  return QC_OK;
}

qc_status qc_export_model(const qc_graph *g, const char *path, qc_export_format fmt,
                          const qc_export_options *opt) {
  if (fmt == QC_EXPORT_AUTO) fmt = qc_export_format_for_path(path);
  switch (fmt) {
  case QC_EXPORT_HF:
  case QC_EXPORT_AWQ:
  case QC_EXPORT_FP8: return qc_export_hf(g, path, fmt, opt);
  case QC_EXPORT_QUARK: return qc_export_quark_native(g, path, opt);
  case QC_EXPORT_GGUF:
    QC_RETURN_IF_ERROR(check_file(path, opt));
    return qc_export_gguf(g, path, opt);
  case QC_EXPORT_ONNX:
    QC_RETURN_IF_ERROR(check_file(path, opt));
    return qc_onnx_export(g, path, NULL);
  case QC_EXPORT_QIR:
    QC_RETURN_IF_ERROR(check_file(path, opt));
    return qc_qir_write_file(g, path);
  default: return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: unknown export format %d", path, (int)fmt);
  }
}
