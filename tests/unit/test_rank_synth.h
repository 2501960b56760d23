/* A synthetic learning-curve meta-dataset for the ranking tests: D datasets, K
 * architectures, E epochs, encodings of 4 uniforms u0..u3 per architecture.
 *
 * On dataset d the final accuracy is q = 0.5 + 0.3 (w_d u0 + (1 - w_d) u1) plus a
 * little noise (w_d = 1 - d / (D - 1)), and the curve rises as
 * y_e = q (1 - exp(-s (e + 1))) with a speed s = 0.15 + 1.5 u2 unrelated to q, so
 * early values mislead (slow learners look bad) while the encoding tells the final
 * ordering apart. Only the validation-accuracy curves are filled. */
#ifndef TEST_RANK_SYNTH_H
#define TEST_RANK_SYNTH_H

#include "lamarck/meta.h"
#include "lamarck/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void synth_meta(lm_meta *m, int D, int K, int E, uint64_t seed) {
    memset(m, 0, sizeof *m);
    m->n_datasets = D;
    m->n_archs = K;
    m->epochs = E;
    m->encoding_len = 4;
    m->encoding = malloc((size_t)K * 4 * sizeof *m->encoding);
    m->curves[LM_META_VAL_ACCURACY] = malloc((size_t)D * K * E * sizeof(float));
    m->done = malloc((size_t)D * K);
    m->dataset_names = calloc((size_t)D, sizeof *m->dataset_names);
    lm_rng r;
    lm_rng_init(&r, seed, 0, 0);
    for (int k = 0; k < K * 4; k++) m->encoding[k] = lm_rng_uniformf(&r);
    for (int d = 0; d < D; d++) {
        m->dataset_names[d] = malloc(16);
        snprintf(m->dataset_names[d], 16, "synth%d", d);
        double w = D > 1 ? 1.0 - (double)d / (D - 1) : 1.0;
        for (int k = 0; k < K; k++) {
            const float *u = m->encoding + (size_t)k * 4;
            double q = 0.5 + 0.3 * (w * u[0] + (1 - w) * u[1]) + 0.01 * lm_rng_normal(&r);
            double s = 0.15 + 1.5 * u[2];
            for (int e = 0; e < E; e++)
                m->curves[LM_META_VAL_ACCURACY][lm_meta_index(m, d, k, e)] =
                    (float)(q * (1 - exp(-s * (e + 1))) + 0.003 * lm_rng_normal(&r));
            m->done[(size_t)d * K + k] = 1;
        }
    }
}

static void synth_free(lm_meta *m) {
    for (int d = 0; d < m->n_datasets; d++) free(m->dataset_names[d]);
    free(m->dataset_names);
    free(m->encoding);
    free(m->curves[LM_META_VAL_ACCURACY]);
    free(m->done);
    memset(m, 0, sizeof *m);
}

#endif
