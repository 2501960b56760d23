/* lm_exec_run: the whole experiment, collective over MPI_COMM_WORLD.
 *
 * Every step that can fail because of the user's input (config, run directory, data)
 * ends with an agreement: all ranks learn whether any failed, the first failing rank
 * prints its message, and all return the same code. Nobody is left waiting for a peer
 * that gave up. */
#define _POSIX_C_SOURCE 200809L
#include "exec/checkpoint.h"
#include "exec/controller.h"
#include "exec/signals.h"
#include "exec/runner.h"
#include "exec/rundir.h"
#include "exec/transport_mpi.h"
#include "lamarck/arch.h"
#include "lamarck/config.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"
#include "lamarck/io.h"
#include "lamarck/log.h"
#include "lamarck/nn.h"
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
     * of a full node would oversubscribe it. */
    const char *omp = getenv("OMP_NUM_THREADS");
    lm_nn_set_threads(omp && atoi(omp) > 0 ? atoi(omp) : 1);
    /* A signal during start-up must not kill a rank before the run can checkpoint. */
    lm__signals_install();
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
                      lm_snapcache *cache, const lm_resume *resume) {
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
    int rc = lm__controller_run(c, t, results, &info, resume);
    if (rc == LM_OK || rc == LM_EINTR) {
        int src = t->ops->shutdown(t);
        if (src < 0) rc = src;
    }
    t->ops->destroy(t);
    return rc;
}

enum { MODE_NEW, MODE_RESUME, MODE_COMPLETE };

/* Rank 0: a new run, or the continuation of the one whose checkpoints are in the run
 * directory (refused when made with another config, unless allowed). */
static int choose_mode(const lm_config *c, const lm_run_options *o, int size, int *mode,
                       lm_state_mem **state, char *dir, size_t cap, long *seq) {
    *mode = MODE_NEW;
    LM_CALL(check_dataset(c));
    if (c->overwrite) {
        lm__ckpt_remove_all(c->output);
    } else if (lm__ckpt_any(c->output)) {
        LM_CALL(lm__ckpt_latest(c->output, state, dir, cap, seq));
        lm_state_reader r = lm_state_mem_reader(*state);
        size_t n;
        LM_CALL(lm_state_len(&r, "exec/config", LM_DT_STR, &n));
        char *text = malloc(n + 1);
        LM_CHECK_ALLOC(text);
        int rc = lm_state_get_str(&r, "exec/config", text, n + 1);
        int same = rc == LM_OK && n == c->text_len && !memcmp(text, c->text, n);
        free(text);
        LM_CALL(rc);
        if (!same && !o->resume_changed_config)
            LM_FAIL(LM_ECONFIG,
                    "%s holds checkpoints of a run made with a different config (see %s/config.yaml); "
                    "pass --resume-changed-config to continue it with this one, --overwrite to start "
                    "over, or choose another experiment.output",
                    c->output, c->output);
        int64_t complete = 0;
        LM_CALL(lm_state_get_i64(&r, "exec/complete", &complete));
        *mode = complete ? MODE_COMPLETE : MODE_RESUME;
        if (*mode == MODE_COMPLETE) {
            lm_log_info("the run in %s is already complete: see %s/results.h5 (--overwrite to run "
                        "it again)",
                        c->output, c->output);
            return LM_OK;
        }
        return lm__rundir_prepare(c->output, 1, c, o->command_line, o->version, size);
    }
    return lm__rundir_prepare(c->output, c->overwrite, c, o->command_line, o->version, size);
}

/* Hands the checkpoint's snapshots out to the workers (round robin: the number of
 * ranks may differ from the run that wrote them); each loads its share into its cache. */
static int distribute(const char *dir, int size, lm_snapcache *cache, int **trial, int **worker,
                      int *n) {
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    char path[4400];
    snprintf(path, sizeof path, "%s/snapshots.h5", dir);
    int rc = LM_OK;
    *trial = *worker = NULL;
    *n = 0;
    if (rank == 0) rc = lm_io_snapshots_list(path, trial, n);
    rc = agree(rc);
    if (rc < 0) return rc;
    MPI_Bcast(n, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rank != 0) *trial = malloc((size_t)(*n ? *n : 1) * sizeof **trial);
    *worker = malloc((size_t)(*n ? *n : 1) * sizeof **worker);
    if (!*trial || !*worker) abort();
    MPI_Bcast(*trial, *n, MPI_INT, 0, MPI_COMM_WORLD);
    int n_workers = size > 1 ? size - 1 : 1;
    for (int i = 0; i < *n; i++) (*worker)[i] = i % n_workers;
    for (int i = 0; rc == LM_OK && i < *n; i++) {
        int mine = size > 1 ? (*worker)[i] + 1 == rank : 1;
        if (!mine) continue;
        void *data;
        size_t bytes;
        rc = lm_io_snapshot_read(path, (*trial)[i], &data, &bytes);
        if (rc == LM_OK) rc = lm__snapcache_put(cache, (*trial)[i], data, bytes);
    }
    return agree(rc);
}

int lm_exec_arch_shape(lm_config *c) {
    if (!c->has_arch) return LM_OK;
    char path[4096];
    lm_dataset_info info;
    LM_CALL(lm_config_dataset_path(c, path, sizeof path));
    int rc = lm_io_dataset_info(path, &info);
    if (rc == LM_ENOENT) {
        lm_error_clear();
        return lm__dataset_missing(c, path);
    }
    LM_CALL(rc);
    c->arch.in_c = info.c;
    c->arch.in_h = info.h;
    c->arch.in_w = info.w;
    c->arch.n_classes = info.n_classes;
    LM_CALL(lm_space_arch_set_shape(c->space, info.c, info.h, info.w, info.n_classes));
    int first, n;
    const lm_arch_space *as = lm_space_arch(c->space, &first, &n);
    int32_t g[LM_HP_MAX];
    lm_rng rng;
    lm_rng_init(&rng, c->seed, 0, LM_STREAM_SAMPLE);
    if (lm_arch_random(as, &rng, g, (size_t)n) < 0) {
        char why[1024];
        lm_strlcpy(why, lm_error_message(), sizeof why);
        LM_FAIL(LM_ECONFIG, "%s: model.constraints cannot be met on %s (%d x %d x %d): %s",
                c->path, c->dataset, info.c, info.h, info.w, why);
    }
    return LM_OK;
}

/* A config with a replay: section plays a meta-dataset's curves back (rank 0 alone). */
static int replay(const lm_config *c, const lm_run_options *o) {
    lm_replay_options r = lm_replay_options_default();
    r.meta_path = c->replay_meta;
    r.dataset = c->replay_dataset;
    r.n_workers = c->replay_workers;
    r.command_line = o->command_line;
    r.version = o->version;
    lm_replay_info info;
    LM_CALL(lm_exec_replay(c, &r, &info));
    lm_log_info("replay of %s (%s) on %d simulated workers: %ld trials, %ld reports, virtual "
                "makespan %.0f s, utilization %.3f; %.0f decisions/s; best trial %d (val "
                "accuracy %.4f); results in %s/results.h5",
                c->replay_meta, c->replay_dataset, r.n_workers, info.trials, info.reports,
                info.makespan, info.utilization,
                info.wall_seconds > 0 ? info.reports / info.wall_seconds : 0.0, info.best_trial,
                info.best_val_accuracy, c->output);
    return LM_OK;
}

int lm_exec_run(const lm_run_options *o) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    lm_config *c = NULL;
    lm_run_data d;
    memset(&d, 0, sizeof d);
    lm_state_mem *state = NULL;
    lm_snapcache *cache = NULL;
    int *snap_trial = NULL, *snap_worker = NULL, n_snap = 0;
    char dir[4200] = "";
    long seq = 0;
    int mode = MODE_NEW;

    lm_error_clear();
    int rc = load_config(o, &c);
    if (rc < 0) return rc;

    if (c->replay_meta) {
        rc = agree(rank == 0 ? replay(c, o) : LM_OK);
        goto out;
    }
    rc = LM_OK;
    if (rank == 0) rc = choose_mode(c, o, size, &mode, &state, dir, sizeof dir, &seq);
    rc = agree(rc);
    if (rc < 0) goto out;
    MPI_Bcast(&mode, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Bcast(dir, (int)sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (mode == MODE_COMPLETE) goto out;

    rc = lm_exec_arch_shape(c);
    rc = agree(rc);
    if (rc < 0) goto out;
    if (rank != 0 || size == 1) rc = lm__run_data_load(c, &d);
    if (rc == LM_OK && (rank != 0 || size == 1)) rc = make_cache(c, rank, &cache);
    rc = agree(rc);
    if (rc < 0) goto out;
    if (rank == 1 || size == 1)
        lm_log_info("data: %s: %lld train, %lld validation, %lld test samples, %d classes",
                    c->dataset, (long long)d.train.n, (long long)d.val.n, (long long)d.test.n,
                    d.train.n_classes);
    if (mode == MODE_RESUME) {
        rc = distribute(dir, size, cache, &snap_trial, &snap_worker, &n_snap);
        if (rc < 0) goto out;
    }

    if (rank == 0) {
        lm_resume res = {state, seq, n_snap, snap_trial, snap_worker};
        rc = controller(c, o, &d, size, cache, mode == MODE_RESUME ? &res : NULL);
        if (rc < 0 && rc != LM_EINTR) {
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
    /* Every rank leaves with the controller's verdict (a signal stops them all). */
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
out:
    lm__snapcache_destroy(&cache);
    lm_state_mem_destroy(&state);
    free(snap_trial);
    free(snap_worker);
    lm__run_data_free(&d);
    lm_config_destroy(&c);
    return rc;
}
