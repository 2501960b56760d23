/* HDF5 files: dataset files, results.h5 and state stores, round trips and the
 * readers' behaviour on missing, foreign, truncated and corrupt files. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, rmdir, unlink */
#include "lamarck/error.h"
#include "lamarck/io.h"
#include "lamarck/rng.h"

#include <hdf5.h>

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- helpers ---- */

/* HDF5 ids open in the process (src/io/h5util.c), declared here so that tests stay
 * free of hdf5.h. Every io call must leave the count as it found it. */
long lm__h5_open_ids(void);

/* HDF5 1.10 itself leaks some memory when it gives up on a damaged file (the
 * flipped-byte cases below); that is not ours to fix. Our own HDF5 ids are checked
 * with lm__h5_open_ids instead. Read by LeakSanitizer in sanitizer builds. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5\n"; }

static char tmpdir[256];
static long base_ids;

static int setup_tmp(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lamarck_test_io_XXXXXX");
    base_ids = lm__h5_open_ids();
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Fails when an io call left an HDF5 id open. */
static void assert_no_open_ids(void) { assert_int_equal(lm__h5_open_ids(), base_ids); }

/* Removes the files the tests wrote (all directly in tmpdir) and tmpdir itself. */
static int teardown_tmp(void **state) {
    (void)state;
    DIR *dir = opendir(tmpdir);
    if (!dir) return -1;
    struct dirent *e;
    char path[600];
    while ((e = readdir(dir)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    closedir(dir);
    return rmdir(tmpdir);
}

static void tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

static void spill(const char *path, const void *buf, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
}

/* Fails unless rc is err and the message contains needle. */
static void expect_error(int rc, int err, const char *needle) {
    if (rc != err || !strstr(lm_error_message(), needle))
        fail_msg("expected %d (%s) with '%s', got %d: %s", err, lm_strerror(err), needle, rc,
                 lm_error_message());
    lm_error_clear();
    assert_no_open_ids();
}

/* ---- dataset files ---- */

static void make_split(lm_dataset *d, int64_t n, uint64_t seed) {
    const char *names[] = {"cat", "dog", "T-shirt/top"};
    assert_int_equal(lm_dataset_alloc(d, n, 2, 3, 5, 3), LM_OK);
    snprintf(d->name, sizeof d->name, "toy");
    lm_rng r;
    lm_rng_init(&r, seed, 0, 0);
    for (int64_t i = 0; i < n * 30; i++) d->X[i] = (float)lm_rng_normal(&r);
    d->X[0] = -0.0f; /* bitwise equality includes the sign of zero */
    for (int64_t i = 0; i < n; i++) d->y[i] = (int32_t)lm_rng_below(&r, 3);
    assert_int_equal(lm_dataset_set_class_names(d, 3, names), LM_OK);
}

static void assert_same_dataset(const lm_dataset *a, const lm_dataset *b) {
    assert_string_equal(a->name, b->name);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->c, b->c);
    assert_int_equal(a->h, b->h);
    assert_int_equal(a->w, b->w);
    assert_int_equal(a->n_classes, b->n_classes);
    assert_memory_equal(a->X, b->X, (size_t)a->n * (size_t)lm_dataset_features(a) * sizeof(float));
    assert_memory_equal(a->y, b->y, (size_t)a->n * sizeof(int32_t));
    assert_non_null(b->class_names);
    for (int k = 0; k < a->n_classes; k++)
        assert_string_equal(a->class_names[k], b->class_names[k]);
}

static void test_dataset_roundtrip(void **state) {
    (void)state;
    char path[300], tmp[310];
    tmp_path(path, sizeof path, "toy.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    lm_dataset train, test, rtrain, rtest;
    make_split(&train, 10000, 1); /* 1.2 MB: X spans two chunks */
    make_split(&test, 17, 2);
    assert_int_equal(lm_io_dataset_write(path, &train, &test, "unit test"), LM_OK);
    assert_true(file_exists(path));
    assert_false(file_exists(tmp));
    assert_int_equal(lm_io_dataset_read(path, &rtrain, &rtest), LM_OK);
    assert_same_dataset(&train, &rtrain);
    assert_same_dataset(&test, &rtest);
    assert_no_open_ids();
    lm_dataset_free(&rtrain);
    lm_dataset_free(&rtest);
    /* The train split alone. */
    assert_int_equal(lm_io_dataset_read(path, &rtrain, NULL), LM_OK);
    assert_same_dataset(&train, &rtrain);
    lm_dataset_free(&rtrain);

    /* No test split written: reading one is an error naming it. */
    assert_int_equal(lm_io_dataset_write(path, &train, NULL, "unit test"), LM_OK);
    lm_error_clear();
    expect_error(lm_io_dataset_read(path, &rtrain, &rtest), LM_EDATA, "no test split");
    assert_null(rtrain.X);

    /* Bad input to the writer leaves the old file in place and no temporary. */
    train.y[3] = 7;
    expect_error(lm_io_dataset_write(path, &train, &test, "x"), LM_EINVAL, "label 7");
    train.y[3] = 0;
    assert_false(file_exists(tmp));
    assert_int_equal(lm_io_dataset_read(path, &rtrain, NULL), LM_OK);
    lm_dataset_free(&rtrain);

    /* A dataset without class names reads back without them. */
    lm_dataset plain;
    assert_int_equal(lm_dataset_alloc(&plain, 4, 7, 1, 1, 2), LM_OK);
    for (int i = 0; i < 28; i++) plain.X[i] = (float)i;
    plain.y[1] = 1;
    assert_int_equal(lm_io_dataset_write(path, &plain, NULL, NULL), LM_OK);
    assert_int_equal(lm_io_dataset_read(path, &rtrain, NULL), LM_OK);
    assert_null(rtrain.class_names);
    assert_int_equal(rtrain.c, 7);
    assert_memory_equal(rtrain.X, plain.X, 28 * sizeof(float));
    lm_dataset_free(&rtrain);
    lm_dataset_free(&plain);
    lm_dataset_free(&train);
    lm_dataset_free(&test);
}

static void test_dataset_missing(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "no-such-dataset.h5");
    lm_dataset a, b;
    lm_error_clear();
    expect_error(lm_io_dataset_read(path, &a, &b), LM_ENOENT, path);
    assert_null(a.X);
    assert_null(b.X);
}

/* Every damaged version of a good file must give an error (or, for damage HDF5
 * cannot notice, a valid dataset), never a crash. */
static void test_dataset_corrupt(void **state) {
    (void)state;
    char path[300], bad[300];
    tmp_path(path, sizeof path, "good.h5");
    tmp_path(bad, sizeof bad, "bad.h5");
    lm_dataset train, test, r1, r2;
    make_split(&train, 300, 3);
    make_split(&test, 30, 4);
    assert_int_equal(lm_io_dataset_write(path, &train, &test, "unit test"), LM_OK);
    size_t n;
    unsigned char *good = slurp(path, &n);

    /* Random bytes. */
    unsigned char junk[4096];
    lm_rng r;
    lm_rng_init(&r, 9, 0, 0);
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)lm_rng_below(&r, 256);
    spill(bad, junk, sizeof junk);
    lm_error_clear();
    expect_error(lm_io_dataset_read(bad, &r1, &r2), LM_EDATA, "not an HDF5 file");
    spill(bad, junk, 0);
    expect_error(lm_io_dataset_read(bad, &r1, &r2), LM_EDATA, bad);

    /* Truncated copies at many lengths. */
    size_t cuts[] = {8, 100, 512, 800, n / 4, n / 2, 3 * n / 4, n - 100, n - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof *cuts; k++) {
        spill(bad, good, cuts[k]);
        lm_error_clear();
        int rc = lm_io_dataset_read(bad, &r1, &r2);
        assert_no_open_ids();
        if (rc == LM_OK) fail_msg("a copy truncated to %zu of %zu bytes was read", cuts[k], n);
        assert_true(rc == LM_EDATA);
        assert_null(r1.X);
        assert_null(r2.X);
    }
    lm_error_clear();

    /* Flipped bytes: an error or an intact reading, nothing else. */
    for (int trial = 0; trial < 40; trial++) {
        unsigned char *copy = malloc(n);
        memcpy(copy, good, n);
        for (int k = 0; k < 8; k++)
            copy[lm_rng_below(&r, n)] ^= (unsigned char)(1 + lm_rng_below(&r, 255));
        spill(bad, copy, n);
        free(copy);
        int rc = lm_io_dataset_read(bad, &r1, &r2);
        lm_error_clear();
        assert_no_open_ids();
        if (rc == LM_OK) {
            assert_int_equal(r1.n, 300);
            assert_int_equal(r2.n, 30);
            for (int64_t i = 0; i < r1.n; i++) assert_true(r1.y[i] >= 0 && r1.y[i] < 3);
            lm_dataset_free(&r1);
            lm_dataset_free(&r2);
        } else {
            assert_true(rc < 0);
            assert_null(r1.X);
        }
    }
    free(good);
    lm_dataset_free(&train);
    lm_dataset_free(&test);
}

/* ---- results ---- */

typedef struct results_fixture {
    lm_config config;
    lm_trials trials;
} results_fixture;

/* A space with a log float, a categorical and an int active only for one choice;
 * three trials: done, failed in epoch 2, and pending. */
static void make_results(results_fixture *fx) {
    memset(fx, 0, sizeof *fx);
    fx->config.path = "inputs/test.yaml";
    fx->config.text = "search: {algorithm: random}\n";
    fx->config.text_len = strlen(fx->config.text);
    assert_int_equal(lm_space_create(&fx->config.space), LM_OK);
    lm_space *sp = fx->config.space;
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 0.3, 1), LM_OK);
    const char *sched[] = {"constant", "step", "cosine"};
    assert_int_equal(lm_space_add_categorical(sp, "schedule", 3, sched), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "step_size", 1, 5, 0), LM_OK);
    const char *when[] = {"step"};
    assert_int_equal(lm_space_set_condition(sp, "step_size", "schedule", 1, when), LM_OK);

    assert_int_equal(lm_trials_init(&fx->trials, 3), LM_OK);
    double p0[] = {0.01, 2, NAN}, p1[] = {0.125, 1, 3}, p2[] = {0.2, 0, NAN};
    int id;
    assert_int_equal(lm_trials_add(&fx->trials, p0, 2, &id), LM_OK);
    assert_int_equal(lm_trials_add(&fx->trials, p1, 3, &id), LM_OK);
    assert_int_equal(lm_trials_add(&fx->trials, p2, 3, &id), LM_OK);
    /* Reports arrive interleaved; the file sorts curves by trial then epoch. */
    lm_report rep[] = {
        {.trial_id = 1, .epoch = 1, .train_loss = 1.5, .train_accuracy = 0.4, .val_loss = 1.4,
         .val_accuracy = 0.45, .seconds = 2.0, .lr = 0.125, .params = 1000},
        {.trial_id = 0, .epoch = 1, .train_loss = 1.2, .train_accuracy = 0.5, .val_loss = 1.1,
         .val_accuracy = 0.6, .seconds = 1.5, .lr = 0.01, .params = 500},
        {.trial_id = 0, .epoch = 2, .train_loss = 0.9, .train_accuracy = 0.7, .val_loss = 0.95,
         .val_accuracy = 0.65, .seconds = 1.5, .lr = 0.01},
        {.trial_id = 1, .epoch = 2, .seconds = 0.5, .failed = 1, .reason = "loss is NaN"},
    };
    for (int i = 0; i < 4; i++)
        assert_int_equal(lm_trials_record(&fx->trials, &rep[i], 10.0 + i), LM_OK);
    fx->trials.v[0].worker = 1;
    fx->trials.v[1].worker = 2;
    fx->trials.v[0].test_accuracy = 0.625;
    fx->trials.v[0].test_loss = 1.0;
}

static void free_results(results_fixture *fx) {
    lm_trials_fini(&fx->trials);
    lm_space_destroy(&fx->config.space);
}

static void test_results_roundtrip(void **state) {
    (void)state;
    results_fixture fx;
    make_results(&fx);
    char path[300], tmp[310];
    tmp_path(path, sizeof path, "results.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    lm_run_info info = {.config = &fx.config, .command_line = "lamarck run inputs/test.yaml", .version = "0.1.0", .n_ranks = 3,
                        .wall_seconds = 12.5, .rank0_cpu_seconds = 0.25, .complete = 1};
    assert_int_equal(lm_io_results_write(path, &info, &fx.trials), LM_OK);
    assert_false(file_exists(tmp));

    lm_results r;
    assert_int_equal(lm_io_results_read(path, &r), LM_OK);
    assert_int_equal(r.n_trials, 3);
    assert_int_equal(r.n_hp, 3);
    assert_int_equal(r.complete, 1);
    assert_true(r.wall_seconds == 12.5);
    assert_string_equal(r.hp_names[0], "lr");
    assert_string_equal(r.hp_names[1], "schedule");
    assert_string_equal(r.hp_names[2], "step_size");
    const char *labels[3][3] = {{"0.01", "cosine", "-"}, {"0.125", "step", "3"},
                                {"0.2", "constant", "-"}};
    const char *status[] = {"done", "failed", "pending"};
    int epochs[] = {2, 1, 0}, worker[] = {1, 2, -1};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r.id[i], i);
        assert_int_equal(r.epochs[i], epochs[i]);
        assert_int_equal(r.worker[i], worker[i]);
        assert_string_equal(r.status[i], status[i]);
        for (int j = 0; j < 3; j++) assert_string_equal(r.hp_labels[i][j], labels[i][j]);
    }
    assert_true(r.best_val_accuracy[0] == 0.65);
    assert_true(r.final_val_accuracy[1] == 0.45);
    assert_true(isnan(r.best_val_accuracy[2]));
    assert_true(r.test_accuracy[0] == 0.625);
    assert_true(isnan(r.test_accuracy[1]));
    assert_true(r.train_seconds[0] == 3.0);
    assert_true(r.train_seconds[1] == 2.5);
    assert_string_equal(r.reason[1], "loss is NaN");
    assert_string_equal(r.reason[0], "");
    lm_io_results_free(&r);
    assert_null(r.id);
    lm_io_results_free(&r); /* twice is harmless */
    assert_no_open_ids();

    /* An empty table (a run that stopped before its first trial) and no config. */
    lm_trials empty;
    assert_int_equal(lm_trials_init(&empty, 0), LM_OK);
    lm_run_info bare = {.config = NULL, .command_line = "lamarck run x.yaml", .version = "0.1.0", .n_ranks = 1,
                        .wall_seconds = 0.5, .rank0_cpu_seconds = 0.1, .complete = 0};
    assert_int_equal(lm_io_results_write(path, &bare, &empty), LM_OK);
    assert_int_equal(lm_io_results_read(path, &r), LM_OK);
    assert_int_equal(r.n_trials, 0);
    assert_int_equal(r.n_hp, 0);
    assert_int_equal(r.complete, 0);
    lm_io_results_free(&r);
    /* A table whose width differs from the space is refused before writing. */
    lm_error_clear();
    expect_error(lm_io_results_write(path, &info, &empty), LM_EINVAL, "hyperparameters");
    lm_trials_fini(&empty);

    /* Empty trials with a space: hp columns of length zero. */
    lm_trials none;
    assert_int_equal(lm_trials_init(&none, 3), LM_OK);
    assert_int_equal(lm_io_results_write(path, &info, &none), LM_OK);
    assert_int_equal(lm_io_results_read(path, &r), LM_OK);
    assert_int_equal(r.n_trials, 0);
    assert_int_equal(r.n_hp, 3);
    assert_string_equal(r.hp_names[1], "schedule");
    lm_io_results_free(&r);
    lm_trials_fini(&none);
    free_results(&fx);
}

/* /pareto/trial of a run without fronts: the non-dominated finished trials on
 * (best_val_accuracy max, params min), ties included, against a brute-force check on
 * random tables with many equal values. */
static void test_results_pareto(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 5, 0, 0);
    char path[300];
    tmp_path(path, sizeof path, "pareto.h5");
    for (int round = 0; round < 20; round++) {
        results_fixture fx;
        memset(&fx, 0, sizeof fx);
        fx.config.path = "x.yaml";
        fx.config.text = "";
        assert_int_equal(lm_space_create(&fx.config.space), LM_OK);
        assert_int_equal(lm_trials_init(&fx.trials, 0), LM_OK);
        int n = round == 0 ? 9 : 10 + (int)lm_rng_below(&rng, 200);
        static const int64_t hand_p[] = {100, 100, 200, 200, 50, 300, 300, 300, 400};
        static const double hand_a[] = {0.5, 0.6, 0.6, 0.7, 0.4, 0.7, 0.8, 0.8, 0.75};
        for (int i = 0; i < n; i++) {
            int id;
            assert_int_equal(lm_trials_add(&fx.trials, NULL, 1, &id), LM_OK);
            lm_trial *t = &fx.trials.v[id];
            int finished = round == 0 || lm_rng_below(&rng, 5) > 0;
            t->status = finished ? LM_TRIAL_DONE : LM_TRIAL_FAILED;
            t->params = round == 0 ? hand_p[i] : 1 + (int64_t)lm_rng_below(&rng, 8);
            t->best_val_accuracy = round == 0 ? hand_a[i] : lm_rng_below(&rng, 6) / 5.0;
        }
        lm_run_info info = {.config = &fx.config, .command_line = "t", .version = "0", .n_ranks = 1};
        assert_int_equal(lm_io_results_write(path, &info, &fx.trials), LM_OK);
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        hid_t d = H5Dopen2(f, "pareto/trial", H5P_DEFAULT);
        hid_t sp = H5Dget_space(d);
        hsize_t m = 0;
        H5Sget_simple_extent_dims(sp, &m, NULL);
        int32_t got[256] = {0};
        assert_true(m <= 256);
        if (m) assert_true(H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, got) >= 0);
        H5Sclose(sp);
        H5Dclose(d);
        H5Fclose(f);
        int want[256], k = 0;
        for (int i = 0; i < n; i++) {
            const lm_trial *a = &fx.trials.v[i];
            if (a->status != LM_TRIAL_DONE) continue;
            int dominated = 0;
            for (int j = 0; j < n && !dominated; j++) {
                const lm_trial *b = &fx.trials.v[j];
                dominated = b->status == LM_TRIAL_DONE && b->params <= a->params &&
                            b->best_val_accuracy >= a->best_val_accuracy &&
                            (b->params < a->params || b->best_val_accuracy > a->best_val_accuracy);
            }
            if (!dominated) want[k++] = i;
        }
        if (round == 0) {
            static const int hand_front[] = {1, 3, 4, 6, 7};
            assert_int_equal(k, 5);
            for (int i = 0; i < 5; i++) assert_int_equal(want[i], hand_front[i]);
        }
        assert_int_equal((int)m, k);
        for (int i = 0; i < k; i++) assert_int_equal(got[i], want[i]);
        free_results(&fx);
    }
}

static void test_results_bad_files(void **state) {
    (void)state;
    results_fixture fx;
    make_results(&fx);
    char path[300], other[300];
    tmp_path(path, sizeof path, "res.h5");
    tmp_path(other, sizeof other, "other.h5");
    lm_run_info info = {.config = &fx.config, .command_line = "lamarck run", .version = "0.1.0", .n_ranks = 3,
                        .wall_seconds = 1.0, .rank0_cpu_seconds = 0.5, .complete = 1};
    assert_int_equal(lm_io_results_write(path, &info, &fx.trials), LM_OK);
    lm_results r;
    lm_error_clear();

    expect_error(lm_io_results_read(other, &r), LM_ENOENT, other);

    /* Another kind of lamarck file: a state store with a /trials group. */
    lm_state_mem *m;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    int32_t ids[] = {0, 1};
    assert_int_equal(lm_state_put(&w, "trials/id", LM_DT_I32, 2, ids), LM_OK);
    assert_int_equal(lm_io_state_write(other, m), LM_OK);
    lm_state_mem_destroy(&m);
    expect_error(lm_io_results_read(other, &r), LM_EDATA,
                 "not a lamarck-results file but a lamarck-state file");
    assert_null(r.id);

    /* Truncated copies. */
    size_t n;
    unsigned char *good = slurp(path, &n);
    for (size_t cut = 64; cut < n; cut += n / 7) {
        spill(other, good, cut);
        int rc = lm_io_results_read(other, &r);
        lm_error_clear();
        assert_no_open_ids();
        assert_int_equal(rc, LM_EDATA);
        assert_null(r.id);
    }
    /* Flipped bytes: an error or a reading whose statuses are all valid names. */
    lm_rng rng;
    lm_rng_init(&rng, 5, 0, 0);
    for (int trial = 0; trial < 40; trial++) {
        unsigned char *copy = malloc(n);
        memcpy(copy, good, n);
        for (int k = 0; k < 6; k++)
            copy[lm_rng_below(&rng, n)] ^= (unsigned char)(1 + lm_rng_below(&rng, 255));
        spill(other, copy, n);
        free(copy);
        int rc = lm_io_results_read(other, &r);
        lm_error_clear();
        assert_no_open_ids();
        if (rc == LM_OK) {
            assert_int_equal(r.n_trials, 3);
            for (int i = 0; i < r.n_trials; i++) assert_non_null(r.status[i]);
            lm_io_results_free(&r);
        } else {
            assert_true(rc < 0);
            assert_null(r.id);
        }
    }
    free(good);
    free_results(&fx);
}

/* ---- state stores ---- */

static void test_state_roundtrip(void **state) {
    (void)state;
    lm_state_mem *m, *back;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    double f64[] = {1.5, -0.0, NAN, INFINITY, 1e-300};
    float f32[] = {0.25f, -3.5f, 1e30f};
    int64_t i64[] = {INT64_MIN, -1, INT64_MAX};
    int32_t i32[] = {INT32_MIN, 0, 7, INT32_MAX};
    uint64_t u64[] = {0, UINT64_MAX, 0x0123456789abcdefULL};
    uint8_t u8[] = {0, 255, 10, 0};
    assert_int_equal(lm_state_put(&w, "searcher/f64", LM_DT_F64, 5, f64), LM_OK);
    assert_int_equal(lm_state_put(&w, "searcher/deep/f32", LM_DT_F32, 3, f32), LM_OK);
    assert_int_equal(lm_state_put(&w, "i64", LM_DT_I64, 3, i64), LM_OK);
    assert_int_equal(lm_state_put(&w, "searcher/deep/i32", LM_DT_I32, 4, i32), LM_OK);
    assert_int_equal(lm_state_put(&w, "rng/u64", LM_DT_U64, 3, u64), LM_OK);
    assert_int_equal(lm_state_put(&w, "bytes", LM_DT_U8, 4, u8), LM_OK);
    assert_int_equal(lm_state_put_str(&w, "name", "pbt \"population\" 2"), LM_OK);
    assert_int_equal(lm_state_put(&w, "text/with zero", LM_DT_STR, 3, "a\0b"), LM_OK);
    assert_int_equal(lm_state_put_str(&w, "empty", ""), LM_OK);
    assert_int_equal(lm_state_put(&w, "none", LM_DT_F64, 0, f64), LM_OK);

    char path[300], tmp[310];
    tmp_path(path, sizeof path, "state.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(lm_io_state_write(path, m), LM_OK);
    assert_false(file_exists(tmp));
    assert_int_equal(lm_state_mem_create(&back), LM_OK);
    assert_int_equal(lm_io_state_read(path, back), LM_OK);
    assert_no_open_ids();

    size_t count = lm_state_mem_count(m);
    assert_int_equal(lm_state_mem_count(back), count);
    for (size_t i = 0; i < count; i++) {
        const char *na, *nb;
        lm_dtype ta, tb;
        size_t la, lb;
        const void *da, *db;
        assert_int_equal(lm_state_mem_entry(m, i, &na, &ta, &la, &da), LM_OK);
        /* Entries come back in the order written. */
        assert_int_equal(lm_state_mem_entry(back, i, &nb, &tb, &lb, &db), LM_OK);
        assert_string_equal(na, nb);
        assert_int_equal(ta, tb);
        assert_int_equal(la, lb);
        if (la) assert_memory_equal(da, db, la * lm_dtype_size(ta)); /* NaN and -0 bitwise */
    }
    lm_state_reader rd = lm_state_mem_reader(back);
    char s[64];
    assert_int_equal(lm_state_get_str(&rd, "name", s, sizeof s), LM_OK);
    assert_string_equal(s, "pbt \"population\" 2");
    size_t len;
    assert_int_equal(lm_state_len(&rd, "bytes", LM_DT_U8, &len), LM_OK);
    assert_int_equal(len, 4);
    lm_state_mem_destroy(&back);
    lm_state_mem_destroy(&m);
}

static void test_state_bad_names(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "names.h5");
    const char *bad[] = {"", "a//b", "/abs", "trailing/", "../up", "a/./b"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        lm_state_mem *m;
        assert_int_equal(lm_state_mem_create(&m), LM_OK);
        lm_state_writer w = lm_state_mem_writer(m);
        assert_int_equal(lm_state_put_i64(&w, bad[k], 1), LM_OK);
        lm_error_clear();
        int rc = lm_io_state_write(path, m);
        assert_no_open_ids();
        if (rc != LM_EINVAL) fail_msg("name '%s' gave %d", bad[k], rc);
        lm_error_clear();
        lm_state_mem_destroy(&m);
    }
    /* An entry that is also the group of another. */
    lm_state_mem *m;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    assert_int_equal(lm_state_put_i64(&w, "a/b", 1), LM_OK);
    assert_int_equal(lm_state_put_i64(&w, "a/b/c", 2), LM_OK);
    expect_error(lm_io_state_write(path, m), LM_EINVAL, "'a/b'");
    lm_state_mem_destroy(&m);
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    w = lm_state_mem_writer(m);
    assert_int_equal(lm_state_put_i64(&w, "a/b/c", 2), LM_OK);
    assert_int_equal(lm_state_put_i64(&w, "a/b", 1), LM_OK);
    expect_error(lm_io_state_write(path, m), LM_EINVAL, "'a/b'");
    lm_state_mem_destroy(&m);
    char tmp[310];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_false(file_exists(tmp));
    assert_false(file_exists(path));
}

static void test_state_incomplete(void **state) {
    (void)state;
    char path[300], bad[300];
    tmp_path(path, sizeof path, "ckpt.h5");
    tmp_path(bad, sizeof bad, "ckpt-bad.h5");
    lm_state_mem *m, *back;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    float weights[4096];
    for (int i = 0; i < 4096; i++) weights[i] = (float)i * 0.5f;
    assert_int_equal(lm_state_put(&w, "worker/1/weights", LM_DT_F32, 4096, weights), LM_OK);
    assert_int_equal(lm_state_put_i64(&w, "controller/epoch", 12), LM_OK);
    assert_int_equal(lm_io_state_write(path, m), LM_OK);
    lm_state_mem_destroy(&m);

    /* A valid HDF5 file without the completion marker: a dataset file. */
    lm_dataset d;
    assert_int_equal(lm_dataset_alloc(&d, 2, 1, 1, 1, 2), LM_OK);
    assert_int_equal(lm_io_dataset_write(bad, &d, NULL, NULL), LM_OK);
    lm_dataset_free(&d);
    assert_int_equal(lm_state_mem_create(&back), LM_OK);
    lm_error_clear();
    char needle[400];
    snprintf(needle, sizeof needle, "checkpoint %s is incomplete or corrupt", bad);
    expect_error(lm_io_state_read(bad, back), LM_ECKPT, needle);

    /* Checkpoints cut short, as by a crash in the middle of a copy. */
    size_t n;
    unsigned char *good = slurp(path, &n);
    snprintf(needle, sizeof needle, "checkpoint %s is incomplete or corrupt", bad);
    for (size_t cut = 0; cut < n; cut += n / 9 + 1) {
        spill(bad, good, cut);
        lm_error_clear();
        int rc = lm_io_state_read(bad, back);
        assert_no_open_ids();
        if (rc != LM_ECKPT) fail_msg("cut at %zu of %zu: %d %s", cut, n, rc, lm_error_message());
    }
    lm_error_clear();
    /* Flipped bytes never crash. */
    lm_rng rng;
    lm_rng_init(&rng, 6, 0, 0);
    for (int trial = 0; trial < 40; trial++) {
        unsigned char *copy = malloc(n);
        memcpy(copy, good, n);
        for (int k = 0; k < 6; k++)
            copy[lm_rng_below(&rng, n)] ^= (unsigned char)(1 + lm_rng_below(&rng, 255));
        spill(bad, copy, n);
        free(copy);
        lm_state_mem *tmpm;
        assert_int_equal(lm_state_mem_create(&tmpm), LM_OK);
        int rc = lm_io_state_read(bad, tmpm);
        lm_error_clear();
        assert_no_open_ids();
        assert_true(rc == LM_OK || rc == LM_ECKPT);
        lm_state_mem_destroy(&tmpm);
    }
    free(good);

    /* Missing file. */
    tmp_path(bad, sizeof bad, "never-written.h5");
    expect_error(lm_io_state_read(bad, back), LM_ENOENT, bad);

    /* The good one still reads. */
    assert_int_equal(lm_io_state_read(path, back), LM_OK);
    lm_state_reader rd = lm_state_mem_reader(back);
    int64_t epoch;
    assert_int_equal(lm_state_get_i64(&rd, "controller/epoch", &epoch), LM_OK);
    assert_int_equal(epoch, 12);
    lm_state_mem_destroy(&back);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dataset_roundtrip),
        cmocka_unit_test(test_dataset_missing),
        cmocka_unit_test(test_dataset_corrupt),
        cmocka_unit_test(test_results_roundtrip),
        cmocka_unit_test(test_results_pareto),
        cmocka_unit_test(test_results_bad_files),
        cmocka_unit_test(test_state_roundtrip),
        cmocka_unit_test(test_state_bad_names),
        cmocka_unit_test(test_state_incomplete),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
