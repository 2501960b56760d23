/* Random search (Bergstra and Bengio 2012): max_trials points drawn from the space's
 * prior, each trained for the same number of epochs, none stopped early.
 *
 * Trial k's point is drawn from the stream (seed, k, LM_STREAM_SAMPLE), where k is
 * the id the table gives the trial. So a point depends on the seed and the trial id
 * alone: not on the order in which trials finish, on the number of workers, or on a
 * restart in between. Points are not deduplicated (a continuous space almost never
 * repeats one; a small discrete space should use grid search). */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "search/searcher_impl.h"

#include <stdlib.h>

typedef struct random_searcher {
    lm_searcher base;        /* first, so an lm_searcher * is a random_searcher * */
    lm_search_params p;
    int n_hp;
    int64_t issued;          /* trials created so far */
} random_searcher;

static int random_create(const lm_search_params *p, lm_searcher **out) {
    LM_CHECK(p->max_trials >= 1 && p->max_trials <= LM__TRIALS_MAX, LM_ECONFIG,
             "random search: max_trials must be 1 to %d, got %d", LM__TRIALS_MAX, p->max_trials);
    random_searcher *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    s->base.ops = &lm__random_ops;
    s->p = *p;
    s->n_hp = lm_space_size(p->space);
    *out = &s->base;
    return LM_OK;
}

/* A new trial while fewer than max_trials were created, then LM_JOB_DONE. */
static int random_next_job(lm_searcher *base, lm_trials *t, lm_job *out) {
    random_searcher *s = (random_searcher *)base;
    LM_CALL(lm__searcher_check_table(base, t, s->n_hp));
    out->trial_id = -1;
    out->epochs = 0;
    if (s->issued >= s->p.max_trials) {
        out->kind = LM_JOB_DONE;
        return LM_OK;
    }
    int k = t->n;
    lm_rng rng;
    lm_rng_init(&rng, s->p.seed, (uint64_t)k, LM_STREAM_SAMPLE);
    double x[LM_HP_MAX];
    lm_space_sample(s->p.space, &rng, x);
    int id;
    LM_CALL(lm_trials_add(t, x, s->p.epochs, &id));
    LM_CHECK(id == k, LM_EINTERNAL, "random search: trial table gave id %d, expected %d", id, k);
    s->issued++;
    out->kind = LM_JOB_NEW;
    out->trial_id = id;
    out->epochs = s->p.epochs;
    return LM_OK;
}

static lm_decision random_on_report(lm_searcher *base, lm_trials *t, const lm_report *r) {
    (void)base;
    (void)t;
    (void)r;
    lm_decision d = {LM_DECIDE_CONTINUE};
    return d;
}

static void random_on_end(lm_searcher *base, lm_trials *t, int trial_id) {
    (void)base;
    (void)t;
    (void)trial_id;
}

/* Saves the header, the seed and the number of trials created; max_trials and epochs
 * are saved for the record but come from the configuration on load, so a resumed run
 * may be given more trials. */
static int random_save(const lm_searcher *base, lm_state_writer *w) {
    const random_searcher *s = (const random_searcher *)base;
    LM_CALL(lm__searcher_save_header(base, s->n_hp, w));
    LM_CALL(lm_state_put(w, "searcher/seed", LM_DT_U64, 1, &s->p.seed));
    LM_CALL(lm_state_put_i64(w, "searcher/issued", s->issued));
    LM_CALL(lm_state_put_i64(w, "searcher/max_trials", s->p.max_trials));
    LM_CALL(lm_state_put_i64(w, "searcher/epochs", s->p.epochs));
    return LM_OK;
}

/* The seed must be the one the checkpoint was made with: a different seed would give
 * the remaining trials points from another sequence. */
static int random_load(lm_searcher *base, lm_state_reader *r) {
    random_searcher *s = (random_searcher *)base;
    LM_CALL(lm__searcher_check_header(base, s->n_hp, r));
    uint64_t seed;
    LM_CALL(lm_state_get(r, "searcher/seed", LM_DT_U64, 1, &seed));
    LM_CHECK(seed == s->p.seed, LM_ECKPT,
             "checkpoint entry 'searcher/seed' is %llu, but this run's seed is %llu",
             (unsigned long long)seed, (unsigned long long)s->p.seed);
    int64_t issued;
    LM_CALL(lm__searcher_get_count(r, "searcher/issued", 0, LM__TRIALS_MAX, &issued));
    s->issued = issued;
    return LM_OK;
}

static void random_destroy(lm_searcher *base) { free(base); }

const lm_searcher_ops lm__random_ops = {
    .name = "random",
    .create = random_create,
    .next_job = random_next_job,
    .on_report = random_on_report,
    .on_end = random_on_end,
    .save = random_save,
    .load = random_load,
    .destroy = random_destroy,
};
