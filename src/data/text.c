/* Line reading, field splitting and name tables for the text importers. */
#include "data/text.h"
#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_BYTES (1u << 16)

/* ---- lines ---- */

int lm__text_open(lm__text *t, const char *path) {
    memset(t, 0, sizeof *t);
    t->path = path;
    errno = 0;
    t->gz = gzopen(path, "rb");
    LM_CHECK(t->gz, errno == ENOENT ? LM_ENOENT : LM_EIO, "%s: cannot open: %s", path,
             errno ? strerror(errno) : "out of memory");
    t->buf = malloc(LM__TEXT_LINE_MAX + 1);
    t->chunk = malloc(CHUNK_BYTES);
    if (!t->buf || !t->chunk) {
        lm__text_close(t);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    t->buf[0] = 0;
    return LM_OK;
}

void lm__text_close(lm__text *t) {
    if (t->gz) gzclose(t->gz);
    free(t->buf);
    free(t->chunk);
    t->gz = NULL;
    t->buf = NULL;
    t->chunk = NULL;
}

int lm__text_rewind(lm__text *t) {
    LM_CHECK(gzrewind(t->gz) == 0, LM_EIO, "%s: cannot read it again from the start", t->path);
    t->line = 0;
    t->len = 0;
    t->chunk_len = t->chunk_pos = 0;
    t->eof = 0;
    return LM_OK;
}

/* Refills the chunk; sets eof at the end of the data. A compressed stream that stops
 * early or is corrupt is an error, not an end. */
static int refill(lm__text *t) {
    int got = gzread(t->gz, t->chunk, CHUNK_BYTES);
    int zerr = Z_OK;
    const char *msg = got <= 0 ? gzerror(t->gz, &zerr) : NULL;
    LM_CHECK(got >= 0 && zerr == Z_OK, LM_EDATA,
             "%s:%ld: corrupt or truncated compressed data (%s)", t->path, t->line + 1,
             msg ? msg : "read error");
    t->chunk_len = (size_t)got;
    t->chunk_pos = 0;
    if (got == 0) t->eof = 1;
    return LM_OK;
}

int lm__text_next(lm__text *t) {
    size_t len = 0;
    int newline = 0, any = 0;
    while (!newline) {
        if (t->chunk_pos == t->chunk_len) {
            if (t->eof) break;
            LM_CALL(refill(t));
            continue;
        }
        const unsigned char *p = t->chunk + t->chunk_pos;
        size_t avail = t->chunk_len - t->chunk_pos;
        const unsigned char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        LM_CHECK(len + take <= LM__TEXT_LINE_MAX, LM_EDATA, "%s:%ld: line longer than %d bytes",
                 t->path, t->line + 1, LM__TEXT_LINE_MAX);
        memcpy(t->buf + len, p, take);
        len += take;
        t->chunk_pos += take + (nl != NULL);
        newline = nl != NULL;
        any = 1;
    }
    if (!any) return 0;
    t->line++;
    if (len > 0 && t->buf[len - 1] == '\r') len--;
    LM_CHECK(memchr(t->buf, 0, len) == NULL, LM_EDATA,
             "%s:%ld: NUL byte in the line (a binary file?)", t->path, t->line);
    t->buf[len] = 0;
    if (t->line == 1 && len >= 3 && !memcmp(t->buf, "\xEF\xBB\xBF", 3)) {
        memmove(t->buf, t->buf + 3, len - 2);
        len -= 3;
    }
    t->len = len;
    return 1;
}

/* ---- fields ---- */

static int is_blank(char c) { return c == ' ' || c == '\t'; }

static char unescape(char c) {
    switch (c) {
    case 'n': return '\n';
    case 't': return '\t';
    case 'r': return '\r';
    default: return c;
    }
}

/* Reads a quoted field starting at *pp (on the opening quote), unescaping it in
 * place from the quote's position; leaves *pp after the closing quote. */
static int read_quoted(lm__text *t, lm__split_mode mode, int field, char **pp, char **end) {
    char *p = *pp, *out = p;
    char q = *p++;
    for (;;) {
        LM_CHECK(*p, LM_EDATA, "%s:%ld: field %d: quote %c is not closed on this line%s",
                 t->path, t->line, field, q,
                 mode == LM__SPLIT_CSV ? " (fields spanning lines are not supported)" : "");
        if (*p == q) {
            if (mode == LM__SPLIT_CSV && p[1] == q) {
                *out++ = q;
                p += 2;
                continue;
            }
            p++;
            break;
        }
        if (mode == LM__SPLIT_ARFF && *p == '\\' && p[1]) {
            *out++ = unescape(p[1]);
            p += 2;
            continue;
        }
        *out++ = *p++;
    }
    *pp = p;
    *end = out;
    return LM_OK;
}

int lm__text_split(lm__text *t, lm__split_mode mode, lm__field *fields, int max, int *n) {
    char *p = t->buf;
    const int arff = mode == LM__SPLIT_ARFF;
    *n = 0;
    while (is_blank(*p)) p++;
    if (!*p || (arff && *p == '%')) return LM_OK;
    for (int more = 1; more;) {
        while (is_blank(*p)) p++;
        LM_CHECK(*n < max, LM_EDATA, "%s:%ld: more than %d fields", t->path, t->line, max);
        char *start = p, *end = p;
        int quoted = *p == '"' || (arff && *p == '\'');
        if (quoted) {
            LM_CALL(read_quoted(t, mode, *n + 1, &p, &end));
            while (is_blank(*p)) p++;
            LM_CHECK(*p == 0 || *p == ',' || (arff && *p == '%'), LM_EDATA,
                     "%s:%ld: field %d: unexpected text after the closing quote", t->path,
                     t->line, *n + 1);
        } else {
            while (*p && *p != ',' && !(arff && *p == '%')) p++;
            end = p;
            while (end > start && is_blank(end[-1])) end--;
        }
        more = *p == ',';
        if (more) p++;
        /* end never lies past the separator just consumed, so terminating the field
         * there does not disturb what is still to be scanned. */
        *end = 0;
        fields[*n] = (lm__field){.s = start, .len = (size_t)(end - start), .quoted = quoted};
        (*n)++;
    }
    return LM_OK;
}

int lm__parse_number(const char *s, double *v) {
    while (is_blank(*s)) s++;
    if (!*s) return 0;
    char *stop;
    *v = strtod(s, &stop);
    while (is_blank(*stop)) stop++;
    return *stop == 0 && isfinite(*v);
}

const char *lm__excerpt(const char *s, char *buf, size_t cap) {
    size_t n = strlen(s);
    if (n <= 40 || cap < 45) return s;
    memcpy(buf, s, 40);
    memcpy(buf + 40, "...", 4);
    return buf;
}

/* ---- name tables ---- */

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void lm__strtab_init(lm__strtab *t, int max) {
    memset(t, 0, sizeof *t);
    t->max = max;
}

void lm__strtab_fini(lm__strtab *t) {
    if (t->names)
        for (int i = 0; i < t->n; i++) free(t->names[i]);
    free(t->names);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* The slot holding s, or the empty slot where it would go. */
static size_t probe(const lm__strtab *t, const char *s) {
    size_t mask = (size_t)t->cap - 1, i = (size_t)hash(s) & mask;
    while (t->slots[i] && strcmp(t->names[t->slots[i] - 1], s) != 0) i = (i + 1) & mask;
    return i;
}

int lm__strtab_find(const lm__strtab *t, const char *s) {
    if (!t->cap) return -1;
    size_t i = probe(t, s);
    return t->slots[i] ? t->slots[i] - 1 : -1;
}

/* Doubles the slots (a power of two, at most half full) and the names array. */
static int grow(lm__strtab *t) {
    int cap = t->cap ? 2 * t->cap : 16;
    int32_t *slots = calloc((size_t)cap, sizeof *slots);
    char **names = realloc(t->names, (size_t)cap / 2 * sizeof *names);
    if (names) t->names = names;
    if (!slots || !names) {
        free(slots);
        LM_FAIL(LM_ENOMEM, "out of memory");
    }
    int32_t *old = t->slots;
    int old_cap = t->cap;
    t->slots = slots;
    t->cap = cap;
    for (int i = 0; i < old_cap; i++)
        if (old[i]) t->slots[probe(t, t->names[old[i] - 1])] = old[i];
    free(old);
    return LM_OK;
}

int lm__strtab_add(lm__strtab *t, const char *s, int *index) {
    int k = lm__strtab_find(t, s);
    if (k >= 0) {
        *index = k;
        return LM_OK;
    }
    if (t->n >= t->max) return LM_ERANGE; /* the caller words the message */
    if (2 * (t->n + 1) > t->cap) LM_CALL(grow(t));
    char *copy = lm_strdup(s);
    LM_CHECK_ALLOC(copy);
    t->names[t->n] = copy;
    t->slots[probe(t, s)] = t->n + 1;
    *index = t->n++;
    return LM_OK;
}

typedef struct sort_item {
    const char *s;
    double v;
    int32_t i;
} sort_item;

static int by_bytes(const void *a, const void *b) {
    return strcmp(((const sort_item *)a)->s, ((const sort_item *)b)->s);
}

static int by_number(const void *a, const void *b) {
    const sort_item *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return strcmp(x->s, y->s); /* "1" and "1.0": any fixed order */
}

int lm__strtab_rank(const lm__strtab *t, int numeric, int32_t *rank) {
    sort_item *v = malloc((size_t)(t->n ? t->n : 1) * sizeof *v);
    LM_CHECK_ALLOC(v);
    for (int i = 0; i < t->n; i++) {
        v[i] = (sort_item){.s = t->names[i], .v = 0, .i = i};
        if (numeric && !lm__parse_number(t->names[i], &v[i].v)) v[i].v = HUGE_VAL;
    }
    qsort(v, (size_t)t->n, sizeof *v, numeric ? by_number : by_bytes);
    for (int k = 0; k < t->n; k++) rank[v[k].i] = k;
    free(v);
    return LM_OK;
}

/* ---- rows ---- */

int lm__rows_push(lm__rows *r, const lm__text *t, float **x, int32_t **label) {
    if (r->n == r->cap) {
        int64_t cap = r->cap ? 2 * r->cap : 1024;
        LM_CHECK(r->n * r->f < LM__TEXT_VALUES_MAX, LM_EDATA, "%s:%ld: more than %lld values",
                 t->path, t->line, LM__TEXT_VALUES_MAX);
        if (cap * r->f > LM__TEXT_VALUES_MAX) cap = LM__TEXT_VALUES_MAX / r->f + 1;
        float *X = realloc(r->X, (size_t)cap * (size_t)r->f * sizeof *X);
        if (X) r->X = X;
        int32_t *y = X ? realloc(r->y, (size_t)cap * sizeof *y) : NULL;
        if (y) r->y = y;
        LM_CHECK(X && y, LM_ENOMEM, "%s:%ld: out of memory for %lld rows", t->path, t->line,
                 (long long)cap);
        r->cap = cap;
    }
    *x = r->X + (size_t)r->n * (size_t)r->f;
    *label = r->y + r->n;
    r->n++;
    return LM_OK;
}

int lm__rows_to_dataset(lm__rows *r, int n_classes, lm_dataset *d) {
    /* Validate the shape through the allocator, then swap in the rows' buffers. */
    LM_CALL(lm_dataset_alloc(d, 0, (int)r->f, 1, 1, n_classes));
    free(d->X);
    free(d->y);
    d->X = r->X;
    d->y = r->y;
    d->n = r->n;
    r->X = NULL;
    r->y = NULL;
    r->n = r->cap = 0;
    return LM_OK;
}

void lm__rows_free(lm__rows *r) {
    free(r->X);
    free(r->y);
    r->X = NULL;
    r->y = NULL;
    r->n = r->cap = 0;
}

void lm__base_name(const char *path, char *out, size_t cap) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strcspn(b, ".");
    if (n == 0) n = strlen(b);
    if (n >= cap) n = cap - 1;
    memcpy(out, b, n);
    out[n] = 0;
}
