/*
 * A small JSON document model that writes JSON the way Python's json module does
 * (private to libquarc).
 *
 * Why not cJSON: the files quarc writes beside a model (config.json with Quark's
 * quantization_config, Quark's native config.json) are compared byte for byte with what
 * transformers and Quark write, which is json.dumps(..., indent=2, sort_keys=True) and
 * json.dump(..., indent=4). That needs what cJSON drops: whether a number was written as
 * an integer or a float ("0.0" stays "0.0", "1e-06" stays "1e-06"), integers beyond 2^53,
 * and the key order of the input (for the unsorted form).
 *
 * Numbers keep their kind: an integer literal (no fraction, no exponent) prints as the
 * integer; any other literal is a float and prints as Python's repr() of the double (the
 * shortest digits that read back to it; exponent form when the decimal exponent is below
 * -4 or above 15, else fixed notation with at least one fractional digit). NaN, Infinity
 * and -Infinity are read and written as Python's json does. Strings are written with
 * ensure_ascii (everything outside U+0020..U+007E escaped, \uXXXX with surrogate pairs).
 *
 * Nodes live in a qc_arena and are freed with it. Keys of an object are unique (the parser
 * rejects duplicates, naming the key).
 */
#ifndef QUARC_IR_JSON_H
#define QUARC_IR_JSON_H

#include "ir/bytes.h"
#include "ir/internal.h"

typedef enum qc_json_kind {
  QC_JSON_NULL = 0,
  QC_JSON_BOOL = 1,
  QC_JSON_INT = 2,    /**< integer literal: `text` holds its canonical digits, `num` its value */
  QC_JSON_FLOAT = 3,  /**< any other number: `num` */
  QC_JSON_STRING = 4, /**< `text` (NUL-terminated; `len` bytes, may hold NULs) */
  QC_JSON_ARRAY = 5,
  QC_JSON_OBJECT = 6,
} qc_json_kind;

typedef struct qc_json qc_json;
struct qc_json {
  uint8_t kind;
  bool b;
  double num;
  const char *text;
  size_t len;
  const char *key; /**< the member's key inside an object, else NULL */
  qc_json *first, *last, *next;
  int32_t n; /**< number of children (arrays, objects) */
};

/** Parse RFC 8259 JSON (plus NaN/Infinity/-Infinity). On failure returns NULL and writes a
 *  message with the byte offset into err. */
qc_json *qc_json_parse(qc_arena *ar, const char *s, size_t n, char *err, size_t err_len);

qc_json *qc_json_null(qc_arena *ar);
qc_json *qc_json_bool(qc_arena *ar, bool v);
qc_json *qc_json_int(qc_arena *ar, int64_t v);
qc_json *qc_json_float(qc_arena *ar, double v);
qc_json *qc_json_string(qc_arena *ar, const char *s);
qc_json *qc_json_array(qc_arena *ar);
qc_json *qc_json_object(qc_arena *ar);
/** Deep copy into `ar`. */
qc_json *qc_json_clone(qc_arena *ar, const qc_json *v);

/** Append to an array. */
void qc_json_push(qc_json *arr, qc_json *v);
/** Set member `key` of an object: replaces an existing member in place, else appends.
 *  False on OOM. */
bool qc_json_set(qc_arena *ar, qc_json *obj, const char *key, qc_json *v);
/** Remove member `key` (no-op if absent). */
void qc_json_remove(qc_json *obj, const char *key);
/** Member `key` of an object, or NULL (also when obj is not an object). */
qc_json *qc_json_get(const qc_json *obj, const char *key);
/** Element i of an array, or NULL. */
qc_json *qc_json_at(const qc_json *arr, int32_t i);

/** Typed accessors with fallbacks: the string of a STRING node (else NULL); whether a node
 *  is true; a number as a double / an int64 (else dflt). */
const char *qc_json_str(const qc_json *v);
bool qc_json_is_true(const qc_json *v);
double qc_json_num(const qc_json *v, double dflt);
int64_t qc_json_i64(const qc_json *v, int64_t dflt);
static inline bool qc_json_is(const qc_json *v, qc_json_kind k) { return v && v->kind == k; }

/** Structural equality (object members compared by key, in any order; numbers by kind and
 *  value). */
bool qc_json_equal(const qc_json *a, const qc_json *b);

/** Output: indent < 0 gives Python's compact default separators (", " and ": "), indent >= 0
 *  one member per line indented by that many spaces (separators "," and ": "); sort_keys as
 *  Python's. The text is malloc'd (free()); NULL on OOM. *len (if not NULL) gets its length. */
char *qc_json_write(const qc_json *v, int indent, bool sort_keys, size_t *len);

/** Python's repr() of a double, as json.dumps writes floats ("0.0", "1e-06", "NaN"). `buf`
 *  holds at least 32 bytes. */
void qc_json_format_double(double x, char *buf);

/* ---- pieces of JSON text, for writers that build it without a document (Quark configs,
 *      reports): the same bytes qc_json_write gives. ---------------------------------------- */

/** A string literal as Python's json.dumps writes it (ensure_ascii=True): `"`, `\`, \n, \r,
 *  \t, \b, \f escaped by name, everything else outside U+0020..U+007E as \uXXXX (surrogate
 *  pairs above U+FFFF). `len` bytes of UTF-8 (NULs allowed). */
void qc_json_put_string(qc_bytes *b, const char *s, size_t len);
static inline void qc_json_put_cstring(qc_bytes *b, const char *s) {
  qc_json_put_string(b, s, strlen(s));
}
/** A float as Python's repr (qc_json_format_double). */
void qc_json_put_double(qc_bytes *b, double x);
/** An integer in decimal. */
void qc_json_put_int(qc_bytes *b, int64_t v);

#endif
