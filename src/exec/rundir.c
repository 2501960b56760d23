#define _POSIX_C_SOURCE 200809L
#include "exec/rundir.h"
#include "lamarck/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mkdirs(const char *dir) {
    char path[4096];
    LM_CHECK(strlen(dir) < sizeof path, LM_EUSAGE, "run directory path too long");
    strcpy(path, dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            LM_FAIL(LM_EIO, "cannot create directory %s: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        LM_FAIL(LM_EIO, "cannot create run directory %s: %s", path, strerror(errno));
    struct stat st;
    LM_CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode), LM_EIO, "%s is not a directory", path);
    return LM_OK;
}

static int write_file(const char *dir, const char *name, const char *text, size_t len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    LM_CHECK(f, LM_EIO, "cannot write %s: %s", path, strerror(errno));
    size_t n = fwrite(text, 1, len, f);
    int bad = fclose(f) != 0 || n != len;
    LM_CHECK(!bad, LM_EIO, "cannot write %s", path);
    return LM_OK;
}

int lm__rundir_prepare(const char *dir, int overwrite, const lm_config *c,
                       const char *command_line, const char *version, int n_ranks) {
    char results[4096];
    snprintf(results, sizeof results, "%s/results.h5", dir);
    if (access(results, F_OK) == 0 && !overwrite)
        LM_FAIL(LM_EEXIST,
                "run directory %s already holds results.h5; choose another experiment.output, "
                "or pass --overwrite to replace it",
                dir);
    LM_CALL(mkdirs(dir));
    LM_CALL(write_file(dir, "config.yaml", c->text, c->text_len));
    char info[8192];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int n = snprintf(info, sizeof info,
                     "lamarck_version: %s\nstarted: %s\nranks: %d\nconfig: %s\ncommand: %s\n",
                     version ? version : "?", when, n_ranks, c->path,
                     command_line ? command_line : "");
    if (n < 0 || (size_t)n >= sizeof info) n = (int)strlen(info);
    LM_CALL(write_file(dir, "run.txt", info, (size_t)n));
    return LM_OK;
}
