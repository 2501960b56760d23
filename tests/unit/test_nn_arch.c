/* Unit tests of architecture translation (lm_net_from_arch): hand-built node lists of
 * every kind and decoded NASNet cells translate into descriptions whose parameter
 * counts are lm_arch_net_cost's plus the batch normalizations', and train on digits;
 * rectangular convolutions against a direct loop (values and weight gradients);
 * translation errors; lm_net_latency. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lamarck/arch.h"
#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "lamarck/rng.h"
#include "nn/graph.h"
#include "nn/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- node lists by hand ---- */

enum { MAX_NODES = 64 };

typedef struct arch {
    lm_arch_node nodes[MAX_NODES];
    lm_arch_net net;
} arch;

static void arch_input(arch *a, int c, int h, int w) {
    memset(a, 0, sizeof *a);
    a->net.nodes = a->nodes;
    a->nodes[0] = (lm_arch_node){.kind = LM_ARCH_NODE_INPUT, .c = c, .h = h, .w = w};
    a->net.n_nodes = 1;
}

/* Appends a node with the decoder's shape rules: "same" padding, out = ceil(in /
 * stride); c 0 keeps the input's channels. Returns its index. */
static int node(arch *a, lm_arch_node_kind kind, const int *in, int n_in, int c, int kh, int kw,
                int stride, int dil) {
    assert_true(a->net.n_nodes < MAX_NODES);
    lm_arch_node *nd = &a->nodes[a->net.n_nodes];
    const lm_arch_node *src = &a->nodes[in[0]];
    int s = stride > 0 ? stride : 1;
    *nd = (lm_arch_node){.kind = kind, .n_in = n_in, .kh = kh, .kw = kw, .stride = stride,
                         .dilation = dil, .c = c ? c : src->c, .h = (src->h + s - 1) / s,
                         .w = (src->w + s - 1) / s};
    memcpy(nd->in, in, (size_t)n_in * sizeof *in);
    if (kind == LM_ARCH_NODE_CONCAT) {
        nd->c = 0;
        for (int j = 0; j < n_in; j++) nd->c += a->nodes[in[j]].c;
    }
    if (kind == LM_ARCH_NODE_GLOBAL_AVG_POOL || kind == LM_ARCH_NODE_DENSE) nd->h = nd->w = 1;
    return a->net.n_nodes++;
}

static int one(arch *a, lm_arch_node_kind kind, int in, int c, int kh, int kw, int stride, int dil) {
    return node(a, kind, &in, 1, c, kh, kw, stride, dil);
}

/* 2 parameters (scale, shift) per channel of the batch normalization that follows
 * every convolution node. */
static long bn_params(const lm_arch_net *an) {
    long n = 0;
    for (int i = 0; i < an->n_nodes; i++)
        if (an->nodes[i].kind == LM_ARCH_NODE_CONV || an->nodes[i].kind == LM_ARCH_NODE_SEP_CONV)
            n += 2L * an->nodes[i].c;
    return n;
}

/* Every kind on a digits-shaped input: conv, separable, dilated, 1x7 then 7x1, a sum
 * of three, pools of stride 2, identity, a sum and a concatenation of five, global
 * pooling, a hidden dense layer and the classifier. */
static void every_kind(arch *a) {
    arch_input(a, 1, 8, 8);
    int c1 = one(a, LM_ARCH_NODE_CONV, 0, 8, 3, 3, 1, 1);
    int sp = one(a, LM_ARCH_NODE_SEP_CONV, c1, 8, 3, 3, 1, 1);
    int dl = one(a, LM_ARCH_NODE_CONV, c1, 8, 3, 3, 1, 2);
    int r17 = one(a, LM_ARCH_NODE_CONV, c1, 8, 1, 7, 1, 1);
    int r71 = one(a, LM_ARCH_NODE_CONV, r17, 8, 7, 1, 1, 1);
    int s3[] = {sp, dl, r71};
    int add3 = node(a, LM_ARCH_NODE_ADD, s3, 3, 8, 0, 0, 0, 0);
    int mp = one(a, LM_ARCH_NODE_MAX_POOL, add3, 8, 3, 3, 2, 1);
    int ap = one(a, LM_ARCH_NODE_AVG_POOL, c1, 8, 3, 3, 2, 1);
    int id = one(a, LM_ARCH_NODE_IDENTITY, mp, 8, 0, 0, 0, 0);
    int pr = one(a, LM_ARCH_NODE_CONV, add3, 8, 1, 1, 2, 1);
    int s5 = one(a, LM_ARCH_NODE_SEP_CONV, add3, 8, 5, 5, 2, 1);
    int five[] = {mp, ap, id, pr, s5};
    int cat = node(a, LM_ARCH_NODE_CONCAT, five, 5, 0, 0, 0, 0, 0);
    int sum = node(a, LM_ARCH_NODE_ADD, five, 5, 8, 0, 0, 0, 0);
    int two[] = {cat, sum};
    int cat2 = node(a, LM_ARCH_NODE_CONCAT, two, 2, 0, 0, 0, 0, 0);
    int gp = one(a, LM_ARCH_NODE_GLOBAL_AVG_POOL, cat2, 0, 0, 0, 0, 0);
    int hd = one(a, LM_ARCH_NODE_DENSE, gp, 32, 0, 0, 0, 0);
    one(a, LM_ARCH_NODE_DENSE, hd, 10, 0, 0, 0, 0);
    assert_int_equal(a->nodes[cat].c, 40);
    assert_int_equal(a->nodes[mp].h, 4);
}

/* Translates an and checks the parameter count against lm_arch_net_cost. */
static void translate_and_count(const lm_arch_net *an, lm_layer_desc *layers, int cap,
                                lm_net_desc *d) {
    int n = -1;
    int rc = lm_net_from_arch(an, layers, cap, &n, d);
    if (rc < 0) fail_msg("translation: %s", lm_error_message());
    assert_int_equal(n, d->n_layers);
    assert_ptr_equal(d->layers, layers);
    int64_t ap, af;
    assert_int_equal(lm_arch_net_cost(an, &ap, &af), LM_OK);
    long np = -1;
    double fl = 0;
    rc = lm_net_check(d, &np, &fl);
    if (rc < 0) fail_msg("check: %s", lm_error_message());
    assert_int_equal(np, (long)ap + bn_params(an));
    assert_true(fl > 0);
}

static void test_every_kind(void **state) {
    (void)state;
    arch a;
    every_kind(&a);
    lm_layer_desc L[3 * MAX_NODES];
    lm_net_desc d;
    translate_and_count(&a.net, L, 3 * MAX_NODES, &d);
    assert_int_equal(d.in_c, 1);
    assert_int_equal(d.in_h, 8);
    assert_int_equal(d.in_w, 8);
    assert_int_equal(d.n_classes, 10);
    /* conv, BN, ReLU x 7 convolution nodes + 9 others (the classifier dropped) */
    assert_int_equal(d.n_layers, 7 * 3 + 9);
    /* Node 1: conv + BN + ReLU reading the input. */
    assert_int_equal(L[0].op, LM_OP_CONV);
    assert_int_equal(L[0].inputs[0], -1);
    assert_int_equal(L[1].op, LM_OP_BATCHNORM);
    assert_int_equal(L[2].op, LM_OP_RELU);
    /* Node 4, the 1x7 convolution, and node 5, the 7x1. */
    assert_int_equal(L[9].op, LM_OP_CONV);
    assert_int_equal(L[9].kernel, 1);
    assert_int_equal(L[9].kernel_w, 7);
    assert_int_equal(L[12].kernel, 7);
    assert_int_equal(L[12].kernel_w, 1);
    assert_int_equal(L[12].inputs[0], 11);
    /* Node 6 sums the ReLUs of nodes 2, 3 and 5. */
    assert_int_equal(L[15].op, LM_OP_ADD);
    assert_int_equal(L[15].n_inputs, 3);
    assert_int_equal(L[15].inputs[0], 5);
    assert_int_equal(L[15].inputs[1], 8);
    assert_int_equal(L[15].inputs[2], 14);
    assert_int_equal(L[d.n_layers - 1].op, LM_OP_DENSE);
    assert_int_equal(L[d.n_layers - 1].relu, 1);
}

/* A cell whose five blocks all read the cell inputs, so every block is concatenated
 * (a concat of five) and both input projections are used; every operation appears. */
static void five_block_cell(lm_arch_cell *c) {
    static const int ops[5][2] = {{LM_ARCH_OP_SEP3, LM_ARCH_OP_CONV17_71},
                                  {LM_ARCH_OP_DIL3, LM_ARCH_OP_MAX3},
                                  {LM_ARCH_OP_AVG3, LM_ARCH_OP_IDENTITY},
                                  {LM_ARCH_OP_SEP5, LM_ARCH_OP_SEP7},
                                  {LM_ARCH_OP_IDENTITY, LM_ARCH_OP_AVG3}};
    memset(c, 0, sizeof *c);
    c->n_blocks = 5;
    for (int b = 0; b < 5; b++) {
        c->in[b][0] = 0;
        c->in[b][1] = 1;
        c->op[b][0] = ops[b][0];
        c->op[b][1] = ops[b][1];
    }
}

static void decoded_cells(lm_arch_net *an, int filters) {
    lm_arch_cell n, r;
    five_block_cell(&n);
    five_block_cell(&r);
    int32_t g[40];
    assert_int_equal(lm_arch_cell_encode(&n, &r, g, 40), LM_OK);
    int rc = lm_arch_cell_decode(g, 5, 1, filters, 2, 1, 8, 8, 10, an);
    if (rc < 0) fail_msg("decode: %s", lm_error_message());
}

static void test_decoded_cells(void **state) {
    (void)state;
    lm_arch_net an;
    decoded_cells(&an, 8);
    int cap = 3 * an.n_nodes;
    lm_layer_desc *L = calloc((size_t)cap, sizeof *L);
    assert_non_null(L);
    lm_net_desc d;
    translate_and_count(&an, L, cap, &d);
    int concat5 = 0, rect = 0;
    for (int i = 0; i < d.n_layers; i++) {
        concat5 += L[i].op == LM_OP_CONCAT && L[i].n_inputs == 5;
        rect += L[i].op == LM_OP_CONV && L[i].kernel_w && L[i].kernel_w != L[i].kernel;
    }
    assert_int_equal(concat5, 3); /* normal, reduction, normal */
    assert_int_equal(rect, 6);    /* a 1x7 and a 7x1 per cell */
    /* Too small a capacity is an error naming it. */
    int n;
    assert_int_equal(lm_net_from_arch(&an, L, 10, &n, &d), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "capacity"));
    lm_error_clear();
    free(L);
    lm_arch_net_fini(&an);
}

/* ---- translation errors ---- */

static void expect_error(const lm_arch_net *an, const char *what) {
    lm_layer_desc L[3 * MAX_NODES];
    lm_net_desc d;
    int n;
    assert_int_equal(lm_net_from_arch(an, L, 3 * MAX_NODES, &n, &d), LM_EINVAL);
    if (!strstr(lm_error_message(), what))
        fail_msg("expected '%s' in: %s", what, lm_error_message());
    lm_error_clear();
}

static void test_errors(void **state) {
    (void)state;
    arch a;
    arch_input(&a, 1, 8, 8);
    one(&a, LM_ARCH_NODE_CONV, 0, 4, 3, 3, 1, 1);
    one(&a, LM_ARCH_NODE_GLOBAL_AVG_POOL, 1, 0, 0, 0, 0, 0);
    expect_error(&a.net, "must be the dense classifier");

    /* A sum of different shapes: the engine would add a projection. */
    arch_input(&a, 1, 8, 8);
    int x = one(&a, LM_ARCH_NODE_CONV, 0, 4, 3, 3, 1, 1);
    int y = one(&a, LM_ARCH_NODE_CONV, 0, 4, 3, 3, 2, 1);
    int xy[] = {x, y};
    int s = node(&a, LM_ARCH_NODE_ADD, xy, 2, 4, 0, 0, 0, 0);
    one(&a, LM_ARCH_NODE_DENSE, s, 10, 0, 0, 0, 0);
    expect_error(&a.net, "node 3 (add): input 1 (node 2) is 4 x 4 x 4");

    /* A node whose stated shape is not what its translation computes: an even kernel
     * at stride 1 cannot keep 8 x 8 with symmetric padding. */
    arch_input(&a, 1, 8, 8);
    x = one(&a, LM_ARCH_NODE_MAX_POOL, 0, 0, 2, 2, 1, 1);
    one(&a, LM_ARCH_NODE_DENSE, x, 10, 0, 0, 0, 0);
    expect_error(&a.net, "node 1 (max_pool) is 1 x 8 x 8, but its translation computes 1 x 9 x 9");

    /* An input index that is not earlier. */
    arch_input(&a, 1, 8, 8);
    x = one(&a, LM_ARCH_NODE_CONV, 0, 4, 3, 3, 1, 1);
    a.nodes[x].in[0] = 1;
    one(&a, LM_ARCH_NODE_DENSE, x, 10, 0, 0, 0, 0);
    expect_error(&a.net, "node 1 (conv): input 0 is node 1, expected 0 to 0");

    /* Node 0 must be the input. */
    arch_input(&a, 1, 8, 8);
    one(&a, LM_ARCH_NODE_DENSE, 0, 10, 0, 0, 0, 0);
    a.nodes[0].kind = LM_ARCH_NODE_IDENTITY;
    expect_error(&a.net, "node 0 must be the input");

    /* Too many inputs for a layer. */
    arch_input(&a, 1, 8, 8);
    int many[LM_ARCH_MAX_INPUTS];
    for (int j = 0; j < LM_ARCH_MAX_INPUTS; j++) many[j] = 0;
    x = node(&a, LM_ARCH_NODE_CONCAT, many, LM_ARCH_MAX_INPUTS, 0, 0, 0, 0, 0);
    one(&a, LM_ARCH_NODE_DENSE, x, 10, 0, 0, 0, 0);
    a.nodes[x].n_in = LM_ARCH_MAX_INPUTS + 1;
    expect_error(&a.net, "inputs (1 to");
}

/* A classifier reading a node other than the last gets an identity in front; a
 * concatenation of 16 inputs (the limit) builds. */
static void test_classifier_input(void **state) {
    (void)state;
    arch a;
    arch_input(&a, 1, 8, 8);
    int x = one(&a, LM_ARCH_NODE_CONV, 0, 2, 3, 3, 1, 1);
    int many[16];
    for (int j = 0; j < 16; j++) many[j] = x;
    int cat = node(&a, LM_ARCH_NODE_CONCAT, many, 16, 0, 0, 0, 0, 0);
    int gp = one(&a, LM_ARCH_NODE_GLOBAL_AVG_POOL, cat, 0, 0, 0, 0, 0);
    one(&a, LM_ARCH_NODE_MAX_POOL, cat, 0, 3, 3, 1, 1); /* never read by the classifier */
    one(&a, LM_ARCH_NODE_DENSE, gp, 10, 0, 0, 0, 0);
    lm_layer_desc L[3 * MAX_NODES];
    lm_net_desc d;
    int n;
    int rc = lm_net_from_arch(&a.net, L, 3 * MAX_NODES, &n, &d);
    if (rc < 0) fail_msg("%s", lm_error_message());
    assert_int_equal(L[n - 1].op, LM_OP_IDENTITY);
    assert_int_equal(L[n - 1].inputs[0], n - 3);
    long np;
    assert_int_equal(lm_net_check(&d, &np, NULL), LM_OK);
    /* conv 2 x 9 + 2, BN 4, classifier 32 x 10 + 10 */
    assert_int_equal(np, 20 + 4 + 330);
}

/* ---- rectangular convolutions against a direct loop ---- */

static void rect_case(int ic, int oc, int h, int w, int kh, int kw, int stride, int dil) {
    enum { N = 2 };
    lm_layer_desc L[] = {{.op = LM_OP_CONV, .out_channels = oc, .kernel = kh, .kernel_w = kw,
                          .stride = stride, .dilation = dil, .padding = -1}};
    lm_net_desc d = {L, 1, ic, h, w, 3};
    lm__net *net;
    assert_int_equal(lm__net_from_desc(&d, 0.0, &net), LM_OK);
    assert_int_equal(lm__net_finish(net, N, 0, 3, 4), LM_OK);
    const lm__layer *l = &net->layers[0];
    lm__shape os = net->tensors[1].shape;
    int ph = dil * (kh - 1) / 2, pw = dil * (kw - 1) / 2;
    assert_int_equal(os.h, (h + stride - 1) / stride);
    assert_int_equal(os.w, (w + stride - 1) / stride);
    assert_int_equal(l->n_w, (int64_t)oc * ic * kh * kw);
    int64_t nx = (int64_t)N * ic * h * w, no = (int64_t)N * oc * os.h * os.w;
    float *x = malloc((size_t)nx * sizeof *x), *y = malloc((size_t)no * sizeof *y);
    float *dy = malloc((size_t)no * sizeof *dy);
    assert_true(x && y && dy);
    lm_rng r;
    lm_rng_init(&r, 11, 0, 0);
    for (int64_t i = 0; i < nx; i++) x[i] = (float)(2 * lm_rng_uniform(&r) - 1);
    for (int64_t i = 0; i < no; i++) dy[i] = (float)(2 * lm_rng_uniform(&r) - 1);
    assert_int_equal(lm__net_forward(net, x, N, 1), LM_OK);
    assert_int_equal(lm__net_read(net, 1, 0, N, y), LM_OK);
    /* The weight gradient of the loss sum(dy * y) through the conv alone. */
    assert_int_equal(lm__net_write(net, 1, 1, N, dy), LM_OK);
    assert_int_equal(l->ops->backward((lm__layer *)l, net, N), LM_OK);
    double *dw = calloc((size_t)l->n_w, sizeof *dw);
    assert_non_null(dw);
    for (int i = 0; i < N; i++)
        for (int o = 0; o < oc; o++)
            for (int oy = 0; oy < os.h; oy++)
                for (int ox = 0; ox < os.w; ox++) {
                    double s = l->b[o];
                    int64_t yi = (((int64_t)i * oc + o) * os.h + oy) * os.w + ox;
                    for (int q = 0; q < ic; q++)
                        for (int ky = 0; ky < kh; ky++)
                            for (int kx = 0; kx < kw; kx++) {
                                int iy = oy * stride - ph + ky * dil, ix = ox * stride - pw + kx * dil;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                int64_t wi = (((int64_t)o * ic + q) * kh + ky) * kw + kx;
                                double xv = x[(((int64_t)i * ic + q) * h + iy) * w + ix];
                                s += l->w[wi] * xv;
                                dw[wi] += dy[yi] * xv;
                            }
                    assert_float_equal(y[yi], s, 1e-4);
                }
    for (int64_t k = 0; k < l->n_w; k++) assert_float_equal(l->dw[k], dw[k], 1e-3);
    free(dw);
    free(x);
    free(y);
    free(dy);
    lm__net_destroy(&net);
}

static void test_rect_conv(void **state) {
    (void)state;
    rect_case(3, 5, 8, 8, 1, 7, 1, 1);
    rect_case(3, 5, 8, 8, 7, 1, 1, 1);
    rect_case(16, 16, 9, 7, 1, 3, 2, 1);
    rect_case(4, 6, 7, 9, 5, 3, 1, 2);
}

/* ---- training on digits ---- */

/* scikit-learn's digits, from the system or the project's unpacked copy. */
static int load_digits(lm_dataset *train, lm_dataset *val) {
    static const char *sys =
        "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
    char path[1024];
    const char *src = getenv("LAMARCK_SOURCE_DIR");
    FILE *f = fopen(sys, "rb");
    if (f) {
        fclose(f);
        snprintf(path, sizeof path, "%s", sys);
    } else {
        snprintf(path, sizeof path, "%s/.deps/sklearn%s", src ? src : ".", sys);
    }
    lm_dataset all;
    if (lm_data_import_digits(path, &all) < 0) {
        lm_error_clear();
        return 0;
    }
    assert_int_equal(lm_data_split_stratified(&all, 0.2, 1, train, val), LM_OK);
    lm_dataset_free(&all);
    return 1;
}

static void train_one_epoch(const lm_net_desc *d, const lm_dataset *train, const lm_dataset *val) {
    lm_train_params p;
    lm_train_params_default(&p);
    p.batch_size = 64;
    p.lr = 0.05;
    p.epochs = 1;
    lm_trainer *t;
    int rc = lm_trainer_create_from_desc(d, &p, train, val, 1, 2, &t);
    if (rc < 0) fail_msg("trainer: %s", lm_error_message());
    lm_epoch_stats s;
    assert_int_equal(lm_trainer_epoch(t, &s), LM_OK);
    assert_false(s.diverged);
    assert_true(isfinite(s.train_loss) && isfinite(s.val_loss));
    /* Chance is 10% (loss 2.30); one epoch of these networks does far better. */
    /* Chance is 10% and a loss of ln 10 = 2.30: one epoch (23 steps) gets below both;
     * the batch-normalized cells evaluate with running statistics still warming up. */
    assert_true(s.train_loss < 2.25);
    assert_true(s.val_loss < 2.25);
    assert_true(s.val_accuracy > 0.15);
    lm_trainer_destroy(&t);
}

static void test_train_digits(void **state) {
    (void)state;
    lm_dataset train, val;
    if (!load_digits(&train, &val)) skip();
    arch a;
    every_kind(&a);
    lm_layer_desc L[3 * MAX_NODES];
    lm_net_desc d;
    translate_and_count(&a.net, L, 3 * MAX_NODES, &d);
    train_one_epoch(&d, &train, &val);

    lm_arch_net an;
    decoded_cells(&an, 8);
    lm_layer_desc *C = calloc((size_t)(3 * an.n_nodes), sizeof *C);
    assert_non_null(C);
    translate_and_count(&an, C, 3 * an.n_nodes, &d);
    train_one_epoch(&d, &train, &val);
    free(C);
    lm_arch_net_fini(&an);
    lm_dataset_free(&train);
    lm_dataset_free(&val);
}

/* ---- latency ---- */

/* Every member of every family translates, on odd and even sizes (7 x 7 after two
 * reductions of 28 x 28 needs padded 2 x 2 pools), with at least the parameter count
 * the space computes (plus the batch-normalization scale and shift). */
static void test_families_translate(void **state) {
    (void)state;
    const lm_arch_family fams[] = {LM_ARCH_CHAIN, LM_ARCH_MLP, LM_ARCH_CELL, LM_ARCH_GCNN};
    const int sides[] = {28, 13, 8};
    lm_rng rng;
    lm_rng_init(&rng, 11, 0, 0);
    for (size_t f = 0; f < sizeof fams / sizeof *fams; f++)
        for (size_t z = 0; z < sizeof sides / sizeof *sides; z++) {
            lm_arch_space as;
            lm_arch_space_default(&as, fams[f]);
            if (fams[f] == LM_ARCH_CHAIN) as.stages = 2;
            if (fams[f] == LM_ARCH_CELL) as.blocks = 2, as.cells = 1, as.filters = 4;
            as.in_c = 1, as.in_h = as.in_w = sides[z], as.n_classes = 10;
            size_t n = lm_arch_genome_size(&as);
            int32_t g[64];
            assert_true(n <= 64);
            for (int k = 0; k < 60; k++) {
                assert_int_equal(lm_arch_random(&as, &rng, g, n), LM_OK);
                lm_arch_net an = {0};
                assert_int_equal(lm_arch_decode(&as, g, n, &an), LM_OK);
                int cap = 3 * an.n_nodes + 8, nl;
                lm_layer_desc *L = calloc((size_t)cap, sizeof *L);
                lm_net_desc d;
                if (lm_net_from_arch(&an, L, cap, &nl, &d) != LM_OK)
                    fail_msg("family %zu, %d x %d: %s", f, sides[z], sides[z], lm_error_message());
                long params;
                assert_int_equal(lm_net_check(&d, &params, NULL), LM_OK);
                /* A cell whose blocks never read h[i-1] or h[i-2] has a dead 1x1
                 * projection the engine drops, so only the other families match. */
                if (fams[f] != LM_ARCH_CELL && params < an.params)
                    fail_msg("family %zu: engine %ld parameters, space %lld", f, params,
                             (long long)an.params);
                free(L);
                lm_arch_net_fini(&an);
            }
        }
}

static void test_latency(void **state) {
    (void)state;
    lm_layer_desc tiny[] = {{.op = LM_OP_DENSE, .out_channels = 4, .relu = 1}};
    lm_layer_desc big[] = {
        {.op = LM_OP_CONV, .out_channels = 64, .kernel = 3, .padding = -1, .relu = 1},
        {.op = LM_OP_CONV, .out_channels = 64, .kernel = 3, .padding = -1, .relu = 1},
        {.op = LM_OP_CONV, .out_channels = 64, .kernel = 3, .padding = -1, .relu = 1},
    };
    lm_net_desc dt = {tiny, 1, 1, 28, 28, 10}, db = {big, 3, 1, 28, 28, 10};
    double st = 0, sb = 0;
    assert_int_equal(lm_net_latency(&dt, 16, 7, &st), LM_OK);
    assert_int_equal(lm_net_latency(&db, 16, 7, &sb), LM_OK);
    /* About 6 kFLOP against 120 MFLOP a sample. */
    assert_true(st > 0 && sb > 0);
    assert_true(sb > 5 * st);
    assert_int_equal(lm_net_latency(&dt, 0, 7, &st), LM_EINVAL);
    assert_int_equal(lm_net_latency(&dt, 16, 1001, &st), LM_EINVAL);
    lm_layer_desc bad[] = {{.op = LM_OP_CONV, .out_channels = 4, .kernel = 30, .padding = 0}};
    lm_net_desc dbad = {bad, 1, 1, 8, 8, 10};
    assert_int_equal(lm_net_latency(&dbad, 4, 3, &st), LM_EINVAL);
    lm_error_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind),       cmocka_unit_test(test_decoded_cells),
        cmocka_unit_test(test_errors),           cmocka_unit_test(test_classifier_input),
        cmocka_unit_test(test_rect_conv),        cmocka_unit_test(test_train_digits),
        cmocka_unit_test(test_latency),          cmocka_unit_test(test_families_translate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
