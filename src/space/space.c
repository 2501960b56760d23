/* Hyperparameter spaces: building them (float, int, categorical, conditions),
 * sampling from the prior, repair, the unit-cube encoding, grid enumeration and
 * formatting. */
#include "lamarck/space.h"

#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Integers are stored in doubles: keep them exactly representable. */
#define INT_BOUND 9007199254740992.0 /* 2^53 */
#define LABEL_MAX 256                /* bytes of one categorical label, NUL included */
#define GRID_MAX 10000               /* most grid points of one hyperparameter */

struct lm_space {
    int n;
    lm_hp hp[LM_HP_MAX];
    double *grid[LM_HP_MAX]; /* grid values of each hyperparameter, increasing */
    int n_grid[LM_HP_MAX];
    int has_arch;            /* an architecture's genes are hp[arch_first..+arch_n) */
    int arch_first, arch_n;
    lm_arch_space arch;
};

static int grid_values(lm_space *sp, int i);
static int when_match(const lm_hp *h, double v);

/* ---- creation ---- */

int lm_space_create(lm_space **out) {
    *out = NULL;
    lm_space *sp = calloc(1, sizeof *sp);
    LM_CHECK_ALLOC(sp);
    *out = sp;
    return LM_OK;
}

void lm_space_destroy(lm_space **spp) {
    if (!spp || !*spp) return;
    lm_space *sp = *spp;
    for (int i = 0; i < sp->n; i++) {
        lm_hp *h = &sp->hp[i];
        for (int c = 0; c < h->n_choices; c++) free(h->choices[c]);
        free(h->choices);
        free(h->when);
        free(sp->grid[i]);
    }
    free(sp);
    *spp = NULL;
}

int lm_space_size(const lm_space *sp) { return sp->n; }

const lm_hp *lm_space_hp(const lm_space *sp, int i) {
    return i >= 0 && i < sp->n ? &sp->hp[i] : NULL;
}

int lm_space_find(const lm_space *sp, const char *name) {
    for (int i = 0; i < sp->n; i++)
        if (!strcmp(sp->hp[i].name, name)) return i;
    return -1;
}

/* Names appear in "name=value" lines and in result files: no spaces, '=' or
 * control characters. */
static int check_name(const lm_space *sp, const char *name) {
    LM_CHECK(name && *name, LM_EINVAL, "space: empty hyperparameter name");
    size_t len = strlen(name);
    LM_CHECK(len < LM_HP_NAME_MAX, LM_EINVAL,
             "space: hyperparameter name '%.*s...' is longer than %d characters", 20, name,
             LM_HP_NAME_MAX - 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        LM_CHECK(!isspace(ch) && !iscntrl(ch) && ch != '=', LM_EINVAL,
                 "space: hyperparameter name '%s' may not contain spaces, '=' or control "
                 "characters",
                 name);
    }
    LM_CHECK(lm_space_find(sp, name) < 0, LM_EINVAL, "space: duplicate hyperparameter '%s'",
             name);
    LM_CHECK(sp->n < LM_HP_MAX, LM_EINVAL, "space: '%s': more than %d hyperparameters", name,
             LM_HP_MAX);
    return LM_OK;
}

/* Takes the next slot for name; the caller fills the rest and calls commit(). */
static lm_hp *new_hp(lm_space *sp, const char *name, lm_hp_kind kind) {
    lm_hp *h = &sp->hp[sp->n];
    memset(h, 0, sizeof *h);
    lm_strlcpy(h->name, name, sizeof h->name);
    h->kind = kind;
    h->parent = -1;
    h->grid_points = 3;
    return h;
}

static int commit(lm_space *sp) {
    int rc = grid_values(sp, sp->n);
    if (rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    sp->n++;
    return LM_OK;
}

int lm_space_add_float(lm_space *sp, const char *name, double low, double high, int log) {
    LM_CALL(check_name(sp, name));
    LM_CHECK(isfinite(low) && isfinite(high), LM_EINVAL,
             "space: '%s': bounds must be finite numbers, got [%g, %g]", name, low, high);
    LM_CHECK(low <= high, LM_EINVAL, "space: '%s': low %g is greater than high %g", name, low,
             high);
    LM_CHECK(!log || low > 0, LM_EINVAL, "space: '%s': a log scale needs low > 0, got %g", name,
             low);
    lm_hp *h = new_hp(sp, name, LM_HP_FLOAT);
    h->low = low;
    h->high = high;
    h->log = !!log;
    return commit(sp);
}

int lm_space_add_int(lm_space *sp, const char *name, long low, long high, int log) {
    LM_CALL(check_name(sp, name));
    double lo = (double)low, hi = (double)high;
    LM_CHECK(fabs(lo) <= INT_BOUND && fabs(hi) <= INT_BOUND, LM_EINVAL,
             "space: '%s': integer bounds must be within +-2^53, got [%ld, %ld]", name, low, high);
    LM_CHECK(low <= high, LM_EINVAL, "space: '%s': low %ld is greater than high %ld", name, low,
             high);
    LM_CHECK(!log || low > 0, LM_EINVAL, "space: '%s': a log scale needs low > 0, got %ld", name,
             low);
    lm_hp *h = new_hp(sp, name, LM_HP_INT);
    h->low = lo;
    h->high = hi;
    h->log = !!log;
    return commit(sp);
}

int lm_space_add_categorical(lm_space *sp, const char *name, int n, const char *const *choices) {
    LM_CALL(check_name(sp, name));
    LM_CHECK(n >= 1 && n <= LM_HP_CHOICES_MAX, LM_EINVAL,
             "space: '%s': a categorical needs 1 to %d choices, got %d", name, LM_HP_CHOICES_MAX,
             n);
    for (int i = 0; i < n; i++) {
        LM_CHECK(choices[i] && *choices[i], LM_EINVAL, "space: '%s': choice %d is empty", name,
                 i + 1);
        LM_CHECK(strlen(choices[i]) < LABEL_MAX, LM_EINVAL,
                 "space: '%s': choice %d is longer than %d characters", name, i + 1,
                 LABEL_MAX - 1);
        for (int j = 0; j < i; j++)
            LM_CHECK(strcmp(choices[i], choices[j]) != 0, LM_EINVAL,
                     "space: '%s': choice '%s' is listed twice", name, choices[i]);
    }
    lm_hp *h = new_hp(sp, name, LM_HP_CATEGORICAL);
    h->choices = calloc((size_t)n, sizeof *h->choices);
    LM_CHECK_ALLOC(h->choices);
    for (int i = 0; i < n; i++) {
        h->choices[i] = lm_strdup(choices[i]);
        if (!h->choices[i]) {
            for (int j = 0; j < i; j++) free(h->choices[j]);
            free(h->choices);
            h->choices = NULL;
            LM_FAIL(LM_ENOMEM, "out of memory");
        }
    }
    h->n_choices = n;
    h->low = 0;
    h->high = n - 1;
    h->grid_points = n;
    int rc = commit(sp);
    if (rc < 0) {
        for (int i = 0; i < n; i++) free(h->choices[i]);
        free(h->choices);
        h->choices = NULL;
        h->n_choices = 0;
    }
    return rc;
}

int lm_space_set_grid_points(lm_space *sp, const char *name, int points) {
    int i = lm_space_find(sp, name);
    LM_CHECK(i >= 0, LM_EINVAL, "space: no hyperparameter '%s'", name);
    lm_hp *h = &sp->hp[i];
    LM_CHECK(h->kind != LM_HP_CATEGORICAL, LM_EINVAL,
             "space: '%s': a categorical uses all its choices on a grid; grid points apply to "
             "float and int",
             name);
    LM_CHECK(points >= 1 && points <= GRID_MAX, LM_EINVAL,
             "space: '%s': grid points must be in [1, %d], got %d", name, GRID_MAX, points);
    int old = h->grid_points;
    h->grid_points = points;
    int rc = grid_values(sp, i);
    if (rc < 0) {
        h->grid_points = old;
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

static int in_arch(const lm_space *sp, int i) {
    return sp->has_arch && i >= sp->arch_first && i < sp->arch_first + sp->arch_n;
}

int lm_space_add_arch(lm_space *sp, const lm_arch_space *as) {
    LM_CHECK(sp, LM_EINVAL, "space: NULL space");
    LM_CHECK(!sp->has_arch, LM_EINVAL, "space: already has an architecture (genes from '%s')",
             sp->hp[sp->arch_first].name);
    LM_CALL(lm_arch_space_check(as));
    size_t n = lm_arch_genome_size(as);
    LM_CHECK(n >= 1 && (size_t)sp->n + n <= LM_HP_MAX, LM_EINVAL,
             "space: the architecture genome has %zu genes, the space already %d "
             "hyperparameters, and a space holds at most %d; use a smaller architecture "
             "space (max_depth, blocks, stages or nodes)",
             n, sp->n, LM_HP_MAX);
    int first = sp->n;
    for (size_t i = 0; i < n; i++) {
        char name[LM_HP_NAME_MAX];
        int32_t lo, hi;
        int rc = lm_arch_gene_info(as, i, name, sizeof name, &lo, &hi);
        if (rc == LM_OK) rc = lm_space_add_int(sp, name, lo, hi, 0);
        if (rc < 0) {
            /* Undo the genes added so far: the space stays as it was. */
            while (sp->n > first) {
                sp->n--;
                free(sp->grid[sp->n]);
                sp->grid[sp->n] = NULL;
            }
            return lm_error_trace(__FILE__, __LINE__, __func__, rc);
        }
    }
    sp->arch = *as;
    sp->arch_first = first;
    sp->arch_n = (int)n;
    sp->has_arch = 1;
    return LM_OK;
}

const lm_arch_space *lm_space_arch(const lm_space *sp, int *first, int *n) {
    if (first) *first = sp && sp->has_arch ? sp->arch_first : -1;
    if (n) *n = sp && sp->has_arch ? sp->arch_n : 0;
    return sp && sp->has_arch ? &sp->arch : NULL;
}

int lm_space_arch_set_shape(lm_space *sp, int c, int h, int w, int n_classes) {
    LM_CHECK(sp && sp->has_arch, LM_EINVAL, "space: no architecture to set a sample shape for");
    LM_CHECK(c >= 1 && h >= 1 && w >= 1 && n_classes >= 1, LM_EINVAL,
             "space: sample shape %d x %d x %d with %d classes", c, h, w, n_classes);
    sp->arch.in_c = c;
    sp->arch.in_h = h;
    sp->arch.in_w = w;
    sp->arch.n_classes = n_classes;
    return LM_OK;
}

/* Draws the architecture genes with lm_arch_random. A genome that misses the
 * constraints is not an error here: the closest one is kept and its error message
 * dropped (unless one was pending already), since sampling cannot fail. */
static void sample_arch(const lm_space *sp, lm_rng *rng, double *x) {
    int32_t g[LM_HP_MAX] = {0};
    size_t n = (size_t)sp->arch_n;
    int pending = lm_error_message()[0] != 0;
    if (lm_arch_random(&sp->arch, rng, g, n) < 0) {
        lm_arch_repair(&sp->arch, g, n);
        if (!pending) lm_error_clear();
    }
    for (size_t i = 0; i < n; i++) x[sp->arch_first + (int)i] = g[i];
}

static void repair_arch(const lm_space *sp, double *x) {
    int32_t g[LM_HP_MAX];
    size_t n = (size_t)sp->arch_n;
    for (size_t i = 0; i < n; i++) g[i] = (int32_t)x[sp->arch_first + (int)i];
    lm_arch_repair(&sp->arch, g, n); /* cannot fail: the space was checked when added */
    for (size_t i = 0; i < n; i++) x[sp->arch_first + (int)i] = g[i];
}

/* A number written in full ("3", "-2", "1e3"), nothing after it. */
static int parse_number(const char *s, double *v) {
    if (!s || !*s || isspace((unsigned char)*s)) return 0;
    char *end;
    *v = strtod(s, &end);
    return *end == 0 && isfinite(*v);
}

int lm_space_set_condition(lm_space *sp, const char *child, const char *parent, int n,
                           const char *const *values) {
    int c = lm_space_find(sp, child), p = lm_space_find(sp, parent);
    LM_CHECK(c >= 0, LM_EINVAL, "space: condition on unknown hyperparameter '%s'", child);
    LM_CHECK(p >= 0, LM_EINVAL, "space: '%s': condition names unknown parent '%s'", child, parent);
    LM_CHECK(p < c, LM_EINVAL,
             "space: '%s': parent '%s' must be added before its child", child, parent);
    lm_hp *h = &sp->hp[c];
    const lm_hp *ph = &sp->hp[p];
    LM_CHECK(!in_arch(sp, c), LM_EINVAL,
             "space: '%s' is an architecture gene; architecture genes cannot be conditional",
             child);
    LM_CHECK(h->parent < 0, LM_EINVAL, "space: '%s' already has a condition (on '%s')", child,
             sp->hp[h->parent].name);
    LM_CHECK(ph->kind != LM_HP_FLOAT, LM_EINVAL,
             "space: '%s': parent '%s' is a float; conditions need an int or categorical parent",
             child, parent);
    LM_CHECK(n >= 1 && n <= LM_HP_CHOICES_MAX, LM_EINVAL,
             "space: '%s': a condition needs 1 to %d values, got %d", child, LM_HP_CHOICES_MAX, n);
    double *when = malloc((size_t)n * sizeof *when);
    LM_CHECK_ALLOC(when);
    int m = 0;
    for (int k = 0; k < n; k++) {
        double v = -1;
        const char *s = values[k] ? values[k] : "";
        if (ph->kind == LM_HP_CATEGORICAL) {
            for (int j = 0; j < ph->n_choices; j++)
                if (!strcmp(s, ph->choices[j])) v = j;
            if (v < 0) {
                free(when);
                LM_FAIL(LM_EINVAL, "space: '%s': condition value '%s' is not a choice of '%s'",
                        child, s, parent);
            }
        } else if (!parse_number(s, &v) || v != floor(v) || v < ph->low || v > ph->high) {
            free(when);
            LM_FAIL(LM_EINVAL,
                    "space: '%s': condition value '%s' is not an integer in [%.0f, %.0f] of '%s'",
                    child, s, ph->low, ph->high, parent);
        }
        int dup = 0; /* a value listed twice changes nothing */
        for (int j = 0; j < m; j++) dup |= when[j] == v;
        if (!dup) when[m++] = v;
    }
    h->parent = p;
    h->when = when;
    h->n_when = m;
    return LM_OK;
}

/* ---- points ---- */

/* Whether value v of a parent satisfies h's condition (v is rounded: the parents
 * that conditions accept, int and categorical, take whole values). */
static int when_match(const lm_hp *h, double v) {
    double r = floor(v + 0.5);
    for (int k = 0; k < h->n_when; k++)
        if (h->when[k] == r) return 1;
    return 0;
}

int lm_space_active(const lm_space *sp, const double *x, int i) {
    if (i < 0 || i >= sp->n) return 0;
    /* Walk up the chain: a grandchild is inactive when any ancestor is. */
    for (;;) {
        const lm_hp *h = &sp->hp[i];
        if (h->parent < 0) return 1;
        double v = x[h->parent];
        if (isnan(v) || !when_match(h, v)) return 0;
        i = h->parent;
    }
}

static double clip(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* The value used for an active entry that has none (NAN): the middle of the range
 * (geometric where log), the first choice of a categorical. */
static double center(const lm_hp *h) {
    if (h->kind == LM_HP_CATEGORICAL) return 0;
    double m = h->log ? exp(0.5 * (log(h->low) + log(h->high))) : 0.5 * (h->low + h->high);
    if (h->kind == LM_HP_INT) m = floor(m + 0.5);
    return clip(m, h->low, h->high);
}

/* Log-scale integers are drawn on [low - 1/2, high + 1/2] in log space and rounded,
 * so each integer k gets the mass of its own cell [k - 1/2, k + 1/2]. */
static double int_log_lo(const lm_hp *h) { return log(h->low - 0.5); }
static double int_log_hi(const lm_hp *h) { return log(h->high + 0.5); }

void lm_space_sample(const lm_space *sp, lm_rng *rng, double *x) {
    for (int i = 0; i < sp->n; i++) {
        const lm_hp *h = &sp->hp[i];
        if (!lm_space_active(sp, x, i)) {
            x[i] = NAN;
            continue;
        }
        if (in_arch(sp, i)) continue; /* drawn together below */
        double u, v;
        switch (h->kind) {
        case LM_HP_FLOAT:
            u = lm_rng_uniform(rng);
            v = h->log ? exp(log(h->low) + u * (log(h->high) - log(h->low)))
                       : h->low + u * (h->high - h->low);
            x[i] = clip(v, h->low, h->high);
            break;
        case LM_HP_INT:
            if (h->log) {
                double a = int_log_lo(h), b = int_log_hi(h);
                u = lm_rng_uniform(rng);
                v = floor(exp(a + u * (b - a)) + 0.5);
            } else {
                v = h->low + (double)lm_rng_below(rng, (uint64_t)(h->high - h->low) + 1);
            }
            x[i] = clip(v, h->low, h->high);
            break;
        case LM_HP_CATEGORICAL:
            x[i] = (double)lm_rng_below(rng, (uint64_t)h->n_choices);
            break;
        }
    }
    if (sp->has_arch) sample_arch(sp, rng, x);
}

void lm_space_repair(const lm_space *sp, double *x) {
    for (int i = 0; i < sp->n; i++) {
        const lm_hp *h = &sp->hp[i];
        if (!lm_space_active(sp, x, i)) {
            x[i] = NAN;
            continue;
        }
        double v = isnan(x[i]) ? center(h) : x[i];
        if (h->kind != LM_HP_FLOAT) v = floor(clip(v, h->low, h->high) + 0.5);
        x[i] = clip(v, h->low, h->high);
    }
    if (sp->has_arch) repair_arch(sp, x);
}

/* ---- unit cube ---- */

void lm_space_to_unit(const lm_space *sp, const double *x, double *u) {
    for (int i = 0; i < sp->n; i++) {
        const lm_hp *h = &sp->hp[i];
        if (!lm_space_active(sp, x, i) || isnan(x[i])) {
            u[i] = 0;
            continue;
        }
        double v = clip(x[i], h->low, h->high), t;
        switch (h->kind) {
        case LM_HP_FLOAT:
            if (h->high == h->low)
                t = 0.5;
            else if (h->log)
                t = (log(v) - log(h->low)) / (log(h->high) - log(h->low));
            else
                t = (v - h->low) / (h->high - h->low);
            break;
        case LM_HP_INT:
            /* The centre of the integer's cell, so from_unit rounds back to it. */
            v = floor(v + 0.5);
            if (h->log)
                t = (log(v) - int_log_lo(h)) / (int_log_hi(h) - int_log_lo(h));
            else
                t = (v - h->low + 0.5) / (h->high - h->low + 1);
            break;
        case LM_HP_CATEGORICAL:
        default:
            t = (floor(v + 0.5) + 0.5) / h->n_choices;
            break;
        }
        u[i] = clip(t, 0, 1);
    }
}

void lm_space_from_unit(const lm_space *sp, const double *u, double *x) {
    for (int i = 0; i < sp->n; i++) {
        const lm_hp *h = &sp->hp[i];
        if (!lm_space_active(sp, x, i)) {
            x[i] = NAN;
            continue;
        }
        double t = isnan(u[i]) ? 0 : clip(u[i], 0, 1), v;
        switch (h->kind) {
        case LM_HP_FLOAT:
            v = h->log ? exp(log(h->low) + t * (log(h->high) - log(h->low)))
                       : h->low + t * (h->high - h->low);
            break;
        case LM_HP_INT:
            if (h->log) {
                double a = int_log_lo(h), b = int_log_hi(h);
                v = floor(exp(a + t * (b - a)) + 0.5);
            } else {
                v = floor(h->low + t * (h->high - h->low + 1));
            }
            break;
        case LM_HP_CATEGORICAL:
        default:
            v = floor(t * h->n_choices);
            break;
        }
        x[i] = clip(v, h->low, h->high);
    }
}

/* ---- grid ----
 *
 * Each hyperparameter has a list of grid values (grid_values below). A grid
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
static int grid_values(lm_space *sp, int i) {
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
                if (sp->hp[c].parent == t && when_match(&sp->hp[c], sp->grid[t][j]))
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
                if (sp->hp[t].parent == i && when_match(&sp->hp[t], v))
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

/* ---- formatting ---- */

void lm_space_format_value(const lm_space *sp, int i, double v, char *buf, size_t cap) {
    if (cap == 0) return;
    const lm_hp *h = lm_space_hp(sp, i);
    if (!h) {
        snprintf(buf, cap, "?");
    } else if (isnan(v)) {
        snprintf(buf, cap, "-");
    } else if (h->kind == LM_HP_FLOAT) {
        snprintf(buf, cap, "%.6g", v);
    } else if (h->kind == LM_HP_INT) {
        snprintf(buf, cap, "%.0f", floor(v + 0.5));
    } else {
        double r = floor(v + 0.5);
        snprintf(buf, cap, "%s", r >= 0 && r < h->n_choices ? h->choices[(int)r] : "?");
    }
}

void lm_space_format(const lm_space *sp, const double *x, char *buf, size_t cap) {
    if (cap == 0) return;
    buf[0] = 0;
    size_t used = 0;
    for (int i = 0; i < sp->n && used + 1 < cap; i++) {
        if (!lm_space_active(sp, x, i) || isnan(x[i])) continue;
        char val[LABEL_MAX];
        lm_space_format_value(sp, i, x[i], val, sizeof val);
        int w = snprintf(buf + used, cap - used, "%s%s=%s", used ? " " : "", sp->hp[i].name, val);
        if (w < 0) break;
        used += (size_t)w;
    }
}
