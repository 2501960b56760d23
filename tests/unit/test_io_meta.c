/* Meta-dataset files: round trip of a small file written pair by pair, continuing a
 * generation in a reopened file, merging parts (disjoint, overlapping, conflicting,
 * mismatched), and bad files refused with messages naming the file and the object. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "io/h5util.h"
#include "lamarck/error.h"
#include "lamarck/meta.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { D = 2, K = 3, E = 4, G = 2, L = 3 };

static char tmpdir[256];
static char *names[D] = {"digits", "wine"};
static double desc[D * LM_META_N_DESC] = {1000, 200, 64, 10, 1, 0.11, 100, 30, 13, 3, 0, 0.4};
static int32_t genome[K * G] = {1, 2, 3, 4, 5, 6};
static float encoding[K * L] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f};
static int64_t params[K] = {100, 2000, 30000};
static double flops[K] = {1e3, 2e4, 3e5};

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lamarck_test_meta_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_of(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static lm_meta header(int n_archs) {
    lm_meta h;
    memset(&h, 0, sizeof h);
    h.n_datasets = D;
    h.n_archs = n_archs;
    h.epochs = E;
    h.genome_len = G;
    h.encoding_len = L;
    h.dataset_names = names;
    h.descriptors = desc;
    h.genome = genome;
    h.encoding = encoding;
    h.params = params;
    h.flops = flops;
    h.space = "cell space: 2 blocks, 5 ops";
    return h;
}

/* The known curves of pair (d, k): value of metric m at epoch e, with a tag that makes
 * parts distinguishable. */
static float value(int d, int k, int m, int e, float tag) {
    return (float)(100 * d + 10 * k + m) + 0.125f * (float)e + tag;
}

static void fill(float *c, int d, int k, float tag) {
    for (int m = 0; m < LM_META_N_METRICS; m++)
        for (int e = 0; e < E; e++) c[m * E + e] = value(d, k, m, e, tag);
}

static void must(int rc) {
    if (rc < 0) {
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", lm_error_message());
        lm_error_clear();
        fail_msg("%s", copy);
    }
}

/* Creates path with the given pairs done (tagged values). */
static void make_part(const char *path, int n_pairs, const int *pairs, float tag) {
    lm_meta h = header(K);
    lm_meta_file *f = NULL;
    must(lm_meta_create(path, &h, &f));
    float c[LM_META_N_METRICS * E];
    for (int i = 0; i < n_pairs; i++) {
        fill(c, pairs[2 * i], pairs[2 * i + 1], tag);
        must(lm_meta_write_pair(f, pairs[2 * i], pairs[2 * i + 1], c, 1));
    }
    must(lm_meta_close(&f));
    assert_null(f);
}

static void expect_error(int rc, int code, const char *a, const char *b) {
    assert_int_equal(rc, code);
    const char *msg = lm_error_message();
    char copy[1024];
    snprintf(copy, sizeof copy, "%s", msg);
    lm_error_clear();
    if (!strstr(copy, a) || (b && !strstr(copy, b)))
        fail_msg("message '%s' lacks '%s' / '%s'", copy, a, b ? b : "");
}

static void test_round_trip(void **state) {
    (void)state;
    long ids = lm__h5_open_ids();
    char path[300];
    path_of(path, sizeof path, "a.h5");
    lm_meta h = header(K);
    lm_meta_file *f = NULL;
    must(lm_meta_create(path, &h, &f));
    const lm_meta *fh = lm_meta_file_header(f);
    assert_int_equal(fh->n_archs, K);
    assert_int_equal(fh->done[0], 0);
    float c[LM_META_N_METRICS * E];
    fill(c, 1, 2, 0);
    c[LM_META_VAL_ACCURACY * E + 3] = NAN; /* a missing epoch stays missing */
    must(lm_meta_write_pair(f, 1, 2, c, 1));
    fill(c, 0, 0, 0);
    must(lm_meta_write_pair(f, 0, 0, c, 0)); /* partial: values, not done */
    assert_int_equal(fh->done[1 * K + 2], 1);
    expect_error(lm_meta_write_pair(f, 2, 0, c, 1), LM_EINVAL, "outside", NULL);
    must(lm_meta_close(&f));
    expect_error(lm_meta_create(path, &h, &f), LM_EEXIST, path, "already exists");
    assert_null(f);

    lm_meta m;
    must(lm_meta_read(path, &m));
    assert_int_equal(m.n_datasets, D);
    assert_int_equal(m.n_archs, K);
    assert_int_equal(m.epochs, E);
    assert_int_equal(m.genome_len, G);
    assert_int_equal(m.encoding_len, L);
    assert_string_equal(m.dataset_names[1], "wine");
    assert_int_equal(lm_meta_find_dataset(&m, "wine"), 1);
    assert_int_equal(lm_meta_find_dataset(&m, "iris"), -1);
    assert_memory_equal(m.descriptors, desc, sizeof desc);
    assert_memory_equal(m.genome, genome, sizeof genome);
    assert_memory_equal(m.encoding, encoding, sizeof encoding);
    assert_memory_equal(m.params, params, sizeof params);
    assert_memory_equal(m.flops, flops, sizeof flops);
    assert_string_equal(m.space, "cell space: 2 blocks, 5 ops");
    uint8_t want_done[D * K] = {0, 0, 0, 0, 0, 1};
    assert_memory_equal(m.done, want_done, sizeof want_done);
    for (int metric = 0; metric < LM_META_N_METRICS; metric++)
        for (int e = 0; e < E; e++) {
            float v = m.curves[metric][lm_meta_index(&m, 1, 2, e)];
            if (metric == LM_META_VAL_ACCURACY && e == 3)
                assert_true(isnan(v));
            else
                assert_true(v == value(1, 2, metric, e, 0));
            assert_true(m.curves[metric][lm_meta_index(&m, 0, 0, e)] == value(0, 0, metric, e, 0));
            assert_true(isnan(m.curves[metric][lm_meta_index(&m, 1, 1, e)]));
        }
    lm_meta_free(&m);
    assert_null(m.done);
    assert_int_equal(lm__h5_open_ids(), ids);
}

/* A generation continues in the reopened file: what was written stays, new pairs add. */
static void test_reopen(void **state) {
    (void)state;
    char path[300];
    path_of(path, sizeof path, "b.h5");
    int first[2] = {0, 1};
    make_part(path, 1, first, 0);
    lm_meta_file *f = NULL;
    must(lm_meta_open(path, 0, &f));
    float c[LM_META_N_METRICS * E];
    fill(c, 1, 0, 0);
    expect_error(lm_meta_write_pair(f, 1, 0, c, 1), LM_EINVAL, "read-only", NULL);
    must(lm_meta_close(&f));
    must(lm_meta_open(path, 1, &f));
    assert_int_equal(lm_meta_file_header(f)->done[0 * K + 1], 1);
    assert_int_equal(lm_meta_file_header(f)->done[1 * K + 0], 0);
    must(lm_meta_write_pair(f, 1, 0, c, 1));
    must(lm_meta_close(&f));
    lm_meta m;
    must(lm_meta_read(path, &m));
    assert_int_equal(m.done[0 * K + 1] + m.done[1 * K + 0], 2);
    assert_true(m.curves[LM_META_SECONDS][lm_meta_index(&m, 0, 1, 2)] ==
                value(0, 1, LM_META_SECONDS, 2, 0));
    assert_true(m.curves[LM_META_TRAIN_LOSS][lm_meta_index(&m, 1, 0, 3)] ==
                value(1, 0, LM_META_TRAIN_LOSS, 3, 0));
    lm_meta_free(&m);
}

static void test_merge(void **state) {
    (void)state;
    char p1[300], p2[300], p3[300], out[300];
    path_of(p1, sizeof p1, "part1.h5");
    path_of(p2, sizeof p2, "part2.h5");
    path_of(p3, sizeof p3, "part3.h5");
    path_of(out, sizeof out, "merged.h5");
    /* Part 1: (0,0), (0,1); part 2: (0,1) again, identical, and (1,2); part 3 has
     * (0,1) with other values. */
    int a[4] = {0, 0, 0, 1}, b[4] = {0, 1, 1, 2}, c[2] = {0, 1};
    make_part(p1, 2, a, 0);
    make_part(p2, 2, b, 0);
    make_part(p3, 1, c, 0.5f);
    const char *in[3] = {p1, p2, p3};
    must(lm_meta_merge(in, 2, out));
    lm_meta m;
    must(lm_meta_read(out, &m));
    uint8_t want_done[D * K] = {1, 1, 0, 0, 0, 1};
    assert_memory_equal(m.done, want_done, sizeof want_done);
    for (int p = 0; p < 3; p++) {
        int d = p == 2 ? 1 : 0, k = p == 2 ? 2 : p;
        for (int e = 0; e < E; e++)
            assert_true(m.curves[LM_META_VAL_LOSS][lm_meta_index(&m, d, k, e)] ==
                        value(d, k, LM_META_VAL_LOSS, e, 0));
    }
    assert_true(isnan(m.curves[LM_META_VAL_LOSS][lm_meta_index(&m, 1, 0, 0)]));
    lm_meta_free(&m);

    /* A pair done twice with different curves names the pair and both parts. */
    const char *conflict[2] = {p1, p3};
    expect_error(lm_meta_merge(conflict, 2, out), LM_EDATA,
                 "pair (dataset 'digits', architecture 1)", p3);
    /* The output was not replaced by a failed merge. */
    must(lm_meta_read(out, &m));
    assert_int_equal(m.done[5], 1);
    lm_meta_free(&m);
    expect_error(lm_meta_merge(in, 2, p1), LM_EINVAL, "both a part and the output", NULL);
}

static void test_merge_mismatch(void **state) {
    (void)state;
    char p1[300], p2[300], out[300];
    path_of(p1, sizeof p1, "m1.h5");
    path_of(p2, sizeof p2, "m2.h5");
    path_of(out, sizeof out, "m_out.h5");
    make_part(p1, 0, NULL, 0);
    lm_meta h = header(K - 1);
    lm_meta_file *f = NULL;
    must(lm_meta_create(p2, &h, &f));
    must(lm_meta_close(&f));
    const char *in[2] = {p1, p2};
    expect_error(lm_meta_merge(in, 2, out), LM_EDATA, p2, "2 architectures");
    unlink(p2);
    h = header(K);
    h.params = (int64_t[K]){100, 2000, 30001};
    must(lm_meta_create(p2, &h, &f));
    must(lm_meta_close(&f));
    expect_error(lm_meta_merge(in, 2, out), LM_EDATA, p2, "/architectures/params");
    unlink(p2);
    h = header(K);
    h.dataset_names = (char *[D]){"digits", "iris"};
    must(lm_meta_create(p2, &h, &f));
    must(lm_meta_close(&f));
    expect_error(lm_meta_merge(in, 2, out), LM_EDATA, "'iris'", "'wine'");
    assert_int_equal(access(out, F_OK), -1);
}

static void test_bad_headers(void **state) {
    (void)state;
    char path[300];
    path_of(path, sizeof path, "bad_header.h5");
    lm_meta h = header(K);
    lm_meta_file *f = NULL;
    h.epochs = 0;
    expect_error(lm_meta_create(path, &h, &f), LM_EINVAL, "0 epochs", NULL);
    h = header(K);
    h.dataset_names = (char *[D]){"digits", "digits"};
    expect_error(lm_meta_create(path, &h, &f), LM_EINVAL, "both called 'digits'", NULL);
    h = header(K);
    h.params = NULL;
    expect_error(lm_meta_create(path, &h, &f), LM_EINVAL, "lacks", NULL);
    assert_int_equal(access(path, F_OK), -1);
}

/* Opens path for writing with HDF5 itself, to damage it. */
static hid_t raw_open(const char *path) {
    hid_t id = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(id >= 0);
    return id;
}

static void test_bad_files(void **state) {
    (void)state;
    long ids = lm__h5_open_ids();
    char path[300];
    lm_meta m;
    path_of(path, sizeof path, "missing.h5");
    expect_error(lm_meta_read(path, &m), LM_ENOENT, path, NULL);

    /* A file of another kind. */
    path_of(path, sizeof path, "other.h5");
    lm__h5 w;
    must(lm__h5_create(&w, path));
    must(lm__h5_set_format(&w, "lamarck-results"));
    must(lm__h5_commit(&w));
    expect_error(lm_meta_read(path, &m), LM_EDATA, path, "not a lamarck-meta file");

    /* A newer format version. */
    path_of(path, sizeof path, "version.h5");
    make_part(path, 0, NULL, 0);
    hid_t id = raw_open(path);
    lm__h5 raw = {.id = id, .bad = LM_EH5};
    snprintf(raw.path, sizeof raw.path, "%s", path);
    must(lm__h5_attr_i64(&raw, id, "version", 2));
    H5Fclose(id);
    expect_error(lm_meta_read(path, &m), LM_EDATA, path, "format version 2");

    /* A curve of the wrong shape. */
    path_of(path, sizeof path, "shape.h5");
    make_part(path, 0, NULL, 0);
    id = raw_open(path);
    raw.id = id;
    snprintf(raw.path, sizeof raw.path, "%s", path);
    hid_t g = H5Gopen2(id, "curves", H5P_DEFAULT);
    assert_int_equal(H5Ldelete(g, "seconds", H5P_DEFAULT), 0);
    hsize_t dims[3] = {D, K, E - 1};
    float zeros[D * K * (E - 1)] = {0};
    must(lm__h5_write_f32_nd(&raw, g, "seconds", 3, dims, zeros, 1));
    H5Gclose(g);
    H5Fclose(id);
    expect_error(lm_meta_read(path, &m), LM_EDATA, "/curves/seconds", "2 x 3 x 3, 2 x 3 x 4 expected");
    expect_error(lm_meta_open(path, 1, &(lm_meta_file *){NULL}), LM_EDATA, path, "/curves/seconds");

    /* Genomes for fewer architectures than params. */
    path_of(path, sizeof path, "genome.h5");
    make_part(path, 0, NULL, 0);
    id = raw_open(path);
    raw.id = id;
    snprintf(raw.path, sizeof raw.path, "%s", path);
    g = H5Gopen2(id, "architectures", H5P_DEFAULT);
    assert_int_equal(H5Ldelete(g, "genome", H5P_DEFAULT), 0);
    int32_t gv[2] = {1, 2};
    must(lm__h5_write_1d(&raw, g, "genome", LM_DT_I32, 2, gv, NULL));
    H5Gclose(g);
    H5Fclose(id);
    expect_error(lm_meta_read(path, &m), LM_EDATA, path, "/architectures/genome: has rank 1");

    /* A done flag that is not 0 or 1. */
    path_of(path, sizeof path, "done.h5");
    make_part(path, 0, NULL, 0);
    id = raw_open(path);
    hid_t dd = H5Dopen2(id, "done", H5P_DEFAULT);
    uint8_t v[D * K] = {0, 0, 7, 0, 0, 0};
    assert_true(H5Dwrite(dd, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(dd);
    H5Fclose(id);
    expect_error(lm_meta_read(path, &m), LM_EDATA, "/done", "entry (0, 2) is 7");
    assert_null(m.done);
    assert_int_equal(lm__h5_open_ids(), ids);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_merge),          cmocka_unit_test(test_merge_mismatch),
        cmocka_unit_test(test_bad_headers),    cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
