/* ASHA, asynchronous successive halving (Li et al., MLSys 2020, Algorithm 2), and
 * asynchronous Hyperband (several ASHA brackets).
 *
 * Resource = epochs, R = lm_search_params.epochs. Bracket s (s = 0 .. brackets-1, the
 * paper's early-stopping rate) has rungs k = 0, 1, ... at r_k = min_epochs eta^(s+k)
 * epochs while below R, then R itself (lm_asha_rungs). A configuration trains to the
 * end of its rung and is PAUSED there; one in the top rung trains to R and is done.
 *
 * get_job (next_job), as in Algorithm 2: for each bracket in order, for k from the
 * rung below the top down to 0, the best configuration of rung k's results that is
 * among the top floor(|rung k| / eta) and not yet promoted is RESUMEd to r_{k+1}
 * (results are counted when a trial's job has ended; ranked by validation accuracy at
 * r_k, ties to the lower trial id; failed or stopped trials count as results, rank last
 * and are never promoted). Otherwise a new configuration starts in rung 0 of bracket
 * (i mod brackets), i = the number of configurations started before it, until
 * max_trials were started. After that: WAIT while any job runs (its result may allow a
 * promotion), then DONE, when every configuration still paused, never promoted, is
 * marked STOPPED ("not promoted: ...").
 *
 * Bracket ids (lm_trial.bracket) are s; rungs are numbered from 0 within a bracket.
 * Points of new configurations are drawn as in random search, from the stream (seed,
 * trial id, LM_STREAM_SAMPLE). Everything depends only on the order of the calls. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "search/searcher_impl.h"
#include "search/sha_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lm_option_spec asha_options[] = {
    {"eta", LM_OPT_INT, 3, 2, 100, NULL,
     "reduction factor: the best 1/eta of a rung's results are promoted, to eta times the epochs"},
    {"min_epochs", LM_OPT_INT, 1, 1, 1e6, NULL,
     "epochs of the first rung of bracket 0 (r_min)"},
    {"brackets", LM_OPT_INT, 1, 1, LM_HB_RUNGS_MAX, NULL,
     "asynchronous Hyperband: brackets s = 0 .. brackets-1 start at min_epochs x eta^s; new "
     "configurations go to them in turn"},
    {0},
};

/* One result in a rung. */
typedef struct entry {
    int id;
    int dead;
    int promoted;
    double value;
} entry;

/* A rung's results, kept in ranking order (lm__mf_cmp). Every entry before open is
 * promoted or dead, so the next promotion is found without a scan. */
typedef struct rung {
    entry *v;
    int n, cap;
    int open;
} rung;

static int closed(const entry *e) { return e->promoted || e->dead; }

typedef struct asha {
    lm_searcher base;       /* first, so an lm_searcher * is an asha * */
    lm_search_params p;
    int n_hp, eta, r_min, n_brackets;
    int n_rungs[LM_HB_RUNGS_MAX];
    int r[LM_HB_RUNGS_MAX][LM_HB_RUNGS_MAX];   /* [bracket][rung] epochs */
    rung *rungs;            /* [bracket * LM_HB_RUNGS_MAX + rung] */
    lm__mf_book book;
    int issued;             /* configurations started */
    int finished;           /* DONE was answered and the unpromoted were stopped */
} asha;

static rung *rung_of(asha *a, int b, int k) { return &a->rungs[b * LM_HB_RUNGS_MAX + k]; }

static int asha_create(const lm_search_params *p, lm_searcher **out) {
    LM_CHECK(p->max_trials >= 1 && p->max_trials <= LM__TRIALS_MAX, LM_ECONFIG,
             "asha: max_trials (the configurations to start) must be 1 to %d, got %d",
             LM__TRIALS_MAX, p->max_trials);
    const lm_option_spec *o = lm__asha_ops.options;
    int eta = (int)lm_options_get(&p->options, o, "eta");
    int r_min = (int)lm_options_get(&p->options, o, "min_epochs");
    int nb = (int)lm_options_get(&p->options, o, "brackets");
    LM_CHECK(r_min <= p->epochs, LM_ECONFIG,
             "asha: min_epochs (%d) must be at most the epochs per trial (%d)", r_min, p->epochs);
    asha *a = calloc(1, sizeof *a);
    LM_CHECK_ALLOC(a);
    a->base.ops = &lm__asha_ops;
    a->p = *p;
    a->n_hp = lm_space_size(p->space);
    a->eta = eta;
    a->r_min = r_min;
    a->n_brackets = nb;
    lm__mf_book_init(&a->book);
    int rc = LM_OK;
    for (int b = 0; b < nb && rc == LM_OK; b++) {
        int n = lm_asha_rungs(p->epochs, r_min, eta, b, a->r[b], LM_HB_RUNGS_MAX);
        if (n < 0) rc = lm_error_trace(__FILE__, __LINE__, __func__, n);
        else a->n_rungs[b] = n;
    }
    /* Bracket s starts at rung s of bracket 0; past the last, brackets would repeat it. */
    if (rc == LM_OK && nb > a->n_rungs[0])
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECONFIG,
                          "asha: brackets must be at most %d for %d epochs, min_epochs %d and "
                          "eta %d (one per rung), got %d", a->n_rungs[0], p->epochs, r_min, eta,
                          nb);
    if (rc == LM_OK) {
        a->rungs = calloc((size_t)nb * LM_HB_RUNGS_MAX, sizeof *a->rungs);
        if (!a->rungs) rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    }
    if (rc < 0) {
        free(a);
        return rc;
    }
    *out = &a->base;
    return LM_OK;
}

/* Inserts a result at its place in the ranking. */
static int insert(rung *g, entry e) {
    if (g->n == g->cap) {
        LM_CHECK(g->cap < LM__TRIALS_MAX, LM_ERANGE, "asha: more than %d results in a rung",
                 LM__TRIALS_MAX);
        int c = g->cap ? 2 * g->cap : 16;
        entry *v = realloc(g->v, (size_t)c * sizeof *v);
        LM_CHECK_ALLOC(v);
        g->v = v;
        g->cap = c;
    }
    int lo = 0, hi = g->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        const entry *m = &g->v[mid];
        if (lm__mf_cmp(m->value, m->dead, m->id, e.value, e.dead, e.id) < 0) lo = mid + 1;
        else hi = mid;
    }
    memmove(&g->v[lo + 1], &g->v[lo], (size_t)(g->n - lo) * sizeof *g->v);
    g->v[lo] = e;
    g->n++;
    if (lo <= g->open) g->open = closed(&e) ? g->open + 1 : lo;
    return LM_OK;
}

/* Enters the results of the jobs that ended since the last call, in order. */
static int drain(asha *a) {
    int n = a->book.n_ended;
    for (int k = 0; k < n; k++) {
        int id = a->book.ended[k];
        const lm__mf_trial *m = &a->book.v[id];
        if (m->rung == a->n_rungs[m->group] - 1) continue; /* done at the top: nothing to rank */
        LM_CALL(insert(rung_of(a, m->group, m->rung), (entry){id, m->dead, 0, m->value}));
    }
    a->book.n_ended = 0;
    return LM_OK;
}

/* Algorithm 2's promotion: the first (best) result of the top floor(n / eta) of a
 * rung that is neither promoted nor dead. */
static int promotable(const asha *a, const rung *g) {
    return g->open < g->n / a->eta ? g->open : -1;
}

/* At the end: the paused configurations no promotion will reach become STOPPED. */
static void finish(asha *a, lm_trials *t) {
    for (int b = 0; b < a->n_brackets; b++)
        for (int k = 0; k + 1 < a->n_rungs[b]; k++) {
            const rung *g = rung_of(a, b, k);
            for (int j = 0; j < g->n; j++) {
                lm__mf_trial *m = &a->book.v[g->v[j].id];
                if (g->v[j].promoted || m->state != LM__MF_WAITING) continue;
                m->state = LM__MF_FINISHED;
                lm__mf_stop(t, g->v[j].id, "not promoted: ranked %d of %d in rung %d of "
                            "bracket %d when the search ended", j + 1, g->n, k, b);
            }
        }
    a->finished = 1;
}

static int asha_next_job(lm_searcher *base, lm_trials *t, lm_job *out) {
    asha *a = (asha *)base;
    LM_CALL(lm__searcher_check_table(base, t, a->n_hp));
    out->trial_id = -1;
    out->epochs = 0;
    LM_CALL(drain(a));
    for (int b = 0; b < a->n_brackets; b++)
        for (int k = a->n_rungs[b] - 2; k >= 0; k--) {
            rung *g = rung_of(a, b, k);
            int j = promotable(a, g);
            if (j < 0) continue;
            int id = g->v[j].id;
            /* Room first, so that nothing below fails halfway through the promotion. */
            LM_CALL(lm__mf_reserve_ints(&a->book.ended, &a->book.cap_ended,
                                        a->book.running + a->book.n_ended + 1));
            LM_CALL(lm_trials_add_promotion(t, id, k + 1));
            g->v[j].promoted = 1;
            while (g->open < g->n && closed(&g->v[g->open])) g->open++;
            a->book.v[id].rung = k + 1;
            LM_CALL(lm__mf_resume(&a->book, t, id, a->r[b][k + 1]));
            out->kind = LM_JOB_RESUME;
            out->trial_id = id;
            out->epochs = a->r[b][k + 1];
            return LM_OK;
        }
    if (a->issued < a->p.max_trials) {
        int b = a->issued % a->n_brackets, id;
        LM_CALL(lm__mf_new_trial(&a->book, &a->p, t, b, b, a->r[b][0], &id));
        a->issued++;
        out->kind = LM_JOB_NEW;
        out->trial_id = id;
        out->epochs = a->r[b][0];
        return LM_OK;
    }
    if (a->book.running > 0) {
        out->kind = LM_JOB_WAIT;
        return LM_OK;
    }
    if (!a->finished) finish(a, t);
    out->kind = LM_JOB_DONE;
    return LM_OK;
}

static lm_decision asha_on_report(lm_searcher *base, lm_trials *t, const lm_report *r) {
    asha *a = (asha *)base;
    (void)t;
    lm__mf_trial *m = lm__mf_get(&a->book, r->trial_id);
    lm_decision d = {LM_DECIDE_CONTINUE};
    if (!m || m->state != LM__MF_RUNNING) return d;
    int top = m->rung == a->n_rungs[m->group] - 1;
    return lm__mf_report(m, r, a->r[m->group][m->rung], top);
}

static void asha_on_end(lm_searcher *base, lm_trials *t, int trial_id) {
    asha *a = (asha *)base;
    const lm__mf_trial *m = lm__mf_get(&a->book, trial_id);
    if (!m) return;
    lm__mf_end(&a->book, t, trial_id, m->rung == a->n_rungs[m->group] - 1);
}

/* ---- save / load ----
 * Entries under "searcher/": the header, the plan's inputs (seed, epochs, eta,
 * min_epochs, brackets; checked on load), issued, finished, the rungs' results in
 * (bracket, rung) order as rung_count (one per rung) and the columns res_id, res_dead,
 * res_promoted, res_value, and the book. */

static int asha_save(const lm_searcher *base, lm_state_writer *w) {
    const asha *a = (const asha *)base;
    LM_CALL(lm__searcher_save_header(base, a->n_hp, w));
    LM_CALL(lm_state_put(w, "searcher/seed", LM_DT_U64, 1, &a->p.seed));
    LM_CALL(lm_state_put_i64(w, "searcher/epochs", a->p.epochs));
    LM_CALL(lm_state_put_i64(w, "searcher/eta", a->eta));
    LM_CALL(lm_state_put_i64(w, "searcher/min_epochs", a->r_min));
    LM_CALL(lm_state_put_i64(w, "searcher/brackets", a->n_brackets));
    LM_CALL(lm_state_put_i64(w, "searcher/max_trials", a->p.max_trials));
    LM_CALL(lm_state_put_i64(w, "searcher/issued", a->issued));
    LM_CALL(lm_state_put_i64(w, "searcher/finished", a->finished));
    int n_rungs = 0, n_res = 0;
    for (int b = 0; b < a->n_brackets; b++)
        for (int k = 0; k < a->n_rungs[b]; k++, n_rungs++)
            n_res += a->rungs[b * LM_HB_RUNGS_MAX + k].n;
    int *count = malloc((size_t)(n_rungs > 0 ? n_rungs : 1) * sizeof *count);
    int *col = malloc((size_t)(n_res > 0 ? n_res : 1) * sizeof *col);
    double *val = malloc((size_t)(n_res > 0 ? n_res : 1) * sizeof *val);
    int rc = LM_OK;
    if (!count || !col || !val) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto out;
    }
    static const char *const names[] = {"searcher/res_id", "searcher/res_dead",
                                        "searcher/res_promoted"};
    for (int f = 0; f < 4; f++) {
        int at = 0, g = 0;
        for (int b = 0; b < a->n_brackets; b++)
            for (int k = 0; k < a->n_rungs[b]; k++, g++) {
                const rung *rg = &a->rungs[b * LM_HB_RUNGS_MAX + k];
                count[g] = rg->n;
                for (int j = 0; j < rg->n; j++, at++) {
                    const entry *e = &rg->v[j];
                    if (f == 3) val[at] = e->value;
                    else col[at] = f == 0 ? e->id : f == 1 ? e->dead : e->promoted;
                }
            }
        if (f < 3) LM_CALL_GOTO(rc, lm__mf_put_ints(w, names[f], col, n_res), out);
    }
    LM_CALL_GOTO(rc, lm__mf_put_ints(w, "searcher/rung_count", count, n_rungs), out);
    LM_CALL_GOTO(rc, lm_state_put(w, "searcher/res_value", LM_DT_F64, (size_t)n_res, val), out);
    LM_CALL_GOTO(rc, lm__mf_book_save(&a->book, w), out);
out:
    free(count);
    free(col);
    free(val);
    return rc;
}

static void free_rungs(rung *rungs, int n_brackets) {
    if (!rungs) return;
    for (int i = 0; i < n_brackets * LM_HB_RUNGS_MAX; i++) free(rungs[i].v);
    free(rungs);
}

/* Reads the results into rungs (allocated by the caller, zeroed) and checks them
 * against the book: booked in that bracket, ranked in order, each result once. */
static int load_results(asha *a, lm_state_reader *r, rung *rungs, int *col, double *val,
                        int n_res) {
    static const char *const names[] = {"searcher/res_id", "searcher/res_dead",
                                        "searcher/res_promoted"};
    int *id = col, *dead = col + n_res, *prom = col + 2 * n_res;
    for (int f = 0; f < 3; f++)
        LM_CALL(lm__mf_get_ints(r, names[f], col + f * n_res, n_res, 0,
                                f == 0 ? a->book.n - 1 : 1));
    size_t len;
    LM_CALL(lm_state_len(r, "searcher/res_value", LM_DT_F64, &len));
    LM_CHECK(len == (size_t)n_res, LM_ECKPT,
             "checkpoint entry 'searcher/res_value' has %zu elements, expected %d", len, n_res);
    LM_CALL(lm_state_get(r, "searcher/res_value", LM_DT_F64, len, val));
    int n_rungs = 0;
    for (int b = 0; b < a->n_brackets; b++) n_rungs += a->n_rungs[b];
    int *count = malloc((size_t)n_rungs * sizeof *count);
    LM_CHECK_ALLOC(count);
    int rc = lm__mf_get_ints(r, "searcher/rung_count", count, n_rungs, 0, n_res);
    int at = 0, g = 0;
    for (int b = 0; rc == LM_OK && b < a->n_brackets; b++)
        for (int k = 0; rc == LM_OK && k < a->n_rungs[b]; k++, g++) {
            rung *rg = &rungs[b * LM_HB_RUNGS_MAX + k];
            for (int j = 0; rc == LM_OK && j < count[g]; j++, at++) {
                if (at >= n_res) {
                    rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                                      "checkpoint entry 'searcher/rung_count' adds up to more "
                                      "than the %d results the columns hold", n_res);
                    break;
                }
                entry e = {id[at], dead[at], prom[at], val[at]};
                const lm__mf_trial *m = &a->book.v[e.id];
                if (m->group != b || m->rung < k || isnan(e.value) ||
                    (rg->n && lm__mf_cmp(rg->v[rg->n - 1].value, rg->v[rg->n - 1].dead,
                                         rg->v[rg->n - 1].id, e.value, e.dead, e.id) >= 0))
                    rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                                      "checkpoint entry 'searcher/res_id'[%d]: trial %d does not "
                                      "belong at its place in rung %d of bracket %d", at, e.id, k,
                                      b);
                else rc = insert(rg, e);
            }
        }
    free(count);
    LM_CALL(rc);
    LM_CHECK(at == n_res, LM_ECKPT,
             "checkpoint entry 'searcher/rung_count' adds up to %d results, the columns hold %d",
             at, n_res);
    return LM_OK;
}

static int load_into(asha *a, lm_state_reader *r, rung **rungs) {
    int64_t v;
    LM_CALL(lm__searcher_get_count(r, "searcher/issued", 0, LM__TRIALS_MAX, &v));
    a->issued = (int)v;
    LM_CALL(lm__searcher_get_count(r, "searcher/finished", 0, 1, &v));
    a->finished = (int)v;
    LM_CALL(lm__mf_book_load(&a->book, r, a->n_brackets, LM_HB_RUNGS_MAX));
    for (int i = 0; i < a->book.n; i++) {
        const lm__mf_trial *m = &a->book.v[i];
        LM_CHECK(m->group < 0 || m->rung < a->n_rungs[m->group], LM_ECKPT,
                 "checkpoint entry 'searcher/book/rung': trial %d is in rung %d of bracket %d, "
                 "which has %d", i, m->rung, m->group, m->group >= 0 ? a->n_rungs[m->group] : 0);
    }
    int n_res;
    LM_CALL(lm__mf_len(r, "searcher/res_id", LM__TRIALS_MAX, &n_res));
    *rungs = calloc((size_t)a->n_brackets * LM_HB_RUNGS_MAX, sizeof **rungs);
    int *col = malloc((size_t)(n_res > 0 ? 3 * n_res : 1) * sizeof *col);
    double *val = malloc((size_t)(n_res > 0 ? n_res : 1) * sizeof *val);
    int rc = *rungs && col && val
                 ? load_results(a, r, *rungs, col, val, n_res)
                 : lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    free(col);
    free(val);
    LM_CALL(rc);
    return LM_OK;
}

/* The plan's inputs must be this run's; max_trials comes from this run's configuration.
 * On failure the searcher is unchanged. */
static int asha_load(lm_searcher *base, lm_state_reader *r) {
    asha *a = (asha *)base;
    LM_CALL(lm__searcher_check_header(base, a->n_hp, r));
    uint64_t seed;
    LM_CALL(lm_state_get(r, "searcher/seed", LM_DT_U64, 1, &seed));
    LM_CHECK(seed == a->p.seed, LM_ECKPT,
             "checkpoint entry 'searcher/seed' is %llu, but this run's seed is %llu",
             (unsigned long long)seed, (unsigned long long)a->p.seed);
    LM_CALL(lm__mf_check_same(r, "searcher/epochs", a->p.epochs, "epochs per trial"));
    LM_CALL(lm__mf_check_same(r, "searcher/eta", a->eta, "eta"));
    LM_CALL(lm__mf_check_same(r, "searcher/min_epochs", a->r_min, "min_epochs"));
    LM_CALL(lm__mf_check_same(r, "searcher/brackets", a->n_brackets, "brackets"));
    asha tmp = *a;
    lm__mf_book_init(&tmp.book);
    rung *rungs = NULL;
    int rc = load_into(&tmp, r, &rungs);
    if (rc < 0) {
        lm__mf_book_fini(&tmp.book);
        free_rungs(rungs, a->n_brackets);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    lm__mf_book_fini(&a->book);
    free_rungs(a->rungs, a->n_brackets);
    tmp.rungs = rungs;
    *a = tmp;
    return LM_OK;
}

static void asha_destroy(lm_searcher *base) {
    asha *a = (asha *)base;
    lm__mf_book_fini(&a->book);
    free_rungs(a->rungs, a->n_brackets);
    free(a);
}

const lm_searcher_ops lm__asha_ops = {
    .name = "asha",
    .options = asha_options,
    .create = asha_create,
    .next_job = asha_next_job,
    .on_report = asha_on_report,
    .on_end = asha_on_end,
    .save = asha_save,
    .load = asha_load,
    .destroy = asha_destroy,
};
