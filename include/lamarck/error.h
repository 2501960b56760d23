/* Error codes, messages and tracebacks.
 *
 * Functions that can fail return LM_OK (0) or a negative LM_E* code. The first
 * failure records a user-facing message (LM_FAIL / LM_CHECK); every LM_CALL that
 * passes the code upward adds a traceback line, as PETSc does. The top level prints
 * both with lm_error_print() and exits with lm_exit_code().
 *
 *     int load(const char *path) {
 *         FILE *f = fopen(path, "rb");
 *         LM_CHECK(f, LM_ENOENT, "%s: cannot open: %s", path, strerror(errno));
 *         LM_CALL(parse(f));
 *         ...
 */
#ifndef LAMARCK_ERROR_H
#define LAMARCK_ERROR_H

#include <stdio.h>

/* name, value, message; exit code for the process (0 ok, 1 internal, 2 usage or
 * config, 3 data, 4 stopped by a signal after writing a checkpoint: run again to
 * continue). */
#define LM_ERRNO_MAP(X)                                              \
    X(OK, 0, "success", 0)                                           \
    X(ENOMEM, -1, "out of memory", 1)                                \
    X(EINVAL, -2, "invalid argument", 1)                             \
    X(EIO, -3, "input/output error", 1)                              \
    X(EUSAGE, -4, "usage error", 2)                                  \
    X(ECONFIG, -5, "configuration error", 2)                         \
    X(EDATA, -6, "data error", 3)                                    \
    X(ENOENT, -7, "no such file", 3)                                 \
    X(ECKPT, -8, "checkpoint error", 3)                              \
    X(ERANGE, -9, "value out of range", 1)                           \
    X(EMPI, -10, "MPI error", 1)                                     \
    X(EH5, -11, "HDF5 error", 1)                                     \
    X(EDNNL, -12, "oneDNN error", 1)                                 \
    X(EINTERNAL, -13, "internal error", 1)                           \
    X(EEXIST, -14, "already exists", 2)                              \
    X(EINTR, -15, "interrupted after a checkpoint", 4)

typedef enum {
#define LM__ERR_ENUM(name, val, msg, code) LM_##name = (val),
    LM_ERRNO_MAP(LM__ERR_ENUM)
#undef LM__ERR_ENUM
} lm_errno;

/* The static description of a code ("no such file"). */
const char *lm_strerror(int err);

/* The process exit status for a code: 0, 1 (internal), 2 (usage/config), 3 (data). */
int lm_exit_code(int err);

/* Records the first failure's message (printf-style) and returns err. Later calls
 * before lm_error_clear() only add traceback lines, so the innermost, most specific
 * message is the one users see. Not thread-safe (lamarck is one thread per rank). */
int lm_error_set(const char *file, int line, const char *func, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Adds a traceback line "func() at file:line" and returns err. */
int lm_error_trace(const char *file, int line, const char *func, int err);

/* The recorded message, or "" when none. */
const char *lm_error_message(void);

/* Prints "lamarck: error: MESSAGE" and, when LAMARCK_TRACEBACK is set or the error
 * is internal, the traceback. */
void lm_error_print(FILE *out);

void lm_error_clear(void);

#define LM_FAIL(err, ...) return lm_error_set(__FILE__, __LINE__, __func__, (err), __VA_ARGS__)

#define LM_CHECK(cond, err, ...)       \
    do {                               \
        if (!(cond)) LM_FAIL(err, __VA_ARGS__); \
    } while (0)

#define LM_CALL(expr)                                                   \
    do {                                                                \
        int lm__rc = (expr);                                            \
        if (lm__rc < 0) return lm_error_trace(__FILE__, __LINE__, __func__, lm__rc); \
    } while (0)

/* Like LM_CALL, but jumps to a cleanup label with rc set. */
#define LM_CALL_GOTO(rc, expr, label)                                   \
    do {                                                                \
        (rc) = (expr);                                                  \
        if ((rc) < 0) {                                                 \
            lm_error_trace(__FILE__, __LINE__, __func__, (rc));         \
            goto label;                                                 \
        }                                                               \
    } while (0)

#define LM_CHECK_ALLOC(p) LM_CHECK((p) != NULL, LM_ENOMEM, "out of memory")

#endif
