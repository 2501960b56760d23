/* NASNet cell space: genome validation, repair, variation, canonical hashing and
 * decoding into a plain node list with its parameter and FLOP counts. */
#include "lamarck/arch.h"

#include <stdlib.h>
#include <string.h>

#include "lamarck/error.h"
#include "lamarck/hash.h"

#define MAX_FILTERS 65536
#define MAX_CELLS 64
#define MAX_STAGES 8
#define MAX_DIM 65536
#define MAX_CLASSES 1000000

static const char *const CELL_NAME[2] = {"normal", "reduction"};

size_t lm_arch_cell_genome_size(int n_blocks) {
    if (n_blocks < 1 || n_blocks > LM_ARCH_CELL_MAX_BLOCKS) return 0;
    return (size_t)8 * (size_t)n_blocks;
}

static int check_shape(size_t n, int n_blocks) {
    LM_CHECK(n_blocks >= 1 && n_blocks <= LM_ARCH_CELL_MAX_BLOCKS, LM_EINVAL,
             "cell genome: %d blocks per cell, expected 1..%d", n_blocks,
             LM_ARCH_CELL_MAX_BLOCKS);
    LM_CHECK(n == lm_arch_cell_genome_size(n_blocks), LM_EINVAL,
             "cell genome: length %zu, expected %zu for %d blocks per cell", n,
             lm_arch_cell_genome_size(n_blocks), n_blocks);
    return LM_OK;
}

int lm_arch_cell_check(const int32_t *g, size_t n, int n_blocks) {
    LM_CALL(check_shape(n, n_blocks));
    LM_CHECK(g, LM_EINVAL, "cell genome: NULL vector");
    for (int t = 0; t < 2; t++)
        for (int b = 0; b < n_blocks; b++)
            for (int k = 0; k < 2; k++) {
                const int32_t *q = g + ((size_t)t * n_blocks + b) * 4 + 2 * k;
                LM_CHECK(q[0] >= 0 && q[0] < b + 2, LM_EINVAL,
                         "cell genome: %s cell block %d input %d is %d, expected 0..%d "
                         "(0 h_{i-1}, 1 h_{i-2}, 2+j block j < %d)",
                         CELL_NAME[t], b, k + 1, (int)q[0], b + 1, b);
                LM_CHECK(q[1] >= 0 && q[1] < LM_ARCH_CELL_N_OPS, LM_EINVAL,
                         "cell genome: %s cell block %d operation %d is %d, expected 0..%d",
                         CELL_NAME[t], b, k + 1, (int)q[1], LM_ARCH_CELL_N_OPS - 1);
            }
    return LM_OK;
}

int lm_arch_cell_parse(const int32_t *g, size_t n, int n_blocks, lm_arch_cell *normal,
                       lm_arch_cell *reduce) {
    LM_CALL(lm_arch_cell_check(g, n, n_blocks));
    lm_arch_cell *cell[2] = {normal, reduce};
    for (int t = 0; t < 2; t++) {
        memset(cell[t], 0, sizeof *cell[t]);
        cell[t]->n_blocks = n_blocks;
        for (int b = 0; b < n_blocks; b++)
            for (int k = 0; k < 2; k++) {
                const int32_t *q = g + ((size_t)t * n_blocks + b) * 4 + 2 * k;
                cell[t]->in[b][k] = q[0];
                cell[t]->op[b][k] = q[1];
            }
    }
    return LM_OK;
}

int lm_arch_cell_encode(const lm_arch_cell *normal, const lm_arch_cell *reduce, int32_t *g,
                        size_t n) {
    LM_CHECK(normal && reduce && g, LM_EINVAL, "cell encode: NULL argument");
    LM_CHECK(normal->n_blocks == reduce->n_blocks, LM_EINVAL,
             "cell encode: normal cell has %d blocks, reduction cell %d", normal->n_blocks,
             reduce->n_blocks);
    int nb = normal->n_blocks;
    LM_CALL(check_shape(n, nb));
    const lm_arch_cell *cell[2] = {normal, reduce};
    for (int t = 0; t < 2; t++)
        for (int b = 0; b < nb; b++)
            for (int k = 0; k < 2; k++) {
                int32_t *q = g + ((size_t)t * nb + b) * 4 + 2 * k;
                q[0] = cell[t]->in[b][k];
                q[1] = cell[t]->op[b][k];
            }
    return lm_arch_cell_check(g, n, nb);
}

static int32_t clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

int lm_arch_cell_repair(int32_t *g, size_t n, int n_blocks) {
    LM_CALL(check_shape(n, n_blocks));
    LM_CHECK(g, LM_EINVAL, "cell genome: NULL vector");
    for (size_t i = 0; i < n; i += 2) {
        int b = (int)((i / 4) % (size_t)n_blocks);
        g[i] = clamp(g[i], 0, b + 1);
        g[i + 1] = clamp(g[i + 1], 0, LM_ARCH_CELL_N_OPS - 1);
    }
    return LM_OK;
}

int lm_arch_cell_random(lm_rng *rng, int32_t *g, size_t n, int n_blocks) {
    LM_CALL(check_shape(n, n_blocks));
    LM_CHECK(rng && g, LM_EINVAL, "cell genome: NULL argument");
    for (size_t i = 0; i < n; i += 2) {
        int b = (int)((i / 4) % (size_t)n_blocks);
        g[i] = (int32_t)lm_rng_below(rng, (uint64_t)b + 2);
        g[i + 1] = (int32_t)lm_rng_below(rng, LM_ARCH_CELL_N_OPS);
    }
    return LM_OK;
}

int lm_arch_cell_mutate_op(lm_rng *rng, int32_t *g, size_t n, int n_blocks) {
    LM_CALL(lm_arch_cell_check(g, n, n_blocks));
    LM_CHECK(rng, LM_EINVAL, "cell mutation: NULL rng");
    size_t slot = (size_t)lm_rng_below(rng, n / 2);
    /* A uniform choice among the other ops: draw in [0, N-1) and skip the current. */
    int32_t v = (int32_t)lm_rng_below(rng, LM_ARCH_CELL_N_OPS - 1);
    if (v >= g[2 * slot + 1]) v++;
    g[2 * slot + 1] = v;
    return LM_OK;
}

int lm_arch_cell_mutate_input(lm_rng *rng, int32_t *g, size_t n, int n_blocks) {
    LM_CALL(lm_arch_cell_check(g, n, n_blocks));
    LM_CHECK(rng, LM_EINVAL, "cell mutation: NULL rng");
    size_t slot = (size_t)lm_rng_below(rng, n / 2);
    int b = (int)((slot / 2) % (size_t)n_blocks);
    /* Block b has b+2 >= 2 candidate inputs, so another one always exists. */
    int32_t v = (int32_t)lm_rng_below(rng, (uint64_t)b + 1);
    if (v >= g[2 * slot]) v++;
    g[2 * slot] = v;
    return LM_OK;
}

int lm_arch_cell_crossover(lm_rng *rng, const int32_t *a, const int32_t *b, int32_t *child,
                           size_t n, int n_blocks) {
    LM_CALL(lm_arch_cell_check(a, n, n_blocks));
    LM_CALL(lm_arch_cell_check(b, n, n_blocks));
    LM_CHECK(rng && child, LM_EINVAL, "cell crossover: NULL argument");
    /* Block j's valid ranges depend only on j, so copying whole blocks keeps validity. */
    for (size_t blk = 0; blk < n / 4; blk++) {
        const int32_t *src = lm_rng_below(rng, 2) ? b : a;
        memcpy(child + 4 * blk, src + 4 * blk, 4 * sizeof *child);
    }
    return LM_OK;
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

/* Marks in used[] the blocks read by a later block. */
static void find_used(const lm_arch_cell *c, int *used) {
    for (int b = 0; b < c->n_blocks; b++) used[b] = 0;
    for (int b = 0; b < c->n_blocks; b++)
        for (int k = 0; k < 2; k++)
            if (c->in[b][k] >= 2) used[c->in[b][k] - 2] = 1;
}

static uint64_t cell_label(const lm_arch_cell *c) {
    uint64_t label[LM_ARCH_CELL_MAX_BLOCKS + 2];
    label[0] = lm_fnv1a64(LM_FNV1A64_INIT, "h_{i-1}", 7);
    label[1] = lm_fnv1a64(LM_FNV1A64_INIT, "h_{i-2}", 7);
    for (int b = 0; b < c->n_blocks; b++) {
        uint64_t term[2];
        for (int k = 0; k < 2; k++) {
            uint64_t op = (uint64_t)c->op[b][k];
            term[k] = lm_fnv1a64(lm_fnv1a64(LM_FNV1A64_INIT, &op, sizeof op),
                                 &label[c->in[b][k]], sizeof(uint64_t));
        }
        qsort(term, 2, sizeof term[0], cmp_u64);
        label[b + 2] = lm_fnv1a64(lm_fnv1a64(LM_FNV1A64_INIT, "add", 3), term, sizeof term);
    }
    int used[LM_ARCH_CELL_MAX_BLOCKS];
    find_used(c, used);
    uint64_t out[LM_ARCH_CELL_MAX_BLOCKS];
    int n_out = 0;
    for (int b = 0; b < c->n_blocks; b++)
        if (!used[b]) out[n_out++] = label[b + 2];
    qsort(out, (size_t)n_out, sizeof out[0], cmp_u64);
    uint64_t nb = (uint64_t)c->n_blocks;
    uint64_t h = lm_fnv1a64(LM_FNV1A64_INIT, &nb, sizeof nb);
    return lm_fnv1a64(h, out, (size_t)n_out * sizeof out[0]);
}

int lm_arch_cell_hash(const int32_t *g, size_t n, int n_blocks, uint64_t *out) {
    LM_CHECK(out, LM_EINVAL, "cell hash: NULL output");
    lm_arch_cell c[2];
    LM_CALL(lm_arch_cell_parse(g, n, n_blocks, &c[0], &c[1]));
    uint64_t lab[2] = {cell_label(&c[0]), cell_label(&c[1])};
    *out = lm_fnv1a64(LM_FNV1A64_INIT, lab, sizeof lab);
    return LM_OK;
}

/* ---- decoding ---- */

typedef struct {
    lm_arch_net *net;
    int cap;
} builder;

static int add_node(builder *bd, lm_arch_node_kind kind, const int *in, int n_in, int c,
                    int kh, int kw, int stride, int dilation, int *id) {
    lm_arch_net *net = bd->net;
    if (net->n_nodes == bd->cap) {
        LM_CHECK(bd->cap < (1 << 24), LM_ERANGE, "architecture decode: more than %d nodes",
                 1 << 24);
        int cap = bd->cap ? 2 * bd->cap : 64;
        lm_arch_node *p = realloc(net->nodes, (size_t)cap * sizeof *p);
        LM_CHECK_ALLOC(p);
        net->nodes = p;
        bd->cap = cap;
    }
    lm_arch_node *nd = &net->nodes[net->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    nd->n_in = n_in;
    for (int i = 0; i < n_in; i++) nd->in[i] = in[i];
    nd->kh = kh;
    nd->kw = kw;
    nd->stride = stride;
    nd->dilation = dilation;
    if (n_in > 0) {
        const lm_arch_node *src = &net->nodes[in[0]];
        int s = stride > 0 ? stride : 1;
        nd->h = (src->h + s - 1) / s;
        nd->w = (src->w + s - 1) / s;
        nd->c = c > 0 ? c : src->c;
    } else {
        nd->c = c;
    }
    if (kind == LM_ARCH_NODE_CONCAT) {
        nd->c = 0;
        for (int i = 0; i < n_in; i++) nd->c += net->nodes[in[i]].c;
    } else if (kind == LM_ARCH_NODE_GLOBAL_AVG_POOL) {
        nd->h = nd->w = 1;
    } else if (kind == LM_ARCH_NODE_DENSE) {
        nd->h = nd->w = 1;
    }
    *id = net->n_nodes++;
    return LM_OK;
}

static int conv(builder *bd, int src, int c, int kh, int kw, int stride, int dil, int *id) {
    return add_node(bd, LM_ARCH_NODE_CONV, &src, 1, c, kh, kw, stride, dil, id);
}

/* Appends the nodes of op applied to src with the cell's C filters. */
static int apply_op(builder *bd, int op, int src, int c, int stride, int *id) {
    switch (op) {
    case LM_ARCH_OP_IDENTITY:
        if (stride == 1) return add_node(bd, LM_ARCH_NODE_IDENTITY, &src, 1, c, 0, 0, 0, 0, id);
        return conv(bd, src, c, 1, 1, stride, 1, id);
    case LM_ARCH_OP_SEP3:
    case LM_ARCH_OP_SEP5:
    case LM_ARCH_OP_SEP7: {
        int k = 3 + 2 * (op - LM_ARCH_OP_SEP3);
        return add_node(bd, LM_ARCH_NODE_SEP_CONV, &src, 1, c, k, k, stride, 1, id);
    }
    case LM_ARCH_OP_AVG3:
        return add_node(bd, LM_ARCH_NODE_AVG_POOL, &src, 1, c, 3, 3, stride, 1, id);
    case LM_ARCH_OP_MAX3:
        return add_node(bd, LM_ARCH_NODE_MAX_POOL, &src, 1, c, 3, 3, stride, 1, id);
    case LM_ARCH_OP_DIL3:
        return conv(bd, src, c, 3, 3, stride, 2, id);
    case LM_ARCH_OP_CONV17_71: {
        int mid;
        LM_CALL(conv(bd, src, c, 1, 7, stride, 1, &mid));
        return conv(bd, mid, c, 7, 1, 1, 1, id);
    }
    default:
        LM_FAIL(LM_EINTERNAL, "architecture decode: operation %d", op);
    }
}

/* Appends one cell reading nodes p1 (h_{i-1}) and p2 (h_{i-2}); *id is its concat. */
static int build_cell(builder *bd, const lm_arch_cell *cell, int reduce, int p1, int p2,
                      int c, int *id) {
    int node[LM_ARCH_CELL_MAX_BLOCKS + 2];
    const lm_arch_node *a = &bd->net->nodes[p1], *b = &bd->net->nodes[p2];
    int s2 = b->h > a->h || b->w > a->w ? 2 : 1;
    LM_CALL(conv(bd, p1, c, 1, 1, 1, 1, &node[0]));
    LM_CALL(conv(bd, p2, c, 1, 1, s2, 1, &node[1]));
    for (int k = 0; k < cell->n_blocks; k++) {
        int term[2];
        for (int j = 0; j < 2; j++) {
            int src = cell->in[k][j];
            int stride = reduce && src < 2 ? 2 : 1;
            LM_CALL(apply_op(bd, cell->op[k][j], node[src], c, stride, &term[j]));
        }
        LM_CALL(add_node(bd, LM_ARCH_NODE_ADD, term, 2, c, 0, 0, 0, 0, &node[k + 2]));
    }
    int used[LM_ARCH_CELL_MAX_BLOCKS], out[LM_ARCH_CELL_MAX_BLOCKS], n_out = 0;
    find_used(cell, used);
    for (int k = 0; k < cell->n_blocks; k++)
        if (!used[k]) out[n_out++] = node[k + 2];
    return add_node(bd, LM_ARCH_NODE_CONCAT, out, n_out, 0, 0, 0, 0, 0, id);
}

int lm_arch_cell_decode(const int32_t *g, int n_blocks, int n_cells, int filters,
                        int n_stages, int in_c, int in_h, int in_w, int n_classes,
                        lm_arch_net *out) {
    LM_CHECK(out, LM_EINVAL, "architecture decode: NULL output");
    memset(out, 0, sizeof *out);
    LM_CHECK(n_cells >= 1 && n_cells <= MAX_CELLS, LM_EINVAL,
             "architecture decode: %d normal cells per stage, expected 1..%d", n_cells,
             MAX_CELLS);
    LM_CHECK(n_stages >= 1 && n_stages <= MAX_STAGES, LM_EINVAL,
             "architecture decode: %d stages, expected 1..%d", n_stages, MAX_STAGES);
    LM_CHECK(filters >= 1 && ((int64_t)filters << (n_stages - 1)) <= MAX_FILTERS, LM_EINVAL,
             "architecture decode: %d filters doubled over %d stages exceeds %d", filters,
             n_stages, MAX_FILTERS);
    LM_CHECK(in_c >= 1 && in_c <= MAX_DIM && in_h >= 1 && in_h <= MAX_DIM && in_w >= 1 &&
                 in_w <= MAX_DIM,
             LM_EINVAL, "architecture decode: input %dx%dx%d, expected each in 1..%d", in_c,
             in_h, in_w, MAX_DIM);
    LM_CHECK(n_classes >= 1 && n_classes <= MAX_CLASSES, LM_EINVAL,
             "architecture decode: %d classes, expected 1..%d", n_classes, MAX_CLASSES);
    lm_arch_cell cell[2];
    LM_CALL(lm_arch_cell_parse(g, lm_arch_cell_genome_size(n_blocks), n_blocks, &cell[0],
                               &cell[1]));
    builder bd = {out, 0};
    int rc, x = -1, prev = -1, prev2 = -1, c = filters;
    rc = add_node(&bd, LM_ARCH_NODE_INPUT, NULL, 0, in_c, 0, 0, 0, 0, &x);
    if (rc == LM_OK) {
        out->nodes[x].h = in_h;
        out->nodes[x].w = in_w;
        rc = conv(&bd, x, filters, 3, 3, 1, 1, &prev);
    }
    prev2 = prev;
    for (int s = 0; s < n_stages && rc == LM_OK; s++) {
        if (s > 0) {
            c *= 2;
            rc = build_cell(&bd, &cell[1], 1, prev, prev2, c, &x);
            prev2 = prev;
            prev = x;
        }
        for (int i = 0; i < n_cells && rc == LM_OK; i++) {
            rc = build_cell(&bd, &cell[0], 0, prev, prev2, c, &x);
            prev2 = prev;
            prev = x;
        }
    }
    if (rc == LM_OK)
        rc = add_node(&bd, LM_ARCH_NODE_GLOBAL_AVG_POOL, &prev, 1, 0, 0, 0, 0, 0, &x);
    if (rc == LM_OK) rc = add_node(&bd, LM_ARCH_NODE_DENSE, &x, 1, n_classes, 0, 0, 0, 0, &x);
    if (rc == LM_OK) rc = lm_arch_net_cost(out, &out->params, &out->flops);
    if (rc < 0) {
        lm_arch_net_fini(out);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

int lm_arch_net_cost(const lm_arch_net *net, int64_t *params, int64_t *flops) {
    LM_CHECK(net && params && flops, LM_EINVAL, "architecture cost: NULL argument");
    int64_t p = 0, f = 0;
    for (int i = 0; i < net->n_nodes; i++) {
        const lm_arch_node *nd = &net->nodes[i];
        LM_CHECK(nd->n_in >= 0 && nd->n_in <= LM_ARCH_MAX_INPUTS, LM_EINVAL,
                 "architecture cost: node %d has %d inputs", i, nd->n_in);
        for (int j = 0; j < nd->n_in; j++)
            LM_CHECK(nd->in[j] >= 0 && nd->in[j] < i, LM_EINVAL,
                     "architecture cost: node %d input %d is %d, expected 0..%d", i, j,
                     nd->in[j], i - 1);
        int64_t cin = nd->n_in > 0 ? net->nodes[nd->in[0]].c : 0;
        int64_t hin = nd->n_in > 0 ? net->nodes[nd->in[0]].h : 0;
        int64_t win = nd->n_in > 0 ? net->nodes[nd->in[0]].w : 0;
        int64_t cout = nd->c, hw = (int64_t)nd->h * nd->w, kk = (int64_t)nd->kh * nd->kw;
        switch (nd->kind) {
        case LM_ARCH_NODE_CONV:
            p += kk * cin * cout + cout;
            f += kk * cin * cout * hw;
            break;
        case LM_ARCH_NODE_SEP_CONV:
            p += kk * cin + cin * cout + cout;
            f += (kk * cin + cin * cout) * hw;
            break;
        case LM_ARCH_NODE_AVG_POOL:
        case LM_ARCH_NODE_MAX_POOL:
            f += kk * cout * hw;
            break;
        case LM_ARCH_NODE_ADD:
            f += cout * hw * (nd->n_in > 1 ? nd->n_in - 1 : 0);
            break;
        case LM_ARCH_NODE_GLOBAL_AVG_POOL:
            f += cin * hin * win;
            break;
        case LM_ARCH_NODE_DENSE:
            /* A dense layer flattens its input: every element is a feature. */
            p += cin * hin * win * cout + cout;
            f += cin * hin * win * cout;
            break;
        default:
            break;
        }
    }
    *params = p;
    *flops = f;
    return LM_OK;
}

void lm_arch_net_fini(lm_arch_net *net) {
    if (!net) return;
    free(net->nodes);
    net->nodes = NULL;
    net->n_nodes = 0;
    net->params = net->flops = 0;
}
