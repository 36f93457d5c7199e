/* PyTorch's names for element types, as torch.save pickles them: the legacy storage classes
 * (torch.FloatStorage, ...) of _rebuild_tensor_v2, and the dtype globals (torch.float8_e4m3fn,
 * ...) that _rebuild_tensor_v3 takes for dtypes without a storage class, whose storage is a
 * torch.UntypedStorage of bytes. Shared by the .pth reader and writer. Private to libquarc. */
#ifndef QUARC_IR_TORCH_TYPES_H
#define QUARC_IR_TORCH_TYPES_H

#include "quarc/dtype.h"

/** The dtype of storage class `name` ("FloatStorage"); "UntypedStorage" gives QC_U8 and sets
 *  *untyped. QC_DT_UNDEFINED if unknown. */
qc_dtype qc_torch_storage_dtype(const char *name, bool *untyped);
/** The dtype of a torch dtype global ("float32", "float8_e4m3fn"); QC_DT_UNDEFINED if unknown. */
qc_dtype qc_torch_dtype(const char *name);
/** How torch.save writes `dt`: its storage class for _rebuild_tensor_v2, or NULL and its
 *  dtype name for _rebuild_tensor_v3. False if torch has no such dtype. */
bool qc_torch_names(qc_dtype dt, const char **storage_class, const char **dtype_name);

#endif
