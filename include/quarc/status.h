/*
 * quarc/status.h — errors and allocation.
 *
 * Every fallible quarc function returns a qc_status. NULL (QC_OK) means
 * success; anything else is an owned error object that carries a code and a
 * message with context ("model.onnx: node 'MatMul_12' (MatMul) input 1: ...").
 * The caller either propagates it (QC_RETURN_IF_ERROR), adds context
 * (qc_status_wrap) or consumes it (qc_status_free). The library never prints
 * and never exits.
 *
 *     qc_status s = qc_onnx_import("m.onnx", NULL, &g);
 *     if (s) { fprintf(stderr, "%s\n", qc_status_message(s)); qc_status_free(s); }
 *
 * All memory the library allocates goes through a qc_allocator, which the
 * caller may supply (NULL selects the default, backed by malloc/realloc/free).
 */
#ifndef QUARC_STATUS_H
#define QUARC_STATUS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Error codes; values are stable (append only). */
typedef enum qc_code {
  QC_CODE_OK = 0,
  QC_CODE_INVALID_ARGUMENT = 1, /**< bad input from the caller or a file */
  QC_CODE_NOT_FOUND = 2,        /**< a file, name or key does not exist */
  QC_CODE_UNIMPLEMENTED = 3,    /**< valid input that quarc cannot handle */
  QC_CODE_OUT_OF_MEMORY = 4,
  QC_CODE_IO = 5,               /**< read/write/mmap failed */
  QC_CODE_PARSE = 6,            /**< malformed file or text */
  QC_CODE_VERIFY = 7,           /**< graph failed verification */
  QC_CODE_RUNTIME = 8,          /**< execution failed */
  QC_CODE_INTERNAL = 9,         /**< a broken invariant inside quarc */
} qc_code;

typedef struct qc_status_s *qc_status;
#define QC_OK ((qc_status)0)

#if defined(__GNUC__)
#define QC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define QC_MUST_USE __attribute__((warn_unused_result))
#else
#define QC_PRINTF(f, a)
#define QC_MUST_USE
#endif

/** New error with a printf-style message. Never returns NULL. Owned by the caller. */
qc_status qc_status_new(qc_code code, const char *fmt, ...) QC_PRINTF(2, 3);
qc_status qc_status_newv(qc_code code, const char *fmt, va_list ap);
/** Prefix context to an error: "<context>: <old message>". Consumes and returns `s`
 *  (NULL stays NULL). */
qc_status qc_status_wrap(qc_status s, const char *fmt, ...) QC_PRINTF(2, 3);
qc_code qc_status_code(qc_status s);
/** The message; valid until the status is freed. "" for QC_OK. */
const char *qc_status_message(qc_status s);
void qc_status_free(qc_status s);

#define QC_RETURN_IF_ERROR(expr)                                                                   \
  do {                                                                                             \
    qc_status qc_s_ = (expr);                                                                      \
    if (qc_s_) return qc_s_;                                                                       \
  } while (0)

/** Allocator in the style of lua_Alloc: realloc(ptr, old, new) with new == 0 meaning free.
 *  Returning NULL for new > 0 means out of memory. */
typedef struct qc_allocator {
  void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
  void *ctx;
} qc_allocator;

/** The default allocator (malloc/realloc/free). */
const qc_allocator *qc_allocator_default(void);

/** quarc's version string, e.g. "0.1.0". */
const char *qc_version(void);

#ifdef __cplusplus
}
#endif
#endif
