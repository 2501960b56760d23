/* Bayesian optimization with a Gaussian-process surrogate (Snoek, Larochelle and
 * Adams 2012): the first `initial` trials are drawn from the prior like random search;
 * after that each new trial maximizes an acquisition function (EI, PI or UCB) of a GP
 * fitted to every finished trial's final validation accuracy.
 *
 * Objective. Maximized: a done, stopped or paused trial contributes its final
 * validation accuracy; a failed one (or one without an accuracy) counts as the worst
 * accuracy observed, so the model learns to avoid where trials fail.
 *
 * Asynchronous batches. Trials still pending or running enter the GP as fantasies:
 * by default the "kriging believer" (their posterior mean), or with fantasy: liar the
 * "constant liar" (the worst observed accuracy) (Ginsbourger, Le Riche and Carraro
 * 2010). Either way the variance collapses where a trial is already running, and the
 * incumbent EI must beat includes the fantasies, so P workers asking at once get P
 * different proposals.
 *
 * GP inputs. A point is encoded from the space's unit cube: floats and ints as their
 * unit coordinate (log scale where log), a categorical one-hot, and an inactive
 * conditional entry as -0.5 (one-hot: all zeros), half a unit away from any active
 * value so the kernel sees "inactive" as its own place. The acquisition is maximized
 * over the unit cube, each candidate snapped to a valid point first (lm_space_from_unit
 * and lm_space_repair), so integers and categories are proposed as they would be
 * drawn.
 *
 * Determinism. Trial k's random point and its acquisition search use the streams
 * (seed, k, LM_STREAM_SAMPLE) and (seed, k, LM_STREAM_SEARCH); a hyperparameter fit
 * over n observations uses (seed, 2^62 + n, LM_STREAM_SEARCH). The hyperparameters are
 * refitted whenever the number of observations has changed, starting from the last fit
 * (kept in the checkpoint with the counters), so a resumed run proposes exactly what
 * the uninterrupted one would have, given the same reports. */
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/search.h"
#include "lamarck/surrogate.h"
#include "search/bo_encode.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FIT_STREAM_BASE ((uint64_t)1 << 62)
#define N_SEEDS 3          /* best observations whose neighbourhoods the search samples */
#define INACTIVE (-0.5)    /* GP input of an inactive numeric hyperparameter */

enum { ACQ_EI, ACQ_PI, ACQ_UCB };
enum { KERNEL_MATERN52, KERNEL_RBF };
enum { FANTASY_BELIEVER, FANTASY_LIAR };

static const char *const acq_labels[] = {"ei", "pi", "ucb", NULL};
static const char *const kernel_labels[] = {"matern52", "rbf", NULL};
static const char *const fantasy_labels[] = {"believer", "liar", NULL};

static const lm_option_spec bo_options[] = {
    {"initial", LM_OPT_INT, 10, 1, 1e6, NULL, "random trials before the model proposes"},
    {"acquisition", LM_OPT_ENUM, ACQ_EI, 0, 0, acq_labels, "ei, pi or ucb"},
    {"xi", LM_OPT_REAL, 0.01, 0, 10, NULL,
     "EI and PI: improvement demanded, in standard deviations of the observed accuracies"},
    {"kappa", LM_OPT_REAL, 2.0, 0, 100, NULL, "UCB: standard deviations added to the mean"},
    {"kernel", LM_OPT_ENUM, KERNEL_MATERN52, 0, 0, kernel_labels, "matern52 or rbf (ARD)"},
    {"fantasy", LM_OPT_ENUM, FANTASY_BELIEVER, 0, 0, fantasy_labels,
     "running trials as their predicted mean (believer) or the worst accuracy (liar)"},
    {"restarts", LM_OPT_INT, 3, 0, 100, NULL, "random restarts of each hyperparameter fit"},
    {"candidates", LM_OPT_INT, 2000, 10, 1e6, NULL,
     "random candidates scored per proposal, before local refinement"},
    {0},
};

typedef struct bo_searcher {
    lm_searcher base;        /* first, so an lm_searcher * is a bo_searcher * */
    lm_search_params p;
    int n_hp, gp_dim;
    int initial, acq, kernel, fantasy, restarts, candidates;
    double xi, kappa;
    int64_t issued;          /* trials created so far */
    int64_t n_fit;           /* observations at the last hyperparameter fit (0: none yet) */
    int n_theta;
    double *theta;           /* hyperparameters of the last fit */
    int theta_loaded;        /* theta came from a checkpoint: the GP does not have it yet */
    lm_gp *gp;
} bo_searcher;

/* ---- encoding (shared with bohb.c through bo_encode.h) ---- */

int lm__bo_gp_dim(const lm_space *sp) {
    int d = 0;
    for (int i = 0; i < lm_space_size(sp); i++) {
        const lm_hp *h = lm_space_hp(sp, i);
        d += h->kind == LM_HP_CATEGORICAL ? h->n_choices : 1;
    }
    return d;
}

/* GP input of a repaired point x whose unit coordinates are u. */
static void features(const lm_space *sp, const double *x, const double *u, double *f) {
    int at = 0;
    for (int i = 0; i < lm_space_size(sp); i++) {
        const lm_hp *h = lm_space_hp(sp, i);
        int active = !isnan(x[i]);
        if (h->kind == LM_HP_CATEGORICAL) {
            for (int c = 0; c < h->n_choices; c++) f[at + c] = active && (int)x[i] == c;
            at += h->n_choices;
        } else {
            f[at++] = active ? u[i] : INACTIVE;
        }
    }
}

void lm__bo_encode_unit(const lm_space *sp, double *u, double *f) {
    double x[LM_HP_MAX];
    lm_space_from_unit(sp, u, x);
    lm_space_repair(sp, x);
    lm_space_to_unit(sp, x, u);
    features(sp, x, u, f);
}

void lm__bo_encode_point(const lm_space *sp, const double *hp, double *u, double *f) {
    double x[LM_HP_MAX];
    memcpy(x, hp, (size_t)lm_space_size(sp) * sizeof *x);
    lm_space_repair(sp, x);
    lm_space_to_unit(sp, x, u);
    features(sp, x, u, f);
}

/* The acquisition domain's encoder. */
static void encode(void *ctx, double *u, double *f) {
    const bo_searcher *s = ctx;
    lm__bo_encode_unit(s->p.space, u, f);
}

/* ---- creation ---- */

static int make_gp(bo_searcher *s) {
    lm_kernel *k;
    LM_CALL(lm_kernel_create(s->kernel == KERNEL_RBF ? LM_KERNEL_RBF : LM_KERNEL_MATERN52,
                             s->gp_dim, 1, &k));
    lm_gp_options o;
    lm_gp_options_default(&o);
    o.restarts = s->restarts;
    LM_CALL(lm_gp_create(s->gp_dim, k, &o, &s->gp));
    s->n_theta = lm_gp_n_params(s->gp);
    s->theta = malloc((size_t)s->n_theta * sizeof *s->theta);
    LM_CHECK_ALLOC(s->theta);
    lm_gp_get_params(s->gp, s->theta);
    return LM_OK;
}

static void bo_destroy(lm_searcher *base) {
    bo_searcher *s = (bo_searcher *)base;
    lm_gp_destroy(&s->gp);
    free(s->theta);
    free(s);
}

static int bo_create(const lm_search_params *p, lm_searcher **out) {
    LM_CHECK(p->max_trials >= 1 && p->max_trials <= LM__TRIALS_MAX, LM_ECONFIG,
             "bo: max_trials must be 1 to %d, got %d", LM__TRIALS_MAX, p->max_trials);
    int n_hp = lm_space_size(p->space);
    LM_CHECK(n_hp >= 1, LM_ECONFIG, "bo: the space has no hyperparameters to optimize");
    int gp_dim = lm__bo_gp_dim(p->space);
    LM_CHECK(gp_dim <= LM_GP_DIM_MAX, LM_ECONFIG,
             "bo: the space encodes to %d GP inputs (categoricals one-hot), more than %d",
             gp_dim, LM_GP_DIM_MAX);
    bo_searcher *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->base.ops = &lm__bo_ops;
    s->p = *p;
    s->n_hp = n_hp;
    s->gp_dim = gp_dim;
    const lm_options *o = &p->options;
    s->initial = (int)lm_options_get(o, bo_options, "initial");
    s->acq = (int)lm_options_get(o, bo_options, "acquisition");
    s->xi = lm_options_get(o, bo_options, "xi");
    s->kappa = lm_options_get(o, bo_options, "kappa");
    s->kernel = (int)lm_options_get(o, bo_options, "kernel");
    s->fantasy = (int)lm_options_get(o, bo_options, "fantasy");
    s->restarts = (int)lm_options_get(o, bo_options, "restarts");
    s->candidates = (int)lm_options_get(o, bo_options, "candidates");
    int rc = make_gp(s);
    if (rc < 0) {
        bo_destroy(&s->base);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    *out = &s->base;
    return LM_OK;
}

/* ---- observations ---- */

typedef struct observed {
    int n_obs, n_ok, n_pending;
    double *X, *y, *U;  /* n_obs x gp_dim, n_obs, n_obs x n_hp */
    double *Xp;         /* n_pending x gp_dim */
    double worst, best;
    int best_k[N_SEEDS], n_best;
} observed;

static void observed_free(observed *ob) {
    free(ob->X);
    free(ob->y);
    free(ob->U);
    free(ob->Xp);
}

static int has_value(const lm_trial *tr) {
    return (tr->status == LM_TRIAL_DONE || tr->status == LM_TRIAL_STOPPED ||
            tr->status == LM_TRIAL_PAUSED) &&
           isfinite(tr->final_val_accuracy);
}

/* Encodes every finished trial (failed ones at the worst accuracy) and every pending
 * or running one. */
static int collect(const bo_searcher *s, const lm_trials *t, observed *ob) {
    memset(ob, 0, sizeof *ob);
    int n = t->n;
    ob->X = malloc(((size_t)n * s->gp_dim + 1) * sizeof *ob->X);
    ob->y = malloc(((size_t)n + 1) * sizeof *ob->y);
    ob->U = malloc(((size_t)n * s->n_hp + 1) * sizeof *ob->U);
    ob->Xp = malloc(((size_t)n * s->gp_dim + 1) * sizeof *ob->Xp);
    if (!ob->X || !ob->y || !ob->U || !ob->Xp) {
        observed_free(ob);
        LM_FAIL(LM_ENOMEM, "bo: out of memory encoding %d trials", n);
    }
    ob->worst = INFINITY;
    ob->best = -INFINITY;
    for (int i = 0; i < n; i++) {
        const lm_trial *tr = &t->v[i];
        if (has_value(tr)) {
            ob->n_ok++;
            if (tr->final_val_accuracy < ob->worst) ob->worst = tr->final_val_accuracy;
            if (tr->final_val_accuracy > ob->best) ob->best = tr->final_val_accuracy;
        }
    }
    /* With nothing observed yet, a failure is an accuracy of 0. */
    if (!ob->n_ok) ob->worst = 0.0;
    for (int i = 0; i < n; i++) {
        const lm_trial *tr = &t->v[i];
        double u[LM_HP_MAX];
        if (tr->status == LM_TRIAL_PENDING || tr->status == LM_TRIAL_RUNNING) {
            double *f = ob->Xp + (size_t)ob->n_pending++ * s->gp_dim;
            lm__bo_encode_point(s->p.space, tr->hp, u, f);
            continue;
        }
        int k = ob->n_obs++;
        lm__bo_encode_point(s->p.space, tr->hp, ob->U + (size_t)k * s->n_hp,
                            ob->X + (size_t)k * s->gp_dim);
        ob->y[k] = has_value(tr) ? tr->final_val_accuracy : ob->worst;
    }
    /* The N_SEEDS best observations (ties to the earlier trial). */
    for (int q = 0; q < N_SEEDS && q < ob->n_obs; q++) {
        int arg = -1;
        for (int k = 0; k < ob->n_obs; k++) {
            int taken = 0;
            for (int j = 0; j < ob->n_best; j++) taken |= ob->best_k[j] == k;
            if (!taken && (arg < 0 || ob->y[k] > ob->y[arg])) arg = k;
        }
        ob->best_k[ob->n_best++] = arg;
    }
    return LM_OK;
}

/* ---- proposal ---- */

/* Fits the GP to the observations (hyperparameters refitted when their number
 * changed), adds the pending trials as fantasies, maximizes the acquisition from
 * trial k's stream, and writes the proposed point into x. */
static int propose(bo_searcher *s, const observed *ob, int k, double *x) {
    lm_gp *gp = s->gp;
    if (s->theta_loaded) {
        LM_CALL(lm_gp_set_params(gp, s->theta));
        s->theta_loaded = 0;
    }
    if (ob->n_obs != s->n_fit) {
        lm_rng fit_rng;
        lm_rng_init(&fit_rng, s->p.seed, FIT_STREAM_BASE + (uint64_t)ob->n_obs, LM_STREAM_SEARCH);
        LM_CALL(lm_gp_fit_data(gp, ob->n_obs, ob->X, ob->y, &fit_rng));
        lm_gp_get_params(gp, s->theta);
        s->n_fit = ob->n_obs;
    } else {
        LM_CALL(lm_gp_set_data(gp, ob->n_obs, ob->X, ob->y));
    }
    double y_scale = lm_gp_y_scale(gp), best = ob->best;
    if (ob->n_pending > 0) {
        double *yf = malloc((size_t)ob->n_pending * sizeof *yf);
        LM_CHECK_ALLOC(yf);
        int rc = LM_OK;
        if (s->fantasy == FANTASY_LIAR)
            for (int i = 0; i < ob->n_pending; i++) yf[i] = ob->worst;
        else
            rc = lm_gp_predict(gp, ob->n_pending, ob->Xp, yf, NULL);
        if (rc == LM_OK) rc = lm_gp_condition(gp, ob->n_pending, ob->Xp, yf);
        /* The fantasies count as observations for the incumbent too (Ginsbourger et al.
         * 2010): a believer's mean above the best accuracy would otherwise leave EI at
         * its own point as large as before, and the next worker get the same point. */
        for (int i = 0; rc == LM_OK && i < ob->n_pending; i++)
            if (yf[i] > best) best = yf[i];
        free(yf);
        LM_CALL(rc);
    }
    lm_acq a = {.best = best, .xi = s->xi * y_scale, .kappa = s->kappa};
    a.kind = s->acq == ACQ_PI ? LM_ACQ_PI : s->acq == ACQ_UCB ? LM_ACQ_UCB : LM_ACQ_EI;
    lm_acq_domain d = {.dim = s->n_hp, .encode = encode, .ctx = s};
    lm_acq_search search;
    lm_acq_search_default(&search);
    search.candidates = s->candidates;
    double seeds[N_SEEDS * LM_HP_MAX], u[LM_HP_MAX];
    for (int q = 0; q < ob->n_best; q++)
        memcpy(seeds + (size_t)q * s->n_hp, ob->U + (size_t)ob->best_k[q] * s->n_hp,
               (size_t)s->n_hp * sizeof *seeds);
    lm_rng rng;
    lm_rng_init(&rng, s->p.seed, (uint64_t)k, LM_STREAM_SEARCH);
    LM_CALL(lm_acq_maximize(gp, &a, &d, &search, ob->n_best, seeds, &rng, u, NULL));
    lm_space_from_unit(s->p.space, u, x);
    lm_space_repair(s->p.space, x);
    return LM_OK;
}

/* A random point while fewer than `initial` trials were created or fewer than two
 * have a value; then the model's proposal. A model that cannot be fitted (its
 * covariance singular even with jitter) is logged and the trial drawn at random,
 * rather than ending a long run. */
static int bo_next_job(lm_searcher *base, lm_trials *t, lm_job *out) {
    bo_searcher *s = (bo_searcher *)base;
    LM_CALL(lm__searcher_check_table(base, t, s->n_hp));
    out->trial_id = -1;
    out->epochs = 0;
    if (s->issued >= s->p.max_trials) {
        out->kind = LM_JOB_DONE;
        return LM_OK;
    }
    int k = t->n;
    double x[LM_HP_MAX];
    int modelled = 0;
    if (s->issued >= s->initial) {
        observed ob;
        LM_CALL(collect(s, t, &ob));
        int rc = LM_OK;
        if (ob.n_ok >= 2) {
            rc = propose(s, &ob, k, x);
            modelled = rc == LM_OK;
        }
        observed_free(&ob);
        if (rc == LM_ERANGE) {
            lm_log_warn("bo: no model for trial %d (%s); drawing it at random", k,
                        lm_error_message());
            lm_error_clear();
        } else if (rc < 0) {
            return lm_error_trace(__FILE__, __LINE__, __func__, rc);
        }
    }
    if (!modelled) {
        lm_rng rng;
        lm_rng_init(&rng, s->p.seed, (uint64_t)k, LM_STREAM_SAMPLE);
        lm_space_sample(s->p.space, &rng, x);
    }
    int id;
    LM_CALL(lm_trials_add(t, x, s->p.epochs, &id));
    LM_CHECK(id == k, LM_EINTERNAL, "bo: trial table gave id %d, expected %d", id, k);
    s->issued++;
    out->kind = LM_JOB_NEW;
    out->trial_id = id;
    out->epochs = s->p.epochs;
    return LM_OK;
}

static lm_decision bo_on_report(lm_searcher *base, lm_trials *t, const lm_report *r) {
    (void)base;
    (void)t;
    (void)r;
    lm_decision d = {LM_DECIDE_CONTINUE};
    return d;
}

/* The observations live in the trial table; nothing to do here. */
static void bo_on_end(lm_searcher *base, lm_trials *t, int trial_id) {
    (void)base;
    (void)t;
    (void)trial_id;
}

/* ---- checkpoint ---- */

/* Saves the header, the seed, the counters, the kernel and the last fitted
 * hyperparameters; max_trials and epochs are saved for the record (a resumed run takes
 * them from its configuration, so it may be given more trials). */
static int bo_save(const lm_searcher *base, lm_state_writer *w) {
    const bo_searcher *s = (const bo_searcher *)base;
    LM_CALL(lm__searcher_save_header(base, s->n_hp, w));
    LM_CALL(lm_state_put(w, "searcher/seed", LM_DT_U64, 1, &s->p.seed));
    LM_CALL(lm_state_put_i64(w, "searcher/issued", s->issued));
    LM_CALL(lm_state_put_i64(w, "searcher/n_fit", s->n_fit));
    LM_CALL(lm_state_put_str(w, "searcher/kernel", kernel_labels[s->kernel]));
    LM_CALL(lm_state_put(w, "searcher/theta", LM_DT_F64, (size_t)s->n_theta, s->theta));
    LM_CALL(lm_state_put_i64(w, "searcher/max_trials", s->p.max_trials));
    LM_CALL(lm_state_put_i64(w, "searcher/epochs", s->p.epochs));
    return LM_OK;
}

static int bo_load(lm_searcher *base, lm_state_reader *r) {
    bo_searcher *s = (bo_searcher *)base;
    LM_CALL(lm__searcher_check_header(base, s->n_hp, r));
    uint64_t seed;
    LM_CALL(lm_state_get(r, "searcher/seed", LM_DT_U64, 1, &seed));
    LM_CHECK(seed == s->p.seed, LM_ECKPT,
             "checkpoint entry 'searcher/seed' is %llu, but this run's seed is %llu",
             (unsigned long long)seed, (unsigned long long)s->p.seed);
    char kernel[32];
    LM_CALL(lm_state_get_str(r, "searcher/kernel", kernel, sizeof kernel));
    LM_CHECK(!strcmp(kernel, kernel_labels[s->kernel]), LM_ECKPT,
             "checkpoint entry 'searcher/kernel' is '%s', but this run's kernel is '%s'", kernel,
             kernel_labels[s->kernel]);
    int64_t issued, n_fit;
    LM_CALL(lm__searcher_get_count(r, "searcher/issued", 0, LM__TRIALS_MAX, &issued));
    LM_CALL(lm__searcher_get_count(r, "searcher/n_fit", 0, issued, &n_fit));
    size_t len;
    LM_CALL(lm_state_len(r, "searcher/theta", LM_DT_F64, &len));
    LM_CHECK(len == (size_t)s->n_theta, LM_ECKPT,
             "checkpoint entry 'searcher/theta' has %zu hyperparameters, but this run's GP has %d",
             len, s->n_theta);
    double *theta = malloc(len * sizeof *theta);
    LM_CHECK_ALLOC(theta);
    int rc = lm_state_get(r, "searcher/theta", LM_DT_F64, len, theta);
    for (size_t i = 0; rc == LM_OK && i < len; i++)
        if (!isfinite(theta[i]))
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                              "checkpoint entry 'searcher/theta'[%zu] is not finite", i);
    if (rc == LM_OK) {
        memcpy(s->theta, theta, len * sizeof *theta);
        s->issued = issued;
        s->n_fit = n_fit;
        s->theta_loaded = 1;
    }
    free(theta);
    return rc < 0 ? lm_error_trace(__FILE__, __LINE__, __func__, rc) : LM_OK;
}

const lm_searcher_ops lm__bo_ops = {
    .name = "bo",
    .options = bo_options,
    .create = bo_create,
    .next_job = bo_next_job,
    .on_report = bo_on_report,
    .on_end = bo_on_end,
    .save = bo_save,
    .load = bo_load,
    .destroy = bo_destroy,
};
