/* Internals of the config module: a small YAML tree built from libyaml events (with
 * the defensive limits), and the error and scalar helpers the schema code shares. */
#ifndef LAMARCK_CONFIG_INTERNAL_H
#define LAMARCK_CONFIG_INTERNAL_H

#include "lamarck/config.h"
#include "lamarck/search.h"

#include <stddef.h>

/* Limits on what a config may contain; LM_CONFIG_MAX_BYTES bounds the file. */
#define LM__YAML_MAX_DEPTH 16    /* nested mappings/lists */
#define LM__YAML_MAX_NODES 20000 /* scalars, mappings and lists in one file */
#define LM__YAML_MAX_SCALAR 4096 /* bytes of one scalar */

typedef enum { LM__YN_SCALAR, LM__YN_MAP, LM__YN_SEQ } lm__ynode_kind;

typedef struct lm__ynode {
    lm__ynode_kind kind;
    int line, col;            /* 1-based position of the node's first character */
    char *str;                /* scalar: its text, NUL-terminated */
    size_t len;               /* scalar: bytes of str */
    int plain;                /* scalar: written without quotes or block style */
    int n, cap;               /* children */
    struct lm__ynode **kid;   /* map: key, value, key, value, ...; seq: items */
} lm__ynode;

/* Parses text into a tree. *root is NULL for a stream without a document (an
 * empty file, or only comments). Refuses anchors, aliases, tags, more than one
 * document and anything over the limits above, with LM_ECONFIG and a message
 * "path:line:col: ...". */
int lm__yaml_load(const char *text, size_t len, const char *path, lm__ynode **root);
void lm__yaml_free(lm__ynode *n);

/* Records "path:line:col: keypath: message" (keypath may be NULL) and returns
 * LM_ECONFIG. */
int lm__config_error(const char *func, int src_line, const char *path, int line, int col,
                     const char *keypath, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

#define LM__CFAIL(path, nd, kp, ...) \
    return lm__config_error(__func__, __LINE__, (path), (nd)->line, (nd)->col, (kp), __VA_ARGS__)

/* Re-records the message of a failure that just happened (from lm_train_params_set
 * or the space module) with the position and key path in front; LM_ECONFIG. */
int lm__config_wrap(const char *func, int src_line, const char *path, const lm__ynode *nd,
                    const char *keypath);

#define LM__CWRAP(path, nd, kp) return lm__config_wrap(__func__, __LINE__, (path), (nd), (kp))

/* Scalar readers. Each fails with LM_ECONFIG naming the position, keypath, what was
 * expected and what was found. Numbers are plain scalars in decimal notation
 * ("3", "-0.5", "1e-3"); booleans are true/false/yes/no (any case). */
int lm__yn_is_null(const lm__ynode *n);
int lm__yn_number_syntax(const char *s, double *v); /* 1 when s is a finite number */
int lm__yn_bool_word(const lm__ynode *n, int *v);   /* 1 when n is a boolean scalar */
void lm__yn_describe(const lm__ynode *n, char *buf, size_t cap);
int lm__yn_number(const char *path, const lm__ynode *n, const char *kp, double *v);
int lm__yn_integer(const char *path, const lm__ynode *n, const char *kp, double lo, double hi,
                   long long *v);
int lm__yn_bool(const char *path, const lm__ynode *n, const char *kp, int *v);
int lm__yn_string(const char *path, const lm__ynode *n, const char *kp, const char **s);
/* A mapping, or NULL for a null value (an empty section); else an error. */
int lm__yn_map(const char *path, const lm__ynode *n, const char *kp, const lm__ynode **map);

/* The index of key n among keys, or an error "unknown key" suggesting the closest;
 * seen[] (one pointer per key, NULL initially) catches duplicates. Messages name
 * the key path "section.key" (just "key" when section is NULL) and call an unknown
 * key a `what` ("key", "section", "field"). */
int lm__yn_key(const char *path, const lm__ynode *n, const char *section, const char *what,
               const char *const *keys, int nkeys, const lm__ynode **seen);

/* The value of key name in mapping m (no checks), or NULL. */
const lm__ynode *lm__config_lookup(const lm__ynode *m, const char *name);
/* Fails at v unless name is one of names ("unknown WHAT ... did you mean"). */
int lm__config_choice(const char *path, const lm__ynode *v, const char *kp, const char *what,
                      const char *name, const char *const *names, int n);
/* Parses a section made of fixed keys (handled by on_fixed with the key's index) and the
 * options of specs (validated into o). */
int lm__config_options(const char *path, const lm__ynode *m, const char *section,
                       const char *const *fixed, int n_fixed, const lm_option_spec *specs,
                       lm_options *o, int (*on_fixed)(void *ctx, int key, const lm__ynode *v),
                       void *ctx);

/* lm_train_params_set with a label that reads as a number passed as that number. */
int lm__config_set_param(lm_train_params *p, const char *name, double num, const char *label);

/* model.space, model.architecture, model.constraints and model.mutation of the model:
 * mapping into c->arch, appending the genes to c->space (config_arch.c). */
int lm__config_arch(const char *path, const lm__ynode *model, lm_config *c);

/* Reads a config file whole (at most LM_CONFIG_MAX_BYTES) into *text (malloc'ed, not
 * NUL-terminated; *len bytes): LM_ENOENT naming the path when it cannot be read,
 * LM_ECONFIG when it is too large. */
int lm__config_read(const char *path, char **text, size_t *len);

/* The space: section into c->space. allow_arch_index: a replay's space may also hold
 * arch_index, an int naming a recorded architecture of the meta-dataset. */
int lm__config_space(const char *path, const lm__ynode *map, lm_space *sp, int allow_arch_index);

#endif
