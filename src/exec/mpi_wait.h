/* Waiting on MPI without burning a core: Open MPI's blocking calls busy-poll, which on a
 * node shared with training ranks halves their speed. These helpers test and sleep
 * with an exponential backoff instead. */
#ifndef LAMARCK_EXEC_MPI_WAIT_H
#define LAMARCK_EXEC_MPI_WAIT_H

#include <mpi.h>

/* Sleep schedule: starts at LM__BACKOFF_MIN seconds and doubles up to LM__BACKOFF_MAX. The
 * maximum bounds the latency added to a message (one per epoch), the minimum the cost of
 * a message that is already on its way. */
#define LM__BACKOFF_MIN 20e-6
#define LM__BACKOFF_MAX 2e-3

typedef struct lm__backoff {
    double delay;
} lm__backoff;

void lm__backoff_reset(lm__backoff *b);
void lm__backoff_sleep(lm__backoff *b);

/* MPI_Wait that sleeps between tests. */
int lm__mpi_wait(MPI_Request *req, MPI_Status *st);
/* MPI_Recv that sleeps between tests. */
int lm__mpi_recv(void *buf, int count, MPI_Datatype type, int src, int tag, MPI_Comm comm,
                 MPI_Status *st);

#endif
