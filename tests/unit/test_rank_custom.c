/* Custom-loss training through the engine (lm_custom_net, src/nn/custom.c): the
 * gradients of an arbitrary loss of the outputs against central differences, the
 * evaluation pass against the training one, weights round trip, SGD lowering a
 * regression loss, and argument errors.
 *
 * Gradient check: loss L = sum_i 0.5 (o_i0 - 0.3)^2 + sin(o_i1) over a batch of 5, the
 * network a 1 x 3 convolution over a 3 x 1 x 6 input, global pooling, a dense branch
 * from the raw input, a concatenation and a dense layer, all without ReLU so that the
 * loss is smooth. The engine computes in float: with h = 1e-2 the central difference's
 * truncation error (h^2 L''' / 6) and its rounding error (6e-8 |L| / h) are both about
 * 1e-5, so |analytic - numeric| <= 2e-3 + 1e-2 |numeric| passes with a wide margin
 * and a wrong index, sign or factor does not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "lamarck/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 5
#define C 3
#define W 6
#define K 2

static const lm_layer_desc layers[] = {
    {.op = LM_OP_CONV, .n_inputs = 1, .inputs = {-1}, .out_channels = 4, .kernel = 1,
     .kernel_w = 3, .padding = -1},
    {.op = LM_OP_GLOBAL_AVGPOOL},
    {.op = LM_OP_DENSE, .n_inputs = 1, .inputs = {-1}, .out_channels = 3},
    {.op = LM_OP_CONCAT, .n_inputs = 2, .inputs = {1, 2}},
    {.op = LM_OP_DENSE, .out_channels = 6},
};
static const lm_net_desc desc = {layers, 5, C, 1, W, K};

static double loss_of(const float *o, float *dout) {
    double L = 0;
    for (int i = 0; i < N; i++) {
        double a = o[i * K], b = o[i * K + 1];
        L += 0.5 * (a - 0.3) * (a - 0.3) + sin(b);
        if (dout) {
            dout[i * K] = (float)(a - 0.3);
            dout[i * K + 1] = (float)cos(b);
        }
    }
    return L;
}

static void fill_input(float *x, int n, uint64_t seed) {
    lm_rng r;
    lm_rng_init(&r, seed, 0, 0);
    for (int i = 0; i < n * C * W; i++) x[i] = (float)(2 * lm_rng_uniform(&r) - 1);
}

static void test_gradients_match_finite_differences(void **state) {
    (void)state;
    lm_custom_net *m = NULL;
    assert_int_equal(lm_custom_net_create(&desc, N, LM_INIT_PYTORCH, 7, 0, &m), LM_OK);
    assert_int_equal(lm_custom_net_inputs(m), C * W);
    assert_int_equal(lm_custom_net_outputs(m), K);
    float x[N * C * W], out[N * K], dout[N * K];
    fill_input(x, N, 11);
    assert_int_equal(lm_custom_net_forward(m, x, N, out), LM_OK);
    loss_of(out, dout);
    assert_int_equal(lm_custom_net_backward(m, dout), LM_OK);
    size_t np;
    const float *g = lm_custom_net_grads(m, &np);
    float *analytic = malloc(np * sizeof *analytic);
    assert_non_null(analytic);
    memcpy(analytic, g, np * sizeof *analytic);

    const float *w0;
    size_t nw;
    lm_custom_net_weights(m, &w0, &nw);
    assert_true(nw >= np && np > 50);
    float *w = malloc(nw * sizeof *w);
    assert_non_null(w);
    memcpy(w, w0, nw * sizeof *w);
    const double h = 1e-2;
    int checked = 0;
    double worst = 0;
    for (size_t p = 0; p < np; p++) {
        float keep = w[p];
        w[p] = (float)(keep + h);
        assert_int_equal(lm_custom_net_set_weights(m, w, nw), LM_OK);
        assert_int_equal(lm_custom_net_eval(m, x, N, out), LM_OK);
        double lp = loss_of(out, NULL);
        w[p] = (float)(keep - h);
        assert_int_equal(lm_custom_net_set_weights(m, w, nw), LM_OK);
        assert_int_equal(lm_custom_net_eval(m, x, N, out), LM_OK);
        double lm = loss_of(out, NULL);
        w[p] = keep;
        double num = (lp - lm) / (2 * h);
        double err = fabs(analytic[p] - num);
        if (err > worst) worst = err;
        if (err > 2e-3 + 1e-2 * fabs(num))
            fail_msg("parameter %zu: analytic %.6g, numeric %.6g", p, analytic[p], num);
        checked++;
    }
    assert_int_equal(checked, (int)np);
    assert_true(worst < 2e-3);
    free(w);
    free(analytic);
    lm_custom_net_destroy(&m);
    assert_null(m);
    lm_custom_net_destroy(&m); /* NULL accepted */
}

/* Training and evaluation passes agree for a network without dropout or batch
 * normalization, also across the planned batch (eval chunks, forward grows). */
static void test_eval_matches_forward_and_grows(void **state) {
    (void)state;
    lm_custom_net *m = NULL;
    assert_int_equal(lm_custom_net_create(&desc, 2, LM_INIT_HE, 3, 1, &m), LM_OK);
    float x[N * C * W], a[N * K], b[N * K];
    fill_input(x, N, 5);
    assert_int_equal(lm_custom_net_eval(m, x, N, a), LM_OK);
    assert_int_equal(lm_custom_net_forward(m, x, N, b), LM_OK);
    for (int i = 0; i < N * K; i++) assert_float_equal(a[i], b[i], 1e-5);
    /* Sample 3 alone gives the same outputs as inside the batch. */
    assert_int_equal(lm_custom_net_eval(m, x + 3 * C * W, 1, b), LM_OK);
    assert_float_equal(a[3 * K], b[0], 1e-5);
    assert_float_equal(a[3 * K + 1], b[1], 1e-5);
    lm_custom_net_destroy(&m);
}

/* SGD on a least-squares target drives the loss down by a factor of 10 or more. */
static void test_sgd_reduces_loss(void **state) {
    (void)state;
    lm_custom_net *m = NULL;
    assert_int_equal(lm_custom_net_create(&desc, N, LM_INIT_PYTORCH, 9, 0, &m), LM_OK);
    float x[N * C * W], out[N * K], dout[N * K];
    fill_input(x, N, 13);
    double first = 0, last = 0;
    for (int it = 0; it < 300; it++) {
        assert_int_equal(lm_custom_net_forward(m, x, N, out), LM_OK);
        double L = 0;
        for (int i = 0; i < N * K; i++) {
            double target = (i % 3) - 1.0;
            dout[i] = (float)((out[i] - target) / N);
            L += 0.5 * (out[i] - target) * (out[i] - target);
        }
        if (it == 0) first = L;
        last = L;
        assert_int_equal(lm_custom_net_backward(m, dout), LM_OK);
        assert_int_equal(lm_custom_net_sgd_step(m, 0.05, 0.9, 0.0), LM_OK);
    }
    assert_true(last < first / 10);
    lm_custom_net_destroy(&m);
}

static void test_errors(void **state) {
    (void)state;
    lm_custom_net *m = NULL;
    assert_int_equal(lm_custom_net_create(&desc, 0, LM_INIT_HE, 1, 0, &m), LM_ERANGE);
    assert_null(m);
    lm_error_clear(); /* the first failure's message is kept: start afresh */
    lm_layer_desc bad[] = {{.op = LM_OP_CONV, .out_channels = 0, .kernel = 3}};
    lm_net_desc d = {bad, 1, 1, 1, 4, 1};
    assert_int_equal(lm_custom_net_create(&d, 4, LM_INIT_HE, 1, 0, &m), LM_EINVAL);
    if (!strstr(lm_error_message(), "out_channels")) fail_msg("message: %s", lm_error_message());
    assert_int_equal(lm_custom_net_create(&desc, 4, LM_INIT_HE, 1, 0, &m), LM_OK);
    float dout[K] = {0};
    assert_int_equal(lm_custom_net_backward(m, dout), LM_EINVAL);
    assert_int_equal(lm_custom_net_sgd_step(m, -1, 0.9, 0), LM_ERANGE);
    assert_int_equal(lm_custom_net_sgd_step(m, 0.1, 1.0, 0), LM_ERANGE);
    float w[3] = {0};
    assert_int_equal(lm_custom_net_set_weights(m, w, 3), LM_EINVAL);
    lm_custom_net_destroy(&m);
    lm_error_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_match_finite_differences),
        cmocka_unit_test(test_eval_matches_forward_and_grows),
        cmocka_unit_test(test_sgd_reduces_loss),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
