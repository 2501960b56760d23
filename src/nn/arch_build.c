/* Translating a decoded architecture (the node list of lamarck/arch.h, which the
 * search spaces emit independently of the engine) into a network description.
 *
 * Each node becomes one to three layers, and node i's output is the last of them
 * (out[i]; the input node's is -1, the network input). Convolution nodes of every kind
 * become convolution, batch normalization and ReLU: post-activation, the order of
 * ResNet's and of lm_net_layers_from_params's CNN. Every output shape is checked
 * against the node's own (c, h, w), so a node list whose shapes the engine would
 * compute differently is refused instead of silently trained as another network. */
#include "lamarck/arch.h"
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "nn/graph.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"input",    "conv",     "sep_conv", "avg_pool",
                                         "max_pool", "identity", "add",      "concat",
                                         "global_avg_pool", "dense"};
#define N_KINDS ((int)(sizeof kind_names / sizeof *kind_names))

static const char *kind_name(int k) { return k >= 0 && k < N_KINDS ? kind_names[k] : "?"; }

typedef struct emitter {
    lm_layer_desc *layers;
    int cap, n;
} emitter;

static int push(emitter *e, const lm_arch_node *nd, int i, lm_layer_desc l) {
    LM_CHECK(e->n < e->cap, LM_EINVAL,
             "architecture node %d (%s): more than %d layers needed (the capacity given)", i,
             kind_name((int)nd->kind), e->cap);
    e->layers[e->n++] = l;
    return LM_OK;
}

/* The node's input j as a layer index (-1: the network input). */
static int input_of(const lm_arch_net *an, const int *out, int i, int j) {
    return out[an->nodes[i].in[j]];
}

/* Fields of node i that need no other node. */
static int check_node(const lm_arch_net *an, int i) {
    const lm_arch_node *nd = &an->nodes[i];
    const char *k = kind_name((int)nd->kind);
    LM_CHECK(nd->kind > LM_ARCH_NODE_INPUT && nd->kind <= LM_ARCH_NODE_DENSE, LM_EINVAL,
             "architecture node %d: kind %d (%s) is not allowed after node 0", i, (int)nd->kind,
             k);
    LM_CHECK(nd->n_in >= 1 && nd->n_in <= LM_ARCH_MAX_INPUTS && nd->n_in <= LM_LAYER_MAX_INPUTS,
             LM_EINVAL, "architecture node %d (%s): %d inputs (1 to %d allowed)", i, k, nd->n_in,
             LM_LAYER_MAX_INPUTS < LM_ARCH_MAX_INPUTS ? LM_LAYER_MAX_INPUTS : LM_ARCH_MAX_INPUTS);
    int multi = nd->kind == LM_ARCH_NODE_ADD || nd->kind == LM_ARCH_NODE_CONCAT;
    LM_CHECK(multi || nd->n_in == 1, LM_EINVAL, "architecture node %d (%s) takes 1 input, got %d",
             i, k, nd->n_in);
    for (int j = 0; j < nd->n_in; j++)
        LM_CHECK(nd->in[j] >= 0 && nd->in[j] < i, LM_EINVAL,
                 "architecture node %d (%s): input %d is node %d, expected 0 to %d", i, k, j,
                 nd->in[j], i - 1);
    LM_CHECK(nd->c >= 1 && nd->h >= 1 && nd->w >= 1, LM_EINVAL,
             "architecture node %d (%s): output shape %d x %d x %d is not positive", i, k, nd->c,
             nd->h, nd->w);
    if (nd->kind == LM_ARCH_NODE_CONV || nd->kind == LM_ARCH_NODE_SEP_CONV ||
        nd->kind == LM_ARCH_NODE_AVG_POOL || nd->kind == LM_ARCH_NODE_MAX_POOL) {
        LM_CHECK(nd->kh >= 1 && nd->kh <= 64 && nd->kw >= 1 && nd->kw <= 64, LM_EINVAL,
                 "architecture node %d (%s): kernel %d x %d (sides 1 to 64 allowed)", i, k, nd->kh,
                 nd->kw);
        LM_CHECK(nd->stride >= 0 && nd->stride <= 64 && nd->dilation >= 0 && nd->dilation <= 64,
                 LM_EINVAL,
                 "architecture node %d (%s): stride %d or dilation %d out of range (0 to 64)", i, k,
                 nd->stride, nd->dilation);
    }
    return LM_OK;
}

/* Input j of node i must have the node's height and width (and channels, check_c). */
static int same_shape(const lm_arch_net *an, int i, int j, int check_c) {
    const lm_arch_node *nd = &an->nodes[i], *src = &an->nodes[nd->in[j]];
    LM_CHECK(src->h == nd->h && src->w == nd->w && (!check_c || src->c == nd->c), LM_EINVAL,
             "architecture node %d (%s): input %d (node %d) is %d x %d x %d, the node %d x %d x %d "
             "(its inputs must agree)",
             i, kind_name((int)nd->kind), j, nd->in[j], src->c, src->h, src->w, nd->c, nd->h,
             nd->w);
    return LM_OK;
}

/* The layers of convolution node i (conv or separable) reading layer `in`. */
static int emit_conv(emitter *e, const lm_arch_net *an, int i, int in) {
    const lm_arch_node *nd = &an->nodes[i];
    lm_layer_desc l = {
        .op = nd->kind == LM_ARCH_NODE_SEP_CONV ? LM_OP_SEPCONV : LM_OP_CONV,
        .inputs = {in},
        .n_inputs = 1,
        .out_channels = nd->c,
        .kernel = nd->kh,
        .kernel_w = nd->kw == nd->kh ? 0 : nd->kw,
        .stride = nd->stride,
        .padding = -1,
        .dilation = nd->dilation,
    };
    LM_CALL(push(e, nd, i, l));
    LM_CALL(push(e, nd, i, (lm_layer_desc){.op = LM_OP_BATCHNORM}));
    return push(e, nd, i, (lm_layer_desc){.op = LM_OP_RELU});
}

static int emit_node(emitter *e, const lm_arch_net *an, const int *out, int i) {
    const lm_arch_node *nd = &an->nodes[i];
    int in0 = input_of(an, out, i, 0);
    switch (nd->kind) {
    case LM_ARCH_NODE_CONV:
    case LM_ARCH_NODE_SEP_CONV:
        return emit_conv(e, an, i, in0);
    case LM_ARCH_NODE_AVG_POOL:
    case LM_ARCH_NODE_MAX_POOL:
        LM_CHECK(nd->kh == nd->kw, LM_EINVAL,
                 "architecture node %d (%s): pooling kernels are square, got %d x %d", i,
                 kind_name((int)nd->kind), nd->kh, nd->kw);
    {
        /* Stride 0 is 1 for a node, while the engine reads it as the kernel. "Same"
         * pooling gives ceil(in / stride): the smallest padding that reaches it (an even
         * kernel, 2 x 2 of stride 2 over 7 x 7, needs 1 where k/2 - 1/2 rounds to 0). */
        int stride = nd->stride > 0 ? nd->stride : 1, in_h = an->nodes[nd->in[0]].h;
        int need = (nd->h - 1) * stride + nd->kh - in_h;
        int pad = need > 0 ? (need + 1) / 2 : 0;
        return push(e, nd, i,
                    (lm_layer_desc){.op = nd->kind == LM_ARCH_NODE_AVG_POOL ? LM_OP_AVGPOOL
                                                                            : LM_OP_MAXPOOL,
                                    .inputs = {in0},
                                    .n_inputs = 1,
                                    .kernel = nd->kh,
                                    .stride = stride,
                                    .padding = pad});
    }
    case LM_ARCH_NODE_IDENTITY:
        return push(e, nd, i, (lm_layer_desc){.op = LM_OP_IDENTITY, .inputs = {in0}, .n_inputs = 1});
    case LM_ARCH_NODE_ADD:
    case LM_ARCH_NODE_CONCAT: {
        int add = nd->kind == LM_ARCH_NODE_ADD;
        lm_layer_desc l = {.op = add ? LM_OP_ADD : LM_OP_CONCAT, .n_inputs = nd->n_in};
        /* Equal shapes: the engine would otherwise project a mismatched summand with
         * a 1x1 convolution, parameters the node list does not have. */
        for (int j = 0; j < nd->n_in; j++) {
            LM_CALL(same_shape(an, i, j, add));
            l.inputs[j] = input_of(an, out, i, j);
        }
        return push(e, nd, i, l);
    }
    case LM_ARCH_NODE_GLOBAL_AVG_POOL:
        return push(e, nd, i,
                    (lm_layer_desc){.op = LM_OP_GLOBAL_AVGPOOL, .inputs = {in0}, .n_inputs = 1});
    case LM_ARCH_NODE_DENSE:
        return push(e, nd, i,
                    (lm_layer_desc){.op = LM_OP_DENSE,
                                    .inputs = {in0},
                                    .n_inputs = 1,
                                    .out_channels = nd->c,
                                    .relu = 1});
    default:
        break;
    }
    LM_FAIL(LM_EINVAL, "architecture node %d: kind %d cannot be translated", i, (int)nd->kind);
}

/* The engine's shapes must be the nodes': builds the network and compares each
 * translated node's output. */
static int check_shapes(const lm_arch_net *an, const int *out, const lm_net_desc *d) {
    lm__net *net;
    int *tid = malloc((size_t)(d->n_layers ? d->n_layers : 1) * sizeof *tid);
    LM_CHECK_ALLOC(tid);
    int rc = lm__net_from_desc_map(d, 0.0, &net, tid);
    if (rc < 0) {
        free(tid);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    for (int i = 1; i < an->n_nodes - 1 && rc == LM_OK; i++) {
        const lm_arch_node *nd = &an->nodes[i];
        int t = tid[out[i]];
        if (!t) continue; /* left out: it does not reach the classifier */
        lm__shape s = net->tensors[t].shape;
        if (s.c != nd->c || s.h != nd->h || s.w != nd->w)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                              "architecture node %d (%s) is %d x %d x %d, but its translation "
                              "computes %d x %d x %d",
                              i, kind_name((int)nd->kind), nd->c, nd->h, nd->w, s.c, s.h, s.w);
    }
    lm__net_destroy(&net);
    free(tid);
    return rc;
}

int lm_net_from_arch(const lm_arch_net *an, lm_layer_desc *layers, int cap, int *n_layers,
                     lm_net_desc *d) {
    LM_CHECK(an && layers && n_layers && d, LM_EINVAL, "architecture translation: NULL argument");
    *n_layers = 0;
    memset(d, 0, sizeof *d);
    LM_CHECK(an->nodes && an->n_nodes >= 2, LM_EINVAL,
             "an architecture needs an input node and a classifier, got %d nodes", an->n_nodes);
    LM_CHECK(an->n_nodes <= LM_NET_MAX_LAYERS, LM_EINVAL,
             "an architecture of %d nodes is too large (at most %d)", an->n_nodes,
             LM_NET_MAX_LAYERS);
    LM_CHECK(cap >= 0, LM_EINVAL, "architecture translation: capacity %d", cap);
    const lm_arch_node *in = &an->nodes[0], *last = &an->nodes[an->n_nodes - 1];
    LM_CHECK(in->kind == LM_ARCH_NODE_INPUT && in->c >= 1 && in->h >= 1 && in->w >= 1, LM_EINVAL,
             "architecture node 0 must be the input with a positive shape, got %s %d x %d x %d",
             kind_name((int)in->kind), in->c, in->h, in->w);
    for (int i = 1; i < an->n_nodes; i++) LM_CALL(check_node(an, i));
    LM_CHECK(last->kind == LM_ARCH_NODE_DENSE, LM_EINVAL,
             "architecture node %d, the last, must be the dense classifier, got %s",
             an->n_nodes - 1, kind_name((int)last->kind));

    int *out = malloc((size_t)an->n_nodes * sizeof *out);
    LM_CHECK_ALLOC(out);
    emitter e = {layers, cap, 0};
    int rc = LM_OK;
    out[0] = -1;
    for (int i = 1; i < an->n_nodes - 1 && rc == LM_OK; i++) {
        rc = emit_node(&e, an, out, i);
        out[i] = e.n - 1;
    }
    /* The classifier reads the last layer: one that is not its input gets an identity. */
    int cls_in = rc == LM_OK ? out[last->in[0]] : 0;
    if (rc == LM_OK && (e.n == 0 || cls_in != e.n - 1))
        rc = push(&e, last, an->n_nodes - 1,
                  (lm_layer_desc){.op = LM_OP_IDENTITY, .inputs = {cls_in}, .n_inputs = 1});
    if (rc == LM_OK) {
        *d = (lm_net_desc){layers, e.n, in->c, in->h, in->w, last->c};
        rc = check_shapes(an, out, d);
    }
    free(out);
    if (rc < 0) {
        memset(d, 0, sizeof *d);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    *n_layers = e.n;
    return LM_OK;
}
