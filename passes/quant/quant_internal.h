/* Private to passes/quant/: helpers shared by the config, numerics and observer files. */
#ifndef QUARC_PASSES_QUANT_INTERNAL_H
#define QUARC_PASSES_QUANT_INTERNAL_H

#include "quarc/quant.h"

/* Free what a spec list / layer owns and zero it. */
void qc_qspecs_clear(qc_qspecs *s);
void qc_qlayer_clear(qc_qlayer *l);
void qc_qstrings_clear(qc_qstrings *l);
qc_status qc_qlayer_copy(const qc_qlayer *src, qc_qlayer *dst) QC_MUST_USE;
qc_status qc_qstrings_copy(const qc_qstrings *src, qc_qstrings *dst) QC_MUST_USE;
char *qc_qstrdup(const char *s);

/* quarc's version as written in presets: "quarc-0.1.0". */
const char *qc_quant_default_version(void);

/* Validate one QLayerConfig field (single spec or stage list) at `path`; `activation` is
 * true for input_tensors/output_tensors (Quark rejects static per_group there). */
qc_status qc_qspecs_validate(const qc_qspecs *s, const char *path, bool activation) QC_MUST_USE;

/* Observer families. */
bool qc_qobserver_is_per_tensor(qc_qobserver o);
bool qc_qobserver_is_per_channel(qc_qobserver o);
bool qc_qobserver_is_per_group(qc_qobserver o);

/* Quark's get_dtype_params: (ebits, mbits, emax); false for dtypes without one. */
bool qc_qdtype_params(qc_qdtype dt, int *ebits, int *mbits, int *emax);

#endif
