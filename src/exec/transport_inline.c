/* The inline transport: with a single rank, the controller's poll trains the one
 * running trial an epoch at a time, so the same controller loop runs unchanged. */
#include "exec/transport_mpi.h"
#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct inline_transport {
    lm_transport base;
    const lm_config *config;
    const lm_run_data *data;
    lm_runner runner;
    int active;              /* a trial is running */
    int awaiting_decision;   /* a report was returned and not yet answered */
    int final_due;           /* the trial ended: the next poll returns its final */
} inline_transport;

static int in_start(lm_transport *t, int worker, const lm_job *job, const double *hp) {
    inline_transport *it = (inline_transport *)t;
    (void)worker;
    LM_CHECK(!it->active, LM_EINTERNAL, "inline worker already busy");
    LM_CALL(lm__runner_start(&it->runner, it->config, it->data, job->trial_id, hp, job->epochs));
    it->active = 1;
    return LM_OK;
}

static int in_poll(lm_transport *t, lm_msg *out) {
    inline_transport *it = (inline_transport *)t;
    out->kind = LM_MSG_NONE;
    out->worker = 0;
    if (!it->active || it->awaiting_decision) return LM_OK;
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
    it->awaiting_decision = 1;
    return LM_OK;
}

static int in_decide(lm_transport *t, int worker, lm_decision d) {
    inline_transport *it = (inline_transport *)t;
    (void)worker;
    it->awaiting_decision = 0;
    if (d.kind == LM_DECIDE_STOP || lm__runner_finished(&it->runner)) it->final_due = 1;
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

static const lm_transport_ops inline_ops = {in_start, in_poll, in_decide, in_shutdown, in_destroy};

int lm__transport_inline_create(const lm_config *c, const lm_run_data *d, lm_transport **out) {
    inline_transport *it = calloc(1, sizeof *it);
    LM_CHECK_ALLOC(it);
    it->base.ops = &inline_ops;
    it->base.n_workers = 1;
    it->base.inline_work = 1;
    it->config = c;
    it->data = d;
    *out = &it->base;
    return LM_OK;
}
