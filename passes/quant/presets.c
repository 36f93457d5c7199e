/*
 * Presets with Quark's scheme names: the QConfig that
 * LLMTemplate.get("llama").get_config(scheme, kv_cache_scheme, min_kv_scale,
 * attention_scheme, exclude_layers) returns in amd-quark 0.13
 * (quark/torch/quantization/config/template.py), built from the same spec helpers
 * (Int8PerTensorSpec, OCP_MXFP4Spec, ScaleQuantSpec, ... in config/config.py).
 * tests/data/quark_goldens/presets/ holds Quark's own JSON for each, and the tests compare.
 */
#include "passes/quant/quant_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *qc_quant_default_version(void) {
  static char buf[48];
  if (!buf[0]) snprintf(buf, sizeof buf, "quarc-%s", qc_version());
  return buf;
}

/* ---- Quark's spec helpers ------------------------------------------------------------------ */

static qc_qspec spec(qc_qdtype dt) {
  qc_qspec s;
  qc_qspec_init(&s);
  s.dtype = dt;
  return s;
}

static void axis(qc_qspec *s, int32_t a) {
  s->has_ch_axis = true;
  s->ch_axis = a;
}
static void group(qc_qspec *s, int64_t g) {
  s->has_group_size = true;
  s->group_size = g;
}

/* What every helper below sets: observer, scheme, scale type, round half-even, is_dynamic. */
static qc_qspec quark_spec(qc_qdtype dt, qc_qobserver obs, qc_qscheme q, qc_qscale_type st, bool dyn) {
  qc_qspec s = spec(dt);
  s.observer_cls = obs;
  s.qscheme = q;
  s.scale_type = st;
  s.round_method = QC_QROUND_HALF_EVEN;
  s.is_dynamic = dyn ? QC_QB_TRUE : QC_QB_FALSE;
  return s;
}

/* The min-max observer Quark pairs with a scheme. */
static qc_qobserver minmax_observer(qc_qscheme q) {
  return q == QC_QSCHEME_PER_TENSOR    ? QC_QOBS_PER_TENSOR_MINMAX
         : q == QC_QSCHEME_PER_CHANNEL ? QC_QOBS_PER_CHANNEL_MINMAX
                                       : QC_QOBS_PER_GROUP_MINMAX;
}

/* Int*PerTensorSpec / PerChannelSpec / PerGroupSpec. */
static qc_qspec int_spec(qc_qdtype dt, qc_qscheme q, bool sym, qc_qscale_type st, bool dyn) {
  qc_qspec s = quark_spec(dt, minmax_observer(q), q, st, dyn);
  s.symmetric = sym ? QC_QB_TRUE : QC_QB_FALSE;
  return s;
}

/* FP8E4M3PerTensorSpec(observer_method="min_max", scale_type, is_dynamic), likewise e5m3. */
static qc_qspec fp8_tensor(qc_qdtype dt, qc_qscale_type st, bool dyn) {
  qc_qspec s = quark_spec(dt, QC_QOBS_PER_TENSOR_MINMAX, QC_QSCHEME_PER_TENSOR, st, dyn);
  s.symmetric = QC_QB_TRUE;
  return s;
}

/* FP8E4M3PerChannelSpec(ch_axis, is_dynamic). */
static qc_qspec fp8_channel(int32_t ax, bool dyn) {
  qc_qspec s = quark_spec(QC_QDT_FP8_E4M3, QC_QOBS_PER_CHANNEL_MINMAX, QC_QSCHEME_PER_CHANNEL,
                          QC_QSCALE_TYPE_FLOAT, dyn);
  s.symmetric = QC_QB_TRUE;
  axis(&s, ax);
  return s;
}

/* Groups along the last axis under a PerBlockMXObserver; the helpers differ in the scale
 * they store. */
static qc_qspec block_spec(qc_qdtype dt, int64_t g, bool dyn, qc_qscale_type st,
                           qc_qscale_format fmt) {
  qc_qspec s = quark_spec(dt, QC_QOBS_PER_BLOCK_MX, QC_QSCHEME_PER_GROUP, st, dyn);
  s.scale_format = fmt;
  axis(&s, -1);
  group(&s, g);
  return s;
}

/* OCP_MX*Spec(ch_axis=-1, is_dynamic): e8m0 scales, group 32. */
static qc_qspec ocp_mx(qc_qdtype dt, bool dyn) {
  qc_qspec s = block_spec(dt, 32, dyn, QC_QSCALE_TYPE_FLOAT, QC_QSCALE_FORMAT_E8M0);
  s.scale_calculation_mode = QC_QSCALE_MODE_EVEN;
  return s;
}

/* FP4PerGroupSpec(ch_axis=-1, group_size, is_dynamic, scale_type) (scale_format float32). */
static qc_qspec fp4_group(int64_t g, bool dyn, qc_qscale_type st) {
  return block_spec(QC_QDT_FP4, g, dyn, st, QC_QSCALE_FORMAT_FLOAT32);
}

/* AmdFP4Spec(ch_axis=-1, group_size, is_dynamic): e5m3 scales. */
static qc_qspec amdfp4(int64_t g, bool dyn) {
  return block_spec(QC_QDT_FP4, g, dyn, QC_QSCALE_TYPE_FLOAT8_E5M3, QC_QSCALE_FORMAT_E5M3);
}

/* MX6Spec / MX9Spec(ch_axis=-1, block_size=16), BFP16Spec(ch_axis=-1). */
static qc_qspec microexp(qc_qdtype dt, int64_t block) {
  qc_qspec s = spec(dt);
  axis(&s, -1);
  group(&s, block);
  s.scale_calculation_mode = QC_QSCALE_MODE_EVEN;
  return s;
}

/* ---- schemes ------------------------------------------------------------------------------- */

typedef struct scheme_out {
  qc_qspec w[2], in[2];
  int32_t nw, nin;
  bool wlist, inlist;
} scheme_out;

static void W(scheme_out *o, qc_qspec s) {
  o->w[0] = s;
  o->nw = 1;
}
static void I(scheme_out *o, qc_qspec s) {
  o->in[0] = s;
  o->nin = 1;
}
static void W2(scheme_out *o, qc_qspec a, qc_qspec b) {
  o->w[0] = a;
  o->w[1] = b;
  o->nw = 2;
  o->wlist = true;
}
static void I2(scheme_out *o, qc_qspec a, qc_qspec b) {
  o->in[0] = a;
  o->in[1] = b;
  o->nin = 2;
  o->inlist = true;
}
static qc_qspec scale_quant(qc_qspec s) {
  s.is_scale_quant = true;
  return s;
}

static const char *const PRESET_NAMES[] = {
    "int4_wo_32",      "int4_wo_64",         "int4_wo_128",          "int4_wo_per_channel",
    "int4_wa_64",      "uint4_wo_32",        "uint4_wo_64",          "uint4_wo_128",
    "uint4_wo_per_channel", "int8",           "int8_per_channel_dynamic", "fp8",
    "ptpc_fp8",        "mxfp4",              "mxfp4_weight_only",    "mxfp6_e3m2",
    "mxfp6_e2m3",      "mxfp4_mxfp6_e2m3",   "mxfp4_fp8",            "amdfp4",
    "amdfp4_g32",      "int4_fp8",           "mx6",                  "mx9",
    "bfp16",           "nvfp4",              "fp4_block16_scale_e4m3", "amdfp4_global16",
    "amdfp4_global32",
};

const char *const *qc_qconfig_preset_names(int32_t *n) {
  *n = (int32_t)(sizeof PRESET_NAMES / sizeof PRESET_NAMES[0]);
  return PRESET_NAMES;
}

/* "<prefix><G>" with G a positive integer. */
static bool group_suffix(const char *name, const char *prefix, int64_t *g) {
  size_t n = strlen(prefix);
  if (strncmp(name, prefix, n) != 0) return false;
  const char *d = name + n;
  if (!*d || *d == '0') return false;
  int64_t v = 0;
  for (; *d; d++) {
    if (*d < '0' || *d > '9' || v > 1000000000) return false;
    v = v * 10 + (*d - '0');
  }
  *g = v;
  return true;
}

static bool build_scheme(const char *name, scheme_out *o) {
  memset(o, 0, sizeof *o);
  int64_t g;
  const qc_qscale_type F = QC_QSCALE_TYPE_FLOAT, F32 = QC_QSCALE_TYPE_FLOAT32;
  if (group_suffix(name, "int4_wo_", &g)) {
    qc_qspec s = int_spec(QC_QDT_INT4, QC_QSCHEME_PER_GROUP, true, F, false);
    axis(&s, -1);
    group(&s, g);
    W(o, s);
  } else if (group_suffix(name, "uint4_wo_", &g)) {
    qc_qspec s = int_spec(QC_QDT_UINT4, QC_QSCHEME_PER_GROUP, false, F, false);
    axis(&s, -1);
    group(&s, g);
    W(o, s);
  } else if (group_suffix(name, "int4_wa_", &g)) {
    qc_qspec s = int_spec(QC_QDT_INT4, QC_QSCHEME_PER_GROUP, true, F, false);
    axis(&s, -1);
    group(&s, g);
    W(o, s);
    s.is_dynamic = QC_QB_TRUE;
    I(o, s);
  } else if (strcmp(name, "int4_wo_per_channel") == 0 || strcmp(name, "uint4_wo_per_channel") == 0) {
    bool u = name[0] == 'u';
    qc_qspec s = int_spec(u ? QC_QDT_UINT4 : QC_QDT_INT4, QC_QSCHEME_PER_CHANNEL, !u, F, false);
    axis(&s, 0);
    W(o, s);
  } else if (strcmp(name, "int8") == 0) {
    qc_qspec s = int_spec(QC_QDT_INT8, QC_QSCHEME_PER_TENSOR, true, F, false);
    W(o, s);
    I(o, s);
  } else if (strcmp(name, "int8_per_channel_dynamic") == 0) {
    qc_qspec w = int_spec(QC_QDT_INT8, QC_QSCHEME_PER_CHANNEL, true, F, false);
    axis(&w, 0);
    qc_qspec a = int_spec(QC_QDT_INT8, QC_QSCHEME_PER_CHANNEL, true, F, true);
    axis(&a, 1);
    W(o, w);
    I(o, a);
  } else if (strcmp(name, "fp8") == 0) {
    qc_qspec s = fp8_tensor(QC_QDT_FP8_E4M3, F, false);
    W(o, s);
    I(o, s);
  } else if (strcmp(name, "ptpc_fp8") == 0) {
    W(o, fp8_channel(0, false));
    I(o, fp8_channel(1, true));
  } else if (strcmp(name, "mxfp4") == 0) {
    W(o, ocp_mx(QC_QDT_FP4, false));
    I(o, ocp_mx(QC_QDT_FP4, true));
  } else if (strcmp(name, "mxfp4_weight_only") == 0) {
    W(o, ocp_mx(QC_QDT_FP4, false));
  } else if (strcmp(name, "mxfp6_e3m2") == 0 || strcmp(name, "mxfp6_e2m3") == 0) {
    qc_qdtype dt = strcmp(name, "mxfp6_e3m2") == 0 ? QC_QDT_FP6_E3M2 : QC_QDT_FP6_E2M3;
    W(o, ocp_mx(dt, false));
    I(o, ocp_mx(dt, true));
  } else if (strcmp(name, "mxfp4_mxfp6_e2m3") == 0) {
    W(o, ocp_mx(QC_QDT_FP4, false));
    I(o, ocp_mx(QC_QDT_FP6_E2M3, true));
  } else if (strcmp(name, "mxfp4_fp8") == 0) {
    W(o, ocp_mx(QC_QDT_FP4, false));
    I(o, fp8_tensor(QC_QDT_FP8_E4M3, QC_QSCALE_TYPE_NONE, false));
  } else if (strcmp(name, "amdfp4") == 0 || strcmp(name, "amdfp4_g32") == 0) {
    int64_t gs = name[6] ? 32 : 16;
    W(o, amdfp4(gs, false));
    I(o, amdfp4(gs, true));
  } else if (strcmp(name, "int4_fp8") == 0) {
    qc_qspec i4 = int_spec(QC_QDT_INT4, QC_QSCHEME_PER_CHANNEL, true, F32, false);
    axis(&i4, 0);
    W2(o, fp8_tensor(QC_QDT_FP8_E4M3, F32, false), i4);
    I(o, fp8_tensor(QC_QDT_FP8_E4M3, F32, true));
  } else if (strcmp(name, "mx6") == 0 || strcmp(name, "mx9") == 0) {
    qc_qspec s = microexp(name[2] == '6' ? QC_QDT_MX6 : QC_QDT_MX9, 16);
    W(o, s);
    I(o, s);
  } else if (strcmp(name, "bfp16") == 0) {
    qc_qspec s = microexp(QC_QDT_BFP16, 8);
    W(o, s);
    I(o, s);
  } else if (strcmp(name, "nvfp4") == 0 || strcmp(name, "fp4_block16_scale_e4m3") == 0) {
    W2(o, fp4_group(16, false, F32), scale_quant(fp8_tensor(QC_QDT_FP8_E4M3, F32, false)));
    I2(o, fp4_group(16, true, F32), scale_quant(fp8_tensor(QC_QDT_FP8_E4M3, F32, false)));
  } else if (strcmp(name, "amdfp4_global16") == 0 || strcmp(name, "amdfp4_global32") == 0) {
    int64_t gs = strcmp(name, "amdfp4_global16") == 0 ? 16 : 32;
    W2(o, fp4_group(gs, false, F32), scale_quant(fp8_tensor(QC_QDT_FP8_E5M3, F32, false)));
    I2(o, fp4_group(gs, true, F32), scale_quant(fp8_tensor(QC_QDT_FP8_E5M3, F32, false)));
  } else {
    return false;
  }
  return true;
}

/* ---- the template ----------------------------------------------------------------------- */

static qc_status apply_kv_fp8(qc_qconfig *c, const char *const *kv, int32_t nkv) {
  /* LLMTemplate._set_kv_cache_config: for each KV projection pattern, a layer entry keeping
   * the weight/input specs that apply to it, plus an fp8 per-tensor output spec; the same
   * in kv_cache_quant_config. An excluded pattern keeps only the output spec, and only in
   * kv_cache_quant_config. */
  qc_qspec out = fp8_tensor(QC_QDT_FP8_E4M3, QC_QSCALE_TYPE_NONE, false);
  for (int32_t i = 0; i < nkv; i++) {
    qc_qresolution r;
    QC_RETURN_IF_ERROR(qc_qconfig_resolve(c, kv[i], QC_QLAYER_LINEAR, &r));
    qc_qlayer l;
    memset(&l, 0, sizeof l);
    bool excluded = r.source == QC_QSOURCE_EXCLUDED;
    qc_status s = QC_OK;
    if (!excluded) {
      if ((s = qc_qspecs_set(&l.weight, r.layer.weight.v, r.layer.weight.n,
                             r.layer.weight.is_list)) ||
          (s = qc_qspecs_set(&l.input_tensors, r.layer.input_tensors.v, r.layer.input_tensors.n,
                             r.layer.input_tensors.is_list))) {
        qc_qlayer_clear(&l);
        return s;
      }
    }
    if (!(s = qc_qspecs_set(&l.output_tensors, &out, 1, false))) {
      if (!excluded) s = qc_qconfig_set_layer(c, kv[i], &l);
      if (!s) s = qc_qconfig_set_kv_cache(c, kv[i], &l);
    }
    qc_qlayer_clear(&l);
    QC_RETURN_IF_ERROR(s);
  }
  return QC_OK;
}

static qc_status apply_attention_fp8(qc_qconfig *c, const char *q_layer) {
  qc_qspec out = fp8_tensor(QC_QDT_FP8_E4M3, QC_QSCALE_TYPE_NONE, false);
  QC_RETURN_IF_ERROR(qc_qspecs_set(&c->softmax_quant_spec, &out, 1, false));
  if (!q_layer) return QC_OK;
  qc_qresolution r;
  QC_RETURN_IF_ERROR(qc_qconfig_resolve(c, q_layer, QC_QLAYER_LINEAR, &r));
  if (r.source == QC_QSOURCE_EXCLUDED) return QC_OK;
  qc_qlayer l;
  memset(&l, 0, sizeof l);
  qc_status s;
  if (!(s = qc_qspecs_set(&l.weight, r.layer.weight.v, r.layer.weight.n, r.layer.weight.is_list)) &&
      !(s = qc_qspecs_set(&l.input_tensors, r.layer.input_tensors.v, r.layer.input_tensors.n,
                          r.layer.input_tensors.is_list)) &&
      !(s = qc_qspecs_set(&l.output_tensors, &out, 1, false)))
    s = qc_qconfig_set_layer(c, q_layer, &l);
  qc_qlayer_clear(&l);
  return s;
}

qc_status qc_qconfig_preset(const char *scheme, const qc_qpreset_options *opts,
                            qc_qconfig **out) {
  *out = NULL;
  qc_qpreset_options o;
  memset(&o, 0, sizeof o);
  if (opts) o = *opts;
  scheme_out so;
  if (!scheme || !build_scheme(scheme, &so)) {
    char list[1024];
    size_t k = 0;
    int32_t n;
    const char *const *names = qc_qconfig_preset_names(&n);
    for (int32_t i = 0; i < n && k < sizeof list - 64; i++)
      k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", names[i]);
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "unknown quantization scheme '%s' (known: %s; int4_wo_<G> and "
                         "uint4_wo_<G> take any group size)",
                         scheme ? scheme : "(null)", list);
  }
  if (o.kv_cache_scheme && strcmp(o.kv_cache_scheme, "fp8") != 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "unknown KV-cache scheme '%s' (known: fp8)", o.kv_cache_scheme);
  if (o.attention_scheme && strcmp(o.attention_scheme, "fp8") != 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                         "unknown attention scheme '%s' (known: fp8)", o.attention_scheme);
  static const char *const def_kv[] = {"*k_proj", "*v_proj"};
  static const char *const def_exclude[] = {"lm_head"};
  static const char *const def_gate_up[] = {"gate_proj", "up_proj"};
  const char *const *kv = o.kv_layers ? o.kv_layers : def_kv;
  int32_t nkv = o.kv_layers ? o.n_kv_layers : 2;
  const char *const *ex = o.exclude_given ? o.exclude : def_exclude;
  int32_t nex = o.exclude_given ? o.n_exclude : 1;
  const char *const *gu = o.gate_up_layers ? o.gate_up_layers : def_gate_up;
  int32_t ngu = o.gate_up_layers ? o.n_gate_up_layers : 2;

  qc_qconfig *c;
  QC_RETURN_IF_ERROR(qc_qconfig_new(&c));
  qc_status s = QC_OK;
  if ((s = qc_qspecs_set(&c->global_quant_config.weight, so.w, so.nw, so.wlist))) goto fail;
  if ((s = qc_qspecs_set(&c->global_quant_config.input_tensors, so.in, so.nin, so.inlist)))
    goto fail;
  for (int32_t i = 0; i < nex; i++)
    if ((s = qc_qstrings_push(&c->exclude, ex[i]))) goto fail;
  for (int32_t i = 0; i < nkv; i++)
    if ((s = qc_qstrings_push(&c->kv_cache_group, kv[i]))) goto fail;
  c->min_kv_scale = o.min_kv_scale;
  if (strcmp(scheme, "nvfp4") == 0 || strcmp(scheme, "fp4_block16_scale_e4m3") == 0) {
    /* _get_default_shared_scale_settings */
    c->shared_scale_groups = calloc(2, sizeof(qc_qstrings));
    if (!c->shared_scale_groups) goto oom_fail;
    c->n_shared_scale_groups = 2;
    static const char *const qkv[] = {"q_proj", "k_proj", "v_proj"};
    for (int i = 0; i < 3; i++)
      if ((s = qc_qstrings_push(&c->shared_scale_groups[0], qkv[i]))) goto fail;
    for (int32_t i = 0; i < ngu; i++)
      if ((s = qc_qstrings_push(&c->shared_scale_groups[1], gu[i]))) goto fail;
    c->sync_moe_expert_input_amax = true;
  }
  if (o.kv_cache_scheme && (s = apply_kv_fp8(c, kv, nkv))) goto fail;
  if (o.attention_scheme && (s = apply_attention_fp8(c, o.q_layer ? o.q_layer : "*q_proj")))
    goto fail;
  if (!(c->version = qc_qstrdup(o.version ? o.version : qc_quant_default_version()))) goto oom_fail;
  if (o.with_export) {
    c->has_export = true;
    if (o.kv_cache_scheme)
      for (int32_t i = 0; i < nkv; i++)
        if ((s = qc_qstrings_push(&c->export_cfg.kv_cache_group, kv[i]))) goto fail;
    c->export_cfg.min_kv_scale = o.min_kv_scale;
    if (!(c->export_cfg.weight_format = qc_qstrdup("real_quantized")) ||
        !(c->export_cfg.pack_method = qc_qstrdup("reorder")))
      goto oom_fail;
  }
  if ((s = qc_qconfig_validate(c))) goto fail;
  *out = c;
  return QC_OK;
oom_fail:
  s = qc_status_new(QC_CODE_OUT_OF_MEMORY, "out of memory");
fail:
  qc_qconfig_free(c);
  return s;
}
