/* Shared by the text importers (csv.c, arff.c): a line reader over plain or
 * gzip-compressed files that counts lines and bounds their length, a splitter of
 * comma-separated fields with quoting, number parsing, and a string-to-index table
 * for category and class names. */
#ifndef LAMARCK_DATA_TEXT_H
#define LAMARCK_DATA_TEXT_H

#include "lamarck/data.h"

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#define LM__TEXT_LINE_MAX (1 << 20) /* bytes of one line */
#define LM__TEXT_VALUES_MAX 100000000LL /* rows x columns of one file */

typedef struct lm__text {
    gzFile gz;
    const char *path;    /* borrowed; for messages */
    long line;           /* 1-based number of the line last returned */
    char *buf;           /* the current line, NUL-terminated */
    size_t len;
    unsigned char *chunk; /* decompressed bytes not yet consumed */
    size_t chunk_len, chunk_pos;
    int eof;
} lm__text;

/* Opens path (plain or gzip): LM_ENOENT for a missing file, LM_EIO otherwise. */
int lm__text_open(lm__text *t, const char *path);
void lm__text_close(lm__text *t);
/* Starts again at the first line. */
int lm__text_rewind(lm__text *t);
/* Reads the next line into t->buf without its end (\n or \r\n), skipping a UTF-8
 * byte-order mark at the start of the file. Returns 1, or 0 at the end of the file.
 * LM_EDATA for a line over LM__TEXT_LINE_MAX bytes, a NUL byte, or a corrupt or
 * truncated compressed stream, each naming path:line. */
int lm__text_next(lm__text *t);

typedef struct lm__field {
    char *s;     /* NUL-terminated, unquoted and unescaped, inside the line */
    size_t len;
    int quoted;  /* it was in quotes: never missing, ? and NA are values */
} lm__field;

typedef enum {
    LM__SPLIT_CSV,  /* "..." with "" for a quote */
    LM__SPLIT_ARFF, /* '...' or "..." with backslash escapes; an unquoted % ends the line */
} lm__split_mode;

/* Splits t->buf in place into at most max fields at commas outside quotes; spaces
 * and tabs around fields are dropped. An empty line (or, in ARFF, a comment) gives
 * zero fields. LM_EDATA, naming path:line and the field, for an unclosed quote, text
 * after a closing quote, or more than max fields. */
int lm__text_split(lm__text *t, lm__split_mode mode, lm__field *fields, int max, int *n);

/* Parses a whole string as a finite number (surrounding spaces allowed). */
int lm__parse_number(const char *s, double *v);

/* A field's text for messages: at most 40 bytes, with "..." when cut. */
const char *lm__excerpt(const char *s, char *buf, size_t cap);

/* Strings to dense indices 0, 1, ... in order of insertion, at most max of them. */
typedef struct lm__strtab {
    char **names;     /* n, owned */
    int32_t *slots;   /* cap entries: index + 1, or 0 for empty */
    int n, cap, max;
} lm__strtab;

void lm__strtab_init(lm__strtab *t, int max);
void lm__strtab_fini(lm__strtab *t);
/* The index of s, or -1. */
int lm__strtab_find(const lm__strtab *t, const char *s);
/* The index of s, added when new: LM_ERANGE when max would be exceeded. */
int lm__strtab_add(lm__strtab *t, const char *s, int *index);
/* The order that sorts the names (by bytes, or numerically when numeric): rank[i] is
 * the sorted position of name i. rank has n entries. */
int lm__strtab_rank(const lm__strtab *t, int numeric, int32_t *rank);

/* Rows of f features and a label, growing as they arrive, so that a header's claim
 * never decides an allocation. */
typedef struct lm__rows {
    float *X;
    int32_t *y;
    int64_t n, cap, f;
} lm__rows;

/* Appends a row; *x and *label point at its storage (x uninitialized). LM_EDATA
 * (naming t's path:line) beyond LM__TEXT_VALUES_MAX values. */
int lm__rows_push(lm__rows *r, const lm__text *t, float **x, int32_t **label);
/* Moves the rows into d (allocated as n x f x 1 x 1 with n_classes), leaving r empty. */
int lm__rows_to_dataset(lm__rows *r, int n_classes, lm_dataset *d);
void lm__rows_free(lm__rows *r);

/* "iris" for "dir/iris.csv.gz": the base name up to its first dot. */
void lm__base_name(const char *path, char *out, size_t cap);

#endif
