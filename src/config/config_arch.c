/* model.space: the architecture space searched beside the hyperparameters.
 *
 *     model:
 *       space: cell                  # fixed (default: model.type's network), mlp, chain,
 *                                    # cell, gcnn
 *       architecture: {blocks: 3, cells: 1, filters: 8, stages: 2}
 *       constraints: {max_params: 200000, max_flops: 2.0e7, max_latency_ms: 5}
 *       mutation: {change_op: 2, change_input: 1}
 *
 * The family's settings start from lm_arch_space_default and are checked by
 * lm_arch_space_check; the genes are appended to the space after the space: section's
 * hyperparameters (lm_space_add_arch), so every searcher draws, varies and records
 * architectures as it does hyperparameters. */
#include "config_internal.h"

#include "lamarck/arch.h"
#include "lamarck/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const families[] = {"fixed", "mlp", "chain", "cell", "gcnn"};
static const lm_arch_family family_of[] = {0, LM_ARCH_MLP, LM_ARCH_CHAIN, LM_ARCH_CELL,
                                           LM_ARCH_GCNN};
#define N_FAMILIES 5

static const char *const layer_names[LM_ARCH_LAYER_N] = {
    "conv", "sep_conv", "dil_conv", "max_pool", "avg_pool", "dense", "identity"};
static const char *const skip_names[] = {"none", "add", "concat"};

/* The keys of model.architecture per family. */
static const char *const cell_keys[] = {"blocks", "cells", "filters", "stages"};
static const char *const chain_keys[] = {"min_depth", "max_depth", "types",  "kernels",
                                         "widths",    "strides",   "skips",  "stages",
                                         "stem_filters"};
static const char *const mlp_keys[] = {"min_depth", "max_depth", "widths", "skips"};
static const char *const gcnn_keys[] = {"stages", "nodes", "filters", "flip_prob"};
static const char *const constraint_keys[] = {"max_params", "max_flops", "max_latency_ms"};

#define COUNT(a) ((int)(sizeof a / sizeof *a))
#define KEYS_MAX 16

static int get_int(const char *path, const lm__ynode *v, const char *kp, int lo, int hi, int *out) {
    long long x;
    LM_CALL(lm__yn_integer(path, v, kp, lo, hi, &x));
    *out = (int)x;
    return LM_OK;
}

/* A list of integers (or one integer) into out[0..cap). */
static int get_int_list(const char *path, const lm__ynode *v, const char *kp, int lo, int hi,
                        int cap, int *out, int *n) {
    if (v->kind == LM__YN_SCALAR) {
        *n = 1;
        return get_int(path, v, kp, lo, hi, out);
    }
    if (v->kind != LM__YN_SEQ || v->n == 0 || v->n > cap) {
        char got[128];
        lm__yn_describe(v, got, sizeof got);
        LM__CFAIL(path, v, kp, "expected a list of 1 to %d integers in [%d, %d], got %s", cap,
                  lo, hi, got);
    }
    for (int i = 0; i < v->n; i++) {
        LM_CALL(get_int(path, v->kid[i], kp, lo, hi, &out[i]));
        for (int j = 0; j < i; j++)
            if (out[j] == out[i]) LM__CFAIL(path, v->kid[i], kp, "%d is listed twice", out[i]);
    }
    *n = v->n;
    return LM_OK;
}

static int get_choice(const char *path, const lm__ynode *v, const char *kp, const char *what,
                      const char *const *names, int n, int *out) {
    const char *s;
    LM_CALL(lm__yn_string(path, v, kp, &s));
    LM_CALL(lm__config_choice(path, v, kp, what, s, names, n));
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) *out = i;
    return LM_OK;
}

/* types: [conv, sep_conv, ...] into a mask. */
static int get_types(const char *path, const lm__ynode *v, const char *kp, unsigned *mask) {
    *mask = 0;
    int n = v->kind == LM__YN_SEQ ? v->n : 1;
    if (v->kind == LM__YN_MAP || n == 0)
        LM__CFAIL(path, v, kp, "expected a list of layer types (conv, sep_conv, dil_conv, "
                               "max_pool, avg_pool, dense, identity)");
    for (int i = 0; i < n; i++) {
        const lm__ynode *t = v->kind == LM__YN_SEQ ? v->kid[i] : v;
        int k = 0;
        LM_CALL(get_choice(path, t, kp, "layer type", layer_names, LM_ARCH_LAYER_N, &k));
        *mask |= 1u << k;
    }
    return LM_OK;
}

static int parse_architecture(const char *path, const lm__ynode *m, lm_arch_space *as) {
    const char *const *keys;
    int nk;
    switch (as->family) {
    case LM_ARCH_CELL: keys = cell_keys, nk = COUNT(cell_keys); break;
    case LM_ARCH_CHAIN: keys = chain_keys, nk = COUNT(chain_keys); break;
    case LM_ARCH_MLP: keys = mlp_keys, nk = COUNT(mlp_keys); break;
    default: keys = gcnn_keys, nk = COUNT(gcnn_keys); break;
    }
    const lm__ynode *seen[KEYS_MAX] = {0};
    for (int i = 0; m && i < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        int key = lm__yn_key(path, k, "model.architecture", "key", keys, nk, seen);
        LM_CALL(key);
        const char *name = keys[key];
        char kp[96];
        snprintf(kp, sizeof kp, "model.architecture.%s", name);
        if (!strcmp(name, "blocks"))
            LM_CALL(get_int(path, v, kp, 1, LM_ARCH_CELL_MAX_BLOCKS, &as->blocks));
        else if (!strcmp(name, "cells"))
            LM_CALL(get_int(path, v, kp, 1, 16, &as->cells));
        else if (!strcmp(name, "filters"))
            LM_CALL(get_int(path, v, kp, 1, 1024, &as->filters));
        else if (!strcmp(name, "stages"))
            LM_CALL(get_int(path, v, kp, 1, LM_ARCH_GCNN_MAX_STAGES, &as->stages));
        else if (!strcmp(name, "min_depth"))
            LM_CALL(get_int(path, v, kp, 1, LM_ARCH_CHAIN_MAX_DEPTH, &as->min_depth));
        else if (!strcmp(name, "max_depth"))
            LM_CALL(get_int(path, v, kp, 1, LM_ARCH_CHAIN_MAX_DEPTH, &as->max_depth));
        else if (!strcmp(name, "types"))
            LM_CALL(get_types(path, v, kp, &as->types));
        else if (!strcmp(name, "kernels"))
            LM_CALL(get_int_list(path, v, kp, 1, 7, LM_ARCH_MAX_KERNELS, as->kernels,
                                 &as->n_kernels));
        else if (!strcmp(name, "widths"))
            LM_CALL(get_int_list(path, v, kp, 1, 4096, LM_ARCH_MAX_WIDTHS, as->widths,
                                 &as->n_widths));
        else if (!strcmp(name, "strides"))
            LM_CALL(get_int_list(path, v, kp, 1, 2, 2, as->strides, &as->n_strides));
        else if (!strcmp(name, "skips")) {
            int s = 0;
            LM_CALL(get_choice(path, v, kp, "skip kind", skip_names, 3, &s));
            as->skips = (lm_arch_skip)s;
        } else if (!strcmp(name, "stem_filters"))
            LM_CALL(get_int(path, v, kp, 0, 1024, &as->stem_filters));
        else if (!strcmp(name, "nodes"))
            LM_CALL(get_int(path, v, kp, 2, LM_ARCH_GCNN_MAX_NODES, &as->nodes));
        else {
            double q;
            LM_CALL(lm__yn_number(path, v, kp, &q));
            if (!(q > 0 && q <= 1)) LM__CFAIL(path, v, kp, "expected a number in (0, 1], got %s", v->str);
            as->flip_prob = q;
        }
    }
    return LM_OK;
}

static int parse_constraints(const char *path, const lm__ynode *m, lm_arch_space *as,
                             double *max_latency) {
    const lm__ynode *seen[COUNT(constraint_keys)] = {0};
    for (int i = 0; m && i < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        int key = lm__yn_key(path, k, "model.constraints", "key", constraint_keys,
                             COUNT(constraint_keys), seen);
        LM_CALL(key);
        char kp[96];
        snprintf(kp, sizeof kp, "model.constraints.%s", constraint_keys[key]);
        double x;
        LM_CALL(lm__yn_number(path, v, kp, &x));
        if (!(x > 0) || !isfinite(x) || x > 9e15)
            LM__CFAIL(path, v, kp, "expected a positive number, got %s", v->str);
        if (key == 0) {
            if (x != floor(x)) LM__CFAIL(path, v, kp, "expected an integer, got %s", v->str);
            as->max_params = (int64_t)x;
        } else if (key == 1) {
            as->max_flops = x;
        } else {
            *max_latency = x / 1000;
        }
    }
    return LM_OK;
}

static int parse_mutation(const char *path, const lm__ynode *m, lm_arch_space *as) {
    const char *names[LM_ARCH_MUT_N];
    for (int i = 0; i < LM_ARCH_MUT_N; i++) names[i] = lm_arch_mutation_name(i);
    const lm__ynode *seen[LM_ARCH_MUT_N] = {0};
    for (int i = 0; m && i < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        int op = lm__yn_key(path, k, "model.mutation", "operator", names, LM_ARCH_MUT_N, seen);
        LM_CALL(op);
        char kp[96];
        snprintf(kp, sizeof kp, "model.mutation.%s", names[op]);
        double w;
        LM_CALL(lm__yn_number(path, v, kp, &w));
        if (!(w >= 0) || !isfinite(w))
            LM__CFAIL(path, v, kp, "expected a relative weight >= 0, got %s", v->str);
        as->mutation_prob[op] = w;
    }
    return LM_OK;
}

int lm__config_arch(const char *path, const lm__ynode *model, lm_config *c) {
    const lm__ynode *sv = lm__config_lookup(model, "space");
    const lm__ynode *av = lm__config_lookup(model, "architecture");
    const lm__ynode *cv = lm__config_lookup(model, "constraints");
    const lm__ynode *mv = lm__config_lookup(model, "mutation");
    int f = 0;
    if (sv) LM_CALL(get_choice(path, sv, "model.space", "architecture space", families,
                               N_FAMILIES, &f));
    if (f == 0) {
        const lm__ynode *extra = av ? av : cv ? cv : mv;
        if (extra)
            LM__CFAIL(path, extra, "model",
                      "architecture settings need an architecture space: add model.space "
                      "(mlp, chain, cell or gcnn)");
        return LM_OK;
    }
    lm_arch_space *as = &c->arch;
    lm_arch_space_default(as, family_of[f]);
    const lm__ynode *m;
    if (av) {
        LM_CALL(lm__yn_map(path, av, "model.architecture", &m));
        LM_CALL(parse_architecture(path, m, as));
    }
    if (cv) {
        LM_CALL(lm__yn_map(path, cv, "model.constraints", &m));
        LM_CALL(parse_constraints(path, m, as, &c->max_latency));
    }
    if (mv) {
        LM_CALL(lm__yn_map(path, mv, "model.mutation", &m));
        LM_CALL(parse_mutation(path, m, as));
    }
    const lm__ynode *at = av ? av : sv;
    if (lm_arch_space_check(as) < 0) LM__CWRAP(path, at, "model.architecture");
    if (lm_space_add_arch(c->space, as) < 0) LM__CWRAP(path, sv, "model.space");
    c->has_arch = 1;
    return LM_OK;
}
