/* Data augmentation of image batches, in place, with every random number from the
 * caller's stream (the trainer seeds it per trial and epoch), and no allocation:
 * the caller provides lm_augment_scratch_floats() floats of scratch.
 *
 * Sources: random crop with zero padding and horizontal flips (Krizhevsky et al.
 * 2012; the CIFAR recipe of He et al. 2016, pad 4); cutout (DeVries and Taylor
 * 2017); mixup (Zhang et al. 2018), lambda ~ Beta(alpha, alpha) per batch with a
 * random permutation as partners; Gamma sampling by Marsaglia and Tsang (2000). */
#include "lamarck/data.h"
#include "lamarck/error.h"

#include <math.h>
#include <string.h>

#define MIXUP_ALPHA_MAX 100.0
#define CROP_PADDING_MAX 256
#define LAMBDA_MIN 1e-6

int lm_augment_active(const lm_augment_params *a) {
    return a->crop_padding > 0 || a->flip || a->cutout > 0 || a->mixup_alpha > 0 ||
           a->noise_std > 0 || a->contrast > 0 || a->brightness > 0;
}

size_t lm_augment_scratch_floats(const lm_augment_params *a, int batch, int c, int h, int w) {
    size_t image = (size_t)c * (size_t)h * (size_t)w, need = 0;
    if (a->crop_padding > 0) need = image;
    if (a->mixup_alpha > 0 && (size_t)batch * image > need) need = (size_t)batch * image;
    return need;
}

/* ---- Beta via Gamma ---- */

/* The log of a Gamma(a, 1) draw. Marsaglia and Tsang (2000) for a >= 1; for a < 1
 * their boost G(a) = G(a + 1) U^(1/a), kept in log space, where U^(1/a) would
 * underflow for small a. */
static double log_gamma_draw(lm_rng *r, double a) {
    double boost = 0;
    if (a < 1) {
        boost = log(1.0 - lm_rng_uniform(r)) / a; /* U in (0, 1] */
        a += 1;
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x, v;
        do {
            x = lm_rng_normal(r);
            v = 1.0 + c * x;
        } while (v <= 0);
        v = v * v * v;
        double u = 1.0 - lm_rng_uniform(r);
        /* The squeeze (their eq. 3) accepts most draws without a logarithm. */
        if (u < 1.0 - 0.0331 * (x * x) * (x * x) || log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
            return log(d * v) + boost;
    }
}

double lm_augment_beta(lm_rng *rng, double a, double b) {
    double la = log_gamma_draw(rng, a), lb = log_gamma_draw(rng, b);
    /* G_a / (G_a + G_b) = 1 / (1 + exp(log G_b - log G_a)). */
    return 1.0 / (1.0 + exp(lb - la));
}

/* ---- per-image operations; img is c x h x w ---- */

static float uniform_pm(lm_rng *rng) { return 2.f * lm_rng_uniformf(rng) - 1.f; }

/* Pads by p zeros on every side and crops h x w at a random offset: the image moves
 * by (dy - p, dx - p) with dy, dx uniform in [0, 2p]. */
static void crop(lm_rng *rng, float *img, int c, int h, int w, int p, float *tmp) {
    int dy = (int)lm_rng_below(rng, (uint64_t)(2 * p + 1)) - p;
    int dx = (int)lm_rng_below(rng, (uint64_t)(2 * p + 1)) - p;
    size_t plane = (size_t)h * (size_t)w;
    memcpy(tmp, img, (size_t)c * plane * sizeof *tmp);
    for (int ch = 0; ch < c; ch++) {
        const float *src = tmp + (size_t)ch * plane;
        float *dst = img + (size_t)ch * plane;
        for (int yy = 0; yy < h; yy++) {
            int sy = yy + dy;
            for (int xx = 0; xx < w; xx++) {
                int sx = xx + dx;
                int inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
                dst[(size_t)yy * w + xx] = inside ? src[(size_t)sy * w + sx] : 0.f;
            }
        }
    }
}

static void flip(float *img, int c, int h, int w) {
    for (int r = 0; r < c * h; r++) {
        float *row = img + (size_t)r * w;
        for (int a = 0, b = w - 1; a < b; a++, b--) {
            float t = row[a];
            row[a] = row[b];
            row[b] = t;
        }
    }
}

/* Scales each channel around its mean by f. */
static void contrast(float *img, int c, size_t plane, float f) {
    for (int ch = 0; ch < c; ch++) {
        float *p = img + (size_t)ch * plane;
        double sum = 0;
        for (size_t k = 0; k < plane; k++) sum += p[k];
        float mean = (float)(sum / (double)plane);
        for (size_t k = 0; k < plane; k++) p[k] = mean + f * (p[k] - mean);
    }
}

/* Zeroes an s x s square lying wholly inside the image, in every channel. */
static void cutout(lm_rng *rng, float *img, int c, int h, int w, int s) {
    int y0 = (int)lm_rng_below(rng, (uint64_t)(h - s + 1));
    int x0 = (int)lm_rng_below(rng, (uint64_t)(w - s + 1));
    for (int ch = 0; ch < c; ch++)
        for (int yy = y0; yy < y0 + s; yy++)
            memset(img + ((size_t)ch * h + yy) * w + x0, 0, (size_t)s * sizeof *img);
}

/* ---- the batch ---- */

static int check(const lm_augment_params *a, int batch, int c, int h, int w) {
    LM_CHECK(batch >= 1 && c >= 1 && h >= 1 && w >= 1, LM_EINVAL,
             "augmenting a batch of %d images of %d x %d x %d", batch, c, h, w);
    LM_CHECK(a->crop_padding >= 0 && a->crop_padding <= CROP_PADDING_MAX, LM_EINVAL,
             "crop padding %d outside 0..%d", a->crop_padding, CROP_PADDING_MAX);
    LM_CHECK(a->cutout >= 0, LM_EINVAL, "cutout size %d is negative", a->cutout);
    LM_CHECK(isfinite(a->mixup_alpha) && a->mixup_alpha >= 0 && a->mixup_alpha <= MIXUP_ALPHA_MAX,
             LM_EINVAL, "mixup alpha %g outside [0, %g]", a->mixup_alpha, MIXUP_ALPHA_MAX);
    LM_CHECK(isfinite(a->noise_std) && a->noise_std >= 0, LM_EINVAL,
             "noise standard deviation %g is not a finite value >= 0", a->noise_std);
    LM_CHECK(isfinite(a->contrast) && a->contrast >= 0 && a->contrast <= 1, LM_EINVAL,
             "contrast %g outside [0, 1]", a->contrast);
    LM_CHECK(isfinite(a->brightness) && a->brightness >= 0, LM_EINVAL,
             "brightness %g is not a finite value >= 0", a->brightness);
    return LM_OK;
}

static void augment_image(const lm_augment_params *a, lm_rng *rng, float *img, int c, int h,
                          int w, float *scratch) {
    size_t plane = (size_t)h * (size_t)w, size = (size_t)c * plane;
    if (a->crop_padding > 0) crop(rng, img, c, h, w, a->crop_padding, scratch);
    if (a->flip && (lm_rng_u64(rng) >> 63)) flip(img, c, h, w);
    if (a->brightness > 0) {
        float off = (float)a->brightness * uniform_pm(rng);
        for (size_t k = 0; k < size; k++) img[k] += off;
    }
    if (a->contrast > 0) contrast(img, c, plane, 1.f + (float)a->contrast * uniform_pm(rng));
    if (a->noise_std > 0)
        for (size_t k = 0; k < size; k++) img[k] += (float)(a->noise_std * lm_rng_normal(rng));
    if (a->cutout > 0) {
        int side = h < w ? h : w;
        cutout(rng, img, c, h, w, a->cutout < side ? a->cutout : side);
    }
}

/* Mixes every image with a partner from a random permutation (built in y2, then
 * replaced by the partners' labels). */
static void mixup(const lm_augment_params *a, lm_rng *rng, float *X, const int32_t *y,
                  int32_t *y2, float *lambda, int batch, size_t size, float *scratch) {
    double lam = lm_augment_beta(rng, a->mixup_alpha, a->mixup_alpha);
    if (lam < LAMBDA_MIN) lam = LAMBDA_MIN;
    if (lam > 1 - LAMBDA_MIN) lam = 1 - LAMBDA_MIN;
    for (int i = 0; i < batch; i++) y2[i] = i;
    lm_rng_shuffle_i32(rng, y2, (size_t)batch);
    memcpy(scratch, X, (size_t)batch * size * sizeof *X);
    float l = (float)lam, m = (float)(1 - lam);
    for (int i = 0; i < batch; i++) {
        const float *p = scratch + (size_t)y2[i] * size;
        float *x = X + (size_t)i * size;
        for (size_t k = 0; k < size; k++) x[k] = l * x[k] + m * p[k];
    }
    for (int i = 0; i < batch; i++) y2[i] = y[y2[i]];
    *lambda = l;
}

int lm_augment_batch(const lm_augment_params *a, lm_rng *rng, float *X, const int32_t *y,
                     int32_t *y2, float *lambda, int batch, int c, int h, int w, float *scratch) {
    LM_CALL(check(a, batch, c, h, w));
    LM_CHECK(scratch || lm_augment_scratch_floats(a, batch, c, h, w) == 0, LM_EINVAL,
             "augmentation needs scratch space");
    LM_CHECK(a->mixup_alpha == 0 || (y && y2 && lambda), LM_EINVAL,
             "mixup needs the labels, the partner labels and lambda");
    size_t size = (size_t)c * (size_t)h * (size_t)w;
    for (int i = 0; i < batch; i++) augment_image(a, rng, X + (size_t)i * size, c, h, w, scratch);
    if (a->mixup_alpha > 0) {
        mixup(a, rng, X, y, y2, lambda, batch, size, scratch);
    } else {
        if (y2 && y) memcpy(y2, y, (size_t)batch * sizeof *y2);
        if (lambda) *lambda = 1.f;
    }
    return LM_OK;
}
