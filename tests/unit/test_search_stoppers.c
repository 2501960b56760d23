/* Stopping rules median, mean and last: decision by decision on hand-made curves
 * (computed by hand in the comments), grace_epochs and min_trials, quantiles and ties,
 * save/load, the registry, and a Hyperband run through the fake controller with the
 * median rule stopping trials inside rungs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "search_mf_sim.h"

static lm_stopper *make_rule(const char *name, int grace, int min_trials, double q) {
    const lm_option_spec *spec = lm_stopper_options(name);
    assert_non_null(spec);
    lm_options o = {0};
    if (grace) assert_int_equal(lm_options_set(&o, spec, "grace_epochs", grace, NULL), LM_OK);
    if (min_trials)
        assert_int_equal(lm_options_set(&o, spec, "min_trials", min_trials, NULL), LM_OK);
    if (q >= 0) assert_int_equal(lm_options_set(&o, spec, "quantile", q, NULL), LM_OK);
    lm_stopper *s = NULL;
    if (lm_stopper_create(name, &o, &s) != LM_OK) fail_msg("%s: %s", name, lm_error_message());
    assert_non_null(s);
    assert_string_equal(s->ops->name, name);
    return s;
}

/* Adds a report for trial id's next epoch (creating trials as needed). */
static lm_report add(lm_trials *t, int id, double v) {
    while (t->n <= id) {
        int k;
        assert_int_equal(lm_trials_add(t, NULL, 0, &k), LM_OK);
    }
    lm_report r;
    memset(&r, 0, sizeof r);
    r.trial_id = id;
    r.epoch = t->v[id].epochs + 1;
    r.val_accuracy = v;
    assert_int_equal(lm_trials_record(t, &r, (double)t->n_curves), LM_OK);
    return r;
}

#define S LM_DECIDE_STOP
#define C LM_DECIDE_CONTINUE

typedef struct step {
    int trial;
    double v;
    lm_decision_kind median, mean, last;
} step;

/* A, B, C = trials 0, 1, 2 with curves (.5 .6 .7), (.3 .4 .5), (.6 .7 .8); then D, E, F. */
static const step script[] = {
    {0, 0.5, C, C, C}, {1, 0.3, C, C, C}, {2, 0.6, C, C, C}, /* fewer than 3 others */
    {0, 0.6, C, C, C}, {1, 0.4, C, C, C}, {2, 0.7, C, C, C},
    {0, 0.7, C, C, C}, {1, 0.5, C, C, C}, {2, 0.8, C, C, C},
    /* D step 1, .2: others .5 .3 .6: median .5, mean .4667, last's median .5 */
    {3, 0.2, S, S, S},
    /* D step 2, .52 (best .52): running averages .55 .35 .65: median .55, mean .5167;
     * last values .6 .4 .7: median .6 */
    {3, 0.52, S, C, S},
    /* D step 3, .9: averages .6 .4 .7; values .7 .5 .8: nothing beats .9 */
    {3, 0.9, C, C, C},
    /* E step 1, .5: others .5 .3 .6 .2: median (type 7) .4, mean .4 */
    {4, 0.5, C, C, C},
    /* E step 2, .3 (best .5): averages .55 .35 .65 .36: median .455, mean .4775;
     * values .6 .4 .7 .52: median .56 > .3 */
    {4, 0.3, C, C, S},
    /* F step 1, NaN counts as 0: others .5 .3 .6 .2 .5 */
    {5, NAN, S, S, S},
};

static void test_script(void **state) {
    (void)state;
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 0), LM_OK);
    lm_stopper *med = make_rule("median", 0, 0, -1);
    lm_stopper *mean = make_rule("mean", 0, 0, -1);
    lm_stopper *last = make_rule("last", 0, 0, -1);
    for (size_t k = 0; k < sizeof script / sizeof *script; k++) {
        const step *x = &script[k];
        lm_report r = add(&t, x->trial, x->v);
        lm_decision dm = med->ops->on_report(med, &t, &r);
        lm_decision da = mean->ops->on_report(mean, &t, &r);
        lm_decision dl = last->ops->on_report(last, &t, &r);
        if (dm.kind != x->median || da.kind != x->mean || dl.kind != x->last)
            fail_msg("step %zu (trial %d epoch %d): median %d mean %d last %d, expected %d %d %d",
                     k, x->trial, r.epoch, dm.kind, da.kind, dl.kind, x->median, x->mean,
                     x->last);
    }
    med->ops->destroy(med);
    mean->ops->destroy(mean);
    last->ops->destroy(last);
    lm_trials_fini(&t);
}

/* grace_epochs 2: D's step 1 is spared, its step 2 is judged as before. min_trials 4:
 * D (3 others) is spared; E at step 1 (4 others: .5 .3 .6 .2, median .4) is judged. */
static void test_grace_and_min_trials(void **state) {
    (void)state;
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 0), LM_OK);
    lm_stopper *grace = make_rule("median", 2, 0, -1);
    lm_stopper *min4 = make_rule("median", 0, 4, -1);
    const lm_decision_kind want_grace[] = {C, C, C, C, C, C, C, C, C, C, S, C, C, C};
    const lm_decision_kind want_min4[] = {C, C, C, C, C, C, C, C, C, C, C, C, C, C};
    for (size_t k = 0; k < 14; k++) {
        lm_report r = add(&t, script[k].trial, script[k].v);
        assert_int_equal(grace->ops->on_report(grace, &t, &r).kind, want_grace[k]);
        assert_int_equal(min4->ops->on_report(min4, &t, &r).kind, want_min4[k]);
    }
    /* F at step 1 with .35: others .5 .3 .6 .2 .5 (median .5): min4 stops it. */
    lm_report r = add(&t, 5, 0.35);
    assert_int_equal(min4->ops->on_report(min4, &t, &r).kind, S);
    assert_int_equal(grace->ops->on_report(grace, &t, &r).kind, C);
    grace->ops->destroy(grace);
    min4->ops->destroy(min4);
    lm_trials_fini(&t);
}

/* Others at step 1: .25 .5 .75 1 (exact in binary). The 0.25 quantile (type 7) is
 * .25 + 0.75 x .25 = .4375; a tie does not stop. */
static lm_decision_kind probe(const char *rule, double q, double v) {
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 0), LM_OK);
    const double base[] = {0.25, 0.5, 0.75, 1.0};
    for (int i = 0; i < 4; i++) add(&t, i, base[i]);
    lm_stopper *s = make_rule(rule, 0, 0, q);
    lm_report r = add(&t, 4, v);
    lm_decision d = s->ops->on_report(s, &t, &r);
    s->ops->destroy(s);
    lm_trials_fini(&t);
    return d.kind;
}

static void test_quantiles(void **state) {
    (void)state;
    assert_int_equal(probe("last", 0.25, 0.4374), S);
    assert_int_equal(probe("last", 0.25, 0.4375), C);
    assert_int_equal(probe("last", 0.25, 0.44), C);
    assert_int_equal(probe("last", 0.5, 0.6249), S);   /* median .625 */
    assert_int_equal(probe("last", 0.5, 0.625), C);
    assert_int_equal(probe("last", 0.0, 0.25), C);     /* the minimum */
    assert_int_equal(probe("last", 0.0, 0.2499), S);
    assert_int_equal(probe("last", 1.0, 0.9999), S);   /* the maximum */
    assert_int_equal(probe("last", 1.0, 1.0), C);
    assert_int_equal(probe("median", -1, 0.6249), S);
    assert_int_equal(probe("median", -1, 0.625), C);
    assert_int_equal(probe("mean", -1, 0.6249), S);    /* mean .625 too */
    assert_int_equal(probe("mean", -1, 0.625), C);
}

/* A stopper loaded from a checkpoint (with the table) decides as the original. A
 * table replaced by a shorter one is taken in afresh. */
static void test_save_load(void **state) {
    (void)state;
    lm_trials t, t2;
    assert_int_equal(lm_trials_init(&t, 0), LM_OK);
    assert_int_equal(lm_trials_init(&t2, 0), LM_OK);
    lm_stopper *a = make_rule("last", 0, 0, 0.5);
    size_t n = sizeof script / sizeof *script;
    for (size_t k = 0; k < 11; k++) {
        lm_report r = add(&t, script[k].trial, script[k].v);
        a->ops->on_report(a, &t, &r);
    }
    lm_state_mem *st;
    assert_int_equal(lm_state_mem_create(&st), LM_OK);
    lm_state_writer w = lm_state_mem_writer(st);
    lm_state_reader rd = lm_state_mem_reader(st);
    assert_int_equal(a->ops->save(a, &w), LM_OK);
    assert_int_equal(lm_trials_save(&t, &w, "trials"), LM_OK);
    lm_stopper *b = make_rule("last", 0, 0, 0.5);
    assert_int_equal(b->ops->load(b, &rd), LM_OK);
    assert_int_equal(lm_trials_load(&t2, &rd, "trials"), LM_OK);
    for (size_t k = 11; k < n; k++) {
        lm_report r = add(&t, script[k].trial, script[k].v);
        lm_report r2 = add(&t2, script[k].trial, script[k].v);
        lm_decision da = a->ops->on_report(a, &t, &r);
        lm_decision db = b->ops->on_report(b, &t2, &r2);
        assert_int_equal(da.kind, db.kind);
        assert_int_equal(da.kind, script[k].last);
    }
    /* The same stopper now shown a new, shorter table: it starts over. */
    lm_trials t3;
    assert_int_equal(lm_trials_init(&t3, 0), LM_OK);
    for (int i = 0; i < 4; i++) add(&t3, i, 0.25 * (i + 1));
    lm_report r = add(&t3, 4, 0.6249);
    assert_int_equal(a->ops->on_report(a, &t3, &r).kind, S);
    lm_trials_fini(&t3);

    lm_stopper *m = make_rule("median", 0, 0, -1);
    lm_error_clear();
    assert_int_equal(m->ops->load(m, &rd), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(),
                           "'stopper/kind' is 'last', but this run's stopping rule is 'median'"));
    lm_error_clear();
    m->ops->destroy(m);
    a->ops->destroy(a);
    b->ops->destroy(b);
    lm_state_mem_destroy(&st);
    lm_trials_fini(&t);
    lm_trials_fini(&t2);
}

static void test_registry(void **state) {
    (void)state;
    int n = 0;
    const char *const *names = lm_stopper_names(&n);
    const char *want[] = {"none", "median", "mean", "last"};
    for (int k = 0; k < 4; k++) {
        int found = 0;
        for (int i = 0; i < n; i++) found |= !strcmp(names[i], want[k]);
        assert_true(found);
    }
    lm_stopper *s = NULL;
    assert_int_equal(lm_stopper_create("none", NULL, &s), LM_OK);
    assert_null(s);
    assert_int_equal(lm_stopper_create("median", NULL, &s), LM_OK); /* defaults */
    assert_non_null(s);
    lm_stopper_destroy(&s);
    assert_null(s);
    lm_error_clear();
    assert_int_equal(lm_stopper_create("meadian", NULL, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "did you mean 'median'"));
    const lm_option_spec *last = lm_stopper_options("last");
    const lm_option_spec *mean = lm_stopper_options("mean");
    lm_options o = {0};
    assert_true(lm_options_get(&o, last, "quantile") == 0.5);
    assert_true(lm_options_get(&o, mean, "grace_epochs") == 1);
    assert_true(lm_options_get(&o, mean, "min_trials") == 3);
    lm_error_clear();
    assert_int_equal(lm_options_set(&o, mean, "quantile", 0.5, NULL), LM_EINVAL);
    assert_int_equal(lm_options_set(&o, last, "quantile", 1.5, NULL), LM_ERANGE);
    assert_int_equal(lm_options_set(&o, last, "grace_epochs", 0, NULL), LM_ERANGE);
    lm_error_clear();
}

/* Hyperband with the median rule: trials stopped inside a rung rank last there and are
 * never promoted; the run still completes every bracket. */
static void test_with_hyperband(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    lm_options o = {0};
    sim m;
    sim_init(&m, sim_searcher("hyperband", sp, 3, 0, 27, &o), 2, 4, 17);
    m.stopper = make_rule("median", 2, 3, -1);
    sim_run(&m, 1 << 30);
    assert_true(m.done);
    const lm_trials *t = &m.t;
    int by_rule = 0, done = 0;
    for (int i = 0; i < t->n; i++) {
        const lm_trial *tr = &t->v[i];
        assert_true(tr->status == LM_TRIAL_DONE || tr->status == LM_TRIAL_STOPPED);
        if (tr->status == LM_TRIAL_DONE) {
            done++;
            assert_int_equal(tr->epochs, 27);
        } else if (!strstr(tr->reason, "not promoted")) {
            by_rule++;
            assert_true(tr->epochs < tr->epochs_target); /* stopped inside its rung */
            for (size_t q = 0; q < t->n_promotions; q++)
                if (t->promotions[q].trial_id == i)
                    assert_true(t->promotions[q].epoch < tr->epochs);
        }
    }
    assert_true(by_rule > 0);
    assert_true(done >= 1);
    for (int b = 0; b < 4; b++) {
        int top = 0;
        for (int i = 0; i < t->n; i++) top += t->v[i].bracket == b && t->v[i].rung == b;
        assert_true(top >= 1); /* every bracket reached its top rung */
    }
    sim_fini(&m);
    lm_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_script),
        cmocka_unit_test(test_grace_and_min_trials),
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_with_hyperband),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
