/* Mini-batches in a shuffled order: one permutation per epoch from the trial's
 * shuffle stream, rows gathered into a contiguous batch buffer. Every allocation
 * happens in lm_batcher_init, so the training loop never allocates. */
#include "lamarck/data.h"
#include "lamarck/error.h"

#include <stdlib.h>
#include <string.h>

int lm_batcher_init(lm_batcher *b, const lm_dataset *d, int batch, uint64_t seed, uint64_t trial) {
    memset(b, 0, sizeof *b);
    LM_CHECK(batch >= 1, LM_EINVAL, "batch size must be at least 1, got %d", batch);
    LM_CHECK(d->n >= 0 && d->n <= INT32_MAX, LM_EINVAL,
             "dataset '%s' has %lld samples; a batcher handles at most %d", d->name,
             (long long)d->n, INT32_MAX);
    /* The buffer never needs more rows than the dataset has. */
    int64_t rows = batch < d->n ? batch : d->n;
    if (rows < 1) rows = 1;
    size_t f = (size_t)lm_dataset_features(d);
    b->order = malloc((size_t)(d->n ? d->n : 1) * sizeof *b->order);
    b->X = malloc((size_t)rows * f * sizeof *b->X);
    b->y = malloc((size_t)rows * sizeof *b->y);
    if (!b->order || !b->X || !b->y) {
        lm_batcher_fini(b);
        LM_FAIL(LM_ENOMEM, "out of memory for a batcher of %d x %zu floats", batch, f);
    }
    b->d = d;
    b->batch = batch;
    lm_rng_init(&b->rng, seed, trial, LM_STREAM_SHUFFLE);
    /* Until the first lm_batcher_epoch, batches come in dataset order. */
    for (int64_t i = 0; i < d->n; i++) b->order[i] = (int32_t)i;
    b->pos = 0;
    return LM_OK;
}

void lm_batcher_fini(lm_batcher *b) {
    if (!b) return;
    free(b->order);
    free(b->X);
    free(b->y);
    memset(b, 0, sizeof *b);
}

void lm_batcher_epoch(lm_batcher *b, int shuffle) {
    /* Start from the identity each time, so a shuffled epoch's order depends only
     * on how many shuffled epochs came before it, not on unshuffled ones. */
    for (int64_t i = 0; i < b->d->n; i++) b->order[i] = (int32_t)i;
    if (shuffle) lm_rng_shuffle_i32(&b->rng, b->order, (size_t)b->d->n);
    b->pos = 0;
}

int lm_batcher_next(lm_batcher *b) {
    const lm_dataset *d = b->d;
    int64_t left = d->n - b->pos;
    if (left <= 0) return 0;
    int m = left < b->batch ? (int)left : b->batch;
    size_t f = (size_t)lm_dataset_features(d);
    const int32_t *ord = b->order + b->pos;
    for (int i = 0; i < m; i++) {
        memcpy(b->X + (size_t)i * f, d->X + (size_t)ord[i] * f, f * sizeof *b->X);
        b->y[i] = d->y[ord[i]];
    }
    b->pos += m;
    return m;
}
