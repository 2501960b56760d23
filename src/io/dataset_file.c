/* Dataset files: /train/X, /train/y, /test/X, /test/y and root attributes (name,
 * source, n_classes, class_names, n_missing, schema_version, format =
 * "lamarck-dataset"). X is float32 N x C x H x W, chunked, gzip-compressed and
 * checksummed; y is int32. Tabular data describes its features in /features: kind
 * (uint8 per feature: 0 numeric, 1 categorical), n_categories (int32 per feature,
 * 0 for numeric ones), names (strings, optional) and category_names (the categories
 * of every categorical feature one after another, in feature order; optional).
 *
 * The reader accepts schema versions 1 (no /features, no n_missing: every feature
 * numeric) and 2, and N x F arrays (tabular data written by other tools, such as
 * h5py), read as C = F, H = W = 1. */
#include "io/h5util.h"
#include "lamarck/error.h"
#include "lamarck/io.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DATASET_FORMAT "lamarck-dataset"
#define GZIP_LEVEL 4
#define DIM_MAX 65536              /* one feature dimension */
#define FLOATS_MAX (1ull << 32)    /* N x F of one split: 16 GiB of floats */
#define CLASS_NAME_MAX LM_DATA_LABEL_MAX
#define SCHEMA_OLDEST 1 /* before /features */

/* ---- writing ---- */

static int check_split(const lm_dataset *d, const lm_dataset *ref, const char *which) {
    LM_CHECK(d->n >= 1, LM_EINVAL, "dataset '%s': the %s split has no samples", d->name, which);
    LM_CHECK(d->c == ref->c && d->h == ref->h && d->w == ref->w && d->n_classes == ref->n_classes,
             LM_EINVAL, "dataset '%s': the %s split has shape %dx%dx%d and %d classes, the train "
             "split %dx%dx%d and %d", d->name, which, d->c, d->h, d->w, d->n_classes, ref->c,
             ref->h, ref->w, ref->n_classes);
    for (int64_t i = 0; i < d->n; i++)
        LM_CHECK(d->y[i] >= 0 && d->y[i] < d->n_classes, LM_EINVAL,
                 "dataset '%s': %s label %d of sample %lld is outside 0..%d", d->name, which,
                 (int)d->y[i], (long long)i, d->n_classes - 1);
    return LM_OK;
}

static int write_split(lm__h5 *f, const char *group, const lm_dataset *d) {
    hid_t g, y = H5I_INVALID_HID, x = H5I_INVALID_HID;
    int rc;
    LM_CALL(lm__h5_group_create(f, f->id, group, &g));
    hsize_t dims[4] = {(hsize_t)d->n, (hsize_t)d->c, (hsize_t)d->h, (hsize_t)d->w};
    LM_CALL_GOTO(rc, lm__h5_write_f32_nd(f, g, "X", 4, dims, d->X, GZIP_LEVEL), done);
    x = H5Dopen2(g, "X", H5P_DEFAULT); /* a failure shows in the attribute write below */
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, x, "1", "features of each sample: samples x channels "
                                      "x height x width"), done);
    LM_CALL_GOTO(rc, lm__h5_write_1d(f, g, "y", LM_DT_I32, (size_t)d->n, d->y, &y), done);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, y, "class index", "label of each sample, an index "
                                      "into the root attribute class_names"), done);
done:
    lm__h5_close_id(&x);
    lm__h5_close_id(&y);
    lm__h5_close_id(&g);
    return rc;
}

/* Flattens the category names of every categorical feature (NULL when some
 * categorical feature has none). */
static int flat_categories(const lm_dataset *d, const char ***out, size_t *n) {
    int64_t nf = lm_dataset_features(d);
    *out = NULL;
    *n = 0;
    size_t total = 0;
    for (int64_t j = 0; j < nf; j++) {
        if (d->feature_kind[j] != LM_FEAT_CATEGORICAL) continue;
        if (!d->category_names || !d->category_names[j]) return LM_OK;
        total += (size_t)d->n_categories[j];
    }
    if (total == 0) return LM_OK;
    const char **v = malloc(total * sizeof *v);
    LM_CHECK_ALLOC(v);
    size_t k = 0;
    for (int64_t j = 0; j < nf; j++)
        if (d->feature_kind[j] == LM_FEAT_CATEGORICAL)
            for (int32_t c = 0; c < d->n_categories[j]; c++) v[k++] = d->category_names[j][c];
    *out = v;
    *n = total;
    return LM_OK;
}

static int write_feature_table(lm__h5 *f, hid_t g, const lm_dataset *d, uint8_t *kind,
                               int32_t *ncat) {
    int64_t nf = lm_dataset_features(d);
    hid_t ds = H5I_INVALID_HID;
    const char **flat = NULL;
    size_t n_flat = 0;
    int rc;
    for (int64_t j = 0; j < nf; j++) {
        kind[j] = d->feature_kind ? d->feature_kind[j] : LM_FEAT_NUMERIC;
        ncat[j] = kind[j] == LM_FEAT_CATEGORICAL ? d->n_categories[j] : 0;
    }
    LM_CALL_GOTO(rc, lm__h5_write_1d(f, g, "kind", LM_DT_U8, (size_t)nf, kind, &ds), done);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, ds, "1", "kind of each feature: 0 numeric, 1 "
                                      "categorical (X holds the category index)"), done);
    lm__h5_close_id(&ds);
    LM_CALL_GOTO(rc, lm__h5_write_1d(f, g, "n_categories", LM_DT_I32, (size_t)nf, ncat, &ds),
                 done);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, ds, "1", "categories of each categorical feature, "
                                      "0 for numeric ones"), done);
    lm__h5_close_id(&ds);
    if (d->feature_names) {
        LM_CALL_GOTO(rc, lm__h5_write_strs(f, g, "names", (size_t)nf,
                                           (const char *const *)d->feature_names, &ds), done);
        LM_CALL_GOTO(rc, lm__h5_attr_meta(f, ds, "1", "name of each feature"), done);
        lm__h5_close_id(&ds);
    }
    if (d->feature_kind) LM_CALL_GOTO(rc, flat_categories(d, &flat, &n_flat), done);
    if (flat) {
        LM_CALL_GOTO(rc, lm__h5_write_strs(f, g, "category_names", n_flat, flat, &ds), done);
        LM_CALL_GOTO(rc, lm__h5_attr_meta(f, ds, "1", "the categories of each categorical "
                                          "feature, n_categories of them per feature, in "
                                          "feature order"), done);
    }
    rc = LM_OK;
done:
    free(flat);
    lm__h5_close_id(&ds);
    return rc;
}

static int write_features(lm__h5 *f, const lm_dataset *d) {
    if (!d->feature_kind && !d->feature_names) return LM_OK;
    int64_t nf = lm_dataset_features(d);
    uint8_t *kind = malloc((size_t)nf * sizeof *kind);
    int32_t *ncat = malloc((size_t)nf * sizeof *ncat);
    hid_t g = H5I_INVALID_HID;
    int rc = LM_OK;
    if (!kind || !ncat) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    LM_CALL_GOTO(rc, lm__h5_group_create(f, f->id, "features", &g), done);
    LM_CALL_GOTO(rc, write_feature_table(f, g, d, kind, ncat), done);
done:
    lm__h5_close_id(&g);
    free(kind);
    free(ncat);
    return rc;
}

static int64_t count_missing(const lm_dataset *d) {
    if (!d) return 0;
    size_t m = (size_t)d->n * (size_t)lm_dataset_features(d);
    int64_t k = 0;
    for (size_t i = 0; i < m; i++) k += isnan(d->X[i]) != 0;
    return k;
}

static int write_all(lm__h5 *f, const lm_dataset *train, const lm_dataset *test,
                     const char *source) {
    hid_t root = f->id;
    LM_CALL(lm__h5_set_format(f, DATASET_FORMAT));
    LM_CALL(lm__h5_attr_i64(f, root, "schema_version", LM_DATASET_SCHEMA_VERSION));
    LM_CALL(lm__h5_attr_str(f, root, "name", train->name));
    LM_CALL(lm__h5_attr_str(f, root, "source", source ? source : ""));
    LM_CALL(lm__h5_attr_i64(f, root, "n_classes", train->n_classes));
    if (train->class_names)
        LM_CALL(lm__h5_attr_strs(f, root, "class_names", (size_t)train->n_classes,
                                 (const char *const *)train->class_names));
    LM_CALL(lm__h5_attr_i64(f, root, "n_missing", count_missing(train) + count_missing(test)));
    LM_CALL(write_features(f, train));
    LM_CALL(write_split(f, "train", train));
    if (test) LM_CALL(write_split(f, "test", test));
    return LM_OK;
}

int lm_io_dataset_write(const char *path, const lm_dataset *train, const lm_dataset *test,
                        const char *source) {
    LM_CALL(check_split(train, train, "train"));
    if (test) {
        LM_CALL(check_split(test, train, "test"));
        LM_CALL(lm_dataset_check_schema(train, test, "the test split"));
    }
    lm__h5 f;
    LM_CALL(lm__h5_create(&f, path));
    int rc = write_all(&f, train, test, source);
    if (rc < 0) {
        lm__h5_discard(&f);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    LM_CALL(lm__h5_commit(&f));
    return LM_OK;
}

/* ---- reading ---- */

typedef struct header {
    char name[LM_DATA_NAME_MAX];
    int version;
    int n_classes;
    char **class_names; /* n_classes, or NULL */
} header;

static int read_header(lm__h5 *f, header *h) {
    hid_t root = f->id;
    int64_t v;
    char *name = NULL;
    LM_CALL(lm__h5_check_format(f, DATASET_FORMAT));
    LM_CALL(lm__h5_attr_read_i64(f, root, "schema_version", &v));
    LM_CHECK(v >= SCHEMA_OLDEST && v <= LM_DATASET_SCHEMA_VERSION, LM_EDATA,
             "%s: dataset schema version %lld; this lamarck reads versions %d to %d", f->path,
             (long long)v, SCHEMA_OLDEST, LM_DATASET_SCHEMA_VERSION);
    h->version = (int)v;
    LM_CALL(lm__h5_attr_read_i64(f, root, "n_classes", &v));
    LM_CHECK(v >= 1 && v <= LM_DATA_CLASSES_MAX, LM_EDATA,
             "%s: attribute n_classes is %lld, expected 1..%d", f->path, (long long)v,
             LM_DATA_CLASSES_MAX);
    h->n_classes = (int)v;
    LM_CALL(lm__h5_attr_read_str(f, root, "name", LM_DATA_NAME_MAX - 1, &name));
    lm_strlcpy(h->name, name, sizeof h->name);
    free(name);
    h->class_names = NULL;
    if (lm__h5_attr_exists(root, "class_names")) {
        size_t n;
        LM_CALL(lm__h5_attr_read_strs(f, root, "class_names", LM_DATA_CLASSES_MAX, CLASS_NAME_MAX,
                                      &h->class_names, &n));
        if (n != (size_t)h->n_classes) {
            lm__h5_free_strs(h->class_names, n);
            h->class_names = NULL;
            LM_FAIL(LM_EDATA, "%s: %zu class names for %d classes", f->path, n, h->n_classes);
        }
    }
    return LM_OK;
}

/* Opens group/X and checks its shape: N x C x H x W or N x F, every dimension
 * positive and bounded, the total bounded. */
static int open_features(lm__h5 *f, hid_t g, const char *group, hid_t *x, int64_t *n, int *c,
                         int *h, int *w) {
    hsize_t dims[4];
    int rank;
    LM_CALL(lm__h5_dataset_open(f, g, "X", 4, &rank, dims, INT32_MAX, x));
    int rc = LM_OK;
    if (rank != 4 && rank != 2) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /%s/X has rank %d; N x C x H x W or N x F expected", f->path,
                          group, rank);
        goto fail;
    }
    if (rank == 2) {
        dims[2] = dims[3] = 1;
    }
    unsigned long long feat = 1;
    for (int i = 1; i < 4; i++) {
        if (dims[i] < 1 || dims[i] > DIM_MAX) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                              "%s: /%s/X dimension %d is %llu, expected 1..%d", f->path, group,
                              i, (unsigned long long)dims[i], DIM_MAX);
            goto fail;
        }
        feat *= dims[i];
    }
    if (dims[0] < 1 || feat > INT32_MAX || dims[0] * feat > FLOATS_MAX) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /%s/X holds %llu samples of %llu features (1..%llu values "
                          "expected)", f->path, group, (unsigned long long)dims[0], feat,
                          (unsigned long long)FLOATS_MAX);
        goto fail;
    }
    hid_t t = H5Dget_type(*x);
    int is_float = t >= 0 && H5Tget_class(t) == H5T_FLOAT;
    if (t >= 0) H5Tclose(t);
    if (!is_float) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /%s/X does not hold floating-point numbers", f->path, group);
        goto fail;
    }
    *n = (int64_t)dims[0];
    *c = (int)dims[1];
    *h = (int)dims[2];
    *w = (int)dims[3];
    return LM_OK;
fail:
    lm__h5_close_id(x);
    return rc;
}

static int read_split(lm__h5 *f, const header *hd, const char *group, lm_dataset *out) {
    hid_t g = H5I_INVALID_HID, x = H5I_INVALID_HID;
    int32_t *y = NULL;
    size_t ny = 0;
    int64_t n = 0;
    int c = 0, h = 0, w = 0, rc;
    memset(out, 0, sizeof *out);
    LM_CALL_GOTO(rc, lm__h5_group_open(f, f->id, group, &g), done);
    LM_CALL_GOTO(rc, open_features(f, g, group, &x, &n, &c, &h, &w), done);
    LM_CALL_GOTO(rc, lm__h5_read_1d(f, g, "y", LM_DT_I32, (size_t)n, (void **)&y, &ny), done);
    if (ny != (size_t)n) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /%s/y has %zu labels for %lld samples", f->path, group, ny,
                          (long long)n);
        goto done;
    }
    for (size_t i = 0; i < ny; i++)
        if (y[i] < 0 || y[i] >= hd->n_classes) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                              "%s: /%s/y[%zu] is %d, outside 0..%d", f->path, group, i,
                              (int)y[i], hd->n_classes - 1);
            goto done;
        }
    LM_CALL_GOTO(rc, lm_dataset_alloc(out, n, c, h, w, hd->n_classes), done);
    if (H5Dread(x, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out->X) < 0) {
        H5Eclear2(H5E_DEFAULT);
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /%s/X cannot be read (corrupt or truncated data)", f->path, group);
        goto done;
    }
    memcpy(out->y, y, ny * sizeof *y);
    memcpy(out->name, hd->name, sizeof out->name);
    if (hd->class_names)
        LM_CALL_GOTO(rc, lm_dataset_set_class_names(out, hd->n_classes,
                                                    (const char *const *)hd->class_names), done);
    rc = LM_OK;
done:
    if (rc < 0) lm_dataset_free(out);
    free(y);
    lm__h5_close_id(&x);
    lm__h5_close_id(&g);
    return rc;
}

/* ---- feature descriptions ---- */

/* Reads a 1-D column of exactly n elements of type t from g. */
static int read_column(lm__h5 *f, hid_t g, const char *name, lm_dtype t, size_t n, void **out) {
    size_t got;
    LM_CALL(lm__h5_read_1d(f, g, name, t, n, out, &got));
    if (got != n) {
        free(*out);
        *out = NULL;
        LM_FAIL(LM_EDATA, "%s: /features/%s has %zu entries for %zu features", f->path, name,
                got, n);
    }
    return LM_OK;
}

/* Checks kinds and category counts, and that X holds for every categorical
 * feature a category index or NAN. */
static int check_kinds(lm__h5 *f, const uint8_t *kind, const int32_t *ncat, size_t nf,
                       size_t *total) {
    *total = 0;
    for (size_t j = 0; j < nf; j++) {
        LM_CHECK(kind[j] == LM_FEAT_NUMERIC || kind[j] == LM_FEAT_CATEGORICAL, LM_EDATA,
                 "%s: /features/kind[%zu] is %d (0 numeric or 1 categorical expected)", f->path,
                 j, kind[j]);
        int cat = kind[j] == LM_FEAT_CATEGORICAL;
        LM_CHECK(cat ? ncat[j] >= 1 && ncat[j] <= LM_DATA_CATEGORIES_MAX : ncat[j] == 0,
                 LM_EDATA, "%s: /features/n_categories[%zu] is %d (%s expected)", f->path, j,
                 (int)ncat[j], cat ? "1..1024 for a categorical feature" : "0 for a numeric one");
        *total += (size_t)ncat[j];
    }
    return LM_OK;
}

static int check_values(lm__h5 *f, const lm_dataset *d, const char *group) {
    if (!d->feature_kind) return LM_OK;
    size_t nf = (size_t)lm_dataset_features(d);
    for (size_t j = 0; j < nf; j++) {
        if (d->feature_kind[j] != LM_FEAT_CATEGORICAL) continue;
        float k = (float)d->n_categories[j];
        for (int64_t i = 0; i < d->n; i++) {
            float v = d->X[(size_t)i * nf + j];
            LM_CHECK(isnan(v) || (v >= 0 && v < k && v == floorf(v)), LM_EDATA,
                     "%s: /%s/X[%lld][%zu] is %g, not a category of feature %zu (0..%d) or NAN",
                     f->path, group, (long long)i, j, (double)v, j, d->n_categories[j] - 1);
        }
    }
    return LM_OK;
}

/* Sets the descriptions in /features on d (nothing when the group is absent). */
static int read_features(lm__h5 *f, lm_dataset *d) {
    if (!lm__h5_exists(f->id, "features")) return LM_OK;
    size_t nf = (size_t)lm_dataset_features(d), total = 0, n = 0;
    uint8_t *kind = NULL;
    int32_t *ncat = NULL;
    char **names = NULL, **flat = NULL;
    size_t n_names = 0;
    hid_t g;
    int rc;
    LM_CHECK(nf <= LM_DATA_FEATURES_MAX, LM_EDATA, "%s: /features describes %zu features; at "
             "most %d are supported", f->path, nf, LM_DATA_FEATURES_MAX);
    LM_CALL(lm__h5_group_open(f, f->id, "features", &g));
    LM_CALL_GOTO(rc, read_column(f, g, "kind", LM_DT_U8, nf, (void **)&kind), done);
    LM_CALL_GOTO(rc, read_column(f, g, "n_categories", LM_DT_I32, nf, (void **)&ncat), done);
    LM_CALL_GOTO(rc, check_kinds(f, kind, ncat, nf, &total), done);
    if (lm__h5_exists(g, "names")) {
        LM_CALL_GOTO(rc, lm__h5_read_strs(f, g, "names", nf, LM_DATA_LABEL_MAX, &names, &n_names),
                     done);
        if (n_names != nf) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                              "%s: /features/names has %zu names for %zu features", f->path,
                              n_names, nf);
            goto done;
        }
        LM_CALL_GOTO(rc, lm_dataset_set_feature_names(d, (const char *const *)names), done);
    }
    if (total > 0 && lm__h5_exists(g, "category_names")) {
        LM_CALL_GOTO(rc, lm__h5_read_strs(f, g, "category_names", total, LM_DATA_LABEL_MAX, &flat,
                                          &n), done);
        if (n != total) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                              "%s: /features/category_names has %zu names; n_categories adds "
                              "up to %zu", f->path, n, total);
            goto done;
        }
    }
    for (size_t j = 0, k = 0; j < nf; j++) {
        if (kind[j] != LM_FEAT_CATEGORICAL) continue;
        LM_CALL_GOTO(rc, lm_dataset_set_categorical(d, (int64_t)j, ncat[j],
                                                    flat ? (const char *const *)flat + k : NULL),
                     done);
        k += (size_t)ncat[j];
    }
    rc = LM_OK;
done:
    free(kind);
    free(ncat);
    lm__h5_free_strs(names, n_names);
    lm__h5_free_strs(flat, n);
    lm__h5_close_id(&g);
    return rc;
}

int lm_io_dataset_read(const char *path, lm_dataset *train, lm_dataset *test) {
    lm__h5 f;
    header hd = {.class_names = NULL};
    int rc;
    memset(train, 0, sizeof *train);
    if (test) memset(test, 0, sizeof *test);
    LM_CALL(lm__h5_open(&f, path, LM_EDATA));
    LM_CALL_GOTO(rc, read_header(&f, &hd), done);
    LM_CALL_GOTO(rc, read_split(&f, &hd, "train", train), done);
    LM_CALL_GOTO(rc, read_features(&f, train), done);
    LM_CALL_GOTO(rc, check_values(&f, train, "train"), done);
    if (test) {
        if (!lm__h5_exists(f.id, "test")) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                              "%s: has no test split (/test)", path);
            goto done;
        }
        LM_CALL_GOTO(rc, read_split(&f, &hd, "test", test), done);
        if (test->c != train->c || test->h != train->h || test->w != train->w) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                              "%s: /test/X samples are %dx%dx%d, /train/X samples %dx%dx%d",
                              path, test->c, test->h, test->w, train->c, train->h, train->w);
            goto done;
        }
        if (train->feature_kind || train->feature_names)
            LM_CALL_GOTO(rc, lm_dataset_copy_features(test, train), done);
        LM_CALL_GOTO(rc, check_values(&f, test, "test"), done);
    }
    rc = LM_OK;
done:
    if (rc < 0) {
        lm_dataset_free(train);
        if (test) lm_dataset_free(test);
    }
    lm__h5_free_strs(hd.class_names, (size_t)hd.n_classes);
    lm__h5_close(&f);
    return rc;
}

/* ---- summary ---- */

/* The sample count and shape of group/X, without reading it. */
static int split_shape(lm__h5 *f, const char *group, int64_t *n, int *c, int *h, int *w) {
    hid_t g, x = H5I_INVALID_HID;
    LM_CALL(lm__h5_group_open(f, f->id, group, &g));
    int rc = open_features(f, g, group, &x, n, c, h, w);
    lm__h5_close_id(&x);
    lm__h5_close_id(&g);
    return rc;
}

/* Counts the categorical features listed in /features/kind (none without it). */
static int count_categorical(lm__h5 *f, size_t nf, int64_t *n_cat) {
    *n_cat = 0;
    if (!lm__h5_exists(f->id, "features")) return LM_OK;
    LM_CHECK(nf <= LM_DATA_FEATURES_MAX, LM_EDATA, "%s: /features describes %zu features; at "
             "most %d are supported", f->path, nf, LM_DATA_FEATURES_MAX);
    hid_t g;
    uint8_t *kind = NULL;
    LM_CALL(lm__h5_group_open(f, f->id, "features", &g));
    int rc = read_column(f, g, "kind", LM_DT_U8, nf, (void **)&kind);
    for (size_t j = 0; rc == LM_OK && j < nf; j++) *n_cat += kind[j] == LM_FEAT_CATEGORICAL;
    free(kind);
    lm__h5_close_id(&g);
    return rc;
}

static int read_info(lm__h5 *f, header *hd, lm_dataset_info *out) {
    hid_t root = f->id;
    LM_CALL(read_header(f, hd));
    memcpy(out->name, hd->name, sizeof out->name);
    out->schema_version = hd->version;
    out->n_classes = hd->n_classes;
    if (lm__h5_attr_exists(root, "source")) {
        char *src;
        LM_CALL(lm__h5_attr_read_str(f, root, "source", LM__H5_PATH_MAX, &src));
        lm_strlcpy(out->source, src, sizeof out->source);
        free(src);
    }
    LM_CALL(split_shape(f, "train", &out->n_train, &out->c, &out->h, &out->w));
    if (lm__h5_exists(root, "test")) {
        int c, h, w;
        LM_CALL(split_shape(f, "test", &out->n_test, &c, &h, &w));
        LM_CHECK(c == out->c && h == out->h && w == out->w, LM_EDATA,
                 "%s: /test/X samples are %dx%dx%d, /train/X samples %dx%dx%d", f->path, c, h, w,
                 out->c, out->h, out->w);
    }
    out->n_missing = -1;
    if (lm__h5_attr_exists(root, "n_missing"))
        LM_CALL(lm__h5_attr_read_i64(f, root, "n_missing", &out->n_missing));
    int64_t nf = (int64_t)out->c * out->h * out->w;
    LM_CALL(count_categorical(f, (size_t)nf, &out->n_categorical));
    out->n_numeric = nf - out->n_categorical;
    return LM_OK;
}

int lm_io_dataset_info(const char *path, lm_dataset_info *out) {
    memset(out, 0, sizeof *out);
    lm__h5 f;
    header hd = {.class_names = NULL};
    LM_CALL(lm__h5_open(&f, path, LM_EDATA));
    int rc = read_info(&f, &hd, out);
    if (rc < 0) lm_error_trace(__FILE__, __LINE__, __func__, rc);
    lm__h5_free_strs(hd.class_names, (size_t)hd.n_classes);
    lm__h5_close(&f);
    return rc;
}
