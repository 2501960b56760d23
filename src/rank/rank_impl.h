/* The ranking model's representation, shared by training, scoring and the file format. */
#ifndef LAMARCK_RANK_IMPL_H
#define LAMARCK_RANK_IMPL_H

#include "lamarck/nn.h"
#include "lamarck/rank.h"

#include <stdint.h>

#define LM__RANK_FIXED_CH 6 /* curve, mask, last value, t / E, epoch mean, epoch deviation */

struct lm_rank_model {
    int epochs;            /* E */
    int encoding_len;      /* L */
    int n_datasets;        /* D */
    lm_rank_options opt;   /* what it was trained with (filters and hidden shape it) */
    float *enc_mean;       /* L: the training architectures' encoding mean */
    float *enc_scale;      /* L: 1 / their standard deviation (1 where it is 0) */
    uint8_t *known;        /* D: trained on dataset d */
    float *stat_mean;      /* (D + 1) x E: per dataset, the mean validation accuracy of
                            * epoch e + 1 over its architectures; row D, the fallback for
                            * an unknown dataset (the training datasets' average) */
    float *stat_sd;        /* (D + 1) x E: their standard deviations (floored) */
    lm_custom_net *net;
    float *x;              /* scratch: cap_x inputs */
    float *y;              /* scratch: 3 cap_x floats (outputs, their gradients, labels) */
    int cap_x;
};

/* Channels of the network input: fixed ones, encoding, one-hot. */
static inline int lm__rank_channels(const lm_rank_model *r) {
    return LM__RANK_FIXED_CH + r->encoding_len + r->n_datasets;
}

/* A model of the given shape with freshly initialized weights from o->seed, the
 * standardization identity and no dataset known. */
int lm__rank_create(int epochs, int encoding_len, int n_datasets, const lm_rank_options *o,
                    lm_rank_model **out);

/* Writes one network input (channels x E floats, C order) for curve[0..t) of the
 * architecture encoded by enc (NULL: the mean architecture) on dataset d (-1: unknown,
 * the fallback statistics). The one-hot is d's when show_dataset is set and the model
 * knows d, else zero. */
void lm__rank_features(const lm_rank_model *r, int d, int show_dataset, const float *enc,
                       const float *curve, int t, float *x);

/* Makes the scratch buffers hold n samples. */
int lm__rank_scratch(lm_rank_model *r, int n);

#endif
