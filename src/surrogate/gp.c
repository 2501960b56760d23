/* Gaussian-process regression: data, standardization, the Cholesky factorization of
 * the covariance (LAPACK here, or an external solver for large n), and the posterior
 * (Rasmussen and Williams 2006, Algorithm 2.1):
 *   L = chol(K + s2 I),  alpha = L^T \ (L \ (y - m)),
 *   mu* = m + k*^T alpha,  var* = k** - |L \ k*|^2,
 *   log p(y) = -(y - m)^T alpha / 2 - sum log L_ii - n log(2 pi) / 2.
 * The hyperparameter fit is in gp_fit.c. */
#include "lamarck/error.h"
#include "lamarck/surrogate.h"
#include "surrogate/gp_internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.83787706640934548356
#define JITTER_FIRST 1e-10   /* times the mean diagonal */
#define JITTER_LAST 1e-4
#define PREDICT_CHUNK 256    /* test points per triangular solve */

void lm_gp_options_default(lm_gp_options *o) {
    memset(o, 0, sizeof *o);
    o->mean = LM_GP_MEAN_CONSTANT;
    o->noise = 1e-4;
    o->noise_min = 1e-6;
    o->noise_max = 1.0;
    o->restarts = 3;
    o->fit_max_n = 500;
    o->solver_min_n = 1000;
    lm_lbfgs_options_default(&o->lbfgs);
}

int lm_gp_create(int dim, lm_kernel *k, const lm_gp_options *o, lm_gp **out) {
    if (!out || !k) {
        lm_kernel_destroy(&k);
        LM_FAIL(LM_EINVAL, "lm_gp_create: NULL kernel or output");
    }
    *out = NULL;
    if (lm_kernel_dim(k) != dim) {
        int kd = lm_kernel_dim(k);
        lm_kernel_destroy(&k);
        LM_FAIL(LM_EINVAL, "lm_gp_create: the kernel has %d inputs, the GP %d", kd, dim);
    }
    lm_gp_options opt;
    if (o) opt = *o;
    else lm_gp_options_default(&opt);
    if (!(opt.noise_min > 0 && opt.noise_max >= opt.noise_min && isfinite(opt.noise_max)) ||
        opt.restarts < 0 || opt.fit_max_n < 2 || opt.solver_min_n < 1) {
        lm_kernel_destroy(&k);
        LM_FAIL(LM_EINVAL,
                "lm_gp_create: bad options (noise bounds %g..%g must be 0 < min <= max, "
                "restarts %d >= 0, fit_max_n %d >= 2, solver_min_n %d >= 1)",
                opt.noise_min, opt.noise_max, opt.restarts, opt.fit_max_n, opt.solver_min_n);
    }
    lm_gp *gp = calloc(1, sizeof *gp);
    if (!gp) {
        lm_kernel_destroy(&k);
        LM_FAIL(LM_ENOMEM, "out of memory creating a GP");
    }
    gp->dim = dim;
    gp->k = k;
    gp->o = opt;
    gp->nk = lm_kernel_n_params(k);
    double noise = opt.noise < opt.noise_min ? opt.noise_min
                   : opt.noise > opt.noise_max ? opt.noise_max : opt.noise;
    gp->log_noise = log(noise);
    gp->y_scale = 1.0;
    gp->lml = NAN;
    *out = gp;
    return LM_OK;
}

void lm_gp_destroy(lm_gp **gp) {
    if (!gp || !*gp) return;
    lm_kernel_destroy(&(*gp)->k);
    free((*gp)->X);
    free((*gp)->y);
    free((*gp)->L);
    free((*gp)->alpha);
    free(*gp);
    *gp = NULL;
}

void lm_gp_set_solver(lm_gp *gp, const lm_gp_solver *s) {
    gp->has_solver = s != NULL && s->factor_solve != NULL;
    if (gp->has_solver) gp->solver = *s;
}

int lm_gp_dim(const lm_gp *gp) { return gp->dim; }
int lm_gp_n(const lm_gp *gp) { return gp->n; }
double lm_gp_y_mean(const lm_gp *gp) { return gp->y_mean; }
double lm_gp_y_scale(const lm_gp *gp) { return gp->y_scale; }
double lm_gp_jitter(const lm_gp *gp) { return gp->jitter; }
double lm_gp_log_marginal(const lm_gp *gp) { return gp->factored ? gp->lml : NAN; }

/* ---- hyperparameters ---- */

int lm_gp_n_params(const lm_gp *gp) {
    return gp->nk + 1 + (gp->o.mean == LM_GP_MEAN_CONSTANT);
}

void lm_gp_get_params(const lm_gp *gp, double *theta) {
    lm_kernel_get_params(gp->k, theta);
    theta[gp->nk] = gp->log_noise;
    if (gp->o.mean == LM_GP_MEAN_CONSTANT) theta[gp->nk + 1] = gp->mean;
}

void lm_gp_param_kinds(const lm_gp *gp, lm_hparam_kind *kinds) {
    lm_kernel_param_kinds(gp->k, kinds);
    kinds[gp->nk] = LM_HPARAM_NOISE;
    if (gp->o.mean == LM_GP_MEAN_CONSTANT) kinds[gp->nk + 1] = LM_HPARAM_MEAN;
}

/* Bounds wide enough for any sensible fit of standardized outputs over inputs of
 * order one, narrow enough to keep the covariance well away from singular. */
void lm_gp_param_bounds(const lm_gp *gp, double *lo, double *hi) {
    int np = lm_gp_n_params(gp);
    lm_hparam_kind kinds[LM_GP_PARAMS_MAX + 2];
    lm_gp_param_kinds(gp, kinds);
    for (int i = 0; i < np; i++) {
        switch (kinds[i]) {
        case LM_HPARAM_VARIANCE: lo[i] = log(1e-3); hi[i] = log(1e2); break;
        case LM_HPARAM_LENGTHSCALE: lo[i] = log(1e-2); hi[i] = log(1e2); break;
        case LM_HPARAM_PERIOD: lo[i] = log(1e-2); hi[i] = log(1e1); break;
        case LM_HPARAM_OFFSET: lo[i] = log(1e-6); hi[i] = log(1e2); break;
        case LM_HPARAM_NOISE: lo[i] = log(gp->o.noise_min); hi[i] = log(gp->o.noise_max); break;
        case LM_HPARAM_MEAN: lo[i] = -5.0; hi[i] = 5.0; break;
        }
    }
}

int lm_gp_set_params(lm_gp *gp, const double *theta) {
    int np = lm_gp_n_params(gp);
    double lo[LM_GP_PARAMS_MAX + 2], hi[LM_GP_PARAMS_MAX + 2], t[LM_GP_PARAMS_MAX + 2];
    lm_gp_param_bounds(gp, lo, hi);
    for (int i = 0; i < np; i++) {
        LM_CHECK(!isnan(theta[i]), LM_EINVAL, "lm_gp_set_params: hyperparameter %d is NaN", i);
        t[i] = theta[i] < lo[i] ? lo[i] : theta[i] > hi[i] ? hi[i] : theta[i];
    }
    lm_kernel_set_params(gp->k, t);
    gp->log_noise = t[gp->nk];
    gp->mean = gp->o.mean == LM_GP_MEAN_CONSTANT ? t[gp->nk + 1] : 0.0;
    if (gp->n > 0) LM_CALL(lm__gp_factor(gp));
    return LM_OK;
}

/* ---- data ---- */

static int reserve(lm_gp *gp, int n) {
    LM_CHECK(n <= LM__GP_N_MAX, LM_ERANGE, "a GP holds at most %d points, asked for %d",
             LM__GP_N_MAX, n);
    if (n > gp->cap) {
        int cap = gp->cap ? gp->cap : 16;
        while (cap < n) cap = cap > LM__GP_N_MAX / 2 ? LM__GP_N_MAX : 2 * cap;
        double *X = realloc(gp->X, (size_t)cap * (size_t)gp->dim * sizeof *X);
        if (X) gp->X = X;
        double *y = realloc(gp->y, (size_t)cap * sizeof *y);
        if (y) gp->y = y;
        double *a = realloc(gp->alpha, (size_t)cap * sizeof *a);
        if (a) gp->alpha = a;
        LM_CHECK(X && y && a, LM_ENOMEM, "out of memory for a GP of %d points", cap);
        gp->cap = cap;
    }
    size_t need = (size_t)n * (size_t)n;
    if (need > gp->L_cap) {
        double *L = realloc(gp->L, need * sizeof *L);
        LM_CHECK(L, LM_ENOMEM, "out of memory for the %d x %d covariance of a GP", n, n);
        gp->L = L;
        gp->L_cap = need;
    }
    return LM_OK;
}

static int check_points(const lm_gp *gp, int m, const double *X, const double *y) {
    for (size_t i = 0; i < (size_t)m * (size_t)gp->dim; i++)
        LM_CHECK(isfinite(X[i]), LM_EINVAL, "GP input %zu, entry %zu is %g (not finite)",
                 i / (size_t)gp->dim, i % (size_t)gp->dim, X[i]);
    for (int i = 0; y && i < m; i++)
        LM_CHECK(isfinite(y[i]), LM_EINVAL, "GP target %d is %g (not finite)", i, y[i]);
    return LM_OK;
}

/* Copies and standardizes the data; leaves the GP unfactored. */
static int store_data(lm_gp *gp, int n, const double *X, const double *y) {
    LM_CHECK(gp && X && y, LM_EINVAL, "lm_gp_set_data: NULL argument");
    LM_CHECK(n >= 1, LM_EINVAL, "lm_gp_set_data: %d points (need at least 1)", n);
    gp->factored = 0;
    LM_CALL(check_points(gp, n, X, y));
    LM_CALL(reserve(gp, n));
    memcpy(gp->X, X, (size_t)n * (size_t)gp->dim * sizeof *X);
    memcpy(gp->y, y, (size_t)n * sizeof *y);
    gp->n = gp->n_data = n;
    double s = 0.0;
    for (int i = 0; i < n; i++) s += y[i];
    double mean = s / n, v = 0.0;
    for (int i = 0; i < n; i++) v += (y[i] - mean) * (y[i] - mean);
    double sd = sqrt(v / n);
    gp->y_mean = mean;
    /* Constant targets have no scale of their own: keep the caller's units. */
    gp->y_scale = sd > 1e-12 * (1.0 + fabs(mean)) ? sd : 1.0;
    return LM_OK;
}

int lm_gp_set_data(lm_gp *gp, int n, const double *X, const double *y) {
    LM_CALL(store_data(gp, n, X, y));
    LM_CALL(lm__gp_factor(gp));
    return LM_OK;
}

int lm_gp_fit_data(lm_gp *gp, int n, const double *X, const double *y, lm_rng *rng) {
    LM_CHECK(rng, LM_EINVAL, "lm_gp_fit_data: NULL rng");
    LM_CALL(store_data(gp, n, X, y));
    LM_CALL(lm_gp_fit(gp, rng)); /* ends with the one factorization */
    return LM_OK;
}

int lm_gp_condition(lm_gp *gp, int m, const double *X, const double *y) {
    LM_CHECK(gp && (m == 0 || (X && y)), LM_EINVAL, "lm_gp_condition: NULL argument");
    LM_CHECK(gp->n > 0, LM_EINVAL, "lm_gp_condition: the GP has no data yet (lm_gp_set_data)");
    LM_CHECK(m >= 0, LM_EINVAL, "lm_gp_condition: %d points", m);
    if (m == 0) return LM_OK;
    LM_CHECK(m <= LM__GP_N_MAX - gp->n, LM_ERANGE, "a GP holds at most %d points", LM__GP_N_MAX);
    LM_CALL(check_points(gp, m, X, y));
    LM_CALL(reserve(gp, gp->n + m));
    memcpy(gp->X + (size_t)gp->n * (size_t)gp->dim, X, (size_t)m * (size_t)gp->dim * sizeof *X);
    memcpy(gp->y + gp->n, y, (size_t)m * sizeof *y);
    gp->n += m;
    LM_CALL(lm__gp_factor(gp));
    return LM_OK;
}

/* ---- factorization ---- */

void lm__gp_build_cov(const lm_gp *gp, int n, const double *X, double noise, double *A) {
    int d = gp->dim;
    for (int j = 0; j < n; j++) {
        const double *xj = X + (size_t)j * d;
        double *col = A + (size_t)j * n;
        col[j] = lm_kernel_eval(gp->k, xj, xj) + noise;
        for (int i = j + 1; i < n; i++) col[i] = lm_kernel_eval(gp->k, X + (size_t)i * d, xj);
    }
}

/* LAPACK on this rank: factor A and solve for b. */
static int local_factor_solve(int n, double *A, double *b, int *info) {
    *info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, A, n);
    if (*info < 0) LM_FAIL(LM_EINTERNAL, "dpotrf: argument %d is invalid", -*info);
    if (*info > 0) return LM_OK;
    int rc = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', n, 1, A, n, b, n);
    LM_CHECK(rc == 0, LM_EINTERNAL, "dpotrs failed (%d)", rc);
    return LM_OK;
}

int lm__gp_factor(lm_gp *gp) {
    int n = gp->n;
    gp->factored = 0;
    double noise = exp(gp->log_noise);
    double diag = 0.0;
    for (int i = 0; i < n; i++) {
        const double *xi = gp->X + (size_t)i * gp->dim;
        diag += lm_kernel_eval(gp->k, xi, xi) + noise;
    }
    diag /= n;
    int use_solver = gp->has_solver && n >= gp->o.solver_min_n;
    double jitter = 0.0;
    for (;;) {
        lm__gp_build_cov(gp, n, gp->X, noise + jitter, gp->L);
        /* A fantasy stands for a pending evaluation's latent value, not a noisy reading:
         * without noise it pins the posterior there, so an acquisition does not
         * propose the pending point again (a noisy fantasy hardly moves the variance
         * when the fitted noise is large). */
        for (int i = gp->n_data; i < n; i++) gp->L[(size_t)i * n + i] -= noise;
        for (int i = 0; i < n; i++) gp->alpha[i] = (gp->y[i] - gp->y_mean) / gp->y_scale - gp->mean;
        int info = 0;
        if (use_solver)
            LM_CALL(gp->solver.factor_solve(gp->solver.ctx, n, gp->L, gp->alpha, &info));
        else
            LM_CALL(local_factor_solve(n, gp->L, gp->alpha, &info));
        if (info == 0) break;
        jitter = jitter > 0 ? 10.0 * jitter : JITTER_FIRST * diag;
        LM_CHECK(jitter <= JITTER_LAST * diag * (1.0 + 1e-9), LM_ERANGE,
                 "the GP covariance of %d points is not positive definite even with jitter "
                 "%.3g added to its diagonal (duplicate inputs with almost no noise?)",
                 n, jitter / 10.0);
    }
    gp->jitter = jitter;
    double quad = 0.0, logdet = 0.0;
    for (int i = 0; i < n; i++) {
        quad += ((gp->y[i] - gp->y_mean) / gp->y_scale - gp->mean) * gp->alpha[i];
        logdet += log(gp->L[(size_t)i * n + i]);
    }
    gp->lml = -0.5 * quad - logdet - 0.5 * n * LOG_2PI;
    gp->factored = 1;
    return LM_OK;
}

/* ---- posterior ---- */

int lm_gp_predict(const lm_gp *gp, int m, const double *Xs, double *mu, double *var) {
    LM_CHECK(gp && (m == 0 || (Xs && mu)), LM_EINVAL, "lm_gp_predict: NULL argument");
    LM_CHECK(gp->factored, LM_EINVAL, "lm_gp_predict: the GP has no data (lm_gp_set_data)");
    if (m <= 0) return LM_OK;
    int n = gp->n, d = gp->dim;
    int chunk = m < PREDICT_CHUNK ? m : PREDICT_CHUNK;
    double *Ks = malloc((size_t)n * (size_t)chunk * sizeof *Ks);
    LM_CHECK(Ks, LM_ENOMEM, "out of memory predicting at %d points", m);
    for (int at = 0; at < m; at += chunk) {
        int c = m - at < chunk ? m - at : chunk;
        for (int j = 0; j < c; j++) {
            const double *xs = Xs + (size_t)(at + j) * d;
            double *col = Ks + (size_t)j * n;
            for (int i = 0; i < n; i++) col[i] = lm_kernel_eval(gp->k, gp->X + (size_t)i * d, xs);
            double f = gp->mean + cblas_ddot(n, col, 1, gp->alpha, 1);
            mu[at + j] = gp->y_mean + gp->y_scale * f;
        }
        if (!var) continue;
        cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, n, c, 1.0,
                    gp->L, n, Ks, n);
        for (int j = 0; j < c; j++) {
            const double *xs = Xs + (size_t)(at + j) * d;
            const double *v = Ks + (size_t)j * n;
            double s = lm_kernel_eval(gp->k, xs, xs) - cblas_ddot(n, v, 1, v, 1);
            var[at + j] = (s > 0 ? s : 0.0) * gp->y_scale * gp->y_scale;
        }
    }
    free(Ks);
    return LM_OK;
}
