/* The controller's checkpoints: what rank 0 saves (the trial table, the searcher's and
 * the stopper's state, clocks, interrupted jobs, which trials have kept snapshots), the
 * collective write with the workers, and the restore. */
#include "exec/checkpoint.h"
#include "exec/controller_impl.h"
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/timer.h"

#include <stdlib.h>
#include <string.h>

#define CKPT_VERSION 1

int lm__ctl_interrupt(controller *c, int trial, int epochs) {
    if (c->n_int == c->cap_int) {
        int cap = c->cap_int ? 2 * c->cap_int : 16;
        int *a = realloc(c->int_trial, (size_t)cap * sizeof *a);
        if (a) c->int_trial = a;
        int *b = a ? realloc(c->int_epochs, (size_t)cap * sizeof *b) : NULL;
        if (b) c->int_epochs = b;
        LM_CHECK(a && b, LM_ENOMEM, "out of memory");
        c->cap_int = cap;
    }
    c->int_trial[c->n_int] = trial;
    c->int_epochs[c->n_int] = epochs;
    c->n_int++;
    return LM_OK;
}

int lm__ctl_is_interrupted(const controller *c, int trial) {
    for (int i = 0; i < c->n_int; i++)
        if (c->int_trial[i] == trial) return 1;
    return 0;
}

static int save(controller *c, int complete, lm_state_mem *m) {
    lm_state_writer w = lm_state_mem_writer(m);
    LM_CALL(lm_state_put_i64(&w, "exec/version", CKPT_VERSION));
    LM_CALL(lm_state_put(&w, "exec/config", LM_DT_STR, c->cfg->text_len, c->cfg->text));
    LM_CALL(lm_state_put_f64(&w, "exec/elapsed", lm__ctl_now(c)));
    LM_CALL(lm_state_put_i64(&w, "exec/complete", complete));
    LM_CALL(lm_state_put_i64(&w, "exec/search_done", c->search_done));
    LM_CALL(lm_state_put_i64(&w, "exec/epochs_done", c->epochs_done));
    LM_CALL(lm_state_put_i64(&w, "exec/transfers", c->transfers));
    LM_CALL(lm_state_put_i64(&w, "exec/local_resumes", c->local_resumes));
    LM_CALL(lm_state_put(&w, "exec/interrupted_trial", LM_DT_I32, (size_t)c->n_int, c->int_trial));
    LM_CALL(lm_state_put(&w, "exec/interrupted_epochs", LM_DT_I32, (size_t)c->n_int,
                         c->int_epochs));
    int n = 0;
    int32_t *kt = malloc((size_t)(c->trials.n ? c->trials.n : 1) * sizeof *kt);
    uint64_t *ks = malloc((size_t)(c->trials.n ? c->trials.n : 1) * sizeof *ks);
    int rc = kt && ks ? LM_OK : lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    for (int id = 0; rc == LM_OK && id < c->trials.n && id < c->cap_trials; id++)
        if (c->holder[id] >= 0) {
            kt[n] = id;
            ks[n++] = c->kept_checksum[id];
        }
    if (rc == LM_OK) rc = lm_state_put(&w, "exec/kept_trial", LM_DT_I32, (size_t)n, kt);
    if (rc == LM_OK) rc = lm_state_put(&w, "exec/kept_checksum", LM_DT_U64, (size_t)n, ks);
    free(kt);
    free(ks);
    LM_CALL(rc);
    LM_CALL(lm_trials_save(&c->trials, &w, "trials"));
    LM_CALL(lm_searcher_save(c->searcher, &w));
    if (c->stopper) LM_CALL(c->stopper->ops->save(c->stopper, &w));
    return LM_OK;
}

int lm__ctl_checkpoint(controller *c, int complete) {
    double t0 = lm_time_now();
    lm_state_mem *m;
    LM_CALL(lm_state_mem_create(&m));
    int rc = save(c, complete, m);
    long seq = c->ckpt_seq + 1;
    /* The workers join the collective write whatever rank 0's state: tell them first. */
    if (rc == LM_OK) rc = c->tr->ops->begin_checkpoint(c->tr, seq);
    if (rc == LM_OK)
        rc = lm__ckpt_write(c->cfg->output, seq, m, c->tr->local_cache, c->cfg->checkpoints_keep);
    lm_state_mem_destroy(&m);
    LM_CALL(rc);
    c->ckpt_seq = seq;
    int kept = 0;
    for (int id = 0; id < c->trials.n && id < c->cap_trials; id++) kept += c->holder[id] >= 0;
    lm_log_info("checkpoint %ld written in %.2f s (%d trials, %d kept snapshots)%s", seq,
                lm_time_now() - t0, c->trials.n, kept, complete ? ", run complete" : "");
    return LM_OK;
}

static int get_i32s(lm_state_reader *r, const char *name, int **out, size_t *n) {
    LM_CALL(lm_state_len(r, name, LM_DT_I32, n));
    *out = malloc((*n ? *n : 1) * sizeof **out);
    LM_CHECK_ALLOC(*out);
    return lm_state_get(r, name, LM_DT_I32, *n, *out);
}

int lm__ctl_restore(controller *c, const lm_resume *res) {
    lm_state_reader r = lm_state_mem_reader(res->state);
    int64_t v;
    LM_CALL(lm_state_get_i64(&r, "exec/version", &v));
    LM_CHECK(v == CKPT_VERSION, LM_ECKPT, "checkpoint version %lld, this lamarck reads %d",
             (long long)v, CKPT_VERSION);
    double elapsed;
    LM_CALL(lm_state_get_f64(&r, "exec/elapsed", &elapsed));
    c->t0 = lm_time_now() - elapsed;
    LM_CALL(lm_state_get_i64(&r, "exec/search_done", &v));
    c->search_done = (int)v;
    LM_CALL(lm_state_get_i64(&r, "exec/epochs_done", &v));
    c->epochs_done = v;
    LM_CALL(lm_state_get_i64(&r, "exec/transfers", &v));
    c->transfers = v;
    LM_CALL(lm_state_get_i64(&r, "exec/local_resumes", &v));
    c->local_resumes = v;
    LM_CALL(lm_trials_load(&c->trials, &r, "trials"));
    LM_CALL(lm_searcher_load(c->searcher, &r));
    if (c->stopper) LM_CALL(c->stopper->ops->load(c->stopper, &r));
    LM_CALL(lm__ctl_ensure_trials(c));

    size_t n, nk;
    int *trial = NULL, *epochs = NULL, *kt = NULL;
    uint64_t *ks = NULL;
    int rc = get_i32s(&r, "exec/interrupted_trial", &trial, &n);
    size_t ne = 0;
    if (rc == LM_OK) rc = get_i32s(&r, "exec/interrupted_epochs", &epochs, &ne);
    if (rc == LM_OK && ne != n)
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT, "interrupted jobs: %zu trials, %zu targets", n, ne);
    for (size_t i = 0; rc == LM_OK && i < n; i++) {
        if (trial[i] < 0 || trial[i] >= c->trials.n)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT, "interrupted job of unknown trial %d", trial[i]);
        else
            rc = lm__ctl_interrupt(c, trial[i], epochs[i]);
    }
    if (rc == LM_OK) rc = get_i32s(&r, "exec/kept_trial", &kt, &nk);
    if (rc == LM_OK && !(ks = malloc((nk ? nk : 1) * sizeof *ks)))
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
    if (rc == LM_OK) rc = lm_state_get(&r, "exec/kept_checksum", LM_DT_U64, nk, ks);
    for (size_t i = 0; rc == LM_OK && i < nk; i++)
        if (kt[i] >= 0 && kt[i] < c->trials.n) c->kept_checksum[kt[i]] = ks[i];
    /* Where the snapshots were loaded decides who holds them now. */
    for (int i = 0; rc == LM_OK && i < res->n_snap; i++) {
        int id = res->snap_trial[i];
        if (id < 0 || id >= c->trials.n)
            rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECKPT, "snapshot of unknown trial %d", id);
        else
            c->holder[id] = res->snap_worker[i];
    }
    free(trial);
    free(epochs);
    free(kt);
    free(ks);
    LM_CALL(rc);
    c->ckpt_seq = res->seq;
    c->dirty = 1;
    lm_log_info("resumed from checkpoint %ld: %d trials (%d done, %d paused), %d interrupted jobs "
                "to continue, %.0f s already run",
                res->seq, c->trials.n, lm_trials_count(&c->trials, LM_TRIAL_DONE),
                lm_trials_count(&c->trials, LM_TRIAL_PAUSED), c->n_int, elapsed);
    return LM_OK;
}
