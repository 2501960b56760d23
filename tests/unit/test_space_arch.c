/* NASNet cell space: random and repaired genomes decode, variation keeps validity,
 * encode/parse round trip, canonical hashing, rejection messages, scaling with N and
 * F, and parameter/FLOP counts by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/arch.h"
#include "lamarck/error.h"

#include <stdlib.h>
#include <string.h>

#define B 5
#define GN (8 * B)

static void expect_error(int rc, int code, const char *fragment) {
    assert_int_equal(rc, code);
    if (!strstr(lm_error_message(), fragment))
        fail_msg("message '%s' lacks '%s'", lm_error_message(), fragment);
    lm_error_clear();
}

/* Structural checks every decoded network must pass. */
static void check_net(const lm_arch_net *net, int n_classes) {
    assert_true(net->n_nodes > 3);
    assert_int_equal(net->nodes[0].kind, LM_ARCH_NODE_INPUT);
    for (int i = 1; i < net->n_nodes; i++) {
        const lm_arch_node *nd = &net->nodes[i];
        assert_true(nd->n_in >= 1);
        assert_true(nd->c >= 1 && nd->h >= 1 && nd->w >= 1);
        for (int j = 0; j < nd->n_in; j++) {
            assert_true(nd->in[j] >= 0 && nd->in[j] < i);
            const lm_arch_node *s = &net->nodes[nd->in[j]];
            if (nd->kind == LM_ARCH_NODE_ADD) {
                assert_int_equal(s->c, nd->c);
                assert_int_equal(s->h, nd->h);
                assert_int_equal(s->w, nd->w);
            }
            if (nd->kind == LM_ARCH_NODE_CONCAT) {
                assert_int_equal(s->h, nd->h);
                assert_int_equal(s->w, nd->w);
            }
        }
    }
    const lm_arch_node *last = &net->nodes[net->n_nodes - 1];
    assert_int_equal(last->kind, LM_ARCH_NODE_DENSE);
    assert_int_equal(last->c, n_classes);
    assert_true(net->params > 0 && net->flops > 0);
}

static void test_random_and_repair_decode(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 7, 0, 0);
    int32_t g[GN];
    for (int t = 0; t < 10000; t++) {
        for (int i = 0; i < GN; i++) g[i] = (int32_t)lm_rng_below(&rng, 41) - 20;
        if (t % 2) assert_int_equal(lm_arch_cell_random(&rng, g, GN, B), LM_OK);
        assert_int_equal(lm_arch_cell_repair(g, GN, B), LM_OK);
        assert_int_equal(lm_arch_cell_check(g, GN, B), LM_OK);
        if (t % 10 == 0) {
            lm_arch_net net;
            assert_int_equal(lm_arch_cell_decode(g, B, 1, 4, 3, 3, 16, 16, 10, &net), LM_OK);
            check_net(&net, 10);
            /* Two reductions: the last cell works on 4x4 maps with 16 filters. */
            const lm_arch_node *gap = &net.nodes[net.n_nodes - 2];
            const lm_arch_node *cell = &net.nodes[gap->in[0]];
            assert_int_equal(cell->kind, LM_ARCH_NODE_CONCAT);
            assert_int_equal(cell->h, 4);
            assert_int_equal(cell->c % 16, 0);
            lm_arch_net_fini(&net);
            assert_null(net.nodes);
        }
    }
    /* Repair clamps to the nearest valid value. */
    for (int i = 0; i < GN; i++) g[i] = 100;
    assert_int_equal(lm_arch_cell_repair(g, GN, B), LM_OK);
    assert_int_equal(g[0], 1);
    assert_int_equal(g[1], 7);
    assert_int_equal(g[4 * 4], 5); /* block 4: inputs 0..5 */
    for (int i = 0; i < GN; i++) g[i] = -3;
    assert_int_equal(lm_arch_cell_repair(g, GN, B), LM_OK);
    for (int i = 0; i < GN; i++) assert_int_equal(g[i], 0);
}

static void test_variation_valid(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 11, 0, 0);
    int32_t a[GN], b[GN], c[GN], old[GN];
    assert_int_equal(lm_arch_cell_random(&rng, a, GN, B), LM_OK);
    assert_int_equal(lm_arch_cell_random(&rng, b, GN, B), LM_OK);
    for (int t = 0; t < 10000; t++) {
        memcpy(old, a, sizeof a);
        int diff = 0;
        if (t % 2) {
            assert_int_equal(lm_arch_cell_mutate_op(&rng, a, GN, B), LM_OK);
            for (int i = 0; i < GN; i++) diff += (a[i] != old[i]) * (1 + 10 * (i % 2 == 0));
        } else {
            assert_int_equal(lm_arch_cell_mutate_input(&rng, a, GN, B), LM_OK);
            for (int i = 0; i < GN; i++) diff += (a[i] != old[i]) * (1 + 10 * (i % 2 == 1));
        }
        assert_int_equal(diff, 1); /* exactly one value, of the right kind, changed */
        assert_int_equal(lm_arch_cell_check(a, GN, B), LM_OK);
        assert_int_equal(lm_arch_cell_crossover(&rng, a, b, c, GN, B), LM_OK);
        assert_int_equal(lm_arch_cell_check(c, GN, B), LM_OK);
        for (int blk = 0; blk < 2 * B; blk++)
            assert_true(memcmp(c + 4 * blk, a + 4 * blk, 16) == 0 ||
                        memcmp(c + 4 * blk, b + 4 * blk, 16) == 0);
        memcpy(b, c, sizeof c);
    }
}

static void test_encode_round_trip(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 3, 0, 0);
    int32_t g[GN], h[GN];
    lm_arch_cell n, r, n2, r2;
    for (int t = 0; t < 1000; t++) {
        assert_int_equal(lm_arch_cell_random(&rng, g, GN, B), LM_OK);
        assert_int_equal(lm_arch_cell_parse(g, GN, B, &n, &r), LM_OK);
        assert_int_equal(n.n_blocks, B);
        assert_int_equal(n.in[2][1], g[2 * 4 + 2]);
        assert_int_equal(r.op[1][0], g[(B + 1) * 4 + 1]);
        assert_int_equal(lm_arch_cell_encode(&n, &r, h, GN), LM_OK);
        assert_memory_equal(g, h, sizeof g);
        assert_int_equal(lm_arch_cell_parse(h, GN, B, &n2, &r2), LM_OK);
        assert_memory_equal(&n, &n2, sizeof n);
        assert_memory_equal(&r, &r2, sizeof r);
    }
    n.in[3][0] = 9; /* block 3 can read inputs 0..4 only */
    expect_error(lm_arch_cell_encode(&n, &r, h, GN), LM_EINVAL, "normal cell block 3 input 1 is 9");
}

/* Swaps blocks k and k+1 of cell t (valid when block k+1 does not read block k) and
 * renumbers the references of later blocks. */
static int swap_blocks(int32_t *g, int t, int k) {
    int32_t *p = g + (t * B + k) * 4, *q = p + 4;
    if (q[0] == k + 2 || q[2] == k + 2) return 0;
    int32_t tmp[4];
    memcpy(tmp, p, sizeof tmp);
    memcpy(p, q, sizeof tmp);
    memcpy(q, tmp, sizeof tmp);
    for (int b = k + 2; b < B; b++)
        for (int s = 0; s < 2; s++) {
            int32_t *in = g + (t * B + b) * 4 + 2 * s;
            if (*in == k + 2) *in = k + 3;
            else if (*in == k + 3) *in = k + 2;
        }
    return 1;
}

static void test_hash_canonical(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 5, 0, 0);
    int32_t g[GN], h[GN];
    uint64_t hg, hh;
    int swapped = 0;
    for (int t = 0; t < 2000; t++) {
        assert_int_equal(lm_arch_cell_random(&rng, g, GN, B), LM_OK);
        memcpy(h, g, sizeof g);
        /* Swap the two inputs of every block: (a,opA,b,opB) -> (b,opB,a,opA). */
        for (int blk = 0; blk < 2 * B; blk++) {
            int32_t *q = h + 4 * blk, x = q[0], y = q[1];
            q[0] = q[2];
            q[1] = q[3];
            q[2] = x;
            q[3] = y;
        }
        /* Renumber independent neighbouring blocks. */
        int k = (int)lm_rng_below(&rng, B - 1), cell = (int)lm_rng_below(&rng, 2);
        swapped += swap_blocks(h, cell, k);
        assert_int_equal(lm_arch_cell_check(h, GN, B), LM_OK);
        assert_int_equal(lm_arch_cell_hash(g, GN, B, &hg), LM_OK);
        assert_int_equal(lm_arch_cell_hash(h, GN, B, &hh), LM_OK);
        assert_true(hg == hh);
        /* An isomorphic genome builds the same network size. */
        if (t % 100 == 0) {
            lm_arch_net a, b;
            assert_int_equal(lm_arch_cell_decode(g, B, 1, 4, 2, 3, 8, 8, 5, &a), LM_OK);
            assert_int_equal(lm_arch_cell_decode(h, B, 1, 4, 2, 3, 8, 8, 5, &b), LM_OK);
            assert_true(a.params == b.params && a.flops == b.flops);
            lm_arch_net_fini(&a);
            lm_arch_net_fini(&b);
        }
    }
    assert_true(swapped > 500);

    /* Different cells hash differently on a sample. */
    enum { S = 2000 };
    uint64_t *hs = malloc(S * sizeof *hs);
    assert_non_null(hs);
    for (int t = 0; t < S; t++) {
        assert_int_equal(lm_arch_cell_random(&rng, g, GN, B), LM_OK);
        assert_int_equal(lm_arch_cell_hash(g, GN, B, &hs[t]), LM_OK);
    }
    int dup = 0;
    for (int i = 0; i < S; i++)
        for (int j = i + 1; j < S; j++) dup += hs[i] == hs[j];
    assert_true(dup <= 2);
    free(hs);
    /* One changed operation, one changed input, and normal/reduction swapped. */
    memset(g, 0, sizeof g);
    assert_int_equal(lm_arch_cell_hash(g, GN, B, &hg), LM_OK);
    memcpy(h, g, sizeof g);
    h[1] = LM_ARCH_OP_SEP3;
    assert_int_equal(lm_arch_cell_hash(h, GN, B, &hh), LM_OK);
    assert_true(hg != hh);
    memcpy(h, g, sizeof g);
    h[4 * 4] = 3;
    assert_int_equal(lm_arch_cell_hash(h, GN, B, &hh), LM_OK);
    assert_true(hg != hh);
    memcpy(h, g, sizeof g);
    h[(B + 2) * 4 + 1] = LM_ARCH_OP_MAX3; /* in the reduction cell */
    uint64_t h2;
    assert_int_equal(lm_arch_cell_hash(h, GN, B, &hh), LM_OK);
    memcpy(h, g, sizeof g);
    h[2 * 4 + 1] = LM_ARCH_OP_MAX3; /* the same change in the normal cell */
    assert_int_equal(lm_arch_cell_hash(h, GN, B, &h2), LM_OK);
    assert_true(hh != hg && h2 != hg);
    assert_true(hh != h2);
}

static void test_rejections(void **state) {
    (void)state;
    int32_t g[GN] = {0};
    lm_arch_net net;
    expect_error(lm_arch_cell_check(g, GN - 1, B), LM_EINVAL, "length 39, expected 40");
    expect_error(lm_arch_cell_check(g, GN, 0), LM_EINVAL, "0 blocks per cell");
    expect_error(lm_arch_cell_check(g, GN, 17), LM_EINVAL, "expected 1..16");
    g[0] = 2;
    expect_error(lm_arch_cell_check(g, GN, B), LM_EINVAL,
                 "normal cell block 0 input 1 is 2, expected 0..1");
    g[0] = 0;
    g[(B + 3) * 4 + 3] = 8;
    expect_error(lm_arch_cell_check(g, GN, B), LM_EINVAL,
                 "reduction cell block 3 operation 2 is 8, expected 0..7");
    expect_error(lm_arch_cell_decode(g, B, 1, 4, 1, 3, 8, 8, 10, &net), LM_EINVAL,
                 "reduction cell block 3");
    assert_null(net.nodes);
    g[(B + 3) * 4 + 3] = -1;
    expect_error(lm_arch_cell_hash(g, GN, B, &(uint64_t){0}), LM_EINVAL, "operation 2 is -1");
    memset(g, 0, sizeof g);
    expect_error(lm_arch_cell_decode(g, B, 0, 4, 1, 3, 8, 8, 10, &net), LM_EINVAL,
                 "0 normal cells per stage");
    expect_error(lm_arch_cell_decode(g, B, 1, 4, 9, 3, 8, 8, 10, &net), LM_EINVAL, "9 stages");
    expect_error(lm_arch_cell_decode(g, B, 1, 40000, 2, 3, 8, 8, 10, &net), LM_EINVAL,
                 "40000 filters");
    expect_error(lm_arch_cell_decode(g, B, 1, 4, 1, 3, 0, 8, 10, &net), LM_EINVAL,
                 "input 3x0x8");
    expect_error(lm_arch_cell_decode(g, B, 1, 4, 1, 3, 8, 8, 0, &net), LM_EINVAL, "0 classes");
    expect_error(lm_arch_cell_mutate_op(NULL, g, GN, B), LM_EINVAL, "NULL rng");
}

static void test_scaling(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 9, 0, 0);
    int32_t g[GN];
    for (int t = 0; t < 20; t++) {
        assert_int_equal(lm_arch_cell_random(&rng, g, GN, B), LM_OK);
        lm_arch_net s, n, f;
        assert_int_equal(lm_arch_cell_decode(g, B, 2, 8, 3, 3, 32, 32, 10, &s), LM_OK);
        assert_int_equal(lm_arch_cell_decode(g, B, 4, 8, 3, 3, 32, 32, 10, &n), LM_OK);
        assert_int_equal(lm_arch_cell_decode(g, B, 2, 16, 3, 3, 32, 32, 10, &f), LM_OK);
        check_net(&s, 10);
        check_net(&n, 10);
        check_net(&f, 10);
        assert_true(n.n_nodes > s.n_nodes && n.params > s.params && n.flops > s.flops);
        assert_int_equal(f.n_nodes, s.n_nodes);
        assert_true(f.params > 2 * s.params && f.flops > 2 * s.flops);
        lm_arch_net_fini(&s);
        lm_arch_net_fini(&n);
        lm_arch_net_fini(&f);
    }
}

/* B=1, one stage of one normal cell, F=2, input 1x4x4, 3 classes. */
static void test_cost_by_hand(void **state) {
    (void)state;
    int32_t g[8] = {0, LM_ARCH_OP_IDENTITY, 1, LM_ARCH_OP_IDENTITY, 0, 0, 0, 0};
    lm_arch_net net;
    int64_t p, f;
    assert_int_equal(lm_arch_cell_decode(g, 1, 1, 2, 1, 1, 4, 4, 3, &net), LM_OK);
    /* input, stem, 2 preprocessing convs, 2 identities, add, concat, gap, dense */
    assert_int_equal(net.n_nodes, 10);
    /* stem 9*1*2+2, preprocessing 2*(2*2+2), dense 2*3+3 */
    assert_int_equal(net.params, 20 + 12 + 9);
    /* stem 9*1*2*16, preprocessing 2*4*16, add 2*16, gap 2*16, dense 6 */
    assert_int_equal(net.flops, 288 + 128 + 32 + 32 + 6);
    assert_int_equal(lm_arch_net_cost(&net, &p, &f), LM_OK);
    assert_int_equal(p, net.params);
    assert_int_equal(f, net.flops);
    lm_arch_net_fini(&net);

    /* sep 3x3 (9*2 + 2*2 + 2 params, (18+4)*16 flops) and max 3x3 (9*2*16 flops) */
    g[1] = LM_ARCH_OP_SEP3;
    g[3] = LM_ARCH_OP_MAX3;
    assert_int_equal(lm_arch_cell_decode(g, 1, 1, 2, 1, 1, 4, 4, 3, &net), LM_OK);
    assert_int_equal(net.params, 41 + 24);
    assert_int_equal(net.flops, 486 + 352 + 288);
    lm_arch_net_fini(&net);

    /* Two stages: the reduction cell halves 4x4 to 2x2 with 4 filters. */
    g[1] = g[3] = LM_ARCH_OP_IDENTITY;
    assert_int_equal(lm_arch_cell_decode(g, 1, 1, 2, 2, 1, 4, 4, 3, &net), LM_OK);
    const lm_arch_node *gap = &net.nodes[net.n_nodes - 2];
    assert_int_equal(gap->kind, LM_ARCH_NODE_GLOBAL_AVG_POOL);
    const lm_arch_node *last = &net.nodes[gap->in[0]];
    assert_int_equal(last->c, 4);
    assert_int_equal(last->h, 2);
    assert_int_equal(last->w, 2);
    lm_arch_net_fini(&net);
    lm_arch_net_fini(&net); /* idempotent */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_and_repair_decode),
        cmocka_unit_test(test_variation_valid),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_hash_canonical),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_scaling),
        cmocka_unit_test(test_cost_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
