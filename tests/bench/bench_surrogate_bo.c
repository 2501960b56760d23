/* GP-EI on the standard test functions, driving the surrogate directly (no trial
 * table): Branin (2-D, minimum 0.397887) and Hartmann6 (6-D, minimum -3.32237).
 * Each run: 10 uniform random points, then 90 points each maximizing expected
 * improvement of a GP (Matern 5/2, ARD, constant mean) refitted after every
 * evaluation. Compared with 100 uniform random points from the same seed.
 *
 *   bench_surrogate_bo [runs=10] [evaluations=100] [initial=10]
 *
 * Prints per seed the final regret (best found - minimum) of GP-EI and of random
 * search and the wall time of the GP-EI run; then the median regrets and whether
 * GP-EI beat random search on every seed. */
#include "lamarck/error.h"
#include "lamarck/surrogate.h"
#include "lamarck/timer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DMAX 6
#define EVAL_MAX 1000

typedef struct problem {
    const char *name;
    int dim;
    double fmin;
    double (*f)(const double *u); /* u in the unit cube */
} problem;

/* Branin on [-5, 10] x [0, 15]. */
static double branin(const double *u) {
    double x1 = -5 + 15 * u[0], x2 = 15 * u[1];
    const double pi = 3.14159265358979323846;
    double b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
    double a = x2 - b * x1 * x1 + c * x1 - 6;
    return a * a + 10 * (1 - t) * cos(x1) + 10;
}

/* Hartmann6 on [0, 1]^6. */
static double hartmann6(const double *x) {
    static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
    static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                   {0.05, 10, 17, 0.1, 8, 14},
                                   {3, 3.5, 1.7, 10, 17, 8},
                                   {17, 8, 0.05, 10, 0.1, 14}};
    static const double P[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                   {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                   {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                   {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
    double s = 0;
    for (int i = 0; i < 4; i++) {
        double e = 0;
        for (int j = 0; j < 6; j++) e += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
        s += alpha[i] * exp(-e);
    }
    return -s;
}

/* One GP-EI run; *best gets the lowest value found. */
static int gp_ei(const problem *pb, uint64_t seed, int evals, int initial, double *best) {
    int d = pb->dim;
    double X[EVAL_MAX * DMAX], y[EVAL_MAX];
    lm_rng rng;
    lm_rng_init(&rng, seed, 0, 1);
    for (int i = 0; i < initial; i++) {
        for (int j = 0; j < d; j++) X[i * d + j] = lm_rng_uniform(&rng);
        y[i] = -pb->f(X + i * d); /* the GP maximizes */
    }
    lm_kernel *k;
    LM_CALL(lm_kernel_create(LM_KERNEL_MATERN52, d, 1, &k));
    lm_gp *gp;
    LM_CALL(lm_gp_create(d, k, NULL, &gp));
    lm_acq_search search;
    lm_acq_search_default(&search);
    lm_acq_domain dom = {.dim = d};
    for (int n = initial; n < evals; n++) {
        LM_CALL(lm_gp_set_data(gp, n, X, y));
        LM_CALL(lm_gp_fit(gp, &rng));
        int arg = 0;
        for (int i = 1; i < n; i++)
            if (y[i] > y[arg]) arg = i;
        lm_acq a = {LM_ACQ_EI, .best = y[arg], .xi = 0.01 * lm_gp_y_scale(gp)};
        LM_CALL(lm_acq_maximize(gp, &a, &dom, &search, 1, X + arg * d, &rng, X + n * d, NULL));
        y[n] = -pb->f(X + n * d);
    }
    *best = INFINITY;
    for (int i = 0; i < evals; i++) *best = fmin(*best, -y[i]);
    lm_gp_destroy(&gp);
    return LM_OK;
}

static double random_search(const problem *pb, uint64_t seed, int evals) {
    lm_rng rng;
    lm_rng_init(&rng, seed, 0, 1); /* the same first points as GP-EI's initial design */
    double best = INFINITY, u[DMAX];
    for (int i = 0; i < evals; i++) {
        for (int j = 0; j < pb->dim; j++) u[j] = lm_rng_uniform(&rng);
        best = fmin(best, pb->f(u));
    }
    return best;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 10;
    int evals = argc > 2 ? atoi(argv[2]) : 100;
    int initial = argc > 3 ? atoi(argv[3]) : 10;
    if (runs < 1 || runs > 1000 || evals < 2 || evals > EVAL_MAX || initial < 1 ||
        initial > evals) {
        fprintf(stderr, "usage: %s [runs 1..1000] [evaluations 2..%d] [initial 1..evaluations]\n",
                argv[0], EVAL_MAX);
        return 2;
    }
    const problem problems[] = {{"branin", 2, 0.397887, branin},
                                {"hartmann6", 6, -3.32237, hartmann6}};
    for (int p = 0; p < 2; p++) {
        const problem *pb = &problems[p];
        double reg_gp[1000], reg_rnd[1000], secs[1000];
        int wins = 0;
        printf("%s: %d evaluations (%d random first), %d seeds\n", pb->name, evals, initial, runs);
        printf("%6s %12s %12s %8s\n", "seed", "regret_gp", "regret_rand", "seconds");
        for (int r = 0; r < runs; r++) {
            double best = NAN, t0 = lm_time_now();
            int rc = gp_ei(pb, (uint64_t)r + 1, evals, initial, &best);
            if (rc < 0) {
                lm_error_print(stderr);
                return 1;
            }
            secs[r] = lm_time_now() - t0;
            reg_gp[r] = best - pb->fmin;
            reg_rnd[r] = random_search(pb, (uint64_t)r + 1, evals) - pb->fmin;
            wins += reg_gp[r] < reg_rnd[r];
            printf("%6d %12.6f %12.6f %8.2f\n", r + 1, reg_gp[r], reg_rnd[r], secs[r]);
            fflush(stdout);
        }
        printf("%s: median regret GP-EI %.6f, random %.6f; GP-EI better on %d of %d seeds; "
               "median %.2f s per run\n\n",
               pb->name, median(reg_gp, runs), median(reg_rnd, runs), wins, runs,
               median(secs, runs));
    }
    return 0;
}
