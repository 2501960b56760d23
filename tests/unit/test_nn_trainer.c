/* Unit tests of the trainer: learning a separable synthetic problem, bitwise
 * determinism for a (seed, trial), divergence as a result, evaluation and the
 * argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/nn.h"

#include <math.h>
#include <string.h>

enum { F = 20, K = 3 };

/* Three Gaussian blobs in 20 dimensions: centers with coordinates N(0, 1) drawn from
 * (1, 0, 0), samples center + N(0, 0.7^2). The centers lie about 6 apart, so a linear
 * classifier separates them almost perfectly. */
static void blobs(lm_dataset *d, int64_t n, uint64_t sub) {
    assert_int_equal(lm_dataset_alloc(d, n, F, 1, 1, K), LM_OK);
    lm_rng r;
    double centers[K][F];
    lm_rng_init(&r, 1, 0, 0);
    for (int k = 0; k < K; k++)
        for (int j = 0; j < F; j++) centers[k][j] = lm_rng_normal(&r);
    lm_rng_init(&r, 1, 1, sub);
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(i % K);
        d->y[i] = k;
        for (int j = 0; j < F; j++) d->X[i * F + j] = (float)(centers[k][j] + 0.7 * lm_rng_normal(&r));
    }
}

/* 8 x 8 single-channel images of a bar: horizontal (class 0), vertical (1) or
 * diagonal (2) at a random position, on noise of sd 0.3. */
static void bars(lm_dataset *d, int64_t n, uint64_t sub) {
    enum { S = 8 };
    assert_int_equal(lm_dataset_alloc(d, n, 1, S, S, K), LM_OK);
    lm_rng r;
    lm_rng_init(&r, 2, 1, sub);
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(i % K), at = 1 + (int)lm_rng_below(&r, S - 2);
        float *x = d->X + i * S * S;
        d->y[i] = k;
        for (int q = 0; q < S * S; q++) x[q] = (float)(0.3 * lm_rng_normal(&r));
        for (int j = 0; j < S; j++) {
            int y = k == 0 ? at : j, c = k == 1 ? at : k == 0 ? j : (j + at) % S;
            x[y * S + c] += 1.0f;
        }
    }
}

typedef struct fixture {
    lm_dataset train, val, itrain, ival;
} fixture;

static int setup(void **state) {
    static fixture fx;
    blobs(&fx.train, 601, 1); /* 601: the last batch is partial */
    blobs(&fx.val, 150, 2);
    bars(&fx.itrain, 600, 1);
    bars(&fx.ival, 150, 2);
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    lm_dataset_free(&fx->train);
    lm_dataset_free(&fx->val);
    lm_dataset_free(&fx->itrain);
    lm_dataset_free(&fx->ival);
    return 0;
}

static void small_params(lm_train_params *p) {
    lm_train_params_default(p);
    p->batch_size = 32;
    p->width = 32;
    p->depth = 2;
    p->epochs = 3;
}

static void test_learns_blobs(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    small_params(&p);
    p.dropout = 0.2;
    lm_trainer *t;
    assert_int_equal(lm_trainer_create(&p, &fx->train, &fx->val, 5, 1, &t), LM_OK);
    assert_int_equal(lm_trainer_param_count(t), F * 32 + 32 + 32 * 32 + 32 + 32 * K + K);
    long n;
    float *w = lm_trainer_params(t, &n);
    assert_non_null(w);
    assert_int_equal(n, lm_trainer_param_count(t));
    lm_epoch_stats s;
    double first_loss = 0;
    for (int e = 0; e < p.epochs; e++) {
        assert_int_equal(lm_trainer_epoch(t, &s), LM_OK);
        assert_int_equal(s.epoch, e + 1);
        assert_false(s.diverged);
        assert_true(s.seconds > 0);
        assert_float_equal(s.lr, 0.05, 1e-12);
        if (e == 0) first_loss = s.train_loss;
    }
    assert_int_equal(lm_trainer_epochs_done(t), 3);
    print_message("blobs after 3 epochs: train loss %.4f (first %.4f), val loss %.4f, val acc %.4f\n",
                  s.train_loss, first_loss, s.val_loss, s.val_accuracy);
    assert_true(s.train_loss < first_loss);
    assert_true(s.val_accuracy > 0.9);
    assert_true(s.train_accuracy > 0.9);
    assert_true(s.val_loss < 0.5);
    /* Evaluation on the validation set gives the epoch's figures again. */
    double loss, acc;
    assert_int_equal(lm_trainer_evaluate(t, &fx->val, &loss, &acc), LM_OK);
    assert_float_equal(loss, s.val_loss, 1e-12);
    assert_float_equal(acc, s.val_accuracy, 1e-12);
    lm_trainer_destroy(&t);
    assert_null(t);
    lm_trainer_destroy(&t);
}

/* Same (params, data, seed, trial): bitwise the same losses and weights; another
 * trial id: different ones. */
static void test_deterministic(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    small_params(&p);
    p.dropout = 0.3;
    p.nesterov = 1;
    p.weight_decay = 1e-3;
    p.schedule = LM_SCHED_COSINE;
    lm_trainer *t[3];
    uint64_t trial[3] = {4, 4, 5};
    lm_epoch_stats s[3][2];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lm_trainer_create(&p, &fx->train, &fx->val, 99, trial[i], &t[i]), LM_OK);
        for (int e = 0; e < 2; e++) assert_int_equal(lm_trainer_epoch(t[i], &s[i][e]), LM_OK);
    }
    for (int e = 0; e < 2; e++) {
        assert_memory_equal(&s[0][e].train_loss, &s[1][e].train_loss, sizeof(double));
        assert_memory_equal(&s[0][e].val_loss, &s[1][e].val_loss, sizeof(double));
        assert_true(s[0][e].train_accuracy == s[1][e].train_accuracy);
        assert_true(s[0][e].train_loss != s[2][e].train_loss);
    }
    /* Cosine schedule: the lr falls over the run. */
    assert_true(s[0][1].lr < s[0][0].lr && s[0][0].lr < 0.05);
    long n;
    float *w0 = lm_trainer_params(t[0], &n), *w1 = lm_trainer_params(t[1], NULL);
    assert_memory_equal(w0, w1, sizeof(float) * (size_t)n);
    for (int i = 0; i < 3; i++) lm_trainer_destroy(&t[i]);
}

/* Divergence: weights of 1e30 overflow the logits to infinity, whose differences are
 * NaN; lr 100 keeps them there. */
static void test_diverges(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    small_params(&p);
    p.lr = 100;
    p.momentum = 0.99;
    lm_trainer *t;
    assert_int_equal(lm_trainer_create(&p, &fx->train, &fx->val, 1, 1, &t), LM_OK);
    long n;
    float *w = lm_trainer_params(t, &n);
    for (long i = 0; i < n; i++) w[i] = 1e30f;
    lm_epoch_stats s;
    assert_int_equal(lm_trainer_epoch(t, &s), LM_OK);
    assert_true(s.diverged);
    assert_true(isnan(s.train_loss));
    assert_true(s.train_accuracy == 0.0);
    /* Still usable afterwards: it reports the failure again rather than crashing. */
    assert_int_equal(lm_trainer_epoch(t, &s), LM_OK);
    assert_true(s.diverged);
    lm_trainer_destroy(&t);
}

/* Without a validation set, no hidden layers, batch larger than the data. */
static void test_edge_shapes(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    small_params(&p);
    p.depth = 0;
    p.batch_size = 4096;
    p.lr = 0.5;
    lm_trainer *t;
    assert_int_equal(lm_trainer_create(&p, &fx->train, NULL, 1, 1, &t), LM_OK);
    assert_int_equal(lm_trainer_param_count(t), F * K + K);
    lm_epoch_stats s;
    for (int e = 0; e < 3; e++) assert_int_equal(lm_trainer_epoch(t, &s), LM_OK);
    assert_false(s.diverged);
    assert_true(isnan(s.val_loss));
    assert_true(isfinite(s.train_loss));
    double loss, acc;
    assert_int_equal(lm_trainer_evaluate(t, &fx->val, &loss, &acc), LM_OK);
    assert_true(acc > 0.8);
    lm_trainer_destroy(&t);
}

static void test_errors(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    small_params(&p);
    lm_trainer *t;
    p.lr = -1;
    lm_error_clear();
    assert_int_equal(lm_trainer_create(&p, &fx->train, &fx->val, 1, 1, &t), LM_ERANGE);
    assert_null(t);
    assert_non_null(strstr(lm_error_message(), "lr"));
    lm_error_clear();
    small_params(&p);
    /* A label outside the classes is a data error, named. */
    fx->val.y[7] = K;
    assert_int_equal(lm_trainer_create(&p, &fx->train, &fx->val, 1, 1, &t), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "sample 7"));
    lm_error_clear();
    fx->val.y[7] = 7 % K;
    /* Feature counts must agree. */
    lm_dataset other;
    assert_int_equal(lm_dataset_alloc(&other, 5, F + 1, 1, 1, K), LM_OK);
    assert_int_equal(lm_trainer_create(&p, &fx->train, &other, 1, 1, &t), LM_EDATA);
    lm_error_clear();
    assert_int_equal(lm_trainer_create(&p, &fx->train, &fx->val, 1, 1, &t), LM_OK);
    double loss, acc;
    assert_int_equal(lm_trainer_evaluate(t, &other, &loss, &acc), LM_EDATA);
    lm_error_clear();
    lm_trainer_destroy(&t);
    lm_dataset_free(&other);
}

/* ---- image models ---- */

static double train_images(fixture *fx, const lm_net_desc *d, const lm_train_params *p,
                           const char *what) {
    lm_trainer *t;
    int rc = d ? lm_trainer_create_from_desc(d, p, &fx->itrain, &fx->ival, 3, 1, &t)
               : lm_trainer_create(p, &fx->itrain, &fx->ival, 3, 1, &t);
    if (rc < 0) fail_msg("%s: %s", what, lm_error_message());
    lm_epoch_stats s;
    for (int e = 0; e < p->epochs; e++) {
        assert_int_equal(lm_trainer_epoch(t, &s), LM_OK);
        assert_false(s.diverged);
    }
    print_message("%s: %ld parameters, %.0f FLOP/sample, val accuracy %.4f after %d epochs\n", what,
                  lm_trainer_param_count(t), lm_trainer_flops(t), s.val_accuracy, p->epochs);
    lm_trainer_destroy(&t);
    return s.val_accuracy;
}

static void test_cnn_learns(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    lm_train_params_default(&p);
    p.model = LM_MODEL_CNN;
    p.filters = 8;
    p.depth = 1;
    p.width = 32;
    p.batch_size = 32;
    p.epochs = 5;
    p.lr = 0.05;
    assert_true(train_images(fx, NULL, &p, "CNN") > 0.9);
    p.batchnorm = 1;
    p.kernel = 5;
    p.dropout = 0.2;
    assert_true(train_images(fx, NULL, &p, "CNN, batchnorm, 5x5") > 0.9);
    /* Augmentation on: flips, crops, cutout, mixup and noise; it still learns. */
    p.augment.flip = 1;
    p.augment.crop_padding = 1;
    p.augment.cutout = 2;
    p.augment.mixup_alpha = 0.2;
    p.augment.noise_std = 0.1;
    p.epochs = 6;
    assert_true(train_images(fx, NULL, &p, "CNN, batchnorm, augmented") > 0.8);
}

/* A small residual network with a separable convolution, a concatenation and
 * global average pooling, from a description. */
static void test_dag_learns(void **state) {
    fixture *fx = *state;
    lm_layer_desc L[] = {
        {.op = LM_OP_CONV, .out_channels = 16, .kernel = 3, .padding = -1},
        {.op = LM_OP_BATCHNORM},
        {.op = LM_OP_RELU},
        {.op = LM_OP_SEPCONV, .out_channels = 16, .kernel = 3, .padding = -1, .relu = 1},
        {.op = LM_OP_CONV, .out_channels = 16, .kernel = 3, .padding = -1, .dilation = 2},
        {.op = LM_OP_ADD, .inputs = {4, 2}, .n_inputs = 2},
        {.op = LM_OP_MAXPOOL, .kernel = 2},
        {.op = LM_OP_CONV, .out_channels = 32, .kernel = 3, .padding = -1, .stride = 2, .relu = 1},
        {.op = LM_OP_ADD, .inputs = {7, 6}, .n_inputs = 2, .out_channels = 32},
        {.op = LM_OP_AVGPOOL, .kernel = 3, .stride = 1, .padding = 1, .inputs = {6}, .n_inputs = 1},
        {.op = LM_OP_GLOBAL_AVGPOOL, .inputs = {8}, .n_inputs = 1},
        {.op = LM_OP_GLOBAL_AVGPOOL, .inputs = {9}, .n_inputs = 1},
        {.op = LM_OP_CONCAT, .inputs = {10, 11}, .n_inputs = 2},
    };
    lm_net_desc d = {L, 13, 1, 8, 8, K};
    long params;
    double flops;
    assert_int_equal(lm_net_check(&d, &params, &flops), LM_OK);
    lm_train_params p;
    lm_train_params_default(&p);
    p.batch_size = 32;
    p.epochs = 5;
    p.lr = 0.05;
    assert_true(train_images(fx, &d, &p, "residual DAG") > 0.9);
    /* The description must match the data. */
    d.n_classes = 4;
    lm_trainer *t;
    lm_error_clear();
    assert_int_equal(lm_trainer_create_from_desc(&d, &p, &fx->itrain, &fx->ival, 1, 1, &t), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "4 classes"));
    lm_error_clear();
    d.n_classes = K;
    d.in_h = 7;
    assert_int_equal(lm_trainer_create_from_desc(&d, &p, &fx->itrain, &fx->ival, 1, 1, &t), LM_EDATA);
    lm_error_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_blobs), cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_diverges),     cmocka_unit_test(test_edge_shapes),
        cmocka_unit_test(test_errors),       cmocka_unit_test(test_cnn_learns),
        cmocka_unit_test(test_dag_learns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
