/* Population-based training, whole runs through a fake controller that handles NEW,
 * RESUME and CLONE jobs as src/exec/controller.c does (a clone starts from a copy of
 * the donor's kept state: its first epoch is the donor's epochs + 1; kept states of
 * trials that are no longer paused are dropped after every dispatch and job end), on
 * synthetic training whose progress depends on the learning rate: ready points,
 * populations larger than the workers, asynchronous and synchronous mode, save/load
 * anywhere in a run, failures, and the event table against the trials and curves. The
 * operators alone are tested in test_search_pbt_ops.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/rng.h"
#include "lamarck/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a fake controller with clone jobs ---- */

#define PW_MAX 16

typedef struct psim {
    lm_searcher *s;
    lm_trials t;
    int P;
    int busy[PW_MAX];
    double t_next[PW_MAX];
    double now;
    int done, steps;
    uint64_t curve_world;    /* the training; independent of timing */
    uint64_t time_world;     /* epoch times */
    double jitter;           /* epoch time = 1 + jitter x U(0,1) */
    int fail_mod, fail_rem;  /* trials id % mod == rem fail in their first epoch */
    int unkept_mod;          /* trials id % mod == 1 lose their state when paused */
    int flat;                /* accuracy saturated: noise around 0.95, whatever the epoch */
    /* per trial: the synthetic weights (quality), and whether a worker keeps its state */
    double *w;
    int *kept;
    int *nrep;               /* reports received */
    int cap;
    /* what happened */
    int n_new, n_resume, n_clone, n_waits;
    int waits_with_paused;   /* WAIT answered while some trial was paused */
    long busy_steps, idle_steps;
    long idle_paused_steps;  /* idle workers while some trial was paused */
} psim;

/* The synthetic model: quality grows each epoch by a gain that peaks at lr = 0.05;
 * validation accuracy 1 - 0.9 exp(-quality) plus a small fixed noise per (trial, epoch). */
static double gain(const double *hp) {
    double z = log(hp[0] / 0.05);
    return 0.3 * exp(-z * z / 2) + 0.02 * hp[1];
}

static double noise(const psim *m, int id, int epoch) {
    lm_rng r;
    lm_rng_init(&r, m->curve_world, (uint64_t)id, 1000 + (uint64_t)epoch);
    return 0.004 * (lm_rng_uniform(&r) - 0.5);
}

static double epoch_time(const psim *m, int id, int epoch) {
    lm_rng r;
    lm_rng_init(&r, m->time_world, (uint64_t)id, 5000 + (uint64_t)epoch);
    return 1 + m->jitter * lm_rng_uniform(&r);
}

static void psim_grow(psim *m) {
    if (m->t.n <= m->cap) return;
    int cap = m->cap ? 2 * m->cap : 64;
    while (cap < m->t.n) cap *= 2;
    m->w = realloc(m->w, (size_t)cap * sizeof *m->w);
    m->kept = realloc(m->kept, (size_t)cap * sizeof *m->kept);
    m->nrep = realloc(m->nrep, (size_t)cap * sizeof *m->nrep);
    assert_non_null(m->w);
    assert_non_null(m->kept);
    assert_non_null(m->nrep);
    for (int i = m->cap; i < cap; i++) {
        m->w[i] = 0;
        m->kept[i] = 0;
        m->nrep[i] = 0;
    }
    m->cap = cap;
}

static lm_searcher *make_pbt(const lm_space *sp, uint64_t seed, int epochs, const char *const *kv) {
    lm_search_params p = {.space = sp, .seed = seed, .max_trials = 1, .epochs = epochs};
    const lm_option_spec *spec = lm_searcher_options("pbt");
    assert_non_null(spec);
    for (int i = 0; kv && kv[i]; i += 2) {
        char *end;
        double v = strtod(kv[i + 1], &end);
        int rc = *end ? lm_options_set(&p.options, spec, kv[i], NAN, kv[i + 1])
                      : lm_options_set(&p.options, spec, kv[i], v, NULL);
        if (rc != LM_OK) fail_msg("option %s: %s", kv[i], lm_error_message());
    }
    lm_searcher *s = NULL;
    if (lm_searcher_create("pbt", &p, &s) != LM_OK) fail_msg("create: %s", lm_error_message());
    return s;
}

static void psim_init(psim *m, lm_searcher *s, int n_hp, int P) {
    memset(m, 0, sizeof *m);
    assert_true(P >= 1 && P <= PW_MAX);
    m->s = s;
    m->P = P;
    m->curve_world = 11;
    m->time_world = 12;
    m->jitter = 0.5;
    for (int w = 0; w < P; w++) m->busy[w] = -1;
    assert_int_equal(lm_trials_init(&m->t, n_hp), LM_OK);
}

static void psim_fini(psim *m) {
    lm_searcher_destroy(&m->s);
    lm_trials_fini(&m->t);
    free(m->w);
    free(m->kept);
    free(m->nrep);
    memset(m, 0, sizeof *m);
}

/* The controller drops kept states of trials that can no longer resume. */
static void psim_drop_stale(psim *m) {
    for (int i = 0; i < m->t.n && i < m->cap; i++)
        if (m->kept[i] && m->t.v[i].status != LM_TRIAL_PAUSED) m->kept[i] = 0;
}

static void psim_dispatch(psim *m) {
    for (int w = 0; w < m->P && !m->done; w++) {
        if (m->busy[w] >= 0) continue;
        lm_job j;
        if (lm_searcher_next_job(m->s, &m->t, &j) != LM_OK)
            fail_msg("next_job: %s", lm_error_message());
        psim_grow(m);
        if (j.kind == LM_JOB_DONE) {
            m->done = 1;
            break;
        }
        if (j.kind == LM_JOB_WAIT) {
            int running = 0, paused = 0;
            for (int v = 0; v < m->P; v++) running += m->busy[v] >= 0;
            if (!running) fail_msg("pbt waits while nothing runs");
            for (int i = 0; i < m->t.n; i++) paused += m->t.v[i].status == LM_TRIAL_PAUSED;
            m->n_waits++;
            m->waits_with_paused += paused > 0;
            break;
        }
        lm_trial *tr = lm_trials_get(&m->t, j.trial_id);
        assert_non_null(tr);
        if (j.kind == LM_JOB_NEW) {
            assert_int_equal(tr->status, LM_TRIAL_PENDING);
            assert_int_equal(tr->epochs, 0);
            m->w[j.trial_id] = 0;
            m->n_new++;
        } else if (j.kind == LM_JOB_RESUME) {
            assert_int_equal(tr->status, LM_TRIAL_PAUSED);
            if (!m->kept[j.trial_id]) fail_msg("resume of trial %d without a kept state", j.trial_id);
            m->kept[j.trial_id] = 0;
            m->n_resume++;
        } else {
            assert_int_equal(j.kind, LM_JOB_CLONE);
            assert_int_equal(tr->status, LM_TRIAL_PENDING);
            const lm_trial *d = lm_trials_get(&m->t, j.donor);
            assert_non_null(d);
            assert_int_not_equal(j.donor, j.trial_id);
            if (!m->kept[j.donor] || d->status != LM_TRIAL_PAUSED)
                fail_msg("clone of trial %d from trial %d, whose state is not kept (%s)",
                         j.trial_id, j.donor, lm_trial_status_name(d->status));
            tr->epochs = d->epochs; /* as the controller does */
            m->w[j.trial_id] = m->w[j.donor];
            m->n_clone++;
        }
        assert_true(j.epochs > tr->epochs);
        tr->status = LM_TRIAL_RUNNING;
        tr->worker = w + 1;
        tr->epochs_target = j.epochs;
        m->busy[w] = j.trial_id;
        m->t_next[w] = m->now + epoch_time(m, j.trial_id, tr->epochs + 1);
    }
    psim_drop_stale(m);
}

/* One event: the earliest report (ties to the lower worker). 0 when the run is over. */
static int psim_step(psim *m) {
    psim_dispatch(m);
    int w = -1, running = 0;
    for (int v = 0; v < m->P; v++) {
        running += m->busy[v] >= 0;
        if (m->busy[v] >= 0 && (w < 0 || m->t_next[v] < m->t_next[w])) w = v;
    }
    if (w < 0) {
        assert_true(m->done);
        return 0;
    }
    m->busy_steps += running;
    m->idle_steps += m->P - running;
    int paused = 0;
    for (int i = 0; i < m->t.n; i++) paused += m->t.v[i].status == LM_TRIAL_PAUSED;
    if (paused) m->idle_paused_steps += m->P - running;
    m->steps++;
    m->now = m->t_next[w];
    int id = m->busy[w];
    lm_trial *tr = lm_trials_get(&m->t, id);
    lm_report r;
    memset(&r, 0, sizeof r);
    r.trial_id = id;
    r.epoch = tr->epochs + 1;
    m->w[id] += gain(tr->hp);
    r.val_accuracy = m->flat ? 0.95 + 5 * noise(m, id, r.epoch)
                             : 1 - 0.9 * exp(-m->w[id]) + noise(m, id, r.epoch);
    r.val_loss = 1 - r.val_accuracy;
    r.train_loss = r.val_loss;
    r.seconds = epoch_time(m, id, r.epoch);
    r.params = 1000;
    r.failed = m->fail_mod > 0 && id % m->fail_mod == m->fail_rem && m->nrep[id] == 0;
    if (r.failed) snprintf(r.reason, sizeof r.reason, "diverged (test)");
    m->nrep[id]++;
    if (lm_trials_record(&m->t, &r, m->now) != LM_OK) fail_msg("record: %s", lm_error_message());
    tr = lm_trials_get(&m->t, id);
    lm_decision d = {LM_DECIDE_STOP};
    if (!r.failed) d = lm_searcher_on_report(m->s, &m->t, &r);
    if (d.kind == LM_DECIDE_PAUSE && tr->status == LM_TRIAL_DONE)
        tr->status = LM_TRIAL_RUNNING; /* until its state is kept */
    int ends = r.failed || d.kind != LM_DECIDE_CONTINUE || r.epoch == tr->epochs_target;
    if (!ends) {
        m->t_next[w] = m->now + epoch_time(m, id, r.epoch + 1);
        return 1;
    }
    int keep = d.kind == LM_DECIDE_PAUSE && !(m->unkept_mod > 0 && id % m->unkept_mod == 1);
    if (keep) {
        tr->status = LM_TRIAL_PAUSED;
        m->kept[id] = 1;
    } else if (tr->status == LM_TRIAL_RUNNING) {
        tr->status = LM_TRIAL_DONE;
        tr->t_end = m->now;
    }
    m->busy[w] = -1;
    lm_searcher_on_end(m->s, &m->t, id);
    psim_drop_stale(m);
    return 1;
}

static void psim_run(psim *m, int max_steps) {
    while (m->steps < max_steps && psim_step(m)) {
    }
}

/* Continues m's run in b from a checkpoint of m's searcher and table. */
static void psim_fork(psim *m, psim *b, lm_searcher *fresh) {
    lm_state_mem *st;
    assert_int_equal(lm_state_mem_create(&st), LM_OK);
    lm_state_writer w = lm_state_mem_writer(st);
    lm_state_reader r = lm_state_mem_reader(st);
    assert_int_equal(lm_searcher_save(m->s, &w), LM_OK);
    assert_int_equal(lm_trials_save(&m->t, &w, "trials"), LM_OK);
    psim_init(b, fresh, m->t.n_hp, m->P);
    if (lm_searcher_load(b->s, &r) != LM_OK) fail_msg("load: %s", lm_error_message());
    assert_int_equal(lm_trials_load(&b->t, &r, "trials"), LM_OK);
    lm_state_mem_destroy(&st);
    b->curve_world = m->curve_world;
    b->time_world = m->time_world;
    b->jitter = m->jitter;
    b->fail_mod = m->fail_mod;
    b->fail_rem = m->fail_rem;
    b->unkept_mod = m->unkept_mod;
    memcpy(b->busy, m->busy, sizeof b->busy);
    memcpy(b->t_next, m->t_next, sizeof b->t_next);
    b->now = m->now;
    b->done = m->done;
    b->steps = m->steps;
    psim_grow(b);
    memcpy(b->w, m->w, (size_t)m->t.n * sizeof *b->w);
    memcpy(b->kept, m->kept, (size_t)m->t.n * sizeof *b->kept);
    memcpy(b->nrep, m->nrep, (size_t)m->t.n * sizeof *b->nrep);
}

/* lr (log) and momentum, which explore changes, and depth, which it may not. */
static lm_space *run_space(void) {
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 1, 1), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "momentum", 0.5, 0.99, 0), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "depth", 1, 4, 0), LM_OK);
    return sp;
}

/* The trial a member's chain ends with: its highest id. */
static int last_of_member(const lm_trials *t, int member) {
    int last = -1;
    for (int i = 0; i < t->n; i++)
        if (t->v[i].member == member) last = i;
    return last;
}

/* The curve row of (trial, epoch), or NULL. */
static const lm_curve_row *row_of(const lm_trials *t, int id, int epoch) {
    for (size_t k = 0; k < t->n_curves; k++)
        if (t->curves[k].trial_id == id && t->curves[k].epoch == epoch) return &t->curves[k];
    return NULL;
}

/* Everything the event table promises, checked against the table. */
static void check_events(const psim *m, int N, int epochs) {
    const lm_trials *t = &m->t;
    int n_hp = t->n_hp;
    for (size_t k = 0; k < t->n_pbt; k++) {
        const lm_pbt_event *e = &t->pbt[k];
        const lm_trial *tr = &t->v[e->trial], *d = &t->v[e->donor], *prev = &t->v[e->prev_trial];
        assert_true(e->member >= 0 && e->member < N);
        assert_int_equal(tr->member, e->member);
        assert_int_equal(prev->member, e->member);
        assert_int_equal(d->member, e->donor_member);
        assert_int_not_equal(e->donor_member, e->member);
        assert_true(e->donor < e->trial && e->prev_trial < e->trial);
        assert_int_equal(tr->parent[0], e->donor);
        assert_int_equal(tr->origin, LM_ORIGIN_MUTATED);
        assert_int_equal(tr->generation, d->generation + 1);
        /* the donor had reached the epoch it donated at, before the event */
        const lm_curve_row *dr = row_of(t, e->donor, e->epoch);
        assert_non_null(dr);
        assert_true(dr->t <= e->t);
        assert_true(e->epoch >= 1 && e->epoch < epochs);
        assert_true(e->epoch >= e->prev_epoch); /* weights never go back in epochs */
        /* the new trial's epochs continue from there */
        int first = epochs + 1;
        for (size_t c = 0; c < t->n_curves; c++)
            if (t->curves[c].trial_id == e->trial && t->curves[c].epoch < first)
                first = t->curves[c].epoch;
        if (tr->status != LM_TRIAL_FAILED || tr->epochs > e->epoch) assert_int_equal(first, e->epoch + 1);
        assert_true(row_of(t, e->trial, e->epoch) == NULL);
        /* the member's previous trial is over */
        assert_true(prev->status == LM_TRIAL_STOPPED || prev->status == LM_TRIAL_FAILED);
        if (prev->status == LM_TRIAL_STOPPED)
            assert_true(strstr(prev->reason, "exploited") || strstr(prev->reason, "not kept"));
        assert_int_equal(e->prev_epoch, prev->epochs);
        /* before = the donor's point, after = the new trial's; depth never explored */
        assert_memory_equal(lm_trials_pbt_hp(t, k, 0), d->hp, (size_t)n_hp * sizeof(double));
        assert_memory_equal(lm_trials_pbt_hp(t, k, 1), tr->hp, (size_t)n_hp * sizeof(double));
        assert_true(tr->hp[2] == d->hp[2]);
        if (k) assert_true(t->pbt[k - 1].t <= e->t);
    }
    /* every trial is a member's; every member's chain ends done at the budget (or dead) */
    for (int i = 0; i < t->n; i++) {
        assert_true(t->v[i].member >= 0 && t->v[i].member < N);
        assert_true(t->v[i].status != LM_TRIAL_PAUSED && t->v[i].status != LM_TRIAL_RUNNING &&
                    t->v[i].status != LM_TRIAL_PENDING);
    }
    for (int j = 0; j < N; j++) {
        int last = last_of_member(t, j);
        assert_true(last >= 0);
        if (t->v[last].status == LM_TRIAL_DONE) assert_int_equal(t->v[last].epochs, epochs);
    }
    /* trials are the N first ones plus one per event */
    assert_int_equal((size_t)t->n, (size_t)N + t->n_pbt);
}

/* ---- runs ---- */

/* Ready points every k epochs, never at the budget's end; without exploits each member
 * is one trial paused and resumed. */
static void test_ready_epochs(void **state) {
    (void)state;
    lm_space *sp = run_space();
    const char *kv[] = {"population", "4", "ready_epochs", "3", "fraction", "0", NULL};
    psim m;
    psim_init(&m, make_pbt(sp, 1, 10, kv), 3, 4);
    psim_run(&m, 100000);
    assert_true(m.done);
    assert_int_equal(m.t.n, 4);
    assert_int_equal(m.n_new, 4);
    assert_int_equal(m.n_resume, 4 * 3); /* paused after 3, 6 and 9 */
    assert_int_equal(m.n_clone, 0);
    assert_int_equal(m.t.n_pbt, 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(m.t.v[i].status, LM_TRIAL_DONE);
        assert_int_equal(m.t.v[i].epochs, 10);
        assert_int_equal(m.t.v[i].member, i);
    }
    psim_fini(&m);

    /* Every PAUSE answer comes at a multiple of k; with exploits too. */
    const char *kv2[] = {"population", "6", "ready_epochs", "4", NULL};
    psim_init(&m, make_pbt(sp, 2, 18, kv2), 3, 3);
    int pauses = 0;
    while (psim_step(&m)) {
        for (int i = 0; i < m.t.n; i++)
            if (m.t.v[i].status == LM_TRIAL_PAUSED) {
                assert_int_equal(m.t.v[i].epochs % 4, 0);
                assert_true(m.t.v[i].epochs < 18);
                pauses++;
            }
    }
    assert_true(pauses > 0);
    assert_true(m.n_clone > 0);
    check_events(&m, 6, 18);
    for (size_t k = 0; k < m.t.n_pbt; k++) assert_int_equal(m.t.pbt[k].epoch % 4, 0);
    psim_fini(&m);

    /* ready_seconds: epochs of exactly 1 s, ready after 2.5 s of training since the last
     * ready point: epochs 3, 6, 9 of 10 */
    const char *kv3[] = {"population", "3", "ready_seconds", "2.5", "fraction", "0", NULL};
    psim_init(&m, make_pbt(sp, 3, 10, kv3), 3, 3);
    m.jitter = 0;
    psim_run(&m, 100000);
    assert_int_equal(m.n_resume, 3 * 3);
    for (size_t k = 0; k < m.t.n_curves; k++) assert_true(m.t.curves[k].seconds == 1);
    psim_fini(&m);
    lm_space_destroy(&sp);
}

/* More members than workers: members take turns, every one trains the whole budget. */
static void test_population_larger(void **state) {
    (void)state;
    lm_space *sp = run_space();
    const char *kv[] = {"population", "12", "ready_epochs", "2", NULL};
    psim m;
    psim_init(&m, make_pbt(sp, 4, 24, kv), 3, 3);
    psim_run(&m, 1000000);
    assert_true(m.done);
    check_events(&m, 12, 24);
    assert_true(m.t.n_pbt >= 10);
    /* 12 members x 24 epochs trained in all, on 3 workers */
    long epochs = 0;
    for (int j = 0; j < 12; j++) {
        int last = last_of_member(&m.t, j);
        assert_int_equal(m.t.v[last].status, LM_TRIAL_DONE);
    }
    for (int i = 0; i < m.t.n; i++) epochs += m.t.v[i].epochs;
    assert_true(epochs >= 12 * 24);
    /* asynchronous with 4 members per worker: workers almost never idle */
    assert_true(m.idle_steps <= m.busy_steps / 20);
    /* PBT works on this model: the final members' lr moved towards 0.05 */
    double before = 0, after = 0;
    for (int j = 0; j < 12; j++) {
        before += fabs(log(m.t.v[j].hp[0] / 0.05));
        after += fabs(log(m.t.v[last_of_member(&m.t, j)].hp[0] / 0.05));
    }
    assert_true(after < 0.4 * before);
    psim_fini(&m);
    lm_space_destroy(&sp);
}

/* Asynchronous mode never answers WAIT while a member could run. Without exploits
 * every paused member can resume: a WAIT then means no trial is paused. */
static void test_async_no_wait(void **state) {
    (void)state;
    lm_space *sp = run_space();
    const char *kv[] = {"population", "8", "ready_epochs", "1", "fraction", "0", NULL};
    psim m;
    psim_init(&m, make_pbt(sp, 5, 9, kv), 3, 3);
    psim_run(&m, 1000000);
    assert_true(m.done);
    assert_int_equal(m.waits_with_paused, 0);
    assert_int_equal(m.n_resume, 8 * 8);
    psim_fini(&m);
    /* tournament, 16 members on 4 workers */
    const char *kv2[] = {"population", "16", "ready_epochs", "2", "exploit", "tournament", NULL};
    psim_init(&m, make_pbt(sp, 6, 10, kv2), 3, 4);
    psim_run(&m, 1000000);
    assert_true(m.done);
    check_events(&m, 16, 10);
    assert_true(m.t.n_pbt > 0);
    /* A member that copies a running donor waits for the donor's next pause; with four
     * members per worker others run meanwhile. */
    assert_true(m.idle_paused_steps <= m.busy_steps / 10);
    psim_fini(&m);
    /* One member per worker: async waits only for donors, sync for every member. */
    long idle[2], busy[2];
    for (int sync = 0; sync < 2; sync++) {
        const char *kv3[] = {"population", "8", "ready_epochs", "2", "mode", sync ? "sync" : "async", NULL};
        psim_init(&m, make_pbt(sp, 13, 20, kv3), 3, 8);
        m.jitter = 1;
        psim_run(&m, 1000000);
        assert_true(m.done);
        check_events(&m, 8, 20);
        idle[sync] = m.idle_steps;
        busy[sync] = m.busy_steps;
        psim_fini(&m);
    }
    assert_true(idle[0] * busy[1] < idle[1] * busy[0]);
    lm_space_destroy(&sp);
}

/* Members at different epochs on saturated accuracy: a member never copies one behind
 * it, so every chain gains epochs and the run ends after at most one exploit per ready
 * point. */
static void test_no_regress(void **state) {
    (void)state;
    lm_space *sp = run_space();
    const char *kv[] = {"population", "10", "ready_epochs", "3", NULL};
    const char *kv_t[] = {"population", "10", "ready_epochs", "3", "exploit", "tournament", NULL};
    for (int v = 0; v < 2; v++) {
        psim m;
        psim_init(&m, make_pbt(sp, 14, 30, v ? kv_t : kv), 3, 2);
        m.flat = 1;
        psim_run(&m, 1000000);
        assert_true(m.done);
        check_events(&m, 10, 30);
        assert_true(m.t.n_pbt > 0);
        assert_true(m.t.n <= 10 + 10 * 9);
        psim_fini(&m);
    }
    lm_space_destroy(&sp);
}

/* Two tables hold the same run: trials, points, lineage, statuses, events; curves by
 * (trial, epoch). */
static void same_run(const lm_trials *a, const lm_trials *b, int with_times) {
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const lm_trial *x = &a->v[i], *y = &b->v[i];
        assert_int_equal(x->status, y->status);
        assert_int_equal(x->epochs, y->epochs);
        assert_int_equal(x->member, y->member);
        assert_int_equal(x->parent[0], y->parent[0]);
        assert_true(x->mutated == y->mutated);
        assert_string_equal(x->reason, y->reason);
        assert_memory_equal(x->hp, y->hp, (size_t)a->n_hp * sizeof *x->hp);
        assert_memory_equal(&x->final_val_accuracy, &y->final_val_accuracy, sizeof(double));
    }
    assert_int_equal(a->n_curves, b->n_curves);
    for (size_t k = 0; k < a->n_curves; k++) {
        const lm_curve_row *r = &a->curves[k];
        const lm_curve_row *q = row_of(b, r->trial_id, r->epoch);
        assert_non_null(q);
        assert_true(r->val_accuracy == q->val_accuracy);
        if (with_times) assert_true(r->t == q->t);
    }
    assert_int_equal(a->n_pbt, b->n_pbt);
    for (size_t k = 0; k < a->n_pbt; k++) {
        const lm_pbt_event *e = &a->pbt[k], *f = &b->pbt[k];
        assert_int_equal(e->trial, f->trial);
        assert_int_equal(e->donor, f->donor);
        assert_int_equal(e->member, f->member);
        assert_int_equal(e->epoch, f->epoch);
        assert_int_equal(e->prev_trial, f->prev_trial);
        assert_true(e->score == f->score && e->donor_score == f->donor_score);
        if (with_times) assert_true(e->t == f->t);
        assert_memory_equal(lm_trials_pbt_hp(a, k, 0), lm_trials_pbt_hp(b, k, 0),
                            2 * (size_t)a->n_hp * sizeof(double));
    }
}

/* Sync mode: all members are decided together, so the run does not depend on the order
 * of reports (other epoch times, other worker counts). */
static void test_sync_deterministic(void **state) {
    (void)state;
    lm_space *sp = run_space();
    const char *kv[] = {"population", "8", "ready_epochs", "2", "mode", "sync", NULL};
    psim a, b, c;
    psim_init(&a, make_pbt(sp, 7, 12, kv), 3, 3);
    psim_init(&b, make_pbt(sp, 7, 12, kv), 3, 5);
    b.time_world = 99;
    b.jitter = 3;
    psim_init(&c, make_pbt(sp, 7, 12, kv), 3, 8);
    c.time_world = 1234;
    psim_run(&a, 1000000);
    psim_run(&b, 1000000);
    psim_run(&c, 1000000);
    assert_true(a.n_clone > 0);
    check_events(&a, 8, 12);
    same_run(&a.t, &b.t, 0);
    same_run(&a.t, &c.t, 0);
    /* every exploit happens at a round: the ready epochs, all members decided at once */
    for (size_t k = 0; k < a.t.n_pbt; k++) {
        assert_int_equal(a.t.pbt[k].epoch % 2, 0);
        assert_int_equal(a.t.pbt[k].prev_epoch, a.t.pbt[k].epoch);
    }
    /* with 8 members and q = 0.25: exactly 2 exploit per round, 5 rounds (2..10): the 2
     * lowest scores of the round, each from one of the 2 highest */
    assert_int_equal(a.t.n_pbt, 2 * 5);
    for (int e = 2; e <= 10; e += 2) {
        double score[8];
        for (int j = 0; j < 8; j++) {
            score[j] = NAN;
            for (size_t k = 0; k < a.t.n_curves; k++) {
                const lm_curve_row *r = &a.t.curves[k];
                if (r->epoch == e && a.t.v[r->trial_id].member == j) {
                    assert_true(isnan(score[j])); /* one trial per member per epoch */
                    score[j] = r->val_accuracy;
                }
            }
            assert_false(isnan(score[j]));
        }
        int rank[8]; /* rank[j]: members that rank before j */
        for (int j = 0; j < 8; j++) {
            rank[j] = 0;
            for (int q = 0; q < 8; q++)
                rank[j] += score[q] > score[j] || (score[q] == score[j] && q < j);
        }
        int n = 0;
        for (size_t k = 0; k < a.t.n_pbt; k++) {
            const lm_pbt_event *ev = &a.t.pbt[k];
            if (ev->epoch != e) continue;
            n++;
            assert_true(rank[ev->member] >= 6);
            assert_true(rank[ev->donor_member] < 2);
            assert_true(ev->score == score[ev->member]);
            assert_true(ev->donor_score == score[ev->donor_member]);
        }
        assert_int_equal(n, 2);
    }
    /* async with the same report orders differs (it decides as reports come) */
    psim_fini(&a);
    psim_fini(&b);
    psim_fini(&c);
    lm_space_destroy(&sp);
}

/* save/load at many points of a run continues it exactly. */
static void fork_everywhere(const lm_space *sp, const char *const *kv, int P) {
    psim ref;
    psim_init(&ref, make_pbt(sp, 8, 10, kv), 3, P);
    ref.fail_mod = 9;
    ref.fail_rem = 4;
    psim_run(&ref, 1000000);
    assert_true(ref.done);
    assert_true(ref.t.n_pbt > 0);
    int total = ref.steps;
    for (int at = 1; at < total; at += 5) {
        psim a, b;
        psim_init(&a, make_pbt(sp, 8, 10, kv), 3, P);
        a.fail_mod = 9;
        a.fail_rem = 4;
        psim_run(&a, at);
        psim_fork(&a, &b, make_pbt(sp, 8, 10, kv));
        psim_run(&b, 1000000);
        assert_true(b.done);
        same_run(&ref.t, &b.t, 1);
        psim_fini(&a);
        psim_fini(&b);
    }
    psim_fini(&ref);
}

static void test_save_load(void **state) {
    (void)state;
    lm_space *sp = run_space();
    const char *kv[] = {"population", "7", "ready_epochs", "2", NULL};
    const char *kv_t[] = {"population", "7", "exploit", "tournament", "explore", "resample",
                          "resample_prob", "0.5", NULL};
    const char *kv_s[] = {"population", "7", "ready_epochs", "3", "mode", "sync", NULL};
    fork_everywhere(sp, kv, 3);
    fork_everywhere(sp, kv_t, 7);
    fork_everywhere(sp, kv_s, 2);
    psim ref;
    psim_init(&ref, make_pbt(sp, 8, 10, kv), 3, 3);
    psim_run(&ref, 1000000);
    /* a checkpoint of another population or mode is refused */
    lm_state_mem *st;
    assert_int_equal(lm_state_mem_create(&st), LM_OK);
    lm_state_writer w = lm_state_mem_writer(st);
    lm_state_reader r = lm_state_mem_reader(st);
    assert_int_equal(lm_searcher_save(ref.s, &w), LM_OK);
    const char *kv_pop[] = {"population", "8", "ready_epochs", "2", NULL};
    lm_searcher *other = make_pbt(sp, 8, 10, kv_pop);
    lm_error_clear();
    assert_int_equal(lm_searcher_load(other, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "population"));
    lm_searcher_destroy(&other);
    const char *kv_sync[] = {"population", "7", "mode", "sync", NULL};
    other = make_pbt(sp, 8, 10, kv_sync);
    assert_int_equal(lm_searcher_load(other, &r), LM_ECKPT);
    lm_searcher_destroy(&other);
    /* a corrupt member state is refused, and leaves the searcher as it was */
    int32_t bad[7] = {1, 1, 1, 1, 1, 1, 42};
    assert_int_equal(lm_state_put(&w, "searcher/state", LM_DT_I32, 7, bad), LM_OK);
    other = make_pbt(sp, 8, 10, kv);
    lm_error_clear();
    assert_int_equal(lm_searcher_load(other, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "member 6"));
    lm_searcher_destroy(&other);
    lm_error_clear();
    lm_state_mem_destroy(&st);
    psim_fini(&ref);
    lm_space_destroy(&sp);
}

/* A member whose trial fails copies a donor (score -inf); one that cannot is dead. */
static void test_failures(void **state) {
    (void)state;
    lm_space *sp = run_space();
    const char *kv[] = {"population", "6", "ready_epochs", "2", NULL};
    psim m;
    psim_init(&m, make_pbt(sp, 10, 10, kv), 3, 3);
    m.fail_mod = 5;
    m.fail_rem = 2; /* trials 2, 7, 12, ... fail in their first epoch */
    psim_run(&m, 1000000);
    assert_true(m.done);
    assert_int_equal(m.t.v[2].status, LM_TRIAL_FAILED);
    int rescued = 0;
    for (size_t k = 0; k < m.t.n_pbt; k++)
        if (m.t.pbt[k].score == -INFINITY) {
            rescued++;
            assert_int_equal(m.t.v[m.t.pbt[k].prev_trial].status, LM_TRIAL_FAILED);
        }
    assert_true(rescued > 0);
    check_events(&m, 6, 10);
    psim_fini(&m);

    /* states lost at pauses: the trial is stopped and the member copies another */
    psim_init(&m, make_pbt(sp, 11, 10, kv), 3, 3);
    m.unkept_mod = 4;
    psim_run(&m, 1000000);
    assert_true(m.done);
    assert_int_equal(m.t.v[1].status, LM_TRIAL_STOPPED);
    assert_non_null(strstr(m.t.v[1].reason, "not kept"));
    check_events(&m, 6, 10);
    psim_fini(&m);

    /* a population of one has nobody to copy: its failed member dies, the search ends */
    const char *kv1[] = {"population", "1", NULL};
    psim_init(&m, make_pbt(sp, 12, 6, kv1), 3, 2);
    m.fail_mod = 1;
    m.fail_rem = 0;
    psim_run(&m, 1000);
    assert_true(m.done);
    assert_int_equal(m.t.n, 1);
    assert_int_equal(m.t.v[0].status, LM_TRIAL_FAILED);
    psim_fini(&m);
    lm_space_destroy(&sp);
}

/* The pbt event table: validation, save and load. */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_epochs),
        cmocka_unit_test(test_population_larger),
        cmocka_unit_test(test_async_no_wait),
        cmocka_unit_test(test_no_regress),
        cmocka_unit_test(test_sync_deterministic),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
