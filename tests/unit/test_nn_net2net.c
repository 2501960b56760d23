/* Unit tests of Net2Net (lm_net2wider, lm_net2deeper) on networks trained one epoch
 * on digits: children given the computed weights produce the parents' logits within
 * 1e-4 (relative, before any training) for dense and convolutional layers, noise
 * changes them a little, the children train on; the weight vector's layout and the
 * transformations' refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CAP = 32, N_CMP = 128 };

typedef struct fixture {
    lm_dataset train, val;
    lm_train_params p;
} fixture;

static int setup(void **state) {
    static fixture fx;
    static const char *sys = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
    char path[1024];
    const char *src = getenv("LAMARCK_SOURCE_DIR");
    FILE *f = fopen(sys, "rb");
    if (f) {
        fclose(f);
        snprintf(path, sizeof path, "%s", sys);
    } else {
        snprintf(path, sizeof path, "%s/.deps/sklearn%s", src ? src : ".", sys);
    }
    lm_dataset all;
    if (lm_data_import_digits(path, &all) < 0) {
        fprintf(stderr, "digits not found (%s): %s\n", path, lm_error_message());
        return -1;
    }
    if (lm_data_split_stratified(&all, 0.2, 1, &fx.train, &fx.val) < 0) return -1;
    lm_dataset_free(&all);
    lm_train_params_default(&fx.p);
    fx.p.batch_size = 64;
    fx.p.lr = 0.05;
    fx.p.epochs = 4;
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    lm_dataset_free(&fx->train);
    lm_dataset_free(&fx->val);
    return 0;
}

/* A trainer of d, trained `epochs` epochs; *val_loss after the last. */
static lm_trainer *trained(const fixture *fx, const lm_net_desc *d, int epochs, double *val_loss) {
    lm_trainer *t;
    int rc = lm_trainer_create_from_desc(d, &fx->p, &fx->train, &fx->val, 5, 1, &t);
    if (rc < 0) fail_msg("trainer: %s", lm_error_message());
    for (int e = 0; e < epochs; e++) {
        lm_epoch_stats s;
        assert_int_equal(lm_trainer_epoch(t, &s), LM_OK);
        assert_false(s.diverged);
        if (val_loss) *val_loss = s.val_loss;
    }
    return t;
}

/* A trainer of the child with weights w (no training). */
static lm_trainer *with_weights(const fixture *fx, const lm_net_desc *d, const float *w, size_t n) {
    lm_trainer *t;
    int rc = lm_trainer_create_from_desc(d, &fx->p, &fx->train, &fx->val, 9, 2, &t);
    if (rc < 0) fail_msg("child trainer: %s", lm_error_message());
    rc = lm_trainer_set_weights(t, w, n);
    if (rc < 0) fail_msg("child weights: %s", lm_error_message());
    return t;
}

/* max |a - b| / max |a| over the first N_CMP validation samples' logits. */
static double logit_diff(const fixture *fx, lm_trainer *a, lm_trainer *b) {
    float *la = malloc(N_CMP * 10 * sizeof *la), *lb = malloc(N_CMP * 10 * sizeof *lb);
    assert_true(la && lb);
    assert_int_equal(lm_trainer_predict(a, &fx->val, N_CMP, la), LM_OK);
    assert_int_equal(lm_trainer_predict(b, &fx->val, N_CMP, lb), LM_OK);
    double d = 0, m = 0;
    for (int i = 0; i < N_CMP * 10; i++) {
        d = fmax(d, fabs((double)la[i] - lb[i]));
        m = fmax(m, fabs((double)la[i]));
    }
    free(la);
    free(lb);
    assert_true(m > 0.1);
    return d / m;
}

typedef enum { WIDER, DEEPER } op;

/* Transforms the trained parent at layer (to width, or with an identity of kernel
 * `arg`), checks the child's function against the parent's, then trains the child one
 * epoch: its validation loss is no worse than the parent's last + 0.05. Returns the
 * relative logit difference. */
static double transform(const fixture *fx, lm_trainer *parent, const lm_net_desc *pd,
                        double parent_loss, op kind, int layer, int arg, double noise,
                        lm_net_desc *cd_out) {
    const float *pw;
    size_t pn;
    lm_trainer_weights(parent, &pw, &pn);
    assert_int_equal(pn, lm_net_param_count(pd));
    lm_layer_desc *CL = calloc(CAP, sizeof *CL);
    assert_non_null(CL);
    lm_net_desc cd;
    size_t cap = 4 * pn + 100000;
    float *cw = malloc(cap * sizeof *cw);
    assert_non_null(cw);
    lm_rng r;
    lm_rng_init(&r, 3, 4, 5);
    int rc = kind == WIDER ? lm_net2wider(pd, pw, layer, arg, noise, &r, CL, CAP, &cd, cw, cap)
                           : lm_net2deeper(pd, pw, layer, arg, CL, CAP, &cd, cw, cap);
    if (rc < 0) fail_msg("transform: %s", lm_error_message());
    size_t cn = lm_net_param_count(&cd);
    assert_true(cn > pn);
    lm_trainer *child = with_weights(fx, &cd, cw, cn);
    double diff = logit_diff(fx, parent, child);
    lm_epoch_stats s;
    assert_int_equal(lm_trainer_epoch(child, &s), LM_OK);
    assert_false(s.diverged);
    assert_true(s.val_loss <= parent_loss + 0.05);
    lm_trainer_destroy(&child);
    free(cw);
    if (cd_out) {
        *cd_out = cd;
    } else {
        free(CL);
    }
    return diff;
}

static const lm_layer_desc MLP[] = {
    {.op = LM_OP_DENSE, .out_channels = 32, .relu = 1},
    {.op = LM_OP_DROPOUT, .rate = -1},
    {.op = LM_OP_DENSE, .out_channels = 24, .relu = 1},
};

static void test_mlp(void **state) {
    fixture *fx = *state;
    lm_net_desc d = {MLP, 3, 1, 8, 8, 10};
    double loss;
    lm_trainer *t = trained(fx, &d, 1, &loss);
    /* Layer 0 through dropout into dense layer 2; layer 2 into the classifier. */
    double e0 = transform(fx, t, &d, loss, WIDER, 0, 48, 0.0, NULL);
    double e2 = transform(fx, t, &d, loss, WIDER, 2, 40, 0.0, NULL);
    double e3 = transform(fx, t, &d, loss, DEEPER, 0, 0, 0.0, NULL);
    double e4 = transform(fx, t, &d, loss, DEEPER, 2, 0, 0.0, NULL);
    print_message("MLP relative logit differences: %.2g %.2g %.2g %.2g\n", e0, e2, e3, e4);
    assert_true(e0 <= 1e-4 && e2 <= 1e-4 && e3 <= 1e-4 && e4 <= 1e-4);
    /* Noise breaks the symmetry: the function moves, a little. */
    double en = transform(fx, t, &d, loss, WIDER, 0, 48, 0.1, NULL);
    print_message("MLP with noise 0.1: %.2g\n", en);
    assert_true(en > 1e-5 && en < 0.2);
    lm_trainer_destroy(&t);
}

static const lm_layer_desc CNN[] = {
    {.op = LM_OP_CONV, .out_channels = 8, .kernel = 3, .padding = -1},
    {.op = LM_OP_BATCHNORM},
    {.op = LM_OP_RELU},
    {.op = LM_OP_MAXPOOL, .kernel = 2},
    {.op = LM_OP_CONV, .out_channels = 16, .kernel = 3, .padding = -1},
    {.op = LM_OP_BATCHNORM},
    {.op = LM_OP_RELU},
    {.op = LM_OP_DENSE, .out_channels = 32, .relu = 1},
};

static void test_cnn(void **state) {
    fixture *fx = *state;
    lm_net_desc d = {CNN, 8, 1, 8, 8, 10};
    double loss;
    lm_trainer *t = trained(fx, &d, 1, &loss);
    /* Conv 0 through BN, ReLU, max pooling into conv 4; conv 4 through BN and ReLU
     * into a dense layer reading 16 x 4 x 4; the dense layer into the classifier. */
    double e0 = transform(fx, t, &d, loss, WIDER, 0, 13, 0.0, NULL);
    double e4 = transform(fx, t, &d, loss, WIDER, 4, 20, 0.0, NULL);
    double e7 = transform(fx, t, &d, loss, WIDER, 7, 50, 0.0, NULL);
    lm_net_desc cd;
    double e8 = transform(fx, t, &d, loss, DEEPER, 0, 3, 0.0, &cd);
    /* The identity convolution went after the ReLU (layer 2), before the pooling. */
    assert_int_equal(cd.n_layers, 9);
    assert_int_equal(cd.layers[3].op, LM_OP_CONV);
    assert_int_equal(cd.layers[3].out_channels, 8);
    assert_int_equal(cd.layers[4].op, LM_OP_MAXPOOL);
    free((void *)cd.layers);
    double e9 = transform(fx, t, &d, loss, DEEPER, 4, 5, 0.0, NULL);
    print_message("CNN relative logit differences: %.2g %.2g %.2g %.2g %.2g\n", e0, e4, e7, e8, e9);
    assert_true(e0 <= 1e-4 && e4 <= 1e-4 && e7 <= 1e-4 && e8 <= 1e-4 && e9 <= 1e-4);
    double en = transform(fx, t, &d, loss, WIDER, 4, 20, 0.05, NULL);
    print_message("CNN with noise 0.05: %.2g\n", en);
    assert_true(en > 1e-5 && en < 0.2);
    lm_trainer_destroy(&t);
}

/* Chained transformations and skip connections: deepening renumbers the inputs of
 * later layers (an explicit skip into a sum), widening a layer whose consumer is
 * reached through a deepened one. */
static void test_skip_and_chain(void **state) {
    fixture *fx = *state;
    lm_layer_desc L[] = {
        {.op = LM_OP_CONV, .out_channels = 8, .kernel = 3, .padding = -1, .relu = 1},
        {.op = LM_OP_CONV, .out_channels = 8, .kernel = 3, .padding = -1, .relu = 1},
        {.op = LM_OP_ADD, .inputs = {0, 1}, .n_inputs = 2},
        {.op = LM_OP_GLOBAL_AVGPOOL},
    };
    lm_net_desc d = {L, 4, 1, 8, 8, 10};
    double loss;
    lm_trainer *t = trained(fx, &d, 1, &loss);
    lm_net_desc cd;
    double e = transform(fx, t, &d, loss, DEEPER, 0, 3, 0.0, &cd);
    assert_true(e <= 1e-4);
    /* The new layer 1 reads layer 0; the sum reads it and the old layer 1 (now 2). */
    assert_int_equal(cd.layers[1].op, LM_OP_CONV);
    assert_int_equal(cd.layers[3].inputs[0], 1);
    assert_int_equal(cd.layers[3].inputs[1], 2);
    free((void *)cd.layers);

    /* Layer 0 feeds the sum as well as conv 1: no single consumer to widen into. */
    const float *w;
    size_t n;
    lm_trainer_weights(t, &w, &n);
    lm_layer_desc CL[CAP];
    float *cw = malloc(4 * n * sizeof *cw);
    assert_non_null(cw);
    lm_rng r;
    lm_rng_init(&r, 1, 2, 3);
    assert_int_equal(lm_net2wider(&d, w, 0, 12, 0.0, &r, CL, CAP, &cd, cw, 4 * n), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "read by 2 layers"));
    lm_error_clear();
    /* Layer 1 feeds the sum only. */
    assert_int_equal(lm_net2wider(&d, w, 1, 12, 0.0, &r, CL, CAP, &cd, cw, 4 * n), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "kind add"));
    lm_error_clear();
    free(cw);
    lm_trainer_destroy(&t);
}

static void test_refusals(void **state) {
    fixture *fx = *state;
    lm_net_desc d = {CNN, 8, 1, 8, 8, 10};
    lm_trainer *t = trained(fx, &d, 0, NULL);
    const float *w;
    size_t n;
    lm_trainer_weights(t, &w, &n);
    /* 8 x 9 + 8, BN 16 (+ 16 statistics), 16 x 72 + 16, BN 32 (+ 32), 256 x 32 + 32,
     * 32 x 10 + 10 */
    assert_int_equal(n, 80 + 32 + 1168 + 64 + 8224 + 330);
    long np;
    assert_int_equal(lm_net_check(&d, &np, NULL), LM_OK);
    assert_int_equal(n, (size_t)np + 48);
    lm_layer_desc CL[CAP];
    lm_net_desc cd;
    size_t cap = 4 * n;
    float *cw = malloc(cap * sizeof *cw);
    assert_non_null(cw);
    lm_rng r;
    lm_rng_init(&r, 1, 2, 3);
#define REFUSED(call, text)                                                                 \
    do {                                                                                    \
        assert_int_equal(call, LM_EINVAL);                                                  \
        if (!strstr(lm_error_message(), text))                                              \
            fail_msg("expected '%s' in: %s", text, lm_error_message());                     \
        lm_error_clear();                                                                   \
    } while (0)
    REFUSED(lm_net2wider(&d, w, 1, 12, 0.0, &r, CL, CAP, &cd, cw, cap),
            "layer 1 is batchnorm; only conv and dense");
    REFUSED(lm_net2wider(&d, w, 0, 8, 0.0, &r, CL, CAP, &cd, cw, cap), "must be 9 to 65536, got 8");
    REFUSED(lm_net2wider(&d, w, 9, 12, 0.0, &r, CL, CAP, &cd, cw, cap), "layer 9 does not exist");
    REFUSED(lm_net2wider(&d, w, 0, 12, -1.0, &r, CL, CAP, &cd, cw, cap), "noise");
    REFUSED(lm_net2wider(&d, w, 0, 12, 0.0, &r, CL, 3, &cd, cw, cap), "capacity is 3");
    REFUSED(lm_net2wider(&d, w, 0, 12, 0.0, &r, CL, CAP, &cd, cw, 100), "the buffer holds 100");
    REFUSED(lm_net2deeper(&d, w, 0, 4, CL, CAP, &cd, cw, cap), "must be odd");
    /* The dense layer without its ReLU goes straight to the classifier. */
    lm_layer_desc L2[] = {{.op = LM_OP_DENSE, .out_channels = 16}};
    lm_net_desc d2 = {L2, 1, 1, 8, 8, 10};
    REFUSED(lm_net2deeper(&d2, w, 0, 1, CL, CAP, &cd, cw, cap), "goes to the classifier");
    /* A separable convolution consumer is grouped. */
    lm_layer_desc L3[] = {{.op = LM_OP_CONV, .out_channels = 4, .kernel = 3, .padding = -1},
                          {.op = LM_OP_SEPCONV, .out_channels = 4, .kernel = 3, .padding = -1}};
    lm_net_desc d3 = {L3, 2, 1, 8, 8, 10};
    REFUSED(lm_net2wider(&d3, w, 0, 6, 0.0, &r, CL, CAP, &cd, cw, cap), "grouped");
#undef REFUSED
    /* Weight vectors of the wrong length are refused, and nothing changes. */
    uint64_t before = lm_trainer_checksum(t);
    assert_int_equal(lm_trainer_set_weights(t, w, n - 1), LM_EINVAL);
    lm_error_clear();
    assert_true(lm_trainer_checksum(t) == before);
    assert_int_equal(lm_net_param_count(&d2), 64 * 16 + 16 + 16 * 10 + 10);
    free(cw);
    lm_trainer_destroy(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp),
        cmocka_unit_test(test_cnn),
        cmocka_unit_test(test_skip_and_chain),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
