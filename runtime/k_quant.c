/* Interpreter kernels: quant. */
#include "runtime/internal.h"

const qc_kernel_entry qc_kernels_quant[] = {
    {QC_OP_INVALID, NULL},
};
