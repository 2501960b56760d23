/* Grid search: every point of the space's grid (lm_space_grid_count points, in
 * lm_space_grid_point order), each trained for the same number of epochs, none
 * stopped early. max_trials > 0 caps the run at the first max_trials points.
 *
 * The only state is the index of the next point, so grid search never issues a point
 * twice, also across a restart: the checkpoint records how far it got. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "search/searcher_impl.h"

#include <stdlib.h>

typedef struct grid_searcher {
    lm_searcher base;        /* first, so an lm_searcher * is a grid_searcher * */
    lm_search_params p;
    int n_hp;
    long count;              /* points on the whole grid */
    long limit;              /* points this run visits: count, or max_trials if smaller */
    long next;               /* index of the next point to issue */
} grid_searcher;

static int grid_create(const lm_search_params *p, lm_searcher **out) {
    LM_CHECK(p->max_trials >= 0, LM_ECONFIG,
             "grid search: max_trials must be >= 0 (0: the whole grid), got %d", p->max_trials);
    long count = lm_space_grid_count(p->space);
    LM_CHECK(count >= 1, LM_ECONFIG,
             "grid search: the space's grid has no points (or too many to count)");
    long limit = p->max_trials > 0 && p->max_trials < count ? p->max_trials : count;
    LM_CHECK(limit <= LM__TRIALS_MAX, LM_ECONFIG,
             "grid search: the grid has %ld points, more than the %d trials one run can hold; "
             "set max_trials or fewer grid points",
             count, LM__TRIALS_MAX);
    grid_searcher *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->base.ops = &lm__grid_ops;
    s->p = *p;
    s->n_hp = lm_space_size(p->space);
    s->count = count;
    s->limit = limit;
    *out = &s->base;
    return LM_OK;
}

/* The next grid point as a new trial, then LM_JOB_DONE after limit points. */
static int grid_next_job(lm_searcher *base, lm_trials *t, lm_job *out) {
    grid_searcher *s = (grid_searcher *)base;
    LM_CALL(lm__searcher_check_table(base, t, s->n_hp));
    out->trial_id = -1;
    out->epochs = 0;
    if (s->next >= s->limit) {
        out->kind = LM_JOB_DONE;
        return LM_OK;
    }
    double x[LM_HP_MAX];
    LM_CALL(lm_space_grid_point(s->p.space, s->next, x));
    int id;
    LM_CALL(lm_trials_add(t, x, s->p.epochs, &id));
    s->next++;
    out->kind = LM_JOB_NEW;
    out->trial_id = id;
    out->epochs = s->p.epochs;
    return LM_OK;
}

static lm_decision grid_on_report(lm_searcher *base, lm_trials *t, const lm_report *r) {
    (void)base;
    (void)t;
    (void)r;
    lm_decision d = {LM_DECIDE_CONTINUE};
    return d;
}

static void grid_on_end(lm_searcher *base, lm_trials *t, int trial_id) {
    (void)base;
    (void)t;
    (void)trial_id;
}

/* Saves the header, the grid's size (to detect a changed space on resume) and the
 * index of the next point; max_trials is saved for the record. */
static int grid_save(const lm_searcher *base, lm_state_writer *w) {
    const grid_searcher *s = (const grid_searcher *)base;
    LM_CALL(lm__searcher_save_header(base, s->n_hp, w));
    LM_CALL(lm_state_put_i64(w, "searcher/grid_count", s->count));
    LM_CALL(lm_state_put_i64(w, "searcher/next", s->next));
    LM_CALL(lm_state_put_i64(w, "searcher/max_trials", s->p.max_trials));
    LM_CALL(lm_state_put_i64(w, "searcher/epochs", s->p.epochs));
    return LM_OK;
}

/* The limit comes from this run's max_trials, so a resumed run may be given more;
 * next may then exceed a smaller limit, which simply ends the search. */
static int grid_load(lm_searcher *base, lm_state_reader *r) {
    grid_searcher *s = (grid_searcher *)base;
    LM_CALL(lm__searcher_check_header(base, s->n_hp, r));
    int64_t count, next;
    LM_CALL(lm_state_get_i64(r, "searcher/grid_count", &count));
    LM_CHECK(count == s->count, LM_ECKPT,
             "checkpoint entry 'searcher/grid_count' is %lld points, but this run's grid has %ld",
             (long long)count, s->count);
    LM_CALL(lm__searcher_get_count(r, "searcher/next", 0, s->count, &next));
    s->next = (long)next;
    return LM_OK;
}

static void grid_destroy(lm_searcher *base) { free(base); }

const lm_searcher_ops lm__grid_ops = {
    .name = "grid",
    .create = grid_create,
    .next_job = grid_next_job,
    .on_report = grid_on_report,
    .on_end = grid_on_end,
    .save = grid_save,
    .load = grid_load,
    .destroy = grid_destroy,
};
