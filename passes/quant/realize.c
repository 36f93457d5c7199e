/* realize{check=true}: fake-quantized constants -> real quantized constants.
 *
 * A quarc.FakeQuant whose input is a constant (a weight, a bias) and whose parameters are
 * constants becomes the quantized codes as a constant of the element dtype, followed by
 * quarc.DequantizePacked with the same scale / zero point (a two-stage scale, freeze's
 * DequantizePacked(codes, scale_2) of NVFP4 weights, stays as it is):
 *
 *   int8/uint8/int16/int4/uint4/int3/int2   integer codes (zero point added), dense; 4/3/2-bit
 *                                           ones as LSB-first bit streams (quarc/dtype.h)
 *   fp8 e4m3 / e5m2, fp6, fp4, e5m3         the element format's codes
 *   MX (per_group 32, e8m0 scales, along    OCP MX blocks (QC_MXFP4, QC_MXFP6E2M3, ...,
 *   the last axis)                          QC_MXFP8E4M3): the scales move into the blocks
 *
 * The codes come from Quark's real quantization (qc_real_quantize), so dequantizing them
 * gives what Quark's real-quantized export holds; with check=true (the default) every
 * realized tensor is dequantized by the kernel and compared bit for bit with Quark's
 * dequantization of the same codes. Non-scaled
 * dtypes (mx6, mx9, bfp16) have no packed form in Quark and stay FakeQuant; so do
 * FakeQuant nodes of activations. */
#include "passes/internal.h"
#include "passes/quant/numerics_internal.h"
#include "passes/quant/qpass.h"
#include "quarc/rewrite.h"
#include "runtime/k_qc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* The OCP MX block dtype for an element dtype, QC_DT_UNDEFINED if none. */
static qc_dtype mx_block_of(qc_dtype elem) {
  switch (elem) {
  case QC_F4E2M1: return QC_MXFP4;
  case QC_F6E2M3: return QC_MXFP6E2M3;
  case QC_F6E3M2: return QC_MXFP6E3M2;
  case QC_F8E4M3FN: return QC_MXFP8E4M3;
  case QC_F8E5M2: return QC_MXFP8E5M2;
  default: return QC_DT_UNDEFINED;
  }
}

/* Code of one quantized element value (exactly representable: see qc_real_quantize). */
static uint64_t code_of(qc_dtype elem, double q) {
  if (qc_dtype_is_int(elem)) {
    int64_t v = qc_int_saturate(elem, (int64_t)llround(q));
    int bits = qc_dtype_traits_of(elem)->bits;
    return bits >= 64 ? (uint64_t)v : (uint64_t)v & ((UINT64_C(1) << bits) - 1);
  }
  return qc_float_encode(elem, q, QC_ENC_SATURATE);
}

typedef struct rctx {
  bool check;
  int64_t realized, kept;
} rctx;

/* Pack q (the element values of x, shape (rank, dims)) as MX blocks along the last axis
 * with the scales `scale` (one per 32 elements, powers of two). */
static qc_status pack_mx(qc_dtype bt, const float *q, const qc_tensor *scale, int32_t rank,
                         const int64_t *dims, qc_tensor *out) {
  const qc_dtype_traits *t = qc_dtype_traits_of(bt);
  qc_dtype elem = t->block_elem;
  int bits = qc_dtype_traits_of(elem)->bits;
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, bt, rank, dims));
  int64_t n = qc_tensor_numel(out), nb = n / t->block_elems;
  uint8_t *d = qc_tensor_data(out);
  uint8_t codes[32];
  for (int64_t b = 0; b < nb; b++) {
    uint8_t *blk = d + (size_t)b * t->block_bytes;
    double s = qc_elem_f64(scale->dtype, qc_tensor_data(scale), (size_t)b);
    blk[0] = (uint8_t)qc_float_encode(QC_E8M0, s, 0);
    for (int i = 0; i < 32; i++) codes[i] = (uint8_t)code_of(elem, q[b * 32 + i]);
    if (bits == 8) memcpy(blk + 1, codes, 32);
    else qc_pack_bits(codes, 32, bits, blk + 1);
  }
  return QC_OK;
}

/* Realize FakeQuant node n (x constant, parameters constant), or leave it (return with
 * *done false). */
static qc_status realize_node(qc_rewriter *rw, qc_nid n, rctx *c, bool *done) {
  qc_graph *g = qc_rewriter_graph(rw);
  const qc_node *nd = qc_graph_node(g, n);
  *done = false;
  qc_vid x = nd->in[0], sv = nd->n_in > 1 ? nd->in[1] : QC_NONE, zv = nd->n_in > 2 ? nd->in[2] : QC_NONE;
  if (!qc_qvalue_is_constlike(g, x)) return QC_OK;
  /* the scale: a constant, or DequantizePacked(codes, scale_2) of a two-stage one (NVFP4) */
  if (sv < 0 || !qc_qvalue_is_constlike(g, sv)) return QC_OK;
  if (zv >= 0 && qc_graph_value(g, zv)->kind != QC_VALUE_CONST) return QC_OK;
  const qc_qspecs *sp;
  QC_RETURN_IF_ERROR(qc_qattr_cached(qc_node_string(g, n, "spec", ""), qc_node_desc(g, n), &sp));
  if (sp->n != 1 || qc_qdtype_nonscaled(sp->v[0].dtype)) return QC_OK;
  const qc_qspec *spec = &sp->v[0];
  qc_dtype elem = qc_qdtype_element(spec->dtype);
  if (!elem) return QC_OK;
  qc_tensor st_val;
  QC_RETURN_IF_ERROR(qc_qconst_value(g, sv, &st_val));
  const qc_tensor *st = &st_val;
  const qc_tensor *zt = zv >= 0 ? &qc_graph_value(g, zv)->cst : NULL;
  int64_t axis = qc_node_int(g, n, "axis", 0), gs = qc_node_int(g, n, "group_size", 0);
  qc_tensor xt, qt, check;
  memset(&qt, 0, sizeof qt);
  memset(&check, 0, sizeof check);
  qc_status s0 = qc_qconst_value(g, x, &xt);
  if (s0) {
    qc_tensor_release(&st_val);
    return s0;
  }
  qc_dtype mdt = xt.dtype == QC_F16 || xt.dtype == QC_BF16 ? xt.dtype : QC_F32;
  int64_t numel = qc_tensor_numel(&xt);
  float *xf = NULL, *q = NULL, *fq = NULL;
  qc_qparams p;
  memset(&p, 0, sizeof p);
  qc_status s = qc_qtensor_f32(&xt, &xf);
  /* A partial last group: quantize the zero-padded tensor, keep the real part. */
  int32_t gax;
  int64_t group, pdims[QC_MAX_RANK];
  const int64_t *wdims = xt.dims;
  float *xpad = NULL, *qpad = NULL;
  if (!s && qc_qgroup_partial(sp, xt.rank, xt.dims, &gax, &group)) {
    s = qc_qgroup_pad(xf, xt.rank, xt.dims, gax, group, &xpad, pdims);
    wdims = pdims;
  }
  int64_t wn = qc_shape_numel(xt.rank, wdims);
  if (!s) s = qc_qlayout_to_params(spec, xt.rank, wdims, (int32_t)axis, gs, st, zt, &p);
  if (!s && !(q = malloc(sizeof *q * (size_t)(wn ? wn : 1)))) s = QC_OOM();
  if (!s) s = qc_real_quantize(spec, &p, xpad ? xpad : xf, xt.rank, wdims, q);
  if (!s && xpad) {
    qpad = q;
    if (!(q = malloc(sizeof *q * (size_t)(numel ? numel : 1)))) s = QC_OOM();
    else qc_qgroup_crop(qpad, xt.rank, pdims, gax, xt.dims[gax], q);
  }
  /* The packed form. */
  qc_dtype bt = mx_block_of(elem);
  bool mx = bt && spec->scale_format == QC_QSCALE_FORMAT_E8M0 &&
            spec->qscheme == QC_QSCHEME_PER_GROUP && gs == 32 && xt.rank >= 1 &&
            axis == xt.rank - 1 && xt.dims[xt.rank - 1] % 32 == 0;
  if (!s && mx) {
    s = pack_mx(bt, q, st, xt.rank, xt.dims, &qt);
  } else if (!s) {
    s = qc_tensor_alloc(&qt, NULL, elem, xt.rank, xt.dims);
    for (int64_t i = 0; i < numel && !s; i++)
      qc_elem_set_code(elem, qc_tensor_data(&qt), (size_t)i, code_of(elem, q[i]));
  }
  /* New constant and DequantizePacked. */
  const char *xname = qc_graph_value(g, x)->name;
  char base[1200];
  snprintf(base, sizeof base, "%s.q", xname);
  qc_vid qv = QC_NONE, y = QC_NONE;
  if (!s) s = qc_qadd_const(g, base, &qt, &qv);
  if (!s) {
    qc_vid in[3] = {qv, mx ? QC_NONE : sv, mx ? QC_NONE : zv};
    int32_t n_in = mx ? 1 : zv >= 0 ? 3 : 2;
    snprintf(base, sizeof base, "%s.dequantized", xname);
    char *on = qc_qunique_name(g, base);
    snprintf(base, sizeof base, "%s_dequantize", xname);
    s = on ? qc_graph_add_op(g, QC_OP_Q_DequantizePacked, base, n_in, in, on, &y) : QC_OOM();
    free(on);
  }
  qc_nid dn = s ? QC_NONE : qc_graph_value(g, y)->node;
  if (!s && !mx && axis) s = qc_node_set_int(g, dn, "axis", axis);
  if (!s && !mx && gs) s = qc_node_set_int(g, dn, "group_size", gs);
  if (!s && xt.dtype != QC_F32) s = qc_node_set_int(g, dn, "to", qc_dtype_traits_of(xt.dtype)->onnx);
  if (!s) {
    qc_type ty = qc_type_tensor(xt.dtype, xt.rank, xt.dims);
    s = qc_graph_set_type(g, y, &ty);
  }
  /* Dequantized == fake-quantized, bit for bit. */
  if (!s && c->check) {
    /* Quark's real quantization rounds x/s + zp where its fake quantization rounds x/s and
     * adds zp; the float sum can fall on the other side of a .5 (Quark's exports differ from
     * its fake-quantized model the same way), so the reference is Quark's dequantization
     * of the real codes. */
    if (!(fq = malloc(sizeof *fq * (size_t)(wn ? wn : 1)))) s = QC_OOM();
    if (!s) s = qc_dequantize(spec, &p, qpad ? qpad : q, xt.rank, wdims, mdt, fq);
    if (!s && xpad) qc_qgroup_crop(fq, xt.rank, pdims, gax, xt.dims[gax], fq);
    for (int64_t i = 0; i < numel && !s; i++) fq[i] = qc_round_to(mdt, fq[i]); /* model dtype */
    if (!s) s = qc_qconst_value(g, y, &check);
    float *back = NULL;
    if (!s) s = qc_qtensor_f32(&check, &back);
    for (int64_t i = 0; i < numel && !s; i++) {
      uint32_t a, b;
      memcpy(&a, &fq[i], 4);
      memcpy(&b, &back[i], 4);
      if (a != b && !(isnan(fq[i]) && isnan(back[i])))
        s = qc_status_new(QC_CODE_INTERNAL,
                          "realized '%s' differs from Quark's dequantization at element %lld: "
                          "%.9g (packed %s) vs %.9g",
                          xname, (long long)i, (double)back[i], qc_dtype_name(qt.dtype),
                          (double)fq[i]);
    }
    free(back);
  }
  if (!s) s = qc_rewriter_replace(rw, nd->out[0], y);
  if (!s) s = qc_rewriter_erase(rw, n);
  if (!s) *done = true;
  qc_qparams_clear(&p);
  qc_tensor_release(&st_val);
  qc_tensor_release(&xt);
  qc_tensor_release(&qt);
  qc_tensor_release(&check);
  free(xf);
  free(q);
  free(fq);
  free(xpad);
  free(qpad);
  return s;
}

static qc_status run_realize(qc_graph *g, const qc_pass_args *a, void *user) {
  (void)user;
  rctx c = {qc_pass_arg_bool(a, "check"), 0, 0};
  qc_rewriter *rw;
  QC_RETURN_IF_ERROR(qc_rewriter_begin(g, &rw));
  qc_status s = QC_OK;
  int32_t nn = qc_graph_num_nodes(g);
  for (qc_nid n = 0; n < nn && !s; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead || nd->op != QC_OP_Q_FakeQuant) continue;
    bool done;
    s = realize_node(rw, n, &c, &done);
    if (s) s = qc_status_wrap(s, "%s", qc_node_desc(g, n));
  }
  if (s) {
    qc_rewriter_abort(rw);
    return s;
  }
  QC_RETURN_IF_ERROR(qc_rewriter_finish(rw));
  return qc_graph_infer_types(g);
}

static const qc_pass_option OPTIONS[] = {
    {"check", QC_OPT_BOOL, "true", "dequantize every realized tensor and compare with FakeQuant"},
};
const qc_pass_info qc_pass_realize = {
    "realize", "fake-quantized constants -> packed quantized constants + quarc.DequantizePacked",
    OPTIONS, 1, run_realize, NULL};
