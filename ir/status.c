/* Status objects, the default allocator, the version string. */
#include "quarc/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qc_status_s {
  qc_code code;
  char *msg;
};

/* Returned when even the status cannot be allocated; never freed. */
static struct qc_status_s oom_status = {QC_CODE_OUT_OF_MEMORY, "out of memory"};

static char *vformat(const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return NULL;
  char *s = malloc((size_t)n + 1);
  if (!s) return NULL;
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  return s;
}

qc_status qc_status_newv(qc_code code, const char *fmt, va_list ap) {
  qc_status s = malloc(sizeof *s);
  if (!s) return &oom_status;
  s->code = code;
  s->msg = vformat(fmt, ap);
  if (!s->msg) {
    free(s);
    return &oom_status;
  }
  return s;
}

qc_status qc_status_new(qc_code code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  qc_status s = qc_status_newv(code, fmt, ap);
  va_end(ap);
  return s;
}

qc_status qc_status_wrap(qc_status s, const char *fmt, ...) {
  if (!s || s == &oom_status) return s;
  va_list ap;
  va_start(ap, fmt);
  char *ctx = vformat(fmt, ap);
  va_end(ap);
  if (!ctx) return s;
  size_t a = strlen(ctx), b = strlen(s->msg);
  char *m = malloc(a + 2 + b + 1);
  if (m) {
    memcpy(m, ctx, a);
    memcpy(m + a, ": ", 2);
    memcpy(m + a + 2, s->msg, b + 1);
    free(s->msg);
    s->msg = m;
  }
  free(ctx);
  return s;
}

qc_code qc_status_code(qc_status s) { return s ? s->code : QC_CODE_OK; }
const char *qc_status_message(qc_status s) { return s ? s->msg : ""; }

void qc_status_free(qc_status s) {
  if (!s || s == &oom_status) return;
  free(s->msg);
  free(s);
}

static void *default_realloc(void *ctx, void *ptr, size_t old_size, size_t new_size) {
  (void)ctx;
  (void)old_size;
  if (new_size == 0) {
    free(ptr);
    return NULL;
  }
  return realloc(ptr, new_size);
}

static const qc_allocator default_allocator = {default_realloc, NULL};
const qc_allocator *qc_allocator_default(void) { return &default_allocator; }

#ifndef QUARC_VERSION
#define QUARC_VERSION "0.0.0"
#endif
const char *qc_version(void) { return QUARC_VERSION; }
