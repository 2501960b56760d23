/* LCRankNet (src/rank): Spearman's correlation, training on a synthetic meta-dataset
 * whose final ordering the early curve hides but the encoding tells (test_rank_synth.h),
 * the model against a random scorer and the last-value baseline, determinism from the
 * seed, save/load and corrupted files, p(m > m_max), and argument errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/rank.h"
#include "test_rank_synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define D 3
#define K 48
#define E 10

static lm_rank_options small_options(void) {
    lm_rank_options o;
    lm_rank_options_default(&o);
    o.steps = 2000;
    o.batch_pairs = 32;
    o.seed = 5;
    /* The synthetic finals are told by the encoding (test_rank_synth.h): a model that
     * uses it, at the learning rate these tests were sized for. */
    o.encoding_dropout = 0;
    o.lr = 0.02;
    return o;
}

static void test_spearman(void **state) {
    (void)state;
    double x[] = {1, 2, 3, 4, 5}, y[] = {10, 20, 30, 40, 50}, z[] = {5, 4, 3, 2, 1};
    assert_float_equal(lm_rank_spearman(x, y, 5), 1.0, 1e-12);
    assert_float_equal(lm_rank_spearman(x, z, 5), -1.0, 1e-12);
    /* Ties take average ranks: a ranks 1, 2.5, 2.5, 4 and b 1, 2, 3, 4; about the mean
     * 2.5, sum ab = 4.5, sum a^2 = 4.5, sum b^2 = 5. */
    double a[] = {1, 2, 2, 3}, b[] = {1, 2, 3, 4};
    assert_float_equal(lm_rank_spearman(a, b, 4), 4.5 / sqrt(4.5 * 5.0), 1e-12);
    double c[] = {1, 1, 1};
    assert_true(isnan(lm_rank_spearman(c, x, 3)));
    assert_true(isnan(lm_rank_spearman(x, y, 1)));
}

/* Trained on datasets 0 and 2, evaluated on the held-out dataset 1 (whose ordering
 * mixes theirs): the model ranks
 * far better than a random scorer at every point, and better than the last value at
 * 10% of the epochs, where slow learners mislead it. */
static void test_train_beats_random_and_last_value(void **state) {
    (void)state;
    lm_meta m;
    synth_meta(&m, D, K, E, 42);
    lm_rank_options o = small_options();
    int train[] = {0, 2};
    lm_rank_model *r = NULL;
    assert_int_equal(lm_rank_train(&m, train, 2, &o, &r), LM_OK);
    assert_int_equal(lm_rank_epochs(r), E);
    assert_int_equal(lm_rank_encoding_len(r), 4);
    assert_int_equal(lm_rank_n_datasets(r), D);
    assert_true(lm_rank_dataset_known(r, 0) && lm_rank_dataset_known(r, 2));
    assert_false(lm_rank_dataset_known(r, 1));
    lm_rank_eval ev;
    assert_int_equal(lm_rank_eval_dataset(r, &m, 1, &ev), LM_OK);
    assert_int_equal(ev.n_archs, K);
    assert_int_equal(ev.t[0], 1);
    assert_int_equal(ev.t[1], 2);
    assert_int_equal(ev.t[2], 5);
    /* A random scorer: scores from a fixed stream against the finals. */
    double fin[K], rnd[K];
    lm_rng g;
    lm_rng_init(&g, 99, 0, 0);
    for (int k = 0; k < K; k++) {
        fin[k] = m.curves[LM_META_VAL_ACCURACY][lm_meta_index(&m, 1, k, E - 1)];
        rnd[k] = lm_rng_uniform(&g);
    }
    double rho_rnd = lm_rank_spearman(rnd, fin, K);
    print_message("held out: model %.3f %.3f %.3f, last %.3f %.3f %.3f, random %.3f\n",
                  ev.rho_model[0], ev.rho_model[1], ev.rho_model[2], ev.rho_last[0],
                  ev.rho_last[1], ev.rho_last[2], rho_rnd);
    for (int i = 0; i < LM_RANK_EVAL_POINTS; i++) {
        assert_true(ev.rho_model[i] > 0.5);
        assert_true(ev.rho_model[i] > rho_rnd + 0.3);
    }
    assert_true(ev.rho_model[0] > ev.rho_last[0]);
    /* On a training dataset the model ranks well too. */
    assert_int_equal(lm_rank_eval_dataset(r, &m, 0, &ev), LM_OK);
    assert_true(ev.rho_model[0] > 0.5);
    lm_rank_destroy(&r);
    assert_null(r);
    lm_rank_destroy(&r);
    synth_free(&m);
}

/* The same seed gives the same scores bit for bit; another seed other ones. */
static void test_deterministic(void **state) {
    (void)state;
    lm_meta m;
    synth_meta(&m, D, K, E, 7);
    lm_rank_options o = small_options();
    o.steps = 60;
    int train[] = {0, 2};
    lm_rank_model *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(lm_rank_train(&m, train, 2, &o, &a), LM_OK);
    assert_int_equal(lm_rank_train(&m, train, 2, &o, &b), LM_OK);
    o.seed = 6;
    assert_int_equal(lm_rank_train(&m, train, 2, &o, &c), LM_OK);
    const float *curve = m.curves[LM_META_VAL_ACCURACY] + lm_meta_index(&m, 1, 3, 0);
    double sa, sb, sc;
    assert_int_equal(lm_rank_score(a, 1, m.encoding + 12, curve, 4, &sa), LM_OK);
    assert_int_equal(lm_rank_score(b, 1, m.encoding + 12, curve, 4, &sb), LM_OK);
    assert_int_equal(lm_rank_score(c, 1, m.encoding + 12, curve, 4, &sc), LM_OK);
    assert_true(sa == sb);
    assert_true(sa != sc);
    lm_rank_destroy(&a);
    lm_rank_destroy(&b);
    lm_rank_destroy(&c);
    synth_free(&m);
}

/* Cuts the file at path to its first n bytes (C alone has no truncate). */
static void keep_prefix(const char *path, size_t n) {
    unsigned char buf[512];
    assert_true(n <= sizeof buf);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, n, f), n);
    fclose(f);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static void test_save_load_and_corruption(void **state) {
    (void)state;
    lm_meta m;
    synth_meta(&m, D, K, E, 3);
    lm_rank_options o = small_options();
    o.steps = 30;
    int train[] = {1};
    lm_rank_model *r = NULL, *back = NULL;
    assert_int_equal(lm_rank_train(&m, train, 1, &o, &r), LM_OK);
    char path[] = "test_rank_model.bin";
    assert_int_equal(lm_rank_save(r, path), LM_OK);
    assert_int_equal(lm_rank_load(path, &back), LM_OK);
    assert_true(lm_rank_dataset_known(back, 1) && !lm_rank_dataset_known(back, 0));
    const float *curve = m.curves[LM_META_VAL_ACCURACY] + lm_meta_index(&m, 1, 5, 0);
    for (int t = 1; t <= E; t++) {
        double s1, s2;
        assert_int_equal(lm_rank_score(r, 1, m.encoding + 20, curve, t, &s1), LM_OK);
        assert_int_equal(lm_rank_score(back, 1, m.encoding + 20, curve, t, &s2), LM_OK);
        assert_true(s1 == s2);
    }
    /* p(m > m_max) of a curve against itself is 1/2; it is sigmoid of the difference. */
    double p, s1, s2;
    const float *other = m.curves[LM_META_VAL_ACCURACY] + lm_meta_index(&m, 1, 9, 0);
    assert_int_equal(lm_rank_prob_better(r, 1, m.encoding + 20, curve, m.encoding + 20, curve, 3, &p),
                     LM_OK);
    assert_float_equal(p, 0.5, 1e-12);
    assert_int_equal(lm_rank_score(r, 1, m.encoding + 20, curve, 3, &s1), LM_OK);
    assert_int_equal(lm_rank_score(r, 1, m.encoding + 36, other, 3, &s2), LM_OK);
    assert_int_equal(lm_rank_prob_better(r, 1, m.encoding + 20, curve, m.encoding + 36, other, 3, &p),
                     LM_OK);
    assert_float_equal(p, 1 / (1 + exp(-(s1 - s2))), 1e-9);
    lm_rank_destroy(&back);

    /* One flipped byte in the weights: checksum mismatch. */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 200, SEEK_SET), 0);
    int ch = fgetc(f);
    assert_int_equal(fseek(f, 200, SEEK_SET), 0);
    fputc(ch ^ 0x10, f);
    fclose(f);
    lm_error_clear();
    assert_int_equal(lm_rank_load(path, &back), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "checksum"));
    assert_null(back);
    /* Truncated. */
    keep_prefix(path, 150);
    lm_error_clear();
    assert_int_equal(lm_rank_load(path, &back), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "truncated"));
    /* Foreign. */
    f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 300; i++) fputc('x', f);
    fclose(f);
    lm_error_clear();
    assert_int_equal(lm_rank_load(path, &back), LM_EDATA);
    assert_non_null(strstr(lm_error_message(), "magic"));
    remove(path);
    lm_error_clear();
    assert_int_equal(lm_rank_load(path, &back), LM_ENOENT);
    lm_error_clear();
    lm_rank_destroy(&r);
    synth_free(&m);
}

static void test_errors(void **state) {
    (void)state;
    lm_meta m;
    synth_meta(&m, D, K, E, 3);
    lm_rank_options o = small_options();
    lm_rank_model *r = NULL;
    int bad[] = {0, 0};
    assert_int_equal(lm_rank_train(&m, bad, 2, &o, &r), LM_EINVAL);
    lm_error_clear();
    int out_of_range[] = {3};
    assert_int_equal(lm_rank_train(&m, out_of_range, 1, &o, &r), LM_EINVAL);
    lm_error_clear();
    o.lr = -1;
    int one[] = {0};
    assert_int_equal(lm_rank_train(&m, one, 1, &o, &r), LM_ERANGE);
    assert_non_null(strstr(lm_error_message(), "lr"));
    lm_error_clear();
    o = small_options();
    o.encoding_dropout = 1.5;
    assert_int_equal(lm_rank_train(&m, one, 1, &o, &r), LM_ERANGE);
    assert_non_null(strstr(lm_error_message(), "encoding_dropout"));
    lm_error_clear();
    /* Every curve of dataset 0 incomplete: nothing to train on. */
    o = small_options();
    for (int k = 0; k < K; k++) m.curves[LM_META_VAL_ACCURACY][lm_meta_index(&m, 0, k, 4)] = NAN;
    assert_int_equal(lm_rank_train(&m, one, 1, &o, &r), LM_EDATA);
    assert_null(r);
    lm_error_clear();
    o.steps = 5;
    int two[] = {1};
    assert_int_equal(lm_rank_train(&m, two, 1, &o, &r), LM_OK);
    double s;
    const float *curve = m.curves[LM_META_VAL_ACCURACY];
    assert_int_equal(lm_rank_score(r, 0, m.encoding, curve, 0, &s), LM_ERANGE);
    assert_int_equal(lm_rank_score(r, 0, m.encoding, curve, E + 1, &s), LM_ERANGE);
    assert_int_equal(lm_rank_score(r, D, m.encoding, curve, 2, &s), LM_ERANGE);
    /* A NaN in the observed part counts as 0, and the score stays finite. */
    assert_int_equal(lm_rank_score(r, 0, m.encoding, curve, 6, &s), LM_OK);
    assert_true(isfinite(s));
    /* The held-out dataset 0 has no complete curve: no figures, no error. */
    lm_rank_eval ev;
    assert_int_equal(lm_rank_eval_dataset(r, &m, 0, &ev), LM_OK);
    assert_int_equal(ev.n_archs, 0);
    assert_true(isnan(ev.rho_model[0]) && isnan(ev.rho_last[2]));
    lm_error_clear();
    lm_rank_destroy(&r);
    synth_free(&m);
}

/* Leave-one-dataset-out gives one row per dataset with figures for each. */
static void test_loo(void **state) {
    (void)state;
    lm_meta m;
    synth_meta(&m, D, 24, E, 11);
    lm_rank_options o = small_options();
    o.steps = 50;
    lm_rank_eval rows[D];
    assert_int_equal(lm_rank_eval_loo(&m, &o, rows), LM_OK);
    for (int d = 0; d < D; d++) {
        assert_int_equal(rows[d].dataset, d);
        assert_int_equal(rows[d].n_archs, 24);
        for (int i = 0; i < LM_RANK_EVAL_POINTS; i++) {
            assert_true(rows[d].rho_model[i] >= -1 && rows[d].rho_model[i] <= 1);
            assert_true(rows[d].rho_last[i] >= -1 && rows[d].rho_last[i] <= 1);
        }
    }
    synth_free(&m);
}

/* Adds trial id's next epoch with value v. */
static lm_report report(lm_trials *t, int id, double v) {
    lm_report r;
    memset(&r, 0, sizeof r);
    r.trial_id = id;
    r.epoch = t->v[id].epochs + 1;
    r.val_accuracy = v;
    assert_int_equal(lm_trials_record(t, &r, (double)t->n_curves), LM_OK);
    return r;
}

/* The "rank" rule on dataset 1: after the three best architectures completed, the
 * worst one is stopped before its last epoch, and a rerun of the best one (p = 1/2)
 * never is. */
static void test_rank_stopper(void **state) {
    (void)state;
    lm_stopper *s = NULL;
    assert_int_equal(lm_stopper_create("rank", &(lm_options){0}, &s), LM_ECONFIG);
    lm_error_clear();
    lm_meta m;
    synth_meta(&m, D, K, E, 42);
    lm_rank_options o = small_options();
    int train[] = {0, 1, 2};
    lm_rank_model *r = NULL;
    assert_int_equal(lm_rank_train(&m, train, 3, &o, &r), LM_OK);
    lm_rank_stopper_ctx ctx = {r, 1, m.encoding, K, 0};
    assert_int_equal(lm_rank_stopper_register(&ctx), LM_OK);
    assert_int_equal(lm_stopper_create("rank", &(lm_options){0}, &s), LM_OK);
    assert_string_equal(s->ops->name, "rank");

    int order[K];
    for (int k = 0; k < K; k++) order[k] = k;
    const float *acc = m.curves[LM_META_VAL_ACCURACY];
    for (int i = 0; i < K; i++) /* by final accuracy on dataset 1, best first */
        for (int j = i + 1; j < K; j++)
            if (acc[lm_meta_index(&m, 1, order[j], E - 1)] > acc[lm_meta_index(&m, 1, order[i], E - 1)]) {
                int x = order[i];
                order[i] = order[j];
                order[j] = x;
            }
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 1), LM_OK);
    int id;
    for (int i = 0; i < 3; i++) {
        double hp = order[i];
        assert_int_equal(lm_trials_add(&t, &hp, E, &id), LM_OK);
        for (int e = 0; e < E; e++) {
            lm_report rep = report(&t, id, acc[lm_meta_index(&m, 1, order[i], e)]);
            assert_int_equal(s->ops->on_report(s, &t, &rep).kind, LM_DECIDE_CONTINUE);
        }
    }
    double hp = order[K - 1];
    assert_int_equal(lm_trials_add(&t, &hp, E, &id), LM_OK);
    int stopped = 0;
    for (int e = 0; e < E && !stopped; e++) {
        lm_report rep = report(&t, id, acc[lm_meta_index(&m, 1, order[K - 1], e)]);
        stopped = s->ops->on_report(s, &t, &rep).kind == LM_DECIDE_STOP;
    }
    assert_true(stopped);
    hp = order[0];
    assert_int_equal(lm_trials_add(&t, &hp, E, &id), LM_OK);
    for (int e = 0; e < E; e++) {
        lm_report rep = report(&t, id, acc[lm_meta_index(&m, 1, order[0], e)]);
        assert_int_equal(s->ops->on_report(s, &t, &rep).kind, LM_DECIDE_CONTINUE);
    }
    lm_stopper_destroy(&s);
    lm_trials_fini(&t);
    lm_rank_destroy(&r);
    synth_free(&m);
}

/* A model that always hid the encodings (the default) scores a curve alike whatever
 * the encoding, and keeps the same scores through a save and load (the per-epoch
 * statistics travel with it). */
static void test_encoding_dropout(void **state) {
    (void)state;
    lm_meta m;
    synth_meta(&m, D, K, E, 42);
    lm_rank_options o = small_options();
    o.encoding_dropout = 1;
    o.steps = 200;
    int train[] = {0, 2};
    lm_rank_model *r = NULL;
    assert_int_equal(lm_rank_train(&m, train, 2, &o, &r), LM_OK);
    const float *c = m.curves[LM_META_VAL_ACCURACY] + lm_meta_index(&m, 1, 7, 0);
    float e1[4] = {0, 0, 0, 0}, e2[4] = {1, 1, 1, 1};
    double s1, s2, s3;
    assert_int_equal(lm_rank_score(r, 1, e1, c, 3, &s1), LM_OK);
    assert_int_equal(lm_rank_score(r, 1, e2, c, 3, &s2), LM_OK);
    assert_true(isfinite(s1) && s1 == s2);
    const char *path = "test_rank_encdrop.bin";
    assert_int_equal(lm_rank_save(r, path), LM_OK);
    lm_rank_destroy(&r);
    assert_int_equal(lm_rank_load(path, &r), LM_OK);
    remove(path);
    assert_int_equal(lm_rank_score(r, 1, e1, c, 3, &s3), LM_OK);
    assert_true(s3 == s1);
    lm_rank_destroy(&r);
    synth_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spearman),
        cmocka_unit_test(test_train_beats_random_and_last_value),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_save_load_and_corruption),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_loo),
        cmocka_unit_test(test_rank_stopper),
        cmocka_unit_test(test_encoding_dropout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
