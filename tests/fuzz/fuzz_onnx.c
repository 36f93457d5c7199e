/* libFuzzer target for the ONNX reader: any bytes as a model (then written back out when
 * they import) and as each kind of .pb value file. Nothing may crash, leak or hang; bad
 * input must come back as a status. Seeds: tests/fuzz/corpus/onnx/. */
#include "quarc/onnx.h"
#include "quarc/tensor_io.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qc_graph *g = NULL;
  /* No base directory: external data is refused rather than read from the disk. */
  qc_status s = qc_onnx_import_memory(data, size, "fuzz.onnx", NULL, NULL, &g);
  if (!s) {
    void *out = NULL;
    size_t n = 0;
    qc_status e = qc_onnx_export_memory(g, NULL, &out, &n);
    if (!e) {
      qc_graph *g2 = NULL;
      qc_status r = qc_onnx_import_memory(out, n, "fuzz-out.onnx", NULL, NULL, &g2);
      qc_status_free(r);
      qc_graph_destroy(g2);
    }
    qc_status_free(e);
    free(out);
    qc_graph_destroy(g);
  }
  qc_status_free(s);
  for (int kind = QC_TYPE_TENSOR; kind <= QC_TYPE_OPTIONAL_SEQUENCE; kind++) {
    qc_data_value v;
    qc_status_free(qc_value_parse_pb(data, size, "fuzz.pb", kind, &v));
    qc_data_value_release(&v);
  }
  return 0;
}
