#ifndef LAMARCK_EXEC_CONTROLLER_H
#define LAMARCK_EXEC_CONTROLLER_H

#include "exec/transport.h"
#include "lamarck/config.h"
#include "lamarck/io.h"

/* Runs the search to its end over transport t: asks the searcher for jobs whenever a
 * worker is free, records every report, answers it, prints progress at a bounded rate
 * and keeps results_path up to date (at most every few seconds, and at the end).
 * info is filled in and written into the results file. */
int lm__controller_run(const lm_config *c, lm_transport *t, const char *results_path,
                       lm_run_info *info);

#endif
