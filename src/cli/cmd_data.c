/* lamarck data import: datasets from Debian packages into lamarck's HDF5 files. */
#include "cli/cli.h"
#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/io.h"
#include "lamarck/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: lamarck data import NAME [--source PATH] [--dir DIR]\n"
    "\n"
    "Imports a dataset into DIR/NAME.h5 (DIR: --dir, else $LAMARCK_DATA, else data).\n"
    "\n"
    "  fashion-mnist  60,000 train / 10,000 test images, 28x28, 10 classes; PATH is the\n"
    "                 directory of the idx .gz files (default: Debian package\n"
    "                 dataset-fashion-mnist, /usr/share/datasets/fashion-mnist)\n"
    "  digits         scikit-learn's 1,797 8x8 digits; PATH is digits.csv.gz (default:\n"
    "                 Debian package python3-sklearn's copy). 20%% of each class is set\n"
    "                 aside as the test split (fixed seed), the rest is the train split.\n";

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define DIGITS_CSV "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"

static const char *const fashion_classes[] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};

static int import_fashion(const char *src, lm_dataset *train, lm_dataset *test) {
    char img[4096], lab[4096];
    snprintf(img, sizeof img, "%s/train-images-idx3-ubyte.gz", src);
    snprintf(lab, sizeof lab, "%s/train-labels-idx1-ubyte.gz", src);
    LM_CALL(lm_data_import_idx(img, lab, train));
    snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte.gz", src);
    snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte.gz", src);
    LM_CALL(lm_data_import_idx(img, lab, test));
    LM_CALL(lm_dataset_set_class_names(train, 10, fashion_classes));
    LM_CALL(lm_dataset_set_class_names(test, 10, fashion_classes));
    return LM_OK;
}

static int import_digits(const char *src, lm_dataset *train, lm_dataset *test) {
    lm_dataset all = {0};
    LM_CALL(lm_data_import_digits(src, &all));
    static const char *const names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    int rc = lm_dataset_set_class_names(&all, 10, names);
    /* The file has no test split: a fixed stratified fifth becomes one. */
    if (rc == LM_OK) rc = lm_data_split_stratified(&all, 0.2, 0, train, test);
    lm_dataset_free(&all);
    return rc;
}

static int import(const char *name, const char *source, const char *dir) {
    lm_dataset train = {0}, test = {0};
    int rc;
    const char *src;
    if (!strcmp(name, "fashion-mnist")) {
        src = source ? source : FASHION_DIR;
        rc = import_fashion(src, &train, &test);
        if (rc == LM_ENOENT && !source)
            lm_log_error("install the Debian package dataset-fashion-mnist, or pass --source DIR");
    } else if (!strcmp(name, "digits")) {
        src = source ? source : DIGITS_CSV;
        rc = import_digits(src, &train, &test);
        if (rc == LM_ENOENT && !source)
            lm_log_error("the file comes with the Debian package python3-sklearn; pass --source "
                         "PATH/digits.csv.gz to use a copy extracted from its .deb");
    } else {
        LM_FAIL(LM_EUSAGE, "unknown dataset '%s' (known: fashion-mnist, digits)", name);
    }
    if (rc < 0) goto out;
    snprintf(train.name, sizeof train.name, "%s", name);
    snprintf(test.name, sizeof test.name, "%s", name);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EIO, "cannot create %s: %s", dir,
                          strerror(errno));
        goto out;
    }
    char out[4096];
    snprintf(out, sizeof out, "%s/%s.h5", dir, name);
    rc = lm_io_dataset_write(out, &train, &test, src);
    if (rc == LM_OK)
        printf("%s: %lld train, %lld test samples, %d x %d x %d, %d classes (from %s)\n", out,
               (long long)train.n, (long long)test.n, train.c, train.h, train.w, train.n_classes,
               src);
out:
    lm_dataset_free(&train);
    lm_dataset_free(&test);
    return rc;
}

int lm_cli_data(int argc, char **argv) {
    if (argc < 2) return lm_cli_usage_error("data", "missing subcommand (import)");
    if (lm_cli_is_help(argv[1])) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "import") != 0)
        return lm_cli_usage_error("data", "unknown subcommand '%s' (known: import)", argv[1]);
    const char *name = NULL, *source = NULL, *dir = getenv("LAMARCK_DATA");
    if (!dir || !*dir) dir = "data";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (lm_cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--source") || !strcmp(a, "--dir")) {
            if (i + 1 >= argc) return lm_cli_usage_error("data", "%s needs a path", a);
            if (!strcmp(a, "--source")) source = argv[++i];
            else dir = argv[++i];
        } else if (a[0] == '-') {
            return lm_cli_usage_error("data", "unknown option '%s'", a);
        } else if (name) {
            return lm_cli_usage_error("data", "more than one dataset name");
        } else {
            name = a;
        }
    }
    if (!name) return lm_cli_usage_error("data", "import needs a dataset name (fashion-mnist, digits)");
    int rc = import(name, source, dir);
    return rc < 0 ? lm_cli_fail(rc) : 0;
}
