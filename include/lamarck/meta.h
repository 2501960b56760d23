/* Learning-curve meta-datasets: D datasets x K architectures x E epochs, every epoch's
 * metrics recorded, in one HDF5 file that a generation job fills pair by pair and that
 * the ranking model and the replay transport read whole.
 *
 *     lm_meta h = {.n_datasets = 2, .n_archs = 100, .epochs = 20, .genome_len = 8,
 *                  .encoding_len = 16, .dataset_names = names, ...};
 *     lm_meta_file *f;
 *     lm_meta_create("meta.h5", &h, &f);          // curves all NaN, nothing done
 *     lm_meta_write_pair(f, d, k, curves);        // LM_META_N_METRICS x E, flushed
 *     lm_meta_close(&f);
 *     lm_meta m;
 *     lm_meta_read("meta.h5", &m);                // everything, checked
 *     float acc = m.curves[LM_META_VAL_ACCURACY][lm_meta_index(&m, d, k, e)];
 *     lm_meta_free(&m);
 *
 * Layout (format version 1). Root attributes: format = "lamarck-meta", version = 1,
 * epochs = E.
 *   /datasets/name          D strings
 *   /datasets/descriptors   D x 6 float64: n_train, n_val, n_features (c*h*w),
 *                           n_classes, image (0 or 1), majority-class fraction
 *   /architectures/genome   K x G int32 (the space's genome of architecture k)
 *   /architectures/encoding K x L float32 (a fixed-length encoding of it)
 *   /architectures/params   K int64 (trainable parameters)
 *   /architectures/flops    K float64 (one forward pass of one example)
 *   /architectures          attribute space: a one-line description of the space
 *   /curves/<metric>        D x K x E float32, NaN where missing, for metric in
 *                           train_loss, val_accuracy, val_loss, test_accuracy,
 *                           test_loss, seconds (epoch e at index e, the first epoch 0)
 *   /done                   D x K uint8: 1 when the pair was trained completely
 * Every dataset has "units" and "description" attributes. Files are not shared between
 * processes while written: one writer per file (parts are merged afterwards). */
#ifndef LAMARCK_META_H
#define LAMARCK_META_H

#include <stddef.h>
#include <stdint.h>

#define LM_META_FORMAT "lamarck-meta"
#define LM_META_VERSION 1

/* Bounds a reader accepts (and a writer respects), checked before allocating. */
#define LM_META_DATASETS_MAX 4096
#define LM_META_ARCHS_MAX (1 << 20)
#define LM_META_EPOCHS_MAX 10000
#define LM_META_VEC_MAX 65536          /* genome and encoding lengths */
#define LM_META_CELLS_MAX (1L << 27)   /* D x K x E: 512 MiB per metric */
#define LM_META_NAME_MAX 255           /* bytes of a dataset name */
#define LM_META_SPACE_MAX 4096         /* bytes of the space description */

typedef enum {
    LM_META_TRAIN_LOSS,
    LM_META_VAL_ACCURACY,
    LM_META_VAL_LOSS,
    LM_META_TEST_ACCURACY,
    LM_META_TEST_LOSS,
    LM_META_SECONDS,
} lm_meta_metric;
#define LM_META_N_METRICS (LM_META_SECONDS + 1)

/* Columns of /datasets/descriptors. */
typedef enum {
    LM_META_DESC_N_TRAIN,
    LM_META_DESC_N_VAL,
    LM_META_DESC_N_FEATURES,
    LM_META_DESC_N_CLASSES,
    LM_META_DESC_IMAGE,
    LM_META_DESC_MAJORITY,
} lm_meta_desc;
#define LM_META_N_DESC (LM_META_DESC_MAJORITY + 1)

/* "train_loss", "val_accuracy", ...: the names under /curves; NULL out of range. */
const char *lm_meta_metric_name(int metric);

/* A whole meta-dataset in memory. Arrays are row-major as in the file. */
typedef struct lm_meta {
    int n_datasets;          /* D */
    int n_archs;             /* K */
    int epochs;              /* E */
    int genome_len;          /* G */
    int encoding_len;        /* L */
    char **dataset_names;    /* D */
    double *descriptors;     /* D x LM_META_N_DESC */
    int32_t *genome;         /* K x G */
    float *encoding;         /* K x L */
    int64_t *params;         /* K */
    double *flops;           /* K */
    char *space;             /* one line */
    float *curves[LM_META_N_METRICS]; /* each D x K x E, NaN where missing */
    uint8_t *done;           /* D x K */
} lm_meta;

/* The index of (dataset d, architecture k, epoch e) in a curves array. */
static inline size_t lm_meta_index(const lm_meta *m, int d, int k, int e) {
    return ((size_t)d * (size_t)m->n_archs + (size_t)k) * (size_t)m->epochs + (size_t)e;
}

/* Reads the whole file at path into *out (the caller frees it with lm_meta_free),
 * every dimension and string checked against the bounds above and against each other.
 * LM_ENOENT for a missing file; LM_EDATA naming the file and the object (dataset path
 * or attribute) for anything else wrong with it. */
int lm_meta_read(const char *path, lm_meta *out);
/* Frees what lm_meta_read (or a caller, with malloc) put in m and zeroes it. */
void lm_meta_free(lm_meta *m);
/* The dataset index of name, or -1. */
int lm_meta_find_dataset(const lm_meta *m, const char *name);

/* ---- writing, pair by pair ---- */

typedef struct lm_meta_file lm_meta_file;

/* Creates a new meta-dataset file at path from the header of h (dimensions, dataset
 * names and descriptors, architecture arrays and the space description; h's curves
 * and done flags are ignored): every curve NaN, no pair done. The file is built under
 * "<path>.tmp" and renamed when whole, then opened for writing. LM_EEXIST when path
 * exists (open it instead to continue a generation); LM_EINVAL for dimensions out of
 * bounds or a missing array. */
int lm_meta_create(const char *path, const lm_meta *h, lm_meta_file **out);
/* Opens an existing file, checked as lm_meta_read checks it, read-only or for
 * writing. The header and the done flags are loaded (lm_meta_file_header). */
int lm_meta_open(const char *path, int writable, lm_meta_file **out);
/* The file's header and done flags (curves NULL), owned by f; done is kept up to date
 * by lm_meta_write_pair. */
const lm_meta *lm_meta_file_header(const lm_meta_file *f);
/* Writes the curves of (dataset d, architecture k): LM_META_N_METRICS rows of E values
 * (metric-major, in lm_meta_metric order; NaN where missing), and sets the pair's done
 * flag to done (0 or 1). The file is flushed before returning, so a job killed later
 * keeps the pair. LM_EINVAL for an index out of range or a read-only file. */
int lm_meta_write_pair(lm_meta_file *f, int d, int k, const float *curves, int done);
/* Closes the file (NULL accepted) and sets *f to NULL. */
int lm_meta_close(lm_meta_file **f);

/* Joins n parts of one generation into a new file out (replaced if it exists; written
 * to "<out>.tmp" and renamed). The parts must have the same datasets (names and
 * descriptors), architectures (genomes, encodings, params, FLOPs, space) and epochs,
 * else LM_EDATA naming the part and what differs. A pair is done in the output when
 * it is done in any part; one done in several parts must have identical curves (NaN
 * equal to NaN), else LM_EDATA naming the pair and both parts. A pair done nowhere
 * takes the curves of the first part holding any value for it. */
int lm_meta_merge(const char *const *inputs, int n, const char *out);

#endif
