/* In-memory datasets, importers, splits and mini-batching.
 *
 * A dataset holds N samples of F = C*H*W float features (images: C x H x W in C
 * order; tabular: C = F, H = W = 1) and int32 class labels in [0, n_classes). */
#ifndef LAMARCK_DATA_H
#define LAMARCK_DATA_H

#include "lamarck/rng.h"

#include <stddef.h>
#include <stdint.h>

#define LM_DATA_NAME_MAX 64
#define LM_DATA_CLASSES_MAX 1024
#define LM_DATA_FEATURES_MAX 65536    /* features of one sample */
#define LM_DATA_CATEGORIES_MAX 1024   /* categories of one categorical feature */
#define LM_DATA_LABEL_MAX 256         /* bytes of a class, feature or category name */

typedef enum { LM_FEAT_NUMERIC = 0, LM_FEAT_CATEGORICAL = 1 } lm_feature_kind;

typedef struct lm_dataset {
    char name[LM_DATA_NAME_MAX];
    int64_t n;            /* samples */
    int c, h, w;          /* feature shape; features() = c*h*w */
    int n_classes;
    float *X;             /* n x (c*h*w), owned; a missing value is NAN; a categorical
                             feature holds its category index (0, 1, ...) */
    int32_t *y;           /* n, owned */
    char **class_names;   /* n_classes strings, owned; may be NULL */
    /* Tabular feature descriptions; NULL when every feature is numeric (images). */
    uint8_t *feature_kind;    /* features(): lm_feature_kind, owned */
    int32_t *n_categories;    /* features(): categories of a categorical feature, else 0 */
    char **feature_names;     /* features() strings, owned; may be NULL */
    char ***category_names;   /* features(): a categorical feature's n_categories names,
                                 NULL for a numeric one, owned; may be NULL */
} lm_dataset;

static inline int64_t lm_dataset_features(const lm_dataset *d) { return (int64_t)d->c * d->h * d->w; }

/* Allocates X and y for n samples of shape (c, h, w); fields zeroed. */
int lm_dataset_alloc(lm_dataset *d, int64_t n, int c, int h, int w, int n_classes);
void lm_dataset_free(lm_dataset *d);
/* Sets class names (copied). */
int lm_dataset_set_class_names(lm_dataset *d, int n, const char *const *names);
/* Sets the features' names (features() strings, copied); names NULL removes them. */
int lm_dataset_set_feature_names(lm_dataset *d, const char *const *names);
/* Makes feature j categorical with n categories (1..LM_DATA_CATEGORIES_MAX), named by
 * names (n strings, copied) or unnamed (names NULL). The first call allocates
 * feature_kind and n_categories, every other feature numeric. */
int lm_dataset_set_categorical(lm_dataset *d, int64_t j, int n, const char *const *names);
/* Copies src's feature descriptions (kinds, categories, names) to dst, which must
 * have as many features; dst's old descriptions are freed. */
int lm_dataset_copy_features(lm_dataset *dst, const lm_dataset *src);
/* Number of categorical features. */
int64_t lm_dataset_n_categorical(const lm_dataset *d);
/* Whether any feature value is missing (NAN). */
int lm_dataset_has_missing(const lm_dataset *d);
/* Checks that d describes its samples as ref does: shape, feature kinds, category
 * counts and names, classes and class names. LM_EDATA names the first difference,
 * with what (e.g. "segment-test.arff") as the subject of the message. */
int lm_dataset_check_schema(const lm_dataset *ref, const lm_dataset *d, const char *what);

/* out = the samples of src at idx[0..n) (a copy; class names and feature
 * descriptions copied too). */
int lm_dataset_subset(const lm_dataset *src, const int32_t *idx, int64_t n, lm_dataset *out);

/* Stratified split: each class contributes round(frac * its count) samples to val,
 * chosen by a stream of (seed, 0, LM_STREAM_SPLIT); the rest go to train. Both keep
 * the original order of the samples they take. frac in (0, 1). */
int lm_data_split_stratified(const lm_dataset *src, double frac, uint64_t seed, lm_dataset *train,
                             lm_dataset *val);

/* Importers. Errors name the file (and line for text formats) and return LM_ENOENT
 * for a missing file, LM_EDATA for malformed content. */
/* idx format (optionally gzip-compressed): images idx3 (u8) and labels idx1 (u8);
 * pixels scaled to [0,1]. */
int lm_data_import_idx(const char *images_path, const char *labels_path, lm_dataset *out);
/* scikit-learn's digits.csv(.gz): rows of 64 pixel values (0..16) then the label;
 * pixels scaled to [0,1]; shape 1 x 8 x 8. */
int lm_data_import_digits(const char *path, lm_dataset *out);

/* Text importers for tabular data (optionally gzip-compressed). Bounds: lines of at
 * most 1 MiB, LM_DATA_FEATURES_MAX columns, LM_DATA_CATEGORIES_MAX categories per
 * feature, LM_DATA_CLASSES_MAX classes, 10^8 values. The result has c = features,
 * h = w = 1, feature names from the file, NAN for missing values and category
 * indices for categorical features; its name is the file's base name (CSV) or
 * its @relation (ARFF). Every error names file:line, and the field or attribute
 * where it applies. */

/* CSV with a header line of column names (unique, non-empty). Fields are separated
 * by commas; a field in double quotes may hold commas and doubled quotes ("") but
 * not line breaks. Unquoted spaces around a field are ignored. An empty field, ?, or
 * NA is missing. The column named target becomes the labels: its distinct values
 * sorted (numerically when all are numbers, else by bytes) are the classes, and no
 * label may be missing. Every other column is numeric when each non-missing value
 * is a finite number, else categorical with its distinct values sorted by bytes as
 * categories. Reads the file twice (kinds first, then values). */
int lm_data_import_csv(const char *path, const char *target, lm_dataset *out);

/* scikit-learn's bundled CSVs (iris.csv, wine_data.csv, breast_cancer.csv): a first
 * line "n_samples,n_features,class name,...", then n_samples rows of n_features
 * numbers and a class index. Feature names are not in the file (feature_names NULL). */
int lm_data_import_sklearn_csv(const char *path, lm_dataset *out);

/* Weka ARFF (dense): @relation, @attribute NAME numeric|real|integer|{v1,v2,...}
 * (names and values quoted with ' or " when they hold spaces or separators, with
 * backslash escapes), @data, comma-separated rows; ? is missing; % starts a comment;
 * keywords in any case. Refused with a message: string, date and relational
 * attributes, sparse rows ({index value,...}) and instance weights. target names the
 * class attribute, which must be nominal (NULL: the last nominal attribute); its
 * declared values, in order, are the classes; no class may be missing. The other
 * attributes are the features, nominal ones categorical with their declared values
 * as categories. */
int lm_data_import_arff(const char *path, const char *target, lm_dataset *out);

/* Mini-batches over a dataset in a shuffled order. The order for epoch e comes from
 * the stream (seed, trial, LM_STREAM_SHUFFLE) advanced epoch by epoch, so it depends
 * only on (seed, trial id, epoch). The last partial batch is included. */
typedef struct lm_batcher {
    const lm_dataset *d;
    int batch;
    int32_t *order;
    int64_t pos;
    lm_rng rng;
    float *X;       /* batch x features, owned */
    int32_t *y;     /* batch, owned */
} lm_batcher;

int lm_batcher_init(lm_batcher *b, const lm_dataset *d, int batch, uint64_t seed, uint64_t trial);
void lm_batcher_fini(lm_batcher *b);
/* Starts an epoch: reshuffles (shuffle=1) or keeps the dataset order (shuffle=0). */
void lm_batcher_epoch(lm_batcher *b, int shuffle);
/* Fills b->X, b->y with the next batch; returns its size, 0 at the end of the epoch. */
int lm_batcher_next(lm_batcher *b);

/* ---- preprocessing: fit on the training split only, applied to every split ---- */

typedef enum { LM_SCALE_NONE, LM_SCALE_STANDARDIZE, LM_SCALE_MINMAX } lm_scaler;
typedef enum { LM_IMPUTE_MEAN, LM_IMPUTE_MEDIAN, LM_IMPUTE_MOST_FREQUENT } lm_impute;

typedef struct lm_preprocess_params {
    lm_scaler scaler;          /* numeric features (default none) */
    lm_impute impute;          /* missing values (default mean; categoricals always use
                                  the most frequent category) */
    int missing_indicator;     /* add a 0/1 column per feature that had missing values */
    int one_hot;               /* categorical features as one-hot columns (default 1) */
} lm_preprocess_params;

void lm_preprocess_params_default(lm_preprocess_params *p);

typedef struct lm_preprocessor lm_preprocessor;

/* Learns the statistics (means, medians, modes, ranges) from train; p NULL means the
 * defaults.
 *
 * Tabular data (h = w = 1), feature by feature in order:
 *  - a numeric feature's statistics come from its observed train values (NAN, and
 *    infinities from foreign files, count as missing);
 *    a missing value becomes the mean, median (the middle value, or the mean of the
 *    two middle ones) or most frequent value (ties: the smallest); then the scaler:
 *    standardize (x - mean) / std (population std; std 0 -> 1), min-max
 *    (x - min) / (max - min) (range 0 -> every value 0; values outside the train
 *    range are not clipped). A feature never observed in train imputes 0, unscaled.
 *  - a categorical feature's missing value becomes its most frequent train category
 *    (ties: the smaller index). one_hot: one 0/1 column per declared category (a
 *    category absent from train keeps its column); a value that is no category
 *    (outside 0..n_categories-1, or missing with no category observed in train)
 *    gives all zeros. Without one_hot: one column holding the category index, scaled
 *    like a numeric feature.
 *  - missing_indicator: after all feature columns, one 0/1 column per feature that
 *    had a missing value in train (1 where the value was missing), in feature order.
 * Images (h or w > 1; all numeric): statistics per channel over every pixel of the
 * channel; missing_indicator does not apply (the shape is kept). */
int lm_preprocess_fit(const lm_preprocess_params *p, const lm_dataset *train, lm_preprocessor **out);
/* out = in transformed: no NAN left; tabular output has c = new feature count, h = w = 1
 * and feature_kind NULL (all numeric). Images keep their shape. */
int lm_preprocess_apply(const lm_preprocessor *pp, const lm_dataset *in, lm_dataset *out);
void lm_preprocess_destroy(lm_preprocessor **pp);

/* ---- augmentation of image batches, seeded per trial and epoch ---- */

typedef struct lm_augment_params {
    int crop_padding;      /* random crop after zero padding by this many pixels (0: off) */
    int flip;              /* random horizontal flip with probability 1/2 */
    int cutout;            /* side of a zeroed square at a random place (0: off) */
    double mixup_alpha;    /* mixup (Zhang et al. 2018) with lambda ~ Beta(a, a) (0: off) */
    double noise_std;      /* additive Gaussian noise (0: off) */
    double contrast;       /* contrast factor drawn from [1-c, 1+c] per image (0: off) */
    double brightness;     /* brightness offset drawn from [-b, b] per image (0: off) */
} lm_augment_params;

/* Order within lm_augment_batch, per image: crop, flip, brightness, contrast, noise,
 * cutout; then mixup across the batch. Crop offsets are uniform in [-pad, pad] per
 * axis (uncovered pixels 0); cutout squares lie wholly inside the image (a side
 * larger than the image is clamped to it), at the same place in every channel;
 * contrast scales each channel around its mean; nothing is clipped (the input may be
 * standardized). Valid: crop_padding in 0..256 (padding beyond the image side can
 * shift it out of view), cutout >= 0, mixup_alpha in [0, 100], noise_std >= 0,
 * contrast in [0, 1], brightness >= 0, all finite (else LM_EINVAL). */

/* Whether any augmentation is on. */
int lm_augment_active(const lm_augment_params *a);
/* Floats of scratch space lm_augment_batch needs for a batch of this shape. */
size_t lm_augment_scratch_floats(const lm_augment_params *a, int batch, int c, int h, int w);
/* Augments a batch of images (batch x c x h x w) in place, with numbers from rng. With
 * mixup, one lambda for the batch mixes sample i with sample perm(i): the caller's loss is
 * lambda * CE(y) + (1 - lambda) * CE(y2); y2 receives the partners' labels and *lambda
 * the weight (1 when mixup is off, y2 then equals y). Without mixup, y, y2 and lambda
 * may be NULL. scratch: lm_augment_scratch_floats() floats (NULL when that is 0). */
int lm_augment_batch(const lm_augment_params *a, lm_rng *rng, float *X, const int32_t *y,
                     int32_t *y2, float *lambda, int batch, int c, int h, int w, float *scratch);
/* One draw from Beta(a, b) (a, b > 0) as G_a / (G_a + G_b) with Gamma draws by
 * Marsaglia and Tsang (2000), computed in log space so that small shapes do not
 * underflow. The mixup lambda is this draw clamped to [1e-6, 1 - 1e-6]. */
double lm_augment_beta(lm_rng *rng, double a, double b);

#endif
