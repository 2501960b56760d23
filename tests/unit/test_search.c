/* Searchers: the registry, random and grid search (determinism, coverage, caps),
 * save/load of a searcher mid-run, and a fake controller (no MPI) that drives a
 * searcher to completion with synthetic reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lr (log float), momentum (float), width (log int), schedule (categorical) and
 * step_size (int, active only when schedule is "step"). */
static lm_space *make_space(void) {
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 0.3, 1), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "momentum", 0.5, 0.99, 0), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "width", 16, 256, 1), LM_OK);
    const char *sched[] = {"constant", "step", "cosine"};
    assert_int_equal(lm_space_add_categorical(sp, "schedule", 3, sched), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "step_size", 1, 5, 0), LM_OK);
    const char *when[] = {"step"};
    assert_int_equal(lm_space_set_condition(sp, "step_size", "schedule", 1, when), LM_OK);
    return sp;
}

/* A grid whose size follows from the contract without doubt: lr on 4 points times
 * (constant + step with step_size 1 or 2 + cosine) = 4 x 4 = 16 points. */
#define SMALL_GRID 16
static lm_space *make_small_space(void) {
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 0.1, 1), LM_OK);
    assert_int_equal(lm_space_set_grid_points(sp, "lr", 4), LM_OK);
    const char *sched[] = {"constant", "step", "cosine"};
    assert_int_equal(lm_space_add_categorical(sp, "schedule", 3, sched), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "step_size", 1, 2, 0), LM_OK);
    const char *when[] = {"step"};
    assert_int_equal(lm_space_set_condition(sp, "step_size", "schedule", 1, when), LM_OK);
    return sp;
}

static int same_point(const double *a, const double *b, int n) {
    for (int i = 0; i < n; i++)
        if (!((isnan(a[i]) && isnan(b[i])) || a[i] == b[i])) return 0;
    return 1;
}

static lm_searcher *make(const char *name, const lm_space *sp, uint64_t seed, int max_trials,
                         int epochs) {
    lm_search_params p = {.space = sp, .seed = seed, .max_trials = max_trials, .epochs = epochs};
    lm_searcher *s = NULL;
    int rc = lm_searcher_create(name, &p, &s);
    if (rc != LM_OK) fail_msg("lm_searcher_create(%s): %s", name, lm_error_message());
    assert_non_null(s);
    assert_string_equal(s->ops->name, name);
    return s;
}

/* Asks for one job and checks it is a new trial of the expected epochs. */
static int next_new(lm_searcher *s, lm_trials *t, int epochs) {
    lm_job j;
    assert_int_equal(lm_searcher_next_job(s, t, &j), LM_OK);
    assert_int_equal(j.kind, LM_JOB_NEW);
    assert_int_equal(j.epochs, epochs);
    assert_int_equal(j.trial_id, t->n - 1);
    assert_int_equal(lm_trials_get(t, j.trial_id)->epochs_target, epochs);
    return j.trial_id;
}

static void expect_done(lm_searcher *s, lm_trials *t) {
    lm_job j;
    int n = t->n;
    assert_int_equal(lm_searcher_next_job(s, t, &j), LM_OK);
    assert_int_equal(j.kind, LM_JOB_DONE);
    assert_int_equal(t->n, n); /* asking when done creates nothing */
}

/* ---- registry ---- */

static void test_registry(void **state) {
    (void)state;
    lm_space *sp = make_small_space();
    int n = 0;
    const char *const *names = lm_searcher_names(&n);
    assert_true(n >= 2);
    for (int i = 0; i < n; i++) {
        lm_searcher *s = make(names[i], sp, 1, 4, 2);
        lm_searcher_destroy(&s);
        assert_null(s);
    }
    lm_searcher_destroy(NULL);

    lm_search_params p = {.space = sp, .seed = 1, .max_trials = 4, .epochs = 2};
    lm_searcher *s = NULL;
    lm_error_clear();
    assert_int_equal(lm_searcher_create("radnom", &p, &s), LM_ECONFIG);
    assert_null(s);
    assert_non_null(strstr(lm_error_message(), "unknown searcher 'radnom'"));
    assert_non_null(strstr(lm_error_message(), "did you mean 'random'"));
    assert_non_null(strstr(lm_error_message(), "random, grid"));
    lm_error_clear();
    assert_int_equal(lm_searcher_create("gird", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "did you mean 'grid'"));
    lm_error_clear();
    assert_int_equal(lm_searcher_create("bayesian_optimization", &p, &s), LM_ECONFIG);
    assert_null(strstr(lm_error_message(), "did you mean"));
    assert_non_null(strstr(lm_error_message(), "known: random, grid"));

    lm_error_clear();
    p.epochs = 0;
    assert_int_equal(lm_searcher_create("random", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "epochs"));
    lm_error_clear();
    p.epochs = 2;
    p.max_trials = 0;
    assert_int_equal(lm_searcher_create("random", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "max_trials"));
    lm_error_clear();
    p.max_trials = -1;
    assert_int_equal(lm_searcher_create("grid", &p, &s), LM_ECONFIG);
    assert_null(s);
    lm_error_clear();
    lm_space_destroy(&sp);
}

/* ---- random ---- */

static void check_in_space(const lm_space *sp, const double *x) {
    for (int i = 0; i < lm_space_size(sp); i++) {
        const lm_hp *h = lm_space_hp(sp, i);
        if (!lm_space_active(sp, x, i)) {
            if (!isnan(x[i])) fail_msg("%s is inactive but %g", h->name, x[i]);
            continue;
        }
        if (h->kind == LM_HP_CATEGORICAL) {
            assert_true(x[i] == floor(x[i]) && x[i] >= 0 && x[i] < h->n_choices);
        } else {
            if (!(x[i] >= h->low && x[i] <= h->high))
                fail_msg("%s = %g outside [%g, %g]", h->name, x[i], h->low, h->high);
            if (h->kind == LM_HP_INT) assert_true(x[i] == floor(x[i]));
        }
    }
}

static void test_random_points(void **state) {
    (void)state;
    lm_space *sp = make_space();
    int n_hp = lm_space_size(sp);
    const int n = 200;
    lm_trials a, b, c;
    assert_int_equal(lm_trials_init(&a, n_hp), LM_OK);
    assert_int_equal(lm_trials_init(&b, n_hp), LM_OK);
    assert_int_equal(lm_trials_init(&c, n_hp), LM_OK);
    lm_searcher *sa = make("random", sp, 42, n, 3);
    lm_searcher *sb = make("random", sp, 42, n, 3);
    lm_searcher *sc = make("random", sp, 43, n, 3);
    for (int k = 0; k < n; k++) {
        assert_int_equal(next_new(sa, &a, 3), k);
        assert_int_equal(next_new(sb, &b, 3), k);
        next_new(sc, &c, 3);
    }
    expect_done(sa, &a);
    expect_done(sa, &a);

    int differ = 0, active_step = 0;
    double lo = 1, hi = 0;
    for (int k = 0; k < n; k++) {
        const double *x = a.v[k].hp;
        check_in_space(sp, x);
        /* Same seed, same points; another seed, other points. */
        assert_true(same_point(x, b.v[k].hp, n_hp));
        differ += !same_point(x, c.v[k].hp, n_hp);
        /* The point is the draw from stream (seed, k, SAMPLE) and nothing else. */
        lm_rng rng;
        double y[LM_HP_MAX];
        lm_rng_init(&rng, 42, (uint64_t)k, LM_STREAM_SAMPLE);
        lm_space_sample(sp, &rng, y);
        assert_true(same_point(x, y, n_hp));
        active_step += !isnan(x[4]);
        if (x[0] < lo) lo = x[0];
        if (x[0] > hi) hi = x[0];
    }
    assert_int_equal(differ, n);
    /* About a third of the points use the step schedule (binomial, 200 x 1/3: sd 6.7). */
    assert_in_range(active_step, 40, 95);
    /* Log-uniform lr over [1e-3, 0.3] reaches both decades' ends. */
    assert_true(lo < 3e-3 && hi > 0.1);

    /* Trial k's point does not depend on what came before it: a table that already
     * holds 5 trials from elsewhere gets trial 5's point from a fresh searcher. */
    lm_trials d;
    assert_int_equal(lm_trials_init(&d, n_hp), LM_OK);
    for (int k = 0; k < 5; k++) {
        double z[LM_HP_MAX] = {0};
        int id;
        assert_int_equal(lm_trials_add(&d, z, 1, &id), LM_OK);
    }
    lm_searcher *sd = make("random", sp, 42, 3, 3);
    for (int k = 5; k < 8; k++) {
        assert_int_equal(next_new(sd, &d, 3), k);
        assert_true(same_point(d.v[k].hp, a.v[k].hp, n_hp));
    }
    expect_done(sd, &d);

    lm_searcher_destroy(&sa);
    lm_searcher_destroy(&sb);
    lm_searcher_destroy(&sc);
    lm_searcher_destroy(&sd);
    lm_trials_fini(&a);
    lm_trials_fini(&b);
    lm_trials_fini(&c);
    lm_trials_fini(&d);
    lm_space_destroy(&sp);
}

/* ---- grid ---- */

static void run_grid(const lm_space *sp, int max_trials, int expect) {
    int n_hp = lm_space_size(sp);
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, n_hp), LM_OK);
    lm_searcher *s = make("grid", sp, 7, max_trials, 2);
    for (int k = 0; k < expect; k++) assert_int_equal(next_new(s, &t, 2), k);
    expect_done(s, &t);
    assert_int_equal(t.n, expect);
    for (int k = 0; k < expect; k++) {
        double y[LM_HP_MAX];
        assert_int_equal(lm_space_grid_point(sp, k, y), LM_OK);
        assert_true(same_point(t.v[k].hp, y, n_hp)); /* in lm_space_grid_point order */
        check_in_space(sp, t.v[k].hp);
        for (int j = 0; j < k; j++) assert_false(same_point(t.v[k].hp, t.v[j].hp, n_hp));
    }
    lm_searcher_destroy(&s);
    lm_trials_fini(&t);
}

static void test_grid(void **state) {
    (void)state;
    lm_space *sp = make_small_space();
    assert_int_equal(lm_space_grid_count(sp), SMALL_GRID);
    run_grid(sp, 0, SMALL_GRID);            /* the whole grid, every point once */
    run_grid(sp, 5, 5);                     /* capped */
    run_grid(sp, SMALL_GRID + 10, SMALL_GRID); /* a cap above the grid changes nothing */

    /* Every (lr, schedule, step_size) combination appears exactly once. */
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 3), LM_OK);
    lm_searcher *s = make("grid", sp, 0, 0, 1);
    for (int k = 0; k < SMALL_GRID; k++) next_new(s, &t, 1);
    int seen[4][4] = {{0}};
    double lrs[4];
    int n_lr = 0;
    for (int k = 0; k < SMALL_GRID; k++) {
        const double *x = t.v[k].hp;
        int li = -1;
        for (int j = 0; j < n_lr; j++)
            if (lrs[j] == x[0]) li = j;
        if (li < 0) {
            assert_true(n_lr < 4);
            lrs[n_lr] = x[0];
            li = n_lr++;
        }
        int branch = x[1] == 0 ? 0 : x[1] == 2 ? 3 : (int)x[2]; /* step: 1 or 2 */
        assert_true(x[1] == 1 ? !isnan(x[2]) : isnan(x[2]));
        seen[li][branch]++;
    }
    assert_int_equal(n_lr, 4);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) assert_int_equal(seen[i][j], 1);
    lm_searcher_destroy(&s);
    lm_trials_fini(&t);

    lm_space *big = make_space();
    long count = lm_space_grid_count(big);
    assert_true(count > SMALL_GRID);
    run_grid(big, 0, (int)count);
    lm_space_destroy(&big);
    lm_space_destroy(&sp);
}

/* ---- save / load ---- */

/* Runs name for 3 jobs, checkpoints searcher and table, then checks that a fresh
 * searcher loaded from the checkpoint issues the same remaining jobs as the original. */
static void resume_identically(const char *name, const lm_space *sp, int max_trials) {
    int n_hp = lm_space_size(sp);
    lm_trials t1, t2;
    assert_int_equal(lm_trials_init(&t1, n_hp), LM_OK);
    assert_int_equal(lm_trials_init(&t2, n_hp), LM_OK);
    lm_searcher *s1 = make(name, sp, 2024, max_trials, 4);
    for (int k = 0; k < 3; k++) next_new(s1, &t1, 4);

    lm_state_mem *m;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    lm_state_reader r = lm_state_mem_reader(m);
    assert_int_equal(lm_searcher_save(s1, &w), LM_OK);
    assert_int_equal(lm_trials_save(&t1, &w, "trials"), LM_OK);

    lm_searcher *s2 = make(name, sp, 2024, max_trials, 4);
    assert_int_equal(lm_searcher_load(s2, &r), LM_OK);
    assert_int_equal(lm_trials_load(&t2, &r, "trials"), LM_OK);
    int issued = 3;
    for (;;) {
        lm_job j1, j2;
        assert_int_equal(lm_searcher_next_job(s1, &t1, &j1), LM_OK);
        assert_int_equal(lm_searcher_next_job(s2, &t2, &j2), LM_OK);
        assert_int_equal(j1.kind, j2.kind);
        if (j1.kind == LM_JOB_DONE) break;
        assert_int_equal(j1.trial_id, j2.trial_id);
        assert_int_equal(j1.epochs, j2.epochs);
        assert_true(same_point(t1.v[j1.trial_id].hp, t2.v[j2.trial_id].hp, n_hp));
        issued++;
    }
    assert_int_equal(issued, max_trials);
    assert_int_equal(t1.n, t2.n);

    lm_searcher_destroy(&s1);
    lm_searcher_destroy(&s2);
    lm_trials_fini(&t1);
    lm_trials_fini(&t2);
    lm_state_mem_destroy(&m);
}

static void test_resume(void **state) {
    (void)state;
    lm_space *sp = make_space();
    lm_space *small = make_small_space();
    resume_identically("random", sp, 10);
    resume_identically("grid", small, 9);
    resume_identically("grid", sp, 12);
    lm_space_destroy(&small);
    lm_space_destroy(&sp);
}

static void expect_load_error(lm_searcher *s, lm_state_reader *r, const char *needle) {
    lm_error_clear();
    assert_int_equal(lm_searcher_load(s, r), LM_ECKPT);
    if (!strstr(lm_error_message(), needle))
        fail_msg("message '%s' lacks '%s'", lm_error_message(), needle);
    lm_error_clear();
}

static void test_load_errors(void **state) {
    (void)state;
    lm_space *sp = make_space();
    lm_space *small = make_small_space();
    lm_state_mem *m;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    lm_state_reader r = lm_state_mem_reader(m);

    lm_searcher *rnd = make("random", sp, 5, 10, 1);
    lm_searcher *grid = make("grid", sp, 5, 0, 1);
    lm_searcher *other_seed = make("random", sp, 6, 10, 1);
    lm_searcher *other_space = make("random", small, 5, 10, 1);
    lm_searcher *other_grid = make("grid", small, 5, 0, 1);

    expect_load_error(rnd, &r, "'searcher/kind' is missing");
    assert_int_equal(lm_searcher_save(rnd, &w), LM_OK);
    expect_load_error(grid, &r, "'searcher/kind' is 'random', but this run's searcher is 'grid'");
    expect_load_error(other_seed, &r, "'searcher/seed' is 5, but this run's seed is 6");
    expect_load_error(other_space, &r, "'searcher/n_hp' is 5 hyperparameters, but the space has 3");
    assert_int_equal(lm_state_put_i64(&w, "searcher/issued", -4), LM_OK);
    expect_load_error(rnd, &r, "'searcher/issued' is -4");

    assert_int_equal(lm_searcher_save(grid, &w), LM_OK);
    assert_int_equal(lm_state_put_i64(&w, "searcher/n_hp", 3), LM_OK);
    expect_load_error(other_grid, &r, "'searcher/grid_count'");
    assert_int_equal(lm_searcher_save(grid, &w), LM_OK);
    assert_int_equal(lm_state_put_i64(&w, "searcher/next", lm_space_grid_count(sp) + 1), LM_OK);
    expect_load_error(grid, &r, "'searcher/next'");

    /* A table for another space is refused by next_job. */
    lm_trials t;
    lm_job j;
    assert_int_equal(lm_trials_init(&t, 2), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_searcher_next_job(rnd, &t, &j), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "the space has 5"));
    lm_error_clear();
    lm_trials_fini(&t);

    lm_searcher_destroy(&rnd);
    lm_searcher_destroy(&grid);
    lm_searcher_destroy(&other_seed);
    lm_searcher_destroy(&other_space);
    lm_searcher_destroy(&other_grid);
    lm_state_mem_destroy(&m);
    lm_space_destroy(&small);
    lm_space_destroy(&sp);
}

/* ---- a fake controller ---- */

/* A deterministic stand-in for training: accuracy rises with the epoch and is best
 * for lr near 0.03. */
static double fake_accuracy(const double *x, int epoch) {
    double d = log10(x[0]) - log10(0.03);
    return (0.9 - 0.1 * d * d) * (1 - 0.5 / epoch);
}

#define MAX_WORKERS 8

/* Drives s with n_workers simulated workers until it is done and every trial ended.
 * Each round, free workers ask for jobs, then busy workers report one epoch each in
 * a rotating order (so trials finish out of creation order). Trials whose id is in
 * fail_id fail in epoch 2. Returns the number of rounds. */
static int fake_controller(lm_searcher *s, lm_trials *t, int n_workers, int fail_id) {
    int busy[MAX_WORKERS];
    for (int w = 0; w < n_workers; w++) busy[w] = -1;
    int done = 0, rounds = 0;
    for (;;) {
        for (int w = 0; w < n_workers && !done; w++) {
            if (busy[w] >= 0) continue;
            lm_job j;
            assert_int_equal(lm_searcher_next_job(s, t, &j), LM_OK);
            if (j.kind == LM_JOB_DONE) {
                done = 1;
                break;
            }
            assert_int_equal(j.kind, LM_JOB_NEW);
            lm_trial *tr = lm_trials_get(t, j.trial_id);
            assert_non_null(tr);
            assert_int_equal(tr->status, LM_TRIAL_PENDING);
            tr->status = LM_TRIAL_RUNNING;
            tr->worker = w + 1;
            tr->t_start = rounds;
            busy[w] = j.trial_id;
        }
        int any = 0;
        for (int i = 0; i < n_workers; i++) {
            int w = (i + rounds) % n_workers;
            if (busy[w] < 0) continue;
            any = 1;
            lm_trial *tr = lm_trials_get(t, busy[w]);
            lm_report r;
            memset(&r, 0, sizeof r);
            r.trial_id = tr->id;
            r.epoch = tr->epochs + 1;
            r.val_accuracy = fake_accuracy(tr->hp, r.epoch);
            r.train_accuracy = r.val_accuracy + 0.02;
            r.val_loss = 1 - r.val_accuracy;
            r.train_loss = 1 - r.train_accuracy;
            r.seconds = 0.25;
            r.lr = tr->hp[0];
            r.params = 1234;
            if (tr->id == fail_id && r.epoch == 2) {
                r.failed = 1;
                r.val_accuracy = NAN;
                snprintf(r.reason, sizeof r.reason, "loss became NaN");
            }
            assert_int_equal(lm_trials_record(t, &r, rounds + 0.5), LM_OK);
            lm_decision d = lm_searcher_on_report(s, t, &r);
            assert_int_equal(d.kind, LM_DECIDE_CONTINUE);
            if (tr->status == LM_TRIAL_DONE || tr->status == LM_TRIAL_FAILED) {
                lm_searcher_on_end(s, t, tr->id);
                busy[w] = -1;
            }
        }
        rounds++;
        assert_true(rounds < 10000);
        if (done && !any) break;
    }
    return rounds;
}

static void check_final_table(const lm_trials *t, int n, int epochs, int fail_id) {
    assert_int_equal(t->n, n);
    assert_int_equal(lm_trials_count(t, LM_TRIAL_DONE), n - 1);
    assert_int_equal(lm_trials_count(t, LM_TRIAL_FAILED), 1);
    assert_int_equal(lm_trials_count(t, LM_TRIAL_RUNNING) + lm_trials_count(t, LM_TRIAL_PENDING),
                     0);
    assert_int_equal((int)t->n_curves, (n - 1) * epochs + 1);
    int best = -1;
    for (int i = 0; i < n; i++) {
        const lm_trial *tr = &t->v[i];
        if (i == fail_id) {
            assert_int_equal(tr->status, LM_TRIAL_FAILED);
            assert_int_equal(tr->epochs, 1);
            assert_string_equal(tr->reason, "loss became NaN");
            continue;
        }
        assert_int_equal(tr->status, LM_TRIAL_DONE);
        assert_int_equal(tr->epochs, epochs);
        assert_in_range(tr->worker, 1, MAX_WORKERS);
        assert_true(fabs(tr->train_seconds - 0.25 * epochs) < 1e-12);
        assert_true(fabs(tr->best_val_accuracy - fake_accuracy(tr->hp, epochs)) < 1e-12);
        if (best < 0 || tr->best_val_accuracy > t->v[best].best_val_accuracy) best = i;
        /* This trial's curve rows: epochs 1..E in order, with the reported accuracies. */
        int next = 1;
        for (size_t k = 0; k < t->n_curves; k++) {
            if (t->curves[k].trial_id != i) continue;
            assert_int_equal(t->curves[k].epoch, next);
            assert_true(fabs(t->curves[k].val_accuracy - fake_accuracy(tr->hp, next)) < 1e-12);
            next++;
        }
        assert_int_equal(next, epochs + 1);
    }
    assert_int_equal(lm_trials_best(t), best);
}

static void test_fake_controller(void **state) {
    (void)state;
    lm_space *sp = make_space();
    int n_hp = lm_space_size(sp);
    const int n = 11, epochs = 3, fail_id = 4;
    lm_trials t1, t4;
    assert_int_equal(lm_trials_init(&t1, n_hp), LM_OK);
    assert_int_equal(lm_trials_init(&t4, n_hp), LM_OK);
    lm_searcher *s1 = make("random", sp, 99, n, epochs);
    lm_searcher *s4 = make("random", sp, 99, n, epochs);
    int r1 = fake_controller(s1, &t1, 1, fail_id);
    int r4 = fake_controller(s4, &t4, 4, fail_id);
    assert_true(r4 < r1); /* four workers really ran trials side by side */
    check_final_table(&t1, n, epochs, fail_id);
    check_final_table(&t4, n, epochs, fail_id);
    /* The points do not depend on the number of workers. */
    for (int k = 0; k < n; k++) assert_true(same_point(t1.v[k].hp, t4.v[k].hp, n_hp));
    /* With several workers, curve rows of different trials interleave. */
    int interleaved = 0;
    for (size_t k = 1; k < t4.n_curves; k++)
        interleaved += t4.curves[k].trial_id != t4.curves[k - 1].trial_id;
    assert_true(interleaved > n);
    lm_searcher_destroy(&s1);
    lm_searcher_destroy(&s4);
    lm_trials_fini(&t1);
    lm_trials_fini(&t4);

    lm_space *small = make_small_space();
    lm_trials tg;
    assert_int_equal(lm_trials_init(&tg, lm_space_size(small)), LM_OK);
    lm_searcher *g = make("grid", small, 0, 0, 2);
    fake_controller(g, &tg, 3, 0);
    check_final_table(&tg, SMALL_GRID, 2, 0);
    lm_searcher_destroy(&g);
    lm_trials_fini(&tg);
    lm_space_destroy(&small);
    lm_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_random_points),
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_fake_controller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
