/* Unit tests of the image layers and the graph executor: convolution against a naive
 * direct convolution, and the gradients of convolutions (stride, padding, dilation,
 * groups), separable convolutions, max/average/global pooling, batch normalization
 * in training mode, skip sums with projections, concatenation and a small DAG with
 * skips and a concatenation, against finite differences of a double-precision
 * reference.
 *
 * The reference runs the engine's own layer list (so it sees the projections and
 * depthwise/pointwise halves the builder makes) in double, in plain C order, with
 * the engine's parameters; its central differences (h = 1e-6, truncation error
 * ~1e-12) are the expected gradients of the loss sum(out .* R). Tolerance:
 * |analytic - numeric| <= 1e-4 + 1e-3 |numeric|, which float rounding of O(1) values
 * passes with a wide margin and a wrong index, stride or factor does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "nn/graph.h"
#include "nn/kernel.h"
#include "nn/net.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GRAD_ABS 1e-4
#define GRAD_REL 1e-3
#define FD_H 1e-6

static void fill(float *v, int64_t n, lm_rng *r, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) v[i] = (float)(lo + (hi - lo) * lm_rng_uniform(r));
}

/* expr must return LM_OK; else the recorded message is the failure's. */
#define OK(expr)                                                                                  \
    do {                                                                                          \
        int rc__ = (expr);                                                                        \
        if (rc__ != LM_OK) fail_msg("%s: %d: %s", #expr, rc__, lm_error_message());               \
    } while (0)

static float *falloc(int64_t n) {
    float *p = calloc((size_t)(n ? n : 1), sizeof(float));
    assert_non_null(p);
    return p;
}

static double *dalloc(int64_t n) {
    double *p = calloc((size_t)(n ? n : 1), sizeof(double));
    assert_non_null(p);
    return p;
}

/* ---- the double-precision reference of a network ---- */

typedef struct ref {
    const lm__net *net;
    int n;
    double *p;  /* the parameters */
    double *s;  /* the running statistics */
    double **v; /* each tensor, n x size, plain */
} ref;

static ref ref_new(const lm__net *net, int n) {
    ref r = {net, n, dalloc(net->n_params), dalloc(net->n_stats), NULL};
    for (int64_t i = 0; i < net->n_params; i++) r.p[i] = net->params[i];
    for (int64_t i = 0; i < net->n_stats; i++) r.s[i] = net->stats[i];
    r.v = calloc((size_t)net->n_layers + 1, sizeof *r.v);
    assert_non_null(r.v);
    for (int t = 0; t <= net->n_layers; t++) r.v[t] = dalloc((int64_t)n * net->tensors[t].size);
    return r;
}

static void ref_free(ref *r) {
    for (int t = 0; t <= r->net->n_layers; t++) free(r->v[t]);
    free(r->v);
    free(r->p);
    free(r->s);
}

static void r_conv(const lm__net *net, const lm__layer *l, const double *w, const double *b,
                   const double *x, double *y, int n) {
    lm__shape is = net->tensors[l->in[0]].shape, os = net->tensors[l->id].shape;
    const lm__layer_cfg *c = &l->cfg;
    int icg = is.c / c->groups, ocg = os.c / c->groups, K = c->kernel;
    for (int i = 0; i < n; i++)
        for (int oc = 0; oc < os.c; oc++)
            for (int oy = 0; oy < os.h; oy++)
                for (int ox = 0; ox < os.w; ox++) {
                    int g = oc / ocg;
                    double s = c->bias ? b[oc] : 0;
                    for (int ic = 0; ic < icg; ic++)
                        for (int ky = 0; ky < K; ky++)
                            for (int kx = 0; kx < K; kx++) {
                                int iy = oy * c->stride - c->pad + ky * c->dil;
                                int ix = ox * c->stride - c->pad + kx * c->dil;
                                if (iy < 0 || iy >= is.h || ix < 0 || ix >= is.w) continue;
                                s += x[(((int64_t)i * is.c + g * icg + ic) * is.h + iy) * is.w + ix] *
                                     w[(((int64_t)oc * icg + ic) * K + ky) * K + kx];
                            }
                    if (c->relu && s < 0) s = 0;
                    y[(((int64_t)i * os.c + oc) * os.h + oy) * os.w + ox] = s;
                }
}

static void r_pool(const lm__net *net, const lm__layer *l, const double *x, double *y, int n) {
    lm__shape is = net->tensors[l->in[0]].shape, os = net->tensors[l->id].shape;
    const lm__layer_cfg *c = &l->cfg;
    int kh = c->global ? is.h : c->kernel, kw = c->global ? is.w : c->kernel;
    int st = c->global ? 1 : c->stride, pad = c->global ? 0 : c->pad;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < is.c; ch++)
            for (int oy = 0; oy < os.h; oy++)
                for (int ox = 0; ox < os.w; ox++) {
                    double m = -INFINITY, s = 0;
                    int cnt = 0;
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++) {
                            int iy = oy * st - pad + ky, ix = ox * st - pad + kx;
                            if (iy < 0 || iy >= is.h || ix < 0 || ix >= is.w) continue;
                            double v = x[(((int64_t)i * is.c + ch) * is.h + iy) * is.w + ix];
                            m = v > m ? v : m;
                            s += v;
                            cnt++;
                        }
                    double v = c->avg || c->global ? s / cnt : m;
                    y[(((int64_t)i * os.c + ch) * os.h + oy) * os.w + ox] = c->relu && v < 0 ? 0 : v;
                }
}

static void r_bnorm(const lm__net *net, const lm__layer *l, const double *sb, const double *stats,
                    const double *x, double *y, int n, int train) {
    lm__shape s = net->tensors[l->in[0]].shape;
    int64_t hw = (int64_t)s.h * s.w;
    for (int ch = 0; ch < s.c; ch++) {
        double mean = 0, var = 0;
        if (train) {
            for (int i = 0; i < n; i++)
                for (int64_t k = 0; k < hw; k++) mean += x[((int64_t)i * s.c + ch) * hw + k];
            mean /= (double)n * hw;
            for (int i = 0; i < n; i++)
                for (int64_t k = 0; k < hw; k++) {
                    double d = x[((int64_t)i * s.c + ch) * hw + k] - mean;
                    var += d * d;
                }
            var /= (double)n * hw;
        } else {
            mean = stats[ch];
            var = stats[s.c + ch];
        }
        double inv = 1.0 / sqrt(var + 1e-5);
        for (int i = 0; i < n; i++)
            for (int64_t k = 0; k < hw; k++) {
                int64_t at = ((int64_t)i * s.c + ch) * hw + k;
                y[at] = sb[ch] * (x[at] - mean) * inv + sb[s.c + ch];
            }
    }
}

static void ref_forward(ref *r, const double *x, int train) {
    const lm__net *net = r->net;
    int n = r->n;
    memcpy(r->v[0], x, sizeof(double) * (size_t)n * (size_t)net->tensors[0].size);
    for (int li = 0; li < net->n_layers; li++) {
        const lm__layer *l = &net->layers[li];
        const double *in = r->v[l->in[0]], *w = r->p + l->off, *b = w + l->n_w;
        double *y = r->v[l->id];
        int64_t isz = net->tensors[l->in[0]].size, osz = net->tensors[l->id].size;
        if (l->ops == &lm__conv_ops) {
            r_conv(net, l, w, b, in, y, n);
        } else if (l->ops == &lm__pool_ops) {
            r_pool(net, l, in, y, n);
        } else if (l->ops == &lm__bnorm_ops) {
            r_bnorm(net, l, b, r->s + l->soff, in, y, n, train);
        } else if (l->ops == &lm__dense_ops) {
            for (int i = 0; i < n; i++)
                for (int u = 0; u < l->cfg.units; u++) {
                    double s = b[u];
                    for (int64_t k = 0; k < isz; k++) s += in[i * isz + k] * w[k * l->cfg.units + u];
                    y[(int64_t)i * osz + u] = l->cfg.relu && s < 0 ? 0 : s;
                }
        } else if (l->ops == &lm__relu_ops) {
            for (int64_t k = 0; k < n * osz; k++) y[k] = in[k] > 0 ? in[k] : 0;
        } else if (l->ops == &lm__dropout_ops) {
            /* Only on plain tensors here, so the mask is in C order. */
            for (int64_t k = 0; k < n * osz; k++) y[k] = train && l->cfg.p > 0 ? in[k] * l->mask[k] : in[k];
        } else if (l->ops == &lm__identity_ops) {
            memcpy(y, in, sizeof(double) * (size_t)(n * osz));
        } else if (l->ops == &lm__zero_ops) {
            memset(y, 0, sizeof(double) * (size_t)(n * osz));
        } else if (l->ops == &lm__add_ops) {
            for (int64_t k = 0; k < n * osz; k++) {
                double s = 0;
                for (int j = 0; j < l->n_in; j++) s += r->v[l->in[j]][k];
                y[k] = s;
            }
        } else if (l->ops == &lm__concat_ops) {
            lm__shape os = net->tensors[l->id].shape;
            int64_t hw = (int64_t)os.h * os.w;
            for (int i = 0; i < n; i++) {
                int64_t off = 0;
                for (int j = 0; j < l->n_in; j++) {
                    int64_t sz = net->tensors[l->in[j]].size;
                    memcpy(y + (int64_t)i * os.c * hw + off, r->v[l->in[j]] + i * sz,
                           sizeof(double) * (size_t)sz);
                    off += sz;
                }
            }
        } else {
            fail_msg("reference: unknown layer kind %s", l->ops->kind);
        }
    }
}

static double ref_loss(ref *r, const double *x, const float *R) {
    ref_forward(r, x, 1);
    const lm__net *net = r->net;
    int64_t m = (int64_t)r->n * net->tensors[net->n_layers].size;
    double L = 0;
    for (int64_t k = 0; k < m; k++) L += r->v[net->n_layers][k] * R[k];
    return L;
}

static void check_grad(double analytic, double numeric, const char *what, int64_t i) {
    double err = fabs(analytic - numeric);
    if (err > GRAD_ABS + GRAD_REL * fabs(numeric))
        fail_msg("%s[%lld]: analytic %.8g, numeric %.8g", what, (long long)i, analytic, numeric);
}

/* Forward and backward of the engine on random x and R, checked against the
 * reference: the output to 1e-4 (relative to its scale), every parameter's and input
 * element's gradient by central differences. */
static void gradcheck(lm__net *net, int n, uint64_t seed) {
    lm_rng r;
    lm_rng_init(&r, seed, 1, 2);
    int64_t nx = (int64_t)n * net->tensors[0].size, no = (int64_t)n * lm__net_output(net)->size;
    float *x = falloc(nx), *R = falloc(no), *out = falloc(no), *dx = falloc(nx);
    fill(x, nx, &r, -1, 1);
    fill(R, no, &r, -1, 1);
    OK(lm__net_forward(net, x, n, 1));
    OK(lm__net_read(net, net->n_layers, 0, n, out));
    OK(lm__net_write(net, net->n_layers, 1, n, R));
    OK(lm__net_backward(net, n));
    if (net->input_grad) OK(lm__net_read(net, 0, 1, n, dx));

    ref rf = ref_new(net, n);
    double *xd = dalloc(nx);
    for (int64_t i = 0; i < nx; i++) xd[i] = x[i];
    ref_forward(&rf, xd, 1);
    double scale = 0;
    for (int64_t k = 0; k < no; k++) scale = fmax(scale, fabs(rf.v[net->n_layers][k]));
    for (int64_t k = 0; k < no; k++)
        if (fabs(out[k] - rf.v[net->n_layers][k]) > 1e-4 * (1 + scale))
            fail_msg("forward output[%lld] = %.8g, reference %.8g", (long long)k, out[k],
                     rf.v[net->n_layers][k]);
    for (int64_t j = 0; j < net->n_params; j++) {
        double keep = rf.p[j];
        rf.p[j] = keep + FD_H;
        double lp = ref_loss(&rf, xd, R);
        rf.p[j] = keep - FD_H;
        double lm = ref_loss(&rf, xd, R);
        rf.p[j] = keep;
        check_grad(net->grads[j], (lp - lm) / (2 * FD_H), "dparam", j);
    }
    for (int64_t j = 0; j < nx && net->input_grad; j++) {
        double keep = xd[j];
        xd[j] = keep + FD_H;
        double lp = ref_loss(&rf, xd, R);
        xd[j] = keep - FD_H;
        double lm = ref_loss(&rf, xd, R);
        xd[j] = keep;
        check_grad(dx[j], (lp - lm) / (2 * FD_H), "dx", j);
    }
    ref_free(&rf);
    free(xd);
    free(x);
    free(R);
    free(out);
    free(dx);
}

/* Builds d (classifier included), finished for batch n, with an input gradient when
 * input_grad. */
static lm__net *build_with(const lm_layer_desc *layers, int nl, int c, int h, int w, int classes,
                           int n, int input_grad) {
    lm_net_desc d = {layers, nl, c, h, w, classes};
    lm__net *net;
    int rc = lm__net_from_desc(&d, 0.0, &net);
    if (rc < 0) fail_msg("building: %s", lm_error_message());
    rc = lm__net_finish(net, n, input_grad, 7, 3);
    if (rc < 0) fail_msg("finishing: %s", lm_error_message());
    return net;
}

static lm__net *build(const lm_layer_desc *layers, int nl, int c, int h, int w, int classes, int n) {
    return build_with(layers, nl, c, h, w, classes, n, 1);
}

/* ---- convolution against a naive direct convolution ---- */

static void conv_case(int n, int ic, int oc, int h, int w, int k, int st, int pad, int dil, int g,
                      lm_rng *r) {
    lm__net *net;
    assert_int_equal(lm__net_create((lm__shape){ic, h, w}, &net), LM_OK);
    lm__layer_cfg c = {.units = oc, .kernel = k, .stride = st, .pad = pad, .dil = dil, .groups = g,
                       .bias = 1};
    int in = 0;
    assert_int_equal(lm__net_add(net, &lm__conv_ops, &c, &in, 1), 1);
    assert_int_equal(lm__net_finish(net, n, 0, 5, 5), LM_OK);
    int64_t nx = (int64_t)n * ic * h * w, no = (int64_t)n * lm__net_output(net)->size;
    float *x = falloc(nx), *y = falloc(no);
    fill(x, nx, r, -1, 1);
    assert_int_equal(lm__net_forward(net, x, n, 0), LM_OK);
    assert_int_equal(lm__net_read(net, 1, 0, n, y), LM_OK);
    /* Naive direct convolution in double; S the sum of |x w| + |b| per output, the
     * scale of float rounding. */
    lm__shape os = lm__net_output(net)->shape;
    const lm__layer *l = &net->layers[0];
    int icg = ic / g, ocg = oc / g;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < oc; o++)
            for (int oy = 0; oy < os.h; oy++)
                for (int ox = 0; ox < os.w; ox++) {
                    double s = l->b[o], S = fabs(l->b[o]);
                    for (int q = 0; q < icg; q++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * st - pad + ky * dil, ix = ox * st - pad + kx * dil;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                double a = x[(((int64_t)i * ic + (o / ocg) * icg + q) * h + iy) * w + ix];
                                double b = l->w[(((int64_t)o * icg + q) * k + ky) * k + kx];
                                s += a * b;
                                S += fabs(a * b);
                            }
                    float got = y[(((int64_t)i * oc + o) * os.h + oy) * os.w + ox];
                    if (fabs(got - s) > 1e-5 * (S + 1))
                        fail_msg("conv n=%d %d->%d %dx%d k=%d s=%d p=%d d=%d g=%d: out[%d,%d,%d,%d] = "
                                 "%.8g, naive %.8g",
                                 n, ic, oc, h, w, k, st, pad, dil, g, i, o, oy, ox, got, s);
                }
    free(x);
    free(y);
    lm__net_destroy(&net);
}

static void test_conv_vs_naive(void **state) {
    (void)state;
    lm_rng r;
    lm_rng_init(&r, 11, 0, 0);
    /* Fixed cases for the paths that matter: first layer (1 and 3 channels, plain
     * input), blocked channels (16, 32, 64), strides, padding, dilation, groups and
     * depthwise, 1x1, 5x5 and 7x7. */
    static const int cases[][10] = {
        {2, 1, 32, 28, 28, 3, 1, 1, 1, 1}, {3, 32, 64, 14, 14, 3, 1, 1, 1, 1},
        {2, 3, 16, 9, 7, 3, 2, 1, 1, 1},   {2, 16, 16, 8, 8, 3, 1, 1, 1, 16},
        {1, 16, 24, 8, 8, 1, 1, 0, 1, 1},  {2, 24, 24, 9, 9, 3, 1, 2, 2, 1},
        {2, 10, 20, 11, 11, 5, 2, 2, 1, 1}, {1, 8, 12, 12, 10, 7, 1, 3, 1, 4},
        {4, 5, 7, 6, 6, 3, 3, 0, 1, 1},    {1, 2, 4, 5, 5, 3, 1, 0, 2, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const int *c = cases[i];
        conv_case(c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], &r);
    }
    /* And random shapes. */
    for (int t = 0; t < 12; t++) {
        int k = 1 + 2 * (int)lm_rng_below(&r, 3), dil = 1 + (int)lm_rng_below(&r, 2);
        int g = 1 + (int)lm_rng_below(&r, 3), st = 1 + (int)lm_rng_below(&r, 2);
        int ic = g * (1 + (int)lm_rng_below(&r, 12)), oc = g * (1 + (int)lm_rng_below(&r, 12));
        int span = dil * (k - 1) + 1, pad = (int)lm_rng_below(&r, (uint64_t)k);
        int h = span + (int)lm_rng_below(&r, 8), w = span + (int)lm_rng_below(&r, 8);
        conv_case(1 + (int)lm_rng_below(&r, 4), ic, oc, h, w, k, st, pad, dil, g, &r);
    }
    assert_int_equal(lm__dnn_ref_prims(), 0);
}

/* ---- gradients ---- */

static void test_grad_conv(void **state) {
    (void)state;
    /* Stride 2 with padding; dilation 2; groups; a conv on a conv's blocked output. */
    lm_layer_desc a[] = {{.op = LM_OP_CONV, .out_channels = 4, .kernel = 3, .stride = 2, .padding = 1}};
    lm__net *net = build(a, 1, 2, 7, 6, 3, 3);
    gradcheck(net, 3, 1);
    lm__net_destroy(&net);
    lm_layer_desc b[] = {{.op = LM_OP_CONV, .out_channels = 3, .kernel = 3, .dilation = 2,
                          .padding = -1, .relu = 1}};
    net = build(b, 1, 2, 6, 6, 2, 2);
    gradcheck(net, 2, 2);
    lm__net_destroy(&net);
    lm_layer_desc c[] = {{.op = LM_OP_CONV, .out_channels = 16, .kernel = 3, .padding = 1},
                         {.op = LM_OP_CONV, .out_channels = 8, .kernel = 3, .groups = 4, .stride = 2}};
    net = build(c, 2, 1, 7, 7, 2, 2);
    assert_false(net->tensors[1].plain); /* the first conv's output is blocked */
    gradcheck(net, 2, 3);
    lm__net_destroy(&net);
    assert_int_equal(lm__dnn_ref_prims(), 0);
}

static void test_grad_sepconv(void **state) {
    (void)state;
    lm_layer_desc a[] = {{.op = LM_OP_CONV, .out_channels = 3, .kernel = 1},
                         {.op = LM_OP_SEPCONV, .out_channels = 5, .kernel = 3, .padding = -1,
                          .stride = 2, .relu = 1}};
    lm__net *net = build(a, 2, 2, 6, 6, 2, 2);
    /* conv, depthwise, pointwise, classifier */
    assert_int_equal(net->n_layers, 4);
    assert_int_equal(net->layers[1].cfg.groups, 3);
    assert_int_equal(net->layers[2].cfg.kernel, 1);
    gradcheck(net, 2, 4);
    lm__net_destroy(&net);
}

static void test_grad_pool(void **state) {
    (void)state;
    lm_layer_desc mx[] = {{.op = LM_OP_CONV, .out_channels = 3, .kernel = 3, .padding = 1},
                          {.op = LM_OP_MAXPOOL, .kernel = 2}};
    lm__net *net = build(mx, 2, 1, 6, 6, 2, 2);
    gradcheck(net, 2, 5);
    lm__net_destroy(&net);
    /* With the ReLU after it, on a blocked input (16 channels). */
    lm_layer_desc mr[] = {{.op = LM_OP_CONV, .out_channels = 16, .kernel = 3, .padding = 1},
                          {.op = LM_OP_MAXPOOL, .kernel = 2, .relu = 1}};
    net = build(mr, 2, 1, 6, 6, 2, 2);
    gradcheck(net, 2, 16);
    lm__net_destroy(&net);
    lm_layer_desc av[] = {{.op = LM_OP_CONV, .out_channels = 3, .kernel = 1},
                          {.op = LM_OP_AVGPOOL, .kernel = 3, .stride = 2, .padding = 1}};
    net = build(av, 2, 2, 5, 5, 2, 2);
    gradcheck(net, 2, 6);
    lm__net_destroy(&net);
    lm_layer_desc gp[] = {{.op = LM_OP_CONV, .out_channels = 4, .kernel = 3},
                          {.op = LM_OP_GLOBAL_AVGPOOL, .relu = 1}};
    net = build(gp, 2, 1, 5, 4, 3, 3);
    gradcheck(net, 3, 7);
    lm__net_destroy(&net);
    /* Max pooling straight on the network input (plain layout), padded, 3x3 stride 2. */
    lm_layer_desc pi[] = {{.op = LM_OP_MAXPOOL, .kernel = 3, .stride = 2, .padding = 1}};
    net = build(pi, 1, 2, 6, 5, 2, 2);
    gradcheck(net, 2, 8);
    lm__net_destroy(&net);
    assert_int_equal(lm__dnn_ref_prims(), 0);
}

static void test_grad_bnorm(void **state) {
    (void)state;
    lm_layer_desc a[] = {{.op = LM_OP_CONV, .out_channels = 3, .kernel = 3, .padding = 1},
                         {.op = LM_OP_BATCHNORM},
                         {.op = LM_OP_RELU}};
    lm__net *net = build(a, 3, 1, 4, 4, 2, 3);
    /* Scale and shift away from 1 and 0, so that their gradients matter. */
    lm__layer *bn = &net->layers[1];
    for (int c = 0; c < 3; c++) {
        bn->b[c] = 0.5f + 0.3f * (float)c;
        bn->b[3 + c] = 0.2f - 0.1f * (float)c;
    }
    gradcheck(net, 3, 9);
    lm__net_destroy(&net);
}

/* Running statistics: momentum 0.1 toward the batch mean and unbiased variance;
 * evaluation mode normalizes with them. */
static void test_bnorm_running(void **state) {
    (void)state;
    lm__net *net;
    assert_int_equal(lm__net_create((lm__shape){2, 3, 3}, &net), LM_OK);
    int in = 0;
    lm__layer_cfg c = {0};
    assert_int_equal(lm__net_add(net, &lm__bnorm_ops, &c, &in, 1), 1);
    assert_int_equal(lm__net_finish(net, 4, 0, 1, 1), LM_OK);
    enum { N = 4, F = 18 };
    float x[N * F], y[N * F];
    lm_rng r;
    lm_rng_init(&r, 1, 2, 3);
    fill(x, N * F, &r, 0, 4);
    assert_int_equal(lm__net_forward(net, x, N, 1), LM_OK);
    for (int ch = 0; ch < 2; ch++) {
        double m = 0, v = 0;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < 9; k++) m += x[i * F + ch * 9 + k];
        m /= 36;
        for (int i = 0; i < N; i++)
            for (int k = 0; k < 9; k++) v += pow(x[i * F + ch * 9 + k] - m, 2);
        v /= 35;
        assert_float_equal(net->stats[ch], 0.1 * m, 1e-5);
        assert_float_equal(net->stats[2 + ch], 0.9 + 0.1 * v, 1e-5);
    }
    assert_int_equal(lm__net_forward(net, x, N, 0), LM_OK);
    assert_int_equal(lm__net_read(net, 1, 0, N, y), LM_OK);
    for (int i = 0; i < N; i++)
        for (int ch = 0; ch < 2; ch++)
            for (int k = 0; k < 9; k++) {
                double e = (x[i * F + ch * 9 + k] - net->stats[ch]) / sqrt(net->stats[2 + ch] + 1e-5);
                assert_float_equal(y[i * F + ch * 9 + k], e, 1e-5);
            }
    lm__net_destroy(&net);
}

static void test_grad_add_projection(void **state) {
    (void)state;
    /* Layer 2 adds a 4 x 3 x 3 tensor to a 3 x 5 x 5 one: the second gets a 1x1
     * projection with stride 2; out_channels 0, so the first input's channels. */
    lm_layer_desc a[] = {{.op = LM_OP_CONV, .out_channels = 3, .kernel = 3, .padding = 1},
                         {.op = LM_OP_CONV, .out_channels = 4, .kernel = 3, .stride = 2, .padding = 1},
                         {.op = LM_OP_ADD, .inputs = {1, 0}, .n_inputs = 2},
                         {.op = LM_OP_RELU}};
    lm__net *net = build(a, 4, 2, 5, 5, 2, 2);
    /* conv, conv, projection, add, relu, classifier */
    assert_int_equal(net->n_layers, 6);
    assert_true(net->layers[2].ops == &lm__conv_ops && net->layers[2].cfg.stride == 2 &&
                net->layers[2].cfg.kernel == 1);
    gradcheck(net, 2, 10);
    lm__net_destroy(&net);
    /* A residual block proper: the identity path and a path of two convolutions. */
    lm_layer_desc b[] = {{.op = LM_OP_CONV, .out_channels = 16, .kernel = 3, .padding = 1},
                         {.op = LM_OP_CONV, .out_channels = 16, .kernel = 3, .padding = 1, .relu = 1},
                         {.op = LM_OP_CONV, .out_channels = 16, .kernel = 3, .padding = 1},
                         {.op = LM_OP_ADD, .inputs = {2, 0}, .n_inputs = 2}};
    net = build(b, 4, 1, 4, 4, 2, 2);
    gradcheck(net, 2, 11);
    lm__net_destroy(&net);
}

static void test_grad_concat(void **state) {
    (void)state;
    /* 16 + 16 channels: the blocked layout is kept (no input gradient, so the first
     * convolutions read the plain input and write nChw16c). */
    lm_layer_desc a[] = {{.op = LM_OP_CONV, .out_channels = 16, .kernel = 1},
                         {.op = LM_OP_CONV, .out_channels = 16, .kernel = 3, .padding = 1, .inputs = {-1},
                          .n_inputs = 1},
                         {.op = LM_OP_CONCAT, .inputs = {0, 1}, .n_inputs = 2},
                         {.op = LM_OP_MAXPOOL, .kernel = 2}};
    lm__net *net = build_with(a, 4, 1, 4, 4, 2, 2, 0);
    assert_int_equal(lm__md_cblock(&net->tensors[3].md), 16);
    gradcheck(net, 2, 12);
    lm__net_destroy(&net);
    /* 3 + 5 + the input's 2 channels: plain output. */
    lm_layer_desc b[] = {{.op = LM_OP_CONV, .out_channels = 3, .kernel = 1},
                         {.op = LM_OP_CONV, .out_channels = 5, .kernel = 3, .padding = 1, .inputs = {-1},
                          .n_inputs = 1},
                         {.op = LM_OP_CONCAT, .inputs = {0, 1, -1}, .n_inputs = 3},
                         {.op = LM_OP_CONV, .out_channels = 2, .kernel = 1}};
    net = build(b, 4, 2, 3, 3, 2, 2);
    assert_true(net->tensors[3].plain);
    assert_int_equal(net->tensors[3].shape.c, 10);
    gradcheck(net, 2, 13);
    lm__net_destroy(&net);
    assert_int_equal(lm__dnn_ref_prims(), 0);
}

/* A DAG: a stem, two branches (one with a skip sum, one pooled and upsampled by
 * nothing: same size), a concat of three tensors, the stem read by four layers, an
 * identity, a zero op and a dropout after a dense layer. */
static void test_grad_dag(void **state) {
    (void)state;
    lm_layer_desc a[] = {
        /* 0 */ {.op = LM_OP_CONV, .out_channels = 4, .kernel = 3, .padding = 1, .relu = 1},
        /* 1 */ {.op = LM_OP_SEPCONV, .out_channels = 4, .kernel = 3, .padding = 1},
        /* 2 */ {.op = LM_OP_ADD, .inputs = {0, 1}, .n_inputs = 2},
        /* 3 */ {.op = LM_OP_AVGPOOL, .kernel = 3, .stride = 1, .padding = 1, .inputs = {0}, .n_inputs = 1},
        /* 4 */ {.op = LM_OP_IDENTITY, .inputs = {0}, .n_inputs = 1},
        /* 5 */ {.op = LM_OP_ZERO, .inputs = {0}, .n_inputs = 1},
        /* 6 */ {.op = LM_OP_ADD, .inputs = {4, 5, 3}, .n_inputs = 3},
        /* 7 */ {.op = LM_OP_CONCAT, .inputs = {2, 6, 0}, .n_inputs = 3},
        /* 8 */ {.op = LM_OP_CONV, .out_channels = 6, .kernel = 1, .stride = 2},
        /* 9 */ {.op = LM_OP_BATCHNORM},
        /* 10 */ {.op = LM_OP_DENSE, .out_channels = 5, .relu = 1},
        /* 11 */ {.op = LM_OP_DROPOUT, .rate = 0.3},
    };
    lm_net_desc d = {a, 12, 2, 5, 5, 3};
    long params;
    double flops;
    assert_int_equal(lm_net_check(&d, &params, &flops), LM_OK);
    lm__net *net = build(a, 12, 2, 5, 5, 3, 2);
    assert_int_equal(net->n_params, params);
    /* Layer 0 is read by the depthwise convolution, both sums' paths (add, pool,
     * identity, zero) and the concatenation. */
    assert_int_equal(net->tensors[1].consumers, 6);
    /* The first training pass draws the dropout mask; the checks reuse it. */
    lm_rng r;
    lm_rng_init(&r, 3, 3, 3);
    float x[2 * 50];
    fill(x, 100, &r, -1, 1);
    assert_int_equal(lm__net_forward(net, x, 2, 1), LM_OK);
    net->freeze_masks = 1;
    gradcheck(net, 2, 14);
    lm__net_destroy(&net);
    /* The dead layer when listed: built without it. */
    lm_layer_desc b[] = {{.op = LM_OP_CONV, .out_channels = 2, .kernel = 1},
                         {.op = LM_OP_CONV, .out_channels = 3, .kernel = 1, .inputs = {-1}, .n_inputs = 1},
                         {.op = LM_OP_RELU, .inputs = {0}, .n_inputs = 1}};
    net = build(b, 3, 1, 3, 3, 2, 2);
    assert_int_equal(net->n_layers, 3); /* conv 0, relu, classifier */
    lm__net_destroy(&net);
    assert_int_equal(lm__dnn_ref_prims(), 0);
}

/* Liveness: buffers of tensors whose lifetimes do not overlap share memory. */
static void test_buffer_reuse(void **state) {
    (void)state;
    lm_layer_desc a[8];
    for (int i = 0; i < 8; i++)
        a[i] = (lm_layer_desc){.op = i % 2 ? LM_OP_DROPOUT : LM_OP_IDENTITY, .rate = 0.0};
    lm__net *net = build(a, 8, 4, 8, 8, 2, 16);
    int64_t all = 0;
    for (int t = 1; t <= net->n_layers; t++) all += 2 * 16 * net->tensors[t].stride;
    /* Identity and dropout need neither input nor output in backward: data and
     * gradients of a long chain fold onto a few buffers. */
    print_message("arena %lld floats, %lld without reuse\n", (long long)net->arena_floats,
                  (long long)all);
    assert_true(net->arena_floats < all / 3);
    gradcheck(net, 3, 15);
    lm__net_destroy(&net);
}

/* ---- counts and validation ---- */

static void test_counts(void **state) {
    (void)state;
    lm_train_params p;
    lm_train_params_default(&p);
    p.model = LM_MODEL_CNN;
    p.depth = 1;
    p.width = 128;
    lm_layer_desc L[LM_PARAMS_MAX_LAYERS];
    int n;
    assert_int_equal(lm_net_layers_from_params(&p, 1, 28, 28, L, LM_PARAMS_MAX_LAYERS, &n), LM_OK);
    /* conv pool conv pool dense dropout */
    assert_int_equal(n, 6);
    lm_net_desc d = {L, n, 1, 28, 28, 10};
    long params;
    double flops;
    assert_int_equal(lm_net_check(&d, &params, &flops), LM_OK);
    /* The reference CNN of BENCHMARKS.md: 8.47 MFLOP forward (25.4 training). */
    assert_int_equal(params, (32 * 9 + 32) + (64 * 32 * 9 + 64) + (3136 * 128 + 128) + (128 * 10 + 10));
    assert_float_equal(flops, 2.0 * (28 * 28 * 32 * 9 + 14 * 14 * 64 * 288 + 3136 * 128 + 1280), 1);
    /* The ReLU after the pooling: conv, pool with ReLU. */
    assert_true(L[0].op == LM_OP_CONV && !L[0].relu && L[1].op == LM_OP_MAXPOOL && L[1].relu);
    /* With batch normalization: conv bn pool(+ReLU) x 2. */
    p.batchnorm = 1;
    assert_int_equal(lm_net_layers_from_params(&p, 1, 28, 28, L, LM_PARAMS_MAX_LAYERS, &n), LM_OK);
    assert_int_equal(n, 8);
    assert_int_equal(lm_net_check(&d, &params, NULL), LM_OK);
    /* Pooling stops at 1 x 1: 8 blocks on 8 x 8 pool three times. */
    p.batchnorm = 0;
    p.conv_layers = 8;
    assert_int_equal(lm_net_layers_from_params(&p, 3, 8, 8, L, LM_PARAMS_MAX_LAYERS, &n), LM_OK);
    int pools = 0;
    for (int i = 0; i < n; i++) pools += L[i].op == LM_OP_MAXPOOL;
    assert_int_equal(pools, 3);
    assert_int_equal(L[n - 3].out_channels, 32 * 8);
    assert_true(L[n - 3].relu); /* an unpooled block keeps its ReLU on the convolution */
    /* The MLP. */
    p.model = LM_MODEL_MLP;
    p.depth = 2;
    p.width = 256;
    assert_int_equal(lm_net_layers_from_params(&p, 1, 28, 28, L, LM_PARAMS_MAX_LAYERS, &n), LM_OK);
    d = (lm_net_desc){L, n, 1, 28, 28, 10};
    assert_int_equal(lm_net_check(&d, &params, &flops), LM_OK);
    assert_int_equal(params, 784 * 256 + 256 + 256 * 256 + 256 + 2570);
    assert_float_equal(3 * flops, 1.61e6, 0.01e6);
    assert_int_equal(lm_net_layers_from_params(&p, 1, 28, 28, L, 3, &n), LM_EINVAL);
    lm_error_clear();
}

static void expect_invalid(const lm_layer_desc *L, int n, const char *needle) {
    lm_net_desc d = {L, n, 3, 8, 8, 10};
    lm_error_clear();
    int rc = lm_net_check(&d, NULL, NULL);
    if (rc != LM_EINVAL) fail_msg("expected LM_EINVAL for '%s', got %d", needle, rc);
    if (!strstr(lm_error_message(), needle))
        fail_msg("message '%s' lacks '%s'", lm_error_message(), needle);
    lm_error_clear();
}

static void test_graph_errors(void **state) {
    (void)state;
    /* An input that is not an earlier layer (a cycle or a forward reference). */
    lm_layer_desc cyc[] = {{.op = LM_OP_RELU, .inputs = {1}, .n_inputs = 1}, {.op = LM_OP_RELU}};
    expect_invalid(cyc, 2, "network layer 0 (relu): input 0 is 1");
    lm_layer_desc self[] = {{.op = LM_OP_RELU}, {.op = LM_OP_ADD, .inputs = {0, 1}, .n_inputs = 2}};
    expect_invalid(self, 2, "acyclic");
    lm_layer_desc far[] = {{.op = LM_OP_RELU, .inputs = {-2}, .n_inputs = 1}};
    expect_invalid(far, 1, "input 0 is -2");
    /* Unknown op, input counts. */
    lm_layer_desc op[] = {{.op = (lm_op)99}};
    expect_invalid(op, 1, "unknown op 99");
    lm_layer_desc two[] = {{.op = LM_OP_RELU, .inputs = {-1, -1}, .n_inputs = 2}};
    expect_invalid(two, 1, "takes 1 input, got 2");
    lm_layer_desc many[] = {{.op = LM_OP_ADD, .n_inputs = 17}};
    expect_invalid(many, 1, "n_inputs 17");
    /* Field ranges. */
    lm_layer_desc k0[] = {{.op = LM_OP_CONV, .out_channels = 4}};
    expect_invalid(k0, 1, "kernel must be 1 to 64, got 0");
    lm_layer_desc oc[] = {{.op = LM_OP_CONV, .kernel = 3}};
    expect_invalid(oc, 1, "out_channels must be 1 to 65536, got 0");
    lm_layer_desc dr[] = {{.op = LM_OP_DROPOUT, .rate = 1.0}};
    expect_invalid(dr, 1, "rate must be below 1");
    /* Shapes. */
    lm_layer_desc big[] = {{.op = LM_OP_CONV, .out_channels = 4, .kernel = 11}};
    expect_invalid(big, 1, "network layer 0 (conv): a 11x11 convolution");
    lm_layer_desc grp[] = {{.op = LM_OP_CONV, .out_channels = 4, .kernel = 3, .groups = 2}};
    expect_invalid(grp, 1, "groups (2) must divide the input channels (3)");
    lm_layer_desc pool[] = {{.op = LM_OP_MAXPOOL, .kernel = 16}};
    expect_invalid(pool, 1, "pooling window does not fit");
    lm_layer_desc pad[] = {{.op = LM_OP_MAXPOOL, .kernel = 2, .padding = 2}};
    expect_invalid(pad, 1, "at most half the kernel");
    lm_layer_desc cat[] = {{.op = LM_OP_MAXPOOL, .kernel = 2},
                           {.op = LM_OP_CONCAT, .inputs = {0, -1}, .n_inputs = 2}};
    expect_invalid(cat, 2, "network layer 1 (concat): concat: input 1 is 8 x 8, input 0 is 4 x 4");
    /* A 1 x 8 x 3 input and a 1 x 6 x 1 one: no single stride maps 8 x 3 onto 6 x 1. */
    lm_layer_desc prj[] = {{.op = LM_OP_CONV, .out_channels = 1, .kernel = 3},
                           {.op = LM_OP_ADD, .inputs = {-1, 0}, .n_inputs = 2}};
    lm_net_desc pd = {prj, 2, 1, 8, 3, 10};
    lm_error_clear();
    assert_int_equal(lm_net_check(&pd, NULL, NULL), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "network layer 1 (add): input 0 (1 x 8 x 3) cannot be projected"));
    lm_error_clear();
    /* The description itself. */
    lm_net_desc bad = {NULL, 1, 3, 8, 8, 10};
    assert_int_equal(lm_net_check(&bad, NULL, NULL), LM_EINVAL);
    lm_error_clear();
    bad = (lm_net_desc){NULL, 0, 3, 8, 8, 0};
    assert_int_equal(lm_net_check(&bad, NULL, NULL), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "classes"));
    lm_error_clear();
    bad = (lm_net_desc){NULL, 0, 0, 8, 8, 10};
    assert_int_equal(lm_net_check(&bad, NULL, NULL), LM_EINVAL);
    lm_error_clear();
    /* No layers: a linear classifier. */
    long params;
    bad = (lm_net_desc){NULL, 0, 3, 8, 8, 10};
    assert_int_equal(lm_net_check(&bad, &params, NULL), LM_OK);
    assert_int_equal(params, 192 * 10 + 10);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_vs_naive),  cmocka_unit_test(test_grad_conv),
        cmocka_unit_test(test_grad_sepconv),   cmocka_unit_test(test_grad_pool),
        cmocka_unit_test(test_grad_bnorm),     cmocka_unit_test(test_bnorm_running),
        cmocka_unit_test(test_grad_add_projection), cmocka_unit_test(test_grad_concat),
        cmocka_unit_test(test_grad_dag),       cmocka_unit_test(test_buffer_reuse),
        cmocka_unit_test(test_counts),         cmocka_unit_test(test_graph_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
