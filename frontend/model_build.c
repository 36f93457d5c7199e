/*
 * Forward graphs of the supported model families from a config and named weights.
 *
 * Conventions (see quarc/models.h): standard ONNX ops at opset 23; HF weight names on
 * constants; the node computing module M is named M; a Linear is MatMul(x, W^T) with
 * the transpose as its own node "M.weight_t" over the weight in HF layout (GPT-2's
 * Conv1D weights are already [in, out]); compute in f32 (other weight dtypes get a Cast
 * after the transpose, which the interpreter evaluates once).
 */
#include "quarc/models.h"

#include "ir/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct B {
  qc_graph *g;
  const qc_weight_source *w;
  const qc_model_config *c;
  qc_status err;
  int64_t max_seq;
  bool kv;
} B;

/* Formats into the caller's `nm` buffer: at most one NAME() per full expression, since
 * the order in which call arguments are evaluated is unspecified. */
#define NAME(...) (snprintf(nm, sizeof nm, __VA_ARGS__), nm)

static bool ok(const B *b) { return b->err == QC_OK; }

static void set_err(B *b, qc_status s) {
  if (!b->err) b->err = s;
  else qc_status_free(s);
}

/* A node with n inputs and one output value named like the node (or out_name). */
static qc_vid op(B *b, qc_op o, const char *node, const char *out_name, int n, const qc_vid *in) {
  if (!ok(b)) return QC_NONE;
  for (int i = 0; i < n; i++)
    if (in[i] == QC_NONE && i == 0) return QC_NONE;
  qc_vid v;
  const char *oname = out_name ? out_name : node;
  /* Value names must be unique; nodes may repeat a name only by mistake, so suffix. */
  char buf[512];
  if (oname && qc_graph_find(b->g, oname) >= 0) {
    snprintf(buf, sizeof buf, "%s:out", oname);
    oname = buf;
  }
  qc_status s = qc_graph_add_op(b->g, o, node, n, in, oname, &v);
  if (s) {
    set_err(b, s);
    return QC_NONE;
  }
  return v;
}

static qc_vid op1(B *b, qc_op o, const char *node, qc_vid a) { return op(b, o, node, NULL, 1, &a); }
static qc_vid op2(B *b, qc_op o, const char *node, qc_vid a, qc_vid c) {
  qc_vid in[2] = {a, c};
  return op(b, o, node, NULL, 2, in);
}

static qc_nid node_of(B *b, qc_vid v) {
  const qc_value *val = qc_graph_value(b->g, v);
  return val ? val->node : QC_NONE;
}

static void attr_i(B *b, qc_vid v, const char *name, int64_t x) {
  if (ok(b) && v != QC_NONE) {
    qc_status s = qc_node_set_int(b->g, node_of(b, v), name, x);
    if (s) set_err(b, s);
  }
}
static void attr_f(B *b, qc_vid v, const char *name, double x) {
  if (ok(b) && v != QC_NONE) {
    qc_status s = qc_node_set_float(b->g, node_of(b, v), name, x);
    if (s) set_err(b, s);
  }
}
static void attr_s(B *b, qc_vid v, const char *name, const char *x) {
  if (ok(b) && v != QC_NONE) {
    qc_status s = qc_node_set_string(b->g, node_of(b, v), name, x);
    if (s) set_err(b, s);
  }
}
static void attr_ints(B *b, qc_vid v, const char *name, int n, const int64_t *x) {
  if (ok(b) && v != QC_NONE) {
    qc_status s = qc_node_set_ints(b->g, node_of(b, v), name, n, x);
    if (s) set_err(b, s);
  }
}

/* A constant made from host data. */
static qc_vid cst(B *b, const char *name, qc_dtype dt, int rank, const int64_t *dims,
                  const void *data) {
  if (!ok(b)) return QC_NONE;
  qc_tensor t;
  qc_status s = qc_tensor_alloc(&t, qc_graph_allocator(b->g), dt, rank, dims);
  if (s) {
    set_err(b, s);
    return QC_NONE;
  }
  memcpy(qc_tensor_data(&t), data, qc_tensor_nbytes(&t));
  qc_vid v;
  s = qc_graph_add_const(b->g, name, &t, &v);
  qc_tensor_release(&t);
  if (s) {
    set_err(b, s);
    return QC_NONE;
  }
  return v;
}

static qc_vid cst_i64(B *b, const char *name, int n, const int64_t *v) {
  int64_t d = n;
  return cst(b, name, QC_I64, 1, &d, v);
}
static qc_vid scalar_i64(B *b, const char *name, int64_t x) { return cst(b, name, QC_I64, 0, NULL, &x); }
static qc_vid scalar_f32(B *b, const char *name, float x) { return cst(b, name, QC_F32, 0, NULL, &x); }

/* Weight by HF name; `optional` weights may be absent (returns QC_NONE, no error). The
 * same name is added once and reused (tied embeddings). */
static qc_vid weight(B *b, const char *name, bool optional) {
  if (!ok(b)) return QC_NONE;
  qc_vid v = qc_graph_find(b->g, name);
  if (v >= 0) return v;
  qc_tensor t;
  qc_status s = b->w->get(b->w->ctx, name, &t);
  if (s) {
    if (optional && qc_status_code(s) == QC_CODE_NOT_FOUND) {
      qc_status_free(s);
      return QC_NONE;
    }
    set_err(b, s);
    return QC_NONE;
  }
  s = qc_graph_add_const(b->g, name, &t, &v);
  qc_tensor_release(&t);
  if (s) {
    set_err(b, s);
    return QC_NONE;
  }
  return v;
}

static qc_dtype vdtype(B *b, qc_vid v) {
  const qc_value *val = qc_graph_value(b->g, v);
  return val ? val->type.dtype : QC_DT_UNDEFINED;
}

/* f32 view of a weight-like value (a Cast node when needed). */
static qc_vid as_f32(B *b, qc_vid v, const char *node) {
  if (!ok(b) || vdtype(b, v) == QC_F32) return v;
  qc_vid c = op1(b, QC_OP_Cast, node, v);
  attr_i(b, c, "to", 1);
  return c;
}

/* y = x W^T (+ bias) for an HF Linear `mod` ([out, in] weight); `conv1d` weights are
 * [in, out] (GPT-2). */
static qc_vid linear(B *b, qc_vid x, const char *mod, bool bias, bool conv1d) {
  char nm[512], wn[512];
  snprintf(wn, sizeof wn, "%s.weight", mod);
  qc_vid w = weight(b, wn, false);
  if (!conv1d) {
    w = op1(b, QC_OP_Transpose, NAME("%s.weight_t", mod), w);
    attr_ints(b, w, "perm", 2, (int64_t[]){1, 0});
  }
  w = as_f32(b, w, NAME("%s.weight_f32", mod));
  qc_vid y = op2(b, QC_OP_MatMul, mod, x, w);
  if (bias) {
    qc_vid bv = weight(b, NAME("%s.bias", mod), true);
    if (bv != QC_NONE) {
      bv = as_f32(b, bv, NAME("%s.bias_f32", mod));
      y = op2(b, QC_OP_Add, NAME("%s.bias_add", mod), y, bv);
    }
  }
  return y;
}

static qc_vid rms_norm(B *b, qc_vid x, const char *mod, double eps) {
  char nm[512];
  qc_vid w = weight(b, NAME("%s.weight", mod), false);
  w = as_f32(b, w, NAME("%s.weight_f32", mod));
  qc_vid y = op2(b, QC_OP_RMSNormalization, mod, x, w);
  attr_i(b, y, "axis", -1);
  attr_f(b, y, "epsilon", eps);
  return y;
}

static qc_vid layer_norm(B *b, qc_vid x, const char *mod, double eps) {
  char nm[512];
  qc_vid w = weight(b, NAME("%s.weight", mod), false);
  w = as_f32(b, w, NAME("%s.weight_f32", mod));
  qc_vid bias = weight(b, NAME("%s.bias", mod), true);
  qc_vid in[3] = {x, w, bias == QC_NONE ? QC_NONE : as_f32(b, bias, NAME("%s.bias_f32", mod))};
  qc_vid y = op(b, QC_OP_LayerNormalization, mod, NULL, bias == QC_NONE ? 2 : 3, in);
  attr_i(b, y, "axis", -1);
  attr_f(b, y, "epsilon", eps);
  return y;
}

static qc_vid activation(B *b, qc_vid x, const char *node, qc_act a) {
  char nm[512];
  switch (a) {
  case QC_ACT_SILU: {
    qc_vid s = op1(b, QC_OP_Sigmoid, NAME("%s.sigmoid", node), x);
    return op2(b, QC_OP_Mul, node, x, s);
  }
  case QC_ACT_GELU: return op1(b, QC_OP_Gelu, node, x);
  case QC_ACT_GELU_TANH: {
    qc_vid y = op1(b, QC_OP_Gelu, node, x);
    attr_s(b, y, "approximate", "tanh");
    return y;
  }
  case QC_ACT_RELU: return op1(b, QC_OP_Relu, node, x);
  }
  return QC_NONE;
}

/* dims [d0, d1, ...] as an i64 constant named `name` (reused if it exists). */
static qc_vid shape_const(B *b, const char *name, int n, const int64_t *d) {
  qc_vid v = qc_graph_find(b->g, name);
  return v >= 0 ? v : cst_i64(b, name, n, d);
}

/* ---- positions ---------------------------------------------------------------------------- */

typedef struct positions {
  qc_vid seq_len;  /* i64 scalar S */
  qc_vid past_len; /* i64 scalar P (0 constant without a cache) */
  qc_vid ids;      /* i64 [batch, S]: P .. P+S-1 */
  qc_vid mask;     /* bool [S, P+S] causal mask (cache only), else QC_NONE */
  qc_vid window;   /* bool [S, P+S] causal sliding-window mask (config.sliding_window), or QC_NONE */
} positions;

static positions make_positions(B *b, qc_vid input_ids, qc_vid past_key0, int64_t offset) {
  positions p = {QC_NONE, QC_NONE, QC_NONE, QC_NONE, QC_NONE};
  qc_vid shp = op1(b, QC_OP_Shape, "positions.input_shape", input_ids);
  qc_vid s1 = op1(b, QC_OP_Shape, "positions.seq_len_1d", input_ids);
  attr_i(b, s1, "start", 1);
  attr_i(b, s1, "end", 2);
  p.seq_len = op1(b, QC_OP_Squeeze, "positions.seq_len", s1);
  if (past_key0 != QC_NONE) {
    qc_vid p1 = op1(b, QC_OP_Shape, "positions.past_len_1d", past_key0);
    attr_i(b, p1, "start", 2);
    attr_i(b, p1, "end", 3);
    p.past_len = op1(b, QC_OP_Squeeze, "positions.past_len", p1);
  }
  qc_vid zero = scalar_i64(b, "positions.zero", 0);
  if (past_key0 == QC_NONE) p.past_len = zero;
  qc_vid one = scalar_i64(b, "positions.one", 1);
  qc_vid end = op2(b, QC_OP_Add, "positions.end", p.past_len, p.seq_len);
  qc_vid r = op(b, QC_OP_Range, "positions.range", NULL, 3, (qc_vid[]){p.past_len, end, one});
  /* the offset is added after the Range, whose length shape inference then knows (seq) */
  if (offset) r = op2(b, QC_OP_Add, "positions.offset_range", r, scalar_i64(b, "positions.offset", offset));
  qc_vid r2 = op2(b, QC_OP_Unsqueeze, "positions.range_2d", r, shape_const(b, "positions.axis0", 1, (int64_t[]){0}));
  p.ids = op2(b, QC_OP_Expand, "position_ids", r2, shp);
  int64_t window = b->c->sliding_window;
  if (past_key0 != QC_NONE || window > 0) {
    /* allowed[i][j] = j <= P + i (and j > P + i - window) */
    qc_vid qi = op(b, QC_OP_Range, "mask.rows", NULL, 3, (qc_vid[]){zero, p.seq_len, one});
    qc_vid qi2 = op2(b, QC_OP_Unsqueeze, "mask.rows_2d", qi, shape_const(b, "positions.axis1", 1, (int64_t[]){1}));
    qc_vid lim = op2(b, QC_OP_Add, "mask.limit", qi2, p.past_len);
    qc_vid total = op2(b, QC_OP_Add, "mask.total", p.past_len, p.seq_len);
    qc_vid kj = op(b, QC_OP_Range, "mask.cols", NULL, 3, (qc_vid[]){zero, total, one});
    qc_vid causal = op2(b, QC_OP_LessOrEqual, "attention_mask.causal", kj, lim);
    if (past_key0 != QC_NONE) p.mask = causal;
    if (window > 0) {
      qc_vid low = op2(b, QC_OP_Sub, "mask.window_start", lim, scalar_i64(b, "mask.window", window));
      qc_vid in_window = op2(b, QC_OP_Greater, "mask.in_window", kj, low);
      p.window = op2(b, QC_OP_And, "attention_mask.sliding_window", causal, in_window);
    }
  }
  return p;
}

/* cos/sin tables [max_seq, rot/2] for RotaryEmbedding, in float32 as HF computes them. */
static void rope_tables(B *b, int64_t rot, qc_vid *cosv, qc_vid *sinv) {
  const qc_model_config *c = b->c;
  int64_t half = rot / 2, n = b->max_seq;
  float *inv = malloc(sizeof(float) * (size_t)half);
  float *cs = malloc(sizeof(float) * (size_t)(n * half)), *sn = malloc(sizeof(float) * (size_t)(n * half));
  if (!inv || !cs || !sn) {
    set_err(b, QC_OOM());
    free(inv);
    free(cs);
    free(sn);
    return;
  }
  for (int64_t i = 0; i < half; i++) {
    float e = (float)(2 * i) / (float)rot;
    inv[i] = 1.0f / powf((float)c->rope_theta, e);
    if (!strcmp(c->rope_type, "linear")) inv[i] /= (float)c->rope_factor;
    if (!strcmp(c->rope_type, "llama3")) {
      /* Llama 3.1 frequency scaling (transformers' _compute_llama3_parameters). */
      double lf = c->rope_low_freq_factor, hf = c->rope_high_freq_factor, f = c->rope_factor;
      double om = (double)c->rope_original_max_positions;
      double low_wl = om / lf, high_wl = om / hf, wl = 2 * M_PI / inv[i];
      if (wl > low_wl) inv[i] = (float)(inv[i] / f);
      else if (wl >= high_wl) {
        double smooth = (om / wl - lf) / (hf - lf);
        inv[i] = (float)((1 - smooth) * inv[i] / f + smooth * inv[i]);
      }
    }
  }
  for (int64_t p = 0; p < n; p++)
    for (int64_t i = 0; i < half; i++) {
      float fr = (float)p * inv[i];
      cs[p * half + i] = cosf(fr);
      sn[p * half + i] = sinf(fr);
    }
  int64_t d[2] = {n, half};
  *cosv = cst(b, "rotary_emb.cos_cache", QC_F32, 2, d, cs);
  *sinv = cst(b, "rotary_emb.sin_cache", QC_F32, 2, d, sn);
  free(inv);
  free(cs);
  free(sn);
}

/* ---- decoder LMs ---------------------------------------------------------------------------- */

typedef struct kv_io {
  qc_vid past_k, past_v; /* inputs (QC_NONE without a cache) */
} kv_io;

static qc_status add_kv_inputs(B *b, kv_io *kv) {
  const qc_model_config *c = b->c;
  for (int64_t i = 0; i < c->num_layers; i++) {
    char name[128];
    int64_t d[4] = {qc_graph_sym(b->g, "batch"), c->num_kv_heads, qc_graph_sym(b->g, "past"), c->head_dim};
    qc_type t = qc_type_tensor(QC_F32, 4, d);
    snprintf(name, sizeof name, "past_key_values.%lld.key", (long long)i);
    QC_RETURN_IF_ERROR(qc_graph_add_input(b->g, name, &t, &kv[i].past_k));
    snprintf(name, sizeof name, "past_key_values.%lld.value", (long long)i);
    QC_RETURN_IF_ERROR(qc_graph_add_input(b->g, name, &t, &kv[i].past_v));
  }
  return QC_OK;
}

/* Attention over 3-D q/k/v [B, S, heads*D]; returns Y [B, S, H*D]. `mask` (bool, true =
 * attend) may be QC_NONE: then `causal` sets is_causal. With a cache the mask is required
 * (is_causal does not say how the query rows align with past positions). */
static qc_vid attention(B *b, const char *mod, qc_vid q, qc_vid k, qc_vid v, const kv_io *kv,
                        int64_t layer, qc_vid *present_k, qc_vid *present_v, qc_vid mask,
                        bool causal) {
  char nm[512], o1[128], o2[128];
  const qc_model_config *c = b->c;
  if (!ok(b)) return QC_NONE;
  int n_in = mask != QC_NONE ? 4 : 3;
  qc_vid in[6] = {q, k, v, mask, QC_NONE, QC_NONE};
  if (kv) {
    in[4] = kv->past_k;
    in[5] = kv->past_v;
    n_in = 6;
  }
  qc_nid n;
  snprintf(o1, sizeof o1, "present.%lld.key", (long long)layer);
  snprintf(o2, sizeof o2, "present.%lld.value", (long long)layer);
  const char *outs[3] = {NAME("%s.attention", mod), kv ? o1 : "", kv ? o2 : ""};
  qc_status s = qc_graph_add_node(b->g, QC_OP_Attention, nm, n_in, in, kv ? 3 : 1, outs, &n);
  if (s) {
    set_err(b, s);
    return QC_NONE;
  }
  const qc_node *nd = qc_graph_node(b->g, n);
  qc_vid y = nd->out[0];
  if (kv) {
    *present_k = nd->out[1];
    *present_v = nd->out[2];
  }
  attr_i(b, y, "q_num_heads", c->num_heads);
  attr_i(b, y, "kv_num_heads", c->num_kv_heads);
  if (mask == QC_NONE && causal) attr_i(b, y, "is_causal", 1);
  return y;
}

/* The attention mask of decoder layer i: the sliding window where the layer has one, else
 * the causal mask with a cache, else none (Attention's is_causal). */
static qc_vid layer_mask(B *b, const positions *pos, int64_t i) {
  const qc_model_config *c = b->c;
  if (c->sliding_window > 0 && i >= c->sliding_window_first_layer) return pos->window;
  return pos->mask;
}

/* Per-head RMS norm (Qwen3 q_norm / k_norm) on [B, S, H*D]. */
static qc_vid head_rms_norm(B *b, qc_vid x, const char *mod, int64_t heads) {
  char nm[512];
  const qc_model_config *c = b->c;
  qc_vid to4 = shape_const(b, NAME("shape.heads.%lld", (long long)heads), 4, (int64_t[]){0, 0, heads, c->head_dim});
  qc_vid x4 = op2(b, QC_OP_Reshape, NAME("%s.split_heads", mod), x, to4);
  qc_vid n = rms_norm(b, x4, mod, c->norm_eps);
  qc_vid to3 = shape_const(b, NAME("shape.merge.%lld", (long long)heads), 3, (int64_t[]){0, 0, heads * c->head_dim});
  return op2(b, QC_OP_Reshape, NAME("%s.merge_heads", mod), n, to3);
}

static qc_vid rope(B *b, qc_vid x, const char *node, int64_t heads, qc_vid cosv, qc_vid sinv,
                   const positions *pos, int64_t rot) {
  qc_vid y = op(b, QC_OP_RotaryEmbedding, node, NULL, 4, (qc_vid[]){x, cosv, sinv, pos->ids});
  attr_i(b, y, "num_heads", heads);
  if (rot != b->c->head_dim) attr_i(b, y, "rotary_embedding_dim", rot);
  return y;
}

static qc_status build_llama(B *b, qc_vid input_ids, kv_io *kv) {
  const qc_model_config *c = b->c;
  char nm[512], mod[256], out_name[256];
  positions pos = make_positions(b, input_ids, kv ? kv[0].past_k : QC_NONE, 0);
  int64_t rot = (int64_t)(c->head_dim * c->partial_rotary_factor);
  rot -= rot % 2;
  qc_vid cosv = QC_NONE, sinv = QC_NONE;
  rope_tables(b, rot, &cosv, &sinv);
  qc_vid emb = weight(b, "model.embed_tokens.weight", false);
  qc_vid h = op2(b, QC_OP_Gather, "model.embed_tokens", emb, input_ids);
  h = as_f32(b, h, "model.embed_tokens.f32");
  for (int64_t i = 0; i < c->num_layers && ok(b); i++) {
    snprintf(out_name, sizeof out_name, "model.layers.%lld.input", (long long)i);
    h = op1(b, QC_OP_Identity, out_name, h);
    snprintf(mod, sizeof mod, "model.layers.%lld", (long long)i);
    qc_vid x = rms_norm(b, h, NAME("%s.input_layernorm", mod), c->norm_eps);
    qc_vid q = linear(b, x, NAME("%s.self_attn.q_proj", mod), c->attention_bias, false);
    qc_vid k = linear(b, x, NAME("%s.self_attn.k_proj", mod), c->attention_bias, false);
    qc_vid v = linear(b, x, NAME("%s.self_attn.v_proj", mod), c->attention_bias, false);
    if (c->qk_norm) {
      q = head_rms_norm(b, q, NAME("%s.self_attn.q_norm", mod), c->num_heads);
      k = head_rms_norm(b, k, NAME("%s.self_attn.k_norm", mod), c->num_kv_heads);
    }
    q = rope(b, q, NAME("%s.self_attn.q_rope", mod), c->num_heads, cosv, sinv, &pos, rot);
    k = rope(b, k, NAME("%s.self_attn.k_rope", mod), c->num_kv_heads, cosv, sinv, &pos, rot);
    qc_vid pk = QC_NONE, pv = QC_NONE;
    qc_vid a = attention(b, NAME("%s.self_attn", mod), q, k, v, kv ? &kv[i] : NULL, i, &pk, &pv,
                         layer_mask(b, &pos, i), true);
    if (kv && ok(b)) {
      QC_RETURN_IF_ERROR(qc_graph_add_output(b->g, pk));
      QC_RETURN_IF_ERROR(qc_graph_add_output(b->g, pv));
    }
    qc_vid o = linear(b, a, NAME("%s.self_attn.o_proj", mod), c->attention_bias, false);
    h = op2(b, QC_OP_Add, NAME("%s.attn_residual", mod), h, o);
    x = rms_norm(b, h, NAME("%s.post_attention_layernorm", mod), c->norm_eps);
    qc_vid gate = linear(b, x, NAME("%s.mlp.gate_proj", mod), c->mlp_bias, false);
    qc_vid up = linear(b, x, NAME("%s.mlp.up_proj", mod), c->mlp_bias, false);
    qc_vid act = activation(b, gate, NAME("%s.mlp.act_fn", mod), c->act);
    qc_vid m = op2(b, QC_OP_Mul, NAME("%s.mlp.gate_mul", mod), act, up);
    qc_vid d = linear(b, m, NAME("%s.mlp.down_proj", mod), c->mlp_bias, false);
    snprintf(out_name, sizeof out_name, "model.layers.%lld.output", (long long)i);
    h = op(b, QC_OP_Add, NAME("%s.mlp_residual", mod), out_name, 2, (qc_vid[]){h, d});
  }
  h = rms_norm(b, h, "model.norm", c->norm_eps);
  qc_vid head = weight(b, "lm_head.weight", true);
  qc_vid logits;
  if (head == QC_NONE || c->tie_word_embeddings) {
    if (!c->tie_word_embeddings && ok(b))
      return qc_status_new(QC_CODE_NOT_FOUND, "weight 'lm_head.weight' is missing (and the config "
                                              "does not tie it to the embeddings)");
    qc_vid wt = op1(b, QC_OP_Transpose, "lm_head.weight_t", emb);
    attr_ints(b, wt, "perm", 2, (int64_t[]){1, 0});
    wt = as_f32(b, wt, "lm_head.weight_f32");
    logits = op(b, QC_OP_MatMul, "lm_head", "logits", 2, (qc_vid[]){h, wt});
  } else {
    qc_vid wt = op1(b, QC_OP_Transpose, "lm_head.weight_t", head);
    attr_ints(b, wt, "perm", 2, (int64_t[]){1, 0});
    wt = as_f32(b, wt, "lm_head.weight_f32");
    logits = op(b, QC_OP_MatMul, "lm_head", "logits", 2, (qc_vid[]){h, wt});
  }
  if (!ok(b)) return QC_OK;
  return qc_graph_add_output(b->g, logits);
}

static qc_status build_gpt2(B *b, qc_vid input_ids, kv_io *kv) {
  const qc_model_config *c = b->c;
  char nm[512], out_name[256];
  positions pos = make_positions(b, input_ids, kv ? kv[0].past_k : QC_NONE, 0);
  qc_vid wte = weight(b, "transformer.wte.weight", true);
  const char *pfx = "transformer";
  if (wte == QC_NONE && ok(b)) {
    pfx = "";
    wte = weight(b, "wte.weight", false);
  }
  qc_vid wpe = weight(b, NAME("%s%swpe.weight", pfx, *pfx ? "." : ""), false);
  qc_vid te = op2(b, QC_OP_Gather, NAME("%s%swte", pfx, *pfx ? "." : ""), wte, input_ids);
  qc_vid pe = op2(b, QC_OP_Gather, NAME("%s%swpe", pfx, *pfx ? "." : ""), wpe, pos.ids);
  te = as_f32(b, te, "wte.f32");
  pe = as_f32(b, pe, "wpe.f32");
  qc_vid h = op2(b, QC_OP_Add, "embeddings", te, pe);
  int64_t H = c->hidden_size;
  qc_vid split = shape_const(b, "shape.qkv_split", 3, (int64_t[]){H, H, H});
  for (int64_t i = 0; i < c->num_layers && ok(b); i++) {
    char base[128];
    snprintf(base, sizeof base, "%s%sh.%lld", pfx, *pfx ? "." : "", (long long)i);
    snprintf(out_name, sizeof out_name, "%s.input", base);
    h = op1(b, QC_OP_Identity, out_name, h);
    qc_vid x = layer_norm(b, h, NAME("%s.ln_1", base), c->norm_eps);
    qc_vid qkv = linear(b, x, NAME("%s.attn.c_attn", base), true, true);
    qc_nid sn;
    char o_q[256], o_k[256], o_v[256];
    snprintf(o_q, sizeof o_q, "%s.attn.q", base);
    snprintf(o_k, sizeof o_k, "%s.attn.k", base);
    snprintf(o_v, sizeof o_v, "%s.attn.v", base);
    const char *outs[3] = {o_q, o_k, o_v};
    if (ok(b)) {
      qc_status s = qc_graph_add_node(b->g, QC_OP_Split, NAME("%s.attn.split_qkv", base), 2,
                                      (qc_vid[]){qkv, split}, 3, outs, &sn);
      if (s) return s;
      QC_RETURN_IF_ERROR(qc_node_set_int(b->g, sn, "axis", -1));
    }
    qc_vid q = ok(b) ? qc_graph_node(b->g, sn)->out[0] : QC_NONE;
    qc_vid k = ok(b) ? qc_graph_node(b->g, sn)->out[1] : QC_NONE;
    qc_vid v = ok(b) ? qc_graph_node(b->g, sn)->out[2] : QC_NONE;
    qc_vid pk = QC_NONE, pv = QC_NONE;
    qc_vid a = attention(b, NAME("%s.attn", base), q, k, v, kv ? &kv[i] : NULL, i, &pk, &pv,
                         pos.mask, true);
    /* Attention's default scale is head_dim^-0.5, GPT-2's unless configured otherwise */
    if (c->attn_unscaled || c->attn_scale_by_layer)
      attr_f(b, a, "scale", (c->attn_unscaled ? 1.0 : 1.0 / sqrt((double)c->head_dim)) /
                                (c->attn_scale_by_layer ? (double)(i + 1) : 1.0));
    if (kv && ok(b)) {
      QC_RETURN_IF_ERROR(qc_graph_add_output(b->g, pk));
      QC_RETURN_IF_ERROR(qc_graph_add_output(b->g, pv));
    }
    qc_vid o = linear(b, a, NAME("%s.attn.c_proj", base), true, true);
    h = op2(b, QC_OP_Add, NAME("%s.attn_residual", base), h, o);
    x = layer_norm(b, h, NAME("%s.ln_2", base), c->norm_eps);
    qc_vid f = linear(b, x, NAME("%s.mlp.c_fc", base), true, true);
    f = activation(b, f, NAME("%s.mlp.act", base), c->act);
    qc_vid d = linear(b, f, NAME("%s.mlp.c_proj", base), true, true);
    snprintf(out_name, sizeof out_name, "%s.output", base);
    h = op(b, QC_OP_Add, NAME("%s.mlp_residual", base), out_name, 2, (qc_vid[]){h, d});
  }
  h = layer_norm(b, h, NAME("%s%sln_f", pfx, *pfx ? "." : ""), c->norm_eps);
  qc_vid head = weight(b, "lm_head.weight", true);
  qc_vid wt = op1(b, QC_OP_Transpose, "lm_head.weight_t", head == QC_NONE ? wte : head);
  attr_ints(b, wt, "perm", 2, (int64_t[]){1, 0});
  wt = as_f32(b, wt, "lm_head.weight_f32");
  qc_vid logits = op(b, QC_OP_MatMul, "lm_head", "logits", 2, (qc_vid[]){h, wt});
  if (!ok(b)) return QC_OK;
  return qc_graph_add_output(b->g, logits);
}

static qc_status build_opt(B *b, qc_vid input_ids, kv_io *kv) {
  const qc_model_config *c = b->c;
  char nm[512], out_name[256];
  /* OPT's learned positions are offset by 2. */
  positions pos = make_positions(b, input_ids, kv ? kv[0].past_k : QC_NONE, 2);
  const char *pfx = "model.decoder";
  qc_vid emb = weight(b, "model.decoder.embed_tokens.weight", false);
  qc_vid pemb = weight(b, "model.decoder.embed_positions.weight", false);
  qc_vid te = as_f32(b, op2(b, QC_OP_Gather, "model.decoder.embed_tokens", emb, input_ids), "embed_tokens.f32");
  if (c->word_embed_proj_dim != c->hidden_size) te = linear(b, te, "model.decoder.project_in", false, false);
  qc_vid pe = as_f32(b, op2(b, QC_OP_Gather, "model.decoder.embed_positions", pemb, pos.ids), "embed_positions.f32");
  qc_vid h = op2(b, QC_OP_Add, "embeddings", te, pe);
  for (int64_t i = 0; i < c->num_layers && ok(b); i++) {
    char base[128];
    snprintf(base, sizeof base, "%s.layers.%lld", pfx, (long long)i);
    snprintf(out_name, sizeof out_name, "%s.input", base);
    h = op1(b, QC_OP_Identity, out_name, h);
    qc_vid x = h;
    if (c->do_layer_norm_before) x = layer_norm(b, h, NAME("%s.self_attn_layer_norm", base), c->norm_eps);
    qc_vid q = linear(b, x, NAME("%s.self_attn.q_proj", base), c->attention_bias, false);
    qc_vid k = linear(b, x, NAME("%s.self_attn.k_proj", base), c->attention_bias, false);
    qc_vid v = linear(b, x, NAME("%s.self_attn.v_proj", base), c->attention_bias, false);
    qc_vid pk = QC_NONE, pv = QC_NONE;
    qc_vid a = attention(b, NAME("%s.self_attn", base), q, k, v, kv ? &kv[i] : NULL, i, &pk, &pv,
                         pos.mask, true);
    if (kv && ok(b)) {
      QC_RETURN_IF_ERROR(qc_graph_add_output(b->g, pk));
      QC_RETURN_IF_ERROR(qc_graph_add_output(b->g, pv));
    }
    qc_vid o = linear(b, a, NAME("%s.self_attn.out_proj", base), c->attention_bias, false);
    h = op2(b, QC_OP_Add, NAME("%s.attn_residual", base), h, o);
    if (!c->do_layer_norm_before) h = layer_norm(b, h, NAME("%s.self_attn_layer_norm", base), c->norm_eps);
    x = h;
    if (c->do_layer_norm_before) x = layer_norm(b, h, NAME("%s.final_layer_norm", base), c->norm_eps);
    qc_vid f = linear(b, x, NAME("%s.fc1", base), c->mlp_bias, false);
    f = activation(b, f, NAME("%s.activation_fn", base), c->act);
    qc_vid d = linear(b, f, NAME("%s.fc2", base), c->mlp_bias, false);
    if (c->do_layer_norm_before) {
      snprintf(out_name, sizeof out_name, "%s.output", base);
      h = op(b, QC_OP_Add, NAME("%s.mlp_residual", base), out_name, 2, (qc_vid[]){h, d});
    } else {
      h = op2(b, QC_OP_Add, NAME("%s.mlp_residual", base), h, d);
      snprintf(out_name, sizeof out_name, "%s.output", base);
      h = layer_norm(b, h, NAME("%s.final_layer_norm", base), c->norm_eps);
      h = op1(b, QC_OP_Identity, out_name, h);
    }
  }
  if (c->do_layer_norm_before) {
    qc_vid fln = weight(b, "model.decoder.final_layer_norm.weight", true);
    if (fln != QC_NONE) h = layer_norm(b, h, "model.decoder.final_layer_norm", c->norm_eps);
  }
  if (c->word_embed_proj_dim != c->hidden_size) h = linear(b, h, "model.decoder.project_out", false, false);
  qc_vid head = weight(b, "lm_head.weight", true);
  qc_vid wt = op1(b, QC_OP_Transpose, "lm_head.weight_t", head == QC_NONE ? emb : head);
  attr_ints(b, wt, "perm", 2, (int64_t[]){1, 0});
  wt = as_f32(b, wt, "lm_head.weight_f32");
  qc_vid logits = op(b, QC_OP_MatMul, "lm_head", "logits", 2, (qc_vid[]){h, wt});
  if (!ok(b)) return QC_OK;
  return qc_graph_add_output(b->g, logits);
}

/* ---- BERT ------------------------------------------------------------------------------------ */

static qc_status build_bert(B *b) {
  const qc_model_config *c = b->c;
  char nm[512], out_name[256];
  int64_t d2[2] = {qc_graph_sym(b->g, "batch"), qc_graph_sym(b->g, "seq")};
  qc_type ti = qc_type_tensor(QC_I64, 2, d2);
  qc_vid ids, mask, types;
  QC_RETURN_IF_ERROR(qc_graph_add_input(b->g, "input_ids", &ti, &ids));
  QC_RETURN_IF_ERROR(qc_graph_add_input(b->g, "attention_mask", &ti, &mask));
  QC_RETURN_IF_ERROR(qc_graph_add_input(b->g, "token_type_ids", &ti, &types));
  /* Weight names with or without the "bert." prefix. */
  const char *p = "";
  if (weight(b, "embeddings.word_embeddings.weight", true) == QC_NONE && ok(b)) p = "bert.";
  positions pos = make_positions(b, ids, QC_NONE, 0);
  /* word, position and token type embeddings, each cast to f32 */
  static const char *const tables[3] = {"word", "position", "token_type"};
  static const char *const casts[3] = {"we.f32", "pe.f32", "te.f32"};
  const qc_vid index[3] = {ids, pos.ids, types};
  qc_vid parts[3];
  for (int t = 0; t < 3; t++) {
    qc_vid table = weight(b, NAME("%sembeddings.%s_embeddings.weight", p, tables[t]), false);
    parts[t] = op2(b, QC_OP_Gather, NAME("%sembeddings.%s_embeddings", p, tables[t]), table, index[t]);
    parts[t] = as_f32(b, parts[t], casts[t]);
  }
  qc_vid e = op2(b, QC_OP_Add, "embeddings.sum_wp", parts[0], parts[1]);
  e = op2(b, QC_OP_Add, "embeddings.sum", e, parts[2]);
  qc_vid h = layer_norm(b, e, NAME("%sembeddings.LayerNorm", p), c->norm_eps);
  /* Attention mask [B, S] (1 = token) -> bool [B, 1, S, S]: every query row sees the same
   * keys. [B, 1, 1, S] would broadcast as well, but ONNX Runtime's Attention requires the
   * mask's row count to equal the query length. */
  qc_vid m4 = op2(b, QC_OP_Unsqueeze, "attention_mask.4d", mask, shape_const(b, "axes.12", 2, (int64_t[]){1, 2}));
  qc_vid rows = op(b, QC_OP_Concat, "attention_mask.rows_shape", NULL, 3,
                   (qc_vid[]){shape_const(b, "shape.ones_2", 2, (int64_t[]){1, 1}),
                              qc_graph_find(b->g, "positions.seq_len_1d"),
                              shape_const(b, "shape.one", 1, (int64_t[]){1})});
  attr_i(b, rows, "axis", 0);
  qc_vid mrows = op2(b, QC_OP_Expand, "attention_mask.rows", m4, rows);
  qc_vid mb = op1(b, QC_OP_Cast, "attention_mask.bool", mrows);
  attr_i(b, mb, "to", 9);
  for (int64_t i = 0; i < c->num_layers && ok(b); i++) {
    char base[128];
    snprintf(base, sizeof base, "%sencoder.layer.%lld", p, (long long)i);
    snprintf(out_name, sizeof out_name, "%s.input", base);
    h = op1(b, QC_OP_Identity, out_name, h);
    qc_vid q = linear(b, h, NAME("%s.attention.self.query", base), true, false);
    qc_vid k = linear(b, h, NAME("%s.attention.self.key", base), true, false);
    qc_vid v = linear(b, h, NAME("%s.attention.self.value", base), true, false);
    qc_vid a = attention(b, NAME("%s.attention.self", base), q, k, v, NULL, i, NULL, NULL, mb, false);
    qc_vid o = linear(b, a, NAME("%s.attention.output.dense", base), true, false);
    o = op2(b, QC_OP_Add, NAME("%s.attention.output.residual", base), o, h);
    h = layer_norm(b, o, NAME("%s.attention.output.LayerNorm", base), c->norm_eps);
    qc_vid f = linear(b, h, NAME("%s.intermediate.dense", base), true, false);
    f = activation(b, f, NAME("%s.intermediate.intermediate_act_fn", base), c->act);
    qc_vid d = linear(b, f, NAME("%s.output.dense", base), true, false);
    d = op2(b, QC_OP_Add, NAME("%s.output.residual", base), d, h);
    h = layer_norm(b, d, NAME("%s.output.LayerNorm", base), c->norm_eps);
    snprintf(out_name, sizeof out_name, "%s.output", base);
    h = op1(b, QC_OP_Identity, out_name, h);
  }
  qc_vid last = op1(b, QC_OP_Identity, "last_hidden_state", h);
  /* Mean pooling over the mask, then L2 normalization (sentence-transformers). */
  qc_vid mf = op1(b, QC_OP_Cast, "pooling.mask_f32", mask);
  attr_i(b, mf, "to", 1);
  qc_vid m3 = op2(b, QC_OP_Unsqueeze, "pooling.mask_3d", mf, shape_const(b, "axes.m1", 1, (int64_t[]){-1}));
  qc_vid hm = op2(b, QC_OP_Mul, "pooling.masked", last, m3);
  qc_vid ax1 = shape_const(b, "axes.1", 1, (int64_t[]){1});
  qc_vid sum = op2(b, QC_OP_ReduceSum, "pooling.sum", hm, ax1);
  attr_i(b, sum, "keepdims", 0);
  qc_vid cnt = op2(b, QC_OP_ReduceSum, "pooling.count", m3, ax1);
  attr_i(b, cnt, "keepdims", 0);
  qc_vid cntc = op2(b, QC_OP_Max, "pooling.count_clamped", cnt, scalar_f32(b, "pooling.min_count", 1e-9f));
  qc_vid mean = op2(b, QC_OP_Div, "pooling.mean", sum, cntc);
  qc_vid sq = op2(b, QC_OP_Mul, "normalize.square", mean, mean);
  qc_vid ss = op2(b, QC_OP_ReduceSum, "normalize.sum", sq, shape_const(b, "axes.m1", 1, (int64_t[]){-1}));
  attr_i(b, ss, "keepdims", 1);
  qc_vid nrm = op1(b, QC_OP_Sqrt, "normalize.norm", ss);
  qc_vid nrmc = op2(b, QC_OP_Max, "normalize.norm_clamped", nrm, scalar_f32(b, "normalize.eps", 1e-12f));
  qc_vid emb = op(b, QC_OP_Div, "normalize", "sentence_embedding", 2, (qc_vid[]){mean, nrmc});
  if (!ok(b)) return QC_OK;
  QC_RETURN_IF_ERROR(qc_graph_add_output(b->g, last));
  return qc_graph_add_output(b->g, emb);
}

/* ---- entry ----------------------------------------------------------------------------------- */

qc_status qc_model_build(const qc_model_config *c, const qc_weight_source *w,
                         const qc_build_options *opts, qc_graph **out) {
  *out = NULL;
  qc_graph *g;
  QC_RETURN_IF_ERROR(qc_graph_create(NULL, &g));
  B b = {g, w, c, QC_OK, 0, opts && opts->kv_cache};
  b.max_seq = opts && opts->max_seq > 0 ? opts->max_seq : (c->max_positions < 8192 ? c->max_positions : 8192);
  if (b.max_seq <= 0) b.max_seq = 2048;
  qc_status s = qc_graph_set_opset(g, "", 23);
  if (!s) s = qc_graph_set_name(g, c->model_type);
  if (!s && c->arch != QC_ARCH_BERT) {
    int64_t d2[2] = {qc_graph_sym(g, "batch"), qc_graph_sym(g, "seq")};
    qc_type ti = qc_type_tensor(QC_I64, 2, d2);
    qc_vid ids;
    s = qc_graph_add_input(g, "input_ids", &ti, &ids);
    kv_io *kv = NULL;
    if (!s && b.kv) {
      kv = calloc((size_t)c->num_layers, sizeof *kv);
      s = kv ? add_kv_inputs(&b, kv) : QC_OOM();
    }
    if (!s) {
      switch (c->arch) {
      case QC_ARCH_LLAMA: s = build_llama(&b, ids, kv); break;
      case QC_ARCH_GPT2: s = build_gpt2(&b, ids, kv); break;
      case QC_ARCH_OPT: s = build_opt(&b, ids, kv); break;
      default: s = qc_status_new(QC_CODE_UNIMPLEMENTED, "unsupported architecture");
      }
    }
    free(kv);
    /* present.* outputs were added per layer; logits is the last output: move it first */
    if (!s && !b.err && b.kv) {
      int32_t n = qc_graph_num_outputs(g);
      qc_vid logits = qc_graph_output(g, n - 1);
      for (int32_t i = n - 1; i > 0; i--) qc_graph_set_output(g, i, qc_graph_output(g, i - 1));
      qc_graph_set_output(g, 0, logits);
    }
  } else if (!s) {
    s = build_bert(&b);
  }
  if (!s) s = b.err;
  else qc_status_free(b.err);
  if (!s) {
    static const char *const prefixes[] = {[QC_ARCH_LLAMA] = "model.layers", [QC_ARCH_GPT2] = "transformer.h",
                                           [QC_ARCH_OPT] = "model.decoder.layers", [QC_ARCH_BERT] = "encoder.layer"};
    const char *pfx = prefixes[c->arch];
    /* GPT-2 and BERT checkpoints may lack their "transformer." / "bert." prefix */
    char buf[64];
    if (c->arch == QC_ARCH_GPT2 && qc_graph_find(g, "transformer.h.0.input") < 0) pfx = "h";
    if (c->arch == QC_ARCH_BERT && qc_graph_find(g, "encoder.layer.0.input") < 0) {
      snprintf(buf, sizeof buf, "bert.encoder.layer");
      pfx = buf;
    }
    s = qc_graph_set_meta(g, "quarc.layer_prefix", pfx);
    char num[32];
    snprintf(num, sizeof num, "%lld", (long long)c->num_layers);
    if (!s) s = qc_graph_set_meta(g, "quarc.num_layers", num);
  }
  if (!s) s = qc_graph_infer_types(g);
  if (s) {
    qc_graph_destroy(g);
    return qc_status_wrap(s, "building the %s graph", c->model_type);
  }
  *out = g;
  return QC_OK;
}
