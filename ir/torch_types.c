/* The PyTorch type names of torch_types.h (torch/storage.py _dtype_to_storage_type_map and
 * _new_dtypes). */
#include "torch_types.h"

#include <stddef.h>
#include <string.h>

typedef struct torch_type {
  qc_dtype dt;
  const char *storage; /* legacy storage class, NULL for the "new" dtypes */
  const char *dtype;   /* the dtype's name */
} torch_type;

static const torch_type TYPES[] = {
    {QC_F32, "FloatStorage", "float32"},
    {QC_F64, "DoubleStorage", "float64"},
    {QC_F16, "HalfStorage", "float16"},
    {QC_BF16, "BFloat16Storage", "bfloat16"},
    {QC_I64, "LongStorage", "int64"},
    {QC_I32, "IntStorage", "int32"},
    {QC_I16, "ShortStorage", "int16"},
    {QC_I8, "CharStorage", "int8"},
    {QC_U8, "ByteStorage", "uint8"},
    {QC_BOOL, "BoolStorage", "bool"},
    {QC_C64, "ComplexFloatStorage", "complex64"},
    {QC_C128, "ComplexDoubleStorage", "complex128"},
    {QC_F8E4M3FN, NULL, "float8_e4m3fn"},
    {QC_F8E5M2, NULL, "float8_e5m2"},
    {QC_F8E4M3FNUZ, NULL, "float8_e4m3fnuz"},
    {QC_F8E5M2FNUZ, NULL, "float8_e5m2fnuz"},
    {QC_E8M0, NULL, "float8_e8m0fnu"},
    {QC_U16, NULL, "uint16"},
    {QC_U32, NULL, "uint32"},
    {QC_U64, NULL, "uint64"},
    {QC_F4E2M1, NULL, "float4_e2m1fn_x2"},
};

qc_dtype qc_torch_storage_dtype(const char *name) {
  for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++)
    if (TYPES[i].storage && strcmp(TYPES[i].storage, name) == 0) return TYPES[i].dt;
  return QC_DT_UNDEFINED;
}

qc_dtype qc_torch_dtype(const char *name, bool *pairs) {
  *pairs = strcmp(name, "float4_e2m1fn_x2") == 0;
  for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++)
    if (strcmp(TYPES[i].dtype, name) == 0) return TYPES[i].dt;
  return QC_DT_UNDEFINED;
}

bool qc_torch_names(qc_dtype dt, const char **storage_class, const char **dtype_name) {
  for (size_t i = 0; i < sizeof TYPES / sizeof *TYPES; i++)
    if (TYPES[i].dt == dt) {
      *storage_class = TYPES[i].storage;
      *dtype_name = TYPES[i].dtype;
      return true;
    }
  return false;
}
