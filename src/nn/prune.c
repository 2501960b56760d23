/* Global magnitude pruning (Han et al. 2015): the smallest weights of all
 * convolutions and dense layers together are set to 0 and kept there by a mask that
 * every later SGD step applies (lm__net_sgd_step), so the network fine-tunes around
 * them. Biases and batch-normalization parameters are never pruned: they are few and
 * each one matters. */
#include "lamarck/error.h"
#include "nn/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The k-th smallest (0-based) of v[0..n), n > k, rearranging v (quickselect with a
 * median-of-three pivot: linear on average, and the pruned weights of a second
 * pruning, all equal, only cost one pass each). */
static float select_kth(float *v, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        float a = v[lo], b = v[mid], c = v[hi];
        float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        /* Three-way partition: < pivot, == pivot, > pivot. */
        int64_t lt = lo, i = lo, gt = hi;
        while (i <= gt) {
            if (v[i] < pivot) {
                float x = v[lt];
                v[lt++] = v[i];
                v[i++] = x;
            } else if (v[i] > pivot) {
                float x = v[gt];
                v[gt--] = v[i];
                v[i] = x;
            } else {
                i++;
            }
        }
        if (k < lt)
            hi = lt - 1;
        else if (k > gt)
            lo = gt + 1;
        else
            return pivot;
    }
    return v[lo];
}

static int64_t weight_count(const lm__net *net) {
    int64_t w = 0;
    for (int i = 0; i < net->n_layers; i++) w += net->layers[i].n_w;
    return w;
}

int lm_trainer_prune(lm_trainer *t, double sparsity) {
    LM_CHECK(sparsity >= 0 && sparsity < 1, LM_EINVAL, "pruning sparsity must be in [0, 1), got %g",
             sparsity);
    lm__net *net = t->net;
    int64_t total = weight_count(net), k = llround(sparsity * (double)total);
    if (k == 0) return LM_OK;
    if (!net->prune_mask) {
        float *m = malloc((size_t)net->n_params * sizeof *m);
        LM_CHECK_ALLOC(m);
        for (int64_t i = 0; i < net->n_params; i++) m[i] = 1.0f;
        net->prune_mask = m;
    }
    /* Magnitudes of all weights; those pruned before count as -1, the smallest. */
    float *mag = malloc((size_t)total * sizeof *mag);
    LM_CHECK_ALLOC(mag);
    int64_t j = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const lm__layer *l = &net->layers[i];
        const float *mask = net->prune_mask + l->off;
        for (int64_t q = 0; q < l->n_w; q++)
            mag[j++] = mask[q] == 0.0f ? -1.0f : (l->w[q] < 0 ? -l->w[q] : l->w[q]);
    }
    float thresh = select_kth(mag, total, k - 1);
    free(mag);
    /* Everything below the threshold goes, then weights equal to it in position order
     * until k are pruned. */
    int64_t below = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const lm__layer *l = &net->layers[i];
        const float *mask = net->prune_mask + l->off;
        for (int64_t q = 0; q < l->n_w; q++) {
            float a = mask[q] == 0.0f ? -1.0f : (l->w[q] < 0 ? -l->w[q] : l->w[q]);
            below += a < thresh;
        }
    }
    int64_t ties = k - below;
    for (int i = 0; i < net->n_layers; i++) {
        lm__layer *l = &net->layers[i];
        float *mask = net->prune_mask + l->off, *mom = net->momentum + l->off;
        for (int64_t q = 0; q < l->n_w; q++) {
            float a = mask[q] == 0.0f ? -1.0f : (l->w[q] < 0 ? -l->w[q] : l->w[q]);
            int cut = a < thresh || (a == thresh && ties > 0);
            if (a == thresh && ties > 0) ties--;
            if (!cut) continue;
            mask[q] = 0.0f;
            l->w[q] = 0.0f;
            mom[q] = 0.0f;
        }
    }
    return LM_OK;
}

double lm_trainer_sparsity(const lm_trainer *t) {
    const lm__net *net = t->net;
    int64_t total = weight_count(net), pruned = 0;
    if (!net->prune_mask || total == 0) return 0.0;
    for (int i = 0; i < net->n_layers; i++) {
        const lm__layer *l = &net->layers[i];
        const float *mask = net->prune_mask + l->off;
        for (int64_t q = 0; q < l->n_w; q++) pruned += mask[q] == 0.0f;
    }
    return (double)pruned / (double)total;
}
