/* Configuration: a full config parsed into the right values, defaults, the dataset
 * path, apply() with conditional hyperparameters, loading files, and every file in
 * inputs/ parsing. Error messages are in test_config_errors.c. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/config.h"
#include "lamarck/error.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lm_config *parse_ok(const char *yaml) {
    lm_error_clear();
    lm_config *c = NULL;
    int rc = lm_config_parse(yaml, strlen(yaml), "t.yaml", &c);
    if (rc != LM_OK) fail_msg("parse failed (%d): %s", rc, lm_error_message());
    assert_non_null(c);
    return c;
}

static const char full_yaml[] =
    "# every key of the schema\n"
    "experiment:\n"
    "  name: quick-1\n"
    "  seed: 18446744073709551615\n"
    "  output: /scratch/me/run\n"
    "  overwrite: yes\n"
    "  progress_interval: 2.5\n"
    "data:\n"
    "  dataset: wine\n"
    "  dir: /srv/data\n"
    "  validation_fraction: 0.25\n"
    "  train_subset: 1000\n"
    "training:\n"
    "  epochs: 7\n"
    "  batch_size: 64\n"
    "  lr: 1e-3\n"
    "  momentum: 0.8\n"
    "  nesterov: true\n"
    "  weight_decay: 5e-4\n"
    "  schedule: step\n"
    "  step_size: 2\n"
    "  gamma: 0.5\n"
    "model: {type: mlp, depth: 3, width: 100, dropout: 0.2}\n"
    "search: {algorithm: grid, trials: 5}\n"
    "space:\n"
    "  lr: {type: float, low: 0.01, high: 0.3, log: true, grid: 4}\n"
    "  depth: {type: int, low: 1, high: 3}\n"
    "  width: {type: categorical, values: [64, 128, 256]}\n"
    "  schedule: {type: categorical, values: [constant, step, cosine]}\n"
    "  step_size: {type: int, low: 1, high: 3, when: {schedule: step}}\n"
    "  gamma: {type: float, low: 0.1, high: 0.9, when: {schedule: [step, cosine]}}\n";

static void test_full(void **state) {
    (void)state;
    lm_config *c = parse_ok(full_yaml);
    assert_string_equal(c->path, "t.yaml");
    assert_int_equal(c->text_len, strlen(full_yaml));
    assert_string_equal(c->text, full_yaml);
    assert_string_equal(c->name, "quick-1");
    assert_true(c->seed == UINT64_MAX);
    assert_string_equal(c->output, "/scratch/me/run");
    assert_int_equal(c->overwrite, 1);
    assert_true(c->progress_interval == 2.5);
    assert_string_equal(c->dataset, "wine");
    assert_string_equal(c->data_dir, "/srv/data");
    assert_true(c->validation_fraction == 0.25);
    assert_int_equal(c->train_subset, 1000);
    assert_string_equal(c->model_type, "mlp");
    const lm_train_params *t = &c->train;
    assert_int_equal(t->epochs, 7);
    assert_int_equal(t->batch_size, 64);
    assert_true(t->lr == 1e-3 && t->momentum == 0.8 && t->weight_decay == 5e-4);
    assert_int_equal(t->nesterov, 1);
    assert_int_equal(t->schedule, LM_SCHED_STEP);
    assert_int_equal(t->step_size, 2);
    assert_true(t->gamma == 0.5 && t->dropout == 0.2);
    assert_int_equal(t->depth, 3);
    assert_int_equal(t->width, 100);
    assert_string_equal(c->algorithm, "grid");
    assert_int_equal(c->trials, 5);

    const lm_space *sp = c->space;
    assert_int_equal(lm_space_size(sp), 6);
    const lm_hp *lr = lm_space_hp(sp, 0);
    assert_string_equal(lr->name, "lr");
    assert_int_equal(lr->kind, LM_HP_FLOAT);
    assert_true(lr->log && lr->low == 0.01 && lr->high == 0.3 && lr->grid_points == 4);
    const lm_hp *depth = lm_space_hp(sp, 1);
    assert_int_equal(depth->kind, LM_HP_INT);
    assert_true(!depth->log && depth->low == 1 && depth->high == 3 && depth->grid_points == 3);
    const lm_hp *width = lm_space_hp(sp, 2);
    assert_int_equal(width->kind, LM_HP_CATEGORICAL);
    assert_int_equal(width->n_choices, 3);
    assert_string_equal(width->choices[2], "256");
    const lm_hp *ss = lm_space_hp(sp, 4);
    assert_string_equal(ss->name, "step_size");
    assert_int_equal(ss->parent, 3);
    assert_int_equal(ss->n_when, 1);
    assert_true(ss->when[0] == 1);
    const lm_hp *gamma = lm_space_hp(sp, 5);
    assert_int_equal(gamma->parent, 3);
    assert_int_equal(gamma->n_when, 2);
    assert_true(gamma->when[0] == 1 && gamma->when[1] == 2);
    /* 4 lr x 3 depth x 3 width x (constant 1 + step 3 x 3 gamma + cosine 3 gamma). */
    assert_int_equal(lm_space_grid_count(sp), 4 * 3 * 3 * (1 + 9 + 3));
    lm_config_destroy(&c);
    assert_null(c);
    lm_config_destroy(&c);
}

static void test_defaults(void **state) {
    (void)state;
    unsetenv("LAMARCK_DATA");
    const char *yaml = "data: {dataset: fashion-mnist}\n";
    lm_config *c = parse_ok(yaml);
    assert_string_equal(c->name, "experiment");
    assert_true(c->seed == 0);
    assert_string_equal(c->output, "runs/experiment");
    assert_int_equal(c->overwrite, 0);
    assert_true(c->progress_interval == 10);
    assert_string_equal(c->data_dir, "data");
    assert_true(c->validation_fraction == 0.1);
    assert_int_equal(c->train_subset, 0);
    assert_string_equal(c->model_type, "mlp");
    assert_string_equal(c->algorithm, "random");
    assert_int_equal(c->trials, 10);
    assert_int_equal(lm_space_size(c->space), 0);
    lm_train_params d;
    lm_train_params_default(&d);
    const lm_train_params *t = &c->train;
    assert_true(t->epochs == d.epochs && t->batch_size == d.batch_size && t->lr == d.lr &&
                t->momentum == d.momentum && t->nesterov == d.nesterov &&
                t->weight_decay == d.weight_decay && t->schedule == d.schedule &&
                t->step_size == d.step_size && t->gamma == d.gamma && t->depth == d.depth &&
                t->width == d.width && t->dropout == d.dropout);
    char buf[64];
    assert_int_equal(lm_config_dataset_path(c, buf, sizeof buf), LM_OK);
    assert_string_equal(buf, "data/fashion-mnist.h5");
    assert_int_equal(lm_config_dataset_path(c, buf, 10), LM_ERANGE);
    lm_error_clear();
    /* apply() with an empty space gives the defaults. */
    lm_train_params p;
    assert_int_equal(lm_config_apply(c, NULL, &p), LM_OK);
    assert_true(p.lr == d.lr && p.width == d.width);
    lm_config_destroy(&c);

    /* $LAMARCK_DATA, a named experiment, a grid without a cap, empty sections. */
    setenv("LAMARCK_DATA", "/datasets", 1);
    c = parse_ok("experiment: {name: mnist_a.2}\ndata: {dataset: digits}\n"
                 "search: {algorithm: grid}\ntraining:\nmodel: {}\n");
    assert_string_equal(c->output, "runs/mnist_a.2");
    assert_string_equal(c->data_dir, "/datasets");
    assert_int_equal(c->trials, 0);
    assert_int_equal(lm_config_dataset_path(c, buf, sizeof buf), LM_OK);
    assert_string_equal(buf, "/datasets/digits.h5");
    lm_config_destroy(&c);
    unsetenv("LAMARCK_DATA");

    /* A .h5 dataset is a path, used as it is; data.dir overrides the environment. */
    c = parse_ok("data:\n  dataset: ../shared/wine.h5\n  dir: elsewhere\n");
    assert_int_equal(lm_config_dataset_path(c, buf, sizeof buf), LM_OK);
    assert_string_equal(buf, "../shared/wine.h5");
    assert_string_equal(c->data_dir, "elsewhere");
    lm_config_destroy(&c);

    /* A document marker, comments, flow style and quoted strings all read the same. */
    c = parse_ok("---\n# a comment\n{data: {dataset: 'fashion-mnist'}, "
                 "experiment: {name: \"q\", seed: 42}}\n...\n");
    assert_string_equal(c->dataset, "fashion-mnist");
    assert_true(c->seed == 42);
    lm_config_destroy(&c);
}

static void test_numbers_and_bools(void **state) {
    (void)state;
    lm_config *c = parse_ok("data: {dataset: x}\n"
                            "training: {lr: .5, momentum: 0., weight_decay: 1E-4, gamma: +1}\n"
                            "experiment: {overwrite: No}\n");
    assert_true(c->train.lr == 0.5 && c->train.momentum == 0);
    assert_true(c->train.weight_decay == 1e-4 && c->train.gamma == 1);
    assert_int_equal(c->overwrite, 0);
    lm_config_destroy(&c);
    c = parse_ok("data: {dataset: x}\ntraining: {nesterov: TRUE, epochs: 1e2}\n"
                 "experiment: {overwrite: True}\n");
    assert_int_equal(c->train.nesterov, 1);
    assert_int_equal(c->train.epochs, 100);
    assert_int_equal(c->overwrite, 1);
    lm_config_destroy(&c);
}

static void test_apply(void **state) {
    (void)state;
    lm_config *c = parse_ok(full_yaml);
    const lm_space *sp = c->space;
    lm_train_params p;
    /* lr, depth, width=256, schedule=step, step_size, gamma */
    double x[6] = {0.1, 2, 2, 1, 3, 0.25};
    assert_int_equal(lm_config_apply(c, x, &p), LM_OK);
    assert_true(p.lr == 0.1 && p.gamma == 0.25);
    assert_int_equal(p.depth, 2);
    assert_int_equal(p.width, 256);
    assert_int_equal(p.schedule, LM_SCHED_STEP);
    assert_int_equal(p.step_size, 3);
    /* Not in the space: from training:/model:. */
    assert_int_equal(p.epochs, 7);
    assert_true(p.dropout == 0.2 && p.momentum == 0.8);

    /* schedule=constant: step_size and gamma are inactive, so whatever they hold is
     * not applied and the training: values stay. */
    double y[6] = {0.02, 1, 0, 0, 3, 0.7};
    assert_int_equal(lm_config_apply(c, y, &p), LM_OK);
    assert_int_equal(p.schedule, LM_SCHED_CONSTANT);
    assert_int_equal(p.step_size, 2);
    assert_true(p.gamma == 0.5);
    assert_int_equal(p.width, 64);
    /* cosine: gamma active, step_size not. */
    double z[6] = {0.02, 1, 1, 2, NAN, 0.9};
    assert_int_equal(lm_config_apply(c, z, &p), LM_OK);
    assert_int_equal(p.schedule, LM_SCHED_COSINE);
    assert_int_equal(p.step_size, 2);
    assert_true(p.gamma == 0.9 && p.width == 128);

    /* Every point of the prior and of the grid applies. */
    lm_rng rng;
    lm_rng_init(&rng, 3, 0, LM_STREAM_SAMPLE);
    for (int s = 0; s < 500; s++) {
        lm_space_sample(sp, &rng, x);
        assert_int_equal(lm_config_apply(c, x, &p), LM_OK);
        assert_true(p.lr >= 0.01 && p.lr <= 0.3);
        assert_int_equal(p.step_size, isnan(x[4]) ? 2 : (int)x[4]);
    }
    long n = lm_space_grid_count(sp);
    for (long k = 0; k < n; k++) {
        assert_int_equal(lm_space_grid_point(sp, k, x), LM_OK);
        assert_int_equal(lm_config_apply(c, x, &p), LM_OK);
    }

    /* A bad point is refused with a message. */
    double bad[6] = {0.1, 2, 5, 1, 3, 0.25};
    lm_error_clear();
    assert_int_equal(lm_config_apply(c, bad, &p), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "'width': choice index 5"));
    double frac[6] = {0.1, 2.5, 0, 0, NAN, NAN};
    lm_error_clear();
    assert_int_equal(lm_config_apply(c, frac, &p), LM_ERANGE);
    assert_non_null(strstr(lm_error_message(), "'depth' must be an integer"));
    lm_error_clear();
    lm_config_destroy(&c);

    /* Numeric labels set numbers, boolean words set nesterov, conditions on an int. */
    c = parse_ok("data: {dataset: x}\n"
                 "space:\n"
                 "  lr: {type: categorical, values: [1e-3, '0.01']}\n"
                 "  nesterov: {type: categorical, values: [yes, no]}\n"
                 "  depth: {type: int, low: 0, high: 2}\n"
                 "  width: {type: categorical, values: [32, 64], when: {depth: [1, 2]}}\n"
                 "  dropout: {type: float, low: 0, high: 0.5, when: {nesterov: true}}\n");
    assert_string_equal(lm_space_hp(c->space, 1)->choices[0], "true");
    double w[5] = {1, 0, 1, 1, 0.25};
    assert_int_equal(lm_config_apply(c, w, &p), LM_OK);
    assert_true(p.lr == 0.01 && p.nesterov == 1 && p.depth == 1 && p.width == 64);
    assert_true(p.dropout == 0.25);
    double v[5] = {0, 1, 0, NAN, NAN};
    assert_int_equal(lm_config_apply(c, v, &p), LM_OK);
    assert_true(p.lr == 1e-3 && p.nesterov == 0 && p.depth == 0 && p.width == 256);
    assert_true(p.dropout == 0);
    /* lr 2 x nesterov (true: 3 dropout, false: 1) x depth (0: 1, 1: 2 widths, 2: 2). */
    assert_int_equal(lm_space_grid_count(c->space), 2 * (3 + 1) * (1 + 2 + 2));
    lm_config_destroy(&c);
}

static void write_file(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void test_load(void **state) {
    (void)state;
    char path[] = "/tmp/lamarck_test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    assert_non_null(f);
    fputs(full_yaml, f);
    fclose(f);
    lm_config *c = NULL;
    lm_error_clear();
    assert_int_equal(lm_config_load(path, &c), LM_OK);
    assert_string_equal(c->path, path);
    assert_string_equal(c->name, "quick-1");
    lm_config_destroy(&c);

    /* Files over the limit are refused before parsing. */
    size_t big = LM_CONFIG_MAX_BYTES + 1;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    write_file(path, text, big);
    assert_int_equal(lm_config_load(path, &c), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "larger than the limit of 1048576 bytes"));
    assert_non_null(strstr(lm_error_message(), path));
    assert_null(c);
    lm_error_clear();
    /* Exactly at the limit is parsed (a comment-only file: empty configuration). */
    write_file(path, text, big - 1);
    assert_int_equal(lm_config_load(path, &c), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "empty configuration"));
    lm_error_clear();
    free(text);
    remove(path);

    assert_int_equal(lm_config_load(path, &c), LM_ENOENT);
    assert_non_null(strstr(lm_error_message(), path));
    assert_non_null(strstr(lm_error_message(), "cannot open"));
    lm_error_clear();
    assert_int_equal(lm_config_load("/tmp", &c), LM_ENOENT);
    assert_non_null(strstr(lm_error_message(), "/tmp: cannot read"));
    lm_error_clear();
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Every example experiment in inputs/ parses (datasets need not exist). */
static void test_inputs_parse(void **state) {
    (void)state;
    const char *src = getenv("LAMARCK_SOURCE_DIR");
    if (!src) skip();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/inputs", src);
    DIR *d = opendir(dir);
    if (!d) skip();
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!ends_with(e->d_name, ".yaml") && !ends_with(e->d_name, ".yml")) continue;
        if (!strncmp(e->d_name, "metadata", 8)) continue; /* generation configs: test_config_meta */
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        lm_config *c = NULL;
        lm_error_clear();
        if (lm_config_load(path, &c) != LM_OK) fail_msg("%s", lm_error_message());
        char buf[4096];
        assert_int_equal(lm_config_dataset_path(c, buf, sizeof buf), LM_OK);
        /* Every point of the space must make valid training parameters. */
        lm_rng rng;
        lm_rng_init(&rng, c->seed, 0, LM_STREAM_SAMPLE);
        double x[LM_HP_MAX];
        lm_train_params p;
        for (int s = 0; s < 50; s++) {
            lm_space_sample(c->space, &rng, x);
            if (lm_config_apply(c, x, &p) != LM_OK) fail_msg("%s: %s", path, lm_error_message());
        }
        lm_config_destroy(&c);
        found++;
    }
    closedir(d);
    if (!found) skip();
    print_message("parsed %d files from %s\n", found, dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),  cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_numbers_and_bools), cmocka_unit_test(test_apply),
        cmocka_unit_test(test_load),  cmocka_unit_test(test_inputs_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
