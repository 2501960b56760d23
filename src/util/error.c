/* Error messages and tracebacks: one message (the innermost failure) and a bounded
 * list of traceback lines, kept in static storage so recording never allocates. */
#include "lamarck/error.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_MAX 32

static char message[2048];
static int have_message;
static int last_err;
static struct { const char *file, *func; int line; } trace[TRACE_MAX];
static int ntrace;

const char *lm_strerror(int err) {
    switch (err) {
#define LM__ERR_STR(name, val, msg, code) case (val): return msg;
        LM_ERRNO_MAP(LM__ERR_STR)
#undef LM__ERR_STR
    }
    return "unknown error";
}

int lm_exit_code(int err) {
    switch (err) {
#define LM__ERR_CODE(name, val, msg, code) case (val): return code;
        LM_ERRNO_MAP(LM__ERR_CODE)
#undef LM__ERR_CODE
    }
    return 1;
}

int lm_error_trace(const char *file, int line, const char *func, int err) {
    if (ntrace < TRACE_MAX) {
        trace[ntrace].file = file;
        trace[ntrace].func = func;
        trace[ntrace].line = line;
        ntrace++;
    }
    if (!last_err) last_err = err;
    return err;
}

int lm_error_set(const char *file, int line, const char *func, int err, const char *fmt, ...) {
    if (!have_message) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof message, fmt, ap);
        va_end(ap);
        have_message = 1;
        last_err = err;
    }
    return lm_error_trace(file, line, func, err);
}

const char *lm_error_message(void) { return have_message ? message : ""; }

void lm_error_print(FILE *out) {
    if (have_message)
        fprintf(out, "lamarck: error: %s\n", message);
    else if (last_err)
        fprintf(out, "lamarck: error: %s\n", lm_strerror(last_err));
    const char *tb = getenv("LAMARCK_TRACEBACK");
    int internal = lm_exit_code(last_err) == 1;
    if ((tb && *tb && strcmp(tb, "0") != 0) || internal) {
        for (int i = 0; i < ntrace; i++)
            fprintf(out, "  [%d] %s() at %s:%d\n", i, trace[i].func, trace[i].file, trace[i].line);
    }
    fflush(out);
}

void lm_error_clear(void) {
    have_message = 0;
    message[0] = 0;
    last_err = 0;
    ntrace = 0;
}
