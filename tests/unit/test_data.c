/* Datasets, the stratified split, the batcher, and the idx and digits importers. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, access, rmdir */
#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

/* ---- helpers ---- */

/* A dataset of n samples of shape 1 x 2 x 3 whose features encode the sample index
 * (X[i][j] = i + j / 10) and whose labels follow the given per-class counts. */
static void make_dataset(lm_dataset *d, const int *counts, int n_classes) {
    int64_t n = 0;
    for (int k = 0; k < n_classes; k++) n += counts[k];
    assert_int_equal(lm_dataset_alloc(d, n, 1, 2, 3, n_classes), LM_OK);
    snprintf(d->name, sizeof d->name, "synthetic");
    /* Interleave the classes so that class order differs from sample order. */
    int left[16];
    memcpy(left, counts, (size_t)n_classes * sizeof *left);
    int64_t i = 0;
    while (i < n)
        for (int k = 0; k < n_classes && i < n; k++)
            if (left[k] > 0) {
                left[k]--;
                d->y[i] = k;
                for (int j = 0; j < 6; j++) d->X[i * 6 + j] = (float)i + (float)j / 10.f;
                i++;
            }
}

/* The sample index encoded in row r of X (see make_dataset). */
static int64_t row_id(const float *X, int64_t r) { return (int64_t)lrintf(X[r * 6]); }

static char tmpdir[256];

static int setup_tmp(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lamarck_test_data_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

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

static void path_in_tmp(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Writes bytes to path, gzip-compressed when gz. */
static void write_file(const char *path, const void *buf, size_t n, int gz) {
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (n) assert_int_equal(gzwrite(f, buf, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        if (n) assert_int_equal(fwrite(buf, 1, n, f), n);
        assert_int_equal(fclose(f), 0);
    }
}

/* Builds idx images (n x h x w, pixel = (i*7 + j) % 256) and labels (i % 3) files.
 * Returns the byte lengths through *ni and *nl; the caller frees the buffers. */
static void make_idx(uint32_t n, uint32_t h, uint32_t w, unsigned char **img, size_t *ni,
                     unsigned char **lab, size_t *nl) {
    *ni = 16 + (size_t)n * h * w;
    *nl = 8 + n;
    *img = malloc(*ni);
    *lab = malloc(*nl);
    assert_non_null(*img);
    assert_non_null(*lab);
    put_be32(*img, 0x803);
    put_be32(*img + 4, n);
    put_be32(*img + 8, h);
    put_be32(*img + 12, w);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < (size_t)h * w; j++)
            (*img)[16 + i * h * w + j] = (unsigned char)((i * 7 + j) % 256);
    put_be32(*lab, 0x801);
    put_be32(*lab + 4, n);
    for (size_t i = 0; i < n; i++) (*lab)[8 + i] = (unsigned char)(i % 3);
}

/* ---- dataset ---- */

static void test_alloc_and_names(void **state) {
    (void)state;
    lm_dataset d;
    assert_int_equal(lm_dataset_alloc(&d, 5, 3, 4, 2, 3), LM_OK);
    assert_int_equal(lm_dataset_features(&d), 24);
    for (int i = 0; i < 5 * 24; i++) assert_true(d.X[i] == 0.f);
    for (int i = 0; i < 5; i++) assert_int_equal(d.y[i], 0);
    assert_null(d.class_names);
    const char *names[] = {"a", "bb", "ccc"};
    assert_int_equal(lm_dataset_set_class_names(&d, 3, names), LM_OK);
    assert_string_equal(d.class_names[2], "ccc");
    assert_ptr_not_equal(d.class_names[0], names[0]);
    assert_int_equal(lm_dataset_set_class_names(&d, 2, names), LM_EINVAL);
    lm_dataset_free(&d);
    assert_null(d.X);
    lm_dataset_free(&d); /* twice is harmless */

    lm_error_clear();
    assert_int_equal(lm_dataset_alloc(&d, 5, 0, 4, 2, 3), LM_EINVAL);
    assert_int_equal(lm_dataset_alloc(&d, -1, 1, 4, 2, 3), LM_EINVAL);
    assert_int_equal(lm_dataset_alloc(&d, 5, 1, 4, 2, 0), LM_EINVAL);
    assert_int_equal(lm_dataset_alloc(&d, 5, 1, 4, 2, LM_DATA_CLASSES_MAX + 1), LM_EINVAL);
    lm_error_clear();
}

static void test_subset(void **state) {
    (void)state;
    int counts[] = {4, 3};
    lm_dataset d, s;
    make_dataset(&d, counts, 2);
    const char *names[] = {"zero", "one"};
    assert_int_equal(lm_dataset_set_class_names(&d, 2, names), LM_OK);
    int32_t idx[] = {6, 0, 3, 3};
    assert_int_equal(lm_dataset_subset(&d, idx, 4, &s), LM_OK);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.name, "synthetic");
    assert_string_equal(s.class_names[1], "one");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(row_id(s.X, i), idx[i]);
        assert_memory_equal(s.X + i * 6, d.X + idx[i] * 6, 6 * sizeof(float));
        assert_int_equal(s.y[i], d.y[idx[i]]);
    }
    lm_dataset_free(&s);
    int32_t bad[] = {0, 7};
    lm_error_clear();
    assert_int_equal(lm_dataset_subset(&d, bad, 2, &s), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "index 7"));
    lm_error_clear();
    lm_dataset_free(&d);
}

static void test_split_stratified(void **state) {
    (void)state;
    int counts[] = {100, 37, 5, 1, 58};
    double frac = 0.2;
    lm_dataset d, tr, va;
    make_dataset(&d, counts, 5);
    assert_int_equal(lm_data_split_stratified(&d, frac, 42, &tr, &va), LM_OK);
    /* Exact per-class counts: round(frac * count) in validation. */
    int expect_val[] = {20, 7, 1, 0, 12};
    int got_val[5] = {0}, got_tr[5] = {0};
    for (int64_t i = 0; i < va.n; i++) got_val[va.y[i]]++;
    for (int64_t i = 0; i < tr.n; i++) got_tr[tr.y[i]]++;
    for (int k = 0; k < 5; k++) {
        assert_int_equal(got_val[k], expect_val[k]);
        assert_int_equal(got_tr[k], counts[k] - expect_val[k]);
    }
    assert_int_equal(tr.n + va.n, d.n);
    /* Disjoint and covering, each in the original order, labels kept with rows. */
    char *seen = calloc((size_t)d.n, 1);
    int64_t prev = -1;
    for (int64_t i = 0; i < tr.n; i++) {
        int64_t id = row_id(tr.X, i);
        assert_true(id > prev);
        prev = id;
        assert_int_equal(tr.y[i], d.y[id]);
        seen[id]++;
    }
    prev = -1;
    for (int64_t i = 0; i < va.n; i++) {
        int64_t id = row_id(va.X, i);
        assert_true(id > prev);
        prev = id;
        assert_int_equal(va.y[i], d.y[id]);
        seen[id]++;
    }
    for (int64_t i = 0; i < d.n; i++) assert_int_equal(seen[i], 1);
    free(seen);

    /* Deterministic for a seed, different for another. */
    lm_dataset tr2, va2;
    assert_int_equal(lm_data_split_stratified(&d, frac, 42, &tr2, &va2), LM_OK);
    assert_int_equal(va2.n, va.n);
    assert_memory_equal(va2.X, va.X, (size_t)va.n * 6 * sizeof(float));
    assert_memory_equal(tr2.X, tr.X, (size_t)tr.n * 6 * sizeof(float));
    lm_dataset_free(&tr2);
    lm_dataset_free(&va2);
    assert_int_equal(lm_data_split_stratified(&d, frac, 43, &tr2, &va2), LM_OK);
    assert_int_equal(va2.n, va.n);
    assert_memory_not_equal(va2.X, va.X, (size_t)va.n * 6 * sizeof(float));
    lm_dataset_free(&tr2);
    lm_dataset_free(&va2);
    lm_dataset_free(&tr);
    lm_dataset_free(&va);

    /* Bad fractions and a split that would empty a side. */
    lm_error_clear();
    assert_int_equal(lm_data_split_stratified(&d, 0.0, 1, &tr, &va), LM_EINVAL);
    assert_int_equal(lm_data_split_stratified(&d, 1.0, 1, &tr, &va), LM_EINVAL);
    lm_dataset_free(&d);
    int tiny[] = {1, 1};
    make_dataset(&d, tiny, 2);
    lm_error_clear();
    assert_int_equal(lm_data_split_stratified(&d, 0.3, 1, &tr, &va), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "validation"));
    lm_error_clear();
    d.y[0] = 5;
    assert_int_equal(lm_data_split_stratified(&d, 0.5, 1, &tr, &va), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "label 5"));
    lm_error_clear();
    lm_dataset_free(&d);
}

static void test_feature_descriptions(void **state) {
    (void)state;
    lm_dataset d, s;
    assert_int_equal(lm_dataset_alloc(&d, 4, 3, 1, 1, 2), LM_OK);
    assert_null(d.feature_kind);
    assert_int_equal(lm_dataset_n_categorical(&d), 0);
    assert_false(lm_dataset_has_missing(&d));
    const char *names[] = {"age", "color", "size"}, *colors[] = {"red", "green"};
    assert_int_equal(lm_dataset_set_feature_names(&d, names), LM_OK);
    assert_int_equal(lm_dataset_set_categorical(&d, 1, 2, colors), LM_OK);
    assert_int_equal(lm_dataset_set_categorical(&d, 2, 5, NULL), LM_OK);
    assert_int_equal(d.feature_kind[0], LM_FEAT_NUMERIC);
    assert_int_equal(d.feature_kind[1], LM_FEAT_CATEGORICAL);
    assert_int_equal(d.n_categories[0], 0);
    assert_int_equal(d.n_categories[2], 5);
    assert_string_equal(d.category_names[1][1], "green");
    assert_null(d.category_names[2]);
    assert_int_equal(lm_dataset_n_categorical(&d), 2);
    d.X[4] = NAN;
    assert_true(lm_dataset_has_missing(&d));
    lm_error_clear();
    assert_int_equal(lm_dataset_set_categorical(&d, 3, 2, NULL), LM_EINVAL);
    assert_int_equal(lm_dataset_set_categorical(&d, 0, 0, NULL), LM_EINVAL);
    assert_int_equal(lm_dataset_set_categorical(&d, 0, LM_DATA_CATEGORIES_MAX + 1, NULL),
                     LM_EINVAL);
    lm_error_clear();

    /* Subsets keep the descriptions (deep copies) and match the schema. */
    int32_t idx[] = {3, 1};
    assert_int_equal(lm_dataset_subset(&d, idx, 2, &s), LM_OK);
    assert_ptr_not_equal(s.feature_names, d.feature_names);
    assert_string_equal(s.feature_names[2], "size");
    assert_string_equal(s.category_names[1][0], "red");
    assert_int_equal(s.n_categories[2], 5);
    assert_int_equal(lm_dataset_check_schema(&d, &s, "subset"), LM_OK);
    /* Each difference is named. */
    s.n_categories[2] = 4;
    assert_int_equal(lm_dataset_check_schema(&d, &s, "subset"), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "subset: feature 3 ('size') has 4 categories"));
    lm_error_clear();
    s.n_categories[2] = 5;
    s.feature_kind[0] = LM_FEAT_CATEGORICAL;
    assert_int_equal(lm_dataset_check_schema(&d, &s, "subset"), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "feature 1 ('age') is categorical, expected numeric"));
    lm_error_clear();
    s.feature_kind[0] = LM_FEAT_NUMERIC;
    free(s.category_names[1][1]);
    s.category_names[1][1] = lm_strdup("blue");
    assert_int_equal(lm_dataset_check_schema(&d, &s, "subset"), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "categories of feature 2 ('color') differ"));
    lm_error_clear();
    lm_dataset_free(&s);

    /* Copying onto another dataset replaces its descriptions. */
    lm_dataset e;
    assert_int_equal(lm_dataset_alloc(&e, 1, 3, 1, 1, 2), LM_OK);
    assert_int_equal(lm_dataset_set_categorical(&e, 0, 3, NULL), LM_OK);
    assert_int_equal(lm_dataset_copy_features(&e, &d), LM_OK);
    assert_int_equal(e.feature_kind[0], LM_FEAT_NUMERIC);
    assert_int_equal(lm_dataset_check_schema(&d, &e, "copy"), LM_OK);
    lm_dataset_free(&e);
    assert_int_equal(lm_dataset_alloc(&e, 1, 2, 1, 1, 2), LM_OK);
    assert_int_equal(lm_dataset_copy_features(&e, &d), LM_EINVAL);
    lm_error_clear();
    lm_dataset_free(&e);
    assert_int_equal(lm_dataset_set_feature_names(&d, NULL), LM_OK);
    assert_null(d.feature_names);
    lm_dataset_free(&d);
}

/* ---- batcher ---- */

/* Runs one epoch, checks batch sizes, that every sample comes exactly once with
 * its label, and records the order in ids. */
static void run_epoch(lm_batcher *b, const lm_dataset *d, int batch, int shuffle, int64_t *ids) {
    lm_batcher_epoch(b, shuffle);
    char *seen = calloc((size_t)d->n, 1);
    int64_t k = 0;
    int m, batches = 0;
    while ((m = lm_batcher_next(b)) > 0) {
        batches++;
        int64_t left = d->n - k;
        assert_int_equal(m, left < batch ? left : batch);
        for (int i = 0; i < m; i++) {
            int64_t id = row_id(b->X, i);
            assert_true(id >= 0 && id < d->n);
            assert_memory_equal(b->X + i * 6, d->X + id * 6, 6 * sizeof(float));
            assert_int_equal(b->y[i], d->y[id]);
            seen[id]++;
            ids[k++] = id;
        }
    }
    assert_int_equal(k, d->n);
    assert_int_equal(batches, (d->n + batch - 1) / batch);
    assert_int_equal(lm_batcher_next(b), 0); /* stays at the end */
    for (int64_t i = 0; i < d->n; i++) assert_int_equal(seen[i], 1);
    free(seen);
}

static void test_batcher(void **state) {
    (void)state;
    int counts[] = {40, 30, 33}; /* 103 samples: batches of 10 leave a partial 3 */
    lm_dataset d;
    make_dataset(&d, counts, 3);
    int64_t e1[103], e2[103], f1[103], f2[103], plain[103];
    lm_batcher b, c;
    assert_int_equal(lm_batcher_init(&b, &d, 10, 7, 3), LM_OK);
    run_epoch(&b, &d, 10, 1, e1);
    run_epoch(&b, &d, 10, 1, e2);
    assert_memory_not_equal(e1, e2, sizeof e1);
    int64_t identity[103];
    for (int i = 0; i < 103; i++) identity[i] = i;
    assert_memory_not_equal(e1, identity, sizeof e1);
    run_epoch(&b, &d, 10, 0, plain);
    assert_memory_equal(plain, identity, sizeof plain);

    /* Same (seed, trial): same orders, epoch by epoch, and unshuffled epochs do not
     * shift later shuffled ones. */
    assert_int_equal(lm_batcher_init(&c, &d, 10, 7, 3), LM_OK);
    run_epoch(&c, &d, 10, 1, f1);
    run_epoch(&c, &d, 10, 1, f2);
    assert_memory_equal(e1, f1, sizeof e1);
    assert_memory_equal(e2, f2, sizeof e2);
    run_epoch(&b, &d, 10, 1, e1);
    run_epoch(&c, &d, 10, 1, f1);
    assert_memory_equal(e1, f1, sizeof e1);
    lm_batcher_fini(&c);

    /* Another trial: another order. */
    assert_int_equal(lm_batcher_init(&c, &d, 10, 7, 4), LM_OK);
    run_epoch(&c, &d, 10, 1, f1);
    assert_memory_not_equal(e1, f1, sizeof e1);
    lm_batcher_fini(&c);

    /* A batch larger than the dataset: one batch of everything. */
    assert_int_equal(lm_batcher_init(&c, &d, 1000, 7, 3), LM_OK);
    run_epoch(&c, &d, 1000, 1, f1);
    lm_batcher_fini(&c);
    lm_batcher_fini(&b);
    lm_batcher_fini(&b); /* fini twice is harmless */

    lm_error_clear();
    assert_int_equal(lm_batcher_init(&c, &d, 0, 7, 3), LM_EINVAL);
    lm_error_clear();
    lm_dataset_free(&d);
}

/* ---- idx ---- */

static void check_idx_dataset(const lm_dataset *d, uint32_t n, uint32_t h, uint32_t w) {
    assert_int_equal(d->n, n);
    assert_int_equal(d->c, 1);
    assert_int_equal(d->h, h);
    assert_int_equal(d->w, w);
    assert_int_equal(d->n_classes, n >= 3 ? 3 : (int)n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(d->y[i], (int)(i % 3));
        for (size_t j = 0; j < (size_t)h * w; j++)
            assert_true(d->X[i * h * w + j] == (float)((i * 7 + j) % 256) / 255.f);
    }
}

static void test_idx_roundtrip(void **state) {
    (void)state;
    unsigned char *img, *lab;
    size_t ni, nl;
    make_idx(50, 5, 7, &img, &ni, &lab, &nl);
    char pi[300], pl[300];
    for (int gz = 0; gz <= 1; gz++) {
        path_in_tmp(pi, sizeof pi, gz ? "img.gz" : "img");
        path_in_tmp(pl, sizeof pl, gz ? "lab.gz" : "lab");
        write_file(pi, img, ni, gz);
        write_file(pl, lab, nl, gz);
        lm_dataset d;
        assert_int_equal(lm_data_import_idx(pi, pl, &d), LM_OK);
        check_idx_dataset(&d, 50, 5, 7);
        lm_dataset_free(&d);
    }
    free(img);
    free(lab);
}

/* Imports and expects failure code err with needle in the message. */
static void expect_idx_error(const char *pi, const char *pl, int err, const char *needle) {
    lm_dataset d;
    lm_error_clear();
    int rc = lm_data_import_idx(pi, pl, &d);
    if (rc != err || !strstr(lm_error_message(), needle))
        fail_msg("expected %d with '%s', got %d: %s", err, needle, rc, lm_error_message());
    assert_null(d.X);
    lm_error_clear();
}

static void test_idx_errors(void **state) {
    (void)state;
    unsigned char *img, *lab;
    size_t ni, nl;
    make_idx(20, 4, 4, &img, &ni, &lab, &nl);
    char pi[300], pl[300], bad[300];
    path_in_tmp(pi, sizeof pi, "e_img.gz");
    path_in_tmp(pl, sizeof pl, "e_lab.gz");
    path_in_tmp(bad, sizeof bad, "e_bad");
    write_file(pi, img, ni, 1);
    write_file(pl, lab, nl, 1);

    char missing[300];
    path_in_tmp(missing, sizeof missing, "nope.gz");
    expect_idx_error(missing, pl, LM_ENOENT, missing);

    /* Bad magic: labels given as images and the other way round. */
    expect_idx_error(pl, pi, LM_EDATA, "magic number 0x00000801");
    expect_idx_error(pi, pi, LM_EDATA, "magic number 0x00000803");

    /* Truncated images, plain and gzipped: the byte where data stopped. */
    write_file(bad, img, ni - 5, 0);
    char needle[64];
    snprintf(needle, sizeof needle, "truncated at byte %zu", ni - 5);
    expect_idx_error(bad, pl, LM_EDATA, needle);
    write_file(bad, img, ni - 5, 1);
    expect_idx_error(bad, pl, LM_EDATA, needle);
    write_file(bad, img, 10, 0);
    expect_idx_error(bad, pl, LM_EDATA, "truncated at byte 10");

    /* A truncated gzip stream (cut compressed bytes). */
    {
        FILE *f = fopen(pi, "rb");
        unsigned char buf[4096];
        size_t k = fread(buf, 1, sizeof buf, f);
        fclose(f);
        write_file(bad, buf, k / 2, 0);
        expect_idx_error(bad, pl, LM_EDATA, bad);
    }

    /* Count mismatch between images and labels. */
    put_be32(lab + 4, 19);
    write_file(bad, lab, nl - 1, 0);
    expect_idx_error(pi, bad, LM_EDATA, "20 images but");
    put_be32(lab + 4, 20);

    /* Trailing data. */
    write_file(bad, lab, nl, 0);
    {
        unsigned char *more = malloc(nl + 3);
        memcpy(more, lab, nl);
        memset(more + nl, 1, 3);
        write_file(bad, more, nl + 3, 0);
        free(more);
    }
    expect_idx_error(pi, bad, LM_EDATA, "unexpected data after byte 28");

    /* Absurd dimensions are refused before anything is allocated. */
    put_be32(img + 8, 5000);
    write_file(bad, img, ni, 0);
    expect_idx_error(bad, pl, LM_EDATA, "dimension of 5000");
    put_be32(img + 8, 4);
    put_be32(img + 4, 0);
    write_file(bad, img, ni, 0);
    expect_idx_error(bad, pl, LM_EDATA, "claims 0 items");
    /* A huge count with a short file is truncation, not a huge allocation. */
    put_be32(img + 4, 100000000);
    put_be32(lab + 4, 100000000);
    write_file(bad, img, ni, 0);
    char bad2[300];
    path_in_tmp(bad2, sizeof bad2, "e_bad2");
    write_file(bad2, lab, nl, 0);
    expect_idx_error(bad, bad2, LM_EDATA, "truncated at byte 28");

    /* Random bytes. */
    {
        unsigned char junk[1000];
        for (int i = 0; i < 1000; i++) junk[i] = (unsigned char)(i * 131 + 17);
        write_file(bad, junk, sizeof junk, 0);
        expect_idx_error(bad, pl, LM_EDATA, "magic");
        write_file(bad, junk, 0, 0);
        expect_idx_error(bad, pl, LM_EDATA, "truncated at byte 0");
    }
    free(img);
    free(lab);
}

static void test_idx_fashion_mnist(void **state) {
    (void)state;
    const char *pi = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *pl = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (access(pi, R_OK) != 0 || access(pl, R_OK) != 0) skip();
    lm_dataset d;
    assert_int_equal(lm_data_import_idx(pi, pl, &d), LM_OK);
    assert_int_equal(d.n, 10000);
    assert_int_equal(d.c, 1);
    assert_int_equal(d.h, 28);
    assert_int_equal(d.w, 28);
    assert_int_equal(d.n_classes, 10);
    int per_class[10] = {0};
    for (int64_t i = 0; i < d.n; i++) {
        assert_true(d.y[i] >= 0 && d.y[i] < 10);
        per_class[d.y[i]]++;
    }
    for (int k = 0; k < 10; k++) assert_int_equal(per_class[k], 1000); /* balanced test set */
    float lo = 1, hi = 0;
    double sum = 0;
    for (int64_t i = 0; i < d.n * 784; i++) {
        if (d.X[i] < lo) lo = d.X[i];
        if (d.X[i] > hi) hi = d.X[i];
        sum += d.X[i];
    }
    assert_true(lo == 0.f && hi == 1.f);
    double mean = sum / (double)(d.n * 784);
    assert_true(mean > 0.2 && mean < 0.4); /* Fashion-MNIST's mean pixel is about 0.286 */
    lm_dataset_free(&d);
}

/* ---- digits ---- */

static void write_text(const char *path, const char *text, int gz) {
    write_file(path, text, strlen(text), gz);
}

/* A digits-format row: 64 pixels derived from r, then label. */
static void digits_row(char *buf, size_t cap, int r, int label) {
    size_t k = 0;
    for (int j = 0; j < 64; j++) k += (size_t)snprintf(buf + k, cap - k, "%d,", (r + j) % 17);
    snprintf(buf + k, cap - k, "%d\n", label);
}

static void test_digits(void **state) {
    (void)state;
    char text[8192] = "", row[512], path[300];
    for (int r = 0; r < 12; r++) {
        digits_row(row, sizeof row, r, r % 10);
        strcat(text, row);
    }
    for (int gz = 0; gz <= 1; gz++) {
        path_in_tmp(path, sizeof path, gz ? "digits.csv.gz" : "digits.csv");
        write_text(path, text, gz);
        lm_dataset d;
        assert_int_equal(lm_data_import_digits(path, &d), LM_OK);
        assert_int_equal(d.n, 12);
        assert_int_equal(d.c, 1);
        assert_int_equal(d.h, 8);
        assert_int_equal(d.w, 8);
        assert_int_equal(d.n_classes, 10);
        assert_string_equal(d.class_names[7], "7");
        for (int r = 0; r < 12; r++) {
            assert_int_equal(d.y[r], r % 10);
            for (int j = 0; j < 64; j++)
                assert_float_equal(d.X[r * 64 + j], (float)((r + j) % 17) / 16.f, 1e-7);
        }
        lm_dataset_free(&d);
    }
    /* CRLF line ends and no final newline are accepted. */
    digits_row(row, sizeof row, 3, 4);
    row[strlen(row) - 1] = 0;
    snprintf(text, sizeof text, "%s\r\n%s", row, row);
    write_text(path, text, 0);
    lm_dataset d;
    assert_int_equal(lm_data_import_digits(path, &d), LM_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.y[1], 4);
    lm_dataset_free(&d);
}

static void expect_digits_error(const char *text, int err, const char *needle) {
    char path[300];
    path_in_tmp(path, sizeof path, "bad_digits.csv");
    write_text(path, text, 0);
    lm_dataset d;
    lm_error_clear();
    int rc = lm_data_import_digits(path, &d);
    if (rc != err || !strstr(lm_error_message(), needle))
        fail_msg("expected %d with '%s', got %d: %s", err, needle, rc, lm_error_message());
    assert_null(d.X);
    lm_error_clear();
}

static void test_digits_errors(void **state) {
    (void)state;
    char good[512], text[4096], path[300];
    digits_row(good, sizeof good, 0, 1);
    /* Wrong column count on line 2. */
    snprintf(text, sizeof text, "%s1,2,3\n", good);
    expect_digits_error(text, LM_EDATA, "bad_digits.csv:2: expected 65");
    /* Not a number on line 3, column 5. */
    char row[512];
    strcpy(row, good);
    memcpy(strchr(strchr(strchr(strchr(row, ',') + 1, ',') + 1, ',') + 1, ',') + 1, "x", 1);
    snprintf(text, sizeof text, "%s%s%s", good, good, row);
    expect_digits_error(text, LM_EDATA, "bad_digits.csv:3: column 5: 'x' is not a number");
    /* Pixel and label out of range. */
    digits_row(row, sizeof row, 10, 1); /* starts "10," */
    row[0] = '9';
    row[1] = '9';
    expect_digits_error(row, LM_EDATA, ":1: column 1: pixel value 99");
    digits_row(row, sizeof row, 0, 10);
    expect_digits_error(row, LM_EDATA, ":1: column 65: label 10");
    digits_row(row, sizeof row, 0, 1);
    strcpy(strrchr(row, ',') + 1, "2.5\n");
    expect_digits_error(row, LM_EDATA, "label 2.5");
    /* Empty file, over-long line, missing file. */
    expect_digits_error("", LM_EDATA, "no samples");
    expect_digits_error("\n\n", LM_EDATA, "no samples");
    char *longline = malloc(10000);
    memset(longline, '1', 9998);
    longline[9998] = '\n';
    longline[9999] = 0;
    expect_digits_error(longline, LM_EDATA, ":1: line longer than");
    free(longline);
    path_in_tmp(path, sizeof path, "missing.csv");
    lm_dataset d;
    lm_error_clear();
    assert_int_equal(lm_data_import_digits(path, &d), LM_ENOENT);
    assert_non_null(strstr(lm_error_message(), path));
    lm_error_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alloc_and_names),
        cmocka_unit_test(test_subset),
        cmocka_unit_test(test_split_stratified),
        cmocka_unit_test(test_feature_descriptions),
        cmocka_unit_test(test_batcher),
        cmocka_unit_test(test_idx_roundtrip),
        cmocka_unit_test(test_idx_errors),
        cmocka_unit_test(test_idx_fashion_mnist),
        cmocka_unit_test(test_digits),
        cmocka_unit_test(test_digits_errors),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
