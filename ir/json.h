/*
 * JSON for libquarc (private): one reader and one writer.
 *
 *   - A pull reader (qc_json_reader) that walks the text value by value. Schema-directed
 *     readers (safetensors headers, model.safetensors.index.json) use it to check every key
 *     and value as they go and build nothing the schema does not ask for, so a hostile
 *     100 MB header costs no more memory than its tensors.
 *   - A document model (qc_json) parsed with that reader, that writes JSON the way Python's
 *     json module does.
 *
 * Why not cJSON: the files quarc writes beside a model (config.json with Quark's
 * quantization_config, Quark's native config.json) are compared byte for byte with what
 * transformers and Quark write, which is json.dumps(..., indent=2, sort_keys=True) and
 * json.dump(..., indent=4). That needs what cJSON drops: whether a number was written as
 * an integer or a float ("0.0" stays "0.0", "1e-06" stays "1e-06"), integers beyond 2^53,
 * and the key order of the input (for the unsorted form). The safetensors reference
 * (serde_json) reads sizes and offsets as exact u64 values (a double cannot hold 2^64-2,
 * which its test_validation_overflow uses), rejects floats, exponents and negative numbers
 * for them, and the format forbids duplicate keys, which cJSON silently accepts.
 *
 * Grammar: RFC 8259, as serde_json reads it: whitespace is space, tab, LF, CR; strings may hold
 * any Unicode scalar value except raw control characters; \u escapes must pair surrogates.
 * Readers may widen it with flags: QC_JSON_NONFINITE (NaN, Infinity, -Infinity, which
 * Python's json writes) and QC_JSON_LONE_SURROGATES (a lone surrogate escape kept as its
 * 3-byte form, as json.loads keeps it); with both it is what json.loads reads
 * (qc_json_parse). The input is assumed to be valid UTF-8 where it matters (callers check
 * that first, as the safetensors reference does).
 *
 * Numbers keep their kind: an integer literal (no fraction, no exponent) prints as the
 * integer; any other literal is a float and prints as Python's repr() of the double (the
 * shortest digits that read back to it; exponent form when the decimal exponent is below
 * -4 or above 15, else fixed notation with at least one fractional digit). NaN, Infinity
 * and -Infinity are written as Python's json does. Strings are written with ensure_ascii
 * (everything outside U+0020..U+007E escaped, \uXXXX with surrogate pairs).
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

/* ---- the reader ------------------------------------------------------------------------ */

/** What a reader accepts beyond RFC 8259 (flags). */
enum {
  QC_JSON_NONFINITE = 1,       /**< NaN, Infinity and -Infinity are numbers */
  QC_JSON_LONE_SURROGATES = 2, /**< a lone surrogate escape is kept, not an error */
};

typedef struct qc_json_reader {
  const char *s;
  size_t n, pos;
  qc_arena *arena;      /**< unescaped strings (and qc_json_parse's nodes) go here */
  unsigned flags;       /**< QC_JSON_NONFINITE, QC_JSON_LONE_SURROGATES */
  int max_depth;        /**< containers that may be open at once */
  int depth;            /**< containers open now */
  size_t key_pos;       /**< where the key qc_json_object_next read last starts */
  bool failed;
  size_t err_pos;       /**< the first error: where */
  const char *err_what; /**< ... and what (points into err) */
  char err[200];        /**< ... as "at byte N: what" */
} qc_json_reader;

/** `max_depth` 0 means 128, serde_json's limit. */
void qc_json_reader_init(qc_json_reader *r, const char *s, size_t n, qc_arena *arena,
                         unsigned flags, int max_depth);
/** Record an error at the current position (printf-style); always returns false. Only the
 *  first error is kept. */
bool qc_json_fail(qc_json_reader *r, const char *fmt, ...) QC_PRINTF(2, 3);
/** Skip whitespace and return the next byte, or 0 at the end. */
char qc_json_peek(qc_json_reader *r);
/** Skip whitespace; consume `c` if it is next. */
bool qc_json_accept(qc_json_reader *r, char c);
/** Skip whitespace and consume `c`, or fail with "expected 'c'". */
bool qc_json_expect(qc_json_reader *r, char c);
/** A string: an unescaped, NUL-terminated copy in the arena (not made when out is NULL);
 *  *len excludes the NUL (the text may hold U+0000, so callers that need C strings compare
 *  strlen with *len). */
bool qc_json_read_string(qc_json_reader *r, char **out, size_t *len);
/** A number literal, its text [*text, *text + *len) and whether it is an integer literal (no
 *  fraction, no exponent). QC_JSON_NONFINITE adds NaN, Infinity and -Infinity (not
 *  integers). */
bool qc_json_read_number(qc_json_reader *r, const char **text, size_t *len, bool *is_int);
/** A non-negative integer without fraction or exponent that fits in u64. */
bool qc_json_read_u64(qc_json_reader *r, uint64_t *out);
/** `null` if it is next (returns true and consumes it), else false without error. */
bool qc_json_read_null(qc_json_reader *r);
/** `true` or `false` if next (returns true and sets *out), else false without error. */
bool qc_json_read_bool(qc_json_reader *r, bool *out);
/** Skip any value. Duplicate keys inside skipped objects are not checked. */
bool qc_json_skip(qc_json_reader *r);
/** After the top-level value: only whitespace may follow. */
bool qc_json_read_end(qc_json_reader *r);
/* Iterating an object: qc_json_object_begin consumes '{'; then, while qc_json_object_next
 * gives a key (false at '}' or on error; check r->failed), read the value. `key` may be
 * NULL to skip keys. Arrays likewise: qc_json_array_next is true while an element follows. */
bool qc_json_object_begin(qc_json_reader *r);
bool qc_json_object_next(qc_json_reader *r, bool *first, char **key, size_t *key_len);
bool qc_json_array_begin(qc_json_reader *r);
bool qc_json_array_next(qc_json_reader *r, bool *first);

/** The value of an integer literal's text when it is non-negative and fits in u64. */
bool qc_json_text_u64(const char *text, size_t len, uint64_t *out);

/* ---- the document ---------------------------------------------------------------------- */

/** Parse a whole text as Python's json.loads reads it (nesting at most 512) into a document. On failure returns NULL and
 *  writes the reader's message ("at byte N: what") into err. */
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

/** A string literal as Python's json.dumps writes it: `"`, `\`, \n, \r, \t, \b, \f escaped by
 *  name, other control characters as \u00xx. With `ascii` (ensure_ascii=True, what
 *  transformers and Quark write) everything from U+007F up is \uXXXX too (surrogate pairs
 *  above U+FFFF); without it (ensure_ascii=False, which is also serde_json's escaping, the
 *  safetensors header's) it stays as its UTF-8 bytes. `len` bytes of UTF-8 (NULs allowed). */
void qc_json_put_string(qc_bytes *b, const char *s, size_t len, bool ascii);
/** A NUL-terminated string with ensure_ascii. */
static inline void qc_json_put_cstring(qc_bytes *b, const char *s) {
  qc_json_put_string(b, s, strlen(s), true);
}
/** A float as Python's repr (qc_json_format_double). */
void qc_json_put_double(qc_bytes *b, double x);
/** An integer in decimal. */
void qc_json_put_int(qc_bytes *b, int64_t v);

#endif
