/* xoshiro256** seeded through SplitMix64; see rng.h for the stream scheme. */
#include "lamarck/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void lm_rng_init(lm_rng *r, uint64_t seed, uint64_t id, uint64_t sub) {
    /* Mix the three words through SplitMix64 one after another so that nearby
     * (seed, id, sub) triples give unrelated states. */
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ id;
    h = splitmix64(&x);
    x = h ^ (sub * 0xD1B54A32D192ED03ULL);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1; /* the all-zero state is fixed */
}

uint64_t lm_rng_u64(lm_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double lm_rng_uniform(lm_rng *r) { return (double)(lm_rng_u64(r) >> 11) * 0x1.0p-53; }

float lm_rng_uniformf(lm_rng *r) { return (float)(lm_rng_u64(r) >> 40) * 0x1.0p-24f; }

uint64_t lm_rng_below(lm_rng *r, uint64_t n) {
    /* Rejection from the top so every residue is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = lm_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double lm_rng_normal(lm_rng *r) {
    double u1 = lm_rng_uniform(r), u2 = lm_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void lm_rng_shuffle_i32(lm_rng *r, int32_t *v, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)lm_rng_below(r, i);
        int32_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
