/* Signals that ask a run to checkpoint and stop (Slurm sends SIGUSR1 or SIGTERM before
 * a time limit or a preemption). The handler only records the signal. */
#ifndef LAMARCK_EXEC_SIGNALS_H
#define LAMARCK_EXEC_SIGNALS_H

void lm__signals_install(void);
/* The signal received (SIGUSR1 or SIGTERM), or 0. */
int lm__signal_pending(void);

#endif
