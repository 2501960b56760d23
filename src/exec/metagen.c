/* `lamarck metadata generate`: K architectures drawn from a space, each trained on each
 * of D datasets for E epochs with one fixed recipe, every epoch's metrics written to a
 * learning-curve meta-dataset (lamarck/meta.h).
 *
 * Rank 0 draws the architectures, computes the dataset descriptors, creates (or
 * reopens) the file and hands pairs to the workers one at a time, the most expensive
 * first (longest-processing-time order, so the last pairs are short); it is the only
 * writer. Before a pair goes into the HDF5 file it is appended to a journal beside it
 * ("<output>.journal"), so a kill in the middle of an HDF5 write (which can leave the
 * file unreadable) costs nothing: the next start rebuilds the file from the journal.
 * A pair is trained with the trial seed (seed, pair index), pair index d*K + k, so its
 * curves do not depend on which rank trains it or when. */
#define _POSIX_C_SOURCE 200809L
#include "exec/mpi_wait.h"
#include "exec/runner.h"
#include "exec/signals.h"
#include "lamarck/config.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"
#include "lamarck/hash.h"
#include "lamarck/log.h"
#include "lamarck/meta.h"
#include "lamarck/strutil.h"
#include "lamarck/timer.h"

#include <errno.h>
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TAG_WORK = 31, TAG_RESULT = 32 };

/* Draws of one architecture before a duplicate (same canonical hash) is accepted. */
#define UNIQUE_TRIES 1000

lm_metagen_options lm_metagen_options_default(void) {
    lm_metagen_options o;
    memset(&o, 0, sizeof o);
    o.n_parts = 1;
    return o;
}

int lm_metagen_part_path(const char *output, int part, int n_parts, char *buf, size_t cap) {
    LM_CHECK(n_parts >= 1 && part >= 0 && part < n_parts, LM_EINVAL,
             "part %d of %d: expected 0 <= part < parts", part, n_parts);
    size_t n = strlen(output);
    int w;
    if (n_parts == 1)
        w = snprintf(buf, cap, "%s", output);
    else if (n > 3 && !strcmp(output + n - 3, ".h5"))
        w = snprintf(buf, cap, "%.*s.part%d-of-%d.h5", (int)(n - 3), output, part, n_parts);
    else
        w = snprintf(buf, cap, "%s.part%d-of-%d", output, part, n_parts);
    LM_CHECK(w >= 0 && (size_t)w < cap, LM_ERANGE, "output path '%s' is too long", output);
    return LM_OK;
}

/* ---- what every rank shares ---- */

typedef struct gen {
    lm_meta_config *mc;
    int D, K, E, G;
    int32_t *genome;        /* K x G */
    lm_run_data *data;      /* D, loaded on first use */
    uint8_t *loaded;        /* D */
} gen;

static void gen_fini(gen *g) {
    for (int d = 0; g->data && d < g->D; d++)
        if (g->loaded[d]) lm__run_data_free(&g->data[d]);
    free(g->data);
    free(g->loaded);
    free(g->genome);
    lm_meta_config_destroy(&g->mc);
}

/* The splits of dataset d, preprocessed with the recipe's settings (loaded once). */
static int dataset_splits(gen *g, int d, const lm_dataset **train, const lm_dataset **val,
                          const lm_dataset **test) {
    lm_run_data *rd = &g->data[d];
    if (!g->loaded[d]) {
        lm_config c;
        lm_meta_config_dataset(g->mc, d, &c);
        LM_CALL(lm__run_data_load(&c, rd));
        g->loaded[d] = 1;
        int64_t n = g->mc->datasets[d].test_subset;
        if (n > 0 && n < rd->test.n) {
            /* The test split keeps the file's order: the first N are a fixed sample. */
            int32_t *idx = malloc((size_t)n * sizeof *idx);
            LM_CHECK_ALLOC(idx);
            for (int64_t i = 0; i < n; i++) idx[i] = (int32_t)i;
            lm_dataset sub = {0};
            int rc = lm_dataset_subset(&rd->test, idx, n, &sub);
            free(idx);
            LM_CALL(rc);
            lm_dataset_free(&rd->test);
            rd->test = sub;
        }
    }
    return lm__run_data_prepare(rd, &g->mc->base->train.preprocess, train, val, test);
}

/* The space with dataset d's sample shape (as the networks see it, after preprocessing). */
static int space_for(gen *g, int d, lm_arch_space *as, const lm_dataset **train,
                     const lm_dataset **val, const lm_dataset **test) {
    LM_CALL(dataset_splits(g, d, train, val, test));
    *as = g->mc->base->arch;
    as->in_c = (*train)->c;
    as->in_h = (*train)->h;
    as->in_w = (*train)->w;
    as->n_classes = (*train)->n_classes;
    return LM_OK;
}

/* ---- training one pair ---- */

/* Trains architecture k on dataset d into curves (LM_META_N_METRICS x E, metric-major).
 * A network that cannot be built over the dataset's shape, or a run that diverges, is
 * an outcome: what was measured is kept and the rest stays NaN. */
static int train_pair(gen *g, int d, int k, float *curves) {
    int E = g->E;
    for (size_t i = 0; i < (size_t)LM_META_N_METRICS * (size_t)E; i++) curves[i] = NAN;
    const lm_dataset *train, *val, *test;
    lm_arch_space as;
    LM_CALL(space_for(g, d, &as, &train, &val, &test));
    const int32_t *genome = g->genome + (size_t)k * (size_t)g->G;
    lm_arch_net net = {0};
    lm_layer_desc *layers = NULL;
    lm_net_desc desc;
    int n_layers = 0;
    int rc = lm_arch_decode(&as, genome, (size_t)g->G, &net);
    if (rc == LM_OK) {
        int cap = 3 * net.n_nodes + 8;
        layers = calloc((size_t)cap, sizeof *layers);
        rc = layers ? lm_net_from_arch(&net, layers, cap, &n_layers, &desc)
                    : lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    }
    if (rc == LM_EINVAL) {
        lm_log_warn("pair (%s, architecture %d) cannot be built: %s; recorded as missing",
                    g->mc->datasets[d].name, k, lm_error_message());
        lm_error_clear();
        free(layers);
        lm_arch_net_fini(&net);
        return LM_OK;
    }
    lm_trainer *t = NULL;
    uint64_t pair = (uint64_t)d * (uint64_t)g->K + (uint64_t)k;
    if (rc == LM_OK)
        rc = lm_trainer_create_from_desc(&desc, &g->mc->base->train, train, val, g->mc->seed,
                                         pair, &t);
    free(layers);
    lm_arch_net_fini(&net);
    LM_CALL(rc);
    for (int e = 0; e < E && rc == LM_OK; e++) {
        lm_epoch_stats s;
        rc = lm_trainer_epoch(t, &s);
        if (rc < 0) break;
        curves[LM_META_TRAIN_LOSS * E + e] = (float)s.train_loss;
        curves[LM_META_VAL_ACCURACY * E + e] = (float)s.val_accuracy;
        curves[LM_META_VAL_LOSS * E + e] = (float)s.val_loss;
        curves[LM_META_SECONDS * E + e] = (float)s.seconds;
        if (s.diverged || !isfinite(s.val_loss)) break; /* NaN from here on */
        if (test->n > 0) {
            double loss, acc;
            rc = lm_trainer_evaluate(t, test, &loss, &acc);
            curves[LM_META_TEST_LOSS * E + e] = (float)loss;
            curves[LM_META_TEST_ACCURACY * E + e] = (float)acc;
        }
    }
    lm_trainer_destroy(&t);
    return rc;
}

/* ---- rank 0: the header ---- */

/* A fixed-length encoding of a genome: each gene scaled to [0, 1] by its range (genes of
 * inactive chain slots 0), then log10(1 + params) and log10(1 + flops). */
static int encode(const lm_arch_space *as, const int32_t *gn, int G, int64_t params, double flops,
                  float *enc) {
    int depth = LM_ARCH_CHAIN_MAX_DEPTH;
    if (as->family == LM_ARCH_CHAIN || as->family == LM_ARCH_MLP) depth = gn[0];
    for (int i = 0; i < G; i++) {
        char name[96];
        int32_t lo, hi;
        LM_CALL(lm_arch_gene_info(as, (size_t)i, name, sizeof name, &lo, &hi));
        int slot;
        float v = hi > lo ? (float)(gn[i] - lo) / (float)(hi - lo) : 0.0f;
        if (sscanf(name, "arch.l%d.", &slot) == 1 && slot >= depth) v = 0;
        enc[i] = v;
    }
    enc[G] = (float)log10(1.0 + (double)params);
    enc[G + 1] = (float)log10(1.0 + flops);
    return LM_OK;
}

/* K distinct architectures (by canonical hash) drawn with streams (seed, k, SAMPLE). */
static int draw_architectures(gen *g, lm_meta *h) {
    const lm_arch_space *as = &g->mc->base->arch;
    uint64_t *hashes = malloc((size_t)g->K * sizeof *hashes);
    LM_CHECK_ALLOC(hashes);
    int rc = LM_OK, dups = 0;
    for (int k = 0; k < g->K && rc == LM_OK; k++) {
        int32_t *gn = g->genome + (size_t)k * (size_t)g->G;
        lm_rng rng;
        lm_rng_init(&rng, g->mc->seed, (uint64_t)k, LM_STREAM_SAMPLE);
        int unique = 0;
        for (int t = 0; t < UNIQUE_TRIES && !unique && rc == LM_OK; t++) {
            rc = lm_arch_random(as, &rng, gn, (size_t)g->G);
            if (rc == LM_OK) rc = lm_arch_hash(as, gn, (size_t)g->G, &hashes[k]);
            unique = 1;
            for (int j = 0; j < k && unique; j++) unique = hashes[j] != hashes[k];
        }
        dups += !unique;
        lm_arch_net net = {0};
        if (rc == LM_OK) rc = lm_arch_decode(as, gn, (size_t)g->G, &net);
        if (rc == LM_OK) {
            h->params[k] = net.params;
            h->flops[k] = (double)net.flops;
            rc = encode(as, gn, g->G, net.params, (double)net.flops,
                        h->encoding + (size_t)k * (size_t)h->encoding_len);
        }
        lm_arch_net_fini(&net);
    }
    free(hashes);
    LM_CALL(rc);
    for (size_t i = 0; i < (size_t)g->K * (size_t)g->G; i++) h->genome[i] = g->genome[i];
    if (dups)
        lm_log_warn("the space gave only %d distinct architectures for %d draws: %d repeat one",
                    g->K - dups, g->K, dups);
    return LM_OK;
}

/* Descriptors of every dataset (as meta.h documents them) and the FLOPs of every pair
 * over its dataset's shape (the cost that orders the pairs). */
static int describe_datasets(gen *g, lm_meta *h, double *cost) {
    for (int d = 0; d < g->D; d++) {
        const lm_dataset *train, *val, *test;
        lm_arch_space as;
        LM_CALL(space_for(g, d, &as, &train, &val, &test));
        double *row = h->descriptors + (size_t)d * LM_META_N_DESC;
        int64_t *count = calloc((size_t)train->n_classes, sizeof *count);
        LM_CHECK_ALLOC(count);
        int64_t top = 0;
        for (int64_t i = 0; i < train->n; i++)
            if (train->y[i] >= 0 && train->y[i] < train->n_classes) {
                int64_t c = ++count[train->y[i]];
                top = c > top ? c : top;
            }
        free(count);
        row[LM_META_DESC_N_TRAIN] = (double)train->n;
        row[LM_META_DESC_N_VAL] = (double)val->n;
        row[LM_META_DESC_N_FEATURES] = (double)lm_dataset_features(train);
        row[LM_META_DESC_N_CLASSES] = train->n_classes;
        row[LM_META_DESC_IMAGE] = train->h > 1 || train->w > 1;
        row[LM_META_DESC_MAJORITY] = train->n > 0 ? (double)top / (double)train->n : NAN;
        /* A training epoch costs about 3 forward passes, evaluation 1 per sample. */
        double samples = 3.0 * (double)train->n + (double)val->n + (double)test->n;
        for (int k = 0; k < g->K; k++) {
            lm_arch_net net = {0};
            int rc = lm_arch_decode(&as, g->genome + (size_t)k * (size_t)g->G, (size_t)g->G, &net);
            cost[(size_t)d * (size_t)g->K + (size_t)k] = rc == LM_OK ? samples * (double)net.flops : 0;
            lm_arch_net_fini(&net);
            lm_error_clear();
        }
        /* Rank 0 trains nothing when there are workers: free what it loaded. */
        lm__run_data_free(&g->data[d]);
        g->loaded[d] = 0;
    }
    return LM_OK;
}

/* LM_ECONFIG naming what differs when the file at path was made by another config. */
static int same_header(const char *path, const char *cfg, const lm_meta *want,
                       const lm_meta *have) {
    const char *what = NULL;
    size_t D = (size_t)want->n_datasets, K = (size_t)want->n_archs;
    if (have->n_datasets != want->n_datasets || have->n_archs != want->n_archs ||
        have->epochs != want->epochs)
        what = "its datasets x architectures x epochs";
    else if (have->genome_len != want->genome_len || have->encoding_len != want->encoding_len)
        what = "its genome or encoding length";
    for (size_t d = 0; !what && d < D; d++)
        if (strcmp(have->dataset_names[d], want->dataset_names[d]) != 0) what = "its dataset names";
    if (!what && memcmp(have->descriptors, want->descriptors, D * LM_META_N_DESC * sizeof(double)))
        what = "its dataset descriptors (sizes, subsets, classes)";
    else if (!what && memcmp(have->genome, want->genome, K * (size_t)want->genome_len * 4))
        what = "its architectures (seed or space)";
    else if (!what && strcmp(have->space, want->space) != 0)
        what = "its space description";
    if (!what) return LM_OK;
    LM_FAIL(LM_ECONFIG,
            "%s exists but was generated from a different config than %s (%s differ): use "
            "another metadata.output, or remove the file to start over",
            path, cfg, what);
}

/* ---- rank 0: the journal ---- */

#define JOURNAL_MAGIC 0x314a4d4cu /* "LMJ1" */

typedef struct journal {
    FILE *f;
    char path[4200];
    size_t record;  /* bytes of one record */
} journal;

static uint64_t fingerprint(const lm_meta *h) {
    uint64_t x = LM_FNV1A64_INIT;
    int dims[5] = {h->n_datasets, h->n_archs, h->epochs, h->genome_len, h->encoding_len};
    x = lm_fnv1a64(x, dims, sizeof dims);
    for (int d = 0; d < h->n_datasets; d++)
        x = lm_fnv1a64(x, h->dataset_names[d], strlen(h->dataset_names[d]) + 1);
    x = lm_fnv1a64(x, h->genome, (size_t)h->n_archs * (size_t)h->genome_len * sizeof(int32_t));
    return lm_fnv1a64(x, h->descriptors, (size_t)h->n_datasets * LM_META_N_DESC * sizeof(double));
}

/* Record layout: int32 d, k, done; float curves[N_METRICS x E]; uint64 FNV-1a of the rest. */
static size_t record_size(int E) {
    return 3 * sizeof(int32_t) + (size_t)LM_META_N_METRICS * (size_t)E * sizeof(float) +
           sizeof(uint64_t);
}

/* Replays the journal's valid records into f when f is given (pairs already done are
 * skipped), and leaves j open for appending after the last valid record (a torn last
 * record, from a kill in the middle of an append, is cut off). */
static int journal_open(journal *j, const char *out, const lm_meta *h, lm_meta_file *f,
                        int *replayed) {
    *replayed = 0;
    snprintf(j->path, sizeof j->path, "%s.journal", out);
    j->record = record_size(h->epochs);
    uint64_t fp = fingerprint(h);
    j->f = fopen(j->path, "r+b");
    if (!j->f && errno != ENOENT) LM_FAIL(LM_EIO, "%s: cannot open: %s", j->path, strerror(errno));
    if (!j->f) {
        j->f = fopen(j->path, "w+b");
        LM_CHECK(j->f, LM_EIO, "%s: cannot create: %s", j->path, strerror(errno));
        uint32_t magic = JOURNAL_MAGIC;
        LM_CHECK(fwrite(&magic, 4, 1, j->f) == 1 && fwrite(&fp, 8, 1, j->f) == 1 &&
                     fflush(j->f) == 0,
                 LM_EIO, "%s: cannot write: %s", j->path, strerror(errno));
        return LM_OK;
    }
    uint32_t magic = 0;
    uint64_t have = 0;
    if (fread(&magic, 4, 1, j->f) != 1 || fread(&have, 8, 1, j->f) != 1 || magic != JOURNAL_MAGIC ||
        have != fp)
        LM_FAIL(LM_ECONFIG,
                "%s belongs to another generation than %s (remove it, with the output if "
                "that is stale too)",
                j->path, out);
    unsigned char *buf = malloc(j->record);
    LM_CHECK_ALLOC(buf);
    long good = 12;
    const lm_meta *fh = f ? lm_meta_file_header(f) : NULL;
    int rc = LM_OK;
    while (rc == LM_OK && fread(buf, j->record, 1, j->f) == 1) {
        uint64_t sum;
        memcpy(&sum, buf + j->record - 8, 8);
        int32_t v[3];
        memcpy(v, buf, sizeof v);
        if (sum != lm_fnv1a64(LM_FNV1A64_INIT, buf, j->record - 8) || v[0] < 0 ||
            v[0] >= h->n_datasets || v[1] < 0 || v[1] >= h->n_archs || (v[2] != 0 && v[2] != 1))
            break;
        good += (long)j->record;
        size_t at = (size_t)v[0] * (size_t)h->n_archs + (size_t)v[1];
        if (f && !fh->done[at]) {
            float *curves = malloc(j->record - 20);
            if (!curves) {
                rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
                break;
            }
            memcpy(curves, buf + 12, j->record - 20);
            rc = lm_meta_write_pair(f, v[0], v[1], curves, v[2]);
            free(curves);
            *replayed += rc == LM_OK;
        }
    }
    free(buf);
    LM_CALL(rc);
    /* Appends go after the last whole record. */
    LM_CHECK(fflush(j->f) == 0 && ftruncate(fileno(j->f), good) == 0 &&
                 fseek(j->f, good, SEEK_SET) == 0,
             LM_EIO, "%s: cannot cut the journal after its last whole record: %s", j->path,
             strerror(errno));
    return LM_OK;
}

static int journal_append(journal *j, int d, int k, int done, const float *curves) {
    unsigned char *buf = malloc(j->record);
    LM_CHECK_ALLOC(buf);
    int32_t v[3] = {d, k, done};
    memcpy(buf, v, sizeof v);
    memcpy(buf + 12, curves, j->record - 20);
    uint64_t sum = lm_fnv1a64(LM_FNV1A64_INIT, buf, j->record - 8);
    memcpy(buf + j->record - 8, &sum, 8);
    int ok = fwrite(buf, j->record, 1, j->f) == 1 && fflush(j->f) == 0 && fsync(fileno(j->f)) == 0;
    free(buf);
    LM_CHECK(ok, LM_EIO, "%s: cannot append pair (%d, %d): %s", j->path, d, k, strerror(errno));
    return LM_OK;
}

/* ---- rank 0: the file ---- */

static int mkdirs_for(const char *path) {
    char dir[4200];
    lm_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return LM_OK;
    *slash = 0;
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            LM_FAIL(LM_EIO, "cannot create directory %s: %s", dir, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        LM_FAIL(LM_EIO, "cannot create directory %s: %s", dir, strerror(errno));
    return LM_OK;
}

/* Opens the output (creating it when new; rebuilding it from the journal when a kill
 * damaged it) and brings it up to date with the journal. */
static int open_output(const char *out, const char *cfg, const lm_meta *h, lm_meta_file **f,
                       journal *j) {
    LM_CALL(mkdirs_for(out));
    char jpath[4200];
    snprintf(jpath, sizeof jpath, "%s.journal", out);
    if (access(out, F_OK) == 0) {
        int rc = lm_meta_open(out, 1, f);
        if (rc < 0 && access(jpath, F_OK) == 0) {
            char damaged[4300];
            snprintf(damaged, sizeof damaged, "%s.damaged", out);
            lm_log_warn("%s cannot be opened (%s); rebuilding it from %s (the damaged file is "
                        "kept as %s)", out, lm_error_message(), jpath, damaged);
            lm_error_clear();
            LM_CHECK(rename(out, damaged) == 0, LM_EIO, "cannot rename %s to %s: %s", out,
                     damaged, strerror(errno));
        } else {
            LM_CALL(rc);
            LM_CALL(same_header(out, cfg, h, lm_meta_file_header(*f)));
        }
    }
    if (!*f) LM_CALL(lm_meta_create(out, h, f));
    int replayed;
    LM_CALL(journal_open(j, out, h, *f, &replayed));
    if (replayed) lm_log_info("%d pairs recovered from %s", replayed, j->path);
    return LM_OK;
}

/* ---- rank 0: handing out pairs ---- */

typedef struct ctl {
    gen *g;
    lm_meta_file *file;
    journal j;
    int *queue;         /* pair indices, most expensive first */
    int n_queued, next;
    int total, done;    /* pairs of this part; done of them */
    int done_here;      /* trained by this run */
    double t0, last_progress;
    int last_done;      /* done at the last progress line */
} ctl;

static int record(ctl *c, int pair, const float *curves) {
    int d = pair / c->g->K, k = pair % c->g->K;
    LM_CALL(journal_append(&c->j, d, k, 1, curves));
    LM_CALL(lm_meta_write_pair(c->file, d, k, curves, 1));
    c->done++;
    c->done_here++;
    return LM_OK;
}

static void progress(ctl *c, int force) {
    double now = lm_time_now();
    if (!force && now - c->last_progress < c->g->mc->progress_interval) return;
    if (force && c->last_done == c->done && c->done_here > 0) return; /* said already */
    c->last_progress = now;
    c->last_done = c->done;
    double el = now - c->t0;
    int left = c->total - c->done;
    char eta[64] = "unknown";
    if (left == 0) {
        snprintf(eta, sizeof eta, "none (complete)");
    } else if (c->done_here > 0) {
        double s = el / c->done_here * left;
        snprintf(eta, sizeof eta, "%dh%02dm%02ds", (int)(s / 3600), (int)fmod(s / 60, 60),
                 (int)fmod(s, 60));
    }
    lm_log_info("metadata: %d/%d pairs done (%d this run), %.0f s elapsed, ETA %s", c->done,
                c->total, c->done_here, el, eta);
}

/* Whether pair x goes before pair y: the more expensive first, ties by index. */
static int before(const double *cost, int x, int y) {
    return cost[x] != cost[y] ? cost[x] > cost[y] : x < y;
}

/* Sorts pair indices by decreasing cost (a bottom-up merge sort: qsort has no context). */
static int sort_by_cost(int *v, int n, const double *cost) {
    int *tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof *tmp);
    LM_CHECK_ALLOC(tmp);
    for (int w = 1; w < n; w *= 2) {
        for (int lo = 0; lo < n; lo += 2 * w) {
            int mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int a = lo, b = mid, o = lo;
            while (a < mid && b < hi) tmp[o++] = before(cost, v[b], v[a]) ? v[b++] : v[a++];
            while (a < mid) tmp[o++] = v[a++];
            while (b < hi) tmp[o++] = v[b++];
        }
        memcpy(v, tmp, (size_t)n * sizeof *v);
    }
    free(tmp);
    return LM_OK;
}

/* Header, file, journal and the list of pairs to train. */
static int controller_prepare(ctl *c, const lm_metagen_options *o, const char *out) {
    gen *g = c->g;
    lm_meta h;
    memset(&h, 0, sizeof h);
    h.n_datasets = g->D;
    h.n_archs = g->K;
    h.epochs = g->E;
    h.genome_len = g->G;
    h.encoding_len = g->G + 2;
    char space[LM_META_SPACE_MAX];
    double *cost = NULL;
    int rc = LM_ENOMEM;
    h.dataset_names = calloc((size_t)g->D, sizeof *h.dataset_names);
    h.descriptors = calloc((size_t)g->D * LM_META_N_DESC, sizeof *h.descriptors);
    h.genome = calloc((size_t)g->K * (size_t)g->G, sizeof *h.genome);
    h.encoding = calloc((size_t)g->K * (size_t)h.encoding_len, sizeof *h.encoding);
    h.params = calloc((size_t)g->K, sizeof *h.params);
    h.flops = calloc((size_t)g->K, sizeof *h.flops);
    cost = calloc((size_t)g->D * (size_t)g->K, sizeof *cost);
    c->queue = calloc((size_t)g->D * (size_t)g->K, sizeof *c->queue);
    if (!h.dataset_names || !h.descriptors || !h.genome || !h.encoding || !h.params ||
        !h.flops || !cost || !c->queue) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto out;
    }
    for (int d = 0; d < g->D; d++) h.dataset_names[d] = g->mc->datasets[d].name;
    LM_CALL_GOTO(rc, lm_arch_describe(&g->mc->base->arch, space, sizeof space), out);
    h.space = space;
    LM_CALL_GOTO(rc, draw_architectures(g, &h), out);
    LM_CALL_GOTO(rc, describe_datasets(g, &h, cost), out);
    LM_CALL_GOTO(rc, open_output(out, g->mc->path, &h, &c->file, &c->j), out);
    const lm_meta *fh = lm_meta_file_header(c->file);
    for (int p = 0; p < g->D * g->K; p++) {
        if (p % o->n_parts != o->part) continue;
        c->total++;
        if (fh->done[p])
            c->done++;
        else
            c->queue[c->n_queued++] = p;
    }
    rc = sort_by_cost(c->queue, c->n_queued, cost);
out:
    free(h.dataset_names);
    free(h.descriptors);
    free(h.genome);
    free(h.encoding);
    free(h.params);
    free(h.flops);
    free(cost);
    return rc;
}

/* A signal (SIGTERM, SIGUSR1) stops the generation between pairs: no new pair is handed
 * out; with workers, those in flight are still recorded when they come back. */
static int stopped(ctl *c) {
    if (!lm__signal_pending()) return 0;
    lm_log_warn("stopping on a signal with %d/%d pairs done: no new pairs; run the same "
                "command again to continue", c->done, c->total);
    return 1;
}

static int serve_inline(ctl *c) {
    size_t n = (size_t)LM_META_N_METRICS * (size_t)c->g->E;
    float *curves = malloc(n * sizeof *curves);
    LM_CHECK_ALLOC(curves);
    int rc = LM_OK;
    while (rc == LM_OK && c->next < c->n_queued) {
        if (stopped(c)) {
            rc = LM_EINTR;
            break;
        }
        int p = c->queue[c->next++];
        rc = train_pair(c->g, p / c->g->K, p % c->g->K, curves);
        if (rc == LM_OK) rc = record(c, p, curves);
        progress(c, 0);
    }
    free(curves);
    return rc;
}

/* Results and requests arrive as one message: int32 pair (-1: none yet), then curves. */
static int serve_workers(ctl *c, int size) {
    size_t n = (size_t)LM_META_N_METRICS * (size_t)c->g->E;
    size_t bytes = 4 + n * sizeof(float);
    unsigned char *buf = malloc(bytes);
    float *curves = malloc(n * sizeof *curves);
    int rc = LM_OK, active = size - 1, stopping = 0;
    if (!buf || !curves) rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    while (rc == LM_OK && active > 0) {
        MPI_Status st;
        if (lm__mpi_recv(buf, (int)bytes, MPI_BYTE, MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                         &st) != MPI_SUCCESS) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EMPI, "receiving a result failed");
            break;
        }
        int32_t p;
        memcpy(&p, buf, 4);
        if (p >= 0) {
            LM_CHECK(p < c->g->D * c->g->K, LM_EINTERNAL, "rank %d sent pair %d", st.MPI_SOURCE, p);
            memcpy(curves, buf + 4, n * sizeof *curves);
            rc = record(c, p, curves);
            progress(c, 0);
        }
        if (!stopping && stopped(c)) stopping = 1;
        int32_t next = -1;
        if (!stopping && c->next < c->n_queued) next = c->queue[c->next++];
        MPI_Send(&next, 1, MPI_INT32_T, st.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
        if (next < 0) active--;
    }
    free(buf);
    free(curves);
    if (rc == LM_OK && stopping) rc = LM_EINTR;
    return rc;
}

/* ---- workers ---- */

static int worker_loop(gen *g) {
    size_t n = (size_t)LM_META_N_METRICS * (size_t)g->E;
    size_t bytes = 4 + n * sizeof(float);
    unsigned char *buf = malloc(bytes);
    float *curves = malloc(n * sizeof *curves);
    if (!buf || !curves) {
        free(buf);
        free(curves);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    int32_t p = -1;
    int rc = LM_OK;
    for (;;) {
        memcpy(buf, &p, 4);
        if (p >= 0) memcpy(buf + 4, curves, n * sizeof *curves);
        MPI_Send(buf, p >= 0 ? (int)bytes : 4, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
        if (lm__mpi_recv(&p, 1, MPI_INT32_T, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE) !=
            MPI_SUCCESS) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EMPI, "receiving work failed");
            break;
        }
        if (p < 0) break;
        rc = train_pair(g, p / g->K, p % g->K, curves);
        if (rc < 0) break;
    }
    free(buf);
    free(curves);
    return rc;
}

/* ---- the command ---- */

/* Every rank returns the first failing rank's code, which that rank prints. Waits
 * without spinning: workers wait here while rank 0 reads every dataset. */
static int agree(int rc, int rank) {
    int flag = rc < 0 ? rank : 1 << 30, first = 0;
    MPI_Request req;
    MPI_Iallreduce(&flag, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &req);
    lm__mpi_wait(&req, MPI_STATUS_IGNORE);
    if (first == (1 << 30)) return LM_OK;
    int code = rc;
    MPI_Ibcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD, &req);
    lm__mpi_wait(&req, MPI_STATUS_IGNORE);
    if (rank == first) {
        lm_error_print(stderr);
        fflush(stderr);
    }
    return code;
}

int lm_exec_metadata_generate(const lm_metagen_options *o) {
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    gen g;
    memset(&g, 0, sizeof g);
    ctl c;
    memset(&c, 0, sizeof c);
    c.g = &g;
    char out[4200] = "";
    lm_error_clear();

    int rc = lm_meta_config_load(o->config_path, &g.mc);
    if (rc == LM_OK && !(o->n_parts >= 1 && o->part >= 0 && o->part < o->n_parts))
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EUSAGE,
                          "--part %d/%d: expected I/N with 0 <= I < N", o->part, o->n_parts);
    if (rc == LM_OK) rc = lm_metagen_part_path(g.mc->output, o->part, o->n_parts, out, sizeof out);
    if (rc == LM_OK) {
        g.D = g.mc->n_datasets;
        g.K = g.mc->architectures;
        g.E = g.mc->epochs;
        rc = lm_exec_arch_shape(g.mc->base); /* the first dataset's shape, for params/FLOPs */
    }
    if (rc == LM_OK) {
        g.G = (int)lm_arch_genome_size(&g.mc->base->arch);
        g.genome = calloc((size_t)g.K * (size_t)g.G, sizeof *g.genome);
        g.data = calloc((size_t)g.D, sizeof *g.data);
        g.loaded = calloc((size_t)g.D, 1);
        if (!g.genome || !g.data || !g.loaded)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    }
    if (rc == LM_OK && rank == 0) {
        c.t0 = c.last_progress = lm_time_now();
        rc = controller_prepare(&c, o, out);
    }
    rc = agree(rc, rank);
    if (rc < 0) goto done;
    MPI_Request req;
    MPI_Ibcast(g.genome, g.K * g.G, MPI_INT32_T, 0, MPI_COMM_WORLD, &req);
    lm__mpi_wait(&req, MPI_STATUS_IGNORE);
    if (rank == 0) {
        lm_log_info("metadata: %d datasets x %d architectures x %d epochs into %s: %d/%d pairs "
                    "of this part done, %d to train on %d rank%s",
                    g.D, g.K, g.E, out, c.done, c.total, c.n_queued, size > 1 ? size - 1 : 1,
                    size > 2 ? "s" : "");
        rc = size == 1 ? serve_inline(&c) : serve_workers(&c, size);
        progress(&c, 1);
        int closed = lm_meta_close(&c.file);
        if (rc == LM_OK) rc = closed;
        if (c.j.f) fclose(c.j.f);
        c.j.f = NULL;
        /* A finished part needs no journal; an unfinished one keeps it for the restart. */
        if (rc == LM_OK && c.done == c.total) remove(c.j.path);
        if (rc < 0 && rc != LM_EINTR) {
            lm_error_print(stderr);
            fflush(stderr);
            /* Workers may be training or waiting: end them all with this status. (After
             * a signal every worker has been released and ends by itself.) */
            if (size > 1) lm_exec_abort(lm_exit_code(rc));
        }
    } else {
        rc = worker_loop(&g);
        if (rc < 0) {
            lm_error_print(stderr);
            fflush(stderr);
            lm_exec_abort(lm_exit_code(rc));
        }
    }
done:
    lm_meta_close(&c.file);
    if (c.j.f) fclose(c.j.f);
    free(c.queue);
    gen_fini(&g);
    return rc;
}
