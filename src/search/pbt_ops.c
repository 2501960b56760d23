/* Population-based training's exploit and explore operators (Jaderberg et al. 2017,
 * "Population Based Training of Neural Networks", section 3 and appendix A.1): truncation
 * selection and binary tournament; perturbation by factors 0.8 / 1.2 and resampling
 * from the prior. The searcher is in pbt.c. */
#include "lamarck/space.h"
#include "search/pbt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- exploit ---- */

static double rank_value(double v) { return isnan(v) ? -INFINITY : v; }

int lm__pbt_quantile_count(int n, double q) {
    if (n < 2 || !(q > 0)) return 0;
    /* The small slack keeps q n from rounding up when it is an integer (0.25 x 8). */
    int k = (int)ceil(q * n - 1e-9);
    return k < n / 2 ? k : n / 2;
}

/* Higher score first, ties to the lower index: a total order, so the ranking does not
 * depend on qsort's algorithm. */
static int cmp_rank(const void *a, const void *b) {
    const lm__pbt_ranked *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int lm__pbt_truncation(const double *score, const unsigned char *in, int n, int self, double q,
                       lm_rng *rng, lm__pbt_ranked *order) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (in[i] || i == self) order[m++] = (lm__pbt_ranked){rank_value(score[i]), i};
    int k = lm__pbt_quantile_count(m, q);
    if (k == 0) return -1;
    qsort(order, (size_t)m, sizeof *order, cmp_rank);
    int at = 0;
    while (order[at].i != self) at++;
    /* Jaderberg et al. A.1, truncation selection: a member in the bottom fraction (20% in
     * the paper) copies one drawn uniformly from the top fraction. */
    if (at < m - k) return -1;
    return order[lm_rng_below(rng, (uint64_t)k)].i;
}

int lm__pbt_tournament(const double *score, const unsigned char *in, int n, int self,
                       lm_rng *rng) {
    int m = 0;
    for (int i = 0; i < n; i++) m += in[i] && i != self;
    if (m == 0) return -1;
    /* The j-th eligible other member, j uniform: no scratch needed. */
    int j = (int)lm_rng_below(rng, (uint64_t)m), other = -1;
    for (int i = 0; i < n && other < 0; i++)
        if (in[i] && i != self && j-- == 0) other = i;
    /* A.1, binary tournament: copy the other member if its score is better. */
    return rank_value(score[other]) > rank_value(score[self]) ? other : -1;
}

/* ---- explore ---- */

/* Parameters that a running trainer cannot change (lm_trainer_set_params refuses them):
 * the architecture, the initialization, the data's preprocessing, and the horizon. */
static const char *const frozen[] = {
    "model",  "depth",  "width",   "conv_layers", "filters", "kernel",            "batchnorm",
    "init",   "scaler", "impute",  "missing_indicator", "one_hot", "epochs",
};

int lm__pbt_explorable(const lm_space *sp, int i) {
    const lm_hp *h = lm_space_hp(sp, i);
    if (!h) return 0;
    for (size_t k = 0; k < sizeof frozen / sizeof *frozen; k++)
        if (!strcmp(h->name, frozen[k])) return 0;
    return 1;
}

static double clip(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* A draw from hyperparameter h's prior, as lm_space_sample draws it. */
static double prior(const lm_hp *h, lm_rng *rng) {
    double u = lm_rng_uniform(rng), v;
    switch (h->kind) {
    case LM_HP_FLOAT:
        v = h->log ? exp(log(h->low) + u * (log(h->high) - log(h->low)))
                   : h->low + u * (h->high - h->low);
        return clip(v, h->low, h->high);
    case LM_HP_INT:
        if (h->log) {
            /* each integer k gets the mass of its log cell [k - 1/2, k + 1/2] */
            double a = log(h->low - 0.5), b = log(h->high + 0.5);
            v = floor(exp(a + u * (b - a)) + 0.5);
        } else {
            v = floor(h->low + u * (h->high - h->low + 1));
        }
        return clip(v, h->low, h->high);
    case LM_HP_CATEGORICAL:
        break;
    }
    v = floor(u * h->n_choices);
    return clip(v, 0, h->n_choices - 1);
}

/* Jaderberg et al. A.1, perturb: each hyperparameter is multiplied by 0.8 or 1.2; for a
 * categorical, a neighbouring choice (at an end, its only neighbour). */
static double perturb(const lm_hp *h, double x, const lm__pbt_explore_params *p, lm_rng *rng) {
    int up = lm_rng_uniform(rng) < 0.5;
    if (h->kind == LM_HP_CATEGORICAL) {
        int n = h->n_choices, c = (int)x;
        if (n <= 1) return x;
        if (c <= 0) return 1;
        if (c >= n - 1) return n - 2;
        return up ? c + 1 : c - 1;
    }
    double f = up ? p->high : p->low;
    double v = x * f;
    if (h->kind == LM_HP_INT) {
        v = floor(v + 0.5);
        if (v == x && f != 1) {
            /* Small integers would never move (2 x 1.2 rounds to 2): step once the way
             * the factor pushes. */
            double d = x * f - x;
            v = x + (d > 0 ? 1 : d < 0 ? -1 : f > 1 ? 1 : -1);
        }
    }
    return clip(v, h->low, h->high);
}

static int same(double a, double b) { return a == b || (isnan(a) && isnan(b)); }

uint64_t lm__pbt_explore(const lm_space *sp, const lm__pbt_explore_params *p, lm_rng *rng,
                         const double *from, double *to) {
    int n = lm_space_size(sp);
    memcpy(to, from, (size_t)n * sizeof *to);
    for (int i = 0; i < n; i++) {
        const lm_hp *h = lm_space_hp(sp, i);
        /* Entries are visited in order, so a parent has its new value when its children
         * are looked at. */
        if (!lm_space_active(sp, to, i)) {
            to[i] = NAN;
            continue;
        }
        if (isnan(to[i])) {
            to[i] = prior(h, rng); /* switched on by a parent that moved */
            continue;
        }
        if (!lm__pbt_explorable(sp, i)) continue;
        if (lm_rng_uniform(rng) < p->resample_prob) to[i] = prior(h, rng);
        else if (p->kind == LM__PBT_PERTURB) to[i] = perturb(h, to[i], p, rng);
    }
    lm_space_repair(sp, to);
    uint64_t mask = 0;
    for (int i = 0; i < n && i < 64; i++)
        if (!same(from[i], to[i])) mask |= (uint64_t)1 << i;
    return mask;
}
