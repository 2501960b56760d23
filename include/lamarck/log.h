/* Rank-tagged logging to stderr: "[lamarck r0 12.3s] message". Level from the
 * environment variable LAMARCK_LOG (error, warn, info, debug; default info). */
#ifndef LAMARCK_LOG_H
#define LAMARCK_LOG_H

typedef enum { LM_LOG_ERROR, LM_LOG_WARN, LM_LOG_INFO, LM_LOG_DEBUG } lm_log_level;

/* Sets the rank shown in every line (-1 hides it) and reads LAMARCK_LOG. */
void lm_log_init(int rank);
void lm_log_set_level(lm_log_level level);
int lm_log_enabled(lm_log_level level);
void lm_log(lm_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define lm_log_error(...) lm_log(LM_LOG_ERROR, __VA_ARGS__)
#define lm_log_warn(...) lm_log(LM_LOG_WARN, __VA_ARGS__)
#define lm_log_info(...) lm_log(LM_LOG_INFO, __VA_ARGS__)
#define lm_log_debug(...) lm_log(LM_LOG_DEBUG, __VA_ARGS__)

#endif
