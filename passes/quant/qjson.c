/* JSON documents for quantization configs: a strict parser that keeps key order and a
 * writer that reproduces Python's json.dumps. See qjson.h. */
#include "passes/quant/qjson.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing --------------------------------------------------------------------------- */

typedef struct qj_parser {
  const char *s;
  size_t n, pos;
  const char *source;
  qc_status err;
  int depth;
} qj_parser;

static void where(const qj_parser *p, size_t pos, int32_t *line, int32_t *col) {
  int32_t l = 1, c = 1;
  for (size_t i = 0; i < pos && i < p->n; i++) {
    if (p->s[i] == '\n') {
      l++;
      c = 1;
    } else {
      c++;
    }
  }
  *line = l;
  *col = c;
}

static bool fail(qj_parser *p, const char *what) {
  if (!p->err) {
    int32_t l, c;
    where(p, p->pos, &l, &c);
    p->err = qc_status_new(QC_CODE_PARSE, "%s:%d:%d: %s", p->source ? p->source : "<json>",
                           (int)l, (int)c, what);
  }
  return false;
}

static void skip_ws(qj_parser *p) {
  while (p->pos < p->n) {
    char c = p->s[p->pos];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') p->pos++;
    else break;
  }
}

static bool lit(qj_parser *p, const char *w) {
  size_t k = strlen(w);
  if (p->n - p->pos >= k && memcmp(p->s + p->pos, w, k) == 0) {
    p->pos += k;
    return true;
  }
  return false;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool read_hex4(qj_parser *p, uint32_t *u) {
  if (p->n - p->pos < 4) return fail(p, "truncated \\u escape");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(p->s[p->pos + i]);
    if (h < 0) return fail(p, "bad \\u escape");
    v = v * 16 + (uint32_t)h;
  }
  p->pos += 4;
  *u = v;
  return true;
}

static void put_utf8(char *o, size_t *k, uint32_t cp) {
  if (cp < 0x80) {
    o[(*k)++] = (char)cp;
  } else if (cp < 0x800) {
    o[(*k)++] = (char)(0xC0 | (cp >> 6));
    o[(*k)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    o[(*k)++] = (char)(0xE0 | (cp >> 12));
    o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[(*k)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    o[(*k)++] = (char)(0xF0 | (cp >> 18));
    o[(*k)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[(*k)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[(*k)++] = (char)(0x80 | (cp & 0x3F));
  }
}

static bool parse_string(qj_parser *p, char **out) {
  /* p->pos is at the opening quote. The unescaped text is never longer than the escaped. */
  size_t start = ++p->pos, end = start;
  while (end < p->n && p->s[end] != '"') end += (p->s[end] == '\\') ? 2 : 1;
  if (end >= p->n) return fail(p, "unterminated string");
  char *o = malloc(end - start + 1);
  if (!o) return fail(p, "out of memory");
  size_t k = 0;
  while (p->pos < end) {
    unsigned char c = (unsigned char)p->s[p->pos];
    if (c < 0x20) {
      free(o);
      return fail(p, "control character in string");
    }
    if (c != '\\') {
      o[k++] = (char)c;
      p->pos++;
      continue;
    }
    p->pos++;
    char e = p->s[p->pos++];
    switch (e) {
    case '"': o[k++] = '"'; break;
    case '\\': o[k++] = '\\'; break;
    case '/': o[k++] = '/'; break;
    case 'b': o[k++] = '\b'; break;
    case 'f': o[k++] = '\f'; break;
    case 'n': o[k++] = '\n'; break;
    case 'r': o[k++] = '\r'; break;
    case 't': o[k++] = '\t'; break;
    case 'u': {
      uint32_t u;
      if (!read_hex4(p, &u)) {
        free(o);
        return false;
      }
      if (u >= 0xD800 && u < 0xDC00) {
        uint32_t lo;
        if (!(p->pos + 1 < p->n && p->s[p->pos] == '\\' && p->s[p->pos + 1] == 'u')) {
          free(o);
          return fail(p, "unpaired surrogate in \\u escape");
        }
        p->pos += 2;
        if (!read_hex4(p, &lo)) {
          free(o);
          return false;
        }
        if (lo < 0xDC00 || lo > 0xDFFF) {
          free(o);
          return fail(p, "unpaired surrogate in \\u escape");
        }
        u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
      } else if (u >= 0xDC00 && u <= 0xDFFF) {
        free(o);
        return fail(p, "unpaired surrogate in \\u escape");
      }
      if (u == 0) {
        free(o);
        return fail(p, "\\u0000 in string");
      }
      put_utf8(o, &k, u);
      break;
    }
    default: free(o); return fail(p, "bad escape in string");
    }
  }
  o[k] = 0;
  p->pos = end + 1;
  *out = o;
  return true;
}

static bool parse_value(qj_parser *p, qj_value *v);

static bool parse_number(qj_parser *p, qj_value *v) {
  size_t start = p->pos;
  bool is_float = false;
  if (p->pos < p->n && p->s[p->pos] == '-') p->pos++;
  if (lit(p, "Infinity")) {
    v->kind = QJ_FLOAT;
    v->d = p->s[start] == '-' ? -INFINITY : INFINITY;
    return true;
  }
  if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') return fail(p, "bad number");
  if (p->s[p->pos] == '0') p->pos++;
  else
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
  if (p->pos < p->n && p->s[p->pos] == '.') {
    is_float = true;
    p->pos++;
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') return fail(p, "bad number");
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
  }
  if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
    is_float = true;
    p->pos++;
    if (p->pos < p->n && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
    if (p->pos >= p->n || p->s[p->pos] < '0' || p->s[p->pos] > '9') return fail(p, "bad number");
    while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
  }
  char buf[64];
  size_t len = p->pos - start;
  char *tmp = len < sizeof buf ? buf : malloc(len + 1);
  if (!tmp) return fail(p, "out of memory");
  memcpy(tmp, p->s + start, len);
  tmp[len] = 0;
  v->d = strtod(tmp, NULL);
  if (!is_float) {
    errno = 0;
    long long ll = strtoll(tmp, NULL, 10);
    if (errno == 0) {
      v->kind = QJ_INT;
      v->i = ll;
    } else {
      v->kind = QJ_FLOAT; /* Python keeps big ints exact; no config field needs them */
    }
  } else {
    v->kind = QJ_FLOAT;
  }
  if (tmp != buf) free(tmp);
  return true;
}

static bool push_item(qj_parser *p, qj_value *v, int32_t *cap, char *key) {
  if (v->n == *cap) {
    int32_t nc = *cap ? *cap * 2 : 4;
    qj_value *ni = realloc(v->items, sizeof(qj_value) * (size_t)nc);
    if (!ni) return fail(p, "out of memory");
    v->items = ni;
    if (v->kind == QJ_OBJECT) {
      char **nk = realloc(v->keys, sizeof(char *) * (size_t)nc);
      if (!nk) return fail(p, "out of memory");
      v->keys = nk;
    }
    *cap = nc;
  }
  memset(&v->items[v->n], 0, sizeof(qj_value));
  if (v->kind == QJ_OBJECT) v->keys[v->n] = key;
  v->n++;
  return true;
}

static bool parse_value(qj_parser *p, qj_value *v) {
  skip_ws(p);
  where(p, p->pos, &v->line, &v->col);
  if (p->pos >= p->n) return fail(p, "unexpected end of input");
  char c = p->s[p->pos];
  if (c == '{' || c == '[') {
    if (++p->depth > 256) return fail(p, "nesting too deep");
    bool obj = c == '{';
    v->kind = obj ? QJ_OBJECT : QJ_ARRAY;
    p->pos++;
    int32_t cap = 0;
    skip_ws(p);
    if (p->pos < p->n && p->s[p->pos] == (obj ? '}' : ']')) {
      p->pos++;
      p->depth--;
      return true;
    }
    for (;;) {
      char *key = NULL;
      if (obj) {
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != '"') return fail(p, "expected a string key");
        size_t key_pos = p->pos;
        if (!parse_string(p, &key)) return false;
        for (int32_t i = 0; i < v->n; i++)
          if (strcmp(v->keys[i], key) == 0) {
            free(key);
            char msg[300];
            snprintf(msg, sizeof msg, "duplicate key '%.200s'", v->keys[i]);
            p->pos = key_pos;
            return fail(p, msg);
          }
        skip_ws(p);
        if (p->pos >= p->n || p->s[p->pos] != ':') {
          free(key);
          return fail(p, "expected ':'");
        }
        p->pos++;
      }
      if (!push_item(p, v, &cap, key)) {
        free(key);
        return false;
      }
      if (!parse_value(p, &v->items[v->n - 1])) return false;
      skip_ws(p);
      if (p->pos < p->n && p->s[p->pos] == ',') {
        p->pos++;
        continue;
      }
      if (p->pos < p->n && p->s[p->pos] == (obj ? '}' : ']')) {
        p->pos++;
        p->depth--;
        return true;
      }
      return fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
  if (c == '"') {
    v->kind = QJ_STRING;
    return parse_string(p, &v->s);
  }
  if (lit(p, "null")) {
    v->kind = QJ_NULL;
    return true;
  }
  if (lit(p, "true")) {
    v->kind = QJ_TRUE;
    return true;
  }
  if (lit(p, "false")) {
    v->kind = QJ_FALSE;
    return true;
  }
  if (lit(p, "NaN")) {
    v->kind = QJ_FLOAT;
    v->d = NAN;
    return true;
  }
  if (c == '-' || (c >= '0' && c <= '9') || c == 'I') {
    if (c == 'I') {
      if (!lit(p, "Infinity")) return fail(p, "unexpected character");
      v->kind = QJ_FLOAT;
      v->d = INFINITY;
      return true;
    }
    return parse_number(p, v);
  }
  return fail(p, "unexpected character");
}

void qj_clear(qj_value *v) {
  if (!v) return;
  free(v->s);
  for (int32_t i = 0; i < v->n; i++) {
    qj_clear(&v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  memset(v, 0, sizeof *v);
}

void qj_free(qj_value *v) {
  qj_clear(v);
  free(v);
}

qc_status qj_parse(const char *text, size_t len, const char *source, qj_value **out) {
  *out = NULL;
  qj_parser p = {text, len, 0, source, NULL, 0};
  qj_value *v = calloc(1, sizeof *v);
  if (!v) return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  if (parse_value(&p, v)) {
    skip_ws(&p);
    if (p.pos != p.n) fail(&p, "extra data after the document");
  }
  if (p.err) {
    qj_free(v);
    return p.err;
  }
  *out = v;
  return QC_OK;
}

const qj_value *qj_get(const qj_value *obj, const char *key) {
  if (!obj || obj->kind != QJ_OBJECT) return NULL;
  for (int32_t i = 0; i < obj->n; i++)
    if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
  return NULL;
}

const char *qj_kind_name(qj_kind k) {
  switch (k) {
  case QJ_NULL: return "null";
  case QJ_FALSE:
  case QJ_TRUE: return "a boolean";
  case QJ_INT: return "an integer";
  case QJ_FLOAT: return "a number";
  case QJ_STRING: return "a string";
  case QJ_ARRAY: return "a list";
  case QJ_OBJECT: return "an object";
  }
  return "?";
}

/* ---- writing --------------------------------------------------------------------------- */

void qj_newline(qc_bytes *b, int indent, int level) {
  if (indent <= 0) return;
  qc_bytes_putc(b, '\n');
  for (int i = 0; i < indent * level; i++) qc_bytes_putc(b, ' ');
}

static int key_cmp(const void *a, const void *b) {
  const char *const *x = a, *const *y = b;
  return strcmp(*x, *y); /* Python sorts str by code point: UTF-8 byte order agrees */
}

void qj_put_value(qc_bytes *b, const qj_value *v, int indent, int level, bool sort_keys) {
  switch (v->kind) {
  case QJ_NULL: qc_bytes_puts(b, "null"); return;
  case QJ_TRUE: qc_bytes_puts(b, "true"); return;
  case QJ_FALSE: qc_bytes_puts(b, "false"); return;
  case QJ_INT: qc_json_put_int(b, v->i); return;
  case QJ_FLOAT: qc_json_put_double(b, v->d); return;
  case QJ_STRING: qc_json_put_cstring(b, v->s); return;
  case QJ_ARRAY:
  case QJ_OBJECT: break;
  }
  bool obj = v->kind == QJ_OBJECT;
  if (v->n == 0) {
    qc_bytes_puts(b, obj ? "{}" : "[]");
    return;
  }
  /* Order of members: document order, or sorted keys. */
  int32_t *order = malloc(sizeof(int32_t) * (size_t)v->n);
  if (!order) {
    b->oom = true;
    return;
  }
  for (int32_t i = 0; i < v->n; i++) order[i] = i;
  if (obj && sort_keys) {
    const char **ks = malloc(sizeof(char *) * (size_t)v->n);
    if (!ks) {
      free(order);
      b->oom = true;
      return;
    }
    for (int32_t i = 0; i < v->n; i++) ks[i] = v->keys[i];
    qsort(ks, (size_t)v->n, sizeof *ks, key_cmp);
    for (int32_t i = 0; i < v->n; i++)
      for (int32_t j = 0; j < v->n; j++)
        if (v->keys[j] == ks[i]) order[i] = j;
    free(ks);
  }
  qc_bytes_putc(b, obj ? '{' : '[');
  for (int32_t i = 0; i < v->n; i++) {
    if (i > 0) qc_bytes_puts(b, indent > 0 ? "," : ", ");
    qj_newline(b, indent, level + 1);
    if (obj) {
      qc_json_put_cstring(b, v->keys[order[i]]);
      qc_bytes_puts(b, ": ");
    }
    qj_put_value(b, &v->items[order[i]], indent, level + 1, sort_keys);
  }
  qj_newline(b, indent, level);
  qc_bytes_putc(b, obj ? '}' : ']');
  free(order);
}
