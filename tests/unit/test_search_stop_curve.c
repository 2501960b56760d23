/* The curve-extrapolation stopping rule (src/search/stop_curve.c): the extrapolation
 * recovers the final value of curves from its own families and of a noisy one, the
 * rule stops a clearly bad curve and keeps a good one, grace_epochs and min_trials,
 * save/load, and the registry (built-in "curve", lm_stopper_register). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/rng.h"
#include "lamarck/search.h"
#include "lamarck/state.h"
#include "search/searcher_impl.h"

#include <math.h>
#include <string.h>

#define T 20

/* Exact members of the families are extrapolated to within 0.01 from 6 of 20 points
 * (the shape grid's spacing costs a little), with a small deviation. */
static void test_extrapolate_families(void **state) {
    (void)state;
    double y[T];
    for (int x = 1; x <= 6; x++) y[x - 1] = 0.9 - 0.5 * pow(x, -0.7);
    double mu, sd;
    assert_int_equal(lm__curve_extrapolate(y, 6, T, &mu, &sd), LM_OK);
    assert_float_equal(mu, 0.9 - 0.5 * pow(T, -0.7), 0.01);
    assert_true(sd < 0.03);
    for (int x = 1; x <= 6; x++) y[x - 1] = 0.8 - 0.6 * exp(-0.4 * x);
    assert_int_equal(lm__curve_extrapolate(y, 6, T, &mu, &sd), LM_OK);
    assert_float_equal(mu, 0.8 - 0.6 * exp(-0.4 * T), 0.01);
    /* Noise widens the deviation. */
    lm_rng r;
    lm_rng_init(&r, 1, 0, 0);
    double sd_clean = sd;
    for (int x = 1; x <= 6; x++) y[x - 1] = 0.8 - 0.6 * exp(-0.4 * x) + 0.02 * lm_rng_normal(&r);
    assert_int_equal(lm__curve_extrapolate(y, 6, T, &mu, &sd), LM_OK);
    assert_true(sd > sd_clean);
    assert_float_equal(mu, 0.8, 0.1);
    /* Too few points. */
    assert_int_equal(lm__curve_extrapolate(y, 3, T, &mu, &sd), LM_EINVAL);
    lm_error_clear();
}

static lm_stopper *make(int grace, int min_trials, double delta) {
    const lm_option_spec *spec = lm_stopper_options("curve");
    assert_non_null(spec);
    lm_options o = {0};
    if (grace) assert_int_equal(lm_options_set(&o, spec, "grace_epochs", grace, NULL), LM_OK);
    if (min_trials) assert_int_equal(lm_options_set(&o, spec, "min_trials", min_trials, NULL), LM_OK);
    if (delta >= 0) assert_int_equal(lm_options_set(&o, spec, "delta", delta, NULL), LM_OK);
    lm_stopper *s = NULL;
    if (lm_stopper_create("curve", &o, &s) != LM_OK) fail_msg("curve: %s", lm_error_message());
    assert_non_null(s);
    assert_string_equal(s->ops->name, "curve");
    return s;
}

static lm_report add(lm_trials *t, int id, double v) {
    lm_report r;
    memset(&r, 0, sizeof r);
    r.trial_id = id;
    r.epoch = t->v[id].epochs + 1;
    r.val_accuracy = v;
    assert_int_equal(lm_trials_record(t, &r, (double)t->n_curves), LM_OK);
    return r;
}

static double good(int x) { return 0.95 - 0.5 * exp(-0.2 * x); }  /* final ~0.94 */
static double bad(int x) { return 0.55 - 0.3 * exp(-0.5 * x); }   /* final ~0.55 */
static double done_curve(int k, int x) { return 0.80 + 0.04 * k - 0.4 * exp(-0.3 * x); }

/* Three complete trials end at about 0.80, 0.84 and 0.88; then a bad curve is stopped
 * as soon as the grace period allows, and a good one runs to the end. */
static void test_stops_bad_keeps_good(void **state) {
    (void)state;
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 0), LM_OK);
    lm_stopper *s = make(0, 0, -1);
    int id;
    for (int k = 0; k < 3; k++) {
        assert_int_equal(lm_trials_add(&t, NULL, T, &id), LM_OK);
        for (int x = 1; x <= T; x++) {
            lm_report r = add(&t, id, done_curve(k, x));
            /* Fewer than 3 others complete: never stopped. */
            assert_int_equal(s->ops->on_report(s, &t, &r).kind, LM_DECIDE_CONTINUE);
        }
    }
    int b, g;
    assert_int_equal(lm_trials_add(&t, NULL, T, &b), LM_OK);
    assert_int_equal(lm_trials_add(&t, NULL, T, &g), LM_OK);
    int stopped_at = 0;
    for (int x = 1; x <= T && !stopped_at; x++) {
        lm_report r = add(&t, b, bad(x));
        if (s->ops->on_report(s, &t, &r).kind == LM_DECIDE_STOP) stopped_at = x;
    }
    assert_int_equal(stopped_at, 4); /* the default grace period */
    for (int x = 1; x <= T; x++) {
        lm_report r = add(&t, g, good(x));
        assert_int_equal(s->ops->on_report(s, &t, &r).kind, LM_DECIDE_CONTINUE);
    }
    lm_stopper_destroy(&s);

    /* A longer grace period and a stricter min_trials delay or prevent the stop. */
    s = make(8, 0, -1);
    lm_trials_fini(&t);
    assert_int_equal(lm_trials_init(&t, 0), LM_OK);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(lm_trials_add(&t, NULL, T, &id), LM_OK);
        for (int x = 1; x <= T; x++) add(&t, id, done_curve(k, x));
    }
    assert_int_equal(lm_trials_add(&t, NULL, T, &b), LM_OK);
    stopped_at = 0;
    for (int x = 1; x <= T && !stopped_at; x++) {
        lm_report r = add(&t, b, bad(x));
        if (s->ops->on_report(s, &t, &r).kind == LM_DECIDE_STOP) stopped_at = x;
    }
    assert_int_equal(stopped_at, 8);
    lm_stopper_destroy(&s);
    s = make(0, 4, -1);
    assert_int_equal(lm_trials_add(&t, NULL, T, &b), LM_OK);
    for (int x = 1; x <= T; x++) {
        lm_report r = add(&t, b, bad(x));
        assert_int_equal(s->ops->on_report(s, &t, &r).kind, LM_DECIDE_CONTINUE);
    }
    /* delta 0: stop only when the probability is exactly 0, which a normal never gives. */
    lm_stopper_destroy(&s);
    s = make(0, 0, 0.0);
    assert_int_equal(lm_trials_add(&t, NULL, T, &b), LM_OK);
    for (int x = 1; x <= 6; x++) {
        lm_report r = add(&t, b, good(x) - 0.1);
        assert_int_equal(s->ops->on_report(s, &t, &r).kind, LM_DECIDE_CONTINUE);
    }
    lm_stopper_destroy(&s);
    lm_trials_fini(&t);
}

static void test_save_load(void **state) {
    (void)state;
    lm_stopper *s = make(5, 2, 0.1);
    lm_state_mem *st = NULL;
    assert_int_equal(lm_state_mem_create(&st), LM_OK);
    lm_state_writer w = lm_state_mem_writer(st);
    assert_int_equal(s->ops->save(s, &w), LM_OK);
    lm_state_reader r = lm_state_mem_reader(st);
    double delta;
    assert_int_equal(lm_state_get_f64(&r, "stopper/delta", &delta), LM_OK);
    assert_float_equal(delta, 0.1, 0);
    assert_int_equal(s->ops->load(s, &r), LM_OK);
    lm_stopper_destroy(&s);
    /* Another rule's checkpoint is refused. */
    lm_stopper *med = NULL;
    assert_int_equal(lm_stopper_create("median", &(lm_options){0}, &med), LM_OK);
    lm_state_mem *other = NULL;
    assert_int_equal(lm_state_mem_create(&other), LM_OK);
    w = lm_state_mem_writer(other);
    assert_int_equal(med->ops->save(med, &w), LM_OK);
    s = make(0, 0, -1);
    r = lm_state_mem_reader(other);
    assert_int_equal(s->ops->load(s, &r), LM_ECKPT);
    lm_error_clear();
    lm_stopper_destroy(&s);
    lm_stopper_destroy(&med);
    lm_state_mem_destroy(&other);
    lm_state_mem_destroy(&st);
}

static lm_decision never(lm_stopper *s, const lm_trials *t, const lm_report *r) {
    (void)s;
    (void)t;
    (void)r;
    return (lm_decision){LM_DECIDE_CONTINUE};
}
static int noop_create(const lm_options *o, lm_stopper **out) {
    (void)o;
    *out = NULL;
    return LM_OK;
}
static void noop_destroy(lm_stopper *s) { (void)s; }

static void test_registry(void **state) {
    (void)state;
    int n;
    const char *const *names = lm_stopper_names(&n);
    int found = 0;
    for (int i = 0; i < n; i++) found |= !strcmp(names[i], "curve");
    assert_true(found);
    static const lm_stopper_ops extra = {.name = "test_extra", .create = noop_create,
                                         .on_report = never, .destroy = noop_destroy};
    assert_null(lm_stopper_options("test_extra"));
    assert_int_equal(lm_stopper_register(&extra), LM_OK);
    assert_int_equal(lm_stopper_register(&extra), LM_OK); /* again: replaces */
    names = lm_stopper_names(&n);
    assert_string_equal(names[n - 1], "test_extra");
    assert_non_null(lm_stopper_options("test_extra"));
    lm_options o = {0};
    lm_stopper *s = (lm_stopper *)&o;
    assert_int_equal(lm_stopper_create("test_extra", &o, &s), LM_OK);
    assert_null(s);
    static const lm_stopper_ops clash = {.name = "median", .create = noop_create,
                                         .on_report = never, .destroy = noop_destroy};
    assert_int_equal(lm_stopper_register(&clash), LM_EINVAL);
    lm_error_clear();
    assert_int_equal(lm_stopper_create("curv", &o, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "did you mean 'curve'"));
    lm_error_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_extrapolate_families),
        cmocka_unit_test(test_stops_bad_keeps_good),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
