/* The ranking model's file: a plain binary format, native byte order (little-endian
 * on every machine lamarck supports), so that a model needs no HDF5 to be read by the
 * stopper.
 *
 *   "LMRANK01"                       8 bytes
 *   version, E, L, D, filters, hidden, batch_pairs, steps      8 x int32
 *   lr, momentum, weight_decay, dataset_dropout,
 *   encoding_dropout                                           5 x float64
 *   seed, n (floats of the weight vector)                      2 x uint64
 *   encoding mean (L), encoding scale (L)                      float32
 *   datasets trained on (D)                                    uint8
 *   per-epoch means, then deviations ((D + 1) x E each)        float32
 *   weights (n, lm_custom_net_weights' layout)                 float32
 *   FNV-1a 64 of every byte before it                          uint64
 *
 * A reader checks the header's bounds before allocating, the file's size against
 * them, and the checksum before using any of it. */
#include "lamarck/error.h"
#include "lamarck/hash.h"
#include "lamarck/rank.h"
#include "rank/rank_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "LMRANK01"
#define VERSION 2 /* 1: no encoding dropout, no per-epoch statistics */
#define HEADER_BYTES (8 + 8 * 4 + 5 * 8 + 2 * 8)
#define WEIGHTS_MAX (1L << 28)

static size_t body_bytes(int E, int L, int D, uint64_t n) {
    return 2 * (size_t)L * sizeof(float) + (size_t)D +
           2 * (size_t)(D + 1) * (size_t)E * sizeof(float) + (size_t)n * sizeof(float);
}

static unsigned char *put(unsigned char *p, const void *v, size_t n) {
    memcpy(p, v, n);
    return p + n;
}

int lm_rank_save(const lm_rank_model *r, const char *path) {
    LM_CHECK(r && path, LM_EINVAL, "lm_rank_save: NULL model or path");
    const float *w;
    size_t nw;
    lm_custom_net_weights(r->net, &w, &nw);
    int L = r->encoding_len, D = r->n_datasets;
    size_t ns = (size_t)(D + 1) * (size_t)r->epochs;
    size_t total = HEADER_BYTES + body_bytes(r->epochs, L, D, nw) + 8;
    unsigned char *buf = malloc(total), *p = buf;
    LM_CHECK_ALLOC(buf);
    const lm_rank_options *o = &r->opt;
    int32_t ints[8] = {VERSION, r->epochs, L, D, o->filters, o->hidden, o->batch_pairs, o->steps};
    double reals[5] = {o->lr, o->momentum, o->weight_decay, o->dataset_dropout,
                       o->encoding_dropout};
    uint64_t u[2] = {o->seed, (uint64_t)nw};
    p = put(p, MAGIC, 8);
    p = put(p, ints, sizeof ints);
    p = put(p, reals, sizeof reals);
    p = put(p, u, sizeof u);
    p = put(p, r->enc_mean, (size_t)L * sizeof(float));
    p = put(p, r->enc_scale, (size_t)L * sizeof(float));
    p = put(p, r->known, (size_t)D);
    p = put(p, r->stat_mean, ns * sizeof(float));
    p = put(p, r->stat_sd, ns * sizeof(float));
    p = put(p, w, nw * sizeof(float));
    uint64_t h = lm_fnv1a64(LM_FNV1A64_INIT, buf, (size_t)(p - buf));
    p = put(p, &h, sizeof h);

    char tmp[4096];
    int rc = LM_OK;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        free(buf);
        LM_FAIL(LM_EINVAL, "ranking model path too long: %s", path);
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EIO, "cannot write '%s': %s", tmp,
                          strerror(errno));
    } else {
        int bad = fwrite(buf, 1, total, f) != total;
        bad |= fclose(f) != 0;
        if (bad)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EIO, "writing '%s' failed: %s", tmp,
                              strerror(errno));
        else if (rename(tmp, path) != 0)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EIO, "cannot rename '%s' to '%s': %s",
                              tmp, path, strerror(errno));
        if (rc < 0) remove(tmp);
    }
    free(buf);
    return rc;
}

static const unsigned char *get(const unsigned char *p, void *v, size_t n) {
    memcpy(v, p, n);
    return p + n;
}

/* Reads the whole file (at most max bytes) into *buf. */
static int slurp(const char *path, size_t max, unsigned char **buf, size_t *len) {
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        LM_FAIL(e == ENOENT ? LM_ENOENT : LM_EIO, "cannot open ranking model '%s': %s", path,
                strerror(e));
    }
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        LM_FAIL(LM_EIO, "cannot read ranking model '%s': not a seekable file", path);
    }
    if ((size_t)size > max || size < HEADER_BYTES + 8) {
        fclose(f);
        LM_FAIL(LM_EDATA, "ranking model '%s': %ld bytes is no model file (%d to %zu expected)",
                path, size, HEADER_BYTES + 8, max);
    }
    unsigned char *b = malloc((size_t)size);
    if (!b) {
        fclose(f);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    size_t got = fread(b, 1, (size_t)size, f);
    fclose(f);
    if (got != (size_t)size) {
        free(b);
        LM_FAIL(LM_EIO, "ranking model '%s': read %zu of %ld bytes", path, got, size);
    }
    *buf = b;
    *len = got;
    return LM_OK;
}

static int parse(const char *path, const unsigned char *buf, size_t len, lm_rank_model **out) {
    const unsigned char *p = buf;
    LM_CHECK(!memcmp(p, MAGIC, 8), LM_EDATA, "'%s' is not a lamarck ranking model (bad magic)",
             path);
    p += 8;
    int32_t ints[8];
    double reals[5];
    uint64_t u[2];
    p = get(p, ints, sizeof ints);
    p = get(p, reals, sizeof reals);
    p = get(p, u, sizeof u);
    LM_CHECK(ints[0] == VERSION, LM_EDATA, "ranking model '%s': version %d, this lamarck reads %d",
             path, ints[0], VERSION);
    int E = ints[1], L = ints[2], D = ints[3];
    LM_CHECK(E >= 2 && E <= LM_META_EPOCHS_MAX && L >= 0 && L <= LM_META_VEC_MAX && D >= 1 &&
                 D <= LM_META_DATASETS_MAX && u[1] <= (uint64_t)WEIGHTS_MAX,
             LM_EDATA,
             "ranking model '%s': header out of bounds (epochs %d, encoding %d, datasets %d, "
             "%llu weights)",
             path, E, L, D, (unsigned long long)u[1]);
    size_t want = HEADER_BYTES + body_bytes(E, L, D, u[1]) + 8;
    LM_CHECK(len == want, LM_EDATA, "ranking model '%s': %zu bytes, its header says %zu (truncated?)",
             path, len, want);
    uint64_t h;
    memcpy(&h, buf + len - 8, 8);
    LM_CHECK(h == lm_fnv1a64(LM_FNV1A64_INIT, buf, len - 8), LM_EDATA,
             "ranking model '%s': checksum mismatch (the file is corrupted)", path);
    lm_rank_options o = {.seed = u[0], .steps = ints[7], .batch_pairs = ints[6], .lr = reals[0],
                         .momentum = reals[1], .weight_decay = reals[2],
                         .dataset_dropout = reals[3], .encoding_dropout = reals[4], .filters = ints[4], .hidden = ints[5]};
    if (lm_rank_options_check(&o) < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", lm_error_message());
        lm_error_clear();
        LM_FAIL(LM_EDATA, "ranking model '%s': %s", path, msg);
    }
    lm_rank_model *r;
    LM_CALL(lm__rank_create(E, L, D, &o, &r));
    const float *w;
    size_t nw;
    lm_custom_net_weights(r->net, &w, &nw);
    if (nw != u[1]) {
        lm_rank_destroy(&r);
        LM_FAIL(LM_EDATA, "ranking model '%s': %llu weights for a network of %zu", path,
                (unsigned long long)u[1], nw);
    }
    p = get(p, r->enc_mean, (size_t)L * sizeof(float));
    p = get(p, r->enc_scale, (size_t)L * sizeof(float));
    p = get(p, r->known, (size_t)D);
    size_t ns = (size_t)(D + 1) * (size_t)E;
    p = get(p, r->stat_mean, ns * sizeof(float));
    p = get(p, r->stat_sd, ns * sizeof(float));
    for (size_t i = 0; i < ns; i++)
        if (!isfinite(r->stat_mean[i]) || !(r->stat_sd[i] > 0) || !isfinite(r->stat_sd[i])) {
            lm_rank_destroy(&r);
            LM_FAIL(LM_EDATA, "ranking model '%s': per-epoch statistic %zu is not finite and "
                    "positive", path, i);
        }
    float *wbuf = malloc(nw ? nw * sizeof *wbuf : 1);
    if (!wbuf) {
        lm_rank_destroy(&r);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    get(p, wbuf, nw * sizeof *wbuf);
    int rc = lm_custom_net_set_weights(r->net, wbuf, nw);
    free(wbuf);
    if (rc < 0) {
        lm_rank_destroy(&r);
        return rc;
    }
    *out = r;
    return LM_OK;
}

int lm_rank_load(const char *path, lm_rank_model **out) {
    LM_CHECK(path && out, LM_EINVAL, "lm_rank_load: NULL path or output");
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    size_t max = HEADER_BYTES +
                 body_bytes(LM_META_EPOCHS_MAX, LM_META_VEC_MAX, LM_META_DATASETS_MAX, WEIGHTS_MAX) + 8;
    LM_CALL(slurp(path, max, &buf, &len));
    int rc = parse(path, buf, len, out);
    free(buf);
    return rc;
}
