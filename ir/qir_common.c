/* What the .qir printer and parser share: which names print bare, and the conversion
 * between the decimal text of a float element and its code. Both sides call these, so
 * "the printed text parses back to the same code" is checked with the parser's own rule. */
#include "qir_internal.h"

#include <float.h>
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
  if (dt == QC_F32) { /* the hardware's round-to-nearest-even, as qc_float_encode, but fast */
    float f = (float)x;
    uint32_t b;
    memcpy(&b, &f, sizeof b);
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

/* Whether the decimal d (what `text` reads back as) gives `code`. In formats that saturate
 * (fp6, fp4: no Inf, no NaN) it must also lie in range: "8" reads back as f6e2m3's 7.5, but
 * says something else. */
static bool value_gives(qc_dtype dt, double d, uint64_t code) {
  if (qir_double_to_code(dt, d) != code) return false;
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  return t->nan_rule != QC_NAN_NONE || !isfinite(d) || fabs(d) <= t->max_normal;
}

static bool text_gives(qc_dtype dt, const char *text, uint64_t code) {
  double d;
  return qir_text_to_double(text, &d) && value_gives(dt, d, code);
}

/* A candidate spelling: the significant digits of the value rounded to p digits. */
typedef struct decimal {
  bool neg;
  char dig[24]; /* p digits */
  int p;
  int x; /* decimal exponent of the first digit */
} decimal;

/* %.{p}g's layout for the digits of `d`: fixed notation for -4 <= x < p, else scientific;
 * trailing zeros dropped. */
static void format_g(const decimal *d, char *buf, size_t size) {
  int n = d->p;
  while (n > 1 && d->dig[n - 1] == '0') n--;
  char out[64];
  size_t k = 0;
  if (d->neg) out[k++] = '-';
  if (d->x < -4 || d->x >= d->p) {
    out[k++] = d->dig[0];
    if (n > 1) {
      out[k++] = '.';
      for (int i = 1; i < n; i++) out[k++] = d->dig[i];
    }
    int ax = d->x < 0 ? -d->x : d->x;
    out[k++] = 'e';
    out[k++] = d->x < 0 ? '-' : '+';
    if (ax >= 100) out[k++] = (char)('0' + ax / 100);
    out[k++] = (char)('0' + ax / 10 % 10);
    out[k++] = (char)('0' + ax % 10);
    out[k] = 0;
  } else if (d->x >= 0) {
    for (int i = 0; i <= d->x; i++) out[k++] = i < n ? d->dig[i] : '0';
    if (n > d->x + 1) {
      out[k++] = '.';
      for (int i = d->x + 1; i < n; i++) out[k++] = d->dig[i];
    }
    out[k] = 0;
  } else {
    out[k++] = '0';
    out[k++] = '.';
    for (int i = 0; i < -d->x - 1; i++) out[k++] = '0';
    for (int i = 0; i < n; i++) out[k++] = d->dig[i];
    out[k] = 0;
  }
  if (k >= size) k = size - 1;
  memcpy(buf, out, k);
  buf[k] = 0;
}

/* The value strtod gives for the candidate: Clinger's fast path where it is exact (an
 * integer significand below 2^53 times a power of ten up to 22: one IEEE operation, one
 * rounding, the correctly rounded result), else strtod on its text. */
static double decimal_value(const decimal *d, const char *text) {
#if FLT_EVAL_METHOD == 0
  static const double p10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  int e = d->x - (d->p - 1);
  if (d->p <= 15 && e >= -22 && e <= 22) {
    uint64_t m = 0;
    for (int i = 0; i < d->p; i++) m = m * 10 + (uint64_t)(d->dig[i] - '0');
    double v = e >= 0 ? (double)m * p10[e] : (double)m / p10[-e];
    return d->neg ? -v : v;
  }
#endif
  double v = 0;
  qir_text_to_double(text, &v);
  return v;
}

/* p significant digits of |v| (first digit at exponent *x), rounded as printf does. */
static void printf_digits(double av, int p, char *dig, int *x) {
  char sci[48];
  snprintf(sci, sizeof sci, "%.*e", p - 1, av);
  int n = 0;
  const char *q = sci;
  for (; *q && *q != 'e'; q++)
    if (*q >= '0' && *q <= '9' && n < p) dig[n++] = *q;
  *x = *q == 'e' ? atoi(q + 1) : 0;
}

/* Round the P significant digits `all` of |v| (first digit at exponent x) to p digits.
 * Where the dropped digits are exactly 5000..., `all` itself may have been rounded up to
 * that, so the digits are asked of printf, which rounds the exact value. */
static void round_to(double av, const char *all, int P, int x, bool neg, int p, decimal *d) {
  d->neg = neg;
  d->p = p;
  d->x = x;
  bool tie = p < P && all[p] == '5';
  for (int i = p + 1; tie && i < P; i++) tie = all[i] == '0';
  if (tie) {
    printf_digits(av, p, d->dig, &d->x);
    return;
  }
  memcpy(d->dig, all, (size_t)p);
  if (p < P && all[p] >= '5') {
    int i = p - 1;
    while (i >= 0 && d->dig[i] == '9') d->dig[i--] = '0';
    if (i >= 0) {
      d->dig[i]++;
    } else { /* 99.9 -> 100 */
      d->dig[0] = '1';
      d->x++;
    }
  }
}

static bool candidate_gives(qc_dtype dt, double av, const char *all, int P, int x, bool neg,
                            int p, uint64_t code, char *buf, size_t size) {
  decimal d;
  round_to(av, all, P, x, neg, p, &d);
  format_g(&d, buf, size);
  return value_gives(dt, decimal_value(&d, buf), code);
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
  /* The value's significant digits, once (printf is slow and constants can have millions
   * of elements); 9 always read back as the same f32, 17 as the same double. */
  int P = dt == QC_F32 ? 9 : 17;
  bool neg = signbit(v) != 0;
  char all[24];
  int x;
  double av = fabs(v);
  printf_digits(av, P, all, &x);
  /* The fewest digits that read back: more digits read back whenever fewer do, so bisect;
   * the linear scan is the fallback should that ever not hold. The result is a function of
   * the code alone either way. */
  if (!candidate_gives(dt, av, all, P, x, neg, P, code, buf, size)) return false;
  int lo = 1, hi = P;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (candidate_gives(dt, av, all, P, x, neg, mid, code, buf, size)) hi = mid;
    else lo = mid + 1;
  }
  int prec = lo;
  if (!candidate_gives(dt, av, all, P, x, neg, prec, code, buf, size))
    for (prec = 1; prec <= P; prec++)
      if (candidate_gives(dt, av, all, P, x, neg, prec, code, buf, size)) break;
  /* %g writes 10 as "1e+01" at one digit: take a plain spelling when one is no longer (only
   * values of magnitude >= 10 can have one). */
  size_t best = strlen(buf);
  for (int k = prec + 1; fabs(v) >= 10 && strchr(buf, 'e') && (size_t)k <= best && k <= 17; k++) {
    char alt[40];
    snprintf(alt, sizeof alt, "%.*g", k, v);
    if (!strchr(alt, 'e') && strlen(alt) <= best && text_gives(dt, alt, code))
      snprintf(buf, size, "%s", alt);
  }
  return true;
}
