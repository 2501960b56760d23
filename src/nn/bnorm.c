/* Batch normalization (Ioffe and Szegedy 2015) on oneDNN primitives.
 *
 * Training normalizes with the batch's mean and (biased) variance per channel and
 * updates the running statistics as PyTorch's BatchNorm2d does (momentum 0.1, the
 * variance made unbiased by m / (m - 1) over the m = n h w values of a channel);
 * evaluation normalizes with the running statistics. Parameters: a scale (1 at the
 * start) and a shift (0) per channel, in the flat buffer's bias part, so neither
 * weight decay nor pruning touches them. The output keeps the input's layout. */
#include "lamarck/error.h"
#include "nn/net.h"

#include <stdlib.h>
#include <string.h>

#define BN_MOMENTUM 0.1f

typedef struct bn_set {
    lm__prim train, infer, bwd;
} bn_set;

typedef struct bn_priv {
    float *mean, *var; /* the last training batch's statistics, c each */
    float *dx;         /* an input gradient nobody needs (max_batch samples) */
    lm__sets sets;
} bn_priv;

static int bn_setup(lm__layer *l, const lm__net *net) {
    LM_CHECK(l->n_in == 1, LM_EINVAL, "batch normalization takes 1 input, got %d", l->n_in);
    lm__shape s = lm__in(net, l, 0)->shape;
    lm__out(net, l)->shape = s;
    l->n_w = 0;
    l->n_b = 2 * (int64_t)s.c; /* scale, then shift */
    l->n_s = 2 * (int64_t)s.c; /* running mean, then running variance */
    l->bwd_in = 1;
    return LM_OK;
}

static void bn_init(lm__layer *l, const lm__net *net, lm_rng *rng) {
    (void)net;
    (void)rng;
    int64_t c = l->n_b / 2;
    for (int64_t i = 0; i < c; i++) {
        l->b[i] = 1.0f;
        l->b[c + i] = 0.0f;
        l->s[i] = 0.0f;
        l->s[c + i] = 1.0f;
    }
}

static int bn_layout(lm__layer *l, lm__net *net, int max_batch) {
    (void)max_batch;
    lm__out(net, l)->md = lm__in(net, l, 0)->md;
    bn_priv *bp = calloc(1, sizeof *bp);
    LM_CHECK_ALLOC(bp);
    l->priv = bp;
    size_t c = (size_t)lm__in(net, l, 0)->shape.c;
    bp->mean = calloc(c, sizeof(float));
    bp->var = calloc(c, sizeof(float));
    LM_CHECK(bp->mean && bp->var, LM_ENOMEM, "out of memory");
    return LM_OK;
}

static int bn_plan(lm__layer *l, lm__net *net, int max_batch) {
    bn_priv *bp = l->priv;
    const lm__tensor *x = lm__in(net, l, 0);
    if (x->needs_grad) return LM_OK;
    size_t bytes = ((size_t)max_batch * (size_t)x->stride * sizeof(float) + 63) & ~(size_t)63;
    free(bp->dx);
    bp->dx = aligned_alloc(64, bytes);
    LM_CHECK_ALLOC(bp->dx);
    return LM_OK;
}

static void free_set(void *p) {
    bn_set *s = p;
    lm__prim_fini(&s->train);
    lm__prim_fini(&s->infer);
    lm__prim_fini(&s->bwd);
    free(s);
}

static int bn_pd(dnnl_primitive_desc_t *pd, const dnnl_memory_desc_t *md, dnnl_prop_kind_t prop,
                 unsigned flags, const_dnnl_primitive_desc_t hint, const char *what) {
    dnnl_batch_normalization_desc_t d;
    if (prop == dnnl_backward)
        LM__DNNL_CALL(
            dnnl_batch_normalization_backward_desc_init(&d, prop, md, md, LM__BN_EPS, flags), what);
    else
        LM__DNNL_CALL(dnnl_batch_normalization_forward_desc_init(&d, prop, md, LM__BN_EPS, flags),
                      what);
    LM_CALL(lm__pd_create(pd, &d, NULL, hint, what));
    return LM_OK;
}

static int build_set(lm__layer *l, lm__net *net, int n, bn_set *s) {
    dnnl_memory_desc_t md;
    lm__md_batch(&md, &lm__in(net, l, 0)->md, n);
    unsigned flags = dnnl_use_scale | dnnl_use_shift;
    dnnl_primitive_desc_t tpd = NULL, ipd = NULL, bpd = NULL;
    static const int ta[] = {DNNL_ARG_SRC,  DNNL_ARG_SCALE, DNNL_ARG_SHIFT,
                             DNNL_ARG_DST,  DNNL_ARG_MEAN,  DNNL_ARG_VARIANCE};
    /* The gradient primitive takes the shift too (it does not read it, but oneDNN
     * 2.6 refuses to run without it). */
    static const int ba[] = {DNNL_ARG_SRC,      DNNL_ARG_MEAN,  DNNL_ARG_VARIANCE,
                             DNNL_ARG_DIFF_DST, DNNL_ARG_SCALE, DNNL_ARG_SHIFT,
                             DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT};
    int rc = bn_pd(&tpd, &md, dnnl_forward_training, flags, NULL, "a batch normalization");
    if (rc == LM_OK)
        rc = bn_pd(&ipd, &md, dnnl_forward_inference, flags | dnnl_use_global_stats, NULL,
                   "a batch normalization in evaluation mode");
    if (rc == LM_OK) rc = bn_pd(&bpd, &md, dnnl_backward, flags, tpd, "a batch normalization's gradient");
    /* Inference reads mean and variance instead of writing them: the same argument
     * list serves both forward primitives. */
    if (rc == LM_OK) rc = lm__prim_init(&s->train, net, tpd, ta, 6, "batch normalization");
    if (rc == LM_OK) rc = lm__prim_init(&s->infer, net, ipd, ta, 6, "batch normalization (evaluation)");
    if (rc == LM_OK) rc = lm__prim_init(&s->bwd, net, bpd, ba, 9, "batch normalization gradient");
    if (tpd) dnnl_primitive_desc_destroy(tpd);
    if (ipd) dnnl_primitive_desc_destroy(ipd);
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    return rc < 0 ? lm_error_trace(__FILE__, __LINE__, __func__, rc) : LM_OK;
}

static int bn_prepare(lm__layer *l, lm__net *net, int n) {
    bn_priv *bp = l->priv;
    if (lm__sets_find(&bp->sets, n)) return LM_OK;
    bn_set *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    int rc = build_set(l, net, n, s);
    if (rc == LM_OK) rc = lm__sets_add(&bp->sets, n, s);
    if (rc < 0) {
        free_set(s);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

static int bn_forward(lm__layer *l, lm__net *net, int n) {
    bn_priv *bp = l->priv;
    bn_set *s = lm__sets_find(&bp->sets, n);
    const lm__tensor *x = lm__in(net, l, 0);
    int64_t c = x->shape.c;
    float *scale = l->b, *shift = l->b + c;
    if (!net->train) {
        void *a[6] = {x->data, scale, shift, lm__out(net, l)->data, l->s, l->s + c};
        LM_CALL(lm__prim_exec(&s->infer, net, a));
        return LM_OK;
    }
    void *a[6] = {x->data, scale, shift, lm__out(net, l)->data, bp->mean, bp->var};
    LM_CALL(lm__prim_exec(&s->train, net, a));
    double m = (double)n * x->shape.h * x->shape.w;
    float unbias = m > 1 ? (float)(m / (m - 1)) : 1.0f;
    for (int64_t i = 0; i < c; i++) {
        l->s[i] = (1 - BN_MOMENTUM) * l->s[i] + BN_MOMENTUM * bp->mean[i];
        l->s[c + i] = (1 - BN_MOMENTUM) * l->s[c + i] + BN_MOMENTUM * unbias * bp->var[i];
    }
    return LM_OK;
}

static int bn_backward(lm__layer *l, lm__net *net, int n) {
    bn_priv *bp = l->priv;
    bn_set *s = lm__sets_find(&bp->sets, n);
    const lm__tensor *x = lm__in(net, l, 0);
    int64_t c = x->shape.c;
    /* oneDNN computes the input gradient together with the scale and shift
     * gradients; with no input gradient wanted (normalization of the network's
     * input) it goes to a private buffer. */
    float *dx = lm__grad_dst(net, l, 0);
    int own = dx == NULL;
    if (own) dx = bp->dx;
    void *a[9] = {x->data, bp->mean, bp->var, lm__out(net, l)->grad, l->b, l->b + c, dx, l->db,
                  l->db + c};
    LM_CALL(lm__prim_exec(&s->bwd, net, a));
    if (!own) lm__grad_done(net, l, 0, n);
    return LM_OK;
}

static void bn_fini(lm__layer *l) {
    bn_priv *bp = l->priv;
    if (!bp) return;
    lm__sets_fini(&bp->sets, free_set);
    free(bp->mean);
    free(bp->var);
    free(bp->dx);
    free(bp);
    l->priv = NULL;
}

const lm__layer_ops lm__bnorm_ops = {
    .kind = "batchnorm",
    .setup = bn_setup,
    .init_params = bn_init,
    .layout = bn_layout,
    .plan = bn_plan,
    .prepare = bn_prepare,
    .forward = bn_forward,
    .backward = bn_backward,
    .fini = bn_fini,
};
