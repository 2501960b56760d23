/* CSV importers: files with a header of column names and a named target column
 * (lm_data_import_csv), and scikit-learn's bundled CSVs with their own first line
 * (lm_data_import_sklearn_csv).
 *
 * A generic CSV says nothing about column types, so the importer reads the file
 * twice: the first pass checks the shape and finds which columns hold only numbers,
 * the second fills the dataset, collecting each categorical column's distinct values.
 * Categories and classes are then renumbered in sorted order, so that the indices do
 * not depend on the order of the rows. */
#include "data/text.h"
#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV_SAMPLES_MAX 10000000
/* Room for the names of one column's categories or classes. */
#define NAMES_MAX (LM_DATA_CATEGORIES_MAX > LM_DATA_CLASSES_MAX ? LM_DATA_CATEGORIES_MAX \
                                                                : LM_DATA_CLASSES_MAX)

typedef struct csv {
    lm__text t;
    lm__field *fields;
    int cols, target;
    lm__strtab names;    /* the header's column names */
    uint8_t *numeric;    /* per column: every non-missing value is a number */
    lm__strtab *values;  /* per column: distinct values (categorical columns, target) */
    int64_t rows;
} csv;

static void csv_fini(csv *c) {
    lm__text_close(&c->t);
    free(c->fields);
    free(c->numeric);
    if (c->values)
        for (int j = 0; j < c->cols; j++) lm__strtab_fini(&c->values[j]);
    free(c->values);
    lm__strtab_fini(&c->names);
}

static int is_missing(const lm__field *f) {
    if (f->len == 0) return 1;
    return !f->quoted && (!strcmp(f->s, "?") || !strcmp(f->s, "NA"));
}

/* Reads the next non-blank line into fields; 0 at the end of the file. */
static int next_row(csv *c, int *n) {
    for (;;) {
        int rc = lm__text_next(&c->t);
        if (rc <= 0) return rc;
        LM_CALL(lm__text_split(&c->t, LM__SPLIT_CSV, c->fields, LM_DATA_FEATURES_MAX + 1, n));
        if (*n > 0) return 1;
    }
}

static int read_header(csv *c, const char *target) {
    int n, rc;
    LM_CALL(rc = next_row(c, &n));
    LM_CHECK(rc == 1, LM_EDATA, "%s: empty file (a header line of column names expected)",
             c->t.path);
    LM_CHECK(n >= 2, LM_EDATA, "%s:%ld: the header names %d column; at least a feature and the "
             "target are needed", c->t.path, c->t.line, n);
    lm__strtab_init(&c->names, n);
    for (int j = 0; j < n; j++) {
        const lm__field *f = &c->fields[j];
        LM_CHECK(f->len > 0, LM_EDATA, "%s:%ld: field %d: empty column name", c->t.path,
                 c->t.line, j + 1);
        LM_CHECK(f->len <= LM_DATA_LABEL_MAX, LM_EDATA,
                 "%s:%ld: field %d: column name longer than %d bytes", c->t.path, c->t.line,
                 j + 1, LM_DATA_LABEL_MAX);
        int k = lm__strtab_find(&c->names, f->s);
        LM_CHECK(k < 0, LM_EDATA, "%s:%ld: field %d: column name '%s' already names field %d",
                 c->t.path, c->t.line, j + 1, f->s, k + 1);
        LM_CALL(lm__strtab_add(&c->names, f->s, &k));
    }
    c->cols = n;
    c->target = lm__strtab_find(&c->names, target);
    if (c->target < 0) {
        const char *near = lm_str_closest(target, (const char *const *)c->names.names, n);
        LM_FAIL(LM_EDATA, "%s:%ld: no column named '%s'%s%s%s", c->t.path, c->t.line, target,
                near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    }
    return LM_OK;
}

/* Pass 1: the shape, and which columns are numeric. */
static int scan(csv *c) {
    int n, rc;
    c->numeric = malloc((size_t)c->cols);
    LM_CHECK_ALLOC(c->numeric);
    memset(c->numeric, 1, (size_t)c->cols);
    while ((rc = next_row(c, &n)) == 1) {
        LM_CHECK(n == c->cols, LM_EDATA, "%s:%ld: %d fields, expected %d as in the header",
                 c->t.path, c->t.line, n, c->cols);
        LM_CHECK(c->rows < CSV_SAMPLES_MAX && (c->rows + 1) * c->cols <= LM__TEXT_VALUES_MAX,
                 LM_EDATA, "%s:%ld: too many rows (at most %d, and %lld values)", c->t.path,
                 c->t.line, CSV_SAMPLES_MAX, LM__TEXT_VALUES_MAX);
        for (int j = 0; j < n; j++) {
            const lm__field *f = &c->fields[j];
            double v;
            if (is_missing(f)) {
                LM_CHECK(j != c->target, LM_EDATA, "%s:%ld: field %d: the target '%s' is missing",
                         c->t.path, c->t.line, j + 1, c->names.names[j]);
            } else if (c->numeric[j] && !lm__parse_number(f->s, &v)) {
                c->numeric[j] = 0;
            }
        }
        c->rows++;
    }
    LM_CALL(rc);
    LM_CHECK(c->rows > 0, LM_EDATA, "%s:%ld: no data rows after the header", c->t.path,
             c->t.line);
    return LM_OK;
}

/* The category (or class) index of field j's value, collected in order of
 * appearance; renumbered after the pass. */
static int intern(csv *c, int j, const lm__field *f, int max, int *k) {
    int rc = lm__strtab_add(&c->values[j], f->s, k);
    LM_CHECK(rc != LM_ERANGE, LM_EDATA,
             "%s:%ld: field %d: column '%s' has more than %d distinct values (is it an "
             "identifier or free text?)", c->t.path, c->t.line, j + 1, c->names.names[j], max);
    LM_CALL(rc);
    LM_CHECK(f->len <= LM_DATA_LABEL_MAX, LM_EDATA,
             "%s:%ld: field %d: value longer than %d bytes", c->t.path, c->t.line, j + 1,
             LM_DATA_LABEL_MAX);
    return LM_OK;
}

static int fill_row(csv *c, float *x, int32_t *y) {
    int col = 0;
    for (int j = 0; j < c->cols; j++) {
        const lm__field *f = &c->fields[j];
        int k;
        double v;
        if (j == c->target) {
            LM_CALL(intern(c, j, f, LM_DATA_CLASSES_MAX, &k));
            *y = k;
            continue;
        }
        if (is_missing(f)) {
            x[col++] = NAN;
        } else if (c->numeric[j]) {
            lm__parse_number(f->s, &v);
            LM_CHECK(fabs(v) <= FLT_MAX, LM_EDATA, "%s:%ld: field %d: %s is too large for a float",
                     c->t.path, c->t.line, j + 1, f->s);
            x[col++] = (float)v;
        } else {
            LM_CALL(intern(c, j, f, LM_DATA_CATEGORIES_MAX, &k));
            x[col++] = (float)k;
        }
    }
    return LM_OK;
}

/* Pass 2: the values. */
static int fill(csv *c, lm_dataset *d) {
    int n, rc;
    LM_CALL(lm__text_rewind(&c->t));
    LM_CALL(next_row(c, &n)); /* the header, checked in pass 1 */
    c->values = calloc((size_t)c->cols, sizeof *c->values);
    LM_CHECK_ALLOC(c->values);
    for (int j = 0; j < c->cols; j++)
        lm__strtab_init(&c->values[j], j == c->target ? LM_DATA_CLASSES_MAX : LM_DATA_CATEGORIES_MAX);
    LM_CALL(lm_dataset_alloc(d, c->rows, c->cols - 1, 1, 1, 1));
    int64_t f = c->cols - 1, i = 0;
    while ((rc = next_row(c, &n)) == 1) {
        LM_CHECK(n == c->cols && i < c->rows, LM_EDATA,
                 "%s:%ld: the file changed while it was read", c->t.path, c->t.line);
        LM_CALL(fill_row(c, d->X + (size_t)i * (size_t)f, d->y + i));
        i++;
    }
    LM_CALL(rc);
    LM_CHECK(i == c->rows, LM_EDATA, "%s: the file changed while it was read", c->t.path);
    return LM_OK;
}

/* Renumbers every categorical column's categories and the classes in sorted order
 * and records them, with the feature names, in d. */
static int describe(csv *c, lm_dataset *d) {
    int32_t *rank = malloc(NAMES_MAX * sizeof *rank);
    const char **sorted = malloc(NAMES_MAX * sizeof *sorted);
    const char **fnames = malloc((size_t)c->cols * sizeof *fnames);
    int rc = LM_OK;
    if (!rank || !sorted || !fnames) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    int64_t f = c->cols - 1;
    for (int j = 0, fj = 0; j < c->cols; j++) {
        if (j == c->target) continue;
        fnames[fj] = c->names.names[j];
        const lm__strtab *v = &c->values[j];
        if (!c->numeric[j] && v->n > 0) {
            LM_CALL_GOTO(rc, lm__strtab_rank(v, 0, rank), done);
            for (int k = 0; k < v->n; k++) sorted[rank[k]] = v->names[k];
            for (int64_t i = 0; i < d->n; i++) {
                float *x = &d->X[(size_t)i * (size_t)f + (size_t)fj];
                if (!isnan(*x)) *x = (float)rank[(int)*x];
            }
            LM_CALL_GOTO(rc, lm_dataset_set_categorical(d, fj, v->n, sorted), done);
        }
        fj++;
    }
    LM_CALL_GOTO(rc, lm_dataset_set_feature_names(d, fnames), done);
    const lm__strtab *cls = &c->values[c->target];
    LM_CALL_GOTO(rc, lm__strtab_rank(cls, c->numeric[c->target], rank), done);
    for (int k = 0; k < cls->n; k++) sorted[rank[k]] = cls->names[k];
    for (int64_t i = 0; i < d->n; i++) d->y[i] = rank[d->y[i]];
    d->n_classes = cls->n;
    LM_CALL_GOTO(rc, lm_dataset_set_class_names(d, cls->n, sorted), done);
done:
    free(rank);
    free(sorted);
    free(fnames);
    return rc;
}

int lm_data_import_csv(const char *path, const char *target, lm_dataset *out) {
    memset(out, 0, sizeof *out);
    LM_CHECK(target && *target, LM_EINVAL, "%s: no target column named", path);
    csv c = {.cols = 0};
    int rc;
    LM_CALL(lm__text_open(&c.t, path));
    c.fields = malloc((LM_DATA_FEATURES_MAX + 1) * sizeof *c.fields);
    if (!c.fields) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    LM_CALL_GOTO(rc, read_header(&c, target), done);
    LM_CALL_GOTO(rc, scan(&c), done);
    LM_CALL_GOTO(rc, fill(&c, out), done);
    LM_CALL_GOTO(rc, describe(&c, out), done);
    lm__base_name(path, out->name, sizeof out->name);
done:
    if (rc < 0) lm_dataset_free(out);
    csv_fini(&c);
    return rc;
}

/* ---- scikit-learn's CSVs ---- */

/* Parses field f as an integer in [lo, hi]. */
static int field_int(const lm__text *t, const lm__field *f, int col, long lo, long hi,
                     const char *what, long *v) {
    double d;
    char buf[48];
    LM_CHECK(lm__parse_number(f->s, &d) && d == floor(d) && d >= (double)lo && d <= (double)hi,
             LM_EDATA, "%s:%ld: field %d: %s '%s' is not an integer in %ld..%ld", t->path,
             t->line, col, what, lm__excerpt(f->s, buf, sizeof buf), lo, hi);
    *v = (long)d;
    return LM_OK;
}

/* The first line: sample count, feature count, class names (kept in classes). */
static int sklearn_header(lm__text *t, lm__field *fields, long *n, long *nf,
                          lm__strtab *classes) {
    int k, rc, idx;
    LM_CALL(rc = lm__text_next(t));
    LM_CHECK(rc == 1, LM_EDATA, "%s: empty file", t->path);
    LM_CALL(lm__text_split(t, LM__SPLIT_CSV, fields, LM_DATA_CLASSES_MAX + 2, &k));
    LM_CHECK(k >= 3, LM_EDATA, "%s:1: expected 'n_samples,n_features,class names...' (the "
             "first line of scikit-learn's CSVs), found %d fields", t->path, k);
    LM_CALL(field_int(t, &fields[0], 1, 1, CSV_SAMPLES_MAX, "sample count", n));
    LM_CALL(field_int(t, &fields[1], 2, 1, LM_DATA_FEATURES_MAX, "feature count", nf));
    for (int i = 2; i < k; i++) {
        const lm__field *f = &fields[i];
        LM_CHECK(f->len > 0 && f->len <= LM_DATA_LABEL_MAX, LM_EDATA,
                 "%s:1: field %d: class name empty or longer than %d bytes", t->path, i + 1,
                 LM_DATA_LABEL_MAX);
        LM_CHECK(lm__strtab_find(classes, f->s) < 0, LM_EDATA,
                 "%s:1: field %d: class name '%s' appears twice", t->path, i + 1, f->s);
        LM_CALL(lm__strtab_add(classes, f->s, &idx));
    }
    return LM_OK;
}

static int sklearn_rows(lm__text *t, lm__field *fields, long n, long nf, int nc, lm__rows *r) {
    int k, rc;
    while ((rc = lm__text_next(t)) == 1) {
        LM_CALL(lm__text_split(t, LM__SPLIT_CSV, fields, LM_DATA_FEATURES_MAX + 1, &k));
        if (k == 0) continue;
        LM_CHECK(r->n < n, LM_EDATA, "%s:%ld: more rows than the %ld the first line announces",
                 t->path, t->line, n);
        LM_CHECK(k == nf + 1, LM_EDATA,
                 "%s:%ld: %d fields, expected %ld (the features and the class index)", t->path,
                 t->line, k, nf + 1);
        float *x;
        int32_t *y;
        LM_CALL(lm__rows_push(r, t, &x, &y));
        for (int j = 0; j < nf; j++) {
            double v;
            char buf[48];
            LM_CHECK(lm__parse_number(fields[j].s, &v) && fabs(v) <= FLT_MAX, LM_EDATA,
                     "%s:%ld: field %d: '%s' is not a number", t->path, t->line, j + 1,
                     lm__excerpt(fields[j].s, buf, sizeof buf));
            x[j] = (float)v;
        }
        long label;
        LM_CALL(field_int(t, &fields[nf], (int)nf + 1, 0, nc - 1, "class index", &label));
        *y = (int32_t)label;
    }
    LM_CALL(rc);
    LM_CHECK(r->n == n, LM_EDATA, "%s:%ld: %lld rows, but the first line announces %ld (a "
             "truncated file?)", t->path, t->line, (long long)r->n, n);
    return LM_OK;
}

int lm_data_import_sklearn_csv(const char *path, lm_dataset *out) {
    memset(out, 0, sizeof *out);
    lm__text t;
    lm__rows r = {.f = 0};
    lm__strtab classes;
    long n = 0, nf = 0;
    int rc;
    lm__strtab_init(&classes, LM_DATA_CLASSES_MAX);
    LM_CALL(lm__text_open(&t, path));
    lm__field *fields = malloc((LM_DATA_FEATURES_MAX + 2) * sizeof *fields);
    if (!fields) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    LM_CALL_GOTO(rc, sklearn_header(&t, fields, &n, &nf, &classes), done);
    r.f = nf;
    LM_CALL_GOTO(rc, sklearn_rows(&t, fields, n, nf, classes.n, &r), done);
    LM_CALL_GOTO(rc, lm__rows_to_dataset(&r, classes.n, out), done);
    LM_CALL_GOTO(rc, lm_dataset_set_class_names(out, classes.n,
                                                (const char *const *)classes.names), done);
    lm__base_name(path, out->name, sizeof out->name);
done:
    if (rc < 0) lm_dataset_free(out);
    lm__strtab_fini(&classes);
    lm__rows_free(&r);
    free(fields);
    lm__text_close(&t);
    return rc;
}
