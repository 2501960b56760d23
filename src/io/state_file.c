/* State stores (checkpoints) in HDF5: every entry of an lm_state_mem becomes a 1-D
 * dataset at its path ("searcher/rng" -> /searcher/rng, groups created on the way),
 * stored in its own type with a "dtype" attribute (lm_dtype_name) so that strings
 * (u8 bytes, dtype "string") and byte arrays stay apart, and an "index" attribute
 * (its position in the store) so entries are read back in the order written. The
 * root attribute "complete" = 1 is written after every entry; a file without it is
 * refused. */
#include "io/h5util.h"
#include "lamarck/error.h"
#include "lamarck/io.h"

#include <stdlib.h>
#include <string.h>

#define STATE_FORMAT "lamarck-state"
#define STATE_VERSION 1
#define NAME_MAX_BYTES 1024
#define ENTRIES_MAX 1000000
#define ENTRY_BYTES_MAX (1ull << 32)
#define DTYPE_NAME_MAX 16

/* ---- writing ---- */

/* Entry names are relative paths of non-empty components other than "." and "..",
 * so that each maps to exactly one HDF5 object. */
static int check_name(const char *name) {
    size_t len = strlen(name);
    LM_CHECK(len >= 1 && len <= NAME_MAX_BYTES, LM_EINVAL,
             "state entry name of %zu bytes (1..%d expected)", len, NAME_MAX_BYTES);
    const char *p = name;
    for (;;) {
        const char *end = strchr(p, '/');
        size_t k = end ? (size_t)(end - p) : strlen(p);
        LM_CHECK(k > 0 && !(k == 1 && p[0] == '.') && !(k == 2 && p[0] == '.' && p[1] == '.'),
                 LM_EINVAL, "state entry name '%s' has an empty, '.' or '..' component", name);
        if (!end) break;
        p = end + 1;
    }
    return LM_OK;
}

/* Opens (creating as needed) the group holding entry name; *leaf is its last
 * component. */
static int parent_group(lm__h5 *f, const char *name, hid_t *out, const char **leaf) {
    char part[NAME_MAX_BYTES + 1];
    hid_t g = H5Gopen2(f->id, "/", H5P_DEFAULT);
    const char *p = name, *end;
    if (g < 0) LM_FAIL(LM_EH5, "%s: cannot open the root group", f->path);
    while ((end = strchr(p, '/')) != NULL) {
        size_t k = (size_t)(end - p);
        memcpy(part, p, k);
        part[k] = 0;
        hid_t next;
        if (lm__h5_exists(g, part)) {
            next = H5Gopen2(g, part, H5P_DEFAULT);
            H5Eclear2(H5E_DEFAULT);
            if (next < 0) {
                H5Gclose(g);
                LM_FAIL(LM_EINVAL, "state entry '%s' lies under '%.*s', which is an entry itself",
                        name, (int)(end - name), name);
            }
        } else {
            int rc = lm__h5_group_create(f, g, part, &next);
            if (rc < 0) {
                H5Gclose(g);
                return lm_error_trace(__FILE__, __LINE__, __func__, rc);
            }
        }
        H5Gclose(g);
        g = next;
        p = end + 1;
    }
    *out = g;
    *leaf = p;
    return LM_OK;
}

static int write_entry(lm__h5 *f, size_t index, const char *name, lm_dtype t, size_t n,
                       const void *data) {
    hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID;
    const char *leaf = name;
    int rc;
    LM_CALL(check_name(name));
    LM_CALL(parent_group(f, name, &g, &leaf));
    if (lm__h5_exists(g, leaf)) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                          "state entry '%s' is also a group of other entries", name);
        goto done;
    }
    LM_CALL_GOTO(rc, lm__h5_write_1d(f, g, leaf, t, n, data, &d), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, d, "dtype", lm_dtype_name(t)), done);
    LM_CALL_GOTO(rc, lm__h5_attr_i64(f, d, "index", (int64_t)index), done);
done:
    lm__h5_close_id(&d);
    lm__h5_close_id(&g);
    return rc;
}

static int write_all(lm__h5 *f, const lm_state_mem *m) {
    size_t count = lm_state_mem_count(m);
    LM_CALL(lm__h5_set_format(f, STATE_FORMAT));
    LM_CALL(lm__h5_attr_i64(f, f->id, "schema_version", STATE_VERSION));
    LM_CALL(lm__h5_attr_i64(f, f->id, "entries", (int64_t)count));
    for (size_t i = 0; i < count; i++) {
        const char *name;
        lm_dtype t;
        size_t n;
        const void *data;
        LM_CALL(lm_state_mem_entry(m, i, &name, &t, &n, &data));
        LM_CALL(write_entry(f, i, name, t, n, data));
    }
    /* Last, so that a file cut short anywhere before lacks it. */
    LM_CALL(lm__h5_attr_i64(f, f->id, "complete", 1));
    return LM_OK;
}

int lm_io_state_write(const char *path, const lm_state_mem *m) {
    lm__h5 f;
    LM_CALL(lm__h5_create(&f, path));
    int rc = write_all(&f, m);
    if (rc < 0) {
        lm__h5_discard(&f);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    LM_CALL(lm__h5_commit(&f));
    return LM_OK;
}

/* ---- reading ---- */

/* An entry found in the file: its path and its recorded position. */
typedef struct found {
    char *name;
    int64_t index;
} found;

typedef struct visit_ctx {
    lm__h5 *f;
    found *v;
    size_t n, cap, max;
    int rc;
} visit_ctx;

static int parse_dtype(const char *s, lm_dtype *t) {
    for (int i = LM_DT_F64; i <= LM_DT_STR; i++)
        if (!strcmp(s, lm_dtype_name((lm_dtype)i))) {
            *t = (lm_dtype)i;
            return 1;
        }
    return 0;
}

/* Whether the stored type of d is exactly what dtype t is written as. */
static int type_matches(hid_t d, lm_dtype t) {
    hid_t ft = H5Dget_type(d);
    if (ft < 0) return 0;
    H5T_class_t c = H5Tget_class(ft);
    size_t size = H5Tget_size(ft);
    int ok;
    if (t == LM_DT_F64 || t == LM_DT_F32) {
        ok = c == H5T_FLOAT;
    } else {
        int want_signed = t == LM_DT_I64 || t == LM_DT_I32;
        ok = c == H5T_INTEGER && (H5Tget_sign(ft) == H5T_SGN_2) == want_signed;
    }
    H5Tclose(ft);
    return ok && size == lm_dtype_size(t);
}

static int read_entry(lm__h5 *f, const char *name, lm_state_writer *w) {
    hid_t d = H5Dopen2(f->id, name, H5P_DEFAULT);
    char *dtype = NULL;
    void *data = NULL;
    size_t n = 0;
    lm_dtype t;
    int rc;
    if (d < 0) LM_FAIL(LM_ECKPT, "%s: /%s cannot be opened", f->path, name);
    LM_CALL_GOTO(rc, lm__h5_attr_read_str(f, d, "dtype", DTYPE_NAME_MAX, &dtype), done);
    if (!parse_dtype(dtype, &t)) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                          "%s: /%s has an unknown dtype '%s'", f->path, name, dtype);
        goto done;
    }
    if (!type_matches(d, t)) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                          "%s: /%s is not stored as its dtype '%s' says", f->path, name, dtype);
        goto done;
    }
    /* The entry's name is its path from the root. */
    LM_CALL_GOTO(rc, lm__h5_read_1d(f, f->id, name, t, (size_t)(ENTRY_BYTES_MAX / lm_dtype_size(t)),
                                    &data, &n), done);
    LM_CALL_GOTO(rc, w->put(w->ctx, name, t, n, data), done);
    rc = LM_OK;
done:
    free(dtype);
    free(data);
    H5Dclose(d);
    return rc;
}

/* Records a dataset found at name with its "index" attribute. */
static int note_entry(visit_ctx *v, hid_t o, const char *name) {
    lm__h5 *f = v->f;
    LM_CHECK(v->n < v->max, LM_ECKPT,
             "checkpoint %s is incomplete or corrupt (more entries than the %zu recorded)",
             f->path, v->max);
    int64_t index;
    LM_CALL(lm__h5_attr_read_i64(f, o, "index", &index));
    LM_CHECK(index >= 0 && (uint64_t)index < v->max, LM_ECKPT,
             "%s: /%s has index %lld, outside 0..%zu", f->path, name, (long long)index,
             v->max - 1);
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 64;
        found *nv = realloc(v->v, cap * sizeof *nv);
        LM_CHECK_ALLOC(nv);
        v->v = nv;
        v->cap = cap;
    }
    size_t len = strlen(name);
    LM_CHECK(len <= NAME_MAX_BYTES, LM_ECKPT, "%s: entry name of %zu bytes", f->path, len);
    v->v[v->n].name = malloc(len + 1);
    LM_CHECK_ALLOC(v->v[v->n].name);
    memcpy(v->v[v->n].name, name, len + 1);
    v->v[v->n].index = index;
    v->n++;
    return LM_OK;
}

static herr_t visit_cb(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    visit_ctx *v = data;
    if (info->type != H5L_TYPE_HARD) {
        v->rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                             "%s: /%s is a link, not a state entry", v->f->path, name);
        return -1;
    }
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) {
        v->rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                             "checkpoint %s is incomplete or corrupt (/%s cannot be opened)",
                             v->f->path, name);
        return -1;
    }
    H5I_type_t type = H5Iget_type(o);
    if (type == H5I_DATASET)
        v->rc = note_entry(v, o, name);
    else if (type != H5I_GROUP)
        v->rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                             "%s: /%s is neither a group nor a state entry", v->f->path, name);
    H5Oclose(o);
    return v->rc < 0 ? -1 : 0;
}

static int cmp_found(const void *a, const void *b) {
    int64_t x = ((const found *)a)->index, y = ((const found *)b)->index;
    return x < y ? -1 : x > y;
}

/* Checks the root attributes: format, version and the completion marker. */
static int check_complete(lm__h5 *f) {
    int64_t v = 0;
    int ok = lm__h5_attr_exists(f->id, "complete") &&
             lm__h5_attr_exists(f->id, "format") &&
             lm__h5_attr_exists(f->id, "schema_version");
    if (ok) {
        int rc = lm__h5_attr_read_i64(f, f->id, "complete", &v);
        ok = rc == LM_OK && v == 1;
    }
    LM_CHECK(ok, LM_ECKPT, "checkpoint %s is incomplete or corrupt (no completion marker)",
             f->path);
    LM_CALL(lm__h5_check_format(f, STATE_FORMAT));
    LM_CALL(lm__h5_attr_read_i64(f, f->id, "schema_version", &v));
    LM_CHECK(v == STATE_VERSION, LM_ECKPT,
             "%s: state schema version %lld; this lamarck reads version %d", f->path,
             (long long)v, STATE_VERSION);
    return LM_OK;
}

/* Reads every entry into m in the order written: the datasets are listed with
 * their "index" attributes first, which must number them 0..entries-1 exactly. */
int lm_io_state_read(const char *path, lm_state_mem *m) {
    lm__h5 f;
    int64_t expect = 0;
    visit_ctx v = {&f, NULL, 0, 0, 0, LM_OK};
    lm_state_writer w = lm_state_mem_writer(m);
    int rc;
    LM_CALL(lm__h5_open(&f, path, LM_ECKPT));
    LM_CALL_GOTO(rc, check_complete(&f), done);
    LM_CALL_GOTO(rc, lm__h5_attr_read_i64(&f, f.id, "entries", &expect), done);
    if (expect < 0 || expect > ENTRIES_MAX) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                          "%s: attribute entries is %lld, expected 0..%d", path,
                          (long long)expect, ENTRIES_MAX);
        goto done;
    }
    v.max = (size_t)expect;
    herr_t e = H5Lvisit(f.id, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &v);
    if (v.rc < 0) {
        rc = lm_error_trace(__FILE__, __LINE__, __func__, v.rc);
        goto done;
    }
    if (e < 0 || v.n != v.max) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                          "checkpoint %s is incomplete or corrupt (%zu of %zu entries listed)",
                          path, v.n, v.max);
        goto done;
    }
    qsort(v.v, v.n, sizeof *v.v, cmp_found);
    for (size_t i = 0; i < v.n; i++)
        if (v.v[i].index != (int64_t)i) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                              "checkpoint %s is incomplete or corrupt (entry index %zu %s)",
                              path, i, v.v[i].index < (int64_t)i ? "repeated" : "missing");
            goto done;
        }
    for (size_t i = 0; i < v.n; i++) LM_CALL_GOTO(rc, read_entry(&f, v.v[i].name, &w), done);
    rc = LM_OK;
done:
    for (size_t i = 0; i < v.n; i++) free(v.v[i].name);
    free(v.v);
    lm__h5_close(&f);
    return rc;
}
