/* A worker's snapshot cache: the weights and optimizer state of paused trials, kept in
 * memory up to a byte budget; the least recently used overflow to files of this rank's
 * own shard directory (<run>/snapshots/rank<R>/), one HDF5 file per trial. */
#ifndef LAMARCK_EXEC_SNAPCACHE_H
#define LAMARCK_EXEC_SNAPCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct lm_snapcache lm_snapcache;

int lm__snapcache_create(size_t max_bytes, const char *shard_dir, lm_snapcache **out);
/* Removes spilled files too. */
void lm__snapcache_destroy(lm_snapcache **c);

/* Stores the snapshot of trial (taking ownership of data, from malloc), replacing an
 * older one. Spills the least recently used entries while over budget. */
int lm__snapcache_put(lm_snapcache *c, int trial, void *data, size_t n);
/* Whether the cache holds trial (in memory or spilled). */
int lm__snapcache_has(const lm_snapcache *c, int trial);
/* Removes trial's snapshot and hands it to the caller (free() it); reads it back from
 * the shard when it was spilled. LM_EINTERNAL when absent. */
int lm__snapcache_take(lm_snapcache *c, int trial, void **data, size_t *n);
/* Forgets trial's snapshot, if any. */
void lm__snapcache_drop(lm_snapcache *c, int trial);

/* The trials held, up to cap of them (returns how many are held). */
int lm__snapcache_trials(const lm_snapcache *c, int *out, int cap);
/* A copy of trial's snapshot (malloc'd, the caller's), the cache unchanged. */
int lm__snapcache_copy(lm_snapcache *c, int trial, void **data, size_t *n);

typedef struct lm_snapcache_stats {
    int entries, spilled;
    size_t bytes_in_memory;
    long spills, reloads;
} lm_snapcache_stats;
lm_snapcache_stats lm__snapcache_stats(const lm_snapcache *c);

#endif
