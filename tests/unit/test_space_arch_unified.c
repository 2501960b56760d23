/* The unified architecture space API over all families (cell, chain, mlp, gcnn):
 * settings validation, gene names, mutation and crossover through the dispatcher,
 * constraints with retries and their messages, Genetic-CNN decoding and hashing,
 * description round trips, readable formatting, and the attachment to lm_space. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/arch.h"
#include "lamarck/error.h"
#include "lamarck/space.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_space_arch_check.h"

#define GMAX 64

static void expect_error(int rc, int code, const char *fragment) {
    assert_int_equal(rc, code);
    if (!strstr(lm_error_message(), fragment))
        fail_msg("message '%s' lacks '%s'", lm_error_message(), fragment);
    lm_error_clear();
}

static void family_space(lm_arch_family f, lm_arch_space *as) {
    lm_arch_space_default(as, f);
    as->in_c = 1;
    as->in_h = as->in_w = 28;
    as->n_classes = 10;
}

static void test_defaults_and_checks(void **state) {
    (void)state;
    static const size_t sizes[4] = {40, 41, 9, 18};
    for (int f = 0; f < 4; f++) {
        lm_arch_space as;
        lm_arch_space_default(&as, (lm_arch_family)f);
        assert_int_equal(lm_arch_space_check(&as), LM_OK);
        assert_int_equal(lm_arch_genome_size(&as), sizes[f]);
    }
    lm_arch_space as;
    lm_arch_space_default(&as, LM_ARCH_CHAIN);
    as.kernels[1] = 4;
    expect_error(lm_arch_space_check(&as), LM_EINVAL, "kernels[1] is 4, expected an odd value");
    lm_arch_space_default(&as, LM_ARCH_CHAIN);
    as.widths[2] = 16;
    expect_error(lm_arch_space_check(&as), LM_EINVAL, "widths lists 16 twice");
    lm_arch_space_default(&as, LM_ARCH_CHAIN);
    as.stages = 3;
    expect_error(lm_arch_space_check(&as), LM_EINVAL, "stages 3, expected 1..min_depth (2)");
    lm_arch_space_default(&as, LM_ARCH_MLP);
    as.types |= 1u << LM_ARCH_LAYER_CONV;
    expect_error(lm_arch_space_check(&as), LM_EINVAL, "mlp layer types must be dense");
    lm_arch_space_default(&as, LM_ARCH_GCNN);
    as.nodes = 9;
    expect_error(lm_arch_space_check(&as), LM_EINVAL, "gcnn nodes 9 per stage, expected 2..8");
    assert_int_equal(lm_arch_genome_size(&as), 0);
    lm_arch_space_default(&as, LM_ARCH_CELL);
    as.in_c = 3;
    expect_error(lm_arch_space_check(&as), LM_EINVAL, "partly set");
    lm_arch_space_default(&as, LM_ARCH_CELL);
    as.mutation_prob[LM_ARCH_MUT_CHANGE_OP] = 0;
    as.mutation_prob[LM_ARCH_MUT_CHANGE_INPUT] = 0;
    expect_error(lm_arch_space_check(&as), LM_EINVAL, "every mutation operator");
    lm_arch_space_default(&as, LM_ARCH_CHAIN);
    int32_t g[GMAX];
    lm_arch_net net;
    assert_int_equal(lm_arch_random(&as, NULL, g, 41), LM_EINVAL);
    lm_error_clear();
    lm_rng rng;
    lm_rng_init(&rng, 1, 0, 0);
    assert_int_equal(lm_arch_random(&as, &rng, g, 41), LM_OK);
    expect_error(lm_arch_decode(&as, g, 41, &net), LM_EINVAL, "must be set before decoding");
    for (int op = 0; op < LM_ARCH_MUT_N; op++)
        assert_int_equal(lm_arch_mutation_find(lm_arch_mutation_name(op)), op);
    assert_int_equal(lm_arch_mutation_find("flip_edges"), -1);
    assert_string_equal(lm_arch_mutation_name(LM_ARCH_MUT_CHANGE_INPUT), "change_input");
}

static void expect_gene(const lm_arch_space *as, size_t i, const char *name, int lo, int hi) {
    char buf[64];
    int32_t l, h;
    assert_int_equal(lm_arch_gene_info(as, i, buf, sizeof buf, &l, &h), LM_OK);
    assert_string_equal(buf, name);
    assert_int_equal(l, lo);
    assert_int_equal(h, hi);
}

static void test_gene_info(void **state) {
    (void)state;
    lm_arch_space as;
    lm_arch_space_default(&as, LM_ARCH_CHAIN);
    expect_gene(&as, 0, "arch.depth", 2, 8);
    expect_gene(&as, 1, "arch.l0.type", 0, 6);
    expect_gene(&as, 2, "arch.l0.kernel", 0, 1);
    expect_gene(&as, 3 * 5 + 3, "arch.l3.width", 0, 3);
    expect_gene(&as, 3 * 5 + 4, "arch.l3.stride", 0, 1);
    expect_gene(&as, 3 * 5 + 5, "arch.l3.skip", 0, 7);
    lm_arch_space_default(&as, LM_ARCH_MLP);
    expect_gene(&as, 4, "arch.l1.width", 0, 4);
    lm_arch_space_default(&as, LM_ARCH_CELL);
    expect_gene(&as, 2 * 4 + 3, "arch.normal.b2.op2", 0, LM_ARCH_CELL_N_OPS - 1);
    expect_gene(&as, 2 * 4 + 2, "arch.normal.b2.in2", 0, 3);
    expect_gene(&as, 5 * 4 + 0, "arch.reduce.b0.in1", 0, 1);
    lm_arch_space_default(&as, LM_ARCH_GCNN);
    expect_gene(&as, 0, "arch.s0.e0_1", 0, 1);
    expect_gene(&as, 4, "arch.s0.e1_3", 0, 1);
    expect_gene(&as, 6 + 2, "arch.s1.e1_2", 0, 1);
    char small[6];
    int32_t l, h;
    expect_error(lm_arch_gene_info(&as, 0, small, sizeof small, &l, &h), LM_ERANGE, "too small");
    expect_error(lm_arch_gene_info(&as, 18, small, sizeof small, &l, &h), LM_EINVAL,
                 "gene 18, genome has 18");
}

/* 10,000 dispatched mutations and crossovers per family stay valid and decode. */
static void test_variation_all_families(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 2, 0, 0);
    for (int f = 0; f < 4; f++) {
        lm_arch_space as;
        family_space((lm_arch_family)f, &as);
        if (f == LM_ARCH_CELL) as.stages = 2, as.cells = 1, as.filters = 8;
        size_t n = lm_arch_genome_size(&as);
        int32_t g[GMAX], a[GMAX], c[GMAX];
        int count[LM_ARCH_MUT_N] = {0};
        assert_int_equal(lm_arch_random(&as, &rng, g, n), LM_OK);
        for (int t = 0; t < 10000; t++) {
            int op = -2;
            assert_int_equal(lm_arch_mutate(&as, &rng, g, n, &op), LM_OK);
            assert_true(op >= 0 && op < LM_ARCH_MUT_N);
            count[op]++;
            if (lm_arch_check(&as, g, n) != LM_OK)
                fail_msg("family %d op %s: %s", f, lm_arch_mutation_name(op), lm_error_message());
            assert_int_equal(lm_arch_random(&as, &rng, a, n), LM_OK);
            assert_int_equal(lm_arch_crossover(&as, &rng, t % 2, g, a, c, n), LM_OK);
            assert_int_equal(lm_arch_check(&as, c, n), LM_OK);
            if (t % 50 == 0) {
                lm_arch_net net;
                assert_int_equal(lm_arch_decode(&as, c, n, &net), LM_OK);
                check_net_shapes(&net, 10);
                lm_arch_net_fini(&net);
                uint64_t h;
                assert_int_equal(lm_arch_hash(&as, c, n, &h), LM_OK);
            }
        }
        for (int op = 0; op < LM_ARCH_MUT_N; op++) {
            int expect = f == LM_ARCH_CELL   ? op == LM_ARCH_MUT_CHANGE_OP || op == LM_ARCH_MUT_CHANGE_INPUT
                         : f == LM_ARCH_GCNN ? op == LM_ARCH_MUT_FLIP_EDGE
                         : f == LM_ARCH_MLP  ? op <= LM_ARCH_MUT_CHANGE_TYPE &&
                                                  op != LM_ARCH_MUT_CHANGE_KERNEL &&
                                                  op != LM_ARCH_MUT_ADD_SKIP &&
                                                  op != LM_ARCH_MUT_REMOVE_SKIP
                                             : op <= LM_ARCH_MUT_CHANGE_TYPE ||
                                                   op == LM_ARCH_MUT_CHANGE_STRIDE;
            if (expect && count[op] < 300)
                fail_msg("family %d: %s applied %d times", f, lm_arch_mutation_name(op), count[op]);
            if (!expect && count[op] != 0)
                fail_msg("family %d: foreign %s applied", f, lm_arch_mutation_name(op));
        }
    }
    /* Weights steer the choice: only change_width. */
    lm_arch_space as;
    family_space(LM_ARCH_CHAIN, &as);
    for (int op = 0; op < LM_ARCH_MUT_N; op++) as.mutation_prob[op] = 0;
    as.mutation_prob[LM_ARCH_MUT_CHANGE_WIDTH] = 1;
    int32_t g[GMAX];
    assert_int_equal(lm_arch_random(&as, &rng, g, 41), LM_OK);
    for (int t = 0; t < 200; t++) {
        int op;
        int rc = lm_arch_mutate(&as, &rng, g, 41, &op);
        if (rc == LM_OK) {
            assert_int_equal(op, LM_ARCH_MUT_CHANGE_WIDTH);
        } else {
            /* no layer with a width (pools and identities only) */
            expect_error(rc, LM_EINVAL, "no operator with a positive weight applies");
            assert_int_equal(op, -1);
            assert_int_equal(lm_arch_random(&as, &rng, g, 41), LM_OK);
        }
    }
}

static void test_constraints(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 3, 0, 0);
    lm_arch_space as;
    family_space(LM_ARCH_CHAIN, &as);
    as.max_params = 20000;
    as.max_flops = 3e6;
    size_t n = lm_arch_genome_size(&as);
    int32_t g[GMAX];
    int64_t max_p = 0;
    for (int t = 0; t < 10000; t++) {
        assert_int_equal(lm_arch_random(&as, &rng, g, n), LM_OK);
        lm_arch_net net;
        assert_int_equal(lm_arch_decode(&as, g, n, &net), LM_OK);
        assert_true(net.params <= 20000 && (double)net.flops <= 3e6);
        assert_int_equal(lm_arch_check_constraints(&as, &net), LM_OK);
        if (net.params > max_p) max_p = net.params;
        lm_arch_net_fini(&net);
        if (t < 2000) {
            int op;
            assert_int_equal(lm_arch_mutate(&as, &rng, g, n, &op), LM_OK);
            assert_int_equal(lm_arch_decode(&as, g, n, &net), LM_OK);
            assert_true(net.params <= 20000 && (double)net.flops <= 3e6);
            lm_arch_net_fini(&net);
        }
    }
    assert_true(max_p > 10000); /* the constraint binds without collapsing the space */

    lm_arch_net fake = {NULL, 0, 312456, 1000};
    as.max_params = 100000;
    expect_error(lm_arch_check_constraints(&as, &fake), LM_ERANGE,
                 "architecture has 312,456 parameters, above max_params 100,000");
    fake.params = 5;
    fake.flops = 4000000;
    expect_error(lm_arch_check_constraints(&as, &fake), LM_ERANGE,
                 "architecture has 4,000,000 FLOPs per sample, above max_flops 3,000,000");

    /* Impossible: no chain with a 16-filter stem has 10 parameters. */
    as.max_params = 10;
    as.max_tries = 50;
    assert_int_equal(lm_arch_random(&as, &rng, g, n), LM_ERANGE);
    if (!strstr(lm_error_message(), "no architecture within max_params 10 in 50 tries; the "
                                    "smallest had "))
        fail_msg("message: %s", lm_error_message());
    lm_error_clear();
    assert_int_equal(lm_arch_check(&as, g, n), LM_OK); /* the closest genome is left */
    as.max_params = 0;
    as.max_flops = 100;
    expect_error(lm_arch_random(&as, &rng, g, n), LM_ERANGE, "within max_flops 100 in 50 tries");
    /* Mutation under an impossible constraint leaves the parent. */
    as.max_flops = 0;
    assert_int_equal(lm_arch_random(&as, &rng, g, n), LM_OK);
    int32_t parent[GMAX];
    memcpy(parent, g, sizeof parent);
    as.max_params = 10;
    int op = 0;
    expect_error(lm_arch_mutate(&as, &rng, g, n, &op), LM_ERANGE, "arch mutation: no architecture");
    assert_int_equal(op, -1);
    assert_memory_equal(parent, g, n * sizeof *g);
}

static void test_gcnn(void **state) {
    (void)state;
    lm_arch_space as;
    lm_arch_space_default(&as, LM_ARCH_GCNN);
    as.stages = 1;
    as.nodes = 3;
    as.filters = 2;
    as.in_c = 1;
    as.in_h = as.in_w = 4;
    as.n_classes = 2;
    /* bits: 0->1, 0->2, 1->2. Only 0->1: node 2 is isolated and dropped. */
    int32_t g[3] = {1, 0, 0};
    lm_arch_net net;
    assert_int_equal(lm_arch_decode(&as, g, 3, &net), LM_OK);
    check_net_shapes(&net, 2);
    /* input, input conv, node 0, node 1, output conv, gap, dense */
    assert_int_equal(net.n_nodes, 7);
    /* convs 1->2 (20), three 2->2 (38 each); dense 2*2+2 */
    assert_int_equal(net.params, 20 + 3 * 38 + 6);
    /* 9*1*2*16 + 3 * 9*2*2*16 + gap 2*16 + dense 4 */
    assert_int_equal(net.flops, 288 + 3 * 576 + 32 + 4);
    lm_arch_net_fini(&net);
    /* No edges: one conv. */
    int32_t z[3] = {0, 0, 0};
    assert_int_equal(lm_arch_decode(&as, z, 3, &net), LM_OK);
    assert_int_equal(net.n_nodes, 4);
    assert_int_equal(net.params, 20 + 6);
    lm_arch_net_fini(&net);
    /* A diamond sums two predecessors and the output sums the sinks. */
    int32_t d[3] = {1, 1, 0};
    assert_int_equal(lm_arch_decode(&as, d, 3, &net), LM_OK);
    check_net_shapes(&net, 2);
    int adds = 0;
    for (int i = 0; i < net.n_nodes; i++) adds += net.nodes[i].kind == LM_ARCH_NODE_ADD;
    assert_int_equal(adds, 1); /* sinks 1 and 2 summed for the output conv */
    lm_arch_net_fini(&net);

    /* Hash: renumbered chains and dropped isolated nodes are the same graph. */
    uint64_t h01, h02, h12, h0112, hz;
    int32_t e01[3] = {1, 0, 0}, e02[3] = {0, 1, 0}, e12[3] = {0, 0, 1}, e0112[3] = {1, 0, 1};
    assert_int_equal(lm_arch_hash(&as, e01, 3, &h01), LM_OK);
    assert_int_equal(lm_arch_hash(&as, e02, 3, &h02), LM_OK);
    assert_int_equal(lm_arch_hash(&as, e12, 3, &h12), LM_OK);
    assert_int_equal(lm_arch_hash(&as, e0112, 3, &h0112), LM_OK);
    assert_int_equal(lm_arch_hash(&as, z, 3, &hz), LM_OK);
    assert_true(h01 == h02 && h01 == h12);
    assert_true(h0112 != h01 && hz != h01 && hz != h0112);

    /* Flip mutation changes at least one bit; q = 1 flips all. */
    lm_rng rng;
    lm_rng_init(&rng, 4, 0, 0);
    lm_arch_space_default(&as, LM_ARCH_GCNN);
    int32_t a[18], b[18], c[18];
    for (int t = 0; t < 1000; t++) {
        assert_int_equal(lm_arch_random(&as, &rng, a, 18), LM_OK);
        memcpy(b, a, sizeof a);
        assert_int_equal(lm_arch_gcnn_flip_edges(&as, &rng, b, 18), LM_OK);
        assert_true(memcmp(a, b, sizeof a) != 0);
    }
    as.flip_prob = 1;
    memcpy(b, a, sizeof a);
    assert_int_equal(lm_arch_gcnn_flip_edges(&as, &rng, b, 18), LM_OK);
    for (int i = 0; i < 18; i++) assert_int_equal(a[i] + b[i], 1);
    /* Crossover takes whole stages. */
    for (int t = 0; t < 100; t++) {
        assert_int_equal(lm_arch_crossover(&as, &rng, 1, a, b, c, 18), LM_OK);
        for (int s = 0; s < 3; s++)
            assert_true(!memcmp(c + 6 * s, a + 6 * s, 6 * sizeof *c) ||
                        !memcmp(c + 6 * s, b + 6 * s, 6 * sizeof *c));
    }
    a[4] = 2;
    expect_error(lm_arch_check(&as, a, 18), LM_EINVAL, "gene 4 (stage 0, edge 1->3) is 2");
    assert_int_equal(lm_arch_repair(&as, a, 18), LM_OK);
    assert_int_equal(a[4], 1);
}

static void test_cell_through_api(void **state) {
    (void)state;
    lm_arch_space as;
    family_space(LM_ARCH_CELL, &as);
    as.blocks = 2;
    int32_t g[16] = {0, 1, 1, 2, 2, 3, 0, 5, 0, 0, 1, 0, 2, 4, 1, 1};
    uint64_t a, b;
    assert_int_equal(lm_arch_hash(&as, g, 16, &a), LM_OK);
    /* swap the two (input, op) pairs of the normal cell's block 1 */
    int32_t s[16];
    memcpy(s, g, sizeof s);
    s[4] = g[6], s[5] = g[7], s[6] = g[4], s[7] = g[5];
    assert_int_equal(lm_arch_hash(&as, s, 16, &b), LM_OK);
    assert_true(a == b);
    s[5] = (s[5] + 1) % LM_ARCH_CELL_N_OPS;
    assert_int_equal(lm_arch_hash(&as, s, 16, &b), LM_OK);
    assert_true(a != b);
    lm_arch_net net;
    assert_int_equal(lm_arch_decode(&as, g, 16, &net), LM_OK);
    check_net_shapes(&net, 10);
    lm_arch_net_fini(&net);
    g[2] = 7;
    expect_error(lm_arch_decode(&as, g, 16, &net), LM_EINVAL, "normal cell block 0 input 2 is 7");
}

static void test_describe_round_trip(void **state) {
    (void)state;
    for (int f = 0; f < 4; f++) {
        lm_arch_space as, back;
        family_space((lm_arch_family)f, &as);
        as.max_params = 123456;
        as.max_flops = 2.5e7;
        as.mutation_prob[LM_ARCH_MUT_N - 1 - f] = 0.25;
        if (f == LM_ARCH_CHAIN) {
            as.types &= ~(1u << LM_ARCH_LAYER_DIL_CONV);
            as.skips = LM_ARCH_SKIP_CONCAT;
            as.stages = 2;
        }
        if (f == LM_ARCH_GCNN) as.flip_prob = 0.1;
        char d1[1024], d2[1024];
        assert_int_equal(lm_arch_describe(&as, d1, sizeof d1), LM_OK);
        assert_int_equal(lm_arch_space_parse_description(d1, &back), LM_OK);
        assert_int_equal(lm_arch_describe(&back, d2, sizeof d2), LM_OK);
        assert_string_equal(d1, d2);
        assert_int_equal(back.family, as.family);
        assert_int_equal(back.max_params, 123456);
        assert_true(back.max_flops == 2.5e7 && back.in_h == 28);
        assert_true(back.mutation_prob[LM_ARCH_MUT_N - 1 - f] == 0.25);
        assert_int_equal(lm_arch_genome_size(&back), lm_arch_genome_size(&as));
        if (f == LM_ARCH_CHAIN) {
            assert_true(strstr(d1, "family=chain min_depth=2 max_depth=8 types=conv,sep_conv,"
                                   "max_pool,avg_pool,dense,identity kernels=3,5") != NULL);
            assert_true(back.types == as.types && back.skips == LM_ARCH_SKIP_CONCAT);
        }
        if (f == LM_ARCH_GCNN) assert_true(back.flip_prob == 0.1);
    }
    lm_arch_space as;
    char tiny[16];
    lm_arch_space_default(&as, LM_ARCH_CELL);
    expect_error(lm_arch_describe(&as, tiny, sizeof tiny), LM_ERANGE, "too small");
    expect_error(lm_arch_space_parse_description("family=cell blocs=3", &as), LM_EINVAL,
                 "did you mean 'blocks'");
    expect_error(lm_arch_space_parse_description("blocks=3", &as), LM_EINVAL, "no family=");
    expect_error(lm_arch_space_parse_description("family=cell blocks=99", &as), LM_EINVAL,
                 "cell blocks 99");
    expect_error(lm_arch_space_parse_description("family=chain widths=16,x", &as), LM_EINVAL,
                 "widths=x");
    expect_error(lm_arch_space_parse_description("family=chain types=conv,pool", &as), LM_EINVAL,
                 "types=pool is unknown");
    expect_error(lm_arch_space_parse_description("family=mlp in=3x4", &as), LM_EINVAL,
                 "expected CxHxW");
    assert_int_equal(lm_arch_space_parse_description("family=gcnn nodes=5 stages=2", &as), LM_OK);
    assert_int_equal(lm_arch_genome_size(&as), 20);
}

static void test_format(void **state) {
    (void)state;
    lm_arch_space as;
    family_space(LM_ARCH_CHAIN, &as);
    as.min_depth = 1;
    lm_arch_chain c = {.depth = 2};
    c.layer[0] = (lm_arch_layer){LM_ARCH_LAYER_CONV, 5, 32, 2, 0};
    c.layer[1] = (lm_arch_layer){LM_ARCH_LAYER_MAX_POOL, 3, 16, 1, 1};
    int32_t g[GMAX];
    assert_int_equal(lm_arch_chain_encode(&as, &c, g, 41), LM_OK);
    char buf[1024];
    assert_int_equal(lm_arch_format(&as, g, 41, buf, sizeof buf), LM_OK);
    assert_true(strstr(buf, "chain depth 2, stem conv 3x3 x16\n") != NULL);
    assert_true(strstr(buf, "  l0: conv 5x5 x32 stride 2\n") != NULL);
    assert_true(strstr(buf, "  l1: max_pool 3x3 stride 1, add skips from input\n") != NULL);
    assert_true(strstr(buf, "params ") != NULL && strstr(buf, "FLOPs ") != NULL);
    char small[20];
    expect_error(lm_arch_format(&as, g, 41, small, sizeof small), LM_ERANGE, "too small");
    family_space(LM_ARCH_CELL, &as);
    assert_int_equal(lm_arch_format(&as, (int32_t[40]){0}, 40, buf, sizeof buf), LM_OK);
    assert_true(strstr(buf, "  b4: identity(h[i-1]) + identity(h[i-1])\n") != NULL);
    family_space(LM_ARCH_GCNN, &as);
    int32_t e[18] = {1};
    assert_int_equal(lm_arch_format(&as, e, 18, buf, sizeof buf), LM_OK);
    assert_true(strstr(buf, "stage 0 (16 filters): 0->1\nstage 1 (32 filters): no edges") != NULL);
}

static void test_space_attachment(void **state) {
    (void)state;
    lm_space *sp;
    assert_int_equal(lm_space_create(&sp), LM_OK);
    assert_int_equal(lm_space_add_float(sp, "lr", 1e-3, 1e-1, 1), LM_OK);
    assert_null(lm_space_arch(sp, NULL, NULL));
    lm_arch_space as;
    family_space(LM_ARCH_CHAIN, &as);
    as.max_params = 50000;
    assert_int_equal(lm_space_add_arch(sp, &as), LM_OK);
    assert_int_equal(lm_space_size(sp), 42);
    int first, n;
    const lm_arch_space *got = lm_space_arch(sp, &first, &n);
    assert_non_null(got);
    assert_int_equal(first, 1);
    assert_int_equal(n, 41);
    assert_int_equal(got->max_params, 50000);
    assert_int_equal(lm_space_find(sp, "arch.depth"), 1);
    assert_int_equal(lm_space_find(sp, "arch.l7.skip"), 41);
    assert_int_equal(lm_space_hp(sp, 41)->kind, LM_HP_INT);
    assert_true(lm_space_hp(sp, 41)->high == 127);
    expect_error(lm_space_add_arch(sp, &as), LM_EINVAL, "already has an architecture");
    const char *vals[] = {"3"};
    expect_error(lm_space_set_condition(sp, "arch.l3.type", "arch.depth", 1, vals), LM_EINVAL,
                 "cannot be conditional");

    lm_rng rng;
    lm_rng_init(&rng, 5, 0, 0);
    double x[LM_HP_MAX];
    int32_t g[GMAX];
    for (int t = 0; t < 2000; t++) {
        lm_space_sample(sp, &rng, x);
        assert_true(x[0] >= 1e-3 && x[0] <= 1e-1);
        for (int i = 0; i < n; i++) g[i] = (int32_t)x[first + i];
        assert_int_equal(lm_arch_check(&as, g, (size_t)n), LM_OK);
        lm_arch_net net;
        assert_int_equal(lm_arch_decode(&as, g, (size_t)n, &net), LM_OK);
        assert_true(net.params <= 50000);
        lm_arch_net_fini(&net);
        /* any point repairs into a valid genome */
        for (int i = 0; i < n; i++) x[first + i] = (double)lm_rng_below(&rng, 300) - 50.5;
        lm_space_repair(sp, x);
        for (int i = 0; i < n; i++) {
            assert_true(x[first + i] == floor(x[first + i]));
            g[i] = (int32_t)x[first + i];
        }
        assert_int_equal(lm_arch_check(&as, g, (size_t)n), LM_OK);
    }
    lm_space_destroy(&sp);

    /* Impossible constraints: sampling still gives a valid genome and no error. */
    assert_int_equal(lm_space_create(&sp), LM_OK);
    as.max_params = 10;
    as.max_tries = 20;
    assert_int_equal(lm_space_add_arch(sp, &as), LM_OK);
    lm_space_sample(sp, &rng, x);
    assert_string_equal(lm_error_message(), "");
    for (int i = 0; i < 41; i++) g[i] = (int32_t)x[i];
    assert_int_equal(lm_arch_check(&as, g, 41), LM_OK);
    lm_space_destroy(&sp);

    /* The genome must fit in LM_HP_MAX. */
    assert_int_equal(lm_space_create(&sp), LM_OK);
    for (int i = 0; i < 30; i++) {
        char name[16];
        snprintf(name, sizeof name, "h%d", i);
        assert_int_equal(lm_space_add_int(sp, name, 0, 3, 0), LM_OK);
    }
    family_space(LM_ARCH_CHAIN, &as);
    expect_error(lm_space_add_arch(sp, &as), LM_EINVAL, "has 41 genes, the space already 30");
    assert_int_equal(lm_space_size(sp), 30);
    as.max_depth = 6;
    assert_int_equal(lm_space_add_arch(sp, &as), LM_OK);
    assert_int_equal(lm_space_size(sp), 61);
    lm_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_checks),
        cmocka_unit_test(test_gene_info),
        cmocka_unit_test(test_variation_all_families),
        cmocka_unit_test(test_constraints),
        cmocka_unit_test(test_gcnn),
        cmocka_unit_test(test_cell_through_api),
        cmocka_unit_test(test_describe_round_trip),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_space_attachment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
