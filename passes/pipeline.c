/* Pipelines: the text parser (typed options, errors with a line and column), the canonical
 * printer, and the runner (verify-each, after-pass callback with wall time). */
#include "passes/internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct pipeline_entry {
  const qc_pass_info *info;
  qc_pass_args args;
} pipeline_entry;

struct qc_pipeline {
  pipeline_entry *e;
  int32_t n, cap;
};

static void args_free(qc_pass_args *a) {
  if (!a->v) return;
  for (int32_t i = 0; i < a->info->n_options; i++) free(a->v[i].s);
  free(a->v);
  a->v = NULL;
}

void qc_pipeline_destroy(qc_pipeline *p) {
  if (!p) return;
  for (int32_t i = 0; i < p->n; i++) args_free(&p->e[i].args);
  free(p->e);
  free(p);
}

int32_t qc_pipeline_num_passes(const qc_pipeline *p) { return p->n; }
const qc_pass_info *qc_pipeline_pass_at(const qc_pipeline *p, int32_t i) {
  return i >= 0 && i < p->n ? p->e[i].info : NULL;
}
const qc_pass_args *qc_pipeline_args_at(const qc_pipeline *p, int32_t i) {
  return i >= 0 && i < p->n ? &p->e[i].args : NULL;
}

/* ---- a growable string ------------------------------------------------------------------- */

typedef struct sbuf {
  char *s;
  size_t n, cap;
  bool oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->n + n + 1 > b->cap) {
    size_t nc = b->cap ? b->cap * 2 : 64;
    while (nc < b->n + n + 1) nc *= 2;
    char *p = realloc(b->s, nc);
    if (!p) {
      b->oom = true;
      return;
    }
    b->s = p;
    b->cap = nc;
  }
  memcpy(b->s + b->n, s, n);
  b->n += n;
  b->s[b->n] = 0;
}
static void sb_puts(sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_printf(sbuf *b, const char *fmt, ...) QC_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  sb_putn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---- the parser -------------------------------------------------------------------------- */

typedef struct parser {
  const char *s;
  size_t pos;
  const qc_context *ctx;
} parser;

/* "pipeline:LINE:COL: error: ..." for the byte at `at`. */
static qc_status perr(const parser *p, size_t at, const char *fmt, ...) QC_PRINTF(3, 4);
static qc_status perr(const parser *p, size_t at, const char *fmt, ...) {
  int line = 1, col = 1;
  for (size_t i = 0; i < at && p->s[i]; i++) {
    if (p->s[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  va_list ap;
  va_start(ap, fmt);
  qc_status s = qc_status_newv(QC_CODE_PARSE, fmt, ap);
  va_end(ap);
  return qc_status_wrap(s, "pipeline:%d:%d: error", line, col);
}

static void skip_ws(parser *p) {
  while (isspace((unsigned char)p->s[p->pos])) p->pos++;
}

static bool name_char(char c) {
  return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* A short printable description of the character at pos, for messages. */
static const char *char_desc(const parser *p, size_t pos, char buf[8]) {
  char c = p->s[pos];
  if (!c) return "end of pipeline";
  if (isprint((unsigned char)c)) snprintf(buf, 8, "'%c'", c);
  else snprintf(buf, 8, "0x%02x", (unsigned char)c);
  return buf;
}

static qc_status unknown_pass(const parser *p, size_t at, const char *name, size_t len) {
  sbuf known = {0};
  for (int32_t i = 0; i < p->ctx->n_passes; i++) {
    if (i) sb_puts(&known, ", ");
    sb_puts(&known, p->ctx->passes[i]->name);
  }
  qc_status s = perr(p, at, "unknown pass '%.*s' (known: %s)", (int)len, name,
                     known.s ? known.s : "none");
  free(known.s);
  return s;
}

static qc_status unknown_option(const parser *p, size_t at, const qc_pass_info *info,
                                const char *name, size_t len) {
  if (info->n_options == 0)
    return perr(p, at, "pass '%s' has no option '%.*s' (it takes no options)", info->name,
                (int)len, name);
  sbuf known = {0};
  for (int32_t i = 0; i < info->n_options; i++) {
    if (i) sb_puts(&known, ", ");
    sb_printf(&known, "%s (%s)", info->options[i].name, qc_opt_kind_name(info->options[i].kind));
  }
  qc_status s = perr(p, at, "pass '%s' has no option '%.*s' (options: %s)", info->name, (int)len,
                     name, known.s ? known.s : "?");
  free(known.s);
  return s;
}

/* A quoted value starting at the quote; the unescaped text goes to *out (malloc'd). */
static qc_status parse_quoted(parser *p, char **out, size_t *out_len) {
  size_t start = p->pos;
  char q = p->s[p->pos++];
  sbuf b = {0};
  sb_puts(&b, "");
  for (;;) {
    char c = p->s[p->pos];
    if (!c) {
      free(b.s);
      return perr(p, start, "unterminated string (missing %c)", q);
    }
    p->pos++;
    if (c == q) break;
    if (c == '\\') {
      char e = p->s[p->pos];
      if (!e) continue; /* reported as unterminated next round */
      p->pos++;
      switch (e) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case '\\':
      case '"':
      case '\'': c = e; break;
      default:
        free(b.s);
        return perr(p, p->pos - 2, "unknown escape '\\%c' (known: \\\\ \\\" \\' \\n \\t)", e);
      }
    }
    sb_putn(&b, &c, 1);
  }
  if (b.oom) {
    free(b.s);
    return QC_OOM();
  }
  *out = b.s;
  *out_len = b.n;
  return QC_OK;
}

static qc_status parse_option(parser *p, const qc_pass_info *info, qc_pass_args *args) {
  skip_ws(p);
  size_t at = p->pos;
  while (name_char(p->s[p->pos])) p->pos++;
  if (p->pos == at) {
    char cb[8];
    return perr(p, at, "expected an option name, got %s", char_desc(p, at, cb));
  }
  const char *name = p->s + at;
  size_t len = p->pos - at;
  int32_t k = -1;
  for (int32_t i = 0; i < info->n_options; i++)
    if (strlen(info->options[i].name) == len && memcmp(info->options[i].name, name, len) == 0)
      k = i;
  if (k < 0) return unknown_option(p, at, info, name, len);
  const qc_pass_option *o = &info->options[k];
  qc_arg_value *v = &args->v[k];
  if (v->given) return perr(p, at, "option '%s' of pass '%s' is given twice", o->name, info->name);
  skip_ws(p);
  if (p->s[p->pos] != '=') {
    if (o->kind != QC_OPT_BOOL)
      return perr(p, at, "option '%s' of pass '%s' needs a value (%s)", o->name, info->name,
                  qc_opt_kind_name(o->kind));
    v->b = true;
    v->set = v->given = true;
    return QC_OK;
  }
  p->pos++;
  skip_ws(p);
  size_t vat = p->pos;
  char *text = NULL;
  size_t tlen = 0;
  bool quoted = p->s[p->pos] == '"' || p->s[p->pos] == '\'';
  if (quoted) {
    QC_RETURN_IF_ERROR(parse_quoted(p, &text, &tlen));
  } else {
    while (p->s[p->pos] && p->s[p->pos] != ',' && p->s[p->pos] != '}' && p->s[p->pos] != '{' &&
           !isspace((unsigned char)p->s[p->pos]))
      p->pos++;
    if (p->pos == vat) {
      char cb[8];
      return perr(p, vat, "option '%s' of pass '%s': expected a value (%s), got %s", o->name,
                  info->name, qc_opt_kind_name(o->kind), char_desc(p, vat, cb));
    }
  }
  const char *src = quoted ? text : p->s + vat;
  size_t slen = quoted ? tlen : p->pos - vat;
  bool ok = qc_arg_parse(o->kind, src, slen, v);
  qc_status s = QC_OK;
  if (!ok) {
    if (o->kind == QC_OPT_STRING) s = QC_OOM();
    else
      s = perr(p, vat, "option '%s' of pass '%s' expects %s, got '%.*s'", o->name, info->name,
               o->kind == QC_OPT_INT ? "an int" : o->kind == QC_OPT_BOOL ? "a bool (true/false/1/0)"
                                                                         : "a float",
               (int)slen, src);
  }
  free(text);
  v->given = ok;
  return s;
}

static qc_status parse_entry(parser *p, qc_pipeline *pl) {
  skip_ws(p);
  size_t at = p->pos;
  while (name_char(p->s[p->pos])) p->pos++;
  if (p->pos == at) {
    char cb[8];
    return perr(p, at, "expected a pass name, got %s", char_desc(p, at, cb));
  }
  const qc_pass_info *info = NULL;
  size_t len = p->pos - at;
  for (int32_t i = 0; i < p->ctx->n_passes; i++)
    if (strlen(p->ctx->passes[i]->name) == len &&
        memcmp(p->ctx->passes[i]->name, p->s + at, len) == 0)
      info = p->ctx->passes[i];
  if (!info) return unknown_pass(p, at, p->s + at, len);

  if (pl->n == pl->cap) {
    int32_t nc = pl->cap ? pl->cap * 2 : 8;
    pipeline_entry *e = realloc(pl->e, sizeof *e * (size_t)nc);
    if (!e) return QC_OOM();
    pl->e = e;
    pl->cap = nc;
  }
  pipeline_entry *e = &pl->e[pl->n];
  e->info = info;
  e->args.info = info;
  e->args.v = calloc((size_t)(info->n_options ? info->n_options : 1), sizeof(qc_arg_value));
  if (!e->args.v) return QC_OOM();
  pl->n++;

  skip_ws(p);
  if (p->s[p->pos] == '{') {
    p->pos++;
    skip_ws(p);
    if (p->s[p->pos] != '}') {
      for (;;) {
        QC_RETURN_IF_ERROR(parse_option(p, info, &e->args));
        skip_ws(p);
        if (p->s[p->pos] == ',') {
          p->pos++;
          continue;
        }
        if (p->s[p->pos] == '}') break;
        char cb[8];
        return perr(p, p->pos, "expected ',' or '}' in the options of pass '%s', got %s",
                    info->name, char_desc(p, p->pos, cb));
      }
    }
    p->pos++; /* '}' */
  }
  /* Defaults, and options that have none. */
  for (int32_t i = 0; i < info->n_options; i++) {
    const qc_pass_option *o = &info->options[i];
    qc_arg_value *v = &e->args.v[i];
    if (v->given) continue;
    if (!o->dflt)
      return perr(p, at, "pass '%s' needs option '%s' (%s)", info->name, o->name,
                  qc_opt_kind_name(o->kind));
    if (!qc_arg_parse(o->kind, o->dflt, strlen(o->dflt), v))
      return qc_status_new(QC_CODE_INTERNAL, "pass '%s': bad default for '%s'", info->name,
                           o->name);
  }
  return QC_OK;
}

qc_status qc_pipeline_parse(qc_context *ctx, const char *text, qc_pipeline **out) {
  *out = NULL;
  if (!text) text = "";
  qc_pipeline *pl = calloc(1, sizeof *pl);
  if (!pl) return QC_OOM();
  parser p = {text, 0, ctx};
  qc_status s = QC_OK;
  skip_ws(&p);
  if (p.s[p.pos]) {
    for (;;) {
      if ((s = parse_entry(&p, pl))) break;
      skip_ws(&p);
      if (!p.s[p.pos]) break;
      if (p.s[p.pos] != ',') {
        char cb[8];
        s = perr(&p, p.pos, "expected ',' between passes, got %s", char_desc(&p, p.pos, cb));
        break;
      }
      p.pos++;
    }
  }
  if (s) {
    qc_pipeline_destroy(pl);
    return s;
  }
  *out = pl;
  return QC_OK;
}

/* ---- canonical text ------------------------------------------------------------------------ */

static bool bare_ok(const char *s) {
  if (!*s) return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("-_./:+@%", *s)) return false;
  return true;
}

static void put_value(sbuf *b, const qc_pass_option *o, const qc_arg_value *v) {
  switch (o->kind) {
  case QC_OPT_BOOL: sb_puts(b, v->b ? "true" : "false"); break;
  case QC_OPT_INT: sb_printf(b, "%lld", (long long)v->i); break;
  case QC_OPT_FLOAT: {
    /* The shortest text that reads back as the same double. */
    char tmp[40];
    for (int prec = 6; prec <= 17; prec++) {
      snprintf(tmp, sizeof tmp, "%.*g", prec, v->f);
      if (strtod(tmp, NULL) == v->f) break;
    }
    sb_puts(b, tmp);
    break;
  }
  case QC_OPT_STRING: {
    const char *s = v->s ? v->s : "";
    if (bare_ok(s)) {
      sb_puts(b, s);
      break;
    }
    sb_puts(b, "\"");
    for (; *s; s++) {
      if (*s == '"' || *s == '\\') sb_printf(b, "\\%c", *s);
      else if (*s == '\n') sb_puts(b, "\\n");
      else if (*s == '\t') sb_puts(b, "\\t");
      else sb_putn(b, s, 1);
    }
    sb_puts(b, "\"");
    break;
  }
  }
}

char *qc_pipeline_str(const qc_pipeline *p) {
  sbuf b = {0};
  sb_puts(&b, "");
  for (int32_t i = 0; i < p->n; i++) {
    const pipeline_entry *e = &p->e[i];
    if (i) sb_puts(&b, ",");
    sb_puts(&b, e->info->name);
    if (e->info->n_options == 0) continue;
    sb_puts(&b, "{");
    for (int32_t k = 0; k < e->info->n_options; k++) {
      if (k) sb_puts(&b, ",");
      sb_puts(&b, e->info->options[k].name);
      sb_puts(&b, "=");
      put_value(&b, &e->info->options[k], &e->args.v[k]);
    }
    sb_puts(&b, "}");
  }
  if (b.oom) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

/* ---- running ------------------------------------------------------------------------------ */

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

qc_status qc_pipeline_run(const qc_pipeline *p, qc_graph *g, const qc_pipeline_options *opts) {
  qc_pipeline_options none = {0};
  if (!opts) opts = &none;
  for (int32_t i = 0; i < p->n; i++) {
    const pipeline_entry *e = &p->e[i];
    double t0 = now_seconds();
    qc_status s = e->info->run(g, &e->args, e->info->user);
    double dt = now_seconds() - t0;
    if (s) return qc_status_wrap(s, "pass '%s'", e->info->name);
    /* The callback sees the graph before it is verified, so that a dump after a pass
     * shows what a broken pass left behind. */
    if (opts->after_pass) opts->after_pass(opts->user, e->info->name, g, dt);
    if (opts->verify_each) {
      s = qc_graph_verify(g);
      if (s) return qc_status_wrap(s, "after pass '%s': the graph does not verify", e->info->name);
    }
  }
  return QC_OK;
}
