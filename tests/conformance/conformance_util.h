/* Shared by the conformance programs: data values <-> interpreter values and the
 * comparison of results with the expected outputs of ONNX's backend tests. */
#ifndef QUARC_TESTS_CONFORMANCE_UTIL_H
#define QUARC_TESTS_CONFORMANCE_UTIL_H

#include "quarc/quarc.h"
#include "quarc/tensor_io.h"

#include <stddef.h>

/* Default tolerances of onnx/backend/test/case/node (expect()). */
#define CONF_RTOL 1e-3
#define CONF_ATOL 1e-7

/* An interpreter value holding references to the data of `d`; `type` (may be NULL) gives
 * the element type of an empty optional or sequence. */
qc_status conf_to_rvalue(const qc_data_value *d, const qc_type *type, qc_rvalue *out);

/* Compare a result with the expected value. Returns true if equal within the tolerances;
 * otherwise writes the reason to `why`. */
bool conf_compare(const qc_rvalue *got, const qc_data_value *want, char *why, size_t n);

/* Compare two tensors (dtype, shape, data with the tolerances above). */
bool conf_tensor_equal(const qc_tensor *got, const qc_tensor *want, char *why, size_t n);

/* Structural equality of two graphs: names, opsets, metadata, values (kind, type with
 * symbolic dims compared by name, constant data), inputs, outputs, nodes and attributes,
 * sub-graphs recursively. Returns true if equal; otherwise writes where they differ. */
bool conf_graph_equal(const qc_graph *a, const qc_graph *b, char *why, size_t n);

#endif
