/*
 * A zip reader for torch.save archives (private to frontend/): it lists the central
 * directory of a mapped file and gives the byte range of each entry, so stored
 * (uncompressed) entries are read without a copy. Compressed entries are listed but
 * refused when their data is asked for; there is no inflate.
 *
 * Layout read (PKWARE APPNOTE 6.3): local headers with data, the central directory, an
 * optional zip64 end-of-central-directory record and locator, and the end record
 *   u32 0x06054b50, u16 disk, u16 cd disk, u16 entries here, u16 entries, u32 cd size,
 *   u32 cd offset, u16 comment length, comment
 * which must end the file. Central entries (u32 0x02014b50, ..., u16 method, ..., u32 crc,
 * u32 compressed, u32 size, u16 name, u16 extra, u16 comment, ..., u32 local offset) take
 * 64-bit sizes and offsets from a zip64 extra field (id 1) where the 32-bit field is
 * 0xFFFFFFFF. An entry's data starts after its local header (u32 0x04034b50, 26 bytes,
 * name, extra: PyTorch pads this extra field to align data to 64 bytes).
 */
#ifndef QUARC_FRONTEND_ZIP_H
#define QUARC_FRONTEND_ZIP_H

#include "ir/internal.h"
#include "quarc/tensor.h"

typedef struct qc_zip_entry {
  const char *name;
  uint16_t method, flags;
  uint32_t crc32;
  uint64_t size, csize;  /* uncompressed, compressed */
  uint64_t data_offset;  /* in the file */
} qc_zip_entry;

typedef struct qc_zip {
  const char *path;
  qc_buffer *file;       /* retained */
  qc_arena arena;
  qc_zip_entry *entries;
  int64_t n;
  qc_strmap by_name;
} qc_zip;

/** Read the directory of `file` (retained); messages name `path`. */
qc_status qc_zip_open(qc_zip *z, qc_buffer *file, const char *path) QC_MUST_USE;
void qc_zip_close(qc_zip *z);
/** Index of entry `name`, or -1. */
int64_t qc_zip_find(const qc_zip *z, const char *name);
/** Entry i's data: refuses compressed and encrypted entries. */
qc_status qc_zip_data(const qc_zip *z, int64_t i, const uint8_t **data, uint64_t *size) QC_MUST_USE;
/** Check entry i's CRC-32 (reads all its bytes). */
qc_status qc_zip_check_crc(const qc_zip *z, int64_t i) QC_MUST_USE;

#endif
