/* lamarck run: parse options, then run the experiment collectively on every rank. */
#include "cli/cli.h"
#include "lamarck/error.h"
#include "lamarck/exec.h"

#include "quickstart_yaml.h"

#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: mpiexec -n P lamarck run [CONFIG] [--output DIR] [--overwrite]\n"
    "                               [--resume-changed-config]\n"
    "       mpiexec -n P lamarck resume DIR\n"
    "\n"
    "Runs the experiment in CONFIG (YAML; see README.md) with rank 0 as the controller\n"
    "and ranks 1..P-1 training trials (with P = 1, trials train on rank 0). Without\n"
    "CONFIG, runs the embedded quickstart (inputs/quickstart.yaml). When the run\n"
    "directory holds checkpoints of an unfinished run, continues it (with any number of\n"
    "ranks); `resume DIR` does the same with DIR/config.yaml.\n"
    "\n"
    "  --output DIR              run directory (default: experiment.output, else\n"
    "                            runs/<name>)\n"
    "  --overwrite               start over, replacing earlier results and checkpoints\n"
    "  --resume-changed-config   continue a checkpointed run although CONFIG differs\n"
    "                            from the config it was started with\n"
    "\n"
    "Writes DIR/results.h5 (trials, learning curves, config), DIR/config.yaml, DIR/run.txt\n"
    "and checkpoints in DIR/checkpoints/ (every experiment.checkpoint_interval seconds, at\n"
    "the end, and on SIGUSR1 or SIGTERM, after which it exits with status 4: run the same\n"
    "command again to continue). Progress goes to stderr.\n";

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
    int resume = !strcmp(argv[0], "resume");
    char resume_config[4200];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (lm_cli_is_help(a)) {
            fputs(usage, stdout);
            return 0;
        } else if (resume) {
            if (a[0] == '-' || o.output) return lm_cli_usage_error("resume", "expected one run directory");
            o.output = a;
        } else if (!strcmp(a, "--resume-changed-config")) {
            o.resume_changed_config = 1;
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
    if (resume) {
        if (!o.output) return lm_cli_usage_error("resume", "expected a run directory");
        snprintf(resume_config, sizeof resume_config, "%s/config.yaml", o.output);
        o.config_path = resume_config;
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
