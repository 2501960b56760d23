/* Unit tests of the engine's numerics: the matmul kernel against a naive loop, the
 * layers' and a whole MLP's gradients against finite differences of a double-precision
 * reference, SGD against hand computations, and the learning-rate schedules.
 *
 * Gradient checks: the network runs in float (oneDNN); the reference forward pass is
 * written here again in double, and its central differences (h = 1e-6, truncation
 * error ~1e-12) are the expected gradients. Tolerance: |analytic - numeric| <=
 * 1e-4 + 1e-3 |numeric|, which float rounding of O(1) values passes with a wide margin
 * and a wrong index, transpose or factor does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/nn.h"
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

static void check_grad(double analytic, double numeric, const char *what, int64_t i) {
    double err = fabs(analytic - numeric);
    if (err > GRAD_ABS + GRAD_REL * fabs(numeric))
        fail_msg("%s[%lld]: analytic %.8g, numeric %.8g", what, (long long)i, analytic, numeric);
}

/* ---- matmul against a naive loop ---- */

/* C = [C +] op(A) op(B) [+ bias] [relu] in double; S = sum |a||b| per element, the
 * scale of float rounding error. */
static void naive_matmul(double *C, double *S, const float *A, const float *B, const float *bias,
                         int M, int N, int K, unsigned f) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0, sa = 0;
            for (int k = 0; k < K; k++) {
                double a = (f & LM__MM_TRANS_A) ? A[(int64_t)k * M + i] : A[(int64_t)i * K + k];
                double b = (f & LM__MM_TRANS_B) ? B[(int64_t)j * K + k] : B[(int64_t)k * N + j];
                s += a * b;
                sa += fabs(a * b);
            }
            if (f & LM__MM_BIAS) s += bias[j];
            if (f & LM__MM_ACCUM) s += C[(int64_t)i * N + j];
            if (f & LM__MM_RELU) s = s > 0 ? s : 0;
            C[(int64_t)i * N + j] = s;
            S[(int64_t)i * N + j] = sa + 1.0;
        }
}

/* Tolerance: 1e-5 of the sum of |a b| (plus bias and old C, counted as 1): float
 * products of up to 257 terms round to a few 1e-7 relative; a wrong element is off by
 * O(1). */
static void matmul_case(lm__kernels *k, int M, int N, int K, unsigned f, lm_rng *r) {
    float *A = malloc(sizeof(float) * (size_t)M * K), *B = malloc(sizeof(float) * (size_t)K * N);
    float *C = malloc(sizeof(float) * (size_t)M * N), *bias = malloc(sizeof(float) * (size_t)N);
    double *R = malloc(sizeof(double) * (size_t)M * N), *S = malloc(sizeof(double) * (size_t)M * N);
    assert_non_null(A && B && C && bias && R && S);
    fill(A, (int64_t)M * K, r, -1, 1);
    fill(B, (int64_t)K * N, r, -1, 1);
    fill(bias, N, r, -1, 1);
    fill(C, (int64_t)M * N, r, -1, 1);
    for (int64_t i = 0; i < (int64_t)M * N; i++) R[i] = C[i];
    naive_matmul(R, S, A, B, bias, M, N, K, f);
    assert_int_equal(lm__matmul(k, C, A, B, bias, M, N, K, f), LM_OK);
    for (int64_t i = 0; i < (int64_t)M * N; i++)
        if (fabs(C[i] - R[i]) > 1e-5 * S[i])
            fail_msg("matmul M=%d N=%d K=%d flags=0x%x: C[%lld] = %.8g, expected %.8g", M, N, K, f,
                     (long long)i, C[i], R[i]);
    const char *impl = lm__matmul_impl(k, M, N, K, f);
    assert_non_null(impl);
    free(A);
    free(B);
    free(C);
    free(bias);
    free(R);
    free(S);
}

static void test_matmul_vs_naive(void **state) {
    (void)state;
    lm__kernels *k;
    assert_int_equal(lm__kernels_create(&k), LM_OK);
    lm_rng r;
    lm_rng_init(&r, 1, 2, 3);
    static const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {129, 31, 257}, {2, 300, 1}};
    static const unsigned extra[] = {0,           LM__MM_BIAS, LM__MM_BIAS | LM__MM_RELU,
                                     LM__MM_ACCUM, LM__MM_RELU, LM__MM_ACCUM | LM__MM_BIAS};
    int cases = 0;
    for (int s = 0; s < 5; s++)
        for (unsigned t = 0; t < 4; t++)
            for (int e = 0; e < 6; e++) {
                matmul_case(k, shapes[s][0], shapes[s][1], shapes[s][2], t | extra[e], &r);
                cases++;
            }
    assert_int_equal(lm__kernels_cached(k), cases);
    /* A shape seen before reuses its primitive. */
    matmul_case(k, 17, 33, 65, LM__MM_TRANS_A, &r);
    assert_int_equal(lm__matmul_prepare(k, 3, 5, 7, LM__MM_BIAS), LM_OK);
    assert_int_equal(lm__kernels_cached(k), cases);
    lm__kernels_destroy(&k);
    assert_null(k);
    lm__kernels_destroy(&k);
}

static void test_matmul_errors(void **state) {
    (void)state;
    lm__kernels *k;
    assert_int_equal(lm__kernels_create(&k), LM_OK);
    lm_error_clear();
    assert_int_equal(lm__matmul_prepare(k, 0, 4, 4, 0), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "M=0"));
    lm_error_clear();
    assert_int_equal(lm__matmul_prepare(k, 4, 4, 4, LM__MM_ACCUM | LM__MM_RELU), LM_EINVAL);
    lm_error_clear();
    assert_int_equal(lm__matmul_prepare(k, 4, 4, 4, 64u), LM_EINVAL);
    lm_error_clear();
    assert_int_equal(lm__kernels_cached(k), 0);
    assert_null(lm__matmul_impl(k, 4, 4, 4, 0));
    lm__kernels_destroy(&k);
}

/* The MLP's shapes get oneDNN's optimized kernels, not reference loops. */
static void test_matmul_not_reference(void **state) {
    (void)state;
    lm__kernels *k;
    assert_int_equal(lm__kernels_create(&k), LM_OK);
    static const int s[][4] = {{128, 256, 784, LM__MM_BIAS | LM__MM_RELU},
                               {784, 256, 128, LM__MM_TRANS_A},
                               {128, 256, 256, LM__MM_TRANS_B},
                               {32, 10, 256, LM__MM_BIAS},
                               {256, 10, 32, LM__MM_TRANS_A}};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(lm__matmul_prepare(k, s[i][0], s[i][1], s[i][2], (unsigned)s[i][3]), LM_OK);
        const char *impl = lm__matmul_impl(k, s[i][0], s[i][1], s[i][2], (unsigned)s[i][3]);
        assert_non_null(impl);
        if (!strncmp(impl, "ref", 3)) fail_msg("shape %d uses the reference matmul '%s'", i, impl);
    }
    lm__kernels_destroy(&k);
}

/* ---- double-precision reference of the layers ---- */

typedef struct ref_layer {
    int kind; /* 0 dense, 1 relu, 2 dropout */
    int in, out, relu;
    double *w, *b; /* dense: in x out, out */
    const float *mask;
} ref_layer;

/* y (n x out) from x (n x in); returns nothing, y allocated by the caller. */
static void ref_forward_layer(const ref_layer *l, double *y, const double *x, int n) {
    for (int i = 0; i < n; i++) {
        if (l->kind == 0) {
            for (int j = 0; j < l->out; j++) {
                double s = l->b[j];
                for (int k = 0; k < l->in; k++) s += x[i * l->in + k] * l->w[k * l->out + j];
                y[i * l->out + j] = l->relu && s < 0 ? 0 : s;
            }
        } else {
            for (int j = 0; j < l->out; j++) {
                double v = x[i * l->in + j];
                y[i * l->out + j] = l->kind == 1 ? (v > 0 ? v : 0) : v * l->mask[i * l->out + j];
            }
        }
    }
}

/* Output of a chain of layers, written to out (n x last width). */
static void ref_forward(const ref_layer *ls, int nl, const double *x, int n, double *out) {
    double bufs[2][512];
    const double *cur = x;
    for (int i = 0; i < nl; i++) {
        double *y = i == nl - 1 ? out : bufs[i % 2];
        assert_true(n * ls[i].out <= 512);
        ref_forward_layer(&ls[i], y, cur, n);
        cur = y;
    }
}

/* Loss of the reference: sum(out .* R) when y == NULL, else softmax cross-entropy. */
static double ref_loss(const ref_layer *ls, int nl, const double *x, int n, const float *R,
                       const int32_t *y) {
    double out[512];
    ref_forward(ls, nl, x, n, out);
    int k = ls[nl - 1].out;
    double L = 0;
    for (int i = 0; i < n; i++) {
        if (!y) {
            for (int j = 0; j < k; j++) L += out[i * k + j] * R[i * k + j];
            continue;
        }
        double m = out[i * k];
        for (int j = 1; j < k; j++) m = out[i * k + j] > m ? out[i * k + j] : m;
        double s = 0;
        for (int j = 0; j < k; j++) s += exp(out[i * k + j] - m);
        L += log(s) + m - out[i * k + y[i]];
    }
    return y ? L / n : L;
}

/* Builds the reference of a finished net (sharing its dropout masks) with its
 * parameters converted to double. */
static ref_layer *ref_of(const lm__net *net) {
    ref_layer *ls = calloc((size_t)net->n_layers, sizeof *ls);
    assert_non_null(ls);
    for (int i = 0; i < net->n_layers; i++) {
        const lm__layer *l = &net->layers[i];
        ref_layer *r = &ls[i];
        r->in = (int)net->tensors[l->in[0]].size;
        r->out = (int)net->tensors[l->id].size;
        r->kind = l->ops == &lm__dense_ops ? 0 : l->ops == &lm__relu_ops ? 1 : 2;
        r->relu = l->cfg.relu;
        r->mask = l->mask;
        if (r->kind == 0) {
            r->w = malloc(sizeof(double) * (size_t)l->n_w);
            r->b = malloc(sizeof(double) * (size_t)l->n_b);
            assert_non_null(r->w && r->b);
            for (int64_t j = 0; j < l->n_w; j++) r->w[j] = l->w[j];
            for (int64_t j = 0; j < l->n_b; j++) r->b[j] = l->b[j];
        }
    }
    return ls;
}

static void ref_free(ref_layer *ls, int nl) {
    for (int i = 0; i < nl; i++) {
        free(ls[i].w);
        free(ls[i].b);
    }
    free(ls);
}

/* Checks the net's gradients (already computed by the caller's backward pass) of every
 * parameter and input element against central differences of the reference loss. */
static void check_net_grads(const lm__net *net, const float *x, int n, const float *R,
                            const int32_t *y) {
    ref_layer *ls = ref_of(net);
    int nl = net->n_layers;
    int64_t nx = (int64_t)n * net->tensors[0].size;
    double xd[512];
    assert_true(nx <= 512);
    for (int64_t i = 0; i < nx; i++) xd[i] = x[i];
    for (int i = 0; i < nl; i++) {
        const lm__layer *l = &net->layers[i];
        for (int part = 0; part < 2; part++) {
            double *p = part ? ls[i].b : ls[i].w;
            const float *g = part ? l->db : l->dw;
            int64_t cnt = part ? l->n_b : l->n_w;
            for (int64_t j = 0; j < cnt; j++) {
                double keep = p[j];
                p[j] = keep + FD_H;
                double lp = ref_loss(ls, nl, xd, n, R, y);
                p[j] = keep - FD_H;
                double lm = ref_loss(ls, nl, xd, n, R, y);
                p[j] = keep;
                check_grad(g[j], (lp - lm) / (2 * FD_H), part ? "db" : "dW", j);
            }
        }
    }
    if (net->tensors[0].grad)
        for (int64_t j = 0; j < nx; j++) {
            double keep = xd[j];
            xd[j] = keep + FD_H;
            double lp = ref_loss(ls, nl, xd, n, R, y);
            xd[j] = keep - FD_H;
            double lm = ref_loss(ls, nl, xd, n, R, y);
            xd[j] = keep;
            check_grad(net->tensors[0].grad[j], (lp - lm) / (2 * FD_H), "dx", j);
        }
    ref_free(ls, nl);
}

/* Forward output against the reference: 1e-5 absolute on O(1) values. */
static void check_forward(const lm__net *net, const float *x, int n) {
    ref_layer *ls = ref_of(net);
    double xd[512], out[512];
    int64_t nx = (int64_t)n * net->tensors[0].size;
    for (int64_t i = 0; i < nx; i++) xd[i] = x[i];
    ref_forward(ls, net->n_layers, xd, n, out);
    const lm__tensor *o = &net->tensors[net->n_layers];
    for (int64_t i = 0; i < (int64_t)n * o->size; i++)
        if (fabs(o->data[i] - out[i]) > 1e-5)
            fail_msg("forward output[%lld] = %.8g, reference %.8g", (long long)i, o->data[i], out[i]);
    ref_free(ls, net->n_layers);
}

/* One layer after the input; loss sum(out .* R) with random R. */
static void layer_gradcheck(int kind, int relu, double p) {
    enum { N = 3, IN = 7, UNITS = 5 };
    lm__net *net;
    assert_int_equal(lm__net_create((lm__shape){IN, 1, 1}, &net), LM_OK);
    if (kind == 0) assert_int_equal(lm__net_add_dense(net, UNITS, relu), 1);
    if (kind == 1) assert_int_equal(lm__net_add_relu(net), 1);
    if (kind == 2) assert_int_equal(lm__net_add_dropout(net, p), 1);
    assert_int_equal(lm__net_finish(net, 4, 1, 42, 7), LM_OK);
    lm_rng r;
    lm_rng_init(&r, 9, 9, 9);
    float x[N * IN], R[N * UNITS * 2];
    fill(x, N * IN, &r, -1, 1);
    /* Keep inputs away from ReLU's kink, where a difference quotient means nothing. */
    for (int i = 0; i < N * IN; i++)
        if (fabs(x[i]) < 0.05) x[i] = 0.3f;
    if (kind == 0)
        for (int64_t j = 0; j < net->layers[0].n_b; j++) net->layers[0].b[j] = 0.1f * (float)(j % 3);
    lm__tensor *out = lm__net_output(net);
    fill(R, N * out->size, &r, -1, 1);
    assert_int_equal(lm__net_forward(net, x, N, 1), LM_OK);
    check_forward(net, x, N);
    memcpy(out->grad, R, sizeof(float) * (size_t)(N * out->size));
    assert_int_equal(lm__net_backward(net, N), LM_OK);
    check_net_grads(net, x, N, R, NULL);
    lm__net_destroy(&net);
    assert_null(net);
}

static void test_grad_dense(void **state) {
    (void)state;
    layer_gradcheck(0, 0, 0);
    layer_gradcheck(0, 1, 0);
}

static void test_grad_relu(void **state) {
    (void)state;
    layer_gradcheck(1, 0, 0);
}

static void test_grad_dropout(void **state) {
    (void)state;
    layer_gradcheck(2, 0, 0.4);
}

static void test_dropout_mask(void **state) {
    (void)state;
    enum { N = 100, F = 100 };
    const double p = 0.4;
    lm__net *net;
    assert_int_equal(lm__net_create((lm__shape){F, 1, 1}, &net), LM_OK);
    assert_int_equal(lm__net_add_dropout(net, p), 1);
    assert_int_equal(lm__net_finish(net, N, 0, 5, 6), LM_OK);
    float *x = malloc(sizeof(float) * N * F);
    assert_non_null(x);
    for (int i = 0; i < N * F; i++) x[i] = 1.0f;
    const lm__tensor *out = lm__net_output(net);
    /* Evaluation mode passes x through. */
    assert_int_equal(lm__net_forward(net, x, N, 0), LM_OK);
    for (int i = 0; i < N * F; i++) assert_true(out->data[i] == 1.0f);
    /* Training mode: 0 or 1/(1-p), about p of them 0 (10,000 draws: sd 0.005). */
    assert_int_equal(lm__net_forward(net, x, N, 1), LM_OK);
    int dropped = 0;
    for (int i = 0; i < N * F; i++) {
        float v = out->data[i];
        if (v == 0.0f) dropped++;
        else assert_float_equal(v, 1.0 / (1.0 - p), 1e-6);
    }
    assert_true(fabs(dropped / (double)(N * F) - p) < 0.03);
    /* A new mask each pass, the same sequence for the same (seed, trial). */
    float first = out->data[0] + 2 * out->data[1] + 4 * out->data[2] + 8 * out->data[3];
    int changed = 0;
    float *snap = malloc(sizeof(float) * N * F);
    assert_non_null(snap);
    memcpy(snap, out->data, sizeof(float) * N * F);
    assert_int_equal(lm__net_forward(net, x, N, 1), LM_OK);
    for (int i = 0; i < N * F; i++) changed += snap[i] != out->data[i];
    assert_true(changed > 1000);
    lm__net *net2;
    assert_int_equal(lm__net_create((lm__shape){F, 1, 1}, &net2), LM_OK);
    assert_int_equal(lm__net_add_dropout(net2, p), 1);
    assert_int_equal(lm__net_finish(net2, N, 0, 5, 6), LM_OK);
    assert_int_equal(lm__net_forward(net2, x, N, 1), LM_OK);
    const lm__tensor *o2 = lm__net_output(net2);
    assert_true(first == o2->data[0] + 2 * o2->data[1] + 4 * o2->data[2] + 8 * o2->data[3]);
    free(snap);
    free(x);
    lm__net_destroy(&net);
    lm__net_destroy(&net2);
}

/* ---- softmax cross-entropy ---- */

static void test_softmax_ce(void **state) {
    (void)state;
    enum { N = 4, K = 5 };
    lm_rng r;
    lm_rng_init(&r, 3, 1, 4);
    float z[N * K], dz[N * K];
    fill(z, N * K, &r, -3, 3);
    int32_t y[N] = {0, 4, 2, 2};
    int64_t correct = 0;
    double L = lm__softmax_ce(dz, z, y, N, K, &correct);
    double zd[N * K];
    for (int i = 0; i < N * K; i++) zd[i] = z[i];
    /* Reference: mean of log-sum-exp minus the label's logit, in double. */
    double ref = 0;
    int64_t ref_correct = 0;
    for (int i = 0; i < N; i++) {
        double s = 0;
        int arg = 0;
        for (int j = 0; j < K; j++) {
            s += exp(zd[i * K + j]);
            if (zd[i * K + j] > zd[i * K + arg]) arg = j;
        }
        ref += (log(s) - zd[i * K + y[i]]) / N;
        ref_correct += arg == y[i];
    }
    assert_float_equal(L, ref, 1e-6);
    assert_int_equal(correct, ref_correct);
    for (int j = 0; j < N * K; j++) {
        double keep = zd[j], lp = 0, lm = 0;
        for (int pass = 0; pass < 2; pass++) {
            zd[j] = keep + (pass ? -FD_H : FD_H);
            double L2 = 0;
            for (int i = 0; i < N; i++) {
                double s = 0;
                for (int c = 0; c < K; c++) s += exp(zd[i * K + c]);
                L2 += (log(s) - zd[i * K + y[i]]) / N;
            }
            *(pass ? &lm : &lp) = L2;
        }
        zd[j] = keep;
        check_grad(dz[j], (lp - lm) / (2 * FD_H), "dlogits", j);
    }
    /* Huge logits: stable, exact. */
    float big[2 * 3] = {1000, -1000, 0, -500, 500, 499};
    int32_t yb[2] = {0, 2};
    double Lb = lm__softmax_ce(dz, big, yb, 2, 3, NULL);
    assert_true(isfinite(Lb));
    assert_float_equal(Lb, (0 + (log(1 + exp(-1.0)) + 1)) / 2, 1e-6);
    /* A NaN logit makes the loss NaN: that is how divergence is seen. */
    big[1] = NAN;
    assert_true(isnan(lm__softmax_ce(NULL, big, yb, 2, 3, NULL)));
}

/* ---- a whole MLP: 2 hidden layers with ReLU and dropout, softmax cross-entropy ---- */

static void test_grad_mlp(void **state) {
    (void)state;
    enum { N = 3, IN = 6, H = 5, K = 4 };
    lm__net *net;
    assert_int_equal(lm__net_create((lm__shape){1, 2, 3}, &net), LM_OK);
    assert_true(lm__net_add_dense(net, H, 1) > 0);
    assert_true(lm__net_add_dropout(net, 0.3) > 0);
    assert_true(lm__net_add_dense(net, H, 1) > 0);
    assert_true(lm__net_add_dropout(net, 0.3) > 0);
    assert_int_equal(lm__net_add_dense(net, K, 0), 5);
    assert_int_equal(lm__net_finish(net, N, 1, 11, 3), LM_OK);
    assert_int_equal(net->n_params, IN * H + H + H * H + H + H * K + K);
    /* Nonzero biases, so that hidden units sit well away from ReLU's kink. */
    for (int i = 0; i < net->n_layers; i++)
        for (int64_t j = 0; j < net->layers[i].n_b; j++) net->layers[i].b[j] = 0.05f * (float)(j + 1);
    lm_rng r;
    lm_rng_init(&r, 2, 2, 2);
    float x[N * IN];
    fill(x, N * IN, &r, -1, 1);
    int32_t y[N] = {1, 3, 0};
    lm__tensor *out = lm__net_output(net);
    assert_int_equal(lm__net_forward(net, x, N, 1), LM_OK);
    check_forward(net, x, N);
    double L = lm__softmax_ce(out->grad, out->data, y, N, K, NULL);
    assert_true(isfinite(L));
    assert_int_equal(lm__net_backward(net, N), LM_OK);
    check_net_grads(net, x, N, NULL, y);
    /* The loss the reference computes equals the engine's. */
    ref_layer *ls = ref_of(net);
    double xd[N * IN];
    for (int i = 0; i < N * IN; i++) xd[i] = x[i];
    assert_float_equal(ref_loss(ls, net->n_layers, xd, N, NULL, y), L, 1e-5);
    ref_free(ls, net->n_layers);
    /* With frozen masks a training pass repeats exactly; otherwise it draws anew. */
    float logits[N * K];
    memcpy(logits, out->data, sizeof logits);
    net->freeze_masks = 1;
    assert_int_equal(lm__net_forward(net, x, N, 1), LM_OK);
    assert_memory_equal(logits, out->data, sizeof logits);
    net->freeze_masks = 0;
    assert_int_equal(lm__net_forward(net, x, N, 1), LM_OK);
    assert_memory_not_equal(logits, out->data, sizeof logits);
    /* A partial batch after a full one reuses the same buffers. */
    assert_int_equal(lm__net_forward(net, x, 2, 0), LM_OK);
    lm__net_destroy(&net);
}

static void test_net_errors(void **state) {
    (void)state;
    lm__net *net;
    lm_error_clear();
    assert_int_equal(lm__net_create((lm__shape){0, 1, 1}, &net), LM_EINVAL);
    assert_null(net);
    assert_int_equal(lm__net_create((lm__shape){4, 1, 1}, &net), LM_OK);
    assert_int_equal(lm__net_finish(net, 4, 0, 1, 1), LM_EINVAL); /* no layer */
    lm_error_clear();
    assert_int_equal(lm__net_add_dense(net, 0, 0), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "units"));
    lm_error_clear();
    assert_int_equal(lm__net_add_dropout(net, 1.0), LM_EINVAL);
    lm_error_clear();
    int bad = 3;
    lm__layer_cfg cfg = {0};
    assert_int_equal(lm__net_add(net, &lm__relu_ops, &cfg, &bad, 1), LM_EINVAL);
    lm_error_clear();
    assert_int_equal(lm__net_add_dense(net, 3, 0), 1);
    assert_int_equal(lm__net_finish(net, 4, 0, 1, 1), LM_OK);
    assert_int_equal(lm__net_add_relu(net), LM_EINVAL);
    float x[5 * 4] = {0};
    assert_int_equal(lm__net_forward(net, x, 5, 0), LM_EINVAL);
    assert_int_equal(lm__net_prepare(net, 0), LM_EINVAL);
    lm_error_clear();
    lm__net_destroy(&net);
    lm__net_destroy(&net);
}

/* Initial weights: PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and
 * biases, from the init stream, deterministic per (seed, trial). */
static void test_init(void **state) {
    (void)state;
    lm__net *a, *b, *c;
    for (int i = 0; i < 3; i++) {
        lm__net **n = i == 0 ? &a : i == 1 ? &b : &c;
        assert_int_equal(lm__net_create((lm__shape){400, 1, 1}, n), LM_OK);
        assert_int_equal(lm__net_add_dense(*n, 300, 1), 1);
        assert_int_equal(lm__net_finish(*n, 2, 0, 77, i == 2 ? 2 : 1), LM_OK);
    }
    assert_memory_equal(a->params, b->params, sizeof(float) * (size_t)a->n_params);
    assert_memory_not_equal(a->params, c->params, sizeof(float) * (size_t)a->n_params);
    /* 120,000 draws of U(-0.05, 0.05): variance 0.05^2 / 3 within 2%, all inside. */
    double s2 = 0, bound = 1.0 / sqrt(400.0);
    for (int64_t i = 0; i < a->n_params; i++) {
        assert_true(fabs(a->params[i]) <= bound);
        if (i < a->layers[0].n_w) s2 += (double)a->params[i] * a->params[i];
    }
    assert_float_equal(s2 / (double)a->layers[0].n_w, bound * bound / 3, 0.02 * bound * bound / 3);
    int nonzero = 0;
    for (int64_t j = 0; j < a->layers[0].n_b; j++) nonzero += a->layers[0].b[j] != 0.0f;
    assert_true(nonzero > 290);
    lm__net_destroy(&a);
    lm__net_destroy(&b);
    lm__net_destroy(&c);
    /* He et al.: N(0, 2 / fan_in) before a ReLU, biases 0. */
    assert_int_equal(lm__net_create((lm__shape){400, 1, 1}, &a), LM_OK);
    assert_int_equal(lm__net_add_dense(a, 300, 1), 1);
    a->init = LM_INIT_HE;
    assert_int_equal(lm__net_finish(a, 2, 0, 77, 1), LM_OK);
    s2 = 0;
    for (int64_t i = 0; i < a->layers[0].n_w; i++) s2 += (double)a->params[i] * a->params[i];
    assert_float_equal(s2 / (double)a->layers[0].n_w, 2.0 / 400, 0.02 * 2.0 / 400);
    for (int64_t j = 0; j < a->layers[0].n_b; j++) assert_true(a->layers[0].b[j] == 0.0f);
    lm__net_destroy(&a);
}

/* ---- SGD against hand computations (lr 0.1, gradient 0.5, w0 = 1) ---- */

static void sgd_two_steps(float mu, int nesterov, float wd, double w1, double w2) {
    float w = 1.0f, m = 0.0f, g = 0.5f;
    lm__sgd_update(&w, &m, &g, 1, 0.1f, mu, nesterov, wd);
    assert_float_equal(w, w1, 1e-6);
    lm__sgd_update(&w, &m, &g, 1, 0.1f, mu, nesterov, wd);
    assert_float_equal(w, w2, 1e-6);
}

static void test_sgd(void **state) {
    (void)state;
    /* Momentum 0.9: m = 0.5, w = 1 - 0.05; m = 0.95, w = 0.95 - 0.095. */
    sgd_two_steps(0.9f, 0, 0, 0.95, 0.855);
    /* Nesterov: d = g + mu m = 0.95, w = 0.905; m = 0.95, d = 1.355, w = 0.7695. */
    sgd_two_steps(0.9f, 1, 0, 0.905, 0.7695);
    /* Plain SGD with weight decay 0.1: w = 1 - 0.1 (0.5 + 0.1) = 0.94;
     * 0.94 - 0.1 (0.5 + 0.094) = 0.8806. */
    sgd_two_steps(0, 0, 0.1f, 0.94, 0.8806);
    /* Momentum and decay: 0.94, then 0.94 - 0.1 (0.95 + 0.094) = 0.8356 (the decay
     * stays out of the momentum). */
    sgd_two_steps(0.9f, 0, 0.1f, 0.94, 0.8356);

    /* Through the network: decay on weights, never on biases. */
    lm__net *net;
    assert_int_equal(lm__net_create((lm__shape){3, 1, 1}, &net), LM_OK);
    assert_int_equal(lm__net_add_dense(net, 2, 0), 1);
    assert_int_equal(lm__net_finish(net, 1, 0, 1, 1), LM_OK);
    lm__layer *l = &net->layers[0];
    for (int j = 0; j < 2; j++) l->b[j] = 1.0f;
    float w0[6];
    memcpy(w0, l->w, sizeof w0);
    memset(net->grads, 0, sizeof(float) * (size_t)net->n_params);
    lm__sgd opt = {0.9f, 0, 0.5f};
    lm__net_sgd_step(net, &opt, 0.1);
    for (int j = 0; j < 6; j++) assert_float_equal(l->w[j], w0[j] * (1 - 0.1 * 0.5), 1e-7);
    for (int j = 0; j < 2; j++) assert_true(l->b[j] == 1.0f);
    /* The gradient of every parameter moves it, each from its own momentum slot. */
    for (int64_t j = 0; j < net->n_params; j++) net->grads[j] = (float)(j + 1);
    opt.weight_decay = 0;
    float before[8];
    memcpy(before, net->params, sizeof before);
    lm__net_sgd_step(net, &opt, 0.1);
    for (int j = 0; j < 8; j++) assert_float_equal(net->params[j], before[j] - 0.1 * (j + 1), 1e-6);
    lm__net_destroy(&net);
}

/* ---- learning-rate schedules ---- */

static void test_lr_schedules(void **state) {
    (void)state;
    lm_train_params p;
    lm_train_params_default(&p);
    p.lr = 0.1;
    assert_float_equal(lm_lr_at(&p, 0, 10, 100), 0.1, 1e-15);
    assert_float_equal(lm_lr_at(&p, 99, 10, 100), 0.1, 1e-15);
    p.schedule = LM_SCHED_STEP;
    p.gamma = 0.5;
    p.step_size = 2;
    assert_float_equal(lm_lr_at(&p, 0, 10, 100), 0.1, 1e-15);
    assert_float_equal(lm_lr_at(&p, 19, 10, 100), 0.1, 1e-15);
    assert_float_equal(lm_lr_at(&p, 20, 10, 100), 0.05, 1e-15);
    assert_float_equal(lm_lr_at(&p, 45, 10, 100), 0.025, 1e-15);
    p.schedule = LM_SCHED_COSINE;
    assert_float_equal(lm_lr_at(&p, 0, 10, 100), 0.1, 1e-15);
    assert_float_equal(lm_lr_at(&p, 25, 10, 100), 0.05 * (1 + sqrt(0.5)), 1e-12);
    assert_float_equal(lm_lr_at(&p, 50, 10, 100), 0.05, 1e-12);
    assert_float_equal(lm_lr_at(&p, 100, 10, 100), 0.0, 1e-12);
}

/* ---- training parameters by name ---- */

static void test_params_table(void **state) {
    (void)state;
    lm_train_params p;
    lm_train_params_default(&p);
    assert_int_equal(lm_train_params_check(&p), LM_OK);
    assert_int_equal(p.model, LM_MODEL_MLP);
    assert_int_equal(p.conv_layers, 2);
    assert_int_equal(p.filters, 32);
    assert_int_equal(p.kernel, 3);
    assert_int_equal(p.preprocess.one_hot, 1);
    assert_int_equal(p.preprocess.scaler, LM_SCALE_NONE);
    assert_int_equal(p.augment.crop_padding, 0);
    /* Every listed name is settable and has a section; sections as config needs them. */
    int n;
    const char *const *names = lm_train_params_names(&n);
    assert_int_equal(n, 29);
    for (int i = 0; i < n; i++) assert_non_null(lm_train_param_section(names[i]));
    assert_string_equal(lm_train_param_section("lr"), "training");
    assert_string_equal(lm_train_param_section("dropout"), "model");
    assert_string_equal(lm_train_param_section("kernel"), "model");
    assert_string_equal(lm_train_param_section("init"), "model");
    assert_int_equal(p.init, LM_INIT_PYTORCH);
    assert_int_equal(lm_train_params_set(&p, "init", 0, "he"), LM_OK);
    assert_int_equal(p.init, LM_INIT_HE);
    assert_string_equal(lm_train_param_section("one_hot"), "preprocessing");
    assert_string_equal(lm_train_param_section("mixup_alpha"), "augmentation");
    assert_null(lm_train_param_section("nope"));
    assert_null(lm_train_param_section(NULL));
    /* Choices by label, booleans by number or label. */
    assert_int_equal(lm_train_params_set(&p, "model", 0, "cnn"), LM_OK);
    assert_int_equal(p.model, LM_MODEL_CNN);
    assert_int_equal(lm_train_params_set(&p, "scaler", 0, "standardize"), LM_OK);
    assert_int_equal(p.preprocess.scaler, LM_SCALE_STANDARDIZE);
    assert_int_equal(lm_train_params_set(&p, "impute", 0, "most_frequent"), LM_OK);
    assert_int_equal(p.preprocess.impute, LM_IMPUTE_MOST_FREQUENT);
    assert_int_equal(lm_train_params_set(&p, "batchnorm", 0, "true"), LM_OK);
    assert_int_equal(p.batchnorm, 1);
    assert_int_equal(lm_train_params_set(&p, "one_hot", 0, NULL), LM_OK);
    assert_int_equal(p.preprocess.one_hot, 0);
    assert_int_equal(lm_train_params_set(&p, "flip", 1, NULL), LM_OK);
    assert_int_equal(p.augment.flip, 1);
    assert_int_equal(lm_train_params_set(&p, "mixup_alpha", 0.2, NULL), LM_OK);
    assert_float_equal(p.augment.mixup_alpha, 0.2, 0);
    assert_int_equal(lm_train_params_set(&p, "crop_padding", 4, NULL), LM_OK);
    assert_int_equal(p.augment.crop_padding, 4);
    assert_int_equal(lm_train_params_set(&p, "kernel", 5, NULL), LM_OK);
    assert_int_equal(p.kernel, 5);
    assert_int_equal(lm_train_params_check(&p), LM_OK);
    /* Range errors name the parameter and the range. */
    static const struct {
        const char *name;
        double num;
        const char *label, *needle;
    } bad[] = {{"kernel", 4, NULL, "'kernel' must be odd"},
               {"kernel", 13, NULL, "[1, 11]"},
               {"conv_layers", 9, NULL, "[1, 8]"},
               {"filters", 0, NULL, "'filters'"},
               {"model", 0, "rnn", "mlp, cnn, got 'rnn'"},
               {"model", 1, NULL, "must be one of mlp, cnn"},
               {"scaler", 0, "zscore", "none, standardize, minmax"},
               {"batchnorm", NAN, "yes", "true or false"},
               {"batchnorm", 2, NULL, "[0, 1]"},
               {"noise_std", 1.5, NULL, "'noise_std' must be in [0, 1]"},
               {"mixup_alpha", -1, NULL, "'mixup_alpha'"},
               {"cutout", 65, NULL, "[0, 64]"},
               {"lr", NAN, "fast", "'lr': expected a number, got 'fast'"},
               {"flip", NAN, "maybe", "expected true or false, got 'maybe'"},
               {"dropout", 1, NULL, "[0, 1)"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lm_error_clear();
        assert_int_equal(lm_train_params_set(&p, bad[i].name, bad[i].num, bad[i].label), LM_ERANGE);
        if (!strstr(lm_error_message(), bad[i].needle))
            fail_msg("%s: message '%s' lacks '%s'", bad[i].name, lm_error_message(), bad[i].needle);
    }
    lm_error_clear();
    assert_int_equal(lm_train_params_set(&p, "kernal", 3, NULL), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "did you mean 'kernel'"));
    lm_error_clear();
    p.kernel = 6;
    assert_int_equal(lm_train_params_check(&p), LM_ERANGE);
    assert_non_null(strstr(lm_error_message(), "kernel"));
    lm_error_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_vs_naive), cmocka_unit_test(test_matmul_errors),
        cmocka_unit_test(test_matmul_not_reference), cmocka_unit_test(test_grad_dense),
        cmocka_unit_test(test_grad_relu),      cmocka_unit_test(test_grad_dropout),
        cmocka_unit_test(test_dropout_mask),   cmocka_unit_test(test_softmax_ce),
        cmocka_unit_test(test_grad_mlp),       cmocka_unit_test(test_net_errors),
        cmocka_unit_test(test_init),           cmocka_unit_test(test_sgd),
        cmocka_unit_test(test_lr_schedules),   cmocka_unit_test(test_params_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
