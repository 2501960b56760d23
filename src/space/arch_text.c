#define _POSIX_C_SOURCE 200809L
/* Text forms of architecture spaces and genomes: the readable multi-line form of a
 * genome, the one-line description of a space (an HDF5 attribute) and its parser,
 * and the names of the mutation operators. */
#include "arch_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lamarck/error.h"
#include "lamarck/strutil.h"

#define DESC_MAX 4096 /* longest description parsed */

static const char *const MUT_NAME[LM_ARCH_MUT_N] = {
    "add_layer", "remove_layer", "change_kernel", "change_width", "add_skip",
    "remove_skip", "change_type", "change_op", "change_input", "flip_edge", "change_stride"};

static const char *const FAMILY_NAME[4] = {"cell", "chain", "mlp", "gcnn"};
static const char *const SKIP_NAME[3] = {"none", "add", "concat"};
static const char *const OP_NAME[LM_ARCH_CELL_N_OPS] = {
    "identity", "sep3x3", "sep5x5", "sep7x7", "avg3x3", "max3x3", "dil3x3", "conv1x7_7x1"};

const char *lm_arch_mutation_name(int op) {
    return op >= 0 && op < LM_ARCH_MUT_N ? MUT_NAME[op] : "?";
}

int lm_arch_mutation_find(const char *name) {
    for (int op = 0; name && op < LM_ARCH_MUT_N; op++)
        if (!strcmp(name, MUT_NAME[op])) return op;
    return -1;
}

/* ---- bounded appending ---- */

typedef struct {
    char *buf;
    size_t cap, used;
    int truncated;
} out_buf;

__attribute__((format(printf, 2, 3))) static void put(out_buf *o, const char *fmt, ...) {
    if (o->truncated) return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->buf + o->used, o->cap - o->used, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= o->cap - o->used) {
        o->truncated = 1;
        o->buf[o->used] = 0;
        return;
    }
    o->used += (size_t)w;
}

static int finish(const out_buf *o, const char *what) {
    LM_CHECK(!o->truncated, LM_ERANGE, "%s: buffer of %zu bytes too small", what, o->cap);
    return LM_OK;
}

/* "312,456" */
static void put_grouped(out_buf *o, int64_t v) {
    char d[32];
    snprintf(d, sizeof d, "%lld", (long long)v);
    size_t nd = strlen(d), start = d[0] == '-';
    for (size_t i = 0; i < nd; i++) {
        if (i > start && (nd - i) % 3 == 0) put(o, ",");
        put(o, "%c", d[i]);
    }
}

/* ---- genome format ---- */

static void format_chain(const lm_arch_space *as, const lm_arch_chain *c, out_buf *o) {
    int S = as->stages;
    put(o, "%s depth %d", FAMILY_NAME[as->family], c->depth);
    if (as->family == LM_ARCH_CHAIN) {
        if (S > 1) put(o, ", %d stages", S);
        if (as->stem_filters > 0) put(o, ", stem conv 3x3 x%d", as->stem_filters);
    }
    put(o, "\n");
    for (int s = 0; s < S; s++) {
        int f = s * c->depth / S, e = (s + 1) * c->depth / S;
        if (S > 1) put(o, " stage %d%s:\n", s, s > 0 ? " (after max_pool 2x2 stride 2)" : "");
        for (int i = f; i < e; i++) {
            const lm_arch_layer *l = &c->layer[i];
            put(o, "  l%d: %s", i, lm__arch_layer_name(l->type));
            switch (l->type) {
            case LM_ARCH_LAYER_CONV:
            case LM_ARCH_LAYER_SEP_CONV:
                put(o, " %dx%d x%d stride %d", l->kernel, l->kernel, l->width, l->stride);
                break;
            case LM_ARCH_LAYER_DIL_CONV:
                put(o, " 3x3 dilation 2 x%d stride %d", l->width, l->stride);
                break;
            case LM_ARCH_LAYER_MAX_POOL:
            case LM_ARCH_LAYER_AVG_POOL:
                put(o, " %dx%d stride %d", l->kernel, l->kernel, l->stride);
                break;
            case LM_ARCH_LAYER_DENSE:
                put(o, " %d units", l->width);
                break;
            default:
                break;
            }
            if (l->skip) {
                put(o, ", %s skips from", SKIP_NAME[as->skips]);
                for (int k = 0; k < i; k++)
                    if (l->skip >> k & 1u) {
                        if (k == f)
                            put(o, s > 0 ? " stage input" : " input");
                        else
                            put(o, " l%d", k - 1);
                    }
            }
            put(o, "\n");
        }
    }
}

static void format_cell(const lm_arch_space *as, const lm_arch_cell *cell, out_buf *o) {
    for (int t = 0; t < 2; t++) {
        put(o, "%s cell:\n", t == 0 ? "normal" : "reduction");
        for (int b = 0; b < cell[t].n_blocks; b++) {
            put(o, "  b%d:", b);
            for (int k = 0; k < 2; k++) {
                int in = cell[t].in[b][k];
                char src[24];
                if (in < 2)
                    snprintf(src, sizeof src, "h[i-%d]", in + 1);
                else
                    snprintf(src, sizeof src, "b%d", in - 2);
                put(o, "%s %s(%s)", k ? " +" : "", OP_NAME[cell[t].op[b][k]], src);
            }
            put(o, "\n");
        }
    }
    put(o, "%d stages of %d normal cells, %d filters doubling\n", as->stages, as->cells,
        as->filters);
}

static void format_gcnn(const lm_arch_space *as, const int32_t *g, out_buf *o) {
    int k = as->nodes;
    size_t per = (size_t)k * (size_t)(k - 1) / 2;
    for (int s = 0; s < as->stages; s++) {
        const int32_t *bits = g + (size_t)s * per;
        put(o, "stage %d (%d filters):", s, as->filters << s);
        int any = 0;
        for (int j = 1; j < k; j++)
            for (int i = 0; i < j; i++)
                if (bits[(size_t)j * (size_t)(j - 1) / 2 + (size_t)i]) {
                    put(o, " %d->%d", i, j);
                    any = 1;
                }
        put(o, "%s\n", any ? "" : " no edges (one conv 3x3)");
    }
}

int lm_arch_format(const lm_arch_space *as, const int32_t *g, size_t n, char *buf, size_t cap) {
    LM_CALL(lm_arch_check(as, g, n));
    LM_CHECK(buf && cap > 0, LM_EINVAL, "arch format: NULL or empty buffer");
    out_buf o = {buf, cap, 0, 0};
    buf[0] = 0;
    if (as->family == LM_ARCH_CELL) {
        lm_arch_cell cell[2];
        LM_CALL(lm_arch_cell_parse(g, n, as->blocks, &cell[0], &cell[1]));
        format_cell(as, cell, &o);
    } else if (as->family == LM_ARCH_GCNN) {
        format_gcnn(as, g, &o);
    } else {
        lm_arch_chain c;
        LM_CALL(lm_arch_chain_parse(as, g, n, &c));
        format_chain(as, &c, &o);
    }
    if (as->in_c > 0 && as->n_classes > 0) {
        lm_arch_net net;
        LM_CALL(lm_arch_decode(as, g, n, &net));
        put(&o, "params ");
        put_grouped(&o, net.params);
        put(&o, ", FLOPs ");
        put_grouped(&o, net.flops);
        put(&o, " per %dx%dx%d sample\n", as->in_c, as->in_h, as->in_w);
        lm_arch_net_fini(&net);
    }
    return finish(&o, "arch format");
}

/* ---- description ---- */

static void put_list(out_buf *o, const char *key, const int *v, int n) {
    put(o, " %s=", key);
    for (int i = 0; i < n; i++) put(o, "%s%d", i ? "," : "", v[i]);
}

int lm_arch_describe(const lm_arch_space *as, char *buf, size_t cap) {
    LM_CALL(lm_arch_space_check(as));
    LM_CHECK(buf && cap > 0, LM_EINVAL, "arch describe: NULL or empty buffer");
    out_buf o = {buf, cap, 0, 0};
    buf[0] = 0;
    put(&o, "family=%s", FAMILY_NAME[as->family]);
    switch (as->family) {
    case LM_ARCH_CELL:
        put(&o, " blocks=%d cells=%d filters=%d stages=%d", as->blocks, as->cells, as->filters,
            as->stages);
        break;
    case LM_ARCH_GCNN:
        put(&o, " stages=%d nodes=%d filters=%d flip_prob=%.17g", as->stages, as->nodes,
            as->filters, as->flip_prob);
        break;
    default:
        put(&o, " min_depth=%d max_depth=%d types=", as->min_depth, as->max_depth);
        lm_arch_layer_type types[LM_ARCH_LAYER_N];
        int nt = lm__arch_chain_types(as, types);
        for (int i = 0; i < nt; i++) put(&o, "%s%s", i ? "," : "", lm__arch_layer_name(types[i]));
        if (as->family == LM_ARCH_CHAIN) put_list(&o, "kernels", as->kernels, as->n_kernels);
        put_list(&o, "widths", as->widths, as->n_widths);
        if (as->family == LM_ARCH_CHAIN) {
            put_list(&o, "strides", as->strides, as->n_strides);
            put(&o, " stages=%d stem_filters=%d", as->stages, as->stem_filters);
        }
        put(&o, " skips=%s", SKIP_NAME[as->skips]);
        break;
    }
    put(&o, " in=%dx%dx%d n_classes=%d max_params=%lld max_flops=%.17g max_tries=%d", as->in_c,
        as->in_h, as->in_w, as->n_classes, (long long)as->max_params, as->max_flops,
        as->max_tries);
    put(&o, " mutation=");
    for (int op = 0; op < LM_ARCH_MUT_N; op++)
        put(&o, "%s%s:%.17g", op ? "," : "", MUT_NAME[op], as->mutation_prob[op]);
    return finish(&o, "arch describe");
}

/* ---- parsing the description ---- */

static int parse_int(const char *key, const char *s, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    LM_CHECK(*s && *end == 0 && errno == 0 && v >= lo && v <= hi, LM_EINVAL,
             "arch description: %s=%s, expected an integer in %ld..%ld", key, s, lo, hi);
    *out = (int)v;
    return LM_OK;
}

static int parse_double(const char *key, const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    LM_CHECK(*s && *end == 0 && isfinite(v), LM_EINVAL,
             "arch description: %s=%s, expected a finite number", key, s);
    *out = v;
    return LM_OK;
}

static int parse_list(const char *key, char *s, int max_n, int *v, int *n) {
    int k = 0;
    for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        LM_CHECK(k < max_n, LM_EINVAL, "arch description: %s lists more than %d values", key,
                 max_n);
        LM_CALL(parse_int(key, t, 1, 1 << 24, &v[k++]));
    }
    LM_CHECK(k > 0, LM_EINVAL, "arch description: %s is empty", key);
    *n = k;
    return LM_OK;
}

static int find_name(const char *key, const char *s, const char *const *names, int n, int *out) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return LM_OK;
        }
    const char *near = lm_str_closest(s, names, n);
    LM_FAIL(LM_EINVAL, "arch description: %s=%s is unknown%s%s%s", key, s,
            near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
}

static int parse_types(char *s, unsigned *mask) {
    const char *names[LM_ARCH_LAYER_N];
    for (int t = 0; t < LM_ARCH_LAYER_N; t++) names[t] = lm__arch_layer_name((lm_arch_layer_type)t);
    *mask = 0;
    for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int k = 0;
        LM_CALL(find_name("types", t, names, LM_ARCH_LAYER_N, &k));
        *mask |= 1u << k;
    }
    return LM_OK;
}

static int parse_mutation(char *s, lm_arch_space *as) {
    for (char *save = NULL, *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        LM_CHECK(colon, LM_EINVAL,
                 "arch description: mutation entry '%s', expected name:weight", t);
        *colon = 0;
        int op = 0;
        LM_CALL(find_name("mutation", t, MUT_NAME, LM_ARCH_MUT_N, &op));
        LM_CALL(parse_double("mutation", colon + 1, &as->mutation_prob[op]));
    }
    return LM_OK;
}

static const char *const KEYS[] = {
    "family", "blocks", "cells", "filters", "stages", "min_depth", "max_depth", "types",
    "kernels", "widths", "strides", "skips", "stem_filters", "nodes", "flip_prob", "in",
    "n_classes", "max_params", "max_flops", "max_tries", "mutation"};
#define N_KEYS ((int)(sizeof KEYS / sizeof KEYS[0]))

static int parse_pair(const char *key, char *val, lm_arch_space *as) {
    int k = 0;
    LM_CALL(find_name("key", key, KEYS, N_KEYS, &k));
    const long big = 1L << 30;
    switch (k) {
    case 0: return LM_OK; /* family: read first */
    case 1: return parse_int(key, val, 0, big, &as->blocks);
    case 2: return parse_int(key, val, 0, big, &as->cells);
    case 3: return parse_int(key, val, 0, big, &as->filters);
    case 4: return parse_int(key, val, 0, big, &as->stages);
    case 5: return parse_int(key, val, 0, big, &as->min_depth);
    case 6: return parse_int(key, val, 0, big, &as->max_depth);
    case 7: return parse_types(val, &as->types);
    case 8: return parse_list(key, val, LM_ARCH_MAX_KERNELS, as->kernels, &as->n_kernels);
    case 9: return parse_list(key, val, LM_ARCH_MAX_WIDTHS, as->widths, &as->n_widths);
    case 10: return parse_list(key, val, 2, as->strides, &as->n_strides);
    case 11: {
        int s = 0;
        LM_CALL(find_name(key, val, SKIP_NAME, 3, &s));
        as->skips = (lm_arch_skip)s;
        return LM_OK;
    }
    case 12: return parse_int(key, val, 0, big, &as->stem_filters);
    case 13: return parse_int(key, val, 0, big, &as->nodes);
    case 14: return parse_double(key, val, &as->flip_prob);
    case 15: {
        char *x1 = strchr(val, 'x'), *x2 = x1 ? strchr(x1 + 1, 'x') : NULL;
        LM_CHECK(x1 && x2, LM_EINVAL, "arch description: in=%s, expected CxHxW", val);
        *x1 = *x2 = 0;
        LM_CALL(parse_int(key, val, 0, big, &as->in_c));
        LM_CALL(parse_int(key, x1 + 1, 0, big, &as->in_h));
        return parse_int(key, x2 + 1, 0, big, &as->in_w);
    }
    case 16: return parse_int(key, val, 0, big, &as->n_classes);
    case 17: {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        LM_CHECK(*val && *end == 0 && errno == 0 && v >= 0, LM_EINVAL,
                 "arch description: max_params=%s, expected an integer >= 0", val);
        as->max_params = v;
        return LM_OK;
    }
    case 18: return parse_double(key, val, &as->max_flops);
    case 19: return parse_int(key, val, 0, big, &as->max_tries);
    default: return parse_mutation(val, as);
    }
}

int lm_arch_space_parse_description(const char *desc, lm_arch_space *as) {
    LM_CHECK(desc && as, LM_EINVAL, "arch description: NULL argument");
    size_t len = strnlen(desc, DESC_MAX);
    LM_CHECK(len < DESC_MAX, LM_EINVAL, "arch description: longer than %d bytes", DESC_MAX - 1);
    char text[DESC_MAX];
    memcpy(text, desc, len + 1);
    const char *fam = strstr(text, "family=");
    LM_CHECK(fam && (fam == text || fam[-1] == ' '), LM_EINVAL,
             "arch description: no family= (cell, chain, mlp or gcnn) in '%.60s'", desc);
    char name[16];
    size_t fl = strcspn(fam + 7, " ");
    LM_CHECK(fl < sizeof name, LM_EINVAL, "arch description: family=%.20s is unknown", fam + 7);
    memcpy(name, fam + 7, fl);
    name[fl] = 0;
    int f = 0;
    LM_CALL(find_name("family", name, FAMILY_NAME, 4, &f));
    lm_arch_space tmp;
    lm_arch_space_default(&tmp, (lm_arch_family)f);
    for (char *save = NULL, *t = strtok_r(text, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(t, '=');
        LM_CHECK(eq && eq != t, LM_EINVAL, "arch description: '%s', expected key=value", t);
        *eq = 0;
        LM_CALL(parse_pair(t, eq + 1, &tmp));
    }
    LM_CALL(lm_arch_space_check(&tmp));
    *as = tmp;
    return LM_OK;
}
