/*
 * A strict, schema-directed JSON tokenizer for safetensors headers and
 * model.safetensors.index.json (private to frontend/).
 *
 * Why not cJSON: the safetensors reference (serde_json) reads sizes and offsets as exact
 * u64 values (a double cannot hold 2^64-2, which test_validation_overflow uses), rejects
 * floats, exponents and negative numbers for them, and the format forbids duplicate keys,
 * which cJSON silently accepts. The readers therefore walk the text with these calls and
 * check every key and value as they go; nothing is built that the schema does not ask for.
 *
 * Grammar: RFC 8259. Whitespace is space, tab, LF, CR. Strings may hold any Unicode scalar
 * value except raw control characters; \u escapes must pair surrogates. The input is
 * assumed to be valid UTF-8 (callers check that first, as the reference does).
 */
#ifndef QUARC_FRONTEND_SAFETENSORS_JSON_H
#define QUARC_FRONTEND_SAFETENSORS_JSON_H

#include "ir/internal.h"

typedef struct sj_parser {
  const char *s;
  size_t n, pos;
  qc_arena *arena;  /* unescaped strings go here */
  char err[160];    /* first error, with the byte offset */
  bool failed;
} sj_parser;

void sj_init(sj_parser *p, const char *s, size_t n, qc_arena *arena);
/** Record an error at the current position (printf-style); always returns false. */
bool sj_fail(sj_parser *p, const char *fmt, ...) QC_PRINTF(2, 3);
/** Skip whitespace and return the next byte, or 0 at the end. */
char sj_peek(sj_parser *p);
/** Skip whitespace and consume `c`, or fail with "expected 'c'". */
bool sj_expect(sj_parser *p, char c);
/** Skip whitespace; consume `c` if it is next. */
bool sj_accept(sj_parser *p, char c);
/** A string: unescaped, NUL-terminated copy in the arena; *len excludes the NUL (the text
 *  may contain U+0000, so callers that need C strings compare strlen with *len). */
bool sj_string(sj_parser *p, char **out, size_t *len);
/** A non-negative integer without fraction or exponent that fits in u64. */
bool sj_u64(sj_parser *p, uint64_t *out);
/** Any number: its value as a double, and whether it is an integer that fits u64 (*u). */
bool sj_number(sj_parser *p, double *d, bool *is_u64, uint64_t *u);
/** `null` if it is next (returns true and consumes it), else false without error. */
bool sj_null(sj_parser *p);
/** Skip any value (objects nested at most 128 deep, as serde_json allows). Duplicate keys
 *  inside skipped objects are not checked. */
bool sj_skip_value(sj_parser *p);
/** After the top-level value: only whitespace may follow. */
bool sj_end(sj_parser *p);

/* Iterating an object: sj_object_begin consumes '{'; then, while sj_object_next gives a
 * key (false at '}' or on error; check p->failed), parse the value. */
bool sj_object_begin(sj_parser *p);
bool sj_object_next(sj_parser *p, bool *first, char **key, size_t *key_len);
/* Arrays likewise: sj_array_next returns true while an element follows. */
bool sj_array_begin(sj_parser *p);
bool sj_array_next(sj_parser *p, bool *first);

#endif
