/* What the successive-halving searchers share: their plans (the Hyperband bracket table
 * and the ASHA rung ladder, computed in integers) and the book of their trials (see
 * sha_common.h for the pattern of calls it supports). */
#include "search/sha_common.h"

#include "lamarck/error.h"
#include "lamarck/search.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- plans ---- */

/* The largest s with eta^s <= R, and eta^k for k = 0..s in pw. Integer arithmetic: a
 * floating log_eta(81) may come out as 3.9999... and floor to 3. */
static int log_floor(int R, int eta, int64_t *pw, int cap) {
    int s = 0;
    pw[0] = 1;
    while (pw[s] <= R / eta) {
        LM_CHECK(s + 1 < cap, LM_ERANGE,
                 "hyperband: R = %d with eta = %d has more than %d brackets", R, eta, cap);
        pw[s + 1] = pw[s] * eta;
        s++;
    }
    return s;
}

/* Li et al. 2017, Algorithm 1 (and Table 1 for table_rounding); see search.h. */
int lm_hyperband_table(int R, int eta, int table_rounding, lm_hb_bracket *out, int cap) {
    LM_CHECK(R >= 1, LM_EINVAL, "hyperband: the maximum resource R must be >= 1 epoch, got %d", R);
    LM_CHECK(eta >= 2, LM_EINVAL, "hyperband: eta must be >= 2, got %d", eta);
    LM_CHECK(out || cap == 0, LM_EINVAL, "lm_hyperband_table: NULL output");
    int64_t pw[LM_HB_RUNGS_MAX + 1];
    int s_max = log_floor(R, eta, pw, LM_HB_RUNGS_MAX);
    LM_CALL(s_max);
    LM_CHECK(cap >= s_max + 1, LM_ERANGE,
             "hyperband: R = %d, eta = %d has %d brackets, room for %d", R, eta, s_max + 1, cap);
    for (int s = 0; s <= s_max; s++) {
        /* B/R = s_max + 1, so n = ceil(B/R eta^s / (s+1)); Table 1 floors the ratio. */
        int64_t n = table_rounding ? (int64_t)((s_max + 1) / (s + 1)) * pw[s]
                                   : ((int64_t)(s_max + 1) * pw[s] + s) / (s + 1);
        LM_CHECK(n <= LM__TRIALS_MAX, LM_ERANGE,
                 "hyperband: bracket s = %d of R = %d, eta = %d starts %lld configurations, more "
                 "than the %d one run can hold", s, R, eta, (long long)n, LM__TRIALS_MAX);
        lm_hb_bracket *b = &out[s];
        memset(b, 0, sizeof *b);
        b->s = s;
        b->n_rungs = s + 1;
        for (int i = 0; i <= s; i++) {
            b->n[i] = (int)(n / pw[i]);
            int64_t r = R / pw[s - i];
            b->r[i] = r >= 1 ? (int)r : 1;
        }
    }
    return s_max + 1;
}

int lm_asha_rungs(int R, int r_min, int eta, int s, int *r, int cap) {
    LM_CHECK(R >= 1 && r_min >= 1 && r_min <= R, LM_EINVAL,
             "asha: min_epochs must be 1 to the epochs per trial (%d), got %d", R, r_min);
    LM_CHECK(eta >= 2 && s >= 0, LM_EINVAL,
             "asha: eta must be >= 2 and the bracket >= 0, got %d, %d", eta, s);
    LM_CHECK(r || cap == 0, LM_EINVAL, "lm_asha_rungs: NULL output");
    int64_t x = r_min;
    for (int k = 0; k < s && x < R; k++) x *= eta;
    int n = 0;
    while (x < R) {
        LM_CHECK(n < cap, LM_ERANGE, "asha: bracket %d has more than %d rungs", s, cap);
        r[n++] = (int)x;
        x *= eta;
    }
    LM_CHECK(n < cap, LM_ERANGE, "asha: bracket %d has more than %d rungs", s, cap);
    r[n++] = R;
    return n;
}

/* ---- the book ---- */

void lm__mf_book_init(lm__mf_book *b) { memset(b, 0, sizeof *b); }

void lm__mf_book_fini(lm__mf_book *b) {
    if (!b) return;
    free(b->v);
    free(b->ended);
    memset(b, 0, sizeof *b);
}

int lm__mf_reserve_ints(int **v, int *cap, int want) {
    if (want <= *cap) return LM_OK;
    LM_CHECK(want <= LM__TRIALS_MAX * 2, LM_ERANGE, "searcher: more than %d entries in a list",
             LM__TRIALS_MAX * 2);
    int c = *cap ? *cap : 16;
    while (c < want) c *= 2;
    int *p = realloc(*v, (size_t)c * sizeof *p);
    LM_CHECK_ALLOC(p);
    *v = p;
    *cap = c;
    return LM_OK;
}

/* Makes entries 0 .. n-1 exist; new ones are not ours. */
static int book_cover(lm__mf_book *b, int n) {
    if (n <= b->n) return LM_OK;
    if (n > b->cap) {
        LM_CHECK(n <= LM__TRIALS_MAX, LM_ERANGE, "searcher: more than %d trials", LM__TRIALS_MAX);
        int c = b->cap ? b->cap : 64;
        while (c < n) c = c > LM__TRIALS_MAX / 2 ? LM__TRIALS_MAX : 2 * c;
        lm__mf_trial *v = realloc(b->v, (size_t)c * sizeof *v);
        LM_CHECK_ALLOC(v);
        b->v = v;
        b->cap = c;
    }
    for (int i = b->n; i < n; i++) {
        memset(&b->v[i], 0, sizeof b->v[i]);
        b->v[i].group = -1;
        b->v[i].value = -INFINITY;
    }
    b->n = n;
    return LM_OK;
}

lm__mf_trial *lm__mf_get(lm__mf_book *b, int id) {
    if (id < 0 || id >= b->n || b->v[id].group < 0) return NULL;
    return &b->v[id];
}

/* One more job in flight: room for its end on the ended list first. */
static int book_start(lm__mf_book *b, lm__mf_trial *m) {
    LM_CALL(lm__mf_reserve_ints(&b->ended, &b->cap_ended, b->running + b->n_ended + 1));
    m->state = LM__MF_RUNNING;
    m->reached = 0;
    b->running++;
    return LM_OK;
}

int lm__mf_new_trial(lm__mf_book *b, const lm_search_params *p, lm_trials *t, int group,
                     int bracket_id, int epochs, int *id) {
    int k = t->n;
    lm_rng rng;
    lm_rng_init(&rng, p->seed, (uint64_t)k, LM_STREAM_SAMPLE);
    double x[LM_HP_MAX];
    lm_space_sample(p->space, &rng, x);
    LM_CALL(book_cover(b, k + 1));
    LM_CALL(lm__mf_reserve_ints(&b->ended, &b->cap_ended, b->running + b->n_ended + 1));
    LM_CALL(lm_trials_add(t, x, epochs, id));
    LM_CHECK(*id == k, LM_EINTERNAL, "searcher: the trial table gave id %d, expected %d", *id, k);
    lm_trial *tr = &t->v[k];
    tr->bracket = bracket_id;
    tr->rung = 0;
    lm__mf_trial *m = &b->v[k];
    m->group = group;
    m->rung = 0;
    m->dead = 0;
    m->value = -INFINITY;
    LM_CALL(book_start(b, m));
    return LM_OK;
}

int lm__mf_resume(lm__mf_book *b, lm_trials *t, int id, int epochs) {
    lm__mf_trial *m = lm__mf_get(b, id);
    LM_CHECK(m && id < t->n, LM_EINTERNAL, "searcher: resuming trial %d, which is not its own", id);
    LM_CALL(book_start(b, m));
    m->value = -INFINITY;
    t->v[id].epochs_target = epochs;
    return LM_OK;
}

lm_decision lm__mf_report(lm__mf_trial *m, const lm_report *r, int budget, int top) {
    lm_decision d = {LM_DECIDE_CONTINUE};
    if (r->epoch < budget) return d;
    m->reached = 1;
    m->value = isnan(r->val_accuracy) ? -INFINITY : r->val_accuracy;
    /* The controller marks the trial PAUSED once the worker has kept its state. */
    if (!top) d.kind = LM_DECIDE_PAUSE;
    return d;
}

int lm__mf_end(lm__mf_book *b, lm_trials *t, int id, int at_top) {
    lm__mf_trial *m = lm__mf_get(b, id);
    lm_trial *tr = lm_trials_get(t, id);
    if (!m || !tr || m->state != LM__MF_RUNNING) return 0;
    b->running--;
    b->ended[b->n_ended++] = id; /* room reserved when the job started */
    int kept = at_top ? tr->status == LM_TRIAL_DONE : tr->status == LM_TRIAL_PAUSED;
    if (m->reached && kept) {
        m->state = at_top ? LM__MF_FINISHED : LM__MF_WAITING;
        return 1;
    }
    m->dead = 1;
    m->value = -INFINITY;
    m->state = LM__MF_FINISHED;
    if (tr->status != LM_TRIAL_FAILED && tr->status != LM_TRIAL_STOPPED)
        lm__mf_stop(t, id, "its job ended in rung %d at epoch %d without keeping its state",
                    m->rung, tr->epochs);
    return 1;
}

int lm__mf_cmp(double va, int deada, int ida, double vb, int deadb, int idb) {
    if (deada != deadb) return deada ? 1 : -1;
    if (va != vb) return va > vb ? -1 : 1;
    return ida < idb ? -1 : ida > idb;
}

void lm__mf_stop(lm_trials *t, int id, const char *fmt, ...) {
    lm_trial *tr = lm_trials_get(t, id);
    if (!tr) return;
    tr->status = LM_TRIAL_STOPPED;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tr->reason, sizeof tr->reason, fmt, ap);
    va_end(ap);
    if (isnan(tr->t_end) && t->n_curves) tr->t_end = t->curves[t->n_curves - 1].t;
}

/* ---- checkpoints ---- */

int lm__mf_put_ints(lm_state_writer *w, const char *name, const int *v, int n) {
    int32_t *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
    LM_CHECK_ALLOC(buf);
    for (int i = 0; i < n; i++) buf[i] = v[i];
    int rc = lm_state_put(w, name, LM_DT_I32, (size_t)n, buf);
    free(buf);
    LM_CALL(rc);
    return LM_OK;
}

int lm__mf_len(lm_state_reader *r, const char *name, int max, int *n) {
    size_t len;
    LM_CALL(lm_state_len(r, name, LM_DT_I32, &len));
    LM_CHECK(len <= (size_t)max, LM_ECKPT, "checkpoint entry '%s' has %zu elements, at most %d",
             name, len, max);
    *n = (int)len;
    return LM_OK;
}

int lm__mf_get_ints(lm_state_reader *r, const char *name, int *v, int n, int lo, int hi) {
    size_t len;
    LM_CALL(lm_state_len(r, name, LM_DT_I32, &len));
    LM_CHECK(len == (size_t)n, LM_ECKPT, "checkpoint entry '%s' has %zu elements, expected %d",
             name, len, n);
    int32_t *buf = malloc((size_t)(n > 0 ? n : 1) * sizeof *buf);
    LM_CHECK_ALLOC(buf);
    int rc = lm_state_get(r, name, LM_DT_I32, (size_t)n, buf);
    for (int i = 0; rc == LM_OK && i < n; i++) {
        if (buf[i] < lo || buf[i] > hi)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                              "checkpoint entry '%s'[%d] is %d, expected %d to %d", name, i,
                              (int)buf[i], lo, hi);
        v[i] = buf[i];
    }
    free(buf);
    LM_CALL(rc);
    return LM_OK;
}

int lm__mf_check_same(lm_state_reader *r, const char *name, int64_t want, const char *what) {
    int64_t have;
    LM_CALL(lm_state_get_i64(r, name, &have));
    LM_CHECK(have == want, LM_ECKPT, "checkpoint entry '%s' is %lld, but this run's %s is %lld",
             name, (long long)have, what, (long long)want);
    return LM_OK;
}

/* Column layout of the book: one entry per field, n elements each. */
int lm__mf_book_save(const lm__mf_book *b, lm_state_writer *w) {
    int n = b->n;
    int *col = malloc((size_t)(n > 0 ? n : 1) * sizeof *col);
    double *val = malloc((size_t)(n > 0 ? n : 1) * sizeof *val);
    int rc = LM_OK;
    if (!col || !val) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto out;
    }
    static const char *const names[] = {"searcher/book/group", "searcher/book/rung",
                                        "searcher/book/state", "searcher/book/dead",
                                        "searcher/book/reached"};
    for (int f = 0; f < 5; f++) {
        for (int i = 0; i < n; i++) {
            const lm__mf_trial *m = &b->v[i];
            col[i] = f == 0 ? m->group : f == 1 ? m->rung : f == 2 ? m->state
                   : f == 3 ? m->dead : m->reached;
        }
        LM_CALL_GOTO(rc, lm__mf_put_ints(w, names[f], col, n), out);
    }
    for (int i = 0; i < n; i++) val[i] = b->v[i].value;
    LM_CALL_GOTO(rc, lm_state_put(w, "searcher/book/value", LM_DT_F64, (size_t)n, val), out);
    LM_CALL_GOTO(rc, lm__mf_put_ints(w, "searcher/book/ended", b->ended, b->n_ended), out);
out:
    free(col);
    free(val);
    return rc;
}

static int book_read(lm__mf_book *b, lm_state_reader *r, int n_groups, int max_rungs,
                     int *col, double *val) {
    int n = b->n;
    static const char *const names[] = {"searcher/book/group", "searcher/book/rung",
                                        "searcher/book/state", "searcher/book/dead",
                                        "searcher/book/reached"};
    const int lo[] = {-1, 0, LM__MF_NONE, 0, 0};
    const int hi[] = {n_groups - 1, max_rungs - 1, LM__MF_FINISHED, 1, 1};
    for (int f = 0; f < 5; f++) {
        LM_CALL(lm__mf_get_ints(r, names[f], col, n, lo[f], hi[f]));
        for (int i = 0; i < n; i++) {
            lm__mf_trial *m = &b->v[i];
            if (f == 0) m->group = col[i];
            else if (f == 1) m->rung = col[i];
            else if (f == 2) m->state = col[i];
            else if (f == 3) m->dead = col[i];
            else m->reached = col[i];
        }
    }
    size_t len;
    LM_CALL(lm_state_len(r, "searcher/book/value", LM_DT_F64, &len));
    LM_CHECK(len == (size_t)n, LM_ECKPT,
             "checkpoint entry 'searcher/book/value' has %zu elements, expected %d", len, n);
    LM_CALL(lm_state_get(r, "searcher/book/value", LM_DT_F64, (size_t)n, val));
    b->running = 0;
    for (int i = 0; i < n; i++) {
        lm__mf_trial *m = &b->v[i];
        m->value = val[i];
        LM_CHECK(!isnan(m->value) && (m->group >= 0) == (m->state != LM__MF_NONE), LM_ECKPT,
                 "checkpoint entry 'searcher/book/state': trial %d is in group %d with state %d "
                 "and value %g", i, m->group, m->state, m->value);
        b->running += m->state == LM__MF_RUNNING;
    }
    int n_ended = 0;
    LM_CALL(lm__mf_len(r, "searcher/book/ended", n, &n_ended));
    LM_CALL(lm__mf_reserve_ints(&b->ended, &b->cap_ended, b->running + n_ended + 1));
    LM_CALL(lm__mf_get_ints(r, "searcher/book/ended", b->ended, n_ended, 0, n - 1));
    b->n_ended = n_ended;
    for (int i = 0; i < n_ended; i++)
        LM_CHECK(b->v[b->ended[i]].group >= 0, LM_ECKPT,
                 "checkpoint entry 'searcher/book/ended' names trial %d, not this searcher's",
                 b->ended[i]);
    return LM_OK;
}

int lm__mf_book_load(lm__mf_book *b, lm_state_reader *r, int n_groups, int max_rungs) {
    int n = 0;
    LM_CALL(lm__mf_len(r, "searcher/book/group", LM__TRIALS_MAX, &n));
    lm__mf_book_fini(b);
    LM_CALL(book_cover(b, n));
    int *col = malloc((size_t)(n > 0 ? n : 1) * sizeof *col);
    double *val = malloc((size_t)(n > 0 ? n : 1) * sizeof *val);
    int rc = col && val ? book_read(b, r, n_groups, max_rungs, col, val)
                        : lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    free(col);
    free(val);
    if (rc < 0) lm__mf_book_fini(b);
    LM_CALL(rc);
    return LM_OK;
}
