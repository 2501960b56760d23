#ifndef LAMARCK_EXEC_CONTROLLER_H
#define LAMARCK_EXEC_CONTROLLER_H

#include "exec/transport.h"
#include "lamarck/config.h"
#include "lamarck/io.h"
#include "lamarck/state.h"

/* A checkpoint to continue from: the controller's saved state, and where each kept
 * snapshot was loaded (worker index per trial). */
typedef struct lm_resume {
    lm_state_mem *state;
    long seq;
    int n_snap;
    const int *snap_trial, *snap_worker;
} lm_resume;

/* Runs the search to its end over transport t: asks the searcher for jobs whenever a
 * worker is free, records every report, answers it, prints progress at a bounded rate,
 * keeps results_path up to date (at most every few seconds, and at the end) and writes
 * checkpoints (every checkpoint_interval seconds, at the end, and on SIGUSR1/SIGTERM,
 * after which it returns LM_EINTR). resume: NULL for a new run. */
int lm__controller_run(const lm_config *c, lm_transport *t, const char *results_path,
                       lm_run_info *info, const lm_resume *resume);

#endif
