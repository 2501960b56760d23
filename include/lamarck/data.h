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

typedef struct lm_dataset {
    char name[LM_DATA_NAME_MAX];
    int64_t n;            /* samples */
    int c, h, w;          /* feature shape; features() = c*h*w */
    int n_classes;
    float *X;             /* n x (c*h*w), owned */
    int32_t *y;           /* n, owned */
    char **class_names;   /* n_classes strings, owned; may be NULL */
} lm_dataset;

static inline int64_t lm_dataset_features(const lm_dataset *d) { return (int64_t)d->c * d->h * d->w; }

/* Allocates X and y for n samples of shape (c, h, w); fields zeroed. */
int lm_dataset_alloc(lm_dataset *d, int64_t n, int c, int h, int w, int n_classes);
void lm_dataset_free(lm_dataset *d);
/* Sets class names (copied). */
int lm_dataset_set_class_names(lm_dataset *d, int n, const char *const *names);

/* out = the samples of src at idx[0..n) (a copy; class names copied too). */
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

#endif
