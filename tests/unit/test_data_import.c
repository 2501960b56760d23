/* The CSV, scikit-learn CSV and ARFF importers: hand-made files (fixtures in
 * tests/unit/data), every malformed case with file:line in the message, and the
 * real files of the Debian packages python3-sklearn and weka (each skipped only
 * when absent; jobs/setup.sh extracts them into .deps/). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, access, rmdir */
#include "lamarck/data.h"
#include "lamarck/error.h"

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

static char tmpdir[256];

static int setup_tmp(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/lamarck_test_import_XXXXXX");
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

/* The source tree: $LAMARCK_SOURCE_DIR (set by ctest), else from this file's path. */
static void source_dir(char *buf, size_t cap) {
    const char *env = getenv("LAMARCK_SOURCE_DIR");
    if (env && *env) {
        snprintf(buf, cap, "%s", env);
        return;
    }
    snprintf(buf, cap, "%s", __FILE__);
    char *p = strstr(buf, "/tests/unit/");
    if (p) *p = 0;
}

static void fixture(char *buf, size_t cap, const char *name) {
    char src[512];
    source_dir(src, sizeof src);
    snprintf(buf, cap, "%s/tests/unit/data/%s", src, name);
}

/* Writes text (n bytes) to tmpdir/name, gzip-compressed when gz; returns the path. */
static const char *write_bytes(const char *name, const char *text, size_t n, int gz) {
    static char path[400];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        assert_non_null(f);
        if (n) assert_int_equal(gzwrite(f, text, (unsigned)n), (int)n);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        if (n) assert_int_equal(fwrite(text, 1, n, f), n);
        fclose(f);
    }
    return path;
}

static const char *write_text(const char *name, const char *text) {
    return write_bytes(name, text, strlen(text), 0);
}

typedef int (*importer)(const char *path, const char *target, lm_dataset *out);

static int import_sklearn(const char *path, const char *target, lm_dataset *out) {
    (void)target;
    return lm_data_import_sklearn_csv(path, out);
}

/* Imports text written to tmpdir/name and expects err with every needle (NULL
 * ends the list) in the message, and nothing allocated. */
static void expect_error(importer imp, const char *name, const char *text, const char *target,
                         int err, ...) {
    const char *path = write_text(name, text);
    lm_dataset d;
    lm_error_clear();
    int rc = imp(path, target, &d);
    const char *msg = lm_error_message();
    if (rc != err) fail_msg("%s: expected %d, got %d: %s", name, err, rc, msg);
    va_list ap;
    va_start(ap, err);
    for (const char *needle; (needle = va_arg(ap, const char *)) != NULL;)
        if (!strstr(msg, needle)) fail_msg("%s: message lacks '%s': %s", name, needle, msg);
    va_end(ap);
    assert_null(d.X);
    assert_null(d.feature_kind);
    lm_error_clear();
}

static float at(const lm_dataset *d, int64_t i, int64_t j) {
    return d->X[i * lm_dataset_features(d) + j];
}

/* Compares a row with expected values, NAN meaning missing. */
static void assert_row(const lm_dataset *d, int64_t i, const float *want) {
    for (int64_t j = 0; j < lm_dataset_features(d); j++) {
        float v = at(d, i, j);
        if (isnan(want[j])) {
            if (!isnan(v)) fail_msg("row %lld feature %lld: %g, expected missing", (long long)i,
                                    (long long)j, (double)v);
        } else if (v != want[j]) {
            fail_msg("row %lld feature %lld: %g, expected %g", (long long)i, (long long)j,
                     (double)v, (double)want[j]);
        }
    }
}

/* ---- CSV ---- */

static void check_mixed_csv(const lm_dataset *d) {
    assert_int_equal(d->n, 5);
    assert_int_equal(d->c, 4);
    assert_int_equal(d->h, 1);
    assert_int_equal(d->w, 1);
    assert_string_equal(d->name, "mixed");
    const char *features[] = {"id", "color, shade", "size", "weight"};
    for (int j = 0; j < 4; j++) assert_string_equal(d->feature_names[j], features[j]);
    const uint8_t kinds[] = {LM_FEAT_NUMERIC, LM_FEAT_CATEGORICAL, LM_FEAT_CATEGORICAL,
                             LM_FEAT_NUMERIC};
    assert_memory_equal(d->feature_kind, kinds, 4);
    assert_int_equal(d->n_categories[0], 0);
    assert_int_equal(d->n_categories[1], 3);
    assert_int_equal(d->n_categories[2], 3);
    assert_null(d->category_names[0]);
    /* Categories sorted by bytes; the quoted one keeps its comma and quote. */
    assert_string_equal(d->category_names[1][0], "blue, dark");
    assert_string_equal(d->category_names[1][1], "red");
    assert_string_equal(d->category_names[1][2], "say \"hi\"");
    assert_string_equal(d->category_names[2][0], "L");
    assert_string_equal(d->category_names[2][2], "S");
    assert_int_equal(d->n_classes, 3);
    assert_string_equal(d->class_names[0], "maybe");
    assert_string_equal(d->class_names[1], "no");
    assert_string_equal(d->class_names[2], "yes");
    const int32_t y[] = {2, 1, 2, 1, 0};
    assert_memory_equal(d->y, y, sizeof y);
    const float rows[5][4] = {{1, 1, 2, 1.5f},
                              {2, 0, 1, NAN},
                              {3, 1, NAN, 2.5f},
                              {4, NAN, 0, 3},
                              {5, 2, 2, 4}};
    for (int i = 0; i < 5; i++) assert_row(d, i, rows[i]);
    assert_int_equal(lm_dataset_n_categorical(d), 2);
    assert_true(lm_dataset_has_missing(d));
}

static void test_csv_mixed(void **state) {
    (void)state;
    char path[600];
    fixture(path, sizeof path, "mixed.csv");
    lm_dataset d;
    assert_int_equal(lm_data_import_csv(path, "label", &d), LM_OK);
    check_mixed_csv(&d);

    /* The same file gzip-compressed, with a byte-order mark. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char text[1024] = "\xEF\xBB\xBF";
    size_t n = fread(text + 3, 1, sizeof text - 4, f) + 3;
    fclose(f);
    const char *gz = write_bytes("mixed.csv.gz", text, n, 1);
    lm_dataset g;
    assert_int_equal(lm_data_import_csv(gz, "label", &g), LM_OK);
    check_mixed_csv(&g);
    lm_dataset_free(&g);
    lm_dataset_free(&d);
}

static void test_csv_target_and_kinds(void **state) {
    (void)state;
    /* Numeric labels sort as numbers; a column with one word is categorical; a
     * column of numbers and missing values stays numeric; the target may come first;
     * a quoted NA is a value, not a missing one. */
    const char *path = write_text("kinds.csv", "y,a,b,c\n10,1,x,\"NA\"\n2,?,3,u\n1,NA,4,v\n"
                                               "2,4,5,u\n");
    lm_dataset d;
    assert_int_equal(lm_data_import_csv(path, "y", &d), LM_OK);
    assert_int_equal(d.n_classes, 3);
    assert_string_equal(d.class_names[0], "1");
    assert_string_equal(d.class_names[1], "2");
    assert_string_equal(d.class_names[2], "10");
    const int32_t y[] = {2, 1, 0, 1};
    assert_memory_equal(d.y, y, sizeof y);
    assert_int_equal(d.feature_kind[0], LM_FEAT_NUMERIC);
    assert_int_equal(d.feature_kind[1], LM_FEAT_CATEGORICAL);
    assert_int_equal(d.n_categories[1], 4); /* 3, 4, 5, x */
    assert_string_equal(d.category_names[1][3], "x");
    assert_int_equal(d.feature_kind[2], LM_FEAT_CATEGORICAL);
    assert_string_equal(d.category_names[2][0], "NA");
    const float r1[] = {NAN, 0, 1};
    assert_row(&d, 1, r1);
    lm_dataset_free(&d);
}

static void test_csv_errors(void **state) {
    (void)state;
    importer csv = lm_data_import_csv;
    expect_error(csv, "e1.csv", "", "y", LM_EDATA, "e1.csv", "empty file", NULL);
    expect_error(csv, "e2.csv", "a,,y\n1,2,3\n", "y", LM_EDATA, "e2.csv:1: field 2",
                 "empty column name", NULL);
    expect_error(csv, "e3.csv", "a,y,a\n1,2,3\n", "y", LM_EDATA, "e3.csv:1: field 3",
                 "'a' already names field 1", NULL);
    expect_error(csv, "e4.csv", "a,class\n1,2\n", "clas", LM_EDATA, "e4.csv:1:",
                 "no column named 'clas'", "did you mean 'class'", NULL);
    expect_error(csv, "e5.csv", "a,b,y\n1,2,3\n1,2\n", "y", LM_EDATA, "e5.csv:3:",
                 "2 fields, expected 3", NULL);
    expect_error(csv, "e6.csv", "a,b,y\n1,2,3\n1,2,3,4\n", "y", LM_EDATA, "e6.csv:3:",
                 "4 fields, expected 3", NULL);
    expect_error(csv, "e7.csv", "a,y\n\"abc,1\n", "y", LM_EDATA, "e7.csv:2: field 1",
                 "not closed", NULL);
    expect_error(csv, "e8.csv", "a,y\n\"ab\"c,1\n", "y", LM_EDATA, "e8.csv:2: field 1",
                 "after the closing quote", NULL);
    expect_error(csv, "e9.csv", "a,y\n1,2\n3,?\n", "y", LM_EDATA, "e9.csv:3: field 2",
                 "target 'y' is missing", NULL);
    expect_error(csv, "e10.csv", "a,y\n\n", "y", LM_EDATA, "e10.csv", "no data rows", NULL);
    expect_error(csv, "e11.csv", "a\n1\n", "a", LM_EDATA, "e11.csv:1:", "at least a feature",
                 NULL);
    expect_error(csv, "e12.csv", "a,y\n1e39,1\n", "y", LM_EDATA, "e12.csv:2: field 1",
                 "too large for a float", NULL);

    /* Too many distinct values in a categorical column. */
    size_t cap = 2000 * 16;
    char *text = malloc(cap);
    size_t k = (size_t)snprintf(text, cap, "id,y\n");
    for (int i = 0; i < 1100; i++) k += (size_t)snprintf(text + k, cap - k, "v%d,a\n", i);
    expect_error(csv, "e13.csv", text, "y", LM_EDATA, "e13.csv:1026: field 1",
                 "more than 1024 distinct values", NULL);
    free(text);

    /* A line over the bound, and a NUL byte. */
    size_t big = (1u << 20) + 100;
    text = malloc(big + 1);
    memcpy(text, "a,y\n", 4);
    memset(text + 4, '7', big - 4);
    text[big] = 0;
    expect_error(csv, "e14.csv", text, "y", LM_EDATA, "e14.csv:2: line longer than", NULL);
    free(text);
    const char *path = write_bytes("e15.csv", "a,y\n1,\0002\n", 10, 0);
    lm_dataset d;
    assert_int_equal(lm_data_import_csv(path, "y", &d), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "e15.csv:2: NUL byte"));
    lm_error_clear();

    /* A missing file; a truncated compressed file. */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/none.csv", tmpdir);
    assert_int_equal(lm_data_import_csv(missing, "y", &d), LM_ENOENT);
    assert_non_null(strstr(lm_error_message(), missing));
    lm_error_clear();
    char rows[8000];
    k = (size_t)snprintf(rows, sizeof rows, "a,y\n");
    for (int i = 0; i < 500; i++) k += (size_t)snprintf(rows + k, sizeof rows - k, "%d,%d\n", i * 7919 % 1000, i % 3);
    path = write_bytes("e16.csv.gz", rows, k, 1);
    FILE *f = fopen(path, "rb");
    unsigned char buf[8000];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    path = write_bytes("e16.csv.gz", (const char *)buf, n / 2, 0);
    assert_int_equal(lm_data_import_csv(path, "y", &d), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "e16.csv.gz:"));
    assert_non_null(strstr(lm_error_message(), "truncated"));
    assert_null(d.X);
    lm_error_clear();
}

/* ---- scikit-learn CSV ---- */

static void test_sklearn_csv(void **state) {
    (void)state;
    const char *path = write_text("tiny_iris.csv", "3,2,setosa,versicolor\n"
                                                   "5.1,3.5,0\n4.9,3.0,1\n6.2,2.9,1\n");
    lm_dataset d;
    assert_int_equal(lm_data_import_sklearn_csv(path, &d), LM_OK);
    assert_int_equal(d.n, 3);
    assert_int_equal(d.c, 2);
    assert_int_equal(d.n_classes, 2);
    assert_string_equal(d.class_names[1], "versicolor");
    assert_null(d.feature_kind);
    const float r2[] = {6.2f, 2.9f};
    assert_row(&d, 2, r2);
    assert_int_equal(d.y[0], 0);
    assert_int_equal(d.y[2], 1);
    lm_dataset_free(&d);

    importer sk = import_sklearn;
    expect_error(sk, "s1.csv", "3,2\n", NULL, LM_EDATA, "s1.csv:1:", "n_samples,n_features",
                 NULL);
    expect_error(sk, "s2.csv", "x,2,a,b\n", NULL, LM_EDATA, "s2.csv:1: field 1",
                 "sample count", NULL);
    expect_error(sk, "s3.csv", "2,2,a,b\n1,2,0\n", NULL, LM_EDATA, "s3.csv:",
                 "1 rows, but the first line announces 2", NULL);
    expect_error(sk, "s4.csv", "2,2,a,b\n1,2,0\n1,2,2\n", NULL, LM_EDATA, "s4.csv:3: field 3",
                 "class index '2'", NULL);
    expect_error(sk, "s5.csv", "2,2,a,b\n1,2,0\n1,2\n", NULL, LM_EDATA, "s5.csv:3:",
                 "2 fields, expected 3", NULL);
    expect_error(sk, "s6.csv", "1,2,a,b\n1,2,0\n1,2,1\n", NULL, LM_EDATA, "s6.csv:3:",
                 "more rows than the 1", NULL);
    expect_error(sk, "s7.csv", "1,2,a,a\n1,2,0\n", NULL, LM_EDATA, "s7.csv:1: field 4",
                 "appears twice", NULL);
    expect_error(sk, "s8.csv", "1,2,a,b\n1,x,0\n", NULL, LM_EDATA, "s8.csv:2: field 2",
                 "'x' is not a number", NULL);
}

/* ---- ARFF ---- */

#define HEAD "@relation r\n@attribute a numeric\n@attribute b {x, y}\n@attribute c {p, q}\n"

static void test_arff_mixed(void **state) {
    (void)state;
    char path[600];
    fixture(path, sizeof path, "mixed.arff");
    lm_dataset d;
    assert_int_equal(lm_data_import_arff(path, NULL, &d), LM_OK);
    assert_string_equal(d.name, "hand made");
    assert_int_equal(d.n, 4);
    assert_int_equal(d.c, 4);
    const char *features[] = {"first name", "height", "age", "smoker"};
    for (int j = 0; j < 4; j++) assert_string_equal(d.feature_names[j], features[j]);
    const uint8_t kinds[] = {1, 0, 0, 1};
    assert_memory_equal(d.feature_kind, kinds, 4);
    /* Declared order, not sorted; escapes and spaces kept. */
    assert_int_equal(d.n_categories[0], 3);
    assert_string_equal(d.category_names[0][0], "Ann Lee");
    assert_string_equal(d.category_names[0][2], "O'Neil");
    assert_string_equal(d.category_names[3][0], "yes");
    assert_string_equal(d.category_names[3][1], "no");
    assert_int_equal(d.n_classes, 3);
    assert_string_equal(d.class_names[1], "very high");
    const int32_t y[] = {0, 1, 2, 0};
    assert_memory_equal(d.y, y, sizeof y);
    const float rows[4][4] = {{0, 170.5f, 30, 0}, {1, NAN, 41, 1}, {2, 180, NAN, NAN},
                              {1, 100, -7, 0}};
    for (int i = 0; i < 4; i++) assert_row(&d, i, rows[i]);
    lm_dataset_free(&d);

    /* Naming the class attribute gives the same. */
    assert_int_equal(lm_data_import_arff(path, "class", &d), LM_OK);
    assert_int_equal(d.n_classes, 3);
    assert_memory_equal(d.y, y, sizeof y);
    lm_dataset_free(&d);
}

static void test_arff_other_class(void **state) {
    (void)state;
    /* Another class attribute: the former class becomes a categorical feature. */
    const char *path = write_text("other.arff", HEAD "@data\n1,x,p\n2,y,q\n3,?,q\n");
    lm_dataset d;
    assert_int_equal(lm_data_import_arff(path, "b", &d), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "other.arff:8: field 2"));
    lm_error_clear();
    path = write_text("other.arff", HEAD "@data\n1,x,p\n2,y,q\n3,x,?\n");
    assert_int_equal(lm_data_import_arff(path, "b", &d), LM_OK);
    assert_int_equal(d.n_classes, 2);
    assert_int_equal(d.c, 2);
    assert_string_equal(d.feature_names[1], "c");
    assert_int_equal(d.feature_kind[1], LM_FEAT_CATEGORICAL);
    assert_int_equal(d.n_categories[1], 2);
    const float r2[] = {3, NAN};
    assert_row(&d, 2, r2);
    const int32_t y[] = {0, 1, 0};
    assert_memory_equal(d.y, y, sizeof y);
    lm_dataset_free(&d);
}

static void test_arff_missing_class(void **state) {
    (void)state;
    char path[600];
    fixture(path, sizeof path, "mixed.arff");
    lm_dataset d;
    lm_error_clear();
    assert_int_equal(lm_data_import_arff(path, "smoker", &d), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "mixed.arff:15: field 4"));
    assert_non_null(strstr(lm_error_message(), "the class ('smoker') is missing"));
    lm_error_clear();
}

static void test_arff_errors(void **state) {
    (void)state;
    importer arff = lm_data_import_arff;
    expect_error(arff, "a1.arff", "@relation r\n@attribute t string\n@data\n", NULL, LM_EDATA,
                 "a1.arff:2:", "'t' is of type string", NULL);
    expect_error(arff, "a2.arff", "@relation r\n@attribute a numeric\n@attribute d date "
                 "\"yyyy-MM-dd\"\n", NULL, LM_EDATA, "a2.arff:3:", "of type date", NULL);
    expect_error(arff, "a3.arff", "@relation r\n@attribute b relational\n", NULL, LM_EDATA,
                 "a3.arff:2:", "of type relational", NULL);
    expect_error(arff, "a4.arff", HEAD "@data\n{0 1, 1 x}\n", NULL, LM_EDATA, "a4.arff:6:",
                 "sparse", NULL);
    expect_error(arff, "a5.arff", HEAD "@data\n1,x,p,{2}\n", NULL, LM_EDATA, "a5.arff:6:",
                 "instance weights", NULL);
    expect_error(arff, "a6.arff", HEAD "@data\n1,x,p\n2,z,q\n", NULL, LM_EDATA,
                 "a6.arff:7: field 2 (attribute 'b')", "'z' is not one of its declared values "
                 "{x, y}", NULL);
    expect_error(arff, "a7.arff", HEAD "@data\n1,x,p\n2,y\n", NULL, LM_EDATA, "a7.arff:7:",
                 "2 values, expected 3", NULL);
    expect_error(arff, "a8.arff", HEAD "@data\nabc,x,p\n", NULL, LM_EDATA,
                 "a8.arff:6: field 1 (attribute 'a')", "'abc' is not a number", NULL);
    expect_error(arff, "a9.arff", HEAD, NULL, LM_EDATA, "a9.arff:4:", "ends before @data",
                 NULL);
    expect_error(arff, "a10.arff", HEAD "@data\n% nothing\n\n", NULL, LM_EDATA, "a10.arff:7:",
                 "no data rows after @data (line 5)", NULL);
    expect_error(arff, "a11.arff", "@attribute a numeric\n", NULL, LM_EDATA, "a11.arff:1:",
                 "@attribute before @relation", NULL);
    expect_error(arff, "a12.arff", "@relation r\nhello\n", NULL, LM_EDATA, "a12.arff:2:",
                 "'hello' in the header", NULL);
    expect_error(arff, "a13.arff", "@relation r\n@attribute a numeric\n@attribute a {x}\n",
                 NULL, LM_EDATA, "a13.arff:3:", "'a' is declared twice", NULL);
    expect_error(arff, "a14.arff", "@relation r\n@attribute a {x, y, x}\n", NULL, LM_EDATA,
                 "a14.arff:2:", "value 'x' is declared twice", NULL);
    expect_error(arff, "a15.arff", HEAD "@data\n1,x,?\n", NULL, LM_EDATA, "a15.arff:6: field 3",
                 "the class ('c') is missing", NULL);
    expect_error(arff, "a16.arff", "@relation r\n@attribute a float\n", NULL, LM_EDATA,
                 "a16.arff:2:", "unknown type 'float'", NULL);
    expect_error(arff, "a17.arff", "@relation r\n@attribute a {x, y\n", NULL, LM_EDATA,
                 "a17.arff:2:", "no closing }", NULL);
    expect_error(arff, "a18.arff", HEAD "@data\n1,x,p\n", "a", LM_EDATA, "a18.arff",
                 "'a' is numeric; the class must be a nominal attribute", NULL);
    expect_error(arff, "a19.arff", HEAD "@data\n1,x,p\n", "cc", LM_EDATA, "a19.arff",
                 "no attribute named 'cc'", NULL);
    expect_error(arff, "a20.arff", "@relation r\n@attribute a numeric\n@attribute b real\n"
                 "@data\n1,2\n", NULL, LM_EDATA, "a20.arff", "no nominal attribute", NULL);
    expect_error(arff, "a21.arff", "@relation r\n@attribute a {}\n", NULL, LM_EDATA,
                 "a21.arff:2:", "declares no values", NULL);
    expect_error(arff, "a22.arff", HEAD "@data\n'1,x,p\n", NULL, LM_EDATA, "a22.arff:6: field 1",
                 "not closed", NULL);
    expect_error(arff, "a23.arff", "@relation r\n@data\n", NULL, LM_EDATA, "a23.arff:2:",
                 "@data before any @attribute", NULL);
    expect_error(arff, "a24.arff", "@relation r\n@attribute c {p}\n@data\np\n", NULL, LM_EDATA,
                 "a24.arff", "no features", NULL);

    /* A truncated compressed file. */
    char text[20000];
    size_t k = (size_t)snprintf(text, sizeof text, HEAD "@data\n");
    for (int i = 0; i < 600; i++)
        k += (size_t)snprintf(text + k, sizeof text - k, "%d,%c,%c\n", i * 7919 % 1000,
                              i % 2 ? 'x' : 'y', i % 3 ? 'p' : 'q');
    const char *path = write_bytes("a25.arff.gz", text, k, 1);
    FILE *f = fopen(path, "rb");
    unsigned char buf[20000];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    path = write_bytes("a25.arff.gz", (const char *)buf, n * 2 / 3, 0);
    lm_dataset d;
    assert_int_equal(lm_data_import_arff(path, NULL, &d), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "a25.arff.gz:"));
    assert_non_null(strstr(lm_error_message(), "truncated"));
    lm_error_clear();
    /* And whole, it reads. */
    path = write_bytes("a26.arff.gz", text, k, 1);
    assert_int_equal(lm_data_import_arff(path, NULL, &d), LM_OK);
    assert_int_equal(d.n, 600);
    lm_dataset_free(&d);
}

/* ---- the real files ---- */

typedef struct real_file {
    const char *package; /* "sklearn" or "weka" */
    const char *file;
    int64_t n;
    int features, classes, categorical;
    long missing;
    int class_counts[3]; /* of the first classes, when known (else 0) */
} real_file;

static const real_file real_files[] = {
    {"sklearn", "iris.csv", 150, 4, 3, 0, 0, {50, 50, 50}},
    {"sklearn", "wine_data.csv", 178, 13, 3, 0, 0, {59, 71, 48}},
    {"sklearn", "breast_cancer.csv", 569, 30, 2, 0, 0, {212, 357, 0}},
    {"weka", "vote.arff", 435, 16, 2, 16, 392, {267, 168, 0}},
    {"weka", "soybean.arff", 683, 35, 19, 35, 2337, {0, 0, 0}},
    {"weka", "credit-g.arff", 1000, 20, 2, 13, 0, {700, 300, 0}},
    {"weka", "diabetes.arff", 768, 8, 2, 0, 0, {500, 268, 0}},
    {"weka", "segment-challenge.arff", 1500, 19, 7, 0, 0, {0, 0, 0}},
    {"weka", "segment-test.arff", 810, 19, 7, 0, 0, {0, 0, 0}},
    {"weka", "ionosphere.arff", 351, 34, 2, 0, 0, {126, 225, 0}},
    {"weka", "glass.arff", 214, 9, 7, 0, 0, {70, 76, 17}},
};

/* Finds a package file on the system or under .deps/ (plain or .gz). */
static int find_real(const real_file *r, char *out, size_t cap) {
    const char *dir = !strcmp(r->package, "weka")
                          ? "/usr/share/doc/weka/examples"
                          : "/usr/lib/python3/dist-packages/sklearn/datasets/data";
    char src[512];
    source_dir(src, sizeof src);
    for (int where = 0; where < 2; where++)
        for (int gz = 0; gz < 2; gz++) {
            snprintf(out, cap, "%s%s%s%s/%s%s", where ? src : "", where ? "/.deps/" : "",
                     where ? r->package : "", dir, r->file, gz ? ".gz" : "");
            if (access(out, R_OK) == 0) return 1;
        }
    return 0;
}

static void test_real_file(void **state) {
    const real_file *r = *state;
    char path[1024];
    if (!find_real(r, path, sizeof path)) skip();
    lm_dataset d;
    int rc = strstr(r->file, ".arff") ? lm_data_import_arff(path, NULL, &d)
                                      : lm_data_import_sklearn_csv(path, &d);
    if (rc != LM_OK) fail_msg("%s: %s", path, lm_error_message());
    assert_int_equal(d.n, r->n);
    assert_int_equal(d.c, r->features);
    assert_int_equal(d.n_classes, r->classes);
    assert_int_equal(lm_dataset_n_categorical(&d), r->categorical);
    long missing = 0;
    for (int64_t i = 0; i < d.n * d.c; i++) missing += isnan(d.X[i]) != 0;
    assert_int_equal(missing, r->missing);
    int counts[LM_DATA_CLASSES_MAX] = {0};
    for (int64_t i = 0; i < d.n; i++) {
        assert_true(d.y[i] >= 0 && d.y[i] < d.n_classes);
        counts[d.y[i]]++;
    }
    for (int k = 0; k < 3; k++)
        if (r->class_counts[k]) assert_int_equal(counts[k], r->class_counts[k]);
    assert_non_null(d.class_names);
    if (strstr(r->file, ".arff")) assert_non_null(d.feature_names);
    lm_dataset_free(&d);
}

/* One test per file, named after it. */
#define REAL(i) {real_files[i].file, test_real_file, NULL, NULL, (void *)&real_files[i]}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_mixed),
        cmocka_unit_test(test_csv_target_and_kinds),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_sklearn_csv),
        cmocka_unit_test(test_arff_mixed),
        cmocka_unit_test(test_arff_missing_class),
        cmocka_unit_test(test_arff_other_class),
        cmocka_unit_test(test_arff_errors),
        REAL(0), REAL(1), REAL(2), REAL(3), REAL(4), REAL(5),
        REAL(6), REAL(7), REAL(8), REAL(9), REAL(10),
    };
    return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
