/* ASHA and asynchronous Hyperband: the rung ladder, the promotion rule decision by
 * decision on hand-made sequences (one worker, and WAIT with two), and runs through
 * the fake controller (search_mf_sim.h) replayed against an independent statement of
 * Algorithm 2, save/load mid-run and determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "search_mf_sim.h"

static lm_searcher *make_asha(const lm_space *sp, uint64_t seed, int max_trials, int R, int eta,
                              int r_min, int brackets) {
    lm_options o = {0};
    const lm_option_spec *spec = lm_searcher_options("asha");
    assert_non_null(spec);
    assert_int_equal(lm_options_set(&o, spec, "eta", eta, NULL), LM_OK);
    assert_int_equal(lm_options_set(&o, spec, "min_epochs", r_min, NULL), LM_OK);
    assert_int_equal(lm_options_set(&o, spec, "brackets", brackets, NULL), LM_OK);
    return sim_searcher("asha", sp, seed, max_trials, R, &o);
}

/* ---- rungs and options ---- */

static void test_rungs(void **state) {
    (void)state;
    int r[LM_HB_RUNGS_MAX];
    assert_int_equal(lm_asha_rungs(81, 1, 3, 0, r, LM_HB_RUNGS_MAX), 5);
    const int r81[] = {1, 3, 9, 27, 81};
    assert_memory_equal(r, r81, sizeof r81);
    assert_int_equal(lm_asha_rungs(81, 1, 3, 2, r, LM_HB_RUNGS_MAX), 3);
    const int r81s2[] = {9, 27, 81};
    assert_memory_equal(r, r81s2, sizeof r81s2);
    /* R not a power of eta: the rungs below R, then R. */
    assert_int_equal(lm_asha_rungs(10, 1, 3, 0, r, LM_HB_RUNGS_MAX), 4);
    const int r10[] = {1, 3, 9, 10};
    assert_memory_equal(r, r10, sizeof r10);
    assert_int_equal(lm_asha_rungs(20, 2, 2, 1, r, LM_HB_RUNGS_MAX), 4);
    const int r20[] = {4, 8, 16, 20};
    assert_memory_equal(r, r20, sizeof r20);
    assert_int_equal(lm_asha_rungs(5, 5, 3, 0, r, LM_HB_RUNGS_MAX), 1);
    assert_int_equal(r[0], 5);
    assert_int_equal(lm_asha_rungs(9, 1, 3, 7, r, LM_HB_RUNGS_MAX), 1);
    assert_int_equal(r[0], 9);
    lm_error_clear();
    assert_int_equal(lm_asha_rungs(9, 10, 3, 0, r, LM_HB_RUNGS_MAX), LM_EINVAL);
    assert_int_equal(lm_asha_rungs(81, 1, 3, 0, r, 3), LM_ERANGE);
    lm_error_clear();

    lm_space *sp = sim_space();
    const lm_option_spec *spec = lm_searcher_options("asha");
    lm_search_params p = {.space = sp, .seed = 1, .max_trials = 10, .epochs = 9};
    lm_searcher *s = NULL;
    assert_int_equal(lm_options_set(&p.options, spec, "min_epochs", 10, NULL), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_searcher_create("asha", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "min_epochs (10) must be at most"));
    assert_int_equal(lm_options_set(&p.options, spec, "min_epochs", 1, NULL), LM_OK);
    assert_int_equal(lm_options_set(&p.options, spec, "brackets", 4, NULL), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_searcher_create("asha", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "brackets must be at most 3"));
    assert_int_equal(lm_options_set(&p.options, spec, "brackets", 3, NULL), LM_OK);
    p.max_trials = 0;
    lm_error_clear();
    assert_int_equal(lm_searcher_create("asha", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "max_trials"));
    lm_error_clear();
    assert_null(s);
    lm_space_destroy(&sp);
}

/* ---- decision by decision ---- */

typedef struct drv {
    lm_searcher *s;
    lm_trials t;
    double now;
    int paused;      /* the last decision was PAUSE */
} drv;

static void expect_job(drv *d, lm_job_kind kind, int id, int epochs) {
    lm_job j;
    assert_int_equal(lm_searcher_next_job(d->s, &d->t, &j), LM_OK);
    if (j.kind != kind || (kind != LM_JOB_WAIT && kind != LM_JOB_DONE &&
                           (j.trial_id != id || j.epochs != epochs)))
        fail_msg("job kind %d trial %d epochs %d; expected kind %d trial %d epochs %d", j.kind,
                 j.trial_id, j.epochs, kind, id, epochs);
    if (kind != LM_JOB_NEW && kind != LM_JOB_RESUME) return;
    lm_trial *tr = lm_trials_get(&d->t, id);
    tr->status = LM_TRIAL_RUNNING;
    tr->epochs_target = epochs;
}

/* Reports vals for the next n epochs of trial id: CONTINUE expected before the last,
 * `last` at the last (then the trial is marked as the controller marks it). */
static void report(drv *d, int id, int n, const double *vals, lm_decision_kind last) {
    for (int k = 0; k < n; k++) {
        lm_report r;
        memset(&r, 0, sizeof r);
        r.trial_id = id;
        r.epoch = d->t.v[id].epochs + 1;
        r.val_accuracy = vals[k];
        r.seconds = 1;
        d->now += 1;
        assert_int_equal(lm_trials_record(&d->t, &r, d->now), LM_OK);
        lm_decision dec = lm_searcher_on_report(d->s, &d->t, &r);
        lm_decision_kind want = k == n - 1 ? last : LM_DECIDE_CONTINUE;
        if (dec.kind != want)
            fail_msg("trial %d epoch %d: decision %d, expected %d", id, r.epoch, dec.kind, want);
        if (dec.kind == LM_DECIDE_PAUSE) d->t.v[id].status = LM_TRIAL_RUNNING;
        d->paused = dec.kind == LM_DECIDE_PAUSE;
    }
}

/* The job's end: PAUSED when it ended on a PAUSE (state kept), else DONE if running. */
static void end(drv *d, int id) {
    lm_trial *tr = &d->t.v[id];
    if (d->paused) tr->status = LM_TRIAL_PAUSED;
    else if (tr->status == LM_TRIAL_RUNNING) tr->status = LM_TRIAL_DONE;
    d->paused = 0;
    lm_searcher_on_end(d->s, &d->t, id);
}

static void job(drv *d, int id, int n, const double *vals, lm_decision_kind last) {
    report(d, id, n, vals, last);
    end(d, id);
}

static void fail_job(drv *d, int id) {
    lm_report r;
    memset(&r, 0, sizeof r);
    r.trial_id = id;
    r.epoch = d->t.v[id].epochs + 1;
    r.failed = 1;
    assert_int_equal(lm_trials_record(&d->t, &r, d->now), LM_OK);
    d->paused = 0;
    end(d, id);
}

#define V(...) ((const double[]){__VA_ARGS__})
#define PAUSE LM_DECIDE_PAUSE
#define CONT LM_DECIDE_CONTINUE

static void expect_promotion(const lm_trials *t, size_t k, int id, int bracket, int from,
                             int epoch) {
    assert_true(k < t->n_promotions);
    const lm_promotion *p = &t->promotions[k];
    assert_int_equal(p->trial_id, id);
    assert_int_equal(p->bracket, bracket);
    assert_int_equal(p->from_rung, from);
    assert_int_equal(p->to_rung, from + 1);
    assert_int_equal(p->epoch, epoch);
}

/* R = 9, eta = 3, min_epochs 1: rungs at 1, 3 and 9 epochs; 9 configurations. The
 * comments give each rung's results best first before the job is asked for. */
static void test_promotion_rule(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    drv d = {make_asha(sp, 3, 9, 9, 3, 1, 1), {0}, 0, 0};
    assert_int_equal(lm_trials_init(&d.t, 2), LM_OK);

    expect_job(&d, LM_JOB_NEW, 0, 1);
    job(&d, 0, 1, V(0.50), PAUSE);
    assert_int_equal(d.t.v[0].status, LM_TRIAL_PAUSED);
    expect_job(&d, LM_JOB_NEW, 1, 1);     /* rung 0: 0; floor(1/3) = 0 promotable */
    job(&d, 1, 1, V(0.70), PAUSE);
    expect_job(&d, LM_JOB_NEW, 2, 1);     /* rung 0: 1 0 */
    job(&d, 2, 1, V(0.60), PAUSE);
    expect_job(&d, LM_JOB_RESUME, 1, 3);  /* rung 0: 1 2 0 -> top 1 is trial 1 */
    assert_int_equal(d.t.v[1].rung, 1);
    expect_promotion(&d.t, 0, 1, 0, 0, 1);
    job(&d, 1, 2, V(0.71, 0.75), PAUSE);  /* resumed at epoch 2 */
    assert_int_equal(d.t.v[1].epochs, 3);
    expect_job(&d, LM_JOB_NEW, 3, 1);     /* rung 1: 1; rung 0: 1* 2 0 */
    job(&d, 3, 1, V(0.80), PAUSE);
    expect_job(&d, LM_JOB_RESUME, 3, 3);  /* rung 0: 3 1* 2 0 -> top 1 is 3 */
    job(&d, 3, 2, V(0.82, 0.85), PAUSE);
    expect_job(&d, LM_JOB_NEW, 4, 1);     /* rung 1: 3 1 (q 0); rung 0: 3* 1* 2 0 (q 1) */
    job(&d, 4, 1, V(0.10), PAUSE);
    expect_job(&d, LM_JOB_NEW, 5, 1);     /* rung 0: 3* 1* 2 0 4: q = 1 */
    fail_job(&d, 5);
    assert_int_equal(d.t.v[5].status, LM_TRIAL_FAILED);
    expect_job(&d, LM_JOB_NEW, 6, 1);     /* rung 0: 3* 1* 2 0 4 5(failed): q = 2 */
    job(&d, 6, 1, V(0.65), PAUSE);
    expect_job(&d, LM_JOB_NEW, 7, 1);     /* rung 0: 3* 1* 6 2 0 4 5: q = 2 */
    job(&d, 7, 1, V(0.90), PAUSE);
    expect_job(&d, LM_JOB_RESUME, 7, 3);  /* rung 0: 7 3* 1* ...: q = 2, 7 not promoted */
    job(&d, 7, 2, V(0.91, 0.95), PAUSE);
    expect_job(&d, LM_JOB_RESUME, 7, 9);  /* rung 1: 7 3 1: q = 1 -> to the top rung */
    expect_promotion(&d.t, 3, 7, 0, 1, 3);
    job(&d, 7, 6, V(0.92, 0.93, 0.94, 0.95, 0.96, 0.97), CONT);
    assert_int_equal(d.t.v[7].status, LM_TRIAL_DONE);
    assert_int_equal(d.t.v[7].epochs, 9);
    expect_job(&d, LM_JOB_NEW, 8, 1);     /* rung 1: 7* 3 1 (q 1); rung 0: 7* 3* ... (q 2) */
    job(&d, 8, 1, V(0.55), PAUSE);
    /* rung 0: 7* 3* 1* 6 2 8 0 4 5: q = 3, all three promoted; 9 configurations started. */
    expect_job(&d, LM_JOB_DONE, -1, 0);
    expect_job(&d, LM_JOB_DONE, -1, 0);
    assert_int_equal(d.t.n, 9);

    const lm_trial_status st[9] = {LM_TRIAL_STOPPED, LM_TRIAL_STOPPED, LM_TRIAL_STOPPED,
                                   LM_TRIAL_STOPPED, LM_TRIAL_STOPPED, LM_TRIAL_FAILED,
                                   LM_TRIAL_STOPPED, LM_TRIAL_DONE, LM_TRIAL_STOPPED};
    const int rung[9] = {0, 1, 0, 1, 0, 0, 0, 2, 0};
    for (int i = 0; i < 9; i++) {
        assert_int_equal(d.t.v[i].status, st[i]);
        assert_int_equal(d.t.v[i].rung, rung[i]);
        assert_int_equal(d.t.v[i].bracket, 0);
        if (st[i] == LM_TRIAL_STOPPED) assert_non_null(strstr(d.t.v[i].reason, "not promoted"));
    }
    assert_int_equal(d.t.n_promotions, 4);
    expect_promotion(&d.t, 0, 1, 0, 0, 1);
    expect_promotion(&d.t, 1, 3, 0, 0, 1);
    expect_promotion(&d.t, 2, 7, 0, 0, 1);
    expect_promotion(&d.t, 3, 7, 0, 1, 3);
    assert_true(d.t.promotions[0].t == 3); /* the newest report's arrival: trial 2's epoch 1 */
    assert_true(d.t.promotions[1].t == 6); /* trial 3's epoch 1 */

    lm_searcher_destroy(&d.s);
    lm_trials_fini(&d.t);
    lm_space_destroy(&sp);
}

/* Two workers: after the last configuration is started, WAIT while one runs. */
static void test_wait(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    drv d = {make_asha(sp, 3, 2, 9, 3, 1, 1), {0}, 0, 0};
    assert_int_equal(lm_trials_init(&d.t, 2), LM_OK);
    expect_job(&d, LM_JOB_NEW, 0, 1);
    expect_job(&d, LM_JOB_NEW, 1, 1);
    expect_job(&d, LM_JOB_WAIT, -1, 0);
    report(&d, 0, 1, V(0.4), PAUSE);
    expect_job(&d, LM_JOB_WAIT, -1, 0);  /* its job has not ended yet */
    end(&d, 0);
    expect_job(&d, LM_JOB_WAIT, -1, 0);
    job(&d, 1, 1, V(0.3), PAUSE);
    expect_job(&d, LM_JOB_DONE, -1, 0);
    assert_int_equal(d.t.v[0].status, LM_TRIAL_STOPPED);
    assert_int_equal(d.t.v[1].status, LM_TRIAL_STOPPED);
    lm_searcher_destroy(&d.s);
    lm_trials_fini(&d.t);
    lm_space_destroy(&sp);
}

/* Asynchronous Hyperband: bracket 0 rungs 1, 3, 9; bracket 1 rungs 3, 9; new
 * configurations alternate between them. */
static void test_async_hyperband(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    drv d = {make_asha(sp, 4, 8, 9, 3, 1, 2), {0}, 0, 0};
    assert_int_equal(lm_trials_init(&d.t, 2), LM_OK);
    expect_job(&d, LM_JOB_NEW, 0, 1);
    job(&d, 0, 1, V(0.5), PAUSE);
    expect_job(&d, LM_JOB_NEW, 1, 3);
    job(&d, 1, 3, V(0.4, 0.5, 0.6), PAUSE);
    expect_job(&d, LM_JOB_NEW, 2, 1);
    job(&d, 2, 1, V(0.7), PAUSE);
    expect_job(&d, LM_JOB_NEW, 3, 3);
    job(&d, 3, 3, V(0.3, 0.4, 0.55), PAUSE);
    expect_job(&d, LM_JOB_NEW, 4, 1);
    job(&d, 4, 1, V(0.6), PAUSE);
    expect_job(&d, LM_JOB_RESUME, 2, 3);  /* bracket 0 rung 0: 2 4 0 */
    job(&d, 2, 2, V(0.72, 0.74), PAUSE);
    expect_job(&d, LM_JOB_NEW, 5, 3);     /* bracket 1 rung 0: 1 3, q = 0 */
    job(&d, 5, 3, V(0.1, 0.2, 0.8), PAUSE);
    expect_job(&d, LM_JOB_RESUME, 5, 9);  /* bracket 1 rung 0: 5 1 3 */
    job(&d, 5, 6, V(0.81, 0.82, 0.83, 0.84, 0.85, 0.86), CONT);
    expect_job(&d, LM_JOB_NEW, 6, 1);
    job(&d, 6, 1, V(0.2), PAUSE);
    expect_job(&d, LM_JOB_NEW, 7, 3);
    job(&d, 7, 3, V(0.3, 0.3, 0.3), PAUSE);
    expect_job(&d, LM_JOB_DONE, -1, 0);
    const int bracket[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    for (int i = 0; i < 8; i++) assert_int_equal(d.t.v[i].bracket, bracket[i]);
    assert_int_equal(d.t.n_promotions, 2);
    expect_promotion(&d.t, 0, 2, 0, 0, 1);
    expect_promotion(&d.t, 1, 5, 1, 0, 3);
    assert_int_equal(d.t.v[5].status, LM_TRIAL_DONE);
    assert_int_equal(lm_trials_count(&d.t, LM_TRIAL_STOPPED), 7);
    lm_searcher_destroy(&d.s);
    lm_trials_fini(&d.t);
    lm_space_destroy(&sp);
}

/* ---- runs, replayed against Algorithm 2 ---- */

typedef struct replay_trial {
    int bracket, rung;
} replay_trial;

typedef struct result {
    int id, dead, promoted;
    double v;
} result;

/* Checks a finished run's log, job by job, against Algorithm 2 stated afresh: results
 * enter their rung when the job's end is logged; a job goes to the best promotable
 * result (brackets in order, rungs from the top down), else a new configuration. */
static void replay(const sim *m, int max_trials, int R, int eta, int r_min, int nb) {
    int rr[LM_HB_RUNGS_MAX][LM_HB_RUNGS_MAX], nr[LM_HB_RUNGS_MAX];
    for (int b = 0; b < nb; b++) nr[b] = lm_asha_rungs(R, r_min, eta, b, rr[b], LM_HB_RUNGS_MAX);
    int n = m->t.n;
    replay_trial *tr = calloc((size_t)n, sizeof *tr);
    int cnt[LM_HB_RUNGS_MAX][LM_HB_RUNGS_MAX] = {{0}};
    result *rung[LM_HB_RUNGS_MAX][LM_HB_RUNGS_MAX];
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < nr[b]; k++) rung[b][k] = calloc((size_t)n + 1, sizeof(result));
    int issued = 0, running = 0, resumes = 0, news = 0;
    for (size_t e = 0; e < m->n_log; e += 4) {
        const int *x = &m->log[e];
        if (x[0] == LOG_END) {
            running--;
            int id = x[1], epochs = x[2], status = x[3];
            int b = tr[id].bracket, k = tr[id].rung;
            if (k == nr[b] - 1) {
                if (status != LM_TRIAL_FAILED) assert_int_equal(epochs, R);
                continue;
            }
            int alive = status == LM_TRIAL_PAUSED && epochs == rr[b][k];
            result r = {id, !alive, 0, alive ? sim_value(m, id, rr[b][k]) : -INFINITY};
            /* keep the rung sorted: alive first, value down, id up */
            int at = cnt[b][k]++;
            result *g = rung[b][k];
            while (at > 0) {
                const result *q = &g[at - 1];
                int after = q->dead != r.dead ? q->dead > r.dead
                            : q->v != r.v     ? q->v < r.v
                                              : q->id > r.id;
                if (!after) break;
                g[at] = g[at - 1];
                at--;
            }
            g[at] = r;
            continue;
        }
        if (x[0] != LOG_JOB) continue;
        int kind = x[1], id = x[2], epochs = x[3];
        result *want = NULL;
        int wb = -1, wk = -1;
        for (int b = 0; b < nb && !want; b++)
            for (int k = nr[b] - 2; k >= 0 && !want; k--)
                for (int j = 0; j < cnt[b][k] / eta && !want; j++)
                    if (!rung[b][k][j].promoted && !rung[b][k][j].dead) {
                        want = &rung[b][k][j];
                        wb = b;
                        wk = k;
                    }
        if (want) {
            if (kind != LM_JOB_RESUME || id != want->id || epochs != rr[wb][wk + 1])
                fail_msg("log entry %zu: job %d trial %d epochs %d, Algorithm 2 promotes trial %d "
                         "to %d epochs", e / 4, kind, id, epochs, want->id, rr[wb][wk + 1]);
            want->promoted = 1;
            tr[id].rung = wk + 1;
            running++;
            resumes++;
        } else if (issued < max_trials) {
            int b = issued % nb;
            assert_int_equal(kind, LM_JOB_NEW);
            assert_int_equal(id, issued);
            assert_int_equal(epochs, rr[b][0]);
            assert_int_equal(m->t.v[id].bracket, b);
            tr[id] = (replay_trial){b, 0};
            issued++;
            news++;
            running++;
        } else {
            assert_int_equal(kind, running > 0 ? LM_JOB_WAIT : LM_JOB_DONE);
        }
    }
    assert_int_equal(running, 0);
    assert_int_equal(news, max_trials);
    assert_int_equal(resumes, (int)m->t.n_promotions);
    /* Final states: done at the top rung, failed, or stopped where they paused. */
    for (int i = 0; i < n; i++) {
        const lm_trial *t = &m->t.v[i];
        assert_int_equal(t->rung, tr[i].rung);
        int b = tr[i].bracket, top = tr[i].rung == nr[b] - 1;
        if (t->status == LM_TRIAL_FAILED) continue;
        assert_int_equal(t->status, top ? LM_TRIAL_DONE : LM_TRIAL_STOPPED);
        assert_int_equal(t->epochs, rr[b][tr[i].rung]);
    }
    for (int b = 0; b < nb; b++)
        for (int k = 0; k < nr[b]; k++) free(rung[b][k]);
    free(tr);
}

static void run_replayed(int P, int max_trials, int R, int eta, int r_min, int nb, int fail_mod,
                         uint64_t seed) {
    lm_space *sp = sim_space();
    sim m;
    sim_init(&m, make_asha(sp, seed, max_trials, R, eta, r_min, nb), 2, P, seed + 100);
    m.unkept_mod = fail_mod ? fail_mod + 2 : 0;
    m.fail_mod = fail_mod;
    m.fail_rem = 3;
    m.fail_epoch = 2;
    sim_run(&m, 1 << 30);
    assert_true(m.done);
    replay(&m, max_trials, R, eta, r_min, nb);
    assert_true(m.t.n_promotions > 0);
    if (P == 1) assert_int_equal(m.n_waits, 0); /* one worker never waits */
    sim_fini(&m);
    lm_space_destroy(&sp);
}

static void test_runs(void **state) {
    (void)state;
    const int workers[] = {1, 3, 8};
    for (int k = 0; k < 3; k++) {
        run_replayed(workers[k], 200, 81, 3, 1, 1, 0, 1 + (uint64_t)k);
        run_replayed(workers[k], 150, 81, 3, 1, 3, 0, 4 + (uint64_t)k);
        run_replayed(workers[k], 120, 30, 2, 2, 2, 9, 7 + (uint64_t)k);
    }
    run_replayed(5, 60, 10, 3, 1, 1, 4, 11);
}

static void fork_at(int P, int at, int brackets, int fail_mod) {
    lm_space *sp = sim_space();
    sim a, b;
    sim_init(&a, make_asha(sp, 9, 80, 27, 3, 1, brackets), 2, P, 2);
    a.fail_mod = fail_mod;
    a.fail_epoch = 1;
    sim_run(&a, at);
    size_t mark = a.n_log;
    sim_fork(&a, &b, make_asha(sp, 9, 80, 27, 3, 1, brackets), NULL);
    sim_run(&a, 1 << 30);
    sim_run(&b, 1 << 30);
    assert_int_equal(a.n_log - mark, b.n_log);
    assert_memory_equal(a.log + mark, b.log, b.n_log * sizeof *b.log);
    sim_same_tables(&a.t, &b.t);
    sim_fini(&a);
    sim_fini(&b);
    lm_space_destroy(&sp);
}

static void test_resume(void **state) {
    (void)state;
    fork_at(3, 1, 1, 0);
    fork_at(3, 100, 1, 0);
    fork_at(4, 250, 2, 6);
    fork_at(2, 400, 3, 0);

    /* A checkpoint of another plan is refused; a failed load leaves the searcher usable. */
    lm_space *sp = sim_space();
    sim a;
    sim_init(&a, make_asha(sp, 9, 30, 27, 3, 1, 1), 2, 2, 2);
    sim_run(&a, 40);
    lm_state_mem *st;
    assert_int_equal(lm_state_mem_create(&st), LM_OK);
    lm_state_writer w = lm_state_mem_writer(st);
    lm_state_reader r = lm_state_mem_reader(st);
    assert_int_equal(lm_searcher_save(a.s, &w), LM_OK);
    lm_searcher *s = make_asha(sp, 9, 30, 27, 3, 3, 1);
    lm_error_clear();
    assert_int_equal(lm_searcher_load(s, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(),
                           "'searcher/min_epochs' is 1, but this run's min_epochs is 3"));
    lm_searcher_destroy(&s);
    s = make_asha(sp, 9, 30, 27, 3, 1, 1);
    assert_int_equal(lm_state_put(&w, "searcher/res_promoted", LM_DT_I32, 1, (int32_t[]){1}),
                     LM_OK);
    lm_error_clear();
    assert_int_equal(lm_searcher_load(s, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "res_promoted"));
    assert_int_equal(lm_searcher_save(a.s, &w), LM_OK);
    assert_int_equal(lm_state_put(&w, "searcher/rung_count", LM_DT_I32, 4, (int32_t[]){0, 0, 0, 1}),
                     LM_OK);
    lm_error_clear();
    assert_int_equal(lm_searcher_load(s, &r), LM_ECKPT);
    lm_error_clear();
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 2), LM_OK);
    lm_job j;
    assert_int_equal(lm_searcher_next_job(s, &t, &j), LM_OK);
    assert_int_equal(j.kind, LM_JOB_NEW);
    assert_int_equal(j.trial_id, 0);
    lm_trials_fini(&t);
    lm_searcher_destroy(&s);
    lm_state_mem_destroy(&st);
    sim_fini(&a);
    lm_space_destroy(&sp);
}

static void test_determinism(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    sim a, b;
    sim_init(&a, make_asha(sp, 5, 100, 27, 3, 1, 2), 2, 5, 1);
    sim_init(&b, make_asha(sp, 5, 100, 27, 3, 1, 2), 2, 5, 1);
    sim_run(&a, 1 << 30);
    sim_run(&b, 1 << 30);
    assert_int_equal(a.n_log, b.n_log);
    assert_memory_equal(a.log, b.log, a.n_log * sizeof *a.log);
    sim_same_tables(&a.t, &b.t);
    sim_fini(&a);
    sim_fini(&b);
    lm_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rungs),
        cmocka_unit_test(test_promotion_rule),
        cmocka_unit_test(test_wait),
        cmocka_unit_test(test_async_hyperband),
        cmocka_unit_test(test_runs),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
