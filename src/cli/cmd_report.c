/* lamarck report: the best trials of a results file as a table. */
#include "cli/cli.h"
#include "lamarck/error.h"
#include "lamarck/io.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: lamarck report RESULTS.h5 [--top N]\n"
    "\n"
    "Prints the N best trials (default 10) by best validation accuracy, then a count of\n"
    "trials by status. Test accuracy is shown for information only: lamarck never uses\n"
    "it to select.\n";

static const lm_results *sort_ctx;

static int by_best(const void *a, const void *b) {
    int i = *(const int *)a, j = *(const int *)b;
    double x = sort_ctx->best_val_accuracy[i], y = sort_ctx->best_val_accuracy[j];
    if (isnan(x)) x = -1;
    if (isnan(y)) y = -1;
    if (x != y) return x < y ? 1 : -1;
    return sort_ctx->id[i] - sort_ctx->id[j];
}

static void print_table(const lm_results *r, int top) {
    int *order = malloc((size_t)(r->n_trials ? r->n_trials : 1) * sizeof *order);
    if (!order) return;
    for (int i = 0; i < r->n_trials; i++) order[i] = i;
    sort_ctx = r;
    qsort(order, (size_t)r->n_trials, sizeof *order, by_best);
    printf("%4s %5s %-8s %6s %8s %8s %8s %8s", "rank", "trial", "status", "epochs", "best_val",
           "last_val", "test", "seconds");
    for (int h = 0; h < r->n_hp; h++) printf(" %12s", r->hp_names[h]);
    printf("\n");
    for (int k = 0; k < r->n_trials && k < top; k++) {
        int i = order[k];
        printf("%4d %5d %-8s %6d %8.4f %8.4f %8.4f %8.1f", k + 1, r->id[i], r->status[i],
               r->epochs[i], r->best_val_accuracy[i], r->final_val_accuracy[i],
               r->test_accuracy[i], r->train_seconds[i]);
        for (int h = 0; h < r->n_hp; h++) printf(" %12s", r->hp_labels[i][h]);
        printf("\n");
    }
    free(order);
}

int lm_cli_report(int argc, char **argv) {
    const char *path = NULL;
    int top = 10;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (lm_cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--top")) {
            char *end = NULL;
            if (i + 1 >= argc) return lm_cli_usage_error("report", "--top needs a number");
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 1000000)
                return lm_cli_usage_error("report", "--top expects a positive integer, got '%s'",
                                          argv[i]);
            top = (int)v;
        } else if (a[0] == '-') {
            return lm_cli_usage_error("report", "unknown option '%s'", a);
        } else if (path) {
            return lm_cli_usage_error("report", "more than one results file");
        } else {
            path = a;
        }
    }
    if (!path) return lm_cli_usage_error("report", "no results file given");
    lm_results r;
    int rc = lm_io_results_read(path, &r);
    if (rc < 0) return lm_cli_fail(rc);
    printf("%s: %d trials, %s, %.1f s\n", path, r.n_trials,
           r.complete ? "complete" : "incomplete (run still going or interrupted)", r.wall_seconds);
    print_table(&r, top);
    const char *names[] = {"done", "stopped", "failed", "running", "pending"};
    printf("\n");
    for (int s = 0; s < 5; s++) {
        int n = 0;
        for (int i = 0; i < r.n_trials; i++) n += !strcmp(r.status[i], names[s]);
        if (n) printf("%s: %d  ", names[s], n);
    }
    printf("\n");
    for (int i = 0; i < r.n_trials; i++)
        if (!strcmp(r.status[i], "failed") && r.reason[i][0])
            printf("trial %d failed: %s\n", r.id[i], r.reason[i]);
    lm_io_results_free(&r);
    return 0;
}
