/* Messages between the controller and its workers. Reports travel as raw bytes: every
 * rank of a job runs the same binary on the same kind of node. */
#ifndef LAMARCK_EXEC_PROTOCOL_H
#define LAMARCK_EXEC_PROTOCOL_H

#include <stdint.h>

enum {
    LM_TAG_JOB = 101,       /* controller -> worker: lm_job_msg + n_hp doubles */
    LM_TAG_REPORT = 102,    /* worker -> controller: lm_report */
    LM_TAG_DECISION = 103,  /* controller -> worker: int32 lm_decision_kind */
    LM_TAG_FINAL = 104,     /* worker -> controller: lm_final */
};

enum { LM_JOBMSG_TRAIN = 1, LM_JOBMSG_EXIT = 2 };

#define LM_JOB_MSG_MAX_HP 64

typedef struct lm_job_msg {
    int32_t kind;
    int32_t trial_id;
    int32_t epochs;
    int32_t n_hp;
    double hp[LM_JOB_MSG_MAX_HP];
} lm_job_msg;

#endif
