/* The .qir printer and qc_qir_write_file. The grammar is in docs/qir.md.
 *
 * The output is canonical: one spelling per graph, so print(parse(print(g))) == print(g).
 * Sections of a graph body come in a fixed order (opset, meta, captures, constants,
 * nodes, return); constants and captures in value order, nodes in node order. Every
 * choice between spellings (bare or quoted name, decimal or raw float code, inline or
 * external data) is a function of the printed thing alone. */
#include "qir_internal.h"
#include "quarc/io.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- output buffer (malloc'd: qc_qir_print hands it to the caller to free) ------------------ */

typedef struct sbuf {
  char *p;
  size_t n, cap;
  bool oom;
} sbuf;

static bool sb_reserve(sbuf *b, size_t extra) {
  if (b->oom) return false;
  if (extra > SIZE_MAX - b->n - 1) {
    b->oom = true;
    return false;
  }
  size_t need = b->n + extra + 1;
  if (need <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->oom = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  return true;
}

static void sb_putn(sbuf *b, const char *s, size_t n) {
  if (!sb_reserve(b, n)) return;
  if (n) memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}

static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_putc(sbuf *b, char c) { sb_putn(b, &c, 1); }

static void sb_printf(sbuf *b, const char *fmt, ...) QC_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    sb_putn(b, tmp, (size_t)n);
    return;
  }
  if (!sb_reserve(b, (size_t)n)) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->n += (size_t)n;
}

static void sb_indent(sbuf *b, int ind) {
  for (int i = 0; i < ind; i++) sb_putc(b, ' ');
}

/* "..." with \\ \" \n \t \r and \xHH for every other byte outside printable ASCII. */
static void sb_quoted(sbuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  sb_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
    case '"': sb_puts(b, "\\\""); break;
    case '\\': sb_puts(b, "\\\\"); break;
    case '\n': sb_puts(b, "\\n"); break;
    case '\t': sb_puts(b, "\\t"); break;
    case '\r': sb_puts(b, "\\r"); break;
    default:
      if (c >= 0x20 && c < 0x7f) {
        sb_putc(b, (char)c);
      } else {
        char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
        sb_putn(b, e, 4);
      }
    }
  }
  sb_putc(b, '"');
}

/* %name / @name: bare when the lexer reads it back as the same name. */
static void sb_name(sbuf *b, char sigil, const char *s) {
  size_t n = strlen(s);
  sb_putc(b, sigil);
  if (qir_is_plain_name(s, n)) sb_putn(b, s, n);
  else sb_quoted(b, s, n);
}

/* A word (symbol, attribute name): bare or quoted. */
static void sb_word(sbuf *b, const char *s) {
  size_t n = strlen(s);
  if (qir_is_plain_word(s, n)) sb_putn(b, s, n);
  else sb_quoted(b, s, n);
}

/* ---- the printer ------------------------------------------------------------------------------ */

typedef struct printer {
  sbuf out;
  size_t limit;
  const char *base_dir;
  /* Large constants held in memory go to the side file (NULL: printed inline). */
  const char *side_path;
  bool side_atomic_mode; /* qc_qir_write_file: the side file is written atomically */
  bool side_open;
  int side_fd;
  qc_atomic_file *side_atomic;
  uint64_t side_off;
  char *side_printed; /* side_path as printed (relative to base_dir) */
  /* qc_qir_write_file replaces the side file: constants mapped from the old one are copied. */
  bool have_avoid;
  dev_t avoid_dev;
  ino_t avoid_ino;
} printer;

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

/* The rest of `path` below directory `dir`, or NULL. */
static const char *below(const char *path, const char *dir) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/') n--;
  if (strncmp(path, dir, n) != 0) return NULL;
  if (dir[n - 1] == '/') return path + n;
  if (path[n] != '/') return NULL;
  const char *r = path + n;
  while (*r == '/') r++;
  return *r ? r : NULL;
}

/* The path to print for `path`: relative to base_dir when it lies below it, else absolute
 * when it can be resolved, else as given. malloc'd. */
static char *printed_path(const char *base_dir, const char *path) {
  if (!base_dir || !*base_dir) return xstrdup(path);
  const char *r = below(path, base_dir);
  if (r) return xstrdup(r);
  if (path[0] != '/' && strcmp(base_dir, ".") == 0) return xstrdup(path);
  char *rp = realpath(path, NULL);
  if (!rp) return xstrdup(path);
  char *rb = realpath(base_dir, NULL);
  char *res = NULL;
  if (rb && (r = below(rp, rb))) res = xstrdup(r);
  free(rb);
  if (res) {
    free(rp);
    return res;
  }
  return rp;
}

static qc_status fd_write(int fd, const char *path, const void *data, size_t n) {
  const char *p = data;
  while (n) {
    ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return qc_status_new(QC_CODE_IO, "%s: write failed: %s", path, strerror(errno));
    }
    p += w;
    n -= (size_t)w;
  }
  return QC_OK;
}

static qc_status side_put(printer *P, const void *data, size_t n) {
  if (P->side_atomic_mode) return qc_atomic_write(P->side_atomic, data, n);
  return fd_write(P->side_fd, P->side_path, data, n);
}

/* Append n bytes to the side file at the next 64-byte boundary; *offset: where they went. */
static qc_status side_write(printer *P, const void *data, size_t n, uint64_t *offset) {
  if (!P->side_open) {
    if (P->side_atomic_mode) {
      QC_RETURN_IF_ERROR(qc_atomic_open(P->side_path, &P->side_atomic));
      P->side_off = 0;
    } else {
      P->side_fd = open(P->side_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (P->side_fd < 0)
        return qc_status_new(QC_CODE_IO, "%s: cannot open the side file: %s", P->side_path,
                             strerror(errno));
      struct stat st;
      if (fstat(P->side_fd, &st) != 0)
        return qc_status_new(QC_CODE_IO, "%s: %s", P->side_path, strerror(errno));
      P->side_off = (uint64_t)st.st_size;
    }
    P->side_open = true;
    P->side_printed = printed_path(P->base_dir, P->side_path);
    if (!P->side_printed) return QC_OOM();
  }
  static const char zeros[64];
  size_t pad = (size_t)((64 - P->side_off % 64) % 64);
  if (pad) QC_RETURN_IF_ERROR(side_put(P, zeros, pad));
  *offset = P->side_off + pad;
  QC_RETURN_IF_ERROR(side_put(P, data, n));
  P->side_off += pad + n;
  return QC_OK;
}

static bool dtype_valid(qc_dtype dt) { return dt > QC_DT_UNDEFINED && dt < QC_DTYPE_COUNT; }

/* A type that prints as nothing at all (node outputs omit it). */
static bool type_unknown(const qc_type *t) {
  return (t->kind < QC_TYPE_SEQUENCE || t->kind > QC_TYPE_OPTIONAL_SEQUENCE) &&
         !dtype_valid(t->dtype) && t->rank < 0;
}

static void print_dims(sbuf *b, const qc_graph *g, int32_t rank, const int64_t *dims) {
  if (rank < 0) {
    sb_puts(b, "[*]");
    return;
  }
  sb_putc(b, '[');
  for (int32_t i = 0; i < rank && i < QC_MAX_RANK; i++) {
    if (i) sb_putc(b, ',');
    int64_t d = dims[i];
    const char *sym = qc_graph_sym_name(g, d);
    if (d >= 0) sb_printf(b, "%lld", (long long)d);
    else if (sym) sb_word(b, sym);
    else sb_putc(b, '?'); /* QC_DIM_UNKNOWN, or a symbol this graph does not know */
  }
  sb_putc(b, ']');
}

static void print_tensor_type(sbuf *b, const qc_graph *g, qc_dtype dt, int32_t rank,
                              const int64_t *dims) {
  sb_puts(b, dtype_valid(dt) ? qc_dtype_name(dt) : "?");
  print_dims(b, g, rank, dims);
}

static void print_type(sbuf *b, const qc_graph *g, const qc_type *t) {
  switch (t->kind) {
  case QC_TYPE_SEQUENCE: sb_puts(b, "seq<"); break;
  case QC_TYPE_OPTIONAL: sb_puts(b, "opt<"); break;
  case QC_TYPE_OPTIONAL_SEQUENCE: sb_puts(b, "opt<seq<"); break;
  default: break;
  }
  print_tensor_type(b, g, t->dtype, t->rank, t->dims);
  switch (t->kind) {
  case QC_TYPE_SEQUENCE:
  case QC_TYPE_OPTIONAL: sb_putc(b, '>'); break;
  case QC_TYPE_OPTIONAL_SEQUENCE: sb_puts(b, ">>"); break;
  default: break;
  }
}

static void print_value_ref(sbuf *b, const qc_graph *g, qc_vid v) {
  if (v == QC_NONE) sb_putc(b, '_');
  else sb_name(b, '%', qc_graph_value(g, v)->name);
}

/* ---- tensors ----------------------------------------------------------------------------------- */

static int64_t sign_extend(uint64_t code, int bits) {
  if (bits >= 64) return (int64_t)code;
  uint64_t m = (uint64_t)1 << (bits - 1);
  code &= ((uint64_t)1 << bits) - 1;
  return (int64_t)((code ^ m) - m);
}

static void print_float_elem(sbuf *b, qc_dtype dt, uint64_t code) {
  char buf[64];
  if (qir_float_text(dt, code, buf, sizeof buf)) {
    sb_puts(b, buf);
  } else {
    int digits = (qc_dtype_traits_of(dt)->bits + 3) / 4;
    sb_printf(b, "0x%0*llx", digits, (unsigned long long)code);
  }
}

static void print_dense(sbuf *b, const qc_tensor *t, size_t numel) {
  const void *data = qc_tensor_data(t);
  const qc_dtype_traits *tr = qc_dtype_traits_of(t->dtype);
  sb_puts(b, "dense<[");
  if (t->dtype == QC_STRING) {
    const char *const *s = data;
    for (size_t i = 0; i < numel; i++) {
      if (i) sb_puts(b, ", ");
      const char *e = s[i] ? s[i] : "";
      sb_quoted(b, e, strlen(e));
    }
  } else if (tr->kind == QC_KIND_COMPLEX) {
    qc_dtype comp = t->dtype == QC_C64 ? QC_F32 : QC_F64;
    for (size_t i = 0; i < 2 * numel; i++) {
      if (i) sb_puts(b, ", ");
      print_float_elem(b, comp, qc_elem_code(comp, data, i));
    }
  } else {
    for (size_t i = 0; i < numel; i++) {
      if (i) sb_puts(b, ", ");
      uint64_t c = qc_elem_code(t->dtype, data, i);
      switch (tr->kind) {
      case QC_KIND_BOOL:
        if (c <= 1) sb_puts(b, c ? "true" : "false");
        else sb_printf(b, "%llu", (unsigned long long)c);
        break;
      case QC_KIND_INT:
        if (tr->is_signed) sb_printf(b, "%lld", (long long)sign_extend(c, tr->bits));
        else sb_printf(b, "%llu", (unsigned long long)c);
        break;
      default: print_float_elem(b, t->dtype, c); break;
      }
    }
  }
  sb_puts(b, "]>");
}

static bool same_file(const printer *P, const char *path) {
  if (!P->have_avoid) return false;
  struct stat st;
  return stat(path, &st) == 0 && st.st_dev == P->avoid_dev && st.st_ino == P->avoid_ino;
}

/* `dtype[dims] data` — `what` names the tensor in errors. */
static qc_status print_tensor(printer *P, const qc_graph *g, const qc_tensor *t,
                              const char *what) {
  sbuf *b = &P->out;
  if (!dtype_valid(t->dtype))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: the tensor has no dtype", what);
  if (t->rank < 0 || t->rank > QC_MAX_RANK)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: bad rank %d", what, t->rank);
  int64_t numel = qc_shape_numel(t->rank, t->dims);
  if (numel < 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: the shape is not static or its size overflows", what);
  size_t nbytes = qc_dtype_nbytes(t->dtype, (uint64_t)numel);
  if (nbytes == SIZE_MAX)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: the tensor is too large", what);
  if (nbytes && !t->buf) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: no data", what);
  if (t->buf && (t->offset > qc_buffer_size(t->buf) ||
                 nbytes > qc_buffer_size(t->buf) - t->offset))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "%s: the data is shorter than the shape needs (%zu bytes)", what, nbytes);
  print_tensor_type(b, g, t->dtype, t->rank, t->dims);
  sb_putc(b, ' ');
  if (t->dtype != QC_STRING && nbytes > P->limit) {
    const char *path = NULL;
    uint64_t off = 0;
    if (qc_buffer_origin(t->buf, &path, &off) && !same_file(P, path)) {
      char *pp = printed_path(P->base_dir, path);
      if (!pp) return QC_OOM();
      sb_puts(b, "external<");
      sb_quoted(b, pp, strlen(pp));
      sb_printf(b, ", offset=%llu, size=%zu>", (unsigned long long)(off + t->offset), nbytes);
      free(pp);
      return QC_OK;
    }
    if (P->side_path) {
      QC_RETURN_IF_ERROR(side_write(P, qc_tensor_data(t), nbytes, &off));
      sb_puts(b, "external<");
      sb_quoted(b, P->side_printed, strlen(P->side_printed));
      sb_printf(b, ", offset=%llu, size=%zu>", (unsigned long long)off, nbytes);
      return QC_OK;
    }
  }
  if (qc_dtype_is_block(t->dtype)) {
    static const char hex[] = "0123456789abcdef";
    const unsigned char *d = qc_tensor_data(t);
    sb_puts(b, "hex<\"");
    if (sb_reserve(b, 2 * nbytes)) {
      for (size_t i = 0; i < nbytes; i++) {
        b->p[b->n++] = hex[d[i] >> 4];
        b->p[b->n++] = hex[d[i] & 15];
      }
      b->p[b->n] = 0;
    }
    sb_puts(b, "\">");
    return QC_OK;
  }
  print_dense(b, t, (size_t)numel);
  return QC_OK;
}

/* ---- attributes ----------------------------------------------------------------------------- */

/* A double that reads back bit for bit and as a float (never as an int): shortest %.Ng,
 * ".0" added where needed; NaN payloads other than the default quiet NaN as nan(0x...). */
static void print_float_attr(sbuf *b, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  if (isnan(v)) {
    uint64_t mant = bits & (((uint64_t)1 << 52) - 1);
    if (bits >> 63) sb_putc(b, '-');
    if (mant == (uint64_t)1 << 51) sb_puts(b, "nan");
    else sb_printf(b, "nan(0x%llx)", (unsigned long long)mant);
    return;
  }
  char buf[64];
  qir_float_text(QC_F64, bits, buf, sizeof buf); /* always succeeds for non-NaN doubles */
  sb_puts(b, buf);
  if (!strpbrk(buf, ".eEn")) sb_puts(b, ".0"); /* "n": inf */
}

static qc_status print_graph(printer *P, const qc_graph *g, int ind);

static qc_status print_attr_value(printer *P, const qc_graph *g, const qc_attr *a, int ind,
                                  const char *what) {
  sbuf *b = &P->out;
  static const char *const empty[] = {[QC_ATTR_FLOATS] = "floats[]", [QC_ATTR_INTS] = "ints[]",
                                      [QC_ATTR_STRINGS] = "strings[]",
                                      [QC_ATTR_TENSORS] = "tensors[]",
                                      [QC_ATTR_GRAPHS] = "graphs[]"};
  switch (a->kind) {
  case QC_ATTR_INT: sb_printf(b, "%lld", (long long)a->u.i); return QC_OK;
  case QC_ATTR_FLOAT: print_float_attr(b, a->u.f); return QC_OK;
  case QC_ATTR_STRING:
    sb_quoted(b, a->u.s ? a->u.s : "", a->u.s && a->n > 0 ? (size_t)a->n : 0);
    return QC_OK;
  case QC_ATTR_TENSOR:
    sb_puts(b, "tensor ");
    return print_tensor(P, g, a->u.t, what);
  case QC_ATTR_GRAPH: return print_graph(P, a->u.g, ind);
  case QC_ATTR_TYPE:
    sb_puts(b, "type ");
    print_type(b, g, a->u.type);
    return QC_OK;
  case QC_ATTR_FLOATS:
  case QC_ATTR_INTS:
  case QC_ATTR_STRINGS:
  case QC_ATTR_TENSORS:
  case QC_ATTR_GRAPHS: break;
  default:
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: attribute kind %d has no text form", what,
                         a->kind);
  }
  if (a->n <= 0) {
    sb_puts(b, empty[a->kind]);
    return QC_OK;
  }
  sb_putc(b, '[');
  for (int32_t i = 0; i < a->n; i++) {
    if (i) sb_puts(b, ", ");
    switch (a->kind) {
    case QC_ATTR_FLOATS: print_float_attr(b, a->u.floats[i]); break;
    case QC_ATTR_INTS: sb_printf(b, "%lld", (long long)a->u.ints[i]); break;
    case QC_ATTR_STRINGS: {
      const char *s = a->u.strs.v[i];
      int32_t n = a->u.strs.len ? a->u.strs.len[i] : (int32_t)strlen(s ? s : "");
      sb_quoted(b, s ? s : "", s && n > 0 ? (size_t)n : 0);
      break;
    }
    case QC_ATTR_TENSORS:
      sb_puts(b, "tensor ");
      QC_RETURN_IF_ERROR(print_tensor(P, g, &a->u.tensors[i], what));
      break;
    default: QC_RETURN_IF_ERROR(print_graph(P, a->u.graphs[i], ind)); break;
    }
  }
  sb_putc(b, ']');
  return QC_OK;
}

/* ---- ops, nodes, graphs ---------------------------------------------------------------------- */

static bool is_keyword(const char *s) {
  static const char *const kw[] = {"_",      "capture", "const", "graph", "meta",
                                   "opset",  "return",  "tensor", "type"};
  for (size_t i = 0; i < sizeof kw / sizeof *kw; i++)
    if (strcmp(s, kw[i]) == 0) return true;
  return false;
}

/* MatMul, com.microsoft.MatMulNBits; "odd name" and "odd.domain"."Name" where needed. */
static void print_op(sbuf *b, qc_op op) {
  const qc_op_schema *s = qc_op_schema_of(op);
  const char *dom = s->domain ? s->domain : "", *name = s->name ? s->name : "";
  size_t nl = strlen(name);
  bool name_plain = qir_is_plain_word(name, nl) && !memchr(name, '.', nl);
  if (!*dom) {
    if (name_plain && !is_keyword(name)) sb_putn(b, name, nl);
    else sb_quoted(b, name, nl);
  } else if (name_plain && qir_is_plain_word(dom, strlen(dom))) {
    sb_puts(b, dom);
    sb_putc(b, '.');
    sb_putn(b, name, nl);
  } else {
    sb_quoted(b, dom, strlen(dom));
    sb_putc(b, '.');
    sb_quoted(b, name, nl);
  }
}

static qc_status bad_ref(const qc_graph *g, qc_nid n, const char *what, int32_t i) {
  return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: %s %d refers to no value",
                       qc_node_desc(g, n), what, i);
}

static qc_status print_node(printer *P, const qc_graph *g, qc_nid n, int ind) {
  sbuf *b = &P->out;
  const qc_node *nd = qc_graph_node(g, n);
  if (!qc_op_schema_of(nd->op))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "node #%d: unknown op id %d", n, nd->op);
  sb_indent(b, ind);
  for (int32_t i = 0; i < nd->n_out; i++) {
    qc_vid v = nd->out[i];
    if (v != QC_NONE && !qc_graph_value(g, v)) return bad_ref(g, n, "output", i);
    if (i) sb_puts(b, ", ");
    print_value_ref(b, g, v);
    if (v != QC_NONE && !type_unknown(&qc_graph_value(g, v)->type)) {
      sb_puts(b, ": ");
      print_type(b, g, &qc_graph_value(g, v)->type);
    }
  }
  if (nd->n_out) sb_puts(b, " = ");
  print_op(b, nd->op);
  sb_putc(b, '(');
  for (int32_t i = 0; i < nd->n_in; i++) {
    qc_vid v = nd->in[i];
    if (v != QC_NONE && !qc_graph_value(g, v)) return bad_ref(g, n, "input", i);
    if (i) sb_puts(b, ", ");
    print_value_ref(b, g, v);
  }
  sb_putc(b, ')');
  if (nd->n_attr) {
    bool multiline = false;
    for (int32_t k = 0; k < nd->n_attr; k++)
      if (nd->attr[k].kind == QC_ATTR_GRAPH || nd->attr[k].kind == QC_ATTR_GRAPHS) multiline = true;
    sb_puts(b, multiline ? " {\n" : " {");
    for (int32_t k = 0; k < nd->n_attr; k++) {
      const qc_attr *a = &nd->attr[k];
      if (multiline) sb_indent(b, ind + 2);
      sb_word(b, a->name ? a->name : "");
      sb_puts(b, " = ");
      char what[600];
      snprintf(what, sizeof what, "%s: attribute '%s'", qc_node_desc(g, n), a->name ? a->name : "");
      QC_RETURN_IF_ERROR(print_attr_value(P, g, a, ind + 2, what));
      if (k + 1 < nd->n_attr) sb_puts(b, multiline ? ",\n" : ", ");
    }
    if (multiline) {
      sb_putc(b, '\n');
      sb_indent(b, ind);
    }
    sb_putc(b, '}');
  }
  if (nd->name && *nd->name) {
    sb_putc(b, ' ');
    sb_name(b, '@', nd->name);
  }
  sb_putc(b, '\n');
  return QC_OK;
}

/* Whether printing `ty` gives the same text as the tensor type of `t`. */
static bool const_type_is_implied(const qc_graph *g, const qc_type *ty, const qc_tensor *t) {
  sbuf x = {0}, y = {0};
  print_type(&x, g, ty);
  print_tensor_type(&y, g, t->dtype, t->rank, t->dims);
  bool same = !x.oom && !y.oom && x.n == y.n && memcmp(x.p, y.p, x.n) == 0;
  free(x.p);
  free(y.p);
  return same;
}

static qc_status print_graph(printer *P, const qc_graph *g, int ind) {
  sbuf *b = &P->out;
  sb_puts(b, "graph ");
  sb_name(b, '@', qc_graph_name(g) ? qc_graph_name(g) : "");
  sb_putc(b, '(');
  for (int32_t i = 0; i < qc_graph_num_inputs(g); i++) {
    const qc_value *v = qc_graph_value(g, qc_graph_input(g, i));
    if (!v) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "graph input %d refers to no value", i);
    if (i) sb_puts(b, ", ");
    sb_name(b, '%', v->name);
    sb_puts(b, ": ");
    print_type(b, g, &v->type);
  }
  sb_puts(b, ") {\n");
  int in = ind + 2;
  if (qc_graph_num_opsets(g)) {
    sb_indent(b, in);
    sb_puts(b, "opset ");
    for (int32_t i = 0; i < qc_graph_num_opsets(g); i++) {
      const char *dom;
      int64_t ver;
      qc_graph_opset_at(g, i, &dom, &ver);
      if (i) sb_puts(b, ", ");
      sb_quoted(b, dom, strlen(dom));
      sb_printf(b, " %lld", (long long)ver);
    }
    sb_putc(b, '\n');
  }
  for (int32_t i = 0; i < qc_graph_num_meta(g); i++) {
    const char *k, *v;
    qc_graph_meta_at(g, i, &k, &v);
    sb_indent(b, in);
    sb_puts(b, "meta ");
    sb_quoted(b, k, strlen(k));
    sb_puts(b, " = ");
    sb_quoted(b, v, strlen(v));
    sb_putc(b, '\n');
  }
  for (qc_vid i = 0; i < qc_graph_num_values(g); i++) {
    const qc_value *v = qc_graph_value(g, i);
    if (v->kind != QC_VALUE_OUTER) continue;
    sb_indent(b, in);
    sb_puts(b, "capture ");
    sb_name(b, '%', v->name);
    sb_puts(b, ": ");
    print_type(b, g, &v->type);
    sb_putc(b, '\n');
  }
  for (qc_vid i = 0; i < qc_graph_num_values(g); i++) {
    const qc_value *v = qc_graph_value(g, i);
    if (v->kind != QC_VALUE_CONST) continue;
    sb_indent(b, in);
    sb_name(b, '%', v->name);
    if (!const_type_is_implied(g, &v->type, &v->cst)) {
      sb_puts(b, ": ");
      print_type(b, g, &v->type);
    }
    sb_puts(b, " = const ");
    char what[300];
    snprintf(what, sizeof what, "constant '%s'", v->name);
    QC_RETURN_IF_ERROR(print_tensor(P, g, &v->cst, what));
    sb_putc(b, '\n');
  }
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++)
    if (!qc_graph_node(g, n)->dead) QC_RETURN_IF_ERROR(print_node(P, g, n, in));
  sb_indent(b, in);
  sb_puts(b, "return");
  for (int32_t i = 0; i < qc_graph_num_outputs(g); i++) {
    qc_vid v = qc_graph_output(g, i);
    if (v != QC_NONE && !qc_graph_value(g, v))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "graph output %d refers to no value", i);
    sb_puts(b, i ? ", " : " ");
    print_value_ref(b, g, v);
  }
  sb_putc(b, '\n');
  sb_indent(b, ind);
  sb_putc(b, '}');
  return QC_OK;
}

/* ---- entry points ------------------------------------------------------------------------------ */

static void printer_init(printer *P, const qc_qir_print_options *opts) {
  memset(P, 0, sizeof *P);
  P->limit = opts && opts->inline_limit ? opts->inline_limit : 1024;
  P->base_dir = opts ? opts->base_dir : NULL;
  P->side_path = opts ? opts->side_file : NULL;
  P->side_fd = -1;
}

static void printer_close_side(printer *P) {
  if (P->side_fd >= 0) close(P->side_fd);
  P->side_fd = -1;
  free(P->side_printed);
  P->side_printed = NULL;
}

static qc_status run_printer(printer *P, const qc_graph *g) {
  qc_status s = print_graph(P, g, 0);
  sb_putc(&P->out, '\n');
  if (!s && P->out.oom) s = QC_OOM();
  if (s) return qc_status_wrap(s, "qir print");
  return QC_OK;
}

qc_status qc_qir_print(const qc_graph *g, const qc_qir_print_options *opts, char **text,
                       size_t *len) {
  *text = NULL;
  if (len) *len = 0;
  printer P;
  printer_init(&P, opts);
  qc_status s = run_printer(&P, g);
  printer_close_side(&P);
  if (s) {
    free(P.out.p);
    return s;
  }
  *text = P.out.p;
  if (len) *len = P.out.n;
  return QC_OK;
}

qc_status qc_qir_write_file(const qc_graph *g, const char *path) {
  size_t pl = strlen(path);
  char *side = malloc(pl + 5);
  if (!side) return QC_OOM();
  memcpy(side, path, pl);
  memcpy(side + pl, ".bin", 5);
  char *dir = NULL;
  const char *slash = strrchr(path, '/');
  if (slash) {
    size_t dl = slash == path ? 1 : (size_t)(slash - path);
    dir = malloc(dl + 1);
    if (!dir) {
      free(side);
      return QC_OOM();
    }
    memcpy(dir, path, dl);
    dir[dl] = 0;
  }
  printer P;
  qc_qir_print_options opts = {0, side, dir};
  printer_init(&P, &opts);
  P.side_atomic_mode = true;
  struct stat st;
  if (stat(side, &st) == 0) {
    P.have_avoid = true;
    P.avoid_dev = st.st_dev;
    P.avoid_ino = st.st_ino;
  }
  qc_status s = run_printer(&P, g);
  /* The side file first: the .qir must never refer to data that is not there yet. */
  if (!s && P.side_atomic) {
    s = qc_atomic_commit(P.side_atomic);
    P.side_atomic = NULL;
  }
  qc_atomic_abort(P.side_atomic);
  printer_close_side(&P);
  if (!s) {
    qc_atomic_file *f;
    s = qc_atomic_open(path, &f);
    if (!s) {
      s = qc_atomic_write(f, P.out.p, P.out.n);
      if (s) qc_atomic_abort(f);
      else s = qc_atomic_commit(f);
    }
  }
  free(P.out.p);
  free(side);
  free(dir);
  return s;
}
