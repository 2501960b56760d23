/* Layers that merge several tensors: the skip connection's sum (He et al. 2016) and
 * the channel concatenation of DenseNets and NASNet cells.
 *
 * Sum: every input has the output's shape (the graph builder puts a 1x1 projection
 * before an input of another shape); the output takes the first input's layout and
 * an input in another layout is reordered into it first. The sum and its gradient
 * (each input receives the output's gradient) are plain vector loops (lm__add):
 * measured single-threaded against oneDNN 2.6's sum primitive (simple:any) on two
 * nChw16c inputs, 1,024 floats took 0.03 us against 0.75, 8,192 0.65 us against
 * 3.0, 131,072 15 us against 29 and 1.6 million 0.30 ms against 0.71.
 *
 * Concatenation: each input is reordered into its channel range of the output (a
 * oneDNN sub-memory view), and its gradient out of that range. The output keeps the
 * inputs' channel blocking when every input has it and its channel count is a whole
 * number of blocks (a sub-memory must start on a block), else it is plain. */
#include "lamarck/error.h"
#include "nn/kernel.h"
#include "nn/net.h"

#include <stdlib.h>
#include <string.h>

typedef struct merge_set {
    lm__prim fwd[LM__NET_MAX_IN], bwd[LM__NET_MAX_IN];
} merge_set;

typedef struct merge_priv {
    int convert[LM__NET_MAX_IN]; /* add: input j's layout differs from the output's */
    float *tmp;                  /* add: a converted input, max_batch samples */
    lm__sets sets;
} merge_priv;

static void free_set(void *p) {
    merge_set *s = p;
    for (int j = 0; j < LM__NET_MAX_IN; j++) {
        lm__prim_fini(&s->fwd[j]);
        lm__prim_fini(&s->bwd[j]);
    }
    free(s);
}

static void merge_fini(lm__layer *l) {
    merge_priv *mp = l->priv;
    if (!mp) return;
    lm__sets_fini(&mp->sets, free_set);
    free(mp->tmp);
    free(mp);
    l->priv = NULL;
}

typedef int (*set_builder)(lm__layer *l, lm__net *net, int n, merge_set *s);

static int prepare_with(lm__layer *l, lm__net *net, int n, set_builder build) {
    merge_priv *mp = l->priv;
    if (lm__sets_find(&mp->sets, n)) return LM_OK;
    merge_set *s = calloc(1, sizeof *s);
    LM_CHECK_ALLOC(s);
    int rc = build(l, net, n, s);
    if (rc == LM_OK) rc = lm__sets_add(&mp->sets, n, s);
    if (rc < 0) {
        free_set(s);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

/* ---- sum ---- */

static int add_setup(lm__layer *l, const lm__net *net) {
    lm__shape s = lm__in(net, l, 0)->shape;
    for (int j = 1; j < l->n_in; j++) {
        lm__shape t = lm__in(net, l, j)->shape;
        LM_CHECK(t.c == s.c && t.h == s.h && t.w == s.w, LM_EINVAL,
                 "add: input %d is %d x %d x %d, input 0 is %d x %d x %d", j, t.c, t.h, t.w, s.c,
                 s.h, s.w);
    }
    lm__out(net, l)->shape = s;
    return LM_OK;
}

static int add_layout(lm__layer *l, lm__net *net, int max_batch) {
    (void)max_batch;
    merge_priv *mp = calloc(1, sizeof *mp);
    LM_CHECK_ALLOC(mp);
    l->priv = mp;
    lm__tensor *o = lm__out(net, l);
    o->md = lm__in(net, l, 0)->md;
    for (int j = 1; j < l->n_in; j++) mp->convert[j] = !lm__md_equal(&lm__in(net, l, j)->md, &o->md);
    return LM_OK;
}

static int add_plan(lm__layer *l, lm__net *net, int max_batch) {
    merge_priv *mp = l->priv;
    int any = 0;
    for (int j = 1; j < l->n_in; j++) any |= mp->convert[j];
    if (!any) return LM_OK;
    size_t bytes = ((size_t)max_batch * (size_t)lm__out(net, l)->stride * sizeof(float) + 63) &
                   ~(size_t)63;
    free(mp->tmp);
    mp->tmp = aligned_alloc(64, bytes);
    LM_CHECK_ALLOC(mp->tmp);
    return LM_OK;
}

static int add_build(lm__layer *l, lm__net *net, int n, merge_set *s) {
    merge_priv *mp = l->priv;
    dnnl_memory_desc_t omd, imd;
    lm__md_batch(&omd, &lm__out(net, l)->md, n);
    for (int j = 1; j < l->n_in; j++) {
        if (!mp->convert[j]) continue;
        const lm__tensor *x = lm__in(net, l, j);
        lm__md_batch(&imd, &x->md, n);
        LM_CALL(lm__reorder_init(&s->fwd[j], net, &imd, &omd, "add: an input's layout"));
        if (x->needs_grad)
            LM_CALL(lm__reorder_init(&s->bwd[j], net, &omd, &imd, "add: an input's gradient"));
    }
    return LM_OK;
}

static int add_prepare(lm__layer *l, lm__net *net, int n) { return prepare_with(l, net, n, add_build); }

static int add_forward(lm__layer *l, lm__net *net, int n) {
    merge_priv *mp = l->priv;
    merge_set *s = lm__sets_find(&mp->sets, n);
    lm__tensor *o = lm__out(net, l);
    int64_t len = (int64_t)n * o->stride;
    memcpy(o->data, lm__in(net, l, 0)->data, (size_t)len * sizeof(float));
    for (int j = 1; j < l->n_in; j++) {
        const float *x = lm__in(net, l, j)->data;
        if (mp->convert[j]) {
            void *r[2] = {(void *)(uintptr_t)x, mp->tmp};
            LM_CALL(lm__prim_exec(&s->fwd[j], net, r));
            x = mp->tmp;
        }
        lm__add(o->data, o->data, x, len);
    }
    return LM_OK;
}

static int add_backward(lm__layer *l, lm__net *net, int n) {
    merge_priv *mp = l->priv;
    merge_set *s = lm__sets_find(&mp->sets, n);
    const lm__tensor *o = lm__out(net, l);
    for (int j = 0; j < l->n_in; j++) {
        if (!mp->convert[j]) {
            lm__grad_pass(net, l, j, n, o->grad);
            continue;
        }
        float *dx = lm__grad_dst(net, l, j);
        if (!dx) continue;
        void *r[2] = {o->grad, dx};
        LM_CALL(lm__prim_exec(&s->bwd[j], net, r));
        lm__grad_done(net, l, j, n);
    }
    return LM_OK;
}

const lm__layer_ops lm__add_ops = {
    .kind = "add",
    .setup = add_setup,
    .layout = add_layout,
    .plan = add_plan,
    .prepare = add_prepare,
    .forward = add_forward,
    .backward = add_backward,
    .fini = merge_fini,
};

/* ---- concatenation along channels ---- */

static int concat_setup(lm__layer *l, const lm__net *net) {
    lm__shape s = lm__in(net, l, 0)->shape;
    int64_t c = s.c;
    for (int j = 1; j < l->n_in; j++) {
        lm__shape t = lm__in(net, l, j)->shape;
        LM_CHECK(t.h == s.h && t.w == s.w, LM_EINVAL,
                 "concat: input %d is %d x %d, input 0 is %d x %d (height and width must agree)", j,
                 t.h, t.w, s.h, s.w);
        c += t.c;
    }
    LM_CHECK(c <= INT32_MAX, LM_EINVAL, "concat: %lld channels", (long long)c);
    lm__out(net, l)->shape = (lm__shape){(int)c, s.h, s.w};
    return LM_OK;
}

static int concat_layout(lm__layer *l, lm__net *net, int max_batch) {
    (void)max_batch;
    l->priv = calloc(1, sizeof(merge_priv));
    LM_CHECK_ALLOC(l->priv);
    lm__tensor *o = lm__out(net, l);
    int blk = lm__md_cblock(&lm__in(net, l, 0)->md);
    for (int j = 0; j < l->n_in; j++) {
        const lm__tensor *x = lm__in(net, l, j);
        if (lm__md_cblock(&x->md) != blk || x->shape.c % blk) blk = 1;
    }
    if (blk > 1)
        LM_CALL(lm__md_like(&o->md, &lm__in(net, l, 0)->md, 1, o->shape.c, o->shape.h, o->shape.w));
    else
        LM_CALL(lm__md_tag(&o->md, 1, o->shape.c, o->shape.h, o->shape.w, dnnl_nchw));
    return LM_OK;
}

static int concat_build(lm__layer *l, lm__net *net, int n, merge_set *s) {
    const lm__tensor *o = lm__out(net, l);
    dnnl_memory_desc_t omd, imd, sub;
    lm__md_batch(&omd, &o->md, n);
    int off = 0;
    for (int j = 0; j < l->n_in; j++) {
        const lm__tensor *x = lm__in(net, l, j);
        dnnl_dims_t dims = {n, x->shape.c, o->shape.h, o->shape.w}, offs = {0, off, 0, 0};
        LM__DNNL_CALL(dnnl_memory_desc_init_submemory(&sub, &omd, dims, offs),
                      "describing a concatenated input's channels");
        lm__md_batch(&imd, &x->md, n);
        LM_CALL(lm__reorder_init(&s->fwd[j], net, &imd, &sub, "concat: an input"));
        if (x->needs_grad) LM_CALL(lm__reorder_init(&s->bwd[j], net, &sub, &imd, "concat: an input's gradient"));
        off += x->shape.c;
    }
    return LM_OK;
}

static int concat_prepare(lm__layer *l, lm__net *net, int n) {
    return prepare_with(l, net, n, concat_build);
}

static int concat_forward(lm__layer *l, lm__net *net, int n) {
    merge_priv *mp = l->priv;
    merge_set *s = lm__sets_find(&mp->sets, n);
    for (int j = 0; j < l->n_in; j++) {
        void *r[2] = {lm__in(net, l, j)->data, lm__out(net, l)->data};
        LM_CALL(lm__prim_exec(&s->fwd[j], net, r));
    }
    return LM_OK;
}

static int concat_backward(lm__layer *l, lm__net *net, int n) {
    merge_priv *mp = l->priv;
    merge_set *s = lm__sets_find(&mp->sets, n);
    for (int j = 0; j < l->n_in; j++) {
        float *dx = lm__grad_dst(net, l, j);
        if (!dx) continue;
        void *r[2] = {lm__out(net, l)->grad, dx};
        LM_CALL(lm__prim_exec(&s->bwd[j], net, r));
        lm__grad_done(net, l, j, n);
    }
    return LM_OK;
}

const lm__layer_ops lm__concat_ops = {
    .kind = "concat",
    .setup = concat_setup,
    .layout = concat_layout,
    .prepare = concat_prepare,
    .forward = concat_forward,
    .backward = concat_backward,
    .fini = merge_fini,
};
