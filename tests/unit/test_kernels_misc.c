/* Misc kernels (runtime/k_misc.c): Cast rules (strings both ways, wraparound, fp8
 * saturation, f16 overflow, e8m0 rounding modes), shapes and generators, seeded random
 * ops, string ops and the regex subset, LabelEncoder, DFT. Expected values come from
 * numpy / the ONNX reference implementation / Python's re. */
#include "unit/ktest_graph.h"

static qc_tensor ints(qc_dtype dt, int32_t rank, const int64_t *dims, const int64_t *v) {
  qc_tensor t;
  kt_ok(qc_tensor_alloc(&t, NULL, dt, rank, dims));
  for (int64_t i = 0; i < qc_tensor_numel(&t); i++) qc_elem_set_i64(dt, qc_tensor_data(&t), (size_t)i, v[i]);
  return t;
}

static kt_run cast(const qc_tensor *x, int64_t to, int32_t n_attr, const qc_attr *extra) {
  qc_attr at[4] = {KT_INT("to", to)};
  for (int32_t i = 0; i < n_attr; i++) at[1 + i] = extra[i];
  return kt_op(QC_OP_Cast, 1, (const qc_tensor *[]){x}, 1 + n_attr, at, 1);
}

START_TEST(cast_numbers_to_strings) {
  /* numpy's str(): shortest digits, scientific from 1e6 for f32 (1e16 for f64) */
  qc_tensor x = kt_f32(1, KT_DIMS(10), (float[]){1, 0.1f, 1e-5f, 1e20f, -2.5f, NAN, -INFINITY,
                                                 123456789.0f, 999999, 3.14159265f});
  kt_run r = cast(&x, 8, 0, NULL);
  kt_expect_strings(&r.out[0], 1, KT_DIMS(10),
                    (const char *[]){"1.0", "0.1", "1e-05", "1e+20", "-2.5", "nan", "-inf",
                                     "1.2345679e+08", "999999.0", "3.1415927"});
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor d = kt_tensor(QC_F64, 1, KT_DIMS(2), (double[]){123456789.0, 0.1});
  r = cast(&d, 8, 0, NULL);
  kt_expect_strings(&r.out[0], 1, KT_DIMS(2), (const char *[]){"123456789.0", "0.1"});
  kt_done(&r);
  qc_tensor_release(&d);
  qc_tensor b = ints(QC_BOOL, 1, KT_DIMS(2), (int64_t[]){1, 0}), i = ints(QC_I8, 1, KT_DIMS(1), (int64_t[]){-7});
  r = cast(&b, 8, 0, NULL);
  kt_expect_strings(&r.out[0], 1, KT_DIMS(2), (const char *[]){"True", "False"});
  kt_done(&r);
  r = cast(&i, 8, 0, NULL);
  kt_expect_strings(&r.out[0], 1, KT_DIMS(1), (const char *[]){"-7"});
  kt_done(&r);
  qc_tensor_release(&b);
  qc_tensor_release(&i);
}
END_TEST

START_TEST(cast_strings_to_numbers) {
  qc_tensor s = kt_tensor(QC_STRING, 1, KT_DIMS(6), (const char *[]){"1.5", "-INF", "NaN", "  42", "1e3", "+inf"});
  kt_run r = cast(&s, 1, 0, NULL);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(6), (float[]){1.5f, -INFINITY, NAN, 42, 1000, INFINITY}, 0);
  kt_done(&r);
  qc_tensor_release(&s);
  s = kt_tensor(QC_STRING, 1, KT_DIMS(2), (const char *[]){"12345678901234567", "100.5"});
  r = cast(&s, 7, 0, NULL);
  kt_expect_i64(&r.out[0], 1, KT_DIMS(2), (int64_t[]){12345678901234567LL, 100});
  kt_done(&r);
  qc_tensor_release(&s);
}
END_TEST

START_TEST(cast_numeric_rules) {
  /* float -> int8: truncate, then wrap (300.7 -> 300 -> 44) */
  qc_tensor x = kt_f32(1, KT_DIMS(3), (float[]){300.7f, -1.9f, -129});
  kt_run r = cast(&x, 3, 0, NULL);
  kt_expect_ints(&r.out[0], QC_I8, 1, KT_DIMS(3), (int64_t[]){44, -1, 127});
  kt_done(&r);
  qc_tensor_release(&x);
  /* saturate only concerns 8-bit floats: f16 overflows to inf */
  x = kt_f32(1, KT_DIMS(2), (float[]){1e6f, -70000});
  r = cast(&x, 10, 0, NULL);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){INFINITY, -INFINITY}, 0);
  kt_done(&r);
  r = cast(&x, 19, 0, NULL); /* e5m2, saturate=1 */
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){57344, -57344}, 0);
  kt_done(&r);
  r = cast(&x, 19, 1, (qc_attr[]){KT_INT("saturate", 0)});
  kt_expect_f32(&r.out[0], 1, KT_DIMS(2), (float[]){INFINITY, -INFINITY}, 0);
  kt_done(&r);
  qc_tensor_release(&x);
  /* e8m0 rounding modes: 3 -> up 4, down 2, nearest 4 (a tie rounds up); 2.5 -> nearest 2 */
  x = kt_f32(1, KT_DIMS(2), (float[]){3, 2.5f});
  static const char *modes[3] = {"up", "down", "nearest"};
  static const float want[3][2] = {{4, 4}, {2, 2}, {4, 2}};
  for (int m = 0; m < 3; m++) {
    r = cast(&x, 24, 1, (qc_attr[]){KT_STR("round_mode", modes[m])});
    kt_expect_f32(&r.out[0], 1, KT_DIMS(2), want[m], 0);
    kt_done(&r);
  }
  qc_tensor_release(&x);
  /* CastLike takes the second input's dtype */
  x = kt_f32(1, KT_DIMS(2), (float[]){-1.5f, 7});
  qc_tensor like = ints(QC_U4, 0, NULL, (int64_t[]){0});
  r = kt_op(QC_OP_CastLike, 2, (const qc_tensor *[]){&x, &like}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_U4, 1, KT_DIMS(2), (int64_t[]){15, 7});
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&like);
}
END_TEST

START_TEST(shapes_and_generators) {
  qc_tensor x = kt_iota_f32(3, KT_DIMS(2, 3, 4));
  kt_run r = kt_op(QC_OP_Shape, 1, (const qc_tensor *[]){&x}, 2, (qc_attr[]){KT_INT("start", -2), KT_INT("end", 10)}, 1);
  kt_expect_i64(&r.out[0], 1, KT_DIMS(2), (int64_t[]){3, 4});
  kt_done(&r);
  r = kt_op(QC_OP_Shape, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_INT("end", -1)}, 1);
  kt_expect_i64(&r.out[0], 1, KT_DIMS(2), (int64_t[]){2, 3});
  kt_done(&r);
  r = kt_op(QC_OP_Size, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_i64(&r.out[0], 0, NULL, (int64_t[]){24});
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor a = kt_f32(0, NULL, (float[]){1}), b = kt_f32(0, NULL, (float[]){-1}), c = kt_f32(0, NULL, (float[]){-0.3f});
  r = kt_op(QC_OP_Range, 3, (const qc_tensor *[]){&a, &b, &c}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(7),
                (float[]){1, 0.69999999f, 0.39999998f, 0.099999964f, -0.20000005f, -0.50000006f, -0.80000007f}, 0);
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&c);
  a = ints(QC_I32, 0, NULL, (int64_t[]){10});
  b = ints(QC_I32, 0, NULL, (int64_t[]){3});
  c = ints(QC_I32, 0, NULL, (int64_t[]){-3});
  r = kt_op(QC_OP_Range, 3, (const qc_tensor *[]){&a, &b, &c}, 0, NULL, 1);
  kt_expect_ints(&r.out[0], QC_I32, 1, KT_DIMS(3), (int64_t[]){10, 7, 4});
  kt_done(&r);
  qc_tensor_release(&a);
  qc_tensor_release(&b);
  qc_tensor_release(&c);
  qc_tensor e = kt_f32(2, KT_DIMS(2, 3), NULL);
  r = kt_op(QC_OP_EyeLike, 1, (const qc_tensor *[]){&e}, 2, (qc_attr[]){KT_INT("k", 1), KT_INT("dtype", 7)}, 1);
  kt_expect_i64(&r.out[0], 2, KT_DIMS(2, 3), (int64_t[]){0, 1, 0, 0, 0, 1});
  kt_done(&r);
  qc_tensor_release(&e);
  qc_tensor sz = kt_scalar_i64(4);
  r = kt_op(QC_OP_HannWindow, 1, (const qc_tensor *[]){&sz}, 1, (qc_attr[]){KT_INT("periodic", 0)}, 1);
  kt_expect_f32(&r.out[0], 1, KT_DIMS(4), (float[]){0, 0.75f, 0.75f, 0}, 1e-6);
  kt_done(&r);
  qc_tensor_release(&sz);
}
END_TEST

START_TEST(random_is_seeded) {
  qc_attr at[4] = {KT_INTS("shape", 3, 4), KT_FLOAT("seed", 7.0), KT_FLOAT("low", 2.0), KT_FLOAT("high", 3.0)};
  kt_run r1 = kt_op(QC_OP_RandomUniform, 0, NULL, 4, at, 1);
  kt_run r2 = kt_op(QC_OP_RandomUniform, 0, NULL, 4, at, 1);
  kt_expect_shape(&r1.out[0], QC_F32, 2, KT_DIMS(3, 4));
  ck_assert(memcmp(qc_tensor_data(&r1.out[0].t), qc_tensor_data(&r2.out[0].t), 48) == 0);
  for (int i = 0; i < 12; i++) {
    float v = ((float *)qc_tensor_data(&r1.out[0].t))[i];
    ck_assert(v >= 2 && v < 3);
  }
  kt_done(&r1);
  kt_done(&r2);
  qc_tensor p = kt_f32(1, KT_DIMS(4), (float[]){0, 1, 0, 1});
  r1 = kt_op(QC_OP_Bernoulli, 1, (const qc_tensor *[]){&p}, 0, NULL, 1);
  kt_expect_f32(&r1.out[0], 1, KT_DIMS(4), (float[]){0, 1, 0, 1}, 0);
  kt_done(&r1);
  qc_tensor_release(&p);
}
END_TEST

START_TEST(string_ops) {
  qc_tensor x = kt_tensor(QC_STRING, 1, KT_DIMS(2), (const char *[]){"  a  b  c  ", "x"});
  kt_run r = kt_op(QC_OP_StringSplit, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_INT("maxsplit", 1)}, 2);
  kt_expect_strings(&r.out[0], 2, KT_DIMS(2, 2), (const char *[]){"a", "b  c  ", "x", ""});
  kt_expect_i64(&r.out[1], 1, KT_DIMS(2), (int64_t[]){2, 1});
  kt_done(&r);
  qc_tensor_release(&x);
  x = kt_tensor(QC_STRING, 1, KT_DIMS(2), (const char *[]){"a--b-", "-"});
  r = kt_op(QC_OP_StringSplit, 1, (const qc_tensor *[]){&x}, 1, (qc_attr[]){KT_STR("delimiter", "--")}, 2);
  kt_expect_strings(&r.out[0], 2, KT_DIMS(2, 2), (const char *[]){"a", "b-", "-", ""});
  kt_done(&r);
  qc_tensor_release(&x);
  x = kt_tensor(QC_STRING, 2, KT_DIMS(1, 3), (const char *[]){"Monday", "tuesday", "MONDAY"});
  qc_attr sw = {.name = "stopwords", .kind = QC_ATTR_STRINGS, .n = 1,
                .u.strs = {(const char *[]){"monday"}, (int32_t[]){6}}};
  qc_attr at[2] = {sw, KT_STR("case_change_action", "UPPER")};
  r = kt_op(QC_OP_StringNormalizer, 1, (const qc_tensor *[]){&x}, 2, at, 1);
  kt_expect_strings(&r.out[0], 2, KT_DIMS(1, 1), (const char *[]){"TUESDAY"});
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

typedef struct rx_case {
  const char *pattern;
  int n;
  const char *subject[4];
  int64_t match[4];
} rx_case;

START_TEST(regex_subset) {
  static const rx_case cases[] = {
      {"a+b*", 4, {"aaab", "b", "aa", ""}, {1, 0, 1, 0}},
      {"(ab|cd)*", 4, {"", "abcd", "abc", "cdab"}, {1, 1, 0, 1}},
      {"[a-c\\d_]{2,3}", 4, {"a1", "a1_b", "_", "9z"}, {1, 0, 0, 0}},
      {"x.y", 2, {"x\ny", "xzy"}, {0, 1}},
      {".*?\\bcat\\b.*", 3, {"the cat sat", "concat", "cat"}, {1, 0, 1}},
      {"[^0-9]+", 2, {"abc", "ab1"}, {1, 0}},
      {"(a|ab)(c|bcd)", 3, {"abcd", "ac", "abc"}, {1, 1, 1}},
      {"a{0}b", 2, {"b", "ab"}, {1, 0}},
      {"\\s*\\S+\\s*", 2, {" x ", "  "}, {1, 0}},
      {"^(\\W|^)ok(\\W|$)$", 3, {"ok", " ok!", "ok?x"}, {1, 1, 0}},
      {"colou?r", 3, {"color", "colour", "colouur"}, {1, 1, 0}},
      {"(?:x+x+)+y", 2, {"xxxxxxxxxxxxxxxxxxxxxxxy", "xxxx"}, {1, 0}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
    qc_tensor x = kt_tensor(QC_STRING, 1, KT_DIMS(cases[c].n), cases[c].subject);
    kt_run r = kt_op(QC_OP_RegexFullMatch, 1, (const qc_tensor *[]){&x}, 1,
                     (qc_attr[]){KT_STR("pattern", cases[c].pattern)}, 1);
    kt_expect_ints(&r.out[0], QC_BOOL, 1, KT_DIMS(cases[c].n), cases[c].match);
    kt_done(&r);
    qc_tensor_release(&x);
  }
  qc_tensor x = kt_tensor(QC_STRING, 1, KT_DIMS(1), (const char *[]){"a"});
  kt_expect_error(QC_OP_RegexFullMatch, 0, 1, (const qc_tensor *[]){&x}, 1,
                  (qc_attr[]){KT_STR("pattern", "(a")}, 1, "missing ')'");
  kt_expect_error(QC_OP_RegexFullMatch, 0, 1, (const qc_tensor *[]){&x}, 1,
                  (qc_attr[]){KT_STR("pattern", "a{3,1}")}, 1, "bad repetition");
  qc_tensor_release(&x);
}
END_TEST

START_TEST(label_encoder_float_keys) {
  qc_tensor x = kt_f32(1, KT_DIMS(4), (float[]){NAN, 2, 5, -0.0f});
  qc_attr at[3] = {KT_FLOATS("keys_floats", NAN, 2.0, 0.0),
                   {.name = "values_strings", .kind = QC_ATTR_STRINGS, .n = 3,
                    .u.strs = {(const char *[]){"nan", "two", "zero"}, (int32_t[]){3, 3, 4}}},
                   KT_STR("default_string", "?")};
  kt_run r = kt_op(QC_OP_ML_LabelEncoder, 1, (const qc_tensor *[]){&x}, 3, at, 1);
  kt_expect_strings(&r.out[0], 1, KT_DIMS(4), (const char *[]){"nan", "two", "?", "zero"});
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

START_TEST(tfidf_with_skips_and_weights) {
  /* unigrams 1, 2, 3 and bigrams (1,2), (2,1); bigrams also at skip distance 2 */
  qc_tensor x = kt_i64(2, KT_DIMS(2, 5), (int64_t[]){1, 2, 1, 3, 2, 3, 3, 1, 2, 1});
  qc_attr at[8] = {KT_STR("mode", "TFIDF"), KT_INT("min_gram_length", 1), KT_INT("max_gram_length", 2),
                   KT_INT("max_skip_count", 1), KT_INTS("ngram_counts", 0, 3),
                   KT_INTS("ngram_indexes", 0, 1, 2, 3, 4), KT_INTS("pool_int64s", 1, 2, 3, 1, 2, 2, 1),
                   KT_FLOATS("weights", 1, 1, 1, 2, 0.5)};
  kt_run r = kt_op(QC_OP_TfIdfVectorizer, 1, (const qc_tensor *[]){&x}, 8, at, 1);
  kt_expect_f32(&r.out[0], 2, KT_DIMS(2, 5), (float[]){2, 2, 1, 4, 0.5f, 2, 1, 2, 2, 0.5f}, 0);
  kt_done(&r);
  qc_tensor_release(&x);
}
END_TEST

START_TEST(dft_forward_and_inverse) {
  /* numpy.fft.fft([1, 2, 0, -1]) = [2, 1-3j, 0, 1+3j] */
  qc_tensor x = kt_f32(3, KT_DIMS(1, 4, 1), (float[]){1, 2, 0, -1});
  kt_run r = kt_op(QC_OP_DFT, 1, (const qc_tensor *[]){&x}, 0, NULL, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(1, 4, 2), (float[]){2, 0, 1, -3, 0, 0, 1, 3}, 1e-6);
  qc_tensor y;
  qc_tensor_copy_ref(&y, &r.out[0].t);
  kt_done(&r);
  r = kt_op(QC_OP_DFT, 1, (const qc_tensor *[]){&y}, 1, (qc_attr[]){KT_INT("inverse", 1)}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(1, 4, 2), (float[]){1, 0, 2, 0, 0, 0, -1, 0}, 1e-6);
  kt_done(&r);
  /* irfft([1, 2-1j, 0.5], n=4) = [1.375, 0.625, -0.625, -0.375] */
  qc_tensor h = kt_f32(3, KT_DIMS(1, 3, 2), (float[]){1, 0, 2, -1, 0.5f, 0});
  r = kt_op(QC_OP_DFT, 1, (const qc_tensor *[]){&h}, 2,
            (qc_attr[]){KT_INT("inverse", 1), KT_INT("onesided", 1)}, 1);
  kt_expect_f32(&r.out[0], 3, KT_DIMS(1, 4, 1), (float[]){1.375f, 0.625f, -0.625f, -0.375f}, 1e-6);
  kt_done(&r);
  qc_tensor_release(&x);
  qc_tensor_release(&y);
  qc_tensor_release(&h);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kernels_misc");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, cast_numbers_to_strings);
  tcase_add_test(tc, cast_strings_to_numbers);
  tcase_add_test(tc, cast_numeric_rules);
  tcase_add_test(tc, shapes_and_generators);
  tcase_add_test(tc, random_is_seeded);
  tcase_add_test(tc, string_ops);
  tcase_add_test(tc, regex_subset);
  tcase_add_test(tc, label_encoder_float_keys);
  tcase_add_test(tc, tfidf_with_skips_and_weights);
  tcase_add_test(tc, dft_forward_and_inverse);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
