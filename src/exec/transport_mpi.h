#ifndef LAMARCK_EXEC_TRANSPORT_MPI_H
#define LAMARCK_EXEC_TRANSPORT_MPI_H

#include "exec/runner.h"
#include "exec/snapcache.h"
#include "exec/transport.h"

/* Controller side of the MPI transport over MPI_COMM_WORLD (workers: ranks 1..P-1). */
int lm__transport_mpi_create(int n_hp, lm_transport **out);

/* Worker side: receives jobs until told to exit, trains them with the runner, reports
 * every epoch and obeys the answers. Collective with the controller's transport. */
int lm__worker_loop(const lm_config *c, lm_run_data *d, lm_snapcache *cache);

/* The inline transport: one worker, the trials train on the calling rank inside poll. */
int lm__transport_inline_create(const lm_config *c, lm_run_data *d, lm_snapcache *cache,
                                lm_transport **out);

#endif
