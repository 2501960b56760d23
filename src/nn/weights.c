/* A model's weights as one vector, for function-preserving transformations and
 * inheritance between trials: the flat parameter buffer followed by the running
 * statistics of batch normalization (net.c allocates them as one block), reading and
 * replacing it, its length for a description, and the logits of a batch. */
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "nn/graph.h"
#include "nn/kernel.h"
#include "nn/net.h"
#include "nn/trainer.h"

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
