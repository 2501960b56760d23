/* Metadata configs (lm_meta_config_parse): a full config into the right values, the
 * shipped inputs/metadata_*.yaml, and each kind of error with its file:line:column,
 * key path and message. */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/config.h"
#include "lamarck/error.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lm_meta_config *parse_ok(const char *yaml) {
    lm_error_clear();
    lm_meta_config *c = NULL;
    int rc = lm_meta_config_parse(yaml, strlen(yaml), "t.yaml", &c);
    if (rc != LM_OK) fail_msg("parse failed (%d): %s", rc, lm_error_message());
    assert_non_null(c);
    return c;
}

static const char full_yaml[] =
    "metadata:\n"
    "  output: meta/x.h5\n"
    "  seed: 18446744073709551615\n"
    "  architectures: 12\n"
    "  epochs: 5\n"
    "  dir: /srv/data\n"
    "  progress_interval: 2.5\n"
    "  datasets:\n"
    "    - {dataset: digits}\n"
    "    - dataset: fashion-mnist\n"
    "      validation_fraction: 0.05\n"
    "      train_subset: 3000\n"
    "      test_subset: 1000\n"
    "    - {dataset: /elsewhere/my-set.h5, validation_fraction: 0.25}\n"
    "model:\n"
    "  space: mlp\n"
    "  architecture: {min_depth: 1, max_depth: 3, widths: [16, 64]}\n"
    "  constraints: {max_params: 50000}\n"
    "training: {batch_size: 32, lr: 0.02, momentum: 0.8, schedule: cosine}\n"
    "preprocessing: {scaler: minmax}\n";

static void test_full(void **state) {
    (void)state;
    lm_meta_config *c = parse_ok(full_yaml);
    assert_string_equal(c->output, "meta/x.h5");
    assert_true(c->seed == UINT64_MAX);
    assert_int_equal(c->architectures, 12);
    assert_int_equal(c->epochs, 5);
    assert_true(c->progress_interval == 2.5);
    assert_int_equal(c->n_datasets, 3);
    assert_string_equal(c->datasets[0].dataset, "digits");
    assert_string_equal(c->datasets[0].name, "digits");
    assert_true(c->datasets[0].validation_fraction == 0.1);
    assert_true(c->datasets[0].train_subset == 0 && c->datasets[0].test_subset == 0);
    assert_string_equal(c->datasets[1].name, "fashion-mnist");
    assert_true(c->datasets[1].validation_fraction == 0.05);
    assert_true(c->datasets[1].train_subset == 3000 && c->datasets[1].test_subset == 1000);
    assert_string_equal(c->datasets[2].dataset, "/elsewhere/my-set.h5");
    assert_string_equal(c->datasets[2].name, "my-set");
    assert_true(c->datasets[2].validation_fraction == 0.25);
    /* The recipe, as an experiment config would hold it. */
    lm_config *b = c->base;
    assert_int_equal(b->train.epochs, 5);
    assert_int_equal(b->train.batch_size, 32);
    assert_true(b->train.lr == 0.02 && b->train.momentum == 0.8);
    assert_int_equal(b->train.schedule, LM_SCHED_COSINE);
    assert_int_equal(b->train.preprocess.scaler, LM_SCALE_MINMAX);
    assert_int_equal(b->has_arch, 1);
    assert_int_equal(b->arch.family, LM_ARCH_MLP);
    assert_int_equal(b->arch.max_depth, 3);
    assert_int_equal(b->arch.n_widths, 2);
    assert_int_equal(b->arch.widths[1], 64);
    assert_true(b->arch.max_params == 50000);
    assert_string_equal(b->data_dir, "/srv/data");
    assert_true(b->seed == UINT64_MAX);
    /* The space holds the architecture genes only. */
    int first, n;
    assert_non_null(lm_space_arch(b->space, &first, &n));
    assert_int_equal(first, 0);
    assert_int_equal(n, (int)lm_arch_genome_size(&b->arch));
    /* Per-dataset views of the base config. */
    lm_config d;
    lm_meta_config_dataset(c, 1, &d);
    assert_string_equal(d.dataset, "fashion-mnist");
    assert_true(d.validation_fraction == 0.05 && d.train_subset == 3000);
    char path[256];
    assert_int_equal(lm_config_dataset_path(&d, path, sizeof path), LM_OK);
    assert_string_equal(path, "/srv/data/fashion-mnist.h5");
    lm_meta_config_dataset(c, 2, &d);
    assert_int_equal(lm_config_dataset_path(&d, path, sizeof path), LM_OK);
    assert_string_equal(path, "/elsewhere/my-set.h5");
    lm_meta_config_destroy(&c);
    assert_null(c);
    lm_meta_config_destroy(&c); /* NULL accepted */
}

static void test_defaults(void **state) {
    (void)state;
    lm_meta_config *c = parse_ok("metadata: {output: m.h5, architectures: 1, epochs: 1, "
                                 "datasets: [{dataset: iris}]}\n"
                                 "model: {space: cell}\n");
    assert_true(c->seed == 0);
    assert_true(c->progress_interval == 10);
    assert_int_equal(c->base->arch.family, LM_ARCH_CELL);
    lm_train_params def;
    lm_train_params_default(&def);
    assert_int_equal(c->base->train.batch_size, def.batch_size);
    assert_true(c->base->train.lr == def.lr);
    assert_int_equal(c->base->train.epochs, 1);
    lm_meta_config_destroy(&c);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* The shipped metadata configs parse, with at least 6 datasets, 100 architectures and
 * 20 epochs (issue 10's shipped meta-dataset). */
static void test_inputs(void **state) {
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
        if (strncmp(e->d_name, "metadata_", 9) != 0 || !ends_with(e->d_name, ".yaml")) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        lm_meta_config *c = NULL;
        lm_error_clear();
        if (lm_meta_config_load(path, &c) != LM_OK) fail_msg("%s", lm_error_message());
        assert_true(c->n_datasets >= 6);
        assert_true(c->architectures >= 100);
        assert_true(c->epochs >= 20);
        lm_meta_config_destroy(&c);
        found++;
    }
    closedir(d);
    if (!found) skip();
}

static void test_load_missing(void **state) {
    (void)state;
    lm_meta_config *c = NULL;
    lm_error_clear();
    assert_int_equal(lm_meta_config_load("/nonexistent/m.yaml", &c), LM_ENOENT);
    assert_null(c);
    assert_non_null(strstr(lm_error_message(), "/nonexistent/m.yaml"));
}

/* ---- errors ---- */

#define OK_META "metadata: {output: m.h5, architectures: 3, epochs: 2, datasets: [{dataset: iris}]}\n"
#define OK_MODEL "model: {space: mlp}\n"

static const struct {
    const char *yaml;
    const char *expect[3]; /* substrings of the message, all required */
} errors[] = {
    {"", {"t.yaml:1:1", "empty configuration"}},
    {"- a\n- b\n", {"t.yaml:1:1", "expected a mapping of sections"}},
    {OK_MODEL, {"t.yaml:1:1", "metadata", "required section missing"}},
    {OK_META "modle: {space: mlp}\n", {"t.yaml:2:1", "unknown section 'modle'", "did you mean 'model'"}},
    {OK_META OK_MODEL "data: {dataset: iris}\n", {"t.yaml:3:1", "not used by metadata generation", "metadata.datasets"}},
    {OK_META OK_MODEL "search: {algorithm: random}\n", {"t.yaml:3:1", "section 'search'"}},
    {"metadata:\n  output: m.h5\n  architecture: 3\n", {"t.yaml:3:3", "metadata.architecture", "did you mean 'architectures'"}},
    {"metadata:\n  output: m.h5\n  architectures: 0\n", {"t.yaml:3:18", "metadata.architectures", "expected an integer in [1, 1048576]"}},
    {"metadata:\n  epochs: 2.5\n", {"t.yaml:2:11", "metadata.epochs", "expected an integer"}},
    {"metadata:\n  output: m.txt\n", {"t.yaml:2:11", "metadata.output", "ending in .h5"}},
    {"metadata:\n  output: ../m.h5\n", {"t.yaml:2:11", "without '..'"}},
    {"metadata:\n  seed: -1\n", {"t.yaml:2:9", "metadata.seed", "expected an integer in [0, 18446744073709551615]"}},
    {"metadata:\n  progress_interval: 0\n", {"t.yaml:2:22", "metadata.progress_interval", "(0, 1e6]"}},
    {"metadata:\n  output: m.h5\n  architectures: 2\n  datasets: [{dataset: iris}]\n" OK_MODEL,
     {"t.yaml:1:1", "metadata.epochs", "required key missing"}},
    {"metadata: {output: m.h5, architectures: 2, epochs: 1}\n" OK_MODEL,
     {"t.yaml:1:1", "metadata.datasets", "required key missing"}},
    {"metadata:\n  datasets: []\n", {"t.yaml:2:13", "metadata.datasets", "expected a list of 1 to 256 datasets"}},
    {"metadata:\n  datasets: {dataset: iris}\n", {"t.yaml:2:13", "metadata.datasets", "got a mapping"}},
    {"metadata:\n  datasets:\n    - iris\n", {"t.yaml:3:7", "metadata.datasets[0]", "expected a mapping such as {dataset: iris}"}},
    {"metadata:\n  datasets:\n    - {validation_fraction: 0.2}\n", {"t.yaml:3:7", "metadata.datasets[0]", "required key 'dataset' missing"}},
    {"metadata:\n  datasets:\n    - {dataset: iris}\n    - {dataset: wine}\n    - {dataset: iris}\n",
     {"t.yaml:5:7", "metadata.datasets[2].dataset", "'iris' is listed twice"}},
    {"metadata:\n  datasets:\n    - {dataset: ../../etc/x}\n", {"t.yaml:3:17", "metadata.datasets[0].dataset", "no '/'"}},
    {"metadata:\n  datasets:\n    - {dataset: iris, validation_fraction: 1.5}\n",
     {"t.yaml:3:44", "metadata.datasets[0].validation_fraction", "(0, 0.9]"}},
    {"metadata:\n  datasets:\n    - {dataset: iris, train_subst: 10}\n",
     {"t.yaml:3:23", "metadata.datasets[0].train_subst", "did you mean 'train_subset'"}},
    {"metadata:\n  datasets:\n    - {dataset: iris, test_subset: -3}\n",
     {"t.yaml:3:36", "metadata.datasets[0].test_subset", "expected an integer"}},
    {OK_META "model: {type: mlp}\n", {"t.yaml:2:8", "model.space", "required"}},
    {OK_META "model: {space: fixed}\n", {"t.yaml:2:8", "model.space", "required"}},
    {OK_META, {"t.yaml:1:1", "model.space", "required"}},
    {OK_META "model: {space: mpl}\n", {"t.yaml:2:16", "model.space", "did you mean 'mlp'"}},
    {OK_META "model:\n  space: mlp\n  architecture: {max_depth: 99}\n",
     {"t.yaml:4:29", "model.architecture.max_depth", "expected an integer in [1, 10]"}},
    {OK_META "model:\n  space: mlp\n  constraints: {max_latency_ms: 2}\n",
     {"t.yaml:4:16", "max_latency_ms", "not supported by metadata generation"}},
    {OK_META OK_MODEL "training: {epochs: 4}\n", {"t.yaml:3:12", "training.epochs", "metadata.epochs"}},
    {OK_META OK_MODEL "training: {lr: -1}\n", {"t.yaml:3:16", "training.lr"}},
    {OK_META OK_MODEL "training: {lr: '0.1'}\n", {"t.yaml:3:16", "training.lr", "expected a number"}},
    {OK_META OK_MODEL "training: {depth: 2}\n", {"t.yaml:3:12", "training.depth", "unknown key"}},
    {OK_META OK_MODEL "preprocessing: {scaler: zscore}\n", {"t.yaml:3:25", "preprocessing.scaler"}},
    {OK_META "metadata: {seed: 2}\n" OK_MODEL, {"t.yaml:2:1", "duplicate key 'metadata'"}},
    {"metadata: &a {output: m.h5}\n", {"t.yaml:1:11"}},
};

static void test_errors(void **state) {
    (void)state;
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++) {
        lm_error_clear();
        lm_meta_config *c = NULL;
        int rc = lm_meta_config_parse(errors[i].yaml, strlen(errors[i].yaml), "t.yaml", &c);
        if (rc != LM_ECONFIG)
            fail_msg("case %zu: expected LM_ECONFIG, got %d (%s) for:\n%s", i, rc,
                     lm_error_message(), errors[i].yaml);
        assert_null(c);
        const char *msg = lm_error_message();
        for (int j = 0; j < 3 && errors[i].expect[j]; j++)
            if (!strstr(msg, errors[i].expect[j]))
                fail_msg("case %zu: message lacks \"%s\":\n  %s\nfor:\n%s", i, errors[i].expect[j],
                         msg, errors[i].yaml);
    }
}

static void test_too_large(void **state) {
    (void)state;
    size_t n = LM_CONFIG_MAX_BYTES + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, '#', n);
    lm_meta_config *c = NULL;
    lm_error_clear();
    assert_int_equal(lm_meta_config_parse(big, n, "big.yaml", &c), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "limit"));
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),   cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_inputs), cmocka_unit_test(test_load_missing),
        cmocka_unit_test(test_errors), cmocka_unit_test(test_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
