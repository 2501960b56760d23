/* The per-trial trainer: an MLP built from the training parameters, SGD over shuffled
 * mini-batches epoch by epoch, and evaluation in evaluation mode. Everything is
 * allocated in lm_trainer_create; an epoch allocates nothing. */
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/nn.h"
#include "lamarck/timer.h"
#include "nn/kernel.h"
#include "nn/net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lm_trainer {
    lm_train_params p;
    const lm_dataset *train, *val;
    lm__net *net;
    lm__sgd opt;
    lm_batcher batcher;
    int n_classes;
    int epochs_done;
    long step;            /* mini-batches trained so far, over the whole run */
    long iters_per_epoch; /* ceil(train samples / batch) */
};

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
    LM_CHECK(lm_dataset_features(d) == lm_dataset_features(train), LM_EDATA,
             "%s set '%s' has %lld features per sample, the training set '%s' %lld", role, d->name,
             (long long)lm_dataset_features(d), train->name, (long long)lm_dataset_features(train));
    LM_CALL(check_labels(d, n_classes, role));
    return LM_OK;
}

static int build_net(lm_trainer *t, uint64_t seed, uint64_t trial) {
    const lm_dataset *d = t->train;
    const lm_train_params *p = &t->p;
    LM_CALL(lm__net_create((lm__shape){d->c, d->h, d->w}, &t->net));
    for (int i = 0; i < p->depth; i++) {
        LM_CALL(lm__net_add_dense(t->net, p->width, 1));
        if (p->dropout > 0) LM_CALL(lm__net_add_dropout(t->net, p->dropout));
    }
    LM_CALL(lm__net_add_dense(t->net, t->n_classes, 0));
    /* A batch never holds more samples than the larger of the two sets. */
    int64_t most = t->train->n;
    if (t->val && t->val->n > most) most = t->val->n;
    int max_batch = p->batch_size < most ? p->batch_size : (int)most;
    LM_CALL(lm__net_finish(t->net, max_batch, 0, seed, trial));
    /* The last partial batches of training and validation: their primitives now, so
     * that no epoch creates any. */
    if (t->train->n % max_batch) LM_CALL(lm__net_prepare(t->net, (int)(t->train->n % max_batch)));
    if (t->val && t->val->n % max_batch) LM_CALL(lm__net_prepare(t->net, (int)(t->val->n % max_batch)));
    return LM_OK;
}

int lm_trainer_create(const lm_train_params *p, const lm_dataset *train, const lm_dataset *val,
                      uint64_t seed, uint64_t trial, lm_trainer **out) {
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

    lm_trainer *t = calloc(1, sizeof *t);
    LM_CHECK_ALLOC(t);
    t->p = *p;
    t->train = train;
    t->val = val;
    t->n_classes = train->n_classes;
    t->opt = (lm__sgd){(float)p->momentum, p->nesterov, (float)p->weight_decay};
    t->iters_per_epoch = (long)((train->n + p->batch_size - 1) / p->batch_size);
    int rc;
    LM_CALL_GOTO(rc, build_net(t, seed, trial), fail);
    LM_CALL_GOTO(rc, lm_batcher_init(&t->batcher, train, t->net->max_batch, seed, trial), fail);
    lm_log_debug("nn: trial %llu: MLP %lld-%dx%d-%d, dropout %g, %lld parameters, batch %d",
                 (unsigned long long)trial, (long long)lm_dataset_features(train), p->depth,
                 p->width, t->n_classes, p->dropout, (long long)t->net->n_params,
                 t->net->max_batch);
    *out = t;
    return LM_OK;
fail:
    lm_trainer_destroy(&t);
    return rc;
}

void lm_trainer_destroy(lm_trainer **tp) {
    if (!tp || !*tp) return;
    lm_trainer *t = *tp;
    lm__net_destroy(&t->net);
    if (t->batcher.d) lm_batcher_fini(&t->batcher);
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
    long total = (long)t->p.epochs * t->iters_per_epoch;
    memset(s, 0, sizeof *s);
    s->lr = lm_lr_at(&t->p, t->step, t->iters_per_epoch, total);

    lm_batcher_epoch(b, 1);
    double sum = 0.0;
    int64_t correct = 0, seen = 0;
    int n;
    while ((n = lm_batcher_next(b)) > 0) {
        double lr = lm_lr_at(&t->p, t->step, t->iters_per_epoch, total);
        LM_CALL(lm__net_forward(net, b->X, n, 1));
        double loss = lm__softmax_ce(out->grad, out->data, b->y, n, t->n_classes, &correct);
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

long lm_trainer_param_count(const lm_trainer *t) { return (long)t->net->n_params; }

int lm_trainer_epochs_done(const lm_trainer *t) { return t->epochs_done; }

float *lm_trainer_params(lm_trainer *t, long *n) {
    if (n) *n = (long)t->net->n_params;
    return t->net->params;
}
