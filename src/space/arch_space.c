/* The unified architecture space: defaults and validation of lm_arch_space, gene
 * names, dispatch to the families, constraints with bounded retries, and the node
 * builder the families decode with. */
#include "arch_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lamarck/error.h"

#define MAX_FILTERS 65536
#define MAX_DIM 65536
#define MAX_CLASSES 1000000
#define MAX_TRIES 1000000
#define MAX_NODES (1 << 24)

static const unsigned MLP_TYPES = 1u << LM_ARCH_LAYER_DENSE | 1u << LM_ARCH_LAYER_IDENTITY;

void lm_arch_space_default(lm_arch_space *as, lm_arch_family f) {
    memset(as, 0, sizeof *as);
    as->family = f;
    as->max_tries = 200;
    for (int i = 0; i < LM_ARCH_MUT_N; i++) as->mutation_prob[i] = 1;
    as->stages = 1;
    as->n_strides = 1;
    as->strides[0] = 1;
    switch (f) {
    case LM_ARCH_CELL:
        as->blocks = 5;
        as->cells = 2;
        as->filters = 16;
        as->stages = 3;
        break;
    case LM_ARCH_CHAIN: {
        static const int widths[] = {16, 32, 64, 128};
        as->min_depth = 2;
        as->max_depth = 8;
        as->types = (1u << LM_ARCH_LAYER_N) - 1;
        as->n_kernels = 2;
        as->kernels[0] = 3;
        as->kernels[1] = 5;
        as->n_widths = 4;
        memcpy(as->widths, widths, sizeof widths);
        as->n_strides = 2;
        as->strides[1] = 2;
        as->skips = LM_ARCH_SKIP_ADD;
        as->stem_filters = 16;
        break;
    }
    case LM_ARCH_MLP: {
        static const int widths[] = {32, 64, 128, 256, 512};
        as->min_depth = 1;
        as->max_depth = 4;
        as->types = MLP_TYPES;
        as->n_widths = 5;
        memcpy(as->widths, widths, sizeof widths);
        break;
    }
    case LM_ARCH_GCNN:
        as->stages = 3;
        as->nodes = 4;
        as->filters = 16;
        as->flip_prob = 0.05; /* q_M of Xie and Yuille 2017 */
        break;
    }
}

/* ---- validation ---- */

static int check_list(const char *what, const int *v, int n, int max_n, int lo, int hi,
                      int odd_only) {
    LM_CHECK(n >= 1 && n <= max_n, LM_EINVAL, "arch space: %d %s, expected 1..%d", n, what, max_n);
    for (int i = 0; i < n; i++) {
        LM_CHECK(v[i] >= lo && v[i] <= hi && (!odd_only || v[i] % 2 == 1), LM_EINVAL,
                 "arch space: %s[%d] is %d, expected %s in %d..%d", what, i, v[i],
                 odd_only ? "an odd value" : "a value", lo, hi);
        for (int j = 0; j < i; j++)
            LM_CHECK(v[j] != v[i], LM_EINVAL, "arch space: %s lists %d twice", what, v[i]);
    }
    return LM_OK;
}

static int check_chain(const lm_arch_space *as) {
    int mlp = as->family == LM_ARCH_MLP;
    const char *fam = mlp ? "mlp" : "chain";
    LM_CHECK(as->min_depth >= 1 && as->min_depth <= as->max_depth &&
                 as->max_depth <= LM_ARCH_CHAIN_MAX_DEPTH,
             LM_EINVAL, "arch space: %s depth %d..%d, expected 1 <= min_depth <= max_depth <= %d",
             fam, as->min_depth, as->max_depth, LM_ARCH_CHAIN_MAX_DEPTH);
    unsigned all = (1u << LM_ARCH_LAYER_N) - 1;
    LM_CHECK(as->types != 0 && (as->types & ~all) == 0, LM_EINVAL,
             "arch space: %s layer type mask 0x%x, expected a non-empty subset of 0x%x", fam,
             as->types, all);
    if (mlp) {
        LM_CHECK((as->types & ~MLP_TYPES) == 0 && (as->types >> LM_ARCH_LAYER_DENSE & 1u),
                 LM_EINVAL, "arch space: mlp layer types must be dense, optionally with identity");
        LM_CHECK(as->stages == 1, LM_EINVAL, "arch space: mlp has one stage, got stages %d",
                 as->stages);
    } else {
        LM_CALL(check_list("kernels", as->kernels, as->n_kernels, LM_ARCH_MAX_KERNELS, 1, 7, 1));
        LM_CALL(check_list("strides", as->strides, as->n_strides, 2, 1, 2, 0));
        LM_CHECK(as->stages >= 1 && as->stages <= as->min_depth, LM_EINVAL,
                 "arch space: chain stages %d, expected 1..min_depth (%d) so that every stage "
                 "has a layer",
                 as->stages, as->min_depth);
        LM_CHECK(as->stages == 1 || (as->types & ~(1u << LM_ARCH_LAYER_DENSE)) != 0, LM_EINVAL,
                 "arch space: chain with %d stages needs a layer type other than dense (dense "
                 "layers belong to the last stage)",
                 as->stages);
        LM_CHECK(as->stem_filters >= 0 && as->stem_filters <= MAX_FILTERS, LM_EINVAL,
                 "arch space: stem_filters %d, expected 0..%d (0 for no stem)", as->stem_filters,
                 MAX_FILTERS);
    }
    LM_CALL(check_list("widths", as->widths, as->n_widths, LM_ARCH_MAX_WIDTHS, 1, MAX_FILTERS, 0));
    LM_CHECK(as->skips >= LM_ARCH_SKIP_NONE && as->skips <= LM_ARCH_SKIP_CONCAT, LM_EINVAL,
             "arch space: skips %d, expected none (0), add (1) or concat (2)", (int)as->skips);
    return LM_OK;
}

static int check_family(const lm_arch_space *as) {
    switch (as->family) {
    case LM_ARCH_CELL:
        LM_CHECK(as->blocks >= 1 && as->blocks <= LM_ARCH_CELL_MAX_BLOCKS, LM_EINVAL,
                 "arch space: cell blocks %d, expected 1..%d", as->blocks, LM_ARCH_CELL_MAX_BLOCKS);
        LM_CHECK(as->cells >= 1 && as->cells <= 64, LM_EINVAL,
                 "arch space: cells (N per stage) %d, expected 1..64", as->cells);
        LM_CHECK(as->stages >= 1 && as->stages <= 8, LM_EINVAL,
                 "arch space: cell stages %d, expected 1..8", as->stages);
        LM_CHECK(as->filters >= 1 && ((int64_t)as->filters << (as->stages - 1)) <= MAX_FILTERS,
                 LM_EINVAL, "arch space: filters %d doubled over %d stages, expected at most %d",
                 as->filters, as->stages, MAX_FILTERS);
        return LM_OK;
    case LM_ARCH_CHAIN:
    case LM_ARCH_MLP:
        return check_chain(as);
    case LM_ARCH_GCNN:
        LM_CHECK(as->stages >= 1 && as->stages <= LM_ARCH_GCNN_MAX_STAGES, LM_EINVAL,
                 "arch space: gcnn stages %d, expected 1..%d", as->stages, LM_ARCH_GCNN_MAX_STAGES);
        LM_CHECK(as->nodes >= 2 && as->nodes <= LM_ARCH_GCNN_MAX_NODES, LM_EINVAL,
                 "arch space: gcnn nodes %d per stage, expected 2..%d", as->nodes,
                 LM_ARCH_GCNN_MAX_NODES);
        LM_CHECK(as->filters >= 1 && ((int64_t)as->filters << (as->stages - 1)) <= MAX_FILTERS,
                 LM_EINVAL, "arch space: filters %d doubled over %d stages, expected at most %d",
                 as->filters, as->stages, MAX_FILTERS);
        LM_CHECK(as->flip_prob >= 0 && as->flip_prob <= 1, LM_EINVAL,
                 "arch space: gcnn flip_prob %g, expected 0..1", as->flip_prob);
        return LM_OK;
    default:
        LM_FAIL(LM_EINVAL, "arch space: family %d, expected cell, chain, mlp or gcnn",
                (int)as->family);
    }
}

/* Whether the family has operator op. */
static int family_has(const lm_arch_space *as, int op) {
    switch (as->family) {
    case LM_ARCH_CELL:
        return op == LM_ARCH_MUT_CHANGE_OP || op == LM_ARCH_MUT_CHANGE_INPUT;
    case LM_ARCH_GCNN:
        return op == LM_ARCH_MUT_FLIP_EDGE;
    case LM_ARCH_MLP:
        if (op == LM_ARCH_MUT_CHANGE_KERNEL) return 0;
        /* fall through */
    case LM_ARCH_CHAIN:
        if ((op == LM_ARCH_MUT_ADD_SKIP || op == LM_ARCH_MUT_REMOVE_SKIP) &&
            as->skips == LM_ARCH_SKIP_NONE)
            return 0;
        /* A space of one stride has nothing to change (and its draws stay as they were). */
        if (op == LM_ARCH_MUT_CHANGE_STRIDE)
            return as->family == LM_ARCH_CHAIN && as->n_strides > 1;
        return op <= LM_ARCH_MUT_CHANGE_TYPE;
    }
    return 0;
}

int lm_arch_space_check(const lm_arch_space *as) {
    LM_CHECK(as, LM_EINVAL, "arch space: NULL");
    LM_CALL(check_family(as));
    int shape[4] = {as->in_c, as->in_h, as->in_w, as->n_classes};
    int set = 0;
    for (int i = 0; i < 4; i++) set += shape[i] != 0;
    LM_CHECK(set == 0 || set == 4, LM_EINVAL,
             "arch space: sample shape %dx%dx%d with %d classes is partly set; set all or none",
             as->in_c, as->in_h, as->in_w, as->n_classes);
    LM_CHECK(as->in_c >= 0 && as->in_c <= MAX_DIM && as->in_h >= 0 && as->in_h <= MAX_DIM &&
                 as->in_w >= 0 && as->in_w <= MAX_DIM,
             LM_EINVAL, "arch space: sample shape %dx%dx%d, expected each in 1..%d", as->in_c,
             as->in_h, as->in_w, MAX_DIM);
    LM_CHECK(as->n_classes >= 0 && as->n_classes <= MAX_CLASSES, LM_EINVAL,
             "arch space: %d classes, expected 1..%d", as->n_classes, MAX_CLASSES);
    LM_CHECK(as->max_params >= 0, LM_EINVAL, "arch space: max_params %lld, expected >= 0",
             (long long)as->max_params);
    LM_CHECK(isfinite(as->max_flops) && as->max_flops >= 0, LM_EINVAL,
             "arch space: max_flops %g, expected a finite value >= 0", as->max_flops);
    LM_CHECK(as->max_tries >= 1 && as->max_tries <= MAX_TRIES, LM_EINVAL,
             "arch space: max_tries %d, expected 1..%d", as->max_tries, MAX_TRIES);
    double total = 0;
    for (int op = 0; op < LM_ARCH_MUT_N; op++) {
        double w = as->mutation_prob[op];
        LM_CHECK(isfinite(w) && w >= 0, LM_EINVAL,
                 "arch space: mutation weight of %s is %g, expected a finite value >= 0",
                 lm_arch_mutation_name(op), w);
        if (family_has(as, op)) total += w;
    }
    LM_CHECK(total > 0, LM_EINVAL,
             "arch space: every mutation operator of this family has weight 0");
    return LM_OK;
}

/* Checks only what the genome's length depends on, and records no error: a size of 0
 * is the answer for an invalid space. */
size_t lm_arch_genome_size(const lm_arch_space *as) {
    if (!as) return 0;
    switch (as->family) {
    case LM_ARCH_CELL:
        return lm_arch_cell_genome_size(as->blocks);
    case LM_ARCH_CHAIN:
    case LM_ARCH_MLP: {
        if (as->max_depth < 1 || as->max_depth > LM_ARCH_CHAIN_MAX_DEPTH) return 0;
        lm__chain_layout lo;
        lm__arch_chain_layout(as, &lo);
        return 1 + (size_t)as->max_depth * (size_t)lo.per_slot;
    }
    case LM_ARCH_GCNN:
        if (as->stages < 1 || as->stages > LM_ARCH_GCNN_MAX_STAGES || as->nodes < 2 ||
            as->nodes > LM_ARCH_GCNN_MAX_NODES)
            return 0;
        return (size_t)as->stages * (size_t)(as->nodes * (as->nodes - 1) / 2);
    }
    return 0;
}

/* ---- gene names ---- */

static int put_name(size_t cap, int len) {
    LM_CHECK(len >= 0 && (size_t)len < cap, LM_ERANGE,
             "arch gene name: buffer of %zu bytes too small", cap);
    return LM_OK;
}

int lm_arch_gene_info(const lm_arch_space *as, size_t i, char *name, size_t cap, int32_t *lo,
                      int32_t *hi) {
    LM_CALL(lm_arch_space_check(as));
    size_t n = lm_arch_genome_size(as);
    LM_CHECK(name && lo && hi && cap > 0, LM_EINVAL, "arch gene info: NULL argument");
    LM_CHECK(i < n, LM_EINVAL, "arch gene info: gene %zu, genome has %zu", i, n);
    if (as->family == LM_ARCH_CELL) {
        int b = (int)((i / 4) % (size_t)as->blocks), k = (int)(i % 4) / 2 + 1;
        int input = i % 2 == 0;
        *lo = 0;
        *hi = input ? b + 1 : LM_ARCH_CELL_N_OPS - 1;
        return put_name(cap,
                        snprintf(name, cap, "arch.%s.b%d.%s%d",
                                 i / 4 < (size_t)as->blocks ? "normal" : "reduce", b,
                                 input ? "in" : "op", k));
    }
    if (as->family == LM_ARCH_GCNN) {
        size_t per = (size_t)as->nodes * (size_t)(as->nodes - 1) / 2, r = i % per;
        int j = 1;
        while ((size_t)(j + 1) * (size_t)j / 2 <= r) j++;
        *lo = 0;
        *hi = 1;
        return put_name(cap,
                        snprintf(name, cap, "arch.s%zu.e%d_%d", i / per,
                                 (int)(r - (size_t)j * (size_t)(j - 1) / 2), j));
    }
    if (i == 0) {
        *lo = as->min_depth;
        *hi = as->max_depth;
        return put_name(cap, snprintf(name, cap, "arch.depth"));
    }
    lm__chain_layout l;
    lm__arch_chain_layout(as, &l);
    int slot = (int)((i - 1) / (size_t)l.per_slot), f = (int)((i - 1) % (size_t)l.per_slot);
    const char *what = "type";
    lm_arch_layer_type types[LM_ARCH_LAYER_N];
    *lo = 0;
    if (f == l.type) {
        *hi = lm__arch_chain_types(as, types) - 1;
    } else if (f == l.kernel) {
        what = "kernel";
        *hi = as->n_kernels - 1;
    } else if (f == l.width) {
        what = "width";
        *hi = as->n_widths - 1;
    } else if (f == l.stride) {
        what = "stride";
        *hi = as->n_strides - 1;
    } else {
        what = "skip";
        *hi = (int32_t)((1u << slot) - 1u);
    }
    return put_name(cap, snprintf(name, cap, "arch.l%d.%s", slot, what));
}

/* ---- dispatch ---- */

int lm_arch_check(const lm_arch_space *as, const int32_t *g, size_t n) {
    LM_CALL(lm_arch_space_check(as));
    switch (as->family) {
    case LM_ARCH_CELL:
        return lm_arch_cell_check(g, n, as->blocks);
    case LM_ARCH_GCNN:
        return lm_arch_gcnn_check(as, g, n);
    default:
        return lm_arch_chain_check(as, g, n);
    }
}

int lm_arch_repair(const lm_arch_space *as, int32_t *g, size_t n) {
    LM_CALL(lm_arch_space_check(as));
    switch (as->family) {
    case LM_ARCH_CELL:
        return lm_arch_cell_repair(g, n, as->blocks);
    case LM_ARCH_GCNN:
        return lm_arch_gcnn_repair(as, g, n);
    default:
        return lm_arch_chain_repair(as, g, n);
    }
}

static int family_random(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    switch (as->family) {
    case LM_ARCH_CELL:
        return lm_arch_cell_random(rng, g, n, as->blocks);
    case LM_ARCH_GCNN:
        return lm_arch_gcnn_random(as, rng, g, n);
    default:
        return lm_arch_chain_random(as, rng, g, n);
    }
}

int lm_arch_decode(const lm_arch_space *as, const int32_t *g, size_t n, lm_arch_net *out) {
    LM_CHECK(out, LM_EINVAL, "arch decode: NULL output");
    memset(out, 0, sizeof *out);
    LM_CALL(lm_arch_space_check(as));
    switch (as->family) {
    case LM_ARCH_CELL:
        LM_CALL(lm__arch_need_shape(as));
        LM_CALL(lm_arch_cell_check(g, n, as->blocks));
        return lm_arch_cell_decode(g, as->blocks, as->cells, as->filters, as->stages, as->in_c,
                                   as->in_h, as->in_w, as->n_classes, out);
    case LM_ARCH_GCNN:
        return lm_arch_gcnn_decode(as, g, n, out);
    default:
        return lm_arch_chain_decode(as, g, n, out);
    }
}

int lm_arch_hash(const lm_arch_space *as, const int32_t *g, size_t n, uint64_t *out) {
    LM_CALL(lm_arch_space_check(as));
    switch (as->family) {
    case LM_ARCH_CELL:
        return lm_arch_cell_hash(g, n, as->blocks, out);
    case LM_ARCH_GCNN:
        return lm_arch_gcnn_hash(as, g, n, out);
    default:
        return lm_arch_chain_hash(as, g, n, out);
    }
}

int lm_arch_crossover(const lm_arch_space *as, lm_rng *rng, int uniform, const int32_t *a,
                      const int32_t *b, int32_t *child, size_t n) {
    LM_CALL(lm_arch_space_check(as));
    switch (as->family) {
    case LM_ARCH_CELL:
        return lm_arch_cell_crossover(rng, a, b, child, n, as->blocks);
    case LM_ARCH_GCNN:
        return lm_arch_gcnn_crossover(as, rng, a, b, child, n);
    default:
        return lm_arch_chain_crossover(as, rng, uniform, a, b, child, n);
    }
}

/* Applies operator op; LM_ARCH_NOT_APPLICABLE when it cannot change g. */
static int apply_op(const lm_arch_space *as, lm_rng *rng, int op, int32_t *g, size_t n) {
    switch (op) {
    case LM_ARCH_MUT_ADD_LAYER:
        return lm_arch_chain_add_layer(as, rng, g, n);
    case LM_ARCH_MUT_REMOVE_LAYER:
        return lm_arch_chain_remove_layer(as, rng, g, n);
    case LM_ARCH_MUT_CHANGE_KERNEL:
        return lm_arch_chain_change_kernel(as, rng, g, n);
    case LM_ARCH_MUT_CHANGE_WIDTH:
        return lm_arch_chain_change_width(as, rng, g, n);
    case LM_ARCH_MUT_CHANGE_STRIDE:
        return lm_arch_chain_change_stride(as, rng, g, n);
    case LM_ARCH_MUT_ADD_SKIP:
        return lm_arch_chain_add_skip(as, rng, g, n);
    case LM_ARCH_MUT_REMOVE_SKIP:
        return lm_arch_chain_remove_skip(as, rng, g, n);
    case LM_ARCH_MUT_CHANGE_TYPE:
        return lm_arch_chain_change_type(as, rng, g, n);
    case LM_ARCH_MUT_CHANGE_OP:
        return lm_arch_cell_mutate_op(rng, g, n, as->blocks);
    case LM_ARCH_MUT_CHANGE_INPUT:
        return lm_arch_cell_mutate_input(rng, g, n, as->blocks);
    case LM_ARCH_MUT_FLIP_EDGE:
        return lm_arch_gcnn_flip_edges(as, rng, g, n);
    default:
        LM_FAIL(LM_EINTERNAL, "arch mutation: operator %d", op);
    }
}

/* One mutation: operators drawn by weight; one that does not apply is dropped. */
static int mutate_once(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n, int *op_out) {
    double w[LM_ARCH_MUT_N], total = 0;
    for (int op = 0; op < LM_ARCH_MUT_N; op++) {
        w[op] = family_has(as, op) ? as->mutation_prob[op] : 0;
        total += w[op];
    }
    while (total > 0) {
        double u = lm_rng_uniform(rng) * total;
        int op = -1;
        /* Rounding may leave u past the last weight: op is then the last positive one. */
        for (int o = 0; o < LM_ARCH_MUT_N; o++) {
            if (w[o] <= 0) continue;
            op = o;
            if (u < w[o]) break;
            u -= w[o];
        }
        int rc = apply_op(as, rng, op, g, n);
        LM_CALL(rc);
        if (rc == LM_OK) {
            *op_out = op;
            return LM_OK;
        }
        w[op] = 0;
        total = 0;
        for (int o = 0; o < LM_ARCH_MUT_N; o++) total += w[o];
    }
    LM_FAIL(LM_EINVAL, "arch mutation: no operator with a positive weight applies to this genome");
}

/* ---- constraints ---- */

/* Writes v with thousands separators ("312,456"). */
static void group(int64_t v, char *buf, size_t cap) {
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t nd = strlen(digits), k = 0;
    char out[48];
    if (v < 0) out[k++] = '-';
    for (size_t i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = 0;
    snprintf(buf, cap, "%s", out);
}

static void group_d(double v, char *buf, size_t cap) {
    if (v < 9e18)
        group((int64_t)llround(v), buf, cap);
    else
        snprintf(buf, cap, "%.3g", v);
}

static int within(const lm_arch_space *as, const lm_arch_net *net, int *params_ok, int *flops_ok) {
    *params_ok = as->max_params == 0 || net->params <= as->max_params;
    *flops_ok = as->max_flops == 0 || (double)net->flops <= as->max_flops;
    return *params_ok && *flops_ok;
}

int lm_arch_check_constraints(const lm_arch_space *as, const lm_arch_net *net) {
    LM_CHECK(as && net, LM_EINVAL, "arch constraints: NULL argument");
    int pok, fok;
    if (within(as, net, &pok, &fok)) return LM_OK;
    char a[48], b[48];
    if (!pok) {
        group(net->params, a, sizeof a);
        group(as->max_params, b, sizeof b);
        LM_FAIL(LM_ERANGE, "architecture has %s parameters, above max_params %s", a, b);
    }
    group(net->flops, a, sizeof a);
    group_d(as->max_flops, b, sizeof b);
    LM_FAIL(LM_ERANGE, "architecture has %s FLOPs per sample, above max_flops %s", a, b);
}

static int constrained(const lm_arch_space *as) { return as->max_params > 0 || as->max_flops > 0; }

/* Tracks the attempts of a retry loop for the failure message. */
typedef struct {
    int64_t min_params, min_flops;
    int params_met, flops_met;
    double best; /* smallest excess over the limits seen */
} attempts;

static void attempts_init(attempts *at) {
    at->min_params = at->min_flops = INT64_MAX;
    at->params_met = at->flops_met = 0;
    at->best = INFINITY;
}

/* Decodes g and records it; *ok when it meets the constraints, *better when it is
 * the closest so far. */
static int attempt(const lm_arch_space *as, const int32_t *g, size_t n, attempts *at, int *ok,
                   int *better) {
    lm_arch_net net;
    LM_CALL(lm_arch_decode(as, g, n, &net));
    int pok, fok;
    *ok = within(as, &net, &pok, &fok);
    at->params_met |= pok;
    at->flops_met |= fok;
    if (net.params < at->min_params) at->min_params = net.params;
    if (net.flops < at->min_flops) at->min_flops = net.flops;
    double ex = 0;
    if (as->max_params > 0) ex = fmax(ex, (double)net.params / (double)as->max_params);
    if (as->max_flops > 0) ex = fmax(ex, (double)net.flops / as->max_flops);
    *better = ex < at->best;
    if (*better) at->best = ex;
    lm_arch_net_fini(&net);
    return LM_OK;
}

static int attempts_fail(const lm_arch_space *as, const attempts *at, const char *what) {
    char a[48], b[48];
    if (!at->params_met) {
        group(at->min_params, a, sizeof a);
        group(as->max_params, b, sizeof b);
        LM_FAIL(LM_ERANGE,
                "%s: no architecture within max_params %s in %d tries; the smallest had %s "
                "parameters",
                what, b, as->max_tries, a);
    }
    if (!at->flops_met) {
        group(at->min_flops, a, sizeof a);
        group_d(as->max_flops, b, sizeof b);
        LM_FAIL(LM_ERANGE,
                "%s: no architecture within max_flops %s in %d tries; the smallest had %s FLOPs "
                "per sample",
                what, b, as->max_tries, a);
    }
    group(as->max_params, a, sizeof a);
    group_d(as->max_flops, b, sizeof b);
    LM_FAIL(LM_ERANGE,
            "%s: no architecture within both max_params %s and max_flops %s in %d tries (each "
            "was met alone)",
            what, a, b, as->max_tries);
}

int lm_arch_random(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n) {
    LM_CALL(lm_arch_space_check(as));
    LM_CHECK(rng && g, LM_EINVAL, "arch random: NULL argument");
    if (!constrained(as)) return family_random(as, rng, g, n);
    LM_CALL(lm__arch_need_shape(as));
    LM_CHECK(n == lm_arch_genome_size(as), LM_EINVAL, "arch random: length %zu, expected %zu", n,
             lm_arch_genome_size(as));
    int32_t *cur = malloc(n * sizeof *cur);
    LM_CHECK_ALLOC(cur);
    attempts at;
    attempts_init(&at);
    int rc = LM_OK, ok = 0;
    for (int t = 0; t < as->max_tries && !ok; t++) {
        int better = 0;
        LM_CALL_GOTO(rc, family_random(as, rng, cur, n), done);
        LM_CALL_GOTO(rc, attempt(as, cur, n, &at, &ok, &better), done);
        if (better || ok) memcpy(g, cur, n * sizeof *g);
    }
    if (!ok) rc = attempts_fail(as, &at, "arch random");
done:
    free(cur);
    return rc;
}

int lm_arch_mutate(const lm_arch_space *as, lm_rng *rng, int32_t *g, size_t n, int *op_applied) {
    int op_dummy;
    if (!op_applied) op_applied = &op_dummy;
    *op_applied = -1;
    LM_CALL(lm_arch_check(as, g, n));
    LM_CHECK(rng, LM_EINVAL, "arch mutation: NULL rng");
    if (!constrained(as)) return mutate_once(as, rng, g, n, op_applied);
    LM_CALL(lm__arch_need_shape(as));
    int32_t *cur = malloc(n * sizeof *cur);
    LM_CHECK_ALLOC(cur);
    attempts at;
    attempts_init(&at);
    int rc = LM_OK, ok = 0, op = -1;
    for (int t = 0; t < as->max_tries && !ok; t++) {
        int better = 0;
        memcpy(cur, g, n * sizeof *g);
        LM_CALL_GOTO(rc, mutate_once(as, rng, cur, n, &op), done);
        LM_CALL_GOTO(rc, attempt(as, cur, n, &at, &ok, &better), done);
    }
    if (ok) {
        memcpy(g, cur, n * sizeof *g);
        *op_applied = op;
    } else {
        rc = attempts_fail(as, &at, "arch mutation");
    }
done:
    free(cur);
    return rc;
}

/* ---- node builder ---- */

int lm__arch_need_shape(const lm_arch_space *as) {
    LM_CHECK(as->in_c >= 1 && as->in_h >= 1 && as->in_w >= 1 && as->n_classes >= 1, LM_EINVAL,
             "arch space: the sample shape (in_c x in_h x in_w = %dx%dx%d) and n_classes (%d) "
             "must be set before decoding",
             as->in_c, as->in_h, as->in_w, as->n_classes);
    return LM_OK;
}

int lm__arch_node(lm__arch_builder *bd, lm_arch_node_kind kind, const int *in, int n_in, int c,
                  int k, int stride, int dilation, int *id) {
    lm_arch_net *net = bd->net;
    LM_CHECK(n_in >= 0 && n_in <= LM_ARCH_MAX_INPUTS, LM_EINTERNAL,
             "arch decode: node with %d inputs", n_in);
    if (net->n_nodes == bd->cap) {
        LM_CHECK(bd->cap < MAX_NODES, LM_ERANGE, "arch decode: more than %d nodes", MAX_NODES);
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
    nd->kh = nd->kw = k;
    nd->stride = stride;
    nd->dilation = dilation;
    nd->c = c;
    if (n_in > 0) {
        const lm_arch_node *src = &net->nodes[in[0]];
        int s = stride > 0 ? stride : 1;
        nd->h = (src->h + s - 1) / s;
        nd->w = (src->w + s - 1) / s;
        if (c <= 0) nd->c = src->c;
    }
    if (kind == LM_ARCH_NODE_CONCAT) {
        nd->c = 0;
        for (int i = 0; i < n_in; i++) nd->c += net->nodes[in[i]].c;
    } else if (kind == LM_ARCH_NODE_GLOBAL_AVG_POOL || kind == LM_ARCH_NODE_DENSE) {
        nd->h = nd->w = 1;
    }
    *id = net->n_nodes++;
    return LM_OK;
}

int lm__arch_begin(lm__arch_builder *bd, const lm_arch_space *as, lm_arch_net *out) {
    memset(out, 0, sizeof *out);
    bd->net = out;
    bd->cap = 0;
    int x;
    LM_CALL(lm__arch_node(bd, LM_ARCH_NODE_INPUT, NULL, 0, as->in_c, 0, 0, 0, &x));
    out->nodes[x].h = as->in_h;
    out->nodes[x].w = as->in_w;
    return LM_OK;
}

int lm__arch_finish(lm__arch_builder *bd, const lm_arch_space *as, int last, int flat) {
    if (!flat)
        LM_CALL(lm__arch_node(bd, LM_ARCH_NODE_GLOBAL_AVG_POOL, &last, 1, 0, 0, 0, 0, &last));
    LM_CALL(lm__arch_node(bd, LM_ARCH_NODE_DENSE, &last, 1, as->n_classes, 0, 0, 0, &last));
    return lm_arch_net_cost(bd->net, &bd->net->params, &bd->net->flops);
}
