/* Preprocessing learned on the training split and applied to every split: missing
 * value imputation, scaling, one-hot encoding and missing-value indicators (the
 * contract, value by value, is in data.h above lm_preprocess_fit).
 *
 * A feature's statistics come from its observed training values only, as in
 * scikit-learn's StandardScaler and SimpleImputer (which disregard NaNs in fit), so
 * the validation and test splits never influence what is learned. Non-finite values
 * (NAN, and infinities from foreign files) count as missing. */
#include "lamarck/data.h"
#include "lamarck/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct feat {
    int categorical;
    int one_hot;      /* categorical and encoded one-hot */
    int32_t n_cat;
    float fill;       /* replaces a missing value (raw units; -1: no category) */
    float shift;      /* output = (x - shift) * scale, when not one-hot */
    float scale;
    int missing;      /* had missing training values */
    int64_t col;      /* first output column */
    int64_t ind_col;  /* its missing-indicator column, or -1 */
} feat;

struct lm_preprocessor {
    lm_preprocess_params p;
    int c, h, w;
    int image;        /* per-channel statistics, shape kept */
    int64_t n_feat;   /* input features (tabular) or channels (images) */
    feat *f;
    int64_t f_out;    /* output features per sample */
};

void lm_preprocess_params_default(lm_preprocess_params *p) {
    p->scaler = LM_SCALE_NONE;
    p->impute = LM_IMPUTE_MEAN;
    p->missing_indicator = 0;
    p->one_hot = 1;
}

/* ---- order statistics ---- */

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Rearranges v so that v[k] is the k-th smallest, with no larger value before it
 * and no smaller one after it (Wirth's selection; expected linear time). */
static void select_kth(float *v, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = v[k];
        int64_t i = lo, j = hi;
        do {
            while (v[i] < pivot) i++;
            while (pivot < v[j]) j--;
            if (i <= j) {
                float t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < k) lo = i;
        if (k < i) hi = j;
    }
}

/* The median of v[0..n) (n >= 1; v is reordered): the middle value, or the mean of
 * the two middle ones. */
static double median(float *v, size_t n) {
    size_t k = n / 2;
    select_kth(v, (int64_t)n, (int64_t)k);
    if (n % 2) return v[k];
    float below = v[0];
    for (size_t i = 1; i < k; i++)
        if (v[i] > below) below = v[i];
    return 0.5 * ((double)below + (double)v[k]);
}

/* The most frequent value of v[0..n) (n >= 1; v is sorted), the smallest on ties. */
static double mode(float *v, size_t n) {
    qsort(v, n, sizeof *v, cmp_float);
    float best = v[0];
    size_t best_run = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j] == v[i]) j++;
        if (j - i > best_run) {
            best_run = j - i;
            best = v[i];
        }
        i = j;
    }
    return best;
}

/* ---- fit ---- */

/* The training values of feature j (tabular) or channel j (images): sample i's
 * block of len floats at X + i * stride + offset. */
typedef struct column {
    const float *X;
    int64_t n;
    size_t stride, offset, len;
} column;

static column column_of(const lm_preprocessor *pp, const lm_dataset *d, int64_t j) {
    size_t block = pp->image ? (size_t)d->h * (size_t)d->w : 1;
    return (column){.X = d->X, .n = d->n, .stride = (size_t)lm_dataset_features(d),
                    .offset = (size_t)j * block, .len = block};
}

#define FOR_VALUES(col, x)                                                        \
    for (int64_t i_ = 0; i_ < (col).n; i_++)                                      \
        for (const float *x = (col).X + (size_t)i_ * (col).stride + (col).offset, \
                         *end_ = x + (col).len;                                   \
             x < end_; x++)

typedef struct moments {
    size_t m;           /* observed values */
    double mean, sd, lo, hi;
    int missing;
} moments;

/* Mean, population standard deviation (two passes, for accuracy), range and count
 * of the observed values; no copy, so that images of millions of pixels cost
 * nothing but time. */
static void moments_of(column col, moments *s) {
    double sum = 0, sq = 0;
    memset(s, 0, sizeof *s);
    s->lo = INFINITY;
    s->hi = -INFINITY;
    FOR_VALUES(col, x) {
        if (!isfinite(*x)) {
            s->missing = 1;
            continue;
        }
        sum += *x;
        s->m++;
        if (*x < s->lo) s->lo = *x;
        if (*x > s->hi) s->hi = *x;
    }
    if (s->m == 0) return;
    s->mean = sum / (double)s->m;
    FOR_VALUES(col, x) {
        if (isfinite(*x)) sq += ((double)*x - s->mean) * ((double)*x - s->mean);
    }
    s->sd = sqrt(sq / (double)s->m);
}

/* The most frequent category (ties: the smaller index), or -1 when no value is a
 * category. counts has LM_DATA_CATEGORIES_MAX entries. */
static float mode_category(column col, int32_t n_cat, int64_t *counts) {
    memset(counts, 0, (size_t)n_cat * sizeof *counts);
    FOR_VALUES(col, x) {
        if (*x >= 0 && *x < (float)n_cat && *x == floorf(*x)) counts[(int)*x]++;
    }
    int best = -1;
    for (int k = 0; k < n_cat; k++)
        if (counts[k] > 0 && (best < 0 || counts[k] > counts[best])) best = k;
    return (float)best;
}

/* The median or most frequent observed value (s->m of them, at least one), from a
 * copy of the column. */
static int order_statistic(column col, const moments *s, lm_impute how, float *out) {
    float *v = malloc(s->m * sizeof *v);
    LM_CHECK(v, LM_ENOMEM, "out of memory for %zu values", s->m);
    size_t m = 0;
    FOR_VALUES(col, x) {
        if (isfinite(*x)) v[m++] = *x;
    }
    *out = (float)(how == LM_IMPUTE_MEDIAN ? median(v, m) : mode(v, m));
    free(v);
    return LM_OK;
}

/* Learns fill, shift and scale of one feature. */
static int fit_feature(const lm_preprocess_params *p, feat *ft, column col, int64_t *counts) {
    moments s;
    moments_of(col, &s);
    ft->missing = s.missing;
    ft->shift = 0;
    ft->scale = 1;
    if (ft->categorical) {
        ft->fill = mode_category(col, ft->n_cat, counts);
        if (ft->fill < 0 && !ft->one_hot) ft->fill = 0;
        if (ft->one_hot) return LM_OK;
    }
    if (s.m == 0) {
        ft->fill = 0;
        return LM_OK;
    }
    if (p->scaler == LM_SCALE_STANDARDIZE) {
        ft->shift = (float)s.mean;
        ft->scale = s.sd > 0 ? (float)(1.0 / s.sd) : 1.f;
    } else if (p->scaler == LM_SCALE_MINMAX) {
        ft->shift = (float)s.lo;
        ft->scale = s.hi > s.lo ? (float)(1.0 / (s.hi - s.lo)) : 0.f;
    }
    if (ft->categorical) return LM_OK; /* imputes its most frequent category */
    if (p->impute == LM_IMPUTE_MEAN) ft->fill = (float)s.mean;
    else LM_CALL(order_statistic(col, &s, p->impute, &ft->fill));
    return LM_OK;
}

/* Output columns: features in order (one-hot ones K wide), then indicators. */
static int layout(lm_preprocessor *pp) {
    int64_t col = 0;
    if (pp->image) {
        pp->f_out = (int64_t)pp->c * pp->h * pp->w;
        return LM_OK;
    }
    for (int64_t j = 0; j < pp->n_feat; j++) {
        pp->f[j].col = col;
        col += pp->f[j].one_hot ? pp->f[j].n_cat : 1;
    }
    for (int64_t j = 0; j < pp->n_feat; j++)
        pp->f[j].ind_col = pp->p.missing_indicator && pp->f[j].missing ? col++ : -1;
    LM_CHECK(col <= LM_DATA_FEATURES_MAX, LM_EDATA,
             "preprocessing would make %lld features (at most %d): too many one-hot categories",
             (long long)col, LM_DATA_FEATURES_MAX);
    pp->f_out = col;
    return LM_OK;
}

static int check_params(const lm_preprocess_params *p) {
    LM_CHECK(p->scaler == LM_SCALE_NONE || p->scaler == LM_SCALE_STANDARDIZE ||
                 p->scaler == LM_SCALE_MINMAX, LM_EINVAL, "unknown scaler %d", (int)p->scaler);
    LM_CHECK(p->impute == LM_IMPUTE_MEAN || p->impute == LM_IMPUTE_MEDIAN ||
                 p->impute == LM_IMPUTE_MOST_FREQUENT, LM_EINVAL, "unknown imputation %d",
             (int)p->impute);
    return LM_OK;
}

int lm_preprocess_fit(const lm_preprocess_params *p, const lm_dataset *train, lm_preprocessor **out) {
    *out = NULL;
    lm_preprocess_params defaults;
    if (!p) {
        lm_preprocess_params_default(&defaults);
        p = &defaults;
    }
    LM_CALL(check_params(p));
    LM_CHECK(train->n >= 1, LM_EINVAL, "dataset '%s': preprocessing needs training samples",
             train->name);
    LM_CHECK((train->h == 1 && train->w == 1) || lm_dataset_n_categorical(train) == 0, LM_EINVAL,
             "dataset '%s': images with categorical features", train->name);
    lm_preprocessor *pp = calloc(1, sizeof *pp);
    LM_CHECK_ALLOC(pp);
    pp->p = *p;
    pp->c = train->c;
    pp->h = train->h;
    pp->w = train->w;
    pp->image = train->h > 1 || train->w > 1;
    pp->n_feat = pp->image ? train->c : lm_dataset_features(train);
    int rc = LM_OK;
    int64_t *counts = malloc(LM_DATA_CATEGORIES_MAX * sizeof *counts);
    pp->f = calloc((size_t)pp->n_feat, sizeof *pp->f);
    if (!counts || !pp->f) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t j = 0; j < pp->n_feat; j++) {
        feat *ft = &pp->f[j];
        ft->categorical = !pp->image && train->feature_kind &&
                          train->feature_kind[j] == LM_FEAT_CATEGORICAL;
        ft->n_cat = ft->categorical ? train->n_categories[j] : 0;
        ft->one_hot = ft->categorical && p->one_hot;
        LM_CALL_GOTO(rc, fit_feature(p, ft, column_of(pp, train, j), counts), done);
    }
    LM_CALL_GOTO(rc, layout(pp), done);
done:
    free(counts);
    if (rc < 0) lm_preprocess_destroy(&pp);
    *out = pp;
    return rc;
}

void lm_preprocess_destroy(lm_preprocessor **pp) {
    if (!pp || !*pp) return;
    free((*pp)->f);
    free(*pp);
    *pp = NULL;
}

/* ---- apply ---- */

static int check_input(const lm_preprocessor *pp, const lm_dataset *in) {
    LM_CHECK(in->c == pp->c && in->h == pp->h && in->w == pp->w, LM_EINVAL,
             "dataset '%s': samples of %d x %d x %d, but preprocessing was fit on %d x %d x %d",
             in->name, in->c, in->h, in->w, pp->c, pp->h, pp->w);
    if (pp->image) return LM_OK;
    for (int64_t j = 0; j < pp->n_feat; j++) {
        int cat = in->feature_kind && in->feature_kind[j] == LM_FEAT_CATEGORICAL;
        LM_CHECK(cat == pp->f[j].categorical && (!cat || in->n_categories[j] == pp->f[j].n_cat),
                 LM_EINVAL, "dataset '%s': feature %lld is not described as in the training "
                 "split", in->name, (long long)j + 1);
    }
    return LM_OK;
}

static void apply_row(const lm_preprocessor *pp, const float *x, float *o) {
    for (int64_t j = 0; j < pp->n_feat; j++) {
        const feat *ft = &pp->f[j];
        int miss = !isfinite(x[j]);
        float v = miss ? ft->fill : x[j];
        if (ft->one_hot) {
            float *oh = o + ft->col;
            memset(oh, 0, (size_t)ft->n_cat * sizeof *oh);
            if (v >= 0 && v < (float)ft->n_cat && v == floorf(v)) oh[(int)v] = 1;
        } else {
            o[ft->col] = (v - ft->shift) * ft->scale;
        }
        if (ft->ind_col >= 0) o[ft->ind_col] = (float)miss;
    }
}

static void apply_image(const lm_preprocessor *pp, const float *x, float *o) {
    size_t block = (size_t)pp->h * (size_t)pp->w;
    for (int64_t ch = 0; ch < pp->n_feat; ch++) {
        const feat *ft = &pp->f[ch];
        const float *xc = x + (size_t)ch * block;
        float *oc = o + (size_t)ch * block;
        for (size_t k = 0; k < block; k++) {
            float v = isfinite(xc[k]) ? xc[k] : ft->fill;
            oc[k] = (v - ft->shift) * ft->scale;
        }
    }
}

/* Output feature names from the input's: "age", "color=red" (one-hot),
 * "age (missing)" (indicator). */
static int name_outputs(const lm_preprocessor *pp, const lm_dataset *in, lm_dataset *out) {
    const char **names = calloc((size_t)pp->f_out, sizeof *names);
    char *text = malloc((size_t)pp->f_out * (LM_DATA_LABEL_MAX + 1));
    int rc = LM_OK;
    if (!names || !text) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    for (int64_t j = 0; j < pp->n_feat; j++) {
        const feat *ft = &pp->f[j];
        const char *base = in->feature_names[j];
        int64_t width = ft->one_hot ? ft->n_cat : 1;
        for (int64_t k = 0; k < width; k++) {
            char *t = text + (size_t)(ft->col + k) * (LM_DATA_LABEL_MAX + 1);
            const char *cat = ft->one_hot && in->category_names && in->category_names[j]
                                  ? in->category_names[j][k] : NULL;
            if (!ft->one_hot) snprintf(t, LM_DATA_LABEL_MAX + 1, "%s", base);
            else if (cat) snprintf(t, LM_DATA_LABEL_MAX + 1, "%s=%s", base, cat);
            else snprintf(t, LM_DATA_LABEL_MAX + 1, "%s=%lld", base, (long long)k);
            names[ft->col + k] = t;
        }
        if (ft->ind_col >= 0) {
            char *t = text + (size_t)ft->ind_col * (LM_DATA_LABEL_MAX + 1);
            snprintf(t, LM_DATA_LABEL_MAX + 1, "%s (missing)", base);
            names[ft->ind_col] = t;
        }
    }
    LM_CALL_GOTO(rc, lm_dataset_set_feature_names(out, names), done);
done:
    free(names);
    free(text);
    return rc;
}

int lm_preprocess_apply(const lm_preprocessor *pp, const lm_dataset *in, lm_dataset *out) {
    memset(out, 0, sizeof *out);
    LM_CALL(check_input(pp, in));
    if (pp->image) LM_CALL(lm_dataset_alloc(out, in->n, in->c, in->h, in->w, in->n_classes));
    else LM_CALL(lm_dataset_alloc(out, in->n, (int)pp->f_out, 1, 1, in->n_classes));
    memcpy(out->name, in->name, sizeof out->name);
    memcpy(out->y, in->y, (size_t)in->n * sizeof *out->y);
    size_t fi = (size_t)lm_dataset_features(in), fo = (size_t)lm_dataset_features(out);
    for (int64_t i = 0; i < in->n; i++) {
        if (pp->image) apply_image(pp, in->X + (size_t)i * fi, out->X + (size_t)i * fo);
        else apply_row(pp, in->X + (size_t)i * fi, out->X + (size_t)i * fo);
    }
    int rc = LM_OK;
    if (in->class_names)
        rc = lm_dataset_set_class_names(out, in->n_classes, (const char *const *)in->class_names);
    if (rc == LM_OK && !pp->image && in->feature_names) rc = name_outputs(pp, in, out);
    if (rc < 0) {
        lm_dataset_free(out);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}
