/* The lamarck command line: one function per subcommand, each returning the process
 * exit status (0 ok, 1 internal, 2 usage or config, 3 data). */
#ifndef LAMARCK_CLI_H
#define LAMARCK_CLI_H

#include <stdio.h>

int lm_cli_run(int argc, char **argv);
int lm_cli_validate(int argc, char **argv);
int lm_cli_data(int argc, char **argv);
int lm_cli_report(int argc, char **argv);
int lm_cli_space(int argc, char **argv);
int lm_cli_rank(int argc, char **argv);
int lm_cli_metadata(int argc, char **argv);

/* Prints "lamarck: error: MSG" and a pointer to --help; returns 2. */
int lm_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whether arg is -h or --help. */
int lm_cli_is_help(const char *arg);
/* Prints the recorded error and returns the exit status for err. */
int lm_cli_fail(int err);

#endif
