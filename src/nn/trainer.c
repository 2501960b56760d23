/* The per-trial trainer: a network built from a description (or from the training
 * parameters' MLP or CNN), SGD over shuffled and optionally augmented mini-batches
 * epoch by epoch, evaluation and hyperparameter changes between epochs (inference
 * latency: latency.c). Everything is allocated in lm_trainer_create (or in lm_trainer_set_params
 * when a larger batch needs larger buffers); an epoch allocates nothing. */
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/timer.h"
#include "nn/graph.h"
#include "nn/kernel.h"
#include "nn/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Labels index the logits: one out of range would read outside them. */
static int check_labels(const lm_dataset *d, int n_classes, const char *role) {
    for (int64_t i = 0; i < d->n; i++)
        LM_CHECK(d->y[i] >= 0 && d->y[i] < n_classes, LM_EDATA,
                 "%s set '%s': sample %lld has label %d, expected 0 to %d", role, d->name,
                 (long long)i, (int)d->y[i], n_classes - 1);
    return LM_OK;
}

static int check_dataset(const lm_dataset *d, const lm_dataset *train, int n_classes,
                         const char *role) {
    LM_CHECK(d->n >= 0 && (d->n == 0 || (d->X && d->y)), LM_EINVAL, "%s set '%s' has no data", role,
             d->name);
    LM_CHECK(d->c == train->c && d->h == train->h && d->w == train->w, LM_EDATA,
             "%s set '%s' has samples of %d x %d x %d, the training set '%s' %d x %d x %d", role,
             d->name, d->c, d->h, d->w, train->name, train->c, train->h, train->w);
    LM_CALL(check_labels(d, n_classes, role));
    return LM_OK;
}

/* Batches hold at most batch_size samples, and never more than the larger set has. */
static int batch_rows(const lm_trainer *t, int batch_size) {
    int64_t most = t->train->n;
    if (t->val && t->val->n > most) most = t->val->n;
    return batch_size < most ? batch_size : (int)most;
}

static long iters_per_epoch(const lm_trainer *t) {
    return (long)((t->train->n + t->p.batch_size - 1) / t->p.batch_size);
}

/* The primitives of every batch size an epoch meets: a full batch and the last
 * partial ones of training and validation (evaluation goes in chunks of max_batch). */
static int prepare_sizes(lm_trainer *t) {
    lm__net *net = t->net;
    int b = batch_rows(t, t->p.batch_size);
    LM_CALL(lm__net_prepare(net, b));
    if (t->train->n % b) LM_CALL(lm__net_prepare(net, (int)(t->train->n % b)));
    if (t->val && t->val->n > 0) {
        int64_t m = t->val->n < net->max_batch ? t->val->n : net->max_batch;
        LM_CALL(lm__net_prepare(net, (int)m));
        if (t->val->n % net->max_batch) LM_CALL(lm__net_prepare(net, (int)(t->val->n % net->max_batch)));
    }
    return LM_OK;
}

/* Buffers for augmenting batches of max_batch, when augmentation is on. */
static int prepare_augment(lm_trainer *t) {
    if (!t->images || !lm_augment_active(&t->p.augment)) return LM_OK;
    int rows = t->net->max_batch;
    const lm_dataset *d = t->train;
    size_t need = lm_augment_scratch_floats(&t->p.augment, rows, d->c, d->h, d->w);
    if (need > t->aug_floats || !t->aug_scratch) {
        float *s = malloc((need ? need : 1) * sizeof *s);
        LM_CHECK_ALLOC(s);
        free(t->aug_scratch);
        t->aug_scratch = s;
        t->aug_floats = need;
    }
    int32_t *y2 = realloc(t->y2, (size_t)rows * sizeof *y2);
    LM_CHECK_ALLOC(y2);
    t->y2 = y2;
    return LM_OK;
}

static void set_dropout(lm__net *net, double p) {
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].ops == &lm__dropout_ops && net->layers[i].cfg.follow)
            net->layers[i].cfg.p = p;
}

static int create(const lm_net_desc *d, const lm_train_params *p, const lm_dataset *train,
                  const lm_dataset *val, uint64_t seed, uint64_t trial, lm_trainer **out) {
    *out = NULL;
    LM_CALL(lm_train_params_check(p));
    LM_CHECK(train && train->n >= 1 && train->X && train->y, LM_EINVAL,
             "the trainer needs a training set with at least one sample");
    LM_CHECK(train->n <= INT32_MAX, LM_EINVAL, "training set '%s' has %lld samples (at most %d)",
             train->name, (long long)train->n, INT32_MAX);
    LM_CHECK(train->c >= 1 && train->h >= 1 && train->w >= 1, LM_EDATA,
             "training set '%s' has sample shape %d x %d x %d", train->name, train->c, train->h,
             train->w);
    LM_CHECK(train->n_classes >= 1 && train->n_classes <= LM_DATA_CLASSES_MAX, LM_EDATA,
             "training set '%s' has %d classes (1 to %d allowed)", train->name, train->n_classes,
             LM_DATA_CLASSES_MAX);
    LM_CALL(check_dataset(train, train, train->n_classes, "training"));
    if (val) LM_CALL(check_dataset(val, train, train->n_classes, "validation"));
    LM_CHECK(d->in_c == train->c && d->in_h == train->h && d->in_w == train->w, LM_EDATA,
             "the network takes samples of %d x %d x %d, the training set '%s' has %d x %d x %d",
             d->in_c, d->in_h, d->in_w, train->name, train->c, train->h, train->w);
    LM_CHECK(d->n_classes == train->n_classes, LM_EDATA,
             "the network has %d classes, the training set '%s' %d", d->n_classes, train->name,
             train->n_classes);

    lm_trainer *t = calloc(1, sizeof *t);
    LM_CHECK_ALLOC(t);
    t->p = *p;
    t->train = train;
    t->val = val;
    t->n_classes = train->n_classes;
    t->images = train->h > 1 || train->w > 1;
    t->opt = (lm__sgd){(float)p->momentum, p->nesterov, (float)p->weight_decay};
    lm_rng_init(&t->aug_rng, seed, trial, LM_STREAM_AUGMENT);
    int rc;
    LM_CALL_GOTO(rc, lm__net_from_desc(d, p->dropout, &t->net), fail);
    t->net->init = (int)p->init;
    LM_CALL_GOTO(rc, lm__net_finish(t->net, batch_rows(t, p->batch_size), 0, seed, trial), fail);
    LM_CALL_GOTO(rc, prepare_sizes(t), fail);
    LM_CALL_GOTO(rc, lm_batcher_init(&t->batcher, train, t->net->max_batch, seed, trial), fail);
    LM_CALL_GOTO(rc, prepare_augment(t), fail);
    t->arch = lm__net_fingerprint(t->net);
    lm_log_debug("nn: trial %llu: %d layers, %lld parameters, %.3g MFLOP/sample, batch %d",
                 (unsigned long long)trial, t->net->n_layers, (long long)t->net->n_params,
                 t->net->flops / 1e6, t->net->max_batch);
    *out = t;
    return LM_OK;
fail:
    lm_trainer_destroy(&t);
    return rc;
}

int lm_trainer_create_from_desc(const lm_net_desc *d, const lm_train_params *p,
                                const lm_dataset *train, const lm_dataset *val, uint64_t seed,
                                uint64_t trial, lm_trainer **out) {
    *out = NULL;
    LM_CHECK(d && p, LM_EINVAL, "the trainer needs a network description and parameters");
    LM_CALL(create(d, p, train, val, seed, trial, out));
    return LM_OK;
}

int lm_trainer_create(const lm_train_params *p, const lm_dataset *train, const lm_dataset *val,
                      uint64_t seed, uint64_t trial, lm_trainer **out) {
    *out = NULL;
    LM_CALL(lm_train_params_check(p));
    LM_CHECK(train, LM_EINVAL, "the trainer needs a training set");
    lm_layer_desc layers[LM_PARAMS_MAX_LAYERS];
    int n;
    LM_CALL(lm_net_layers_from_params(p, train->c, train->h, train->w, layers, LM_PARAMS_MAX_LAYERS, &n));
    lm_net_desc d = {layers, n, train->c, train->h, train->w, train->n_classes};
    LM_CALL(create(&d, p, train, val, seed, trial, out));
    return LM_OK;
}

void lm_trainer_destroy(lm_trainer **tp) {
    if (!tp || !*tp) return;
    lm_trainer *t = *tp;
    lm__net_destroy(&t->net);
    if (t->batcher.d) lm_batcher_fini(&t->batcher);
    free(t->y2);
    free(t->aug_scratch);
    free(t);
    *tp = NULL;
}

/* Mean loss and accuracy over d in evaluation mode; samples are contiguous in d, so
 * batches are read in place, without gathering. */
static int evaluate(lm_trainer *t, const lm_dataset *d, double *loss, double *accuracy) {
    lm__net *net = t->net;
    const lm__tensor *out = lm__net_output(net);
    int64_t f = lm_dataset_features(d), correct = 0;
    double sum = 0.0;
    for (int64_t i = 0; i < d->n; i += net->max_batch) {
        int n = d->n - i < net->max_batch ? (int)(d->n - i) : net->max_batch;
        LM_CALL(lm__net_forward(net, d->X + i * f, n, 0));
        sum += n * lm__softmax_ce(NULL, out->data, d->y + i, n, t->n_classes, &correct);
    }
    *loss = d->n ? sum / (double)d->n : NAN;
    *accuracy = d->n ? (double)correct / (double)d->n : NAN;
    return LM_OK;
}

int lm_trainer_epoch(lm_trainer *t, lm_epoch_stats *s) {
    double t0 = lm_time_now();
    lm__net *net = t->net;
    lm__tensor *out = lm__net_output(net);
    lm_batcher *b = &t->batcher;
    const lm_dataset *d = t->train;
    long ipe = iters_per_epoch(t);
    long total = (long)t->p.epochs * ipe, it = (long)t->epochs_done * ipe;
    int augment = t->images && lm_augment_active(&t->p.augment);
    memset(s, 0, sizeof *s);
    s->lr = lm_lr_at(&t->p, it, ipe, total);

    b->batch = batch_rows(t, t->p.batch_size);
    lm_batcher_epoch(b, 1);
    double sum = 0.0;
    int64_t correct = 0, seen = 0;
    int n;
    while ((n = lm_batcher_next(b)) > 0) {
        double lr = lm_lr_at(&t->p, it, ipe, total);
        const int32_t *y2 = NULL;
        float lambda = 1.0f;
        if (augment) {
            LM_CALL(lm_augment_batch(&t->p.augment, &t->aug_rng, b->X, b->y, t->y2, &lambda, n, d->c,
                                     d->h, d->w, t->aug_scratch));
            y2 = t->y2;
        }
        LM_CALL(lm__net_forward(net, b->X, n, 1));
        double loss = lm__softmax_ce_mix(out->grad, out->data, b->y, y2, lambda, n, t->n_classes,
                                         &correct);
        if (!isfinite(loss)) {
            /* A failed trial, not an error: report it and leave the weights as they are. */
            s->diverged = 1;
            break;
        }
        sum += loss * n;
        seen += n;
        LM_CALL(lm__net_backward(net, n));
        lm__net_sgd_step(net, &t->opt, lr);
        s->lr = lr;
        t->step++;
        it++;
    }
    t->epochs_done++;
    s->epoch = t->epochs_done;
    if (s->diverged) {
        s->train_loss = s->val_loss = NAN;
        s->train_accuracy = s->val_accuracy = 0.0;
    } else {
        s->train_loss = sum / (double)seen;
        s->train_accuracy = (double)correct / (double)seen;
        if (t->val && t->val->n > 0) {
            LM_CALL(evaluate(t, t->val, &s->val_loss, &s->val_accuracy));
        } else {
            s->val_loss = NAN;
            s->val_accuracy = NAN;
        }
        if (!isfinite(s->val_loss) && t->val && t->val->n > 0) s->diverged = 1;
    }
    s->seconds = lm_time_now() - t0;
    return LM_OK;
}

int lm_trainer_evaluate(lm_trainer *t, const lm_dataset *d, double *loss, double *accuracy) {
    LM_CHECK(d && d->n >= 1, LM_EINVAL, "nothing to evaluate: the dataset is empty");
    LM_CALL(check_dataset(d, t->train, t->n_classes, "evaluation"));
    LM_CALL(evaluate(t, d, loss, accuracy));
    return LM_OK;
}

/* ---- changing hyperparameters between epochs ---- */

/* A field that only a new network could change. */
static int same_arch(const lm_train_params *a, const lm_train_params *b) {
    static const struct {
        const char *name;
        size_t off;
    } ints[] = {{"model", offsetof(lm_train_params, model)},
                {"depth", offsetof(lm_train_params, depth)},
                {"width", offsetof(lm_train_params, width)},
                {"conv_layers", offsetof(lm_train_params, conv_layers)},
                {"filters", offsetof(lm_train_params, filters)},
                {"kernel", offsetof(lm_train_params, kernel)},
                {"batchnorm", offsetof(lm_train_params, batchnorm)},
                {"init", offsetof(lm_train_params, init)}};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
        int x, y;
        memcpy(&x, (const char *)a + ints[i].off, sizeof x);
        memcpy(&y, (const char *)b + ints[i].off, sizeof y);
        LM_CHECK(x == y, LM_EINVAL,
                 "'%s' cannot change during training (%d to %d): it changes the architecture",
                 ints[i].name, x, y);
    }
    const lm_preprocess_params *p = &a->preprocess, *q = &b->preprocess;
    LM_CHECK(p->scaler == q->scaler && p->impute == q->impute &&
                 p->missing_indicator == q->missing_indicator && p->one_hot == q->one_hot,
             LM_EINVAL, "preprocessing cannot change during training: it changes the data");
    return LM_OK;
}

/* Batch buffers for rows samples: the network's activations and the batcher's rows
 * (its shuffle stream carried over). */
static int grow_batch(lm_trainer *t, int rows) {
    if (rows <= t->net->max_batch) return LM_OK;
    LM_CALL(lm__net_grow(t->net, rows));
    lm_rng keep = t->batcher.rng;
    lm_batcher_fini(&t->batcher);
    LM_CALL(lm_batcher_init(&t->batcher, t->train, rows, 0, 0));
    t->batcher.rng = keep;
    return LM_OK;
}

int lm_trainer_set_params(lm_trainer *t, const lm_train_params *p) {
    LM_CALL(lm_train_params_check(p));
    LM_CALL(same_arch(&t->p, p));
    lm_train_params old = t->p;
    t->p = *p;
    int rc;
    LM_CALL_GOTO(rc, grow_batch(t, batch_rows(t, p->batch_size)), fail);
    LM_CALL_GOTO(rc, prepare_sizes(t), fail);
    LM_CALL_GOTO(rc, prepare_augment(t), fail);
    t->opt = (lm__sgd){(float)p->momentum, p->nesterov, (float)p->weight_decay};
    set_dropout(t->net, p->dropout);
    return LM_OK;
fail:
    t->p = old;
    return rc;
}

const lm_train_params *lm_trainer_get_params(const lm_trainer *t) { return &t->p; }

/* ---- figures ---- */

long lm_trainer_param_count(const lm_trainer *t) { return (long)t->net->n_params; }

int lm_trainer_epochs_done(const lm_trainer *t) { return t->epochs_done; }

long lm_trainer_steps(const lm_trainer *t) { return t->step; }

double lm_trainer_flops(const lm_trainer *t) { return t->net->flops; }

float *lm_trainer_params(lm_trainer *t, long *n) {
    if (n) *n = (long)t->net->n_params;
    return t->net->params;
}
