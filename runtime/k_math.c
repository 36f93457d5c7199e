/* Interpreter kernels: math. */
#include "runtime/internal.h"

const qc_kernel_entry qc_kernels_math[] = {
    {QC_OP_INVALID, NULL},
};
