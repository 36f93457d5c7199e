/* Kernel helpers: broadcasting (shapes, offsets, run iteration), reduction plans and
 * element accessors. */
#include "runtime/kutil.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

static bool bc(qc_bcast *b, int32_t n, const int32_t *ranks, const int64_t *const *dims) {
  return qc_bcast_init(b, n, ranks, dims);
}

START_TEST(bcast_shapes) {
  qc_bcast b;
  int64_t a[] = {2, 1, 4}, c[] = {3, 1}, d[] = {5};
  ck_assert(bc(&b, 2, (int32_t[]){3, 2}, (const int64_t *[]){a, c}));
  ck_assert_int_eq(b.rank, 3);
  ck_assert_int_eq(b.dims[0], 2);
  ck_assert_int_eq(b.dims[1], 3);
  ck_assert_int_eq(b.dims[2], 4);
  ck_assert_int_eq(b.numel, 24);
  ck_assert(!bc(&b, 2, (int32_t[]){3, 1}, (const int64_t *[]){a, d}));
  /* scalars and empty dims */
  int64_t z[] = {0, 3}, one[] = {1};
  ck_assert(bc(&b, 2, (int32_t[]){0, 2}, (const int64_t *[]){one, z}));
  ck_assert_int_eq(b.numel, 0);
  ck_assert(bc(&b, 2, (int32_t[]){0, 0}, (const int64_t *[]){one, one}));
  ck_assert_int_eq(b.rank, 0);
  ck_assert_int_eq(b.numel, 1);
}
END_TEST

typedef struct {
  int64_t next;
  const qc_bcast *b;
  int bad;
} walk;

static void check_run(void *vc, int64_t out, const int64_t *in, const int64_t *step, int64_t count) {
  walk *w = vc;
  if (out != w->next) w->bad++;
  for (int64_t t = 0; t < count; t++) {
    int64_t off[QC_BCAST_MAX_IN];
    qc_bcast_offsets(w->b, out + t, off);
    for (int32_t j = 0; j < w->b->n_in; j++)
      if (off[j] != in[j] + t * step[j]) w->bad++;
  }
  w->next = out + count;
}

START_TEST(bcast_runs_match_offsets) {
  /* offsets: out (i,j,k) of [2,3,4] from a [2,1,4] and c [3,1] */
  int64_t a[] = {2, 1, 4}, c[] = {3, 1}, e[] = {2, 3, 4};
  qc_bcast b;
  ck_assert(bc(&b, 3, (int32_t[]){3, 2, 3}, (const int64_t *[]){a, c, e}));
  int64_t off[3];
  qc_bcast_offsets(&b, 1 * 12 + 2 * 4 + 3, off);
  ck_assert_int_eq(off[0], 1 * 4 + 3);
  ck_assert_int_eq(off[1], 2);
  ck_assert_int_eq(off[2], 1 * 12 + 2 * 4 + 3);
  for (int64_t begin = 0; begin < 24; begin += 5)
    for (int64_t end = begin; end <= 24; end += 3) {
      walk w = {begin, &b, 0};
      qc_bcast_runs(&b, begin, end, check_run, &w);
      ck_assert_int_eq(w.bad, 0);
      ck_assert_int_eq(w.next, end > begin ? end : begin);
    }
  /* identical shapes coalesce to one dimension */
  ck_assert(bc(&b, 2, (int32_t[]){3, 3}, (const int64_t *[]){e, e}));
  ck_assert_int_eq(b.it_rank, 1);
  ck_assert_int_eq(b.it_dims[0], 24);
}
END_TEST

START_TEST(rplan) {
  int64_t dims[] = {2, 3, 4};
  bool red[] = {false, true, false};
  qc_rplan p;
  qc_rplan_init(&p, 3, dims, red);
  ck_assert_int_eq(p.n_out, 8);
  ck_assert_int_eq(p.n_red, 3);
  ck_assert_int_eq(qc_rplan_base(&p, 5), 1 * 12 + 1);
  ck_assert_int_eq(qc_rplan_roff(&p, 2), 8);
  qc_rplan_iter it;
  qc_rplan_iter_start(&it);
  for (int64_t r = 0; r < p.n_red; r++) {
    ck_assert_int_eq(it.off, qc_rplan_roff(&p, r));
    qc_rplan_iter_next(&p, &it);
  }
}
END_TEST

START_TEST(accessors) {
  /* setf follows numpy astype: truncation and wraparound for ints */
  int8_t i8[2];
  qc_acc a = qc_acc_of(QC_I8);
  a.setf(a.dt, i8, 0, -3.7);
  a.setf(a.dt, i8, 1, 300.0);
  ck_assert_int_eq(i8[0], -3);
  ck_assert_int_eq(i8[1], 44);
  uint16_t h[1];
  a = qc_acc_of(QC_F16);
  /* 1 + 2^-11 + 2^-30 rounds up in f16 only when rounded once (not via f32 first) */
  a.setf(a.dt, h, 0, 1.0 + ldexp(1, -11) + ldexp(1, -40));
  ck_assert_uint_eq(h[0], 0x3c01);
  uint8_t i4[1] = {0};
  a = qc_acc_of(QC_I4);
  a.seti(a.dt, i4, 0, -1);
  a.seti(a.dt, i4, 1, 9); /* wraps to -7 */
  ck_assert_uint_eq(i4[0], 0x9f);
  ck_assert_int_eq(a.geti(a.dt, i4, 1), -7);
}
END_TEST

int main(void) {
  Suite *s = suite_create("kutil");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, bcast_shapes);
  tcase_add_test(tc, bcast_runs_match_offsets);
  tcase_add_test(tc, rplan);
  tcase_add_test(tc, accessors);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
