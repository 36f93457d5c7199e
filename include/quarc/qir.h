/*
 * quarc/qir.h — the textual IR (.qir).
 *
 * Every graph prints to text and parses back to an identical graph:
 * print(parse(print(g))) is byte-identical to print(g), constants included.
 * Small constants are printed inline; large ones refer to bytes in an external
 * file (the file they were mapped from, or a side file the printer writes).
 * The grammar is documented in docs/qir.md.
 *
 *     char *text; size_t len;
 *     QC_RETURN_IF_ERROR(qc_qir_print(g, NULL, &text, &len));
 *     qc_graph *g2;
 *     qc_status s = qc_qir_parse(text, len, "<memory>", &g2);  // "file:line:col: error: ..."
 *     free(text);
 */
#ifndef QUARC_QIR_H
#define QUARC_QIR_H

#include "quarc/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qc_qir_print_options {
  /** Constants of more than this many bytes are printed as external references
   *  (0 selects the default, 1024). Constants backed by a mapped file always refer to
   *  that file when they are larger than the limit. */
  size_t inline_limit;
  /** Where to write large constants that live in memory (appended, 64-byte aligned).
   *  NULL: print every memory-backed constant inline. */
  const char *side_file;
  /** Directory that relative paths in external references are relative to (the
   *  directory of the .qir file). NULL: paths are printed as given. */
  const char *base_dir;
} qc_qir_print_options;

/** Print g. *text is malloc'd and NUL-terminated; the caller frees it. */
qc_status qc_qir_print(const qc_graph *g, const qc_qir_print_options *opts, char **text,
                       size_t *len) QC_MUST_USE;
/** Parse one graph. `filename` is used in messages ("f.qir:3:14: error: ...") and to
 *  resolve relative external paths. */
qc_status qc_qir_parse(const char *text, size_t len, const char *filename,
                       qc_graph **out) QC_MUST_USE;

/** Read a .qir file. */
qc_status qc_qir_read_file(const char *path, qc_graph **out) QC_MUST_USE;
/** Write a .qir file atomically (temporary file + rename); large in-memory constants go
 *  to `<path>.bin` beside it. */
qc_status qc_qir_write_file(const qc_graph *g, const char *path) QC_MUST_USE;

#ifdef __cplusplus
}
#endif
#endif
