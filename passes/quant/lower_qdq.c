/* lower-qdq{opset=N, ort=true, matmulnbits=false}: quarc's quantization ops -> standard ONNX.
 *
 * What each quarc op becomes (the opset is the lowest that expresses it; the graph's default
 * domain is raised to the largest one needed, or to `opset` when that is given and high
 * enough — lower is an error naming the tensor and what it needs):
 *
 *   DequantizePacked(q, scale, zp) of a constant (realize's weights)
 *       DequantizeLinear(q, scale, zp){axis, block_size}: int8/uint8 13 (per-tensor 10),
 *       fp8 19, int16/uint16/int4/uint4 and blocked scales 21, fp4 23, e8m0 scales 24.
 *       With ort=true (the default) only what ONNX Runtime's CPU kernels implement is used:
 *       fp4/fp6 codes and MX blocks become exact integer codes (value * 2^k in int8/int16)
 *       with float32 scales (scale * 2^-k) — the same products, bit for bit; ort=false keeps
 *       FLOAT4E2M1 codes and FLOAT8E8M0 scales (opsets 23 and 24). fp6, int3 and int2 have
 *       no ONNX type (int2 only from opset 25) and always become int8 codes.
 *       When its only reader is the weight Transpose of an HF Linear, the Transpose is
 *       folded into the constant: MatMul(x, DequantizeLinear(Wq^T)), the pattern ONNX
 *       Runtime and other QDQ consumers recognize.
 *       With matmulnbits=true, a 4-bit weight-only Linear quantized in groups along its
 *       input dimension (power-of-two groups >= 16) becomes com.microsoft MatMulNBits.
 *       GGUF block constants (a pre-quantized model's unquantized layers) are dequantized
 *       to float constants.
 *   FakeQuant of a constant (non-scaled weights: mx6, mx9, bfp16, float16/bfloat16 casts)
 *       the fake-quantized values as a float constant.
 *   FakeQuant of an activation, static
 *       QuantizeLinear -> DequantizeLinear with the constant scale / zero point (fp8 gets
 *       a zero point of its type to select the output type). Dtypes without an ONNX type
 *       (fp4 with ort=true, fp6, int3, int2) are emulated with float ops (below).
 *   FakeQuant of an activation, dynamic
 *       uint8 per-tensor asymmetric: DynamicQuantizeLinear -> DequantizeLinear.
 *       other integers and fp8: the scale (and zero point) computed as Quark does from
 *       ReduceMax(Abs(x)) (or ReduceMin/ReduceMax), then QuantizeLinear -> DequantizeLinear
 *       (per-channel: along the channel axis).
 *       MX (per_group, e8m0 scales) and other grouped float formats: blocks of the last
 *       axis through Reshape; the block scale 2^e from the block maximum as Quark rounds it
 *       ("even": the maximum rounded to mbits+1 bits first; "floor"; "ceil"); elements
 *       rounded to the element format with float ops.
 *   FakeQuant of mx6 / mx9 / bfp16 activations: no standard equivalent; removed (the tensor
 *       stays float), and counted in quant.lowering (metadata).
 *
 * Float formats without an ONNX Runtime type are emulated exactly with standard ops:
 * |v| -> e = floor(log2 |v|) (from Log, corrected by comparing with Pow(2, e), so it is
 * exact), clamped at the format's smallest normal exponent; step = 2^(e - mbits);
 * q = min(Round(|v| / step) * step, max_normal) (Round is half to even); sign restored. */
#include "passes/internal.h"
#include "passes/quant/qpass.h"
#include "quarc/rewrite.h"
#include "runtime/k_qc.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct lctx {
  qc_graph *g;
  qc_rewriter *rw;
  int64_t opset;   /* the default domain's opset after lowering */
  bool ort, nbits;
  int64_t counter;
  int64_t dropped; /* activation quantizers with no standard equivalent */
} lctx;

/* ---- a small builder with a sticky error ----------------------------------------------------- */

typedef struct lb {
  lctx *c;
  const char *prefix;
  qc_status err;
} lb;

static qc_vid b_op(lb *b, qc_op op, int32_t n, const qc_vid *in) {
  if (b->err) return QC_NONE;
  char name[1200];
  snprintf(name, sizeof name, "%s.%s_%lld", b->prefix, qc_op_name(op), (long long)b->c->counter++);
  char *vn = qc_qunique_name(b->c->g, name);
  qc_vid v = QC_NONE;
  b->err = vn ? qc_graph_add_op(b->c->g, op, name, n, in, vn, &v) : QC_OOM();
  free(vn);
  return b->err ? QC_NONE : v;
}
static qc_vid b_1(lb *b, qc_op op, qc_vid x) { return b_op(b, op, 1, &x); }
static qc_vid b_2(lb *b, qc_op op, qc_vid x, qc_vid y) { return b_op(b, op, 2, (qc_vid[]){x, y}); }
static qc_vid b_3(lb *b, qc_op op, qc_vid x, qc_vid y, qc_vid z) {
  return b_op(b, op, z >= 0 ? 3 : 2, (qc_vid[]){x, y, z});
}

static void b_int(lb *b, qc_vid v, const char *attr, int64_t x) {
  if (!b->err && v >= 0) b->err = qc_node_set_int(b->c->g, qc_graph_value(b->c->g, v)->node, attr, x);
}
static void b_ints(lb *b, qc_vid v, const char *attr, int32_t n, const int64_t *x) {
  if (!b->err && v >= 0)
    b->err = qc_node_set_ints(b->c->g, qc_graph_value(b->c->g, v)->node, attr, n, x);
}

static qc_vid b_tensor(lb *b, const char *what, const qc_tensor *t) {
  if (b->err) return QC_NONE;
  char name[1200];
  snprintf(name, sizeof name, "%s.%s", b->prefix, what);
  qc_vid v = QC_NONE;
  b->err = qc_qadd_const(b->c->g, name, t, &v);
  return b->err ? QC_NONE : v;
}

static qc_vid b_scalar(lb *b, qc_dtype dt, double x) {
  if (b->err) return QC_NONE;
  qc_tensor t;
  b->err = qc_tensor_alloc(&t, NULL, dt, 0, NULL);
  if (b->err) return QC_NONE;
  qc_elem_set_f64(dt, qc_tensor_data(&t), 0, x, QC_ENC_SATURATE);
  qc_vid v = b_tensor(b, "c", &t);
  qc_tensor_release(&t);
  return v;
}
static qc_vid b_f32(lb *b, double x) { return b_scalar(b, QC_F32, x); }

static qc_vid b_i64s(lb *b, int32_t n, const int64_t *x) {
  if (b->err) return QC_NONE;
  qc_tensor t;
  int64_t d = n;
  b->err = qc_tensor_alloc(&t, NULL, QC_I64, 1, &d);
  if (b->err) return QC_NONE;
  memcpy(qc_tensor_data(&t), x, sizeof *x * (size_t)n);
  qc_vid v = b_tensor(b, "axes", &t);
  qc_tensor_release(&t);
  return v;
}

/* ReduceMax/ReduceMin over `axes` in the form of the graph's opset. */
static qc_vid b_reduce(lb *b, qc_op op, qc_vid x, int32_t n, const int64_t *axes, bool keep) {
  qc_vid r;
  if (b->c->opset >= 18) {
    r = b_2(b, op, x, b_i64s(b, n, axes));
  } else {
    r = b_1(b, op, x);
    b_ints(b, r, "axes", n, axes);
  }
  b_int(b, r, "keepdims", keep ? 1 : 0);
  return r;
}

static qc_vid b_cast(lb *b, qc_vid x, qc_dtype to) {
  qc_vid r = b_1(b, QC_OP_Cast, x);
  b_int(b, r, "to", qc_dtype_traits_of(to)->onnx);
  return r;
}

/* floor(log2 a) for a > 0, exactly: Log's estimate corrected by one either way. */
static qc_vid b_floor_log2(lb *b, qc_vid a) {
  qc_vid two = b_f32(b, 2.0);
  qc_vid e = b_1(b, QC_OP_Floor, b_2(b, QC_OP_Mul, b_1(b, QC_OP_Log, a), b_f32(b, 1.0 / log(2.0))));
  qc_vid p = b_2(b, QC_OP_Pow, two, e);
  qc_vid too_big = b_cast(b, b_2(b, QC_OP_Greater, p, a), QC_F32);
  qc_vid too_small = b_cast(b, b_2(b, QC_OP_LessOrEqual, b_2(b, QC_OP_Mul, p, two), a), QC_F32);
  return b_2(b, QC_OP_Add, b_2(b, QC_OP_Sub, e, too_big), too_small);
}

/* v rounded to a float format (mbits mantissa bits, smallest normal exponent emin, largest
 * value max_normal), half to even, saturating. */
static qc_vid b_round_float(lb *b, qc_vid v, int mbits, int emin, double max_normal) {
  qc_vid a = b_1(b, QC_OP_Abs, v);
  qc_vid e = b_floor_log2(b, b_op(b, QC_OP_Max, 2, (qc_vid[]){a, b_f32(b, ldexp(1.0, emin))}));
  qc_vid step = b_2(b, QC_OP_Pow, b_f32(b, 2.0), b_2(b, QC_OP_Sub, e, b_f32(b, mbits)));
  qc_vid q = b_2(b, QC_OP_Mul, b_1(b, QC_OP_Round, b_2(b, QC_OP_Div, a, step)), step);
  q = b_op(b, QC_OP_Min, 2, (qc_vid[]){q, b_f32(b, max_normal)});
  return b_2(b, QC_OP_Mul, q, b_1(b, QC_OP_Sign, v));
}

/* ---- element formats ---------------------------------------------------------------------- */

typedef struct ffmt {
  int mbits, emin, emax;
  double max_normal;
} ffmt;

static bool float_format(qc_dtype dt, ffmt *f) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  if (t->kind != QC_KIND_FLOAT || t->bits > 8 || dt == QC_E8M0) return false;
  f->mbits = t->mbits;
  f->emin = 1 - t->bias;
  f->max_normal = t->max_normal;
  f->emax = (int)floor(log2(t->max_normal));
  return true;
}

/* Whether ONNX (and, with ort, ONNX Runtime) has dt as a QuantizeLinear/DequantizeLinear
 * type; *need is the opset. */
static bool qdq_type(const lctx *c, qc_dtype dt, int64_t *need) {
  switch (dt) {
  case QC_I8: case QC_U8: *need = 13; return true;
  case QC_F8E4M3FN: case QC_F8E5M2: *need = 19; return true;
  case QC_I16: case QC_U16: case QC_I4: case QC_U4: *need = 21; return true;
  case QC_F4E2M1: *need = 23; return !c->ort;
  case QC_I32: *need = 13; return true; /* DequantizeLinear only */
  default: return false;
  }
}

/* Float element codes as exact integers: value * 2^k fits an int8 or int16. */
static bool int_codes_for(qc_dtype elem, int *k, qc_dtype *as) {
  switch (elem) {
  case QC_F4E2M1: *k = 1; *as = QC_I8; return true;   /* +-6 * 2 */
  case QC_F6E2M3: *k = 3; *as = QC_I8; return true;   /* +-7.5 * 8 */
  case QC_F6E3M2: *k = 4; *as = QC_I16; return true;  /* +-28 * 16 */
  case QC_I3: case QC_I2: *k = 0; *as = QC_I8; return true;
  case QC_U2: *k = 0; *as = QC_U8; return true;
  default: return false;
  }
}

/* ---- constants ------------------------------------------------------------------------------ */

/* Unpack OCP MX blocks along the last axis into element codes and E8M0 scales (blocked
 * layout). */
static qc_status unpack_mx(const qc_tensor *q, qc_tensor *codes, qc_tensor *scales) {
  const qc_dtype_traits *t = qc_dtype_traits_of(q->dtype);
  qc_dtype elem = t->block_elem;
  int bits = qc_dtype_traits_of(elem)->bits;
  int64_t sd[QC_MAX_RANK];
  for (int32_t d = 0; d < q->rank; d++) sd[d] = q->dims[d];
  sd[q->rank - 1] /= t->block_elems;
  QC_RETURN_IF_ERROR(qc_tensor_alloc(codes, NULL, elem, q->rank, q->dims));
  qc_status s = qc_tensor_alloc(scales, NULL, QC_E8M0, q->rank, sd);
  if (s) {
    qc_tensor_release(codes);
    return s;
  }
  int64_t nb = qc_tensor_numel(scales);
  const uint8_t *src = qc_tensor_data(q);
  uint8_t cb[32];
  for (int64_t b = 0; b < nb; b++) {
    const uint8_t *blk = src + (size_t)b * t->block_bytes;
    ((uint8_t *)qc_tensor_data(scales))[b] = blk[0];
    if (bits == 8) memcpy(cb, blk + 1, 32);
    else qc_unpack_bits(blk + 1, 32, bits, cb);
    for (int i = 0; i < 32; i++) qc_elem_set_code(elem, qc_tensor_data(codes), (size_t)(b * 32 + i), cb[i]);
  }
  return QC_OK;
}

/* codes (a float element dtype) -> exact integer codes value * 2^k. */
static qc_status to_int_codes(const qc_tensor *codes, int k, qc_dtype as, qc_tensor *out) {
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, as, codes->rank, codes->dims));
  int64_t n = qc_tensor_numel(codes);
  for (int64_t i = 0; i < n; i++) {
    double v = qc_elem_f64(codes->dtype, qc_tensor_data(codes), (size_t)i);
    qc_elem_set_f64(as, qc_tensor_data(out), (size_t)i, ldexp(v, k), 0);
  }
  return QC_OK;
}

/* scale (any float dtype, e8m0 included) * 2^-k as float32. */
static qc_status scale_f32(const qc_tensor *s, int k, qc_tensor *out) {
  QC_RETURN_IF_ERROR(qc_tensor_alloc(out, NULL, QC_F32, s->rank, s->dims));
  int64_t n = qc_tensor_numel(s);
  for (int64_t i = 0; i < n; i++)
    ((float *)qc_tensor_data(out))[i] = (float)ldexp(qc_elem_f64(s->dtype, qc_tensor_data(s), (size_t)i), -k);
  return QC_OK;
}

/* ---- DequantizePacked ---------------------------------------------------------------------- */

/* The Transpose reading v, if it is v's only reader and swaps a rank-2 tensor. */
static qc_nid sole_transpose(lctx *c, qc_vid v) {
  qc_graph *g = c->g;
  if (qc_rewriter_use_count(c->rw, v) != 1) return QC_NONE;
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead) continue;
    for (int32_t i = 0; i < nd->n_in; i++)
      if (nd->in[i] == v) {
        if (nd->op != QC_OP_Transpose || qc_graph_value(g, v)->type.rank != 2) return QC_NONE;
        const qc_attr *perm = qc_node_attr(g, n, "perm");
        if (perm && !(perm->n == 2 && perm->u.ints[0] == 1 && perm->u.ints[1] == 0)) return QC_NONE;
        return n;
      }
  }
  return QC_NONE;
}

typedef struct dq_parts {
  qc_tensor q, s, z; /* z.buf NULL: no zero point */
  int32_t axis;
  int64_t block;     /* 0: per-tensor or per-axis */
  bool per_axis;
} dq_parts;

static void dq_parts_release(dq_parts *p) {
  qc_tensor_release(&p->q);
  qc_tensor_release(&p->s);
  qc_tensor_release(&p->z);
}

/* Evaluate a value of constants and replace it by a float constant. */
static qc_status fold_to_const(lctx *c, qc_vid v) {
  qc_tensor t;
  QC_RETURN_IF_ERROR(qc_qconst_value(c->g, v, &t));
  qc_vid k;
  qc_status s = qc_graph_add_const(c->g, NULL, &t, &k);
  qc_tensor_release(&t);
  if (!s) s = qc_rewriter_replace_named(c->rw, v, k);
  if (!s) s = qc_rewriter_erase(c->rw, qc_graph_value(c->g, v)->node);
  return s;
}

/* The requirements of a DequantizePacked of constants: *need = opset, or *fold. */
static qc_status plan_dqp(const lctx *c, qc_nid n, int64_t *need, const char **why) {
  const qc_graph *g = c->g;
  const qc_node *nd = qc_graph_node(g, n);
  const qc_tensor *q = &qc_graph_value(g, nd->in[0])->cst;
  qc_dtype elem = q->dtype;
  bool blocked = qc_node_int(g, n, "group_size", 0) > 0;
  *why = qc_dtype_name(elem);
  *need = 13;
  if (qc_dtype_is_block(elem)) {
    const qc_dtype_traits *t = qc_dtype_traits_of(elem);
    if (!t->block_scale || t->block_scale != QC_E8M0) return QC_OK; /* GGUF: folded */
    elem = t->block_elem;
    blocked = true;
    if (!c->ort) *need = 24;
  }
  int k = 0;
  qc_dtype as = QC_DT_UNDEFINED;
  int64_t tn;
  if (!qdq_type(c, elem, &tn)) {
    if (!int_codes_for(elem, &k, &as) && !(c->ort && elem == QC_F8E4M3FN) && elem != QC_F8E5M2)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: %s codes have no ONNX form", qc_node_desc(g, n),
                           qc_dtype_name(elem));
    qdq_type(c, as, &tn);
  }
  if (tn > *need) *need = tn;
  if (blocked && *need < 21) *need = 21;
  if (nd->n_in > 1 && nd->in[1] >= 0) {
    qc_dtype sd = qc_graph_value(g, nd->in[1])->type.dtype;
    if ((sd == QC_F16 || sd == QC_BF16) && *need < 19) *need = 19;
  }
  return QC_OK;
}

/* The DequantizeLinear operands for DequantizePacked node n (constants). */
static qc_status dq_operands(lctx *c, qc_nid n, dq_parts *p) {
  qc_graph *g = c->g;
  const qc_node *nd = qc_graph_node(g, n);
  memset(p, 0, sizeof *p);
  const qc_tensor *q = &qc_graph_value(g, nd->in[0])->cst;
  const qc_tensor *s = nd->n_in > 1 && nd->in[1] >= 0 ? &qc_graph_value(g, nd->in[1])->cst : NULL;
  const qc_tensor *z = nd->n_in > 2 && nd->in[2] >= 0 ? &qc_graph_value(g, nd->in[2])->cst : NULL;
  qc_tensor codes, scale;
  memset(&codes, 0, sizeof codes);
  memset(&scale, 0, sizeof scale);
  int64_t axis = qc_node_int(g, n, "axis", 0);
  p->block = qc_node_int(g, n, "group_size", 0);
  if (qc_dtype_is_block(q->dtype)) {
    QC_RETURN_IF_ERROR(unpack_mx(q, &codes, &scale));
    axis = q->rank - 1;
    p->block = 32;
  } else {
    if (!s) return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: no scale", qc_node_desc(g, n));
    qc_tensor_copy_ref(&codes, q);
    qc_tensor_copy_ref(&scale, s);
    if (z) qc_tensor_copy_ref(&p->z, z);
  }
  if (axis < 0) axis += q->rank;
  p->axis = (int32_t)axis;
  p->per_axis = !p->block && scale.rank == 1 && qc_tensor_numel(&scale) > 1;
  int k = 0;
  qc_dtype as = QC_DT_UNDEFINED;
  int64_t need;
  qc_status st = QC_OK;
  bool native = qdq_type(c, codes.dtype, &need);
  if (!native && int_codes_for(codes.dtype, &k, &as)) {
    st = to_int_codes(&codes, k, as, &p->q);
    if (!st && p->z.buf) {
      qc_tensor zi;
      st = to_int_codes(&p->z, 0, as, &zi);
      qc_tensor_release(&p->z);
      p->z = zi;
    }
  } else if (!native) {
    st = qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: %s codes have no ONNX form", qc_node_desc(g, n),
                       qc_dtype_name(codes.dtype));
  } else {
    qc_tensor_copy_ref(&p->q, &codes);
  }
  /* Scales: float32 (times 2^-k), or E8M0 kept for ort=false when exact. */
  if (!st) {
    if (scale.dtype == QC_E8M0 && !c->ort && k == 0) qc_tensor_copy_ref(&p->s, &scale);
    else if (scale.dtype == QC_E8M0 && !c->ort) {
      /* 2^-k folded into the e8m0 exponent. */
      st = qc_tensor_alloc(&p->s, NULL, QC_E8M0, scale.rank, scale.dims);
      for (int64_t i = 0; !st && i < qc_tensor_numel(&scale); i++) {
        int e = ((uint8_t *)qc_tensor_data(&scale))[i];
        ((uint8_t *)qc_tensor_data(&p->s))[i] = (uint8_t)(e >= k ? e - k : 0);
      }
    } else if (k || scale.dtype != QC_F32) {
      if (scale.dtype == QC_F16 || scale.dtype == QC_BF16) {
        if (k) st = scale_f32(&scale, k, &p->s);
        else qc_tensor_copy_ref(&p->s, &scale);
      } else {
        st = scale_f32(&scale, k, &p->s);
      }
    } else {
      qc_tensor_copy_ref(&p->s, &scale);
    }
  }
  qc_tensor_release(&codes);
  qc_tensor_release(&scale);
  if (st) dq_parts_release(p);
  return st;
}

static qc_status transpose_parts(dq_parts *p) {
  qc_tensor t;
  QC_RETURN_IF_ERROR(qc_tensor_transpose2d(&p->q, &t));
  qc_tensor_release(&p->q);
  p->q = t;
  if (p->block || (!p->per_axis && p->s.rank == 2)) {
    QC_RETURN_IF_ERROR(qc_tensor_transpose2d(&p->s, &t));
    qc_tensor_release(&p->s);
    p->s = t;
    if (p->z.buf) {
      QC_RETURN_IF_ERROR(qc_tensor_transpose2d(&p->z, &t));
      qc_tensor_release(&p->z);
      p->z = t;
    }
  }
  p->axis = 1 - p->axis;
  return QC_OK;
}

/* MatMulNBits for MatMul(x, Transpose(DequantizePacked(W4))): 4-bit codes grouped along K. */
static bool nbits_fits(const lctx *c, const dq_parts *p, qc_nid mm) {
  if (!c->nbits || mm < 0) return false;
  if (p->q.dtype != QC_I4 && p->q.dtype != QC_U4) return false;
  if (!p->block || p->axis != 1 || p->q.rank != 2) return false; /* before the transpose */
  if (p->block < 16 || (p->block & (p->block - 1))) return false;
  return p->s.dtype == QC_F32;
}

static qc_status lower_nbits(lctx *c, const dq_parts *p, qc_nid mm, qc_vid x, const char *prefix) {
  qc_graph *g = c->g;
  int64_t N = p->q.dims[0], K = p->q.dims[1], bs = p->block, kb = (K + bs - 1) / bs;
  int64_t blob = bs / 2;
  lb b = {c, prefix, QC_OK};
  qc_tensor B, S, Z;
  memset(&B, 0, sizeof B);
  memset(&S, 0, sizeof S);
  memset(&Z, 0, sizeof Z);
  qc_status s = qc_tensor_alloc(&B, NULL, QC_U8, 3, (int64_t[]){N, kb, blob});
  if (!s) s = qc_tensor_alloc(&S, NULL, QC_F32, 2, (int64_t[]){N, kb});
  int64_t zb = (kb + 1) / 2;
  if (!s) s = qc_tensor_alloc(&Z, NULL, QC_U8, 2, (int64_t[]){N, zb});
  if (s) goto out;
  bool sgn = p->q.dtype == QC_I4;
  uint8_t *bd = qc_tensor_data(&B), *zd = qc_tensor_data(&Z);
  for (int64_t nn = 0; nn < N; nn++) {
    for (int64_t k = 0; k < K; k++) {
      int64_t v = qc_elem_i64(p->q.dtype, qc_tensor_data(&p->q), (size_t)(nn * K + k)) + (sgn ? 8 : 0);
      size_t byte = (size_t)(nn * kb * blob + (k / bs) * blob + (k % bs) / 2);
      bd[byte] |= (uint8_t)((v & 15) << (4 * (k & 1)));
    }
    for (int64_t j = 0; j < kb; j++) {
      ((float *)qc_tensor_data(&S))[nn * kb + j] =
          (float)qc_elem_f64(p->s.dtype, qc_tensor_data(&p->s), (size_t)(nn * kb + j));
      int64_t zv = p->z.buf ? qc_elem_i64(p->z.dtype, qc_tensor_data(&p->z), (size_t)(nn * kb + j)) : 0;
      zv += sgn ? 8 : 0;
      zd[nn * zb + j / 2] |= (uint8_t)((zv & 15) << (4 * (j & 1)));
    }
  }
  {
    qc_vid bv = b_tensor(&b, "B", &B), sv = b_tensor(&b, "scales", &S), zv = b_tensor(&b, "zero_points", &Z);
    qc_vid y = b_op(&b, QC_OP_MS_MatMulNBits, 4, (qc_vid[]){x, bv, sv, zv});
    b_int(&b, y, "K", K);
    b_int(&b, y, "N", N);
    b_int(&b, y, "bits", 4);
    b_int(&b, y, "block_size", bs);
    s = b.err;
    if (!s) s = qc_graph_set_opset(g, "com.microsoft", 1);
    if (!s) s = qc_rewriter_replace_named(c->rw, qc_graph_node(g, mm)->out[0], y);
  }
out:
  qc_tensor_release(&B);
  qc_tensor_release(&S);
  qc_tensor_release(&Z);
  return s;
}

static qc_status lower_dqp(lctx *c, qc_nid n) {
  qc_graph *g = c->g;
  const qc_node *nd = qc_graph_node(g, n);
  for (int32_t i = 0; i < nd->n_in; i++)
    if (nd->in[i] >= 0 && qc_graph_value(g, nd->in[i])->kind != QC_VALUE_CONST)
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: only constants can be lowered", qc_node_desc(g, n));
  const qc_tensor *q = &qc_graph_value(g, nd->in[0])->cst;
  if (qc_dtype_is_block(q->dtype) && qc_dtype_traits_of(q->dtype)->block_scale != QC_E8M0)
    return fold_to_const(c, nd->out[0]);
  qc_vid out = nd->out[0];
  char prefix[1200];
  snprintf(prefix, sizeof prefix, "%s", qc_graph_value(g, out)->name);
  dq_parts p;
  QC_RETURN_IF_ERROR(dq_operands(c, n, &p));
  qc_nid tr = sole_transpose(c, out);
  qc_status s = QC_OK;
  /* MatMulNBits: the Transpose feeds input 1 of a MatMul. */
  qc_nid mm = QC_NONE;
  if (tr >= 0 && c->nbits) {
    qc_vid tv = qc_graph_node(g, tr)->out[0];
    if (qc_rewriter_use_count(c->rw, tv) == 1)
      for (qc_nid m = 0; m < qc_graph_num_nodes(g) && mm < 0; m++) {
        const qc_node *md = qc_graph_node(g, m);
        if (!md->dead && md->op == QC_OP_MatMul && md->in[1] == tv) mm = m;
      }
  }
  if (mm >= 0 && nbits_fits(c, &p, mm)) {
    s = lower_nbits(c, &p, mm, qc_graph_node(g, mm)->in[0], prefix);
    dq_parts_release(&p);
    return s;
  }
  qc_vid replace = out;
  if (tr >= 0) {
    s = transpose_parts(&p);
    replace = qc_graph_node(g, tr)->out[0];
  }
  lb b = {c, prefix, s};
  qc_vid qv = b_tensor(&b, "q", &p.q), sv = b_tensor(&b, "scale", &p.s);
  qc_vid zv = p.z.buf ? b_tensor(&b, "zero_point", &p.z) : QC_NONE;
  qc_vid y = b_3(&b, QC_OP_DequantizeLinear, qv, sv, zv);
  if (p.block || p.per_axis) b_int(&b, y, "axis", p.axis);
  if (p.block) b_int(&b, y, "block_size", p.block);
  if (p.s.dtype == QC_E8M0) b_int(&b, y, "output_dtype", 1);
  qc_dtype to = qc_dtype_from_onnx((int)qc_node_int(g, n, "to", 1));
  qc_dtype got = p.s.dtype == QC_E8M0 ? QC_F32 : p.s.dtype;
  if (to != got) y = b_cast(&b, y, to);
  s = b.err;
  if (!s) s = qc_rewriter_replace_named(c->rw, replace, y);
  dq_parts_release(&p);
  return s;
}

/* ---- FakeQuant of activations -------------------------------------------------------------- */

typedef struct fq_info {
  const qc_qspecs *sp;
  const qc_qspec *s;   /* the stage that decides the form (the first) */
  qc_dtype elem;       /* element dtype (QC_DT_UNDEFINED for non-scaled) */
  bool dynamic, paramless;
  int32_t rank;
} fq_info;

static qc_status fq_info_of(const lctx *c, qc_nid n, fq_info *f) {
  const qc_graph *g = c->g;
  memset(f, 0, sizeof *f);
  QC_RETURN_IF_ERROR(qc_qattr_cached(qc_node_string(g, n, "spec", ""), qc_node_desc(g, n), &f->sp));
  f->s = &f->sp->v[0];
  f->elem = qc_qdtype_element(f->s->dtype);
  f->paramless = qc_qdtype_nonscaled(f->s->dtype);
  f->dynamic = f->s->is_dynamic == QC_QB_TRUE;
  f->rank = qc_graph_value(g, qc_graph_node(g, n)->in[0])->type.rank;
  return QC_OK;
}

/* Opset needed by an activation FakeQuant (0: dropped). */
static int64_t fq_need(const lctx *c, const fq_info *f) {
  int64_t need = 13;
  if (f->paramless) return f->s->dtype == QC_QDT_BFP16 || f->s->dtype == QC_QDT_MX6 || f->s->dtype == QC_QDT_MX9 ? 13 : 0;
  for (int32_t i = 0; i < f->sp->n; i++) {
    const qc_qspec *s = &f->sp->v[i];
    if (s->is_dynamic == QC_QB_TRUE && s->qscheme == QC_QSCHEME_PER_GROUP) continue; /* emulated */
    int64_t t;
    if (qdq_type(c, qc_qdtype_element(s->dtype), &t) && t > need) need = t;
  }
  return need;
}

/* Q -> DQ of x with scale s and zero point z (z may be QC_NONE only for uint8). */
static qc_vid b_qdq(lb *b, qc_vid x, qc_vid s, qc_vid z, int32_t axis, bool per_axis) {
  qc_vid q = b_3(b, QC_OP_QuantizeLinear, x, s, z);
  qc_vid y = b_3(b, QC_OP_DequantizeLinear, q, s, z);
  if (per_axis) {
    b_int(b, q, "axis", axis);
    b_int(b, y, "axis", axis);
  }
  return y;
}

/* A zero constant of dt shaped like scale value s (rank 0 or 1 of the same length). */
static qc_vid b_zero_like(lb *b, qc_dtype dt, const qc_type *st) {
  if (b->err) return QC_NONE;
  qc_tensor t;
  b->err = qc_tensor_alloc(&t, NULL, dt, st->rank > 0 ? st->rank : 0, st->dims);
  if (b->err) return QC_NONE;
  qc_vid v = b_tensor(b, "zero_point", &t);
  qc_tensor_release(&t);
  return v;
}

/* Integer emulation: clip(round(x / s) + z, qmin, qmax) - z) * s. */
static qc_vid b_int_emul(lb *b, qc_vid x, qc_vid s, qc_vid z, qc_dtype elem) {
  const qc_dtype_traits *t = qc_dtype_traits_of(elem);
  qc_vid zf = z >= 0 ? b_cast(b, z, QC_F32) : b_f32(b, 0);
  qc_vid q = b_2(b, QC_OP_Add, b_1(b, QC_OP_Round, b_2(b, QC_OP_Div, x, s)), zf);
  q = b_3(b, QC_OP_Clip, q, b_f32(b, (double)t->imin), b_f32(b, (double)t->imax));
  return b_2(b, QC_OP_Mul, b_2(b, QC_OP_Sub, q, zf), s);
}

static qc_status lower_fq_static(lctx *c, qc_nid n, const fq_info *f, lb *b, qc_vid *y) {
  qc_graph *g = c->g;
  const qc_node *nd = qc_graph_node(g, n);
  qc_vid x = nd->in[0], s = nd->in[1], z = nd->n_in > 2 ? nd->in[2] : QC_NONE;
  const qc_type st = qc_graph_value(g, s)->type;
  bool per_axis = st.rank == 1 && st.dims[0] != 1;
  int32_t axis = (int32_t)qc_node_int(g, n, "axis", 0);
  if (f->sp->n > 1 || st.rank > 1)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: a grouped or multi-stage static activation "
                                                "quantizer has no QDQ form", qc_node_desc(g, n));
  int64_t need;
  ffmt ff;
  if (qdq_type(c, f->elem, &need)) {
    if (z < 0) z = b_zero_like(b, f->elem, &st);
    *y = b_qdq(b, x, s, z, axis, per_axis);
  } else if (qc_dtype_is_int(f->elem)) {
    qc_vid sv = s;
    if (per_axis) { /* broadcast the 1-D scale along `axis` */
      int64_t shape[QC_MAX_RANK];
      for (int32_t d = 0; d < f->rank; d++) shape[d] = d == axis ? -1 : 1;
      sv = b_2(b, QC_OP_Reshape, s, b_i64s(b, f->rank, shape));
      if (z >= 0) z = b_2(b, QC_OP_Reshape, z, b_i64s(b, f->rank, shape));
    }
    *y = b_int_emul(b, x, sv, z, f->elem);
  } else if (float_format(f->elem, &ff)) {
    qc_vid sv = s;
    if (per_axis) {
      int64_t shape[QC_MAX_RANK];
      for (int32_t d = 0; d < f->rank; d++) shape[d] = d == axis ? -1 : 1;
      sv = b_2(b, QC_OP_Reshape, s, b_i64s(b, f->rank, shape));
    }
    *y = b_2(b, QC_OP_Mul, b_round_float(b, b_2(b, QC_OP_Div, x, sv), ff.mbits, ff.emin, ff.max_normal), sv);
  } else {
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: no ONNX form for %s", qc_node_desc(g, n),
                         qc_dtype_name(f->elem));
  }
  return b->err;
}

/* Dynamic per-tensor / per-channel integers and fp8: parameters as Quark computes them. */
static qc_status lower_fq_dynamic_uniform(lctx *c, qc_nid n, const fq_info *f, lb *b, qc_vid *y) {
  qc_graph *g = c->g;
  qc_vid x = qc_graph_node(g, n)->in[0];
  const qc_qspec *s = f->s;
  bool per_ch = s->qscheme == QC_QSCHEME_PER_CHANNEL;
  if (per_ch && f->rank < 0)
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: per-channel needs the input's rank", qc_node_desc(g, n));
  int32_t axis = 0;
  if (per_ch) axis = s->has_ch_axis ? (s->ch_axis < 0 ? s->ch_axis + f->rank : s->ch_axis) : 0;
  int64_t axes[QC_MAX_RANK];
  int32_t na = 0;
  for (int32_t d = 0; d < f->rank; d++)
    if (!per_ch || d != axis) axes[na++] = d;
  bool all = f->rank < 0 || !per_ch;
  qc_vid amax_in;
  double qmin = 0, qmax = 0;
  qc_qdtype_range(s->dtype, &qmin, &qmax);
  qc_vid scale, zp = QC_NONE;
  bool sym = s->symmetric != QC_QB_FALSE || !qc_qdtype_is_int(s->dtype);
  if (sym) {
    amax_in = b_1(b, QC_OP_Abs, x);
    qc_vid amax = all ? b_1(b, QC_OP_ReduceMax, amax_in) : b_reduce(b, QC_OP_ReduceMax, amax_in, na, axes, false);
    if (all) b_int(b, amax, "keepdims", 0);
    if (qc_qdtype_is_int(s->dtype)) {
      scale = b_2(b, QC_OP_Div, amax, b_f32(b, (qmax - qmin) / 2));
      scale = b_op(b, QC_OP_Max, 2, (qc_vid[]){scale, b_f32(b, FLT_EPSILON)});
    } else {
      scale = b_2(b, QC_OP_Div, amax, b_f32(b, qmax));
      qc_vid is0 = b_2(b, QC_OP_Equal, scale, b_f32(b, 0));
      scale = b_3(b, QC_OP_Where, is0, b_f32(b, FLT_EPSILON), scale);
    }
    /* A zero point of the element type selects QuantizeLinear's output type. */
    if (all) {
      qc_type st = qc_type_tensor(QC_F32, 0, NULL);
      zp = b_zero_like(b, f->elem, &st);
    } else {
      zp = b_cast(b, b_2(b, QC_OP_Mul, scale, b_f32(b, 0)), f->elem);
    }
  } else {
    qc_vid mn = all ? b_1(b, QC_OP_ReduceMin, x) : b_reduce(b, QC_OP_ReduceMin, x, na, axes, false);
    qc_vid mx = all ? b_1(b, QC_OP_ReduceMax, x) : b_reduce(b, QC_OP_ReduceMax, x, na, axes, false);
    if (all) {
      b_int(b, mn, "keepdims", 0);
      b_int(b, mx, "keepdims", 0);
    }
    qc_vid zero = b_f32(b, 0);
    mn = b_op(b, QC_OP_Min, 2, (qc_vid[]){mn, zero});
    mx = b_op(b, QC_OP_Max, 2, (qc_vid[]){mx, zero});
    scale = b_2(b, QC_OP_Div, b_2(b, QC_OP_Sub, mx, mn), b_f32(b, qmax - qmin));
    scale = b_op(b, QC_OP_Max, 2, (qc_vid[]){scale, b_f32(b, FLT_EPSILON)});
    qc_vid z = b_2(b, QC_OP_Sub, b_f32(b, qmin), b_1(b, QC_OP_Round, b_2(b, QC_OP_Div, mn, scale)));
    z = b_3(b, QC_OP_Clip, z, b_f32(b, qmin), b_f32(b, qmax));
    zp = b_cast(b, z, f->elem);
  }
  int64_t need;
  if (qdq_type(c, f->elem, &need)) {
    *y = b_qdq(b, x, scale, zp, axis, !all);
  } else if (qc_dtype_is_int(f->elem)) {
    qc_vid sv = scale, zv = zp;
    if (!all) {
      int64_t shape[QC_MAX_RANK];
      for (int32_t d = 0; d < f->rank; d++) shape[d] = d == axis ? -1 : 1;
      qc_vid sh = b_i64s(b, f->rank, shape);
      sv = b_2(b, QC_OP_Reshape, scale, sh);
      zv = b_2(b, QC_OP_Reshape, zp, sh);
    }
    *y = b_int_emul(b, x, sv, zv, f->elem);
  } else {
    ffmt ff;
    if (!float_format(f->elem, &ff))
      return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: no ONNX form for %s", qc_node_desc(g, n),
                           qc_dtype_name(f->elem));
    qc_vid sv = scale;
    if (!all) {
      int64_t shape[QC_MAX_RANK];
      for (int32_t d = 0; d < f->rank; d++) shape[d] = d == axis ? -1 : 1;
      sv = b_2(b, QC_OP_Reshape, scale, b_i64s(b, f->rank, shape));
    }
    *y = b_2(b, QC_OP_Mul, b_round_float(b, b_2(b, QC_OP_Div, x, sv), ff.mbits, ff.emin, ff.max_normal), sv);
  }
  return b->err;
}

/* Dynamic per-group along the last axis (MX with e8m0 scales; float32 scales). */
static qc_status lower_fq_dynamic_group(lctx *c, qc_nid n, const fq_info *f, lb *b, qc_vid *y) {
  qc_graph *g = c->g;
  qc_vid x = qc_graph_node(g, n)->in[0];
  const qc_qspec *s = f->s;
  const qc_type *xt = &qc_graph_value(g, x)->type;
  int32_t r = xt->rank;
  int32_t axis = s->has_ch_axis ? s->ch_axis : -1;
  if (r > 0 && axis < 0) axis += r;
  int64_t G = s->has_group_size ? s->group_size : 0;
  if (r <= 0 || axis != r - 1 || G <= 0 || !qc_dim_is_static(xt->dims[r - 1]) || xt->dims[r - 1] % G)
    return qc_status_new(QC_CODE_UNIMPLEMENTED,
                         "%s: dynamic groups are lowered along a last axis of known size divisible "
                         "by the group size",
                         qc_node_desc(g, n));
  ffmt ff;
  bool flt = float_format(f->elem, &ff);
  if (!flt && !qc_dtype_is_int(f->elem))
    return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: no ONNX form for %s", qc_node_desc(g, n),
                         qc_dtype_name(f->elem));
  /* A second, static stage quantizes the block scales (NVFP4: fp8 e4m3 per tensor). */
  const qc_qspec *s2 = NULL;
  qc_vid s2v = qc_graph_node(g, n)->n_in > 1 ? qc_graph_node(g, n)->in[1] : QC_NONE;
  if (f->sp->n > 1) {
    s2 = &f->sp->v[1];
    qc_dtype e2 = qc_qdtype_element(s2->dtype);
    int64_t t;
    if (f->sp->n > 2 || !s2->is_scale_quant || s2->qscheme != QC_QSCHEME_PER_TENSOR ||
        s2->is_dynamic == QC_QB_TRUE || s2v < 0 || !qdq_type(c, e2, &t))
      return qc_status_new(QC_CODE_UNIMPLEMENTED,
                           "%s: of two-stage dynamic activations, only block scales quantized per "
                           "tensor with a static scale are lowered",
                           qc_node_desc(g, n));
  }
  int64_t shape[QC_MAX_RANK + 1];
  for (int32_t d = 0; d < r - 1; d++) shape[d] = 0;
  shape[r - 1] = xt->dims[r - 1] / G;
  shape[r] = G;
  qc_vid xb = b_2(b, QC_OP_Reshape, x, b_i64s(b, r + 1, shape));
  int64_t last = r;
  qc_vid amax = b_reduce(b, QC_OP_ReduceMax, b_1(b, QC_OP_Abs, xb), 1, &last, true);
  qc_vid scale;
  if (s->scale_format == QC_QSCALE_FORMAT_E8M0 || s->scale_type == QC_QSCALE_TYPE_POF2) {
    int mbits = flt ? ff.mbits : 8, emax = flt ? ff.emax : 0;
    qc_vid a = b_op(b, QC_OP_Max, 2, (qc_vid[]){amax, b_f32(b, ldexp(1.0, -126))});
    qc_vid e = b_floor_log2(b, a);
    qc_vid two = b_f32(b, 2.0);
    qc_vid m = b_2(b, QC_OP_Div, a, b_2(b, QC_OP_Pow, two, e));
    qc_qscale_mode mode = s->scale_calculation_mode ? s->scale_calculation_mode : QC_QSCALE_MODE_EVEN;
    if (mode == QC_QSCALE_MODE_EVEN) {
      qc_vid up = b_2(b, QC_OP_GreaterOrEqual, m, b_f32(b, 2.0 - ldexp(1.0, -(mbits + 1))));
      e = b_2(b, QC_OP_Add, e, b_cast(b, up, QC_F32));
    } else if (mode == QC_QSCALE_MODE_CEIL) {
      e = b_2(b, QC_OP_Add, e, b_cast(b, b_2(b, QC_OP_Greater, m, b_f32(b, 1.0)), QC_F32));
    }
    e = b_3(b, QC_OP_Clip, b_2(b, QC_OP_Sub, e, b_f32(b, emax)), b_f32(b, -127), b_f32(b, 127));
    scale = b_2(b, QC_OP_Pow, two, e);
  } else {
    double qmin = 0, qmax = 1;
    qc_qdtype_range(s->dtype, &qmin, &qmax);
    scale = b_2(b, QC_OP_Div, amax, b_f32(b, qc_qdtype_is_int(s->dtype) ? (qmax - qmin) / 2 : qmax));
    if (s2) { /* the block scales, fake-quantized by the second stage */
      qc_type st = qc_type_tensor(QC_F32, 0, NULL);
      qc_vid z2 = b_zero_like(b, qc_qdtype_element(s2->dtype), &st);
      scale = b_qdq(b, scale, s2v, z2, 0, false);
    }
    /* Quark replaces a zero block scale by float32's eps before dividing. */
    qc_vid is0 = b_2(b, QC_OP_Equal, scale, b_f32(b, 0));
    scale = b_3(b, QC_OP_Where, is0, b_f32(b, FLT_EPSILON), scale);
  }
  qc_vid v = b_2(b, QC_OP_Div, xb, scale), q;
  if (flt) {
    q = b_round_float(b, v, ff.mbits, ff.emin, ff.max_normal);
  } else {
    const qc_dtype_traits *t = qc_dtype_traits_of(f->elem);
    q = b_3(b, QC_OP_Clip, b_1(b, QC_OP_Round, v), b_f32(b, (double)t->imin), b_f32(b, (double)t->imax));
  }
  *y = b_2(b, QC_OP_Reshape, b_2(b, QC_OP_Mul, q, scale), b_1(b, QC_OP_Shape, x));
  return b->err;
}

/* Non-scaled block formats (Quark's nonscaled_fake): bfp16 (blocks of 8, 2^(floor(log2 amax)
 * - 6) scales, int8 elements, one doubling when an element would round to 128) and
 * mx6/mx9 (a shared exponent per block, one bit of it shifted off for pairs of elements
 * that are both at least 2x below the block maximum, 5/8-bit elements). Blocks run along the
 * last axis. */
static qc_status lower_fq_nonscaled(lctx *c, qc_nid n, const fq_info *f, lb *b, qc_vid *y) {
  qc_graph *g = c->g;
  qc_vid x = qc_graph_node(g, n)->in[0];
  const qc_qspec *s = f->s;
  const qc_type *xt = &qc_graph_value(g, x)->type;
  int32_t r = xt->rank, axis = s->has_ch_axis ? s->ch_axis : -1;
  if (r > 0 && axis < 0) axis += r;
  int64_t bs = s->dtype == QC_QDT_BFP16 ? 8 : (s->has_group_size ? s->group_size : 0);
  bool mx69 = s->dtype == QC_QDT_MX6 || s->dtype == QC_QDT_MX9;
  if ((s->dtype != QC_QDT_BFP16 && !mx69) || f->sp->n != 1 || r <= 0 || axis != r - 1 || bs <= 0 ||
      (mx69 && bs % 2) || !qc_dim_is_static(xt->dims[r - 1]) || xt->dims[r - 1] % bs)
    return QC_OK; /* *y stays QC_NONE: not expressible here */
  int64_t shape[QC_MAX_RANK + 2];
  int32_t rr = 0;
  for (int32_t d = 0; d < r - 1; d++) shape[rr++] = 0;
  shape[rr++] = xt->dims[r - 1] / bs;
  if (mx69) {
    shape[rr++] = bs / 2;
    shape[rr++] = 2;
  } else {
    shape[rr++] = bs;
  }
  qc_vid xb = b_2(b, QC_OP_Reshape, x, b_i64s(b, rr, shape));
  qc_vid two = b_f32(b, 2.0), q;
  if (!mx69) {
    int64_t last = rr - 1;
    qc_vid amax = b_reduce(b, QC_OP_ReduceMax, b_1(b, QC_OP_Abs, xb), 1, &last, true);
    qc_vid e = b_floor_log2(b, b_op(b, QC_OP_Max, 2, (qc_vid[]){amax, b_f32(b, ldexp(1.0, -126))}));
    qc_vid t = b_2(b, QC_OP_Sub, e, b_f32(b, 6));
    qc_vid r0 = b_1(b, QC_OP_Round, b_2(b, QC_OP_Div, xb, b_2(b, QC_OP_Pow, two, t)));
    qc_vid over = b_reduce(b, QC_OP_ReduceMax, r0, 1, &last, true);
    t = b_2(b, QC_OP_Add, t, b_cast(b, b_2(b, QC_OP_GreaterOrEqual, over, b_f32(b, 128)), QC_F32));
    qc_vid sc = b_2(b, QC_OP_Pow, two, t);
    q = b_2(b, QC_OP_Mul, b_3(b, QC_OP_Clip, b_1(b, QC_OP_Round, b_2(b, QC_OP_Div, xb, sc)),
                                b_f32(b, -128), b_f32(b, 127)), sc);
  } else {
    int qbit = s->dtype == QC_QDT_MX6 ? 5 : 8;
    double qm = (double)((1 << (qbit - 1)) - 1);
    qc_vid a = b_1(b, QC_OP_Abs, xb);
    /* Quark flushes values below the smallest normal to zero first. */
    qc_vid fx = b_3(b, QC_OP_Where, b_2(b, QC_OP_Less, a, b_f32(b, ldexp(1.0, -126))), b_f32(b, 0), xb);
    a = b_1(b, QC_OP_Abs, fx);
    int64_t last2[2] = {rr - 2, rr - 1}, last = rr - 1;
    qc_vid tiny = b_f32(b, ldexp(1.0, -127)); /* a zero's exponent field reads -127 */
    qc_vid emax = b_floor_log2(b, b_op(b, QC_OP_Max, 2, (qc_vid[]){b_reduce(b, QC_OP_ReduceMax, a, 2, last2, true), tiny}));
    qc_vid ee = b_floor_log2(b, b_op(b, QC_OP_Max, 2, (qc_vid[]){a, tiny}));
    qc_vid ok = b_cast(b, b_2(b, QC_OP_GreaterOrEqual, b_2(b, QC_OP_Sub, emax, ee), b_f32(b, 1)), QC_F32);
    qc_vid shift = b_reduce(b, QC_OP_ReduceMin, ok, 1, &last, true);
    qc_vid sc = b_2(b, QC_OP_Pow, two, b_2(b, QC_OP_Add, b_2(b, QC_OP_Sub, emax, shift), b_f32(b, 2 - qbit)));
    q = b_2(b, QC_OP_Mul, b_3(b, QC_OP_Clip, b_1(b, QC_OP_Round, b_2(b, QC_OP_Div, fx, sc)),
                                b_f32(b, -qm), b_f32(b, qm)), sc);
  }
  *y = b_2(b, QC_OP_Reshape, q, b_1(b, QC_OP_Shape, x));
  return b->err;
}

static qc_status lower_fq(lctx *c, qc_nid n) {
  qc_graph *g = c->g;
  const qc_node *nd = qc_graph_node(g, n);
  qc_vid x = nd->in[0], out = nd->out[0];
  bool all_const = true;
  for (int32_t i = 0; i < nd->n_in; i++)
    if (nd->in[i] >= 0 && !qc_qvalue_is_constlike(g, nd->in[i])) all_const = false;
  if (all_const) return fold_to_const(c, out);
  fq_info f;
  QC_RETURN_IF_ERROR(fq_info_of(c, n, &f));
  char prefix[1200];
  snprintf(prefix, sizeof prefix, "%s", nd->name && *nd->name ? nd->name : qc_graph_value(g, out)->name);
  lb b = {c, prefix, QC_OK};
  qc_vid y = QC_NONE;
  qc_status s;
  if (f.paramless) {
    s = lower_fq_nonscaled(c, n, &f, &b, &y);
    if (!s && y < 0) {
      c->dropped++;
      y = x;
    }
  } else if (!f.dynamic) {
    s = lower_fq_static(c, n, &f, &b, &y);
  } else if (f.s->qscheme == QC_QSCHEME_PER_GROUP) {
    s = lower_fq_dynamic_group(c, n, &f, &b, &y);
  } else if (f.sp->n == 1 && f.elem == QC_U8 && f.s->qscheme == QC_QSCHEME_PER_TENSOR &&
             f.s->symmetric == QC_QB_FALSE && f.s->zero_point_type != QC_QZP_FLOAT32) {
    qc_nid dn;
    const char *outs[3] = {NULL, NULL, NULL};
    char name[1300];
    snprintf(name, sizeof name, "%s.DynamicQuantizeLinear", prefix);
    s = qc_graph_add_node(g, QC_OP_DynamicQuantizeLinear, name, 1, &x, 3, outs, &dn);
    if (!s) {
      const qc_node *d = qc_graph_node(g, dn);
      qc_vid q = d->out[0], sc = d->out[1], zp = d->out[2];
      y = b_3(&b, QC_OP_DequantizeLinear, q, sc, zp);
      s = b.err;
    }
  } else {
    s = lower_fq_dynamic_uniform(c, n, &f, &b, &y);
  }
  if (!s) s = y == x ? qc_rewriter_replace(c->rw, out, y) : qc_rewriter_replace_named(c->rw, out, y);
  if (!s) s = qc_rewriter_erase(c->rw, n);
  return s;
}

/* ---- the pass ---------------------------------------------------------------------------- */

/* Two-stage scales (NVFP4 weights: DequantizePacked(q, DequantizePacked(codes, scale_2)))
 * become one float constant: DequantizeLinear takes a constant scale, and the product is
 * what the inner node computes. */
static qc_status fold_scale_stages(qc_graph *g) {
  qc_rewriter *rw;
  QC_RETURN_IF_ERROR(qc_rewriter_begin(g, &rw));
  qc_status s = QC_OK;
  int32_t nn = qc_graph_num_nodes(g);
  for (qc_nid n = 0; n < nn && !s; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead || nd->op != QC_OP_Q_DequantizePacked || nd->n_in < 2 || nd->in[1] < 0) continue;
    qc_vid sv = nd->in[1];
    const qc_value *val = qc_graph_value(g, sv);
    if (val->kind == QC_VALUE_CONST || !qc_qvalue_is_constlike(g, sv)) continue;
    qc_tensor t;
    qc_vid cv;
    char base[1200];
    snprintf(base, sizeof base, "%s", val->name ? val->name : "scale");
    s = qc_qconst_value(g, sv, &t);
    if (s) break;
    s = qc_qadd_const(g, base, &t, &cv);
    qc_tensor_release(&t);
    if (!s) s = qc_rewriter_set_input(rw, n, 1, cv);
  }
  if (s) {
    qc_rewriter_abort(rw);
    return s;
  }
  return qc_rewriter_finish(rw);
}

static qc_status run_lower(qc_graph *g, const qc_pass_args *a, void *user) {
  (void)user;
  QC_RETURN_IF_ERROR(fold_scale_stages(g));
  lctx c;
  memset(&c, 0, sizeof c);
  c.g = g;
  c.ort = qc_pass_arg_bool(a, "ort");
  c.nbits = qc_pass_arg_bool(a, "matmulnbits");
  int64_t want = qc_pass_arg_int(a, "opset");
  /* Plan: the opset every lowered node needs. */
  int64_t need = 0;
  bool work = false;
  const char *why = NULL;
  char whybuf[1400];
  for (qc_nid n = 0; n < qc_graph_num_nodes(g); n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead) continue;
    int64_t k = 0;
    const char *w = NULL;
    if (nd->op == QC_OP_Q_Observe)
      return qc_status_new(QC_CODE_INVALID_ARGUMENT, "%s: observers are not lowered: run freeze first",
                           qc_node_desc(g, n));
    if (nd->op == QC_OP_Q_DequantizePacked || nd->op == QC_OP_Q_FakeQuant) work = true;
    if (nd->op == QC_OP_Q_DequantizePacked) {
      bool consts = true;
      for (int32_t i = 0; i < nd->n_in; i++)
        if (nd->in[i] >= 0 && qc_graph_value(g, nd->in[i])->kind != QC_VALUE_CONST) consts = false;
      if (!consts)
        return qc_status_new(QC_CODE_UNIMPLEMENTED, "%s: only constants can be lowered",
                             qc_node_desc(g, n));
      QC_RETURN_IF_ERROR(plan_dqp(&c, n, &k, &w));
    } else if (nd->op == QC_OP_Q_FakeQuant) {
      bool consts = true;
      for (int32_t i = 0; i < nd->n_in; i++)
        if (nd->in[i] >= 0 && !qc_qvalue_is_constlike(g, nd->in[i])) consts = false;
      if (consts) continue;
      fq_info f;
      QC_RETURN_IF_ERROR(fq_info_of(&c, n, &f));
      k = fq_need(&c, &f);
      w = qc_qdtype_name(f.s->dtype);
    }
    if (k > need) {
      need = k;
      snprintf(whybuf, sizeof whybuf, "'%s' (%s %s)", qc_graph_value(g, nd->out[0])->name,
               qc_op_name(nd->op), w ? w : "?");
      why = whybuf;
    }
  }
  if (!work) return QC_OK; /* nothing quantized */
  if (want > 0 && want < need)
    return qc_status_new(QC_CODE_INVALID_ARGUMENT, "opset %lld cannot express %s: it needs opset %lld",
                         (long long)want, why, (long long)need);
  int64_t cur = qc_graph_opset(g, "");
  c.opset = cur > need ? cur : need;
  if (want > c.opset) c.opset = want;
  QC_RETURN_IF_ERROR(qc_graph_set_opset(g, "", c.opset));
  QC_RETURN_IF_ERROR(qc_rewriter_begin(g, &c.rw));
  qc_status s = QC_OK;
  int32_t nn = qc_graph_num_nodes(g);
  for (qc_nid n = 0; n < nn && !s; n++) {
    const qc_node *nd = qc_graph_node(g, n);
    if (nd->dead) continue;
    if (nd->op == QC_OP_Q_DequantizePacked) s = lower_dqp(&c, n);
    else if (nd->op == QC_OP_Q_FakeQuant) s = lower_fq(&c, n);
  }
  if (s) {
    qc_rewriter_abort(c.rw);
    return s;
  }
  QC_RETURN_IF_ERROR(qc_rewriter_finish(c.rw));
  if (c.dropped) {
    char v[64];
    snprintf(v, sizeof v, "%lld activation quantizers without a standard form were removed",
             (long long)c.dropped);
    QC_RETURN_IF_ERROR(qc_graph_set_meta(g, "quant.lowering", v));
  }
  return qc_graph_infer_types(g);
}

static const qc_pass_option OPTIONS[] = {
    {"opset", QC_OPT_INT, "0", "the default-domain opset to write (0: the lowest that works)"},
    {"ort", QC_OPT_BOOL, "true", "only types ONNX Runtime's CPU kernels implement (fp4/MX as int codes)"},
    {"matmulnbits", QC_OPT_BOOL, "false", "4-bit weight-only Linears as com.microsoft MatMulNBits"},
};
const qc_pass_info qc_pass_lower_qdq = {
    "lower-qdq", "quarc quantization ops -> standard ONNX QuantizeLinear/DequantizeLinear",
    OPTIONS, 3, run_lower, NULL};
