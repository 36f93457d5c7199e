/* Convolution, pooling and normalization kernels (runtime/k_nn.c) against naive
 * references written here: Conv (1-D/2-D/3-D, groups, strides, dilations, pads, auto_pad,
 * the 1x1 direct path, the chunked im2col path), ConvTranspose, Max/Average/Lp pools
 * (ceil_mode, count_include_pad, indices in both storage orders), global pools,
 * BatchNormalization (inference and training), Layer/Group/Instance/RMS normalization,
 * LRN, Dropout, MaxUnpool. Each runs on 1 and 2 threads. */
#include "test_kernels_nn_harness.h"

#include <stdio.h>

/* ---- a naive n-D convolution ------------------------------------------------------------- */

typedef struct geo {
  int32_t n;                 /* spatial rank */
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} geo;

static int64_t prod(const int64_t *v, int32_t n) {
  int64_t p = 1;
  for (int32_t i = 0; i < n; i++) p *= v[i];
  return p;
}

/* Unravel i over dims (row-major). */
static void unravel(int64_t i, const int64_t *dims, int32_t n, int64_t *idx) {
  for (int32_t d = n - 1; d >= 0; d--) {
    idx[d] = i % dims[d];
    i /= dims[d];
  }
}

static void conv_ref(const geo *g, int64_t nb, int64_t c, int64_t m, int64_t grp, const float *x,
                     const float *w, const float *b, double *y) {
  int64_t cg = c / grp, mg = m / grp, isz = prod(g->in, g->n), ksz = prod(g->k, g->n),
          osz = prod(g->out, g->n);
  for (int64_t n = 0; n < nb; n++)
    for (int64_t mo = 0; mo < m; mo++)
      for (int64_t o = 0; o < osz; o++) {
        int64_t oi[3], ki[3];
        unravel(o, g->out, g->n, oi);
        double s = b ? b[mo] : 0;
        int64_t gi = mo / mg;
        for (int64_t ci = 0; ci < cg; ci++)
          for (int64_t kk = 0; kk < ksz; kk++) {
            unravel(kk, g->k, g->n, ki);
            int64_t off = 0;
            bool ok = true;
            for (int32_t d = 0; d < g->n; d++) {
              int64_t p = oi[d] * g->s[d] + ki[d] * g->d[d] - g->pb[d];
              if (p < 0 || p >= g->in[d]) ok = false;
              off = off * g->in[d] + p;
            }
            if (ok) s += (double)x[(n * c + gi * cg + ci) * isz + off] * w[(mo * cg + ci) * ksz + kk];
          }
        y[(n * m + mo) * osz + o] = s;
      }
}

static void geo_out(geo *g) {
  for (int32_t d = 0; d < g->n; d++)
    g->out[d] = (g->in[d] + g->pb[d] + g->pe[d] - (g->k[d] - 1) * g->d[d] - 1) / g->s[d] + 1;
}

static void conv_case(geo g, int64_t nb, int64_t c, int64_t m, int64_t grp, bool bias,
                      const char *auto_pad, int32_t threads) {
  if (auto_pad)
    for (int32_t d = 0; d < g.n; d++) {
      int64_t out = (g.in[d] + g.s[d] - 1) / g.s[d];
      int64_t tot = (out - 1) * g.s[d] + (g.k[d] - 1) * g.d[d] + 1 - g.in[d];
      if (tot < 0) tot = 0;
      bool upper = strcmp(auto_pad, "SAME_UPPER") == 0;
      g.pb[d] = upper ? tot / 2 : tot - tot / 2;
      g.pe[d] = tot - g.pb[d];
    }
  geo_out(&g);
  int64_t xd[5] = {nb, c}, wd[5] = {m, c / grp}, bd[1] = {m};
  for (int32_t d = 0; d < g.n; d++) {
    xd[d + 2] = g.in[d];
    wd[d + 2] = g.k[d];
  }
  int64_t nx = prod(xd, g.n + 2), nw = prod(wd, g.n + 2), ny = nb * m * prod(g.out, g.n);
  float *xv = malloc(sizeof(float) * (size_t)nx), *wv = malloc(sizeof(float) * (size_t)nw), bv[64];
  kh_fill(xv, nx, 11);
  kh_fill(wv, nw, 12);
  kh_fill(bv, m, 13);
  qc_tensor x = kh_f32(g.n + 2, xd, xv), w = kh_f32(g.n + 2, wd, wv), b = kh_f32(1, bd, bv);
  kh_node h;
  kh_init(&h, QC_OP_Conv, 22, bias ? 3 : 2, (qc_tensor *[]){&x, &w, &b}, 1);
  int64_t v[6];
  for (int32_t d = 0; d < g.n; d++) v[d] = g.s[d];
  kh_ints(&h, "strides", g.n, v);
  for (int32_t d = 0; d < g.n; d++) v[d] = g.d[d];
  kh_ints(&h, "dilations", g.n, v);
  if (auto_pad) {
    kh_string(&h, "auto_pad", auto_pad);
  } else {
    for (int32_t d = 0; d < g.n; d++) v[d] = g.pb[d], v[d + g.n] = g.pe[d];
    kh_ints(&h, "pads", 2 * g.n, v);
  }
  kh_int(&h, "group", grp);
  kh_run(&h, threads);
  int64_t yd[5] = {nb, m};
  for (int32_t d = 0; d < g.n; d++) yd[d + 2] = g.out[d];
  kh_expect_shape(&h, 0, g.n + 2, yd);
  double *want = malloc(sizeof(double) * (size_t)ny);
  conv_ref(&g, nb, c, m, grp, xv, wv, bias ? bv : NULL, want);
  char what[96];
  snprintf(what, sizeof what, "Conv %dd c=%lld m=%lld g=%lld t=%d", g.n, (long long)c,
           (long long)m, (long long)grp, threads);
  kh_expect_near(&h, 0, want, ny, 1e-4, 1e-4, what);
  kh_free(&h);
  qc_tensor_release(&x);
  qc_tensor_release(&w);
  qc_tensor_release(&b);
  free(xv);
  free(wv);
  free(want);
}

START_TEST(conv_shapes) {
  for (int32_t t = 1; t <= 2; t++) {
    /* 2-D 3x3, pads, stride 2, groups */
    conv_case((geo){2, {7, 9}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}}, 2, 4, 6, 1, true, NULL, t);
    conv_case((geo){2, {7, 9}, {3, 2}, {2, 1}, {1, 2}, {0, 1}, {2, 0}, {0}}, 1, 4, 6, 2, true, NULL, t);
    conv_case((geo){2, {8, 8}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}}, 2, 6, 6, 6, false, NULL, t);
    /* 1x1 direct, 1-D, 3-D */
    conv_case((geo){2, {5, 6}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {0}}, 3, 5, 7, 1, true, NULL, t);
    conv_case((geo){1, {17}, {4}, {3}, {2}, {2}, {1}, {0}}, 2, 3, 5, 1, true, NULL, t);
    conv_case((geo){3, {4, 5, 6}, {2, 3, 2}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1}, {0, 1, 1}, {0}}, 1, 2, 3, 1,
              true, NULL, t);
    /* auto_pad */
    conv_case((geo){2, {7, 8}, {3, 4}, {2, 3}, {1, 1}, {0}, {0}, {0}}, 1, 2, 3, 1, true, "SAME_UPPER", t);
    conv_case((geo){2, {7, 8}, {3, 4}, {2, 3}, {1, 1}, {0}, {0}, {0}}, 1, 2, 3, 1, true, "SAME_LOWER", t);
    /* many output columns: several im2col chunks */
    conv_case((geo){2, {300, 260}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}}, 1, 16, 4, 1, true, NULL,
              t);
  }
}
END_TEST

/* ---- ConvTranspose: scatter reference ---------------------------------------------------- */

static void convt_case(int32_t n, const int64_t *in, const int64_t *k, const int64_t *s,
                       const int64_t *d, const int64_t *pb, const int64_t *pe, const int64_t *opad,
                       int64_t c, int64_t mg, int64_t grp, int32_t threads) {
  int64_t out[3];
  for (int32_t i = 0; i < n; i++)
    out[i] = s[i] * (in[i] - 1) + opad[i] + (k[i] - 1) * d[i] + 1 - pb[i] - pe[i];
  int64_t xd[5] = {2, c}, wd[5] = {c, mg}, bd[1] = {mg * grp}, m = mg * grp;
  for (int32_t i = 0; i < n; i++) xd[i + 2] = in[i], wd[i + 2] = k[i];
  int64_t nx = prod(xd, n + 2), nw = prod(wd, n + 2), isz = prod(in, n), ksz = prod(k, n),
          osz = prod(out, n);
  float *xv = malloc(sizeof(float) * (size_t)nx), *wv = malloc(sizeof(float) * (size_t)nw), bv[32];
  kh_fill(xv, nx, 21);
  kh_fill(wv, nw, 22);
  kh_fill(bv, m, 23);
  double *want = calloc((size_t)(2 * m * osz), sizeof(double));
  int64_t cg = c / grp;
  for (int64_t b = 0; b < 2; b++)
    for (int64_t mo = 0; mo < m; mo++)
      for (int64_t o = 0; o < osz; o++) want[(b * m + mo) * osz + o] = bv[mo];
  for (int64_t b = 0; b < 2; b++)
    for (int64_t ci = 0; ci < c; ci++)
      for (int64_t p = 0; p < isz; p++)
        for (int64_t mi = 0; mi < mg; mi++)
          for (int64_t kk = 0; kk < ksz; kk++) {
            int64_t pi[3], ki[3], off = 0;
            unravel(p, in, n, pi);
            unravel(kk, k, n, ki);
            bool ok = true;
            for (int32_t i = 0; i < n; i++) {
              int64_t q = pi[i] * s[i] + ki[i] * d[i] - pb[i];
              if (q < 0 || q >= out[i]) ok = false;
              off = off * out[i] + q;
            }
            int64_t mo = (ci / cg) * mg + mi;
            if (ok)
              want[(b * m + mo) * osz + off] +=
                  (double)xv[(b * c + ci) * isz + p] * wv[(ci * mg + mi) * ksz + kk];
          }
  qc_tensor x = kh_f32(n + 2, xd, xv), w = kh_f32(n + 2, wd, wv), bt = kh_f32(1, bd, bv);
  kh_node h;
  kh_init(&h, QC_OP_ConvTranspose, 22, 3, (qc_tensor *[]){&x, &w, &bt}, 1);
  kh_ints(&h, "strides", n, s);
  kh_ints(&h, "dilations", n, d);
  int64_t pads[6];
  for (int32_t i = 0; i < n; i++) pads[i] = pb[i], pads[i + n] = pe[i];
  kh_ints(&h, "pads", 2 * n, pads);
  kh_ints(&h, "output_padding", n, opad);
  kh_int(&h, "group", grp);
  kh_run(&h, threads);
  int64_t yd[5] = {2, m};
  for (int32_t i = 0; i < n; i++) yd[i + 2] = out[i];
  kh_expect_shape(&h, 0, n + 2, yd);
  kh_expect_near(&h, 0, want, 2 * m * osz, 1e-4, 1e-4, "ConvTranspose");
  kh_free(&h);
  /* The same output through output_shape: pads come from the total padding. */
  kh_init(&h, QC_OP_ConvTranspose, 22, 3, (qc_tensor *[]){&x, &w, &bt}, 1);
  kh_ints(&h, "strides", n, s);
  kh_ints(&h, "dilations", n, d);
  kh_ints(&h, "output_padding", n, opad);
  kh_ints(&h, "output_shape", n, out);
  kh_int(&h, "group", grp);
  kh_run(&h, threads);
  kh_expect_shape(&h, 0, n + 2, yd);
  bool symmetric = true;
  for (int32_t i = 0; i < n; i++) symmetric &= pb[i] == pe[i] || pb[i] == pe[i] + 1;
  if (symmetric) kh_expect_near(&h, 0, want, 2 * m * osz, 1e-4, 1e-4, "ConvTranspose output_shape");
  kh_free(&h);
  qc_tensor_release(&x);
  qc_tensor_release(&w);
  qc_tensor_release(&bt);
  free(xv);
  free(wv);
  free(want);
}

START_TEST(conv_transpose) {
  for (int32_t t = 1; t <= 2; t++) {
    convt_case(2, (int64_t[]){3, 4}, (int64_t[]){3, 3}, (int64_t[]){2, 2}, (int64_t[]){1, 1},
               (int64_t[]){1, 1}, (int64_t[]){1, 1}, (int64_t[]){1, 0}, 4, 3, 2, t);
    convt_case(1, (int64_t[]){5}, (int64_t[]){3}, (int64_t[]){1}, (int64_t[]){2}, (int64_t[]){0},
               (int64_t[]){0}, (int64_t[]){0}, 2, 2, 1, t);
    convt_case(3, (int64_t[]){2, 3, 2}, (int64_t[]){2, 2, 3}, (int64_t[]){2, 1, 3},
               (int64_t[]){1, 2, 1}, (int64_t[]){0, 1, 1}, (int64_t[]){0, 0, 1},
               (int64_t[]){1, 0, 2}, 3, 2, 1, t);
  }
}
END_TEST

/* ---- pools ----------------------------------------------------------------------------------- */

static void pool_case(const char *kind, int32_t n, const int64_t *in, const int64_t *k,
                      const int64_t *s, const int64_t *d, const int64_t *pb, const int64_t *pe,
                      bool ceil_mode, bool count_pad, int64_t storage_order, int32_t threads) {
  int64_t out[3];
  for (int32_t i = 0; i < n; i++) {
    int64_t span = in[i] + pb[i] + pe[i] - (k[i] - 1) * d[i] - 1;
    out[i] = ceil_mode ? (span + s[i] - 1) / s[i] + 1 : span / s[i] + 1;
    if (ceil_mode && (out[i] - 1) * s[i] >= in[i] + pb[i]) out[i]--;
  }
  int64_t xd[5] = {2, 3}, yd[5] = {2, 3};
  for (int32_t i = 0; i < n; i++) xd[i + 2] = in[i], yd[i + 2] = out[i];
  int64_t isz = prod(in, n), osz = prod(out, n), ksz = prod(k, n);
  float *xv = malloc(sizeof(float) * (size_t)(6 * isz));
  kh_fill(xv, 6 * isz, 31);
  double *want = malloc(sizeof(double) * (size_t)(6 * osz)), *wi = malloc(sizeof(double) * (size_t)(6 * osz));
  bool is_max = strcmp(kind, "max") == 0, is_lp = strcmp(kind, "lp") == 0;
  for (int64_t pl = 0; pl < 6; pl++)
    for (int64_t o = 0; o < osz; o++) {
      int64_t oi[3], ki[3];
      unravel(o, out, n, oi);
      double acc = is_max ? -INFINITY : 0;
      int64_t cnt = 0, cntp = 0, best = -1;
      for (int64_t kk = 0; kk < ksz; kk++) {
        unravel(kk, k, n, ki);
        bool ok = true, inpad = true;
        int64_t off = 0, pos[3];
        for (int32_t i = 0; i < n; i++) {
          pos[i] = oi[i] * s[i] + ki[i] * d[i] - pb[i];
          if (pos[i] < 0 || pos[i] >= in[i]) ok = false;
          if (pos[i] >= in[i] + pe[i]) inpad = false;
          off = off * in[i] + pos[i];
        }
        cntp += inpad;
        if (!ok) continue;
        double v = xv[pl * isz + off];
        cnt++;
        if (is_max) {
          if (v > acc) {
            acc = v;
            best = off;
            if (storage_order) {
              best = 0;
              for (int32_t i = n - 1; i >= 0; i--) best = best * in[i] + pos[i];
            }
          }
        } else {
          acc += is_lp ? v * v : v;
        }
      }
      want[pl * osz + o] = is_max ? acc : is_lp ? sqrt(acc) : acc / (double)(count_pad ? cntp : cnt);
      wi[pl * osz + o] = (double)(pl * isz + best);
    }
  qc_tensor x = kh_f32(n + 2, xd, xv);
  kh_node h;
  qc_op op = is_max ? QC_OP_MaxPool : is_lp ? QC_OP_LpPool : QC_OP_AveragePool;
  kh_init(&h, op, 22, 1, (qc_tensor *[]){&x}, is_max ? 2 : 1);
  kh_ints(&h, "kernel_shape", n, k);
  kh_ints(&h, "strides", n, s);
  kh_ints(&h, "dilations", n, d);
  int64_t pads[6];
  for (int32_t i = 0; i < n; i++) pads[i] = pb[i], pads[i + n] = pe[i];
  kh_ints(&h, "pads", 2 * n, pads);
  kh_int(&h, "ceil_mode", ceil_mode);
  if (!is_max && !is_lp) kh_int(&h, "count_include_pad", count_pad);
  if (is_max) kh_int(&h, "storage_order", storage_order);
  kh_run(&h, threads);
  kh_expect_shape(&h, 0, n + 2, yd);
  char what[64];
  snprintf(what, sizeof what, "%s pool %dd ceil=%d", kind, n, ceil_mode);
  kh_expect_near(&h, 0, want, 6 * osz, 1e-5, 1e-5, what);
  if (is_max) {
    ck_assert_int_eq(kh_out(&h, 1)->dtype, QC_I64);
    kh_expect_near(&h, 1, wi, 6 * osz, 0, 0, "MaxPool indices");
  }
  kh_free(&h);
  qc_tensor_release(&x);
  free(xv);
  free(want);
  free(wi);
}

START_TEST(pools) {
  const char *kinds[] = {"max", "avg", "lp"};
  for (int32_t t = 1; t <= 2; t++)
    for (int ki = 0; ki < 3; ki++) {
      pool_case(kinds[ki], 2, (int64_t[]){7, 8}, (int64_t[]){3, 2}, (int64_t[]){2, 2},
                (int64_t[]){1, 1}, (int64_t[]){1, 0}, (int64_t[]){1, 1}, false, false, 0, t);
      pool_case(kinds[ki], 2, (int64_t[]){7, 8}, (int64_t[]){3, 3}, (int64_t[]){2, 3},
                (int64_t[]){1, 1}, (int64_t[]){1, 1}, (int64_t[]){1, 1}, true, true, 1, t);
      pool_case(kinds[ki], 2, (int64_t[]){9, 9}, (int64_t[]){2, 2}, (int64_t[]){1, 2},
                (int64_t[]){2, 2}, (int64_t[]){0, 0}, (int64_t[]){0, 0}, true, false, 0, t);
      pool_case(kinds[ki], 1, (int64_t[]){11}, (int64_t[]){4}, (int64_t[]){3}, (int64_t[]){1},
                (int64_t[]){2}, (int64_t[]){2}, true, true, 0, t);
      pool_case(kinds[ki], 3, (int64_t[]){4, 5, 6}, (int64_t[]){2, 2, 3}, (int64_t[]){2, 1, 2},
                (int64_t[]){1, 2, 1}, (int64_t[]){1, 0, 1}, (int64_t[]){0, 1, 1}, false, true, 1, t);
    }
}
END_TEST

START_TEST(global_pools) {
  int64_t xd[4] = {2, 3, 4, 5};
  float xv[120];
  kh_fill(xv, 120, 41);
  qc_tensor x = kh_f32(4, xd, xv);
  const qc_op ops[3] = {QC_OP_GlobalMaxPool, QC_OP_GlobalAveragePool, QC_OP_GlobalLpPool};
  for (int o = 0; o < 3; o++) {
    double want[6];
    for (int p = 0; p < 6; p++) {
      double acc = o == 0 ? -INFINITY : 0;
      for (int i = 0; i < 20; i++) {
        double v = xv[p * 20 + i];
        if (o == 0) acc = v > acc ? v : acc;
        else if (o == 1) acc += v / 20;
        else acc += fabs(v * v * v);
      }
      want[p] = o == 2 ? cbrt(acc) : acc;
    }
    kh_node h;
    kh_init(&h, ops[o], 22, 1, (qc_tensor *[]){&x}, 1);
    if (o == 2) kh_int(&h, "p", 3);
    kh_run(&h, 2);
    kh_expect_shape(&h, 0, 4, (int64_t[]){2, 3, 1, 1});
    kh_expect_near(&h, 0, want, 6, 1e-5, 1e-5, "global pool");
    kh_free(&h);
  }
  qc_tensor_release(&x);
}
END_TEST

/* ---- normalizations --------------------------------------------------------------------- */

START_TEST(batch_norm) {
  int64_t xd[3] = {2, 3, 5}, cd[1] = {3};
  float xv[30], sv[3] = {1.5f, -0.5f, 2}, bv[3] = {0.1f, 0.2f, 0.3f}, mv[3] = {0.5f, -1, 0},
        vv[3] = {1, 0.25f, 4};
  kh_fill(xv, 30, 51);
  qc_tensor x = kh_f32(3, xd, xv), sc = kh_f32(1, cd, sv), b = kh_f32(1, cd, bv),
            mn = kh_f32(1, cd, mv), vr = kh_f32(1, cd, vv);
  kh_node h;
  kh_init(&h, QC_OP_BatchNormalization, 15, 5, (qc_tensor *[]){&x, &sc, &b, &mn, &vr}, 1);
  kh_float(&h, "epsilon", 1e-3);
  kh_run(&h, 1);
  double want[30];
  for (int i = 0; i < 30; i++) {
    int c = (i / 5) % 3;
    want[i] = sv[c] * (xv[i] - mv[c]) / sqrt(vv[c] + 1e-3) + bv[c];
  }
  kh_expect_near(&h, 0, want, 30, 1e-5, 1e-5, "BatchNorm inference");
  kh_free(&h);
  /* training_mode: batch statistics, running mean/var updated with momentum */
  kh_init(&h, QC_OP_BatchNormalization, 15, 5, (qc_tensor *[]){&x, &sc, &b, &mn, &vr}, 3);
  kh_int(&h, "training_mode", 1);
  kh_float(&h, "momentum", 0.8);
  kh_run(&h, 2);
  double bm[3] = {0}, bvv[3] = {0}, rm[3], rv[3];
  for (int i = 0; i < 30; i++) bm[(i / 5) % 3] += xv[i] / 10.0;
  for (int i = 0; i < 30; i++) bvv[(i / 5) % 3] += (xv[i] - bm[(i / 5) % 3]) * (xv[i] - bm[(i / 5) % 3]) / 10.0;
  for (int i = 0; i < 30; i++) {
    int c = (i / 5) % 3;
    want[i] = sv[c] * (xv[i] - bm[c]) / sqrt(bvv[c] + 1e-5) + bv[c];
  }
  for (int c = 0; c < 3; c++) rm[c] = mv[c] * 0.8 + bm[c] * 0.2, rv[c] = vv[c] * 0.8 + bvv[c] * 0.2;
  kh_expect_near(&h, 0, want, 30, 1e-5, 1e-5, "BatchNorm training Y");
  kh_expect_near(&h, 1, rm, 3, 1e-6, 1e-5, "running mean");
  kh_expect_near(&h, 2, rv, 3, 1e-6, 1e-5, "running var");
  kh_free(&h);
  qc_tensor_release(&x), qc_tensor_release(&sc), qc_tensor_release(&b), qc_tensor_release(&mn),
      qc_tensor_release(&vr);
}
END_TEST

START_TEST(layer_and_rms_norm) {
  int64_t xd[3] = {2, 3, 4};
  float xv[24], sv[12], bv[12];
  kh_fill(xv, 24, 61);
  kh_fill(sv, 12, 62);
  kh_fill(bv, 12, 63);
  qc_tensor x = kh_f32(3, xd, xv);
  for (int axis = -1; axis >= -2; axis--) {
    int64_t cols = axis == -1 ? 4 : 12, rows = 24 / cols;
    /* scale of the normalized shape for axis -2: [3, 4]; bias broadcast from [4] */
    qc_tensor sc = axis == -1 ? kh_f32(1, (int64_t[]){4}, sv) : kh_f32(2, (int64_t[]){3, 4}, sv);
    qc_tensor b = kh_f32(1, (int64_t[]){4}, bv);
    for (int rms = 0; rms < 2; rms++) {
      kh_node h;
      kh_init(&h, rms ? QC_OP_RMSNormalization : QC_OP_LayerNormalization, 23, rms ? 2 : 3,
              (qc_tensor *[]){&x, &sc, &b}, rms ? 1 : 3);
      kh_int(&h, "axis", axis);
      kh_float(&h, "epsilon", 1e-4);
      kh_run(&h, 2);
      double want[24], wm[6], wi[6];
      for (int64_t r = 0; r < rows; r++) {
        double m = 0, v = 0;
        for (int64_t c = 0; c < cols; c++) m += xv[r * cols + c] / (double)cols;
        if (rms) m = 0;
        for (int64_t c = 0; c < cols; c++) v += (xv[r * cols + c] - m) * (xv[r * cols + c] - m) / (double)cols;
        wm[r] = m;
        wi[r] = 1 / sqrt(v + 1e-4);
        for (int64_t c = 0; c < cols; c++)
          want[r * cols + c] = (xv[r * cols + c] - m) * wi[r] * sv[c] + (rms ? 0 : bv[c % 4]);
      }
      kh_expect_near(&h, 0, want, 24, 1e-5, 1e-5, rms ? "RMSNorm" : "LayerNorm");
      if (!rms) {
        int64_t sd[3] = {2, axis == -1 ? 3 : 1, 1};
        kh_expect_shape(&h, 1, 3, sd);
        kh_expect_near(&h, 1, wm, rows, 1e-6, 1e-5, "LayerNorm mean");
        kh_expect_near(&h, 2, wi, rows, 1e-6, 1e-5, "LayerNorm inv std");
      }
      kh_free(&h);
      /* f64 computes in double: the reference holds to rounding. */
      qc_tensor dx = kh_as_f64(&x), dsc = kh_as_f64(&sc), db = kh_as_f64(&b);
      kh_init(&h, rms ? QC_OP_RMSNormalization : QC_OP_LayerNormalization, 23, rms ? 2 : 3,
              (qc_tensor *[]){&dx, &dsc, &db}, rms ? 1 : 3);
      kh_int(&h, "axis", axis);
      kh_float(&h, "epsilon", 1e-4);
      kh_run(&h, 2);
      ck_assert_int_eq(kh_out(&h, 0)->dtype, QC_F64);
      kh_expect_near(&h, 0, want, 24, 1e-14, 1e-13, rms ? "RMSNorm (f64)" : "LayerNorm (f64)");
      if (!rms) {
        kh_expect_near(&h, 1, wm, rows, 1e-15, 1e-14, "LayerNorm mean (f64)");
        kh_expect_near(&h, 2, wi, rows, 1e-14, 1e-13, "LayerNorm inv std (f64)");
      }
      kh_free(&h);
      qc_tensor_release(&dx), qc_tensor_release(&dsc), qc_tensor_release(&db);
    }
    qc_tensor_release(&sc);
    qc_tensor_release(&b);
  }
  qc_tensor_release(&x);
}
END_TEST

START_TEST(group_and_instance_norm) {
  int64_t xd[4] = {2, 4, 3, 2};
  float xv[48], sv[4] = {1, 2, -1, 0.5f}, bv[4] = {0, 1, 2, 3};
  kh_fill(xv, 48, 71);
  qc_tensor x = kh_f32(4, xd, xv), sc = kh_f32(1, (int64_t[]){4}, sv), b = kh_f32(1, (int64_t[]){4}, bv);
  for (int inst = 0; inst < 2; inst++) {
    int64_t groups = inst ? 4 : 2, cg = 4 / groups, cols = cg * 6;
    kh_node h;
    kh_init(&h, inst ? QC_OP_InstanceNormalization : QC_OP_GroupNormalization, 21, 3,
            (qc_tensor *[]){&x, &sc, &b}, 1);
    if (!inst) kh_int(&h, "num_groups", groups);
    kh_float(&h, "epsilon", 1e-3);
    kh_run(&h, 2);
    double want[48];
    for (int64_t r = 0; r < 2 * groups; r++) {
      double m = 0, v = 0;
      for (int64_t c = 0; c < cols; c++) m += xv[r * cols + c] / (double)cols;
      for (int64_t c = 0; c < cols; c++) v += (xv[r * cols + c] - m) * (xv[r * cols + c] - m) / (double)cols;
      for (int64_t c = 0; c < cols; c++) {
        int64_t ch = (r % groups) * cg + c / 6;
        want[r * cols + c] = (xv[r * cols + c] - m) / sqrt(v + 1e-3) * sv[ch] + bv[ch];
      }
    }
    kh_expect_near(&h, 0, want, 48, 1e-5, 1e-5, inst ? "InstanceNorm" : "GroupNorm");
    kh_free(&h);
  }
  qc_tensor_release(&x), qc_tensor_release(&sc), qc_tensor_release(&b);
}
END_TEST

START_TEST(lrn) {
  int64_t xd[4] = {1, 5, 2, 2};
  float xv[20];
  kh_fill(xv, 20, 81);
  qc_tensor x = kh_f32(4, xd, xv);
  kh_node h;
  kh_init(&h, QC_OP_LRN, 13, 1, (qc_tensor *[]){&x}, 1);
  kh_int(&h, "size", 4);
  kh_float(&h, "alpha", 0.1);
  kh_float(&h, "beta", 0.6);
  kh_float(&h, "bias", 2);
  kh_run(&h, 1);
  double want[20];
  for (int c = 0; c < 5; c++)
    for (int r = 0; r < 4; r++) {
      double ss = 0;
      for (int i = c - 1; i <= c + 2; i++)
        if (i >= 0 && i < 5) ss += xv[i * 4 + r] * xv[i * 4 + r];
      want[c * 4 + r] = xv[c * 4 + r] / pow(2 + 0.1 / 4 * ss, 0.6);
    }
  kh_expect_near(&h, 0, want, 20, 1e-6, 1e-5, "LRN");
  kh_free(&h);
  qc_tensor_release(&x);
}
END_TEST

START_TEST(dropout) {
  int64_t xd[2] = {3, 4};
  float xv[12];
  kh_fill(xv, 12, 91);
  qc_tensor x = kh_f32(2, xd, xv);
  qc_tensor r = kh_tensor(QC_F32, 0, NULL, (double[]){0.5});
  qc_tensor t = kh_tensor(QC_BOOL, 0, NULL, (double[]){1});
  kh_node h;
  /* Inference: identity and an all-true mask. */
  kh_init(&h, QC_OP_Dropout, 13, 1, (qc_tensor *[]){&x}, 2);
  kh_run(&h, 1);
  double id[12], ones[12];
  for (int i = 0; i < 12; i++) id[i] = xv[i], ones[i] = 1;
  kh_expect_near(&h, 0, id, 12, 0, 0, "Dropout inference");
  kh_expect_near(&h, 1, ones, 12, 0, 0, "Dropout mask");
  kh_free(&h);
  /* Training with seed 0: numpy RandomState(0).uniform(0, 1, 12) >= 0.5. */
  static const int keep[12] = {1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1};
  kh_init(&h, QC_OP_Dropout, 13, 3, (qc_tensor *[]){&x, &r, &t}, 2);
  kh_int(&h, "seed", 0);
  kh_run(&h, 1);
  double want[12], wm[12];
  for (int i = 0; i < 12; i++) want[i] = keep[i] ? xv[i] * 2.0 : 0, wm[i] = keep[i];
  kh_expect_near(&h, 0, want, 12, 1e-6, 0, "Dropout training");
  kh_expect_near(&h, 1, wm, 12, 0, 0, "Dropout training mask");
  kh_free(&h);
  qc_tensor_release(&x), qc_tensor_release(&r), qc_tensor_release(&t);
}
END_TEST

START_TEST(max_unpool) {
  int64_t xd[4] = {1, 1, 2, 2};
  float xv[4] = {5, 6, 7, 8};
  qc_tensor x = kh_f32(4, xd, xv);
  qc_tensor ind = kh_tensor(QC_I64, 4, xd, (double[]){5, 7, 13, 15});
  kh_node h;
  kh_init(&h, QC_OP_MaxUnpool, 11, 2, (qc_tensor *[]){&x, &ind}, 1);
  kh_ints(&h, "kernel_shape", 2, (int64_t[]){2, 2});
  kh_ints(&h, "strides", 2, (int64_t[]){2, 2});
  kh_run(&h, 1);
  kh_expect_shape(&h, 0, 4, (int64_t[]){1, 1, 4, 4});
  double want[16] = {0};
  want[5] = 5, want[7] = 6, want[13] = 7, want[15] = 8;
  kh_expect_near(&h, 0, want, 16, 0, 0, "MaxUnpool");
  kh_free(&h);
  qc_tensor_release(&x), qc_tensor_release(&ind);
}
END_TEST

START_TEST(f16_conv) {
  /* f16 in, f16 out: computed in f32 and rounded once. */
  int64_t xd[4] = {1, 2, 4, 4}, wd[4] = {3, 2, 3, 3};
  float xv[32], wv[54];
  kh_fill(xv, 32, 101);
  kh_fill(wv, 54, 102);
  double xdv[32], wdv[54];
  for (int i = 0; i < 32; i++) xdv[i] = xv[i];
  for (int i = 0; i < 54; i++) wdv[i] = wv[i];
  qc_tensor x = kh_tensor(QC_F16, 4, xd, xdv), w = kh_tensor(QC_F16, 4, wd, wdv);
  for (int i = 0; i < 32; i++) xv[i] = qc_f16_to_f32(((uint16_t *)qc_tensor_data(&x))[i]);
  for (int i = 0; i < 54; i++) wv[i] = qc_f16_to_f32(((uint16_t *)qc_tensor_data(&w))[i]);
  geo g = {2, {4, 4}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}};
  geo_out(&g);
  double want[48];
  conv_ref(&g, 1, 2, 3, 1, xv, wv, NULL, want);
  for (int i = 0; i < 48; i++) want[i] = qc_f16_to_f32(qc_f32_to_f16((float)want[i]));
  kh_node h;
  kh_init(&h, QC_OP_Conv, 22, 2, (qc_tensor *[]){&x, &w}, 1);
  kh_ints(&h, "pads", 4, (int64_t[]){1, 1, 1, 1});
  kh_run(&h, 1);
  ck_assert_int_eq(kh_out(&h, 0)->dtype, QC_F16);
  kh_expect_near(&h, 0, want, 48, 1e-3, 1e-3, "f16 Conv");
  kh_free(&h);
  qc_tensor_release(&x), qc_tensor_release(&w);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_nn");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, conv_shapes);
  tcase_add_test(tc, conv_transpose);
  tcase_add_test(tc, pools);
  tcase_add_test(tc, global_pools);
  tcase_add_test(tc, batch_norm);
  tcase_add_test(tc, layer_and_rms_norm);
  tcase_add_test(tc, group_and_instance_norm);
  tcase_add_test(tc, lrn);
  tcase_add_test(tc, dropout);
  tcase_add_test(tc, max_unpool);
  tcase_add_test(tc, f16_conv);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
