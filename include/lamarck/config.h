/* Experiment configuration: YAML -> validated lm_config.
 *
 * Every error names file:line:column, the key, what was expected and, for an
 * unknown key, the closest valid one; lm_config_load returns LM_ECONFIG (exit 2)
 * with that message in lm_error_message(). The full schema, with defaults, is in
 * README.md ("Configuration").
 *
 *     experiment: {name: quickstart, seed: 42, output: runs/quickstart}
 *     data:       {dataset: fashion-mnist, validation_fraction: 0.1}
 *     training:   {epochs: 4, batch_size: 128, lr: 0.05, momentum: 0.9}
 *     model:      {type: mlp, depth: 2, width: 256}
 *     search:     {algorithm: random, trials: 8}
 *     space:
 *       lr:       {type: float, low: 0.01, high: 0.3, log: true}
 *       schedule: {type: categorical, values: [constant, step, cosine]}
 *       step_size: {type: int, low: 1, high: 3, when: {schedule: step}}
 */
#ifndef LAMARCK_CONFIG_H
#define LAMARCK_CONFIG_H

#include "lamarck/arch.h"
#include "lamarck/nn.h"
#include "lamarck/search.h"
#include "lamarck/space.h"

#include <stddef.h>
#include <stdint.h>

#define LM_CONFIG_MAX_BYTES (1 << 20)  /* larger files are refused */

typedef struct lm_config {
    char *path;              /* as given ("<embedded>" for the built-in default) */
    char *text;              /* the YAML source, NUL-terminated */
    size_t text_len;

    /* experiment: */
    char *name;              /* default "experiment" */
    uint64_t seed;           /* default 0 */
    char *output;            /* run directory; default "runs/<name>" */
    int overwrite;           /* default false: an existing run directory is an error */
    double progress_interval;/* seconds between progress lines, default 10 */
    double checkpoint_interval; /* seconds between checkpoints, default 300; 0: only at the
                                   end and on SIGUSR1/SIGTERM */
    int checkpoints_keep;    /* newest checkpoints kept, default 2 */
    int snapshot_cache_mb;   /* per worker: paused trials' state kept in memory before
                                spilling to the run directory, default 1024 */

    /* data: */
    char *dataset;           /* name ("fashion-mnist") or path to a .h5 dataset file */
    char *data_dir;          /* where imported datasets are: default $LAMARCK_DATA or "data" */
    double validation_fraction; /* default 0.1, in (0, 0.9] */
    int64_t train_subset;    /* train on the first N samples after the split; 0 = all */

    /* training: and model: (defaults for every trial; space entries override) */
    char *model_type;        /* "mlp" */
    lm_train_params train;
    /* model.space other than fixed: the architecture space, whose genes follow the
     * space: section's hyperparameters in space (lm_space_arch); its sample shape is
     * set from the dataset when a run starts. */
    int has_arch;
    lm_arch_space arch;
    double max_latency;      /* model.constraints.max_latency_ms / 1000; 0 = none */

    /* search: */
    char *algorithm;         /* a registered searcher (lm_searcher_names); default "random" */
    int trials;              /* random: number of trials (default 10); grid: cap, 0 = all */
    lm_options search_options; /* the algorithm's own keys (lm_searcher_options) */

    /* stopping: */
    char *stopping;          /* a registered stopping rule (lm_stopper_names); default "none" */
    lm_options stopping_options;
    char *stopping_model;    /* stopping.model: a file the rule reads (rank: a ranking model
                                written by `lamarck rank train`); NULL when not given */

    /* replay: (lm_exec_replay): recorded curves instead of training; the space may
     * hold arch_index, the architecture of the meta-dataset a trial replays */
    char *replay_meta;       /* NULL: a real run */
    char *replay_dataset;
    int replay_workers;      /* simulated workers, default 64 */

    /* space: */
    lm_space *space;         /* every name is a training parameter (lm_train_params_names) */
} lm_config;

/* Parses text (len bytes; need not be NUL-terminated) read from path. */
int lm_config_parse(const char *text, size_t len, const char *path, lm_config **out);
/* Reads and parses a file; LM_ENOENT names the path when it cannot be read. */
int lm_config_load(const char *path, lm_config **out);
void lm_config_destroy(lm_config **c);

/* The training parameters of a point x of c->space: the defaults with every active
 * hyperparameter applied. */
int lm_config_apply(const lm_config *c, const double *x, lm_train_params *out);

/* The dataset file the config names: c->dataset when it ends in ".h5", else
 * "<data_dir>/<dataset>.h5". */
int lm_config_dataset_path(const lm_config *c, char *buf, size_t cap);

/* ---- learning-curve meta-dataset generation (lamarck metadata generate) ----
 *
 *     metadata:
 *       output: meta/mlp.h5        # a .h5 path without '..'
 *       seed: 1                    # architectures, splits and trial seeds
 *       architectures: 100         # K, drawn from model.space
 *       epochs: 20                 # E, every pair trained this long
 *       dir: data                  # where dataset names are looked up (default as data.dir)
 *       progress_interval: 10      # seconds between progress lines
 *       datasets:                  # D entries: dataset (name or .h5 path), and optional
 *         - {dataset: digits}      # validation_fraction (0.1), train_subset and
 *         - {dataset: fashion-mnist, train_subset: 3000, test_subset: 2000}  # test_subset
 *     model: {space: mlp, architecture: {...}, constraints: {...}}
 *     training: {batch_size: 64, lr: 0.05, momentum: 0.9}
 *     preprocessing: {...}         # as in experiment configs
 *     augmentation: {...}
 *
 * model, training, preprocessing and augmentation mean what they mean in an experiment
 * config (model.space is required and parsed by the same code); training.epochs is
 * metadata.epochs. Errors name file:line:column and the key, as lm_config_parse's. */

#define LM_META_CONFIG_DATASETS_MAX 256

typedef struct lm_meta_dataset_spec {
    char *dataset;              /* as written: a name in dir, or a path ending in ".h5" */
    char *name;                 /* recorded in the file: the name, or the .h5 file's base
                                   name without the extension */
    double validation_fraction; /* default 0.1, in (0, 0.9] */
    int64_t train_subset;       /* first N training samples after the split; 0 = all */
    int64_t test_subset;        /* first N test samples; 0 = all */
} lm_meta_dataset_spec;

typedef struct lm_meta_config {
    char *path;
    char *output;               /* required */
    uint64_t seed;              /* default 0 */
    int architectures;          /* K, required, 1..LM_META_ARCHS_MAX of meta.h */
    int epochs;                 /* E, required, 1..10000 */
    double progress_interval;   /* default 10 */
    int n_datasets;             /* D >= 1 */
    lm_meta_dataset_spec *datasets;
    /* The fixed recipe as an experiment config: train (epochs = E), has_arch = 1, arch and
     * space (the architecture genes only), data_dir, seed; dataset is the first
     * dataset's. */
    lm_config *base;
} lm_meta_config;

/* Parses a metadata config (len bytes of text read from path). LM_ECONFIG with
 * "path:line:col: key: ..." for anything wrong. */
int lm_meta_config_parse(const char *text, size_t len, const char *path, lm_meta_config **out);
/* Reads and parses a file; LM_ENOENT names the path when it cannot be read. */
int lm_meta_config_load(const char *path, lm_meta_config **out);
void lm_meta_config_destroy(lm_meta_config **c);
/* Fills *out with a shallow copy of c->base for dataset i (dataset, validation_fraction,
 * train_subset; strings borrowed from c: never pass *out to lm_config_destroy). */
void lm_meta_config_dataset(const lm_meta_config *c, int i, lm_config *out);

#endif
