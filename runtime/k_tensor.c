/* Interpreter kernels: tensor. */
#include "runtime/internal.h"

const qc_kernel_entry qc_kernels_tensor[] = {
    {QC_OP_INVALID, NULL},
};
