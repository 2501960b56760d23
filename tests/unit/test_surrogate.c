/* The GP surrogate: posterior against an independently computed example, the
 * marginal-likelihood gradient against finite differences for every kernel (shared
 * and ARD scales, sums and products, constant mean), L-BFGS on Rosenbrock, jitter,
 * the hyperparameter fit, the acquisition formulas and their maximization, and
 * fantasies. */
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

static void assert_close(double got, double want, double tol, const char *what) {
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.12g, want %.12g (tolerance %g)", what, got, want, tol);
}

static lm_gp *make_gp(lm_kernel_kind kind, int dim, int ard, lm_gp_mean mean) {
    lm_kernel *k;
    CHECK_OK(lm_kernel_create(kind, dim, ard, &k));
    lm_gp_options o;
    lm_gp_options_default(&o);
    o.mean = mean;
    lm_gp *gp;
    CHECK_OK(lm_gp_create(dim, k, &o, &gp));
    return gp;
}

/* ---- posterior ---- */

/* RBF, s2 = 1, l = 0.5, noise variance 0.01 (standardized), zero mean, inputs
 * 0, 0.5, 1 and targets 1, 3, 2. By hand: y standardizes with mean 2 and (population)
 * sd sqrt(2/3) to (-1.224745, 1.224745, 0); K + 0.01 I has 1.01 on the diagonal,
 * exp(-0.5) = 0.6065307 between neighbours and exp(-2) = 0.1353353 between the ends;
 * alpha = (K + 0.01 I)^-1 y_std = (-3.933484, 5.096050, -2.533324). At x* = 0.25,
 * k* = (exp(-0.125), exp(-0.125), exp(-1.125)) = (0.8824969, 0.8824969, 0.3246525),
 * mu = 2 + sd k*.alpha and var = sd^2 (1 - k*^T (K + 0.01 I)^-1 k*). Checked
 * independently (numpy.linalg.solve in double precision):
 *   x* = 0.25: mu = 2.1661886558389662, var = 0.01668032444087323
 *   x* = 0.75: mu = 2.803969538655979,  var = 0.016680324440873306
 *   x* = 2.0:  mu = 1.7652211634777184, var = 0.6476739271063943
 *   log marginal likelihood (standardized targets) = -7.786770445761322 */
static void test_posterior_hand(void **state) {
    (void)state;
    lm_gp *gp = make_gp(LM_KERNEL_RBF, 1, 0, LM_GP_MEAN_ZERO);
    assert_int_equal(lm_gp_n_params(gp), 3);
    double theta[3] = {log(1.0), log(0.5), log(0.01)};
    CHECK_OK(lm_gp_set_params(gp, theta));
    double X[3] = {0.0, 0.5, 1.0}, y[3] = {1.0, 3.0, 2.0};
    CHECK_OK(lm_gp_set_data(gp, 3, X, y));
    assert_close(lm_gp_y_mean(gp), 2.0, 1e-15, "y mean");
    assert_close(lm_gp_y_scale(gp), sqrt(2.0 / 3.0), 1e-15, "y scale");
    double xs[3] = {0.25, 0.75, 2.0}, mu[3], var[3];
    CHECK_OK(lm_gp_predict(gp, 3, xs, mu, var));
    const double want_mu[3] = {2.1661886558389662, 2.803969538655979, 1.7652211634777184};
    const double want_var[3] = {0.01668032444087323, 0.016680324440873306, 0.6476739271063943};
    for (int i = 0; i < 3; i++) {
        assert_close(mu[i], want_mu[i], 1e-12, "posterior mean");
        assert_close(var[i], want_var[i], 1e-12, "posterior variance");
    }
    assert_close(lm_gp_log_marginal(gp), -7.786770445761322, 1e-10, "log marginal likelihood");
    assert_true(lm_gp_jitter(gp) == 0.0);
    /* Predicting without var, one point at a time, gives the same means. */
    double one;
    CHECK_OK(lm_gp_predict(gp, 1, xs + 2, &one, NULL));
    assert_close(one, want_mu[2], 1e-12, "mean alone");
    lm_gp_destroy(&gp);
    assert_null(gp);
}

/* ---- gradient of the log marginal likelihood ---- */

static lm_kernel *kernel_of(int which, int dim, int ard) {
    lm_kernel *a, *b, *k;
    switch (which) {
    case 0: CHECK_OK(lm_kernel_create(LM_KERNEL_RBF, dim, ard, &k)); return k;
    case 1: CHECK_OK(lm_kernel_create(LM_KERNEL_MATERN52, dim, ard, &k)); return k;
    case 2: CHECK_OK(lm_kernel_create(LM_KERNEL_LINEAR, dim, ard, &k)); return k;
    case 3: CHECK_OK(lm_kernel_create(LM_KERNEL_PERIODIC, dim, ard, &k)); return k;
    case 4:
        CHECK_OK(lm_kernel_create(LM_KERNEL_MATERN52, dim, ard, &a));
        CHECK_OK(lm_kernel_create(LM_KERNEL_LINEAR, dim, ard, &b));
        CHECK_OK(lm_kernel_combine(LM_KERNEL_SUM, a, b, &k));
        return k;
    default:
        CHECK_OK(lm_kernel_create(LM_KERNEL_RBF, dim, ard, &a));
        CHECK_OK(lm_kernel_create(LM_KERNEL_PERIODIC, dim, ard, &b));
        CHECK_OK(lm_kernel_combine(LM_KERNEL_PRODUCT, a, b, &k));
        return k;
    }
}

/* Central differences with h = 1e-5 agree with the analytic gradient to 1e-6
 * relative (plus 1e-6 absolute), for 6 kernels x {shared, ARD} x {zero, constant mean}. */
static void test_lml_gradient(void **state) {
    (void)state;
    enum { N = 9, D = 3 };
    lm_rng rng;
    lm_rng_init(&rng, 11, 0, 0);
    double X[N * D], y[N];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < D; j++) X[i * D + j] = lm_rng_uniform(&rng);
        y[i] = sin(5 * X[i * D]) + X[i * D + 1] * X[i * D + 2] + 0.1 * lm_rng_normal(&rng);
    }
    for (int which = 0; which < 6; which++)
        for (int ard = 0; ard < 2; ard++)
            for (int mean = 0; mean < 2; mean++) {
                lm_kernel *k = kernel_of(which, D, ard);
                char name[64];
                lm_kernel_describe(k, name, sizeof name);
                lm_gp_options o;
                lm_gp_options_default(&o);
                o.mean = mean ? LM_GP_MEAN_CONSTANT : LM_GP_MEAN_ZERO;
                lm_gp *gp;
                CHECK_OK(lm_gp_create(D, k, &o, &gp));
                CHECK_OK(lm_gp_set_data(gp, N, X, y));
                int np = lm_gp_n_params(gp);
                double theta[64], g[64], gp_[64], gm[64], lo[64], hi[64];
                assert_true(np <= 64);
                lm_gp_param_bounds(gp, lo, hi);
                /* A point well inside the bounds, different for every parameter. */
                lm_hparam_kind kinds[64];
                lm_gp_param_kinds(gp, kinds);
                for (int i = 0; i < np; i++) {
                    double v = lm_rng_uniform(&rng);
                    theta[i] = lo[i] + (hi[i] - lo[i]) * (0.35 + 0.3 * v);
                    if (kinds[i] == LM_HPARAM_NOISE) theta[i] = log(0.05);
                    if (kinds[i] == LM_HPARAM_LENGTHSCALE) theta[i] = log(0.3 + 0.4 * v);
                    if (kinds[i] == LM_HPARAM_PERIOD) theta[i] = log(0.8 + 0.4 * v);
                }
                double f0;
                CHECK_OK(lm_gp_log_marginal_grad(gp, theta, &f0, g));
                assert_true(isfinite(f0));
                for (int i = 0; i < np; i++) {
                    double h = 1e-5, fp, fm, t0 = theta[i];
                    theta[i] = t0 + h;
                    CHECK_OK(lm_gp_log_marginal_grad(gp, theta, &fp, gp_));
                    theta[i] = t0 - h;
                    CHECK_OK(lm_gp_log_marginal_grad(gp, theta, &fm, gm));
                    theta[i] = t0;
                    double fd = (fp - fm) / (2 * h);
                    if (!(fabs(fd - g[i]) <= 1e-6 * fabs(fd) + 1e-6))
                        fail_msg("%s ard=%d mean=%d: d lml / d theta[%d] = %.10g, finite "
                                 "difference %.10g",
                                 name, ard, mean, i, g[i], fd);
                }
                /* The GP's own hyperparameters are untouched by the evaluation. */
                double after[64];
                lm_gp_get_params(gp, after);
                double lml_before = lm_gp_log_marginal(gp);
                CHECK_OK(lm_gp_set_params(gp, after));
                assert_close(lm_gp_log_marginal(gp), lml_before, 1e-12, "unchanged lml");
                lm_gp_destroy(&gp);
            }
}

/* The kernel gradient itself, per pair, for kernels with ARD, against differences. */
static void test_kernel_gradient(void **state) {
    (void)state;
    double a[3] = {0.1, 0.7, 0.4}, b[3] = {0.5, 0.2, 0.45};
    for (int which = 0; which < 6; which++) {
        lm_kernel *k = kernel_of(which, 3, 1);
        int np = lm_kernel_n_params(k);
        double th[32], g[32], gg[32];
        lm_kernel_get_params(k, th);
        for (int i = 0; i < np; i++) th[i] += 0.1 * (i % 3) - 0.1;
        lm_kernel_set_params(k, th);
        double v = lm_kernel_grad(k, a, b, g);
        assert_close(v, lm_kernel_eval(k, a, b), 1e-14, "grad returns the value");
        for (int i = 0; i < np; i++) {
            double h = 1e-6, t0 = th[i];
            th[i] = t0 + h;
            lm_kernel_set_params(k, th);
            double fp = lm_kernel_grad(k, a, b, gg);
            th[i] = t0 - h;
            lm_kernel_set_params(k, th);
            double fm = lm_kernel_eval(k, a, b);
            th[i] = t0;
            lm_kernel_set_params(k, th);
            assert_close(g[i], (fp - fm) / (2 * h), 1e-7, "kernel gradient");
        }
        lm_kernel_destroy(&k);
        assert_null(k);
    }
}

/* Hand values: Matern 5/2 at r = 1 is (1 + sqrt5 + 5/3) e^-sqrt5 = 0.5239941088;
 * periodic at distance p/4 with l = 1 is exp(-2 sin^2(pi/4)) = e^-1; linear with
 * offset 0.1 and weight 1 is 0.1 + a.b. */
static void test_kernel_values(void **state) {
    (void)state;
    lm_kernel *k;
    CHECK_OK(lm_kernel_create(LM_KERNEL_MATERN52, 1, 0, &k));
    double th[3] = {0.0, 0.0, 0.0};
    lm_kernel_set_params(k, th);
    double a = 0.0, b = 1.0;
    assert_close(lm_kernel_eval(k, &a, &b), 0.52399410883, 1e-10, "matern52(r=1)");
    lm_kernel_destroy(&k);
    CHECK_OK(lm_kernel_create(LM_KERNEL_PERIODIC, 1, 0, &k));
    lm_kernel_set_params(k, th);
    b = 0.25;
    assert_close(lm_kernel_eval(k, &a, &b), exp(-1.0), 1e-14, "periodic(p/4)");
    b = 1.0;
    assert_close(lm_kernel_eval(k, &a, &b), 1.0, 1e-14, "periodic(p)");
    lm_kernel_destroy(&k);
    double u[2] = {0.5, 2.0}, w[2] = {3.0, 0.25};
    CHECK_OK(lm_kernel_create(LM_KERNEL_LINEAR, 2, 0, &k));
    assert_close(lm_kernel_eval(k, u, w), 0.1 + 1.5 + 0.5, 1e-14, "linear");
    char name[64];
    lm_kernel *r, *sum;
    CHECK_OK(lm_kernel_create(LM_KERNEL_RBF, 2, 1, &r));
    CHECK_OK(lm_kernel_combine(LM_KERNEL_SUM, r, k, &sum));
    lm_kernel_describe(sum, name, sizeof name);
    assert_string_equal(name, "(rbf(ard) + linear)");
    assert_int_equal(lm_kernel_n_params(sum), 3 + 2);
    lm_kernel_destroy(&sum);
    /* Errors: a combining kind as a base kernel, mismatched dims (both destroyed). */
    assert_int_equal(lm_kernel_create(LM_KERNEL_SUM, 2, 0, &k), LM_EINVAL);
    assert_int_equal(lm_kernel_create(LM_KERNEL_RBF, 0, 0, &k), LM_EINVAL);
    lm_kernel *x1, *x2;
    CHECK_OK(lm_kernel_create(LM_KERNEL_RBF, 2, 0, &x1));
    CHECK_OK(lm_kernel_create(LM_KERNEL_RBF, 3, 0, &x2));
    assert_int_equal(lm_kernel_combine(LM_KERNEL_PRODUCT, x1, x2, &k), LM_EINVAL);
    lm_error_clear();
}

/* ---- L-BFGS ---- */

static int rosenbrock(void *ctx, const double *x, double *f, double *g) {
    int n = *(int *)ctx;
    *f = 0;
    for (int i = 0; i < n; i++) g[i] = 0;
    for (int i = 0; i + 1 < n; i++) {
        double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
        *f += 100 * a * a + b * b;
        g[i] += -400 * x[i] * a - 2 * b;
        g[i + 1] += 200 * a;
    }
    return LM_OK;
}

static void test_lbfgs_rosenbrock(void **state) {
    (void)state;
    for (int n = 2; n <= 10; n += 8) {
        double x[10];
        for (int i = 0; i < n; i++) x[i] = i % 2 ? 1.0 : -1.2;
        lm_lbfgs_options o;
        lm_lbfgs_options_default(&o);
        o.max_iter = 1000;
        o.max_evals = 5000;
        o.gtol = 1e-9;
        o.ftol = 0;
        double f;
        int evals;
        CHECK_OK(lm_lbfgs_minimize(n, x, NULL, NULL, rosenbrock, &n, &o, &f, &evals));
        assert_true(f < 1e-12);
        for (int i = 0; i < n; i++) assert_close(x[i], 1.0, 1e-5, "rosenbrock minimizer");
        assert_true(evals < 1000);
    }
    /* With the box x <= 0.5 the constrained minimum of the 2-D function is at
     * x0 = 0.5, x1 = 0.25 (x1 = x0^2 at the bound). */
    int n = 2;
    double x[2] = {-1.2, 0.2}, lo[2] = {-2, -2}, hi[2] = {0.5, 0.5}, f;
    CHECK_OK(lm_lbfgs_minimize(n, x, lo, hi, rosenbrock, &n, NULL, &f, NULL));
    assert_close(x[0], 0.5, 1e-6, "bounded x0");
    assert_close(x[1], 0.25, 1e-4, "bounded x1");
    assert_close(f, 0.25, 1e-6, "bounded minimum");
}

static int nan_start(void *ctx, const double *x, double *f, double *g) {
    (void)ctx;
    *f = x[0] > 0 ? NAN : x[0] * x[0];
    g[0] = 2 * x[0];
    return LM_OK;
}

static void test_lbfgs_errors(void **state) {
    (void)state;
    double x = 1.0;
    assert_int_equal(lm_lbfgs_minimize(1, &x, NULL, NULL, nan_start, NULL, NULL, NULL, NULL),
                     LM_ERANGE);
    assert_non_null(strstr(lm_error_message(), "not finite"));
    lm_error_clear();
    /* Non-finite values past the start make the line search step back. */
    x = -1.0;
    double f;
    CHECK_OK(lm_lbfgs_minimize(1, &x, NULL, NULL, nan_start, NULL, NULL, &f, NULL));
    assert_true(fabs(x) < 1e-5);
}

/* ---- jitter, fit, conditioning ---- */

static void test_jitter(void **state) {
    (void)state;
    lm_kernel *k;
    CHECK_OK(lm_kernel_create(LM_KERNEL_RBF, 1, 0, &k));
    lm_gp_options o;
    lm_gp_options_default(&o);
    o.noise = o.noise_min = 1e-300; /* no noise: duplicates make K singular */
    lm_gp *gp;
    CHECK_OK(lm_gp_create(1, k, &o, &gp));
    double X[4] = {0.2, 0.2, 0.2, 0.7}, y[4] = {1, 1, 1, 0};
    CHECK_OK(lm_gp_set_data(gp, 4, X, y));
    assert_true(lm_gp_jitter(gp) > 0 && lm_gp_jitter(gp) < 1e-4);
    double mu;
    CHECK_OK(lm_gp_predict(gp, 1, X, &mu, NULL));
    assert_close(mu, 1.0, 1e-4, "mean at the duplicates");
    /* Non-finite inputs are refused with a message. */
    double bad[2] = {0.1, NAN}, yb[2] = {0, 1};
    assert_int_equal(lm_gp_set_data(gp, 2, bad, yb), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "not finite"));
    lm_error_clear();
    lm_gp_destroy(&gp);
}

/* A fit on 40 noisy samples of a smooth 2-D function improves the log marginal
 * likelihood over the starting hyperparameters, finds a noise level near the true
 * one, and predicts held-out points well. */
static void test_fit(void **state) {
    (void)state;
    enum { N = 40, M = 50 };
    lm_rng rng;
    lm_rng_init(&rng, 3, 0, 0);
    double X[N * 2], y[N], Xt[M * 2], yt[M];
    for (int i = 0; i < N + M; i++) {
        double *x = i < N ? X + 2 * i : Xt + 2 * (i - N);
        x[0] = lm_rng_uniform(&rng);
        x[1] = lm_rng_uniform(&rng);
        double v = sin(6 * x[0]) + 0.5 * x[1] + 3.0; /* x[1] matters less */
        if (i < N) y[i] = v + 0.05 * lm_rng_normal(&rng);
        else yt[i - N] = v;
    }
    lm_gp *gp = make_gp(LM_KERNEL_MATERN52, 2, 1, LM_GP_MEAN_CONSTANT);
    CHECK_OK(lm_gp_set_data(gp, N, X, y));
    double before = lm_gp_log_marginal(gp);
    lm_rng fit_rng;
    lm_rng_init(&fit_rng, 1, 0, 0);
    CHECK_OK(lm_gp_fit(gp, &fit_rng));
    double after = lm_gp_log_marginal(gp);
    assert_true(after > before + 10);
    double theta[8];
    lm_gp_get_params(gp, theta);
    /* Layout: log s2, log l1, log l2, log noise, mean. The noise sd 0.05 over a target
     * sd of about 0.75 is a standardized variance of about 0.0045. */
    double noise = exp(theta[3]);
    assert_true(noise > 0.0005 && noise < 0.03);
    assert_true(theta[1] < theta[2]); /* the faster-varying input gets the shorter scale */
    double mu[M], var[M], se = 0;
    CHECK_OK(lm_gp_predict(gp, M, Xt, mu, var));
    for (int i = 0; i < M; i++) {
        se += (mu[i] - yt[i]) * (mu[i] - yt[i]);
        assert_true(var[i] >= 0);
    }
    assert_true(sqrt(se / M) < 0.1);
    /* Same seed, same fit. */
    lm_gp *gp2 = make_gp(LM_KERNEL_MATERN52, 2, 1, LM_GP_MEAN_CONSTANT);
    CHECK_OK(lm_gp_set_data(gp2, N, X, y));
    lm_rng_init(&fit_rng, 1, 0, 0);
    CHECK_OK(lm_gp_fit(gp2, &fit_rng));
    assert_true(lm_gp_log_marginal(gp2) == after);
    lm_gp_destroy(&gp2);
    /* lm_gp_fit_data is set_data + fit with one factorization: the same fit. */
    gp2 = make_gp(LM_KERNEL_MATERN52, 2, 1, LM_GP_MEAN_CONSTANT);
    lm_rng_init(&fit_rng, 1, 0, 0);
    CHECK_OK(lm_gp_fit_data(gp2, N, X, y, &fit_rng));
    assert_true(lm_gp_log_marginal(gp2) == after);
    lm_gp_destroy(&gp2);
    /* A subset fit (fit_max_n smaller than n) still fits well. */
    lm_kernel *k;
    CHECK_OK(lm_kernel_create(LM_KERNEL_MATERN52, 2, 1, &k));
    lm_gp_options o;
    lm_gp_options_default(&o);
    o.fit_max_n = 20;
    CHECK_OK(lm_gp_create(2, k, &o, &gp2));
    CHECK_OK(lm_gp_set_data(gp2, N, X, y));
    CHECK_OK(lm_gp_fit(gp2, &fit_rng));
    assert_int_equal(lm_gp_n(gp2), N);
    assert_true(lm_gp_log_marginal(gp2) > before + 10);
    lm_gp_destroy(&gp2);
    lm_gp_destroy(&gp);
}

/* Conditioning on a fantasy at x keeps the standardization and the mean there, and
 * (fantasies being noise-free) leaves almost no variance there, even with a large
 * noise. */
static void test_condition(void **state) {
    (void)state;
    lm_kernel *k;
    CHECK_OK(lm_kernel_create(LM_KERNEL_RBF, 1, 0, &k));
    lm_gp_options o;
    lm_gp_options_default(&o);
    o.mean = LM_GP_MEAN_ZERO;
    o.noise = 0.3;
    lm_gp *gp;
    CHECK_OK(lm_gp_create(1, k, &o, &gp));
    double X[3] = {0.0, 0.5, 1.0}, y[3] = {1.0, 3.0, 2.0};
    CHECK_OK(lm_gp_set_data(gp, 3, X, y));
    double xs = 0.25, mu0, var0, mu1, var1;
    CHECK_OK(lm_gp_predict(gp, 1, &xs, &mu0, &var0));
    CHECK_OK(lm_gp_condition(gp, 1, &xs, &mu0));
    assert_int_equal(lm_gp_n(gp), 4);
    assert_close(lm_gp_y_mean(gp), 2.0, 1e-15, "standardization kept");
    CHECK_OK(lm_gp_predict(gp, 1, &xs, &mu1, &var1));
    assert_close(mu1, mu0, 1e-9, "believer keeps the mean");
    assert_true(var1 < 1e-6 * var0);
    lm_gp_destroy(&gp);
}

/* ---- acquisition ---- */

/* Reference values: Phi(0) = 0.5, phi(0) = 0.3989422804014327, Phi(1) =
 * 0.8413447460685429, phi(1) = 0.24197072451914337. */
static void test_acq_formulas(void **state) {
    (void)state;
    lm_acq ei = {LM_ACQ_EI, .best = 1.0, .xi = 0.0};
    /* mu = best: EI = sigma phi(0). */
    assert_close(lm_acq_eval(&ei, 1.0, 2.0), 2.0 * 0.3989422804014327, 1e-14, "EI at z=0");
    /* z = 1: EI = sigma (Phi(1) + phi(1)). */
    assert_close(lm_acq_eval(&ei, 1.5, 0.5), 0.5 * (0.8413447460685429 + 0.24197072451914337),
                 1e-14, "EI at z=1");
    /* xi shifts the incumbent: mu = 1.5, xi = 0.5 is z = 0. */
    ei.xi = 0.5;
    assert_close(lm_acq_eval(&ei, 1.5, 1.0), 0.3989422804014327, 1e-14, "EI with xi");
    assert_close(lm_acq_eval(&ei, 3.0, 0.0), 1.5, 1e-15, "EI without variance");
    assert_close(lm_acq_eval(&ei, 0.0, 0.0), 0.0, 0.0, "EI below without variance");
    lm_acq pi = {LM_ACQ_PI, .best = 0.0, .xi = 0.1};
    assert_close(lm_acq_eval(&pi, 0.1, 3.0), 0.5, 1e-15, "PI at z=0");
    assert_close(lm_acq_eval(&pi, 0.6, 0.5), 0.8413447460685429, 1e-14, "PI at z=1");
    assert_close(lm_acq_eval(&pi, 0.6, 0.0), 1.0, 0.0, "PI without variance");
    lm_acq ucb = {LM_ACQ_UCB, .kappa = 2.0};
    assert_close(lm_acq_eval(&ucb, 0.3, 0.25), 0.8, 1e-15, "UCB");
    /* EI grows with sigma at fixed mean and with mu at fixed sigma. */
    ei.xi = 0.0;
    assert_true(lm_acq_eval(&ei, 0.0, 2.0) > lm_acq_eval(&ei, 0.0, 1.0));
    assert_true(lm_acq_eval(&ei, 0.9, 1.0) > lm_acq_eval(&ei, 0.5, 1.0));
}

/* With UCB and kappa = 0 the acquisition is the posterior mean; on data from
 * -(x - 0.3)^2 - (y - 0.7)^2 the maximizer lands near (0.3, 0.7). */
static void test_acq_maximize(void **state) {
    (void)state;
    enum { N = 30 };
    lm_rng rng;
    lm_rng_init(&rng, 5, 0, 0);
    double X[2 * N], y[N];
    for (int i = 0; i < N; i++) {
        X[2 * i] = lm_rng_uniform(&rng);
        X[2 * i + 1] = lm_rng_uniform(&rng);
        double a = X[2 * i] - 0.3, b = X[2 * i + 1] - 0.7;
        y[i] = -a * a - b * b;
    }
    lm_gp *gp = make_gp(LM_KERNEL_RBF, 2, 1, LM_GP_MEAN_CONSTANT);
    CHECK_OK(lm_gp_set_data(gp, N, X, y));
    CHECK_OK(lm_gp_fit(gp, &rng));
    lm_acq a = {LM_ACQ_UCB, .kappa = 0.0};
    lm_acq_domain d = {.dim = 2};
    lm_acq_search s;
    lm_acq_search_default(&s);
    s.candidates = 500;
    double u[2], val;
    CHECK_OK(lm_acq_maximize(gp, &a, &d, &s, 0, NULL, &rng, u, &val));
    assert_close(u[0], 0.3, 0.03, "argmax x");
    assert_close(u[1], 0.7, 0.03, "argmax y");
    assert_close(val, 0.0, 0.01, "max value");
    /* EI is zero-free near the optimum and the maximizer is deterministic. */
    lm_acq ei = {LM_ACQ_EI, .best = 0.0};
    lm_rng r1, r2;
    lm_rng_init(&r1, 9, 0, 0);
    lm_rng_init(&r2, 9, 0, 0);
    double u1[2], u2[2], v1, v2;
    CHECK_OK(lm_acq_maximize(gp, &ei, &d, &s, 1, u, &r1, u1, &v1));
    CHECK_OK(lm_acq_maximize(gp, &ei, &d, &s, 1, u, &r2, u2, &v2));
    assert_true(u1[0] == u2[0] && u1[1] == u2[1] && v1 == v2);
    assert_true(v1 >= 0);
    lm_gp_destroy(&gp);
}

/* An encoder that snaps the second coordinate to {0.25, 0.75} and one-hot encodes it. */
static void snap_encode(void *ctx, double *u, double *x) {
    (void)ctx;
    u[1] = u[1] < 0.5 ? 0.25 : 0.75;
    x[0] = u[0];
    x[1] = u[1] < 0.5;
    x[2] = u[1] >= 0.5;
}

static void test_acq_encoded(void **state) {
    (void)state;
    /* Category 1 (u[1] = 0.75) is better everywhere; the best is at x = 0.8. */
    enum { N = 20 };
    double X[3 * N], y[N];
    for (int i = 0; i < N; i++) {
        double u[2] = {(i / 2) / 9.0, i % 2 ? 0.75 : 0.25};
        snap_encode(NULL, u, X + 3 * i);
        y[i] = -(u[0] - 0.8) * (u[0] - 0.8) + (i % 2 ? 1.0 : 0.0);
    }
    lm_gp *gp = make_gp(LM_KERNEL_MATERN52, 3, 1, LM_GP_MEAN_CONSTANT);
    CHECK_OK(lm_gp_set_data(gp, N, X, y));
    lm_rng rng;
    lm_rng_init(&rng, 2, 0, 0);
    CHECK_OK(lm_gp_fit(gp, &rng));
    lm_acq a = {LM_ACQ_UCB, .kappa = 0.0};
    lm_acq_domain d = {.dim = 2, .encode = snap_encode};
    double u[2];
    CHECK_OK(lm_acq_maximize(gp, &a, &d, NULL, 0, NULL, &rng, u, NULL));
    assert_true(u[1] == 0.75);
    assert_close(u[0], 0.8, 0.05, "argmax with a category");
    lm_gp_destroy(&gp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_posterior_hand),  cmocka_unit_test(test_kernel_values),
        cmocka_unit_test(test_kernel_gradient), cmocka_unit_test(test_lml_gradient),
        cmocka_unit_test(test_lbfgs_rosenbrock), cmocka_unit_test(test_lbfgs_errors),
        cmocka_unit_test(test_jitter),          cmocka_unit_test(test_fit),
        cmocka_unit_test(test_condition),       cmocka_unit_test(test_acq_formulas),
        cmocka_unit_test(test_acq_maximize),    cmocka_unit_test(test_acq_encoded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
