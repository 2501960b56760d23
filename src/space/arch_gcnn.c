/* Genetic-CNN space (Xie and Yuille 2017): a binary string per stage encodes which of
 * the stage's K nodes feed which; validation, repair, random strings, bit-flip
 * mutation, stage-wise crossover, hashing and decoding into a node list. */
#include "arch_internal.h"

#include <stdlib.h>
#include <string.h>

#include "lamarck/error.h"
#include "lamarck/hash.h"

/* Bits of one stage: K(K-1)/2, bit j*(j-1)/2 + i for the edge i -> j. */
static size_t stage_bits(int k) { return (size_t)k * (size_t)(k - 1) / 2; }

static size_t edge_bit(int i, int j) { return (size_t)j * (size_t)(j - 1) / 2 + (size_t)i; }

static int gcnn_genome(const lm_arch_space *as, const int32_t *g, size_t n) {
    LM_CHECK(as, LM_EINVAL, "gcnn genome: NULL space");
    LM_CHECK(as->family == LM_ARCH_GCNN, LM_EINVAL,
             "gcnn genome: the space's family (%d) is not gcnn", (int)as->family);
    LM_CALL(lm_arch_space_check(as));
    LM_CHECK(g, LM_EINVAL, "gcnn genome: NULL vector");
    size_t want = (size_t)as->stages * stage_bits(as->nodes);
    LM_CHECK(n == want, LM_EINVAL, "gcnn genome: length %zu, expected %zu (%d stages of %zu bits)",
             n, want, as->stages, stage_bits(as->nodes));
    return LM_OK;
}

int lm_arch_gcnn_check(const lm_arch_space *as, const int32_t *g, size_t n) {
    LM_CALL(gcnn_genome(as, g, n));
    size_t per = stage_bits(as->nodes);
    for (size_t b = 0; b < n; b++) {
        if (g[b] == 0 || g[b] == 1) continue;
        size_t r = b % per;
        int j = 1;
        while (edge_bit(0, j + 1) <= r) j++;
        LM_FAIL(LM_EINVAL, "gcnn genome: gene %zu (stage %zu, edge %d->%d) is %d, expected 0 or 1",
                b, b / per, (int)(r - edge_bit(0, j)), j, (int)g[b]);
    }
    return LM_OK;
}

int lm_arch_gcnn_repair(const lm_arch_space *as, int32_t *g, size_t n) {
    LM_CALL(gcnn_genome(as, g, n));
    for (size_t b = 0; b < n; b++) g[b] = g[b] <= 0 ? 0 : 1;
    return LM_OK;
}

int lm_arch_gcnn_random(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    LM_CALL(gcnn_genome(as, g, n));
    LM_CHECK(rng, LM_EINVAL, "gcnn genome: NULL rng");
    for (size_t b = 0; b < n; b++) g[b] = (int32_t)lm_rng_below(rng, 2);
    return LM_OK;
}

int lm_arch_gcnn_flip_edges(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    LM_CALL(lm_arch_gcnn_check(as, g, n));
    LM_CHECK(rng, LM_EINVAL, "gcnn mutation: NULL rng");
    int flipped = 0;
    for (size_t b = 0; b < n; b++)
        if (lm_rng_uniform(rng) < as->flip_prob) {
            g[b] ^= 1;
            flipped++;
        }
    /* Xie and Yuille flip each bit with probability q_M; a child equal to its parent
     * would waste a training run, so at least one bit changes. */
    if (!flipped) g[lm_rng_below(rng, n)] ^= 1;
    return LM_OK;
}

int lm_arch_gcnn_crossover(const lm_arch_space *as, lm_rng *rng, const int32_t *a,
                           const int32_t *b, int32_t *child, size_t n) {
    LM_CALL(lm_arch_gcnn_check(as, a, n));
    LM_CALL(lm_arch_gcnn_check(as, b, n));
    LM_CHECK(rng && child, LM_EINVAL, "gcnn crossover: NULL argument");
    size_t per = stage_bits(as->nodes);
    for (int s = 0; s < as->stages; s++) {
        const int32_t *src = lm_rng_below(rng, 2) ? b : a;
        memcpy(child + (size_t)s * per, src + (size_t)s * per, per * sizeof *child);
    }
    return LM_OK;
}

/* ---- one stage's graph ---- */

typedef struct {
    int k;
    int edge[LM_ARCH_GCNN_MAX_NODES][LM_ARCH_GCNN_MAX_NODES]; /* edge[i][j], i < j */
    int n_pred[LM_ARCH_GCNN_MAX_NODES], n_succ[LM_ARCH_GCNN_MAX_NODES];
    int n_active, n_edges;
} stage_graph;

static void read_stage(const int32_t *bits, int k, stage_graph *sg) {
    memset(sg, 0, sizeof *sg);
    sg->k = k;
    for (int j = 1; j < k; j++)
        for (int i = 0; i < j; i++)
            if (bits[edge_bit(i, j)]) {
                sg->edge[i][j] = 1;
                sg->n_pred[j]++;
                sg->n_succ[i]++;
                sg->n_edges++;
            }
    for (int j = 0; j < k; j++) sg->n_active += sg->n_pred[j] + sg->n_succ[j] > 0;
}

static int active(const stage_graph *sg, int j) { return sg->n_pred[j] + sg->n_succ[j] > 0; }

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static uint64_t mix(uint64_t h, uint64_t x) { return lm_fnv1a64(h, &x, sizeof x); }

/* Label of a stage's expression DAG: a node's label hashes the sorted labels of its
 * predecessors (the input conv when none), the output hashes the sorted labels of the
 * sinks with the numbers of active nodes and edges, so renumbering nodes, dropping
 * isolated ones and the order of sums do not change it. */
static uint64_t stage_label(const stage_graph *sg) {
    if (sg->n_active == 0) return lm_fnv1a64(LM_FNV1A64_INIT, "single conv", 11);
    uint64_t lab[LM_ARCH_GCNN_MAX_NODES], in = lm_fnv1a64(LM_FNV1A64_INIT, "input conv", 10);
    uint64_t sinks[LM_ARCH_GCNN_MAX_NODES];
    int n_sinks = 0;
    for (int j = 0; j < sg->k; j++) {
        if (!active(sg, j)) continue;
        uint64_t pred[LM_ARCH_GCNN_MAX_NODES];
        int np = 0;
        for (int i = 0; i < j; i++)
            if (sg->edge[i][j]) pred[np++] = lab[i];
        if (np == 0) pred[np++] = in;
        qsort(pred, (size_t)np, sizeof pred[0], cmp_u64);
        uint64_t h = lm_fnv1a64(LM_FNV1A64_INIT, "conv", 4);
        lab[j] = lm_fnv1a64(h, pred, (size_t)np * sizeof pred[0]);
        if (sg->n_succ[j] == 0) sinks[n_sinks++] = lab[j];
    }
    qsort(sinks, (size_t)n_sinks, sizeof sinks[0], cmp_u64);
    uint64_t h = mix(mix(lm_fnv1a64(LM_FNV1A64_INIT, "output conv", 11), (uint64_t)sg->n_active),
                     (uint64_t)sg->n_edges);
    return lm_fnv1a64(h, sinks, (size_t)n_sinks * sizeof sinks[0]);
}

int lm_arch_gcnn_hash(const lm_arch_space *as, const int32_t *g, size_t n, uint64_t *out) {
    LM_CHECK(out, LM_EINVAL, "gcnn hash: NULL output");
    LM_CALL(lm_arch_gcnn_check(as, g, n));
    size_t per = stage_bits(as->nodes);
    uint64_t h = mix(lm_fnv1a64(LM_FNV1A64_INIT, "gcnn", 4), (uint64_t)as->filters);
    for (int s = 0; s < as->stages; s++) {
        stage_graph sg;
        read_stage(g + (size_t)s * per, as->nodes, &sg);
        h = mix(h, stage_label(&sg));
    }
    *out = h;
    return LM_OK;
}

/* ---- decoding ---- */

/* Appends a conv 3x3 with c filters reading the sum of in[0..n) (the node itself
 * when n == 1). */
static int conv_of_sum(lm__arch_builder *bd, const int *in, int n, int c, int *id) {
    int x = in[0];
    if (n > 1) LM_CALL(lm__arch_node(bd, LM_ARCH_NODE_ADD, in, n, 0, 0, 0, 0, &x));
    return lm__arch_node(bd, LM_ARCH_NODE_CONV, &x, 1, c, 3, 1, 1, id);
}

static int build_stage(lm__arch_builder *bd, const stage_graph *sg, int x, int c, int *out) {
    if (sg->n_active == 0) return conv_of_sum(bd, &x, 1, c, out);
    int in_node, node[LM_ARCH_GCNN_MAX_NODES], sinks[LM_ARCH_GCNN_MAX_NODES], n_sinks = 0;
    LM_CALL(conv_of_sum(bd, &x, 1, c, &in_node));
    for (int j = 0; j < sg->k; j++) {
        if (!active(sg, j)) continue;
        int pred[LM_ARCH_GCNN_MAX_NODES], np = 0;
        for (int i = 0; i < j; i++)
            if (sg->edge[i][j]) pred[np++] = node[i];
        if (np == 0) pred[np++] = in_node;
        LM_CALL(conv_of_sum(bd, pred, np, c, &node[j]));
        if (sg->n_succ[j] == 0) sinks[n_sinks++] = node[j];
    }
    return conv_of_sum(bd, sinks, n_sinks, c, out);
}

int lm_arch_gcnn_decode(const lm_arch_space *as, const int32_t *g, size_t n, lm_arch_net *out) {
    LM_CHECK(out, LM_EINVAL, "gcnn decode: NULL output");
    memset(out, 0, sizeof *out);
    LM_CALL(lm_arch_gcnn_check(as, g, n));
    LM_CALL(lm__arch_need_shape(as));
    size_t per = stage_bits(as->nodes);
    lm__arch_builder bd;
    int x = 0, rc = lm__arch_begin(&bd, as, out);
    for (int s = 0; s < as->stages && rc == LM_OK; s++) {
        if (s > 0) rc = lm__arch_node(&bd, LM_ARCH_NODE_MAX_POOL, &x, 1, 0, 2, 2, 1, &x);
        stage_graph sg;
        read_stage(g + (size_t)s * per, as->nodes, &sg);
        if (rc == LM_OK) rc = build_stage(&bd, &sg, x, as->filters << s, &x);
    }
    if (rc == LM_OK) rc = lm__arch_finish(&bd, as, x, 0);
    if (rc < 0) {
        lm_arch_net_fini(out);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}
