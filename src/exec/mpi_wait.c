#include "exec/mpi_wait.h"
#include "lamarck/error.h"
#include "lamarck/timer.h"

void lm__backoff_reset(lm__backoff *b) { b->delay = LM__BACKOFF_MIN; }

void lm__backoff_sleep(lm__backoff *b) {
    lm_time_sleep(b->delay);
    b->delay *= 2;
    if (b->delay > LM__BACKOFF_MAX) b->delay = LM__BACKOFF_MAX;
}

int lm__mpi_wait(MPI_Request *req, MPI_Status *st) {
    lm__backoff b;
    lm__backoff_reset(&b);
    for (;;) {
        int done = 0;
        int rc = MPI_Test(req, &done, st);
        LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "MPI_Test failed (code %d)", rc);
        if (done) return LM_OK;
        lm__backoff_sleep(&b);
    }
}

int lm__mpi_recv(void *buf, int count, MPI_Datatype type, int src, int tag, MPI_Comm comm,
                 MPI_Status *st) {
    MPI_Request req;
    int rc = MPI_Irecv(buf, count, type, src, tag, comm, &req);
    LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "MPI_Irecv failed (code %d)", rc);
    return lm__mpi_wait(&req, st);
}
