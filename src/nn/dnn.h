/* oneDNN plumbing shared by the layers that run on primitives: the process's engine
 * and stream, primitives bundled with their memory objects, reorders between
 * layouts, and memory descriptors for a given batch size.
 *
 * A primitive is created once per (layer, batch size) with memory objects that hold
 * no data; every execution attaches the caller's pointers (a store each, no
 * allocation) and the network's shared scratchpad (user scratchpad mode, so oneDNN
 * never allocates while a primitive runs).
 *
 * Layouts: a tensor's layout is a memory descriptor for one sample (N = 1) whose
 * batch dimension is outermost, so n samples are n consecutive blocks of `stride`
 * floats and the descriptor for n samples is the same with N = n (lm__md_batch).
 * oneDNN picks blocked layouts (channels in blocks of 16 on AVX-512: nChw16c) for
 * convolutions; the layers keep them from one primitive to the next and reorder only
 * where a layer needs another (dense layers read plain C order). */
#ifndef LAMARCK_NN_DNN_H
#define LAMARCK_NN_DNN_H

#include <dnnl.h>
#include <dnnl_debug.h>
#include <stdint.h>

struct lm__net;

/* The process's CPU engine and stream, created on first use (LM_EDNNL on failure). */
int lm__dnn_init(void);
dnnl_engine_t lm__dnn_engine(void);
dnnl_stream_t lm__dnn_stream(void);

#define LM__DNNL_CALL(expr, what)                                                              \
    do {                                                                                       \
        dnnl_status_t st__ = (expr);                                                           \
        if (st__ != dnnl_success)                                                              \
            LM_FAIL(LM_EDNNL, "oneDNN: %s failed: %s", (what), dnnl_status2str(st__));        \
    } while (0)

#define LM__PRIM_ARGS 12

/* A primitive and its memory objects, one per execution argument. */
typedef struct lm__prim {
    dnnl_primitive_t p;               /* NULL: not created (executing it does nothing) */
    int nargs;
    int arg[LM__PRIM_ARGS];           /* DNNL_ARG_* in the order of lm__prim_exec's ptrs */
    dnnl_memory_t mem[LM__PRIM_ARGS];
    dnnl_memory_t scratch;            /* NULL when the primitive needs no scratchpad */
    char impl[48];                    /* oneDNN's implementation name */
} lm__prim;

/* Creates the primitive of pd with one data-less memory object for each of args[0..nargs)
 * (descriptors queried from pd) and a scratchpad argument when pd needs one (the net's
 * shared scratchpad grows to fit). what names it in messages. Warns when oneDNN chose
 * a reference implementation ("ref:"), which is hundreds of times slower. */
int lm__prim_init(lm__prim *pr, struct lm__net *net, const_dnnl_primitive_desc_t pd, const int *args,
                  int nargs, const char *what);

/* Executes with ptrs[i] attached to args[i] (the order given to lm__prim_init). */
int lm__prim_exec(lm__prim *pr, struct lm__net *net, void *const *ptrs);

void lm__prim_fini(lm__prim *pr);

/* A reorder from src to dst (same logical dimensions): args SRC, DST. */
int lm__reorder_init(lm__prim *pr, struct lm__net *net, const dnnl_memory_desc_t *src,
                     const dnnl_memory_desc_t *dst, const char *what);

/* Creates pd from an operation descriptor (attr may be NULL: user scratchpad only;
 * hint the forward primitive descriptor of a backward one, or NULL). */
int lm__pd_create(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t desc, const dnnl_post_ops_t po,
                  const_dnnl_primitive_desc_t hint, const char *what);

/* Primitives created so far whose implementation is a reference loop (tests expect
 * none for the layers they build). */
int lm__dnn_ref_prims(void);

/* Whether pd's implementation is a reference loop. */
int lm__pd_is_ref(const_dnnl_primitive_desc_t pd);
const char *lm__pd_impl(const_dnnl_primitive_desc_t pd);

/* ---- memory descriptors ---- */

/* A 4-D f32 descriptor {n, c, h, w} with format tag tag (dnnl_nchw, dnnl_aBcd16b, ...). */
int lm__md_tag(dnnl_memory_desc_t *md, int n, int c, int h, int w, dnnl_format_tag_t tag);

/* md (batch 1 or any) with batch n: valid for layouts whose batch is outermost. */
void lm__md_batch(dnnl_memory_desc_t *out, const dnnl_memory_desc_t *md, int n);

/* Whether md's batch dimension is outermost and dense (lm__md_batch applies). */
int lm__md_batch_outer(const dnnl_memory_desc_t *md);

/* Floats of one sample of md (padding included). */
int64_t lm__md_floats(const dnnl_memory_desc_t *md);

/* Whether md is plain C order (n c h w, dense). */
int lm__md_is_plain(const dnnl_memory_desc_t *md);

/* The channel block of md (16 for nChw16c), 1 for plain layouts. */
int lm__md_cblock(const dnnl_memory_desc_t *md);

/* A layout for {n, c, h, w} blocked like ref's channels (plain when ref is plain, or
 * when ref's block is not one of 4, 8, 16). */
int lm__md_like(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *ref, int n, int c, int h, int w);

int lm__md_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b);

#endif
