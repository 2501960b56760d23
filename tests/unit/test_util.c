/* util: random streams, errors, the in-memory state store, string helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/rng.h"
#include "lamarck/state.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <string.h>

static void rng_streams_are_reproducible_and_distinct(void **st) {
    (void)st;
    lm_rng a, b, c, d;
    lm_rng_init(&a, 42, 7, LM_STREAM_INIT);
    lm_rng_init(&b, 42, 7, LM_STREAM_INIT);
    lm_rng_init(&c, 42, 8, LM_STREAM_INIT);      /* next trial */
    lm_rng_init(&d, 42, 7, LM_STREAM_SHUFFLE);   /* other purpose */
    int same_c = 0, same_d = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = lm_rng_u64(&a);
        assert_true(x == lm_rng_u64(&b));
        same_c += x == lm_rng_u64(&c);
        same_d += x == lm_rng_u64(&d);
    }
    assert_int_equal(same_c, 0);
    assert_int_equal(same_d, 0);
}

static void rng_state_resumes(void **st) {
    (void)st;
    lm_rng a;
    lm_rng_init(&a, 1, 2, 3);
    for (int i = 0; i < 10; i++) lm_rng_u64(&a);
    lm_rng saved = a; /* the state is plain words: checkpointing is copying them */
    uint64_t x = lm_rng_u64(&a);
    assert_true(lm_rng_u64(&saved) == x);
}

static void rng_distributions(void **st) {
    (void)st;
    lm_rng r;
    lm_rng_init(&r, 3, 0, 0);
    const int n = 200000;
    double sum = 0, sum2 = 0, nsum = 0, nsum2 = 0;
    int counts[7] = {0};
    for (int i = 0; i < n; i++) {
        double u = lm_rng_uniform(&r);
        assert_true(u >= 0 && u < 1);
        sum += u;
        sum2 += u * u;
        double z = lm_rng_normal(&r);
        nsum += z;
        nsum2 += z * z;
        counts[lm_rng_below(&r, 7)]++;
        float f = lm_rng_uniformf(&r);
        assert_true(f >= 0 && f < 1);
    }
    /* Tolerances: about 5 standard errors of each estimate at n = 200,000. */
    assert_true(fabs(sum / n - 0.5) < 0.004);
    assert_true(fabs(sum2 / n - sum / n * (sum / n) - 1.0 / 12) < 0.002);
    assert_true(fabs(nsum / n) < 0.012);
    assert_true(fabs(nsum2 / n - 1) < 0.016);
    for (int k = 0; k < 7; k++) assert_true(fabs(counts[k] / (double)n - 1.0 / 7) < 0.005);
}

static void rng_shuffle_is_permutation(void **st) {
    (void)st;
    lm_rng r;
    lm_rng_init(&r, 9, 9, 9);
    int32_t v[100];
    for (int i = 0; i < 100; i++) v[i] = i;
    lm_rng_shuffle_i32(&r, v, 100);
    int seen[100] = {0}, moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[v[i]]++;
        moved += v[i] != i;
    }
    for (int i = 0; i < 100; i++) assert_int_equal(seen[i], 1);
    assert_true(moved > 80);
}

static int fails_inner(void) { LM_FAIL(LM_ECONFIG, "f.yaml:3:5: key 'lr': expected a number"); }
static int fails_outer(void) {
    LM_CALL(fails_inner());
    return LM_OK;
}

static void errors_keep_innermost_message(void **st) {
    (void)st;
    lm_error_clear();
    assert_int_equal(fails_outer(), LM_ECONFIG);
    assert_string_equal(lm_error_message(), "f.yaml:3:5: key 'lr': expected a number");
    assert_int_equal(lm_exit_code(LM_ECONFIG), 2);
    assert_int_equal(lm_exit_code(LM_EDATA), 3);
    assert_int_equal(lm_exit_code(LM_ENOENT), 3);
    assert_int_equal(lm_exit_code(LM_EINTERNAL), 1);
    assert_int_equal(lm_exit_code(LM_OK), 0);
    assert_string_equal(lm_strerror(LM_ENOMEM), "out of memory");
    lm_error_clear();
    assert_string_equal(lm_error_message(), "");
}

static void state_mem_round_trip(void **st) {
    (void)st;
    lm_state_mem *m;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    lm_state_reader r = lm_state_mem_reader(m);
    double xs[3] = {1.5, -2, NAN};
    assert_int_equal(lm_state_put(&w, "a/x", LM_DT_F64, 3, xs), LM_OK);
    assert_int_equal(lm_state_put_i64(&w, "a/n", -7), LM_OK);
    assert_int_equal(lm_state_put_str(&w, "name", "random"), LM_OK);
    double ys[3];
    assert_int_equal(lm_state_get(&r, "a/x", LM_DT_F64, 3, ys), LM_OK);
    assert_true(ys[0] == 1.5 && ys[1] == -2 && isnan(ys[2]));
    int64_t n;
    assert_int_equal(lm_state_get_i64(&r, "a/n", &n), LM_OK);
    assert_int_equal(n, -7);
    char s[16];
    assert_int_equal(lm_state_get_str(&r, "name", s, sizeof s), LM_OK);
    assert_string_equal(s, "random");
    /* A mismatch or an absent entry is a checkpoint error with the entry's name. */
    lm_error_clear();
    assert_int_equal(lm_state_get(&r, "a/x", LM_DT_F64, 2, ys), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "a/x"));
    lm_error_clear();
    assert_int_equal(lm_state_get_i64(&r, "missing", &n), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "missing"));
    lm_error_clear();
    char tiny[4];
    assert_int_equal(lm_state_get_str(&r, "name", tiny, sizeof tiny), LM_ECKPT);
    lm_error_clear();
    /* Overwriting replaces. */
    assert_int_equal(lm_state_put_i64(&w, "a/n", 5), LM_OK);
    assert_int_equal(lm_state_get_i64(&r, "a/n", &n), LM_OK);
    assert_int_equal(n, 5);
    assert_int_equal(lm_state_mem_count(m), 3);
    lm_state_mem_destroy(&m);
    assert_null(m);
}

static void strings(void **st) {
    (void)st;
    assert_int_equal(lm_str_distance("kitten", "sitting"), 3);
    assert_int_equal(lm_str_distance("", "abc"), 3);
    const char *keys[] = {"experiment", "data", "training", "model", "search", "space"};
    assert_string_equal(lm_str_closest("trainig", keys, 6), "training");
    assert_string_equal(lm_str_closest("serch", keys, 6), "search");
    assert_null(lm_str_closest("zzzzzzzz", keys, 6));
    char buf[4];
    assert_int_equal(lm_strlcpy(buf, "abcdef", sizeof buf), LM_ERANGE);
    assert_string_equal(buf, "abc");
    assert_int_equal(lm_strlcpy(buf, "ab", sizeof buf), LM_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rng_streams_are_reproducible_and_distinct),
        cmocka_unit_test(rng_state_resumes),
        cmocka_unit_test(rng_distributions),
        cmocka_unit_test(rng_shuffle_is_permutation),
        cmocka_unit_test(errors_keep_innermost_message),
        cmocka_unit_test(state_mem_round_trip),
        cmocka_unit_test(strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
