/* Multi-objective core (moo.h): dominance, non-dominated sorting and crowding distance
 * on hand-checked sets (ties, duplicates, NaN), NSGA-II selection, hypervolume against
 * hand-computed values and an inclusion-exclusion oracle, scalarizations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/error.h"
#include "lamarck/moo.h"
#include "lamarck/rng.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TOL 1e-12

static const lm_moo_sense MIN2[] = {LM_MOO_MIN, LM_MOO_MIN};
static const lm_moo_sense MIN3[] = {LM_MOO_MIN, LM_MOO_MIN, LM_MOO_MIN};

static void test_dominance(void **state) {
    (void)state;
    double a[] = {1, 2}, b[] = {2, 2}, c[] = {2, 1}, d[] = {1, 2};
    assert_true(lm_moo_dominates(a, b, 2, MIN2));   /* better in one, equal in the other */
    assert_false(lm_moo_dominates(b, a, 2, MIN2));
    assert_false(lm_moo_dominates(a, c, 2, MIN2));  /* incomparable */
    assert_false(lm_moo_dominates(c, a, 2, MIN2));
    assert_false(lm_moo_dominates(a, d, 2, MIN2));  /* equal points: neither */
    lm_moo_sense mx[] = {LM_MOO_MAX, LM_MOO_MIN};
    assert_true(lm_moo_dominates(b, a, 2, mx));     /* 2 > 1 is better when maximized */
    lm_moo_sense both_max[] = {LM_MOO_MAX, LM_MOO_MAX};
    assert_true(lm_moo_dominates(b, a, 2, both_max));
    assert_false(lm_moo_dominates(a, b, 2, both_max));
    /* NaN is worse than any number and equal to NaN. */
    double n1[] = {NAN, 2}, n2[] = {NAN, 3}, nn[] = {NAN, NAN};
    assert_true(lm_moo_dominates(a, n1, 2, MIN2));
    assert_false(lm_moo_dominates(n1, a, 2, MIN2));
    assert_true(lm_moo_dominates(n1, n2, 2, MIN2));
    assert_true(lm_moo_dominates(n2, nn, 2, MIN2));
    assert_false(lm_moo_dominates(nn, nn, 2, MIN2));
    assert_true(lm_moo_dominates(a, nn, 2, both_max));
}

/* A(1,5) B(2,3) C(3,1) D = B, E(3,4) F(4,4) G(5,5) H = A, N(NaN, NaN): fronts
 * {A B C D H}, {E} (B dominates it), {F} (E: better f1, equal f2), {G}, {N}. */
static const double SET[] = {1, 5, 2, 3, 3, 1, 2, 3, 3, 4, 4, 4, 5, 5, 1, 5, NAN, NAN};
static const int SET_FRONT[] = {0, 0, 0, 0, 1, 2, 3, 0, 4};
#define SET_N 9

static void test_sort(void **state) {
    (void)state;
    int front[SET_N], nf = -1;
    assert_int_equal(lm_moo_sort(SET, SET_N, 2, MIN2, front, &nf), LM_OK);
    assert_int_equal(nf, 5);
    for (int i = 0; i < SET_N; i++) assert_int_equal(front[i], SET_FRONT[i]);

    /* Maximizing the negated values gives the same fronts. */
    double neg[2 * SET_N];
    for (int i = 0; i < 2 * SET_N; i++) neg[i] = -SET[i];
    lm_moo_sense mx[] = {LM_MOO_MAX, LM_MOO_MAX};
    assert_int_equal(lm_moo_sort(neg, SET_N, 2, mx, front, &nf), LM_OK);
    for (int i = 0; i < SET_N; i++) assert_int_equal(front[i], SET_FRONT[i]);

    /* A chain: each point dominates the next, so n fronts of one. */
    double chain[12];
    for (int i = 0; i < 4; i++) chain[3 * i] = chain[3 * i + 1] = chain[3 * i + 2] = i;
    assert_int_equal(lm_moo_sort(chain, 4, 3, MIN3, front, &nf), LM_OK);
    assert_int_equal(nf, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(front[i], i);

    /* One objective: fronts are the distinct values in order, ties together. */
    double one[] = {3, 1, 2, 1, 3};
    assert_int_equal(lm_moo_sort(one, 5, 1, MIN2, front, &nf), LM_OK);
    int want1[] = {2, 0, 1, 0, 2};
    for (int i = 0; i < 5; i++) assert_int_equal(front[i], want1[i]);
    assert_int_equal(nf, 3);

    assert_int_equal(lm_moo_sort(SET, 0, 2, MIN2, front, &nf), LM_OK);
    assert_int_equal(nf, 0);
    lm_error_clear();
    assert_int_equal(lm_moo_sort(SET, SET_N, 0, MIN2, front, &nf), LM_EINVAL);
    assert_int_equal(lm_moo_sort(SET, SET_N, LM_MOO_OBJ_MAX + 1, MIN2, front, &nf), LM_EINVAL);
    lm_error_clear();
}

/* Brute force: front k = not dominated by anything outside fronts < k. */
static void test_sort_random(void **state) {
    (void)state;
    lm_rng r;
    lm_rng_init(&r, 7, 0, 0);
    enum { N = 60, M = 3 };
    double f[N * M];
    int front[N], nf;
    for (int trial = 0; trial < 20; trial++) {
        for (int i = 0; i < N * M; i++) f[i] = (double)lm_rng_below(&r, 6); /* many ties */
        assert_int_equal(lm_moo_sort(f, N, M, MIN3, front, &nf), LM_OK);
        for (int i = 0; i < N; i++) {
            int dominated_by_same_or_later = 0, dominated_by_prev = 0;
            for (int j = 0; j < N; j++) {
                if (!lm_moo_dominates(f + j * M, f + i * M, M, MIN3)) continue;
                assert_true(front[j] < front[i]);
                if (front[j] == front[i] - 1) dominated_by_prev = 1;
                if (front[j] >= front[i]) dominated_by_same_or_later = 1;
            }
            assert_false(dominated_by_same_or_later);
            assert_true(front[i] == 0 || dominated_by_prev);
        }
    }
}

static void test_crowding(void **state) {
    (void)state;
    /* Worked by hand (min, min): ranges 4 and 4. (1,2): 2/4 + 3/4; (2,1): 3/4 + 2/4. */
    double f[] = {0, 4, 1, 2, 2, 1, 4, 0};
    int idx[] = {0, 1, 2, 3};
    double d[4];
    assert_int_equal(lm_moo_crowding(f, 2, idx, 4, d), LM_OK);
    assert_true(isinf(d[0]) && isinf(d[3]));
    assert_true(fabs(d[1] - 1.25) < TOL);
    assert_true(fabs(d[2] - 1.25) < TOL);

    /* Duplicates (0,4) (1,2) (1,2) (4,0): objective 1 sorts 0, 1, 1, 4 with the first
     * copy first: copy 1 gets (1-0)/4, copy 2 gets (4-1)/4; objective 2 sorts 0, 2, 2, 4:
     * copy 1 gets (2-0)/4, copy 2 gets (4-2)/4. */
    double g[] = {0, 4, 1, 2, 1, 2, 4, 0};
    assert_int_equal(lm_moo_crowding(g, 2, idx, 4, d), LM_OK);
    assert_true(isinf(d[0]) && isinf(d[3]));
    assert_true(fabs(d[1] - 0.75) < TOL);
    assert_true(fabs(d[2] - 1.25) < TOL);

    /* A constant objective adds nothing; the other gives the middle (2-0)/2. */
    double h[] = {1, 0, 1, 1, 1, 2};
    assert_int_equal(lm_moo_crowding(h, 2, idx, 3, d), LM_OK);
    assert_true(isinf(d[0]) && isinf(d[2]));
    assert_true(fabs(d[1] - 1.0) < TOL);

    /* Through an index list (a subset in another order): positions follow idx. */
    int sub[] = {3, 1, 0};
    assert_int_equal(lm_moo_crowding(f, 2, sub, 3, d), LM_OK);
    assert_true(isinf(d[0]) && isinf(d[2]));
    /* (1,2) between (0,4) and (4,0): (4-0)/4 on both objectives. */
    assert_true(fabs(d[1] - 2.0) < TOL);

    /* One or two points: both ends. */
    assert_int_equal(lm_moo_crowding(f, 2, idx, 2, d), LM_OK);
    assert_true(isinf(d[0]) && isinf(d[1]));
    assert_int_equal(lm_moo_crowding(f, 2, idx, 0, d), LM_OK);
}

static void test_rank_select(void **state) {
    (void)state;
    int front[SET_N], chosen[SET_N];
    double dist[SET_N];
    assert_int_equal(lm_moo_rank(SET, SET_N, 2, MIN2, front, dist), LM_OK);
    for (int i = 0; i < SET_N; i++) assert_int_equal(front[i], SET_FRONT[i]);
    /* Single-point fronts have infinite distance. */
    assert_true(isinf(dist[4]) && isinf(dist[5]) && isinf(dist[6]) && isinf(dist[8]));
    /* Front 0 = A B C D H with A = H, B = D: by f1 (range 2) the order is A, H, B, D, C
     * (stable); by f2 (range 4) C, B, D, A, H. Ends: A and C (f1), C and H (f2).
     * B: (2-1)/2 + (3-1)/4; D: (3-2)/2 + (5-3)/4. */
    assert_true(isinf(dist[0]) && isinf(dist[2]) && isinf(dist[7]));
    assert_true(fabs(dist[1] - 1.0) < TOL);
    assert_true(fabs(dist[3] - 1.0) < TOL);

    /* Keep 4: front 0 has 5 points, cut by distance (infinite A C H, then the tie B D
     * goes to the lower index, B). */
    assert_int_equal(lm_moo_select(SET, SET_N, 2, MIN2, 4, chosen, NULL, NULL), LM_OK);
    int want[] = {0, 2, 7, 1};
    for (int i = 0; i < 4; i++) assert_int_equal(chosen[i], want[i]);
    /* Keep 7: whole fronts 0, 1 and 2. */
    assert_int_equal(lm_moo_select(SET, SET_N, 2, MIN2, 7, chosen, front, dist), LM_OK);
    int seen[SET_N] = {0};
    for (int i = 0; i < 7; i++) seen[chosen[i]] = 1;
    for (int i = 0; i < SET_N; i++) assert_int_equal(seen[i], SET_FRONT[i] <= 2);
    lm_error_clear();
    assert_int_equal(lm_moo_select(SET, SET_N, 2, MIN2, SET_N + 1, chosen, NULL, NULL),
                     LM_EINVAL);
    lm_error_clear();
}

/* Exact hypervolume by inclusion-exclusion over every non-empty subset (n <= 12): the
 * intersection of boxes [p, ref] is the box [max p, ref]. Minimization. */
static double hv_oracle(const double *f, int n, int m, const double *ref) {
    double hv = 0;
    for (unsigned s = 1; s < (1u << n); s++) {
        double lo[8], vol = 1;
        int bits = 0;
        for (int k = 0; k < m; k++) lo[k] = -INFINITY;
        for (int i = 0; i < n; i++)
            if (s & (1u << i)) {
                bits++;
                for (int k = 0; k < m; k++) lo[k] = fmax(lo[k], f[i * m + k]);
            }
        for (int k = 0; k < m; k++) vol *= fmax(0, ref[k] - lo[k]);
        hv += bits % 2 ? vol : -vol;
    }
    return hv;
}

static void test_hypervolume(void **state) {
    (void)state;
    double hv;
    /* Staircase (1,3) (2,2) (3,1) under (4,4): 3 + 2 + 1. A dominated point, a copy,
     * a point outside the box and a NaN point change nothing. */
    double f[] = {1, 3, 2, 2, 3, 1, 3, 3, 2, 2, 5, 0, NAN, 0};
    double ref[] = {4, 4};
    assert_int_equal(lm_moo_hypervolume(f, 3, 2, MIN2, ref, &hv), LM_OK);
    assert_true(fabs(hv - 6) < TOL);
    assert_int_equal(lm_moo_hypervolume(f, 7, 2, MIN2, ref, &hv), LM_OK);
    assert_true(fabs(hv - 6) < TOL);
    /* A point on the reference boundary adds nothing. */
    double edge[] = {4, 0};
    assert_int_equal(lm_moo_hypervolume(edge, 1, 2, MIN2, ref, &hv), LM_OK);
    assert_true(hv == 0);
    /* Maximization: accuracy up, params down (negated staircase). */
    double acc[] = {0.9, 3, 0.8, 2, 0.7, 1};
    lm_moo_sense mx[] = {LM_MOO_MAX, LM_MOO_MIN};
    double ref2[] = {0.5, 4};
    /* (-0.9,3) (-0.8,2) (-0.7,1) under (-0.5,4): 0.4*1 + 0.3*1 + 0.2*1. */
    assert_int_equal(lm_moo_hypervolume(acc, 3, 2, mx, ref2, &hv), LM_OK);
    assert_true(fabs(hv - 0.9) < TOL);
    /* One objective: the distance from the best to the reference. */
    double one[] = {3, 1, 2};
    double r1 = 5;
    assert_int_equal(lm_moo_hypervolume(one, 3, 1, MIN2, &r1, &hv), LM_OK);
    assert_true(fabs(hv - 4) < TOL);

    /* 3-D by hand: the unit cube; two boxes overlapping in a unit cube (4 + 2 - 1);
     * three axis points (3 x 4 - 3 x 2 + 1). */
    double c1[] = {1, 1, 1}, r3[] = {2, 2, 2};
    assert_int_equal(lm_moo_hypervolume(c1, 1, 3, MIN3, r3, &hv), LM_OK);
    assert_true(fabs(hv - 1) < TOL);
    double c2[] = {0, 0, 1, 1, 1, 0};
    assert_int_equal(lm_moo_hypervolume(c2, 2, 3, MIN3, r3, &hv), LM_OK);
    assert_true(fabs(hv - 5) < TOL);
    double c3[] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    assert_int_equal(lm_moo_hypervolume(c3, 3, 3, MIN3, r3, &hv), LM_OK);
    assert_true(fabs(hv - 7) < TOL);

    /* Random sets with ties against the oracle, 2-D to 4-D. */
    lm_rng r;
    lm_rng_init(&r, 11, 0, 0);
    lm_moo_sense s4[] = {LM_MOO_MIN, LM_MOO_MIN, LM_MOO_MIN, LM_MOO_MIN};
    for (int m = 2; m <= 4; m++)
        for (int trial = 0; trial < 30; trial++) {
            int n = 1 + (int)lm_rng_below(&r, 10);
            double pts[40], ref4[] = {1, 1, 1, 1};
            for (int i = 0; i < n * m; i++)
                pts[i] = trial % 2 ? (double)lm_rng_below(&r, 4) / 4 : lm_rng_uniform(&r);
            double want = hv_oracle(pts, n, m, ref4);
            assert_int_equal(lm_moo_hypervolume(pts, n, m, s4, ref4, &hv), LM_OK);
            if (fabs(hv - want) > 1e-9)
                fail_msg("m=%d n=%d: %.12g vs oracle %.12g", m, n, hv, want);
        }

    lm_error_clear();
    double bad[] = {NAN, 1};
    assert_int_equal(lm_moo_hypervolume(f, 3, 2, MIN2, bad, &hv), LM_EINVAL);
    lm_error_clear();
}

static void test_scalarizations(void **state) {
    (void)state;
    double v[] = {0.9, 2e6, 3e8, 0.05};
    double w[] = {1, -1e-7, 0, 0};
    assert_true(fabs(lm_moo_weighted_sum(v, w, 4) - (0.9 - 0.2)) < TOL);
    /* A NaN metric with weight 0 does not matter; with a weight it does. */
    double vn[] = {0.9, 2e6, NAN, 0.05};
    assert_true(fabs(lm_moo_weighted_sum(vn, w, 4) - 0.7) < TOL);
    double wn[] = {1, 0, 1, 0};
    assert_true(isnan(lm_moo_weighted_sum(vn, wn, 4)));

    double ve[] = {0.5, 2}, we[] = {2, 3};
    assert_true(fabs(lm_moo_weighted_exp_sum(ve, we, 2, 2) - (2 * 0.25 + 3 * 4)) < TOL);
    assert_true(fabs(lm_moo_weighted_exp_sum(ve, we, 2, 1) - (1 + 6)) < TOL);
    double vneg[] = {-0.5, 2};
    assert_true(isnan(lm_moo_weighted_exp_sum(vneg, we, 2, 2)));
    assert_true(isnan(lm_moo_weighted_exp_sum(ve, we, 2, 0)));

    double wp[] = {1, -0.07};
    double vp[] = {0.8, 1e6};
    assert_true(fabs(lm_moo_weighted_product(vp, wp, 2) - 0.8 * pow(1e6, -0.07)) < TOL);
    /* Scale-free: doubling a metric scales the result by 2^w. */
    double vp2[] = {0.8, 2e6};
    assert_true(fabs(lm_moo_weighted_product(vp2, wp, 2) / lm_moo_weighted_product(vp, wp, 2) -
                     pow(2, -0.07)) < TOL);
    double vz[] = {0.8, 0};
    assert_true(isnan(lm_moo_weighted_product(vz, wp, 2)));

    /* MnasNet: below the target the reward exceeds the accuracy (alpha < 0), above it
     * beta applies; at the target it is the accuracy. */
    double under = lm_moo_mnasnet(0.8, 0.05, 0.075, LM_MNASNET_ALPHA, -0.5);
    assert_true(fabs(under - 0.8 * pow(0.05 / 0.075, -0.07)) < TOL);
    assert_true(under > 0.8);
    double over = lm_moo_mnasnet(0.8, 0.1, 0.075, LM_MNASNET_ALPHA, -0.5);
    assert_true(fabs(over - 0.8 * pow(0.1 / 0.075, -0.5)) < TOL);
    assert_true(fabs(lm_moo_mnasnet(0.8, 0.075, 0.075, -0.07, -1) - 0.8) < TOL);
    /* The hard constraint (alpha 0, beta -1): no reward below, a steep penalty above. */
    assert_true(fabs(lm_moo_mnasnet(0.8, 0.05, 0.075, 0, -1) - 0.8) < TOL);
    assert_true(fabs(lm_moo_mnasnet(0.8, 0.15, 0.075, 0, -1) - 0.4) < TOL);
    assert_true(isnan(lm_moo_mnasnet(NAN, 0.05, 0.075, -0.07, -0.07)));
    assert_true(isnan(lm_moo_mnasnet(0.8, 0, 0.075, -0.07, -0.07)));
    assert_true(isnan(lm_moo_mnasnet(0.8, 0.05, 0, -0.07, -0.07)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dominance),   cmocka_unit_test(test_sort),
        cmocka_unit_test(test_sort_random), cmocka_unit_test(test_crowding),
        cmocka_unit_test(test_rank_select), cmocka_unit_test(test_hypervolume),
        cmocka_unit_test(test_scalarizations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
