/* lamarck rank train | eval | stoppers: the learning-curve ranking model (LCRankNet) of a
 * meta-dataset, trained and saved, evaluated dataset by dataset, or compared with the
 * other early-stopping rules on replayed searches. */
#include "cli/cli.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"
#include "lamarck/log.h"
#include "lamarck/meta.h"
#include "lamarck/nn.h"
#include "lamarck/rank.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: lamarck rank train META.h5 -o MODEL [--exclude DATASET] [options]\n"
    "       lamarck rank eval META.h5 [--model MODEL] [options]\n"
    "       lamarck rank stoppers META.h5 [--workers N] [--delta D] [--csv FILE]\n"
    "                                     [--runs DIR] [options]\n"
    "\n"
    "train fits the ranking model on every dataset of the meta-dataset but the excluded\n"
    "one and writes it to MODEL. eval prints, per dataset, Spearman's correlation between\n"
    "the final validation accuracy and the ranking after 10%, 20% and 50% of the epochs,\n"
    "by the model and by the last observed value: with --model, of that model on every\n"
    "dataset; without, leave-one-dataset-out (a model trained on the others for each).\n"
    "stoppers holds each dataset out in turn: a model trained on the others, its\n"
    "Spearman table there, then one replayed grid search over all the dataset's\n"
    "architectures (N simulated workers, default 4) per stopping rule: none, rank and\n"
    "curve (stop when p(beats the best) <= D, default 0.05), median, last. It prints the\n"
    "epochs spent, the speed-up over none and the regret (best final validation accuracy\n"
    "of all architectures minus that of the best trial trained to the end) per dataset,\n"
    "their medians, and writes them to FILE as CSV; replays go to DIR (runs/stopeval).\n"
    "\n"
    "options: --steps N (2000)  --pairs N (64)  --lr X (0.005)  --seed N (1)\n"
    "         --filters N (16)  --hidden N (64)\n"
    "         --encoding-dropout P (1: the architecture encoding is never used; 0: always)\n";

typedef struct args {
    const char *meta, *out, *model, *exclude, *csv, *runs;
    lm_rank_options o;
    int workers;
    double delta;
} args;

static int parse_int(const char *s, long lo, long hi, long *v) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (errno || end == s || *end || x < lo || x > hi) return -1;
    *v = x;
    return 0;
}

/* Returns 0 or the exit status of a usage error. */
static int parse(int argc, char **argv, args *a) {
    memset(a, 0, sizeof *a);
    lm_rank_options_default(&a->o);
    lm_rank_stopeval_options so;
    lm_rank_stopeval_options_default(&so);
    a->workers = so.n_workers;
    a->delta = so.delta;
    a->runs = so.runs_dir;
    const char *cmd = argv[1];
    int stoppers = !strcmp(cmd, "stoppers");
    for (int i = 2; i < argc; i++) {
        const char *k = argv[i];
        int has = i + 1 < argc;
        long v;
        if (!strcmp(k, "-o") && has && !strcmp(cmd, "train")) a->out = argv[++i];
        else if (!strcmp(k, "--exclude") && has && !strcmp(cmd, "train")) a->exclude = argv[++i];
        else if (!strcmp(k, "--model") && has && !strcmp(cmd, "eval")) a->model = argv[++i];
        else if (!strcmp(k, "--csv") && has && stoppers) a->csv = argv[++i];
        else if (!strcmp(k, "--runs") && has && stoppers) a->runs = argv[++i];
        else if (!strcmp(k, "--workers") && has && stoppers) {
            if (parse_int(argv[++i], 1, LM_REPLAY_WORKERS_MAX, &v) < 0)
                return lm_cli_usage_error("rank", "--workers needs an integer from 1 to %d, got '%s'",
                                          LM_REPLAY_WORKERS_MAX, argv[i]);
            a->workers = (int)v;
        } else if (!strcmp(k, "--delta") && has && stoppers) {
            char *end;
            double x = strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(x >= 0 && x <= 1))
                return lm_cli_usage_error("rank", "--delta needs a probability in [0, 1], got '%s'",
                                          argv[i]);
            a->delta = x;
        } else if (!strcmp(k, "--encoding-dropout") && has) {
            char *end;
            double x = strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(x >= 0 && x <= 1))
                return lm_cli_usage_error("rank", "--encoding-dropout needs a probability in "
                                          "[0, 1], got '%s'", argv[i]);
            a->o.encoding_dropout = x;
        } else if (!strcmp(k, "--lr") && has) {
            char *end;
            double x = strtod(argv[++i], &end);
            if (*end || !(x > 0) || !isfinite(x))
                return lm_cli_usage_error("rank", "--lr needs a positive number, got '%s'", argv[i]);
            a->o.lr = x;
        } else if ((!strcmp(k, "--steps") || !strcmp(k, "--pairs") || !strcmp(k, "--seed") ||
                    !strcmp(k, "--filters") || !strcmp(k, "--hidden")) &&
                   has) {
            if (parse_int(argv[++i], 0, LONG_MAX, &v) < 0)
                return lm_cli_usage_error("rank", "%s needs a non-negative integer, got '%s'", k,
                                          argv[i]);
            if (!strcmp(k, "--seed")) a->o.seed = (uint64_t)v;
            else if (v > INT_MAX)
                return lm_cli_usage_error("rank", "%s %ld is too large", k, v);
            else if (!strcmp(k, "--steps")) a->o.steps = (int)v;
            else if (!strcmp(k, "--pairs")) a->o.batch_pairs = (int)v;
            else if (!strcmp(k, "--filters")) a->o.filters = (int)v;
            else a->o.hidden = (int)v;
        } else if (k[0] == '-') {
            return lm_cli_usage_error("rank", "unknown option '%s' for 'rank %s'%s", k, cmd,
                                      has ? "" : " (or its value is missing)");
        } else if (!a->meta) {
            a->meta = k;
        } else {
            return lm_cli_usage_error("rank", "unexpected argument '%s'", k);
        }
    }
    if (!a->meta) return lm_cli_usage_error("rank", "missing META.h5 (the meta-dataset file)");
    if (!strcmp(cmd, "train") && !a->out)
        return lm_cli_usage_error("rank", "missing -o MODEL (where to write the model)");
    if (lm_rank_options_check(&a->o) < 0) {
        int status = lm_cli_usage_error("rank", "%s", lm_error_message());
        lm_error_clear();
        return status;
    }
    return 0;
}

static int train(const args *a, const lm_meta *m) {
    int *ds = malloc((size_t)m->n_datasets * sizeof *ds), n = 0, skip = -1;
    LM_CHECK_ALLOC(ds);
    if (a->exclude) {
        skip = lm_meta_find_dataset(m, a->exclude);
        if (skip < 0) {
            free(ds);
            LM_FAIL(LM_EUSAGE, "--exclude: no dataset '%s' in '%s'", a->exclude, a->meta);
        }
    }
    for (int d = 0; d < m->n_datasets; d++)
        if (d != skip) ds[n++] = d;
    lm_rank_model *r = NULL;
    int rc = n ? lm_rank_train(m, ds, n, &a->o, &r)
               : lm_error_set(__FILE__, __LINE__, __func__, LM_EUSAGE,
                              "no dataset left to train on in '%s'", a->meta);
    free(ds);
    if (rc == LM_OK) rc = lm_rank_save(r, a->out);
    if (rc == LM_OK)
        printf("ranking model trained on %d dataset(s) of '%s' (%d steps), written to %s\n", n,
               a->meta, a->o.steps, a->out);
    lm_rank_destroy(&r);
    return rc;
}

static void print_table(const lm_meta *m, const lm_rank_eval *rows, int n) {
    printf("%-24s %6s  %-23s  %-23s\n", "dataset", "archs", "model rho (10/20/50%)",
           "last-value rho");
    int wins = 0, counted = 0;
    for (int i = 0; i < n; i++) {
        const lm_rank_eval *e = &rows[i];
        printf("%-24.24s %6d ", m->dataset_names[e->dataset], e->n_archs);
        for (int k = 0; k < LM_RANK_EVAL_POINTS; k++) printf(" %7.3f", e->rho_model[k]);
        printf(" ");
        for (int k = 0; k < LM_RANK_EVAL_POINTS; k++) printf(" %7.3f", e->rho_last[k]);
        printf("\n");
        if (!isnan(e->rho_model[0]) && !isnan(e->rho_last[0])) {
            counted++;
            wins += e->rho_model[0] > e->rho_last[0];
        }
    }
    printf("epochs observed: %d/%d/%d of %d; the model beats last value at 10%% on %d of %d "
           "datasets\n",
           rows[0].t[0], rows[0].t[1], rows[0].t[2], m->epochs, wins, counted);
}

static int eval(const args *a, const lm_meta *m) {
    lm_rank_eval *rows = calloc((size_t)m->n_datasets, sizeof *rows);
    LM_CHECK_ALLOC(rows);
    int rc = LM_OK;
    if (a->model) {
        lm_rank_model *r = NULL;
        rc = lm_rank_load(a->model, &r);
        for (int d = 0; d < m->n_datasets && rc == LM_OK; d++)
            rc = lm_rank_eval_dataset(r, m, d, &rows[d]);
        lm_rank_destroy(&r);
    } else {
        rc = lm_rank_eval_loo(m, &a->o, rows);
    }
    if (rc == LM_OK) {
        printf("%s evaluation of %s\n", a->model ? "model" : "leave-one-dataset-out", a->meta);
        print_table(m, rows, m->n_datasets);
    }
    free(rows);
    return rc;
}

/* ---- stoppers ---- */

static void print_stoppers(const lm_rank_stopeval_row *rows, const char *title) {
    printf("%s\n", title);
    printf("  %-8s %8s %8s %8s %9s %9s %9s %9s\n", "stopper", "epochs", "speedup", "time-x",
           "stopped", "complete", "best", "regret");
    for (int s = 0; s < LM_RANK_STOPEVAL_N; s++) {
        const lm_rank_stopeval_row *r = &rows[s];
        printf("  %-8s %8ld %8.2f %8.2f %9d %9d %9.4f %9.4f\n", lm_rank_stopeval_stoppers[s],
               r->epochs, r->speedup, r->time_speedup, r->stopped, r->completed, r->best_found,
               r->regret);
    }
}

/* Writes the rows to f (opened before the evaluation, so a bad path fails at once) and
 * closes it. */
static int write_csv(FILE *f, const char *path, const lm_meta *m,
                     const lm_rank_stopeval_row *rows) {
    fprintf(f, "dataset,stopper,epochs,speedup,regret,time_speedup,stopped,completed,best_found,"
               "best_possible\n");
    for (int d = 0; d < m->n_datasets; d++)
        for (int s = 0; s < LM_RANK_STOPEVAL_N; s++) {
            const lm_rank_stopeval_row *r = &rows[(size_t)d * LM_RANK_STOPEVAL_N + s];
            /* Dataset names are checked printable by lm_meta_read; quotes keep commas. */
            fprintf(f, "\"%s\",%s,%ld,%.6f,%.6f,%.6f,%d,%d,%.6f,%.6f\n", m->dataset_names[d],
                    lm_rank_stopeval_stoppers[s], r->epochs, r->speedup, r->regret,
                    r->time_speedup, r->stopped, r->completed, r->best_found, r->best_possible);
        }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    LM_CHECK(!bad, LM_EIO, "--csv: error writing '%s'", path);
    return LM_OK;
}

static int stoppers(const args *a, const lm_meta *m) {
    lm_rank_stopeval_options o;
    lm_rank_stopeval_options_default(&o);
    o.rank = a->o;
    o.n_workers = a->workers;
    o.delta = a->delta;
    o.runs_dir = a->runs;
    o.meta_path = a->meta;
    FILE *csv = NULL;
    if (a->csv) {
        csv = fopen(a->csv, "w");
        LM_CHECK(csv, LM_EIO, "--csv: cannot write '%s': %s", a->csv, strerror(errno));
    }
    int D = m->n_datasets;
    lm_rank_stopeval_row *rows = calloc((size_t)D * LM_RANK_STOPEVAL_N, sizeof *rows);
    lm_rank_eval *rho = calloc((size_t)D, sizeof *rho);
    int rc = rows && rho ? lm_rank_stopeval(m, &o, rows, rho)
                         : lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    if (rc == LM_OK) {
        printf("leave-one-dataset-out evaluation of %s (%d steps of %d pairs, seed %llu)\n",
               a->meta, o.rank.steps, o.rank.batch_pairs, (unsigned long long)o.rank.seed);
        print_table(m, rho, D);
        printf("\nearly stopping in a replayed search of every architecture (%d simulated "
               "workers, delta %g for rank and curve); regret: best final validation accuracy "
               "of all architectures minus that of the best trial trained to the end\n",
               o.n_workers, o.delta);
        for (int d = 0; d < D; d++) {
            char title[400];
            snprintf(title, sizeof title, "held out: %s (%d architectures, best final %.4f)",
                     m->dataset_names[d], m->n_archs,
                     rows[(size_t)d * LM_RANK_STOPEVAL_N].best_possible);
            print_stoppers(rows + (size_t)d * LM_RANK_STOPEVAL_N, title);
        }
        lm_rank_stopeval_row med[LM_RANK_STOPEVAL_N];
        lm_rank_stopeval_summary(rows, D, med);
        print_stoppers(med, "median over the held-out datasets");
        if (csv) {
            rc = write_csv(csv, a->csv, m, rows);
            csv = NULL;
            if (rc == LM_OK) printf("rows written to %s\n", a->csv);
        }
    }
    if (csv) fclose(csv);
    free(rows);
    free(rho);
    return rc;
}

int lm_cli_rank(int argc, char **argv) {
    if (argc < 2) return lm_cli_usage_error("rank", "missing subcommand (train, eval, stoppers)");
    for (int i = 1; i < argc; i++)
        if (lm_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
    if (strcmp(argv[1], "train") != 0 && strcmp(argv[1], "eval") != 0 &&
        strcmp(argv[1], "stoppers") != 0)
        return lm_cli_usage_error("rank", "unknown subcommand '%s' (known: train, eval, stoppers)",
                                  argv[1]);
    args a;
    int status = parse(argc, argv, &a);
    if (status) return status;
    /* The ranking network is tiny: more threads only add synchronization (measured 25 times
     * slower with 2 threads on a shared 2-core machine than with 1). */
    lm_nn_set_threads(1);
    lm_meta m;
    memset(&m, 0, sizeof m);
    int rc = lm_meta_read(a.meta, &m);
    if (rc == LM_OK)
        rc = !strcmp(argv[1], "train")  ? train(&a, &m)
             : !strcmp(argv[1], "eval") ? eval(&a, &m)
                                        : stoppers(&a, &m);
    lm_meta_free(&m);
    return rc < 0 ? lm_cli_fail(rc) : 0;
}
