#ifndef LAMARCK_EXEC_RUNDIR_H
#define LAMARCK_EXEC_RUNDIR_H

#include "lamarck/config.h"

/* Creates the run directory (and its parents) with the user's umask, refusing one that
 * already holds results unless overwrite, and records what made the run: config.yaml
 * (the YAML as given) and run.txt (lamarck version, command line, ranks). */
int lm__rundir_prepare(const char *dir, int overwrite, const lm_config *c,
                       const char *command_line, const char *version, int n_ranks);

#endif
