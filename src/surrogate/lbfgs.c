/* A compact L-BFGS minimizer with box bounds handled by projection.
 *
 * Direction: the two-loop recursion (Nocedal and Wright 2006, Algorithm 7.4) applied to
 * the projected gradient, with variables held at a bound (gradient pushing outward)
 * fixed for the iteration. Line search along the projected path P(x + t d): backtrack
 * until the Armijo condition f(x_t) <= f(x) + c1 g.(x_t - x) holds, choosing each new t
 * by safeguarded quadratic interpolation (cubic once two trial points are known), and
 * expand t while the strong curvature condition fails at an acceptable point, which
 * is the part of More-Thuente that matters for a small problem. A curvature pair is
 * kept only when s.y > 0, so the inverse-Hessian approximation stays positive definite
 * even when a step was cut short by the bounds. */
#include "lamarck/error.h"
#include "lamarck/surrogate.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define C1 1e-4            /* Armijo constant */
#define C2 0.9             /* curvature constant (quasi-Newton value) */
#define MAX_BACKTRACK 40
#define MAX_EXPAND 6

void lm_lbfgs_options_default(lm_lbfgs_options *o) {
    o->memory = 8;
    o->max_iter = 200;
    o->max_evals = 1000;
    o->gtol = 1e-6;
    o->ftol = 1e-10;
}

typedef struct work {
    int n, m;
    const double *lo, *hi;
    double *S, *Y;     /* m x n correction pairs, ring buffer */
    double *rho;       /* 1 / (s.y) */
    double *alpha;
    int n_pairs, head; /* pairs held; index of the oldest */
    double *d, *xt, *gt, *pg, *xb, *gb;
} work;

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

static double lo_of(const work *w, int i) { return w->lo ? w->lo[i] : -INFINITY; }
static double hi_of(const work *w, int i) { return w->hi ? w->hi[i] : INFINITY; }

static double dot(int n, const double *a, const double *b) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* The projected gradient: zero where a variable sits on a bound and the gradient
 * would push it further out. Returns its max-norm. */
static double project_gradient(const work *w, const double *x, const double *g, double *pg) {
    double mx = 0.0;
    for (int i = 0; i < w->n; i++) {
        int held = (x[i] <= lo_of(w, i) && g[i] > 0) || (x[i] >= hi_of(w, i) && g[i] < 0);
        pg[i] = held ? 0.0 : g[i];
        if (fabs(pg[i]) > mx) mx = fabs(pg[i]);
    }
    return mx;
}

/* d = -H pg by the two-loop recursion, zero on held variables. */
static void direction(work *w, const double *pg, double gamma) {
    int n = w->n;
    double *q = w->d;
    for (int i = 0; i < n; i++) q[i] = pg[i];
    for (int k = w->n_pairs - 1; k >= 0; k--) {
        int j = (w->head + k) % w->m;
        w->alpha[j] = w->rho[j] * dot(n, w->S + (size_t)j * n, q);
        const double *y = w->Y + (size_t)j * n;
        for (int i = 0; i < n; i++) q[i] -= w->alpha[j] * y[i];
    }
    for (int i = 0; i < n; i++) q[i] *= gamma;
    for (int k = 0; k < w->n_pairs; k++) {
        int j = (w->head + k) % w->m;
        double beta = w->rho[j] * dot(n, w->Y + (size_t)j * n, q);
        const double *s = w->S + (size_t)j * n;
        for (int i = 0; i < n; i++) q[i] += (w->alpha[j] - beta) * s[i];
    }
    for (int i = 0; i < n; i++) q[i] = pg[i] == 0.0 ? 0.0 : -q[i];
}

static void push_pair(work *w, const double *s, const double *y, double sy) {
    int j;
    if (w->n_pairs < w->m) {
        j = (w->head + w->n_pairs) % w->m;
        w->n_pairs++;
    } else {
        j = w->head;
        w->head = (w->head + 1) % w->m;
    }
    memcpy(w->S + (size_t)j * w->n, s, (size_t)w->n * sizeof *s);
    memcpy(w->Y + (size_t)j * w->n, y, (size_t)w->n * sizeof *y);
    w->rho[j] = 1.0 / sy;
}

/* Minimizer of the cubic through (a, fa, da) and (b, fb, db), or of the quadratic
 * through (a, fa, da) and (b, fb) when db is not known (NAN). */
static double interpolate(double a, double fa, double da, double b, double fb, double db) {
    double h = b - a;
    if (isnan(db)) {
        double den = 2.0 * (fb - fa - da * h);
        return den > 0 ? a - da * h * h / den : NAN;
    }
    double d1 = da + db - 3.0 * (fa - fb) / (a - b);
    double disc = d1 * d1 - da * db;
    if (disc < 0) return NAN;
    double d2 = (b > a ? 1.0 : -1.0) * sqrt(disc);
    return b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2);
}

typedef struct search_result {
    int ok;        /* a point with sufficient decrease was found */
    double f;
} search_result;

/* Line search along P(x + t d) from f, g. On success xt, gt hold the accepted point. */
static int line_search(work *w, double *x, double f, const double *g, double t0,
                       lm_lbfgs_fn fn, void *ctx, int *evals, int max_evals,
                       search_result *res) {
    int n = w->n;
    double dg0 = dot(n, g, w->d);
    double t = t0, t_prev = 0.0, f_prev = f, dg_prev = dg0;
    res->ok = 0;
    res->f = f;
    int expanded = 0;
    for (int it = 0; it < MAX_BACKTRACK + MAX_EXPAND && *evals < max_evals; it++) {
        for (int i = 0; i < n; i++) w->xt[i] = clampd(x[i] + t * w->d[i], lo_of(w, i), hi_of(w, i));
        double gs = 0.0, moved = 0.0;
        for (int i = 0; i < n; i++) {
            double s = w->xt[i] - x[i];
            gs += g[i] * s;
            moved += fabs(s);
        }
        if (moved == 0.0 || gs >= 0.0) break; /* projection left nothing to gain */
        double ft;
        int rc = fn(ctx, w->xt, &ft, w->gt);
        (*evals)++;
        if (rc < 0) return rc;
        if (!isfinite(ft) || ft > f + C1 * gs) {
            if (res->ok) break; /* an expansion went too far: keep the last good one */
            double tn = isfinite(ft) ? interpolate(t_prev, f_prev, dg_prev, t, ft, NAN) : NAN;
            if (!isfinite(ft) || !isfinite(tn)) tn = 0.25 * t;
            t_prev = 0.0;
            f_prev = f;
            dg_prev = dg0;
            t = clampd(tn, 0.1 * t, 0.5 * t);
            continue;
        }
        /* Sufficient decrease: accept, and try a longer step while the slope along d
         * is still steep (curvature condition not met) and no bound cut the step. */
        res->ok = 1;
        res->f = ft;
        memcpy(w->xb, w->xt, (size_t)n * sizeof *w->xb);
        memcpy(w->gb, w->gt, (size_t)n * sizeof *w->gb);
        double dgt = dot(n, w->gt, w->d);
        if (dgt >= C2 * dg0 || expanded >= MAX_EXPAND) break;
        double tn = interpolate(t_prev, f_prev, dg_prev, t, ft, dgt);
        if (!isfinite(tn) || tn <= t) tn = 2.0 * t;
        t_prev = t;
        f_prev = ft;
        dg_prev = dgt;
        t = clampd(tn, 1.5 * t, 4.0 * t);
        expanded++;
    }
    if (res->ok) {
        memcpy(w->xt, w->xb, (size_t)n * sizeof *w->xt);
        memcpy(w->gt, w->gb, (size_t)n * sizeof *w->gt);
    }
    return LM_OK;
}

static void work_free(work *w) {
    free(w->S);
    free(w->Y);
    free(w->rho);
    free(w->alpha);
    free(w->d);
}

static int work_init(work *w, int n, int m, const double *lo, const double *hi) {
    memset(w, 0, sizeof *w);
    w->n = n;
    w->m = m;
    w->lo = lo;
    w->hi = hi;
    w->S = malloc((size_t)m * (size_t)n * sizeof *w->S);
    w->Y = malloc((size_t)m * (size_t)n * sizeof *w->Y);
    w->rho = malloc((size_t)m * sizeof *w->rho);
    w->alpha = malloc((size_t)m * sizeof *w->alpha);
    w->d = malloc(6 * (size_t)n * sizeof *w->d);
    if (!w->S || !w->Y || !w->rho || !w->alpha || !w->d) {
        work_free(w);
        LM_FAIL(LM_ENOMEM, "out of memory for L-BFGS over %d variables", n);
    }
    w->xt = w->d + n;
    w->gt = w->d + 2 * (size_t)n;
    w->pg = w->d + 3 * (size_t)n;
    w->xb = w->d + 4 * (size_t)n;
    w->gb = w->d + 5 * (size_t)n;
    return LM_OK;
}

int lm_lbfgs_minimize(int n, double *x, const double *lo, const double *hi, lm_lbfgs_fn fn,
                      void *ctx, const lm_lbfgs_options *opt, double *fx, int *evals_out) {
    LM_CHECK(n >= 1 && x && fn, LM_EINVAL, "lm_lbfgs_minimize: n = %d, x or fn NULL", n);
    lm_lbfgs_options o;
    if (opt) o = *opt;
    else lm_lbfgs_options_default(&o);
    if (o.memory < 1) o.memory = 1;
    work w;
    LM_CALL(work_init(&w, n, o.memory, lo, hi));
    double *g = malloc(2 * (size_t)n * sizeof *g);
    if (!g) {
        work_free(&w);
        LM_FAIL(LM_ENOMEM, "out of memory for L-BFGS over %d variables", n);
    }
    double *s = g + n;
    for (int i = 0; i < n; i++) x[i] = clampd(x[i], lo_of(&w, i), hi_of(&w, i));
    double f = NAN;
    int evals = 0, rc = fn(ctx, x, &f, g);
    evals++;
    if (rc < 0) goto out;
    if (!isfinite(f)) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ERANGE,
                          "L-BFGS: the objective is not finite at the starting point");
        goto out;
    }
    double gamma = 1.0;
    for (int iter = 0; iter < o.max_iter && evals < o.max_evals; iter++) {
        double gmax = project_gradient(&w, x, g, w.pg);
        if (gmax < o.gtol) break;
        if (w.n_pairs == 0) gamma = 1.0 / fmax(1.0, gmax); /* first step of length <= 1 */
        direction(&w, w.pg, gamma);
        if (dot(n, w.d, w.pg) >= 0.0) { /* not a descent direction: restart */
            w.n_pairs = 0;
            gamma = 1.0 / fmax(1.0, gmax);
            direction(&w, w.pg, gamma);
        }
        search_result res;
        rc = line_search(&w, x, f, g, 1.0, fn, ctx, &evals, o.max_evals, &res);
        if (rc < 0) goto out;
        if (!res.ok && w.n_pairs > 0) { /* the quasi-Newton model misled: steepest descent */
            w.n_pairs = 0;
            gamma = 1.0 / fmax(1.0, gmax);
            direction(&w, w.pg, gamma);
            rc = line_search(&w, x, f, g, 1.0, fn, ctx, &evals, o.max_evals, &res);
            if (rc < 0) goto out;
        }
        if (!res.ok) break;
        double sy = 0.0, yy = 0.0;
        for (int i = 0; i < n; i++) {
            s[i] = w.xt[i] - x[i];
            g[i] = w.gt[i] - g[i]; /* y, reusing g until it is replaced below */
            sy += s[i] * g[i];
            yy += g[i] * g[i];
        }
        if (sy > DBL_EPSILON * yy && yy > 0) {
            push_pair(&w, s, g, sy);
            gamma = sy / yy;
        }
        double drop = f - res.f;
        memcpy(x, w.xt, (size_t)n * sizeof *x);
        memcpy(g, w.gt, (size_t)n * sizeof *g);
        f = res.f;
        if (drop < o.ftol * (fabs(f) + 1.0)) break;
    }
    rc = LM_OK;
out:
    if (fx) *fx = f;
    if (evals_out) *evals_out = evals;
    free(g);
    work_free(&w);
    return rc;
}
