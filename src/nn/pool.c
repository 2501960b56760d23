/* Pooling on oneDNN primitives: max, average (padding excluded from the mean, as
 * DARTS's cells count it) and global average (the kernel covers the whole input),
 * with an optional ReLU on the output.
 *
 * The ReLU is what lets a CNN pool before its activation: ReLU and max pooling
 * commute, so conv-ReLU-pool computes conv-pool-ReLU, whose ReLU (in place on the
 * pooled output here, and its mask on the pooled gradient) touches a quarter of the
 * values. On the reference CNN at batch 128 that spared two passes over the
 * convolutions' outputs per step, about a tenth of the step.
 *
 * The source keeps the input tensor's layout; oneDNN picks the destination's (the
 * same blocking, in practice). Max pooling runs forward in training mode even for
 * evaluation, so that one primitive per batch size serves both: its workspace (the
 * position of each maximum) is what the backward pass reads instead of the input. */
#include "lamarck/error.h"
#include "nn/kernel.h"
#include "nn/net.h"

#include <stdlib.h>
#include <string.h>

typedef struct pool_set {
    lm__prim fwd, bwd;
} pool_set;

typedef struct pool_priv {
    void *ws;        /* max pooling's workspace, for the largest batch prepared */
    size_t ws_bytes;
    lm__sets sets;
} pool_priv;

static int pool_kernel_h(const lm__layer *l, const lm__net *net) {
    return l->cfg.global ? lm__in(net, l, 0)->shape.h : l->cfg.kernel;
}

static int pool_kernel_w(const lm__layer *l, const lm__net *net) {
    return l->cfg.global ? lm__in(net, l, 0)->shape.w : l->cfg.kernel;
}

static int pool_setup(lm__layer *l, const lm__net *net) {
    LM_CHECK(l->n_in == 1, LM_EINVAL, "pooling takes 1 input, got %d", l->n_in);
    lm__shape in = lm__in(net, l, 0)->shape;
    l->bwd_out = l->cfg.relu;
    if (l->cfg.global) {
        lm__out(net, l)->shape = (lm__shape){in.c, 1, 1};
        return LM_OK;
    }
    const lm__layer_cfg *c = &l->cfg;
    LM_CHECK(c->kernel >= 1 && c->stride >= 1 && c->pad >= 0, LM_EINVAL,
             "pooling needs kernel >= 1, stride >= 1 and padding >= 0, got %d, %d and %d",
             c->kernel, c->stride, c->pad);
    /* Wider padding would make windows of padding alone (PyTorch refuses it too). */
    LM_CHECK(2 * c->pad <= c->kernel, LM_EINVAL,
             "pooling padding (%d) must be at most half the kernel (%d)", c->pad, c->kernel);
    LM_CHECK(in.h + 2 * c->pad >= c->kernel && in.w + 2 * c->pad >= c->kernel, LM_EINVAL,
             "a %dx%d pooling window does not fit its %d x %d input padded by %d", c->kernel,
             c->kernel, in.h, in.w, c->pad);
    int oh = (in.h + 2 * c->pad - c->kernel) / c->stride + 1;
    int ow = (in.w + 2 * c->pad - c->kernel) / c->stride + 1;
    lm__out(net, l)->shape = (lm__shape){in.c, oh, ow};
    return LM_OK;
}

static dnnl_alg_kind_t pool_alg(const lm__layer *l) {
    return l->cfg.avg || l->cfg.global ? dnnl_pooling_avg_exclude_padding : dnnl_pooling_max;
}

/* The forward descriptor for n samples; dst may be format_tag_any. */
static int fwd_pd(const lm__layer *l, const lm__net *net, int n, const dnnl_memory_desc_t *dst,
                  dnnl_primitive_desc_t *pd) {
    dnnl_memory_desc_t src;
    lm__md_batch(&src, &lm__in(net, l, 0)->md, n);
    int kh = pool_kernel_h(l, net), kw = pool_kernel_w(l, net);
    int st = l->cfg.global ? 1 : l->cfg.stride, p = l->cfg.global ? 0 : l->cfg.pad;
    dnnl_dims_t strides = {st, st}, kernel = {kh, kw}, dil = {0, 0}, pad = {p, p};
    dnnl_pooling_v2_desc_t d;
    LM__DNNL_CALL(dnnl_pooling_v2_forward_desc_init(&d, dnnl_forward_training, pool_alg(l), &src, dst,
                                                    strides, kernel, dil, pad, pad),
                  "describing a pooling");
    LM_CALL(lm__pd_create(pd, &d, NULL, NULL, "a pooling"));
    return LM_OK;
}

static int pool_layout(lm__layer *l, lm__net *net, int max_batch) {
    lm__tensor *o = lm__out(net, l);
    l->priv = calloc(1, sizeof(pool_priv));
    LM_CHECK_ALLOC(l->priv);
    dnnl_memory_desc_t dst;
    LM_CALL(lm__md_tag(&dst, max_batch, o->shape.c, o->shape.h, o->shape.w, dnnl_format_tag_any));
    dnnl_primitive_desc_t pd;
    LM_CALL(fwd_pd(l, net, max_batch, &dst, &pd));
    lm__md_batch(&o->md, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), 1);
    dnnl_primitive_desc_destroy(pd);
    if (!lm__md_batch_outer(&o->md)) {
        /* A layout with the batch inside cannot serve smaller batches: keep the input's
         * blocking instead. */
        LM_CALL(lm__md_like(&o->md, &lm__in(net, l, 0)->md, 1, o->shape.c, o->shape.h, o->shape.w));
    }
    return LM_OK;
}

static void free_set(void *p) {
    pool_set *s = p;
    lm__prim_fini(&s->fwd);
    lm__prim_fini(&s->bwd);
    free(s);
}

static int build_set(lm__layer *l, lm__net *net, int n, pool_set *s) {
    pool_priv *pp = l->priv;
    const lm__tensor *x = lm__in(net, l, 0);
    dnnl_memory_desc_t dst, src;
    lm__md_batch(&dst, &lm__out(net, l)->md, n);
    lm__md_batch(&src, &x->md, n);
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    LM_CALL(fwd_pd(l, net, n, &dst, &fpd));
    const dnnl_memory_desc_t *ws = dnnl_primitive_desc_query_md(fpd, dnnl_query_workspace_md, 0);
    size_t ws_bytes = ws ? dnnl_memory_desc_get_size(ws) : 0;
    static const int fa[] = {DNNL_ARG_SRC, DNNL_ARG_DST, DNNL_ARG_WORKSPACE};
    static const int ba[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_SRC, DNNL_ARG_WORKSPACE};
    int rc = lm__prim_init(&s->fwd, net, fpd, fa, ws_bytes ? 3 : 2, "pooling forward");
    if (rc == LM_OK && x->needs_grad) {
        int kh = pool_kernel_h(l, net), kw = pool_kernel_w(l, net);
        int st = l->cfg.global ? 1 : l->cfg.stride, p = l->cfg.global ? 0 : l->cfg.pad;
        dnnl_dims_t strides = {st, st}, kernel = {kh, kw}, dil = {0, 0}, pad = {p, p};
        dnnl_pooling_v2_desc_t d;
        dnnl_status_t status = dnnl_pooling_v2_backward_desc_init(&d, pool_alg(l), &src, &dst, strides,
                                                                  kernel, dil, pad, pad);
        if (status != dnnl_success) {
            dnnl_primitive_desc_destroy(fpd);
            LM_FAIL(LM_EDNNL, "oneDNN: describing a pooling's gradient failed");
        }
        rc = lm__pd_create(&bpd, &d, NULL, fpd, "a pooling's gradient");
        if (rc == LM_OK) rc = lm__prim_init(&s->bwd, net, bpd, ba, ws_bytes ? 3 : 2, "pooling gradient");
    }
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    dnnl_primitive_desc_destroy(fpd);
    LM_CALL(rc);
    if (ws_bytes > pp->ws_bytes) {
        size_t bytes = (ws_bytes + 63) & ~(size_t)63;
        void *w = aligned_alloc(64, bytes);
        LM_CHECK_ALLOC(w);
        free(pp->ws);
        pp->ws = w;
        pp->ws_bytes = bytes;
    }
    return LM_OK;
}

static int pool_prepare(lm__layer *l, lm__net *net, int n) {
    pool_priv *pp = l->priv;
    if (lm__sets_find(&pp->sets, n)) return LM_OK;
    pool_set *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    int rc = build_set(l, net, n, s);
    if (rc == LM_OK) rc = lm__sets_add(&pp->sets, n, s);
    if (rc < 0) {
        free_set(s);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

static int pool_forward(lm__layer *l, lm__net *net, int n) {
    pool_priv *pp = l->priv;
    pool_set *s = lm__sets_find(&pp->sets, n);
    lm__tensor *o = lm__out(net, l);
    void *a[3] = {lm__in(net, l, 0)->data, o->data, pp->ws};
    LM_CALL(lm__prim_exec(&s->fwd, net, a));
    if (l->cfg.relu) lm__relu_forward(o->data, o->data, (int64_t)n * o->stride);
    return LM_OK;
}

static int pool_backward(lm__layer *l, lm__net *net, int n) {
    pool_priv *pp = l->priv;
    pool_set *s = lm__sets_find(&pp->sets, n);
    float *dx = lm__grad_dst(net, l, 0);
    if (!dx) return LM_OK;
    lm__tensor *o = lm__out(net, l);
    /* Through the ReLU: the output's gradient is complete and this layer's alone. */
    if (l->cfg.relu) lm__relu_backward(o->grad, o->grad, o->data, (int64_t)n * o->stride);
    void *a[3] = {o->grad, dx, pp->ws};
    LM_CALL(lm__prim_exec(&s->bwd, net, a));
    lm__grad_done(net, l, 0, n);
    return LM_OK;
}

static void pool_fini(lm__layer *l) {
    pool_priv *pp = l->priv;
    if (!pp) return;
    lm__sets_fini(&pp->sets, free_set);
    free(pp->ws);
    free(pp);
    l->priv = NULL;
}

const lm__layer_ops lm__pool_ops = {
    .kind = "pool",
    .setup = pool_setup,
    .layout = pool_layout,
    .prepare = pool_prepare,
    .forward = pool_forward,
    .backward = pool_backward,
    .fini = pool_fini,
};
