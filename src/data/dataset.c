/* In-memory datasets: allocation, class names, feature descriptions, subsets and
 * the stratified train/validation split. */
#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Largest feature shape and sample count an in-memory dataset may have; anything
 * larger is a corrupt header or a wrong file, not data lamarck can train on. */
#define DIM_MAX 65536
#define SAMPLES_MAX ((int64_t)INT32_MAX)

int lm_dataset_alloc(lm_dataset *d, int64_t n, int c, int h, int w, int n_classes) {
    memset(d, 0, sizeof *d);
    LM_CHECK(n >= 0 && n <= SAMPLES_MAX, LM_EINVAL, "dataset of %lld samples (at most %lld)",
             (long long)n, (long long)SAMPLES_MAX);
    LM_CHECK(c >= 1 && h >= 1 && w >= 1 && c <= DIM_MAX && h <= DIM_MAX && w <= DIM_MAX,
             LM_EINVAL, "dataset sample shape %d x %d x %d (each in 1..%d)", c, h, w, DIM_MAX);
    LM_CHECK(n_classes >= 1 && n_classes <= LM_DATA_CLASSES_MAX, LM_EINVAL,
             "dataset with %d classes (1..%d)", n_classes, LM_DATA_CLASSES_MAX);
    uint64_t f = (uint64_t)c * (uint64_t)h * (uint64_t)w;
    LM_CHECK(f <= (uint64_t)INT32_MAX, LM_EINVAL, "dataset sample of %llu features is too large",
             (unsigned long long)f);
    LM_CHECK(n == 0 || f <= SIZE_MAX / sizeof(float) / (uint64_t)n, LM_ENOMEM,
             "dataset of %lld x %llu floats does not fit in memory", (long long)n,
             (unsigned long long)f);
    size_t nx = (size_t)n * (size_t)f, ny = (size_t)n;
    d->X = calloc(nx ? nx : 1, sizeof *d->X);
    d->y = calloc(ny ? ny : 1, sizeof *d->y);
    if (!d->X || !d->y) {
        free(d->X);
        free(d->y);
        d->X = NULL;
        d->y = NULL;
        LM_FAIL(LM_ENOMEM, "out of memory for a dataset of %lld x %llu floats", (long long)n,
                (unsigned long long)f);
    }
    d->n = n;
    d->c = c;
    d->h = h;
    d->w = w;
    d->n_classes = n_classes;
    return LM_OK;
}

static void free_names(char **names, int64_t n) {
    if (!names) return;
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* Frees the feature descriptions of d (features f). */
static void free_features(lm_dataset *d, int64_t f) {
    if (d->category_names && d->n_categories)
        for (int64_t j = 0; j < f; j++) free_names(d->category_names[j], d->n_categories[j]);
    free(d->category_names);
    free(d->feature_kind);
    free(d->n_categories);
    free_names(d->feature_names, f);
    d->category_names = NULL;
    d->feature_kind = NULL;
    d->n_categories = NULL;
    d->feature_names = NULL;
}

void lm_dataset_free(lm_dataset *d) {
    if (!d) return;
    free(d->X);
    free(d->y);
    free_names(d->class_names, d->n_classes);
    free_features(d, lm_dataset_features(d));
    memset(d, 0, sizeof *d);
}

/* *out = an owned copy of n strings. Fails when one is NULL or longer than
 * LM_DATA_LABEL_MAX; what names the strings in the message. */
static int copy_names(int64_t n, const char *const *names, const char *what, char ***out) {
    *out = NULL;
    LM_CHECK(n >= 0 && n <= LM_DATA_FEATURES_MAX, LM_EINVAL, "%lld %ss", (long long)n, what);
    for (int64_t i = 0; i < n; i++)
        LM_CHECK(names[i] && strlen(names[i]) <= LM_DATA_LABEL_MAX, LM_EINVAL, "%s %lld is %s",
                 what, (long long)i, names[i] ? "longer than 256 bytes" : "NULL");
    char **v = calloc((size_t)(n ? n : 1), sizeof *v);
    LM_CHECK_ALLOC(v);
    for (int64_t i = 0; i < n; i++)
        if (!(v[i] = lm_strdup(names[i]))) {
            free_names(v, n);
            LM_FAIL(LM_ENOMEM, "out of memory");
        }
    *out = v;
    return LM_OK;
}

int lm_dataset_set_class_names(lm_dataset *d, int n, const char *const *names) {
    LM_CHECK(n == d->n_classes, LM_EINVAL, "%d class names for a dataset of %d classes", n,
             d->n_classes);
    char **v;
    LM_CALL(copy_names(n, names, "class name", &v));
    free_names(d->class_names, d->n_classes);
    d->class_names = v;
    return LM_OK;
}

int lm_dataset_set_feature_names(lm_dataset *d, const char *const *names) {
    int64_t f = lm_dataset_features(d);
    char **v = NULL;
    if (names) LM_CALL(copy_names(f, names, "feature name", &v));
    free_names(d->feature_names, f);
    d->feature_names = v;
    return LM_OK;
}

int lm_dataset_set_categorical(lm_dataset *d, int64_t j, int n, const char *const *names) {
    int64_t f = lm_dataset_features(d);
    LM_CHECK(j >= 0 && j < f, LM_EINVAL, "feature %lld of a dataset of %lld features",
             (long long)j, (long long)f);
    LM_CHECK(n >= 1 && n <= LM_DATA_CATEGORIES_MAX, LM_EINVAL,
             "feature %lld: %d categories (1..%d)", (long long)j, n, LM_DATA_CATEGORIES_MAX);
    if (!d->feature_kind) {
        d->feature_kind = calloc((size_t)f, sizeof *d->feature_kind);
        d->n_categories = calloc((size_t)f, sizeof *d->n_categories);
        d->category_names = calloc((size_t)f, sizeof *d->category_names);
        if (!d->feature_kind || !d->n_categories || !d->category_names) {
            free_features(d, 0);
            LM_FAIL(LM_ENOMEM, "out of memory");
        }
    }
    char **v = NULL;
    if (names) LM_CALL(copy_names(n, names, "category name", &v));
    free_names(d->category_names[j], d->n_categories[j]);
    d->feature_kind[j] = LM_FEAT_CATEGORICAL;
    d->n_categories[j] = n;
    d->category_names[j] = v;
    return LM_OK;
}

int lm_dataset_copy_features(lm_dataset *dst, const lm_dataset *src) {
    int64_t f = lm_dataset_features(src);
    LM_CHECK(lm_dataset_features(dst) == f, LM_EINVAL,
             "copying the descriptions of %lld features to a dataset of %lld", (long long)f,
             (long long)lm_dataset_features(dst));
    free_features(dst, f);
    if (src->feature_names)
        LM_CALL(lm_dataset_set_feature_names(dst, (const char *const *)src->feature_names));
    if (!src->feature_kind) return LM_OK;
    for (int64_t j = 0; j < f; j++)
        if (src->feature_kind[j] == LM_FEAT_CATEGORICAL)
            LM_CALL(lm_dataset_set_categorical(
                dst, j, src->n_categories[j],
                src->category_names ? (const char *const *)src->category_names[j] : NULL));
    /* Keep an all-numeric description as given (an array of zeros), not NULL. */
    if (!dst->feature_kind) {
        dst->feature_kind = calloc((size_t)f, sizeof *dst->feature_kind);
        dst->n_categories = calloc((size_t)f, sizeof *dst->n_categories);
        dst->category_names = calloc((size_t)f, sizeof *dst->category_names);
        if (!dst->feature_kind || !dst->n_categories || !dst->category_names) {
            free_features(dst, 0);
            LM_FAIL(LM_ENOMEM, "out of memory");
        }
    }
    return LM_OK;
}

int64_t lm_dataset_n_categorical(const lm_dataset *d) {
    if (!d->feature_kind) return 0;
    int64_t k = 0, f = lm_dataset_features(d);
    for (int64_t j = 0; j < f; j++) k += d->feature_kind[j] == LM_FEAT_CATEGORICAL;
    return k;
}

int lm_dataset_has_missing(const lm_dataset *d) {
    size_t m = (size_t)d->n * (size_t)lm_dataset_features(d);
    for (size_t i = 0; i < m; i++)
        if (isnan(d->X[i])) return 1;
    return 0;
}

/* Whether two optional name lists of n entries are equal (both absent, or the same
 * strings). */
static int same_names(char *const *a, char *const *b, int64_t n) {
    if (!a || !b) return !a && !b;
    for (int64_t i = 0; i < n; i++)
        if (strcmp(a[i], b[i]) != 0) return 0;
    return 1;
}

static int kind_of(const lm_dataset *d, int64_t j) {
    return d->feature_kind ? d->feature_kind[j] : LM_FEAT_NUMERIC;
}

int lm_dataset_check_schema(const lm_dataset *ref, const lm_dataset *d, const char *what) {
    LM_CHECK(d->c == ref->c && d->h == ref->h && d->w == ref->w, LM_EDATA,
             "%s: samples of %d x %d x %d features, expected %d x %d x %d", what, d->c, d->h,
             d->w, ref->c, ref->h, ref->w);
    LM_CHECK(d->n_classes == ref->n_classes, LM_EDATA, "%s: %d classes, expected %d", what,
             d->n_classes, ref->n_classes);
    LM_CHECK(same_names(ref->class_names, d->class_names, ref->n_classes), LM_EDATA,
             "%s: the class names differ", what);
    int64_t f = lm_dataset_features(ref);
    LM_CHECK(same_names(ref->feature_names, d->feature_names, f), LM_EDATA,
             "%s: the feature names differ", what);
    for (int64_t j = 0; j < f; j++) {
        const char *name = ref->feature_names ? ref->feature_names[j] : "";
        int k = kind_of(ref, j);
        LM_CHECK(kind_of(d, j) == k, LM_EDATA, "%s: feature %lld ('%s') is %s, expected %s",
                 what, (long long)j + 1, name, k ? "numeric" : "categorical",
                 k ? "categorical" : "numeric");
        if (k != LM_FEAT_CATEGORICAL) continue;
        int nc = ref->n_categories[j];
        LM_CHECK(d->n_categories[j] == nc, LM_EDATA,
                 "%s: feature %lld ('%s') has %d categories, expected %d", what, (long long)j + 1,
                 name, d->n_categories[j], nc);
        LM_CHECK(same_names(ref->category_names ? ref->category_names[j] : NULL,
                            d->category_names ? d->category_names[j] : NULL, nc),
                 LM_EDATA, "%s: the categories of feature %lld ('%s') differ", what,
                 (long long)j + 1, name);
    }
    return LM_OK;
}

int lm_dataset_subset(const lm_dataset *src, const int32_t *idx, int64_t n, lm_dataset *out) {
    for (int64_t i = 0; i < n; i++)
        LM_CHECK(idx[i] >= 0 && idx[i] < src->n, LM_EINVAL,
                 "subset index %d at position %lld is outside 0..%lld", (int)idx[i],
                 (long long)i, (long long)src->n - 1);
    LM_CALL(lm_dataset_alloc(out, n, src->c, src->h, src->w, src->n_classes));
    memcpy(out->name, src->name, sizeof out->name);
    size_t f = (size_t)lm_dataset_features(src);
    for (int64_t i = 0; i < n; i++) {
        memcpy(out->X + (size_t)i * f, src->X + (size_t)idx[i] * f, f * sizeof *out->X);
        out->y[i] = src->y[idx[i]];
    }
    int rc = LM_OK;
    if (src->class_names)
        rc = lm_dataset_set_class_names(out, src->n_classes, (const char *const *)src->class_names);
    if (rc == LM_OK && (src->feature_kind || src->feature_names))
        rc = lm_dataset_copy_features(out, src);
    if (rc < 0) {
        lm_dataset_free(out);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

/* ---- stratified split ---- */

/* Marks round(frac * count) samples of every class in val_mark, choosing them with
 * a partial Fisher-Yates shuffle of the class's indices. Classes are visited in
 * label order so that the draws depend only on the seed and the labels. */
static int mark_validation(const lm_dataset *src, double frac, uint64_t seed, char *val_mark,
                           int64_t *n_val) {
    int nc = src->n_classes;
    int64_t *count = calloc((size_t)nc, sizeof *count);
    int64_t *start = calloc((size_t)nc + 1, sizeof *start);
    int32_t *by_class = malloc((size_t)(src->n ? src->n : 1) * sizeof *by_class);
    int rc = LM_OK;
    if (!count || !start || !by_class) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < src->n; i++) count[src->y[i]]++;
    for (int k = 0; k < nc; k++) start[k + 1] = start[k] + count[k];
    {
        /* Bucket the indices by class, each bucket in the original order. */
        int64_t *fill = count; /* reused as a write cursor */
        for (int k = 0; k < nc; k++) fill[k] = start[k];
        for (int64_t i = 0; i < src->n; i++) by_class[fill[src->y[i]]++] = (int32_t)i;
    }
    lm_rng rng;
    lm_rng_init(&rng, seed, 0, LM_STREAM_SPLIT);
    *n_val = 0;
    for (int k = 0; k < nc; k++) {
        int64_t m = start[k + 1] - start[k];
        int64_t take = (int64_t)llround(frac * (double)m);
        int32_t *v = by_class + start[k];
        for (int64_t j = 0; j < take; j++) {
            int64_t r = j + (int64_t)lm_rng_below(&rng, (uint64_t)(m - j));
            int32_t t = v[j];
            v[j] = v[r];
            v[r] = t;
            val_mark[v[j]] = 1;
        }
        *n_val += take;
    }
done:
    free(count);
    free(start);
    free(by_class);
    return rc;
}

int lm_data_split_stratified(const lm_dataset *src, double frac, uint64_t seed, lm_dataset *train,
                             lm_dataset *val) {
    LM_CHECK(frac > 0 && frac < 1, LM_EINVAL, "validation fraction must be in (0, 1), got %g",
             frac);
    for (int64_t i = 0; i < src->n; i++)
        LM_CHECK(src->y[i] >= 0 && src->y[i] < src->n_classes, LM_EDATA,
                 "dataset '%s': label %d of sample %lld is outside 0..%d", src->name,
                 (int)src->y[i], (long long)i, src->n_classes - 1);
    char *mark = calloc((size_t)(src->n ? src->n : 1), 1);
    int32_t *idx = malloc((size_t)(src->n ? src->n : 1) * sizeof *idx);
    int64_t n_val = 0;
    int rc = LM_OK;
    if (!mark || !idx) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    LM_CALL_GOTO(rc, mark_validation(src, frac, seed, mark, &n_val), done);
    int64_t n_train = src->n - n_val;
    if (n_val == 0 || n_train == 0) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "dataset '%s': a validation fraction of %g of %lld samples leaves "
                          "%lld for validation and %lld for training; both need at least one",
                          src->name, frac, (long long)src->n, (long long)n_val,
                          (long long)n_train);
        goto done;
    }
    /* Train indices first, then validation indices, both in the original order. */
    int64_t a = 0, b = n_train;
    for (int64_t i = 0; i < src->n; i++) idx[mark[i] ? b++ : a++] = (int32_t)i;
    LM_CALL_GOTO(rc, lm_dataset_subset(src, idx, n_train, train), done);
    rc = lm_dataset_subset(src, idx + n_train, n_val, val);
    if (rc < 0) {
        lm_error_trace(__FILE__, __LINE__, __func__, rc);
        lm_dataset_free(train);
    }
done:
    free(mark);
    free(idx);
    return rc;
}
