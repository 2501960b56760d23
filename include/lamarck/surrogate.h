/* Surrogate models for Bayesian optimization: Gaussian-process regression with
 * composable kernels, hyperparameters fitted by maximizing the log marginal likelihood
 * (analytic gradient, L-BFGS, seeded restarts), acquisition functions (EI, PI, UCB)
 * and their maximization over a unit cube, and a multi-fidelity GP over
 * (configuration, epoch) that predicts final accuracies from partial learning curves.
 *
 * No MPI here: a GP factors its covariance with LAPACK on the calling rank, or hands
 * the factorization to an lm_gp_solver (the ScaLAPACK one is in surrogate/scalapack.h)
 * once it holds solver_min_n points or more.
 *
 *     lm_kernel *k;
 *     lm_kernel_create(LM_KERNEL_MATERN52, dim, 1, &k);      // ARD length scales
 *     lm_gp_options o;
 *     lm_gp_options_default(&o);
 *     lm_gp *gp;
 *     lm_gp_create(dim, k, &o, &gp);                         // gp owns k now
 *     lm_gp_set_data(gp, n, X, y);                           // X: n x dim, row-major
 *     lm_gp_fit(gp, &rng);                                   // hyperparameters
 *     lm_gp_predict(gp, m, Xs, mu, var);
 *     lm_acq a = {LM_ACQ_EI, .best = y_max, .xi = 0.01 * lm_gp_y_scale(gp)};
 *     lm_acq_maximize(gp, &a, &domain, &search, n_seeds, seeds, &rng, u, &value);
 *     lm_gp_destroy(&gp);
 *
 * Units. Inputs are whatever the caller encodes (the bo searcher uses the space's
 * unit cube, categoricals one-hot). Outputs are standardized inside (mean and standard
 * deviation of the data given to lm_gp_set_data) and every prediction is returned in
 * the caller's units. Hyperparameters are stored in log form (variances, length
 * scales, periods, noise variance) except the constant mean, in standardized units.
 */
#ifndef LAMARCK_SURROGATE_H
#define LAMARCK_SURROGATE_H

#include "lamarck/rng.h"

#include <stddef.h>

/* ---- kernels ---- */

typedef enum {
    LM_KERNEL_RBF,       /* s2 exp(-r^2 / 2), r^2 = sum ((a_i - b_i) / l_i)^2 */
    LM_KERNEL_MATERN52,  /* s2 (1 + sqrt5 r + 5 r^2 / 3) exp(-sqrt5 r) */
    LM_KERNEL_LINEAR,    /* c + sum v_i a_i b_i */
    LM_KERNEL_PERIODIC,  /* s2 exp(-2 sum sin^2(pi (a_i - b_i) / p) / l_i^2) */
    LM_KERNEL_SUM,       /* ka + kb */
    LM_KERNEL_PRODUCT,   /* ka kb */
} lm_kernel_kind;

/* What a hyperparameter is; sets its bounds and the range of random restarts. */
typedef enum {
    LM_HPARAM_VARIANCE,     /* log signal variance (standardized units) */
    LM_HPARAM_LENGTHSCALE,  /* log length scale (input units) */
    LM_HPARAM_PERIOD,       /* log period (input units) */
    LM_HPARAM_OFFSET,       /* log constant of the linear kernel */
    LM_HPARAM_NOISE,        /* log observation-noise variance (standardized units) */
    LM_HPARAM_MEAN,         /* constant mean (standardized units, not logged) */
} lm_hparam_kind;

typedef struct lm_kernel lm_kernel;

#define LM_GP_DIM_MAX 512       /* inputs of one GP */
#define LM_GP_PARAMS_MAX 2048   /* hyperparameters of one kernel */

/* Creates a base kernel (RBF, MATERN52, LINEAR or PERIODIC) over dim inputs; ard gives
 * each input its own length scale (linear: its own weight). Hyperparameters start at
 * variance 1, length scales 0.5 (linear: weights 1, offset 0.1), period 1.
 * LM_EINVAL for a combining kind, dim outside 1..LM_GP_DIM_MAX. */
int lm_kernel_create(lm_kernel_kind kind, int dim, int ard, lm_kernel **out);
/* Combines a and b (same dim) into op = LM_KERNEL_SUM or LM_KERNEL_PRODUCT. Takes
 * ownership of a and b on success and on failure (both are destroyed then). */
int lm_kernel_combine(lm_kernel_kind op, lm_kernel *a, lm_kernel *b, lm_kernel **out);
void lm_kernel_destroy(lm_kernel **k);
int lm_kernel_dim(const lm_kernel *k);
/* Hyperparameters of the whole tree, left subtree before right. */
int lm_kernel_n_params(const lm_kernel *k);
void lm_kernel_get_params(const lm_kernel *k, double *theta);
void lm_kernel_set_params(lm_kernel *k, const double *theta);
void lm_kernel_param_kinds(const lm_kernel *k, lm_hparam_kind *kinds);
/* k(a, b) for inputs of dim entries. */
double lm_kernel_eval(const lm_kernel *k, const double *a, const double *b);
/* k(a, b), and g[j] = d k(a, b) / d theta_j for every hyperparameter. */
double lm_kernel_grad(const lm_kernel *k, const double *a, const double *b, double *g);
/* "matern52(ard)", "rbf+linear" ... into buf. */
void lm_kernel_describe(const lm_kernel *k, char *buf, size_t cap);

/* ---- L-BFGS (bounded by projection) ---- */

/* f(x) and its gradient g. Return LM_OK, or a negative code to stop the minimization
 * with that error; a non-finite *f means "outside the domain" and makes the line
 * search step back. */
typedef int (*lm_lbfgs_fn)(void *ctx, const double *x, double *f, double *g);

typedef struct lm_lbfgs_options {
    int memory;        /* correction pairs kept (default 8) */
    int max_iter;      /* iterations (default 200) */
    int max_evals;     /* function evaluations (default 1000) */
    double gtol;       /* stop when the projected gradient's max-norm is below (1e-6) */
    double ftol;       /* stop when f improves by less than ftol (|f| + 1) (1e-10) */
} lm_lbfgs_options;

void lm_lbfgs_options_default(lm_lbfgs_options *o);

/* Minimizes fn over the box lo <= x <= hi (lo and hi may be NULL for no bound;
 * x starts inside after clamping) with L-BFGS (Nocedal 1980) on the free variables and
 * a projected backtracking line search: Armijo sufficient decrease, step lengths from
 * safeguarded quadratic/cubic interpolation. x is overwritten with the best point found;
 * *fx (may be NULL) gets f there, *evals (may be NULL) the evaluations used. Returns
 * LM_OK on convergence or when a limit is reached with progress made; LM_ERANGE when f
 * is not finite at the start; fn's error otherwise. n >= 1. */
int lm_lbfgs_minimize(int n, double *x, const double *lo, const double *hi, lm_lbfgs_fn fn,
                      void *ctx, const lm_lbfgs_options *o, double *fx, int *evals);

/* ---- Gaussian-process regression ---- */

typedef enum { LM_GP_MEAN_ZERO, LM_GP_MEAN_CONSTANT } lm_gp_mean;

/* An external Cholesky solver for large systems (ScaLAPACK on surrogate ranks).
 * factor_solve: A is n x n, column-major, symmetric positive definite in its lower
 * triangle; on return its lower triangle holds the Cholesky factor L (A = L L^T) and b
 * (n entries) holds A^-1 b. *info: 0, or k > 0 when A is not positive definite (the
 * leading minor of order k), and then A and b are undefined. Returns LM_OK or a
 * negative code for a failure of the solver itself. */
typedef struct lm_gp_solver {
    void *ctx;
    int (*factor_solve)(void *ctx, int n, double *A, double *b, int *info);
} lm_gp_solver;

typedef struct lm_gp_options {
    lm_gp_mean mean;      /* default LM_GP_MEAN_CONSTANT (fitted) */
    double noise;         /* initial noise variance, standardized units (1e-4) */
    double noise_min;     /* bounds on the fitted noise variance (1e-6, 1) */
    double noise_max;
    int restarts;         /* random restarts of the fit besides the current values (3) */
    int fit_max_n;        /* hyperparameters are fitted on a random subset of at most this
                             many points (500); the posterior always uses every point */
    int solver_min_n;     /* use the external solver from this many points (1000) */
    lm_lbfgs_options lbfgs;
} lm_gp_options;

void lm_gp_options_default(lm_gp_options *o);

typedef struct lm_gp lm_gp;

/* Creates a GP over inputs of dim entries with kernel k (of the same dim), which it
 * owns from then on (also when creation fails). o may be NULL for the defaults. */
int lm_gp_create(int dim, lm_kernel *k, const lm_gp_options *o, lm_gp **out);
void lm_gp_destroy(lm_gp **gp);
/* Uses s (copied; s->ctx must outlive the GP) for systems of solver_min_n points or
 * more; NULL removes it. */
void lm_gp_set_solver(lm_gp *gp, const lm_gp_solver *s);

int lm_gp_dim(const lm_gp *gp);
int lm_gp_n(const lm_gp *gp);      /* points held, fantasies included */
/* Hyperparameters: the kernel's, then the log noise variance, then (constant mean
 * only) the mean. */
int lm_gp_n_params(const lm_gp *gp);
void lm_gp_get_params(const lm_gp *gp, double *theta);
void lm_gp_param_kinds(const lm_gp *gp, lm_hparam_kind *kinds);
/* Sets the hyperparameters (clamped into their bounds) and refactors when the GP
 * holds data. */
int lm_gp_set_params(lm_gp *gp, const double *theta);
/* Bounds of every hyperparameter, in the form stored. */
void lm_gp_param_bounds(const lm_gp *gp, double *lo, double *hi);

/* Replaces the data with n >= 1 points X (n x dim, row-major) and targets y (finite),
 * standardizes y, and factors the covariance at the current hyperparameters. When the
 * covariance is not numerically positive definite, jitter is added to its diagonal
 * (10^-10 to 10^-4 times its mean, tenfold steps); LM_ERANGE naming n and the jitter
 * if even that fails. LM_EINVAL for a non-finite input or target. */
int lm_gp_set_data(lm_gp *gp, int n, const double *X, const double *y);
/* Fits the hyperparameters to the data (which must be set) by maximizing the log
 * marginal likelihood: L-BFGS from the current values and from o.restarts random
 * starts drawn from rng, keeping the best (on a random subset of fit_max_n points
 * when there are more); then refactors with every point. */
int lm_gp_fit(lm_gp *gp, lm_rng *rng);
/* lm_gp_set_data and lm_gp_fit in one, factoring the covariance of all n points once
 * (lm_gp_set_data followed by lm_gp_fit factors it twice). */
int lm_gp_fit_data(lm_gp *gp, int n, const double *X, const double *y, lm_rng *rng);
/* Appends m points to the data (fantasies for pending evaluations) without changing
 * the standardization or the hyperparameters, and refactors. Fantasies are noise-free:
 * the posterior variance of the latent function at each is about zero (jitter aside). */
int lm_gp_condition(lm_gp *gp, int m, const double *X, const double *y);
/* Posterior mean and variance of the latent function (noise not included) at m
 * points Xs (m x dim), in the caller's units. var may be NULL. Data must be set. */
int lm_gp_predict(const lm_gp *gp, int m, const double *Xs, double *mu, double *var);
/* Log marginal likelihood of the standardized data at the current hyperparameters
 * (NAN before data). */
double lm_gp_log_marginal(const lm_gp *gp);
/* The log marginal likelihood at theta and its gradient with respect to every
 * hyperparameter (lm_gp_n_params entries), over the data held; the GP's own
 * hyperparameters are left unchanged. LM_ERANGE when the covariance is not positive
 * definite at theta (no jitter here). */
int lm_gp_log_marginal_grad(lm_gp *gp, const double *theta, double *lml, double *grad);
/* The standardization: y_std = (y - mean) / scale. */
double lm_gp_y_mean(const lm_gp *gp);
double lm_gp_y_scale(const lm_gp *gp);
/* The jitter added to the diagonal at the last factorization (0 when none). */
double lm_gp_jitter(const lm_gp *gp);

/* ---- acquisition ---- */

typedef enum { LM_ACQ_EI, LM_ACQ_PI, LM_ACQ_UCB } lm_acq_kind;

/* Acquisition for maximization, in the objective's units:
 *   EI  = (mu - best - xi) Phi(z) + sigma phi(z),  z = (mu - best - xi) / sigma
 *   PI  = Phi(z)
 *   UCB = mu + kappa sigma
 * (Jones et al. 1998; Kushner 1964; Srinivas et al. 2010). With sigma = 0, EI is
 * max(mu - best - xi, 0) and PI is 1 when mu > best + xi, else 0. */
typedef struct lm_acq {
    lm_acq_kind kind;
    double best;    /* incumbent: the best observed value */
    double xi;      /* EI and PI: improvement demanded over best */
    double kappa;   /* UCB: standard deviations added to the mean */
} lm_acq;

double lm_acq_eval(const lm_acq *a, double mu, double sigma);

/* Where an acquisition is maximized: the unit cube [0,1]^dim of search coordinates u,
 * mapped to GP inputs by encode. encode may snap u in place to a canonical point
 * (rounding integers, picking a category) and writes the GP input x (lm_gp_dim
 * entries); NULL means x = u (then dim must equal the GP's). */
typedef struct lm_acq_domain {
    int dim;
    void (*encode)(void *ctx, double *u, double *x);
    void *ctx;
} lm_acq_domain;

typedef struct lm_acq_search {
    int candidates;      /* uniform random candidates (default 2000) */
    int neighbours;      /* perturbations of each seed point (default 100): each
                            coordinate redrawn uniformly with probability 1/dim, else
                            moved by a Gaussian step */
    double radius;       /* the step's standard deviation (default 0.05) */
    int local_starts;    /* best candidates refined by pattern search (default 5) */
    int local_evals;     /* acquisition evaluations per refinement (default 200) */
} lm_acq_search;

void lm_acq_search_default(lm_acq_search *s);

/* Maximizes the acquisition a of gp over the domain: random candidates, neighbours
 * of the n_seeds seed points (n_seeds x dim, e.g. the best observed points), then a
 * compass pattern search (Torczon 1997) from the local_starts best of them. Writes the
 * best canonical u found (dim entries) and, when value is not NULL, its acquisition.
 * Deterministic given rng's state. */
int lm_acq_maximize(const lm_gp *gp, const lm_acq *a, const lm_acq_domain *d,
                    const lm_acq_search *s, int n_seeds, const double *seeds, lm_rng *rng,
                    double *u_best, double *value);

/* ---- multi-fidelity GP over (configuration, epoch) ---- */

/* A GP over learning-curve points: input (x, t) with t = log(epoch) / log(max_epochs)
 * in [0, 1], a Matern 5/2 kernel with ARD over all of (x, t) (t gets its own length
 * scale) and a constant mean. A configuration's early epochs inform its final one and
 * similar configurations share what their curves show, so a partial curve yields a
 * prediction of the final accuracy with an honest variance (in the spirit of Swersky,
 * Snoek and Adams 2014, freeze-thaw BO, with a stationary kernel over epochs). */
typedef struct lm_curve_gp lm_curve_gp;

/* dim: entries of a configuration's encoding; max_epochs >= 2: the epoch whose
 * accuracy "final" means. o may be NULL. */
int lm_curve_gp_create(int dim, int max_epochs, const lm_gp_options *o, lm_curve_gp **out);
void lm_curve_gp_destroy(lm_curve_gp **g);
/* Fits to n curve points: configuration X[i] (n x dim), epoch[i] in 1..max_epochs,
 * accuracy acc[i]. At most max_points_per_curve points of each distinct configuration
 * are used (its last ones), so long curves do not crowd out breadth; 0: all. */
int lm_curve_gp_fit(lm_curve_gp *g, int n, const double *X, const int *epoch,
                    const double *acc, int max_points_per_curve, lm_rng *rng);
/* Predicted accuracy at max_epochs (mean and variance) for m configurations. */
int lm_curve_gp_predict_final(const lm_curve_gp *g, int m, const double *X, double *mu,
                              double *var);
/* The underlying GP (inputs dim + 1 entries: x, then t), e.g. to add fantasies at
 * t = 1 with lm_gp_condition. Owned by g. */
lm_gp *lm_curve_gp_model(lm_curve_gp *g);
/* t for an epoch: log(epoch) / log(max_epochs), clamped to [0, 1]. */
double lm_curve_gp_t(const lm_curve_gp *g, int epoch);

#endif
