/* Interpreter kernels: linalg. */
#include "runtime/internal.h"

const qc_kernel_entry qc_kernels_linalg[] = {
    {QC_OP_INVALID, NULL},
};
