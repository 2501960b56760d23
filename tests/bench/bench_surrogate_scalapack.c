/* The GP's distributed solver, run under mpiexec.
 *
 *   bench_surrogate_scalapack compare [N]    (tests/mpi/gp_scalapack.sh: 4 ranks, N 1500)
 *     Rank 0 builds one data set and two GPs with the same hyperparameters: one
 *     factored by LAPACK on rank 0, one by ScaLAPACK over every rank. Prints the
 *     largest differences of the posterior mean and variance at 200 test points and of
 *     the log marginal likelihood, and exits 1 when one exceeds 1e-8 (2 on an error).
 *     Then, with 300 of the points each given twice and no noise, checks that both
 *     solvers find the covariance singular and add the same jitter.
 *
 *   bench_surrogate_scalapack scale N...
 *     For each N: the time of a whole GP fit (lm_gp_fit_data: hyperparameters fitted
 *     on a 500-point subset, then one factorization with all N points), of one
 *     factorization at fixed hyperparameters (lm_gp_set_data: covariance, Cholesky,
 *     solve, log likelihood), and of the raw Cholesky inside it (dpotrf on 1 rank,
 *     pdpotrf on more): how much the rest adds to the Cholesky. One rank: LAPACK;
 *     more: ScaLAPACK over all ranks (the scatter, potrs and gather times too). */
#include "lamarck/error.h"
#include "lamarck/surrogate.h"
#include "surrogate/scalapack.h"
#include "lamarck/timer.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 4
#define TEST_POINTS 200

static void make_data(int n, double *X, double *y, uint64_t seed) {
    lm_rng rng;
    lm_rng_init(&rng, seed, 0, 0);
    for (int i = 0; i < n; i++) {
        double *x = X + (size_t)i * DIM;
        for (int j = 0; j < DIM; j++) x[j] = lm_rng_uniform(&rng);
        y[i] = sin(4 * x[0]) + x[1] * x[2] - 0.5 * x[3] + 0.05 * lm_rng_normal(&rng);
    }
}

static int make_gp_noise(lm_gp **gp, int solver_min_n, double noise) {
    lm_kernel *k;
    LM_CALL(lm_kernel_create(LM_KERNEL_MATERN52, DIM, 1, &k));
    lm_gp_options o;
    lm_gp_options_default(&o);
    o.solver_min_n = solver_min_n;
    o.restarts = 1;
    o.noise_min = noise < o.noise_min ? noise : o.noise_min;
    LM_CALL(lm_gp_create(DIM, k, &o, gp));
    double theta[DIM + 3];
    theta[0] = 0.0;
    for (int j = 0; j < DIM; j++) theta[1 + j] = log(0.3);
    theta[DIM + 1] = log(noise);
    theta[DIM + 2] = 0.0;
    LM_CALL(lm_gp_set_params(*gp, theta));
    return LM_OK;
}

/* s2 = 1, length scales 0.3, noise variance 0.01: well conditioned, not trivial. */
static int make_gp(lm_gp **gp, int solver_min_n) { return make_gp_noise(gp, solver_min_n, 0.01); }

/* Every point twice and almost no noise: singular, so both solvers must add the same
 * jitter (the ScaLAPACK path reports "not positive definite" like dpotrf). */
static int compare_jitter(lm_gp_scalapack *s, int n, const double *X, const double *y,
                          const double *Xt, int *bad) {
    double *X2 = malloc(2 * (size_t)n * DIM * sizeof *X2), *y2 = malloc(2 * (size_t)n * sizeof *y2);
    LM_CHECK(X2 && y2, LM_ENOMEM, "out of memory");
    memcpy(X2, X, (size_t)n * DIM * sizeof *X2);
    memcpy(X2 + (size_t)n * DIM, X, (size_t)n * DIM * sizeof *X2);
    memcpy(y2, y, (size_t)n * sizeof *y2);
    memcpy(y2 + n, y, (size_t)n * sizeof *y2);
    lm_gp *local = NULL, *dist = NULL;
    LM_CALL(make_gp_noise(&local, 2 * n + 1, 1e-300));
    LM_CALL(make_gp_noise(&dist, 1, 1e-300));
    lm_gp_solver solver = lm_gp_scalapack_solver(s);
    lm_gp_set_solver(dist, &solver);
    LM_CALL(lm_gp_set_data(local, 2 * n, X2, y2));
    LM_CALL(lm_gp_set_data(dist, 2 * n, X2, y2));
    double mu1[TEST_POINTS], mu2[TEST_POINTS], dmu = 0;
    LM_CALL(lm_gp_predict(local, TEST_POINTS, Xt, mu1, NULL));
    LM_CALL(lm_gp_predict(dist, TEST_POINTS, Xt, mu2, NULL));
    for (int i = 0; i < TEST_POINTS; i++) dmu = fmax(dmu, fabs(mu1[i] - mu2[i]));
    printf("duplicated points, no noise: jitter LAPACK %.3g, ScaLAPACK %.3g; "
           "max |mean difference| = %.3e\n",
           lm_gp_jitter(local), lm_gp_jitter(dist), dmu);
    *bad = !(lm_gp_jitter(local) > 0 && lm_gp_jitter(local) == lm_gp_jitter(dist) && dmu <= 1e-4);
    lm_gp_destroy(&local);
    lm_gp_destroy(&dist);
    free(X2);
    free(y2);
    return LM_OK;
}

static int compare(lm_gp_scalapack *s, int n) {
    double *X = malloc((size_t)n * DIM * sizeof *X), *y = malloc((size_t)n * sizeof *y);
    double Xt[TEST_POINTS * DIM], yt[TEST_POINTS];
    double mu1[TEST_POINTS], var1[TEST_POINTS], mu2[TEST_POINTS], var2[TEST_POINTS];
    LM_CHECK(X && y, LM_ENOMEM, "out of memory");
    make_data(n, X, y, 1);
    make_data(TEST_POINTS, Xt, yt, 2);
    lm_gp *local = NULL, *dist = NULL;
    LM_CALL(make_gp(&local, n + 1));
    LM_CALL(make_gp(&dist, 1));
    lm_gp_solver solver = lm_gp_scalapack_solver(s);
    lm_gp_set_solver(dist, &solver);
    double t0 = lm_time_now();
    LM_CALL(lm_gp_set_data(local, n, X, y));
    double t1 = lm_time_now();
    LM_CALL(lm_gp_set_data(dist, n, X, y));
    double t2 = lm_time_now();
    LM_CALL(lm_gp_predict(local, TEST_POINTS, Xt, mu1, var1));
    LM_CALL(lm_gp_predict(dist, TEST_POINTS, Xt, mu2, var2));
    double dmu = 0, dvar = 0;
    for (int i = 0; i < TEST_POINTS; i++) {
        dmu = fmax(dmu, fabs(mu1[i] - mu2[i]));
        dvar = fmax(dvar, fabs(var1[i] - var2[i]));
    }
    double dlml = fabs(lm_gp_log_marginal(local) - lm_gp_log_marginal(dist));
    int nprow, npcol;
    lm_gp_scalapack_grid(s, &nprow, &npcol);
    printf("N = %d, grid %d x %d: LAPACK %.3f s, ScaLAPACK %.3f s\n", n, nprow, npcol, t1 - t0,
           t2 - t1);
    printf("max |mean difference| = %.3e, max |variance difference| = %.3e, "
           "|log marginal likelihood difference| = %.3e (relative %.3e)\n",
           dmu, dvar, dlml, dlml / fabs(lm_gp_log_marginal(local)));
    printf("jitter: LAPACK %g, ScaLAPACK %g\n", lm_gp_jitter(local), lm_gp_jitter(dist));
    lm_gp_destroy(&local);
    lm_gp_destroy(&dist);
    int bad = !(dmu <= 1e-8 && dvar <= 1e-8 && dlml <= 1e-8 * (1 + fabs(dlml)));
    int bad_jitter = 0;
    LM_CALL(compare_jitter(s, n < 300 ? n : 300, X, y, Xt, &bad_jitter));
    free(X);
    free(y);
    printf("%s\n", bad   ? "FAIL: the two solvers disagree beyond 1e-8"
                    : bad_jitter ? "FAIL: the two solvers add different jitter"
                                 : "PASS: agree to 1e-8 (and on jitter)");
    return bad || bad_jitter;
}

/* Raw dpotrf of the covariance of n points (LAPACK, this rank). */
static int raw_dpotrf(const double *X, int n, double *seconds) {
    double *A = malloc((size_t)n * n * sizeof *A);
    LM_CHECK(A, LM_ENOMEM, "out of memory");
    lm_kernel *k;
    LM_CALL(lm_kernel_create(LM_KERNEL_MATERN52, DIM, 1, &k));
    double theta[DIM + 1] = {0};
    for (int j = 0; j < DIM; j++) theta[1 + j] = log(0.3);
    lm_kernel_set_params(k, theta);
    for (int j = 0; j < n; j++)
        for (int i = j; i < n; i++)
            A[(size_t)j * n + i] = lm_kernel_eval(k, X + (size_t)i * DIM, X + (size_t)j * DIM) +
                                   (i == j ? 0.01 : 0.0);
    double t0 = lm_time_now();
    int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', n, A, n);
    *seconds = lm_time_now() - t0;
    lm_kernel_destroy(&k);
    free(A);
    LM_CHECK(info == 0, LM_EINTERNAL, "dpotrf info %d", info);
    return LM_OK;
}

static int scale(lm_gp_scalapack *s, int size, int n) {
    double *X = malloc((size_t)n * DIM * sizeof *X), *y = malloc((size_t)n * sizeof *y);
    LM_CHECK(X && y, LM_ENOMEM, "out of memory");
    make_data(n, X, y, 1);
    lm_gp *gp;
    LM_CALL(make_gp(&gp, 1));
    lm_gp_solver solver;
    if (s) {
        solver = lm_gp_scalapack_solver(s);
        lm_gp_set_solver(gp, &solver);
    }
    double t0 = lm_time_now();
    LM_CALL(lm_gp_set_data(gp, n, X, y));
    double t_factor = lm_time_now() - t0;
    double st[4] = {0};
    if (s) lm_gp_scalapack_times(s, st);
    lm_rng rng;
    lm_rng_init(&rng, 7, 0, 0);
    t0 = lm_time_now();
    LM_CALL(lm_gp_fit_data(gp, n, X, y, &rng)); /* hyperparameters, then one factorization */
    double t_fit = lm_time_now() - t0;
    double raw = NAN;
    if (s) raw = st[1];
    else LM_CALL(raw_dpotrf(X, n, &raw));
    printf("%6d %5d %10.3f %12.3f %10.3f %9.2f %9.2f", n, size, t_fit, t_factor, raw,
           (t_fit - raw) / raw, (t_factor - raw) / raw);
    if (s) printf("   scatter %.3f potrs %.3f gather %.3f", st[0], st[2], st[3]);
    printf("\n");
    fflush(stdout);
    lm_gp_destroy(&gp);
    free(X);
    free(y);
    return LM_OK;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size, rc = LM_OK, bad = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc > 1 ? argv[1] : "compare";
    lm_gp_scalapack *s = NULL;
    rc = lm_gp_scalapack_create(MPI_COMM_WORLD, 0, 0, &s);
    if (rc == LM_OK && rank != 0) {
        rc = lm_gp_scalapack_serve(s);
    } else if (rc == LM_OK) {
        if (!strcmp(mode, "compare")) {
            int n = argc > 2 ? atoi(argv[2]) : 1500;
            rc = compare(s, n);
            if (rc > 0) bad = 1, rc = LM_OK;
        } else if (!strcmp(mode, "scale")) {
            printf("%6s %5s %10s %12s %10s %9s %9s\n", "N", "ranks", "fit_s", "factor_s",
                   size > 1 ? "pdpotrf_s" : "dpotrf_s", "fit/raw-1", "fac/raw-1");
            for (int i = 2; i < argc && rc == LM_OK; i++)
                rc = scale(size > 1 ? s : NULL, size, atoi(argv[i]));
        } else {
            fprintf(stderr, "usage: %s compare [N] | scale N...\n", argv[0]);
            bad = 1;
        }
        int r2 = lm_gp_scalapack_release(s);
        if (rc == LM_OK) rc = r2;
    }
    if (rc < 0) {
        lm_error_print(stderr);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    lm_gp_scalapack_destroy(&s);
    MPI_Finalize();
    return bad;
}
