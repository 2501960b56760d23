/* Checkpoints on disk: <run>/checkpoints/ckpt-<seq>/ holds controller.h5 (rank 0's
 * state: the trial table, the searcher's and the stopper's state, clocks) and
 * snapshots.h5 (every kept snapshot, written by the workers collectively). A checkpoint
 * is built in ckpt-<seq>.tmp/ and renamed when every rank has finished, so a crash at
 * any moment leaves the previous one whole; the newest `keep` are kept. */
#ifndef LAMARCK_EXEC_CHECKPOINT_H
#define LAMARCK_EXEC_CHECKPOINT_H

#include "exec/snapcache.h"
#include "lamarck/state.h"

#include <stddef.h>

/* Collective over MPI_COMM_WORLD. Rank 0 passes the controller's state (others NULL);
 * every rank passes its snapshot cache (NULL: none). */
int lm__ckpt_write(const char *run_dir, long seq, const lm_state_mem *state, lm_snapcache *cache,
                   int keep);

/* Rank 0: loads the newest checkpoint of run_dir that reads back whole into a new
 * *state (the caller's) and sets dir to its directory and *seq to its number; a damaged
 * one is reported and the previous one tried. LM_ENOENT when there is none. */
int lm__ckpt_latest(const char *run_dir, lm_state_mem **state, char *dir, size_t cap, long *seq);

/* Whether run_dir has any checkpoint directory (complete or not). */
int lm__ckpt_any(const char *run_dir);

/* Removes every checkpoint of run_dir (a run started over). */
void lm__ckpt_remove_all(const char *run_dir);

#endif
