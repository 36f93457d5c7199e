/*
 * Writing values to files: ONNX .pb messages (TensorProto, SequenceProto, OptionalProto)
 * and NumPy .npy (format 1.0, or 2.0 for headers past 64 KiB; layout in
 * frontend/tensor_io.c). Both writes are atomic. Tensor bytes are written from the
 * tensor's buffer without an intermediate copy where the file layout is quarc's.
 */
#include "frontend/onnx_internal.h"
#include "quarc/io.h"
#include "quarc/tensor_io.h"

#include <stdio.h>
#include <stdlib.h>

/* ---- .pb ---------------------------------------------------------------------------------- */

static qc_status sequence_proto(qc_arena *ar, const qc_data_value *v, const char *name,
                                Onnx__SequenceProto **out) {
  Onnx__SequenceProto *sp = qc_arena_alloc(ar, sizeof *sp);
  if (!sp) return QC_OOM();
  onnx__sequence_proto__init(sp);
  sp->name = (char *)name;
  sp->has_elem_type = 1;
  sp->elem_type = ONNX__SEQUENCE_PROTO__DATA_TYPE__TENSOR;
  sp->n_tensor_values = (size_t)v->n_items;
  sp->tensor_values = qc_arena_alloc(ar, sizeof(void *) * (size_t)(v->n_items + 1));
  if (!sp->tensor_values) return QC_OOM();
  for (int32_t i = 0; i < v->n_items; i++) {
    Onnx__TensorProto *tp = qc_arena_alloc(ar, sizeof *tp);
    if (!tp) return QC_OOM();
    QC_RETURN_IF_ERROR(qc_onnx_tensor_encode(ar, &v->items[i], NULL, tp));
    sp->tensor_values[i] = tp;
  }
  *out = sp;
  return QC_OK;
}

qc_status qc_value_write_pb(const char *path, const qc_data_value *v) {
  qc_arena ar;
  qc_arena_init(&ar, qc_allocator_default());
  qc_status s = QC_OK;
  ProtobufCMessage *msg = NULL;
  const char *name = v->name;
  switch (v->kind) {
  case QC_TYPE_TENSOR: {
    Onnx__TensorProto *tp = qc_arena_alloc(&ar, sizeof *tp);
    if (!tp) s = QC_OOM();
    else s = qc_onnx_tensor_encode(&ar, &v->tensor, name, tp);
    msg = &tp->base;
    break;
  }
  case QC_TYPE_SEQUENCE: {
    Onnx__SequenceProto *sp = NULL;
    s = sequence_proto(&ar, v, name, &sp);
    msg = sp ? &sp->base : NULL;
    break;
  }
  case QC_TYPE_OPTIONAL:
  case QC_TYPE_OPTIONAL_SEQUENCE: {
    Onnx__OptionalProto *op = qc_arena_alloc(&ar, sizeof *op);
    if (!op) {
      s = QC_OOM();
      break;
    }
    onnx__optional_proto__init(op);
    op->name = (char *)name;
    msg = &op->base;
    if (!v->present) break;
    op->has_elem_type = 1;
    if (v->kind == QC_TYPE_OPTIONAL) {
      op->elem_type = ONNX__OPTIONAL_PROTO__DATA_TYPE__TENSOR;
      op->tensor_value = qc_arena_alloc(&ar, sizeof *op->tensor_value);
      if (!op->tensor_value) s = QC_OOM();
      else s = qc_onnx_tensor_encode(&ar, &v->tensor, NULL, op->tensor_value);
    } else {
      op->elem_type = ONNX__OPTIONAL_PROTO__DATA_TYPE__SEQUENCE;
      s = sequence_proto(&ar, v, NULL, &op->sequence_value);
    }
    break;
  }
  default: s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "bad value kind %d", v->kind);
  }
  if (!s) s = qc_onnx_pack_to_file(msg, path);
  qc_arena_free(&ar);
  return qc_status_wrap(s, "%s", path);
}

qc_status qc_tensor_write_pb(const char *path, const qc_tensor *t, const char *name) {
  qc_data_value v;
  memset(&v, 0, sizeof v);
  v.kind = QC_TYPE_TENSOR;
  v.present = true;
  v.elem = t->dtype;
  v.tensor = *t;
  v.name = (char *)name;
  return qc_value_write_pb(path, &v);
}

/* ---- .npy --------------------------------------------------------------------------------- */

/* NumPy's type string for a dtype written as is, or NULL if it has to be widened. */
static const char *npy_descr(qc_dtype dt) {
  switch (dt) {
  case QC_F16: return "<f2";
  case QC_F32: return "<f4";
  case QC_F64: return "<f8";
  case QC_I8: return "|i1";
  case QC_I16: return "<i2";
  case QC_I32: return "<i4";
  case QC_I64: return "<i8";
  case QC_U8: return "|u1";
  case QC_U16: return "<u2";
  case QC_U32: return "<u4";
  case QC_U64: return "<u8";
  case QC_BOOL: return "|b1";
  case QC_C64: return "<c8";
  case QC_C128: return "<c16";
  default: return NULL;
  }
}

/* Decode one UTF-8 sequence at s (invalid bytes decode as U+FFFD); returns its length. */
static int utf8_get(const unsigned char *s, uint32_t *c) {
  if (s[0] < 0x80) {
    *c = s[0];
    return 1;
  }
  int n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
  if (!n) {
    *c = 0xFFFD;
    return 1;
  }
  uint32_t v = s[0] & (0x7F >> n);
  for (int i = 1; i < n; i++) {
    if ((s[i] & 0xC0) != 0x80) {
      *c = 0xFFFD;
      return i;
    }
    v = v << 6 | (s[i] & 0x3F);
  }
  *c = v;
  return n;
}

static size_t utf8_count(const char *s) {
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    uint32_t c;
    p += utf8_get(p, &c);
    n++;
  }
  return n;
}

qc_status qc_tensor_write_npy(const char *path, const qc_tensor *t) {
  int64_t n = qc_tensor_numel(t);
  if (n < 0) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: invalid shape", path);
  const void *data = qc_tensor_data(t);
  if (n > 0 && !data) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: the tensor has no data", path);
  const qc_dtype_traits *tr = qc_dtype_traits_of(t->dtype);
  const char *descr = npy_descr(t->dtype);
  char sdescr[32];
  size_t width = 0; /* strings: code points per element */
  void *widened = NULL;
  size_t nbytes = qc_tensor_nbytes(t);
  if (t->dtype == QC_STRING) {
    for (int64_t i = 0; i < n; i++) {
      const char *s = ((const char *const *)data)[i];
      size_t w = s ? utf8_count(s) : 0;
      if (w > width) width = w;
    }
    if (width == 0) width = 1;
    snprintf(sdescr, sizeof sdescr, "<U%zu", width);
    descr = sdescr;
  } else if (!descr) {
    /* No NumPy type: write exact values in a wider one. */
    bool as_int = tr->kind == QC_KIND_INT || tr->kind == QC_KIND_BOOL;
    if (tr->kind == QC_KIND_STRING || tr->kind == QC_KIND_COMPLEX || tr->kind == QC_KIND_NONE)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: cannot write %s as .npy", path, tr->name);
    descr = as_int ? (tr->is_signed ? "|i1" : "|u1") : "<f4";
    qc_dtype to = as_int ? (tr->is_signed ? QC_I8 : QC_U8) : QC_F32;
    nbytes = qc_dtype_nbytes(to, (uint64_t)n);
    widened = malloc(nbytes ? nbytes : 1);
    if (!widened) return QC_OOM();
    if (tr->kind == QC_KIND_BLOCK) qc_block_dequantize(t->dtype, data, widened, (size_t)n);
    else if (n) qc_convert(t->dtype, data, to, widened, (size_t)n, 0);
    data = widened;
  }
  /* Header: the dict, padded with spaces to a multiple of 64 bytes, ending in '\n'. */
  char dict[512];
  int o = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int32_t i = 0; i < t->rank; i++)
    o += snprintf(dict + o, sizeof dict - (size_t)o, "%lld,%s", (long long)t->dims[i],
                  i + 1 < t->rank ? " " : "");
  if (t->rank > 1) o--; /* "(2, 3)" rather than "(2, 3,)"; a 1-tuple keeps its comma */
  o += snprintf(dict + o, sizeof dict - (size_t)o, "), }");
  size_t total = 10 + (size_t)o + 1;
  size_t padded = (total + 63) / 64 * 64;
  uint8_t head[600];
  memcpy(head, "\x93NUMPY\x01\x00", 8);
  size_t hlen = padded - 10;
  head[8] = (uint8_t)(hlen & 0xFF);
  head[9] = (uint8_t)(hlen >> 8);
  memcpy(head + 10, dict, (size_t)o);
  memset(head + 10 + o, ' ', padded - total);
  head[padded - 1] = '\n';

  qc_atomic_file *f;
  qc_status s = qc_atomic_open(path, &f);
  if (!s) s = qc_atomic_write(f, head, padded);
  if (!s && t->dtype == QC_STRING) {
    uint8_t *row = calloc(width, 4);
    if (!row) s = QC_OOM();
    for (int64_t i = 0; !s && i < n; i++) {
      memset(row, 0, width * 4);
      const unsigned char *p = (const unsigned char *)((const char *const *)data)[i];
      for (size_t k = 0; p && *p && k < width; k++) {
        uint32_t c;
        p += utf8_get(p, &c);
        row[4 * k] = (uint8_t)c;
        row[4 * k + 1] = (uint8_t)(c >> 8);
        row[4 * k + 2] = (uint8_t)(c >> 16);
        row[4 * k + 3] = (uint8_t)(c >> 24);
      }
      s = qc_atomic_write(f, row, width * 4);
    }
    free(row);
  } else if (!s && nbytes) {
    s = qc_atomic_write(f, data, nbytes);
  }
  free(widened);
  if (s) {
    qc_atomic_abort(f);
    return qc_status_wrap(s, "%s", path);
  }
  return qc_atomic_commit(f);
}
