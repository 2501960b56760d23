/* oneDNN plumbing: the engine and stream, primitives with their memory objects,
 * reorders and memory descriptors (see dnn.h). */
#include "nn/dnn.h"

#include "lamarck/error.h"
#include "lamarck/log.h"
#include "nn/net.h"

#include <dnnl_debug.h>
#include <stdlib.h>
#include <string.h>

/* ---- the process's engine and stream ---- */

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int ref_prims; /* reference implementations created so far */

static void release_engine(void) {
    if (stream) dnnl_stream_destroy(stream);
    if (engine) dnnl_engine_destroy(engine);
    stream = NULL;
    engine = NULL;
}

int lm__dnn_init(void) {
    if (engine) return LM_OK;
    LM__DNNL_CALL(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine");
    dnnl_status_t st = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    if (st != dnnl_success) {
        dnnl_engine_destroy(engine);
        engine = NULL;
        LM_FAIL(LM_EDNNL, "oneDNN: creating a stream failed: %s", dnnl_status2str(st));
    }
    atexit(release_engine);
    lm_log_debug("nn: oneDNN %d.%d.%d, CPU ISA %s", dnnl_version()->major, dnnl_version()->minor,
                 dnnl_version()->patch, dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()));
    return LM_OK;
}

dnnl_engine_t lm__dnn_engine(void) { return engine; }
dnnl_stream_t lm__dnn_stream(void) { return stream; }

/* ---- primitive descriptors ---- */

int lm__pd_create(dnnl_primitive_desc_t *pd, const_dnnl_op_desc_t desc, const dnnl_post_ops_t po,
                  const_dnnl_primitive_desc_t hint, const char *what) {
    *pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_status_t st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success && po) st = dnnl_primitive_attr_set_post_ops(attr, po);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(pd, desc, attr, engine, hint);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) {
        *pd = NULL;
        LM_FAIL(LM_EDNNL, "oneDNN: no implementation of %s: %s", what, dnnl_status2str(st));
    }
    return LM_OK;
}

const char *lm__pd_impl(const_dnnl_primitive_desc_t pd) {
    const char *impl = "?";
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success) return "?";
    return impl;
}

int lm__dnn_ref_prims(void) { return ref_prims; }

int lm__pd_is_ref(const_dnnl_primitive_desc_t pd) { return !strncmp(lm__pd_impl(pd), "ref", 3); }

/* ---- primitives ---- */

int lm__prim_init(lm__prim *pr, lm__net *net, const_dnnl_primitive_desc_t pd, const int *args,
                  int nargs, const char *what) {
    memset(pr, 0, sizeof *pr);
    LM_CHECK(nargs >= 1 && nargs <= LM__PRIM_ARGS, LM_EINTERNAL, "%s: %d arguments", what, nargs);
    snprintf(pr->impl, sizeof pr->impl, "%s", lm__pd_impl(pd));
    LM__DNNL_CALL(dnnl_primitive_create(&pr->p, pd), what);
    for (int i = 0; i < nargs; i++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, args[i]);
        LM_CHECK(md && md->ndims > 0, LM_EINTERNAL, "%s: no memory for argument %d", what, args[i]);
        pr->arg[i] = args[i];
        LM__DNNL_CALL(dnnl_memory_create(&pr->mem[i], md, engine, DNNL_MEMORY_NONE), what);
        pr->nargs = i + 1;
    }
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (bytes) {
        LM__DNNL_CALL(dnnl_memory_create(&pr->scratch, sp, engine, DNNL_MEMORY_NONE), what);
        LM_CALL(lm__net_scratch(net, bytes));
    }
    if (!strncmp(pr->impl, "ref", 3)) {
        ref_prims++;
        lm_log_warn("nn: oneDNN chose the reference implementation '%s' for %s: expect it to be "
                    "very slow",
                    pr->impl, what);
    }
    lm_log_debug("nn: %s: %s, scratchpad %zu bytes", what, pr->impl, bytes);
    return LM_OK;
}

int lm__prim_exec(lm__prim *pr, lm__net *net, void *const *ptrs) {
    if (!pr->p) return LM_OK;
    dnnl_exec_arg_t a[LM__PRIM_ARGS + 1];
    int bad = 0;
    for (int i = 0; i < pr->nargs; i++) {
        bad |= dnnl_memory_set_data_handle(pr->mem[i], ptrs[i]) != dnnl_success;
        a[i] = (dnnl_exec_arg_t){pr->arg[i], pr->mem[i]};
    }
    int na = pr->nargs;
    if (pr->scratch) {
        bad |= dnnl_memory_set_data_handle(pr->scratch, net->scratch) != dnnl_success;
        a[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, pr->scratch};
    }
    LM_CHECK(!bad, LM_EDNNL, "oneDNN: attaching buffers to a primitive (%s) failed", pr->impl);
    LM__DNNL_CALL(dnnl_primitive_execute(pr->p, stream, na, a), "executing a primitive");
    return LM_OK;
}

void lm__prim_fini(lm__prim *pr) {
    if (pr->p) dnnl_primitive_destroy(pr->p);
    for (int i = 0; i < pr->nargs; i++)
        if (pr->mem[i]) dnnl_memory_destroy(pr->mem[i]);
    if (pr->scratch) dnnl_memory_destroy(pr->scratch);
    memset(pr, 0, sizeof *pr);
}

int lm__reorder_init(lm__prim *pr, lm__net *net, const dnnl_memory_desc_t *src,
                     const dnnl_memory_desc_t *dst, const char *what) {
    memset(pr, 0, sizeof *pr);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t st = dnnl_primitive_attr_create(&attr);
    if (st == dnnl_success) st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success) st = dnnl_reorder_primitive_desc_create(&pd, src, engine, dst, engine, attr);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) LM_FAIL(LM_EDNNL, "oneDNN: no reorder for %s: %s", what, dnnl_status2str(st));
    static const int args[] = {DNNL_ARG_SRC, DNNL_ARG_DST};
    int rc = lm__prim_init(pr, net, pd, args, 2, what);
    dnnl_primitive_desc_destroy(pd);
    if (rc < 0) {
        lm__prim_fini(pr);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}

/* ---- memory descriptors ---- */

int lm__md_tag(dnnl_memory_desc_t *md, int n, int c, int h, int w, dnnl_format_tag_t tag) {
    dnnl_dims_t dims = {n, c, h, w};
    LM__DNNL_CALL(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag), "describing a tensor");
    return LM_OK;
}

void lm__md_batch(dnnl_memory_desc_t *out, const dnnl_memory_desc_t *md, int n) {
    *out = *md;
    out->dims[0] = n;
    out->padded_dims[0] = n;
}

int lm__md_batch_outer(const dnnl_memory_desc_t *md) {
    if (md->format_kind != dnnl_blocked || md->ndims < 1) return 0;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    for (int i = 0; i < b->inner_nblks; i++)
        if (b->inner_idxs[i] == 0) return 0;
    /* One sample's extent: the padded size with N = 1. */
    dnnl_memory_desc_t one;
    lm__md_batch(&one, md, 1);
    size_t per = dnnl_memory_desc_get_size(&one) / sizeof(float);
    return b->strides[0] == (dnnl_dim_t)per && md->offset0 == 0;
}

int64_t lm__md_floats(const dnnl_memory_desc_t *md) {
    dnnl_memory_desc_t one;
    lm__md_batch(&one, md, 1);
    return (int64_t)(dnnl_memory_desc_get_size(&one) / sizeof(float));
}

int lm__md_is_plain(const dnnl_memory_desc_t *md) {
    if (md->format_kind != dnnl_blocked || md->format_desc.blocking.inner_nblks) return 0;
    dnnl_dim_t s = 1;
    for (int i = md->ndims - 1; i >= 0; i--) {
        if (md->dims[i] > 1 && md->format_desc.blocking.strides[i] != s) return 0;
        s *= md->dims[i];
    }
    return md->offset0 == 0;
}

int lm__md_cblock(const dnnl_memory_desc_t *md) {
    if (md->format_kind != dnnl_blocked) return 1;
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    if (b->inner_nblks == 1 && b->inner_idxs[0] == 1) return (int)b->inner_blks[0];
    return 1;
}

int lm__md_like(dnnl_memory_desc_t *md, const dnnl_memory_desc_t *ref, int n, int c, int h, int w) {
    int blk = lm__md_cblock(ref);
    dnnl_format_tag_t tag = blk == 16 ? dnnl_aBcd16b : blk == 8 ? dnnl_aBcd8b : blk == 4 ? dnnl_aBcd4b
                                                                                         : dnnl_nchw;
    return lm__md_tag(md, n, c, h, w, tag);
}

int lm__md_equal(const dnnl_memory_desc_t *a, const dnnl_memory_desc_t *b) {
    return dnnl_memory_desc_equal(a, b) != 0;
}
