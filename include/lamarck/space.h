/* Hyperparameter spaces: uniform and log-uniform floats, integers, categoricals, and
 * conditional hyperparameters (active only while a parent takes one of some values).
 *
 * A point of the space is an array of doubles, one per hyperparameter in the order
 * they were added: the value itself for float and int, the choice index for a
 * categorical, NAN for an inactive conditional one.
 *
 *     lm_space *sp;
 *     lm_space_create(&sp);
 *     lm_space_add_float(sp, "lr", 1e-3, 0.3, 1);            // log-uniform
 *     const char *sched[] = {"constant", "step", "cosine"};
 *     lm_space_add_categorical(sp, "schedule", 3, sched);
 *     lm_space_add_int(sp, "step_size", 1, 5, 0);
 *     const char *when[] = {"step"};
 *     lm_space_set_condition(sp, "step_size", "schedule", 1, when);
 *     double x[3];
 *     lm_space_sample(sp, &rng, x);                          // x[2] is NAN unless step
 */
#ifndef LAMARCK_SPACE_H
#define LAMARCK_SPACE_H

#include "lamarck/arch.h"
#include "lamarck/rng.h"

#include <stddef.h>

#define LM_HP_NAME_MAX 64
#define LM_HP_MAX 64          /* hyperparameters in one space */
#define LM_HP_CHOICES_MAX 64  /* choices of one categorical */

typedef enum { LM_HP_FLOAT, LM_HP_INT, LM_HP_CATEGORICAL } lm_hp_kind;

typedef struct lm_hp {
    char name[LM_HP_NAME_MAX];
    lm_hp_kind kind;
    int log;                 /* float/int: sampled log-uniformly (low > 0) */
    double low, high;        /* float/int: inclusive bounds */
    int grid_points;         /* float: points on the grid (default 3); int: all values
                                when the range has at most that many, else evenly spaced */
    int n_choices;           /* categorical */
    char **choices;          /* categorical: choice labels as written ("0.5", "cosine") */
    int parent;              /* index of the parent hyperparameter, -1 for none */
    int n_when;              /* active when the parent's value is one of these ... */
    double *when;            /* ... (choice indices for a categorical parent, values otherwise) */
} lm_hp;

typedef struct lm_space lm_space;

int lm_space_create(lm_space **out);
void lm_space_destroy(lm_space **sp);

/* Adders fail with LM_EINVAL (and a message) on a duplicate name, low > high,
 * log with low <= 0, too many hyperparameters or choices. */
int lm_space_add_float(lm_space *sp, const char *name, double low, double high, int log);
int lm_space_add_int(lm_space *sp, const char *name, long low, long high, int log);
int lm_space_add_categorical(lm_space *sp, const char *name, int n, const char *const *choices);
/* Sets the points used for this hyperparameter by grid search (1 to 10000; float
 * and int only: a categorical always contributes all its choices). */
int lm_space_set_grid_points(lm_space *sp, const char *name, int points);
/* Makes child active only when parent is one of the given values (written as in the
 * config: choice labels for a categorical parent, integers in range for an int parent;
 * a float parent is refused). The parent must have been added before the child (so
 * points are evaluated in order); a child has at most one condition. */
int lm_space_set_condition(lm_space *sp, const char *child, const char *parent, int n,
                           const char *const *values);

int lm_space_size(const lm_space *sp);
const lm_hp *lm_space_hp(const lm_space *sp, int i);
int lm_space_find(const lm_space *sp, const char *name); /* index or -1 */

/* Appends the genes of an architecture genome (lm_arch_genome_size(as) of them) as
 * int hyperparameters named and bounded by lm_arch_gene_info ("arch.depth",
 * "arch.l3.type", ...), and keeps a copy of as. At most one architecture per space;
 * LM_EINVAL when as is invalid, a name is taken or the genes do not fit in
 * LM_HP_MAX (the message gives the counts). Architecture genes cannot be made
 * conditional. */
int lm_space_add_arch(lm_space *sp, const lm_arch_space *as);
/* The space's architecture (borrowed) with its first gene index and gene count, or
 * NULL when it has none (first and n may be NULL). */
const lm_arch_space *lm_space_arch(const lm_space *sp, int *first, int *n);
/* Sets the sample shape of the space's architecture (the dataset's, known once a run
 * opens it), which decoding and the constraints need. LM_EINVAL without one. */
int lm_space_arch_set_shape(lm_space *sp, int c, int h, int w, int n_classes);

/* Draws a point from the prior; inactive entries are NAN. Architecture genes are
 * drawn together by lm_arch_random; when no genome meets its constraints within
 * max_tries, the closest valid one is kept (lm_arch_decode and
 * lm_arch_check_constraints then tell the violation). */
void lm_space_sample(const lm_space *sp, lm_rng *rng, double *x);
/* Whether entry i is active given the other entries of x. */
int lm_space_active(const lm_space *sp, const double *x, int i);
/* Sets inactive entries to NAN and clips/rounds active ones into the space; an active
 * entry that is NAN gets the middle of its range (geometric when log), or the first
 * choice of a categorical. */
void lm_space_repair(const lm_space *sp, double *x);
/* (Architecture genes are then repaired together by lm_arch_repair.) */

/* Unit-cube encoding: active entries map to [0,1] (log scale where log), inactive to 0.
 * An int or a choice maps to the centre of its equal-width cell, so from_unit(to_unit(x))
 * gives back x for a repaired point. */
void lm_space_to_unit(const lm_space *sp, const double *x, double *u);
void lm_space_from_unit(const lm_space *sp, const double *u, double *x);

/* Grid: the product of every hyperparameter's grid values, with inactive conditional
 * children collapsed (they do not multiply the points of branches where they are
 * inactive). Points are enumerated in a fixed order, the last hyperparameter fastest.
 * Grid values: a float gets grid_points values evenly spaced from low to high
 * (log-spaced when log; one point is the middle of the range; low == high gives one);
 * an int gets every integer when the range holds at most grid_points, else
 * grid_points values spaced as for a float and rounded, duplicates dropped; a
 * categorical gets every choice. The count of an empty space is 1 (the point with
 * no entries); counts saturate at LONG_MAX. grid_point fails with LM_EINVAL when k
 * is outside [0, count). */
long lm_space_grid_count(const lm_space *sp);
int lm_space_grid_point(const lm_space *sp, long k, double *x);

/* The label of value v of hyperparameter i ("0.01", "cosine", "-" when inactive). */
void lm_space_format_value(const lm_space *sp, int i, double v, char *buf, size_t cap);
/* "lr=0.01 momentum=0.9 schedule=cosine" (inactive ones omitted). */
void lm_space_format(const lm_space *sp, const double *x, char *buf, size_t cap);

#endif
