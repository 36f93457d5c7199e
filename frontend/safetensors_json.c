/* The strict JSON tokenizer of safetensors_json.h. */
#include "frontend/safetensors_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define SJ_MAX_DEPTH 128

void sj_init(sj_parser *p, const char *s, size_t n, qc_arena *arena) {
  memset(p, 0, sizeof *p);
  p->s = s;
  p->n = n;
  p->arena = arena;
}

bool sj_fail(sj_parser *p, const char *fmt, ...) {
  if (p->failed) return false;
  p->failed = true;
  int k = snprintf(p->err, sizeof p->err, "at byte %zu: ", p->pos);
  if (k < 0 || (size_t)k >= sizeof p->err) return false;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err + k, sizeof p->err - (size_t)k, fmt, ap);
  va_end(ap);
  return false;
}

static void skip_ws(sj_parser *p) {
  while (p->pos < p->n) {
    char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

char sj_peek(sj_parser *p) {
  skip_ws(p);
  return p->pos < p->n ? p->s[p->pos] : 0;
}

bool sj_accept(sj_parser *p, char c) {
  if (p->failed) return false;
  if (sj_peek(p) == c && p->pos < p->n) {
    p->pos++;
    return true;
  }
  return false;
}

bool sj_expect(sj_parser *p, char c) {
  if (p->failed) return false;
  if (sj_accept(p, c)) return true;
  if (p->pos >= p->n) return sj_fail(p, "expected '%c', found the end of the text", c);
  return sj_fail(p, "expected '%c'", c);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool read_hex4(sj_parser *p, uint32_t *out) {
  if (p->n - p->pos < 4) return sj_fail(p, "truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p->s[p->pos + (size_t)i]);
    if (h < 0) return sj_fail(p, "invalid \\u escape");
    v = v << 4 | (uint32_t)h;
  }
  p->pos += 4;
  *out = v;
  return true;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Scan a string starting at the opening quote; if `out` is not NULL, unescape into the
 * arena. Every escape shrinks or keeps the length (a 6-byte \uXXXX gives at most 3 bytes,
 * a 12-byte pair 4), so the raw length bounds the output. */
static bool scan_string(sj_parser *p, char **out, size_t *len) {
  if (p->failed) return false;
  if (sj_peek(p) != '"') return sj_fail(p, "expected a string");
  p->pos++;
  size_t start = p->pos;
  /* Find the closing quote first to size the copy. */
  size_t end = start;
  bool escapes = false;
  while (end < p->n && p->s[end] != '"') {
    if (p->s[end] == '\\') {
      escapes = true;
      end++;
    }
    end++;
  }
  if (end >= p->n) return sj_fail(p, "unterminated string");
  char *o = NULL;
  if (out) {
    o = qc_arena_alloc(p->arena, end - start + 1);
    if (!o) return sj_fail(p, "out of memory");
  }
  size_t k = 0;
  if (!escapes) {
    for (size_t i = start; i < end; i++)
      if ((unsigned char)p->s[i] < 0x20) {
        p->pos = i;
        return sj_fail(p, "control character in a string");
      }
    if (o) memcpy(o, p->s + start, end - start);
    k = end - start;
    p->pos = end + 1;
  } else {
    while (p->pos < end) {
      unsigned char c = (unsigned char)p->s[p->pos];
      if (c < 0x20) return sj_fail(p, "control character in a string");
      if (c != '\\') {
        if (o) o[k] = (char)c;
        k++;
        p->pos++;
        continue;
      }
      p->pos++;
      char e = p->s[p->pos++];
      char r;
      switch (e) {
      case '"': r = '"'; break;
      case '\\': r = '\\'; break;
      case '/': r = '/'; break;
      case 'b': r = '\b'; break;
      case 'f': r = '\f'; break;
      case 'n': r = '\n'; break;
      case 'r': r = '\r'; break;
      case 't': r = '\t'; break;
      case 'u': {
        uint32_t cp;
        if (!read_hex4(p, &cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return sj_fail(p, "lone trailing surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo;
          if (p->n - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
            return sj_fail(p, "lone leading surrogate in \\u escape");
          p->pos += 2;
          if (!read_hex4(p, &lo)) return false;
          if (lo < 0xDC00 || lo > 0xDFFF) return sj_fail(p, "lone leading surrogate in \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        char tmp[4];
        size_t m = put_utf8(tmp, cp);
        if (o) memcpy(o + k, tmp, m);
        k += m;
        continue;
      }
      default: p->pos--; return sj_fail(p, "invalid escape '\\%c'", e);
      }
      if (o) o[k] = r;
      k++;
    }
    if (p->pos > end) return sj_fail(p, "invalid escape at the end of a string");
    p->pos = end + 1;
  }
  if (o) o[k] = 0;
  if (out) *out = o;
  if (len) *len = k;
  return true;
}

bool sj_string(sj_parser *p, char **out, size_t *len) { return scan_string(p, out, len); }

/* Scan the number grammar; report the integer part's span and whether a fraction or an
 * exponent follows. */
static bool scan_number(sj_parser *p, bool *neg, size_t *int_start, size_t *int_end, bool *is_int) {
  if (p->failed) return false;
  char c = sj_peek(p);
  size_t s = p->pos;
  *neg = false;
  if (c == '-') {
    *neg = true;
    p->pos++;
  }
  if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
    p->pos = s;
    return sj_fail(p, "expected a number");
  }
  *int_start = p->pos;
  if (p->s[p->pos] == '0') p->pos++;
  else
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
  *int_end = p->pos;
  *is_int = true;
  if (p->pos < p->n && p->s[p->pos] == '.') {
    *is_int = false;
    p->pos++;
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
      return sj_fail(p, "expected a digit after '.'");
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
  }
  if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    *is_int = false;
    p->pos++;
    if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9')
      return sj_fail(p, "expected a digit in the exponent");
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
  }
  return true;
}

static bool digits_u64(const char *s, size_t a, size_t b, uint64_t *out) {
  uint64_t v = 0;
  for (size_t i = a; i < b; i++) {
    uint64_t d = (uint64_t)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool sj_u64(sj_parser *p, uint64_t *out) {
  size_t s = (sj_peek(p), p->pos), a, b;
  bool neg, is_int;
  if (!scan_number(p, &neg, &a, &b, &is_int)) return false;
  if (neg) {
    p->pos = s;
    return sj_fail(p, "expected a non-negative integer, found a negative number");
  }
  if (!is_int) {
    p->pos = s;
    return sj_fail(p, "expected an integer, found a fraction or an exponent");
  }
  if (!digits_u64(p->s, a, b, out)) {
    p->pos = s;
    return sj_fail(p, "integer does not fit in 64 bits");
  }
  return true;
}

bool sj_number(sj_parser *p, double *d, bool *is_u64, uint64_t *u) {
  size_t s = (sj_peek(p), p->pos), a, b;
  bool neg, is_int;
  if (!scan_number(p, &neg, &a, &b, &is_int)) return false;
  *is_u64 = !neg && is_int && digits_u64(p->s, a, b, u);
  size_t len = p->pos - s;
  char buf[64];
  if (len < sizeof buf) {
    memcpy(buf, p->s + s, len);
    buf[len] = 0;
    *d = strtod(buf, NULL);
  } else {
    *d = *is_u64 ? (double)*u : HUGE_VAL; /* absurdly long literal */
  }
  return true;
}

static bool match_word(sj_parser *p, const char *w) {
  size_t k = strlen(w);
  if (p->n - p->pos >= k && memcmp(p->s + p->pos, w, k) == 0) {
    p->pos += k;
    return true;
  }
  return false;
}

bool sj_null(sj_parser *p) {
  if (p->failed) return false;
  if (sj_peek(p) == 'n' && match_word(p, "null")) return true;
  return false;
}

static bool skip(sj_parser *p, int depth) {
  if (depth > SJ_MAX_DEPTH) return sj_fail(p, "nesting deeper than %d levels", SJ_MAX_DEPTH);
  char c = sj_peek(p);
  switch (c) {
  case '{': {
    p->pos++;
    if (sj_accept(p, '}')) return true;
    do {
      if (!scan_string(p, NULL, NULL) || !sj_expect(p, ':') || !skip(p, depth + 1)) return false;
    } while (sj_accept(p, ','));
    return sj_expect(p, '}');
  }
  case '[': {
    p->pos++;
    if (sj_accept(p, ']')) return true;
    do {
      if (!skip(p, depth + 1)) return false;
    } while (sj_accept(p, ','));
    return sj_expect(p, ']');
  }
  case '"': return scan_string(p, NULL, NULL);
  case 't': if (match_word(p, "true")) return true; break;
  case 'f': if (match_word(p, "false")) return true; break;
  case 'n': if (match_word(p, "null")) return true; break;
  default: {
    if (c == '-' || (c >= '0' && c <= '9')) {
      bool neg, is_int;
      size_t a, b;
      return scan_number(p, &neg, &a, &b, &is_int);
    }
    break;
  }
  }
  if (p->pos >= p->n) return sj_fail(p, "expected a value, found the end of the text");
  return sj_fail(p, "expected a value");
}

bool sj_skip_value(sj_parser *p) { return !p->failed && skip(p, 1); }

bool sj_end(sj_parser *p) {
  if (p->failed) return false;
  skip_ws(p);
  if (p->pos != p->n) return sj_fail(p, "trailing characters after the JSON value");
  return true;
}

bool sj_object_begin(sj_parser *p) {
  if (p->failed) return false;
  if (sj_peek(p) != '{') return sj_fail(p, "expected an object");
  p->pos++;
  return true;
}

bool sj_object_next(sj_parser *p, bool *first, char **key, size_t *key_len) {
  if (p->failed) return false;
  if (*first) {
    *first = false;
    if (sj_accept(p, '}')) return false;
  } else {
    if (sj_accept(p, '}')) return false;
    if (!sj_expect(p, ',')) return false;
  }
  if (sj_peek(p) != '"') return sj_fail(p, "expected a key string");
  if (!scan_string(p, key, key_len)) return false;
  return sj_expect(p, ':');
}

bool sj_array_begin(sj_parser *p) {
  if (p->failed) return false;
  if (sj_peek(p) != '[') return sj_fail(p, "expected an array");
  p->pos++;
  return true;
}

bool sj_array_next(sj_parser *p, bool *first) {
  if (p->failed) return false;
  if (*first) {
    *first = false;
    if (sj_accept(p, ']')) return false;
    return true;
  }
  if (sj_accept(p, ']')) return false;
  return sj_expect(p, ',');
}
