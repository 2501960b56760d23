/* The stopper registry: early-stopping rules chosen by name ("none" for no rule). A
 * new rule is one file defining its lm_stopper_ops and one line in the registry; a
 * module above search (rank) adds its rule at start-up with lm_stopper_register. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "lamarck/strutil.h"
#include "search/searcher_impl.h"

#include <stdio.h>
#include <string.h>

#define N_BUILTIN 5 /* the rules listed below */
#define N_EXTRA_MAX 8

/* The built-in rules, then the registered ones (lm_stopper_register), in order. */
static const lm_stopper_ops *registry[N_BUILTIN + N_EXTRA_MAX] = {
    NULL, /* "none" */
    &lm__median_stopper_ops, &lm__mean_stopper_ops, &lm__last_stopper_ops, /* issue 5 */
    &lm__curve_stopper_ops, /* issue 10 */
};
static const char *names[N_BUILTIN + N_EXTRA_MAX + 1] = {
    "none", "median", "mean", "last" /* issue 5 */, "curve" /* issue 10 */};
static int n_registry = N_BUILTIN;
#define N_REGISTRY n_registry

static char model_path[4096];

int lm_stopper_set_model_path(const char *path) {
    if (!path) {
        model_path[0] = 0;
        return LM_OK;
    }
    LM_CHECK(strlen(path) < sizeof model_path, LM_EINVAL, "stopping.model: path longer than %zu bytes",
             sizeof model_path - 1);
    strcpy(model_path, path);
    return LM_OK;
}

const char *lm_stopper_model_path(void) { return model_path[0] ? model_path : NULL; }

int lm_stopper_register(const lm_stopper_ops *ops) {
    LM_CHECK(ops && ops->name && ops->create && ops->on_report && ops->destroy, LM_EINVAL,
             "lm_stopper_register: incomplete stopper operations");
    for (int i = 0; i < n_registry; i++)
        if (!strcmp(names[i], ops->name)) {
            LM_CHECK(i >= N_BUILTIN, LM_EINVAL,
                     "lm_stopper_register: '%s' is a built-in stopping rule", ops->name);
            registry[i] = ops;
            return LM_OK;
        }
    LM_CHECK(n_registry < N_BUILTIN + N_EXTRA_MAX, LM_ERANGE,
             "lm_stopper_register: at most %d registered stopping rules", N_EXTRA_MAX);
    registry[n_registry] = ops;
    names[n_registry++] = ops->name;
    return LM_OK;
}

static const lm_option_spec no_options[] = {{0}};

const char *const *lm_stopper_names(int *n) {
    if (n) *n = N_REGISTRY;
    return (const char *const *)names;
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
        const char *close = lm_str_closest(name, (const char *const *)names, N_REGISTRY);
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
