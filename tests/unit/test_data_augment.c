/* Augmentation: each operation's effect checked exactly, mixup's partners and
 * lambda, the Beta sampler's moments, and determinism per random stream. */
#include "lamarck/data.h"
#include "lamarck/error.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define B 32 /* images per batch */
#define C 2
#define H 6
#define W 7
#define SIZE (C * H * W)

/* Pixel values 1 + i * SIZE + k: all distinct and nonzero. */
static void fill_batch(float *X) {
    for (int i = 0; i < B * SIZE; i++) X[i] = (float)(1 + i);
}

static void params_off(lm_augment_params *a) { memset(a, 0, sizeof *a); }

static float scratch[B * SIZE];

static void test_active_and_scratch(void **state) {
    (void)state;
    lm_augment_params a;
    params_off(&a);
    assert_false(lm_augment_active(&a));
    assert_int_equal(lm_augment_scratch_floats(&a, B, C, H, W), 0);
    a.flip = 1;
    assert_true(lm_augment_active(&a));
    assert_int_equal(lm_augment_scratch_floats(&a, B, C, H, W), 0);
    a.crop_padding = 2;
    assert_int_equal(lm_augment_scratch_floats(&a, B, C, H, W), SIZE);
    a.mixup_alpha = 0.2;
    assert_int_equal(lm_augment_scratch_floats(&a, B, C, H, W), B * SIZE);
}

static void test_flip_twice_is_identity(void **state) {
    (void)state;
    static float X[B * SIZE], orig[B * SIZE];
    fill_batch(X);
    memcpy(orig, X, sizeof X);
    lm_augment_params a;
    params_off(&a);
    a.flip = 1;
    lm_rng r1, r2;
    lm_rng_init(&r1, 5, 1, LM_STREAM_AUGMENT);
    r2 = r1;
    assert_int_equal(lm_augment_batch(&a, &r1, X, NULL, NULL, NULL, B, C, H, W, NULL), LM_OK);
    int flipped = 0;
    for (int i = 0; i < B; i++) {
        const float *x = X + i * SIZE, *o = orig + i * SIZE;
        int same = !memcmp(x, o, SIZE * sizeof *x);
        if (!same) {
            flipped++;
            for (int r = 0; r < C * H; r++)
                for (int c = 0; c < W; c++) assert_true(x[r * W + c] == o[r * W + (W - 1 - c)]);
        }
    }
    assert_true(flipped > 4 && flipped < B - 4); /* about half of 32 */
    /* The same decisions again undo them. */
    assert_int_equal(lm_augment_batch(&a, &r2, X, NULL, NULL, NULL, B, C, H, W, NULL), LM_OK);
    assert_memory_equal(X, orig, sizeof X);
}

static void test_crop_shifts_content(void **state) {
    (void)state;
    static float X[B * SIZE], orig[B * SIZE];
    fill_batch(X);
    memcpy(orig, X, sizeof X);
    lm_augment_params a;
    params_off(&a);
    a.crop_padding = 2;
    lm_rng r;
    lm_rng_init(&r, 6, 1, LM_STREAM_AUGMENT);
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, B, C, H, W, scratch), LM_OK);
    int seen[5][5] = {{0}};
    for (int i = 0; i < B; i++) {
        const float *x = X + i * SIZE, *o = orig + i * SIZE;
        /* Exactly one shift (dy, dx) in [-2, 2]^2 explains the whole image. */
        int matches = 0;
        for (int dy = -2; dy <= 2; dy++)
            for (int dx = -2; dx <= 2; dx++) {
                int ok = 1;
                for (int ch = 0; ch < C && ok; ch++)
                    for (int yy = 0; yy < H && ok; yy++)
                        for (int xx = 0; xx < W && ok; xx++) {
                            int sy = yy + dy, sx = xx + dx;
                            float want = sy >= 0 && sy < H && sx >= 0 && sx < W
                                             ? o[(ch * H + sy) * W + sx] : 0.f;
                            ok = x[(ch * H + yy) * W + xx] == want;
                        }
                if (ok) {
                    matches++;
                    seen[dy + 2][dx + 2]++;
                }
            }
        assert_int_equal(matches, 1);
    }
    int distinct = 0;
    for (int k = 0; k < 25; k++) distinct += seen[k / 5][k % 5] > 0;
    assert_true(distinct >= 10); /* 32 draws from 25 offsets */

    /* Padding beyond the image side moves it, possibly out of view. */
    a.crop_padding = 3 * W;
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, B, C, H, W, scratch), LM_OK);
    /* Absurd padding is refused. */
    a.crop_padding = 1000;
    lm_error_clear();
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, B, C, H, W, scratch),
                     LM_EINVAL);
    lm_error_clear();
    a.crop_padding = 2;
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, B, C, H, W, NULL), LM_EINVAL);
    lm_error_clear();
}

static void test_cutout_zeroes_a_square(void **state) {
    (void)state;
    static float X[B * SIZE], orig[B * SIZE];
    fill_batch(X);
    memcpy(orig, X, sizeof X);
    lm_augment_params a;
    params_off(&a);
    a.cutout = 3;
    lm_rng r;
    lm_rng_init(&r, 7, 1, LM_STREAM_AUGMENT);
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, B, C, H, W, NULL), LM_OK);
    for (int i = 0; i < B; i++) {
        const float *x = X + i * SIZE, *o = orig + i * SIZE;
        int y0 = H, x0 = W, y1 = -1, x1 = -1, zeros = 0;
        for (int yy = 0; yy < H; yy++)
            for (int xx = 0; xx < W; xx++) {
                int z = x[yy * W + xx] == 0.f;
                /* The same square in every channel; the rest untouched. */
                for (int ch = 1; ch < C; ch++)
                    assert_int_equal(x[(ch * H + yy) * W + xx] == 0.f, z);
                for (int ch = 0; ch < C; ch++)
                    if (!z) assert_true(x[(ch * H + yy) * W + xx] == o[(ch * H + yy) * W + xx]);
                if (!z) continue;
                zeros++;
                if (yy < y0) y0 = yy;
                if (yy > y1) y1 = yy;
                if (xx < x0) x0 = xx;
                if (xx > x1) x1 = xx;
            }
        assert_int_equal(zeros, 9);
        assert_int_equal(y1 - y0, 2);
        assert_int_equal(x1 - x0, 2);
    }
    /* A side larger than the image is clamped to its shorter side: 6 x 6 of 6 x 7. */
    fill_batch(X);
    a.cutout = 50;
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, 1, C, H, W, NULL), LM_OK);
    int zeros = 0;
    for (int k = 0; k < SIZE; k++) zeros += X[k] == 0.f;
    assert_int_equal(zeros, C * H * H);
}

static void test_mixup_partners(void **state) {
    (void)state;
    static float X[B * SIZE];
    int32_t y[B], y2[B];
    for (int i = 0; i < B; i++) {
        y[i] = i % 5;
        for (int k = 0; k < SIZE; k++) X[i * SIZE + k] = (float)i;
    }
    lm_augment_params a;
    params_off(&a);
    a.mixup_alpha = 0.4;
    lm_rng r;
    lm_rng_init(&r, 8, 1, LM_STREAM_AUGMENT);
    float lambda = -1;
    assert_int_equal(lm_augment_batch(&a, &r, X, y, y2, &lambda, B, C, H, W, scratch), LM_OK);
    assert_true(lambda > 0 && lambda < 1);
    /* Image i became lambda * i + (1 - lambda) * p for one partner p; the partners
     * are a permutation and y2 holds their labels. */
    int used[B] = {0}, moved = 0;
    float tol = 0.3f * (1 - lambda); /* partners differ by 1 - lambda or more */
    assert_true(tol > 1e-4f);
    for (int i = 0; i < B; i++) {
        int found = -1;
        for (int p = 0; p < B; p++)
            if (fabsf(X[i * SIZE] - (lambda * (float)i + (1 - lambda) * (float)p)) < tol) {
                assert_int_equal(found, -1);
                found = p;
            }
        assert_true(found >= 0);
        for (int k = 0; k < SIZE; k++) assert_true(X[i * SIZE + k] == X[i * SIZE]);
        assert_int_equal(y2[i], y[found]);
        used[found]++;
        moved += found != i;
    }
    for (int p = 0; p < B; p++) assert_int_equal(used[p], 1);
    assert_true(moved > B / 2);

    /* Without mixup: y2 = y and lambda 1. */
    params_off(&a);
    a.flip = 1;
    assert_int_equal(lm_augment_batch(&a, &r, X, y, y2, &lambda, B, C, H, W, NULL), LM_OK);
    assert_memory_equal(y2, y, sizeof y);
    assert_true(lambda == 1.f);
    /* Mixup without labels is refused. */
    a.mixup_alpha = 1;
    lm_error_clear();
    assert_int_equal(lm_augment_batch(&a, &r, X, y, NULL, &lambda, B, C, H, W, scratch),
                     LM_EINVAL);
    lm_error_clear();
}

static void test_beta_moments(void **state) {
    (void)state;
    const double shapes[][2] = {{2, 5}, {0.2, 0.2}, {1, 1}, {0.5, 3}};
    lm_rng r;
    lm_rng_init(&r, 9, 1, LM_STREAM_AUGMENT);
    enum { N = 40000 };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        double a = shapes[s][0], b = shapes[s][1], sum = 0, sq = 0;
        for (int i = 0; i < N; i++) {
            double x = lm_augment_beta(&r, a, b);
            assert_true(x >= 0 && x <= 1);
            sum += x;
            sq += x * x;
        }
        double mean = sum / N, var = sq / N - mean * mean;
        double want_mean = a / (a + b), want_var = a * b / ((a + b) * (a + b) * (a + b + 1));
        /* Standard errors: sd / sqrt(N) <= 0.0025 for the mean; 5 of them allowed. */
        if (fabs(mean - want_mean) > 0.0125 || fabs(var - want_var) > 0.1 * want_var)
            fail_msg("Beta(%g, %g): mean %.4f var %.4f, expected %.4f and %.4f", a, b, mean, var,
                     want_mean, want_var);
    }
    /* Tiny shapes stay finite (the log-space boost). */
    for (int i = 0; i < 1000; i++) {
        double x = lm_augment_beta(&r, 0.01, 0.01);
        assert_true(x >= 0 && x <= 1);
    }
}

/* Runs every augmentation on a fresh batch with a stream of (seed, 1, AUGMENT). */
static void run_all(uint64_t seed, float *X, int32_t *y2, float *lambda) {
    int32_t y[B];
    for (int i = 0; i < B; i++) y[i] = i % 3;
    fill_batch(X);
    lm_augment_params a = {.crop_padding = 1, .flip = 1, .cutout = 2, .mixup_alpha = 0.3,
                           .noise_std = 0.1, .contrast = 0.3, .brightness = 0.2};
    lm_rng r;
    lm_rng_init(&r, seed, 1, LM_STREAM_AUGMENT);
    assert_int_equal(lm_augment_batch(&a, &r, X, y, y2, lambda, B, C, H, W, scratch), LM_OK);
}

static void test_deterministic_per_stream(void **state) {
    (void)state;
    static float X1[B * SIZE], X2[B * SIZE], X3[B * SIZE];
    int32_t a2[B], b2[B], c2[B];
    float la, lb, lc;
    run_all(11, X1, a2, &la);
    run_all(11, X2, b2, &lb);
    run_all(12, X3, c2, &lc);
    assert_memory_equal(X1, X2, sizeof X1);
    assert_memory_equal(a2, b2, sizeof a2);
    assert_true(la == lb);
    assert_memory_not_equal(X1, X3, sizeof X1);
    for (int i = 0; i < B * SIZE; i++) assert_false(isnan(X1[i]));
}

static void test_noise_brightness_contrast(void **state) {
    (void)state;
    static float X[B * SIZE];
    lm_augment_params a;
    lm_rng r;
    lm_rng_init(&r, 13, 1, LM_STREAM_AUGMENT);
    /* Noise on zeros: sample standard deviation near noise_std. */
    memset(X, 0, sizeof X);
    params_off(&a);
    a.noise_std = 0.5;
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, B, C, H, W, NULL), LM_OK);
    double sum = 0, sq = 0;
    for (int i = 0; i < B * SIZE; i++) {
        sum += X[i];
        sq += (double)X[i] * X[i];
    }
    double n = B * SIZE, sd = sqrt(sq / n - (sum / n) * (sum / n));
    assert_true(fabs(sd - 0.5) < 0.03 && fabs(sum / n) < 0.03);

    /* Brightness: one offset in [-b, b] per image. */
    fill_batch(X);
    params_off(&a);
    a.brightness = 0.25;
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, B, C, H, W, NULL), LM_OK);
    int differ = 0;
    float first = X[0] - 1;
    for (int i = 0; i < B; i++) {
        float off = X[i * SIZE] - (float)(1 + i * SIZE);
        assert_true(fabsf(off) <= 0.25f + 1e-3f);
        differ += fabsf(off - first) > 1e-3f;
        for (int k = 0; k < SIZE; k++)
            assert_float_equal(X[i * SIZE + k] - (float)(1 + i * SIZE + k), off, 1e-3);
    }
    assert_true(differ > 0);

    /* Contrast: each channel keeps its mean; deviations scale by one factor in
     * [1 - c, 1 + c]. */
    fill_batch(X);
    params_off(&a);
    a.contrast = 0.4;
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, B, C, H, W, NULL), LM_OK);
    for (int i = 0; i < B; i++)
        for (int ch = 0; ch < C; ch++) {
            const float *x = X + i * SIZE + ch * H * W;
            float base = (float)(1 + i * SIZE + ch * H * W), mean = base + (H * W - 1) / 2.f;
            double s = 0;
            for (int k = 0; k < H * W; k++) s += x[k];
            assert_float_equal(s / (H * W), mean, 1e-2);
            float f = (x[H * W - 1] - mean) / ((base + H * W - 1) - mean);
            assert_true(f >= 0.6f - 1e-4f && f <= 1.4f + 1e-4f);
            for (int k = 0; k < H * W; k++)
                assert_float_equal(x[k], mean + f * (base + (float)k - mean), 1e-2);
        }

    /* Out-of-range values are refused. */
    a.contrast = 1.5;
    lm_error_clear();
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, B, C, H, W, NULL), LM_EINVAL);
    assert_non_null(strstr(lm_error_message(), "contrast 1.5"));
    lm_error_clear();
    params_off(&a);
    a.noise_std = NAN;
    assert_int_equal(lm_augment_batch(&a, &r, X, NULL, NULL, NULL, B, C, H, W, NULL), LM_EINVAL);
    lm_error_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_and_scratch),
        cmocka_unit_test(test_flip_twice_is_identity),
        cmocka_unit_test(test_crop_shifts_content),
        cmocka_unit_test(test_cutout_zeroes_a_square),
        cmocka_unit_test(test_mixup_partners),
        cmocka_unit_test(test_beta_moments),
        cmocka_unit_test(test_deterministic_per_stream),
        cmocka_unit_test(test_noise_brightness_contrast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
