/* lamarck validate: parse experiment files and report the first error of each. */
#include "cli/cli.h"
#include "lamarck/config.h"
#include "lamarck/error.h"

#include <string.h>

static const char usage[] =
    "usage: lamarck validate CONFIG...\n"
    "\n"
    "Checks each experiment file: YAML syntax, known keys, types, ranges, the search\n"
    "space. Prints 'FILE: ok' or the error with file:line:column. Exit 0 when every\n"
    "file is valid, 2 otherwise.\n";

int lm_cli_validate(int argc, char **argv) {
    if (argc < 2) return lm_cli_usage_error("validate", "no config file given");
    int status = 0;
    for (int i = 1; i < argc; i++) {
        if (lm_cli_is_help(argv[i])) {
            fputs(usage, stdout);
            return 0;
        }
    }
    for (int i = 1; i < argc; i++) {
        lm_config *c = NULL;
        int rc = lm_config_load(argv[i], &c);
        if (rc < 0) {
            lm_error_print(stderr);
            lm_error_clear();
            status = 2;
            continue;
        }
        printf("%s: ok (%s search, %d hyperparameters, dataset %s)\n", argv[i], c->algorithm,
               lm_space_size(c->space), c->dataset);
        lm_config_destroy(&c);
    }
    return status;
}
