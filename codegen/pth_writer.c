/*
 * The .pth writer (quarc/pth.h): what torch.save(state_dict, path) writes.
 *
 * Zip entries, in torch.save's order, each stored, its data 64-byte aligned by padding the
 * local header's extra field (id 0x4246 "FB", as PyTorch's writer does):
 *   ARCHIVE/data.pkl, ARCHIVE/.format_version "1", ARCHIVE/.storage_alignment "64",
 *   ARCHIVE/byteorder "little", ARCHIVE/data/0 .. data/N-1, ARCHIVE/version "3\n"
 * then the central directory and the end record (zip64 records when an offset, a size or
 * the entry count needs them).
 *
 * data.pkl (protocol 2):
 *   PROTO 2; GLOBAL collections.OrderedDict; EMPTY_TUPLE; REDUCE
 *   MARK, per tensor (at most 1000 per batch, as CPython's pickler):
 *     BINUNICODE name
 *     GLOBAL torch._utils._rebuild_tensor_v2 (or _v3)
 *     MARK  MARK 'storage' GLOBAL torch.<Class>Storage (or torch.storage.UntypedStorage) key
 *           'cpu' numel TUPLE
 *           BINPERSID
 *           storage offset 0, size tuple, stride tuple (row-major), NEWFALSE,
 *           OrderedDict() (the empty backward hooks)[, GLOBAL torch.<dtype> for _v3]
 *     TUPLE REDUCE
 *   SETITEMS; STOP
 * Globals are memoized (BINPUT) on first use and fetched (BINGET) after, as CPython does.
 */
#include "quarc/io.h"
#include "quarc/pth.h"

#include "ir/bytes.h"
#include "ir/internal.h"
#include "ir/torch_types.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- bytes ------------------------------------------------------------------------------------ */

static void put1(qc_bytes *b, uint8_t c) { qc_bytes_put(b, &c, 1); }
static void put16(qc_bytes *b, uint16_t v) {
  uint8_t t[2];
  qc_wr_u16le(t, v);
  qc_bytes_put(b, t, 2);
}
static void put32(qc_bytes *b, uint32_t v) {
  uint8_t t[4];
  qc_wr_u32le(t, v);
  qc_bytes_put(b, t, 4);
}
static void put64(qc_bytes *b, uint64_t v) {
  uint8_t t[8];
  qc_wr_u64le(t, v);
  qc_bytes_put(b, t, 8);
}

/* ---- the pickle ------------------------------------------------------------------------------ */

typedef struct pickler {
  qc_bytes b;
  const char *memo_names[64]; /* "module\nname" of memoized globals */
  uint32_t memo_idx[64];
  int n_memo;
  uint32_t next_memo;
} pickler;

static void p_memo_put(pickler *pk) {
  uint32_t i = pk->next_memo++;
  if (i < 256) {
    put1(&pk->b, 'q');
    put1(&pk->b, (uint8_t)i);
  } else {
    put1(&pk->b, 'r');
    put32(&pk->b, i);
  }
}

static void p_global(pickler *pk, const char *mod, const char *name) {
  char key[160];
  snprintf(key, sizeof key, "%s\n%s", mod, name);
  for (int i = 0; i < pk->n_memo; i++)
    if (strcmp(pk->memo_names[i], key) == 0) {
      uint32_t m = pk->memo_idx[i];
      if (m < 256) {
        put1(&pk->b, 'h');
        put1(&pk->b, (uint8_t)m);
      } else {
        put1(&pk->b, 'j');
        put32(&pk->b, m);
      }
      return;
    }
  put1(&pk->b, 'c');
  qc_bytes_put(&pk->b, mod, strlen(mod));
  put1(&pk->b, '\n');
  qc_bytes_put(&pk->b, name, strlen(name));
  put1(&pk->b, '\n');
  if (pk->n_memo < 64) {
    pk->memo_names[pk->n_memo] = strdup(key);
    if (!pk->memo_names[pk->n_memo]) {
      pk->b.oom = true;
      return;
    }
    pk->memo_idx[pk->n_memo++] = pk->next_memo;
    p_memo_put(pk);
  }
}

/* An int as CPython's protocol-2 pickler writes it. */
static void p_int(pickler *pk, int64_t v) {
  if (v >= 0 && v < 256) {
    put1(&pk->b, 'K');
    put1(&pk->b, (uint8_t)v);
  } else if (v >= 0 && v < 65536) {
    put1(&pk->b, 'M');
    put16(&pk->b, (uint16_t)v);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    put1(&pk->b, 'J');
    put32(&pk->b, (uint32_t)(int32_t)v);
  } else {
    /* LONG1: the shortest little-endian two's complement */
    uint8_t t[8];
    qc_wr_u64le(t, (uint64_t)v);
    int n = 8;
    while (n > 1 && ((t[n - 1] == 0 && !(t[n - 2] & 0x80)) || (t[n - 1] == 0xFF && (t[n - 2] & 0x80)))) n--;
    put1(&pk->b, 0x8a);
    put1(&pk->b, (uint8_t)n);
    qc_bytes_put(&pk->b, t, (size_t)n);
  }
}

static void p_str(pickler *pk, const char *s) {
  size_t n = strlen(s);
  put1(&pk->b, 'X');
  put32(&pk->b, (uint32_t)n);
  qc_bytes_put(&pk->b, s, n);
}

static void p_int_tuple(pickler *pk, const int64_t *v, int32_t n) {
  if (n == 0) {
    put1(&pk->b, ')');
    return;
  }
  if (n > 3) put1(&pk->b, '(');
  for (int32_t i = 0; i < n; i++) p_int(pk, v[i]);
  put1(&pk->b, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
}

static void p_tensor(pickler *pk, const qc_tensor *t, const char *storage_class, const char *dtype_name, size_t key) {
  bool v3 = storage_class == NULL;
  p_global(pk, "torch._utils", v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2");
  put1(&pk->b, '(');
  /* the persistent id */
  put1(&pk->b, '(');
  p_str(pk, "storage");
  if (v3) p_global(pk, QC_TORCH_UNTYPED_MODULE, QC_TORCH_UNTYPED_NAME);
  else p_global(pk, "torch", storage_class);
  char k[24];
  snprintf(k, sizeof k, "%zu", key);
  p_str(pk, k);
  p_str(pk, "cpu");
  int64_t numel = qc_tensor_numel(t);
  p_int(pk, v3 ? (int64_t)qc_tensor_nbytes(t) : numel);
  put1(&pk->b, 't');
  put1(&pk->b, 'Q');
  p_int(pk, 0);
  /* torch counts float4_e2m1fn_x2 in qc_bytes of two values */
  int64_t dims[QC_MAX_RANK], strides[QC_MAX_RANK];
  memcpy(dims, t->dims, sizeof dims);
  if (t->dtype == QC_F4E2M1) dims[t->rank - 1] /= 2;
  int64_t acc = 1;
  for (int32_t d = t->rank - 1; d >= 0; d--) {
    strides[d] = acc;
    acc *= dims[d] ? dims[d] : 1;
  }
  p_int_tuple(pk, dims, t->rank);
  p_int_tuple(pk, strides, t->rank);
  put1(&pk->b, 0x89); /* requires_grad = False */
  p_global(pk, "collections", "OrderedDict");
  put1(&pk->b, ')');
  put1(&pk->b, 'R');
  if (v3) p_global(pk, "torch", dtype_name);
  put1(&pk->b, 't');
  put1(&pk->b, 'R');
}

/* ---- the zip ------------------------------------------------------------------------------------ */

typedef struct zent {
  char *name;
  uint32_t crc;
  uint64_t size, offset; /* offset of the local header */
} zent;

typedef struct zipw {
  qc_atomic_file *f;
  zent *ents;
  size_t n, cap;
  bool force64;
  qc_status s;
} zipw;

#define DOS_DATE 0x0021 /* 1980-01-01 */

static void z_write(zipw *z, const void *p, size_t n) {
  if (!z->s && n) z->s = qc_atomic_write(z->f, p, n);
}

static void z_entry(zipw *z, const char *name, const void *data, uint64_t size) {
  if (z->s) return;
  if (z->n == z->cap) {
    size_t nc = z->cap ? z->cap * 2 : 16;
    zent *e = realloc(z->ents, nc * sizeof *e);
    if (!e) {
      z->s = QC_OOM();
      return;
    }
    z->ents = e;
    z->cap = nc;
  }
  zent *e = &z->ents[z->n];
  e->name = strdup(name);
  if (!e->name) {
    z->s = QC_OOM();
    return;
  }
  z->n++;
  e->offset = qc_atomic_tell(z->f);
  e->size = size;
  uint32_t crc = 0;
  for (uint64_t done = 0; done < size;) {
    size_t k = size - done > (1u << 30) ? (1u << 30) : (size_t)(size - done);
    crc = qc_crc32(crc, (const uint8_t *)data + done, k);
    done += k;
  }
  e->crc = crc;
  bool z64 = z->force64 || size >= 0xFFFFFFFFu;
  size_t nlen = strlen(name);
  uint64_t base = e->offset + 30 + nlen + (z64 ? 20 : 0);
  uint64_t pad = (64 - base % 64) % 64;
  if (pad && pad < 4) pad += 64; /* an extra field needs 4 qc_bytes of header */
  qc_bytes h = {0};
  put32(&h, 0x04034b50);
  put16(&h, z64 ? 45 : 20);
  put16(&h, 0);
  put16(&h, 0); /* stored */
  put16(&h, 0);
  put16(&h, DOS_DATE);
  put32(&h, crc);
  put32(&h, z64 ? 0xFFFFFFFFu : (uint32_t)size);
  put32(&h, z64 ? 0xFFFFFFFFu : (uint32_t)size);
  put16(&h, (uint16_t)nlen);
  put16(&h, (uint16_t)((z64 ? 20 : 0) + pad));
  qc_bytes_put(&h, name, nlen);
  if (z64) {
    put16(&h, 1);
    put16(&h, 16);
    put64(&h, size);
    put64(&h, size);
  }
  if (pad) {
    put16(&h, 0x4246);
    put16(&h, (uint16_t)(pad - 4));
    for (uint64_t i = 4; i < pad; i++) put1(&h, 'Z');
  }
  if (h.oom) z->s = QC_OOM();
  z_write(z, h.p, h.n);
  free(h.p);
  z_write(z, data, (size_t)size);
}

static void z_finish(zipw *z) {
  if (z->s) return;
  uint64_t cd_off = qc_atomic_tell(z->f);
  qc_bytes c = {0};
  for (size_t i = 0; i < z->n; i++) {
    const zent *e = &z->ents[i];
    bool big_size = z->force64 || e->size >= 0xFFFFFFFFu, big_off = z->force64 || e->offset >= 0xFFFFFFFFu;
    uint16_t xlen = (uint16_t)((big_size || big_off) ? 4 + (big_size ? 16 : 0) + (big_off ? 8 : 0) : 0);
    size_t nlen = strlen(e->name);
    put32(&c, 0x02014b50);
    put16(&c, 45);
    put16(&c, (big_size || big_off) ? 45 : 20);
    put16(&c, 0);
    put16(&c, 0);
    put16(&c, 0);
    put16(&c, DOS_DATE);
    put32(&c, e->crc);
    put32(&c, big_size ? 0xFFFFFFFFu : (uint32_t)e->size);
    put32(&c, big_size ? 0xFFFFFFFFu : (uint32_t)e->size);
    put16(&c, (uint16_t)nlen);
    put16(&c, xlen);
    put16(&c, 0);
    put16(&c, 0);
    put16(&c, 0);
    put32(&c, 0);
    put32(&c, big_off ? 0xFFFFFFFFu : (uint32_t)e->offset);
    qc_bytes_put(&c, e->name, nlen);
    if (xlen) {
      put16(&c, 1);
      put16(&c, (uint16_t)(xlen - 4));
      if (big_size) {
        put64(&c, e->size);
        put64(&c, e->size);
      }
      if (big_off) put64(&c, e->offset);
    }
  }
  uint64_t cd_size = c.n;
  bool z64 = z->force64 || z->n >= 0xFFFF || cd_off >= 0xFFFFFFFFu || cd_size >= 0xFFFFFFFFu;
  if (z64) {
    uint64_t rec = cd_off + cd_size;
    put32(&c, 0x06064b50);
    put64(&c, 44);
    put16(&c, 45);
    put16(&c, 45);
    put32(&c, 0);
    put32(&c, 0);
    put64(&c, z->n);
    put64(&c, z->n);
    put64(&c, cd_size);
    put64(&c, cd_off);
    put32(&c, 0x07064b50);
    put32(&c, 0);
    put64(&c, rec);
    put32(&c, 1);
  }
  put32(&c, 0x06054b50);
  put16(&c, 0);
  put16(&c, 0);
  put16(&c, z64 ? 0xFFFF : (uint16_t)z->n);
  put16(&c, z64 ? 0xFFFF : (uint16_t)z->n);
  put32(&c, z64 ? 0xFFFFFFFFu : (uint32_t)cd_size);
  put32(&c, z64 ? 0xFFFFFFFFu : (uint32_t)cd_off);
  put16(&c, 0);
  if (c.oom) z->s = QC_OOM();
  z_write(z, c.p, c.n);
  free(c.p);
}

/* ---- the writer ---------------------------------------------------------------------------------- */

static qc_status write_pth(qc_atomic_dir *stage, const char *path, const char *const *names,
                           const qc_tensor *tensors, size_t n, const qc_pth_write_options *opt) {
  const char *arch = opt && opt->archive_name ? opt->archive_name : "archive";
  if (!*arch || strchr(arch, '/'))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: archive name '%s' must be one path component", path, arch);
  /* check everything before writing */
  qc_strmap seen;
  qc_strmap_init(&seen, qc_allocator_default());
  const char **classes = calloc(n ? n : 1, sizeof *classes), **dtypes = calloc(n ? n : 1, sizeof *dtypes);
  qc_status s = classes && dtypes ? QC_OK : QC_OOM();
  for (size_t i = 0; i < n && !s; i++) {
    const char *name = names[i];
    const qc_tensor *t = &tensors[i];
    if (!name || !qc_utf8_valid(name, strlen(name), NULL)) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor %zu: missing or non-UTF-8 name", path, i);
    } else if (qc_strmap_get(&seen, name) >= 0) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor '%s': duplicate name", path, name);
    } else if (!qc_strmap_put(&seen, name, (int32_t)i)) {
      s = QC_OOM();
    } else if (!qc_torch_names(t->dtype, &classes[i], &dtypes[i])) {
      s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: tensor '%s': dtype %s has no PyTorch equivalent", path, name,
                        qc_dtype_name(t->dtype));
    } else if (t->rank < 0 || t->rank > QC_MAX_RANK || qc_shape_numel(t->rank, t->dims) < 0) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor '%s': bad shape", path, name);
    } else if (t->dtype == QC_F4E2M1 && (t->rank == 0 || t->dims[t->rank - 1] % 2)) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                        "%s: tensor '%s': torch.float4_e2m1fn_x2 needs an even last dimension", path, name);
    } else {
      size_t nb = qc_tensor_nbytes(t);
      if (nb && (!t->buf || t->offset > qc_buffer_size(t->buf) || nb > qc_buffer_size(t->buf) - t->offset))
        s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: tensor '%s': has fewer than its %zu bytes", path, name, nb);
    }
  }
  qc_strmap_free(&seen);
  pickler pk = {0};
  if (!s) {
    put1(&pk.b, 0x80);
    put1(&pk.b, 2);
    p_global(&pk, "collections", "OrderedDict");
    put1(&pk.b, ')');
    put1(&pk.b, 'R');
    for (size_t i = 0; i < n; i++) {
      if (i % 1000 == 0) put1(&pk.b, '(');
      p_str(&pk, names[i]);
      p_tensor(&pk, &tensors[i], classes[i], dtypes[i], i);
      if (i % 1000 == 999 || i + 1 == n) put1(&pk.b, 'u');
    }
    put1(&pk.b, '.');
    if (pk.b.oom) s = QC_OOM();
  }
  zipw z = {0};
  z.force64 = opt && opt->force_zip64;
  if (!s) s = qc_atomic_open_in(stage, path, &z.f);
  if (!s) {
    char name[256];
    snprintf(name, sizeof name, "%s/data.pkl", arch);
    z_entry(&z, name, pk.b.p, pk.b.n);
    snprintf(name, sizeof name, "%s/.format_version", arch);
    z_entry(&z, name, "1", 1);
    snprintf(name, sizeof name, "%s/.storage_alignment", arch);
    z_entry(&z, name, "64", 2);
    snprintf(name, sizeof name, "%s/byteorder", arch);
    z_entry(&z, name, "little", 6);
    for (size_t i = 0; i < n; i++) {
      snprintf(name, sizeof name, "%s/data/%zu", arch, i);
      z_entry(&z, name, qc_tensor_data(&tensors[i]), qc_tensor_nbytes(&tensors[i]));
    }
    snprintf(name, sizeof name, "%s/version", arch);
    z_entry(&z, name, "3\n", 2);
    z_finish(&z);
    s = z.s;
    if (!s) s = qc_atomic_commit(z.f);
    else qc_atomic_abort(z.f);
  }
  for (size_t i = 0; i < z.n; i++) free(z.ents[i].name);
  free(z.ents);
  for (int i = 0; i < pk.n_memo; i++) free((void *)pk.memo_names[i]);
  free(pk.b.p);
  free(classes);
  free(dtypes);
  return s;
}

qc_status qc_pth_write_opts(const char *path, const char *const *names, const qc_tensor *tensors, size_t n,
                            const qc_pth_write_options *opt) {
  return write_pth(NULL, path, names, tensors, n, opt);
}

qc_status qc_pth_write_in(qc_atomic_dir *stage, const char *name, const char *const *names,
                          const qc_tensor *tensors, size_t n, const qc_pth_write_options *opt) {
  return write_pth(stage, name, names, tensors, n, opt);
}

qc_status qc_pth_write(const char *path, const char *const *names, const qc_tensor *tensors, size_t n) {
  return qc_pth_write_opts(path, names, tensors, n, NULL);
}
