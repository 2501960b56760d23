/* Function-preserving transformations of a trained network (Chen, Goodfellow and
 * Shlens 2016, "Net2Net: accelerating learning via knowledge transfer"): a wider
 * layer (Net2WiderNet, section 2.2) or an extra identity layer (Net2DeeperNet,
 * section 2.3), with the child's weights computed from the parent's so that the child
 * starts from the parent's function, and its accuracy, instead of from scratch.
 *
 * Both work on weight vectors (lm_trainer_weights: every engine layer's weights then
 * biases, in engine order, then the running statistics in the same order) and on
 * the engine networks that the parent's and child's descriptions build (not
 * finished: only the layers, their configurations and their parameter counts), which
 * say where each engine layer's parameters start. A description layer may build
 * several engine layers (a separable convolution two, a sum its projections first);
 * the transformations touch only convolutions, dense layers and batch
 * normalizations, whose engine layers are one each, and copy every other layer's
 * parameters unchanged. */
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "nn/graph.h"
#include "nn/net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An engine network with the offsets of its layers in the weight vector. */
typedef struct built {
    lm__net *net;
    int *tid;      /* per description layer: its output tensor id, 0 when left out */
    int64_t *off;  /* per engine layer: its parameters' offset in the vector */
    int64_t *soff; /* per engine layer: its running statistics' offset */
    int64_t total; /* floats of the vector */
} built;

static void built_fini(built *b) {
    lm__net_destroy(&b->net);
    free(b->tid);
    free(b->off);
    free(b->soff);
    memset(b, 0, sizeof *b);
}

static int build(const lm_net_desc *d, built *b) {
    memset(b, 0, sizeof *b);
    LM_CHECK(d, LM_EINVAL, "no network description");
    LM_CHECK(d->n_layers >= 0 && d->n_layers <= LM_NET_MAX_LAYERS, LM_EINVAL,
             "a network description has %d layers (0 to %d allowed)", d->n_layers,
             LM_NET_MAX_LAYERS);
    b->tid = calloc((size_t)(d->n_layers ? d->n_layers : 1), sizeof *b->tid);
    LM_CHECK_ALLOC(b->tid);
    int rc = lm__net_from_desc_map(d, 0.0, &b->net, b->tid);
    if (rc < 0) {
        built_fini(b);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    int L = b->net->n_layers;
    b->off = malloc((size_t)L * sizeof *b->off);
    b->soff = malloc((size_t)L * sizeof *b->soff);
    if (!b->off || !b->soff) {
        built_fini(b);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    int64_t np = 0, ns = 0;
    for (int k = 0; k < L; k++) {
        b->off[k] = np;
        np += b->net->layers[k].n_w + b->net->layers[k].n_b;
    }
    for (int k = 0; k < L; k++) {
        b->soff[k] = np + ns;
        ns += b->net->layers[k].n_s;
    }
    b->total = np + ns;
    return LM_OK;
}

/* Copies engine layer pk of p's vector into layer ck of c's (same counts). */
static int copy_layer(const built *p, const float *pw, int pk, const built *c, float *cw, int ck) {
    const lm__layer *a = &p->net->layers[pk], *b = &c->net->layers[ck];
    LM_CHECK(a->ops == b->ops && a->n_w == b->n_w && a->n_b == b->n_b && a->n_s == b->n_s,
             LM_EINTERNAL, "Net2Net: engine layer %d (%s) of the parent does not match the child's %d (%s)",
             pk, a->ops->kind, ck, b->ops->kind);
    memcpy(cw + c->off[ck], pw + p->off[pk], (size_t)(a->n_w + a->n_b) * sizeof *cw);
    memcpy(cw + c->soff[ck], pw + p->soff[pk], (size_t)a->n_s * sizeof *cw);
    return LM_OK;
}

/* Common argument checks; *e the engine index of description layer `layer`. */
static int check_target(const lm_net_desc *d, const float *w, const built *p, int layer,
                        const char *what, int *e) {
    LM_CHECK(w, LM_EINVAL, "%s: no parent weights", what);
    LM_CHECK(layer >= 0 && layer < d->n_layers, LM_EINVAL,
             "%s: layer %d does not exist (the network has %d layers)", what, layer, d->n_layers);
    const lm_layer_desc *l = &d->layers[layer];
    LM_CHECK(l->op == LM_OP_CONV || l->op == LM_OP_DENSE, LM_EINVAL,
             "%s: layer %d is %s; only conv and dense layers can be transformed", what, layer,
             lm__op_name((int)l->op));
    LM_CHECK(p->tid[layer] > 0, LM_EINVAL,
             "%s: layer %d (%s) does not reach the network's output, so it is not built", what,
             layer, lm__op_name((int)l->op));
    *e = p->tid[layer] - 1;
    return LM_OK;
}

static int check_child_cap(const built *c, size_t child_cap, const char *what) {
    LM_CHECK((int64_t)child_cap >= c->total, LM_EINVAL,
             "%s: the child's weights need %lld floats, the buffer holds %zu", what,
             (long long)c->total, child_cap);
    return LM_OK;
}

/* ---- Net2WiderNet ---- */

/* The engine layers that widening engine layer e touches: chain[0..*n_chain) the
 * channel-wise layers between it and its consumer, *consumer the conv or dense layer
 * (the classifier possibly) that reads the widened units. */
static int find_consumer(const lm__net *net, const char *what, int e, int layer, int *chain,
                         int *n_chain, int *consumer) {
    int t = e + 1, n = 0;
    *n_chain = 0;
    for (;;) {
        const lm__tensor *x = &net->tensors[t];
        LM_CHECK(x->consumers == 1, LM_EINVAL,
                 "%s: layer %d's output reaches a tensor read by %d layers; its units must feed "
                 "exactly one conv or dense layer",
                 what, layer, x->consumers);
        int c = -1;
        for (int k = t; k < net->n_layers && c < 0; k++)
            for (int j = 0; j < net->layers[k].n_in; j++)
                if (net->layers[k].in[j] == t) c = k;
        LM_CHECK(c >= 0, LM_EINTERNAL, "%s: tensor %d has no consumer", what, t);
        const lm__layer *l = &net->layers[c];
        if (l->ops == &lm__bnorm_ops || l->ops == &lm__relu_ops || l->ops == &lm__dropout_ops ||
            l->ops == &lm__identity_ops || l->ops == &lm__pool_ops) {
            chain[n++] = c;
            *n_chain = n;
            t = c + 1;
            continue;
        }
        LM_CHECK(l->ops == &lm__dense_ops || (l->ops == &lm__conv_ops && l->cfg.groups == 1),
                 LM_EINVAL,
                 "%s: layer %d's units feed a layer of kind %s%s; they must reach one conv "
                 "or dense layer (or the classifier) through batch normalization, ReLU, pooling, "
                 "dropout or identity only",
                 what, layer, l->ops->kind, l->cfg.groups > 1 ? " (grouped: a separable convolution)" : "");
        *consumer = c;
        return LM_OK;
    }
}

static double stddev(const float *w, int64_t n) {
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        s += w[i];
        s2 += (double)w[i] * w[i];
    }
    double m = s / (double)n, v = s2 / (double)n - m * m;
    return v > 0 ? sqrt(v) : 0.0;
}

/* Unit j of the child is unit g[j] of the parent; cnt[u] copies of parent unit u. */
typedef struct widening {
    int old, wide;
    int *g, *cnt;
    double sd; /* noise added to the new units' incoming weights */
} widening;

/* The widened layer: each child unit's incoming weights and bias are its source's. */
static void widen_out(const widening *wd, const lm__layer *pl, const float *pw, float *cw,
                      lm_rng *rng) {
    int64_t fan = pl->n_w / wd->old;
    const float *pb = pw + pl->n_w;
    float *cb = cw + fan * wd->wide;
    int dense = pl->ops == &lm__dense_ops;
    for (int j = 0; j < wd->wide; j++) {
        int u = wd->g[j];
        for (int64_t i = 0; i < fan; i++) {
            /* Dense weights are in x out, convolution weights out x in x kh x kw. */
            float v = dense ? pw[i * wd->old + u] : pw[(int64_t)u * fan + i];
            if (j >= wd->old && wd->sd > 0) v += (float)(wd->sd * lm_rng_normal(rng));
            if (dense)
                cw[i * wd->wide + j] = v;
            else
                cw[(int64_t)j * fan + i] = v;
        }
        cb[j] = pb[u];
    }
}

/* Per-channel values (a batch normalization's scale, shift, mean or variance). */
static void widen_vec(const widening *wd, const float *p, float *c) {
    for (int j = 0; j < wd->wide; j++) c[j] = p[wd->g[j]];
}

/* The consumer: each child input unit's outgoing weights are its source's divided by
 * the source's copies, so the copies together contribute what the source did. spatial
 * inputs per unit (a dense layer after a convolution reads c x h x w in C order). */
static void widen_in(const widening *wd, const lm__layer *pl, int64_t spatial, const float *pw,
                     float *cw) {
    int units = pl->cfg.units;
    if (pl->ops == &lm__dense_ops) {
        /* in x out: rows (unit, position) */
        for (int j = 0; j < wd->wide; j++) {
            int u = wd->g[j];
            float s = 1.0f / (float)wd->cnt[u];
            for (int64_t q = 0; q < spatial; q++) {
                const float *src = pw + ((int64_t)u * spatial + q) * units;
                float *dst = cw + ((int64_t)j * spatial + q) * units;
                for (int o = 0; o < units; o++) dst[o] = src[o] * s;
            }
        }
    } else {
        /* out x in x kh x kw */
        int64_t kk = pl->n_w / ((int64_t)units * wd->old);
        for (int o = 0; o < units; o++)
            for (int j = 0; j < wd->wide; j++) {
                int u = wd->g[j];
                float s = 1.0f / (float)wd->cnt[u];
                const float *src = pw + ((int64_t)o * wd->old + u) * kk;
                float *dst = cw + ((int64_t)o * wd->wide + j) * kk;
                for (int64_t q = 0; q < kk; q++) dst[q] = src[q] * s;
            }
    }
    memcpy(cw + pl->n_w / wd->old * wd->wide, pw + pl->n_w, (size_t)pl->n_b * sizeof *cw);
}

/* The child's weights, given parent and child networks of the same engine layers. */
static int wider_weights(const built *p, const float *pw, const built *c, float *cw, int e,
                         const int *chain, int n_chain, int consumer, const widening *wd,
                         lm_rng *rng) {
    for (int k = 0; k < p->net->n_layers; k++) {
        const lm__layer *pl = &p->net->layers[k];
        int in_chain = 0;
        for (int i = 0; i < n_chain; i++) in_chain |= chain[i] == k;
        if (k == e) {
            widen_out(wd, pl, pw + p->off[k], cw + c->off[k], rng);
        } else if (k == consumer) {
            const lm__shape s = p->net->tensors[pl->in[0]].shape;
            widen_in(wd, pl, (int64_t)s.h * s.w, pw + p->off[k], cw + c->off[k]);
        } else if (in_chain && pl->ops == &lm__bnorm_ops) {
            /* scale, shift; running mean, running variance */
            for (int h = 0; h < 2; h++) {
                widen_vec(wd, pw + p->off[k] + h * wd->old, cw + c->off[k] + h * wd->wide);
                widen_vec(wd, pw + p->soff[k] + h * wd->old, cw + c->soff[k] + h * wd->wide);
            }
        } else {
            LM_CALL(copy_layer(p, pw, k, c, cw, k));
        }
    }
    return LM_OK;
}

/* What lm_net2wider allocates, freed by its caller whatever happens. */
typedef struct wider_work {
    built p, c;
    int *chain;
    widening wd;
} wider_work;

/* The narrowed layer keeps its units of largest L1 norm, in their order.
 * The norm is over a unit's incoming weights (the filter ranking of Li et al. 2017,
 * "Pruning filters for efficient ConvNets"); ties go to the lower index. */
static int keep_largest(const lm__layer *pl, const float *pw, widening *wd) {
    int64_t fan = pl->n_w / wd->old;
    int dense = pl->ops == &lm__dense_ops;
    double *norm = malloc((size_t)wd->old * sizeof *norm);
    LM_CHECK_ALLOC(norm);
    for (int u = 0; u < wd->old; u++) {
        norm[u] = 0;
        for (int64_t i = 0; i < fan; i++)
            norm[u] += fabs(dense ? pw[i * wd->old + u] : pw[(int64_t)u * fan + i]);
    }
    for (int j = 0; j < wd->wide; j++) {
        int best = -1;
        for (int u = 0; u < wd->old; u++)
            if (!wd->cnt[u] && (best < 0 || norm[u] > norm[best])) best = u;
        wd->cnt[best] = 1;
    }
    free(norm);
    for (int u = 0, j = 0; u < wd->old; u++)
        if (wd->cnt[u]) wd->g[j++] = u;
    return LM_OK;
}

/* Net2Wider (new_width above the layer's) or Net2Narrower (below). */
static int rewiden(wider_work *w, const char *what, const lm_net_desc *parent, const float *pw,
                   int layer, int new_width, int narrow, double noise, lm_rng *rng,
                   lm_layer_desc *child_layers, int cap, lm_net_desc *child, float *cw,
                   size_t child_cap) {
    int e, n_chain = 0, consumer = -1;
    LM_CALL(build(parent, &w->p));
    LM_CALL(check_target(parent, pw, &w->p, layer, what, &e));
    w->chain = malloc((size_t)w->p.net->n_layers * sizeof *w->chain);
    LM_CHECK_ALLOC(w->chain);
    LM_CALL(find_consumer(w->p.net, what, e, layer, w->chain, &n_chain, &consumer));
    const lm__layer *pl = &w->p.net->layers[e];
    widening *wd = &w->wd;
    int max = pl->ops == &lm__dense_ops ? 1 << 20 : 65536;
    wd->old = pl->cfg.units;
    wd->wide = new_width;
    LM_CHECK(narrow ? new_width >= 1 && new_width < wd->old
                    : new_width > wd->old && new_width <= max,
             LM_EINVAL, "%s: layer %d (%s) has %d units; the new width must be %d to %d, got %d",
             what, layer, lm__op_name((int)parent->layers[layer].op), wd->old,
             narrow ? 1 : wd->old + 1, narrow ? wd->old - 1 : max, new_width);
    LM_CHECK(pl->ops != &lm__conv_ops || pl->cfg.groups == 1, LM_EINVAL,
             "%s: layer %d is a grouped convolution (%d groups)", what, layer, pl->cfg.groups);
    LM_CHECK(parent->n_layers <= cap, LM_EINVAL, "%s: the child has %d layers, the capacity is %d",
             what, parent->n_layers, cap);
    memcpy(child_layers, parent->layers, (size_t)parent->n_layers * sizeof *child_layers);
    child_layers[layer].out_channels = new_width;
    *child = *parent;
    child->layers = child_layers;
    LM_CALL(build(child, &w->c));
    LM_CALL(check_child_cap(&w->c, child_cap, what));
    LM_CHECK(w->c.net->n_layers == w->p.net->n_layers, LM_EINTERNAL,
             "%s: the child has %d engine layers, the parent %d", what, w->c.net->n_layers,
             w->p.net->n_layers);
    wd->g = malloc((size_t)new_width * sizeof *wd->g);
    wd->cnt = calloc((size_t)wd->old, sizeof *wd->cnt);
    LM_CHECK(wd->g && wd->cnt, LM_ENOMEM, "out of memory");
    if (narrow) {
        LM_CALL(keep_largest(pl, pw + w->p.off[e], wd));
    } else {
        /* The first units keep their places; each new one copies a random one.
         * The copied unit is drawn uniformly (the random mapping g of section 2.2). */
        for (int j = 0; j < new_width; j++) {
            wd->g[j] = j < wd->old ? j : (int)lm_rng_below(rng, (uint64_t)wd->old);
            wd->cnt[wd->g[j]]++;
        }
        wd->sd = noise * stddev(pw + w->p.off[e], pl->n_w);
    }
    LM_CALL(wider_weights(&w->p, pw, &w->c, cw, e, w->chain, n_chain, consumer, wd, rng));
    return LM_OK;
}

static int rewiden_call(const char *what, const lm_net_desc *parent, const float *parent_params,
                        int layer, int new_width, int narrow, double noise, lm_rng *rng,
                        lm_layer_desc *child_layers, int cap, lm_net_desc *child,
                        float *child_params, size_t child_cap) {
    LM_CHECK(parent && child_layers && child && child_params, LM_EINVAL, "%s: NULL argument",
             what);
    wider_work w = {0};
    int rc = rewiden(&w, what, parent, parent_params, layer, new_width, narrow, noise, rng,
                     child_layers, cap, child, child_params, child_cap);
    free(w.chain);
    free(w.wd.g);
    free(w.wd.cnt);
    built_fini(&w.p);
    built_fini(&w.c);
    if (rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    return LM_OK;
}

int lm_net2wider(const lm_net_desc *parent, const float *parent_params, int layer, int new_width,
                 double noise, lm_rng *rng, lm_layer_desc *child_layers, int cap,
                 lm_net_desc *child, float *child_params, size_t child_cap) {
    LM_CHECK(isfinite(noise) && noise >= 0, LM_EINVAL,
             "Net2Wider: noise must be finite and >= 0, got %g", noise);
    LM_CHECK(rng, LM_EINVAL, "Net2Wider: an rng chooses the units to copy");
    return rewiden_call("Net2Wider", parent, parent_params, layer, new_width, 0, noise, rng,
                        child_layers, cap, child, child_params, child_cap);
}

int lm_net2narrower(const lm_net_desc *parent, const float *parent_params, int layer,
                    int new_width, lm_layer_desc *child_layers, int cap, lm_net_desc *child,
                    float *child_params, size_t child_cap) {
    return rewiden_call("Net2Narrower", parent, parent_params, layer, new_width, 1, 0.0, NULL,
                        child_layers, cap, child, child_params, child_cap);
}

/* ---- Net2DeeperNet ---- */

static int n_inputs(const lm_layer_desc *l) { return l->n_inputs ? l->n_inputs : 1; }
static int input_at(const lm_layer_desc *l, int i, int j) { return l->n_inputs ? l->inputs[j] : i - 1; }

/* The one built layer reading description layer i, or -1 (with the error set) when
 * there are several or none. */
static int only_consumer(const lm_net_desc *d, const built *p, int i, int layer) {
    int found = -1, count = 0;
    for (int q = i + 1; q < d->n_layers; q++) {
        if (!p->tid[q]) continue;
        for (int j = 0; j < n_inputs(&d->layers[q]); j++)
            if (input_at(&d->layers[q], q, j) == i) {
                found = q;
                count++;
            }
    }
    if (count == 1 && n_inputs(&d->layers[found]) == 1) return found;
    lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                 "Net2Deeper: no ReLU follows layer %d: layer %d's output %s before one does", layer,
                 i,
                 i == d->n_layers - 1 ? "goes to the classifier"
                 : count == 1         ? "is merged with other inputs"
                                      : "is read by several layers");
    return -1;
}

/* The description layer after which the ReLU has been applied (see lm_net2deeper). */
static int relu_point(const lm_net_desc *d, const built *p, int layer, int *point) {
    int i = layer;
    for (;;) {
        const lm_layer_desc *l = &d->layers[i];
        int pool = l->op == LM_OP_MAXPOOL || l->op == LM_OP_AVGPOOL || l->op == LM_OP_GLOBAL_AVGPOOL;
        if (l->op == LM_OP_RELU || ((i == layer || pool) && l->relu)) {
            *point = i;
            return LM_OK;
        }
        LM_CHECK(i == layer || pool || l->op == LM_OP_BATCHNORM || l->op == LM_OP_DROPOUT ||
                     l->op == LM_OP_IDENTITY,
                 LM_EINVAL,
                 "Net2Deeper: no ReLU follows layer %d: layer %d (%s) comes before one (only "
                 "batch normalization, pooling, dropout and identity may)",
                 layer, i, lm__op_name((int)l->op));
        int q = only_consumer(d, p, i, layer);
        if (q < 0) return lm_error_trace(__FILE__, __LINE__, __func__, LM_EINVAL);
        i = q;
    }
}

/* Description layer i of the child: the parent's, its inputs from `point` on
 * renumbered for the n_new layers inserted after point (the last of which takes
 * point's place as an input). */
static lm_layer_desc shifted(const lm_layer_desc *l, int point, int n_new) {
    lm_layer_desc s = *l;
    for (int j = 0; j < s.n_inputs; j++)
        if (s.inputs[j] >= point) s.inputs[j] += n_new;
    return s;
}

/* The identity: centre tap 1 from channel o to channel o (convolution, out x in x k x
 * k) or the identity matrix (dense, in x out); biases 0. */
static void identity_weights(const lm__layer *l, float *w) {
    int c = l->cfg.units;
    memset(w, 0, (size_t)(l->n_w + l->n_b) * sizeof *w);
    int64_t kk = l->n_w / ((int64_t)c * c), centre = kk / 2;
    for (int o = 0; o < c; o++) w[((int64_t)o * c + o) * kk + centre] = 1.0f;
}

/* A normalization that undoes itself on inputs of this mean and variance: scale
 * sqrt(var + eps), shift mean (parameters w), the same running statistics (s). */
static void undoing_norm(const lm__layer *l, const float *mean, const float *var, float *w,
                         float *s) {
    int64_t c = l->n_b / 2;
    for (int64_t i = 0; i < c; i++) {
        w[i] = sqrtf(var[i] + LM__BN_EPS);
        w[c + i] = mean[i];
        s[i] = mean[i];
        s[c + i] = var[i];
    }
}

/* With mean and var (NULL: without) the inserted layers are conv/dense, BN, ReLU. */
static int deeper(built *p, built *c, const lm_net_desc *parent, const float *pw, int layer,
                  int kernel, const float *mean, const float *var, lm_layer_desc *child_layers,
                  int cap, lm_net_desc *child, float *cw, size_t child_cap) {
    int e, point = -1, n_new = mean ? 3 : 1;
    const char *what = mean ? "Net2Deeper (with batch normalization)" : "Net2Deeper";
    LM_CALL(build(parent, p));
    LM_CALL(check_target(parent, pw, p, layer, what, &e));
    int conv = parent->layers[layer].op == LM_OP_CONV;
    LM_CHECK(!conv || (kernel >= 1 && kernel <= 11 && kernel % 2 == 1), LM_EINVAL,
             "%s: the identity convolution's kernel must be odd, 1 to 11, got %d", what, kernel);
    LM_CHECK(parent->n_layers + n_new <= LM_NET_MAX_LAYERS && parent->n_layers + n_new <= cap,
             LM_EINVAL, "%s: the child has %d layers, the capacity is %d (at most %d)", what,
             parent->n_layers + n_new, cap, LM_NET_MAX_LAYERS);
    LM_CALL(relu_point(parent, p, layer, &point));
    lm__shape s = p->net->tensors[p->tid[point]].shape;
    for (int i = 0; i < s.c && mean; i++)
        LM_CHECK(isfinite(mean[i]) && isfinite(var[i]) && var[i] >= 0, LM_EINVAL,
                 "%s: channel %d's statistics are mean %g, variance %g", what, i, mean[i], var[i]);
    for (int i = 0; i <= point; i++) child_layers[i] = parent->layers[i];
    child_layers[point + 1] =
        conv ? (lm_layer_desc){.op = LM_OP_CONV, .out_channels = s.c, .kernel = kernel,
                               .padding = -1, .relu = !mean}
             : (lm_layer_desc){.op = LM_OP_DENSE, .out_channels = s.c, .relu = !mean};
    if (mean) {
        child_layers[point + 2] = (lm_layer_desc){.op = LM_OP_BATCHNORM};
        child_layers[point + 3] = (lm_layer_desc){.op = LM_OP_RELU};
    }
    for (int i = point + 1; i < parent->n_layers; i++)
        child_layers[i + n_new] = shifted(&parent->layers[i], point, n_new);
    *child = *parent;
    child->layers = child_layers;
    child->n_layers = parent->n_layers + n_new;
    LM_CALL(build(child, c));
    LM_CALL(check_child_cap(c, child_cap, what));
    /* Each inserted layer is one engine layer; the others keep their order around them. */
    int en = c->tid[point + 1] - 1;
    LM_CHECK(en >= 0 && c->net->n_layers == p->net->n_layers + n_new, LM_EINTERNAL,
             "%s: the child has %d engine layers, the parent %d", what, c->net->n_layers,
             p->net->n_layers);
    for (int k = 0; k < c->net->n_layers; k++) {
        const lm__layer *l = &c->net->layers[k];
        if (k == en)
            identity_weights(l, cw + c->off[k]);
        else if (mean && k == en + 1)
            undoing_norm(l, mean, var, cw + c->off[k], cw + c->soff[k]);
        else if (!(mean && k == en + 2)) /* the inserted ReLU has no parameters */
            LM_CALL(copy_layer(p, pw, k < en ? k : k - n_new, c, cw, k));
    }
    return LM_OK;
}

static int deeper_call(const lm_net_desc *parent, const float *parent_params, int layer,
                       int kernel, const float *mean, const float *var,
                       lm_layer_desc *child_layers, int cap, lm_net_desc *child,
                       float *child_params, size_t child_cap) {
    LM_CHECK(parent && child_layers && child && child_params, LM_EINVAL,
             "Net2Deeper: NULL argument");
    built p = {0}, c = {0};
    int rc = deeper(&p, &c, parent, parent_params, layer, kernel, mean, var, child_layers, cap,
                    child, child_params, child_cap);
    built_fini(&p);
    built_fini(&c);
    if (rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    return LM_OK;
}

int lm_net2deeper(const lm_net_desc *parent, const float *parent_params, int layer, int kernel,
                  lm_layer_desc *child_layers, int cap, lm_net_desc *child, float *child_params,
                  size_t child_cap) {
    return deeper_call(parent, parent_params, layer, kernel, NULL, NULL, child_layers, cap, child,
                       child_params, child_cap);
}

int lm_net2deeper_bn(const lm_net_desc *parent, const float *parent_params, int layer, int kernel,
                     const float *mean, const float *var, lm_layer_desc *child_layers, int cap,
                     lm_net_desc *child, float *child_params, size_t child_cap) {
    LM_CHECK(mean && var, LM_EINVAL, "Net2Deeper (with batch normalization): no statistics");
    return deeper_call(parent, parent_params, layer, kernel, mean, var, child_layers, cap, child,
                       child_params, child_cap);
}

/* ---- removing layers (an approximate morph) ---- */

/* Every layer but the block's keeps its weights.
 * Layers before the block keep their engine index, those after it move down by the
 * block's engine layers, and each must have its parent's shape, which holds when the
 * block's output had its input's shape. */
static int removed(built *p, built *c, const lm_net_desc *parent, const float *pw, int first,
                   int count, lm_layer_desc *child_layers, int cap, lm_net_desc *child,
                   float *cw, size_t child_cap) {
    const char *what = "layer removal";
    LM_CHECK(pw, LM_EINVAL, "%s: no parent weights", what);
    int last = first + count - 1;
    LM_CHECK(count >= 1 && first >= 0 && last < parent->n_layers - 1, LM_EINVAL,
             "%s: layers %d to %d of %d cannot go (the last layer stays)", what, first, last,
             parent->n_layers);
    LM_CHECK(parent->n_layers - count <= cap, LM_EINVAL,
             "%s: the child has %d layers, the capacity is %d", what, parent->n_layers - count,
             cap);
    LM_CALL(build(parent, p));
    for (int i = 0; i < parent->n_layers; i++)
        LM_CHECK(p->tid[i] > 0, LM_EINVAL,
                 "%s: layer %d does not reach the network's output", what, i);
    const lm_layer_desc *fl = &parent->layers[first];
    LM_CHECK(n_inputs(fl) == 1, LM_EINVAL, "%s: layer %d has %d inputs; the block must read one",
             what, first, n_inputs(fl));
    int src = input_at(fl, first, 0);
    /* The block reads only its input and itself; after it, only its last layer is read.
     * Those readers read the block's input instead. */
    for (int i = first; i < parent->n_layers; i++)
        for (int j = 0; j < n_inputs(&parent->layers[i]); j++) {
            int in = input_at(&parent->layers[i], i, j);
            int inside = in >= first && in <= last;
            LM_CHECK(i > last ? !inside || in == last : in == src || (inside && in < i),
                     LM_EINVAL, "%s: layer %d reads layer %d across the block %d to %d", what,
                     i, in, first, last);
        }
    for (int i = 0; i < first; i++) child_layers[i] = parent->layers[i];
    for (int i = last + 1; i < parent->n_layers; i++) {
        lm_layer_desc l = parent->layers[i];
        int n = n_inputs(&l);
        for (int j = 0; j < n; j++) {
            int in = input_at(&parent->layers[i], i, j);
            l.inputs[j] = in == last ? src : in > last ? in - count : in;
        }
        l.n_inputs = n;
        child_layers[i - count] = l;
    }
    *child = *parent;
    child->layers = child_layers;
    child->n_layers = parent->n_layers - count;
    LM_CALL(build(child, c));
    int b0 = first ? p->tid[first - 1] : 0, gone = p->net->n_layers - c->net->n_layers;
    LM_CHECK(gone >= 0 && b0 + gone == p->tid[last], LM_EINTERNAL,
             "%s: the block's engine layers do not line up (%d from %d, the block ends at %d)",
             what, gone, b0, p->tid[last]);
    for (int k = 0; k < c->net->n_layers; k++) {
        const lm__layer *a = &p->net->layers[k < b0 ? k : k + gone], *b = &c->net->layers[k];
        LM_CHECK(a->n_w == b->n_w && a->n_b == b->n_b && a->n_s == b->n_s, LM_EINVAL,
                 "%s: without layers %d to %d, engine layer %d (%s) has %lld weights where it "
                 "had %lld: the block changes the shape it is given",
                 what, first, last, k, b->ops->kind, (long long)b->n_w, (long long)a->n_w);
    }
    LM_CALL(check_child_cap(c, child_cap, what));
    for (int k = 0; k < c->net->n_layers; k++)
        LM_CALL(copy_layer(p, pw, k < b0 ? k : k + gone, c, cw, k));
    return LM_OK;
}

int lm_net_remove_layers(const lm_net_desc *parent, const float *parent_params, int first,
                         int count, lm_layer_desc *child_layers, int cap, lm_net_desc *child,
                         float *child_params, size_t child_cap) {
    LM_CHECK(parent && child_layers && child && child_params, LM_EINVAL,
             "layer removal: NULL argument");
    built p = {0}, c = {0};
    int rc = removed(&p, &c, parent, parent_params, first, count, child_layers, cap, child,
                     child_params, child_cap);
    built_fini(&p);
    built_fini(&c);
    if (rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    return LM_OK;
}
