/* Training throughput of the reference networks of /work/shared/BENCHMARKS.md on
 * Fashion-MNIST: the MLP 784-256-256-10 at batch 128 and 32, and the CNN
 * conv3x3(32)-pool-conv3x3(64)-pool-fc(128)-fc(10) at batch 128 (lm_train_params with
 * model cnn, conv_layers 2, filters 32, kernel 3, depth 1, width 128). SGD lr 0.05,
 * momentum 0.9, 60,000 training images per epoch (last partial batch included,
 * shuffled every epoch), then test accuracy on the 10,000 test images.
 *
 * Run single-threaded:
 *     OMP_NUM_THREADS=1 bench_nn_train [DIR]
 * DIR defaults to /usr/share/datasets/fashion-mnist. Environment:
 *     LAMARCK_BENCH_EPOCHS   epochs per run (default 3)
 *     LAMARCK_BENCH_ONLY     runs, comma-separated, from mlp128,mlp32,cnn128 (default all)
 *     LAMARCK_BENCH_TORCH    PyTorch's samples/s from the same session, e.g.
 *                            "mlp128=61000,mlp32=41000,cnn128=3100", to print ratios
 * Prints per run: median s/epoch, samples/s, GFLOP/s at the peers' FLOP convention
 * (MLP 1.61, CNN 25.4 MFLOP per training sample: 3 x the forward's 2 x multiply-adds),
 * peak resident memory so far, test accuracy; and the machine. Asserts nothing. */
#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/log.h"
#include "lamarck/nn.h"
#include "nn/kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Peak resident set size in MiB (VmHWM), or -1. */
static double peak_rss_mib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double kib = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kib = atof(line + 6);
    fclose(f);
    return kib < 0 ? -1 : kib / 1024.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* PyTorch's samples/s for run name from LAMARCK_BENCH_TORCH, or 0. */
static double torch_figure(const char *name) {
    const char *env = getenv("LAMARCK_BENCH_TORCH");
    if (!env) return 0;
    size_t n = strlen(name);
    for (const char *p = env; (p = strstr(p, name)); p += n)
        if ((p == env || p[-1] == ',') && p[n] == '=') return atof(p + n + 1);
    return 0;
}

static int run(const char *name, const lm_dataset *train, const lm_dataset *test, int cnn, int batch,
               int epochs) {
    lm_train_params p;
    lm_train_params_default(&p);
    p.batch_size = batch;
    p.epochs = epochs;
    p.lr = 0.05;
    p.momentum = 0.9;
    if (cnn) {
        p.model = LM_MODEL_CNN;
        p.conv_layers = 2;
        p.filters = 32;
        p.kernel = 3;
        p.depth = 1;
        p.width = 128;
    } else {
        p.depth = 2;
        p.width = 256;
    }
    double flop = cnn ? 25.4e6 : 1.61e6;
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
        printf("  %s epoch %d: %.3f s, train loss %.4f, train acc %.4f\n", name, e + 1, s.seconds,
               s.train_loss, s.train_accuracy);
        fflush(stdout);
    }
    double own_flop = 3 * lm_trainer_flops(t);
    int rc = lm_trainer_evaluate(t, test, &loss, &acc);
    lm_trainer_destroy(&t);
    LM_CALL(rc);
    qsort(secs, (size_t)epochs, sizeof *secs, cmp_double);
    double med = secs[epochs / 2], sps = (double)train->n / med, ref = torch_figure(name);
    printf("%-6s %s batch %3d: %.3f s/epoch (median of %d, %.3f-%.3f), %.0f samples/s, %.1f "
           "GFLOP/s (%.2f MFLOP/sample; engine's count %.2f), peak RSS %.0f MiB, test loss %.4f, "
           "test acc %.4f",
           name, cnn ? "CNN" : "MLP", batch, med, epochs, secs[0], secs[epochs - 1], sps,
           sps * flop / 1e9, flop / 1e6, own_flop / 1e6, peak_rss_mib(), loss, acc);
    if (ref > 0) printf("; PyTorch %.0f samples/s, ratio %.2fx", ref, sps / ref);
    printf("\n");
    fflush(stdout);
    return LM_OK;
}

int main(int argc, char **argv) {
    lm_log_init(-1);
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    int epochs = 3;
    const char *e = getenv("LAMARCK_BENCH_EPOCHS");
    if (e) epochs = atoi(e);
    if (epochs < 1 || epochs > 64) {
        fprintf(stderr, "bench_nn_train: LAMARCK_BENCH_EPOCHS must be 1 to 64\n");
        return 2;
    }
    const char *only = getenv("LAMARCK_BENCH_ONLY");
    if (!only || !*only) only = "mlp128,mlp32,cnn128";
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
    printf("bench_nn_train: CPU %s, oneDNN ISA %s, OMP_NUM_THREADS=%s, %lld training images, %d "
           "epochs\n",
           model, lm__kernels_isa(), omp ? omp : "(unset)", (long long)train.n, epochs);
    static const struct {
        const char *name;
        int cnn, batch;
    } runs[] = {{"mlp128", 0, 128}, {"mlp32", 0, 32}, {"cnn128", 1, 128}};
    for (size_t i = 0; i < sizeof runs / sizeof *runs && rc == LM_OK; i++) {
        const char *hit = strstr(only, runs[i].name);
        size_t n = strlen(runs[i].name);
        if (!hit || (hit != only && hit[-1] != ',') || (hit[n] && hit[n] != ',')) continue;
        rc = run(runs[i].name, &train, &test, runs[i].cnn, runs[i].batch, epochs);
    }
    lm_dataset_free(&train);
    lm_dataset_free(&test);
    if (rc < 0) {
        lm_error_print(stderr);
        return lm_exit_code(rc);
    }
    return 0;
}
