/* Asynchronous steady-state evolution: regularized (aging) evolution (Real, Aggarwal,
 * Huang and Le 2019) and its relatives, over the genome operations of evolve.h.
 *
 * The first `population` trials are random points, drawn as random search draws them
 * (stream (seed, trial id, LM_STREAM_SAMPLE)). After that, every request for a job
 * breeds one child from the current population: a parent chosen by a tournament of
 * sample_size with pressure p (Real et al.: p = 1), fitness-proportionally, or the
 * youngest member; with probability crossover_prob a second parent (chosen the same
 * way among the others) and a uniform or one-point crossover; then a mutation. When
 * a trial ends it joins the population, and when the population exceeds its size one
 * member leaves: the oldest (aging, the "regularized" of Real et al.) or the worst.
 *
 * Asynchronous: a job is never refused while trials remain, so no worker idles; while
 * the first members are still training (an empty population) requests get random
 * points. A failed trial, or one whose fitness is undefined (NaN), never joins.
 *
 * Fitness is best_val_accuracy or a scalarization of val_accuracy, params, flops and
 * latency (moo.h): weighted sum, weighted exponential sum, weighted product, or the
 * MnasNet reward.
 *
 * Lamarckian inheritance (inheritance: lamarckian; mlp and chain spaces): a child is one
 * Net2Net morph of its parent (a wider layer, or an identity dense layer inserted) and
 * starts from the parent's trained weights (an LM_JOB_CLONE carrying the morph in the
 * child's lm_trial.morph), training inherit_epochs epochs; see the section below.
 *
 * Records: each child's parents, origin, mutated genes and generation (1 + its first
 * parent's) in the trial table; a population snapshot (trial, age, fitness) every
 * snapshot_every ended trials and once when the last trial ends. Breeding draws from
 * the searcher's stream (seed, 0, LM_STREAM_SEARCH), saved with its state; so a run
 * is deterministic for a given order of trial ends. */
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/search.h"
#include "search/evolve.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POP_MAX 100000

enum { SEL_TOURNAMENT, SEL_PROPORTIONAL, SEL_YOUNGEST };
enum { SURV_OLDEST, SURV_WORST };

static const char *const selection_labels[] = {"tournament", "proportional", "youngest", NULL};
static const char *const survivor_labels[] = {"oldest", "worst", NULL};
static const char *const crossover_labels[] = {"uniform", "one_point", NULL};

static const lm_option_spec evolution_options[] = {
    {"population", LM_OPT_INT, 20, 1, POP_MAX, NULL, "population size P"},
    {"sample_size", LM_OPT_INT, 5, 1, POP_MAX, NULL, "tournament size k"},
    {"pressure", LM_OPT_REAL, 1, 0, 1, NULL,
     "tournament: the best of the k wins with probability p, the next with p(1-p), ..."},
    {"parent_selection", LM_OPT_ENUM, SEL_TOURNAMENT, 0, 0, selection_labels,
     "how parents are chosen"},
    {"survivor", LM_OPT_ENUM, SURV_OLDEST, 0, 0, survivor_labels,
     "who leaves a full population: the oldest (aging) or the worst"},
    {"crossover_prob", LM_OPT_REAL, 0, 0, 1, NULL, "probability that a child has two parents"},
    {"crossover", LM_OPT_ENUM, LM__CROSS_UNIFORM, 0, 0, crossover_labels, "crossover kind"},
    {"mutation_strength", LM_OPT_REAL, 0.1, 0, 10, NULL,
     "standard deviation of a mutation step in unit-cube coordinates"},
    {"mutation_rate", LM_OPT_REAL, 0, 0, 1, NULL,
     "probability that a hyperparameter mutates; 0: 1 / their number (at least one mutates)"},
    {"dedupe", LM_OPT_BOOL, 1, 0, 1, NULL,
     "breed again (up to 8 times) when a child equals a population member"},
    {"snapshot_every", LM_OPT_INT, 0, 0, 1e9, NULL,
     "ended trials between population snapshots; 0: the population size"},
    {"objective", LM_OPT_ENUM, LM__FIT_ACCURACY, 0, 0, lm__fit_labels,
     "fitness: val_accuracy or a scalarization of val_accuracy, params, flops, latency"},
    {"w_val_accuracy", LM_OPT_REAL, 1, -1e12, 1e12, NULL, "weight (exponent) of val_accuracy"},
    {"w_params", LM_OPT_REAL, 0, -1e12, 1e12, NULL, "weight (exponent) of params"},
    {"w_flops", LM_OPT_REAL, 0, -1e12, 1e12, NULL, "weight (exponent) of flops"},
    {"w_latency", LM_OPT_REAL, 0, -1e12, 1e12, NULL, "weight (exponent) of latency (seconds)"},
    {"exponent", LM_OPT_REAL, 2, 1e-6, 100, NULL, "p of the weighted exponential sum"},
    {"cost", LM_OPT_ENUM, 2, 0, 0, lm__metric_labels + 1,
     "mnasnet: the cost metric (params, flops or latency)"},
    {"target", LM_OPT_REAL, 0.075, 1e-12, 1e18, NULL,
     "mnasnet: the cost target T (seconds for latency)"},
    {"alpha", LM_OPT_REAL, LM_MNASNET_ALPHA, -10, 10, NULL, "mnasnet: exponent when cost <= T"},
    {"beta", LM_OPT_REAL, LM_MNASNET_BETA, -10, 10, NULL, "mnasnet: exponent when cost > T"},
    LM__INHERIT_OPTIONS,
    {0},
};

typedef struct evolution {
    lm_searcher base;        /* first, so an lm_searcher * is an evolution * */
    lm_search_params p;
    lm__genome g;
    int P, k, selection, survivor, dedupe, snapshot_every;
    double pressure, p_cross, sigma, rate;
    lm__cross_kind cross;
    lm__fitness fit;
    lm_rng rng;
    int64_t issued, ended, births;
    int n_pop, cap_pop;
    lm__member *pop;         /* in the order members joined */
    int lamarck;             /* Lamarckian inheritance, over inherit */
    lm__lamarck inherit;
    int ids_checked;         /* population ids checked against the table since load */
    int rc_deferred;         /* an error on_end could not return */
} evolution;

static void evolution_destroy(lm_searcher *base) {
    evolution *s = (evolution *)base;
    free(s->pop);
    free(s);
}

static int reserve(evolution *s, int cap) {
    if (cap <= s->cap_pop) return LM_OK;
    lm__member *p = realloc(s->pop, (size_t)cap * sizeof *p);
    LM_CHECK(p, LM_ENOMEM, "out of memory for a population of %d", cap);
    s->pop = p;
    s->cap_pop = cap;
    return LM_OK;
}

static void read_options(evolution *s, const lm_options *o) {
#define OPT(name) lm_options_get(o, evolution_options, name)
    s->P = (int)OPT("population");
    s->k = (int)OPT("sample_size");
    s->pressure = OPT("pressure");
    s->selection = (int)OPT("parent_selection");
    s->survivor = (int)OPT("survivor");
    s->p_cross = OPT("crossover_prob");
    s->cross = (lm__cross_kind)OPT("crossover");
    s->sigma = OPT("mutation_strength");
    s->rate = OPT("mutation_rate");
    s->dedupe = OPT("dedupe") != 0;
    s->snapshot_every = (int)OPT("snapshot_every");
    if (s->snapshot_every == 0) s->snapshot_every = s->P;
    s->fit.kind = (lm__fit_kind)OPT("objective");
    s->fit.w[0] = OPT("w_val_accuracy");
    s->fit.w[1] = OPT("w_params");
    s->fit.w[2] = OPT("w_flops");
    s->fit.w[3] = OPT("w_latency");
    s->fit.p = OPT("exponent");
    s->fit.cost = (lm__metric)(OPT("cost") + LM__METRIC_PARAMS);
    s->fit.target = OPT("target");
    s->fit.alpha = OPT("alpha");
    s->fit.beta = OPT("beta");
    s->lamarck = OPT("inheritance") != 0;
#undef OPT
}

static int evolution_create(const lm_search_params *p, lm_searcher **out) {
    LM_CHECK(p->max_trials >= 1 && p->max_trials <= LM__TRIALS_MAX, LM_ECONFIG,
             "evolution: max_trials must be 1 to %d, got %d", LM__TRIALS_MAX, p->max_trials);
    evolution *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->base.ops = &lm__evolution_ops;
    s->p = *p;
    lm__genome_hp(p->space, &s->g);
    read_options(s, &p->options);
    lm_rng_init(&s->rng, p->seed, 0, LM_STREAM_SEARCH);
    const lm_options *o = &p->options;
    int rc = !s->lamarck ? LM_OK
             : lm__lamarck_init(&s->inherit, "evolution", p->space,
                                (int)lm_options_get(o, evolution_options, "inherit_epochs"),
                                p->epochs, lm_options_get(o, evolution_options, "inherit_noise"),
                                lm_options_get(o, evolution_options, "inherit_shrink") != 0);
    if (rc == LM_OK) rc = reserve(s, s->P + 1);
    if (rc < 0) {
        evolution_destroy(&s->base);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    *out = &s->base;
    return LM_OK;
}

/* A position in pop[0..n) by the configured rule, never exclude. */
static int select_among(evolution *s, const lm__member *pop, int n, int exclude) {
    switch (s->selection) {
    case SEL_PROPORTIONAL: return lm__select_proportional(&s->rng, pop, n, exclude);
    case SEL_YOUNGEST: return lm__select_youngest(pop, n, exclude);
    default: return lm__select_tournament(&s->rng, pop, n, s->k, s->pressure, exclude);
    }
}

/* A parent's position by the configured rule, never exclude. */
static int select_parent(evolution *s, int exclude) {
    return select_among(s, s->pop, s->n_pop, exclude);
}

static int in_population(const evolution *s, const lm_trials *t, uint64_t h) {
    return s->n_pop > 0 &&
           lm__genome_hash_among(&s->g, t, &s->pop[0].id, s->n_pop, sizeof *s->pop, h);
}

/* One child of the population into x, with its lineage in *child (a pending trial's
 * fields: parent, origin, mutated, generation). */
static int breed(evolution *s, const lm_trials *t, double *x, lm_trial *child) {
    int tries = s->dedupe ? LM__DEDUPE_TRIES : 1;
    for (int attempt = 0; attempt < tries; attempt++) {
        int a = select_parent(s, -1), b = -1;
        LM_CALL(a);
        const double *ga = s->g.ops->of_trial(s->g.ctx, t, s->pop[a].id);
        if (s->n_pop >= 2 && s->p_cross > 0 && lm_rng_uniform(&s->rng) < s->p_cross) {
            b = select_parent(s, a);
            LM_CALL(b);
            s->g.ops->crossover(s->g.ctx, &s->rng, s->cross, ga,
                                s->g.ops->of_trial(s->g.ctx, t, s->pop[b].id), x);
        } else {
            memcpy(x, ga, (size_t)s->g.n * sizeof *x);
        }
        child->mutated = s->g.ops->mutate(s->g.ctx, &s->rng, s->sigma, s->rate, x);
        child->parent[0] = s->pop[a].id;
        child->parent[1] = b >= 0 ? s->pop[b].id : -1;
        child->origin = b >= 0 ? LM_ORIGIN_CROSSED_MUTATED : LM_ORIGIN_MUTATED;
        child->generation = t->v[s->pop[a].id].generation + 1;
        if (!s->dedupe || !in_population(s, t, s->g.ops->hash(s->g.ctx, x))) break;
    }
    return LM_OK;
}

/* ---- Lamarckian inheritance (inherit.c) ----
 * Every child is one Net2Net morph of a member whose state is kept; only when no
 * member can be such a parent does a child train from scratch. */

/* Breeds an inheriting child into *out (an LM_JOB_CLONE of its parent); *made 0 when
 * no population member has a kept state and a morph that applies (the caller then
 * breeds as without inheritance). */
static int lamarck_breed(evolution *s, lm_trials *t, lm_job *out, int *made) {
    *made = 0;
    double x[LM_HP_MAX], pick[LM_HP_MAX];
    lm_morph m, mk;
    uint64_t mutated = 0, mk_mutated = 0;
    int parent = -1;
    /* Selection runs among the members that can be parents (their state kept, a morph
     * that applies), so that a fittest member at its widest and deepest does not stop
     * inheritance. */
    lm__member *elig = malloc((size_t)s->n_pop * sizeof *elig);
    LM_CHECK_ALLOC(elig);
    int n_elig = 0;
    for (int i = 0; i < s->n_pop; i++)
        if (lm__lamarck_can_parent(&s->inherit, t, s->pop[i].id)) elig[n_elig++] = s->pop[i];
    for (int attempt = 0; n_elig > 0 && attempt < LM__DEDUPE_TRIES; attempt++) {
        int a = select_among(s, elig, n_elig, -1);
        if (a < 0) {
            free(elig);
            return lm_error_trace(__FILE__, __LINE__, __func__, a);
        }
        int id = elig[a].id;
        memcpy(x, t->v[id].hp, (size_t)s->g.n * sizeof *x);
        if (!lm__lamarck_propose(&s->inherit, &s->rng, x, &m, &mutated)) continue;
        memcpy(pick, x, sizeof pick);
        mk = m;
        mk_mutated = mutated;
        parent = id;
        if (!s->dedupe || !in_population(s, t, s->g.ops->hash(s->g.ctx, x))) break;
    }
    free(elig);
    if (parent < 0) return LM_OK;
    LM_CALL(lm__lamarck_issue(&s->inherit, &s->g, t, pick, parent, &mk, mk_mutated, out));
    *made = 1;
    return LM_OK;
}

static int check_ids(evolution *s, const lm_trials *t) {
    if (s->ids_checked) return LM_OK;
    for (int i = 0; i < s->n_pop; i++)
        LM_CHECK(s->pop[i].id < t->n, LM_ECKPT,
                 "evolution: the checkpoint's population names trial %d, but the table has %d "
                 "trials", s->pop[i].id, t->n);
    s->ids_checked = 1;
    return LM_OK;
}

static int evolution_next_job(lm_searcher *base, lm_trials *t, lm_job *out) {
    evolution *s = (evolution *)base;
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
    double x[LM_HP_MAX];
    lm_trial lineage;
    memset(&lineage, 0, sizeof lineage);
    lineage.parent[0] = lineage.parent[1] = -1;
    if (s->lamarck && s->issued >= s->P && s->n_pop > 0) {
        int made;
        LM_CALL(lamarck_breed(s, t, out, &made));
        if (made) {
            s->issued++;
            return LM_OK;
        }
        lm_log_debug("evolution: no population member has a kept state and a Net2Net morph; "
                     "breeding a child that trains from scratch");
    }
    if (s->issued < s->P || s->n_pop == 0) {
        lm_rng r;
        lm_rng_init(&r, s->p.seed, (uint64_t)t->n, LM_STREAM_SAMPLE);
        s->g.ops->sample(s->g.ctx, &r, x);
    } else {
        LM_CALL(breed(s, t, x, &lineage));
    }
    int id;
    LM_CALL(s->g.ops->add_trial(s->g.ctx, t, x, s->p.epochs, &id));
    lm_trial *tr = &t->v[id];
    tr->parent[0] = lineage.parent[0];
    tr->parent[1] = lineage.parent[1];
    tr->origin = lineage.origin;
    tr->mutated = lineage.mutated;
    tr->generation = lineage.generation;
    s->issued++;
    out->kind = LM_JOB_NEW;
    out->trial_id = id;
    out->epochs = s->p.epochs;
    return LM_OK;
}

static lm_decision evolution_on_report(lm_searcher *base, lm_trials *t, const lm_report *r) {
    evolution *s = (evolution *)base;
    lm_decision d = {LM_DECIDE_CONTINUE};
    const lm_trial *tr = lm_trials_get(t, r->trial_id);
    /* Lamarckian: a trial at its end keeps its state, so that it can be a parent. */
    if (s->lamarck && lm__lamarck_pause_due(tr, r)) d.kind = LM_DECIDE_PAUSE;
    return d;
}

static int snapshot(evolution *s, lm_trials *t) {
    if (s->n_pop == 0) return LM_OK;
    lm_pop_row *rows = malloc((size_t)s->n_pop * sizeof *rows);
    LM_CHECK_ALLOC(rows);
    for (int i = 0; i < s->n_pop; i++)
        rows[i] = (lm_pop_row){.trial_id = s->pop[i].id, .age = (int)s->pop[i].age, .front = -1,
                               .fitness = s->pop[i].fitness, .crowding = NAN};
    int rc = lm_trials_add_snapshot(t, (int)s->ended, rows, s->n_pop);
    free(rows);
    LM_CALL(rc);
    return LM_OK;
}

static int end_trial(evolution *s, lm_trials *t, int id) {
    const lm_trial *tr = &t->v[id];
    /* A trial kept at its end (Lamarckian) is finished: its fitness is a done trial's. */
    lm_trial view = *tr;
    if (lm__lamarck_kept(&view)) view.status = LM_TRIAL_DONE;
    double f = lm__fitness_of(&s->fit, &view);
    if (isnan(f)) {
        lm_log_debug("evolution: trial %d (%s) has no fitness; it does not join the population",
                     id, lm_trial_status_name(tr->status));
        lm__lamarck_release(t, id);
    } else {
        LM_CALL(reserve(s, s->n_pop + 1));
        s->pop[s->n_pop++] = (lm__member){.id = id, .age = s->births++, .fitness = f};
        while (s->n_pop > s->P) {
            int out = s->survivor == SURV_WORST ? lm__survivor_worst(s->pop, s->n_pop)
                                                : lm__survivor_oldest(s->pop, s->n_pop);
            LM_CALL(out);
            lm__lamarck_release(t, s->pop[out].id);
            /* Keep the join order: positions decide ties and draws. */
            memmove(s->pop + out, s->pop + out + 1, (size_t)(s->n_pop - out - 1) * sizeof *s->pop);
            s->n_pop--;
        }
    }
    int last = s->ended == s->issued && s->issued >= s->p.max_trials;
    if (s->ended % s->snapshot_every == 0 || last) LM_CALL(snapshot(s, t));
    if (last)
        for (int i = 0; i < s->n_pop; i++) lm__lamarck_release(t, s->pop[i].id);
    return LM_OK;
}

/* Errors here cannot be returned (on_end is void): the first one is kept and returned
 * by the next next_job or save. */
static void evolution_on_end(lm_searcher *base, lm_trials *t, int trial_id) {
    evolution *s = (evolution *)base;
    if (!lm_trials_get(t, trial_id)) {
        lm_log_warn("evolution: end of unknown trial %d ignored", trial_id);
        return;
    }
    s->ended++;
    int rc = end_trial(s, t, trial_id);
    if (rc < 0 && s->rc_deferred == LM_OK) {
        lm_log_error("evolution: after trial %d ended: %s", trial_id, lm_error_message());
        s->rc_deferred = rc;
    }
}

/* ---- save and load ---- */

/* The population is saved as columns; options come from the configuration on load,
 * so a resumed run may change them (a smaller population shrinks at the next end). */
static int evolution_save(const lm_searcher *base, lm_state_writer *w) {
    const evolution *s = (const evolution *)base;
    LM_CHECK(s->rc_deferred == LM_OK, s->rc_deferred,
             "evolution: not saving a state that an earlier error left inconsistent");
    LM_CALL(lm__searcher_save_header(base, s->g.n, w));
    LM_CALL(lm_state_put(w, "searcher/seed", LM_DT_U64, 1, &s->p.seed));
    LM_CALL(lm_state_put(w, "searcher/rng", LM_DT_U64, 4, s->rng.s));
    LM_CALL(lm_state_put_i64(w, "searcher/issued", s->issued));
    LM_CALL(lm_state_put_i64(w, "searcher/ended", s->ended));
    LM_CALL(lm_state_put_i64(w, "searcher/births", s->births));
    size_t n = (size_t)s->n_pop;
    int32_t *id = malloc((n ? n : 1) * sizeof *id);
    int64_t *age = malloc((n ? n : 1) * sizeof *age);
    double *fit = malloc((n ? n : 1) * sizeof *fit);
    int rc = LM_OK;
    if (!id || !age || !fit) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory saving");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        id[i] = s->pop[i].id;
        age[i] = s->pop[i].age;
        fit[i] = s->pop[i].fitness;
    }
    LM_CALL_GOTO(rc, lm_state_put(w, "searcher/pop_id", LM_DT_I32, n, id), out);
    LM_CALL_GOTO(rc, lm_state_put(w, "searcher/pop_age", LM_DT_I64, n, age), out);
    LM_CALL_GOTO(rc, lm_state_put(w, "searcher/pop_fitness", LM_DT_F64, n, fit), out);
out:
    free(id);
    free(age);
    free(fit);
    return rc;
}

static int load_population(evolution *s, lm_state_reader *r, int64_t births) {
    size_t n;
    LM_CALL(lm_state_len(r, "searcher/pop_id", LM_DT_I32, &n));
    LM_CHECK(n <= POP_MAX, LM_ECKPT,
             "checkpoint entry 'searcher/pop_id' holds %zu members, expected at most %d", n,
             POP_MAX);
    int32_t *id = malloc((n ? n : 1) * sizeof *id);
    int64_t *age = malloc((n ? n : 1) * sizeof *age);
    double *fit = malloc((n ? n : 1) * sizeof *fit);
    int rc = LM_OK;
    if (!id || !age || !fit) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory loading");
        goto out;
    }
    LM_CALL_GOTO(rc, lm_state_get(r, "searcher/pop_id", LM_DT_I32, n, id), out);
    LM_CALL_GOTO(rc, lm_state_get(r, "searcher/pop_age", LM_DT_I64, n, age), out);
    LM_CALL_GOTO(rc, lm_state_get(r, "searcher/pop_fitness", LM_DT_F64, n, fit), out);
    for (size_t i = 0; i < n; i++) {
        if (id[i] < 0 || id[i] >= LM__TRIALS_MAX || age[i] < 0 || age[i] >= births ||
            isnan(fit[i])) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                              "checkpoint entries 'searcher/pop_*': member %zu is trial %d of "
                              "age %lld and fitness %g; expected a trial id, an age below "
                              "births (%lld) and a number", i, (int)id[i], (long long)age[i],
                              fit[i], (long long)births);
            goto out;
        }
    }
    LM_CALL_GOTO(rc, reserve(s, (int)n + 1 > s->P + 1 ? (int)n + 1 : s->P + 1), out);
    for (size_t i = 0; i < n; i++)
        s->pop[i] = (lm__member){.id = id[i], .age = age[i], .fitness = fit[i]};
    s->n_pop = (int)n;
out:
    free(id);
    free(age);
    free(fit);
    return rc;
}

static int evolution_load(lm_searcher *base, lm_state_reader *r) {
    evolution *s = (evolution *)base;
    LM_CALL(lm__searcher_check_header(base, s->g.n, r));
    uint64_t seed;
    LM_CALL(lm_state_get(r, "searcher/seed", LM_DT_U64, 1, &seed));
    LM_CHECK(seed == s->p.seed, LM_ECKPT,
             "checkpoint entry 'searcher/seed' is %llu, but this run's seed is %llu",
             (unsigned long long)seed, (unsigned long long)s->p.seed);
    int64_t issued, ended, births;
    LM_CALL(lm__searcher_get_count(r, "searcher/issued", 0, LM__TRIALS_MAX, &issued));
    LM_CALL(lm__searcher_get_count(r, "searcher/ended", 0, issued, &ended));
    LM_CALL(lm__searcher_get_count(r, "searcher/births", 0, ended, &births));
    lm_rng rng;
    LM_CALL(lm_state_get(r, "searcher/rng", LM_DT_U64, 4, rng.s));
    LM_CALL(load_population(s, r, births));
    s->rng = rng;
    s->issued = issued;
    s->ended = ended;
    s->births = births;
    s->ids_checked = 0;
    s->rc_deferred = LM_OK;
    return LM_OK;
}

const lm_searcher_ops lm__evolution_ops = {
    .name = "evolution",
    .options = evolution_options,
    .create = evolution_create,
    .next_job = evolution_next_job,
    .on_report = evolution_on_report,
    .on_end = evolution_on_end,
    .save = evolution_save,
    .load = evolution_load,
    .destroy = evolution_destroy,
};
