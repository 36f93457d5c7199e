/* JSON reading, and writing as Python's json module writes (ir/json.h). */
#include "ir/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- nodes ------------------------------------------------------------------------------- */

static qc_json *node(qc_arena *ar, qc_json_kind k) {
  qc_json *v = qc_arena_alloc(ar, sizeof *v);
  if (v) v->kind = (uint8_t)k;
  return v;
}
qc_json *qc_json_null(qc_arena *ar) { return node(ar, QC_JSON_NULL); }
qc_json *qc_json_bool(qc_arena *ar, bool b) {
  qc_json *v = node(ar, QC_JSON_BOOL);
  if (v) v->b = b;
  return v;
}
qc_json *qc_json_int(qc_arena *ar, int64_t i) {
  qc_json *v = node(ar, QC_JSON_INT);
  if (!v) return NULL;
  v->num = (double)i;
  v->text = qc_arena_printf(ar, "%" PRId64, i);
  if (!v->text) return NULL;
  v->len = strlen(v->text);
  return v;
}
qc_json *qc_json_float(qc_arena *ar, double d) {
  qc_json *v = node(ar, QC_JSON_FLOAT);
  if (v) v->num = d;
  return v;
}
qc_json *qc_json_string(qc_arena *ar, const char *s) {
  qc_json *v = node(ar, QC_JSON_STRING);
  if (!v) return NULL;
  v->len = strlen(s);
  v->text = qc_arena_memdup0(ar, s, v->len);
  return v->text ? v : NULL;
}
qc_json *qc_json_array(qc_arena *ar) { return node(ar, QC_JSON_ARRAY); }
qc_json *qc_json_object(qc_arena *ar) { return node(ar, QC_JSON_OBJECT); }

static void append(qc_json *parent, qc_json *v) {
  v->next = NULL;
  if (parent->last) parent->last->next = v;
  else parent->first = v;
  parent->last = v;
  parent->n++;
}

void qc_json_push(qc_json *arr, qc_json *v) {
  if (arr && v) append(arr, v);
}

qc_json *qc_json_get(const qc_json *obj, const char *key) {
  if (!qc_json_is(obj, QC_JSON_OBJECT)) return NULL;
  for (qc_json *c = obj->first; c; c = c->next)
    if (strcmp(c->key, key) == 0) return c;
  return NULL;
}

qc_json *qc_json_at(const qc_json *arr, int32_t i) {
  if (!qc_json_is(arr, QC_JSON_ARRAY) || i < 0) return NULL;
  qc_json *c = arr->first;
  while (c && i--) c = c->next;
  return c;
}

bool qc_json_set(qc_arena *ar, qc_json *obj, const char *key, qc_json *v) {
  if (!v || !qc_json_is(obj, QC_JSON_OBJECT)) return false;
  const char *k = qc_arena_strdup(ar, key);
  if (!k) return false;
  v->key = k;
  for (qc_json **p = &obj->first; *p; p = &(*p)->next)
    if (strcmp((*p)->key, key) == 0) {
      v->next = (*p)->next;
      if (obj->last == *p) obj->last = v;
      *p = v;
      return true;
    }
  append(obj, v);
  return true;
}

void qc_json_remove(qc_json *obj, const char *key) {
  if (!qc_json_is(obj, QC_JSON_OBJECT)) return;
  qc_json *prev = NULL;
  for (qc_json *c = obj->first; c; prev = c, c = c->next)
    if (strcmp(c->key, key) == 0) {
      if (prev) prev->next = c->next;
      else obj->first = c->next;
      if (obj->last == c) obj->last = prev;
      obj->n--;
      return;
    }
}

qc_json *qc_json_clone(qc_arena *ar, const qc_json *v) {
  qc_json *c = node(ar, (qc_json_kind)v->kind);
  if (!c) return NULL;
  c->b = v->b;
  c->num = v->num;
  c->len = v->len;
  if (v->text && !(c->text = qc_arena_memdup0(ar, v->text, v->len))) return NULL;
  for (const qc_json *e = v->first; e; e = e->next) {
    qc_json *ec = qc_json_clone(ar, e);
    if (!ec) return NULL;
    if (e->key && !(ec->key = qc_arena_strdup(ar, e->key))) return NULL;
    append(c, ec);
  }
  return c;
}

const char *qc_json_str(const qc_json *v) { return qc_json_is(v, QC_JSON_STRING) ? v->text : NULL; }
bool qc_json_is_true(const qc_json *v) { return qc_json_is(v, QC_JSON_BOOL) && v->b; }
double qc_json_num(const qc_json *v, double dflt) {
  return v && (v->kind == QC_JSON_INT || v->kind == QC_JSON_FLOAT) ? v->num : dflt;
}
int64_t qc_json_i64(const qc_json *v, int64_t dflt) {
  if (!v || (v->kind != QC_JSON_INT && v->kind != QC_JSON_FLOAT)) return dflt;
  if (v->kind == QC_JSON_INT) {
    errno = 0;
    long long x = strtoll(v->text, NULL, 10);
    return errno ? dflt : (int64_t)x;
  }
  return v->num == floor(v->num) && fabs(v->num) < 9.2e18 ? (int64_t)v->num : dflt;
}

bool qc_json_equal(const qc_json *a, const qc_json *b) {
  if (!a || !b) return a == b;
  if (a->kind != b->kind || a->n != b->n) return false;
  switch (a->kind) {
  case QC_JSON_NULL: return true;
  case QC_JSON_BOOL: return a->b == b->b;
  case QC_JSON_INT: return strcmp(a->text, b->text) == 0;
  case QC_JSON_FLOAT: return a->num == b->num || (isnan(a->num) && isnan(b->num));
  case QC_JSON_STRING: return a->len == b->len && memcmp(a->text, b->text, a->len) == 0;
  case QC_JSON_ARRAY:
    for (const qc_json *x = a->first, *y = b->first; x; x = x->next, y = y->next)
      if (!qc_json_equal(x, y)) return false;
    return true;
  default:
    for (const qc_json *x = a->first; x; x = x->next)
      if (!qc_json_equal(x, qc_json_get(b, x->key))) return false;
    return true;
  }
}

/* ---- the reader ------------------------------------------------------------------------- */

void qc_json_reader_init(qc_json_reader *r, const char *s, size_t n, qc_arena *arena,
                         unsigned flags, int max_depth) {
  memset(r, 0, sizeof *r);
  r->s = s;
  r->n = n;
  r->arena = arena;
  r->flags = flags;
  r->max_depth = max_depth > 0 ? max_depth : 128;
}

bool qc_json_fail(qc_json_reader *r, const char *fmt, ...) {
  if (r->failed) return false;
  r->failed = true;
  r->err_pos = r->pos;
  int k = snprintf(r->err, sizeof r->err, "at byte %zu: ", r->pos);
  if (k < 0 || (size_t)k >= sizeof r->err) k = 0;
  r->err_what = r->err + k;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->err + k, sizeof r->err - (size_t)k, fmt, ap);
  va_end(ap);
  return false;
}

static void skip_ws(qc_json_reader *r) {
  while (r->pos < r->n) {
    char c = r->s[r->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    r->pos++;
  }
}

char qc_json_peek(qc_json_reader *r) {
  skip_ws(r);
  return r->pos < r->n ? r->s[r->pos] : 0;
}

bool qc_json_accept(qc_json_reader *r, char c) {
  if (r->failed) return false;
  if (qc_json_peek(r) == c && r->pos < r->n) {
    r->pos++;
    return true;
  }
  return false;
}

bool qc_json_expect(qc_json_reader *r, char c) {
  if (r->failed) return false;
  if (qc_json_accept(r, c)) return true;
  if (r->pos >= r->n) return qc_json_fail(r, "expected '%c', found the end of the text", c);
  return qc_json_fail(r, "expected '%c'", c);
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Four hex digits at s[0..3] (the caller checked they are inside the text), or -1. */
static int32_t hex4(const char *s) {
  int32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(s[i]);
    if (h < 0) return -1;
    v = v << 4 | h;
  }
  return v;
}

static bool read_hex4(qc_json_reader *r, uint32_t *out) {
  if (r->n - r->pos < 4) return qc_json_fail(r, "truncated \\u escape");
  int32_t v = hex4(r->s + r->pos);
  if (v < 0) return qc_json_fail(r, "invalid \\u escape");
  r->pos += 4;
  *out = (uint32_t)v;
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

/* The code point of a \u escape whose four digits were just read (r->pos is past them):
 * a leading surrogate takes the trailing one that follows. QC_JSON_LONE_SURROGATES keeps a
 * lone surrogate as it is (its 3-byte form is what json.loads gives). */
static bool escaped_code_point(qc_json_reader *r, uint32_t *cp, size_t end) {
  bool python = r->flags & QC_JSON_LONE_SURROGATES;
  if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
    return python || qc_json_fail(r, "lone trailing surrogate in \\u escape");
  }
  if (*cp < 0xD800 || *cp > 0xDBFF) return true;
  if (python) {
    if (end - r->pos < 6 || r->s[r->pos] != '\\' || r->s[r->pos + 1] != 'u') return true;
    int32_t lo = hex4(r->s + r->pos + 2);
    if (lo < 0xDC00 || lo > 0xDFFF) return true;
    r->pos += 6;
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
    return true;
  }
  uint32_t lo;
  if (r->n - r->pos < 2 || r->s[r->pos] != '\\' || r->s[r->pos + 1] != 'u')
    return qc_json_fail(r, "lone leading surrogate in \\u escape");
  r->pos += 2;
  if (!read_hex4(r, &lo)) return false;
  if (lo < 0xDC00 || lo > 0xDFFF) return qc_json_fail(r, "lone leading surrogate in \\u escape");
  *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
  return true;
}

/* Every escape shrinks or keeps the length (a 6-byte \uXXXX gives at most 3 bytes, a
 * 12-byte pair 4), so the raw length bounds the output. */
bool qc_json_read_string(qc_json_reader *r, char **out, size_t *len) {
  if (r->failed) return false;
  if (qc_json_peek(r) != '"') return qc_json_fail(r, "expected a string");
  r->pos++;
  size_t start = r->pos;
  /* Find the closing quote first to size the copy. */
  size_t end = start;
  bool escapes = false;
  while (end < r->n && r->s[end] != '"') {
    if (r->s[end] == '\\') {
      escapes = true;
      end++;
    }
    end++;
  }
  if (end >= r->n) return qc_json_fail(r, "unterminated string");
  char *o = NULL;
  if (out) {
    o = qc_arena_alloc(r->arena, end - start + 1);
    if (!o) return qc_json_fail(r, "out of memory");
  }
  size_t k = 0;
  if (!escapes) {
    for (size_t i = start; i < end; i++)
      if ((unsigned char)r->s[i] < 0x20) {
        r->pos = i;
        return qc_json_fail(r, "control character in a string");
      }
    if (o) memcpy(o, r->s + start, end - start);
    k = end - start;
    r->pos = end + 1;
  } else {
    while (r->pos < end) {
      unsigned char c = (unsigned char)r->s[r->pos];
      if (c < 0x20) return qc_json_fail(r, "control character in a string");
      if (c != '\\') {
        if (o) o[k] = (char)c;
        k++;
        r->pos++;
        continue;
      }
      r->pos++;
      char e = r->s[r->pos++];
      char x;
      switch (e) {
      case '"': x = '"'; break;
      case '\\': x = '\\'; break;
      case '/': x = '/'; break;
      case 'b': x = '\b'; break;
      case 'f': x = '\f'; break;
      case 'n': x = '\n'; break;
      case 'r': x = '\r'; break;
      case 't': x = '\t'; break;
      case 'u': {
        uint32_t cp;
        if (!read_hex4(r, &cp) || !escaped_code_point(r, &cp, end)) return false;
        char tmp[4];
        size_t m = put_utf8(tmp, cp);
        if (o) memcpy(o + k, tmp, m);
        k += m;
        continue;
      }
      default: r->pos--; return qc_json_fail(r, "invalid escape '\\%c'", e);
      }
      if (o) o[k] = x;
      k++;
    }
    if (r->pos > end) return qc_json_fail(r, "invalid escape at the end of a string");
    r->pos = end + 1;
  }
  if (o) o[k] = 0;
  if (out) *out = o;
  if (len) *len = k;
  return true;
}

static bool match_word(qc_json_reader *r, const char *w) {
  size_t k = strlen(w);
  if (r->n - r->pos >= k && memcmp(r->s + r->pos, w, k) == 0) {
    r->pos += k;
    return true;
  }
  return false;
}

bool qc_json_read_number(qc_json_reader *r, const char **text, size_t *len, bool *is_int) {
  if (r->failed) return false;
  char c = qc_json_peek(r);
  size_t s = r->pos;
  *text = r->s + s;
  *is_int = false;
  if ((r->flags & QC_JSON_NONFINITE) && (match_word(r, "NaN") || match_word(r, "Infinity") ||
                                       match_word(r, "-Infinity"))) {
    *len = r->pos - s;
    return true;
  }
  if (c == '-') r->pos++;
  if (r->pos >= r->n || r->s[r->pos] < '0' || r->s[r->pos] > '9') {
    r->pos = s;
    return qc_json_fail(r, "expected a number");
  }
  if (r->s[r->pos] == '0') r->pos++;
  else
    while (r->pos < r->n && r->s[r->pos] >= '0' && r->s[r->pos] <= '9') r->pos++;
  *is_int = true;
  if (r->pos < r->n && r->s[r->pos] == '.') {
    *is_int = false;
    r->pos++;
    if (r->pos >= r->n || r->s[r->pos] < '0' || r->s[r->pos] > '9')
      return qc_json_fail(r, "expected a digit after '.'");
    while (r->pos < r->n && r->s[r->pos] >= '0' && r->s[r->pos] <= '9') r->pos++;
  }
  if (r->pos < r->n && (r->s[r->pos] == 'e' || r->s[r->pos] == 'E')) {
    *is_int = false;
    r->pos++;
    if (r->pos < r->n && (r->s[r->pos] == '+' || r->s[r->pos] == '-')) r->pos++;
    if (r->pos >= r->n || r->s[r->pos] < '0' || r->s[r->pos] > '9')
      return qc_json_fail(r, "expected a digit in the exponent");
    while (r->pos < r->n && r->s[r->pos] >= '0' && r->s[r->pos] <= '9') r->pos++;
  }
  *len = r->pos - s;
  return true;
}

bool qc_json_text_u64(const char *text, size_t len, uint64_t *out) {
  if (len == 0 || text[0] < '0' || text[0] > '9') return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] < '0' || text[i] > '9') return false;
    uint64_t d = (uint64_t)(text[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool qc_json_read_u64(qc_json_reader *r, uint64_t *out) {
  size_t s = (qc_json_peek(r), r->pos), len;
  const char *t;
  bool is_int;
  if (!qc_json_read_number(r, &t, &len, &is_int)) return false;
  if (t[0] == '-') {
    r->pos = s;
    return qc_json_fail(r, "expected a non-negative integer, found a negative number");
  }
  if (!is_int) {
    r->pos = s;
    return qc_json_fail(r, "expected an integer, found a fraction or an exponent");
  }
  if (!qc_json_text_u64(t, len, out)) {
    r->pos = s;
    return qc_json_fail(r, "integer does not fit in 64 bits");
  }
  return true;
}

bool qc_json_read_null(qc_json_reader *r) {
  if (r->failed) return false;
  return qc_json_peek(r) == 'n' && match_word(r, "null");
}

bool qc_json_read_bool(qc_json_reader *r, bool *out) {
  if (r->failed) return false;
  char c = qc_json_peek(r);
  if (c == 't' && match_word(r, "true")) *out = true;
  else if (c == 'f' && match_word(r, "false")) *out = false;
  else return false;
  return true;
}

bool qc_json_read_end(qc_json_reader *r) {
  if (r->failed) return false;
  skip_ws(r);
  if (r->pos != r->n) return qc_json_fail(r, "trailing characters after the JSON value");
  return true;
}

static bool open_container(qc_json_reader *r, char c, const char *what) {
  if (r->failed) return false;
  if (qc_json_peek(r) != c) return qc_json_fail(r, "expected %s", what);
  if (r->depth >= r->max_depth) return qc_json_fail(r, "nesting deeper than %d levels", r->max_depth);
  r->pos++;
  r->depth++;
  return true;
}

/* The closing bracket, if it is next. */
static bool close_container(qc_json_reader *r, char c) {
  if (!qc_json_accept(r, c)) return false;
  r->depth--;
  return true;
}

bool qc_json_object_begin(qc_json_reader *r) { return open_container(r, '{', "an object"); }
bool qc_json_array_begin(qc_json_reader *r) { return open_container(r, '[', "an array"); }

/* The ',' between members or elements, or fail naming the bracket that could close. */
static bool separator(qc_json_reader *r, char close) {
  if (qc_json_accept(r, ',')) return true;
  if (r->pos >= r->n) return qc_json_fail(r, "expected ',' or '%c', found the end of the text", close);
  return qc_json_fail(r, "expected ',' or '%c'", close);
}

bool qc_json_object_next(qc_json_reader *r, bool *first, char **key, size_t *key_len) {
  if (r->failed) return false;
  if (close_container(r, '}')) return false;
  if (!*first && !separator(r, '}')) return false;
  *first = false;
  if (qc_json_peek(r) != '"') return qc_json_fail(r, "expected a string key");
  r->key_pos = r->pos;
  if (!qc_json_read_string(r, key, key_len)) return false;
  return qc_json_expect(r, ':');
}

bool qc_json_array_next(qc_json_reader *r, bool *first) {
  if (r->failed) return false;
  if (close_container(r, ']')) return false;
  if (*first) {
    *first = false;
    return true;
  }
  return separator(r, ']');
}

/* One value: checked, and built into *out unless out is NULL (then only checked, and
 * duplicate keys are let through). */
static bool read_value(qc_json_reader *r, qc_json **out) {
  if (r->failed) return false;
  char c = qc_json_peek(r);
  qc_json *v = NULL;
  bool truth;
  if (c == '{' || c == '[') {
    bool obj = c == '{';
    if (out && !(v = node(r->arena, obj ? QC_JSON_OBJECT : QC_JSON_ARRAY)))
      return qc_json_fail(r, "out of memory");
    if (!(obj ? qc_json_object_begin(r) : qc_json_array_begin(r))) return false;
    bool first = true;
    char *key = NULL;
    size_t klen = 0;
    while (obj ? qc_json_object_next(r, &first, v ? &key : NULL, &klen)
               : qc_json_array_next(r, &first)) {
      if (v && obj) {
        if (strlen(key) != klen) return qc_json_fail(r, "key holds U+0000");
        if (qc_json_get(v, key)) return qc_json_fail(r, "duplicate key \"%.120s\"", key);
      }
      qc_json *e = NULL;
      if (!read_value(r, v ? &e : NULL)) return false;
      if (v) {
        e->key = key;
        append(v, e);
      }
    }
    if (r->failed) return false;
  } else if (c == '"') {
    if (out && !(v = node(r->arena, QC_JSON_STRING))) return qc_json_fail(r, "out of memory");
    char *t;
    if (!qc_json_read_string(r, v ? &t : NULL, v ? &v->len : NULL)) return false;
    if (v) v->text = t;
  } else if (c == '-' || (c >= '0' && c <= '9') ||
             ((r->flags & QC_JSON_NONFINITE) && (c == 'N' || c == 'I'))) {
    const char *lit;
    size_t len;
    bool is_int;
    if (!qc_json_read_number(r, &lit, &len, &is_int)) return false;
    if (out) {
      char *t = qc_arena_memdup0(r->arena, lit, len);
      if (!t || !(v = node(r->arena, is_int ? QC_JSON_INT : QC_JSON_FLOAT)))
        return qc_json_fail(r, "out of memory");
      v->num = strtod(t, NULL); /* reads NaN, Infinity and -Infinity as well */
      if (is_int) {
        /* Python prints int(literal): "-0" is 0. */
        v->text = strcmp(t, "-0") == 0 ? "0" : t;
        v->len = strlen(v->text);
      }
    }
  } else if (match_word(r, "null")) {
    if (out && !(v = node(r->arena, QC_JSON_NULL))) return qc_json_fail(r, "out of memory");
  } else if (qc_json_read_bool(r, &truth)) {
    if (out && !(v = qc_json_bool(r->arena, truth))) return qc_json_fail(r, "out of memory");
  } else if (r->pos >= r->n) {
    return qc_json_fail(r, "expected a value, found the end of the text");
  } else {
    return qc_json_fail(r, "expected a value");
  }
  if (out) *out = v;
  return true;
}

bool qc_json_skip(qc_json_reader *r) { return read_value(r, NULL); }

qc_json *qc_json_parse(qc_arena *ar, const char *s, size_t n, char *err, size_t err_len) {
  qc_json_reader r;
  qc_json_reader_init(&r, s, n, ar, QC_JSON_NONFINITE | QC_JSON_LONE_SURROGATES, 512);
  qc_json *v = NULL;
  if (read_value(&r, &v) && qc_json_read_end(&r)) return v;
  if (err && err_len) snprintf(err, err_len, "%s", r.err);
  return NULL;
}

/* ---- writing ----------------------------------------------------------------------------- */

void qc_json_format_double(double x, char *buf) {
  if (isnan(x)) {
    strcpy(buf, "NaN");
    return;
  }
  if (isinf(x)) {
    strcpy(buf, x < 0 ? "-Infinity" : "Infinity");
    return;
  }
  if (x == 0) {
    strcpy(buf, signbit(x) ? "-0.0" : "0.0");
    return;
  }
  /* Shortest digits that read back to x (as repr's dtoa mode 0 finds them). */
  char t[40];
  int prec = 0;
  for (prec = 0; prec < 17; prec++) {
    snprintf(t, sizeof t, "%.*e", prec, x);
    if (strtod(t, NULL) == x) break;
  }
  snprintf(t, sizeof t, "%.*e", prec, x);
  /* t = [-]d[.ddd]e[+-]XX */
  char digits[24];
  int nd = 0;
  const char *q = t;
  bool neg = *q == '-';
  if (neg) q++;
  for (; *q && *q != 'e'; q++)
    if (*q >= '0' && *q <= '9') digits[nd++] = *q;
  int e10 = atoi(q + 1);
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  digits[nd] = 0;
  int decpt = e10 + 1; /* value = 0.DIGITS * 10^decpt */
  char *o = buf;
  if (neg) *o++ = '-';
  if (decpt <= -4 || decpt > 16) {
    *o++ = digits[0];
    if (nd > 1) {
      *o++ = '.';
      memcpy(o, digits + 1, (size_t)nd - 1);
      o += nd - 1;
    }
    sprintf(o, "e%c%02d", e10 < 0 ? '-' : '+', e10 < 0 ? -e10 : e10);
    return;
  }
  if (decpt <= 0) {
    *o++ = '0';
    *o++ = '.';
    for (int i = 0; i < -decpt; i++) *o++ = '0';
    memcpy(o, digits, (size_t)nd);
    o += nd;
  } else if (decpt >= nd) {
    memcpy(o, digits, (size_t)nd);
    o += nd;
    for (int i = nd; i < decpt; i++) *o++ = '0';
    *o++ = '.';
    *o++ = '0';
  } else {
    memcpy(o, digits, (size_t)decpt);
    o += decpt;
    *o++ = '.';
    memcpy(o, digits + decpt, (size_t)(nd - decpt));
    o += nd - decpt;
  }
  *o = 0;
}

/* Python's json string encoder (json.h). */
void qc_json_put_string(qc_bytes *w, const char *s, size_t len, bool ascii) {
  qc_bytes_put(w, "\"", 1);
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    uint32_t cp = u[i];
    size_t k = 1;
    if (!ascii) {
      /* bytes from 0x80 up are written as they are */
    } else if (cp >= 0xF0 && i + 3 < len) {
      cp = (uint32_t)(u[i] & 7) << 18 | (uint32_t)(u[i + 1] & 63) << 12 | (uint32_t)(u[i + 2] & 63) << 6 | (u[i + 3] & 63);
      k = 4;
    } else if (cp >= 0xE0 && i + 2 < len) {
      cp = (uint32_t)(u[i] & 15) << 12 | (uint32_t)(u[i + 1] & 63) << 6 | (u[i + 2] & 63);
      k = 3;
    } else if (cp >= 0xC0 && i + 1 < len) {
      cp = (uint32_t)(u[i] & 31) << 6 | (u[i + 1] & 63);
      k = 2;
    }
    i += k;
    char t[16];
    switch (cp) {
    case '"': qc_bytes_put(w, "\\\"", 2); continue;
    case '\\': qc_bytes_put(w, "\\\\", 2); continue;
    case '\n': qc_bytes_put(w, "\\n", 2); continue;
    case '\r': qc_bytes_put(w, "\\r", 2); continue;
    case '\t': qc_bytes_put(w, "\\t", 2); continue;
    case '\b': qc_bytes_put(w, "\\b", 2); continue;
    case '\f': qc_bytes_put(w, "\\f", 2); continue;
    default: break;
    }
    if (cp >= 0x20 && (cp < 0x7F || !ascii)) {
      qc_bytes_putc(w, (char)cp);
    } else if (cp >= 0x10000) {
      uint32_t v = cp - 0x10000;
      snprintf(t, sizeof t, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      qc_bytes_puts(w, t);
    } else {
      snprintf(t, sizeof t, "\\u%04x", cp);
      qc_bytes_puts(w, t);
    }
  }
  qc_bytes_put(w, "\"", 1);
}

void qc_json_put_double(qc_bytes *b, double x) {
  char t[40];
  qc_json_format_double(x, t);
  qc_bytes_puts(b, t);
}

void qc_json_put_int(qc_bytes *b, int64_t v) {
  char t[32];
  snprintf(t, sizeof t, "%" PRId64, v);
  qc_bytes_puts(b, t);
}

static int cmp_key(const void *a, const void *b) {
  const qc_json *x = *(qc_json *const *)a, *y = *(qc_json *const *)b;
  return strcmp(x->key, y->key);
}

static void newline(qc_bytes *w, int indent, int level) {
  qc_bytes_put(w, "\n", 1);
  for (int i = 0; i < indent * level; i++) qc_bytes_put(w, " ", 1);
}

static void wvalue(qc_bytes *w, const qc_json *v, int indent, bool sort, int level) {
  switch (v->kind) {
  case QC_JSON_NULL: qc_bytes_puts(w, "null"); return;
  case QC_JSON_BOOL: qc_bytes_puts(w, v->b ? "true" : "false"); return;
  case QC_JSON_INT: qc_bytes_put(w, v->text, v->len); return;
  case QC_JSON_FLOAT: qc_json_put_double(w, v->num); return;
  case QC_JSON_STRING: qc_json_put_string(w, v->text, v->len, true); return;
  default: break;
  }
  bool obj = v->kind == QC_JSON_OBJECT;
  if (!v->n) {
    qc_bytes_puts(w, obj ? "{}" : "[]");
    return;
  }
  const qc_json **items = malloc(sizeof *items * (size_t)v->n);
  if (!items) {
    w->oom = true;
    return;
  }
  int32_t n = 0;
  for (const qc_json *c = v->first; c; c = c->next) items[n++] = c;
  if (obj && sort) qsort(items, (size_t)n, sizeof *items, cmp_key);
  qc_bytes_put(w, obj ? "{" : "[", 1);
  for (int32_t i = 0; i < n; i++) {
    if (i) qc_bytes_puts(w, indent >= 0 ? "," : ", ");
    if (indent >= 0) newline(w, indent, level + 1);
    if (obj) {
      qc_json_put_cstring(w, items[i]->key);
      qc_bytes_puts(w, ": ");
    }
    wvalue(w, items[i], indent, sort, level + 1);
  }
  if (indent >= 0) newline(w, indent, level);
  qc_bytes_put(w, obj ? "}" : "]", 1);
  free(items);
}

char *qc_json_write(const qc_json *v, int indent, bool sort_keys, size_t *len) {
  qc_bytes w = {0};
  wvalue(&w, v, indent, sort_keys, 0);
  if (w.oom || !w.p) {
    free(w.p);
    return NULL;
  }
  if (len) *len = w.n;
  return w.p;
}
