/* The stopping rules' view of the trial table's learning curves: per trial, the
 * validation accuracy of every epoch reached, with prefix sums and running maxima, taken
 * in from the table's curve rows as they arrive (each row once, so a report costs
 * O(trials), not O(rows)). A NaN accuracy counts as 0, the worst possible. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STEPS_MAX (1 << 20)

void lm_curve_cache_fini(lm_curve_cache *cc) {
    for (int i = 0; i < cc->n; i++) {
        free(cc->c[i].val);
        free(cc->c[i].sum);
        free(cc->c[i].max);
    }
    free(cc->c);
    memset(cc, 0, sizeof *cc);
}

static int cover(lm_curve_cache *cc, int n) {
    if (n <= cc->n) return LM_OK;
    LM_CHECK(n <= LM__TRIALS_MAX, LM_ERANGE, "stopping rule: trial %d out of range", n - 1);
    lm_curve *c = realloc(cc->c, (size_t)n * sizeof *c);
    LM_CHECK_ALLOC(c);
    memset(c + cc->n, 0, (size_t)(n - cc->n) * sizeof *c);
    cc->c = c;
    cc->n = n;
    return LM_OK;
}

static int append(lm_curve *c, double v) {
    if (c->n == c->cap) {
        LM_CHECK(c->cap < STEPS_MAX, LM_ERANGE, "stopping rule: more than %d epochs in a curve",
                 STEPS_MAX);
        int cap = c->cap ? 2 * c->cap : 16;
        double **p[3] = {&c->val, &c->sum, &c->max};
        for (int k = 0; k < 3; k++) {
            double *q = realloc(*p[k], (size_t)cap * sizeof *q);
            LM_CHECK_ALLOC(q);
            *p[k] = q;
        }
        c->cap = cap;
    }
    if (isnan(v)) v = 0;
    c->val[c->n] = v;
    c->sum[c->n] = c->n ? c->sum[c->n - 1] + v : v;
    c->max[c->n] = c->n && c->max[c->n - 1] > v ? c->max[c->n - 1] : v;
    c->n++;
    return LM_OK;
}

int lm_curve_cache_update(lm_curve_cache *cc, const lm_trials *t) {
    /* A table with fewer rows than were taken in is another table: start over. */
    if (t->n_curves < cc->consumed) lm_curve_cache_fini(cc);
    LM_CALL(cover(cc, t->n));
    for (; cc->consumed < t->n_curves; cc->consumed++) {
        const lm_curve_row *row = &t->curves[cc->consumed];
        if (row->trial_id < 0 || row->trial_id >= cc->n) continue;
        lm_curve *c = &cc->c[row->trial_id];
        /* A row that is not its trial's next epoch (lm_trials_record never makes one)
         * is skipped. */
        if (row->epoch == c->n + 1) LM_CALL(append(c, row->val_accuracy));
    }
    return LM_OK;
}
