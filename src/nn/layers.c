/* Layer kinds that need no oneDNN primitive of their own: dense (fully connected, a
 * matmul with an optional fused ReLU, over a flattened input of any layout), ReLU,
 * inverted dropout, identity and zero. The element-wise ones run over whole samples
 * of their input's layout (padding included, which stays 0), so they keep blocked
 * layouts as they are. */
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "nn/kernel.h"
#include "nn/net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void lm__init_weights(const lm__net *net, float *w, int64_t n_w, float *b, int64_t n_b,
                      int64_t fan_in, int relu_gain, lm_rng *rng) {
    double f = (double)(fan_in > 0 ? fan_in : 1);
    if (net->init == LM_INIT_HE) {
        double sd = sqrt((relu_gain ? 2.0 : 1.0) / f);
        for (int64_t i = 0; i < n_w; i++) w[i] = (float)(sd * lm_rng_normal(rng));
        if (n_b) memset(b, 0, (size_t)n_b * sizeof *b);
        return;
    }
    double bound = 1.0 / sqrt(f);
    for (int64_t i = 0; i < n_w; i++) w[i] = (float)((2.0 * lm_rng_uniform(rng) - 1.0) * bound);
    for (int64_t i = 0; i < n_b; i++) b[i] = (float)((2.0 * lm_rng_uniform(rng) - 1.0) * bound);
}

/* ---- dense: out (n x units) = [relu](x (n x in) . W (in x units) + b) ----
 *
 * The input is read in C order (channels, then rows, then columns, as PyTorch's
 * flatten): a blocked input is reordered into a private plain copy first, and its
 * gradient computed plain and reordered back. */

typedef struct dense_set {
    lm__prim to_plain, from_plain;
} dense_set;

typedef struct dense_priv {
    float *xp, *dxp; /* max_batch x in, plain */
    lm__sets sets;
} dense_priv;

static int dense_setup(lm__layer *l, const lm__net *net) {
    LM_CHECK(l->n_in == 1, LM_EINVAL, "dense layer takes 1 input, got %d", l->n_in);
    LM_CHECK(l->cfg.units >= 1, LM_EINVAL, "dense layer needs units >= 1, got %d", l->cfg.units);
    /* Tensor sizes are at most INT32_MAX (lm__net_add), so this product fits. */
    int64_t in = lm__in(net, l, 0)->size;
    lm__out(net, l)->shape = (lm__shape){l->cfg.units, 1, 1};
    l->n_w = in * l->cfg.units;
    l->n_b = l->cfg.units;
    l->flops = 2.0 * (double)in * l->cfg.units;
    l->bwd_in = 1;
    l->bwd_out = l->cfg.relu;
    return LM_OK;
}

static void dense_init(lm__layer *l, const lm__net *net, lm_rng *rng) {
    lm__init_weights(net, l->w, l->n_w, l->b, l->n_b, l->n_w / l->cfg.units, l->cfg.relu, rng);
}

static int dense_layout(lm__layer *l, lm__net *net, int max_batch) {
    (void)max_batch;
    lm__tensor *o = lm__out(net, l);
    LM_CALL(lm__md_tag(&o->md, 1, o->shape.c, 1, 1, dnnl_nchw));
    if (!lm__in(net, l, 0)->plain) {
        l->priv = calloc(1, sizeof(dense_priv));
        LM_CHECK_ALLOC(l->priv);
    }
    return LM_OK;
}

static int dense_plan(lm__layer *l, lm__net *net, int max_batch) {
    dense_priv *d = l->priv;
    if (!d) return LM_OK;
    const lm__tensor *x = lm__in(net, l, 0);
    size_t bytes = ((size_t)max_batch * (size_t)x->size * sizeof(float) + 63) & ~(size_t)63;
    free(d->xp);
    free(d->dxp);
    d->xp = aligned_alloc(64, bytes);
    d->dxp = x->grad ? aligned_alloc(64, bytes) : NULL;
    LM_CHECK(d->xp && (d->dxp || !x->grad), LM_ENOMEM, "out of memory for a dense layer's input");
    return LM_OK;
}

static unsigned dense_fwd_flags(const lm__layer *l) {
    return LM__MM_BIAS | (l->cfg.relu ? LM__MM_RELU : 0u);
}

/* The input gradient's product accumulates in place when it goes straight into a
 * plain gradient that another consumer wrote first. */
static unsigned dense_dx_flags(const lm__layer *l, const lm__net *net) {
    return LM__MM_TRANS_B | (l->acc[0] && lm__in(net, l, 0)->plain ? LM__MM_ACCUM : 0u);
}

static void free_dense_set(void *p) {
    dense_set *s = p;
    lm__prim_fini(&s->to_plain);
    lm__prim_fini(&s->from_plain);
    free(s);
}

static int dense_prepare(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = lm__in(net, l, 0);
    int in = (int)x->size, units = l->cfg.units;
    LM_CALL(lm__matmul_prepare(net->k, n, units, in, dense_fwd_flags(l)));
    LM_CALL(lm__matmul_prepare(net->k, in, units, n, LM__MM_TRANS_A));
    if (x->grad) LM_CALL(lm__matmul_prepare(net->k, n, in, units, dense_dx_flags(l, net)));
    dense_priv *d = l->priv;
    if (!d || lm__sets_find(&d->sets, n)) return LM_OK;
    dense_set *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    dnnl_memory_desc_t md, pmd;
    lm__md_batch(&md, &x->md, n);
    int rc = lm__md_tag(&pmd, n, x->shape.c, x->shape.h, x->shape.w, dnnl_nchw);
    if (rc == LM_OK) rc = lm__reorder_init(&s->to_plain, net, &md, &pmd, "dense input to plain");
    if (rc == LM_OK && x->grad)
        rc = lm__reorder_init(&s->from_plain, net, &pmd, &md, "dense input gradient from plain");
    if (rc == LM_OK) rc = lm__sets_add(&d->sets, n, s);
    if (rc < 0) {
        free_dense_set(s);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

static int dense_forward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = lm__in(net, l, 0);
    const float *xd = x->data;
    dense_priv *d = l->priv;
    if (d) {
        dense_set *s = lm__sets_find(&d->sets, n);
        void *ptrs[2] = {x->data, d->xp};
        LM_CALL(lm__prim_exec(&s->to_plain, net, ptrs));
        xd = d->xp;
    }
    LM_CALL(lm__matmul(net->k, lm__out(net, l)->data, xd, l->w, l->b, n, l->cfg.units, (int)x->size,
                       dense_fwd_flags(l)));
    return LM_OK;
}

static int dense_backward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = lm__in(net, l, 0);
    lm__tensor *o = lm__out(net, l);
    int in = (int)x->size, units = l->cfg.units;
    float *dz = o->grad;
    dense_priv *d = l->priv;
    const float *xd = d ? d->xp : x->data;
    /* Through the fused ReLU first: the output's gradient is complete and this
     * layer's alone, so in place. */
    if (l->cfg.relu) lm__relu_backward(dz, dz, o->data, (int64_t)n * units);
    lm__colsum(l->db, dz, n, units);
    /* dW (in x units) = x^T (in x n) . dz (n x units) */
    LM_CALL(lm__matmul(net->k, l->dw, xd, dz, NULL, in, units, n, LM__MM_TRANS_A));
    if (!x->grad) return LM_OK;
    /* dx (n x in) = dz (n x units) . W^T (units x in) */
    if (!d) {
        LM_CALL(lm__matmul(net->k, x->grad, dz, l->w, NULL, n, in, units, dense_dx_flags(l, net)));
        return LM_OK;
    }
    LM_CALL(lm__matmul(net->k, d->dxp, dz, l->w, NULL, n, in, units, LM__MM_TRANS_B));
    dense_set *s = lm__sets_find(&d->sets, n);
    void *ptrs[2] = {d->dxp, lm__grad_dst(net, l, 0)};
    LM_CALL(lm__prim_exec(&s->from_plain, net, ptrs));
    lm__grad_done(net, l, 0, n);
    return LM_OK;
}

static void dense_fini(lm__layer *l) {
    dense_priv *d = l->priv;
    if (!d) return;
    lm__sets_fini(&d->sets, free_dense_set);
    free(d->xp);
    free(d->dxp);
    free(d);
    l->priv = NULL;
}

const lm__layer_ops lm__dense_ops = {
    .kind = "dense",
    .setup = dense_setup,
    .init_params = dense_init,
    .layout = dense_layout,
    .plan = dense_plan,
    .prepare = dense_prepare,
    .forward = dense_forward,
    .backward = dense_backward,
    .fini = dense_fini,
};

/* ---- shape-preserving kinds ---- */

static int same_shape_setup(lm__layer *l, const lm__net *net) {
    LM_CHECK(l->n_in == 1, LM_EINVAL, "%s layer takes 1 input, got %d", l->ops->kind, l->n_in);
    lm__out(net, l)->shape = lm__in(net, l, 0)->shape;
    l->n_w = l->n_b = 0;
    return LM_OK;
}

/* ---- ReLU ---- */

static int relu_setup(lm__layer *l, const lm__net *net) {
    LM_CALL(same_shape_setup(l, net));
    l->bwd_out = 1;
    return LM_OK;
}

static int relu_forward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = lm__in(net, l, 0);
    lm__relu_forward(lm__out(net, l)->data, x->data, (int64_t)n * x->stride);
    return LM_OK;
}

static int relu_backward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = lm__in(net, l, 0);
    lm__tensor *o = lm__out(net, l);
    if (!x->grad) return LM_OK;
    int64_t len = (int64_t)n * x->stride;
    if (l->acc[0]) {
        /* The masked gradient in place (the output's gradient is this layer's alone),
         * then added. */
        lm__relu_backward(o->grad, o->grad, o->data, len);
        lm__add(x->grad, x->grad, o->grad, len);
    } else {
        lm__relu_backward(x->grad, o->grad, o->data, len);
    }
    return LM_OK;
}

const lm__layer_ops lm__relu_ops = {
    .kind = "relu",
    .setup = relu_setup,
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
    int64_t len = (int64_t)max_batch * lm__out(net, l)->stride;
    float *mask = malloc((size_t)(len ? len : 1) * sizeof(float));
    LM_CHECK_ALLOC(mask);
    /* Until a training pass draws one, the mask keeps everything (unscaled). */
    for (int64_t i = 0; i < len; i++) mask[i] = 1.0f;
    free(l->mask);
    l->mask = mask;
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
    const lm__tensor *x = lm__in(net, l, 0);
    int64_t len = (int64_t)n * x->stride;
    if (!net->train || l->cfg.p == 0) {
        memcpy(lm__out(net, l)->data, x->data, (size_t)len * sizeof(float));
        return LM_OK;
    }
    if (!net->freeze_masks) draw_mask(l->mask, len, l->cfg.p, &net->dropout_rng);
    lm__mul(lm__out(net, l)->data, x->data, l->mask, len);
    return LM_OK;
}

static int dropout_backward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = lm__in(net, l, 0);
    lm__tensor *o = lm__out(net, l);
    if (!x->grad) return LM_OK;
    int64_t len = (int64_t)n * x->stride;
    if (net->train && l->cfg.p > 0) {
        /* In place on the output's gradient, which only this layer reads. */
        lm__mul(o->grad, o->grad, l->mask, len);
    }
    lm__grad_pass(net, l, 0, n, o->grad);
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

/* ---- identity ---- */

static int identity_forward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = lm__in(net, l, 0);
    memcpy(lm__out(net, l)->data, x->data, (size_t)n * (size_t)x->stride * sizeof(float));
    return LM_OK;
}

static int identity_backward(lm__layer *l, lm__net *net, int n) {
    lm__grad_pass(net, l, 0, n, lm__out(net, l)->grad);
    return LM_OK;
}

const lm__layer_ops lm__identity_ops = {
    .kind = "identity",
    .setup = same_shape_setup,
    .forward = identity_forward,
    .backward = identity_backward,
};

/* ---- zero: the "no connection" of cell search spaces (DARTS, Liu et al. 2019),
 * zeros shaped as the input subsampled by stride ---- */

static int zero_setup(lm__layer *l, const lm__net *net) {
    LM_CHECK(l->n_in == 1, LM_EINVAL, "zero layer takes 1 input, got %d", l->n_in);
    LM_CHECK(l->cfg.stride >= 1, LM_EINVAL, "zero layer needs stride >= 1, got %d", l->cfg.stride);
    lm__shape s = lm__in(net, l, 0)->shape;
    int st = l->cfg.stride;
    lm__out(net, l)->shape = (lm__shape){s.c, (s.h + st - 1) / st, (s.w + st - 1) / st};
    return LM_OK;
}

static int zero_layout(lm__layer *l, lm__net *net, int max_batch) {
    (void)max_batch;
    lm__tensor *o = lm__out(net, l);
    LM_CALL(lm__md_like(&o->md, &lm__in(net, l, 0)->md, 1, o->shape.c, o->shape.h, o->shape.w));
    return LM_OK;
}

static int zero_forward(lm__layer *l, lm__net *net, int n) {
    lm__tensor *o = lm__out(net, l);
    /* Every pass: the buffer may have held another tensor in between. */
    memset(o->data, 0, (size_t)n * (size_t)o->stride * sizeof(float));
    return LM_OK;
}

static int zero_backward(lm__layer *l, lm__net *net, int n) {
    const lm__tensor *x = lm__in(net, l, 0);
    if (x->grad && !l->acc[0]) memset(x->grad, 0, (size_t)n * (size_t)x->stride * sizeof(float));
    return LM_OK;
}

const lm__layer_ops lm__zero_ops = {
    .kind = "zero",
    .setup = zero_setup,
    .layout = zero_layout,
    .forward = zero_forward,
    .backward = zero_backward,
};
