/* Custom-loss training: a network built from a description, with its linear head and
 * no softmax, driven pass by pass by a caller that computes its own loss gradient.
 *
 * It is the trainer's engine without the trainer: lm__net_from_desc builds the
 * layers (its appended classifier is the linear head), lm__net_forward and
 * lm__net_backward run them, lm__net_sgd_step updates the flat buffers. The caller
 * writes d loss / d output into the output tensor's gradient, which is where the
 * classifier's backward reads it from in the trainer too. */
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "nn/graph.h"
#include "nn/net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 65536

struct lm_custom_net {
    lm__net *net;
    int inputs, outputs;
    int last_n;        /* samples of the last training forward; 0 when there is none */
};

int lm_custom_net_create(const lm_net_desc *d, int max_batch, lm_init init, uint64_t seed,
                         uint64_t trial, lm_custom_net **out) {
    LM_CHECK(out, LM_EINVAL, "lm_custom_net_create: no output pointer");
    *out = NULL;
    LM_CHECK(d, LM_EINVAL, "lm_custom_net_create: no network description");
    LM_CHECK(max_batch >= 1 && max_batch <= BATCH_MAX, LM_ERANGE,
             "custom network: max_batch must be 1 to %d, got %d", BATCH_MAX, max_batch);
    LM_CHECK(init == LM_INIT_PYTORCH || init == LM_INIT_HE, LM_EINVAL,
             "custom network: unknown initialization %d", (int)init);
    lm_custom_net *m = calloc(1, sizeof *m);
    LM_CHECK_ALLOC(m);
    int rc;
    LM_CALL_GOTO(rc, lm__net_from_desc(d, 0.0, &m->net), fail);
    m->net->init = (int)init;
    LM_CALL_GOTO(rc, lm__net_finish(m->net, max_batch, 0, seed, trial), fail);
    m->inputs = d->in_c * d->in_h * d->in_w;
    m->outputs = d->n_classes;
    *out = m;
    return LM_OK;
fail:
    lm_custom_net_destroy(&m);
    return rc;
}

void lm_custom_net_destroy(lm_custom_net **m) {
    if (!m || !*m) return;
    lm__net_destroy(&(*m)->net);
    free(*m);
    *m = NULL;
}

int lm_custom_net_inputs(const lm_custom_net *m) { return m->inputs; }
int lm_custom_net_outputs(const lm_custom_net *m) { return m->outputs; }

static int check_batch(const lm_custom_net *m, const float *x, int n, const float *out) {
    LM_CHECK(m && x && out, LM_EINVAL, "custom network: NULL network, input or output");
    LM_CHECK(n >= 1 && n <= BATCH_MAX, LM_ERANGE, "custom network: batch of %d samples (1 to %d)",
             n, BATCH_MAX);
    return LM_OK;
}

/* The head is a dense layer, whose output is plain; the copy through lm__net_read
 * covers any layout all the same. */
static int read_output(lm__net *net, int n, float *out) {
    lm__tensor *o = lm__net_output(net);
    if (o->plain) {
        memcpy(out, o->data, (size_t)n * (size_t)o->size * sizeof *out);
        return LM_OK;
    }
    return lm__net_read(net, net->n_layers, 0, n, out);
}

int lm_custom_net_forward(lm_custom_net *m, const float *x, int n, float *out) {
    LM_CALL(check_batch(m, x, n, out));
    m->last_n = 0;
    LM_CALL(lm__net_grow(m->net, n));
    LM_CALL(lm__net_forward(m->net, x, n, 1));
    LM_CALL(read_output(m->net, n, out));
    m->last_n = n;
    return LM_OK;
}

int lm_custom_net_backward(lm_custom_net *m, const float *dout) {
    LM_CHECK(m && dout, LM_EINVAL, "custom network: NULL network or output gradient");
    LM_CHECK(m->last_n > 0, LM_EINVAL,
             "custom network: backward needs a training forward pass before it");
    lm__net *net = m->net;
    lm__tensor *o = lm__net_output(net);
    int n = m->last_n;
    if (o->plain)
        memcpy(o->grad, dout, (size_t)n * (size_t)o->size * sizeof *dout);
    else
        LM_CALL(lm__net_write(net, net->n_layers, 1, n, dout));
    /* One backward per forward: the activations it reads may be reused afterwards. */
    m->last_n = 0;
    return lm__net_backward(net, n);
}

int lm_custom_net_sgd_step(lm_custom_net *m, double lr, double momentum, double weight_decay) {
    LM_CHECK(m, LM_EINVAL, "custom network: NULL network");
    LM_CHECK(isfinite(lr) && lr > 0, LM_ERANGE, "custom network: learning rate must be > 0, got %g",
             lr);
    LM_CHECK(momentum >= 0 && momentum < 1, LM_ERANGE,
             "custom network: momentum must be in [0, 1), got %g", momentum);
    LM_CHECK(weight_decay >= 0 && isfinite(weight_decay), LM_ERANGE,
             "custom network: weight decay must be >= 0, got %g", weight_decay);
    lm__sgd opt = {(float)momentum, 0, (float)weight_decay};
    lm__net_sgd_step(m->net, &opt, lr);
    return LM_OK;
}

int lm_custom_net_eval(lm_custom_net *m, const float *x, int n, float *out) {
    LM_CALL(check_batch(m, x, n, out));
    /* An evaluation pass overwrites the activations a pending backward would read. */
    m->last_n = 0;
    lm__net *net = m->net;
    for (int i = 0; i < n; i += net->max_batch) {
        int b = n - i < net->max_batch ? n - i : net->max_batch;
        LM_CALL(lm__net_forward(net, x + (size_t)i * (size_t)m->inputs, b, 0));
        LM_CALL(read_output(net, b, out + (size_t)i * (size_t)m->outputs));
    }
    return LM_OK;
}

void lm_custom_net_weights(const lm_custom_net *m, const float **w, size_t *n) {
    *w = m->net->params;
    *n = (size_t)(m->net->n_params + m->net->n_stats);
}

int lm_custom_net_set_weights(lm_custom_net *m, const float *w, size_t n) {
    LM_CHECK(m && w, LM_EINVAL, "custom network: no weights to set");
    lm__net *net = m->net;
    size_t want = (size_t)(net->n_params + net->n_stats);
    LM_CHECK(n == want, LM_EINVAL,
             "custom network: a weight vector of %zu floats for a model of %zu (%lld parameters "
             "and %lld running statistics)",
             n, want, (long long)net->n_params, (long long)net->n_stats);
    memcpy(net->params, w, n * sizeof *w);
    memset(net->momentum, 0, (size_t)net->n_params * sizeof(float));
    return LM_OK;
}

const float *lm_custom_net_grads(const lm_custom_net *m, size_t *n) {
    *n = (size_t)m->net->n_params;
    return m->net->grads;
}
