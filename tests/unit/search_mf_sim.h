/* A fake controller for the multi-fidelity searcher tests: P simulated workers, a
 * fake clock, synthetic learning curves (val accuracy a_i (1 - exp(-epoch / tau_i))),
 * no MPI. It follows src/exec/controller.c: it asks next_job whenever a worker is free,
 * records every report in the table, asks the searcher and then the stopper, marks a
 * trial stopped on STOP before its target, and ends the job (on_end) after its last
 * report; a job ended by PAUSE leaves the trial PAUSED (its state kept), unless the
 * test makes the worker lose it (unkept_mod), when it ends DONE as in the controller.
 * Every job and decision goes to a log, so that runs can be compared.
 *
 * Included by the test files (static functions only); needs cmocka included first. */
#ifndef LAMARCK_TEST_SEARCH_MF_SIM_H
#define LAMARCK_TEST_SEARCH_MF_SIM_H

#include "lamarck/error.h"
#include "lamarck/rng.h"
#include "lamarck/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_WORKERS_MAX 16

enum { LOG_JOB = 1, LOG_REPORT = 2, LOG_END = 3 };

typedef struct sim_resume {
    int trial, epochs_before, epochs_after;
} sim_resume;

typedef struct sim {
    lm_searcher *s;
    lm_stopper *stopper;         /* NULL: none */
    lm_trials t;
    int P;
    int busy[SIM_WORKERS_MAX];   /* trial per worker, -1 when free */
    double t_next[SIM_WORKERS_MAX];
    double now;
    int done, steps;
    /* the world */
    uint64_t world;              /* seed of the curves and epoch times */
    int slow_trial;              /* its epochs take slow_factor times longer; -1: none */
    double slow_factor;
    int fail_mod, fail_rem, fail_epoch;   /* trials id % mod == rem fail at fail_epoch */
    int unkept_mod;              /* trials id % mod == 1 lose their state when paused */
    /* what happened */
    int *log;
    size_t n_log, cap_log;
    sim_resume *resumes;
    int n_resumes, cap_resumes;
    int n_waits;
    int forked;                  /* continued from a checkpoint: the logs start there */
} sim;

/* The synthetic curve of trial id: a in [0.5, 0.99], tau in [0.5, 30] epochs. */
static inline double sim_value(const sim *m, int id, int epoch) {
    lm_rng r;
    lm_rng_init(&r, m->world, (uint64_t)id, 11);
    double a = 0.5 + 0.49 * lm_rng_uniform(&r);
    double tau = 0.5 + 29.5 * lm_rng_uniform(&r);
    return a * (1 - exp(-epoch / tau));
}

static inline double sim_epoch_time(const sim *m, int id) {
    lm_rng r;
    lm_rng_init(&r, m->world, (uint64_t)id, 12);
    double t = 1.0 + 0.5 * lm_rng_uniform(&r);
    return id == m->slow_trial ? t * m->slow_factor : t;
}

static inline void sim_log(sim *m, int a, int b, int c, int d) {
    if (m->n_log + 4 > m->cap_log) {
        m->cap_log = m->cap_log ? 2 * m->cap_log : 4096;
        m->log = realloc(m->log, m->cap_log * sizeof *m->log);
        assert_non_null(m->log);
    }
    m->log[m->n_log++] = a;
    m->log[m->n_log++] = b;
    m->log[m->n_log++] = c;
    m->log[m->n_log++] = d;
}

static inline void sim_init(sim *m, lm_searcher *s, int n_hp, int P, uint64_t world) {
    memset(m, 0, sizeof *m);
    assert_true(P >= 1 && P <= SIM_WORKERS_MAX);
    m->s = s;
    m->P = P;
    m->world = world;
    m->slow_trial = -1;
    m->slow_factor = 1;
    m->fail_mod = 0;
    for (int w = 0; w < P; w++) m->busy[w] = -1;
    assert_int_equal(lm_trials_init(&m->t, n_hp), LM_OK);
}

static inline void sim_fini(sim *m) {
    lm_searcher_destroy(&m->s);
    lm_stopper_destroy(&m->stopper);
    lm_trials_fini(&m->t);
    free(m->log);
    free(m->resumes);
    memset(m, 0, sizeof *m);
}

static inline int sim_running(const sim *m) {
    int n = 0;
    for (int w = 0; w < m->P; w++) n += m->busy[w] >= 0;
    return n;
}

/* Hands out jobs to free workers, as the controller's dispatch does. */
static inline void sim_dispatch(sim *m) {
    for (int w = 0; w < m->P && !m->done; w++) {
        if (m->busy[w] >= 0) continue;
        lm_job j;
        int rc = lm_searcher_next_job(m->s, &m->t, &j);
        if (rc != LM_OK) fail_msg("next_job: %s", lm_error_message());
        sim_log(m, LOG_JOB, (int)j.kind, j.trial_id, j.epochs);
        if (j.kind == LM_JOB_DONE) {
            m->done = 1;
            break;
        }
        if (j.kind == LM_JOB_WAIT) {
            if (sim_running(m) == 0) fail_msg("searcher waits while nothing runs");
            m->n_waits++;
            break;
        }
        lm_trial *tr = lm_trials_get(&m->t, j.trial_id);
        assert_non_null(tr);
        for (int v = 0; v < m->P; v++) assert_int_not_equal(m->busy[v], j.trial_id);
        if (j.kind == LM_JOB_NEW) {
            assert_int_equal(tr->status, LM_TRIAL_PENDING);
            assert_int_equal(tr->epochs, 0);
        } else {
            assert_int_equal(j.kind, LM_JOB_RESUME);
            assert_int_equal(tr->status, LM_TRIAL_PAUSED);
            assert_true(j.epochs > tr->epochs);
            if (m->n_resumes == m->cap_resumes) {
                m->cap_resumes = m->cap_resumes ? 2 * m->cap_resumes : 256;
                m->resumes = realloc(m->resumes, (size_t)m->cap_resumes * sizeof *m->resumes);
                assert_non_null(m->resumes);
            }
            m->resumes[m->n_resumes++] = (sim_resume){j.trial_id, tr->epochs, j.epochs};
        }
        assert_true(j.epochs >= 1);
        tr->status = LM_TRIAL_RUNNING;
        tr->worker = w + 1;
        tr->epochs_target = j.epochs;
        m->busy[w] = j.trial_id;
        m->t_next[w] = m->now + sim_epoch_time(m, j.trial_id);
    }
}

/* One event: the earliest report (ties to the lower worker). 0 when the run is over. */
static inline int sim_step(sim *m) {
    sim_dispatch(m);
    int w = -1;
    for (int v = 0; v < m->P; v++)
        if (m->busy[v] >= 0 && (w < 0 || m->t_next[v] < m->t_next[w])) w = v;
    if (w < 0) {
        assert_true(m->done);
        return 0;
    }
    m->steps++;
    m->now = m->t_next[w];
    int id = m->busy[w];
    lm_trial *tr = lm_trials_get(&m->t, id);
    lm_report r;
    memset(&r, 0, sizeof r);
    r.trial_id = id;
    r.epoch = tr->epochs + 1;
    r.val_accuracy = sim_value(m, id, r.epoch);
    r.val_loss = 1 - r.val_accuracy;
    r.train_loss = r.val_loss;
    r.train_accuracy = r.val_accuracy;
    r.seconds = sim_epoch_time(m, id);
    r.params = 1000;
    r.failed = m->fail_mod > 0 && id % m->fail_mod == m->fail_rem && r.epoch == m->fail_epoch;
    if (r.failed) snprintf(r.reason, sizeof r.reason, "diverged (test)");
    if (lm_trials_record(&m->t, &r, m->now) != LM_OK) fail_msg("record: %s", lm_error_message());
    tr = lm_trials_get(&m->t, id);
    lm_decision d = {LM_DECIDE_STOP};
    if (!r.failed) d = lm_searcher_on_report(m->s, &m->t, &r);
    if (!r.failed && d.kind == LM_DECIDE_CONTINUE && m->stopper)
        d = m->stopper->ops->on_report(m->stopper, &m->t, &r);
    sim_log(m, LOG_REPORT, id, r.epoch, (int)d.kind);
    if (d.kind == LM_DECIDE_STOP && !r.failed && tr->epochs < tr->epochs_target)
        tr->status = LM_TRIAL_STOPPED;
    else if (d.kind == LM_DECIDE_PAUSE && tr->status == LM_TRIAL_DONE)
        tr->status = LM_TRIAL_RUNNING; /* until its state is kept */
    int ends = r.failed || d.kind != LM_DECIDE_CONTINUE || r.epoch == tr->epochs_target;
    if (!ends) {
        m->t_next[w] = m->now + sim_epoch_time(m, id);
        return 1;
    }
    /* The final message: paused with the state kept, or the job's end. */
    int kept = d.kind == LM_DECIDE_PAUSE && !(m->unkept_mod > 0 && id % m->unkept_mod == 1);
    if (kept) tr->status = LM_TRIAL_PAUSED;
    else if (tr->status == LM_TRIAL_RUNNING) tr->status = LM_TRIAL_DONE;
    tr->t_end = m->now;
    m->busy[w] = -1;
    lm_searcher_on_end(m->s, &m->t, id);
    sim_log(m, LOG_END, id, tr->epochs, (int)tr->status);
    return 1;
}

static inline void sim_run(sim *m, int max_steps) {
    while (m->steps < max_steps && sim_step(m)) {
    }
}

static inline lm_searcher *sim_searcher(const char *name, const lm_space *sp, uint64_t seed,
                                        int max_trials, int epochs, const lm_options *o) {
    lm_search_params p = {.space = sp, .seed = seed, .max_trials = max_trials, .epochs = epochs};
    if (o) p.options = *o;
    lm_searcher *s = NULL;
    if (lm_searcher_create(name, &p, &s) != LM_OK)
        fail_msg("lm_searcher_create(%s): %s", name, lm_error_message());
    return s;
}

/* Continues m's run in b from a checkpoint of m's searcher, stopper and table; b gets
 * a fresh searcher (and stopper) of the same kind, the same world and workers. */
static inline void sim_fork(sim *m, sim *b, lm_searcher *fresh, lm_stopper *fresh_stopper) {
    lm_state_mem *st;
    assert_int_equal(lm_state_mem_create(&st), LM_OK);
    lm_state_writer w = lm_state_mem_writer(st);
    lm_state_reader r = lm_state_mem_reader(st);
    assert_int_equal(lm_searcher_save(m->s, &w), LM_OK);
    if (m->stopper) assert_int_equal(m->stopper->ops->save(m->stopper, &w), LM_OK);
    assert_int_equal(lm_trials_save(&m->t, &w, "trials"), LM_OK);
    sim_init(b, fresh, m->t.n_hp, m->P, m->world);
    b->stopper = fresh_stopper;
    if (lm_searcher_load(b->s, &r) != LM_OK) fail_msg("load: %s", lm_error_message());
    if (b->stopper) assert_int_equal(b->stopper->ops->load(b->stopper, &r), LM_OK);
    assert_int_equal(lm_trials_load(&b->t, &r, "trials"), LM_OK);
    memcpy(b->busy, m->busy, sizeof b->busy);
    memcpy(b->t_next, m->t_next, sizeof b->t_next);
    b->now = m->now;
    b->done = m->done;
    b->forked = 1;
    b->slow_trial = m->slow_trial;
    b->slow_factor = m->slow_factor;
    b->fail_mod = m->fail_mod;
    b->fail_rem = m->fail_rem;
    b->fail_epoch = m->fail_epoch;
    b->unkept_mod = m->unkept_mod;
    lm_state_mem_destroy(&st);
}

/* Two tables hold the same trials, curves and promotions. */
static inline void sim_same_tables(const lm_trials *a, const lm_trials *b) {
    assert_int_equal(a->n, b->n);
    for (int i = 0; i < a->n; i++) {
        const lm_trial *x = &a->v[i], *y = &b->v[i];
        assert_int_equal(x->status, y->status);
        assert_int_equal(x->epochs, y->epochs);
        assert_int_equal(x->epochs_target, y->epochs_target);
        assert_int_equal(x->bracket, y->bracket);
        assert_int_equal(x->rung, y->rung);
        assert_string_equal(x->reason, y->reason);
        assert_memory_equal(x->hp, y->hp, (size_t)a->n_hp * sizeof *x->hp);
    }
    assert_int_equal(a->n_curves, b->n_curves);
    assert_int_equal(a->n_promotions, b->n_promotions);
    for (size_t k = 0; k < a->n_promotions; k++) {
        const lm_promotion *p = &a->promotions[k], *q = &b->promotions[k];
        assert_int_equal(p->trial_id, q->trial_id);
        assert_int_equal(p->bracket, q->bracket);
        assert_int_equal(p->from_rung, q->from_rung);
        assert_int_equal(p->to_rung, q->to_rung);
        assert_int_equal(p->epoch, q->epoch);
        assert_true(p->t == q->t);
    }
}

/* A space of two floats: points only need to exist. */
static inline lm_space *sim_space(void) {
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 0.3, 1), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "momentum", 0.5, 0.99, 0), LM_OK);
    return sp;
}

#endif
