/* 2-D convolution on oneDNN primitives: square or rectangular kernels (the 1x7 and
 * 7x1 pairs of NASNet), stride, padding, dilation and groups (groups = channels is
 * the depthwise half of a separable convolution), bias and a fused ReLU.
 *
 * Layouts. The forward, backward-data and backward-weights primitives must agree on
 * the source and destination layouts, and none may be a reference loop. Measured
 * with oneDNN 2.6 on AVX-512: the input's own layout (or oneDNN's choice) with the
 * destination left to oneDNN gives its blocked direct kernels (jit:avx512_core,
 * nChw16c) for 16 channels and more, and for a first layer on a plain input that
 * needs no input gradient; but backward-data from a plain source, and everything
 * from a blocked source of few channels (10, or grouped ones of 2 per group), falls
 * to reference loops, while nChw8c (jit:avx2) or nhwc (brgconv and jit) source and
 * destination stay optimized, and plain nchw at both ends runs im2col + GEMM. So the
 * layer tries (source, destination) = (input's, any), (any, any), (nChw16c,
 * nChw16c), (nChw8c, nChw8c), (nhwc, nhwc), (nchw, nchw) in that order and keeps the
 * first where all three primitives are optimized; a source layout other than the
 * input's costs a reorder each pass. The destination layout becomes the output
 * tensor's. Weights stay plain (out x in/groups x kh x kw) in the flat parameter
 * buffer, so SGD, snapshots and pruning never see a layout; each pass reorders them
 * into the layouts the forward and backward-data primitives chose and the weight
 * gradient back (a few microseconds: weights are small next to activations).
 *
 * Direct convolution (dnnl_convolution_direct): the automatic choice picked Winograd
 * here, which was slower. */
#include "lamarck/error.h"
#include "nn/kernel.h"
#include "nn/net.h"

#include <stdlib.h>
#include <string.h>

typedef struct conv_set {
    lm__prim fwd, bwd_data, bwd_w;
    lm__prim w_fwd, w_bwd, dw_plain; /* weight reorders; not created when plain already */
    lm__prim src_in, dsrc_out;       /* input tensor <-> the primitives' source layout */
} conv_set;

typedef struct conv_priv {
    dnnl_memory_desc_t src1;  /* the primitives' source layout, batch 1 */
    int src_reorder;          /* src1 is not the input tensor's layout */
    float *xs, *dxs;          /* the input in src1 and its gradient (max_batch) */
    float *wf, *wb, *dwb;     /* weights for forward and backward data, weight gradient */
    size_t wf_bytes, wb_bytes, dwb_bytes;
    lm__sets sets;
} conv_priv;

static int out_side(int in, int k, int s, int p, int d) {
    int span = d * (k - 1) + 1;
    return in + 2 * p < span ? 0 : (in + 2 * p - span) / s + 1;
}

/* Kernel width and left/right padding: kernel_w 0 is a square kernel. */
static int kw_of(const lm__layer_cfg *c) { return c->kernel_w ? c->kernel_w : c->kernel; }
static int pw_of(const lm__layer_cfg *c) { return c->kernel_w ? c->pad_w : c->pad; }

static int conv_setup(lm__layer *l, const lm__net *net) {
    const lm__layer_cfg *c = &l->cfg;
    LM_CHECK(l->n_in == 1, LM_EINVAL, "convolution takes 1 input, got %d", l->n_in);
    LM_CHECK(c->units >= 1, LM_EINVAL, "convolution needs out_channels >= 1, got %d", c->units);
    LM_CHECK(c->kernel >= 1 && c->kernel <= 64 && kw_of(c) >= 1 && kw_of(c) <= 64, LM_EINVAL,
             "convolution kernel sides must be 1 to 64, got %d x %d", c->kernel, kw_of(c));
    LM_CHECK(c->stride >= 1 && c->dil >= 1 && c->pad >= 0 && pw_of(c) >= 0, LM_EINVAL,
             "convolution needs stride >= 1, dilation >= 1 and padding >= 0, got %d, %d and "
             "%d x %d",
             c->stride, c->dil, c->pad, pw_of(c));
    lm__shape in = lm__in(net, l, 0)->shape;
    LM_CHECK(c->groups >= 1 && in.c % c->groups == 0 && c->units % c->groups == 0, LM_EINVAL,
             "convolution groups (%d) must divide the input channels (%d) and the output "
             "channels (%d)",
             c->groups, in.c, c->units);
    int oh = out_side(in.h, c->kernel, c->stride, c->pad, c->dil);
    int ow = out_side(in.w, kw_of(c), c->stride, pw_of(c), c->dil);
    LM_CHECK(oh >= 1 && ow >= 1, LM_EINVAL,
             "a %dx%d convolution with dilation %d does not fit its %d x %d input padded by %d x "
             "%d",
             c->kernel, kw_of(c), c->dil, in.h, in.w, c->pad, pw_of(c));
    lm__out(net, l)->shape = (lm__shape){c->units, oh, ow};
    int64_t fan_in = (int64_t)(in.c / c->groups) * c->kernel * kw_of(c);
    l->n_w = (int64_t)c->units * fan_in;
    l->n_b = c->bias ? c->units : 0;
    l->flops = 2.0 * (double)c->units * oh * ow * (double)fan_in;
    l->bwd_in = 1;
    l->bwd_out = c->relu;
    return LM_OK;
}

/* He's gain of 2 for every convolution: a ReLU follows most of them, directly or
 * after pooling or normalization. */
static void conv_init(lm__layer *l, const lm__net *net, lm_rng *rng) {
    lm__init_weights(net, l->w, l->n_w, l->b, l->n_b, l->n_w / l->cfg.units, 1, rng);
}

/* Weights as the flat buffer holds them (oihw, or goihw with groups), or with any
 * layout for oneDNN to choose. */
static int weights_md(const lm__layer *l, const lm__net *net, dnnl_memory_desc_t *md, int any) {
    const lm__layer_cfg *c = &l->cfg;
    int ic = lm__in(net, l, 0)->shape.c, g = c->groups, kh = c->kernel, kw = kw_of(c);
    dnnl_dims_t d4 = {c->units, ic, kh, kw}, d5 = {g, c->units / g, ic / g, kh, kw};
    dnnl_format_tag_t tag = any ? dnnl_format_tag_any : g == 1 ? dnnl_oihw : dnnl_goihw;
    LM__DNNL_CALL(dnnl_memory_desc_init_by_tag(md, g == 1 ? 4 : 5, g == 1 ? d4 : d5, dnnl_f32, tag),
                  "describing convolution weights");
    return LM_OK;
}

typedef struct conv_pds {
    dnnl_primitive_desc_t fwd, bwd_data, bwd_w;
} conv_pds;

static void pds_free(conv_pds *p) {
    if (p->fwd) dnnl_primitive_desc_destroy(p->fwd);
    if (p->bwd_data) dnnl_primitive_desc_destroy(p->bwd_data);
    if (p->bwd_w) dnnl_primitive_desc_destroy(p->bwd_w);
    memset(p, 0, sizeof *p);
}

/* The three primitive descriptors for sources src and destinations dst (either may
 * be format_tag_any; the backward ones take the forward's choices). Backward data
 * only when the input needs a gradient. */
static int make_pds(const lm__layer *l, const lm__net *net, const dnnl_memory_desc_t *src,
                    const dnnl_memory_desc_t *dst, conv_pds *out) {
    memset(out, 0, sizeof *out);
    const lm__layer_cfg *c = &l->cfg;
    dnnl_memory_desc_t wany, bias;
    LM_CALL(weights_md(l, net, &wany, 1));
    dnnl_dims_t bd = {c->units};
    LM__DNNL_CALL(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_x), "describing a bias");
    dnnl_dims_t st = {c->stride, c->stride}, dl = {c->dil - 1, c->dil - 1},
                pad = {c->pad, pw_of(c)};
    dnnl_convolution_desc_t fd, bdd, bwd;
    LM__DNNL_CALL(dnnl_dilated_convolution_forward_desc_init(&fd, dnnl_forward_training,
                                                             dnnl_convolution_direct, src, &wany,
                                                             c->bias ? &bias : NULL, dst, st, dl,
                                                             pad, pad),
                  "describing a convolution");
    dnnl_post_ops_t po = NULL;
    if (c->relu) {
        LM__DNNL_CALL(dnnl_post_ops_create(&po), "creating post-ops");
        dnnl_status_t s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
        if (s != dnnl_success) {
            dnnl_post_ops_destroy(po);
            LM_FAIL(LM_EDNNL, "oneDNN: appending a ReLU post-op failed");
        }
    }
    int rc = lm__pd_create(&out->fwd, &fd, po, NULL, "a convolution");
    if (po) dnnl_post_ops_destroy(po);
    LM_CALL(rc);
    const dnnl_memory_desc_t *fs = dnnl_primitive_desc_query_md(out->fwd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *fdst = dnnl_primitive_desc_query_md(out->fwd, dnnl_query_dst_md, 0);
    LM__DNNL_CALL(dnnl_dilated_convolution_backward_weights_desc_init(
                      &bwd, dnnl_convolution_direct, fs, &wany, c->bias ? &bias : NULL, fdst, st,
                      dl, pad, pad),
                  "describing a convolution's weight gradient");
    LM_CALL(lm__pd_create(&out->bwd_w, &bwd, NULL, out->fwd, "a convolution's weight gradient"));
    if (lm__in(net, l, 0)->needs_grad) {
        LM__DNNL_CALL(dnnl_dilated_convolution_backward_data_desc_init(
                          &bdd, dnnl_convolution_direct, fs, &wany, fdst, st, dl, pad, pad),
                      "describing a convolution's input gradient");
        LM_CALL(lm__pd_create(&out->bwd_data, &bdd, NULL, out->fwd,
                              "a convolution's input gradient"));
    }
    return LM_OK;
}

static int pds_ok(const conv_pds *p) {
    if (lm__pd_is_ref(p->fwd) || lm__pd_is_ref(p->bwd_w)) return 0;
    if (p->bwd_data && lm__pd_is_ref(p->bwd_data)) return 0;
    return lm__md_batch_outer(dnnl_primitive_desc_query_md(p->fwd, dnnl_query_src_md, 0)) &&
           lm__md_batch_outer(dnnl_primitive_desc_query_md(p->fwd, dnnl_query_dst_md, 0));
}

static int conv_layout(lm__layer *l, lm__net *net, int max_batch) {
    const lm__tensor *x = lm__in(net, l, 0);
    const lm__shape is = x->shape, os = lm__out(net, l)->shape;
    lm__tensor *o = lm__out(net, l);
    conv_priv *cp = calloc(1, sizeof *cp);
    LM_CHECK_ALLOC(cp);
    l->priv = cp;
    /* Candidate (source, destination) layouts, best first (see the top of the file). */
    static const dnnl_format_tag_t tags[][2] = {
        {dnnl_format_tag_undef, dnnl_format_tag_any}, /* the input's own layout */
        {dnnl_format_tag_any, dnnl_format_tag_any},
        {dnnl_aBcd16b, dnnl_aBcd16b},
        {dnnl_aBcd8b, dnnl_aBcd8b},
        {dnnl_nhwc, dnnl_nhwc},
        {dnnl_nchw, dnnl_nchw},
    };
    conv_pds chosen = {0};
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++) {
        dnnl_memory_desc_t src, dst;
        if (tags[i][0] == dnnl_format_tag_undef)
            lm__md_batch(&src, &x->md, max_batch);
        else
            LM_CALL(lm__md_tag(&src, max_batch, is.c, is.h, is.w, tags[i][0]));
        LM_CALL(lm__md_tag(&dst, max_batch, os.c, os.h, os.w, tags[i][1]));
        conv_pds p;
        int rc = make_pds(l, net, &src, &dst, &p);
        if (rc < 0) {
            /* An unsupported combination: try the next one. */
            pds_free(&p);
            lm_error_clear();
            continue;
        }
        int ok = pds_ok(&p);
        if (!chosen.fwd || ok) {
            pds_free(&chosen);
            chosen = p;
        } else {
            pds_free(&p);
        }
        if (ok) break;
    }
    LM_CHECK(chosen.fwd, LM_EDNNL, "oneDNN: no convolution for a %d x %d x %d input, kernel %d x %d",
             is.c, is.h, is.w, l->cfg.kernel, kw_of(&l->cfg));
    lm__md_batch(&cp->src1, dnnl_primitive_desc_query_md(chosen.fwd, dnnl_query_src_md, 0), 1);
    lm__md_batch(&o->md, dnnl_primitive_desc_query_md(chosen.fwd, dnnl_query_dst_md, 0), 1);
    pds_free(&chosen);
    cp->src_reorder = !lm__md_equal(&cp->src1, &x->md);
    LM_CHECK(!cp->src_reorder || lm__md_batch_outer(&cp->src1), LM_EINTERNAL,
             "convolution source layout with the batch inside");
    return LM_OK;
}

static int conv_plan(lm__layer *l, lm__net *net, int max_batch) {
    conv_priv *cp = l->priv;
    if (!cp->src_reorder) return LM_OK;
    size_t bytes = ((size_t)max_batch * (size_t)lm__md_floats(&cp->src1) * sizeof(float) + 63) &
                   ~(size_t)63;
    free(cp->xs);
    free(cp->dxs);
    cp->xs = aligned_alloc(64, bytes);
    cp->dxs = lm__in(net, l, 0)->grad ? aligned_alloc(64, bytes) : NULL;
    LM_CHECK(cp->xs && (cp->dxs || !lm__in(net, l, 0)->grad), LM_ENOMEM,
             "out of memory for a convolution's input");
    return LM_OK;
}

static void free_set(void *p) {
    conv_set *s = p;
    lm__prim *all[] = {&s->fwd, &s->bwd_data, &s->bwd_w, &s->w_fwd,
                       &s->w_bwd, &s->dw_plain, &s->src_in, &s->dsrc_out};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) lm__prim_fini(all[i]);
    free(s);
}

/* Grows *buf to hold md. */
static int fit(float **buf, size_t *cap, const dnnl_memory_desc_t *md) {
    size_t bytes = (dnnl_memory_desc_get_size(md) + 63) & ~(size_t)63;
    if (bytes <= *cap) return LM_OK;
    float *p = aligned_alloc(64, bytes);
    LM_CHECK_ALLOC(p);
    free(*buf);
    *buf = p;
    *cap = bytes;
    return LM_OK;
}

/* A reorder between the plain weights and md, when md is another layout. */
static int weight_reorder(lm__prim *pr, lm__net *net, const dnnl_memory_desc_t *plain,
                          const dnnl_memory_desc_t *md, int to_plain, const char *what) {
    if (lm__md_equal(plain, md)) return LM_OK;
    return to_plain ? lm__reorder_init(pr, net, md, plain, what)
                    : lm__reorder_init(pr, net, plain, md, what);
}

static int build_set(lm__layer *l, lm__net *net, int n, conv_set *s) {
    conv_priv *cp = l->priv;
    const lm__tensor *x = lm__in(net, l, 0);
    dnnl_memory_desc_t src, dst, wplain, xmd;
    lm__md_batch(&src, &cp->src1, n);
    lm__md_batch(&dst, &lm__out(net, l)->md, n);
    LM_CALL(weights_md(l, net, &wplain, 0));
    conv_pds p;
    int rc = make_pds(l, net, &src, &dst, &p);
    if (rc < 0) {
        pds_free(&p);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    static const int fa[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST};
    static const int fa_nb[] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    static const int wa[] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS,
                             DNNL_ARG_DIFF_BIAS};
    static const int da[] = {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC};
    int b = l->cfg.bias;
    rc = lm__prim_init(&s->fwd, net, p.fwd, b ? fa : fa_nb, b ? 4 : 3, "convolution forward");
    if (rc == LM_OK)
        rc = lm__prim_init(&s->bwd_w, net, p.bwd_w, wa, b ? 4 : 3, "convolution weight gradient");
    if (rc == LM_OK && p.bwd_data)
        rc = lm__prim_init(&s->bwd_data, net, p.bwd_data, da, 3, "convolution input gradient");
    const dnnl_memory_desc_t *wf = dnnl_primitive_desc_query_md(p.fwd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dw = dnnl_primitive_desc_query_md(p.bwd_w, dnnl_query_diff_weights_md, 0);
    if (rc == LM_OK) rc = weight_reorder(&s->w_fwd, net, &wplain, wf, 0, "convolution weights");
    if (rc == LM_OK) rc = fit(&cp->wf, &cp->wf_bytes, wf);
    if (rc == LM_OK) rc = weight_reorder(&s->dw_plain, net, &wplain, dw, 1, "convolution weight gradient");
    if (rc == LM_OK) rc = fit(&cp->dwb, &cp->dwb_bytes, dw);
    if (rc == LM_OK && p.bwd_data) {
        const dnnl_memory_desc_t *wb = dnnl_primitive_desc_query_md(p.bwd_data, dnnl_query_weights_md, 0);
        rc = weight_reorder(&s->w_bwd, net, &wplain, wb, 0, "convolution backward weights");
        if (rc == LM_OK) rc = fit(&cp->wb, &cp->wb_bytes, wb);
    }
    pds_free(&p);
    LM_CALL(rc);
    if (cp->src_reorder) {
        lm__md_batch(&xmd, &x->md, n);
        LM_CALL(lm__reorder_init(&s->src_in, net, &xmd, &src, "convolution input"));
        if (x->needs_grad) LM_CALL(lm__reorder_init(&s->dsrc_out, net, &src, &xmd, "convolution input gradient"));
    }
    return LM_OK;
}

static int conv_prepare(lm__layer *l, lm__net *net, int n) {
    conv_priv *cp = l->priv;
    if (lm__sets_find(&cp->sets, n)) return LM_OK;
    conv_set *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    int rc = build_set(l, net, n, s);
    if (rc == LM_OK) rc = lm__sets_add(&cp->sets, n, s);
    if (rc < 0) {
        free_set(s);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

static int conv_forward(lm__layer *l, lm__net *net, int n) {
    conv_priv *cp = l->priv;
    conv_set *s = lm__sets_find(&cp->sets, n);
    const lm__tensor *x = lm__in(net, l, 0);
    float *src = x->data, *w = l->w;
    if (cp->src_reorder) {
        void *r[2] = {x->data, cp->xs};
        LM_CALL(lm__prim_exec(&s->src_in, net, r));
        src = cp->xs;
    }
    if (s->w_fwd.p) {
        void *r[2] = {l->w, cp->wf};
        LM_CALL(lm__prim_exec(&s->w_fwd, net, r));
        w = cp->wf;
    }
    float *dst = lm__out(net, l)->data;
    void *a[4] = {src, w, l->b, dst};
    if (!l->cfg.bias) a[2] = dst; /* the arguments are src, weights, dst */
    LM_CALL(lm__prim_exec(&s->fwd, net, a));
    return LM_OK;
}

static int conv_backward(lm__layer *l, lm__net *net, int n) {
    conv_priv *cp = l->priv;
    conv_set *s = lm__sets_find(&cp->sets, n);
    const lm__tensor *x = lm__in(net, l, 0);
    lm__tensor *o = lm__out(net, l);
    /* Through the fused ReLU: the output's gradient is complete and this layer's alone. */
    if (l->cfg.relu) lm__relu_backward(o->grad, o->grad, o->data, (int64_t)n * o->stride);
    float *src = cp->src_reorder ? cp->xs : x->data;
    float *dw = s->dw_plain.p ? cp->dwb : l->dw;
    void *wa[4] = {src, o->grad, dw, l->db};
    LM_CALL(lm__prim_exec(&s->bwd_w, net, wa));
    if (s->dw_plain.p) {
        void *r[2] = {cp->dwb, l->dw};
        LM_CALL(lm__prim_exec(&s->dw_plain, net, r));
    }
    if (!x->grad) return LM_OK;
    float *w = l->w;
    if (s->w_bwd.p) {
        void *r[2] = {l->w, cp->wb};
        LM_CALL(lm__prim_exec(&s->w_bwd, net, r));
        w = cp->wb;
    }
    float *dx = lm__grad_dst(net, l, 0);
    void *da[3] = {o->grad, w, cp->src_reorder ? cp->dxs : dx};
    LM_CALL(lm__prim_exec(&s->bwd_data, net, da));
    if (cp->src_reorder) {
        void *r[2] = {cp->dxs, dx};
        LM_CALL(lm__prim_exec(&s->dsrc_out, net, r));
    }
    lm__grad_done(net, l, 0, n);
    return LM_OK;
}

static void conv_fini(lm__layer *l) {
    conv_priv *cp = l->priv;
    if (!cp) return;
    lm__sets_fini(&cp->sets, free_set);
    free(cp->xs);
    free(cp->dxs);
    free(cp->wf);
    free(cp->wb);
    free(cp->dwb);
    free(cp);
    l->priv = NULL;
}

const lm__layer_ops lm__conv_ops = {
    .kind = "conv",
    .setup = conv_setup,
    .init_params = conv_init,
    .layout = conv_layout,
    .plan = conv_plan,
    .prepare = conv_prepare,
    .forward = conv_forward,
    .backward = conv_backward,
    .fini = conv_fini,
};
