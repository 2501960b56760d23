/* HDF5 files: dataset files, results.h5, and state (checkpoint) stores. Only src/io
 * includes hdf5.h. Every file is written to "<path>.tmp" and renamed when complete,
 * so a reader never sees half a file. Readers check every dimension and string length
 * before allocating, and fail with LM_EDATA (or LM_ECKPT for state files) naming the
 * file and the object. */
#ifndef LAMARCK_IO_H
#define LAMARCK_IO_H

#include "lamarck/arch.h"
#include "lamarck/config.h"
#include "lamarck/data.h"
#include "lamarck/search.h"
#include "lamarck/space.h"
#include "lamarck/state.h"

#include <stdint.h>

#define LM_RESULTS_SCHEMA_VERSION 1
#define LM_DATASET_SCHEMA_VERSION 2

/* ---- dataset files ----
 * /train/X (N x C x H x W, float32, gzip), /train/y (N, int32), /test/X, /test/y,
 * root attributes: name, source, n_classes, class_names, n_missing, schema_version;
 * tabular data adds /features: kind (uint8), n_categories (int32), names and
 * category_names (strings; all categories of the categorical features, in feature
 * order). The test split must describe its features as the train split does. */
int lm_io_dataset_write(const char *path, const lm_dataset *train, const lm_dataset *test,
                        const char *source);
/* Reads the train split (and the test split when test is not NULL), with the feature
 * descriptions, validated (a categorical feature's values are category indices or
 * NAN). Files of schema version 1 read as all-numeric. A missing file is LM_ENOENT
 * with the path in the message. */
int lm_io_dataset_read(const char *path, lm_dataset *train, lm_dataset *test);

/* What `lamarck data list` shows of a dataset file, read from its attributes and
 * dimensions only (X is not read). */
typedef struct lm_dataset_info {
    char name[LM_DATA_NAME_MAX];
    char source[1024];          /* as recorded at import (cut to fit) */
    int schema_version;
    int64_t n_train, n_test;    /* n_test 0 without a test split */
    int c, h, w;
    int n_classes;
    int64_t n_numeric, n_categorical;
    int64_t n_missing;          /* missing values in both splits; -1: not recorded */
} lm_dataset_info;

int lm_io_dataset_info(const char *path, lm_dataset_info *out);

/* ---- results.h5 ---- */

typedef struct lm_run_info {
    const lm_config *config;     /* /config: YAML text; attributes: path */
    const char *command_line;
    const char *version;
    int n_ranks;
    double wall_seconds;
    double rank0_cpu_seconds;
    double idle_worker_seconds;  /* workers free while the search had nothing to give them */
    long snapshot_transfers;     /* kept states sent from one worker to another */
    long snapshot_local;         /* kept states resumed where they were kept */
    int complete;                /* 1 when the run finished */
} lm_run_info;

/* Writes results.h5: root attributes (schema_version, lamarck_version, command_line,
 * n_ranks, wall_seconds, rank0_cpu_seconds, idle_worker_seconds, snapshot_transfers,
 * snapshot_local, complete), /config (string),
 * /trials/<column> (1-D datasets, one row per trial in id order: id, status, worker,
 * epochs, epochs_target, params, best_val_accuracy, final_val_accuracy,
 * final_val_loss, final_train_loss, test_accuracy, test_loss, t_start, t_end,
 * train_seconds, reason), /trials/hp/<name> (value, NAN when inactive; categoricals
 * store the choice index with a "choices" attribute), /curves/<column> (one row per
 * trained epoch, sorted by trial then epoch). Each dataset has "units" and
 * "description" attributes. Atomic (tmp + rename). */
int lm_io_results_write(const char *path, const lm_run_info *info, const lm_trials *trials);

/* A results file as lamarck report shows it. */
typedef struct lm_results {
    int n_trials, n_hp;
    char **hp_names;          /* n_hp */
    char ***hp_labels;        /* n_trials x n_hp labels ("0.01", "cosine", "-") */
    int *id, *epochs, *worker;
    char **status;            /* names as in lm_trial_status_name */
    double *best_val_accuracy, *final_val_accuracy, *test_accuracy, *train_seconds;
    char **reason;
    int complete;
    double wall_seconds;
} lm_results;

int lm_io_results_read(const char *path, lm_results *out);
void lm_io_results_free(lm_results *r);

/* ---- state stores (checkpoints) ----
 * Writes every entry of m as a dataset under group (created), with its dtype; reads
 * them back into m. */
int lm_io_state_write(const char *path, const lm_state_mem *m);
int lm_io_state_read(const char *path, lm_state_mem *m);

/* ---- snapshots of a checkpoint ----
 * Collective over MPI_COMM_WORLD: every rank passes its own n snapshots (trial ids,
 * bytes); they become /snapshots/trial<ID> of one file written with the MPI-IO driver,
 * with "bytes" and "checksum" attributes and a root "complete" marker. */
int lm_io_snapshots_write(const char *path, int n, const int *trial, const void *const *data,
                          const size_t *bytes);
/* Not collective: the trial ids in a complete snapshots file (*trials malloc'd). */
int lm_io_snapshots_list(const char *path, int **trials, int *n);
/* Not collective: one snapshot, checked against its checksum (*data malloc'd). */
int lm_io_snapshot_read(const char *path, int trial, void **data, size_t *n);

/* ---- /genomes of results.h5 (runs over an architecture space) ---- */

/* Reads the space (from the group's description attribute) and the genomes, trials x
 * genes (malloc'ed, the caller frees). LM_EDATA when the file has no /genomes or it
 * does not match its space. */
int lm_io_genomes_read(const char *path, lm_arch_space *as, int32_t **genome, int *n_trials,
                       int *n_genes);

#endif
