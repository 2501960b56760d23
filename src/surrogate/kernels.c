/* Covariance kernels for the GP: RBF, Matern 5/2, linear and periodic base kernels
 * (each with one shared or ARD length scales / weights), and sums and products of
 * kernels as a binary tree.
 *
 * Hyperparameters are held in log form (theta) with their exponentials cached (val),
 * so that evaluating a kernel over n^2 pairs calls exp() once per pair at most.
 * Gradients are with respect to the log form, which is what the fit optimizes:
 * d k / d log l = l d k / d l. Per base kernel the layout of theta is
 *   RBF, MATERN52:  log s2, log l_1 .. log l_L
 *   LINEAR:         log c,  log v_1 .. log v_L
 *   PERIODIC:       log s2, log p, log l_1 .. log l_L
 * with L = dim (ARD) or 1 (one value shared by every input). */
#include "lamarck/error.h"
#include "lamarck/surrogate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct lm_kernel {
    lm_kernel_kind kind;
    int dim;
    int ard;
    int n_params;     /* of the whole subtree */
    double *theta;    /* base kernels: own hyperparameters, log form */
    double *val;      /* exp(theta) */
    lm_kernel *a, *b; /* SUM and PRODUCT */
};

static int is_base(lm_kernel_kind kind) {
    return kind == LM_KERNEL_RBF || kind == LM_KERNEL_MATERN52 || kind == LM_KERNEL_LINEAR ||
           kind == LM_KERNEL_PERIODIC;
}

static int n_scales(const lm_kernel *k) { return k->ard ? k->dim : 1; }

/* ---- creation ---- */

int lm_kernel_create(lm_kernel_kind kind, int dim, int ard, lm_kernel **out) {
    LM_CHECK(out, LM_EINVAL, "lm_kernel_create: NULL output");
    *out = NULL;
    LM_CHECK(is_base(kind), LM_EINVAL,
             "lm_kernel_create: kind %d is not a base kernel (use lm_kernel_combine)", (int)kind);
    LM_CHECK(dim >= 1 && dim <= LM_GP_DIM_MAX, LM_EINVAL,
             "lm_kernel_create: dim %d outside 1..%d", dim, LM_GP_DIM_MAX);
    lm_kernel *k = calloc(1, sizeof *k);
    LM_CHECK_ALLOC(k);
    k->kind = kind;
    k->dim = dim;
    k->ard = ard != 0;
    int L = n_scales(k);
    k->n_params = 1 + L + (kind == LM_KERNEL_PERIODIC);
    k->theta = calloc((size_t)k->n_params, sizeof *k->theta);
    k->val = calloc((size_t)k->n_params, sizeof *k->val);
    if (!k->theta || !k->val) {
        lm_kernel_destroy(&k);
        LM_FAIL(LM_ENOMEM, "out of memory creating a kernel of %d inputs", dim);
    }
    double first = 0.0, scale = log(0.5);
    if (kind == LM_KERNEL_LINEAR) {
        first = log(0.1);
        scale = 0.0;
    }
    k->theta[0] = first;
    int at = 1;
    if (kind == LM_KERNEL_PERIODIC) k->theta[at++] = 0.0;
    for (int i = 0; i < L; i++) k->theta[at + i] = scale;
    for (int i = 0; i < k->n_params; i++) k->val[i] = exp(k->theta[i]);
    *out = k;
    return LM_OK;
}

int lm_kernel_combine(lm_kernel_kind op, lm_kernel *a, lm_kernel *b, lm_kernel **out) {
    int rc = LM_OK;
    lm_kernel *k = NULL;
    if (!out || !a || !b) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                          "lm_kernel_combine: NULL argument");
        goto fail;
    }
    *out = NULL;
    if (op != LM_KERNEL_SUM && op != LM_KERNEL_PRODUCT) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                          "lm_kernel_combine: op %d is neither SUM nor PRODUCT", (int)op);
        goto fail;
    }
    if (a->dim != b->dim) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                          "lm_kernel_combine: kernels of %d and %d inputs", a->dim, b->dim);
        goto fail;
    }
    if (a->n_params + b->n_params > LM_GP_PARAMS_MAX) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EINVAL,
                          "lm_kernel_combine: more than %d hyperparameters", LM_GP_PARAMS_MAX);
        goto fail;
    }
    k = calloc(1, sizeof *k);
    if (!k) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto fail;
    }
    k->kind = op;
    k->dim = a->dim;
    k->n_params = a->n_params + b->n_params;
    k->a = a;
    k->b = b;
    *out = k;
    return LM_OK;
fail:
    lm_kernel_destroy(&a);
    lm_kernel_destroy(&b);
    return rc;
}

void lm_kernel_destroy(lm_kernel **k) {
    if (!k || !*k) return;
    lm_kernel_destroy(&(*k)->a);
    lm_kernel_destroy(&(*k)->b);
    free((*k)->theta);
    free((*k)->val);
    free(*k);
    *k = NULL;
}

int lm_kernel_dim(const lm_kernel *k) { return k->dim; }
int lm_kernel_n_params(const lm_kernel *k) { return k->n_params; }

/* ---- hyperparameters ---- */

void lm_kernel_get_params(const lm_kernel *k, double *theta) {
    if (is_base(k->kind)) {
        memcpy(theta, k->theta, (size_t)k->n_params * sizeof *theta);
        return;
    }
    lm_kernel_get_params(k->a, theta);
    lm_kernel_get_params(k->b, theta + k->a->n_params);
}

void lm_kernel_set_params(lm_kernel *k, const double *theta) {
    if (is_base(k->kind)) {
        for (int i = 0; i < k->n_params; i++) {
            k->theta[i] = theta[i];
            k->val[i] = exp(theta[i]);
        }
        return;
    }
    lm_kernel_set_params(k->a, theta);
    lm_kernel_set_params(k->b, theta + k->a->n_params);
}

void lm_kernel_param_kinds(const lm_kernel *k, lm_hparam_kind *kinds) {
    if (!is_base(k->kind)) {
        lm_kernel_param_kinds(k->a, kinds);
        lm_kernel_param_kinds(k->b, kinds + k->a->n_params);
        return;
    }
    int at = 0;
    if (k->kind == LM_KERNEL_LINEAR) {
        kinds[at++] = LM_HPARAM_OFFSET;
        for (int i = 0; i < n_scales(k); i++) kinds[at++] = LM_HPARAM_VARIANCE;
        return;
    }
    kinds[at++] = LM_HPARAM_VARIANCE;
    if (k->kind == LM_KERNEL_PERIODIC) kinds[at++] = LM_HPARAM_PERIOD;
    for (int i = 0; i < n_scales(k); i++) kinds[at++] = LM_HPARAM_LENGTHSCALE;
}

/* ---- evaluation ---- */

/* Scaled squared distance sum ((a_i - b_i) / l_i)^2; with r2i (may be NULL) the
 * per-scale terms (summed over inputs when the scale is shared). */
static double scaled_dist2(const lm_kernel *k, const double *ell, const double *a, const double *b,
                           double *r2i) {
    double r2 = 0.0;
    if (k->ard) {
        for (int i = 0; i < k->dim; i++) {
            double d = (a[i] - b[i]) / ell[i];
            r2 += d * d;
            if (r2i) r2i[i] = d * d;
        }
    } else {
        double inv = 1.0 / ell[0];
        for (int i = 0; i < k->dim; i++) {
            double d = (a[i] - b[i]) * inv;
            r2 += d * d;
        }
        if (r2i) r2i[0] = r2;
    }
    return r2;
}

static const double SQRT5 = 2.23606797749978969641;
static const double PI = 3.14159265358979323846;

/* One base kernel; g (may be NULL) gets its gradient. */
static double base_eval(const lm_kernel *k, const double *a, const double *b, double *g) {
    const double *v = k->val;
    int L = n_scales(k);
    switch (k->kind) {
    case LM_KERNEL_RBF: {
        /* d/d log l_i of -r^2/2 is r_i^2. */
        double r2 = scaled_dist2(k, v + 1, a, b, g ? g + 1 : NULL);
        double kv = v[0] * exp(-0.5 * r2);
        if (g) {
            g[0] = kv;
            for (int i = 0; i < L; i++) g[1 + i] *= kv;
        }
        return kv;
    }
    case LM_KERNEL_MATERN52: {
        /* dk/dr = -(5/3) s2 r (1 + sqrt5 r) e^{-sqrt5 r} and dr/d log l_i = -r_i^2 / r,
         * so dk/d log l_i = (5/3) s2 (1 + sqrt5 r) e^{-sqrt5 r} r_i^2: no 1/r. */
        double r2 = scaled_dist2(k, v + 1, a, b, g ? g + 1 : NULL);
        double r = sqrt(r2);
        double e = exp(-SQRT5 * r);
        double kv = v[0] * (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e;
        if (g) {
            double c = v[0] * (5.0 / 3.0) * (1.0 + SQRT5 * r) * e;
            g[0] = kv;
            for (int i = 0; i < L; i++) g[1 + i] *= c;
        }
        return kv;
    }
    case LM_KERNEL_LINEAR: {
        double kv = v[0];
        if (g) g[0] = v[0];
        if (k->ard) {
            for (int i = 0; i < k->dim; i++) {
                double t = v[1 + i] * a[i] * b[i];
                kv += t;
                if (g) g[1 + i] = t;
            }
        } else {
            double dot = 0.0;
            for (int i = 0; i < k->dim; i++) dot += a[i] * b[i];
            kv += v[1] * dot;
            if (g) g[1] = v[1] * dot;
        }
        return kv;
    }
    case LM_KERNEL_PERIODIC: {
        /* E = -2 sum sin^2(u_i) / l_i^2 with u_i = pi (a_i - b_i) / p:
         * dE/d log p = 2 sum u_i sin(2 u_i) / l_i^2, dE/d log l_i = 4 sin^2(u_i) / l_i^2. */
        double p = v[1];
        const double *ell = v + 2;
        double E = 0.0, dEp = 0.0;
        if (g)
            for (int i = 0; i < L; i++) g[2 + i] = 0.0;
        for (int i = 0; i < k->dim; i++) {
            double l = ell[k->ard ? i : 0];
            double il2 = 1.0 / (l * l);
            double u = PI * (a[i] - b[i]) / p;
            double s = sin(u);
            E -= 2.0 * s * s * il2;
            if (g) {
                dEp += 2.0 * u * sin(2.0 * u) * il2;
                g[2 + (k->ard ? i : 0)] += 4.0 * s * s * il2;
            }
        }
        double kv = v[0] * exp(E);
        if (g) {
            g[0] = kv;
            g[1] = kv * dEp;
            for (int i = 0; i < L; i++) g[2 + i] *= kv;
        }
        return kv;
    }
    default:
        return NAN;
    }
}

double lm_kernel_eval(const lm_kernel *k, const double *a, const double *b) {
    switch (k->kind) {
    case LM_KERNEL_SUM: return lm_kernel_eval(k->a, a, b) + lm_kernel_eval(k->b, a, b);
    case LM_KERNEL_PRODUCT: return lm_kernel_eval(k->a, a, b) * lm_kernel_eval(k->b, a, b);
    default: return base_eval(k, a, b, NULL);
    }
}

double lm_kernel_grad(const lm_kernel *k, const double *a, const double *b, double *g) {
    if (is_base(k->kind)) return base_eval(k, a, b, g);
    int na = k->a->n_params, nb = k->b->n_params;
    double ka = lm_kernel_grad(k->a, a, b, g);
    double kb = lm_kernel_grad(k->b, a, b, g + na);
    if (k->kind == LM_KERNEL_SUM) return ka + kb;
    for (int i = 0; i < na; i++) g[i] *= kb;
    for (int i = 0; i < nb; i++) g[na + i] *= ka;
    return ka * kb;
}

/* ---- description ---- */

/* Appends text to buf (cap bytes, at used), truncating; returns the new length. */
static size_t append(char *buf, size_t cap, size_t at, const char *text) {
    for (; *text && at + 1 < cap; text++) buf[at++] = *text;
    buf[at < cap ? at : cap - 1] = 0;
    return at;
}

static size_t describe(const lm_kernel *k, char *buf, size_t cap, size_t at) {
    switch (k->kind) {
    case LM_KERNEL_RBF: at = append(buf, cap, at, "rbf"); break;
    case LM_KERNEL_MATERN52: at = append(buf, cap, at, "matern52"); break;
    case LM_KERNEL_LINEAR: at = append(buf, cap, at, "linear"); break;
    case LM_KERNEL_PERIODIC: at = append(buf, cap, at, "periodic"); break;
    default:
        at = append(buf, cap, at, "(");
        at = describe(k->a, buf, cap, at);
        at = append(buf, cap, at, k->kind == LM_KERNEL_SUM ? " + " : " * ");
        at = describe(k->b, buf, cap, at);
        return append(buf, cap, at, ")");
    }
    return k->ard ? append(buf, cap, at, "(ard)") : at;
}

void lm_kernel_describe(const lm_kernel *k, char *buf, size_t cap) {
    if (!cap) return;
    buf[0] = 0;
    describe(k, buf, cap, 0);
}
