/* The state interface's conveniences and its in-memory implementation. */
#include "lamarck/state.h"
#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <stdlib.h>
#include <string.h>

size_t lm_dtype_size(lm_dtype t) {
    switch (t) {
    case LM_DT_F64: case LM_DT_I64: case LM_DT_U64: return 8;
    case LM_DT_F32: case LM_DT_I32: return 4;
    case LM_DT_U8: case LM_DT_STR: return 1;
    }
    return 1;
}

const char *lm_dtype_name(lm_dtype t) {
    static const char *names[] = {"f64", "f32", "i64", "i32", "u64", "u8", "string"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}

/* ---- conveniences ---- */

int lm_state_put(lm_state_writer *w, const char *name, lm_dtype t, size_t n, const void *data) {
    return w->put(w->ctx, name, t, n, data);
}
int lm_state_put_f64(lm_state_writer *w, const char *name, double v) {
    return w->put(w->ctx, name, LM_DT_F64, 1, &v);
}
int lm_state_put_i64(lm_state_writer *w, const char *name, int64_t v) {
    return w->put(w->ctx, name, LM_DT_I64, 1, &v);
}
int lm_state_put_str(lm_state_writer *w, const char *name, const char *s) {
    return w->put(w->ctx, name, LM_DT_STR, strlen(s), s);
}
int lm_state_get(lm_state_reader *r, const char *name, lm_dtype t, size_t n, void *out) {
    return r->get(r->ctx, name, t, n, out);
}
int lm_state_get_f64(lm_state_reader *r, const char *name, double *v) {
    return r->get(r->ctx, name, LM_DT_F64, 1, v);
}
int lm_state_get_i64(lm_state_reader *r, const char *name, int64_t *v) {
    return r->get(r->ctx, name, LM_DT_I64, 1, v);
}
int lm_state_len(lm_state_reader *r, const char *name, lm_dtype t, size_t *n) {
    lm_dtype have;
    LM_CALL(r->info(r->ctx, name, &have, n));
    LM_CHECK(have == t, LM_ECKPT, "state entry '%s' is %s, expected %s", name,
             lm_dtype_name(have), lm_dtype_name(t));
    return LM_OK;
}
int lm_state_get_str(lm_state_reader *r, const char *name, char *out, size_t cap) {
    size_t n;
    LM_CALL(lm_state_len(r, name, LM_DT_STR, &n));
    LM_CHECK(n < cap, LM_ECKPT, "state entry '%s' is %zu bytes, at most %zu expected", name, n,
             cap - 1);
    LM_CALL(r->get(r->ctx, name, LM_DT_STR, n, out));
    out[n] = 0;
    return LM_OK;
}

/* ---- in-memory store ---- */

typedef struct entry {
    char *name;
    lm_dtype t;
    size_t n;
    void *data;
} entry;

struct lm_state_mem {
    entry *v;
    size_t n, cap;
};

int lm_state_mem_create(lm_state_mem **out) {
    *out = calloc(1, sizeof **out);
    LM_CHECK_ALLOC(*out);
    return LM_OK;
}

void lm_state_mem_destroy(lm_state_mem **m) {
    if (!m || !*m) return;
    for (size_t i = 0; i < (*m)->n; i++) {
        free((*m)->v[i].name);
        free((*m)->v[i].data);
    }
    free((*m)->v);
    free(*m);
    *m = NULL;
}

static entry *find(lm_state_mem *m, const char *name) {
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->v[i].name, name)) return &m->v[i];
    return NULL;
}

static int mem_put(void *ctx, const char *name, lm_dtype t, size_t n, const void *data) {
    lm_state_mem *m = ctx;
    size_t bytes = n * lm_dtype_size(t);
    void *copy = malloc(bytes ? bytes : 1);
    LM_CHECK_ALLOC(copy);
    if (bytes) memcpy(copy, data, bytes);
    entry *e = find(m, name);
    if (!e) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 16;
            entry *v = realloc(m->v, cap * sizeof *v);
            if (!v) free(copy);
            LM_CHECK_ALLOC(v);
            m->v = v;
            m->cap = cap;
        }
        e = &m->v[m->n];
        e->name = lm_strdup(name);
        if (!e->name) free(copy);
        LM_CHECK_ALLOC(e->name);
        m->n++;
    } else {
        free(e->data);
    }
    e->t = t;
    e->n = n;
    e->data = copy;
    return LM_OK;
}

static int mem_info(void *ctx, const char *name, lm_dtype *t, size_t *n) {
    entry *e = find(ctx, name);
    LM_CHECK(e, LM_ECKPT, "state entry '%s' is missing", name);
    *t = e->t;
    *n = e->n;
    return LM_OK;
}

static int mem_get(void *ctx, const char *name, lm_dtype t, size_t n, void *out) {
    entry *e = find(ctx, name);
    LM_CHECK(e, LM_ECKPT, "state entry '%s' is missing", name);
    LM_CHECK(e->t == t && e->n == n, LM_ECKPT,
             "state entry '%s' holds %zu x %s, expected %zu x %s", name, e->n,
             lm_dtype_name(e->t), n, lm_dtype_name(t));
    if (n) memcpy(out, e->data, n * lm_dtype_size(t));
    return LM_OK;
}

lm_state_writer lm_state_mem_writer(lm_state_mem *m) {
    lm_state_writer w = {m, mem_put};
    return w;
}

lm_state_reader lm_state_mem_reader(lm_state_mem *m) {
    lm_state_reader r = {m, mem_info, mem_get};
    return r;
}

size_t lm_state_mem_count(const lm_state_mem *m) { return m->n; }

int lm_state_mem_entry(const lm_state_mem *m, size_t i, const char **name, lm_dtype *t,
                       size_t *n, const void **data) {
    LM_CHECK(i < m->n, LM_EINVAL, "state entry %zu of %zu", i, m->n);
    *name = m->v[i].name;
    *t = m->v[i].t;
    *n = m->v[i].n;
    *data = m->v[i].data;
    return LM_OK;
}
