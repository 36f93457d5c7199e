/* The .qir parser and qc_qir_read_file. The grammar is in docs/qir.md.
 *
 * A hand-written lexer and recursive-descent parser that builds the graph through the
 * public graph API as it reads, so names resolve in definition order (SSA) and every
 * error points at the token at fault: "f.qir:3:14: error: undefined value '%x'".
 * The input need not be NUL-terminated and may be anything: nothing is allocated in
 * proportion to a size the text claims before the data it claims has been read, graphs
 * nest at most QIR_MAX_DEPTH deep, and every error path releases what it built. */
#include "qir_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- tokens ------------------------------------------------------------------------------------ */

typedef enum tok_kind {
  T_EOF,
  T_WORD,   /* [A-Za-z_][A-Za-z0-9_.]* */
  T_VALUE,  /* %name or %"..." */
  T_GLOBAL, /* @name or @"..." */
  T_STRING, /* "..." */
  T_NUMBER, /* [-]digits[.digits][e[+-]digits], [-]0xHEX, [-]inf, [-]nan, [-]nan(0xHEX) */
  T_PUNCT,  /* ( ) { } [ ] < > , = : ? * . */
} tok_kind;

typedef struct tok {
  tok_kind kind;
  const char *p; /* the token as written */
  size_t n;
  const char *s; /* WORD, VALUE, GLOBAL: the name; STRING and quoted names: inside the quotes */
  size_t sn;
  bool quoted;
  char c;                 /* PUNCT */
  bool is_float, is_hex;  /* NUMBER */
  int line, col;
} tok;

typedef struct fmap {
  char *path;
  qc_buffer *buf;
} fmap;

typedef struct parser {
  const char *src;
  size_t len, pos, line_start;
  int line;
  tok t;
  const char *file;
  char *dir; /* directory of `file` with its trailing '/', or NULL */
  int depth;
  fmap *maps;
  int32_t n_maps, cap_maps;
} parser;

static const qc_allocator *A(void) { return qc_allocator_default(); }

/* ---- errors ------------------------------------------------------------------------------------ */

static qc_status verr(parser *p, qc_code code, int line, int col, const char *fmt, va_list ap) {
  char msg[768];
  vsnprintf(msg, sizeof msg, fmt, ap);
  return qc_status_new(code, "%s:%d:%d: error: %s", p->file, line, col, msg);
}

static qc_status err_at(parser *p, const tok *t, const char *fmt, ...) QC_PRINTF(3, 4);
static qc_status err_at(parser *p, const tok *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  qc_status s = verr(p, QC_CODE_PARSE, t->line, t->col, fmt, ap);
  va_end(ap);
  return s;
}

static qc_status err_code_at(parser *p, qc_code code, const tok *t, const char *fmt, ...)
    QC_PRINTF(4, 5);
static qc_status err_code_at(parser *p, qc_code code, const tok *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  qc_status s = verr(p, code, t->line, t->col, fmt, ap);
  va_end(ap);
  return s;
}

/* An error at source position `pos` (lexer). */
static qc_status err_pos(parser *p, size_t pos, const char *fmt, ...) QC_PRINTF(3, 4);
static qc_status err_pos(parser *p, size_t pos, const char *fmt, ...) {
  int line = p->line;
  size_t ls = p->line_start;
  for (size_t i = ls; i < pos && i < p->len; i++) /* pos may be past a newline in a string */
    if (p->src[i] == '\n') {
      line++;
      ls = i + 1;
    }
  va_list ap;
  va_start(ap, fmt);
  qc_status s = verr(p, QC_CODE_PARSE, line, (int)(pos - ls) + 1, fmt, ap);
  va_end(ap);
  return s;
}

/* "'text'" (at most 40 bytes, non-printable bytes as '?') or "end of file". */
static const char *desc(const tok *t, char *buf, size_t size) {
  if (t->kind == T_EOF) return "end of file";
  size_t n = t->n > 40 ? 40 : t->n, k = 0;
  buf[k++] = '\'';
  for (size_t i = 0; i < n && k + 5 < size; i++) {
    unsigned char c = (unsigned char)t->p[i];
    buf[k++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  if (t->n > n && k + 5 < size) {
    memcpy(buf + k, "...", 3);
    k += 3;
  }
  buf[k++] = '\'';
  buf[k] = 0;
  return buf;
}

#define DESC(t) desc((t), (char[64]){0}, 64)

static qc_status expected(parser *p, const char *what) {
  return err_at(p, &p->t, "expected %s, got %s", what, DESC(&p->t));
}

/* ---- lexer ------------------------------------------------------------------------------------ */

static int peekc(const parser *p, size_t k) {
  return p->pos + k < p->len ? (unsigned char)p->src[p->pos + k] : -1;
}

static void skip_space(parser *p) {
  while (p->pos < p->len) {
    char c = p->src[p->pos];
    if (c == '\n') {
      p->pos++;
      p->line++;
      p->line_start = p->pos;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      p->pos++;
    } else if (c == '#' || (c == '/' && peekc(p, 1) == '/')) {
      while (p->pos < p->len && p->src[p->pos] != '\n') p->pos++;
    } else {
      break;
    }
  }
}

/* A quoted string starting at p->pos ('"'); sets t->s/sn to the inside. */
static qc_status lex_string(parser *p, tok *t) {
  size_t open = p->pos++;
  t->s = p->src + p->pos;
  t->quoted = true;
  for (;;) {
    if (p->pos >= p->len || p->src[p->pos] == '\n')
      return err_pos(p, open, "unterminated string");
    char c = p->src[p->pos];
    if (c == '"') break;
    if (c == '\\') {
      int e = peekc(p, 1);
      if (e == 'x') {
        if (!qir_is_hex(peekc(p, 2)) || !qir_is_hex(peekc(p, 3)))
          return err_pos(p, p->pos, "expected two hex digits after '\\x'");
        p->pos += 4;
        continue;
      }
      if (e != '\\' && e != '"' && e != 'n' && e != 't' && e != 'r') {
        if (e >= 0x20 && e < 0x7f) return err_pos(p, p->pos, "unknown escape '\\%c' in string", e);
        return err_pos(p, p->pos, "unknown escape in string");
      }
      p->pos += 2;
      continue;
    }
    p->pos++;
  }
  t->sn = (size_t)(p->src + p->pos - t->s);
  p->pos++;
  return QC_OK;
}

static qc_status lex_number(parser *p, tok *t) {
  size_t start = p->pos;
  if (peekc(p, 0) == '-') p->pos++;
  int c = peekc(p, 0);
  if (qir_is_alpha(c)) {
    size_t w = p->pos;
    while (p->pos < p->len && qir_word_char((unsigned char)p->src[p->pos])) p->pos++;
    size_t wn = p->pos - w;
    bool nan = wn == 3 && memcmp(p->src + w, "nan", 3) == 0;
    if (!nan && !(wn == 3 && memcmp(p->src + w, "inf", 3) == 0))
      return err_pos(p, start, "expected a number after '-'");
    t->is_float = true;
    if (nan && peekc(p, 0) == '(' && peekc(p, 1) == '0' && (peekc(p, 2) | 0x20) == 'x') {
      size_t q = p->pos + 3;
      while (q < p->len && qir_is_hex((unsigned char)p->src[q])) q++;
      if (q == p->pos + 3 || q >= p->len || p->src[q] != ')')
        return err_pos(p, p->pos, "malformed NaN payload: expected nan(0x<hex digits>)");
      p->pos = q + 1;
    }
  } else if (c == '0' && (peekc(p, 1) | 0x20) == 'x') {
    p->pos += 2;
    if (!qir_is_hex(peekc(p, 0))) return err_pos(p, start, "expected hex digits after '0x'");
    while (qir_is_hex(peekc(p, 0))) p->pos++;
    t->is_hex = true;
  } else if (qir_is_digit(c)) {
    while (qir_is_digit(peekc(p, 0))) p->pos++;
    if (peekc(p, 0) == '.') {
      t->is_float = true;
      p->pos++;
      while (qir_is_digit(peekc(p, 0))) p->pos++;
    }
    int e = peekc(p, 0);
    if (e == 'e' || e == 'E') {
      int k = (peekc(p, 1) == '+' || peekc(p, 1) == '-') ? 2 : 1;
      if (qir_is_digit(peekc(p, (size_t)k))) {
        t->is_float = true;
        p->pos += (size_t)k;
        while (qir_is_digit(peekc(p, 0))) p->pos++;
      }
    }
  } else {
    return err_pos(p, start, "expected a number after '-'");
  }
  int after = peekc(p, 0);
  if (after >= 0 && qir_word_char(after)) return err_pos(p, start, "malformed number");
  t->kind = T_NUMBER;
  return QC_OK;
}

/* Read the next token into p->t. */
static qc_status next(parser *p) {
  skip_space(p);
  tok t;
  memset(&t, 0, sizeof t);
  t.line = p->line;
  t.col = (int)(p->pos - p->line_start) + 1;
  t.p = p->src + p->pos;
  if (p->pos >= p->len) {
    t.kind = T_EOF;
    p->t = t;
    return QC_OK;
  }
  int c = peekc(p, 0);
  if (c == '%' || c == '@') {
    t.kind = c == '%' ? T_VALUE : T_GLOBAL;
    p->pos++;
    if (peekc(p, 0) == '"') {
      QC_RETURN_IF_ERROR(lex_string(p, &t));
    } else {
      t.s = p->src + p->pos;
      while (p->pos < p->len && qir_name_char((unsigned char)p->src[p->pos])) p->pos++;
      t.sn = (size_t)(p->src + p->pos - t.s);
      if (!t.sn) return err_pos(p, p->pos - 1, "expected a name after '%c'", c);
    }
  } else if (c == '"') {
    t.kind = T_STRING;
    QC_RETURN_IF_ERROR(lex_string(p, &t));
  } else if (c == '-' || qir_is_digit(c)) {
    QC_RETURN_IF_ERROR(lex_number(p, &t));
  } else if (qir_is_alpha(c)) {
    t.s = p->src + p->pos;
    while (p->pos < p->len && qir_word_char((unsigned char)p->src[p->pos])) p->pos++;
    t.sn = (size_t)(p->src + p->pos - t.s);
    if (t.sn == 3 && (memcmp(t.s, "inf", 3) == 0 || memcmp(t.s, "nan", 3) == 0)) {
      p->pos -= 3;
      QC_RETURN_IF_ERROR(lex_number(p, &t));
    } else {
      t.kind = T_WORD;
    }
  } else if (c && strchr("(){}[]<>,=:?*.", c)) {
    t.kind = T_PUNCT;
    t.c = (char)c;
    p->pos++;
  } else if (c >= 0x20 && c < 0x7f) {
    return err_pos(p, p->pos, "unexpected character '%c'", c);
  } else {
    return err_pos(p, p->pos, "unexpected byte 0x%02x", (unsigned)c);
  }
  t.n = (size_t)(p->src + p->pos - t.p);
  p->t = t;
  return QC_OK;
}

static bool is_punct(const parser *p, char c) { return p->t.kind == T_PUNCT && p->t.c == c; }

static bool is_word(const parser *p, const char *w) {
  size_t n = strlen(w);
  return p->t.kind == T_WORD && p->t.sn == n && memcmp(p->t.s, w, n) == 0;
}

static qc_status expect_punct(parser *p, char c, const char *context) {
  if (!is_punct(p, c))
    return err_at(p, &p->t, "expected '%c'%s%s, got %s", c, *context ? " " : "", context,
                  DESC(&p->t));
  return next(p);
}

static qc_status expect_word(parser *p, const char *w, const char *context) {
  if (!is_word(p, w))
    return err_at(p, &p->t, "expected '%s'%s%s, got %s", w, *context ? " " : "", context,
                  DESC(&p->t));
  return next(p);
}

/* ---- token payloads -------------------------------------------------------------------------- */

static int hexval(int c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

/* The text of a name or string token, unescaped, NUL-terminated, in g's arena. `what` names
 * it in the error when it may not hold a NUL byte (NULL: NUL allowed). */
static qc_status tok_text(parser *p, qc_graph *g, const tok *t, const char *what, char **out,
                          size_t *len) {
  char *s = qc_arena_alloc(&g->arena, t->sn + 1);
  if (!s) return QC_OOM();
  size_t k = 0;
  if (!t->quoted) {
    memcpy(s, t->s, t->sn);
    k = t->sn;
  } else {
    for (size_t i = 0; i < t->sn; i++) {
      char c = t->s[i];
      if (c != '\\') {
        s[k++] = c;
        continue;
      }
      char e = t->s[++i];
      switch (e) {
      case 'n': s[k++] = '\n'; break;
      case 't': s[k++] = '\t'; break;
      case 'r': s[k++] = '\r'; break;
      case 'x':
        s[k++] = (char)(hexval((unsigned char)t->s[i + 1]) * 16 + hexval((unsigned char)t->s[i + 2]));
        i += 2;
        break;
      default: s[k++] = e; break;
      }
    }
  }
  s[k] = 0;
  if (what && memchr(s, 0, k)) return err_at(p, t, "%s cannot contain a NUL byte", what);
  *out = s;
  if (len) *len = k;
  return QC_OK;
}

/* The token text, NUL-terminated, in buf. */
static qc_status number_text(parser *p, const tok *t, char *buf, size_t size) {
  if (t->n >= size) return err_at(p, t, "number too long");
  memcpy(buf, t->p, t->n);
  buf[t->n] = 0;
  return QC_OK;
}

static qc_status parse_i64(parser *p, const char *what, int64_t *out) {
  if (p->t.kind != T_NUMBER || p->t.is_float || p->t.is_hex) return expected(p, what);
  char buf[72];
  QC_RETURN_IF_ERROR(number_text(p, &p->t, buf, sizeof buf));
  errno = 0;
  long long v = strtoll(buf, NULL, 10);
  if (errno == ERANGE) return err_at(p, &p->t, "integer %s is out of range", buf);
  *out = v;
  return next(p);
}

static qc_status parse_u64(parser *p, const char *what, uint64_t *out) {
  if (p->t.kind != T_NUMBER || p->t.is_float || p->t.is_hex || p->t.p[0] == '-')
    return expected(p, what);
  char buf[72];
  QC_RETURN_IF_ERROR(number_text(p, &p->t, buf, sizeof buf));
  errno = 0;
  unsigned long long v = strtoull(buf, NULL, 10);
  if (errno == ERANGE) return err_at(p, &p->t, "integer %s is out of range", buf);
  *out = v;
  return next(p);
}

/* ---- growable arrays (temporaries, default allocator) ----------------------------------------- */

typedef struct vec {
  void *p;
  int32_t n, cap;
  size_t elem;
} vec;

static void vec_init(vec *v, size_t elem) {
  memset(v, 0, sizeof *v);
  v->elem = elem;
}
static void vec_free(vec *v) {
  qc_free(A(), v->p, (size_t)v->cap * v->elem);
  v->p = NULL;
  v->n = v->cap = 0;
}
static qc_status vec_push(parser *p, vec *v, const void *x) {
  if (v->n >= INT32_MAX - 1) return err_at(p, &p->t, "too many elements");
  if (!qc_grow(A(), &v->p, &v->cap, v->n + 1, v->elem)) return QC_OOM();
  memcpy((char *)v->p + (size_t)v->n * v->elem, x, v->elem);
  v->n++;
  return QC_OK;
}
#define VEC_AT(v, T, i) (((T *)(v).p)[i])

/* ---- types ------------------------------------------------------------------------------------- */

static void type_text(const qc_graph *g, qc_dtype dt, int32_t rank, const int64_t *dims,
                      char *buf, size_t size) {
  size_t k = (size_t)snprintf(buf, size, "%s[", qc_dtype_name(dt));
  for (int32_t i = 0; i < rank && k < size; i++) {
    const char *sym = qc_graph_sym_name(g, dims[i]);
    if (dims[i] >= 0) k += (size_t)snprintf(buf + k, size - k, "%s%lld", i ? "," : "", (long long)dims[i]);
    else k += (size_t)snprintf(buf + k, size - k, "%s%s", i ? "," : "", sym ? sym : "?");
  }
  if (k < size) snprintf(buf + k, size - k, "]");
}

/* dtype '[' dims ']'. For constants (`for_const`) the dtype and every dim must be known. */
static qc_status parse_tensor_type(parser *p, qc_graph *g, qc_type *t, bool for_const) {
  memset(t, 0, sizeof *t);
  if (is_punct(p, '?')) {
    if (for_const) return err_at(p, &p->t, "a tensor with data needs a dtype, got '?'");
    t->dtype = QC_DT_UNDEFINED;
  } else if (p->t.kind == T_WORD) {
    char name[40];
    size_t n = p->t.sn < sizeof name - 1 ? p->t.sn : sizeof name - 1;
    memcpy(name, p->t.s, n);
    name[n] = 0;
    t->dtype = p->t.sn < sizeof name - 1 ? qc_dtype_from_name(name) : QC_DT_UNDEFINED;
    if (t->dtype == QC_DT_UNDEFINED)
      return err_at(p, &p->t, "unknown dtype '%.*s'", (int)(p->t.sn > 40 ? 40 : p->t.sn), p->t.s);
  } else {
    return expected(p, "a dtype");
  }
  QC_RETURN_IF_ERROR(next(p));
  QC_RETURN_IF_ERROR(expect_punct(p, '[', "after the dtype"));
  if (is_punct(p, '*')) {
    if (for_const) return err_at(p, &p->t, "a tensor with data needs a static shape, got '*'");
    t->rank = QC_RANK_UNKNOWN;
    QC_RETURN_IF_ERROR(next(p));
    return expect_punct(p, ']', "after '*'");
  }
  t->rank = 0;
  if (is_punct(p, ']')) return next(p);
  for (;;) {
    if (t->rank == QC_MAX_RANK)
      return err_at(p, &p->t, "rank exceeds quarc's limit of %d", QC_MAX_RANK);
    int64_t d;
    if (p->t.kind == T_NUMBER && !p->t.is_float && !p->t.is_hex && p->t.p[0] != '-') {
      QC_RETURN_IF_ERROR(parse_i64(p, "a dimension", &d));
    } else if (for_const) {
      return err_at(p, &p->t, "expected a static dimension, got %s", DESC(&p->t));
    } else if (is_punct(p, '?')) {
      d = QC_DIM_UNKNOWN;
      QC_RETURN_IF_ERROR(next(p));
    } else if (p->t.kind == T_WORD || p->t.kind == T_STRING) {
      char *name;
      QC_RETURN_IF_ERROR(tok_text(p, g, &p->t, "a symbol name", &name, NULL));
      d = qc_graph_sym(g, name);
      if (d == QC_DIM_UNKNOWN) return QC_OOM();
      QC_RETURN_IF_ERROR(next(p));
    } else {
      return expected(p, "a dimension (a size, a symbol or '?')");
    }
    t->dims[t->rank++] = d;
    if (is_punct(p, ']')) return next(p);
    QC_RETURN_IF_ERROR(expect_punct(p, ',', "or ']' in the shape"));
  }
}

static qc_status parse_type(parser *p, qc_graph *g, qc_type *t) {
  if (is_word(p, "seq") || is_word(p, "opt")) {
    bool opt = is_word(p, "opt");
    QC_RETURN_IF_ERROR(next(p));
    QC_RETURN_IF_ERROR(expect_punct(p, '<', opt ? "after 'opt'" : "after 'seq'"));
    uint8_t kind = opt ? QC_TYPE_OPTIONAL : QC_TYPE_SEQUENCE;
    if (opt && is_word(p, "seq")) {
      QC_RETURN_IF_ERROR(next(p));
      QC_RETURN_IF_ERROR(expect_punct(p, '<', "after 'seq'"));
      QC_RETURN_IF_ERROR(parse_tensor_type(p, g, t, false));
      QC_RETURN_IF_ERROR(expect_punct(p, '>', "to close 'seq<'"));
      kind = QC_TYPE_OPTIONAL_SEQUENCE;
    } else {
      QC_RETURN_IF_ERROR(parse_tensor_type(p, g, t, false));
    }
    t->kind = kind;
    return expect_punct(p, '>', opt ? "to close 'opt<'" : "to close 'seq<'");
  }
  QC_RETURN_IF_ERROR(parse_tensor_type(p, g, t, false));
  t->kind = QC_TYPE_TENSOR;
  return QC_OK;
}

/* ---- tensor data ------------------------------------------------------------------------------- */

/* One element of dense data of (non-block, non-string) dtype dt, as its code. */
static qc_status parse_elem_code(parser *p, qc_dtype dt, uint64_t *code) {
  const qc_dtype_traits *tr = qc_dtype_traits_of(dt);
  const tok *t = &p->t;
  int bits = tr->bits;
  if (tr->kind == QC_KIND_BOOL && (is_word(p, "true") || is_word(p, "false"))) {
    *code = is_word(p, "true");
    return next(p);
  }
  if (t->kind != T_NUMBER) return err_at(p, t, "expected a %s element, got %s", tr->name, DESC(t));
  char buf[136];
  QC_RETURN_IF_ERROR(number_text(p, t, buf, sizeof buf));
  if (t->is_hex) {
    if (buf[0] == '-') return err_at(p, t, "a raw code cannot be negative");
    errno = 0;
    unsigned long long v = strtoull(buf + 2, NULL, 16);
    if (errno == ERANGE || (bits < 64 && (v >> bits)))
      return err_at(p, t, "raw code %s does not fit %s (%d bits)", buf, tr->name, bits);
    *code = v;
    return next(p);
  }
  if (tr->kind == QC_KIND_FLOAT) {
    double d;
    if (!qir_text_to_double(buf, &d))
      return err_at(p, t, "%s: NaN payloads are written as raw codes (0x...) in tensor data", buf);
    *code = qir_double_to_code(dt, d);
    return next(p);
  }
  if (t->is_float) return err_at(p, t, "expected an integer %s element, got %s", tr->name, DESC(t));
  uint64_t mask = bits >= 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
  errno = 0;
  if (buf[0] == '-') {
    long long v = strtoll(buf, NULL, 10);
    if (errno == ERANGE || v < tr->imin)
      return err_at(p, t, "value %s is out of range for %s", buf, tr->name);
    *code = (uint64_t)v & mask;
  } else {
    unsigned long long v = strtoull(buf, NULL, 10);
    uint64_t max = tr->kind == QC_KIND_BOOL ? 255 : tr->imax;
    if (errno == ERANGE || v > max)
      return err_at(p, t, "value %s is out of range for %s", buf, tr->name);
    *code = v;
  }
  return next(p);
}

static void free_strings(vec *v) {
  for (int32_t i = 0; i < v->n; i++) free(VEC_AT(*v, char *, i));
  vec_free(v);
}

static qc_status parse_dense(parser *p, qc_graph *g, const qc_type *ty, size_t numel,
                             const tok *at, qc_tensor *out) {
  qc_dtype dt = ty->dtype;
  const qc_dtype_traits *tr = qc_dtype_traits_of(dt);
  if (tr->kind == QC_KIND_BLOCK)
    return err_at(p, at, "block type %s has no dense form; write its bytes as hex<\"...\">",
                  tr->name);
  QC_RETURN_IF_ERROR(next(p));
  QC_RETURN_IF_ERROR(expect_punct(p, '<', "after 'dense'"));
  QC_RETURN_IF_ERROR(expect_punct(p, '[', "to open the element list"));
  bool strings = dt == QC_STRING, cplx = tr->kind == QC_KIND_COMPLEX;
  qc_dtype edt = cplx ? (dt == QC_C64 ? QC_F32 : QC_F64) : dt;
  uint64_t want = cplx ? 2 * (uint64_t)numel : (uint64_t)numel, count = 0;
  vec v;
  vec_init(&v, strings ? sizeof(char *) : sizeof(uint64_t));
  qc_status s = QC_OK;
  while (!is_punct(p, ']')) {
    if (count && (s = expect_punct(p, ',', "or ']' between elements"))) goto fail;
    if (strings) {
      if (p->t.kind != T_STRING) {
        s = expected(p, "a string element");
        goto fail;
      }
      char *txt;
      size_t n;
      if ((s = tok_text(p, g, &p->t, "a string tensor element", &txt, &n))) goto fail;
      if (count < want) {
        char *c = malloc(n + 1); /* string tensors own malloc'd strings (tensor.h) */
        if (!c) {
          s = QC_OOM();
          goto fail;
        }
        memcpy(c, txt, n + 1);
        if ((s = vec_push(p, &v, &c))) {
          free(c);
          goto fail;
        }
      }
      if ((s = next(p))) goto fail;
    } else {
      uint64_t code;
      if ((s = parse_elem_code(p, edt, &code))) goto fail;
      if (count < want && (s = vec_push(p, &v, &code))) goto fail;
    }
    count++;
  }
  if ((s = next(p)) || (s = expect_punct(p, '>', "to close 'dense<'"))) goto fail;
  if (count != want) {
    char tt[160];
    type_text(g, dt, ty->rank, ty->dims, tt, sizeof tt);
    s = err_at(p, at, "dense data has %llu elements, %s needs %llu", (unsigned long long)count,
               tt, (unsigned long long)want);
    goto fail;
  }
  if ((s = qc_tensor_alloc(out, NULL, dt, ty->rank, ty->dims))) goto fail;
  void *data = qc_tensor_data(out);
  if (strings) {
    if (v.n) memcpy(data, v.p, (size_t)v.n * sizeof(char *)); /* the tensor owns them now */
    vec_free(&v);
    return QC_OK;
  }
  for (int32_t i = 0; i < v.n; i++) qc_elem_set_code(edt, data, (size_t)i, VEC_AT(v, uint64_t, i));
  vec_free(&v);
  return QC_OK;
fail:
  if (strings) free_strings(&v);
  else vec_free(&v);
  return s;
}

static qc_status parse_hex(parser *p, qc_graph *g, const qc_type *ty, size_t nbytes,
                           const tok *at, qc_tensor *out) {
  if (ty->dtype == QC_STRING)
    return err_at(p, at, "string tensors are written as dense<[\"...\"]>, not hex");
  QC_RETURN_IF_ERROR(next(p));
  QC_RETURN_IF_ERROR(expect_punct(p, '<', "after 'hex'"));
  if (p->t.kind != T_STRING) return expected(p, "a string of hex digits");
  tok st = p->t;
  char *txt;
  size_t n;
  QC_RETURN_IF_ERROR(tok_text(p, g, &st, NULL, &txt, &n));
  for (size_t i = 0; i < n; i++)
    if (!qir_is_hex((unsigned char)txt[i]))
      return err_at(p, &st, "hex data may hold hex digits only");
  if (n % 2) return err_at(p, &st, "hex data has an odd number of digits");
  QC_RETURN_IF_ERROR(next(p));
  QC_RETURN_IF_ERROR(expect_punct(p, '>', "to close 'hex<'"));
  if (n / 2 != nbytes) {
    char tt[160];
    type_text(g, ty->dtype, ty->rank, ty->dims, tt, sizeof tt);
    return err_at(p, at, "hex data has %zu bytes, %s needs %zu", n / 2, tt, nbytes);
  }
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, ty->dtype, ty->rank, ty->dims));
  unsigned char *d = qc_tensor_data(out);
  for (size_t i = 0; i < nbytes; i++)
    d[i] = (unsigned char)(hexval((unsigned char)txt[2 * i]) * 16 + hexval((unsigned char)txt[2 * i + 1]));
  return QC_OK;
}

/* The mapping of `path` (mapped once per parse). */
static qc_status map_file(parser *p, const tok *at, const char *path, qc_buffer **out) {
  for (int32_t i = 0; i < p->n_maps; i++)
    if (strcmp(p->maps[i].path, path) == 0) {
      *out = p->maps[i].buf;
      return QC_OK;
    }
  qc_buffer *b;
  qc_status s = qc_buffer_map_file(path, &b);
  if (s) {
    qc_status e = err_code_at(p, qc_status_code(s), at, "cannot map external data: %s",
                              qc_status_message(s));
    qc_status_free(s);
    return e;
  }
  size_t n = strlen(path);
  char *copy = qc_alloc(A(), n + 1);
  if (!copy || !qc_grow(A(), (void **)&p->maps, &p->cap_maps, p->n_maps + 1, sizeof *p->maps)) {
    qc_free(A(), copy, n + 1);
    qc_buffer_release(b);
    return QC_OOM();
  }
  memcpy(copy, path, n + 1);
  p->maps[p->n_maps++] = (fmap){copy, b};
  *out = b;
  return QC_OK;
}

static qc_status parse_external(parser *p, qc_graph *g, const qc_type *ty, size_t nbytes,
                                const tok *at, qc_tensor *out) {
  if (ty->dtype == QC_STRING) return err_at(p, at, "string tensors cannot be external");
  QC_RETURN_IF_ERROR(next(p));
  QC_RETURN_IF_ERROR(expect_punct(p, '<', "after 'external'"));
  if (p->t.kind != T_STRING) return expected(p, "the path of the data file as a string");
  tok pt = p->t;
  char *path;
  QC_RETURN_IF_ERROR(tok_text(p, g, &pt, "a path", &path, NULL));
  QC_RETURN_IF_ERROR(next(p));
  QC_RETURN_IF_ERROR(expect_punct(p, ',', "after the path"));
  QC_RETURN_IF_ERROR(expect_word(p, "offset", "after the path"));
  QC_RETURN_IF_ERROR(expect_punct(p, '=', "after 'offset'"));
  tok ot = p->t;
  uint64_t off, size;
  QC_RETURN_IF_ERROR(parse_u64(p, "a byte offset", &off));
  QC_RETURN_IF_ERROR(expect_punct(p, ',', "after the offset"));
  QC_RETURN_IF_ERROR(expect_word(p, "size", "after the offset"));
  QC_RETURN_IF_ERROR(expect_punct(p, '=', "after 'size'"));
  tok sz = p->t;
  QC_RETURN_IF_ERROR(parse_u64(p, "a byte size", &size));
  QC_RETURN_IF_ERROR(expect_punct(p, '>', "to close 'external<'"));
  if (size != nbytes) {
    char tt[160];
    type_text(g, ty->dtype, ty->rank, ty->dims, tt, sizeof tt);
    return err_at(p, &sz, "external data size %llu does not match %s (%zu bytes)",
                  (unsigned long long)size, tt, nbytes);
  }
  const char *full = path;
  if (path[0] != '/' && p->dir) {
    full = qc_arena_printf(&g->arena, "%s%s", p->dir, path);
    if (!full) return QC_OOM();
  }
  qc_buffer *file = NULL;
  QC_RETURN_IF_ERROR(map_file(p, &pt, full, &file));
  size_t fsize = qc_buffer_size(file);
  if (off > fsize || size > fsize - off)
    return err_at(p, &ot, "external data range offset=%llu size=%llu is outside '%s' (%zu bytes)",
                  (unsigned long long)off, (unsigned long long)size, full, fsize);
  qc_buffer *slice = qc_buffer_slice(file, (size_t)off, (size_t)size);
  if (!slice) return QC_OOM();
  qc_tensor_init(out, ty->dtype, ty->rank, ty->dims, slice, 0);
  qc_buffer_release(slice);
  return QC_OK;
}

/* dtype '[' static dims ']' data. On success *out holds a reference the caller releases. */
static qc_status parse_tensor(parser *p, qc_graph *g, qc_tensor *out) {
  memset(out, 0, sizeof *out);
  tok start = p->t;
  qc_type ty;
  QC_RETURN_IF_ERROR(parse_tensor_type(p, g, &ty, true));
  int64_t numel = qc_shape_numel(ty.rank, ty.dims);
  size_t nbytes = numel < 0 ? SIZE_MAX : qc_dtype_nbytes(ty.dtype, (uint64_t)numel);
  if (nbytes == SIZE_MAX) return err_at(p, &start, "the tensor is too large");
  tok at = p->t;
  if (is_word(p, "dense")) return parse_dense(p, g, &ty, (size_t)numel, &at, out);
  if (is_word(p, "hex")) return parse_hex(p, g, &ty, nbytes, &at, out);
  if (is_word(p, "external")) return parse_external(p, g, &ty, nbytes, &at, out);
  return expected(p, "tensor data: dense<[...]>, hex<\"...\"> or external<\"path\", ...>");
}

/* ---- attributes -------------------------------------------------------------------------------- */

static qc_status parse_graph(parser *p, qc_graph *parent, qc_graph **out);

/* A float attribute: decimal, [-]inf, [-]nan, [-]nan(0xMANTISSA). */
static qc_status float_attr(parser *p, double *out) {
  char buf[136];
  QC_RETURN_IF_ERROR(number_text(p, &p->t, buf, sizeof buf));
  const char *q = buf[0] == '-' ? buf + 1 : buf;
  if (strncmp(q, "nan(", 4) == 0) {
    errno = 0;
    unsigned long long m = strtoull(q + 6, NULL, 16);
    if (errno == ERANGE || m == 0 || m >> 52)
      return err_at(p, &p->t, "the payload of %s must be between 0x1 and 0xfffffffffffff", q);
    uint64_t bits = ((uint64_t)(buf[0] == '-') << 63) | ((uint64_t)0x7ff << 52) | m;
    memcpy(out, &bits, sizeof bits);
  } else if (!qir_text_to_double(buf, out)) {
    return err_at(p, &p->t, "malformed number %s", DESC(&p->t));
  }
  return next(p);
}

enum { EL_NUM = 1, EL_STR, EL_TENSOR, EL_GRAPH };

typedef struct list_elem {
  bool isf;
  int64_t i;
  double f;
  char *s;
  size_t sn;
  qc_tensor t;
  qc_graph *g;
} list_elem;

static void release_elems(vec *v) {
  for (int32_t i = 0; i < v->n; i++) {
    list_elem *e = &VEC_AT(*v, list_elem, i);
    qc_tensor_release(&e->t);
    qc_graph_destroy(e->g);
  }
  vec_free(v);
}

/* '[' elements ']' with the current token at '['. `kind`: the list kind when written as
 * ints[...] etc., else 0 (taken from the elements). */
static qc_status parse_list(parser *p, qc_graph *g, int kind, qc_attr *a) {
  tok open = p->t;
  QC_RETURN_IF_ERROR(next(p));
  static const int want_el[] = {[QC_ATTR_FLOATS] = EL_NUM, [QC_ATTR_INTS] = EL_NUM,
                                [QC_ATTR_STRINGS] = EL_STR, [QC_ATTR_TENSORS] = EL_TENSOR,
                                [QC_ATTR_GRAPHS] = EL_GRAPH};
  int el_kind = kind ? want_el[kind] : 0;
  bool any_float = false;
  vec v;
  vec_init(&v, sizeof(list_elem));
  qc_status s = QC_OK;
  while (!is_punct(p, ']')) {
    if (v.n && (s = expect_punct(p, ',', "or ']' in the list"))) goto fail;
    tok et = p->t;
    int k = et.kind == T_NUMBER ? EL_NUM
            : et.kind == T_STRING ? EL_STR
            : is_word(p, "tensor") ? EL_TENSOR
            : is_word(p, "graph") ? EL_GRAPH
                                  : 0;
    if (!k) {
      s = expected(p, "a list element (a number, a string, a tensor or a graph)");
      goto fail;
    }
    if (el_kind && k != el_kind) {
      s = err_at(p, &et, "list elements must all be of one kind: %s does not fit", DESC(&et));
      goto fail;
    }
    el_kind = k;
    list_elem e;
    memset(&e, 0, sizeof e);
    switch (k) {
    case EL_NUM:
      if (et.is_hex) {
        s = err_at(p, &et, "hex numbers are only allowed in tensor data");
        goto fail;
      }
      e.isf = et.is_float;
      if (e.isf && kind == QC_ATTR_INTS) {
        s = err_at(p, &et, "expected an integer in ints[...], got %s", DESC(&et));
        goto fail;
      }
      any_float |= e.isf;
      s = e.isf ? float_attr(p, &e.f) : parse_i64(p, "an integer", &e.i);
      break;
    case EL_STR:
      s = tok_text(p, g, &et, NULL, &e.s, &e.sn);
      if (!s && e.sn > INT32_MAX) s = err_at(p, &et, "string too long");
      if (!s) s = next(p);
      break;
    case EL_TENSOR:
      s = next(p);
      if (!s) s = parse_tensor(p, g, &e.t);
      break;
    default: s = parse_graph(p, g, &e.g); break;
    }
    if (!s) s = vec_push(p, &v, &e);
    if (s) {
      qc_tensor_release(&e.t);
      qc_graph_destroy(e.g);
      goto fail;
    }
  }
  if ((s = next(p))) goto fail;
  if (!kind && !v.n) {
    s = err_at(p, &open,
               "an empty list needs its kind: ints[], floats[], strings[], tensors[] or graphs[]");
    goto fail;
  }
  if (!kind) {
    static const int from_el[] = {[EL_NUM] = QC_ATTR_INTS, [EL_STR] = QC_ATTR_STRINGS,
                                  [EL_TENSOR] = QC_ATTR_TENSORS, [EL_GRAPH] = QC_ATTR_GRAPHS};
    kind = from_el[el_kind];
    if (kind == QC_ATTR_INTS && any_float) kind = QC_ATTR_FLOATS;
  }
  qc_arena *ar = &g->arena;
  size_t n = (size_t)v.n;
  a->n = v.n;
  switch (kind) {
  case QC_ATTR_INTS:
    if (!(a->u.ints = qc_arena_alloc(ar, sizeof(int64_t) * n))) goto oom;
    for (size_t i = 0; i < n; i++) a->u.ints[i] = VEC_AT(v, list_elem, i).i;
    break;
  case QC_ATTR_FLOATS:
    if (!(a->u.floats = qc_arena_alloc(ar, sizeof(double) * n))) goto oom;
    for (size_t i = 0; i < n; i++) {
      list_elem *e = &VEC_AT(v, list_elem, i);
      a->u.floats[i] = e->isf ? e->f : (double)e->i;
    }
    break;
  case QC_ATTR_STRINGS:
    a->u.strs.v = qc_arena_alloc(ar, sizeof(char *) * n);
    a->u.strs.len = qc_arena_alloc(ar, sizeof(int32_t) * n);
    if (!a->u.strs.v || !a->u.strs.len) goto oom;
    for (size_t i = 0; i < n; i++) {
      a->u.strs.v[i] = VEC_AT(v, list_elem, i).s;
      a->u.strs.len[i] = (int32_t)VEC_AT(v, list_elem, i).sn;
    }
    break;
  case QC_ATTR_TENSORS:
    if (!(a->u.tensors = qc_arena_alloc(ar, sizeof(qc_tensor) * n))) goto oom;
    for (size_t i = 0; i < n; i++) a->u.tensors[i] = VEC_AT(v, list_elem, i).t;
    break;
  default:
    if (!(a->u.graphs = qc_arena_alloc(ar, sizeof(qc_graph *) * n))) goto oom;
    for (size_t i = 0; i < n; i++) a->u.graphs[i] = VEC_AT(v, list_elem, i).g;
    break;
  }
  a->kind = (uint8_t)kind; /* from here on the attribute owns the tensors and graphs */
  vec_free(&v);
  return QC_OK;
oom:
  s = QC_OOM();
fail:
  release_elems(&v);
  return s;
}

/* One attribute value into *a (a->kind stays NONE on failure, so releasing is safe). */
static qc_status parse_attr_value(parser *p, qc_graph *g, qc_attr *a) {
  static const struct {
    const char *word;
    int kind;
  } lists[] = {{"ints", QC_ATTR_INTS},
               {"floats", QC_ATTR_FLOATS},
               {"strings", QC_ATTR_STRINGS},
               {"tensors", QC_ATTR_TENSORS},
               {"graphs", QC_ATTR_GRAPHS}};
  tok t = p->t;
  if (t.kind == T_NUMBER) {
    if (t.is_hex) return err_at(p, &t, "hex numbers are only allowed in tensor data");
    if (t.is_float) {
      QC_RETURN_IF_ERROR(float_attr(p, &a->u.f));
      a->kind = QC_ATTR_FLOAT;
    } else {
      QC_RETURN_IF_ERROR(parse_i64(p, "an integer", &a->u.i));
      a->kind = QC_ATTR_INT;
    }
    return QC_OK;
  }
  if (t.kind == T_STRING) {
    char *s;
    size_t n;
    QC_RETURN_IF_ERROR(tok_text(p, g, &t, NULL, &s, &n));
    if (n > INT32_MAX) return err_at(p, &t, "string too long");
    a->u.s = s;
    a->n = (int32_t)n;
    a->kind = QC_ATTR_STRING;
    return next(p);
  }
  if (is_punct(p, '[')) return parse_list(p, g, 0, a);
  if (is_word(p, "tensor")) {
    QC_RETURN_IF_ERROR(next(p));
    qc_tensor *tt = qc_arena_alloc(&g->arena, sizeof *tt);
    if (!tt) return QC_OOM();
    QC_RETURN_IF_ERROR(parse_tensor(p, g, tt));
    a->u.t = tt;
    a->kind = QC_ATTR_TENSOR;
    return QC_OK;
  }
  if (is_word(p, "graph")) {
    QC_RETURN_IF_ERROR(parse_graph(p, g, &a->u.g));
    a->kind = QC_ATTR_GRAPH;
    return QC_OK;
  }
  if (is_word(p, "type")) {
    QC_RETURN_IF_ERROR(next(p));
    qc_type *ty = qc_arena_alloc(&g->arena, sizeof *ty);
    if (!ty) return QC_OOM();
    QC_RETURN_IF_ERROR(parse_type(p, g, ty));
    a->u.type = ty;
    a->kind = QC_ATTR_TYPE;
    return QC_OK;
  }
  for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
    if (is_word(p, lists[i].word)) {
      QC_RETURN_IF_ERROR(next(p));
      if (!is_punct(p, '['))
        return err_at(p, &p->t, "expected '[' after '%s', got %s", lists[i].word, DESC(&p->t));
      return parse_list(p, g, lists[i].kind, a);
    }
  return expected(p, "an attribute value");
}

/* ---- statements ----------------------------------------------------------------------------- */

/* How a name token is shown in messages: as written, at most 60 bytes. */
#define NAME_ARG(t) (int)((t)->n > 60 ? 60 : (t)->n), (t)->p

/* Values with an empty name ("%\"\"") are created under a free placeholder and renamed,
 * because the graph API reads "" as "generate a name". */
typedef struct result {
  tok t;
  char *name; /* NULL for '_' */
  bool typed;
  qc_type type;
} result;

static const char *api_name(qc_graph *g, const char *name, const result *res, int32_t n_res,
                            char buf[48]) {
  if (*name) return name;
  for (int i = 0;; i++) {
    snprintf(buf, 48, "qir.empty.%d", i);
    bool taken = qc_graph_find(g, buf) >= 0;
    for (int32_t k = 0; k < n_res && !taken; k++) taken = res[k].name && !strcmp(res[k].name, buf);
    if (!taken) return buf;
  }
}

static qc_status fix_empty_name(qc_graph *g, qc_vid v, const char *name) {
  return *name ? QC_OK : qc_graph_rename(g, v, "");
}

static qc_status check_undefined(parser *p, qc_graph *g, const tok *t, const char *name) {
  if (qc_graph_find(g, name) >= 0)
    return err_at(p, t, "value '%.*s' is already defined", NAME_ARG(t));
  return QC_OK;
}

static qc_status lookup_value(parser *p, qc_graph *g, qc_vid *out) {
  tok t = p->t;
  if (is_word(p, "_")) {
    *out = QC_NONE;
    return next(p);
  }
  if (t.kind != T_VALUE) return expected(p, "a value ('%name' or '_')");
  char *name;
  QC_RETURN_IF_ERROR(tok_text(p, g, &t, "a value name", &name, NULL));
  *out = qc_graph_find(g, name);
  if (*out < 0) return err_at(p, &t, "undefined value '%.*s'", NAME_ARG(&t));
  return next(p);
}

/* op(args) {attrs} @name, defining `res` (n_res results). */
static qc_status parse_call(parser *p, qc_graph *g, const result *res, int32_t n_res) {
  tok ot = p->t;
  char *dom = "", *name;
  if (ot.kind == T_WORD) {
    char *w;
    QC_RETURN_IF_ERROR(tok_text(p, g, &ot, NULL, &w, NULL));
    char *dot = strrchr(w, '.');
    if (dot) {
      *dot = 0;
      dom = w;
      name = dot + 1;
    } else {
      name = w;
    }
    QC_RETURN_IF_ERROR(next(p));
  } else if (ot.kind == T_STRING) {
    QC_RETURN_IF_ERROR(tok_text(p, g, &ot, "an op name", &name, NULL));
    QC_RETURN_IF_ERROR(next(p));
    if (is_punct(p, '.')) {
      QC_RETURN_IF_ERROR(next(p));
      if (p->t.kind != T_STRING && p->t.kind != T_WORD)
        return expected(p, "the op name after the domain");
      dom = name;
      QC_RETURN_IF_ERROR(tok_text(p, g, &p->t, "an op name", &name, NULL));
      QC_RETURN_IF_ERROR(next(p));
    }
  } else {
    return expected(p, "an op name");
  }
  qc_op op = qc_op_lookup(dom, name);
  if (op == QC_OP_INVALID) {
    if (*dom) return err_at(p, &ot, "unknown op '%.60s' in domain '%.60s'", name, dom);
    return err_at(p, &ot, "unknown op '%.60s'", name);
  }
  QC_RETURN_IF_ERROR(expect_punct(p, '(', "after the op name"));
  vec in, attrs;
  vec_init(&in, sizeof(qc_vid));
  vec_init(&attrs, sizeof(qc_attr));
  qc_strmap seen;
  qc_strmap_init(&seen, A());
  const char *node_name = "";
  qc_status s = QC_OK;
  while (!is_punct(p, ')')) {
    if (in.n && (s = expect_punct(p, ',', "or ')' between inputs"))) goto done;
    qc_vid v;
    if ((s = lookup_value(p, g, &v)) || (s = vec_push(p, &in, &v))) goto done;
  }
  if ((s = next(p))) goto done;
  if (is_punct(p, '{')) {
    if ((s = next(p))) goto done;
    while (!is_punct(p, '}')) {
      if (attrs.n && (s = expect_punct(p, ',', "or '}' between attributes"))) goto done;
      tok nt = p->t;
      if (nt.kind != T_WORD && nt.kind != T_STRING) {
        s = expected(p, "an attribute name");
        goto done;
      }
      qc_attr a;
      memset(&a, 0, sizeof a);
      char *an;
      if ((s = tok_text(p, g, &nt, "an attribute name", &an, NULL))) goto done;
      a.name = an;
      if (qc_strmap_get(&seen, an) >= 0) {
        s = err_at(p, &nt, "attribute '%.*s' is given twice", NAME_ARG(&nt));
        goto done;
      }
      if (!qc_strmap_put(&seen, an, 0)) {
        s = QC_OOM();
        goto done;
      }
      if ((s = next(p)) || (s = expect_punct(p, '=', "after the attribute name"))) goto done;
      if ((s = parse_attr_value(p, g, &a))) goto done;
      if ((s = vec_push(p, &attrs, &a))) {
        qc_attr_release(&a);
        goto done;
      }
    }
    if ((s = next(p))) goto done;
  }
  if (p->t.kind == T_GLOBAL) {
    char *nn;
    if ((s = tok_text(p, g, &p->t, "a node name", &nn, NULL)) || (s = next(p))) goto done;
    node_name = nn;
  }
  /* The node and its outputs. */
  const char **out_names = qc_arena_alloc(&g->arena, sizeof(char *) * (size_t)(n_res ? n_res : 1));
  char (*tmp)[48] = qc_alloc(A(), 48 * (size_t)(n_res ? n_res : 1));
  if (!out_names || !tmp) {
    qc_free(A(), tmp, 48 * (size_t)(n_res ? n_res : 1));
    s = QC_OOM();
    goto done;
  }
  for (int32_t i = 0; i < n_res; i++)
    out_names[i] = res[i].name ? api_name(g, res[i].name, res, n_res, tmp[i]) : "";
  qc_nid nid;
  s = qc_graph_add_node(g, op, node_name, in.n, in.p ? (qc_vid *)in.p : (qc_vid[]){0}, n_res,
                        out_names, &nid);
  qc_free(A(), tmp, 48 * (size_t)(n_res ? n_res : 1));
  if (s) goto done;
  for (int32_t i = 0; i < n_res; i++) {
    qc_vid v = qc_graph_node(g, nid)->out[i];
    if (v < 0) continue;
    if ((s = fix_empty_name(g, v, res[i].name))) goto done;
    if (res[i].typed && (s = qc_graph_set_type(g, v, &res[i].type))) goto done;
  }
  for (int32_t k = 0; k < attrs.n; k++) {
    qc_attr *a = &VEC_AT(attrs, qc_attr, k);
    s = qc_node_set_attr(g, nid, a);
    if (s) goto done; /* the node took nothing: `a` is still ours and released below */
    /* The node retained the tensors and took the graphs over. */
    if (a->kind == QC_ATTR_TENSOR) qc_tensor_release(a->u.t);
    if (a->kind == QC_ATTR_TENSORS)
      for (int32_t i = 0; i < a->n; i++) qc_tensor_release(&a->u.tensors[i]);
    a->kind = QC_ATTR_NONE;
  }
done:
  for (int32_t k = 0; k < attrs.n; k++) qc_attr_release(&VEC_AT(attrs, qc_attr, k));
  vec_free(&attrs);
  vec_free(&in);
  qc_strmap_free(&seen);
  return s;
}

/* results '=' (const tensor | call). */
static qc_status parse_def(parser *p, qc_graph *g) {
  vec res;
  vec_init(&res, sizeof(result));
  qc_strmap names;
  qc_strmap_init(&names, A());
  qc_status s = QC_OK;
  for (;;) {
    result r;
    memset(&r, 0, sizeof r);
    r.t = p->t;
    if (is_word(p, "_")) {
      if ((s = next(p))) goto done;
    } else if (p->t.kind == T_VALUE) {
      if ((s = tok_text(p, g, &r.t, "a value name", &r.name, NULL))) goto done;
      if ((s = check_undefined(p, g, &r.t, r.name))) goto done;
      if (qc_strmap_get(&names, r.name) >= 0) {
        s = err_at(p, &r.t, "value '%.*s' is already defined", NAME_ARG(&r.t));
        goto done;
      }
      if (!qc_strmap_put(&names, r.name, 0)) {
        s = QC_OOM();
        goto done;
      }
      if ((s = next(p))) goto done;
      if (is_punct(p, ':')) {
        r.typed = true;
        if ((s = next(p)) || (s = parse_type(p, g, &r.type))) goto done;
      }
    } else {
      s = expected(p, "a value name or '_'");
      goto done;
    }
    if ((s = vec_push(p, &res, &r))) goto done;
    if (!is_punct(p, ',')) break;
    if ((s = next(p))) goto done;
  }
  if ((s = expect_punct(p, '=', "after the results"))) goto done;
  if (is_word(p, "const")) {
    result *r = &VEC_AT(res, result, 0);
    if (res.n != 1 || !r->name) {
      s = err_at(p, &r->t, "a constant defines exactly one named value");
      goto done;
    }
    qc_tensor t;
    if ((s = next(p)) || (s = parse_tensor(p, g, &t))) goto done;
    char buf[48];
    qc_vid v;
    s = qc_graph_add_const(g, api_name(g, r->name, NULL, 0, buf), &t, &v);
    qc_tensor_release(&t);
    if (!s) s = fix_empty_name(g, v, r->name);
    if (!s && r->typed) s = qc_graph_set_type(g, v, &r->type);
  } else {
    s = parse_call(p, g, (result *)res.p, res.n);
  }
done:
  vec_free(&res);
  qc_strmap_free(&names);
  return s;
}

static qc_status parse_opset(parser *p, qc_graph *g) {
  QC_RETURN_IF_ERROR(next(p));
  for (;;) {
    tok dt = p->t;
    if (dt.kind != T_STRING) return expected(p, "a domain string (\"\" is ai.onnx)");
    char *dom;
    QC_RETURN_IF_ERROR(tok_text(p, g, &dt, "a domain", &dom, NULL));
    QC_RETURN_IF_ERROR(next(p));
    int64_t ver;
    QC_RETURN_IF_ERROR(parse_i64(p, "an opset version", &ver));
    const char *norm = strcmp(dom, "ai.onnx") == 0 ? "" : dom;
    for (int32_t i = 0; i < qc_graph_num_opsets(g); i++) {
      const char *d;
      int64_t v;
      qc_graph_opset_at(g, i, &d, &v);
      if (strcmp(d, norm) == 0)
        return err_at(p, &dt, "the opset of domain '%.60s' is given twice", dom);
    }
    QC_RETURN_IF_ERROR(qc_graph_set_opset(g, dom, ver));
    if (!is_punct(p, ',')) return QC_OK;
    QC_RETURN_IF_ERROR(next(p));
  }
}

static qc_status parse_meta(parser *p, qc_graph *g) {
  QC_RETURN_IF_ERROR(next(p));
  tok kt = p->t;
  if (kt.kind != T_STRING) return expected(p, "a metadata key string");
  char *k, *v;
  QC_RETURN_IF_ERROR(tok_text(p, g, &kt, "a metadata key", &k, NULL));
  QC_RETURN_IF_ERROR(next(p));
  QC_RETURN_IF_ERROR(expect_punct(p, '=', "after the metadata key"));
  if (p->t.kind != T_STRING) return expected(p, "a metadata value string");
  QC_RETURN_IF_ERROR(tok_text(p, g, &p->t, "a metadata value", &v, NULL));
  if (qc_graph_meta(g, k)) return err_at(p, &kt, "metadata key '%.60s' is given twice", k);
  QC_RETURN_IF_ERROR(qc_graph_set_meta(g, k, v));
  return next(p);
}

static qc_status parse_capture(parser *p, qc_graph *g) {
  QC_RETURN_IF_ERROR(next(p));
  tok t = p->t;
  if (t.kind != T_VALUE) return expected(p, "the name of a captured value");
  char *name;
  QC_RETURN_IF_ERROR(tok_text(p, g, &t, "a value name", &name, NULL));
  QC_RETURN_IF_ERROR(check_undefined(p, g, &t, name));
  if (qc_graph_parent(g)) {
    const qc_graph *q = qc_graph_parent(g);
    while (q && qc_graph_find(q, name) < 0) q = qc_graph_parent(q);
    if (!q)
      return err_at(p, &t, "captured value '%.*s' is not defined before this point in an "
                           "enclosing graph", NAME_ARG(&t));
  }
  QC_RETURN_IF_ERROR(next(p));
  QC_RETURN_IF_ERROR(expect_punct(p, ':', "after the captured value"));
  qc_type ty;
  QC_RETURN_IF_ERROR(parse_type(p, g, &ty));
  char buf[48];
  qc_vid v;
  QC_RETURN_IF_ERROR(qc_graph_add_outer(g, api_name(g, name, NULL, 0, buf), &ty, &v));
  return fix_empty_name(g, v, name);
}

static qc_status parse_return(parser *p, qc_graph *g) {
  QC_RETURN_IF_ERROR(next(p));
  if (p->t.kind != T_VALUE && !is_word(p, "_")) return QC_OK; /* no outputs */
  for (;;) {
    qc_vid v;
    QC_RETURN_IF_ERROR(lookup_value(p, g, &v));
    if (v == QC_NONE) {
      /* An omitted output: the graph API only appends values, so place it directly. */
      if (!qc_grow(&g->alloc, (void **)&g->outputs, &g->cap_outputs, g->n_outputs + 1,
                   sizeof *g->outputs))
        return QC_OOM();
      g->outputs[g->n_outputs++] = QC_NONE;
    } else {
      QC_RETURN_IF_ERROR(qc_graph_add_output(g, v));
    }
    if (!is_punct(p, ',')) return QC_OK;
    QC_RETURN_IF_ERROR(next(p));
  }
}

static qc_status parse_graph_body(parser *p, qc_graph *g) {
  if (p->t.kind != T_GLOBAL) return expected(p, "the graph name ('@name')");
  char *gname;
  QC_RETURN_IF_ERROR(tok_text(p, g, &p->t, "a graph name", &gname, NULL));
  QC_RETURN_IF_ERROR(qc_graph_set_name(g, gname));
  QC_RETURN_IF_ERROR(next(p));
  QC_RETURN_IF_ERROR(expect_punct(p, '(', "after the graph name"));
  while (!is_punct(p, ')')) {
    if (qc_graph_num_inputs(g)) QC_RETURN_IF_ERROR(expect_punct(p, ',', "or ')' between inputs"));
    tok t = p->t;
    if (t.kind != T_VALUE) return expected(p, "an input ('%name: type')");
    char *name;
    QC_RETURN_IF_ERROR(tok_text(p, g, &t, "a value name", &name, NULL));
    QC_RETURN_IF_ERROR(check_undefined(p, g, &t, name));
    QC_RETURN_IF_ERROR(next(p));
    QC_RETURN_IF_ERROR(expect_punct(p, ':', "after the input name"));
    qc_type ty;
    QC_RETURN_IF_ERROR(parse_type(p, g, &ty));
    char buf[48];
    qc_vid v;
    QC_RETURN_IF_ERROR(qc_graph_add_input(g, api_name(g, name, NULL, 0, buf), &ty, &v));
    QC_RETURN_IF_ERROR(fix_empty_name(g, v, name));
  }
  QC_RETURN_IF_ERROR(next(p));
  QC_RETURN_IF_ERROR(expect_punct(p, '{', "to open the graph body"));
  for (;;) {
    if (is_word(p, "return")) break;
    if (is_word(p, "opset")) QC_RETURN_IF_ERROR(parse_opset(p, g));
    else if (is_word(p, "meta")) QC_RETURN_IF_ERROR(parse_meta(p, g));
    else if (is_word(p, "capture")) QC_RETURN_IF_ERROR(parse_capture(p, g));
    else if (p->t.kind == T_VALUE || is_word(p, "_")) QC_RETURN_IF_ERROR(parse_def(p, g));
    else if (p->t.kind == T_WORD || p->t.kind == T_STRING) QC_RETURN_IF_ERROR(parse_call(p, g, NULL, 0));
    else if (is_punct(p, '}')) return err_at(p, &p->t, "expected 'return' before '}'");
    else return expected(p, "a statement");
  }
  QC_RETURN_IF_ERROR(parse_return(p, g));
  return expect_punct(p, '}', "to close the graph body");
}

static qc_status parse_graph(parser *p, qc_graph *parent, qc_graph **out) {
  *out = NULL;
  if (p->depth >= QIR_MAX_DEPTH)
    return err_at(p, &p->t, "graphs are nested more than %d deep", QIR_MAX_DEPTH);
  QC_RETURN_IF_ERROR(expect_word(p, "graph", ""));
  qc_graph *g;
  QC_RETURN_IF_ERROR(qc_graph_create(NULL, &g));
  if (parent) qc_graph_set_parent(g, parent);
  p->depth++;
  qc_status s = parse_graph_body(p, g);
  p->depth--;
  if (s) {
    qc_graph_destroy(g);
    return s;
  }
  *out = g;
  return QC_OK;
}

/* ---- entry points ------------------------------------------------------------------------------ */

qc_status qc_qir_parse(const char *text, size_t len, const char *filename, qc_graph **out) {
  *out = NULL;
  parser P;
  memset(&P, 0, sizeof P);
  parser *p = &P;
  p->src = text ? text : "";
  p->len = text ? len : 0;
  p->line = 1;
  p->file = filename ? filename : "<input>";
  const char *slash = filename ? strrchr(filename, '/') : NULL;
  if (slash) {
    size_t n = (size_t)(slash - filename) + 1;
    p->dir = qc_alloc(A(), n + 1);
    if (!p->dir) return QC_OOM();
    memcpy(p->dir, filename, n);
    p->dir[n] = 0;
  }
  qc_graph *g = NULL;
  qc_status s = next(p);
  if (!s) s = parse_graph(p, NULL, &g);
  if (!s && p->t.kind != T_EOF) s = expected(p, "end of file after the graph");
  for (int32_t i = 0; i < p->n_maps; i++) {
    qc_free(A(), p->maps[i].path, strlen(p->maps[i].path) + 1);
    qc_buffer_release(p->maps[i].buf); /* slices keep what they need mapped */
  }
  qc_free(A(), p->maps, (size_t)p->cap_maps * sizeof *p->maps);
  if (p->dir) qc_free(A(), p->dir, strlen(p->dir) + 1);
  if (s) {
    qc_graph_destroy(g);
    return s;
  }
  *out = g;
  return QC_OK;
}

qc_status qc_qir_read_file(const char *path, qc_graph **out) {
  *out = NULL;
  char *text;
  size_t n;
  QC_RETURN_IF_ERROR(qc_read_file(path, &text, &n));
  qc_status s = qc_qir_parse(text, n, path, out);
  free(text);
  return s;
}
