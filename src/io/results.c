/* results.h5: what a run produced, self-described for h5py and h5dump.
 *
 *   /                 attributes schema_version, lamarck_version, command_line,
 *                     n_ranks, wall_seconds, rank0_cpu_seconds, complete, and
 *                     format = "lamarck-results"
 *   /config           the YAML text (attribute path)
 *   /trials/<column>  one row per trial, in id order
 *   /trials/hp/<name> the trial's value of each hyperparameter (NaN when inactive;
 *                     categoricals hold the choice index, labels in "choices");
 *                     the group's "names" attribute lists them in space order
 *   /curves/<column>  one row per trained epoch, sorted by trial then epoch
 *   /promotions/<column>  multi-fidelity promotions (t, trial, bracket, from_rung,
 *                     to_rung, epoch), in the order decided; empty without rungs
 *   /populations/<column>  population snapshots of evolution and nsga2 (snapshot,
 *                     event, trial, age, front, fitness, crowding), one row per member
 *                     per snapshot, in the order taken; empty for other searchers
 *   /pbt/events/<column>  population-based training's exploits (t, epoch, member, trial,
 *                     donor, donor_member, prev_trial, prev_epoch, score, donor_score), in
 *                     the order recorded, with hp_before/<name> (the donor's point) and
 *                     hp_after/<name> (the new trial's); empty for other searchers
 *   /genomes/<column> runs over an architecture space (model.space): each trial's
 *                     genome (trials x genes), canonical hash, readable text and the
 *                     genes its mutation changed (mutated), with
 *                     the space's description (attribute space) and gene_names
 *   /pareto/trial     the final first front (attribute source says which): front 0 of
 *                     the last snapshot with fronts (nsga2), else the non-dominated
 *                     finished trials on val_accuracy (max) and params (min)
 *
 * Every dataset carries "units" and "description" attributes. The reader is what
 * `lamarck report` runs on files people hand it, so it checks every length, name,
 * status and range it relies on. */
#include "io/genomes.h"
#include "io/h5util.h"
#include "lamarck/error.h"
#include "lamarck/io.h"
#include "lamarck/moo.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESULTS_FORMAT "lamarck-results"
#define RESULTS_TRIALS_MAX 10000000
#define STATUS_MAX 16
#define REASON_MAX 4096
#define CHOICE_MAX 256
#define LABEL_MAX 64
#define HP_TEXT_MAX 256

_Static_assert(sizeof(int) == sizeof(int32_t), "int columns are read as int32");

/* ---- writing: /trials ---- */

typedef enum { COL_I32, COL_I64, COL_F64, COL_STR } col_kind;

/* A /trials column: where its value sits in lm_trial, and what it means. */
typedef struct trial_col {
    const char *name;
    col_kind kind;
    size_t offset;
    const char *units, *description;
} trial_col;

#define TC(field, kind, units, desc) {#field, kind, offsetof(lm_trial, field), units, desc}
static const trial_col trial_cols[] = {
    TC(id, COL_I32, "index", "trial id: 0, 1, ... in the order trials were created"),
    {"status", COL_STR, 0, "text", "pending, running, done, stopped, failed or paused"},
    TC(worker, COL_I32, "rank", "MPI rank that trained the trial last; -1 if it never ran"),
    TC(epochs, COL_I32, "epochs", "epochs trained"),
    TC(epochs_target, COL_I32, "epochs", "epochs the trial was asked to train"),
    TC(params, COL_I64, "parameters", "trainable parameters of the model"),
    TC(best_val_accuracy, COL_F64, "fraction", "best validation accuracy over its epochs"),
    TC(final_val_accuracy, COL_F64, "fraction", "validation accuracy after the last epoch"),
    TC(final_val_loss, COL_F64, "nats", "validation cross-entropy after the last epoch"),
    TC(final_train_loss, COL_F64, "nats", "mean training cross-entropy of the last epoch"),
    TC(test_accuracy, COL_F64, "fraction",
       "test accuracy of the final model; NaN when not measured; never used for selection"),
    TC(test_loss, COL_F64, "nats", "test cross-entropy of the final model; NaN when not measured"),
    TC(t_start, COL_F64, "seconds", "when the trial started, since the start of the run"),
    TC(t_end, COL_F64, "seconds", "when the trial ended, since the start of the run"),
    TC(train_seconds, COL_F64, "seconds", "sum of the wall times of its epochs"),
    {"reason", COL_STR, 0, "text", "why the trial failed or was stopped; empty otherwise"},
    /* multi-fidelity (issue 5) */
    TC(bracket, COL_I32, "index",
       "Hyperband/SHA/ASHA bracket of the trial (hyperband: pass x (s_max+1) + s; sha: "
       "pass; asha: s); -1 when the searcher has no brackets"),
    TC(rung, COL_I32, "index",
       "highest rung of its bracket the trial entered, 0 the first; -1 when not applicable"),
    /* lineage and cost objectives (evolution, nsga2; issue 7) */
    {"parent0", COL_I32, offsetof(lm_trial, parent[0]), "index",
     "first trial this trial's point was bred from; -1 when sampled"},
    {"parent1", COL_I32, offsetof(lm_trial, parent[1]), "index",
     "second parent (crossover); -1 when none"},
    TC(origin, COL_I32, "code", "how its point was made: 0 sampled, 1 mutated, 2 crossed over, "
       "3 crossed over and mutated"),
    TC(mutated, COL_I64, "bit mask",
       "bit i set: the variation changed hyperparameter i (order of /trials/hp names)"),
    TC(generation, COL_I32, "generations",
       "0 for sampled points; nsga2: its generation; evolution: 1 + its first parent's"),
    TC(flops, COL_F64, "operations",
       "FLOPs of one forward pass of one example; NaN if not measured"),
    TC(latency, COL_F64, "seconds",
       "latency of one forward pass of one example; NaN if not measured"),
    /* population-based training (issue 6) */
    TC(member, COL_I32, "index",
       "pbt: the population member whose chain the trial belongs to; -1 for other searchers"),
};
#undef TC
#define N_TRIAL_COLS (sizeof trial_cols / sizeof *trial_cols)

/* Writes one /trials column gathered from every trial. */
static int write_trial_col(lm__h5 *f, hid_t g, const trial_col *c, const lm_trials *t) {
    size_t n = (size_t)t->n;
    size_t esize = c->kind == COL_I32 ? 4 : c->kind == COL_STR ? sizeof(char *) : 8;
    void *buf = malloc(n ? n * esize : 1);
    LM_CHECK_ALLOC(buf);
    for (size_t i = 0; i < n; i++) {
        const lm_trial *tr = &t->v[i];
        const char *p = (const char *)tr + c->offset;
        switch (c->kind) {
        case COL_I32: memcpy((int32_t *)buf + i, p, 4); break;
        case COL_I64: memcpy((int64_t *)buf + i, p, 8); break;
        case COL_F64: memcpy((double *)buf + i, p, 8); break;
        case COL_STR:
            ((const char **)buf)[i] = !strcmp(c->name, "status") ? lm_trial_status_name(tr->status)
                                                                 : tr->reason;
            break;
        }
    }
    hid_t d = H5I_INVALID_HID;
    int rc;
    if (c->kind == COL_STR)
        rc = lm__h5_write_strs(f, g, c->name, n, buf, &d);
    else
        rc = lm__h5_write_1d(f, g, c->name,
                             c->kind == COL_I32 ? LM_DT_I32 : c->kind == COL_I64 ? LM_DT_I64
                                                                                 : LM_DT_F64,
                             n, buf, &d);
    if (rc == LM_OK) rc = lm__h5_attr_meta(f, d, c->units, c->description);
    lm__h5_close_id(&d);
    free(buf);
    return rc;
}

/* "lr: float in [0.001, 0.3], log-uniform" and the like. */
static void describe_hp(const lm_hp *h, char *buf, size_t cap) {
    if (h->kind == LM_HP_CATEGORICAL)
        snprintf(buf, cap, "hyperparameter %s: categorical, the index of a label in the "
                 "attribute choices; NaN when inactive", h->name);
    else
        snprintf(buf, cap, "hyperparameter %s: %s in [%g, %g]%s; NaN when inactive", h->name,
                 h->kind == LM_HP_INT ? "integer" : "float", h->low, h->high,
                 h->log ? ", log-uniform" : ", uniform");
}

static const char *hp_kind_name(lm_hp_kind k) {
    return k == LM_HP_FLOAT ? "float" : k == LM_HP_INT ? "int" : "categorical";
}

/* Hyperparameter names become HDF5 link names: no '/', not "." or "..". */
static int check_hp_name(const char *name) {
    LM_CHECK(*name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, ".."), LM_EINVAL,
             "hyperparameter name '%s' cannot name a dataset in results.h5", name);
    return LM_OK;
}

static int write_hp_col(lm__h5 *f, hid_t g, const lm_space *sp, int i, const lm_trials *t) {
    const lm_hp *h = lm_space_hp(sp, i);
    LM_CALL(check_hp_name(h->name));
    size_t n = (size_t)t->n;
    double *v = malloc(n ? n * sizeof *v : 1);
    LM_CHECK_ALLOC(v);
    for (size_t k = 0; k < n; k++) v[k] = t->v[k].hp[i];
    hid_t d = H5I_INVALID_HID;
    char desc[HP_TEXT_MAX + 128];
    describe_hp(h, desc, sizeof desc);
    int rc;
    LM_CALL_GOTO(rc, lm__h5_write_1d(f, g, h->name, LM_DT_F64, n, v, &d), done);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, h->kind == LM_HP_CATEGORICAL ? "choice index" : "1",
                                      desc), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, d, "kind", hp_kind_name(h->kind)), done);
    if (h->kind == LM_HP_CATEGORICAL) {
        LM_CALL_GOTO(rc, lm__h5_attr_strs(f, d, "choices", (size_t)h->n_choices,
                                          (const char *const *)h->choices), done);
    } else {
        LM_CALL_GOTO(rc, lm__h5_attr_f64(f, d, "low", h->low), done);
        LM_CALL_GOTO(rc, lm__h5_attr_f64(f, d, "high", h->high), done);
        LM_CALL_GOTO(rc, lm__h5_attr_i64(f, d, "log", h->log), done);
    }
    if (h->parent >= 0 && h->n_when > 0 && h->n_when <= LM_HP_CHOICES_MAX) {
        /* The condition, with values written as labels of the parent. */
        char labels[LM_HP_CHOICES_MAX][LABEL_MAX];
        const char *ptrs[LM_HP_CHOICES_MAX];
        for (int k = 0; k < h->n_when; k++) {
            lm_space_format_value(sp, h->parent, h->when[k], labels[k], LABEL_MAX);
            ptrs[k] = labels[k];
        }
        LM_CALL_GOTO(rc, lm__h5_attr_str(f, d, "parent", lm_space_hp(sp, h->parent)->name), done);
        LM_CALL_GOTO(rc, lm__h5_attr_strs(f, d, "when", (size_t)h->n_when, ptrs), done);
    }
    rc = LM_OK;
done:
    lm__h5_close_id(&d);
    free(v);
    return rc;
}

static int write_trials(lm__h5 *f, const lm_run_info *info, const lm_trials *t) {
    hid_t g = H5I_INVALID_HID, hg = H5I_INVALID_HID;
    int rc;
    LM_CALL(lm__h5_group_create(f, f->id, "trials", &g));
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, g, "description", "one row per trial, in id order"),
                 done);
    for (size_t c = 0; c < N_TRIAL_COLS; c++)
        LM_CALL_GOTO(rc, write_trial_col(f, g, &trial_cols[c], t), done);
    LM_CALL_GOTO(rc, lm__h5_group_create(f, g, "hp", &hg), done);
    const lm_space *sp = info->config ? info->config->space : NULL;
    int n_hp = sp ? lm_space_size(sp) : 0;
    const char *names[LM_HP_MAX];
    for (int i = 0; i < n_hp; i++) names[i] = lm_space_hp(sp, i)->name;
    LM_CALL_GOTO(rc, lm__h5_attr_strs(f, hg, "names", (size_t)n_hp, names), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, hg, "description",
                                     "each trial's hyperparameters; names lists them in order"),
                 done);
    for (int i = 0; i < n_hp; i++) LM_CALL_GOTO(rc, write_hp_col(f, hg, sp, i, t), done);
    rc = LM_OK;
done:
    lm__h5_close_id(&hg);
    lm__h5_close_id(&g);
    return rc;
}

/* ---- writing: /curves ---- */

static int cmp_curve(const void *a, const void *b) {
    const lm_curve_row *x = *(const lm_curve_row *const *)a, *y = *(const lm_curve_row *const *)b;
    if (x->trial_id != y->trial_id) return x->trial_id < y->trial_id ? -1 : 1;
    if (x->epoch != y->epoch) return x->epoch < y->epoch ? -1 : 1;
    return x < y ? -1 : x > y; /* arrival order breaks ties, so the sort is stable */
}

/* A column of a table of structs (/curves, /promotions, /pbt/events, /populations): where
 * its value sits in the row struct, int or double, and what it means. */
typedef struct row_col {
    const char *name;
    int is_int;
    size_t offset;
    const char *units, *description;
} row_col;

/* Writes every column of n rows under g: row i is rows[i] when rows is given, else
 * base + i * stride. buf holds n doubles. */
static int write_row_columns(lm__h5 *f, hid_t g, const void *const *rows, const void *base,
                             size_t stride, size_t n, const row_col *cols, size_t n_cols,
                             double *buf) {
    hid_t d = H5I_INVALID_HID;
    int rc = LM_OK;
    for (size_t c = 0; c < n_cols; c++) {
        const row_col *col = &cols[c];
        for (size_t i = 0; i < n; i++) {
            const char *row = rows ? (const char *)rows[i] : (const char *)base + i * stride;
            const char *p = row + col->offset;
            if (col->is_int) {
                int v;
                memcpy(&v, p, sizeof v);
                ((int32_t *)buf)[i] = v;
            } else {
                memcpy(&buf[i], p, sizeof *buf);
            }
        }
        LM_CALL_GOTO(rc, lm__h5_write_1d(f, g, col->name, col->is_int ? LM_DT_I32 : LM_DT_F64, n,
                                         buf, &d), done);
        LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, col->units, col->description), done);
        lm__h5_close_id(&d);
    }
done:
    lm__h5_close_id(&d);
    return rc;
}

#define CC(field, is_int, units, desc) {#field, is_int, offsetof(lm_curve_row, field), units, desc}
static const row_col curve_cols[] = {
    {"trial", 1, offsetof(lm_curve_row, trial_id), "index", "trial id"},
    CC(epoch, 1, "epochs", "epoch number, from 1"),
    CC(train_loss, 0, "nats", "mean training cross-entropy over the epoch"),
    CC(train_accuracy, 0, "fraction", "training accuracy over the epoch"),
    CC(val_loss, 0, "nats", "validation cross-entropy after the epoch"),
    CC(val_accuracy, 0, "fraction", "validation accuracy after the epoch"),
    CC(seconds, 0, "seconds", "wall time of the epoch"),
    CC(lr, 0, "1", "learning rate during the epoch"),
    CC(t, 0, "seconds", "when the epoch's report arrived, since the start of the run"),
};
#undef CC
#define N_CURVE_COLS (sizeof curve_cols / sizeof *curve_cols)

static int write_curves(lm__h5 *f, const lm_trials *t) {
    size_t n = t->n_curves;
    const lm_curve_row **rows = malloc((n ? n : 1) * sizeof *rows);
    double *buf = malloc((n ? n : 1) * sizeof *buf);
    hid_t g = H5I_INVALID_HID;
    int rc = LM_OK;
    if (!rows || !buf) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) rows[i] = &t->curves[i];
    qsort(rows, n, sizeof *rows, cmp_curve);
    LM_CALL_GOTO(rc, lm__h5_group_create(f, f->id, "curves", &g), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, g, "description",
                                     "one row per trained epoch, sorted by trial then epoch"),
                 done);
    LM_CALL_GOTO(rc, write_row_columns(f, g, (const void *const *)rows, NULL, 0, n, curve_cols,
                                       N_CURVE_COLS, buf), done);
done:
    lm__h5_close_id(&g);
    free(rows);
    free(buf);
    return rc;
}

/* ---- writing: /promotions (hyperband, sha, asha; issue 5) ---- */

#define PC(name, field, is_int, units, desc) {name, is_int, offsetof(lm_promotion, field), units, desc}
static const row_col promo_cols[] = {
    PC("t", t, 0, "seconds",
       "when the promotion was decided: arrival of the newest report, since the start of the run"),
    PC("trial", trial_id, 1, "index", "the promoted trial's id (its row in /trials)"),
    PC("bracket", bracket, 1, "index", "the trial's bracket (as /trials/bracket)"),
    PC("from_rung", from_rung, 1, "index", "rung it left, 0 the first"),
    PC("to_rung", to_rung, 1, "index", "rung it entered"),
    PC("epoch", epoch, 1, "epochs", "epochs it had trained when promoted"),
};
#undef PC
#define N_PROMO_COLS (sizeof promo_cols / sizeof *promo_cols)

/* One row per promotion, in the order they were decided; empty for searchers without
 * rungs. */
static int write_promotions(lm__h5 *f, const lm_trials *t) {
    size_t n = t->n_promotions;
    double *buf = malloc((n ? n : 1) * sizeof *buf);
    LM_CHECK_ALLOC(buf);
    hid_t g = H5I_INVALID_HID;
    int rc;
    LM_CALL_GOTO(rc, lm__h5_group_create(f, f->id, "promotions", &g), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, g, "description",
                                     "multi-fidelity promotions (a trial moved up a rung of its "
                                     "bracket), one row each, in the order decided"),
                 done);
    LM_CALL_GOTO(rc, write_row_columns(f, g, NULL, t->promotions, sizeof *t->promotions, n,
                                       promo_cols, N_PROMO_COLS, buf), done);
    rc = LM_OK;
done:
    lm__h5_close_id(&g);
    free(buf);
    return rc;
}

/* ---- writing: /pbt/events (population-based training; issue 6) ---- */

#define PBC(field, is_int, units, desc) {#field, is_int, offsetof(lm_pbt_event, field), units, desc}
static const row_col pbt_cols[] = {
    PBC(t, 0, "seconds", "when the exploit was recorded: arrival of the newest report, since "
        "the start of the run"),
    PBC(epoch, 1, "epochs",
        "epochs the donor had trained: the new trial's first epoch is epoch + 1"),
    PBC(member, 1, "index", "the member that exploited (as /trials/member)"),
    PBC(trial, 1, "index", "the new trial the member continues as (its row in /trials)"),
    PBC(donor, 1, "index", "the trial whose weights and optimizer state were copied"),
    PBC(donor_member, 1, "index", "the member the donor trial belongs to"),
    PBC(prev_trial, 1, "index", "the member's trial before the exploit (stopped by it)"),
    PBC(prev_epoch, 1, "epochs", "epochs prev_trial had trained when the member exploited"),
    PBC(score, 0, "fraction",
        "the member's validation accuracy at its ready point; -inf when its trial had failed"),
    PBC(donor_score, 0, "fraction", "the donor member's latest validation accuracy"),
};
#undef PBC
#define N_PBT_COLS (sizeof pbt_cols / sizeof *pbt_cols)

/* hp_before/<name> (after = 0) or hp_after/<name>: one dataset per hyperparameter. */
static int write_pbt_hps(lm__h5 *f, hid_t g, const lm_space *sp, const lm_trials *t, int after,
                         double *buf) {
    hid_t hg = H5I_INVALID_HID, d = H5I_INVALID_HID;
    int n_hp = sp ? lm_space_size(sp) : 0, rc;
    const char *names[LM_HP_MAX];
    for (int i = 0; i < n_hp; i++) names[i] = lm_space_hp(sp, i)->name;
    LM_CALL(lm__h5_group_create(f, g, after ? "hp_after" : "hp_before", &hg));
    LM_CALL_GOTO(rc, lm__h5_attr_strs(f, hg, "names", (size_t)n_hp, names), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, hg, "description",
                                     after ? "each exploit's new hyperparameters (explored from "
                                             "the donor's), as /trials/hp"
                                           : "each exploit's donor hyperparameters (what explore "
                                             "started from), as /trials/hp"),
                 done);
    for (int i = 0; i < n_hp; i++) {
        const lm_hp *h = lm_space_hp(sp, i);
        LM_CALL_GOTO(rc, check_hp_name(h->name), done);
        for (size_t k = 0; k < t->n_pbt; k++) buf[k] = lm_trials_pbt_hp(t, k, after)[i];
        LM_CALL_GOTO(rc, lm__h5_write_1d(f, hg, h->name, LM_DT_F64, t->n_pbt, buf, &d), done);
        LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, h->kind == LM_HP_CATEGORICAL ? "choice index" : "1",
                                          after ? "the value after explore; NaN when inactive"
                                                : "the donor's value; NaN when inactive"),
                     done);
        lm__h5_close_id(&d);
    }
    rc = LM_OK;
done:
    lm__h5_close_id(&d);
    lm__h5_close_id(&hg);
    return rc;
}

/* One row per exploit, in the order recorded; empty for searchers other than pbt. */
static int write_pbt_events(lm__h5 *f, const lm_run_info *info, const lm_trials *t) {
    size_t n = t->n_pbt;
    double *buf = malloc((n ? n : 1) * sizeof *buf);
    LM_CHECK_ALLOC(buf);
    hid_t g = H5I_INVALID_HID, eg = H5I_INVALID_HID;
    int rc;
    LM_CALL_GOTO(rc, lm__h5_group_create(f, f->id, "pbt", &g), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, g, "description", "population-based training"), done);
    LM_CALL_GOTO(rc, lm__h5_group_create(f, g, "events", &eg), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, eg, "description",
                                     "exploits: a member continues as a new trial from a copy of "
                                     "a donor trial's state, with explored hyperparameters; one "
                                     "row each, in the order recorded"),
                 done);
    LM_CALL_GOTO(rc, write_row_columns(f, eg, NULL, t->pbt, sizeof *t->pbt, n, pbt_cols,
                                       N_PBT_COLS, buf), done);
    const lm_space *sp = info->config ? info->config->space : NULL;
    LM_CALL_GOTO(rc, write_pbt_hps(f, eg, sp, t, 0, buf), done);
    LM_CALL_GOTO(rc, write_pbt_hps(f, eg, sp, t, 1, buf), done);
    rc = LM_OK;
done:
    lm__h5_close_id(&eg);
    lm__h5_close_id(&g);
    free(buf);
    return rc;
}

/* ---- writing: /populations and /pareto (evolution, nsga2; issue 7) ---- */

#define PPC(name, field, is_int, units, desc) \
    {name, is_int, offsetof(lm_pop_row, field), units, desc}
static const row_col pop_cols[] = {
    PPC("snapshot", snapshot, 1, "index", "snapshot number, 0 the first"),
    PPC("event", event, 1, "count",
        "trials ended when the snapshot was taken (evolution, steady nsga2); generational "
        "nsga2: the generation"),
    PPC("trial", trial_id, 1, "index", "trial id of the member"),
    PPC("age", age, 1, "count",
        "evolution: birth rank (order of joining the population); nsga2: generation born"),
    PPC("front", front, 1, "index", "nsga2: non-dominated front, 0 the first; evolution: -1"),
    PPC("fitness", fitness, 0, "1", "evolution: the scalar objective; nsga2: NaN"),
    PPC("crowding", crowding, 0, "1",
        "nsga2: crowding distance (inf at a front's ends); evolution: NaN"),
};
#undef PPC
#define N_POP_COLS (sizeof pop_cols / sizeof *pop_cols)

static int write_populations(lm__h5 *f, const lm_trials *t) {
    size_t n = t->n_pop;
    double *buf = malloc((n ? n : 1) * sizeof *buf);
    LM_CHECK_ALLOC(buf);
    hid_t g = H5I_INVALID_HID;
    int rc;
    LM_CALL_GOTO(rc, lm__h5_group_create(f, f->id, "populations", &g), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, g, "description",
                                     "population snapshots (evolution, nsga2): one row per member "
                                     "per snapshot, in the order taken"),
                 done);
    LM_CALL_GOTO(rc, lm__h5_attr_i64(f, g, "n_snapshots", t->n_snapshots), done);
    LM_CALL_GOTO(rc, write_row_columns(f, g, NULL, t->pop, sizeof *t->pop, n, pop_cols,
                                       N_POP_COLS, buf), done);
    rc = LM_OK;
done:
    lm__h5_close_id(&g);
    free(buf);
    return rc;
}

static int cmp_id(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The final first front into ids (*n of them) and what it was taken from. */
/* qsort has no context argument; the results writer runs on rank 0's one thread. */
static const lm_trials *sort_trials;

static int cmp_params_acc(const void *a, const void *b) {
    const lm_trial *x = &sort_trials->v[*(const int32_t *)a], *y = &sort_trials->v[*(const int32_t *)b];
    if (x->params != y->params) return x->params < y->params ? -1 : 1;
    if (x->best_val_accuracy != y->best_val_accuracy)
        return x->best_val_accuracy > y->best_val_accuracy ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

static int pareto_ids(const lm_trials *t, int32_t *ids, int *n, const char **source) {
    *n = 0;
    size_t first;
    int m;
    lm_trials_last_snapshot(t, &first, &m);
    int has_fronts = m > 0 && t->pop[first].front >= 0;
    if (has_fronts) {
        *source = "front 0 of the searcher's last population snapshot (objectives as configured)";
        for (size_t k = first; k < first + (size_t)m; k++)
            if (t->pop[k].front == 0) ids[(*n)++] = t->pop[k].trial_id;
        qsort(ids, (size_t)*n, sizeof *ids, cmp_id);
        return LM_OK;
    }
    *source = "non-dominated finished trials: best_val_accuracy (max), params (min)";
    int k = 0;
    for (int i = 0; i < t->n; i++) {
        const lm_trial *tr = &t->v[i];
        if ((tr->status == LM_TRIAL_DONE || tr->status == LM_TRIAL_STOPPED) &&
            !isnan(tr->best_val_accuracy) && tr->params > 0)
            ids[k++] = i;
    }
    /* Two objectives: sorted by params ascending (then accuracy descending), a trial is
     * non-dominated when its accuracy is the best of its parameter count and above every
     * smaller network's: O(k log k), for runs (and replays) of many trials. */
    sort_trials = t;
    qsort(ids, (size_t)k, sizeof *ids, cmp_params_acc);
    double best = -INFINITY;
    for (int i = 0; i < k;) {
        int j = i;
        double top = t->v[ids[i]].best_val_accuracy;
        while (j < k && t->v[ids[j]].params == t->v[ids[i]].params) j++;
        if (top > best) {
            for (int q = i; q < j && t->v[ids[q]].best_val_accuracy == top; q++)
                ids[(*n)++] = ids[q];
            best = top;
        }
        i = j;
    }
    qsort(ids, (size_t)*n, sizeof *ids, cmp_id);
    return LM_OK;
}

static int write_pareto(lm__h5 *f, const lm_trials *t) {
    int32_t *ids = malloc((t->n ? (size_t)t->n : 1) * sizeof *ids);
    LM_CHECK_ALLOC(ids);
    hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID;
    const char *source = "";
    int n, rc;
    LM_CALL_GOTO(rc, pareto_ids(t, ids, &n, &source), done);
    LM_CALL_GOTO(rc, lm__h5_group_create(f, f->id, "pareto", &g), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, g, "description", "the final first Pareto front"), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, g, "source", source), done);
    LM_CALL_GOTO(rc, lm__h5_write_1d(f, g, "trial", LM_DT_I32, (size_t)n, ids, &d), done);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, "index", "trial ids of the front, ascending"), done);
    rc = LM_OK;
done:
    lm__h5_close_id(&d);
    lm__h5_close_id(&g);
    free(ids);
    return rc;
}

/* ---- writing: the file ---- */

static int write_config(lm__h5 *f, const lm_config *c) {
    hid_t d = H5I_INVALID_HID;
    int rc;
    LM_CALL(lm__h5_write_str(f, f->id, "config", c->text ? c->text : "", &d));
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, "text", "the experiment's YAML configuration"), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, d, "path", c->path ? c->path : ""), done);
done:
    lm__h5_close_id(&d);
    return rc;
}

static int write_all(lm__h5 *f, const lm_run_info *info, const lm_trials *t) {
    hid_t root = f->id;
    LM_CALL(lm__h5_set_format(f, RESULTS_FORMAT));
    LM_CALL(lm__h5_attr_i64(f, root, "schema_version", LM_RESULTS_SCHEMA_VERSION));
    LM_CALL(lm__h5_attr_str(f, root, "lamarck_version", info->version ? info->version : ""));
    LM_CALL(lm__h5_attr_str(f, root, "command_line", info->command_line ? info->command_line : ""));
    LM_CALL(lm__h5_attr_i64(f, root, "n_ranks", info->n_ranks));
    LM_CALL(lm__h5_attr_f64(f, root, "wall_seconds", info->wall_seconds));
    LM_CALL(lm__h5_attr_f64(f, root, "rank0_cpu_seconds", info->rank0_cpu_seconds));
    LM_CALL(lm__h5_attr_f64(f, root, "idle_worker_seconds", info->idle_worker_seconds));
    LM_CALL(lm__h5_attr_i64(f, root, "snapshot_transfers", info->snapshot_transfers));
    LM_CALL(lm__h5_attr_i64(f, root, "snapshot_local", info->snapshot_local));
    LM_CALL(lm__h5_attr_i64(f, root, "complete", info->complete ? 1 : 0));
    if (info->config) LM_CALL(write_config(f, info->config));
    LM_CALL(write_trials(f, info, t));
    LM_CALL(write_curves(f, t));
    LM_CALL(write_promotions(f, t)); /* issue 5 */
    LM_CALL(write_populations(f, t)); /* issue 7 */
    LM_CALL(write_pbt_events(f, info, t)); /* issue 6 */
    LM_CALL(write_pareto(f, t));      /* issue 7 */
    LM_CALL(lm__io_write_genomes(f, info->config ? info->config->space : NULL, t)); /* issue 4 */
    return LM_OK;
}

int lm_io_results_write(const char *path, const lm_run_info *info, const lm_trials *trials) {
    const lm_space *sp = info->config ? info->config->space : NULL;
    int n_hp = sp ? lm_space_size(sp) : 0;
    LM_CHECK(n_hp == trials->n_hp, LM_EINVAL,
             "results: the trial table has %d hyperparameters, the space %d", trials->n_hp, n_hp);
    LM_CHECK(trials->n >= 0 && trials->n <= RESULTS_TRIALS_MAX, LM_EINVAL,
             "results: %d trials", trials->n);
    lm__h5 f;
    LM_CALL(lm__h5_create(&f, path));
    int rc = write_all(&f, info, trials);
    if (rc < 0) {
        lm__h5_discard(&f);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    LM_CALL(lm__h5_commit(&f));
    return LM_OK;
}

/* ---- reading ---- */

/* Reads a numeric /trials column of exactly n rows (n < 0: any, and sets it). */
static int read_col(lm__h5 *f, hid_t g, const char *name, lm_dtype t, int *n, void **out) {
    size_t got;
    LM_CALL(lm__h5_read_1d(f, g, name, t, RESULTS_TRIALS_MAX, out, &got));
    if (*n < 0) *n = (int)got;
    if (got != (size_t)*n) {
        free(*out);
        *out = NULL;
        LM_FAIL(LM_EDATA, "%s: /trials/%s has %zu rows, /trials/id %d", f->path, name, got, *n);
    }
    return LM_OK;
}

static int read_str_col(lm__h5 *f, hid_t g, const char *name, size_t max_len, int n,
                        char ***out) {
    size_t got;
    LM_CALL(lm__h5_read_strs(f, g, name, RESULTS_TRIALS_MAX, max_len, out, &got));
    if (got != (size_t)n) {
        lm__h5_free_strs(*out, got);
        *out = NULL;
        LM_FAIL(LM_EDATA, "%s: /trials/%s has %zu rows, /trials/id %d", f->path, name, got, n);
    }
    return LM_OK;
}

/* Accuracies are fractions or NaN (not measured); times are non-negative or NaN. */
static int check_range(lm__h5 *f, const char *name, const double *v, int n, double lo,
                       double hi) {
    for (int i = 0; i < n; i++)
        LM_CHECK(isnan(v[i]) || (v[i] >= lo && v[i] <= hi), LM_EDATA,
                 "%s: /trials/%s[%d] is %g, outside [%g, %g]", f->path, name, i, v[i], lo, hi);
    return LM_OK;
}

static int read_trial_cols(lm__h5 *f, hid_t g, lm_results *r) {
    int n = -1;
    LM_CALL(read_col(f, g, "id", LM_DT_I32, &n, (void **)&r->id));
    r->n_trials = n;
    LM_CALL(read_col(f, g, "epochs", LM_DT_I32, &n, (void **)&r->epochs));
    LM_CALL(read_col(f, g, "worker", LM_DT_I32, &n, (void **)&r->worker));
    LM_CALL(read_col(f, g, "best_val_accuracy", LM_DT_F64, &n, (void **)&r->best_val_accuracy));
    LM_CALL(read_col(f, g, "final_val_accuracy", LM_DT_F64, &n, (void **)&r->final_val_accuracy));
    LM_CALL(read_col(f, g, "test_accuracy", LM_DT_F64, &n, (void **)&r->test_accuracy));
    LM_CALL(read_col(f, g, "train_seconds", LM_DT_F64, &n, (void **)&r->train_seconds));
    LM_CALL(read_str_col(f, g, "status", STATUS_MAX, n, &r->status));
    LM_CALL(read_str_col(f, g, "reason", REASON_MAX, n, &r->reason));
    for (int i = 0; i < n; i++) {
        LM_CHECK(r->id[i] >= 0 && (i == 0 || r->id[i] > r->id[i - 1]), LM_EDATA,
                 "%s: /trials/id[%d] is %d; ids must increase from 0", f->path, i, r->id[i]);
        LM_CHECK(r->epochs[i] >= 0, LM_EDATA, "%s: /trials/epochs[%d] is %d", f->path, i,
                 r->epochs[i]);
        LM_CHECK(r->worker[i] >= -1, LM_EDATA, "%s: /trials/worker[%d] is %d", f->path, i,
                 r->worker[i]);
        int known = 0;
        for (int s = LM_TRIAL_PENDING; s < LM_TRIAL_N_STATUS; s++)
            known |= !strcmp(r->status[i], lm_trial_status_name((lm_trial_status)s));
        LM_CHECK(known, LM_EDATA, "%s: /trials/status[%d] is '%s', not a trial status", f->path,
                 i, r->status[i]);
    }
    LM_CALL(check_range(f, "best_val_accuracy", r->best_val_accuracy, n, 0, 1));
    LM_CALL(check_range(f, "final_val_accuracy", r->final_val_accuracy, n, 0, 1));
    LM_CALL(check_range(f, "test_accuracy", r->test_accuracy, n, 0, 1));
    LM_CALL(check_range(f, "train_seconds", r->train_seconds, n, 0, INFINITY));
    return LM_OK;
}

/* Turns hyperparameter column j (values v) into labels, as lm_space_format_value
 * would with the kind and choices recorded in the file. */
static int label_hp(lm__h5 *f, hid_t hg, const char *name, int j, const double *v, lm_results *r) {
    hid_t d = H5I_INVALID_HID;
    char *kind = NULL, **choices = NULL;
    size_t n_choices = 0;
    int rc = LM_OK;
    if (!lm__h5_exists(hg, name)) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /trials/hp lists '%s', which is missing", f->path, name);
        goto done;
    }
    d = H5Dopen2(hg, name, H5P_DEFAULT);
    if (d < 0) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /trials/hp/%s is not a dataset", f->path, name);
        goto done;
    }
    LM_CALL_GOTO(rc, lm__h5_attr_read_str(f, d, "kind", 16, &kind), done);
    int cat = !strcmp(kind, "categorical"), is_int = !strcmp(kind, "int");
    if (!cat && !is_int && strcmp(kind, "float")) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /trials/hp/%s has kind '%s' (float, int or categorical expected)",
                          f->path, name, kind);
        goto done;
    }
    if (cat)
        LM_CALL_GOTO(rc, lm__h5_attr_read_strs(f, d, "choices", LM_HP_CHOICES_MAX, CHOICE_MAX,
                                               &choices, &n_choices), done);
    for (int i = 0; i < r->n_trials; i++) {
        char buf[LABEL_MAX];
        double x = v[i];
        if (isnan(x)) {
            snprintf(buf, sizeof buf, "-");
        } else if (cat) {
            if (!(x >= 0 && x < (double)n_choices && x == floor(x))) {
                rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                                  "%s: /trials/hp/%s[%d] is %g, not a choice index 0..%zu",
                                  f->path, name, i, x, n_choices ? n_choices - 1 : 0);
                goto done;
            }
            snprintf(buf, sizeof buf, "%s", choices[(size_t)x]);
        } else if (!isfinite(x)) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                              "%s: /trials/hp/%s[%d] is %g", f->path, name, i, x);
            goto done;
        } else if (is_int) {
            snprintf(buf, sizeof buf, "%.0f", floor(x + 0.5));
        } else {
            snprintf(buf, sizeof buf, "%.6g", x);
        }
        r->hp_labels[i][j] = lm_strdup(buf);
        if (!r->hp_labels[i][j]) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
            goto done;
        }
    }
done:
    free(kind);
    lm__h5_free_strs(choices, n_choices);
    lm__h5_close_id(&d);
    return rc;
}

static int read_hps(lm__h5 *f, hid_t g, lm_results *r) {
    hid_t hg = H5I_INVALID_HID;
    size_t n_hp = 0;
    double *v = NULL;
    int rc;
    LM_CALL(lm__h5_group_open(f, g, "hp", &hg));
    LM_CALL_GOTO(rc, lm__h5_attr_read_strs(f, hg, "names", LM_HP_MAX, LM_HP_NAME_MAX - 1,
                                           &r->hp_names, &n_hp), done);
    r->n_hp = (int)n_hp;
    for (size_t j = 0; j < n_hp; j++) {
        const char *name = r->hp_names[j];
        if (!*name || strchr(name, '/')) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                              "%s: /trials/hp: '%s' is not a hyperparameter name", f->path, name);
            goto done;
        }
    }
    r->hp_labels = calloc((size_t)(r->n_trials ? r->n_trials : 1), sizeof *r->hp_labels);
    if (!r->hp_labels) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < r->n_trials; i++) {
        r->hp_labels[i] = calloc(n_hp ? n_hp : 1, sizeof **r->hp_labels);
        if (!r->hp_labels[i]) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
            goto done;
        }
    }
    for (size_t j = 0; j < n_hp; j++) {
        int n = r->n_trials;
        char col[LM_HP_NAME_MAX + 8];
        snprintf(col, sizeof col, "hp/%s", r->hp_names[j]);
        LM_CALL_GOTO(rc, read_col(f, g, col, LM_DT_F64, &n, (void **)&v), done);
        LM_CALL_GOTO(rc, label_hp(f, hg, r->hp_names[j], (int)j, v, r), done);
        free(v);
        v = NULL;
    }
    rc = LM_OK;
done:
    free(v);
    lm__h5_close_id(&hg);
    return rc;
}

static int read_all(lm__h5 *f, lm_results *r) {
    hid_t root = f->id, g = H5I_INVALID_HID;
    int64_t v;
    int rc;
    LM_CALL(lm__h5_check_format(f, RESULTS_FORMAT));
    LM_CALL(lm__h5_attr_read_i64(f, root, "schema_version", &v));
    LM_CHECK(v == LM_RESULTS_SCHEMA_VERSION, LM_EDATA,
             "%s: results schema version %lld; this lamarck reads version %d", f->path,
             (long long)v, LM_RESULTS_SCHEMA_VERSION);
    LM_CALL(lm__h5_attr_read_i64(f, root, "complete", &v));
    LM_CHECK(v == 0 || v == 1, LM_EDATA, "%s: attribute complete is %lld (0 or 1 expected)",
             f->path, (long long)v);
    r->complete = (int)v;
    LM_CALL(lm__h5_attr_read_f64(f, root, "wall_seconds", &r->wall_seconds));
    LM_CALL(lm__h5_group_open(f, root, "trials", &g));
    LM_CALL_GOTO(rc, read_trial_cols(f, g, r), done);
    LM_CALL_GOTO(rc, read_hps(f, g, r), done);
    rc = LM_OK;
done:
    lm__h5_close_id(&g);
    return rc;
}

int lm_io_results_read(const char *path, lm_results *out) {
    lm__h5 f;
    memset(out, 0, sizeof *out);
    LM_CALL(lm__h5_open(&f, path, LM_EDATA));
    int rc = read_all(&f, out);
    lm__h5_close(&f);
    if (rc < 0) {
        lm_io_results_free(out);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

void lm_io_results_free(lm_results *r) {
    if (!r) return;
    if (r->hp_labels)
        for (int i = 0; i < r->n_trials; i++) lm__h5_free_strs(r->hp_labels[i], (size_t)r->n_hp);
    free(r->hp_labels);
    lm__h5_free_strs(r->hp_names, (size_t)r->n_hp);
    lm__h5_free_strs(r->status, (size_t)r->n_trials);
    lm__h5_free_strs(r->reason, (size_t)r->n_trials);
    free(r->id);
    free(r->epochs);
    free(r->worker);
    free(r->best_val_accuracy);
    free(r->final_val_accuracy);
    free(r->test_accuracy);
    free(r->train_seconds);
    memset(r, 0, sizeof *r);
}
