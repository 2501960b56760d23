/* Grid enumeration over a space with conditional hyperparameters.
 *
 * Each hyperparameter has a list of grid values (lm__space_grid_values). A grid
 * point takes one of them for every active hyperparameter and NAN for every
 * inactive one, so a conditional child multiplies only the points of the parent
 * branches where it is active. Points are ranked lexicographically in the order
 * hyperparameters were added, the last one fastest.
 *
 * Because every hyperparameter has at most one parent, added before it, the space
 * is a forest. With sub[t] the number of points of the subtree under t given t is
 * active,
 *     sub[t] = sum over grid values v of t of prod over children c of t of
 *              (v satisfies c's condition ? sub[c] : 1),
 * the whole count is the product of sub[] over the roots, and the number of ways
 * to complete a prefix x[0..i] is the product of sub[t] over the active "top"
 * nodes t > i (roots, or children of a fixed entry <= i). Decoding point k walks
 * the entries in order and subtracts completion counts, as for any mixed radix.
 * Counts saturate at LONG_MAX instead of overflowing. */
#include "space_internal.h"

#include "lamarck/error.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

static long sat_add(long a, long b) { return a > LONG_MAX - b ? LONG_MAX : a + b; }

static long sat_mul(long a, long b) {
    if (a == 0 || b == 0) return 0;
    return a > LONG_MAX / b ? LONG_MAX : a * b;
}

/* Float: grid_points values evenly spaced from low to high (log-spaced when log),
 * the middle of the range (geometric when log) for one point, a single value when
 * low == high. Int: every integer when the range holds at most grid_points of them,
 * else grid_points values spaced as for a float and rounded, duplicates (possible on
 * a log scale) dropped. Categorical: every choice index. */
int lm__space_grid_values(lm_space *sp, int i) {
    const lm_hp *h = &sp->hp[i];
    int g = h->grid_points, n;
    double range = h->high - h->low;
    if (h->kind == LM_HP_CATEGORICAL)
        n = h->n_choices;
    else if (h->kind == LM_HP_INT && range + 1 <= g)
        n = (int)range + 1;
    else
        n = range == 0 ? 1 : g;
    double *v = malloc((size_t)n * sizeof *v);
    LM_CHECK_ALLOC(v);
    int m = 0;
    for (int j = 0; j < n; j++) {
        double x;
        if (h->kind == LM_HP_CATEGORICAL || (h->kind == LM_HP_INT && range + 1 <= g)) {
            x = h->low + j;
        } else {
            double t = n == 1 ? 0.5 : (double)j / (n - 1);
            x = h->log ? exp(log(h->low) + t * (log(h->high) - log(h->low)))
                       : h->low + t * range;
            /* Pin the ends so that rounding in exp/log never leaves the range. */
            if (n > 1 && j == 0) x = h->low;
            if (n > 1 && j == n - 1) x = h->high;
            if (h->kind == LM_HP_INT) x = floor(x + 0.5);
            x = x < h->low ? h->low : x > h->high ? h->high : x;
        }
        if (m == 0 || x != v[m - 1]) v[m++] = x;
    }
    free(sp->grid[i]);
    sp->grid[i] = v;
    sp->n_grid[i] = m;
    return LM_OK;
}

/* sub[t] for every t, from the last hyperparameter back (children come after
 * their parents). */
static void subtree_counts(const lm_space *sp, long *sub) {
    for (int t = sp->n - 1; t >= 0; t--) {
        long total = 0;
        for (int j = 0; j < sp->n_grid[t]; j++) {
            long prod = 1;
            for (int c = t + 1; c < sp->n; c++)
                if (sp->hp[c].parent == t && lm__space_when_match(&sp->hp[c], sp->grid[t][j]))
                    prod = sat_mul(prod, sub[c]);
            total = sat_add(total, prod);
        }
        sub[t] = total;
    }
}

long lm_space_grid_count(const lm_space *sp) {
    long sub[LM_HP_MAX];
    subtree_counts(sp, sub);
    long total = 1;
    for (int t = 0; t < sp->n; t++)
        if (sp->hp[t].parent < 0) total = sat_mul(total, sub[t]);
    return total;
}

int lm_space_grid_point(const lm_space *sp, long k, double *x) {
    long sub[LM_HP_MAX];
    subtree_counts(sp, sub);
    long total = 1;
    for (int t = 0; t < sp->n; t++)
        if (sp->hp[t].parent < 0) total = sat_mul(total, sub[t]);
    LM_CHECK(k >= 0 && k < total, LM_EINVAL, "space: grid point %ld out of range [0, %ld)", k,
             total);
    for (int i = 0; i < sp->n; i++) {
        if (!lm_space_active(sp, x, i)) {
            x[i] = NAN;
            continue;
        }
        /* Completions that do not depend on x[i]: later roots, and children of
         * earlier entries that the prefix made active. */
        long rest = 1;
        for (int t = i + 1; t < sp->n; t++) {
            int p = sp->hp[t].parent;
            if (p < 0 || (p < i && lm_space_active(sp, x, t))) rest = sat_mul(rest, sub[t]);
        }
        int found = 0;
        for (int j = 0; j < sp->n_grid[i] && !found; j++) {
            double v = sp->grid[i][j];
            long c = rest;
            for (int t = i + 1; t < sp->n; t++)
                if (sp->hp[t].parent == i && lm__space_when_match(&sp->hp[t], v))
                    c = sat_mul(c, sub[t]);
            if (k < c) {
                x[i] = v;
                found = 1;
            } else {
                k -= c;
            }
        }
        LM_CHECK(found, LM_EINTERNAL, "space: grid decoding ran past '%s'", sp->hp[i].name);
    }
    return LM_OK;
}
