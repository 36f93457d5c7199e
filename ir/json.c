/* JSON documents written as Python's json module writes them (ir/json.h). */
#include "ir/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
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

/* ---- parsing ----------------------------------------------------------------------------- */

typedef struct jp {
  qc_arena *ar;
  const char *s;
  size_t n, pos;
  char *err;
  size_t err_len;
  bool failed;
  int depth;
} jp;

static bool jfail(jp *p, const char *what) {
  if (!p->failed && p->err && p->err_len)
    snprintf(p->err, p->err_len, "%s at byte %zu", what, p->pos);
  p->failed = true;
  return false;
}

static void ws(jp *p) {
  while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
                           p->s[p->pos] == '\r'))
    p->pos++;
}

static bool lit(jp *p, const char *w) {
  size_t k = strlen(w);
  if (p->n - p->pos >= k && memcmp(p->s + p->pos, w, k) == 0) {
    p->pos += k;
    return true;
  }
  return false;
}

static int hex4(const char *s) {
  int v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= c - '0';
    else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
    else return -1;
  }
  return v;
}

static size_t put_utf8(char *o, uint32_t cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 63));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | ((cp >> 6) & 63));
    o[2] = (char)(0x80 | (cp & 63));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | ((cp >> 12) & 63));
  o[2] = (char)(0x80 | ((cp >> 6) & 63));
  o[3] = (char)(0x80 | (cp & 63));
  return 4;
}

/* A string literal (the opening quote is next); unescaped into the arena. */
static bool jstring(jp *p, const char **out, size_t *len) {
  p->pos++; /* '"' */
  size_t start = p->pos;
  while (p->pos < p->n && p->s[p->pos] != '"') {
    if ((unsigned char)p->s[p->pos] < 0x20) return jfail(p, "control character in a string");
    if (p->s[p->pos] == '\\') p->pos++;
    p->pos++;
  }
  if (p->pos >= p->n) return jfail(p, "unterminated string");
  size_t end = p->pos++;
  char *o = qc_arena_alloc(p->ar, end - start + 1);
  if (!o) return jfail(p, "out of memory");
  size_t k = 0;
  for (size_t i = start; i < end; i++) {
    char c = p->s[i];
    if (c != '\\') {
      o[k++] = c;
      continue;
    }
    c = p->s[++i];
    switch (c) {
    case '"': o[k++] = '"'; break;
    case '\\': o[k++] = '\\'; break;
    case '/': o[k++] = '/'; break;
    case 'b': o[k++] = '\b'; break;
    case 'f': o[k++] = '\f'; break;
    case 'n': o[k++] = '\n'; break;
    case 'r': o[k++] = '\r'; break;
    case 't': o[k++] = '\t'; break;
    case 'u': {
      if (i + 4 >= end) return jfail(p, "truncated \\u escape");
      int u = hex4(p->s + i + 1);
      if (u < 0) return jfail(p, "bad \\u escape");
      i += 4;
      uint32_t cp = (uint32_t)u;
      if (cp >= 0xD800 && cp < 0xDC00 && i + 6 < end && p->s[i + 1] == '\\' && p->s[i + 2] == 'u') {
        int lo = hex4(p->s + i + 3);
        if (lo >= 0xDC00 && lo < 0xE000) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
          i += 6;
        }
      }
      k += put_utf8(o + k, cp); /* a lone surrogate is kept as its 3-byte form */
      break;
    }
    default: return jfail(p, "bad escape");
    }
  }
  o[k] = 0;
  *out = o;
  *len = k;
  return true;
}

static qc_json *jvalue(jp *p);

static qc_json *jnumber(jp *p) {
  size_t start = p->pos;
  bool is_int = true;
  if (p->s[p->pos] == '-') p->pos++;
  if (lit(p, "Infinity")) {
    qc_json *v = node(p->ar, QC_JSON_FLOAT);
    if (v) v->num = p->s[start] == '-' ? -INFINITY : INFINITY;
    return v;
  }
  if (p->pos >= p->n || !(p->s[p->pos] >= '0' && p->s[p->pos] <= '9')) {
    jfail(p, "bad number");
    return NULL;
  }
  if (p->s[p->pos] == '0') p->pos++;
  else
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
  if (p->pos < p->n && p->s[p->pos] == '.') {
    is_int = false;
    p->pos++;
    size_t d = p->pos;
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    if (p->pos == d) {
      jfail(p, "bad number");
      return NULL;
    }
  }
  if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    is_int = false;
    p->pos++;
    if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
    size_t d = p->pos;
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    if (p->pos == d) {
      jfail(p, "bad number");
      return NULL;
    }
  }
  char *t = qc_arena_memdup0(p->ar, p->s + start, p->pos - start);
  qc_json *v = t ? node(p->ar, is_int ? QC_JSON_INT : QC_JSON_FLOAT) : NULL;
  if (!v) {
    jfail(p, "out of memory");
    return NULL;
  }
  v->num = strtod(t, NULL);
  if (is_int) {
    /* Python prints int(literal): "-0" is 0. */
    v->text = strcmp(t, "-0") == 0 ? "0" : t;
    v->len = strlen(v->text);
  }
  return v;
}

static qc_json *jvalue(jp *p) {
  ws(p);
  if (p->pos >= p->n) {
    jfail(p, "unexpected end");
    return NULL;
  }
  char c = p->s[p->pos];
  qc_json *v = NULL;
  if (c == '{' || c == '[') {
    if (++p->depth > 512) {
      jfail(p, "nested too deeply");
      return NULL;
    }
    bool obj = c == '{';
    v = node(p->ar, obj ? QC_JSON_OBJECT : QC_JSON_ARRAY);
    if (!v) {
      jfail(p, "out of memory");
      return NULL;
    }
    p->pos++;
    ws(p);
    if (p->pos < p->n && p->s[p->pos] == (obj ? '}' : ']')) {
      p->pos++;
      p->depth--;
      return v;
    }
    for (;;) {
      const char *key = NULL;
      size_t klen = 0;
      if (obj) {
        ws(p);
        if (p->pos >= p->n || p->s[p->pos] != '"') {
          jfail(p, "expected a key");
          return NULL;
        }
        if (!jstring(p, &key, &klen)) return NULL;
        if (strlen(key) != klen) {
          jfail(p, "key holds U+0000");
          return NULL;
        }
        if (qc_json_get(v, key)) {
          char msg[200];
          snprintf(msg, sizeof msg, "duplicate key \"%.120s\"", key);
          jfail(p, msg);
          return NULL;
        }
        ws(p);
        if (p->pos >= p->n || p->s[p->pos] != ':') {
          jfail(p, "expected ':'");
          return NULL;
        }
        p->pos++;
      }
      qc_json *e = jvalue(p);
      if (!e) return NULL;
      e->key = key;
      append(v, e);
      ws(p);
      if (p->pos < p->n && p->s[p->pos] == ',') {
        p->pos++;
        continue;
      }
      if (p->pos < p->n && p->s[p->pos] == (obj ? '}' : ']')) {
        p->pos++;
        p->depth--;
        return v;
      }
      jfail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
      return NULL;
    }
  }
  if (c == '"') {
    v = node(p->ar, QC_JSON_STRING);
    if (!v) {
      jfail(p, "out of memory");
      return NULL;
    }
    return jstring(p, &v->text, &v->len) ? v : NULL;
  }
  if (lit(p, "null")) return node(p->ar, QC_JSON_NULL);
  if (lit(p, "true")) return qc_json_bool(p->ar, true);
  if (lit(p, "false")) return qc_json_bool(p->ar, false);
  if (lit(p, "NaN")) return qc_json_float(p->ar, NAN);
  if (c == '-' || (c >= '0' && c <= '9') || c == 'I') {
    if (c == 'I') {
      if (lit(p, "Infinity")) return qc_json_float(p->ar, INFINITY);
    } else {
      return jnumber(p);
    }
  }
  jfail(p, "unexpected character");
  return NULL;
}

qc_json *qc_json_parse(qc_arena *ar, const char *s, size_t n, char *err, size_t err_len) {
  jp p = {ar, s, n, 0, err, err_len, false, 0};
  qc_json *v = jvalue(&p);
  if (!v) {
    if (!p.failed) jfail(&p, "out of memory");
    return NULL;
  }
  ws(&p);
  if (p.pos != n) {
    jfail(&p, "extra data after the value");
    return NULL;
  }
  return v;
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

/* Python's json string encoder with ensure_ascii=True (json.h). */
void qc_json_put_string(qc_bytes *w, const char *s, size_t len) {
  qc_bytes_put(w, "\"", 1);
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < len;) {
    uint32_t cp = u[i];
    size_t k = 1;
    if (cp >= 0xF0 && i + 3 < len) {
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
    if (cp >= 0x20 && cp < 0x7F) {
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
  case QC_JSON_STRING: qc_json_put_string(w, v->text, v->len); return;
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
