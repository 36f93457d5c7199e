/* Private to the .qir printer and parser: the lexical rules both sides must agree on
 * (which names print bare, which words are keywords) and the one conversion between
 * the decimal text of a float element and its code. The grammar is in docs/qir.md. */
#ifndef QUARC_IR_QIR_INTERNAL_H
#define QUARC_IR_QIR_INTERNAL_H

#include "internal.h"
#include "quarc/qir.h"

/* Graphs nested deeper than this are rejected by the parser (it recurses per level). */
#define QIR_MAX_DEPTH 64

/* ASCII classes, independent of the C locale. */
static inline bool qir_is_alpha(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static inline bool qir_is_digit(int c) { return c >= '0' && c <= '9'; }
static inline bool qir_is_hex(int c) {
  return qir_is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
/* A word: [A-Za-z_][A-Za-z0-9_.]* (ops, dtypes, symbols, attribute names, keywords). */
static inline bool qir_word_char(int c) { return qir_is_alpha(c) || qir_is_digit(c) || c == '.'; }
/* After % or @: [A-Za-z0-9_.]+ (may start with a digit: %0). */
static inline bool qir_name_char(int c) { return qir_word_char(c); }

/* Whether `s` (n bytes) is a word that the lexer reads back as the same plain word: not
 * empty, word characters only, not a number word ("inf", "nan"). */
bool qir_is_plain_word(const char *s, size_t n);
/* Whether `s` needs no quotes after % or @. */
bool qir_is_plain_name(const char *s, size_t n);

/* Decimal text of a float element (a NUL-terminated token: [-]digits[.digits][e[+-]digits],
 * [-]inf, [-]nan) to a double; false if the text is not such a number. */
bool qir_text_to_double(const char *text, double *out);
/* The code of float dtype `dt` nearest to x (round half to even; f64: the bits). */
uint64_t qir_double_to_code(qc_dtype dt, double x);
/* The value of a code of float dtype `dt` (f64: from the bits). */
double qir_code_to_double(qc_dtype dt, uint64_t code);
/* The shortest decimal text (%.Ng) that qir_text_to_double + qir_double_to_code map back to
 * `code`; false if none does (NaN payloads, a second NaN code): print the raw code then. */
bool qir_float_text(qc_dtype dt, uint64_t code, char *buf, size_t size);

#endif
