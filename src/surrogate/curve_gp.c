/* A multi-fidelity GP over (configuration, epoch): every learning-curve point is an
 * observation at input (x, t), t = log(epoch) / log(max_epochs), and the final
 * accuracy of a configuration is the prediction at t = 1.
 *
 * The log scale for epochs puts the early epochs, where curves change fastest, apart
 * and the late ones, where they flatten, together, which suits a stationary kernel.
 * Curves are thinned to their last few points (max_points_per_curve), so that a GP
 * of a few hundred points covers many configurations: the last points of a curve
 * carry most of what it says about its end. */
#include "lamarck/error.h"
#include "lamarck/surrogate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lm_curve_gp {
    int dim, max_epochs;
    lm_gp *gp;
};

int lm_curve_gp_create(int dim, int max_epochs, const lm_gp_options *o, lm_curve_gp **out) {
    LM_CHECK(out, LM_EINVAL, "lm_curve_gp_create: NULL output");
    *out = NULL;
    LM_CHECK(dim >= 1 && dim < LM_GP_DIM_MAX, LM_EINVAL,
             "lm_curve_gp_create: %d configuration entries (1 to %d)", dim, LM_GP_DIM_MAX - 1);
    LM_CHECK(max_epochs >= 2, LM_EINVAL, "lm_curve_gp_create: max_epochs %d < 2", max_epochs);
    lm_curve_gp *g = calloc(1, sizeof *g);
    LM_CHECK_ALLOC(g);
    g->dim = dim;
    g->max_epochs = max_epochs;
    lm_kernel *k;
    int rc = lm_kernel_create(LM_KERNEL_MATERN52, dim + 1, 1, &k);
    if (rc == LM_OK) rc = lm_gp_create(dim + 1, k, o, &g->gp);
    if (rc < 0) {
        free(g);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    *out = g;
    return LM_OK;
}

void lm_curve_gp_destroy(lm_curve_gp **g) {
    if (!g || !*g) return;
    lm_gp_destroy(&(*g)->gp);
    free(*g);
    *g = NULL;
}

lm_gp *lm_curve_gp_model(lm_curve_gp *g) { return g->gp; }

double lm_curve_gp_t(const lm_curve_gp *g, int epoch) {
    if (epoch <= 1) return 0.0;
    if (epoch >= g->max_epochs) return 1.0;
    return log((double)epoch) / log((double)g->max_epochs);
}

typedef struct point_ref {
    const double *x;
    int dim, epoch, index;
} point_ref;

/* Configurations in byte order, then epochs from the last. */
static int cmp_points(const void *pa, const void *pb) {
    const point_ref *a = pa, *b = pb;
    int c = memcmp(a->x, b->x, (size_t)a->dim * sizeof *a->x);
    if (c) return c;
    if (a->epoch != b->epoch) return a->epoch > b->epoch ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

int lm_curve_gp_fit(lm_curve_gp *g, int n, const double *X, const int *epoch, const double *acc,
                    int max_points_per_curve, lm_rng *rng) {
    LM_CHECK(g && X && epoch && acc && rng, LM_EINVAL, "lm_curve_gp_fit: NULL argument");
    LM_CHECK(n >= 1 && n <= (1 << 26), LM_EINVAL, "lm_curve_gp_fit: %d points", n);
    LM_CHECK(max_points_per_curve >= 0, LM_EINVAL, "lm_curve_gp_fit: max_points_per_curve %d",
             max_points_per_curve);
    for (int i = 0; i < n; i++)
        LM_CHECK(epoch[i] >= 1 && epoch[i] <= g->max_epochs, LM_EINVAL,
                 "curve point %d: epoch %d outside 1..%d", i, epoch[i], g->max_epochs);
    int d = g->dim;
    point_ref *refs = malloc((size_t)n * sizeof *refs);
    double *Xt = malloc((size_t)n * (size_t)(d + 1) * sizeof *Xt);
    double *y = malloc((size_t)n * sizeof *y);
    int rc = LM_OK;
    if (!refs || !Xt || !y) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM,
                          "out of memory fitting a curve GP to %d points", n);
        goto out;
    }
    for (int i = 0; i < n; i++) refs[i] = (point_ref){X + (size_t)i * d, d, epoch[i], i};
    qsort(refs, (size_t)n, sizeof *refs, cmp_points);
    int m = 0, run = 0;
    for (int i = 0; i < n; i++) {
        run = i > 0 && !memcmp(refs[i].x, refs[i - 1].x, (size_t)d * sizeof *X) ? run + 1 : 0;
        if (max_points_per_curve > 0 && run >= max_points_per_curve) continue;
        double *row = Xt + (size_t)m * (d + 1);
        memcpy(row, refs[i].x, (size_t)d * sizeof *row);
        row[d] = lm_curve_gp_t(g, refs[i].epoch);
        y[m++] = acc[refs[i].index];
    }
    LM_CALL_GOTO(rc, lm_gp_fit_data(g->gp, m, Xt, y, rng), out);
out:
    free(refs);
    free(Xt);
    free(y);
    return rc;
}

int lm_curve_gp_predict_final(const lm_curve_gp *g, int m, const double *X, double *mu,
                              double *var) {
    LM_CHECK(g && (m == 0 || (X && mu)), LM_EINVAL, "lm_curve_gp_predict_final: NULL argument");
    LM_CHECK(m >= 0, LM_EINVAL, "lm_curve_gp_predict_final: %d points", m);
    if (m == 0) return LM_OK;
    int d = g->dim;
    double *Xt = malloc((size_t)m * (size_t)(d + 1) * sizeof *Xt);
    LM_CHECK(Xt, LM_ENOMEM, "out of memory predicting %d final accuracies", m);
    for (int i = 0; i < m; i++) {
        memcpy(Xt + (size_t)i * (d + 1), X + (size_t)i * d, (size_t)d * sizeof *Xt);
        Xt[(size_t)i * (d + 1) + d] = 1.0;
    }
    int rc = lm_gp_predict(g->gp, m, Xt, mu, var);
    free(Xt);
    LM_CALL(rc);
    return LM_OK;
}
