/* The replay transport: the controller's workers are simulated, and a trial's epochs
 * are the ones a learning-curve meta-dataset recorded for the architecture its point
 * designates. Events (an epoch's report, a job's end) wait in a binary heap ordered by
 * virtual time, ties broken by the order they were scheduled, so poll() is O(log W)
 * and a replay with the same inputs is the same run. */
#include "exec/controller.h"
#include "exec/rundir.h"
#include "exec/transport.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"
#include "lamarck/hash.h"
#include "lamarck/log.h"
#include "lamarck/meta.h"
#include "lamarck/strutil.h"
#include "lamarck/timer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { EV_REPORT, EV_FINAL } event_kind;

typedef struct event {
    double t;
    uint64_t seq;            /* scheduling order: breaks ties in t */
    int worker;
    event_kind kind;
} event;

typedef enum { W_IDLE, W_TRAINING, W_DECIDING, W_ENDING } worker_state;

typedef struct sim_worker {
    worker_state state;
    int trial;
    int arch;
    int epoch;               /* epochs the trial has done, on this job's curve */
    int target;              /* epochs the job asked for */
    int resumed;             /* the next report is the first after a resumption */
    int failed;              /* the last report was failed */
    int paused;              /* the job ends with a PAUSE */
} sim_worker;

typedef struct replay_transport {
    lm_transport base;
    const lm_meta *meta;
    int dataset;
    int arch_hp;             /* index of arch_index in the space */
    double clock;
    uint64_t seq;
    sim_worker *w;
    event *heap;
    int n_heap;              /* at most one event per worker: capacity n_workers */
    int *trial_epochs;       /* epochs each trial has done (by trial id) */
    int cap_trials;
    int n_trials;            /* highest trial id started + 1 */
    long jobs, reports;
    double busy;
    int best_trial;          /* the trial that reported best_val */
    double best_val;
} replay_transport;

/* ---- the event heap ---- */

static int before(const event *a, const event *b) {
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(replay_transport *r, double t, int worker, event_kind kind) {
    int i = r->n_heap++;
    event e = {t, r->seq++, worker, kind};
    while (i > 0 && before(&e, &r->heap[(i - 1) / 2])) {
        r->heap[i] = r->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    r->heap[i] = e;
}

static event heap_pop(replay_transport *r) {
    event top = r->heap[0], last = r->heap[--r->n_heap];
    int i = 0;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= r->n_heap) break;
        if (c + 1 < r->n_heap && before(&r->heap[c + 1], &r->heap[c])) c++;
        if (!before(&r->heap[c], &last)) break;
        r->heap[i] = r->heap[c];
        i = c;
    }
    if (r->n_heap > 0) r->heap[i] = last;
    return top;
}

/* ---- the recorded curves ---- */

static float recorded(const replay_transport *r, int metric, int arch, int epoch) {
    return r->meta->curves[metric][lm_meta_index(r->meta, r->dataset, arch, epoch)];
}

/* Whether epoch (0-based) of arch is in the file: the metrics a report carries and a
 * decision needs. */
static int epoch_present(const replay_transport *r, int arch, int epoch) {
    if (epoch >= r->meta->epochs) return 0;
    return !isnan(recorded(r, LM_META_VAL_ACCURACY, arch, epoch)) &&
           !isnan(recorded(r, LM_META_VAL_LOSS, arch, epoch)) &&
           !isnan(recorded(r, LM_META_TRAIN_LOSS, arch, epoch)) &&
           recorded(r, LM_META_SECONDS, arch, epoch) >= 0; /* NaN fails too */
}

/* Schedules the worker's next epoch: at its recorded duration from now, or now when it
 * is missing (the report then fails the trial). */
static void schedule_epoch(replay_transport *r, int w) {
    sim_worker *s = &r->w[w];
    double dt = epoch_present(r, s->arch, s->epoch) ? recorded(r, LM_META_SECONDS, s->arch, s->epoch)
                                                    : 0.0;
    s->state = W_TRAINING;
    heap_push(r, r->clock + dt, w, EV_REPORT);
}

/* The stand-in for a kept snapshot's checksum: the trial and where it stopped (never
 * 0, which means "not resumed"). */
static uint64_t snap_checksum(int trial, int epochs) {
    int v[2] = {trial, epochs};
    return lm_fnv1a64(LM_FNV1A64_INIT, v, sizeof v) | 1;
}

static int ensure_trial(replay_transport *r, int id) {
    if (id < r->cap_trials) return LM_OK;
    int cap = r->cap_trials ? r->cap_trials : 1024;
    while (cap <= id) cap *= 2;
    int *v = realloc(r->trial_epochs, (size_t)cap * sizeof *v);
    LM_CHECK_ALLOC(v);
    for (int i = r->cap_trials; i < cap; i++) v[i] = 0;
    r->trial_epochs = v;
    r->cap_trials = cap;
    return LM_OK;
}

/* ---- the transport ---- */

static int rp_start(lm_transport *t, int worker, const lm_job *job, const double *hp,
                    int holder) {
    replay_transport *r = (replay_transport *)t;
    (void)holder; /* every simulated worker can continue any recorded curve */
    sim_worker *s = &r->w[worker];
    LM_CHECK(s->state == W_IDLE, LM_EINTERNAL, "simulated worker %d already busy", worker);
    LM_CHECK(job->kind != LM_JOB_CLONE, LM_ECONFIG,
             "replay cannot clone trial %d into trial %d: a recorded curve has no weights to "
             "copy (PBT needs real training)",
             job->donor, job->trial_id);
    LM_CHECK(job->trial_id >= 0, LM_EINTERNAL, "trial id %d", job->trial_id);
    double a = hp[r->arch_hp];
    LM_CHECK(!isnan(a) && a >= 0 && a <= r->meta->n_archs - 1 && a == floor(a), LM_ECONFIG,
             "trial %d: arch_index %g is not an architecture of the meta-dataset (0 to %d)",
             job->trial_id, a, r->meta->n_archs - 1);
    LM_CALL(ensure_trial(r, job->trial_id));
    s->trial = job->trial_id;
    s->arch = (int)a;
    s->epoch = job->kind == LM_JOB_RESUME ? r->trial_epochs[job->trial_id] : 0;
    s->target = job->epochs;
    s->resumed = job->kind == LM_JOB_RESUME;
    s->failed = s->paused = 0;
    r->jobs++;
    if (job->trial_id >= r->n_trials) r->n_trials = job->trial_id + 1;
    schedule_epoch(r, worker);
    return LM_OK;
}

static int rp_poll(lm_transport *t, lm_msg *out) {
    replay_transport *r = (replay_transport *)t;
    memset(out, 0, sizeof *out);
    if (r->n_heap == 0) return LM_OK;
    event e = heap_pop(r);
    r->clock = e.t;
    sim_worker *s = &r->w[e.worker];
    out->worker = e.worker;
    if (e.kind == EV_FINAL) {
        out->kind = LM_MSG_FINAL;
        out->final.trial_id = s->trial;
        out->final.test_accuracy = out->final.test_loss = NAN;
        if (s->paused) {
            out->paused = 1;
            out->checksum = snap_checksum(s->trial, s->epoch);
        } else if (s->epoch > 0 && !s->failed) {
            out->final.test_accuracy = recorded(r, LM_META_TEST_ACCURACY, s->arch, s->epoch - 1);
            out->final.test_loss = recorded(r, LM_META_TEST_LOSS, s->arch, s->epoch - 1);
        }
        s->state = W_IDLE;
        return LM_OK;
    }
    lm_report *rep = &out->report;
    out->kind = LM_MSG_REPORT;
    rep->trial_id = s->trial;
    rep->epoch = s->epoch + 1;
    rep->params = r->meta->params[s->arch];
    rep->flops = r->meta->flops[s->arch];
    rep->latency = NAN;
    rep->train_accuracy = NAN;
    if (s->resumed) out->resumed_checksum = snap_checksum(s->trial, s->epoch);
    s->resumed = 0;
    if (!epoch_present(r, s->arch, s->epoch)) {
        rep->failed = 1;
        rep->train_loss = rep->val_loss = rep->val_accuracy = NAN;
        rep->seconds = 0;
        snprintf(rep->reason, sizeof rep->reason,
                 "epoch %d of architecture %d on '%s' is missing from the meta-dataset",
                 s->epoch + 1, s->arch, r->meta->dataset_names[r->dataset]);
        s->failed = 1;
    } else {
        rep->train_loss = recorded(r, LM_META_TRAIN_LOSS, s->arch, s->epoch);
        rep->val_loss = recorded(r, LM_META_VAL_LOSS, s->arch, s->epoch);
        rep->val_accuracy = recorded(r, LM_META_VAL_ACCURACY, s->arch, s->epoch);
        rep->seconds = recorded(r, LM_META_SECONDS, s->arch, s->epoch);
        r->busy += rep->seconds;
        if (r->best_trial < 0 || rep->val_accuracy > r->best_val) {
            r->best_trial = s->trial;
            r->best_val = rep->val_accuracy;
        }
        s->epoch++;
        r->trial_epochs[s->trial] = s->epoch;
    }
    r->reports++;
    s->state = W_DECIDING;
    return LM_OK;
}

static int rp_decide(lm_transport *t, int worker, lm_decision d) {
    replay_transport *r = (replay_transport *)t;
    sim_worker *s = &r->w[worker];
    LM_CHECK(s->state == W_DECIDING, LM_EINTERNAL,
             "decision for simulated worker %d, which has no report waiting", worker);
    if (d.kind == LM_DECIDE_CONTINUE && !s->failed && s->epoch < s->target) {
        schedule_epoch(r, worker);
        return LM_OK;
    }
    s->paused = d.kind == LM_DECIDE_PAUSE && !s->failed;
    s->state = W_ENDING;
    heap_push(r, r->clock, worker, EV_FINAL);
    return LM_OK;
}

static int rp_drop(lm_transport *t, int holder, int trial) {
    (void)t, (void)holder, (void)trial; /* nothing is kept but the epoch count */
    return LM_OK;
}

static int rp_begin_checkpoint(lm_transport *t, long seq) {
    (void)t, (void)seq; /* the controller writes no checkpoints with a virtual clock */
    return LM_OK;
}

static int rp_shutdown(lm_transport *t) {
    (void)t;
    return LM_OK;
}

static void rp_destroy(lm_transport *t) {
    replay_transport *r = (replay_transport *)t;
    if (!r) return;
    free(r->w);
    free(r->heap);
    free(r->trial_epochs);
    free(r);
}

static double rp_now(const lm_transport *t) { return ((const replay_transport *)t)->clock; }

static const lm_transport_ops replay_ops = {rp_start,    rp_poll,     rp_decide, rp_drop,
                                           rp_begin_checkpoint, rp_shutdown, rp_destroy};

static int replay_create(const lm_meta *m, int dataset, int arch_hp, int n_workers,
                         lm_transport **out) {
    replay_transport *r = calloc(1, sizeof *r);
    LM_CHECK_ALLOC(r);
    r->w = calloc((size_t)n_workers, sizeof *r->w);
    r->heap = malloc((size_t)n_workers * sizeof *r->heap);
    if (!r->w || !r->heap) {
        rp_destroy(&r->base);
        LM_FAIL(LM_ENOMEM, "out of memory for %d simulated workers", n_workers);
    }
    r->base.ops = &replay_ops;
    r->base.n_workers = n_workers;
    r->base.virtual_now = rp_now;
    r->meta = m;
    r->dataset = dataset;
    r->arch_hp = arch_hp;
    r->best_trial = -1;
    r->best_val = NAN;
    *out = &r->base;
    return LM_OK;
}

/* ---- the entry point ---- */

lm_replay_options lm_replay_options_default(void) {
    lm_replay_options o;
    memset(&o, 0, sizeof o);
    o.n_workers = 1;
    return o;
}

/* The dataset's index in m, or LM_ECONFIG listing the file's datasets. */
static int find_dataset(const lm_meta *m, const char *where, const char *name, int *out) {
    LM_CHECK(name && name[0], LM_ECONFIG, "replay: no dataset given (one of %s's)", where);
    *out = lm_meta_find_dataset(m, name);
    if (*out >= 0) return LM_OK;
    char list[512] = "";
    size_t used = 0;
    for (int d = 0; d < m->n_datasets && used < sizeof list; d++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", d ? ", " : "",
                                 m->dataset_names[d]);
    const char *near = lm_str_closest(name, (const char *const *)m->dataset_names, m->n_datasets);
    char hint[128] = "";
    if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    LM_FAIL(LM_ECONFIG, "replay: %s has no dataset '%s'%s; it has %s", where, name, hint, list);
}

/* Checks that the config can be replayed on m; sets the arch_index column. */
static int check_config(const lm_config *cfg, const lm_meta *m, const char *where, int *arch_hp) {
    int i = lm_space_find(cfg->space, "arch_index");
    LM_CHECK(i >= 0, LM_ECONFIG,
             "replay: the space has no 'arch_index' (an int hyperparameter choosing the "
             "architecture: a row of %s, 0 to %d)",
             where, m->n_archs - 1);
    const lm_hp *h = lm_space_hp(cfg->space, i);
    LM_CHECK(h->kind == LM_HP_INT, LM_ECONFIG,
             "replay: space.arch_index must be an int hyperparameter (0 to %d)", m->n_archs - 1);
    LM_CHECK(h->low >= 0 && h->high <= m->n_archs - 1, LM_ECONFIG,
             "replay: space.arch_index ranges over [%g, %g], but %s has %d architectures (0 to %d)",
             h->low, h->high, where, m->n_archs, m->n_archs - 1);
    LM_CHECK(h->parent < 0, LM_ECONFIG,
             "replay: space.arch_index must always be active (it has a 'when' condition)");
    LM_CHECK(cfg->train.epochs <= m->epochs, LM_ECONFIG,
             "replay: the config trains %d epochs, but %s records %d", cfg->train.epochs, where,
             m->epochs);
    *arch_hp = i;
    return LM_OK;
}

int lm_exec_replay(const lm_config *cfg, const lm_replay_options *o, lm_replay_info *info) {
    double t0 = lm_time_now(), cpu0 = lm_time_cpu();
    LM_CHECK(o->n_workers >= 1 && o->n_workers <= LM_REPLAY_WORKERS_MAX, LM_ECONFIG,
             "replay: %d workers, 1 to %d expected", o->n_workers, LM_REPLAY_WORKERS_MAX);
    LM_CHECK(o->meta || o->meta_path, LM_EINVAL, "replay: no meta-dataset given");
    lm_meta loaded;
    memset(&loaded, 0, sizeof loaded);
    const lm_meta *m = o->meta;
    const char *where = o->meta_path ? o->meta_path : "the meta-dataset";
    if (!m) {
        LM_CALL(lm_meta_read(o->meta_path, &loaded));
        m = &loaded;
    }
    lm_transport *t = NULL;
    int dataset = -1, arch_hp = -1, rc;
    LM_CALL_GOTO(rc, find_dataset(m, where, o->dataset, &dataset), out);
    LM_CALL_GOTO(rc, check_config(cfg, m, where, &arch_hp), out);
    LM_CALL_GOTO(rc, lm__rundir_prepare(cfg->output, cfg->overwrite, cfg, o->command_line,
                                        o->version, 1), out);
    char results[4200];
    snprintf(results, sizeof results, "%s/results.h5", cfg->output);
    LM_CALL_GOTO(rc, replay_create(m, dataset, arch_hp, o->n_workers, &t), out);
    lm_log_info("replay of %s on '%s' (%d architectures, %d epochs recorded) with %d simulated "
                "workers",
                where, o->dataset, m->n_archs, m->epochs, o->n_workers);
    lm_run_info run;
    memset(&run, 0, sizeof run);
    run.config = cfg;
    run.command_line = o->command_line ? o->command_line : "";
    run.version = o->version ? o->version : "?";
    run.n_ranks = 1;
    rc = lm__controller_run(cfg, t, results, &run, NULL);
    if (info && (rc == LM_OK || rc == LM_EINTR)) {
        const replay_transport *r = (const replay_transport *)t;
        memset(info, 0, sizeof *info);
        info->trials = r->n_trials;
        info->jobs = r->jobs;
        info->reports = r->reports;
        info->makespan = r->clock;
        info->busy_seconds = r->busy;
        info->utilization = r->clock > 0 ? r->busy / ((double)o->n_workers * r->clock) : 0;
        info->wall_seconds = lm_time_now() - t0;
        info->cpu_seconds = lm_time_cpu() - cpu0;
        info->best_trial = r->best_trial;
        info->best_val_accuracy = r->best_val;
    }
    if (rc < 0 && rc != LM_EINTR) lm_error_trace(__FILE__, __LINE__, __func__, rc);
out:
    if (t) t->ops->destroy(t);
    lm_meta_free(&loaded);
    return rc;
}
