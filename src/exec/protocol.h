/* Messages between the controller and its workers, and between workers. They travel
 * as raw bytes: every rank of a job runs the same binary on the same kind of node.
 *
 * Controller -> worker (LM_TAG_CTRL): TRAIN or RESUME a trial, SEND a kept snapshot to
 * another worker, DROP one, EXIT. Worker -> controller: a REPORT after every epoch
 * (answered by a DECISION), and a FINAL when the job ends. Worker -> worker: a snapshot
 * header then its bytes, peer to peer: weights never pass through rank 0. */
#ifndef LAMARCK_EXEC_PROTOCOL_H
#define LAMARCK_EXEC_PROTOCOL_H

#include "lamarck/search.h"

#include <stdint.h>

enum {
    LM_TAG_CTRL = 101,      /* controller -> worker: lm_ctrl_msg */
    LM_TAG_REPORT = 102,    /* worker -> controller: lm_report_msg */
    LM_TAG_DECISION = 103,  /* controller -> worker: int32 lm_decision_kind */
    LM_TAG_FINAL = 104,     /* worker -> controller: lm_final_msg */
    LM_TAG_SNAP_HEAD = 105, /* worker -> worker: lm_snap_head */
    LM_TAG_SNAP_DATA = 106, /* worker -> worker: the snapshot, in chunks */
};

enum {
    LM_CTRL_TRAIN = 1,   /* train trial from scratch to epochs */
    LM_CTRL_EXIT = 2,
    LM_CTRL_RESUME = 3,  /* continue trial to epochs from the snapshot of trial `source` held
                            by rank peer (a clone when source differs from trial_id; with a
                            morph, a new model from the donor's transformed weights) */
    LM_CTRL_SEND = 4,    /* send the snapshot of trial `source` to rank peer, then forget it
                            unless `copy` */
    LM_CTRL_DROP = 5,    /* forget the snapshot of trial */
    LM_CTRL_CHECKPOINT = 6, /* join checkpoint number trial_id (collective write) */
};

#define LM_CTRL_MAX_HP 64
#define LM_SNAP_CHUNK (1 << 30)   /* bytes per message: MPI counts are ints */

typedef struct lm_ctrl_msg {
    int32_t kind;
    int32_t trial_id;
    int32_t epochs;
    int32_t peer;        /* RESUME: rank holding the snapshot; SEND: destination */
    int32_t n_hp;
    int32_t source;      /* RESUME: the trial whose snapshot to start from (trial_id itself,
                            or a donor's for a clone); SEND: the snapshot's trial */
    int32_t copy;        /* RESUME from this rank's own cache, or SEND: keep the original */
    int32_t pad;
    lm_morph morph;      /* RESUME of a clone: the donor's weights go through it (kind NONE:
                            taken as they are) */
    double hp[LM_CTRL_MAX_HP];
} lm_ctrl_msg;

/* The morph of a clone travels from the controller to the transport after the trial's
 * point: start()'s hp holds n_hp values and, for LM_JOB_CLONE, LM__MORPH_VALUES more
 * (the transport interface predates morphs; this keeps it unchanged for the transports
 * that do not clone). */
#define LM__MORPH_VALUES 8

static inline void lm__morph_pack(const lm_morph *m, double *tail) {
    tail[0] = m->kind;
    tail[1] = m->layer;
    tail[2] = m->from_width;
    tail[3] = m->to_width;
    tail[4] = m->noise;
    tail[5] = m->type;
    tail[6] = m->kernel;
    tail[7] = m->stride;
}

static inline lm_morph lm__morph_unpack(const double *tail) {
    lm_morph m = {(int)tail[0], (int)tail[1], (int)tail[2], (int)tail[3], tail[4],
                  (int)tail[5], (int)tail[6], (int)tail[7]};
    return m;
}

typedef struct lm_report_msg {
    lm_report report;
    uint64_t resumed_checksum;  /* first report after a resume: the loaded snapshot's
                                   checksum as computed on arrival; else 0 */
} lm_report_msg;

typedef struct lm_final_msg {
    lm_final final;
    int32_t paused;             /* the job ended with the trial's state kept */
    int32_t pad;
    uint64_t checksum;          /* paused: checksum of the kept snapshot */
    uint64_t bytes;             /* paused: its size */
} lm_final_msg;

typedef struct lm_snap_head {
    int32_t trial_id;
    int32_t pad;
    uint64_t bytes;
    uint64_t checksum;
} lm_snap_head;

#endif
