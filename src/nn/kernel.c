/* Matrix products through oneDNN's matmul primitive, cached per shape.
 *
 * One engine and one stream (dnn.c) serve the whole process. Each lm__kernels holds the
 * primitives of one network: for every (M, N, K, flags) a primitive, its memory
 * objects (created once without data; the pointers are attached on every call, which
 * costs a store, not an allocation) and a scratchpad shared by all of them (user
 * scratchpad mode, so oneDNN never allocates while a primitive executes). */
#include "nn/kernel.h"

#include "lamarck/error.h"
#include "lamarck/log.h"
#include "nn/dnn.h"

#include <dnnl.h>
#include <dnnl_debug.h>
#include <stdlib.h>
#include <string.h>

#define IMPL_MAX 64

#define DNNL_CALL(expr, what) LM__DNNL_CALL(expr, what)

typedef struct mm_entry {
    int M, N, K;
    unsigned flags;
    dnnl_primitive_t prim;
    dnnl_memory_t src, wei, bias, dst, scratch;
    dnnl_exec_arg_t args[5];
    int nargs;
    size_t scratch_bytes;
    char impl[IMPL_MAX];
} mm_entry;

struct lm__kernels {
    mm_entry *e;
    int n, cap;
    int last;         /* index of the last entry used: consecutive calls often repeat */
    void *scratch;    /* shared by every primitive; sized for the largest */
    size_t scratch_bytes;
};

const char *lm__kernels_isa(void) { return dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()); }

/* ---- the cache ---- */

int lm__kernels_create(lm__kernels **out) {
    *out = NULL;
    LM_CALL(lm__dnn_init());
    lm__kernels *k = calloc(1, sizeof *k);
    LM_CHECK_ALLOC(k);
    *out = k;
    return LM_OK;
}

static void entry_fini(mm_entry *e) {
    if (e->prim) dnnl_primitive_destroy(e->prim);
    dnnl_memory_t mems[] = {e->src, e->wei, e->bias, e->dst, e->scratch};
    for (int i = 0; i < 5; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    memset(e, 0, sizeof *e);
}

void lm__kernels_destroy(lm__kernels **kp) {
    if (!kp || !*kp) return;
    lm__kernels *k = *kp;
    for (int i = 0; i < k->n; i++) entry_fini(&k->e[i]);
    free(k->e);
    free(k->scratch);
    free(k);
    *kp = NULL;
}

int lm__kernels_cached(const lm__kernels *k) { return k->n; }

static mm_entry *find(const lm__kernels *k, int M, int N, int K, unsigned flags) {
    for (int i = 0; i < k->n; i++) {
        mm_entry *e = &k->e[i];
        if (e->M == M && e->N == N && e->K == K && e->flags == flags) return e;
    }
    return NULL;
}

static int memory_for(dnnl_memory_t *mem, const dnnl_memory_desc_t *md) {
    DNNL_CALL(dnnl_memory_create(mem, md, lm__dnn_engine(), DNNL_MEMORY_NONE), "creating a memory object");
    return LM_OK;
}

/* Builds the primitive descriptor, the primitive and its memory objects into e.
 * On failure e holds whatever was created, for entry_fini. */
static int entry_init(lm__kernels *k, mm_entry *e, int M, int N, int K, unsigned flags) {
    e->M = M;
    e->N = N;
    e->K = K;
    e->flags = flags;
    dnnl_memory_desc_t a_md, b_md, bias_md, c_md;
    dnnl_dims_t a_dims = {M, K}, b_dims = {K, N}, c_dims = {M, N}, bias_dims = {1, N};
    /* A transposed operand is the same memory read with swapped strides: no copy. */
    dnnl_dims_t a_str = {K, 1}, a_str_t = {1, M}, b_str = {N, 1}, b_str_t = {1, K};
    dnnl_dims_t c_str = {N, 1}, bias_str = {N, 1};
    DNNL_CALL(dnnl_memory_desc_init_by_strides(&a_md, 2, a_dims, dnnl_f32,
                                               (flags & LM__MM_TRANS_A) ? a_str_t : a_str),
              "describing matmul A");
    DNNL_CALL(dnnl_memory_desc_init_by_strides(&b_md, 2, b_dims, dnnl_f32,
                                               (flags & LM__MM_TRANS_B) ? b_str_t : b_str),
              "describing matmul B");
    DNNL_CALL(dnnl_memory_desc_init_by_strides(&c_md, 2, c_dims, dnnl_f32, c_str),
              "describing matmul C");
    DNNL_CALL(dnnl_memory_desc_init_by_strides(&bias_md, 2, bias_dims, dnnl_f32, bias_str),
              "describing matmul bias");
    dnnl_matmul_desc_t desc;
    DNNL_CALL(dnnl_matmul_desc_init(&desc, &a_md, &b_md, (flags & LM__MM_BIAS) ? &bias_md : NULL,
                                    &c_md),
              "describing a matmul");

    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success && (flags & (LM__MM_RELU | LM__MM_ACCUM))) {
        st = dnnl_post_ops_create(&po);
        if (st == dnnl_success && (flags & LM__MM_ACCUM)) st = dnnl_post_ops_append_sum(po, 1.0f);
        if (st == dnnl_success && (flags & LM__MM_RELU))
            st = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
        if (st == dnnl_success) st = dnnl_primitive_attr_set_post_ops(attr, po);
    }
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &desc, attr, lm__dnn_engine(), NULL);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) {
        LM_FAIL(LM_EDNNL, "oneDNN: no matmul for M=%d N=%d K=%d flags=0x%x: %s", M, N, K, flags,
                dnnl_status2str(st));
    }

    const char *impl = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    snprintf(e->impl, sizeof e->impl, "%s", impl);
    const dnnl_memory_desc_t *sp_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    e->scratch_bytes = sp_md ? dnnl_memory_desc_get_size(sp_md) : 0;
    st = dnnl_primitive_create(&e->prim, pd);
    if (st == dnnl_success && e->scratch_bytes) st = dnnl_memory_create(&e->scratch, sp_md, lm__dnn_engine(),
                                                                         DNNL_MEMORY_NONE);
    dnnl_primitive_desc_destroy(pd);
    if (st != dnnl_success)
        LM_FAIL(LM_EDNNL, "oneDNN: creating a matmul (M=%d N=%d K=%d) failed: %s", M, N, K,
                dnnl_status2str(st));

    LM_CALL(memory_for(&e->src, &a_md));
    LM_CALL(memory_for(&e->wei, &b_md));
    LM_CALL(memory_for(&e->dst, &c_md));
    e->args[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, e->src};
    e->args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, e->wei};
    e->args[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, e->dst};
    e->nargs = 3;
    if (flags & LM__MM_BIAS) {
        LM_CALL(memory_for(&e->bias, &bias_md));
        e->args[e->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->bias};
    }
    if (e->scratch) e->args[e->nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->scratch};

    if (e->scratch_bytes > k->scratch_bytes) {
        /* Rounded up to a multiple of the alignment, as aligned_alloc requires. */
        size_t bytes = (e->scratch_bytes + 63) & ~(size_t)63;
        void *p = aligned_alloc(64, bytes);
        LM_CHECK_ALLOC(p);
        free(k->scratch);
        k->scratch = p;
        k->scratch_bytes = bytes;
    }
    lm_log_debug("nn: matmul M=%d N=%d K=%d flags=0x%x: %s, scratchpad %zu bytes", M, N, K, flags,
                 e->impl, e->scratch_bytes);
    if (!strncmp(e->impl, "ref:", 4))
        lm_log_warn("nn: oneDNN picked the reference matmul '%s' for M=%d N=%d K=%d: expect it "
                    "to be very slow",
                    e->impl, M, N, K);
    return LM_OK;
}

static int get_entry(lm__kernels *k, mm_entry **out, int M, int N, int K, unsigned flags) {
    if (k->last < k->n) {
        mm_entry *e = &k->e[k->last];
        if (e->M == M && e->N == N && e->K == K && e->flags == flags) {
            *out = e;
            return LM_OK;
        }
    }
    mm_entry *e = find(k, M, N, K, flags);
    if (e) {
        k->last = (int)(e - k->e);
        *out = e;
        return LM_OK;
    }
    LM_CHECK(M > 0 && N > 0 && K > 0, LM_EINVAL, "matmul sizes must be positive, got M=%d N=%d K=%d",
             M, N, K);
    LM_CHECK(!(flags & ~(unsigned)(LM__MM_TRANS_A | LM__MM_TRANS_B | LM__MM_BIAS | LM__MM_RELU |
                                   LM__MM_ACCUM)),
             LM_EINVAL, "unknown matmul flags 0x%x", flags);
    /* relu(C + AB) or C + relu(AB)? Neither is needed, so neither is offered. */
    LM_CHECK(!((flags & LM__MM_ACCUM) && (flags & LM__MM_RELU)), LM_EINVAL,
             "a matmul cannot both accumulate and apply a ReLU (flags 0x%x)", flags);
    if (k->n == k->cap) {
        int cap = k->cap ? 2 * k->cap : 16;
        mm_entry *p = realloc(k->e, (size_t)cap * sizeof *p);
        LM_CHECK_ALLOC(p);
        k->e = p;
        k->cap = cap;
    }
    e = &k->e[k->n];
    memset(e, 0, sizeof *e);
    int rc = entry_init(k, e, M, N, K, flags);
    if (rc < 0) {
        entry_fini(e);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    k->last = k->n++;
    *out = e;
    return LM_OK;
}

int lm__matmul_prepare(lm__kernels *k, int M, int N, int K, unsigned flags) {
    mm_entry *e;
    LM_CALL(get_entry(k, &e, M, N, K, flags));
    return LM_OK;
}

const char *lm__matmul_impl(const lm__kernels *k, int M, int N, int K, unsigned flags) {
    const mm_entry *e = find(k, M, N, K, flags);
    return e ? e->impl : NULL;
}

int lm__matmul(lm__kernels *k, float *C, const float *A, const float *B, const float *bias,
               int M, int N, int K, unsigned flags) {
    mm_entry *e;
    LM_CALL(get_entry(k, &e, M, N, K, flags));
    /* oneDNN takes non-const handles; it only reads A, B and bias. */
    int bad = dnnl_memory_set_data_handle(e->src, (void *)(uintptr_t)A) != dnnl_success;
    bad |= dnnl_memory_set_data_handle(e->wei, (void *)(uintptr_t)B) != dnnl_success;
    bad |= dnnl_memory_set_data_handle(e->dst, C) != dnnl_success;
    if (e->bias) bad |= dnnl_memory_set_data_handle(e->bias, (void *)(uintptr_t)bias) != dnnl_success;
    if (e->scratch) bad |= dnnl_memory_set_data_handle(e->scratch, k->scratch) != dnnl_success;
    LM_CHECK(!bad, LM_EDNNL, "oneDNN: attaching buffers to a matmul (M=%d N=%d K=%d) failed", M, N, K);
    DNNL_CALL(dnnl_primitive_execute(e->prim, lm__dnn_stream(), e->nargs, e->args), "executing a matmul");
    return LM_OK;
}
