/* Inference latency: the median wall time of evaluation-mode forward passes, for a
 * trainer's model on its own samples (lm_trainer_latency) or for a bare description
 * on random inputs (lm_net_latency, what a search's latency constraint checks before
 * anything is trained). The median, not the mean: a pass that the operating system
 * interrupts says nothing about the network. */
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "lamarck/timer.h"
#include "nn/graph.h"
#include "nn/net.h"
#include "nn/trainer.h"

#include <stdlib.h>
#include <string.h>

/* Seed of the weights lm_net_latency times with: any weights cost the same. */
#define LATENCY_SEED 0x1a7e4c9ull

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One warm-up pass (primitives for this batch size, caches), then reps timed passes
 * over x (batch samples); *sec_per_sample = median pass / batch. */
static int time_passes(lm__net *net, const float *x, int batch, int reps, double *sec_per_sample) {
    double *secs = malloc((size_t)reps * sizeof *secs);
    LM_CHECK_ALLOC(secs);
    int rc = lm__net_forward(net, x, batch, 0);
    for (int r = 0; r < reps && rc == LM_OK; r++) {
        double t0 = lm_time_now();
        rc = lm__net_forward(net, x, batch, 0);
        secs[r] = lm_time_now() - t0;
    }
    if (rc == LM_OK) {
        qsort(secs, (size_t)reps, sizeof *secs, cmp_double);
        double med = reps % 2 ? secs[reps / 2] : 0.5 * (secs[reps / 2 - 1] + secs[reps / 2]);
        *sec_per_sample = med / batch;
    }
    free(secs);
    LM_CALL(rc);
    return LM_OK;
}

int lm_trainer_latency(lm_trainer *t, int batch, int repeats, double *seconds_per_sample) {
    lm__net *net = t->net;
    LM_CHECK(batch >= 1 && batch <= net->max_batch, LM_EINVAL,
             "latency batch must be 1 to %d (the trainer's batch buffers), got %d", net->max_batch,
             batch);
    LM_CHECK(repeats >= 1 && repeats <= 1000, LM_EINVAL, "latency repeats must be 1 to 1000, got %d",
             repeats);
    const lm_dataset *d = t->train;
    int64_t f = lm_dataset_features(d);
    float *x = malloc((size_t)batch * (size_t)f * sizeof *x);
    LM_CHECK(x, LM_ENOMEM, "out of memory for a latency batch of %d", batch);
    for (int i = 0; i < batch; i++)
        memcpy(x + (int64_t)i * f, d->X + (i % d->n) * f, (size_t)f * sizeof(float));
    int rc = time_passes(net, x, batch, repeats, seconds_per_sample);
    free(x);
    LM_CALL(rc);
    return LM_OK;
}

int lm_net_latency(const lm_net_desc *d, int batch, int reps, double *sec_per_sample) {
    LM_CHECK(d && sec_per_sample, LM_EINVAL, "latency: NULL argument");
    LM_CHECK(batch >= 1 && batch <= 4096, LM_EINVAL, "latency batch must be 1 to 4096, got %d",
             batch);
    LM_CHECK(reps >= 1 && reps <= 1000, LM_EINVAL, "latency repeats must be 1 to 1000, got %d",
             reps);
    lm__net *net;
    LM_CALL(lm__net_from_desc(d, 0.0, &net));
    int64_t f = (int64_t)d->in_c * d->in_h * d->in_w;
    float *x = malloc((size_t)batch * (size_t)f * sizeof *x);
    int rc = x ? LM_OK : lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM,
                                      "out of memory for a latency batch of %d", batch);
    if (rc == LM_OK) {
        lm_rng r;
        lm_rng_init(&r, LATENCY_SEED, 0, LM_STREAM_SAMPLE);
        for (int64_t i = 0; i < (int64_t)batch * f; i++) x[i] = (float)lm_rng_normal(&r);
        /* Finishing also plans training buffers: the engine has no inference-only mode,
         * and their memory is not touched by forward passes in evaluation mode. */
        rc = lm__net_finish(net, batch, 0, LATENCY_SEED, 0);
    }
    if (rc == LM_OK) rc = time_passes(net, x, batch, reps, sec_per_sample);
    free(x);
    lm__net_destroy(&net);
    LM_CALL(rc);
    return LM_OK;
}
