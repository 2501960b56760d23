/* lamarck space: look at an architecture space before and after a search. */
#include "cli/cli.h"
#include "lamarck/arch.h"
#include "lamarck/config.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"
#include "lamarck/io.h"
#include "lamarck/rng.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: lamarck space sample CONFIG [-n N] [--seed S]\n"
    "       lamarck space show RESULTS.h5 [--trial ID]...\n"
    "\n"
    "sample  draws N (default 5) architectures from CONFIG's model.space (with its\n"
    "        constraints, over the dataset's sample shape) and prints each: one line\n"
    "        per layer or block, then parameters and FLOPs (multiply-accumulates).\n"
    "show    prints the architectures recorded in a run's results.h5 (/genomes): every\n"
    "        trial, or the trials given.\n";

#define TEXT_MAX 16384

static int parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *v) {
    char *end;
    long x = strtol(s, &end, 10);
    if (!*s || *end || x < lo || x > hi)
        return lm_cli_usage_error(cmd, "%s expects an integer in [%ld, %ld], got '%s'", opt, lo,
                                  hi, s);
    *v = x;
    return 0;
}

static int sample(int argc, char **argv) {
    const char *path = NULL;
    long n = 5, seed = -1;
    for (int i = 0; i < argc; i++) {
        int st;
        if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            if ((st = parse_int("space", "-n", argv[++i], 1, 100000, &n))) return st;
        } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
            if ((st = parse_int("space", "--seed", argv[++i], 0, 2147483647L, &seed))) return st;
        } else if (argv[i][0] == '-') {
            return lm_cli_usage_error("space", "unknown option '%s' of space sample", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return lm_cli_usage_error("space", "one config file expected, got '%s' too", argv[i]);
        }
    }
    if (!path) return lm_cli_usage_error("space", "space sample: no config file given");
    lm_config *c = NULL;
    int rc = lm_config_load(path, &c);
    if (rc == LM_OK && !c->has_arch)
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ECONFIG,
                          "%s has no architecture space: set model.space (mlp, chain, cell or "
                          "gcnn)",
                          path);
    if (rc == LM_OK) rc = lm_exec_arch_shape(c);
    if (rc < 0) {
        lm_config_destroy(&c);
        return lm_cli_fail(rc);
    }
    int first, G;
    const lm_arch_space *as = lm_space_arch(c->space, &first, &G);
    lm_rng rng;
    lm_rng_init(&rng, seed >= 0 ? (uint64_t)seed : c->seed, 0, LM_STREAM_SAMPLE);
    char desc[1024];
    lm_arch_describe(as, desc, sizeof desc);
    printf("space: %s\n", desc);
    int32_t g[LM_HP_MAX];
    char *text = malloc(TEXT_MAX);
    if (!text) {
        lm_config_destroy(&c);
        return lm_cli_fail(lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory"));
    }
    for (long k = 0; k < n && rc == LM_OK; k++) {
        rc = lm_arch_random(as, &rng, g, (size_t)G);
        if (rc == LM_OK) rc = lm_arch_format(as, g, (size_t)G, text, TEXT_MAX);
        if (rc == LM_OK) printf("\narchitecture %ld:\n%s", k + 1, text);
    }
    free(text);
    lm_config_destroy(&c);
    return rc < 0 ? lm_cli_fail(rc) : 0;
}

static int show(int argc, char **argv) {
    const char *path = NULL;
    long want[256];
    int n_want = 0;
    for (int i = 0; i < argc; i++) {
        int st;
        if (!strcmp(argv[i], "--trial") && i + 1 < argc) {
            if (n_want == 256) return lm_cli_usage_error("space", "at most 256 --trial options");
            if ((st = parse_int("space", "--trial", argv[++i], 0, 2147483647L, &want[n_want++])))
                return st;
        } else if (argv[i][0] == '-') {
            return lm_cli_usage_error("space", "unknown option '%s' of space show", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return lm_cli_usage_error("space", "one results file expected, got '%s' too", argv[i]);
        }
    }
    if (!path) return lm_cli_usage_error("space", "space show: no results.h5 given");
    lm_arch_space as;
    int32_t *genome = NULL;
    int n, G;
    int rc = lm_io_genomes_read(path, &as, &genome, &n, &G);
    if (rc < 0) return lm_cli_fail(rc);
    for (int k = 0; k < n_want; k++)
        if (want[k] >= n) {
            free(genome);
            lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                         "%s holds trials 0 to %d; there is no trial %ld", path, n - 1, want[k]);
            return lm_cli_fail(LM_EDATA);
        }
    char *text = malloc(TEXT_MAX);
    if (!text) {
        free(genome);
        return lm_cli_fail(lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory"));
    }
    int count = n_want ? n_want : n;
    for (int k = 0; k < count && rc == LM_OK; k++) {
        int id = n_want ? (int)want[k] : k;
        const int32_t *g = genome + (size_t)id * (size_t)G;
        if (lm_arch_format(&as, g, (size_t)G, text, TEXT_MAX) < 0) {
            snprintf(text, TEXT_MAX, "  (not a valid genome: %s)\n", lm_error_message());
            lm_error_clear();
        }
        printf("%strial %d:\n%s", k ? "\n" : "", id, text);
    }
    free(text);
    free(genome);
    return 0;
}

int lm_cli_space(int argc, char **argv) {
    if (argc < 2) return lm_cli_usage_error("space", "expected 'sample' or 'show'");
    for (int i = 1; i < argc; i++)
        if (lm_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
    if (!strcmp(argv[1], "sample")) return sample(argc - 2, argv + 2);
    if (!strcmp(argv[1], "show")) return show(argc - 2, argv + 2);
    return lm_cli_usage_error("space", "unknown space command '%s' (sample, show)", argv[1]);
}
