/* The controller's event loop on rank 0. It never waits on one worker: it polls the
 * transport for any message and sleeps with a backoff when there is none, so that a
 * rank sharing a node with workers costs them almost nothing. */
#include "exec/controller_impl.h"
#include "exec/mpi_wait.h"
#include "exec/protocol.h"
#include "exec/signals.h"
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/timer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The run's clock: the transport's when it simulates one (replay), else the wall's. */
double lm__ctl_now(const controller *c) {
    return c->tr->virtual_now ? c->tr->virtual_now(c->tr) : lm_time_now() - c->t0;
}

static double now(const controller *c) { return lm__ctl_now(c); }

/* Progress lines and results rewrites are paced in real time, whatever the run's clock. */
static double wall(const controller *c) { return lm_time_now() - c->t0; }

static void format_duration(double s, char *buf, size_t cap) {
    if (!isfinite(s) || s < 0) {
        snprintf(buf, cap, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", t / 60, t % 60);
}

static void progress(controller *c) {
    int done = lm_trials_count(&c->trials, LM_TRIAL_DONE) + lm_trials_count(&c->trials, LM_TRIAL_STOPPED);
    int failed = lm_trials_count(&c->trials, LM_TRIAL_FAILED);
    int best = lm_trials_best(&c->trials);
    double el = now(c);
    /* Remaining work in epochs: unstarted planned trials in full, running ones' rest;
     * for PBT, what the population's budget has left. */
    long remaining = (c->planned_trials - c->trials.n) * (long)c->cfg->train.epochs;
    if (remaining < 0) remaining = 0;
    for (int w = 0; w < c->tr->n_workers; w++)
        if (c->running[w] >= 0) {
            const lm_trial *t = &c->trials.v[c->running[w]];
            remaining += t->epochs_target - t->epochs;
        }
    if (!strcmp(c->cfg->algorithm, "pbt")) {
        long members = (long)lm_options_get(&c->cfg->search_options,
                                            lm_searcher_options("pbt"), "population");
        remaining = members * c->cfg->train.epochs - c->epochs_done;
        if (remaining < 0) remaining = 0;
    }
    double eta = c->epochs_done > 0 ? el / (double)c->epochs_done * (double)remaining : NAN;
    char e1[32], e2[32], bestbuf[64] = "-";
    format_duration(el, e1, sizeof e1);
    format_duration(eta, e2, sizeof e2);
    if (best >= 0)
        snprintf(bestbuf, sizeof bestbuf, "%.4f (trial %d)", c->trials.v[best].best_val_accuracy, best);
    char total[32] = "";
    if (strcmp(c->cfg->algorithm, "pbt") != 0) snprintf(total, sizeof total, "/%ld", c->planned_trials);
    lm_log_info("progress: trials %d%s done, %d running, %d failed | best val_accuracy %s | "
                "elapsed %s | ETA %s",
                done, total, c->n_running, failed, bestbuf, e1, e2);
    c->next_progress = wall(c) + c->cfg->progress_interval;
}

int lm__ctl_write_results(controller *c, int complete) {
    c->info->wall_seconds = now(c);
    c->info->rank0_cpu_seconds = lm_time_cpu() - c->cpu0;
    c->info->idle_worker_seconds = c->idle_seconds;
    c->info->snapshot_transfers = c->transfers;
    c->info->snapshot_local = c->local_resumes;
    c->info->complete = complete;
    LM_CALL(lm_io_results_write(c->results_path, c->info, &c->trials));
    c->last_write = wall(c);
    c->dirty = 0;
    return LM_OK;
}

int lm__ctl_ensure_trials(controller *c) {
    if (c->trials.n <= c->cap_trials) return LM_OK;
    int cap = c->cap_trials ? c->cap_trials : 64;
    while (cap < c->trials.n) cap *= 2;
    int *h = realloc(c->holder, (size_t)cap * sizeof *h);
    if (h) c->holder = h;
    uint64_t *k = h ? realloc(c->kept_checksum, (size_t)cap * sizeof *k) : NULL;
    if (k) c->kept_checksum = k;
    LM_CHECK(h && k, LM_ENOMEM, "out of memory");
    for (int i = c->cap_trials; i < cap; i++) {
        c->holder[i] = -1;
        c->kept_checksum[i] = 0;
    }
    c->cap_trials = cap;
    return LM_OK;
}

/* Hands out jobs while workers are free and the searcher has some. A resumed trial goes
 * to the worker that holds its snapshot when that one is free, so that nothing moves. */
static int dispatch(controller *c) {
    for (int w = 0; w < c->tr->n_workers && !c->quiescing; w++) {
        if (c->running[w] >= 0) continue;
        lm_job job;
        if (c->n_int > 0) {
            /* A job a checkpoint interrupted: the searcher still counts it as running. */
            c->n_int--;
            job = (lm_job){LM_JOB_RESUME, c->int_trial[c->n_int], c->int_epochs[c->n_int], -1};
        } else if (c->search_done) {
            break;
        } else {
            LM_CALL(lm_searcher_next_job(c->searcher, &c->trials, &job));
        }
        if (job.kind == LM_JOB_DONE) {
            c->search_done = 1;
            break;
        }
        if (job.kind == LM_JOB_WAIT) {
            LM_CHECK(c->n_running > 0, LM_EINTERNAL,
                     "searcher '%s' waits while no trial is running", c->cfg->algorithm);
            break;
        }
        LM_CALL(lm__ctl_ensure_trials(c));
        lm_trial *t = lm_trials_get(&c->trials, job.trial_id);
        LM_CHECK(t, LM_EINTERNAL, "searcher returned unknown trial %d", job.trial_id);
        int target = w, holder = -1;
        if (job.kind == LM_JOB_RESUME) {
            holder = c->holder[job.trial_id];
            LM_CHECK(holder >= 0, LM_EINTERNAL,
                     "searcher '%s' resumes trial %d, which has no kept snapshot",
                     c->cfg->algorithm, job.trial_id);
            if (c->running[holder] < 0) target = holder;
            if (target == holder) c->local_resumes++;
            else c->transfers++;
            c->holder[job.trial_id] = -1;
        } else if (job.kind == LM_JOB_CLONE) {
            /* A new trial from a copy of the donor's state: it continues the donor's epoch
             * count, and its first report must show the donor's snapshot arrived whole. */
            const lm_trial *d = lm_trials_get(&c->trials, job.donor);
            LM_CHECK(d && job.donor != job.trial_id && c->holder[job.donor] >= 0, LM_EINTERNAL,
                     "searcher '%s' clones trial %d from trial %d, which has no kept snapshot",
                     c->cfg->algorithm, job.trial_id, job.donor);
            holder = c->holder[job.donor];
            if (c->running[holder] < 0) target = holder;
            if (target == holder) c->local_resumes++;
            else c->transfers++;
            /* A morphed clone is a new model that counts its own epochs from 0. */
            if (t->morph.kind == LM_MORPH_NONE) t->epochs = d->epochs;
            c->kept_checksum[job.trial_id] = c->kept_checksum[job.donor];
        }
        t->status = LM_TRIAL_RUNNING;
        t->worker = lm__transport_rank(c->tr, target);
        t->epochs_target = job.epochs;
        if (job.kind != LM_JOB_RESUME) t->t_start = now(c);
        /* A clone's morph travels after its point (protocol.h). */
        double hp[LM_HP_MAX + LM__MORPH_VALUES];
        memcpy(hp, t->hp, (size_t)c->trials.n_hp * sizeof *hp);
        lm__morph_pack(&t->morph, hp + c->trials.n_hp);
        LM_CALL(c->tr->ops->start(c->tr, target, &job, hp, holder));
        c->idle_seconds += now(c) - c->free_since[target];
        c->running[target] = job.trial_id;
        c->n_running++;
        if (target != w) w--; /* w is still free */
    }
    return LM_OK;
}

/* Tells holders to forget snapshots of trials that can no longer resume. */
static int drop_stale(controller *c) {
    /* Simulated workers keep nothing to drop, and this scan of every trial at every
     * event would make a replay of 100,000 trials quadratic. */
    if (c->tr->virtual_now) return LM_OK;
    for (int id = 0; id < c->trials.n && id < c->cap_trials; id++) {
        if (c->holder[id] < 0 || c->trials.v[id].status == LM_TRIAL_PAUSED) continue;
        LM_CALL(c->tr->ops->drop(c->tr, c->holder[id], id));
        c->holder[id] = -1;
    }
    return LM_OK;
}

static int on_report(controller *c, const lm_msg *m) {
    const lm_report *r = &m->report;
    LM_CHECK(c->running[m->worker] == r->trial_id, LM_EINTERNAL,
             "report for trial %d from a worker running trial %d", r->trial_id,
             c->running[m->worker]);
    if (m->resumed_checksum) {
        /* The weights the trial resumed from are the ones it paused with, bit for bit. */
        LM_CHECK(m->resumed_checksum == c->kept_checksum[r->trial_id], LM_EINTERNAL,
                 "trial %d resumed from a snapshot with checksum %016llx, but paused with %016llx",
                 r->trial_id, (unsigned long long)m->resumed_checksum,
                 (unsigned long long)c->kept_checksum[r->trial_id]);
        lm_log_debug("trial %d resumed on rank %d at epoch %d (snapshot %016llx verified)",
                     r->trial_id, lm__transport_rank(c->tr, m->worker), r->epoch,
                     (unsigned long long)m->resumed_checksum);
    }
    LM_CALL(lm_trials_record(&c->trials, r, now(c)));
    if (!r->failed) c->epochs_done++;
    lm_decision d = {LM_DECIDE_STOP};
    if (!r->failed) d = lm_searcher_on_report(c->searcher, &c->trials, r);
    /* The stopping rule may cut short what the searcher would continue. */
    if (!r->failed && d.kind == LM_DECIDE_CONTINUE && c->stopper)
        d = c->stopper->ops->on_report(c->stopper, &c->trials, r);
    lm_trial *tq = lm_trials_get(&c->trials, r->trial_id);
    if (c->quiescing && !r->failed && d.kind == LM_DECIDE_CONTINUE && tq->epochs < tq->epochs_target) {
        /* A checkpoint is due: keep the trial's state and continue it afterwards. */
        d.kind = LM_DECIDE_PAUSE;
        LM_CALL(lm__ctl_interrupt(c, r->trial_id, tq->epochs_target));
    }
    lm_log_debug("trial %d epoch %d: val_accuracy %.4f val_loss %.4f (%.2fs)", r->trial_id,
                 r->epoch, r->val_accuracy, r->val_loss, r->seconds);
    LM_CALL(c->tr->ops->decide(c->tr, m->worker, d));
    lm_trial *t = lm_trials_get(&c->trials, r->trial_id);
    if (d.kind == LM_DECIDE_STOP && !r->failed && t->epochs < t->epochs_target)
        t->status = LM_TRIAL_STOPPED;
    else if (d.kind == LM_DECIDE_PAUSE && !r->failed && t->status == LM_TRIAL_DONE)
        t->status = LM_TRIAL_RUNNING; /* until its state is kept: see on_final */
    c->dirty = 1;
    return LM_OK;
}

static int on_final(controller *c, const lm_msg *m) {
    const lm_final *f = &m->final;
    LM_CHECK(c->running[m->worker] == f->trial_id, LM_EINTERNAL,
             "final for trial %d from a worker running trial %d", f->trial_id,
             c->running[m->worker]);
    lm_trial *t = lm_trials_get(&c->trials, f->trial_id);
    c->running[m->worker] = -1;
    c->free_since[m->worker] = now(c);
    c->n_running--;
    if (m->paused) {
        /* The trial waits, its state kept by this worker, until the searcher resumes it
         * (or clones it). One kept at its last epoch was tested before it paused. */
        t->status = LM_TRIAL_PAUSED;
        if (!isnan(f->test_accuracy)) {
            t->test_accuracy = f->test_accuracy;
            t->test_loss = f->test_loss;
        }
        c->holder[f->trial_id] = m->worker;
        c->kept_checksum[f->trial_id] = m->checksum;
        if (!lm__ctl_is_interrupted(c, f->trial_id))
            lm_searcher_on_end(c->searcher, &c->trials, f->trial_id);
        LM_CALL(drop_stale(c));
        lm_log_debug("trial %d paused after %d epochs (%llu bytes kept on rank %d)", t->id,
                     t->epochs, (unsigned long long)m->bytes, lm__transport_rank(c->tr, m->worker));
        c->dirty = 1;
        return LM_OK;
    }
    t->test_accuracy = f->test_accuracy;
    t->test_loss = f->test_loss;
    t->t_end = now(c);
    if (t->status == LM_TRIAL_RUNNING) t->status = LM_TRIAL_DONE;
    lm_searcher_on_end(c->searcher, &c->trials, f->trial_id);
    LM_CALL(drop_stale(c));

    char hp[512];
    lm_space_format(c->cfg->space, t->hp, hp, sizeof hp);
    if (t->status == LM_TRIAL_FAILED)
        lm_log_info("trial %d failed after %d epochs: %s | %s", t->id, t->epochs, t->reason, hp);
    else
        lm_log_info("trial %d %s after %d epochs: val_accuracy %.4f (its peak %.4f) | %s", t->id,
                    lm_trial_status_name(t->status), t->epochs, t->final_val_accuracy,
                    t->best_val_accuracy, hp);
    c->dirty = 1;
    if (wall(c) - c->last_write >= RESULTS_WRITE_INTERVAL) LM_CALL(lm__ctl_write_results(c, 0));
    return LM_OK;
}

/* Trials the search will start, for progress and ETA (a cap, or one pass of brackets). */
static long planned_trials(const lm_config *cfg) {
    if (!strcmp(cfg->algorithm, "grid")) {
        long n = lm_space_grid_count(cfg->space);
        return cfg->trials > 0 && cfg->trials < n ? cfg->trials : n;
    }
    if (cfg->trials == 0 && (!strcmp(cfg->algorithm, "hyperband") || !strcmp(cfg->algorithm, "bohb"))) {
        lm_hb_bracket b[LM_HB_RUNGS_MAX];
        int eta = (int)lm_options_get(&cfg->search_options, lm_searcher_options(cfg->algorithm), "eta");
        int table = (int)lm_options_get(&cfg->search_options, lm_searcher_options(cfg->algorithm),
                                        "rounding");
        int n = lm_hyperband_table(cfg->train.epochs, eta > 1 ? eta : 3, table, b, LM_HB_RUNGS_MAX);
        long sum = 0;
        for (int s = 0; s < n; s++) sum += b[s].n[0];
        return sum;
    }
    return cfg->trials;
}

/* Starts a checkpoint on a signal or when the interval is up; writes it once every
 * running trial has paused. Returns 1 when the run must stop after it. */
static int checkpoints(controller *c) {
    if (c->tr->virtual_now) {
        /* Nothing to keep: a signal just ends the replay (results are still written). */
        if (lm__signal_pending()) {
            lm_log_info("signal received: stopping the replay");
            return 1;
        }
        return 0;
    }
    int sig = lm__signal_pending();
    if (sig && !c->exit_after) {
        lm_log_info("signal %d received: pausing trials at their next epoch to checkpoint and stop",
                    sig);
        c->quiescing = c->exit_after = 1;
    }
    if (!c->quiescing && c->cfg->checkpoint_interval > 0 && now(c) >= c->next_ckpt &&
        (c->n_running > 0 || c->n_int > 0)) {
        lm_log_debug("checkpoint due: pausing trials at their next epoch");
        c->quiescing = 1;
    }
    if (!c->quiescing || c->n_running > 0) return 0;
    LM_CALL(lm__ctl_checkpoint(c, 0));
    c->quiescing = 0;
    c->next_ckpt = now(c) + c->cfg->checkpoint_interval;
    return c->exit_after;
}

static int loop(controller *c) {
    lm__backoff b;
    lm__backoff_reset(&b);
    for (;;) {
        int stop = checkpoints(c);
        LM_CALL(stop);
        if (stop) return LM_EINTR;
        LM_CALL(dispatch(c));
        /* The searcher may have ended paused trials while handing out work. */
        LM_CALL(drop_stale(c));
        if (c->n_running == 0 && c->n_int == 0 && !c->quiescing) break;
        lm_msg m;
        LM_CALL(c->tr->ops->poll(c->tr, &m));
        if (m.kind == LM_MSG_REPORT) LM_CALL(on_report(c, &m));
        else if (m.kind == LM_MSG_FINAL) LM_CALL(on_final(c, &m));
        if (wall(c) >= c->next_progress) {
            progress(c);
            if (c->dirty && wall(c) - c->last_write >= RESULTS_WRITE_INTERVAL)
                LM_CALL(lm__ctl_write_results(c, 0));
        }
        if (m.kind != LM_MSG_NONE) lm__backoff_reset(&b);
        else if (!c->tr->inline_work && !c->tr->virtual_now) lm__backoff_sleep(&b);
    }
    return LM_OK;
}

static void summary(controller *c) {
    int best = lm_trials_best(&c->trials);
    char el[32];
    format_duration(now(c), el, sizeof el);
    double cpu = lm_time_cpu() - c->cpu0, wall = now(c);
    lm_log_info("finished %d trials (%d done, %d stopped, %d failed) in %s; rank 0 CPU %.1f s of "
                "%.1f s wall (%.1f%%)",
                c->trials.n, lm_trials_count(&c->trials, LM_TRIAL_DONE),
                lm_trials_count(&c->trials, LM_TRIAL_STOPPED),
                lm_trials_count(&c->trials, LM_TRIAL_FAILED), el, cpu, wall,
                wall > 0 ? 100.0 * cpu / wall : 0.0);
    double worker_time = wall * c->tr->n_workers;
    lm_log_info("workers idle %.1f s of %.1f s (%.1f%%) waiting for work; kept states resumed: "
                "%ld in place, %ld sent between workers",
                c->idle_seconds, worker_time, worker_time > 0 ? 100.0 * c->idle_seconds / worker_time : 0.0,
                c->local_resumes, c->transfers);
    if (best < 0) {
        lm_log_info("no trial finished successfully");
        return;
    }
    const lm_trial *t = &c->trials.v[best];
    char hp[512];
    lm_space_format(c->cfg->space, t->hp, hp, sizeof hp);
    lm_log_info("best: trial %d, val_accuracy %.4f, test_accuracy %.4f | %s", best,
                t->best_val_accuracy, t->test_accuracy, hp);
    if (isnan(t->test_accuracy)) {
        /* Stopped early (or continued as a copy): only finished trials are tested. */
        int done = -1;
        for (int i = 0; i < c->trials.n; i++)
            if (c->trials.v[i].status == LM_TRIAL_DONE &&
                (done < 0 || c->trials.v[i].best_val_accuracy > c->trials.v[done].best_val_accuracy))
                done = i;
        if (done >= 0) {
            lm_space_format(c->cfg->space, c->trials.v[done].hp, hp, sizeof hp);
            lm_log_info("best finished trial: %d, val_accuracy %.4f, test_accuracy %.4f | %s", done,
                        c->trials.v[done].best_val_accuracy, c->trials.v[done].test_accuracy, hp);
        }
    }
    lm_log_info("results: %s (lamarck report %s)", c->results_path, c->results_path);
}

int lm__controller_run(const lm_config *cfg, lm_transport *t, const char *results_path,
                       lm_run_info *info, const lm_resume *resume) {
    controller c;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.tr = t;
    c.results_path = results_path;
    c.info = info;
    c.t0 = lm_time_now();
    c.cpu0 = lm_time_cpu();
    c.planned_trials = planned_trials(cfg);
    lm_search_params sp = {.space = cfg->space, .seed = cfg->seed, .max_trials = cfg->trials,
                           .epochs = cfg->train.epochs, .options = cfg->search_options};
    int rc = LM_OK;
    LM_CALL(lm_trials_init(&c.trials, lm_space_size(cfg->space)));
    c.running = malloc((size_t)t->n_workers * sizeof *c.running);
    if (!c.running) {
        lm_trials_fini(&c.trials);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    c.free_since = calloc((size_t)t->n_workers, sizeof *c.free_since);
    if (!c.free_since) {
        free(c.running);
        lm_trials_fini(&c.trials);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    for (int w = 0; w < t->n_workers; w++) c.running[w] = -1;
    LM_CALL_GOTO(rc, lm_searcher_create(cfg->algorithm, &sp, &c.searcher), out);
    LM_CALL_GOTO(rc, lm_stopper_set_model_path(cfg->stopping_model), out);
    LM_CALL_GOTO(rc, lm_stopper_create(cfg->stopping, &cfg->stopping_options, &c.stopper), out);
    if (resume) LM_CALL_GOTO(rc, lm__ctl_restore(&c, resume), out);
    for (int w = 0; w < t->n_workers; w++) c.free_since[w] = now(&c);
    lm_log_info("%s search: %ld trials of %d epochs on %d worker%s", cfg->algorithm,
                c.planned_trials, cfg->train.epochs, t->n_workers, t->n_workers == 1 ? "" : "s");
    c.next_progress = wall(&c) + cfg->progress_interval;
    c.next_ckpt = now(&c) + cfg->checkpoint_interval;
    rc = loop(&c);
    if (rc == LM_EINTR) {
        LM_CALL_GOTO(rc, lm__ctl_write_results(&c, 0), out);
        if (!t->virtual_now)
            lm_log_info("stopped after checkpoint %ld; run the same command again to continue",
                        c.ckpt_seq);
        rc = LM_EINTR;
        goto out;
    }
    LM_CALL_GOTO(rc, rc, out);
    progress(&c);
    summary(&c);
    LM_CALL_GOTO(rc, lm__ctl_write_results(&c, 1), out);
    if (!t->virtual_now) LM_CALL_GOTO(rc, lm__ctl_checkpoint(&c, 1), out);
out:
    free(c.free_since);
    free(c.int_trial);
    free(c.int_epochs);
    free(c.holder);
    free(c.kept_checksum);
    lm_searcher_destroy(&c.searcher);
    lm_stopper_destroy(&c.stopper);
    lm_trials_fini(&c.trials);
    free(c.running);
    return rc;
}
