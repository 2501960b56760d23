/* The neural-network engine: training parameters, network descriptions (chains and
 * DAGs of convolutions, pooling, batch normalization, skip connections, dense
 * layers), SGD and the per-trial trainer that workers drive epoch by epoch.
 *
 * A network's parameters, gradients and optimizer state each live in one flat float
 * buffer (lm_trainer_params), so a snapshot is one MPI message and one HDF5 dataset.
 * Layers run on oneDNN primitives (src/nn); nothing outside src/nn sees oneDNN types.
 *
 *     lm_train_params p;
 *     lm_train_params_default(&p);
 *     lm_train_params_set(&p, "lr", 0.05, NULL);
 *     lm_train_params_set(&p, "model", 0, "cnn");
 *     lm_trainer *t;
 *     lm_trainer_create(&p, &train, &val, seed, trial_id, &t);
 *     for (int e = 0; e < p.epochs; e++) {
 *         lm_epoch_stats s;
 *         lm_trainer_epoch(t, &s);       // s.diverged: NaN/inf loss, a failed trial
 *     }
 *     lm_trainer_evaluate(t, &test, &loss, &acc);
 *     size_t len = lm_trainer_snapshot_size(t);   // weights, optimizer, RNG states
 *     lm_trainer_snapshot_save(t, buf, len);
 *     lm_trainer_destroy(&t);
 *
 * An architecture found by a search is a list of layer descriptions:
 *
 *     lm_layer_desc L[] = {
 *         {.op = LM_OP_CONV, .out_channels = 16, .kernel = 3, .padding = -1, .relu = 1},
 *         {.op = LM_OP_SEPCONV, .out_channels = 16, .kernel = 5, .padding = -1},
 *         {.op = LM_OP_ADD, .inputs = {0, 1}, .n_inputs = 2},
 *         {.op = LM_OP_GLOBAL_AVGPOOL},
 *     };
 *     lm_net_desc d = {L, 4, 1, 28, 28, 10};    // + a dense classifier to 10 classes
 *     lm_trainer_create_from_desc(&d, &p, &train, &val, seed, trial_id, &t);
 */
#ifndef LAMARCK_NN_H
#define LAMARCK_NN_H

#include "lamarck/arch.h"
#include "lamarck/data.h"
#include "lamarck/rng.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { LM_SCHED_CONSTANT, LM_SCHED_STEP, LM_SCHED_COSINE } lm_schedule;
typedef enum { LM_MODEL_MLP, LM_MODEL_CNN } lm_model;
/* Initial weights: PyTorch's default for Linear and Conv2d, U(-1/sqrt(fan_in),
 * 1/sqrt(fan_in)) for weights and biases; or He et al. 2015's N(0, 2/fan_in) (1/fan_in
 * for the classifier), biases 0, which keeps deep ReLU stacks without batch
 * normalization trainable. */
typedef enum { LM_INIT_PYTORCH, LM_INIT_HE } lm_init;

/* Everything a trial's training depends on. Each field is a hyperparameter that a
 * search space may set by the same name (see lm_train_params_set); the YAML section
 * a name belongs to is lm_train_param_section(name). */
typedef struct lm_train_params {
    /* section "training" */
    int epochs;           /* "epochs": epochs to train (the cosine schedule's horizon), >= 1 */
    int batch_size;       /* "batch_size": >= 1 */
    double lr;            /* "lr": base learning rate, > 0 */
    double momentum;      /* "momentum": in [0, 1) */
    int nesterov;         /* "nesterov": 0 or 1 */
    double weight_decay;  /* "weight_decay": decoupled (Loshchilov and Hutter 2019), >= 0 */
    lm_schedule schedule; /* "schedule": constant, step, cosine */
    int step_size;        /* "step_size": epochs between step decays, >= 1 */
    double gamma;         /* "gamma": step decay factor, in (0, 1] */
    /* section "model" */
    lm_model model;       /* "model": mlp or cnn */
    int depth;            /* "depth": hidden dense layers (the CNN's after its convolutions), >= 0 */
    int width;            /* "width": units per hidden dense layer, >= 1 */
    double dropout;       /* "dropout": drop probability after each hidden dense layer, [0, 1) */
    int conv_layers;      /* "conv_layers": CNN convolution blocks, 1..8 */
    int filters;          /* "filters": channels of the first block, doubled after each
                           * pooling, 1..1024 */
    int kernel;           /* "kernel": odd convolution kernel side, 1..11 */
    int batchnorm;        /* "batchnorm": batch normalization after each convolution */
    lm_init init;         /* "init": pytorch or he */
    /* section "preprocessing" (applied by the data module before training) */
    lm_preprocess_params preprocess; /* "scaler", "impute", "missing_indicator", "one_hot" */
    /* section "augmentation" (applied to each training batch of images) */
    lm_augment_params augment; /* "crop_padding" 0..16, "flip", "cutout" 0..64,
                                * "mixup_alpha" [0, 10], "noise_std" [0, 1],
                                * "contrast" [0, 1], "brightness" [0, 1] */
} lm_train_params;

/* Defaults: 3 epochs, batch 128, lr 0.05, momentum 0.9, no Nesterov, no weight decay,
 * constant schedule (step 1, gamma 0.1); an MLP with 2 hidden layers of 256, no
 * dropout; CNN settings 2 blocks of 32 filters, kernel 3, no batch normalization;
 * PyTorch's initialization;
 * lm_preprocess_params_default's preprocessing; no augmentation. */
void lm_train_params_default(lm_train_params *p);

/* Sets the parameter called name. Numeric parameters take num (a label beside a
 * finite num is its text and is ignored; a label with a NaN num is an error); the choices
 * ("schedule": constant, step, cosine; "model": mlp, cnn; "init": pytorch, he; "scaler": none,
 * standardize, minmax; "impute": mean, median, most_frequent) take label; the
 * booleans ("nesterov", "batchnorm", "missing_indicator", "one_hot", "flip") take
 * num (0/1) or label ("true"/"false"). Returns LM_EINVAL for an unknown name (the
 * message suggests the closest), LM_ERANGE for a value outside the documented range
 * (the message says the range). */
int lm_train_params_set(lm_train_params *p, const char *name, double num, const char *label);

/* The names lm_train_params_set accepts. */
const char *const *lm_train_params_names(int *n);

/* The YAML section of a parameter name: "training", "model", "preprocessing" or
 * "augmentation"; NULL for a name that is no parameter. */
const char *lm_train_param_section(const char *name);

/* Checks every field's range; LM_ERANGE with a message naming the field. */
int lm_train_params_check(const lm_train_params *p);

/* Threads each rank's compute primitives use (default: OMP_NUM_THREADS as it was when the
 * process started, else every core). Workers sharing a node want 1. */
void lm_nn_set_threads(int n);
int lm_nn_threads(void);

/* Learning rate at iteration it of total (both counted in mini-batches over the whole
 * run); step schedules decay every step_size epochs of iters_per_epoch. */
double lm_lr_at(const lm_train_params *p, long it, long iters_per_epoch, long total);

/* ---- network descriptions: what search spaces emit ---- */

typedef enum {
    LM_OP_CONV,            /* 2-D convolution (+ bias): out_channels, kernel (x kernel_w),
                            * stride, padding, dilation, groups */
    LM_OP_SEPCONV,         /* depthwise-separable: a depthwise kernel x kernel (x kernel_w)
                            * convolution (stride, padding, dilation; groups = input
                            * channels, no bias), then a 1x1 one to out_channels (+ bias) */
    LM_OP_MAXPOOL,         /* kernel, stride (0: kernel), padding */
    LM_OP_AVGPOOL,         /* kernel, stride (0: kernel), padding; padding excluded from
                            * the mean */
    LM_OP_GLOBAL_AVGPOOL,  /* mean over each channel: c x 1 x 1 */
    LM_OP_BATCHNORM,       /* batch statistics in training (eps 1e-5), running statistics
                            * (momentum 0.1, unbiased variance, as PyTorch) in evaluation */
    LM_OP_RELU,
    LM_OP_DROPOUT,         /* rate; a negative rate follows the training parameter "dropout" */
    LM_OP_IDENTITY,
    LM_OP_ZERO,            /* zeros of the input's channels, spatially strided by stride */
    LM_OP_ADD,             /* sum of 1..LM_LAYER_MAX_INPUTS inputs into out_channels (0:
                            * the first input's channels) x the smallest height x the
                            * smallest width; an
                            * input of another shape passes through a 1x1 convolution
                            * (+ bias) whose stride maps its height and width onto those */
    LM_OP_CONCAT,          /* 1..LM_LAYER_MAX_INPUTS inputs of the same height and width,
                            * along channels */
    LM_OP_DENSE,           /* out_channels units over the flattened input (+ bias) */
} lm_op;

#define LM_LAYER_MAX_INPUTS 16
#define LM_NET_MAX_LAYERS 4096

/* One layer. Fields an op does not use are ignored; zero means the default noted. */
typedef struct lm_layer_desc {
    lm_op op;
    int inputs[LM_LAYER_MAX_INPUTS]; /* -1: the network input; i >= 0: layer i's output,
                                      * i less than this layer's index */
    int n_inputs;     /* 0: one input, the previous layer's output (the network input
                       * for layer 0) */
    int out_channels; /* conv, sepconv: output channels; dense: units; add: see LM_OP_ADD */
    int kernel;       /* conv, sepconv, maxpool, avgpool: kernel height (and width when
                       * kernel_w is 0), >= 1 */
    int kernel_w;     /* conv, sepconv: kernel width (1 x 7 and 7 x 1 convolutions); 0: square,
                       * kernel; pools are square only */
    int stride;       /* conv, sepconv, zero: 0 means 1; pools: 0 means kernel */
    int padding;      /* zero padding on each side (rows and columns alike); -1: dilation *
                       * (kernel - 1) / 2 rows and dilation * (kernel_w - 1) / 2 columns
                       * ("same" for odd kernels at stride 1, ceil(side / stride) at others) */
    int dilation;     /* conv, sepconv: 0 means 1 */
    int groups;       /* conv: 0 means 1; input and output channels must divide by it */
    int relu;         /* conv, sepconv, dense, pools: a ReLU on the output */
    double rate;      /* dropout */
} lm_layer_desc;

/* A network: the layers in order and the sample shape. The network's output is the
 * last layer's; lm_net_check and the trainer append the classifier, a dense layer to
 * n_classes logits over it. Layers whose outputs never reach the last layer are
 * dropped (they would only cost time). */
typedef struct lm_net_desc {
    const lm_layer_desc *layers; /* n_layers, borrowed */
    int n_layers;                /* 0..LM_NET_MAX_LAYERS (0: a linear classifier) */
    int in_c, in_h, in_w;        /* sample shape, >= 1 each */
    int n_classes;               /* >= 1 */
} lm_net_desc;

/* Validates d: ops, inputs (earlier layers only, so the graph is acyclic), kernel,
 * stride, padding and groups, and every shape along the graph; LM_EINVAL with a
 * message naming the layer index, its op and what does not fit. Sets *params (may be
 * NULL) to the parameter count and *flops (may be NULL) to the forward FLOPs per
 * sample (2 x multiply-adds of convolutions and dense layers, classifier included).
 * Allocates nothing that outlives the call; builds no primitive. */
int lm_net_check(const lm_net_desc *d, long *params, double *flops);

/* The layers of the MLP or CNN that p describes (p->model) over samples of shape
 * c x h x w, into layers (capacity cap; LM_PARAMS_MAX_LAYERS always suffices); *n the
 * count. MLP: depth x [dense(width) ReLU, dropout]. CNN: conv_layers x [conv(kernel,
 * padding kernel/2) (+ batchnorm) ReLU, maxpool 2 while height and width are >= 2;
 * filters double after each pooling], then as the MLP; the ReLU of a pooled block
 * goes after the pooling (the same function: ReLU and max pooling commute). Dropout layers follow the
 * "dropout" parameter (rate -1), so lm_trainer_set_params can change it. */
#define LM_PARAMS_MAX_LAYERS 160
int lm_net_layers_from_params(const lm_train_params *p, int c, int h, int w, lm_layer_desc *layers,
                              int cap, int *n);

/* Translates a decoded architecture (lm_arch.h's node list) into layers (capacity cap;
 * 3 per node suffices) and *d (d->layers = layers, the sample shape from node 0,
 * n_classes from the last node, which must be the dense classifier: lm_net_desc
 * appends it itself). Every convolution node (conv, separable, dilated, 1x7 and 7x1)
 * becomes convolution, batch normalization, ReLU (post-activation, as NASNet's
 * ReLU-conv-BN differs only in where the chain starts); a dense node other than the
 * last becomes a dense layer with its ReLU; pools, identity, add, concat and global
 * pooling translate directly. Convolutions and pools use "same" padding, stride and
 * dilation as the node says; every translated layer's output shape is checked against
 * the node's. Parameters: lm_arch_net_cost's count plus 2 per channel of each batch
 * normalization (scale and shift), provided every node reaches the classifier (the
 * engine drops those that do not). LM_EINVAL naming the node and what does not fit. */
int lm_net_from_arch(const lm_arch_net *an, lm_layer_desc *layers, int cap, int *n_layers,
                     lm_net_desc *d);

/* Floats of the weight vector of a network built from d (lm_trainer_weights): its
 * parameters (lm_net_check's count) followed by its running statistics (a mean and a
 * variance per batch-normalized channel). 0 when d is invalid (the error is set). */
size_t lm_net_param_count(const lm_net_desc *d);

/* ---- function-preserving transformations (Chen, Goodfellow and Shlens 2016) ----
 *
 * Both take a parent network d and its weight vector (lm_trainer_weights of a trained
 * trainer of d: lm_net_param_count(parent) floats) and write the child's description
 * into child (child->layers = child_layers, capacity cap) and its weight vector into
 * child_params (capacity child_cap floats; lm_net_param_count(child) are written).
 * A trainer of the child given these weights (lm_trainer_set_weights) computes the
 * parent's function in evaluation mode. LM_EINVAL with a message saying why the
 * layer cannot be transformed; nothing is written then except possibly the outputs. */

/* Net2WiderNet: layer `layer` (conv or dense, whose output feeds through optional BN,
 * ReLU, pooling, dropout, identity into exactly one conv/dense consumer or the
 * classifier) gets new_width > its width units/filters: new units copy randomly
 * chosen existing ones (rng), the consumer's incoming weights of a replicated unit
 * are divided by its replication count; BN's parameters and running statistics are
 * replicated too. noise > 0 adds N(0, noise * std(w)) to the new copies' incoming
 * weights, w the layer's weights (breaking symmetry; 0 keeps the function exact).
 * Grouped convolutions and separable ones (as layer or consumer) are refused. */
int lm_net2wider(const lm_net_desc *parent, const float *parent_params, int layer, int new_width,
                 double noise, lm_rng *rng, lm_layer_desc *child_layers, int cap,
                 lm_net_desc *child, float *child_params, size_t child_cap);

/* Net2DeeperNet: inserts after `layer` (a conv or dense followed by ReLU) an
 * identity-initialized conv (odd kernel 1..11, same channels, stride 1, "same"
 * padding, centre tap 1, bias 0) or dense (identity matrix, bias 0) with a fused ReLU:
 * the function is unchanged because ReLU(ReLU(x)) = ReLU(x). "Followed by ReLU": the
 * layer's own relu flag, or a RELU layer (or a pool with relu) reached from it through
 * single-consumer batch normalization, pooling, dropout or identity layers; the new
 * layer goes after that ReLU and reads its output, and every layer that read it reads
 * the new layer instead. A conv's spatial output (or a dense layer's vector) decides
 * the kind: conv for conv, dense for dense; kernel is ignored for dense. */
int lm_net2deeper(const lm_net_desc *parent, const float *parent_params, int layer, int kernel,
                  lm_layer_desc *child_layers, int cap, lm_net_desc *child, float *child_params,
                  size_t child_cap);

/* Net2DeeperNet with batch normalization, for networks of conv + BN + ReLU layers.
 * It inserts after the same place as lm_net2deeper the identity conv (or dense)
 * without a fused ReLU, then a batch normalization and a ReLU. The normalization undoes
 * itself on the parent's statistics (Chen et al. 2016, section 2.3): mean and var are
 * the per-channel mean and variance of the output the new layer reads
 * (lm_trainer_activation_stats measures them); its scale is sqrt(var + eps), its shift
 * mean, its running statistics mean and var. In evaluation the child computes the
 * parent's function; in training it normalizes by a batch's statistics instead, which
 * are near these. var must be >= 0. */
int lm_net2deeper_bn(const lm_net_desc *parent, const float *parent_params, int layer, int kernel,
                     const float *mean, const float *var, lm_layer_desc *child_layers, int cap,
                     lm_net_desc *child, float *child_params, size_t child_cap);

/* Approximate morphs that shrink a network.
 * They are LEMONADE's (Elsken, Metzen and Hutter 2019): the child starts near the
 * parent's function, not at it, and training recovers the rest. Same arguments and
 * outputs as the transformations above. */

/* Net2Narrower: layer `layer` (as for lm_net2wider) keeps new_width of its units.
 * Those kept, fewer than its width, are the units or filters whose incoming weights
 * have the largest L1 norm (Li et al. 2017), in their order, with their BN parameters
 * and statistics; the consumer keeps their outgoing weights unchanged. Exact when the
 * dropped units' outputs are 0. */
int lm_net2narrower(const lm_net_desc *parent, const float *parent_params, int layer,
                    int new_width, lm_layer_desc *child_layers, int cap, lm_net_desc *child,
                    float *child_params, size_t child_cap);

/* Removes the block of layers first .. first + count - 1 (not the last layer).
 * The block reads one input and only its last layer is read after it; its readers read
 * the block's input instead. Every other layer keeps its weights, so the block's output must have
 * its input's shape as far as parameters go (channels; spatial size only before a
 * flattening dense layer); LM_EINVAL says which layer would change otherwise. */
int lm_net_remove_layers(const lm_net_desc *parent, const float *parent_params, int first,
                         int count, lm_layer_desc *child_layers, int cap, lm_net_desc *child,
                         float *child_params, size_t child_cap);

/* Inference latency of the network d describes, without data or a trainer: builds
 * the network (weights from a fixed seed), one warm-up pass, then reps (1..1000)
 * evaluation-mode forward passes over batch (1..4096) samples of N(0, 1) inputs;
 * *sec_per_sample is the median pass's wall time over batch. Threads as
 * lm_nn_set_threads says. */
int lm_net_latency(const lm_net_desc *d, int batch, int reps, double *sec_per_sample);

/* ---- trainer: one trial's model, optimizer and data order ---- */

typedef struct lm_trainer lm_trainer;

typedef struct lm_epoch_stats {
    int epoch;             /* epochs completed, 1-based after the first */
    double train_loss;     /* mean over the epoch's samples (mixup: the mixed loss) */
    double train_accuracy; /* against the samples' own labels */
    double val_loss;
    double val_accuracy;
    double seconds;        /* wall time of the epoch, training and validation */
    double lr;             /* learning rate at the epoch's last step */
    int diverged;          /* a loss was NaN or infinite: the trial failed */
} lm_epoch_stats;

/* Builds the model that p describes (lm_net_layers_from_params over train's sample
 * shape and classes), initializes weights from (seed, trial, LM_STREAM_INIT) as
 * p->init says (PyTorch's default unless set), and prepares batches. Keeps pointers to train and val (borrowed; they
 * must outlive the trainer). Allocates every buffer and creates every primitive here:
 * no allocation inside lm_trainer_epoch. Buffers are sized for batches of
 * p->batch_size (or the larger set's size, if smaller). */
int lm_trainer_create(const lm_train_params *p, const lm_dataset *train, const lm_dataset *val,
                      uint64_t seed, uint64_t trial, lm_trainer **out);

/* As lm_trainer_create, for the network d describes (its sample shape must be
 * train's, n_classes train's classes). p's model fields are not used; p->dropout
 * sets the layers of rate -1. */
int lm_trainer_create_from_desc(const lm_net_desc *d, const lm_train_params *p,
                                const lm_dataset *train, const lm_dataset *val, uint64_t seed,
                                uint64_t trial, lm_trainer **out);
void lm_trainer_destroy(lm_trainer **t);

/* Trains one epoch, then evaluates on the validation set. A non-finite loss sets
 * stats->diverged and returns LM_OK: divergence is a result, not an error. The epoch
 * stops at the first non-finite training loss; its losses are then NaN and its
 * accuracies 0. val may be NULL: validation figures are then NaN. Training batches
 * of images are augmented (lm_augment_batch, stream (seed, trial, LM_STREAM_AUGMENT))
 * when p->augment is active; with mixup the loss is
 * lambda CE(y) + (1 - lambda) CE(y2). Training may go on past p->epochs. */
int lm_trainer_epoch(lm_trainer *t, lm_epoch_stats *stats);

/* Mean loss and accuracy of the current model on d (evaluation mode: no dropout,
 * batch normalization with running statistics). */
int lm_trainer_evaluate(lm_trainer *t, const lm_dataset *d, double *loss, double *accuracy);

/* Changes the hyperparameters that may change between epochs, keeping weights,
 * optimizer state and RNG streams: lr, momentum, nesterov, weight_decay, schedule,
 * step_size, gamma, epochs (the cosine horizon), dropout (the layers of rate -1),
 * augment and batch_size. A batch size larger than the buffers hold grows them here
 * (the only allocation after lm_trainer_create; a smaller one reuses them), creating
 * the primitives the new batch sizes need. The schedule's position is counted in
 * epochs done, so a new batch size or horizon continues it without a jump at an epoch
 * boundary. Any other field differing from the trainer's (model, depth, width,
 * conv_layers, filters, kernel, batchnorm, preprocessing) is an architecture or data
 * change: LM_EINVAL naming it, and nothing changes (so is init, which only acts at
 * creation). LM_ERANGE for a value out of range. */
int lm_trainer_set_params(lm_trainer *t, const lm_train_params *p);

/* The trainer's current parameters (borrowed). */
const lm_train_params *lm_trainer_get_params(const lm_trainer *t);

long lm_trainer_param_count(const lm_trainer *t);
int lm_trainer_epochs_done(const lm_trainer *t);
/* Mini-batch steps taken over the whole run. */
long lm_trainer_steps(const lm_trainer *t);

/* Forward FLOPs per sample (2 x multiply-adds of convolutions and dense layers; the
 * training step costs about 3 times that). */
double lm_trainer_flops(const lm_trainer *t);

/* Inference latency: the median over repeats (1..1000) of the wall time of one
 * evaluation-mode forward pass over batch samples (1..the trainer's batch buffers),
 * divided by batch. Uses the first samples of the training set (cycled when there
 * are fewer). Creates the primitives for batch on first use. */
int lm_trainer_latency(lm_trainer *t, int batch, int repeats, double *seconds_per_sample);

/* The model's flat parameter buffer (borrowed, owned by the trainer; *n set to its
 * length, lm_trainer_param_count): every layer's weights then biases, in layer order
 * (convolution weights as out x in/groups x kh x kw, dense as in x out). Writing it
 * replaces the model's weights. */
float *lm_trainer_params(lm_trainer *t, long *n);

/* The model's weight vector (borrowed, valid until the trainer is destroyed): the
 * flat parameter buffer (lm_trainer_params) followed by the batch-normalization
 * running statistics (per batch normalization in layer order: c running means, then c
 * running variances); *n = lm_net_param_count of the trainer's description. */
void lm_trainer_weights(const lm_trainer *t, const float **w, size_t *n);

/* Replaces the model's weights and running statistics with w (n floats, the layout of
 * lm_trainer_weights; LM_EINVAL when n differs, nothing changed). Momentum restarts
 * from zero (an inherited model, not a resumed run: snapshots carry optimizer state);
 * weights that pruning masked stay 0. Between epochs only. */
int lm_trainer_set_weights(lm_trainer *t, const float *w, size_t n);

/* Logits of the current model (evaluation mode) for the first n samples of d (1..d->n;
 * d's samples of the training set's shape): n x classes floats into logits, row-major. */
int lm_trainer_predict(lm_trainer *t, const lm_dataset *d, int n, float *logits);

/* Per-channel mean and variance of the output of layer `layer` of d, the description
 * the trainer was built from, as training sees it: over the first n training samples
 * (1..training set size) in training mode, in batches of the training batch size, the
 * batches' means and (biased) variances averaged, as a batch normalization reading
 * that output would meet them; channels floats into mean and var. The running
 * statistics are left as they were (a dropout layer draws from the trainer's stream). */
int lm_trainer_activation_stats(lm_trainer *t, const lm_net_desc *d, int layer, int n, float *mean,
                                float *var);

/* ---- snapshots: everything needed to continue training bitwise identically ---- */

/* Bytes of a snapshot of t: a header (magic, version, architecture fingerprint,
 * sizes), parameters, momentum, batch-normalization running statistics, the pruning
 * mask if any, epochs done, step count and the shuffle, dropout and augmentation RNG
 * states, the learning-rate schedule's horizon (lm_train_params.epochs), and a checksum
 * of it all. */
size_t lm_trainer_snapshot_size(const lm_trainer *t);

/* Writes the snapshot into buf (cap bytes, at least lm_trainer_snapshot_size);
 * LM_EINVAL when cap is too small. Between epochs only (the trainer is never
 * anywhere else when it returns). */
int lm_trainer_snapshot_save(const lm_trainer *t, void *buf, size_t cap);

/* Restores a snapshot saved from a trainer of the same architecture (built from the
 * same description over data of the same shape), in this process or another: after
 * it, t continues exactly as the saved trainer would have, given the same training
 * parameters and data. t's hyperparameters are kept (set them with
 * lm_trainer_set_params). LM_ECKPT with a message on a foreign, truncated,
 * corrupted or mismatched snapshot; t is unchanged then. */
int lm_trainer_snapshot_load(lm_trainer *t, const void *buf, size_t len);

/* The schedule horizon (epochs) of the trainer a snapshot was saved from, so that a
 * resumed run can keep its schedule; LM_ECKPT for a buffer that is not a snapshot. */
int lm_trainer_snapshot_horizon(const void *buf, size_t len);

/* FNV-1a (64 bits) over the parameters, momentum buffers and running statistics:
 * equal for trainers whose next epochs will be equal. */
uint64_t lm_trainer_checksum(const lm_trainer *t);

/* ---- pruning ---- */

/* Global magnitude pruning: zeroes the round(sparsity x count) smallest-magnitude
 * weights (sparsity in [0, 1)) among all weights of convolutions and dense layers
 * together (biases and batch normalization excluded), ties broken by position. Weights pruned before stay pruned; the mask holds through further
 * training (pruned weights and their momentum stay 0), and snapshots carry it. */
int lm_trainer_prune(lm_trainer *t, double sparsity);

/* The fraction of prunable weights currently masked (0 before any pruning). */
double lm_trainer_sparsity(const lm_trainer *t);

/* ---- custom-loss training: a network as a differentiable function (issue 10) ----
 *
 * A network d whose loss the caller computes: lm_net_desc's layers with its linear
 * head (a dense layer to d->n_classes outputs, no softmax) give n_classes outputs per
 * sample. The caller runs a forward pass, computes d loss / d output itself, hands it
 * back, and steps SGD, on the same engine, layers and flat buffers as the trainer.
 *
 *     lm_custom_net *m;
 *     lm_custom_net_create(&d, 64, LM_INIT_HE, seed, 0, &m);
 *     lm_custom_net_forward(m, x, n, out);          // n x n_classes, training mode
 *     for (i ...) dout[i] = dloss_dout(out[i]);
 *     lm_custom_net_backward(m, dout);              // gradients of the last forward
 *     lm_custom_net_sgd_step(m, 0.01, 0.9, 1e-4);
 *     lm_custom_net_eval(m, x, n, out);             // evaluation mode, any n
 *     lm_custom_net_destroy(&m);
 *
 * Not thread-safe: one caller per network. */
typedef struct lm_custom_net lm_custom_net;

/* Builds the network d describes (lm_net_check's rules; layers of dropout rate -1
 * take rate 0), initializes its weights from (seed, trial, LM_STREAM_INIT) as init
 * says, and plans buffers for batches of max_batch (1..65536) samples; larger batches
 * grow them on first use. LM_EINVAL naming the layer on a bad description. */
int lm_custom_net_create(const lm_net_desc *d, int max_batch, lm_init init, uint64_t seed,
                         uint64_t trial, lm_custom_net **out);
void lm_custom_net_destroy(lm_custom_net **m);

/* Floats of one input sample (in_c x in_h x in_w, C order) and of one output
 * (n_classes). */
int lm_custom_net_inputs(const lm_custom_net *m);
int lm_custom_net_outputs(const lm_custom_net *m);

/* Training-mode forward pass (dropout on, batch statistics) over n >= 1 samples x
 * (n x inputs floats, borrowed until lm_custom_net_backward); out receives n x outputs
 * floats. */
int lm_custom_net_forward(lm_custom_net *m, const float *x, int n, float *out);

/* Backward pass for the last training forward: dout holds d loss / d output (n x
 * outputs of that pass). The parameter gradients (lm_custom_net_grads) are
 * overwritten with d loss / d parameters: a loss over several forward passes is one
 * pass over their samples together. LM_EINVAL without a training forward before. */
int lm_custom_net_backward(lm_custom_net *m, const float *dout);

/* One SGD step over the gradients of the last backward (lm_train_params' rule:
 * momentum, decoupled weight decay on weights only). lr > 0, momentum in [0, 1),
 * weight_decay >= 0; LM_ERANGE otherwise. */
int lm_custom_net_sgd_step(lm_custom_net *m, double lr, double momentum, double weight_decay);

/* Evaluation-mode outputs (no dropout, running statistics) of n >= 1 samples, in
 * chunks of the planned batch: n x outputs floats into out. */
int lm_custom_net_eval(lm_custom_net *m, const float *x, int n, float *out);

/* The weight vector (lm_trainer_weights' layout: parameters then running statistics;
 * borrowed, valid until destroy) and its replacement (n floats exactly, else
 * LM_EINVAL; momentum restarts from zero). */
void lm_custom_net_weights(const lm_custom_net *m, const float **w, size_t *n);
int lm_custom_net_set_weights(lm_custom_net *m, const float *w, size_t n);

/* The parameter gradients of the last backward (borrowed; *n parameters, the first
 * part of the weight vector's layout). */
const float *lm_custom_net_grads(const lm_custom_net *m, size_t *n);

/* ---- end custom-loss training ---- */

#endif
