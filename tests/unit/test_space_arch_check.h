/* Test helper: the shape rules every decoded lm_arch_net must follow (include after
 * cmocka.h). */
#ifndef LAMARCK_TEST_ARCH_NET_CHECK_H
#define LAMARCK_TEST_ARCH_NET_CHECK_H

#include "lamarck/arch.h"

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* Every node reads earlier nodes only, and its output shape follows from its inputs
 * as arch.h documents for its kind; the last node is the classifier; the stored
 * params and FLOPs are those of lm_arch_net_cost. */
static void check_net_shapes(const lm_arch_net *net, int n_classes) {
    assert_true(net->n_nodes >= 3);
    assert_int_equal(net->nodes[0].kind, LM_ARCH_NODE_INPUT);
    assert_int_equal(net->nodes[0].n_in, 0);
    for (int i = 1; i < net->n_nodes; i++) {
        const lm_arch_node *nd = &net->nodes[i];
        assert_true(nd->n_in >= 1 && nd->n_in <= LM_ARCH_MAX_INPUTS);
        for (int j = 0; j < nd->n_in; j++) assert_true(nd->in[j] >= 0 && nd->in[j] < i);
        assert_true(nd->c >= 1 && nd->h >= 1 && nd->w >= 1);
        const lm_arch_node *s = &net->nodes[nd->in[0]];
        int sum_c = 0;
        switch (nd->kind) {
        case LM_ARCH_NODE_CONV:
        case LM_ARCH_NODE_SEP_CONV:
        case LM_ARCH_NODE_MAX_POOL:
        case LM_ARCH_NODE_AVG_POOL:
            assert_int_equal(nd->n_in, 1);
            assert_true(nd->kh >= 1 && nd->kw >= 1 && nd->stride >= 1 && nd->dilation >= 1);
            assert_int_equal(nd->h, ceil_div(s->h, nd->stride));
            assert_int_equal(nd->w, ceil_div(s->w, nd->stride));
            if (nd->kind == LM_ARCH_NODE_MAX_POOL || nd->kind == LM_ARCH_NODE_AVG_POOL)
                assert_int_equal(nd->c, s->c);
            break;
        case LM_ARCH_NODE_IDENTITY:
            assert_int_equal(nd->n_in, 1);
            assert_true(nd->c == s->c && nd->h == s->h && nd->w == s->w);
            break;
        case LM_ARCH_NODE_ADD:
            assert_true(nd->n_in >= 2);
            for (int j = 0; j < nd->n_in; j++) {
                const lm_arch_node *t = &net->nodes[nd->in[j]];
                assert_true(t->c == nd->c && t->h == nd->h && t->w == nd->w);
            }
            break;
        case LM_ARCH_NODE_CONCAT:
            for (int j = 0; j < nd->n_in; j++) {
                const lm_arch_node *t = &net->nodes[nd->in[j]];
                assert_true(t->h == nd->h && t->w == nd->w);
                sum_c += t->c;
            }
            assert_int_equal(nd->c, sum_c);
            break;
        case LM_ARCH_NODE_GLOBAL_AVG_POOL:
            assert_int_equal(nd->n_in, 1);
            assert_true(nd->c == s->c && nd->h == 1 && nd->w == 1);
            break;
        case LM_ARCH_NODE_DENSE:
            assert_int_equal(nd->n_in, 1);
            assert_true(nd->h == 1 && nd->w == 1);
            break;
        default:
            fail_msg("node %d has kind %d", i, (int)nd->kind);
        }
    }
    const lm_arch_node *last = &net->nodes[net->n_nodes - 1];
    assert_int_equal(last->kind, LM_ARCH_NODE_DENSE);
    assert_int_equal(last->c, n_classes);
    int64_t p, f;
    assert_int_equal(lm_arch_net_cost(net, &p, &f), LM_OK);
    assert_true(p == net->params && f == net->flops && p > 0 && f > 0);
}

#endif
