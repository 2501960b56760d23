/* Sections whose keys belong to a pluggable algorithm (search:, stopping:): a few fixed
 * keys, and the options the chosen implementation declares in its lm_option_spec table.
 * Adding an algorithm therefore needs no change here. */
#include "config_internal.h"

#include "lamarck/error.h"
#include "lamarck/strutil.h"

#include <stdio.h>
#include <string.h>

#define KEYS_MAX (LM_OPTIONS_MAX + 8)

/* The value of the fixed key `name` in mapping m, or NULL. */
const lm__ynode *lm__config_lookup(const lm__ynode *m, const char *name) {
    for (int i = 0; m && i + 1 < m->n; i += 2)
        if (m->kid[i]->kind == LM__YN_SCALAR && !strcmp(m->kid[i]->str, name)) return m->kid[i + 1];
    return NULL;
}

/* Checks that name is one of names (a kind of algorithm), or fails at node v. */
int lm__config_choice(const char *path, const lm__ynode *v, const char *kp, const char *what,
                      const char *name, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(name, names[i])) return LM_OK;
    char list[512] = "";
    size_t used = 0;
    for (int i = 0; i < n && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
    const char *near = lm_str_closest(name, names, n);
    char hint[128] = "";
    if (near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    LM__CFAIL(path, v, kp, "unknown %s '%.80s'%s; expected one of %s", what, name, hint, list);
}

static int option_value(const char *path, const lm__ynode *v, const char *kp,
                        const lm_option_spec *s, lm_options *o) {
    int rc = LM_OK;
    switch (s->kind) {
    case LM_OPT_INT: {
        long long n;
        LM_CALL(lm__yn_integer(path, v, kp, -1e18, 1e18, &n));
        rc = lm_options_set(o, s, s->name, (double)n, NULL);
        break;
    }
    case LM_OPT_REAL: {
        double x;
        LM_CALL(lm__yn_number(path, v, kp, &x));
        rc = lm_options_set(o, s, s->name, x, NULL);
        break;
    }
    case LM_OPT_BOOL: {
        int b;
        LM_CALL(lm__yn_bool(path, v, kp, &b));
        rc = lm_options_set(o, s, s->name, 0, b ? "true" : "false");
        break;
    }
    case LM_OPT_ENUM: {
        const char *str;
        LM_CALL(lm__yn_string(path, v, kp, &str));
        rc = lm_options_set(o, s, s->name, 0, str);
        break;
    }
    }
    if (rc < 0) LM__CWRAP(path, v, kp);
    return LM_OK;
}

int lm__config_options(const char *path, const lm__ynode *m, const char *section,
                       const char *const *fixed, int n_fixed, const lm_option_spec *specs,
                       lm_options *o, int (*on_fixed)(void *ctx, int key, const lm__ynode *v),
                       void *ctx) {
    const char *keys[KEYS_MAX];
    const lm_option_spec *spec_of[KEYS_MAX];
    int n = 0;
    for (int i = 0; i < n_fixed && n < KEYS_MAX; i++, n++) {
        keys[n] = fixed[i];
        spec_of[n] = NULL;
    }
    for (const lm_option_spec *s = specs; s && s->name && n < KEYS_MAX; s++, n++) {
        keys[n] = s->name;
        spec_of[n] = s;
    }
    const lm__ynode *seen[KEYS_MAX] = {0};
    memset(o, 0, sizeof *o);
    for (int i = 0; m && i + 1 < m->n; i += 2) {
        const lm__ynode *k = m->kid[i], *v = m->kid[i + 1];
        int key = lm__yn_key(path, k, section, "key", keys, n, seen);
        LM_CALL(key);
        if (key < n_fixed) {
            LM_CALL(on_fixed(ctx, key, v));
            continue;
        }
        char kp[192];
        snprintf(kp, sizeof kp, "%s.%s", section, keys[key]);
        LM_CALL(option_value(path, v, kp, spec_of[key], o));
    }
    return LM_OK;
}
