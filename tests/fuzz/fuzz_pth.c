/* libFuzzer target: the .pth reader — the zip directory and the restricted unpickler —
 * and every tensor it builds (views, strided copies), plus the CRC check. */
#include "quarc/pth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void release_copy(void *ctx, void *data) {
  (void)ctx;
  free(data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  void *copy = malloc(size ? size : 1);
  if (!copy) abort();
  if (size) memcpy(copy, data, size);
  qc_buffer *b = qc_buffer_wrap(copy, size, release_copy, NULL);
  qc_pth *p;
  qc_status s = qc_pth_open_buffer(b, "fuzz.pth", &p);
  qc_buffer_release(b);
  if (s) {
    if (!qc_status_message(s)[0]) abort();
    qc_status_free(s);
    return 0;
  }
  volatile uint8_t sink = 0;
  for (int64_t i = 0; i < qc_pth_count(p); i++) {
    if (qc_pth_find(p, qc_pth_name(p, i)) != i) abort();
    qc_tensor t;
    if ((s = qc_pth_tensor(p, i, &t))) abort();
    const uint8_t *d = qc_tensor_data(&t);
    size_t n = qc_tensor_nbytes(&t);
    if (n == SIZE_MAX || qc_shape_numel(t.rank, t.dims) < 0) abort(); /* every tensor has a size */
    if (n && (!t.buf || t.offset + n > qc_buffer_size(t.buf))) abort();
    for (size_t k = 0; k < n; k++) sink ^= d[k];
    qc_tensor_release(&t);
  }
  qc_status_free(qc_pth_verify(p));
  qc_pth_close(p);
  (void)sink;
  return 0;
}
