/* The "rank" stopping rule: early termination by LCRankNet (Wistuba and Pedapati 2020,
 * section 3.3): a running trial is stopped when p(m > m_max) <= delta, the model's
 * probability that it ends better than the best trial so far.
 *
 * The search module knows nothing of ranking models (rank depends on search, not the
 * reverse), so the rule reaches the registry through lm_stopper_register, and its
 * model and architecture encodings through the process-wide context that
 * lm_rank_stopper_register installs: stopper options are numbers only, and a model is
 * a file. Curves are taken in from the trial table incrementally, each row once, as
 * the other rules do. */
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/rank.h"
#include "lamarck/search.h"
#include "rank/rank_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS_MAX (1 << 20)
#define TRIALS_MAX (1 << 24)

static lm_rank_stopper_ctx ctx; /* lm_rank_stopper_register's copy */

/* The model of stopping.model (a run's), loaded by the first rule that needs it and
 * kept for the process's life; a later run naming another file replaces it. */
static lm_rank_model *loaded;
static char loaded_path[4096];

static int use_model_path(const char *path) {
    if (!loaded || strcmp(loaded_path, path) != 0) {
        lm_rank_model *m = NULL;
        int rc = lm_rank_load(path, &m);
        if (rc < 0) {
            char why[1024];
            snprintf(why, sizeof why, "%s", lm_error_message());
            LM_FAIL(rc == LM_ENOENT ? LM_ECONFIG : rc, "stopping.model: %s", why);
        }
        lm_rank_destroy(&loaded);
        loaded = m;
        snprintf(loaded_path, sizeof loaded_path, "%s", path);
    }
    /* A live run's dataset and architectures are none of the model's: the fallback
     * curve statistics, no encodings (the default model does not use them). */
    ctx = (lm_rank_stopper_ctx){loaded, -1, NULL, 0, -1};
    return LM_OK;
}

static const lm_option_spec rank_options[] = {
    {"delta", LM_OPT_REAL, 0.05, 0, 1, NULL,
     "stop a trial when the ranking model's probability that it beats the best so far is at "
     "most this"},
    {"grace_epochs", LM_OPT_INT, 1, 1, STEPS_MAX, NULL,
     "no trial is stopped before it has trained this many epochs"},
    {"min_trials", LM_OPT_INT, 3, 1, TRIALS_MAX, NULL,
     "no trial is stopped until this many other trials have reached its final epoch"},
    {0},
};

typedef struct rank_rule {
    lm_stopper base; /* first, so an lm_stopper * is a rank_rule * */
    double delta;
    int grace, min_trials;
    lm_curve_cache cc; /* the table's curves */
    float *mine, *best; /* the two curves compared, as the model takes them */
    int cap;
    int warned;
} rank_rule;

static const lm_stopper_ops rank_ops;

static int rank_create(const lm_options *o, lm_stopper **out) {
    *out = NULL;
    const char *path = lm_stopper_model_path();
    if (path) LM_CALL(use_model_path(path));
    LM_CHECK(ctx.model, LM_ECONFIG,
             "stopping rule 'rank' needs a ranking model: stopping.model, a file written by "
             "`lamarck rank train`");
    rank_rule *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->base.ops = &rank_ops;
    s->delta = lm_options_get(o, rank_options, "delta");
    s->grace = (int)lm_options_get(o, rank_options, "grace_epochs");
    s->min_trials = (int)lm_options_get(o, rank_options, "min_trials");
    *out = &s->base;
    return LM_OK;
}

/* The first n values of c as floats into *buf (grown to n). */
static int as_floats(rank_rule *s, const lm_curve *c, int n, float **buf) {
    if (s->cap < n) {
        float *a = realloc(s->mine, (size_t)n * sizeof *a);
        if (!a) return LM_ENOMEM;
        s->mine = a;
        float *b = realloc(s->best, (size_t)n * sizeof *b);
        if (!b) return LM_ENOMEM;
        s->best = b;
        s->cap = n;
    }
    for (int i = 0; i < n; i++) (*buf)[i] = (float)c->val[i];
    return LM_OK;
}

/* The encoding of trial id's architecture, or NULL (zeros) when its point names none. */
static const float *encoding_of(const lm_trials *t, int id) {
    if (!ctx.encodings || ctx.arch_hp < 0 || ctx.arch_hp >= t->n_hp || !t->v[id].hp) return NULL;
    double a = t->v[id].hp[ctx.arch_hp];
    if (!(a >= 0 && a < ctx.n_archs) || a != floor(a)) return NULL;
    return ctx.encodings + (size_t)a * (size_t)lm_rank_encoding_len(ctx.model);
}

static lm_decision rank_on_report(lm_stopper *base, const lm_trials *t, const lm_report *r) {
    rank_rule *s = (rank_rule *)base;
    lm_decision d = {LM_DECIDE_CONTINUE};
    if (!t || !ctx.model || lm_curve_cache_update(&s->cc, t) < 0) return d;
    const lm_curve *c = s->cc.c;
    int step = r->epoch, id = r->trial_id;
    if (step < s->grace || id < 0 || id >= s->cc.n || c[id].n < step) return d;
    int T = t->v[id].epochs_target;
    if (T <= step || step > lm_rank_epochs(ctx.model)) return d;
    int m = 0, best = -1;
    for (int j = 0; j < s->cc.n; j++) {
        if (j == id || c[j].n < T) continue;
        m++;
        if (best < 0 || c[j].val[T - 1] > c[best].val[T - 1]) best = j;
    }
    if (m < s->min_trials) return d;
    /* The model reads the first step values of both (the best one cut to step too). */
    if (as_floats(s, &c[id], step, &s->mine) < 0 || as_floats(s, &c[best], step, &s->best) < 0)
        return d;
    double p;
    /* Failing to score judges nothing, but says why once (a rule that never stops
     * anything silently would look like a cautious one). */
    if (lm_rank_prob_better(ctx.model, ctx.dataset, encoding_of(t, id), s->mine,
                            encoding_of(t, best), s->best, step, &p) < 0) {
        if (!s->warned) lm_log_warn("stopping rule rank cannot score trial %d: %s", id,
                                    lm_error_message());
        s->warned = 1;
        lm_error_clear();
        return d;
    }
    if (p <= s->delta) d.kind = LM_DECIDE_STOP;
    return d;
}

static int rank_save(const lm_stopper *base, lm_state_writer *w) {
    const rank_rule *s = (const rank_rule *)base;
    LM_CALL(lm_state_put_str(w, "stopper/kind", "rank"));
    LM_CALL(lm_state_put_f64(w, "stopper/delta", s->delta));
    LM_CALL(lm_state_put_i64(w, "stopper/grace_epochs", s->grace));
    LM_CALL(lm_state_put_i64(w, "stopper/min_trials", s->min_trials));
    return LM_OK;
}

static int rank_load(lm_stopper *base, lm_state_reader *r) {
    rank_rule *s = (rank_rule *)base;
    char kind[64];
    LM_CALL(lm_state_get_str(r, "stopper/kind", kind, sizeof kind));
    LM_CHECK(!strcmp(kind, "rank"), LM_ECKPT,
             "checkpoint entry 'stopper/kind' is '%s', but this run's stopping rule is 'rank'",
             kind);
    lm_curve_cache_fini(&s->cc);
    return LM_OK;
}

static void rank_destroy(lm_stopper *base) {
    rank_rule *s = (rank_rule *)base;
    lm_curve_cache_fini(&s->cc);
    free(s->mine);
    free(s->best);
    free(s);
}

static const lm_stopper_ops rank_ops = {
    .name = "rank",
    .options = rank_options,
    .create = rank_create,
    .on_report = rank_on_report,
    .save = rank_save,
    .load = rank_load,
    .destroy = rank_destroy,
};

int lm_rank_stopper_install(void) { return lm_stopper_register(&rank_ops); }

int lm_rank_stopper_register(const lm_rank_stopper_ctx *c) {
    LM_CHECK(c && c->model, LM_EINVAL, "lm_rank_stopper_register: no ranking model");
    LM_CHECK(c->dataset >= -1 && c->dataset < lm_rank_n_datasets(c->model), LM_EINVAL,
             "rank rule: dataset %d is not one of the model's (-1 to %d)", c->dataset,
             lm_rank_n_datasets(c->model) - 1);
    LM_CHECK(!c->encodings || c->n_archs >= 1, LM_EINVAL,
             "rank rule: encodings given for %d architectures", c->n_archs);
    ctx = *c;
    return lm_stopper_register(&rank_ops);
}
