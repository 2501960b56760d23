/* lamarck: the entry point. Subcommands live in cmd_*.c. */
#include "cli/cli.h"
#include "lamarck/error.h"
#include "lamarck/rank.h"

#include <stdarg.h>
#include <string.h>

static const char usage[] =
    "usage: lamarck <command> [options]\n"
    "\n"
    "commands:\n"
    "  run [CONFIG]           run an experiment (under mpiexec; without CONFIG, the\n"
    "                         embedded quickstart on Fashion-MNIST)\n"
    "  resume DIR             continue a checkpointed run (its DIR/config.yaml)\n"
    "  validate CONFIG...     check experiment files; exit 0 if valid, 2 if not\n"
    "  data import NAME       import a dataset (Debian packages, or your CSV/ARFF) into data/\n"
    "  data list              the imported datasets: sizes, shapes, feature kinds\n"
    "  report RESULTS.h5      print the best trials of a run\n"
    "  space sample CONFIG    print architectures drawn from model.space (-n N)\n"
    "  space show RESULTS.h5  print the architectures a run trained (--trial ID)\n"
    "  rank train|eval|stoppers META\n"
    "                         learning-curve ranking model; stopping rules on replays\n"
    "  metadata generate CONFIG [--part I/N] | merge OUT PART...\n"
    "                         learning-curve meta-datasets (under mpiexec)\n"
    "\n"
    "options: --help (also after each command), --version\n"
    "exit status: 0 ok, 1 internal error, 2 usage or config error, 3 data error,\n"
    "4 stopped by SIGUSR1/SIGTERM after a checkpoint (run again to continue)\n";

int lm_cli_is_help(const char *arg) { return !strcmp(arg, "-h") || !strcmp(arg, "--help"); }

int lm_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lamarck: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see: lamarck %s%s--help)\n", cmd ? cmd : "", cmd ? " " : "");
    va_end(ap);
    return 2;
}

int lm_cli_fail(int err) {
    lm_error_print(stderr);
    return lm_exit_code(err);
}

int main(int argc, char **argv) {
    if (argc < 2 || lm_cli_is_help(argv[1])) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    /* Rules above the search module join the registry before any config is read. */
    if (lm_rank_stopper_install() < 0) return lm_cli_fail(LM_EINTERNAL);
    if (!strcmp(cmd, "--version")) {
        printf("lamarck %s\n", LAMARCK_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "run") || !strcmp(cmd, "resume")) return lm_cli_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "validate")) return lm_cli_validate(argc - 1, argv + 1);
    if (!strcmp(cmd, "data")) return lm_cli_data(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return lm_cli_report(argc - 1, argv + 1);
    if (!strcmp(cmd, "space")) return lm_cli_space(argc - 1, argv + 1);
    if (!strcmp(cmd, "rank")) return lm_cli_rank(argc - 1, argv + 1);
    if (!strcmp(cmd, "metadata")) return lm_cli_metadata(argc - 1, argv + 1);
    return lm_cli_usage_error(NULL, "unknown command '%s'", cmd);
}
