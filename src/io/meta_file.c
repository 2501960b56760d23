/* Learning-curve meta-dataset files (see lamarck/meta.h for the layout): creation,
 * pair-by-pair writing with a flush after each pair, checked reading, and merging of
 * the parts of a generation split over several jobs. */
#include "io/h5util.h"
#include "lamarck/error.h"
#include "lamarck/meta.h"
#include "lamarck/strutil.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const metric_names[LM_META_N_METRICS] = {
    "train_loss", "val_accuracy", "val_loss", "test_accuracy", "test_loss", "seconds"};
static const char *const metric_units[LM_META_N_METRICS] = {"nats", "fraction", "nats",
                                                            "fraction", "nats", "seconds"};
static const char *const metric_desc[LM_META_N_METRICS] = {
    "mean training cross-entropy of epoch e (dataset x architecture x epoch; NaN: missing)",
    "validation accuracy after epoch e (dataset x architecture x epoch; NaN: missing)",
    "validation cross-entropy after epoch e (dataset x architecture x epoch; NaN: missing)",
    "test accuracy after epoch e (dataset x architecture x epoch; NaN: missing)",
    "test cross-entropy after epoch e (dataset x architecture x epoch; NaN: missing)",
    "wall time of epoch e in seconds (dataset x architecture x epoch; NaN: missing)"};

const char *lm_meta_metric_name(int metric) {
    return metric >= 0 && metric < LM_META_N_METRICS ? metric_names[metric] : NULL;
}

struct lm_meta_file {
    lm__h5 h5;
    int writable;
    lm_meta header;           /* curves NULL */
    hid_t curves[LM_META_N_METRICS];
    hid_t done;
};

/* ---- errors naming the file and the object ---- */

static int bad_at(const char *file, int line, const char *func, lm__h5 *f, hid_t loc,
                  const char *name, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int bad_at(const char *file, int line, const char *func, lm__h5 *f, hid_t loc,
                  const char *name, const char *fmt, ...) {
    char msg[512], obj[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lm__h5_objname(loc, name, obj, sizeof obj);
    H5Eclear2(H5E_DEFAULT);
    return lm_error_set(file, line, func, f->bad, "%s: %s: %s", f->path, obj, msg);
}

#define BAD(f, loc, name, ...) bad_at(__FILE__, __LINE__, __func__, (f), (loc), (name), __VA_ARGS__)

/* ---- the header ---- */

void lm_meta_free(lm_meta *m) {
    if (!m) return;
    lm__h5_free_strs(m->dataset_names, m->dataset_names ? (size_t)m->n_datasets : 0);
    free(m->descriptors);
    free(m->genome);
    free(m->encoding);
    free(m->params);
    free(m->flops);
    free(m->space);
    for (int i = 0; i < LM_META_N_METRICS; i++) free(m->curves[i]);
    free(m->done);
    memset(m, 0, sizeof *m);
}

int lm_meta_find_dataset(const lm_meta *m, const char *name) {
    for (int d = 0; d < m->n_datasets && name; d++)
        if (!strcmp(m->dataset_names[d], name)) return d;
    return -1;
}

static size_t n_cells(const lm_meta *m) {
    return (size_t)m->n_datasets * (size_t)m->n_archs * (size_t)m->epochs;
}

/* Dimensions within the bounds of meta.h; where is the file (or "header") for messages. */
static int check_dims(const lm_meta *h, const char *where, int err) {
    LM_CHECK(h->n_datasets >= 1 && h->n_datasets <= LM_META_DATASETS_MAX, err,
             "%s: %d datasets, 1 to %d expected", where, h->n_datasets, LM_META_DATASETS_MAX);
    LM_CHECK(h->n_archs >= 1 && h->n_archs <= LM_META_ARCHS_MAX, err,
             "%s: %d architectures, 1 to %d expected", where, h->n_archs, LM_META_ARCHS_MAX);
    LM_CHECK(h->epochs >= 1 && h->epochs <= LM_META_EPOCHS_MAX, err,
             "%s: %d epochs, 1 to %d expected", where, h->epochs, LM_META_EPOCHS_MAX);
    LM_CHECK(h->genome_len >= 0 && h->genome_len <= LM_META_VEC_MAX, err,
             "%s: genome length %d, 0 to %d expected", where, h->genome_len, LM_META_VEC_MAX);
    LM_CHECK(h->encoding_len >= 0 && h->encoding_len <= LM_META_VEC_MAX, err,
             "%s: encoding length %d, 0 to %d expected", where, h->encoding_len,
             LM_META_VEC_MAX);
    LM_CHECK(n_cells(h) <= (size_t)LM_META_CELLS_MAX, err,
             "%s: %d datasets x %d architectures x %d epochs is over %ld curve entries", where,
             h->n_datasets, h->n_archs, h->epochs, LM_META_CELLS_MAX);
    return LM_OK;
}

static int check_names(char *const *names, int n, const char *where, int err) {
    for (int d = 0; d < n; d++) {
        LM_CHECK(names[d] && names[d][0], err, "%s: dataset %d has no name", where, d);
        LM_CHECK(strlen(names[d]) <= LM_META_NAME_MAX, err,
                 "%s: the name of dataset %d is longer than %d bytes", where, d,
                 LM_META_NAME_MAX);
        for (int j = 0; j < d; j++)
            LM_CHECK(strcmp(names[j], names[d]) != 0, err,
                     "%s: datasets %d and %d are both called '%s'", where, j, d, names[d]);
    }
    return LM_OK;
}

static int check_header(const lm_meta *h, const char *path) {
    LM_CALL(check_dims(h, path, LM_EINVAL));
    LM_CHECK(h->dataset_names && h->descriptors && h->params && h->flops, LM_EINVAL,
             "%s: the header lacks dataset names, descriptors, params or FLOPs", path);
    LM_CHECK((h->genome || !h->genome_len) && (h->encoding || !h->encoding_len), LM_EINVAL,
             "%s: the header lacks genomes or encodings", path);
    LM_CHECK(!h->space || strlen(h->space) <= LM_META_SPACE_MAX, LM_EINVAL,
             "%s: the space description is longer than %d bytes", path, LM_META_SPACE_MAX);
    return check_names(h->dataset_names, h->n_datasets, path, LM_EINVAL);
}

/* ---- writing ---- */

/* Creates an N-d dataset of file type ftype; data (memory type mtype) is written when
 * not NULL. chunk: NULL for contiguous storage, else chunk dims with shuffle and gzip.
 * fill: the value of what is never written (NULL: HDF5's zero). */
static int create_nd(lm__h5 *f, hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                     const hsize_t *dims, const hsize_t *chunk, const void *fill,
                     const void *data, const char *units, const char *desc, hid_t *out) {
    hid_t space = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = H5I_INVALID_HID;
    int rc = LM_OK;
    if (space < 0 || dcpl < 0) {
        rc = BAD(f, loc, name, "cannot create a dataspace");
        goto done;
    }
    if (chunk && (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 ||
                  H5Pset_deflate(dcpl, 4) < 0 || H5Pset_fletcher32(dcpl) < 0)) {
        rc = BAD(f, loc, name, "cannot set chunking and compression");
        goto done;
    }
    if (fill && H5Pset_fill_value(dcpl, mtype, fill) < 0) {
        rc = BAD(f, loc, name, "cannot set the fill value");
        goto done;
    }
    d = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0) {
        rc = BAD(f, loc, name, "cannot create dataset");
        goto done;
    }
    hssize_t np = H5Sget_simple_extent_npoints(space);
    if (data && np > 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        rc = BAD(f, loc, name, "cannot write dataset");
        goto done;
    }
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, units, desc), done);
    if (out) {
        *out = d;
        d = H5I_INVALID_HID;
    }
done:
    lm__h5_close_id(&d);
    lm__h5_close_id(&space);
    lm__h5_close_id(&dcpl);
    return rc;
}

static int write_datasets_group(lm__h5 *f, const lm_meta *h) {
    hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID;
    int rc;
    LM_CALL(lm__h5_group_create(f, f->id, "datasets", &g));
    LM_CALL_GOTO(rc, lm__h5_write_strs(f, g, "name", (size_t)h->n_datasets,
                                       (const char *const *)h->dataset_names, &d), out);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, "", "dataset names (the D axis of /curves)"), out);
    lm__h5_close_id(&d);
    hsize_t dims[2] = {(hsize_t)h->n_datasets, LM_META_N_DESC};
    LM_CALL_GOTO(rc, create_nd(f, g, "descriptors", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims,
                               NULL, NULL, h->descriptors, "mixed",
                               "per dataset: n_train, n_val, n_features (c*h*w), n_classes, "
                               "image (0/1), majority-class fraction",
                               NULL), out);
out:
    lm__h5_close_id(&d);
    lm__h5_close_id(&g);
    return rc;
}

static int write_archs_group(lm__h5 *f, const lm_meta *h) {
    hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID;
    int rc;
    LM_CALL(lm__h5_group_create(f, f->id, "architectures", &g));
    hsize_t gd[2] = {(hsize_t)h->n_archs, (hsize_t)h->genome_len};
    LM_CALL_GOTO(rc, create_nd(f, g, "genome", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, gd, NULL, NULL,
                               h->genome, "", "architecture genome (K x G)", NULL), out);
    hsize_t ed[2] = {(hsize_t)h->n_archs, (hsize_t)h->encoding_len};
    LM_CALL_GOTO(rc, create_nd(f, g, "encoding", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, ed, NULL,
                               NULL, h->encoding, "",
                               "fixed-length architecture encoding (K x L)", NULL), out);
    LM_CALL_GOTO(rc, lm__h5_write_1d(f, g, "params", LM_DT_I64, (size_t)h->n_archs, h->params,
                                     &d), out);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, "parameters", "trainable parameters"), out);
    lm__h5_close_id(&d);
    LM_CALL_GOTO(rc, lm__h5_write_1d(f, g, "flops", LM_DT_F64, (size_t)h->n_archs, h->flops,
                                     &d), out);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, "FLOPs",
                                      "floating-point operations of one forward pass of one "
                                      "example"), out);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, g, "space", h->space ? h->space : ""), out);
out:
    lm__h5_close_id(&d);
    lm__h5_close_id(&g);
    return rc;
}

/* /curves and /done; filled from h when with_data, else NaN and 0. Chunks hold whole
 * curves of a few architectures, so writing one pair touches one chunk per metric. */
static int write_curves(lm__h5 *f, const lm_meta *h, int with_data) {
    hid_t g = H5I_INVALID_HID;
    int rc = LM_OK;
    LM_CALL(lm__h5_group_create(f, f->id, "curves", &g));
    hsize_t dims[3] = {(hsize_t)h->n_datasets, (hsize_t)h->n_archs, (hsize_t)h->epochs};
    hsize_t per = 16384 / (hsize_t)h->epochs;
    hsize_t chunk[3] = {1, per < 1 ? 1 : per > dims[1] ? dims[1] : per, dims[2]};
    float nan = NAN;
    for (int m = 0; m < LM_META_N_METRICS && rc == LM_OK; m++)
        rc = create_nd(f, g, metric_names[m], H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dims, chunk,
                       &nan, with_data ? h->curves[m] : NULL, metric_units[m], metric_desc[m],
                       NULL);
    lm__h5_close_id(&g);
    LM_CALL(rc);
    hsize_t dd[2] = {dims[0], dims[1]};
    hsize_t dc[2] = {1, dims[1] < 65536 ? dims[1] : 65536};
    uint8_t zero = 0;
    LM_CALL(create_nd(f, f->id, "done", H5T_STD_U8LE, H5T_NATIVE_UINT8, 2, dd, dc, &zero,
                      with_data ? h->done : NULL, "",
                      "1 when the (dataset, architecture) pair was trained completely", NULL));
    return LM_OK;
}

/* Writes a whole file at path (tmp + rename). */
static int write_file(const char *path, const lm_meta *h, int with_data) {
    lm__h5 f;
    LM_CALL(lm__h5_create(&f, path));
    int rc;
    LM_CALL_GOTO(rc, lm__h5_set_format(&f, LM_META_FORMAT), fail);
    LM_CALL_GOTO(rc, lm__h5_attr_i64(&f, f.id, "version", LM_META_VERSION), fail);
    LM_CALL_GOTO(rc, lm__h5_attr_i64(&f, f.id, "epochs", h->epochs), fail);
    LM_CALL_GOTO(rc, write_datasets_group(&f, h), fail);
    LM_CALL_GOTO(rc, write_archs_group(&f, h), fail);
    LM_CALL_GOTO(rc, write_curves(&f, h, with_data), fail);
    LM_CALL(lm__h5_commit(&f));
    return LM_OK;
fail:
    lm__h5_discard(&f);
    return rc;
}

/* ---- reading ---- */

/* Opens name under loc, which must have rank `rank`, type class cls, and dims equal to
 * want[i] where want[i] >= 0 (each at most dim_max); sets dims. */
static int open_nd(lm__h5 *f, hid_t loc, const char *name, int rank, const long *want,
                   hsize_t dim_max, H5T_class_t cls, hsize_t *dims, hid_t *out) {
    int r;
    hid_t d;
    LM_CALL(lm__h5_dataset_open(f, loc, name, 3, &r, dims, dim_max, &d));
    int rc = LM_OK;
    if (r != rank) {
        rc = BAD(f, loc, name, "has rank %d, %d expected", r, rank);
        goto fail;
    }
    for (int i = 0; i < rank; i++)
        if (want[i] >= 0 && dims[i] != (hsize_t)want[i]) {
            char have[96] = "", exp[96] = "";
            for (int j = 0; j < rank; j++) {
                size_t a = strlen(have), b = strlen(exp);
                snprintf(have + a, sizeof have - a, "%s%llu", j ? " x " : "",
                         (unsigned long long)dims[j]);
                if (want[j] >= 0)
                    snprintf(exp + b, sizeof exp - b, "%s%ld", j ? " x " : "", want[j]);
                else
                    snprintf(exp + b, sizeof exp - b, "%s*", j ? " x " : "");
            }
            rc = BAD(f, loc, name, "has shape %s, %s expected", have, exp);
            goto fail;
        }
    hid_t t = H5Dget_type(d);
    H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    lm__h5_close_id(&t);
    if (c != cls) {
        rc = BAD(f, loc, name, "does not hold %s",
                 cls == H5T_FLOAT ? "floating-point numbers" : "integers");
        goto fail;
    }
    *out = d;
    return LM_OK;
fail:
    H5Dclose(d);
    return rc;
}

/* Reads a whole dataset checked as open_nd does into a malloc'ed array of mtype. */
static int read_nd(lm__h5 *f, hid_t loc, const char *name, int rank, const long *want,
                   hsize_t dim_max, H5T_class_t cls, hid_t mtype, size_t elsize, hsize_t *dims,
                   void **out) {
    hid_t d = H5I_INVALID_HID;
    *out = NULL;
    LM_CALL(open_nd(f, loc, name, rank, want, dim_max, cls, dims, &d));
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
    int rc = LM_OK;
    void *buf = malloc(n ? n * elsize : 1);
    if (!buf) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    } else if (n && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        rc = BAD(f, loc, name, "cannot read (corrupt data)");
        free(buf);
    } else {
        *out = buf;
    }
    H5Dclose(d);
    return rc;
}

static int read_datasets_group(lm__h5 *f, lm_meta *m) {
    hid_t g;
    LM_CALL(lm__h5_group_open(f, f->id, "datasets", &g));
    size_t n = 0;
    int rc;
    LM_CALL_GOTO(rc, lm__h5_read_strs(f, g, "name", LM_META_DATASETS_MAX, LM_META_NAME_MAX,
                                      &m->dataset_names, &n), out);
    m->n_datasets = (int)n;
    if (n == 0) {
        rc = BAD(f, g, "name", "holds no dataset name");
        goto out;
    }
    char where[LM__H5_PATH_MAX + 32];
    snprintf(where, sizeof where, "%s: /datasets/name", f->path);
    LM_CALL_GOTO(rc, check_names(m->dataset_names, m->n_datasets, where, f->bad), out);
    long want[2] = {m->n_datasets, LM_META_N_DESC};
    hsize_t dims[2];
    LM_CALL_GOTO(rc, read_nd(f, g, "descriptors", 2, want, LM_META_DATASETS_MAX, H5T_FLOAT,
                             H5T_NATIVE_DOUBLE, sizeof(double), dims, (void **)&m->descriptors),
                 out);
out:
    lm__h5_close_id(&g);
    return rc;
}

static int read_archs_group(lm__h5 *f, lm_meta *m) {
    hid_t g;
    LM_CALL(lm__h5_group_open(f, f->id, "architectures", &g));
    size_t n = 0;
    int rc;
    LM_CALL_GOTO(rc, lm__h5_read_1d(f, g, "params", LM_DT_I64, LM_META_ARCHS_MAX,
                                    (void **)&m->params, &n), out);
    m->n_archs = (int)n;
    if (n == 0) {
        rc = BAD(f, g, "params", "holds no architecture");
        goto out;
    }
    hsize_t dims[2];
    long want1[1] = {m->n_archs};
    LM_CALL_GOTO(rc, read_nd(f, g, "flops", 1, want1, LM_META_ARCHS_MAX, H5T_FLOAT,
                             H5T_NATIVE_DOUBLE, sizeof(double), dims, (void **)&m->flops), out);
    long want2[2] = {m->n_archs, -1};
    LM_CALL_GOTO(rc, read_nd(f, g, "genome", 2, want2, LM_META_ARCHS_MAX, H5T_INTEGER,
                             H5T_NATIVE_INT32, sizeof(int32_t), dims, (void **)&m->genome), out);
    if (dims[1] > LM_META_VEC_MAX) {
        rc = BAD(f, g, "genome", "genomes of %llu entries, at most %d expected",
                 (unsigned long long)dims[1], LM_META_VEC_MAX);
        goto out;
    }
    m->genome_len = (int)dims[1];
    LM_CALL_GOTO(rc, read_nd(f, g, "encoding", 2, want2, LM_META_ARCHS_MAX, H5T_FLOAT,
                             H5T_NATIVE_FLOAT, sizeof(float), dims, (void **)&m->encoding), out);
    if (dims[1] > LM_META_VEC_MAX) {
        rc = BAD(f, g, "encoding", "encodings of %llu entries, at most %d expected",
                 (unsigned long long)dims[1], LM_META_VEC_MAX);
        goto out;
    }
    m->encoding_len = (int)dims[1];
    LM_CALL_GOTO(rc, lm__h5_attr_read_str(f, g, "space", LM_META_SPACE_MAX, &m->space), out);
out:
    lm__h5_close_id(&g);
    return rc;
}

static int read_done(lm__h5 *f, lm_meta *m) {
    long want[2] = {m->n_datasets, m->n_archs};
    hsize_t dims[2];
    LM_CALL(read_nd(f, f->id, "done", 2, want, LM_META_ARCHS_MAX, H5T_INTEGER, H5T_NATIVE_UINT8,
                    1, dims, (void **)&m->done));
    for (size_t i = 0; i < (size_t)m->n_datasets * (size_t)m->n_archs; i++)
        if (m->done[i] > 1)
            return BAD(f, f->id, "done", "entry (%zu, %zu) is %u, 0 or 1 expected",
                       i / (size_t)m->n_archs, i % (size_t)m->n_archs, m->done[i]);
    return LM_OK;
}

/* Checks the curve datasets' shapes; reads them when m->curves is wanted. */
static int read_curves(lm__h5 *f, lm_meta *m, int with_data) {
    hid_t g;
    LM_CALL(lm__h5_group_open(f, f->id, "curves", &g));
    long want[3] = {m->n_datasets, m->n_archs, m->epochs};
    hsize_t dims[3];
    int rc = LM_OK;
    for (int i = 0; i < LM_META_N_METRICS && rc == LM_OK; i++) {
        if (with_data) {
            rc = read_nd(f, g, metric_names[i], 3, want, LM_META_ARCHS_MAX, H5T_FLOAT,
                         H5T_NATIVE_FLOAT, sizeof(float), dims, (void **)&m->curves[i]);
        } else {
            hid_t d;
            rc = open_nd(f, g, metric_names[i], 3, want, LM_META_ARCHS_MAX, H5T_FLOAT, dims, &d);
            if (rc == LM_OK) H5Dclose(d);
        }
    }
    lm__h5_close_id(&g);
    if (rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    return LM_OK;
}

/* Reads an open file into m: the header and done flags, the curves when with_data. */
static int read_open(lm__h5 *f, lm_meta *m, int with_data) {
    memset(m, 0, sizeof *m);
    LM_CALL(lm__h5_check_format(f, LM_META_FORMAT));
    int64_t v;
    LM_CALL(lm__h5_attr_read_i64(f, f->id, "version", &v));
    if (v != LM_META_VERSION)
        return BAD(f, f->id, "@version", "format version %lld, this lamarck reads %d",
                   (long long)v, LM_META_VERSION);
    LM_CALL(lm__h5_attr_read_i64(f, f->id, "epochs", &v));
    if (v < 1 || v > LM_META_EPOCHS_MAX)
        return BAD(f, f->id, "@epochs", "%lld epochs, 1 to %d expected", (long long)v,
                   LM_META_EPOCHS_MAX);
    m->epochs = (int)v;
    LM_CALL(read_datasets_group(f, m));
    LM_CALL(read_archs_group(f, m));
    LM_CALL(check_dims(m, f->path, f->bad));
    LM_CALL(read_done(f, m));
    LM_CALL(read_curves(f, m, with_data));
    return LM_OK;
}

int lm_meta_read(const char *path, lm_meta *out) {
    lm__h5 f;
    memset(out, 0, sizeof *out);
    LM_CALL(lm__h5_open(&f, path, LM_EDATA));
    int rc = read_open(&f, out, 1);
    lm__h5_close(&f);
    if (rc < 0) {
        lm_meta_free(out);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

/* ---- the file open for writing ---- */

int lm_meta_close(lm_meta_file **pf) {
    if (!pf || !*pf) return LM_OK;
    lm_meta_file *f = *pf;
    for (int i = 0; i < LM_META_N_METRICS; i++) lm__h5_close_id(&f->curves[i]);
    lm__h5_close_id(&f->done);
    herr_t e = f->h5.id >= 0 ? H5Fclose(f->h5.id) : 0;
    f->h5.id = H5I_INVALID_HID;
    char path[LM__H5_PATH_MAX];
    lm_strlcpy(path, f->h5.path, sizeof path);
    H5Eclear2(H5E_DEFAULT);
    lm_meta_free(&f->header);
    free(f);
    *pf = NULL;
    LM_CHECK(e >= 0, LM_EH5, "%s: closing the meta-dataset failed", path);
    return LM_OK;
}

int lm_meta_open(const char *path, int writable, lm_meta_file **out) {
    *out = NULL;
    lm_meta_file *f = calloc(1, sizeof *f);
    LM_CHECK_ALLOC(f);
    f->h5.id = H5I_INVALID_HID;
    f->done = H5I_INVALID_HID;
    for (int i = 0; i < LM_META_N_METRICS; i++) f->curves[i] = H5I_INVALID_HID;
    int rc;
    LM_CALL_GOTO(rc, lm__h5_open(&f->h5, path, LM_EDATA), fail);
    LM_CALL_GOTO(rc, read_open(&f->h5, &f->header, 0), fail);
    if (writable) {
        /* Checked read-only first; now the same file for writing. */
        lm__h5_close_id(&f->h5.id);
        f->h5.id = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
        if (f->h5.id < 0) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EIO,
                              "%s: cannot open the meta-dataset for writing (read-only, or "
                              "open in another process?)", path);
            goto fail;
        }
        f->writable = 1;
        hid_t g = H5Gopen2(f->h5.id, "curves", H5P_DEFAULT);
        for (int i = 0; i < LM_META_N_METRICS && g >= 0; i++)
            f->curves[i] = H5Dopen2(g, metric_names[i], H5P_DEFAULT);
        lm__h5_close_id(&g);
        f->done = H5Dopen2(f->h5.id, "done", H5P_DEFAULT);
        int ok = f->done >= 0;
        for (int i = 0; i < LM_META_N_METRICS; i++) ok = ok && f->curves[i] >= 0;
        if (!ok) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EH5,
                              "%s: cannot open /curves and /done for writing", path);
            goto fail;
        }
    }
    *out = f;
    return LM_OK;
fail:
    lm_meta_close(&f);
    return rc;
}

const lm_meta *lm_meta_file_header(const lm_meta_file *f) { return &f->header; }

int lm_meta_create(const char *path, const lm_meta *h, lm_meta_file **out) {
    *out = NULL;
    LM_CALL(check_header(h, path));
    FILE *probe = fopen(path, "rb");
    if (probe) {
        fclose(probe);
        LM_FAIL(LM_EEXIST, "%s: already exists (open it to continue, or remove it to start over)",
                path);
    }
    LM_CALL(write_file(path, h, 0));
    LM_CALL(lm_meta_open(path, 1, out));
    return LM_OK;
}

/* Writes count values of mtype at start (hyperslab of dataset d, rank dims). */
static int write_slab(lm_meta_file *f, hid_t d, int rank, const hsize_t *start,
                      const hsize_t *count, hid_t mtype, const void *data, const char *what) {
    hid_t fs = H5Dget_space(d);
    hsize_t n = 1;
    for (int i = 0; i < rank; i++) n *= count[i];
    hid_t ms = H5Screate_simple(1, &n, NULL);
    int ok = fs >= 0 && ms >= 0 &&
             H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
             H5Dwrite(d, mtype, ms, fs, H5P_DEFAULT, data) >= 0;
    lm__h5_close_id(&fs);
    lm__h5_close_id(&ms);
    if (!ok) return BAD(&f->h5, d, NULL, "cannot write %s", what);
    return LM_OK;
}

int lm_meta_write_pair(lm_meta_file *f, int d, int k, const float *curves, int done) {
    const lm_meta *h = &f->header;
    LM_CHECK(f->writable, LM_EINVAL, "%s: opened read-only", f->h5.path);
    LM_CHECK(d >= 0 && d < h->n_datasets && k >= 0 && k < h->n_archs, LM_EINVAL,
             "%s: pair (dataset %d, architecture %d) outside %d x %d", f->h5.path, d, k,
             h->n_datasets, h->n_archs);
    LM_CHECK(done == 0 || done == 1, LM_EINVAL, "%s: done flag %d", f->h5.path, done);
    f->h5.bad = LM_EH5;
    hsize_t start[3] = {(hsize_t)d, (hsize_t)k, 0}, count[3] = {1, 1, (hsize_t)h->epochs};
    for (int m = 0; m < LM_META_N_METRICS; m++)
        LM_CALL(write_slab(f, f->curves[m], 3, start, count, H5T_NATIVE_FLOAT,
                           curves + (size_t)m * (size_t)h->epochs, "a curve"));
    uint8_t v = (uint8_t)done;
    hsize_t one[2] = {1, 1};
    LM_CALL(write_slab(f, f->done, 2, start, one, H5T_NATIVE_UINT8, &v, "the done flag"));
    /* On disk now, so that a job killed later keeps this pair. */
    if (H5Fflush(f->h5.id, H5F_SCOPE_LOCAL) < 0) {
        H5Eclear2(H5E_DEFAULT);
        LM_FAIL(LM_EIO, "%s: cannot flush the meta-dataset after pair (%d, %d)", f->h5.path, d, k);
    }
    f->header.done[(size_t)d * (size_t)h->n_archs + (size_t)k] = (uint8_t)done;
    return LM_OK;
}

/* ---- merging ---- */

/* Whether part b describes the same datasets, architectures and epochs as part a;
 * else LM_EDATA saying what differs. */
static int same_header(const lm_meta *a, const char *pa, const lm_meta *b, const char *pb) {
    LM_CHECK(a->n_datasets == b->n_datasets && a->n_archs == b->n_archs &&
                 a->epochs == b->epochs,
             LM_EDATA,
             "%s: %d datasets x %d architectures x %d epochs, but %s has %d x %d x %d: not parts "
             "of the same generation",
             pb, b->n_datasets, b->n_archs, b->epochs, pa, a->n_datasets, a->n_archs, a->epochs);
    LM_CHECK(a->genome_len == b->genome_len && a->encoding_len == b->encoding_len, LM_EDATA,
             "%s: genomes of %d and encodings of %d entries, but %s has %d and %d", pb,
             b->genome_len, b->encoding_len, pa, a->genome_len, a->encoding_len);
    for (int d = 0; d < a->n_datasets; d++)
        LM_CHECK(!strcmp(a->dataset_names[d], b->dataset_names[d]), LM_EDATA,
                 "%s: /datasets/name: dataset %d is '%s', but '%s' in %s", pb, d,
                 b->dataset_names[d], a->dataset_names[d], pa);
    size_t K = (size_t)a->n_archs;
    LM_CHECK(!memcmp(a->descriptors, b->descriptors,
                     (size_t)a->n_datasets * LM_META_N_DESC * sizeof(double)),
             LM_EDATA, "%s: /datasets/descriptors differ from those of %s", pb, pa);
    LM_CHECK(!memcmp(a->genome, b->genome, K * (size_t)a->genome_len * sizeof(int32_t)),
             LM_EDATA, "%s: /architectures/genome differs from that of %s", pb, pa);
    LM_CHECK(!memcmp(a->encoding, b->encoding, K * (size_t)a->encoding_len * sizeof(float)),
             LM_EDATA, "%s: /architectures/encoding differs from that of %s", pb, pa);
    LM_CHECK(!memcmp(a->params, b->params, K * sizeof(int64_t)), LM_EDATA,
             "%s: /architectures/params differ from those of %s", pb, pa);
    LM_CHECK(!memcmp(a->flops, b->flops, K * sizeof(double)), LM_EDATA,
             "%s: /architectures/flops differ from those of %s", pb, pa);
    LM_CHECK(!strcmp(a->space, b->space), LM_EDATA,
             "%s: /architectures attribute 'space' is '%.200s', but '%.200s' in %s", pb, b->space,
             a->space, pa);
    return LM_OK;
}

static int same_value(float x, float y) { return x == y || (isnan(x) && isnan(y)); }

/* The first epoch where the pair's curves differ in a and b: sets *metric, *epoch. */
static int pair_differs(const lm_meta *a, const lm_meta *b, int d, int k, int *metric,
                        int *epoch) {
    size_t base = lm_meta_index(a, d, k, 0);
    for (int m = 0; m < LM_META_N_METRICS; m++)
        for (int e = 0; e < a->epochs; e++)
            if (!same_value(a->curves[m][base + (size_t)e], b->curves[m][base + (size_t)e])) {
                *metric = m;
                *epoch = e;
                return 1;
            }
    return 0;
}

static int pair_has_values(const lm_meta *m, int d, int k) {
    size_t base = lm_meta_index(m, d, k, 0);
    for (int i = 0; i < LM_META_N_METRICS; i++)
        for (int e = 0; e < m->epochs; e++)
            if (!isnan(m->curves[i][base + (size_t)e])) return 1;
    return 0;
}

static void copy_pair(lm_meta *dst, const lm_meta *src, int d, int k) {
    size_t base = lm_meta_index(dst, d, k, 0);
    for (int i = 0; i < LM_META_N_METRICS; i++)
        memcpy(dst->curves[i] + base, src->curves[i] + base, (size_t)dst->epochs * sizeof(float));
}

/* Folds part p (index ip) into acc; src[pair] is the part whose values acc holds for
 * the pair (-1: none yet). */
static int fold_part(lm_meta *acc, int *src, const lm_meta *p, int ip,
                     const char *const *inputs) {
    for (int d = 0; d < acc->n_datasets; d++)
        for (int k = 0; k < acc->n_archs; k++) {
            size_t pair = (size_t)d * (size_t)acc->n_archs + (size_t)k;
            int metric, epoch;
            if (p->done[pair] && acc->done[pair]) {
                if (pair_differs(acc, p, d, k, &metric, &epoch)) {
                    size_t at = lm_meta_index(acc, d, k, epoch);
                    LM_FAIL(LM_EDATA,
                            "pair (dataset '%s', architecture %d) is done in both %s and %s, with "
                            "different curves: /curves/%s epoch %d is %g and %g",
                            acc->dataset_names[d], k, inputs[src[pair]], inputs[ip],
                            metric_names[metric], epoch + 1, (double)acc->curves[metric][at],
                            (double)p->curves[metric][at]);
                }
            } else if (p->done[pair] || (src[pair] < 0 && pair_has_values(p, d, k))) {
                copy_pair(acc, p, d, k);
                acc->done[pair] = p->done[pair];
                src[pair] = ip;
            }
        }
    return LM_OK;
}

int lm_meta_merge(const char *const *inputs, int n, const char *out) {
    LM_CHECK(n >= 1, LM_EINVAL, "nothing to merge into %s", out);
    for (int i = 0; i < n; i++)
        LM_CHECK(strcmp(inputs[i], out) != 0, LM_EINVAL,
                 "%s is both a part and the output of the merge", out);
    lm_meta acc, part;
    memset(&part, 0, sizeof part);
    LM_CALL(lm_meta_read(inputs[0], &acc));
    size_t pairs = (size_t)acc.n_datasets * (size_t)acc.n_archs;
    int *src = malloc(pairs * sizeof *src);
    int rc = src ? LM_OK : lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    for (size_t i = 0; rc == LM_OK && i < pairs; i++) src[i] = -1;
    for (int d = 0; rc == LM_OK && d < acc.n_datasets; d++)
        for (int k = 0; k < acc.n_archs; k++)
            if (acc.done[(size_t)d * (size_t)acc.n_archs + (size_t)k] ||
                pair_has_values(&acc, d, k))
                src[(size_t)d * (size_t)acc.n_archs + (size_t)k] = 0;
    for (int i = 1; rc == LM_OK && i < n; i++) {
        rc = lm_meta_read(inputs[i], &part);
        if (rc == LM_OK) rc = same_header(&acc, inputs[0], &part, inputs[i]);
        if (rc == LM_OK) rc = fold_part(&acc, src, &part, i, inputs);
        lm_meta_free(&part);
    }
    if (rc == LM_OK) rc = write_file(out, &acc, 1);
    free(src);
    lm_meta_free(&acc);
    if (rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    return LM_OK;
}
