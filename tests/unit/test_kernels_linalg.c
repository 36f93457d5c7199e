/* Linear-algebra kernels (runtime/k_linalg.c) against naive references: MatMul (1-D rules,
 * batch broadcasting, every dtype), Gemm (transposes, alpha/beta, C broadcasting), Einsum
 * (diagonals, implicit output, ellipsis, several operands), Det. */
#include "test_kernels_nn_harness.h"

#include <stdio.h>

/* Naive batched matmul over already-broadcast shapes [nb, m, k] x [nb, k, n] with a batch
 * index map. */
static double dot_ref(const double *a, const double *b, int64_t k, int64_t sa, int64_t sb) {
  double s = 0;
  for (int64_t p = 0; p < k; p++) s += a[p * sa] * b[p * sb];
  return s;
}

static void fill_d(double *v, int64_t n, uint64_t seed, bool ints) {
  float *f = malloc(sizeof(float) * (size_t)(n ? n : 1));
  kh_fill(f, n, seed);
  for (int64_t i = 0; i < n; i++) v[i] = ints ? floor(f[i] * 8) : f[i];
  free(f);
}

/* MatMul of shapes sa x sb checked against numpy's rules computed here by hand. */
static void matmul_case(qc_dtype dt, int32_t ra, const int64_t *da, int32_t rb, const int64_t *db,
                        int32_t ro, const int64_t *dout, int32_t threads) {
  bool ints = !qc_dtype_is_float(dt);
  int64_t na = 1, nbv = 1;
  for (int32_t i = 0; i < ra; i++) na *= da[i];
  for (int32_t i = 0; i < rb; i++) nbv *= db[i];
  double *va = malloc(sizeof(double) * (size_t)na), *vb = malloc(sizeof(double) * (size_t)nbv);
  fill_d(va, na, 1, ints);
  fill_d(vb, nbv, 2, ints);
  qc_tensor a = kh_tensor(dt, ra, da, va), b = kh_tensor(dt, rb, db, vb);
  /* Read back the rounded inputs (f16/bf16) for the reference. */
  for (int64_t i = 0; i < na; i++) va[i] = qc_elem_f64(dt, qc_tensor_data(&a), (size_t)i);
  for (int64_t i = 0; i < nbv; i++) vb[i] = qc_elem_f64(dt, qc_tensor_data(&b), (size_t)i);
  kh_node h;
  kh_init(&h, QC_OP_MatMul, 13, 2, (qc_tensor *[]){&a, &b}, 1);
  kh_run(&h, threads);
  kh_expect_shape(&h, 0, ro, dout);
  /* Reference: promote to rank >= 2, broadcast batch dims. */
  int64_t m = ra == 1 ? 1 : da[ra - 2], k = da[ra - 1];
  int64_t n = rb == 1 ? 1 : db[rb - 1];
  int32_t rba = ra > 2 ? ra - 2 : 0, rbb = rb > 2 ? rb - 2 : 0;
  int32_t rbo = rba > rbb ? rba : rbb;
  int64_t nbo = 1, bo[8];
  for (int32_t d = 0; d < rbo; d++) {
    int32_t ia = d - (rbo - rba), ib = d - (rbo - rbb);
    int64_t x = ia >= 0 ? da[ia] : 1, y = ib >= 0 ? db[ib] : 1;
    bo[d] = x > y ? x : y;
    nbo *= bo[d];
  }
  double *want = malloc(sizeof(double) * (size_t)(nbo * m * n + 1));
  for (int64_t bi = 0; bi < nbo; bi++) {
    int64_t rem = bi, offa = 0, offb = 0, sta = m * k, stb = k * n;
    for (int32_t d = rbo - 1; d >= 0; d--) {
      int64_t idx = rem % bo[d];
      rem /= bo[d];
      int32_t ia = d - (rbo - rba), ib = d - (rbo - rbb);
      if (ia >= 0) {
        offa += (da[ia] == 1 ? 0 : idx) * sta;
        sta *= da[ia];
      }
      if (ib >= 0) {
        offb += (db[ib] == 1 ? 0 : idx) * stb;
        stb *= db[ib];
      }
    }
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++)
        want[(bi * m + i) * n + j] = dot_ref(va + offa + i * k, vb + offb + j, k, 1, n);
  }
  if (dt == QC_F16 || dt == QC_BF16)
    for (int64_t i = 0; i < nbo * m * n; i++) want[i] = qc_float_decode(dt, qc_float_encode(dt, want[i], 0));
  char what[128];
  snprintf(what, sizeof what, "MatMul %s ra=%d rb=%d", qc_dtype_name(dt), ra, rb);
  double tol = dt == QC_F16 ? 2e-3 : dt == QC_BF16 ? 1e-2 : dt == QC_F32 ? 1e-5 : 1e-12;
  kh_expect_near(&h, 0, want, nbo * m * n, tol, tol, what);
  kh_free(&h);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  free(va);
  free(vb);
  free(want);
}

START_TEST(matmul_shapes) {
  for (int32_t threads = 1; threads <= 2; threads++) {
    matmul_case(QC_F32, 2, (int64_t[]){3, 4}, 2, (int64_t[]){4, 5}, 2, (int64_t[]){3, 5}, threads);
    matmul_case(QC_F32, 1, (int64_t[]){4}, 1, (int64_t[]){4}, 0, NULL, threads);
    matmul_case(QC_F32, 1, (int64_t[]){4}, 3, (int64_t[]){2, 4, 5}, 2, (int64_t[]){2, 5}, threads);
    matmul_case(QC_F32, 4, (int64_t[]){2, 3, 4, 6}, 1, (int64_t[]){6}, 3, (int64_t[]){2, 3, 4},
                threads);
    matmul_case(QC_F32, 3, (int64_t[]){1, 3, 4}, 4, (int64_t[]){2, 5, 4, 2}, 4,
                (int64_t[]){2, 5, 3, 2}, threads);
    matmul_case(QC_F32, 4, (int64_t[]){3, 1, 7, 9}, 3, (int64_t[]){4, 9, 3}, 4,
                (int64_t[]){3, 4, 7, 3}, threads);
    matmul_case(QC_F32, 3, (int64_t[]){2, 70, 300}, 2, (int64_t[]){300, 90}, 3,
                (int64_t[]){2, 70, 90}, threads);
    matmul_case(QC_F32, 2, (int64_t[]){3, 0}, 2, (int64_t[]){0, 5}, 2, (int64_t[]){3, 5}, threads);
  }
}
END_TEST

START_TEST(matmul_dtypes) {
  const qc_dtype dts[] = {QC_F64, QC_F16, QC_BF16, QC_I32, QC_I64, QC_U32, QC_U64};
  for (size_t i = 0; i < sizeof dts / sizeof *dts; i++) {
    matmul_case(dts[i], 2, (int64_t[]){3, 4}, 2, (int64_t[]){4, 5}, 2, (int64_t[]){3, 5}, 1);
    matmul_case(dts[i], 3, (int64_t[]){2, 3, 4}, 1, (int64_t[]){4}, 2, (int64_t[]){2, 3}, 2);
  }
}
END_TEST

START_TEST(matmul_int_wraps) {
  int64_t d1[1] = {2};
  qc_tensor a = kh_tensor(QC_I32, 1, d1, (double[]){2147483647, 2});
  qc_tensor b = kh_tensor(QC_I32, 1, d1, (double[]){2, 1});
  kh_node h;
  kh_init(&h, QC_OP_MatMul, 13, 2, (qc_tensor *[]){&a, &b}, 1);
  kh_run(&h, 1);
  /* 2*(2^31-1) + 2 = 2^32 wraps to 0 in int32. */
  ck_assert_int_eq(((const int32_t *)qc_tensor_data(kh_out(&h, 0)))[0], 0);
  kh_free(&h);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
}
END_TEST

START_TEST(matmul_errors) {
  qc_tensor a = kh_f32(2, (int64_t[]){3, 4}, NULL), b = kh_f32(2, (int64_t[]){5, 6}, NULL);
  kh_node h;
  kh_init(&h, QC_OP_MatMul, 13, 2, (qc_tensor *[]){&a, &b}, 1);
  qc_status s = kh_try(&h, 1);
  ck_assert(s != QC_OK);
  ck_assert_msg(strstr(qc_status_message(s), "node 'n' (MatMul)") != NULL, "%s",
                qc_status_message(s));
  qc_status_free(s);
  kh_free(&h);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
}
END_TEST

static void gemm_case(qc_dtype dt, int64_t m, int64_t n, int64_t k, bool ta, bool tb, int32_t crank,
                      const int64_t *cdims, double alpha, double beta) {
  int64_t dA[2] = {ta ? k : m, ta ? m : k}, dB[2] = {tb ? n : k, tb ? k : n};
  double va[4096], vb[4096], vc[4096];
  fill_d(va, m * k, 3, !qc_dtype_is_float(dt));
  fill_d(vb, k * n, 4, !qc_dtype_is_float(dt));
  int64_t nc = 1;
  for (int32_t i = 0; i < crank; i++) nc *= cdims[i];
  fill_d(vc, nc, 5, !qc_dtype_is_float(dt));
  qc_tensor a = kh_tensor(dt, 2, dA, va), b = kh_tensor(dt, 2, dB, vb);
  qc_tensor c = kh_tensor(dt, crank, cdims, vc);
  kh_node h;
  kh_init(&h, QC_OP_Gemm, 13, cdims ? 3 : 2, (qc_tensor *[]){&a, &b, &c}, 1);
  kh_int(&h, "transA", ta);
  kh_int(&h, "transB", tb);
  kh_float(&h, "alpha", alpha);
  kh_float(&h, "beta", beta);
  kh_run(&h, 2);
  double want[4096];
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t p = 0; p < k; p++)
        s += va[ta ? p * m + i : i * k + p] * vb[tb ? j * k + p : p * n + j];
      double cv = 0;
      if (cdims) {
        int64_t cm = crank == 2 ? cdims[0] : 1, cn = crank >= 1 ? cdims[crank - 1] : 1;
        cv = vc[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
      }
      want[i * n + j] = s * alpha + cv * beta;
      if (!qc_dtype_is_float(dt)) want[i * n + j] = trunc(want[i * n + j]);
    }
  kh_expect_shape(&h, 0, 2, (int64_t[]){m, n});
  kh_expect_near(&h, 0, want, m * n, 1e-5, 1e-5, "Gemm");
  kh_free(&h);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&c);
}

START_TEST(gemm_attributes) {
  for (int t = 0; t < 4; t++) {
    gemm_case(QC_F32, 5, 7, 3, t & 1, t & 2, 2, (int64_t[]){5, 7}, 0.5, 2.0);
    gemm_case(QC_F32, 5, 7, 3, t & 1, t & 2, 1, (int64_t[]){7}, 1.0, 1.0);
    gemm_case(QC_F32, 5, 7, 3, t & 1, t & 2, 2, (int64_t[]){5, 1}, 1.0, -1.0);
    gemm_case(QC_F32, 5, 7, 3, t & 1, t & 2, 0, (int64_t[]){1}, 2.0, 3.0);
    gemm_case(QC_F64, 4, 3, 6, t & 1, t & 2, 2, (int64_t[]){1, 3}, 0.25, 0.5);
  }
  gemm_case(QC_F32, 6, 2, 4, false, false, 0, NULL, 1.0, 1.0);
  gemm_case(QC_I32, 3, 4, 5, false, true, 1, (int64_t[]){4}, 1.0, 1.0);
  gemm_case(QC_F32, 40, 50, 60, true, false, 1, (int64_t[]){50}, 1.0, 0.0);
}
END_TEST

/* Einsum: equation, inputs (shapes), expected output computed by an independent loop. */
static void einsum_check(const char *eq, int32_t n, const int32_t *ranks, const int64_t (*dims)[4],
                         int32_t ro, const int64_t *dout, const double *want, qc_dtype dt,
                         const double *const *vals) {
  qc_tensor t[4];
  qc_tensor *ptr[4];
  for (int32_t i = 0; i < n; i++) {
    t[i] = kh_tensor(dt, ranks[i], dims[i], vals[i]);
    ptr[i] = &t[i];
  }
  kh_node h;
  kh_init(&h, QC_OP_Einsum, 13, n, ptr, 1);
  kh_string(&h, "equation", eq);
  kh_run(&h, 2);
  kh_expect_shape(&h, 0, ro, dout);
  int64_t no = 1;
  for (int32_t i = 0; i < ro; i++) no *= dout[i];
  kh_expect_near(&h, 0, want, no, 1e-5, 1e-5, eq);
  kh_free(&h);
  for (int32_t i = 0; i < n; i++) qc_tensor_release(&t[i]);
}

START_TEST(einsum_equations) {
  double A[60], B[60], C[60];
  fill_d(A, 60, 7, false);
  fill_d(B, 60, 8, false);
  fill_d(C, 60, 9, false);
  const double *ab[] = {A, B}, *abc[] = {A, B, C}, *a[] = {A};
  double want[256];
  /* matmul */
  for (int i = 0; i < 3; i++)
    for (int k = 0; k < 5; k++) {
      double s = 0;
      for (int j = 0; j < 4; j++) s += A[i * 4 + j] * B[j * 5 + k];
      want[i * 5 + k] = s;
    }
  einsum_check("ij,jk->ik", 2, (int32_t[]){2, 2}, (const int64_t[][4]){{3, 4}, {4, 5}}, 2,
               (int64_t[]){3, 5}, want, QC_F32, ab);
  einsum_check("ij,jk", 2, (int32_t[]){2, 2}, (const int64_t[][4]){{3, 4}, {4, 5}}, 2,
               (int64_t[]){3, 5}, want, QC_F64, ab);
  /* transpose and implicit order: "ji" implicit output is "ij" (alphabetical) = transpose */
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) want[j * 3 + i] = A[i * 4 + j];
  einsum_check("ij->ji", 1, (int32_t[]){2}, (const int64_t[][4]){{3, 4}}, 2, (int64_t[]){4, 3},
               want, QC_F32, a);
  einsum_check("ba", 1, (int32_t[]){2}, (const int64_t[][4]){{3, 4}}, 2, (int64_t[]){4, 3}, want,
               QC_F32, a);
  /* trace (implicit: a repeated label is summed) and diagonal */
  want[0] = A[0] + A[5] + A[10] + A[15];
  einsum_check("ii", 1, (int32_t[]){2}, (const int64_t[][4]){{4, 4}}, 0, NULL, want, QC_F32, a);
  for (int b = 0; b < 2; b++)
    for (int i = 0; i < 3; i++) want[b * 3 + i] = A[b * 9 + i * 4];
  einsum_check("bii->bi", 1, (int32_t[]){3}, (const int64_t[][4]){{2, 3, 3}}, 2,
               (int64_t[]){2, 3}, want, QC_F32, a);
  /* full sum, outer product */
  want[0] = 0;
  for (int i = 0; i < 12; i++) want[0] += A[i];
  einsum_check("ij->", 1, (int32_t[]){2}, (const int64_t[][4]){{3, 4}}, 0, NULL, want, QC_F32, a);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++) want[i * 4 + j] = A[i] * B[j];
  einsum_check("i,j->ij", 2, (int32_t[]){1, 1}, (const int64_t[][4]){{3}, {4}}, 2,
               (int64_t[]){3, 4}, want, QC_F32, ab);
  /* batched with ellipsis and broadcasting of the ellipsis dims */
  for (int x = 0; x < 2; x++)
    for (int i = 0; i < 2; i++)
      for (int k = 0; k < 2; k++) {
        double s = 0;
        for (int j = 0; j < 3; j++) s += A[x * 6 + i * 3 + j] * B[j * 2 + k];
        want[(x * 2 + i) * 2 + k] = s;
      }
  einsum_check("...ij,...jk->...ik", 2, (int32_t[]){3, 3}, (const int64_t[][4]){{2, 2, 3}, {1, 3, 2}},
               3, (int64_t[]){2, 2, 2}, want, QC_F32, ab);
  /* three operands */
  for (int i = 0; i < 2; i++)
    for (int l = 0; l < 2; l++) {
      double s = 0;
      for (int j = 0; j < 3; j++)
        for (int k = 0; k < 4; k++) s += A[i * 3 + j] * B[j * 4 + k] * C[k * 2 + l];
      want[i * 2 + l] = s;
    }
  einsum_check("ij,jk,kl->il", 3, (int32_t[]){2, 2, 2},
               (const int64_t[][4]){{2, 3}, {3, 4}, {4, 2}}, 2, (int64_t[]){2, 2}, want, QC_F32,
               abc);
  /* a label only in one operand, summed; batch label shared */
  for (int b = 0; b < 2; b++)
    for (int i = 0; i < 3; i++) {
      double s = 0;
      for (int j = 0; j < 4; j++)
        for (int k = 0; k < 2; k++) s += A[(b * 3 + i) * 4 + j] * B[b * 2 + k];
      want[b * 3 + i] = s;
    }
  einsum_check("bij,bk->bi", 2, (int32_t[]){3, 2}, (const int64_t[][4]){{2, 3, 4}, {2, 2}}, 2,
               (int64_t[]){2, 3}, want, QC_F32, ab);
  /* integers */
  double ia[6] = {1, 2, 3, 4, 5, 6}, ib[6] = {1, -1, 2, 0, 3, 1};
  const double *iab[] = {ia, ib};
  want[0] = 1 * 1 + 2 * 2 + 3 * 3;
  want[1] = 1 * -1 + 0 + 3 * 1;
  want[2] = 4 * 1 + 5 * 2 + 6 * 3;
  want[3] = 4 * -1 + 0 + 6 * 1;
  einsum_check("ij,jk->ik", 2, (int32_t[]){2, 2}, (const int64_t[][4]){{2, 3}, {3, 2}}, 2,
               (int64_t[]){2, 2}, want, QC_I64, iab);
}
END_TEST

START_TEST(det_values) {
  int64_t d[3] = {2, 3, 3};
  double v[18] = {2, 0, 0, 0, 3, 0, 0, 0, 4, /* 24 */ 0, 1, 0, 1, 0, 0, 0, 0, 1 /* -1 */};
  qc_tensor x = kh_tensor(QC_F32, 3, d, v);
  kh_node h;
  kh_init(&h, QC_OP_Det, 13, 1, (qc_tensor *[]){&x}, 1);
  kh_run(&h, 1);
  kh_expect_shape(&h, 0, 1, (int64_t[]){2});
  kh_expect_near(&h, 0, (double[]){24, -1}, 2, 1e-6, 0, "Det");
  kh_free(&h);
  qc_tensor_release(&x);
  double s[4] = {1, 2, 2, 4};
  x = kh_tensor(QC_F64, 2, (int64_t[]){2, 2}, s);
  kh_init(&h, QC_OP_Det, 13, 1, (qc_tensor *[]){&x}, 1);
  kh_run(&h, 1);
  kh_expect_shape(&h, 0, 0, NULL);
  kh_expect_near(&h, 0, (double[]){0}, 1, 1e-12, 0, "Det singular");
  kh_free(&h);
  qc_tensor_release(&x);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_linalg");
  TCase *tc = tcase_create("core");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, matmul_shapes);
  tcase_add_test(tc, matmul_dtypes);
  tcase_add_test(tc, matmul_int_wraps);
  tcase_add_test(tc, matmul_errors);
  tcase_add_test(tc, gemm_attributes);
  tcase_add_test(tc, einsum_equations);
  tcase_add_test(tc, det_values);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
