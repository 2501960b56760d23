/* The kernel interface of the neural-network engine: the few numeric operations that
 * layers are made of. Matrix products go to oneDNN; small element-wise loops that
 * oneDNN would only slow down (per-call overhead larger than the work) are plain C.
 * Nothing outside src/nn sees oneDNN types.
 *
 * All matrices are dense, row-major and contiguous (leading dimension = row length).
 * Kernels take outputs first, then inputs, then sizes, as llm.c does.
 *
 *     lm__kernels *k;
 *     lm__kernels_create(&k);
 *     // Y (n x out) = relu(X (n x in) . W (in x out) + b)
 *     lm__matmul(k, Y, X, W, b, n, out, in, LM__MM_BIAS | LM__MM_RELU);
 *     // dX (n x in) = dY (n x out) . W^T
 *     lm__matmul(k, dX, dY, W, NULL, n, in, out, LM__MM_TRANS_B);
 *     // dW (in x out) = X^T . dY
 *     lm__matmul(k, dW, X, dY, NULL, in, out, n, LM__MM_TRANS_A);
 *     lm__kernels_destroy(&k);
 */
#ifndef LAMARCK_NN_KERNEL_H
#define LAMARCK_NN_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- matrix products (oneDNN) ---- */

enum {
    LM__MM_TRANS_A = 1u, /* A is stored K x M: the product uses its transpose */
    LM__MM_TRANS_B = 2u, /* B is stored N x K */
    LM__MM_BIAS = 4u,    /* adds bias (N) to every row of C */
    LM__MM_RELU = 8u,    /* applies max(0, x) after the bias (a fused post-op) */
    LM__MM_ACCUM = 16u,  /* C += product [+ bias] instead of C = ...: gradients summed
                          * over several consumers; not with LM__MM_RELU */
};

/* A cache of matmul primitives, one per (M, N, K, flags). Creating a primitive takes
 * milliseconds, so each shape is created once (shapes differ only for the last partial
 * batch) and reused; every later call allocates nothing. Each network owns one cache,
 * so a finished trial gives its primitives back. Not thread-safe: one per thread. */
typedef struct lm__kernels lm__kernels;

int lm__kernels_create(lm__kernels **out);
void lm__kernels_destroy(lm__kernels **k);

/* C (M x N) = [C +] op(A) (M x K) . op(B) (K x N) [+ bias] [relu], where op
 * transposes when the matching LM__MM_TRANS_* flag is set. bias is read only with
 * LM__MM_BIAS. Creates the primitive on the first call for a shape (LM_EDNNL on
 * failure, with oneDNN's status in the message); later calls for the shape cannot fail
 * for a cause of their own and return the status of the execution. */
int lm__matmul(lm__kernels *k, float *C, const float *A, const float *B, const float *bias,
               int M, int N, int K, unsigned flags);

/* Creates the primitive for a shape ahead of time, so that the calls which follow
 * allocate nothing (the trainer prepares the last partial batch this way). */
int lm__matmul_prepare(lm__kernels *k, int M, int N, int K, unsigned flags);

/* The name of the implementation oneDNN chose for a prepared shape ("brg:avx512_core",
 * ...), or NULL if the shape was never prepared. A name starting with "ref:" is a
 * reference loop, hundreds of times slower. */
const char *lm__matmul_impl(const lm__kernels *k, int M, int N, int K, unsigned flags);

/* Primitives currently cached (tests check that shapes are reused). */
int lm__kernels_cached(const lm__kernels *k);

/* The oneDNN engine's instruction set ("avx512_core_bf16", ...), for benchmark output. */
const char *lm__kernels_isa(void);

/* ---- element-wise loops ---- */

/* The loops below are written over 16-float vectors (GCC vector extensions) and
 * compiled once per instruction set, chosen at load time: one AVX-512 instruction per
 * vector where the CPU has it, two AVX2 or four SSE2 ones elsewhere. The build's
 * flags target baseline x86-64, where a plain loop would run one float at a time. */
typedef float lm__v16f __attribute__((vector_size(64)));
typedef int32_t lm__v16i __attribute__((vector_size(64)));
/* Unaligned loads and stores (macros: a function returning a vector would change the
 * ABI between the clones). */
#define LM__VLOAD(v, p) memcpy(&(v), (p), sizeof(lm__v16f))
#define LM__VSTORE(p, v) memcpy((p), &(v), sizeof(lm__v16f))
#if defined(__x86_64__) && defined(__GNUC__)
#define LM__CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LM__CLONES
#endif

/* y = max(0, x), n elements (may be in place). */
void lm__relu_forward(float *y, const float *x, int64_t n);

/* dx = dy where y > 0, else 0 (y is the ReLU's output; dx may alias dy). */
void lm__relu_backward(float *dx, const float *dy, const float *y, int64_t n);

/* y = a + b, n elements (y may alias a or b). */
void lm__add(float *y, const float *a, const float *b, int64_t n);

/* db (N) = sum over the M rows of dy (M x N); db is overwritten. */
void lm__colsum(float *db, const float *dy, int M, int N);

/* y = x * mask, n elements; mask holds 0 or 1/(1-p) (inverted dropout). */
void lm__mul(float *y, const float *x, const float *mask, int64_t n);

/* Softmax cross-entropy over n rows of k logits, labels y in [0, k).
 * Returns the mean loss over the rows (NaN or infinite when the logits are); writes
 * dlogits = (softmax - onehot) / n when dlogits is not NULL (it may not alias logits)
 * and adds the number of rows whose largest logit is the label to *correct when
 * correct is not NULL. Numerically stable: the row maximum is subtracted first and
 * the sums are in double. */
double lm__softmax_ce(float *dlogits, const float *logits, const int32_t *y, int n, int k,
                      int64_t *correct);

/* The mixup loss (Zhang et al. 2018): lambda CE(y) + (1 - lambda) CE(y2), whose
 * gradient is softmax - (lambda onehot(y) + (1 - lambda) onehot(y2)), over n; correct
 * counts rows whose largest logit is y's. y2 NULL or lambda 1: lm__softmax_ce. */
double lm__softmax_ce_mix(float *dlogits, const float *logits, const int32_t *y, const int32_t *y2,
                          double lambda, int n, int k, int64_t *correct);

/* One SGD step over n parameters (see sgd.c for the formula):
 *   m = mu m + g;  d = nesterov ? g + mu m : m;  w -= lr (d + wd w). */
void lm__sgd_update(float *w, float *m, const float *g, int64_t n, float lr, float mu,
                    int nesterov, float wd);

#endif
