/* PyTorch's names for element types, as torch.save pickles them: the legacy storage classes
 * (GLOBAL torch FloatStorage, ...) of _rebuild_tensor_v2, and the dtype globals (GLOBAL torch
 * float8_e4m3fn, ...) that _rebuild_tensor_v3 takes for dtypes without a storage class,
 * whose storage is a GLOBAL torch.storage UntypedStorage of bytes (torch.UntypedStorage is
 * defined in torch/storage.py, and pickle names a class by its __module__). Shared by the
 * .pth reader and writer. Private to libquarc. */
#ifndef QUARC_IR_TORCH_TYPES_H
#define QUARC_IR_TORCH_TYPES_H

#include "quarc/dtype.h"

/** The module and name torch.save pickles the untyped storage class as. */
#define QC_TORCH_UNTYPED_MODULE "torch.storage"
#define QC_TORCH_UNTYPED_NAME "UntypedStorage"

/** The dtype of legacy storage class torch.`name` ("FloatStorage"); QC_DT_UNDEFINED if
 *  unknown (quantized storages such as QInt8Storage included). */
qc_dtype qc_torch_storage_dtype(const char *name);
/** The dtype of a torch dtype global torch.`name` ("float32", "float8_e4m3fn");
 *  QC_DT_UNDEFINED if unknown. "float4_e2m1fn_x2" gives QC_F4E2M1 and sets *pairs: torch
 *  counts it in bytes of two values each, quarc (like safetensors' F4) in values. */
qc_dtype qc_torch_dtype(const char *name, bool *pairs);
/** How torch.save writes `dt`: its storage class for _rebuild_tensor_v2, or NULL and its
 *  dtype name for _rebuild_tensor_v3. False if torch has no such dtype. */
bool qc_torch_names(qc_dtype dt, const char **storage_class, const char **dtype_name);

#endif
