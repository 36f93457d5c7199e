/* The ggml tensor types a GGUF file may name (ggml.h's enum ggml_type, sizes as gguf-py's
 * GGML_QUANT_SIZES, except Q8_1, whose C block is 36 bytes). Shared by the GGUF reader and
 * writer, which must size tensors of every type, including those quarc cannot compute on
 * (IQ*, TQ*, NVFP4, Q1_0). Private to libquarc. */
#ifndef QUARC_IR_GGML_TYPES_H
#define QUARC_IR_GGML_TYPES_H

#include <stdbool.h>
#include <stdint.h>

/** One past the largest ggml type quarc knows (Q1_0 = 41). Files naming a larger type are
 *  rejected, as readers with an older ggml reject them. */
#define QC_GGML_TYPE_COUNT 42

typedef struct qc_ggml_type_layout {
  const char *name;  /**< ggml's upper-case name, "Q4_K"; NULL for removed values */
  uint32_t block;    /**< elements per block; 0 for removed values */
  uint32_t bytes;    /**< bytes per block */
} qc_ggml_type_layout;

/** The layout of ggml type `t`, or NULL if t is negative, >= QC_GGML_TYPE_COUNT or removed. */
const qc_ggml_type_layout *qc_ggml_layout(int64_t t);

#endif
