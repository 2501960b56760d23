/* The network object: building a DAG of layers, choosing layouts, planning the
 * parameter buffers and the activations (with liveness-based reuse), and the forward
 * and backward passes over the layers in order. */
#include "nn/net.h"

#include "lamarck/error.h"
#include "nn/kernel.h"

#include <stdlib.h>
#include <string.h>

/* Buffers start on 64-byte boundaries (one AVX-512 vector, one cache line). */
#define ALIGN_FLOATS 16
#define MAX_FLOATS ((int64_t)1 << 31)

static int64_t round_up(int64_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

static float *alloc_floats(int64_t n) {
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t bytes = (size_t)round_up(n > 0 ? n : 1) * sizeof(float);
    float *p = aligned_alloc(64, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

/* ---- primitive sets per batch size ---- */

void *lm__sets_find(const lm__sets *s, int n) {
    for (int i = 0; i < s->count; i++)
        if (s->n[i] == n) return s->set[i];
    return NULL;
}

int lm__sets_add(lm__sets *s, int n, void *set) {
    if (s->count == s->cap) {
        int cap = s->cap ? 2 * s->cap : 4;
        int *nn = realloc(s->n, (size_t)cap * sizeof *nn);
        LM_CHECK_ALLOC(nn);
        s->n = nn;
        void **ss = realloc(s->set, (size_t)cap * sizeof *ss);
        LM_CHECK_ALLOC(ss);
        s->set = ss;
        s->cap = cap;
    }
    s->n[s->count] = n;
    s->set[s->count++] = set;
    return LM_OK;
}

void lm__sets_fini(lm__sets *s, void (*free_set)(void *)) {
    for (int i = 0; i < s->count; i++) free_set(s->set[i]);
    free(s->n);
    free(s->set);
    memset(s, 0, sizeof *s);
}

/* ---- building ---- */

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
    free(net->prune_mask);
    free(net->arena);
    free(net->acc_buf);
    free(net->scratch);
    free(net->prepared);
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
    l->id = net->n_layers + 1;
    l->n_in = n_in;
    memcpy(l->in, in, (size_t)n_in * sizeof *in);
    lm__tensor *o = &net->tensors[l->id];
    memset(o, 0, sizeof *o);
    int rc = ops->setup(l, net);
    if (rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    o->size = lm__shape_size(o->shape);
    LM_CHECK(o->shape.c >= 1 && o->shape.h >= 1 && o->shape.w >= 1 && o->size <= INT32_MAX,
             LM_EINVAL, "%s layer %d: output of %d x %d x %d features", ops->kind, net->n_layers,
             o->shape.c, o->shape.h, o->shape.w);
    for (int j = 0; j < n_in; j++) net->tensors[in[j]].consumers++;
    net->n_layers++;
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

/* ---- activation planning ---- */

/* One buffer to place in the arena: a tensor's data or gradient, live from step
 * start to step end (inclusive) of the timeline forward 0..L-1, loss L, backward of
 * layer i at 2L - i. */
typedef struct buf {
    int tensor, grad;
    int64_t floats, off;
    int start, end;
} buf;

static int by_size_desc(const void *a, const void *b) {
    const buf *x = a, *y = b;
    if (x->floats != y->floats) return x->floats < y->floats ? 1 : -1;
    return x->start - y->start;
}

static int by_off(const void *a, const void *b) {
    const buf *x = *(buf *const *)a, *y = *(buf *const *)b;
    return (x->off > y->off) - (x->off < y->off);
}

static int imax(int a, int b) { return a > b ? a : b; }
static int imin(int a, int b) { return a < b ? a : b; }

/* Lifetimes of every buffer. */
static int buffer_intervals(lm__net *net, int max_batch, buf *bufs, int *nb) {
    int L = net->n_layers, n = 0;
    for (int t = 0; t <= L; t++) {
        lm__tensor *x = &net->tensors[t];
        int64_t floats = round_up((int64_t)max_batch * x->stride);
        int prod = t - 1;
        if (t > 0) {
            const lm__layer *pl = &net->layers[prod];
            int end = prod;
            if (pl->bwd_out) end = imax(end, 2 * L - prod);
            if (t == L) end = 2 * L + 1; /* the output is read after the passes too */
            for (int i = t; i < L; i++) {
                const lm__layer *c = &net->layers[i];
                for (int j = 0; j < c->n_in; j++)
                    if (c->in[j] == t) end = imax(end, c->bwd_in ? 2 * L - i : i);
            }
            bufs[n++] = (buf){t, 0, floats, 0, prod, end};
        }
        if (!x->needs_grad) continue;
        int start = t == L ? L : 2 * L + 1;
        for (int i = t; i < L; i++) {
            const lm__layer *c = &net->layers[i];
            for (int j = 0; j < c->n_in; j++)
                if (c->in[j] == t) start = imin(start, 2 * L - i);
        }
        int end = t > 0 ? 2 * L - prod : 2 * L + 1;
        bufs[n++] = (buf){t, 1, floats, 0, start, end};
    }
    *nb = n;
    return LM_OK;
}

/* Greedy placement, largest first: each buffer goes to the lowest offset where it
 * overlaps no placed buffer that is live at the same time. Returns the arena size. */
static int place(buf *bufs, int nb, int64_t *total) {
    qsort(bufs, (size_t)nb, sizeof *bufs, by_size_desc);
    buf **live = malloc((size_t)(nb ? nb : 1) * sizeof *live);
    LM_CHECK_ALLOC(live);
    int64_t top = 0;
    for (int i = 0; i < nb; i++) {
        int m = 0;
        for (int k = 0; k < i; k++)
            if (bufs[k].start <= bufs[i].end && bufs[i].start <= bufs[k].end) live[m++] = &bufs[k];
        qsort(live, (size_t)m, sizeof *live, by_off);
        int64_t off = 0;
        for (int k = 0; k < m; k++) {
            if (off + bufs[i].floats <= live[k]->off) break;
            if (live[k]->off + live[k]->floats > off) off = live[k]->off + live[k]->floats;
        }
        bufs[i].off = off;
        if (off + bufs[i].floats > top) top = off + bufs[i].floats;
    }
    free(live);
    *total = top;
    return LM_OK;
}

/* Lays out the arena for max_batch and points every tensor into it; then each layer
 * (re)allocates its own buffers. */
static int plan_buffers(lm__net *net, int max_batch) {
    int L = net->n_layers;
    buf *bufs = malloc((size_t)(2 * L + 2) * sizeof *bufs);
    LM_CHECK_ALLOC(bufs);
    int nb = 0;
    int64_t total = 0, acc = 0;
    buffer_intervals(net, max_batch, bufs, &nb);
    int rc = place(bufs, nb, &total);
    if (rc < 0 || total > MAX_FLOATS) {
        free(bufs);
        if (rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, rc);
        LM_FAIL(LM_EINVAL, "activations of %lld floats for batch %d are too large (at most %lld)",
                (long long)total, max_batch, (long long)MAX_FLOATS);
    }
    for (int i = 0; i < L; i++) {
        const lm__layer *l = &net->layers[i];
        for (int j = 0; j < l->n_in; j++)
            if (l->acc[j]) {
                int64_t f = (int64_t)max_batch * lm__in(net, l, j)->stride;
                if (f > acc) acc = f;
            }
    }
    float *arena = alloc_floats(total), *accb = acc ? alloc_floats(acc) : NULL;
    if (!arena || (acc && !accb)) {
        free(arena);
        free(accb);
        free(bufs);
        LM_FAIL(LM_ENOMEM, "out of memory for %lld floats of activations (batch %d)", (long long)total,
                max_batch);
    }
    free(net->arena);
    free(net->acc_buf);
    net->arena = arena;
    net->arena_floats = total;
    net->acc_buf = accb;
    net->acc_floats = acc;
    for (int i = 0; i < nb; i++) {
        lm__tensor *t = &net->tensors[bufs[i].tensor];
        if (bufs[i].grad)
            t->grad = arena + bufs[i].off;
        else
            t->data = arena + bufs[i].off;
    }
    free(bufs);
    net->max_batch = max_batch;
    for (int i = 0; i < L; i++) {
        lm__layer *l = &net->layers[i];
        if (l->ops->plan) LM_CALL(l->ops->plan(l, net, max_batch));
    }
    return LM_OK;
}

/* ---- finishing ---- */

/* Which tensors need gradients, and which backward writes add to a gradient that a
 * later layer (earlier in the backward pass) already wrote. */
static int mark_gradients(lm__net *net) {
    int L = net->n_layers;
    net->tensors[0].needs_grad = net->input_grad;
    for (int i = 0; i < L; i++) {
        lm__layer *l = &net->layers[i];
        int need = l->n_w + l->n_b > 0;
        for (int j = 0; j < l->n_in; j++) need |= lm__in(net, l, j)->needs_grad;
        /* The output always has a gradient: the loss writes it. */
        lm__out(net, l)->needs_grad = need || i == L - 1;
    }
    char *written = calloc((size_t)L + 1, 1);
    LM_CHECK_ALLOC(written);
    for (int i = L - 1; i >= 0; i--) {
        lm__layer *l = &net->layers[i];
        for (int j = 0; j < l->n_in; j++) {
            int t = l->in[j];
            l->acc[j] = net->tensors[t].needs_grad && written[t];
            if (net->tensors[t].needs_grad) written[t] = 1;
        }
    }
    free(written);
    return LM_OK;
}

static int choose_layouts(lm__net *net, int max_batch) {
    lm__tensor *x = &net->tensors[0];
    LM_CALL(lm__md_tag(&x->md, 1, x->shape.c, x->shape.h, x->shape.w, dnnl_nchw));
    x->stride = x->size;
    x->plain = 1;
    for (int i = 0; i < net->n_layers; i++) {
        lm__layer *l = &net->layers[i];
        lm__tensor *o = lm__out(net, l);
        if (l->ops->layout) {
            LM_CALL(l->ops->layout(l, net, max_batch));
        } else {
            o->md = lm__in(net, l, 0)->md;
        }
        LM_CHECK(lm__md_batch_outer(&o->md), LM_EINTERNAL,
                 "%s layer %d: a layout whose batch is not outermost", l->ops->kind, i);
        o->stride = lm__md_floats(&o->md);
        o->plain = lm__md_is_plain(&o->md);
    }
    return LM_OK;
}

int lm__net_finish(lm__net *net, int max_batch, int input_grad, uint64_t seed, uint64_t trial) {
    LM_CHECK(!net->finished, LM_EINVAL, "network already finished");
    LM_CHECK(net->n_layers >= 1, LM_EINVAL, "a network needs at least one layer");
    LM_CHECK(max_batch >= 1, LM_EINVAL, "batch size must be >= 1, got %d", max_batch);
    for (int t = 1; t < net->n_layers; t++)
        LM_CHECK(net->tensors[t].consumers > 0, LM_EINVAL,
                 "%s layer %d: its output is never used (only the last layer's may be unused)",
                 net->layers[t - 1].ops->kind, t - 1);
    net->input_grad = input_grad;
    LM_CALL(mark_gradients(net));

    /* Flat parameters: each layer's weights, then its biases, in layer order. */
    int64_t np = 0, ns = 0;
    double flops = 0;
    for (int i = 0; i < net->n_layers; i++) {
        lm__layer *l = &net->layers[i];
        l->off = np;
        l->soff = ns;
        np += l->n_w + l->n_b;
        ns += l->n_s;
        flops += l->flops;
    }
    /* 8 GiB each: beyond that a configuration is a mistake, not a model to train. */
    LM_CHECK(np <= MAX_FLOATS, LM_EINVAL, "a network of %lld parameters is too large (at most %lld)",
             (long long)np, (long long)MAX_FLOATS);
    net->n_params = np;
    net->n_stats = ns;
    net->flops = flops;
    /* The running statistics follow the parameters in one block, so that a model's
     * weights are one array (lm_trainer_weights). */
    net->params = alloc_floats(np + ns);
    net->grads = alloc_floats(np);
    net->momentum = alloc_floats(np);
    net->stats = net->params ? net->params + np : NULL;
    LM_CHECK(net->params && net->grads && net->momentum, LM_ENOMEM,
             "out of memory for a network of %lld parameters", (long long)np);
    lm_rng init;
    lm_rng_init(&init, seed, trial, LM_STREAM_INIT);
    lm_rng_init(&net->dropout_rng, seed, trial, LM_STREAM_DROPOUT);
    for (int i = 0; i < net->n_layers; i++) {
        lm__layer *l = &net->layers[i];
        if (l->n_w + l->n_b > 0) {
            l->w = net->params + l->off;
            l->b = l->w + l->n_w;
            l->dw = net->grads + l->off;
            l->db = l->dw + l->n_w;
        }
        if (l->n_s) l->s = net->stats + l->soff;
        if (l->ops->init_params) l->ops->init_params(l, net, &init);
    }
    LM_CALL(lm__dnn_init());
    LM_CALL(lm__kernels_create(&net->k));
    LM_CALL(choose_layouts(net, max_batch));
    LM_CALL(plan_buffers(net, max_batch));
    net->finished = 1;
    LM_CALL(lm__net_prepare(net, max_batch));
    return LM_OK;
}

int lm__net_grow(lm__net *net, int max_batch) {
    LM_CHECK(net->finished, LM_EINVAL, "network not finished");
    if (max_batch <= net->max_batch) return LM_OK;
    LM_CALL(plan_buffers(net, max_batch));
    return LM_OK;
}

int lm__net_prepare(lm__net *net, int n) {
    LM_CHECK(net->finished, LM_EINVAL, "network not finished");
    LM_CHECK(n >= 1 && n <= net->max_batch, LM_EINVAL, "batch of %d samples (1 to %d allowed)", n,
             net->max_batch);
    for (int i = 0; i < net->n_prepared; i++)
        if (net->prepared[i] == n) return LM_OK;
    for (int i = 0; i < net->n_layers; i++) {
        lm__layer *l = &net->layers[i];
        if (l->ops->prepare) LM_CALL(l->ops->prepare(l, net, n));
    }
    if (net->n_prepared == net->cap_prepared) {
        int cap = net->cap_prepared ? 2 * net->cap_prepared : 4;
        int *p = realloc(net->prepared, (size_t)cap * sizeof *p);
        LM_CHECK_ALLOC(p);
        net->prepared = p;
        net->cap_prepared = cap;
    }
    net->prepared[net->n_prepared++] = n;
    return LM_OK;
}

int lm__net_scratch(lm__net *net, size_t bytes) {
    if (bytes <= net->scratch_bytes) return LM_OK;
    /* Rounded up to a multiple of the alignment, as aligned_alloc requires. */
    size_t size = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, size);
    LM_CHECK_ALLOC(p);
    free(net->scratch);
    net->scratch = p;
    net->scratch_bytes = size;
    return LM_OK;
}

/* ---- passes ---- */

int lm__net_forward(lm__net *net, const float *x, int n, int train) {
    LM_CHECK(net->finished, LM_EINVAL, "network not finished");
    LM_CHECK(n >= 1 && n <= net->max_batch, LM_EINVAL, "batch of %d samples (1 to %d allowed)", n,
             net->max_batch);
    LM_CALL(lm__net_prepare(net, n));
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
        /* Nothing upstream learns: no parameter gradient or input gradient to compute. */
        int need = l->n_w + l->n_b > 0;
        for (int j = 0; j < l->n_in; j++) need |= lm__in(net, l, j)->grad != NULL;
        if (!need) continue;
        LM_CALL(l->ops->backward(l, net, n));
    }
    return LM_OK;
}

float *lm__grad_dst(lm__net *net, const lm__layer *l, int j) {
    lm__tensor *t = lm__in(net, l, j);
    if (!t->grad) return NULL;
    return l->acc[j] ? net->acc_buf : t->grad;
}

void lm__grad_done(lm__net *net, const lm__layer *l, int j, int n) {
    lm__tensor *t = lm__in(net, l, j);
    if (t->grad && l->acc[j]) lm__add(t->grad, t->grad, net->acc_buf, (int64_t)n * t->stride);
}

void lm__grad_pass(lm__net *net, const lm__layer *l, int j, int n, const float *g) {
    lm__tensor *x = lm__in(net, l, j);
    if (!x->grad) return;
    int64_t len = (int64_t)n * x->stride;
    if (l->acc[j])
        lm__add(x->grad, x->grad, g, len);
    else
        memcpy(x->grad, g, (size_t)len * sizeof(float));
}

/* ---- reading and writing tensors in plain order ---- */

static int copy_plain(lm__net *net, int id, int grad, int n, float *plain, int to_plain) {
    LM_CHECK(net->finished && id >= 0 && id <= net->n_layers, LM_EINVAL, "no tensor %d", id);
    LM_CHECK(n >= 1 && n <= net->max_batch, LM_EINVAL, "batch of %d samples (1 to %d allowed)", n,
             net->max_batch);
    lm__tensor *t = &net->tensors[id];
    float *mem = grad ? t->grad : t->data;
    LM_CHECK(mem, LM_EINVAL, "tensor %d has no %s", id, grad ? "gradient" : "data");
    size_t bytes = (size_t)n * (size_t)t->size * sizeof(float);
    if (t->plain) {
        if (to_plain)
            memcpy(plain, mem, bytes);
        else
            memcpy(mem, plain, bytes);
        return LM_OK;
    }
    dnnl_memory_desc_t md, pmd;
    lm__md_batch(&md, &t->md, n);
    LM_CALL(lm__md_tag(&pmd, n, t->shape.c, t->shape.h, t->shape.w, dnnl_nchw));
    lm__prim r;
    LM_CALL(to_plain ? lm__reorder_init(&r, net, &md, &pmd, "reading a tensor")
                     : lm__reorder_init(&r, net, &pmd, &md, "writing a tensor"));
    void *ptrs[2] = {to_plain ? (void *)mem : (void *)plain, to_plain ? (void *)plain : (void *)mem};
    int rc = lm__prim_exec(&r, net, ptrs);
    lm__prim_fini(&r);
    return rc;
}

int lm__net_read(lm__net *net, int id, int grad, int n, float *out) {
    return copy_plain(net, id, grad, n, out, 1);
}

int lm__net_write(lm__net *net, int id, int grad, int n, const float *in) {
    return copy_plain(net, id, grad, n, (float *)(uintptr_t)in, 0);
}
