/*
 * A small JSON document model for quantization configs (private to passes/quant/ and its
 * tests).
 *
 * Why not cJSON: the core (passes/) builds with a plain C11 compiler and no third-party
 * libraries, the config reader needs object keys in their original order (Quark's
 * layer_quant_config is matched in order) and must reject duplicate keys, and the writer
 * must reproduce Python's json.dumps byte for byte (separators, indentation, ASCII
 * escaping, float repr such as 0.0 and 1e-05, ints kept as ints).
 *
 * Grammar: RFC 8259, plus Python's NaN, Infinity and -Infinity (json.loads accepts and
 * json.dumps writes them), read by ir/json's reader; this tree adds positions, rejects
 * U+0000 in strings and duplicate keys. Numbers without '.', 'e' or 'E' that fit int64 are
 * integers.
 */
#ifndef QUARC_PASSES_QUANT_QJSON_H
#define QUARC_PASSES_QUANT_QJSON_H

#include "ir/json.h"
#include "quarc/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum qj_kind {
  QJ_NULL = 0,
  QJ_FALSE = 1,
  QJ_TRUE = 2,
  QJ_INT = 3,
  QJ_FLOAT = 4,
  QJ_STRING = 5,
  QJ_ARRAY = 6,
  QJ_OBJECT = 7,
} qj_kind;

typedef struct qj_value {
  qj_kind kind;
  int64_t i;      /* QJ_INT */
  double d;       /* QJ_FLOAT (and QJ_INT as a double) */
  char *s;        /* QJ_STRING (NUL-terminated; U+0000 is rejected) */
  int32_t n;      /* QJ_ARRAY / QJ_OBJECT: element count */
  struct qj_value *items;
  char **keys;    /* QJ_OBJECT: keys, in document order */
  int32_t line, col; /* where the value starts (1-based), for messages */
} qj_value;

/* Parse one document. Errors: "<source>:<line>:<col>: <what>". */
qc_status qj_parse(const char *text, size_t len, const char *source, qj_value **out) QC_MUST_USE;
void qj_free(qj_value *v);
/* Release what v owns (not v itself). */
void qj_clear(qj_value *v);
/* Object member by key, or NULL. */
const qj_value *qj_get(const qj_value *obj, const char *key);
const char *qj_kind_name(qj_kind k);

/* ---- writing ---------------------------------------------------------------------------- */

/* Text is built in a qc_bytes (ir/bytes.h) with ir/json.h's pieces (qc_json_put_string,
 * qc_json_put_double, qc_json_put_int), so it is the JSON ir/json writes. */

/* Newline + indentation when indent > 0 (json.dumps' item separator logic is the
 * caller's: "," then qj_newline, or ", " when indent == 0). */
void qj_newline(qc_bytes *b, int indent, int level);
/* A value, formatted as json.dumps(value, indent=indent or None, sort_keys=sort). */
void qj_put_value(qc_bytes *b, const qj_value *v, int indent, int level, bool sort_keys);

#endif
