/* JSON documents for quantization configs: a tree that keeps key order, read with ir/json's
 * reader and written as Python's json.dumps writes. See qjson.h. */
#include "passes/quant/qjson.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing --------------------------------------------------------------------------- */

/* Text is read with ir/json's reader (NaN and Infinity allowed, surrogates paired); this
 * builds the qj_value tree, with positions, and adds what configs need beyond the grammar:
 * no U+0000 in strings, no duplicate keys. */
typedef struct qj_parser {
  qc_json_reader r;
  qc_arena scratch; /* the reader's unescaped strings, copied into the tree */
  const char *source;
  size_t at;        /* where() has counted lines up to here ... */
  int32_t line, col; /* ... and this is the position there */
} qj_parser;

/* Line and column of pos. Values are visited in text order, so counting goes on from the
 * last position asked for (linear in the text, not quadratic). */
static void where(qj_parser *p, size_t pos, int32_t *line, int32_t *col) {
  if (pos < p->at) {
    p->at = 0;
    p->line = p->col = 1;
  }
  for (; p->at < pos && p->at < p->r.n; p->at++) {
    if (p->r.s[p->at] == '\n') {
      p->line++;
      p->col = 1;
    } else {
      p->col++;
    }
  }
  *line = p->line;
  *col = p->col;
}

/* A string just read (len bytes at t) as a malloc'd C string. */
static bool take_string(qj_parser *p, const char *t, size_t len, char **out) {
  if (strlen(t) != len) return qc_json_fail(&p->r, "\\u0000 in string");
  if (!(*out = malloc(len + 1))) return qc_json_fail(&p->r, "out of memory");
  memcpy(*out, t, len + 1);
  return true;
}

static bool push_item(qj_parser *p, qj_value *v, int32_t *cap, char *key) {
  if (v->n == *cap) {
    int32_t nc = *cap ? *cap * 2 : 4;
    qj_value *ni = realloc(v->items, sizeof(qj_value) * (size_t)nc);
    if (!ni) return qc_json_fail(&p->r, "out of memory");
    v->items = ni;
    if (v->kind == QJ_OBJECT) {
      char **nk = realloc(v->keys, sizeof(char *) * (size_t)nc);
      if (!nk) return qc_json_fail(&p->r, "out of memory");
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
  qc_json_reader *r = &p->r;
  char c = qc_json_peek(r);
  where(p, r->pos, &v->line, &v->col);
  if (c == '{' || c == '[') {
    bool obj = c == '{';
    v->kind = obj ? QJ_OBJECT : QJ_ARRAY;
    if (!(obj ? qc_json_object_begin(r) : qc_json_array_begin(r))) return false;
    int32_t cap = 0;
    bool first = true;
    char *k;
    size_t klen;
    while (obj ? qc_json_object_next(r, &first, &k, &klen) : qc_json_array_next(r, &first)) {
      char *key = NULL;
      if (obj) {
        for (int32_t i = 0; i < v->n; i++)
          if (strcmp(v->keys[i], k) == 0) {
            r->pos = r->key_pos;
            return qc_json_fail(r, "duplicate key '%.200s'", v->keys[i]);
          }
        if (!take_string(p, k, klen, &key)) return false;
      }
      if (!push_item(p, v, &cap, key)) {
        free(key);
        return false;
      }
      if (!parse_value(p, &v->items[v->n - 1])) return false;
    }
    return !r->failed;
  }
  if (c == '"') {
    char *t;
    size_t len;
    v->kind = QJ_STRING;
    return qc_json_read_string(r, &t, &len) && take_string(p, t, len, &v->s);
  }
  if (c == '-' || (c >= '0' && c <= '9') || c == 'N' || c == 'I') {
    const char *lit;
    size_t len;
    bool is_int;
    if (!qc_json_read_number(r, &lit, &len, &is_int)) return false;
    char buf[64];
    char *tmp = len < sizeof buf ? buf : malloc(len + 1);
    if (!tmp) return qc_json_fail(r, "out of memory");
    memcpy(tmp, lit, len);
    tmp[len] = 0;
    v->kind = QJ_FLOAT;
    v->d = strtod(tmp, NULL); /* NaN, Infinity and -Infinity too */
    if (is_int) {
      errno = 0;
      long long ll = strtoll(tmp, NULL, 10);
      if (errno == 0) { /* Python keeps big ints exact; no config field needs them */
        v->kind = QJ_INT;
        v->i = ll;
      }
    }
    if (tmp != buf) free(tmp);
    return true;
  }
  if (qc_json_read_null(r)) {
    v->kind = QJ_NULL;
    return true;
  }
  bool b;
  if (qc_json_read_bool(r, &b)) {
    v->kind = b ? QJ_TRUE : QJ_FALSE;
    return true;
  }
  return qc_json_skip(r); /* not a value: the reader says why */
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
  qj_parser p;
  qc_arena_init(&p.scratch, qc_allocator_default());
  qc_json_reader_init(&p.r, text, len, &p.scratch, QC_JSON_NONFINITE, 256);
  p.source = source;
  p.at = 0;
  p.line = p.col = 1;
  qj_value *v = calloc(1, sizeof *v);
  if (!v) {
    qc_arena_free(&p.scratch);
    return qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
  }
  if (parse_value(&p, v)) qc_json_read_end(&p.r);
  qc_status s = QC_OK;
  if (p.r.failed) {
    int32_t l, c;
    where(&p, p.r.err_pos, &l, &c);
    s = qc_status_new(QC_CODE_PARSE, "%s:%d:%d: %s", source ? source : "<json>", (int)l, (int)c,
                      p.r.err_what);
    qj_free(v);
  } else {
    *out = v;
  }
  qc_arena_free(&p.scratch);
  return s;
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
