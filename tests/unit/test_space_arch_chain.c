/* Chain-structured and MLP architecture spaces: random and repaired genomes are
 * valid and decode to consistent networks, every mutation operator keeps genomes
 * valid over 10,000 applications, crossover, the genome/structure round trip,
 * canonical hashing, rejection messages and parameter/FLOP counts by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/arch.h"
#include "lamarck/error.h"

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

static void with_shape(lm_arch_space *as, int c, int h, int w, int classes) {
    as->in_c = c;
    as->in_h = h;
    as->in_w = w;
    as->n_classes = classes;
}

/* The spaces every property is checked on: the default chain (add skips), a
 * three-stage template with concat skips and dense layers, and the default MLP with
 * add skips. */
static void make_space(int which, lm_arch_space *as) {
    if (which == 0) {
        lm_arch_space_default(as, LM_ARCH_CHAIN);
    } else if (which == 1) {
        lm_arch_space_default(as, LM_ARCH_CHAIN);
        as->stages = 3;
        as->min_depth = 3;
        as->max_depth = 10;
        as->skips = LM_ARCH_SKIP_CONCAT;
        as->n_kernels = 4;
        as->kernels[2] = 1;
        as->kernels[3] = 7;
    } else {
        lm_arch_space_default(as, LM_ARCH_MLP);
        as->skips = LM_ARCH_SKIP_ADD;
    }
    with_shape(as, 3, 16, 12, 10);
}

static void check_decodes(const lm_arch_space *as, const int32_t *g, size_t n) {
    lm_arch_net net;
    assert_int_equal(lm_arch_chain_decode(as, g, n, &net), LM_OK);
    check_net_shapes(&net, as->n_classes);
    lm_arch_net_fini(&net);
}

static void test_random_and_repair(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 11, 0, 0);
    for (int which = 0; which < 3; which++) {
        lm_arch_space as;
        make_space(which, &as);
        size_t n = lm_arch_genome_size(&as);
        assert_true(n > 1 && n <= GMAX);
        int32_t g[GMAX], h[GMAX];
        int seen_depth[LM_ARCH_CHAIN_MAX_DEPTH + 1] = {0};
        for (int t = 0; t < 3000; t++) {
            assert_int_equal(lm_arch_chain_random(&as, &rng, g, n), LM_OK);
            assert_int_equal(lm_arch_chain_check(&as, g, n), LM_OK);
            seen_depth[g[0]]++;
            check_decodes(&as, g, n);
            /* Repair leaves a valid genome alone ... */
            memcpy(h, g, sizeof h);
            assert_int_equal(lm_arch_chain_repair(&as, h, n), LM_OK);
            assert_memory_equal(g, h, n * sizeof *g);
            /* ... and makes any vector valid. */
            for (size_t i = 0; i < n; i++) h[i] = (int32_t)lm_rng_below(&rng, 1200) - 100;
            assert_int_equal(lm_arch_chain_repair(&as, h, n), LM_OK);
            assert_int_equal(lm_arch_chain_check(&as, h, n), LM_OK);
            check_decodes(&as, h, n);
        }
        for (int d = as.min_depth; d <= as.max_depth; d++) assert_true(seen_depth[d] > 100);
    }
}

typedef int (*chain_op)(const lm_arch_space *, lm_rng *, int32_t *, size_t);

static void test_operators_valid(void **state) {
    (void)state;
    static const chain_op ops[8] = {
        lm_arch_chain_add_layer,  lm_arch_chain_remove_layer, lm_arch_chain_change_kernel,
        lm_arch_chain_change_width, lm_arch_chain_add_skip,   lm_arch_chain_remove_skip,
        lm_arch_chain_change_type, lm_arch_chain_change_stride};
    lm_rng rng;
    lm_rng_init(&rng, 12, 0, 0);
    for (int which = 0; which < 3; which++) {
        lm_arch_space as;
        make_space(which, &as);
        size_t n = lm_arch_genome_size(&as);
        for (int k = 0; k < 8; k++) {
            int32_t g[GMAX], before[GMAX];
            int applied = 0, changed = 0;
            assert_int_equal(lm_arch_chain_random(&as, &rng, g, n), LM_OK);
            for (int t = 0; t < 10000; t++) {
                if (t % 100 == 0) assert_int_equal(lm_arch_chain_random(&as, &rng, g, n), LM_OK);
                memcpy(before, g, sizeof before);
                int rc = ops[k](&as, &rng, g, n);
                assert_true(rc == LM_OK || rc == LM_ARCH_NOT_APPLICABLE);
                if (rc == LM_ARCH_NOT_APPLICABLE) {
                    /* e.g. add_layer at max_depth: start again elsewhere */
                    assert_memory_equal(before, g, n * sizeof *g);
                    assert_int_equal(lm_arch_chain_random(&as, &rng, g, n), LM_OK);
                    continue;
                }
                applied++;
                changed += memcmp(before, g, n * sizeof *g) != 0;
                if (lm_arch_chain_check(&as, g, n) != LM_OK)
                    fail_msg("space %d op %d: %s", which, k, lm_error_message());
                if (t % 10 == 0) check_decodes(&as, g, n);
            }
            int mlp_kernel = which == 2 && (k == 2 || k == 7); /* an MLP has neither */
            if (mlp_kernel) {
                assert_int_equal(applied, 0);
            } else {
                if (applied <= 1000) fail_msg("space %d op %d applied %d", which, k, applied);
                assert_true(changed > applied * 9 / 10);
            }
        }
    }
}

/* change_stride moves one stride gene, and nothing else.
 * The gene is a spatial layer's (a conv's or pool's) and goes to another of the space's
 * strides; with one stride the operator does not apply. */
static void test_change_stride(void **state) {
    (void)state;
    lm_arch_space as;
    make_space(0, &as);
    size_t n = lm_arch_genome_size(&as);
    lm_rng rng;
    lm_rng_init(&rng, 15, 0, 0);
    int applied = 0;
    for (int t = 0; t < 2000; t++) {
        int32_t g[GMAX], before[GMAX];
        assert_int_equal(lm_arch_chain_random(&as, &rng, g, n), LM_OK);
        memcpy(before, g, sizeof before);
        lm_arch_chain a, b;
        assert_int_equal(lm_arch_chain_parse(&as, g, n, &a), LM_OK);
        int rc = lm_arch_chain_change_stride(&as, &rng, g, n);
        if (rc == LM_ARCH_NOT_APPLICABLE) {
            /* only identities and dense layers */
            for (int i = 0; i < a.depth; i++)
                assert_true(a.layer[i].type == LM_ARCH_LAYER_IDENTITY ||
                            a.layer[i].type == LM_ARCH_LAYER_DENSE);
            continue;
        }
        assert_int_equal(rc, LM_OK);
        applied++;
        assert_int_equal(lm_arch_chain_parse(&as, g, n, &b), LM_OK);
        assert_int_equal(b.depth, a.depth);
        int moved = 0;
        for (int i = 0; i < a.depth; i++) {
            const lm_arch_layer *x = &a.layer[i], *y = &b.layer[i];
            assert_true(x->type == y->type && x->kernel == y->kernel && x->width == y->width &&
                        x->skip == y->skip);
            if (x->stride != y->stride) {
                moved++;
                assert_true(x->type != LM_ARCH_LAYER_IDENTITY && x->type != LM_ARCH_LAYER_DENSE);
            }
        }
        assert_int_equal(moved, 1);
        int diff = 0;
        for (size_t i = 0; i < n; i++) diff += before[i] != g[i];
        assert_int_equal(diff, 1);
    }
    assert_true(applied > 1500);
    as.n_strides = 1;
    int32_t g[GMAX];
    assert_int_equal(lm_arch_chain_random(&as, &rng, g, n), LM_OK);
    assert_int_equal(lm_arch_chain_change_stride(&as, &rng, g, n), LM_ARCH_NOT_APPLICABLE);
}

static void test_add_remove_layer_semantics(void **state) {
    (void)state;
    lm_arch_space as;
    make_space(0, &as);
    as.min_depth = 1;
    size_t n = lm_arch_genome_size(&as);
    lm_rng rng;
    lm_rng_init(&rng, 13, 0, 0);
    for (int t = 0; t < 2000; t++) {
        int32_t g[GMAX];
        assert_int_equal(lm_arch_chain_random(&as, &rng, g, n), LM_OK);
        int d = g[0];
        int rc = lm_arch_chain_add_layer(&as, &rng, g, n);
        if (d == as.max_depth) {
            assert_int_equal(rc, LM_ARCH_NOT_APPLICABLE);
        } else {
            assert_int_equal(rc, LM_OK);
            assert_int_equal(g[0], d + 1);
        }
        d = g[0];
        rc = lm_arch_chain_remove_layer(&as, &rng, g, n);
        assert_int_equal(rc, LM_OK);
        assert_int_equal(g[0], d - 1);
    }
    /* A lone layer cannot be removed at min_depth 1. */
    int32_t g[GMAX] = {0};
    g[0] = 1;
    assert_int_equal(lm_arch_chain_remove_layer(&as, &rng, g, n), LM_ARCH_NOT_APPLICABLE);
}

static void test_crossover(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 14, 0, 0);
    for (int which = 0; which < 3; which++) {
        lm_arch_space as;
        make_space(which, &as);
        size_t n = lm_arch_genome_size(&as);
        for (int t = 0; t < 10000; t++) {
            int32_t a[GMAX], b[GMAX], c[GMAX];
            assert_int_equal(lm_arch_chain_random(&as, &rng, a, n), LM_OK);
            assert_int_equal(lm_arch_chain_random(&as, &rng, b, n), LM_OK);
            int uniform = t % 2;
            assert_int_equal(lm_arch_chain_crossover(&as, &rng, uniform, a, b, c, n), LM_OK);
            assert_int_equal(lm_arch_chain_check(&as, c, n), LM_OK);
            if (t % 20 == 0) check_decodes(&as, c, n);
        }
        /* Crossing a genome with itself gives it back. */
        int32_t a[GMAX], c[GMAX];
        assert_int_equal(lm_arch_chain_random(&as, &rng, a, n), LM_OK);
        for (int u = 0; u < 2; u++) {
            assert_int_equal(lm_arch_chain_crossover(&as, &rng, u, a, a, c, n), LM_OK);
            assert_memory_equal(a, c, n * sizeof *a);
        }
    }
}

/* Zeroes the slots past the depth, the canonical form encode writes. */
static void canonical_inactive(const lm_arch_space *as, int32_t *g, size_t n) {
    size_t per = (n - 1) / (size_t)as->max_depth;
    for (size_t i = 1 + (size_t)g[0] * per; i < n; i++) g[i] = 0;
}

static void test_round_trip(void **state) {
    (void)state;
    lm_rng rng;
    lm_rng_init(&rng, 15, 0, 0);
    for (int which = 0; which < 3; which++) {
        lm_arch_space as;
        make_space(which, &as);
        size_t n = lm_arch_genome_size(&as);
        for (int t = 0; t < 2000; t++) {
            int32_t g[GMAX], h[GMAX];
            lm_arch_chain c, d;
            assert_int_equal(lm_arch_chain_random(&as, &rng, g, n), LM_OK);
            canonical_inactive(&as, g, n);
            assert_int_equal(lm_arch_chain_parse(&as, g, n, &c), LM_OK);
            assert_int_equal(lm_arch_chain_encode(&as, &c, h, n), LM_OK);
            assert_memory_equal(g, h, n * sizeof *g);
            assert_int_equal(lm_arch_chain_parse(&as, h, n, &d), LM_OK);
            assert_memory_equal(&c, &d, sizeof c);
        }
    }
    /* A structure with a value outside the allowed lists is refused. */
    lm_arch_space as;
    make_space(0, &as);
    size_t n = lm_arch_genome_size(&as);
    lm_arch_chain c = {.depth = 2};
    c.layer[0] = (lm_arch_layer){LM_ARCH_LAYER_CONV, 3, 16, 1, 0};
    c.layer[1] = (lm_arch_layer){LM_ARCH_LAYER_CONV, 3, 24, 1, 0};
    int32_t g[GMAX];
    expect_error(lm_arch_chain_encode(&as, &c, g, n), LM_EINVAL, "width 24");
}

static void hash_of(const lm_arch_space *as, const lm_arch_chain *c, uint64_t *h) {
    int32_t g[GMAX];
    size_t n = lm_arch_genome_size(as);
    assert_int_equal(lm_arch_chain_encode(as, c, g, n), LM_OK);
    assert_int_equal(lm_arch_chain_hash(as, g, n, h), LM_OK);
}

static void test_hash(void **state) {
    (void)state;
    lm_arch_space as;
    make_space(0, &as);
    as.min_depth = 1;
    size_t n = lm_arch_genome_size(&as);
    lm_rng rng;
    lm_rng_init(&rng, 16, 0, 0);
    /* Inactive slots do not matter. */
    for (int t = 0; t < 500; t++) {
        int32_t g[GMAX], h[GMAX];
        uint64_t a, b;
        assert_int_equal(lm_arch_chain_random(&as, &rng, g, n), LM_OK);
        assert_int_equal(lm_arch_chain_random(&as, &rng, h, n), LM_OK);
        size_t per = (n - 1) / (size_t)as.max_depth;
        memcpy(h, g, (1 + (size_t)g[0] * per) * sizeof *g);
        assert_int_equal(lm_arch_chain_repair(&as, h, n), LM_OK);
        assert_int_equal(lm_arch_chain_hash(&as, g, n, &a), LM_OK);
        assert_int_equal(lm_arch_chain_hash(&as, h, n, &b), LM_OK);
        assert_true(a == b);
    }
    uint64_t h1, h2, h3, h4;
    lm_arch_chain c = {.depth = 2};
    c.layer[0] = (lm_arch_layer){LM_ARCH_LAYER_CONV, 3, 32, 1, 0};
    c.layer[1] = (lm_arch_layer){LM_ARCH_LAYER_DENSE, 3, 64, 1, 0};
    hash_of(&as, &c, &h1);
    c.layer[1].kernel = 5; /* ignored by dense */
    c.layer[1].stride = 2;
    hash_of(&as, &c, &h2);
    assert_true(h1 == h2);
    c.layer[1].width = 128; /* used by dense */
    hash_of(&as, &c, &h3);
    assert_true(h3 != h1);
    /* An identity layer without skips changes nothing. */
    lm_arch_chain d = c;
    d.depth = 3;
    d.layer[2] = d.layer[1];
    d.layer[1] = (lm_arch_layer){LM_ARCH_LAYER_IDENTITY, 5, 16, 2, 0};
    hash_of(&as, &d, &h4);
    assert_true(h4 == h3);
    /* A skip changes the network. */
    d.layer[2].skip = 1;
    hash_of(&as, &d, &h4);
    assert_true(h4 != h3);
    /* Pool width is ignored. */
    c.layer[0] = (lm_arch_layer){LM_ARCH_LAYER_MAX_POOL, 3, 16, 2, 0};
    hash_of(&as, &c, &h1);
    c.layer[0].width = 128;
    hash_of(&as, &c, &h2);
    assert_true(h1 == h2);

    /* Over random genomes, equal hashes mean equal networks (same cost and node
     * count) and different costs mean different hashes; short chains repeat (about
     * 14% of draws here are networks drawn before). */
    enum { M = 1500 };
    static uint64_t hs[M];
    static int64_t ps[M], fs[M];
    static int nn[M];
    for (int t = 0; t < M; t++) {
        int32_t g[GMAX];
        lm_arch_net net;
        assert_int_equal(lm_arch_chain_random(&as, &rng, g, n), LM_OK);
        assert_int_equal(lm_arch_chain_hash(&as, g, n, &hs[t]), LM_OK);
        assert_int_equal(lm_arch_chain_decode(&as, g, n, &net), LM_OK);
        ps[t] = net.params;
        fs[t] = net.flops;
        nn[t] = net.n_nodes;
        lm_arch_net_fini(&net);
    }
    int distinct = 0;
    for (int i = 0; i < M; i++) {
        int first = 1;
        for (int j = 0; j < i; j++) {
            if (hs[i] == hs[j]) {
                first = 0;
                assert_true(ps[i] == ps[j] && fs[i] == fs[j] && nn[i] == nn[j]);
            }
            if (ps[i] != ps[j] || fs[i] != fs[j]) assert_true(hs[i] != hs[j]);
        }
        distinct += first;
    }
    if (distinct <= M * 8 / 10) fail_msg("distinct %d of %d", distinct, M);
}

static void test_rejections(void **state) {
    (void)state;
    lm_arch_space as;
    make_space(1, &as); /* 3 stages, concat */
    size_t n = lm_arch_genome_size(&as);
    lm_arch_chain c = {.depth = 3};
    for (int i = 0; i < 3; i++) c.layer[i] = (lm_arch_layer){LM_ARCH_LAYER_CONV, 3, 16, 1, 0};
    int32_t g[GMAX];
    assert_int_equal(lm_arch_chain_encode(&as, &c, g, n), LM_OK);
    /* layer 2 skipping from layer 0 crosses from stage 2 to stage 3 */
    c.layer[2].skip = 2;
    expect_error(lm_arch_chain_encode(&as, &c, g, n), LM_EINVAL, "outside its stage");
    c.layer[2].skip = 0;
    c.layer[1].type = LM_ARCH_LAYER_DENSE;
    expect_error(lm_arch_chain_encode(&as, &c, g, n), LM_EINVAL, "dense in stage 2 of 3");
    make_space(0, &as);
    n = lm_arch_genome_size(&as);
    c.layer[1].type = LM_ARCH_LAYER_DENSE;
    expect_error(lm_arch_chain_encode(&as, &c, g, n), LM_EINVAL,
                 "layer 2 is conv after the dense layer 1");
    c.layer[2].type = LM_ARCH_LAYER_DENSE;
    c.layer[2].skip = 1; /* from the chain input: across the flattening */
    expect_error(lm_arch_chain_encode(&as, &c, g, n), LM_EINVAL, "across the dense flattening");
    c.layer[2].skip = 0;
    assert_int_equal(lm_arch_chain_encode(&as, &c, g, n), LM_OK);
    g[0] = 9;
    expect_error(lm_arch_chain_check(&as, g, n), LM_EINVAL, "depth (gene 0) is 9, expected 2..8");
    g[0] = 3;
    g[1 + 5 * 1 + 2] = 4; /* layer 1 width index */
    expect_error(lm_arch_chain_check(&as, g, n), LM_EINVAL, "arch.l1.width) is 4, expected 0..3");
    expect_error(lm_arch_chain_check(&as, g, n - 1), LM_EINVAL, "length 40, expected 41");
    /* Repair maps that genome to a valid one: the width clamped. */
    assert_int_equal(lm_arch_chain_repair(&as, g, n), LM_OK);
    assert_int_equal(g[1 + 5 * 1 + 2], 3);
    lm_arch_space bad = as;
    bad.max_depth = 11;
    expect_error(lm_arch_chain_check(&bad, g, n), LM_EINVAL, "min_depth <= max_depth <= 10");
}

/* Hand counts on two small genomes. */
static void test_cost_by_hand(void **state) {
    (void)state;
    /* Chain: stem conv 3x3 x2 on 1x4x4; l0 conv 3x3 x4 stride 2; l1 conv 3x3 x4 with an
     * add skip from the stem output, projected by a 1x1 conv of stride 2 to 4 channels. */
    lm_arch_space as;
    lm_arch_space_default(&as, LM_ARCH_CHAIN);
    as.min_depth = 1;
    as.max_depth = 3;
    as.n_kernels = 1;
    as.kernels[0] = 3;
    as.n_widths = 2;
    as.widths[0] = 4;
    as.widths[1] = 8;
    as.stem_filters = 2;
    with_shape(&as, 1, 4, 4, 3);
    size_t n = lm_arch_genome_size(&as);
    lm_arch_chain c = {.depth = 2};
    c.layer[0] = (lm_arch_layer){LM_ARCH_LAYER_CONV, 3, 4, 2, 0};
    c.layer[1] = (lm_arch_layer){LM_ARCH_LAYER_CONV, 3, 4, 1, 1};
    int32_t g[GMAX];
    assert_int_equal(lm_arch_chain_encode(&as, &c, g, n), LM_OK);
    lm_arch_net net;
    assert_int_equal(lm_arch_chain_decode(&as, g, n, &net), LM_OK);
    check_net_shapes(&net, 3);
    /* input, stem, l0, projection, add, l1, gap, dense */
    assert_int_equal(net.n_nodes, 8);
    assert_int_equal(net.nodes[3].kind, LM_ARCH_NODE_CONV);
    assert_int_equal(net.nodes[3].kh, 1);
    assert_int_equal(net.nodes[3].stride, 2);
    assert_int_equal(net.nodes[4].kind, LM_ARCH_NODE_ADD);
    /* stem 9*1*2+2, l0 9*2*4+4, projection 2*4+4, l1 9*4*4+4, dense 4*3+3 */
    assert_int_equal(net.params, 20 + 76 + 12 + 148 + 15);
    /* stem 9*2*16, l0 9*2*4*4, projection 2*4*4, add 4*4, l1 9*4*4*4, gap 4*4, dense 12 */
    assert_int_equal(net.flops, 288 + 288 + 32 + 16 + 576 + 16 + 12);
    lm_arch_net_fini(&net);

    /* MLP on 3x2x2 inputs (12 features, flattened): dense 5, dense 5, classifier 3. */
    lm_arch_space_default(&as, LM_ARCH_MLP);
    as.n_widths = 1;
    as.widths[0] = 5;
    with_shape(&as, 3, 2, 2, 3);
    n = lm_arch_genome_size(&as);
    c.depth = 2;
    c.layer[0] = (lm_arch_layer){LM_ARCH_LAYER_DENSE, 0, 5, 1, 0};
    c.layer[1] = c.layer[0];
    assert_int_equal(lm_arch_chain_encode(&as, &c, g, n), LM_OK);
    assert_int_equal(lm_arch_chain_decode(&as, g, n, &net), LM_OK);
    check_net_shapes(&net, 3);
    assert_int_equal(net.n_nodes, 4); /* no global pooling after a dense layer */
    assert_int_equal(net.params, (12 * 5 + 5) + (5 * 5 + 5) + (5 * 3 + 3));
    assert_int_equal(net.flops, 60 + 25 + 15);
    lm_arch_net_fini(&net);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_and_repair),
        cmocka_unit_test(test_operators_valid),
        cmocka_unit_test(test_change_stride),
        cmocka_unit_test(test_add_remove_layer_semantics),
        cmocka_unit_test(test_crossover),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_cost_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
