/* The hyperparameter genome: a point of an lm_space seen through the genome operations
 * of evolve.h. Variation happens in unit-cube coordinates (lm_space_to_unit), where a
 * Gaussian step means the same for a learning rate on a log scale and a dropout rate
 * on a linear one, and decoding (lm_space_from_unit + lm_space_repair) always gives a
 * valid point.
 *
 * Conditionals. An inactive gene has no value (NAN) and encodes to a fresh uniform
 * number: a uniform unit coordinate decodes to a draw from the prior, so a mutation or
 * crossover that switches a gene on gives it a prior value rather than its lowest. */
#include "search/evolve.h"

#include "lamarck/error.h"
#include "lamarck/space.h"

#include <math.h>
#include <string.h>

static const lm_space *space_of(const void *ctx) { return ctx; }

static void hp_sample(const void *ctx, lm_rng *rng, double *g) {
    lm_space_sample(space_of(ctx), rng, g);
}

static void hp_encode(const void *ctx, lm_rng *rng, const double *g, double *u) {
    const lm_space *sp = space_of(ctx);
    int n = lm_space_size(sp);
    lm_space_to_unit(sp, g, u);
    for (int i = 0; i < n; i++)
        if (!lm_space_active(sp, g, i) || isnan(g[i])) u[i] = rng ? lm_rng_uniform(rng) : 0.5;
}

static void hp_decode(const void *ctx, const double *u, double *g) {
    const lm_space *sp = space_of(ctx);
    lm_space_from_unit(sp, u, g);
    lm_space_repair(sp, g);
}

static int same_value(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static uint64_t diff_mask(int n, const double *a, const double *b) {
    uint64_t m = 0;
    for (int i = 0; i < n; i++)
        if (!same_value(a[i], b[i])) m |= (uint64_t)1 << i;
    return m;
}

/* Whether gene i can take another value at all. */
static int changeable(const lm_hp *h) {
    if (h->kind == LM_HP_CATEGORICAL) return h->n_choices > 1;
    return h->high > h->low;
}

/* Reflects t into [0, 1] (a step past a bound comes back in, so bounds do not
 * collect mass as clipping would). */
static double reflect(double t) {
    t = fmod(fabs(t), 2.0);
    return t > 1 ? 2 - t : t;
}

/* Moves the unit coordinate u[i] of gene i as the contract of mutate says; x is the
 * point u decodes to, updated. */
static void mutate_gene(const lm_space *sp, lm_rng *rng, double sigma, int i, double *u,
                        double *x) {
    const lm_hp *h = lm_space_hp(sp, i);
    int n = lm_space_size(sp);
    double before = x[i];
    if (h->kind == LM_HP_CATEGORICAL) {
        /* Another choice, uniformly: a draw that may return the same one would make
         * the mutation a no-op for small categoricals. */
        int c = (int)floor(before + 0.5);
        int k = (int)lm_rng_below(rng, (uint64_t)(h->n_choices - 1));
        if (k >= c) k++;
        u[i] = (k + 0.5) / h->n_choices;
        hp_decode(sp, u, x);
        return;
    }
    double step = sigma * lm_rng_normal(rng);
    u[i] = reflect(u[i] + step);
    hp_decode(sp, u, x);
    if (h->kind == LM_HP_INT && x[i] == before) {
        /* The step stayed inside the integer's cell: move one value its way. */
        double v = before + (step >= 0 ? 1 : -1);
        if (v > h->high || v < h->low) v = before - (step >= 0 ? 1 : -1);
        double tmp[LM_HP_MAX], ut[LM_HP_MAX];
        memcpy(tmp, x, (size_t)n * sizeof *tmp);
        tmp[i] = v;
        lm_space_to_unit(sp, tmp, ut);
        u[i] = ut[i];
        hp_decode(sp, u, x);
    }
}

/* Decoding is exact for ints and choices but may round a float by an ulp: genes the
 * variation did not touch get their parent's exact value back. */
static void restore_untouched(const lm_space *sp, const double *parent, const int *touched,
                              double *x) {
    int n = lm_space_size(sp);
    for (int i = 0; i < n; i++)
        if (!touched[i] && lm_space_active(sp, parent, i) && lm_space_active(sp, x, i) &&
            !isnan(parent[i]))
            x[i] = parent[i];
}

/* ---- architecture genes (lm_space_arch): varied by the space's named operators ---- */

static int arch_gene(int i, int first, int n_arch) { return i >= first && i < first + n_arch; }

static void arch_get(const double *x, int first, int n, int32_t *g) {
    for (int i = 0; i < n; i++) g[i] = isfinite(x[first + i]) ? (int32_t)x[first + i] : 0;
}

static void arch_put(const int32_t *g, int first, int n, double *x) {
    for (int i = 0; i < n; i++) x[first + i] = g[i];
}

/* One named architecture mutation (lm_arch_mutate: add a layer, change an operation,
 * ...). A genome no operator can change within the constraints stays as it is. */
static void arch_mutate(const lm_arch_space *as, int first, int n, lm_rng *rng, double *x) {
    int32_t g[LM_HP_MAX];
    arch_get(x, first, n, g);
    if (lm_arch_repair(as, g, (size_t)n) < 0 || lm_arch_mutate(as, rng, g, (size_t)n, NULL) < 0) {
        lm_error_clear();
        return;
    }
    arch_put(g, first, n, x);
}

static uint64_t hp_mutate(const void *ctx, lm_rng *rng, double sigma, double rate, double *g) {
    const lm_space *sp = space_of(ctx);
    int n = lm_space_size(sp);
    double parent[LM_HP_MAX], u[LM_HP_MAX];
    int cand[LM_HP_MAX], n_cand = 0, touched[LM_HP_MAX] = {0};
    memcpy(parent, g, (size_t)n * sizeof *g);
    int first = 0, n_arch = 0;
    const lm_arch_space *as = lm_space_arch(sp, &first, &n_arch);
    for (int i = 0; i < n; i++)
        if (lm_space_active(sp, g, i) && changeable(lm_space_hp(sp, i)) &&
            !arch_gene(i, first, n_arch))
            cand[n_cand++] = i;
    /* With an architecture, a child differs from its parent either in its architecture
     * (one named operator, as in Real et al. 2019) or in its other hyperparameters,
     * each with probability 1/2 (the architecture alone when there are none). */
    if (as && (n_cand == 0 || lm_rng_uniform(rng) < 0.5)) {
        arch_mutate(as, first, n_arch, rng, g);
        return diff_mask(n, parent, g);
    }
    if (n_cand == 0) return 0;
    hp_encode(sp, rng, g, u);
    double q = rate > 0 ? rate : 1.0 / n_cand;
    int picked[LM_HP_MAX], n_picked = 0;
    for (int j = 0; j < n_cand; j++)
        if (lm_rng_uniform(rng) < q) picked[n_picked++] = cand[j];
    if (n_picked == 0) picked[n_picked++] = cand[lm_rng_below(rng, (uint64_t)n_cand)];
    for (int j = 0; j < n_picked; j++) {
        /* An earlier pick may have switched this gene off through its condition. */
        if (!lm_space_active(sp, g, picked[j])) continue;
        touched[picked[j]] = 1;
        mutate_gene(sp, rng, sigma, picked[j], u, g);
    }
    restore_untouched(sp, parent, touched, g);
    return diff_mask(n, parent, g);
}

static void hp_crossover(const void *ctx, lm_rng *rng, lm__cross_kind kind, const double *a,
                         const double *b, double *child) {
    const lm_space *sp = space_of(ctx);
    int n = lm_space_size(sp);
    double ua[LM_HP_MAX], ub[LM_HP_MAX], uc[LM_HP_MAX];
    int from_a[LM_HP_MAX];
    hp_encode(sp, rng, a, ua);
    hp_encode(sp, rng, b, ub);
    /* A gene that only one parent uses is inherited from that parent whichever side
     * the child takes it from. */
    for (int i = 0; i < n; i++) {
        int aa = lm_space_active(sp, a, i), ab = lm_space_active(sp, b, i);
        if (aa && !ab) ub[i] = ua[i];
        if (ab && !aa) ua[i] = ub[i];
    }
    int cut = n > 1 ? 1 + (int)lm_rng_below(rng, (uint64_t)(n - 1)) : n;
    for (int i = 0; i < n; i++) {
        from_a[i] = kind == LM__CROSS_ONE_POINT ? i < cut : lm_rng_uniform(rng) < 0.5;
        uc[i] = from_a[i] ? ua[i] : ub[i];
    }
    hp_decode(sp, uc, child);
    /* Exact values from the parent each gene came from (see restore_untouched). */
    for (int i = 0; i < n; i++) {
        const double *src = from_a[i] ? a : b;
        if (!lm_space_active(sp, src, i) || isnan(src[i])) src = from_a[i] ? b : a;
        if (lm_space_active(sp, child, i) && lm_space_active(sp, src, i) && !isnan(src[i]))
            child[i] = src[i];
    }
    /* The architecture crosses over by its family's rule (layer slots, cell blocks,
     * stages), so that a child inherits whole building blocks. */
    int first, n_arch;
    const lm_arch_space *as = lm_space_arch(sp, &first, &n_arch);
    if (as) {
        int32_t ga[LM_HP_MAX], gb[LM_HP_MAX], gc[LM_HP_MAX];
        arch_get(a, first, n_arch, ga);
        arch_get(b, first, n_arch, gb);
        if (lm_arch_repair(as, ga, (size_t)n_arch) == LM_OK &&
            lm_arch_repair(as, gb, (size_t)n_arch) == LM_OK &&
            lm_arch_crossover(as, rng, kind == LM__CROSS_UNIFORM, ga, gb, gc,
                              (size_t)n_arch) == LM_OK)
            arch_put(gc, first, n_arch, child);
        lm_error_clear();
    }
}

/* The mean over genes of |ua - ub| when both are active, 1 when one is, 0 when
 * neither is. */
static double hp_distance(const void *ctx, const double *a, const double *b) {
    const lm_space *sp = space_of(ctx);
    int n = lm_space_size(sp);
    if (n == 0) return 0;
    double ua[LM_HP_MAX], ub[LM_HP_MAX], d = 0;
    lm_space_to_unit(sp, a, ua);
    lm_space_to_unit(sp, b, ub);
    for (int i = 0; i < n; i++) {
        int aa = lm_space_active(sp, a, i) && !isnan(a[i]);
        int ab = lm_space_active(sp, b, i) && !isnan(b[i]);
        if (aa && ab) d += fabs(ua[i] - ub[i]);
        else if (aa != ab) d += 1;
    }
    return d / n;
}

/* SplitMix64's finalizer: a good 64-bit mix for combining words. */
static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Hashes the repaired values, so that points equal as hyperparameters (an int held
 * as 3.0000001, an inactive entry holding a stale number) hash equal. */
static uint64_t hp_hash(const void *ctx, const double *g) {
    const lm_space *sp = space_of(ctx);
    int n = lm_space_size(sp);
    double x[LM_HP_MAX];
    memcpy(x, g, (size_t)n * sizeof *x);
    lm_space_repair(sp, x);
    uint64_t h = mix((uint64_t)n + 0x9e3779b97f4a7c15ULL);
    /* Architectures count by their canonical hash: isomorphic networks are one. */
    int first = 0, n_arch = 0;
    const lm_arch_space *as = lm_space_arch(sp, &first, &n_arch);
    if (as) {
        int32_t ga[LM_HP_MAX];
        uint64_t ah = 0;
        arch_get(x, first, n_arch, ga);
        if (lm_arch_hash(as, ga, (size_t)n_arch, &ah) < 0) lm_error_clear();
        h = mix(h ^ ah);
    }
    for (int i = 0; i < n; i++) {
        if (arch_gene(i, first, n_arch)) continue;
        uint64_t bits = 0x7ff8000000000000ULL; /* one NaN for all */
        double v = x[i] == 0 ? 0.0 : x[i];     /* -0 and 0 alike */
        if (!isnan(v)) memcpy(&bits, &v, sizeof bits);
        h = mix(h ^ bits) + (uint64_t)i;
    }
    return h;
}

static const double *hp_of_trial(const void *ctx, const lm_trials *t, int id) {
    (void)ctx;
    return id >= 0 && id < t->n ? t->v[id].hp : NULL;
}

static int hp_add_trial(const void *ctx, lm_trials *t, const double *g, int epochs, int *id) {
    (void)ctx;
    return lm_trials_add(t, g, epochs, id);
}

static const lm__genome_ops hp_ops = {
    .name = "hyperparameters",
    .sample = hp_sample,
    .mutate = hp_mutate,
    .crossover = hp_crossover,
    .distance = hp_distance,
    .hash = hp_hash,
    .encode = hp_encode,
    .decode = hp_decode,
    .of_trial = hp_of_trial,
    .add_trial = hp_add_trial,
};

int lm__genome_hash_among(const lm__genome *g, const lm_trials *t, const int *ids, int n,
                          size_t stride, uint64_t h) {
    const char *p = (const char *)ids;
    for (int i = 0; i < n; i++, p += stride) {
        int id;
        memcpy(&id, p, sizeof id);
        if (g->ops->hash(g->ctx, g->ops->of_trial(g->ctx, t, id)) == h) return 1;
    }
    return 0;
}

void lm__genome_hp(const lm_space *sp, lm__genome *g) {
    g->ops = &hp_ops;
    g->ctx = sp;
    g->n = lm_space_size(sp);
}
