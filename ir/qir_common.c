/* What the .qir printer and parser share: which names print bare, and the conversion
 * between the decimal text of a float element and its code. Both sides call these, so
 * "the printed text parses back to the same code" is checked with the parser's own rule. */
#include "qir_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static bool is_number_word(const char *s, size_t n) {
  return (n == 3 && (memcmp(s, "inf", 3) == 0 || memcmp(s, "nan", 3) == 0));
}

bool qir_is_plain_word(const char *s, size_t n) {
  if (n == 0 || !qir_is_alpha((unsigned char)s[0])) return false;
  for (size_t i = 1; i < n; i++)
    if (!qir_word_char((unsigned char)s[i])) return false;
  return !is_number_word(s, n);
}

bool qir_is_plain_name(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++)
    if (!qir_name_char((unsigned char)s[i])) return false;
  return true;
}

bool qir_text_to_double(const char *text, double *out) {
  const char *s = text;
  bool neg = *s == '-';
  if (neg) s++;
  if (strcmp(s, "inf") == 0) {
    *out = neg ? -INFINITY : INFINITY;
    return true;
  }
  if (strcmp(s, "nan") == 0) {
    *out = copysign(NAN, neg ? -1.0 : 1.0);
    return true;
  }
  /* digits [. digits*] [(e|E) [+-] digits] — strtod alone would also take hex floats,
   * "infinity" and "nan(...)", which are not .qir syntax. */
  const char *q = s;
  if (!qir_is_digit((unsigned char)*q)) return false;
  while (qir_is_digit((unsigned char)*q)) q++;
  if (*q == '.') {
    q++;
    while (qir_is_digit((unsigned char)*q)) q++;
  }
  if (*q == 'e' || *q == 'E') {
    q++;
    if (*q == '+' || *q == '-') q++;
    if (!qir_is_digit((unsigned char)*q)) return false;
    while (qir_is_digit((unsigned char)*q)) q++;
  }
  if (*q) return false;
  *out = strtod(text, NULL);
  return true;
}

uint64_t qir_double_to_code(qc_dtype dt, double x) {
  if (dt == QC_F64) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
  }
  return qc_float_encode(dt, x, 0);
}

double qir_code_to_double(qc_dtype dt, uint64_t code) {
  if (dt == QC_F64) {
    double d;
    memcpy(&d, &code, sizeof d);
    return d;
  }
  return qc_float_decode(dt, (uint32_t)code);
}

/* Whether `text` reads back as `code`. In formats that saturate (fp6, fp4: no Inf, no NaN)
 * the text must lie in range: "8" reads back as f6e2m3's 7.5, but says something else. */
static bool text_gives(qc_dtype dt, const char *text, uint64_t code) {
  double d;
  if (!qir_text_to_double(text, &d) || qir_double_to_code(dt, d) != code) return false;
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  return t->nan_rule != QC_NAN_NONE || fabs(d) <= t->max_normal;
}

bool qir_float_text(qc_dtype dt, uint64_t code, char *buf, size_t size) {
  double v = qir_code_to_double(dt, code);
  if (isnan(v)) {
    static const char *const nans[] = {"nan", "-nan"};
    for (int i = 0; i < 2; i++)
      if (text_gives(dt, nans[i], code)) {
        snprintf(buf, size, "%s", nans[i]);
        return true;
      }
    return false;
  }
  if (isinf(v)) {
    snprintf(buf, size, "%s", v > 0 ? "inf" : "-inf");
    return text_gives(dt, buf, code);
  }
  int prec = 1;
  for (; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (text_gives(dt, buf, code)) break;
  }
  if (prec > 17) return false;
  /* %g writes 10 as "1e+01" at one digit: take a plain spelling when one is no longer. */
  size_t best = strlen(buf);
  for (int k = prec + 1; strchr(buf, 'e') && (size_t)k <= best && k <= 17; k++) {
    char alt[40];
    snprintf(alt, sizeof alt, "%.*g", k, v);
    if (!strchr(alt, 'e') && strlen(alt) <= best && text_gives(dt, alt, code))
      snprintf(buf, size, "%s", alt);
  }
  return true;
}
