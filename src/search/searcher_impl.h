/* Internal to the search module: the registered searchers' operation tables and the
 * helpers they share for checking parameters and checkpoints. */
#ifndef LAMARCK_SEARCH_SEARCHER_IMPL_H
#define LAMARCK_SEARCH_SEARCHER_IMPL_H

#include "lamarck/search.h"

/* The most trials one table holds (trials.c enforces it; searchers check plans). */
#define LM__TRIALS_MAX (1 << 24)

extern const lm_searcher_ops lm__random_ops;
extern const lm_searcher_ops lm__grid_ops;
/* multi-fidelity (issue 5): hyperband.c, asha.c; stopping rules in stop_rules.c */
extern const lm_searcher_ops lm__hyperband_ops;
extern const lm_searcher_ops lm__sha_ops;
extern const lm_searcher_ops lm__asha_ops;
extern const lm_stopper_ops lm__median_stopper_ops;
extern const lm_stopper_ops lm__mean_stopper_ops;
extern const lm_stopper_ops lm__last_stopper_ops;
/* curve extrapolation (issue 10): stop_curve.c. The combined prediction of y_T from
 * y_1..y_n (n >= 4, T > n): its mean (clipped to [0, 1]) and standard deviation. */
extern const lm_stopper_ops lm__curve_stopper_ops;
int lm__curve_extrapolate(const double *y, int n, int T, double *mean, double *sd);
/* evolutionary and multi-objective (issue 7): evolution.c, nsga2.c; shared parts in
 * evolve.h (genome.c, select.c) and moo.c */
extern const lm_searcher_ops lm__evolution_ops;
extern const lm_searcher_ops lm__nsga2_ops;
/* Bayesian optimization with a GP surrogate (issue 9): bo.c; model-based Hyperband,
 * bohb.c (shares bo.c's encoding through bo_encode.h) */
extern const lm_searcher_ops lm__bo_ops;
extern const lm_searcher_ops lm__bohb_ops;
/* population-based training (issue 6): pbt.c; exploit/explore operators in pbt_ops.c
 * (pbt.h) */
extern const lm_searcher_ops lm__pbt_ops;

/* Writes "searcher/kind" (the searcher's name) and "searcher/n_hp". */
int lm__searcher_save_header(const lm_searcher *s, int n_hp, lm_state_writer *w);

/* Checks that the checkpoint's "searcher/kind" and "searcher/n_hp" match this searcher
 * and its space; LM_ECKPT naming what differs. */
int lm__searcher_check_header(const lm_searcher *s, int n_hp, lm_state_reader *r);

/* Reads the i64 entry name and checks lo <= value <= hi (LM_ECKPT otherwise). */
int lm__searcher_get_count(lm_state_reader *r, const char *name, int64_t lo, int64_t hi,
                           int64_t *v);

/* Checks that a table's points have the space's n_hp entries (LM_EINVAL). */
int lm__searcher_check_table(const lm_searcher *s, const lm_trials *t, int n_hp);

#endif
