/*
 * ONNX TensorProto and SparseTensorProto -> qc_tensor, and the guarded protobuf decoder
 * that every ONNX file goes through.
 *
 * Where a TensorProto keeps its elements (formats.md §1.1, "Data-storage rules"):
 *
 *   1. data_location = EXTERNAL (14): external_data (13) holds key/value pairs
 *      `location` (required; a relative path under the model's directory), `offset` and
 *      `length` (decimal, optional), `checksum` (ignored). The bytes have the raw_data
 *      layout. quarc maps the file once and slices it: nothing is copied unless the
 *      offset is misaligned for the element type.
 *   2. raw_data (9): fixed-width little-endian elements; BOOL one byte each; 4-bit types
 *      two per byte, low nibble first; 2-bit types four per byte, LSB first. This is
 *      quarc's in-memory layout, so the bytes are taken over as they are.
 *   3. typed fields, by data type:
 *        float_data (4)   FLOAT, COMPLEX64 (re, im interleaved)
 *        int32_data (5)   INT32/16/8, UINT16/8, BOOL, FLOAT16, BFLOAT16, FLOAT8*, E8M0:
 *                         one element per entry (bit patterns for the float types);
 *                         INT4/UINT4/FLOAT4E2M1: one packed byte (2 elements) per entry;
 *                         INT2/UINT2: one packed byte (4 elements) per entry
 *        string_data (6)  STRING
 *        int64_data (7)   INT64
 *        double_data (10) DOUBLE, COMPLEX128
 *        uint64_data (11) UINT32, UINT64
 */
#include "frontend/onnx_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- the guarded decoder ----------------------------------------------------------------- */

static bool read_varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (*pos >= end) return false;
    uint8_t b = p[(*pos)++];
    if (shift == 63 && (b & 0x7e)) return false;
    r |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return true;
    }
  }
  return false;
}

qc_status qc_onnx_unpack(const ProtobufCMessageDescriptor *desc, const void *data, size_t size,
                         const char *file, ProtobufCMessage **out) {
  *out = NULL;
  const uint8_t *p = data;
  struct {
    const ProtobufCMessageDescriptor *d;
    size_t end;
  } stack[QC_ONNX_MAX_DEPTH + 1];
  int sp = 0;
  stack[sp].d = desc;
  stack[sp].end = size;
  sp++;
  size_t pos = 0;
  while (sp > 0) {
    if (pos == stack[sp - 1].end) {
      sp--;
      continue;
    }
    size_t at = pos;
    uint64_t key, v;
    if (!read_varint(p, stack[sp - 1].end, &pos, &key))
      return qc_status_new(QC_CODE_PARSE, "%s: malformed protobuf: bad field tag at byte %zu "
                                          "(truncated or not an ONNX file)", file, at);
    uint32_t wire = (uint32_t)(key & 7);
    uint64_t field = key >> 3;
    if (field == 0 || field > 536870911u)
      return qc_status_new(QC_CODE_PARSE, "%s: malformed protobuf: field number %llu at byte %zu",
                           file, (unsigned long long)field, at);
    size_t end = stack[sp - 1].end;
    switch (wire) {
    case 0:
      if (!read_varint(p, end, &pos, &v))
        return qc_status_new(QC_CODE_PARSE, "%s: malformed protobuf: truncated varint at byte %zu",
                             file, at);
      break;
    case 1:
    case 5: {
      size_t w = wire == 1 ? 8 : 4;
      if (end - pos < w)
        return qc_status_new(QC_CODE_PARSE, "%s: malformed protobuf: truncated field at byte %zu",
                             file, at);
      pos += w;
      break;
    }
    case 2: {
      if (!read_varint(p, end, &pos, &v) || v > end - pos)
        return qc_status_new(QC_CODE_PARSE,
                             "%s: malformed protobuf: length-delimited field %llu at byte %zu "
                             "runs past the end of its message (truncated file?)",
                             file, (unsigned long long)field, at);
      const ProtobufCFieldDescriptor *fd =
          protobuf_c_message_descriptor_get_field(stack[sp - 1].d, (unsigned)field);
      if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (sp > QC_ONNX_MAX_DEPTH)
          return qc_status_new(QC_CODE_PARSE, "%s: messages nested deeper than %d levels at byte %zu",
                               file, QC_ONNX_MAX_DEPTH, at);
        stack[sp].d = fd->descriptor;
        stack[sp].end = pos + (size_t)v;
        sp++;
      } else {
        pos += (size_t)v;
      }
      break;
    }
    default:
      return qc_status_new(QC_CODE_PARSE, "%s: malformed protobuf: wire type %u at byte %zu", file,
                           wire, at);
    }
  }
  ProtobufCMessage *m = protobuf_c_message_unpack(desc, NULL, size, p);
  if (!m)
    return qc_status_new(QC_CODE_PARSE, "%s: malformed protobuf: not a valid %s", file,
                         desc->name);
  *out = m;
  return QC_OK;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static void dims_str(const qc_tensor *t, char *buf, size_t n) {
  int o = snprintf(buf, n, "[");
  for (int32_t i = 0; i < t->rank && (size_t)o < n - 24; i++)
    o += snprintf(buf + o, n - (size_t)o, "%s%lld", i ? "," : "", (long long)t->dims[i]);
  snprintf(buf + o, n - (size_t)o, "]");
}

static qc_status count_error(const char *what, const char *field, size_t got, size_t need,
                             const qc_tensor *t) {
  char d[160];
  dims_str(t, d, sizeof d);
  return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: %s has %zu %s, but dims %s of %s need %zu",
                       what, field, got, strcmp(field, "raw_data") == 0 || strcmp(field, "external data") == 0 ? "bytes" : "values", d,
                       qc_dtype_name(t->dtype), need);
}

static void free_ctx(void *ctx, void *data) {
  (void)ctx;
  free(data);
}

/* ---- external data --------------------------------------------------------------------------- */

void qc_onnx_extdata_free(qc_onnx_extdata *x) {
  if (!x) return;
  for (int32_t i = 0; i < x->n; i++) {
    free(x->files[i].path);
    qc_buffer_release(x->files[i].buf);
  }
  free(x->files);
  free(x->real_base);
  x->files = NULL;
  x->real_base = NULL;
  x->n = x->cap = 0;
}

static bool parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s) return false;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *out = v;
  return true;
}

/* Whether a relative path climbs above its starting directory ("a/../../b"). */
static bool path_escapes(const char *loc) {
  int depth = 0;
  const char *p = loc;
  while (*p) {
    const char *e = strchr(p, '/');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == 2 && p[0] == '.' && p[1] == '.') {
      if (--depth < 0) return true;
    } else if (!(n == 0 || (n == 1 && p[0] == '.'))) {
      depth++;
    }
    if (!e) break;
    p = e + 1;
  }
  return false;
}

static qc_status ext_open(qc_onnx_extdata *x, const char *loc, const char *what, qc_buffer **out) {
  if (!x || !x->base_dir)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: external data '%s' cannot be resolved (the model was not read "
                         "from a file)", what, loc);
  if (!*loc) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: external data has an empty location", what);
  if (loc[0] == '/' || path_escapes(loc))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: external data location '%s' is outside the model's directory", what,
                         loc);
  if (!x->real_base) {
    x->real_base = realpath(x->base_dir, NULL);
    if (!x->real_base)
      return qc_status_new(QC_CODE_IO, "%s: cannot resolve the model directory '%s': %s", what,
                           x->base_dir, strerror(errno));
  }
  size_t n = strlen(x->base_dir) + strlen(loc) + 2;
  char *full = malloc(n);
  if (!full) return QC_OOM();
  snprintf(full, n, "%s/%s", x->base_dir, loc);
  char *real = realpath(full, NULL);
  int err = errno;
  free(full);
  if (!real)
    return qc_status_new(err == ENOENT ? QC_CODE_NOT_FOUND : QC_CODE_IO,
                         "%s: external data file '%s' %s", what, loc,
                         err == ENOENT ? "does not exist" : strerror(err));
  size_t bl = strlen(x->real_base);
  bool inside = strncmp(real, x->real_base, bl) == 0 &&
                (real[bl] == '/' || (bl == 1 && x->real_base[0] == '/'));
  if (!inside) {
    free(real);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: external data location '%s' resolves outside the model's directory",
                         what, loc);
  }
  for (int32_t i = 0; i < x->n; i++)
    if (strcmp(x->files[i].path, real) == 0) {
      free(real);
      *out = x->files[i].buf;
      return QC_OK;
    }
  qc_buffer *b;
  qc_status s = qc_buffer_map_file(real, &b);
  if (s) {
    free(real);
    return qc_status_wrap(s, "%s: external data '%s'", what, loc);
  }
  if (x->n == x->cap) {
    int32_t nc = x->cap ? x->cap * 2 : 4;
    void *p = realloc(x->files, sizeof *x->files * (size_t)nc);
    if (!p) {
      free(real);
      qc_buffer_release(b);
      return QC_OOM();
    }
    x->files = p;
    x->cap = nc;
  }
  x->files[x->n].path = real;
  x->files[x->n].buf = b;
  x->n++;
  *out = b;
  return QC_OK;
}

static qc_status decode_external(Onnx__TensorProto *tp, qc_onnx_extdata *x, const char *what,
                                 qc_tensor *t, size_t nbytes) {
  if (t->dtype == QC_STRING)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: string tensors cannot use external data",
                         what);
  const char *loc = NULL;
  uint64_t off = 0, len = 0;
  bool has_len = false;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const char *k = tp->external_data[i]->key ? tp->external_data[i]->key : "";
    const char *v = tp->external_data[i]->value ? tp->external_data[i]->value : "";
    if (strcmp(k, "location") == 0) loc = v;
    else if (strcmp(k, "offset") == 0) {
      if (!parse_u64(v, &off))
        return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: external data offset '%s' is not a number",
                             what, v);
    } else if (strcmp(k, "length") == 0) {
      if (!parse_u64(v, &len))
        return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: external data length '%s' is not a number",
                             what, v);
      has_len = true;
    }
  }
  if (!loc)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: external data without a 'location'", what);
  qc_buffer *file = NULL;
  QC_RETURN_IF_ERROR(ext_open(x, loc, what, &file));
  uint64_t fsize = qc_buffer_size(file);
  if (off > fsize)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: external data offset %llu is past the end of '%s' (%llu bytes)", what,
                         (unsigned long long)off, loc, (unsigned long long)fsize);
  if (!has_len) len = fsize - off;
  if (len > fsize - off)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: external data offset %llu + length %llu is past the end of '%s' "
                         "(%llu bytes)",
                         what, (unsigned long long)off, (unsigned long long)len, loc,
                         (unsigned long long)fsize);
  if (len != nbytes) return count_error(what, "external data", (size_t)len, nbytes, t);
  size_t esize = qc_dtype_traits_of(t->dtype)->bits / 8;
  size_t align = esize >= 8 ? 8 : esize ? esize : 1;
  const char *base = (const char *)qc_buffer_data(file) + off;
  if (nbytes && ((uintptr_t)base % align) != 0) {
    /* Kernels load elements with aligned accesses; copy the rare misaligned tensor. */
    qc_buffer *b;
    QC_RETURN_IF_ERROR(qc_buffer_create(NULL, nbytes, &b));
    memcpy(qc_buffer_data(b), base, nbytes);
    t->buf = b;
    return QC_OK;
  }
  qc_buffer *slice = qc_buffer_slice(file, (size_t)off, (size_t)len);
  if (!slice) return QC_OOM();
  t->buf = slice;
  return QC_OK;
}

/* ---- TensorProto ------------------------------------------------------------------------ */

qc_status qc_onnx_tensor_decode(Onnx__TensorProto *tp, qc_onnx_extdata *x, const char *what,
                                bool take, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  if (!tp->has_data_type || tp->data_type == 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: data_type is not set", what);
  qc_dtype dt = qc_dtype_from_onnx(tp->data_type);
  if (dt == QC_DT_UNDEFINED)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: unknown data_type %d", what, tp->data_type);
  if (tp->n_dims > QC_MAX_RANK)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: rank %zu exceeds quarc's limit of %d", what,
                         tp->n_dims, QC_MAX_RANK);
  qc_tensor t;
  memset(&t, 0, sizeof t);
  t.dtype = dt;
  t.rank = (int32_t)tp->n_dims;
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: negative dimension %lld", what,
                           (long long)tp->dims[i]);
    t.dims[i] = tp->dims[i];
  }
  int64_t numel = qc_shape_numel(t.rank, t.dims);
  size_t nbytes = numel < 0 ? SIZE_MAX : qc_dtype_nbytes(dt, (uint64_t)numel);
  if (numel < 0 || nbytes == SIZE_MAX)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: the shape is too large", what);
  if (tp->segment)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: segmented tensors are not supported", what);
  const qc_dtype_traits *tr = qc_dtype_traits_of(dt);

  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    QC_RETURN_IF_ERROR(decode_external(tp, x, what, &t, nbytes));
    *out = t;
    return QC_OK;
  }
  if (tp->has_raw_data && (tp->raw_data.len > 0 || nbytes == 0)) {
    if (dt == QC_STRING)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: string tensors cannot use raw_data", what);
    if (tp->raw_data.len != nbytes) return count_error(what, "raw_data", tp->raw_data.len, nbytes, &t);
    if (nbytes == 0 || !take) {
      QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, dt, t.rank, t.dims));
      if (nbytes) memcpy(qc_tensor_data(out), tp->raw_data.data, nbytes);
      return QC_OK;
    }
    /* Take the bytes protobuf-c allocated (malloc) instead of copying them. */
    qc_buffer *b = qc_buffer_wrap(tp->raw_data.data, nbytes, free_ctx, NULL);
    if (!b) return QC_OOM();
    tp->raw_data.data = NULL;
    tp->raw_data.len = 0;
    t.buf = b;
    *out = t;
    return QC_OK;
  }

  /* Typed fields. Check the count against the shape before allocating. */
  size_t n = (size_t)numel;
  const char *field = NULL;
  size_t have = 0, need = n;
  switch (dt) {
  case QC_F32: field = "float_data"; have = tp->n_float_data; break;
  case QC_C64: field = "float_data"; have = tp->n_float_data; need = 2 * n; break;
  case QC_F64: field = "double_data"; have = tp->n_double_data; break;
  case QC_C128: field = "double_data"; have = tp->n_double_data; need = 2 * n; break;
  case QC_I64: field = "int64_data"; have = tp->n_int64_data; break;
  case QC_U32:
  case QC_U64: field = "uint64_data"; have = tp->n_uint64_data; break;
  case QC_STRING: field = "string_data"; have = tp->n_string_data; break;
  default:
    field = "int32_data";
    have = tp->n_int32_data;
    if (tr->bits < 8) need = nbytes; /* one packed byte per entry */
    break;
  }
  if (have != need) {
    if (have == 0 && need > 0 && tp->n_float_data + tp->n_double_data + tp->n_int64_data +
                                         tp->n_uint64_data + tp->n_int32_data +
                                         tp->n_string_data == 0)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: no data (%zu elements expected)", what, n);
    return count_error(what, field, have, need, &t);
  }
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, dt, t.rank, t.dims));
  if (need == 0) return QC_OK;
  void *d = qc_tensor_data(out);
  if (need == 0 && n == 0) return QC_OK; /* empty: the typed field may be NULL */
  switch (dt) {
  case QC_F32:
  case QC_C64: memcpy(d, tp->float_data, sizeof(float) * need); break;
  case QC_F64:
  case QC_C128: memcpy(d, tp->double_data, sizeof(double) * need); break;
  case QC_I64: memcpy(d, tp->int64_data, sizeof(int64_t) * n); break;
  case QC_U64: memcpy(d, tp->uint64_data, sizeof(uint64_t) * n); break;
  case QC_U32:
    for (size_t i = 0; i < n; i++) ((uint32_t *)d)[i] = (uint32_t)tp->uint64_data[i];
    break;
  case QC_STRING: {
    char **s = d;
    for (size_t i = 0; i < n; i++) {
      s[i] = malloc(tp->string_data[i].len + 1);
      if (!s[i]) {
        qc_tensor_release(out);
        return QC_OOM();
      }
      if (tp->string_data[i].len) memcpy(s[i], tp->string_data[i].data, tp->string_data[i].len);
      s[i][tp->string_data[i].len] = 0;
    }
    break;
  }
  default:
    if (tr->bits < 8) {
      uint8_t *b = d;
      for (size_t i = 0; i < need; i++) b[i] = (uint8_t)tp->int32_data[i];
    } else {
      for (size_t i = 0; i < n; i++) qc_elem_set_code(dt, d, i, (uint32_t)tp->int32_data[i]);
    }
    break;
  }
  return QC_OK;
}

/* ---- SparseTensorProto ------------------------------------------------------------------ */

qc_status qc_onnx_sparse_decode(Onnx__SparseTensorProto *sp, qc_onnx_extdata *x, const char *what,
                                qc_tensor *out) {
  memset(out, 0, sizeof *out);
  if (!sp->values || !sp->indices)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: sparse tensor without values or indices",
                         what);
  if (sp->n_dims > QC_MAX_RANK)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: rank %zu exceeds quarc's limit of %d", what,
                         sp->n_dims, QC_MAX_RANK);
  qc_tensor vals, idx;
  QC_RETURN_IF_ERROR(qc_onnx_tensor_decode(sp->values, x, what, false, &vals));
  qc_status s = qc_onnx_tensor_decode(sp->indices, x, what, false, &idx);
  if (s) {
    qc_tensor_release(&vals);
    return s;
  }
  int64_t dims[QC_MAX_RANK];
  int32_t rank = (int32_t)sp->n_dims;
  for (int32_t i = 0; i < rank; i++) dims[i] = sp->dims[i];
  int64_t numel = qc_shape_numel(rank, dims);
  int64_t nnz = vals.rank == 1 ? vals.dims[0] : -1;
  const qc_dtype_traits *tr = qc_dtype_traits_of(vals.dtype);
  if (numel < 0) s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: invalid sparse shape", what);
  else if (nnz < 0)
    s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: sparse values must be 1-D", what);
  else if (idx.dtype != QC_I64)
    s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: sparse indices must be int64", what);
  else if (!((idx.rank == 1 && idx.dims[0] == nnz) ||
             (idx.rank == 2 && idx.dims[0] == nnz && idx.dims[1] == rank)))
    s = qc_status_new(QC_CODE_INVALID_ARGUMENT,
                      "%s: sparse indices must have shape [%lld] or [%lld,%d]", what,
                      (long long)nnz, (long long)nnz, rank);
  else if (vals.dtype == QC_STRING || tr->kind == QC_KIND_BLOCK)
    s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: sparse %s tensors are not supported", what,
                      tr->name);
  else if (qc_dtype_nbytes(vals.dtype, (uint64_t)numel) > ((size_t)1 << 32))
    s = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: the dense form of this sparse tensor exceeds 4 GiB",
                      what);
  if (!s) s = qc_tensor_alloc(out, NULL, vals.dtype, rank, dims);
  const int64_t *ix = s ? NULL : qc_tensor_data(&idx);
  for (int64_t k = 0; !s && k < nnz; k++) {
    int64_t lin = 0;
    if (idx.rank == 1) {
      lin = ix[k];
    } else {
      for (int32_t a = 0; a < rank; a++) {
        int64_t c = ix[k * rank + a];
        if (c < 0 || c >= dims[a]) {
          lin = -1;
          break;
        }
        lin = lin * dims[a] + c;
      }
    }
    if (lin < 0 || lin >= numel) {
      s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: sparse index %lld is out of range", what,
                        (long long)k);
      break;
    }
    if (tr->bits >= 8) {
      size_t es = tr->bits / 8;
      memcpy((char *)qc_tensor_data(out) + (size_t)lin * es,
             (const char *)qc_tensor_data(&vals) + (size_t)k * es, es);
    } else {
      qc_elem_set_code(vals.dtype, qc_tensor_data(out), (size_t)lin,
                       qc_elem_code(vals.dtype, qc_tensor_data(&vals), (size_t)k));
    }
  }
  if (s) qc_tensor_release(out);
  qc_tensor_release(&vals);
  qc_tensor_release(&idx);
  return s;
}
