/* NSGA-II on ZDT1, ZDT2 and ZDT3 (Zitzler, Deb and Thiele 2000) with the settings of
 * Deb et al. 2002 and of DEAP's example: 30 variables, population 100, 250
 * generations, SBX (probability 0.9, eta 20) and polynomial mutation (1/n, eta 20).
 * Prints the final population's hypervolume w.r.t. (1.1, 1.1) for each seed, the
 * median, and the wall time per run; DEAP reports about 0.869, 0.536 and 1.327 in
 * about 2.7 s a run. Then the searchers' own cost per trial at cluster scale: next_job
 * + on_end of evolution and steady-state NSGA-II with a population of 100, with
 * instant synthetic trials.
 *
 *     bench_search_zdt [seeds (5)] [generations (250)] [trials for the overhead (5000)] */
#include "lamarck/error.h"
#include "lamarck/moo.h"
#include "lamarck/search.h"
#include "lamarck/timer.h"
#include "search/evolve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846
#define NV 30
#define POP 100

typedef void (*zdt_fn)(const double *x, double *f);

static double zdt_g(const double *x) {
    double s = 0;
    for (int i = 1; i < NV; i++) s += x[i];
    return 1 + 9 * s / (NV - 1);
}

static void zdt1(const double *x, double *f) {
    double g = zdt_g(x);
    f[0] = x[0];
    f[1] = g * (1 - sqrt(x[0] / g));
}

static void zdt2(const double *x, double *f) {
    double g = zdt_g(x), q = x[0] / g;
    f[0] = x[0];
    f[1] = g * (1 - q * q);
}

static void zdt3(const double *x, double *f) {
    double g = zdt_g(x), q = x[0] / g;
    f[0] = x[0];
    f[1] = g * (1 - sqrt(q) - q * sin(10 * PI * x[0]));
}

static int check(int rc) {
    if (rc < 0) {
        lm_error_print(stderr);
        exit(1);
    }
    return rc;
}

/* One run of the generational algorithm; returns the hypervolume. */
static double run(zdt_fn fn, uint64_t seed, int gens) {
    static double x[2 * POP * NV], f[2 * POP * 2], tx[POP * NV], tf[POP * 2], dist[2 * POP],
        pd[POP];
    static int front[2 * POP], pf[POP], chosen[2 * POP];
    const lm_moo_sense s[] = {LM_MOO_MIN, LM_MOO_MIN};
    const lm__variation v = {.p_cross = 0.9, .eta_c = 20, .eta_m = 20, .p_mut = 0};
    lm_rng r;
    lm_rng_init(&r, seed, 0, LM_STREAM_SEARCH);
    for (int i = 0; i < POP * NV; i++) x[i] = lm_rng_uniform(&r);
    for (int i = 0; i < POP; i++) fn(x + i * NV, f + i * 2);
    check(lm_moo_rank(f, POP, 2, s, pf, pd));
    for (int g = 0; g < gens; g++) {
        check(lm__nsga2_breed(&r, x, POP, NV, pf, pd, &v, POP, x + POP * NV, NULL));
        for (int i = POP; i < 2 * POP; i++) fn(x + i * NV, f + i * 2);
        check(lm_moo_select(f, 2 * POP, 2, s, POP, chosen, front, dist));
        for (int i = 0; i < POP; i++) {
            memcpy(tx + i * NV, x + chosen[i] * NV, NV * sizeof *x);
            memcpy(tf + i * 2, f + chosen[i] * 2, 2 * sizeof *f);
            pf[i] = front[chosen[i]];
            pd[i] = dist[chosen[i]];
        }
        memcpy(x, tx, sizeof tx);
        memcpy(f, tf, sizeof tf);
    }
    double ref[] = {1.1, 1.1}, hv;
    check(lm_moo_hypervolume(f, POP, 2, s, ref, &hv));
    return hv;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Drives a searcher with one worker and instant trials (one epoch each) and returns
 * the seconds per trial spent in next_job + on_end. */
static double overhead(const char *name, const char *const *opt, const double *num, int n) {
    lm_space *sp;
    check(lm_space_create(&sp));
    check(lm_space_add_float(sp, "lr", 1e-3, 0.3, 1));
    check(lm_space_add_int(sp, "width", 16, 256, 1));
    check(lm_space_add_float(sp, "momentum", 0.5, 0.99, 0));
    lm_search_params p = {.space = sp, .seed = 1, .max_trials = n, .epochs = 1};
    const lm_option_spec *specs = lm_searcher_options(name);
    for (int i = 0; opt[i]; i += 2)
        check(lm_options_set(&p.options, specs, opt[i], num[i / 2], opt[i + 1]));
    lm_searcher *s;
    check(lm_searcher_create(name, &p, &s));
    lm_trials t;
    check(lm_trials_init(&t, lm_space_size(sp)));
    double spent = 0;
    for (;;) {
        lm_job j;
        double t0 = lm_time_now();
        check(lm_searcher_next_job(s, &t, &j));
        spent += lm_time_now() - t0;
        if (j.kind == LM_JOB_DONE) break;
        lm_trial *tr = lm_trials_get(&t, j.trial_id);
        lm_report r;
        memset(&r, 0, sizeof r);
        r.trial_id = j.trial_id;
        r.epoch = 1;
        double d = log10(tr->hp[0] / 0.03);
        r.val_accuracy = 0.9 - 0.1 * d * d - 0.5 / sqrt(tr->hp[1]);
        r.params = (int64_t)(tr->hp[1] * tr->hp[1] * 10);
        check(lm_trials_record(&t, &r, 0));
        t0 = lm_time_now();
        lm_searcher_on_end(s, &t, j.trial_id);
        spent += lm_time_now() - t0;
    }
    lm_searcher_destroy(&s);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
    return spent / n;
}

int main(int argc, char **argv) {
    int seeds = argc > 1 ? atoi(argv[1]) : 5;
    int gens = argc > 2 ? atoi(argv[2]) : 250;
    int trials = argc > 3 ? atoi(argv[3]) : 5000;
    if (seeds < 1 || seeds > 101 || gens < 1 || trials < 1) {
        fprintf(stderr, "usage: bench_search_zdt [seeds 1..101] [generations] [trials]\n");
        return 2;
    }
    zdt_fn fns[] = {zdt1, zdt2, zdt3};
    const double deap[] = {0.869, 0.536, 1.327};
    printf("NSGA-II, %d variables, population %d, %d generations, %d seeds\n", NV, POP, gens,
           seeds);
    for (int p = 0; p < 3; p++) {
        double hv[101], t0 = lm_time_now();
        for (int k = 0; k < seeds; k++) hv[k] = run(fns[p], 1000 + (uint64_t)k, gens);
        double per_run = (lm_time_now() - t0) / seeds;
        printf("ZDT%d: hypervolume", p + 1);
        for (int k = 0; k < seeds; k++) printf(" %.4f", hv[k]);
        qsort(hv, (size_t)seeds, sizeof *hv, cmp_double);
        printf(" | median %.4f (DEAP %.3f) | %.3f s a run\n", hv[seeds / 2], deap[p], per_run);
    }
    const char *evo[] = {"population", NULL, "sample_size", NULL, NULL};
    const double evo_num[] = {100, 25};
    const char *ns[] = {"population", NULL, "mode", "steady", NULL};
    const double ns_num[] = {100, 0};
    const char *ng[] = {"population", NULL, NULL};
    const double ng_num[] = {100};
    printf("searcher cost per trial (next_job + on_end), population 100, %d trials:\n", trials);
    printf("  evolution (tournament 25):  %8.1f us\n",
           1e6 * overhead("evolution", evo, evo_num, trials));
    printf("  nsga2 steady:               %8.1f us\n", 1e6 * overhead("nsga2", ns, ns_num, trials));
    printf("  nsga2 generational:         %8.1f us\n", 1e6 * overhead("nsga2", ng, ng_num, trials));
    return 0;
}
