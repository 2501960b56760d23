/* Running an experiment: the controller (rank 0), the workers (ranks 1..P-1) and the
 * transports between them. Only src/exec (and the entry point) includes mpi.h.
 *
 *     lm_exec_init(&argc, &argv, &rank, &size);
 *     lm_run_options o = lm_run_options_default();
 *     o.config_path = "inputs/quickstart.yaml";
 *     int rc = lm_exec_run(&o);            // collective over MPI_COMM_WORLD
 *     lm_exec_finalize();
 */
#ifndef LAMARCK_EXEC_H
#define LAMARCK_EXEC_H

#include <stddef.h>

typedef struct lm_run_options {
    const char *config_path;   /* NULL: the embedded default (config_text) */
    const char *config_text;   /* used when config_path is NULL */
    const char *output;        /* overrides experiment.output when not NULL */
    int overwrite;             /* start over in a run directory that has results or
                                  checkpoints (they are replaced) */
    int resume_changed_config; /* continue a checkpointed run although its config differs */
    const char *command_line;  /* recorded in the run directory and results.h5 */
    const char *version;
} lm_run_options;

lm_run_options lm_run_options_default(void);

/* Initializes MPI (one thread per rank) and the rank-tagged log. */
int lm_exec_init(int *argc, char ***argv, int *rank, int *size);
void lm_exec_finalize(void);
/* Ends every rank at once with the given exit status (after an unrecoverable error). */
void lm_exec_abort(int status);

/* Runs the experiment. Collective over MPI_COMM_WORLD. With one rank the trials train
 * inline on rank 0. Returns LM_OK or an error code, the same on every rank for errors
 * found before training starts (bad config, missing data, existing run directory);
 * rank 0 prints the message. */
int lm_exec_run(const lm_run_options *o);

#endif
