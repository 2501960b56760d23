/* Chain-structured architecture space (and its MLP restriction): genome validation,
 * repair, random genomes, the named mutation operators, crossover, canonical hashing
 * and decoding into an explicit node list. The genome layout and the rules are
 * documented in lamarck/arch.h. */
#include "arch_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lamarck/error.h"
#include "lamarck/hash.h"

static const char *const LAYER_NAME[LM_ARCH_LAYER_N] = {
    "conv", "sep_conv", "dil_conv", "max_pool", "avg_pool", "dense", "identity"};

const char *lm__arch_layer_name(lm_arch_layer_type t) {
    return (unsigned)t < LM_ARCH_LAYER_N ? LAYER_NAME[t] : "?";
}

void lm__arch_chain_layout(const lm_arch_space *as, lm__chain_layout *lo) {
    int mlp = as->family == LM_ARCH_MLP, k = 0;
    lo->type = k++;
    lo->kernel = mlp ? -1 : k++;
    lo->width = k++;
    lo->stride = mlp ? -1 : k++;
    lo->skip = as->skips != LM_ARCH_SKIP_NONE ? k++ : -1;
    lo->per_slot = k;
}

int lm__arch_chain_types(const lm_arch_space *as, lm_arch_layer_type *out) {
    int n = 0;
    for (int t = 0; t < LM_ARCH_LAYER_N; t++)
        if (as->types >> t & 1u) out[n++] = (lm_arch_layer_type)t;
    return n;
}

static int uses_kernel(lm_arch_layer_type t) {
    return t == LM_ARCH_LAYER_CONV || t == LM_ARCH_LAYER_SEP_CONV ||
           t == LM_ARCH_LAYER_MAX_POOL || t == LM_ARCH_LAYER_AVG_POOL;
}

static int uses_width(lm_arch_layer_type t) {
    return t == LM_ARCH_LAYER_CONV || t == LM_ARCH_LAYER_SEP_CONV ||
           t == LM_ARCH_LAYER_DIL_CONV || t == LM_ARCH_LAYER_DENSE;
}

/* Spatial layers have a stride and may not follow a dense layer. */
static int spatial(lm_arch_layer_type t) {
    return t != LM_ARCH_LAYER_DENSE && t != LM_ARCH_LAYER_IDENTITY;
}

static uint32_t low_bits(int k) { return k <= 0 ? 0u : (k >= 32 ? ~0u : (1u << k) - 1u); }

static int32_t clamp(int32_t v, int32_t lo, int32_t hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- genome view ---- */

typedef struct {
    lm__chain_layout lo;
    int n_types;
    lm_arch_layer_type types[LM_ARCH_LAYER_N];
    int depth, n_stages;
    int first[LM_ARCH_CHAIN_MAX_DEPTH + 2]; /* first layer of stage s; first[S] = depth */
} view;

static void make_view(const lm_arch_space *as, int depth, view *v) {
    lm__arch_chain_layout(as, &v->lo);
    v->n_types = lm__arch_chain_types(as, v->types);
    v->depth = depth;
    v->n_stages = as->stages;
    for (int s = 0; s <= as->stages; s++) v->first[s] = s * depth / as->stages;
}

static size_t at(const view *v, int i, int field) {
    return 1 + (size_t)i * (size_t)v->lo.per_slot + (size_t)field;
}

static lm_arch_layer_type type_at(const view *v, const int32_t *g, int i) {
    return v->types[g[at(v, i, v->lo.type)]];
}

static int type_index(const view *v, lm_arch_layer_type t) {
    for (int j = 0; j < v->n_types; j++)
        if (v->types[j] == t) return j;
    return -1;
}

static int stage_of(const view *v, int i) {
    for (int s = 0; s < v->n_stages; s++)
        if (i < v->first[s + 1]) return s;
    return v->n_stages - 1;
}

/* flat[k]: source k (0 the chain input, k the output of layer k-1) is after the
 * first dense layer. */
static void flat_sources(const view *v, const int32_t *g, int *flat) {
    flat[0] = 0;
    for (int i = 0; i < v->depth; i++)
        flat[i + 1] = flat[i] || type_at(v, g, i) == LM_ARCH_LAYER_DENSE;
}

/* Skip bits layer i may set: earlier sources of its stage in its main input's domain. */
static uint32_t valid_skips(const view *v, const int *flat, int i) {
    if (v->lo.skip < 0) return 0;
    uint32_t m = 0;
    for (int k = v->first[stage_of(v, i)]; k < i; k++)
        if (flat[k] == flat[i]) m |= 1u << k;
    return m;
}

/* Types layer i may take: no spatial layer after a dense one, dense only in the last
 * stage and, when keep_later, not before a later spatial layer (so that changing or
 * inserting layer i never forces repair to rewrite the layers after it). */
static int candidates(const view *v, const int32_t *g, int i, int keep_later,
                      lm_arch_layer_type *out) {
    int after_dense = 0, later_spatial = 0, n = 0;
    for (int k = 0; k < i; k++) after_dense |= type_at(v, g, k) == LM_ARCH_LAYER_DENSE;
    if (keep_later)
        for (int k = i + 1; k < v->depth; k++) later_spatial |= spatial(type_at(v, g, k));
    int last_stage = stage_of(v, i) == v->n_stages - 1;
    for (int j = 0; j < v->n_types; j++) {
        lm_arch_layer_type t = v->types[j];
        if (after_dense && spatial(t)) continue;
        if (t == LM_ARCH_LAYER_DENSE && (!last_stage || later_spatial)) continue;
        out[n++] = t;
    }
    return n;
}

static int chain_space(const lm_arch_space *as) {
    LM_CHECK(as, LM_EINVAL, "chain genome: NULL space");
    LM_CHECK(as->family == LM_ARCH_CHAIN || as->family == LM_ARCH_MLP, LM_EINVAL,
             "chain genome: the space's family (%d) is not chain or mlp", (int)as->family);
    LM_CALL(lm_arch_space_check(as));
    return LM_OK;
}

static int check_len(const lm_arch_space *as, const int32_t *g, size_t n) {
    LM_CALL(chain_space(as));
    LM_CHECK(g, LM_EINVAL, "chain genome: NULL vector");
    size_t want = lm_arch_genome_size(as);
    LM_CHECK(n == want, LM_EINVAL, "chain genome: length %zu, expected %zu", n, want);
    return LM_OK;
}

/* ---- validity ---- */

static int check_gene(const view *v, const int32_t *g, int i, int field, const char *what,
                      int32_t hi) {
    if (field < 0) return LM_OK;
    int32_t x = g[at(v, i, field)];
    LM_CHECK(x >= 0 && x <= hi, LM_EINVAL,
             "chain genome: gene %zu (arch.l%d.%s) is %d, expected 0..%d", at(v, i, field), i,
             what, (int)x, (int)hi);
    return LM_OK;
}

static int check_ranges(const lm_arch_space *as, const view *v, const int32_t *g) {
    for (int i = 0; i < as->max_depth; i++) {
        LM_CALL(check_gene(v, g, i, v->lo.type, "type", v->n_types - 1));
        LM_CALL(check_gene(v, g, i, v->lo.kernel, "kernel", as->n_kernels - 1));
        LM_CALL(check_gene(v, g, i, v->lo.width, "width", as->n_widths - 1));
        LM_CALL(check_gene(v, g, i, v->lo.stride, "stride", as->n_strides - 1));
        LM_CALL(check_gene(v, g, i, v->lo.skip, "skip", (int32_t)low_bits(i)));
    }
    return LM_OK;
}

static void source_name(int k, char *buf, size_t cap) {
    if (k == 0)
        snprintf(buf, cap, "the chain input");
    else
        snprintf(buf, cap, "layer %d", k - 1);
}

int lm_arch_chain_check(const lm_arch_space *as, const int32_t *g, size_t n) {
    LM_CALL(check_len(as, g, n));
    LM_CHECK(g[0] >= as->min_depth && g[0] <= as->max_depth, LM_EINVAL,
             "chain genome: depth (gene 0) is %d, expected %d..%d", (int)g[0], as->min_depth,
             as->max_depth);
    view v;
    make_view(as, g[0], &v);
    LM_CALL(check_ranges(as, &v, g));
    int first_dense = -1;
    for (int i = 0; i < v.depth; i++) {
        lm_arch_layer_type t = type_at(&v, g, i);
        LM_CHECK(first_dense < 0 || !spatial(t), LM_EINVAL,
                 "chain genome: layer %d is %s after the dense layer %d; only dense or "
                 "identity layers may follow a dense layer",
                 i, LAYER_NAME[t], first_dense);
        LM_CHECK(t != LM_ARCH_LAYER_DENSE || stage_of(&v, i) == v.n_stages - 1, LM_EINVAL,
                 "chain genome: layer %d is dense in stage %d of %d; dense layers belong to "
                 "the last stage",
                 i, stage_of(&v, i) + 1, v.n_stages);
        if (t == LM_ARCH_LAYER_DENSE && first_dense < 0) first_dense = i;
    }
    if (v.lo.skip < 0) return LM_OK;
    int flat[LM_ARCH_CHAIN_MAX_DEPTH + 1];
    flat_sources(&v, g, flat);
    for (int i = 0; i < v.depth; i++) {
        uint32_t bad = (uint32_t)g[at(&v, i, v.lo.skip)] & ~valid_skips(&v, flat, i);
        if (!bad) continue;
        int k = 0;
        while (!(bad >> k & 1u)) k++;
        char src[32];
        source_name(k, src, sizeof src);
        int s = stage_of(&v, i);
        LM_FAIL(LM_EINVAL,
                "chain genome: layer %d skips from %s, %s (skips stay within a stage, here "
                "sources %d..%d, and on one side of the dense flattening)",
                i, src, flat[k] != flat[i] ? "across the dense flattening" : "outside its stage",
                v.first[s], i - 1);
    }
    return LM_OK;
}

/* Enforces the structural rules on a genome whose genes are within range. */
static void fix_structure(const lm_arch_space *as, int32_t *g) {
    view v;
    make_view(as, g[0], &v);
    int after_dense = 0, dense = type_index(&v, LM_ARCH_LAYER_DENSE);
    for (int i = 0; i < v.depth; i++) {
        int32_t *tg = &g[at(&v, i, v.lo.type)];
        lm_arch_layer_type t = v.types[*tg];
        if (after_dense && spatial(t)) {
            *tg = dense; /* a dense layer exists, so dense is allowed */
        } else if (t == LM_ARCH_LAYER_DENSE && stage_of(&v, i) < v.n_stages - 1) {
            /* The space check guarantees a non-dense type when there are stages;
             * the first in enum order is the most general (conv when allowed). */
            for (int j = 0; j < v.n_types; j++)
                if (v.types[j] != LM_ARCH_LAYER_DENSE) {
                    *tg = j;
                    break;
                }
        }
        after_dense |= v.types[*tg] == LM_ARCH_LAYER_DENSE;
    }
    if (v.lo.skip < 0) return;
    int flat[LM_ARCH_CHAIN_MAX_DEPTH + 1];
    flat_sources(&v, g, flat);
    for (int i = 0; i < v.depth; i++) {
        int32_t *m = &g[at(&v, i, v.lo.skip)];
        *m = (int32_t)((uint32_t)*m & valid_skips(&v, flat, i));
    }
}

int lm_arch_chain_repair(const lm_arch_space *as, int32_t *g, size_t n) {
    LM_CALL(check_len(as, g, n));
    g[0] = clamp(g[0], as->min_depth, as->max_depth);
    view v;
    make_view(as, g[0], &v);
    for (int i = 0; i < as->max_depth; i++) {
        int32_t *s = &g[at(&v, i, 0)];
        s[v.lo.type] = clamp(s[v.lo.type], 0, v.n_types - 1);
        if (v.lo.kernel >= 0) s[v.lo.kernel] = clamp(s[v.lo.kernel], 0, as->n_kernels - 1);
        s[v.lo.width] = clamp(s[v.lo.width], 0, as->n_widths - 1);
        if (v.lo.stride >= 0) s[v.lo.stride] = clamp(s[v.lo.stride], 0, as->n_strides - 1);
        /* A mask keeps the bits it may have: the nearest valid set of skips. */
        if (v.lo.skip >= 0)
            s[v.lo.skip] = s[v.lo.skip] < 0 ? 0 : (int32_t)((uint32_t)s[v.lo.skip] & low_bits(i));
    }
    fix_structure(as, g);
    return LM_OK;
}

/* Fills slot i with uniform genes (type left as is). */
static void random_slot(const lm_arch_space *as, const view *v, lm_rng *rng, int32_t *g, int i) {
    int32_t *s = &g[at(v, i, 0)];
    if (v->lo.kernel >= 0) s[v->lo.kernel] = (int32_t)lm_rng_below(rng, (uint64_t)as->n_kernels);
    s[v->lo.width] = (int32_t)lm_rng_below(rng, (uint64_t)as->n_widths);
    if (v->lo.stride >= 0) s[v->lo.stride] = (int32_t)lm_rng_below(rng, (uint64_t)as->n_strides);
    if (v->lo.skip >= 0) s[v->lo.skip] = (int32_t)lm_rng_below(rng, (uint64_t)1 << i);
}

int lm_arch_chain_random(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    LM_CALL(check_len(as, g, n));
    LM_CHECK(rng, LM_EINVAL, "chain genome: NULL rng");
    uint64_t span = (uint64_t)(as->max_depth - as->min_depth) + 1;
    g[0] = as->min_depth + (int32_t)lm_rng_below(rng, span);
    view v;
    make_view(as, g[0], &v);
    for (int i = 0; i < as->max_depth; i++) {
        g[at(&v, i, v.lo.type)] = (int32_t)lm_rng_below(rng, (uint64_t)v.n_types);
        random_slot(as, &v, rng, g, i);
    }
    /* Types in order, each among those valid after the layers before it. */
    for (int i = 0; i < v.depth; i++) {
        lm_arch_layer_type cand[LM_ARCH_LAYER_N];
        int nc = candidates(&v, g, i, 0, cand);
        LM_CHECK(nc > 0, LM_EINTERNAL, "chain genome: no layer type fits layer %d", i);
        g[at(&v, i, v.lo.type)] = type_index(&v, cand[lm_rng_below(rng, (uint64_t)nc)]);
    }
    fix_structure(as, g);
    return LM_OK;
}

/* ---- structure ---- */

int lm_arch_chain_parse(const lm_arch_space *as, const int32_t *g, size_t n, lm_arch_chain *out) {
    LM_CHECK(out, LM_EINVAL, "chain parse: NULL output");
    LM_CALL(lm_arch_chain_check(as, g, n));
    view v;
    make_view(as, g[0], &v);
    memset(out, 0, sizeof *out);
    out->depth = v.depth;
    for (int i = 0; i < v.depth; i++) {
        const int32_t *s = &g[at(&v, i, 0)];
        lm_arch_layer *l = &out->layer[i];
        l->type = v.types[s[v.lo.type]];
        l->kernel = v.lo.kernel >= 0 ? as->kernels[s[v.lo.kernel]] : 0;
        l->width = as->widths[s[v.lo.width]];
        l->stride = v.lo.stride >= 0 ? as->strides[s[v.lo.stride]] : 1;
        l->skip = v.lo.skip >= 0 ? (uint32_t)s[v.lo.skip] : 0;
    }
    return LM_OK;
}

static int find_value(const int *list, int n, int x) {
    for (int j = 0; j < n; j++)
        if (list[j] == x) return j;
    return -1;
}

int lm_arch_chain_encode(const lm_arch_space *as, const lm_arch_chain *c, int32_t *g, size_t n) {
    LM_CHECK(c, LM_EINVAL, "chain encode: NULL structure");
    LM_CALL(check_len(as, g, n));
    LM_CHECK(c->depth >= as->min_depth && c->depth <= as->max_depth, LM_EINVAL,
             "chain encode: depth %d, expected %d..%d", c->depth, as->min_depth, as->max_depth);
    view v;
    make_view(as, c->depth, &v);
    memset(g, 0, n * sizeof *g);
    g[0] = c->depth;
    for (int i = 0; i < c->depth; i++) {
        const lm_arch_layer *l = &c->layer[i];
        int32_t *s = &g[at(&v, i, 0)];
        int t = type_index(&v, l->type), k = find_value(as->kernels, as->n_kernels, l->kernel);
        int w = find_value(as->widths, as->n_widths, l->width);
        int st = find_value(as->strides, as->n_strides, l->stride);
        LM_CHECK(t >= 0, LM_EINVAL, "chain encode: layer %d type %s is not allowed", i,
                 lm__arch_layer_name(l->type));
        LM_CHECK(v.lo.kernel < 0 || k >= 0, LM_EINVAL,
                 "chain encode: layer %d kernel %d is not an allowed kernel", i, l->kernel);
        LM_CHECK(w >= 0, LM_EINVAL, "chain encode: layer %d width %d is not an allowed width", i,
                 l->width);
        LM_CHECK(v.lo.stride < 0 || st >= 0, LM_EINVAL,
                 "chain encode: layer %d stride %d is not an allowed stride", i, l->stride);
        LM_CHECK(v.lo.skip >= 0 || l->skip == 0, LM_EINVAL,
                 "chain encode: layer %d has skips but the space has none", i);
        s[v.lo.type] = t;
        if (v.lo.kernel >= 0) s[v.lo.kernel] = k;
        s[v.lo.width] = w;
        if (v.lo.stride >= 0) s[v.lo.stride] = st;
        if (v.lo.skip >= 0) s[v.lo.skip] = (int32_t)l->skip;
    }
    return lm_arch_chain_check(as, g, n);
}

/* ---- mutation ---- */

static int mut_begin(const lm_arch_space *as, lm_rng *rng, const int32_t *g, size_t n, view *v) {
    LM_CALL(lm_arch_chain_check(as, g, n));
    LM_CHECK(rng, LM_EINVAL, "chain mutation: NULL rng");
    make_view(as, g[0], v);
    return LM_OK;
}

/* Renumbers the sources of a skip mask after inserting a layer at position p: sources
 * 0..p keep their number, later ones move up by one. */
static int32_t mask_insert(int32_t m, int p) {
    uint32_t u = (uint32_t)m;
    return (int32_t)((u & low_bits(p + 1)) | ((u >> (p + 1)) << (p + 2)));
}

/* After removing layer p: its output (source p+1) becomes its main input (source p). */
static int32_t mask_remove(int32_t m, int p) {
    uint32_t u = (uint32_t)m;
    return (int32_t)((u & low_bits(p + 1)) | (((u >> (p + 1)) & 1u) << p) |
                     ((u >> (p + 2)) << (p + 1)));
}

int lm_arch_chain_add_layer(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    view v;
    LM_CALL(mut_begin(as, rng, g, n, &v));
    int d = v.depth, ps = v.lo.per_slot;
    if (d >= as->max_depth) return LM_ARCH_NOT_APPLICABLE;
    int p = (int)lm_rng_below(rng, (uint64_t)d + 1);
    for (int j = d; j > p; j--) {
        memcpy(&g[at(&v, j, 0)], &g[at(&v, j - 1, 0)], (size_t)ps * sizeof *g);
        if (v.lo.skip >= 0) g[at(&v, j, v.lo.skip)] = mask_insert(g[at(&v, j, v.lo.skip)], p);
    }
    g[0] = d + 1;
    make_view(as, d + 1, &v);
    random_slot(as, &v, rng, g, p);
    lm_arch_layer_type cand[LM_ARCH_LAYER_N];
    int nc = candidates(&v, g, p, 1, cand);
    LM_CHECK(nc > 0, LM_EINTERNAL, "chain mutation: no layer type fits position %d", p);
    g[at(&v, p, v.lo.type)] = type_index(&v, cand[lm_rng_below(rng, (uint64_t)nc)]);
    return lm_arch_chain_repair(as, g, n);
}

int lm_arch_chain_remove_layer(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    view v;
    LM_CALL(mut_begin(as, rng, g, n, &v));
    int d = v.depth, ps = v.lo.per_slot;
    if (d <= as->min_depth) return LM_ARCH_NOT_APPLICABLE;
    int p = (int)lm_rng_below(rng, (uint64_t)d);
    for (int j = p; j < d - 1; j++) {
        memcpy(&g[at(&v, j, 0)], &g[at(&v, j + 1, 0)], (size_t)ps * sizeof *g);
        if (v.lo.skip >= 0) g[at(&v, j, v.lo.skip)] = mask_remove(g[at(&v, j, v.lo.skip)], p);
    }
    memset(&g[at(&v, d - 1, 0)], 0, (size_t)ps * sizeof *g);
    g[0] = d - 1;
    return lm_arch_chain_repair(as, g, n);
}

enum { GENE_KERNEL, GENE_WIDTH, GENE_STRIDE };

/* Changes gene `which` of a random active layer to another of the space's values.
 * Only layers whose type uses the gene are drawn. */
static int change_gene(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n, int which) {
    view v;
    LM_CALL(mut_begin(as, rng, g, n, &v));
    int field = which == GENE_KERNEL ? v.lo.kernel : which == GENE_WIDTH ? v.lo.width : v.lo.stride;
    int n_values = which == GENE_KERNEL ? as->n_kernels
                   : which == GENE_WIDTH ? as->n_widths
                                         : as->n_strides;
    if (field < 0 || n_values < 2) return LM_ARCH_NOT_APPLICABLE;
    int cand[LM_ARCH_CHAIN_MAX_DEPTH], nc = 0;
    for (int i = 0; i < v.depth; i++) {
        lm_arch_layer_type t = type_at(&v, g, i);
        if (which == GENE_KERNEL ? uses_kernel(t) : which == GENE_WIDTH ? uses_width(t) : spatial(t))
            cand[nc++] = i;
    }
    if (nc == 0) return LM_ARCH_NOT_APPLICABLE;
    int32_t *x = &g[at(&v, cand[lm_rng_below(rng, (uint64_t)nc)], field)];
    int32_t y = (int32_t)lm_rng_below(rng, (uint64_t)n_values - 1);
    *x = y >= *x ? y + 1 : y;
    return LM_OK;
}

int lm_arch_chain_change_kernel(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    return change_gene(as, rng, g, n, GENE_KERNEL);
}

int lm_arch_chain_change_width(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    return change_gene(as, rng, g, n, GENE_WIDTH);
}

int lm_arch_chain_change_stride(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    return change_gene(as, rng, g, n, GENE_STRIDE);
}

static int popcount32(uint32_t x) {
    int c = 0;
    for (; x; x &= x - 1) c++;
    return c;
}

/* Index of the r-th set bit of x (r < popcount). */
static int nth_bit(uint32_t x, int r) {
    for (int k = 0; k < 32; k++)
        if (x >> k & 1u && r-- == 0) return k;
    return -1;
}

/* Sets (add) or clears one skip bit of a random layer that can take the change. */
static int toggle_skip(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n, int add) {
    view v;
    LM_CALL(mut_begin(as, rng, g, n, &v));
    if (v.lo.skip < 0) return LM_ARCH_NOT_APPLICABLE;
    int flat[LM_ARCH_CHAIN_MAX_DEPTH + 1], cand[LM_ARCH_CHAIN_MAX_DEPTH], nc = 0;
    uint32_t bits[LM_ARCH_CHAIN_MAX_DEPTH];
    flat_sources(&v, g, flat);
    for (int i = 0; i < v.depth; i++) {
        uint32_t m = (uint32_t)g[at(&v, i, v.lo.skip)];
        bits[i] = add ? valid_skips(&v, flat, i) & ~m : m;
        if (bits[i]) cand[nc++] = i;
    }
    if (nc == 0) return LM_ARCH_NOT_APPLICABLE;
    int i = cand[lm_rng_below(rng, (uint64_t)nc)];
    int k = nth_bit(bits[i], (int)lm_rng_below(rng, (uint64_t)popcount32(bits[i])));
    g[at(&v, i, v.lo.skip)] = (int32_t)((uint32_t)g[at(&v, i, v.lo.skip)] ^ (1u << k));
    return LM_OK;
}

int lm_arch_chain_add_skip(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    return toggle_skip(as, rng, g, n, 1);
}

int lm_arch_chain_remove_skip(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    return toggle_skip(as, rng, g, n, 0);
}

int lm_arch_chain_change_type(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    view v;
    LM_CALL(mut_begin(as, rng, g, n, &v));
    lm_arch_layer_type alt[LM_ARCH_CHAIN_MAX_DEPTH][LM_ARCH_LAYER_N];
    int n_alt[LM_ARCH_CHAIN_MAX_DEPTH], cand[LM_ARCH_CHAIN_MAX_DEPTH], nc = 0;
    for (int i = 0; i < v.depth; i++) {
        lm_arch_layer_type all[LM_ARCH_LAYER_N], cur = type_at(&v, g, i);
        int na = candidates(&v, g, i, 1, all);
        n_alt[i] = 0;
        for (int j = 0; j < na; j++)
            if (all[j] != cur) alt[i][n_alt[i]++] = all[j];
        if (n_alt[i] > 0) cand[nc++] = i;
    }
    if (nc == 0) return LM_ARCH_NOT_APPLICABLE;
    int i = cand[lm_rng_below(rng, (uint64_t)nc)];
    lm_arch_layer_type t = alt[i][lm_rng_below(rng, (uint64_t)n_alt[i])];
    g[at(&v, i, v.lo.type)] = type_index(&v, t);
    /* Skips may now cross the dense flattening: repair drops those. */
    return lm_arch_chain_repair(as, g, n);
}

/* ---- crossover ---- */

int lm_arch_chain_crossover(const lm_arch_space *as, lm_rng *rng, int uniform, const int32_t *a,
                            const int32_t *b, int32_t *child, size_t n) {
    LM_CALL(lm_arch_chain_check(as, a, n));
    LM_CALL(lm_arch_chain_check(as, b, n));
    LM_CHECK(rng && child, LM_EINVAL, "chain crossover: NULL argument");
    view v;
    make_view(as, 1, &v);
    size_t ps = (size_t)v.lo.per_slot;
    int max = as->max_depth;
    if (uniform) {
        child[0] = lm_rng_below(rng, 2) ? b[0] : a[0];
        for (int i = 0; i < max; i++) {
            const int32_t *src = lm_rng_below(rng, 2) ? b : a;
            memcpy(&child[at(&v, i, 0)], &src[at(&v, i, 0)], ps * sizeof *child);
        }
    } else {
        /* A cut in 1..max-1 keeps at least one slot of each parent when possible. */
        int c = max > 1 ? 1 + (int)lm_rng_below(rng, (uint64_t)max - 1) : (int)lm_rng_below(rng, 2);
        for (int i = 0; i < max; i++) {
            const int32_t *src = i < c ? a : b;
            memcpy(&child[at(&v, i, 0)], &src[at(&v, i, 0)], ps * sizeof *child);
        }
        child[0] = c < b[0] ? b[0] : (a[0] < c ? a[0] : c);
    }
    return lm_arch_chain_repair(as, child, n);
}

/* ---- hashing ---- */

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static uint64_t mix(uint64_t h, uint64_t x) { return lm_fnv1a64(h, &x, sizeof x); }

/* The effective (kernel, width, stride) of a layer: genes its type ignores are 0. */
static void effective(const lm_arch_space *as, const view *v, const int32_t *g, int i, int *k,
                      int *w, int *s) {
    lm_arch_layer_type t = type_at(v, g, i);
    const int32_t *sl = &g[at(v, i, 0)];
    *k = uses_kernel(t) ? as->kernels[sl[v->lo.kernel]] : t == LM_ARCH_LAYER_DIL_CONV ? 3 : 0;
    *w = uses_width(t) ? as->widths[sl[v->lo.width]] : 0;
    *s = spatial(t) ? as->strides[sl[v->lo.stride]] : 1;
}

int lm_arch_chain_hash(const lm_arch_space *as, const int32_t *g, size_t n, uint64_t *out) {
    LM_CHECK(out, LM_EINVAL, "chain hash: NULL output");
    LM_CALL(lm_arch_chain_check(as, g, n));
    view v;
    make_view(as, g[0], &v);
    int flat[LM_ARCH_CHAIN_MAX_DEPTH + 1];
    flat_sources(&v, g, flat);
    uint64_t lab[LM_ARCH_CHAIN_MAX_DEPTH + 1];
    uint64_t cur = lm_fnv1a64(LM_FNV1A64_INIT, "chain input", 11);
    if (as->family == LM_ARCH_CHAIN) cur = mix(mix(cur, 3), (uint64_t)as->stem_filters);
    uint64_t tag = as->skips == LM_ARCH_SKIP_CONCAT ? 2 : 1;
    for (int s = 0; s < v.n_stages; s++) {
        if (s > 0) cur = mix(lm_fnv1a64(LM_FNV1A64_INIT, "max_pool 2", 10), cur);
        lab[v.first[s]] = cur;
        for (int i = v.first[s]; i < v.first[s + 1]; i++) {
            uint64_t in[LM_ARCH_CHAIN_MAX_DEPTH + 1];
            int n_in = 0;
            in[n_in++] = lab[i];
            uint32_t m = v.lo.skip >= 0 ? (uint32_t)g[at(&v, i, v.lo.skip)] : 0;
            for (int k = 0; k < i; k++)
                if (m >> k & 1u) in[n_in++] = lab[k];
            /* A sum is unordered; a concatenation's order only permutes channels. */
            uint64_t comb = in[0];
            if (n_in > 1) {
                qsort(in, (size_t)n_in, sizeof in[0], cmp_u64);
                comb = lm_fnv1a64(mix(LM_FNV1A64_INIT, tag), in, (size_t)n_in * sizeof in[0]);
            }
            lm_arch_layer_type t = type_at(&v, g, i);
            if (t == LM_ARCH_LAYER_IDENTITY) {
                lab[i + 1] = comb;
                continue;
            }
            int k, w, st;
            effective(as, &v, g, i, &k, &w, &st);
            uint64_t h = mix(mix(mix(mix(LM_FNV1A64_INIT, (uint64_t)t), (uint64_t)k), (uint64_t)w),
                             (uint64_t)st);
            lab[i + 1] = mix(h, comb);
        }
        cur = lab[v.first[s + 1]];
    }
    *out = mix(mix(lm_fnv1a64(LM_FNV1A64_INIT, "head", 4), cur), (uint64_t)flat[v.depth]);
    return LM_OK;
}

/* ---- decoding ---- */

/* Brings node src to main's shape for an add skip (channels and spatial size) or a
 * concat skip (spatial size only); ratio is the stride between them. */
static int project(lm__arch_builder *bd, const lm_arch_space *as, int src, int main_id, int ratio,
                   int flat, int *id) {
    const lm_arch_node *s = &bd->net->nodes[src], *m = &bd->net->nodes[main_id];
    int add = as->skips == LM_ARCH_SKIP_ADD;
    *id = src;
    if (flat) {
        if (add && s->c != m->c)
            LM_CALL(lm__arch_node(bd, LM_ARCH_NODE_DENSE, &src, 1, m->c, 0, 0, 0, id));
    } else if (ratio > 1 || (add && s->c != m->c)) {
        LM_CALL(lm__arch_node(bd, LM_ARCH_NODE_CONV, &src, 1, add ? m->c : s->c, 1, ratio, 1, id));
    }
    const lm_arch_node *p = &bd->net->nodes[*id];
    m = &bd->net->nodes[main_id];
    LM_CHECK(p->h == m->h && p->w == m->w && (!add || p->c == m->c), LM_EINTERNAL,
             "chain decode: skip projection gives %dx%dx%d for a main input of %dx%dx%d", p->c,
             p->h, p->w, m->c, m->h, m->w);
    return LM_OK;
}

/* Appends layer i's op reading node in; identity adds nothing. */
static int layer_op(lm__arch_builder *bd, const lm_arch_space *as, const view *v, const int32_t *g,
                    int i, int in, int *id) {
    int k, w, s;
    effective(as, v, g, i, &k, &w, &s);
    switch (type_at(v, g, i)) {
    case LM_ARCH_LAYER_CONV:
        return lm__arch_node(bd, LM_ARCH_NODE_CONV, &in, 1, w, k, s, 1, id);
    case LM_ARCH_LAYER_SEP_CONV:
        return lm__arch_node(bd, LM_ARCH_NODE_SEP_CONV, &in, 1, w, k, s, 1, id);
    case LM_ARCH_LAYER_DIL_CONV:
        return lm__arch_node(bd, LM_ARCH_NODE_CONV, &in, 1, w, 3, s, 2, id);
    case LM_ARCH_LAYER_MAX_POOL:
        return lm__arch_node(bd, LM_ARCH_NODE_MAX_POOL, &in, 1, 0, k, s, 1, id);
    case LM_ARCH_LAYER_AVG_POOL:
        return lm__arch_node(bd, LM_ARCH_NODE_AVG_POOL, &in, 1, 0, k, s, 1, id);
    case LM_ARCH_LAYER_DENSE:
        return lm__arch_node(bd, LM_ARCH_NODE_DENSE, &in, 1, w, 0, 0, 0, id);
    case LM_ARCH_LAYER_IDENTITY:
        *id = in;
        return LM_OK;
    default:
        LM_FAIL(LM_EINTERNAL, "chain decode: layer type %d", (int)type_at(v, g, i));
    }
}

static int build(lm__arch_builder *bd, const lm_arch_space *as, const view *v, const int32_t *g,
                 const int *flat) {
    int x = 0, src[LM_ARCH_CHAIN_MAX_DEPTH + 1], cum[LM_ARCH_CHAIN_MAX_DEPTH + 1];
    if (as->family == LM_ARCH_CHAIN && as->stem_filters > 0)
        LM_CALL(lm__arch_node(bd, LM_ARCH_NODE_CONV, &x, 1, as->stem_filters, 3, 1, 1, &x));
    for (int s = 0; s < v->n_stages; s++) {
        if (s > 0) LM_CALL(lm__arch_node(bd, LM_ARCH_NODE_MAX_POOL, &x, 1, 0, 2, 2, 1, &x));
        int f = v->first[s];
        src[f] = x;
        cum[f] = 1;
        for (int i = f; i < v->first[s + 1]; i++) {
            int in[LM_ARCH_MAX_INPUTS], n_in = 0;
            in[n_in++] = src[i];
            uint32_t m = v->lo.skip >= 0 ? (uint32_t)g[at(v, i, v->lo.skip)] : 0;
            for (int k = f; k < i; k++)
                if (m >> k & 1u)
                    LM_CALL(project(bd, as, src[k], src[i], cum[i] / cum[k], flat[i], &in[n_in++]));
            int comb = in[0];
            if (n_in > 1) {
                lm_arch_node_kind kind =
                    as->skips == LM_ARCH_SKIP_CONCAT ? LM_ARCH_NODE_CONCAT : LM_ARCH_NODE_ADD;
                LM_CALL(lm__arch_node(bd, kind, in, n_in, 0, 0, 0, 0, &comb));
            }
            LM_CALL(layer_op(bd, as, v, g, i, comb, &src[i + 1]));
            int k, w, st;
            effective(as, v, g, i, &k, &w, &st);
            cum[i + 1] = cum[i] * st;
        }
        x = src[v->first[s + 1]];
    }
    return lm__arch_finish(bd, as, x, flat[v->depth]);
}

int lm_arch_chain_decode(const lm_arch_space *as, const int32_t *g, size_t n, lm_arch_net *out) {
    LM_CHECK(out, LM_EINVAL, "chain decode: NULL output");
    memset(out, 0, sizeof *out);
    LM_CALL(lm_arch_chain_check(as, g, n));
    LM_CALL(lm__arch_need_shape(as));
    view v;
    make_view(as, g[0], &v);
    int flat[LM_ARCH_CHAIN_MAX_DEPTH + 1];
    flat_sources(&v, g, flat);
    lm__arch_builder bd;
    int rc = lm__arch_begin(&bd, as, out);
    if (rc == LM_OK) rc = build(&bd, as, &v, g, flat);
    if (rc < 0) {
        lm_arch_net_fini(out);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}
