/* A model's weights as one vector, for function-preserving transformations and
 * inheritance between trials: the flat parameter buffer followed by the running
 * statistics of batch normalization (net.c allocates them as one block), reading and
 * replacing it, its length for a description, the logits of a batch, and the channel
 * statistics of a layer's output (for Net2Deeper's batch normalization). */
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "nn/graph.h"
#include "nn/kernel.h"
#include "nn/net.h"
#include "nn/trainer.h"

#include <stdlib.h>
#include <string.h>

size_t lm_net_param_count(const lm_net_desc *d) {
    lm__net *net;
    if (lm__net_from_desc(d, 0.0, &net) < 0) return 0;
    int64_t n = 0;
    for (int i = 0; i < net->n_layers; i++)
        n += net->layers[i].n_w + net->layers[i].n_b + net->layers[i].n_s;
    lm__net_destroy(&net);
    return (size_t)n;
}

void lm_trainer_weights(const lm_trainer *t, const float **w, size_t *n) {
    *w = t->net->params;
    *n = (size_t)(t->net->n_params + t->net->n_stats);
}

int lm_trainer_set_weights(lm_trainer *t, const float *w, size_t n) {
    lm__net *net = t->net;
    size_t want = (size_t)(net->n_params + net->n_stats);
    LM_CHECK(w, LM_EINVAL, "no weights to set");
    LM_CHECK(n == want, LM_EINVAL,
             "a weight vector of %zu floats for a model of %zu (%lld parameters and %lld running "
             "statistics)",
             n, want, (long long)net->n_params, (long long)net->n_stats);
    memcpy(net->params, w, n * sizeof *w);
    memset(net->momentum, 0, (size_t)net->n_params * sizeof(float));
    if (net->prune_mask)
        for (int64_t i = 0; i < net->n_params; i++) net->params[i] *= net->prune_mask[i];
    return LM_OK;
}

int lm_trainer_predict(lm_trainer *t, const lm_dataset *d, int n, float *logits) {
    LM_CHECK(d && logits, LM_EINVAL, "prediction needs a dataset and an output");
    LM_CHECK(n >= 1 && n <= d->n, LM_EINVAL, "prediction of %d samples from a set of %lld", n,
             (long long)d->n);
    LM_CHECK(d->X && d->c == t->train->c && d->h == t->train->h && d->w == t->train->w, LM_EDATA,
             "set '%s' has samples of %d x %d x %d, the model takes %d x %d x %d", d->name, d->c,
             d->h, d->w, t->train->c, t->train->h, t->train->w);
    lm__net *net = t->net;
    const lm__tensor *out = lm__net_output(net);
    int64_t f = lm_dataset_features(d), k = t->n_classes;
    for (int i = 0; i < n; i += net->max_batch) {
        int m = n - i < net->max_batch ? n - i : net->max_batch;
        LM_CALL(lm__net_forward(net, d->X + (int64_t)i * f, m, 0));
        /* The classifier is a dense layer: its output is plain, m x classes. */
        memcpy(logits + (int64_t)i * k, out->data, (size_t)(m * k) * sizeof(float));
    }
    return LM_OK;
}

int lm_trainer_activation_stats(lm_trainer *t, const lm_net_desc *d, int layer, int n, float *mean,
                                float *var) {
    LM_CHECK(t && d && mean && var, LM_EINVAL, "activation statistics: NULL argument");
    LM_CHECK(n >= 1 && n <= t->train->n, LM_EINVAL,
             "activation statistics over %d samples of a training set of %lld", n,
             (long long)t->train->n);
    LM_CHECK(layer >= 0 && layer < d->n_layers, LM_EINVAL,
             "activation statistics: layer %d does not exist (the network has %d layers)", layer,
             d->n_layers);
    int *tid = calloc((size_t)d->n_layers, sizeof *tid);
    LM_CHECK_ALLOC(tid);
    lm__net *shape_net = NULL;
    int rc = lm__net_from_desc_map(d, t->p.dropout, &shape_net, tid);
    /* The description must be the trainer's network for its tensor ids to be the trainer's. */
    if (rc == LM_OK && lm__net_fingerprint(shape_net) != t->arch)
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                          "activation statistics: the description is not the trainer's network");
    if (rc == LM_OK && !tid[layer])
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                          "activation statistics: layer %d does not reach the output", layer);
    lm__net_destroy(&shape_net);
    lm__net *net = t->net;
    int id = tid[layer];
    free(tid);
    LM_CALL(rc);
    lm__shape s = net->tensors[id].shape;
    int64_t hw = (int64_t)s.h * s.w, per = (int64_t)s.c * hw, f = lm_dataset_features(t->train);
    int b = t->p.batch_size < net->max_batch ? t->p.batch_size : net->max_batch;
    float *buf = malloc((size_t)(b * per) * sizeof *buf);
    float *kept = malloc((size_t)(net->n_stats ? net->n_stats : 1) * sizeof *kept);
    double *sum = calloc(2 * (size_t)s.c, sizeof *sum);
    if (!buf || !kept || !sum) {
        free(buf);
        free(kept);
        free(sum);
        LM_FAIL(LM_ENOMEM, "out of memory measuring activation statistics");
    }
    /* Training mode updates the running statistics: they are put back afterwards. */
    memcpy(kept, net->stats, (size_t)net->n_stats * sizeof *kept);
    for (int i = 0; i < n && rc == LM_OK; i += b) {
        int m = n - i < b ? n - i : b;
        rc = lm__net_forward(net, t->train->X + (int64_t)i * f, m, 1);
        if (rc == LM_OK) rc = lm__net_read(net, id, 0, m, buf);
        for (int c = 0; c < s.c && rc == LM_OK; c++) {
            double bs = 0, bs2 = 0;
            for (int64_t r = 0; r < m; r++) {
                const float *x = buf + r * per + c * hw;
                for (int64_t q = 0; q < hw; q++) {
                    bs += x[q];
                    bs2 += (double)x[q] * x[q];
                }
            }
            double cnt = (double)m * (double)hw, mu = bs / cnt, v = bs2 / cnt - mu * mu;
            sum[c] += mu * m;
            sum[s.c + c] += (v > 0 ? v : 0) * m;
        }
    }
    memcpy(net->stats, kept, (size_t)net->n_stats * sizeof *kept);
    for (int c = 0; c < s.c && rc == LM_OK; c++) {
        mean[c] = (float)(sum[c] / n);
        var[c] = (float)(sum[s.c + c] / n);
    }
    free(buf);
    free(kept);
    free(sum);
    return rc < 0 ? lm_error_trace(__FILE__, __LINE__, __func__, rc) : LM_OK;
}
