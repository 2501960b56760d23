/* Internal to the surrogate module: the GP's layout, shared by the posterior (gp.c)
 * and the hyperparameter fit (gp_fit.c). */
#ifndef LAMARCK_SURROGATE_GP_INTERNAL_H
#define LAMARCK_SURROGATE_GP_INTERNAL_H

#include "lamarck/surrogate.h"

/* The most points one GP holds: its covariance is n^2 doubles (8 GiB at the limit). */
#define LM__GP_N_MAX 32768

struct lm_gp {
    int dim;
    lm_kernel *k;
    lm_gp_options o;
    int nk;               /* the kernel's hyperparameters */
    double log_noise;     /* log noise variance, standardized units */
    double mean;          /* constant mean, standardized units (0 for LM_GP_MEAN_ZERO) */
    int n, cap;           /* points held; room for */
    int n_data;           /* the first n_data are data; the rest fantasies, noise-free */
    double *X;            /* cap x dim, row-major */
    double *y;            /* cap targets, caller's units */
    double y_mean, y_scale;
    double *L;            /* n x n column-major: Cholesky factor in the lower triangle */
    size_t L_cap;         /* doubles allocated for L */
    double *alpha;        /* (K + s2 I)^-1 (y_std - mean), cap entries */
    double jitter;        /* added to the diagonal at the last factorization */
    double lml;           /* log marginal likelihood at the last factorization */
    int factored;
    int has_solver;
    lm_gp_solver solver;
};

/* Factors the covariance of the data held at the current hyperparameters (jitter on
 * failure) and computes alpha and the log marginal likelihood. */
int lm__gp_factor(lm_gp *gp);

/* Builds the lower triangle of K + (noise + jitter) I for n points X into A (n x n,
 * column-major) with the kernel's current hyperparameters. */
void lm__gp_build_cov(const lm_gp *gp, int n, const double *X, double noise, double *A);

#endif
