/* Evaluation of early-stopping rules on replayed searches (issue 10's acceptance): for
 * each held-out dataset of a meta-dataset, a ranking model trained on the others, its
 * Spearman figures there, and one replayed search of all the dataset's architectures per
 * stopping rule, compared by the epochs they spend and the regret of what they return.
 * The replays are the real controller, searcher and stoppers (lm_exec_replay) driven by
 * a configuration written here as YAML, so a run directory of the evaluation can be
 * rerun or inspected like any other. */
#include "lamarck/config.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"
#include "lamarck/io.h"
#include "lamarck/log.h"
#include "lamarck/rank.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_CAP 4096
#define YAML_CAP 8192

const char *const lm_rank_stopeval_stoppers[LM_RANK_STOPEVAL_N] = {"none", "rank", "curve",
                                                                    "median", "last"};

void lm_rank_stopeval_options_default(lm_rank_stopeval_options *o) {
    memset(o, 0, sizeof *o);
    lm_rank_options_default(&o->rank);
    o->n_workers = 4;
    o->delta = 0.05;
    o->seed = 1;
    o->runs_dir = "runs/stopeval";
}

static int check_options(const lm_rank_stopeval_options *o) {
    LM_CALL(lm_rank_options_check(&o->rank));
    LM_CHECK(o->n_workers >= 1 && o->n_workers <= LM_REPLAY_WORKERS_MAX, LM_ERANGE,
             "stopper evaluation: %d simulated workers, 1 to %d expected", o->n_workers,
             LM_REPLAY_WORKERS_MAX);
    LM_CHECK(o->delta >= 0 && o->delta <= 1, LM_ERANGE,
             "stopper evaluation: delta %g, a probability in [0, 1] expected", o->delta);
    LM_CHECK(o->runs_dir && *o->runs_dir && strlen(o->runs_dir) < PATH_CAP / 2, LM_EINVAL,
             "stopper evaluation: the runs directory is empty or longer than %d bytes",
             PATH_CAP / 2);
    return LM_OK;
}

/* ---- the meta-dataset's figures ---- */

static double final_acc(const lm_meta *m, int d, int k) {
    const float *c = m->curves[LM_META_VAL_ACCURACY] + lm_meta_index(m, d, k, 0);
    for (int e = 0; e < m->epochs; e++)
        if (!isfinite(c[e])) return NAN;
    return c[m->epochs - 1];
}

/* The best final validation accuracy over the architectures of d with a complete
 * curve, NaN when none has one. */
static double best_possible(const lm_meta *m, int d) {
    double best = NAN;
    for (int k = 0; k < m->n_archs; k++) {
        double a = final_acc(m, d, k);
        if (isfinite(a) && !(a <= best)) best = a;
    }
    return best;
}

/* ---- one replay ---- */

/* "<d>_<name>" as a path component: characters of the name other than [A-Za-z0-9._-]
 * as '_'. The index keeps names that map alike apart, and a name of dots from leaving
 * the runs directory. */
static void path_component(int d, const char *name, char *out, size_t cap) {
    int n = snprintf(out, cap, "%d_%s", d, name);
    size_t len = n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
    for (size_t i = 0; i < len; i++) {
        char ch = out[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '.' || ch == '_' || ch == '-';
        if (!ok) out[i] = '_';
    }
}

/* Appends s to buf[*n..cap) as a YAML double-quoted scalar. */
static int yaml_quoted(char *buf, size_t cap, size_t *n, const char *s) {
    size_t k = *n;
    if (k < cap) buf[k++] = '"';
    for (; *s && k + 2 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        LM_CHECK(ch >= 0x20 && ch != 0x7f, LM_EINVAL,
                 "stopper evaluation: control character in '%s' (a path or dataset name)", s);
        if (ch == '"' || ch == '\\') buf[k++] = '\\';
        buf[k++] = (char)ch;
    }
    LM_CHECK(!*s && k + 1 < cap, LM_ERANGE, "stopper evaluation: config longer than %zu bytes",
             cap);
    buf[k++] = '"';
    buf[k] = '\0';
    *n = k;
    return LM_OK;
}

/* printf into buf[*n..cap). */
static int append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int append(char *buf, size_t cap, size_t *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = *n < cap ? vsnprintf(buf + *n, cap - *n, fmt, ap) : -1;
    va_end(ap);
    LM_CHECK(w >= 0 && (size_t)w < cap - *n, LM_ERANGE,
             "stopper evaluation: config longer than %zu bytes", cap);
    *n += (size_t)w;
    return LM_OK;
}

/* The YAML of the replayed search: grid over every architecture, each for all E epochs,
 * with stopping rule s. The replay section is what a config needs to name arch_index;
 * lm_exec_replay takes the meta-dataset from memory. */
static int write_yaml(const lm_meta *m, int d, const lm_rank_stopeval_options *o, int s,
                      const char *dir, char *buf, size_t cap) {
    const char *rule = lm_rank_stopeval_stoppers[s];
    size_t n = 0;
    LM_CALL(append(buf, cap, &n,
                   "# lamarck rank stoppers: a replayed search of every architecture, stopping "
                   "rule '%s'\nexperiment: {name: stopeval, seed: %llu, overwrite: true, output: ",
                   rule, (unsigned long long)o->seed));
    LM_CALL(yaml_quoted(buf, cap, &n, dir));
    LM_CALL(append(buf, cap, &n, "}\nreplay: {workers: %d, meta: ", o->n_workers));
    LM_CALL(yaml_quoted(buf, cap, &n, o->meta_path ? o->meta_path : "(in memory)"));
    LM_CALL(append(buf, cap, &n, ", dataset: "));
    LM_CALL(yaml_quoted(buf, cap, &n, m->dataset_names[d]));
    LM_CALL(append(buf, cap, &n, "}\ntraining: {epochs: %d}\nsearch: {algorithm: grid}\n",
                   m->epochs));
    if (!strcmp(rule, "rank") || !strcmp(rule, "curve"))
        LM_CALL(append(buf, cap, &n, "stopping: {rule: %s, delta: %.17g}\n", rule, o->delta));
    else
        LM_CALL(append(buf, cap, &n, "stopping: {rule: %s}\n", rule));
    return append(buf, cap, &n, "space:\n  arch_index: {type: int, low: 0, high: %d, grid: %d}\n",
                  m->n_archs - 1, m->n_archs);
}

/* The arch_index of trial i of results r, -1 when it has none. */
static int arch_of(const lm_results *r, int i) {
    for (int h = 0; h < r->n_hp; h++) {
        if (strcmp(r->hp_names[h], "arch_index") != 0) continue;
        char *end;
        long k = strtol(r->hp_labels[i][h], &end, 10);
        return end != r->hp_labels[i][h] && *end == '\0' && k >= 0 && k < (1L << 30) ? (int)k
                                                                                     : -1;
    }
    return -1;
}

/* Fills row's figures (all but the speed-ups) from the replay's results.h5. */
static int tally(const lm_meta *m, int d, const char *results, lm_rank_stopeval_row *row) {
    lm_results r;
    memset(&r, 0, sizeof r);
    LM_CALL(lm_io_results_read(results, &r));
    int rc = LM_OK;
    row->trials = r.n_trials;
    row->best_possible = best_possible(m, d);
    row->best_found = NAN;
    for (int i = 0; i < r.n_trials; i++) {
        int k = arch_of(&r, i);
        if (k < 0 || k >= m->n_archs) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                              "%s: trial %d has no arch_index of the meta-dataset", results, i);
            break;
        }
        row->epochs += r.epochs[i];
        if (r.epochs[i] < m->epochs) {
            row->stopped += !strcmp(r.status[i], lm_trial_status_name(LM_TRIAL_STOPPED));
            continue;
        }
        /* The recorded curve, not the results' copy: the same number, and the one
         * best_possible ranks by, so a search that found the best has regret exactly 0. */
        double a = final_acc(m, d, k);
        if (!isfinite(a)) continue;
        row->completed++;
        if (!(a <= row->best_found)) row->best_found = a;
    }
    row->regret = isfinite(row->best_found) ? row->best_possible - row->best_found
                                            : row->best_possible;
    lm_io_results_free(&r);
    return rc;
}

/* The log's current level, to restore after the replays' quieter stretch. */
static lm_log_level log_level(void) {
    lm_log_level l = LM_LOG_ERROR;
    while (l < LM_LOG_DEBUG && lm_log_enabled((lm_log_level)(l + 1))) l = (lm_log_level)(l + 1);
    return l;
}

static int replay_one(const lm_meta *m, int d, const lm_rank_stopeval_options *o, int s,
                      lm_rank_stopeval_row *row, double *makespan) {
    char ds[256], dir[PATH_CAP], results[PATH_CAP + 16], yaml[YAML_CAP];
    path_component(d, m->dataset_names[d], ds, sizeof ds);
    snprintf(dir, sizeof dir, "%s/%s/%s", o->runs_dir, ds, lm_rank_stopeval_stoppers[s]);
    LM_CALL(write_yaml(m, d, o, s, dir, yaml, sizeof yaml));
    lm_config *cfg = NULL;
    LM_CALL(lm_config_parse(yaml, strlen(yaml), "<rank stoppers>", &cfg));
    lm_replay_options r = lm_replay_options_default();
    r.meta = m;
    r.dataset = m->dataset_names[d];
    r.n_workers = o->n_workers;
    r.command_line = "lamarck rank stoppers";
    lm_replay_info info;
    /* A replay logs every trial: thousands of lines that say nothing here. */
    lm_log_level level = log_level();
    if (level > LM_LOG_WARN) lm_log_set_level(LM_LOG_WARN);
    int rc = lm_exec_replay(cfg, &r, &info);
    lm_log_set_level(level);
    lm_config_destroy(&cfg);
    LM_CALL(rc);
    memset(row, 0, sizeof *row);
    row->dataset = d;
    row->stopper = s;
    *makespan = info.makespan;
    snprintf(results, sizeof results, "%s/results.h5", dir);
    return tally(m, d, results, row);
}

/* ---- the evaluation ---- */

static int complete_curves(const lm_meta *m, int d) {
    int n = 0;
    for (int k = 0; k < m->n_archs; k++) n += isfinite(final_acc(m, d, k));
    return n;
}

static int held_out(const lm_meta *m, int d, const lm_rank_stopeval_options *o, int *train,
                    lm_rank_stopeval_row *rows, lm_rank_eval *rho) {
    int n = 0;
    for (int j = 0; j < m->n_datasets; j++)
        if (j != d) train[n++] = j;
    lm_rank_model *model = NULL;
    LM_CALL(lm_rank_train(m, train, n, &o->rank, &model));
    int rc = LM_OK;
    lm_rank_eval e;
    LM_CALL_GOTO(rc, lm_rank_eval_dataset(model, m, d, &e), out);
    if (rho) rho[d] = e;
    /* The held-out dataset, as in the Spearman evaluation: the model was not trained on
     * it, so its one-hot stays zero, but its curves' per-epoch statistics normalize the
     * scores. Architecture indices are the space's first (and only) hyperparameter. */
    lm_rank_stopper_ctx ctx = {model, d, m->encoding, m->n_archs, 0};
    LM_CALL_GOTO(rc, lm_rank_stopper_register(&ctx), out);
    double span[LM_RANK_STOPEVAL_N];
    for (int s = 0; s < LM_RANK_STOPEVAL_N; s++)
        LM_CALL_GOTO(rc, replay_one(m, d, o, s, &rows[s], &span[s]), out);
    for (int s = 0; s < LM_RANK_STOPEVAL_N; s++) {
        rows[s].speedup = rows[s].epochs > 0 ? (double)rows[0].epochs / rows[s].epochs : NAN;
        rows[s].time_speedup = span[s] > 0 ? span[0] / span[s] : NAN;
    }
    lm_log_info("rank stoppers: held out '%s': %d epochs without stopping; speed-up / regret "
                "rank %.2f / %.4f, curve %.2f / %.4f, median %.2f / %.4f, last %.2f / %.4f",
                m->dataset_names[d], (int)rows[0].epochs, rows[1].speedup, rows[1].regret,
                rows[2].speedup, rows[2].regret, rows[3].speedup, rows[3].regret,
                rows[4].speedup, rows[4].regret);
out:
    /* The rule's context still names this model: the contract tells callers to register
     * a context again before creating a rank stopper after this evaluation. */
    lm_rank_destroy(&model);
    return rc;
}

int lm_rank_stopeval(const lm_meta *m, const lm_rank_stopeval_options *o,
                     lm_rank_stopeval_row *rows, lm_rank_eval *rho) {
    LM_CHECK(m && o && rows && m->curves[LM_META_VAL_ACCURACY] && m->dataset_names, LM_EINVAL,
             "stopper evaluation: NULL meta-dataset, options or rows");
    LM_CALL(check_options(o));
    LM_CHECK(m->n_datasets >= 2, LM_EDATA,
             "stopper evaluation holds each dataset out in turn: it needs at least 2 datasets, "
             "the meta-dataset has %d",
             m->n_datasets);
    LM_CHECK(m->epochs >= 2 && m->n_archs >= 2, LM_EDATA,
             "stopper evaluation: %d architectures of %d epochs; at least 2 of 2 needed",
             m->n_archs, m->epochs);
    for (int d = 0; d < m->n_datasets; d++)
        LM_CHECK(complete_curves(m, d) >= 1, LM_EDATA,
                 "stopper evaluation: dataset '%s' has no architecture with a complete "
                 "validation curve, so no regret can be measured on it",
                 m->dataset_names[d]);
    int *train = malloc((size_t)m->n_datasets * sizeof *train);
    LM_CHECK_ALLOC(train);
    int rc = LM_OK;
    for (int d = 0; d < m->n_datasets && rc == LM_OK; d++)
        rc = held_out(m, d, o, train, rows + (size_t)d * LM_RANK_STOPEVAL_N, rho);
    free(train);
    return rc < 0 ? lm_error_trace(__FILE__, __LINE__, __func__, rc) : LM_OK;
}

/* ---- summary ---- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of the finite values among v[0..n) (sorted in place), NaN when none. */
static double median(double *v, int n) {
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) v[k++] = v[i];
    if (k == 0) return NAN;
    qsort(v, (size_t)k, sizeof *v, cmp_double);
    return k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]);
}

void lm_rank_stopeval_summary(const lm_rank_stopeval_row *rows, int n_datasets,
                              lm_rank_stopeval_row out[LM_RANK_STOPEVAL_N]) {
    enum { F_EPOCHS, F_SPEEDUP, F_TIME, F_POSSIBLE, F_FOUND, F_REGRET, F_STOPPED, F_DONE, NF };
    for (int s = 0; s < LM_RANK_STOPEVAL_N; s++) {
        lm_rank_stopeval_row *r = &out[s];
        memset(r, 0, sizeof *r);
        r->dataset = -1;
        r->stopper = s;
        double med[NF];
        double *v = n_datasets > 0 ? malloc((size_t)n_datasets * sizeof *v) : NULL;
        for (int f = 0; f < NF; f++) {
            for (int d = 0; v && d < n_datasets; d++) {
                const lm_rank_stopeval_row *x = &rows[(size_t)d * LM_RANK_STOPEVAL_N + s];
                double fig[NF] = {(double)x->epochs, x->speedup,       x->time_speedup,
                                  x->best_possible,  x->best_found,    x->regret,
                                  x->stopped,        x->completed};
                v[d] = fig[f];
                if (f == 0) r->trials += x->trials;
            }
            med[f] = v ? median(v, n_datasets) : NAN;
        }
        free(v);
        r->epochs = isfinite(med[F_EPOCHS]) ? lround(med[F_EPOCHS]) : 0;
        r->speedup = med[F_SPEEDUP];
        r->time_speedup = med[F_TIME];
        r->best_possible = med[F_POSSIBLE];
        r->best_found = med[F_FOUND];
        r->regret = med[F_REGRET];
        r->stopped = isfinite(med[F_STOPPED]) ? (int)lround(med[F_STOPPED]) : 0;
        r->completed = isfinite(med[F_DONE]) ? (int)lround(med[F_DONE]) : 0;
    }
}
