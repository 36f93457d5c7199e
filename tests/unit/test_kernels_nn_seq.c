/* Recurrent kernels (runtime/k_nn_seq.c) against a naive reference written here, on the
 * features the ONNX conformance tests leave out: both directions, reverse, sequence_lens,
 * initial states, clip, activations with alpha/beta, layout 1, GRU with and without
 * linear_before_reset, LSTM peepholes and input_forget. Also Attention with GQA, a bool
 * mask, causal masking after a past and the present outputs, checked by hand. */
#include "test_kernels_nn_harness.h"

#include <stdio.h>

enum { RNN, GRU, LSTM };

typedef struct rcase {
  int cell;
  int64_t seq, batch, in, hid;
  const char *direction;
  bool layout1, with_b, with_h0, with_lens, lbr, peep, input_forget;
  float clip;
  const char *act[6];
  double alpha[6], beta[6];
  int32_t n_alpha, n_beta;
} rcase;

static double sigm(double x) { return 1 / (1 + exp(-x)); }

/* Activation by name with alpha/beta (the subset this test uses). */
static double act_ref(const char *name, double a, double b, double x) {
  if (!strcmp(name, "Tanh")) return tanh(x);
  if (!strcmp(name, "Sigmoid")) return sigm(x);
  if (!strcmp(name, "Relu")) return x > 0 ? x : 0;
  if (!strcmp(name, "LeakyRelu")) return x >= 0 ? x : a * x;
  if (!strcmp(name, "HardSigmoid")) return fmin(1, fmax(0, a * x + b));
  if (!strcmp(name, "ScaledTanh")) return a * tanh(b * x);
  if (!strcmp(name, "Affine")) return a * x + b;
  ck_abort_msg("activation %s", name);
  return 0;
}

static void rnn_case(const rcase *rc, int32_t threads) {
  int64_t G = rc->cell == RNN ? 1 : rc->cell == GRU ? 3 : 4, H = rc->hid, NB = rc->batch;
  int64_t S = rc->seq, I = rc->in;
  int64_t nd = strcmp(rc->direction, "bidirectional") == 0 ? 2 : 1;
  bool rev_only = strcmp(rc->direction, "reverse") == 0;
  int32_t na = rc->cell == RNN ? 1 : rc->cell == GRU ? 2 : 3;
  int64_t nx = S * NB * I, nw = nd * G * H * I, nr = nd * G * H * H, nbias = nd * 2 * G * H,
          nh = nd * NB * H, np = nd * 3 * H;
  float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw),
        *r = malloc(sizeof(float) * (size_t)nr), *bb = malloc(sizeof(float) * (size_t)nbias),
        *h0 = malloc(sizeof(float) * (size_t)nh), *c0 = malloc(sizeof(float) * (size_t)nh),
        *p = malloc(sizeof(float) * (size_t)np);
  kh_fill(x, nx, 1), kh_fill(w, nw, 2), kh_fill(r, nr, 3), kh_fill(bb, nbias, 4);
  kh_fill(h0, nh, 5), kh_fill(c0, nh, 6), kh_fill(p, np, 7);
  int64_t lens[8] = {S, S - 1, 1, S - 2, S, 2, 0, 3};
  for (int64_t b = 0; b < NB; b++)
    if (lens[b] < 0) lens[b] = 0;
  int64_t xd[3] = {rc->layout1 ? NB : S, rc->layout1 ? S : NB, I};
  int64_t hd[3] = {rc->layout1 ? NB : nd, rc->layout1 ? nd : NB, H};
  qc_tensor tx = kh_f32(3, xd, NULL), tw = kh_f32(3, (int64_t[]){nd, G * H, I}, w),
            tr = kh_f32(3, (int64_t[]){nd, G * H, H}, r), tb = kh_f32(2, (int64_t[]){nd, 2 * G * H}, bb);
  qc_tensor th = kh_f32(3, hd, NULL), tc = kh_f32(3, hd, NULL), tp = kh_f32(2, (int64_t[]){nd, 3 * H}, p);
  double lv[8];
  for (int i = 0; i < 8; i++) lv[i] = (double)lens[i];
  qc_tensor tl = kh_tensor(QC_I32, 1, (int64_t[]){NB}, lv);
  /* The test keeps x, h0, c0 in [t][b] / [dir][b] order; store them in the layout asked for. */
  float *xs = qc_tensor_data(&tx), *hs = qc_tensor_data(&th), *cs = qc_tensor_data(&tc);
  for (int64_t t = 0; t < S; t++)
    for (int64_t b = 0; b < NB; b++)
      memcpy(xs + (rc->layout1 ? b * S + t : t * NB + b) * I, x + (t * NB + b) * I, sizeof(float) * (size_t)I);
  for (int64_t d = 0; d < nd; d++)
    for (int64_t b = 0; b < NB; b++) {
      int64_t at = rc->layout1 ? (b * nd + d) * H : (d * NB + b) * H;
      memcpy(hs + at, h0 + (d * NB + b) * H, sizeof(float) * (size_t)H);
      memcpy(cs + at, c0 + (d * NB + b) * H, sizeof(float) * (size_t)H);
    }
  qc_op op = rc->cell == RNN ? QC_OP_RNN : rc->cell == GRU ? QC_OP_GRU : QC_OP_LSTM;
  qc_tensor *ins[8] = {&tx, &tw, &tr, rc->with_b ? &tb : NULL, rc->with_lens ? &tl : NULL,
                       rc->with_h0 ? &th : NULL, rc->with_h0 ? &tc : NULL, rc->peep ? &tp : NULL};
  int32_t nin = rc->cell == LSTM ? 8 : 6, nout = rc->cell == LSTM ? 3 : 2;
  kh_node h;
  kh_init(&h, op, 14, nin, ins, nout);
  kh_int(&h, "hidden_size", H);
  kh_string(&h, "direction", rc->direction);
  kh_int(&h, "layout", rc->layout1);
  if (rc->clip > 0) kh_float(&h, "clip", rc->clip);
  if (rc->cell == GRU) kh_int(&h, "linear_before_reset", rc->lbr);
  if (rc->cell == LSTM) kh_int(&h, "input_forget", rc->input_forget);
  if (rc->act[0]) {
    qc_attr a;
    memset(&a, 0, sizeof a);
    a.name = "activations";
    a.kind = QC_ATTR_STRINGS;
    a.n = (int32_t)(na * nd);
    int32_t lensv[6];
    for (int i = 0; i < a.n; i++) lensv[i] = (int32_t)strlen(rc->act[i]);
    a.u.strs.v = (const char **)rc->act;
    a.u.strs.len = lensv;
    kh_check(qc_node_set_attr(h.g, h.node, &a));
    if (rc->n_alpha) kh_floats(&h, "activation_alpha", rc->n_alpha, rc->alpha);
    if (rc->n_beta) kh_floats(&h, "activation_beta", rc->n_beta, rc->beta);
  }
  kh_run(&h, threads);
  /* Reference. */
  int64_t ny = S * nd * NB * H;
  double *y = calloc((size_t)ny, sizeof(double)), *yh = calloc((size_t)nh, sizeof(double)),
         *yc = calloc((size_t)nh, sizeof(double));
  for (int64_t d = 0; d < nd; d++) {
    const char *an[3];
    double aa[3], ab[3];
    int32_t ia = 0, ib = 0;
    for (int32_t i = 0; i < na; i++) {
      an[i] = rc->act[0] ? rc->act[d * na + i] : (rc->cell == RNN ? "Tanh" : i == 0 ? "Sigmoid" : "Tanh");
      bool ua = !strcmp(an[i], "LeakyRelu") || !strcmp(an[i], "HardSigmoid") || !strcmp(an[i], "ScaledTanh") || !strcmp(an[i], "Affine");
      bool ub = !strcmp(an[i], "HardSigmoid") || !strcmp(an[i], "ScaledTanh") || !strcmp(an[i], "Affine");
      aa[i] = ua && ia < rc->n_alpha ? rc->alpha[ia++] : 0;
      ab[i] = ub && ib < rc->n_beta ? rc->beta[ib++] : 0;
    }
    const float *W = w + d * G * H * I, *R = r + d * G * H * H, *Wb = bb + d * 2 * G * H, *Rb = Wb + G * H;
    const float *P = p + d * 3 * H;
    bool rev = d == 1 || rev_only;
    for (int64_t b = 0; b < NB; b++) {
      int64_t len = rc->with_lens ? lens[b] : S;
      double hcur[16], ccur[16];
      for (int64_t j = 0; j < H; j++) {
        hcur[j] = rc->with_h0 ? h0[(d * NB + b) * H + j] : 0;
        ccur[j] = rc->with_h0 ? c0[(d * NB + b) * H + j] : 0;
      }
      for (int64_t st = 0; st < len; st++) {
        int64_t t = rev ? len - 1 - st : st;
        const float *xt = x + (t * NB + b) * I;
        double pre[4][16], hrp[4][16];
        for (int64_t g = 0; g < G; g++)
          for (int64_t j = 0; j < H; j++) {
            double sx = rc->with_b ? Wb[g * H + j] : 0, sh = rc->with_b ? Rb[g * H + j] : 0;
            for (int64_t q = 0; q < I; q++) sx += (double)xt[q] * W[(g * H + j) * I + q];
            for (int64_t q = 0; q < H; q++) sh += hcur[q] * R[(g * H + j) * H + q];
            pre[g][j] = sx;
            hrp[g][j] = sh;
          }
        double cl = rc->clip;
#define CLIP(v) (cl > 0 ? fmin(cl, fmax(-cl, (v))) : (v))
        double hn[16];
        for (int64_t j = 0; j < H; j++) {
          if (rc->cell == RNN) {
            hn[j] = act_ref(an[0], aa[0], ab[0], CLIP(pre[0][j] + hrp[0][j]));
          } else if (rc->cell == GRU) {
            double z = act_ref(an[0], aa[0], ab[0], CLIP(pre[0][j] + hrp[0][j]));
            double rg = act_ref(an[0], aa[0], ab[0], CLIP(pre[1][j] + hrp[1][j]));
            double hh;
            if (rc->lbr) {
              hh = act_ref(an[1], aa[1], ab[1], CLIP(pre[2][j] + rg * hrp[2][j]));
            } else {
              double s2 = rc->with_b ? Rb[2 * H + j] : 0;
              for (int64_t q = 0; q < H; q++) {
                double rq = act_ref(an[0], aa[0], ab[0], CLIP(pre[1][q] + hrp[1][q]));
                s2 += rq * hcur[q] * R[(2 * H + j) * H + q];
              }
              hh = act_ref(an[1], aa[1], ab[1], CLIP(pre[2][j] + s2));
            }
            hn[j] = (1 - z) * hh + z * hcur[j];
          } else {
            double pi = rc->peep ? P[j] : 0, po = rc->peep ? P[H + j] : 0, pf = rc->peep ? P[2 * H + j] : 0;
            double i = act_ref(an[0], aa[0], ab[0], CLIP(pre[0][j] + hrp[0][j] + pi * ccur[j]));
            double f = rc->input_forget ? 1 - i : act_ref(an[0], aa[0], ab[0], CLIP(pre[2][j] + hrp[2][j] + pf * ccur[j]));
            double c = act_ref(an[1], aa[1], ab[1], CLIP(pre[3][j] + hrp[3][j]));
            double cn = f * ccur[j] + i * c;
            double o = act_ref(an[0], aa[0], ab[0], CLIP(pre[1][j] + hrp[1][j] + po * cn));
            ccur[j] = cn;
            hn[j] = o * act_ref(an[2], aa[2], ab[2], cn);
          }
        }
        for (int64_t j = 0; j < H; j++) {
          hcur[j] = hn[j];
          int64_t at = rc->layout1 ? ((b * S + t) * nd + d) * H + j : ((t * nd + d) * NB + b) * H + j;
          y[at] = hn[j];
        }
      }
      for (int64_t j = 0; j < H; j++) {
        int64_t at = rc->layout1 ? (b * nd + d) * H + j : (d * NB + b) * H + j;
        yh[at] = hcur[j];
        yc[at] = ccur[j];
      }
    }
  }
  char what[128];
  snprintf(what, sizeof what, "%s %s layout=%d lens=%d clip=%g", rc->cell == RNN ? "RNN" : rc->cell == GRU ? "GRU" : "LSTM",
           rc->direction, rc->layout1, rc->with_lens, rc->clip);
  kh_expect_near(&h, 0, y, ny, 1e-5, 1e-4, what);
  kh_expect_near(&h, 1, yh, nh, 1e-5, 1e-4, what);
  if (rc->cell == LSTM) kh_expect_near(&h, 2, yc, nh, 1e-5, 1e-4, what);
  kh_free(&h);
  qc_tensor_release(&tx), qc_tensor_release(&tw), qc_tensor_release(&tr), qc_tensor_release(&tb);
  qc_tensor_release(&th), qc_tensor_release(&tc), qc_tensor_release(&tp), qc_tensor_release(&tl);
  free(x), free(w), free(r), free(bb), free(h0), free(c0), free(p), free(y), free(yh), free(yc);
}

START_TEST(rnn_variants) {
  for (int32_t t = 1; t <= 2; t++) {
    rnn_case(&(rcase){RNN, 5, 3, 4, 6, "forward", false, true, true, false, .clip = 0}, t);
    rnn_case(&(rcase){RNN, 5, 4, 3, 5, "bidirectional", true, true, true, true, .clip = 0.7f,
                      .act = {"Relu", "LeakyRelu"}, .alpha = {0.3}, .n_alpha = 1}, t);
    rnn_case(&(rcase){RNN, 6, 2, 3, 4, "reverse", false, false, false, true, .clip = 0}, t);
  }
}
END_TEST

START_TEST(gru_variants) {
  for (int32_t t = 1; t <= 2; t++)
    for (int lbr = 0; lbr < 2; lbr++) {
      rnn_case(&(rcase){GRU, 5, 3, 4, 6, "forward", false, true, true, false, lbr, .clip = 0}, t);
      rnn_case(&(rcase){GRU, 6, 4, 3, 5, "bidirectional", true, true, true, true, lbr, .clip = 0.9f}, t);
      rnn_case(&(rcase){GRU, 4, 2, 3, 4, "reverse", false, true, false, true, lbr,
                        .act = {"HardSigmoid", "ScaledTanh"}, .alpha = {0.25, 1.5}, .n_alpha = 2,
                        .beta = {0.4, 0.8}, .n_beta = 2}, t);
    }
}
END_TEST

START_TEST(lstm_variants) {
  for (int32_t t = 1; t <= 2; t++) {
    rnn_case(&(rcase){LSTM, 5, 3, 4, 6, "forward", false, true, true, false, false, true, .clip = 0}, t);
    rnn_case(&(rcase){LSTM, 6, 4, 3, 5, "bidirectional", true, true, true, true, false, true, true,
                      .clip = 1.1f}, t);
    rnn_case(&(rcase){LSTM, 4, 5, 3, 4, "reverse", false, false, true, true, false, false, false,
                      .act = {"Sigmoid", "Affine", "Tanh"}, .alpha = {0.5}, .beta = {0.1},
                      .n_alpha = 1, .n_beta = 1}, t);
  }
}
END_TEST

/* Attention with GQA (4 query heads on 2 KV heads), a past, is_causal and a bool mask,
 * against a direct computation. */
START_TEST(attention_gqa_past_causal_bool_mask) {
  enum { B = 2, HQ = 4, HKV = 2, SQ = 3, SP = 2, SN = 3, D = 4, DV = 5, ST = SP + SN };
  float q[B * HQ * SQ * D], kk[B * HKV * SN * D], vv[B * HKV * SN * DV], pk[B * HKV * SP * D],
      pv[B * HKV * SP * DV];
  kh_fill(q, B * HQ * SQ * D, 1), kh_fill(kk, B * HKV * SN * D, 2), kh_fill(vv, B * HKV * SN * DV, 3);
  kh_fill(pk, B * HKV * SP * D, 4), kh_fill(pv, B * HKV * SP * DV, 5);
  double mask[SQ * ST];
  for (int i = 0; i < SQ * ST; i++) mask[i] = (i % 4) != 1; /* some positions masked */
  qc_tensor tq = kh_f32(4, (int64_t[]){B, HQ, SQ, D}, q), tk = kh_f32(4, (int64_t[]){B, HKV, SN, D}, kk),
            tv = kh_f32(4, (int64_t[]){B, HKV, SN, DV}, vv), tpk = kh_f32(4, (int64_t[]){B, HKV, SP, D}, pk),
            tpv = kh_f32(4, (int64_t[]){B, HKV, SP, DV}, pv);
  qc_tensor tm = kh_tensor(QC_BOOL, 2, (int64_t[]){SQ, ST}, mask);
  kh_node h;
  kh_init(&h, QC_OP_Attention, 24, 6, (qc_tensor *[]){&tq, &tk, &tv, &tm, &tpk, &tpv}, 4);
  kh_int(&h, "is_causal", 1);
  kh_float(&h, "scale", 0.3);
  kh_int(&h, "qk_matmul_output_mode", 3);
  kh_run(&h, 2);
  double y[B * HQ * SQ * DV], probs[B * HQ * SQ * ST], pkey[B * HKV * ST * D];
  for (int b = 0; b < B; b++)
    for (int hk = 0; hk < HKV; hk++)
      for (int s = 0; s < ST; s++)
        for (int d = 0; d < D; d++)
          pkey[((b * HKV + hk) * ST + s) * D + d] =
              s < SP ? pk[((b * HKV + hk) * SP + s) * D + d] : kk[((b * HKV + hk) * SN + s - SP) * D + d];
  for (int b = 0; b < B; b++)
    for (int hh = 0; hh < HQ; hh++)
      for (int i = 0; i < SQ; i++) {
        int hk = hh / (HQ / HKV);
        double sc[ST], mx = -INFINITY, sum = 0;
        for (int s = 0; s < ST; s++) {
          double dot = 0;
          for (int d = 0; d < D; d++) dot += q[((b * HQ + hh) * SQ + i) * D + d] * pkey[((b * HKV + hk) * ST + s) * D + d];
          sc[s] = 0.3 * dot + (mask[i * ST + s] ? 0 : -INFINITY) + (s > i + SP ? -INFINITY : 0);
          mx = fmax(mx, sc[s]);
        }
        for (int s = 0; s < ST; s++) sum += sc[s] = exp(sc[s] - mx);
        for (int s = 0; s < ST; s++) probs[((b * HQ + hh) * SQ + i) * ST + s] = sc[s] / sum;
        for (int e = 0; e < DV; e++) {
          double acc = 0;
          for (int s = 0; s < ST; s++) {
            double vval = s < SP ? pv[((b * HKV + hk) * SP + s) * DV + e] : vv[((b * HKV + hk) * SN + s - SP) * DV + e];
            acc += sc[s] / sum * vval;
          }
          y[((b * HQ + hh) * SQ + i) * DV + e] = acc;
        }
      }
  kh_expect_shape(&h, 0, 4, (int64_t[]){B, HQ, SQ, DV});
  kh_expect_near(&h, 0, y, B * HQ * SQ * DV, 1e-5, 1e-4, "Attention Y");
  kh_expect_shape(&h, 1, 4, (int64_t[]){B, HKV, ST, D});
  kh_expect_near(&h, 1, pkey, B * HKV * ST * D, 0, 0, "present_key");
  kh_expect_near(&h, 3, probs, B * HQ * SQ * ST, 1e-6, 1e-4, "softmax output");
  kh_free(&h);
  /* The same in f64: computed in double, so the reference holds to rounding. */
  qc_tensor dq = kh_as_f64(&tq), dk = kh_as_f64(&tk), dv = kh_as_f64(&tv), dpk = kh_as_f64(&tpk),
            dpv = kh_as_f64(&tpv);
  kh_init(&h, QC_OP_Attention, 24, 6, (qc_tensor *[]){&dq, &dk, &dv, &tm, &dpk, &dpv}, 4);
  kh_int(&h, "is_causal", 1);
  kh_float(&h, "scale", 0.3);
  kh_int(&h, "qk_matmul_output_mode", 3);
  kh_run(&h, 2);
  ck_assert_int_eq(kh_out(&h, 0)->dtype, QC_F64);
  kh_expect_near(&h, 0, y, B * HQ * SQ * DV, 1e-13, 1e-12, "Attention Y (f64)");
  kh_expect_near(&h, 1, pkey, B * HKV * ST * D, 0, 0, "present_key (f64)");
  kh_expect_near(&h, 3, probs, B * HQ * SQ * ST, 1e-13, 1e-12, "softmax output (f64)");
  kh_free(&h);
  qc_tensor_release(&dq), qc_tensor_release(&dk), qc_tensor_release(&dv), qc_tensor_release(&dpk);
  qc_tensor_release(&dpv);
  qc_tensor_release(&tq), qc_tensor_release(&tk), qc_tensor_release(&tv), qc_tensor_release(&tpk);
  qc_tensor_release(&tpv), qc_tensor_release(&tm);
}
END_TEST

/* Long query sequences (several query blocks) with a 3-D layout and is_causal. */
START_TEST(attention_long_3d_causal) {
  enum { B = 1, H = 2, SQ = 300, SK = 300, D = 8 };
  float *q = malloc(sizeof(float) * B * SQ * H * D), *kk = malloc(sizeof(float) * B * SK * H * D),
        *vv = malloc(sizeof(float) * B * SK * H * D);
  kh_fill(q, B * SQ * H * D, 11), kh_fill(kk, B * SK * H * D, 12), kh_fill(vv, B * SK * H * D, 13);
  qc_tensor tq = kh_f32(3, (int64_t[]){B, SQ, H * D}, q), tk = kh_f32(3, (int64_t[]){B, SK, H * D}, kk),
            tv = kh_f32(3, (int64_t[]){B, SK, H * D}, vv);
  kh_node h;
  kh_init(&h, QC_OP_Attention, 23, 3, (qc_tensor *[]){&tq, &tk, &tv}, 1);
  kh_int(&h, "is_causal", 1);
  kh_int(&h, "q_num_heads", H);
  kh_int(&h, "kv_num_heads", H);
  kh_run(&h, 2);
  double *y = malloc(sizeof(double) * B * SQ * H * D), sc[SK];
  for (int hh = 0; hh < H; hh++)
    for (int i = 0; i < SQ; i++) {
      double mx = -INFINITY, sum = 0;
      for (int s2 = 0; s2 < SK; s2++) {
        double dot = 0;
        for (int d = 0; d < D; d++) dot += (double)q[(i * H + hh) * D + d] * kk[(s2 * H + hh) * D + d]; /* in double, as the f64 path */
        sc[s2] = s2 > i ? -INFINITY : dot / sqrt((double)D);
        mx = fmax(mx, sc[s2]);
      }
      for (int s2 = 0; s2 < SK; s2++) sum += sc[s2] = exp(sc[s2] - mx);
      for (int d = 0; d < D; d++) {
        double acc = 0;
        for (int s2 = 0; s2 < SK; s2++) acc += sc[s2] / sum * vv[(s2 * H + hh) * D + d];
        y[(i * H + hh) * D + d] = acc;
      }
    }
  kh_expect_shape(&h, 0, 3, (int64_t[]){B, SQ, H * D});
  kh_expect_near(&h, 0, y, B * SQ * H * D, 1e-5, 1e-4, "long causal attention");
  kh_free(&h);
  qc_tensor dq = kh_as_f64(&tq), dk = kh_as_f64(&tk), dv = kh_as_f64(&tv);
  kh_init(&h, QC_OP_Attention, 23, 3, (qc_tensor *[]){&dq, &dk, &dv}, 1);
  kh_int(&h, "is_causal", 1);
  kh_int(&h, "q_num_heads", H);
  kh_int(&h, "kv_num_heads", H);
  kh_run(&h, 2);
  kh_expect_near(&h, 0, y, B * SQ * H * D, 1e-13, 1e-12, "long causal attention (f64)");
  kh_free(&h);
  qc_tensor_release(&dq), qc_tensor_release(&dk), qc_tensor_release(&dv);
  qc_tensor_release(&tq), qc_tensor_release(&tk), qc_tensor_release(&tv);
  free(q), free(kk), free(vv), free(y);
}
END_TEST

/* RotaryEmbedding, half-split and interleaved, partial rotary dim, position_ids into a cache,
 * 3-D input with num_heads; f32 and f64 (which computes in double) against a direct
 * computation. */
START_TEST(rotary_embedding_f32_f64) {
  enum { B = 2, S = 3, H = 2, D = 6, RD = 4, HALF = RD / 2, MAXP = 5 };
  float x[B * S * H * D], c[MAXP * HALF], sn[MAXP * HALF];
  kh_fill(x, B * S * H * D, 21), kh_fill(c, MAXP * HALF, 22), kh_fill(sn, MAXP * HALF, 23);
  double pos[B * S] = {0, 2, 4, 1, 3, 0};
  qc_tensor tx = kh_f32(3, (int64_t[]){B, S, H * D}, x), tc = kh_f32(2, (int64_t[]){MAXP, HALF}, c),
            ts = kh_f32(2, (int64_t[]){MAXP, HALF}, sn), tp = kh_tensor(QC_I64, 2, (int64_t[]){B, S}, pos);
  qc_tensor dx = kh_as_f64(&tx), dc = kh_as_f64(&tc), ds = kh_as_f64(&ts);
  for (int inter = 0; inter < 2; inter++) {
    double want[B * S * H * D];
    for (int b = 0; b < B; b++)
      for (int t = 0; t < S; t++)
        for (int h = 0; h < H; h++) {
          const float *xi = x + ((b * S + t) * H + h) * D;
          double *yo = want + ((b * S + t) * H + h) * D;
          int p = (int)pos[b * S + t];
          for (int i = 0; i < HALF; i++) {
            int i1 = inter ? 2 * i : i, i2 = inter ? 2 * i + 1 : i + HALF;
            double cc = c[p * HALF + i], ss = sn[p * HALF + i];
            yo[i1] = cc * xi[i1] - ss * xi[i2];
            yo[i2] = ss * xi[i1] + cc * xi[i2];
          }
          for (int i = RD; i < D; i++) yo[i] = xi[i];
        }
    for (int f64 = 0; f64 < 2; f64++) {
      kh_node h;
      kh_init(&h, QC_OP_RotaryEmbedding, 23, 4,
              (qc_tensor *[]){f64 ? &dx : &tx, f64 ? &dc : &tc, f64 ? &ds : &ts, &tp}, 1);
      kh_int(&h, "num_heads", H);
      kh_int(&h, "rotary_embedding_dim", RD);
      kh_int(&h, "interleaved", inter);
      kh_run(&h, 1);
      ck_assert_int_eq(kh_out(&h, 0)->dtype, f64 ? QC_F64 : QC_F32);
      kh_expect_near(&h, 0, want, B * S * H * D, f64 ? 1e-15 : 1e-6, f64 ? 1e-14 : 1e-5,
                     f64 ? "RotaryEmbedding (f64)" : "RotaryEmbedding");
      kh_free(&h);
    }
  }
  qc_tensor_release(&tx), qc_tensor_release(&tc), qc_tensor_release(&ts), qc_tensor_release(&tp);
  qc_tensor_release(&dx), qc_tensor_release(&dc), qc_tensor_release(&ds);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_nn_seq");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, rnn_variants);
  tcase_add_test(tc, gru_variants);
  tcase_add_test(tc, lstm_variants);
  tcase_add_test(tc, attention_gqa_past_causal_bool_mask);
  tcase_add_test(tc, attention_long_3d_causal);
  tcase_add_test(tc, rotary_embedding_f32_f64);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
