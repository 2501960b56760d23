/* The state writer/reader interface: how searchers, stoppers and the controller save
 * everything they need to resume, without knowing the file format. io/ implements it
 * in HDF5; util/ has an in-memory implementation for tests and for messages.
 *
 * Names are paths ("searcher/rng", "trials/hp"). Arrays are typed and flat; a reader
 * checks the type and the length and fails with LM_ECKPT on a mismatch, so a corrupt
 * or foreign checkpoint is an error message, never a crash. */
#ifndef LAMARCK_STATE_H
#define LAMARCK_STATE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { LM_DT_F64, LM_DT_F32, LM_DT_I64, LM_DT_I32, LM_DT_U64, LM_DT_U8, LM_DT_STR } lm_dtype;

size_t lm_dtype_size(lm_dtype t);
const char *lm_dtype_name(lm_dtype t);

typedef struct lm_state_writer {
    void *ctx;
    /* Stores n elements of type t under name (LM_DT_STR: n bytes, no terminator). */
    int (*put)(void *ctx, const char *name, lm_dtype t, size_t n, const void *data);
} lm_state_writer;

typedef struct lm_state_reader {
    void *ctx;
    /* Sets *t and *n for name; LM_ECKPT when absent. */
    int (*info)(void *ctx, const char *name, lm_dtype *t, size_t *n);
    /* Copies exactly n elements of type t into out; LM_ECKPT on type or size mismatch. */
    int (*get)(void *ctx, const char *name, lm_dtype t, size_t n, void *out);
} lm_state_reader;

/* Conveniences over put/get. */
int lm_state_put_f64(lm_state_writer *w, const char *name, double v);
int lm_state_put_i64(lm_state_writer *w, const char *name, int64_t v);
int lm_state_put_str(lm_state_writer *w, const char *name, const char *s);
int lm_state_put(lm_state_writer *w, const char *name, lm_dtype t, size_t n, const void *data);
int lm_state_get_f64(lm_state_reader *r, const char *name, double *v);
int lm_state_get_i64(lm_state_reader *r, const char *name, int64_t *v);
/* Copies a string of at most cap-1 bytes and terminates it; LM_ECKPT if longer. */
int lm_state_get_str(lm_state_reader *r, const char *name, char *out, size_t cap);
int lm_state_get(lm_state_reader *r, const char *name, lm_dtype t, size_t n, void *out);
/* Length of an array, LM_ECKPT if absent or of another type. */
int lm_state_len(lm_state_reader *r, const char *name, lm_dtype t, size_t *n);

/* An in-memory store implementing both sides. */
typedef struct lm_state_mem lm_state_mem;
int lm_state_mem_create(lm_state_mem **out);
void lm_state_mem_destroy(lm_state_mem **m);
lm_state_writer lm_state_mem_writer(lm_state_mem *m);
lm_state_reader lm_state_mem_reader(lm_state_mem *m);
/* Number of entries and the i-th name (for dumping a whole state to a file). */
size_t lm_state_mem_count(const lm_state_mem *m);
int lm_state_mem_entry(const lm_state_mem *m, size_t i, const char **name, lm_dtype *t,
                       size_t *n, const void **data);

#endif
