/* HDF5 helpers: files written to a temporary name and renamed, 1-D columns,
 * strings and attributes, and readers that check ranks, dimensions, classes and
 * string lengths before allocating. See h5util.h. */
#include "io/h5util.h"
#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

/* HDF5's most specific message from its error stack, then the stack cleared. */
static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data) {
    if (n == 0 && e->desc) snprintf(data, 160, "%s", e->desc);
    return 0;
}

static void h5_detail(char *buf) {
    buf[0] = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, buf);
    H5Eclear2(H5E_DEFAULT);
}

void lm__h5_objname(hid_t loc, const char *name, char *buf, size_t cap) {
    char base[512] = "/";
    if (loc >= 0 && H5Iget_name(loc, base, sizeof base) <= 0) snprintf(base, sizeof base, "/");
    if (!name)
        snprintf(buf, cap, "%s", base);
    else if (name[0] == '@') /* an attribute of loc, as lm__h5_attr_read_strs names it */
        snprintf(buf, cap, "%s attribute '%s'", base, name + 1);
    else if (!strcmp(base, "/"))
        snprintf(buf, cap, "/%s", name);
    else
        snprintf(buf, cap, "%s/%s", base, name);
}

/* Records "FILE: OBJECT: message" (plus HDF5's own reason for LM_EH5). */
static int fail_at(const char *file, int line, const char *func, lm__h5 *f, hid_t loc,
                   const char *name, int err, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));
static int fail_at(const char *file, int line, const char *func, lm__h5 *f, hid_t loc,
                   const char *name, int err, const char *fmt, ...) {
    char msg[512], obj[600], detail[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lm__h5_objname(loc, name, obj, sizeof obj);
    h5_detail(detail);
    if (err == LM_EH5 && detail[0])
        return lm_error_set(file, line, func, err, "%s: %s: %s (HDF5: %s)", f->path, obj, msg,
                            detail);
    return lm_error_set(file, line, func, err, "%s: %s: %s", f->path, obj, msg);
}

#define IOFAIL(err, f, loc, name, ...) \
    fail_at(__FILE__, __LINE__, __func__, (f), (loc), (name), (err), __VA_ARGS__)

long lm__h5_open_ids(void) {
    ssize_t n = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    H5Eclear2(H5E_DEFAULT);
    return (long)n;
}

void lm__h5_close_id(hid_t *id) {
    if (*id < 0) return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: break;
    }
    *id = H5I_INVALID_HID;
}

/* ---- files ---- */

/* Keeps an object's attributes (and a group's links) in its object header however
 * many there are. The "dense" alternative HDF5 switches to beyond 8 of them keeps
 * them in a fractal heap whose blocks carry no checksum, and HDF5 1.10 can crash
 * reading a damaged one; object headers are checksummed in the 1.8+ format. */
#define COMPACT_MAX 65535

static void keep_compact(hid_t ocpl, int links) {
    if (ocpl < 0) return;
    H5Pset_attr_phase_change(ocpl, COMPACT_MAX, 0);
    if (links) H5Pset_link_phase_change(ocpl, COMPACT_MAX, 0);
}

static void quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static int set_path(lm__h5 *f, const char *path) {
    f->id = H5I_INVALID_HID;
    f->tmp[0] = 0;
    LM_CHECK(strlen(path) < sizeof f->path, LM_EINVAL, "path too long: %.80s...", path);
    snprintf(f->path, sizeof f->path, "%s", path);
    return LM_OK;
}

int lm__h5_create(lm__h5 *f, const char *path) {
    quiet();
    LM_CALL(set_path(f, path));
    f->bad = LM_EH5;
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp", path);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    /* Creation order is tracked so readers list columns in the order written. */
    if (fcpl >= 0) H5Pset_link_creation_order(fcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    keep_compact(fcpl, 1);
    /* The 1.8+ file format: superblock, object headers and their indexes carry
     * checksums, so a damaged file is an error on reading instead of garbage. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    errno = 0;
    f->id = H5Fcreate(f->tmp, H5F_ACC_TRUNC, fcpl >= 0 ? fcpl : H5P_DEFAULT,
                      fapl >= 0 ? fapl : H5P_DEFAULT);
    /* The reason, before the next HDF5 call clears it: the system's when there is one
     * (a missing directory, a full disk), else HDF5's. */
    int saved = errno;
    char detail[160];
    h5_detail(detail);
    lm__h5_close_id(&fcpl);
    lm__h5_close_id(&fapl);
    if (f->id < 0) {
        f->tmp[0] = 0; /* nothing of ours to remove */
        LM_FAIL(LM_EIO, "%s: cannot create %s.tmp: %s", path, path,
                saved ? strerror(saved) : detail[0] ? detail : "HDF5 error");
    }
    return LM_OK;
}

int lm__h5_commit(lm__h5 *f) {
    herr_t e = H5Fclose(f->id);
    f->id = H5I_INVALID_HID;
    if (e < 0) {
        char detail[160];
        h5_detail(detail);
        remove(f->tmp);
        LM_FAIL(LM_EH5, "%s: closing %s failed (HDF5: %s)", f->path, f->tmp, detail);
    }
    if (rename(f->tmp, f->path) != 0) {
        int saved = errno;
        remove(f->tmp);
        LM_FAIL(LM_EIO, "%s: cannot rename %s into place: %s", f->path, f->tmp, strerror(saved));
    }
    f->tmp[0] = 0;
    return LM_OK;
}

void lm__h5_discard(lm__h5 *f) {
    lm__h5_close_id(&f->id);
    if (f->tmp[0]) remove(f->tmp);
    f->tmp[0] = 0;
    H5Eclear2(H5E_DEFAULT);
}

int lm__h5_open(lm__h5 *f, const char *path, int bad) {
    quiet();
    LM_CALL(set_path(f, path));
    f->bad = bad;
    errno = 0;
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        int saved = errno;
        LM_FAIL(saved == ENOENT ? LM_ENOENT : LM_EIO, "%s: cannot open: %s", path,
                strerror(saved));
    }
    fclose(probe);
    /* A checkpoint that is not a readable HDF5 file is most often one cut short. */
    const char *what = bad == LM_ECKPT ? "checkpoint " : "";
    const char *how = bad == LM_ECKPT ? " is incomplete or corrupt:" : ":";
    htri_t is = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    LM_CHECK(is > 0, bad, "%s%s%s not an HDF5 file", what, path, how);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* Lock where the file system supports it, read anyway where it does not (as on
     * some parallel file systems): files are only ever replaced by rename. */
    if (fapl >= 0) H5Pset_file_locking(fapl, 1, 1);
    f->id = H5Fopen(path, H5F_ACC_RDONLY, fapl >= 0 ? fapl : H5P_DEFAULT);
    char detail[160];
    h5_detail(detail); /* before closing fapl clears HDF5's error stack */
    lm__h5_close_id(&fapl);
    if (f->id < 0) {
        LM_FAIL(bad, "%s%s%s cannot open as HDF5 (%s)", what, path, how,
                detail[0] ? detail : "corrupt file");
    }
    return LM_OK;
}

void lm__h5_close(lm__h5 *f) {
    lm__h5_close_id(&f->id);
    H5Eclear2(H5E_DEFAULT);
}

int lm__h5_set_format(lm__h5 *f, const char *format) {
    LM_CALL(lm__h5_attr_str(f, f->id, "format", format));
    return LM_OK;
}

int lm__h5_check_format(lm__h5 *f, const char *format) {
    char *have = NULL;
    LM_CHECK(lm__h5_attr_exists(f->id, "format"), f->bad,
             "%s: not a %s file (an HDF5 file without lamarck's format attribute)", f->path,
             format);
    LM_CALL(lm__h5_attr_read_str(f, f->id, "format", 64, &have));
    int same = !strcmp(have, format);
    if (!same) {
        int rc = lm_error_set(__FILE__, __LINE__, __func__, f->bad,
                              "%s: not a %s file but a %s file", f->path, format, have);
        free(have);
        return rc;
    }
    free(have);
    return LM_OK;
}

/* ---- groups ---- */

int lm__h5_group_create(lm__h5 *f, hid_t loc, const char *name, hid_t *out) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    if (gcpl >= 0) H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
    keep_compact(gcpl, 1);
    *out = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl >= 0 ? gcpl : H5P_DEFAULT, H5P_DEFAULT);
    lm__h5_close_id(&gcpl);
    if (*out < 0) return IOFAIL(LM_EH5, f, loc, name, "cannot create group");
    return LM_OK;
}

int lm__h5_exists(hid_t loc, const char *name) {
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    return e > 0;
}

int lm__h5_group_open(lm__h5 *f, hid_t loc, const char *name, hid_t *out) {
    *out = H5I_INVALID_HID;
    if (!lm__h5_exists(loc, name)) return IOFAIL(f->bad, f, loc, name, "missing group");
    *out = H5Gopen2(loc, name, H5P_DEFAULT);
    if (*out < 0) return IOFAIL(f->bad, f, loc, name, "is not a group");
    return LM_OK;
}

/* ---- types ---- */

static hid_t file_type(lm_dtype t) {
    switch (t) {
    case LM_DT_F64: return H5T_IEEE_F64LE;
    case LM_DT_F32: return H5T_IEEE_F32LE;
    case LM_DT_I64: return H5T_STD_I64LE;
    case LM_DT_I32: return H5T_STD_I32LE;
    case LM_DT_U64: return H5T_STD_U64LE;
    case LM_DT_U8: case LM_DT_STR: return H5T_STD_U8LE;
    }
    return H5T_STD_U8LE;
}

static hid_t mem_type(lm_dtype t) {
    switch (t) {
    case LM_DT_F64: return H5T_NATIVE_DOUBLE;
    case LM_DT_F32: return H5T_NATIVE_FLOAT;
    case LM_DT_I64: return H5T_NATIVE_INT64;
    case LM_DT_I32: return H5T_NATIVE_INT32;
    case LM_DT_U64: return H5T_NATIVE_UINT64;
    case LM_DT_U8: case LM_DT_STR: return H5T_NATIVE_UINT8;
    }
    return H5T_NATIVE_UINT8;
}

static int is_float(lm_dtype t) { return t == LM_DT_F64 || t == LM_DT_F32; }

/* A variable-length string type in the given character set; the caller closes it. */
static hid_t vstr_type(H5T_cset_t cset) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, cset) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* A fixed-length, NUL-terminated string type of size bytes; the caller closes it. */
static hid_t fstr_type(size_t size, H5T_cset_t cset) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, size) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
        H5Tset_cset(t, cset) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* ---- writing ---- */

/* Creates and writes a dataset; keeps it open in *out or closes it. */
static int write_dataset(lm__h5 *f, hid_t loc, const char *name, hid_t ftype, hid_t mtype,
                         hid_t space, hid_t dcpl, const void *data, int have_data, hid_t *out) {
    hid_t p = dcpl == H5P_DEFAULT ? H5Pcreate(H5P_DATASET_CREATE) : H5Pcopy(dcpl);
    keep_compact(p, 0);
    hid_t d = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, p >= 0 ? p : dcpl, H5P_DEFAULT);
    lm__h5_close_id(&p);
    if (d < 0) return IOFAIL(LM_EH5, f, loc, name, "cannot create dataset");
    if (have_data && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
        int rc = IOFAIL(LM_EH5, f, loc, name, "cannot write dataset");
        H5Dclose(d);
        return rc;
    }
    if (out)
        *out = d;
    else
        H5Dclose(d);
    return LM_OK;
}

int lm__h5_write_1d(lm__h5 *f, hid_t loc, const char *name, lm_dtype t, size_t n,
                    const void *data, hid_t *out) {
    hsize_t dims[1] = {n};
    hid_t space = H5Screate_simple(1, dims, NULL);
    if (space < 0) return IOFAIL(LM_EH5, f, loc, name, "cannot create a dataspace of %zu", n);
    int rc = write_dataset(f, loc, name, file_type(t), mem_type(t), space, H5P_DEFAULT, data,
                           n > 0, out);
    H5Sclose(space);
    return rc;
}

int lm__h5_write_2d(lm__h5 *f, hid_t loc, const char *name, lm_dtype t, size_t rows,
                    size_t cols, const void *data, hid_t *out) {
    hsize_t dims[2] = {rows, cols};
    hid_t space = H5Screate_simple(2, dims, NULL);
    if (space < 0)
        return IOFAIL(LM_EH5, f, loc, name, "cannot create a dataspace of %zu x %zu", rows, cols);
    int rc = write_dataset(f, loc, name, file_type(t), mem_type(t), space, H5P_DEFAULT, data,
                           rows > 0 && cols > 0, out);
    H5Sclose(space);
    return rc;
}

/* Packs n strings (NULL as "") into one n x *size buffer of NUL-padded fixed-length
 * strings, *size the longest length + 1. Fixed-length strings keep the text in the
 * dataset or in the checksummed object header; variable-length ones would live in
 * HDF5's global heap, which has no checksum, and a damaged heap can crash the
 * HDF5 1.10 reader. */
static int pack_strs(size_t n, const char *const *v, char **out, size_t *size) {
    size_t longest = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = v[i] ? strlen(v[i]) : 0;
        if (len > longest) longest = len;
    }
    *size = longest + 1;
    *out = calloc(n ? n : 1, *size);
    LM_CHECK_ALLOC(*out);
    for (size_t i = 0; i < n; i++)
        if (v[i]) memcpy(*out + i * *size, v[i], strlen(v[i]));
    return LM_OK;
}

int lm__h5_write_strs(lm__h5 *f, hid_t loc, const char *name, size_t n, const char *const *v,
                      hid_t *out) {
    char *buf;
    size_t size;
    LM_CALL(pack_strs(n, v, &buf, &size));
    hsize_t dims[1] = {n};
    hid_t space = H5Screate_simple(1, dims, NULL), type = fstr_type(size, H5T_CSET_UTF8);
    int rc;
    if (space < 0 || type < 0)
        rc = IOFAIL(LM_EH5, f, loc, name, "cannot create a string type");
    else
        rc = write_dataset(f, loc, name, type, type, space, H5P_DEFAULT, buf, n > 0, out);
    lm__h5_close_id(&space);
    lm__h5_close_id(&type);
    free(buf);
    return rc;
}

int lm__h5_write_str(lm__h5 *f, hid_t loc, const char *name, const char *s, hid_t *out) {
    const char *p = s ? s : "";
    hid_t space = H5Screate(H5S_SCALAR), type = fstr_type(strlen(p) + 1, H5T_CSET_UTF8);
    int rc;
    if (space < 0 || type < 0)
        rc = IOFAIL(LM_EH5, f, loc, name, "cannot create a string type");
    else
        rc = write_dataset(f, loc, name, type, type, space, H5P_DEFAULT, p, 1, out);
    lm__h5_close_id(&space);
    lm__h5_close_id(&type);
    return rc;
}

int lm__h5_write_f32_nd(lm__h5 *f, hid_t loc, const char *name, int rank, const hsize_t *dims,
                        const float *data, int gzip_level) {
    LM_CHECK(rank >= 1 && rank <= 8, LM_EINVAL, "rank %d", rank);
    hsize_t row = 1, chunk[8];
    for (int i = 1; i < rank; i++) row *= dims[i];
    LM_CHECK(row * sizeof(float) <= (1u << 30), LM_EINVAL,
             "%s: %s: rows of %llu floats are too large to chunk", f->path, name,
             (unsigned long long)row);
    /* About 1 MiB per chunk: big enough to compress well, small enough to read a
     * slice without inflating the whole array. */
    hsize_t rows = (1u << 20) / (row * sizeof(float));
    if (rows < 1) rows = 1;
    if (rows > dims[0]) rows = dims[0];
    chunk[0] = rows;
    for (int i = 1; i < rank; i++) chunk[i] = dims[i];
    hid_t space = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    int rc = LM_OK;
    if (space < 0 || dcpl < 0) {
        rc = IOFAIL(LM_EH5, f, loc, name, "cannot create a dataspace");
        goto done;
    }
    /* Zero rows cannot be chunked; such an array is stored as it is. */
    /* Fletcher-32 makes damaged chunks a read error rather than wrong numbers. */
    if (dims[0] > 0 &&
        (H5Pset_chunk(dcpl, rank, chunk) < 0 || H5Pset_shuffle(dcpl) < 0 ||
         H5Pset_deflate(dcpl, (unsigned)gzip_level) < 0 || H5Pset_fletcher32(dcpl) < 0)) {
        rc = IOFAIL(LM_EH5, f, loc, name, "cannot set chunking and compression");
        goto done;
    }
    rc = write_dataset(f, loc, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, space, dcpl, data,
                       dims[0] > 0, NULL);
done:
    lm__h5_close_id(&space);
    lm__h5_close_id(&dcpl);
    return rc;
}

/* ---- attributes ---- */

/* Creates attribute name on obj (replacing an old one) and writes value. */
static int write_attr(lm__h5 *f, hid_t obj, const char *name, hid_t type, hid_t space,
                      const void *value) {
    if (lm__h5_attr_exists(obj, name) && H5Adelete(obj, name) < 0)
        return IOFAIL(LM_EH5, f, obj, NULL, "cannot replace attribute %s", name);
    hid_t a = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return IOFAIL(LM_EH5, f, obj, NULL, "cannot create attribute %s", name);
    int rc = LM_OK;
    if (H5Awrite(a, type, value) < 0)
        rc = IOFAIL(LM_EH5, f, obj, NULL, "cannot write attribute %s", name);
    H5Aclose(a);
    return rc;
}

int lm__h5_attr_str(lm__h5 *f, hid_t obj, const char *name, const char *value) {
    const char *p = value ? value : "";
    hid_t space = H5Screate(H5S_SCALAR), type = fstr_type(strlen(p) + 1, H5T_CSET_UTF8);
    int rc = space < 0 || type < 0 ? IOFAIL(LM_EH5, f, obj, NULL, "attribute %s", name)
                                   : write_attr(f, obj, name, type, space, p);
    lm__h5_close_id(&space);
    lm__h5_close_id(&type);
    return rc;
}

int lm__h5_attr_strs(lm__h5 *f, hid_t obj, const char *name, size_t n, const char *const *v) {
    char *buf;
    size_t size;
    LM_CALL(pack_strs(n, v, &buf, &size));
    hsize_t dims[1] = {n};
    /* An empty list is a null dataspace: HDF5 attributes cannot have zero extent. */
    hid_t space = n ? H5Screate_simple(1, dims, NULL) : H5Screate(H5S_NULL);
    hid_t type = fstr_type(size, H5T_CSET_UTF8);
    int rc = space < 0 || type < 0 ? IOFAIL(LM_EH5, f, obj, NULL, "attribute %s", name)
                                   : write_attr(f, obj, name, type, space, buf);
    lm__h5_close_id(&space);
    lm__h5_close_id(&type);
    free(buf);
    return rc;
}

int lm__h5_attr_f64(lm__h5 *f, hid_t obj, const char *name, double v) {
    hid_t space = H5Screate(H5S_SCALAR);
    if (space < 0) return IOFAIL(LM_EH5, f, obj, NULL, "attribute %s", name);
    hid_t a = H5I_INVALID_HID;
    int rc = LM_OK;
    if (lm__h5_attr_exists(obj, name)) H5Adelete(obj, name);
    a = H5Acreate2(obj, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, H5T_NATIVE_DOUBLE, &v) < 0)
        rc = IOFAIL(LM_EH5, f, obj, NULL, "cannot write attribute %s", name);
    lm__h5_close_id(&a);
    H5Sclose(space);
    return rc;
}

int lm__h5_attr_i64(lm__h5 *f, hid_t obj, const char *name, int64_t v) {
    hid_t space = H5Screate(H5S_SCALAR);
    if (space < 0) return IOFAIL(LM_EH5, f, obj, NULL, "attribute %s", name);
    hid_t a = H5I_INVALID_HID;
    int rc = LM_OK;
    if (lm__h5_attr_exists(obj, name)) H5Adelete(obj, name);
    a = H5Acreate2(obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, H5T_NATIVE_INT64, &v) < 0)
        rc = IOFAIL(LM_EH5, f, obj, NULL, "cannot write attribute %s", name);
    lm__h5_close_id(&a);
    H5Sclose(space);
    return rc;
}

int lm__h5_attr_meta(lm__h5 *f, hid_t obj, const char *units, const char *description) {
    LM_CALL(lm__h5_attr_str(f, obj, "units", units));
    LM_CALL(lm__h5_attr_str(f, obj, "description", description));
    return LM_OK;
}

/* ---- reading datasets ---- */

int lm__h5_dataset_open(lm__h5 *f, hid_t loc, const char *name, int max_rank, int *rank,
                        hsize_t *dims, hsize_t dim_max, hid_t *out) {
    *out = H5I_INVALID_HID;
    if (!lm__h5_exists(loc, name)) return IOFAIL(f->bad, f, loc, name, "missing dataset");
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) return IOFAIL(f->bad, f, loc, name, "is not a readable dataset");
    hid_t space = H5Dget_space(d);
    int r = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    int rc = LM_OK;
    if (r < 0 || r > max_rank) {
        rc = IOFAIL(f->bad, f, loc, name, "has rank %d, at most %d expected", r, max_rank);
        goto fail;
    }
    if (r > 0) H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; i < r; i++)
        if (dims[i] > dim_max) {
            rc = IOFAIL(f->bad, f, loc, name, "dimension %d is %llu, at most %llu expected", i,
                        (unsigned long long)dims[i], (unsigned long long)dim_max);
            goto fail;
        }
    H5Sclose(space);
    *rank = r;
    *out = d;
    return LM_OK;
fail:
    lm__h5_close_id(&space);
    H5Dclose(d);
    return rc;
}

/* Checks that dataset d (of loc/name) stores type class want. */
static int check_class(lm__h5 *f, hid_t loc, const char *name, hid_t d, H5T_class_t want,
                       const char *what) {
    hid_t t = H5Dget_type(d);
    H5T_class_t c = t >= 0 ? H5Tget_class(t) : H5T_NO_CLASS;
    if (t >= 0) H5Tclose(t);
    if (c != want) return IOFAIL(f->bad, f, loc, name, "does not hold %s", what);
    return LM_OK;
}

int lm__h5_read_1d(lm__h5 *f, hid_t loc, const char *name, lm_dtype t, size_t max_n,
                   void **out, size_t *n) {
    *out = NULL;
    *n = 0;
    hsize_t dims[1];
    int rank, rc;
    hid_t d;
    LM_CALL(lm__h5_dataset_open(f, loc, name, 1, &rank, dims, max_n, &d));
    if (rank != 1) {
        rc = IOFAIL(f->bad, f, loc, name, "is a scalar, a 1-D array expected");
        goto done;
    }
    LM_CALL_GOTO(rc, check_class(f, loc, name, d, is_float(t) ? H5T_FLOAT : H5T_INTEGER,
                                 is_float(t) ? "floating-point numbers" : "integers"), done);
    void *buf = malloc(dims[0] ? (size_t)dims[0] * lm_dtype_size(t) : 1);
    if (!buf) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    if (dims[0] > 0 && H5Dread(d, mem_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        rc = IOFAIL(f->bad, f, loc, name, "cannot read (corrupt data)");
        goto done;
    }
    *out = buf;
    *n = (size_t)dims[0];
    rc = LM_OK;
done:
    H5Dclose(d);
    return rc;
}

void lm__h5_free_strs(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Length of s, looking at no more than cap bytes (a fixed-length HDF5 string need
 * not be terminated). */
static size_t bounded_len(const char *s, size_t cap) {
    const char *z = memchr(s, 0, cap);
    return z ? (size_t)(z - s) : cap;
}

/* Copies n strings from raw HDF5 buffers (vlen: char* array; fixed: n x size bytes)
 * into owned strings, each checked against max_len. Returns 0 or the index + 1 of
 * the first over-long string (*too_long), or LM_ENOMEM. */
static int copy_strs(int vlen, const void *raw, size_t size, size_t n, size_t max_len,
                     char ***out, size_t *too_long) {
    char **v = calloc(n ? n : 1, sizeof *v);
    LM_CHECK_ALLOC(v);
    *too_long = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = vlen ? ((char *const *)raw)[i] : (const char *)raw + i * size;
        if (!s) s = "";
        size_t len = vlen ? strlen(s) : bounded_len(s, size);
        if (len > max_len) {
            *too_long = i + 1;
            lm__h5_free_strs(v, n);
            return LM_OK;
        }
        v[i] = malloc(len + 1);
        if (!v[i]) {
            lm__h5_free_strs(v, n);
            LM_FAIL(LM_ENOMEM, "out of memory");
        }
        memcpy(v[i], s, len);
        v[i][len] = 0;
    }
    *out = v;
    return LM_OK;
}

/* Reads every string of a dataset or attribute obj (loc/name for messages): a null
 * dataspace is no strings, a scalar one, a 1-D one dims[0]; variable or fixed
 * length. Counts and lengths are checked before the buffers are allocated where
 * HDF5 lets us know them (for attributes, HDF5 sizes variable-length strings from
 * the file's own heap, and lengths are checked right after). */
static int read_strings(lm__h5 *f, hid_t loc, const char *name, hid_t obj, int is_attr,
                        size_t max_n, size_t max_len, char ***out, size_t *n) {
    *out = NULL;
    *n = 0;
    hid_t type = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t space = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hid_t mtype = H5I_INVALID_HID;
    void *raw = NULL;
    int rc = LM_OK, vlen = 0, have_vlen = 0;
    size_t count = 0, size = 0, too_long = 0;
    if (type < 0 || space < 0 || H5Tget_class(type) != H5T_STRING) {
        rc = IOFAIL(f->bad, f, loc, name, "does not hold strings");
        goto done;
    }
    H5S_class_t sc = H5Sget_simple_extent_type(space);
    if (sc == H5S_SCALAR) {
        count = 1;
    } else if (sc == H5S_SIMPLE && H5Sget_simple_extent_ndims(space) == 1) {
        hsize_t dims[1];
        H5Sget_simple_extent_dims(space, dims, NULL);
        if (dims[0] > max_n) {
            rc = IOFAIL(f->bad, f, loc, name, "holds %llu strings, at most %zu expected",
                        (unsigned long long)dims[0], max_n);
            goto done;
        }
        count = (size_t)dims[0];
    } else if (sc != H5S_NULL) {
        rc = IOFAIL(f->bad, f, loc, name, "is not a list of strings");
        goto done;
    }
    if (count > max_n) {
        rc = IOFAIL(f->bad, f, loc, name, "holds %zu strings, at most %zu expected", count, max_n);
        goto done;
    }
    if (count == 0) {
        *out = calloc(1, sizeof **out);
        if (!*out) rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    vlen = H5Tis_variable_str(type) > 0;
    H5T_cset_t cset = H5Tget_cset(type);
    if (vlen) {
        mtype = vstr_type(cset);
        if (!is_attr && mtype >= 0) {
            hsize_t bytes = 0;
            if (H5Dvlen_get_buf_size(obj, mtype, space, &bytes) < 0 ||
                bytes > (hsize_t)count * (max_len + 1)) {
                rc = IOFAIL(f->bad, f, loc, name, "holds strings longer than %zu bytes",
                            max_len);
                goto done;
            }
        }
        size = sizeof(char *);
    } else {
        size = H5Tget_size(type);
        if (size == 0 || size > max_len + 1) {
            rc = IOFAIL(f->bad, f, loc, name, "holds strings of %zu bytes, at most %zu expected",
                        size, max_len);
            goto done;
        }
        size += 1; /* room for a terminator HDF5 adds when converting */
        mtype = fstr_type(size, cset);
    }
    if (mtype < 0) {
        rc = IOFAIL(LM_EH5, f, loc, name, "cannot make a string type");
        goto done;
    }
    raw = calloc(count, size);
    if (!raw) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    herr_t e = is_attr ? H5Aread(obj, mtype, raw)
                       : H5Dread(obj, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
    if (e < 0) {
        rc = IOFAIL(f->bad, f, loc, name, "cannot read strings (corrupt data)");
        goto done;
    }
    have_vlen = vlen;
    LM_CALL_GOTO(rc, copy_strs(vlen, raw, size, count, max_len, out, &too_long), done);
    if (too_long) {
        rc = IOFAIL(f->bad, f, loc, name, "string %zu is longer than %zu bytes", too_long - 1,
                    max_len);
        goto done;
    }
    *n = count;
done:
    if (have_vlen) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, raw);
    free(raw);
    lm__h5_close_id(&mtype);
    lm__h5_close_id(&type);
    lm__h5_close_id(&space);
    return rc;
}

int lm__h5_read_strs(lm__h5 *f, hid_t loc, const char *name, size_t max_n, size_t max_len,
                     char ***out, size_t *n) {
    hsize_t dims[1];
    int rank, rc;
    hid_t d;
    *out = NULL;
    *n = 0;
    LM_CALL(lm__h5_dataset_open(f, loc, name, 1, &rank, dims, max_n, &d));
    if (rank != 1)
        rc = IOFAIL(f->bad, f, loc, name, "is a scalar, a 1-D array expected");
    else
        rc = read_strings(f, loc, name, d, 0, max_n, max_len, out, n);
    H5Dclose(d);
    return rc;
}

int lm__h5_read_str(lm__h5 *f, hid_t loc, const char *name, size_t max_len, char **out) {
    hsize_t dims[1];
    int rank, rc;
    hid_t d;
    char **v = NULL;
    size_t n = 0;
    *out = NULL;
    LM_CALL(lm__h5_dataset_open(f, loc, name, 1, &rank, dims, 1, &d));
    rc = read_strings(f, loc, name, d, 0, 1, max_len, &v, &n);
    H5Dclose(d);
    if (rc < 0) return rc;
    if (n != 1) {
        lm__h5_free_strs(v, n);
        return IOFAIL(f->bad, f, loc, name, "holds no string");
    }
    *out = v[0];
    free(v);
    return LM_OK;
}

/* ---- reading attributes ---- */

int lm__h5_attr_exists(hid_t obj, const char *name) {
    htri_t e = H5Aexists(obj, name);
    H5Eclear2(H5E_DEFAULT);
    return e > 0;
}

static int attr_open(lm__h5 *f, hid_t obj, const char *name, hid_t *a) {
    *a = H5I_INVALID_HID;
    if (!lm__h5_attr_exists(obj, name))
        return IOFAIL(f->bad, f, obj, NULL, "missing attribute '%s'", name);
    *a = H5Aopen(obj, name, H5P_DEFAULT);
    if (*a < 0) return IOFAIL(f->bad, f, obj, NULL, "cannot open attribute '%s'", name);
    return LM_OK;
}

int lm__h5_attr_read_strs(lm__h5 *f, hid_t obj, const char *name, size_t max_n, size_t max_len,
                          char ***out, size_t *n) {
    hid_t a;
    char label[128];
    snprintf(label, sizeof label, "@%s", name);
    LM_CALL(attr_open(f, obj, name, &a));
    int rc = read_strings(f, obj, label, a, 1, max_n, max_len, out, n);
    H5Aclose(a);
    return rc;
}

int lm__h5_attr_read_str(lm__h5 *f, hid_t obj, const char *name, size_t max_len, char **out) {
    char **v;
    size_t n;
    *out = NULL;
    LM_CALL(lm__h5_attr_read_strs(f, obj, name, 1, max_len, &v, &n));
    if (n != 1) {
        lm__h5_free_strs(v, n);
        return IOFAIL(f->bad, f, obj, NULL, "attribute '%s' holds no string", name);
    }
    *out = v[0];
    free(v);
    return LM_OK;
}

/* Reads a one-element numeric attribute: as a double (from a float or an integer)
 * when want_float, else as an int64 (from an integer only). */
static int attr_read_num(lm__h5 *f, hid_t obj, const char *name, int want_float, void *v) {
    hid_t a;
    LM_CALL(attr_open(f, obj, name, &a));
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    H5T_class_t c = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    hssize_t np = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    int rc = LM_OK;
    hid_t mtype = want_float ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64;
    int ok_class = c == H5T_INTEGER || (want_float && c == H5T_FLOAT);
    if (!ok_class || np != 1)
        rc = IOFAIL(f->bad, f, obj, NULL, "attribute '%s' is not a single %s", name,
                    want_float ? "number" : "integer");
    else if (H5Aread(a, mtype, v) < 0)
        rc = IOFAIL(f->bad, f, obj, NULL, "cannot read attribute '%s'", name);
    lm__h5_close_id(&type);
    lm__h5_close_id(&space);
    H5Aclose(a);
    return rc;
}

int lm__h5_attr_read_f64(lm__h5 *f, hid_t obj, const char *name, double *v) {
    return attr_read_num(f, obj, name, 1, v);
}

int lm__h5_attr_read_i64(lm__h5 *f, hid_t obj, const char *name, int64_t *v) {
    return attr_read_num(f, obj, name, 0, v);
}
