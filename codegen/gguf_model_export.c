/* GGUF model export (placeholder until written). */
#include "codegen/export_internal.h"

qc_status qc_export_gguf(const qc_graph *g, const char *path, const qc_export_options *opt) {
  (void)g;
  (void)opt;
  return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: GGUF model export is not written yet", path);
}
