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

#define REFUSED_AT(call, text)                                                              \
    do {                                                                                    \
        assert_int_equal(call, LM_EINVAL);                                                  \
        if (!strstr(lm_error_message(), text))                                              \
            fail_msg("expected '%s' in: %s", text, lm_error_message());                     \
        lm_error_clear();                                                                   \
    } while (0)

/* A parent trained `epochs` epochs, with a copy of its weights.
 * cw has room for a child of mult times as many floats. */
typedef struct parent {
    lm_trainer *t;
    float *w, *cw;
    size_t n;
} parent;

static parent parent_of(const fixture *fx, const lm_net_desc *d, int epochs, size_t mult) {
    parent p = {trained(fx, d, epochs, NULL), NULL, NULL, 0};
    const float *w;
    lm_trainer_weights(p.t, &w, &p.n);
    p.w = malloc(p.n * sizeof *p.w);
    p.cw = malloc(mult * p.n * sizeof *p.cw);
    assert_true(p.w && p.cw);
    memcpy(p.w, w, p.n * sizeof *p.w);
    return p;
}

static void parent_fini(parent *p) {
    lm_trainer_destroy(&p->t);
    free(p->w);
    free(p->cw);
}

/* Net2Narrower keeps the units of largest L1 norm.
 * It is exact when the dropped ones are dead (MLP: units 5 and 20 of layer 0, whose incoming weights are made tiny and biases -10);
 * otherwise near the parent's function, and training goes on from there (CNN: conv 4
 * from 16 filters to 8, the parent's 8 of largest norm in their order, with their
 * normalization, ending an epoch below a network of the child's shape trained from
 * scratch for the same epoch). */
static void test_narrower(void **state) {
    fixture *fx = *state;
    lm_net_desc d = {MLP, 3, 1, 8, 8, 10};
    parent m = parent_of(fx, &d, 1, 1);
    float *w = m.w, *cw = m.cw;
    /* dense 0: 64 x 32 weights (in x out), then its 32 biases */
    for (int u = 5; u <= 20; u += 15) {
        for (int i = 0; i < 64; i++) w[i * 32 + u] *= 1e-3f;
        w[2048 + u] = -10;
    }
    lm_trainer *p = with_weights(fx, &d, w, m.n);
    lm_layer_desc CL[CAP];
    lm_net_desc cd;
    assert_int_equal(lm_net2narrower(&d, w, 0, 30, CL, CAP, &cd, cw, m.n), LM_OK);
    size_t cn = lm_net_param_count(&cd);
    assert_int_equal(cn, m.n - 2 * (64 + 1) - 2 * 24);
    assert_int_equal(cd.layers[0].out_channels, 30);
    for (int j = 0; j < 30; j++) {
        int u = j < 5 ? j : j < 19 ? j + 1 : j + 2;
        for (int i = 0; i < 64; i++) assert_true(cw[i * 30 + j] == w[i * 32 + u]);
    }
    lm_trainer *c = with_weights(fx, &cd, cw, cn);
    double exact = logit_diff(fx, p, c);
    lm_trainer_destroy(&c);
    lm_trainer_destroy(&p);
    parent_fini(&m);

    lm_net_desc dc = {CNN, 8, 1, 8, 8, 10};
    parent q = parent_of(fx, &dc, 1, 1);
    w = q.w, cw = q.cw;
    assert_int_equal(lm_net2narrower(&dc, w, 4, 8, CL, CAP, &cd, cw, q.n), LM_OK);
    cn = lm_net_param_count(&cd);
    /* conv 4's 16 filters of 8 x 3 x 3 start at 96 (after conv 0's 80 and BN 1's 16) */
    double norm[16];
    for (int f = 0; f < 16; f++) {
        norm[f] = 0;
        for (int i = 0; i < 72; i++) norm[f] += fabs(w[96 + f * 72 + i]);
    }
    int kept = 0;
    for (int f = 0; f < 16; f++) {
        int above = 0;
        for (int g = 0; g < 16; g++) above += norm[g] > norm[f];
        if (above >= 8) continue;
        /* the child's filter `kept`, its bias and its normalization's scale and shift */
        assert_memory_equal(cw + 96 + kept * 72, w + 96 + f * 72, 72 * sizeof *w);
        assert_true(cw[96 + 576 + kept] == w[96 + 1152 + f]);
        assert_true(cw[680 + kept] == w[1264 + f] && cw[688 + kept] == w[1280 + f]);
        kept++;
    }
    assert_int_equal(kept, 8);
    c = with_weights(fx, &cd, cw, cn);
    double approx = logit_diff(fx, q.t, c);
    lm_epoch_stats sc, ss;
    assert_int_equal(lm_trainer_epoch(c, &sc), LM_OK);
    lm_trainer *scratch = trained(fx, &cd, 1, NULL);
    assert_int_equal(lm_trainer_evaluate(scratch, &fx->val, &ss.val_loss, &ss.val_accuracy), LM_OK);
    print_message("narrower: relative logit differences %.2g (dead units), %.2g (CNN); after an "
                  "epoch the narrowed CNN's validation loss is %.3f, from scratch %.3f\n",
                  exact, approx, sc.val_loss, ss.val_loss);
    assert_true(exact <= 1e-6);
    assert_true(approx > 1e-3);
    assert_false(sc.diverged);
    assert_true(sc.val_loss < ss.val_loss);
    REFUSED_AT(lm_net2narrower(&dc, w, 4, 16, CL, CAP, &cd, cw, q.n), "must be 1 to 15, got 16");
    lm_trainer_destroy(&scratch);
    lm_trainer_destroy(&c);
    parent_fini(&q);
}

/* Removing the layers a Net2Deeper inserted gives back the parent exactly.
 * Description and weights come back, statistics included; a conv + BN + ReLU block of 8 channels over 8
 * goes with the rest kept, and the child trains; blocks that change a kept layer's
 * shape, the last layer and blocks read from outside are refused. */
static void test_remove_layers(void **state) {
    fixture *fx = *state;
    lm_layer_desc CL[CAP], CL2[CAP];
    lm_net_desc cd, back;
    const lm_net_desc nets[2] = {{MLP, 3, 1, 8, 8, 10}, {CNN, 8, 1, 8, 8, 10}};
    for (int k = 0; k < 2; k++) {
        const lm_net_desc *d = &nets[k];
        parent m = parent_of(fx, d, 1, 2);
        size_t cap = 2 * m.n;
        float *bw = malloc(cap * sizeof *bw);
        assert_non_null(bw);
        int first, count;
        if (k == 0) {
            assert_int_equal(lm_net2deeper(d, m.w, 0, 1, CL, CAP, &cd, m.cw, cap), LM_OK);
            first = 1, count = 1;
        } else {
            float mean[8], var[8];
            assert_int_equal(lm_trainer_activation_stats(m.t, d, 2, 512, mean, var), LM_OK);
            assert_int_equal(lm_net2deeper_bn(d, m.w, 0, 3, mean, var, CL, CAP, &cd, m.cw, cap),
                             LM_OK);
            first = 3, count = 3;
        }
        assert_int_equal(lm_net_remove_layers(&cd, m.cw, first, count, CL2, CAP, &back, bw, cap),
                         LM_OK);
        assert_int_equal(back.n_layers, d->n_layers);
        for (int i = 0; i < d->n_layers; i++) {
            assert_int_equal(back.layers[i].op, d->layers[i].op);
            assert_int_equal(back.layers[i].out_channels, d->layers[i].out_channels);
        }
        assert_int_equal(lm_net_param_count(&back), m.n);
        assert_memory_equal(bw, m.w, m.n * sizeof *bw);
        parent_fini(&m);
        free(bw);
    }

    lm_layer_desc G[] = {
        {.op = LM_OP_CONV, .out_channels = 8, .kernel = 3, .padding = -1},
        {.op = LM_OP_BATCHNORM},
        {.op = LM_OP_RELU},
        {.op = LM_OP_CONV, .out_channels = 8, .kernel = 3, .stride = 2, .padding = -1},
        {.op = LM_OP_BATCHNORM},
        {.op = LM_OP_RELU},
        {.op = LM_OP_GLOBAL_AVGPOOL},
    };
    lm_net_desc dg = {G, 7, 1, 8, 8, 10};
    parent g = parent_of(fx, &dg, 1, 1);
    assert_int_equal(lm_net_remove_layers(&dg, g.w, 3, 3, CL, CAP, &cd, g.cw, g.n), LM_OK);
    size_t cn = lm_net_param_count(&cd);
    /* conv 3 (8 x 72 + 8), its BN (16 + 16 statistics) are gone */
    assert_int_equal(cn, g.n - 584 - 32);
    assert_int_equal(cd.n_layers, 4);
    assert_int_equal(cd.layers[3].op, LM_OP_GLOBAL_AVGPOOL);
    assert_int_equal(cd.layers[3].n_inputs, 1);
    assert_int_equal(cd.layers[3].inputs[0], 2);
    /* conv 0 and BN 1 (96), the classifier (90): the parent's */
    assert_memory_equal(g.cw, g.w, 96 * sizeof *g.w);
    assert_memory_equal(g.cw + 96, g.w + 96 + 584 + 16, 90 * sizeof *g.w);
    lm_trainer *c = with_weights(fx, &cd, g.cw, cn);
    lm_epoch_stats s;
    assert_int_equal(lm_trainer_epoch(c, &s), LM_OK);
    assert_false(s.diverged);
    lm_trainer_destroy(&c);
    parent_fini(&g);

    lm_net_desc d = {CNN, 8, 1, 8, 8, 10};
    parent r = parent_of(fx, &d, 0, 2);
    size_t cap = 2 * r.n;
    /* conv 4 turns 8 channels into 16; the pooling halves what the dense layer flattens */
    REFUSED_AT(lm_net_remove_layers(&d, r.w, 4, 3, CL, CAP, &cd, r.cw, cap), "changes the shape");
    REFUSED_AT(lm_net_remove_layers(&d, r.w, 3, 1, CL, CAP, &cd, r.cw, cap), "changes the shape");
    REFUSED_AT(lm_net_remove_layers(&d, r.w, 7, 1, CL, CAP, &cd, r.cw, cap), "the last layer stays");
    REFUSED_AT(lm_net_remove_layers(&d, r.w, 2, 0, CL, CAP, &cd, r.cw, cap), "cannot go");
    /* A sum reads both convs: without them both, it would read a removed one. */
    lm_layer_desc S[] = {
        {.op = LM_OP_CONV, .out_channels = 8, .kernel = 3, .padding = -1, .relu = 1},
        {.op = LM_OP_CONV, .out_channels = 8, .kernel = 3, .padding = -1, .relu = 1},
        {.op = LM_OP_ADD, .inputs = {0, 1}, .n_inputs = 2},
        {.op = LM_OP_GLOBAL_AVGPOOL},
    };
    lm_net_desc ds = {S, 4, 1, 8, 8, 10};
    REFUSED_AT(lm_net_remove_layers(&ds, r.w, 0, 2, CL, CAP, &cd, r.cw, cap),
               "layer 2 reads layer 0 across the block 0 to 1");
    parent_fini(&r);
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
    REFUSED_AT(lm_net2wider(&d, w, 1, 12, 0.0, &r, CL, CAP, &cd, cw, cap),
            "layer 1 is batchnorm; only conv and dense");
    REFUSED_AT(lm_net2wider(&d, w, 0, 8, 0.0, &r, CL, CAP, &cd, cw, cap), "must be 9 to 65536, got 8");
    REFUSED_AT(lm_net2wider(&d, w, 9, 12, 0.0, &r, CL, CAP, &cd, cw, cap), "layer 9 does not exist");
    REFUSED_AT(lm_net2wider(&d, w, 0, 12, -1.0, &r, CL, CAP, &cd, cw, cap), "noise");
    REFUSED_AT(lm_net2wider(&d, w, 0, 12, 0.0, &r, CL, 3, &cd, cw, cap), "capacity is 3");
    REFUSED_AT(lm_net2wider(&d, w, 0, 12, 0.0, &r, CL, CAP, &cd, cw, 100), "the buffer holds 100");
    REFUSED_AT(lm_net2deeper(&d, w, 0, 4, CL, CAP, &cd, cw, cap), "must be odd");
    float mean[8] = {0}, var[8] = {1, 1, 1, -1, 1, 1, 1, 1};
    REFUSED_AT(lm_net2deeper_bn(&d, w, 0, 3, mean, var, CL, CAP, &cd, cw, cap),
            "channel 3's statistics are mean 0, variance -1");
    REFUSED_AT(lm_net2deeper_bn(&d, w, 0, 3, NULL, var, CL, CAP, &cd, cw, cap), "no statistics");
    /* The dense layer without its ReLU goes straight to the classifier. */
    lm_layer_desc L2[] = {{.op = LM_OP_DENSE, .out_channels = 16}};
    lm_net_desc d2 = {L2, 1, 1, 8, 8, 10};
    REFUSED_AT(lm_net2deeper(&d2, w, 0, 1, CL, CAP, &cd, cw, cap), "goes to the classifier");
    /* A separable convolution consumer is grouped. */
    lm_layer_desc L3[] = {{.op = LM_OP_CONV, .out_channels = 4, .kernel = 3, .padding = -1},
                          {.op = LM_OP_SEPCONV, .out_channels = 4, .kernel = 3, .padding = -1}};
    lm_net_desc d3 = {L3, 2, 1, 8, 8, 10};
    REFUSED_AT(lm_net2wider(&d3, w, 0, 6, 0.0, &r, CL, CAP, &cd, cw, cap), "grouped");
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
        cmocka_unit_test(test_narrower),
        cmocka_unit_test(test_remove_layers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
