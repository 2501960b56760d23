/* The searcher registry: implementations are chosen by name and fill a table of
 * function pointers (PETSc's KSPSetType pattern). A new algorithm is one file that
 * defines its lm_searcher_ops and one line in the registry below.
 *
 * Also the pieces every searcher's save/load shares: a header naming the kind of
 * searcher and the size of its space, so that loading one searcher's state into
 * another, or into a different space, is an error message rather than nonsense. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "lamarck/strutil.h"
#include "search/searcher_impl.h"

#include <stdio.h>
#include <string.h>

static const lm_searcher_ops *const registry[] = {
    &lm__random_ops,
    &lm__grid_ops,
    &lm__hyperband_ops, &lm__sha_ops, &lm__asha_ops, /* issue 5 */
    &lm__evolution_ops, &lm__nsga2_ops, /* issue 7 */
    &lm__bo_ops, &lm__bohb_ops, /* issue 9 */
    &lm__pbt_ops, /* issue 6 */
};
#define N_REGISTRY ((int)(sizeof registry / sizeof *registry))

/* In registry order; a test checks that the two lists agree. */
static const char *const names[N_REGISTRY] = {"random", "grid",
                                               "hyperband", "sha", "asha" /* issue 5 */,
                                               "evolution", "nsga2" /* issue 7 */,
                                               "bo", "bohb" /* issue 9 */,
                                               "pbt" /* issue 6 */};

const char *const *lm_searcher_names(int *n) {
    if (n) *n = N_REGISTRY;
    return names;
}

static const lm_option_spec no_options[] = {{0}};

const lm_option_spec *lm_searcher_options(const char *name) {
    for (int i = 0; i < N_REGISTRY; i++)
        if (!strcmp(registry[i]->name, name)) return registry[i]->options ? registry[i]->options : no_options;
    return NULL;
}

static int unknown_name(const char *name) {
    char known[256];
    size_t at = 0;
    known[0] = 0;
    for (int i = 0; i < N_REGISTRY && at < sizeof known; i++) {
        int len = snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "", names[i]);
        if (len < 0) break;
        at += (size_t)len;
    }
    const char *close = lm_str_closest(name, names, N_REGISTRY);
    if (close)
        LM_FAIL(LM_ECONFIG, "unknown searcher '%s' (known: %s); did you mean '%s'?", name, known,
                close);
    LM_FAIL(LM_ECONFIG, "unknown searcher '%s' (known: %s)", name, known);
}

/* Creates the searcher registered under name. Checks what every searcher needs (a
 * space, epochs >= 1); the implementation checks the rest. The caller owns *out and
 * frees it with lm_searcher_destroy(). Not collective: rank 0 alone runs searchers. */
int lm_searcher_create(const char *name, const lm_search_params *p, lm_searcher **out) {
    LM_CHECK(name && p && out, LM_EINVAL, "lm_searcher_create: NULL argument");
    *out = NULL;
    const lm_searcher_ops *ops = NULL;
    for (int i = 0; i < N_REGISTRY && !ops; i++)
        if (!strcmp(registry[i]->name, name)) ops = registry[i];
    if (!ops) return unknown_name(name);
    LM_CHECK(p->space, LM_EINVAL, "searcher '%s': no search space", name);
    LM_CHECK(p->epochs >= 1, LM_ECONFIG, "searcher '%s': epochs per trial must be >= 1, got %d",
             name, p->epochs);
    LM_CALL(ops->create(p, out));
    return LM_OK;
}

void lm_searcher_destroy(lm_searcher **s) {
    if (!s || !*s) return;
    (*s)->ops->destroy(*s);
    *s = NULL;
}

/* ---- shared by the implementations ---- */

int lm__searcher_save_header(const lm_searcher *s, int n_hp, lm_state_writer *w) {
    LM_CALL(lm_state_put_str(w, "searcher/kind", s->ops->name));
    LM_CALL(lm_state_put_i64(w, "searcher/n_hp", n_hp));
    return LM_OK;
}

int lm__searcher_check_header(const lm_searcher *s, int n_hp, lm_state_reader *r) {
    char kind[64];
    LM_CALL(lm_state_get_str(r, "searcher/kind", kind, sizeof kind));
    LM_CHECK(!strcmp(kind, s->ops->name), LM_ECKPT,
             "checkpoint entry 'searcher/kind' is '%s', but this run's searcher is '%s'", kind,
             s->ops->name);
    int64_t have;
    LM_CALL(lm_state_get_i64(r, "searcher/n_hp", &have));
    LM_CHECK(have == n_hp, LM_ECKPT,
             "checkpoint entry 'searcher/n_hp' is %lld hyperparameters, but the space has %d",
             (long long)have, n_hp);
    return LM_OK;
}

int lm__searcher_get_count(lm_state_reader *r, const char *name, int64_t lo, int64_t hi,
                           int64_t *v) {
    LM_CALL(lm_state_get_i64(r, name, v));
    LM_CHECK(*v >= lo && *v <= hi, LM_ECKPT, "checkpoint entry '%s' is %lld, expected %lld to %lld",
             name, (long long)*v, (long long)lo, (long long)hi);
    return LM_OK;
}

int lm__searcher_check_table(const lm_searcher *s, const lm_trials *t, int n_hp) {
    LM_CHECK(t, LM_EINVAL, "searcher '%s': NULL trial table", s->ops->name);
    LM_CHECK(t->n_hp == n_hp, LM_EINVAL,
             "searcher '%s': the trial table holds points of %d entries, the space has %d",
             s->ops->name, t->n_hp, n_hp);
    return LM_OK;
}
