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

typedef struct fixture {
    lm_dataset train, val;
} fixture;

static int setup(void **state) {
    static fixture fx;
    blobs(&fx.train, 601, 1); /* 601: the last batch is partial */
    blobs(&fx.val, 150, 2);
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    lm_dataset_free(&fx->train);
    lm_dataset_free(&fx->val);
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

static void test_diverges(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    small_params(&p);
    p.lr = 100;
    p.momentum = 0.99;
    lm_trainer *t;
    assert_int_equal(lm_trainer_create(&p, &fx->train, &fx->val, 1, 1, &t), LM_OK);
    lm_epoch_stats s;
    int diverged = 0;
    for (int e = 0; e < 3 && !diverged; e++) {
        assert_int_equal(lm_trainer_epoch(t, &s), LM_OK);
        diverged = s.diverged;
    }
    assert_true(diverged);
    assert_true(isnan(s.train_loss));
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_blobs), cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_diverges),     cmocka_unit_test(test_edge_shapes),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
