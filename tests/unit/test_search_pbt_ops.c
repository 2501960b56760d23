/* Population-based training's operators without a trial table: truncation selection
 * and binary tournament (exploit), perturbation and resampling with frozen architecture
 * parameters and conditionals (explore); the table's pbt events (validation, save and
 * load); the searcher's options. Runs through a fake controller are in
 * test_search_pbt.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/rng.h"
#include "lamarck/search.h"
#include "search/pbt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- exploit ---- */

static void test_quantile_count(void **state) {
    (void)state;
    assert_int_equal(lm__pbt_quantile_count(8, 0.25), 2);
    assert_int_equal(lm__pbt_quantile_count(10, 0.25), 3); /* ceil(2.5) */
    assert_int_equal(lm__pbt_quantile_count(1, 0.25), 0);
    assert_int_equal(lm__pbt_quantile_count(2, 0.25), 1);
    assert_int_equal(lm__pbt_quantile_count(3, 0.5), 1);  /* at most n/2 */
    assert_int_equal(lm__pbt_quantile_count(20, 0.2), 4);
    assert_int_equal(lm__pbt_quantile_count(8, 0), 0);
}

/* Exactly the bottom q copy, each from a member drawn uniformly from the top q. */
static void test_truncation(void **state) {
    (void)state;
    enum { N = 20, DRAWS = 20000 };
    /* Scores in a scrambled order; member 7 and 11 are excluded (not ranked). */
    double score[N];
    unsigned char in[N];
    for (int i = 0; i < N; i++) {
        score[i] = (double)((i * 7) % N) / N;
        in[i] = i != 7 && i != 11;
    }
    score[3] = NAN; /* ranks last */
    lm__pbt_ranked order[N];
    /* The ranked: 18 members; k = ceil(0.25 x 18) = 5. */
    int ranked[N], m = 0;
    for (int i = 0; i < N; i++)
        if (in[i]) ranked[m++] = i;
    assert_int_equal(m, 18);
    for (int a = 1; a < m; a++) /* expected ranking, by hand */
        for (int b = a; b > 0; b--) {
            double x = isnan(score[ranked[b]]) ? -INFINITY : score[ranked[b]];
            double y = isnan(score[ranked[b - 1]]) ? -INFINITY : score[ranked[b - 1]];
            if (x <= y) break;
            int t = ranked[b];
            ranked[b] = ranked[b - 1];
            ranked[b - 1] = t;
        }
    assert_int_equal(ranked[m - 1], 3);
    lm_rng rng;
    lm_rng_init(&rng, 5, 0, LM_STREAM_SEARCH);
    for (int r = 0; r < m; r++) {
        int self = ranked[r];
        int bottom = r >= m - 5;
        int count[N] = {0};
        for (int k = 0; k < DRAWS / 10; k++) {
            int d = lm__pbt_truncation(score, in, N, self, 0.25, &rng, order);
            if (!bottom) {
                assert_int_equal(d, -1);
                continue;
            }
            assert_true(d >= 0 && d < N);
            count[d]++;
        }
        if (!bottom) continue;
        for (int j = 0; j < N; j++) {
            int top = 0;
            for (int q = 0; q < 5; q++) top |= ranked[q] == j;
            if (!top) assert_int_equal(count[j], 0);
        }
    }
    /* Uniform over the top 5: 20000 draws, each 0.2 within 0.015 (about 5 sigma). */
    int count[N] = {0};
    for (int k = 0; k < DRAWS; k++) count[lm__pbt_truncation(score, in, N, 3, 0.25, &rng, order)]++;
    for (int q = 0; q < 5; q++)
        assert_true(fabs(count[ranked[q]] / (double)DRAWS - 0.2) < 0.015);
    /* self need not be in in[] (a member being decided always is ranked). */
    in[3] = 0;
    assert_true(lm__pbt_truncation(score, in, N, 3, 0.25, &rng, order) >= 0);
    /* Too few ranked members: nobody copies. */
    unsigned char none[N] = {0};
    assert_int_equal(lm__pbt_truncation(score, none, N, 3, 0.25, &rng, order), -1);
    /* Ties go to the lower index: four equal scores, q = 0.25 -> 1 and 1. */
    double tied[4] = {0.5, 0.5, 0.5, 0.5};
    unsigned char all[4] = {1, 1, 1, 1};
    lm__pbt_ranked o4[4];
    for (int k = 0; k < 50; k++) {
        assert_int_equal(lm__pbt_truncation(tied, all, 4, 3, 0.25, &rng, o4), 0);
        assert_int_equal(lm__pbt_truncation(tied, all, 4, 2, 0.25, &rng, o4), -1);
    }
}

/* Binary tournament: a uniformly drawn other member, copied when strictly better. */
static void test_tournament(void **state) {
    (void)state;
    enum { N = 8, DRAWS = 28000 };
    double score[N] = {0.1, 0.7, 0.3, 0.5, 0.9, 0.2, 0.5, 0.8};
    unsigned char in[N] = {1, 1, 1, 1, 1, 1, 1, 1};
    lm_rng rng;
    lm_rng_init(&rng, 9, 0, LM_STREAM_SEARCH);
    /* self 3 (0.5): better are 1, 4, 7 (6 ties, not better): each 1/7, never others. */
    int count[N + 1] = {0};
    for (int k = 0; k < DRAWS; k++) {
        int d = lm__pbt_tournament(score, in, N, 3, &rng);
        count[d < 0 ? N : d]++;
    }
    for (int j = 0; j < N; j++) {
        if (j == 1 || j == 4 || j == 7) assert_true(fabs(count[j] / (double)DRAWS - 1.0 / 7) < 0.012);
        else assert_int_equal(count[j], 0);
    }
    assert_true(fabs(count[N] / (double)DRAWS - 4.0 / 7) < 0.015);
    /* The best never copies; excluded members are never drawn. */
    for (int k = 0; k < 200; k++) assert_int_equal(lm__pbt_tournament(score, in, N, 4, &rng), -1);
    in[4] = 0;
    in[1] = 0;
    in[7] = 0;
    for (int k = 0; k < 200; k++) assert_int_equal(lm__pbt_tournament(score, in, N, 3, &rng), -1);
    /* A failed member (-inf) copies anyone with a score. */
    score[0] = -INFINITY;
    for (int k = 0; k < 200; k++) assert_true(lm__pbt_tournament(score, in, N, 0, &rng) > 0);
    unsigned char only_self[N] = {1};
    assert_int_equal(lm__pbt_tournament(score, only_self, N, 0, &rng), -1);
}

/* ---- explore ---- */

enum { H_LR, H_MOM, H_BATCH, H_SCHED, H_STEP, H_DEPTH, H_WIDTH, H_DROP, N_H };

/* lr (log), momentum, batch_size (int), schedule (categorical) with step_size active
 * only for "step", depth and width (architecture), dropout. */
static lm_space *explore_space(void) {
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-4, 1, 1), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "momentum", 0.5, 0.99, 0), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "batch_size", 1, 512, 0), LM_OK);
    const char *sched[] = {"constant", "step", "cosine"};
    assert_int_equal(lm_space_add_categorical(sp, "schedule", 3, sched), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "step_size", 1, 20, 0), LM_OK);
    const char *when[] = {"step"};
    assert_int_equal(lm_space_set_condition(sp, "step_size", "schedule", 1, when), LM_OK);
    assert_int_equal(lm_space_add_int(sp, "depth", 1, 8, 0), LM_OK);
    const char *widths[] = {"64", "128", "256"};
    assert_int_equal(lm_space_add_categorical(sp, "width", 3, widths), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "dropout", 0, 0.5, 0), LM_OK);
    return sp;
}

static int close_to(double a, double b) { return fabs(a - b) <= 1e-12 * fmax(1, fabs(b)); }

static void test_perturb(void **state) {
    (void)state;
    lm_space *sp = explore_space();
    lm__pbt_explore_params p = {LM__PBT_PERTURB, 0, 0.8, 1.2};
    lm_rng rng;
    lm_rng_init(&rng, 3, 0, LM_STREAM_SEARCH);
    double from[N_H] = {0.01, 0.9, 100, 0, NAN, 3, 1, 0.3}, to[N_H];
    int up[N_H] = {0};
    enum { DRAWS = 4000 };
    for (int k = 0; k < DRAWS; k++) {
        uint64_t mask = lm__pbt_explore(sp, &p, &rng, from, to);
        /* floats (log-scale alike): x 0.8 or x 1.2, clipped (0.9 x 1.2 > 0.99) */
        assert_true(close_to(to[H_LR], 0.008) || close_to(to[H_LR], 0.012));
        assert_true(close_to(to[H_MOM], 0.72) || to[H_MOM] == 0.99);
        assert_true(close_to(to[H_DROP], 0.24) || close_to(to[H_DROP], 0.36));
        /* integers rounded: 100 -> 80 or 120 */
        assert_true(to[H_BATCH] == 80 || to[H_BATCH] == 120);
        /* a categorical at its end moves to its only neighbour */
        assert_true(to[H_SCHED] == 1);
        /* step_size is switched on by "step": drawn from its prior */
        assert_true(to[H_STEP] >= 1 && to[H_STEP] <= 20 && to[H_STEP] == floor(to[H_STEP]));
        /* architecture: the donor's */
        assert_true(to[H_DEPTH] == 3 && to[H_WIDTH] == 1);
        uint64_t want = (1u << H_LR) | (1u << H_MOM) | (1u << H_BATCH) | (1u << H_SCHED) |
                        (1u << H_STEP) | (1u << H_DROP);
        assert_true(mask == want);
        up[H_LR] += to[H_LR] > from[H_LR];
        up[H_BATCH] += to[H_BATCH] > from[H_BATCH];
    }
    /* each factor with probability 1/2 (within 0.04: > 5 sigma at 4000 draws) */
    assert_true(fabs(up[H_LR] / (double)DRAWS - 0.5) < 0.04);
    assert_true(fabs(up[H_BATCH] / (double)DRAWS - 0.5) < 0.04);

    /* at the bounds, small integers, the middle choice, a step switched off */
    double edge[N_H] = {1, 0.5, 2, 1, 5, 3, 0, 0.5};
    int seen_sched[3] = {0}, seen_batch[4] = {0};
    for (int k = 0; k < DRAWS; k++) {
        lm__pbt_explore(sp, &p, &rng, edge, to);
        assert_true(close_to(to[H_LR], 0.8) || to[H_LR] == 1);
        assert_true(to[H_MOM] == 0.5 || close_to(to[H_MOM], 0.6));
        assert_true(to[H_BATCH] == 1 || to[H_BATCH] == 3); /* 1.6 and 2.4 round back to 2 */
        seen_batch[(int)to[H_BATCH]]++;
        assert_true(to[H_SCHED] == 0 || to[H_SCHED] == 2);
        seen_sched[(int)to[H_SCHED]]++;
        assert_true(isnan(to[H_STEP])); /* step_size is inactive off "step" */
        assert_true(to[H_WIDTH] == 0);
    }
    assert_true(seen_sched[0] > DRAWS / 3 && seen_sched[2] > DRAWS / 3);
    assert_true(seen_batch[1] > DRAWS / 3 && seen_batch[3] > DRAWS / 3);
    /* a categorical at the other end, and step_size perturbed while active */
    double last[N_H] = {0.1, 0.9, 10, 2, 10, 3, 2, 0.1};
    for (int k = 0; k < 200; k++) {
        lm__pbt_explore(sp, &p, &rng, last, to);
        assert_true(to[H_SCHED] == 1);
        assert_true(to[H_WIDTH] == 2);
        assert_true(!isnan(to[H_STEP]));
    }
    double stepping[N_H] = {0.1, 0.9, 10, 1, 10, 3, 2, 0.1};
    int moved = 0;
    for (int k = 0; k < 400; k++) {
        lm__pbt_explore(sp, &p, &rng, stepping, to);
        if (to[H_SCHED] == 1) continue; /* cannot: the middle choice always moves */
        moved++;
        assert_true(isnan(to[H_STEP]));
    }
    assert_int_equal(moved, 400);
    lm_space_destroy(&sp);
}

static void test_resample(void **state) {
    (void)state;
    lm_space *sp = explore_space();
    lm_rng rng;
    lm_rng_init(&rng, 4, 0, LM_STREAM_SEARCH);
    double from[N_H] = {0.01, 0.9, 100, 0, NAN, 3, 1, 0.3}, to[N_H];
    enum { DRAWS = 20000 };
    /* explore: resample keeps a value or redraws it with probability resample_prob */
    lm__pbt_explore_params p = {LM__PBT_RESAMPLE, 0.25, 0.8, 1.2};
    int changed = 0, low_half = 0;
    for (int k = 0; k < DRAWS; k++) {
        lm__pbt_explore(sp, &p, &rng, from, to);
        assert_true(to[H_DEPTH] == 3 && to[H_WIDTH] == 1);
        if (to[H_LR] != from[H_LR]) {
            changed++;
            assert_true(to[H_LR] >= 1e-4 && to[H_LR] <= 1);
            low_half += to[H_LR] < 1e-2; /* the geometric middle of [1e-4, 1] */
        }
        assert_true(to[H_MOM] == from[H_MOM] || (to[H_MOM] >= 0.5 && to[H_MOM] <= 0.99));
    }
    /* frequency 0.25 within 0.015 (5 sigma); log-uniform prior: half below 1e-2 */
    assert_true(fabs(changed / (double)DRAWS - 0.25) < 0.015);
    assert_true(fabs(low_half / (double)changed - 0.5) < 0.03);
    /* perturb with resample_prob: values off the two factors come from the prior */
    p = (lm__pbt_explore_params){LM__PBT_PERTURB, 0.3, 0.8, 1.2};
    int drawn = 0;
    for (int k = 0; k < DRAWS; k++) {
        lm__pbt_explore(sp, &p, &rng, from, to);
        drawn += !close_to(to[H_LR], 0.008) && !close_to(to[H_LR], 0.012);
    }
    assert_true(fabs(drawn / (double)DRAWS - 0.3) < 0.015);
    /* resample_prob 1: every explorable entry redrawn, architecture never */
    p = (lm__pbt_explore_params){LM__PBT_RESAMPLE, 1, 0.8, 1.2};
    for (int k = 0; k < 500; k++) {
        lm__pbt_explore(sp, &p, &rng, from, to);
        assert_true(to[H_DEPTH] == 3 && to[H_WIDTH] == 1);
    }
    lm_space_destroy(&sp);
}

static void test_explorable(void **state) {
    (void)state;
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    const char *const frozen[] = {"model",  "depth",  "width",  "conv_layers",
                                  "filters", "kernel", "batchnorm", "init", "scaler",
                                  "impute", "missing_indicator", "one_hot", "epochs"};
    const char *const free_[] = {"lr", "momentum", "weight_decay", "dropout", "batch_size",
                                 "gamma", "step_size", "nesterov", "mixup_alpha"};
    for (size_t i = 0; i < sizeof frozen / sizeof *frozen; i++)
        assert_int_equal(lm_space_add_float(sp, frozen[i], 0, 1, 0), LM_OK);
    for (size_t i = 0; i < sizeof free_ / sizeof *free_; i++)
        assert_int_equal(lm_space_add_float(sp, free_[i], 0, 1, 0), LM_OK);
    int n = lm_space_size(sp), nf = (int)(sizeof frozen / sizeof *frozen);
    for (int i = 0; i < n; i++) assert_int_equal(lm__pbt_explorable(sp, i), i >= nf);
    assert_int_equal(lm__pbt_explorable(sp, n), 0);
    lm_space_destroy(&sp);
}

static void test_event_table(void **state) {
    (void)state;
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 2), LM_OK);
    double a[2] = {0.1, 0.9}, b[2] = {0.12, 0.9};
    int id;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lm_trials_add(&t, a, 8, &id), LM_OK);
        assert_int_equal(t.v[id].member, -1);
    }
    lm_report r = {.trial_id = 0, .epoch = 1, .val_accuracy = 0.5, .seconds = 1};
    assert_int_equal(lm_trials_record(&t, &r, 3.5), LM_OK);
    lm_pbt_event e = {.t = 99, .epoch = 1, .member = 1, .trial = 2, .donor = 0,
                      .donor_member = 0, .prev_trial = 1, .prev_epoch = 0, .score = 0.2,
                      .donor_score = 0.5};
    assert_int_equal(lm_trials_add_pbt_event(&t, &e, a, b), LM_OK);
    assert_true(t.pbt[0].t == 3.5); /* the newest report's arrival */
    assert_memory_equal(lm_trials_pbt_hp(&t, 0, 1), b, sizeof b);
    assert_null(lm_trials_pbt_hp(&t, 1, 0));
    lm_error_clear();
    lm_pbt_event bad = e;
    bad.donor = 3;
    assert_int_equal(lm_trials_add_pbt_event(&t, &bad, a, b), LM_EINVAL);
    bad = e;
    bad.donor = 2;
    assert_int_equal(lm_trials_add_pbt_event(&t, &bad, a, b), LM_EINVAL);
    bad = e;
    bad.epoch = -1;
    assert_int_equal(lm_trials_add_pbt_event(&t, &bad, a, b), LM_EINVAL);
    lm_error_clear();
    t.v[2].member = 1;
    lm_state_mem *st;
    assert_int_equal(lm_state_mem_create(&st), LM_OK);
    lm_state_writer w = lm_state_mem_writer(st);
    lm_state_reader rd = lm_state_mem_reader(st);
    assert_int_equal(lm_trials_save(&t, &w, "trials"), LM_OK);
    lm_trials u;
    assert_int_equal(lm_trials_init(&u, 2), LM_OK);
    assert_int_equal(lm_trials_load(&u, &rd, "trials"), LM_OK);
    assert_int_equal(u.n_pbt, 1);
    assert_int_equal(u.pbt[0].donor, 0);
    assert_int_equal(u.pbt[0].prev_trial, 1);
    assert_true(u.pbt[0].score == 0.2 && u.pbt[0].t == 3.5);
    assert_memory_equal(lm_trials_pbt_hp(&u, 0, 0), a, sizeof a);
    assert_memory_equal(lm_trials_pbt_hp(&u, 0, 1), b, sizeof b);
    assert_int_equal(u.v[2].member, 1);
    assert_int_equal(u.v[0].member, -1);
    /* a corrupt event is refused, the table unchanged */
    int32_t donor[1] = {7};
    assert_int_equal(lm_state_put(&w, "trials/pbt_donor", LM_DT_I32, 1, donor), LM_OK);
    assert_int_equal(lm_trials_load(&u, &rd, "trials"), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "pbt_trial"));
    assert_int_equal(u.n_pbt, 1);
    double hp3[1] = {0};
    assert_int_equal(lm_state_put(&w, "trials/pbt_donor", LM_DT_I32, 1, (int32_t[]){0}), LM_OK);
    assert_int_equal(lm_state_put(&w, "trials/pbt_hp", LM_DT_F64, 1, hp3), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_trials_load(&u, &rd, "trials"), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "pbt_hp"));
    lm_error_clear();
    lm_state_mem_destroy(&st);
    lm_trials_fini(&u);
    lm_trials_fini(&t);
}

/* Options: the table, ranges, labels. */
static void test_options(void **state) {
    (void)state;
    const lm_option_spec *spec = lm_searcher_options("pbt");
    assert_non_null(spec);
    lm_options o = {0};
    assert_true(lm_options_get(&o, spec, "population") == 8);
    assert_true(lm_options_get(&o, spec, "ready_epochs") == 2);
    assert_true(lm_options_get(&o, spec, "fraction") == 0.25);
    assert_true(lm_options_get(&o, spec, "resample_prob") == 0.25);
    assert_true(lm_options_get(&o, spec, "perturb_low") == 0.8);
    assert_true(lm_options_get(&o, spec, "perturb_high") == 1.2);
    lm_error_clear();
    assert_int_equal(lm_options_set(&o, spec, "fraction", 0.7, NULL), LM_ERANGE);
    assert_int_equal(lm_options_set(&o, spec, "exploit", NAN, "roulette"), LM_ERANGE);
    lm_error_clear();
    assert_int_equal(lm_options_set(&o, spec, "populaton", 3, NULL), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "population"));
    lm_error_clear();
    assert_int_equal(lm_options_set(&o, spec, "mode", NAN, "sync"), LM_OK);
    assert_true(lm_options_get(&o, spec, "mode") == 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantile_count),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_tournament),
        cmocka_unit_test(test_perturb),
        cmocka_unit_test(test_resample),
        cmocka_unit_test(test_explorable),
        cmocka_unit_test(test_event_table),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
