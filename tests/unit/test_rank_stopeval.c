/* The stopper evaluation harness (lm_rank_stopeval) on a small synthetic meta-dataset
 * written with lm_meta_create and read back: a row per (dataset, stopper); full training
 * ("none") has speed-up 1, regret 0 and every epoch of every architecture; no rule spends
 * more epochs than it; regret is the best final accuracy minus the best trained to the
 * end; the Spearman rows are the model's; two runs agree; bad arguments are refused. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/nn.h"
#include "lamarck/rank.h"
#include "lamarck/strutil.h"
#include "test_rank_synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define D 3
#define K 24
#define E 8
#define NS LM_RANK_STOPEVAL_N

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    lm_log_set_level(LM_LOG_WARN);
    /* The ranking network is tiny: more threads only spin (as lamarck rank sets). */
    lm_nn_set_threads(1);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lamarck_test_stopeval_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void must(int rc) {
    if (rc < 0) {
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", lm_error_message());
        lm_error_clear();
        fail_msg("%s", copy);
    }
}

/* The synthetic curves of test_rank_synth.h as a file: the header completed (genomes,
 * params, FLOPs, descriptors, space), every metric filled from the validation accuracy,
 * epochs of 1 + k/K seconds. Read back whole into m. */
static void synth_file(const char *path, lm_meta *m) {
    lm_meta s;
    synth_meta(&s, D, K, E, 7);
    s.genome_len = 1;
    s.genome = malloc(K * sizeof *s.genome);
    s.params = malloc(K * sizeof *s.params);
    s.flops = malloc(K * sizeof *s.flops);
    s.descriptors = calloc(D * LM_META_N_DESC, sizeof *s.descriptors);
    s.space = lm_strdup("synthetic architectures");
    for (int k = 0; k < K; k++) {
        s.genome[k] = k;
        s.params[k] = 100 + k;
        s.flops[k] = 1e3 * (k + 1);
    }
    lm_meta_file *f = NULL;
    must(lm_meta_create(path, &s, &f));
    float rows[LM_META_N_METRICS * E];
    for (int d = 0; d < D; d++)
        for (int k = 0; k < K; k++) {
            for (int e = 0; e < E; e++) {
                float acc = s.curves[LM_META_VAL_ACCURACY][lm_meta_index(&s, d, k, e)];
                rows[LM_META_TRAIN_LOSS * E + e] = 1.2f - acc;
                rows[LM_META_VAL_ACCURACY * E + e] = acc;
                rows[LM_META_VAL_LOSS * E + e] = 1 - acc;
                rows[LM_META_TEST_ACCURACY * E + e] = acc - 0.01f;
                rows[LM_META_TEST_LOSS * E + e] = 1.01f - acc;
                rows[LM_META_SECONDS * E + e] = 1.0f + (float)k / K;
            }
            must(lm_meta_write_pair(f, d, k, rows, 1));
        }
    must(lm_meta_close(&f));
    free(s.genome);
    free(s.params);
    free(s.flops);
    free(s.descriptors);
    free(s.space);
    synth_free(&s);
    must(lm_meta_read(path, m));
}

static lm_rank_stopeval_options small_options(const char *runs) {
    lm_rank_stopeval_options o;
    lm_rank_stopeval_options_default(&o);
    /* A small model: the harness is under test, not the model's quality. */
    o.rank.steps = 150;
    o.rank.batch_pairs = 16;
    o.rank.filters = 4;
    o.rank.hidden = 16;
    o.runs_dir = runs;
    o.meta_path = "synthetic.h5";
    return o;
}

static double best_final(const lm_meta *m, int d) {
    double b = -1;
    for (int k = 0; k < K; k++) {
        double a = m->curves[LM_META_VAL_ACCURACY][lm_meta_index(m, d, k, E - 1)];
        if (a > b) b = a;
    }
    return b;
}

static void test_harness(void **state) {
    (void)state;
    char path[300], runs[300];
    snprintf(path, sizeof path, "%s/synth.h5", tmpdir);
    snprintf(runs, sizeof runs, "%s/runs", tmpdir);
    lm_meta m;
    synth_file(path, &m);
    lm_rank_stopeval_options o = small_options(runs);
    lm_rank_stopeval_row rows[D * NS];
    lm_rank_eval rho[D];
    memset(rows, 0xff, sizeof rows);
    must(lm_rank_stopeval(&m, &o, rows, rho));

    assert_string_equal(lm_rank_stopeval_stoppers[0], "none");
    int any_stopped = 0;
    for (int d = 0; d < D; d++) {
        const lm_rank_stopeval_row *none = &rows[d * NS];
        /* Full training: every architecture, every epoch, the best found. */
        assert_int_equal(none->trials, K);
        assert_int_equal(none->epochs, (long)K * E);
        assert_int_equal(none->completed, K);
        assert_int_equal(none->stopped, 0);
        assert_float_equal(none->speedup, 1.0, 1e-12);
        assert_float_equal(none->time_speedup, 1.0, 1e-12);
        assert_float_equal(none->best_possible, best_final(&m, d), 1e-7);
        assert_float_equal(none->regret, 0.0, 0.0);
        for (int s = 0; s < NS; s++) {
            const lm_rank_stopeval_row *r = &rows[d * NS + s];
            print_message("%s %-6s epochs %4ld speed-up %.2f stopped %2d regret %.4f\n",
                          m.dataset_names[d], lm_rank_stopeval_stoppers[s], r->epochs, r->speedup,
                          r->stopped, r->regret);
            /* One row per (dataset, stopper), in order. */
            assert_int_equal(r->dataset, d);
            assert_int_equal(r->stopper, s);
            assert_int_equal(r->trials, K);
            /* Every trial trains at least one epoch; none more than full training. */
            assert_true(r->epochs >= K && r->epochs <= none->epochs);
            assert_float_equal(r->speedup, (double)none->epochs / r->epochs, 1e-12);
            assert_true(r->speedup >= 1.0);
            assert_int_equal(r->stopped + r->completed, K);
            assert_true(r->completed >= 1);
            assert_float_equal(r->best_possible, none->best_possible, 0.0);
            assert_float_equal(r->regret, r->best_possible - r->best_found, 1e-12);
            assert_true(r->regret >= 0);
            any_stopped += r->stopped;
            char dir[600];
            struct stat st;
            snprintf(dir, sizeof dir, "%s/%d_%s/%s/results.h5", runs, d, m.dataset_names[d],
                     lm_rank_stopeval_stoppers[s]);
            assert_int_equal(stat(dir, &st), 0);
        }
        /* The Spearman row is the held-out dataset's, at 10/20/50% of 8 epochs. */
        assert_int_equal(rho[d].dataset, d);
        assert_int_equal(rho[d].n_archs, K);
        assert_int_equal(rho[d].t[0], 1);
        assert_int_equal(rho[d].t[1], 2);
        assert_int_equal(rho[d].t[2], 4);
        for (int i = 0; i < LM_RANK_EVAL_POINTS; i++) {
            assert_true(rho[d].rho_last[i] >= -1 && rho[d].rho_last[i] <= 1);
            assert_true(rho[d].rho_model[i] >= -1 && rho[d].rho_model[i] <= 1);
        }
    }
    /* The rules did something: the median and last-value rules stop slow starters. */
    assert_true(any_stopped > 0);

    lm_rank_stopeval_row med[NS];
    lm_rank_stopeval_summary(rows, D, med);
    assert_int_equal(med[0].dataset, -1);
    assert_float_equal(med[0].speedup, 1.0, 1e-12);
    assert_float_equal(med[0].regret, 0.0, 0.0);
    assert_int_equal(med[0].epochs, (long)K * E);
    assert_int_equal(med[0].trials, D * K);
    for (int s = 0; s < NS; s++) {
        double v[D];
        for (int d = 0; d < D; d++) v[d] = rows[d * NS + s].speedup;
        /* The median of three: the one neither below both others nor above both. */
        for (int d = 0; d < D; d++) {
            int below = 0, above = 0;
            for (int j = 0; j < D; j++) below += v[j] < v[d], above += v[j] > v[d];
            if (below <= 1 && above <= 1) assert_float_equal(med[s].speedup, v[d], 1e-12);
        }
    }

    /* Deterministic: a second evaluation, over the same run directories, agrees. */
    lm_rank_stopeval_row again[D * NS];
    must(lm_rank_stopeval(&m, &o, again, NULL));
    for (int i = 0; i < D * NS; i++) {
        assert_int_equal(again[i].epochs, rows[i].epochs);
        assert_float_equal(again[i].regret, rows[i].regret, 0.0);
    }
    lm_meta_free(&m);
}

static void expect_error(int rc, int code, const char *what) {
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", lm_error_message());
    lm_error_clear();
    if (rc != code) fail_msg("code %d, %d expected (%s)", rc, code, copy);
    if (!strstr(copy, what)) fail_msg("message '%s' lacks '%s'", copy, what);
}

static void test_errors(void **state) {
    (void)state;
    char runs[300];
    snprintf(runs, sizeof runs, "%s/bad", tmpdir);
    lm_meta m;
    synth_meta(&m, D, K, E, 3);
    lm_rank_stopeval_options o = small_options(runs);
    lm_rank_stopeval_row rows[D * NS];
    o.delta = 1.5;
    expect_error(lm_rank_stopeval(&m, &o, rows, NULL), LM_ERANGE, "delta 1.5");
    o = small_options(runs);
    o.n_workers = 0;
    expect_error(lm_rank_stopeval(&m, &o, rows, NULL), LM_ERANGE, "0 simulated workers");
    o = small_options(runs);
    o.rank.steps = 0;
    expect_error(lm_rank_stopeval(&m, &o, rows, NULL), LM_ERANGE, "steps");
    /* One dataset: nothing to train on when it is held out. */
    o = small_options(runs);
    m.n_datasets = 1;
    expect_error(lm_rank_stopeval(&m, &o, rows, NULL), LM_EDATA, "at least 2 datasets");
    m.n_datasets = D;
    /* A dataset without one complete curve has no regret to measure. */
    for (int k = 0; k < K; k++)
        m.curves[LM_META_VAL_ACCURACY][lm_meta_index(&m, 1, k, E - 1)] = NAN;
    expect_error(lm_rank_stopeval(&m, &o, rows, NULL), LM_EDATA, "synth1");
    expect_error(lm_rank_stopeval(NULL, &o, rows, NULL), LM_EINVAL, "NULL");
    synth_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_harness),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
