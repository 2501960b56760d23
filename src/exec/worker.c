/* The worker loop: receive a job, train it epoch by epoch, report each epoch and wait
 * for the controller's answer, report the end of the job. Between epochs, and whenever
 * it waits, a worker also serves the controller's requests to send a kept snapshot to
 * another worker (peer to peer) or to forget one; the sends proceed in the background
 * while it trains. An error inside one trial fails that trial with its message; the
 * worker goes on with the next job. */
#include "exec/checkpoint.h"
#include "exec/mpi_wait.h"
#include "exec/protocol.h"
#include "exec/snapcache.h"
#include "exec/transport_mpi.h"
#include "lamarck/error.h"
#include "lamarck/hash.h"
#include "lamarck/log.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 64
#define SENDS_MAX 64

/* A snapshot on its way to another worker: header and chunks in flight. */
typedef struct outgoing {
    lm_snap_head head;
    void *data;
    int n_req;
    MPI_Request req[8];
} outgoing;

typedef struct worker {
    const lm_config *config;
    lm_run_data *data;
    lm_snapcache *cache;
    lm_ctrl_msg queue[QUEUE_MAX];  /* TRAIN, RESUME and EXIT, in arrival order */
    int qhead, qn;
    outgoing sends[SENDS_MAX];
    int n_sends;
} worker;

static int start_send(worker *w, const lm_ctrl_msg *m) {
    LM_CHECK(w->n_sends < SENDS_MAX, LM_EINTERNAL, "too many snapshots in flight");
    outgoing *o = &w->sends[w->n_sends];
    memset(o, 0, sizeof *o);
    size_t n;
    if (m->copy) LM_CALL(lm__snapcache_copy(w->cache, m->source, &o->data, &n));
    else LM_CALL(lm__snapcache_take(w->cache, m->source, &o->data, &n));
    o->head.trial_id = m->source;
    o->head.bytes = n;
    o->head.checksum = lm_fnv1a64(LM_FNV1A64_INIT, o->data, n);
    size_t chunks = (n + LM_SNAP_CHUNK - 1) / LM_SNAP_CHUNK;
    LM_CHECK(chunks + 1 <= 8, LM_EINTERNAL, "snapshot of %zu bytes is too large to send", n);
    int rc = MPI_Isend(&o->head, (int)sizeof o->head, MPI_BYTE, m->peer, LM_TAG_SNAP_HEAD,
                       MPI_COMM_WORLD, &o->req[o->n_req++]);
    for (size_t off = 0; rc == MPI_SUCCESS && off < n; off += LM_SNAP_CHUNK) {
        size_t len = n - off < LM_SNAP_CHUNK ? n - off : LM_SNAP_CHUNK;
        rc = MPI_Isend((char *)o->data + off, (int)len, MPI_BYTE, m->peer, LM_TAG_SNAP_DATA,
                       MPI_COMM_WORLD, &o->req[o->n_req++]);
    }
    LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "sending a snapshot to rank %d failed (code %d)", m->peer,
             rc);
    lm_log_debug("sending trial %d's snapshot (%zu bytes) to rank %d", m->source, n, m->peer);
    w->n_sends++;
    return LM_OK;
}

/* Frees the buffers of sends that completed. */
static int progress_sends(worker *w) {
    for (int i = 0; i < w->n_sends;) {
        int done = 0;
        int rc = MPI_Testall(w->sends[i].n_req, w->sends[i].req, &done, MPI_STATUSES_IGNORE);
        LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "MPI_Testall failed (code %d)", rc);
        if (!done) {
            i++;
            continue;
        }
        free(w->sends[i].data);
        w->sends[i] = w->sends[--w->n_sends];
    }
    return LM_OK;
}

/* Serves every controller message that has arrived: SEND and DROP at once, jobs into
 * the queue. Returns 1 when it did something. */
static int pump(worker *w) {
    int did = 0;
    for (;;) {
        int flag = 0;
        MPI_Status st;
        int rc = MPI_Iprobe(0, LM_TAG_CTRL, MPI_COMM_WORLD, &flag, &st);
        LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "MPI_Iprobe failed (code %d)", rc);
        if (!flag) break;
        lm_ctrl_msg m;
        rc = MPI_Recv(&m, (int)sizeof m, MPI_BYTE, 0, LM_TAG_CTRL, MPI_COMM_WORLD, &st);
        LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "receiving from the controller failed (code %d)", rc);
        did = 1;
        if (m.kind == LM_CTRL_SEND) {
            LM_CALL(start_send(w, &m));
        } else if (m.kind == LM_CTRL_DROP) {
            lm__snapcache_drop(w->cache, m.trial_id);
        } else {
            LM_CHECK(m.kind == LM_CTRL_TRAIN || m.kind == LM_CTRL_RESUME || m.kind == LM_CTRL_EXIT ||
                         m.kind == LM_CTRL_CHECKPOINT,
                     LM_EMPI, "malformed controller message (kind %d)", (int)m.kind);
            LM_CHECK(m.n_hp >= 0 && m.n_hp <= LM_CTRL_MAX_HP, LM_EMPI,
                     "malformed controller message (%d hyperparameters)", (int)m.n_hp);
            LM_CHECK(w->qn < QUEUE_MAX, LM_EINTERNAL, "too many queued jobs");
            w->queue[(w->qhead + w->qn++) % QUEUE_MAX] = m;
        }
    }
    LM_CALL(progress_sends(w));
    return did;
}

/* Waits for req while serving the controller. */
static int wait_serving(worker *w, MPI_Request *req, MPI_Status *st) {
    lm__backoff b;
    lm__backoff_reset(&b);
    for (;;) {
        int done = 0;
        int rc = MPI_Test(req, &done, st);
        LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "MPI_Test failed (code %d)", rc);
        if (done) return LM_OK;
        int did = pump(w);
        LM_CALL(did);
        if (did) lm__backoff_reset(&b);
        else lm__backoff_sleep(&b);
    }
}

/* The snapshot of trial from rank peer (or this rank's own cache). */
static int fetch_snapshot(worker *w, const lm_ctrl_msg *m, void **data, size_t *n,
                          uint64_t *checksum) {
    int me;
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    if (m->peer == me) {
        if (m->copy) LM_CALL(lm__snapcache_copy(w->cache, m->source, data, n));
        else LM_CALL(lm__snapcache_take(w->cache, m->source, data, n));
        *checksum = lm_fnv1a64(LM_FNV1A64_INIT, *data, *n);
        return LM_OK;
    }
    lm_snap_head head;
    MPI_Request req;
    MPI_Irecv(&head, (int)sizeof head, MPI_BYTE, m->peer, LM_TAG_SNAP_HEAD, MPI_COMM_WORLD, &req);
    LM_CALL(wait_serving(w, &req, MPI_STATUS_IGNORE));
    LM_CHECK(head.trial_id == m->source, LM_EINTERNAL,
             "expected trial %d's snapshot from rank %d, got trial %d's", m->source, m->peer,
             head.trial_id);
    char *buf = malloc(head.bytes ? head.bytes : 1);
    LM_CHECK_ALLOC(buf);
    for (size_t off = 0; off < head.bytes; off += LM_SNAP_CHUNK) {
        size_t len = head.bytes - off < LM_SNAP_CHUNK ? head.bytes - off : LM_SNAP_CHUNK;
        MPI_Irecv(buf + off, (int)len, MPI_BYTE, m->peer, LM_TAG_SNAP_DATA, MPI_COMM_WORLD, &req);
        int rc = wait_serving(w, &req, MPI_STATUS_IGNORE);
        if (rc < 0) {
            free(buf);
            return lm_error_trace(__FILE__, __LINE__, __func__, rc);
        }
    }
    *checksum = lm_fnv1a64(LM_FNV1A64_INIT, buf, head.bytes);
    if (*checksum != head.checksum) {
        free(buf);
        LM_FAIL(LM_EMPI, "trial %d's snapshot from rank %d arrived corrupt (checksum %016llx, sent %016llx)",
                m->source, m->peer, (unsigned long long)*checksum,
                (unsigned long long)head.checksum);
    }
    *data = buf;
    *n = head.bytes;
    return LM_OK;
}

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

static int train_job(worker *w, const lm_ctrl_msg *job) {
    lm_runner r;
    uint64_t resumed = 0;
    if (job->kind == LM_CTRL_RESUME) {
        void *snap = NULL;
        size_t n = 0;
        LM_CALL(fetch_snapshot(w, job, &snap, &n, &resumed));
        int rc = job->morph.kind != LM_MORPH_NONE
                     ? lm__runner_inherit(&r, w->config, w->data, job->trial_id, job->hp,
                                          job->epochs, &job->morph, job->source, snap, n)
                     : lm__runner_resume(&r, w->config, w->data, job->trial_id, job->hp,
                                         job->epochs, snap, n);
        free(snap);
        LM_CALL(rc);
    } else {
        LM_CALL(lm__runner_start(&r, w->config, w->data, job->trial_id, job->hp, job->epochs));
    }
    int32_t decision = LM_DECIDE_CONTINUE;
    for (;;) {
        lm_report_msg rep;
        memset(&rep, 0, sizeof rep);
        run_epoch(&r, &rep.report);
        rep.resumed_checksum = resumed;
        resumed = 0;
        int rc = MPI_Send(&rep, (int)sizeof rep, MPI_BYTE, 0, LM_TAG_REPORT, MPI_COMM_WORLD);
        LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "sending a report failed (code %d)", rc);
        MPI_Request req;
        MPI_Irecv(&decision, 1, MPI_INT32_T, 0, LM_TAG_DECISION, MPI_COMM_WORLD, &req);
        LM_CALL(wait_serving(w, &req, MPI_STATUS_IGNORE));
        if (decision != LM_DECIDE_CONTINUE || lm__runner_finished(&r)) break;
        LM_CALL(pump(w));
    }
    lm_final_msg fin;
    memset(&fin, 0, sizeof fin);
    if (decision == LM_DECIDE_PAUSE && !r.failed) {
        void *snap;
        size_t n;
        lm__runner_pause_test(&r, &fin.final);
        LM_CALL(lm__runner_pause(&r, &snap, &n, &fin.checksum));
        fin.paused = 1;
        fin.bytes = n;
        LM_CALL(lm__snapcache_put(w->cache, job->trial_id, snap, n));
    } else if (lm__runner_finish(&r, &fin.final) < 0) {
        lm_log_warn("trial %d: test evaluation failed: %s", job->trial_id, lm_error_message());
        lm_error_clear();
        fin.final.trial_id = job->trial_id;
        fin.final.test_loss = fin.final.test_accuracy = NAN;
    }
    int rc = MPI_Send(&fin, (int)sizeof fin, MPI_BYTE, 0, LM_TAG_FINAL, MPI_COMM_WORLD);
    LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "sending a final report failed (code %d)", rc);
    return LM_OK;
}

static int next_job(worker *w, lm_ctrl_msg *out) {
    lm__backoff b;
    lm__backoff_reset(&b);
    while (w->qn == 0) {
        int did = pump(w);
        LM_CALL(did);
        if (did) lm__backoff_reset(&b);
        else lm__backoff_sleep(&b);
    }
    *out = w->queue[w->qhead];
    w->qhead = (w->qhead + 1) % QUEUE_MAX;
    w->qn--;
    return LM_OK;
}

/* Waits until every snapshot in flight has left. */
static int finish_sends(worker *w) {
    lm__backoff b;
    lm__backoff_reset(&b);
    while (w->n_sends) {
        LM_CALL(progress_sends(w));
        if (w->n_sends) lm__backoff_sleep(&b);
    }
    return LM_OK;
}

int lm__worker_loop(const lm_config *c, lm_run_data *d, lm_snapcache *cache) {
    worker *w = calloc(1, sizeof *w);
    LM_CHECK_ALLOC(w);
    w->config = c;
    w->data = d;
    w->cache = cache;
    int rc = LM_OK;
    for (;;) {
        lm_ctrl_msg job;
        LM_CALL_GOTO(rc, next_job(w, &job), out);
        if (job.kind == LM_CTRL_EXIT) break;
        if (job.kind == LM_CTRL_CHECKPOINT) {
            /* Every snapshot in flight must have landed before the caches are written. */
            LM_CALL_GOTO(rc, finish_sends(w), out);
            LM_CALL_GOTO(rc, lm__ckpt_write(c->output, job.trial_id, NULL, cache, c->checkpoints_keep),
                         out);
            continue;
        }
        lm_log_debug("trial %d: %s to %d epochs", job.trial_id,
                     job.kind == LM_CTRL_RESUME ? "resume" : "train", job.epochs);
        LM_CALL_GOTO(rc, train_job(w, &job), out);
    }
    LM_CALL_GOTO(rc, finish_sends(w), out);
out:
    free(w);
    return rc;
}
