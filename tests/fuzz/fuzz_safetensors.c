/* libFuzzer target: the safetensors reader, and the writer on whatever the reader accepts.
 * Every accepted file must re-serialize and read back to the same tensors and metadata
 * (the writer takes everything the reader gives it), or the target aborts. */
#include "quarc/safetensors.h"

#include <stdlib.h>
#include <string.h>

static void release_copy(void *ctx, void *data) {
  (void)ctx;
  free(data);
}

/* A heap copy of the input, so ASan sees reads past its end. */
static qc_buffer *wrap(const uint8_t *data, size_t size) {
  void *copy = malloc(size ? size : 1);
  if (!copy) abort();
  if (size) memcpy(copy, data, size);
  qc_buffer *b = qc_buffer_wrap(copy, size, release_copy, NULL);
  if (!b) abort();
  return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  qc_buffer *b = wrap(data, size);
  qc_safetensors *st;
  qc_status s = qc_safetensors_open_buffer(b, "fuzz.safetensors", &st);
  qc_buffer_release(b);
  if (s) {
    if (!qc_status_message(s)[0]) abort(); /* every error says something */
    qc_status_free(s);
    return 0;
  }
  int64_t n = qc_safetensors_count(st);
  const char **names = calloc((size_t)n + 1, sizeof *names);
  qc_tensor *ts = calloc((size_t)n + 1, sizeof *ts);
  volatile uint8_t sink = 0;
  for (int64_t i = 0; i < n; i++) {
    const qc_safetensors_entry *e = qc_safetensors_entry_at(st, i);
    if (qc_safetensors_find(st, e->name) != i) abort();
    if ((s = qc_safetensors_tensor(st, i, &ts[i]))) abort();
    names[i] = e->name;
    const uint8_t *p = qc_tensor_data(&ts[i]);
    size_t nb = qc_tensor_nbytes(&ts[i]);
    if (nb != e->end - e->begin || qc_shape_numel(ts[i].rank, ts[i].dims) < 0) abort();
    if (nb && (!ts[i].buf || ts[i].offset + nb > qc_buffer_size(ts[i].buf))) abort();
    for (size_t k = 0; k < nb; k++) sink ^= p[k];
  }
  int64_t nm = qc_safetensors_metadata_count(st);
  const char **mk = calloc((size_t)nm + 1, sizeof *mk), **mv = calloc((size_t)nm + 1, sizeof *mv);
  for (int64_t i = 0; i < nm; i++)
    if (!qc_safetensors_metadata_at(st, i, &mk[i], &mv[i])) abort();
  qc_safetensors_write_options opt = {mk, mv, (size_t)nm, 0};
  qc_buffer *out;
  if ((s = qc_safetensors_serialize(names, ts, (size_t)n, &opt, &out))) abort();
  qc_safetensors *back;
  if ((s = qc_safetensors_open_buffer(out, "reserialized", &back))) abort();
  if (qc_safetensors_count(back) != n || qc_safetensors_metadata_count(back) != nm) abort();
  for (int64_t i = 0; i < n; i++) {
    qc_tensor t;
    if ((s = qc_safetensors_get(back, names[i], &t))) abort();
    if (!qc_tensor_equal(&t, &ts[i])) abort();
    qc_tensor_release(&t);
  }
  for (int64_t i = 0; i < nm; i++) {
    const char *v = qc_safetensors_metadata_get(back, mk[i]);
    if (!v || strcmp(v, mv[i]) != 0) abort();
  }
  qc_safetensors_close(back);
  qc_buffer_release(out);
  for (int64_t i = 0; i < n; i++) qc_tensor_release(&ts[i]);
  free(names);
  free(ts);
  free(mk);
  free(mv);
  qc_safetensors_close(st);
  (void)sink;
  return 0;
}
