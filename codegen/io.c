/* qc_model_save: pick a writer from the path. */
#include "quarc/io.h"
#include "quarc/onnx.h"
#include "quarc/qir.h"

qc_status qc_model_save(const qc_graph *g, const char *path, qc_format fmt) {
  if (fmt == QC_FORMAT_AUTO) fmt = qc_format_from_path(path);
  switch (fmt) {
  case QC_FORMAT_QIR: return qc_qir_write_file(g, path);
  case QC_FORMAT_ONNX: return qc_onnx_export(g, path, NULL);
  default:
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: cannot tell the output format from the name (known: .qir, .onnx)",
                         path);
  }
}
