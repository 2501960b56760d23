/* Training throughput of the reference MLP (784-256-256-10, ReLU) on Fashion-MNIST,
 * as in /work/shared/BENCHMARKS.md: SGD lr 0.05, momentum 0.9, 60,000 training images
 * per epoch (last partial batch included, shuffled every epoch), batches of 128 and
 * 32, 3 epochs each, then test accuracy on the 10,000 test images.
 *
 * Run single-threaded: OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 bench_nn_mlp [DIR]
 * (DIR defaults to /usr/share/datasets/fashion-mnist; LAMARCK_BENCH_EPOCHS overrides
 * the epoch count). Prints median s/epoch, samples/s, GFLOP/s at 1.61 MFLOP per
 * sample (3 x the forward's 2 x multiply-adds, the peers' convention) and the ratio to
 * PyTorch's figures from BENCHMARKS.md (run bench/torch_reference.py in the same
 * session for a same-machine comparison). Asserts nothing. */
#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/nn.h"
#include "nn/kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLOP_PER_SAMPLE 1.61e6

static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10)) continue;
        char *v = strchr(line, ':');
        if (!v) break;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        v[strcspn(v, "\n")] = 0;
        snprintf(out, cap, "%s", v);
        break;
    }
    fclose(f);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Trains a fresh model for epochs epochs at batch size batch; prints one line. */
static int run(const lm_dataset *train, const lm_dataset *test, int batch, int epochs,
               double torch_samples_per_s) {
    lm_train_params p;
    lm_train_params_default(&p);
    p.batch_size = batch;
    p.epochs = epochs;
    p.lr = 0.05;
    p.momentum = 0.9;
    p.depth = 2;
    p.width = 256;
    lm_trainer *t;
    LM_CALL(lm_trainer_create(&p, train, NULL, 42, 0, &t));
    double secs[64], loss = 0, acc = 0;
    lm_epoch_stats s = {0};
    for (int e = 0; e < epochs; e++) {
        int rc = lm_trainer_epoch(t, &s);
        if (rc < 0) {
            lm_trainer_destroy(&t);
            return rc;
        }
        secs[e] = s.seconds;
        printf("  batch %3d epoch %d: %.3f s, train loss %.4f, train acc %.4f\n", batch, e + 1,
               s.seconds, s.train_loss, s.train_accuracy);
    }
    int rc = lm_trainer_evaluate(t, test, &loss, &acc);
    lm_trainer_destroy(&t);
    LM_CALL(rc);
    qsort(secs, (size_t)epochs, sizeof *secs, cmp_double);
    double med = secs[epochs / 2];
    double sps = (double)train->n / med;
    printf("MLP 784-256-256-10 batch %3d: %.3f s/epoch (median of %d), %.0f samples/s, "
           "%.1f GFLOP/s, test loss %.4f, test acc %.4f; PyTorch (BENCHMARKS.md) %.0f "
           "samples/s, ratio %.2fx\n",
           batch, med, epochs, sps, sps * FLOP_PER_SAMPLE / 1e9, loss, acc, torch_samples_per_s,
           sps / torch_samples_per_s);
    return LM_OK;
}

int main(int argc, char **argv) {
    lm_log_init(-1);
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    int epochs = 3;
    const char *e = getenv("LAMARCK_BENCH_EPOCHS");
    if (e) epochs = atoi(e);
    if (epochs < 1 || epochs > 64) {
        fprintf(stderr, "bench_nn_mlp: LAMARCK_BENCH_EPOCHS must be 1 to 64\n");
        return 2;
    }
    char img[1024], lab[1024], model[256];
    lm_dataset train, test;
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", dir);
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte.gz", dir);
    int rc = lm_data_import_idx(img, lab, &train);
    if (rc == LM_OK) {
        snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", dir);
        snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", dir);
        rc = lm_data_import_idx(img, lab, &test);
        if (rc < 0) lm_dataset_free(&train);
    }
    if (rc < 0) {
        lm_error_print(stderr);
        return lm_exit_code(rc);
    }
    cpu_model(model, sizeof model);
    const char *omp = getenv("OMP_NUM_THREADS");
    printf("bench_nn_mlp: CPU %s, oneDNN ISA %s, OMP_NUM_THREADS=%s, %lld training images\n",
           model, lm__kernels_isa(), omp ? omp : "(unset)", (long long)train.n);
    /* PyTorch 1.13 single-thread, middle of the ranges in BENCHMARKS.md. */
    rc = run(&train, &test, 128, epochs, 62000.0);
    if (rc == LM_OK) rc = run(&train, &test, 32, epochs, 41500.0);
    lm_dataset_free(&train);
    lm_dataset_free(&test);
    if (rc < 0) {
        lm_error_print(stderr);
        return lm_exit_code(rc);
    }
    return 0;
}
