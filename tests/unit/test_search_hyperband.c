/* Hyperband and SHA: the bracket tables (both roundings, several R and eta), and runs
 * through a fake controller (search_mf_sim.h) with 1, 3 and 8 workers, synthetic
 * curves and failures, checking every promotion against the curves, resumed trials'
 * epochs, independent brackets, caps with several passes, save/load mid-run and
 * determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "search_mf_sim.h"

/* ---- tables ---- */

typedef struct want {
    int s, n_rungs;
    int n[6], r[6];
} want;

static void check_table(int R, int eta, int table, const want *w, int n_brackets) {
    lm_hb_bracket b[LM_HB_RUNGS_MAX];
    int n = lm_hyperband_table(R, eta, table, b, LM_HB_RUNGS_MAX);
    if (n != n_brackets)
        fail_msg("R=%d eta=%d table=%d: %d brackets, expected %d", R, eta, table, n, n_brackets);
    for (int k = 0; k < n_brackets; k++) {
        const want *x = &w[k];
        const lm_hb_bracket *y = &b[x->s];
        assert_int_equal(y->s, x->s);
        assert_int_equal(y->n_rungs, x->n_rungs);
        for (int i = 0; i < x->n_rungs; i++) {
            if (y->n[i] != x->n[i] || y->r[i] != x->r[i])
                fail_msg("R=%d eta=%d table=%d bracket %d rung %d: n=%d r=%d, expected n=%d r=%d",
                         R, eta, table, x->s, i, y->n[i], y->r[i], x->n[i], x->r[i]);
        }
    }
}

static void test_tables(void **state) {
    (void)state;
    /* R = 81, eta = 3: Algorithm 1 (first rungs 81, 34, 15, 8, 5) ... */
    const want a81[] = {
        {4, 5, {81, 27, 9, 3, 1}, {1, 3, 9, 27, 81}},
        {3, 4, {34, 11, 3, 1}, {3, 9, 27, 81}},
        {2, 3, {15, 5, 1}, {9, 27, 81}},
        {1, 2, {8, 2}, {27, 81}},
        {0, 1, {5}, {81}},
    };
    check_table(81, 3, 0, a81, 5);
    /* ... and the paper's Table 1 (81, 27, 9, 6, 5). */
    const want t81[] = {
        {4, 5, {81, 27, 9, 3, 1}, {1, 3, 9, 27, 81}},
        {3, 4, {27, 9, 3, 1}, {3, 9, 27, 81}},
        {2, 3, {9, 3, 1}, {9, 27, 81}},
        {1, 2, {6, 2}, {27, 81}},
        {0, 1, {5}, {81}},
    };
    check_table(81, 3, 1, t81, 5);
    const want a27[] = {
        {3, 4, {27, 9, 3, 1}, {1, 3, 9, 27}},
        {2, 3, {12, 4, 1}, {3, 9, 27}},
        {1, 2, {6, 2}, {9, 27}},
        {0, 1, {4}, {27}},
    };
    check_table(27, 3, 0, a27, 4);
    const want t27[] = {
        {3, 4, {27, 9, 3, 1}, {1, 3, 9, 27}},
        {2, 3, {9, 3, 1}, {3, 9, 27}},
        {1, 2, {6, 2}, {9, 27}},
        {0, 1, {4}, {27}},
    };
    check_table(27, 3, 1, t27, 4);
    const want a16[] = {
        {4, 5, {16, 8, 4, 2, 1}, {1, 2, 4, 8, 16}},
        {3, 4, {10, 5, 2, 1}, {2, 4, 8, 16}},
        {2, 3, {7, 3, 1}, {4, 8, 16}},
        {1, 2, {5, 2}, {8, 16}},
        {0, 1, {5}, {16}},
    };
    check_table(16, 2, 0, a16, 5);
    const want t16[] = {
        {4, 5, {16, 8, 4, 2, 1}, {1, 2, 4, 8, 16}},
        {3, 4, {8, 4, 2, 1}, {2, 4, 8, 16}},
        {2, 3, {4, 2, 1}, {4, 8, 16}},
        {1, 2, {4, 2}, {8, 16}},
        {0, 1, {5}, {16}},
    };
    check_table(16, 2, 1, t16, 5);
    /* R = 10 is not a power of 3: r_i = floor(10 / 3^(s-i)). */
    const want a10[] = {
        {2, 3, {9, 3, 1}, {1, 3, 10}},
        {1, 2, {5, 1}, {3, 10}},
        {0, 1, {3}, {10}},
    };
    check_table(10, 3, 0, a10, 3);
    const want t10[] = {
        {2, 3, {9, 3, 1}, {1, 3, 10}},
        {1, 2, {3, 1}, {3, 10}},
        {0, 1, {3}, {10}},
    };
    check_table(10, 3, 1, t10, 3);
    const want a1[] = {{0, 1, {1}, {1}}};
    check_table(1, 3, 0, a1, 1);
    check_table(2, 3, 1, (const want[]){{0, 1, {1}, {2}}}, 1);

    /* s_max in integers: eta^k gives k brackets + 1, eta^k - 1 one fewer. */
    lm_hb_bracket b[LM_HB_RUNGS_MAX];
    long long p = 1;
    for (int k = 0; p <= 1 << 24; k++, p *= 3) {
        assert_int_equal(lm_hyperband_table((int)p, 3, 1, b, LM_HB_RUNGS_MAX), k + 1);
        assert_int_equal(b[k].r[0], 1);
        assert_int_equal(b[0].r[0], (int)p);
        if (p > 1) assert_int_equal(lm_hyperband_table((int)p - 1, 3, 1, b, LM_HB_RUNGS_MAX), k);
    }
    for (int k = 0; k <= 22; k++)
        assert_int_equal(lm_hyperband_table(1 << k, 2, 1, b, LM_HB_RUNGS_MAX), k + 1);
    /* Every table is consistent: n_{i+1} = floor(n_i / eta), r strictly rising to R. */
    for (int R = 1; R <= 200; R++)
        for (int eta = 2; eta <= 5; eta++)
            for (int tab = 0; tab < 2; tab++) {
                int n = lm_hyperband_table(R, eta, tab, b, LM_HB_RUNGS_MAX);
                assert_true(n >= 1);
                for (int s = 0; s < n; s++) {
                    assert_int_equal(b[s].r[s], R);
                    assert_true(b[s].r[0] >= 1);
                    for (int i = 0; i < s; i++) {
                        assert_int_equal(b[s].n[i + 1], b[s].n[i] / eta);
                        assert_true(b[s].r[i + 1] > b[s].r[i]);
                    }
                    assert_true(b[s].n[s] >= 1);
                }
            }

    lm_error_clear();
    assert_int_equal(lm_hyperband_table(0, 3, 0, b, LM_HB_RUNGS_MAX), LM_EINVAL);
    assert_int_equal(lm_hyperband_table(81, 1, 0, b, LM_HB_RUNGS_MAX), LM_EINVAL);
    lm_error_clear();
    assert_int_equal(lm_hyperband_table(81, 3, 0, b, 4), LM_ERANGE);
    assert_non_null(strstr(lm_error_message(), "5 brackets, room for 4"));
    assert_int_equal(lm_hyperband_table(1 << 30, 2, 0, b, LM_HB_RUNGS_MAX), LM_ERANGE);
    lm_error_clear();
}

/* ---- options ---- */

static void test_options(void **state) {
    (void)state;
    const lm_option_spec *hb = lm_searcher_options("hyperband");
    const lm_option_spec *sha = lm_searcher_options("sha");
    assert_non_null(hb);
    assert_non_null(sha);
    lm_options o = {0};
    assert_int_equal(lm_options_get(&o, hb, "eta"), 3);
    assert_int_equal(lm_options_get(&o, hb, "rounding"), 0);
    assert_int_equal(lm_options_get(&o, sha, "bracket"), -1);
    assert_int_equal(lm_options_set(&o, hb, "rounding", 0, "table"), LM_OK);
    assert_int_equal(lm_options_get(&o, hb, "rounding"), 1);
    lm_error_clear();
    assert_int_equal(lm_options_set(&o, hb, "rounding", 0, "tabel"), LM_ERANGE);
    assert_int_equal(lm_options_set(&o, hb, "eta", 1, NULL), LM_ERANGE);
    lm_error_clear();
    assert_int_equal(lm_options_set(&o, hb, "etta", 3, NULL), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "did you mean 'eta'"));
    lm_error_clear();

    lm_space *sp = sim_space();
    lm_search_params p = {.space = sp, .seed = 1, .max_trials = 0, .epochs = 9};
    lm_searcher *s = NULL;
    assert_int_equal(lm_options_set(&p.options, sha, "bracket", 3, NULL), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_searcher_create("sha", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "bracket must be -1 or 0 to 2"));
    assert_null(s);
    p.max_trials = -1;
    lm_error_clear();
    assert_int_equal(lm_searcher_create("hyperband", &p, &s), LM_ECONFIG);
    assert_non_null(strstr(lm_error_message(), "max_trials"));
    lm_error_clear();
    lm_space_destroy(&sp);
}

/* ---- runs ---- */

typedef struct hb_setup {
    const char *name;        /* "hyperband" or "sha" */
    int R, eta, table, sha_bracket, max_trials;
} hb_setup;

static lm_searcher *make_hb(const hb_setup *h, const lm_space *sp, uint64_t seed) {
    lm_options o = {0};
    const lm_option_spec *spec = lm_searcher_options(h->name);
    assert_int_equal(lm_options_set(&o, spec, "eta", h->eta, NULL), LM_OK);
    assert_int_equal(lm_options_set(&o, spec, "rounding", 0, h->table ? "table" : "algorithm"),
                     LM_OK);
    if (!strcmp(h->name, "sha"))
        assert_int_equal(lm_options_set(&o, spec, "bracket", h->sha_bracket, NULL), LM_OK);
    return sim_searcher(h->name, sp, seed, h->max_trials, h->R, &o);
}

typedef struct ranked {
    int id;
    double v;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return x->id - y->id;
}

/* The arrival time of trial id's report of epoch e (NAN if none). */
static double report_time(const lm_trials *t, int id, int e) {
    for (size_t k = 0; k < t->n_curves; k++)
        if (t->curves[k].trial_id == id && t->curves[k].epoch == e) return t->curves[k].t;
    return NAN;
}

/* The worker did not keep the trial's state when it paused: it cannot be promoted. */
static int lost(const lm_trial *tr) {
    return tr->status == LM_TRIAL_STOPPED && strstr(tr->reason, "without keeping its state");
}

/* Checks a finished run decision by decision against the plan and the curves. */
static void check_run(const sim *m, const hb_setup *h) {
    lm_hb_bracket plan[LM_HB_RUNGS_MAX];
    int nb = lm_hyperband_table(h->R, h->eta, h->table, plan, LM_HB_RUNGS_MAX);
    assert_true(nb >= 1);
    int s_max = nb - 1, is_sha = !strcmp(h->name, "sha");
    int sha_s = h->sha_bracket < 0 ? s_max : h->sha_bracket;
    const lm_trials *t = &m->t;
    int per_pass = 0;
    for (int s = 0; s <= s_max; s++)
        if (!is_sha || s == sha_s) per_pass += plan[s].n[0];
    assert_int_equal(t->n, h->max_trials ? h->max_trials : per_pass);
    assert_int_equal(lm_trials_count(t, LM_TRIAL_PAUSED) + lm_trials_count(t, LM_TRIAL_RUNNING) +
                         lm_trials_count(t, LM_TRIAL_PENDING), 0);

    int max_id = 0;
    for (int i = 0; i < t->n; i++) max_id = t->v[i].bracket > max_id ? t->v[i].bracket : max_id;
    ranked *v = malloc((size_t)t->n * sizeof *v);
    int *ids = malloc((size_t)t->n * sizeof *ids);
    size_t expect_promotions = 0;
    int total = 0;
    for (int b = 0; b <= max_id; b++) {
        int s = is_sha ? sha_s : b % (s_max + 1);
        int n0 = 0;
        for (int i = 0; i < t->n; i++)
            if (t->v[i].bracket == b) ids[n0++] = i;
        total += n0;
        if (n0 == 0) continue;
        /* Brackets are full but for the one the cap cut: the newest trial's. */
        int last = t->v[t->n - 1].bracket == b;
        if (!last || !h->max_trials) assert_int_equal(n0, plan[s].n[0]);
        for (int k = 0; k < n0; k++) {
            const lm_trial *tr = &t->v[ids[k]];
            assert_true(tr->rung >= 0 && tr->rung <= s);
            if (tr->status == LM_TRIAL_FAILED) continue;
            if (tr->rung == s) {
                assert_int_equal(tr->status, LM_TRIAL_DONE);
                assert_int_equal(tr->epochs, h->R);
            } else {
                assert_int_equal(tr->status, LM_TRIAL_STOPPED);
                assert_int_equal(tr->epochs, plan[s].r[tr->rung]);
                assert_true(strstr(tr->reason, "not promoted") || lost(tr));
            }
        }
        int members = n0;
        for (int i = 0; i < s; i++) {
            int r_i = plan[s].r[i];
            int keep = n0;
            for (int j = 0; j <= i; j++) keep /= h->eta;
            if (keep < 1) keep = 1;
            if (n0 == plan[s].n[0]) assert_int_equal(keep, plan[s].n[i + 1]);
            /* The alive members of rung i: they reached r_i. */
            int alive = 0, in_rung = 0;
            double decided_after = -INFINITY;
            for (int k = 0; k < n0; k++) {
                const lm_trial *tr = &t->v[ids[k]];
                if (tr->rung < i) continue;
                in_rung++;
                double when = report_time(t, ids[k], r_i);
                if (tr->epochs >= r_i && !(tr->rung == i && lost(tr))) {
                    assert_false(isnan(when));
                    v[alive++] = (ranked){ids[k], sim_value(m, ids[k], r_i)};
                    if (when > decided_after) decided_after = when;
                }
            }
            assert_int_equal(in_rung, members);
            qsort(v, (size_t)alive, sizeof *v, cmp_ranked);
            int up = keep < alive ? keep : alive;
            /* Exactly the best `up` by their value at r_i moved up. */
            for (int k = 0; k < alive; k++) {
                const lm_trial *tr = &t->v[v[k].id];
                if ((tr->rung > i) != (k < up))
                    fail_msg("bracket %d rung %d: trial %d ranked %d of %d (value %.6f) has rung "
                             "%d; %d move up", b, i, v[k].id, k + 1, alive, v[k].v, tr->rung, up);
            }
            /* Each promotion was decided after the whole rung had reported. */
            for (size_t q = 0; q < t->n_promotions; q++) {
                const lm_promotion *p = &t->promotions[q];
                if (p->bracket != b || p->from_rung != i) continue;
                assert_true(p->t >= decided_after);
            }
            expect_promotions += (size_t)up;
            members = up;
        }
    }
    assert_int_equal(total, t->n);
    assert_int_equal(t->n_promotions, expect_promotions);
    for (size_t q = 0; q < t->n_promotions; q++) {
        const lm_promotion *p = &t->promotions[q];
        int s = is_sha ? sha_s : p->bracket % (s_max + 1);
        assert_int_equal(p->bracket, t->v[p->trial_id].bracket);
        assert_int_equal(p->to_rung, p->from_rung + 1);
        assert_int_equal(p->epoch, plan[s].r[p->from_rung]);
    }
    /* Resumed trials continue where they paused: from r_{i-1} to r_i. */
    if (!m->forked) assert_int_equal(m->n_resumes, (int)t->n_promotions);
    for (int k = 0; k < m->n_resumes; k++) {
        const sim_resume *x = &m->resumes[k];
        const lm_trial *tr = &t->v[x->trial];
        int s = is_sha ? sha_s : tr->bracket % (s_max + 1);
        int found = 0;
        for (int i = 1; i <= s; i++)
            found |= x->epochs_before == plan[s].r[i - 1] && x->epochs_after == plan[s].r[i];
        assert_true(found);
    }
    /* Every curve is epochs 1 .. epochs, each once, in order. */
    int *seen = calloc((size_t)t->n, sizeof *seen);
    for (size_t k = 0; k < t->n_curves; k++) {
        const lm_curve_row *c = &t->curves[k];
        assert_int_equal(c->epoch, ++seen[c->trial_id]);
    }
    for (int i = 0; i < t->n; i++) assert_int_equal(seen[i], t->v[i].epochs);
    free(seen);
    free(v);
    free(ids);
}

static void run_checked(const hb_setup *h, int P, uint64_t seed, int fail_mod, int unkept_mod) {
    lm_space *sp = sim_space();
    sim m;
    sim_init(&m, make_hb(h, sp, seed), 2, P, seed * 7 + 1);
    m.unkept_mod = unkept_mod;
    if (fail_mod) {
        m.fail_mod = fail_mod;
        m.fail_rem = 2;
        m.fail_epoch = 1;
    }
    sim_run(&m, 1 << 30);
    assert_true(m.done);
    check_run(&m, h);
    if (P > 1) assert_true(m.n_waits > 0 || h->max_trials > 0);
    int n_lost = 0, n_failed = lm_trials_count(&m.t, LM_TRIAL_FAILED);
    for (int i = 0; i < m.t.n; i++) n_lost += lost(&m.t.v[i]);
    assert_true(unkept_mod ? n_lost > 0 : n_lost == 0);
    assert_true(fail_mod ? n_failed > 0 : n_failed == 0);
    sim_fini(&m);
    lm_space_destroy(&sp);
}

static void test_hyperband_runs(void **state) {
    (void)state;
    const int workers[] = {1, 3, 8};
    hb_setup h81 = {"hyperband", 81, 3, 0, -1, 0};
    hb_setup h81t = {"hyperband", 81, 3, 1, -1, 0};
    for (int k = 0; k < 3; k++) {
        run_checked(&h81, workers[k], 11 + (uint64_t)k, 0, 0);
        run_checked(&h81t, workers[k], 21 + (uint64_t)k, 0, 0);
    }
    /* Failures count as the worst of their rung, and so do trials whose state was lost. */
    run_checked(&h81, 3, 5, 7, 0);
    run_checked(&h81, 8, 6, 0, 5);
    hb_setup h16 = {"hyperband", 16, 2, 0, -1, 0};
    run_checked(&h16, 4, 3, 0, 0);
    run_checked(&h16, 4, 3, 5, 0);
    hb_setup h10 = {"hyperband", 10, 3, 1, -1, 0};
    run_checked(&h10, 2, 4, 0, 0);
    /* A cap: 17 configurations a pass, so two passes and 6 of a third's first bracket. */
    hb_setup cap = {"hyperband", 9, 3, 0, -1, 40};
    run_checked(&cap, 3, 8, 0, 0);
    run_checked(&cap, 8, 9, 6, 0);
    hb_setup small = {"hyperband", 9, 3, 0, -1, 4};
    run_checked(&small, 2, 10, 0, 0);
    /* SHA: one bracket, repeated under a cap. */
    hb_setup sha = {"sha", 27, 3, 0, -1, 0};
    run_checked(&sha, 5, 12, 0, 0);
    hb_setup sha1 = {"sha", 27, 3, 0, 1, 14};
    run_checked(&sha1, 3, 13, 4, 0);
}

/* Bracket s_max's first trial is very slow: its rung 0 cannot be decided for 1000
 * seconds, but the other brackets promote and finish in the meantime. */
static void test_independent_brackets(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    hb_setup h = {"hyperband", 81, 3, 0, -1, 0};
    sim m;
    sim_init(&m, make_hb(&h, sp, 99), 2, 8, 5);
    m.slow_trial = 0;
    m.slow_factor = 1000;
    sim_run(&m, 1 << 30);
    assert_true(m.done);
    check_run(&m, &h);
    const lm_trials *t = &m.t;
    assert_int_equal(t->v[0].bracket, 4);
    double slow_first = report_time(t, 0, 1);
    assert_true(slow_first >= 1000);
    int early[5] = {0};
    for (size_t q = 0; q < t->n_promotions; q++) {
        const lm_promotion *p = &t->promotions[q];
        if (p->bracket == 4) assert_true(p->t >= slow_first);
        else if (p->t < slow_first) early[p->bracket]++;
    }
    for (int b = 0; b < 4; b++) {
        if (b > 0) assert_true(early[b] > 0);
        /* Brackets 0 to 3 finished before the slow trial's first epoch. */
        for (int i = 0; i < t->n; i++)
            if (t->v[i].bracket == b) assert_true(t->v[i].t_end < slow_first);
    }
    sim_fini(&m);
    lm_space_destroy(&sp);
}

/* ---- save / load, determinism ---- */

static void fork_at(const hb_setup *h, int P, int at, int fail_mod) {
    lm_space *sp = sim_space();
    sim a, b;
    sim_init(&a, make_hb(h, sp, 77), 2, P, 3);
    a.fail_mod = fail_mod;
    a.fail_rem = 1;
    a.fail_epoch = 2;
    sim_run(&a, at);
    size_t mark = a.n_log;
    sim_fork(&a, &b, make_hb(h, sp, 77), NULL);
    sim_run(&a, 1 << 30);
    sim_run(&b, 1 << 30);
    assert_true(a.done && b.done);
    assert_int_equal(a.n_log - mark, b.n_log);
    assert_memory_equal(a.log + mark, b.log, b.n_log * sizeof *b.log);
    sim_same_tables(&a.t, &b.t);
    check_run(&b, h);
    sim_fini(&a);
    sim_fini(&b);
    lm_space_destroy(&sp);
}

static void test_resume(void **state) {
    (void)state;
    hb_setup h = {"hyperband", 27, 3, 0, -1, 0};
    fork_at(&h, 3, 1, 0);
    fork_at(&h, 3, 40, 0);
    fork_at(&h, 4, 150, 5);
    fork_at(&h, 4, 400, 0);
    hb_setup cap = {"hyperband", 9, 3, 1, -1, 30};
    fork_at(&cap, 3, 60, 4);
    hb_setup sha = {"sha", 27, 3, 1, 2, 20};
    fork_at(&sha, 2, 50, 0);
}

static void test_determinism(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    hb_setup h = {"hyperband", 27, 3, 0, -1, 0};
    sim a, b, c;
    sim_init(&a, make_hb(&h, sp, 5), 2, 6, 1);
    sim_init(&b, make_hb(&h, sp, 5), 2, 6, 1);
    sim_init(&c, make_hb(&h, sp, 6), 2, 6, 1);
    sim_run(&a, 1 << 30);
    sim_run(&b, 1 << 30);
    sim_run(&c, 1 << 30);
    assert_int_equal(a.n_log, b.n_log);
    assert_memory_equal(a.log, b.log, a.n_log * sizeof *a.log);
    sim_same_tables(&a.t, &b.t);
    /* Points are random search's: trial k's is the draw from (seed, k, SAMPLE). */
    int differ = 0;
    for (int k = 0; k < a.t.n; k++) {
        lm_rng r;
        double x[LM_HP_MAX];
        lm_rng_init(&r, 5, (uint64_t)k, LM_STREAM_SAMPLE);
        lm_space_sample(sp, &r, x);
        assert_memory_equal(x, a.t.v[k].hp, 2 * sizeof *x);
        differ += memcmp(a.t.v[k].hp, c.t.v[k].hp, 2 * sizeof *x) != 0;
    }
    assert_int_equal(differ, a.t.n);
    sim_fini(&a);
    sim_fini(&b);
    sim_fini(&c);
    lm_space_destroy(&sp);
}

static void test_load_errors(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    hb_setup h = {"hyperband", 27, 3, 0, -1, 0};
    sim a;
    sim_init(&a, make_hb(&h, sp, 5), 2, 3, 1);
    sim_run(&a, 30);
    lm_state_mem *st;
    assert_int_equal(lm_state_mem_create(&st), LM_OK);
    lm_state_writer w = lm_state_mem_writer(st);
    lm_state_reader r = lm_state_mem_reader(st);
    assert_int_equal(lm_searcher_save(a.s, &w), LM_OK);

    hb_setup other_eta = {"hyperband", 27, 2, 0, -1, 0};
    hb_setup other_R = {"hyperband", 81, 3, 0, -1, 0};
    hb_setup other_kind = {"sha", 27, 3, 0, -1, 0};
    struct {
        const hb_setup *h;
        const char *needle;
    } cases[] = {
        {&other_eta, "'searcher/eta' is 3, but this run's eta is 2"},
        {&other_R, "'searcher/epochs' is 27, but this run's epochs per trial is 81"},
        {&other_kind, "'searcher/kind' is 'hyperband', but this run's searcher is 'sha'"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        lm_searcher *s = make_hb(cases[k].h, sp, 5);
        lm_error_clear();
        assert_int_equal(lm_searcher_load(s, &r), LM_ECKPT);
        if (!strstr(lm_error_message(), cases[k].needle))
            fail_msg("'%s' lacks '%s'", lm_error_message(), cases[k].needle);
        lm_searcher_destroy(&s);
    }
    /* Corrupt entries are refused, and the searcher stays usable. */
    lm_searcher *s = make_hb(&h, sp, 5);
    int bad = 99999;
    assert_int_equal(lm_state_put(&w, "searcher/order", LM_DT_I32, 1, (int32_t[]){bad}), LM_OK);
    lm_error_clear();
    assert_int_equal(lm_searcher_load(s, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "'searcher/order'"));
    lm_error_clear();
    assert_int_equal(lm_searcher_save(a.s, &w), LM_OK);
    assert_int_equal(lm_state_put(&w, "searcher/rung_ended", LM_DT_I32, 2, (int32_t[]){1, 2}),
                     LM_OK);
    assert_int_equal(lm_searcher_load(s, &r), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "rung_ended"));
    lm_error_clear();
    assert_int_equal(lm_searcher_save(a.s, &w), LM_OK);
    assert_int_equal(lm_state_put(&w, "searcher/book/state", LM_DT_I32, 1, (int32_t[]){9}), LM_OK);
    assert_int_equal(lm_searcher_load(s, &r), LM_ECKPT);
    lm_error_clear();
    lm_trials t;
    assert_int_equal(lm_trials_init(&t, 2), LM_OK);
    lm_job j;
    assert_int_equal(lm_searcher_next_job(s, &t, &j), LM_OK); /* still a fresh searcher */
    assert_int_equal(j.kind, LM_JOB_NEW);
    assert_int_equal(j.epochs, 1);
    lm_trials_fini(&t);
    lm_searcher_destroy(&s);
    lm_state_mem_destroy(&st);
    sim_fini(&a);
    lm_space_destroy(&sp);
}

/* The table's promotion records: argument checks and their checkpoint. */
static void test_promotion_records(void **state) {
    (void)state;
    lm_space *sp = sim_space();
    hb_setup h = {"hyperband", 9, 3, 0, -1, 0};
    sim a;
    sim_init(&a, make_hb(&h, sp, 5), 2, 2, 1);
    sim_run(&a, 1 << 30);
    assert_int_equal(a.t.n_promotions, 5); /* 3 + 1 in bracket 2, 1 in bracket 1 */
    lm_error_clear();
    assert_int_equal(lm_trials_add_promotion(&a.t, a.t.n, 1), LM_EINVAL);
    int top = -1;
    for (int i = 0; i < a.t.n && top < 0; i++)
        if (a.t.v[i].rung == 2) top = i;
    assert_true(top >= 0);
    lm_error_clear();
    assert_int_equal(lm_trials_add_promotion(&a.t, top, 2), LM_EINVAL); /* not upwards */
    assert_non_null(strstr(lm_error_message(), "from rung 2 to rung 2"));
    lm_error_clear();

    lm_state_mem *st;
    assert_int_equal(lm_state_mem_create(&st), LM_OK);
    lm_state_writer w = lm_state_mem_writer(st);
    lm_state_reader r = lm_state_mem_reader(st);
    assert_int_equal(lm_trials_save(&a.t, &w, "trials"), LM_OK);
    lm_trials b;
    assert_int_equal(lm_trials_init(&b, 2), LM_OK);
    assert_int_equal(lm_trials_load(&b, &r, "trials"), LM_OK);
    sim_same_tables(&a.t, &b);
    int32_t to[5] = {1, 1, 0, 2, 1}; /* a row that goes down */
    assert_int_equal(lm_state_put(&w, "trials/promo_to", LM_DT_I32, 5, to), LM_OK);
    assert_int_equal(lm_trials_load(&b, &r, "trials"), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "promo_trial"));
    lm_error_clear();
    assert_int_equal(lm_state_put(&w, "trials/promo_to", LM_DT_I32, 4, to), LM_OK);
    assert_int_equal(lm_trials_load(&b, &r, "trials"), LM_ECKPT);
    assert_non_null(strstr(lm_error_message(), "'trials/promo_to' has 4 elements, expected 5"));
    lm_error_clear();
    sim_same_tables(&a.t, &b); /* unchanged by the failed loads */
    lm_trials_fini(&b);
    lm_state_mem_destroy(&st);
    sim_fini(&a);
    lm_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_hyperband_runs),
        cmocka_unit_test(test_independent_brackets),
        cmocka_unit_test(test_resume),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_promotion_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
