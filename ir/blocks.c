/*
 * Block-quantized types: GGUF's Q4_0 .. Q8_K and MXFP4, and OCP MX blocks.
 *
 * Byte layouts (all little-endian; f16 is IEEE half):
 *   Q4_0  (32 el, 18 B): f16 d; u8 qs[16]               y[j] = (lo(qs[j]) - 8) d, y[j+16] = (hi - 8) d
 *   Q4_1  (32 el, 20 B): f16 d; f16 m; u8 qs[16]        y = q d + m
 *   Q5_0  (32 el, 22 B): f16 d; u8 qh[4]; u8 qs[16]     5th bit of element j in bit j of qh
 *   Q5_1  (32 el, 24 B): f16 d; f16 m; u8 qh[4]; u8 qs[16]
 *   Q8_0  (32 el, 34 B): f16 d; i8 qs[32]
 *   Q8_1  (32 el, 36 B): f16 d; f16 s (= d * sum qs); i8 qs[32]
 *   Q2_K (256 el, 84 B): u8 scales[16]; u8 qs[64]; f16 d; f16 dmin
 *   Q3_K (256 el,110 B): u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d
 *   Q4_K (256 el,144 B): f16 d; f16 dmin; u8 scales[12]; u8 qs[128]
 *   Q5_K (256 el,176 B): f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
 *   Q6_K (256 el,210 B): u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d
 *   Q8_K (256 el,292 B): f32 d; i8 qs[256]; i16 bsums[16]
 *   GGML_MXFP4 (32 el, 17 B): u8 e (E8M0); u8 qs[16], byte j = e2m1(y[j]) | e2m1(y[j+16]) << 4
 *   MX blocks (OCP): u8 e (E8M0 scale); 32 elements as a dense LSB-first bit stream
 *     (fp4: 16 B, fp6: 24 B, fp8/int8: 32 B). Element value * 2^(e-127); MXINT8 element
 *     q is worth q * 2^-6.
 * Formulas and reference quantizers follow ggml's ggml-quants.c (dequantize_row_*,
 * quantize_row_*_ref, for Q4_K and Q6_K the weighted scale searches of make_qkx2_quants and
 * make_qx_quants without an importance matrix) so results are bit-identical to ggml's.
 */
#include "quarc/dtype.h"

#include <float.h>
#include <math.h>
#include <string.h>

static inline float rd_f16(const uint8_t *p) {
  uint16_t h;
  memcpy(&h, p, 2);
  return qc_f16_to_f32(h);
}
static inline void wr_f16(uint8_t *p, float v) {
  uint16_t h = qc_f32_to_f16(v);
  memcpy(p, &h, 2);
}

static void get_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

static const int8_t KV_MXFP4[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/* ggml's GGML_E8M0_TO_FP32_HALF: 2^(e-127) / 2 */
static inline float e8m0_half(uint8_t e) { return ldexpf(1.0f, (int)e - 128); }

static int mx_elem_emax(qc_dtype el) {
  switch (el) {
  case QC_F4E2M1: return 2;
  case QC_F6E2M3: return 2;
  case QC_F6E3M2: return 4;
  case QC_F8E4M3FN: return 8;
  case QC_F8E5M2: return 15;
  default: return 0; /* int8 */
  }
}

void qc_block_dequantize(qc_dtype dt, const void *src, float *y, size_t n) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  const uint8_t *b = src;
  size_t nb = n / t->block_elems;
  for (size_t i = 0; i < nb; i++, b += t->block_bytes, y += t->block_elems) {
    switch (dt) {
    case QC_Q4_0: {
      float d = rd_f16(b);
      const uint8_t *qs = b + 2;
      for (int j = 0; j < 16; j++) {
        y[j] = (float)((qs[j] & 0xF) - 8) * d;
        y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
      }
      break;
    }
    case QC_Q4_1: {
      float d = rd_f16(b), m = rd_f16(b + 2);
      const uint8_t *qs = b + 4;
      for (int j = 0; j < 16; j++) {
        y[j] = (float)(qs[j] & 0xF) * d + m;
        y[j + 16] = (float)(qs[j] >> 4) * d + m;
      }
      break;
    }
    case QC_Q5_0: {
      float d = rd_f16(b);
      uint32_t qh;
      memcpy(&qh, b + 2, 4);
      const uint8_t *qs = b + 6;
      for (int j = 0; j < 16; j++) {
        uint8_t xh0 = (uint8_t)(((qh >> (j + 0)) << 4) & 0x10);
        uint8_t xh1 = (uint8_t)(((qh >> (j + 12))) & 0x10);
        int32_t x0 = ((qs[j] & 0x0F) | xh0) - 16;
        int32_t x1 = ((qs[j] >> 4) | xh1) - 16;
        y[j] = (float)x0 * d;
        y[j + 16] = (float)x1 * d;
      }
      break;
    }
    case QC_Q5_1: {
      float d = rd_f16(b), m = rd_f16(b + 2);
      uint32_t qh;
      memcpy(&qh, b + 4, 4);
      const uint8_t *qs = b + 8;
      for (int j = 0; j < 16; j++) {
        uint8_t xh0 = (uint8_t)(((qh >> (j + 0)) << 4) & 0x10);
        uint8_t xh1 = (uint8_t)(((qh >> (j + 12))) & 0x10);
        int x0 = (qs[j] & 0x0F) | xh0;
        int x1 = (qs[j] >> 4) | xh1;
        y[j] = (float)x0 * d + m;
        y[j + 16] = (float)x1 * d + m;
      }
      break;
    }
    case QC_Q8_0: {
      float d = rd_f16(b);
      for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
      break;
    }
    case QC_Q8_1: {
      float d = rd_f16(b);
      for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[4 + j] * d;
      break;
    }
    case QC_Q2_K: {
      const uint8_t *sc = b, *q = b + 16;
      float d = rd_f16(b + 80), min = rd_f16(b + 82);
      float *yy = y;
      int is = 0;
      for (int nn = 0; nn < 256; nn += 128) {
        int shift = 0;
        for (int j = 0; j < 4; ++j) {
          uint8_t s = sc[is++];
          float dl = d * (float)(s & 0xF), ml = min * (float)(s >> 4);
          for (int l = 0; l < 16; ++l) *yy++ = dl * (float)((int8_t)((q[l] >> shift) & 3)) - ml;
          s = sc[is++];
          dl = d * (float)(s & 0xF);
          ml = min * (float)(s >> 4);
          for (int l = 0; l < 16; ++l)
            *yy++ = dl * (float)((int8_t)((q[l + 16] >> shift) & 3)) - ml;
          shift += 2;
        }
        q += 32;
      }
      break;
    }
    case QC_Q3_K: {
      const uint8_t *hm = b, *q = b + 32;
      float d_all = rd_f16(b + 108);
      const uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
      uint32_t aux[4];
      memcpy(aux, b + 96, 12);
      uint32_t tmp = aux[2];
      aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
      aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
      aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
      aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
      int8_t scales[16];
      memcpy(scales, aux, 16);
      float *yy = y;
      int is = 0;
      uint8_t m = 1;
      for (int nn = 0; nn < 256; nn += 128) {
        int shift = 0;
        for (int j = 0; j < 4; ++j) {
          float dl = d_all * (float)(scales[is++] - 32);
          for (int l = 0; l < 16; ++l)
            *yy++ = dl * (float)((int8_t)((q[l + 0] >> shift) & 3) - ((hm[l + 0] & m) ? 0 : 4));
          dl = d_all * (float)(scales[is++] - 32);
          for (int l = 0; l < 16; ++l)
            *yy++ = dl * (float)((int8_t)((q[l + 16] >> shift) & 3) - ((hm[l + 16] & m) ? 0 : 4));
          shift += 2;
          m = (uint8_t)(m << 1);
        }
        q += 32;
      }
      break;
    }
    case QC_Q4_K: {
      float d = rd_f16(b), min = rd_f16(b + 2);
      const uint8_t *scales = b + 4, *q = b + 16;
      float *yy = y;
      int is = 0;
      for (int j = 0; j < 256; j += 64) {
        uint8_t sc, m;
        get_scale_min_k4(is + 0, scales, &sc, &m);
        float d1 = d * sc, m1 = min * m;
        get_scale_min_k4(is + 1, scales, &sc, &m);
        float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *yy++ = d1 * (float)(q[l] & 0xF) - m1;
        for (int l = 0; l < 32; ++l) *yy++ = d2 * (float)(q[l] >> 4) - m2;
        q += 32;
        is += 2;
      }
      break;
    }
    case QC_Q5_K: {
      float d = rd_f16(b), min = rd_f16(b + 2);
      const uint8_t *scales = b + 4, *qh = b + 16, *ql = b + 48;
      float *yy = y;
      int is = 0;
      uint8_t u1 = 1, u2 = 2;
      for (int j = 0; j < 256; j += 64) {
        uint8_t sc, m;
        get_scale_min_k4(is + 0, scales, &sc, &m);
        float d1 = d * sc, m1 = min * m;
        get_scale_min_k4(is + 1, scales, &sc, &m);
        float d2 = d * sc, m2 = min * m;
        for (int l = 0; l < 32; ++l) *yy++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; ++l) *yy++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        ql += 32;
        is += 2;
        u1 = (uint8_t)(u1 << 2);
        u2 = (uint8_t)(u2 << 2);
      }
      break;
    }
    case QC_Q6_K: {
      const uint8_t *ql = b, *qh = b + 128;
      const int8_t *sc = (const int8_t *)(b + 192);
      float d = rd_f16(b + 208);
      float *yy = y;
      for (int nn = 0; nn < 256; nn += 128) {
        for (int l = 0; l < 32; ++l) {
          int is = l / 16;
          int8_t q1 = (int8_t)((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
          int8_t q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
          int8_t q3 = (int8_t)((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
          int8_t q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
          yy[l + 0] = d * (float)sc[is + 0] * q1;
          yy[l + 32] = d * (float)sc[is + 2] * q2;
          yy[l + 64] = d * (float)sc[is + 4] * q3;
          yy[l + 96] = d * (float)sc[is + 6] * q4;
        }
        yy += 128;
        ql += 64;
        qh += 32;
        sc += 8;
      }
      break;
    }
    case QC_Q8_K: {
      float d;
      memcpy(&d, b, 4);
      for (int j = 0; j < 256; j++) y[j] = d * (float)(int8_t)b[4 + j];
      break;
    }
    case QC_GGML_MXFP4: {
      float d = e8m0_half(b[0]);
      for (int j = 0; j < 16; j++) {
        y[j] = (float)KV_MXFP4[b[1 + j] & 0xF] * d;
        y[j + 16] = (float)KV_MXFP4[b[1 + j] >> 4] * d;
      }
      break;
    }
    case QC_MXFP4:
    case QC_MXFP6E2M3:
    case QC_MXFP6E3M2:
    case QC_MXFP8E4M3:
    case QC_MXFP8E5M2:
    case QC_MXINT8: {
      double scale = qc_float_decode(QC_E8M0, b[0]);
      for (int j = 0; j < 32; j++) {
        double v = qc_elem_f64(t->block_elem, b + 1, (size_t)j);
        if (dt == QC_MXINT8) v *= 1.0 / 64.0;
        y[j] = (float)(v * scale);
      }
      break;
    }
    default: memset(y, 0, sizeof(float) * t->block_elems); break;
    }
  }
}

/* OCP MX element encoding with a given shared exponent (scale 2^scale_exp, -127..127). */
void qc_mx_block_encode(qc_dtype dt, const float *x, int scale_exp, uint8_t *out) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  if (scale_exp < -127) scale_exp = -127;
  out[0] = scale_exp > 127 ? 0xFF : (uint8_t)(scale_exp + 127);
  memset(out + 1, 0, (size_t)t->block_bytes - 1);
  for (int j = 0; j < 32; j++) {
    double v = ldexp((double)x[j], -scale_exp);
    if (dt == QC_MXINT8) {
      double q = qc_round(v * 64.0, 0);
      if (q > 127) q = 127;
      if (q < -127) q = -127;
      if (isnan(q)) q = 0;
      qc_elem_set_code(QC_I8, out + 1, (size_t)j, (uint64_t)(int64_t)q);
    } else {
      qc_elem_set_code(t->block_elem, out + 1, (size_t)j,
                       qc_float_encode(t->block_elem, v, QC_ENC_SATURATE));
    }
  }
}

/* ---- ggml's k-quant reference quantizers (quantize_row_q4_K_ref, quantize_row_q6_K_ref) ----- */

/* ggml's nearest_int: round half to even through the float mantissa (|x| < 2^22). */
static inline int nearest_int(float fval) {
  float val = fval + 12582912.f;
  int32_t i;
  memcpy(&i, &val, 4);
  return (i & 0x007fffff) - 0x00400000;
}

#define GROUP_MAX_EPS 1e-15f

/* Scale and min of n values as L*scale + min (L in [0, nmax]) minimizing the weighted
 * squared error over a search of nstep candidate scales (ggml's make_qkx2_quants with
 * use_mad = false). Returns the scale; *the_min gets -min (>= 0). */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep) {
  float min = x[0], max = x[0];
  float sum_w = weights[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *the_min = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_mad = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * (x[i] - min));
    L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
    float diff = scale * L[i] + min - x[i];
    best_mad += weights[i] * diff * diff;
  }
  if (nstep < 1) {
    *the_min = -min;
    return scale;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * (x[i] - min));
      l = l < 0 ? 0 : l > nmax ? nmax : l;
      Laux[i] = (uint8_t)l;
      float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float mad = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * Laux[i] + this_min - x[i];
        mad += weights[i] * diff * diff;
      }
      if (mad < best_mad) {
        for (int i = 0; i < n; ++i) L[i] = Laux[i];
        best_mad = mad;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

/* Symmetric scale of n values as L*scale, L in [-nmax, nmax-1] stored + nmax, searched over
 * 19 candidates by weighted least squares with weights x^2 (ggml's make_qx_quants with
 * rmse_type 1 and no importance weights). */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
  float max = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    float ax = fabsf(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < GROUP_MAX_EPS) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    int l = nearest_int(iscale * x[i]);
    l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
    L[i] = (int8_t)(l + nmax);
    float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      int l = nearest_int(iscale * x[i]);
      l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
      float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        L[i] = (int8_t)(nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l));
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/* One Q4_K block (256 values -> 144 bytes). */
static void quantize_q4_k_block(const float *x, uint8_t *y) {
  uint8_t L[256], Laux[32], sc[12] = {0};
  float weights[32], mins[8], scales[8];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    float av_x = sqrtf(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + fabsf(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < 8; ++j) {
    int ls = nearest_int(inv_scale * scales[j]), lm = nearest_int(inv_min * mins[j]);
    ls = ls > 63 ? 63 : ls;
    lm = lm > 63 ? 63 : lm;
    if (j < 4) {
      sc[j] = (uint8_t)ls;
      sc[j + 4] = (uint8_t)lm;
    } else {
      sc[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
      sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
      sc[j - 0] |= (uint8_t)((lm >> 4) << 6);
    }
  }
  wr_f16(y, max_scale / 63.f);
  wr_f16(y + 2, max_min / 63.f);
  memcpy(y + 4, sc, 12);
  float dd = rd_f16(y), dmin = rd_f16(y + 2);
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    get_scale_min_k4(j, sc, &s, &m);
    float d = dd * s;
    if (!d) continue;
    float dm = dmin * m;
    for (int ii = 0; ii < 32; ++ii) {
      int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = (uint8_t)(l < 0 ? 0 : l > 15 ? 15 : l);
    }
  }
  uint8_t *q = y + 16;
  for (int j = 0; j < 256; j += 64) {
    for (int l = 0; l < 32; ++l) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    q += 32;
  }
}

/* One Q6_K block (256 values -> 210 bytes). */
static void quantize_q6_k_block(const float *x, uint8_t *y) {
  int8_t L[256];
  float scales[16];
  float max_scale = 0, max_abs_scale = 0;
  for (int ib = 0; ib < 16; ++ib) {
    float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
    scales[ib] = scale;
    float abs_scale = fabsf(scale);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scale;
    }
  }
  memset(y, 0, 210);
  if (max_abs_scale < GROUP_MAX_EPS) return; /* d = 0, everything zero */
  uint8_t *ql = y, *qh = y + 128;
  int8_t *sc = (int8_t *)(y + 192);
  float iscale = -128.f / max_scale;
  wr_f16(y + 208, 1 / iscale);
  for (int ib = 0; ib < 16; ++ib) {
    int v = nearest_int(iscale * scales[ib]);
    sc[ib] = (int8_t)(v < 127 ? v : 127);
  }
  float d0 = rd_f16(y + 208);
  for (int j = 0; j < 16; ++j) {
    float d = d0 * sc[j];
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearest_int(x[16 * j + ii] / d);
      l = l < -32 ? -32 : l > 31 ? 31 : l;
      L[16 * j + ii] = (int8_t)(l + 32);
    }
  }
  for (int j = 0; j < 256; j += 128) {
    for (int l = 0; l < 32; ++l) {
      uint8_t q1 = (uint8_t)(L[j + l + 0] & 0xF), q2 = (uint8_t)(L[j + l + 32] & 0xF);
      uint8_t q3 = (uint8_t)(L[j + l + 64] & 0xF), q4 = (uint8_t)(L[j + l + 96] & 0xF);
      ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
      ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
      qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                        ((L[j + l + 96] >> 4) << 6));
    }
    ql += 64;
    qh += 32;
  }
}

bool qc_block_quantize(qc_dtype dt, const float *x, void *dst, size_t n) {
  const qc_dtype_traits *t = qc_dtype_traits_of(dt);
  switch (dt) {
  case QC_Q4_0: case QC_Q4_1: case QC_Q5_0: case QC_Q5_1: case QC_Q8_0: case QC_Q8_1:
  case QC_GGML_MXFP4: case QC_MXFP4: case QC_MXFP6E2M3: case QC_MXFP6E3M2: case QC_MXFP8E4M3:
  case QC_MXFP8E5M2: case QC_MXINT8: case QC_Q4_K: case QC_Q6_K: break;
  default: return false;
  }
  uint8_t *b = dst;
  size_t nb = n / t->block_elems;
  for (size_t i = 0; i < nb; i++, b += t->block_bytes, x += t->block_elems) {
    switch (dt) {
    case QC_Q4_0:
    case QC_Q5_0: {
      float amax = 0, max = 0;
      for (int j = 0; j < 32; j++)
        if (amax < fabsf(x[j])) {
          amax = fabsf(x[j]);
          max = x[j];
        }
      bool five = dt == QC_Q5_0;
      float d = max / (five ? -16.0f : -8.0f);
      float id = d ? 1.0f / d : 0.0f;
      wr_f16(b, d);
      uint32_t qh = 0;
      uint8_t *qs = b + (five ? 6 : 2);
      for (int j = 0; j < 16; j++) {
        float x0 = x[j] * id, x1 = x[16 + j] * id;
        if (five) {
          int xi0 = (int8_t)(x0 + 16.5f), xi1 = (int8_t)(x1 + 16.5f);
          if (xi0 > 31) xi0 = 31;
          if (xi1 > 31) xi1 = 31;
          qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
          qh |= ((uint32_t)(xi0 & 0x10) >> 4) << (j + 0);
          qh |= ((uint32_t)(xi1 & 0x10) >> 4) << (j + 16);
        } else {
          int xi0 = (int8_t)(x0 + 8.5f), xi1 = (int8_t)(x1 + 8.5f);
          if (xi0 > 15) xi0 = 15;
          if (xi1 > 15) xi1 = 15;
          qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
      }
      if (five) memcpy(b + 2, &qh, 4);
      break;
    }
    case QC_Q4_1:
    case QC_Q5_1: {
      float min = FLT_MAX, max = -FLT_MAX;
      for (int j = 0; j < 32; j++) {
        if (x[j] < min) min = x[j];
        if (x[j] > max) max = x[j];
      }
      bool five = dt == QC_Q5_1;
      float d = (max - min) / (five ? 31.0f : 15.0f);
      float id = d ? 1.0f / d : 0.0f;
      wr_f16(b, d);
      wr_f16(b + 2, min);
      uint32_t qh = 0;
      uint8_t *qs = b + (five ? 8 : 4);
      for (int j = 0; j < 16; j++) {
        float x0 = (x[j] - min) * id, x1 = (x[16 + j] - min) * id;
        if (five) {
          uint8_t xi0 = (uint8_t)(x0 + 0.5f), xi1 = (uint8_t)(x1 + 0.5f);
          qs[j] = (uint8_t)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
          qh |= ((uint32_t)(xi0 & 0x10) >> 4) << (j + 0);
          qh |= ((uint32_t)(xi1 & 0x10) >> 4) << (j + 16);
        } else {
          int xi0 = (int8_t)(x0 + 0.5f), xi1 = (int8_t)(x1 + 0.5f);
          if (xi0 > 15) xi0 = 15;
          if (xi1 > 15) xi1 = 15;
          qs[j] = (uint8_t)(xi0 | (xi1 << 4));
        }
      }
      if (five) memcpy(b + 4, &qh, 4);
      break;
    }
    case QC_Q8_0:
    case QC_Q8_1: {
      float amax = 0;
      for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
      float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
      wr_f16(b, d);
      int off = dt == QC_Q8_1 ? 4 : 2, sum = 0;
      for (int j = 0; j < 32; j++) {
        int v = (int)roundf(x[j] * id);
        b[off + j] = (uint8_t)(int8_t)v;
        sum += v;
      }
      if (dt == QC_Q8_1) wr_f16(b + 2, (float)sum * d);
      break;
    }
    case QC_GGML_MXFP4: {
      float amax = 0;
      for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
      uint8_t e = amax > 0.0f ? (uint8_t)(floorf(log2f(amax)) - 2 + 127) : 0;
      float d = e8m0_half(e);
      b[0] = e;
      for (int j = 0; j < 32; j++) {
        int best = 0;
        float best_err = fabsf((float)KV_MXFP4[0] * d - x[j]);
        for (int k = 1; k < 16; k++) {
          float err = fabsf((float)KV_MXFP4[k] * d - x[j]);
          if (err < best_err) {
            best = k;
            best_err = err;
          }
        }
        if (j < 16) b[1 + j] = (uint8_t)best;
        else b[1 + j - 16] |= (uint8_t)(best << 4);
      }
      break;
    }
    case QC_Q4_K: quantize_q4_k_block(x, b); break;
    case QC_Q6_K: quantize_q6_k_block(x, b); break;
    case QC_MXFP4:
    case QC_MXFP6E2M3:
    case QC_MXFP6E3M2:
    case QC_MXFP8E4M3:
    case QC_MXFP8E5M2:
    case QC_MXINT8: {
      float amax = 0;
      for (int j = 0; j < 32; j++)
        if (fabsf(x[j]) > amax) amax = fabsf(x[j]);
      int e = -127;
      if (amax > 0) {
        int e2;
        frexpf(amax, &e2);
        e = e2 - 1 - mx_elem_emax(t->block_elem);
      }
      qc_mx_block_encode(dt, x, e, b);
      break;
    }
    default: break;
    }
  }
  return true;
}
