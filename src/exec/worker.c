/* The worker loop: receive a job, train it epoch by epoch, report each epoch and wait
 * for the controller's answer, report the test metrics at the end. An error inside one
 * trial fails that trial with its message; the worker goes on with the next job. */
#include "exec/mpi_wait.h"
#include "exec/protocol.h"
#include "exec/transport_mpi.h"
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <string.h>

/* Runs one epoch; an engine error becomes a failed report rather than a dead rank. */
static void run_epoch(lm_runner *r, lm_report *rep) {
    int rc = lm__runner_epoch(r, rep);
    if (rc < 0) {
        r->failed = 1;
        snprintf(r->reason, sizeof r->reason, "training error: %s", lm_error_message());
        lm_error_clear();
        rep->failed = 1;
        lm_strlcpy(rep->reason, r->reason, sizeof rep->reason);
    }
}

static int train_job(const lm_config *c, const lm_run_data *d, const lm_job_msg *job) {
    lm_runner r;
    LM_CALL(lm__runner_start(&r, c, d, job->trial_id, job->hp, job->epochs));
    int stop = 0;
    while (!stop) {
        lm_report rep;
        run_epoch(&r, &rep);
        int rc = MPI_Send(&rep, (int)sizeof rep, MPI_BYTE, 0, LM_TAG_REPORT, MPI_COMM_WORLD);
        LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "sending a report failed (code %d)", rc);
        int32_t decision;
        LM_CALL(lm__mpi_recv(&decision, 1, MPI_INT32_T, 0, LM_TAG_DECISION, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE));
        stop = decision == LM_DECIDE_STOP || lm__runner_finished(&r);
    }
    lm_final fin;
    if (lm__runner_finish(&r, &fin) < 0) {
        lm_log_warn("trial %d: test evaluation failed: %s", job->trial_id, lm_error_message());
        lm_error_clear();
        fin.trial_id = job->trial_id;
        fin.test_loss = fin.test_accuracy = NAN;
    }
    int rc = MPI_Send(&fin, (int)sizeof fin, MPI_BYTE, 0, LM_TAG_FINAL, MPI_COMM_WORLD);
    LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "sending a final report failed (code %d)", rc);
    return LM_OK;
}

int lm__worker_loop(const lm_config *c, const lm_run_data *d) {
    for (;;) {
        lm_job_msg job;
        MPI_Status st;
        LM_CALL(lm__mpi_recv(&job, (int)sizeof job, MPI_BYTE, 0, LM_TAG_JOB, MPI_COMM_WORLD, &st));
        if (job.kind == LM_JOBMSG_EXIT) return LM_OK;
        LM_CHECK(job.kind == LM_JOBMSG_TRAIN && job.n_hp >= 0 && job.n_hp <= LM_JOB_MSG_MAX_HP,
                 LM_EMPI, "malformed job message (kind %d)", (int)job.kind);
        lm_log_debug("trial %d: %d epochs", job.trial_id, job.epochs);
        LM_CALL(train_job(c, d, &job));
    }
}
