/* Internal to the search module: what the successive-halving searchers (hyperband.c:
 * "hyperband" and "sha"; asha.c: "asha") share. A book keeps, for every trial a
 * searcher created, which group (bracket) and rung it is in, where its job stands,
 * and the value that ranks it in its rung.
 *
 * The searchers' entry points run in a fixed pattern, which the book supports:
 *  - next_job creates (lm__mf_new_trial) or resumes (lm__mf_resume) trials;
 *  - on_report records the value at a rung's last epoch (lm__mf_report) and answers
 *    PAUSE there, except at the top rung; the controller marks the trial PAUSED when
 *    the job ends with the trial's state kept;
 *  - on_end classifies the end (lm__mf_end) without allocating (it cannot fail), and
 *    queues the trial on the book's list of ended trials;
 *  - the next next_job drains that list first (ended[0 .. n_ended), then n_ended = 0),
 *    in order, and makes the decisions it allows. So decisions depend on the order of
 *    the calls alone, and every allocation happens where an error can be returned. */
#ifndef LAMARCK_SEARCH_SHA_COMMON_H
#define LAMARCK_SEARCH_SHA_COMMON_H

#include "lamarck/search.h"

#include <stdint.h>

/* Where a trial's job stands. */
typedef enum {
    LM__MF_NONE = 0,    /* not this searcher's trial */
    LM__MF_RUNNING,     /* its job is in flight */
    LM__MF_WAITING,     /* paused at the end of its rung, waiting for a decision */
    LM__MF_QUEUED,      /* promoted, waiting to be resumed (hyperband) */
    LM__MF_FINISHED,    /* done, failed, stopped or not promoted: never runs again */
} lm__mf_state;

typedef struct lm__mf_trial {
    int group;          /* hyperband: bracket instance; asha: bracket; -1 when not ours */
    int rung;           /* the rung it is in (its current job ends at that rung's epochs) */
    int state;          /* lm__mf_state */
    int dead;           /* failed, stopped or ended without keeping its state: the worst of
                           its rung, never promoted */
    int reached;        /* its current job reported the rung's last epoch */
    double value;       /* validation accuracy at the rung's last epoch; -inf when none */
} lm__mf_trial;

typedef struct lm__mf_book {
    lm__mf_trial *v;    /* by trial id, for ids 0 .. n-1 */
    int n, cap;
    int running;        /* trials in state RUNNING */
    int *ended;         /* trials whose job ended since the last drain, in order */
    int n_ended, cap_ended;   /* cap_ended >= running + n_ended always: on_end never allocates */
} lm__mf_book;

void lm__mf_book_init(lm__mf_book *b);
void lm__mf_book_fini(lm__mf_book *b);

/* The book entry of trial id, NULL when the trial is not this searcher's. */
lm__mf_trial *lm__mf_get(lm__mf_book *b, int id);

/* Creates a pending trial whose point is drawn from the stream (seed, id,
 * LM_STREAM_SAMPLE), id being the table's next id (as random search does), with
 * epochs_target epochs, the table's bracket and rung 0, and books it RUNNING in group. */
int lm__mf_new_trial(lm__mf_book *b, const lm_search_params *p, lm_trials *t, int group,
                     int bracket_id, int epochs, int *id);

/* Books trial id RUNNING again to train until epochs in total; sets its target. */
int lm__mf_resume(lm__mf_book *b, lm_trials *t, int id, int epochs);

/* The decision at a report of a RUNNING trial whose rung ends at budget epochs: CONTINUE
 * before it; at it, records the validation accuracy (NaN as -inf) and answers CONTINUE
 * at the top rung (the trial is done) or PAUSE. The controller, not the searcher, marks
 * the trial PAUSED: when its job ends with its state kept. */
lm_decision lm__mf_report(lm__mf_trial *m, const lm_report *r, int budget, int top);

/* Classifies the end of trial id's job (at_top: it was in its bracket's top rung).
 * Ignores trials that are not RUNNING in the book (returns 0). Otherwise queues id on
 * the ended list and returns 1, having made the entry WAITING (paused with its value at
 * the end of a lower rung), FINISHED (done at the top rung) or FINISHED and dead
 * (failed, stopped, or ended without being paused: a trial left DONE or RUNNING by such
 * an end is marked STOPPED in the table, since its state is gone). */
int lm__mf_end(lm__mf_book *b, lm_trials *t, int id, int at_top);

/* Ranking within a rung: alive before dead, then higher value, then lower id. <0 when
 * (a, ida) ranks before (b, idb). */
int lm__mf_cmp(double va, int deada, int ida, double vb, int deadb, int idb);

/* Marks trial id STOPPED with a reason (printf format), its end time the newest
 * report's arrival when none is set. */
void lm__mf_stop(lm_trials *t, int id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Grows an int array to hold at least want elements. */
int lm__mf_reserve_ints(int **v, int *cap, int want);

/* Saves and loads the book under "searcher/book/...". Loading checks every entry:
 * group in [-1, n_groups), rung in [0, max_rungs), a valid state, flags 0 or 1, and
 * an ended list of trials of ours; running is recounted. */
int lm__mf_book_save(const lm__mf_book *b, lm_state_writer *w);
int lm__mf_book_load(lm__mf_book *b, lm_state_reader *r, int n_groups, int max_rungs);

/* Writes n ints as an i32 entry; reads exactly n, each in [lo, hi] (LM_ECKPT naming the
 * entry otherwise). */
int lm__mf_put_ints(lm_state_writer *w, const char *name, const int *v, int n);
int lm__mf_get_ints(lm_state_reader *r, const char *name, int *v, int n, int lo, int hi);
/* The length of an i32 entry, which must be at most max. */
int lm__mf_len(lm_state_reader *r, const char *name, int max, int *n);

/* Reads an i64 entry and checks it equals want (LM_ECKPT naming what differs: this
 * run's configuration must plan the same brackets as the checkpoint's). */
int lm__mf_check_same(lm_state_reader *r, const char *name, int64_t want, const char *what);

#endif
