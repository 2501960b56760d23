/* Unit tests of what a trainer carries between epochs and between processes:
 * snapshots (bitwise continuation, validation of foreign or damaged ones), changing
 * hyperparameters mid-training, magnitude pruning with fine-tuning, and the
 * latency measurement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/nn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OK(expr)                                                                                  \
    do {                                                                                          \
        int rc__ = (expr);                                                                        \
        if (rc__ != LM_OK) fail_msg("%s: %d: %s", #expr, rc__, lm_error_message());               \
    } while (0)

enum { F = 20, K = 3, S = 8 };

/* Three Gaussian blobs in 20 dimensions (see test_nn_trainer.c), samples center +
 * N(0, sd^2). */
static void blobs_sd(lm_dataset *d, int64_t n, uint64_t sub, double sd) {
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
        for (int j = 0; j < F; j++) d->X[i * F + j] = (float)(centers[k][j] + sd * lm_rng_normal(&r));
    }
}

static void blobs(lm_dataset *d, int64_t n, uint64_t sub) { blobs_sd(d, n, sub, 0.7); }

/* 8 x 8 single-channel images of a bar: horizontal (class 0), vertical (1) or
 * diagonal (2) at a random position, on noise of sd 0.3. */
static void bars(lm_dataset *d, int64_t n, uint64_t sub) {
    assert_int_equal(lm_dataset_alloc(d, n, 1, S, S, K), LM_OK);
    lm_rng r;
    lm_rng_init(&r, 2, 1, sub);
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(i % K), at = 1 + (int)lm_rng_below(&r, S - 2);
        float *x = d->X + i * S * S;
        d->y[i] = k;
        for (int p = 0; p < S * S; p++) x[p] = (float)(0.3 * lm_rng_normal(&r));
        for (int j = 0; j < S; j++) {
            int y = k == 0 ? at : j, c = k == 1 ? at : k == 0 ? j : (j + at) % S;
            x[y * S + c] += 1.0f;
        }
    }
}

typedef struct fixture {
    lm_dataset train, val, itrain, ival, htrain, hval;
} fixture;

static int setup(void **state) {
    static fixture fx;
    blobs(&fx.train, 601, 1);
    blobs(&fx.val, 150, 2);
    bars(&fx.itrain, 450, 1);
    bars(&fx.ival, 150, 2);
    /* Overlapping blobs, where pruning costs accuracy. */
    blobs_sd(&fx.htrain, 601, 3, 1.6);
    blobs_sd(&fx.hval, 600, 4, 1.6);
    *state = &fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    lm_dataset_free(&fx->train);
    lm_dataset_free(&fx->val);
    lm_dataset_free(&fx->itrain);
    lm_dataset_free(&fx->ival);
    lm_dataset_free(&fx->htrain);
    lm_dataset_free(&fx->hval);
    return 0;
}

static void mlp_params(lm_train_params *p) {
    lm_train_params_default(p);
    p->batch_size = 32;
    p->width = 32;
    p->depth = 2;
    p->epochs = 4;
    p->dropout = 0.3;
    p->nesterov = 1;
    p->weight_decay = 1e-3;
    p->schedule = LM_SCHED_COSINE;
}

static void cnn_params(lm_train_params *p) {
    lm_train_params_default(p);
    p->model = LM_MODEL_CNN;
    p->conv_layers = 2;
    p->filters = 8;
    p->batchnorm = 1;
    p->depth = 1;
    p->width = 16;
    p->dropout = 0.2;
    p->batch_size = 32;
    p->epochs = 4;
    p->lr = 0.02;
}

static void same_stats(const lm_epoch_stats *a, const lm_epoch_stats *b) {
    assert_memory_equal(&a->train_loss, &b->train_loss, sizeof(double));
    assert_memory_equal(&a->val_loss, &b->val_loss, sizeof(double));
    assert_memory_equal(&a->lr, &b->lr, sizeof(double));
    assert_true(a->train_accuracy == b->train_accuracy && a->val_accuracy == b->val_accuracy);
    assert_int_equal(a->epoch, b->epoch);
}

/* Train 2 epochs, snapshot, 2 more (A); a fresh trainer of another seed loads the
 * snapshot and trains 2 (B): bitwise the same losses, weights, momentum and
 * statistics. A fresh trainer without the snapshot (C) differs. */
static void continuation(const lm_train_params *p, const lm_dataset *train, const lm_dataset *val) {
    lm_trainer *a, *b, *c;
    lm_epoch_stats sa[2], sb[2], sc;
    OK(lm_trainer_create(p, train, val, 9, 4, &a));
    for (int e = 0; e < 2; e++) OK(lm_trainer_epoch(a, &sc));
    size_t len = lm_trainer_snapshot_size(a);
    void *buf = malloc(len);
    assert_non_null(buf);
    OK(lm_trainer_snapshot_save(a, buf, len));
    /* The schedule's horizon travels with the snapshot (a resumed run keeps it). */
    assert_int_equal(lm_trainer_snapshot_horizon(buf, len), p->epochs);
    for (int e = 0; e < 2; e++) OK(lm_trainer_epoch(a, &sa[e]));

    OK(lm_trainer_create(p, train, val, 1234, 77, &b));
    OK(lm_trainer_create(p, train, val, 1234, 77, &c));
    assert_true(lm_trainer_checksum(b) != lm_trainer_checksum(a));
    OK(lm_trainer_snapshot_load(b, buf, len));
    assert_int_equal(lm_trainer_epochs_done(b), 2);
    for (int e = 0; e < 2; e++) OK(lm_trainer_epoch(b, &sb[e]));
    for (int e = 0; e < 2; e++) same_stats(&sa[e], &sb[e]);
    long n;
    float *wa = lm_trainer_params(a, &n), *wb = lm_trainer_params(b, NULL);
    assert_memory_equal(wa, wb, sizeof(float) * (size_t)n);
    assert_true(lm_trainer_checksum(a) == lm_trainer_checksum(b));
    assert_int_equal(lm_trainer_steps(a), lm_trainer_steps(b));
    assert_false(sa[0].diverged);

    for (int e = 0; e < 2; e++) OK(lm_trainer_epoch(c, &sc));
    assert_true(sc.train_loss != sa[0].train_loss);
    assert_true(lm_trainer_checksum(c) != lm_trainer_checksum(a));
    free(buf);
    lm_trainer_destroy(&a);
    lm_trainer_destroy(&b);
    lm_trainer_destroy(&c);
}

static void test_snapshot_mlp(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    mlp_params(&p);
    continuation(&p, &fx->train, &fx->val);
}

/* Batch normalization's running statistics, dropout and augmentation streams. */
static void test_snapshot_cnn(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    cnn_params(&p);
    p.augment.flip = 1;
    p.augment.crop_padding = 1;
    p.augment.noise_std = 0.05;
    p.augment.mixup_alpha = 0.4;
    continuation(&p, &fx->itrain, &fx->ival);
}

static void expect_ckpt(lm_trainer *t, const void *buf, size_t len, const char *needle) {
    uint64_t before = lm_trainer_checksum(t);
    lm_error_clear();
    int rc = lm_trainer_snapshot_load(t, buf, len);
    if (rc != LM_ECKPT) fail_msg("expected LM_ECKPT for '%s', got %d", needle, rc);
    if (!strstr(lm_error_message(), needle))
        fail_msg("message '%s' lacks '%s'", lm_error_message(), needle);
    lm_error_clear();
    assert_true(lm_trainer_checksum(t) == before);
}

static void test_snapshot_errors(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    mlp_params(&p);
    lm_trainer *t, *u;
    OK(lm_trainer_create(&p, &fx->train, &fx->val, 1, 1, &t));
    size_t len = lm_trainer_snapshot_size(t);
    unsigned char *buf = malloc(len + 8);
    assert_non_null(buf);
    lm_error_clear();
    assert_int_equal(lm_trainer_snapshot_save(t, buf, len - 1), LM_EINVAL);
    lm_error_clear();
    OK(lm_trainer_snapshot_save(t, buf, len + 8));
    OK(lm_trainer_create(&p, &fx->train, &fx->val, 2, 2, &u));
    expect_ckpt(u, buf, 10, "shorter than");
    expect_ckpt(u, buf, len - 4, "truncated");
    expect_ckpt(u, buf, len + 8, "padded");
    buf[len / 2] ^= 0x10;
    expect_ckpt(u, buf, len, "checksum");
    buf[len / 2] ^= 0x10;
    buf[0] ^= 1;
    expect_ckpt(u, buf, len, "not a lamarck trainer snapshot");
    assert_int_equal(lm_trainer_snapshot_horizon(buf, len), LM_ECKPT);
    buf[0] ^= 1;
    assert_int_equal(lm_trainer_snapshot_horizon(buf, 10), LM_ECKPT);
    lm_error_clear();
    OK(lm_trainer_snapshot_load(u, buf, len));
    assert_true(lm_trainer_checksum(u) == lm_trainer_checksum(t));
    lm_trainer_destroy(&u);
    /* Another width: other parameter counts. */
    p.width = 33;
    OK(lm_trainer_create(&p, &fx->train, &fx->val, 2, 2, &u));
    expect_ckpt(u, buf, len, "parameters");
    lm_trainer_destroy(&u);
    /* The same parameter count, another architecture: a ReLU after each hidden layer. */
    lm_layer_desc L[] = {{.op = LM_OP_DENSE, .out_channels = 32, .relu = 1},
                         {.op = LM_OP_DROPOUT, .rate = -1},
                         {.op = LM_OP_DENSE, .out_channels = 32, .relu = 1},
                         {.op = LM_OP_RELU}};
    lm_net_desc d = {L, 4, F, 1, 1, K};
    OK(lm_trainer_create_from_desc(&d, &p, &fx->train, &fx->val, 2, 2, &u));
    assert_int_equal(lm_trainer_param_count(u), lm_trainer_param_count(t));
    expect_ckpt(u, buf, len, "another architecture");
    lm_trainer_destroy(&u);
    free(buf);
    lm_trainer_destroy(&t);
}

/* ---- changing hyperparameters ---- */

static void test_set_params(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    mlp_params(&p);
    p.dropout = 0;
    p.weight_decay = 0;
    p.schedule = LM_SCHED_CONSTANT;
    lm_trainer *t;
    lm_epoch_stats s;
    OK(lm_trainer_create(&p, &fx->train, &fx->val, 3, 3, &t));
    OK(lm_trainer_epoch(t, &s));
    /* lr 0: the weights stay bitwise where they are. */
    lm_train_params q = p;
    q.lr = 1e-300;
    lm_error_clear();
    OK(lm_trainer_set_params(t, &q));
    long n;
    float *w = lm_trainer_params(t, &n);
    float *keep = malloc(sizeof(float) * (size_t)n);
    assert_non_null(keep);
    memcpy(keep, w, sizeof(float) * (size_t)n);
    OK(lm_trainer_epoch(t, &s));
    assert_memory_equal(keep, w, sizeof(float) * (size_t)n);
    assert_float_equal(s.lr, 1e-300, 1e-310);
    /* Architecture and data changes are refused, and nothing changes. */
    q = p;
    q.depth = 3;
    lm_error_clear();
    assert_int_equal(lm_trainer_set_params(t, &q), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "'depth'"));
    lm_error_clear();
    assert_float_equal(lm_trainer_get_params(t)->lr, 1e-300, 1e-310);
    q = p;
    q.preprocess.scaler = LM_SCALE_MINMAX;
    assert_int_equal(lm_trainer_set_params(t, &q), LM_EINVAL);
    lm_error_clear();
    q = p;
    q.lr = -1;
    assert_int_equal(lm_trainer_set_params(t, &q), LM_ERANGE);
    lm_error_clear();
    /* A larger batch grows the buffers; training and evaluation go on. */
    q = p;
    q.batch_size = 256;
    long steps = lm_trainer_steps(t);
    OK(lm_trainer_set_params(t, &q));
    OK(lm_trainer_epoch(t, &s));
    assert_int_equal(lm_trainer_steps(t) - steps, 3); /* ceil(601 / 256) */
    assert_false(s.diverged);
    q.batch_size = 8;
    OK(lm_trainer_set_params(t, &q));
    OK(lm_trainer_epoch(t, &s));
    assert_int_equal(lm_trainer_steps(t) - steps, 3 + 76);
    assert_true(s.val_accuracy > 0.9);
    double loss, acc;
    OK(lm_trainer_evaluate(t, &fx->val, &loss, &acc));
    assert_float_equal(acc, s.val_accuracy, 1e-12);
    /* Dropout follows the parameter: two copies differ once one has it on. */
    lm_trainer *u, *v;
    OK(lm_trainer_create(&p, &fx->train, &fx->val, 5, 5, &u));
    OK(lm_trainer_create(&p, &fx->train, &fx->val, 5, 5, &v));
    q = p;
    q.dropout = 0.5;
    OK(lm_trainer_set_params(v, &q));
    lm_epoch_stats su, sv;
    OK(lm_trainer_epoch(u, &su));
    OK(lm_trainer_epoch(v, &sv));
    assert_true(su.train_loss != sv.train_loss);
    /* A cosine schedule annealed to 0 at epoch 2, then extended to 4: the rate rises
     * again from where the longer horizon puts it. */
    lm_trainer_destroy(&u);
    q = p;
    q.schedule = LM_SCHED_COSINE;
    q.epochs = 2;
    OK(lm_trainer_create(&q, &fx->train, &fx->val, 5, 5, &u));
    OK(lm_trainer_epoch(u, &su));
    OK(lm_trainer_epoch(u, &su));
    assert_true(su.lr < 0.01 * q.lr);
    q.epochs = 4;
    OK(lm_trainer_set_params(u, &q));
    OK(lm_trainer_epoch(u, &su));
    long ipe = 19; /* ceil(601 / 32) */
    assert_float_equal(su.lr, lm_lr_at(&q, 3 * ipe - 1, ipe, 4 * ipe), 1e-15);
    assert_true(su.lr > 0.1 * q.lr);
    free(keep);
    lm_trainer_destroy(&t);
    lm_trainer_destroy(&u);
    lm_trainer_destroy(&v);
}

/* ---- pruning ---- */

static double prunable_zeros(lm_trainer *t, const lm_train_params *p) {
    /* The MLP's weights: F x w, w x w, w x K, each followed by its biases. */
    long n;
    float *w = lm_trainer_params(t, &n);
    int64_t sizes[3][2] = {{F * p->width, p->width}, {(int64_t)p->width * p->width, p->width}, {(int64_t)p->width * K, K}};
    int64_t at = 0, zeros = 0, total = 0;
    for (int l = 0; l < 3; l++) {
        for (int64_t i = 0; i < sizes[l][0]; i++) zeros += w[at + i] == 0.0f;
        total += sizes[l][0];
        at += sizes[l][0] + sizes[l][1];
    }
    assert_int_equal(at, n);
    return (double)zeros / (double)total;
}

static void test_prune(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    mlp_params(&p);
    p.dropout = 0;
    p.schedule = LM_SCHED_CONSTANT;
    p.lr = 0.02;
    lm_trainer *t;
    lm_epoch_stats s;
    OK(lm_trainer_create(&p, &fx->htrain, &fx->hval, 3, 3, &t));
    for (int e = 0; e < 4; e++) OK(lm_trainer_epoch(t, &s));
    double loss, acc0, acc1, acc2;
    OK(lm_trainer_evaluate(t, &fx->hval, &loss, &acc0));
    assert_float_equal(lm_trainer_sparsity(t), 0, 0);
    OK(lm_trainer_prune(t, 0.9));
    /* 90% of the 20*32 + 32*32 + 32*3 = 1760 weights: 1584, exactly. */
    assert_float_equal(lm_trainer_sparsity(t), 1584.0 / 1760.0, 1e-12);
    assert_float_equal(prunable_zeros(t, &p), 1584.0 / 1760.0, 1e-12);
    OK(lm_trainer_evaluate(t, &fx->hval, &loss, &acc1));
    for (int e = 0; e < 2; e++) OK(lm_trainer_epoch(t, &s));
    OK(lm_trainer_evaluate(t, &fx->hval, &loss, &acc2));
    print_message("pruning 90%% of weights: val accuracy %.4f before, %.4f after pruning, %.4f after "
                  "2 epochs of fine-tuning\n",
                  acc0, acc1, acc2);
    /* The mask held through fine-tuning, which recovers most of the accuracy. */
    assert_float_equal(prunable_zeros(t, &p), 1584.0 / 1760.0, 1e-12);
    assert_true(acc0 > 0.8);
    assert_true(acc2 >= acc0 - 0.05 && acc2 >= acc1);
    /* Lower sparsity prunes nothing more; higher prunes the smallest survivors. */
    OK(lm_trainer_prune(t, 0.5));
    assert_float_equal(lm_trainer_sparsity(t), 1584.0 / 1760.0, 1e-12);
    OK(lm_trainer_prune(t, 0.95));
    assert_float_equal(lm_trainer_sparsity(t), 1672.0 / 1760.0, 1e-12);
    lm_error_clear();
    assert_int_equal(lm_trainer_prune(t, 1.0), LM_EINVAL);
    lm_error_clear();
    /* A snapshot carries the mask. */
    size_t len = lm_trainer_snapshot_size(t);
    void *buf = malloc(len);
    assert_non_null(buf);
    OK(lm_trainer_snapshot_save(t, buf, len));
    lm_trainer *u;
    OK(lm_trainer_create(&p, &fx->htrain, &fx->hval, 4, 4, &u));
    OK(lm_trainer_snapshot_load(u, buf, len));
    assert_float_equal(lm_trainer_sparsity(u), 1672.0 / 1760.0, 1e-12);
    OK(lm_trainer_epoch(u, &s));
    assert_float_equal(prunable_zeros(u, &p), 1672.0 / 1760.0, 1e-12);
    free(buf);
    lm_trainer_destroy(&u);
    lm_trainer_destroy(&t);
}

/* ---- latency and counts ---- */

static void test_latency(void **state) {
    fixture *fx = *state;
    lm_train_params p;
    cnn_params(&p);
    lm_trainer *t;
    OK(lm_trainer_create(&p, &fx->itrain, &fx->ival, 1, 1, &t));
    double sec1, sec32;
    OK(lm_trainer_latency(t, 1, 9, &sec1));
    OK(lm_trainer_latency(t, 32, 4, &sec32));
    print_message("CNN 8x8: %.2f us/sample at batch 1, %.2f at batch 32; %.0f FLOP/sample\n",
                  sec1 * 1e6, sec32 * 1e6, lm_trainer_flops(t));
    assert_true(sec1 > 0 && sec1 < 0.1 && sec32 > 0 && sec32 < 0.1);
    /* conv 3x3 1->8 on 8x8, conv 3x3 8->16 on 4x4, dense 64->16, dense 16->3. */
    assert_float_equal(lm_trainer_flops(t),
                       2.0 * (64 * 8 * 9 + 16 * 16 * 72 + 64 * 16 + 16 * 3), 1e-6);
    lm_error_clear();
    assert_int_equal(lm_trainer_latency(t, 33, 1, &sec1), LM_EINVAL);
    assert_int_equal(lm_trainer_latency(t, 1, 0, &sec1), LM_EINVAL);
    lm_error_clear();
    lm_trainer_destroy(&t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_mlp), cmocka_unit_test(test_snapshot_cnn),
        cmocka_unit_test(test_snapshot_errors), cmocka_unit_test(test_set_params),
        cmocka_unit_test(test_prune),        cmocka_unit_test(test_latency),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
