/* /genomes of results.h5: the architectures of a run over an architecture space, and
 * reading them back (`lamarck space show`). */
#include "io/genomes.h"
#include "lamarck/arch.h"
#include "lamarck/error.h"
#include "lamarck/io.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARCH_TEXT_MAX 8192

/* The architecture of every trial of a run over an architecture space: the genome (the
 * arch genes of its point), its canonical hash and its readable form, with the space's
 * description (lm_arch_describe) from which `lamarck space show` rebuilds the network. */
int lm__io_write_genomes(lm__h5 *f, const lm_space *sp, const lm_trials *t) {
    int first, G;
    const lm_arch_space *as = sp ? lm_space_arch(sp, &first, &G) : NULL;
    if (!as) return LM_OK;
    size_t n = (size_t)t->n;
    int32_t *genome = calloc(n * (size_t)G + 1, sizeof *genome);
    uint64_t *hash = calloc(n + 1, sizeof *hash);
    char **text = calloc(n + 1, sizeof *text), **changes = calloc(n + 1, sizeof *changes);
    char *buf = malloc(ARCH_TEXT_MAX);
    hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID;
    int rc = LM_OK;
    if (!genome || !hash || !text || !changes || !buf) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const double *x = t->v[i].hp;
        int32_t *gi = genome + i * (size_t)G;
        for (int j = 0; j < G; j++) gi[j] = isfinite(x[first + j]) ? (int32_t)x[first + j] : -1;
        /* A point that is no valid genome (never the case for the searchers' points)
         * is recorded as it is, with hash 0 and its reason as text. */
        if (lm_arch_hash(as, gi, (size_t)G, &hash[i]) < 0 ||
            lm_arch_format(as, gi, (size_t)G, buf, ARCH_TEXT_MAX) < 0) {
            snprintf(buf, ARCH_TEXT_MAX, "invalid genome: %s", lm_error_message());
            lm_error_clear();
            hash[i] = 0;
        }
        text[i] = lm_strdup(buf);
        /* What the mutation changed, by gene name (lm_trial.mutated, bit j = gene j). */
        size_t used = 0;
        changes[i] = NULL;
        buf[0] = 0;
        for (int j = 0; j < lm_space_size(sp) && j < 64; j++)
            if ((t->v[i].mutated >> j) & 1)
                used += (size_t)snprintf(buf + used, used < ARCH_TEXT_MAX ? ARCH_TEXT_MAX - used : 0,
                                         "%s%s", used ? " " : "", lm_space_hp(sp, j)->name);
        changes[i] = lm_strdup(buf);
        if (!text[i] || !changes[i]) {
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
            goto done;
        }
    }
    char desc[1024];
    LM_CALL_GOTO(rc, lm_arch_describe(as, desc, sizeof desc), done);
    const char *names[LM_HP_MAX];
    for (int j = 0; j < G; j++) names[j] = lm_space_hp(sp, first + j)->name;
    LM_CALL_GOTO(rc, lm__h5_group_create(f, f->id, "genomes", &g), done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, g, "description",
                                     "each trial's architecture, one row per trial in id order"),
                 done);
    LM_CALL_GOTO(rc, lm__h5_attr_str(f, g, "space", desc), done);
    LM_CALL_GOTO(rc, lm__h5_attr_strs(f, g, "gene_names", (size_t)G, names), done);
    LM_CALL_GOTO(rc, lm__h5_write_2d(f, g, "genome", LM_DT_I32, n, (size_t)G, genome, &d), done);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, "gene value",
                                      "the genome (attribute gene_names of the group names the "
                                      "columns); decode with the group's space attribute"),
                 done);
    lm__h5_close_id(&d);
    LM_CALL_GOTO(rc, lm__h5_write_1d(f, g, "hash", LM_DT_U64, n, hash, &d), done);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, "1",
                                      "canonical hash: isomorphic architectures hash equal"),
                 done);
    lm__h5_close_id(&d);
    LM_CALL_GOTO(rc, lm__h5_write_strs(f, g, "text", n, (const char *const *)text, &d), done);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, "text",
                                      "readable architecture: one line per layer or block, "
                                      "parameters and FLOPs"),
                 done);
    lm__h5_close_id(&d);
    LM_CALL_GOTO(rc, lm__h5_write_strs(f, g, "mutated", n, (const char *const *)changes, &d), done);
    LM_CALL_GOTO(rc, lm__h5_attr_meta(f, d, "text",
                                      "the genes (and hyperparameters) a mutation changed from "
                                      "the trial's first parent (/trials/parent0), by name; "
                                      "empty for sampled trials"),
                 done);
done:
    lm__h5_close_id(&d);
    lm__h5_close_id(&g);
    for (size_t i = 0; text && i < n; i++) free(text[i]);
    for (size_t i = 0; changes && i < n; i++) free(changes[i]);
    free(text);
    free(changes);
    free(hash);
    free(genome);
    free(buf);
    return rc;
}


/* ---- reading ---- */

#define GENES_MAX 4096
#define ROWS_MAX 10000000

int lm_io_genomes_read(const char *path, lm_arch_space *as, int32_t **genome, int *n_trials,
                       int *n_genes) {
    *genome = NULL;
    *n_trials = *n_genes = 0;
    lm__h5 f;
    LM_CALL(lm__h5_open(&f, path, LM_EDATA));
    hid_t g = H5I_INVALID_HID, d = H5I_INVALID_HID;
    char *desc = NULL;
    int32_t *buf = NULL;
    int rc, rank;
    hsize_t dims[2] = {0, 0};
    LM_CALL_GOTO(rc, lm__h5_check_format(&f, "lamarck-results"), done);
    if (!lm__h5_exists(f.id, "genomes")) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s has no /genomes: the run did not search an architecture space "
                          "(model.space)",
                          path);
        goto done;
    }
    LM_CALL_GOTO(rc, lm__h5_group_open(&f, f.id, "genomes", &g), done);
    LM_CALL_GOTO(rc, lm__h5_attr_read_str(&f, g, "space", 4096, &desc), done);
    if (lm_arch_space_parse_description(desc, as) < 0) {
        char why[1024];
        lm_strlcpy(why, lm_error_message(), sizeof why);
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /genomes attribute space: %s", path, why);
        goto done;
    }
    LM_CALL_GOTO(rc, lm__h5_dataset_open(&f, g, "genome", 2, &rank, dims, ROWS_MAX, &d), done);
    size_t G = lm_arch_genome_size(as);
    if (rank != 2 || dims[1] != G || G > GENES_MAX) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /genomes/genome has %llu columns; the space (%s) has %zu genes",
                          path, (unsigned long long)dims[1], desc, G);
        goto done;
    }
    buf = malloc((size_t)(dims[0] * dims[1]) * sizeof *buf + 1);
    if (!buf) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto done;
    }
    if (dims[0] > 0 && H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s: /genomes/genome cannot be read", path);
        goto done;
    }
    *genome = buf;
    buf = NULL;
    *n_trials = (int)dims[0];
    *n_genes = (int)G;
    rc = LM_OK;
done:
    free(buf);
    free(desc);
    lm__h5_close_id(&d);
    lm__h5_close_id(&g);
    lm__h5_close(&f);
    return rc;
}
