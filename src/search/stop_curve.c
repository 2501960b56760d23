/* The curve-extrapolation stopping rule ("curve"), after Domhan, Springenberg and
 * Hutter, "Speeding up Automatic Hyperparameter Optimization of Deep Neural Networks
 * by Extrapolation of Learning Curves", IJCAI 2015.
 *
 * At each report of trial i at epoch t (1-based) with a horizon T = its epochs_target
 * > t, the observed validation accuracies y_1..y_t (NaN counted as 0) are fitted by
 * least squares with three of the paper's parametric families (its Table 1):
 *
 *     pow3   y = c - a x^-alpha
 *     exp3   y = c - a exp(-beta x)
 *     ilog2  y = c - a / log(x + 1)
 *
 * Each is linear in (c, a) once its shape parameter is fixed, so the fit is a
 * simple regression per shape on a log-spaced grid (alpha in [0.05, 5], beta in
 * [0.01, 3], 48 values each), keeping the least squared error: the variable projection
 * form of nonlinear least squares, exact up to the grid and free of starting points.
 * Family k predicts mu_k at x = T with residual variance s_k^2 = SSE_k / (t - p_k)
 * (p_k = 3, 3, 2 parameters). The families are combined by BIC weights
 * w_k ~ exp(-BIC_k / 2), BIC_k = t log(SSE_k / t) + p_k log t (the paper combines them
 * in a Bayesian posterior sampled by MCMC; the weights are its cheap stand-in), into
 *
 *     mu = sum_k w_k mu_k,  var = sum_k w_k (s_k^2 T / t + (mu_k - mu)^2) + SD_FLOOR^2
 *
 * the factor T / t widening the noise as the extrapolation reaches further, the spread
 * of the families' predictions standing for model uncertainty. mu is clipped to
 * [0, 1]. With the final value modelled as N(mu, var), the rule stops the trial when
 *
 *     p(y_T > best) = 1 - Phi((best - mu) / sd) <= delta
 *
 * best being the highest validation accuracy at epoch T among the other trials that
 * reached T. Nothing stops before grace_epochs (at least 4, so that every family has
 * a residual degree of freedom) nor while fewer than min_trials other trials reached
 * T. Curves are taken in from the table incrementally (each row once), as the
 * median-type rules do (stop_rules.c); a checkpoint keeps only the options. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STEPS_MAX (1 << 20)
#define GRID 48
#define MIN_POINTS 4
#define SD_FLOOR 0.005 /* accuracy noise below which no run is believed */

static const lm_option_spec curve_options[] = {
    {"delta", LM_OPT_REAL, 0.05, 0, 1, NULL,
     "stop a trial when the probability that its final value beats the best so far is at most "
     "this"},
    {"grace_epochs", LM_OPT_INT, MIN_POINTS, MIN_POINTS, STEPS_MAX, NULL,
     "no trial is stopped before it has trained this many epochs (at least 4: the fit needs them)"},
    {"min_trials", LM_OPT_INT, 3, 1, LM__TRIALS_MAX, NULL,
     "no trial is stopped until this many other trials have reached its final epoch"},
    {0},
};

typedef struct curve_rule {
    lm_stopper base; /* first, so an lm_stopper * is a curve_rule * */
    double delta;
    int grace, min_trials;
    lm_curve_cache cc; /* the table's curves */
} curve_rule;

/* ---- the extrapolation ---- */

typedef enum { FAM_POW3, FAM_EXP3, FAM_ILOG2, N_FAM } family;

static double basis(family f, double shape, double x) {
    switch (f) {
    case FAM_POW3: return pow(x, -shape);
    case FAM_EXP3: return exp(-shape * x);
    default: return 1 / log(x + 1);
    }
}

/* Least squares of y = c - a g(x) for one shape: *sse and the prediction at T;
 * returns 0 when g is constant over the points. */
static int fit_shape(family f, double shape, const double *y, int n, int T, double *sse,
                     double *pred) {
    double gm = 0, ym = 0;
    for (int i = 0; i < n; i++) {
        gm += basis(f, shape, i + 1);
        ym += y[i];
    }
    gm /= n;
    ym /= n;
    double sgg = 0, sgy = 0;
    for (int i = 0; i < n; i++) {
        double g = basis(f, shape, i + 1) - gm;
        sgg += g * g;
        sgy += g * (y[i] - ym);
    }
    if (!(sgg > 1e-300)) return 0;
    double a = -sgy / sgg, c = ym + a * gm;
    double s = 0;
    for (int i = 0; i < n; i++) {
        double r = y[i] - (c - a * basis(f, shape, i + 1));
        s += r * r;
    }
    *sse = s;
    *pred = c - a * basis(f, shape, T);
    return 1;
}

/* The best fit of family f over its shape grid. */
static int fit_family(family f, const double *y, int n, int T, double *sse, double *pred) {
    if (f == FAM_ILOG2) return fit_shape(f, 0, y, n, T, sse, pred);
    double lo = f == FAM_POW3 ? 0.05 : 0.01, hi = f == FAM_POW3 ? 5 : 3;
    int found = 0;
    for (int g = 0; g < GRID; g++) {
        double shape = lo * pow(hi / lo, (double)g / (GRID - 1)), s, p;
        if (!fit_shape(f, shape, y, n, T, &s, &p) || !isfinite(p)) continue;
        if (!found || s < *sse) {
            *sse = s;
            *pred = p;
            found = 1;
        }
    }
    return found;
}

/* The combined prediction of y_T from y_1..y_n (n >= MIN_POINTS, T > n). */
int lm__curve_extrapolate(const double *y, int n, int T, double *mean, double *sd) {
    static const int n_params[N_FAM] = {3, 3, 2};
    double sse[N_FAM], pred[N_FAM], bic[N_FAM];
    int ok[N_FAM], any = 0;
    LM_CHECK(n >= MIN_POINTS && T > n, LM_EINVAL,
             "curve extrapolation needs at least %d points and a later horizon, got %d and %d",
             MIN_POINTS, n, T);
    for (int f = 0; f < N_FAM; f++) {
        ok[f] = fit_family((family)f, y, n, T, &sse[f], &pred[f]);
        if (!ok[f]) continue;
        /* A floor on the error keeps BIC finite for a curve fitted exactly. */
        double e = sse[f] / n + 1e-12;
        bic[f] = n * log(e) + n_params[f] * log((double)n);
        any = 1;
    }
    if (!any) {
        /* A constant curve: every family's basis is constant only if n < 2, which the
         * check excludes; keep the last value for safety. */
        *mean = y[n - 1];
        *sd = SD_FLOOR;
        return LM_OK;
    }
    double bmin = INFINITY;
    for (int f = 0; f < N_FAM; f++)
        if (ok[f] && bic[f] < bmin) bmin = bic[f];
    double w[N_FAM], wsum = 0, mu = 0;
    for (int f = 0; f < N_FAM; f++) {
        w[f] = ok[f] ? exp(-0.5 * (bic[f] - bmin)) : 0;
        wsum += w[f];
    }
    for (int f = 0; f < N_FAM; f++) {
        w[f] /= wsum;
        if (ok[f]) mu += w[f] * pred[f];
    }
    double var = SD_FLOOR * SD_FLOOR;
    for (int f = 0; f < N_FAM; f++) {
        if (!ok[f]) continue;
        double s2 = sse[f] / (n - n_params[f]);
        var += w[f] * (s2 * T / n + (pred[f] - mu) * (pred[f] - mu));
    }
    *mean = mu < 0 ? 0 : mu > 1 ? 1 : mu;
    *sd = sqrt(var);
    return LM_OK;
}

/* ---- the rule ---- */

static int curve_create(const lm_options *o, lm_stopper **out) {
    curve_rule *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->base.ops = &lm__curve_stopper_ops;
    s->delta = lm_options_get(o, curve_options, "delta");
    s->grace = (int)lm_options_get(o, curve_options, "grace_epochs");
    s->min_trials = (int)lm_options_get(o, curve_options, "min_trials");
    *out = &s->base;
    return LM_OK;
}

static lm_decision curve_on_report(lm_stopper *base, const lm_trials *t, const lm_report *r) {
    curve_rule *s = (curve_rule *)base;
    lm_decision d = {LM_DECIDE_CONTINUE};
    /* Out of memory taking rows in: judge nothing now (never stop on partial data). */
    if (!t || lm_curve_cache_update(&s->cc, t) < 0) return d;
    const lm_curve *c = s->cc.c;
    int step = r->epoch, id = r->trial_id;
    if (step < s->grace || id < 0 || id >= s->cc.n || c[id].n < step) return d;
    int T = t->v[id].epochs_target;
    if (T <= step) return d;
    int m = 0;
    double best = -INFINITY;
    for (int j = 0; j < s->cc.n; j++) {
        if (j == id || c[j].n < T) continue;
        m++;
        if (c[j].val[T - 1] > best) best = c[j].val[T - 1];
    }
    if (m < s->min_trials) return d;
    double mu, sd;
    if (lm__curve_extrapolate(c[id].val, step, T, &mu, &sd) < 0) return d;
    double p = 0.5 * erfc((best - mu) / (sd * sqrt(2.0)));
    if (p <= s->delta) d.kind = LM_DECIDE_STOP;
    return d;
}

static int curve_save(const lm_stopper *base, lm_state_writer *w) {
    const curve_rule *s = (const curve_rule *)base;
    LM_CALL(lm_state_put_str(w, "stopper/kind", s->base.ops->name));
    LM_CALL(lm_state_put_f64(w, "stopper/delta", s->delta));
    LM_CALL(lm_state_put_i64(w, "stopper/grace_epochs", s->grace));
    LM_CALL(lm_state_put_i64(w, "stopper/min_trials", s->min_trials));
    return LM_OK;
}

/* Checks the kind; the options are this run's; curves are rebuilt from the table. */
static int curve_load(lm_stopper *base, lm_state_reader *r) {
    curve_rule *s = (curve_rule *)base;
    char kind[64];
    LM_CALL(lm_state_get_str(r, "stopper/kind", kind, sizeof kind));
    LM_CHECK(!strcmp(kind, s->base.ops->name), LM_ECKPT,
             "checkpoint entry 'stopper/kind' is '%s', but this run's stopping rule is '%s'",
             kind, s->base.ops->name);
    lm_curve_cache_fini(&s->cc);
    return LM_OK;
}

static void curve_destroy(lm_stopper *base) {
    curve_rule *s = (curve_rule *)base;
    lm_curve_cache_fini(&s->cc);
    free(s);
}

const lm_stopper_ops lm__curve_stopper_ops = {
    .name = "curve",
    .options = curve_options,
    .create = curve_create,
    .on_report = curve_on_report,
    .save = curve_save,
    .load = curve_load,
    .destroy = curve_destroy,
};
