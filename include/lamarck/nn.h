/* The neural-network engine: training parameters, networks, SGD and the per-trial
 * trainer that workers drive epoch by epoch.
 *
 * A network's parameters, gradients and optimizer state each live in one flat float
 * buffer (lm_trainer_params), so a snapshot is one MPI message and one
 * HDF5 dataset. Matrix products go through the kernel interface in src/nn/kernel.h,
 * implemented with oneDNN; nothing outside src/nn sees oneDNN types.
 *
 *     lm_train_params p;
 *     lm_train_params_default(&p);
 *     lm_train_params_set(&p, "lr", 0.05, NULL);
 *     lm_trainer *t;
 *     lm_trainer_create(&p, &train, &val, seed, trial_id, &t);
 *     for (int e = 0; e < p.epochs; e++) {
 *         lm_epoch_stats s;
 *         lm_trainer_epoch(t, &s);       // s.diverged: NaN/inf loss, a failed trial
 *     }
 *     lm_trainer_evaluate(t, &test, &loss, &acc);
 *     lm_trainer_destroy(&t);
 */
#ifndef LAMARCK_NN_H
#define LAMARCK_NN_H

#include "lamarck/data.h"
#include "lamarck/rng.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { LM_SCHED_CONSTANT, LM_SCHED_STEP, LM_SCHED_COSINE } lm_schedule;

/* Everything a trial's training depends on. Each field is a hyperparameter that a
 * search space may set by the same name (see lm_train_params_set). */
typedef struct lm_train_params {
    int epochs;           /* "epochs": epochs to train, >= 1 */
    int batch_size;       /* "batch_size": >= 1 */
    double lr;            /* "lr": base learning rate, > 0 */
    double momentum;      /* "momentum": in [0, 1) */
    int nesterov;         /* "nesterov": 0 or 1 */
    double weight_decay;  /* "weight_decay": decoupled (Loshchilov and Hutter 2019), >= 0 */
    lm_schedule schedule; /* "schedule": constant, step, cosine */
    int step_size;        /* "step_size": epochs between step decays, >= 1 */
    double gamma;         /* "gamma": step decay factor, in (0, 1] */
    int depth;            /* "depth": hidden layers of the MLP, >= 0 */
    int width;            /* "width": units per hidden layer, >= 1 */
    double dropout;       /* "dropout": drop probability after each hidden layer, in [0, 1) */
} lm_train_params;

/* Defaults: 3 epochs, batch 128, lr 0.05, momentum 0.9, no Nesterov, no weight decay,
 * constant schedule (step 1, gamma 0.1), MLP with 2 hidden layers of 256, no dropout. */
void lm_train_params_default(lm_train_params *p);

/* Sets the parameter called name. Numeric parameters take num; "schedule" takes label
 * ("constant", "step", "cosine"); "nesterov" takes num (0/1) or label ("true"/"false").
 * Returns LM_EINVAL for an unknown name (message suggests the closest), LM_ERANGE for
 * a value outside the documented range (message says the range). */
int lm_train_params_set(lm_train_params *p, const char *name, double num, const char *label);

/* The names lm_train_params_set accepts. */
const char *const *lm_train_params_names(int *n);

/* Checks every field's range; LM_ERANGE with a message naming the field. */
int lm_train_params_check(const lm_train_params *p);

/* Learning rate at iteration it of total (both counted in mini-batches over the whole
 * run); step schedules decay every step_size epochs of iters_per_epoch. */
double lm_lr_at(const lm_train_params *p, long it, long iters_per_epoch, long total);

/* ---- trainer: one trial's model, optimizer and data order ---- */

typedef struct lm_trainer lm_trainer;

typedef struct lm_epoch_stats {
    int epoch;             /* epochs completed, 1-based after the first */
    double train_loss;     /* mean over the epoch's samples */
    double train_accuracy;
    double val_loss;
    double val_accuracy;
    double seconds;        /* wall time of the epoch, training and validation */
    double lr;             /* learning rate at the epoch's last step */
    int diverged;          /* a loss was NaN or infinite: the trial failed */
} lm_epoch_stats;

/* Builds the model (an MLP from depth/width/dropout over train's features and
 * classes), initializes weights from (seed, trial, LM_STREAM_INIT) and prepares
 * batches. Keeps pointers to train and val (borrowed; they must outlive the trainer).
 * Allocates every buffer here: no allocation inside lm_trainer_epoch. */
int lm_trainer_create(const lm_train_params *p, const lm_dataset *train, const lm_dataset *val,
                      uint64_t seed, uint64_t trial, lm_trainer **out);
void lm_trainer_destroy(lm_trainer **t);

/* Trains one epoch, then evaluates on the validation set. A non-finite loss sets
 * stats->diverged and returns LM_OK: divergence is a result, not an error. The epoch
 * stops at the first non-finite training loss; its losses are then NaN and its
 * accuracies 0. val may be NULL: validation figures are then NaN. */
int lm_trainer_epoch(lm_trainer *t, lm_epoch_stats *stats);

/* Mean loss and accuracy of the current model on d (evaluation mode: no dropout). */
int lm_trainer_evaluate(lm_trainer *t, const lm_dataset *d, double *loss, double *accuracy);

long lm_trainer_param_count(const lm_trainer *t);
int lm_trainer_epochs_done(const lm_trainer *t);

/* The model's flat parameter buffer (borrowed, owned by the trainer; *n set to its
 * length, lm_trainer_param_count): every layer's weights then biases, in layer order.
 * Writing it replaces the model's weights, so a snapshot is saved or restored with
 * one copy. */
float *lm_trainer_params(lm_trainer *t, long *n);

#endif
