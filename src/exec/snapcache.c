#define _POSIX_C_SOURCE 200809L
#include "exec/snapcache.h"
#include "lamarck/error.h"
#include "lamarck/io.h"
#include "lamarck/log.h"
#include "lamarck/state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct entry {
    int trial;
    void *data;        /* NULL when spilled */
    size_t n;
    long used;         /* last use, for LRU */
} entry;

struct lm_snapcache {
    size_t max_bytes, bytes;
    char dir[4096];
    entry *v;
    int n, cap;
    long clock;
    long spills, reloads;
};

int lm__snapcache_create(size_t max_bytes, const char *shard_dir, lm_snapcache **out) {
    lm_snapcache *c = calloc(1, sizeof *c);
    LM_CHECK_ALLOC(c);
    c->max_bytes = max_bytes;
    snprintf(c->dir, sizeof c->dir, "%s", shard_dir ? shard_dir : "");
    *out = c;
    return LM_OK;
}

static void spill_path(const lm_snapcache *c, int trial, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/trial%d.h5", c->dir, trial);
}

static int find(const lm_snapcache *c, int trial) {
    for (int i = 0; i < c->n; i++)
        if (c->v[i].trial == trial) return i;
    return -1;
}

static void remove_at(lm_snapcache *c, int i) {
    entry *e = &c->v[i];
    if (e->data) {
        c->bytes -= e->n;
        free(e->data);
    } else {
        char path[4200];
        spill_path(c, e->trial, path, sizeof path);
        unlink(path);
    }
    c->v[i] = c->v[--c->n];
}

void lm__snapcache_destroy(lm_snapcache **c) {
    if (!c || !*c) return;
    while ((*c)->n) remove_at(*c, 0);
    free((*c)->v);
    free(*c);
    *c = NULL;
}

static int mkdirs(const char *dir) {
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST)
            LM_FAIL(LM_EIO, "cannot create %s: %s", p, strerror(errno));
        *s = '/';
    }
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        LM_FAIL(LM_EIO, "cannot create %s: %s", p, strerror(errno));
    return LM_OK;
}

/* Writes the least recently used in-memory entry to the shard and frees its memory. */
static int spill_one(lm_snapcache *c) {
    int lru = -1;
    for (int i = 0; i < c->n; i++)
        if (c->v[i].data && (lru < 0 || c->v[i].used < c->v[lru].used)) lru = i;
    if (lru < 0) return LM_OK;
    LM_CHECK(c->dir[0], LM_EINTERNAL, "snapshot cache over budget and no shard directory");
    LM_CALL(mkdirs(c->dir));
    entry *e = &c->v[lru];
    char path[4200];
    spill_path(c, e->trial, path, sizeof path);
    lm_state_mem *m;
    LM_CALL(lm_state_mem_create(&m));
    lm_state_writer w = lm_state_mem_writer(m);
    int rc = lm_state_put(&w, "snapshot", LM_DT_U8, e->n, e->data);
    if (rc == LM_OK) rc = lm_io_state_write(path, m);
    lm_state_mem_destroy(&m);
    LM_CALL(rc);
    lm_log_debug("snapshot of trial %d (%zu bytes) spilled to %s", e->trial, e->n, path);
    free(e->data);
    e->data = NULL;
    c->bytes -= e->n;
    c->spills++;
    return LM_OK;
}

int lm__snapcache_put(lm_snapcache *c, int trial, void *data, size_t n) {
    int i = find(c, trial);
    if (i >= 0) remove_at(c, i);
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        entry *v = realloc(c->v, (size_t)cap * sizeof *v);
        if (!v) free(data);
        LM_CHECK_ALLOC(v);
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (entry){trial, data, n, ++c->clock};
    c->bytes += n;
    while (c->bytes > c->max_bytes) {
        size_t before = c->bytes;
        LM_CALL(spill_one(c));
        if (c->bytes == before) break;
    }
    return LM_OK;
}

int lm__snapcache_has(const lm_snapcache *c, int trial) { return find(c, trial) >= 0; }

int lm__snapcache_take(lm_snapcache *c, int trial, void **data, size_t *n) {
    int i = find(c, trial);
    LM_CHECK(i >= 0, LM_EINTERNAL, "no snapshot of trial %d in this rank's cache", trial);
    entry *e = &c->v[i];
    if (e->data) {
        *data = e->data;
        *n = e->n;
        c->bytes -= e->n;
        c->v[i] = c->v[--c->n];
        return LM_OK;
    }
    char path[4200];
    spill_path(c, trial, path, sizeof path);
    lm_state_mem *m;
    LM_CALL(lm_state_mem_create(&m));
    int rc = lm_io_state_read(path, m);
    lm_state_reader r = lm_state_mem_reader(m);
    size_t len = 0;
    if (rc == LM_OK) rc = lm_state_len(&r, "snapshot", LM_DT_U8, &len);
    void *buf = NULL;
    if (rc == LM_OK && len != e->n)
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT,
                          "%s holds %zu bytes, %zu expected", path, len, e->n);
    if (rc == LM_OK) {
        buf = malloc(len ? len : 1);
        rc = buf ? lm_state_get(&r, "snapshot", LM_DT_U8, len, buf)
                 : lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    }
    lm_state_mem_destroy(&m);
    if (rc < 0) {
        free(buf);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    unlink(path);
    c->v[i] = c->v[--c->n];
    c->reloads++;
    *data = buf;
    *n = len;
    return LM_OK;
}

int lm__snapcache_trials(const lm_snapcache *c, int *out, int cap) {
    for (int i = 0; i < c->n && i < cap; i++) out[i] = c->v[i].trial;
    return c->n;
}

int lm__snapcache_copy(lm_snapcache *c, int trial, void **data, size_t *n) {
    int i = find(c, trial);
    LM_CHECK(i >= 0, LM_EINTERNAL, "no snapshot of trial %d in this rank's cache", trial);
    if (!c->v[i].data) {
        /* Spilled: read it back and keep it in memory, as any use would. */
        void *buf;
        size_t len;
        LM_CALL(lm__snapcache_take(c, trial, &buf, &len));
        LM_CALL(lm__snapcache_put(c, trial, buf, len));
        i = find(c, trial);
        if (!c->v[i].data) {
            /* Over budget even alone: it went straight back to the shard. */
            LM_CALL(lm__snapcache_take(c, trial, data, n));
            void *again = malloc(*n ? *n : 1);
            LM_CHECK_ALLOC(again);
            memcpy(again, *data, *n);
            return lm__snapcache_put(c, trial, again, *n);
        }
    }
    *data = malloc(c->v[i].n ? c->v[i].n : 1);
    LM_CHECK_ALLOC(*data);
    memcpy(*data, c->v[i].data, c->v[i].n);
    *n = c->v[i].n;
    c->v[i].used = ++c->clock;
    return LM_OK;
}

void lm__snapcache_drop(lm_snapcache *c, int trial) {
    int i = find(c, trial);
    if (i >= 0) remove_at(c, i);
}

lm_snapcache_stats lm__snapcache_stats(const lm_snapcache *c) {
    lm_snapcache_stats s = {0};
    s.entries = c->n;
    for (int i = 0; i < c->n; i++) s.spilled += c->v[i].data == NULL;
    s.bytes_in_memory = c->bytes;
    s.spills = c->spills;
    s.reloads = c->reloads;
    return s;
}
