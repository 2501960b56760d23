/* lamarck data import | list: datasets from Debian packages (or users' CSV and ARFF
 * files) into lamarck's HDF5 dataset files, and a summary of those files. */
#define _POSIX_C_SOURCE 200809L /* readlink */
#include "cli/cli.h"
#include "lamarck/data.h"
#include "lamarck/error.h"
#include "lamarck/io.h"
#include "lamarck/log.h"
#include "lamarck/strutil.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: lamarck data import NAME [--source PATH] [--dir DIR]\n"
    "       lamarck data import csv FILE --name NAME --target COLUMN [--dir DIR]\n"
    "       lamarck data import arff FILE --name NAME [--target ATTRIBUTE] [--test FILE]\n"
    "                                [--dir DIR]\n"
    "       lamarck data list [--dir DIR]\n"
    "\n"
    "import writes DIR/NAME.h5 (DIR: --dir, else $LAMARCK_DATA, else data). Without a\n"
    "test split in the source, 20% of each class (fixed seed 0) becomes the test split.\n"
    "\n"
    "Datasets from Debian packages (PATH: the file, or the directory holding it):\n"
    "  fashion-mnist  70,000 28x28 images, 10 classes; idx .gz files of the package\n"
    "                 dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)\n"
    "  digits         1,797 8x8 images, 10 classes    } scikit-learn's CSVs from\n"
    "  iris           150 x 4 numeric, 3 classes      } python3-sklearn\n"
    "  wine           178 x 13 numeric, 3 classes     } (.../sklearn/datasets/data)\n"
    "  breast-cancer  569 x 30 numeric, 2 classes     }\n"
    "  vote           435 x 16 categorical, missing values, 2 classes  } Weka's ARFF\n"
    "  soybean        683 x 35 categorical, missing values, 19 classes } examples from\n"
    "  credit-g       1,000 x 20 mixed, 2 classes                      } the package\n"
    "  diabetes       768 x 8 numeric, 2 classes                       } weka\n"
    "  segment        1,500 train / 810 test x 19 numeric, 7 classes   } (/usr/share/\n"
    "  ionosphere     351 x 34 numeric, 2 classes                      } doc/weka/\n"
    "  glass          214 x 9 numeric, 7 classes                       } examples)\n"
    "Where the package is not installed, the file is looked for under .deps/sklearn or\n"
    ".deps/weka of the source tree (where jobs/setup.sh extracts the packages without\n"
    "installing them): $LAMARCK_SOURCE_DIR, else the directory above the one holding\n"
    "the lamarck executable.\n"
    "\n"
    "csv: a header line of column names; --target names the class column; other\n"
    "columns are numeric when every value is a number, else categorical; empty, ? and\n"
    "NA are missing. arff: numeric and nominal attributes; the class is --target or the\n"
    "last nominal attribute; --test FILE, with the same header, is the test split.\n"
    "\n"
    "list shows every dataset file in DIR: splits, shape, classes, feature kinds.\n";

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define SKLEARN_DIR "/usr/lib/python3/dist-packages/sklearn/datasets/data"
#define WEKA_DIR "/usr/share/doc/weka/examples"
#define PATH_CAP 4096
#define TEST_FRACTION 0.2
#define SPLIT_SEED 0

typedef enum { SRC_FASHION, SRC_DIGITS, SRC_SKLEARN, SRC_WEKA } source_kind;

typedef struct builtin {
    const char *name;
    source_kind kind;
    const char *file;       /* in the package's directory */
    const char *test_file;  /* a separate test split, or NULL */
} builtin;

static const builtin builtins[] = {
    {"fashion-mnist", SRC_FASHION, NULL, NULL},
    {"digits", SRC_DIGITS, "digits.csv.gz", NULL},
    {"iris", SRC_SKLEARN, "iris.csv", NULL},
    {"wine", SRC_SKLEARN, "wine_data.csv", NULL},
    {"breast-cancer", SRC_SKLEARN, "breast_cancer.csv", NULL},
    {"vote", SRC_WEKA, "vote.arff", NULL},
    {"soybean", SRC_WEKA, "soybean.arff", NULL},
    {"credit-g", SRC_WEKA, "credit-g.arff", NULL},
    {"diabetes", SRC_WEKA, "diabetes.arff", NULL},
    {"segment", SRC_WEKA, "segment-challenge.arff", "segment-test.arff"},
    {"ionosphere", SRC_WEKA, "ionosphere.arff", NULL},
    {"glass", SRC_WEKA, "glass.arff", NULL},
};
#define N_BUILTINS ((int)(sizeof builtins / sizeof *builtins))

static const char *const fashion_classes[] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};

/* Feature names scikit-learn gives its bundled CSVs (sklearn/datasets/_base.py). */
static const char *const iris_features[] = {"sepal length (cm)", "sepal width (cm)",
                                            "petal length (cm)", "petal width (cm)"};
static const char *const wine_features[] = {
    "alcohol",         "malic_acid", "ash", "alcalinity_of_ash", "magnesium",
    "total_phenols",   "flavanoids", "nonflavanoid_phenols", "proanthocyanins",
    "color_intensity", "hue",        "od280/od315_of_diluted_wines", "proline"};
static const char *const cancer_measures[] = {
    "radius",    "texture",   "perimeter",      "area",     "smoothness",
    "compactness", "concavity", "concave points", "symmetry", "fractal dimension"};

/* ---- where the files are ---- */

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The source tree: $LAMARCK_SOURCE_DIR, else the parent of the directory holding
 * the executable (build/lamarck -> the tree). Empty when neither is known. */
static void source_tree(char *out, size_t cap) {
    const char *env = getenv("LAMARCK_SOURCE_DIR");
    out[0] = 0;
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return;
    }
    char exe[PATH_CAP];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(exe, '/');
        if (!slash) return;
        *slash = 0;
    }
    snprintf(out, cap, "%s", exe[0] ? exe : "/");
}

/* dir/file, or dir/file.gz, when it exists. */
static int find_in(const char *dir, const char *file, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s/%s", dir, file);
    if (n > 0 && (size_t)n < cap && is_file(out)) return 1;
    n = snprintf(out, cap, "%s/%s.gz", dir, file);
    return n > 0 && (size_t)n < cap && is_file(out);
}

/* The package's directory for a kind, on the system or under .deps/<package>. */
static const char *package_dir(source_kind kind, const char **package, const char **deps) {
    switch (kind) {
    case SRC_FASHION: *package = "dataset-fashion-mnist"; *deps = NULL; return FASHION_DIR;
    case SRC_WEKA: *package = "weka"; *deps = "weka"; return WEKA_DIR;
    default: *package = "python3-sklearn"; *deps = "sklearn"; return SKLEARN_DIR;
    }
}

/* Resolves file of a built-in dataset: in --source (a file, or a directory holding
 * it), else in the package's directory, else under .deps/ of the source tree. */
static int locate(const builtin *b, const char *file, const char *source, char *out,
                  size_t cap) {
    if (source) {
        if (!is_dir(source)) {
            /* A file: the one asked for, or (a dataset of two files given by one of them)
             * its sibling in the same directory. */
            const char *slash = strrchr(source, '/');
            const char *base = slash ? slash + 1 : source;
            size_t n = strlen(file);
            int same = !strncmp(base, file, n) && (!base[n] || !strcmp(base + n, ".gz"));
            char dir[PATH_CAP];
            snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - source) : 1,
                     slash ? source : ".");
            if (!same && find_in(dir, file, out, cap)) return LM_OK;
            snprintf(out, cap, "%s", source);
            return LM_OK;
        }
        LM_CHECK(find_in(source, file, out, cap), LM_ENOENT, "%s: no %s (or %s.gz) in this "
                 "directory", source, file, file);
        return LM_OK;
    }
    const char *package, *deps;
    const char *dir = package_dir(b->kind, &package, &deps);
    if (find_in(dir, file, out, cap)) return LM_OK;
    char tree[PATH_CAP], alt[PATH_CAP + 64];
    source_tree(tree, sizeof tree);
    snprintf(alt, sizeof alt, "%s/.deps/%s%s", tree[0] ? tree : ".", deps, dir);
    if (find_in(alt, file, out, cap)) return LM_OK;
    LM_FAIL(LM_ENOENT, "%s not found in %s nor in %s; it comes with the Debian package %s "
            "(install it, or run jobs/setup.sh, which extracts it into .deps/), or pass "
            "--source PATH", file, dir, alt, package);
}

/* ---- importing ---- */

/* "train.arff" -> "train.arff + test.arff" (cut to fit). */
static void append_source(char *src, size_t cap, const char *more) {
    size_t n = strlen(src);
    if (n + 4 > cap) return;
    memcpy(src + n, " + ", 4);
    lm_strlcpy(src + n + 3, more, cap - n - 3);
}

/* A fixed stratified fifth becomes the test split of a source without one. */
static int split_off_test(lm_dataset *all, lm_dataset *train, lm_dataset *test) {
    int rc = lm_data_split_stratified(all, TEST_FRACTION, SPLIT_SEED, train, test);
    lm_dataset_free(all);
    return rc;
}

static int import_fashion(const char *src, lm_dataset *train, lm_dataset *test) {
    char img[PATH_CAP + 64], lab[PATH_CAP + 64];
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

/* Gives scikit-learn's feature names to its CSV datasets. */
static int name_sklearn_features(const char *name, lm_dataset *d) {
    const char *names[30];
    const char *const *v = NULL;
    char buf[30][48];
    int n = 0;
    if (!strcmp(name, "iris")) {
        v = iris_features;
        n = 4;
    } else if (!strcmp(name, "wine")) {
        v = wine_features;
        n = 13;
    } else {
        for (int g = 0; g < 3; g++)
            for (int k = 0; k < 10; k++) {
                const char *m = cancer_measures[k];
                if (g == 0) snprintf(buf[n], sizeof buf[n], "mean %s", m);
                else if (g == 1) snprintf(buf[n], sizeof buf[n], "%s error", m);
                else snprintf(buf[n], sizeof buf[n], "worst %s", m);
                names[n] = buf[n];
                n++;
            }
        v = names;
    }
    LM_CHECK(lm_dataset_features(d) == n, LM_EDATA, "%s has %lld features; scikit-learn's %s "
             "has %d", name, (long long)lm_dataset_features(d), name, n);
    return lm_dataset_set_feature_names(d, v);
}

/* Imports an ARFF file and, when given, its separate test file with the same header. */
static int import_arff_pair(const char *path, const char *test_path, const char *target,
                            lm_dataset *train, lm_dataset *test) {
    lm_dataset all = {0};
    LM_CALL(lm_data_import_arff(path, target, &all));
    if (!test_path) return split_off_test(&all, train, test);
    *train = all;
    LM_CALL(lm_data_import_arff(test_path, target, test));
    return lm_dataset_check_schema(train, test, test_path);
}

static int import_builtin(const builtin *b, const char *source, lm_dataset *train,
                          lm_dataset *test, char *src, size_t cap) {
    lm_dataset all = {0};
    if (b->kind == SRC_FASHION) {
        snprintf(src, cap, "%s", source ? source : FASHION_DIR);
        int rc = import_fashion(src, train, test);
        if (rc == LM_ENOENT && !source)
            lm_log_error("install the Debian package dataset-fashion-mnist, or pass --source DIR");
        return rc;
    }
    LM_CALL(locate(b, b->file, source, src, cap));
    if (b->kind == SRC_DIGITS) {
        static const char *const names[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
        LM_CALL(lm_data_import_digits(src, &all));
        int rc = lm_dataset_set_class_names(&all, 10, names);
        if (rc < 0) {
            lm_dataset_free(&all);
            return rc;
        }
        return split_off_test(&all, train, test);
    }
    if (b->kind == SRC_SKLEARN) {
        LM_CALL(lm_data_import_sklearn_csv(src, &all));
        int rc = name_sklearn_features(b->name, &all);
        if (rc < 0) {
            lm_dataset_free(&all);
            return rc;
        }
        return split_off_test(&all, train, test);
    }
    char test_src[PATH_CAP];
    if (b->test_file) LM_CALL(locate(b, b->test_file, source, test_src, sizeof test_src));
    LM_CALL(import_arff_pair(src, b->test_file ? test_src : NULL, NULL, train, test));
    /* The recorded source names both files. */
    if (b->test_file) append_source(src, cap, test_src);
    return LM_OK;
}

/* A dataset name becomes a file name: letters, digits, '.', '_', '-', not leading '.'. */
static int check_name(const char *name) {
    size_t n = strlen(name);
    int ok = n > 0 && n < LM_DATA_NAME_MAX && name[0] != '.';
    for (size_t i = 0; ok && i < n; i++) {
        char c = name[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    }
    LM_CHECK(ok, LM_EUSAGE, "dataset name '%s': use 1 to %d letters, digits, '.', '_' or '-', "
             "not starting with '.'", name, LM_DATA_NAME_MAX - 1);
    return LM_OK;
}

static void describe_features(const lm_dataset *d, char *buf, size_t cap) {
    int64_t f = lm_dataset_features(d), k = lm_dataset_n_categorical(d);
    int missing = lm_dataset_has_missing(d);
    if (d->h > 1 || d->w > 1)
        snprintf(buf, cap, "%d x %d x %d", d->c, d->h, d->w);
    else
        snprintf(buf, cap, "%lld features (%lld categorical, %lld numeric%s)", (long long)f,
                 (long long)k, (long long)(f - k), missing ? ", missing values" : "");
}

typedef struct import_args {
    const char *name, *format, *path, *target, *test, *source, *dir;
} import_args;

static int import(const import_args *a) {
    lm_dataset train = {0}, test = {0};
    char src[PATH_CAP] = "";
    int rc;
    const char *name = a->name;
    if (a->format) {
        LM_CALL(check_name(name));
        snprintf(src, sizeof src, "%s", a->path);
        if (!strcmp(a->format, "csv")) {
            lm_dataset all = {0};
            rc = lm_data_import_csv(a->path, a->target, &all);
            if (rc == LM_OK) rc = split_off_test(&all, &train, &test);
        } else {
            rc = import_arff_pair(a->path, a->test, a->target, &train, &test);
            if (a->test) append_source(src, sizeof src, a->test);
        }
    } else {
        const builtin *b = NULL;
        const char *names[N_BUILTINS];
        for (int i = 0; i < N_BUILTINS; i++) {
            names[i] = builtins[i].name;
            if (!strcmp(name, builtins[i].name)) b = &builtins[i];
        }
        if (!b) {
            const char *near = lm_str_closest(name, names, N_BUILTINS);
            LM_FAIL(LM_EUSAGE, "unknown dataset '%s'%s%s%s (see lamarck data --help; your own "
                    "files: lamarck data import csv|arff FILE --name NAME)", name,
                    near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        }
        rc = import_builtin(b, a->source, &train, &test, src, sizeof src);
    }
    if (rc < 0) goto out;
    lm_strlcpy(train.name, name, sizeof train.name);
    lm_strlcpy(test.name, name, sizeof test.name);
    if (mkdir(a->dir, 0777) != 0 && errno != EEXIST) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EIO, "cannot create %s: %s", a->dir,
                          strerror(errno));
        goto out;
    }
    char out[PATH_CAP + 80], what[160];
    snprintf(out, sizeof out, "%s/%s.h5", a->dir, name);
    rc = lm_io_dataset_write(out, &train, &test, src);
    describe_features(&train, what, sizeof what);
    if (rc == LM_OK)
        printf("%s: %lld train, %lld test samples, %s, %d classes (from %s)\n", out,
               (long long)train.n, (long long)test.n, what, train.n_classes, src);
out:
    lm_dataset_free(&train);
    lm_dataset_free(&test);
    return rc;
}

/* ---- listing ---- */

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_info(const char *file, const lm_dataset_info *in) {
    char shape[64], kinds[128], missing[32];
    if (in->h > 1 || in->w > 1) snprintf(shape, sizeof shape, "%dx%dx%d", in->c, in->h, in->w);
    else snprintf(shape, sizeof shape, "%d", in->c);
    snprintf(missing, sizeof missing, "%s",
             in->n_missing < 0 ? "unknown" : in->n_missing > 0 ? "yes" : "no");
    snprintf(kinds, sizeof kinds, "%lld categorical, %lld numeric, missing values: %s",
             (long long)in->n_categorical, (long long)in->n_numeric, missing);
    printf("%-16s %8lld %8lld  %-10s %7d  %s\n", file, (long long)in->n_train,
           (long long)in->n_test, shape, in->n_classes, kinds);
}

static int list(const char *dir) {
    DIR *d = opendir(dir);
    LM_CHECK(d, errno == ENOENT ? LM_ENOENT : LM_EIO, "%s: cannot open the directory: %s", dir,
             strerror(errno));
    char **files = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rc = LM_OK, bad = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".h5") != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **v = realloc(files, cap * sizeof *v);
            if (!v) break;
            files = v;
        }
        if (!(files[n] = lm_strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n > 0) qsort(files, n, sizeof *files, by_name);
    printf("%-16s %8s %8s  %-10s %7s  %s\n", "NAME", "TRAIN", "TEST", "SHAPE", "CLASSES",
           "FEATURES");
    for (size_t i = 0; i < n; i++) {
        char path[PATH_CAP + 300];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        lm_dataset_info info;
        files[i][strlen(files[i]) - 3] = 0;
        if (lm_io_dataset_info(path, &info) == LM_OK) {
            print_info(files[i], &info);
        } else {
            fprintf(stderr, "lamarck: %s: not readable: %s\n", path, lm_error_message());
            lm_error_clear();
            bad++;
        }
    }
    if (n == 0) printf("(no dataset files in %s; see lamarck data import --help)\n", dir);
    for (size_t i = 0; i < n; i++) free(files[i]);
    free(files);
    if (bad)
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%d file(s) in %s could not be read", bad, dir);
    return rc;
}

/* ---- arguments ---- */

static int parse_import(int argc, char **argv, import_args *a) {
    for (int i = 2; i < argc; i++) {
        const char *s = argv[i];
        const char **slot = !strcmp(s, "--source") ? &a->source
                            : !strcmp(s, "--dir")  ? &a->dir
                            : !strcmp(s, "--name") ? &a->name
                            : !strcmp(s, "--target") ? &a->target
                            : !strcmp(s, "--test") ? &a->test : NULL;
        if (slot) {
            if (i + 1 >= argc) return lm_cli_usage_error("data", "%s needs a value", s);
            *slot = argv[++i];
        } else if (s[0] == '-') {
            return lm_cli_usage_error("data", "unknown option '%s'", s);
        } else if (!a->format && !a->name && (!strcmp(s, "csv") || !strcmp(s, "arff"))) {
            a->format = s;
        } else if (a->format && !a->path) {
            a->path = s;
        } else if (!a->format && !a->name) {
            a->name = s;
        } else {
            return lm_cli_usage_error("data", "unexpected argument '%s'", s);
        }
    }
    if (a->format) {
        if (!a->path) return lm_cli_usage_error("data", "import %s needs a FILE", a->format);
        if (!a->name) return lm_cli_usage_error("data", "import %s needs --name NAME", a->format);
        if (!strcmp(a->format, "csv") && !a->target)
            return lm_cli_usage_error("data", "import csv needs --target COLUMN");
        if (!strcmp(a->format, "csv") && a->test)
            return lm_cli_usage_error("data", "--test is for arff files");
        if (a->source) return lm_cli_usage_error("data", "--source is for built-in datasets");
    } else {
        if (!a->name) return lm_cli_usage_error("data", "import needs a dataset name");
        if (a->target || a->test)
            return lm_cli_usage_error("data", "--target and --test are for csv and arff files");
    }
    return 0;
}

int lm_cli_data(int argc, char **argv) {
    if (argc < 2) return lm_cli_usage_error("data", "missing subcommand (import, list)");
    for (int i = 1; i < argc; i++)
        if (lm_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
    const char *dir = getenv("LAMARCK_DATA");
    if (!dir || !*dir) dir = "data";
    if (!strcmp(argv[1], "list")) {
        for (int i = 2; i < argc; i++) {
            if (!strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
            else return lm_cli_usage_error("data", "unexpected argument '%s'", argv[i]);
        }
        int rc = list(dir);
        return rc < 0 ? lm_cli_fail(rc) : 0;
    }
    if (strcmp(argv[1], "import") != 0)
        return lm_cli_usage_error("data", "unknown subcommand '%s' (known: import, list)", argv[1]);
    import_args a = {.dir = dir};
    int status = parse_import(argc, argv, &a);
    if (status) return status;
    int rc = import(&a);
    return rc < 0 ? lm_cli_fail(rc) : 0;
}
