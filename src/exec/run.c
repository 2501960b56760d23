/* lm_exec_run: the whole experiment, collective over MPI_COMM_WORLD.
 *
 * Every step that can fail because of the user's input (config, run directory, data)
 * ends with an agreement: all ranks learn whether any failed, the first failing rank
 * prints its message, and all return the same code. Nobody is left waiting for a peer
 * that gave up. */
#define _POSIX_C_SOURCE 200809L
#include "exec/controller.h"
#include "exec/runner.h"
#include "exec/rundir.h"
#include "exec/transport_mpi.h"
#include "lamarck/config.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"
#include "lamarck/log.h"
#include "lamarck/strutil.h"

#include <errno.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

lm_run_options lm_run_options_default(void) {
    lm_run_options o;
    memset(&o, 0, sizeof o);
    return o;
}

int lm_exec_init(int *argc, char ***argv, int *rank, int *size) {
    /* One thread per rank unless asked otherwise: oneDNN's OpenMP threads on every rank
     * of a full node would oversubscribe it. Set before the first parallel region. */
    setenv("OMP_NUM_THREADS", "1", 0);
    int rc = MPI_Init(argc, argv);
    LM_CHECK(rc == MPI_SUCCESS, LM_EMPI, "MPI_Init failed (code %d)", rc);
    MPI_Comm_rank(MPI_COMM_WORLD, rank);
    MPI_Comm_size(MPI_COMM_WORLD, size);
    lm_log_init(*size > 1 ? *rank : -1);
    return LM_OK;
}

void lm_exec_finalize(void) {
    int fin = 0;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
}

void lm_exec_abort(int status) { MPI_Abort(MPI_COMM_WORLD, status); }

/* All ranks learn whether any rank failed; the lowest failing rank prints its message;
 * every rank returns that rank's code. */
static int agree(int rc) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    int mine = rc < 0 ? rank : size, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == size) return LM_OK;
    int code = rc;
    MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD);
    if (rank == first) lm_error_print(stderr);
    lm_error_clear();
    return code;
}

static int read_text(const char *path, char **text, size_t *len) {
    FILE *f = fopen(path, "rb");
    LM_CHECK(f, LM_ENOENT, "cannot read config %s: %s", path, strerror(errno));
    char *buf = malloc(LM_CONFIG_MAX_BYTES + 1);
    if (!buf) fclose(f);
    LM_CHECK_ALLOC(buf);
    size_t n = fread(buf, 1, LM_CONFIG_MAX_BYTES + 1, f);
    fclose(f);
    if (n > LM_CONFIG_MAX_BYTES) {
        free(buf);
        LM_FAIL(LM_ECONFIG, "%s: larger than %d bytes", path, LM_CONFIG_MAX_BYTES);
    }
    buf[n] = 0;
    *text = buf;
    *len = n;
    return LM_OK;
}

/* Rank 0 reads the config; every rank parses the same bytes. */
static int load_config(const lm_run_options *o, lm_config **cfg) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    const char *path = o->config_path ? o->config_path : "<embedded quickstart>";
    char *text = NULL;
    size_t len = 0;
    int rc = LM_OK;
    if (rank == 0) {
        if (o->config_path) rc = read_text(o->config_path, &text, &len);
        else {
            text = lm_strdup(o->config_text ? o->config_text : "");
            len = text ? strlen(text) : 0;
            if (!text) rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        }
    }
    rc = agree(rc);
    if (rc < 0) return rc;
    long n = (long)len;
    MPI_Bcast(&n, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    if (rank != 0) {
        text = malloc((size_t)n + 1);
        if (!text) abort();
    }
    MPI_Bcast(text, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
    text[n] = 0;
    rc = lm_config_parse(text, (size_t)n, path, cfg);
    free(text);
    if (rc == LM_OK && o->output) {
        char *out = lm_strdup(o->output);
        if (!out) rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        else {
            free((*cfg)->output);
            (*cfg)->output = out;
        }
    }
    if (rc == LM_OK && o->overwrite) (*cfg)->overwrite = 1;
    return agree(rc);
}

static int check_dataset(const lm_config *c) {
    char path[4096];
    LM_CALL(lm_config_dataset_path(c, path, sizeof path));
    if (access(path, R_OK) != 0) return lm__dataset_missing(c, path);
    return LM_OK;
}

/* This rank's snapshot cache, spilling to <output>/snapshots/rank<R>/. */
static int make_cache(const lm_config *c, int rank, lm_snapcache **out) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/snapshots/rank%d", c->output, rank);
    return lm__snapcache_create((size_t)c->snapshot_cache_mb << 20, dir, out);
}

static int controller(const lm_config *c, const lm_run_options *o, lm_run_data *d, int size,
                      lm_snapcache *cache) {
    lm_transport *t = NULL;
    if (size == 1) LM_CALL(lm__transport_inline_create(c, d, cache, &t));
    else LM_CALL(lm__transport_mpi_create(lm_space_size(c->space), &t));
    char results[4096];
    snprintf(results, sizeof results, "%s/results.h5", c->output);
    lm_run_info info;
    memset(&info, 0, sizeof info);
    info.config = c;
    info.command_line = o->command_line ? o->command_line : "";
    info.version = o->version ? o->version : "?";
    info.n_ranks = size;
    int rc = lm__controller_run(c, t, results, &info);
    if (rc == LM_OK) rc = t->ops->shutdown(t);
    t->ops->destroy(t);
    return rc;
}

int lm_exec_run(const lm_run_options *o) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    lm_config *c = NULL;
    lm_run_data d;
    memset(&d, 0, sizeof d);

    lm_error_clear();
    int rc = load_config(o, &c);
    if (rc < 0) return rc;

    rc = LM_OK;
    if (rank == 0) {
        rc = check_dataset(c);
        if (rc == LM_OK)
            rc = lm__rundir_prepare(c->output, c->overwrite, c, o->command_line, o->version, size);
    }
    rc = agree(rc);
    if (rc < 0) goto out;

    if (rank != 0 || size == 1) rc = lm__run_data_load(c, &d);
    rc = agree(rc);
    if (rc < 0) goto out;
    if (rank == 1 || size == 1)
        lm_log_info("data: %s: %lld train, %lld validation, %lld test samples, %d classes",
                    c->dataset, (long long)d.train.n, (long long)d.val.n, (long long)d.test.n,
                    d.train.n_classes);

    lm_snapcache *cache = NULL;
    if ((rank != 0 || size == 1) && (rc = make_cache(c, rank, &cache)) < 0) {
        lm_error_print(stderr);
        lm_exec_abort(lm_exit_code(rc));
    }
    if (rank == 0) {
        rc = controller(c, o, &d, size, cache);
        if (rc < 0) {
            /* Workers may be waiting for an answer that will never come. */
            lm_error_print(stderr);
            fflush(stderr);
            lm_exec_abort(lm_exit_code(rc));
        }
    } else {
        rc = lm__worker_loop(c, &d, cache);
        if (rc < 0) {
            lm_error_print(stderr);
            fflush(stderr);
            lm_exec_abort(lm_exit_code(rc));
        }
    }
    lm__snapcache_destroy(&cache);
out:
    lm__run_data_free(&d);
    lm_config_destroy(&c);
    return rc;
}
