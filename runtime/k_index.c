/* Interpreter kernels: index. */
#include "runtime/internal.h"

const qc_kernel_entry qc_kernels_index[] = {
    {QC_OP_INVALID, NULL},
};
