/* Bit-exact comparison with AMD Quark 0.13: tests/data/quark_goldens/<family>.qgld, made by
 * tests/oracle/gen_quark_goldens.py (Quark's own quantizer modules, torch on the CPU).
 * For every variant: build a quantizer from the specs, observe the calibration batches,
 * finalize, run the test tensor, and compare the output, every stage's scale and zero point,
 * and (when recorded) the real-quantized values, bit for bit (any NaN equals any NaN).
 * The run prints "<family>: n/m variants exact" and fails on any mismatch. */
#include "passes/quant/qjson.h"
#include "quarc/quant.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct arr {
  const char *name, *dtype;
  int32_t rank;
  int64_t shape[8];
  int64_t n;
  const uint8_t *data;
} arr;

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
    free(b);
    b = NULL;
  }
  fclose(f);
  if (b) *len = (size_t)n;
  return b;
}

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float *to_f32(const arr *a) {
  float *o = malloc(sizeof(float) * (size_t)(a->n ? a->n : 1));
  for (int64_t i = 0; i < a->n; i++) {
    if (strcmp(a->dtype, "f32") == 0) memcpy(&o[i], a->data + 4 * i, 4);
    else if (strcmp(a->dtype, "i32") == 0) o[i] = (float)(int32_t)rd32(a->data + 4 * i);
    else {
      double d;
      memcpy(&d, a->data + 8 * i, 8);
      o[i] = (float)d;
    }
  }
  return o;
}

static const arr *find(const arr *as, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (strcmp(as[i].name, name) == 0) return &as[i];
  return NULL;
}

static bool same(float a, float b) {
  if (isnan(a) && isnan(b)) return true;
  uint32_t x, y;
  memcpy(&x, &a, 4);
  memcpy(&y, &b, 4);
  return x == y;
}

static qc_dtype md_of(const char *s) {
  if (strcmp(s, "bfloat16") == 0) return QC_BF16;
  if (strcmp(s, "float16") == 0) return QC_F16;
  return QC_F32;
}

/* Compare n values; report the first mismatch into msg. Returns the mismatch count. */
static int64_t cmp(const char *what, const float *got, const float *want, int64_t n, char *msg,
                   size_t cap) {
  int64_t bad = 0;
  for (int64_t i = 0; i < n; i++)
    if (!same(got[i], want[i])) {
      if (!bad)
        snprintf(msg, cap, "%s[%lld]: got %.9g, Quark %.9g", what, (long long)i, got[i], want[i]);
      bad++;
    }
  return bad;
}

/* Run one record; returns true if exact. */
static bool run_record(const qj_value *h, const arr *as, int na, char *msg, size_t cap) {
  const qj_value *specs = qj_get(h, "specs");
  bool is_list = qj_get(h, "is_list")->kind == QJ_TRUE;
  /* Parse the specs through the config reader (the JSON is Quark's to_dict()). */
  qc_bytes b = {0};
  qc_bytes_puts(&b, "{\"global_quant_config\": {\"weight\": ");
  qj_put_value(&b, is_list ? specs : &specs->items[0], 0, 0, false);
  qc_bytes_puts(&b, "}}");
  qc_qconfig *cfg;
  qc_status s = qc_qconfig_from_json(b.p, b.n, "golden", &cfg);
  free(b.p);
  if (s) {
    snprintf(msg, cap, "config: %s", qc_status_message(s));
    qc_status_free(s);
    return false;
  }
  qc_dtype md = md_of(qj_get(h, "model_dtype")->s);
  qc_quantizer *q;
  s = qc_quantizer_create(&cfg->global_quant_config.weight, md, &q);
  bool ok = true;
  if (s) {
    snprintf(msg, cap, "create: %s", qc_status_message(s));
    qc_status_free(s);
    qc_qconfig_free(cfg);
    return false;
  }
  const qj_value *calib = qj_get(h, "calib");
  for (int32_t i = 0; i < calib->n && ok; i++) {
    const arr *c = find(as, na, calib->items[i].s);
    float *x = to_f32(c);
    s = qc_quantizer_observe(q, x, c->rank, c->shape);
    free(x);
    if (s) {
      snprintf(msg, cap, "observe %s: %s", c->name, qc_status_message(s));
      qc_status_free(s);
      ok = false;
    }
  }
  if (ok) {
    s = qc_quantizer_finalize(q);
    ck_assert_ptr_null(s);
  }
  const arr *xa = find(as, na, "x"), *ya = find(as, na, "y");
  float *x = to_f32(xa), *want = to_f32(ya);
  float *y = malloc(sizeof(float) * (size_t)(xa->n ? xa->n : 1));
  if (ok) {
    s = qc_quantizer_forward(q, x, xa->rank, xa->shape, y);
    if (s) {
      snprintf(msg, cap, "forward: %s", qc_status_message(s));
      qc_status_free(s);
      ok = false;
    }
  }
  bool y_checked = false;
  const qj_value *sp = qj_get(h, "stage_params");
  for (int32_t i = 0; i < sp->n && ok; i++) {
    if (sp->items[i].kind == QJ_NULL) continue;
    const arr *sa = find(as, na, sp->items[i].items[0].s);
    const arr *za = find(as, na, sp->items[i].items[1].s);
    const qc_qparams *p = qc_quantizer_params(q, i);
    if (!p) {
      snprintf(msg, cap, "stage %d: no parameters", (int)i);
      ok = false;
      break;
    }
    if (p->n != sa->n) {
      snprintf(msg, cap, "stage %d: %lld scales, Quark %lld", (int)i, (long long)p->n,
               (long long)sa->n);
      ok = false;
      break;
    }
    float *ws = to_f32(sa), *wz = to_f32(za);
    float *gz = malloc(sizeof(float) * (size_t)(p->n ? p->n : 1));
    for (int64_t k = 0; k < p->n; k++) gz[k] = (float)p->zero_point[k];
    char what[32];
    snprintf(what, sizeof what, "scale%d", (int)i);
    if (cmp(what, p->scale, ws, p->n, msg, cap)) ok = false;
    snprintf(what, sizeof what, "zp%d", (int)i);
    if (ok && cmp(what, gz, wz, p->n, msg, cap)) ok = false;
    /* the scale's dtype: Quark's tensor dtype */
    const char *sdt = sp->items[i].items[2].s;
    qc_dtype want_dt = strcmp(sdt, "bfloat16") == 0 ? QC_BF16
                       : strcmp(sdt, "float16") == 0 ? QC_F16
                                                     : QC_F32;
    if (ok && p->scale_dtype != want_dt) {
      snprintf(msg, cap, "stage %d: scale dtype %s, Quark %s", (int)i,
               qc_dtype_name(p->scale_dtype), sdt);
      ok = false;
    }
    free(ws);
    free(wz);
    free(gz);
  }
  if (ok && !y_checked && cmp("y", y, want, xa->n, msg, cap)) ok = false;
  const qj_value *real = qj_get(h, "real");
  if (ok && real && real->kind == QJ_STRING) {
    const arr *ra = find(as, na, real->s);
    float *wr = to_f32(ra);
    s = qc_quantizer_real_quantize(q, x, xa->rank, xa->shape, y);
    if (s) {
      snprintf(msg, cap, "real: %s", qc_status_message(s));
      qc_status_free(s);
      ok = false;
    } else if (cmp("real", y, wr, ra->n, msg, cap)) {
      ok = false;
    }
    free(wr);
  }
  free(x);
  free(y);
  free(want);
  qc_quantizer_free(q);
  qc_qconfig_free(cfg);
  return ok;
}

static int64_t g_total, g_bad;

static void run_family(const char *family) {
  const char *src = getenv("QUARC_SOURCE_DIR");
  ck_assert_msg(src, "QUARC_SOURCE_DIR must be set (CTest sets it)");
  char path[4096];
  snprintf(path, sizeof path, "%s/tests/data/quark_goldens/%s.qgld", src, family);
  size_t len;
  uint8_t *buf = (uint8_t *)slurp(path, &len);
  ck_assert_msg(buf, "missing %s", path);
  ck_assert_msg(len >= 12 && memcmp(buf, "QGLD", 4) == 0 && rd32(buf + 4) == 1, "bad file %s", path);
  uint32_t nrec = rd32(buf + 8);
  size_t off = 12;
  int64_t bad = 0;
  char first[1024] = "";
  int shown = 0;
  for (uint32_t r = 0; r < nrec; r++) {
    ck_assert(off + 4 <= len);
    uint32_t hl = rd32(buf + off);
    off += 4;
    qj_value *h;
    qc_status s = qj_parse((const char *)buf + off, hl, path, &h);
    ck_assert_msg(!s, "header %u: %s", r, s ? qc_status_message(s) : "");
    off += hl;
    const qj_value *arrays = qj_get(h, "arrays");
    arr as[32];
    int na = arrays->n;
    ck_assert(na <= 32);
    for (int i = 0; i < na; i++) {
      const qj_value *a = &arrays->items[i];
      as[i].name = qj_get(a, "name")->s;
      as[i].dtype = qj_get(a, "dtype")->s;
      const qj_value *sh = qj_get(a, "shape");
      as[i].rank = sh->n;
      as[i].n = 1;
      for (int k = 0; k < sh->n; k++) {
        as[i].shape[k] = sh->items[k].i;
        as[i].n *= sh->items[k].i;
      }
      size_t esz = strcmp(as[i].dtype, "f64") == 0 ? 8 : 4;
      as[i].data = buf + off;
      off += esz * (size_t)as[i].n;
      ck_assert(off <= len);
    }
    char msg[512] = "";
    bool ok = run_record(h, as, na, msg, sizeof msg);
    if (!ok) {
      bad++;
      if (shown < 40) {
        fprintf(stderr, "  %s/%s: %s\n", family, qj_get(h, "name")->s, msg);
        shown++;
      }
      if (!first[0]) snprintf(first, sizeof first, "%s: %s", qj_get(h, "name")->s, msg);
    }
    qj_free(h);
  }
  free(buf);
  printf("%s: %lld/%u variants exact\n", family, (long long)(nrec - bad), nrec);
  fflush(stdout);
  g_total += nrec;
  g_bad += bad;
  ck_assert_msg(bad == 0, "%s: %lld of %u variants differ from Quark; first: %s", family,
                (long long)bad, nrec, first);
}

START_TEST(int_family) { run_family("int"); }
END_TEST
START_TEST(fp8_family) { run_family("fp8"); }
END_TEST
START_TEST(fp4_family) { run_family("fp4"); }
END_TEST
START_TEST(blocks_family) { run_family("blocks"); }
END_TEST
START_TEST(twostage_family) { run_family("twostage"); }
END_TEST
START_TEST(observers_family) { run_family("observers"); }
END_TEST

int main(void) {
  Suite *s = suite_create("quant_goldens");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, int_family);
  tcase_add_test(tc, fp8_family);
  tcase_add_test(tc, fp4_family);
  tcase_add_test(tc, blocks_family);
  tcase_add_test(tc, twostage_family);
  tcase_add_test(tc, observers_family);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  printf("quark goldens: %lld variants, %lld mismatched\n", (long long)g_total, (long long)g_bad);
  return failed ? 1 : 0;
}
