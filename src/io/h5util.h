/* Small HDF5 helpers shared by the io files: opening and atomically committing files,
 * 1-D columns, string arrays and attributes, each read with its dimensions checked
 * before anything is allocated.
 *
 * Every helper returns LM_OK or a negative code with a message naming the file and
 * the object ("runs/x/results.h5: /trials/status: ..."). Failures of HDF5 itself are
 * LM_EH5; content that is there but wrong (a missing column, a wrong rank, a length
 * over its bound) is f->bad, which is LM_EDATA for data and results files and
 * LM_ECKPT for checkpoints. HDF5's own error printing is turned off. */
#ifndef LAMARCK_IO_H5UTIL_H
#define LAMARCK_IO_H5UTIL_H

#include "lamarck/state.h"

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#define LM__H5_PATH_MAX 4096

typedef struct lm__h5 {
    hid_t id;                       /* the open file, or H5I_INVALID_HID */
    char path[LM__H5_PATH_MAX];     /* the path users know (the final name) */
    char tmp[LM__H5_PATH_MAX + 8];  /* writing: "<path>.tmp", where the file is built */
    int bad;                        /* code for malformed content */
} lm__h5;

/* ---- files ---- */

/* Creates "<path>.tmp" (truncating a stale one) for writing; lm__h5_commit renames
 * it to path, lm__h5_discard removes it. */
int lm__h5_create(lm__h5 *f, const char *path);
/* Closes the file and renames it into place; on failure removes the temporary. */
int lm__h5_commit(lm__h5 *f);
/* Closes (if open) and removes the temporary file of a failed write. */
void lm__h5_discard(lm__h5 *f);

/* Opens an existing file read-only: LM_ENOENT naming the path when it does not
 * exist, bad when it is not an HDF5 file or cannot be opened. */
int lm__h5_open(lm__h5 *f, const char *path, int bad);
void lm__h5_close(lm__h5 *f);

/* Root attribute "format" names the kind of file ("lamarck-results"), so that a
 * file of another kind is refused with a message saying what it is. */
int lm__h5_set_format(lm__h5 *f, const char *format);
int lm__h5_check_format(lm__h5 *f, const char *format);

/* ---- groups and objects ---- */

/* Creates group name under loc, with links tracked in creation order. */
int lm__h5_group_create(lm__h5 *f, hid_t loc, const char *name, hid_t *out);
/* Opens an existing group; bad when missing or not a group. */
int lm__h5_group_open(lm__h5 *f, hid_t loc, const char *name, hid_t *out);
/* 1 when loc has a link called name (one path component), else 0. */
int lm__h5_exists(hid_t loc, const char *name);
/* Closes an HDF5 id of any kind when valid and sets it invalid. */
void lm__h5_close_id(hid_t *id);
/* The number of HDF5 files, groups, datasets, named types and attributes open in
 * the process: unchanged by any io call that returns, whether it succeeds or
 * fails. Tests check this. */
long lm__h5_open_ids(void);
/* "/trials/status" for name under loc (name NULL: loc itself; "@units": the
 * attribute units of loc). */
void lm__h5_objname(hid_t loc, const char *name, char *buf, size_t cap);

/* ---- writing ---- */

/* Writes a 1-D dataset of n elements of type t (not LM_DT_STR) under loc. When out
 * is not NULL the dataset stays open there for attributes; the caller closes it. */
int lm__h5_write_1d(lm__h5 *f, hid_t loc, const char *name, lm_dtype t, size_t n,
                    const void *data, hid_t *out);
/* Writes a rows x cols dataset (row-major) of type t (not LM_DT_STR), like write_1d. */
int lm__h5_write_2d(lm__h5 *f, hid_t loc, const char *name, lm_dtype t, size_t rows,
                    size_t cols, const void *data, hid_t *out);
/* Writes a 1-D dataset of n UTF-8 strings (NULL is written as ""), fixed-length
 * (the longest + 1), as are all strings lamarck writes. */
int lm__h5_write_strs(lm__h5 *f, hid_t loc, const char *name, size_t n, const char *const *v,
                      hid_t *out);
/* Writes a scalar UTF-8 string dataset. */
int lm__h5_write_str(lm__h5 *f, hid_t loc, const char *name, const char *s, hid_t *out);
/* Writes an N-d float32 dataset, chunked by leading rows, shuffled, gzip-compressed
 * and Fletcher-32 checksummed. */
int lm__h5_write_f32_nd(lm__h5 *f, hid_t loc, const char *name, int rank, const hsize_t *dims,
                        const float *data, int gzip_level);

/* Attributes on obj (replacing an existing one of the same name). */
int lm__h5_attr_str(lm__h5 *f, hid_t obj, const char *name, const char *value);
int lm__h5_attr_strs(lm__h5 *f, hid_t obj, const char *name, size_t n, const char *const *v);
int lm__h5_attr_f64(lm__h5 *f, hid_t obj, const char *name, double v);
int lm__h5_attr_i64(lm__h5 *f, hid_t obj, const char *name, int64_t v);
/* "units" and "description" together. */
int lm__h5_attr_meta(lm__h5 *f, hid_t obj, const char *units, const char *description);

/* ---- reading ---- */

/* Opens dataset name under loc and reports its rank and dims (at most max_rank);
 * bad when missing, of another rank, or a dimension exceeds dim_max. */
int lm__h5_dataset_open(lm__h5 *f, hid_t loc, const char *name, int max_rank, int *rank,
                        hsize_t *dims, hsize_t dim_max, hid_t *out);
/* Reads a whole 1-D numeric dataset of at most max_n elements as type t (converted
 * by HDF5 from any type of the same class: integers to integer types, floats to
 * float types). *out is malloc'ed (at least one byte), *n set. */
int lm__h5_read_1d(lm__h5 *f, hid_t loc, const char *name, lm_dtype t, size_t max_n,
                   void **out, size_t *n);
/* Reads a 1-D dataset of at most max_n strings, each at most max_len bytes, into a
 * malloc'ed array of malloc'ed strings. Fixed-length strings (lamarck's own) and
 * variable-length ones (as h5py writes them by default) are both accepted. */
int lm__h5_read_strs(lm__h5 *f, hid_t loc, const char *name, size_t max_n, size_t max_len,
                     char ***out, size_t *n);
/* Reads a scalar string dataset of at most max_len bytes. */
int lm__h5_read_str(lm__h5 *f, hid_t loc, const char *name, size_t max_len, char **out);

/* 1 when obj has an attribute called name, else 0. */
int lm__h5_attr_exists(hid_t obj, const char *name);
int lm__h5_attr_read_str(lm__h5 *f, hid_t obj, const char *name, size_t max_len, char **out);
int lm__h5_attr_read_strs(lm__h5 *f, hid_t obj, const char *name, size_t max_n, size_t max_len,
                          char ***out, size_t *n);
int lm__h5_attr_read_f64(lm__h5 *f, hid_t obj, const char *name, double *v);
int lm__h5_attr_read_i64(lm__h5 *f, hid_t obj, const char *name, int64_t *v);

void lm__h5_free_strs(char **v, size_t n);

#endif
