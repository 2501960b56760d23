/* The bo searcher: its options, random initial trials, distinct proposals for
 * concurrent workers (fantasies), failed trials, a fake controller on a synthetic
 * objective where it beats random search, determinism, and save/load continuity.
 * And bohb, Hyperband with model-proposed configurations: the same schedule as
 * hyperband, better points, save/load continuity. */
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

#define CHECK_OK(expr)                                                                       \
    do {                                                                                     \
        int rc_ = (expr);                                                                    \
        if (rc_ != LM_OK) fail_msg("%s: %s (%s)", #expr, lm_strerror(rc_), lm_error_message()); \
    } while (0)

/* lr (log float), momentum (float), width (int), act (categorical), and dropout
 * (float, active only for act = tanh). */
static lm_space *make_space(void) {
    lm_space *sp;
    CHECK_OK(lm_space_create(&sp));
    CHECK_OK(lm_space_add_float(sp, "lr", 1e-3, 1.0, 1));
    CHECK_OK(lm_space_add_float(sp, "momentum", 0.0, 1.0, 0));
    CHECK_OK(lm_space_add_int(sp, "width", 8, 64, 0));
    const char *act[] = {"relu", "tanh", "sigmoid"};
    CHECK_OK(lm_space_add_categorical(sp, "act", 3, act));
    CHECK_OK(lm_space_add_float(sp, "dropout", 0.0, 0.5, 0));
    const char *when[] = {"tanh"};
    CHECK_OK(lm_space_set_condition(sp, "dropout", "act", 1, when));
    return sp;
}

/* The synthetic final accuracy: 0.95 at lr = 10^-1.5, momentum 0.8, width 40, relu. */
static double objective(const double *x) {
    double a = log10(x[0]) + 1.5, m = x[1] - 0.8, w = (x[2] - 40) / 32;
    double v = 0.95 - 0.08 * a * a - 0.3 * m * m - 0.05 * w * w;
    if ((int)x[3] != 0) v -= 0.1;
    if ((int)x[3] == 1) v -= 0.2 * x[4] * x[4];
    return v;
}

static lm_searcher *make(const char *name, const lm_space *sp, uint64_t seed, int max_trials,
                         int initial, const char *fantasy) {
    lm_search_params p = {.space = sp, .seed = seed, .max_trials = max_trials, .epochs = 2};
    if (!strcmp(name, "bo")) {
        const lm_option_spec *spec = lm_searcher_options("bo");
        CHECK_OK(lm_options_set(&p.options, spec, "initial", initial, NULL));
        CHECK_OK(lm_options_set(&p.options, spec, "candidates", 300, NULL));
        CHECK_OK(lm_options_set(&p.options, spec, "restarts", 1, NULL));
        if (fantasy) CHECK_OK(lm_options_set(&p.options, spec, "fantasy", 0, fantasy));
    }
    lm_searcher *s = NULL;
    CHECK_OK(lm_searcher_create(name, &p, &s));
    return s;
}

/* ---- a fake controller, one round at a time ---- */

#define MAX_WORKERS 4

typedef struct sim {
    int n_workers;
    int busy[MAX_WORKERS];
    int rounds, done;
    int fail_id;    /* this trial fails in epoch 1 (-1: none) */
} sim;

static void sim_init(sim *m, int n_workers, int fail_id) {
    memset(m, 0, sizeof *m);
    m->n_workers = n_workers;
    m->fail_id = fail_id;
    for (int w = 0; w < MAX_WORKERS; w++) m->busy[w] = -1;
}

/* Free workers ask for jobs; then busy workers report one epoch each, in an order
 * that rotates with the round, so trials end out of creation order. Returns 0 when
 * the searcher is done and nothing runs. */
static int sim_round(sim *m, lm_searcher *s, lm_trials *t) {
    for (int w = 0; w < m->n_workers && !m->done; w++) {
        if (m->busy[w] >= 0) continue;
        lm_job j;
        CHECK_OK(lm_searcher_next_job(s, t, &j));
        if (j.kind == LM_JOB_DONE) {
            m->done = 1;
            break;
        }
        assert_int_equal(j.kind, LM_JOB_NEW);
        assert_int_equal(j.epochs, 2);
        lm_trial *tr = lm_trials_get(t, j.trial_id);
        assert_non_null(tr);
        tr->status = LM_TRIAL_RUNNING;
        tr->worker = w + 1;
        m->busy[w] = j.trial_id;
    }
    int any = 0;
    for (int i = 0; i < m->n_workers; i++) {
        int w = (i + m->rounds) % m->n_workers;
        if (m->busy[w] < 0) continue;
        any = 1;
        lm_trial *tr = lm_trials_get(t, m->busy[w]);
        lm_report r;
        memset(&r, 0, sizeof r);
        r.trial_id = tr->id;
        r.epoch = tr->epochs + 1;
        r.val_accuracy = objective(tr->hp) - (r.epoch == 1 ? 0.1 : 0.0);
        r.val_loss = 1 - r.val_accuracy;
        r.seconds = 1;
        if (tr->id == m->fail_id) {
            r.failed = 1;
            snprintf(r.reason, sizeof r.reason, "diverged");
        }
        CHECK_OK(lm_trials_record(t, &r, m->rounds));
        assert_int_equal(lm_searcher_on_report(s, t, &r).kind, LM_DECIDE_CONTINUE);
        if (tr->status == LM_TRIAL_DONE || tr->status == LM_TRIAL_FAILED) {
            lm_searcher_on_end(s, t, tr->id);
            m->busy[w] = -1;
        }
    }
    m->rounds++;
    assert_true(m->rounds < 10000);
    return !(m->done && !any);
}

static double best_of(const lm_trials *t) {
    double best = -INFINITY;
    for (int i = 0; i < t->n; i++)
        if (t->v[i].status == LM_TRIAL_DONE && t->v[i].final_val_accuracy > best)
            best = t->v[i].final_val_accuracy;
    return best;
}

static double unit_distance(const lm_space *sp, const double *a, const double *b) {
    double ua[16], ub[16], d = 0;
    lm_space_to_unit(sp, a, ua);
    lm_space_to_unit(sp, b, ub);
    for (int i = 0; i < lm_space_size(sp); i++) d = fmax(d, fabs(ua[i] - ub[i]));
    return d;
}

/* ---- tests ---- */

static void test_options(void **state) {
    (void)state;
    const lm_option_spec *spec = lm_searcher_options("bo");
    assert_non_null(spec);
    const char *want[] = {"initial", "acquisition", "xi", "kappa", "kernel", "fantasy",
                          "restarts", "candidates"};
    for (int i = 0; i < 8; i++) {
        int found = 0;
        for (const lm_option_spec *o = spec; o->name; o++) found |= !strcmp(o->name, want[i]);
        if (!found) fail_msg("bo has no option '%s'", want[i]);
    }
    lm_options o = {0};
    assert_int_equal(lm_options_set(&o, spec, "acquisition", 0, "ucb"), LM_OK);
    assert_true(lm_options_get(&o, spec, "acquisition") == 2);
    assert_int_equal(lm_options_set(&o, spec, "acquisition", 0, "thompson"), LM_ERANGE);
    assert_int_equal(lm_options_set(&o, spec, "kernel", 0, "periodic"), LM_ERANGE);
    assert_int_equal(lm_options_set(&o, spec, "initial", 0, NULL), LM_ERANGE);
    lm_error_clear();
    assert_int_equal(lm_options_set(&o, spec, "canidates", 10, NULL), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "candidates"));
    lm_error_clear();
    assert_true(lm_options_get(&o, spec, "initial") == 10);
    assert_true(lm_options_get(&o, spec, "xi") == 0.01);
    /* An empty space is refused. */
    lm_space *empty;
    CHECK_OK(lm_space_create(&empty));
    lm_search_params p = {.space = empty, .seed = 1, .max_trials = 5, .epochs = 1};
    lm_searcher *s = NULL;
    assert_int_equal(lm_searcher_create("bo", &p, &s), LM_ECONFIG);
    assert_null(s);
    lm_error_clear();
    lm_space_destroy(&empty);
}

/* The initial trials are random search's points for the same seed. */
static void test_initial_random(void **state) {
    (void)state;
    lm_space *sp = make_space();
    int n_hp = lm_space_size(sp);
    lm_trials tb, tr;
    CHECK_OK(lm_trials_init(&tb, n_hp));
    CHECK_OK(lm_trials_init(&tr, n_hp));
    lm_searcher *bo = make("bo", sp, 17, 30, 5, NULL);
    lm_searcher *rnd = make("random", sp, 17, 30, 0, NULL);
    for (int k = 0; k < 5; k++) {
        lm_job j;
        CHECK_OK(lm_searcher_next_job(bo, &tb, &j));
        CHECK_OK(lm_searcher_next_job(rnd, &tr, &j));
        for (int i = 0; i < n_hp; i++)
            assert_true(memcmp(&tb.v[k].hp[i], &tr.v[k].hp[i], sizeof(double)) == 0);
    }
    /* No finished trial yet: a sixth point is still random (no model without data). */
    lm_job j;
    CHECK_OK(lm_searcher_next_job(bo, &tb, &j));
    CHECK_OK(lm_searcher_next_job(rnd, &tr, &j));
    assert_true(unit_distance(sp, tb.v[5].hp, tr.v[5].hp) == 0);
    lm_searcher_destroy(&bo);
    lm_searcher_destroy(&rnd);
    lm_trials_fini(&tb);
    lm_trials_fini(&tr);
    lm_space_destroy(&sp);
}

/* After 6 finished trials, 4 workers asking at once get 4 different points, with
 * either kind of fantasy; each is a valid point of the space. */
static void test_fantasies_distinct(void **state) {
    (void)state;
    lm_space *sp = make_space();
    int n_hp = lm_space_size(sp);
    const char *kinds[] = {"believer", "liar"};
    for (int f = 0; f < 2; f++) {
        lm_trials t;
        CHECK_OK(lm_trials_init(&t, n_hp));
        lm_searcher *s = make("bo", sp, 3, 30, 6, kinds[f]);
        sim m;
        sim_init(&m, 1, -1);
        while (lm_trials_count(&t, LM_TRIAL_DONE) < 6) sim_round(&m, s, &t);
        assert_int_equal(t.n, 6);
        for (int k = 0; k < 4; k++) {
            lm_job j;
            CHECK_OK(lm_searcher_next_job(s, &t, &j));
            assert_int_equal(j.kind, LM_JOB_NEW);
        }
        for (int a = 6; a < 10; a++) {
            double x[8];
            memcpy(x, t.v[a].hp, (size_t)n_hp * sizeof *x);
            lm_space_repair(sp, x);
            for (int i = 0; i < n_hp; i++)
                assert_true((isnan(x[i]) && isnan(t.v[a].hp[i])) || x[i] == t.v[a].hp[i]);
            for (int b = 6; b < a; b++)
                if (unit_distance(sp, t.v[a].hp, t.v[b].hp) < 1e-3)
                    fail_msg("%s: proposals %d and %d coincide", kinds[f], a, b);
        }
        lm_searcher_destroy(&s);
        lm_trials_fini(&t);
    }
    lm_space_destroy(&sp);
}

/* An accuracy that rises to a corner of the space (lr and momentum at their highest):
 * the believer's predicted mean there is above every observation. After 6 finished
 * trials, 4 workers asking at once still get 4 different points, over 5 seeds: the
 * fantasies raise the incumbent, so EI at a running trial's point is spent. */
static void test_fantasy_above_best(void **state) {
    (void)state;
    lm_space *sp;
    CHECK_OK(lm_space_create(&sp));
    CHECK_OK(lm_space_add_float(sp, "lr", 1e-3, 0.3, 1));
    CHECK_OK(lm_space_add_float(sp, "momentum", 0.0, 0.95, 0));
    for (uint64_t seed = 1; seed <= 5; seed++) {
        lm_trials t;
        CHECK_OK(lm_trials_init(&t, 2));
        lm_searcher *s = make("bo", sp, seed, 30, 6, NULL);
        for (int k = 0; k < 10; k++) {
            lm_job j;
            CHECK_OK(lm_searcher_next_job(s, &t, &j));
            assert_int_equal(j.kind, LM_JOB_NEW);
            if (k >= 6) continue;  /* the last 4 stay pending */
            double u[2];
            lm_space_to_unit(sp, t.v[k].hp, u);
            for (int e = 1; e <= 2; e++) {
                lm_report r;
                memset(&r, 0, sizeof r);
                r.trial_id = k;
                r.epoch = e;
                r.val_accuracy = 0.5 + 0.2 * u[0] + 0.2 * u[1];
                r.seconds = 1;
                CHECK_OK(lm_trials_record(&t, &r, k));
            }
            lm_searcher_on_end(s, &t, k);
        }
        for (int a = 6; a < 10; a++)
            for (int b = 6; b < a; b++)
                if (unit_distance(sp, t.v[a].hp, t.v[b].hp) < 1e-3)
                    fail_msg("seed %d: proposals %d and %d coincide", (int)seed, a, b);
        lm_searcher_destroy(&s);
        lm_trials_fini(&t);
    }
    lm_space_destroy(&sp);
}

/* 30 trials on 2 workers, 6 of them random: over 10 seeds bo's best accuracy beats
 * random search's on average, and it gets close to the optimum (0.95). A trial that
 * fails is tolerated (counted at the worst accuracy). */
static void test_beats_random(void **state) {
    (void)state;
    lm_space *sp = make_space();
    int n_hp = lm_space_size(sp);
    double sum_bo = 0, sum_rnd = 0;
    const int seeds = 10;
    for (int seed = 1; seed <= seeds; seed++) {
        double best[2];
        for (int algo = 0; algo < 2; algo++) {
            lm_trials t;
            CHECK_OK(lm_trials_init(&t, n_hp));
            lm_searcher *s = make(algo ? "random" : "bo", sp, (uint64_t)seed, 30, 6, NULL);
            sim m;
            sim_init(&m, 2, 3);
            while (sim_round(&m, s, &t)) {
            }
            assert_int_equal(t.n, 30);
            assert_int_equal(lm_trials_count(&t, LM_TRIAL_FAILED), 1);
            assert_int_equal(lm_trials_count(&t, LM_TRIAL_DONE), 29);
            best[algo] = best_of(&t);
            lm_searcher_destroy(&s);
            lm_trials_fini(&t);
        }
        sum_bo += best[0];
        sum_rnd += best[1];
        print_message("seed %d: bo best %.4f, random best %.4f\n", seed, best[0], best[1]);
    }
    assert_true(sum_bo / seeds > sum_rnd / seeds + 0.01);
    assert_true(sum_bo / seeds > 0.93);
    lm_space_destroy(&sp);
}

/* Same seed, same reports: the same points, bit for bit. */
static void test_deterministic(void **state) {
    (void)state;
    lm_space *sp = make_space();
    int n_hp = lm_space_size(sp);
    lm_trials t1, t2;
    CHECK_OK(lm_trials_init(&t1, n_hp));
    CHECK_OK(lm_trials_init(&t2, n_hp));
    lm_searcher *a = make("bo", sp, 8, 14, 4, NULL), *b = make("bo", sp, 8, 14, 4, NULL);
    sim m1, m2;
    sim_init(&m1, 3, -1);
    sim_init(&m2, 3, -1);
    while (sim_round(&m1, a, &t1)) {
    }
    while (sim_round(&m2, b, &t2)) {
    }
    assert_int_equal(t1.n, t2.n);
    for (int k = 0; k < t1.n; k++)
        assert_true(memcmp(t1.v[k].hp, t2.v[k].hp, (size_t)n_hp * sizeof(double)) == 0);
    lm_searcher_destroy(&a);
    lm_searcher_destroy(&b);
    lm_trials_fini(&t1);
    lm_trials_fini(&t2);
    lm_space_destroy(&sp);
}

/* Saved mid-run (trials running, a fit done), loaded into a new searcher and table,
 * and continued with the same reports: the same points as the run that went on. */
static void test_save_load(void **state) {
    (void)state;
    lm_space *sp = make_space();
    int n_hp = lm_space_size(sp);
    lm_trials t1, t2;
    CHECK_OK(lm_trials_init(&t1, n_hp));
    CHECK_OK(lm_trials_init(&t2, n_hp));
    lm_searcher *a = make("bo", sp, 21, 18, 5, NULL);
    sim m1;
    sim_init(&m1, 3, -1);
    while (t1.n < 11) sim_round(&m1, a, &t1);
    lm_state_mem *mem;
    CHECK_OK(lm_state_mem_create(&mem));
    lm_state_writer w = lm_state_mem_writer(mem);
    lm_state_reader r = lm_state_mem_reader(mem);
    CHECK_OK(lm_searcher_save(a, &w));
    CHECK_OK(lm_trials_save(&t1, &w, "trials"));
    lm_searcher *b = make("bo", sp, 21, 18, 5, NULL);
    CHECK_OK(lm_trials_load(&t2, &r, "trials"));
    CHECK_OK(lm_searcher_load(b, &r));
    sim m2 = m1;
    while (sim_round(&m1, a, &t1)) {
    }
    while (sim_round(&m2, b, &t2)) {
    }
    assert_int_equal(t1.n, 18);
    assert_int_equal(t2.n, 18);
    for (int k = 0; k < t1.n; k++)
        if (memcmp(t1.v[k].hp, t2.v[k].hp, (size_t)n_hp * sizeof(double)) != 0)
            fail_msg("trial %d differs after resuming", k);

    /* Errors: another seed, another kernel, a truncated or non-finite theta. */
    lm_search_params p = {.space = sp, .seed = 21, .max_trials = 18, .epochs = 2};
    const lm_option_spec *spec = lm_searcher_options("bo");
    CHECK_OK(lm_options_set(&p.options, spec, "kernel", 0, "rbf"));
    lm_searcher *rbf;
    CHECK_OK(lm_searcher_create("bo", &p, &rbf));
    lm_error_clear();
    assert_int_equal(lm_searcher_load(rbf, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "'searcher/kernel' is 'matern52'"));
    lm_error_clear();
    lm_searcher *other = make("bo", sp, 22, 18, 5, NULL);
    assert_int_equal(lm_searcher_load(other, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "seed"));
    lm_error_clear();
    double bad[3] = {0, 0, 0};
    CHECK_OK(lm_state_put(&w, "searcher/theta", LM_DT_F64, 3, bad));
    assert_int_equal(lm_searcher_load(b, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "'searcher/theta' has 3"));
    lm_error_clear();
    CHECK_OK(lm_searcher_save(a, &w));
    CHECK_OK(lm_state_put_i64(&w, "searcher/n_fit", 1000));
    assert_int_equal(lm_searcher_load(b, &r), LM_ECKPT);
    lm_error_clear();

    lm_searcher_destroy(&a);
    lm_searcher_destroy(&b);
    lm_searcher_destroy(&rbf);
    lm_searcher_destroy(&other);
    lm_state_mem_destroy(&mem);
    lm_trials_fini(&t1);
    lm_trials_fini(&t2);
    lm_space_destroy(&sp);
}

/* ---- bohb: model-based Hyperband ---- */

/* A multi-fidelity fake controller: jobs may be new or resumed, reports get CONTINUE,
 * PAUSE or STOP, and the curve of a point rises to its objective like 1 - e^(-e/3). */
typedef struct mfsim {
    int n_workers;
    int busy[MAX_WORKERS];
    int rounds, done;
} mfsim;

static void mf_init(mfsim *m, int n_workers) {
    memset(m, 0, sizeof *m);
    m->n_workers = n_workers;
    for (int w = 0; w < MAX_WORKERS; w++) m->busy[w] = -1;
}

static double mf_value(const double *x, int epoch) {
    return objective(x) * (1 - exp(-epoch / 3.0));
}

static int mf_round(mfsim *m, lm_searcher *s, lm_trials *t) {
    for (int w = 0; w < m->n_workers && !m->done; w++) {
        if (m->busy[w] >= 0) continue;
        lm_job j;
        CHECK_OK(lm_searcher_next_job(s, t, &j));
        if (j.kind == LM_JOB_DONE) m->done = 1;
        if (j.kind == LM_JOB_DONE || j.kind == LM_JOB_WAIT) break;
        lm_trial *tr = lm_trials_get(t, j.trial_id);
        assert_non_null(tr);
        assert_true(j.kind == LM_JOB_NEW || j.kind == LM_JOB_RESUME);
        tr->status = LM_TRIAL_RUNNING;
        tr->epochs_target = j.epochs;
        tr->worker = w + 1;
        m->busy[w] = j.trial_id;
    }
    int any = 0;
    for (int i = 0; i < m->n_workers; i++) {
        int w = (i + m->rounds) % m->n_workers;
        if (m->busy[w] < 0) continue;
        any = 1;
        lm_trial *tr = lm_trials_get(t, m->busy[w]);
        lm_report r;
        memset(&r, 0, sizeof r);
        r.trial_id = tr->id;
        r.epoch = tr->epochs + 1;
        r.val_accuracy = mf_value(tr->hp, r.epoch);
        r.val_loss = 1 - r.val_accuracy;
        r.seconds = 1;
        CHECK_OK(lm_trials_record(t, &r, m->rounds));
        lm_decision d = lm_searcher_on_report(s, t, &r);
        int end = d.kind == LM_DECIDE_PAUSE || tr->status == LM_TRIAL_DONE;
        if (d.kind == LM_DECIDE_STOP && tr->status != LM_TRIAL_DONE) {
            tr->status = LM_TRIAL_STOPPED;
            end = 1;
        }
        if (end) {
            lm_searcher_on_end(s, t, tr->id);
            m->busy[w] = -1;
        }
    }
    m->rounds++;
    assert_true(m->rounds < 100000);
    return !(m->done && !any);
}

static lm_searcher *make_mf(const char *name, const lm_space *sp, uint64_t seed, int max_trials) {
    lm_search_params p = {.space = sp, .seed = seed, .max_trials = max_trials, .epochs = 9};
    if (!strcmp(name, "bohb")) {
        const lm_option_spec *spec = lm_searcher_options("bohb");
        CHECK_OK(lm_options_set(&p.options, spec, "candidates", 300, NULL));
        CHECK_OK(lm_options_set(&p.options, spec, "min_configs", 6, NULL));
        CHECK_OK(lm_options_set(&p.options, spec, "restarts", 1, NULL));
    }
    lm_searcher *s = NULL;
    CHECK_OK(lm_searcher_create(name, &p, &s));
    return s;
}

/* The best accuracy at the full 9 epochs. */
static double best_full(const lm_trials *t) {
    double best = -INFINITY;
    for (int i = 0; i < t->n; i++)
        if (t->v[i].epochs == 9 && t->v[i].final_val_accuracy > best)
            best = t->v[i].final_val_accuracy;
    return best;
}

/* bohb schedules as hyperband does (as many trials, epochs in total), but about two
 * thirds of its new configurations come from the model, and
 * over 3 seeds its best full-budget accuracy beats hyperband's on average. */
static void test_bohb(void **state) {
    (void)state;
    lm_space *sp = make_space();
    int n_hp = lm_space_size(sp);
    double sum_bohb = 0, sum_hb = 0;
    for (int seed = 1; seed <= 3; seed++) {
        lm_trials tb, th;
        CHECK_OK(lm_trials_init(&tb, n_hp));
        CHECK_OK(lm_trials_init(&th, n_hp));
        lm_searcher *b = make_mf("bohb", sp, (uint64_t)seed, 45);
        lm_searcher *h = make_mf("hyperband", sp, (uint64_t)seed, 45);
        mfsim mb, mh;
        mf_init(&mb, 2);
        mf_init(&mh, 2);
        while (mf_round(&mb, b, &tb)) {
        }
        while (mf_round(&mh, h, &th)) {
        }
        assert_int_equal(tb.n, th.n);
        assert_int_equal((int)tb.n_curves, (int)th.n_curves);
        int modelled = 0;
        for (int k = 0; k < tb.n; k++) {
            double x[8];
            memcpy(x, tb.v[k].hp, (size_t)n_hp * sizeof *x);
            lm_space_repair(sp, x);
            assert_true(unit_distance(sp, x, tb.v[k].hp) == 0);
            modelled += unit_distance(sp, tb.v[k].hp, th.v[k].hp) > 0;
        }
        assert_true(modelled > tb.n / 3 && modelled < tb.n);
        sum_bohb += best_full(&tb);
        sum_hb += best_full(&th);
        print_message("seed %d: bohb best %.4f, hyperband best %.4f (%d of %d modelled)\n", seed,
                      best_full(&tb), best_full(&th), modelled, tb.n);
        lm_searcher_destroy(&b);
        lm_searcher_destroy(&h);
        lm_trials_fini(&tb);
        lm_trials_fini(&th);
    }
    assert_true(sum_bohb > sum_hb);
    lm_space_destroy(&sp);
}

/* Saved mid-run and resumed: the same jobs and points as the run that went on; its
 * checkpoint is a "bohb" one, which hyperband refuses. */
static void test_bohb_save_load(void **state) {
    (void)state;
    lm_space *sp = make_space();
    int n_hp = lm_space_size(sp);
    lm_trials t1, t2;
    CHECK_OK(lm_trials_init(&t1, n_hp));
    CHECK_OK(lm_trials_init(&t2, n_hp));
    lm_searcher *a = make_mf("bohb", sp, 5, 40);
    mfsim m1;
    mf_init(&m1, 3);
    while (t1.n < 25) mf_round(&m1, a, &t1);
    lm_state_mem *mem;
    CHECK_OK(lm_state_mem_create(&mem));
    lm_state_writer w = lm_state_mem_writer(mem);
    lm_state_reader r = lm_state_mem_reader(mem);
    CHECK_OK(lm_searcher_save(a, &w));
    CHECK_OK(lm_trials_save(&t1, &w, "trials"));
    char kind[16];
    CHECK_OK(lm_state_get_str(&r, "searcher/kind", kind, sizeof kind));
    assert_string_equal(kind, "bohb");
    lm_searcher *b = make_mf("bohb", sp, 5, 40);
    CHECK_OK(lm_trials_load(&t2, &r, "trials"));
    CHECK_OK(lm_searcher_load(b, &r));
    mfsim m2 = m1;
    while (mf_round(&m1, a, &t1)) {
    }
    while (mf_round(&m2, b, &t2)) {
    }
    assert_int_equal(t1.n, t2.n);
    assert_int_equal(m1.rounds, m2.rounds);
    for (int k = 0; k < t1.n; k++) {
        if (memcmp(t1.v[k].hp, t2.v[k].hp, (size_t)n_hp * sizeof(double)) != 0)
            fail_msg("trial %d differs after resuming", k);
        assert_int_equal(t1.v[k].epochs, t2.v[k].epochs);
    }
    lm_searcher *h = make_mf("hyperband", sp, 5, 40);
    lm_error_clear();
    assert_int_equal(lm_searcher_load(h, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "'bohb'"));
    lm_error_clear();
    lm_searcher_destroy(&a);
    lm_searcher_destroy(&b);
    lm_searcher_destroy(&h);
    lm_state_mem_destroy(&mem);
    lm_trials_fini(&t1);
    lm_trials_fini(&t2);
    lm_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),        cmocka_unit_test(test_initial_random),
        cmocka_unit_test(test_fantasies_distinct),
        cmocka_unit_test(test_fantasy_above_best), cmocka_unit_test(test_beats_random),
        cmocka_unit_test(test_deterministic),  cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_bohb),           cmocka_unit_test(test_bohb_save_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
