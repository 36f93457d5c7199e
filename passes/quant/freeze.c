/* freeze: quarc.Observe -> quarc.FakeQuant with the quantization parameters as constants.
 *
 * For each observer key (all the Observe nodes that share it share the parameters):
 *   - a key reading constants (weights, biases, pre-quantized weights) is observed here:
 *     every constant of the key goes through one quantizer (Quark's _calibrate_all_params),
 *     whose parameters are frozen;
 *   - a key reading activations takes its parameters from calibrate's quant.calib.<key>;
 *   - dynamic stages and non-scaled dtypes (mx, mx6, mx9, bfp16) have no parameters: their
 *     FakeQuant computes them from its input on every run.
 * A spec list becomes what Quark's SequentialQuantize computes: a ScaleQuantSpec (later
 * stages quantize the scales) is one FakeQuant with the first stage's spec and its
 * scale-quantized scales, or, when the first stage is dynamic, one FakeQuant with the whole
 * list and the parameters of its static stage; a ProgressiveSpec is a chain of FakeQuant
 * nodes, one per stage.
 *
 * Scales and zero points are laid out for ONNX (runtime/k_qc.h); an integer zero point has
 * the quantized dtype (i8, u8, i4, ...), so the constant alone says what QuantizeLinear
 * produces. Constants are named "<key>.scale" / "<key>.zero_point"; a FakeQuant takes the
 * name of the Observe it replaces: "<L>.weight_observer" -> "<L>.weight_quantizer", output
 * "<L>.weight_quantized". */
#include "passes/internal.h"
#include "passes/quant/qpass.h"
#include "quarc/rewrite.h"
#include "runtime/k_qc.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct obs {
  qc_nid n;
  qc_vid x, y;
  const char *key;
  const char *spec_text;
  const qc_qspecs *sp;
} obs;

static bool stage_static(const qc_qspec *s) {
  return s->is_dynamic != QC_QB_TRUE && !qc_qdtype_nonscaled(s->dtype);
}

/* Normalized axis of a stage for a tensor of `rank` dims (0 when not per-axis). */
static qc_status stage_axis(const qc_qspec *s, int32_t rank, const char *key, int32_t *axis) {
  *axis = 0;
  if (s->qscheme != QC_QSCHEME_PER_CHANNEL && s->qscheme != QC_QSCHEME_PER_GROUP) return QC_OK;
  int32_t a = s->has_ch_axis ? s->ch_axis : 0;
  if (rank < 0)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "observer '%s': the rank of its input is unknown",
                         key);
  if (a < 0) a += rank;
  if (a < 0 || a >= rank)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "observer '%s': ch_axis %d is out of range for "
                                                   "rank %d", key, s->ch_axis, rank);
  *axis = a;
  return QC_OK;
}

/* One FakeQuant to build: a spec (text) and, for a static stage, its parameters. */
typedef struct fq_plan {
  char *spec_text;
  const qc_qspec *layout; /* the stage whose parameters the inputs carry, or NULL */
  const qc_qparams *params;
  qc_vid scale, zp;       /* constants, made once per key */
} fq_plan;

/* The quantized element dtype of an integer zero point (QC_DT_UNDEFINED: none). */
static qc_dtype zp_dtype_of(const qc_qspec *s, const qc_qparams *p) {
  if (!qc_qdtype_is_int(s->dtype)) return QC_DT_UNDEFINED;
  if (p->zp_dtype == QC_F32) return QC_F32;
  qc_dtype e = qc_qdtype_element(s->dtype);
  return e ? e : QC_I32;
}

static qc_status make_params(qc_graph *g, const char *key, int stage_no, const qc_type *xt,
                             fq_plan *pl) {
  const qc_qspec *s = pl->layout;
  int32_t axis;
  QC_RETURN_IF_ERROR(stage_axis(s, xt->rank, key, &axis));
  if ((s->qscheme == QC_QSCHEME_PER_CHANNEL || s->qscheme == QC_QSCHEME_PER_GROUP) &&
      !qc_dim_is_static(xt->dims[axis]))
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "observer '%s': %s parameters along a dimension of unknown size", key,
                         qc_qscheme_name(s->qscheme));
  int64_t gs = s->qscheme == QC_QSCHEME_PER_GROUP && s->has_group_size ? s->group_size : 0;
  qc_tensor st, zt;
  qc_dtype zdt = zp_dtype_of(s, pl->params);
  QC_RETURN_IF_ERROR(qc_qlayout_from_params(pl->params, xt->rank, xt->dims, axis, gs, s->qscheme,
                                            zdt, &st, &zt));
  char base[1200];
  snprintf(base, sizeof base, stage_no ? "%s.scale_%d" : "%s.scale", key, stage_no + 1);
  qc_status r = qc_qadd_const(g, base, &st, &pl->scale);
  pl->zp = QC_NONE;
  if (!r && zdt != QC_DT_UNDEFINED) {
    snprintf(base, sizeof base, stage_no ? "%s.zero_point_%d" : "%s.zero_point", key, stage_no + 1);
    r = qc_qadd_const(g, base, &zt, &pl->zp);
  }
  qc_tensor_release(&st);
  qc_tensor_release(&zt);
  return r;
}

/* FakeQuant node `stem`_quantizer (output `stem`_quantized; ".<i>" per stage of a chain). */
static qc_status add_fake_quant(qc_graph *g, const char *key, const char *stem, int stage_no,
                                int n_stages, const fq_plan *pl, const qc_type *xt, qc_vid x,
                                qc_vid *out) {
  char nname[1300], oname[1300];
  if (n_stages > 1) {
    snprintf(nname, sizeof nname, "%s_quantizer.%d", stem, stage_no);
    snprintf(oname, sizeof oname, "%s_quantized.%d", stem, stage_no);
  } else {
    snprintf(nname, sizeof nname, "%s_quantizer", stem);
    snprintf(oname, sizeof oname, "%s_quantized", stem);
  }
  char *on = qc_qunique_name(g, oname);
  if (!on) return QC_OOM();
  qc_vid in[3] = {x, pl->layout ? pl->scale : QC_NONE, pl->layout ? pl->zp : QC_NONE};
  int32_t n_in = !pl->layout ? 1 : pl->zp >= 0 ? 3 : 2;
  qc_status s = qc_graph_add_op(g, QC_OP_Q_FakeQuant, nname, n_in, in, on, out);
  free(on);
  QC_RETURN_IF_ERROR(s);
  qc_nid n = qc_graph_value(g, *out)->node;
  QC_RETURN_IF_ERROR(qc_node_set_string(g, n, "spec", pl->spec_text));
  if (pl->layout) {
    int32_t axis;
    QC_RETURN_IF_ERROR(stage_axis(pl->layout, xt->rank, key, &axis));
    if (axis) QC_RETURN_IF_ERROR(qc_node_set_int(g, n, "axis", axis));
    if (pl->layout->qscheme == QC_QSCHEME_PER_GROUP && pl->layout->has_group_size)
      QC_RETURN_IF_ERROR(qc_node_set_int(g, n, "group_size", pl->layout->group_size));
  }
  return qc_graph_set_type(g, *out, xt);
}

/* A static per-tensor scale quantizer after a static first stage on a constant (NVFP4's
 * weights): the first stage's scales, already fake-quantized by it (Quark's
 * _apply_scale_quantization), are codes of the scale dtype times its scale. Keep the two
 * stages apart, as DequantizePacked(codes, scale_2) feeding the FakeQuant, so that realize
 * and the exporters see what Quark exports (weight_scale in fp8, weight_scale_2). */
static qc_status two_stage_scale(qc_graph *g, const char *key, const qc_qspec *s2spec,
                                 const qc_qparams *p2, fq_plan *pl) {
  qc_dtype el = qc_qdtype_element(s2spec->dtype);
  const qc_tensor *st = &qc_graph_value(g, pl->scale)->cst;
  if (!el || qc_dtype_is_int(el) || st->dtype != QC_F32 || p2->n != 1 || p2->scale_dtype != QC_F32)
    return QC_OK;
  const float *sv = qc_tensor_data(st);
  /* st points into the graph's value table, which adding constants below may move. */
  int32_t rank = st->rank;
  int64_t dims[QC_MAX_RANK];
  memcpy(dims, st->dims, sizeof(int64_t) * (size_t)rank);
  float s2 = p2->scale[0];
  qc_tensor codes, two, back;
  memset(&back, 0, sizeof back);
  QC_RETURN_IF_ERROR(qc_tensor_alloc(&codes, NULL, el, rank, dims));
  int64_t n = qc_tensor_numel(&codes);
  for (int64_t i = 0; i < n; i++)
    qc_elem_set_code(el, qc_tensor_data(&codes), (size_t)i,
                     qc_float_encode(el, (double)sv[i] / (double)s2, QC_ENC_SATURATE));
  qc_status s = qc_tensor_alloc(&two, NULL, QC_F32, 0, NULL);
  if (!s) *(float *)qc_tensor_data(&two) = s2;
  char base[1200];
  qc_vid cv = QC_NONE, tv = QC_NONE, y = QC_NONE;
  snprintf(base, sizeof base, "%s.scale.q", key);
  if (!s) s = qc_qadd_const(g, base, &codes, &cv);
  snprintf(base, sizeof base, "%s.scale_2", key);
  if (!s) s = qc_qadd_const(g, base, &two, &tv);
  if (!s) {
    snprintf(base, sizeof base, "%s.scale.dequantized", key);
    char *on = qc_qunique_name(g, base);
    snprintf(base, sizeof base, "%s.scale_dequantize", key);
    qc_vid in[2] = {cv, tv};
    s = on ? qc_graph_add_op(g, QC_OP_Q_DequantizePacked, base, 2, in, on, &y) : QC_OOM();
    free(on);
  }
  if (!s) {
    qc_type ty = qc_type_tensor(QC_F32, rank, dims);
    s = qc_graph_set_type(g, y, &ty);
  }
  /* The two stages must give the scales back bit for bit. */
  if (!s) s = qc_qconst_value(g, y, &back);
  if (!s && (back.dtype != QC_F32 || memcmp(qc_tensor_data(&back), sv, sizeof(float) * (size_t)n)))
    s = qc_status_new(QC_CODE_INTERNAL,
                      "observer '%s': the scales are not %s codes times the scale %.9g", key,
                      qc_dtype_name(el), (double)s2);
  if (!s) pl->scale = y;
  qc_tensor_release(&codes);
  qc_tensor_release(&two);
  qc_tensor_release(&back);
  return s;
}

static qc_status spec_text_of(const qc_qspec *v, int32_t n, bool list, char **out) {
  qc_qspecs s = {n, list, (qc_qspec *)v};
  return qc_qattr_json(&s, out);
}

/* Freeze the observers m[0..k) that share one key. */
static qc_status freeze_key(qc_graph *g, qc_rewriter *rw, const obs *m, int32_t k) {
  const char *key = m[0].key;
  const qc_qspecs *sp = m[0].sp;
  bool constlike = qc_qvalue_is_constlike(g, m[0].x);
  for (int32_t i = 1; i < k; i++) {
    if (strcmp(m[i].spec_text, m[0].spec_text) != 0)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "observer '%s': %s and %s differ in spec", key,
                           qc_node_desc(g, m[0].n), qc_node_desc(g, m[i].n));
    if (qc_qvalue_is_constlike(g, m[i].x) != constlike)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT,
                           "observer '%s' observes both constants and activations", key);
  }
  qc_type xt = qc_graph_value(g, m[0].x)->type;
  bool has_sq = false;
  for (int32_t i = 0; i < sp->n; i++) has_sq = has_sq || sp->v[i].is_scale_quant;
  int32_t st = qc_qattr_static_stage(sp);
  /* Parameters per stage. */
  qc_quantizer *q = NULL;
  qc_qparams calib;
  memset(&calib, 0, sizeof calib);
  const qc_qparams **P = calloc((size_t)sp->n, sizeof *P);
  fq_plan *plan = calloc((size_t)sp->n, sizeof *plan);
  qc_status s = P && plan ? QC_OK : QC_OOM();
  if (!s && st >= 0 && constlike) {
    qc_dtype mdt = xt.dtype == QC_F16 || xt.dtype == QC_BF16 ? xt.dtype : QC_F32;
    s = qc_quantizer_create(sp, mdt, &q);
    /* Parameters an algorithm fixed (gptq: its weight is on their grid) are used as they
     * are: observing the changed weight could give others. */
    char mk[1200];
    snprintf(mk, sizeof mk, "quant.calib.%s", key);
    bool pinned = sp->n == 1 && qc_graph_meta(g, mk) != NULL;
    if (!s && pinned) {
      s = qc_qcalib_read(g, key, st, &calib);
      if (!s) s = qc_quantizer_set_params(q, st, &calib);
    }
    for (int32_t i = 0; i < k && !s && !pinned; i++) {
      qc_tensor t;
      s = qc_qconst_value(g, m[i].x, &t);
      float *f = NULL;
      if (!s) s = qc_qtensor_f32(&t, &f);
      if (!s) s = qc_quantizer_observe_padded(q, sp, f, &t);
      free(f);
      qc_tensor_release(&t);
    }
    if (!s) s = qc_quantizer_finalize(q);
    /* Scale-quant stages fake-quantize the scales before them when the quantizer runs
     * (Quark's _apply_scale_quantization): run it once so that the parameters read below
     * are the quantized scales Quark exports. */
    if (!s && has_sq) {
      qc_tensor t;
      s = qc_qconst_value(g, m[0].x, &t);
      float *f = NULL;
      if (!s) s = qc_qtensor_f32(&t, &f);
      if (!s) s = qc_quantizer_forward_padded(q, sp, f, &t);
      free(f);
      qc_tensor_release(&t);
    }
    for (int32_t i = 0; i < sp->n && !s; i++) P[i] = qc_quantizer_params(q, i);
  } else if (!s && st >= 0) {
    for (int32_t i = st + 1; i < sp->n && !s; i++)
      if (stage_static(&sp->v[i]) && !has_sq)
        s = qc_status_new(QC_CODE_UNIMPLEMENTED,
                          "observer '%s': an activation with two static stages", key);
    if (!s) s = qc_qcalib_read(g, key, st, &calib);
    if (!s) P[st] = &calib;
  }
  if (!s && st >= 0 && !P[st])
    s = qc_status_new(QC_CODE_INTERNAL, "observer '%s': no parameters for stage %d", key, st);
  /* The FakeQuant nodes. */
  int32_t n_fq = 0;
  if (!s && has_sq) {
    n_fq = 1;
    if (stage_static(&sp->v[0])) {
      s = spec_text_of(&sp->v[0], 1, false, &plan[0].spec_text);
      plan[0].layout = &sp->v[0];
      plan[0].params = P[0];
    } else {
      s = spec_text_of(sp->v, sp->n, true, &plan[0].spec_text);
      if (st >= 0) {
        plan[0].layout = &sp->v[st];
        plan[0].params = P[st];
      }
    }
  } else if (!s) {
    n_fq = sp->n;
    for (int32_t i = 0; i < sp->n && !s; i++) {
      s = spec_text_of(&sp->v[i], 1, false, &plan[i].spec_text);
      if (stage_static(&sp->v[i])) {
        plan[i].layout = &sp->v[i];
        plan[i].params = P[i];
        if (!P[i])
          s = qc_status_new(QC_CODE_INTERNAL, "observer '%s': no parameters for stage %d", key, i);
      }
    }
  }
  for (int32_t i = 0; i < n_fq && !s; i++)
    if (plan[i].layout) s = make_params(g, key, i, &xt, &plan[i]);
  if (!s && has_sq && constlike && n_fq == 1 && plan[0].layout == &sp->v[0] && sp->n == 2 &&
      sp->v[1].is_scale_quant && stage_static(&sp->v[1]) && sp->v[1].qscheme == QC_QSCHEME_PER_TENSOR &&
      P[1])
    s = two_stage_scale(g, key, &sp->v[1], P[1], &plan[0]);
  for (int32_t j = 0; j < k && !s; j++) {
    /* Named after the observer ("<L>.weight_observer" -> "<L>.weight_quantizer"). */
    char stem[1200];
    const char *on = qc_graph_node(g, m[j].n)->name;
    size_t ol = on ? strlen(on) : 0;
    if (ol > 9 && strcmp(on + ol - 9, "_observer") == 0)
      snprintf(stem, sizeof stem, "%.*s", (int)(ol - 9), on);
    else
      snprintf(stem, sizeof stem, "%s", key);
    qc_vid cur = m[j].x;
    const qc_type *t = &qc_graph_value(g, m[j].x)->type;
    qc_type tj = *t;
    for (int32_t i = 0; i < n_fq && !s; i++)
      s = add_fake_quant(g, key, stem, i, n_fq, &plan[i], &tj, cur, &cur);
    if (!s) s = qc_rewriter_replace(rw, m[j].y, cur);
    if (!s) s = qc_rewriter_erase(rw, m[j].n);
  }
  for (int32_t i = 0; plan && i < sp->n; i++) free(plan[i].spec_text);
  free(plan);
  free(P);
  qc_qparams_clear(&calib);
  qc_quantizer_free(q);
  return qc_status_wrap(s, "freeze '%s'", key);
}

static qc_status run_freeze(qc_graph *g, const qc_pass_args *a, void *user) {
  (void)a;
  (void)user;
  int32_t nn = qc_graph_num_nodes(g), n = 0;
  obs *o = calloc((size_t)(nn ? nn : 1), sizeof *o);
  bool *done = calloc((size_t)(nn ? nn : 1), sizeof *done);
  obs *m = calloc((size_t)(nn ? nn : 1), sizeof *m);
  qc_status s = o && done && m ? QC_OK : QC_OOM();
  for (qc_nid i = 0; i < nn && !s; i++) {
    const qc_node *nd = qc_graph_node(g, i);
    if (nd->dead || nd->op != QC_OP_Q_Observe) continue;
    obs *x = &o[n++];
    x->n = i;
    x->x = nd->in[0];
    x->y = nd->out[0];
    x->key = qc_node_string(g, i, "key", "");
    x->spec_text = qc_node_string(g, i, "spec", "");
    s = qc_qattr_cached(x->spec_text, qc_node_desc(g, i), &x->sp);
  }
  qc_rewriter *rw = NULL;
  if (!s) s = qc_rewriter_begin(g, &rw);
  for (int32_t i = 0; i < n && !s; i++) {
    if (done[i]) continue;
    int32_t k = 0;
    for (int32_t j = i; j < n; j++)
      if (!done[j] && strcmp(o[j].key, o[i].key) == 0) {
        m[k++] = o[j];
        done[j] = true;
      }
    s = freeze_key(g, rw, m, k);
  }
  if (rw) {
    if (s) qc_rewriter_abort(rw);
    else s = qc_rewriter_finish(rw);
  }
  free(o);
  free(done);
  free(m);
  if (!s) s = qc_graph_infer_types(g);
  return s;
}

const qc_pass_info qc_pass_freeze = {
    "freeze", "quarc.Observe -> quarc.FakeQuant with constant scales and zero points", NULL, 0,
    run_freeze, NULL};
