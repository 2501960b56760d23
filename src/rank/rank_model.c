/* LCRankNet scores one learning curve observed up to some epoch.
 * It is the network of Wistuba and Pedapati (ICML 2020, section 3); this file holds its
 * input features, scoring and pairwise training, and lamarck/rank.h describes the input
 * and the layers. */
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/rank.h"
#include "lamarck/rng.h"
#include "rank/rank_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The model's pair-drawing stream: the weights use (seed, 0, LM_STREAM_INIT). */
#define STREAM_PAIRS 101
#define PI 3.14159265358979323846
/* Floor of a per-epoch standard deviation: below it the architectures' accuracies are
 * the same up to the evaluation's resolution, and z-scores would magnify noise. */
#define SD_FLOOR 1e-3f
#define Z_CLIP 6.0f

void lm_rank_options_default(lm_rank_options *o) {
    *o = (lm_rank_options){
        .seed = 1,
        .steps = 2000,
        .batch_pairs = 64,
        .lr = 0.005,
        .momentum = 0.9,
        .weight_decay = 1e-4,
        .filters = 16,
        .hidden = 64,
        .dataset_dropout = 0.2,
        .encoding_dropout = 1,
    };
}

int lm_rank_options_check(const lm_rank_options *o) {
    LM_CHECK(o, LM_EINVAL, "no ranking options");
    LM_CHECK(o->steps >= 1 && o->steps <= 10000000, LM_ERANGE,
             "ranking model: steps must be 1 to 10000000, got %d", o->steps);
    LM_CHECK(o->batch_pairs >= 1 && o->batch_pairs <= 4096, LM_ERANGE,
             "ranking model: batch_pairs must be 1 to 4096, got %d", o->batch_pairs);
    LM_CHECK(isfinite(o->lr) && o->lr > 0, LM_ERANGE, "ranking model: lr must be > 0, got %g",
             o->lr);
    LM_CHECK(o->momentum >= 0 && o->momentum < 1, LM_ERANGE,
             "ranking model: momentum must be in [0, 1), got %g", o->momentum);
    LM_CHECK(isfinite(o->weight_decay) && o->weight_decay >= 0, LM_ERANGE,
             "ranking model: weight_decay must be >= 0, got %g", o->weight_decay);
    LM_CHECK(o->filters >= 1 && o->filters <= 256, LM_ERANGE,
             "ranking model: filters must be 1 to 256, got %d", o->filters);
    LM_CHECK(o->hidden >= 1 && o->hidden <= 1024, LM_ERANGE,
             "ranking model: hidden must be 1 to 1024, got %d", o->hidden);
    LM_CHECK(o->dataset_dropout >= 0 && o->dataset_dropout <= 1, LM_ERANGE,
             "ranking model: dataset_dropout must be in [0, 1], got %g", o->dataset_dropout);
    LM_CHECK(o->encoding_dropout >= 0 && o->encoding_dropout <= 1, LM_ERANGE,
             "ranking model: encoding_dropout must be in [0, 1], got %g", o->encoding_dropout);
    return LM_OK;
}

/* ---- the model ---- */

int lm__rank_create(int epochs, int encoding_len, int n_datasets, const lm_rank_options *o,
                    lm_rank_model **out) {
    *out = NULL;
    LM_CALL(lm_rank_options_check(o));
    LM_CHECK(epochs >= 2 && epochs <= LM_META_EPOCHS_MAX, LM_EINVAL,
             "ranking model: needs 2 to %d epochs per curve, got %d", LM_META_EPOCHS_MAX, epochs);
    LM_CHECK(encoding_len >= 0 && encoding_len <= LM_META_VEC_MAX, LM_EINVAL,
             "ranking model: encoding length %d (0 to %d)", encoding_len, LM_META_VEC_MAX);
    LM_CHECK(n_datasets >= 1 && n_datasets <= LM_META_DATASETS_MAX, LM_EINVAL,
             "ranking model: %d datasets (1 to %d)", n_datasets, LM_META_DATASETS_MAX);
    lm_rank_model *r = calloc(1, sizeof *r);
    LM_CHECK_ALLOC(r);
    r->epochs = epochs;
    r->encoding_len = encoding_len;
    r->n_datasets = n_datasets;
    r->opt = *o;
    size_t L = encoding_len ? (size_t)encoding_len : 1;
    r->enc_mean = calloc(L, sizeof *r->enc_mean);
    r->enc_scale = malloc(L * sizeof *r->enc_scale);
    r->known = calloc((size_t)n_datasets, 1);
    size_t ns = (size_t)(n_datasets + 1) * (size_t)epochs;
    r->stat_mean = calloc(ns, sizeof *r->stat_mean);
    r->stat_sd = malloc(ns * sizeof *r->stat_sd);
    int rc = LM_OK;
    if (!r->enc_mean || !r->enc_scale || !r->known || !r->stat_mean || !r->stat_sd) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < encoding_len; i++) r->enc_scale[i] = 1;
    for (size_t i = 0; i < ns; i++) r->stat_sd[i] = 1;

    int F = o->filters, H = o->hidden;
    const lm_layer_desc layers[] = {
        {.op = LM_OP_CONV, .n_inputs = 1, .inputs = {-1}, .out_channels = F, .kernel = 1,
         .kernel_w = 3, .padding = -1, .relu = 1},
        {.op = LM_OP_CONV, .n_inputs = 1, .inputs = {-1}, .out_channels = F, .kernel = 1,
         .kernel_w = 5, .padding = -1, .relu = 1},
        {.op = LM_OP_GLOBAL_AVGPOOL, .n_inputs = 1, .inputs = {0}},
        {.op = LM_OP_GLOBAL_AVGPOOL, .n_inputs = 1, .inputs = {1}},
        {.op = LM_OP_DENSE, .n_inputs = 1, .inputs = {-1}, .out_channels = H, .relu = 1},
        {.op = LM_OP_CONCAT, .n_inputs = 3, .inputs = {2, 3, 4}},
        {.op = LM_OP_DENSE, .out_channels = H, .relu = 1},
    };
    lm_net_desc d = {layers, (int)(sizeof layers / sizeof *layers), lm__rank_channels(r), 1,
                     epochs, 1};
    LM_CALL_GOTO(rc, lm_custom_net_create(&d, 2 * o->batch_pairs, LM_INIT_HE, o->seed, 0, &r->net),
                 fail);
    *out = r;
    return LM_OK;
fail:
    lm_rank_destroy(&r);
    return rc;
}

void lm_rank_destroy(lm_rank_model **r) {
    if (!r || !*r) return;
    lm_custom_net_destroy(&(*r)->net);
    free((*r)->enc_mean);
    free((*r)->enc_scale);
    free((*r)->known);
    free((*r)->stat_mean);
    free((*r)->stat_sd);
    free((*r)->x);
    free((*r)->y);
    free(*r);
    *r = NULL;
}

int lm_rank_epochs(const lm_rank_model *r) { return r->epochs; }
int lm_rank_encoding_len(const lm_rank_model *r) { return r->encoding_len; }
int lm_rank_n_datasets(const lm_rank_model *r) { return r->n_datasets; }
int lm_rank_dataset_known(const lm_rank_model *r, int d) {
    return d >= 0 && d < r->n_datasets && r->known[d];
}

int lm__rank_scratch(lm_rank_model *r, int n) {
    if (n <= r->cap_x) return LM_OK;
    size_t per = (size_t)lm__rank_channels(r) * (size_t)r->epochs;
    float *x = realloc(r->x, (size_t)n * per * sizeof *x);
    LM_CHECK_ALLOC(x);
    r->x = x;
    float *y = realloc(r->y, 3 * (size_t)n * sizeof *y);
    LM_CHECK_ALLOC(y);
    r->y = y;
    r->cap_x = n;
    return LM_OK;
}

void lm__rank_features(const lm_rank_model *r, int d, int show_dataset, const float *enc,
                       const float *curve, int t, float *x) {
    int E = r->epochs, L = r->encoding_len;
    int row = d >= 0 && d < r->n_datasets ? d : r->n_datasets;
    const float *mu = r->stat_mean + (size_t)row * E, *sd = r->stat_sd + (size_t)row * E;
    float *ch = x;
    float last = 0;
    for (int e = 0; e < E; e++) {
        /* The accuracy of epoch e + 1 relative to the dataset's architectures at that
         * epoch: what ranks them there, on any dataset's scale. */
        float v = 0;
        if (e < t && isfinite(curve[e])) {
            v = (curve[e] - mu[e]) / sd[e];
            v = v > Z_CLIP ? Z_CLIP : v < -Z_CLIP ? -Z_CLIP : v;
        }
        ch[e] = v;
        ch[E + e] = e < t ? 1.0f : 0.0f;
        /* The dataset as its curves describe it: the architectures' mean accuracy and
         * the log of its spread per observed epoch, known for an unseen dataset too. */
        ch[4 * E + e] = e < t ? mu[e] : 0.0f;
        ch[5 * E + e] = e < t ? logf(sd[e]) / 4 + 1 : 0.0f;
        if (e < t) last = v;
    }
    float frac = (float)t / (float)E;
    for (int e = 0; e < E; e++) {
        ch[2 * E + e] = last;
        ch[3 * E + e] = frac;
    }
    ch += LM__RANK_FIXED_CH * E;
    for (int k = 0; k < L; k++, ch += E) {
        float v = enc && isfinite(enc[k]) ? (enc[k] - r->enc_mean[k]) * r->enc_scale[k] : 0.0f;
        for (int e = 0; e < E; e++) ch[e] = v;
    }
    for (int k = 0; k < r->n_datasets; k++, ch += E) {
        float v = show_dataset && k == d && lm_rank_dataset_known(r, d) ? 1.0f : 0.0f;
        for (int e = 0; e < E; e++) ch[e] = v;
    }
}

/* The score is the z-scored last value plus the network's correction, so the model
 * starts from the last-value baseline and learns only what improves on it. */
static float residual(const lm_rank_model *r, const float *x) {
    return x[2 * r->epochs];
}

static int check_score_args(const lm_rank_model *r, int dataset, const float *curve, int t,
                            const void *out) {
    LM_CHECK(r && curve && out, LM_EINVAL, "ranking model: NULL model, curve or output");
    LM_CHECK(t >= 1 && t <= r->epochs, LM_ERANGE,
             "ranking model: a curve of %d observed epochs (1 to the model's %d)", t, r->epochs);
    LM_CHECK(dataset >= -1 && dataset < r->n_datasets, LM_ERANGE,
             "ranking model: dataset %d (-1 to %d)", dataset, r->n_datasets - 1);
    return LM_OK;
}

int lm_rank_score_many(lm_rank_model *r, int dataset, int n, const float *encodings,
                       const float *curves, int stride, int t, double *scores) {
    LM_CALL(check_score_args(r, dataset, curves, t, scores));
    LM_CHECK(n >= 1 && stride >= t, LM_EINVAL,
             "ranking model: %d curves of stride %d for %d observed epochs", n, stride, t);
    /* In chunks, so that scratch stays the size of a training batch. */
    int chunk = 2 * r->opt.batch_pairs;
    LM_CALL(lm__rank_scratch(r, chunk));
    size_t per = (size_t)lm__rank_channels(r) * (size_t)r->epochs;
    for (int i = 0; i < n; i += chunk) {
        int b = n - i < chunk ? n - i : chunk;
        for (int j = 0; j < b; j++) {
            /* A model that always hid the encodings never learned weights for them; no
             * encodings (an architecture the model does not know) score as the average
             * architecture, the hidden-encoding input the model was trained with. */
            const float *enc = encodings && r->encoding_len && r->opt.encoding_dropout < 1
                                   ? encodings + (size_t)(i + j) * r->encoding_len
                                   : NULL;
            lm__rank_features(r, dataset, 1, enc, curves + (size_t)(i + j) * (size_t)stride, t,
                              r->x + (size_t)j * per);
        }
        LM_CALL(lm_custom_net_eval(r->net, r->x, b, r->y));
        for (int j = 0; j < b; j++)
            scores[i + j] = (double)r->y[j] + residual(r, r->x + (size_t)j * per);
    }
    return LM_OK;
}

int lm_rank_score(lm_rank_model *r, int dataset, const float *encoding, const float *curve, int t,
                  double *score) {
    return lm_rank_score_many(r, dataset, 1, encoding, curve, t, t, score);
}

static double sigmoid(double z) {
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

int lm_rank_prob_better(lm_rank_model *r, int dataset, const float *encoding, const float *curve,
                        const float *best_encoding, const float *best_curve, int t, double *p) {
    LM_CALL(check_score_args(r, dataset, curve, t, p));
    LM_CHECK(best_curve, LM_EINVAL, "ranking model: no best curve to compare with");
    double s, sb;
    LM_CALL(lm_rank_score(r, dataset, encoding, curve, t, &s));
    LM_CALL(lm_rank_score(r, dataset, best_encoding, best_curve, t, &sb));
    *p = sigmoid(s - sb);
    return LM_OK;
}

/* ---- training ---- */

/* The complete curves of one training dataset: architecture indices and finals. */
typedef struct pool {
    int d;
    int *arch;
    int n;
} pool;

static int complete(const lm_meta *m, int d, int k) {
    const float *c = m->curves[LM_META_VAL_ACCURACY] + lm_meta_index(m, d, k, 0);
    for (int e = 0; e < m->epochs; e++)
        if (!isfinite(c[e])) return 0;
    return 1;
}

static float final_of(const lm_meta *m, int d, int k) {
    return m->curves[LM_META_VAL_ACCURACY][lm_meta_index(m, d, k, m->epochs - 1)];
}

/* Standardization of the encodings over every architecture: they are the same on
 * every dataset, and scoring a held-out dataset sees the same ones. */
static void fit_standardization(lm_rank_model *r, const lm_meta *m) {
    int L = m->encoding_len, K = m->n_archs;
    for (int k = 0; k < L; k++) {
        double s = 0, s2 = 0;
        int n = 0;
        for (int a = 0; a < K; a++) {
            double v = m->encoding[(size_t)a * L + k];
            if (!isfinite(v)) continue;
            s += v;
            s2 += v * v;
            n++;
        }
        double mean = n ? s / n : 0, var = n ? s2 / n - mean * mean : 0;
        r->enc_mean[k] = (float)mean;
        r->enc_scale[k] = var > 1e-12 ? (float)(1 / sqrt(var)) : 1.0f;
    }
}

/* Per dataset and epoch, the mean and deviation of the validation accuracy over the
 * architectures that reached it: the statistics a search has of the curves it observed
 * (every dataset of m, so that a held-out one is scored on its own scale; a curve's
 * features use the statistics of its observed epochs only). The fallback row D, for a
 * dataset given as unknown, averages the training datasets'. */
static void fit_stats(lm_rank_model *r, const lm_meta *m, const pool *pools, int n_pools) {
    int E = m->epochs, D = m->n_datasets, K = m->n_archs;
    for (int d = 0; d < D; d++)
        for (int e = 0; e < E; e++) {
            double s = 0, s2 = 0;
            int n = 0;
            for (int k = 0; k < K; k++) {
                double v = m->curves[LM_META_VAL_ACCURACY][lm_meta_index(m, d, k, e)];
                if (!isfinite(v)) continue;
                s += v;
                s2 += v * v;
                n++;
            }
            double mean = n ? s / n : 0, var = n ? s2 / n - mean * mean : 0;
            double sd = var > 0 ? sqrt(var) : 0;
            r->stat_mean[(size_t)d * E + e] = (float)mean;
            r->stat_sd[(size_t)d * E + e] = sd > SD_FLOOR ? (float)sd : SD_FLOOR;
        }
    float *fm = r->stat_mean + (size_t)D * E, *fs = r->stat_sd + (size_t)D * E;
    for (int e = 0; e < E; e++) {
        double a = 0, b = 0;
        for (int i = 0; i < n_pools; i++) {
            a += r->stat_mean[(size_t)pools[i].d * E + e];
            b += r->stat_sd[(size_t)pools[i].d * E + e];
        }
        fm[e] = (float)(a / n_pools);
        fs[e] = (float)(b / n_pools);
    }
}

static int check_meta(const lm_meta *m) {
    LM_CHECK(m && m->curves[LM_META_VAL_ACCURACY], LM_EINVAL,
             "ranking model: no meta-dataset (or no validation curves)");
    LM_CHECK(m->encoding_len == 0 || m->encoding, LM_EINVAL,
             "ranking model: the meta-dataset has no architecture encodings");
    LM_CHECK(m->n_archs >= 2, LM_EDATA, "ranking model: the meta-dataset has %d architectures (at "
             "least 2 are needed to form pairs)", m->n_archs);
    return LM_OK;
}

static int make_pools(const lm_meta *m, const int *ds, int n, pool *pools, int *n_pools) {
    *n_pools = 0;
    for (int i = 0; i < n; i++) {
        LM_CHECK(ds[i] >= 0 && ds[i] < m->n_datasets, LM_EINVAL,
                 "ranking model: training dataset %d out of range (0 to %d)", ds[i],
                 m->n_datasets - 1);
        for (int j = 0; j < i; j++)
            LM_CHECK(ds[j] != ds[i], LM_EINVAL, "ranking model: training dataset %d listed twice",
                     ds[i]);
        pool *p = &pools[*n_pools];
        p->d = ds[i];
        p->n = 0;
        p->arch = malloc((size_t)m->n_archs * sizeof *p->arch);
        LM_CHECK_ALLOC(p->arch);
        (*n_pools)++;
        for (int k = 0; k < m->n_archs; k++)
            if (complete(m, ds[i], k)) p->arch[p->n++] = k;
    }
    return LM_OK;
}

/* One step: a dataset, a length t, batch_pairs pairs; loss and gradient of
 * section 3's pairwise cross-entropy, averaged over the pairs. */
static int train_step(lm_rank_model *r, const lm_meta *m, const pool *pools, int n_pools,
                      lm_rng *rng, double lr, double *loss) {
    const pool *p;
    do p = &pools[lm_rng_below(rng, (uint64_t)n_pools)];
    while (p->n < 2);
    int E = m->epochs, B = r->opt.batch_pairs, L = m->encoding_len;
    int t = 1 + (int)lm_rng_below(rng, (uint64_t)(E - 1));
    int show = lm_rng_uniform(rng) >= r->opt.dataset_dropout;
    /* The encoding's relation to the final accuracy differs between datasets (it flips
     * sign between image and tabular ones), so the model must also rank without it. */
    int hide_enc = lm_rng_uniform(rng) < r->opt.encoding_dropout;
    size_t per = (size_t)lm__rank_channels(r) * (size_t)E;
    float *out = r->y, *dout = r->y + 2 * B, *y = r->y + 4 * B; /* lm__rank_scratch(2B) */
    for (int b = 0; b < B; b++) {
        int i = p->arch[lm_rng_below(rng, (uint64_t)p->n)];
        int j = p->arch[lm_rng_below(rng, (uint64_t)(p->n - 1))];
        if (j == i) j = p->arch[p->n - 1]; /* distinct, uniform over the others */
        const int ij[2] = {i, j};
        for (int s = 0; s < 2; s++) {
            const float *enc = L && !hide_enc ? m->encoding + (size_t)ij[s] * L : NULL;
            lm__rank_features(r, p->d, show, enc, m->curves[LM_META_VAL_ACCURACY] + lm_meta_index(m, p->d, ij[s], 0),
                              t, r->x + (size_t)(2 * b + s) * per);
        }
        float fi = final_of(m, p->d, i), fj = final_of(m, p->d, j);
        y[b] = fi > fj ? 1.0f : fi < fj ? 0.0f : 0.5f;
    }
    LM_CALL(lm_custom_net_forward(r->net, r->x, 2 * B, out));
    double sum = 0;
    for (int b = 0; b < B; b++) {
        double z = (double)out[2 * b] + residual(r, r->x + (size_t)(2 * b) * per) -
                   out[2 * b + 1] - residual(r, r->x + (size_t)(2 * b + 1) * per);
        double q = sigmoid(z);
        /* -y log q - (1 - y) log(1 - q), in the stable form log(1 + e^z) - y z. */
        sum += (z > 0 ? z + log1p(exp(-z)) : log1p(exp(z))) - y[b] * z;
        float g = (float)((q - y[b]) / B);
        dout[2 * b] = g;
        dout[2 * b + 1] = -g;
    }
    *loss = sum / B;
    if (!isfinite(*loss)) LM_FAIL(LM_EDATA, "ranking model: the training loss diverged (lr %g)", lr);
    LM_CALL(lm_custom_net_backward(r->net, dout));
    return lm_custom_net_sgd_step(r->net, lr, r->opt.momentum, r->opt.weight_decay);
}

int lm_rank_train(const lm_meta *m, const int *train_datasets, int n, const lm_rank_options *o,
                  lm_rank_model **out) {
    LM_CHECK(out, LM_EINVAL, "lm_rank_train: no output pointer");
    *out = NULL;
    LM_CALL(check_meta(m));
    LM_CALL(lm_rank_options_check(o));
    LM_CHECK(train_datasets && n >= 1 && n <= m->n_datasets, LM_EINVAL,
             "ranking model: %d training datasets (1 to the meta-dataset's %d)", n, m->n_datasets);
    pool *pools = calloc((size_t)n, sizeof *pools);
    LM_CHECK_ALLOC(pools);
    int n_pools = 0, usable = 0, rc;
    lm_rank_model *r = NULL;
    LM_CALL_GOTO(rc, make_pools(m, train_datasets, n, pools, &n_pools), done);
    for (int i = 0; i < n_pools; i++) usable += pools[i].n >= 2;
    if (!usable) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "ranking model: no training dataset has two architectures with complete "
                          "validation curves");
        goto done;
    }
    LM_CALL_GOTO(rc, lm__rank_create(m->epochs, m->encoding_len, m->n_datasets, o, &r), done);
    fit_standardization(r, m);
    fit_stats(r, m, pools, n_pools);
    for (int i = 0; i < n_pools; i++) r->known[pools[i].d] = 1;
    LM_CALL_GOTO(rc, lm__rank_scratch(r, 2 * o->batch_pairs), done);
    lm_rng rng;
    lm_rng_init(&rng, o->seed, 0, STREAM_PAIRS);
    double avg = 0;
    for (int s = 0; s < o->steps; s++) {
        /* Cosine decay to 0 (Loshchilov and Hutter 2017, without restarts). */
        double lr = o->lr * 0.5 * (1 + cos(PI * s / o->steps));
        if (lr <= 0) lr = o->lr * 1e-6;
        double loss = 0;
        LM_CALL_GOTO(rc, train_step(r, m, pools, n_pools, &rng, lr, &loss), done);
        avg = s ? 0.98 * avg + 0.02 * loss : loss;
        if ((s + 1) % 500 == 0 || s + 1 == o->steps)
            lm_log_debug("rank: step %d/%d, pairwise loss %.4f (running mean)", s + 1, o->steps, avg);
    }
    *out = r;
    r = NULL;
    rc = LM_OK;
done:
    for (int i = 0; i < n_pools; i++) free(pools[i].arch);
    free(pools);
    lm_rank_destroy(&r);
    return rc;
}
