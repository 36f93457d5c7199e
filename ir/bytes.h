/* Byte-level helpers shared by the file readers (frontend/) and writers (codegen/):
 * little-endian loads and stores at any alignment, CRC-32 (zip) and UTF-8 validation.
 * Private to libquarc. */
#ifndef QUARC_IR_BYTES_H
#define QUARC_IR_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "quarc/tensor.h"

static inline uint16_t qc_rd_u16le(const void *p) {
  const uint8_t *b = p;
  return (uint16_t)(b[0] | (uint16_t)b[1] << 8);
}
static inline uint32_t qc_rd_u32le(const void *p) {
  const uint8_t *b = p;
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static inline uint64_t qc_rd_u64le(const void *p) {
  const uint8_t *b = p;
  return (uint64_t)qc_rd_u32le(b) | (uint64_t)qc_rd_u32le(b + 4) << 32;
}
static inline void qc_wr_u16le(void *p, uint16_t v) {
  uint8_t *b = p;
  b[0] = (uint8_t)v;
  b[1] = (uint8_t)(v >> 8);
}
static inline void qc_wr_u32le(void *p, uint32_t v) {
  uint8_t *b = p;
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}
static inline void qc_wr_u64le(void *p, uint64_t v) {
  uint8_t *b = p;
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

/* A growable byte string (writers, tokenizers): appends keep a NUL after the data so text
 * built in it is a C string; an allocation failure sets `oom` and later appends do nothing,
 * so callers check once at the end. Free p with free(). */
typedef struct qc_bytes {
  char *p;
  size_t n, cap;
  bool oom;
} qc_bytes;

void qc_bytes_put(qc_bytes *b, const void *data, size_t n);
static inline void qc_bytes_putc(qc_bytes *b, char c) { qc_bytes_put(b, &c, 1); }
static inline void qc_bytes_puts(qc_bytes *b, const char *s) { qc_bytes_put(b, s, strlen(s)); }


/** Update a CRC-32 (ISO-HDLC, as zip and zlib use it) with n bytes; start with crc = 0. */
uint32_t qc_crc32(uint32_t crc, const void *data, size_t n);

/** Whether [s, s+n) is well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF).
 *  On failure *bad (if not NULL) gets the offset of the first offending byte. */
bool qc_utf8_valid(const void *s, size_t n, size_t *bad);

/** Make `t` a tensor of type `dt` and shape `dims` over bytes [off, off+size) of `file`:
 *  a slice of it (no copy) when the address suits the element type (aligned to the element
 *  size, at most 8), else an aligned copy, so kernels may load elements directly. `size`
 *  must be the tensor's byte size; readers check that before. `what` names the tensor in
 *  the error ("model.safetensors: tensor 'w'"). */
qc_status qc_tensor_over_file(qc_tensor *t, qc_buffer *file, uint64_t off, uint64_t size,
                              qc_dtype dt, int32_t rank, const int64_t *dims, const char *what);

#endif
