/* The network object: building a list of layers, laying out the flat parameter,
 * gradient and momentum buffers and the activations, and the forward and backward
 * passes over the layers in order. */
#include "nn/net.h"

#include "lamarck/error.h"
#include "nn/kernel.h"

#include <stdlib.h>
#include <string.h>

/* Activations start on 64-byte boundaries (one AVX-512 vector, one cache line). */
#define ALIGN_FLOATS 16
#define MAX_FLOATS ((int64_t)1 << 31)

int lm__net_create(lm__shape in, lm__net **out) {
    *out = NULL;
    LM_CHECK(in.c >= 1 && in.h >= 1 && in.w >= 1, LM_EINVAL,
             "network input shape must be positive, got %d x %d x %d", in.c, in.h, in.w);
    LM_CHECK(lm__shape_size(in) <= INT32_MAX, LM_EINVAL, "network input of %lld features is too large",
             (long long)lm__shape_size(in));
    lm__net *net = calloc(1, sizeof *net);
    LM_CHECK_ALLOC(net);
    net->tensors = calloc(1, sizeof *net->tensors);
    if (!net->tensors) {
        free(net);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    net->tensors[0].shape = in;
    net->tensors[0].size = lm__shape_size(in);
    *out = net;
    return LM_OK;
}

void lm__net_destroy(lm__net **np) {
    if (!np || !*np) return;
    lm__net *net = *np;
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].ops->fini) net->layers[i].ops->fini(&net->layers[i]);
    lm__kernels_destroy(&net->k);
    free(net->layers);
    free(net->tensors);
    free(net->params);
    free(net->grads);
    free(net->momentum);
    free(net->arena);
    free(net);
    *np = NULL;
}

int lm__net_add(lm__net *net, const lm__layer_ops *ops, const lm__layer_cfg *cfg, const int *in,
                int n_in) {
    LM_CHECK(!net->finished, LM_EINVAL, "cannot add a %s layer to a finished network", ops->kind);
    LM_CHECK(n_in >= 1 && n_in <= LM__NET_MAX_IN, LM_EINVAL, "%s layer: %d inputs (1 to %d allowed)",
             ops->kind, n_in, LM__NET_MAX_IN);
    for (int j = 0; j < n_in; j++)
        LM_CHECK(in[j] >= 0 && in[j] <= net->n_layers, LM_EINVAL,
                 "%s layer %d: input tensor %d does not exist yet", ops->kind, net->n_layers, in[j]);
    if (net->n_layers == net->cap_layers) {
        int cap = net->cap_layers ? 2 * net->cap_layers : 8;
        lm__layer *layers = realloc(net->layers, (size_t)cap * sizeof *layers);
        LM_CHECK_ALLOC(layers);
        net->layers = layers;
        lm__tensor *t = realloc(net->tensors, (size_t)(cap + 1) * sizeof *t);
        LM_CHECK_ALLOC(t);
        net->tensors = t;
        net->cap_layers = cap;
    }
    lm__layer *l = &net->layers[net->n_layers];
    memset(l, 0, sizeof *l);
    l->ops = ops;
    l->cfg = *cfg;
    l->n_in = n_in;
    memcpy(l->in, in, (size_t)n_in * sizeof *in);
    int rc = ops->setup(l, net);
    if (rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    l->out.size = lm__shape_size(l->out.shape);
    LM_CHECK(l->out.size >= 1 && l->out.size <= INT32_MAX, LM_EINVAL,
             "%s layer %d: output of %lld features", ops->kind, net->n_layers,
             (long long)l->out.size);
    net->n_layers++;
    net->tensors[net->n_layers] = l->out;
    return net->n_layers;
}

int lm__net_add_dense(lm__net *net, int units, int relu) {
    lm__layer_cfg cfg = {.units = units, .relu = relu};
    int in = net->n_layers;
    return lm__net_add(net, &lm__dense_ops, &cfg, &in, 1);
}

int lm__net_add_relu(lm__net *net) {
    lm__layer_cfg cfg = {0};
    int in = net->n_layers;
    return lm__net_add(net, &lm__relu_ops, &cfg, &in, 1);
}

int lm__net_add_dropout(lm__net *net, double p) {
    lm__layer_cfg cfg = {.p = p};
    int in = net->n_layers;
    return lm__net_add(net, &lm__dropout_ops, &cfg, &in, 1);
}

static int64_t round_up(int64_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

static float *alloc_floats(int64_t n) {
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t bytes = (size_t)round_up(n > 0 ? n : 1) * sizeof(float);
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

int lm__net_finish(lm__net *net, int max_batch, int input_grad, uint64_t seed, uint64_t trial) {
    LM_CHECK(!net->finished, LM_EINVAL, "network already finished");
    LM_CHECK(net->n_layers >= 1, LM_EINVAL, "a network needs at least one layer");
    LM_CHECK(max_batch >= 1, LM_EINVAL, "batch size must be >= 1, got %d", max_batch);
    net->max_batch = max_batch;

    /* Flat parameters: each layer's weights, then its biases, in layer order. */
    int64_t np = 0, act = 0;
    for (int i = 0; i < net->n_layers; i++) {
        lm__layer *l = &net->layers[i];
        l->off = np;
        np += l->n_w + l->n_b;
        act += 2 * round_up((int64_t)max_batch * l->out.size);
    }
    if (input_grad) act += round_up((int64_t)max_batch * net->tensors[0].size);
    /* 8 GiB each: beyond that a configuration is a mistake, not a model to train. */
    LM_CHECK(np <= MAX_FLOATS, LM_EINVAL, "a network of %lld parameters is too large (at most %lld)",
             (long long)np, (long long)MAX_FLOATS);
    LM_CHECK(act <= MAX_FLOATS, LM_EINVAL,
             "activations of %lld floats for batch %d are too large (at most %lld)", (long long)act,
             max_batch, (long long)MAX_FLOATS);
    net->n_params = np;
    net->params = alloc_floats(np);
    net->grads = alloc_floats(np);
    net->momentum = alloc_floats(np);
    net->arena = alloc_floats(act);
    LM_CHECK(net->params && net->grads && net->momentum && net->arena, LM_ENOMEM,
             "out of memory for a network of %lld parameters and %lld activations", (long long)np,
             (long long)act);

    float *a = net->arena;
    if (input_grad) {
        net->tensors[0].grad = a;
        a += round_up((int64_t)max_batch * net->tensors[0].size);
    }
    lm_rng init;
    lm_rng_init(&init, seed, trial, LM_STREAM_INIT);
    lm_rng_init(&net->dropout_rng, seed, trial, LM_STREAM_DROPOUT);
    for (int i = 0; i < net->n_layers; i++) {
        lm__layer *l = &net->layers[i];
        int64_t len = round_up((int64_t)max_batch * l->out.size);
        l->out.data = a;
        l->out.grad = a + len;
        a += 2 * len;
        net->tensors[i + 1] = l->out;
        if (l->n_w + l->n_b > 0) {
            l->w = net->params + l->off;
            l->b = l->w + l->n_w;
            l->dw = net->grads + l->off;
            l->db = l->dw + l->n_w;
        }
        if (l->ops->init_params) l->ops->init_params(l, &init);
    }
    LM_CALL(lm__kernels_create(&net->k));
    for (int i = 0; i < net->n_layers; i++) {
        lm__layer *l = &net->layers[i];
        if (l->ops->plan) LM_CALL(l->ops->plan(l, net, max_batch));
    }
    net->finished = 1;
    LM_CALL(lm__net_prepare(net, max_batch));
    return LM_OK;
}

int lm__net_prepare(lm__net *net, int n) {
    LM_CHECK(net->finished, LM_EINVAL, "network not finished");
    LM_CHECK(n >= 1 && n <= net->max_batch, LM_EINVAL, "batch of %d samples (1 to %d allowed)", n,
             net->max_batch);
    for (int i = 0; i < net->n_layers; i++) {
        lm__layer *l = &net->layers[i];
        if (l->ops->prepare) LM_CALL(l->ops->prepare(l, net, n));
    }
    return LM_OK;
}

int lm__net_forward(lm__net *net, const float *x, int n, int train) {
    LM_CHECK(net->finished, LM_EINVAL, "network not finished");
    LM_CHECK(n >= 1 && n <= net->max_batch, LM_EINVAL, "batch of %d samples (1 to %d allowed)", n,
             net->max_batch);
    /* Layers never write their inputs' data, only their gradients. */
    net->tensors[0].data = (float *)(uintptr_t)x;
    net->train = train;
    for (int i = 0; i < net->n_layers; i++) {
        lm__layer *l = &net->layers[i];
        LM_CALL(l->ops->forward(l, net, n));
    }
    return LM_OK;
}

int lm__net_backward(lm__net *net, int n) {
    LM_CHECK(net->finished && net->tensors[0].data, LM_EINVAL, "backward pass without a forward pass");
    LM_CHECK(n >= 1 && n <= net->max_batch, LM_EINVAL, "batch of %d samples (1 to %d allowed)", n,
             net->max_batch);
    for (int i = net->n_layers - 1; i >= 0; i--) {
        lm__layer *l = &net->layers[i];
        LM_CALL(l->ops->backward(l, net, n));
    }
    return LM_OK;
}
