/* Evaluation of a ranking model (Wistuba and Pedapati 2020, section 4.2): Spearman's
 * rank correlation between the final validation accuracy of a dataset's architectures
 * and their ranking after 10%, 20% and 50% of the epochs, by the model's score and by
 * the last observed value (the baseline every early-stopping rule starts from), and
 * its leave-one-dataset-out form. */
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/rank.h"
#include "rank/rank_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double lm_rank_eval_fracs[LM_RANK_EVAL_POINTS] = {0.1, 0.2, 0.5};

typedef struct keyed {
    double v;
    int i;
} keyed;

static int cmp_keyed(const void *a, const void *b) {
    const keyed *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return x->i - y->i;
}

/* Average ranks (1-based; ties share the mean of their positions) of v into rank. */
static void ranks(const double *v, int n, keyed *k, double *rank) {
    for (int i = 0; i < n; i++) k[i] = (keyed){v[i], i};
    qsort(k, (size_t)n, sizeof *k, cmp_keyed);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && k[j + 1].v == k[i].v) j++;
        double r = 0.5 * (i + j) + 1;
        for (int q = i; q <= j; q++) rank[k[q].i] = r;
        i = j + 1;
    }
}

double lm_rank_spearman(const double *x, const double *y, int n) {
    if (n < 2 || !x || !y) return NAN;
    keyed *k = malloc((size_t)n * sizeof *k);
    double *rx = malloc((size_t)n * sizeof *rx), *ry = malloc((size_t)n * sizeof *ry);
    double rho = NAN;
    if (k && rx && ry) {
        ranks(x, n, k, rx);
        ranks(y, n, k, ry);
        /* Pearson's correlation of the ranks: the tie-corrected Spearman. */
        double mean = 0.5 * (n + 1), sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++) {
            double a = rx[i] - mean, b = ry[i] - mean;
            sxy += a * b;
            sxx += a * a;
            syy += b * b;
        }
        if (sxx > 0 && syy > 0) rho = sxy / sqrt(sxx * syy);
    }
    free(k);
    free(rx);
    free(ry);
    return rho;
}

static int complete(const lm_meta *m, int d, int k) {
    const float *c = m->curves[LM_META_VAL_ACCURACY] + lm_meta_index(m, d, k, 0);
    for (int e = 0; e < m->epochs; e++)
        if (!isfinite(c[e])) return 0;
    return 1;
}

int lm_rank_eval_dataset(lm_rank_model *r, const lm_meta *m, int d, lm_rank_eval *out) {
    LM_CHECK(r && m && out && m->curves[LM_META_VAL_ACCURACY], LM_EINVAL,
             "ranking evaluation: NULL model, meta-dataset or output");
    LM_CHECK(d >= 0 && d < m->n_datasets, LM_EINVAL, "ranking evaluation: dataset %d (0 to %d)", d,
             m->n_datasets - 1);
    LM_CHECK(r->epochs == m->epochs && r->encoding_len == m->encoding_len &&
                 r->n_datasets == m->n_datasets,
             LM_EINVAL,
             "ranking evaluation: the model was trained on curves of %d epochs, encodings of %d "
             "and %d datasets; the meta-dataset has %d, %d and %d",
             r->epochs, r->encoding_len, r->n_datasets, m->epochs, m->encoding_len, m->n_datasets);
    memset(out, 0, sizeof *out);
    out->dataset = d;
    int K = m->n_archs, E = m->epochs, L = m->encoding_len;
    int *arch = malloc((size_t)K * sizeof *arch);
    double *fin = malloc((size_t)K * sizeof *fin), *score = malloc((size_t)K * sizeof *score),
           *last = malloc((size_t)K * sizeof *last);
    float *enc = malloc(((size_t)K * (size_t)L + 1) * sizeof *enc);
    float *curves = malloc((size_t)K * (size_t)E * sizeof *curves);
    int rc = LM_OK;
    if (!arch || !fin || !score || !last || !enc || !curves) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    int n = 0;
    for (int k = 0; k < K; k++) {
        if (!complete(m, d, k)) continue;
        arch[n] = k;
        memcpy(curves + (size_t)n * E, m->curves[LM_META_VAL_ACCURACY] + lm_meta_index(m, d, k, 0),
               (size_t)E * sizeof *curves);
        if (L) memcpy(enc + (size_t)n * L, m->encoding + (size_t)k * L, (size_t)L * sizeof *enc);
        fin[n] = curves[(size_t)n * E + E - 1];
        n++;
    }
    out->n_archs = n;
    for (int i = 0; i < LM_RANK_EVAL_POINTS; i++) {
        int t = (int)lround(lm_rank_eval_fracs[i] * E);
        if (t < 1) t = 1;
        out->t[i] = t;
        out->rho_model[i] = out->rho_last[i] = NAN;
        if (n < 2) continue;
        LM_CALL_GOTO(rc, lm_rank_score_many(r, d, n, enc, curves, E, t, score), done);
        for (int j = 0; j < n; j++) last[j] = curves[(size_t)j * E + t - 1];
        out->rho_model[i] = lm_rank_spearman(score, fin, n);
        out->rho_last[i] = lm_rank_spearman(last, fin, n);
    }
done:
    free(arch);
    free(fin);
    free(score);
    free(last);
    free(enc);
    free(curves);
    return rc;
}

int lm_rank_eval_loo(const lm_meta *m, const lm_rank_options *o, lm_rank_eval *rows) {
    LM_CHECK(m && o && rows, LM_EINVAL, "ranking evaluation: NULL argument");
    LM_CHECK(m->n_datasets >= 2, LM_EDATA,
             "leave-one-dataset-out evaluation needs at least 2 datasets, the meta-dataset has %d",
             m->n_datasets);
    int D = m->n_datasets;
    int *train = malloc((size_t)D * sizeof *train);
    LM_CHECK_ALLOC(train);
    int rc = LM_OK;
    for (int d = 0; d < D && rc == LM_OK; d++) {
        int n = 0;
        for (int j = 0; j < D; j++)
            if (j != d) train[n++] = j;
        lm_rank_model *r = NULL;
        rc = lm_rank_train(m, train, n, o, &r);
        if (rc == LM_OK) rc = lm_rank_eval_dataset(r, m, d, &rows[d]);
        lm_rank_destroy(&r);
        if (rc == LM_OK)
            lm_log_info("rank: held out '%s': Spearman at %d/%d/%d epochs: model %.3f %.3f %.3f, "
                        "last value %.3f %.3f %.3f",
                        m->dataset_names ? m->dataset_names[d] : "?", rows[d].t[0], rows[d].t[1],
                        rows[d].t[2], rows[d].rho_model[0], rows[d].rho_model[1],
                        rows[d].rho_model[2], rows[d].rho_last[0], rows[d].rho_last[1],
                        rows[d].rho_last[2]);
    }
    free(train);
    return rc;
}
