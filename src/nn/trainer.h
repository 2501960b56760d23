/* The trainer's state, shared by trainer.c, snapshot.c and prune.c. */
#ifndef LAMARCK_NN_TRAINER_H
#define LAMARCK_NN_TRAINER_H

#include "lamarck/nn.h"
#include "nn/net.h"

struct lm_trainer {
    lm_train_params p;
    const lm_dataset *train, *val;
    lm__net *net;
    lm__sgd opt;
    lm_batcher batcher;   /* rows for net->max_batch; batcher.batch is p.batch_size */
    int n_classes;
    int images;           /* samples have height or width > 1: augmentation applies */
    int epochs_done;
    long step;            /* mini-batches trained so far, over the whole run */
    lm_rng aug_rng;       /* (seed, trial, LM_STREAM_AUGMENT) */
    int32_t *y2;          /* mixup partners' labels, max_batch */
    float *aug_scratch;
    size_t aug_floats;
    uint64_t arch;        /* fingerprint of the architecture (snapshot.c) */
};

/* FNV-1a over bytes, continuing from h (start with LM__FNV_BASIS). */
#define LM__FNV_BASIS 0xcbf29ce484222325ull
uint64_t lm__fnv1a(uint64_t h, const void *data, size_t n);

/* The fingerprint of net's architecture: layer kinds, configurations, inputs,
 * parameter and statistics counts, input shape (not dropout rates). */
uint64_t lm__net_fingerprint(const lm__net *net);

#endif
