/* The pass manager: a context holding the registry of passes, registration (the same
 * entry point for built-in passes and plugins), typed option values and their accessors.
 * Pipelines (parsing, printing, running) are in pipeline.c, plugins in plugin.c. */
#include "passes/internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

/* ---- the context --------------------------------------------------------------------------- */

qc_status qc_context_create(qc_context **out) {
  *out = NULL;
  qc_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return QC_OOM();
  qc_status s = QC_OK;
#define QC_PASS(ident)                                                                             \
  if (!s) s = qc_pass_register(ctx, &qc_pass_##ident);
#include "passes/passes.def"
#undef QC_PASS
  if (s) {
    qc_context_destroy(ctx);
    return qc_status_wrap(s, "registering the built-in passes");
  }
  *out = ctx;
  return QC_OK;
}

void qc_context_destroy(qc_context *ctx) {
  if (!ctx) return;
  /* Plugin handles are not closed: their ops and kernels sit in process-wide tables. */
  free(ctx->plugins);
  free(ctx->passes);
  free(ctx);
}

void qc_context_truncate(qc_context *ctx, int32_t n) {
  if (n >= 0 && n < ctx->n_passes) ctx->n_passes = n;
}

/* ---- registration ------------------------------------------------------------------------- */

/* Names are kebab-case: lower-case letters, digits and '-' (also '_' and '.', which plugin
 * authors reach for), starting with a letter. Anything else would not survive the
 * pipeline syntax. */
static bool valid_name(const char *s) {
  if (!s || !islower((unsigned char)*s)) return false;
  for (; *s; s++)
    if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' && *s != '_' &&
        *s != '.')
      return false;
  return true;
}

qc_status qc_pass_register(qc_context *ctx, const qc_pass_info *info) {
  if (!info || !info->name)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "qc_pass_register: a pass needs a name");
  const char *name = info->name;
  if (!valid_name(name))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "pass '%s': a pass name is lower-case letters, digits and '-', starting "
                         "with a letter",
                         name);
  if (!info->run) return qc_status_new(QC_CODE_INVALID_ARGUMENT, "pass '%s' has no run function", name);
  if (qc_pass_find(ctx, name))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "pass '%s' is already registered", name);
  if (info->n_options < 0 || (info->n_options > 0 && !info->options))
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "pass '%s': bad option table", name);
  for (int32_t i = 0; i < info->n_options; i++) {
    const qc_pass_option *o = &info->options[i];
    if (!valid_name(o->name))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "pass '%s': option %d: '%s' is not a valid option name", name, i,
                           o->name ? o->name : "(null)");
    if ((unsigned)o->kind > QC_OPT_STRING)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "pass '%s': option '%s': bad kind %d", name,
                           o->name, (int)o->kind);
    for (int32_t j = 0; j < i; j++)
      if (strcmp(info->options[j].name, o->name) == 0)
        return qc_status_new(QC_CODE_INVALID_ARGUMENT, "pass '%s': option '%s' is declared twice",
                             name, o->name);
    if (o->dflt && !qc_pass_option_valid(o->kind, o->dflt))
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "pass '%s': option '%s': default '%s' is not a valid %s", name, o->name,
                           o->dflt, qc_opt_kind_name(o->kind));
  }
  if (ctx->n_passes == ctx->cap_passes) {
    int32_t nc = ctx->cap_passes ? ctx->cap_passes * 2 : 16;
    const qc_pass_info **p = realloc(ctx->passes, sizeof *p * (size_t)nc);
    if (!p) return QC_OOM();
    ctx->passes = p;
    ctx->cap_passes = nc;
  }
  ctx->passes[ctx->n_passes++] = info;
  return QC_OK;
}

const qc_pass_info *qc_pass_find(const qc_context *ctx, const char *name) {
  for (int32_t i = 0; i < ctx->n_passes; i++)
    if (strcmp(ctx->passes[i]->name, name) == 0) return ctx->passes[i];
  return NULL;
}

int32_t qc_pass_count(const qc_context *ctx) { return ctx->n_passes; }

const qc_pass_info *qc_pass_at(const qc_context *ctx, int32_t i) {
  return i >= 0 && i < ctx->n_passes ? ctx->passes[i] : NULL;
}

/* ---- option values --------------------------------------------------------------------------- */

const char *qc_opt_kind_name(qc_opt_kind kind) {
  switch (kind) {
  case QC_OPT_BOOL: return "bool";
  case QC_OPT_INT: return "int";
  case QC_OPT_FLOAT: return "float";
  case QC_OPT_STRING: return "string";
  }
  return "?";
}

bool qc_arg_parse(qc_opt_kind kind, const char *text, size_t len, qc_arg_value *out) {
  char buf[128];
  if (kind != QC_OPT_STRING) {
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, text, len);
    buf[len] = 0;
  }
  switch (kind) {
  case QC_OPT_BOOL:
    if (strcmp(buf, "true") == 0 || strcmp(buf, "1") == 0) out->b = true;
    else if (strcmp(buf, "false") == 0 || strcmp(buf, "0") == 0) out->b = false;
    else return false;
    break;
  case QC_OPT_INT: {
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 0);
    /* strtoll's base 0 reads a leading 0 as octal; "010" meaning 8 would surprise. */
    const char *digits = buf + (buf[0] == '-' || buf[0] == '+');
    if (digits[0] == '0' && isdigit((unsigned char)digits[1])) v = strtoll(buf, &end, 10);
    if (errno || *end || end == buf || isspace((unsigned char)buf[0])) return false;
    out->i = v;
    break;
  }
  case QC_OPT_FLOAT: {
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end || end == buf || isspace((unsigned char)buf[0]) || (errno == ERANGE && isinf(v)))
      return false;
    out->f = v;
    break;
  }
  case QC_OPT_STRING: {
    char *s = malloc(len + 1);
    if (!s) return false;
    memcpy(s, text, len);
    s[len] = 0;
    free(out->s);
    out->s = s;
    break;
  }
  default: return false;
  }
  out->set = true;
  return true;
}

bool qc_pass_option_valid(qc_opt_kind kind, const char *text) {
  if (!text) return false;
  qc_arg_value v = {0};
  bool ok = qc_arg_parse(kind, text, strlen(text), &v);
  free(v.s);
  return ok;
}

static const qc_arg_value *arg_find(const qc_pass_args *a, const char *name, qc_opt_kind kind) {
  if (!a || !a->info) return NULL;
  for (int32_t i = 0; i < a->info->n_options; i++)
    if (strcmp(a->info->options[i].name, name) == 0)
      return a->info->options[i].kind == kind && a->v[i].set ? &a->v[i] : NULL;
  return NULL;
}

bool qc_pass_arg_bool(const qc_pass_args *a, const char *name) {
  const qc_arg_value *v = arg_find(a, name, QC_OPT_BOOL);
  return v ? v->b : false;
}

int64_t qc_pass_arg_int(const qc_pass_args *a, const char *name) {
  const qc_arg_value *v = arg_find(a, name, QC_OPT_INT);
  return v ? v->i : 0;
}

double qc_pass_arg_float(const qc_pass_args *a, const char *name) {
  const qc_arg_value *v = arg_find(a, name, QC_OPT_FLOAT);
  return v ? v->f : 0.0;
}

const char *qc_pass_arg_string(const qc_pass_args *a, const char *name) {
  const qc_arg_value *v = arg_find(a, name, QC_OPT_STRING);
  return v && v->s ? v->s : "";
}

bool qc_pass_arg_given(const qc_pass_args *a, const char *name) {
  if (!a || !a->info) return false;
  for (int32_t i = 0; i < a->info->n_options; i++)
    if (strcmp(a->info->options[i].name, name) == 0) return a->v[i].given;
  return false;
}
