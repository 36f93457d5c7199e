/* A small backtracking regular-expression engine over Unicode code points, enough for
 * the pre-tokenizer patterns of Hugging Face tokenizer.json files (Oniguruma syntax as
 * the `tokenizers` library uses it): literals, `.`, classes `[...]` with ranges and
 * negation, escapes \s \S \d \D \w \W \p{L} \P{N} (L, N, P, S, M, Mn, Lu, Ll, ...),
 * \r \n \t \f \v, groups `(...)` `(?:...)` `(?i:...)`, lookahead `(?=...)` `(?!...)`,
 * alternation (leftmost first), quantifiers ? * + {m} {m,} {m,n} (greedy, `?` for lazy),
 * anchors ^ $. Matching is leftmost-first, like Oniguruma. */
#ifndef QUARC_FRONTEND_REGEX_H
#define QUARC_FRONTEND_REGEX_H

#include "quarc/status.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct qc_regex qc_regex;

/* Compile a UTF-8 pattern; errors name the pattern and the offending offset. */
qc_status qc_regex_compile(const char *pattern, qc_regex **out) QC_MUST_USE;
void qc_regex_free(qc_regex *r);
/* Find the leftmost match at or after `start` in the code point array text[0..n).
 * Returns false if none; otherwise the match is [*mstart, *mend). An empty match is
 * possible. */
bool qc_regex_search(const qc_regex *r, const uint32_t *text, size_t n, size_t start,
                     size_t *mstart, size_t *mend);

#endif
