/* Rank-tagged logging. Lines are written whole with one fprintf so that ranks sharing
 * a Slurm output file do not interleave within a line. */
#include "lamarck/log.h"
#include "lamarck/timer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_rank = -1;
static lm_log_level log_level = LM_LOG_INFO;
static double log_t0 = -1;

void lm_log_init(int rank) {
    log_rank = rank;
    if (log_t0 < 0) log_t0 = lm_time_now();
    const char *e = getenv("LAMARCK_LOG");
    if (!e) return;
    if (!strcmp(e, "error")) log_level = LM_LOG_ERROR;
    else if (!strcmp(e, "warn")) log_level = LM_LOG_WARN;
    else if (!strcmp(e, "info")) log_level = LM_LOG_INFO;
    else if (!strcmp(e, "debug")) log_level = LM_LOG_DEBUG;
}

void lm_log_set_level(lm_log_level level) { log_level = level; }

int lm_log_enabled(lm_log_level level) { return level <= log_level; }

void lm_log(lm_log_level level, const char *fmt, ...) {
    static const char *tag[] = {"error: ", "warning: ", "", "debug: "};
    if (level > log_level) return;
    if (log_t0 < 0) log_t0 = lm_time_now();
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    double t = lm_time_now() - log_t0;
    if (log_rank >= 0)
        fprintf(stderr, "[lamarck r%d %7.1fs] %s%s\n", log_rank, t, tag[level], msg);
    else
        fprintf(stderr, "[lamarck %7.1fs] %s%s\n", t, tag[level], msg);
    fflush(stderr);
}
