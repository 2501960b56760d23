/* Unit tests of Net2Net (lm_net2wider, lm_net2deeper) on networks trained one epoch
 * on digits: children given the computed weights produce the parents' logits within
 * 1e-4 (relative, before any training) for dense and convolutional layers (deepening
 * a conv + BN + ReLU network with its own normalization too), noise
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

typedef enum { WIDER, DEEPER, DEEPER_BN } op;

/* Transforms the trained parent at layer (to width, or with an identity of kernel
 * `arg`; DEEPER_BN: layer is a conv followed by BN and ReLU, layer + 2, whose output's
 * statistics over the training set the new normalization undoes), checks the child's
 * function against the parent's, then trains the child one epoch: its validation loss
 * is no worse than the parent's last + 0.05. Returns the relative logit difference. */
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
    int rc;
    if (kind == DEEPER_BN) {
        float mean[64], var[64];
        rc = lm_trainer_activation_stats(parent, pd, layer + 2, (int)fx->train.n, mean, var);
        if (rc == LM_OK)
            rc = lm_net2deeper_bn(pd, pw, layer, arg, mean, var, CL, CAP, &cd, cw, cap);
    } else {
        rc = kind == WIDER ? lm_net2wider(pd, pw, layer, arg, noise, &r, CL, CAP, &cd, cw, cap)
                           : lm_net2deeper(pd, pw, layer, arg, CL, CAP, &cd, cw, cap);
    }
    if (rc < 0) fail_msg("transform: %s", lm_error_message());
    size_t cn = lm_net_param_count(&cd);
    assert_true(cn > pn);
    lm_trainer *child = with_weights(fx, &cd, cw, cn);

    double diff = logit_diff(fx, parent, child);
    lm_epoch_stats s;
    assert_int_equal(lm_trainer_epoch(child, &s), LM_OK);
    assert_false(s.diverged);
    if (!(s.val_loss <= parent_loss + 0.05))
        fail_msg("the child's validation loss after an epoch is %g, the parent's %g", s.val_loss,
                 parent_loss);
    lm_trainer_destroy(&child);
    free(cw);
    if (cd_out) {
        *cd_out = cd;
    } else {
        free(CL);
    }
    return diff;
}

/* d has n_layers layers, and layers from.. are of the kinds ops[0..n). */
static void expect_ops(const lm_net_desc *d, int n_layers, int from, int n, const lm_op *ops) {
    assert_int_equal(d->n_layers, n_layers);
    for (int i = 0; i < n; i++)
        if (d->layers[from + i].op != ops[i])
            fail_msg("layer %d is op %d, expected %d", from + i, (int)d->layers[from + i].op,
                     (int)ops[i]);
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
    static const lm_op after_relu[] = {LM_OP_RELU, LM_OP_CONV, LM_OP_MAXPOOL};
    expect_ops(&cd, 9, 2, 3, after_relu);
    assert_int_equal(cd.layers[3].out_channels, 8);
    free((void *)cd.layers);
    double e9 = transform(fx, t, &d, loss, DEEPER, 4, 5, 0.0, NULL);
    print_message("CNN relative logit differences: %.2g %.2g %.2g %.2g %.2g\n", e0, e4, e7, e8, e9);
    assert_true(e0 <= 1e-4 && e4 <= 1e-4 && e7 <= 1e-4 && e8 <= 1e-4 && e9 <= 1e-4);
    double en = transform(fx, t, &d, loss, WIDER, 4, 20, 0.05, NULL);
    print_message("CNN with noise 0.05: %.2g\n", en);
    assert_true(en > 1e-5 && en < 0.2);
    lm_trainer_destroy(&t);
}

/* Deepening a conv + BN + ReLU network with a conv + BN + ReLU layer.
 * The new normalization's scale and shift are the standard deviation and mean of the ReLU
 * output it reads, so the child computes the parent's function; the statistics
 * themselves match a direct computation on an identity layer over the input. */
static void test_deeper_bn(void **state) {
    fixture *fx = *state;
    lm_net_desc d = {CNN, 8, 1, 8, 8, 10};
    double loss;
    lm_trainer *t = trained(fx, &d, 1, &loss);
    lm_net_desc cd;
    double e0 = transform(fx, t, &d, loss, DEEPER_BN, 0, 1, 0.0, &cd);
    /* conv, BN, ReLU, then the new conv (no fused ReLU), BN, ReLU, then the pooling */
    static const lm_op inserted[] = {LM_OP_RELU, LM_OP_CONV, LM_OP_BATCHNORM, LM_OP_RELU,
                                     LM_OP_MAXPOOL};
    expect_ops(&cd, 11, 2, 5, inserted);
    assert_int_equal(cd.layers[3].relu, 0);
    free((void *)cd.layers);
    double e4 = transform(fx, t, &d, loss, DEEPER_BN, 4, 3, 0.0, NULL);
    print_message("CNN deepened with BN, relative logit differences: %.2g %.2g\n", e0, e4);
    assert_true(e0 <= 1e-4 && e4 <= 1e-4);

    /* In evaluation any statistics give the identity; training normalizes by the
     * batch's and moves the running statistics toward them. After an epoch at a
     * learning rate of 1e-9 the child still computes the parent's function when its
     * normalization undid the measured statistics, and not when it undid mean 0,
     * variance 1 (what a new layer would start from). */
    const float *w;
    size_t n;
    lm_trainer_weights(t, &w, &n);
    float ones[8], zeros[8], mean[8], var[8];
    for (int i = 0; i < 8; i++) ones[i] = 1, zeros[i] = 0;
    assert_int_equal(lm_trainer_activation_stats(t, &d, 2, (int)fx->train.n, mean, var), LM_OK);
    for (int i = 0; i < 8; i++) assert_true(mean[i] >= 0 && var[i] >= 0);
    lm_train_params still = fx->p;
    still.lr = 1e-9;
    /* The parent's own normalizations move too: the reference is the parent after the
     * same epoch (same seed, so the same batches). */
    lm_trainer *ref;
    assert_int_equal(lm_trainer_create_from_desc(&d, &still, &fx->train, &fx->val, 9, 2, &ref),
                     LM_OK);
    assert_int_equal(lm_trainer_set_weights(ref, w, n), LM_OK);
    lm_epoch_stats es;
    assert_int_equal(lm_trainer_epoch(ref, &es), LM_OK);
    double after[2];
    for (int k = 0; k < 2; k++) {
        lm_layer_desc CL[CAP];
        size_t cap = 2 * n;
        float *cw = malloc(cap * sizeof *cw);
        assert_non_null(cw);
        assert_int_equal(lm_net2deeper_bn(&d, w, 0, 3, k ? zeros : mean, k ? ones : var, CL, CAP,
                                          &cd, cw, cap),
                         LM_OK);
        lm_trainer *c;
        assert_int_equal(lm_trainer_create_from_desc(&cd, &still, &fx->train, &fx->val, 9, 2, &c),
                         LM_OK);
        assert_int_equal(lm_trainer_set_weights(c, cw, lm_net_param_count(&cd)), LM_OK);
        assert_true(logit_diff(fx, t, c) <= 1e-4);
        assert_int_equal(lm_trainer_epoch(c, &es), LM_OK);
        after[k] = logit_diff(fx, ref, c);
        lm_trainer_destroy(&c);
        free(cw);
    }
    print_message("after an epoch at lr 1e-9: %.2g (measured statistics), %.2g (0 and 1)\n",
                  after[0], after[1]);
    assert_true(after[0] < 0.05 && after[1] > 4 * after[0]);
    lm_trainer_destroy(&ref);
    lm_trainer_destroy(&t);

    /* An identity over the input: its statistics are the input's, per batch of 64. */
    lm_layer_desc L[] = {{.op = LM_OP_IDENTITY},
                         {.op = LM_OP_DENSE, .out_channels = 16, .relu = 1}};
    lm_net_desc di = {L, 2, 1, 8, 8, 10};
    lm_trainer *ti = trained(fx, &di, 0, NULL);
    float m1, v1;
    int ns = 300;
    assert_int_equal(lm_trainer_activation_stats(ti, &di, 0, ns, &m1, &v1), LM_OK);
    double mu = 0, v = 0;
    for (int at = 0; at < ns; at += 64) {
        int m = ns - at < 64 ? ns - at : 64;
        double sum = 0, sum2 = 0;
        for (int64_t i = (int64_t)at * 64; i < (int64_t)(at + m) * 64; i++) {
            sum += fx->train.X[i];
            sum2 += (double)fx->train.X[i] * fx->train.X[i];
        }
        double bm = sum / (m * 64.0);
        mu += bm * m / ns;
        v += (sum2 / (m * 64.0) - bm * bm) * m / ns;
    }
    if (!(fabs(m1 - mu) < 1e-5 * (1 + fabs(mu)) && fabs(v1 - v) < 1e-4 * (1 + v)))
        fail_msg("statistics %g %g, expected %g %g", m1, v1, mu, v);
    /* Another network's description, a layer past the end, too many samples. */
    assert_int_equal(lm_trainer_activation_stats(ti, &d, 0, ns, &m1, &v1), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "not the trainer's network"));
    lm_error_clear();
    assert_int_equal(lm_trainer_activation_stats(ti, &di, 2, ns, &m1, &v1), LM_EINVAL);
    lm_error_clear();
    assert_int_equal(lm_trainer_activation_stats(ti, &di, 0, (int)fx->train.n + 1, &m1, &v1),
                     LM_EINVAL);
    lm_error_clear();
    lm_trainer_destroy(&ti);
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
    float mean[8] = {0}, var[8] = {1, 1, 1, -1, 1, 1, 1, 1};
    REFUSED(lm_net2deeper_bn(&d, w, 0, 3, mean, var, CL, CAP, &cd, cw, cap),
            "channel 3's statistics are mean 0, variance -1");
    REFUSED(lm_net2deeper_bn(&d, w, 0, 3, NULL, var, CL, CAP, &cd, cw, cap), "no statistics");
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
        cmocka_unit_test(test_deeper_bn),
        cmocka_unit_test(test_skip_and_chain),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
