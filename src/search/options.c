/* Algorithm options: validating a config's values against a searcher's or stopper's
 * table of specs, and reading them back with defaults. */
#include "lamarck/error.h"
#include "lamarck/search.h"
#include "lamarck/strutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const lm_option_spec *find(const lm_option_spec *specs, const char *name) {
    for (const lm_option_spec *s = specs; s && s->name; s++)
        if (!strcmp(s->name, name)) return s;
    return NULL;
}

static int unknown(const lm_option_spec *specs, const char *name) {
    const char *names[LM_OPTIONS_MAX];
    char known[512] = "";
    int n = 0;
    size_t at = 0;
    for (const lm_option_spec *s = specs; s && s->name && n < LM_OPTIONS_MAX; s++) {
        names[n++] = s->name;
        int len = snprintf(known + at, sizeof known - at, "%s%s", at ? ", " : "", s->name);
        if (len > 0 && (size_t)len < sizeof known - at) at += (size_t)len;
    }
    const char *close = n ? lm_str_closest(name, names, n) : NULL;
    if (!n) LM_FAIL(LM_EINVAL, "unknown option '%s' (this algorithm has no options)", name);
    if (close) LM_FAIL(LM_EINVAL, "unknown option '%s' (did you mean '%s'?); known: %s", name, close, known);
    LM_FAIL(LM_EINVAL, "unknown option '%s'; known: %s", name, known);
}

static int label_index(const lm_option_spec *s, const char *label, double *v) {
    char known[256] = "";
    size_t at = 0;
    for (int i = 0; s->labels[i]; i++) {
        if (label && !strcmp(label, s->labels[i])) {
            *v = i;
            return LM_OK;
        }
        int len = snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "", s->labels[i]);
        if (len > 0 && (size_t)len < sizeof known - at) at += (size_t)len;
    }
    LM_FAIL(LM_ERANGE, "'%s' must be one of %s%s%s%s", s->name, known, label ? ", got '" : "",
            label ? label : "", label ? "'" : "");
}

int lm_options_set(lm_options *o, const lm_option_spec *specs, const char *name, double num,
                   const char *label) {
    const lm_option_spec *s = find(specs, name);
    if (!s) return unknown(specs, name);
    double v = num;
    switch (s->kind) {
    case LM_OPT_ENUM:
        LM_CALL(label_index(s, label, &v));
        break;
    case LM_OPT_BOOL:
        if (label && (!strcmp(label, "true") || !strcmp(label, "false"))) v = !strcmp(label, "true");
        else LM_FAIL(LM_ERANGE, "'%s' must be true or false", name);
        break;
    case LM_OPT_INT:
        LM_CHECK(!label && isfinite(v) && v == floor(v), LM_ERANGE, "'%s' must be an integer%s%s",
                 name, label ? ", got " : "", label ? label : "");
        /* fall through */
    case LM_OPT_REAL:
        LM_CHECK(!label && isfinite(v), LM_ERANGE, "'%s' must be a number%s%s", name,
                 label ? ", got " : "", label ? label : "");
        LM_CHECK(v >= s->lo && v <= s->hi, LM_ERANGE, "'%s' must be in [%g, %g], got %g (%s)",
                 name, s->lo, s->hi, v, s->help ? s->help : "");
        break;
    }
    int i = 0;
    while (i < o->n && strcmp(o->name[i], name) != 0) i++;
    if (i == o->n) {
        LM_CHECK(o->n < LM_OPTIONS_MAX, LM_ERANGE, "more than %d options", LM_OPTIONS_MAX);
        LM_CHECK(lm_strlcpy(o->name[i], name, LM_OPTION_NAME_MAX) == LM_OK, LM_ERANGE,
                 "option name '%s' too long", name);
        o->n++;
    }
    o->value[i] = v;
    return LM_OK;
}

double lm_options_get(const lm_options *o, const lm_option_spec *specs, const char *name) {
    for (int i = 0; o && i < o->n; i++)
        if (!strcmp(o->name[i], name)) return o->value[i];
    const lm_option_spec *s = find(specs, name);
    return s ? s->def : NAN;
}
