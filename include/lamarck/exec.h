/* Running an experiment: the controller (rank 0), the workers (ranks 1..P-1) and the
 * transports between them. Only src/exec (and the entry point) includes mpi.h.
 *
 *     lm_exec_init(&argc, &argv, &rank, &size);
 *     lm_run_options o = lm_run_options_default();
 *     o.config_path = "inputs/quickstart.yaml";
 *     int rc = lm_exec_run(&o);            // collective over MPI_COMM_WORLD
 *     lm_exec_finalize();
 */
#ifndef LAMARCK_EXEC_H
#define LAMARCK_EXEC_H

#include <stddef.h>

struct lm_config;

typedef struct lm_run_options {
    const char *config_path;   /* NULL: the embedded default (config_text) */
    const char *config_text;   /* used when config_path is NULL */
    const char *output;        /* overrides experiment.output when not NULL */
    int overwrite;             /* start over in a run directory that has results or
                                  checkpoints (they are replaced) */
    int resume_changed_config; /* continue a checkpointed run although its config differs */
    const char *command_line;  /* recorded in the run directory and results.h5 */
    const char *version;
} lm_run_options;

lm_run_options lm_run_options_default(void);

/* Initializes MPI (one thread per rank) and the rank-tagged log. */
int lm_exec_init(int *argc, char ***argv, int *rank, int *size);
void lm_exec_finalize(void);
/* Ends every rank at once with the given exit status (after an unrecoverable error). */
void lm_exec_abort(int status);

/* Runs the experiment. Collective over MPI_COMM_WORLD. With one rank the trials train
 * inline on rank 0. Returns LM_OK or an error code, the same on every rank for errors
 * found before training starts (bad config, missing data, existing run directory);
 * rank 0 prints the message. */
int lm_exec_run(const lm_run_options *o);

/* For a config with an architecture space: sets its sample shape (c->arch and the
 * space's copy) from the dataset file's attributes, then checks that the constraints
 * can be met (LM_ECONFIG naming the constraint when max_tries random architectures
 * all break it). Nothing to do otherwise. The shape is the raw dataset's (before
 * one-hot encoding); workers decode over the shape they train on. */
int lm_exec_arch_shape(struct lm_config *c);

/* ---- replay: the controller against a learning-curve meta-dataset (issue 10) ----
 *
 *     lm_replay_options r = lm_replay_options_default();
 *     r.meta_path = "meta.h5"; r.dataset = "digits"; r.n_workers = 4096;
 *     lm_replay_info info;
 *     int rc = lm_exec_replay(cfg, &r, &info);   // cfg->space has int arch_index
 *
 * The unchanged controller, searcher and stopper run in this one process against
 * n_workers simulated workers. A trial trains the architecture its point's int
 * hyperparameter "arch_index" designates (a row of the meta-dataset, 0 to K-1): each
 * epoch is reported at the virtual time its recorded seconds give, with its recorded
 * metrics; an epoch missing from the file (NaN) fails the trial; PAUSE and RESUME
 * continue the recorded curve (no weights are needed; LM_JOB_CLONE, PBT's exploit, is
 * refused). Every time in results.h5 is virtual, and a replay is deterministic. */

#define LM_REPLAY_WORKERS_MAX (1 << 20)

struct lm_meta;

typedef struct lm_replay_options {
    const char *meta_path;        /* the meta-dataset file, read whole ... */
    const struct lm_meta *meta;   /* ... or one already in memory (borrowed; wins) */
    const char *dataset;          /* the dataset to replay, by name */
    int n_workers;                /* simulated workers, 1 to LM_REPLAY_WORKERS_MAX */
    const char *command_line;     /* recorded in the run directory */
    const char *version;
} lm_replay_options;

/* Defaults: no meta-dataset, 1 worker. */
lm_replay_options lm_replay_options_default(void);

/* What a replay did (virtual times in seconds). */
typedef struct lm_replay_info {
    long trials;                  /* trials the searcher created */
    long jobs;                    /* jobs started (new trials and resumptions) */
    long reports;                 /* epoch reports, each answered by one decision */
    double makespan;              /* virtual time of the last event */
    double busy_seconds;          /* simulated worker-time spent training epochs */
    double utilization;           /* busy_seconds / (n_workers x makespan) */
    double wall_seconds;          /* real time the replay took */
    double cpu_seconds;           /* CPU time it took */
    int best_trial;               /* the trial that reported the best validation accuracy
                                     of any epoch, -1 when none */
    double best_val_accuracy;     /* that accuracy (NAN when none) */
} lm_replay_info;

/* Replays the search cfg describes (algorithm, trials, epochs, seed, stopping, space)
 * on dataset o->dataset of the meta-dataset, writing cfg->output as a run does
 * (config.yaml, run.txt, results.h5; refused when it holds results, unless
 * cfg->overwrite), but no checkpoints. Not collective: no MPI communication
 * (MPI need not be initialized). LM_ECONFIG when the space has no int "arch_index" or
 * its range leaves [0, K-1], the config trains more epochs than the file holds, the
 * dataset is not in the file (the message lists the file's datasets) or the searcher
 * clones (PBT); LM_EDATA for a bad file; LM_EINTR when a signal ended it early (results
 * are still written). info may be NULL. */
int lm_exec_replay(const struct lm_config *cfg, const lm_replay_options *o,
                   lm_replay_info *info);

/* ---- learning-curve meta-dataset generation (issue 10) ----
 *
 *     lm_metagen_options g = lm_metagen_options_default();
 *     g.config_path = "inputs/metadata_mlp.yaml";
 *     int rc = lm_exec_metadata_generate(&g);   // collective over MPI_COMM_WORLD
 *
 * Rank 0 draws K architectures from model.space with streams (seed, k, LM_STREAM_SAMPLE)
 * (redrawing, up to 1000 times, one whose canonical hash repeats an earlier one), and
 * hands the (dataset d, architecture k) pairs to the other ranks one at a time, the most
 * expensive first; each is trained for E epochs with the fixed recipe and trial seed
 * (seed, d*K + k) on the dataset's training split, recording per epoch the training
 * loss, validation loss and accuracy, test loss and accuracy (the test split evaluated
 * after every epoch) and the epoch's seconds (training and validation). A run that
 * diverges keeps its epochs so far (NaN after) and counts as done; an architecture
 * that cannot be built over a dataset's shape is done with every value NaN. With one
 * rank, pairs train on rank 0.
 *
 * The file (lamarck/meta.h) is written by rank 0 only, one pair at a time, each pair
 * first appended to "<output>.journal" (removed when the part is complete). Run again
 * with the same config to continue after a kill: done pairs are never trained again,
 * pairs in flight are trained again, and a file damaged by a kill in the middle of a
 * write is rebuilt from the journal (the damaged one kept as "<output>.damaged"). An
 * existing output made from another config is refused (LM_ECONFIG). SIGTERM/SIGUSR1
 * stop it between pairs with LM_EINTR (exit status 4).
 *
 * The architecture encoding (/architectures/encoding, G + 2 floats for G genes): each
 * gene scaled to [0, 1] over its range (genes of chain/MLP slots beyond the depth set to
 * 0), then log10(1 + params) and log10(1 + FLOPs); params, FLOPs and the encoding are
 * those of the decode over the first dataset's raw sample shape. The dataset descriptors
 * describe the splits as trained: after train_subset, and with the features the
 * preprocessing makes (one-hot encoding widens categorical features). */

typedef struct lm_metagen_options {
    const char *config_path;   /* a metadata config (lm_meta_config_load) */
    int part, n_parts;         /* only pairs with (d*K + k) % n_parts == part, written to
                                  lm_metagen_part_path(output); default 0 of 1 */
} lm_metagen_options;

lm_metagen_options lm_metagen_options_default(void);

/* The file part I of N is written to: output itself when N is 1, else "<stem>.partI-of-N.h5"
 * ("meta/mlp.h5" -> "meta/mlp.part2-of-8.h5"). LM_EINVAL for I outside [0, N). */
int lm_metagen_part_path(const char *output, int part, int n_parts, char *buf, size_t cap);

/* Generates (or continues) the meta-dataset the config describes. Collective over
 * MPI_COMM_WORLD; the failing rank prints the message. Returns LM_OK when this part is
 * complete, LM_ECONFIG/LM_ENOENT/LM_EDATA for a bad config, dataset or existing
 * output (the same on every rank), LM_EINTR when stopped by a signal. A failure while
 * training ends every rank (lm_exec_abort). */
int lm_exec_metadata_generate(const lm_metagen_options *o);

#endif
