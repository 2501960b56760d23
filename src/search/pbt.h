/* Internal to the search module: the exploit and explore operators of population-based
 * training (pbt.c), exposed so that tests drive them without a trial table.
 *
 * Jaderberg et al. 2017, "Population Based Training of Neural Networks", section 3 and
 * appendix A.1: a member at a ready point *exploits* (decides whether to abandon its
 * weights for a better member's) and, when it does, *explores* (changes the copied
 * hyperparameters). None of these allocate or fail. */
#ifndef LAMARCK_SEARCH_PBT_H
#define LAMARCK_SEARCH_PBT_H

#include "lamarck/rng.h"
#include "lamarck/space.h"

#include <stdint.h>

typedef enum { LM__PBT_TRUNCATION, LM__PBT_TOURNAMENT } lm__pbt_exploit_kind;
typedef enum { LM__PBT_PERTURB, LM__PBT_RESAMPLE } lm__pbt_explore_kind;

/* The number of members in each of the top and bottom fractions of a ranking of n:
 * ceil(q n) (q in [0, 0.5]), at most floor(n / 2) so that the two never overlap. */
int lm__pbt_quantile_count(int n, double q);

/* A member's place in a ranking (scratch for lm__pbt_truncation). */
typedef struct lm__pbt_ranked {
    double v;
    int i;
} lm__pbt_ranked;

/* Truncation selection. The members i < n with in[i] set, and self, are ranked by
 * score (higher first; NaN ranks as -inf; ties to the lower index). When self is among
 * the bottom k = lm__pbt_quantile_count(ranked, q), returns a member drawn uniformly
 * from the top k; else -1 (self keeps its weights). order is scratch for n entries. */
int lm__pbt_truncation(const double *score, const unsigned char *in, int n, int self, double q,
                       lm_rng *rng, lm__pbt_ranked *order);

/* Binary tournament: another member j != self with in[j] set, drawn uniformly, is
 * returned when its score is strictly higher than self's (NaN as -inf); else -1. */
int lm__pbt_tournament(const double *score, const unsigned char *in, int n, int self,
                       lm_rng *rng);

typedef struct lm__pbt_explore_params {
    lm__pbt_explore_kind kind;
    double resample_prob;    /* probability that a hyperparameter is redrawn from its prior */
    double low, high;        /* perturb factors (0.8 and 1.2 in the paper) */
} lm__pbt_explore_params;

/* Whether hyperparameter i of sp may change in the middle of training: not an
 * architecture parameter (model, depth, width, conv_layers, filters, kernel,
 * batchnorm), not one fixed at creation (init) or by the data's preprocessing (scaler,
 * impute, missing_indicator, one_hot), and not the epochs (the training horizon). */
int lm__pbt_explorable(const lm_space *sp, int i);

/* Explores from the point `from` into `to` (which may not alias it). Each active,
 * explorable hyperparameter, in order: with probability resample_prob it is redrawn
 * from its prior; otherwise, for perturb, a float is multiplied by low or high (each
 * with probability 1/2) and clipped to its range (log-scale floats alike: the factor
 * acts on the value), an integer is multiplied, rounded, moved one step in the
 * factor's direction if rounding gave it back, and clipped; a categorical moves to a
 * neighbouring choice (either one with probability 1/2, the only one at an end); for
 * resample it keeps its value. (A float at 0 stays 0 under perturbation, as in the
 * paper; resampling moves it.) A conditional hyperparameter that a changed parent
 * activates is drawn from its prior; deactivated ones become NAN. Returns the mask of
 * entries that changed (bit i, for i < 64). */
uint64_t lm__pbt_explore(const lm_space *sp, const lm__pbt_explore_params *p, lm_rng *rng,
                         const double *from, double *to);

#endif
