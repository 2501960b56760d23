/* Multi-objective optimization: Pareto dominance, fast non-dominated sorting and
 * crowding distance (NSGA-II, Deb et al. 2002), hypervolume, and scalarizations
 * that turn several metrics into one fitness.
 *
 * A set of n points with m objectives is a row-major array f (n x m) and a sense per
 * objective (maximize or minimize). Every function here is pure: no allocation
 * survives a call, no global state, nothing collective.
 *
 *     double f[] = {0.91, 1.2e6,     // val_accuracy, params
 *                   0.89, 3.0e5,
 *                   0.88, 9.0e5};
 *     lm_moo_sense s[] = {LM_MOO_MAX, LM_MOO_MIN};
 *     int front[3], n_fronts;
 *     lm_moo_sort(f, 3, 2, s, front, &n_fronts);      // front = {0, 0, 1}
 *     double ref[] = {0.0, 2.0e6}, hv;
 *     lm_moo_hypervolume(f, 3, 2, s, ref, &hv);
 *
 * NaN. A NaN objective value is worse than every number and equal to another NaN, so
 * a failed trial (all objectives NaN) is dominated by every trial that has numbers. */
#ifndef LAMARCK_MOO_H
#define LAMARCK_MOO_H

#include <stddef.h>

#define LM_MOO_OBJ_MAX 8    /* objectives in one problem */

typedef enum { LM_MOO_MIN, LM_MOO_MAX } lm_moo_sense;

/* ---- dominance and sorting ---- */

/* 1 when a dominates b: a is no worse than b in every objective and better in at least
 * one (Deb et al. 2002, def. 1); 0 otherwise (also when a and b are equal). */
int lm_moo_dominates(const double *a, const double *b, int m, const lm_moo_sense *sense);

/* Fast non-dominated sorting (Deb et al. 2002, sec. III-A): front[i] = 0 for the points
 * no other point dominates, 1 for those dominated only by front 0, ... Equal points
 * share a front. *n_fronts (may be NULL) is the number of fronts. O(m n^2) time, O(n)
 * extra memory (the dominating sets are recomputed instead of stored, so large tables
 * sort without n^2 memory). LM_EINVAL for bad sizes (n < 0, m outside 1..LM_MOO_OBJ_MAX),
 * LM_ENOMEM. */
int lm_moo_sort(const double *f, int n, int m, const lm_moo_sense *sense, int *front,
                int *n_fronts);

/* Crowding distance (Deb et al. 2002, sec. III-B) of the k points idx[0..k) of one
 * front into dist[0..k): for each objective the points are sorted by it (ties by
 * position in idx), the two ends get INFINITY and each inner point adds
 * (next - previous) / (max - min). An objective with max == min (or non-finite range)
 * adds nothing, as does a neighbour pair with a NaN value (NaN sorts after numbers).
 * A front of 1 or 2 points is all INFINITY. Duplicate points are ordinary points here
 * (ties go by position in idx), so two equal inner points may get different distances.
 * LM_EINVAL, LM_ENOMEM. */
int lm_moo_crowding(const double *f, int m, const int *idx, int k, double *dist);

/* Ranks and crowding distances of every point: lm_moo_sort, then lm_moo_crowding on
 * each front. front and dist have n entries. */
int lm_moo_rank(const double *f, int n, int m, const lm_moo_sense *sense, int *front,
                double *dist);

/* The crowded-comparison operator (Deb et al. 2002, sec. III-C): 1 when point i is
 * better than j, i.e. front[i] < front[j], or equal fronts and dist[i] > dist[j]. */
static inline int lm_moo_crowded_better(const int *front, const double *dist, int i, int j) {
    return front[i] < front[j] || (front[i] == front[j] && dist[i] > dist[j]);
}

/* Environmental selection of NSGA-II (Deb et al. 2002, sec. III-C, main loop): chooses
 * keep of the n points, whole fronts first, the last front cut by decreasing crowding
 * distance (ties by lower index). chosen[0..keep) gets their indices in that order;
 * front and dist (n entries each, may be NULL) get every point's front and crowding
 * distance within its whole front. LM_EINVAL when keep is outside 0..n. */
int lm_moo_select(const double *f, int n, int m, const lm_moo_sense *sense, int keep,
                  int *chosen, int *front, double *dist);

/* ---- hypervolume ---- */

/* The hypervolume (Lebesgue measure) of the region dominated by the points and bounded
 * by the reference point ref, in the objectives' own units. Only points strictly
 * better than ref in every objective contribute; NaN points contribute nothing.
 * m = 1: O(n); m = 2: exact sweep, O(n log n); m >= 3: exact slicing along the last
 * objective (hypervolume by slicing objectives, While et al. 2006), each slice a problem
 * of m - 1 objectives: O(n^(m-1) log n) time, O(m n) memory: fine for m = 3 and the
 * population sizes of a search, slow beyond m = 4. LM_EINVAL, LM_ENOMEM. */
int lm_moo_hypervolume(const double *f, int n, int m, const lm_moo_sense *sense,
                       const double *ref, double *hv);

/* ---- scalarizations (Marler and Arora 2004) ----
 * Each maps m values v with weights w to one number to maximize. Signs are the
 * caller's: give a metric to minimize a negative weight (sums) or a negative exponent
 * (product). A result that is not defined (see each) is NaN, which callers treat as
 * the worst fitness. */

/* sum_i w_i v_i. NaN if any v_i with w_i != 0 is NaN. */
double lm_moo_weighted_sum(const double *v, const double *w, int m);

/* Weighted exponential sum sum_i w_i v_i^p (p > 0). Defined for v_i >= 0 where w_i != 0;
 * NaN otherwise. p = 1 is the weighted sum; large p stresses the largest term. */
double lm_moo_weighted_exp_sum(const double *v, const double *w, int m, double p);

/* Weighted product prod_i v_i^w_i (Bridgman 1922). Defined for v_i > 0 where w_i != 0;
 * NaN otherwise. Scale-free: multiplying a metric by a constant scales the result by a
 * constant, so metrics of very different units mix without normalizing. */
double lm_moo_weighted_product(const double *v, const double *w, int m);

/* The MnasNet reward (Tan et al. 2019, eq. 2): acc * (cost / target)^w with w = alpha
 * when cost <= target and beta otherwise. alpha = beta = -0.07 is the soft constraint
 * of the paper; alpha = 0, beta = -1 the hard one. NaN when acc is NaN, cost is not > 0,
 * or target is not > 0. */
double lm_moo_mnasnet(double acc, double cost, double target, double alpha, double beta);

#define LM_MNASNET_ALPHA (-0.07)
#define LM_MNASNET_BETA (-0.07)

#endif
