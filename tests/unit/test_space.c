/* Hyperparameter spaces: prior sampling, conditions, grid enumeration, unit-cube
 * encoding, repair, formatting and the errors of bad definitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/space.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SAMPLES 20000

/* Pearson's chi-square statistic of observed counts against a uniform expectation. */
static double chi_square(const long *count, int k, long n) {
    double e = (double)n / k, s = 0;
    for (int i = 0; i < k; i++) s += (count[i] - e) * (count[i] - e) / e;
    return s;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void expect_error(int rc, int code, const char *fragment) {
    assert_int_equal(rc, code);
    if (!strstr(lm_error_message(), fragment))
        fail_msg("message '%s' lacks '%s'", lm_error_message(), fragment);
    lm_error_clear();
}

static void test_sample_ranges(void **state) {
    (void)state;
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    const char *ch[] = {"a", "b", "c", "d", "e"};
    assert_int_equal(lm_space_add_float(sp, "lin", 0.5, 2.0, 0), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "log", 1e-3, 1.0, 1), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "int", -3, 4, 0), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "ilog", 1, 100, 1), LM_OK);
    assert_int_equal(lm_space_add_categorical(sp, "cat", 5, ch), LM_OK);
    assert_int_equal(lm_space_size(sp), 5);
    assert_int_equal(lm_space_find(sp, "ilog"), 3);
    assert_int_equal(lm_space_find(sp, "nope"), -1);

    lm_rng rng;
    lm_rng_init(&rng, 7, 0, LM_STREAM_SAMPLE);
    double *logs = malloc(N_SAMPLES * sizeof *logs);
    assert_non_null(logs);
    long ints[8] = {0}, cats[5] = {0}, ilog_one = 0;
    double lin_sum = 0;
    for (int s = 0; s < N_SAMPLES; s++) {
        double x[5];
        lm_space_sample(sp, &rng, x);
        assert_true(x[0] >= 0.5 && x[0] <= 2.0);
        assert_true(x[1] >= 1e-3 && x[1] <= 1.0);
        assert_true(x[2] >= -3 && x[2] <= 4 && x[2] == floor(x[2]));
        assert_true(x[3] >= 1 && x[3] <= 100 && x[3] == floor(x[3]));
        assert_true(x[4] >= 0 && x[4] <= 4 && x[4] == floor(x[4]));
        lin_sum += x[0];
        logs[s] = x[1];
        ints[(int)x[2] + 3]++;
        cats[(int)x[4]]++;
        ilog_one += x[3] == 1;
    }
    /* Uniform mean 1.25; the standard error is 1.5/sqrt(12 N) = 0.003: allow 0.015. */
    assert_true(fabs(lin_sum / N_SAMPLES - 1.25) < 0.015);
    /* The median of a log-uniform variable is the geometric mean of its bounds. In log
     * space the sample median's standard error is about width/(2 sqrt(N)) = 0.0035 of
     * the width: allow 2% of the width (6.9 * 0.02 = 0.14 in natural log). */
    qsort(logs, N_SAMPLES, sizeof *logs, cmp_double);
    double med = logs[N_SAMPLES / 2], gm = sqrt(1e-3 * 1.0);
    assert_true(fabs(log(med) - log(gm)) < 0.02 * (log(1.0) - log(1e-3)));
    /* Chi-square critical values at p = 0.001: 24.32 (7 dof), 18.47 (4 dof). */
    for (int i = 0; i < 8; i++) assert_true(ints[i] > 0);
    assert_true(chi_square(ints, 8, N_SAMPLES) < 24.32);
    assert_true(chi_square(cats, 5, N_SAMPLES) < 18.47);
    /* Log-scale int 1..100: P(1) = log(1.5/0.5) / log(100.5/0.5) = 0.2072; the
     * standard error is 0.0029, allow 0.012. */
    double p1 = log(3.0) / log(201.0);
    assert_true(fabs((double)ilog_one / N_SAMPLES - p1) < 0.012);
    free(logs);
    lm_space_destroy(&sp);
    assert_null(sp);
    lm_space_destroy(&sp); /* NULL is accepted */
}

/* arch {mlp, cnn}; depth 1..4 when arch = cnn; width 1..8 when depth in {3, 4};
 * lr log-uniform, unconditional. */
static lm_space *nested_space(void) {
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    const char *arch[] = {"mlp", "cnn"};
    assert_int_equal(lm_space_add_categorical(sp, "arch", 2, arch), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "depth", 1, 4, 0), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "width", 1, 8, 0), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 1e-1, 1), LM_OK);
    const char *cnn[] = {"cnn"}, *deep[] = {"3", "4"};
    assert_int_equal(lm_space_set_condition(sp, "depth", "arch", 1, cnn), LM_OK);
    assert_int_equal(lm_space_set_condition(sp, "width", "depth", 2, deep), LM_OK);
    return sp;
}

static void test_conditionals(void **state) {
    (void)state;
    lm_space *sp = nested_space();
    const lm_hp *w = lm_space_hp(sp, 2);
    assert_int_equal(w->parent, 1);
    assert_int_equal(w->n_when, 2);
    assert_null(lm_space_hp(sp, 4));
    lm_rng rng;
    lm_rng_init(&rng, 11, 3, LM_STREAM_SAMPLE);
    int seen[3] = {0};
    for (int s = 0; s < 4000; s++) {
        double x[4];
        lm_space_sample(sp, &rng, x);
        int cnn = x[0] == 1;
        int depth_on = cnn, width_on = cnn && (x[1] == 3 || x[1] == 4);
        assert_int_equal(isnan(x[1]), !depth_on);
        assert_int_equal(isnan(x[2]), !width_on);
        assert_false(isnan(x[3]));
        assert_int_equal(lm_space_active(sp, x, 1), depth_on);
        assert_int_equal(lm_space_active(sp, x, 2), width_on);
        assert_int_equal(lm_space_active(sp, x, 3), 1);
        seen[depth_on + width_on]++;
    }
    for (int i = 0; i < 3; i++) assert_true(seen[i] > 100);

    /* An inconsistent point: the child holds a value but the parent turned it off.
     * The grandchild is inactive although its own parent's value matches. */
    double x[4] = {0, 3, 5, 0.01};
    assert_int_equal(lm_space_active(sp, x, 1), 0);
    assert_int_equal(lm_space_active(sp, x, 2), 0);
    lm_space_repair(sp, x);
    assert_true(isnan(x[1]) && isnan(x[2]));
    assert_true(x[0] == 0 && x[3] == 0.01);
    /* Out of range indices are never active. */
    assert_int_equal(lm_space_active(sp, x, -1), 0);
    assert_int_equal(lm_space_active(sp, x, 4), 0);
    lm_space_destroy(&sp);
}

/* A {a,b,c}; B int 1..2 when A in {a,b}; C float [0,1] with 2 grid points when
 * B = 2; D {x,y}. Points: A=a: B=1 (C off) x D + B=2 x C{0,1} x D = 6; A=b: 6;
 * A=c: D only = 2; 14 in all. */
static void test_grid_conditional(void **state) {
    (void)state;
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    const char *a[] = {"a", "b", "c"}, *d[] = {"x", "y"};
    assert_int_equal(lm_space_add_categorical(sp, "A", 3, a), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "B", 1, 2, 0), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "C", 0, 1, 0), LM_OK);
    assert_int_equal(lm_space_add_categorical(sp, "D", 2, d), LM_OK);
    assert_int_equal(lm_space_set_grid_points(sp, "C", 2), LM_OK);
    const char *ab[] = {"a", "b"}, *two[] = {"2"};
    assert_int_equal(lm_space_set_condition(sp, "B", "A", 2, ab), LM_OK);
    assert_int_equal(lm_space_set_condition(sp, "C", "B", 1, two), LM_OK);
    assert_int_equal(lm_space_grid_count(sp), 14);
    const double N = NAN;
    const double want[14][4] = {
        {0, 1, N, 0}, {0, 1, N, 1}, {0, 2, 0, 0}, {0, 2, 0, 1}, {0, 2, 1, 0},
        {0, 2, 1, 1}, {1, 1, N, 0}, {1, 1, N, 1}, {1, 2, 0, 0}, {1, 2, 0, 1},
        {1, 2, 1, 0}, {1, 2, 1, 1}, {2, N, N, 0}, {2, N, N, 1},
    };
    for (long k = 0; k < 14; k++) {
        double x[4];
        assert_int_equal(lm_space_grid_point(sp, k, x), LM_OK);
        for (int i = 0; i < 4; i++) {
            if (isnan(want[k][i]))
                assert_true(isnan(x[i]));
            else
                assert_true(x[i] == want[k][i]);
        }
    }
    double x[4];
    expect_error(lm_space_grid_point(sp, 14, x), LM_EINVAL, "out of range [0, 14)");
    expect_error(lm_space_grid_point(sp, -1, x), LM_EINVAL, "out of range");
    lm_space_destroy(&sp);
}

static void grid_values(const lm_space *sp, double *v, long n) {
    assert_int_equal(lm_space_grid_count(sp), n);
    for (long k = 0; k < n; k++) assert_int_equal(lm_space_grid_point(sp, k, &v[k]), LM_OK);
}

static void test_grid_values(void **state) {
    (void)state;
    double v[16];
    lm_space *sp;
    /* Log-spaced float, 4 points: 0.01 * 30^(j/3). Tolerance 1e-12 relative. */
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 0.01, 0.3, 1), LM_OK);
    assert_int_equal(lm_space_hp(sp, 0)->grid_points, 3);
    assert_int_equal(lm_space_set_grid_points(sp, "lr", 4), LM_OK);
    grid_values(sp, v, 4);
    for (int j = 0; j < 4; j++) assert_true(fabs(v[j] / (0.01 * pow(30, j / 3.0)) - 1) < 1e-12);
    assert_true(v[0] == 0.01 && v[3] == 0.3);
    /* One point: the geometric middle. */
    assert_int_equal(lm_space_set_grid_points(sp, "lr", 1), LM_OK);
    grid_values(sp, v, 1);
    assert_true(fabs(v[0] - sqrt(0.01 * 0.3)) < 1e-12);
    lm_space_destroy(&sp);

    /* Linear float, default 3 points. */
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "m", 0, 0.9, 0), LM_OK);
    grid_values(sp, v, 3);
    assert_true(v[0] == 0 && fabs(v[1] - 0.45) < 1e-15 && v[2] == 0.9);
    lm_space_destroy(&sp);

    /* Int with a range of 3 <= grid points: every value. */
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "d", 1, 3, 0), LM_OK);
    assert_int_equal(lm_space_set_grid_points(sp, "d", 5), LM_OK);
    grid_values(sp, v, 3);
    assert_true(v[0] == 1 && v[1] == 2 && v[2] == 3);
    lm_space_destroy(&sp);

    /* Int 1..10 with 4 points: 1, 4, 7, 10. */
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "d", 1, 10, 0), LM_OK);
    assert_int_equal(lm_space_set_grid_points(sp, "d", 4), LM_OK);
    grid_values(sp, v, 4);
    assert_true(v[0] == 1 && v[1] == 4 && v[2] == 7 && v[3] == 10);
    lm_space_destroy(&sp);

    /* Log int 1..10 with 9 points: 10^(j/8) rounds to 1 1 2 2 3 4 6 7 10; duplicates
     * dropped. */
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "d", 1, 10, 1), LM_OK);
    assert_int_equal(lm_space_set_grid_points(sp, "d", 9), LM_OK);
    grid_values(sp, v, 7);
    const double want[7] = {1, 2, 3, 4, 6, 7, 10};
    for (int j = 0; j < 7; j++) assert_true(v[j] == want[j]);
    lm_space_destroy(&sp);

    /* A plain product, the last hyperparameter fastest; an empty space has one point. */
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_grid_count(sp), 1);
    const char *c[] = {"p", "q"};
    assert_int_equal(lm_space_add_categorical(sp, "c", 2, c), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "n", 5, 7, 0), LM_OK);
    assert_int_equal(lm_space_grid_count(sp), 6);
    double x[2];
    assert_int_equal(lm_space_grid_point(sp, 4, x), LM_OK);
    assert_true(x[0] == 1 && x[1] == 6);
    lm_space_destroy(&sp);
}

static void test_unit_round_trip(void **state) {
    (void)state;
    lm_space *sp = nested_space();
    const char *opt[] = {"sgd", "adam", "rmsprop"};
    assert_int_equal(lm_space_add_categorical(sp, "opt", 3, opt), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "batch", 16, 512, 1), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "mom", 0, 0.99, 0), LM_OK);
    int n = lm_space_size(sp);
    lm_rng rng;
    lm_rng_init(&rng, 5, 1, LM_STREAM_SAMPLE);
    for (int s = 0; s < 2000; s++) {
        double x[8], u[8], y[8];
        lm_space_sample(sp, &rng, x);
        lm_space_to_unit(sp, x, u);
        for (int i = 0; i < n; i++) {
            assert_true(u[i] >= 0 && u[i] <= 1);
            if (isnan(x[i])) assert_true(u[i] == 0);
        }
        lm_space_from_unit(sp, u, y);
        for (int i = 0; i < n; i++) {
            if (isnan(x[i]))
                assert_true(isnan(y[i]));
            else if (lm_space_hp(sp, i)->kind == LM_HP_FLOAT)
                assert_true(fabs(y[i] - x[i]) <= 1e-12 * fabs(x[i]) + 1e-15);
            else
                assert_true(y[i] == x[i]);
        }
        /* Any point of the cube decodes to a valid point: repair leaves it alone. */
        double r[8], z[8];
        for (int i = 0; i < n; i++) r[i] = lm_rng_uniform(&rng);
        r[0] = s % 2 ? 1.0 : 0.0; /* the corners, too */
        lm_space_from_unit(sp, r, y);
        memcpy(z, y, sizeof z);
        lm_space_repair(sp, z);
        for (int i = 0; i < n; i++) assert_true((isnan(y[i]) && isnan(z[i])) || y[i] == z[i]);
    }
    /* The end of the unit interval is the top of the range. */
    double u[8] = {1, 1, 1, 1, 1, 1, 1}, x[8];
    lm_space_from_unit(sp, u, x);
    assert_true(x[0] == 1 && x[1] == 4 && x[2] == 8 && fabs(x[3] - 0.1) < 1e-15);
    assert_true(x[4] == 2 && x[5] == 512 && x[6] == 0.99);
    lm_space_destroy(&sp);
}

static void test_repair(void **state) {
    (void)state;
    lm_space *sp = nested_space();
    const char *opt[] = {"sgd", "adam", "rmsprop"};
    assert_int_equal(lm_space_add_categorical(sp, "opt", 3, opt), LM_OK);
    double x[5] = {1, 9.7, NAN, 5.0, 7.2};
    lm_space_repair(sp, x);
    /* depth clipped to 4 makes width active; width had no value: middle of 1..8 is
     * 4.5, rounded to 5; lr clipped to 0.1; opt clipped to the last choice. */
    assert_true(x[0] == 1 && x[1] == 4 && x[2] == 5 && x[3] == 0.1 && x[4] == 2);
    double y[5] = {0.4, 2.6, 3, -INFINITY, -1};
    lm_space_repair(sp, y);
    /* arch rounds to 0 (mlp): depth and width go inactive. */
    assert_true(y[0] == 0 && isnan(y[1]) && isnan(y[2]) && y[3] == 1e-3 && y[4] == 0);
    double z[5] = {1, 2.6, 3, NAN, NAN};
    lm_space_repair(sp, z);
    /* depth 3 keeps width; lr gets the geometric middle 0.01; opt the first choice. */
    assert_true(z[1] == 3 && z[2] == 3 && fabs(z[3] - 0.01) < 1e-15 && z[4] == 0);
    lm_space_destroy(&sp);
}

static void test_format(void **state) {
    (void)state;
    lm_space *sp = nested_space();
    char buf[128];
    double x[4] = {0, NAN, NAN, 0.0123456789};
    lm_space_format(sp, x, buf, sizeof buf);
    assert_string_equal(buf, "arch=mlp lr=0.0123457");
    double y[4] = {1, 3, 7, 0.05};
    lm_space_format(sp, y, buf, sizeof buf);
    assert_string_equal(buf, "arch=cnn depth=3 width=7 lr=0.05");
    lm_space_format(sp, y, buf, 12);
    assert_string_equal(buf, "arch=cnn de");
    lm_space_format_value(sp, 1, NAN, buf, sizeof buf);
    assert_string_equal(buf, "-");
    lm_space_format_value(sp, 0, 5, buf, sizeof buf);
    assert_string_equal(buf, "?");
    lm_space_format_value(sp, 9, 0, buf, sizeof buf);
    assert_string_equal(buf, "?");
    lm_space_destroy(&sp);
}

static void test_errors(void **state) {
    (void)state;
    lm_error_clear();
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 0.01, 0.3, 1), LM_OK);
    expect_error(lm_space_add_int(sp, "lr", 1, 2, 0), LM_EINVAL, "duplicate hyperparameter 'lr'");
    expect_error(lm_space_add_float(sp, "m", 0.9, 0.1, 0), LM_EINVAL,
                 "'m': low 0.9 is greater than high 0.1");
    expect_error(lm_space_add_int(sp, "d", 5, 1, 0), LM_EINVAL, "low 5 is greater than high 1");
    expect_error(lm_space_add_float(sp, "wd", 0, 0.1, 1), LM_EINVAL, "log scale needs low > 0");
    expect_error(lm_space_add_int(sp, "b", -4, 8, 1), LM_EINVAL, "log scale needs low > 0, got -4");
    expect_error(lm_space_add_float(sp, "x", 0, INFINITY, 0), LM_EINVAL, "finite");
    expect_error(lm_space_add_float(sp, "", 0, 1, 0), LM_EINVAL, "empty hyperparameter name");
    expect_error(lm_space_add_float(sp, "a b", 0, 1, 0), LM_EINVAL, "may not contain spaces");
    const char *none[] = {NULL}, *twice[] = {"u", "u"}, *empty[] = {""};
    expect_error(lm_space_add_categorical(sp, "c", 0, none), LM_EINVAL, "1 to 64 choices, got 0");
    expect_error(lm_space_add_categorical(sp, "c", 2, twice), LM_EINVAL, "'u' is listed twice");
    expect_error(lm_space_add_categorical(sp, "c", 1, empty), LM_EINVAL, "choice 1 is empty");
    assert_int_equal(lm_space_size(sp), 1); /* nothing half-added */

    const char *s[] = {"constant", "step"};
    assert_int_equal(lm_space_add_categorical(sp, "schedule", 2, s), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "step_size", 1, 3, 0), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "depth", 1, 3, 0), LM_OK);
    const char *step[] = {"step"}, *cos[] = {"cosine"}, *nine[] = {"9"}, *frac[] = {"1.5"},
               *junk[] = {"2x"}, *two[] = {"2"};
    expect_error(lm_space_set_condition(sp, "step_size", "sched", 1, step), LM_EINVAL,
                 "unknown parent 'sched'");
    expect_error(lm_space_set_condition(sp, "stepsize", "schedule", 1, step), LM_EINVAL,
                 "unknown hyperparameter 'stepsize'");
    expect_error(lm_space_set_condition(sp, "step_size", "schedule", 1, cos), LM_EINVAL,
                 "'cosine' is not a choice of 'schedule'");
    expect_error(lm_space_set_condition(sp, "schedule", "step_size", 1, two), LM_EINVAL,
                 "must be added before its child");
    expect_error(lm_space_set_condition(sp, "depth", "lr", 1, two), LM_EINVAL,
                 "parent 'lr' is a float");
    expect_error(lm_space_set_condition(sp, "depth", "step_size", 1, nine), LM_EINVAL,
                 "'9' is not an integer in [1, 3]");
    expect_error(lm_space_set_condition(sp, "depth", "step_size", 1, frac), LM_EINVAL,
                 "is not an integer");
    expect_error(lm_space_set_condition(sp, "depth", "step_size", 1, junk), LM_EINVAL,
                 "'2x' is not an integer");
    expect_error(lm_space_set_condition(sp, "depth", "step_size", 0, junk), LM_EINVAL,
                 "1 to 64 values, got 0");
    assert_int_equal(lm_space_set_condition(sp, "step_size", "schedule", 1, step), LM_OK);
    expect_error(lm_space_set_condition(sp, "step_size", "schedule", 1, step), LM_EINVAL,
                 "already has a condition");
    expect_error(lm_space_set_grid_points(sp, "lr", 0), LM_EINVAL, "must be in [1, 10000], got 0");
    expect_error(lm_space_set_grid_points(sp, "schedule", 2), LM_EINVAL, "uses all its choices");
    expect_error(lm_space_set_grid_points(sp, "nope", 2), LM_EINVAL, "no hyperparameter 'nope'");

    /* Limits: 64 hyperparameters, 64 choices. */
    char name[16];
    for (int i = lm_space_size(sp); i < LM_HP_MAX; i++) {
        snprintf(name, sizeof name, "h%d", i);
        assert_int_equal(lm_space_add_float(sp, name, 0, 1, 0), LM_OK);
    }
    expect_error(lm_space_add_float(sp, "one_more", 0, 1, 0), LM_EINVAL, "more than 64");
    lm_space_destroy(&sp);
    assert_int_equal(lm_space_create(&sp), LM_OK);
    const char *many[LM_HP_CHOICES_MAX + 1];
    char labels[LM_HP_CHOICES_MAX + 1][8];
    for (int i = 0; i <= LM_HP_CHOICES_MAX; i++) {
        snprintf(labels[i], sizeof labels[i], "c%d", i);
        many[i] = labels[i];
    }
    expect_error(lm_space_add_categorical(sp, "c", LM_HP_CHOICES_MAX + 1, many), LM_EINVAL,
                 "got 65");
    assert_int_equal(lm_space_add_categorical(sp, "c", LM_HP_CHOICES_MAX, many), LM_OK);
    lm_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_ranges),    cmocka_unit_test(test_conditionals),
        cmocka_unit_test(test_grid_conditional), cmocka_unit_test(test_grid_values),
        cmocka_unit_test(test_unit_round_trip),  cmocka_unit_test(test_repair),
        cmocka_unit_test(test_format),           cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
