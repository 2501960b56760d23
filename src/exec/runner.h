/* A trial as a worker runs it: the data it trains on, its trainer, and the reports it
 * produces epoch by epoch. Shared by the MPI worker loop and the inline transport. */
#ifndef LAMARCK_EXEC_RUNNER_H
#define LAMARCK_EXEC_RUNNER_H

#include "lamarck/config.h"
#include "lamarck/data.h"
#include "lamarck/nn.h"
#include "lamarck/search.h"

/* The splits a worker holds for the whole run, and the last preprocessed copy of them
 * (trials that share preprocessing settings share it). */
typedef struct lm_run_data {
    lm_dataset train, val, test;
    int have_prepared;
    lm_preprocess_params prepared_for;
    lm_dataset ptrain, pval, ptest;
} lm_run_data;

/* The splits to train a trial with preprocessing p: the raw ones when p changes nothing
 * (no categorical or missing values, no scaling), else copies preprocessed with
 * statistics fitted on the training split only. */
int lm__run_data_prepare(lm_run_data *d, const lm_preprocess_params *p, const lm_dataset **train,
                         const lm_dataset **val, const lm_dataset **test);

/* Reads the dataset file named by the config, splits train/validation (stratified, from
 * the run's seed) and keeps the first train_subset training samples when set. */
int lm__run_data_load(const lm_config *c, lm_run_data *d);
void lm__run_data_free(lm_run_data *d);
/* Records the message for a dataset file that is not there (with how to make it). */
int lm__dataset_missing(const lm_config *c, const char *path);

typedef struct lm_runner {
    const lm_config *config;
    lm_run_data *data;
    const lm_dataset *train, *val, *test; /* as preprocessed for this trial */
    lm_trainer *trainer;       /* NULL when the trial could not be built */
    lm_train_params params;
    int trial_id;
    int epochs_target;
    int epoch;
    int failed;
    double latency;            /* seconds per example at batch 1, measured once per job */
    char reason[LM_REASON_MAX];
} lm_runner;

/* Prepares trial_id at point hp for epochs epochs. A trial that cannot be built (bad
 * parameters) is not an error: its first report says failed, with the reason. */
int lm__runner_start(lm_runner *r, const lm_config *c, lm_run_data *d, int trial_id,
                     const double *hp, int epochs);
/* Like lm__runner_start, then continues from a snapshot of the same trial (weights,
 * optimizer state, epochs done, random streams). A snapshot that does not fit the
 * trial fails the trial with the reason. Does not take snap. */
int lm__runner_resume(lm_runner *r, const lm_config *c, lm_run_data *d, int trial_id,
                      const double *hp, int epochs, const void *snap, size_t n);
/* Lamarckian inheritance (issue 7): prepares trial_id, whose point hp is its donor's
 * with morph applied to the architecture genes, from the donor's snapshot (snap, n):
 * builds the donor's network (its genome is hp with the morph undone), loads its
 * weights, applies Net2WiderNet or Net2DeeperNet (noise from the trial's
 * LM_STREAM_INIT stream), checks that the result is the network hp's genome translates
 * to, and gives the transformed weights to trial_id's own new trainer, which trains
 * `epochs` epochs from 0 with fresh optimizer state. A step that fails (a morph that
 * does not fit, a network that differs from the genome's) fails the trial with the
 * reason, like a trial that cannot be built. Does not take snap. */
int lm__runner_inherit(lm_runner *r, const lm_config *c, lm_run_data *d, int trial_id,
                       const double *hp, int epochs, const lm_morph *morph, int donor,
                       const void *snap, size_t n);
/* The final of a job that is about to pause: test metrics when every epoch is done (a
 * trial kept at its end, such as a member of a Lamarckian population), else NAN. A
 * failed evaluation is logged and reported as NAN. */
void lm__runner_pause_test(lm_runner *r, lm_final *fin);
/* Ends the trial's job keeping its state: *snap (malloc'd, the caller's) holds the
 * snapshot, *checksum its FNV-1a. */
int lm__runner_pause(lm_runner *r, void **snap, size_t *n, uint64_t *checksum);
/* Trains one epoch and fills the report (failed with a reason on divergence). */
int lm__runner_epoch(lm_runner *r, lm_report *rep);
/* Whether the trial has nothing more to train (failed or every epoch done). */
int lm__runner_finished(const lm_runner *r);
/* Evaluates the final model on the test split (never used for selection) and ends. */
int lm__runner_finish(lm_runner *r, lm_final *fin);

#endif
