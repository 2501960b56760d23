/* scikit-learn's digits.csv(.gz) (the UCI optical recognition of handwritten digits
 * test set): no header, one sample per line, 64 comma-separated pixel counts 0..16
 * of an 8 x 8 image in row-major order, then the class 0..9. */
#include "lamarck/data.h"
#include "lamarck/error.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define DIGITS_PIXELS 64
#define DIGITS_CLASSES 10
#define DIGITS_PIXEL_MAX 16.0
#define DIGITS_ROWS_MAX 10000000
#define LINE_MAX_BYTES 4096

/* Parses one field [s, end) as a finite number; the whole field must be consumed
 * (surrounding spaces allowed). */
static int parse_number(const char *s, const char *end, double *v) {
    char buf[64];
    while (s < end && (*s == ' ' || *s == '\t')) s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t len = (size_t)(end - s);
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *stop;
    errno = 0;
    *v = strtod(buf, &stop);
    return *stop == 0 && errno == 0 && isfinite(*v);
}

/* Parses one line into 64 pixels (scaled to [0,1]) and a label. */
static int parse_line(const char *path, long lineno, char *line, float *px, int32_t *label) {
    int fields = 1;
    for (const char *p = line; *p; p++) fields += *p == ',';
    LM_CHECK(fields == DIGITS_PIXELS + 1, LM_EDATA,
             "%s:%ld: expected %d comma-separated values (64 pixels and the label), found %d",
             path, lineno, DIGITS_PIXELS + 1, fields);
    const char *s = line;
    for (int col = 0; col < fields; col++) {
        const char *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        double v;
        LM_CHECK(parse_number(s, end, &v), LM_EDATA, "%s:%ld: column %d: '%.*s' is not a number",
                 path, lineno, col + 1, (int)(end - s > 32 ? 32 : end - s), s);
        if (col < DIGITS_PIXELS) {
            LM_CHECK(v >= 0 && v <= DIGITS_PIXEL_MAX, LM_EDATA,
                     "%s:%ld: column %d: pixel value %g is outside 0..16", path, lineno, col + 1,
                     v);
            px[col] = (float)(v / DIGITS_PIXEL_MAX);
        } else {
            LM_CHECK(v == floor(v) && v >= 0 && v < DIGITS_CLASSES, LM_EDATA,
                     "%s:%ld: column %d: label %g is not a class 0..9", path, lineno, col + 1, v);
            *label = (int32_t)v;
        }
        s = *end ? end + 1 : end;
    }
    return LM_OK;
}

/* Grows X and y to hold at least need rows. */
static int grow(float **X, int32_t **y, size_t *cap, size_t need) {
    if (need <= *cap) return LM_OK;
    size_t ncap = *cap ? *cap * 2 : 256;
    float *nx = realloc(*X, ncap * DIGITS_PIXELS * sizeof **X);
    LM_CHECK_ALLOC(nx);
    *X = nx;
    int32_t *ny = realloc(*y, ncap * sizeof **y);
    LM_CHECK_ALLOC(ny);
    *y = ny;
    *cap = ncap;
    return LM_OK;
}

static int read_rows(gzFile gz, const char *path, float **X, int32_t **y, int64_t *n) {
    char line[LINE_MAX_BYTES + 2];
    size_t cap = 0;
    long lineno = 0;
    *n = 0;
    while (gzgets(gz, line, sizeof line)) {
        lineno++;
        size_t len = strlen(line);
        int complete = len > 0 && line[len - 1] == '\n';
        LM_CHECK(complete || gzeof(gz), LM_EDATA, "%s:%ld: line longer than %d bytes", path,
                 lineno, LINE_MAX_BYTES);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue; /* blank lines, such as a final empty one */
        LM_CHECK(*n < DIGITS_ROWS_MAX, LM_EDATA, "%s:%ld: more than %d rows", path, lineno,
                 DIGITS_ROWS_MAX);
        LM_CALL(grow(X, y, &cap, (size_t)*n + 1));
        LM_CALL(parse_line(path, lineno, line, *X + (size_t)*n * DIGITS_PIXELS, *y + *n));
        (*n)++;
    }
    int zerr;
    const char *msg = gzerror(gz, &zerr);
    LM_CHECK(zerr == Z_OK, LM_EDATA, "%s: corrupt data after line %ld: %s", path, lineno, msg);
    LM_CHECK(*n > 0, LM_EDATA, "%s: no samples", path);
    return LM_OK;
}

int lm_data_import_digits(const char *path, lm_dataset *out) {
    static const char *const names[DIGITS_CLASSES] = {"0", "1", "2", "3", "4",
                                                      "5", "6", "7", "8", "9"};
    memset(out, 0, sizeof *out);
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    LM_CHECK(gz, errno == ENOENT ? LM_ENOENT : LM_EIO, "%s: cannot open: %s", path,
             errno ? strerror(errno) : "out of memory");
    float *X = NULL;
    int32_t *y = NULL;
    int64_t n = 0;
    int rc = read_rows(gz, path, &X, &y, &n);
    gzclose(gz);
    if (rc < 0) {
        free(X);
        free(y);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    out->n = n;
    out->c = 1;
    out->h = 8;
    out->w = 8;
    out->n_classes = DIGITS_CLASSES;
    out->X = X;
    out->y = y;
    rc = lm_dataset_set_class_names(out, DIGITS_CLASSES, names);
    if (rc < 0) {
        lm_dataset_free(out);
        return lm_error_trace(__FILE__, __LINE__, __func__, rc);
    }
    return LM_OK;
}
