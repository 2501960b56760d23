/* Weka's ARFF format (Witten, Frank and Hall, "Data Mining", appendix; the Weka
 * wiki's "ARFF (stable version)"): a header of @relation and @attribute lines, then
 * @data and one comma-separated row per instance. Only the dense form with numeric
 * and nominal attributes is read; everything else is refused by name, so a user
 * knows what to convert. */
#include "data/text.h"
#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct attr {
    char *name;
    int nominal;         /* else numeric */
    lm__strtab values;   /* declared values of a nominal attribute */
} attr;

typedef struct arff {
    lm__text t;
    char *relation;
    attr *attrs;
    int n_attrs;
    lm__strtab names;    /* attribute names, to refuse duplicates */
    lm__field *fields;
    int target;
    long data_line;      /* the @data line */
} arff;

static void arff_fini(arff *a) {
    lm__text_close(&a->t);
    free(a->relation);
    for (int i = 0; i < a->n_attrs; i++) {
        free(a->attrs[i].name);
        lm__strtab_fini(&a->attrs[i].values);
    }
    free(a->attrs);
    lm__strtab_fini(&a->names);
    free(a->fields);
}

static int blank(char c) { return c == ' ' || c == '\t'; }

/* ARFF keywords and types are case-insensitive. */
static int same_word(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

/* ---- header tokens ---- */

/* Reads a name at *pp: quoted (' or ", backslash escapes) or a run of characters up
 * to a blank, '{' or '%'. Returns an owned copy in *out. */
static int read_name(arff *a, char **pp, const char *what, char **out) {
    char *p = *pp;
    while (blank(*p)) p++;
    char buf[LM_DATA_LABEL_MAX + 1];
    size_t n = 0;
    if (*p == '\'' || *p == '"') {
        char q = *p++;
        for (; *p && *p != q; p++) {
            if (*p == '\\' && p[1]) p++;
            LM_CHECK(n < LM_DATA_LABEL_MAX, LM_EDATA, "%s:%ld: %s longer than %d bytes",
                     a->t.path, a->t.line, what, LM_DATA_LABEL_MAX);
            buf[n++] = *p;
        }
        LM_CHECK(*p == q, LM_EDATA, "%s:%ld: %s: quote %c is not closed", a->t.path, a->t.line,
                 what, q);
        p++;
    } else {
        for (; *p && !blank(*p) && *p != '{' && *p != '%'; p++) {
            LM_CHECK(n < LM_DATA_LABEL_MAX, LM_EDATA, "%s:%ld: %s longer than %d bytes",
                     a->t.path, a->t.line, what, LM_DATA_LABEL_MAX);
            buf[n++] = *p;
        }
    }
    LM_CHECK(n > 0, LM_EDATA, "%s:%ld: missing %s", a->t.path, a->t.line, what);
    buf[n] = 0;
    *out = lm_strdup(buf);
    LM_CHECK_ALLOC(*out);
    *pp = p;
    return LM_OK;
}

/* Whether only blanks or a comment follow p. */
static int at_end(const char *p) {
    while (blank(*p)) p++;
    return *p == 0 || *p == '%';
}

/* Parses "{v1, 'v 2', ...}" at p (on the '{') into at->values. The list is moved to
 * the start of the line buffer and split like a data row. */
static int read_nominal(arff *a, char *p, attr *at) {
    char *q = p + 1, quote = 0;
    for (; *q && (quote || *q != '}'); q++) {
        if (quote && *q == '\\' && q[1]) q++;
        else if (*q == quote) quote = 0;
        else if (!quote && (*q == '\'' || *q == '"')) quote = *q;
    }
    LM_CHECK(*q == '}', LM_EDATA, "%s:%ld: attribute '%s': the value list has no closing }",
             a->t.path, a->t.line, at->name);
    LM_CHECK(at_end(q + 1), LM_EDATA, "%s:%ld: attribute '%s': unexpected text after }",
             a->t.path, a->t.line, at->name);
    size_t len = (size_t)(q - p - 1);
    memmove(a->t.buf, p + 1, len);
    a->t.buf[len] = 0;
    int n;
    LM_CALL(lm__text_split(&a->t, LM__SPLIT_ARFF, a->fields, LM_DATA_CATEGORIES_MAX + 1, &n));
    LM_CHECK(n >= 1, LM_EDATA, "%s:%ld: attribute '%s' declares no values", a->t.path,
             a->t.line, at->name);
    LM_CHECK(n <= LM_DATA_CATEGORIES_MAX, LM_EDATA,
             "%s:%ld: attribute '%s' declares more than %d values", a->t.path, a->t.line,
             at->name, LM_DATA_CATEGORIES_MAX);
    lm__strtab_init(&at->values, LM_DATA_CATEGORIES_MAX);
    for (int i = 0; i < n; i++) {
        const lm__field *f = &a->fields[i];
        LM_CHECK(f->len > 0 || f->quoted, LM_EDATA, "%s:%ld: attribute '%s': value %d is empty",
                 a->t.path, a->t.line, at->name, i + 1);
        LM_CHECK(f->len <= LM_DATA_LABEL_MAX, LM_EDATA,
                 "%s:%ld: attribute '%s': value %d is longer than %d bytes", a->t.path,
                 a->t.line, at->name, i + 1, LM_DATA_LABEL_MAX);
        LM_CHECK(lm__strtab_find(&at->values, f->s) < 0, LM_EDATA,
                 "%s:%ld: attribute '%s': value '%s' is declared twice", a->t.path, a->t.line,
                 at->name, f->s);
        int k;
        LM_CALL(lm__strtab_add(&at->values, f->s, &k));
    }
    at->nominal = 1;
    return LM_OK;
}

/* Parses the rest of an @attribute line (p after the keyword). */
static int read_attribute(arff *a, char *p) {
    LM_CHECK(a->n_attrs < LM_DATA_FEATURES_MAX + 1, LM_EDATA,
             "%s:%ld: more than %d attributes", a->t.path, a->t.line, LM_DATA_FEATURES_MAX + 1);
    if (a->n_attrs % 64 == 0) {
        attr *v = realloc(a->attrs, (size_t)(a->n_attrs + 64) * sizeof *v);
        LM_CHECK_ALLOC(v);
        a->attrs = v;
    }
    attr *at = &a->attrs[a->n_attrs];
    memset(at, 0, sizeof *at);
    LM_CALL(read_name(a, &p, "attribute name", &at->name));
    a->n_attrs++; /* owned from here, freed with the others */
    int k = lm__strtab_find(&a->names, at->name);
    LM_CHECK(k < 0, LM_EDATA, "%s:%ld: attribute '%s' is declared twice", a->t.path, a->t.line,
             at->name);
    LM_CALL(lm__strtab_add(&a->names, at->name, &k));
    while (blank(*p)) p++;
    if (*p == '{') return read_nominal(a, p, at);
    char type[32];
    size_t n = 0;
    for (; isalpha((unsigned char)*p) && n + 1 < sizeof type; p++) type[n++] = *p;
    type[n] = 0;
    LM_CHECK(n > 0, LM_EDATA, "%s:%ld: attribute '%s': missing type (numeric, real, integer "
             "or {values})", a->t.path, a->t.line, at->name);
    if (same_word(type, "numeric") || same_word(type, "real") ||
        same_word(type, "integer")) {
        LM_CHECK(at_end(p), LM_EDATA, "%s:%ld: attribute '%s': unexpected text after the type",
                 a->t.path, a->t.line, at->name);
        return LM_OK;
    }
    if (same_word(type, "string") || same_word(type, "date") ||
        same_word(type, "relational"))
        LM_FAIL(LM_EDATA, "%s:%ld: attribute '%s' is of type %s, which lamarck does not "
                "support (only numeric, real, integer and nominal {...}); remove or convert it",
                a->t.path, a->t.line, at->name, type);
    LM_FAIL(LM_EDATA, "%s:%ld: attribute '%s': unknown type '%s' (numeric, real, integer or "
            "{values} expected)", a->t.path, a->t.line, at->name, type);
}

/* Reads the header up to and including @data. */
static int read_header(arff *a) {
    int rc;
    lm__strtab_init(&a->names, LM_DATA_FEATURES_MAX + 1);
    while ((rc = lm__text_next(&a->t)) == 1) {
        char *p = a->t.buf;
        while (blank(*p)) p++;
        if (!*p || *p == '%') continue;
        char kw[16];
        size_t n = 0;
        if (*p == '@')
            for (p++; isalpha((unsigned char)*p) && n + 1 < sizeof kw; p++) kw[n++] = *p;
        kw[n] = 0;
        if (same_word(kw, "relation")) {
            LM_CHECK(!a->relation, LM_EDATA, "%s:%ld: a second @relation", a->t.path,
                     a->t.line);
            LM_CALL(read_name(a, &p, "relation name", &a->relation));
        } else if (same_word(kw, "attribute")) {
            LM_CHECK(a->relation, LM_EDATA, "%s:%ld: @attribute before @relation", a->t.path,
                     a->t.line);
            LM_CALL(read_attribute(a, p));
        } else if (same_word(kw, "data")) {
            LM_CHECK(a->n_attrs > 0, LM_EDATA, "%s:%ld: @data before any @attribute",
                     a->t.path, a->t.line);
            a->data_line = a->t.line;
            return LM_OK;
        } else if (same_word(kw, "end")) {
            LM_FAIL(LM_EDATA, "%s:%ld: @end belongs to relational attributes, which lamarck "
                    "does not support", a->t.path, a->t.line);
        } else {
            char buf[48];
            LM_FAIL(LM_EDATA, "%s:%ld: '%s' in the header (expected @relation, @attribute or "
                    "@data)%s", a->t.path, a->t.line, lm__excerpt(a->t.buf, buf, sizeof buf),
                    a->relation ? "" : "; is this an ARFF file?");
        }
    }
    LM_CALL(rc);
    LM_FAIL(LM_EDATA, "%s:%ld: the file ends before @data (truncated, or not an ARFF file)",
            a->t.path, a->t.line);
}

/* Picks the class attribute: the one named, or the last nominal one. */
static int choose_target(arff *a, const char *target) {
    if (target) {
        a->target = lm__strtab_find(&a->names, target);
        if (a->target < 0) {
            const char *near =
                lm_str_closest(target, (const char *const *)a->names.names, a->names.n);
            LM_FAIL(LM_EDATA, "%s: no attribute named '%s'%s%s%s", a->t.path, target,
                    near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        }
        LM_CHECK(a->attrs[a->target].nominal, LM_EDATA,
                 "%s: attribute '%s' is numeric; the class must be a nominal attribute",
                 a->t.path, target);
    } else {
        a->target = -1;
        for (int i = 0; i < a->n_attrs; i++)
            if (a->attrs[i].nominal) a->target = i;
        LM_CHECK(a->target >= 0, LM_EDATA,
                 "%s: no nominal attribute to use as the class (regression data?)", a->t.path);
    }
    LM_CHECK(a->n_attrs >= 2, LM_EDATA, "%s: the class is the only attribute; no features",
             a->t.path);
    LM_CHECK(a->attrs[a->target].values.n <= LM_DATA_CLASSES_MAX, LM_EDATA,
             "%s: the class '%s' has more than %d values", a->t.path, a->attrs[a->target].name,
             LM_DATA_CLASSES_MAX);
    return LM_OK;
}

/* ---- data ---- */

/* "{a, b, c}" (the first values) for a message about an unknown nominal value. */
static const char *value_list(const attr *at, char *buf, size_t cap) {
    size_t k = (size_t)snprintf(buf, cap, "{");
    for (int i = 0; i < at->values.n; i++) {
        const char *v = at->values.names[i];
        if (k + strlen(v) + 8 > cap) {
            k += (size_t)snprintf(buf + k, cap - k, "%s...", i ? ", " : "");
            break;
        }
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", v);
    }
    snprintf(buf + k, cap - k, "}");
    return buf;
}

static int read_value(arff *a, int j, const lm__field *f, float *out) {
    const attr *at = &a->attrs[j];
    char ex[48], list[160];
    if (!f->quoted && f->len == 1 && f->s[0] == '?') {
        LM_CHECK(j != a->target, LM_EDATA, "%s:%ld: field %d: the class ('%s') is missing",
                 a->t.path, a->t.line, j + 1, at->name);
        *out = NAN;
        return LM_OK;
    }
    if (at->nominal) {
        int k = lm__strtab_find(&at->values, f->s);
        LM_CHECK(k >= 0, LM_EDATA, "%s:%ld: field %d (attribute '%s'): '%s' is not one of its "
                 "declared values %s", a->t.path, a->t.line, j + 1, at->name,
                 lm__excerpt(f->s, ex, sizeof ex), value_list(at, list, sizeof list));
        *out = (float)k;
        return LM_OK;
    }
    double v;
    LM_CHECK(lm__parse_number(f->s, &v), LM_EDATA,
             "%s:%ld: field %d (attribute '%s'): '%s' is not a number", a->t.path, a->t.line,
             j + 1, at->name, lm__excerpt(f->s, ex, sizeof ex));
    LM_CHECK(fabs(v) <= FLT_MAX, LM_EDATA,
             "%s:%ld: field %d (attribute '%s'): %s is too large for a float", a->t.path,
             a->t.line, j + 1, at->name, f->s);
    *out = (float)v;
    return LM_OK;
}

static int read_rows(arff *a, lm__rows *r) {
    int n, rc;
    while ((rc = lm__text_next(&a->t)) == 1) {
        char *p = a->t.buf;
        while (blank(*p)) p++;
        LM_CHECK(*p != '{', LM_EDATA, "%s:%ld: sparse ARFF rows ({index value, ...}) are not "
                 "supported; save the data in dense form", a->t.path, a->t.line);
        LM_CALL(lm__text_split(&a->t, LM__SPLIT_ARFF, a->fields, LM_DATA_FEATURES_MAX + 2, &n));
        if (n == 0) continue;
        const lm__field *last = &a->fields[n - 1];
        LM_CHECK(!(n == a->n_attrs + 1 && !last->quoted && last->s[0] == '{'), LM_EDATA,
                 "%s:%ld: instance weights ({w} after the values) are not supported",
                 a->t.path, a->t.line);
        LM_CHECK(n == a->n_attrs, LM_EDATA,
                 "%s:%ld: %d values, expected %d (one per attribute)", a->t.path, a->t.line, n,
                 a->n_attrs);
        float *x, cls = 0;
        int32_t *y;
        LM_CALL(lm__rows_push(r, &a->t, &x, &y));
        for (int j = 0, fj = 0; j < n; j++)
            LM_CALL(read_value(a, j, &a->fields[j], j == a->target ? &cls : &x[fj++]));
        *y = (int32_t)cls;
    }
    LM_CALL(rc);
    LM_CHECK(r->n > 0, LM_EDATA, "%s:%ld: no data rows after @data (line %ld)", a->t.path,
             a->t.line, a->data_line);
    return LM_OK;
}

/* Names, kinds and categories of the features, and the classes. */
static int describe(arff *a, lm_dataset *d) {
    const char **names = malloc((size_t)a->n_attrs * sizeof *names);
    LM_CHECK_ALLOC(names);
    int rc = LM_OK;
    for (int j = 0, fj = 0; j < a->n_attrs; j++) {
        const attr *at = &a->attrs[j];
        if (j == a->target) continue;
        names[fj] = at->name;
        if (at->nominal)
            LM_CALL_GOTO(rc, lm_dataset_set_categorical(d, fj, at->values.n,
                                                        (const char *const *)at->values.names),
                         done);
        fj++;
    }
    LM_CALL_GOTO(rc, lm_dataset_set_feature_names(d, names), done);
    const attr *cls = &a->attrs[a->target];
    LM_CALL_GOTO(rc, lm_dataset_set_class_names(d, cls->values.n,
                                                (const char *const *)cls->values.names), done);
    lm_strlcpy(d->name, a->relation, sizeof d->name);
done:
    free(names);
    return rc;
}

int lm_data_import_arff(const char *path, const char *target, lm_dataset *out) {
    memset(out, 0, sizeof *out);
    arff a = {.n_attrs = 0};
    lm__rows r = {.f = 0};
    int rc;
    LM_CALL(lm__text_open(&a.t, path));
    a.fields = malloc((LM_DATA_FEATURES_MAX + 2) * sizeof *a.fields);
    if (!a.fields) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    LM_CALL_GOTO(rc, read_header(&a), done);
    LM_CALL_GOTO(rc, choose_target(&a, target), done);
    r.f = a.n_attrs - 1;
    LM_CALL_GOTO(rc, read_rows(&a, &r), done);
    LM_CALL_GOTO(rc, lm__rows_to_dataset(&r, a.attrs[a.target].values.n, out), done);
    LM_CALL_GOTO(rc, describe(&a, out), done);
done:
    if (rc < 0) lm_dataset_free(out);
    lm__rows_free(&r);
    arff_fini(&a);
    return rc;
}
