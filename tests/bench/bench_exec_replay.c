/* Replay at scale: random search with ASHA (eta 3, rungs at 1, 3, 9 and 27 epochs)
 * over N trials on W simulated workers, against a synthetic meta-dataset of 1000
 * architectures x 27 epochs (saturating curves with noise, epoch times of 5 to 60
 * virtual seconds that grow with the architecture's size). Prints the controller's
 * decisions per second (reports answered per second of real time) and the simulated
 * workers' utilization (busy worker-time / (workers x virtual makespan)).
 *
 *     bench_exec_replay [trials [workers [output_dir [no-params]]]]
 *
 * Defaults: 100000 trials, 4096 workers, /tmp/lamarck_bench_replay. With "no-params"
 * the architectures record no parameter count, so results.h5 gets no Pareto front
 * (its non-dominated sort of every finished trial is quadratic and, at 100,000
 * trials, takes longer than the controller). */
#define _POSIX_C_SOURCE 200809L
#include "lamarck/config.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"
#include "lamarck/log.h"
#include "lamarck/meta.h"
#include "lamarck/rng.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K = 1000, E = 27 };

static int die(const char *what) {
    fprintf(stderr, "bench_exec_replay: %s: ", what);
    lm_error_print(stderr);
    return 1;
}

/* Architecture k: final accuracy a in [0.6, 0.95], time constant tau in [1, 15]
 * epochs, per-epoch noise 0.005; epoch time 5 + 55 (k / K)^2 seconds, +-10%. */
static int synthetic(lm_meta *m, int with_params) {
    memset(m, 0, sizeof *m);
    m->n_datasets = 1;
    m->n_archs = K;
    m->epochs = E;
    m->genome_len = 1;
    m->encoding_len = 1;
    m->dataset_names = calloc(1, sizeof(char *));
    if (!m->dataset_names || !(m->dataset_names[0] = lm_strdup("synthetic"))) return LM_ENOMEM;
    m->descriptors = calloc(LM_META_N_DESC, sizeof(double));
    m->genome = calloc(K, sizeof(int32_t));
    m->encoding = calloc(K, sizeof(float));
    m->params = calloc(K, sizeof(int64_t));
    m->flops = calloc(K, sizeof(double));
    m->space = lm_strdup("synthetic");
    m->done = calloc(K, 1);
    for (int i = 0; i < LM_META_N_METRICS; i++) m->curves[i] = malloc((size_t)K * E * sizeof(float));
    if (!m->descriptors || !m->genome || !m->encoding || !m->params || !m->flops || !m->space ||
        !m->done)
        return LM_ENOMEM;
    for (int i = 0; i < LM_META_N_METRICS; i++)
        if (!m->curves[i]) return LM_ENOMEM;
    for (int k = 0; k < K; k++) {
        lm_rng r;
        lm_rng_init(&r, 2024, (uint64_t)k, 1);
        double a = 0.6 + 0.35 * lm_rng_uniform(&r), tau = 1 + 14 * lm_rng_uniform(&r);
        double size = (double)k / K, sec = 5 + 55 * size * size;
        m->genome[k] = k;
        m->params[k] = with_params ? (int64_t)(1e4 + 1e6 * size) : 0;
        m->flops[k] = 2e4 + 2e6 * size;
        m->done[k] = 1;
        for (int e = 0; e < E; e++) {
            size_t i = lm_meta_index(m, 0, k, e);
            double acc = a * (1 - exp(-(e + 1) / tau)) + 0.005 * lm_rng_normal(&r);
            m->curves[LM_META_VAL_ACCURACY][i] = (float)acc;
            m->curves[LM_META_TEST_ACCURACY][i] = (float)(acc - 0.01);
            m->curves[LM_META_VAL_LOSS][i] = (float)(2.3 * (1 - acc));
            m->curves[LM_META_TEST_LOSS][i] = (float)(2.3 * (1 - acc) + 0.02);
            m->curves[LM_META_TRAIN_LOSS][i] = (float)(2.2 * (1 - acc));
            m->curves[LM_META_SECONDS][i] = (float)(sec * (0.9 + 0.2 * lm_rng_uniform(&r)));
        }
    }
    return LM_OK;
}

int main(int argc, char **argv) {
    int trials = argc > 1 ? atoi(argv[1]) : 100000;
    int workers = argc > 2 ? atoi(argv[2]) : 4096;
    const char *out = argc > 3 ? argv[3] : "/tmp/lamarck_bench_replay";
    int with_params = !(argc > 4 && !strcmp(argv[4], "no-params"));
    lm_log_init(-1);
    lm_log_set_level(LM_LOG_WARN); /* one line per trial would be 100,000 lines */
    lm_meta m;
    if (synthetic(&m, with_params) < 0) {
        fprintf(stderr, "bench_exec_replay: out of memory\n");
        return 1;
    }
    lm_config c;
    memset(&c, 0, sizeof c);
    char text[] = "# bench_exec_replay: random search with ASHA, eta 3, R = 27\n";
    char path[] = "<bench>", name[] = "bench_replay", asha[] = "asha", none[] = "none";
    c.path = path;
    c.text = text;
    c.text_len = strlen(text);
    c.name = name;
    c.seed = 1;
    c.output = (char *)out;
    c.overwrite = 1;
    c.progress_interval = 1e9;
    c.checkpoints_keep = 1;
    c.algorithm = asha;
    c.stopping = none;
    c.trials = trials;
    lm_train_params_default(&c.train);
    c.train.epochs = E;
    const lm_option_spec *specs = lm_searcher_options("asha");
    if (lm_space_create(&c.space) < 0 || lm_space_add_int(c.space, "arch_index", 0, K - 1, 0) < 0 ||
        lm_options_set(&c.search_options, specs, "eta", 3, NULL) < 0 ||
        lm_options_set(&c.search_options, specs, "min_epochs", 1, NULL) < 0)
        return die("config");

    lm_replay_options o = lm_replay_options_default();
    o.meta = &m;
    o.dataset = "synthetic";
    o.n_workers = workers;
    o.command_line = "bench_exec_replay";
    lm_replay_info info;
    if (lm_exec_replay(&c, &o, &info) < 0) return die("replay");
    printf("replay: random search + ASHA (eta 3, R %d) on %d architectures, %d simulated workers%s\n",
           E, K, workers, with_params ? "" : " (no params: no Pareto front in results.h5)");
    printf("trials %ld, jobs %ld (new and resumed), reports (= decisions) %ld\n", info.trials,
           info.jobs, info.reports);
    printf("real time %.2f s (CPU %.2f s, results.h5 writes included): %.0f decisions/s\n",
           info.wall_seconds, info.cpu_seconds, (double)info.reports / info.wall_seconds);
    printf("virtual makespan %.0f s, busy worker-time %.0f s: utilization %.4f\n", info.makespan,
           info.busy_seconds, info.utilization);
    printf("best validation accuracy %.4f (trial %d)\n", info.best_val_accuracy, info.best_trial);
    lm_space_destroy(&c.space);
    lm_meta_free(&m);
    return 0;
}
