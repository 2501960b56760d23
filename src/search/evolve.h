/* Internal to the search module: what the population-based searchers (evolution,
 * nsga2) share. Three pieces:
 *
 *  - genome operations: the only way the algorithms touch a trial's point (sample,
 *    mutate, cross over, compare, and optionally a real coding in [0,1]^n for SBX and
 *    polynomial mutation). Today the genome is a point of the hyperparameter space
 *    (lm__genome_hp); an architecture genome (issue 4) plugs in by filling another
 *    lm__genome_ops, with no change to the algorithms;
 *  - objectives and fitness: a trial's metrics (val_accuracy, params, flops, latency)
 *    and scalarizations of them into one fitness (moo.h);
 *  - selection operators (select.c) and NSGA-II's real-coded variation (nsga2.c),
 *    exposed so that tests and benchmarks drive them without a trial table. */
#ifndef LAMARCK_SEARCH_EVOLVE_H
#define LAMARCK_SEARCH_EVOLVE_H

#include "lamarck/moo.h"
#include "lamarck/rng.h"
#include "lamarck/search.h"

#include <stdint.h>

/* ---- genome operations ---- */

typedef enum { LM__CROSS_UNIFORM, LM__CROSS_ONE_POINT } lm__cross_kind;

/* A genome is n doubles; ctx is the operations' own read-only data (for the
 * hyperparameter genome, the lm_space). None of these allocate or fail. */
typedef struct lm__genome_ops {
    const char *name;
    /* A genome drawn from the prior. */
    void (*sample)(const void *ctx, lm_rng *rng, double *g);
    /* Mutates g in place: each gene that can change is picked with probability rate
     * (rate <= 0: 1 / that count), at least one; a picked numeric gene moves by a
     * Gaussian step of standard deviation sigma in unit coordinates (reflected at the
     * bounds, an integer moving at least one value), a picked categorical one takes
     * another choice uniformly. Returns the mask of genes whose value changed (bit i;
     * genes switched on or off through a condition included). */
    uint64_t (*mutate)(const void *ctx, lm_rng *rng, double sigma, double rate, double *g);
    /* child = uniform (each gene from a or b with probability 1/2) or one-point
     * crossover (genes before a uniform cut from a, the rest from b) of a and b. */
    void (*crossover)(const void *ctx, lm_rng *rng, lm__cross_kind kind, const double *a,
                      const double *b, double *child);
    /* A distance in [0, 1] (0 for equal genomes). */
    double (*distance)(const void *ctx, const double *a, const double *b);
    /* A hash of the genome's meaning: equal genomes hash equal. */
    uint64_t (*hash)(const void *ctx, const double *g);
    /* Optional real coding (NULL when the genome has none): encode maps g into
     * [0,1]^n, drawing genes that carry no meaning in g (inactive conditionals) from
     * rng so that a variation that activates them gives them a prior value; decode
     * maps any u in [0,1]^n back to a valid genome. */
    void (*encode)(const void *ctx, lm_rng *rng, const double *g, double *u);
    void (*decode)(const void *ctx, const double *u, double *g);
    /* Where a trial's genome lives in the table, and how a trial is made from one. */
    const double *(*of_trial)(const void *ctx, const lm_trials *t, int id);
    int (*add_trial)(const void *ctx, lm_trials *t, const double *g, int epochs, int *id);
} lm__genome_ops;

typedef struct lm__genome {
    const lm__genome_ops *ops;
    const void *ctx;
    int n;                   /* genes, at most LM_HP_MAX */
} lm__genome;

/* The genome of points of sp (borrowed; must outlive g): genes are hyperparameters,
 * the real coding is lm_space_to_unit/from_unit, stored as the trial's hp. */
void lm__genome_hp(const lm_space *sp, lm__genome *g);

/* Breeding attempts when a child equals a population member (option dedupe). */
#define LM__DEDUPE_TRIES 8

/* Whether one of n trials has genome hash h: their ids are ints `stride` bytes apart from
 * ids (sizeof(int) for an array of ids, the struct's size for a field of an array). */
int lm__genome_hash_among(const lm__genome *g, const lm_trials *t, const int *ids, int n,
                          size_t stride, uint64_t h);

/* ---- objectives and fitness ---- */

typedef enum {
    LM__METRIC_NONE,
    LM__METRIC_VAL_ACCURACY,
    LM__METRIC_PARAMS,
    LM__METRIC_FLOPS,
    LM__METRIC_LATENCY,
} lm__metric;
#define LM__N_METRICS 4   /* the metrics after NONE */

/* Option labels in lm__metric order (without "none"), NULL-terminated. */
extern const char *const lm__metric_labels[];

/* A trial's value of metric: best_val_accuracy, params, flops, latency. NaN when the
 * trial failed, is not finished, or never measured the metric (params 0). */
double lm__trial_metric(const lm_trial *tr, lm__metric m);

typedef enum {
    LM__FIT_ACCURACY,        /* best_val_accuracy alone */
    LM__FIT_WEIGHTED_SUM,
    LM__FIT_WEIGHTED_EXP_SUM,
    LM__FIT_WEIGHTED_PRODUCT,
    LM__FIT_MNASNET,
} lm__fit_kind;

extern const char *const lm__fit_labels[];   /* lm__fit_kind order, NULL-terminated */

typedef struct lm__fitness {
    lm__fit_kind kind;
    double w[LM__N_METRICS];  /* weights of val_accuracy, params, flops, latency */
    double p;                 /* exponent of the weighted exponential sum */
    lm__metric cost;          /* mnasnet: the cost metric (latency, flops or params) */
    double target, alpha, beta;
} lm__fitness;

/* The fitness (to maximize) of a trial; NaN when undefined (see moo.h). */
double lm__fitness_of(const lm__fitness *f, const lm_trial *tr);

/* ---- selection operators (select.c) ---- */

/* A member of a population: its trial, birth rank (larger is younger) and fitness
 * (NaN ranks below every number). */
typedef struct lm__member {
    int id;
    int64_t age;
    double fitness;
} lm__member;

/* Each returns a position in pop[0..n), never exclude (a position, or -1 for none),
 * or a negative error (LM_EINVAL when no member is eligible, LM_ENOMEM). */

/* Tournament (Goldberg and Deb 1991): k distinct eligible members drawn uniformly (all
 * of them when fewer), ranked by fitness (ties: older first); the i-th best wins with
 * probability p (1-p)^i, the last with the remaining (1-p)^(k-1). p = 1 is the
 * deterministic tournament (p = 0 always picks the worst of the k). */
int lm__select_tournament(lm_rng *rng, const lm__member *pop, int n, int k, double p,
                          int exclude);

/* Fitness-proportional (roulette wheel, Holland 1975): p_i = f_i / sum f_j. When some
 * fitness is not positive, the wheel uses f_i - min f + d instead, d being 1% of the
 * fitness range (1 when all are equal), so the worst member keeps a small chance and
 * the order is kept (windowing, Grefenstette 1986). NaN fitness gets no chance
 * unless every fitness is NaN, and an infinite fitness makes proportions meaningless:
 * both give every eligible member the same chance. */
int lm__select_proportional(lm_rng *rng, const lm__member *pop, int n, int exclude);

/* The probabilities lm__select_proportional uses (prob[i] = 0 at exclude). */
void lm__proportional_weights(const lm__member *pop, int n, int exclude, double *prob);

/* The youngest member (largest age). */
int lm__select_youngest(const lm__member *pop, int n, int exclude);

/* Survivor rules: the position to remove. Oldest: smallest age (aging, regularized
 * evolution, Real et al. 2019). Worst: lowest fitness (NaN first), ties the oldest. */
int lm__survivor_oldest(const lm__member *pop, int n);
int lm__survivor_worst(const lm__member *pop, int n);

/* ---- NSGA-II variation in [0,1]^n (nsga2.c) ---- */

typedef struct lm__variation {
    double p_cross;          /* probability that a pair is crossed over (0.9) */
    double eta_c;            /* SBX distribution index (20) */
    double eta_m;            /* polynomial mutation distribution index (20) */
    double p_mut;            /* per-variable mutation probability; <= 0: 1/n */
} lm__variation;

/* Simulated binary crossover with bounds [0,1] (Deb and Agrawal 1995; the bounded form
 * of Deb's NSGA-II code): each variable is crossed with probability 1/2; the children
 * are symmetric about the parents' mean, and swapped with probability 1/2. */
void lm__sbx(lm_rng *rng, const double *a, const double *b, int n, double eta, double *c1,
             double *c2);

/* Polynomial mutation with bounds [0,1] (Deb and Goyal 1996, bounded form), each
 * variable with probability pm. */
void lm__polynomial_mutation(lm_rng *rng, double *x, int n, double eta, double pm);

/* Binary tournament with the crowded-comparison operator: two positions drawn
 * uniformly from 0..n-1, the better wins, a tie is decided by a coin. n >= 1. */
int lm__crowded_tournament(lm_rng *rng, int n, const int *front, const double *dist);

/* Makes n_child children (rows of child, n_child x nv) from the population x (n x nv,
 * in [0,1]) with the fronts and crowding distances given: pairs of crowded binary
 * tournaments, SBX with probability v->p_cross, polynomial mutation of both children.
 * An odd n_child drops the second child of the last pair. parents (NULL, or 2 per
 * child) gets each child's parent positions: {a, b} when crossed, {a, -1} when copied
 * from a. LM_EINVAL unless n >= 1 and nv >= 1; LM_ENOMEM. */
int lm__nsga2_breed(lm_rng *rng, const double *x, int n, int nv, const int *front,
                    const double *dist, const lm__variation *v, int n_child, double *child,
                    int *parents);

/* ---- Lamarckian inheritance (inherit.c) ---- */

extern const char *const lm__inheritance_labels[];  /* "none", "lamarckian", NULL */

/* The options of inheritance, the same in every searcher that has it. */
#define LM__INHERIT_OPTIONS                                                                  \
    {"inheritance", LM_OPT_ENUM, 0, 0, 0, lm__inheritance_labels,                            \
     "lamarckian: a child starts from its parent's trained weights through one Net2Net "     \
     "mutation (mlp and chain spaces)"},                                                     \
    {"inherit_epochs", LM_OPT_INT, 0, 0, 1e6, NULL,                                          \
     "lamarckian: epochs an inheriting child trains; 0: a third of training.epochs (>= 1)"}, \
    {"inherit_noise", LM_OPT_REAL, 0.01, 0, 1, NULL,                                         \
     "lamarckian: noise on widened units, relative to the layer's weight deviation"},        \
    {"inherit_shrink", LM_OPT_BOOL, 0, 0, 1, NULL,                                           \
     "lamarckian: also the approximate morphs that shrink a network (fewer units, a layer "  \
     "removed)"}

typedef struct lm__lamarck {
    const lm_arch_space *as; /* the chain or mlp space the morphs apply to (borrowed) */
    int first, n_arch;       /* the architecture genes of a point */
    int epochs;              /* an inheriting child trains this many */
    double noise;            /* on widened units (lm_morph.noise) */
    int shrink;              /* NARROWER and REMOVE morphs too */
} lm__lamarck;

/* Inheritance over the architecture of sp for the named searcher: LM_ECONFIG unless sp
 * is a chain or mlp space. inherit_epochs 0: a third of epochs, at least 1. */
int lm__lamarck_init(lm__lamarck *L, const char *searcher, const lm_space *sp, int inherit_epochs,
                     int epochs, double noise, int shrink);

/* Whether trial id can be a parent: its state kept (PAUSED), a morph that applies. */
int lm__lamarck_can_parent(const lm__lamarck *L, const lm_trials *t, int id);

/* One morph of the point x, drawn from rng among those that apply, in place into *m;
 * *mutated gets the genes it changed. 1 when done, 0 when no morph applies or the child
 * breaks a constraint (x then unchanged). */
int lm__lamarck_propose(const lm__lamarck *L, lm_rng *rng, double *x, lm_morph *m,
                        uint64_t *mutated);

/* Adds the child x of parent (morph m) to t and makes *out its LM_JOB_CLONE. */
int lm__lamarck_issue(const lm__lamarck *L, const lm__genome *g, lm_trials *t, const double *x,
                      int parent, const lm_morph *m, uint64_t mutated, lm_job *out);

/* Whether parent already had a child with genome x (the same morph: bred again, it
 * would train the same network from the same weights). */
int lm__lamarck_repeats(const lm__genome *g, const lm_trials *t, int parent, const double *x);

/* Whether a trial is kept at its end (PAUSED after its last epoch): finished. */
int lm__lamarck_kept(const lm_trial *tr);

/* Whether report r is its trial's last epoch, which inheritance answers PAUSE. */
int lm__lamarck_pause_due(const lm_trial *tr, const lm_report *r);

/* Ends the keeping of trial id's state when kept at its end: DONE, so that the
 * controller drops its snapshot. */
void lm__lamarck_release(lm_trials *t, int id);

#endif
