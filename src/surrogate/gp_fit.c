/* Fitting a GP's hyperparameters: type-II maximum likelihood with the analytic
 * gradient (Rasmussen and Williams 2006, eq. 5.9),
 *   d log p(y) / d theta_j = tr((alpha alpha^T - K^-1) dK/d theta_j) / 2,
 * maximized by L-BFGS from the current values and from random restarts.
 *
 * The derivative for the noise is s2 (alpha.alpha - tr K^-1) / 2 (dK/d log s2 = s2 I);
 * for a constant mean m it is sum(alpha) (d(y - m)/dm = -1).
 *
 * Large data sets are fitted on a random subset of fit_max_n points: each evaluation
 * costs a Cholesky factorization, an inverse and n^2/2 kernel gradients, which is
 * what a fit repeats a few hundred times. The posterior then uses every point. */
#include "lamarck/error.h"
#include "lamarck/surrogate.h"
#include "surrogate/gp_internal.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOG_2PI 1.83787706640934548356

typedef struct fit_ctx {
    lm_gp *gp;
    int n;
    const double *X;   /* n x dim */
    const double *ys;  /* n standardized targets */
    double *A;         /* n x n work */
    double *alpha;     /* n */
    double *g;         /* the kernel's gradient at one pair */
} fit_ctx;

/* Sets the GP's kernel, noise and mean from theta (no clamping, no refactoring). */
static void apply(lm_gp *gp, const double *theta) {
    lm_kernel_set_params(gp->k, theta);
    gp->log_noise = theta[gp->nk];
    gp->mean = gp->o.mean == LM_GP_MEAN_CONSTANT ? theta[gp->nk + 1] : 0.0;
}

/* Log marginal likelihood and gradient at the GP's current hyperparameters over
 * c->n points. Returns 1 when the covariance is not positive definite, 0 on success,
 * a negative code on a LAPACK failure. Sets no error message for the first case, so a
 * fit can step back from a bad region silently. */
static int lml_grad(fit_ctx *c, double *lml, double *grad) {
    lm_gp *gp = c->gp;
    int n = c->n, d = gp->dim, nk = gp->nk;
    double noise = exp(gp->log_noise);
    double *A = c->A;
    lm__gp_build_cov(gp, n, c->X, noise, A);
    int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, A, n);
    if (info > 0) return 1;
    LM_CHECK(info == 0, LM_EINTERNAL, "dpotrf: argument %d is invalid", -info);
    for (int i = 0; i < n; i++) c->alpha[i] = c->ys[i] - gp->mean;
    info = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', n, 1, A, n, c->alpha, n);
    LM_CHECK(info == 0, LM_EINTERNAL, "dpotrs failed (%d)", info);
    double quad = 0.0, logdet = 0.0, sum_alpha = 0.0;
    for (int i = 0; i < n; i++) {
        quad += (c->ys[i] - gp->mean) * c->alpha[i];
        logdet += log(A[(size_t)i * n + i]);
        sum_alpha += c->alpha[i];
    }
    *lml = -0.5 * quad - logdet - 0.5 * n * LOG_2PI;
    if (!grad) return 0;
    /* K^-1 in the lower triangle, then W = alpha alpha^T - K^-1 entry by entry. */
    info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', n, A, n);
    if (info > 0) return 1;
    LM_CHECK(info == 0, LM_EINTERNAL, "dpotri: argument %d is invalid", -info);
    int np = lm_gp_n_params(gp);
    for (int j = 0; j < np; j++) grad[j] = 0.0;
    double trace_w = 0.0;
    for (int j = 0; j < n; j++) {
        const double *xj = c->X + (size_t)j * d;
        const double *col = A + (size_t)j * n;
        for (int i = j; i < n; i++) {
            double w = c->alpha[i] * c->alpha[j] - col[i];
            if (i == j) {
                trace_w += w;
                w *= 0.5; /* the diagonal counts once, off-diagonal pairs twice */
            }
            lm_kernel_grad(gp->k, c->X + (size_t)i * d, xj, c->g);
            for (int p = 0; p < nk; p++) grad[p] += w * c->g[p];
        }
    }
    grad[nk] = 0.5 * noise * trace_w;
    if (gp->o.mean == LM_GP_MEAN_CONSTANT) grad[nk + 1] = sum_alpha;
    return 0;
}

static void ctx_free(fit_ctx *c) {
    free(c->A);
    free(c->alpha);
    free(c->g);
}

static int ctx_init(fit_ctx *c, lm_gp *gp, int n, const double *X, const double *ys) {
    memset(c, 0, sizeof *c);
    c->gp = gp;
    c->n = n;
    c->X = X;
    c->ys = ys;
    c->A = malloc((size_t)n * (size_t)n * sizeof *c->A);
    c->alpha = malloc((size_t)n * sizeof *c->alpha);
    c->g = malloc((size_t)(gp->nk > 0 ? gp->nk : 1) * sizeof *c->g);
    if (!c->A || !c->alpha || !c->g) {
        ctx_free(c);
        LM_FAIL(LM_ENOMEM, "out of memory fitting a GP to %d points", n);
    }
    return LM_OK;
}

static double *standardized(const lm_gp *gp, int n, const double *y) {
    double *ys = malloc((size_t)(n > 0 ? n : 1) * sizeof *ys);
    if (ys)
        for (int i = 0; i < n; i++) ys[i] = (y[i] - gp->y_mean) / gp->y_scale;
    return ys;
}

int lm_gp_log_marginal_grad(lm_gp *gp, const double *theta, double *lml, double *grad) {
    LM_CHECK(gp && theta && lml && grad, LM_EINVAL, "lm_gp_log_marginal_grad: NULL argument");
    LM_CHECK(gp->n > 0, LM_EINVAL, "lm_gp_log_marginal_grad: the GP has no data");
    double saved[LM_GP_PARAMS_MAX + 2];
    lm_gp_get_params(gp, saved);
    double *ys = standardized(gp, gp->n, gp->y);
    LM_CHECK(ys, LM_ENOMEM, "out of memory");
    fit_ctx c;
    int rc = ctx_init(&c, gp, gp->n, gp->X, ys);
    if (rc == LM_OK) {
        apply(gp, theta);
        rc = lml_grad(&c, lml, grad);
        apply(gp, saved);
        ctx_free(&c);
        if (rc == 1)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ERANGE,
                              "GP covariance of %d points is not positive definite at these "
                              "hyperparameters",
                              gp->n);
    }
    free(ys);
    return rc < 0 ? rc : LM_OK;
}

/* ---- the fit ---- */

/* f = -log p(y) for L-BFGS; +inf where the covariance is not positive definite. */
static int objective(void *vc, const double *theta, double *f, double *g) {
    fit_ctx *c = vc;
    apply(c->gp, theta);
    double lml;
    int rc = lml_grad(c, &lml, g);
    if (rc < 0) return rc;
    int np = lm_gp_n_params(c->gp);
    if (rc == 1 || !isfinite(lml)) {
        *f = INFINITY;
        for (int i = 0; i < np; i++) g[i] = 0.0;
        return LM_OK;
    }
    *f = -lml;
    for (int i = 0; i < np; i++) g[i] = -g[i];
    return LM_OK;
}

/* A random start: uniform in log form over a range of plausible values for each kind
 * (narrower than the bounds, which admit values that only a fit should reach). */
static void random_start(const lm_gp *gp, const lm_hparam_kind *kinds, const double *lo,
                         const double *hi, lm_rng *rng, double *theta) {
    int np = lm_gp_n_params(gp);
    for (int i = 0; i < np; i++) {
        double a = 0, b = 0;
        switch (kinds[i]) {
        case LM_HPARAM_VARIANCE: a = log(0.1); b = log(10.0); break;
        case LM_HPARAM_LENGTHSCALE: a = log(0.05); b = log(2.0); break;
        case LM_HPARAM_PERIOD: a = log(0.1); b = log(2.0); break;
        case LM_HPARAM_OFFSET: a = log(1e-3); b = log(1.0); break;
        case LM_HPARAM_NOISE: a = log(gp->o.noise_min); b = log(1e-1); break;
        case LM_HPARAM_MEAN: a = -1.0; b = 1.0; break;
        }
        double v = a + (b - a) * lm_rng_uniform(rng);
        theta[i] = v < lo[i] ? lo[i] : v > hi[i] ? hi[i] : v;
    }
}

/* The points the fit uses: all, or a random subset of fit_max_n (partial Fisher-Yates
 * over the indices, in index order afterwards so the subset is reproducible). */
static int fit_subset(const lm_gp *gp, lm_rng *rng, int *m_out, double **X_out, double **y_out) {
    int n = gp->n, m = n <= gp->o.fit_max_n ? n : gp->o.fit_max_n, d = gp->dim;
    int *idx = malloc((size_t)n * sizeof *idx);
    double *X = malloc((size_t)m * (size_t)d * sizeof *X);
    double *y = malloc((size_t)m * sizeof *y);
    if (!idx || !X || !y) {
        free(idx);
        free(X);
        free(y);
        LM_FAIL(LM_ENOMEM, "out of memory fitting a GP to %d points", n);
    }
    for (int i = 0; i < n; i++) idx[i] = i;
    if (m < n) {
        for (int i = 0; i < m; i++) {
            int j = i + (int)lm_rng_below(rng, (uint64_t)(n - i));
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        /* insertion sort of the chosen m: m is at most a few thousand */
        for (int i = 1; i < m; i++) {
            int v = idx[i], j = i - 1;
            while (j >= 0 && idx[j] > v) {
                idx[j + 1] = idx[j];
                j--;
            }
            idx[j + 1] = v;
        }
    }
    for (int i = 0; i < m; i++) {
        memcpy(X + (size_t)i * d, gp->X + (size_t)idx[i] * d, (size_t)d * sizeof *X);
        y[i] = (gp->y[idx[i]] - gp->y_mean) / gp->y_scale;
    }
    free(idx);
    *m_out = m;
    *X_out = X;
    *y_out = y;
    return LM_OK;
}

int lm_gp_fit(lm_gp *gp, lm_rng *rng) {
    LM_CHECK(gp && rng, LM_EINVAL, "lm_gp_fit: NULL argument");
    LM_CHECK(gp->n > 0, LM_EINVAL, "lm_gp_fit: the GP has no data (lm_gp_set_data)");
    int np = lm_gp_n_params(gp);
    double lo[LM_GP_PARAMS_MAX + 2], hi[LM_GP_PARAMS_MAX + 2];
    double theta[LM_GP_PARAMS_MAX + 2], best[LM_GP_PARAMS_MAX + 2], orig[LM_GP_PARAMS_MAX + 2];
    lm_hparam_kind kinds[LM_GP_PARAMS_MAX + 2];
    lm_gp_param_bounds(gp, lo, hi);
    lm_gp_param_kinds(gp, kinds);
    lm_gp_get_params(gp, orig);
    memcpy(best, orig, (size_t)np * sizeof *best);
    int m = 0;
    double *X = NULL, *ys = NULL;
    LM_CALL(fit_subset(gp, rng, &m, &X, &ys));
    fit_ctx c;
    int rc = ctx_init(&c, gp, m, X, ys);
    if (rc < 0) {
        free(X);
        free(ys);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    double best_f = INFINITY;
    for (int r = 0; r <= gp->o.restarts; r++) {
        if (r == 0) memcpy(theta, orig, (size_t)np * sizeof *theta);
        else random_start(gp, kinds, lo, hi, rng, theta);
        double f = INFINITY, g[LM_GP_PARAMS_MAX + 2];
        for (int i = 0; i < np; i++)
            theta[i] = theta[i] < lo[i] ? lo[i] : theta[i] > hi[i] ? hi[i] : theta[i];
        LM_CALL_GOTO(rc, objective(&c, theta, &f, g), out);
        if (!isfinite(f)) continue; /* a start where the covariance is singular */
        LM_CALL_GOTO(rc,
                     lm_lbfgs_minimize(np, theta, lo, hi, objective, &c, &gp->o.lbfgs, &f, NULL),
                     out);
        if (f < best_f) {
            best_f = f;
            memcpy(best, theta, (size_t)np * sizeof *best);
        }
    }
    /* No start gave a positive definite covariance: keep the hyperparameters as they
     * were; the factorization below adds jitter or says why it cannot. */
    rc = LM_OK;
out:
    ctx_free(&c);
    free(X);
    free(ys);
    if (rc < 0) {
        apply(gp, orig); /* the objective moved them */
        return rc;
    }
    apply(gp, best);
    LM_CALL(lm__gp_factor(gp));
    return LM_OK;
}
