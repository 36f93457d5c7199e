/* Interpreter kernels: nn. */
#include "runtime/internal.h"

const qc_kernel_entry qc_kernels_nn[] = {
    {QC_OP_INVALID, NULL},
};
