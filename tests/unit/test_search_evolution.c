/* Evolution: selection operators (tournament frequencies against p(1-p)^i and the
 * exact hypergeometric mixture, fitness-proportional frequencies, youngest, oldest,
 * worst), the hyperparameter genome (mutation, crossover, distance, hash), lineage and
 * population snapshots in the trial table, and the evolution searcher driven by a fake
 * controller: asynchronous (no idle worker), aging, worst-removal, scalarized
 * objectives, determinism and save/load continuity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/moo.h"
#include "lamarck/search.h"
#include "search/evolve.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Chi-square critical values at significance 0.001, by degrees of freedom. */
static double chi2_crit(int dof) {
    static const double c[] = {0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32, 26.12, 27.88};
    assert_true(dof >= 1 && dof <= 9);
    return c[dof];
}

static double chi2(const int *count, const double *prob, int n, int draws) {
    double x = 0;
    for (int i = 0; i < n; i++) {
        double e = prob[i] * draws;
        x += (count[i] - e) * (count[i] - e) / e;
    }
    return x;
}

static void members(lm__member *pop, const double *fit, int n) {
    for (int i = 0; i < n; i++) pop[i] = (lm__member){.id = 100 + i, .age = i, .fitness = fit[i]};
}

/* ---- selection ---- */

static void test_tournament_frequencies(void **state) {
    (void)state;
    lm_rng r;
    lm_rng_init(&r, 1, 0, 0);
    /* k = n = 5: every tournament holds the whole population, so member rank i (0 the
     * fittest) must win with probability p(1-p)^i, the last with (1-p)^4. */
    double fit[] = {0.3, 0.9, 0.1, 0.7, 0.5}; /* ranks: 1 -> 0, 3 -> 1, 4 -> 2, 0 -> 3, 2 -> 4 */
    int rank_of[] = {3, 0, 4, 1, 2};
    lm__member pop[5];
    members(pop, fit, 5);
    const double p = 0.6;
    double prob[5];
    for (int i = 0; i < 5; i++) prob[i] = i < 4 ? p * pow(1 - p, i) : pow(1 - p, 4);
    int count[5] = {0};
    const int draws = 100000;
    for (int d = 0; d < draws; d++) {
        int w = lm__select_tournament(&r, pop, 5, 5, p, -1);
        assert_in_range(w, 0, 4);
        count[rank_of[w]]++;
    }
    double x = chi2(count, prob, 5, draws);
    printf("tournament k=5 p=0.6: chi-square %.2f (4 dof, critical %.2f)\n", x, chi2_crit(4));
    assert_true(x < chi2_crit(4));

    /* p = 1: the deterministic tournament always picks the fittest of the k. */
    for (int d = 0; d < 1000; d++) assert_int_equal(lm__select_tournament(&r, pop, 5, 5, 1, -1), 1);
    /* exclude: never the excluded position, and the best of the rest wins. */
    for (int d = 0; d < 1000; d++) assert_int_equal(lm__select_tournament(&r, pop, 5, 5, 1, 1), 3);
    /* p = 0: always the worst of the k. */
    for (int d = 0; d < 1000; d++) assert_int_equal(lm__select_tournament(&r, pop, 5, 5, 0, -1), 2);
    /* k larger than the population is clipped to it. */
    assert_int_equal(lm__select_tournament(&r, pop, 5, 50, 1, -1), 1);
    lm_error_clear();
    assert_int_equal(lm__select_tournament(&r, pop, 1, 3, 1, 0), LM_EINVAL);
    assert_int_equal(lm__select_tournament(&r, pop, 5, 3, 1.5, -1), LM_EINVAL);
    lm_error_clear();
}

static double choose(int n, int k) {
    if (k < 0 || k > n) return 0;
    double c = 1;
    for (int i = 0; i < k; i++) c = c * (n - i) / (i + 1);
    return c;
}

/* k = 3 of n = 10: the member of population rank r wins when it is drawn with j fitter
 * members (hypergeometric) and then wins at place j: sum_j C(r,j) C(n-1-r, k-1-j) /
 * C(n,k) * q_j, q_j = p(1-p)^j (j < k-1), (1-p)^(k-1) at the last place. This checks
 * both the uniform draw without replacement and the pressure. */
static void test_tournament_hypergeometric(void **state) {
    (void)state;
    lm_rng r;
    lm_rng_init(&r, 2, 0, 0);
    enum { N = 10, K = 3 };
    double fit[N];
    for (int i = 0; i < N; i++) fit[i] = N - i; /* position i has rank i */
    lm__member pop[N];
    members(pop, fit, N);
    const double p = 0.7;
    double prob[N], total = 0;
    for (int rk = 0; rk < N; rk++) {
        prob[rk] = 0;
        for (int j = 0; j < K; j++) {
            double q = j < K - 1 ? p * pow(1 - p, j) : pow(1 - p, K - 1);
            prob[rk] += choose(rk, j) * choose(N - 1 - rk, K - 1 - j) / choose(N, K) * q;
        }
        total += prob[rk];
    }
    assert_true(fabs(total - 1) < 1e-12);
    int count[N] = {0};
    const int draws = 200000;
    for (int d = 0; d < draws; d++) count[lm__select_tournament(&r, pop, N, K, p, -1)]++;
    /* The least likely cell (rank 9: drawn with two fitter, then last) expects
     * 200000 x 36/120 x 0.09 = 5400 draws, so the chi-square approximation holds. */
    double x = chi2(count, prob, N, draws);
    printf("tournament k=3 of 10 p=0.7: chi-square %.2f (9 dof, critical %.2f)\n", x,
           chi2_crit(9));
    assert_true(x < chi2_crit(9));
}

static void test_proportional(void **state) {
    (void)state;
    lm_rng r;
    lm_rng_init(&r, 3, 0, 0);
    double fit[] = {1, 2, 3, 4};
    lm__member pop[4];
    members(pop, fit, 4);
    double prob[4], want[] = {0.1, 0.2, 0.3, 0.4};
    lm__proportional_weights(pop, 4, -1, prob);
    for (int i = 0; i < 4; i++) assert_true(fabs(prob[i] - want[i]) < 1e-12);
    int count[4] = {0};
    const int draws = 100000;
    for (int d = 0; d < draws; d++) count[lm__select_proportional(&r, pop, 4, -1)]++;
    double x = chi2(count, want, 4, draws);
    printf("proportional 1:2:3:4: chi-square %.2f (3 dof, critical %.2f)\n", x, chi2_crit(3));
    assert_true(x < chi2_crit(3));

    /* Excluding position 3 renormalizes over 1, 2, 3. */
    lm__proportional_weights(pop, 4, 3, prob);
    assert_true(fabs(prob[0] - 1.0 / 6) < 1e-12 && prob[3] == 0);
    for (int d = 0; d < 1000; d++) assert_int_not_equal(lm__select_proportional(&r, pop, 4, 3), 3);

    /* Non-positive fitness: f - min + 1% of the range. {-1, 0, 1} -> {0.02, 1.02, 2.02}. */
    double neg[] = {-1, 0, 1};
    members(pop, neg, 3);
    lm__proportional_weights(pop, 3, -1, prob);
    assert_true(fabs(prob[0] - 0.02 / 3.06) < 1e-12);
    assert_true(fabs(prob[1] - 1.02 / 3.06) < 1e-12);
    assert_true(fabs(prob[2] - 2.02 / 3.06) < 1e-12);
    /* All equal and zero: uniform. NaN: no chance, unless all are NaN. */
    double zero[] = {0, 0};
    members(pop, zero, 2);
    lm__proportional_weights(pop, 2, -1, prob);
    assert_true(fabs(prob[0] - 0.5) < 1e-12 && fabs(prob[1] - 0.5) < 1e-12);
    double nan1[] = {NAN, 2, 6};
    members(pop, nan1, 3);
    lm__proportional_weights(pop, 3, -1, prob);
    assert_true(prob[0] == 0 && fabs(prob[1] - 0.25) < 1e-12 && fabs(prob[2] - 0.75) < 1e-12);
    double nan2[] = {NAN, NAN};
    members(pop, nan2, 2);
    lm__proportional_weights(pop, 2, -1, prob);
    assert_true(fabs(prob[0] - 0.5) < 1e-12);
}

static void test_age_rules(void **state) {
    (void)state;
    double fit[] = {0.5, 0.2, 0.9, 0.2, NAN};
    lm__member pop[5];
    members(pop, fit, 5);
    pop[0].age = 7;
    pop[1].age = 3;
    pop[2].age = 9;
    pop[3].age = 1;
    pop[4].age = 5;
    assert_int_equal(lm__select_youngest(pop, 5, -1), 2);
    assert_int_equal(lm__select_youngest(pop, 5, 2), 0);
    assert_int_equal(lm__survivor_oldest(pop, 5), 3);
    /* Worst: NaN first; among numbers the lowest, ties the oldest (1 and 3: 3 is older). */
    assert_int_equal(lm__survivor_worst(pop, 5), 4);
    assert_int_equal(lm__survivor_worst(pop, 4), 3);
    pop[3].age = 8;
    assert_int_equal(lm__survivor_worst(pop, 4), 1);
    /* Tournament ties go to the older member: 1 (age 3) before 3 (age 8). */
    lm_rng r;
    lm_rng_init(&r, 9, 0, 0);
    lm__member two[] = {pop[3], pop[1]};
    assert_int_equal(lm__select_tournament(&r, two, 2, 2, 1, -1), 1);
    lm_error_clear();
    assert_int_equal(lm__survivor_oldest(pop, 0), LM_EINVAL);
    assert_int_equal(lm__select_youngest(pop, 1, 0), LM_EINVAL);
    lm_error_clear();
}

/* ---- the hyperparameter genome ---- */

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

static int same_point(const double *a, const double *b, int n) {
    for (int i = 0; i < n; i++)
        if (!((isnan(a[i]) && isnan(b[i])) || a[i] == b[i])) return 0;
    return 1;
}

static void check_valid(const lm_space *sp, const double *x) {
    double y[LM_HP_MAX];
    int n = lm_space_size(sp);
    memcpy(y, x, (size_t)n * sizeof *y);
    lm_space_repair(sp, y);
    assert_true(same_point(x, y, n)); /* repair changes nothing: x is a valid point */
}

static void test_genome(void **state) {
    (void)state;
    lm_space *sp = make_space();
    lm__genome g;
    lm__genome_hp(sp, &g);
    assert_int_equal(g.n, 5);
    lm_rng r;
    lm_rng_init(&r, 5, 0, 0);
    double a[LM_HP_MAX], b[LM_HP_MAX], c[LM_HP_MAX];
    int per_gene[5] = {0}, activated = 0;
    for (int trial = 0; trial < 2000; trial++) {
        g.ops->sample(g.ctx, &r, a);
        memcpy(c, a, sizeof a);
        uint64_t m = g.ops->mutate(g.ctx, &r, 0.1, 0, c);
        check_valid(sp, c);
        /* Something changed, and the mask says exactly what. */
        assert_true(m != 0);
        for (int i = 0; i < 5; i++) {
            int diff = !same_point(a + i, c + i, 1);
            assert_int_equal(diff, (int)((m >> i) & 1));
            per_gene[i] += diff;
        }
        if (isnan(a[4]) && !isnan(c[4])) activated++;
        assert_true(g.ops->hash(g.ctx, a) != g.ops->hash(g.ctx, c));
        assert_true(g.ops->distance(g.ctx, a, c) > 0);
    }
    /* With rate 1/n (n = 4 or 5 active), each gene mutates often, none always. */
    for (int i = 0; i < 4; i++) assert_in_range(per_gene[i], 300, 1200);
    assert_true(activated > 50); /* step_size switched on by schedule -> step */

    /* rate 1 picks every changeable gene; with sigma 0 floats stay, but an int still
     * moves by one value and a categorical takes another choice. */
    g.ops->sample(g.ctx, &r, a);
    a[3] = 0; /* constant: step_size inactive */
    a[4] = NAN;
    memcpy(c, a, sizeof a);
    uint64_t m = g.ops->mutate(g.ctx, &r, 0, 1, c);
    assert_true(m & 2);                     /* width moved despite sigma 0 */
    assert_true(fabs(c[1] - a[1]) == 1);
    assert_true(m & 8);
    assert_true(c[0] == a[0] && c[2] == a[2]);

    /* Crossover: genes of the child come from one parent or the other, exactly. */
    for (int trial = 0; trial < 500; trial++) {
        g.ops->sample(g.ctx, &r, a);
        g.ops->sample(g.ctx, &r, b);
        g.ops->crossover(g.ctx, &r, trial % 2 ? LM__CROSS_ONE_POINT : LM__CROSS_UNIFORM, a, b, c);
        check_valid(sp, c);
        int cut = -1;
        for (int i = 0; i < 4; i++) {
            assert_true(c[i] == a[i] || c[i] == b[i]);
            if (trial % 2 && c[i] != a[i] && cut < 0) cut = i;
        }
        /* One-point: once a gene differs from a, the rest come from b. */
        if (trial % 2 && cut >= 0)
            for (int i = cut; i < 4; i++) assert_true(c[i] == b[i]);
        /* A conditional child active in the result gets a parent's value when a parent
         * had it, else a prior draw. */
        if (!isnan(c[4])) assert_true(c[4] >= 1 && c[4] <= 5 && c[4] == floor(c[4]));
    }
    /* Distance and hash: equal points, and one inactive vs active entry. */
    g.ops->sample(g.ctx, &r, a);
    memcpy(b, a, sizeof a);
    assert_true(g.ops->distance(g.ctx, a, b) == 0);
    assert_true(g.ops->hash(g.ctx, a) == g.ops->hash(g.ctx, b));
    b[1] = a[1] + 0.2; /* repairs to the same integer */
    if (b[1] <= 256) assert_true(g.ops->hash(g.ctx, a) == g.ops->hash(g.ctx, b));
    double p1[] = {0.01, 64, 0.9, 1, 3}, p2[] = {0.01, 64, 0.9, 0, NAN};
    /* schedule step vs constant: (1/3) on the choice, 1 for step_size active in one. */
    assert_true(fabs(g.ops->distance(g.ctx, p1, p2) - (1.0 / 3 + 1) / 5) < 1e-12);
    lm_space_destroy(&sp);
}

/* ---- a fake controller ---- */

#define MAX_WORKERS 8
#define MAX_TRIALS 512

/* Accuracy peaks at lr 0.03 and grows with width; params grow with width squared. */
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

static lm_searcher *make(const char *name, const lm_space *sp, uint64_t seed, int max_trials,
                         int epochs, const char *const *opt, const double *num) {
    lm_search_params p = {.space = sp, .seed = seed, .max_trials = max_trials, .epochs = epochs};
    const lm_option_spec *specs = lm_searcher_options(name);
    assert_non_null(specs);
    for (int i = 0; opt && opt[i]; i += 2) {
        int rc = lm_options_set(&p.options, specs, opt[i], num ? num[i / 2] : 0, opt[i + 1]);
        if (rc != LM_OK) fail_msg("option %s: %s", opt[i], lm_error_message());
    }
    lm_searcher *s = NULL;
    if (lm_searcher_create(name, &p, &s) != LM_OK)
        fail_msg("create %s: %s", name, lm_error_message());
    return s;
}

/* Options as pairs (name, label) with numbers from num for INT and REAL (label NULL). */
static lm_searcher *make_evo(const lm_space *sp, uint64_t seed, int max_trials,
                             const char *const *opt, const double *num) {
    return make("evolution", sp, seed, max_trials, 2, opt, num);
}

/* ---- the evolution searcher ---- */

/* The members of the population after e ends under aging: the last P trials (in end
 * order) that have a fitness. */
static void expect_aging(const fake *f, const lm_trials *t, int e, int P, int *ids, int *n) {
    *n = 0;
    for (int k = 0; k < e; k++) {
        const lm_trial *tr = &t->v[f->end_order[k]];
        if (tr->status == LM_TRIAL_FAILED) continue;
        if (*n == P) {
            memmove(ids, ids + 1, (size_t)(P - 1) * sizeof *ids);
            (*n)--;
        }
        ids[(*n)++] = tr->id;
    }
}

static void run_async(int P, int W) {
    lm_space *sp = make_space();
    const int n = 80;
    const char *opt[] = {"population", NULL, "sample_size", NULL, "snapshot_every", NULL,
                         "crossover_prob", NULL, NULL};
    double num[] = {P, 3, 5, 0.3};
    lm_searcher *s = make_evo(sp, 42, n, opt, num);
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, lm_space_size(sp)), LM_OK);
    fake f;
    fake_init(&f, W, 11);
    assert_true(fake_run(s, &t, &f, 100000));
    /* Asynchronous: never a WAIT, never an idle worker while trials remained. */
    assert_int_equal(f.waits, 0);
    assert_int_equal(f.idle_while_open, 0);
    assert_int_equal(t.n, n);
    assert_int_equal(f.n_end, n);

    /* Lineage: the first P are sampled; later ones have parents that ended before
     * they were created (ids below theirs), generations one above the first parent. */
    int crossed = 0, extra_sampled = 0;
    for (int i = 0; i < n; i++) {
        const lm_trial *tr = &t.v[i];
        if (i < P) {
            assert_int_equal(tr->origin, LM_ORIGIN_SAMPLED);
            assert_int_equal(tr->parent[0], -1);
            assert_int_equal(tr->generation, 0);
            continue;
        }
        if (tr->origin == LM_ORIGIN_SAMPLED) { /* only while the population was empty */
            extra_sampled++;
            continue;
        }
        assert_in_range(tr->parent[0], 0, i - 1);
        assert_int_not_equal(t.v[tr->parent[0]].status, LM_TRIAL_FAILED);
        assert_int_equal(tr->generation, t.v[tr->parent[0]].generation + 1);
        if (tr->origin == LM_ORIGIN_CROSSED_MUTATED) {
            crossed++;
            assert_in_range(tr->parent[1], 0, i - 1);
            assert_int_not_equal(tr->parent[1], tr->parent[0]);
        } else {
            assert_int_equal(tr->origin, LM_ORIGIN_MUTATED);
            assert_int_equal(tr->parent[1], -1);
            /* The mask says which genes differ from the parent. */
            const double *a = t.v[tr->parent[0]].hp;
            for (int k = 0; k < 5; k++)
                assert_int_equal(!same_point(a + k, tr->hp + k, 1), (int)((tr->mutated >> k) & 1));
            assert_true(tr->mutated != 0);
        }
    }
    assert_true(crossed > 5 && crossed < 50); /* crossover_prob 0.3 of ~70 children */
    /* The first round of W requests finds an empty population: W - P more samples. */
    assert_int_equal(extra_sampled, W > P ? W - P : 0);

    /* Aging: every snapshot holds the last P trials with a fitness, in join order. */
    assert_true(t.n_snapshots >= n / 5);
    int ids[64], m;
    size_t k = 0;
    for (int sn = 0; sn < t.n_snapshots; sn++) {
        size_t b = k;
        while (k < t.n_pop && t.pop[k].snapshot == sn) k++;
        const lm_pop_row *row = &t.pop[b];
        assert_true(row->event % 5 == 0 || sn == t.n_snapshots - 1);
        expect_aging(&f, &t, row->event, P, ids, &m);
        assert_int_equal((int)(k - b), m);
        for (int i = 0; i < m; i++) {
            assert_int_equal(t.pop[b + i].trial_id, ids[i]);
            assert_int_equal(t.pop[b + i].front, -1);
            assert_true(fabs(t.pop[b + i].fitness - t.v[ids[i]].best_val_accuracy) < 1e-15);
            if (i) assert_true(t.pop[b + i].age > t.pop[b + i - 1].age);
        }
    }
    assert_int_equal(t.pop[t.n_pop - 1].event, n); /* the final snapshot */
    lm_searcher_destroy(&s);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

/* P workers for a population of P, and more workers than members (requests arrive
 * while the population is still empty). */
static void test_evolution_async(void **state) {
    (void)state;
    for (int cfg = 0; cfg < 2; cfg++) run_async(cfg ? 3 : 8, 8);
}

static double mean_accuracy(const lm_trials *t, int from, int to) {
    double s = 0;
    int c = 0;
    for (int i = from; i < to; i++)
        if (t->v[i].status == LM_TRIAL_DONE) {
            s += t->v[i].best_val_accuracy;
            c++;
        }
    return c ? s / c : NAN;
}

/* Survivor "worst": the population is always the best P so far; and evolution beats
 * its own random start on this smooth problem. */
static void test_evolution_worst(void **state) {
    (void)state;
    lm_space *sp = make_space();
    const int P = 10, n = 150;
    const char *opt[] = {"population", NULL, "survivor", "worst", "snapshot_every", NULL, NULL};
    double num[] = {P, 0, 1};
    lm_searcher *s = make_evo(sp, 7, n, opt, num);
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, lm_space_size(sp)), LM_OK);
    fake f;
    fake_init(&f, 3, 0);
    assert_true(fake_run(s, &t, &f, 100000));
    size_t first;
    int m;
    lm_trials_last_snapshot(&t, &first, &m);
    assert_int_equal(m, P);
    /* The P best accuracies of all trials are exactly the final population's. */
    double acc[256];
    for (int i = 0; i < n; i++) acc[i] = t.v[i].best_val_accuracy;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++)
            if (acc[b] > acc[a]) {
                double x = acc[a];
                acc[a] = acc[b];
                acc[b] = x;
            }
    double worst_member = INFINITY;
    for (int i = 0; i < m; i++) worst_member = fmin(worst_member, t.pop[first + i].fitness);
    assert_true(worst_member == acc[P - 1]);
    double early = mean_accuracy(&t, 0, 20), late = mean_accuracy(&t, n - 20, n);
    printf("evolution (worst): mean accuracy of the first 20 trials %.4f, last 20 %.4f\n", early,
           late);
    assert_true(late > early + 0.02);
    lm_searcher_destroy(&s);
    lm_trials_fini(&t);
    lm_space_destroy(&sp);
}

/* Scalarized fitness: the MnasNet reward of accuracy and latency, and a weighted
 * product of accuracy and params, as the snapshots record them. */
static void test_evolution_objectives(void **state) {
    (void)state;
    lm_space *sp = make_space();
    const char *mn[] = {"objective", "mnasnet", "cost", "latency", "target", NULL, "beta", NULL,
                        "population", NULL, NULL};
    double mnum[] = {0, 0, 0.01, -0.5, 6};
    const char *wp[] = {"objective", "weighted_product", "w_params", NULL, "population", NULL,
                        "parent_selection", "proportional", NULL};
    double wnum[] = {0, -0.1, 6, 0};
    for (int v = 0; v < 2; v++) {
        lm_searcher *s = v ? make_evo(sp, 3, 30, wp, wnum) : make_evo(sp, 3, 30, mn, mnum);
        lm_trials t;
        assert_int_equal(lm_trials_init(&t, lm_space_size(sp)), LM_OK);
        fake f;
        fake_init(&f, 2, 0);
        assert_true(fake_run(s, &t, &f, 100000));
        assert_true(t.n_pop > 0);
        for (size_t k = 0; k < t.n_pop; k++) {
            const lm_trial *tr = &t.v[t.pop[k].trial_id];
            assert_true(tr->latency > 0 && tr->flops > 0);
            double want = v ? tr->best_val_accuracy * pow((double)tr->params, -0.1)
                            : lm_moo_mnasnet(tr->best_val_accuracy, tr->latency, 0.01, -0.07, -0.5);
            assert_true(fabs(t.pop[k].fitness - want) < 1e-12);
        }
        lm_searcher_destroy(&s);
        lm_trials_fini(&t);
    }
    lm_space_destroy(&sp);
}

static void same_tables(const lm_trials *a, const lm_trials *b) {
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        assert_true(same_point(a->v[i].hp, b->v[i].hp, a->n_hp));
        assert_int_equal(a->v[i].parent[0], b->v[i].parent[0]);
        assert_int_equal(a->v[i].parent[1], b->v[i].parent[1]);
        assert_int_equal(a->v[i].origin, b->v[i].origin);
        assert_true(a->v[i].mutated == b->v[i].mutated);
        assert_int_equal(a->v[i].generation, b->v[i].generation);
        assert_int_equal(a->v[i].status, b->v[i].status);
    }
    assert_int_equal(a->n_snapshots, b->n_snapshots);
    assert_int_equal((int)a->n_pop, (int)b->n_pop);
    for (size_t k = 0; k < a->n_pop; k++) {
        assert_int_equal(a->pop[k].trial_id, b->pop[k].trial_id);
        assert_int_equal(a->pop[k].age, b->pop[k].age);
        assert_int_equal(a->pop[k].event, b->pop[k].event);
    }
}

/* The same seed and schedule give the same run; a run checkpointed halfway and
 * resumed (searcher and table saved, loaded into fresh ones) continues identically. */
static void test_evolution_resume(void **state) {
    (void)state;
    lm_space *sp = make_space();
    const char *opt[] = {"population", NULL, "crossover_prob", NULL, "parent_selection",
                         "tournament", "pressure", NULL, NULL};
    double num[] = {6, 0.5, 0, 0.8};
    const int n = 60;
    lm_searcher *s1 = make_evo(sp, 9, n, opt, num), *s2 = make_evo(sp, 9, n, opt, num);
    lm_trials t1, t2;
    assert_int_equal(lm_trials_init(&t1, lm_space_size(sp)), LM_OK);
    assert_int_equal(lm_trials_init(&t2, lm_space_size(sp)), LM_OK);
    fake f1, f2;
    fake_init(&f1, 3, 7);
    fake_init(&f2, 3, 7);
    assert_false(fake_run(s1, &t1, &f1, 25));
    assert_false(fake_run(s2, &t2, &f2, 25));
    same_tables(&t1, &t2);

    /* Checkpoint run 2, destroy it, and resume into fresh objects. */
    lm_state_mem *m;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    lm_state_reader r = lm_state_mem_reader(m);
    assert_int_equal(lm_searcher_save(s2, &w), LM_OK);
    assert_int_equal(lm_trials_save(&t2, &w, "trials"), LM_OK);
    lm_searcher_destroy(&s2);
    lm_trials_fini(&t2);
    lm_searcher *s3 = make_evo(sp, 9, n, opt, num);
    lm_trials t3;
    assert_int_equal(lm_trials_init(&t3, lm_space_size(sp)), LM_OK);
    assert_int_equal(lm_searcher_load(s3, &r), LM_OK);
    assert_int_equal(lm_trials_load(&t3, &r, "trials"), LM_OK);
    same_tables(&t1, &t3);

    assert_true(fake_run(s1, &t1, &f1, 100000));
    assert_true(fake_run(s3, &t3, &f2, 100000));
    same_tables(&t1, &t3);
    assert_int_equal(t1.n, n);

    /* Another seed gives another run. */
    lm_searcher *s4 = make_evo(sp, 10, n, opt, num);
    lm_trials t4;
    assert_int_equal(lm_trials_init(&t4, lm_space_size(sp)), LM_OK);
    fake f4;
    fake_init(&f4, 3, 7);
    assert_true(fake_run(s4, &t4, &f4, 100000));
    assert_false(same_point(t1.v[n - 1].hp, t4.v[n - 1].hp, t1.n_hp));

    /* Checkpoint errors name the entry. */
    lm_error_clear();
    assert_int_equal(lm_searcher_save(s1, &w), LM_OK);
    lm_searcher *other = make_evo(sp, 11, n, opt, num);
    assert_int_equal(lm_searcher_load(other, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "'searcher/seed' is 9"));
    lm_error_clear();
    assert_int_equal(lm_state_put_i64(&w, "searcher/births", 1000), LM_OK);
    assert_int_equal(lm_searcher_load(s1, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "'searcher/births'"));
    lm_error_clear();
    assert_int_equal(lm_searcher_save(s1, &w), LM_OK);
    int32_t bad_ids[] = {1, -3};
    assert_int_equal(lm_state_put(&w, "searcher/pop_id", LM_DT_I32, 2, bad_ids), LM_OK);
    assert_int_equal(lm_searcher_load(s1, &r), LM_ECKPT);
    lm_error_clear();
    /* A population naming trials the table lacks is refused at the next job. */
    assert_int_equal(lm_searcher_save(s1, &w), LM_OK);
    assert_int_equal(lm_searcher_load(other, &r), LM_ECKPT); /* other seed */
    lm_searcher *fresh = make_evo(sp, 9, n + 10, opt, num);
    assert_int_equal(lm_searcher_load(fresh, &r), LM_OK);
    lm_trials empty;
    assert_int_equal(lm_trials_init(&empty, lm_space_size(sp)), LM_OK);
    lm_job j;
    lm_error_clear();
    assert_int_equal(lm_searcher_next_job(fresh, &empty, &j), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "population names trial"));
    lm_error_clear();

    lm_searcher_destroy(&fresh);
    lm_searcher_destroy(&other);
    lm_searcher_destroy(&s1);
    lm_searcher_destroy(&s3);
    lm_searcher_destroy(&s4);
    lm_trials_fini(&t1);
    lm_trials_fini(&t3);
    lm_trials_fini(&t4);
    lm_trials_fini(&empty);
    lm_state_mem_destroy(&m);
    lm_space_destroy(&sp);
}

/* Lineage columns and snapshots survive lm_trials_save/load; bad rows are refused. */
static void test_trials_lineage(void **state) {
    (void)state;
    lm_trials t, u;
    assert_int_equal(lm_trials_init(&t, 1), LM_OK);
    assert_int_equal(lm_trials_init(&u, 1), LM_OK);
    double x = 0.5;
    int id;
    for (int i = 0; i < 3; i++) assert_int_equal(lm_trials_add(&t, &x, 2, &id), LM_OK);
    assert_int_equal(t.v[0].parent[0], -1);
    assert_true(isnan(t.v[0].flops) && isnan(t.v[0].latency));
    t.v[2].parent[0] = 0;
    t.v[2].parent[1] = 1;
    t.v[2].origin = LM_ORIGIN_CROSSED_MUTATED;
    t.v[2].mutated = (uint64_t)1 << 63 | 5;
    t.v[2].generation = 4;
    lm_report r;
    memset(&r, 0, sizeof r);
    r.trial_id = 1;
    r.epoch = 1;
    r.val_accuracy = 0.5;
    r.flops = 1e6;
    r.latency = 0.002;
    assert_int_equal(lm_trials_record(&t, &r, 1.0), LM_OK);
    assert_true(t.v[1].flops == 1e6 && t.v[1].latency == 0.002);
    r.epoch = 2;
    r.flops = 0; /* not measured this time: the last measurement stays */
    r.latency = NAN;
    assert_int_equal(lm_trials_record(&t, &r, 2.0), LM_OK);
    assert_true(t.v[1].flops == 1e6 && t.v[1].latency == 0.002);
    lm_pop_row rows[] = {
        {.trial_id = 1, .age = 0, .front = 0, .fitness = NAN, .crowding = INFINITY},
        {.trial_id = 2, .age = 1, .front = 1, .fitness = NAN, .crowding = 0.5},
    };
    assert_int_equal(lm_trials_add_snapshot(&t, 7, rows, 2), LM_OK);
    assert_int_equal(lm_trials_add_snapshot(&t, 8, rows, 0), LM_OK); /* empty */
    assert_int_equal(lm_trials_add_snapshot(&t, 9, rows + 1, 1), LM_OK);
    size_t first;
    int n;
    lm_trials_last_snapshot(&t, &first, &n);
    assert_int_equal((int)first, 2);
    assert_int_equal(n, 1);
    assert_int_equal(t.pop[2].snapshot, 2);
    assert_int_equal(t.pop[2].event, 9);
    lm_error_clear();
    lm_pop_row bad = {.trial_id = 3};
    assert_int_equal(lm_trials_add_snapshot(&t, 10, &bad, 1), LM_EINVAL);
    lm_error_clear();
    assert_string_equal(lm_origin_name(LM_ORIGIN_CROSSED), "crossed");

    lm_state_mem *m;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    lm_state_reader rd = lm_state_mem_reader(m);
    assert_int_equal(lm_trials_save(&t, &w, "tr"), LM_OK);
    assert_int_equal(lm_trials_load(&u, &rd, "tr"), LM_OK);
    assert_int_equal(u.v[2].parent[1], 1);
    assert_int_equal(u.v[2].origin, LM_ORIGIN_CROSSED_MUTATED);
    assert_true(u.v[2].mutated == ((uint64_t)1 << 63 | 5));
    assert_int_equal(u.v[2].generation, 4);
    assert_true(u.v[1].latency == 0.002);
    assert_int_equal(u.n_snapshots, 3);
    assert_int_equal((int)u.n_pop, 3);
    assert_true(isinf(u.pop[0].crowding) && u.pop[1].crowding == 0.5);
    assert_int_equal(u.pop[2].event, 9);

    /* Corrupt entries are refused with their names. */
    int32_t par[] = {-1, -1, 9};
    assert_int_equal(lm_state_put(&w, "tr/parent0", LM_DT_I32, 3, par), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_trials_load(&u, &rd, "tr"), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "tr/parent0"));
    assert_int_equal(lm_trials_save(&t, &w, "tr"), LM_OK);
    int32_t snap[] = {0, 2, 1};
    assert_int_equal(lm_state_put(&w, "tr/pop_snapshot", LM_DT_I32, 3, snap), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_trials_load(&u, &rd, "tr"), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "tr/pop_snapshot"));
    assert_int_equal(lm_trials_save(&t, &w, "tr"), LM_OK);
    int32_t pt[] = {1, 2, 5};
    assert_int_equal(lm_state_put(&w, "tr/pop_trial", LM_DT_I32, 3, pt), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_trials_load(&u, &rd, "tr"), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "tr/pop_trial"));
    lm_error_clear();
    lm_state_mem_destroy(&m);
    lm_trials_fini(&t);
    lm_trials_fini(&u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tournament_frequencies),
        cmocka_unit_test(test_tournament_hypergeometric),
        cmocka_unit_test(test_proportional),
        cmocka_unit_test(test_age_rules),
        cmocka_unit_test(test_genome),
        cmocka_unit_test(test_evolution_async),
        cmocka_unit_test(test_evolution_worst),
        cmocka_unit_test(test_evolution_objectives),
        cmocka_unit_test(test_evolution_resume),
        cmocka_unit_test(test_trials_lineage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
