/* Network descriptions: validating what a search space emits, building the engine's
 * network from it (separable convolutions as a depthwise and a pointwise convolution,
 * 1x1 projections in front of mismatched skip inputs, the classifier at the end) and
 * the descriptions of the MLP and CNN that training parameters name. */
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "nn/graph.h"
#include "nn/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {"conv",     "sepconv", "maxpool", "avgpool", "global_avgpool",
                                       "batchnorm", "relu",   "dropout", "identity", "zero",
                                       "add",      "concat",  "dense"};
#define N_OPS ((int)(sizeof op_names / sizeof *op_names))

const char *lm__op_name(int op) { return op >= 0 && op < N_OPS ? op_names[op] : "?"; }

/* The message of the failure just recorded, with the layer named in front. */
static int wrap(int rc, int i, lm_op op) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", lm_error_message());
    lm_error_clear();
    LM_FAIL(rc, "network layer %d (%s): %s", i, lm__op_name((int)op), msg);
}

static int n_inputs(const lm_layer_desc *l) { return l->n_inputs ? l->n_inputs : 1; }

static int input_at(const lm_layer_desc *l, int i, int j) {
    return l->n_inputs ? l->inputs[j] : i - 1;
}

/* Fields of layer i that need no shapes to check. */
static int check_fields(const lm_layer_desc *l, int i) {
    LM_CHECK((unsigned)l->op < (unsigned)N_OPS, LM_EINVAL, "network layer %d: unknown op %d", i,
             (int)l->op);
    const char *op = op_names[l->op];
    LM_CHECK(l->n_inputs >= 0 && l->n_inputs <= LM_LAYER_MAX_INPUTS, LM_EINVAL,
             "network layer %d (%s): n_inputs %d (0 to %d allowed)", i, op, l->n_inputs,
             LM_LAYER_MAX_INPUTS);
    int multi = l->op == LM_OP_ADD || l->op == LM_OP_CONCAT;
    LM_CHECK(multi || n_inputs(l) == 1, LM_EINVAL, "network layer %d (%s) takes 1 input, got %d", i,
             op, n_inputs(l));
    for (int j = 0; j < n_inputs(l); j++) {
        int in = input_at(l, i, j);
        LM_CHECK(in >= -1 && in < i, LM_EINVAL,
                 "network layer %d (%s): input %d is %d; inputs must be -1 (the network input) or "
                 "an earlier layer (0 to %d), which keeps the graph acyclic",
                 i, op, j, in, i - 1);
    }
    switch (l->op) {
    case LM_OP_CONV:
    case LM_OP_SEPCONV:
        LM_CHECK(l->out_channels >= 1 && l->out_channels <= 65536, LM_EINVAL,
                 "network layer %d (%s): out_channels must be 1 to 65536, got %d", i, op,
                 l->out_channels);
        LM_CHECK(l->kernel >= 1 && l->kernel <= 64, LM_EINVAL,
                 "network layer %d (%s): kernel must be 1 to 64, got %d", i, op, l->kernel);
        LM_CHECK(l->kernel_w >= 0 && l->kernel_w <= 64, LM_EINVAL,
                 "network layer %d (%s): kernel_w must be 0 (square) to 64, got %d", i, op,
                 l->kernel_w);
        LM_CHECK(l->stride >= 0 && l->stride <= 64 && l->dilation >= 0 && l->dilation <= 64 &&
                     l->padding >= -1 && l->padding <= 64,
                 LM_EINVAL,
                 "network layer %d (%s): stride %d, dilation %d or padding %d out of range "
                 "(stride and dilation 0 to 64, padding -1 to 64)",
                 i, op, l->stride, l->dilation, l->padding);
        LM_CHECK(l->op != LM_OP_CONV || l->groups >= 0, LM_EINVAL,
                 "network layer %d (%s): groups must be >= 0, got %d", i, op, l->groups);
        break;
    case LM_OP_MAXPOOL:
    case LM_OP_AVGPOOL:
        LM_CHECK(l->kernel >= 1 && l->kernel <= 64, LM_EINVAL,
                 "network layer %d (%s): kernel must be 1 to 64, got %d", i, op, l->kernel);
        LM_CHECK(l->kernel_w == 0 || l->kernel_w == l->kernel, LM_EINVAL,
                 "network layer %d (%s): pooling kernels are square, got %d x %d", i, op,
                 l->kernel, l->kernel_w);
        LM_CHECK(l->stride >= 0 && l->stride <= 64 && l->padding >= -1 && l->padding <= 64,
                 LM_EINVAL, "network layer %d (%s): stride %d or padding %d out of range", i, op,
                 l->stride, l->padding);
        break;
    case LM_OP_DROPOUT:
        LM_CHECK(isfinite(l->rate) && l->rate < 1, LM_EINVAL,
                 "network layer %d (%s): rate must be below 1 (negative: the training "
                 "parameter), got %g",
                 i, op, l->rate);
        break;
    case LM_OP_ZERO:
        LM_CHECK(l->stride >= 0 && l->stride <= 64, LM_EINVAL,
                 "network layer %d (%s): stride must be 0 to 64, got %d", i, op, l->stride);
        break;
    case LM_OP_ADD:
        LM_CHECK(l->out_channels >= 0 && l->out_channels <= 65536, LM_EINVAL,
                 "network layer %d (%s): out_channels must be 0 to 65536, got %d", i, op,
                 l->out_channels);
        break;
    case LM_OP_DENSE:
        LM_CHECK(l->out_channels >= 1 && l->out_channels <= (1 << 20), LM_EINVAL,
                 "network layer %d (%s): out_channels (units) must be 1 to %d, got %d", i, op,
                 1 << 20, l->out_channels);
        break;
    default:
        break;
    }
    return LM_OK;
}

/* Padding of a convolution's rows (side = kernel) or columns (side = its width). */
static int pad_of(const lm_layer_desc *l, int side) {
    int dil = l->dilation ? l->dilation : 1;
    return l->padding >= 0 ? l->padding : dil * (side - 1) / 2;
}

/* A rectangular convolution's engine fields; a square one leaves them 0. */
static void set_rect(lm__layer_cfg *c, const lm_layer_desc *l) {
    if (!l->kernel_w || l->kernel_w == l->kernel) return;
    c->kernel_w = l->kernel_w;
    c->pad_w = pad_of(l, l->kernel_w);
}

/* Adds one engine layer for desc layer i; on failure the message names layer i. */
static int add(lm__net *net, const lm__layer_ops *ops, const lm__layer_cfg *cfg, const int *in,
               int n_in, int i, lm_op op, int *tid) {
    int rc = lm__net_add(net, ops, cfg, in, n_in);
    if (rc < 0) return wrap(rc, i, op);
    *tid = rc;
    return LM_OK;
}

/* A sum: inputs of another shape than the output's go through a 1x1 projection. */
static int build_add(lm__net *net, const lm_layer_desc *l, int i, const int *in, int n_in, int *tid) {
    lm__shape s0 = net->tensors[in[0]].shape;
    int c = l->out_channels ? l->out_channels : s0.c, h = s0.h, w = s0.w;
    for (int j = 1; j < n_in; j++) {
        lm__shape s = net->tensors[in[j]].shape;
        if (s.h < h) h = s.h;
        if (s.w < w) w = s.w;
    }
    int ins[LM__NET_MAX_IN];
    for (int j = 0; j < n_in; j++) {
        lm__shape s = net->tensors[in[j]].shape;
        ins[j] = in[j];
        if (s.c == c && s.h == h && s.w == w) continue;
        int st = (s.h + h - 1) / h;
        LM_CHECK((s.h - 1) / st + 1 == h && (s.w - 1) / st + 1 == w, LM_EINVAL,
                 "network layer %d (add): input %d (%d x %d x %d) cannot be projected to %d x %d "
                 "x %d with one stride",
                 i, j, s.c, s.h, s.w, c, h, w);
        lm__layer_cfg pc = {.units = c, .kernel = 1, .stride = st, .dil = 1, .groups = 1, .bias = 1};
        LM_CALL(add(net, &lm__conv_ops, &pc, &in[j], 1, i, l->op, &ins[j]));
    }
    LM_CALL(add(net, &lm__add_ops, &(lm__layer_cfg){0}, ins, n_in, i, l->op, tid));
    return LM_OK;
}

static int build_layer(lm__net *net, const lm_layer_desc *l, int i, const int *in, int n_in,
                       double dropout, int *tid) {
    lm__layer_cfg c = {0};
    int stride = l->stride ? l->stride : 1;
    switch (l->op) {
    case LM_OP_CONV:
        c = (lm__layer_cfg){.units = l->out_channels, .relu = l->relu, .kernel = l->kernel,
                            .stride = stride, .pad = pad_of(l, l->kernel),
                            .dil = l->dilation ? l->dilation : 1,
                            .groups = l->groups ? l->groups : 1, .bias = 1};
        set_rect(&c, l);
        return add(net, &lm__conv_ops, &c, in, 1, i, l->op, tid);
    case LM_OP_SEPCONV: {
        int ch = net->tensors[in[0]].shape.c, dw;
        c = (lm__layer_cfg){.units = ch, .kernel = l->kernel, .stride = stride,
                            .pad = pad_of(l, l->kernel), .dil = l->dilation ? l->dilation : 1,
                            .groups = ch};
        set_rect(&c, l);
        LM_CALL(add(net, &lm__conv_ops, &c, in, 1, i, l->op, &dw));
        c = (lm__layer_cfg){.units = l->out_channels, .relu = l->relu, .kernel = 1, .stride = 1,
                            .dil = 1, .groups = 1, .bias = 1};
        return add(net, &lm__conv_ops, &c, &dw, 1, i, l->op, tid);
    }
    case LM_OP_MAXPOOL:
    case LM_OP_AVGPOOL:
        c = (lm__layer_cfg){.kernel = l->kernel, .stride = l->stride ? l->stride : l->kernel,
                            .pad = l->padding >= 0 ? l->padding : (l->kernel - 1) / 2,
                            .avg = l->op == LM_OP_AVGPOOL, .relu = l->relu};
        return add(net, &lm__pool_ops, &c, in, 1, i, l->op, tid);
    case LM_OP_GLOBAL_AVGPOOL:
        c = (lm__layer_cfg){.avg = 1, .global = 1, .relu = l->relu};
        return add(net, &lm__pool_ops, &c, in, 1, i, l->op, tid);
    case LM_OP_BATCHNORM:
        return add(net, &lm__bnorm_ops, &c, in, 1, i, l->op, tid);
    case LM_OP_RELU:
        return add(net, &lm__relu_ops, &c, in, 1, i, l->op, tid);
    case LM_OP_DROPOUT:
        c.follow = l->rate < 0;
        c.p = c.follow ? dropout : l->rate;
        return add(net, &lm__dropout_ops, &c, in, 1, i, l->op, tid);
    case LM_OP_IDENTITY:
        return add(net, &lm__identity_ops, &c, in, 1, i, l->op, tid);
    case LM_OP_ZERO:
        c.stride = stride;
        return add(net, &lm__zero_ops, &c, in, 1, i, l->op, tid);
    case LM_OP_ADD:
        return build_add(net, l, i, in, n_in, tid);
    case LM_OP_CONCAT:
        return add(net, &lm__concat_ops, &c, in, n_in, i, l->op, tid);
    case LM_OP_DENSE:
        c = (lm__layer_cfg){.units = l->out_channels, .relu = l->relu};
        return add(net, &lm__dense_ops, &c, in, 1, i, l->op, tid);
    }
    LM_FAIL(LM_EINVAL, "network layer %d: unknown op %d", i, (int)l->op);
}

int lm__net_from_desc(const lm_net_desc *d, double dropout, lm__net **out) {
    return lm__net_from_desc_map(d, dropout, out, NULL);
}

int lm__net_from_desc_map(const lm_net_desc *d, double dropout, lm__net **out, int *tensor_of) {
    *out = NULL;
    LM_CHECK(d, LM_EINVAL, "no network description");
    LM_CHECK(d->n_layers >= 0 && d->n_layers <= LM_NET_MAX_LAYERS, LM_EINVAL,
             "a network description has %d layers (0 to %d allowed)", d->n_layers, LM_NET_MAX_LAYERS);
    LM_CHECK(d->n_layers == 0 || d->layers, LM_EINVAL, "a network description of %d layers has none",
             d->n_layers);
    LM_CHECK(d->in_c >= 1 && d->in_h >= 1 && d->in_w >= 1, LM_EINVAL,
             "network input shape must be positive, got %d x %d x %d", d->in_c, d->in_h, d->in_w);
    LM_CHECK(d->n_classes >= 1 && d->n_classes <= LM_DATA_CLASSES_MAX, LM_EINVAL,
             "a network needs 1 to %d classes, got %d", LM_DATA_CLASSES_MAX, d->n_classes);
    for (int i = 0; i < d->n_layers; i++) LM_CALL(check_fields(&d->layers[i], i));

    /* Only layers on a path to the last one are built. */
    int n = d->n_layers;
    char *live = calloc((size_t)(n ? n : 1), 1);
    int *tid = malloc((size_t)(n ? n : 1) * sizeof *tid);
    if (!live || !tid) {
        free(live);
        free(tid);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    if (n) live[n - 1] = 1;
    for (int i = n - 1; i >= 0; i--) {
        if (!live[i]) continue;
        for (int j = 0; j < n_inputs(&d->layers[i]); j++) {
            int in = input_at(&d->layers[i], i, j);
            if (in >= 0) live[in] = 1;
        }
    }
    lm__net *net = NULL;
    int rc = lm__net_create((lm__shape){d->in_c, d->in_h, d->in_w}, &net);
    for (int i = 0; i < n && rc == LM_OK; i++) {
        if (!live[i]) continue;
        const lm_layer_desc *l = &d->layers[i];
        int in[LM_LAYER_MAX_INPUTS];
        for (int j = 0; j < n_inputs(l); j++) {
            int k = input_at(l, i, j);
            in[j] = k < 0 ? 0 : tid[k];
        }
        rc = build_layer(net, l, i, in, n_inputs(l), dropout, &tid[i]);
    }
    if (rc == LM_OK) {
        lm__layer_cfg c = {.units = d->n_classes};
        int last = n ? tid[n - 1] : 0;
        rc = lm__net_add(net, &lm__dense_ops, &c, &last, 1);
        if (rc > 0) rc = LM_OK; /* the classifier's tensor id */
        if (rc < 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", lm_error_message());
            lm_error_clear();
            rc = lm_error_set(__FILE__, __LINE__, __func__, rc, "the classifier: %s", msg);
        }
    }
    if (rc == LM_OK && tensor_of)
        for (int i = 0; i < n; i++) tensor_of[i] = live[i] ? tid[i] : 0;
    free(live);
    free(tid);
    if (rc < 0) {
        lm__net_destroy(&net);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    *out = net;
    return LM_OK;
}

int lm_net_check(const lm_net_desc *d, long *params, double *flops) {
    lm__net *net;
    LM_CALL(lm__net_from_desc(d, 0.0, &net));
    int64_t np = 0;
    double f = 0;
    for (int i = 0; i < net->n_layers; i++) {
        np += net->layers[i].n_w + net->layers[i].n_b;
        f += net->layers[i].flops;
    }
    lm__net_destroy(&net);
    if (params) *params = (long)np;
    if (flops) *flops = f;
    return LM_OK;
}

int lm_net_layers_from_params(const lm_train_params *p, int c, int h, int w, lm_layer_desc *layers,
                              int cap, int *n) {
    (void)c;
    *n = 0;
    LM_CALL(lm_train_params_check(p));
    int k = 0;
#define PUSH(...)                                                                                 \
    do {                                                                                          \
        LM_CHECK(k < cap, LM_EINVAL, "the %s needs more than %d layers",                          \
                 p->model == LM_MODEL_CNN ? "CNN" : "MLP", cap);                                  \
        layers[k++] = (lm_layer_desc){__VA_ARGS__};                                               \
    } while (0)
    if (p->model == LM_MODEL_CNN) {
        int ch = p->filters;
        for (int i = 0; i < p->conv_layers; i++) {
            /* Pooling halves the sides while there is something to halve; the next
             * block has twice the channels, as in VGG. The ReLU goes after the max
             * pooling, where it computes the same on fewer values (pool.c). */
            int pool = h >= 2 && w >= 2;
            PUSH(.op = LM_OP_CONV, .out_channels = ch, .kernel = p->kernel, .padding = -1,
                 .relu = !p->batchnorm && !pool);
            if (p->batchnorm) PUSH(.op = LM_OP_BATCHNORM);
            if (p->batchnorm && !pool) PUSH(.op = LM_OP_RELU);
            if (pool) {
                PUSH(.op = LM_OP_MAXPOOL, .kernel = 2, .stride = 2, .relu = 1);
                h /= 2;
                w /= 2;
                ch = ch <= 32768 ? 2 * ch : ch;
            }
        }
    }
    for (int i = 0; i < p->depth; i++) {
        PUSH(.op = LM_OP_DENSE, .out_channels = p->width, .relu = 1);
        PUSH(.op = LM_OP_DROPOUT, .rate = -1);
    }
#undef PUSH
    *n = k;
    return LM_OK;
}
