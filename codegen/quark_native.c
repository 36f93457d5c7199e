/* Quark's native format (placeholder until written). */
#include "codegen/export_internal.h"

qc_status qc_export_quark_native(const qc_graph *g, const char *dir, const qc_export_options *opt) {
  (void)g;
  (void)opt;
  return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: Quark native export is not written yet", dir);
}
