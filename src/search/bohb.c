/* BOHB-style model-based Hyperband (after Falkner, Klein and Hutter 2018): Hyperband
 * decides budgets, promotions and pauses exactly as the "hyperband" searcher does; only
 * the points of its new configurations come from a model once there is data for one.
 *
 * The model. Where BOHB fits kernel density estimates at the largest budget with
 * enough observations, this uses the multi-fidelity GP over (configuration, epoch)
 * (lm_curve_gp): every learning-curve point of every trial informs it, and the point
 * proposed maximizes expected improvement of the predicted accuracy at the full budget
 * R over the best predicted final accuracy of the configurations seen so far. Trials
 * pending or running enter as fantasies at R (their predicted final accuracy, the
 * kriging believer), so concurrent proposals differ. A failed trial adds one point at
 * the epoch it failed in, at the worst accuracy observed.
 *
 * As in BOHB, a fraction of new configurations (random_fraction, default 1/3) keeps
 * its random point, which keeps Hyperband's guarantees; the model is used only once
 * min_configs configurations have curve points (default: GP inputs + 1, BOHB's
 * N_min = d + 1).
 *
 * Mechanics. An inner "hyperband" searcher does the scheduling; when it creates a new
 * trial (with a random point from the stream (seed, id, LM_STREAM_SAMPLE)), this
 * searcher overwrites the point in the trial table before handing the job out. The
 * coin and the acquisition search of trial id use the stream (seed, id,
 * LM_STREAM_SEARCH). The checkpoint holds the inner searcher's state under
 * "searcher/kind" = "bohb", the model's last hyperparameters, and whether they were
 * set, so a resumed run proposes what the uninterrupted one would have. */
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/search.h"
#include "lamarck/surrogate.h"
#include "search/bo_encode.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N_SEEDS 3
#define KIND_ENTRY "searcher/kind"

static const char *const rounding_labels[] = {"algorithm", "table", NULL};

static const lm_option_spec bohb_options[] = {
    {"eta", LM_OPT_INT, 3, 2, 100, NULL,
     "halving rate: each rung keeps the best 1/eta of the one below, trained eta times longer"},
    {"rounding", LM_OPT_ENUM, 0, 0, 0, rounding_labels,
     "bracket sizes: 'algorithm' (Algorithm 1, ceil) or 'table' (the paper's Table 1)"},
    {"random_fraction", LM_OPT_REAL, 1.0 / 3.0, 0, 1, NULL,
     "share of new configurations drawn at random rather than from the model"},
    {"min_configs", LM_OPT_INT, 0, 0, 1e6, NULL,
     "configurations with curve points before the model proposes (0: GP inputs + 1)"},
    {"points_per_curve", LM_OPT_INT, 3, 1, 1000, NULL,
     "last points of each learning curve the model uses"},
    {"xi", LM_OPT_REAL, 0.01, 0, 10, NULL,
     "improvement demanded, in standard deviations of the observed accuracies"},
    {"candidates", LM_OPT_INT, 1000, 10, 1e6, NULL, "random candidates scored per proposal"},
    {"restarts", LM_OPT_INT, 3, 0, 100, NULL, "random restarts of each hyperparameter fit"},
    {0},
};

typedef struct bohb_searcher {
    lm_searcher base;        /* first, so an lm_searcher * is a bohb_searcher * */
    lm_search_params p;
    lm_searcher *inner;      /* hyperband */
    int n_hp, gp_dim;
    double random_fraction, xi;
    int min_configs, points_per_curve, candidates;
    lm_curve_gp *model;
    int n_theta;
    double *theta;           /* the model's hyperparameters after its last fit */
    int fitted;              /* theta is from a fit (else the defaults) */
    int theta_loaded;        /* theta came from a checkpoint: the model does not have it yet */
} bohb_searcher;

static void bohb_destroy(lm_searcher *base) {
    bohb_searcher *s = (bohb_searcher *)base;
    lm_searcher_destroy(&s->inner);
    lm_curve_gp_destroy(&s->model);
    free(s->theta);
    free(s);
}

static int bohb_create(const lm_search_params *p, lm_searcher **out) {
    int n_hp = lm_space_size(p->space);
    LM_CHECK(n_hp >= 1, LM_ECONFIG, "bohb: the space has no hyperparameters to optimize");
    int gp_dim = lm__bo_gp_dim(p->space);
    LM_CHECK(gp_dim + 1 <= LM_GP_DIM_MAX, LM_ECONFIG,
             "bohb: the space encodes to %d GP inputs (categoricals one-hot), more than %d",
             gp_dim, LM_GP_DIM_MAX - 1);
    LM_CHECK(p->epochs >= 2, LM_ECONFIG, "bohb: epochs must be >= 2 (got %d)", p->epochs);
    bohb_searcher *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->base.ops = &lm__bohb_ops;
    s->p = *p;
    s->n_hp = n_hp;
    s->gp_dim = gp_dim;
    const lm_options *o = &p->options;
    s->random_fraction = lm_options_get(o, bohb_options, "random_fraction");
    s->xi = lm_options_get(o, bohb_options, "xi");
    s->min_configs = (int)lm_options_get(o, bohb_options, "min_configs");
    if (s->min_configs == 0) s->min_configs = gp_dim + 1;
    s->points_per_curve = (int)lm_options_get(o, bohb_options, "points_per_curve");
    s->candidates = (int)lm_options_get(o, bohb_options, "candidates");
    /* The inner hyperband gets its own two options. */
    lm_search_params ip = *p;
    memset(&ip.options, 0, sizeof ip.options);
    const lm_option_spec *hs = lm__hyperband_ops.options;
    int rc = lm_options_set(&ip.options, hs, "eta", lm_options_get(o, bohb_options, "eta"), NULL);
    if (rc == LM_OK)
        rc = lm_options_set(&ip.options, hs, "rounding", 0,
                            rounding_labels[(int)lm_options_get(o, bohb_options, "rounding")]);
    if (rc == LM_OK) rc = lm__hyperband_ops.create(&ip, &s->inner);
    lm_gp_options go;
    lm_gp_options_default(&go);
    go.restarts = (int)lm_options_get(o, bohb_options, "restarts");
    if (rc == LM_OK) rc = lm_curve_gp_create(gp_dim, p->epochs, &go, &s->model);
    if (rc == LM_OK) {
        const lm_gp *gp = lm_curve_gp_model(s->model);
        s->n_theta = lm_gp_n_params(gp);
        s->theta = malloc((size_t)s->n_theta * sizeof *s->theta);
        if (!s->theta) rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        else lm_gp_get_params(gp, s->theta);
    }
    if (rc < 0) {
        bohb_destroy(&s->base);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    *out = &s->base;
    return LM_OK;
}

/* ---- the model ---- */

typedef struct curve_data {
    int n, n_configs, n_pending;
    double *X;          /* n x gp_dim */
    int *epoch;
    double *acc;
    double *Xc;         /* n_configs x gp_dim: configurations with points */
    double *Uc;         /* n_configs x n_hp */
    double *Xp;         /* n_pending x gp_dim */
} curve_data;

static void curve_data_free(curve_data *c) {
    free(c->X);
    free(c->epoch);
    free(c->acc);
    free(c->Xc);
    free(c->Uc);
    free(c->Xp);
}

/* Every curve point of every trial but skip, failures at the worst accuracy, and the
 * pending or running trials (but skip) without a point yet as fantasies. */
static int collect(const bohb_searcher *s, const lm_trials *t, int skip, curve_data *c) {
    memset(c, 0, sizeof *c);
    size_t cap = t->n_curves + (size_t)t->n + 1;
    int d = s->gp_dim;
    c->X = malloc(cap * (size_t)d * sizeof *c->X);
    c->epoch = malloc(cap * sizeof *c->epoch);
    c->acc = malloc(cap * sizeof *c->acc);
    c->Xc = malloc(((size_t)t->n + 1) * (size_t)d * sizeof *c->Xc);
    c->Uc = malloc(((size_t)t->n + 1) * (size_t)s->n_hp * sizeof *c->Uc);
    c->Xp = malloc(((size_t)t->n + 1) * (size_t)d * sizeof *c->Xp);
    int *has = calloc((size_t)t->n + 1, sizeof *has);
    if (!c->X || !c->epoch || !c->acc || !c->Xc || !c->Uc || !c->Xp || !has) {
        free(has);
        curve_data_free(c);
        LM_FAIL(LM_ENOMEM, "bohb: out of memory collecting %zu curve points", t->n_curves);
    }
    double worst = INFINITY, u[LM_HP_MAX];
    for (size_t k = 0; k < t->n_curves; k++) {
        const lm_curve_row *r = &t->curves[k];
        if (r->trial_id == skip || !isfinite(r->val_accuracy) || r->trial_id < 0 ||
            r->trial_id >= t->n || r->epoch < 1 || r->epoch > s->p.epochs)
            continue;
        if (r->val_accuracy < worst) worst = r->val_accuracy;
        lm__bo_encode_point(s->p.space, t->v[r->trial_id].hp, u, c->X + (size_t)c->n * d);
        c->epoch[c->n] = r->epoch;
        c->acc[c->n++] = r->val_accuracy;
        has[r->trial_id] = 1;
    }
    if (!isfinite(worst)) worst = 0.0;
    for (int i = 0; i < t->n; i++) {
        const lm_trial *tr = &t->v[i];
        if (i == skip) continue;
        if (tr->status == LM_TRIAL_FAILED) {
            int e = tr->epochs + 1 < s->p.epochs ? tr->epochs + 1 : s->p.epochs;
            lm__bo_encode_point(s->p.space, tr->hp, u, c->X + (size_t)c->n * d);
            c->epoch[c->n] = e;
            c->acc[c->n++] = worst;
            has[i] = 1;
        }
        if (has[i]) {
            lm__bo_encode_point(s->p.space, tr->hp, c->Uc + (size_t)c->n_configs * s->n_hp,
                                c->Xc + (size_t)c->n_configs * d);
            c->n_configs++;
        } else if (tr->status == LM_TRIAL_PENDING || tr->status == LM_TRIAL_RUNNING) {
            lm__bo_encode_point(s->p.space, tr->hp, u, c->Xp + (size_t)c->n_pending++ * d);
        }
    }
    free(has);
    return LM_OK;
}

typedef struct domain_ctx {
    const lm_space *space;
    int gp_dim;
} domain_ctx;

/* GP input at t = 1 (the full budget) of unit coordinates u. */
static void encode_final(void *vctx, double *u, double *f) {
    const domain_ctx *ctx = vctx;
    lm__bo_encode_unit(ctx->space, u, f);
    f[ctx->gp_dim] = 1.0;
}

/* Fits the model, adds fantasies, and maximizes EI of the final accuracy for trial
 * id; writes the point into x. Returns 1 (x untouched) when there is too little data. */
static int propose(bohb_searcher *s, const lm_trials *t, int id, lm_rng *rng, double *x) {
    curve_data c;
    LM_CALL(collect(s, t, id, &c));
    int rc = LM_OK, d = s->gp_dim;
    double *mu = NULL, *Xf = NULL;
    if (c.n_configs < s->min_configs || c.n < 2) {
        rc = 1;
        goto out;
    }
    lm_gp *gp = lm_curve_gp_model(s->model);
    if (s->theta_loaded) {
        LM_CALL_GOTO(rc, lm_gp_set_params(gp, s->theta), out);
        s->theta_loaded = 0;
    }
    LM_CALL_GOTO(rc, lm_curve_gp_fit(s->model, c.n, c.X, c.epoch, c.acc, s->points_per_curve, rng),
                 out);
    lm_gp_get_params(gp, s->theta);
    s->fitted = 1;
    /* The incumbent: the best predicted final accuracy among the configurations seen. */
    mu = malloc(((size_t)c.n_configs + (size_t)c.n_pending + 1) * sizeof *mu);
    Xf = malloc(((size_t)c.n_pending + 1) * (size_t)(d + 1) * sizeof *Xf);
    if (!mu || !Xf) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto out;
    }
    LM_CALL_GOTO(rc, lm_curve_gp_predict_final(s->model, c.n_configs, c.Xc, mu, NULL), out);
    int order[N_SEEDS], n_best = 0;
    double best = -INFINITY;
    for (int q = 0; q < N_SEEDS && q < c.n_configs; q++) {
        int arg = -1;
        for (int k = 0; k < c.n_configs; k++) {
            int taken = 0;
            for (int j = 0; j < n_best; j++) taken |= order[j] == k;
            if (!taken && (arg < 0 || mu[k] > mu[arg])) arg = k;
        }
        order[n_best++] = arg;
        if (mu[arg] > best) best = mu[arg];
    }
    if (c.n_pending > 0) {
        double *yf = mu + c.n_configs;
        LM_CALL_GOTO(rc, lm_curve_gp_predict_final(s->model, c.n_pending, c.Xp, yf, NULL), out);
        for (int i = 0; i < c.n_pending; i++) {
            memcpy(Xf + (size_t)i * (d + 1), c.Xp + (size_t)i * d, (size_t)d * sizeof *Xf);
            Xf[(size_t)i * (d + 1) + d] = 1.0;
        }
        LM_CALL_GOTO(rc, lm_gp_condition(gp, c.n_pending, Xf, yf), out);
        /* fantasies count for the incumbent as in bo.c */
        for (int i = 0; i < c.n_pending; i++)
            if (yf[i] > best) best = yf[i];
    }
    double seeds[N_SEEDS * LM_HP_MAX], u[LM_HP_MAX];
    for (int q = 0; q < n_best; q++)
        memcpy(seeds + (size_t)q * s->n_hp, c.Uc + (size_t)order[q] * s->n_hp,
               (size_t)s->n_hp * sizeof *seeds);
    lm_acq a = {LM_ACQ_EI, .best = best, .xi = s->xi * lm_gp_y_scale(gp)};
    domain_ctx dctx = {s->p.space, d};
    lm_acq_domain dom = {.dim = s->n_hp, .encode = encode_final, .ctx = &dctx};
    lm_acq_search search;
    lm_acq_search_default(&search);
    search.candidates = s->candidates;
    LM_CALL_GOTO(rc, lm_acq_maximize(gp, &a, &dom, &search, n_best, seeds, rng, u, NULL), out);
    lm_space_from_unit(s->p.space, u, x);
    lm_space_repair(s->p.space, x);
out:
    free(mu);
    free(Xf);
    curve_data_free(&c);
    return rc;
}

/* ---- the searcher ---- */

/* Hyperband's job; a new configuration's point replaced by the model's proposal. */
static int bohb_next_job(lm_searcher *base, lm_trials *t, lm_job *out) {
    bohb_searcher *s = (bohb_searcher *)base;
    LM_CALL(s->inner->ops->next_job(s->inner, t, out));
    if (out->kind != LM_JOB_NEW) return LM_OK;
    lm_trial *tr = lm_trials_get(t, out->trial_id);
    LM_CHECK(tr, LM_EINTERNAL, "bohb: hyperband issued unknown trial %d", out->trial_id);
    lm_rng rng;
    lm_rng_init(&rng, s->p.seed, (uint64_t)out->trial_id, LM_STREAM_SEARCH);
    if (lm_rng_uniform(&rng) < s->random_fraction) return LM_OK;
    double x[LM_HP_MAX];
    int rc = propose(s, t, out->trial_id, &rng, x);
    if (rc == LM_ERANGE) {
        lm_log_warn("bohb: no model for trial %d (%s); keeping its random point", out->trial_id,
                    lm_error_message());
        lm_error_clear();
        return LM_OK;
    }
    if (rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    if (rc == 0) memcpy(tr->hp, x, (size_t)s->n_hp * sizeof *x);
    return LM_OK;
}

static lm_decision bohb_on_report(lm_searcher *base, lm_trials *t, const lm_report *r) {
    bohb_searcher *s = (bohb_searcher *)base;
    return s->inner->ops->on_report(s->inner, t, r);
}

static void bohb_on_end(lm_searcher *base, lm_trials *t, int trial_id) {
    bohb_searcher *s = (bohb_searcher *)base;
    s->inner->ops->on_end(s->inner, t, trial_id);
}

/* ---- checkpoint: the inner state, stored under kind "bohb" ---- */

typedef struct relabel {
    lm_state_writer *w;
    lm_state_reader *r;
    const char *outer, *inner;   /* the kind as stored, the kind hyperband expects */
} relabel;

static int relabel_put(void *ctx, const char *name, lm_dtype t, size_t n, const void *data) {
    relabel *rl = ctx;
    if (!strcmp(name, KIND_ENTRY)) return lm_state_put_str(rl->w, name, rl->outer);
    return lm_state_put(rl->w, name, t, n, data);
}

static int relabel_info(void *ctx, const char *name, lm_dtype *t, size_t *n) {
    relabel *rl = ctx;
    if (!strcmp(name, KIND_ENTRY)) {
        *t = LM_DT_STR;
        *n = strlen(rl->inner);
        return LM_OK;
    }
    return rl->r->info(rl->r->ctx, name, t, n);
}

static int relabel_get(void *ctx, const char *name, lm_dtype t, size_t n, void *out) {
    relabel *rl = ctx;
    if (!strcmp(name, KIND_ENTRY)) {
        LM_CHECK(t == LM_DT_STR && n == strlen(rl->inner), LM_ECKPT,
                 "checkpoint entry '%s': unexpected read", name);
        memcpy(out, rl->inner, n);
        return LM_OK;
    }
    return rl->r->get(rl->r->ctx, name, t, n, out);
}

static int bohb_save(const lm_searcher *base, lm_state_writer *w) {
    const bohb_searcher *s = (const bohb_searcher *)base;
    relabel rl = {.w = w, .outer = s->base.ops->name};
    lm_state_writer iw = {&rl, relabel_put};
    LM_CALL(s->inner->ops->save(s->inner, &iw));
    LM_CALL(lm_state_put_i64(w, "searcher/bohb_fitted", s->fitted));
    LM_CALL(lm_state_put(w, "searcher/bohb_theta", LM_DT_F64, (size_t)s->n_theta, s->theta));
    return LM_OK;
}

static int bohb_load(lm_searcher *base, lm_state_reader *r) {
    bohb_searcher *s = (bohb_searcher *)base;
    LM_CALL(lm__searcher_check_header(base, s->n_hp, r));
    relabel rl = {.r = r, .inner = s->inner->ops->name};
    lm_state_reader ir = {&rl, relabel_info, relabel_get};
    int64_t fitted;
    LM_CALL(lm__searcher_get_count(r, "searcher/bohb_fitted", 0, 1, &fitted));
    size_t len;
    LM_CALL(lm_state_len(r, "searcher/bohb_theta", LM_DT_F64, &len));
    LM_CHECK(len == (size_t)s->n_theta, LM_ECKPT,
             "checkpoint entry 'searcher/bohb_theta' has %zu hyperparameters, but this run's "
             "model has %d",
             len, s->n_theta);
    double *theta = malloc(len * sizeof *theta);
    LM_CHECK_ALLOC(theta);
    int rc = lm_state_get(r, "searcher/bohb_theta", LM_DT_F64, len, theta);
    for (size_t i = 0; rc == LM_OK && i < len; i++)
        if (!isfinite(theta[i]))
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                              "checkpoint entry 'searcher/bohb_theta'[%zu] is not finite", i);
    if (rc == LM_OK) rc = s->inner->ops->load(s->inner, &ir);
    if (rc == LM_OK) {
        memcpy(s->theta, theta, len * sizeof *theta);
        s->fitted = (int)fitted;
        s->theta_loaded = 1;
    }
    free(theta);
    return rc < 0 ? lm_error_trace(__FILE__, __LINE__, __func__, rc) : LM_OK;
}

const lm_searcher_ops lm__bohb_ops = {
    .name = "bohb",
    .options = bohb_options,
    .create = bohb_create,
    .next_job = bohb_next_job,
    .on_report = bohb_on_report,
    .on_end = bohb_on_end,
    .save = bohb_save,
    .load = bohb_load,
    .destroy = bohb_destroy,
};
