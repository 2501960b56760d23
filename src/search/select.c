/* Objectives, fitness and selection operators of the population-based searchers.
 *
 * Fitness is always maximized; NaN (a failed trial, a metric never measured, a
 * scalarization outside its domain) ranks below every number. */
#include "search/evolve.h"

#include "lamarck/error.h"

#include <math.h>
#include <stdlib.h>

/* ---- objectives and fitness ---- */

const char *const lm__metric_labels[] = {"val_accuracy", "params", "flops", "latency", NULL};

const char *const lm__fit_labels[] = {"val_accuracy",     "weighted_sum", "weighted_exp_sum",
                                      "weighted_product", "mnasnet",      NULL};

double lm__trial_metric(const lm_trial *tr, lm__metric m) {
    if (tr->status != LM_TRIAL_DONE && tr->status != LM_TRIAL_STOPPED) return NAN;
    switch (m) {
    case LM__METRIC_VAL_ACCURACY: return tr->best_val_accuracy;
    case LM__METRIC_PARAMS: return tr->params > 0 ? (double)tr->params : NAN;
    case LM__METRIC_FLOPS: return tr->flops > 0 ? tr->flops : NAN;
    case LM__METRIC_LATENCY: return tr->latency > 0 ? tr->latency : NAN;
    case LM__METRIC_NONE: break;
    }
    return NAN;
}

double lm__fitness_of(const lm__fitness *f, const lm_trial *tr) {
    double v[LM__N_METRICS];
    for (int i = 0; i < LM__N_METRICS; i++) v[i] = lm__trial_metric(tr, (lm__metric)(i + 1));
    switch (f->kind) {
    case LM__FIT_ACCURACY: return v[0];
    case LM__FIT_WEIGHTED_SUM: return lm_moo_weighted_sum(v, f->w, LM__N_METRICS);
    case LM__FIT_WEIGHTED_EXP_SUM: return lm_moo_weighted_exp_sum(v, f->w, LM__N_METRICS, f->p);
    case LM__FIT_WEIGHTED_PRODUCT: return lm_moo_weighted_product(v, f->w, LM__N_METRICS);
    case LM__FIT_MNASNET:
        if (f->cost < LM__METRIC_PARAMS || f->cost > LM__METRIC_LATENCY) return NAN;
        return lm_moo_mnasnet(v[0], v[f->cost - 1], f->target, f->alpha, f->beta);
    }
    return NAN;
}

/* ---- selection ---- */

/* 1 when member a ranks above member b: higher fitness (NaN lowest), ties the older. */
static int fitter(const lm__member *a, const lm__member *b) {
    int na = isnan(a->fitness), nb = isnan(b->fitness);
    if (na != nb) return nb;
    if (!na && a->fitness != b->fitness) return a->fitness > b->fitness;
    return a->age < b->age;
}

static int eligible_count(int n, int exclude) {
    return n - (exclude >= 0 && exclude < n ? 1 : 0);
}

int lm__select_tournament(lm_rng *rng, const lm__member *pop, int n, int k, double p,
                          int exclude) {
    int m = eligible_count(n, exclude);
    LM_CHECK(m >= 1 && k >= 1, LM_EINVAL, "tournament of %d from %d eligible members", k, m);
    LM_CHECK(p >= 0 && p <= 1, LM_EINVAL, "tournament pressure %g outside [0, 1]", p);
    if (k > m) k = m;
    /* Draw k distinct eligible positions: a partial Fisher-Yates shuffle. */
    int *pos = malloc((size_t)m * sizeof *pos);
    LM_CHECK(pos, LM_ENOMEM, "out of memory for a tournament over %d members", m);
    for (int i = 0, j = 0; i < n; i++)
        if (i != exclude) pos[j++] = i;
    for (int i = 0; i < k; i++) {
        int j = i + (int)lm_rng_below(rng, (uint64_t)(m - i));
        int t = pos[i];
        pos[i] = pos[j];
        pos[j] = t;
    }
    /* Rank the k contestants, best first (k is small: insertion sort). */
    for (int i = 1; i < k; i++) {
        int v = pos[i], j = i;
        while (j > 0 && fitter(&pop[v], &pop[pos[j - 1]])) {
            pos[j] = pos[j - 1];
            j--;
        }
        pos[j] = v;
    }
    /* The i-th best wins with probability p (1-p)^i: walk down the ranking, stopping
     * at each with probability p; the last takes what remains. */
    int win = pos[k - 1];
    for (int i = 0; i < k - 1; i++)
        if (p >= 1 || lm_rng_uniform(rng) < p) {
            win = pos[i];
            break;
        }
    free(pos);
    return win;
}

void lm__proportional_weights(const lm__member *pop, int n, int exclude, double *prob) {
    double lo = INFINITY, hi = -INFINITY;
    int numbers = 0, eligible = 0;
    for (int i = 0; i < n; i++) {
        if (i == exclude) continue;
        eligible++;
        double f = pop[i].fitness;
        if (isnan(f)) continue;
        numbers++;
        lo = fmin(lo, f);
        hi = fmax(hi, f);
    }
    /* Positive fitness is used as it is; otherwise shift so the worst keeps a chance. */
    double shift = 0;
    if (numbers && !(lo > 0)) shift = -lo + (hi > lo ? 0.01 * (hi - lo) : 1.0);
    if (numbers && !isfinite(hi - lo)) numbers = 0; /* infinite fitness: no proportions */
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double w = 0;
        if (i != exclude) {
            if (!numbers) w = 1;
            else if (!isnan(pop[i].fitness)) w = pop[i].fitness + shift;
        }
        prob[i] = w;
        sum += w;
    }
    for (int i = 0; i < n; i++) prob[i] = sum > 0 ? prob[i] / sum : (eligible ? 1.0 / eligible : 0);
}

int lm__select_proportional(lm_rng *rng, const lm__member *pop, int n, int exclude) {
    int m = eligible_count(n, exclude);
    LM_CHECK(m >= 1, LM_EINVAL, "proportional selection from %d eligible members", m);
    double *prob = malloc((size_t)n * sizeof *prob);
    LM_CHECK(prob, LM_ENOMEM, "out of memory for selection over %d members", n);
    lm__proportional_weights(pop, n, exclude, prob);
    double u = lm_rng_uniform(rng), acc = 0;
    int win = -1, last = -1;
    for (int i = 0; i < n && win < 0; i++) {
        if (prob[i] <= 0) continue;
        last = i;
        acc += prob[i];
        if (u < acc) win = i;
    }
    free(prob);
    /* Rounding may leave u just above the last partial sum. */
    return win >= 0 ? win : last;
}

int lm__select_youngest(const lm__member *pop, int n, int exclude) {
    int best = -1;
    for (int i = 0; i < n; i++)
        if (i != exclude && (best < 0 || pop[i].age > pop[best].age)) best = i;
    LM_CHECK(best >= 0, LM_EINVAL, "youngest of %d eligible members", eligible_count(n, exclude));
    return best;
}

int lm__survivor_oldest(const lm__member *pop, int n) {
    LM_CHECK(n >= 1, LM_EINVAL, "removing the oldest of an empty population");
    int o = 0;
    for (int i = 1; i < n; i++)
        if (pop[i].age < pop[o].age) o = i;
    return o;
}

int lm__survivor_worst(const lm__member *pop, int n) {
    LM_CHECK(n >= 1, LM_EINVAL, "removing the worst of an empty population");
    int w = 0;
    for (int i = 1; i < n; i++) {
        /* i is worse when w is fitter; among equals the oldest goes. */
        int na = isnan(pop[i].fitness), nb = isnan(pop[w].fitness);
        if (na != nb) {
            if (na) w = i;
            continue;
        }
        if (!na && pop[i].fitness != pop[w].fitness) {
            if (pop[i].fitness < pop[w].fitness) w = i;
            continue;
        }
        if (pop[i].age < pop[w].age) w = i;
    }
    return w;
}
