/* libFuzzer target: the GGUF reader, every metadata accessor, and the block dequantizers
 * (ir/blocks.c) on whatever tensors the reader accepts. */
#include "quarc/gguf.h"

#include <stdlib.h>
#include <string.h>

static void release_copy(void *ctx, void *data) {
  (void)ctx;
  free(data);
}

static volatile double sink;

static void walk(const qc_gguf_value *v, int depth) {
  if (depth > 32) abort(); /* the reader bounds nesting at 16 */
  if (v->type == QC_GGUF_STRING) {
    if (((const char *)v->data)[v->count] != 0) abort();
    return;
  }
  if (v->type != QC_GGUF_ARRAY) {
    sink += qc_gguf_value_f64(v, 0) + (double)qc_gguf_value_i64(v, 0);
    return;
  }
  for (uint64_t i = 0; i < v->count; i++) {
    if (v->items) walk(&v->items[i], depth + 1);
    else sink += qc_gguf_value_f64(v, i) + (double)qc_gguf_value_i64(v, i);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  void *copy = malloc(size ? size : 1);
  if (!copy) abort();
  if (size) memcpy(copy, data, size);
  qc_buffer *b = qc_buffer_wrap(copy, size, release_copy, NULL);
  qc_gguf *g;
  qc_status s = qc_gguf_open_buffer(b, "fuzz.gguf", &g);
  qc_buffer_release(b);
  if (s) {
    if (!qc_status_message(s)[0]) abort();
    qc_status_free(s);
    return 0;
  }
  for (int64_t i = 0; i < qc_gguf_kv_count(g); i++) {
    const char *key = qc_gguf_kv_key(g, i);
    if (qc_gguf_find_key(g, key) != i) abort();
    walk(qc_gguf_kv_value(g, i), 0);
    /* every getter on every key: a value or a clean error */
    union {
      uint32_t u32;
      uint64_t u64;
      int32_t i32;
      int64_t i64;
      float f;
      double d;
      bool b;
    } out;
    const char *str;
    size_t len;
    const qc_gguf_value *items;
    uint64_t n;
    float fl[4];
    int64_t il[4];
    qc_status_free(qc_gguf_get_u32(g, key, &out.u32));
    qc_status_free(qc_gguf_get_u64(g, key, &out.u64));
    qc_status_free(qc_gguf_get_i32(g, key, &out.i32));
    qc_status_free(qc_gguf_get_i64(g, key, &out.i64));
    qc_status_free(qc_gguf_get_f32(g, key, &out.f));
    qc_status_free(qc_gguf_get_f64(g, key, &out.d));
    qc_status_free(qc_gguf_get_bool(g, key, &out.b));
    qc_status_free(qc_gguf_get_string(g, key, &str, &len));
    qc_status_free(qc_gguf_get_strings(g, key, &items, &n));
    qc_status_free(qc_gguf_get_f32_array(g, key, fl, 4, &n));
    qc_status_free(qc_gguf_get_i64_array(g, key, il, 4, &n));
  }
  for (int64_t i = 0; i < qc_gguf_tensor_count(g); i++) {
    const qc_gguf_tensor_info *ti = qc_gguf_tensor_info_at(g, i);
    if (qc_gguf_find_tensor(g, ti->name) != i) abort();
    qc_tensor t;
    s = qc_gguf_tensor(g, i, &t);
    if (s) {
      if (ti->dtype != QC_DT_UNDEFINED) abort();
      qc_status_free(s);
      continue;
    }
    if (qc_tensor_nbytes(&t) != ti->nbytes || qc_shape_numel(t.rank, t.dims) < 0) abort();
    if (t.buf && t.offset + ti->nbytes > qc_buffer_size(t.buf)) abort();
    int64_t numel = qc_tensor_numel(&t);
    if (numel > 0 && numel <= (1 << 16)) {
      float *y = malloc((size_t)numel * sizeof *y);
      if (!y) abort();
      if (qc_dtype_is_block(t.dtype)) qc_block_dequantize(t.dtype, qc_tensor_data(&t), y, (size_t)numel);
      else qc_convert_to_f32(t.dtype, qc_tensor_data(&t), y, (size_t)numel);
      for (int64_t k = 0; k < numel; k++) sink += y[k];
      free(y);
    }
    qc_tensor_release(&t);
  }
  qc_gguf_close(g);
  return 0;
}
