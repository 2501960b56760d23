/* lamarck run: parse options, then run the experiment collectively on every rank. */
#include "cli/cli.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"

#include "quickstart_yaml.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: mpiexec -n P lamarck run [CONFIG] [--output DIR] [--overwrite]\n"
    "\n"
    "Runs the experiment in CONFIG (YAML; see README.md) with rank 0 as the controller\n"
    "and ranks 1..P-1 training trials (with P = 1, trials train on rank 0). Without\n"
    "CONFIG, runs the embedded quickstart (inputs/quickstart.yaml).\n"
    "\n"
    "  --output DIR   run directory (default: experiment.output, else runs/<name>)\n"
    "  --overwrite    replace the results of an earlier run in that directory\n"
    "\n"
    "Writes DIR/results.h5 (trials, learning curves, config), DIR/config.yaml and\n"
    "DIR/run.txt. Progress goes to stderr.\n";

/* The command line as one string, for the run's records. */
static char *join(int argc, char **argv) {
    size_t n = 16;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    strcpy(s, "lamarck");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

int lm_cli_run(int argc, char **argv) {
    lm_run_options o = lm_run_options_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (lm_cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--output")) {
            if (++i >= argc) return lm_cli_usage_error("run", "--output needs a directory");
            o.output = argv[i];
        } else if (!strcmp(a, "--overwrite")) {
            o.overwrite = 1;
        } else if (a[0] == '-') {
            return lm_cli_usage_error("run", "unknown option '%s'", a);
        } else if (o.config_path) {
            return lm_cli_usage_error("run", "more than one config file ('%s' and '%s')",
                                      o.config_path, a);
        } else {
            o.config_path = a;
        }
    }
    o.config_text = lm_quickstart_yaml;
    o.version = LAMARCK_VERSION;
    char *cmdline = join(argc, argv);
    o.command_line = cmdline;

    int rank = 0, size = 1;
    int rc = lm_exec_init(&argc, &argv, &rank, &size);
    if (rc < 0) {
        free(cmdline);
        return lm_cli_fail(rc);
    }
    rc = lm_exec_run(&o);
    free(cmdline);
    lm_exec_finalize();
    return lm_exit_code(rc);
}
