/* MLP layer kinds: dense (fully connected, optional fused ReLU), ReLU and inverted
 * dropout. Each fills an lm__layer_ops table; the network calls them in order. */
#include "lamarck/error.h"
#include "nn/kernel.h"
#include "nn/net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lm__tensor *input(const lm__net *net, const lm__layer *l, int j) {
    return &net->tensors[l->in[j]];
}

/* ---- dense: out (n x units) = [relu](x (n x in) . W (in x units) + b) ---- */

static int dense_setup(lm__layer *l, const lm__net *net) {
    LM_CHECK(l->n_in == 1, LM_EINVAL, "dense layer takes 1 input, got %d", l->n_in);
    LM_CHECK(l->cfg.units >= 1, LM_EINVAL, "dense layer needs units >= 1, got %d", l->cfg.units);
    /* Tensor sizes are at most INT32_MAX (lm__net_add), so this product fits. */
    int64_t in = input(net, l, 0)->size;
    l->out.shape = (lm__shape){l->cfg.units, 1, 1};
    l->n_w = in * l->cfg.units;
    l->n_b = l->cfg.units;
    return LM_OK;
}

/* He et al. 2015 (eq. 10): weights ~ N(0, gain / fan_in) with gain 2 before a ReLU,
 * which keeps the activations' variance constant through the layers; gain 1 for a
 * linear output (the logits). Biases start at 0. */
static void dense_init(lm__layer *l, lm_rng *rng) {
    int64_t fan_in = l->n_w / l->cfg.units;
    double sd = sqrt((l->cfg.relu ? 2.0 : 1.0) / (double)fan_in);
    for (int64_t i = 0; i < l->n_w; i++) l->w[i] = (float)(sd * lm_rng_normal(rng));
    memset(l->b, 0, (size_t)l->n_b * sizeof *l->b);
}

static unsigned dense_fwd_flags(const lm__layer *l) {
    return LM__MM_BIAS | (l->cfg.relu ? LM__MM_RELU : 0u);
}

static int dense_prepare(lm__layer *l, lm__net *net, int n) {
    int in = (int)input(net, l, 0)->size, units = l->cfg.units;
    LM_CALL(lm__matmul_prepare(net->k, n, units, in, dense_fwd_flags(l)));
    LM_CALL(lm__matmul_prepare(net->k, in, units, n, LM__MM_TRANS_A));
    if (input(net, l, 0)->grad) LM_CALL(lm__matmul_prepare(net->k, n, in, units, LM__MM_TRANS_B));
    return LM_OK;
}

static int dense_forward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = input(net, l, 0);
    LM_CALL(lm__matmul(net->k, l->out.data, x->data, l->w, l->b, n, l->cfg.units, (int)x->size,
                       dense_fwd_flags(l)));
    return LM_OK;
}

static int dense_backward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = input(net, l, 0);
    int in = (int)x->size, units = l->cfg.units;
    float *dz = l->out.grad;
    /* Through the fused ReLU first: out.grad is this layer's alone, so in place. */
    if (l->cfg.relu) lm__relu_backward(dz, dz, l->out.data, (int64_t)n * units);
    lm__colsum(l->db, dz, n, units);
    /* dW (in x units) = x^T (in x n) . dz (n x units) */
    LM_CALL(lm__matmul(net->k, l->dw, x->data, dz, NULL, in, units, n, LM__MM_TRANS_A));
    /* dx (n x in) = dz (n x units) . W^T (units x in) */
    if (x->grad) LM_CALL(lm__matmul(net->k, x->grad, dz, l->w, NULL, n, in, units, LM__MM_TRANS_B));
    return LM_OK;
}

const lm__layer_ops lm__dense_ops = {
    .kind = "dense",
    .setup = dense_setup,
    .init_params = dense_init,
    .prepare = dense_prepare,
    .forward = dense_forward,
    .backward = dense_backward,
};

/* ---- ReLU ---- */

static int same_shape_setup(lm__layer *l, const lm__net *net) {
    LM_CHECK(l->n_in == 1, LM_EINVAL, "%s layer takes 1 input, got %d", l->ops->kind, l->n_in);
    l->out.shape = input(net, l, 0)->shape;
    l->n_w = l->n_b = 0;
    return LM_OK;
}

static int relu_forward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = input(net, l, 0);
    lm__relu_forward(l->out.data, x->data, (int64_t)n * x->size);
    return LM_OK;
}

static int relu_backward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = input(net, l, 0);
    if (x->grad) lm__relu_backward(x->grad, l->out.grad, l->out.data, (int64_t)n * x->size);
    return LM_OK;
}

const lm__layer_ops lm__relu_ops = {
    .kind = "relu",
    .setup = same_shape_setup,
    .forward = relu_forward,
    .backward = relu_backward,
};

/* ---- inverted dropout (Srivastava et al. 2014, scaled at training time) ---- */

static int dropout_setup(lm__layer *l, const lm__net *net) {
    LM_CHECK(l->cfg.p >= 0 && l->cfg.p < 1, LM_EINVAL, "dropout probability must be in [0, 1), got %g",
             l->cfg.p);
    return same_shape_setup(l, net);
}

static int dropout_plan(lm__layer *l, lm__net *net, int max_batch) {
    (void)net;
    size_t bytes = (size_t)max_batch * (size_t)l->out.size * sizeof(float);
    l->mask = malloc(bytes ? bytes : 1);
    LM_CHECK_ALLOC(l->mask);
    /* Until a training pass draws one, the mask keeps everything (unscaled). */
    for (int64_t i = 0; i < (int64_t)max_batch * l->out.size; i++) l->mask[i] = 1.0f;
    return LM_OK;
}

/* Each element is kept with probability 1 - p and then scaled by 1/(1-p), so the
 * expected activation equals evaluation mode's, which passes x through unchanged.
 * Two 32-bit draws per random word: an element is dropped when its draw is below
 * p * 2^32. */
static void draw_mask(float *mask, int64_t n, double p, lm_rng *rng) {
    double t = p * 4294967296.0;
    uint32_t thresh = t >= 4294967295.0 ? UINT32_MAX : (uint32_t)t;
    float keep = (float)(1.0 / (1.0 - p));
    int64_t i = 0;
    for (; i + 1 < n; i += 2) {
        uint64_t r = lm_rng_u64(rng);
        mask[i] = (uint32_t)r < thresh ? 0.0f : keep;
        mask[i + 1] = (uint32_t)(r >> 32) < thresh ? 0.0f : keep;
    }
    if (i < n) mask[i] = (uint32_t)lm_rng_u64(rng) < thresh ? 0.0f : keep;
}

static int dropout_forward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = input(net, l, 0);
    int64_t len = (int64_t)n * x->size;
    if (!net->train || l->cfg.p == 0) {
        memcpy(l->out.data, x->data, (size_t)len * sizeof(float));
        return LM_OK;
    }
    if (!net->freeze_masks) draw_mask(l->mask, len, l->cfg.p, &net->dropout_rng);
    lm__mul(l->out.data, x->data, l->mask, len);
    return LM_OK;
}

static int dropout_backward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = input(net, l, 0);
    if (!x->grad) return LM_OK;
    int64_t len = (int64_t)n * x->size;
    if (!net->train || l->cfg.p == 0)
        memcpy(x->grad, l->out.grad, (size_t)len * sizeof(float));
    else
        lm__mul(x->grad, l->out.grad, l->mask, len);
    return LM_OK;
}

static void dropout_fini(lm__layer *l) {
    free(l->mask);
    l->mask = NULL;
}

const lm__layer_ops lm__dropout_ops = {
    .kind = "dropout",
    .setup = dropout_setup,
    .plan = dropout_plan,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .fini = dropout_fini,
};
