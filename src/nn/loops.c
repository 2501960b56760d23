/* Element-wise kernels small enough that a plain loop beats a oneDNN primitive call:
 * ReLU, sums (skip connections, gradients of tensors read twice), bias gradients
 * (column sums), dropout masks and softmax cross-entropy (with mixup).
 *
 * Each loop handles 16 floats at a time as one vector (kernel.h says why), then the
 * remainder one by one. Vectors are loaded before anything is stored, so in-place
 * calls (dx == dy) are safe. */
#include "nn/kernel.h"

#include <math.h>
#include <string.h>

#define V 16


LM__CLONES void lm__relu_forward(float *y, const float *x, int64_t n) {
    const lm__v16f zero = {0};
    int64_t i = 0;
    for (; i + V <= n; i += V) {
        lm__v16f a;
        LM__VLOAD(a, x + i);
        a = (lm__v16f)((lm__v16i)a & (a > zero));
        LM__VSTORE(y + i, a);
    }
    for (; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

LM__CLONES void lm__relu_backward(float *dx, const float *dy, const float *y, int64_t n) {
    const lm__v16f zero = {0};
    int64_t i = 0;
    for (; i + V <= n; i += V) {
        lm__v16f g, a;
        LM__VLOAD(g, dy + i);
        LM__VLOAD(a, y + i);
        g = (lm__v16f)((lm__v16i)g & (a > zero));
        LM__VSTORE(dx + i, g);
    }
    for (; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

LM__CLONES void lm__add(float *y, const float *a, const float *b, int64_t n) {
    int64_t i = 0;
    for (; i + V <= n; i += V) {
        lm__v16f x, z;
        LM__VLOAD(x, a + i);
        LM__VLOAD(z, b + i);
        x += z;
        LM__VSTORE(y + i, x);
    }
    for (; i < n; i++) y[i] = a[i] + b[i];
}

LM__CLONES void lm__colsum(float *db, const float *dy, int M, int N) {
    int j = 0;
    /* 16 columns at a time down all rows: the partial sums stay in a register, and
     * each column is summed in row order whatever the instruction set. */
    for (; j + V <= N; j += V) {
        lm__v16f s = {0}, r;
        for (int i = 0; i < M; i++) {
            LM__VLOAD(r, dy + (int64_t)i * N + j);
            s += r;
        }
        LM__VSTORE(db + j, s);
    }
    for (; j < N; j++) {
        float s = 0.0f;
        for (int i = 0; i < M; i++) s += dy[(int64_t)i * N + j];
        db[j] = s;
    }
}

LM__CLONES void lm__mul(float *y, const float *x, const float *mask, int64_t n) {
    int64_t i = 0;
    for (; i + V <= n; i += V) {
        lm__v16f a, b;
        LM__VLOAD(a, x + i);
        LM__VLOAD(b, mask + i);
        a *= b;
        LM__VSTORE(y + i, a);
    }
    for (; i < n; i++) y[i] = x[i] * mask[i];
}

double lm__softmax_ce_mix(float *restrict dlogits, const float *restrict logits,
                          const int32_t *restrict y, const int32_t *restrict y2, double lambda,
                          int n, int k, int64_t *correct) {
    double total = 0.0;
    int64_t right = 0;
    int mix = y2 && lambda != 1.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (int64_t)i * k;
        int arg = 0;
        float zmax = z[0];
        for (int j = 1; j < k; j++)
            if (z[j] > zmax) {
                zmax = z[j];
                arg = j;
            }
        /* A NaN logit never wins the comparison above; it still poisons the sum below,
         * which is how divergence is seen. */
        double sum = 0.0;
        for (int j = 0; j < k; j++) sum += exp((double)z[j] - zmax);
        double logsum = log(sum) + zmax;
        double li = logsum - (double)z[y[i]];
        if (mix) li = lambda * li + (1.0 - lambda) * (logsum - (double)z[y2[i]]);
        total += li;
        right += arg == y[i];
        if (dlogits) {
            float *dz = dlogits + (int64_t)i * k;
            double inv_n = 1.0 / n;
            for (int j = 0; j < k; j++) dz[j] = (float)(exp((double)z[j] - logsum) * inv_n);
            if (mix) {
                dz[y[i]] -= (float)(lambda * inv_n);
                dz[y2[i]] -= (float)((1.0 - lambda) * inv_n);
            } else {
                dz[y[i]] -= (float)inv_n;
            }
        }
    }
    if (correct) *correct += right;
    return total / n;
}

double lm__softmax_ce(float *dlogits, const float *logits, const int32_t *y, int n, int k,
                      int64_t *correct) {
    return lm__softmax_ce_mix(dlogits, logits, y, NULL, 1.0, n, k, correct);
}
