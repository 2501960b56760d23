/* Preprocessing: each step on hand-made data with values worked out by hand,
 * statistics from the training split only, images per channel, and errors. */
#include "lamarck/data.h"
#include "lamarck/error.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define TOL 1e-6

/* Train: 5 samples, features f0 numeric {1, 2, -, 4, 8}, f1 categorical (3 categories
 * a, b, c) {0, 2, 2, -, 1}, f2 numeric constant 5. Observed f0: mean 3.75, median 3,
 * most frequent (all once) 1, population std sqrt(7.1875), min 1, max 8. Most frequent
 * f1 category: 2. */
static void make_train(lm_dataset *d) {
    const float X[5][3] = {{1, 0, 5}, {2, 2, 5}, {NAN, 2, 5}, {4, NAN, 5}, {8, 1, 5}};
    assert_int_equal(lm_dataset_alloc(d, 5, 3, 1, 1, 2), LM_OK);
    memcpy(d->X, X, sizeof X);
    for (int i = 0; i < 5; i++) d->y[i] = i % 2;
    const char *features[] = {"f0", "f1", "f2"}, *cats[] = {"a", "b", "c"};
    const char *classes[] = {"no", "yes"};
    assert_int_equal(lm_dataset_set_feature_names(d, features), LM_OK);
    assert_int_equal(lm_dataset_set_categorical(d, 1, 3, cats), LM_OK);
    assert_int_equal(lm_dataset_set_class_names(d, 2, classes), LM_OK);
    snprintf(d->name, sizeof d->name, "hand");
}

static const double MEAN0 = 3.75, SD0 = 2.680951323690902; /* sqrt(28.75 / 4) */

/* Fits on train with p and transforms in; checks the output shape. */
static void run(const lm_preprocess_params *p, const lm_dataset *train, const lm_dataset *in,
                lm_dataset *out, int want_features) {
    lm_preprocessor *pp = NULL;
    assert_int_equal(lm_preprocess_fit(p, train, &pp), LM_OK);
    assert_non_null(pp);
    assert_int_equal(lm_preprocess_apply(pp, in, out), LM_OK);
    lm_preprocess_destroy(&pp);
    assert_null(pp);
    assert_int_equal(out->c, want_features);
    assert_int_equal(out->h, 1);
    assert_int_equal(out->w, 1);
    assert_null(out->feature_kind);
    assert_int_equal(out->n, in->n);
    assert_memory_equal(out->y, in->y, (size_t)in->n * sizeof *in->y);
    for (int64_t i = 0; i < out->n * out->c; i++) assert_false(isnan(out->X[i]));
}

static void assert_row(const lm_dataset *d, int64_t i, const double *want) {
    for (int j = 0; j < d->c; j++)
        if (fabs(d->X[i * d->c + j] - want[j]) > TOL * (1 + fabs(want[j])))
            fail_msg("row %lld column %d: %.9g, expected %.9g", (long long)i, j,
                     (double)d->X[i * d->c + j], want[j]);
}

static void test_defaults_one_hot_mean(void **state) {
    (void)state;
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    assert_int_equal(p.scaler, LM_SCALE_NONE);
    assert_int_equal(p.impute, LM_IMPUTE_MEAN);
    assert_int_equal(p.one_hot, 1);
    assert_int_equal(p.missing_indicator, 0);
    lm_dataset tr, out;
    make_train(&tr);
    run(&p, &tr, &tr, &out, 5); /* f0 | f1=a f1=b f1=c | f2 */
    const double rows[5][5] = {{1, 1, 0, 0, 5},
                               {2, 0, 0, 1, 5},
                               {MEAN0, 0, 0, 1, 5},
                               {4, 0, 0, 1, 5}, /* missing f1: most frequent, c */
                               {8, 0, 1, 0, 5}};
    for (int i = 0; i < 5; i++) assert_row(&out, i, rows[i]);
    const char *names[] = {"f0", "f1=a", "f1=b", "f1=c", "f2"};
    for (int j = 0; j < 5; j++) assert_string_equal(out.feature_names[j], names[j]);
    assert_string_equal(out.class_names[1], "yes");
    assert_string_equal(out.name, "hand");
    lm_dataset_free(&out);
    /* p NULL: the defaults. */
    run(NULL, &tr, &tr, &out, 5);
    for (int i = 0; i < 5; i++) assert_row(&out, i, rows[i]);
    lm_dataset_free(&out);
    lm_dataset_free(&tr);
}

static void test_standardize(void **state) {
    (void)state;
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    p.scaler = LM_SCALE_STANDARDIZE;
    lm_dataset tr, out;
    make_train(&tr);
    run(&p, &tr, &tr, &out, 5);
    /* Imputed with the mean, a missing value standardizes to 0; a constant feature
     * (std 0, scale 1) to 0; one-hot columns are not scaled. */
    const double rows[3][5] = {{(1 - MEAN0) / SD0, 1, 0, 0, 0},
                               {(2 - MEAN0) / SD0, 0, 0, 1, 0},
                               {0, 0, 0, 1, 0}};
    for (int i = 0; i < 3; i++) assert_row(&out, i, rows[i]);
    double sum = 0, sq = 0;
    for (int i = 0; i < 5; i++) {
        if (i == 2) continue;
        sum += out.X[i * 5];
        sq += out.X[i * 5] * out.X[i * 5];
    }
    assert_float_equal(sum / 4, 0, 1e-6);
    assert_float_equal(sq / 4, 1, 1e-6); /* observed values: mean 0, variance 1 */
    lm_dataset_free(&out);
    lm_dataset_free(&tr);
}

static void test_minmax(void **state) {
    (void)state;
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    p.scaler = LM_SCALE_MINMAX;
    lm_dataset tr, out;
    make_train(&tr);
    run(&p, &tr, &tr, &out, 5);
    /* (x - 1) / 7; the constant feature (range 0) is 0. */
    const double rows[5][5] = {{0, 1, 0, 0, 0},
                               {1.0 / 7, 0, 0, 1, 0},
                               {(MEAN0 - 1) / 7, 0, 0, 1, 0},
                               {3.0 / 7, 0, 0, 1, 0},
                               {1, 0, 1, 0, 0}};
    for (int i = 0; i < 5; i++) assert_row(&out, i, rows[i]);
    lm_dataset_free(&out);
    lm_dataset_free(&tr);
}

static void test_impute_median_and_most_frequent(void **state) {
    (void)state;
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    lm_dataset tr, out;
    make_train(&tr);
    p.impute = LM_IMPUTE_MEDIAN;
    run(&p, &tr, &tr, &out, 5);
    assert_float_equal(out.X[2 * 5 + 0], 3.0, TOL); /* (2 + 4) / 2 */
    lm_dataset_free(&out);
    p.impute = LM_IMPUTE_MOST_FREQUENT;
    run(&p, &tr, &tr, &out, 5);
    assert_float_equal(out.X[2 * 5 + 0], 1.0, TOL); /* all once: the smallest */
    lm_dataset_free(&out);

    /* An odd count, repeated values: median 2 of {2, 9, 2, 7, 1}; mode 2. */
    tr.X[0] = 2;
    tr.X[3] = 9;
    tr.X[6] = 2;
    tr.X[9] = 7;
    tr.X[12] = 1;
    lm_dataset te;
    assert_int_equal(lm_dataset_subset(&tr, (const int32_t[]){0}, 1, &te), LM_OK);
    te.X[0] = NAN;
    p.impute = LM_IMPUTE_MEDIAN;
    run(&p, &tr, &te, &out, 5);
    assert_float_equal(out.X[0], 2.0, TOL);
    lm_dataset_free(&out);
    p.impute = LM_IMPUTE_MOST_FREQUENT;
    run(&p, &tr, &te, &out, 5);
    assert_float_equal(out.X[0], 2.0, TOL);
    lm_dataset_free(&out);
    p.impute = LM_IMPUTE_MEAN;
    run(&p, &tr, &te, &out, 5);
    assert_float_equal(out.X[0], 21.0 / 5, TOL);
    lm_dataset_free(&out);
    lm_dataset_free(&te);
    lm_dataset_free(&tr);
}

static void test_missing_indicator(void **state) {
    (void)state;
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    p.missing_indicator = 1;
    lm_dataset tr, out;
    make_train(&tr);
    run(&p, &tr, &tr, &out, 7); /* + f0 (missing), f1 (missing); f2 had none */
    const double ind[5][2] = {{0, 0}, {0, 0}, {1, 0}, {0, 1}, {0, 0}};
    for (int i = 0; i < 5; i++) {
        assert_float_equal(out.X[i * 7 + 5], ind[i][0], 0);
        assert_float_equal(out.X[i * 7 + 6], ind[i][1], 0);
    }
    assert_string_equal(out.feature_names[5], "f0 (missing)");
    assert_string_equal(out.feature_names[6], "f1 (missing)");
    lm_dataset_free(&out);
    lm_dataset_free(&tr);
}

static void test_ordinal_categories(void **state) {
    (void)state;
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    p.one_hot = 0;
    p.scaler = LM_SCALE_STANDARDIZE;
    lm_dataset tr, out;
    make_train(&tr);
    run(&p, &tr, &tr, &out, 3);
    /* f1 as its index: observed {0, 2, 2, 1}, mean 1.25, std sqrt(0.6875); the
     * missing one takes the most frequent category, 2. */
    double sd = sqrt(0.6875);
    assert_float_equal(out.X[0 * 3 + 1], (0 - 1.25) / sd, TOL);
    assert_float_equal(out.X[3 * 3 + 1], (2 - 1.25) / sd, TOL);
    assert_string_equal(out.feature_names[1], "f1");
    lm_dataset_free(&out);
    lm_dataset_free(&tr);
}

static void test_fit_on_train_only(void **state) {
    (void)state;
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    p.scaler = LM_SCALE_STANDARDIZE;
    p.missing_indicator = 1;
    lm_dataset tr, te, out, out2;
    make_train(&tr);
    /* A test split whose own statistics are nothing like train's. */
    const float X[3][3] = {{100, 1, -3}, {NAN, 7, 40}, {300, NAN, 60}};
    assert_int_equal(lm_dataset_subset(&tr, (const int32_t[]){0, 1, 2}, 3, &te), LM_OK);
    memcpy(te.X, X, sizeof X);
    lm_preprocessor *pp;
    assert_int_equal(lm_preprocess_fit(&p, &tr, &pp), LM_OK);
    assert_int_equal(lm_preprocess_apply(pp, &te, &out), LM_OK);
    const double rows[3][7] = {
        {(100 - MEAN0) / SD0, 0, 1, 0, -3 - 5, 0, 0},
        {0, 0, 0, 0, 40 - 5, 1, 0},                /* 7 is no category: all zeros */
        {(300 - MEAN0) / SD0, 0, 0, 1, 60 - 5, 0, 1}}; /* missing f1: train's mode */
    for (int i = 0; i < 3; i++) assert_row(&out, i, rows[i]);
    /* Transforming train after the test split changes nothing that was learned. */
    assert_int_equal(lm_preprocess_apply(pp, &tr, &out2), LM_OK);
    assert_float_equal(out2.X[0], (1 - MEAN0) / SD0, TOL);
    lm_dataset_free(&out2);
    lm_preprocess_destroy(&pp);
    lm_preprocess_destroy(&pp); /* harmless twice */
    lm_dataset_free(&out);
    lm_dataset_free(&te);
    lm_dataset_free(&tr);
}

static void test_never_observed(void **state) {
    (void)state;
    lm_dataset tr, out;
    make_train(&tr);
    for (int i = 0; i < 5; i++) tr.X[i * 3] = tr.X[i * 3 + 1] = NAN;
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    p.scaler = LM_SCALE_STANDARDIZE;
    run(&p, &tr, &tr, &out, 5);
    /* Nothing observed: the numeric feature imputes 0, the categorical one no category. */
    const double row[5] = {0, 0, 0, 0, 0};
    for (int i = 0; i < 5; i++) assert_row(&out, i, row);
    lm_dataset_free(&out);
    lm_dataset_free(&tr);
}

static void test_numeric_without_descriptions(void **state) {
    (void)state;
    /* A tabular dataset without feature descriptions is all numeric. */
    lm_dataset tr, out;
    assert_int_equal(lm_dataset_alloc(&tr, 4, 2, 1, 1, 2), LM_OK);
    const float X[] = {0, 10, 2, INFINITY, 4, 30, 6, 40};
    memcpy(tr.X, X, sizeof X);
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    p.scaler = LM_SCALE_MINMAX;
    p.missing_indicator = 1;
    run(&p, &tr, &tr, &out, 3);
    assert_null(out.feature_names);
    /* Column 1: observed {10, 30, 40}; the infinity counts as missing -> mean 80/3. */
    const double r1[] = {2.0 / 6, (80.0 / 3 - 10) / 30, 1};
    assert_row(&out, 1, r1);
    lm_dataset_free(&out);
    lm_dataset_free(&tr);
}

static void test_images_per_channel(void **state) {
    (void)state;
    /* 2 images of 2 channels x 1 x 2: channel 0 holds {0, 2, 4, NAN}, channel 1
     * {10, 10, 10, 10}. */
    lm_dataset tr, out;
    assert_int_equal(lm_dataset_alloc(&tr, 2, 2, 1, 2, 2), LM_OK);
    const float X[] = {0, 2, 10, 10, 4, NAN, 10, 10};
    memcpy(tr.X, X, sizeof X);
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    p.scaler = LM_SCALE_STANDARDIZE;
    p.missing_indicator = 1; /* does not apply to images */
    lm_preprocessor *pp;
    assert_int_equal(lm_preprocess_fit(&p, &tr, &pp), LM_OK);
    assert_int_equal(lm_preprocess_apply(pp, &tr, &out), LM_OK);
    assert_int_equal(out.c, 2);
    assert_int_equal(out.h, 1);
    assert_int_equal(out.w, 2);
    double sd = sqrt(8.0 / 3); /* of {0, 2, 4} around 2 */
    const double want[] = {-2 / sd, 0, 0, 0, 2 / sd, 0, 0, 0};
    for (int k = 0; k < 8; k++) assert_float_equal(out.X[k], want[k], TOL);
    lm_dataset_free(&out);

    /* Another shape is refused. */
    lm_dataset other;
    assert_int_equal(lm_dataset_alloc(&other, 1, 2, 2, 1, 2), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_preprocess_apply(pp, &other, &out), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "fit on 2 x 1 x 2"));
    assert_null(out.X);
    lm_error_clear();
    lm_dataset_free(&other);
    lm_preprocess_destroy(&pp);
    lm_dataset_free(&tr);
}

static void test_errors(void **state) {
    (void)state;
    lm_dataset tr, other, out;
    make_train(&tr);
    lm_preprocess_params p;
    lm_preprocess_params_default(&p);
    lm_preprocessor *pp = NULL;
    p.scaler = (lm_scaler)7;
    lm_error_clear();
    assert_int_equal(lm_preprocess_fit(&p, &tr, &pp), LM_EINVAL);
    assert_null(pp);
    lm_error_clear();
    lm_preprocess_params_default(&p);
    /* Features described differently from the training split. */
    assert_int_equal(lm_preprocess_fit(&p, &tr, &pp), LM_OK);
    assert_int_equal(lm_dataset_alloc(&other, 2, 3, 1, 1, 2), LM_OK);
    assert_int_equal(lm_preprocess_apply(pp, &other, &out), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "feature 2"));
    lm_error_clear();
    lm_preprocess_destroy(&pp);
    /* No training samples. */
    lm_dataset empty;
    assert_int_equal(lm_dataset_alloc(&empty, 0, 3, 1, 1, 2), LM_OK);
    assert_int_equal(lm_preprocess_fit(&p, &empty, &pp), LM_EINVAL);
    lm_error_clear();
    lm_dataset_free(&empty);
    lm_dataset_free(&other);
    lm_dataset_free(&tr);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_one_hot_mean),
        cmocka_unit_test(test_standardize),
        cmocka_unit_test(test_minmax),
        cmocka_unit_test(test_impute_median_and_most_frequent),
        cmocka_unit_test(test_missing_indicator),
        cmocka_unit_test(test_ordinal_categories),
        cmocka_unit_test(test_fit_on_train_only),
        cmocka_unit_test(test_never_observed),
        cmocka_unit_test(test_numeric_without_descriptions),
        cmocka_unit_test(test_images_per_channel),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
