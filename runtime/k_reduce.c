/* Interpreter kernels: reduce. */
#include "runtime/internal.h"

const qc_kernel_entry qc_kernels_reduce[] = {
    {QC_OP_INVALID, NULL},
};
