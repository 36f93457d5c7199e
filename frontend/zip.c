/* The zip reader of zip.h. */
#include "frontend/zip.h"

#include "ir/bytes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define SIG_EOCD 0x06054b50u
#define SIG_Z64_LOC 0x07064b50u
#define SIG_Z64_EOCD 0x06064b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_LOCAL 0x04034b50u

static qc_status bad(const qc_zip *z, const char *fmt, const char *entry, uint64_t v) {
  char msg[200];
  snprintf(msg, sizeof msg, fmt, v);
  if (entry) return qc_status_new(QC_CODE_PARSE, "%s: zip entry '%s': %s", z->path, entry, msg);
  return qc_status_new(QC_CODE_PARSE, "%s: zip: %s", z->path, msg);
}

static qc_status read_central(qc_zip *z, const uint8_t *p, uint64_t size, uint64_t cd_off, uint64_t cd_size,
                              uint64_t n) {
  if (cd_off > size || cd_size > size - cd_off) return bad(z, "central directory lies outside the file", NULL, 0);
  if (n > cd_size / 46) return bad(z, "%" PRIu64 " entries do not fit the central directory", NULL, n);
  z->entries = qc_arena_alloc(&z->arena, (size_t)(n ? n : 1) * sizeof *z->entries);
  if (!z->entries) return QC_OOM();
  uint64_t pos = cd_off, end = cd_off + cd_size;
  for (uint64_t i = 0; i < n; i++) {
    if (end - pos < 46 || qc_rd_u32le(p + pos) != SIG_CENTRAL)
      return bad(z, "central directory entry %" PRIu64 " is malformed", NULL, i);
    const uint8_t *c = p + pos;
    qc_zip_entry *e = &z->entries[i];
    e->flags = qc_rd_u16le(c + 8);
    e->method = qc_rd_u16le(c + 10);
    e->crc32 = qc_rd_u32le(c + 16);
    e->csize = qc_rd_u32le(c + 20);
    e->size = qc_rd_u32le(c + 24);
    uint16_t nlen = qc_rd_u16le(c + 28), elen = qc_rd_u16le(c + 30), clen = qc_rd_u16le(c + 32);
    uint16_t disk = qc_rd_u16le(c + 34);
    uint64_t local = qc_rd_u32le(c + 42);
    if ((uint64_t)46 + nlen + elen + clen > end - pos)
      return bad(z, "central directory entry %" PRIu64 " runs past the directory", NULL, i);
    char *name = qc_arena_memdup0(&z->arena, c + 46, nlen);
    if (!name) return QC_OOM();
    if (strlen(name) != nlen) return bad(z, "entry %" PRIu64 " has a name with NUL", NULL, i);
    e->name = name;
    /* zip64 extra field: the 64-bit values of the fields that hold 0xFFFFFFFF, in order */
    const uint8_t *x = c + 46 + nlen, *xend = x + elen;
    bool need_size = e->size == 0xFFFFFFFFu, need_csize = e->csize == 0xFFFFFFFFu,
         need_local = local == 0xFFFFFFFFu;
    while (xend - x >= 4) {
      uint16_t id = qc_rd_u16le(x), len = qc_rd_u16le(x + 2);
      if (len > xend - x - 4) return bad(z, "extra field runs past its entry", name, 0);
      if (id == 1) {
        const uint8_t *f = x + 4, *fend = f + len;
        if (need_size) {
          if (fend - f < 8) return bad(z, "zip64 field lacks the size", name, 0);
          e->size = qc_rd_u64le(f);
          f += 8;
          need_size = false;
        }
        if (need_csize) {
          if (fend - f < 8) return bad(z, "zip64 field lacks the compressed size", name, 0);
          e->csize = qc_rd_u64le(f);
          f += 8;
          need_csize = false;
        }
        if (need_local) {
          if (fend - f < 8) return bad(z, "zip64 field lacks the header offset", name, 0);
          local = qc_rd_u64le(f);
          need_local = false;
        }
      }
      x += 4 + len;
    }
    if (need_size || need_csize || need_local) return bad(z, "a 0xFFFFFFFF field has no zip64 value", name, 0);
    if (disk != 0 && disk != 0xFFFF) return bad(z, "spans disk %" PRIu64 " (multi-disk archives are not supported)", name, disk);
    /* the local header */
    if (local > size || size - local < 30 || qc_rd_u32le(p + local) != SIG_LOCAL)
      return bad(z, "no local header at offset %" PRIu64, name, local);
    uint16_t lnlen = qc_rd_u16le(p + local + 26), lelen = qc_rd_u16le(p + local + 28);
    if ((uint64_t)30 + lnlen + lelen > size - local) return bad(z, "local header runs past the file", name, 0);
    if (lnlen != nlen || memcmp(p + local + 30, name, nlen) != 0)
      return bad(z, "local header names another entry", name, 0);
    e->data_offset = local + 30 + lnlen + lelen;
    if (e->csize > cd_off || e->data_offset > cd_off - e->csize)
      return bad(z, "data of %" PRIu64 " bytes runs into the central directory", name, e->csize);
    if (e->method == 0 && e->csize != e->size)
      return bad(z, "stored entry with compressed size %" PRIu64 " unequal to its size", name, e->csize);
    if (qc_strmap_get(&z->by_name, name) >= 0) return bad(z, "duplicate entry", name, 0);
    if (!qc_strmap_put(&z->by_name, name, (int32_t)i)) return QC_OOM();
    z->n = (int64_t)i + 1;
    pos += 46 + (uint64_t)nlen + elen + clen;
  }
  return QC_OK;
}

qc_status qc_zip_open(qc_zip *z, qc_buffer *file, const char *path) {
  memset(z, 0, sizeof *z);
  qc_arena_init(&z->arena, qc_allocator_default());
  qc_strmap_init(&z->by_name, qc_allocator_default());
  qc_buffer_retain(file);
  z->file = file;
  z->path = qc_arena_strdup(&z->arena, path);
  if (!z->path) return QC_OOM();
  const uint8_t *p = qc_buffer_data(file);
  uint64_t size = qc_buffer_size(file);
  if (size < 22) return bad(z, "file of %" PRIu64 " bytes is too small for a zip archive", NULL, size);
  /* The end record: the last signature whose comment reaches exactly the end of the file. */
  uint64_t eocd = UINT64_MAX;
  uint64_t lo = size - 22 > 65535 ? size - 22 - 65535 : 0;
  for (uint64_t at = size - 22 + 1; at-- > lo;) {
    if (qc_rd_u32le(p + at) == SIG_EOCD && at + 22 + qc_rd_u16le(p + at + 20) == size) {
      eocd = at;
      break;
    }
  }
  if (eocd == UINT64_MAX) return bad(z, "no end of central directory record (not a zip archive)", NULL, 0);
  const uint8_t *e = p + eocd;
  if (qc_rd_u16le(e + 4) != 0 || qc_rd_u16le(e + 6) != 0) return bad(z, "multi-disk archives are not supported", NULL, 0);
  uint64_t n = qc_rd_u16le(e + 10), cd_size = qc_rd_u32le(e + 12), cd_off = qc_rd_u32le(e + 16);
  if (qc_rd_u16le(e + 8) != n) return bad(z, "entry counts disagree", NULL, 0);
  if (eocd >= 20 && qc_rd_u32le(p + eocd - 20) == SIG_Z64_LOC) {
    uint64_t z64 = qc_rd_u64le(p + eocd - 20 + 8);
    if (qc_rd_u32le(p + eocd - 20 + 4) != 0 || qc_rd_u32le(p + eocd - 20 + 16) > 1)
      return bad(z, "multi-disk archives are not supported", NULL, 0);
    if (z64 > eocd - 20 || eocd - 20 - z64 < 56 || qc_rd_u32le(p + z64) != SIG_Z64_EOCD)
      return bad(z, "no zip64 end record at offset %" PRIu64, NULL, z64);
    const uint8_t *r = p + z64;
    if (qc_rd_u32le(r + 16) != 0 || qc_rd_u32le(r + 20) != 0)
      return bad(z, "multi-disk archives are not supported", NULL, 0);
    n = qc_rd_u64le(r + 32);
    if (qc_rd_u64le(r + 24) != n) return bad(z, "zip64 entry counts disagree", NULL, 0);
    cd_size = qc_rd_u64le(r + 40);
    cd_off = qc_rd_u64le(r + 48);
    if (cd_off > z64 || cd_size > z64 - cd_off) return bad(z, "central directory overlaps the zip64 record", NULL, 0);
  } else {
    if (n == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu)
      return bad(z, "zip64 markers without a zip64 locator", NULL, 0);
    if (cd_off > eocd || cd_size > eocd - cd_off) return bad(z, "central directory overlaps the end record", NULL, 0);
  }
  return read_central(z, p, size, cd_off, cd_size, n);
}

void qc_zip_close(qc_zip *z) {
  qc_buffer_release(z->file);
  qc_strmap_free(&z->by_name);
  qc_arena_free(&z->arena);
  memset(z, 0, sizeof *z);
}

int64_t qc_zip_find(const qc_zip *z, const char *name) { return qc_strmap_get(&z->by_name, name); }

static const char *method_name(uint16_t m) {
  switch (m) {
  case 8: return "deflate";
  case 9: return "deflate64";
  case 12: return "bzip2";
  case 14: return "lzma";
  case 93: return "zstd";
  default: return "unknown";
  }
}

qc_status qc_zip_data(const qc_zip *z, int64_t i, const uint8_t **data, uint64_t *size) {
  const qc_zip_entry *e = &z->entries[i];
  if (e->flags & 1)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: zip entry '%s' is encrypted", z->path, e->name);
  if (e->method != 0)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: zip entry '%s' is compressed (method %u, %s); quarc reads stored entries only, "
                         "as torch.save writes them",
                         z->path, e->name, e->method, method_name(e->method));
  *data = (const uint8_t *)qc_buffer_data(z->file) + e->data_offset;
  *size = e->size;
  return QC_OK;
}

qc_status qc_zip_check_crc(const qc_zip *z, int64_t i) {
  const uint8_t *d;
  uint64_t n;
  QC_RETURN_IF_ERROR(qc_zip_data(z, i, &d, &n));
  uint32_t crc = 0;
  while (n) {
    size_t k = n > (1u << 30) ? (1u << 30) : (size_t)n;
    crc = qc_crc32(crc, d, k);
    d += k;
    n -= k;
  }
  if (crc != z->entries[i].crc32)
    return qc_status_new(QC_CODE_PARSE, "%s: zip entry '%s': CRC-32 %08x, the directory says %08x", z->path,
                         z->entries[i].name, crc, z->entries[i].crc32);
  return QC_OK;
}
