/* The inline transport: with a single rank, the controller's poll trains the one
 * running trial an epoch at a time, so the same controller loop runs unchanged. */
#include "exec/protocol.h"
#include "exec/transport_mpi.h"
#include "lamarck/error.h"
#include "lamarck/hash.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct inline_transport {
    lm_transport base;
    const lm_config *config;
    lm_run_data *data;
    lm_snapcache *cache;
    lm_runner runner;
    uint64_t resumed;        /* checksum of the snapshot the running trial resumed from */
    int pause_due;           /* the last decision was PAUSE */
    int active;              /* a trial is running */
    int awaiting_decision;   /* a report was returned and not yet answered */
    int final_due;           /* the trial ended: the next poll returns its final */
    int n_hp;                /* values of a point (a clone's morph follows them) */
} inline_transport;

static int in_start(lm_transport *t, int worker, const lm_job *job, const double *hp,
                    int holder) {
    inline_transport *it = (inline_transport *)t;
    (void)worker, (void)holder;
    LM_CHECK(!it->active, LM_EINTERNAL, "inline worker already busy");
    it->resumed = 0;
    if (job->kind == LM_JOB_RESUME || job->kind == LM_JOB_CLONE) {
        void *snap;
        size_t n;
        if (job->kind == LM_JOB_CLONE) LM_CALL(lm__snapcache_copy(it->cache, job->donor, &snap, &n));
        else LM_CALL(lm__snapcache_take(it->cache, job->trial_id, &snap, &n));
        it->resumed = lm_fnv1a64(LM_FNV1A64_INIT, snap, n);
        lm_morph morph = {.kind = LM_MORPH_NONE};
        if (job->kind == LM_JOB_CLONE) morph = lm__morph_unpack(hp + it->n_hp);
        int rc = morph.kind != LM_MORPH_NONE
                     ? lm__runner_inherit(&it->runner, it->config, it->data, job->trial_id, hp,
                                          job->epochs, &morph, job->donor, snap, n)
                     : lm__runner_resume(&it->runner, it->config, it->data, job->trial_id, hp,
                                         job->epochs, snap, n);
        free(snap);
        LM_CALL(rc);
    } else {
        LM_CALL(lm__runner_start(&it->runner, it->config, it->data, job->trial_id, hp,
                                 job->epochs));
    }
    it->active = 1;
    it->pause_due = 0;
    return LM_OK;
}

static int in_drop(lm_transport *t, int holder, int trial) {
    (void)holder;
    lm__snapcache_drop(((inline_transport *)t)->cache, trial);
    return LM_OK;
}

static int in_poll(lm_transport *t, lm_msg *out) {
    inline_transport *it = (inline_transport *)t;
    memset(out, 0, sizeof *out);
    if (!it->active || it->awaiting_decision) return LM_OK;
    if (it->final_due && it->pause_due && !it->runner.failed) {
        void *snap;
        size_t n;
        lm_final fin;
        lm__runner_pause_test(&it->runner, &fin);
        LM_CALL(lm__runner_pause(&it->runner, &snap, &n, &out->checksum));
        LM_CALL(lm__snapcache_put(it->cache, it->runner.trial_id, snap, n));
        out->kind = LM_MSG_FINAL;
        out->paused = 1;
        out->bytes = n;
        out->final = fin;
        it->final_due = 0;
        it->active = 0;
        return LM_OK;
    }
    if (it->final_due) {
        if (lm__runner_finish(&it->runner, &out->final) < 0) {
            lm_error_clear();
            out->final.trial_id = it->runner.trial_id;
            out->final.test_loss = out->final.test_accuracy = NAN;
        }
        out->kind = LM_MSG_FINAL;
        it->final_due = 0;
        it->active = 0;
        return LM_OK;
    }
    int rc = lm__runner_epoch(&it->runner, &out->report);
    if (rc < 0) {
        it->runner.failed = 1;
        snprintf(it->runner.reason, sizeof it->runner.reason, "training error: %s",
                 lm_error_message());
        lm_error_clear();
        out->report.failed = 1;
        lm_strlcpy(out->report.reason, it->runner.reason, sizeof out->report.reason);
    }
    out->kind = LM_MSG_REPORT;
    out->resumed_checksum = it->resumed;
    it->resumed = 0;
    it->awaiting_decision = 1;
    return LM_OK;
}

static int in_decide(lm_transport *t, int worker, lm_decision d) {
    inline_transport *it = (inline_transport *)t;
    (void)worker;
    it->awaiting_decision = 0;
    it->pause_due = d.kind == LM_DECIDE_PAUSE;
    if (d.kind != LM_DECIDE_CONTINUE || lm__runner_finished(&it->runner)) it->final_due = 1;
    return LM_OK;
}

static int in_shutdown(lm_transport *t) {
    inline_transport *it = (inline_transport *)t;
    if (it->active) lm_trainer_destroy(&it->runner.trainer);
    it->active = 0;
    return LM_OK;
}

static void in_destroy(lm_transport *t) {
    in_shutdown(t);
    free(t);
}

static int in_begin_checkpoint(lm_transport *t, long seq) {
    (void)t, (void)seq; /* the cache is this rank's: the controller writes it itself */
    return LM_OK;
}

static const lm_transport_ops inline_ops = {in_start, in_poll,            in_decide,  in_drop,
                                            in_begin_checkpoint, in_shutdown, in_destroy};

int lm__transport_inline_create(const lm_config *c, lm_run_data *d, lm_snapcache *cache,
                                lm_transport **out) {
    inline_transport *it = calloc(1, sizeof *it);
    LM_CHECK_ALLOC(it);
    it->base.ops = &inline_ops;
    it->base.n_workers = 1;
    it->base.inline_work = 1;
    it->config = c;
    it->data = d;
    it->cache = cache;
    it->n_hp = lm_space_size(c->space);
    it->base.local_cache = cache;
    *out = &it->base;
    return LM_OK;
}
