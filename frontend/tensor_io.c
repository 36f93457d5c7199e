/*
 * Reading values from files: ONNX .pb messages and NumPy .npy.
 *
 * .pb: one serialized TensorProto, SequenceProto or OptionalProto (field numbers in
 * frontend/onnx.proto); tensors are decoded by qc_onnx_tensor_decode, so every storage
 * form of the model reader is accepted here too (external data is not: a data file has
 * no model directory).
 *
 * .npy (NumPy format 1.0, 2.0, 3.0):
 *   1. magic "\x93NUMPY" (6 bytes), major version (1 byte), minor version (1 byte)
 *   2. header length HLEN: uint16 little-endian (1.0) or uint32 (2.0, 3.0)
 *   3. HLEN bytes of header: a Python dict literal with keys 'descr' (a type string such
 *      as '<f4'), 'fortran_order' (True/False) and 'shape' (a tuple), padded with spaces
 *      and ended by '\n'; 3.0 allows UTF-8 in it
 *   4. the elements, C order unless fortran_order
 */
#include "frontend/onnx_internal.h"
#include "quarc/tensor_io.h"

#include <stdio.h>
#include <stdlib.h>

void qc_data_value_release(qc_data_value *v) {
  if (!v) return;
  qc_tensor_release(&v->tensor);
  for (int32_t i = 0; i < v->n_items; i++) qc_tensor_release(&v->items[i]);
  free(v->items);
  free(v->name);
  memset(v, 0, sizeof *v);
}

/* ---- .pb ---------------------------------------------------------------------------------- */

static qc_status decode_sequence(Onnx__SequenceProto *sp, const char *what, qc_data_value *out) {
  if (sp->n_sequence_values || sp->n_map_values || sp->n_optional_values ||
      sp->n_sparse_tensor_values)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: only sequences of tensors are supported", what);
  out->items = calloc(sp->n_tensor_values + 1, sizeof(qc_tensor));
  if (!out->items) return QC_OOM();
  for (size_t i = 0; i < sp->n_tensor_values; i++) {
    char w[300];
    snprintf(w, sizeof w, "%s: item %zu", what, i);
    QC_RETURN_IF_ERROR(qc_onnx_tensor_decode(sp->tensor_values[i], NULL, w, true, &out->items[i]));
    out->n_items = (int32_t)i + 1;
    if (i == 0) out->elem = out->items[0].dtype;
    else if (out->items[i].dtype != out->elem)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: items of different types (%s and %s)",
                           what, qc_dtype_name(out->elem), qc_dtype_name(out->items[i].dtype));
  }
  return QC_OK;
}

static qc_status decode_value(ProtobufCMessage *msg, const char *what, int kind,
                              qc_data_value *out) {
  out->kind = (uint8_t)kind;
  out->present = true;
  const char *nm = NULL;
  qc_status s = QC_OK;
  switch (kind) {
  case QC_TYPE_TENSOR: {
    Onnx__TensorProto *tp = (Onnx__TensorProto *)msg;
    nm = tp->name;
    s = qc_onnx_tensor_decode(tp, NULL, what, true, &out->tensor);
    out->elem = out->tensor.dtype;
    break;
  }
  case QC_TYPE_SEQUENCE: {
    Onnx__SequenceProto *sp = (Onnx__SequenceProto *)msg;
    nm = sp->name;
    s = decode_sequence(sp, what, out);
    break;
  }
  case QC_TYPE_OPTIONAL:
  case QC_TYPE_OPTIONAL_SEQUENCE: {
    Onnx__OptionalProto *op = (Onnx__OptionalProto *)msg;
    nm = op->name;
    if (op->tensor_value) {
      if (kind != QC_TYPE_OPTIONAL)
        return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                             "%s: holds a tensor where an optional sequence is expected", what);
      s = qc_onnx_tensor_decode(op->tensor_value, NULL, what, true, &out->tensor);
      out->elem = out->tensor.dtype;
    } else if (op->sequence_value) {
      if (kind != QC_TYPE_OPTIONAL_SEQUENCE)
        return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                             "%s: holds a sequence where an optional tensor is expected", what);
      s = decode_sequence(op->sequence_value, what, out);
    } else if (op->sparse_tensor_value || op->map_value || op->optional_value) {
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: unsupported optional contents", what);
    } else {
      out->present = false;
    }
    break;
  }
  default: return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: bad value kind %d", what, kind);
  }
  if (!s && nm) {
    out->name = strdup(nm);
    if (!out->name) s = QC_OOM();
  }
  return s;
}

qc_status qc_value_parse_pb(const void *data, size_t size, const char *name, int kind,
                            qc_data_value *out) {
  memset(out, 0, sizeof *out);
  const ProtobufCMessageDescriptor *d;
  switch (kind) {
  case QC_TYPE_TENSOR: d = &onnx__tensor_proto__descriptor; break;
  case QC_TYPE_SEQUENCE: d = &onnx__sequence_proto__descriptor; break;
  case QC_TYPE_OPTIONAL:
  case QC_TYPE_OPTIONAL_SEQUENCE: d = &onnx__optional_proto__descriptor; break;
  default: return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: bad value kind %d", name, kind);
  }
  ProtobufCMessage *msg;
  QC_RETURN_IF_ERROR(qc_onnx_unpack(d, data, size, name, &msg));
  qc_status s = decode_value(msg, name, kind, out);
  protobuf_c_message_free_unpacked(msg, NULL);
  if (s) qc_data_value_release(out);
  return s;
}

qc_status qc_value_read_pb(const char *path, int kind, qc_data_value *out) {
  memset(out, 0, sizeof *out);
  qc_buffer *b;
  QC_RETURN_IF_ERROR(qc_buffer_map_file(path, &b));
  qc_status s = qc_value_parse_pb(qc_buffer_data(b), qc_buffer_size(b), path, kind, out);
  qc_buffer_release(b);
  return s;
}

qc_status qc_value_read_file(const char *path, int kind, qc_data_value *out) {
  size_t n = strlen(path);
  if (n < 4 || strcmp(path + n - 4, ".npy") != 0) return qc_value_read_pb(path, kind, out);
  memset(out, 0, sizeof *out);
  if (kind != QC_TYPE_TENSOR && kind != QC_TYPE_OPTIONAL)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: a .npy file holds a tensor, not %s (use .pb)",
                         path, kind == QC_TYPE_SEQUENCE ? "a sequence" : "an optional sequence");
  QC_RETURN_IF_ERROR(qc_tensor_read_npy(path, &out->tensor));
  out->kind = (uint8_t)kind;
  out->present = true;
  out->elem = out->tensor.dtype;
  return QC_OK;
}

qc_status qc_tensor_read_pb(const char *path, qc_tensor *out, char **name) {
  memset(out, 0, sizeof *out);
  if (name) *name = NULL;
  qc_data_value v;
  QC_RETURN_IF_ERROR(qc_value_read_pb(path, QC_TYPE_TENSOR, &v));
  *out = v.tensor;
  memset(&v.tensor, 0, sizeof v.tensor);
  if (name) {
    *name = v.name;
    v.name = NULL;
  }
  qc_data_value_release(&v);
  return QC_OK;
}

/* ---- .npy --------------------------------------------------------------------------------- */

/* The value text of `key` in the header dict, or NULL. */
static const char *npy_field(const char *h, const char *key) {
  char pat[32];
  snprintf(pat, sizeof pat, "'%s'", key);
  const char *p = strstr(h, pat);
  if (!p) {
    snprintf(pat, sizeof pat, "\"%s\"", key);
    p = strstr(h, pat);
  }
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  if (*p != ':') return NULL;
  p++;
  while (*p == ' ') p++;
  return p;
}

static qc_dtype npy_dtype(char kind, long size, bool *is_str) {
  *is_str = false;
  switch (kind) {
  case 'f': return size == 2 ? QC_F16 : size == 4 ? QC_F32 : size == 8 ? QC_F64 : QC_DT_UNDEFINED;
  case 'i':
    return size == 1 ? QC_I8 : size == 2 ? QC_I16 : size == 4 ? QC_I32 : size == 8 ? QC_I64
                                                                                   : QC_DT_UNDEFINED;
  case 'u':
    return size == 1 ? QC_U8 : size == 2 ? QC_U16 : size == 4 ? QC_U32 : size == 8 ? QC_U64
                                                                                   : QC_DT_UNDEFINED;
  case 'b': return size == 1 ? QC_BOOL : QC_DT_UNDEFINED;
  case 'c': return size == 8 ? QC_C64 : size == 16 ? QC_C128 : QC_DT_UNDEFINED;
  case 'U':
  case 'S': *is_str = true; return QC_STRING;
  default: return QC_DT_UNDEFINED;
  }
}

/* UTF-32 code point -> UTF-8; returns bytes written (up to 4). */
static int utf8_put(uint32_t c, char *o) {
  if (c < 0x80) {
    o[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    o[0] = (char)(0xC0 | (c >> 6));
    o[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    o[0] = (char)(0xE0 | (c >> 12));
    o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (c >> 18));
  o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  o[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

qc_status qc_tensor_read_npy(const char *path, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  qc_buffer *file;
  QC_RETURN_IF_ERROR(qc_buffer_map_file(path, &file));
  const uint8_t *p = qc_buffer_data(file);
  size_t size = qc_buffer_size(file);
  qc_status s = QC_OK;
  char *h = NULL;
#define NPY_FAIL(...)                                                                              \
  do {                                                                                             \
    s = qc_status_new(QC_CODE_PARSE, __VA_ARGS__);                                                 \
    goto done;                                                                                     \
  } while (0)
  if (size < 10 || memcmp(p, "\x93NUMPY", 6) != 0) NPY_FAIL("%s: not a .npy file", path);
  size_t hlen, hoff;
  if (p[6] == 1) {
    hlen = (size_t)p[8] | (size_t)p[9] << 8;
    hoff = 10;
  } else if (p[6] == 2 || p[6] == 3) {
    if (size < 12) NPY_FAIL("%s: truncated .npy header", path);
    hlen = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
    hoff = 12;
  } else {
    NPY_FAIL("%s: unsupported .npy version %d.%d", path, p[6], p[7]);
  }
  if (hlen > size - hoff) NPY_FAIL("%s: truncated .npy header", path);
  h = malloc(hlen + 1);
  if (!h) {
    s = QC_OOM();
    goto done;
  }
  memcpy(h, p + hoff, hlen);
  h[hlen] = 0;
  const char *d = npy_field(h, "descr"), *fo = npy_field(h, "fortran_order"),
             *sh = npy_field(h, "shape");
  if (!d || !fo || !sh) NPY_FAIL("%s: .npy header lacks descr, fortran_order or shape", path);
  if (strncmp(fo, "False", 5) != 0)
    NPY_FAIL("%s: Fortran-order .npy files are not supported", path);
  char q = *d++;
  if (q != '\'' && q != '"') NPY_FAIL("%s: .npy descr is not a simple type string", path);
  char endian = *d++;
  if (endian != '<' && endian != '>' && endian != '|' && endian != '=')
    NPY_FAIL("%s: bad .npy descr", path);
  char kind = *d++;
  char *endp;
  long esize = strtol(d, &endp, 10);
  if (endp == d || *endp != q || esize <= 0 || esize > (1 << 20))
    NPY_FAIL("%s: bad .npy descr", path);
  bool is_str;
  qc_dtype dt = npy_dtype(kind, esize, &is_str);
  if (dt == QC_DT_UNDEFINED)
    NPY_FAIL("%s: .npy type '%c%ld' is not supported", path, kind, esize);
  size_t bytes_per = is_str ? (size_t)esize * (kind == 'U' ? 4 : 1) : (size_t)esize;
  if (*sh != '(') NPY_FAIL("%s: bad .npy shape", path);
  sh++;
  int64_t dims[QC_MAX_RANK];
  int32_t rank = 0;
  for (;;) {
    while (*sh == ' ' || *sh == ',') sh++;
    if (*sh == ')') break;
    if (rank == QC_MAX_RANK) NPY_FAIL("%s: rank exceeds quarc's limit of %d", path, QC_MAX_RANK);
    long long v = strtoll(sh, &endp, 10);
    if (endp == sh || v < 0) NPY_FAIL("%s: bad .npy shape", path);
    dims[rank++] = v;
    sh = endp;
  }
  int64_t n = qc_shape_numel(rank, dims);
  size_t off = hoff + hlen;
  if (n < 0 || (uint64_t)n > (SIZE_MAX / 8) / bytes_per) NPY_FAIL("%s: shape too large", path);
  size_t need = (size_t)n * bytes_per;
  if (need > size - off)
    NPY_FAIL("%s: the data has %zu bytes, shape and type need %zu", path, size - off, need);
  const uint8_t *src = p + off;
  bool swap = endian == '>' && esize > 1;
  if (!is_str && !swap && ((uintptr_t)src % (esize >= 8 ? 8 : (uintptr_t)esize)) == 0) {
    qc_buffer *sl = qc_buffer_slice(file, off, need);
    if (!sl) {
      s = QC_OOM();
      goto done;
    }
    qc_tensor_init(out, dt, rank, dims, sl, 0);
    qc_buffer_release(sl);
    goto done;
  }
  s = qc_tensor_alloc(out, NULL, dt, rank, dims);
  if (s) goto done;
  if (is_str) {
    char **strs = qc_tensor_data(out);
    for (int64_t i = 0; i < n; i++) {
      const uint8_t *e = src + (size_t)i * bytes_per;
      char *str = malloc((size_t)esize * 4 + 1);
      if (!str) {
        qc_tensor_release(out);
        s = QC_OOM();
        goto done;
      }
      size_t o = 0;
      for (long k = 0; k < esize; k++) {
        uint32_t c;
        if (kind == 'S') c = e[k];
        else if (endian == '>')
          c = (uint32_t)e[4 * k] << 24 | (uint32_t)e[4 * k + 1] << 16 |
              (uint32_t)e[4 * k + 2] << 8 | e[4 * k + 3];
        else
          c = (uint32_t)e[4 * k] | (uint32_t)e[4 * k + 1] << 8 | (uint32_t)e[4 * k + 2] << 16 |
              (uint32_t)e[4 * k + 3] << 24;
        if (c == 0) break;
        if (kind == 'S') str[o++] = (char)c;
        else o += (size_t)utf8_put(c > 0x10FFFF ? 0xFFFD : c, str + o);
      }
      str[o] = 0;
      strs[i] = str;
    }
  } else {
    uint8_t *dst = qc_tensor_data(out);
    memcpy(dst, src, need);
    if (swap) {
      /* Complex numbers swap each half. */
      size_t w = kind == 'c' ? (size_t)esize / 2 : (size_t)esize;
      for (size_t i = 0; i < need; i += w)
        for (size_t a = 0, b = w - 1; a < b; a++, b--) {
          uint8_t t = dst[i + a];
          dst[i + a] = dst[i + b];
          dst[i + b] = t;
        }
    }
  }
done:
#undef NPY_FAIL
  free(h);
  qc_buffer_release(file);
  return s;
}
