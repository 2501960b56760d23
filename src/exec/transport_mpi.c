/* The MPI transport, controller side: one receive posted per worker at all times, so
 * the controller notices any worker's report with one MPI_Testany and never waits on a
 * particular worker. Workers are ranks 1..P-1. */
#include "exec/transport_mpi.h"
#include "exec/protocol.h"
#include "lamarck/error.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>

/* A report and a final both fit; the tag says which arrived. */
typedef union inbox {
    lm_report_msg report;
    lm_final_msg final;
} inbox;

typedef struct mpi_transport {
    lm_transport base;
    MPI_Comm comm;
    int n_hp;
    MPI_Request *req;        /* per worker */
    inbox *buf;              /* per worker */
} mpi_transport;

static int post(mpi_transport *m, int w) {
    int rc = MPI_Irecv(&m->buf[w], (int)sizeof(inbox), MPI_BYTE, w + 1, MPI_ANY_TAG, m->comm,
                       &m->req[w]);
    LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "MPI_Irecv from rank %d failed (code %d)", w + 1, rc);
    return LM_OK;
}

static int send_ctrl(mpi_transport *m, int worker, const lm_ctrl_msg *msg) {
    /* Small messages go out eagerly: this returns without waiting for the worker. */
    int rc = MPI_Send(msg, (int)sizeof *msg, MPI_BYTE, worker + 1, LM_TAG_CTRL, m->comm);
    LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "sending to rank %d failed (code %d)", worker + 1, rc);
    return LM_OK;
}

static int mpi_start(lm_transport *t, int worker, const lm_job *job, const double *hp,
                     int holder) {
    mpi_transport *m = (mpi_transport *)t;
    lm_ctrl_msg msg;
    memset(&msg, 0, sizeof msg);
    int from_state = job->kind == LM_JOB_RESUME || job->kind == LM_JOB_CLONE;
    int clone = job->kind == LM_JOB_CLONE;
    msg.kind = from_state ? LM_CTRL_RESUME : LM_CTRL_TRAIN;
    msg.trial_id = job->trial_id;
    msg.epochs = job->epochs;
    msg.peer = from_state ? holder + 1 : -1;
    msg.source = clone ? job->donor : job->trial_id;
    msg.copy = clone;
    if (clone) msg.morph = lm__morph_unpack(hp + m->n_hp);
    msg.n_hp = m->n_hp;
    memcpy(msg.hp, hp, (size_t)m->n_hp * sizeof *hp);
    if (from_state && holder != worker) {
        lm_ctrl_msg send;
        memset(&send, 0, sizeof send);
        send.kind = LM_CTRL_SEND;
        send.trial_id = msg.source;
        send.source = msg.source;
        send.copy = clone;
        send.peer = worker + 1;
        LM_CALL(send_ctrl(m, holder, &send));
    }
    return send_ctrl(m, worker, &msg);
}

static int mpi_drop(lm_transport *t, int holder, int trial) {
    lm_ctrl_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.kind = LM_CTRL_DROP;
    msg.trial_id = trial;
    return send_ctrl((mpi_transport *)t, holder, &msg);
}

static int mpi_poll(lm_transport *t, lm_msg *out) {
    mpi_transport *m = (mpi_transport *)t;
    int idx = MPI_UNDEFINED, flag = 0;
    MPI_Status st;
    memset(out, 0, sizeof *out);
    int rc = MPI_Testany(t->n_workers, m->req, &idx, &flag, &st);
    LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "MPI_Testany failed (code %d)", rc);
    if (!flag || idx == MPI_UNDEFINED) return LM_OK;
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    out->worker = idx;
    if (st.MPI_TAG == LM_TAG_REPORT) {
        LM_CHECK(count == (int)sizeof(lm_report_msg), LM_EMPI, "report of %d bytes from rank %d",
                 count, idx + 1);
        out->kind = LM_MSG_REPORT;
        out->report = m->buf[idx].report.report;
        out->resumed_checksum = m->buf[idx].report.resumed_checksum;
    } else if (st.MPI_TAG == LM_TAG_FINAL) {
        LM_CHECK(count == (int)sizeof(lm_final_msg), LM_EMPI, "final of %d bytes from rank %d",
                 count, idx + 1);
        out->kind = LM_MSG_FINAL;
        out->final = m->buf[idx].final.final;
        out->paused = m->buf[idx].final.paused;
        out->checksum = m->buf[idx].final.checksum;
        out->bytes = m->buf[idx].final.bytes;
    } else {
        LM_FAIL(LM_EMPI, "unexpected message tag %d from rank %d", st.MPI_TAG, idx + 1);
    }
    return post(m, idx);
}

static int mpi_decide(lm_transport *t, int worker, lm_decision d) {
    mpi_transport *m = (mpi_transport *)t;
    int32_t kind = (int32_t)d.kind;
    int rc = MPI_Send(&kind, 1, MPI_INT32_T, worker + 1, LM_TAG_DECISION, m->comm);
    LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "sending a decision to rank %d failed (code %d)",
             worker + 1, rc);
    return LM_OK;
}

static int mpi_begin_checkpoint(lm_transport *t, long seq) {
    lm_ctrl_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.kind = LM_CTRL_CHECKPOINT;
    msg.trial_id = (int32_t)seq;
    for (int w = 0; w < t->n_workers; w++) LM_CALL(send_ctrl((mpi_transport *)t, w, &msg));
    return LM_OK;
}

static int mpi_shutdown(lm_transport *t) {
    mpi_transport *m = (mpi_transport *)t;
    lm_ctrl_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.kind = LM_CTRL_EXIT;
    for (int w = 0; w < t->n_workers; w++) LM_CALL(send_ctrl(m, w, &msg));
    for (int w = 0; w < t->n_workers; w++) {
        if (m->req[w] == MPI_REQUEST_NULL) continue;
        MPI_Cancel(&m->req[w]);
        MPI_Request_free(&m->req[w]);
    }
    return LM_OK;
}

static void mpi_destroy(lm_transport *t) {
    mpi_transport *m = (mpi_transport *)t;
    free(m->req);
    free(m->buf);
    free(m);
}

static const lm_transport_ops mpi_ops = {mpi_start,            mpi_poll,     mpi_decide, mpi_drop,
                                         mpi_begin_checkpoint, mpi_shutdown, mpi_destroy};

int lm__transport_mpi_create(int n_hp, lm_transport **out) {
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    LM_CHECK(size >= 2, LM_EINVAL, "the MPI transport needs at least 2 ranks");
    LM_CHECK(n_hp <= LM_CTRL_MAX_HP, LM_EINVAL, "%d hyperparameters; at most %d", n_hp,
             LM_CTRL_MAX_HP);
    mpi_transport *m = calloc(1, sizeof *m);
    LM_CHECK_ALLOC(m);
    m->base.ops = &mpi_ops;
    m->base.n_workers = size - 1;
    m->comm = MPI_COMM_WORLD;
    m->n_hp = n_hp;
    m->req = malloc((size_t)(size - 1) * sizeof *m->req);
    m->buf = malloc((size_t)(size - 1) * sizeof *m->buf);
    if (!m->req || !m->buf) {
        mpi_destroy(&m->base);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    for (int w = 0; w < size - 1; w++) {
        int rc = post(m, w);
        if (rc < 0) {
            mpi_destroy(&m->base);
            return rc;
        }
    }
    *out = &m->base;
    return LM_OK;
}

int lm__transport_rank(const lm_transport *t, int worker) {
    return t->inline_work ? 0 : worker + 1;
}
