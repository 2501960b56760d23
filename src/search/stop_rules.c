/* Early-stopping rules that compare a trial's learning curve with the other trials'
 * at the same epoch (step). The objective is validation accuracy, to maximize; a NaN
 * accuracy counts as 0, the worst possible.
 *
 *  - "median" (Golovin et al., KDD 2017, Google Vizier's median stopping rule): stop
 *    trial t at step s if its best value in steps 1..s is below the median, over the
 *    other trials that reached step s, of their running averages (mean of their values
 *    in steps 1..s).
 *  - "mean": the same with the mean of those running averages.
 *  - "last" (the last-value rule): stop if its value at step s is below the quantile
 *    `quantile` (default 0.5, the median) of the other trials' values at step s.
 *
 * "Below" is strict: a tie never stops. Quantiles interpolate linearly between order
 * statistics (Hyndman and Fan's type 7, so the 0.5 quantile is the usual median). No
 * trial is stopped at a step below grace_epochs, nor while fewer than min_trials other
 * trials have reached the step. Only reports the controller passes are judged; other
 * trials' curves are read from the table, whatever their status (a stopped or failed
 * trial counts at the steps it reached).
 *
 * The rule keeps the table's curves in an lm_curve_cache (values with prefix sums and
 * maxima, each row taken in once, so a report costs O(trials), not O(rows)), a cache: a checkpoint stores only the rule's kind and
 * options, and a loaded rule rebuilds it from the loaded table. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { RULE_MEDIAN, RULE_MEAN, RULE_LAST } rule_kind;

#define STEPS_MAX (1 << 20)

static const lm_option_spec common_options[] = {
    {"grace_epochs", LM_OPT_INT, 1, 1, STEPS_MAX, NULL,
     "no trial is stopped before it has trained this many epochs"},
    {"min_trials", LM_OPT_INT, 3, 1, LM__TRIALS_MAX, NULL,
     "no trial is stopped at an epoch until this many other trials have reached it"},
    {0},
};

static const lm_option_spec last_options[] = {
    {"grace_epochs", LM_OPT_INT, 1, 1, STEPS_MAX, NULL,
     "no trial is stopped before it has trained this many epochs"},
    {"min_trials", LM_OPT_INT, 3, 1, LM__TRIALS_MAX, NULL,
     "no trial is stopped at an epoch until this many other trials have reached it"},
    {"quantile", LM_OPT_REAL, 0.5, 0, 1, NULL,
     "stop a trial whose latest value is below this quantile of the others' at that epoch"},
    {0},
};

typedef struct rule {
    lm_stopper base;        /* first, so an lm_stopper * is a rule * */
    rule_kind kind;
    int grace, min_trials;
    double quantile;
    lm_curve_cache cc;      /* the table's curves */
    double *x;              /* scratch: the others' values at a step */
    int cap_x;
} rule;

static int create(rule_kind kind, const lm_stopper_ops *ops, const lm_options *o,
                  lm_stopper **out) {
    rule *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->base.ops = ops;
    s->kind = kind;
    s->grace = (int)lm_options_get(o, ops->options, "grace_epochs");
    s->min_trials = (int)lm_options_get(o, ops->options, "min_trials");
    s->quantile = kind == RULE_LAST ? lm_options_get(o, ops->options, "quantile") : 0.5;
    *out = &s->base;
    return LM_OK;
}

static int median_create(const lm_options *o, lm_stopper **out) {
    return create(RULE_MEDIAN, &lm__median_stopper_ops, o, out);
}
static int mean_create(const lm_options *o, lm_stopper **out) {
    return create(RULE_MEAN, &lm__mean_stopper_ops, o, out);
}
static int last_create(const lm_options *o, lm_stopper **out) {
    return create(RULE_LAST, &lm__last_stopper_ops, o, out);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Type 7 quantile of x[0 .. n) (sorts x). */
static double quantile(double *x, int n, double q) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    double h = (n - 1) * q;
    int lo = (int)floor(h);
    if (lo >= n - 1) return x[n - 1];
    return x[lo] + (h - lo) * (x[lo + 1] - x[lo]);
}

static lm_decision rule_on_report(lm_stopper *base, const lm_trials *t, const lm_report *r) {
    rule *s = (rule *)base;
    lm_decision d = {LM_DECIDE_CONTINUE};
    /* Out of memory taking rows in: judge nothing now (never stop on partial data). */
    if (!t || lm_curve_cache_update(&s->cc, t) < 0) return d;
    int step = r->epoch, id = r->trial_id, n = s->cc.n;
    if (step < s->grace || id < 0 || id >= n || s->cc.c[id].n < step) return d;
    if (s->cap_x < n) {
        double *x = realloc(s->x, (size_t)n * sizeof *x);
        if (!x) return d;
        s->x = x;
        s->cap_x = n;
    }
    int m = 0;
    for (int j = 0; j < n; j++) {
        const lm_curve *c = &s->cc.c[j];
        if (j == id || c->n < step) continue;
        s->x[m++] = s->kind == RULE_LAST ? c->val[step - 1] : c->sum[step - 1] / step;
    }
    if (m < s->min_trials) return d;
    const lm_curve *own = &s->cc.c[id];
    double mine = s->kind == RULE_LAST ? own->val[step - 1] : own->max[step - 1];
    double bar;
    if (s->kind == RULE_MEAN) {
        double sum = 0;
        for (int j = 0; j < m; j++) sum += s->x[j];
        bar = sum / m;
    } else {
        bar = quantile(s->x, m, s->quantile);
    }
    if (mine < bar) d.kind = LM_DECIDE_STOP;
    return d;
}

/* Entries under "stopper/": kind, and the options for the record. */
static int rule_save(const lm_stopper *base, lm_state_writer *w) {
    const rule *s = (const rule *)base;
    LM_CALL(lm_state_put_str(w, "stopper/kind", s->base.ops->name));
    LM_CALL(lm_state_put_i64(w, "stopper/grace_epochs", s->grace));
    LM_CALL(lm_state_put_i64(w, "stopper/min_trials", s->min_trials));
    LM_CALL(lm_state_put_f64(w, "stopper/quantile", s->quantile));
    return LM_OK;
}

/* Checks the kind; the options are this run's. The curves are rebuilt from the table
 * at the next report. */
static int rule_load(lm_stopper *base, lm_state_reader *r) {
    rule *s = (rule *)base;
    char kind[64];
    LM_CALL(lm_state_get_str(r, "stopper/kind", kind, sizeof kind));
    LM_CHECK(!strcmp(kind, s->base.ops->name), LM_ECKPT,
             "checkpoint entry 'stopper/kind' is '%s', but this run's stopping rule is '%s'",
             kind, s->base.ops->name);
    lm_curve_cache_fini(&s->cc);
    return LM_OK;
}

static void rule_destroy(lm_stopper *base) {
    rule *s = (rule *)base;
    lm_curve_cache_fini(&s->cc);
    free(s->x);
    free(s);
}

const lm_stopper_ops lm__median_stopper_ops = {
    .name = "median",
    .options = common_options,
    .create = median_create,
    .on_report = rule_on_report,
    .save = rule_save,
    .load = rule_load,
    .destroy = rule_destroy,
};

const lm_stopper_ops lm__mean_stopper_ops = {
    .name = "mean",
    .options = common_options,
    .create = mean_create,
    .on_report = rule_on_report,
    .save = rule_save,
    .load = rule_load,
    .destroy = rule_destroy,
};

const lm_stopper_ops lm__last_stopper_ops = {
    .name = "last",
    .options = last_options,
    .create = last_create,
    .on_report = rule_on_report,
    .save = rule_save,
    .load = rule_load,
    .destroy = rule_destroy,
};
