/* The stopper registry: early-stopping rules chosen by name ("none" for no rule). A
 * new rule is one file defining its lm_stopper_ops and one line in the registry. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "lamarck/strutil.h"
#include "search/searcher_impl.h"

#include <stdio.h>
#include <string.h>

static const lm_stopper_ops *const registry[] = {
    NULL, /* "none" */
    &lm__median_stopper_ops, &lm__mean_stopper_ops, &lm__last_stopper_ops, /* issue 5 */
};
#define N_REGISTRY ((int)(sizeof registry / sizeof *registry))

/* In registry order. */
static const char *const names[N_REGISTRY] = {"none", "median", "mean", "last" /* issue 5 */};

static const lm_option_spec no_options[] = {{0}};

const char *const *lm_stopper_names(int *n) {
    if (n) *n = N_REGISTRY;
    return names;
}

static int lookup(const char *name) {
    for (int i = 0; i < N_REGISTRY; i++)
        if (!strcmp(names[i], name)) return i;
    return -1;
}

const lm_option_spec *lm_stopper_options(const char *name) {
    int i = lookup(name);
    if (i < 0) return NULL;
    return registry[i] && registry[i]->options ? registry[i]->options : no_options;
}

int lm_stopper_create(const char *name, const lm_options *o, lm_stopper **out) {
    LM_CHECK(name && out, LM_EINVAL, "lm_stopper_create: NULL argument");
    *out = NULL;
    int i = lookup(name);
    if (i < 0) {
        const char *close = lm_str_closest(name, names, N_REGISTRY);
        LM_FAIL(LM_ECONFIG, "unknown stopping rule '%s'%s%s%s", name, close ? " (did you mean '" : "",
                close ? close : "", close ? "'?)" : "");
    }
    if (!registry[i]) return LM_OK;
    return registry[i]->create(o, out);
}

void lm_stopper_destroy(lm_stopper **s) {
    if (!s || !*s) return;
    (*s)->ops->destroy(*s);
    *s = NULL;
}
