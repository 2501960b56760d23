/* The idx format of MNIST and Fashion-MNIST (LeCun et al.): a big-endian header
 * (magic 0x00000803 for u8 images N x H x W, 0x00000801 for u8 labels N) followed by
 * the bytes. Both files may be gzip-compressed; zlib reads plain files transparently.
 *
 * Memory grows with the bytes actually decompressed rather than with the counts in
 * the header, so a lying header cannot make us allocate gigabytes before the
 * truncation is noticed. */
#include "lamarck/data.h"
#include "lamarck/error.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_N_MAX 100000000u
#define IDX_DIM_MAX 4096u
#define CHUNK_BYTES (1u << 20)

typedef struct reader {
    gzFile gz;
    const char *path;
    uint64_t offset; /* decompressed bytes consumed so far */
} reader;

static int reader_open(reader *r, const char *path) {
    r->path = path;
    r->offset = 0;
    errno = 0;
    r->gz = gzopen(path, "rb");
    LM_CHECK(r->gz, errno == ENOENT ? LM_ENOENT : LM_EIO, "%s: cannot open: %s", path,
             errno ? strerror(errno) : "out of memory");
    gzbuffer(r->gz, 1u << 17);
    return LM_OK;
}

static void reader_close(reader *r) {
    if (r->gz) gzclose(r->gz);
    r->gz = NULL;
}

/* Reads exactly n bytes; a short read is truncation (or a corrupt gzip stream,
 * which zlib reports through gzerror). */
static int reader_read(reader *r, void *buf, size_t n) {
    unsigned char *p = buf;
    while (n > 0) {
        unsigned want = n > CHUNK_BYTES ? CHUNK_BYTES : (unsigned)n;
        int got = gzread(r->gz, p, want);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(r->gz, &zerr);
            LM_FAIL(LM_EDATA, "%s: corrupt data at byte %llu: %s", r->path,
                    (unsigned long long)r->offset, msg);
        }
        r->offset += (unsigned)got;
        if ((unsigned)got < want) {
            int zerr;
            const char *msg = gzerror(r->gz, &zerr);
            LM_CHECK(zerr == Z_OK || zerr == Z_BUF_ERROR, LM_EDATA,
                     "%s: corrupt data at byte %llu: %s", r->path,
                     (unsigned long long)r->offset, msg);
            LM_FAIL(LM_EDATA, "%s: truncated at byte %llu", r->path,
                    (unsigned long long)r->offset);
        }
        p += got;
        n -= (size_t)got;
    }
    return LM_OK;
}

/* Fails when anything follows the expected content: a file with a wrong header
 * would otherwise be read as a prefix of itself. */
static int reader_expect_end(reader *r) {
    unsigned char c;
    int got = gzread(r->gz, &c, 1);
    LM_CHECK(got == 0, LM_EDATA,
             "%s: unexpected data after byte %llu, where the header says the file ends", r->path,
             (unsigned long long)r->offset);
    return LM_OK;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads the magic and dims of an idx header, checking them against expectations. */
static int read_header(reader *r, uint32_t magic, int rank, uint32_t *dims) {
    unsigned char h[16];
    LM_CALL(reader_read(r, h, 4 + 4 * (size_t)rank));
    uint32_t m = be32(h);
    LM_CHECK(m == magic, LM_EDATA,
             "%s: not an idx %s file (magic number 0x%08x, expected 0x%08x)", r->path,
             magic == IDX_IMAGES_MAGIC ? "images" : "labels", m, magic);
    for (int i = 0; i < rank; i++) dims[i] = be32(h + 4 + 4 * i);
    LM_CHECK(dims[0] >= 1 && dims[0] <= IDX_N_MAX, LM_EDATA,
             "%s: header claims %u items (expected 1..%u)", r->path, dims[0], IDX_N_MAX);
    for (int i = 1; i < rank; i++)
        LM_CHECK(dims[i] >= 1 && dims[i] <= IDX_DIM_MAX, LM_EDATA,
                 "%s: header claims an image dimension of %u (expected 1..%u)", r->path,
                 dims[i], IDX_DIM_MAX);
    return LM_OK;
}

/* Reads n labels into a buffer that grows as they arrive; n_classes = max + 1. */
static int read_labels(reader *r, uint32_t n, int32_t **out, int *n_classes) {
    unsigned char buf[4096];
    size_t cap = 0;
    int32_t *y = NULL;
    int max = 0, rc = LM_OK;
    for (uint32_t i = 0; i < n;) {
        uint32_t k = n - i < sizeof buf ? n - i : (uint32_t)sizeof buf;
        LM_CALL_GOTO(rc, reader_read(r, buf, k), fail);
        if (i + k > cap) {
            size_t ncap = cap ? 2 * cap : 65536;
            if (ncap > n) ncap = n;
            int32_t *ny = realloc(y, ncap * sizeof *y);
            if (!ny) {
                rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
                goto fail;
            }
            y = ny;
            cap = ncap;
        }
        for (uint32_t j = 0; j < k; j++) {
            y[i + j] = buf[j];
            if (buf[j] > max) max = buf[j];
        }
        i += k;
    }
    *n_classes = max + 1;
    *out = y;
    return LM_OK;
fail:
    free(y);
    return rc;
}

/* Reads n images of f pixels into a float buffer that grows as rows arrive, a block
 * of rows per read. */
static int read_images(reader *r, uint32_t n, size_t f, float **out) {
    size_t block = CHUNK_BYTES / f ? CHUNK_BYTES / f : 1;
    size_t cap = 0, have = 0;
    float *X = NULL, scale[256];
    unsigned char *buf = malloc(block * f);
    int rc = LM_OK;
    if (!buf) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM, "out of memory");
        goto fail;
    }
    for (int v = 0; v < 256; v++) scale[v] = (float)v / 255.f;
    while (have < n) {
        size_t k = n - have < block ? n - have : block;
        LM_CALL_GOTO(rc, reader_read(r, buf, k * f), fail);
        if (have + k > cap) {
            size_t ncap = cap ? 2 * cap : 4 * block;
            if (ncap < have + k) ncap = have + k;
            if (ncap > n) ncap = n;
            float *nx = realloc(X, ncap * f * sizeof *X);
            if (!nx) {
                rc = lm_error_set(__FILE__, __LINE__, __func__, LM_ENOMEM,
                                  "out of memory for %zu images of %zu pixels", ncap, f);
                goto fail;
            }
            X = nx;
            cap = ncap;
        }
        float *dst = X + have * f;
        for (size_t j = 0; j < k * f; j++) dst[j] = scale[buf[j]];
        have += k;
    }
    free(buf);
    *out = X;
    return LM_OK;
fail:
    free(X);
    free(buf);
    return rc;
}

int lm_data_import_idx(const char *images_path, const char *labels_path, lm_dataset *out) {
    memset(out, 0, sizeof *out);
    reader ri = {0}, rl = {0};
    uint32_t di[3] = {0}, dl[1] = {0};
    int32_t *y = NULL;
    float *X = NULL;
    int n_classes = 0, rc;
    LM_CALL_GOTO(rc, reader_open(&ri, images_path), done);
    LM_CALL_GOTO(rc, reader_open(&rl, labels_path), done);
    LM_CALL_GOTO(rc, read_header(&ri, IDX_IMAGES_MAGIC, 3, di), done);
    LM_CALL_GOTO(rc, read_header(&rl, IDX_LABELS_MAGIC, 1, dl), done);
    if (di[0] != dl[0]) {
        rc = lm_error_set(__FILE__, __LINE__, __func__, LM_EDATA,
                          "%s has %u images but %s has %u labels", images_path, di[0],
                          labels_path, dl[0]);
        goto done;
    }
    /* Labels first: they are small, and reading them proves the count is real. */
    LM_CALL_GOTO(rc, read_labels(&rl, dl[0], &y, &n_classes), done);
    LM_CALL_GOTO(rc, reader_expect_end(&rl), done);
    LM_CALL_GOTO(rc, read_images(&ri, di[0], (size_t)di[1] * di[2], &X), done);
    LM_CALL_GOTO(rc, reader_expect_end(&ri), done);
    out->n = di[0];
    out->c = 1;
    out->h = (int)di[1];
    out->w = (int)di[2];
    out->n_classes = n_classes;
    out->X = X;
    out->y = y;
    X = NULL;
    y = NULL;
done:
    reader_close(&ri);
    reader_close(&rl);
    free(X);
    free(y);
    return rc;
}
