/* Element-wise kernels small enough that a plain loop beats a oneDNN primitive call:
 * ReLU, bias gradients (column sums), dropout masks and softmax cross-entropy. */
#include "nn/kernel.h"

#include <math.h>

void lm__relu_forward(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void lm__relu_backward(float *dx, const float *dy, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void lm__colsum(float *restrict db, const float *restrict dy, int M, int N) {
    for (int j = 0; j < N; j++) db[j] = 0.0f;
    /* Row by row, so the inner loop runs over contiguous memory. */
    for (int i = 0; i < M; i++) {
        const float *row = dy + (int64_t)i * N;
        for (int j = 0; j < N; j++) db[j] += row[j];
    }
}

void lm__mul(float *y, const float *x, const float *mask, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}

double lm__softmax_ce(float *restrict dlogits, const float *restrict logits,
                      const int32_t *restrict y, int n, int k, int64_t *correct) {
    double total = 0.0;
    int64_t right = 0;
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
        total += logsum - (double)z[y[i]];
        right += arg == y[i];
        if (dlogits) {
            float *dz = dlogits + (int64_t)i * k;
            double inv_n = 1.0 / n;
            for (int j = 0; j < k; j++) dz[j] = (float)(exp((double)z[j] - logsum) * inv_n);
            dz[y[i]] -= (float)inv_n;
        }
    }
    if (correct) *correct += right;
    return total / n;
}
