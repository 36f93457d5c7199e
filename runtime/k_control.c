/* Interpreter kernels: control. */
#include "runtime/internal.h"

const qc_kernel_entry qc_kernels_control[] = {
    {QC_OP_INVALID, NULL},
};
