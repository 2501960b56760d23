/* How the controller reaches its workers. The controller only starts and resumes
 * trials, polls for messages, answers reports and drops kept snapshots; a transport
 * decides where the training happens: on other MPI ranks, or inline on rank 0 when it
 * is alone. */
#ifndef LAMARCK_EXEC_TRANSPORT_H
#define LAMARCK_EXEC_TRANSPORT_H

#include "lamarck/search.h"

#include <stdint.h>

typedef enum { LM_MSG_NONE, LM_MSG_REPORT, LM_MSG_FINAL } lm_msg_kind;

typedef struct lm_msg {
    lm_msg_kind kind;
    int worker;              /* index in [0, n_workers) */
    lm_report report;
    uint64_t resumed_checksum; /* REPORT: see lm_report_msg */
    lm_final final;
    int paused;              /* FINAL: the worker keeps the trial's snapshot */
    uint64_t checksum, bytes;/* FINAL, paused: the kept snapshot */
} lm_msg;

typedef struct lm_transport lm_transport;

typedef struct lm_transport_ops {
    /* Starts job on a free worker: LM_JOB_NEW trains from scratch; LM_JOB_RESUME
     * continues from the snapshot kept by worker holder (which sends it to worker,
     * peer to peer, when they differ). */
    int (*start)(lm_transport *t, int worker, const lm_job *job, const double *hp, int holder);
    /* Returns the next message if one is there (kind NONE when none); never blocks long. */
    int (*poll)(lm_transport *t, lm_msg *out);
    /* Answers the last report of worker. */
    int (*decide)(lm_transport *t, int worker, lm_decision d);
    /* Tells holder to forget its snapshot of trial. */
    int (*drop)(lm_transport *t, int holder, int trial);
    /* Tells every worker to join checkpoint seq (a collective write that follows). */
    int (*begin_checkpoint)(lm_transport *t, long seq);
    /* Tells every worker the run is over. */
    int (*shutdown)(lm_transport *t);
    void (*destroy)(lm_transport *t);
} lm_transport_ops;

struct lm_transport {
    const lm_transport_ops *ops;
    int n_workers;
    int inline_work;         /* poll does the training itself: never sleep on NONE */
    struct lm_snapcache *local_cache; /* snapshots kept on this rank (inline), else NULL */
    /* A simulated transport's clock (seconds since the run started); NULL for the wall
     * clock. With one, the controller records virtual times, never sleeps, and writes no
     * checkpoints (a replay is deterministic and reruns in moments). */
    double (*virtual_now)(const lm_transport *t);
};

/* Worker index -> MPI rank, for records (the inline worker is rank 0). */
int lm__transport_rank(const lm_transport *t, int worker);

#endif
