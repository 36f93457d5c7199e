/* Interpreter kernels: misc. */
#include "runtime/internal.h"

const qc_kernel_entry qc_kernels_misc[] = {
    {QC_OP_INVALID, NULL},
};
