#define _POSIX_C_SOURCE 200809L
#include "exec/checkpoint.h"
#include "lamarck/error.h"
#include "lamarck/io.h"
#include "lamarck/log.h"

#include <dirent.h>
#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEQ_MAX 64

/* Removes a checkpoint directory and what it holds (two files, maybe temporaries). */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char p[4352];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* The checkpoint numbers present (complete directories, not .tmp), newest first. */
static int list_seqs(const char *run_dir, long *seqs, int cap) {
    char root[4200];
    snprintf(root, sizeof root, "%s/checkpoints", run_dir);
    DIR *d = opendir(root);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < cap) {
        long s;
        char tail[8];
        if (sscanf(e->d_name, "ckpt-%ld%7s", &s, tail) == 1 && s >= 0) seqs[n++] = s;
    }
    closedir(d);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && seqs[j] > seqs[j - 1]; j--) {
            long t = seqs[j];
            seqs[j] = seqs[j - 1];
            seqs[j - 1] = t;
        }
    return n;
}

static void ckpt_dir(const char *run_dir, long seq, const char *suffix, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/checkpoints/ckpt-%06ld%s", run_dir, seq, suffix);
}

/* Rank 0: the directory to write into, fresh. */
static int prepare(const char *run_dir, long seq, char *tmp, size_t cap) {
    char root[4200];
    snprintf(root, sizeof root, "%s/checkpoints", run_dir);
    if (mkdir(root, 0777) != 0 && errno != EEXIST)
        LM_FAIL(LM_EIO, "cannot create %s: %s", root, strerror(errno));
    ckpt_dir(run_dir, seq, ".tmp", tmp, cap);
    remove_dir(tmp);
    if (mkdir(tmp, 0777) != 0) LM_FAIL(LM_EIO, "cannot create %s: %s", tmp, strerror(errno));
    return LM_OK;
}

/* Gathers this rank's snapshots from its cache (copies; spilled ones read back). */
static int local_snapshots(lm_snapcache *cache, int *n, int **trials, void ***data, size_t **bytes) {
    *n = 0;
    *trials = NULL;
    *data = NULL;
    *bytes = NULL;
    if (!cache) return LM_OK;
    int count = lm__snapcache_trials(cache, NULL, 0);
    *trials = malloc((size_t)(count ? count : 1) * sizeof **trials);
    *data = calloc((size_t)(count ? count : 1), sizeof **data);
    *bytes = malloc((size_t)(count ? count : 1) * sizeof **bytes);
    LM_CHECK(*trials && *data && *bytes, LM_ENOMEM, "out of memory");
    lm__snapcache_trials(cache, *trials, count);
    for (int i = 0; i < count; i++) {
        LM_CALL(lm__snapcache_copy(cache, (*trials)[i], &(*data)[i], &(*bytes)[i]));
        (*n)++;
    }
    return LM_OK;
}

static int agree(int rc) {
    int worst;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return worst;
}

int lm__ckpt_write(const char *run_dir, long seq, const lm_state_mem *state, lm_snapcache *cache,
                   int keep) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char tmp[4200], final[4200], path[4400];
    ckpt_dir(run_dir, seq, ".tmp", tmp, sizeof tmp);
    ckpt_dir(run_dir, seq, "", final, sizeof final);
    int rc = rank == 0 ? prepare(run_dir, seq, tmp, sizeof tmp) : LM_OK;
    if (agree(rc) < 0) return rc < 0 ? rc : lm_error_set(__FILE__, __LINE__, __func__, LM_EIO,
                                                          "checkpoint directory not created");
    int n = 0, *trials = NULL;
    void **data = NULL;
    size_t *bytes = NULL;
    rc = local_snapshots(cache, &n, &trials, &data, &bytes);
    /* Everyone enters the collective write even after a local failure (with nothing),
     * so that no rank waits forever; the agreement below fails the checkpoint. */
    snprintf(path, sizeof path, "%s/snapshots.h5", tmp);
    int wrc = lm_io_snapshots_write(path, rc < 0 ? 0 : n, trials, (const void *const *)data, bytes);
    if (rc == LM_OK) rc = wrc;
    for (int i = 0; i < n; i++) free(data[i]);
    free(trials);
    free(data);
    free(bytes);
    if (rc == LM_OK && rank == 0) {
        snprintf(path, sizeof path, "%s/controller.h5", tmp);
        rc = lm_io_state_write(path, state);
    }
    int all = agree(rc);
    if (all < 0) {
        if (rank == 0) remove_dir(tmp);
        return rc < 0 ? rc : lm_error_set(__FILE__, __LINE__, __func__, LM_EIO,
                                          "checkpoint %ld failed on another rank", seq);
    }
    if (rank == 0) {
        remove_dir(final);
        if (rename(tmp, final) != 0)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EIO, "cannot rename %s to %s: %s",
                              tmp, final, strerror(errno));
        long seqs[SEQ_MAX];
        int k = list_seqs(run_dir, seqs, SEQ_MAX);
        for (int i = keep; rc == LM_OK && i < k; i++) {
            char old[4200];
            ckpt_dir(run_dir, seqs[i], "", old, sizeof old);
            remove_dir(old);
        }
    }
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return rc;
}

int lm__ckpt_latest(const char *run_dir, lm_state_mem **state, char *dir, size_t cap, long *seq) {
    long seqs[SEQ_MAX];
    int k = list_seqs(run_dir, seqs, SEQ_MAX);
    *state = NULL;
    for (int i = 0; i < k; i++) {
        char d[4200], path[4400];
        ckpt_dir(run_dir, seqs[i], "", d, sizeof d);
        snprintf(path, sizeof path, "%s/controller.h5", d);
        lm_state_mem *m;
        LM_CALL(lm_state_mem_create(&m));
        int rc = lm_io_state_read(path, m);
        int *trials = NULL, n = 0;
        if (rc == LM_OK) {
            snprintf(path, sizeof path, "%s/snapshots.h5", d);
            rc = lm_io_snapshots_list(path, &trials, &n);
            free(trials);
        }
        if (rc == LM_OK) {
            snprintf(dir, cap, "%s", d);
            *seq = seqs[i];
            *state = m;
            return LM_OK;
        }
        lm_state_mem_destroy(&m);
        lm_log_warn("%s; trying the previous checkpoint", lm_error_message());
        lm_error_clear();
    }
    LM_FAIL(LM_ENOENT, "no readable checkpoint in %s/checkpoints", run_dir);
}

int lm__ckpt_any(const char *run_dir) {
    long seqs[SEQ_MAX];
    return list_seqs(run_dir, seqs, SEQ_MAX) > 0;
}

void lm__ckpt_remove_all(const char *run_dir) {
    char root[4200];
    snprintf(root, sizeof root, "%s/checkpoints", run_dir);
    DIR *d = opendir(root);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4600];
        snprintf(p, sizeof p, "%s/%s", root, e->d_name);
        remove_dir(p);
    }
    closedir(d);
    rmdir(root);
}
