/* NSGA-II (Deb, Pratap, Agarwal and Meyarivan 2002): multi-objective evolution with
 * non-dominated sorting, crowding distance and elitist (mu + lambda) selection.
 *
 * Variation is real-coded in the genome's unit cube: crowded-comparison binary
 * tournaments, simulated binary crossover (SBX) and polynomial mutation, both with
 * distribution index 20 and mutation probability 1/n by default (the paper's
 * settings). A genome without a real coding, or with architecture genes (model.space),
 * is varied by its own operators instead: the family's crossover (layer slots, cell
 * blocks, stages) and one named mutation (add a layer, change an operation, ...), as
 * aging evolution does, breeding again (option dedupe, up to LM__DEDUPE_TRIES times) a
 * child that equals a population member. SBX on a positional integer genome means
 * nothing (a small step in a layer-type gene rounds back to the parent, or turns a
 * convolution into a pool), and Deb et al. leave the variation to the representation;
 * the selection and the replacement stay as the paper has them.
 *
 * Two modes:
 *  - generational: N random trials form generation 0; each next generation is N
 *    children bred from the parents P, and once all of them ended P becomes the best
 *    N of P and the children (lm_moo_select). Workers wait (LM_JOB_WAIT) at the end
 *    of a generation while its last trials finish, as in the paper;
 *  - steady: after N random trials, every request breeds one child from the current
 *    population, and every trial that ends joins it, the worst by crowded comparison
 *    leaving when it exceeds N (a steady-state NSGA-II, as in Durillo et al. 2009). It
 *    never waits, which suits a cluster with trials of uneven length.
 *
 * Objectives come from options objective1..3 (val_accuracy, params, flops, latency or
 * none) with direction1..3 (max or min); the counts (params, FLOPs, latency) enter the
 * crowding distance on a log scale (see objectives()) unless log_scale is off, which
 * is the paper's distance on raw values; dominance is the same either way. A failed
 * trial has NaN objectives: worse than any trial with numbers (moo.h). Population
 * snapshots (front, crowding) go to the trial table at every generation (generational)
 * or every snapshot_every ended trials (steady), and once at the end: its front-0 rows
 * are the final first front.
 *
 * Lamarckian inheritance (inheritance: lamarckian, steady mode; chain and mlp spaces):
 * a child is, with probability inherit_prob, one Net2Net morph of a member whose state
 * is kept, chosen by a crowded tournament among such members, and starts from its
 * trained weights (inherit.c); otherwise it is bred as above and trains from scratch.
 * The Net2Net morphs only grow networks; with inherit_shrink, LEMONADE's (Elsken,
 * Metzen and Hutter 2019) approximate morphs that shrink one (a narrower layer, a layer
 * removed) are drawn too, so inheriting children reach the small end of the front as
 * well. Members keep their states while in the population.
 *
 * Randomness: sampled points from (seed, trial id, LM_STREAM_SAMPLE) as in random
 * search, every other draw from the searcher's stream (seed, 0, LM_STREAM_SEARCH),
 * whose state is saved. */
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/search.h"
#include "search/evolve.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- real-coded variation ---- */

/* The spread factor beta_q of SBX for a parent at distance dist from its bound, in
 * units of half the parents' gap (Deb and Agrawal 1995, with the bounded correction
 * alpha of Deb's code, which keeps the child inside the bound). */
static double sbx_beta(double u, double dist, double eta) {
    double beta = 1 + 2 * dist;
    double alpha = 2 - pow(beta, -(eta + 1));
    if (u <= 1 / alpha) return pow(u * alpha, 1 / (eta + 1));
    return pow(1 / (2 - u * alpha), 1 / (eta + 1));
}

static double clip01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

void lm__sbx(lm_rng *rng, const double *a, const double *b, int n, double eta, double *c1,
             double *c2) {
    for (int i = 0; i < n; i++) {
        double x1 = a[i], x2 = b[i];
        c1[i] = x1;
        c2[i] = x2;
        if (lm_rng_uniform(rng) >= 0.5 || fabs(x1 - x2) <= 1e-14) continue;
        double lo = fmin(x1, x2), hi = fmax(x1, x2), gap = hi - lo;
        double u = lm_rng_uniform(rng);
        double y1 = 0.5 * ((lo + hi) - sbx_beta(u, lo / gap, eta) * gap);
        double y2 = 0.5 * ((lo + hi) + sbx_beta(u, (1 - hi) / gap, eta) * gap);
        y1 = clip01(y1);
        y2 = clip01(y2);
        if (lm_rng_uniform(rng) < 0.5) {
            c1[i] = y2;
            c2[i] = y1;
        } else {
            c1[i] = y1;
            c2[i] = y2;
        }
    }
}

void lm__polynomial_mutation(lm_rng *rng, double *x, int n, double eta, double pm) {
    double e = 1 / (eta + 1);
    for (int i = 0; i < n; i++) {
        if (lm_rng_uniform(rng) >= pm) continue;
        double v = clip01(x[i]), u = lm_rng_uniform(rng), dq;
        /* The bounded form: the perturbation's distribution is scaled by the distance
         * to the bound on its side, so the child stays in [0, 1]. */
        if (u < 0.5) {
            double xy = 1 - v;
            dq = pow(2 * u + (1 - 2 * u) * pow(xy, eta + 1), e) - 1;
        } else {
            double xy = v;
            dq = 1 - pow(2 * (1 - u) + 2 * (u - 0.5) * pow(xy, eta + 1), e);
        }
        x[i] = clip01(v + dq);
    }
}

int lm__crowded_tournament(lm_rng *rng, int n, const int *front, const double *dist) {
    int a = (int)lm_rng_below(rng, (uint64_t)n), b = (int)lm_rng_below(rng, (uint64_t)n);
    if (lm_moo_crowded_better(front, dist, a, b)) return a;
    if (lm_moo_crowded_better(front, dist, b, a)) return b;
    return lm_rng_uniform(rng) < 0.5 ? a : b;
}

int lm__nsga2_breed(lm_rng *rng, const double *x, int n, int nv, const int *front,
                    const double *dist, const lm__variation *v, int n_child, double *child,
                    int *parents) {
    LM_CHECK(n >= 1 && nv >= 1 && n_child >= 0, LM_EINVAL,
             "NSGA-II breeding: %d parents of %d variables, %d children", n, nv, n_child);
    double pm = v->p_mut > 0 ? v->p_mut : 1.0 / nv;
    /* The second child of an odd last pair is made (so the draws do not depend on
     * parity) but not kept. */
    double *spare = malloc((size_t)nv * sizeof *spare);
    LM_CHECK(spare, LM_ENOMEM, "out of memory breeding %d variables", nv);
    for (int c = 0; c < n_child; c += 2) {
        int ia = lm__crowded_tournament(rng, n, front, dist);
        int ib = lm__crowded_tournament(rng, n, front, dist);
        const double *pa = x + (size_t)ia * nv, *pb = x + (size_t)ib * nv;
        double *c1 = child + (size_t)c * nv;
        double *c2 = c + 1 < n_child ? child + (size_t)(c + 1) * nv : spare;
        int crossed = lm_rng_uniform(rng) < v->p_cross;
        if (parents) {
            int *p1 = parents + 2 * (size_t)c, *p2 = c + 1 < n_child ? p1 + 2 : NULL;
            p1[0] = ia;
            p1[1] = crossed ? ib : -1;
            if (p2) {
                p2[0] = crossed ? ia : ib;
                p2[1] = crossed ? ib : -1;
            }
        }
        if (crossed) {
            lm__sbx(rng, pa, pb, nv, v->eta_c, c1, c2);
        } else {
            memcpy(c1, pa, (size_t)nv * sizeof *c1);
            memcpy(c2, pb, (size_t)nv * sizeof *c2);
        }
        lm__polynomial_mutation(rng, c1, nv, v->eta_m, pm);
        lm__polynomial_mutation(rng, c2, nv, v->eta_m, pm);
    }
    free(spare);
    return LM_OK;
}

/* ---- the searcher ---- */

enum { MODE_GENERATIONAL, MODE_STEADY };
#define N_OBJ_OPTS 3
#define POP_MAX 100000

static const char *const mode_labels[] = {"generational", "steady", NULL};
/* In lm__metric order, so a label's index is its metric. */
static const char *const objective_labels[] = {"none",  "val_accuracy", "params",
                                               "flops", "latency",      NULL};
static const char *const direction_labels[] = {"max", "min", NULL};

static const lm_option_spec nsga2_options[] = {
    {"population", LM_OPT_INT, 20, 2, POP_MAX, NULL, "population size N"},
    {"mode", LM_OPT_ENUM, MODE_GENERATIONAL, 0, 0, mode_labels,
     "generational (mu + lambda, waits at generation ends) or steady (never waits)"},
    {"objective1", LM_OPT_ENUM, LM__METRIC_VAL_ACCURACY, 0, 0, objective_labels,
     "first objective"},
    {"direction1", LM_OPT_ENUM, 0, 0, 0, direction_labels, "max or min the first objective"},
    {"objective2", LM_OPT_ENUM, LM__METRIC_PARAMS, 0, 0, objective_labels, "second objective"},
    {"direction2", LM_OPT_ENUM, 1, 0, 0, direction_labels, "max or min the second objective"},
    {"objective3", LM_OPT_ENUM, LM__METRIC_NONE, 0, 0, objective_labels, "third objective"},
    {"direction3", LM_OPT_ENUM, 1, 0, 0, direction_labels, "max or min the third objective"},
    {"crossover_prob", LM_OPT_REAL, 0.9, 0, 1, NULL, "probability that a pair is crossed (SBX)"},
    {"eta_c", LM_OPT_REAL, 20, 0, 1000, NULL, "SBX distribution index"},
    {"eta_m", LM_OPT_REAL, 20, 0, 1000, NULL, "polynomial mutation distribution index"},
    {"mutation_prob", LM_OPT_REAL, 0, 0, 1, NULL,
     "per-hyperparameter mutation probability; 0: 1 / number of hyperparameters"},
    {"dedupe", LM_OPT_BOOL, 1, 0, 1, NULL,
     "architecture spaces: breed again (up to 8 times) when a child equals a population member"},
    {"log_scale", LM_OPT_BOOL, 1, 0, 1, NULL,
     "crowding distance measures params, flops and latency on a log scale (false: raw)"},
    {"snapshot_every", LM_OPT_INT, 0, 0, 1e9, NULL,
     "steady mode: ended trials between population snapshots; 0: the population size"},
    LM__INHERIT_OPTIONS,
    /* 0.2 is the best share measured on the chain benchmark.
     * On tests/bench/evolution_nas.sh (200 models, population 40, 3 seeds) it raised the hypervolume over random search's
     * from +0.008..0.012 to +0.017..0.022 and left none of random search's larger networks
     * uncovered; 0.5 with inherit_shrink left more of its small networks uncovered than
     * 0.2: the children bred from scratch are what search the small end. */
    {"inherit_prob", LM_OPT_REAL, 0.2, 0, 1, NULL,
     "lamarckian: probability that a child is a morph of a member, starting from its "
     "weights; otherwise it is bred by the usual operators and trains from scratch"},
    {0},
};

typedef struct nsga2 {
    lm_searcher base;        /* first, so an lm_searcher * is an nsga2 * */
    lm_search_params p;
    lm__genome g;
    int real_coded;          /* SBX and polynomial mutation (else the genome's own) */
    int log_scale;           /* counts on a log scale (objectives) */
    int dedupe;              /* own variation: no child equal to a population member */
    int N, mode, m, snapshot_every;
    lm__metric obj[N_OBJ_OPTS];
    lm_moo_sense sense[N_OBJ_OPTS];
    lm__variation var;
    lm_rng rng;
    int64_t issued, ended;
    int generation;          /* generational: the generation being issued */
    /* The population P: trial ids with their fronts and crowding distances. */
    int n_pop, cap_pop;
    int *pop, *front;
    double *dist;
    /* Generational: trials of the current generation, and the points not yet issued
     * (sampled at issue when queue_random, else rows of queue). */
    int n_gen, gen_ended, cap_gen;
    int *gen;
    int n_queue, queue_next, queue_random, need_breed;
    double *queue;           /* cap_gen x n genes */
    int *queue_parents;      /* cap_gen x 2 trial ids */
    /* Lamarckian inheritance (steady mode): a child is a morph with probability
     * inherit_prob */
    int lamarck;
    double inherit_prob;
    lm__lamarck inherit;
    int ids_checked;         /* population ids checked against the table since load */
    int rc_deferred;         /* an error on_end could not return */
} nsga2;

static int nsga2_alloc(nsga2 *s, int cap_pop, int cap_gen) {
    int n = s->g.n ? s->g.n : 1;
    if (cap_pop > s->cap_pop) {
        int *pop = realloc(s->pop, (size_t)cap_pop * sizeof *pop);
        if (pop) s->pop = pop;
        int *front = realloc(s->front, (size_t)cap_pop * sizeof *front);
        if (front) s->front = front;
        double *dist = realloc(s->dist, (size_t)cap_pop * sizeof *dist);
        if (dist) s->dist = dist;
        LM_CHECK(pop && front && dist, LM_ENOMEM, "out of memory for a population of %d",
                 cap_pop);
        s->cap_pop = cap_pop;
    }
    if (cap_gen > s->cap_gen) {
        int *gen = realloc(s->gen, (size_t)cap_gen * sizeof *gen);
        if (gen) s->gen = gen;
        double *q = realloc(s->queue, (size_t)cap_gen * (size_t)n * sizeof *q);
        if (q) s->queue = q;
        int *qp = realloc(s->queue_parents, (size_t)cap_gen * 2 * sizeof *qp);
        if (qp) s->queue_parents = qp;
        LM_CHECK(gen && q && qp, LM_ENOMEM, "out of memory for a generation of %d", cap_gen);
        s->cap_gen = cap_gen;
    }
    return LM_OK;
}

static void nsga2_destroy(lm_searcher *base) {
    nsga2 *s = (nsga2 *)base;
    free(s->pop);
    free(s->front);
    free(s->dist);
    free(s->gen);
    free(s->queue);
    free(s->queue_parents);
    free(s);
}

static int nsga2_create(const lm_search_params *p, lm_searcher **out) {
    LM_CHECK(p->max_trials >= 1 && p->max_trials <= LM__TRIALS_MAX, LM_ECONFIG,
             "nsga2: max_trials must be 1 to %d, got %d", LM__TRIALS_MAX, p->max_trials);
    const lm_options *o = &p->options;
    nsga2 *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->base.ops = &lm__nsga2_ops;
    s->p = *p;
    lm__genome_hp(p->space, &s->g);
    s->real_coded = s->g.ops->encode && !lm_space_arch(p->space, NULL, NULL);
    s->N = (int)lm_options_get(o, nsga2_options, "population");
    s->mode = (int)lm_options_get(o, nsga2_options, "mode");
    s->log_scale = (int)lm_options_get(o, nsga2_options, "log_scale");
    s->dedupe = (int)lm_options_get(o, nsga2_options, "dedupe");
    s->snapshot_every = (int)lm_options_get(o, nsga2_options, "snapshot_every");
    if (s->snapshot_every == 0) s->snapshot_every = s->N;
    s->var.p_cross = lm_options_get(o, nsga2_options, "crossover_prob");
    s->var.eta_c = lm_options_get(o, nsga2_options, "eta_c");
    s->var.eta_m = lm_options_get(o, nsga2_options, "eta_m");
    s->var.p_mut = lm_options_get(o, nsga2_options, "mutation_prob");
    static const char *const on[] = {"objective1", "objective2", "objective3"};
    static const char *const dn[] = {"direction1", "direction2", "direction3"};
    int rc = LM_OK;
    for (int k = 0; k < N_OBJ_OPTS; k++) {
        lm__metric mt = (lm__metric)lm_options_get(o, nsga2_options, on[k]);
        if (mt == LM__METRIC_NONE) continue;
        for (int j = 0; j < s->m; j++)
            if (s->obj[j] == mt) {
                rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECONFIG,
                                  "nsga2: '%s' is %s, which an earlier objective already is",
                                  on[k], objective_labels[mt]);
                goto fail;
            }
        s->obj[s->m] = mt;
        s->sense[s->m] = lm_options_get(o, nsga2_options, dn[k]) == 0 ? LM_MOO_MAX : LM_MOO_MIN;
        s->m++;
    }
    if (s->m == 0) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECONFIG,
                          "nsga2: every objective is 'none'; set objective1 (val_accuracy, "
                          "params, flops or latency)");
        goto fail;
    }
    s->lamarck = lm_options_get(o, nsga2_options, "inheritance") != 0;
    s->inherit_prob = lm_options_get(o, nsga2_options, "inherit_prob");
    if (s->lamarck) {
        if (s->mode != MODE_STEADY) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECONFIG,
                              "nsga2: inheritance: lamarckian needs mode: steady (a parent's "
                              "state is kept while it is in the population)");
            goto fail;
        }
        LM_CALL_GOTO(rc, lm__lamarck_init(&s->inherit, "nsga2", p->space,
                                          (int)lm_options_get(o, nsga2_options, "inherit_epochs"),
                                          p->epochs,
                                          lm_options_get(o, nsga2_options, "inherit_noise"),
                                          lm_options_get(o, nsga2_options, "inherit_shrink") != 0),
                     fail);
    }
    lm_rng_init(&s->rng, p->seed, 0, LM_STREAM_SEARCH);
    LM_CALL_GOTO(rc, nsga2_alloc(s, s->N + 1, s->N), fail);
    s->queue_random = 1;
    s->n_queue = s->N;
    *out = &s->base;
    return LM_OK;
fail:
    nsga2_destroy(&s->base);
    return rc;
}

/* The objectives (rows of m) of the trials ids[0..n). With log_scale, counts (params,
 * FLOPs, latency; at least 1e-12) go through a log: a monotone map, so dominance and
 * the fronts stay the same, but the crowding distance (each objective divided by its
 * range) then spreads the population over orders of magnitude. On a linear scale a
 * front from 200 to 70,000 parameters keeps its few large networks apart and gives
 * every network under 2,000 parameters together less room than one large one: on the
 * chain benchmark (tests/bench/evolution_nas.sh, 100 models, 3 seeds) the log scale's
 * fronts had the larger hypervolume in every seed and covered 86 % of random search's
 * front points in the median against 50 %. */
static void objectives(const nsga2 *s, const lm_trials *t, const int *ids, int n, double *f) {
    for (int i = 0; i < n; i++) {
        /* A trial kept at its end (Lamarckian) is finished: its metrics are a done trial's. */
        lm_trial view = t->v[ids[i]];
        if (lm__lamarck_kept(&view)) view.status = LM_TRIAL_DONE;
        for (int k = 0; k < s->m; k++) {
            double v = lm__trial_metric(&view, s->obj[k]);
            if (s->log_scale && s->obj[k] != LM__METRIC_VAL_ACCURACY && v >= 0)
                v = log(fmax(v, 1e-12));
            f[(size_t)i * s->m + k] = v;
        }
    }
}

static int snapshot(nsga2 *s, lm_trials *t, int event) {
    if (s->n_pop == 0) return LM_OK;
    lm_pop_row *rows = malloc((size_t)s->n_pop * sizeof *rows);
    LM_CHECK_ALLOC(rows);
    for (int i = 0; i < s->n_pop; i++) {
        rows[i] = (lm_pop_row){.trial_id = s->pop[i], .age = t->v[s->pop[i]].generation,
                               .front = s->front[i], .fitness = NAN, .crowding = s->dist[i]};
    }
    int rc = lm_trials_add_snapshot(t, event, rows, s->n_pop);
    free(rows);
    LM_CALL(rc);
    return LM_OK;
}

/* P := the best N of P and the extra trials ids[0..n) (lm_moo_select), with fronts and
 * crowding distances over that union. */
static int survive(nsga2 *s, const lm_trials *t, const int *ids, int n) {
    int nr = s->n_pop + n, keep = nr < s->N ? nr : s->N;
    LM_CALL(nsga2_alloc(s, nr, 0));
    int *r = malloc((size_t)nr * sizeof *r);
    int *chosen = malloc((size_t)nr * sizeof *chosen);
    int *fr = malloc((size_t)nr * sizeof *fr);
    double *di = malloc((size_t)nr * sizeof *di);
    double *f = malloc((size_t)nr * (size_t)s->m * sizeof *f);
    int rc = LM_OK;
    if (!r || !chosen || !fr || !di || !f) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM,
                          "out of memory selecting from %d trials", nr);
        goto out;
    }
    memcpy(r, s->pop, (size_t)s->n_pop * sizeof *r);
    memcpy(r + s->n_pop, ids, (size_t)n * sizeof *r);
    objectives(s, t, r, nr, f);
    LM_CALL_GOTO(rc, lm_moo_select(f, nr, s->m, s->sense, keep, chosen, fr, di), out);
    for (int i = 0; i < keep; i++) {
        s->pop[i] = r[chosen[i]];
        s->front[i] = fr[chosen[i]];
        s->dist[i] = di[chosen[i]];
    }
    s->n_pop = keep;
out:
    free(r);
    free(chosen);
    free(fr);
    free(di);
    free(f);
    return rc;
}

/* Breeds n children of P into the queue (rows, with parent trial ids). */
static int breed(nsga2 *s, const lm_trials *t, int n) {
    int nv = s->g.n, np = s->n_pop;
    LM_CALL(nsga2_alloc(s, 0, n));
    if (nv == 0) {
        for (int c = 0; c < n; c++) s->queue_parents[2 * c] = s->queue_parents[2 * c + 1] = -1;
        return LM_OK;
    }
    int *par = malloc((size_t)n * 2 * sizeof *par);
    double *x = malloc((size_t)np * (size_t)nv * sizeof *x);
    int rc = LM_OK;
    if (!par || !x) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory breeding");
        goto out;
    }
    if (s->real_coded) {
        for (int i = 0; i < np; i++)
            s->g.ops->encode(s->g.ctx, &s->rng, s->g.ops->of_trial(s->g.ctx, t, s->pop[i]),
                             x + (size_t)i * nv);
        LM_CALL_GOTO(rc, lm__nsga2_breed(&s->rng, x, np, nv, s->front, s->dist, &s->var, n,
                                         s->queue, par), out);
        for (int c = 0; c < n; c++) {
            double *row = s->queue + (size_t)c * nv;
            memcpy(x, row, (size_t)nv * sizeof *x); /* x's first row is free now */
            s->g.ops->decode(s->g.ctx, x, row);
        }
    } else {
        /* The genome's own crossover and mutation (see the top of the file). */
        int tries = s->dedupe ? LM__DEDUPE_TRIES : 1;
        for (int c = 0; c < n; c++) {
            double *row = s->queue + (size_t)c * nv;
            for (int attempt = 0; attempt < tries; attempt++) {
                int a = lm__crowded_tournament(&s->rng, np, s->front, s->dist);
                int b = lm__crowded_tournament(&s->rng, np, s->front, s->dist);
                const double *ga = s->g.ops->of_trial(s->g.ctx, t, s->pop[a]);
                int crossed = lm_rng_uniform(&s->rng) < s->var.p_cross;
                if (crossed)
                    s->g.ops->crossover(s->g.ctx, &s->rng, LM__CROSS_UNIFORM, ga,
                                        s->g.ops->of_trial(s->g.ctx, t, s->pop[b]), row);
                else
                    memcpy(row, ga, (size_t)nv * sizeof *row);
                s->g.ops->mutate(s->g.ctx, &s->rng, 0.1, s->var.p_mut, row);
                par[2 * c] = a;
                par[2 * c + 1] = crossed ? b : -1;
                /* A network already in the population would be trained again for
                 * nothing: breed another (the last attempt stands). */
                if (!s->dedupe ||
                    !lm__genome_hash_among(&s->g, t, s->pop, np, sizeof *s->pop,
                                           s->g.ops->hash(s->g.ctx, row)))
                    break;
            }
        }
    }
    for (int c = 0; c < 2 * n; c++) s->queue_parents[c] = par[c] >= 0 ? s->pop[par[c]] : -1;
out:
    free(par);
    free(x);
    return rc;
}

/* Checks once after a load that the saved ids name trials of this table. */
static int check_ids(nsga2 *s, const lm_trials *t) {
    if (s->ids_checked) return LM_OK;
    for (int i = 0; i < s->n_pop; i++)
        LM_CHECK(s->pop[i] < t->n, LM_ECKPT,
                 "nsga2: the checkpoint's population names trial %d, but the table has %d "
                 "trials", s->pop[i], t->n);
    for (int i = 0; i < s->n_gen; i++)
        LM_CHECK(s->gen[i] < t->n, LM_ECKPT,
                 "nsga2: the checkpoint's generation names trial %d, but the table has %d "
                 "trials", s->gen[i], t->n);
    for (int i = 0; !s->queue_random && i < 2 * s->n_queue; i++)
        LM_CHECK(s->queue_parents[i] < t->n, LM_ECKPT,
                 "nsga2: the checkpoint's queue names parent %d, but the table has %d trials",
                 s->queue_parents[i], t->n);
    s->ids_checked = 1;
    return LM_OK;
}

/* Adds the trial for point x with its lineage. */
static int issue(nsga2 *s, lm_trials *t, const double *x, const int *par, lm_job *out) {
    int id;
    LM_CALL(s->g.ops->add_trial(s->g.ctx, t, x, s->p.epochs, &id));
    lm_trial *tr = &t->v[id];
    if (par && par[0] >= 0) {
        const lm_trial *a = &t->v[par[0]], *b = par[1] >= 0 ? &t->v[par[1]] : NULL;
        tr->parent[0] = par[0];
        tr->parent[1] = par[1];
        tr->origin = b ? LM_ORIGIN_CROSSED_MUTATED : LM_ORIGIN_MUTATED;
        /* Genes whose value is in neither parent: what variation made new. */
        uint64_t m = 0;
        for (int i = 0; i < s->g.n; i++) {
            double v = tr->hp[i];
            int in_a = (isnan(v) && isnan(a->hp[i])) || v == a->hp[i];
            int in_b = b && ((isnan(v) && isnan(b->hp[i])) || v == b->hp[i]);
            if (!in_a && !in_b) m |= (uint64_t)1 << i;
        }
        tr->mutated = m;
        int ga = a->generation, gb = b ? b->generation : 0;
        tr->generation = s->mode == MODE_GENERATIONAL ? s->generation : 1 + (ga > gb ? ga : gb);
    }
    s->issued++;
    out->kind = LM_JOB_NEW;
    out->trial_id = id;
    out->epochs = s->p.epochs;
    return LM_OK;
}

static int issue_sampled(nsga2 *s, lm_trials *t, lm_job *out) {
    lm_rng r;
    lm_rng_init(&r, s->p.seed, (uint64_t)t->n, LM_STREAM_SAMPLE);
    double x[LM_HP_MAX];
    s->g.ops->sample(s->g.ctx, &r, x);
    return issue(s, t, x, NULL, out);
}

static int next_generational(nsga2 *s, lm_trials *t, lm_job *out) {
    if (s->need_breed) {
        LM_CALL(breed(s, t, s->N));
        s->need_breed = 0;
        s->queue_random = 0;
        s->n_queue = s->N;
        s->queue_next = 0;
        s->generation++;
    }
    if (s->queue_next >= s->n_queue) {
        /* The generation is out; its last trials are running. */
        out->kind = LM_JOB_WAIT;
        return LM_OK;
    }
    int k = s->queue_next;
    if (s->queue_random) LM_CALL(issue_sampled(s, t, out));
    else LM_CALL(issue(s, t, s->queue + (size_t)k * s->g.n, s->queue_parents + 2 * k, out));
    s->queue_next++;
    s->gen[s->n_gen++] = out->trial_id;
    return LM_OK;
}

/* An inheriting child into *out (an LM_JOB_CLONE of its parent): the parent by a
 * crowded tournament among the members that can be parents, one morph of it, bred again
 * (dedupe) when it equals a member or that parent had it already. *made 0 when no member
 * can be a parent or every try was such a repeat (the child then trains from scratch). */
static int lamarck_breed(nsga2 *s, lm_trials *t, lm_job *out, int *made) {
    *made = 0;
    int *elig = malloc((size_t)s->n_pop * sizeof *elig);
    int *fr = malloc((size_t)s->n_pop * sizeof *fr);
    double *di = malloc((size_t)s->n_pop * sizeof *di);
    int n_elig = 0, parent = -1, rc = LM_OK;
    if (!elig || !fr || !di) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory breeding");
        goto out;
    }
    for (int i = 0; i < s->n_pop; i++)
        if (lm__lamarck_can_parent(&s->inherit, t, s->pop[i])) {
            elig[n_elig] = s->pop[i];
            fr[n_elig] = s->front[i];
            di[n_elig++] = s->dist[i];
        }
    double x[LM_HP_MAX], pick[LM_HP_MAX];
    lm_morph m, mk;
    uint64_t mutated = 0, mk_mutated = 0;
    int tries = s->dedupe ? LM__DEDUPE_TRIES : 1;
    for (int attempt = 0; n_elig > 0 && attempt < tries; attempt++) {
        int id = elig[lm__crowded_tournament(&s->rng, n_elig, fr, di)];
        memcpy(x, t->v[id].hp, (size_t)s->g.n * sizeof *x);
        if (!lm__lamarck_propose(&s->inherit, &s->rng, x, &m, &mutated)) continue;
        if (s->dedupe && (lm__lamarck_repeats(&s->g, t, id, x) ||
                          lm__genome_hash_among(&s->g, t, s->pop, s->n_pop, sizeof *s->pop,
                                                s->g.ops->hash(s->g.ctx, x))))
            continue;
        memcpy(pick, x, sizeof pick);
        mk = m;
        mk_mutated = mutated;
        parent = id;
        break;
    }
    if (parent >= 0) {
        LM_CALL_GOTO(rc, lm__lamarck_issue(&s->inherit, &s->g, t, pick, parent, &mk, mk_mutated,
                                           out), out);
        s->issued++;
        *made = 1;
    }
out:
    free(elig);
    free(fr);
    free(di);
    return rc;
}

static int next_steady(nsga2 *s, lm_trials *t, lm_job *out) {
    if (s->issued < s->N || s->n_pop == 0) return issue_sampled(s, t, out);
    if (s->lamarck && lm_rng_uniform(&s->rng) < s->inherit_prob) {
        int made;
        LM_CALL(lamarck_breed(s, t, out, &made));
        if (made) return LM_OK;
        lm_log_debug("nsga2: no member gives an inheriting child (none has a kept state and a "
                     "Net2Net morph, or every try repeated a child); breeding one from scratch");
    }
    LM_CALL(breed(s, t, 1));
    return issue(s, t, s->queue, s->queue_parents, out);
}

static int nsga2_next_job(lm_searcher *base, lm_trials *t, lm_job *out) {
    nsga2 *s = (nsga2 *)base;
    LM_CALL(lm__searcher_check_table(base, t, s->g.n));
    out->trial_id = -1;
    out->epochs = 0;
    if (s->rc_deferred < 0) {
        int rc = s->rc_deferred;
        s->rc_deferred = LM_OK;
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    LM_CALL(check_ids(s, t));
    if (s->issued >= s->p.max_trials) {
        out->kind = LM_JOB_DONE;
        return LM_OK;
    }
    if (s->mode == MODE_GENERATIONAL) return next_generational(s, t, out);
    return next_steady(s, t, out);
}

static lm_decision nsga2_on_report(lm_searcher *base, lm_trials *t, const lm_report *r) {
    nsga2 *s = (nsga2 *)base;
    lm_decision d = {LM_DECIDE_CONTINUE};
    /* Lamarckian: a trial at its end keeps its state, so that it can be a parent. */
    if (s->lamarck && lm__lamarck_pause_due(lm_trials_get(t, r->trial_id), r))
        d.kind = LM_DECIDE_PAUSE;
    return d;
}

static int end_generational(nsga2 *s, lm_trials *t, int id) {
    int k = 0;
    while (k < s->n_gen && s->gen[k] != id) k++;
    if (k == s->n_gen) {
        lm_log_warn("nsga2: trial %d ended but is not in generation %d; ignored", id,
                    s->generation);
        return LM_OK;
    }
    s->gen_ended++;
    int all_out = s->queue_next >= s->n_queue || s->issued >= s->p.max_trials;
    if (s->gen_ended < s->n_gen || !all_out) return LM_OK;
    LM_CALL(survive(s, t, s->gen, s->n_gen));
    s->n_gen = s->gen_ended = 0;
    s->need_breed = 1;
    LM_CALL(snapshot(s, t, s->generation));
    return LM_OK;
}

/* Whether trial id is a member of the population. */
static int in_population(const nsga2 *s, int id) {
    for (int i = 0; i < s->n_pop; i++)
        if (s->pop[i] == id) return 1;
    return 0;
}

static int end_steady(nsga2 *s, lm_trials *t, int id) {
    /* Lamarckian: the states of the trials the step leaves out (the new one included)
     * are released; the leaving member is among the old population or is the new one. */
    int n_old = s->n_pop, *old = NULL;
    if (s->lamarck) {
        old = malloc((size_t)(n_old + 1) * sizeof *old);
        LM_CHECK_ALLOC(old);
        memcpy(old, s->pop, (size_t)n_old * sizeof *old);
        old[n_old++] = id;
    }
    int rc = survive(s, t, &id, 1);
    for (int i = 0; rc == LM_OK && old && i < n_old; i++)
        if (!in_population(s, old[i])) lm__lamarck_release(t, old[i]);
    free(old);
    LM_CALL(rc);
    int last = s->ended == s->issued && s->issued >= s->p.max_trials;
    if (s->ended % s->snapshot_every == 0 || last) LM_CALL(snapshot(s, t, (int)s->ended));
    if (last && s->lamarck)
        for (int i = 0; i < s->n_pop; i++) lm__lamarck_release(t, s->pop[i]);
    return LM_OK;
}

/* Errors here cannot be returned (on_end is void): the first one is kept and returned
 * by the next next_job or save. */
static void nsga2_on_end(lm_searcher *base, lm_trials *t, int trial_id) {
    nsga2 *s = (nsga2 *)base;
    if (!lm_trials_get(t, trial_id)) {
        lm_log_warn("nsga2: end of unknown trial %d ignored", trial_id);
        return;
    }
    s->ended++;
    int rc = s->mode == MODE_GENERATIONAL ? end_generational(s, t, trial_id)
                                          : end_steady(s, t, trial_id);
    if (rc < 0 && s->rc_deferred == LM_OK) {
        lm_log_error("nsga2: after trial %d ended: %s", trial_id, lm_error_message());
        s->rc_deferred = rc;
    }
}

/* ---- save and load ---- */

static int nsga2_save(const lm_searcher *base, lm_state_writer *w) {
    const nsga2 *s = (const nsga2 *)base;
    LM_CHECK(s->rc_deferred == LM_OK, s->rc_deferred,
             "nsga2: not saving a state that an earlier error left inconsistent");
    LM_CALL(lm__searcher_save_header(base, s->g.n, w));
    LM_CALL(lm_state_put(w, "searcher/seed", LM_DT_U64, 1, &s->p.seed));
    LM_CALL(lm_state_put(w, "searcher/rng", LM_DT_U64, 4, s->rng.s));
    LM_CALL(lm_state_put_i64(w, "searcher/mode", s->mode));
    LM_CALL(lm_state_put_i64(w, "searcher/issued", s->issued));
    LM_CALL(lm_state_put_i64(w, "searcher/ended", s->ended));
    LM_CALL(lm_state_put_i64(w, "searcher/generation", s->generation));
    LM_CALL(lm_state_put(w, "searcher/pop", LM_DT_I32, (size_t)s->n_pop, s->pop));
    LM_CALL(lm_state_put(w, "searcher/front", LM_DT_I32, (size_t)s->n_pop, s->front));
    LM_CALL(lm_state_put(w, "searcher/dist", LM_DT_F64, (size_t)s->n_pop, s->dist));
    LM_CALL(lm_state_put(w, "searcher/gen", LM_DT_I32, (size_t)s->n_gen, s->gen));
    LM_CALL(lm_state_put_i64(w, "searcher/gen_ended", s->gen_ended));
    LM_CALL(lm_state_put_i64(w, "searcher/queue_next", s->queue_next));
    LM_CALL(lm_state_put_i64(w, "searcher/queue_random", s->queue_random));
    LM_CALL(lm_state_put_i64(w, "searcher/need_breed", s->need_breed));
    size_t nq = s->queue_random ? 0 : (size_t)s->n_queue;
    LM_CALL(lm_state_put_i64(w, "searcher/queue_n", s->n_queue));
    LM_CALL(lm_state_put(w, "searcher/queue", LM_DT_F64, nq * (size_t)s->g.n, s->queue));
    LM_CALL(lm_state_put(w, "searcher/queue_parents", LM_DT_I32, 2 * nq, s->queue_parents));
    return LM_OK;
}

/* Reads an i32 array entry of at most max elements into a fresh buffer. */
static int get_ids(lm_state_reader *r, const char *name, size_t max, int32_t lo, size_t *n,
                   int32_t *out) {
    LM_CALL(lm_state_len(r, name, LM_DT_I32, n));
    LM_CHECK(*n <= max, LM_ECKPT, "checkpoint entry '%s' has %zu elements, expected at most %zu",
             name, *n, max);
    LM_CALL(lm_state_get(r, name, LM_DT_I32, *n, out));
    for (size_t i = 0; i < *n; i++)
        LM_CHECK(out[i] >= lo && out[i] < LM__TRIALS_MAX, LM_ECKPT,
                 "checkpoint entry '%s': element %zu is %d, expected %d to %d", name, i,
                 (int)out[i], (int)lo, LM__TRIALS_MAX - 1);
    return LM_OK;
}

static int nsga2_load(lm_searcher *base, lm_state_reader *r) {
    nsga2 *s = (nsga2 *)base;
    LM_CALL(lm__searcher_check_header(base, s->g.n, r));
    uint64_t seed;
    LM_CALL(lm_state_get(r, "searcher/seed", LM_DT_U64, 1, &seed));
    LM_CHECK(seed == s->p.seed, LM_ECKPT,
             "checkpoint entry 'searcher/seed' is %llu, but this run's seed is %llu",
             (unsigned long long)seed, (unsigned long long)s->p.seed);
    int64_t mode, issued, ended, generation, gen_ended, queue_next, queue_random, need_breed;
    int64_t n_queue;
    LM_CALL(lm__searcher_get_count(r, "searcher/mode", 0, 1, &mode));
    LM_CHECK(mode == s->mode, LM_ECKPT,
             "checkpoint entry 'searcher/mode' is %s, but this run's mode is %s",
             mode_labels[mode], mode_labels[s->mode]);
    LM_CALL(lm__searcher_get_count(r, "searcher/issued", 0, LM__TRIALS_MAX, &issued));
    LM_CALL(lm__searcher_get_count(r, "searcher/ended", 0, issued, &ended));
    LM_CALL(lm__searcher_get_count(r, "searcher/generation", 0, LM__TRIALS_MAX, &generation));
    LM_CALL(lm__searcher_get_count(r, "searcher/queue_n", 0, POP_MAX, &n_queue));
    LM_CALL(lm__searcher_get_count(r, "searcher/queue_next", 0, n_queue, &queue_next));
    LM_CALL(lm__searcher_get_count(r, "searcher/queue_random", 0, 1, &queue_random));
    LM_CALL(lm__searcher_get_count(r, "searcher/need_breed", 0, 1, &need_breed));
    size_t n_pop, n_gen, n;
    LM_CALL(lm_state_len(r, "searcher/pop", LM_DT_I32, &n_pop));
    LM_CALL(lm_state_len(r, "searcher/gen", LM_DT_I32, &n_gen));
    LM_CHECK(n_pop <= 2 * POP_MAX && n_gen <= POP_MAX, LM_ECKPT,
             "checkpoint entries 'searcher/pop' and 'searcher/gen' hold %zu and %zu trials, "
             "expected at most %d and %d", n_pop, n_gen, 2 * POP_MAX, POP_MAX);
    int cap_gen = (int)(n_gen > (size_t)n_queue ? n_gen : (size_t)n_queue);
    LM_CALL(nsga2_alloc(s, (int)n_pop + 1, cap_gen > s->N ? cap_gen : s->N));
    LM_CALL(get_ids(r, "searcher/pop", n_pop, 0, &n, s->pop));
    LM_CALL(get_ids(r, "searcher/gen", n_gen, 0, &n, s->gen));
    LM_CALL(lm__searcher_get_count(r, "searcher/gen_ended", 0, (int64_t)n_gen, &gen_ended));
    size_t len;
    LM_CALL(lm_state_len(r, "searcher/front", LM_DT_I32, &len));
    LM_CHECK(len == n_pop, LM_ECKPT, "checkpoint entry 'searcher/front' has %zu elements, "
             "expected %zu (one per member)", len, n_pop);
    LM_CALL(lm_state_get(r, "searcher/front", LM_DT_I32, n_pop, s->front));
    LM_CALL(lm_state_get(r, "searcher/dist", LM_DT_F64, n_pop, s->dist));
    for (size_t i = 0; i < n_pop; i++)
        LM_CHECK(s->front[i] >= 0 && !isnan(s->dist[i]) && s->dist[i] >= 0, LM_ECKPT,
                 "checkpoint entries 'searcher/front' and 'searcher/dist': member %zu has front "
                 "%d and distance %g", i, s->front[i], s->dist[i]);
    size_t nq = queue_random ? 0 : (size_t)n_queue;
    LM_CALL(lm_state_get(r, "searcher/queue", LM_DT_F64, nq * (size_t)s->g.n, s->queue));
    LM_CALL(get_ids(r, "searcher/queue_parents", 2 * nq, -1, &n, s->queue_parents));
    LM_CHECK(n == 2 * nq, LM_ECKPT, "checkpoint entry 'searcher/queue_parents' has %zu elements, "
             "expected %zu (two per queued point)", n, 2 * nq);
    LM_CALL(lm_state_get(r, "searcher/rng", LM_DT_U64, 4, s->rng.s));
    s->n_pop = (int)n_pop;
    s->n_gen = (int)n_gen;
    s->issued = issued;
    s->ended = ended;
    s->generation = (int)generation;
    s->gen_ended = (int)gen_ended;
    s->n_queue = (int)n_queue;
    s->queue_next = (int)queue_next;
    s->queue_random = (int)queue_random;
    s->need_breed = (int)need_breed;
    s->ids_checked = 0;
    s->rc_deferred = LM_OK;
    return LM_OK;
}

const lm_searcher_ops lm__nsga2_ops = {
    .name = "nsga2",
    .options = nsga2_options,
    .create = nsga2_create,
    .next_job = nsga2_next_job,
    .on_report = nsga2_on_report,
    .on_end = nsga2_on_end,
    .save = nsga2_save,
    .load = nsga2_load,
    .destroy = nsga2_destroy,
};
