/* Population-based training (Jaderberg et al. 2017, "Population Based Training of Neural
 * Networks"): a population of N members trains at once; every so often a member at a
 * *ready* point *exploits* the population (abandons its weights for a better member's)
 * and *explores* (changes the copied hyperparameters), so that hyperparameters follow
 * a schedule found during one run.
 *
 * Members and trials. Member i (0 .. population-1) begins as a new trial whose point is
 * drawn as random search draws it, from the stream (seed, trial id, LM_STREAM_SAMPLE).
 * Each job trains towards lm_search_params.epochs in total (the budget of a member).
 * At a ready point the member's report is answered PAUSE (its state is kept by its
 * worker). Then:
 *  - no exploit: the member continues the same trial (LM_JOB_RESUME);
 *  - exploit of member d: the member continues as a NEW trial (lm_trials_add, point
 *    = explore(the donor trial's point), LM_JOB_CLONE from d's current trial, which
 *    the controller starts from a copy of that trial's kept state: the new trial's
 *    epochs continue from the donor's). The member's previous trial is marked STOPPED
 *    ("exploited: ...") once no queued clone still needs its kept state, so the
 *    controller drops its snapshot. Each exploit is recorded in the table's pbt events
 *    (lm_trials_add_pbt_event), and the new trial gets parent[0] = the donor trial,
 *    origin mutated, mutated = the explored entries, generation = the donor's + 1.
 * A member is done when its chain reaches the budget (the last job ends with CONTINUE).
 * lm_search_params.max_trials is not used: the population and the budget make the run,
 * and the number of trials is the population plus the number of exploits.
 *
 * Ready (A.1): every ready_epochs epochs of the chain (epoch % ready_epochs == 0), or,
 * with ready_seconds > 0, once the training time summed from report seconds since the
 * member's last ready point (or the start of its trial) reaches ready_seconds. Never at
 * the budget's last epoch. The score of a member is its validation accuracy at its
 * latest ready point (NaN ranks as -inf); after an exploit it is the donor's.
 *
 * Exploit (A.1): truncation (the bottom fraction q of the ranked members copies a
 * member drawn uniformly from the top q, with q n rounded up but at most n/2, as Ray
 * Tune does, so that 8 members and q = 0.25 give 2 and 2) or binary tournament (copy a
 * uniformly drawn other member if its score is higher). The ranked members are those
 * not finished or dead that have a score and whose state can be copied: running (the
 * copy is then of their state at their next pause) or paused with their state kept;
 * and only those whose latest score is at or beyond the deciding member's epoch. So a
 * member's weights never go back in epochs and every chain reaches the budget: without
 * that rule, members that outnumber the workers (and so are at different epochs) on a
 * dataset where accuracy saturates copy members behind them again and again (seen on
 * digits: tens of thousands of exploits, few epochs gained). In sync mode with
 * ready_epochs every member is at the same epoch and the rule changes nothing.
 * Explore (A.1, pbt.h): perturb by 0.8 / 1.2 (perturb_low / perturb_high) or resample
 * from the prior with probability resample_prob (default 0.25, Ray Tune's
 * combination); `explore: resample` only resamples. Architecture and data
 * hyperparameters (lm__pbt_explorable) keep the donor's value: a copied network cannot
 * change its shape.
 *
 * Asynchronous (default): a member at a ready point is decided as soon as its job ends,
 * against the latest known scores of the others. The donor's state must be kept when
 * the clone starts: if the chosen donor is running, the member waits (paused) for the
 * donor's next pause and copies the state it pauses with; if the donor finishes or
 * loses its state first, the member is decided again. So a worker may idle while
 * population <= workers; with more members than workers, others run meanwhile.
 * Synchronous (mode: sync): every member trains to its ready point (jobs WAIT
 * meanwhile), then all are decided at once in member order from the same scores, and
 * their jobs go out in that order (clones first): the run is the same whatever the
 * order in which reports arrive.
 *
 * A member whose trial fails or loses its state (stopped by a stopping rule, or paused
 * without its state kept) has score -inf and is decided as if at a ready point: it
 * continues as a copy of a donor if the exploit rule gives one, else it is dead.
 *
 * Decisions draw from the searcher's stream (seed, 0, LM_STREAM_SEARCH), saved with its
 * state. The controller's order of calls alone determines the run.
 *
 * Jobs go out in this order: new members until the population is complete (so that
 * members take turns when they outnumber the workers), then queued clones, then queued
 * resumes, each in the order decided. Clones go before resumes because a member resumed
 * first would take the kept state a queued clone still has to copy; and a donor trial
 * that no member continues is stopped no earlier than the call after its last clone
 * went out, so it is still paused when the controller starts that clone. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "search/pbt.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POP_MAX 10000

enum { MODE_ASYNC, MODE_SYNC };

static const char *const exploit_labels[] = {"truncation", "tournament", NULL};
static const char *const explore_labels[] = {"perturb", "resample", NULL};
static const char *const mode_labels[] = {"async", "sync", NULL};

static const lm_option_spec pbt_options[] = {
    {"population", LM_OPT_INT, 8, 1, POP_MAX, NULL, "members trained together (N)"},
    {"ready_epochs", LM_OPT_INT, 2, 1, 1e6, NULL,
     "a member is ready to exploit and explore every this many epochs"},
    {"ready_seconds", LM_OPT_REAL, 0, 0, 1e9, NULL,
     "> 0: ready instead once it trained this many seconds since its last ready point"},
    {"exploit", LM_OPT_ENUM, LM__PBT_TRUNCATION, 0, 0, exploit_labels,
     "truncation: the bottom fraction copies the top; tournament: copy a random better member"},
    {"fraction", LM_OPT_REAL, 0.25, 0, 0.5, NULL, "truncation: the top and bottom fraction q"},
    {"explore", LM_OPT_ENUM, LM__PBT_PERTURB, 0, 0, explore_labels,
     "perturb: multiply by perturb_low or perturb_high, a categorical moves to a neighbour, "
     "or resample with resample_prob; resample: only resample, with resample_prob"},
    {"resample_prob", LM_OPT_REAL, 0.25, 0, 1, NULL,
     "probability that an explored hyperparameter is redrawn from its prior"},
    {"perturb_low", LM_OPT_REAL, 0.8, 0.01, 1, NULL, "perturb: the factor that decreases"},
    {"perturb_high", LM_OPT_REAL, 1.2, 1, 100, NULL, "perturb: the factor that increases"},
    {"mode", LM_OPT_ENUM, MODE_ASYNC, 0, 0, mode_labels,
     "async: decide a ready member at once; sync: decide all members when all are ready"},
    {0},
};

/* Where a member stands. */
typedef enum {
    M_NONE,      /* not created yet */
    M_RUNNING,   /* its job is in flight */
    M_DECIDE,    /* its job ended at a ready point (or lost its state): to be decided */
    M_WAIT,      /* exploits waiting_on, which is running: copies its next pause */
    M_QUEUED,    /* decided: job (resume or clone) to hand out */
    M_FINISHED,  /* trained the budget */
    M_DEAD,      /* lost its state and had no donor */
} mstate;
#define M_N_STATES (M_DEAD + 1)

enum { JOB_RESUME = 1, JOB_CLONE = 2 };

typedef struct member {
    int trial;            /* current trial; -1 before it exists */
    int state;            /* mstate */
    int kept;             /* its trial is paused with its state kept: it can be copied */
    int scored;           /* score is set */
    double score;         /* validation accuracy at its latest ready point; -inf: failed */
    int at;               /* the epoch of that score (for a failed trial, its epochs) */
    double secs;          /* training seconds since its latest ready point */
    int waiting_on;       /* M_WAIT: the member it copies; else -1 */
    int64_t seq;          /* M_WAIT, M_QUEUED: order of entering that state */
    int job;              /* M_QUEUED: JOB_RESUME or JOB_CLONE */
    int donor_trial;      /* M_QUEUED clone: the trial copied, its member and score */
    int donor_member;
    double donor_score;
    uint64_t mutated;     /* M_QUEUED clone: entries explore changed */
} member;

typedef struct pbt {
    lm_searcher base;     /* first, so an lm_searcher * is a pbt * */
    lm_search_params p;
    int n_hp, N;
    int ready_epochs;
    double ready_seconds;
    int exploit;
    double fraction;
    lm__pbt_explore_params ex;
    int sync;
    lm_rng rng;           /* (seed, 0, LM_STREAM_SEARCH) */
    member *m;            /* N */
    double *next_hp;      /* N x n_hp: a queued clone's explored point */
    int *ended;           /* members whose job ended since the last next_job, in order */
    int n_ended;
    int n_created;
    int64_t seq;
    int last_donor;       /* the donor of the clone handed out last, retired at the next call
                             if no longer needed (never in the call that hands out its clone,
                             so the donor is paused when the controller starts the clone) */
    int verified;         /* member trials checked against the table since create/load */
    /* scratch for decisions */
    double *score;
    unsigned char *in;
    lm__pbt_ranked *order;
    int *wait;
} pbt;

static void free_arrays(pbt *s) {
    free(s->m);
    free(s->next_hp);
    free(s->ended);
    free(s->score);
    free(s->in);
    free(s->order);
    free(s->wait);
}

static void member_clear(member *m) {
    memset(m, 0, sizeof *m);
    m->trial = -1;
    m->state = M_NONE;
    m->waiting_on = -1;
    m->donor_trial = -1;
    m->donor_member = -1;
    m->score = NAN;
    m->donor_score = NAN;
}

static int pbt_create(const lm_search_params *p, lm_searcher **out) {
    const lm_option_spec *o = pbt_options;
    pbt *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->base.ops = &lm__pbt_ops;
    s->p = *p;
    s->n_hp = lm_space_size(p->space);
    s->N = (int)lm_options_get(&p->options, o, "population");
    s->ready_epochs = (int)lm_options_get(&p->options, o, "ready_epochs");
    s->ready_seconds = lm_options_get(&p->options, o, "ready_seconds");
    s->exploit = (int)lm_options_get(&p->options, o, "exploit");
    s->fraction = lm_options_get(&p->options, o, "fraction");
    s->ex.kind = (lm__pbt_explore_kind)(int)lm_options_get(&p->options, o, "explore");
    s->ex.resample_prob = lm_options_get(&p->options, o, "resample_prob");
    s->ex.low = lm_options_get(&p->options, o, "perturb_low");
    s->ex.high = lm_options_get(&p->options, o, "perturb_high");
    s->sync = (int)lm_options_get(&p->options, o, "mode") == MODE_SYNC;
    lm_rng_init(&s->rng, p->seed, 0, LM_STREAM_SEARCH);
    size_t N = (size_t)s->N, nh = (size_t)(s->n_hp ? s->n_hp : 1);
    s->m = malloc(N * sizeof *s->m);
    s->next_hp = malloc(N * nh * sizeof *s->next_hp);
    s->ended = malloc(N * sizeof *s->ended);
    s->score = malloc(N * sizeof *s->score);
    s->in = malloc(N * sizeof *s->in);
    s->order = malloc(N * sizeof *s->order);
    s->wait = malloc(N * sizeof *s->wait);
    if (!s->m || !s->next_hp || !s->ended || !s->score || !s->in || !s->order || !s->wait) {
        free_arrays(s);
        free(s);
        LM_FAIL(LM_ENOMEM, "pbt: out of memory for a population of %zu", N);
    }
    for (int i = 0; i < s->N; i++) member_clear(&s->m[i]);
    for (size_t i = 0; i < N * nh; i++) s->next_hp[i] = NAN;
    s->last_donor = -1;
    *out = &s->base;
    return LM_OK;
}

/* ---- the table ---- */

/* Marks trial id STOPPED with a reason, its end the newest report's arrival if unset. */
static void stop_trial(lm_trials *t, int id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void stop_trial(lm_trials *t, int id, const char *fmt, ...) {
    lm_trial *tr = &t->v[id];
    tr->status = LM_TRIAL_STOPPED;
    if (isnan(tr->t_end) && t->n_curves) tr->t_end = t->curves[t->n_curves - 1].t;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tr->reason, sizeof tr->reason, fmt, ap);
    va_end(ap);
}

/* Whether a queued clone still has to copy trial id's kept state. */
static int needed_as_donor(const pbt *s, int id) {
    for (int i = 0; i < s->N; i++)
        if (s->m[i].state == M_QUEUED && s->m[i].job == JOB_CLONE && s->m[i].donor_trial == id)
            return 1;
    return 0;
}

/* Stops paused trial id once no member continues it and no queued clone needs it, so
 * that the controller drops its kept state. */
static void retire(const pbt *s, lm_trials *t, int id) {
    if (id < 0 || id >= t->n || t->v[id].status != LM_TRIAL_PAUSED) return;
    int mi = t->v[id].member;
    if (mi >= 0 && mi < s->N && s->m[mi].trial == id) return;
    if (needed_as_donor(s, id)) return;
    /* The exploit that replaced it, for the reason. */
    for (size_t k = t->n_pbt; k-- > 0;) {
        const lm_pbt_event *e = &t->pbt[k];
        if (e->prev_trial != id) continue;
        stop_trial(t, id, "exploited: member %d continues as trial %d, a copy of trial %d after "
                   "%d epochs", e->member, e->trial, e->donor, e->epoch);
        return;
    }
    stop_trial(t, id, "pbt: the search ended with the trial paused");
}

/* ---- decisions ---- */

/* Whether member i can be copied by member self: live, scored at or beyond self's epoch,
 * and its state kept or to be kept at its next pause. */
static int donor_ok(const pbt *s, int i, int self) {
    const member *m = &s->m[i];
    if (i == self || !m->scored || m->at < s->m[self].at) return 0;
    if (m->state == M_RUNNING) return 1;
    return (m->state == M_DECIDE || m->state == M_WAIT || m->state == M_QUEUED) && m->kept;
}

static void enqueue(pbt *s, int i, int job) {
    member *m = &s->m[i];
    m->state = M_QUEUED;
    m->job = job;
    m->waiting_on = -1;
    m->seq = s->seq++;
}

/* Queues member i's clone of member d's current (kept) trial, exploring its point. */
static void queue_clone(pbt *s, const lm_trials *t, int i, int d) {
    member *m = &s->m[i];
    int D = s->m[d].trial;
    m->donor_trial = D;
    m->donor_member = d;
    m->donor_score = s->m[d].score;
    m->mutated = lm__pbt_explore(s->p.space, &s->ex, &s->rng, t->v[D].hp,
                                 s->next_hp + (size_t)i * (size_t)s->n_hp);
    enqueue(s, i, JOB_CLONE);
}

/* Exploit (and explore) for member i, whose job ended at a ready point or lost its
 * state: continue, copy a paused member now, wait for a running one, or die. */
static void decide(pbt *s, const lm_trials *t, int i) {
    for (int j = 0; j < s->N; j++) {
        s->in[j] = (unsigned char)donor_ok(s, j, i);
        s->score[j] = s->m[j].score;
    }
    int d = s->exploit == LM__PBT_TRUNCATION
                ? lm__pbt_truncation(s->score, s->in, s->N, i, s->fraction, &s->rng, s->order)
                : lm__pbt_tournament(s->score, s->in, s->N, i, &s->rng);
    member *m = &s->m[i];
    if (d < 0) {
        if (m->kept) {
            enqueue(s, i, JOB_RESUME);
        } else {
            m->state = M_DEAD;
            m->waiting_on = -1;
        }
    } else if (s->m[d].state == M_RUNNING) {
        m->state = M_WAIT;
        m->waiting_on = d;
        m->seq = s->seq++;
    } else {
        queue_clone(s, t, i, d);
    }
}

/* The members waiting on d, in the order they started waiting; *n of them. */
static int waiters(const pbt *s, int d, int *out) {
    int n = 0;
    for (int i = 0; i < s->N; i++)
        if (s->m[i].state == M_WAIT && s->m[i].waiting_on == d) out[n++] = i;
    for (int a = 1; a < n; a++) /* insertion sort by seq: few waiters */
        for (int b = a; b > 0 && s->m[out[b]].seq < s->m[out[b - 1]].seq; b--) {
            int x = out[b];
            out[b] = out[b - 1];
            out[b - 1] = x;
        }
    return n;
}

/* Handles the members whose jobs ended, in order: those waiting on one copy it if it
 * paused with its state kept, else are decided again; then it is decided itself
 * (asynchronous mode; in sync mode it waits for the round). */
static void drain(pbt *s, const lm_trials *t) {
    int *w = s->wait;
    for (int k = 0; k < s->n_ended; k++) {
        int d = s->ended[k];
        member *m = &s->m[d];
        int nw = waiters(s, d, w);
        for (int j = 0; j < nw; j++) {
            if (m->state == M_DECIDE && m->kept) {
                queue_clone(s, t, w[j], d);
            } else {
                s->m[w[j]].state = M_DECIDE;
                decide(s, t, w[j]);
            }
        }
        if (m->state == M_DECIDE && !s->sync) decide(s, t, d);
    }
    s->n_ended = 0;
}

/* Sync mode: every member is decided, in member order, from the scores of this round. */
static void round_all(pbt *s, const lm_trials *t) {
    for (int i = 0; i < s->N; i++)
        if (s->m[i].state == M_DECIDE) decide(s, t, i);
}

/* ---- handing out jobs ---- */

static int pick_queued(const pbt *s, int job) {
    int best = -1;
    for (int i = 0; i < s->N; i++)
        if (s->m[i].state == M_QUEUED && s->m[i].job == job &&
            (best < 0 || s->m[i].seq < s->m[best].seq))
            best = i;
    return best;
}

static int issue_clone(pbt *s, lm_trials *t, int i, lm_job *out) {
    member *m = &s->m[i];
    int D = m->donor_trial, prev = m->trial;
    LM_CHECK(D >= 0 && D < t->n && t->v[D].status == LM_TRIAL_PAUSED, LM_EINTERNAL,
             "pbt: member %d copies trial %d, which is %s, not paused with its state kept", i,
             D, D >= 0 && D < t->n ? lm_trial_status_name(t->v[D].status) : "unknown");
    const double *hp = s->next_hp + (size_t)i * (size_t)s->n_hp;
    int id;
    LM_CALL(lm_trials_add(t, hp, s->p.epochs, &id));
    lm_trial *tr = &t->v[id];
    tr->member = i;
    tr->parent[0] = D;
    tr->origin = LM_ORIGIN_MUTATED;
    tr->mutated = m->mutated;
    tr->generation = t->v[D].generation + 1;
    lm_pbt_event e = {.epoch = t->v[D].epochs, .member = i, .trial = id, .donor = D,
                      .donor_member = m->donor_member, .prev_trial = prev,
                      .prev_epoch = t->v[prev].epochs, .score = m->score,
                      .donor_score = m->donor_score};
    LM_CALL(lm_trials_add_pbt_event(t, &e, t->v[D].hp, hp));
    m->trial = id;
    m->state = M_RUNNING;
    m->kept = 0;
    m->secs = 0;
    m->score = m->donor_score; /* it has the donor's weights now */
    m->at = e.epoch;
    m->scored = 1;
    m->donor_trial = -1;
    retire(s, t, prev);
    s->last_donor = D;
    *out = (lm_job){LM_JOB_CLONE, id, s->p.epochs, D};
    return LM_OK;
}

static int issue_resume(pbt *s, lm_trials *t, int i, lm_job *out) {
    member *m = &s->m[i];
    LM_CHECK(t->v[m->trial].status == LM_TRIAL_PAUSED, LM_EINTERNAL,
             "pbt: member %d resumes trial %d, which is %s, not paused", i, m->trial,
             lm_trial_status_name(t->v[m->trial].status));
    m->state = M_RUNNING;
    m->kept = 0;
    m->secs = 0;
    *out = (lm_job){LM_JOB_RESUME, m->trial, s->p.epochs, -1};
    return LM_OK;
}

static int issue_new(pbt *s, lm_trials *t, lm_job *out) {
    int k = t->n, id;
    lm_rng rng;
    lm_rng_init(&rng, s->p.seed, (uint64_t)k, LM_STREAM_SAMPLE);
    double x[LM_HP_MAX];
    lm_space_sample(s->p.space, &rng, x);
    LM_CALL(lm_trials_add(t, x, s->p.epochs, &id));
    int i = s->n_created++;
    t->v[id].member = i;
    member *m = &s->m[i];
    member_clear(m);
    m->trial = id;
    m->state = M_RUNNING;
    *out = (lm_job){LM_JOB_NEW, id, s->p.epochs, -1};
    return LM_OK;
}

/* After a load: the members' trials must be in the table and name their member. */
static int verify(pbt *s, const lm_trials *t) {
    for (int i = 0; i < s->N; i++) {
        const member *m = &s->m[i];
        if (m->state == M_NONE) continue;
        LM_CHECK(m->trial >= 0 && m->trial < t->n && t->v[m->trial].member == i, LM_ECKPT,
                 "checkpoint entry 'searcher/trial': member %d's trial %d is not a trial of "
                 "that member in the table (%d trials)", i, m->trial, t->n);
        LM_CHECK(m->state != M_QUEUED || m->job != JOB_CLONE ||
                     (m->donor_trial >= 0 && m->donor_trial < t->n),
                 LM_ECKPT, "checkpoint entry 'searcher/donor_trial': member %d copies trial %d, "
                 "which is not in the table (%d trials)", i, m->donor_trial, t->n);
    }
    s->verified = 1;
    return LM_OK;
}

static int pbt_next_job(lm_searcher *base, lm_trials *t, lm_job *out) {
    pbt *s = (pbt *)base;
    LM_CALL(lm__searcher_check_table(base, t, s->n_hp));
    if (!s->verified) LM_CALL(verify(s, t));
    *out = (lm_job){LM_JOB_WAIT, -1, 0, -1};
    retire(s, t, s->last_donor);
    s->last_donor = -1;
    drain(s, t);
    /* The whole population starts before anyone continues, so that members take turns
     * when they outnumber the workers. */
    if (s->n_created < s->N) return issue_new(s, t, out);
    for (int pass = 0; pass < 2; pass++) {
        int i = pick_queued(s, JOB_CLONE);
        if (i >= 0) return issue_clone(s, t, i, out);
        i = pick_queued(s, JOB_RESUME);
        if (i >= 0) return issue_resume(s, t, i, out);
        for (int j = 0; j < s->N; j++)
            if (s->m[j].state == M_RUNNING) return LM_OK; /* WAIT */
        if (!s->sync || pass) break;
        round_all(s, t);
    }
    /* Nothing runs, nothing is queued: every member finished or died. */
    for (int j = 0; j < s->N; j++)
        LM_CHECK(s->m[j].state == M_FINISHED || s->m[j].state == M_DEAD, LM_EINTERNAL,
                 "pbt: member %d is in state %d with nothing running", j, s->m[j].state);
    for (int id = 0; id < t->n; id++) retire(s, t, id);
    out->kind = LM_JOB_DONE;
    return LM_OK;
}

static lm_decision pbt_on_report(lm_searcher *base, lm_trials *t, const lm_report *r) {
    pbt *s = (pbt *)base;
    lm_decision d = {LM_DECIDE_CONTINUE};
    const lm_trial *tr = lm_trials_get(t, r->trial_id);
    if (!tr || tr->member < 0 || tr->member >= s->N) return d;
    member *m = &s->m[tr->member];
    if (m->trial != r->trial_id || m->state != M_RUNNING) return d;
    if (isfinite(r->seconds) && r->seconds > 0) m->secs += r->seconds;
    if (r->epoch >= s->p.epochs) return d; /* the budget's end: done */
    int ready = s->ready_seconds > 0 ? m->secs >= s->ready_seconds
                                     : r->epoch % s->ready_epochs == 0;
    if (!ready) return d;
    m->score = isnan(r->val_accuracy) ? -INFINITY : r->val_accuracy;
    m->at = r->epoch;
    m->scored = 1;
    d.kind = LM_DECIDE_PAUSE;
    return d;
}

/* Classifies the end of a member's job; the decision waits for next_job (where errors
 * can be returned). */
static void pbt_on_end(lm_searcher *base, lm_trials *t, int trial_id) {
    pbt *s = (pbt *)base;
    lm_trial *tr = lm_trials_get(t, trial_id);
    if (!tr || tr->member < 0 || tr->member >= s->N) return;
    int i = tr->member;
    member *m = &s->m[i];
    if (m->trial != trial_id || m->state != M_RUNNING) return;
    if (tr->status == LM_TRIAL_PAUSED) {
        m->kept = 1;
        m->state = M_DECIDE;
    } else if (tr->status == LM_TRIAL_DONE && tr->epochs >= s->p.epochs) {
        m->kept = 0;
        m->state = M_FINISHED;
    } else {
        if (tr->status == LM_TRIAL_DONE || tr->status == LM_TRIAL_RUNNING)
            stop_trial(t, trial_id, "pbt: its state was not kept when it paused after epoch %d",
                       tr->epochs);
        m->kept = 0;
        m->score = -INFINITY;
        m->at = tr->epochs;
        m->scored = 1;
        m->state = M_DECIDE;
    }
    s->ended[s->n_ended++] = i;
}

/* ---- save / load ----
 * Entries under "searcher/": the header; seed, epochs, population and mode (checked on
 * load: the run must be the same); rng (4 u64), n_created, seq, ended (the list); one
 * column per member field (N each) and next_hp (N x n_hp); last_donor. The other options come from
 * this run's configuration. */

typedef struct icol {
    const char *name;
    size_t off;
} icol;

static const icol int_cols[] = {
    {"searcher/trial", offsetof(member, trial)},
    {"searcher/state", offsetof(member, state)},
    {"searcher/kept", offsetof(member, kept)},
    {"searcher/scored", offsetof(member, scored)},
    {"searcher/at", offsetof(member, at)},
    {"searcher/waiting_on", offsetof(member, waiting_on)},
    {"searcher/job", offsetof(member, job)},
    {"searcher/donor_trial", offsetof(member, donor_trial)},
    {"searcher/donor_member", offsetof(member, donor_member)},
};
static const icol f64_cols[] = {
    {"searcher/score", offsetof(member, score)},
    {"searcher/secs", offsetof(member, secs)},
    {"searcher/donor_score", offsetof(member, donor_score)},
};
static const icol i64_cols[] = {
    {"searcher/seq", offsetof(member, seq)},
    {"searcher/mutated", offsetof(member, mutated)},
};
#define N_INT_COLS (sizeof int_cols / sizeof *int_cols)
#define N_F64_COLS (sizeof f64_cols / sizeof *f64_cols)
#define N_I64_COLS (sizeof i64_cols / sizeof *i64_cols)

static int pbt_save(const lm_searcher *base, lm_state_writer *w) {
    const pbt *s = (const pbt *)base;
    LM_CALL(lm__searcher_save_header(base, s->n_hp, w));
    LM_CALL(lm_state_put(w, "searcher/seed", LM_DT_U64, 1, &s->p.seed));
    LM_CALL(lm_state_put_i64(w, "searcher/epochs", s->p.epochs));
    LM_CALL(lm_state_put_i64(w, "searcher/population", s->N));
    LM_CALL(lm_state_put_i64(w, "searcher/sync", s->sync));
    LM_CALL(lm_state_put(w, "searcher/rng", LM_DT_U64, 4, s->rng.s));
    LM_CALL(lm_state_put_i64(w, "searcher/n_created", s->n_created));
    LM_CALL(lm_state_put_i64(w, "searcher/seq_next", s->seq));
    LM_CALL(lm_state_put_i64(w, "searcher/last_donor", s->last_donor));
    int32_t none = 0;
    LM_CALL(lm_state_put(w, "searcher/ended", LM_DT_I32, (size_t)s->n_ended,
                         s->n_ended ? (const void *)s->ended : &none));
    size_t N = (size_t)s->N;
    int64_t *col = malloc(N * sizeof *col);
    LM_CHECK_ALLOC(col);
    int rc = LM_OK;
    for (size_t c = 0; c < N_INT_COLS && rc == LM_OK; c++) {
        int32_t *v = (int32_t *)col;
        for (size_t i = 0; i < N; i++) memcpy(&v[i], (const char *)&s->m[i] + int_cols[c].off, 4);
        rc = lm_state_put(w, int_cols[c].name, LM_DT_I32, N, v);
    }
    for (size_t c = 0; c < N_F64_COLS && rc == LM_OK; c++) {
        double *v = (double *)col;
        for (size_t i = 0; i < N; i++) memcpy(&v[i], (const char *)&s->m[i] + f64_cols[c].off, 8);
        rc = lm_state_put(w, f64_cols[c].name, LM_DT_F64, N, v);
    }
    for (size_t c = 0; c < N_I64_COLS && rc == LM_OK; c++) {
        for (size_t i = 0; i < N; i++) memcpy(&col[i], (const char *)&s->m[i] + i64_cols[c].off, 8);
        rc = lm_state_put(w, i64_cols[c].name, LM_DT_I64, N, col);
    }
    free(col);
    LM_CALL(rc);
    size_t nh = (size_t)s->n_hp;
    double dnone = 0;
    LM_CALL(lm_state_put(w, "searcher/next_hp", LM_DT_F64, N * nh, nh ? s->next_hp : &dnone));
    return LM_OK;
}

static int check_same(lm_state_reader *r, const char *name, int64_t want, const char *what) {
    int64_t have;
    LM_CALL(lm_state_get_i64(r, name, &have));
    LM_CHECK(have == want, LM_ECKPT,
             "checkpoint entry '%s' is %lld, but this run's %s is %lld: the checkpoint was made "
             "with another configuration", name, (long long)have, what, (long long)want);
    return LM_OK;
}

static int get_exact(lm_state_reader *r, const char *name, lm_dtype dt, size_t n, void *out) {
    size_t have;
    LM_CALL(lm_state_len(r, name, dt, &have));
    LM_CHECK(have == n, LM_ECKPT, "checkpoint entry '%s' has %zu elements, expected %zu", name,
             have, n);
    LM_CALL(lm_state_get(r, name, dt, n, out));
    return LM_OK;
}

/* Checks what a member's fields must satisfy among themselves. */
static int check_member(const pbt *s, int i) {
    const member *m = &s->m[i];
    int ok = m->state >= M_NONE && m->state < M_N_STATES && (m->kept == 0 || m->kept == 1) &&
             (m->scored == 0 || m->scored == 1) && m->at >= 0 && m->trial >= -1 && m->trial < LM__TRIALS_MAX &&
             (m->state == M_NONE) == (m->trial < 0) && (m->state == M_NONE) == (i >= s->n_created);
    if (ok && m->state == M_WAIT) {
        /* its donor is running, or its job ended and awaits next_job */
        int d = m->waiting_on, ended = 0;
        for (int k = 0; k < s->n_ended; k++) ended |= s->ended[k] == d;
        ok = d >= 0 && d < s->N && d != i && (s->m[d].state == M_RUNNING || ended);
    }
    if (ok && m->state == M_QUEUED)
        ok = m->job == JOB_RESUME
                 ? m->kept == 1
                 : m->job == JOB_CLONE && m->donor_trial >= 0 && m->donor_trial < LM__TRIALS_MAX &&
                       m->donor_member >= 0 && m->donor_member < s->N && m->donor_member != i;
    LM_CHECK(ok, LM_ECKPT,
             "checkpoint entries 'searcher/state' (and the other member columns): member %d "
             "(state %d, trial %d, kept %d, waiting on %d, job %d, donor %d) is inconsistent",
             i, m->state, m->trial, m->kept, m->waiting_on, m->job, m->donor_trial);
    return LM_OK;
}

static int load_into(pbt *s, lm_state_reader *r) {
    size_t N = (size_t)s->N;
    LM_CALL(lm_state_get(r, "searcher/rng", LM_DT_U64, 4, s->rng.s));
    int64_t v;
    LM_CALL(lm__searcher_get_count(r, "searcher/n_created", 0, s->N, &v));
    s->n_created = (int)v;
    LM_CALL(lm__searcher_get_count(r, "searcher/seq_next", 0, INT64_MAX / 2, &v));
    s->seq = v;
    LM_CALL(lm__searcher_get_count(r, "searcher/last_donor", -1, LM__TRIALS_MAX - 1, &v));
    s->last_donor = (int)v;
    size_t n_ended;
    LM_CALL(lm_state_len(r, "searcher/ended", LM_DT_I32, &n_ended));
    LM_CHECK(n_ended <= N, LM_ECKPT, "checkpoint entry 'searcher/ended' has %zu members, the "
             "population %d", n_ended, s->N);
    if (n_ended) LM_CALL(lm_state_get(r, "searcher/ended", LM_DT_I32, n_ended, s->ended));
    s->n_ended = (int)n_ended;
    int64_t *col = malloc(N * sizeof *col);
    LM_CHECK_ALLOC(col);
    int rc = LM_OK;
    for (size_t c = 0; c < N_INT_COLS && rc == LM_OK; c++) {
        int32_t *x = (int32_t *)col;
        rc = get_exact(r, int_cols[c].name, LM_DT_I32, N, x);
        for (size_t i = 0; i < N && rc == LM_OK; i++)
            memcpy((char *)&s->m[i] + int_cols[c].off, &x[i], 4);
    }
    for (size_t c = 0; c < N_F64_COLS && rc == LM_OK; c++) {
        double *x = (double *)col;
        rc = get_exact(r, f64_cols[c].name, LM_DT_F64, N, x);
        for (size_t i = 0; i < N && rc == LM_OK; i++)
            memcpy((char *)&s->m[i] + f64_cols[c].off, &x[i], 8);
    }
    for (size_t c = 0; c < N_I64_COLS && rc == LM_OK; c++) {
        rc = get_exact(r, i64_cols[c].name, LM_DT_I64, N, col);
        for (size_t i = 0; i < N && rc == LM_OK; i++)
            memcpy((char *)&s->m[i] + i64_cols[c].off, &col[i], 8);
    }
    free(col);
    LM_CALL(rc);
    size_t nh = (size_t)s->n_hp;
    double none;
    LM_CALL(get_exact(r, "searcher/next_hp", LM_DT_F64, N * nh, nh ? s->next_hp : &none));
    for (int i = 0; i < s->N; i++) LM_CALL(check_member(s, i));
    for (int k = 0; k < s->n_ended; k++) {
        int i = s->ended[k];
        LM_CHECK(i >= 0 && i < s->N &&
                     (s->m[i].state == M_DECIDE || s->m[i].state == M_FINISHED),
                 LM_ECKPT, "checkpoint entry 'searcher/ended'[%d] is member %d, which has not "
                 "just ended", k, i);
        for (int j = 0; j < k; j++)
            LM_CHECK(s->ended[j] != i, LM_ECKPT,
                     "checkpoint entry 'searcher/ended' lists member %d twice", i);
    }
    return LM_OK;
}

/* The seed, budget, population and mode must be this run's. On failure the searcher is
 * unchanged. */
static int pbt_load(lm_searcher *base, lm_state_reader *r) {
    pbt *s = (pbt *)base;
    LM_CALL(lm__searcher_check_header(base, s->n_hp, r));
    uint64_t seed;
    LM_CALL(lm_state_get(r, "searcher/seed", LM_DT_U64, 1, &seed));
    LM_CHECK(seed == s->p.seed, LM_ECKPT,
             "checkpoint entry 'searcher/seed' is %llu, but this run's seed is %llu",
             (unsigned long long)seed, (unsigned long long)s->p.seed);
    LM_CALL(check_same(r, "searcher/epochs", s->p.epochs, "epochs per member"));
    LM_CALL(check_same(r, "searcher/population", s->N, "population"));
    LM_CALL(check_same(r, "searcher/sync", s->sync, "mode (1: sync)"));
    size_t N = (size_t)s->N, nh = (size_t)(s->n_hp ? s->n_hp : 1);
    pbt tmp = *s;
    tmp.m = malloc(N * sizeof *tmp.m);
    tmp.next_hp = malloc(N * nh * sizeof *tmp.next_hp);
    tmp.ended = malloc(N * sizeof *tmp.ended);
    int rc = tmp.m && tmp.next_hp && tmp.ended
                 ? load_into(&tmp, r)
                 : lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    if (rc < 0) {
        free(tmp.m);
        free(tmp.next_hp);
        free(tmp.ended);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    free(s->m);
    free(s->next_hp);
    free(s->ended);
    tmp.verified = 0;
    *s = tmp;
    return LM_OK;
}

static void pbt_destroy(lm_searcher *base) {
    pbt *s = (pbt *)base;
    free_arrays(s);
    free(s);
}

const lm_searcher_ops lm__pbt_ops = {
    .name = "pbt",
    .options = pbt_options,
    .create = pbt_create,
    .next_job = pbt_next_job,
    .on_report = pbt_on_report,
    .on_end = pbt_on_end,
    .save = pbt_save,
    .load = pbt_load,
    .destroy = pbt_destroy,
};
