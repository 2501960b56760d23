/* The controller's state, shared by its event loop (controller.c) and its checkpoints
 * (controller_ckpt.c). */
#ifndef LAMARCK_EXEC_CONTROLLER_IMPL_H
#define LAMARCK_EXEC_CONTROLLER_IMPL_H

#include "exec/controller.h"

#include <stdint.h>

/* Rewriting results.h5 costs little for small tables, but not nothing: bound the rate. */
#define RESULTS_WRITE_INTERVAL 5.0

typedef struct controller {
    const lm_config *cfg;
    lm_transport *tr;
    lm_searcher *searcher;
    lm_stopper *stopper;     /* NULL when no stopping rule */
    lm_trials trials;
    int *running;            /* trial id per worker, -1 when free */
    int n_running;
    /* Kept snapshots: for each trial id, the worker holding it (-1: none) and the
     * checksum it reported, checked again where the trial resumes. */
    int *holder;
    uint64_t *kept_checksum;
    int cap_trials;
    long transfers, local_resumes;
    /* Idle accounting: a worker is idle from the moment it is free until it gets work,
     * counted only while the search still has work to come (not after it is done). */
    double *free_since;
    double idle_seconds;
    int search_done;
    long planned_trials;
    double t0, cpu0, next_progress, last_write;
    int dirty;
    long epochs_done;
    const char *results_path;
    lm_run_info *info;
    /* Checkpoints. While `quiescing`, nothing new starts and running trials pause at
     * their next epoch; their jobs are `interrupted` (the searcher still counts them as
     * running) and go out again, before anything new, once the checkpoint is written. */
    int quiescing, exit_after;
    double next_ckpt;
    long ckpt_seq;
    int *int_trial, *int_epochs, n_int, cap_int;
} controller;

double lm__ctl_now(const controller *c);
int lm__ctl_write_results(controller *c, int complete);
int lm__ctl_ensure_trials(controller *c);

/* Writes a checkpoint now (every running trial must have paused). Collective with the
 * workers through the transport. */
int lm__ctl_checkpoint(controller *c, int complete);
/* Restores the state saved in a checkpoint; snapshots now live where r says. */
int lm__ctl_restore(controller *c, const lm_resume *r);
/* Records an interrupted job (trial, epochs target) to send out again. */
int lm__ctl_interrupt(controller *c, int trial, int epochs);
int lm__ctl_is_interrupted(const controller *c, int trial);

#endif
