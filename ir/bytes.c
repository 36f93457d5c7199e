/* CRC-32 and UTF-8 validation for file formats (see bytes.h). */
#include "bytes.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

/* Reflected CRC-32, polynomial 0xEDB88320, computed a byte at a time from a 1 KiB table
 * built once. */
static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

uint32_t qc_crc32(uint32_t crc, const void *data, size_t n) {
  pthread_once(&crc_once, crc_init);
  const uint8_t *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

bool qc_utf8_valid(const void *s, size_t n, size_t *bad) {
  const uint8_t *p = s;
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t min, cp;
    if ((c & 0xE0) == 0xC0) len = 2, min = 0x80, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, min = 0x800, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, min = 0x10000, cp = c & 0x07;
    else goto fail;
    if (n - i < len) goto fail;
    for (size_t k = 1; k < len; k++) {
      if ((p[i + k] & 0xC0) != 0x80) goto fail;
      cp = cp << 6 | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto fail;
    i += len;
  }
  return true;
fail:
  if (bad) *bad = i;
  return false;
}

qc_status qc_tensor_over_file(qc_tensor *t, qc_buffer *file, uint64_t off, uint64_t size,
                              qc_dtype dt, int32_t rank, const int64_t *dims, const char *what) {
  memset(t, 0, sizeof *t);
  if (off > qc_buffer_size(file) || size > qc_buffer_size(file) - off)
    return qc_status_new(QC_CODE_PARSE, "%s: data [%llu, %llu) lies outside the file (%zu bytes)",
                         what, (unsigned long long)off, (unsigned long long)(off + size),
                         qc_buffer_size(file));
  const qc_dtype_traits *tr = qc_dtype_traits_of(dt);
  size_t align = 1;
  if (tr->kind != QC_KIND_BLOCK && tr->bits >= 8) {
    align = tr->bits / 8;
    if (align > 8) align = 8;
  }
  const uint8_t *src = (const uint8_t *)qc_buffer_data(file) + off;
  if (((uintptr_t)src & (align - 1)) == 0) {
    qc_buffer *slice = qc_buffer_slice(file, (size_t)off, (size_t)size);
    if (!slice) return qc_status_new(QC_CODE_OUT_OF_MEMORY, "%s: out of memory", what);
    qc_tensor_init(t, dt, rank, dims, slice, 0);
    qc_buffer_release(slice);
    return QC_OK;
  }
  qc_buffer *copy;
  qc_status s = qc_buffer_create(NULL, (size_t)size, &copy);
  if (s) return qc_status_wrap(s, "%s", what);
  if (size) memcpy(qc_buffer_data(copy), src, (size_t)size);
  qc_tensor_init(t, dt, rank, dims, copy, 0);
  qc_buffer_release(copy);
  return QC_OK;
}

void qc_bytes_put(qc_bytes *b, const void *data, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap || !b->p) {
    size_t nc = b->cap ? b->cap * 2 : 256;
    while (nc < b->n + n + 1) nc *= 2;
    char *q = realloc(b->p, nc);
    if (!q) {
      b->oom = true;
      return;
    }
    b->p = q;
    b->cap = nc;
  }
  if (n) memcpy(b->p + b->n, data, n);
  b->n += n;
  b->p[b->n] = 0;
}
