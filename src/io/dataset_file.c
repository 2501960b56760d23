/* Dataset files: /train/X, /train/y, /test/X, /test/y and root attributes (name,
 * source, n_classes, class_names, schema_version, format = "lamarck-dataset").
 * X is float32 N x C x H x W, chunked, gzip-compressed and checksummed; y is int32.
 * The reader also accepts N x F arrays (tabular data written by other tools, such as
 * h5py), read as C = F, H = W = 1. */
#include "io/h5util.h"
#include "lamarck/error.h"
#include "lamarck/io.h"
#include "lamarck/strutil.h"

#include <stdlib.h>
#include <string.h>

#define DATASET_FORMAT "lamarck-dataset"
#define GZIP_LEVEL 4
#define DIM_MAX 65536              /* one feature dimension */
#define FLOATS_MAX (1ull << 32)    /* N x F of one split: 16 GiB of floats */
#define CLASS_NAME_MAX 256

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
    LM_CALL(write_split(f, "train", train));
    if (test) LM_CALL(write_split(f, "test", test));
    return LM_OK;
}

int lm_io_dataset_write(const char *path, const lm_dataset *train, const lm_dataset *test,
                        const char *source) {
    LM_CALL(check_split(train, train, "train"));
    if (test) LM_CALL(check_split(test, train, "test"));
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
    int n_classes;
    char **class_names; /* n_classes, or NULL */
} header;

static int read_header(lm__h5 *f, header *h) {
    hid_t root = f->id;
    int64_t v;
    char *name = NULL;
    LM_CALL(lm__h5_check_format(f, DATASET_FORMAT));
    LM_CALL(lm__h5_attr_read_i64(f, root, "schema_version", &v));
    LM_CHECK(v == LM_DATASET_SCHEMA_VERSION, LM_EDATA,
             "%s: dataset schema version %lld; this lamarck reads version %d", f->path,
             (long long)v, LM_DATASET_SCHEMA_VERSION);
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

int lm_io_dataset_read(const char *path, lm_dataset *train, lm_dataset *test) {
    lm__h5 f;
    header hd = {.class_names = NULL};
    int rc;
    memset(train, 0, sizeof *train);
    if (test) memset(test, 0, sizeof *test);
    LM_CALL(lm__h5_open(&f, path, LM_EDATA));
    LM_CALL_GOTO(rc, read_header(&f, &hd), done);
    LM_CALL_GOTO(rc, read_split(&f, &hd, "train", train), done);
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
