/* Dataset files with tabular feature descriptions: round trips, the header-only
 * summary (lm_io_dataset_info), validation of what is read back, and files of the
 * first schema version (no descriptions: all numeric). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, rmdir, unlink */
#include "lamarck/error.h"
#include "lamarck/io.h"

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
/* Only to make damaged and old-version files the writer would never produce. */
#include <hdf5.h>

long lm__h5_open_ids(void);
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5\n"; }

static char tmpdir[256];
static long base_ids;

static int setup_tmp(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lamarck_test_iods_XXXXXX");
    base_ids = lm__h5_open_ids();
    return mkdtemp(tmpdir) ? 0 : -1;
}

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

static void expect_error(int rc, int err, const char *needle) {
    if (rc != err || !strstr(lm_error_message(), needle))
        fail_msg("expected %d with '%s', got %d: %s", err, needle, rc, lm_error_message());
    lm_error_clear();
    assert_int_equal(lm__h5_open_ids(), base_ids);
}

/* n samples of 4 features: age (numeric, some missing), color (3 named categories),
 * grade (2 unnamed categories), weight (numeric). */
static void make_tabular(lm_dataset *d, int64_t n, int named_grades) {
    assert_int_equal(lm_dataset_alloc(d, n, 4, 1, 1, 2), LM_OK);
    snprintf(d->name, sizeof d->name, "people");
    for (int64_t i = 0; i < n; i++) {
        float *x = d->X + i * 4;
        x[0] = i % 5 == 0 ? NAN : (float)(20 + i);
        x[1] = i % 7 == 3 ? NAN : (float)(i % 3);
        x[2] = (float)(i % 2);
        x[3] = 0.5f * (float)i;
        d->y[i] = (int32_t)(i % 2);
    }
    const char *names[] = {"age", "color", "grade", "weight"}, *colors[] = {"red", "green", "blue"};
    const char *grades[] = {"pass", "fail"}, *classes[] = {"no", "yes"};
    assert_int_equal(lm_dataset_set_feature_names(d, names), LM_OK);
    assert_int_equal(lm_dataset_set_categorical(d, 1, 3, colors), LM_OK);
    assert_int_equal(lm_dataset_set_categorical(d, 2, 2, named_grades ? grades : NULL), LM_OK);
    assert_int_equal(lm_dataset_set_class_names(d, 2, classes), LM_OK);
}

static void assert_same(const lm_dataset *a, const lm_dataset *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->c, b->c);
    /* Bitwise: NANs included. */
    assert_memory_equal(a->X, b->X, (size_t)a->n * (size_t)a->c * sizeof(float));
    assert_memory_equal(a->y, b->y, (size_t)a->n * sizeof(int32_t));
    assert_int_equal(lm_dataset_check_schema(a, b, "read back"), LM_OK);
}

static void test_tabular_roundtrip(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "people.h5");
    lm_dataset tr, te, rtr, rte;
    make_tabular(&tr, 40, 1);
    make_tabular(&te, 11, 1);
    assert_int_equal(lm_io_dataset_write(path, &tr, &te, "unit test"), LM_OK);
    assert_int_equal(lm_io_dataset_read(path, &rtr, &rte), LM_OK);
    assert_same(&tr, &rtr);
    assert_same(&te, &rte);
    assert_string_equal(rtr.category_names[1][2], "blue");
    assert_string_equal(rte.feature_names[3], "weight");
    assert_null(rtr.category_names[0]);
    lm_dataset_free(&rtr);
    lm_dataset_free(&rte);

    lm_dataset_info info;
    assert_int_equal(lm_io_dataset_info(path, &info), LM_OK);
    assert_string_equal(info.name, "people");
    assert_string_equal(info.source, "unit test");
    assert_int_equal(info.schema_version, LM_DATASET_SCHEMA_VERSION);
    assert_int_equal(info.n_train, 40);
    assert_int_equal(info.n_test, 11);
    assert_int_equal(info.c, 4);
    assert_int_equal(info.h, 1);
    assert_int_equal(info.n_classes, 2);
    assert_int_equal(info.n_categorical, 2);
    assert_int_equal(info.n_numeric, 2);
    /* age: every fifth of 40 and 11 (8 + 3); color: i % 7 == 3 (6 + 2). */
    assert_int_equal(info.n_missing, 8 + 3 + 6 + 2);
    assert_int_equal(lm__h5_open_ids(), base_ids);

    /* Categories without names (for one feature) are written without any names. */
    lm_dataset_free(&tr);
    make_tabular(&tr, 10, 0);
    assert_int_equal(lm_io_dataset_write(path, &tr, NULL, NULL), LM_OK);
    assert_int_equal(lm_io_dataset_read(path, &rtr, NULL), LM_OK);
    assert_int_equal(rtr.n_categories[2], 2);
    assert_null(rtr.category_names[1]);
    assert_memory_equal(rtr.X, tr.X, 40 * sizeof(float));
    lm_dataset_free(&rtr);
    assert_int_equal(lm_io_dataset_info(path, &info), LM_OK);
    assert_int_equal(info.n_test, 0);
    lm_dataset_free(&tr);
    lm_dataset_free(&te);
}

static void test_schema_mismatch_refused(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "mismatch.h5");
    lm_dataset tr, te;
    make_tabular(&tr, 10, 1);
    make_tabular(&te, 5, 1);
    te.n_categories[1] = 4;
    lm_error_clear();
    expect_error(lm_io_dataset_write(path, &tr, &te, "x"), LM_EDATA,
                 "the test split: feature 2 ('color') has 4 categories, expected 3");
    assert_int_equal(access(path, F_OK), -1);
    te.n_categories[1] = 3; /* as its category names are, for freeing */
    lm_dataset_free(&tr);
    lm_dataset_free(&te);
}

static void test_images_info(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "images.h5");
    lm_dataset tr;
    assert_int_equal(lm_dataset_alloc(&tr, 6, 3, 4, 5, 2), LM_OK);
    snprintf(tr.name, sizeof tr.name, "pics");
    tr.y[1] = 1;
    assert_int_equal(lm_io_dataset_write(path, &tr, &tr, "pixels"), LM_OK);
    lm_dataset_info info;
    assert_int_equal(lm_io_dataset_info(path, &info), LM_OK);
    assert_int_equal(info.n_train, 6);
    assert_int_equal(info.n_test, 6);
    assert_int_equal(info.c, 3);
    assert_int_equal(info.h, 4);
    assert_int_equal(info.w, 5);
    assert_int_equal(info.n_numeric, 60);
    assert_int_equal(info.n_categorical, 0);
    assert_int_equal(info.n_missing, 0);
    lm_dataset r;
    assert_int_equal(lm_io_dataset_read(path, &r, NULL), LM_OK);
    assert_null(r.feature_kind);
    assert_null(r.feature_names);
    lm_dataset_free(&r);
    lm_dataset_free(&tr);
    char missing[300];
    tmp_path(missing, sizeof missing, "none.h5");
    expect_error(lm_io_dataset_info(missing, &info), LM_ENOENT, missing);
}

/* Rewrites a 1-D dataset of the file with new contents of the same type. */
static void overwrite(const char *path, const char *name, hid_t mtype, const void *buf) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(d);
    H5Fclose(f);
}

static void test_validation(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "bad.h5");
    lm_dataset tr, r1, r2;
    make_tabular(&tr, 12, 1);
    lm_dataset_info info;

    /* A kind other than 0 or 1. */
    assert_int_equal(lm_io_dataset_write(path, &tr, NULL, "x"), LM_OK);
    uint8_t kinds[4] = {0, 1, 3, 0};
    overwrite(path, "/features/kind", H5T_NATIVE_UINT8, kinds);
    lm_error_clear();
    expect_error(lm_io_dataset_read(path, &r1, &r2), LM_EDATA, "/features/kind[2] is 3");
    assert_null(r1.X);

    /* A categorical feature with a count out of range, or a numeric one with one. */
    assert_int_equal(lm_io_dataset_write(path, &tr, NULL, "x"), LM_OK);
    int32_t counts[4] = {0, 3, 2000, 0};
    overwrite(path, "/features/n_categories", H5T_NATIVE_INT32, counts);
    expect_error(lm_io_dataset_read(path, &r1, NULL), LM_EDATA, "/features/n_categories[2] is 2000");
    counts[2] = 2;
    counts[3] = 5;
    overwrite(path, "/features/n_categories", H5T_NATIVE_INT32, counts);
    expect_error(lm_io_dataset_read(path, &r1, NULL), LM_EDATA, "0 for a numeric one");

    /* Category counts that no longer match the names stored. */
    counts[1] = 2;
    counts[3] = 0;
    overwrite(path, "/features/n_categories", H5T_NATIVE_INT32, counts);
    expect_error(lm_io_dataset_read(path, &r1, NULL), LM_EDATA,
                 "/features/category_names: dimension 0 is 5, at most 4 expected");
    counts[1] = counts[2] = 3;
    overwrite(path, "/features/n_categories", H5T_NATIVE_INT32, counts);
    expect_error(lm_io_dataset_read(path, &r1, NULL), LM_EDATA,
                 "/features/category_names has 5 names; n_categories adds up to 6");

    /* A categorical value that is no category. */
    tr.X[5 * 4 + 1] = 3;
    assert_int_equal(lm_io_dataset_write(path, &tr, NULL, "x"), LM_OK);
    expect_error(lm_io_dataset_read(path, &r1, NULL), LM_EDATA,
                 "/train/X[5][1] is 3, not a category of feature 1 (0..2)");
    tr.X[5 * 4 + 1] = 0.5f;
    assert_int_equal(lm_io_dataset_write(path, &tr, NULL, "x"), LM_OK);
    expect_error(lm_io_dataset_read(path, &r1, NULL), LM_EDATA, "is 0.5, not a category");
    /* The summary does not read X, so it does not notice. */
    assert_int_equal(lm_io_dataset_info(path, &info), LM_OK);
    lm_dataset_free(&tr);
}

/* Turns a file into one of schema version 1: no /features, no n_missing. */
static void make_version_1(const char *path) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    if (H5Lexists(f, "features", H5P_DEFAULT) > 0) assert_true(H5Ldelete(f, "features", H5P_DEFAULT) >= 0);
    assert_true(H5Adelete(f, "n_missing") >= 0);
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    int64_t one = 1;
    assert_true(H5Awrite(a, H5T_NATIVE_INT64, &one) >= 0);
    H5Aclose(a);
    H5Fclose(f);
}

static void test_version_1_reads_as_numeric(void **state) {
    (void)state;
    char path[300];
    tmp_path(path, sizeof path, "old.h5");
    lm_dataset tr, r;
    make_tabular(&tr, 9, 1);
    assert_int_equal(lm_io_dataset_write(path, &tr, &tr, "old"), LM_OK);
    make_version_1(path);
    assert_int_equal(lm_io_dataset_read(path, &r, NULL), LM_OK);
    assert_null(r.feature_kind);
    assert_null(r.feature_names);
    assert_int_equal(lm_dataset_n_categorical(&r), 0);
    assert_memory_equal(r.X, tr.X, 36 * sizeof(float));
    lm_dataset_free(&r);
    lm_dataset_info info;
    assert_int_equal(lm_io_dataset_info(path, &info), LM_OK);
    assert_int_equal(info.schema_version, 1);
    assert_int_equal(info.n_missing, -1);
    assert_int_equal(info.n_categorical, 0);
    assert_int_equal(info.n_numeric, 4);

    /* A version from the future is refused by name. */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    int64_t v = LM_DATASET_SCHEMA_VERSION + 1;
    H5Awrite(a, H5T_NATIVE_INT64, &v);
    H5Aclose(a);
    H5Fclose(f);
    lm_error_clear();
    expect_error(lm_io_dataset_read(path, &r, NULL), LM_EDATA, "reads versions 1 to 2");
    expect_error(lm_io_dataset_info(path, &info), LM_EDATA, "reads versions 1 to 2");
    lm_dataset_free(&tr);
}

int main(void) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tabular_roundtrip),
        cmocka_unit_test(test_schema_mismatch_refused),
        cmocka_unit_test(test_images_info),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_version_1_reads_as_numeric),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
