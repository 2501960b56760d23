/* The trial table: every trial the controller has created, by id, with a copy of its
 * point in the space, its running metrics, and the learning-curve rows in the order
 * reports arrived.
 *
 * Storage. Trials live in one growable array (v), their points in another (hp_store,
 * cap x n_hp doubles, row id for trial id). Each trial's hp pointer points at its row;
 * when hp_store is reallocated every hp pointer is recomputed (repoint()), so a
 * pointer taken from lm_trials_get() stays valid until the next lm_trials_add() or
 * lm_trials_load() on the same table, and trial->hp itself is always valid.
 *
 * Checkpoint layout (under a prefix P, "P/name"): scalars n_hp, n, n_curves (i64);
 * one typed column per trial field (n elements each), hp (n x n_hp, row-major),
 * reasons as one string with a column of lengths, one typed column per curve field
 * (n_curves elements each). Ids are implicit: trial i has id i.
 */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds on what a table (and so a checkpoint) may hold, so that a corrupt file is an
 * error message rather than a huge allocation. */
#define TRIALS_MAX LM__TRIALS_MAX
#define CURVES_MAX ((size_t)1 << 27)
#define NAME_MAX_LEN 256

const char *lm_trial_status_name(lm_trial_status s) {
    switch (s) {
    case LM_TRIAL_PENDING: return "pending";
    case LM_TRIAL_RUNNING: return "running";
    case LM_TRIAL_DONE: return "done";
    case LM_TRIAL_STOPPED: return "stopped";
    case LM_TRIAL_FAILED: return "failed";
    case LM_TRIAL_PAUSED: return "paused";
    }
    return "unknown";
}

/* ---- the table ---- */

/* Initializes an empty table for points of n_hp entries (0 <= n_hp <= LM_HP_MAX).
 * Allocates nothing until the first trial is added. */
int lm_trials_init(lm_trials *t, int n_hp) {
    LM_CHECK(t != NULL, LM_EINVAL, "lm_trials_init: NULL table");
    memset(t, 0, sizeof *t);
    LM_CHECK(n_hp >= 0 && n_hp <= LM_HP_MAX, LM_EINVAL,
             "trial table: %d hyperparameters, expected 0 to %d", n_hp, LM_HP_MAX);
    t->n_hp = n_hp;
    return LM_OK;
}

/* Frees everything the table owns; the table may be initialized again afterwards. */
void lm_trials_fini(lm_trials *t) {
    if (!t) return;
    free(t->v);
    free(t->hp_store);
    free(t->curves);
    free(t->pop); /* population snapshots (issue 7) */
    free(t->promotions); /* promotions (issue 5) */
    free(t->pbt);        /* pbt events (issue 6) */
    free(t->pbt_hp);
    int n_hp = t->n_hp;
    memset(t, 0, sizeof *t);
    t->n_hp = n_hp;
}

/* Points every trial's hp at its row of hp_store; needed after hp_store moves. */
static void repoint(lm_trials *t) {
    for (int i = 0; i < t->n; i++) t->v[i].hp = t->hp_store + (size_t)i * (size_t)t->n_hp;
}

/* Makes room for at least want trials. */
static int reserve_trials(lm_trials *t, int want) {
    if (want <= t->cap) return LM_OK;
    LM_CHECK(want <= TRIALS_MAX, LM_ERANGE, "trial table is full (%d trials at most)",
             TRIALS_MAX);
    int cap = t->cap ? t->cap : 16;
    while (cap < want) cap = cap > TRIALS_MAX / 2 ? TRIALS_MAX : 2 * cap;
    lm_trial *v = realloc(t->v, (size_t)cap * sizeof *v);
    LM_CHECK_ALLOC(v);
    t->v = v;
    /* At least one element so hp pointers are never NULL, even with n_hp == 0. */
    size_t hp_n = (size_t)cap * (size_t)t->n_hp;
    double *hp = realloc(t->hp_store, (hp_n ? hp_n : 1) * sizeof *hp);
    /* v grew but cap did not: the table is still consistent at its old capacity. */
    LM_CHECK(hp != NULL, LM_ENOMEM, "out of memory growing the trial table to %d trials", cap);
    t->hp_store = hp;
    t->cap = cap;
    repoint(t);
    return LM_OK;
}

static int reserve_curves(lm_trials *t, size_t want) {
    if (want <= t->cap_curves) return LM_OK;
    LM_CHECK(want <= CURVES_MAX, LM_ERANGE, "trial table holds too many curve rows (%zu at most)",
             CURVES_MAX);
    size_t cap = t->cap_curves ? t->cap_curves : 64;
    while (cap < want) cap = cap > CURVES_MAX / 2 ? CURVES_MAX : 2 * cap;
    lm_curve_row *c = realloc(t->curves, cap * sizeof *c);
    LM_CHECK_ALLOC(c);
    t->curves = c;
    t->cap_curves = cap;
    return LM_OK;
}

static void trial_clear(lm_trial *tr, int id) {
    memset(tr, 0, sizeof *tr);
    tr->id = id;
    tr->status = LM_TRIAL_PENDING;
    tr->worker = -1;
    tr->best_val_accuracy = NAN;
    tr->final_val_accuracy = NAN;
    tr->final_val_loss = NAN;
    tr->final_train_loss = NAN;
    tr->test_accuracy = NAN;
    tr->test_loss = NAN;
    tr->t_start = NAN;
    tr->t_end = NAN;
    /* lineage and cost objectives (issue 7) */
    tr->parent[0] = tr->parent[1] = -1;
    tr->origin = LM_ORIGIN_SAMPLED;
    tr->flops = NAN;
    tr->latency = NAN;
    /* multi-fidelity (issue 5) */
    tr->bracket = -1;
    tr->rung = -1;
    /* population-based training (issue 6) */
    tr->member = -1;
}

/* Adds a pending trial (worker -1, no epochs, metrics and times NAN) with a copy of the
 * n_hp entries of hp (hp may be NULL when n_hp is 0). Sets *id to its id, the number of
 * trials before it. Growing the table recomputes every trial's hp pointer. */
int lm_trials_add(lm_trials *t, const double *hp, int epochs_target, int *id) {
    LM_CHECK(t && id, LM_EINVAL, "lm_trials_add: NULL argument");
    LM_CHECK(hp || t->n_hp == 0, LM_EINVAL, "lm_trials_add: NULL point for %d hyperparameters",
             t->n_hp);
    LM_CHECK(epochs_target >= 0, LM_EINVAL, "lm_trials_add: epochs_target %d < 0", epochs_target);
    LM_CALL(reserve_trials(t, t->n + 1));
    int k = t->n;
    lm_trial *tr = &t->v[k];
    trial_clear(tr, k);
    tr->epochs_target = epochs_target;
    tr->hp = t->hp_store + (size_t)k * (size_t)t->n_hp;
    if (t->n_hp) memcpy(tr->hp, hp, (size_t)t->n_hp * sizeof *hp);
    t->n++;
    *id = k;
    return LM_OK;
}

lm_trial *lm_trials_get(lm_trials *t, int id) {
    if (!t || id < 0 || id >= t->n) return NULL;
    return &t->v[id];
}

/* Length of a possibly unterminated fixed-size string. */
static size_t bounded_len(const char *s, size_t cap) {
    size_t n = 0;
    while (n < cap && s[n]) n++;
    return n;
}

/* Records one report. Rules, so that a controller bug shows up as an error rather than
 * as a silently wrong table:
 *  - the trial must exist, and not be stopped or failed;
 *  - r->epoch must be the trial's next epoch (epochs + 1): no row is recorded twice
 *    and none is skipped; with epochs_target > 0 it may not go past the target.
 * A successful report appends a curve row (t = now), advances epochs, updates the
 * final and best metrics, params and train_seconds; the first report of a pending
 * trial makes it running (t_start = now - seconds when unset), and the report of its
 * target epoch makes it done (t_end = now). A failed report (r->failed) marks the trial
 * failed with r->reason ("failed in epoch N" when empty) and t_end = now; it adds its
 * seconds to train_seconds but no curve row, and epochs stays the number of completed
 * epochs. A trial whose target was raised after it was done runs again. */
int lm_trials_record(lm_trials *t, const lm_report *r, double now) {
    LM_CHECK(t && r, LM_EINVAL, "lm_trials_record: NULL argument");
    LM_CHECK(r->trial_id >= 0 && r->trial_id < t->n, LM_EINVAL,
             "report for unknown trial %d (the table has trials 0 to %d)", r->trial_id,
             t->n - 1);
    lm_trial *tr = &t->v[r->trial_id];
    LM_CHECK(tr->status != LM_TRIAL_STOPPED && tr->status != LM_TRIAL_FAILED, LM_EINVAL,
             "report for trial %d epoch %d, but the trial is %s", tr->id, r->epoch,
             lm_trial_status_name(tr->status));
    LM_CHECK(r->epoch == tr->epochs + 1, LM_EINVAL,
             "report for trial %d epoch %d, but its next epoch is %d (%d recorded)", tr->id,
             r->epoch, tr->epochs + 1, tr->epochs);
    LM_CHECK(tr->epochs_target <= 0 || r->epoch <= tr->epochs_target, LM_EINVAL,
             "report for trial %d epoch %d, past its target of %d epochs", tr->id, r->epoch,
             tr->epochs_target);
    if (!r->failed) LM_CALL(reserve_curves(t, t->n_curves + 1));

    if (tr->status == LM_TRIAL_PENDING || tr->status == LM_TRIAL_DONE ||
        tr->status == LM_TRIAL_PAUSED) {
        tr->status = LM_TRIAL_RUNNING;
        if (isnan(tr->t_start)) tr->t_start = now - (isfinite(r->seconds) ? r->seconds : 0);
    }
    if (isfinite(r->seconds) && r->seconds > 0) tr->train_seconds += r->seconds;
    if (r->params > 0) tr->params = r->params;
    /* cost objectives (issue 7): 0 or NAN means the worker did not measure them */
    if (isfinite(r->flops) && r->flops > 0) tr->flops = r->flops;
    if (isfinite(r->latency) && r->latency > 0) tr->latency = r->latency;
    if (r->failed) {
        tr->status = LM_TRIAL_FAILED;
        tr->t_end = now;
        size_t len = bounded_len(r->reason, LM_REASON_MAX - 1);
        if (len) {
            memcpy(tr->reason, r->reason, len);
            tr->reason[len] = 0;
        } else {
            snprintf(tr->reason, sizeof tr->reason, "failed in epoch %d", r->epoch);
        }
        return LM_OK;
    }

    lm_curve_row *c = &t->curves[t->n_curves++];
    c->trial_id = tr->id;
    c->epoch = r->epoch;
    c->train_loss = r->train_loss;
    c->train_accuracy = r->train_accuracy;
    c->val_loss = r->val_loss;
    c->val_accuracy = r->val_accuracy;
    c->seconds = r->seconds;
    c->lr = r->lr;
    c->t = now;

    tr->epochs = r->epoch;
    tr->final_val_accuracy = r->val_accuracy;
    tr->final_val_loss = r->val_loss;
    tr->final_train_loss = r->train_loss;
    if (!isnan(r->val_accuracy) &&
        (isnan(tr->best_val_accuracy) || r->val_accuracy > tr->best_val_accuracy))
        tr->best_val_accuracy = r->val_accuracy;
    if (tr->epochs_target > 0 && tr->epochs == tr->epochs_target) {
        tr->status = LM_TRIAL_DONE;
        tr->t_end = now;
    }
    return LM_OK;
}

int lm_trials_count(const lm_trials *t, lm_trial_status s) {
    int c = 0;
    for (int i = 0; t && i < t->n; i++) c += t->v[i].status == s;
    return c;
}

/* Ties go to the lower id; trials without a validation accuracy are never best. */
int lm_trials_best(const lm_trials *t) {
    int best = -1;
    for (int i = 0; t && i < t->n; i++) {
        const lm_trial *tr = &t->v[i];
        if (tr->status != LM_TRIAL_DONE && tr->status != LM_TRIAL_STOPPED) continue;
        if (isnan(tr->best_val_accuracy)) continue;
        if (best < 0 || tr->best_val_accuracy > t->v[best].best_val_accuracy) best = i;
    }
    return best;
}

/* ---- columns ---- */

typedef struct column {
    const char *name;
    lm_dtype t;   /* LM_DT_I32 for int fields, LM_DT_I64 for int64_t, LM_DT_F64 for double */
    size_t off;
} column;

/* status is an enum and is saved as its own i32 column; ids are implicit. */
static const column trial_cols[] = {
    {"worker", LM_DT_I32, offsetof(lm_trial, worker)},
    {"epochs", LM_DT_I32, offsetof(lm_trial, epochs)},
    {"epochs_target", LM_DT_I32, offsetof(lm_trial, epochs_target)},
    {"params", LM_DT_I64, offsetof(lm_trial, params)},
    {"best_val_accuracy", LM_DT_F64, offsetof(lm_trial, best_val_accuracy)},
    {"final_val_accuracy", LM_DT_F64, offsetof(lm_trial, final_val_accuracy)},
    {"final_val_loss", LM_DT_F64, offsetof(lm_trial, final_val_loss)},
    {"final_train_loss", LM_DT_F64, offsetof(lm_trial, final_train_loss)},
    {"test_accuracy", LM_DT_F64, offsetof(lm_trial, test_accuracy)},
    {"test_loss", LM_DT_F64, offsetof(lm_trial, test_loss)},
    {"t_start", LM_DT_F64, offsetof(lm_trial, t_start)},
    {"t_end", LM_DT_F64, offsetof(lm_trial, t_end)},
    {"train_seconds", LM_DT_F64, offsetof(lm_trial, train_seconds)},
    /* lineage and cost objectives (issue 7); mutated is a uint64_t saved as i64 bits */
    {"parent0", LM_DT_I32, offsetof(lm_trial, parent[0])},
    {"parent1", LM_DT_I32, offsetof(lm_trial, parent[1])},
    {"origin", LM_DT_I32, offsetof(lm_trial, origin)},
    {"mutated", LM_DT_I64, offsetof(lm_trial, mutated)},
    {"generation", LM_DT_I32, offsetof(lm_trial, generation)},
    {"flops", LM_DT_F64, offsetof(lm_trial, flops)},
    {"latency", LM_DT_F64, offsetof(lm_trial, latency)},
    /* multi-fidelity (issue 5) */
    {"bracket", LM_DT_I32, offsetof(lm_trial, bracket)},
    {"rung", LM_DT_I32, offsetof(lm_trial, rung)},
    /* population-based training (issue 6) */
    {"member", LM_DT_I32, offsetof(lm_trial, member)},
};

static const column curve_cols[] = {
    {"curve_trial", LM_DT_I32, offsetof(lm_curve_row, trial_id)},
    {"curve_epoch", LM_DT_I32, offsetof(lm_curve_row, epoch)},
    {"curve_train_loss", LM_DT_F64, offsetof(lm_curve_row, train_loss)},
    {"curve_train_accuracy", LM_DT_F64, offsetof(lm_curve_row, train_accuracy)},
    {"curve_val_loss", LM_DT_F64, offsetof(lm_curve_row, val_loss)},
    {"curve_val_accuracy", LM_DT_F64, offsetof(lm_curve_row, val_accuracy)},
    {"curve_seconds", LM_DT_F64, offsetof(lm_curve_row, seconds)},
    {"curve_lr", LM_DT_F64, offsetof(lm_curve_row, lr)},
    {"curve_t", LM_DT_F64, offsetof(lm_curve_row, t)},
};

#define N_TRIAL_COLS (sizeof trial_cols / sizeof *trial_cols)
#define N_CURVE_COLS (sizeof curve_cols / sizeof *curve_cols)

static int entry_name(char *buf, const char *prefix, const char *name) {
    int len = prefix && *prefix ? snprintf(buf, NAME_MAX_LEN, "%s/%s", prefix, name)
                                : snprintf(buf, NAME_MAX_LEN, "%s", name);
    LM_CHECK(len > 0 && len < NAME_MAX_LEN, LM_EINVAL, "state entry name '%s/%s' is too long",
             prefix ? prefix : "", name);
    return LM_OK;
}

/* Gathers field c of n structs of size stride at base into the flat array col. */
static void gather(const column *c, const void *base, size_t stride, size_t n, void *col) {
    if (n == 0) return; /* base may be NULL for an empty table */
    const char *p = (const char *)base + c->off;
    for (size_t i = 0; i < n; i++, p += stride) {
        if (c->t == LM_DT_I32) ((int32_t *)col)[i] = *(const int *)(const void *)p;
        else if (c->t == LM_DT_I64) ((int64_t *)col)[i] = *(const int64_t *)(const void *)p;
        else ((double *)col)[i] = *(const double *)(const void *)p;
    }
}

static void scatter(const column *c, void *base, size_t stride, size_t n, const void *col) {
    if (n == 0) return; /* base may be NULL for an empty table */
    char *p = (char *)base + c->off;
    for (size_t i = 0; i < n; i++, p += stride) {
        if (c->t == LM_DT_I32) *(int *)(void *)p = ((const int32_t *)col)[i];
        else if (c->t == LM_DT_I64) *(int64_t *)(void *)p = ((const int64_t *)col)[i];
        else *(double *)(void *)p = ((const double *)col)[i];
    }
}

static int put_cols(lm_state_writer *w, const char *prefix, const column *cols, size_t ncols,
                    const void *base, size_t stride, size_t n, void *scratch) {
    char name[NAME_MAX_LEN];
    for (size_t j = 0; j < ncols; j++) {
        gather(&cols[j], base, stride, n, scratch);
        LM_CALL(entry_name(name, prefix, cols[j].name));
        LM_CALL(lm_state_put(w, name, cols[j].t, n, scratch));
    }
    return LM_OK;
}

/* Reads entry name as exactly n elements of type dt into out, naming the entry and the
 * expected length when the checkpoint disagrees. */
static int get_exact(lm_state_reader *r, const char *prefix, const char *what, lm_dtype dt,
                     size_t n, const char *per, void *out) {
    char name[NAME_MAX_LEN];
    size_t have;
    LM_CALL(entry_name(name, prefix, what));
    LM_CALL(lm_state_len(r, name, dt, &have));
    LM_CHECK(have == n, LM_ECKPT, "checkpoint entry '%s' has %zu elements, expected %zu (%s)",
             name, have, n, per);
    LM_CALL(lm_state_get(r, name, dt, n, out));
    return LM_OK;
}

static int get_cols(lm_state_reader *r, const char *prefix, const column *cols, size_t ncols,
                    void *base, size_t stride, size_t n, const char *per, void *scratch) {
    for (size_t j = 0; j < ncols; j++) {
        LM_CALL(get_exact(r, prefix, cols[j].name, cols[j].t, n, per, scratch));
        scatter(&cols[j], base, stride, n, scratch);
    }
    return LM_OK;
}

static int get_count(lm_state_reader *r, const char *prefix, const char *what, int64_t max,
                     int64_t *v) {
    char name[NAME_MAX_LEN];
    LM_CALL(entry_name(name, prefix, what));
    LM_CALL(lm_state_get_i64(r, name, v));
    LM_CHECK(*v >= 0 && *v <= max, LM_ECKPT, "checkpoint entry '%s' is %lld, expected 0 to %lld",
             name, (long long)*v, (long long)max);
    return LM_OK;
}

/* ---- save ---- */

static int save_reasons(const lm_trials *t, lm_state_writer *w, const char *prefix,
                        int32_t *lens) {
    char name[NAME_MAX_LEN];
    size_t total = 0;
    for (int i = 0; i < t->n; i++) {
        lens[i] = (int32_t)bounded_len(t->v[i].reason, LM_REASON_MAX - 1);
        total += (size_t)lens[i];
    }
    char *all = malloc(total ? total : 1);
    LM_CHECK_ALLOC(all);
    size_t at = 0;
    for (int i = 0; i < t->n; i++) {
        memcpy(all + at, t->v[i].reason, (size_t)lens[i]);
        at += (size_t)lens[i];
    }
    int rc = entry_name(name, prefix, "reason_len");
    if (rc == LM_OK) rc = lm_state_put(w, name, LM_DT_I32, (size_t)t->n, lens);
    if (rc == LM_OK) rc = entry_name(name, prefix, "reason");
    if (rc == LM_OK) rc = lm_state_put(w, name, LM_DT_STR, total, all);
    free(all);
    LM_CALL(rc);
    return LM_OK;
}

static int save_snapshots(const lm_trials *t, lm_state_writer *w, const char *prefix);
static int save_promotions(const lm_trials *t, lm_state_writer *w, const char *prefix);
static int save_pbt(const lm_trials *t, lm_state_writer *w, const char *prefix);

/* Writes the whole table under prefix (see the layout at the top of this file). */
int lm_trials_save(const lm_trials *t, lm_state_writer *w, const char *prefix) {
    LM_CHECK(t && w, LM_EINVAL, "lm_trials_save: NULL argument");
    char name[NAME_MAX_LEN];
    LM_CALL(entry_name(name, prefix, "n_hp"));
    LM_CALL(lm_state_put_i64(w, name, t->n_hp));
    LM_CALL(entry_name(name, prefix, "n"));
    LM_CALL(lm_state_put_i64(w, name, t->n));
    LM_CALL(entry_name(name, prefix, "n_curves"));
    LM_CALL(lm_state_put_i64(w, name, (int64_t)t->n_curves));

    /* One scratch column big enough for any column of either kind. */
    size_t rows = (size_t)t->n > t->n_curves ? (size_t)t->n : t->n_curves;
    void *scratch = malloc((rows ? rows : 1) * sizeof(double));
    LM_CHECK_ALLOC(scratch);
    int rc = LM_OK;
    int32_t *st = scratch;
    for (int i = 0; i < t->n; i++) st[i] = (int32_t)t->v[i].status;
    LM_CALL_GOTO(rc, entry_name(name, prefix, "status"), out);
    LM_CALL_GOTO(rc, lm_state_put(w, name, LM_DT_I32, (size_t)t->n, st), out);
    LM_CALL_GOTO(rc, put_cols(w, prefix, trial_cols, N_TRIAL_COLS, t->v, sizeof *t->v,
                              (size_t)t->n, scratch), out);
    LM_CALL_GOTO(rc, save_reasons(t, w, prefix, scratch), out);
    LM_CALL_GOTO(rc, put_cols(w, prefix, curve_cols, N_CURVE_COLS, t->curves, sizeof *t->curves,
                              t->n_curves, scratch), out);
    LM_CALL_GOTO(rc, entry_name(name, prefix, "hp"), out);
    /* An empty table has no store yet; writers get a valid pointer all the same. */
    double none = 0;
    LM_CALL_GOTO(rc, lm_state_put(w, name, LM_DT_F64, (size_t)t->n * (size_t)t->n_hp,
                                  t->hp_store ? t->hp_store : &none), out);
    LM_CALL_GOTO(rc, save_snapshots(t, w, prefix), out); /* issue 7 */
    LM_CALL_GOTO(rc, save_promotions(t, w, prefix), out); /* issue 5 */
    LM_CALL_GOTO(rc, save_pbt(t, w, prefix), out); /* issue 6 */
out:
    free(scratch);
    return rc;
}

/* ---- load ---- */

static int load_reasons(lm_trials *t, lm_state_reader *r, const char *prefix, int32_t *lens) {
    char name[NAME_MAX_LEN];
    LM_CALL(get_exact(r, prefix, "reason_len", LM_DT_I32, (size_t)t->n, "one per trial", lens));
    size_t total = 0;
    for (int i = 0; i < t->n; i++) {
        LM_CALL(entry_name(name, prefix, "reason_len"));
        LM_CHECK(lens[i] >= 0 && lens[i] < LM_REASON_MAX, LM_ECKPT,
                 "checkpoint entry '%s': trial %d's reason is %d bytes, expected 0 to %d", name,
                 i, (int)lens[i], LM_REASON_MAX - 1);
        total += (size_t)lens[i];
    }
    char *all = malloc(total ? total : 1);
    LM_CHECK_ALLOC(all);
    int rc = get_exact(r, prefix, "reason", LM_DT_STR, total, "the sum of reason_len", all);
    if (rc == LM_OK) {
        size_t at = 0;
        for (int i = 0; i < t->n; i++) {
            memcpy(t->v[i].reason, all + at, (size_t)lens[i]);
            t->v[i].reason[lens[i]] = 0;
            at += (size_t)lens[i];
        }
    }
    free(all);
    LM_CALL(rc);
    return LM_OK;
}

static int check_lineage(const lm_trials *t, const lm_trial *tr, const char *prefix);

/* Checks what the columns cannot check by their lengths alone. */
static int validate(const lm_trials *t, const char *prefix) {
    char name[NAME_MAX_LEN];
    for (int i = 0; i < t->n; i++) {
        const lm_trial *tr = &t->v[i];
        LM_CALL(entry_name(name, prefix, "status"));
        LM_CHECK((int)tr->status >= LM_TRIAL_PENDING && (int)tr->status < LM_TRIAL_N_STATUS,
                 LM_ECKPT, "checkpoint entry '%s': trial %d has status %d, expected 0 to %d",
                 name, i, (int)tr->status, LM_TRIAL_N_STATUS - 1);
        LM_CALL(entry_name(name, prefix, "epochs"));
        LM_CHECK(tr->epochs >= 0 && tr->epochs_target >= 0 && tr->worker >= -1, LM_ECKPT,
                 "checkpoint entry '%s' (or worker, epochs_target): trial %d has epochs %d, "
                 "target %d, worker %d", name, i, tr->epochs, tr->epochs_target, tr->worker);
        LM_CALL(check_lineage(t, tr, prefix)); /* issue 7 */
    }
    for (size_t k = 0; k < t->n_curves; k++) {
        const lm_curve_row *c = &t->curves[k];
        LM_CALL(entry_name(name, prefix, "curve_trial"));
        LM_CHECK(c->trial_id >= 0 && c->trial_id < t->n && c->epoch >= 1, LM_ECKPT,
                 "checkpoint entry '%s' (or curve_epoch): row %zu is trial %d epoch %d, but the "
                 "table has trials 0 to %d and epochs start at 1", name, k, c->trial_id, c->epoch,
                 t->n - 1);
    }
    return LM_OK;
}

static int load_snapshots(lm_trials *t, lm_state_reader *r, const char *prefix);
static int load_promotions(lm_trials *t, lm_state_reader *r, const char *prefix);
static int load_pbt(lm_trials *t, lm_state_reader *r, const char *prefix);

static int load_into(lm_trials *t, lm_state_reader *r, const char *prefix, void **scratch) {
    int64_t n_hp, n, n_curves;
    char name[NAME_MAX_LEN];
    LM_CALL(get_count(r, prefix, "n_hp", LM_HP_MAX, &n_hp));
    LM_CALL(entry_name(name, prefix, "n_hp"));
    LM_CHECK(n_hp == t->n_hp, LM_ECKPT,
             "checkpoint entry '%s' is %lld hyperparameters, but the space has %d", name,
             (long long)n_hp, t->n_hp);
    LM_CALL(get_count(r, prefix, "n", TRIALS_MAX, &n));
    LM_CALL(get_count(r, prefix, "n_curves", (int64_t)CURVES_MAX, &n_curves));

    LM_CALL(reserve_trials(t, (int)n));
    LM_CALL(reserve_curves(t, (size_t)n_curves));
    size_t rows = (size_t)n > (size_t)n_curves ? (size_t)n : (size_t)n_curves;
    *scratch = malloc((rows ? rows : 1) * sizeof(double));
    LM_CHECK_ALLOC(*scratch);

    t->n = (int)n;
    for (int i = 0; i < t->n; i++) trial_clear(&t->v[i], i);
    repoint(t);
    t->n_curves = (size_t)n_curves;

    int32_t *st = *scratch;
    LM_CALL(get_exact(r, prefix, "status", LM_DT_I32, (size_t)n, "one per trial", st));
    for (int i = 0; i < t->n; i++) t->v[i].status = (lm_trial_status)st[i];
    LM_CALL(get_cols(r, prefix, trial_cols, N_TRIAL_COLS, t->v, sizeof *t->v, (size_t)n,
                     "one per trial", *scratch));
    LM_CALL(load_reasons(t, r, prefix, *scratch));
    LM_CALL(get_cols(r, prefix, curve_cols, N_CURVE_COLS, t->curves, sizeof *t->curves,
                     t->n_curves, "one per curve row", *scratch));
    double none;
    LM_CALL(get_exact(r, prefix, "hp", LM_DT_F64, (size_t)n * (size_t)t->n_hp,
                      "trials x hyperparameters", t->hp_store ? t->hp_store : &none));
    LM_CALL(validate(t, prefix));
    LM_CALL(load_snapshots(t, r, prefix)); /* issue 7 */
    LM_CALL(load_promotions(t, r, prefix)); /* issue 5 */
    LM_CALL(load_pbt(t, r, prefix)); /* issue 6 */
    return LM_OK;
}

/* Replaces the contents of t (initialized with the space's n_hp) by the table saved
 * under prefix. LM_ECKPT naming the entry when one is missing, of another type or
 * length, or holds an impossible value; t is unchanged on failure. */
int lm_trials_load(lm_trials *t, lm_state_reader *r, const char *prefix) {
    LM_CHECK(t && r, LM_EINVAL, "lm_trials_load: NULL argument");
    lm_trials tmp;
    LM_CALL(lm_trials_init(&tmp, t->n_hp));
    void *scratch = NULL;
    int rc = load_into(&tmp, r, prefix, &scratch);
    free(scratch);
    if (rc < 0) {
        lm_trials_fini(&tmp);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    lm_trials_fini(t);
    *t = tmp;
    return LM_OK;
}

/* ---- lineage and population snapshots (evolution, nsga2; issue 7) ----
 *
 * Checkpoint layout, after the rest of the table: scalars n_snapshots and n_pop (i64);
 * one typed column per lm_pop_row field (n_pop elements each), named pop_<field>. */

#define POP_MAX ((size_t)1 << 26)

const char *lm_origin_name(lm_origin o) {
    switch (o) {
    case LM_ORIGIN_SAMPLED: return "sampled";
    case LM_ORIGIN_MUTATED: return "mutated";
    case LM_ORIGIN_CROSSED: return "crossed";
    case LM_ORIGIN_CROSSED_MUTATED: return "crossed+mutated";
    }
    return "unknown";
}

static const column pop_cols[] = {
    {"pop_snapshot", LM_DT_I32, offsetof(lm_pop_row, snapshot)},
    {"pop_event", LM_DT_I32, offsetof(lm_pop_row, event)},
    {"pop_trial", LM_DT_I32, offsetof(lm_pop_row, trial_id)},
    {"pop_age", LM_DT_I32, offsetof(lm_pop_row, age)},
    {"pop_front", LM_DT_I32, offsetof(lm_pop_row, front)},
    {"pop_fitness", LM_DT_F64, offsetof(lm_pop_row, fitness)},
    {"pop_crowding", LM_DT_F64, offsetof(lm_pop_row, crowding)},
};
#define N_POP_COLS (sizeof pop_cols / sizeof *pop_cols)

static int reserve_pop(lm_trials *t, size_t want) {
    if (want <= t->cap_pop) return LM_OK;
    LM_CHECK(want <= POP_MAX, LM_ERANGE,
             "trial table holds too many population snapshot rows (%zu at most)", POP_MAX);
    size_t cap = t->cap_pop ? t->cap_pop : 64;
    while (cap < want) cap = cap > POP_MAX / 2 ? POP_MAX : 2 * cap;
    lm_pop_row *p = realloc(t->pop, cap * sizeof *p);
    LM_CHECK_ALLOC(p);
    t->pop = p;
    t->cap_pop = cap;
    return LM_OK;
}

/* Appends a snapshot; the rows' snapshot field is overwritten with its number. */
int lm_trials_add_snapshot(lm_trials *t, int event, const lm_pop_row *rows, int n) {
    LM_CHECK(t && (rows || n == 0) && n >= 0, LM_EINVAL, "lm_trials_add_snapshot: bad argument");
    for (int i = 0; i < n; i++)
        LM_CHECK(rows[i].trial_id >= 0 && rows[i].trial_id < t->n, LM_EINVAL,
                 "population snapshot row %d names trial %d, but the table has trials 0 to %d",
                 i, rows[i].trial_id, t->n - 1);
    LM_CALL(reserve_pop(t, t->n_pop + (size_t)n));
    for (int i = 0; i < n; i++) {
        lm_pop_row *p = &t->pop[t->n_pop + (size_t)i];
        *p = rows[i];
        p->snapshot = t->n_snapshots;
        p->event = event;
    }
    t->n_pop += (size_t)n;
    t->n_snapshots++;
    return LM_OK;
}

void lm_trials_last_snapshot(const lm_trials *t, size_t *first, int *n) {
    *first = 0;
    *n = 0;
    if (!t || t->n_snapshots == 0) return;
    size_t k = t->n_pop;
    while (k > 0 && t->pop[k - 1].snapshot == t->n_snapshots - 1) k--;
    *first = k;
    *n = (int)(t->n_pop - k);
}

static int check_lineage(const lm_trials *t, const lm_trial *tr, const char *prefix) {
    char name[NAME_MAX_LEN];
    LM_CALL(entry_name(name, prefix, "origin"));
    LM_CHECK(tr->origin >= 0 && tr->origin < LM_ORIGIN_N && tr->generation >= 0, LM_ECKPT,
             "checkpoint entry '%s' (or generation): trial %d has origin %d, generation %d", name,
             tr->id, tr->origin, tr->generation);
    for (int k = 0; k < 2; k++) {
        LM_CALL(entry_name(name, prefix, k ? "parent1" : "parent0"));
        LM_CHECK(tr->parent[k] >= -1 && tr->parent[k] < t->n, LM_ECKPT,
                 "checkpoint entry '%s': trial %d's parent is %d, but the table has trials 0 "
                 "to %d", name, tr->id, tr->parent[k], t->n - 1);
    }
    return LM_OK;
}

static int save_snapshots(const lm_trials *t, lm_state_writer *w, const char *prefix) {
    char name[NAME_MAX_LEN];
    LM_CALL(entry_name(name, prefix, "n_snapshots"));
    LM_CALL(lm_state_put_i64(w, name, t->n_snapshots));
    LM_CALL(entry_name(name, prefix, "n_pop"));
    LM_CALL(lm_state_put_i64(w, name, (int64_t)t->n_pop));
    void *scratch = malloc((t->n_pop ? t->n_pop : 1) * sizeof(double));
    LM_CHECK_ALLOC(scratch);
    int rc = put_cols(w, prefix, pop_cols, N_POP_COLS, t->pop, sizeof *t->pop, t->n_pop, scratch);
    free(scratch);
    LM_CALL(rc);
    return LM_OK;
}

/* Rows must name trials of the table and come in snapshot order (an empty snapshot
 * has no rows, so numbers may skip). */
static int check_snapshots(const lm_trials *t, const char *prefix) {
    char name[NAME_MAX_LEN], trial[NAME_MAX_LEN];
    LM_CALL(entry_name(name, prefix, "pop_snapshot"));
    LM_CALL(entry_name(trial, prefix, "pop_trial"));
    for (size_t k = 0; k < t->n_pop; k++) {
        const lm_pop_row *p = &t->pop[k];
        int prev = k ? t->pop[k - 1].snapshot : 0;
        LM_CHECK(p->snapshot >= prev && p->snapshot < t->n_snapshots, LM_ECKPT,
                 "checkpoint entry '%s': row %zu is in snapshot %d, expected %d to %d", name, k,
                 p->snapshot, prev, t->n_snapshots - 1);
        LM_CHECK(p->trial_id >= 0 && p->trial_id < t->n, LM_ECKPT,
                 "checkpoint entry '%s': row %zu names trial %d, but the table has trials 0 to "
                 "%d", trial, k, p->trial_id, t->n - 1);
    }
    return LM_OK;
}

static int load_snapshots(lm_trials *t, lm_state_reader *r, const char *prefix) {
    int64_t n_snap, n_pop;
    LM_CALL(get_count(r, prefix, "n_snapshots", INT32_MAX, &n_snap));
    LM_CALL(get_count(r, prefix, "n_pop", (int64_t)POP_MAX, &n_pop));
    LM_CALL(reserve_pop(t, (size_t)n_pop));
    t->n_snapshots = (int)n_snap;
    t->n_pop = (size_t)n_pop;
    void *scratch = malloc((n_pop ? (size_t)n_pop : 1) * sizeof(double));
    LM_CHECK_ALLOC(scratch);
    int rc = get_cols(r, prefix, pop_cols, N_POP_COLS, t->pop, sizeof *t->pop, t->n_pop,
                      "one per population row", scratch);
    free(scratch);
    LM_CALL(rc);
    LM_CALL(check_snapshots(t, prefix));
    return LM_OK;
}

/* ---- promotions (hyperband, sha, asha; issue 5) ----
 *
 * Checkpoint layout, after the rest of the table: scalar n_promotions (i64); one typed
 * column per lm_promotion field (n_promotions elements each), named promo_<field>. */

#define PROMOTIONS_MAX ((size_t)1 << 26)

static const column promo_cols[] = {
    {"promo_t", LM_DT_F64, offsetof(lm_promotion, t)},
    {"promo_trial", LM_DT_I32, offsetof(lm_promotion, trial_id)},
    {"promo_bracket", LM_DT_I32, offsetof(lm_promotion, bracket)},
    {"promo_from", LM_DT_I32, offsetof(lm_promotion, from_rung)},
    {"promo_to", LM_DT_I32, offsetof(lm_promotion, to_rung)},
    {"promo_epoch", LM_DT_I32, offsetof(lm_promotion, epoch)},
};
#define N_PROMO_COLS (sizeof promo_cols / sizeof *promo_cols)

static int reserve_promotions(lm_trials *t, size_t want) {
    if (want <= t->cap_promotions) return LM_OK;
    LM_CHECK(want <= PROMOTIONS_MAX, LM_ERANGE,
             "trial table holds too many promotions (%zu at most)", PROMOTIONS_MAX);
    size_t cap = t->cap_promotions ? t->cap_promotions : 64;
    while (cap < want) cap = cap > PROMOTIONS_MAX / 2 ? PROMOTIONS_MAX : 2 * cap;
    lm_promotion *p = realloc(t->promotions, cap * sizeof *p);
    LM_CHECK_ALLOC(p);
    t->promotions = p;
    t->cap_promotions = cap;
    return LM_OK;
}

/* The time of a promotion is the arrival of the newest report: searchers have no
 * clock, and the decision follows that report (or the end it caused). */
int lm_trials_add_promotion(lm_trials *t, int trial_id, int to_rung) {
    LM_CHECK(t, LM_EINVAL, "lm_trials_add_promotion: NULL table");
    LM_CHECK(trial_id >= 0 && trial_id < t->n, LM_EINVAL,
             "promotion of unknown trial %d (the table has trials 0 to %d)", trial_id, t->n - 1);
    lm_trial *tr = &t->v[trial_id];
    LM_CHECK(to_rung > tr->rung && tr->rung >= 0, LM_EINVAL,
             "promotion of trial %d from rung %d to rung %d: rungs start at 0 and go up",
             trial_id, tr->rung, to_rung);
    LM_CALL(reserve_promotions(t, t->n_promotions + 1));
    lm_promotion *p = &t->promotions[t->n_promotions++];
    p->t = t->n_curves ? t->curves[t->n_curves - 1].t : NAN;
    p->trial_id = trial_id;
    p->bracket = tr->bracket;
    p->from_rung = tr->rung;
    p->to_rung = to_rung;
    p->epoch = tr->epochs;
    tr->rung = to_rung;
    return LM_OK;
}

static int save_promotions(const lm_trials *t, lm_state_writer *w, const char *prefix) {
    char name[NAME_MAX_LEN];
    LM_CALL(entry_name(name, prefix, "n_promotions"));
    LM_CALL(lm_state_put_i64(w, name, (int64_t)t->n_promotions));
    void *scratch = malloc((t->n_promotions ? t->n_promotions : 1) * sizeof(double));
    LM_CHECK_ALLOC(scratch);
    int rc = put_cols(w, prefix, promo_cols, N_PROMO_COLS, t->promotions, sizeof *t->promotions,
                      t->n_promotions, scratch);
    free(scratch);
    LM_CALL(rc);
    return LM_OK;
}

/* Rows must name trials of the table and go up by at least one rung. */
static int check_promotions(const lm_trials *t, const char *prefix) {
    char name[NAME_MAX_LEN];
    LM_CALL(entry_name(name, prefix, "promo_trial"));
    for (size_t k = 0; k < t->n_promotions; k++) {
        const lm_promotion *p = &t->promotions[k];
        LM_CHECK(p->trial_id >= 0 && p->trial_id < t->n && p->from_rung >= 0 &&
                     p->to_rung > p->from_rung && p->epoch >= 0,
                 LM_ECKPT,
                 "checkpoint entry '%s' (or promo_from, promo_to, promo_epoch): row %zu is "
                 "trial %d from rung %d to %d at epoch %d, but the table has trials 0 to %d",
                 name, k, p->trial_id, p->from_rung, p->to_rung, p->epoch, t->n - 1);
    }
    for (int i = 0; i < t->n; i++) {
        LM_CALL(entry_name(name, prefix, "rung"));
        LM_CHECK(t->v[i].rung >= -1 && t->v[i].bracket >= -1, LM_ECKPT,
                 "checkpoint entry '%s' (or bracket): trial %d has rung %d, bracket %d", name, i,
                 t->v[i].rung, t->v[i].bracket);
    }
    return LM_OK;
}

static int load_promotions(lm_trials *t, lm_state_reader *r, const char *prefix) {
    int64_t n;
    LM_CALL(get_count(r, prefix, "n_promotions", (int64_t)PROMOTIONS_MAX, &n));
    LM_CALL(reserve_promotions(t, (size_t)n));
    t->n_promotions = (size_t)n;
    void *scratch = malloc((n ? (size_t)n : 1) * sizeof(double));
    LM_CHECK_ALLOC(scratch);
    int rc = get_cols(r, prefix, promo_cols, N_PROMO_COLS, t->promotions, sizeof *t->promotions,
                      t->n_promotions, "one per promotion", scratch);
    free(scratch);
    LM_CALL(rc);
    LM_CALL(check_promotions(t, prefix));
    return LM_OK;
}

/* ---- population-based training (pbt; issue 6) ----
 *
 * Checkpoint layout, after the rest of the table: scalar n_pbt (i64); one typed column
 * per lm_pbt_event field (n_pbt elements each), named pbt_<field>; pbt_hp (n_pbt x 2 x
 * n_hp doubles, each event's before then after). */

#define PBT_EVENTS_MAX ((size_t)1 << 24)

static const column pbt_cols[] = {
    {"pbt_t", LM_DT_F64, offsetof(lm_pbt_event, t)},
    {"pbt_epoch", LM_DT_I32, offsetof(lm_pbt_event, epoch)},
    {"pbt_member", LM_DT_I32, offsetof(lm_pbt_event, member)},
    {"pbt_trial", LM_DT_I32, offsetof(lm_pbt_event, trial)},
    {"pbt_donor", LM_DT_I32, offsetof(lm_pbt_event, donor)},
    {"pbt_donor_member", LM_DT_I32, offsetof(lm_pbt_event, donor_member)},
    {"pbt_prev_trial", LM_DT_I32, offsetof(lm_pbt_event, prev_trial)},
    {"pbt_prev_epoch", LM_DT_I32, offsetof(lm_pbt_event, prev_epoch)},
    {"pbt_score", LM_DT_F64, offsetof(lm_pbt_event, score)},
    {"pbt_donor_score", LM_DT_F64, offsetof(lm_pbt_event, donor_score)},
};
#define N_PBT_COLS (sizeof pbt_cols / sizeof *pbt_cols)

static int reserve_pbt(lm_trials *t, size_t want) {
    if (want <= t->cap_pbt) return LM_OK;
    LM_CHECK(want <= PBT_EVENTS_MAX, LM_ERANGE,
             "trial table holds too many pbt events (%zu at most)", PBT_EVENTS_MAX);
    size_t cap = t->cap_pbt ? t->cap_pbt : 64;
    while (cap < want) cap = cap > PBT_EVENTS_MAX / 2 ? PBT_EVENTS_MAX : 2 * cap;
    lm_pbt_event *e = realloc(t->pbt, cap * sizeof *e);
    LM_CHECK_ALLOC(e);
    t->pbt = e;
    size_t hp_n = cap * 2 * (size_t)t->n_hp;
    double *hp = realloc(t->pbt_hp, (hp_n ? hp_n : 1) * sizeof *hp);
    /* pbt grew but cap_pbt did not: still consistent at the old capacity. */
    LM_CHECK(hp != NULL, LM_ENOMEM, "out of memory growing the pbt events to %zu", cap);
    t->pbt_hp = hp;
    t->cap_pbt = cap;
    return LM_OK;
}

/* What an event must satisfy, in the table and in a checkpoint alike. */
static int pbt_event_ok(const lm_trials *t, const lm_pbt_event *e) {
    return e->trial >= 0 && e->trial < t->n && e->donor >= 0 && e->donor < t->n &&
           e->prev_trial >= 0 && e->prev_trial < t->n && e->trial != e->donor &&
           e->epoch >= 0 && e->prev_epoch >= 0 && e->member >= 0 && e->donor_member >= 0;
}

int lm_trials_add_pbt_event(lm_trials *t, const lm_pbt_event *e, const double *before,
                            const double *after) {
    LM_CHECK(t && e && ((before && after) || t->n_hp == 0), LM_EINVAL,
             "lm_trials_add_pbt_event: NULL argument");
    LM_CHECK(pbt_event_ok(t, e), LM_EINVAL,
             "pbt event: member %d (donor member %d) continues as trial %d from trial %d at "
             "epoch %d (its trial %d at epoch %d), but the table has trials 0 to %d", e->member,
             e->donor_member, e->trial, e->donor, e->epoch, e->prev_trial, e->prev_epoch,
             t->n - 1);
    LM_CALL(reserve_pbt(t, t->n_pbt + 1));
    size_t k = t->n_pbt++;
    t->pbt[k] = *e;
    t->pbt[k].t = t->n_curves ? t->curves[t->n_curves - 1].t : NAN;
    size_t nh = (size_t)t->n_hp;
    if (nh) {
        memcpy(t->pbt_hp + 2 * k * nh, before, nh * sizeof *before);
        memcpy(t->pbt_hp + (2 * k + 1) * nh, after, nh * sizeof *after);
    }
    return LM_OK;
}

const double *lm_trials_pbt_hp(const lm_trials *t, size_t k, int after) {
    if (!t || k >= t->n_pbt) return NULL;
    return t->pbt_hp + (2 * k + (after ? 1 : 0)) * (size_t)t->n_hp;
}

static int save_pbt(const lm_trials *t, lm_state_writer *w, const char *prefix) {
    char name[NAME_MAX_LEN];
    LM_CALL(entry_name(name, prefix, "n_pbt"));
    LM_CALL(lm_state_put_i64(w, name, (int64_t)t->n_pbt));
    void *scratch = malloc((t->n_pbt ? t->n_pbt : 1) * sizeof(double));
    LM_CHECK_ALLOC(scratch);
    int rc = put_cols(w, prefix, pbt_cols, N_PBT_COLS, t->pbt, sizeof *t->pbt, t->n_pbt, scratch);
    free(scratch);
    LM_CALL(rc);
    LM_CALL(entry_name(name, prefix, "pbt_hp"));
    double none = 0;
    LM_CALL(lm_state_put(w, name, LM_DT_F64, t->n_pbt * 2 * (size_t)t->n_hp,
                         t->pbt_hp ? t->pbt_hp : &none));
    return LM_OK;
}

static int load_pbt(lm_trials *t, lm_state_reader *r, const char *prefix) {
    int64_t n;
    LM_CALL(get_count(r, prefix, "n_pbt", (int64_t)PBT_EVENTS_MAX, &n));
    LM_CALL(reserve_pbt(t, (size_t)n));
    t->n_pbt = (size_t)n;
    void *scratch = malloc((n ? (size_t)n : 1) * sizeof(double));
    LM_CHECK_ALLOC(scratch);
    int rc = get_cols(r, prefix, pbt_cols, N_PBT_COLS, t->pbt, sizeof *t->pbt, t->n_pbt,
                      "one per pbt event", scratch);
    free(scratch);
    LM_CALL(rc);
    double none;
    LM_CALL(get_exact(r, prefix, "pbt_hp", LM_DT_F64, t->n_pbt * 2 * (size_t)t->n_hp,
                      "pbt events x 2 x hyperparameters", t->pbt_hp ? t->pbt_hp : &none));
    char name[NAME_MAX_LEN];
    LM_CALL(entry_name(name, prefix, "pbt_trial"));
    for (size_t k = 0; k < t->n_pbt; k++) {
        const lm_pbt_event *e = &t->pbt[k];
        LM_CHECK(pbt_event_ok(t, e), LM_ECKPT,
                 "checkpoint entry '%s' (or pbt_donor, pbt_prev_trial, pbt_epoch, pbt_member): "
                 "event %zu has member %d continue as trial %d from trial %d at epoch %d, but "
                 "the table has trials 0 to %d", name, k, e->member, e->trial, e->donor,
                 e->epoch, t->n - 1);
    }
    for (int i = 0; i < t->n; i++) {
        LM_CALL(entry_name(name, prefix, "member"));
        LM_CHECK(t->v[i].member >= -1, LM_ECKPT, "checkpoint entry '%s': trial %d has member %d",
                 name, i, t->v[i].member);
    }
    return LM_OK;
}
