/* Multi-objective core: dominance, fast non-dominated sorting, crowding distance,
 * NSGA-II's environmental selection, hypervolume and scalarizations (see moo.h).
 *
 * Internally every objective is turned into a cost to minimize (a maximized value is
 * negated) so that one comparison serves both senses; NaN stays NaN and compares as
 * the worst cost. */
#include "lamarck/moo.h"
#include "lamarck/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The largest point count the functions accept: index arithmetic stays in int. */
#define MOO_N_MAX (1 << 26)

static int check_sizes(int n, int m, const char *what) {
    LM_CHECK(n >= 0 && n <= MOO_N_MAX, LM_EINVAL, "%s: %d points, expected 0 to %d", what, n,
             MOO_N_MAX);
    LM_CHECK(m >= 1 && m <= LM_MOO_OBJ_MAX, LM_EINVAL, "%s: %d objectives, expected 1 to %d",
             what, m, LM_MOO_OBJ_MAX);
    return LM_OK;
}

/* -1 when a is the better value, 1 when b is, 0 when they are equal (NaN == NaN). */
static int cmp_value(double a, double b, lm_moo_sense s) {
    int na = isnan(a), nb = isnan(b);
    if (na || nb) return na && nb ? 0 : na ? 1 : -1;
    if (a == b) return 0;
    int a_less = a < b;
    return (s == LM_MOO_MAX) == a_less ? 1 : -1;
}

/* 1: a dominates b; -1: b dominates a; 0: neither (equal or incomparable). */
static int compare(const double *a, const double *b, int m, const lm_moo_sense *sense) {
    int a_better = 0, b_better = 0;
    for (int k = 0; k < m; k++) {
        int c = cmp_value(a[k], b[k], sense[k]);
        if (c < 0) a_better = 1;
        else if (c > 0) b_better = 1;
        if (a_better && b_better) return 0;
    }
    return a_better ? 1 : b_better ? -1 : 0;
}

int lm_moo_dominates(const double *a, const double *b, int m, const lm_moo_sense *sense) {
    return compare(a, b, m, sense) == 1;
}

/* ---- a stable merge sort of indices with a context (qsort has none) ---- */

typedef int (*idx_less)(const void *ctx, int a, int b);

static void merge_sort(int *v, int *tmp, int n, idx_less less, const void *ctx) {
    if (n < 2) return;
    int h = n / 2;
    merge_sort(v, tmp, h, less, ctx);
    merge_sort(v + h, tmp, n - h, less, ctx);
    int i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = less(ctx, v[j], v[i]) ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, (size_t)n * sizeof *v);
}

static int sort_idx(int *v, int n, idx_less less, const void *ctx) {
    if (n < 2) return LM_OK;
    int *tmp = malloc((size_t)n * sizeof *tmp);
    LM_CHECK_ALLOC(tmp);
    merge_sort(v, tmp, n, less, ctx);
    free(tmp);
    return LM_OK;
}

/* ---- non-dominated sorting ---- */

int lm_moo_sort(const double *f, int n, int m, const lm_moo_sense *sense, int *front,
                int *n_fronts) {
    LM_CALL(check_sizes(n, m, "non-dominated sort"));
    LM_CHECK((f && sense && front) || n == 0, LM_EINVAL, "lm_moo_sort: NULL argument");
    if (n_fronts) *n_fronts = 0;
    if (n == 0) return LM_OK;
    /* count[i]: points not yet ranked that dominate i. queue holds ranked points in
     * order; [head, tail) is the front being peeled, whose members release the points
     * they dominate. Deb's S_p sets are recomputed when p is peeled, which costs a
     * second O(m n^2) pass instead of O(n^2) memory. */
    int *count = calloc((size_t)n, sizeof *count);
    int *queue = malloc((size_t)n * sizeof *queue);
    if (!count || !queue) {
        free(count);
        free(queue);
        LM_FAIL(LM_ENOMEM, "out of memory sorting %d points", n);
    }
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            int c = compare(f + (size_t)i * m, f + (size_t)j * m, m, sense);
            if (c > 0) count[j]++;
            else if (c < 0) count[i]++;
        }
    int tail = 0;
    for (int i = 0; i < n; i++) {
        front[i] = -1;
        if (count[i] == 0) {
            front[i] = 0;
            queue[tail++] = i;
        }
    }
    int head = 0, rank = 0;
    while (head < tail) {
        int end = tail;
        for (int a = head; a < end; a++) {
            int p = queue[a];
            for (int q = 0; q < n; q++) {
                if (front[q] >= 0) continue;
                if (compare(f + (size_t)p * m, f + (size_t)q * m, m, sense) > 0 &&
                    --count[q] == 0) {
                    front[q] = rank + 1;
                    queue[tail++] = q;
                }
            }
        }
        head = end;
        rank++;
    }
    free(count);
    free(queue);
    if (n_fronts) *n_fronts = rank;
    return LM_OK;
}

/* ---- crowding distance ---- */

/* Positions 0..k-1 of an index list, compared by objective obj of their points. */
typedef struct pos_ctx {
    const double *f;
    const int *idx;
    int m, obj;
} pos_ctx;

/* Ascending, NaN last; equal values keep their order (the sort is stable). */
static int less_pos(const void *ctx, int a, int b) {
    const pos_ctx *c = ctx;
    double va = c->f[(size_t)c->idx[a] * c->m + c->obj];
    double vb = c->f[(size_t)c->idx[b] * c->m + c->obj];
    if (isnan(va)) return 0;
    return isnan(vb) || va < vb;
}

int lm_moo_crowding(const double *f, int m, const int *idx, int k, double *dist) {
    LM_CALL(check_sizes(k, m, "crowding distance"));
    LM_CHECK((f && idx && dist) || k == 0, LM_EINVAL, "lm_moo_crowding: NULL argument");
    if (k <= 2) {
        for (int i = 0; i < k; i++) dist[i] = INFINITY;
        return LM_OK;
    }
    int *ord = malloc((size_t)k * sizeof *ord);
    LM_CHECK(ord, LM_ENOMEM, "out of memory computing crowding distances of %d points", k);
    for (int i = 0; i < k; i++) dist[i] = 0;
    int rc = LM_OK;
    for (int obj = 0; obj < m && rc == LM_OK; obj++) {
        for (int i = 0; i < k; i++) ord[i] = i;
        pos_ctx c = {f, idx, m, obj};
        rc = sort_idx(ord, k, less_pos, &c);
        if (rc < 0) break;
#define V(i) f[(size_t)idx[ord[i]] * m + obj]
        dist[ord[0]] = INFINITY;
        dist[ord[k - 1]] = INFINITY;
        /* The range over the numbers only: NaN values sort last. */
        int last = k - 1;
        while (last > 0 && isnan(V(last))) last--;
        double range = V(last) - V(0);
        if (!(isfinite(range) && range > 0)) continue;
        for (int i = 1; i < k - 1; i++) {
            double gap = V(i + 1) - V(i - 1);
            if (isfinite(gap)) dist[ord[i]] += gap / range;
        }
#undef V
    }
    free(ord);
    LM_CALL(rc);
    return LM_OK;
}

int lm_moo_rank(const double *f, int n, int m, const lm_moo_sense *sense, int *front,
                double *dist) {
    int n_fronts;
    LM_CALL(lm_moo_sort(f, n, m, sense, front, &n_fronts));
    if (n == 0) return LM_OK;
    LM_CHECK(dist, LM_EINVAL, "lm_moo_rank: NULL dist");
    /* Members of each front in index order: a counting sort by front. */
    int *start = calloc((size_t)n_fronts + 1, sizeof *start);
    int *members = malloc((size_t)n * sizeof *members);
    double *d = malloc((size_t)n * sizeof *d);
    int rc = LM_OK;
    if (!start || !members || !d) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM,
                          "out of memory ranking %d points", n);
        goto out;
    }
    for (int i = 0; i < n; i++) start[front[i] + 1]++;
    for (int r = 0; r < n_fronts; r++) start[r + 1] += start[r];
    for (int i = 0; i < n; i++) members[start[front[i]]++] = i;
    /* start[r] now marks the end of front r; its beginning is start[r - 1] (0 for r = 0). */
    for (int r = 0; r < n_fronts; r++) {
        int b = r ? start[r - 1] : 0, e = start[r];
        LM_CALL_GOTO(rc, lm_moo_crowding(f, m, members + b, e - b, d + b), out);
        for (int i = b; i < e; i++) dist[members[i]] = d[i];
    }
out:
    free(start);
    free(members);
    free(d);
    return rc;
}

/* ---- NSGA-II environmental selection ---- */

typedef struct sel_ctx {
    const int *front;
    const double *dist;
} sel_ctx;

/* Front ascending, then crowding distance descending; ties keep index order. */
static int less_sel(const void *ctx, int a, int b) {
    const sel_ctx *c = ctx;
    if (c->front[a] != c->front[b]) return c->front[a] < c->front[b];
    return c->dist[a] > c->dist[b];
}

int lm_moo_select(const double *f, int n, int m, const lm_moo_sense *sense, int keep,
                  int *chosen, int *front, double *dist) {
    LM_CALL(check_sizes(n, m, "NSGA-II selection"));
    LM_CHECK(keep >= 0 && keep <= n, LM_EINVAL, "NSGA-II selection: keep %d of %d points", keep,
             n);
    LM_CHECK(chosen || keep == 0, LM_EINVAL, "lm_moo_select: NULL chosen");
    if (n == 0) return LM_OK;
    int *fr = front ? front : malloc((size_t)n * sizeof *fr);
    double *di = dist ? dist : malloc((size_t)n * sizeof *di);
    int *ord = malloc((size_t)n * sizeof *ord);
    int rc = LM_OK;
    if (!fr || !di || !ord) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM,
                          "out of memory selecting from %d points", n);
        goto out;
    }
    LM_CALL_GOTO(rc, lm_moo_rank(f, n, m, sense, fr, di), out);
    for (int i = 0; i < n; i++) ord[i] = i;
    /* Sorting by (front, -distance) puts whole fronts first and cuts the last one that
     * fits only partly by crowding distance, exactly the rule of the paper. */
    sel_ctx c = {fr, di};
    LM_CALL_GOTO(rc, sort_idx(ord, n, less_sel, &c), out);
    memcpy(chosen, ord, (size_t)keep * sizeof *chosen);
out:
    if (fr != front) free(fr);
    if (di != dist) free(di);
    free(ord);
    return rc;
}

/* ---- hypervolume ---- */

typedef struct hv_ctx {
    const double *c;   /* costs, n x m */
    int m, obj;
} hv_ctx;

static int less_cost(const void *ctx, int a, int b) {
    const hv_ctx *h = ctx;
    return h->c[(size_t)a * h->m + h->obj] < h->c[(size_t)b * h->m + h->obj];
}

/* Hypervolume of the k points pts (indices into c) in the first d objectives, every
 * point strictly below ref there. work holds at least d * k ints of scratch. */
static int hv_rec(const double *c, int m, const int *pts, int k, int d, const double *ref,
                  int *work, double *out) {
    *out = 0;
    if (k == 0) return LM_OK;
    if (d == 1) {
        double lo = c[(size_t)pts[0] * m];
        for (int i = 1; i < k; i++) lo = fmin(lo, c[(size_t)pts[i] * m]);
        *out = ref[0] - lo;
        return LM_OK;
    }
    int *ord = work;
    memcpy(ord, pts, (size_t)k * sizeof *ord);
    hv_ctx h = {c, m, d - 1};
    if (d == 2) {
        /* Sweep by the first objective: a point below every earlier one in the second
         * adds the strip between its second value and the lowest so far. */
        h.obj = 0;
        LM_CALL(sort_idx(ord, k, less_cost, &h));
        double best = ref[1], v = 0;
        for (int i = 0; i < k; i++) {
            const double *p = c + (size_t)ord[i] * m;
            if (p[1] < best) {
                v += (ref[0] - p[0]) * (best - p[1]);
                best = p[1];
            }
        }
        *out = v;
        return LM_OK;
    }
    /* Slice along objective d-1: between consecutive values the dominated region is
     * the (d-1)-dimensional hypervolume of the points at or below the slice. */
    LM_CALL(sort_idx(ord, k, less_cost, &h));
    double v = 0;
    for (int i = 0; i < k; i++) {
        double z = c[(size_t)ord[i] * m + d - 1];
        double next = i + 1 < k ? c[(size_t)ord[i + 1] * m + d - 1] : ref[d - 1];
        if (next <= z) continue; /* equal values: one slice for all of them */
        double slice;
        LM_CALL(hv_rec(c, m, ord, i + 1, d - 1, ref, work + k, &slice));
        v += slice * (next - z);
    }
    *out = v;
    return LM_OK;
}

int lm_moo_hypervolume(const double *f, int n, int m, const lm_moo_sense *sense,
                       const double *ref, double *hv) {
    LM_CALL(check_sizes(n, m, "hypervolume"));
    LM_CHECK(((f || n == 0) && sense && ref && hv), LM_EINVAL, "lm_moo_hypervolume: NULL argument");
    *hv = 0;
    double r[LM_MOO_OBJ_MAX];
    for (int k = 0; k < m; k++) {
        LM_CHECK(isfinite(ref[k]), LM_EINVAL, "hypervolume: reference point coordinate %d is %g",
                 k, ref[k]);
        r[k] = sense[k] == LM_MOO_MAX ? -ref[k] : ref[k];
    }
    if (n == 0) return LM_OK;
    double *c = malloc((size_t)n * (size_t)m * sizeof *c);
    int *pts = malloc((size_t)n * sizeof *pts);
    int *work = malloc((size_t)n * (size_t)m * sizeof *work);
    int rc = LM_OK;
    if (!c || !pts || !work) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM,
                          "out of memory computing the hypervolume of %d points", n);
        goto out;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        int inside = 1;
        for (int j = 0; j < m; j++) {
            double v = f[(size_t)i * m + j];
            double cv = sense[j] == LM_MOO_MAX ? -v : v;
            c[(size_t)i * m + j] = cv;
            if (!(cv < r[j])) inside = 0; /* also false for NaN */
        }
        if (inside) pts[k++] = i;
    }
    LM_CALL_GOTO(rc, hv_rec(c, m, pts, k, m, r, work, hv), out);
out:
    free(c);
    free(pts);
    free(work);
    return rc;
}

/* ---- scalarizations ---- */

double lm_moo_weighted_sum(const double *v, const double *w, int m) {
    double s = 0;
    for (int i = 0; i < m; i++)
        if (w[i] != 0) s += w[i] * v[i];
    return s;
}

double lm_moo_weighted_exp_sum(const double *v, const double *w, int m, double p) {
    if (!(p > 0)) return NAN;
    double s = 0;
    for (int i = 0; i < m; i++) {
        if (w[i] == 0) continue;
        if (!(v[i] >= 0)) return NAN;
        s += w[i] * pow(v[i], p);
    }
    return s;
}

double lm_moo_weighted_product(const double *v, const double *w, int m) {
    double s = 1;
    for (int i = 0; i < m; i++) {
        if (w[i] == 0) continue;
        if (!(v[i] > 0)) return NAN;
        s *= pow(v[i], w[i]);
    }
    return s;
}

double lm_moo_mnasnet(double acc, double cost, double target, double alpha, double beta) {
    if (isnan(acc) || !(cost > 0) || !(target > 0)) return NAN;
    double w = cost <= target ? alpha : beta;
    return acc * pow(cost / target, w);
}
