/* Trainer snapshots: everything that decides how training continues, in one byte
 * buffer (one MPI message, one HDF5 dataset), and a checksum of a model's state.
 *
 * Layout (native byte order; a snapshot read on a machine of the other order fails
 * its magic number), as llm.c's checkpoints a header first:
 *
 *     u64 header[HDR_WORDS]     magic, version, header bytes, architecture
 *                               fingerprint, parameter count, statistics count,
 *                               mask flag, epochs done, steps, three RNG states
 *                               (shuffle, dropout, augmentation: 4 words each),
 *                               the schedule's horizon (epochs), total bytes,
 *                               FNV-1a of the payload
 *     f32 params[n_params]
 *     f32 momentum[n_params]
 *     f32 stats[n_stats]        batch-normalization running means and variances
 *     u8  mask[n_params]        only with the mask flag: 1 kept, 0 pruned
 *
 * Gradients are not saved: every step overwrites them before reading them. */
#include "lamarck/error.h"
#include "nn/trainer.h"

#include <stdlib.h>
#include <string.h>

#define SNAP_MAGIC 0x31504e534e4e4d4cull /* "LMNNSNP1" read as a little-endian word */
#define SNAP_VERSION 2

enum {
    H_MAGIC, H_VERSION, H_BYTES, H_ARCH, H_PARAMS, H_STATS, H_MASK, H_EPOCHS, H_STEPS,
    H_RNG_SHUFFLE, H_RNG_DROPOUT = H_RNG_SHUFFLE + 4, H_RNG_AUGMENT = H_RNG_DROPOUT + 4,
    H_HORIZON = H_RNG_AUGMENT + 4, H_TOTAL, H_CHECKSUM, HDR_WORDS
};
#define HDR_BYTES (HDR_WORDS * sizeof(uint64_t))

uint64_t lm__fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t lm__net_fingerprint(const lm__net *net) {
    uint64_t h = LM__FNV_BASIS;
    h = lm__fnv1a(h, &net->tensors[0].shape, sizeof(lm__shape));
    for (int i = 0; i < net->n_layers; i++) {
        const lm__layer *l = &net->layers[i];
        const lm__layer_cfg *c = &l->cfg;
        h = lm__fnv1a(h, l->ops->kind, strlen(l->ops->kind));
        int64_t f[] = {c->units, c->relu,  c->kernel, c->stride, c->pad,  c->dil, c->groups,
                       c->bias,  c->avg,   c->global, l->n_in,   l->n_w,  l->n_b, l->n_s};
        h = lm__fnv1a(h, f, sizeof f);
        /* Only rectangular kernels add to it, so square ones keep their fingerprints. */
        if (c->kernel_w) {
            int64_t r[] = {c->kernel_w, c->pad_w};
            h = lm__fnv1a(h, r, sizeof r);
        }
        h = lm__fnv1a(h, l->in, (size_t)l->n_in * sizeof *l->in);
    }
    return h;
}

uint64_t lm_trainer_checksum(const lm_trainer *t) {
    const lm__net *net = t->net;
    uint64_t h = LM__FNV_BASIS;
    h = lm__fnv1a(h, net->params, (size_t)net->n_params * sizeof(float));
    h = lm__fnv1a(h, net->momentum, (size_t)net->n_params * sizeof(float));
    h = lm__fnv1a(h, net->stats, (size_t)net->n_stats * sizeof(float));
    return h;
}

size_t lm_trainer_snapshot_size(const lm_trainer *t) {
    const lm__net *net = t->net;
    size_t np = (size_t)net->n_params;
    return HDR_BYTES + 2 * np * sizeof(float) + (size_t)net->n_stats * sizeof(float) +
           (net->prune_mask ? np : 0);
}

int lm_trainer_snapshot_save(const lm_trainer *t, void *buf, size_t cap) {
    const lm__net *net = t->net;
    size_t total = lm_trainer_snapshot_size(t), np = (size_t)net->n_params;
    LM_CHECK(buf && cap >= total, LM_EINVAL, "a snapshot needs %zu bytes, the buffer holds %zu", total,
             buf ? cap : 0);
    unsigned char *p = (unsigned char *)buf + HDR_BYTES;
    memcpy(p, net->params, np * sizeof(float));
    p += np * sizeof(float);
    memcpy(p, net->momentum, np * sizeof(float));
    p += np * sizeof(float);
    memcpy(p, net->stats, (size_t)net->n_stats * sizeof(float));
    p += (size_t)net->n_stats * sizeof(float);
    if (net->prune_mask)
        for (size_t i = 0; i < np; i++) p[i] = net->prune_mask[i] != 0.0f;
    uint64_t h[HDR_WORDS] = {0};
    h[H_MAGIC] = SNAP_MAGIC;
    h[H_VERSION] = SNAP_VERSION;
    h[H_BYTES] = HDR_BYTES;
    h[H_ARCH] = t->arch;
    h[H_PARAMS] = (uint64_t)np;
    h[H_STATS] = (uint64_t)net->n_stats;
    h[H_MASK] = net->prune_mask != NULL;
    h[H_EPOCHS] = (uint64_t)t->epochs_done;
    h[H_STEPS] = (uint64_t)t->step;
    memcpy(&h[H_RNG_SHUFFLE], t->batcher.rng.s, sizeof t->batcher.rng.s);
    memcpy(&h[H_RNG_DROPOUT], net->dropout_rng.s, sizeof net->dropout_rng.s);
    memcpy(&h[H_RNG_AUGMENT], t->aug_rng.s, sizeof t->aug_rng.s);
    h[H_HORIZON] = (uint64_t)t->p.epochs;
    h[H_TOTAL] = total;
    h[H_CHECKSUM] = lm__fnv1a(LM__FNV_BASIS, (unsigned char *)buf + HDR_BYTES, total - HDR_BYTES);
    memcpy(buf, h, HDR_BYTES);
    return LM_OK;
}

int lm_trainer_snapshot_load(lm_trainer *t, const void *buf, size_t len) {
    lm__net *net = t->net;
    LM_CHECK(buf && len >= HDR_BYTES, LM_ECKPT, "snapshot of %zu bytes: shorter than its %zu-byte header",
             buf ? len : 0, HDR_BYTES);
    uint64_t h[HDR_WORDS];
    memcpy(h, buf, HDR_BYTES);
    LM_CHECK(h[H_MAGIC] == SNAP_MAGIC, LM_ECKPT,
             "not a lamarck trainer snapshot (magic 0x%016llx; a snapshot from a machine of the "
             "other byte order reads this way too)",
             (unsigned long long)h[H_MAGIC]);
    LM_CHECK(h[H_VERSION] == SNAP_VERSION && h[H_BYTES] == HDR_BYTES, LM_ECKPT,
             "snapshot version %llu with a %llu-byte header; this build reads version %d (%zu bytes)",
             (unsigned long long)h[H_VERSION], (unsigned long long)h[H_BYTES], SNAP_VERSION, HDR_BYTES);
    LM_CHECK(h[H_TOTAL] == len, LM_ECKPT, "snapshot says %llu bytes, got %zu (truncated or padded)",
             (unsigned long long)h[H_TOTAL], len);
    LM_CHECK(h[H_PARAMS] == (uint64_t)net->n_params && h[H_STATS] == (uint64_t)net->n_stats,
             LM_ECKPT,
             "snapshot of a model with %llu parameters and %llu statistics; this trainer's has %lld "
             "and %lld",
             (unsigned long long)h[H_PARAMS], (unsigned long long)h[H_STATS],
             (long long)net->n_params, (long long)net->n_stats);
    LM_CHECK(h[H_ARCH] == t->arch, LM_ECKPT,
             "snapshot of another architecture (fingerprint %016llx, this trainer's %016llx)",
             (unsigned long long)h[H_ARCH], (unsigned long long)t->arch);
    LM_CHECK(h[H_MASK] <= 1 && h[H_EPOCHS] <= INT32_MAX && h[H_STEPS] <= INT64_MAX &&
             h[H_HORIZON] >= 1 && h[H_HORIZON] <= INT32_MAX, LM_ECKPT,
             "snapshot header holds impossible counts");
    size_t np = (size_t)net->n_params, ns = (size_t)net->n_stats;
    size_t expect = HDR_BYTES + 2 * np * sizeof(float) + ns * sizeof(float) + (h[H_MASK] ? np : 0);
    LM_CHECK(expect == len, LM_ECKPT, "snapshot of %zu bytes, its header implies %zu", len, expect);
    const unsigned char *p = (const unsigned char *)buf + HDR_BYTES;
    uint64_t sum = lm__fnv1a(LM__FNV_BASIS, p, len - HDR_BYTES);
    LM_CHECK(sum == h[H_CHECKSUM], LM_ECKPT, "snapshot checksum mismatch: the data is corrupted");
    const unsigned char *mask = p + 2 * np * sizeof(float) + ns * sizeof(float);
    float *fmask = NULL;
    if (h[H_MASK]) {
        for (size_t i = 0; i < np; i++)
            LM_CHECK(mask[i] <= 1, LM_ECKPT, "snapshot pruning mask holds %d at %zu", mask[i], i);
        fmask = net->prune_mask ? net->prune_mask : malloc((np ? np : 1) * sizeof *fmask);
        LM_CHECK_ALLOC(fmask);
    }
    /* Validated: nothing below can fail. */
    memcpy(net->params, p, np * sizeof(float));
    p += np * sizeof(float);
    memcpy(net->momentum, p, np * sizeof(float));
    p += np * sizeof(float);
    memcpy(net->stats, p, ns * sizeof(float));
    if (fmask)
        for (size_t i = 0; i < np; i++) fmask[i] = mask[i] ? 1.0f : 0.0f;
    else
        free(net->prune_mask);
    net->prune_mask = fmask;
    t->epochs_done = (int)h[H_EPOCHS];
    t->step = (long)h[H_STEPS];
    memcpy(t->batcher.rng.s, &h[H_RNG_SHUFFLE], sizeof t->batcher.rng.s);
    memcpy(net->dropout_rng.s, &h[H_RNG_DROPOUT], sizeof net->dropout_rng.s);
    memcpy(t->aug_rng.s, &h[H_RNG_AUGMENT], sizeof t->aug_rng.s);
    return LM_OK;
}

int lm_trainer_snapshot_horizon(const void *buf, size_t len) {
    uint64_t h[HDR_WORDS];
    LM_CHECK(buf && len >= HDR_BYTES, LM_ECKPT, "snapshot of %zu bytes: shorter than its %zu-byte header",
             buf ? len : 0, HDR_BYTES);
    memcpy(h, buf, HDR_BYTES);
    LM_CHECK(h[H_MAGIC] == SNAP_MAGIC && h[H_VERSION] == SNAP_VERSION && h[H_HORIZON] >= 1 &&
             h[H_HORIZON] <= INT32_MAX, LM_ECKPT,
             "not a lamarck trainer snapshot of version %d with a schedule horizon", SNAP_VERSION);
    return (int)h[H_HORIZON];
}
