/* Acquisition functions and their maximization over the unit cube.
 *
 * The maximizer is deliberately gradient-free: the domain's encode() may snap
 * coordinates to integers and categories, so the acquisition is piecewise constant
 * along those coordinates. It scores many random candidates and perturbations of the
 * seed points (the best observations, where improvement is likeliest) in batches, then
 * refines the best few by a compass pattern search whose step halves whenever no
 * coordinate move improves (Torczon 1997; Kolda, Lewis and Torczon 2003). */
#include "lamarck/error.h"
#include "lamarck/surrogate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794
#define STEP_FIRST 0.1     /* pattern-search step, unit coordinates */
#define STEP_LAST 1e-3

static double norm_cdf(double z) { return 0.5 * erfc(-z * INV_SQRT2); }
static double norm_pdf(double z) { return INV_SQRT_2PI * exp(-0.5 * z * z); }

double lm_acq_eval(const lm_acq *a, double mu, double sigma) {
    double gain = mu - a->best - a->xi;
    switch (a->kind) {
    case LM_ACQ_EI:
        if (!(sigma > 0)) return gain > 0 ? gain : 0.0;
        {
            double z = gain / sigma;
            return sigma * (z * norm_cdf(z) + norm_pdf(z));
        }
    case LM_ACQ_PI:
        if (!(sigma > 0)) return gain > 0 ? 1.0 : 0.0;
        return norm_cdf(gain / sigma);
    case LM_ACQ_UCB:
        return mu + a->kappa * (sigma > 0 ? sigma : 0.0);
    }
    return NAN;
}

void lm_acq_search_default(lm_acq_search *s) {
    s->candidates = 2000;
    s->neighbours = 100;
    s->radius = 0.05;
    s->local_starts = 5;
    s->local_evals = 200;
}

typedef struct scorer {
    const lm_gp *gp;
    const lm_acq *a;
    const lm_acq_domain *d;
    int gp_dim;
    double *x;          /* batch x gp_dim encodings */
    double *mu, *var;   /* batch */
    int cap;
} scorer;

/* Snaps the m points U (m x dim, in place) and scores them into v. */
static int score(scorer *s, int m, double *U, double *v) {
    int dim = s->d->dim;
    for (int at = 0; at < m; at += s->cap) {
        int c = m - at < s->cap ? m - at : s->cap;
        for (int j = 0; j < c; j++) {
            double *u = U + (size_t)(at + j) * dim;
            double *x = s->x + (size_t)j * s->gp_dim;
            if (s->d->encode) s->d->encode(s->d->ctx, u, x);
            else memcpy(x, u, (size_t)dim * sizeof *x);
        }
        LM_CALL(lm_gp_predict(s->gp, c, s->x, s->mu, s->var));
        for (int j = 0; j < c; j++) v[at + j] = lm_acq_eval(s->a, s->mu[j], sqrt(s->var[j]));
    }
    return LM_OK;
}

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/* Compass search from u (value *val): moves to the best of the 2 dim points u +- h e_i
 * when it improves, else halves h. Updates u and *val. */
static int pattern_search(scorer *s, double *u, double *val, int budget, double *trial,
                          double *tv) {
    int dim = s->d->dim, used = 0;
    double h = STEP_FIRST;
    while (h >= STEP_LAST && used + 2 * dim <= budget) {
        for (int i = 0; i < dim; i++)
            for (int sign = 0; sign < 2; sign++) {
                double *t = trial + (size_t)(2 * i + sign) * dim;
                memcpy(t, u, (size_t)dim * sizeof *t);
                t[i] = clamp01(t[i] + (sign ? -h : h));
            }
        LM_CALL(score(s, 2 * dim, trial, tv));
        used += 2 * dim;
        int best = -1;
        for (int j = 0; j < 2 * dim; j++)
            if (tv[j] > *val && (best < 0 || tv[j] > tv[best])) best = j;
        if (best < 0) {
            h *= 0.5;
            continue;
        }
        memcpy(u, trial + (size_t)best * dim, (size_t)dim * sizeof *u);
        *val = tv[best];
    }
    return LM_OK;
}

int lm_acq_maximize(const lm_gp *gp, const lm_acq *a, const lm_acq_domain *d,
                    const lm_acq_search *search, int n_seeds, const double *seeds, lm_rng *rng,
                    double *u_best, double *value) {
    LM_CHECK(gp && a && d && rng && u_best, LM_EINVAL, "lm_acq_maximize: NULL argument");
    LM_CHECK(d->dim >= 1 && d->dim <= LM_GP_DIM_MAX, LM_EINVAL,
             "lm_acq_maximize: domain of %d coordinates", d->dim);
    LM_CHECK(d->encode || d->dim == lm_gp_dim(gp), LM_EINVAL,
             "lm_acq_maximize: no encoder, and the domain has %d coordinates but the GP %d inputs",
             d->dim, lm_gp_dim(gp));
    LM_CHECK(n_seeds >= 0 && (n_seeds == 0 || seeds), LM_EINVAL, "lm_acq_maximize: bad seeds");
    lm_acq_search sp;
    if (search) sp = *search;
    else lm_acq_search_default(&sp);
    LM_CHECK(sp.candidates >= 0 && sp.neighbours >= 0 && sp.local_starts >= 0 &&
                 sp.local_evals >= 0 && sp.candidates <= (1 << 24) && sp.neighbours <= (1 << 20) &&
                 n_seeds <= (1 << 16) && sp.radius >= 0,
             LM_EINVAL, "lm_acq_maximize: bad search settings (candidates %d, neighbours %d)",
             sp.candidates, sp.neighbours);
    int dim = d->dim;
    long total = (long)sp.candidates + (long)n_seeds * (1L + sp.neighbours);
    if (total < 1) total = 1;
    LM_CHECK(total <= (1L << 26), LM_EINVAL, "lm_acq_maximize: %ld candidates is too many", total);
    scorer s = {.gp = gp, .a = a, .d = d, .gp_dim = lm_gp_dim(gp), .cap = 256};
    double *U = malloc((size_t)total * (size_t)dim * sizeof *U);
    double *v = malloc((size_t)total * sizeof *v);
    s.x = malloc((size_t)s.cap * (size_t)s.gp_dim * sizeof *s.x);
    s.mu = malloc((size_t)s.cap * sizeof *s.mu);
    s.var = malloc((size_t)s.cap * sizeof *s.var);
    double *trial = malloc(2 * (size_t)dim * (size_t)dim * sizeof *trial);
    double *tv = malloc(2 * (size_t)dim * sizeof *tv);
    double *u = malloc((size_t)dim * sizeof *u);
    int *top = malloc((size_t)(sp.local_starts > 0 ? sp.local_starts : 1) * sizeof *top);
    int rc = LM_OK;
    if (!U || !v || !s.x || !s.mu || !s.var || !trial || !tv || !u || !top) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM,
                          "out of memory maximizing an acquisition over %ld candidates", total);
        goto out;
    }

    /* Candidates: uniform ones, then each seed and its Gaussian neighbours. */
    long m = 0;
    for (int c = 0; c < sp.candidates; c++, m++)
        for (int i = 0; i < dim; i++) U[m * dim + i] = lm_rng_uniform(rng);
    for (int k = 0; k < n_seeds; k++) {
        const double *sd = seeds + (size_t)k * dim;
        for (int i = 0; i < dim; i++) U[m * dim + i] = clamp01(sd[i]);
        m++;
        /* Each coordinate is redrawn uniformly with probability 1/dim, else perturbed:
         * a discrete coordinate (a category, a small int) moves only by redrawing, so
         * this is how "the best point with another category" becomes a candidate. */
        for (int c = 0; c < sp.neighbours; c++, m++)
            for (int i = 0; i < dim; i++)
                U[m * dim + i] = lm_rng_below(rng, (uint64_t)dim) == 0
                                     ? lm_rng_uniform(rng)
                                     : clamp01(sd[i] + sp.radius * lm_rng_normal(rng));
    }
    if (m == 0) { /* nothing asked for: the centre of the cube */
        for (int i = 0; i < dim; i++) U[i] = 0.5;
        m = 1;
    }
    LM_CALL_GOTO(rc, score(&s, (int)m, U, v), out);

    /* The local_starts best distinct candidates (selection, ties to the lower index). */
    int n_top = 0;
    for (int t = 0; t < sp.local_starts && t < m; t++) {
        int best = -1;
        for (long j = 0; j < m; j++) {
            int taken = 0;
            for (int q = 0; q < n_top && !taken; q++) taken = top[q] == j;
            if (!taken && (best < 0 || v[j] > v[best])) best = (int)j;
        }
        if (best < 0) break;
        top[n_top++] = best;
    }
    long arg = 0;
    for (long j = 1; j < m; j++)
        if (v[j] > v[arg]) arg = j;
    memcpy(u_best, U + arg * dim, (size_t)dim * sizeof *u_best);
    double best_val = v[arg];
    for (int t = 0; t < n_top; t++) {
        memcpy(u, U + (size_t)top[t] * dim, (size_t)dim * sizeof *u);
        double val = v[top[t]];
        LM_CALL_GOTO(rc, pattern_search(&s, u, &val, sp.local_evals, trial, tv), out);
        if (val > best_val) {
            best_val = val;
            memcpy(u_best, u, (size_t)dim * sizeof *u_best);
        }
    }
    if (value) *value = best_val;
out:
    free(U);
    free(v);
    free(s.x);
    free(s.mu);
    free(s.var);
    free(trial);
    free(tv);
    free(u);
    free(top);
    return rc;
}
