/* Reference-counted buffers (owned memory, mapped files, slices), tensors, files read whole,
 * and the tensor layouts checkpoints use (transposes, int4 words). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef enum { BUF_OWNED, BUF_MAPPED, BUF_SLICE, BUF_WRAPPED } buf_kind;

struct qc_buffer {
  atomic_int refs;
  buf_kind kind;
  void *data;
  size_t size;
  qc_allocator alloc;        /* OWNED: a copy, so the buffer may outlive the caller's struct */
  void *raw;                 /* OWNED: unaligned block; MAPPED: mapping */
  size_t raw_size;
  qc_buffer *parent;         /* SLICE */
  char *path;                /* MAPPED */
  uint64_t file_offset;      /* MAPPED/SLICE: offset of data[0] in the file */
  void (*release_fn)(void *ctx, void *data);
  void *release_ctx;
  size_t n_strings;          /* owned char* elements to free */
};

static qc_buffer *buffer_new(buf_kind kind) {
  qc_buffer *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  atomic_init(&b->refs, 1);
  b->kind = kind;
  return b;
}

qc_status qc_buffer_create(const qc_allocator *a, size_t size, qc_buffer **out) {
  if (!a) a = qc_allocator_default();
  *out = NULL;
  if (size > SIZE_MAX - 64) return QC_OOM();
  qc_buffer *b = buffer_new(BUF_OWNED);
  if (!b) return QC_OOM();
  b->alloc = *a;
  b->raw_size = size + 64;
  b->raw = qc_alloc(a, b->raw_size);
  if (!b->raw) {
    free(b);
    return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory allocating %zu bytes", size);
  }
  uintptr_t p = ((uintptr_t)b->raw + 63) & ~(uintptr_t)63;
  b->data = (void *)p;
  b->size = size;
  memset(b->data, 0, size);
  *out = b;
  return QC_OK;
}

qc_status qc_buffer_map_file(const char *path, qc_buffer **out) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return qc_status_new(errno == ENOENT ? QC_CODE_NOT_FOUND : QC_CODE_IO, "%s: %s", path,
                                   strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return qc_status_new(QC_CODE_IO, "%s: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return qc_status_new(QC_CODE_IO, "%s: not a regular file", path);
  }
  qc_buffer *b = buffer_new(BUF_MAPPED);
  if (!b) {
    close(fd);
    return QC_OOM();
  }
  b->size = (size_t)st.st_size;
  if (b->size > 0) {
    void *m = mmap(NULL, b->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int e = errno;
      close(fd);
      free(b);
      return qc_status_new(QC_CODE_IO, "%s: mmap: %s", path, strerror(e));
    }
    b->raw = m;
    b->raw_size = b->size;
    b->data = m;
  } else {
    static char empty[1];
    b->data = empty;
  }
  close(fd);
  b->path = strdup(path);
  if (!b->path) {
    qc_buffer_release(b);
    return QC_OOM();
  }
  *out = b;
  return QC_OK;
}

qc_status qc_read_file(const char *path, char **text, size_t *len) {
  *text = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return qc_status_new(errno == ENOENT ? QC_CODE_NOT_FOUND : QC_CODE_IO, "%s: %s", path,
                               strerror(errno));
  char *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n + 65536 > cap) {
      size_t nc = cap ? cap * 2 : 65536;
      char *nb = realloc(buf, nc + 1);
      if (!nb) {
        free(buf);
        fclose(f);
        return QC_OOM();
      }
      buf = nb;
      cap = nc;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  bool err = ferror(f);
  fclose(f);
  if (err) {
    free(buf);
    return qc_status_new(QC_CODE_IO, "%s: cannot read", path);
  }
  buf[n] = 0;
  *text = buf;
  *len = n;
  return QC_OK;
}

qc_buffer *qc_buffer_slice(qc_buffer *parent, size_t offset, size_t size) {
  if (!parent || offset > parent->size || size > parent->size - offset) return NULL;
  qc_buffer *b = buffer_new(BUF_SLICE);
  if (!b) return NULL;
  qc_buffer_retain(parent);
  b->parent = parent;
  b->data = (char *)parent->data + offset;
  b->size = size;
  b->file_offset = parent->file_offset + offset;
  return b;
}

qc_buffer *qc_buffer_wrap(void *data, size_t size, void (*release)(void *ctx, void *data),
                          void *ctx) {
  qc_buffer *b = buffer_new(BUF_WRAPPED);
  if (!b) return NULL;
  b->data = data;
  b->size = size;
  b->release_fn = release;
  b->release_ctx = ctx;
  return b;
}

void qc_buffer_retain(qc_buffer *b) {
  if (b) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void qc_buffer_release(qc_buffer *b) {
  if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1) return;
  if (b->n_strings) {
    char **s = b->data;
    for (size_t i = 0; i < b->n_strings; i++) free(s[i]);
  }
  switch (b->kind) {
  case BUF_OWNED: qc_free(&b->alloc, b->raw, b->raw_size); break;
  case BUF_MAPPED:
    if (b->raw) munmap(b->raw, b->raw_size);
    break;
  case BUF_SLICE: qc_buffer_release(b->parent); break;
  case BUF_WRAPPED:
    if (b->release_fn) b->release_fn(b->release_ctx, b->data);
    break;
  }
  free(b->path);
  free(b);
}

void *qc_buffer_data(const qc_buffer *b) { return b ? b->data : NULL; }
size_t qc_buffer_size(const qc_buffer *b) { return b ? b->size : 0; }

bool qc_buffer_origin(const qc_buffer *b, const char **path, uint64_t *offset) {
  const qc_buffer *root = b;
  while (root && root->kind == BUF_SLICE) root = root->parent;
  if (!root || root->kind != BUF_MAPPED) return false;
  if (path) *path = root->path;
  if (offset) *offset = b->file_offset;
  return true;
}

bool qc_buffer_writable(const qc_buffer *b) {
  while (b && b->kind == BUF_SLICE) b = b->parent;
  return b && (b->kind == BUF_OWNED || b->kind == BUF_WRAPPED);
}

void qc_buffer_set_owns_strings(qc_buffer *b, size_t n) { b->n_strings = n; }

/* ---- tensors --------------------------------------------------------------------------------- */

void qc_tensor_init(qc_tensor *t, qc_dtype dt, int32_t rank, const int64_t *dims, qc_buffer *buf,
                    size_t offset) {
  memset(t, 0, sizeof *t);
  t->dtype = dt;
  t->rank = rank;
  for (int32_t i = 0; i < rank && i < QC_MAX_RANK; i++) t->dims[i] = dims[i];
  t->buf = buf;
  t->offset = offset;
  qc_buffer_retain(buf);
}

qc_status qc_tensor_alloc(qc_tensor *t, const qc_allocator *a, qc_dtype dt, int32_t rank,
                          const int64_t *dims) {
  memset(t, 0, sizeof *t);
  if (rank < 0 || rank > QC_MAX_RANK)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "rank %d out of range", rank);
  int64_t n = qc_shape_numel(rank, dims);
  if (n < 0) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "invalid or overflowing shape");
  size_t bytes = qc_dtype_nbytes(dt, (uint64_t)n);
  if (bytes == SIZE_MAX) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "tensor too large");
  qc_buffer *b;
  QC_RETURN_IF_ERROR(qc_buffer_create(a, bytes, &b));
  qc_tensor_init(t, dt, rank, dims, b, 0);
  qc_buffer_release(b);
  if (dt == QC_STRING) qc_buffer_set_owns_strings(b, (size_t)n);
  return QC_OK;
}

void qc_tensor_copy_ref(qc_tensor *dst, const qc_tensor *src) {
  *dst = *src;
  qc_buffer_retain(dst->buf);
}

void qc_tensor_release(qc_tensor *t) {
  qc_buffer_release(t->buf);
  memset(t, 0, sizeof *t);
}

int64_t qc_shape_numel(int32_t rank, const int64_t *dims) {
  int64_t n = 1;
  for (int32_t i = 0; i < rank; i++) {
    if (dims[i] < 0) return -1;
    if (dims[i] && n > INT64_MAX / dims[i]) return -1;
    n *= dims[i];
  }
  return n;
}

int64_t qc_tensor_numel(const qc_tensor *t) {
  int64_t n = qc_shape_numel(t->rank, t->dims);
  return n < 0 ? INT64_MAX : n;
}

size_t qc_tensor_nbytes(const qc_tensor *t) {
  int64_t n = qc_shape_numel(t->rank, t->dims);
  return n < 0 ? SIZE_MAX : qc_dtype_nbytes(t->dtype, (uint64_t)n);
}

bool qc_tensor_equal(const qc_tensor *a, const qc_tensor *b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int32_t i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  size_t n = qc_tensor_nbytes(a);
  if (n == SIZE_MAX) return false;
  const void *pa = qc_tensor_data(a), *pb = qc_tensor_data(b);
  if (a->dtype == QC_STRING) {
    const char *const *sa = pa, *const *sb = pb;
    size_t cnt = (size_t)qc_tensor_numel(a);
    for (size_t i = 0; i < cnt; i++) {
      const char *x = sa[i] ? sa[i] : "", *y = sb[i] ? sb[i] : "";
      if (strcmp(x, y) != 0) return false;
    }
    return true;
  }
  if (n == 0) return true;
  if (!pa || !pb) return pa == pb;
  return memcmp(pa, pb, n) == 0;
}

qc_status qc_tensor_transpose2d(const qc_tensor *src, qc_tensor *out) {
  if (src->rank != 2 || qc_dtype_is_block(src->dtype))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "cannot transpose a %s tensor of rank %d",
                         qc_dtype_name(src->dtype), src->rank);
  int64_t r = src->dims[0], c = src->dims[1];
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, src->dtype, 2, (int64_t[]){c, r}));
  const void *sp = qc_tensor_data(src);
  void *dp = qc_tensor_data(out);
  size_t bits = qc_dtype_traits_of(src->dtype)->bits;
  if (bits % 8 == 0) {
    size_t es = bits / 8;
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++)
        memcpy((char *)dp + (size_t)(j * r + i) * es, (const char *)sp + (size_t)(i * c + j) * es, es);
  } else {
    for (int64_t i = 0; i < r; i++)
      for (int64_t j = 0; j < c; j++)
        qc_elem_set_code(src->dtype, dp, (size_t)(j * r + i), qc_elem_code(src->dtype, sp, (size_t)(i * c + j)));
  }
  return QC_OK;
}

qc_status qc_tensor_pack_int4(const qc_tensor *codes, bool reorder, qc_tensor *out) {
  if ((codes->dtype != QC_I4 && codes->dtype != QC_U4) || codes->rank < 1 || codes->rank > 2)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "cannot pack a %s tensor of rank %d as int4",
                         qc_dtype_name(codes->dtype), codes->rank);
  int64_t rows = codes->rank == 2 ? codes->dims[0] : 1, n = codes->dims[codes->rank - 1];
  int64_t w = (n + 7) / 8;
  int64_t dims[2] = {rows, w};
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, QC_I32, codes->rank, codes->rank == 2 ? dims : &w));
  uint8_t *row = malloc((size_t)(n ? n : 1));
  if (!row) {
    qc_tensor_release(out);
    return QC_OOM();
  }
  const void *cp = qc_tensor_data(codes);
  uint32_t *wp = qc_tensor_data(out);
  for (int64_t i = 0; i < rows; i++) {
    for (int64_t j = 0; j < n; j++) row[j] = (uint8_t)(qc_elem_code(codes->dtype, cp, (size_t)(i * n + j)) & 15);
    qc_pack_int4_words(row, (size_t)n, reorder, wp + i * w);
  }
  free(row);
  return QC_OK;
}

qc_status qc_tensor_unpack_int4(const qc_tensor *words, int64_t n, bool reorder, qc_dtype dt,
                                qc_tensor *out) {
  if (words->dtype != QC_I32 && words->dtype != QC_U32)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "packed int4 words must be int32, not %s",
                         qc_dtype_name(words->dtype));
  if (words->rank < 1 || words->rank > 2)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "packed int4 words of rank %d", words->rank);
  int64_t rows = words->rank == 2 ? words->dims[0] : 1, w = words->dims[words->rank - 1];
  if ((n + 7) / 8 != w)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%lld int32 words cannot hold %lld int4 values",
                         (long long)w, (long long)n);
  int64_t dims[2] = {rows, n};
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, dt, words->rank, words->rank == 2 ? dims : &n));
  uint8_t *row = malloc(w > 0 ? (size_t)w * 8 : 1u);
  if (!row) {
    qc_tensor_release(out);
    return QC_OOM();
  }
  const uint32_t *wp = qc_tensor_data(words);
  void *op = qc_tensor_data(out);
  for (int64_t i = 0; i < rows; i++) {
    qc_unpack_int4_words(wp + i * w, (size_t)n, reorder, row);
    for (int64_t j = 0; j < n; j++) qc_elem_set_code(dt, op, (size_t)(i * n + j), row[j] & 15);
  }
  free(row);
  return QC_OK;
}

qc_status qc_tensor_convert(const qc_allocator *a, const qc_tensor *src, qc_dtype dt, qc_tensor *out) {
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, a, dt, src->rank, src->dims));
  int64_t n = qc_tensor_numel(src);
  const void *sp = qc_tensor_data(src);
  void *dp = qc_tensor_data(out);
  if (qc_dtype_is_int(src->dtype) && qc_dtype_is_int(dt)) {
    for (int64_t i = 0; i < n; i++) qc_elem_set_i64(dt, dp, (size_t)i, qc_elem_i64(src->dtype, sp, (size_t)i));
  } else {
    qc_convert(src->dtype, sp, dt, dp, (size_t)n, 0);
  }
  return QC_OK;
}
