/* NSGA-II: the real-coded operators (SBX, polynomial mutation, crowded tournament),
 * the algorithm core on ZDT1, ZDT2 and ZDT3 (Zitzler, Deb and Thiele 2000) against
 * hypervolume targets, and the nsga2 searcher with a fake controller (generational
 * and steady modes, snapshots, determinism, save/load, option errors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/arch.h"
#include "lamarck/error.h"
#include "lamarck/moo.h"
#include "lamarck/search.h"
#include "search/evolve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- operators ---- */

static void test_sbx(void **state) {
    (void)state;
    lm_rng r;
    lm_rng_init(&r, 3, 0, 0);
    enum { N = 10 };
    double a[N], b[N], c1[N], c2[N];
    int crossed = 0, total = 0;
    for (int trial = 0; trial < 2000; trial++) {
        for (int i = 0; i < N; i++) {
            a[i] = lm_rng_uniform(&r);
            b[i] = lm_rng_uniform(&r);
        }
        lm__sbx(&r, a, b, N, 20, c1, c2);
        for (int i = 0; i < N; i++) {
            assert_true(c1[i] >= 0 && c1[i] <= 1 && c2[i] >= 0 && c2[i] <= 1);
            total++;
            if (c1[i] == a[i] && c2[i] == b[i]) continue;
            crossed++;
        }
    }
    /* Far from the bounds (eta 20) the children are symmetric about the parents' mean:
     * the bounded correction is 10^-21 here. */
    for (int trial = 0; trial < 1000; trial++) {
        double x = 0.45, y = 0.55;
        lm__sbx(&r, &x, &y, 1, 20, c1, c2);
        assert_true(fabs(0.5 * (c1[0] + c2[0]) - 0.5) < 1e-9);
    }
    /* Each variable is crossed with probability 1/2: 20000 draws, sd 71. */
    assert_in_range(crossed, 10000 - 400, 10000 + 400);
    assert_int_equal(total, 20000);

    /* With eta large the children stay near the parents; with eta small they spread. */
    double spread[2] = {0, 0};
    double etas[2] = {100, 1};
    for (int e = 0; e < 2; e++)
        for (int trial = 0; trial < 2000; trial++) {
            double x = 0.4, y = 0.6;
            lm__sbx(&r, &x, &y, 1, etas[e], c1, c2);
            spread[e] += fabs(c1[0] - c2[0]);
        }
    assert_true(spread[0] < spread[1]);
}

static void test_polynomial_mutation(void **state) {
    (void)state;
    lm_rng r;
    lm_rng_init(&r, 4, 0, 0);
    enum { N = 30 };
    double x[N];
    int changed = 0;
    double moved = 0;
    for (int trial = 0; trial < 4000; trial++) {
        for (int i = 0; i < N; i++) x[i] = 0.5;
        lm__polynomial_mutation(&r, x, N, 20, 1.0 / N);
        for (int i = 0; i < N; i++) {
            assert_true(x[i] >= 0 && x[i] <= 1);
            if (x[i] != 0.5) {
                changed++;
                moved += fabs(x[i] - 0.5);
            }
        }
    }
    /* 1/N per variable: 4000 expected changes (sd 62); eta 20 moves little. */
    assert_in_range(changed, 4000 - 300, 4000 + 300);
    assert_true(moved / changed < 0.1);
    /* At a bound the step only goes inwards (or nowhere). */
    int up = 0;
    for (int trial = 0; trial < 2000; trial++) {
        double lo = 0, hi = 1;
        lm__polynomial_mutation(&r, &lo, 1, 20, 1);
        lm__polynomial_mutation(&r, &hi, 1, 20, 1);
        assert_true(lo >= 0 && lo <= 1 && hi >= 0 && hi <= 1);
        up += lo > 0;
    }
    assert_in_range(up, 1000 - 150, 1000 + 150); /* the half of the draws that go up */
}

static void test_crowded_tournament(void **state) {
    (void)state;
    lm_rng r;
    lm_rng_init(&r, 5, 0, 0);
    /* Two points: 0 is better (lower front). It wins unless both draws pick 1. */
    int front[] = {0, 1};
    double dist[] = {1, 5};
    int wins0 = 0;
    for (int i = 0; i < 40000; i++) wins0 += lm__crowded_tournament(&r, 2, front, dist) == 0;
    assert_in_range(wins0, 30000 - 400, 30000 + 400);
    /* Same front: the larger crowding distance wins. */
    int same[] = {0, 0};
    wins0 = 0;
    for (int i = 0; i < 40000; i++) wins0 += lm__crowded_tournament(&r, 2, same, dist) == 0;
    assert_in_range(wins0, 10000 - 400, 10000 + 400);
}

/* ---- the core on ZDT problems ---- */

#define PI 3.14159265358979323846

typedef void (*zdt_fn)(const double *x, int n, double *f);

static double zdt_g(const double *x, int n) {
    double s = 0;
    for (int i = 1; i < n; i++) s += x[i];
    return 1 + 9 * s / (n - 1);
}

static void zdt1(const double *x, int n, double *f) {
    double g = zdt_g(x, n);
    f[0] = x[0];
    f[1] = g * (1 - sqrt(x[0] / g));
}

static void zdt2(const double *x, int n, double *f) {
    double g = zdt_g(x, n), q = x[0] / g;
    f[0] = x[0];
    f[1] = g * (1 - q * q);
}

static void zdt3(const double *x, int n, double *f) {
    double g = zdt_g(x, n), q = x[0] / g;
    f[0] = x[0];
    f[1] = g * (1 - sqrt(q) - q * sin(10 * PI * x[0]));
}

/* NSGA-II as in the paper: P_0 random, then N children by crowded tournaments, SBX
 * (probability 0.9) and polynomial mutation (1/n), and the best N of parents and
 * children. Returns the final population's hypervolume w.r.t. (1.1, 1.1). */
static double run_nsga2(zdt_fn fn, uint64_t seed, int pop, int gens) {
    enum { NV = 30, M = 2 };
    lm_rng r;
    lm_rng_init(&r, seed, 0, LM_STREAM_SEARCH);
    double *x = malloc((size_t)2 * pop * NV * sizeof *x);
    double *f = malloc((size_t)2 * pop * M * sizeof *f);
    double *tx = malloc((size_t)pop * NV * sizeof *tx);
    double *tf = malloc((size_t)pop * M * sizeof *tf);
    int *front = malloc((size_t)2 * pop * sizeof *front);
    int *pf = malloc((size_t)pop * sizeof *pf);
    int *chosen = malloc((size_t)2 * pop * sizeof *chosen);
    double *dist = malloc((size_t)2 * pop * sizeof *dist);
    double *pd = malloc((size_t)pop * sizeof *pd);
    assert_true(x && f && tx && tf && front && pf && chosen && dist && pd);
    for (int i = 0; i < pop * NV; i++) x[i] = lm_rng_uniform(&r);
    for (int i = 0; i < pop; i++) fn(x + i * NV, NV, f + i * M);
    lm_moo_sense s[] = {LM_MOO_MIN, LM_MOO_MIN};
    assert_int_equal(lm_moo_rank(f, pop, M, s, pf, pd), LM_OK);
    lm__variation v = {.p_cross = 0.9, .eta_c = 20, .eta_m = 20, .p_mut = 0};
    for (int g = 0; g < gens; g++) {
        assert_int_equal(lm__nsga2_breed(&r, x, pop, NV, pf, pd, &v, pop, x + pop * NV, NULL),
                         LM_OK);
        for (int i = pop; i < 2 * pop; i++) fn(x + i * NV, NV, f + i * M);
        assert_int_equal(lm_moo_select(f, 2 * pop, M, s, pop, chosen, front, dist), LM_OK);
        for (int i = 0; i < pop; i++) {
            memcpy(tx + i * NV, x + chosen[i] * NV, NV * sizeof *x);
            memcpy(tf + i * M, f + chosen[i] * M, M * sizeof *f);
            pf[i] = front[chosen[i]];
            pd[i] = dist[chosen[i]];
        }
        memcpy(x, tx, (size_t)pop * NV * sizeof *x);
        memcpy(f, tf, (size_t)pop * M * sizeof *f);
    }
    double ref[] = {1.1, 1.1}, hv;
    assert_int_equal(lm_moo_hypervolume(f, pop, M, s, ref, &hv), LM_OK);
    free(x);
    free(f);
    free(tx);
    free(tf);
    free(front);
    free(pf);
    free(chosen);
    free(dist);
    free(pd);
    return hv;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The full benchmark setting (30 variables, population 100, 250 generations), median
 * of 5 seeds. Targets: 0.865 (ZDT1), 0.533 (ZDT2), 1.320 (ZDT3); the true fronts give
 * about 0.872, 0.539 and 1.331 under (1.1, 1.1). */
static void test_zdt(void **state) {
    (void)state;
    zdt_fn fns[] = {zdt1, zdt2, zdt3};
    const double target[] = {0.865, 0.533, 1.320};
    for (int p = 0; p < 3; p++) {
        double hv[5];
        for (int k = 0; k < 5; k++) hv[k] = run_nsga2(fns[p], 1000 + (uint64_t)k, 100, 250);
        qsort(hv, 5, sizeof *hv, cmp_double);
        printf("ZDT%d: hypervolume median %.4f (min %.4f, max %.4f), target %.3f\n", p + 1,
               hv[2], hv[0], hv[4], target[p]);
        assert_true(hv[2] >= target[p]);
    }
}

/* ---- the nsga2 searcher ---- */

/* lr (log float), width (log int), momentum (float), schedule (categorical),
 * step_size (int, active when schedule is "step"). */
static lm_space *make_space(void) {
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 0.3, 1), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "width", 16, 256, 1), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "momentum", 0.5, 0.99, 0), LM_OK);
    const char *sched[] = {"constant", "step", "cosine"};
    assert_int_equal(lm_space_add_categorical(sp, "schedule", 3, sched), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "step_size", 1, 5, 0), LM_OK);
    const char *when[] = {"step"};
    assert_int_equal(lm_space_set_condition(sp, "step_size", "schedule", 1, when), LM_OK);
    return sp;
}

#define MAX_WORKERS 8
#define MAX_TRIALS 512

/* Accuracy peaks at lr 0.03 and grows with width, as do params (width^2) and latency:
 * a real trade-off between the first objective and the others. */
static double fake_accuracy(const double *x, int epoch) {
    double d = log10(x[0]) - log10(0.03);
    return (0.9 - 0.1 * d * d - 0.5 / sqrt(x[1])) * (1 - 0.3 / epoch);
}

typedef struct fake {
    int n_workers;
    int busy[MAX_WORKERS];
    int rounds, done, idle_while_open, waits;
    int fail_mod;               /* trials with id % fail_mod == fail_mod - 1 fail; 0: none */
    int n_end, end_order[MAX_TRIALS];
} fake;

static void fake_init(fake *f, int n_workers, int fail_mod) {
    memset(f, 0, sizeof *f);
    f->n_workers = n_workers;
    f->fail_mod = fail_mod;
    for (int w = 0; w < n_workers; w++) f->busy[w] = -1;
}

static int busy_count(const fake *f) {
    int n = 0;
    for (int w = 0; w < f->n_workers; w++) n += f->busy[w] >= 0;
    return n;
}

/* Runs rounds (free workers ask, then busy ones report one epoch in rotating order)
 * until the search is over or max_rounds. Returns 1 when every trial ended. */
static int fake_run(lm_searcher *s, lm_trials *t, fake *f, int max_rounds) {
    for (int k = 0; k < max_rounds; k++) {
        for (int w = 0; w < f->n_workers && !f->done; w++) {
            if (f->busy[w] >= 0) continue;
            lm_job j;
            if (lm_searcher_next_job(s, t, &j) != LM_OK)
                fail_msg("next_job: %s", lm_error_message());
            if (j.kind == LM_JOB_DONE) {
                f->done = 1;
                break;
            }
            if (j.kind == LM_JOB_WAIT) {
                assert_true(busy_count(f) > 0);
                f->waits++;
                break;
            }
            assert_int_equal(j.kind, LM_JOB_NEW);
            lm_trial *tr = lm_trials_get(t, j.trial_id);
            assert_non_null(tr);
            assert_int_equal(tr->status, LM_TRIAL_PENDING);
            tr->status = LM_TRIAL_RUNNING;
            tr->worker = w + 1;
            f->busy[w] = j.trial_id;
        }
        if (!f->done)
            for (int w = 0; w < f->n_workers; w++) f->idle_while_open += f->busy[w] < 0;
        int any = 0;
        for (int i = 0; i < f->n_workers; i++) {
            int w = (i + f->rounds) % f->n_workers;
            if (f->busy[w] < 0) continue;
            any = 1;
            lm_trial *tr = lm_trials_get(t, f->busy[w]);
            lm_report r;
            memset(&r, 0, sizeof r);
            r.trial_id = tr->id;
            r.epoch = tr->epochs + 1;
            r.val_accuracy = fake_accuracy(tr->hp, r.epoch);
            r.val_loss = 1 - r.val_accuracy;
            r.seconds = 0.5;
            r.params = (int64_t)(tr->hp[1] * tr->hp[1] * 10);
            r.flops = 2.0 * (double)r.params;
            r.latency = tr->hp[1] * 1e-4;
            if (f->fail_mod && tr->id % f->fail_mod == f->fail_mod - 1) {
                r.failed = 1;
                r.val_accuracy = NAN;
                snprintf(r.reason, sizeof r.reason, "diverged");
            }
            assert_int_equal(lm_trials_record(t, &r, f->rounds), LM_OK);
            if (!r.failed)
                assert_int_equal(lm_searcher_on_report(s, t, &r).kind, LM_DECIDE_CONTINUE);
            if (tr->status == LM_TRIAL_DONE || tr->status == LM_TRIAL_FAILED) {
                assert_true(f->n_end < MAX_TRIALS);
                f->end_order[f->n_end++] = tr->id;
                lm_searcher_on_end(s, t, tr->id);
                f->busy[w] = -1;
            }
        }
        f->rounds++;
        if (f->done && !any) return 1;
    }
    return 0;
}

/* Options as pairs (name, label), numbers for INT and REAL from num (label NULL). */
static int make_nsga2(const lm_space *sp, uint64_t seed, int max_trials, const char *const *opt,
                      const double *num, lm_searcher **s) {
    lm_search_params p = {.space = sp, .seed = seed, .max_trials = max_trials, .epochs = 2};
    const lm_option_spec *specs = lm_searcher_options("nsga2");
    assert_non_null(specs);
    for (int i = 0; opt && opt[i]; i += 2) {
        int rc = lm_options_set(&p.options, specs, opt[i], num ? num[i / 2] : 0, opt[i + 1]);
        if (rc != LM_OK) fail_msg("option %s: %s", opt[i], lm_error_message());
    }
    *s = NULL;
    return lm_searcher_create("nsga2", &p, s);
}

static lm_searcher *nsga2_or_fail(const lm_space *sp, uint64_t seed, int max_trials,
                                  const char *const *opt, const double *num) {
    lm_searcher *s;
    if (make_nsga2(sp, seed, max_trials, opt, num, &s) != LM_OK)
        fail_msg("nsga2: %s", lm_error_message());
    return s;
}

/* nsga2 (options opt/num) over sp run to its end into t by the fake controller f of
 * n_workers (failing every fail_mod-th trial); returns the searcher. */
static lm_searcher *nsga2_run(const lm_space *sp, uint64_t seed, int n, const char *const *opt,
                              const double *num, int n_workers, int fail_mod, lm_trials *t,
                              fake *f) {
    lm_searcher *s = nsga2_or_fail(sp, seed, n, opt, num);
    assert_int_equal(lm_trials_init(t, lm_space_size(sp)), LM_OK);
    fake_init(f, n_workers, fail_mod);
    assert_true(fake_run(s, t, f, 100000));
    return s;
}

/* The snapshot rows of snapshot number sn: t->pop[*b .. *e). */
static void snapshot_rows(const lm_trials *t, int sn, size_t *b, size_t *e) {
    size_t k = 0;
    while (k < t->n_pop && t->pop[k].snapshot < sn) k++;
    *b = k;
    while (k < t->n_pop && t->pop[k].snapshot == sn) k++;
    *e = k;
}

/* Checks that the fronts recorded in snapshot sn are the non-dominated sorting of its
 * members' objectives (val_accuracy max, params min), and returns its size. */
static int check_snapshot_fronts(const lm_trials *t, int sn, int m, const lm_moo_sense *sense) {
    size_t b, e;
    snapshot_rows(t, sn, &b, &e);
    int n = (int)(e - b);
    double f[3 * 64];
    int front[64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) {
        const lm_trial *tr = &t->v[t->pop[b + i].trial_id];
        f[i * m] = tr->status == LM_TRIAL_DONE ? tr->best_val_accuracy : NAN;
        f[i * m + 1] = tr->status == LM_TRIAL_DONE ? (double)tr->params : NAN;
        if (m == 3) f[i * m + 2] = tr->status == LM_TRIAL_DONE ? tr->latency : NAN;
    }
    assert_int_equal(lm_moo_sort(f, n, m, sense, front, NULL), LM_OK);
    for (int i = 0; i < n; i++) {
        assert_int_equal(t->pop[b + i].front, front[i]);
        assert_true(t->pop[b + i].crowding >= 0);
        assert_true(isnan(t->pop[b + i].fitness));
    }
    return n;
}

static void test_nsga2_generational(void **state) {
    (void)state;
    lm_space *sp = make_space();
    const int N = 8, n = 60;
    const char *opt[] = {"population", NULL, NULL};
    double num[] = {N};
    lm_trials t;
    fake f;
    lm_searcher *s = nsga2_run(sp, 5, n, opt, num, 3, 13, &t, &f);
    assert_int_equal(t.n, n);
    assert_true(f.waits > 0); /* workers wait at generation ends */
    /* Generations 0..7 (the last one partial: 60 = 7 x 8 + 4): one snapshot each. */
    assert_int_equal(t.n_snapshots, 8);
    lm_moo_sense sense[] = {LM_MOO_MAX, LM_MOO_MIN};
    for (int g = 0; g < 8; g++) {
        size_t b, e;
        snapshot_rows(&t, g, &b, &e);
        assert_int_equal((int)(e - b), N);
        assert_int_equal(t.pop[b].event, g);
        check_snapshot_fronts(&t, g, 2, sense);
    }
    /* Trial k belongs to generation k / N; children of generation g have parents in
     * the population selected after generation g - 1. */
    for (int i = 0; i < n; i++) {
        const lm_trial *tr = &t.v[i];
        int g = i / N;
        assert_int_equal(tr->generation, g);
        if (g == 0) {
            assert_int_equal(tr->origin, LM_ORIGIN_SAMPLED);
            continue;
        }
        size_t b, e;
        snapshot_rows(&t, g - 1, &b, &e);
        for (int k = 0; k < 2; k++) {
            if (tr->parent[k] < 0) continue;
            int found = 0;
            for (size_t q = b; q < e; q++) found |= t.pop[q].trial_id == tr->parent[k];
            assert_true(found);
        }
        assert_true(tr->parent[0] >= 0);
    }
    /* Failed trials (ids 12, 25, 38, 51) are dominated by every finished one: none is
     * in a final front 0 that has finished members. */
    size_t b, e;
    snapshot_rows(&t, 7, &b, &e);
    for (size_t q = b; q < e; q++)
        if (t.pop[q].front == 0) assert_int_equal(t.v[t.pop[q].trial_id].status, LM_TRIAL_DONE);
    lm_searcher_destroy(&s);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

static void test_nsga2_steady(void **state) {
    (void)state;
    lm_space *sp = make_space();
    const int N = 6, n = 50;
    const char *opt[] = {"population", NULL, "mode", "steady", "snapshot_every", NULL,
                         "objective3", "latency", NULL};
    double num[] = {N, 0, 4, 0};
    lm_trials t;
    fake f;
    lm_searcher *s = nsga2_run(sp, 6, n, opt, num, 4, 0, &t, &f);
    assert_int_equal(f.waits, 0);
    assert_int_equal(f.idle_while_open, 0);
    assert_int_equal(t.n, n);
    /* A snapshot every 4 ends (the 48th included) and the final one at 50. */
    assert_int_equal(t.n_snapshots, 13);
    lm_moo_sense sense[] = {LM_MOO_MAX, LM_MOO_MIN, LM_MOO_MIN};
    for (int sn = 0; sn < t.n_snapshots; sn++) {
        int size = check_snapshot_fronts(&t, sn, 3, sense);
        size_t b, e;
        snapshot_rows(&t, sn, &b, &e);
        int ev = t.pop[b].event;
        assert_int_equal(size, ev < N ? ev : N);
        assert_true(ev % 4 == 0 || ev == n);
    }
    for (int i = N; i < n; i++)
        if (t.v[i].origin != LM_ORIGIN_SAMPLED) assert_in_range(t.v[i].parent[0], 0, i - 1);
    lm_searcher_destroy(&s);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

static void same_tables(const lm_trials *a, const lm_trials *b) {
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        for (int k = 0; k < a->n_hp; k++)
            assert_true((isnan(a->v[i].hp[k]) && isnan(b->v[i].hp[k])) ||
                        a->v[i].hp[k] == b->v[i].hp[k]);
        assert_int_equal(a->v[i].parent[0], b->v[i].parent[0]);
        assert_int_equal(a->v[i].parent[1], b->v[i].parent[1]);
        assert_true(a->v[i].mutated == b->v[i].mutated);
    }
    assert_int_equal((int)a->n_pop, (int)b->n_pop);
    for (size_t k = 0; k < a->n_pop; k++) {
        assert_int_equal(a->pop[k].trial_id, b->pop[k].trial_id);
        assert_int_equal(a->pop[k].front, b->pop[k].front);
    }
}

/* Checkpointed mid-generation (generational) or mid-run (steady), resumed into fresh
 * objects, the run continues exactly as the uninterrupted one. */
static void test_nsga2_resume(void **state) {
    (void)state;
    lm_space *sp = make_space();
    const char *modes[] = {"generational", "steady"};
    for (int md = 0; md < 2; md++) {
        const char *opt[] = {"population", NULL, "mode", modes[md], NULL};
        double num[] = {6, 0};
        const int n = 40;
        lm_searcher *s1 = nsga2_or_fail(sp, 8, n, opt, num);
        lm_searcher *s2 = nsga2_or_fail(sp, 8, n, opt, num);
        lm_trials t1, t2, t3;
        assert_int_equal(lm_trials_init(&t1, lm_space_size(sp)), LM_OK);
        assert_int_equal(lm_trials_init(&t2, lm_space_size(sp)), LM_OK);
        assert_int_equal(lm_trials_init(&t3, lm_space_size(sp)), LM_OK);
        fake f1, f2;
        fake_init(&f1, 4, 9);
        fake_init(&f2, 4, 9);
        assert_false(fake_run(s1, &t1, &f1, 13));
        assert_false(fake_run(s2, &t2, &f2, 13));
        lm_state_mem *m;
        assert_int_equal(lm_state_mem_create(&m), LM_OK);
        lm_state_writer w = lm_state_mem_writer(m);
        lm_state_reader r = lm_state_mem_reader(m);
        assert_int_equal(lm_searcher_save(s2, &w), LM_OK);
        assert_int_equal(lm_trials_save(&t2, &w, "trials"), LM_OK);
        lm_searcher_destroy(&s2);
        lm_trials_fini(&t2);
        lm_searcher *s3 = nsga2_or_fail(sp, 8, n, opt, num);
        assert_int_equal(lm_searcher_load(s3, &r), LM_OK);
        assert_int_equal(lm_trials_load(&t3, &r, "trials"), LM_OK);
        assert_true(fake_run(s1, &t1, &f1, 100000));
        assert_true(fake_run(s3, &t3, &f2, 100000));
        same_tables(&t1, &t3);
        assert_int_equal(t1.n, n);

        /* The other mode's checkpoint is refused. */
        const char *other_opt[] = {"population", NULL, "mode", modes[1 - md], NULL};
        lm_searcher *o = nsga2_or_fail(sp, 8, n, other_opt, num);
        lm_error_clear();
        assert_int_equal(lm_searcher_load(o, &r), LM_ECKPT);
        assert_non_null(strstr(lm_error_message(), "'searcher/mode'"));
        lm_error_clear();
        /* A corrupt population entry is refused. */
        assert_int_equal(lm_searcher_save(s1, &w), LM_OK);
        int32_t bad[] = {-2};
        assert_int_equal(lm_state_put(&w, "searcher/pop", LM_DT_I32, 1, bad), LM_OK);
        assert_int_equal(lm_searcher_load(s1, &r), LM_ECKPT);
        lm_error_clear();
        lm_searcher_destroy(&o);
        lm_searcher_destroy(&s1);
        lm_searcher_destroy(&s3);
        lm_trials_fini(&t1);
        lm_trials_fini(&t3);
        lm_state_mem_destroy(&m);
    }
    lm_space_destroy(&sp);
}

static void test_nsga2_options(void **state) {
    (void)state;
    lm_space *sp = make_space();
    lm_searcher *s;
    const char *none[] = {"objective1", "none", "objective2", "none", NULL};
    lm_error_clear();
    assert_int_equal(make_nsga2(sp, 1, 10, none, NULL, &s), LM_ECONFIG);
    assert_null(s);
    assert_non_null(strstr(lm_error_message(), "every objective is 'none'"));
    const char *dup[] = {"objective3", "val_accuracy", NULL};
    lm_error_clear();
    assert_int_equal(make_nsga2(sp, 1, 10, dup, NULL, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "'objective3' is val_accuracy"));
    lm_error_clear();
    /* A single objective is fine (fronts are then ranks of one metric). */
    const char *one[] = {"objective2", "none", NULL};
    assert_int_equal(make_nsga2(sp, 1, 10, one, NULL, &s), LM_OK);
    lm_searcher_destroy(&s);
    /* Labels are validated by the spec table. */
    lm_options o = {0};
    assert_int_equal(lm_options_set(&o, lm_searcher_options("nsga2"), "objective1", 0, "loss"),
                     LM_ERANGE);
    assert_non_null(strstr(lm_error_message(), "val_accuracy, params, flops, latency"));
    lm_error_clear();
    lm_space_destroy(&sp);
}

/* The architecture genes of trial hp as a genome, and its canonical hash. */
static uint64_t arch_hash_of(const lm_space *sp, const double *hp) {
    int first, n;
    const lm_arch_space *as = lm_space_arch(sp, &first, &n);
    int32_t g[LM_HP_MAX];
    for (int i = 0; i < n; i++) g[i] = (int32_t)hp[first + i];
    lm_arch_net net = {0};
    assert_int_equal(lm_arch_decode(as, g, (size_t)n, &net), LM_OK);
    lm_arch_net_fini(&net);
    uint64_t h = 0;
    assert_int_equal(lm_arch_hash(as, g, (size_t)n, &h), LM_OK);
    return h;
}

/* Reports the epochs of trial tr, whose network hashes to h, and ends it. Objectives
 * that depend on the network only: a fixed pseudo-random trade-off. */
static void train_arch_trial(lm_searcher *s, lm_trials *t, lm_trial *tr, uint64_t h, int epochs,
                             int round) {
    for (int e = 1; e <= epochs; e++) {
        lm_report r;
        memset(&r, 0, sizeof r);
        r.trial_id = tr->id;
        r.epoch = e;
        r.val_accuracy = 0.5 + (double)(h % 1000) / 2000;
        r.val_loss = 1 - r.val_accuracy;
        r.seconds = 0.1;
        r.params = 1000 + (int64_t)((h >> 20) % 100000);
        r.flops = 2.0 * (double)r.params;
        assert_int_equal(lm_trials_record(t, &r, round), LM_OK);
        assert_int_equal(lm_searcher_on_report(s, t, &r).kind, LM_DECIDE_CONTINUE);
    }
    assert_int_equal(tr->status, LM_TRIAL_DONE);
    lm_searcher_on_end(s, t, tr->id);
}

/* A space of chain architectures only (as, a default chain family when NULL). */
static lm_space *chain_space(const lm_arch_space *as) {
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    lm_arch_space def;
    lm_arch_space_default(&def, LM_ARCH_CHAIN);
    assert_int_equal(lm_space_add_arch(sp, as ? as : &def), LM_OK);
    assert_int_equal(lm_space_arch_set_shape(sp, 1, 8, 8, 10), LM_OK);
    return sp;
}

/* A child as issued, with its network's hash, and the table it is in. */
typedef void (*child_fn)(const lm_space *sp, const lm_trials *t, const lm_trial *child,
                         uint64_t h, void *ctx);

/* Runs nsga2 (options opt/num) for n trials on one worker over space sp (destroyed
 * after), calling visit on every bred child when it is issued. */
static void drive_arch(lm_space *sp, uint64_t seed, int n, const char *const *opt,
                       const double *num, child_fn visit, void *ctx) {
    lm_searcher *s = nsga2_or_fail(sp, seed, n, opt, num);
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, lm_space_size(sp)), LM_OK);
    for (int round = 0;; round++) {
        lm_job j;
        if (lm_searcher_next_job(s, &t, &j) != LM_OK) fail_msg("next_job: %s", lm_error_message());
        if (j.kind == LM_JOB_DONE) break;
        assert_int_equal(j.kind, LM_JOB_NEW);
        lm_trial *tr = lm_trials_get(&t, j.trial_id);
        tr->status = LM_TRIAL_RUNNING;
        tr->worker = 1;
        uint64_t h = arch_hash_of(sp, tr->hp);
        if (tr->parent[0] >= 0) visit(sp, &t, tr, h, ctx);
        train_arch_trial(s, &t, tr, h, j.epochs, round);
    }
    assert_int_equal(t.n, n);
    lm_searcher_destroy(&s);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

typedef struct {
    int children, changed;
} variation_count;

static void count_changed(const lm_space *sp, const lm_trials *t, const lm_trial *child,
                          uint64_t h, void *ctx) {
    variation_count *c = ctx;
    assert_int_equal(child->parent[1], -1);
    c->children++;
    c->changed += h != arch_hash_of(sp, t->v[child->parent[0]].hp);
}

/* Over an architecture space, children come from the family's operators (one named
 * mutation each), not from SBX and polynomial mutation on the integer genes, which
 * leave most children identical to their parent: every child decodes to a network and
 * nearly every one differs from its parent. */
static void test_nsga2_arch_variation(void **state) {
    (void)state;
    const int N = 8, n = 120;
    const char *opt[] = {"population", NULL, "mode", "steady", "crossover_prob", NULL, NULL};
    double num[] = {N, 0, 0};
    variation_count c = {0};
    drive_arch(chain_space(NULL), 11, n, opt, num, count_changed, &c);
    assert_int_equal(c.children, n - N);
    assert_true(c.changed >= c.children * 9 / 10);
}

/* The crowding distances each generation's snapshot records are lm_moo_select's over
 * the previous population and the generation's children, with params on a log scale
 * (log_scale, the default) or a linear one; the two scales give different distances
 * on these params (2,560 to 655,360), so the check tells them apart. */
static void crowding_scale_case(int log_scale, int *differs) {
    lm_space *sp = make_space();
    const int N = 8, n = 48;
    const char *opt[] = {"population", NULL, "log_scale", log_scale ? "true" : "false", NULL};
    double num[] = {N, 0};
    lm_trials t;
    fake f;
    lm_searcher *s = nsga2_run(sp, 7, n, opt, num, 3, 13, &t, &f);
    lm_moo_sense sense[] = {LM_MOO_MAX, LM_MOO_MIN};
    for (int g = 1; g < n / N; g++) {
        size_t pb, pe, b, e;
        snapshot_rows(&t, g - 1, &pb, &pe);
        snapshot_rows(&t, g, &b, &e);
        int ids[64], nr = 0;
        for (size_t k = pb; k < pe; k++) ids[nr++] = t.pop[k].trial_id;
        for (int i = 0; i < t.n; i++)
            if (t.v[i].generation == g) ids[nr++] = i;
        assert_true(nr <= 64 && (int)(e - b) == N);
        double fl[2 * 64], fg[2 * 64], dl[64], dg[64];
        int cl[64], cg[64], fr[64];
        for (int i = 0; i < nr; i++) {
            const lm_trial *tr = &t.v[ids[i]];
            int done = tr->status == LM_TRIAL_DONE;
            fl[2 * i] = fg[2 * i] = done ? tr->best_val_accuracy : NAN;
            fl[2 * i + 1] = done ? (double)tr->params : NAN;
            fg[2 * i + 1] = done ? log((double)tr->params) : NAN;
        }
        assert_int_equal(lm_moo_select(fl, nr, 2, sense, N, cl, fr, dl), LM_OK);
        assert_int_equal(lm_moo_select(fg, nr, 2, sense, N, cg, fr, dg), LM_OK);
        const int *chosen = log_scale ? cg : cl;
        const double *dist = log_scale ? dg : dl;
        for (int i = 0; i < N; i++) {
            assert_int_equal(t.pop[b + i].trial_id, ids[chosen[i]]);
            double want = dist[chosen[i]], got = t.pop[b + i].crowding;
            assert_true(isinf(want) ? isinf(got) : fabs(got - want) <= 1e-12 * fabs(want));
            if (cl[i] != cg[i] || dl[cl[i]] != dg[cg[i]]) *differs = 1;
        }
    }
    lm_searcher_destroy(&s);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

static void test_nsga2_crowding_scale(void **state) {
    (void)state;
    int differs = 0;
    crowding_scale_case(1, &differs);
    crowding_scale_case(0, &differs);
    assert_true(differs);
}

/* Counts children equal to a member of the last snapshot: with one worker and a
 * snapshot after every ended trial, the population the child was bred from. */
static void count_in_population(const lm_space *sp, const lm_trials *t, const lm_trial *child,
                                uint64_t h, void *ctx) {
    (void)child;
    size_t b, e;
    snapshot_rows(t, t->n_snapshots - 1, &b, &e);
    assert_true(e > b);
    for (size_t k = b; k < e; k++)
        if (arch_hash_of(sp, t->v[t->pop[k].trial_id].hp) == h) {
            ++*(int *)ctx;
            return;
        }
}

/* Children equal to a member of the population they were bred from, in a space of 20
 * networks (1-2 layers, conv or dense, 8 or 16 wide): frequent without dedupe, rare
 * with it. */
static int dedupe_collisions(int dedupe) {
    lm_arch_space as;
    lm_arch_space_default(&as, LM_ARCH_CHAIN);
    as.min_depth = 1;
    as.max_depth = 2;
    as.types = (1u << LM_ARCH_LAYER_CONV) | (1u << LM_ARCH_LAYER_DENSE);
    as.n_kernels = 1;
    as.kernels[0] = 3;
    as.n_widths = 2;
    as.widths[0] = 8;
    as.widths[1] = 16;
    as.n_strides = 1;
    as.strides[0] = 1;
    as.skips = LM_ARCH_SKIP_NONE;
    const char *opt[] = {"population", NULL, "mode", "steady", "snapshot_every", NULL,
                         "dedupe", dedupe ? "true" : "false", NULL};
    double num[] = {8, 0, 1, 0};
    int collisions = 0;
    drive_arch(chain_space(&as), 3, 150, opt, num, count_in_population, &collisions);
    return collisions;
}

static void test_nsga2_dedupe(void **state) {
    (void)state;
    int off = dedupe_collisions(0), on = dedupe_collisions(1);
    print_message("children equal to a population member: %d without dedupe, %d with\n", off,
                  on);
    assert_true(off >= 20);
    assert_true(on * 4 <= off);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sbx),
        cmocka_unit_test(test_polynomial_mutation),
        cmocka_unit_test(test_crowded_tournament),
        cmocka_unit_test(test_zdt),
        cmocka_unit_test(test_nsga2_generational),
        cmocka_unit_test(test_nsga2_steady),
        cmocka_unit_test(test_nsga2_arch_variation),
        cmocka_unit_test(test_nsga2_crowding_scale),
        cmocka_unit_test(test_nsga2_dedupe),
        cmocka_unit_test(test_nsga2_resume),
        cmocka_unit_test(test_nsga2_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
