/* The trial table: adding, recording reports, best/count, failures, protocol errors,
 * growth, and the save/load round trip through the in-memory state store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/search.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka here has no double comparison; |a - b| <= tol, printing both on failure. */
#define assert_double_equal(a, b, tol)                                                   \
    do {                                                                                 \
        double x_ = (a), y_ = (b);                                                       \
        if (!(fabs(x_ - y_) <= (tol)))                                                   \
            fail_msg("%s = %.17g, expected %.17g (tolerance %g)", #a, x_, y_, (double)(tol)); \
    } while (0)

static lm_report report(int id, int epoch, double val_acc) {
    lm_report r;
    memset(&r, 0, sizeof r);
    r.trial_id = id;
    r.epoch = epoch;
    r.train_loss = 1.0 / epoch;
    r.train_accuracy = 0.5 + 0.01 * epoch;
    r.val_loss = 2.0 / epoch;
    r.val_accuracy = val_acc;
    r.seconds = 1.5;
    r.lr = 0.1;
    r.params = 1000 + id;
    return r;
}

static void test_add_get(void **state) {
    (void)state;
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 3), LM_OK);
    double a[3] = {1, 2, 3}, b[3] = {4, NAN, 6};
    int id = -1;
    assert_int_equal(lm_trials_add(&t, a, 5, &id), LM_OK);
    assert_int_equal(id, 0);
    assert_int_equal(lm_trials_add(&t, b, 7, &id), LM_OK);
    assert_int_equal(id, 1);
    a[0] = 99; /* the table holds a copy */
    lm_trial *t0 = lm_trials_get(&t, 0), *t1 = lm_trials_get(&t, 1);
    assert_non_null(t0);
    assert_non_null(t1);
    assert_int_equal(t0->id, 0);
    assert_int_equal(t1->id, 1);
    assert_true(t0->hp[0] == 1 && t0->hp[1] == 2 && t0->hp[2] == 3);
    assert_true(t1->hp[0] == 4 && isnan(t1->hp[1]) && t1->hp[2] == 6);
    assert_int_equal(t0->status, LM_TRIAL_PENDING);
    assert_int_equal(t0->worker, -1);
    assert_int_equal(t0->epochs, 0);
    assert_int_equal(t1->epochs_target, 7);
    assert_true(isnan(t0->best_val_accuracy) && isnan(t0->test_accuracy));
    assert_null(lm_trials_get(&t, 2));
    assert_null(lm_trials_get(&t, -1));
    assert_int_equal(lm_trials_count(&t, LM_TRIAL_PENDING), 2);
    assert_int_equal(lm_trials_best(&t), -1);
    assert_string_equal(lm_trial_status_name(LM_TRIAL_STOPPED), "stopped");
    assert_string_equal(lm_trial_status_name(LM_TRIAL_FAILED), "failed");
    lm_trials_fini(&t);
    assert_int_equal(t.n, 0);
    assert_null(t.v);
}

/* Thousands of trials: every hp pointer must follow hp_store through reallocations. */
static void test_growth_keeps_hp_valid(void **state) {
    (void)state;
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 2), LM_OK);
    const int n = 5000;
    for (int i = 0; i < n; i++) {
        double x[2] = {i, -i};
        int id;
        assert_int_equal(lm_trials_add(&t, x, 1, &id), LM_OK);
        assert_int_equal(id, i);
    }
    assert_true(t.cap >= n);
    for (int i = 0; i < n; i++) {
        lm_trial *tr = lm_trials_get(&t, i);
        assert_ptr_equal(tr->hp, t.hp_store + 2 * i);
        assert_true(tr->hp[0] == i && tr->hp[1] == -i);
    }
    lm_trials_fini(&t);

    /* With no hyperparameters at all the pointers are still usable, never NULL. */
    assert_int_equal(lm_trials_init(&t, 0), LM_OK);
    for (int i = 0; i < 40; i++) {
        int id;
        assert_int_equal(lm_trials_add(&t, NULL, 1, &id), LM_OK);
    }
    assert_non_null(lm_trials_get(&t, 39)->hp);
    lm_trials_fini(&t);
}

static void test_record(void **state) {
    (void)state;
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 1), LM_OK);
    double x = 0.5;
    int a, b, c;
    assert_int_equal(lm_trials_add(&t, &x, 3, &a), LM_OK);
    assert_int_equal(lm_trials_add(&t, &x, 3, &b), LM_OK);
    assert_int_equal(lm_trials_add(&t, &x, 3, &c), LM_OK);

    lm_report r = report(a, 1, 0.60);
    assert_int_equal(lm_trials_record(&t, &r, 10.0), LM_OK);
    lm_trial *ta = lm_trials_get(&t, a);
    assert_int_equal(ta->status, LM_TRIAL_RUNNING);
    assert_int_equal(ta->epochs, 1);
    assert_double_equal(ta->t_start, 8.5, 1e-12); /* now minus the epoch's seconds */
    r = report(b, 1, 0.70);
    assert_int_equal(lm_trials_record(&t, &r, 11.0), LM_OK);
    r = report(a, 2, 0.80);
    assert_int_equal(lm_trials_record(&t, &r, 12.0), LM_OK);
    r = report(a, 3, 0.75);
    assert_int_equal(lm_trials_record(&t, &r, 13.0), LM_OK);

    assert_int_equal(ta->status, LM_TRIAL_DONE); /* trained its 3 target epochs */
    assert_int_equal(ta->epochs, 3);
    assert_double_equal(ta->best_val_accuracy, 0.80, 0);
    assert_double_equal(ta->final_val_accuracy, 0.75, 0);
    assert_double_equal(ta->final_val_loss, 2.0 / 3, 1e-15);
    assert_double_equal(ta->final_train_loss, 1.0 / 3, 1e-15);
    assert_double_equal(ta->train_seconds, 4.5, 1e-12);
    assert_double_equal(ta->t_end, 13.0, 0);
    assert_int_equal(ta->params, 1000 + a);

    /* Curve rows in arrival order. */
    assert_int_equal(t.n_curves, 4);
    const int want_trial[] = {a, b, a, a}, want_epoch[] = {1, 1, 2, 3};
    const double want_t[] = {10, 11, 12, 13};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(t.curves[k].trial_id, want_trial[k]);
        assert_int_equal(t.curves[k].epoch, want_epoch[k]);
        assert_double_equal(t.curves[k].t, want_t[k], 0);
        assert_double_equal(t.curves[k].lr, 0.1, 0);
    }
    assert_double_equal(t.curves[1].val_accuracy, 0.70, 0);

    /* b is running, so only a counts as finished; once b is stopped with a better
     * accuracy it becomes the best. */
    assert_int_equal(lm_trials_best(&t), a);
    r = report(b, 2, 0.90);
    assert_int_equal(lm_trials_record(&t, &r, 14.0), LM_OK);
    assert_int_equal(lm_trials_best(&t), a);
    lm_trials_get(&t, b)->status = LM_TRIAL_STOPPED;
    assert_int_equal(lm_trials_best(&t), b);
    assert_int_equal(lm_trials_count(&t, LM_TRIAL_DONE), 1);
    assert_int_equal(lm_trials_count(&t, LM_TRIAL_STOPPED), 1);
    assert_int_equal(lm_trials_count(&t, LM_TRIAL_PENDING), 1);
    assert_int_equal(lm_trials_count(&t, LM_TRIAL_RUNNING), 0);

    /* A stopped trial takes no more reports. */
    lm_error_clear();
    r = report(b, 3, 0.1);
    assert_int_equal(lm_trials_record(&t, &r, 15.0), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "stopped"));
    lm_error_clear();

    /* A done trial whose target is raised (a promotion) runs again. */
    ta->epochs_target = 4;
    r = report(a, 4, 0.85);
    assert_int_equal(lm_trials_record(&t, &r, 16.0), LM_OK);
    assert_int_equal(ta->status, LM_TRIAL_DONE);
    assert_double_equal(ta->best_val_accuracy, 0.85, 0);
    assert_double_equal(ta->t_start, 8.5, 1e-12);
    lm_trials_fini(&t);
}

static void test_failed_trial(void **state) {
    (void)state;
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 1), LM_OK);
    double x = 1;
    int a, b;
    assert_int_equal(lm_trials_add(&t, &x, 5, &a), LM_OK);
    assert_int_equal(lm_trials_add(&t, &x, 5, &b), LM_OK);
    lm_report r = report(a, 1, 0.99);
    assert_int_equal(lm_trials_record(&t, &r, 1.0), LM_OK);
    r = report(a, 2, NAN);
    r.failed = 1;
    r.train_loss = NAN;
    snprintf(r.reason, sizeof r.reason, "loss is NaN after 120 batches");
    assert_int_equal(lm_trials_record(&t, &r, 2.0), LM_OK);
    lm_trial *ta = lm_trials_get(&t, a);
    assert_int_equal(ta->status, LM_TRIAL_FAILED);
    assert_string_equal(ta->reason, "loss is NaN after 120 batches");
    assert_int_equal(ta->epochs, 1);          /* the failed epoch did not complete */
    assert_int_equal(t.n_curves, 1);          /* and added no curve row */
    assert_double_equal(ta->train_seconds, 3.0, 1e-12);
    assert_double_equal(ta->t_end, 2.0, 0);
    assert_int_equal(lm_trials_count(&t, LM_TRIAL_FAILED), 1);
    assert_int_equal(lm_trials_best(&t), -1); /* failed trials are never best */

    /* Failing without a reason gets one; a reason without terminator is cut safely. */
    r = report(b, 1, 0);
    r.failed = 1;
    assert_int_equal(lm_trials_record(&t, &r, 3.0), LM_OK);
    assert_string_equal(lm_trials_get(&t, b)->reason, "failed in epoch 1");

    lm_error_clear();
    r = report(a, 2, 0.5);
    assert_int_equal(lm_trials_record(&t, &r, 4.0), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "failed"));
    lm_error_clear();

    int c;
    assert_int_equal(lm_trials_add(&t, &x, 5, &c), LM_OK);
    r = report(c, 1, 0);
    r.failed = 1;
    memset(r.reason, 'x', sizeof r.reason);
    assert_int_equal(lm_trials_record(&t, &r, 5.0), LM_OK);
    assert_int_equal(strlen(lm_trials_get(&t, c)->reason), LM_REASON_MAX - 1);
    lm_trials_fini(&t);
}

static void test_protocol_errors(void **state) {
    (void)state;
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 1), LM_OK);
    double x = 1;
    int a;
    assert_int_equal(lm_trials_add(&t, &x, 2, &a), LM_OK);

    lm_error_clear();
    lm_report r = report(7, 1, 0.5);
    assert_int_equal(lm_trials_record(&t, &r, 0), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "unknown trial 7"));

    lm_error_clear();
    r = report(a, 2, 0.5); /* skips epoch 1 */
    assert_int_equal(lm_trials_record(&t, &r, 0), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "next epoch is 1"));

    lm_error_clear();
    r = report(a, 1, 0.5);
    assert_int_equal(lm_trials_record(&t, &r, 0), LM_OK);
    assert_int_equal(lm_trials_record(&t, &r, 0), LM_EINVAL); /* the same row twice */
    assert_non_null(strstr(lm_error_message(), "trial 0 epoch 1"));
    assert_int_equal(t.n_curves, 1);
    assert_int_equal(lm_trials_get(&t, a)->epochs, 1);

    lm_error_clear();
    r = report(a, 2, 0.5);
    assert_int_equal(lm_trials_record(&t, &r, 0), LM_OK);
    r = report(a, 3, 0.5); /* past the target of 2 */
    assert_int_equal(lm_trials_record(&t, &r, 0), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "target of 2"));
    lm_error_clear();

    assert_int_equal(lm_trials_add(&t, NULL, 2, &a), LM_EINVAL);
    assert_int_equal(lm_trials_add(&t, &x, -1, &a), LM_EINVAL);
    lm_error_clear();
    lm_trials_fini(&t);
    lm_trials bad;
    assert_int_equal(lm_trials_init(&bad, LM_HP_MAX + 1), LM_EINVAL);
    assert_int_equal(lm_trials_init(&bad, -1), LM_EINVAL);
    lm_error_clear();
}

/* A table with every kind of trial and a few curve rows. */
static void fill(lm_trials *t) {
    assert_int_equal(lm_trials_init(t, 2), LM_OK);
    for (int i = 0; i < 20; i++) {
        double x[2] = {0.1 * i, i % 3 ? (double)i : NAN};
        int id;
        assert_int_equal(lm_trials_add(t, x, 3, &id), LM_OK);
        lm_trials_get(t, id)->worker = 1 + i % 4;
        for (int e = 1; e <= i % 4 && e <= 3; e++) {
            lm_report r = report(id, e, 0.5 + 0.01 * i + 0.001 * e);
            r.failed = i % 7 == 6 && e == i % 4;
            if (r.failed) snprintf(r.reason, sizeof r.reason, "diverged at trial %d", i);
            assert_int_equal(lm_trials_record(t, &r, 100.0 * i + e), LM_OK);
        }
        if (i % 5 == 4 && lm_trials_get(t, id)->status == LM_TRIAL_RUNNING)
            lm_trials_get(t, id)->status = LM_TRIAL_STOPPED;
        if (i == 3) {
            lm_trials_get(t, id)->test_accuracy = 0.91;
            lm_trials_get(t, id)->test_loss = 0.3;
        }
    }
}

static int same_double(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static void assert_same_table(const lm_trials *a, const lm_trials *b) {
    assert_int_equal(a->n_hp, b->n_hp);
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->n_curves, b->n_curves);
    for (int i = 0; i < a->n; i++) {
        const lm_trial *x = &a->v[i], *y = &b->v[i];
        assert_int_equal(y->id, i);
        assert_int_equal(x->status, y->status);
        assert_int_equal(x->worker, y->worker);
        assert_int_equal(x->epochs, y->epochs);
        assert_int_equal(x->epochs_target, y->epochs_target);
        assert_int_equal(x->params, y->params);
        assert_true(same_double(x->best_val_accuracy, y->best_val_accuracy));
        assert_true(same_double(x->final_val_accuracy, y->final_val_accuracy));
        assert_true(same_double(x->final_val_loss, y->final_val_loss));
        assert_true(same_double(x->final_train_loss, y->final_train_loss));
        assert_true(same_double(x->test_accuracy, y->test_accuracy));
        assert_true(same_double(x->test_loss, y->test_loss));
        assert_true(same_double(x->t_start, y->t_start));
        assert_true(same_double(x->t_end, y->t_end));
        assert_true(same_double(x->train_seconds, y->train_seconds));
        assert_string_equal(x->reason, y->reason);
        assert_ptr_equal(y->hp, b->hp_store + (size_t)i * (size_t)b->n_hp);
        for (int j = 0; j < a->n_hp; j++) assert_true(same_double(x->hp[j], y->hp[j]));
    }
    for (size_t k = 0; k < a->n_curves; k++) {
        const lm_curve_row *x = &a->curves[k], *y = &b->curves[k];
        assert_int_equal(x->trial_id, y->trial_id);
        assert_int_equal(x->epoch, y->epoch);
        assert_true(same_double(x->train_loss, y->train_loss));
        assert_true(same_double(x->train_accuracy, y->train_accuracy));
        assert_true(same_double(x->val_loss, y->val_loss));
        assert_true(same_double(x->val_accuracy, y->val_accuracy));
        assert_true(same_double(x->seconds, y->seconds));
        assert_true(same_double(x->lr, y->lr));
        assert_true(same_double(x->t, y->t));
    }
}

static void test_save_load(void **state) {
    (void)state;
    lm_trials a, b;
    fill(&a);
    assert_true(lm_trials_count(&a, LM_TRIAL_FAILED) > 0);
    assert_true(lm_trials_count(&a, LM_TRIAL_STOPPED) > 0);
    assert_true(lm_trials_count(&a, LM_TRIAL_DONE) > 0);
    assert_true(lm_trials_count(&a, LM_TRIAL_PENDING) > 0);
    lm_state_mem *m;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    lm_state_reader r = lm_state_mem_reader(m);
    assert_int_equal(lm_trials_save(&a, &w, "trials"), LM_OK);
    assert_int_equal(lm_trials_save(&a, &w, ""), LM_OK); /* no prefix: bare names */

    /* Load over a table that already holds something: it is replaced. */
    assert_int_equal(lm_trials_init(&b, 2), LM_OK);
    double x[2] = {5, 5};
    int id;
    assert_int_equal(lm_trials_add(&b, x, 9, &id), LM_OK);
    assert_int_equal(lm_trials_load(&b, &r, "trials"), LM_OK);
    assert_same_table(&a, &b);
    assert_int_equal(lm_trials_best(&a), lm_trials_best(&b));
    lm_trials_fini(&b);
    assert_int_equal(lm_trials_init(&b, 2), LM_OK);
    assert_int_equal(lm_trials_load(&b, &r, ""), LM_OK);
    assert_same_table(&a, &b);

    /* The loaded table keeps working: records continue where they left off. */
    int pending = -1;
    for (int i = 0; i < b.n && pending < 0; i++)
        if (b.v[i].status == LM_TRIAL_PENDING) pending = i;
    assert_true(pending >= 0);
    lm_report rep = report(pending, 1, 0.5);
    assert_int_equal(lm_trials_record(&b, &rep, 1e4), LM_OK);
    assert_int_equal(b.n_curves, a.n_curves + 1);
    lm_trials_fini(&b);

    /* An empty table round-trips too. */
    lm_trials e;
    assert_int_equal(lm_trials_init(&e, 2), LM_OK);
    assert_int_equal(lm_trials_save(&e, &w, "empty"), LM_OK);
    assert_int_equal(lm_trials_init(&b, 2), LM_OK);
    assert_int_equal(lm_trials_load(&b, &r, "empty"), LM_OK);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.n_curves, 0);
    lm_trials_fini(&b);
    lm_trials_fini(&e);
    lm_trials_fini(&a);
    lm_state_mem_destroy(&m);
}

/* A load that fails names the entry and leaves the table as it was. */
static void expect_load_error(lm_state_reader *r, const char *prefix, const char *needle) {
    lm_trials b;
    assert_int_equal(lm_trials_init(&b, 2), LM_OK);
    double x[2] = {7, 8};
    int id;
    assert_int_equal(lm_trials_add(&b, x, 9, &id), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_trials_load(&b, r, prefix), LM_ECKPT);
    if (!strstr(lm_error_message(), needle))
        fail_msg("message '%s' lacks '%s'", lm_error_message(), needle);
    lm_error_clear();
    assert_int_equal(b.n, 1);
    assert_true(b.v[0].hp[0] == 7 && b.v[0].hp[1] == 8 && b.v[0].epochs_target == 9);
    lm_trials_fini(&b);
}

static void test_load_errors(void **state) {
    (void)state;
    lm_trials a;
    fill(&a);
    lm_state_mem *m;
    assert_int_equal(lm_state_mem_create(&m), LM_OK);
    lm_state_writer w = lm_state_mem_writer(m);
    lm_state_reader r = lm_state_mem_reader(m);
    const char *prefixes[] = {"p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"};
    for (int i = 0; i < 8; i++) assert_int_equal(lm_trials_save(&a, &w, prefixes[i]), LM_OK);

    expect_load_error(&r, "nothing", "'nothing/n_hp' is missing");

    int32_t short_col[3] = {0, 0, 0};
    assert_int_equal(lm_state_put(&w, "p1/epochs", LM_DT_I32, 3, short_col), LM_OK);
    expect_load_error(&r, "p1", "'p1/epochs' has 3 elements, expected 20");

    double f = 1;
    assert_int_equal(lm_state_put(&w, "p2/curve_lr", LM_DT_F64, 1, &f), LM_OK);
    expect_load_error(&r, "p2", "'p2/curve_lr'");

    assert_int_equal(lm_state_put(&w, "p3/worker", LM_DT_F64, 1, &f), LM_OK);
    expect_load_error(&r, "p3", "'p3/worker' is f64, expected i32");

    int32_t status[20] = {0};
    status[4] = 42;
    assert_int_equal(lm_state_put(&w, "p4/status", LM_DT_I32, 20, status), LM_OK);
    expect_load_error(&r, "p4", "'p4/status': trial 4 has status 42");

    assert_int_equal(lm_state_put_i64(&w, "p5/n", -3), LM_OK);
    expect_load_error(&r, "p5", "'p5/n' is -3");

    assert_int_equal(lm_state_put_i64(&w, "p6/n_hp", 5), LM_OK);
    expect_load_error(&r, "p6", "'p6/n_hp' is 5 hyperparameters, but the space has 2");

    int32_t lens[20] = {0};
    lens[2] = 1000;
    assert_int_equal(lm_state_put(&w, "p7/reason_len", LM_DT_I32, 20, lens), LM_OK);
    expect_load_error(&r, "p7", "'p7/reason_len': trial 2's reason is 1000 bytes");

    int32_t *ct = calloc(a.n_curves, sizeof *ct);
    assert_non_null(ct);
    ct[0] = 20;
    assert_int_equal(lm_state_put(&w, "p8/curve_trial", LM_DT_I32, a.n_curves, ct), LM_OK);
    free(ct);
    expect_load_error(&r, "p8", "'p8/curve_trial'");

    lm_trials_fini(&a);
    lm_state_mem_destroy(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_get),
        cmocka_unit_test(test_growth_keeps_hp_valid),
        cmocka_unit_test(test_record),
        cmocka_unit_test(test_failed_trial),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
