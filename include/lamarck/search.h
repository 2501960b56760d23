/* The trial table and the searcher interface.
 *
 * Searchers are ask/tell state machines with no MPI and no HDF5: the controller asks
 * next_job() whenever a worker is free, passes every epoch's report to on_report(),
 * and tells on_end() when a trial ends. Searchers save and load their state through
 * lm_state_writer/lm_state_reader. Implementations are chosen by name from a registry
 * (lm_searcher_create("random", ...)) and fill a table of function pointers.
 */
#ifndef LAMARCK_SEARCH_H
#define LAMARCK_SEARCH_H

#include "lamarck/rng.h"
#include "lamarck/space.h"
#include "lamarck/state.h"

#include <stddef.h>
#include <stdint.h>

/* ---- trials ---- */

typedef enum {
    LM_TRIAL_PENDING,   /* created, not yet started */
    LM_TRIAL_RUNNING,
    LM_TRIAL_DONE,      /* trained every epoch it was given */
    LM_TRIAL_STOPPED,   /* stopped early by a decision */
    LM_TRIAL_FAILED,    /* diverged or could not train; reason says why */
    LM_TRIAL_PAUSED,    /* stopped for now with its weights kept; may be resumed */
} lm_trial_status;
#define LM_TRIAL_N_STATUS (LM_TRIAL_PAUSED + 1)

const char *lm_trial_status_name(lm_trial_status s);

#define LM_REASON_MAX 128

/* One epoch's metrics from a worker. */
typedef struct lm_report {
    int trial_id;
    int epoch;               /* 1-based */
    double train_loss;
    double train_accuracy;
    double val_loss;
    double val_accuracy;
    double seconds;          /* epoch wall time */
    double lr;
    int64_t params;
    int failed;              /* the trial failed in this epoch (reason) */
    char reason[LM_REASON_MAX];
    /* ---- cost objectives (evolution, nsga2; issue 7) ----
     * 0 (what a zeroed report holds) or NAN: not measured. */
    double flops;            /* floating-point operations of one forward pass, one example */
    double latency;          /* seconds of one forward pass of one example (batch 1) */
    /* ---- end cost objectives ---- */
} lm_report;

/* The end of a trial as the worker saw it: test metrics of the final model. */
typedef struct lm_final {
    int trial_id;
    double test_loss;
    double test_accuracy;    /* NAN when not measured; never used for selection */
} lm_final;

/* ---- Lamarckian inheritance (evolution; issue 7) ----
 * A change of a chain or MLP genome that an LM_JOB_CLONE of the trial applies to its
 * donor's trained weights: the new trial's genome is the donor's with this change, and
 * it starts from the donor's function (WIDER, DEEPER: Chen, Goodfellow and Shlens 2016)
 * or near it (NARROWER, REMOVE: approximate morphs, Elsken, Metzen and Hutter 2019). */
typedef enum {
    LM_MORPH_NONE,     /* a plain copy (PBT's exploit) */
    LM_MORPH_WIDER,    /* chain layer `layer` goes from from_width to to_width units/filters
                          (Net2WiderNet) */
    LM_MORPH_DEEPER,   /* a dense layer of layer `layer`'s width is inserted after it,
                          initialized as the identity (Net2DeeperNet) */
    LM_MORPH_NARROWER, /* layer `layer` goes from from_width down to to_width, keeping its
                          largest units (lm_net2narrower) */
    LM_MORPH_REMOVE,   /* layer `layer` (type, kernel, from_width, stride) is removed */
} lm_morph_kind;

typedef struct lm_morph {
    int kind;                 /* lm_morph_kind */
    int layer;                /* the donor's chain layer, 0-based */
    int from_width, to_width; /* WIDER, NARROWER: the layer's width before and after;
                                 REMOVE: from_width the removed layer's */
    double noise;             /* WIDER: relative noise on the copied units (see lm_net2wider) */
    int type, kernel, stride; /* REMOVE: the removed layer's (lm_arch_layer_type, sizes) */
} lm_morph;
/* ---- end Lamarckian inheritance ---- */

typedef struct lm_trial {
    int id;
    lm_trial_status status;
    int worker;              /* rank that trained it last, -1 before */
    int epochs;              /* epochs trained */
    int epochs_target;       /* epochs it was asked to train */
    double *hp;              /* point of the space (points into the table's store) */
    int64_t params;
    double best_val_accuracy, final_val_accuracy, final_val_loss, final_train_loss;
    double test_accuracy, test_loss;
    double t_start, t_end;   /* seconds since the run started */
    double train_seconds;    /* sum of epoch times */
    char reason[LM_REASON_MAX];
    /* ---- lineage and cost objectives (evolution, nsga2; issue 7) ---- */
    int parent[2];           /* trials its point was bred from; -1 where none */
    int origin;              /* lm_origin: how its point was made */
    uint64_t mutated;        /* bit i set: mutation changed hyperparameter i */
    int generation;          /* 0 for sampled points; nsga2: its generation; evolution:
                                1 + its first parent's generation */
    double flops, latency;   /* last measured (lm_report); NAN when never measured */
    /* ---- end lineage ---- */
    /* ---- multi-fidelity (hyperband, sha, asha; issue 5) ---- */
    int bracket;             /* bracket id (see the searcher); -1 when it has no brackets */
    int rung;                /* highest rung entered, 0 the first; -1 when none */
    /* ---- end multi-fidelity ---- */
    /* ---- population-based training (pbt; issue 6) ---- */
    int member;              /* pbt: the population member whose chain it belongs to
                                (0 .. population-1); -1 for other searchers */
    /* ---- end population-based training ---- */
    /* ---- Lamarckian inheritance (evolution; issue 7) ---- */
    lm_morph morph;          /* set by the searcher before it returns the trial's
                                LM_JOB_CLONE: kind NONE copies the donor's state as it is;
                                WIDER or DEEPER start the trial from the donor's weights
                                transformed by the morph, as a new model (its epochs count
                                from 0, optimizer state fresh). Not saved: it only matters
                                when the trial first starts. */
    /* ---- end Lamarckian inheritance ---- */
} lm_trial;

/* ---- lineage and population snapshots (evolution, nsga2; issue 7) ---- */

/* How a trial's point was made. */
typedef enum {
    LM_ORIGIN_SAMPLED,          /* drawn from the space's prior */
    LM_ORIGIN_MUTATED,          /* a copy of parent[0], mutated */
    LM_ORIGIN_CROSSED,          /* parent[0] and parent[1] crossed over */
    LM_ORIGIN_CROSSED_MUTATED,  /* crossed over, then mutated */
} lm_origin;
#define LM_ORIGIN_N (LM_ORIGIN_CROSSED_MUTATED + 1)

const char *lm_origin_name(lm_origin o);   /* "sampled", "mutated", "crossed", ... */

/* One member of a population snapshot: searchers that keep a population record it in
 * the table every so often, so results and checkpoints carry it without knowing the
 * algorithm. */
typedef struct lm_pop_row {
    int snapshot;            /* 0, 1, ... in the order snapshots were taken */
    int event;               /* trials ended when taken (evolution, steady nsga2), or the
                                generation (generational nsga2) */
    int trial_id;
    int age;                 /* evolution: birth rank (0 for the first member ever to
                                join, ...); nsga2: the generation that made it */
    int front;               /* nsga2: non-dominated front (0 the first); evolution: -1 */
    double fitness;          /* evolution: the scalar objective; nsga2: NAN */
    double crowding;         /* nsga2: crowding distance (INFINITY at a front's ends);
                                evolution: NAN */
} lm_pop_row;

/* ---- end lineage and population snapshots ---- */

/* ---- promotions (hyperband, sha, asha; issue 5) ---- */

/* A trial moved from one rung of its bracket to the next. */
typedef struct lm_promotion {
    double t;                /* seconds since the run started: the arrival time of the last
                                report in the table when it was decided (NAN if none) */
    int trial_id, bracket, from_rung, to_rung;
    int epoch;               /* epochs it had trained when promoted */
} lm_promotion;

/* ---- end promotions ---- */

/* ---- population-based training (pbt; issue 6) ---- */

/* An exploit (Jaderberg et al. 2017): member `member` stops its trial prev_trial and
 * continues as the new trial `trial`, which starts from a copy of the kept state of
 * trial `donor` (its weights and optimizer state after `epoch` epochs) with the
 * hyperparameters that explore made from the donor's. */
typedef struct lm_pbt_event {
    double t;                /* seconds since the run started: the arrival time of the last
                                report in the table when it was recorded (NAN if none) */
    int epoch;               /* epochs the donor had trained: the new trial's first is epoch+1 */
    int member;              /* the recipient member, 0 .. population-1 */
    int trial;               /* the new trial */
    int donor;               /* the trial whose kept state is copied */
    int donor_member;        /* the member the donor trial belongs to */
    int prev_trial;          /* the member's trial before the exploit */
    int prev_epoch;          /* epochs prev_trial had trained (its ready point, or where it
                                failed) */
    double score;            /* the member's score at that point (-inf: failed) */
    double donor_score;      /* the donor member's latest score */
} lm_pbt_event;

/* ---- end population-based training ---- */

typedef struct lm_curve_row {
    int trial_id, epoch;
    double train_loss, train_accuracy, val_loss, val_accuracy, seconds, lr, t;
} lm_curve_row;

typedef struct lm_trials {
    int n_hp;
    int n, cap;
    lm_trial *v;             /* by id: v[id].id == id */
    double *hp_store;        /* cap x n_hp */
    size_t n_curves, cap_curves;
    lm_curve_row *curves;    /* in arrival order */
    /* ---- population snapshots (evolution, nsga2; issue 7) ---- */
    int n_snapshots;
    size_t n_pop, cap_pop;
    lm_pop_row *pop;         /* every snapshot's rows, in the order taken */
    /* ---- end population snapshots ---- */
    /* ---- promotions (hyperband, sha, asha; issue 5) ---- */
    size_t n_promotions, cap_promotions;
    lm_promotion *promotions; /* in the order they were decided */
    /* ---- end promotions ---- */
    /* ---- population-based training (pbt; issue 6) ---- */
    size_t n_pbt, cap_pbt;
    lm_pbt_event *pbt;       /* exploits, in the order they were recorded */
    double *pbt_hp;          /* n_pbt x 2 x n_hp: each event's hyperparameters before (the
                                donor's, which explore started from), then after (the new
                                trial's) */
    /* ---- end population-based training ---- */
} lm_trials;

int lm_trials_init(lm_trials *t, int n_hp);
void lm_trials_fini(lm_trials *t);
/* Adds a pending trial with a copy of hp; its id is the next integer from 0. */
int lm_trials_add(lm_trials *t, const double *hp, int epochs_target, int *id);
lm_trial *lm_trials_get(lm_trials *t, int id);   /* NULL if out of range */
/* Records a report: a curve row, the trial's epochs and metrics; a failed report
 * marks the trial failed. now: seconds since the run started. */
int lm_trials_record(lm_trials *t, const lm_report *r, double now);
int lm_trials_count(const lm_trials *t, lm_trial_status s);
/* The finished (done or stopped) trial with the highest best_val_accuracy; -1 if none. */
int lm_trials_best(const lm_trials *t);
/* Saves and loads the whole table (trials and curves). */
int lm_trials_save(const lm_trials *t, lm_state_writer *w, const char *prefix);
int lm_trials_load(lm_trials *t, lm_state_reader *r, const char *prefix);
/* ---- population snapshots (issue 7) ----
 * Appends a snapshot of n members taken at event: copies rows, setting each row's
 * snapshot to the table's next snapshot number. LM_EINVAL for a trial id outside the
 * table; LM_ERANGE when the table would hold more than 2^26 rows in all. */
int lm_trials_add_snapshot(lm_trials *t, int event, const lm_pop_row *rows, int n);
/* The rows of the last snapshot: t->pop[*first .. *first + *n); *n = 0 when none. */
void lm_trials_last_snapshot(const lm_trials *t, size_t *first, int *n);
/* ---- end population snapshots ---- */
/* ---- promotions (issue 5) ----
 * Records that trial_id moves from its rung to to_rung (> its rung): appends a
 * promotion row (time as in lm_promotion, the trial's bracket and epochs) and sets the
 * trial's rung. LM_EINVAL for an unknown trial or a rung that does not go up;
 * LM_ERANGE when the table would hold more than 2^26 promotions. */
int lm_trials_add_promotion(lm_trials *t, int trial_id, int to_rung);
/* ---- end promotions ---- */
/* ---- population-based training (issue 6) ----
 * Appends an exploit event: a copy of *e with t set to the arrival time of the last
 * report in the table, and the n_hp values of before (the donor's hyperparameters) and
 * after (the new trial's). LM_EINVAL for a trial, donor or prev_trial outside the table,
 * a trial equal to its donor, a negative epoch or member; LM_ERANGE when the table would
 * hold more than 2^24 events. */
int lm_trials_add_pbt_event(lm_trials *t, const lm_pbt_event *e, const double *before,
                            const double *after);
/* Event k's hyperparameters before (after = 0) or after (after = 1) the exploit: n_hp
 * values in the table's store (valid until the next lm_trials_add_pbt_event or load). */
const double *lm_trials_pbt_hp(const lm_trials *t, size_t k, int after);
/* ---- end population-based training ---- */

/* ---- searcher interface ---- */

typedef enum {
    LM_JOB_NEW,      /* start trial_id from scratch and train it to `epochs` epochs */
    LM_JOB_WAIT,     /* nothing to start now; ask again after the next report */
    LM_JOB_DONE,     /* the search is over once running trials end */
    LM_JOB_RESUME,   /* continue paused trial_id from its last epoch to `epochs` in total,
                        from its kept weights and optimizer state (the controller knows
                        which worker holds them) */
    LM_JOB_CLONE,    /* start new trial_id from a copy of the kept state of trial `donor`
                        (weights, optimizer state, epochs done: the new trial continues from
                        the donor's epoch count) with trial_id's own hyperparameters, and
                        train it to `epochs` in total; the donor keeps its state (PBT's
                        exploit) */
} lm_job_kind;


typedef struct lm_job {
    lm_job_kind kind;
    int trial_id;
    int epochs;
    int donor;       /* LM_JOB_CLONE: the trial whose kept state is copied; else unused */
} lm_job;

/* The answer to a report. At a job's last epoch CONTINUE means the trial is done;
 * PAUSE (at any epoch) ends the job but keeps the trial's weights and optimizer state
 * so that a later LM_JOB_RESUME continues it exactly where it stopped. */
typedef enum { LM_DECIDE_CONTINUE, LM_DECIDE_STOP, LM_DECIDE_PAUSE } lm_decision_kind;

typedef struct lm_decision {
    lm_decision_kind kind;
} lm_decision;

/* ---- options: an algorithm's own settings ----
 * Each searcher and stopper declares its settings as a table of specs; the config
 * validates the YAML keys of its section against that table (so a new algorithm needs
 * no change in config/), and the implementation reads values with lm_options_get. */

typedef enum { LM_OPT_INT, LM_OPT_REAL, LM_OPT_BOOL, LM_OPT_ENUM } lm_opt_kind;

typedef struct lm_option_spec {
    const char *name;
    lm_opt_kind kind;
    double def;                 /* default (ENUM: label index; BOOL: 0 or 1) */
    double lo, hi;              /* INT and REAL: inclusive bounds */
    const char *const *labels;  /* ENUM: NULL-terminated labels */
    const char *help;           /* one line, shown in error messages */
} lm_option_spec;

#define LM_OPTIONS_MAX 32
#define LM_OPTION_NAME_MAX 64

/* Values set by the user (others take their spec's default). */
typedef struct lm_options {
    int n;
    char name[LM_OPTIONS_MAX][LM_OPTION_NAME_MAX];
    double value[LM_OPTIONS_MAX];   /* ENUM: label index; BOOL: 0 or 1 */
} lm_options;

/* Validates and stores name = (num or label) against specs (terminated by a spec with
 * a NULL name). LM_EINVAL for an unknown name (message lists the known ones and the
 * closest), LM_ERANGE for a value out of range or an unknown label. For ENUM and BOOL
 * pass label ("true"/"false" for BOOL); for INT and REAL pass num. */
int lm_options_set(lm_options *o, const lm_option_spec *specs, const char *name, double num,
                   const char *label);
/* The value of name: set by the user or the spec's default. name must be in specs. */
double lm_options_get(const lm_options *o, const lm_option_spec *specs, const char *name);

/* What the searcher is given at creation; owned by the caller, outlives the searcher. */
typedef struct lm_search_params {
    const lm_space *space;
    uint64_t seed;
    int max_trials;          /* random: trials to run; grid: cap (0 = whole grid) */
    int epochs;              /* epochs per trial (the maximum resource, R, for multi-fidelity) */
    lm_options options;      /* the algorithm's own settings (its ops->options) */
} lm_search_params;

typedef struct lm_searcher lm_searcher;

typedef struct lm_searcher_ops {
    const char *name;
    const lm_option_spec *options;   /* its settings; NULL when it has none */
    int (*create)(const lm_search_params *p, lm_searcher **out);
    int (*next_job)(lm_searcher *s, lm_trials *t, lm_job *out);
    lm_decision (*on_report)(lm_searcher *s, lm_trials *t, const lm_report *r);
    void (*on_end)(lm_searcher *s, lm_trials *t, int trial_id);
    int (*save)(const lm_searcher *s, lm_state_writer *w);
    int (*load)(lm_searcher *s, lm_state_reader *r);
    void (*destroy)(lm_searcher *s);
} lm_searcher_ops;

/* Every searcher begins with this header so the generic functions can dispatch. */
struct lm_searcher {
    const lm_searcher_ops *ops;
};

/* Creates the searcher registered under name ("random", "grid"); LM_ECONFIG with the
 * list of known names (and the closest) when there is none. */
int lm_searcher_create(const char *name, const lm_search_params *p, lm_searcher **out);
void lm_searcher_destroy(lm_searcher **s);
const char *const *lm_searcher_names(int *n);
/* The option specs of the searcher called name (terminated by a NULL name; an empty
 * table when it has none), or NULL when there is no such searcher. */
const lm_option_spec *lm_searcher_options(const char *name);

static inline int lm_searcher_next_job(lm_searcher *s, lm_trials *t, lm_job *out) {
    return s->ops->next_job(s, t, out);
}
static inline lm_decision lm_searcher_on_report(lm_searcher *s, lm_trials *t, const lm_report *r) {
    return s->ops->on_report(s, t, r);
}
static inline void lm_searcher_on_end(lm_searcher *s, lm_trials *t, int id) {
    s->ops->on_end(s, t, id);
}
static inline int lm_searcher_save(const lm_searcher *s, lm_state_writer *w) {
    return s->ops->save(s, w);
}
static inline int lm_searcher_load(lm_searcher *s, lm_state_reader *r) {
    return s->ops->load(s, r);
}

/* ---- multi-fidelity plans (hyperband, sha, asha; issue 5) ----
 * Resource = epochs. R is the most epochs a trial trains (lm_search_params.epochs). */

#define LM_HB_RUNGS_MAX 32   /* s_max + 1 <= 31 for any R < 2^31 */

/* One Hyperband bracket (Li et al., JMLR 2017, Algorithm 1): rung i holds n[i]
 * configurations trained to r[i] epochs in total. */
typedef struct lm_hb_bracket {
    int s;                       /* halvings: the paper's bracket index */
    int n_rungs;                 /* s + 1 */
    int n[LM_HB_RUNGS_MAX];      /* n_i = floor(n eta^-i) */
    int r[LM_HB_RUNGS_MAX];      /* r_i = floor(R eta^(i-s)), >= 1; r[s] = R */
} lm_hb_bracket;

/* Fills out[s] for s = 0..s_max, s_max = floor(log_eta R) computed in integers, and
 * returns the number of brackets s_max + 1 (or a negative code). n = n[0] is
 * ceil((s_max+1) eta^s / (s+1)) (Algorithm 1) or, with table_rounding, the paper's
 * Table 1 floor((s_max+1)/(s+1)) eta^s. r_i rounds R eta^(i-s) down, so a rung never
 * trains more than the paper's resource; it is exact when R is a power of eta.
 * LM_EINVAL for R < 1 or eta < 2, LM_ERANGE when cap < s_max + 1 or a bracket would
 * hold more than 2^24 configurations. Pure; no allocation. */
int lm_hyperband_table(int R, int eta, int table_rounding, lm_hb_bracket *out, int cap);

/* The rung resources of ASHA bracket s (Li et al., MLSys 2020, Algorithm 2, early
 * stopping rate s): r_k = r_min eta^(s+k) while below R, then R itself as the top
 * rung. Writes them to r (at most cap) and returns their number, or a negative code:
 * LM_EINVAL unless 1 <= r_min <= R, eta >= 2 and s >= 0; LM_ERANGE when cap is too
 * small. A bracket whose first resource reaches R has the single rung R. */
int lm_asha_rungs(int R, int r_min, int eta, int s, int *r, int cap);

/* ---- end multi-fidelity plans ---- */

/* ---- stoppers: early-stopping rules that compose with any searcher ----
 * The controller asks the searcher, then the stopper; a STOP from either stops. */

typedef struct lm_stopper lm_stopper;

typedef struct lm_stopper_ops {
    const char *name;
    const lm_option_spec *options;
    int (*create)(const lm_options *o, lm_stopper **out);
    lm_decision (*on_report)(lm_stopper *s, const lm_trials *t, const lm_report *r);
    int (*save)(const lm_stopper *s, lm_state_writer *w);
    int (*load)(lm_stopper *s, lm_state_reader *r);
    void (*destroy)(lm_stopper *s);
} lm_stopper_ops;

struct lm_stopper {
    const lm_stopper_ops *ops;
};

/* "none" creates no stopper (*out = NULL) and is always valid. */
int lm_stopper_create(const char *name, const lm_options *o, lm_stopper **out);
void lm_stopper_destroy(lm_stopper **s);
const char *const *lm_stopper_names(int *n);
const lm_option_spec *lm_stopper_options(const char *name);
/* ---- learning curves as stopping rules read them ----
 *
 *     lm_curve_cache cc = {0};
 *     lm_curve_cache_update(&cc, trials);     // at each report: takes in new rows
 *     const lm_curve *c = &cc.c[id];          // c->n epochs: val, sum, max by epoch - 1
 *     lm_curve_cache_fini(&cc);
 *
 * Per trial (by id, cc.n of them), the validation accuracy of every epoch reached (NaN
 * as 0), with prefix sums and running maxima; each table row is taken in once. It is a
 * cache of the table: a rule rebuilds it from a loaded table (fini, then update). */
typedef struct lm_curve {
    double *val, *sum, *max;
    int n, cap;
} lm_curve;

typedef struct lm_curve_cache {
    lm_curve *c;
    int n;
    size_t consumed;       /* the table's curve rows taken in */
} lm_curve_cache;

/* LM_ENOMEM or LM_ERANGE (more than 2^24 trials or 2^20 epochs in a curve); the cache
 * then holds what it took in so far. */
int lm_curve_cache_update(lm_curve_cache *cc, const lm_trials *t);
/* Frees and zeroes the cache (a zeroed cache is empty). */
void lm_curve_cache_fini(lm_curve_cache *cc);

/* Adds a stopping rule under ops->name (issue 10: a module above search, such as rank,
 * registers its rule at start-up). ops is borrowed for the process's life; registering
 * a name again replaces that registered rule; a built-in name is LM_EINVAL. At most 8
 * registered rules (LM_ERANGE). Not thread-safe: call before any stopper is created. */
int lm_stopper_register(const lm_stopper_ops *ops);
/* The file a rule reads when it is created (stopping.model: the ranking model of rule
 * rank), set by the run before lm_stopper_create; NULL clears it. The string is copied
 * (at most 4095 bytes). lm_stopper_model_path returns NULL when none is set. */
int lm_stopper_set_model_path(const char *path);
const char *lm_stopper_model_path(void);

#endif
