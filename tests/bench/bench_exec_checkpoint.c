/* Checkpoint cost: a population of 16 small CNNs (the reference CNN of BENCHMARKS.md,
 * Fashion-MNIST shapes) with their optimizer state, kept by the workers, written as one
 * checkpoint the way a run writes it (the workers' snapshots collectively through
 * parallel HDF5, rank 0's state beside them), then read back. Prints size, time and
 * bandwidth; compare with `dd` on the same disk (tests/bench/checkpoint.sh does both).
 *
 *   mpiexec -n 4 build/tests/bench_exec_checkpoint DIR
 */
#include "exec/checkpoint.h"
#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/nn.h"
#include "lamarck/timer.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBERS 16

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *dir = argc > 1 ? argv[1] : "bench-ckpt";
    /* A small batch of Fashion-MNIST-shaped data: the network needs shapes, not images. */
    lm_dataset d = {0};
    if (lm_dataset_alloc(&d, 64, 1, 28, 28, 10) < 0) return 1;
    for (int64_t i = 0; i < 64; i++) d.y[i] = (int32_t)(i % 10);
    lm_train_params p;
    lm_train_params_default(&p);
    lm_train_params_set(&p, "model", NAN, "cnn");
    lm_train_params_set(&p, "depth", 1, NULL);
    lm_train_params_set(&p, "width", 128, NULL);
    lm_train_params_set(&p, "batch_size", 64, NULL);
    lm_snapcache *cache = NULL;
    if (rank != 0 || size == 1) lm__snapcache_create((size_t)1 << 32, NULL, &cache);
    int workers = size > 1 ? size - 1 : 1, mine = 0;
    size_t bytes = 0;
    for (int m = 0; m < MEMBERS; m++) {
        int owner = size > 1 ? 1 + m % workers : 0;
        if (owner != rank) continue;
        lm_trainer *t;
        if (lm_trainer_create(&p, &d, &d, 1, (uint64_t)m, &t) < 0) {
            lm_error_print(stderr);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        lm_epoch_stats s;
        lm_trainer_epoch(t, &s); /* momentum buffers filled, as in a real population */
        size_t n = lm_trainer_snapshot_size(t);
        void *buf = malloc(n);
        lm_trainer_snapshot_save(t, buf, n);
        lm__snapcache_put(cache, m, buf, n);
        lm_trainer_destroy(&t);
        bytes += n;
        mine++;
    }
    unsigned long long total = 0, local = bytes;
    MPI_Reduce(&local, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
    lm_state_mem *state = NULL;
    if (rank == 0) {
        lm_state_mem_create(&state);
        lm_state_writer w = lm_state_mem_writer(state);
        lm_state_put_i64(&w, "exec/version", 1);
    }
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = lm_time_now();
        if (lm__ckpt_write(dir, rep + 1, state, cache, 1) < 0) {
            lm_error_print(stderr);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        double dt = lm_time_now() - t0;
        if (dt < best) best = dt;
    }
    if (rank == 0) {
        printf("checkpoint of %d CNN members (%d ranks, %d writing): %.2f MB, best of 5 writes "
               "%.3f s, %.0f MB/s\n",
               MEMBERS, size, workers, total / 1e6, best, total / 1e6 / best);
        printf("one member's state (weights, momentum, RNG): %.2f MB\n", total / 1e6 / MEMBERS);
    }
    lm_state_mem_destroy(&state);
    lm__snapcache_destroy(&cache);
    lm_dataset_free(&d);
    MPI_Finalize();
    return 0;
}
