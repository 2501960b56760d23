/* The multi-fidelity GP over (configuration, epoch): predicting final accuracies of
 * configurations seen only for a few epochs, from complete curves of others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/surrogate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_OK(expr)                                                                       \
    do {                                                                                     \
        int rc_ = (expr);                                                                    \
        if (rc_ != LM_OK) fail_msg("%s: %s (%s)", #expr, lm_strerror(rc_), lm_error_message()); \
    } while (0)

#define MAXE 20

static double final_acc(const double *x) {
    return 0.9 - 0.6 * (x[0] - 0.5) * (x[0] - 0.5) - 0.2 * x[1];
}

/* Curves rise from 0.1 towards the final accuracy, saturating around epoch 10. */
static double curve(const double *x, int e) {
    double a = final_acc(x);
    return a - (a - 0.1) * exp(-(e - 1) / 3.0);
}

/* 30 configurations trained to 20 epochs, 10 more seen for 4 epochs only: the GP's
 * final-accuracy predictions for the 10 are within 0.03 RMS, much better than their
 * last observed value, and more uncertain than those of the complete ones. */
static void test_predict_final(void **state) {
    (void)state;
    enum { FULL = 30, PART = 10, SEEN = 4 };
    int n = FULL * MAXE + PART * SEEN;
    double *X = malloc((size_t)n * 2 * sizeof *X), *acc = malloc((size_t)n * sizeof *acc);
    int *ep = malloc((size_t)n * sizeof *ep);
    double cfg[FULL + PART][2];
    lm_rng rng;
    lm_rng_init(&rng, 4, 0, 0);
    int k = 0;
    for (int c = 0; c < FULL + PART; c++) {
        cfg[c][0] = lm_rng_uniform(&rng);
        cfg[c][1] = lm_rng_uniform(&rng);
        int last = c < FULL ? MAXE : SEEN;
        for (int e = 1; e <= last; e++, k++) {
            X[2 * k] = cfg[c][0];
            X[2 * k + 1] = cfg[c][1];
            ep[k] = e;
            acc[k] = curve(cfg[c], e) + 0.005 * lm_rng_normal(&rng);
        }
    }
    assert_int_equal(k, n);
    lm_curve_gp *g;
    CHECK_OK(lm_curve_gp_create(2, MAXE, NULL, &g));
    assert_true(lm_curve_gp_t(g, 1) == 0.0 && lm_curve_gp_t(g, MAXE) == 1.0);
    assert_true(fabs(lm_curve_gp_t(g, 4) - log(4.0) / log(20.0)) < 1e-15);
    CHECK_OK(lm_curve_gp_fit(g, n, X, ep, acc, 6, &rng));
    /* 30 curves thinned to their last 6 points, 10 of 4. */
    assert_int_equal(lm_gp_n(lm_curve_gp_model(g)), FULL * 6 + PART * SEEN);
    double mu[PART], var[PART], se = 0, se_last = 0;
    CHECK_OK(lm_curve_gp_predict_final(g, PART, &cfg[FULL][0], mu, var));
    for (int c = 0; c < PART; c++) {
        double want = final_acc(cfg[FULL + c]);
        se += (mu[c] - want) * (mu[c] - want);
        double last = curve(cfg[FULL + c], SEEN);
        se_last += (last - want) * (last - want);
    }
    double rmse = sqrt(se / PART), rmse_last = sqrt(se_last / PART);
    print_message("final accuracy RMSE: GP %.4f, last value %.4f\n", rmse, rmse_last);
    assert_true(rmse < 0.03);
    assert_true(rmse < 0.25 * rmse_last);
    double mu_full[FULL], var_full[FULL], mean_var_full = 0, mean_var_part = 0;
    CHECK_OK(lm_curve_gp_predict_final(g, FULL, &cfg[0][0], mu_full, var_full));
    for (int c = 0; c < FULL; c++) mean_var_full += var_full[c] / FULL;
    for (int c = 0; c < PART; c++) mean_var_part += var[c] / PART;
    assert_true(mean_var_part > mean_var_full);
    /* Errors: an epoch out of range. */
    ep[0] = MAXE + 1;
    assert_int_equal(lm_curve_gp_fit(g, n, X, ep, acc, 0, &rng), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "epoch 21 outside 1..20"));
    lm_error_clear();
    lm_curve_gp_destroy(&g);
    assert_null(g);
    free(X);
    free(acc);
    free(ep);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_predict_final),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
