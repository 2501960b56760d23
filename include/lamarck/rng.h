/* Splittable random numbers. Every stream is derived from (seed, stream id) alone,
 * so trial k draws the same numbers whichever rank runs it and in whatever order;
 * the state is four words, saved and restored as they are.
 *
 * Generator: xoshiro256** (Blackman and Vigna 2018), seeded by SplitMix64 over a
 * hash of (seed, stream, sub). */
#ifndef LAMARCK_RNG_H
#define LAMARCK_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_rng {
    uint64_t s[4];
} lm_rng;

/* Well-known sub-stream ids, so that purposes never share numbers. */
enum {
    LM_STREAM_SEARCH = 1,  /* searcher's own decisions */
    LM_STREAM_SAMPLE = 2,  /* hyperparameter sampling of a trial */
    LM_STREAM_INIT = 3,    /* weight initialization of a trial */
    LM_STREAM_SHUFFLE = 4, /* mini-batch order of a trial */
    LM_STREAM_DROPOUT = 5, /* dropout masks of a trial */
    LM_STREAM_SPLIT = 6,   /* train/validation split of a dataset */
    LM_STREAM_AUGMENT = 7, /* data augmentation of a trial */
};

/* Initializes the stream for (seed, id, sub): e.g. (run seed, trial id, LM_STREAM_INIT). */
void lm_rng_init(lm_rng *r, uint64_t seed, uint64_t id, uint64_t sub);

uint64_t lm_rng_u64(lm_rng *r);
double lm_rng_uniform(lm_rng *r);               /* [0, 1) with 53 random bits */
float lm_rng_uniformf(lm_rng *r);               /* [0, 1) with 24 random bits */
uint64_t lm_rng_below(lm_rng *r, uint64_t n);   /* uniform in [0, n), unbiased; n > 0 */
double lm_rng_normal(lm_rng *r);                /* standard normal (Box-Muller, no cache) */
void lm_rng_shuffle_i32(lm_rng *r, int32_t *v, size_t n); /* Fisher-Yates */

#endif
