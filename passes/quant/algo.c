/* The algorithms of a Quark config's algo_config, read into qc_qalgo (passes/quant/qpass.h),
 * and the entries `quarc quantize --algo NAME` adds.
 *
 * Keys are Quark 0.13's dataclass fields (quark/torch/quantization/config/config.py):
 *   smooth: name, alpha (1), scale_clamp_min (1e-3), scaling_layers, model_decoder_layers, and
 *           quarc's fold_only (false: a Mul where the scale cannot be folded; smooth.c)
 *   autosmoothquant: name, scaling_layers, model_decoder_layers, compute_scale_loss ("MSE";
 *           "MAE", "RMSE"), and quarc's fold_only
 *   gptq:   name, block_size (128), damp_percent (0.01), desc_act (true),
 *           static_groups (true), inside_layer_modules, model_decoder_layers, and quarc's
 *           scale_search (false: gptq.c)
 *   qronos: name, block_size (128), desc_act (true), static_groups (true), alpha (1e-3: the
 *           damping, a fraction of the largest eigenvalue of H), beta (1e4: a scale that
 *           does not change the result in exact arithmetic), inside_layer_modules,
 *           model_decoder_layers, and quarc's scale_search and quantize_inputs (false:
 *           gptq.c)
 *   rotation: name, r1 (true), r2, r4 (false), rotation_size (null), random_r1, random_r2,
 *           online_r1_rotation (null: false), scaling_layers, backbone, model_decoder_layers,
 *           v_proj, o_proj, self_attn, mlp; r3, trainable, train_smooth and a non-null
 *           online_config are refused as not implemented (rotate.c)
 * scaling_layers, model_decoder_layers and inside_layer_modules name PyTorch modules; quarc
 * finds the same layers from the graph (passes/quant/smooth.c, gptq.c), so they are read and
 * not used. Any other key is an error naming algo_config[i].key. */
#include "passes/quant/qjson.h"
#include "passes/quant/qpass.h"
#include "passes/quant/quant_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static qc_status bad(const char *src, int32_t i, const char *key, const char *what) {
  return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: algo_config[%d]%s%s: %s", src, (int)i,
                       key ? "." : "", key ? key : "", what);
}

static qc_status num(const char *src, int32_t i, const qj_value *o, const char *key, double lo,
                     double hi, double *out) {
  const qj_value *v = qj_get(o, key);
  if (!v) return QC_OK;
  if (v->kind != QJ_INT && v->kind != QJ_FLOAT) return bad(src, i, key, "expected a number");
  if (!(v->d >= lo && v->d <= hi)) {
    char m[128];
    snprintf(m, sizeof m, "%g is out of range [%g, %g]", v->d, lo, hi);
    return bad(src, i, key, m);
  }
  *out = v->d;
  return QC_OK;
}

static qc_status boolean(const char *src, int32_t i, const qj_value *o, const char *key, bool *out) {
  const qj_value *v = qj_get(o, key);
  if (!v) return QC_OK;
  if (v->kind != QJ_TRUE && v->kind != QJ_FALSE) return bad(src, i, key, "expected true or false");
  *out = v->kind == QJ_TRUE;
  return QC_OK;
}

static bool known(const char *const *keys, const char *k) {
  for (; *keys; keys++)
    if (strcmp(*keys, k) == 0) return true;
  return false;
}

static const char *const SMOOTH_KEYS[] = {"name", "alpha", "scale_clamp_min", "scaling_layers",
                                          "model_decoder_layers", "fold_only", NULL};
static const char *const AUTOSMOOTH_KEYS[] = {"name", "scaling_layers", "model_decoder_layers",
                                              "compute_scale_loss", "fold_only", NULL};
static const char *const ROTATION_KEYS[] = {
    "name", "r1", "r2", "r3", "r4", "rotation_size", "random_r1", "random_r2", "scaling_layers",
    "backbone", "model_decoder_layers", "v_proj", "o_proj", "self_attn", "mlp",
    "online_r1_rotation", "online_config", "trainable", "train_smooth", "smooth_positions", NULL};
static const char *const GPTQ_KEYS[] = {"name", "block_size", "damp_percent", "desc_act",
                                        "static_groups", "inside_layer_modules",
                                        "model_decoder_layers", "scale_search", NULL};
static const char *const QRONOS_KEYS[] = {"name", "block_size", "desc_act", "static_groups",
                                          "alpha", "beta", "inside_layer_modules",
                                          "model_decoder_layers", "scale_search",
                                          "quantize_inputs", NULL};

static qc_status one(const char *src, int32_t i, const qj_value *o, qc_qalgo *a) {
  memset(a, 0, sizeof *a);
  if (o->kind != QJ_OBJECT) return bad(src, i, NULL, "expected an object");
  const qj_value *name = qj_get(o, "name");
  if (!name || name->kind != QJ_STRING) return bad(src, i, "name", "expected a string");
  const char *const *keys;
  if (strcmp(name->s, "smooth") == 0) {
    a->kind = QC_QALGO_SMOOTH;
    a->alpha = 1.0;
    a->scale_clamp_min = 1e-3;
    keys = SMOOTH_KEYS;
    QC_RETURN_IF_ERROR(num(src, i, o, "alpha", 0.0, 1.0, &a->alpha));
    QC_RETURN_IF_ERROR(num(src, i, o, "scale_clamp_min", 0.0, 1e30, &a->scale_clamp_min));
    QC_RETURN_IF_ERROR(boolean(src, i, o, "fold_only", &a->fold_only));
  } else if (strcmp(name->s, "autosmoothquant") == 0) {
    a->kind = QC_QALGO_AUTOSMOOTH;
    a->loss_power = 2.0; /* the dataclass's "MSE" (Quark's LLM templates say "MAE") */
    keys = AUTOSMOOTH_KEYS;
    const qj_value *v = qj_get(o, "compute_scale_loss");
    if (v && (v->kind != QJ_STRING || !qc_qalgo_loss_power(v->s, &a->loss_power)))
      return bad(src, i, "compute_scale_loss", "expected \"MAE\", \"MSE\" or \"RMSE\"");
    QC_RETURN_IF_ERROR(boolean(src, i, o, "fold_only", &a->fold_only));
  } else if (strcmp(name->s, "gptq") == 0 || strcmp(name->s, "qronos") == 0) {
    bool qronos = name->s[0] == 'q';
    a->kind = qronos ? QC_QALGO_QRONOS : QC_QALGO_GPTQ;
    a->damp_percent = 0.01;
    a->alpha = 1e-3;
    a->beta = 1e4;
    a->desc_act = a->static_groups = true;
    keys = qronos ? QRONOS_KEYS : GPTQ_KEYS;
    double bs = 128;
    QC_RETURN_IF_ERROR(num(src, i, o, "block_size", 1, 1 << 20, &bs));
    if (bs != (double)(int64_t)bs) return bad(src, i, "block_size", "expected an integer");
    a->block_size = (int64_t)bs;
    if (qronos) {
      QC_RETURN_IF_ERROR(boolean(src, i, o, "quantize_inputs", &a->quantize_inputs));
      QC_RETURN_IF_ERROR(num(src, i, o, "alpha", 0.0, 1e6, &a->alpha));
      QC_RETURN_IF_ERROR(num(src, i, o, "beta", 1e-30, 1e30, &a->beta));
    } else {
      QC_RETURN_IF_ERROR(num(src, i, o, "damp_percent", 0.0, 1.0, &a->damp_percent));
    }
    QC_RETURN_IF_ERROR(boolean(src, i, o, "desc_act", &a->desc_act));
    QC_RETURN_IF_ERROR(boolean(src, i, o, "static_groups", &a->static_groups));
    QC_RETURN_IF_ERROR(boolean(src, i, o, "scale_search", &a->scale_search));
    if (a->desc_act && !a->static_groups)
      return bad(src, i, "static_groups", "desc_act needs static_groups (as in Quark)");
  } else if (strcmp(name->s, "rotation") == 0) {
    a->kind = QC_QALGO_ROTATION;
    a->r1 = true;
    keys = ROTATION_KEYS;
    bool r3 = false, trainable = false, train_smooth = false;
    QC_RETURN_IF_ERROR(boolean(src, i, o, "r1", &a->r1));
    QC_RETURN_IF_ERROR(boolean(src, i, o, "r2", &a->r2));
    QC_RETURN_IF_ERROR(boolean(src, i, o, "r3", &r3));
    QC_RETURN_IF_ERROR(boolean(src, i, o, "r4", &a->r4));
    QC_RETURN_IF_ERROR(boolean(src, i, o, "random_r1", &a->random_r1));
    QC_RETURN_IF_ERROR(boolean(src, i, o, "random_r2", &a->random_r2));
    QC_RETURN_IF_ERROR(boolean(src, i, o, "trainable", &trainable));
    const qj_value *v = qj_get(o, "rotation_size");
    if (v && v->kind != QJ_NULL) {
      double rs = 0;
      QC_RETURN_IF_ERROR(num(src, i, o, "rotation_size", 1, 1 << 20, &rs));
      if (rs != (double)(int64_t)rs) return bad(src, i, "rotation_size", "expected an integer");
      a->rotation_size = (int64_t)rs;
    }
    v = qj_get(o, "online_r1_rotation");
    if (v && v->kind != QJ_NULL) {
      QC_RETURN_IF_ERROR(boolean(src, i, o, "online_r1_rotation", &a->online_r1));
      if (!a->r1) /* Quark's RotationConfig.__post_init__ */
        return bad(src, i, "online_r1_rotation", "has no effect without r1");
    }
    v = qj_get(o, "train_smooth");
    if (v && v->kind != QJ_NULL) QC_RETURN_IF_ERROR(boolean(src, i, o, "train_smooth", &train_smooth));
    v = qj_get(o, "online_config");
    if (v && v->kind != QJ_NULL)
      return bad(src, i, "online_config", "is not implemented (quarc's online rotations are "
                                          "Hadamard MatMuls; give null)");
    v = qj_get(o, "smooth_positions");
    if (v && v->kind != QJ_NULL && !(v->kind == QJ_ARRAY && v->n == 0))
      return bad(src, i, "smooth_positions", "needs train_smooth, which is not implemented");
    if (r3)
      return bad(src, i, "r3", "is not implemented (a Hadamard on Q and K after RoPE; it only "
                               "helps a quantized KV cache)");
    if (trainable || train_smooth)
      return bad(src, i, trainable ? "trainable" : "train_smooth",
                 "is not implemented (quarc's rotations are fixed Hadamard matrices)");
    if ((a->random_r1 || a->random_r2) && a->rotation_size)
      return bad(src, i, "rotation_size", "random_r1/random_r2 with a rotation_size is not "
                                          "supported (as in Quark)");
  } else {
    char m[300];
    snprintf(m, sizeof m, "'%.200s' is not implemented (quarc has: rotation, smooth, autosmoothquant, gptq, qronos)", name->s);
    return bad(src, i, "name", m);
  }
  a->name = name->s;
  for (int32_t k = 0; k < o->n; k++)
    if (!known(keys, o->keys[k])) return bad(src, i, o->keys[k], "unknown key");
  return QC_OK;
}

qc_status qc_qalgos_parse(const char *json, const char *src, qc_qalgo **out, int32_t *n) {
  *out = NULL;
  *n = 0;
  if (!json) return QC_OK;
  qj_value *v = NULL;
  QC_RETURN_IF_ERROR(qj_parse(json, strlen(json), src, &v));
  qc_status s = QC_OK;
  if (v->kind == QJ_NULL) {
    qj_free(v);
    return QC_OK;
  }
  if (v->kind != QJ_ARRAY) s = qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: algo_config: expected a list", src);
  qc_qalgo *a = s ? NULL : calloc((size_t)(v->n ? v->n : 1), sizeof *a);
  if (!s && !a) s = QC_OOM();
  for (int32_t i = 0; !s && i < v->n; i++) s = one(src, i, &v->items[i], &a[i]);
  /* Names point into v: keep only what is needed. */
  for (int32_t i = 0; !s && i < v->n; i++)
    a[i].name = a[i].kind == QC_QALGO_SMOOTH       ? "smooth"
                : a[i].kind == QC_QALGO_AUTOSMOOTH ? "autosmoothquant"
                : a[i].kind == QC_QALGO_GPTQ     ? "gptq"
                : a[i].kind == QC_QALGO_QRONOS   ? "qronos"
                                                 : "rotation";
  if (!s) {
    *out = a;
    *n = v->n;
  } else {
    free(a);
  }
  qj_free(v);
  return s;
}

bool qc_qalgo_loss_power(const char *name, double *power) {
  static const char *const NAMES[] = {"mse", "mae", "rmse"};
  static const double POWERS[] = {2.0, 1.0, 0.5};
  for (int i = 0; i < 3; i++)
    if (strcasecmp(name, NAMES[i]) == 0) {
      *power = POWERS[i];
      return true;
    }
  return false;
}

/* The entries --algo writes: Quark's fields with their defaults, except smooth's alpha 0.5
 * (SmoothQuant's own default; Quark's dataclass says 1) and autosmoothquant's loss "MAE"
 * (Quark's LLM templates; its dataclass says "MSE"). */
typedef struct algo_default {
  const char *name;
  const char *keys[12];
  const char *values[12];
} algo_default;
static const algo_default DEFAULTS[] = {
    {"rotation", {"r1", "r2", "r3", "r4", "rotation_size", "random_r1", "random_r2",
                  "online_r1_rotation", "scaling_layers", "trainable"},
     {"true", "false", "false", "false", "null", "false", "false", "false", "{}", "false"}},
    {"smooth", {"alpha", "scale_clamp_min", "scaling_layers", "model_decoder_layers"},
     {"0.5", "0.001", "[]", "\"\""}},
    {"autosmoothquant", {"scaling_layers", "model_decoder_layers", "compute_scale_loss"},
     {"[]", "\"\"", "\"MAE\""}},
    {"gptq", {"block_size", "damp_percent", "desc_act", "static_groups", "inside_layer_modules",
              "model_decoder_layers"},
     {"128", "0.01", "true", "true", "[]", "\"\""}},
    {"qronos", {"block_size", "desc_act", "static_groups", "alpha", "beta", "inside_layer_modules",
                "model_decoder_layers"},
     {"128", "true", "true", "0.001", "10000.0", "[]", "\"\""}},
};

/* One --algo item, NAME[:key=value]...: a value is a JSON literal (0.7, true, "x"), else a
 * string; given keys replace the defaults. */
static qc_status add_one(qc_bytes *b, const char *p, const char *e) {
  const char *colon = memchr(p, ':', (size_t)(e - p));
  size_t l = (size_t)((colon ? colon : e) - p);
  const algo_default *d = NULL;
  for (size_t i = 0; i < sizeof DEFAULTS / sizeof DEFAULTS[0]; i++)
    if (strlen(DEFAULTS[i].name) == l && strncmp(p, DEFAULTS[i].name, l) == 0) d = &DEFAULTS[i];
  if (!d)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "--algo: '%.*s' is not an algorithm quarc has "
                                                   "(rotation, smooth, autosmoothquant, gptq, qronos)",
                           (int)l, p);
  qc_bytes_puts(b, "{\"name\": ");
  qc_json_put_cstring(b, d->name);
  for (int i = 0; i < 12 && d->keys[i]; i++) {
    bool given = false;
    size_t kl = strlen(d->keys[i]);
    for (const char *q = colon; q && q < e && !given; q = memchr(q + 1, ':', (size_t)(e - q - 1)))
      given = (size_t)(e - q - 1) > kl && strncmp(q + 1, d->keys[i], kl) == 0 && q[1 + kl] == '=';
    if (given) continue;
    qc_bytes_puts(b, ", ");
    qc_json_put_cstring(b, d->keys[i]);
    qc_bytes_puts(b, ": ");
    qc_bytes_puts(b, d->values[i]);
  }
  for (const char *q = colon; q && q < e;) {
    const char *k = q + 1, *ke = k;
    while (ke < e && *ke != ':') ke++;
    const char *eq = memchr(k, '=', (size_t)(ke - k));
    if (!eq || eq == k)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "--algo: '%.*s': expected key=value",
                           (int)(ke - k), k);
    qc_bytes_puts(b, ", ");
    qc_json_put_string(b, k, (size_t)(eq - k), true);
    qc_bytes_puts(b, ": ");
    const char *v = eq + 1;
    size_t vl = (size_t)(ke - v);
    qj_value *lit = NULL;
    qc_status ps = vl ? qj_parse(v, vl, "--algo", &lit) : qc_status_new(QC_CODE_PARSE, "empty");
    if (ps) {
      qc_status_free(ps);
      qc_json_put_string(b, v, vl, true);
    } else {
      qc_bytes_put(b, v, vl);
    }
    qj_free(lit);
    q = ke < e ? ke : NULL;
  }
  qc_bytes_puts(b, "}");
  return QC_OK;
}

qc_status qc_qalgos_add(qc_qconfig *cfg, const char *names) {
  qc_bytes b = {0};
  const char *old = cfg->algo_config;
  bool any = false;
  if (old && strcmp(old, "null") != 0) {
    size_t l = strlen(old);
    while (l > 0 && old[l - 1] != ']') l--; /* "[...]" without its ']' */
    if (l == 0) return qc_status_new(QC_CODE_INTERNAL, "algo_config is not a list");
    qc_bytes_put(&b, old, l - 1);
    any = l > 2;
  } else {
    qc_bytes_putc(&b, '[');
  }
  const char *p = names;
  qc_status s = QC_OK;
  while (*p && !s) {
    while (*p == ',' || *p == ' ') p++;
    const char *e = p;
    while (*e && *e != ',') e++;
    if (e == p) break;
    if (any) qc_bytes_puts(&b, ", ");
    s = add_one(&b, p, e);
    any = true;
    p = e;
  }
  qc_bytes_puts(&b, "]");
  qc_bytes_putc(&b, 0);
  if (!s && b.oom) s = QC_OOM();
  if (s) {
    free(b.p);
    return s;
  }
  free(cfg->algo_config);
  cfg->algo_config = b.p;
  return QC_OK;
}
