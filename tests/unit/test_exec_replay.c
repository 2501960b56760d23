/* The replay transport: ASHA on a hand-built meta-dataset makes the promotions worked
 * out below; a run replayed from its own recorded curves makes the same decisions at
 * the same virtual times; two replays are identical; missing epochs fail trials; bad
 * configs are refused with messages that say what to change. No MPI. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "io/h5util.h"
#include "lamarck/config.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"
#include "lamarck/io.h"
#include "lamarck/log.h"
#include "lamarck/meta.h"
#include "lamarck/rng.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    lm_log_set_level(LM_LOG_WARN);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lamarck_test_replay_XXXXXX");
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

static void expect_error(int rc, int code, const char *a, const char *b) {
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", lm_error_message());
    lm_error_clear();
    if (rc != code) fail_msg("code %d, %d expected (%s)", rc, code, copy);
    if (!strstr(copy, a) || (b && !strstr(copy, b)))
        fail_msg("message '%s' lacks '%s' / '%s'", copy, a, b ? b : "");
}

/* ---- configs and meta-datasets made here ---- */

static lm_config *make_config(const char *alg, int trials, int epochs, uint64_t seed,
                              int arch_hi, const char *out) {
    lm_config *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->path = lm_strdup("<test>");
    c->text = lm_strdup("# replay test\n");
    c->text_len = strlen(c->text);
    c->name = lm_strdup("replay");
    c->seed = seed;
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, out);
    c->output = lm_strdup(dir);
    c->overwrite = 1;
    c->progress_interval = 1e9;
    c->checkpoint_interval = 0;
    c->checkpoints_keep = 1;
    c->algorithm = lm_strdup(alg);
    c->stopping = lm_strdup("none");
    c->trials = trials;
    lm_train_params_default(&c->train);
    c->train.epochs = epochs;
    must(lm_space_create(&c->space));
    if (arch_hi >= 0) must(lm_space_add_int(c->space, "arch_index", 0, arch_hi, 0));
    return c;
}

static void free_config(lm_config *c) {
    free(c->path);
    free(c->text);
    free(c->name);
    free(c->output);
    free(c->algorithm);
    free(c->stopping);
    lm_space_destroy(&c->space);
    free(c);
}

static void set_option(lm_config *c, const char *name, double v) {
    must(lm_options_set(&c->search_options, lm_searcher_options(c->algorithm), name, v, NULL));
}

/* An empty in-memory meta-dataset of one dataset "toy" (all curves NaN). */
static void meta_alloc(lm_meta *m, int K, int E) {
    memset(m, 0, sizeof *m);
    m->n_datasets = 1;
    m->n_archs = K;
    m->epochs = E;
    m->genome_len = 1;
    m->encoding_len = 1;
    m->dataset_names = calloc(1, sizeof(char *));
    m->dataset_names[0] = lm_strdup("toy");
    m->descriptors = calloc(LM_META_N_DESC, sizeof(double));
    m->genome = calloc((size_t)K, sizeof(int32_t));
    m->encoding = calloc((size_t)K, sizeof(float));
    m->params = calloc((size_t)K, sizeof(int64_t));
    m->flops = calloc((size_t)K, sizeof(double));
    m->space = lm_strdup("test architectures");
    m->done = calloc((size_t)K, 1);
    for (int i = 0; i < LM_META_N_METRICS; i++) {
        m->curves[i] = malloc((size_t)K * (size_t)E * sizeof(float));
        for (int j = 0; j < K * E; j++) m->curves[i][j] = NAN;
    }
    for (int k = 0; k < K; k++) {
        m->genome[k] = k;
        m->params[k] = 1000 + k;
        m->flops[k] = 1e4 * (k + 1);
    }
}

static void set_epoch(lm_meta *m, int k, int e, float acc, float seconds) {
    size_t i = lm_meta_index(m, 0, k, e);
    m->curves[LM_META_VAL_ACCURACY][i] = acc;
    m->curves[LM_META_TEST_ACCURACY][i] = acc - 0.01f;
    m->curves[LM_META_VAL_LOSS][i] = 1 - acc;
    m->curves[LM_META_TEST_LOSS][i] = 1.01f - acc;
    m->curves[LM_META_TRAIN_LOSS][i] = 1.1f - acc;
    m->curves[LM_META_SECONDS][i] = seconds;
}

/* Saturating curves a_k (1 - exp(-e / tau_k)) with epoch times around 1 + k/K seconds;
 * a fraction nan_frac of the architectures lose their epochs from epoch 3 on. */
static void meta_synthetic(lm_meta *m, int K, int E, uint64_t seed, double nan_frac) {
    meta_alloc(m, K, E);
    for (int k = 0; k < K; k++) {
        lm_rng r;
        lm_rng_init(&r, seed, (uint64_t)k, 1);
        double a = 0.5 + 0.45 * lm_rng_uniform(&r), tau = 0.5 + 8 * lm_rng_uniform(&r);
        int broken = lm_rng_uniform(&r) < nan_frac;
        for (int e = 0; e < E; e++) {
            if (broken && e >= 2) break;
            double sec = (1.0 + (double)k / K) * (0.9 + 0.2 * lm_rng_uniform(&r));
            set_epoch(m, k, e, (float)(a * (1 - exp(-(e + 1) / tau))), (float)sec);
        }
        m->done[k] = 1;
    }
}

static lm_replay_info replay(const lm_config *c, const lm_meta *m, const char *path, int workers) {
    lm_replay_options o = lm_replay_options_default();
    o.meta = m;
    o.meta_path = path;
    o.dataset = "toy";
    o.n_workers = workers;
    lm_replay_info info;
    must(lm_exec_replay(c, &o, &info));
    return info;
}

/* ---- reading results.h5 ---- */

typedef struct table {
    size_t n;
    double *v;
} table;

static table column(const char *dir, const char *group, const char *name) {
    char path[400];
    snprintf(path, sizeof path, "%s/results.h5", dir);
    lm__h5 f;
    must(lm__h5_open(&f, path, LM_EDATA));
    hid_t g;
    must(lm__h5_group_open(&f, f.id, group, &g));
    table t = {0, NULL};
    void *v;
    /* Any column as doubles: floats, integers, or status names (as their codes). */
    if (lm__h5_read_1d(&f, g, name, LM_DT_F64, 1 << 24, &v, &t.n) == LM_OK) {
        t.v = v;
    } else if (lm_error_clear(), lm__h5_read_1d(&f, g, name, LM_DT_I64, 1 << 24, &v, &t.n) == LM_OK) {
        t.v = malloc((t.n ? t.n : 1) * sizeof *t.v);
        for (size_t i = 0; i < t.n; i++) t.v[i] = (double)((int64_t *)v)[i];
        free(v);
    } else {
        lm_error_clear();
        char **names;
        must(lm__h5_read_strs(&f, g, name, 1 << 24, 64, &names, &t.n));
        t.v = malloc((t.n ? t.n : 1) * sizeof *t.v);
        for (size_t i = 0; i < t.n; i++) {
            t.v[i] = -1;
            for (int k = 0; k < LM_TRIAL_N_STATUS; k++)
                if (!strcmp(names[i], lm_trial_status_name((lm_trial_status)k))) t.v[i] = k;
        }
        lm__h5_free_strs(names, t.n);
    }
    lm__h5_close_id(&g);
    lm__h5_close(&f);
    return t;
}

/* Whether two results files hold the same values (NaN equal to NaN) in the columns. */
static void same_columns(const char *a, const char *b, const char *group,
                         const char *const *names, int n) {
    for (int i = 0; i < n; i++) {
        table x = column(a, group, names[i]), y = column(b, group, names[i]);
        assert_int_equal(x.n, y.n);
        for (size_t j = 0; j < x.n; j++)
            if (!(x.v[j] == y.v[j] || (isnan(x.v[j]) && isnan(y.v[j]))))
                fail_msg("/%s/%s[%zu]: %.17g vs %.17g", group, names[i], j, x.v[j], y.v[j]);
        free(x.v);
        free(y.v);
    }
}

static const char *const trial_cols[] = {"status", "worker",    "epochs", "epochs_target",
                                         "best_val_accuracy", "final_val_loss", "test_accuracy",
                                         "t_start", "t_end",  "train_seconds", "rung"};
static const char *const curve_cols[] = {"trial", "epoch", "val_accuracy", "seconds", "t"};
static const char *const promo_cols[] = {"t", "trial", "from_rung", "to_rung", "epoch"};

/* ---- tests ---- */

/* ASHA (eta 3, rungs at 1, 3 and 9 epochs), 9 trials, one worker, seed 4: trials 0..8
 * draw architectures 4 7 1 6 2 0 7 3 0. Validation accuracy at epoch 1 is
 * 0.1 + 0.05 k (architecture 7 best, then 6), at epoch 3 it is 0.2 higher except for
 * architecture 6 (0.70) and 7 (0.60): the order changes between the rungs. Epochs of
 * architecture k take 1 + 0.1 k seconds. Algorithm 2, by hand:
 *   t0, t1, t2 in rung 0 -> the top 1 of 3 is t1 (0.45): promoted to 3 epochs;
 *   t3, t4 new; after t5 rung 0 has 6 results, top 2 = t1, t3 -> t3 promoted;
 *   t6 (architecture 7 again, ties t1, ranks after it): 7 results, top 2 = t1, t6 ->
 *   t6 promoted; rung 1 = {t1, t3, t6}, top 1 at epoch 3 is t3 (0.70) -> to 9 epochs;
 *   t7, t8 new; nothing more to promote: the paused ones are stopped.
 * Epochs 1 3 1 9 1 1 3 1 1 = 21 reports; 13 jobs (9 new, 4 resumed); the worker is
 * never idle: makespan = sum of the epoch times = 31.6 s, utilization 1. */
static void test_asha_by_hand(void **state) {
    (void)state;
    enum { K = 9, E = 9 };
    lm_meta m;
    meta_alloc(&m, K, E);
    for (int k = 0; k < K; k++)
        for (int e = 0; e < E; e++) {
            float a1 = 0.1f + 0.05f * (float)k, a3 = k == 6 ? 0.70f : k == 7 ? 0.60f : a1 + 0.2f;
            float acc = e == 0 ? a1 : e == 1 ? (a1 + a3) / 2 : a3 + 0.01f * (float)(e - 2);
            set_epoch(&m, k, e, acc, 1.0f + 0.1f * (float)k);
        }
    lm_config *c = make_config("asha", 9, E, 4, K - 1, "hand");
    set_option(c, "eta", 3);
    set_option(c, "min_epochs", 1);
    lm_replay_info info = replay(c, &m, NULL, 1);

    table arch = column(c->output, "trials/hp", "arch_index");
    const double want_arch[9] = {4, 7, 1, 6, 2, 0, 7, 3, 0};
    assert_int_equal(arch.n, 9);
    assert_memory_equal(arch.v, want_arch, sizeof want_arch);
    table ep = column(c->output, "trials", "epochs");
    const double want_ep[9] = {1, 3, 1, 9, 1, 1, 3, 1, 1};
    assert_memory_equal(ep.v, want_ep, sizeof want_ep);
    table st = column(c->output, "trials", "status");
    for (int i = 0; i < 9; i++)
        assert_int_equal((int)st.v[i], i == 3 ? LM_TRIAL_DONE : LM_TRIAL_STOPPED);
    table pt = column(c->output, "promotions", "trial"), pf = column(c->output, "promotions", "from_rung");
    const double want_pt[4] = {1, 3, 6, 3}, want_pf[4] = {0, 0, 0, 1};
    assert_int_equal(pt.n, 4);
    assert_memory_equal(pt.v, want_pt, sizeof want_pt);
    assert_memory_equal(pf.v, want_pf, sizeof want_pf);
    /* t3's test accuracy is the recorded one at its ninth epoch. */
    table ta = column(c->output, "trials", "test_accuracy");
    assert_float_equal(ta.v[3], 0.70 + 0.06 - 0.01, 1e-6);

    assert_int_equal(info.trials, 9);
    assert_int_equal(info.jobs, 13);
    assert_int_equal(info.reports, 21);
    assert_float_equal(info.makespan, 31.6, 1e-5);
    assert_float_equal(info.busy_seconds, 31.6, 1e-5);
    assert_float_equal(info.utilization, 1.0, 1e-9);
    assert_int_equal(info.best_trial, 3);
    table wall = column(c->output, "trials", "t_end");
    double last = 0;
    for (size_t i = 0; i < wall.n; i++) last = wall.v[i] > last ? wall.v[i] : last;
    assert_float_equal(last, 31.6, 1e-5); /* results.h5 times are virtual */
    free(arch.v), free(ep.v), free(st.v), free(pt.v), free(pf.v), free(ta.v), free(wall.v);
    free_config(c);
    lm_meta_free(&m);
}

/* A run replayed from its own recording: the curves results.h5 holds (only the epochs
 * the run trained, every other entry NaN) written as a meta-dataset file give the same
 * decisions at the same virtual times. */
static void test_recorded_run(void **state) {
    (void)state;
    enum { K = 40, E = 9 };
    lm_meta m;
    meta_synthetic(&m, K, E, 11, 0);
    lm_config *a = make_config("asha", 60, E, 7, K - 1, "recorded_a");
    set_option(a, "eta", 3);
    set_option(a, "brackets", 2);
    lm_replay_info ia = replay(a, &m, NULL, 4);

    /* The recording. */
    lm_meta rec;
    meta_alloc(&rec, K, E);
    table arch = column(a->output, "trials/hp", "arch_index");
    table ct = column(a->output, "curves", "trial"), ce = column(a->output, "curves", "epoch");
    table acc = column(a->output, "curves", "val_accuracy"), sec = column(a->output, "curves", "seconds");
    table vl = column(a->output, "curves", "val_loss"), tl = column(a->output, "curves", "train_loss");
    table ta = column(a->output, "trials", "test_accuracy"), te = column(a->output, "trials", "test_loss");
    table ep = column(a->output, "trials", "epochs");
    for (size_t r = 0; r < ct.n; r++) {
        int k = (int)arch.v[(int)ct.v[r]], e = (int)ce.v[r] - 1;
        size_t i = lm_meta_index(&rec, 0, k, e);
        rec.curves[LM_META_VAL_ACCURACY][i] = (float)acc.v[r];
        rec.curves[LM_META_VAL_LOSS][i] = (float)vl.v[r];
        rec.curves[LM_META_TRAIN_LOSS][i] = (float)tl.v[r];
        rec.curves[LM_META_SECONDS][i] = (float)sec.v[r];
    }
    for (size_t t = 0; t < arch.n; t++)
        if (!isnan(ta.v[t])) {
            size_t i = lm_meta_index(&rec, 0, (int)arch.v[t], (int)ep.v[t] - 1);
            rec.curves[LM_META_TEST_ACCURACY][i] = (float)ta.v[t];
            rec.curves[LM_META_TEST_LOSS][i] = (float)te.v[t];
        }
    memcpy(rec.params, m.params, K * sizeof *rec.params);
    memcpy(rec.flops, m.flops, K * sizeof *rec.flops);
    char path[400];
    snprintf(path, sizeof path, "%s/recorded.h5", tmpdir);
    lm_meta_file *f = NULL;
    must(lm_meta_create(path, &rec, &f));
    float row[LM_META_N_METRICS * E];
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < LM_META_N_METRICS; i++)
            memcpy(row + i * E, rec.curves[i] + lm_meta_index(&rec, 0, k, 0), E * sizeof(float));
        must(lm_meta_write_pair(f, 0, k, row, 0));
    }
    must(lm_meta_close(&f));

    lm_config *b = make_config("asha", 60, E, 7, K - 1, "recorded_b");
    b->search_options = a->search_options;
    lm_replay_info ib = replay(b, NULL, path, 4);
    same_columns(a->output, b->output, "trials", trial_cols, 11);
    same_columns(a->output, b->output, "curves", curve_cols, 5);
    same_columns(a->output, b->output, "promotions", promo_cols, 5);
    table pr = column(a->output, "promotions", "trial");
    assert_true(pr.n >= 10); /* the comparison covered real promotions */
    assert_int_equal(ia.reports, ib.reports);
    assert_true(ia.makespan == ib.makespan);
    free(pr.v), free(arch.v), free(ct.v), free(ce.v), free(acc.v), free(sec.v), free(vl.v);
    free(tl.v), free(ta.v), free(te.v), free(ep.v);
    free_config(a);
    free_config(b);
    lm_meta_free(&rec);
    lm_meta_free(&m);
}

/* Random search with the median stopping rule over 16 workers, twice: identical files;
 * architectures with missing epochs fail at their first missing one. */
static void test_deterministic(void **state) {
    (void)state;
    enum { K = 50, E = 6 };
    lm_meta m;
    meta_synthetic(&m, K, E, 5, 0.2);
    lm_config *a = make_config("random", 80, E, 3, K - 1, "det_a");
    lm_config *b = make_config("random", 80, E, 3, K - 1, "det_b");
    free(a->stopping);
    free(b->stopping);
    a->stopping = lm_strdup("median");
    b->stopping = lm_strdup("median");
    lm_replay_info ia = replay(a, &m, NULL, 16), ib = replay(b, &m, NULL, 16);
    same_columns(a->output, b->output, "trials", trial_cols, 10);
    same_columns(a->output, b->output, "curves", curve_cols, 5);
    assert_int_equal(ia.reports, ib.reports);
    assert_true(ia.makespan == ib.makespan && ia.busy_seconds == ib.busy_seconds);
    assert_true(ia.utilization > 0.3 && ia.utilization <= 1.0);

    char path[400];
    snprintf(path, sizeof path, "%s/results.h5", a->output);
    lm_results r;
    must(lm_io_results_read(path, &r));
    assert_int_equal(r.n_trials, 80);
    int failed = 0, stopped = 0;
    table arch = column(a->output, "trials/hp", "arch_index");
    for (int i = 0; i < r.n_trials; i++) {
        int k = (int)arch.v[i];
        int broken = isnan(m.curves[LM_META_SECONDS][lm_meta_index(&m, 0, k, 2)]);
        if (broken && strcmp(r.status[i], "stopped") != 0) {
            /* Epochs 1 and 2 are there, the third fails it. */
            assert_string_equal(r.status[i], "failed");
            assert_int_equal(r.epochs[i], 2);
            assert_non_null(strstr(r.reason[i], "epoch 3 of architecture"));
            failed++;
        } else if (broken) {
            assert_true(r.epochs[i] < 3); /* the median rule came first */
        } else {
            assert_true(!strcmp(r.status[i], "done") || !strcmp(r.status[i], "stopped"));
            stopped += !strcmp(r.status[i], "stopped");
        }
    }
    assert_true(failed > 0 && stopped > 0);
    free(arch.v);
    lm_io_results_free(&r);
    free_config(a);
    free_config(b);
    lm_meta_free(&m);
}

static void test_errors(void **state) {
    (void)state;
    enum { K = 5, E = 4 };
    lm_meta m;
    meta_synthetic(&m, K, E, 1, 0);
    lm_replay_options o = lm_replay_options_default();
    o.meta = &m;
    o.dataset = "toy";
    o.n_workers = 2;

    lm_config *c = make_config("random", 3, E, 1, -1, "errors");
    must(lm_space_add_int(c->space, "depth", 1, 3, 0));
    expect_error(lm_exec_replay(c, &o, NULL), LM_ECONFIG, "no 'arch_index'", "0 to 4");
    free_config(c);

    c = make_config("random", 3, E, 1, K, "errors");
    expect_error(lm_exec_replay(c, &o, NULL), LM_ECONFIG, "ranges over [0, 5]", "5 architectures");
    free_config(c);

    c = make_config("random", 3, E + 1, 1, K - 1, "errors");
    expect_error(lm_exec_replay(c, &o, NULL), LM_ECONFIG, "trains 5 epochs", "records 4");
    free_config(c);

    c = make_config("random", 3, E, 1, K - 1, "errors");
    o.dataset = "tyo";
    expect_error(lm_exec_replay(c, &o, NULL), LM_ECONFIG, "no dataset 'tyo'", "did you mean 'toy'");
    o.dataset = "toy";
    o.n_workers = 0;
    expect_error(lm_exec_replay(c, &o, NULL), LM_ECONFIG, "0 workers", NULL);
    o.n_workers = 2;
    o.meta = NULL;
    o.meta_path = "/nonexistent/meta.h5";
    expect_error(lm_exec_replay(c, &o, NULL), LM_ENOENT, "/nonexistent/meta.h5", NULL);
    free_config(c);
    lm_meta_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_asha_by_hand),
        cmocka_unit_test(test_recorded_run),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
