/* Hyperband (Li et al., JMLR 2017, Algorithm 1) and successive halving ("sha", one of
 * its brackets), with every bracket in flight at once.
 *
 * Resource = epochs, R = lm_search_params.epochs. Bracket s (s = s_max .. 0) starts n
 * configurations at r = R eta^-s epochs; its rung i holds n_i = floor(n eta^-i)
 * configurations trained to r_i = r eta^i epochs in total, and successive halving
 * promotes the best floor(n_i / eta) of rung i (by validation accuracy at r_i; ties to
 * the lower trial id; failed or stopped trials rank last and are never promoted) to
 * rung i+1. The sizes come from lm_hyperband_table (option rounding: "algorithm" or
 * the paper's "table").
 *
 * Jobs. A configuration trains to the end of its rung and is PAUSED there (its weights
 * kept); a promoted one is RESUMEd to the next rung's r_i; the top rung trains to R and
 * is done. A rung is decided when all its members' jobs have ended: the promoted stay
 * PAUSED until resumed, the others become STOPPED ("not promoted: ..."). next_job hands
 * out, in this order: promotions, first in first out, in the order decided (within a
 * rung best first); new configurations of the first bracket whose first rung is not
 * full (brackets in the order s_max .. 0, pass after pass); WAIT while any job runs;
 * DONE. A rung waits only for its own bracket's trials, so a slow trial in one bracket
 * never holds another back.
 *
 * max_trials caps the configurations: 0 runs one pass of every bracket; a larger value
 * runs passes until that many configurations were started (a new pass starts as soon
 * as the previous one has handed out its last configuration). The bracket that reaches
 * the cap keeps the n' configurations it got, and its later rungs keep
 * max(1, floor(n' eta^-(i+1))), so it still reaches R; brackets after it stay empty.
 *
 * Bracket ids (lm_trial.bracket, lm_promotion.bracket): hyperband's bracket s of pass p
 * has id p (s_max + 1) + s, so one pass has ids equal to s; sha's pass p has id p.
 * Rungs are numbered from 0 within a bracket.
 *
 * Points of new configurations are drawn as in random search, from the stream (seed,
 * trial id, LM_STREAM_SAMPLE). Everything depends only on the order of the calls. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "search/searcher_impl.h"
#include "search/sha_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const rounding_labels[] = {"algorithm", "table", NULL};

static const lm_option_spec hyperband_options[] = {
    {"eta", LM_OPT_INT, 3, 2, 100, NULL,
     "halving rate: each rung keeps the best 1/eta of the one below, trained eta times longer"},
    {"rounding", LM_OPT_ENUM, 0, 0, 0, rounding_labels,
     "bracket sizes: 'algorithm' (Algorithm 1, ceil) or 'table' (the paper's Table 1)"},
    {0},
};

static const lm_option_spec sha_options[] = {
    {"eta", LM_OPT_INT, 3, 2, 100, NULL,
     "halving rate: each rung keeps the best 1/eta of the one below, trained eta times longer"},
    {"rounding", LM_OPT_ENUM, 0, 0, 0, rounding_labels,
     "bracket size: 'algorithm' (Algorithm 1, ceil) or 'table' (the paper's Table 1)"},
    {"bracket", LM_OPT_INT, -1, -1, LM_HB_RUNGS_MAX - 1, NULL,
     "which Hyperband bracket s to run: first rung at epochs x eta^-s; -1: s_max, the "
     "most configurations at the fewest epochs"},
    {0},
};

typedef struct hb_inst {
    int s, pass;
    int issued;         /* configurations it was given */
    int closed;         /* its first rung takes no more */
    int first;          /* index in order[] of its first configuration */
    int rung0;          /* index in rungs[] of its rung 0; it has s + 1 of them */
} hb_inst;

typedef struct hb_rung {
    int size;           /* members: configurations issued (rung 0) or promoted into it */
    int ended;          /* members whose job in this rung has ended */
    int decided;        /* its promotions are decided */
} hb_rung;

typedef struct hyperband {
    lm_searcher base;           /* first, so an lm_searcher * is a hyperband * */
    lm_search_params p;
    int n_hp, eta, table_rounding;
    int s_max, s_hi, s_lo;      /* a pass runs brackets s_hi down to s_lo */
    lm_hb_bracket plan[LM_HB_RUNGS_MAX];   /* by s */
    lm__mf_book book;
    hb_inst *inst;              /* bracket instances in creation order (book groups) */
    int n_inst, cap_inst;
    hb_rung *rungs;
    int n_rungs, cap_rungs;
    int *order;                 /* trial ids in the order they were issued */
    int n_order, cap_order;
    int *queue;                 /* promoted trials to resume: queue[head .. n_queue) */
    int head, n_queue, cap_queue;
    int open;                   /* first instance whose first rung is open */
    int passes;
    int capped;                 /* max_trials configurations were issued */
} hyperband;

static int per_pass(const hyperband *h) { return h->s_hi - h->s_lo + 1; }

static int bracket_id(const hyperband *h, const hb_inst *in) {
    return in->pass * per_pass(h) + (in->s - h->s_lo);
}

static int create(const lm_search_params *p, const lm_searcher_ops *ops, lm_searcher **out) {
    const char *name = ops->name;
    LM_CHECK(p->max_trials >= 0 && p->max_trials <= LM__TRIALS_MAX, LM_ECONFIG,
             "%s: max_trials must be 0 (one pass of its brackets) to %d, got %d", name,
             LM__TRIALS_MAX, p->max_trials);
    hyperband *h = calloc(1, sizeof *h);
    LM_CHECK_ALLOC(h);
    h->base.ops = ops;
    h->p = *p;
    h->n_hp = lm_space_size(p->space);
    h->eta = (int)lm_options_get(&p->options, ops->options, "eta");
    h->table_rounding = (int)lm_options_get(&p->options, ops->options, "rounding");
    lm__mf_book_init(&h->book);
    int n = lm_hyperband_table(p->epochs, h->eta, h->table_rounding, h->plan, LM_HB_RUNGS_MAX);
    if (n < 0) {
        free(h);
        return lm_error_trace(__FILE__, __LINE__, __func__, n);
    }
    h->s_max = n - 1;
    h->s_hi = h->s_max;
    h->s_lo = 0;
    if (ops == &lm__sha_ops) {
        int s = (int)lm_options_get(&p->options, ops->options, "bracket");
        if (s > h->s_max) {
            int s_max = h->s_max, eta = h->eta;
            free(h);
            LM_FAIL(LM_ECONFIG,
                    "sha: bracket must be -1 or 0 to %d (s_max for %d epochs and eta %d), got %d",
                    s_max, p->epochs, eta, s);
        }
        h->s_hi = h->s_lo = s < 0 ? h->s_max : s;
    }
    *out = &h->base;
    return LM_OK;
}

static int hyperband_create(const lm_search_params *p, lm_searcher **out) {
    return create(p, &lm__hyperband_ops, out);
}

static int sha_create(const lm_search_params *p, lm_searcher **out) {
    return create(p, &lm__sha_ops, out);
}

/* ---- brackets ---- */

static int new_pass(hyperband *h) {
    int k = per_pass(h);
    if (h->n_inst + k > h->cap_inst) {
        LM_CHECK(h->n_inst + k <= LM__TRIALS_MAX, LM_ERANGE, "%s: too many brackets",
                 h->base.ops->name);
        int c = h->cap_inst ? 2 * h->cap_inst : 16;
        while (c < h->n_inst + k) c *= 2;
        hb_inst *v = realloc(h->inst, (size_t)c * sizeof *v);
        LM_CHECK_ALLOC(v);
        h->inst = v;
        h->cap_inst = c;
    }
    int need = 0;
    for (int s = h->s_hi; s >= h->s_lo; s--) need += s + 1;
    if (h->n_rungs + need > h->cap_rungs) {
        LM_CHECK(h->n_rungs + need <= LM__TRIALS_MAX * 2, LM_ERANGE, "%s: too many rungs",
                 h->base.ops->name);
        int c = h->cap_rungs ? 2 * h->cap_rungs : 64;
        while (c < h->n_rungs + need) c *= 2;
        hb_rung *v = realloc(h->rungs, (size_t)c * sizeof *v);
        LM_CHECK_ALLOC(v);
        h->rungs = v;
        h->cap_rungs = c;
    }
    for (int s = h->s_hi; s >= h->s_lo; s--) {
        hb_inst *in = &h->inst[h->n_inst++];
        memset(in, 0, sizeof *in);
        in->s = s;
        in->pass = h->passes;
        in->first = h->n_order;
        in->rung0 = h->n_rungs;
        memset(&h->rungs[h->n_rungs], 0, (size_t)(s + 1) * sizeof *h->rungs);
        h->n_rungs += s + 1;
    }
    h->passes++;
    return LM_OK;
}

/* Configurations rung i keeps for rung i+1: the plan's n_{i+1} for a full bracket,
 * max(1, floor(n' eta^-(i+1))) for one the cap cut to n' configurations. */
static int keep(const hyperband *h, const hb_inst *in, int i) {
    int k = in->issued;
    for (int j = 0; j <= i; j++) k /= h->eta;
    return k > 0 ? k : 1;
}

static int rung_complete(const hyperband *h, const hb_inst *in, int i) {
    const hb_rung *g = &h->rungs[in->rung0 + i];
    int filled = i == 0 ? in->closed : h->rungs[in->rung0 + i - 1].decided;
    return filled && !g->decided && g->ended == g->size;
}

typedef struct ranked {
    int id, dead;
    double value;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    return lm__mf_cmp(x->value, x->dead, x->id, y->value, y->dead, y->id);
}

/* Successive halving at rung i of instance g: the best keep() alive members move up
 * (queued for resuming, best first), the other alive ones are stopped. */
static int decide(hyperband *h, lm_trials *t, int g, int i) {
    hb_inst *in = &h->inst[g];
    hb_rung *rg = &h->rungs[in->rung0 + i];
    ranked *v = malloc((size_t)(rg->size > 0 ? rg->size : 1) * sizeof *v);
    LM_CHECK_ALLOC(v);
    int m = 0;
    for (int j = 0; j < in->issued; j++) {
        int id = h->order[in->first + j];
        const lm__mf_trial *b = &h->book.v[id];
        if (b->rung == i && m < rg->size) v[m++] = (ranked){id, b->dead, b->value};
    }
    qsort(v, (size_t)m, sizeof *v, cmp_ranked);
    int k = keep(h, in, i), promoted = 0, rc = LM_OK;
    rc = lm__mf_reserve_ints(&h->queue, &h->cap_queue, h->n_queue + k);
    for (int j = 0; rc == LM_OK && j < m; j++) {
        lm__mf_trial *b = &h->book.v[v[j].id];
        if (b->dead) continue;
        if (promoted < k) {
            rc = lm_trials_add_promotion(t, v[j].id, i + 1);
            if (rc < 0) break;
            b->rung = i + 1;
            b->state = LM__MF_QUEUED;
            h->queue[h->n_queue++] = v[j].id;
            promoted++;
        } else {
            b->state = LM__MF_FINISHED;
            lm__mf_stop(t, v[j].id, "not promoted: ranked %d of %d in rung %d of bracket %d "
                        "(%d promoted)", j + 1, m, i, bracket_id(h, in), k);
        }
    }
    free(v);
    LM_CALL(rc);
    rg->decided = 1;
    h->rungs[in->rung0 + i + 1].size = promoted;
    return LM_OK;
}

/* Decides every rung of instance g that is complete, bottom up (a rung left empty by
 * failures is complete at once). */
static int decide_ready(hyperband *h, lm_trials *t, int g) {
    hb_inst *in = &h->inst[g];
    for (int i = 0; i < in->s; i++)
        if (rung_complete(h, in, i)) LM_CALL(decide(h, t, g, i));
    return LM_OK;
}

/* Closes the first rung of instance g: it takes no more configurations. */
static void close_first_rung(hyperband *h, int g) {
    h->inst[g].closed = 1;
    while (h->open < h->n_inst && h->inst[h->open].closed) h->open++;
}

/* Counts the ended jobs in their rungs and makes the decisions they allow. */
static int drain(hyperband *h, lm_trials *t) {
    for (int k = 0; k < h->book.n_ended; k++) {
        const lm__mf_trial *b = &h->book.v[h->book.ended[k]];
        h->rungs[h->inst[b->group].rung0 + b->rung].ended++;
    }
    int n = h->book.n_ended;
    h->book.n_ended = 0;
    for (int k = 0; k < n; k++) LM_CALL(decide_ready(h, t, h->book.v[h->book.ended[k]].group));
    return LM_OK;
}

static int issue(hyperband *h, lm_trials *t, lm_job *out) {
    int g = h->open;
    hb_inst *in = &h->inst[g];
    LM_CALL(lm__mf_reserve_ints(&h->order, &h->cap_order, h->n_order + 1));
    int id;
    LM_CALL(lm__mf_new_trial(&h->book, &h->p, t, g, bracket_id(h, in), h->plan[in->s].r[0], &id));
    /* Instances take configurations one after the other, so each one's are contiguous. */
    if (in->issued == 0) in->first = h->n_order;
    h->order[h->n_order++] = id;
    in->issued++;
    h->rungs[in->rung0].size++;
    if (in->issued == h->plan[in->s].n[0]) close_first_rung(h, g);
    if (h->p.max_trials > 0 && h->n_order >= h->p.max_trials) {
        h->capped = 1;
        for (int j = h->open; j < h->n_inst; j++) close_first_rung(h, j);
    }
    out->kind = LM_JOB_NEW;
    out->trial_id = id;
    out->epochs = h->plan[in->s].r[0];
    return LM_OK;
}

static int hb_next_job(lm_searcher *base, lm_trials *t, lm_job *out) {
    hyperband *h = (hyperband *)base;
    LM_CALL(lm__searcher_check_table(base, t, h->n_hp));
    out->trial_id = -1;
    out->epochs = 0;
    LM_CALL(drain(h, t));
    for (;;) {
        if (h->head < h->n_queue) {
            int id = h->queue[h->head];
            const lm__mf_trial *b = &h->book.v[id];
            int epochs = h->plan[h->inst[b->group].s].r[b->rung];
            LM_CALL(lm__mf_resume(&h->book, t, id, epochs));
            if (++h->head == h->n_queue) h->head = h->n_queue = 0;
            out->kind = LM_JOB_RESUME;
            out->trial_id = id;
            out->epochs = epochs;
            return LM_OK;
        }
        if (h->open < h->n_inst) return issue(h, t, out);
        if (h->capped || (h->p.max_trials == 0 && h->passes > 0)) break;
        LM_CALL(new_pass(h));
    }
    out->kind = h->book.running > 0 ? LM_JOB_WAIT : LM_JOB_DONE;
    return LM_OK;
}

static lm_decision hb_on_report(lm_searcher *base, lm_trials *t, const lm_report *r) {
    hyperband *h = (hyperband *)base;
    (void)t;
    lm__mf_trial *b = lm__mf_get(&h->book, r->trial_id);
    lm_decision d = {LM_DECIDE_CONTINUE};
    if (!b || b->state != LM__MF_RUNNING) return d;
    const hb_inst *in = &h->inst[b->group];
    return lm__mf_report(b, r, h->plan[in->s].r[b->rung], b->rung == in->s);
}

static void hb_on_end(lm_searcher *base, lm_trials *t, int trial_id) {
    hyperband *h = (hyperband *)base;
    const lm__mf_trial *b = lm__mf_get(&h->book, trial_id);
    if (!b) return;
    lm__mf_end(&h->book, t, trial_id, b->rung == h->inst[b->group].s);
}

/* ---- save / load ----
 * Entries under "searcher/": the header, the plan's inputs (seed, epochs, eta,
 * rounding, brackets s_hi, s_lo; checked on load), counters, instance columns
 * (inst_s, inst_pass, inst_issued, inst_closed, inst_first), rung columns (rung_size,
 * rung_ended, rung_decided), order, queue, and the book. */

static int hb_save(const lm_searcher *base, lm_state_writer *w) {
    const hyperband *h = (const hyperband *)base;
    LM_CALL(lm__searcher_save_header(base, h->n_hp, w));
    LM_CALL(lm_state_put(w, "searcher/seed", LM_DT_U64, 1, &h->p.seed));
    LM_CALL(lm_state_put_i64(w, "searcher/epochs", h->p.epochs));
    LM_CALL(lm_state_put_i64(w, "searcher/eta", h->eta));
    LM_CALL(lm_state_put_i64(w, "searcher/rounding", h->table_rounding));
    LM_CALL(lm_state_put_i64(w, "searcher/s_hi", h->s_hi));
    LM_CALL(lm_state_put_i64(w, "searcher/s_lo", h->s_lo));
    LM_CALL(lm_state_put_i64(w, "searcher/max_trials", h->p.max_trials));
    LM_CALL(lm_state_put_i64(w, "searcher/passes", h->passes));
    LM_CALL(lm_state_put_i64(w, "searcher/capped", h->capped));
    int n = h->n_inst, most = n > h->n_rungs ? n : h->n_rungs;
    int *col = malloc((size_t)(most > 0 ? most : 1) * sizeof *col);
    LM_CHECK_ALLOC(col);
    int rc = LM_OK;
    static const char *const inames[] = {"searcher/inst_s", "searcher/inst_pass",
                                         "searcher/inst_issued", "searcher/inst_closed",
                                         "searcher/inst_first"};
    for (int f = 0; f < 5 && rc == LM_OK; f++) {
        for (int i = 0; i < n; i++) {
            const hb_inst *in = &h->inst[i];
            col[i] = f == 0 ? in->s : f == 1 ? in->pass : f == 2 ? in->issued
                   : f == 3 ? in->closed : in->first;
        }
        rc = lm__mf_put_ints(w, inames[f], col, n);
    }
    static const char *const rnames[] = {"searcher/rung_size", "searcher/rung_ended",
                                         "searcher/rung_decided"};
    for (int f = 0; f < 3 && rc == LM_OK; f++) {
        for (int i = 0; i < h->n_rungs; i++) {
            const hb_rung *g = &h->rungs[i];
            col[i] = f == 0 ? g->size : f == 1 ? g->ended : g->decided;
        }
        rc = lm__mf_put_ints(w, rnames[f], col, h->n_rungs);
    }
    free(col);
    LM_CALL(rc);
    LM_CALL(lm__mf_put_ints(w, "searcher/order", h->order, h->n_order));
    LM_CALL(lm__mf_put_ints(w, "searcher/queue", h->queue + h->head, h->n_queue - h->head));
    LM_CALL(lm__mf_book_save(&h->book, w));
    return LM_OK;
}

/* Checks the cross references a corrupt checkpoint could break. */
static int validate(const hyperband *h) {
    int rungs = 0, order = 0;
    for (int g = 0; g < h->n_inst; g++) {
        const hb_inst *in = &h->inst[g];
        LM_CHECK(in->s >= h->s_lo && in->s <= h->s_hi && in->pass == g / per_pass(h) &&
                     in->s == h->s_hi - g % per_pass(h) && in->issued <= h->plan[in->s].n[0],
                 LM_ECKPT, "checkpoint entry 'searcher/inst_s' (or inst_pass, inst_issued): "
                 "bracket instance %d is s = %d of pass %d with %d configurations", g, in->s,
                 in->pass, in->issued);
        LM_CHECK(in->issued == 0 || in->first == order, LM_ECKPT,
                 "checkpoint entry 'searcher/inst_first': instance %d starts at %d, expected %d",
                 g, in->first, order);
        order += in->issued;
        rungs += in->s + 1;
        for (int j = 0; j < in->issued; j++) {
            int id = h->order[in->first + j];
            LM_CHECK(id < h->book.n && h->book.v[id].group == g, LM_ECKPT,
                     "checkpoint entry 'searcher/order': trial %d is not booked in instance %d",
                     id, g);
        }
    }
    LM_CHECK(order == h->n_order && rungs == h->n_rungs && h->passes * per_pass(h) == h->n_inst,
             LM_ECKPT, "checkpoint entries 'searcher/order', 'searcher/rung_size' and "
             "'searcher/passes' disagree with the bracket instances");
    for (int i = 0; i < h->n_rungs; i++)
        LM_CHECK(h->rungs[i].ended <= h->rungs[i].size, LM_ECKPT,
                 "checkpoint entry 'searcher/rung_ended'[%d] is %d, more than its %d members", i,
                 h->rungs[i].ended, h->rungs[i].size);
    for (int q = 0; q < h->n_queue; q++)
        LM_CHECK(h->queue[q] < h->book.n && h->book.v[h->queue[q]].state == LM__MF_QUEUED,
                 LM_ECKPT, "checkpoint entry 'searcher/queue' names trial %d, which is not "
                 "waiting to be resumed", h->queue[q]);
    for (int i = 0; i < h->book.n; i++) {
        const lm__mf_trial *b = &h->book.v[i];
        LM_CHECK(b->group < h->n_inst && (b->group < 0 || b->rung <= h->inst[b->group].s),
                 LM_ECKPT, "checkpoint entry 'searcher/book/group' (or rung): trial %d is in "
                 "instance %d, rung %d", i, b->group, b->rung);
    }
    return LM_OK;
}

static int load_into(hyperband *h, lm_state_reader *r) {
    int64_t v;
    LM_CALL(lm__searcher_get_count(r, "searcher/passes", 0, LM__TRIALS_MAX, &v));
    h->passes = (int)v;
    LM_CALL(lm__searcher_get_count(r, "searcher/capped", 0, 1, &v));
    h->capped = (int)v;
    int n;
    LM_CALL(lm__mf_len(r, "searcher/inst_s", LM__TRIALS_MAX, &n));
    h->inst = calloc((size_t)(n ? n : 1), sizeof *h->inst);
    int *col = malloc((size_t)(n ? n : 1) * sizeof *col);
    int rc = LM_OK;
    if (!h->inst || !col)
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    h->n_inst = h->cap_inst = n;
    static const char *const inames[] = {"searcher/inst_s", "searcher/inst_pass",
                                         "searcher/inst_issued", "searcher/inst_closed",
                                         "searcher/inst_first"};
    const int hi[] = {LM_HB_RUNGS_MAX - 1, LM__TRIALS_MAX, LM__TRIALS_MAX, 1, LM__TRIALS_MAX};
    for (int f = 0; f < 5 && rc == LM_OK; f++) {
        rc = lm__mf_get_ints(r, inames[f], col, n, 0, hi[f]);
        for (int i = 0; rc == LM_OK && i < n; i++) {
            hb_inst *in = &h->inst[i];
            *(f == 0 ? &in->s : f == 1 ? &in->pass : f == 2 ? &in->issued
              : f == 3 ? &in->closed : &in->first) = col[i];
        }
    }
    free(col);
    LM_CALL(rc);
    int rungs = 0;
    for (int g = 0; g < n; g++) {
        h->inst[g].rung0 = rungs;
        rungs += h->inst[g].s + 1;
    }
    int m;
    LM_CALL(lm__mf_len(r, "searcher/rung_size", LM__TRIALS_MAX * 2, &m));
    LM_CHECK(m == rungs, LM_ECKPT, "checkpoint entry 'searcher/rung_size' has %d rungs, the "
             "bracket instances %d", m, rungs);
    h->rungs = calloc((size_t)(m ? m : 1), sizeof *h->rungs);
    col = malloc((size_t)(m ? m : 1) * sizeof *col);
    if (!h->rungs || !col)
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    h->n_rungs = h->cap_rungs = m;
    static const char *const rnames[] = {"searcher/rung_size", "searcher/rung_ended",
                                         "searcher/rung_decided"};
    for (int f = 0; f < 3 && rc == LM_OK; f++) {
        rc = lm__mf_get_ints(r, rnames[f], col, m, 0, f == 2 ? 1 : LM__TRIALS_MAX);
        for (int i = 0; rc == LM_OK && i < m; i++)
            *(f == 0 ? &h->rungs[i].size : f == 1 ? &h->rungs[i].ended : &h->rungs[i].decided) =
                col[i];
    }
    free(col);
    LM_CALL(rc);
    LM_CALL(lm__mf_len(r, "searcher/order", LM__TRIALS_MAX, &h->n_order));
    LM_CALL(lm__mf_reserve_ints(&h->order, &h->cap_order, h->n_order + 1));
    LM_CALL(lm__mf_get_ints(r, "searcher/order", h->order, h->n_order, 0, LM__TRIALS_MAX - 1));
    LM_CALL(lm__mf_len(r, "searcher/queue", LM__TRIALS_MAX, &h->n_queue));
    LM_CALL(lm__mf_reserve_ints(&h->queue, &h->cap_queue, h->n_queue + 1));
    LM_CALL(lm__mf_get_ints(r, "searcher/queue", h->queue, h->n_queue, 0, LM__TRIALS_MAX - 1));
    LM_CALL(lm__mf_book_load(&h->book, r, n, h->s_hi + 1));
    h->open = 0;
    while (h->open < h->n_inst && h->inst[h->open].closed) h->open++;
    LM_CALL(validate(h));
    return LM_OK;
}

static void free_state(hyperband *h) {
    lm__mf_book_fini(&h->book);
    free(h->inst);
    free(h->rungs);
    free(h->order);
    free(h->queue);
}

/* The plan's inputs must be this run's; max_trials comes from this run's configuration
 * (recorded in the checkpoint, not checked), so a resumed run may be given more. On
 * failure the searcher is unchanged. */
static int hb_load(lm_searcher *base, lm_state_reader *r) {
    hyperband *h = (hyperband *)base;
    LM_CALL(lm__searcher_check_header(base, h->n_hp, r));
    uint64_t seed;
    LM_CALL(lm_state_get(r, "searcher/seed", LM_DT_U64, 1, &seed));
    LM_CHECK(seed == h->p.seed, LM_ECKPT,
             "checkpoint entry 'searcher/seed' is %llu, but this run's seed is %llu",
             (unsigned long long)seed, (unsigned long long)h->p.seed);
    LM_CALL(lm__mf_check_same(r, "searcher/epochs", h->p.epochs, "epochs per trial"));
    LM_CALL(lm__mf_check_same(r, "searcher/eta", h->eta, "eta"));
    LM_CALL(lm__mf_check_same(r, "searcher/rounding", h->table_rounding, "rounding"));
    LM_CALL(lm__mf_check_same(r, "searcher/s_hi", h->s_hi, "largest bracket"));
    LM_CALL(lm__mf_check_same(r, "searcher/s_lo", h->s_lo, "smallest bracket"));
    hyperband tmp = *h;
    tmp.inst = NULL;
    tmp.rungs = NULL;
    tmp.order = tmp.queue = NULL;
    tmp.n_inst = tmp.cap_inst = tmp.n_rungs = tmp.cap_rungs = 0;
    tmp.n_order = tmp.cap_order = tmp.head = tmp.n_queue = tmp.cap_queue = 0;
    lm__mf_book_init(&tmp.book);
    int rc = load_into(&tmp, r);
    if (rc < 0) {
        free_state(&tmp);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    /* This run's cap decides whether more configurations follow. */
    if (tmp.p.max_trials > 0) {
        tmp.capped = tmp.n_order >= tmp.p.max_trials;
        for (int g = tmp.open; tmp.capped && g < tmp.n_inst; g++) close_first_rung(&tmp, g);
    }
    free_state(h);
    *h = tmp;
    return LM_OK;
}

static void hb_destroy(lm_searcher *base) {
    hyperband *h = (hyperband *)base;
    free_state(h);
    free(h);
}

const lm_searcher_ops lm__hyperband_ops = {
    .name = "hyperband",
    .options = hyperband_options,
    .create = hyperband_create,
    .next_job = hb_next_job,
    .on_report = hb_on_report,
    .on_end = hb_on_end,
    .save = hb_save,
    .load = hb_load,
    .destroy = hb_destroy,
};

const lm_searcher_ops lm__sha_ops = {
    .name = "sha",
    .options = sha_options,
    .create = sha_create,
    .next_job = hb_next_job,
    .on_report = hb_on_report,
    .on_end = hb_on_end,
    .save = hb_save,
    .load = hb_load,
    .destroy = hb_destroy,
};
